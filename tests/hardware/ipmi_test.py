"""ironbark's ipmi hardware type against pyghmi's simulated BMC (fakebmc),
driven by the real `openstack baremetal` CLI; the BMC side is read back
with ipmitool itself.

Usage: ipmi_test.py IRONBARK_URL BMC_HOST BMC_PORT OPENSTACK_BIN
"""
import subprocess
import sys

from common import Run

IRONBARK, HOST, PORT, OPENSTACK = sys.argv[1:5]
run = Run(IRONBARK, OPENSTACK)
cli, wait, check, provision, power = run.cli, run.wait, run.check, run.provision, run.power


def bmc(*words):
    r = subprocess.run(["ipmitool", "-I", "lanplus", "-H", HOST, "-p", PORT, "-U", "admin", "-P", "password",
                        *words], capture_output=True, text=True, timeout=30)
    return r.stdout


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
sys.exit(run.finish())
