//! The network service (Neutron v2.0 subset): networks, subnets, ports,
//! address allocation under concurrency, and bare-metal VIF binding, on
//! SQLite and PostgreSQL.

mod common;

use std::collections::HashSet;

use common::{Db, Net, TestServer};
use reqwest::blocking::Response;
use serde_json::{Value, json};

/// Asserts Neutron's error body; returns its type.
fn error(r: Response, status: u16) -> String {
    assert_eq!(r.status().as_u16(), status, "status");
    let body: Value = r.json().expect("error body is JSON");
    let e = &body["NeutronError"];
    assert!(e["message"].is_string() && e["detail"].is_string(), "{body}");
    e["type"].as_str().expect("type").to_string()
}

fn discovery(s: &TestServer) {
    let root: Value = s.client.get(format!("{}/", s.network)).send().unwrap().json().unwrap();
    assert_eq!(root["versions"][0]["id"], "v2.0");
    assert_eq!(root["versions"][0]["links"][0]["href"], format!("{}/v2.0/", s.network));
    let n = Net::new(s, s.admin_token());
    let ext = n.get("/v2.0/extensions");
    let aliases: Vec<&str> =
        ext["extensions"].as_array().unwrap().iter().map(|e| e["alias"].as_str().unwrap()).collect();
    for a in ["binding", "provider", "port-security"] {
        assert!(aliases.contains(&a), "{a}");
    }
    assert_eq!(n.get("/v2.0/extensions/binding")["extension"]["alias"], "binding");
    error(n.call(reqwest::Method::GET, "/v2.0/extensions/nope", None), 404);
    let r = s.client.get(format!("{}/v2.0/networks", s.network)).send().unwrap();
    assert!(r.headers().contains_key("www-authenticate"));
    error(r, 401);
}

fn networks_and_subnets(s: &TestServer) {
    let admin = Net::new(s, s.admin_token());
    let (pid, token) = s.project_user("net-tenant", "net-user", "member");
    let user = Net::new(s, token);
    let net = user.create("network", "networks", json!({"name": "n1"}));
    assert_eq!((net["status"].as_str(), net["project_id"].as_str()), (Some("ACTIVE"), Some(pid.as_str())));
    assert_eq!(net["mtu"], 1500);
    assert!(net.get("provider:network_type").is_none(), "provider attributes are admin-only");
    let nid = net["id"].as_str().unwrap();
    // provider networks: admin only, validated, unique segments
    error(user.post("/v2.0/networks", json!({"network": {"provider:network_type": "vlan"}})), 403);
    let vlan = admin.create(
        "network",
        "networks",
        json!({"name": "v100", "provider:network_type": "vlan",
        "provider:physical_network": "physnet1", "provider:segmentation_id": 100, "shared": true}),
    );
    assert_eq!(vlan["provider:segmentation_id"], 100);
    assert_eq!(
        error(
            admin.post(
                "/v2.0/networks",
                json!({"network": {"provider:network_type": "vlan",
        "provider:physical_network": "physnet1", "provider:segmentation_id": 100}})
            ),
            409
        ),
        "SegmentationIdInUse"
    );
    for bad in [
        json!({"provider:network_type": "vlan", "provider:physical_network": "p", "provider:segmentation_id": 5000}),
        json!({"provider:network_type": "warp"}),
        json!({"mtu": 10}),
        json!({"bogus": 1}),
        json!({"admin_state_up": "maybe"}),
    ] {
        error(admin.post("/v2.0/networks", json!({ "network": bad })), 400);
    }
    error(admin.post("/v2.0/networks", json!({"name": "no wrapper"})), 400);
    // the user sees its own and the shared network; another project sees only the shared one
    let (_, other_token) = s.project_user("net-other", "net-other-user", "member");
    let other = Net::new(s, other_token);
    let names = |n: &Net| -> HashSet<String> {
        n.get("/v2.0/networks")["networks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&user), HashSet::from(["n1".to_string(), "v100".to_string()]));
    assert_eq!(names(&other), HashSet::from(["v100".to_string()]));
    error(other.call(reqwest::Method::GET, &format!("/v2.0/networks/{nid}"), None), 404);
    error(other.delete(&format!("/v2.0/networks/{}", vlan["id"].as_str().unwrap())), 403);
    // subnets
    let sub = user.create(
        "subnet",
        "subnets",
        json!({"network_id": nid, "cidr": "10.30.0.0/24", "ip_version": 4, "name": "s1",
        "dns_nameservers": ["10.30.0.2"], "host_routes": [{"destination": "10.40.0.0/16", "nexthop": "10.30.0.254"}]}),
    );
    assert_eq!(sub["gateway_ip"], "10.30.0.1");
    assert_eq!(sub["allocation_pools"], json!([{"start": "10.30.0.2", "end": "10.30.0.254"}]));
    let sid = sub["id"].as_str().unwrap();
    assert_eq!(user.get(&format!("/v2.0/networks/{nid}"))["network"]["subnets"], json!([sid]));
    for (bad, status) in [
        (json!({"network_id": nid, "cidr": "10.30.0.0/25", "ip_version": 4}), 400),
        (json!({"network_id": nid, "cidr": "10.31.0.1/24", "ip_version": 4}), 400),
        (json!({"network_id": nid, "cidr": "10.31.0.0/24", "ip_version": 6}), 400),
        (
            json!({"network_id": nid, "cidr": "10.31.0.0/24", "ip_version": 4,
            "allocation_pools": [{"start": "10.31.0.1", "end": "10.31.0.9"}]}),
            409,
        ),
        (
            json!({"network_id": nid, "cidr": "10.31.0.0/24", "ip_version": 4,
            "allocation_pools": [{"start": "10.31.0.10", "end": "10.32.0.9"}]}),
            400,
        ),
        (json!({"network_id": nid, "ip_version": 4}), 400),
        (json!({"network_id": "00000000-0000-0000-0000-000000000000", "cidr": "10.9.0.0/24", "ip_version": 4}), 404),
    ] {
        error(user.post("/v2.0/subnets", json!({ "subnet": bad })), status);
    }
    let v6 = user.create(
        "subnet",
        "subnets",
        json!({"network_id": nid, "cidr": "2001:db8:30::/64", "ip_version": 6,
        "ipv6_address_mode": "dhcpv6-stateful", "ipv6_ra_mode": "dhcpv6-stateful"}),
    );
    assert_eq!(v6["gateway_ip"], "2001:db8:30::1");
    // updates
    let r = user.put(&format!("/v2.0/subnets/{sid}"), json!({"subnet": {"name": "s1b", "dns_nameservers": []}}));
    assert_eq!(r.status(), 200);
    error(user.put(&format!("/v2.0/subnets/{sid}"), json!({"subnet": {"cidr": "10.0.0.0/8"}})), 400);
    let r = user.put(&format!("/v2.0/networks/{nid}"), json!({"network": {"name": "n1b"}}));
    assert_eq!(r.json::<Value>().unwrap()["network"]["name"], "n1b");
    // list conventions: filters, fields, sorting, paging
    for name in ["pa", "pb", "pc", "pd"] {
        user.create("network", "networks", json!({ "name": name }));
    }
    let v = user.get("/v2.0/networks?sort_key=name&sort_dir=asc&limit=2&fields=name&fields=id");
    let page: Vec<&str> = v["networks"].as_array().unwrap().iter().map(|n| n["name"].as_str().unwrap()).collect();
    assert_eq!(page, ["n1b", "pa"]);
    assert_eq!(v["networks"][0].as_object().unwrap().len(), 2, "only the asked fields");
    let next = v["networks_links"].as_array().unwrap().iter().find(|l| l["rel"] == "next").unwrap()["href"]
        .as_str()
        .unwrap()
        .to_string();
    let path = next.trim_start_matches(&s.network).to_string();
    let v = user.get(&path);
    let page: Vec<&str> = v["networks"].as_array().unwrap().iter().map(|n| n["name"].as_str().unwrap()).collect();
    assert_eq!(page, ["pb", "pc"]);
    assert_eq!(user.get("/v2.0/networks?name=pc&name=pd")["networks"].as_array().unwrap().len(), 2);
    assert_eq!(user.get("/v2.0/networks?shared=true")["networks"].as_array().unwrap().len(), 1);
    error(user.call(reqwest::Method::GET, "/v2.0/networks?limit=x", None), 400);
    // delete: subnet then network
    assert_eq!(user.delete(&format!("/v2.0/subnets/{}", v6["id"].as_str().unwrap())).status(), 204);
    let port = user.create("port", "ports", json!({"network_id": nid}));
    assert_eq!(error(user.delete(&format!("/v2.0/networks/{nid}")), 409), "NetworkInUse");
    assert_eq!(error(user.delete(&format!("/v2.0/subnets/{sid}")), 409), "SubnetInUse");
    assert_eq!(user.delete(&format!("/v2.0/ports/{}", port["id"].as_str().unwrap())).status(), 204);
    assert_eq!(user.delete(&format!("/v2.0/networks/{nid}")).status(), 204);
    error(user.call(reqwest::Method::GET, &format!("/v2.0/networks/{nid}"), None), 404);
    error(user.call(reqwest::Method::GET, &format!("/v2.0/subnets/{sid}"), None), 404);
}

fn ports_and_addresses(s: &TestServer) {
    let admin = Net::new(s, s.admin_token());
    let net = admin.create("network", "networks", json!({"name": "pnet"}));
    let nid = net["id"].as_str().unwrap();
    let sub = admin.create(
        "subnet",
        "subnets",
        json!({"network_id": nid, "cidr": "10.50.0.0/24", "ip_version": 4,
        "allocation_pools": [{"start": "10.50.0.10", "end": "10.50.0.12"}]}),
    );
    let sid = sub["id"].as_str().unwrap();
    let p1 = admin.create("port", "ports", json!({"network_id": nid, "name": "p1"}));
    assert_eq!(p1["status"], "DOWN");
    assert_eq!(p1["binding:vif_type"], "unbound");
    assert!(p1["mac_address"].as_str().unwrap().starts_with("fa:16:3e:"));
    let ip1 = p1["fixed_ips"][0]["ip_address"].as_str().unwrap().to_string();
    assert!(["10.50.0.10", "10.50.0.11", "10.50.0.12"].contains(&ip1.as_str()), "{ip1}");
    assert_eq!(p1["fixed_ips"][0]["subnet_id"], sid);
    // an explicit address, outside the pool but inside the subnet, is allowed once
    let p2 = admin.create("port", "ports", json!({"network_id": nid, "fixed_ips": [{"ip_address": "10.50.0.100"}]}));
    assert_eq!(p2["fixed_ips"][0]["ip_address"], "10.50.0.100");
    let taken =
        admin.post("/v2.0/ports", json!({"port": {"network_id": nid, "fixed_ips": [{"ip_address": "10.50.0.100"}]}}));
    assert_eq!(error(taken, 409), "IpAddressAlreadyAllocated");
    for bad in [
        json!([{"ip_address": "10.99.0.1"}]),
        json!([{"ip_address": "10.50.0.1"}]),
        json!([{"subnet_id": "nope"}]),
        json!([{}]),
    ] {
        error(admin.post("/v2.0/ports", json!({"port": {"network_id": nid, "fixed_ips": bad}})), 400);
    }
    // the pool runs out
    admin.create("port", "ports", json!({"network_id": nid}));
    admin.create("port", "ports", json!({"network_id": nid}));
    let full = admin.post("/v2.0/ports", json!({"port": {"network_id": nid}}));
    assert_eq!(error(full, 409), "IpAddressGenerationFailure");
    // deleting a port returns its address
    assert_eq!(admin.delete(&format!("/v2.0/ports/{}", p1["id"].as_str().unwrap())).status(), 204);
    let again = admin.create("port", "ports", json!({"network_id": nid}));
    assert_eq!(again["fixed_ips"][0]["ip_address"], ip1.as_str());
    // MACs: explicit, duplicate, invalid
    let m =
        admin.create("port", "ports", json!({"network_id": nid, "mac_address": "52:54:00:12:34:56", "fixed_ips": []}));
    assert_eq!(m["fixed_ips"], json!([]));
    let dup = admin
        .post("/v2.0/ports", json!({"port": {"network_id": nid, "mac_address": "52:54:00:12:34:56", "fixed_ips": []}}));
    assert_eq!(error(dup, 409), "MacAddressInUse");
    error(admin.post("/v2.0/ports", json!({"port": {"network_id": nid, "mac_address": "zz"}})), 400);
    // filters on fixed_ips
    let found = admin.get("/v2.0/ports?fixed_ips=ip_address%3D10.50.0.100");
    assert_eq!(found["ports"].as_array().unwrap().len(), 1);
    // moving a port's address
    let pid2 = p2["id"].as_str().unwrap();
    let r = admin.put(&format!("/v2.0/ports/{pid2}"), json!({"port": {"fixed_ips": [{"ip_address": "10.50.0.101"}]}}));
    assert_eq!(r.json::<Value>().unwrap()["port"]["fixed_ips"][0]["ip_address"], "10.50.0.101");
    admin.create("port", "ports", json!({"network_id": nid, "fixed_ips": [{"ip_address": "10.50.0.100"}]}));
    // binding: baremetal with local link information, then unbound
    let bound = admin.put(
        &format!("/v2.0/ports/{pid2}"),
        json!({"port": {"binding:vnic_type": "baremetal",
        "binding:host_id": "node-1", "binding:profile": {"local_link_information": [
            {"switch_id": "00:11:22:33:44:55", "port_id": "xe-0/0/1", "switch_info": "leaf1"}]}}}),
    );
    let bound: Value = bound.json().unwrap();
    assert_eq!(bound["port"]["status"], "ACTIVE");
    assert_eq!(bound["port"]["binding:vif_type"], "other");
    assert_eq!(bound["port"]["binding:profile"]["local_link_information"][0]["port_id"], "xe-0/0/1");
    let bad = admin.put(
        &format!("/v2.0/ports/{pid2}"),
        json!({"port": {"binding:profile": {"local_link_information": [{"x": 1}]}}}),
    );
    error(bad, 400);
    let unbound: Value =
        admin.put(&format!("/v2.0/ports/{pid2}"), json!({"port": {"binding:host_id": ""}})).json().unwrap();
    assert_eq!(unbound["port"]["status"], "DOWN");
    // a member may not set binding host or profile, and does not see them
    let (_, token) = s.project_user("port-tenant", "port-user", "member");
    let user = Net::new(s, token);
    let unet = user.create("network", "networks", json!({"name": "u"}));
    let r = user.post("/v2.0/ports", json!({"port": {"network_id": unet["id"], "binding:host_id": "h"}}));
    error(r, 403);
    let up = user.create("port", "ports", json!({"network_id": unet["id"], "binding:vnic_type": "baremetal"}));
    assert!(up.get("binding:host_id").is_none());
    assert_eq!(up["binding:vnic_type"], "baremetal");
    error(user.call(reqwest::Method::GET, &format!("/v2.0/ports/{pid2}"), None), 404);
}

/// 100 parallel port creates on a /24 with 50 free addresses: exactly 50
/// succeed, 50 get IpAddressGenerationFailure, and no address is given twice.
fn parallel_allocation(s: &TestServer) {
    let admin = Net::new(s, s.admin_token());
    let net = admin.create("network", "networks", json!({"name": "busy"}));
    let nid = net["id"].as_str().unwrap().to_string();
    admin.create(
        "subnet",
        "subnets",
        json!({"network_id": nid, "cidr": "10.60.0.0/24", "ip_version": 4,
        "allocation_pools": [{"start": "10.60.0.100", "end": "10.60.0.149"}]}),
    );
    let token = admin.token.clone();
    let results: Vec<(u16, Value)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..100)
            .map(|_| {
                let (nid, token) = (nid.clone(), token.clone());
                scope.spawn(move || {
                    let client = reqwest::blocking::Client::builder()
                        .timeout(std::time::Duration::from_secs(60))
                        .build()
                        .unwrap();
                    let r = client
                        .post(format!("{}/v2.0/ports", s.network))
                        .header("X-Auth-Token", token)
                        .json(&json!({"port": {"network_id": nid}}))
                        .send()
                        .unwrap();
                    (r.status().as_u16(), r.json::<Value>().unwrap())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ok: Vec<&Value> = results.iter().filter(|(s, _)| *s == 201).map(|(_, v)| v).collect();
    let refused =
        results.iter().filter(|(s, v)| *s == 409 && v["NeutronError"]["type"] == "IpAddressGenerationFailure").count();
    assert_eq!((ok.len(), refused), (50, 50), "{:?}", results.iter().map(|r| r.0).collect::<Vec<_>>());
    let ips: HashSet<&str> = ok.iter().map(|v| v["port"]["fixed_ips"][0]["ip_address"].as_str().unwrap()).collect();
    assert_eq!(ips.len(), 50, "no address given twice");
    let listed = admin.get(&format!("/v2.0/ports?network_id={nid}"));
    assert_eq!(listed["ports"].as_array().unwrap().len(), 50);
}

/// `POST /v1/nodes/{node}/vifs` with a network port binds it to the node's
/// switch port; detaching unbinds it.
fn vif_binding(s: &TestServer) {
    let token = s.admin_token();
    let admin = Net::new(s, token.clone());
    let net = admin.create("network", "networks", json!({"name": "bms"}));
    admin.create("subnet", "subnets", json!({"network_id": net["id"], "cidr": "10.70.0.0/24", "ip_version": 4}));
    let vif = admin.create("port", "ports", json!({"network_id": net["id"]}));
    let vif_id = vif["id"].as_str().unwrap();
    let bm = |method: reqwest::Method, path: &str, body: Option<Value>| {
        let mut r = s
            .client
            .request(method, format!("{}{path}", s.baremetal))
            .header("X-Auth-Token", &token)
            .header("X-OpenStack-Ironic-API-Version", "1.67");
        if let Some(b) = body {
            r = r.json(&b);
        }
        r.send().unwrap()
    };
    let node: Value =
        bm(reqwest::Method::POST, "/v1/nodes", Some(json!({"driver": "fake-hardware", "network_interface": "flat"})))
            .json()
            .unwrap();
    let node_id = node["uuid"].as_str().unwrap().to_string();
    assert_eq!(node["network_interface"], "flat");
    let llc = json!({"switch_id": "00:11:22:33:44:55", "port_id": "xe-0/0/7", "switch_info": "leaf1"});
    let r = bm(
        reqwest::Method::POST,
        "/v1/ports",
        Some(json!({"node_uuid": node_id, "address": "52:54:00:aa:bb:01",
        "local_link_connection": llc})),
    );
    assert_eq!(r.status(), 201);
    // an unknown network port cannot be attached to a flat node
    let r = bm(
        reqwest::Method::POST,
        &format!("/v1/nodes/{node_id}/vifs"),
        Some(json!({"id": "6f0e6bb4-0000-4000-8000-000000000001"})),
    );
    assert_eq!(r.status(), 400);
    let r = bm(reqwest::Method::POST, &format!("/v1/nodes/{node_id}/vifs"), Some(json!({"id": vif_id})));
    assert_eq!(r.status(), 204);
    let p = admin.get(&format!("/v2.0/ports/{vif_id}"))["port"].clone();
    assert_eq!(p["binding:host_id"], node_id.as_str());
    assert_eq!(p["binding:vnic_type"], "baremetal");
    assert_eq!(p["binding:profile"]["local_link_information"], json!([llc]));
    assert_eq!(p["mac_address"], "52:54:00:aa:bb:01");
    assert_eq!(p["status"], "ACTIVE");
    let r = bm(reqwest::Method::DELETE, &format!("/v1/nodes/{node_id}/vifs/{vif_id}"), None);
    assert_eq!(r.status(), 204);
    let p = admin.get(&format!("/v2.0/ports/{vif_id}"))["port"].clone();
    assert_eq!(p["binding:host_id"], "");
    assert_eq!(p["status"], "DOWN");
    assert_eq!(p["binding:profile"], json!({}));
}

#[test]
fn noauth_mode_serves_networks() {
    let s = TestServer::start_with(Db::Sqlite, |c| c.auth = ironbark::config::AuthMode::Noauth).unwrap();
    let r = s.client.get(format!("{}/v2.0/networks", s.network)).send().unwrap();
    assert_eq!(r.status(), 200);
}

on_both_backends!(discovery, networks_and_subnets, ports_and_addresses, parallel_allocation, vif_binding);
