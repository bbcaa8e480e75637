//! Discovery and the agent's API: an inventory posted to
//! `/v1/continue_inspection` as ironic-python-agent posts it (no token, no
//! version header) enrols an unknown server with the right properties and
//! ports; posting again matches the same node (by MAC, or by BMC address
//! when the NICs changed); `GET /v1/lookup` finds a node at work and hands
//! out its agent token once.

mod common;

use common::{Baremetal, Db, TestServer};
use reqwest::Method;
use serde_json::{Value, json};

fn server(db: Db, discovery: bool) -> Option<TestServer> {
    TestServer::start_with(db, move |c| {
        c.discovery.enabled = discovery;
        c.discovery.driver = "ipmi".into();
        c.discovery.driver_info =
            json!({"ipmi_username": "admin", "ipmi_password": "s3cret"}).as_object().cloned().unwrap();
        c.discovery.resource_class = Some("baremetal.gold".into());
        c.fake.delay_ms = 1500;
    })
}

/// What ironic-python-agent posts after booting on a server.
fn agent_report(macs: &[&str], bmc: &str) -> Value {
    let interfaces: Vec<Value> = macs
        .iter()
        .enumerate()
        .map(|(i, m)| {
            json!({"name": format!("eno{}", i + 1), "mac_address": m, "ipv4_address": format!("192.0.2.{}", 10 + i),
                   "ipv6_address": null, "has_carrier": true, "lldp": null, "vendor": "0x8086", "product": "0x1572",
                   "client_id": null, "biosdevname": null, "speed_mbps": 10000, "pci_address": "0000:3b:00.0",
                   "driver": "i40e"})
        })
        .chain(std::iter::once(json!({"name": "lo", "mac_address": "00:00:00:00:00:00", "ipv4_address": "127.0.0.1",
                                      "has_carrier": true})))
        .collect();
    json!({
        "inventory": {
            "interfaces": interfaces,
            "cpu": {"model_name": "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz", "frequency": "2000.0000",
                    "count": 64, "architecture": "x86_64", "flags": ["fpu", "vmx", "aes"], "socket_count": 2},
            "memory": {"total": 270_000_000_000u64, "physical_mb": 262_144},
            "disks": [
                {"name": "/dev/sda", "model": "PERC H755", "size": 1_919_850_381_312u64, "rotational": false,
                 "wwn": "0x6d0946606d6b2e00", "serial": "SN1", "vendor": "DELL", "hctl": "0:2:0:0",
                 "by_path": "/dev/disk/by-path/pci-0000:18:00.0-scsi-0:2:0:0"},
                {"name": "/dev/nvme0n1", "model": "Dell Ent NVMe", "size": 480_103_981_056u64, "rotational": false},
                {"name": "/dev/sdb", "model": "IDSDM", "size": 2_000_000_000u64, "rotational": false}
            ],
            "bmc_address": bmc,
            "bmc_v6address": "::/0",
            "system_vendor": {"product_name": "PowerEdge R650", "serial_number": "7XQ1234", "manufacturer": "Dell Inc.",
                              "firmware": {"vendor": "Dell Inc.", "version": "1.9.2", "build_date": "2023-01-05"}},
            "boot": {"current_boot_mode": "uefi", "pxe_interface": format!("01-{}", macs[0].replace(':', "-"))},
            "hostname": "localhost.localdomain"
        },
        "root_disk": {"name": "/dev/nvme0n1", "size": 480_103_981_056u64},
        "boot_interface": format!("01-{}", macs[0].replace(':', "-")),
        "configuration": {"collectors": ["default", "logs"], "managers": [{"name": "generic_hardware_manager", "version": "1.2"}]},
        "error": null,
        "logs": "H4sIAAAAAAAAA+3OMQ6AIBAF0T2KHgEW5TomFFYWXj9KQmehjYl5r9ldfp"
    })
}

/// A call with no token, as an agent makes it.
fn agent(s: &TestServer, method: Method, path: &str, version: Option<&str>, body: Option<Value>) -> (u16, Value) {
    let mut b = s.client.request(method, format!("{}{path}", s.baremetal));
    if let Some(v) = version {
        b = b.header("X-OpenStack-Ironic-API-Version", v);
    }
    if let Some(body) = body {
        b = b.json(&body);
    }
    let r = b.send().unwrap();
    let status = r.status().as_u16();
    (status, serde_json::from_str(&r.text().unwrap()).unwrap_or(Value::Null))
}

struct Admin<'a> {
    api: Baremetal<'a>,
}

impl Admin<'_> {
    fn new(s: &TestServer) -> Admin<'_> {
        Admin { api: Baremetal::admin(s, "1.96") }
    }

    fn ok(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        self.api.ok(method, path, body)
    }

    fn nodes(&self) -> Vec<Value> {
        self.ok(Method::GET, "/v1/nodes", None)["nodes"].as_array().unwrap().clone()
    }

    fn port_macs(&self, node: &str) -> Vec<String> {
        let mut m: Vec<String> = self.ok(Method::GET, &format!("/v1/ports?node={node}"), None)["ports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["address"].as_str().unwrap().to_string())
            .collect();
        m.sort();
        m
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
    }
    out
}

fn error_text(v: &Value) -> String {
    let inner: Value = serde_json::from_str(v["error_message"].as_str().unwrap_or("{}")).unwrap_or(Value::Null);
    inner["faultstring"].as_str().unwrap_or_default().to_string()
}

fn discovery_enrols_then_matches(db: Db) {
    let Some(s) = server(db, true) else { return };
    let admin = Admin::new(&s);
    let report = agent_report(&["B4:96:91:AA:00:01", "b4:96:91:aa:00:02"], "10.20.30.40");
    // Rules run on every inspection: big x86 servers get their class and a trait.
    admin.ok(
        Method::POST,
        "/v1/inspection_rules",
        Some(json!({"description": "big servers", "priority": 10,
            "conditions": [{"op": "gt", "args": {"values": ["{inventory[cpu][count]}", 32]}},
                           {"op": "matches", "args": {"value": "{inventory[system_vendor][manufacturer]}", "regex": "Dell"}}],
            "actions": [{"op": "set-attribute", "args": {"path": "/resource_class", "value": "big.{inventory[cpu][architecture]}"}},
                        {"op": "add-trait", "args": {"name": "CUSTOM_BIG"}},
                        {"op": "set-port-attribute", "args": {"port_id": "{inventory[interfaces][0][mac_address]}",
                                                               "path": "physical_network", "value": "physnet1"}}]})),
    );
    admin.ok(
        Method::POST,
        "/v1/inspection_rules",
        Some(json!({"priority": 5, "conditions": [{"op": "lt", "args": {"values": ["{inventory[cpu][count]}", 8]}}],
            "actions": [{"op": "fail", "args": {"msg": "too small"}}]})),
    );

    let (status, v) = agent(&s, Method::POST, "/v1/continue_inspection", None, Some(report.clone()));
    assert_eq!(status, 202, "{v}");
    let uuid = v["uuid"].as_str().expect("the agent learns its node").to_string();
    assert_eq!(v, json!({"uuid": uuid}));

    let n = admin.ok(Method::GET, &format!("/v1/nodes/{uuid}"), None);
    assert_eq!((n["driver"].as_str(), n["provision_state"].as_str()), (Some("ipmi"), Some("enroll")));
    assert_eq!(n["resource_class"], "big.x86_64", "set by the rule over the configured class");
    assert_eq!(n["traits"], json!(["CUSTOM_BIG"]));
    let port = &admin.ok(Method::GET, &format!("/v1/ports/detail?node={uuid}"), None)["ports"][0];
    assert_eq!(port["physical_network"], "physnet1");
    assert_eq!(n["driver_info"]["ipmi_address"], "10.20.30.40", "the reported BMC address");
    assert_eq!(n["driver_info"]["ipmi_username"], "admin");
    assert_eq!(n["driver_info"]["ipmi_password"], "******");
    let leaked: Vec<_> = walk(&s.data_dir)
        .into_iter()
        .filter(|p| std::fs::read(p).unwrap().windows(6).any(|w| w == b"s3cret"))
        .collect();
    assert!(leaked.is_empty(), "the BMC password is sealed at rest: {leaked:?}");
    assert_eq!(n["power_interface"], "ipmitool");
    assert_eq!(
        n["properties"],
        json!({"cpus": 64, "memory_mb": 262144, "cpu_arch": "x86_64", "local_gb": 446, "capabilities": "boot_mode:uefi"})
    );
    assert_eq!(admin.port_macs(&uuid), vec!["b4:96:91:aa:00:01"], "the NIC it booted from");
    let inv = admin.ok(Method::GET, &format!("/v1/nodes/{uuid}/inventory"), None);
    assert_eq!(inv["inventory"], report["inventory"], "stored as the agent sent it");
    assert_eq!(inv["plugin_data"]["auto_discovered"], true);
    assert_eq!(inv["plugin_data"]["root_disk"]["name"], "/dev/nvme0n1");
    assert!(inv["plugin_data"].get("inventory").is_none());

    // The same server again: the same node, nothing enrolled twice.
    let (status, v) = agent(&s, Method::POST, "/v1/continue_inspection", None, Some(report.clone()));
    assert_eq!((status, v["uuid"].as_str()), (202, Some(uuid.as_str())));
    assert_eq!(admin.nodes().len(), 1);
    assert_eq!(admin.port_macs(&uuid), vec!["b4:96:91:aa:00:01"]);

    // New NICs, same BMC: still the same node, with the new boot NIC.
    let swapped = agent_report(&["b4:96:91:bb:00:01"], "10.20.30.40");
    let (status, v) = agent(&s, Method::POST, "/v1/continue_inspection", Some("1.84"), Some(swapped));
    assert_eq!(status, 202, "{v}");
    assert_eq!(v["node"]["uuid"], uuid.as_str());
    let token = v["config"]["agent_token"].as_str().unwrap().to_string();
    assert!(token.len() >= 32 && token != "******", "a fresh agent token: {token}");
    assert_eq!(v["config"]["agent_token_required"], true);
    assert_eq!(v["node"]["driver_internal_info"]["agent_secret_token"], "******");
    assert_eq!(admin.nodes().len(), 1);
    assert_eq!(admin.port_macs(&uuid), vec!["b4:96:91:aa:00:01", "b4:96:91:bb:00:01"]);
    let inv = admin.ok(Method::GET, &format!("/v1/nodes/{uuid}/inventory"), None);
    assert_eq!(inv["plugin_data"]["auto_discovered"], true, "still a discovered node");

    // A second server is a second node.
    let (status, v) = agent(
        &s,
        Method::POST,
        "/v1/continue_inspection",
        None,
        Some(agent_report(&["b4:96:91:cc:00:01"], "10.20.30.41")),
    );
    assert_eq!(status, 202);
    assert_ne!(v["uuid"].as_str(), Some(uuid.as_str()));
    assert_eq!(admin.nodes().len(), 2);

    // A node the operator manages is not the agent's to change.
    let managed = admin.ok(Method::POST, "/v1/nodes", Some(json!({"driver": "fake-hardware"})));
    let managed = managed["uuid"].as_str().unwrap().to_string();
    admin.ok(Method::POST, "/v1/ports", Some(json!({"node_uuid": managed, "address": "b4:96:91:dd:00:01"})));
    manage(&admin, &managed);
    let (status, _) =
        agent(&s, Method::POST, "/v1/continue_inspection", None, Some(agent_report(&["b4:96:91:dd:00:01"], "")));
    assert_eq!(status, 404);
    assert_eq!(admin.nodes().len(), 3);
}

fn manage(admin: &Admin, uuid: &str) {
    admin.ok(Method::PUT, &format!("/v1/nodes/{uuid}/states/provision"), Some(json!({"target": "manage"})));
    for _ in 0..200 {
        if admin.ok(Method::GET, &format!("/v1/nodes/{uuid}"), None)["provision_state"] == "manageable" {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("{uuid} not manageable");
}

#[test]
fn discovery_enrols_then_matches_sqlite() {
    discovery_enrols_then_matches(Db::Sqlite);
}

#[test]
fn discovery_enrols_then_matches_postgres() {
    discovery_enrols_then_matches(Db::Postgres);
}

#[test]
fn reports_are_checked_and_unknown_servers_refused_without_discovery() {
    let Some(s) = server(Db::Sqlite, false) else { return };
    let report = agent_report(&["b4:96:91:aa:00:01"], "10.20.30.40");
    let (status, v) = agent(&s, Method::POST, "/v1/continue_inspection", None, Some(report.clone()));
    assert_eq!(status, 404, "{v}");
    assert_eq!(error_text(&v), "Resource could not be found.");
    let (status, v) = agent(&s, Method::POST, "/v1/continue_inspection", Some("1.50"), Some(report));
    assert_eq!((status, error_text(&v).as_str()), (404, "API version 1.84 or newer is required"));
    for (body, want) in [
        (json!({"root_disk": {}}), "Schema error for data: 'inventory' is a required property"),
        (json!({"inventory": {"interfaces": []}}), "Schema error for data: [] should be non-empty"),
        (
            json!({"inventory": {"interfaces": [{"name": "eth0"}]}}),
            "Schema error for data: 'mac_address' is a required property",
        ),
        (json!({"inventory": {"interfaces": [{"mac_address": "not-a-mac"}]}}), "No lookup information provided"),
    ] {
        let (status, v) = agent(&s, Method::POST, "/v1/continue_inspection", None, Some(body));
        assert_eq!((status, error_text(&v).as_str()), (400, want));
    }
    let (status, _) = agent(&s, Method::POST, "/v1/continue_inspection", None, None);
    assert_eq!(status, 400);
}

#[test]
fn lookup_finds_a_node_at_work_and_hands_out_its_token_once() {
    let Some(s) = server(Db::Sqlite, false) else { return };
    let admin = Admin::new(&s);
    let (status, v) = agent(&s, Method::GET, "/v1/lookup", Some("1.62"), None);
    assert_eq!(status, 400);
    assert_eq!(error_text(&v), "At least one of 'addresses' and 'node_uuid' parameters is required");
    let n = admin.ok(Method::POST, "/v1/nodes", Some(json!({"driver": "fake-hardware"})));
    let uuid = n["uuid"].as_str().unwrap().to_string();
    admin.ok(Method::POST, "/v1/ports", Some(json!({"node_uuid": uuid, "address": "52:54:00:ab:cd:01"})));
    let path = "/v1/lookup?addresses=52:54:00:AB:CD:01,zz";
    let (status, _) = agent(&s, Method::GET, path, Some("1.62"), None);
    assert_eq!(status, 404, "a node in enroll is nobody's agent's");
    // Manage, then provide: cleaning takes 1.5 s of fake work.
    manage(&admin, &uuid);
    admin.ok(Method::PUT, &format!("/v1/nodes/{uuid}/states/provision"), Some(json!({"target": "provide"})));
    let (status, v) = agent(&s, Method::GET, path, Some("1.62"), None);
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["node"]["uuid"], uuid.as_str());
    assert_eq!(v["config"]["heartbeat_timeout"], 300);
    let token = v["config"]["agent_token"].as_str().unwrap().to_string();
    assert_ne!(token, "******");
    let (_, again) = agent(&s, Method::GET, &format!("/v1/lookup?node_uuid={uuid}"), Some("1.62"), None);
    assert_eq!(again["config"]["agent_token"], "******", "the token is given once");

    // Heartbeats prove themselves with that token and are recorded.
    let beat = |body: Value| agent(&s, Method::POST, &format!("/v1/heartbeat/{uuid}"), Some("1.62"), Some(body));
    let url = "http://192.0.2.10:9999";
    let (status, v) = beat(json!({"callback_url": url, "agent_version": "9.4.0"}));
    assert_eq!((status, error_text(&v).as_str()), (400, "Agent token is required for heartbeat processing."));
    let (status, v) = beat(json!({"callback_url": url, "agent_version": "9.4.0", "agent_token": "forged"}));
    assert_eq!((status, error_text(&v).as_str()), (400, "Invalid or missing agent token received."));
    let (status, v) = beat(json!({"callback_url": "ftp://x", "agent_token": token}));
    assert_eq!(status, 400, "{v}");
    let (status, _) = beat(json!({"callback_url": url, "agent_version": "9.4.0", "agent_token": token}));
    assert_eq!(status, 202);
    let n = admin.ok(Method::GET, &format!("/v1/nodes/{uuid}"), None);
    assert_eq!(n["driver_internal_info"]["agent_url"], url);
    assert_eq!(n["driver_internal_info"]["agent_version"], "9.4.0");
    assert!(n["driver_internal_info"]["agent_last_heartbeat"].is_string());
    assert_eq!(n["driver_internal_info"]["agent_secret_token"], "******", "never shown");
    let (status, _) = agent(&s, Method::GET, path, Some("1.21"), None);
    assert_eq!(status, 404, "lookup is 1.22+");
}
