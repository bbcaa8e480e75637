//! The `redfish` hardware type against a Redfish BMC written for the test
//! (tests/redfish_bmc): power with the state polled, boot device,
//! inspection (properties, ports, inventory), the lifecycle with PXE and
//! virtual-media boot, and a BMC that refuses connections, answers 500,
//! hangs, never reaches a power state or refuses the credentials — each
//! ends in a clear `last_error` with the node unlocked.

mod common;
mod mock_http;
mod redfish_bmc;

use std::time::Duration;

use common::{Baremetal, Db, TestServer};
use redfish_bmc::{Bmc, Mode, PASSWORD, SYSTEM, USER};
use reqwest::Method;
use serde_json::{Value, json};

fn server(db: Db) -> Option<TestServer> {
    TestServer::start_with(db, |c| {
        c.bmc.request_timeout_s = 1;
        c.bmc.connect_timeout_s = 1;
        c.bmc.power_state_change_timeout_s = 2;
        c.bmc.poll_interval_ms = 50;
    })
}

struct Bm<'a> {
    api: Baremetal<'a>,
}

impl Bm<'_> {
    fn new(s: &TestServer) -> Bm<'_> {
        Bm { api: Baremetal::admin(s, "1.95") }
    }

    fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        self.api.call(method, path, body)
    }

    fn ok(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        self.api.ok(method, path, body)
    }

    fn node(&self, address: &str, extra: Value) -> String {
        let mut body = json!({"driver": "redfish", "driver_info": {
            "redfish_address": address, "redfish_system_id": SYSTEM,
            "redfish_username": USER, "redfish_password": PASSWORD}});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        self.ok(Method::POST, "/v1/nodes", Some(body))["uuid"].as_str().unwrap().to_string()
    }

    fn show(&self, node: &str) -> Value {
        self.ok(Method::GET, &format!("/v1/nodes/{node}"), None)
    }

    /// Waits until the node is unlocked and `f` holds.
    fn wait(&self, node: &str, f: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..300 {
            let n = self.show(node);
            if n["reservation"].is_null() && n["target_power_state"].is_null() && f(&n) {
                return n;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("node {node} did not get there: {}", self.show(node));
    }

    fn provision(&self, node: &str, body: Value, want: &str) -> Value {
        self.ok(Method::PUT, &format!("/v1/nodes/{node}/states/provision"), Some(body));
        self.wait(node, |n| n["provision_state"] == want)
    }

    fn power(&self, node: &str, target: &str) -> Value {
        self.ok(Method::PUT, &format!("/v1/nodes/{node}/states/power"), Some(json!({"target": target})));
        self.wait(node, |_| true)
    }
}

/// Files under `dir` whose bytes contain `needle`.
fn files_containing(dir: &std::path::Path, needle: &[u8]) -> Vec<String> {
    let mut hits = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            hits.extend(files_containing(&path, needle));
        } else if let Ok(bytes) = std::fs::read(&path)
            && bytes.windows(needle.len()).any(|w| w == needle)
        {
            hits.push(path.display().to_string());
        }
    }
    hits
}

#[test]
fn power_boot_inspection_and_lifecycle() {
    let bmc = Bmc::start();
    let Some(s) = server(Db::Sqlite) else { return };
    let bm = Bm::new(&s);
    let node = bm.node(&bmc.url, json!({"boot_interface": "pxe"}));
    let n = bm.show(&node);
    assert_eq!(n["driver_info"]["redfish_password"], "******", "the password is never shown");
    let v = bm.ok(Method::GET, &format!("/v1/nodes/{node}/validate"), None);
    assert_eq!(v["power"]["result"], true, "{v}");
    assert_eq!(v["management"]["result"], true);

    // Verification reads the BMC's power state.
    bmc.state.lock().unwrap().power = "On".into();
    let n = bm.provision(&node, json!({"target": "manage"}), "manageable");
    assert_eq!(n["power_state"], "power on");
    assert!(n["last_error"].is_null());

    let n = bm.power(&node, "power off");
    assert_eq!((n["power_state"].as_str(), n["last_error"].as_str()), (Some("power off"), None));
    assert_eq!(bmc.power(), "Off");
    bm.power(&node, "power on");
    assert_eq!(bmc.power(), "On");
    let n = bm.power(&node, "rebooting");
    assert_eq!(n["power_state"], "power on");
    // A hard reboot: off, waited for, then on.
    assert_eq!(bmc.state.lock().unwrap().resets, vec!["ForceOff", "On", "ForceOff", "On"]);

    let path = format!("/v1/nodes/{node}/management/boot_device");
    bm.ok(Method::PUT, &path, Some(json!({"boot_device": "pxe", "persistent": true})));
    {
        let st = bmc.state.lock().unwrap();
        assert_eq!((st.boot_target.as_str(), st.boot_enabled.as_str()), ("Pxe", "Continuous"));
    }
    assert_eq!(bm.ok(Method::GET, &path, None), json!({"boot_device": "pxe", "persistent": true}));
    let sup = bm.ok(Method::GET, &format!("{path}/supported"), None);
    assert_eq!(sup["supported_boot_devices"], json!(["pxe", "disk", "cdrom", "bios", "uefihttp"]));
    let (status, e) = bm.call(Method::PUT, &path, Some(json!({"boot_device": "safe"})));
    assert_eq!(status, 400, "{e}");

    // Inspection: properties, capabilities, a port per linked NIC, the inventory.
    let n = bm.provision(&node, json!({"target": "inspect"}), "manageable");
    assert!(n["last_error"].is_null(), "{n}");
    let p = &n["properties"];
    assert_eq!((p["cpus"].as_u64(), p["memory_mb"].as_u64()), (Some(32), Some(65536)), "{p}");
    assert_eq!(p["cpu_arch"], "x86_64");
    assert_eq!(p["local_gb"], 446, "the smallest disk of 4 GiB or more, less 1 GiB");
    assert_eq!(p["capabilities"], "boot_mode:uefi");
    assert!(!n["inspection_finished_at"].is_null());
    let ports = bm.ok(Method::GET, &format!("/v1/ports?node={node}&fields=address"), None);
    let mut macs: Vec<&str> =
        ports["ports"].as_array().unwrap().iter().map(|p| p["address"].as_str().unwrap()).collect();
    macs.sort();
    assert_eq!(macs, vec!["f8:bc:12:00:00:01", "f8:bc:12:00:00:02"], "NIC3 has no link");
    let inv = bm.ok(Method::GET, &format!("/v1/nodes/{node}/inventory"), None);
    assert_eq!(inv["inventory"]["cpu"]["model_name"], "Intel Xeon Gold 6338");
    assert_eq!(inv["inventory"]["interfaces"].as_array().unwrap().len(), 3);
    assert_eq!(inv["inventory"]["disks"][0]["size"], 960_197_124_096u64);
    assert_eq!(inv["inventory"]["system_vendor"]["manufacturer"], "Contoso");
    assert_eq!(inv["plugin_data"], json!({}));
    // Inspecting again enrols nothing twice.
    bm.provision(&node, json!({"target": "inspect"}), "manageable");
    let ports = bm.ok(Method::GET, &format!("/v1/ports?node={node}"), None);
    assert_eq!(ports["ports"].as_array().unwrap().len(), 2);

    // Lifecycle: cleaning powers off, a deploy boots from the network, a
    // teardown powers off again.
    let n = bm.provision(&node, json!({"target": "provide"}), "available");
    assert_eq!((n["power_state"].as_str(), bmc.power().as_str()), (Some("power off"), "Off"));
    let n = bm.provision(&node, json!({"target": "active"}), "active");
    assert_eq!((n["power_state"].as_str(), bmc.power().as_str()), (Some("power on"), "On"));
    {
        let st = bmc.state.lock().unwrap();
        assert_eq!((st.boot_target.as_str(), st.boot_enabled.as_str()), ("Pxe", "Once"));
    }
    let n = bm.provision(&node, json!({"target": "deleted"}), "available");
    assert_eq!((n["power_state"].as_str(), bmc.power().as_str()), (Some("power off"), "Off"));
    assert!(n["last_error"].is_null(), "{n}");
    let st = bmc.state.lock().unwrap();
    assert_eq!(st.sessions, 0, "every session opened was closed");
    // The BMC got its password, yet no file of the server holds it.
    assert_eq!(files_containing(&s.data_dir, PASSWORD.as_bytes()), Vec::<String>::new());
    assert!(st.requests.iter().any(|r| r == "POST /redfish/v1/SessionService/Sessions"), "session auth by default");
}

#[test]
fn virtual_media_deploy_inserts_and_ejects_the_iso() {
    let bmc = Bmc::start();
    let Some(s) = server(Db::Sqlite) else { return };
    let bm = Bm::new(&s);
    let iso = "http://images.example/boot.iso";
    let node =
        bm.node(&bmc.url, json!({"boot_interface": "redfish-virtual-media", "instance_info": {"boot_iso": iso}}));
    bm.provision(&node, json!({"target": "manage"}), "manageable");
    bm.provision(&node, json!({"target": "provide"}), "available");
    let n = bm.provision(&node, json!({"target": "active"}), "active");
    assert!(n["last_error"].is_null(), "{n}");
    {
        let st = bmc.state.lock().unwrap();
        assert_eq!(st.cd_image.as_deref(), Some(iso));
        assert_eq!((st.boot_target.as_str(), st.power.as_str()), ("Cd", "On"));
    }
    bm.provision(&node, json!({"target": "deleted"}), "available");
    assert_eq!(bmc.state.lock().unwrap().cd_image, None, "ejected at teardown");
}

#[test]
fn a_dead_bmc_leaves_clear_errors_and_free_nodes() {
    let Some(s) = server(Db::Sqlite) else { return };
    let bm = Bm::new(&s);

    // Nothing listens: verification fails, the node goes back to enroll.
    let gone = bm.node(&redfish_bmc::closed_port_url(), json!({}));
    let n = bm.provision(&gone, json!({"target": "manage"}), "enroll");
    let err = n["last_error"].as_str().unwrap();
    assert!(err.starts_with(&format!("Failed to get power state for node {gone}")), "{err}");
    assert!(err.contains("Redfish connection failed") && err.contains("Unable to connect"), "{err}");

    let bmc = Bmc::start();
    let node = bm.node(&bmc.url, json!({}));
    bm.provision(&node, json!({"target": "manage"}), "manageable");

    // The BMC answers 500: power state unchanged, the BMC's words kept.
    bmc.set_mode(Mode::Fail500);
    let n = bm.power(&node, "power on");
    let err = n["last_error"].as_str().unwrap();
    assert!(err.starts_with("Failed to change power state to 'power on' by 'power on': "), "{err}");
    assert!(err.contains("returned code 500") && err.contains("internal service error"), "{err}");
    assert_eq!(n["power_state"], "power off");

    // Accepted but never reached: the wait gives up.
    bmc.set_mode(Mode::Stuck);
    let n = bm.power(&node, "power on");
    let err = n["last_error"].as_str().unwrap();
    assert!(err.contains("Failed to set node power state to power on."), "{err}");

    // No answer at all: each request times out; the worker is not held.
    bmc.set_mode(Mode::Hang);
    let n = bm.power(&node, "power on");
    assert!(n["last_error"].as_str().unwrap().contains("no answer within 1 s"), "{n}");
    let (status, e) = bm.call(Method::GET, &format!("/v1/nodes/{node}/management/boot_device"), None);
    assert_eq!(status, 503, "{e}");
    assert!(e["error_message"].to_string().contains("BMC"), "{e}");
    let n = bm.provision(&node, json!({"target": "provide"}), "clean failed");
    assert!(n["last_error"].as_str().unwrap().starts_with(&format!("Failed to prepare node {node} for cleaning")));

    // Back to health: the same node works again.
    bmc.set_mode(Mode::Normal);
    let n = bm.power(&node, "power on");
    assert_eq!((n["power_state"].as_str(), bmc.power().as_str()), (Some("power on"), "On"));

    // Wrong credentials.
    let bad = bm.ok(
        Method::POST,
        "/v1/nodes",
        Some(json!({"driver": "redfish", "driver_info": {"redfish_address": bmc.url,
            "redfish_username": USER, "redfish_password": "wrong"}})),
    )["uuid"]
        .as_str()
        .unwrap()
        .to_string();
    let n = bm.provision(&bad, json!({"target": "manage"}), "enroll");
    assert!(n["last_error"].as_str().unwrap().contains("401"), "{n}");

    // driver_info that cannot work fails at once, in Ironic's words.
    let (status, v) = bm.call(Method::POST, "/v1/nodes", Some(json!({"driver": "redfish"})));
    assert_eq!(status, 201, "{v}");
    let blank = v["uuid"].as_str().unwrap().to_string();
    let v = bm.ok(Method::GET, &format!("/v1/nodes/{blank}/validate"), None);
    assert_eq!(
        v["power"]["reason"],
        format!("Missing the following Redfish properties in node {blank} driver_info: ['redfish_address']")
    );
    let n = bm.provision(&blank, json!({"target": "manage"}), "enroll");
    assert!(n["last_error"].as_str().unwrap().contains("redfish_address"), "{n}");
}

#[test]
fn a_failing_inspection_rule_fails_the_inspection_and_changes_nothing() {
    let bmc = Bmc::start();
    let Some(s) = server(Db::Sqlite) else { return };
    let bm = Bm::new(&s);
    let r = s
        .client
        .post(format!("{}/v1/inspection_rules", s.baremetal))
        .header("X-OpenStack-Ironic-API-Version", "1.96")
        .header("X-Auth-Token", bm.api.token.as_deref().unwrap())
        .json(&json!({"conditions": [{"op": "matches", "args": {"value": "{inventory[system_vendor][manufacturer]}", "regex": "Contoso"}}],
                      "actions": [{"op": "fail", "args": {"msg": "{inventory[system_vendor][manufacturer]} servers are not accepted"}}]}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    let node = bm.node(&bmc.url, json!({}));
    bm.provision(&node, json!({"target": "manage"}), "manageable");
    let n = bm.provision(&node, json!({"target": "inspect"}), "inspect failed");
    assert_eq!(n["last_error"], "Failed to inspect hardware. Reason: Contoso servers are not accepted");
    assert_eq!(n["properties"], json!({}), "nothing applied");
    let ports = bm.ok(Method::GET, &format!("/v1/ports?node={node}"), None);
    assert_eq!(ports["ports"], json!([]));
}
