"""Fills a fresh ironbark for the Horizon test, through its APIs with
openstacksdk: a tenant (project `demo`, user `alice`, member) with a network,
a public image, a bare-metal flavor and two fake-hardware nodes, one
`available` for the launch and one left in `manageable` for the Bare Metal
panel to move.

Usage: setup_cloud.py IDENTITY_URL ADMIN_PASSWORD
"""

import sys
import time

import openstack

IDENTITY, PASSWORD = sys.argv[1], sys.argv[2]


def connect(user, password, project, **kw):
    return openstack.connect(
        auth_url=IDENTITY + "/v3",
        username=user,
        password=password,
        project_name=project,
        user_domain_name="Default",
        project_domain_name="Default",
        **kw,
    )


admin = connect("admin", PASSWORD, "admin", baremetal_api_version="1.78")
project = admin.identity.create_project(name="demo", domain_id="default")
alice = admin.identity.create_user(name="alice", password="alice-pw", domain_id="default", default_project_id=project.id)
member = admin.identity.find_role("member")
admin.identity.assign_project_role_to_user(project, alice, member)
admin.compute.update_quota_set(project.id, ram=-1, cores=-1)

tenant = connect("alice", "alice-pw", "demo")
net = tenant.network.create_network(name="demo-net")
tenant.network.create_subnet(network_id=net.id, name="demo-subnet", ip_version=4, cidr="10.30.0.0/24")

image = admin.image.create_image(
    name="ubuntu-24.04-baremetal", data=b"\0" * (2 << 20), disk_format="raw", container_format="bare", visibility="public"
)
flavor = admin.compute.create_flavor(name="bm.gold", vcpus=16, ram=65536, disk=480)
admin.compute.create_flavor_extra_specs(
    flavor,
    {"resources:CUSTOM_BAREMETAL_GOLD": "1", "resources:VCPU": "0", "resources:MEMORY_MB": "0", "resources:DISK_GB": "0"},
)

for i, name in enumerate(["r2-u01", "r2-u02"], start=1):
    node = admin.baremetal.create_node(
        name=name,
        driver="fake-hardware",
        resource_class="baremetal-gold",
        network_interface="flat",
        properties={"cpus": 16, "memory_mb": 65536, "local_gb": 480, "cpu_arch": "x86_64"},
    )
    admin.baremetal.create_port(
        node_uuid=node.id,
        address=f"52:54:00:20:00:0{i}",
        local_link_connection={"switch_id": "00:11:22:33:44:55", "port_id": f"xe-0/0/{i}", "switch_info": "leaf2"},
    )
    admin.baremetal.set_node_provision_state(node, "manage", wait=True, timeout=60)
    if name == "r2-u01":
        admin.baremetal.set_node_provision_state(node, "provide", wait=True, timeout=120)

deadline = time.time() + 60
while admin.image.get_image(image.id).status != "active" and time.time() < deadline:
    time.sleep(0.5)
print("cloud ready: project demo, user alice, network demo-net, image", image.id, "flavor bm.gold, nodes r2-u01 (available), r2-u02 (manageable)")
