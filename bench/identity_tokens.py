#!/usr/bin/env python3
"""Token throughput benchmark for a Keystone-v3 identity endpoint (ironbark's
identity service, or the real Keystone as the reference).

Three operations, each run as N requests spread over C threads (one
requests.Session per thread), bounded by a request count and a wall-clock cap:

  issue              POST /v3/auth/tokens   password method, project scope
                     (user/project by name in the Default domain)   -> 201
  validate           GET  /v3/auth/tokens   X-Auth-Token: admin token,
                     X-Subject-Token: one of the tokens issued in `issue`  -> 200
  validate_nocatalog GET  /v3/auth/tokens?nocatalog  (same headers; the call an
                     OpenStack service makes to check a user's token)      -> 200

Prints req/s and latency percentiles per op and writes JSON to --out.
Dependencies: the standard library and requests.  Loopback targets only.
Exit status: 0 when every request that ran succeeded, 1 otherwise (an op
stopped by --duration-cap is marked "capped" in the output, not an error).
"""
import argparse
import ipaddress
import json
import os
import platform
import socket
import statistics
import sys
import threading
import time
from urllib.parse import urlsplit

import requests


def loopback_only(url):
    host = urlsplit(url).hostname or ""
    try:
        addrs = {ai[4][0] for ai in socket.getaddrinfo(host, None)}
    except socket.gaierror:
        sys.exit(f"cannot resolve {host!r}")
    if not addrs or not all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addrs):
        sys.exit(f"refusing non-loopback target {url} ({', '.join(sorted(addrs))})")


def auth_body(user, password, project, domain):
    return {"auth": {
        "identity": {"methods": ["password"],
                     "password": {"user": {"name": user, "domain": {"name": domain},
                                           "password": password}}},
        "scope": {"project": {"name": project, "domain": {"name": domain}}}}}


def percentile(sorted_vals, q):
    """Nearest-rank percentile of an ascending list (q in 0..100)."""
    if not sorted_vals:
        return None
    k = max(0, min(len(sorted_vals) - 1, int(round(q / 100.0 * len(sorted_vals) + 0.5)) - 1))
    return sorted_vals[k]


def run_op(name, make_request, n, concurrency, cap_s, timeout):
    """Run `n` requests of one op on `concurrency` threads; stop issuing new
    requests once `cap_s` seconds have passed.  make_request(session, i) ->
    (ok: bool, status: int|str, extra)."""
    lock = threading.Lock()
    next_i = [0]
    lat, statuses, extras, errors = [], {}, [], []
    start = time.perf_counter()
    deadline = start + cap_s

    def worker():
        s = requests.Session()
        s.headers["User-Agent"] = "ironbark-bench/identity_tokens"
        try:
            while True:
                with lock:
                    i = next_i[0]
                    if i >= n or time.perf_counter() >= deadline:
                        return
                    next_i[0] += 1
                t0 = time.perf_counter()
                try:
                    ok, status, extra = make_request(s, i, timeout)
                except requests.RequestException as e:
                    ok, status, extra = False, type(e).__name__, None
                dt = time.perf_counter() - t0
                with lock:
                    lat.append(dt)
                    statuses[str(status)] = statuses.get(str(status), 0) + 1
                    if ok:
                        if extra is not None:
                            extras.append(extra)
                    elif len(errors) < 5:
                        errors.append(f"#{i}: {status}")
        finally:
            s.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    lat.sort()
    ms = [x * 1000.0 for x in lat]
    ok_count = sum(v for k, v in statuses.items() if k in ("200", "201"))
    res = {
        "op": name, "requested": n, "done": len(lat), "ok": ok_count,
        "errors": len(lat) - ok_count, "capped": len(lat) < n,
        "concurrency": concurrency, "wall_s": round(wall, 3),
        "req_per_s": round(len(lat) / wall, 2) if wall > 0 else None,
        "ok_per_s": round(ok_count / wall, 2) if wall > 0 else None,
        "p50_ms": round(percentile(ms, 50), 2) if ms else None,
        "p90_ms": round(percentile(ms, 90), 2) if ms else None,
        "p99_ms": round(percentile(ms, 99), 2) if ms else None,
        "max_ms": round(ms[-1], 2) if ms else None,
        "mean_ms": round(statistics.fmean(ms), 2) if ms else None,
        "statuses": statuses, "error_samples": errors,
    }
    return res, extras


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="http://127.0.0.1:5000",
                    help="identity root or /v3 URL (default %(default)s)")
    ap.add_argument("--user", default="admin")
    ap.add_argument("--password", default=os.environ.get("ADMIN_PASSWORD", "secretadmin"))
    ap.add_argument("--project", default="admin")
    ap.add_argument("--domain", default="Default", help="user and project domain name")
    ap.add_argument("--n", type=int, default=200, help="requests per op (default %(default)s)")
    ap.add_argument("--concurrency", "-c", type=int, default=8)
    ap.add_argument("--duration-cap", type=float, default=60.0,
                    help="seconds per op after which no new request starts (default %(default)s)")
    ap.add_argument("--timeout", type=float, default=30.0, help="per request, seconds")
    ap.add_argument("--warmup", type=int, default=4, help="untimed token issues first")
    ap.add_argument("--ops", default="issue,validate,validate_nocatalog")
    ap.add_argument("--label", default="", help="free text stored in the JSON (e.g. server name)")
    ap.add_argument("--out", help="write the JSON result here")
    a = ap.parse_args()

    base = a.url.rstrip("/")
    if base.endswith("/v3"):
        base = base[:-3]
    loopback_only(base)
    v3 = base + "/v3"
    tokens_url = v3 + "/auth/tokens"
    body = auth_body(a.user, a.password, a.project, a.domain)
    hdr_json = {"Content-Type": "application/json", "Accept": "application/json"}

    # preflight: version document + an admin token for the validation ops
    with requests.Session() as s:
        r = s.get(v3, timeout=a.timeout)
        if r.status_code != 200:
            sys.exit(f"GET {v3} -> {r.status_code}")
        version_id = (r.json().get("version") or {}).get("id")
        r = s.post(tokens_url, json=body, headers=hdr_json, timeout=a.timeout)
        if r.status_code != 201 or "X-Subject-Token" not in r.headers:
            sys.exit(f"POST {tokens_url} as {a.user} -> {r.status_code} {r.text[:200]}")
        admin_token = r.headers["X-Subject-Token"]
        catalog_len = len(r.json()["token"].get("catalog") or [])
        for _ in range(max(0, a.warmup)):
            s.post(tokens_url, json=body, headers=hdr_json, timeout=a.timeout)

    def issue(s, i, timeout):
        r = s.post(tokens_url, json=body, headers=hdr_json, timeout=timeout)
        tok = r.headers.get("X-Subject-Token")
        r.content  # read the whole body, as a client would
        return (r.status_code == 201 and bool(tok)), r.status_code, tok

    subjects = [admin_token]

    def make_validate(query):
        url = tokens_url + query

        def validate(s, i, timeout):
            r = s.get(url, headers={"Accept": "application/json", "X-Auth-Token": admin_token,
                                    "X-Subject-Token": subjects[i % len(subjects)]},
                      timeout=timeout)
            ok = r.status_code == 200 and b'"token"' in r.content
            return ok, r.status_code, None
        return validate

    ops = {"issue": issue, "validate": make_validate(""),
           "validate_nocatalog": make_validate("?nocatalog")}
    wanted = [o.strip() for o in a.ops.split(",") if o.strip()]
    for o in wanted:
        if o not in ops:
            sys.exit(f"unknown op {o}; known: {', '.join(ops)}")

    results = []
    t_all = time.perf_counter()
    for o in wanted:
        res, extras = run_op(o, ops[o], a.n, a.concurrency, a.duration_cap, a.timeout)
        if o == "issue" and extras:
            subjects[:] = extras  # validate the tokens just issued, round robin
        results.append(res)
        print(f"{o:<20} {res['done']:>5}/{res['requested']:<5} {res['req_per_s']:>9.1f} req/s  "
              f"p50 {res['p50_ms']:>8.1f} ms  p99 {res['p99_ms']:>8.1f} ms  "
              f"errors {res['errors']}{'  (capped)' if res['capped'] else ''}", flush=True)

    try:
        load = os.getloadavg()
    except OSError:
        load = None
    doc = {
        "benchmark": "ironbark bench/identity_tokens.py",
        "label": a.label, "url": base, "version_id": version_id,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - (time.perf_counter() - t_all))),
        "settings": {"n": a.n, "concurrency": a.concurrency, "duration_cap_s": a.duration_cap,
                     "timeout_s": a.timeout, "warmup": a.warmup, "user": a.user,
                     "project": a.project, "domain": a.domain},
        "catalog_services": catalog_len,
        "client": {"host": platform.node(), "cpus": os.cpu_count(), "loadavg_end": load,
                   "python": platform.python_version(), "requests": requests.__version__},
        "total_wall_s": round(time.perf_counter() - t_all, 2),
        "results": results,
    }
    if a.out:
        os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
        with open(a.out, "w") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")
    return 0 if all(r["errors"] == 0 and r["done"] > 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
