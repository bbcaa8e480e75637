#!/usr/bin/env python3
"""Two ironbark workers on one PostgreSQL database under the peer harness's
load (`../shared/peer/bench_ironic_api.py`, one instance against each
worker); worker A is SIGKILLed mid-run. Checks and prints: the load against
the survivor B completes with 0 errors; every node A held at the kill ends
in a stable state, unlocked, on B within heartbeat timeout + 10 s; no
lifecycle transition is recorded twice in a row in any node's history.

Usage: bench/failover.py [--bin target/release/ironbark] [--database-url postgres://…]
                         [--nodes 100] [--kill-when-holding 4] [--heartbeat-timeout 10]
"""

import argparse
import base64
import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scale_nodes import Client, free_port, scratch_postgres  # noqa: E402

# Every worker sharing the database seals secrets with the same key.
SECRETS_KEY = base64.b64encode(os.urandom(32)).decode()

STABLE = {"enroll", "manageable", "available", "active", "deploy failed", "clean failed", "error"}


def start(binary, name, db, work, timeout):
    ports = {k: free_port() for k in ["IDENTITY", "BAREMETAL", "COMPUTE", "IMAGE", "NETWORK", "CONTRAIL"]}
    env = dict(os.environ, IRONBARK_DATA_DIR=os.path.join(work, name), IRONBARK_AUTH="noauth", IRONBARK_LOG="warn",
               IRONBARK_DATABASE_URL=db, IRONBARK_CONDUCTOR_NAME=name, IRONBARK_HEARTBEAT_TIMEOUT_S=str(timeout),
               IRONBARK_FAKE__DISK_DIR=os.path.join(work, "disks"), IRONBARK_FAKE__DELAY_MS="300",
               IRONBARK_SECRETS_KEY=SECRETS_KEY)
    env.update({f"IRONBARK_{k}_PORT": str(p) for k, p in ports.items()})
    os.makedirs(env["IRONBARK_DATA_DIR"], exist_ok=True)
    proc = subprocess.Popen([binary, "serve"], env=env, stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(work, name + ".log"), "w"))
    for _ in range(300):
        try:
            Client(ports["BAREMETAL"]).call("GET", "/v1")
            return proc, ports["BAREMETAL"]
        except (OSError, RuntimeError):
            time.sleep(0.1)
    raise SystemExit(f"{name} did not start")


def nodes(port):
    return Client(port).call("GET", "/v1/nodes?limit=1000&fields=uuid,name,provision_state,reservation")["nodes"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default="target/release/ironbark")
    ap.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/test")
    ap.add_argument("--peer", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "peer"))
    ap.add_argument("--nodes", type=int, default=100)
    ap.add_argument("--kill-when-holding", type=int, default=4, help="kill A once it holds this many nodes, one of them deploying, cleaning or deleting")
    ap.add_argument("--heartbeat-timeout", type=int, default=10)
    a = ap.parse_args()
    bench = os.path.join(a.peer, "bench_ironic_api.py")
    work = tempfile.mkdtemp(prefix="ironbark-failover-")
    db, drop = scratch_postgres(a.database_url, f"ironbark_failover_{os.getpid()}")
    pa, porta = start(a.bin, "worker-a", db, work, a.heartbeat_timeout)
    pb, portb = start(a.bin, "worker-b", db, work, a.heartbeat_timeout)
    try:
        loads = {}
        for name, port in [("a", porta), ("b", portb)]:
            loads[name] = subprocess.Popen(
                [sys.executable, bench, "--base-url", f"http://127.0.0.1:{port}", "--nodes", str(a.nodes),
                 "--concurrency", "4", "--max-seconds", "300", "--out", os.path.join(work, f"load-{name}.json")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # kill once A is in the middle of its nodes' transitions
        started = time.time()
        held = []
        while time.time() - started < 240:
            held = [n for n in nodes(portb) if n["reservation"] == "worker-a"]
            deep = any(n["provision_state"] in ("cleaning", "deploying", "deleting", "wait call-back") for n in held)
            if len(held) >= a.kill_when_holding and deep:
                break
            time.sleep(0.05)
        kill_at = time.time() - started
        states = collections.Counter(n["provision_state"] for n in held)
        pa.kill()  # SIGKILL
        pa.wait()
        killed = time.time()
        deadline = killed + a.heartbeat_timeout + 10
        uuids = {n["uuid"] for n in held}
        settled_at = None
        while time.time() < deadline + 30:
            now = {n["uuid"]: n for n in nodes(portb) if n["uuid"] in uuids}
            # a node may be deleted by B's own load only if B created it; A's are left alone
            if all(n["reservation"] is None and n["provision_state"] in STABLE for n in now.values()):
                settled_at = time.time()
                break
            time.sleep(0.2)
        loads["b"].wait(timeout=600)
        loads["a"].kill()
        report_b = json.load(open(os.path.join(work, "load-b.json")))
        twice = 0
        for u in uuids:
            h = Client(portb).call("GET", f"/v1/nodes/{u}/history")["history"]
            # a step applied twice shows as the same transition twice in a row
            moves = [e["event"] for e in h if "Provision state changed" in e["event"]]
            twice += sum(1 for x, y in zip(moves, moves[1:]) if x == y)
        took = (settled_at - killed) if settled_at else None
        print(f"worker-a killed {kill_at:.1f} s into the load, holding {len(held)} nodes {dict(states)}")
        print(f"load on worker-b: completed={report_b.get('completed')} errors={report_b.get('errors')} "
              f"requests={report_b.get('total_requests')} wall={report_b.get('total_wall_s')} s")
        print(f"worker-a's nodes settled on worker-b {took:.1f} s after the kill (limit {a.heartbeat_timeout + 10} s)"
              if took is not None else "worker-a's nodes did NOT settle")
        print(f"transitions recorded twice: {twice}")
        ok = report_b.get("errors") == 0 and report_b.get("completed") and took is not None \
            and took <= a.heartbeat_timeout + 10 and twice == 0 and held
        print("PASS" if ok else "FAIL")
        sys.exit(0 if ok else 1)
    finally:
        for p in (pa, pb):
            if p.poll() is None:
                p.terminate()
                p.wait()
        drop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
