#!/usr/bin/env python3
"""Server lifecycle latency: bench/server_lifecycle.sh's client.

Three commands (standard library + requests; loopback targets only):

  ironbark --identity URL --password PW --image FILE [--disk-dir DIR] --out JSON
      Admin token (POST /v3/auth/tokens), endpoints from its catalog.  Setup:
      N fake-hardware nodes (resource class bench-gold, flat network interface,
      one port each with a local_link_connection) -> manage -> provide ->
      available; FILE uploaded as a raw image; a flavor with
      resources:CUSTOM_BENCH_GOLD=1 (VCPU/MEMORY_MB/DISK_GB=0); a network with
      a /24 subnet; the admin project's instances/cores/ram quota unlimited
      (reset at the end).  Measured: "build" = POST /v2.1/servers -> status ACTIVE,
      "release" = DELETE /v2.1/servers/{id} -> the server's node available
      again (no target state).  Checked: every server on its own node, the
      node's disk file the size of the image (with --disk-dir), each released
      node's driver_internal_info.disk_erase.  Everything created is deleted.

  ironic --url URL --out JSON
      The same fake-hardware node lifecycle on an Ironic (noauth): "build" =
      PUT /v1/nodes/{n}/states/provision {"target": "active"} -> active,
      "release" = {"target": "deleted"} -> available.

  table --ironbark JSON --ironic JSON [--out TXT]
      The side-by-side table.

Both targets run two rounds over the N nodes: "sequential" (one build at a
time, then one release at a time; the single object is polled with GET every
--poll s) and "all at once" (N requests started together from N threads behind
a barrier, then one poller listing every object every --poll s: GET
/v2.1/servers/detail, GET /v1/nodes?fields=...).  Each latency runs from just
before the request is sent to the first poll that shows the target state, so
it includes up to one poll interval.
"""
import argparse
import concurrent.futures as cf
import json
import os
import platform
import statistics
import sys
import threading
import time
import uuid
from urllib.parse import urlparse

import requests

IRONIC_VERSION = "1.95"


def loopback_only(url):
    host = urlparse(url).hostname or ""
    if not (host.startswith("127.") or host in ("localhost", "::1")):
        sys.exit(f"refusing non-loopback URL {url}")
    return url.rstrip("/")


def pct(values, p):
    """Nearest-rank percentile of a non-empty list."""
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(round(p / 100 * len(v) + 0.5)) - 1))
    return v[k]


def summary(values):
    if not values:
        return None
    return {"n": len(values), "p50_ms": round(pct(values, 50) * 1000, 1),
            "p99_ms": round(pct(values, 99) * 1000, 1), "max_ms": round(max(values) * 1000, 1),
            "mean_ms": round(statistics.mean(values) * 1000, 1)}


class Failed(Exception):
    pass


class Client:
    def __init__(self, token=None, extra_headers=None, timeout=60):
        self.local = threading.local()
        self.headers = {"Accept": "application/json"}
        if token:
            self.headers["X-Auth-Token"] = token
        self.headers.update(extra_headers or {})
        self.timeout = timeout

    def sess(self):
        s = getattr(self.local, "s", None)
        if s is None:
            s = self.local.s = requests.Session()
            s.headers.update(self.headers)
        return s

    def call(self, method, url, expect=(200,), **kw):
        kw.setdefault("timeout", self.timeout)
        r = self.sess().request(method, url, **kw)
        if r.status_code not in expect:
            raise Failed(f"{method} {url} -> {r.status_code}: {r.text[:300]}")
        return r.json() if r.content and "json" in r.headers.get("Content-Type", "") else None


# --- ironbark -----------------------------------------------------------------------------
class Ironbark:
    def __init__(self, a):
        self.a = a
        self.ident = loopback_only(a.identity)
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": "admin", "domain": {"name": "Default"}, "password": a.password}}},
            "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}}}
        r = requests.post(f"{self.ident}/v3/auth/tokens", json=body, timeout=30)
        if r.status_code != 201:
            raise Failed(f"token: {r.status_code} {r.text[:200]}")
        token = r.headers["X-Subject-Token"]
        self.project = r.json()["token"]["project"]["id"]
        self.ep = {}
        for svc in r.json()["token"]["catalog"]:
            for e in svc["endpoints"]:
                if e["interface"] == "public":
                    self.ep[svc["type"]] = loopback_only(e["url"])
        for need in ("compute", "baremetal", "image", "network"):
            if need not in self.ep:
                raise Failed(f"no {need} endpoint in the catalog")
        self.compute = self.ep["compute"]  # .../v2.1
        if "/v2" not in self.compute:
            self.compute += "/v2.1"
        self.bm = self.ep["baremetal"].removesuffix("/v1")
        self.img = self.ep["image"]
        self.net = self.ep["network"].removesuffix("/v2.0")
        self.c = Client(token, {"X-OpenStack-Ironic-API-Version": IRONIC_VERSION})
        self.nodes, self.ports, self.servers = [], [], []
        self.image = self.flavor = self.network = self.subnet = self.quota = None
        self.tag = uuid.uuid4().hex[:8]
        self.checks = []

    def check(self, ok, what):
        self.checks.append({"check": what, "ok": bool(ok)})
        print(f"   {'ok' if ok else 'FAILED'}: {what}", flush=True)
        return ok

    def setup(self):
        a, c = self.a, self.c
        t0 = time.monotonic()
        for i in range(a.count):
            n = c.call("POST", f"{self.bm}/v1/nodes", expect=(201,), json={
                "driver": "fake-hardware", "name": f"bench-{self.tag}-{i:03d}",
                "resource_class": "bench-gold", "network_interface": "flat",
                "properties": {"cpus": 1, "memory_mb": 1024, "local_gb": 10}})
            self.nodes.append(n["uuid"])
            p = c.call("POST", f"{self.bm}/v1/ports", expect=(201,), json={
                "node_uuid": n["uuid"], "address": f"52:54:01:{i >> 8:02x}:{i & 255:02x}:{int(self.tag[:2], 16):02x}",
                "local_link_connection": {"switch_id": "00:11:22:33:44:55", "port_id": f"xe-0/0/{i}",
                                          "switch_info": "leaf1"}})
            self.ports.append(p["uuid"])
        for target, want in (("manage", "manageable"), ("provide", "available")):
            for n in self.nodes:
                c.call("PUT", f"{self.bm}/v1/nodes/{n}/states/provision", expect=(202,), json={"target": target})
            wait_nodes(c, self.bm, self.nodes, want, a.timeout)
        print(f"# {a.count} nodes available after {time.monotonic() - t0:.1f} s", flush=True)
        t0 = time.monotonic()
        im = c.call("POST", f"{self.img}/v2/images", expect=(201,), json={
            "name": f"bench-{self.tag}", "disk_format": "raw", "container_format": "bare", "visibility": "public"})
        self.image = im["id"]
        with open(a.image, "rb") as f:
            c.call("PUT", f"{self.img}/v2/images/{self.image}/file", expect=(204,), data=f,
                   headers={"Content-Type": "application/octet-stream"}, timeout=600)
        im = c.call("GET", f"{self.img}/v2/images/{self.image}")
        self.image_size = os.path.getsize(a.image)
        self.check(im["status"] == "active" and im["size"] == self.image_size, "image active, size as uploaded")
        print(f"# image {self.image_size >> 20} MiB uploaded in {time.monotonic() - t0:.1f} s", flush=True)
        fl = c.call("POST", f"{self.compute}/flavors", expect=(200, 201), json={"flavor": {
            "name": f"bench.gold-{self.tag}", "ram": 1024, "vcpus": 1, "disk": 10}})
        self.flavor = fl["flavor"]["id"]
        c.call("POST", f"{self.compute}/flavors/{self.flavor}/os-extra_specs", expect=(200, 201), json={
            "extra_specs": {"resources:CUSTOM_BENCH_GOLD": "1", "resources:VCPU": "0",
                            "resources:MEMORY_MB": "0", "resources:DISK_GB": "0"}})
        # Nova's default quota (10 instances, 20 cores) would stop the run
        c.call("PUT", f"{self.compute}/os-quota-sets/{self.project}", json={"quota_set": {
            "instances": -1, "cores": -1, "ram": -1}})
        self.quota = True
        nw = c.call("POST", f"{self.net}/v2.0/networks", expect=(201,), json={"network": {"name": f"bench-{self.tag}"}})
        self.network = nw["network"]["id"]
        sn = c.call("POST", f"{self.net}/v2.0/subnets", expect=(201,), json={"subnet": {
            "network_id": self.network, "ip_version": 4, "cidr": "10.99.0.0/24", "name": f"bench-{self.tag}"}})
        self.subnet = sn["subnet"]["id"]

    def create(self, i, rnd):
        body = {"server": {"name": f"bench-{self.tag}-{rnd}-{i:03d}", "imageRef": self.image,
                           "flavorRef": self.flavor, "networks": [{"uuid": self.network}]}}
        t0 = time.monotonic()
        s = self.c.call("POST", f"{self.compute}/servers", expect=(202,), json=body)
        return s["server"]["id"], t0

    def server_state(self, sid):
        s = self.c.call("GET", f"{self.compute}/servers/{sid}")["server"]
        return s["status"], s

    def run_round(self, rnd, concurrent):
        a, c = self.a, self.c
        builds, releases, placed = {}, {}, {}
        if not concurrent:
            for i in range(a.count):
                sid, t0 = self.create(i, rnd)
                self.servers.append(sid)
                s = poll_one(lambda: self.server_state(sid), "ACTIVE", ("ERROR",), a.poll, a.timeout)
                builds[sid] = time.monotonic() - t0
                placed[sid] = s.get("OS-EXT-SRV-ATTR:hypervisor_hostname")
        else:
            started = run_together(a.count, lambda i: self.create(i, rnd))
            for sid, _ in started:
                self.servers.append(sid)
            t0s = dict(started)

            def listing():
                out = {}
                for s in c.call("GET", f"{self.compute}/servers/detail")["servers"]:
                    if s["id"] in t0s:
                        if s["status"] == "ERROR":
                            raise Failed(f"server {s['id']} ERROR: {s.get('fault')}")
                        out[s["id"]] = (s["status"], s)
                return out
            seen = poll_all(listing, set(t0s), "ACTIVE", a.poll, a.timeout)
            for sid, (t, s) in seen.items():
                builds[sid] = t - t0s[sid]
                placed[sid] = s.get("OS-EXT-SRV-ATTR:hypervisor_hostname")
        nodes = list(placed.values())
        self.check(len(set(nodes)) == a.count and set(nodes) <= set(self.nodes),
                   f"{rnd}: {a.count} servers ACTIVE, each on its own node")
        for sid, node in placed.items():
            n = c.call("GET", f"{self.bm}/v1/nodes/{node}", params={"fields": "provision_state,instance_uuid"})
            if n["provision_state"] != "active" or n["instance_uuid"] != sid:
                self.check(False, f"{rnd}: node {node} active with instance {sid}")
                break
        else:
            self.check(True, f"{rnd}: every node active, instance_uuid = its server")
        if a.disk_dir:
            sizes = [os.path.getsize(os.path.join(a.disk_dir, f"{n}.img"))
                     if os.path.exists(os.path.join(a.disk_dir, f"{n}.img")) else -1 for n in nodes]
            self.check(all(s == self.image_size for s in sizes),
                       f"{rnd}: every node's disk file holds {self.image_size} bytes")
        # release
        if not concurrent:
            for sid in list(placed):
                node = placed[sid]
                t0 = time.monotonic()
                c.call("DELETE", f"{self.compute}/servers/{sid}", expect=(204,))
                poll_one(lambda: node_state(c, self.bm, node), "available", ("error", "clean failed"),
                         a.poll, a.timeout)
                releases[sid] = time.monotonic() - t0
                self.servers.remove(sid)
        else:
            sids = list(placed)
            started = run_together(len(sids), lambda i: (sids[i], delete_timed(c, self.compute, sids[i])))
            t0_by_node = {placed[sid]: t0 for sid, t0 in started}
            for sid in sids:
                self.servers.remove(sid)
            seen = poll_all(lambda: node_listing(c, self.bm), set(t0_by_node), "available", a.poll, a.timeout)
            for node, (t, _) in seen.items():
                releases[node] = t - t0_by_node[node]
        erased = 0
        for node in nodes:
            n = c.call("GET", f"{self.bm}/v1/nodes/{node}", params={"fields": "driver_internal_info,instance_uuid"})
            erased += isinstance((n.get("driver_internal_info") or {}).get("disk_erase"), dict) and not n["instance_uuid"]
        self.check(erased == len(nodes), f"{rnd}: every released node has disk_erase and no instance")
        left = [s for s in c.call("GET", f"{self.compute}/servers")["servers"] if s["id"] in placed]
        self.check(not left, f"{rnd}: no server left")
        return {"build": summary(list(builds.values())), "release": summary(list(releases.values())),
                "build_s": sorted(builds.values()), "release_s": sorted(releases.values())}

    def cleanup(self):
        c = self.c
        for sid in list(self.servers):
            try:
                c.call("DELETE", f"{self.compute}/servers/{sid}", expect=(204, 404))
            except Exception as e:
                print(f"# cleanup: {e}", file=sys.stderr)
        if self.servers:
            try:
                wait_nodes(c, self.bm, self.nodes, "available", self.a.timeout)
            except Exception as e:
                print(f"# cleanup: {e}", file=sys.stderr)
        steps = [("DELETE", f"{self.bm}/v1/ports/{p}") for p in self.ports]
        steps += [("DELETE", f"{self.bm}/v1/nodes/{n}") for n in self.nodes]
        if self.flavor:
            steps.append(("DELETE", f"{self.compute}/flavors/{self.flavor}"))
        if self.quota:
            steps.append(("DELETE", f"{self.compute}/os-quota-sets/{self.project}"))
        if self.image:
            steps.append(("DELETE", f"{self.img}/v2/images/{self.image}"))
        if self.subnet:
            steps.append(("DELETE", f"{self.net}/v2.0/subnets/{self.subnet}"))
        if self.network:
            steps.append(("DELETE", f"{self.net}/v2.0/networks/{self.network}"))
        bad = 0
        for m, u in steps:
            try:
                c.call(m, u, expect=(202, 204, 404))
            except Exception as e:
                bad += 1
                print(f"# cleanup: {e}", file=sys.stderr)
        return bad


# --- Ironic --------------------------------------------------------------------------------
class Ironic:
    def __init__(self, a):
        self.a = a
        self.url = loopback_only(a.url)
        self.c = Client(None, {"X-OpenStack-Ironic-API-Version": IRONIC_VERSION})
        self.nodes, self.ports = [], []
        self.lock, self.retries = threading.Lock(), 0
        self.tag = uuid.uuid4().hex[:8]
        self.checks = []

    check = Ironbark.check

    def setup(self):
        a, c = self.a, self.c
        t0 = time.monotonic()
        for i in range(a.count):
            n = c.call("POST", f"{self.url}/v1/nodes", expect=(201,), json={
                "driver": "fake-hardware", "name": f"bench-{self.tag}-{i:03d}", "resource_class": "bench-gold",
                "properties": {"cpus": 1, "memory_mb": 1024, "local_gb": 10}})
            self.nodes.append(n["uuid"])
            p = c.call("POST", f"{self.url}/v1/ports", expect=(201,), json={
                "node_uuid": n["uuid"], "address": f"52:54:01:{i >> 8:02x}:{i & 255:02x}:{int(self.tag[:2], 16):02x}",
                "local_link_connection": {"switch_id": "00:11:22:33:44:55", "port_id": f"xe-0/0/{i}",
                                          "switch_info": "leaf1"}})
            self.ports.append(p["uuid"])
        for target, want in (("manage", "manageable"), ("provide", "available")):
            for n in self.nodes:
                c.call("PUT", f"{self.url}/v1/nodes/{n}/states/provision", expect=(202,), json={"target": target})
            wait_nodes(c, self.url, self.nodes, want, a.timeout)
        print(f"# {a.count} nodes available after {time.monotonic() - t0:.1f} s", flush=True)

    def provision(self, node, target, want=None):
        """PUT the provision target; with want (the all-at-once round), a
        refused connection (the embedded API server's listen backlog is 5) is
        retried, and a retry that finds the first attempt already taken (409 or
        400 with the node on its way to want) counts as accepted."""
        t0 = time.monotonic()
        url = f"{self.url}/v1/nodes/{node}/states/provision"
        for attempt in range(20):
            try:
                r = self.c.sess().put(url, json={"target": target}, timeout=self.c.timeout)
            except requests.ConnectionError:
                if want is None or attempt == 19:
                    raise
                with self.lock:
                    self.retries += 1
                time.sleep(0.05 * (attempt + 1))
                continue
            if r.status_code == 202:
                return node, t0
            if want and attempt > 0 and r.status_code in (400, 409):
                st, n = node_state(self.c, self.url, node)
                if n["provision_state"] == want or n.get("target_provision_state") in (want, target):
                    return node, t0
            raise Failed(f"PUT {url} {target} -> {r.status_code}: {r.text[:300]}")

    def run_round(self, rnd, concurrent):
        a, c = self.a, self.c
        out = {}
        for phase, target, want in (("build", "active", "active"), ("release", "deleted", "available")):
            times = {}
            if not concurrent:
                for n in self.nodes:
                    _, t0 = self.provision(n, target)
                    poll_one(lambda: node_state(c, self.url, n), want, ("deploy failed", "error", "clean failed"),
                             a.poll, a.timeout)
                    times[n] = time.monotonic() - t0
            else:
                started = dict(run_together(len(self.nodes), lambda i: self.provision(self.nodes[i], target, want)))
                seen = poll_all(lambda: node_listing(c, self.url), set(started), want, a.poll, a.timeout)
                times = {n: t - started[n] for n, (t, _) in seen.items()}
            self.check(len(times) == a.count, f"{rnd}: {a.count} nodes {want}")
            out[phase] = summary(list(times.values()))
            out[phase + "_s"] = sorted(times.values())
        out["connection_retries"] = self.retries
        if self.retries:
            print(f"#   {self.retries} PUTs retried after a refused connection", flush=True)
        self.retries = 0
        return out

    def cleanup(self):
        bad = 0
        try:
            # let every transition in flight settle, then undeploy what is active
            end = time.monotonic() + self.a.timeout
            while any(st.endswith("*") for st, _ in node_listing(self.c, self.url).values()) \
                    and time.monotonic() < end:
                time.sleep(0.2)
            for n, (st, _) in node_listing(self.c, self.url).items():
                if n in self.nodes and st == "active":
                    self.provision(n, "deleted")
            wait_nodes(self.c, self.url, self.nodes, "available", self.a.timeout)
        except Exception as e:
            print(f"# cleanup: {e}", file=sys.stderr)
        for u in [f"{self.url}/v1/ports/{p}" for p in self.ports] + [f"{self.url}/v1/nodes/{n}" for n in self.nodes]:
            try:
                self.c.call("DELETE", u, expect=(204, 404))
            except Exception as e:
                bad += 1
                print(f"# cleanup: {e}", file=sys.stderr)
        return bad


# --- polling ---------------------------------------------------------------------------------
def node_state(c, base, node):
    n = c.call("GET", f"{base}/v1/nodes/{node}",
               params={"fields": "provision_state,target_provision_state,last_error"})
    st = n["provision_state"] if not n.get("target_provision_state") else f"{n['provision_state']}*"
    return st, n


def node_listing(c, base):
    out, url, params = {}, f"{base}/v1/nodes", {"fields": "uuid,provision_state,target_provision_state,last_error",
                                                "limit": 1000}
    while url:
        d = c.call("GET", url, params=params)
        for n in d["nodes"]:
            if n["provision_state"] in ("deploy failed", "error", "clean failed"):
                raise Failed(f"node {n['uuid']} {n['provision_state']}: {n.get('last_error')}")
            st = n["provision_state"] if not n.get("target_provision_state") else f"{n['provision_state']}*"
            out[n["uuid"]] = (st, n)
        url, params = d.get("next"), None
    return out


def delete_timed(c, compute, sid):
    t0 = time.monotonic()
    c.call("DELETE", f"{compute}/servers/{sid}", expect=(204,))
    return t0


def poll_one(get, want, bad, interval, timeout):
    """Polls get() -> (state, doc) every interval s until state == want."""
    end = time.monotonic() + timeout
    while True:
        st, doc = get()
        if st == want:
            return doc
        if st in bad:
            raise Failed(f"state {st}: {doc.get('fault') or doc.get('last_error')}")
        if time.monotonic() > end:
            raise Failed(f"still {st} after {timeout} s")
        time.sleep(interval)


def poll_all(listing, ids, want, interval, timeout):
    """Polls listing() -> {id: (state, doc)} until every id is in want; returns
    {id: (monotonic time first seen in want, doc)}."""
    seen, end = {}, time.monotonic() + timeout
    while len(seen) < len(ids):
        now_states = listing()
        t = time.monotonic()
        for i in ids - set(seen):
            st = now_states.get(i)
            if st and st[0] == want:
                seen[i] = (t, st[1])
        if len(seen) == len(ids):
            break
        if t > end:
            raise Failed(f"{len(ids) - len(seen)} of {len(ids)} not {want} after {timeout} s")
        time.sleep(interval)
    return seen


def wait_nodes(c, base, nodes, want, timeout):
    poll_all(lambda: node_listing(c, base), set(nodes), want, 0.2, timeout)


def run_together(n, fn):
    """Runs fn(0..n-1) from n threads released together; returns the results."""
    barrier = threading.Barrier(n)

    def go(i):
        barrier.wait()
        return fn(i)
    with cf.ThreadPoolExecutor(n) as ex:
        return [f.result() for f in [ex.submit(go, i) for i in range(n)]]


# --- main ----------------------------------------------------------------------------------
def measure(target, a):
    t_start = time.time()
    doc = {"target": a.cmd, "count": a.count, "poll_s": a.poll, "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "box": {"cpus": os.cpu_count(), "kernel": platform.release(), "python": platform.python_version()},
           "rounds": {}, "error": None}
    try:
        target.setup()
        for rnd, conc in (("sequential", False), ("all at once", True)):
            print(f"# round: {rnd}", flush=True)
            t0 = time.monotonic()
            r = target.run_round(rnd, conc)
            r["wall_s"] = round(time.monotonic() - t0, 2)
            doc["rounds"][rnd] = r
            print(f"#   build {r['build']}\n#   release {r['release']}\n#   wall {r['wall_s']} s", flush=True)
    except Exception as e:
        doc["error"] = f"{type(e).__name__}: {e}"
        print(f"FAILED: {doc['error']}", file=sys.stderr, flush=True)
    finally:
        doc["cleanup_errors"] = target.cleanup()
    doc["checks"] = target.checks
    doc["wall_s"] = round(time.time() - t_start, 1)
    if hasattr(target, "image_size"):
        doc["image_bytes"] = target.image_size
    json.dump(doc, open(a.out, "w"), indent=1)
    ok = doc["error"] is None and all(c["ok"] for c in doc["checks"]) and not doc["cleanup_errors"]
    print(f"# {sum(c['ok'] for c in doc['checks'])}/{len(doc['checks'])} checks passed; results in {a.out}")
    return 0 if ok else 1


def table(a):
    ib, ir = json.load(open(a.ironbark)), json.load(open(a.ironic))
    num = lambda x: f"{x:.0f}" if x >= 100 else f"{x:.1f}"
    img = (ib.get("image_bytes") or 0) >> 20
    hdr = ("round", "phase", "ironbark p50 / p99 / max ms", "Ironic 39 p50 / p99 / max ms")
    rows = []
    for rnd in ("sequential", "all at once"):
        for phase in ("build", "release"):
            cell = []
            for d in (ib, ir):
                s = (d["rounds"].get(rnd) or {}).get(phase)
                cell.append("-" if not s else f"{num(s['p50_ms'])} / {num(s['p99_ms'])} / {num(s['max_ms'])}"
                            + (f" (n={s['n']})" if s["n"] != d["count"] else ""))
            rows.append((rnd, phase, *cell))
    w = [max(len(r[j]) for r in rows + [hdr]) for j in range(4)]
    fmt = lambda r: "  ".join(str(c).ljust(w[j]) if j < 2 else str(c).rjust(w[j]) for j, c in enumerate(r)).rstrip()
    lines = [
        f"Server lifecycle: {ib['count']} fake-hardware nodes, each latency from sending the request to the first "
        f"poll showing the state (poll every {ib['poll_s'] * 1000:.0f} ms)",
        f"  ironbark  build   = POST /v2.1/servers -> ACTIVE: scheduling, Neutron port + VIF binding, config drive,",
        f"                      and writing the {img} MiB raw image to the node's disk file",
        f"            release = DELETE /v2.1/servers/{{id}} -> node available: port removal, cleaning (zeroing the disk)",
        f"  Ironic 39 build   = PUT /v1/nodes/{{n}}/states/provision active -> active: the bare fake deploy",
        f"            release = PUT ... deleted -> available: fake undeploy + automated cleaning "
        f"(no image, disk, network or config drive)",
        "",
        fmt(hdr),
        fmt(tuple("-" * x for x in w)),
    ]
    lines += [fmt(r) for r in rows]
    lines.append("")
    for label, d in (("ironbark", ib), ("Ironic 39", ir)):
        walls = ", ".join(f"{k} {v['wall_s']} s" for k, v in d["rounds"].items())
        chk = d.get("checks") or []
        retries = sum(v.get("connection_retries", 0) for v in d["rounds"].values())
        lines.append(f"{label}: round walls {walls or '-'}; {sum(c['ok'] for c in chk)}/{len(chk)} checks passed"
                     + (f"; {retries} requests retried after a refused connection" if retries else "")
                     + (f"; ERROR {d['error']}" if d.get("error") else "") + f"; started {d['started']}")
    text = "\n".join(lines)
    print(text)
    if a.out:
        open(a.out, "w").write(text + "\n")
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("ironbark", "ironic"):
        s = sub.add_parser(name)
        s.add_argument("--count", type=int, default=50)
        s.add_argument("--poll", type=float, default=0.02)
        s.add_argument("--timeout", type=float, default=300, help="s per wait")
        s.add_argument("--out", required=True)
        if name == "ironbark":
            s.add_argument("--identity", required=True)
            s.add_argument("--password", required=True)
            s.add_argument("--image", required=True, help="raw image file to upload")
            s.add_argument("--disk-dir", help="the fake-hardware disk directory, to check the disk files")
        else:
            s.add_argument("--url", required=True)
    t = sub.add_parser("table")
    t.add_argument("--ironbark", required=True)
    t.add_argument("--ironic", required=True)
    t.add_argument("--out")
    a = p.parse_args()
    if a.cmd == "table":
        return table(a)
    return measure(Ironbark(a) if a.cmd == "ironbark" else Ironic(a), a)


if __name__ == "__main__":
    sys.exit(main())
