"""ironbark's redfish hardware type against sushy-tools' Redfish emulator,
driven by the real `openstack baremetal` CLI; every BMC-side effect is read
back from the emulator itself.

Usage: redfish_test.py IRONBARK_URL SUSHY_URL ISO_URL OPENSTACK_BIN
"""
import json
import sys
import urllib.request

from common import Run

IRONBARK, SUSHY, ISO, OPENSTACK = sys.argv[1:5]
SYS1 = "/redfish/v1/Systems/27946b59-9e44-4fa7-8e91-f3527a1ef001"
SYS2 = "/redfish/v1/Systems/27946b59-9e44-4fa7-8e91-f3527a1ef002"
run = Run(IRONBARK, OPENSTACK)
cli, wait, check, provision, power = run.cli, run.wait, run.check, run.provision, run.power


def get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def system(path):
    return get(f"{SUSHY}{path}")


print("# redfish node 1 (PXE boot): enrol, power, boot device, inspect, lifecycle")
cli("node", "create", "--driver", "redfish", "--name", "rf-01",
    "--driver-info", f"redfish_address={SUSHY}", "--driver-info", f"redfish_system_id={SYS1}",
    "--driver-info", "redfish_username=admin", "--driver-info", "redfish_password=secret",
    "--driver-info", "redfish_verify_ca=False", "-f", "json", parse=True)
shown = cli("node", "show", "rf-01", "-f", "json", parse=True)
check("driver_info password masked", shown["driver_info"]["redfish_password"], "******")
valid = {v["Interface"]: v["Result"] for v in cli("node", "validate", "rf-01", "-f", "json", parse=True)}
check("validate power/management", (valid["power"], valid["management"]), (True, True))

n = provision("rf-01", "manage", "manageable")
check("power state read from the BMC", n["power_state"], "power off")

power("rf-01", "power", "on", want="power on")
check("emulator PowerState after power on", system(SYS1)["PowerState"], "On")
power("rf-01", "power", "off", want="power off")
check("emulator PowerState after power off", system(SYS1)["PowerState"], "Off")
power("rf-01", "reboot", want="power on")
check("emulator PowerState after reboot", system(SYS1)["PowerState"], "On")

# sushy-tools keeps the target only and always reports "Continuous"; the
# Once/Continuous choice is checked against tests/redfish_bmc (cargo test).
cli("node", "boot", "device", "set", "rf-01", "pxe", "--persistent")
check("emulator boot override", system(SYS1)["Boot"]["BootSourceOverrideTarget"], "Pxe")
check("boot device show", cli("node", "boot", "device", "show", "rf-01", "-f", "json", parse=True),
      {"boot_device": "pxe", "persistent": True})
cli("node", "boot", "device", "set", "rf-01", "disk")
check("emulator boot override (disk)", system(SYS1)["Boot"]["BootSourceOverrideTarget"], "Hdd")

n = provision("rf-01", "inspect", "manageable")
props = n["properties"]
check("inspected local_gb (smallest disk >= 4 GiB, less 1)", props.get("local_gb"), 99)
check("inspected boot mode capability", props.get("capabilities"), "boot_mode:uefi")
ports = cli("port", "list", "--node", "rf-01", "-f", "json", parse=True)
check("ports enrolled from the emulated NICs", sorted(p["address"] for p in ports),
      ["00:5c:52:31:3a:01", "00:5c:52:31:3a:11"])
inventory = json.loads(cli("node", "inventory", "save", "rf-01"))
check("inventory interfaces", sorted(i["mac_address"] for i in inventory["inventory"]["interfaces"]),
      ["00:5c:52:31:3a:01", "00:5c:52:31:3a:11"])
check("inventory disks", sorted(d["size"] for d in inventory["inventory"]["disks"]), [107374182400, 899527000000])
check("inventory vendor", inventory["inventory"]["system_vendor"]["manufacturer"], "Sushy Emulator")
provision("rf-01", "inspect", "manageable")
check("a second inspection enrols no port twice", len(cli("port", "list", "--node", "rf-01", "-f", "json", parse=True)), 2)

n = provision("rf-01", "provide", "available")
check("cleaning left the node off (ironbark, emulator)", (n["power_state"], system(SYS1)["PowerState"]), ("power off", "Off"))
n = provision("rf-01", "deploy", "active")
boot = system(SYS1)["Boot"]
check("deploy booted from the network (ironbark, emulator)",
      (n["power_state"], system(SYS1)["PowerState"], boot["BootSourceOverrideTarget"]), ("power on", "On", "Pxe"))
n = provision("rf-01", "undeploy", "available")
check("teardown powered off (ironbark, emulator)", (n["power_state"], system(SYS1)["PowerState"]), ("power off", "Off"))

print("# redfish node 2 (virtual media): the deploy ISO is inserted, booted and ejected")
cli("node", "create", "--driver", "redfish", "--name", "rf-02", "--boot-interface", "redfish-virtual-media",
    "--driver-info", f"redfish_address={SUSHY}", "--driver-info", f"redfish_system_id={SYS2}",
    "--driver-info", "redfish_verify_ca=False", "-f", "json", parse=True)
cli("node", "set", "rf-02", "--instance-info", f"boot_iso={ISO}")
provision("rf-02", "manage", "manageable")
provision("rf-02", "provide", "available")
n = provision("rf-02", "deploy", "active")
cd = system(f"{SYS2}/VirtualMedia/Cd")
boot = system(SYS2)["Boot"]
check("emulator CD holds the ISO", (cd.get("Inserted"), cd.get("Image")), (True, ISO))
check("boots from the CD", (boot["BootSourceOverrideTarget"], system(SYS2)["PowerState"]), ("Cd", "On"))
provision("rf-02", "undeploy", "available")
cd = system(f"{SYS2}/VirtualMedia/Cd")
check("ISO ejected at teardown", (cd.get("Inserted"), system(SYS2)["PowerState"]), (False, "Off"))

print("# a BMC that is not there")
cli("node", "create", "--driver", "redfish", "--name", "rf-dead",
    "--driver-info", "redfish_address=http://127.0.0.1:9", "-f", "json", parse=True)
cli("node", "manage", "rf-dead")
n = wait("rf-dead", "enroll", lambda n: n["provision_state"] == "enroll" and n["last_error"])
check("dead BMC: back to enroll with a connection error",
      ("Redfish connection failed" in n["last_error"], n["provision_state"]), (True, "enroll"))

for name in ("rf-01", "rf-02", "rf-dead"):
    cli("node", "delete", name)
sys.exit(run.finish())
