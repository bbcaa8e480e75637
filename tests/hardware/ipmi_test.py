"""ironbark's ipmi hardware type against pyghmi's simulated BMC (fakebmc),
driven by the real `openstack baremetal` CLI; the BMC side is read back
with ipmitool itself.

Usage: ipmi_test.py IRONBARK_URL BMC_HOST BMC_PORT OPENSTACK_BIN
"""
import json
import os
import subprocess
import sys
import time
import urllib.request

IRONBARK, HOST, PORT, OPENSTACK = sys.argv[1:5]
ENV = dict(os.environ, OS_ENDPOINT=IRONBARK, OS_AUTH_TYPE="none", OS_BAREMETAL_API_VERSION="latest")
failures = []
started = time.time()


def cli(*args, parse=False):
    t = time.time()
    r = subprocess.run([OPENSTACK, "baremetal", *args], env=ENV, capture_output=True, text=True)
    print(f"  $ openstack baremetal {' '.join(args)}  [{time.time() - t:.1f}s rc={r.returncode}]")
    if r.returncode != 0:
        raise SystemExit(f"FAILED: {' '.join(args)}\n{r.stdout}\n{r.stderr}")
    return json.loads(r.stdout) if parse else r.stdout


def bmc(*words):
    r = subprocess.run(["ipmitool", "-I", "lanplus", "-H", HOST, "-p", PORT, "-U", "admin", "-P", "password",
                        *words], capture_output=True, text=True, timeout=30)
    return r.stdout


def node(name):
    req = urllib.request.Request(f"{IRONBARK}/v1/nodes/{name}", headers={"X-OpenStack-Ironic-API-Version": "latest"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def wait(name, what, ok, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        n = node(name)
        if n["reservation"] is None and n["target_power_state"] is None and ok(n):
            return n
        time.sleep(0.3)
    raise SystemExit(f"FAILED: {name} did not reach {what}: {json.dumps(node(name))}")


def check(what, got, want):
    ok = got == want
    print(f"{'ok ' if ok else 'BAD'} {what}: {got!r}" + ("" if ok else f" (want {want!r})"))
    if not ok:
        failures.append(what)


def provision(name, verb, want):
    cli("node", verb, name)
    n = wait(name, want, lambda n: n["provision_state"] == want)
    check(f"{name} {verb} -> {want}, no last_error", (n["provision_state"], n["last_error"]), (want, None))
    return n


def power(name, *verb, want):
    cli("node", *verb, name)
    n = wait(name, want, lambda n: True)
    check(f"{name} {' '.join(verb)}", (n["power_state"], n["last_error"]), (want, None))
    return n


def selector():
    for line in bmc("chassis", "bootparam", "get", "5").splitlines():
        if "Boot Device Selector" in line:
            return line.split(":", 1)[1].strip()
    return None


print("# ipmi node against fakebmc: power and boot device, lifecycle")
cli("node", "create", "--driver", "ipmi", "--name", "ipmi-01",
    "--driver-info", f"ipmi_address={HOST}", "--driver-info", f"ipmi_port={PORT}",
    "--driver-info", "ipmi_username=admin", "--driver-info", "ipmi_password=password", "-f", "json", parse=True)
check("password masked", cli("node", "show", "ipmi-01", "-f", "json", parse=True)["driver_info"]["ipmi_password"], "******")
valid = {v["Interface"]: v["Result"] for v in cli("node", "validate", "ipmi-01", "-f", "json", parse=True)}
check("validate power/management", (valid["power"], valid["management"]), (True, True))
n = provision("ipmi-01", "manage", "manageable")
check("power state read from the BMC", n["power_state"], "power off")
power("ipmi-01", "power", "on", want="power on")
check("BMC after power on", bmc("power", "status").strip(), "Chassis Power is on")
power("ipmi-01", "power", "off", want="power off")
check("BMC after power off", bmc("power", "status").strip(), "Chassis Power is off")
power("ipmi-01", "reboot", want="power on")
check("BMC after reboot", bmc("power", "status").strip(), "Chassis Power is on")
cli("node", "boot", "device", "set", "ipmi-01", "pxe", "--persistent")
check("BMC boot device", selector(), "Force PXE")
check("boot device show", cli("node", "boot", "device", "show", "ipmi-01", "-f", "json", parse=True)["boot_device"], "pxe")
cli("node", "boot", "device", "set", "ipmi-01", "disk")
check("BMC boot device (disk)", selector(), "Force Boot from default Hard-Drive")
n = provision("ipmi-01", "provide", "available")
check("cleaning powered off", bmc("power", "status").strip(), "Chassis Power is off")
provision("ipmi-01", "deploy", "active")
check("deploy: network boot, powered on", (selector(), bmc("power", "status").strip()), ("Force PXE", "Chassis Power is on"))
provision("ipmi-01", "undeploy", "available")
check("teardown powered off", bmc("power", "status").strip(), "Chassis Power is off")

print("# an IPMI BMC that does not answer")
cli("node", "create", "--driver", "ipmi", "--name", "ipmi-dead", "--driver-info", "ipmi_address=127.0.0.1",
    "--driver-info", "ipmi_port=9", "--driver-info", "ipmi_username=admin", "-f", "json", parse=True)
cli("node", "manage", "ipmi-dead")
n = wait("ipmi-dead", "enroll", lambda n: n["provision_state"] == "enroll" and n["last_error"])
check("dead BMC: enroll with an IPMI error", "IPMI call failed: power status." in n["last_error"], True)
for name in ("ipmi-01", "ipmi-dead"):
    cli("node", "delete", name)
print(f"# {len(failures)} failed checks, {time.time() - started:.0f} s")
sys.exit(1 if failures else 0)
