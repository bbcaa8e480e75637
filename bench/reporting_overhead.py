#!/usr/bin/env python3
"""Side-by-side table of bench_ironic_api.py results per configuration:
median over runs of each op's p50 / p99 (ms), total wall and req/s, next
to the Ironic 39 reference runs."""
import argparse
import glob
import json
import statistics

OPS = ["node_create", "port_create", "list_nodes_page", "list_detail_page", "node_show", "node_patch",
       "prov_manage", "prov_provide", "prov_active", "prov_deleted", "reach_manageable", "reach_available",
       "reach_active", "node_delete", "port_delete"]


def load(paths):
    runs = [json.load(open(p)) for p in paths]
    return [r for r in runs if r.get("completed")]


def med(runs, op, key):
    vals = [r["ops"][op][key] for r in runs if op in r.get("ops", {})]
    return statistics.median(vals) if vals else None


def fmt(v):
    return "-" if v is None else (f"{v:.1f}" if v < 100 else f"{v:.0f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--configs", nargs="+", required=True)
    ap.add_argument("--reference", nargs="*", default=[])
    a = ap.parse_args()
    cols = [(c, load(sorted(glob.glob(f"{a.results}/{c}-run*.json")))) for c in a.configs]
    if a.reference:
        cols.append(("Ironic 39", load(a.reference)))
    print("| op (p50 / p99 ms) | " + " | ".join(f"{c} ({len(r)} runs)" for c, r in cols) + " |")
    print("|---|" + "---:|" * len(cols))
    for op in OPS:
        cells = [f"{fmt(med(r, op, 'p50_ms'))} / {fmt(med(r, op, 'p99_ms'))}" for _, r in cols]
        if all(c == "- / -" for c in cells):
            continue
        print(f"| {op} | " + " | ".join(cells) + " |")
    walls = [fmt(statistics.median([r["total_wall_s"] for r in runs])) if runs else "-" for _, runs in cols]
    rps = [fmt(statistics.median([r["overall_requests_per_s"] for r in runs])) if runs else "-" for _, runs in cols]
    errors = [str(sum(r["errors"] for r in runs)) for _, runs in cols]
    print("| **whole scenario, s** | " + " | ".join(walls) + " |")
    print("| requests/s | " + " | ".join(rps) + " |")
    print("| errors | " + " | ".join(errors) + " |")


if __name__ == "__main__":
    main()
