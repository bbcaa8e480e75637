"""Summarises one Tempest run for the tempest/run-*.sh runners and checks it
against the runner's committed baseline of tests expected to pass.

usage: summarize.py RUN_LOG WALL_S OUTCOMES SELECTED BASELINE UPDATE HEADER
  OUTCOMES  "<test id> ok|FAILED|SKIPPED" lines; SELECTED: the test ids the run
            selected (empty: those that reported); BASELINE: the baseline file
            ("" = no check); UPDATE "1" rewrites it (selected tests now passing
            are added, selected ones not passing dropped) with HEADER as its
            comment lines when the file has none.
Prints the failures, the regressions (baseline tests selected but not passed)
and new passes, and last "N passed, N failed, N skipped"; exits 3 on a
regression.
"""
import os
import re
import sys

log_path, wall, outcomes_path, selected_path, baseline, update, header_text = sys.argv[1:8]
log = open(log_path, errors="replace").read()


def count(key):
    m = re.search(r"^ - %s: (\d+)" % key, log, re.M)
    return int(m.group(1)) if m else 0


passed, failed, skipped = count("Passed"), count("Failed"), count("Skipped")
lines = open(outcomes_path).read().splitlines()
ok = {l[: -len(" ok")] for l in lines if l.endswith(" ok")}
failed_ids = [l[: -len(" FAILED")] for l in lines if l.endswith(" FAILED")]
selected = set(open(selected_path).read().split())
if not selected:  # --list-tests gave nothing: fall back to what reported
    selected = {l.split(" ", 1)[0] for l in lines}
    print("warning: empty test selection list; regressions limited to reported tests")
print(f"wall {wall} s; tempest output in {log_path}")
for t in failed_ids:
    print("FAILED", t)

regressions = 0
if baseline:
    header, base = [], set()
    if os.path.exists(baseline):
        for l in open(baseline).read().splitlines():
            s = l.strip()
            if s.startswith("#"):
                header.append(l)
            elif s:
                base.add(s)
    if update == "1":
        base = (base - selected) | ok
        if not header:
            header = ["# " + h for h in header_text.splitlines()]
        with open(baseline, "w") as f:
            f.write("\n".join(header + sorted(base)) + "\n")
        print(f"baseline {baseline} rewritten: {len(base)} test(s)")
    if not os.path.exists(baseline):
        print(f"no baseline {baseline}: regressions not checked")
    else:
        lost = sorted((base & selected) - ok)
        new = sorted(ok - base)
        print(f"REGRESSIONS: {len(lost)} (baseline tests selected but not passed; baseline {baseline})")
        for t in lost:
            print("REGRESSION", t)
        if new:
            print(f"new passes not in the baseline: {len(new)}")
            for t in new:
                print("NEW", t)
        regressions = len(lost)
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(3 if regressions else 0)
