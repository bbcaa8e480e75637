"""What the hardware tests share: the `openstack baremetal` CLI, reading a
node back from ironbark's API, waiting for it, and checks that are counted.
"""
import json
import os
import subprocess
import time
import urllib.request


class Run:
    def __init__(self, ironbark, openstack):
        self.ironbark = ironbark
        self.openstack = openstack
        self.env = dict(os.environ, OS_ENDPOINT=ironbark, OS_AUTH_TYPE="none", OS_BAREMETAL_API_VERSION="latest")
        self.failures = []
        self.started = time.time()

    def cli(self, *args, parse=False):
        t = time.time()
        r = subprocess.run([self.openstack, "baremetal", *args], env=self.env, capture_output=True, text=True)
        print(f"  $ openstack baremetal {' '.join(args)}  [{time.time() - t:.1f}s rc={r.returncode}]")
        if r.returncode != 0:
            raise SystemExit(f"FAILED: {' '.join(args)}\n{r.stdout}\n{r.stderr}")
        return json.loads(r.stdout) if parse else r.stdout

    def node(self, name):
        req = urllib.request.Request(f"{self.ironbark}/v1/nodes/{name}",
                                     headers={"X-OpenStack-Ironic-API-Version": "latest"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def wait(self, name, what, ok, timeout=120):
        """Waits until the node is unlocked, has no power target, and `ok` holds."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            n = self.node(name)
            if n["reservation"] is None and n["target_power_state"] is None and ok(n):
                return n
            time.sleep(0.3)
        raise SystemExit(f"FAILED: {name} did not reach {what}: {json.dumps(self.node(name))}")

    def check(self, what, got, want):
        ok = got == want
        print(f"{'ok ' if ok else 'BAD'} {what}: {got!r}" + ("" if ok else f" (want {want!r})"))
        if not ok:
            self.failures.append(what)

    def provision(self, name, verb, want):
        self.cli("node", verb, name)
        n = self.wait(name, want, lambda n: n["provision_state"] == want)
        self.check(f"{name} {verb} -> {want}, no last_error", (n["provision_state"], n["last_error"]), (want, None))
        return n

    def power(self, name, *verb, want):
        self.cli("node", *verb, name)
        n = self.wait(name, want, lambda n: True)
        self.check(f"{name} {' '.join(verb)}: power_state, last_error", (n["power_state"], n["last_error"]), (want, None))
        return n

    def finish(self):
        print(f"# {len(self.failures)} failed checks, {time.time() - self.started:.0f} s")
        return 1 if self.failures else 0
