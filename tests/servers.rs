//! Servers over HTTP: a tenant's `POST /servers` schedules a matching node,
//! creates and binds its network port, writes the image and config drive to
//! the node's disk and ends ACTIVE with an address; delete tears it down and
//! erases the disk; concurrent creates never share a node. SQLite and PostgreSQL.

mod common;
mod sandesh_collector;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::{Api, TestServer};
use reqwest::Method;
use serde_json::{Value, json};

const RC: &str = "baremetal-gold";

/// One caller of every service with a token.
struct Cloud<'a> {
    api: Api<'a>,
}

impl<'a> Cloud<'a> {
    fn new(s: &'a TestServer, token: String) -> Self {
        Cloud { api: Api { s, token } }
    }

    fn nova(&self, method: Method, path: &str, body: Option<Value>) -> reqwest::blocking::Response {
        let mut r = self
            .api
            .s
            .client
            .request(method, format!("{}/v2.1{path}", self.api.s.compute))
            .header("X-Auth-Token", &self.api.token)
            .header("X-OpenStack-Nova-API-Version", "2.79");
        if let Some(b) = body {
            r = r.json(&b);
        }
        r.send().unwrap()
    }

    fn nova_ok(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let r = self.nova(method, path, body);
        let st = r.status();
        let text = r.text().unwrap();
        assert!(st.is_success(), "{path}: {st} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    fn get(&self, root: &str, path: &str) -> Value {
        let r = self.api.call(Method::GET, format!("{root}{path}"), None);
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r.json().unwrap()
    }
}

/// Enrols `n` fake-hardware nodes of the gold class (flat network, one
/// switch-connected port each) and makes them available.
fn enrol(admin: &Cloud, n: usize) -> Vec<String> {
    let s = admin.api.s;
    (0..n)
        .map(|i| {
            let node = admin.api.create(
                &s.baremetal,
                "/v1/nodes",
                json!({"driver": "fake-hardware", "resource_class": RC, "network_interface": "flat", "name": format!("bm{i}")}),
            );
            let id = node["uuid"].as_str().unwrap().to_string();
            admin.api.create(
                &s.baremetal,
                "/v1/ports",
                json!({"node_uuid": id, "address": format!("52:54:00:00:01:{i:02x}"),
                    "local_link_connection": {"switch_id": "00:11:22:33:44:55", "port_id": format!("xe-0/0/{i}"), "switch_info": "leaf1"}}),
            );
            for target in ["manage", "provide"] {
                let r = admin.api.call(
                    Method::PUT,
                    format!("{}/v1/nodes/{id}/states/provision", s.baremetal),
                    Some(json!({"target": target})),
                );
                assert_eq!(r.status(), 202);
                wait(admin, &id, if target == "manage" { "manageable" } else { "available" });
            }
            id
        })
        .collect()
}

fn wait(admin: &Cloud, node: &str, state: &str) -> Value {
    let start = Instant::now();
    loop {
        let n = admin.get(&admin.api.s.baremetal, &format!("/v1/nodes/{node}"));
        if n["provision_state"] == state {
            return n;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "node {node} stuck in {}", n["provision_state"]);
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn wait_server(c: &Cloud, id: &str, status: &str) -> Value {
    let start = Instant::now();
    loop {
        let v = c.nova_ok(Method::GET, &format!("/servers/{id}"), None)["server"].clone();
        if v["status"] == status {
            return v;
        }
        assert_ne!(v["status"], "ERROR", "server went ERROR: {}", v["fault"]);
        assert!(start.elapsed() < Duration::from_secs(30), "server {id} stuck in {}", v["status"]);
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn wait_gone(c: &Cloud, id: &str) {
    let start = Instant::now();
    while c.nova(Method::GET, &format!("/servers/{id}"), None).status() != 404 {
        assert!(start.elapsed() < Duration::from_secs(30), "server {id} not deleted");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The image, the flavor and a shared network with a /24.
fn catalog(admin: &Cloud, data: &[u8]) -> (String, String, String) {
    let s = admin.api.s;
    let img = admin.api.create(
        &s.image,
        "/v2/images",
        json!({"name": "marker", "disk_format": "raw", "container_format": "bare", "visibility": "public"}),
    );
    let iid = img["id"].as_str().unwrap().to_string();
    let r = s
        .client
        .put(format!("{}/v2/images/{iid}/file", s.image))
        .header("X-Auth-Token", &admin.api.token)
        .header("Content-Type", "application/octet-stream")
        .body(data.to_vec())
        .send()
        .unwrap();
    assert_eq!(r.status(), 204);
    let f = admin.nova_ok(
        Method::POST,
        "/flavors",
        Some(json!({"flavor": {"name": "bm.gold", "ram": 1024, "vcpus": 2, "disk": 10}})),
    );
    let fid = f["flavor"]["id"].as_str().unwrap().to_string();
    admin.nova_ok(
        Method::POST,
        &format!("/flavors/{fid}/os-extra_specs"),
        Some(json!({"extra_specs": {"resources:CUSTOM_BAREMETAL_GOLD": "1", "resources:VCPU": "0"}})),
    );
    let net = admin.api.create(&s.network, "/v2.0/networks", json!({"network": {"name": "tenants", "shared": true}}));
    let nid = net["network"]["id"].as_str().unwrap().to_string();
    admin.api.create(
        &s.network,
        "/v2.0/subnets",
        json!({"subnet": {"network_id": nid, "cidr": "10.80.0.0/24", "ip_version": 4, "dns_nameservers": ["10.80.0.2"]}}),
    );
    (iid, fid, nid)
}

fn deploy_and_delete(s: &TestServer) {
    let admin = Cloud::new(s, s.admin_token());
    let nodes = enrol(&admin, 2);
    let data: Vec<u8> = (0..300_000u32).flat_map(|i| (i ^ 0x5a5a).to_le_bytes()).collect();
    let (iid, fid, nid) = catalog(&admin, &data);
    let (_, t1) = s.project_user("tenant-a", "alice", "member");
    let (_, t2) = s.project_user("tenant-b", "bob", "member");
    let a = Cloud::new(s, t1);
    let b = Cloud::new(s, t2);
    let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHc1Wb3ZvcM2hnl1oN4N4g0aXmGx2CqL0KJ0f5Yl8d1H alice@example";
    a.nova_ok(Method::POST, "/os-keypairs", Some(json!({"keypair": {"name": "k1", "public_key": key}})));
    let user_data = "#cloud-config\nhostname: web1\n";
    use base64::Engine as _;
    let created = a.nova(
        Method::POST,
        "/servers",
        Some(json!({"server": {"name": "web1", "flavorRef": fid, "imageRef": iid, "key_name": "k1",
            "networks": [{"uuid": nid}], "config_drive": true, "metadata": {"role": "web"},
            "user_data": base64::engine::general_purpose::STANDARD.encode(user_data)}})),
    );
    assert_eq!(created.status(), 202);
    assert!(created.headers().get("location").is_some());
    let body: Value = created.json().unwrap();
    let sid = body["server"]["id"].as_str().unwrap().to_string();
    assert!(body["server"]["adminPass"].is_string());
    let srv = wait_server(&a, &sid, "ACTIVE");
    let addr = srv["addresses"]["tenants"][0]["addr"].as_str().expect("an address on the tenant network");
    assert!(addr.starts_with("10.80.0."), "{addr}");
    assert_eq!(srv["OS-EXT-STS:vm_state"], "active");
    assert_eq!(srv["OS-EXT-STS:power_state"], 1);
    assert_eq!(srv["metadata"]["role"], "web");
    assert_eq!(srv["config_drive"], "True");
    assert!(srv.get("OS-EXT-SRV-ATTR:hypervisor_hostname").is_none(), "admin-only");
    let seen = admin.nova_ok(Method::GET, &format!("/servers/{sid}"), None)["server"].clone();
    let node = seen["OS-EXT-SRV-ATTR:hypervisor_hostname"].as_str().unwrap().to_string();
    assert!(nodes.contains(&node));
    let n = admin.get(&s.baremetal, &format!("/v1/nodes/{node}"));
    assert_eq!((n["provision_state"].as_str(), n["instance_uuid"].as_str()), (Some("active"), Some(sid.as_str())));
    assert_eq!(n["instance_info"]["image_source"], iid.as_str());
    let shown = admin.get(&s.image, &format!("/v2/images/{iid}"));
    assert_eq!(n["instance_info"]["image_os_hash_algo"], "sha512");
    assert_eq!(n["instance_info"]["image_os_hash_value"], shown["os_hash_value"]);
    assert_eq!(n["instance_info"]["image_checksum"], shown["checksum"]);
    assert_eq!(n["instance_info"]["root_gb"], "10");
    // The port: bound to the node as a bare-metal VIF.
    let ports = admin.get(&s.network, &format!("/v2.0/ports?device_id={sid}"))["ports"].clone();
    assert_eq!(ports.as_array().unwrap().len(), 1);
    assert_eq!(ports[0]["binding:host_id"], node.as_str());
    assert_eq!(ports[0]["binding:vnic_type"], "baremetal");
    assert_eq!(ports[0]["status"], "ACTIVE");
    assert_eq!(ports[0]["binding:profile"]["local_link_information"][0]["switch_info"], "leaf1");
    // The disk holds the image; the config drive the key, user data and network.
    let disk = s.data_dir.join("fake-disks").join(format!("{node}.img"));
    assert_eq!(std::fs::read(&disk).unwrap(), data);
    let drive = std::fs::read(s.data_dir.join("fake-disks").join(format!("{node}.configdrive.img"))).unwrap();
    use ironbark::drivers::configdrive::{label, read_file};
    assert_eq!(label(&drive).unwrap().trim(), "config-2");
    let meta: Value = serde_json::from_slice(&read_file(&drive, "openstack/latest/meta_data.json").unwrap()).unwrap();
    assert_eq!(meta["uuid"], sid.as_str());
    assert_eq!(meta["public_keys"]["k1"], key);
    assert_eq!(read_file(&drive, "openstack/latest/user_data").unwrap(), user_data.as_bytes());
    let nd: Value = serde_json::from_slice(&read_file(&drive, "openstack/latest/network_data.json").unwrap()).unwrap();
    assert_eq!(nd["networks"][0]["ip_address"], addr);
    assert_eq!(nd["services"][0]["address"], "10.80.0.2");
    // Another tenant neither sees nor deletes it.
    assert_eq!(b.nova(Method::GET, &format!("/servers/{sid}"), None).status(), 404);
    assert_eq!(b.nova(Method::DELETE, &format!("/servers/{sid}"), None).status(), 404);
    assert_eq!(b.nova_ok(Method::GET, "/servers/detail", None)["servers"], json!([]));
    let listed = a.nova_ok(Method::GET, "/servers/detail?name=^web", None)["servers"].clone();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    // Usage counts against the quota.
    let lim = a.nova_ok(Method::GET, "/limits", None)["limits"]["absolute"].clone();
    assert_eq!((lim["totalInstancesUsed"].as_i64(), lim["totalCoresUsed"].as_i64()), (Some(1), Some(2)));
    // Stop, start, reboot.
    assert_eq!(a.nova(Method::POST, &format!("/servers/{sid}/action"), Some(json!({"os-stop": null}))).status(), 202);
    wait_server(&a, &sid, "SHUTOFF");
    let r = a.nova(Method::POST, &format!("/servers/{sid}/action"), Some(json!({"os-stop": null})));
    assert_eq!(r.status(), 409);
    assert_eq!(a.nova(Method::POST, &format!("/servers/{sid}/action"), Some(json!({"os-start": null}))).status(), 202);
    wait_server(&a, &sid, "ACTIVE");
    let r = a.nova(Method::POST, &format!("/servers/{sid}/action"), Some(json!({"reboot": {"type": "HARD"}})));
    assert_eq!(r.status(), 202);
    wait_server(&a, &sid, "ACTIVE");
    // Rebuild redeploys the node with the image.
    let r = a.nova(Method::POST, &format!("/servers/{sid}/action"), Some(json!({"rebuild": {"imageRef": iid}})));
    assert_eq!(r.status(), 202);
    let rebuilt: Value = r.json().unwrap();
    assert!(rebuilt["server"]["adminPass"].is_string());
    wait_server(&a, &sid, "ACTIVE");
    let n = wait(&admin, &node, "active");
    assert_eq!(n["instance_info"]["image_os_hash_value"], shown["os_hash_value"]);
    assert_eq!(std::fs::read(&disk).unwrap(), data);
    // Interfaces: a second one needs a second physical port on the node.
    let path = format!("/servers/{sid}/os-interface");
    let r = a.nova(Method::POST, &path, Some(json!({"interfaceAttachment": {"net_id": nid}})));
    assert_eq!(r.status(), 409, "no free physical port");
    admin.api.create(
        &s.baremetal,
        "/v1/ports",
        json!({"node_uuid": node, "address": "52:54:00:00:02:01",
            "local_link_connection": {"switch_id": "00:11:22:33:44:55", "port_id": "xe-0/0/40", "switch_info": "leaf1"}}),
    );
    let att =
        a.nova_ok(Method::POST, &path, Some(json!({"interfaceAttachment": {"net_id": nid}})))["interfaceAttachment"]
            .clone();
    let second = att["port_id"].as_str().unwrap().to_string();
    assert_eq!(att["net_id"], nid.as_str());
    assert_eq!(att["mac_addr"], "52:54:00:00:02:01");
    assert_eq!(a.nova_ok(Method::GET, &path, None)["interfaceAttachments"].as_array().unwrap().len(), 2);
    let vifs = admin.get(&s.baremetal, &format!("/v1/nodes/{node}/vifs"))["vifs"].clone();
    assert_eq!(vifs.as_array().unwrap().len(), 2);
    assert_eq!(a.nova(Method::DELETE, &format!("{path}/{second}"), None).status(), 202);
    assert_eq!(a.nova_ok(Method::GET, &path, None)["interfaceAttachments"].as_array().unwrap().len(), 1);
    assert_eq!(admin.api.call(Method::GET, format!("{}/v2.0/ports/{second}", s.network), None).status(), 404);
    assert_eq!(a.nova(Method::DELETE, &format!("{path}/{second}"), None).status(), 404);
    // Delete: gone, node cleaned back to available, disk erased, port and address released.
    assert_eq!(a.nova(Method::DELETE, &format!("/servers/{sid}"), None).status(), 204);
    wait_gone(&a, &sid);
    let n = wait(&admin, &node, "available");
    assert!(n["instance_uuid"].is_null());
    assert_eq!(n["driver_internal_info"]["disk_erase"]["mode"], "full");
    let erased = std::fs::read(&disk).unwrap();
    assert_eq!(erased.len(), data.len());
    assert!(erased.iter().all(|b| *b == 0), "the next tenant never sees these bytes");
    assert!(!s.data_dir.join("fake-disks").join(format!("{node}.configdrive.img")).exists());
    assert_eq!(admin.get(&s.network, &format!("/v2.0/ports?device_id={sid}"))["ports"], json!([]));
    assert_eq!(a.nova_ok(Method::GET, "/limits", None)["limits"]["absolute"]["totalInstancesUsed"], 0);
}

fn create_errors(s: &TestServer) {
    let admin = Cloud::new(s, s.admin_token());
    let (iid, fid, nid) = catalog(&admin, b"tiny image");
    let (pid, t) = s.project_user("tenant-c", "carol", "member");
    let c = Cloud::new(s, t);
    let boot = |extra: Value| {
        let mut body = json!({"name": "x", "flavorRef": fid, "imageRef": iid, "networks": [{"uuid": nid}]});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = c.nova(Method::POST, "/servers", Some(json!({"server": body})));
        let st = r.status().as_u16();
        (st, r.json::<Value>().unwrap_or(Value::Null))
    };
    let (st, v) = boot(json!({"flavorRef": "nope"}));
    assert_eq!((st, v["badRequest"]["message"].as_str()), (400, Some("Flavor nope could not be found.")));
    let (st, v) = boot(json!({"key_name": "missing"}));
    assert_eq!((st, v["badRequest"]["message"].as_str()), (400, Some("Invalid key_name provided.")));
    let (st, _) = boot(json!({"networks": [{"uuid": "6f0e6bb4-0000-4000-8000-000000000001"}]}));
    assert_eq!(st, 400);
    let (st, _) = boot(json!({"user_data": "%%%"}));
    assert_eq!(st, 400);
    // No node of the class: the server goes ERROR with Nova's fault.
    let (st, v) = boot(json!({}));
    assert_eq!(st, 202);
    let sid = v["server"]["id"].as_str().unwrap().to_string();
    let start = Instant::now();
    let srv = loop {
        let srv = c.nova_ok(Method::GET, &format!("/servers/{sid}"), None)["server"].clone();
        if srv["status"] == "ERROR" || start.elapsed() > Duration::from_secs(20) {
            break srv;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(srv["status"], "ERROR");
    assert!(srv["fault"]["message"].as_str().unwrap().starts_with("No valid host was found"), "{srv}");
    assert_eq!(c.nova(Method::DELETE, &format!("/servers/{sid}"), None).status(), 204);
    wait_gone(&c, &sid);
    // Quotas: an admin sets instances to 0; the member is refused with 403.
    admin.nova_ok(Method::PUT, &format!("/os-quota-sets/{pid}"), Some(json!({"quota_set": {"instances": 0}})));
    let (st, v) = boot(json!({}));
    assert_eq!(st, 403, "{v}");
    assert!(v["forbidden"]["message"].as_str().unwrap().starts_with("Quota exceeded for instances"));
    assert_eq!(
        c.nova(Method::PUT, &format!("/os-quota-sets/{pid}"), Some(json!({"quota_set": {"instances": 5}}))).status(),
        403
    );
}

/// An image whose stored bytes no longer match its SHA-512: the deploy
/// refuses to write it, the server goes ERROR with the reason, and its
/// delete still returns the node to `available`.
fn tampered_image(s: &TestServer) {
    let admin = Cloud::new(s, s.admin_token());
    let nodes = enrol(&admin, 1);
    let (iid, fid, nid) = catalog(&admin, &[7u8; 4096]);
    let stored = s.data_dir.join("images").join(&iid);
    let mut bytes = std::fs::read(&stored).unwrap();
    bytes[100] ^= 0xff;
    std::fs::write(&stored, bytes).unwrap();
    let (_, t) = s.project_user("tenant-e", "erin", "member");
    let e = Cloud::new(s, t);
    let v = e.nova_ok(
        Method::POST,
        "/servers",
        Some(json!({"server": {"name": "bad", "flavorRef": fid, "imageRef": iid, "networks": [{"uuid": nid}]}})),
    );
    let sid = v["server"]["id"].as_str().unwrap().to_string();
    let start = Instant::now();
    let srv = loop {
        let srv = e.nova_ok(Method::GET, &format!("/servers/{sid}"), None)["server"].clone();
        if srv["status"] != "BUILD" || start.elapsed() > Duration::from_secs(20) {
            break srv;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(srv["status"], "ERROR", "{srv}");
    let msg = srv["fault"]["message"].as_str().unwrap();
    assert!(msg.contains("writing image") && msg.contains("does not match its os_hash_value"), "{msg}");
    let n = admin.get(&s.baremetal, &format!("/v1/nodes/{}", nodes[0]));
    assert_eq!(n["provision_state"], "deploy failed");
    let disk = s.data_dir.join("fake-disks").join(format!("{}.img", nodes[0]));
    assert!(!disk.exists(), "nothing of a tampered image is written");
    assert_eq!(e.nova(Method::DELETE, &format!("/servers/{sid}"), None).status(), 204);
    wait_gone(&e, &sid);
    wait(&admin, &nodes[0], "available");
}

/// 10 parallel creates over 5 nodes: 5 ACTIVE on 5 different nodes, 5 ERROR
/// "No valid host".
fn concurrent_creates(s: &TestServer) {
    let admin = Cloud::new(s, s.admin_token());
    enrol(&admin, 5);
    let (iid, fid, nid) = catalog(&admin, b"small image");
    let (_, t) = s.project_user("tenant-d", "dave", "member");
    let d = Cloud::new(s, t.clone());
    let ids: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..10)
            .map(|i| {
                let (t, iid, fid, nid) = (t.clone(), iid.clone(), fid.clone(), nid.clone());
                scope.spawn(move || {
                    let c = Cloud::new(s, t);
                    let v = c.nova_ok(
                        Method::POST,
                        "/servers",
                        Some(json!({"server": {"name": format!("p{i}"), "flavorRef": fid, "imageRef": iid, "networks": [{"uuid": nid}]}})),
                    );
                    v["server"]["id"].as_str().unwrap().to_string()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let start = Instant::now();
    let settled = loop {
        let all = d.nova_ok(Method::GET, "/servers/detail", None)["servers"].as_array().unwrap().clone();
        if all.len() == 10 && all.iter().all(|v| v["status"] == "ACTIVE" || v["status"] == "ERROR") {
            break all;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "servers not settled");
        std::thread::sleep(Duration::from_millis(50));
    };
    let active: Vec<&Value> = settled.iter().filter(|v| v["status"] == "ACTIVE").collect();
    let failed: Vec<&Value> = settled.iter().filter(|v| v["status"] == "ERROR").collect();
    assert_eq!((active.len(), failed.len()), (5, 5));
    assert!(failed.iter().all(|v| v["fault"]["message"].as_str().unwrap_or_default().starts_with("No valid host")));
    let hosts: HashSet<String> = active
        .iter()
        .map(|v| {
            let id = v["id"].as_str().unwrap();
            admin.nova_ok(Method::GET, &format!("/servers/{id}"), None)["server"]["OS-EXT-SRV-ATTR:hypervisor_hostname"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(hosts.len(), 5, "no node double-booked");
    for id in &ids {
        assert_eq!(d.nova(Method::DELETE, &format!("/servers/{id}"), None).status(), 204);
    }
    for id in &ids {
        wait_gone(&d, id);
    }
}

/// Server groups (hard anti-affinity admits one placed member: every node is
/// behind the one compute host), the availability zone, and the usage
/// report, which keeps a deleted server's hours.
fn groups_zones_and_usage(s: &TestServer) {
    let admin = Cloud::new(s, s.admin_token());
    enrol(&admin, 2);
    let (iid, fid, nid) = catalog(&admin, &[7u8; 4096]);
    let (pid, t) = s.project_user("tenant-g", "gina", "member");
    let g = Cloud::new(s, t);
    let zones = g.nova_ok(Method::GET, "/os-availability-zone", None);
    assert_eq!(
        zones["availabilityZoneInfo"],
        json!([{"zoneName": "nova", "zoneState": {"available": true}, "hosts": null}])
    );
    assert_eq!(g.nova(Method::GET, "/os-availability-zone/detail", None).status(), 403);
    let detail = admin.nova_ok(Method::GET, "/os-availability-zone/detail", None);
    assert!(detail["availabilityZoneInfo"][0]["hosts"].as_object().is_some_and(|h| !h.is_empty()), "{detail}");

    let bad =
        g.nova(Method::POST, "/os-server-groups", Some(json!({"server_group": {"name": "x", "policy": "nearby"}})));
    assert_eq!(bad.status(), 400);
    let group = g.nova_ok(
        Method::POST,
        "/os-server-groups",
        Some(json!({"server_group": {"name": "spread", "policy": "anti-affinity"}})),
    )["server_group"]
        .clone();
    let gid = group["id"].as_str().unwrap().to_string();
    assert_eq!((group["policy"].as_str(), group["members"].clone()), (Some("anti-affinity"), json!([])));
    let start = chrono::Utc::now().naive_utc() - chrono::Duration::minutes(1);
    let boot = |name: &str| -> String {
        let r = g.nova(
            Method::POST,
            "/servers",
            Some(json!({"server": {"name": name, "flavorRef": fid, "imageRef": iid, "networks": [{"uuid": nid}]},
                "os:scheduler_hints": {"group": gid}})),
        );
        assert_eq!(r.status(), 202);
        r.json::<Value>().unwrap()["server"]["id"].as_str().unwrap().to_string()
    };
    let first = boot("spread-1");
    wait_server(&g, &first, "ACTIVE");
    let second = boot("spread-2");
    let refused = wait_server(&g, &second, "ERROR");
    assert!(refused["fault"]["message"].as_str().unwrap().starts_with("No valid host was found"), "{refused}");
    let shown = g.nova_ok(Method::GET, &format!("/os-server-groups/{gid}"), None);
    let mut members: Vec<String> =
        shown["server_group"]["members"].as_array().unwrap().iter().map(|m| m.as_str().unwrap().to_string()).collect();
    members.sort();
    let mut both = vec![first.clone(), second.clone()];
    both.sort();
    assert_eq!(members, both);
    let missing = g.nova(
        Method::POST,
        "/servers",
        Some(json!({"server": {"name": "n", "flavorRef": fid, "imageRef": iid, "networks": [{"uuid": nid}]},
            "os:scheduler_hints": {"group": "6a8d0e0c-0000-4000-8000-000000000000"}})),
    );
    assert_eq!(missing.status(), 404);

    for id in [&first, &second] {
        assert_eq!(g.nova(Method::DELETE, &format!("/servers/{id}"), None).status(), 204);
    }
    for id in [&first, &second] {
        wait_gone(&g, id);
    }
    let end = chrono::Utc::now().naive_utc() + chrono::Duration::minutes(1);
    let period = format!("start={}&end={}", start.format("%Y-%m-%dT%H:%M:%S"), end.format("%Y-%m-%dT%H:%M:%S"));
    let usage =
        g.nova_ok(Method::GET, &format!("/os-simple-tenant-usage/{pid}?{period}"), None)["tenant_usage"].clone();
    let servers = usage["server_usages"].as_array().unwrap();
    assert_eq!(servers.len(), 2, "deleted servers stay in the report: {usage}");
    let ran = servers.iter().find(|u| u["instance_id"] == first.as_str()).unwrap();
    assert_eq!((ran["state"].as_str(), ran["vcpus"].as_i64()), (Some("terminated"), Some(2)));
    assert!(ran["ended_at"].is_string() && ran["hours"].as_f64().unwrap() > 0.0, "{ran}");
    let never = servers.iter().find(|u| u["instance_id"] == second.as_str()).unwrap();
    assert_eq!(never["hours"], 0.0, "a server that never launched used nothing");
    assert!(usage["total_vcpus_usage"].as_f64().unwrap() > 0.0);
    assert_eq!(g.nova(Method::GET, &format!("/os-simple-tenant-usage?{period}"), None).status(), 403);
    let all = admin.nova_ok(Method::GET, &format!("/os-simple-tenant-usage?{period}&detailed=1"), None);
    assert!(all["tenant_usages"].as_array().unwrap().iter().any(|t| t["tenant_id"] == pid.as_str()), "{all}");
    let empty = g.nova_ok(
        Method::GET,
        &format!("/os-simple-tenant-usage/{pid}?start=2020-01-01T00:00:00&end=2020-01-02T00:00:00"),
        None,
    );
    assert_eq!(empty, json!({"tenant_usage": {}}));
    assert_eq!(
        g.nova(
            Method::GET,
            &format!("/os-simple-tenant-usage/{pid}?start=2020-01-02T00:00:00&end=2020-01-01T00:00:00"),
            None
        )
        .status(),
        400
    );

    assert_eq!(g.nova(Method::DELETE, &format!("/os-server-groups/{gid}"), None).status(), 204);
    assert_eq!(g.nova(Method::GET, &format!("/os-server-groups/{gid}"), None).status(), 404);
}

on_both_backends!(deploy_and_delete, create_errors, concurrent_creates, tampered_image, groups_zones_and_usage);

/// A tenant's server's life reaches Contrail analytics as Sandesh object
/// logs: create start/end/error and delete start/end, keyed by the server
/// (and its node), at error level when the build fails.
#[test]
fn server_events_reach_sandesh() {
    let c = sandesh_collector::Collector::start();
    let addr = c.addr().to_string();
    let s = TestServer::start_with(common::Db::Sqlite, move |cfg| {
        cfg.sandesh.collectors = ironbark::config::List(vec![addr]);
        cfg.sandesh.backoff_min_ms = 50;
    })
    .unwrap();
    let admin = Cloud::new(&s, s.admin_token());
    let (iid, fid, nid) = catalog(&admin, b"a small image");
    let (pid, t) = s.project_user("tenant-s", "sam", "member");
    let tenant = Cloud::new(&s, t);
    let boot = || {
        let body = json!({"server": {"name": "s", "flavorRef": fid, "imageRef": iid, "networks": [{"uuid": nid}]}});
        tenant.nova_ok(Method::POST, "/servers", Some(body))["server"]["id"].as_str().unwrap().to_string()
    };
    // No node yet: the build fails.
    let failed = boot();
    wait_server(&tenant, &failed, "ERROR");
    tenant.nova(Method::DELETE, &format!("/servers/{failed}"), None);
    wait_gone(&tenant, &failed);
    let nodes = enrol(&admin, 1);
    let ok = boot();
    wait_server(&tenant, &ok, "ACTIVE");
    tenant.nova(Method::DELETE, &format!("/servers/{ok}"), None);
    wait_gone(&tenant, &ok);
    let events = |c: &sandesh_collector::Collector, sid: &str| -> Vec<(String, i32)> {
        c.frames_of("BmsServerEventLog")
            .iter()
            .filter_map(|f| {
                let e = f.body.sub("event")?;
                (e.str("name") == Some(sid)).then(|| (e.str("action").unwrap_or_default().to_string(), f.header.level))
            })
            .collect()
    };
    assert!(c.wait_until(Duration::from_secs(20), |c| events(c, &ok).len() == 4));
    assert_eq!(
        events(&c, &failed),
        vec![
            ("instance.create.start".into(), 5),
            ("instance.create.error".into(), 3),
            ("instance.delete.start".into(), 5),
            ("instance.delete.end".into(), 5)
        ]
    );
    assert_eq!(
        events(&c, &ok),
        vec![
            ("instance.create.start".into(), 5),
            ("instance.create.end".into(), 5),
            ("instance.delete.start".into(), 5),
            ("instance.delete.end".into(), 5)
        ]
    );
    let frames = c.frames_of("BmsServerEventLog");
    let end = frames
        .iter()
        .map(|f| f.body.sub("event").unwrap().clone())
        .find(|e| e.str("name") == Some(ok.as_str()) && e.str("action") == Some("instance.create.end"))
        .unwrap();
    assert_eq!(end.str("node_uuid"), Some(nodes[0].as_str()));
    assert_eq!(end.str("project_id"), Some(pid.as_str()));
    assert_eq!(end.str("status"), Some("ACTIVE"));
    assert_eq!(end.field("name").unwrap().annotation("key"), Some("ObjectVMTable"));
    let error = frames
        .iter()
        .map(|f| f.body.sub("event").unwrap().clone())
        .find(|e| e.str("action") == Some("instance.create.error"))
        .unwrap();
    assert!(error.str("error").unwrap().starts_with("No valid host was found"), "{error:?}");
    assert!(c.violations().is_empty(), "{:#?}", c.violations());
}
