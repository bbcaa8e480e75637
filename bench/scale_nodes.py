#!/usr/bin/env python3
"""How the bare-metal API's cost grows with the fleet: N nodes in the
database (1 000 and 100 000 by default), then a single client times pages of
50 (list, detail, filtered, a deep keyset page), show and patch, and the
server's RSS is read at idle and after the run. Printed side by side per N.

Usage: bench/scale_nodes.py [--bin target/release/ironbark] [--sizes 1000,100000]
                            [--database-url postgres://…] [--samples 300] [--json OUT]

Each size gets a fresh ironbark (noauth, fake hardware, logs at warn) on a
fresh SQLite file, or on a fresh PostgreSQL database next to --database-url.
Nodes are created through the API by 8 client threads; every tenth node has
resource class `rc-hot`, one in a hundred is in maintenance. On PostgreSQL the
tables are analyzed before timing, as autovacuum does within a minute of a
bulk enrolment.
"""

import argparse
import http.client
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HEADERS = {"Content-Type": "application/json", "X-OpenStack-Ironic-API-Version": "1.78"}


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class Client:
    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(self, method, path, body=None):
        data = json.dumps(body) if body is not None else None
        self.conn.request(method, path, body=data, headers=HEADERS)
        r = self.conn.getresponse()
        payload = r.read()
        if r.status >= 300:
            raise RuntimeError(f"{method} {path}: {r.status} {payload[:300]!r}")
        return json.loads(payload) if payload else None


def scratch_postgres(url, name):
    """A fresh database next to `url` (psql must be on PATH)."""
    base = urllib.parse.urlsplit(url)
    subprocess.run(["psql", "-q", url, "-c", f'DROP DATABASE IF EXISTS "{name}"', "-c", f'CREATE DATABASE "{name}"'], check=True)
    return urllib.parse.urlunsplit(base._replace(path="/" + name)), lambda: subprocess.run(
        ["psql", "-q", url, "-c", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'], check=False
    )


def start(binary, data, database_url):
    ports = {k: free_port() for k in ["IDENTITY", "BAREMETAL", "COMPUTE", "IMAGE", "NETWORK", "CONTRAIL"]}
    env = dict(os.environ, IRONBARK_DATA_DIR=data, IRONBARK_AUTH="noauth", IRONBARK_LOG="warn")
    env.update({f"IRONBARK_{k}_PORT": str(p) for k, p in ports.items()})
    if database_url:
        env["IRONBARK_DATABASE_URL"] = database_url
    proc = subprocess.Popen([binary, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=open(os.path.join(data, "log"), "w"))
    port = ports["BAREMETAL"]
    for _ in range(300):
        try:
            Client(port).call("GET", "/v1")
            return proc, port
        except (OSError, RuntimeError):
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("ironbark did not start; see " + os.path.join(data, "log"))


def populate(port, n, threads=8):
    uuids = [None] * n

    def work(k):
        c = Client(port)
        for i in range(k, n, threads):
            body = {"driver": "fake-hardware", "name": f"n{i:06d}", "resource_class": "rc-hot" if i % 10 == 0 else "rc-cold"}
            uuids[i] = c.call("POST", "/v1/nodes", body)["uuid"]
            if i % 100 == 0:
                c.call("PATCH", f"/v1/nodes/{uuids[i]}", [{"op": "replace", "path": "/maintenance", "value": True}])

    ts = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    t0 = time.time()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return uuids, time.time() - t0


def timed(c, samples, make):
    out = []
    for _ in range(samples):
        method, path, body = make()
        t0 = time.perf_counter()
        c.call(method, path, body)
        out.append((time.perf_counter() - t0) * 1000)
    out.sort()
    return {"p50": statistics.median(out), "p99": out[min(len(out) - 1, int(len(out) * 0.99))]}


def run(binary, n, samples, pg_url):
    data = tempfile.mkdtemp(prefix=f"ironbark-scale-{n}-")
    db, drop = (None, lambda: None)
    if pg_url:
        db, drop = scratch_postgres(pg_url, f"ironbark_scale_{n}_{os.getpid()}")
    proc, port = start(binary, data, db)
    try:
        time.sleep(1)
        idle = rss_mib(proc.pid)
        uuids, took = populate(port, n)
        if db:
            # what autovacuum does within a minute of a bulk enrolment: without
            # statistics the planner sorts the whole table for a page
            subprocess.run(["psql", "-q", db, "-c", "ANALYZE"], check=True)
        c = Client(port)
        middle = uuids[n // 2]
        ops = {
            "list page of 50": lambda: ("GET", "/v1/nodes?limit=50", None),
            "detail page of 50": lambda: ("GET", "/v1/nodes/detail?limit=50", None),
            "deep page (marker at N/2)": lambda: ("GET", f"/v1/nodes?limit=50&marker={middle}", None),
            "filtered page (1 in 10)": lambda: ("GET", "/v1/nodes?limit=50&resource_class=rc-hot", None),
            "filtered page (maintenance, 1 in 100)": lambda: ("GET", "/v1/nodes/detail?limit=50&maintenance=true", None),
            "show": lambda: ("GET", f"/v1/nodes/{random.choice(uuids)}", None),
            "patch": lambda: ("PATCH", f"/v1/nodes/{random.choice(uuids)}", [{"op": "add", "path": "/extra/k", "value": str(random.random())}]),
        }
        for make in ops.values():  # warm caches and plans
            timed(c, 10, make)
        result = {name: timed(c, samples, make) for name, make in ops.items()}
        return {"n": n, "create_s": took, "create_per_s": n / took, "rss_idle_mib": idle, "rss_after_mib": rss_mib(proc.pid), "ops": result}
    finally:
        proc.terminate()
        proc.wait()
        drop()
        shutil.rmtree(data, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default="target/release/ironbark")
    ap.add_argument("--sizes", default="1000,100000")
    ap.add_argument("--database-url", default=None, help="PostgreSQL admin URL (default: SQLite)")
    ap.add_argument("--samples", type=int, default=300)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    runs = []
    for n in [int(x) for x in a.sizes.split(",")]:
        print(f"-- {n} nodes …", file=sys.stderr, flush=True)
        runs.append(run(a.bin, n, a.samples, a.database_url))
    backend = "PostgreSQL" if a.database_url else "SQLite"
    head = "| ms (p50 / p99) | " + " | ".join(f"{r['n']:,} nodes" for r in runs) + " |"
    print(f"\nironbark bare-metal API on {backend}, one client, {a.samples} samples per operation\n")
    print(head)
    print("|---|" + "---:|" * len(runs))
    for op in runs[0]["ops"]:
        print(f"| {op} | " + " | ".join(f"{r['ops'][op]['p50']:.2f} / {r['ops'][op]['p99']:.2f}" for r in runs) + " |")
    print("| RSS idle (MiB) | " + " | ".join(f"{r['rss_idle_mib']:.1f}" for r in runs) + " |")
    print("| RSS after the run (MiB) | " + " | ".join(f"{r['rss_after_mib']:.1f}" for r in runs) + " |")
    print("| node creates per second (8 threads) | " + " | ".join(f"{r['create_per_s']:.0f}" for r in runs) + " |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"backend": backend, "samples": a.samples, "runs": runs}, f, indent=1)


if __name__ == "__main__":
    main()
