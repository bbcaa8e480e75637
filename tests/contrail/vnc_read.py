"""Reads an attached bare-metal node through Contrail's own client.

Usage: vnc_read.py <host> <port> <port uuid> <node uuid> <ip address>
"""
import json
import sys

from vnc_api import vnc_api


def bindings(vmi):
    return {kv.key: kv.value for kv in vmi.get_virtual_machine_interface_bindings().key_value_pair}


def main(host, port, vmi_id, node_id, address):
    vnc = vnc_api.VncApi(api_server_host=host, api_server_port=int(port), auth_type="noauth")

    vmi = vnc.virtual_machine_interface_read(id=vmi_id)
    b = bindings(vmi)
    assert b["vnic_type"] == "baremetal", b
    assert b["host_id"] == node_id, b
    links = json.loads(b["profile"])["local_link_information"]
    assert links[0]["switch_info"] == "leaf1" and links[0]["port_id"] == "xe-0/0/9", links
    assert vmi.get_virtual_machine_interface_mac_addresses().mac_address == ["52:54:00:aa:bb:09"]
    vn_ref = vmi.get_virtual_network_refs()[0]
    assert vnc.id_to_fq_name(vn_ref["uuid"]) == vn_ref["to"]

    vpgs = vnc.virtual_port_groups_list(detail=True)
    assert len(vpgs) == 1, vpgs
    vpg = vpgs[0]
    assert vpg.get_fq_name() == ["default-global-system-config", "default-fabric", "vpg-" + node_id]
    assert [r["uuid"] for r in vpg.get_virtual_machine_interface_refs()] == [vmi_id]
    pi_ref = vpg.get_physical_interface_refs()[0]
    assert pi_ref["to"] == ["default-global-system-config", "leaf1", "xe-0/0/9"], pi_ref
    assert vnc.fq_name_to_id("physical-interface", pi_ref["to"]) == pi_ref["uuid"]
    assert vnc.physical_interface_read(id=pi_ref["uuid"]).get_physical_interface_port_id() == "xe-0/0/9"

    iips = vnc.instance_ips_list(back_ref_id=[vmi_id])["instance-ips"]
    assert len(iips) == 1, iips
    iip = vnc.instance_ip_read(id=iips[0]["uuid"])
    assert iip.get_instance_ip_address() == address
    assert iip.get_instance_ip_family() == "v4"
    assert iip.get_virtual_machine_interface_refs()[0]["uuid"] == vmi_id

    try:
        vnc.virtual_machine_interface_read(id="00000000-0000-4000-8000-000000000000")
        raise AssertionError("an unknown uuid was found")
    except vnc_api.NoIdError:
        pass
    print("vnc_api read the VMI, VPG, physical interface and instance-ip")


if __name__ == "__main__":
    main(*sys.argv[1:])
