//! The read-only Contrail VNC API: a bare-metal VIF attach seen as the
//! objects a Contrail fabric holds (VMI bindings, VPG, physical
//! interface/router, instance-ip), on SQLite and PostgreSQL.

mod common;

use common::{Api, TestServer};
use reqwest::Method;
use serde_json::{Value, json};

impl Api<'_> {
    fn vnc(&self, path: &str) -> Value {
        let r = self.call(Method::GET, format!("{}{path}", self.s.contrail), None);
        assert_eq!(r.status(), 200, "GET {path}");
        r.json().unwrap()
    }

    fn action(&self, path: &str, body: Value) -> reqwest::blocking::Response {
        self.call(Method::POST, format!("{}{path}", self.s.contrail), Some(body))
    }
}

fn kvp<'a>(bindings: &'a Value, key: &str) -> &'a str {
    let pairs = bindings["key_value_pair"].as_array().unwrap();
    pairs.iter().find(|p| p["key"] == key).and_then(|p| p["value"].as_str()).unwrap_or_else(|| panic!("no {key}"))
}

fn attached_bare_metal_port(s: &TestServer) {
    let api = Api { s, token: s.admin_token() };
    let net = &s.network;
    let network = api.create(
        net,
        "/v2.0/networks",
        json!({"network": {"name": "tenant-net",
        "provider:network_type": "vlan", "provider:physical_network": "physnet1", "provider:segmentation_id": 120}}),
    )["network"]
        .clone();
    let net_id = network["id"].as_str().unwrap();
    let subnet = api.create(
        net,
        "/v2.0/subnets",
        json!({"subnet": {"network_id": net_id, "cidr": "10.80.0.0/24",
        "ip_version": 4, "name": "tenant-sub"}}),
    )["subnet"]
        .clone();
    let port = api.create(net, "/v2.0/ports", json!({"port": {"network_id": net_id}}))["port"].clone();
    let port_id = port["id"].as_str().unwrap();
    let address = port["fixed_ips"][0]["ip_address"].as_str().unwrap();

    let bm = &s.baremetal;
    let node = api.create(bm, "/v1/nodes", json!({"driver": "fake-hardware", "network_interface": "flat"}));
    let node_id = node["uuid"].as_str().unwrap();
    let llc = json!({"switch_id": "00:11:22:33:44:55", "port_id": "xe-0/0/7", "switch_info": "leaf1"});
    api.create(
        bm,
        "/v1/ports",
        json!({"node_uuid": node_id, "address": "52:54:00:aa:bb:07", "local_link_connection": llc}),
    );
    let r = api.call(Method::POST, format!("{bm}/v1/nodes/{node_id}/vifs"), Some(json!({"id": port_id})));
    assert_eq!(r.status(), 204);

    // the root document points vnc_api at every collection and action
    let root = api.vnc("/");
    let links = root["links"].as_array().unwrap();
    assert!(
        links.contains(&json!({"link": {"rel": "collection", "href": format!("{}/virtual-port-groups", s.contrail),
        "name": "virtual-port-group"}}))
    );
    assert!(links.iter().any(|l| l["link"]["name"] == "name-to-id" && l["link"]["rel"] == "action"));

    // the port is a VMI with Contrail's string-valued bindings
    let vmi = api.vnc(&format!("/virtual-machine-interface/{port_id}"))["virtual-machine-interface"].clone();
    let project = port["project_id"].as_str().unwrap();
    assert_eq!(vmi["fq_name"], json!(["default-domain", project, port_id]));
    let b = &vmi["virtual_machine_interface_bindings"];
    assert_eq!(kvp(b, "vnic_type"), "baremetal");
    assert_eq!(kvp(b, "host_id"), node_id);
    let profile: Value = serde_json::from_str(kvp(b, "profile")).unwrap();
    assert_eq!(profile["local_link_information"], json!([llc]));
    assert_eq!(vmi["virtual_machine_interface_properties"]["sub_interface_vlan_tag"], 120);
    assert_eq!(vmi["virtual_network_refs"][0]["uuid"], net_id);
    assert_eq!(vmi["virtual_machine_interface_mac_addresses"]["mac_address"], json!(["52:54:00:aa:bb:07"]));
    assert_eq!(vmi["id_perms"]["enable"], true);

    // the network carries its subnet on the default IPAM ref
    let vn = api.vnc(&format!("/virtual-network/{net_id}"))["virtual-network"].clone();
    assert_eq!(vn["fq_name"], json!(["default-domain", project, "tenant-net"]));
    let ipam_ref = &vn["network_ipam_refs"][0];
    assert_eq!(ipam_ref["to"], json!(["default-domain", "default-project", "default-network-ipam"]));
    let sub = &ipam_ref["attr"]["ipam_subnets"][0];
    assert_eq!(sub["subnet"], json!({"ip_prefix": "10.80.0.0", "ip_prefix_len": 24}));
    assert_eq!(sub["subnet_uuid"], subnet["id"]);
    assert_eq!(vn["provider_properties"]["segmentation_id"], 120);

    // the switch, its port and the node's VPG
    let prs = api.vnc("/physical-routers")["physical-routers"].clone();
    assert_eq!(prs.as_array().unwrap().len(), 1);
    assert_eq!(prs[0]["fq_name"], json!(["default-global-system-config", "leaf1"]));
    let pis = api.vnc(&format!("/physical-interfaces?parent_id={}", prs[0]["uuid"].as_str().unwrap()));
    let pi = &pis["physical-interfaces"][0];
    assert_eq!(pi["fq_name"], json!(["default-global-system-config", "leaf1", "xe-0/0/7"]));
    let vpgs = api.vnc("/virtual-port-groups?detail=True")["virtual-port-groups"].clone();
    let vpg = &vpgs[0]["virtual-port-group"];
    assert_eq!(vpg["fq_name"], json!(["default-global-system-config", "default-fabric", format!("vpg-{node_id}")]));
    assert_eq!(vpg["physical_interface_refs"][0]["uuid"], pi["uuid"]);
    assert_eq!(vpg["virtual_machine_interface_refs"][0]["uuid"], port_id);
    assert_eq!(vpg["virtual_port_group_user_created"], false);

    // the fixed IP
    let iips = api.vnc(&format!("/instance-ips?detail=True&back_ref_id={port_id}"))["instance-ips"].clone();
    let iip = &iips[0]["instance-ip"];
    assert_eq!(iip["instance_ip_address"], address);
    assert_eq!(iip["instance_ip_family"], "v4");
    assert_eq!(iip["subnet_uuid"], subnet["id"]);
    assert_eq!(iip["virtual_machine_interface_refs"][0]["uuid"], port_id);
    let iip_id = iip["uuid"].as_str().unwrap();
    let again = api.vnc(&format!("/instance-ips?obj_uuids={iip_id}"))["instance-ips"].clone();
    assert_eq!(again[0]["uuid"], iip_id, "derived uuids are stable");

    // names and ids round-trip; unknown ones are 404 in plain text
    let r = api.action("/fqname-to-id", json!({"type": "virtual-port-group", "fq_name": vpg["fq_name"]}));
    assert_eq!(r.status(), 200);
    let uuid = r.json::<Value>().unwrap()["uuid"].clone();
    assert_eq!(uuid, vpg["uuid"]);
    let r = api.action("/id-to-fqname", json!({"uuid": uuid}));
    assert_eq!(r.json::<Value>().unwrap(), json!({"fq_name": vpg["fq_name"], "type": "virtual-port-group"}));
    let r = api.action("/fqname-to-id", json!({"type": "virtual-network", "fq_name": ["default-domain", "x", "y"]}));
    assert_eq!(r.status(), 404);
    let r = api.call(Method::GET, format!("{}/virtual-machine-interface/{}", s.contrail, uuid::Uuid::new_v4()), None);
    assert_eq!(r.status(), 404);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));

    // a node bonded by a portgroup is a LAG: both switch ports, one ae_num
    let lag_port = api.create(net, "/v2.0/ports", json!({"port": {"network_id": net_id}}))["port"]["id"].clone();
    let lag_node = api.create(bm, "/v1/nodes", json!({"driver": "fake-hardware", "network_interface": "flat"}));
    let lag_node_id = lag_node["uuid"].as_str().unwrap();
    let pg = api.create(
        bm,
        "/v1/portgroups",
        json!({"node_uuid": lag_node_id, "address": "52:54:00:aa:cc:00",
        "mode": "802.3ad"}),
    );
    for (mac, ifname) in [("52:54:00:aa:cc:01", "xe-0/0/1"), ("52:54:00:aa:cc:02", "xe-0/0/2")] {
        api.create(
            bm,
            "/v1/ports",
            json!({"node_uuid": lag_node_id, "portgroup_uuid": pg["uuid"], "address": mac,
            "local_link_connection": {"switch_id": "00:11:22:33:44:66", "port_id": ifname, "switch_info": "leaf2"}}),
        );
    }
    let r = api.call(Method::POST, format!("{bm}/v1/nodes/{lag_node_id}/vifs"), Some(json!({"id": lag_port})));
    assert_eq!(r.status(), 204);
    let name = json!(["default-global-system-config", "default-fabric", format!("vpg-{lag_node_id}")]);
    let r = api.action("/fqname-to-id", json!({"type": "virtual-port-group", "fq_name": name}));
    let lag_vpg_id = r.json::<Value>().unwrap()["uuid"].as_str().unwrap().to_string();
    let lag_vpg = api.vnc(&format!("/virtual-port-group/{lag_vpg_id}"))["virtual-port-group"].clone();
    assert_eq!(lag_vpg["virtual_port_group_lacp_enabled"], true);
    let pi_refs = lag_vpg["physical_interface_refs"].as_array().unwrap();
    assert_eq!(pi_refs.len(), 2);
    assert!(pi_refs.iter().all(|r| r["attr"] == json!({"ae_num": 0})));
    assert_eq!(pi_refs[1]["to"], json!(["default-global-system-config", "leaf2", "xe-0/0/2"]));
    assert_eq!(api.vnc("/physical-routers")["physical-routers"].as_array().unwrap().len(), 2);
    let r = api.call(Method::DELETE, format!("{bm}/v1/nodes/{lag_node_id}/vifs/{}", lag_port.as_str().unwrap()), None);
    assert_eq!(r.status(), 204);

    // detaching removes the fabric objects
    let r = api.call(Method::DELETE, format!("{bm}/v1/nodes/{node_id}/vifs/{port_id}"), None);
    assert_eq!(r.status(), 204);
    assert_eq!(api.vnc("/virtual-port-groups")["virtual-port-groups"], json!([]));
}

/// Reads need a token, and the admin role.
fn operators_only(s: &TestServer) {
    let r = s.client.get(format!("{}/virtual-networks", s.contrail)).send().unwrap();
    assert_eq!(r.status(), 401);
    let (_, token) = s.project_user("vnc-tenant", "vnc-user", "member");
    let r = s.client.get(format!("{}/virtual-networks", s.contrail)).header("X-Auth-Token", token).send().unwrap();
    assert_eq!(r.status(), 403);
}

on_both_backends!(attached_bare_metal_port, operators_only);
