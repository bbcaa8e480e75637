//! The `direct` deploy: the node boots its agent from the network and
//! waits (`wait call-back`); the agent looks its node up, heartbeats with
//! its callback URL and token; ironbark has it write the image
//! (`standby.write_image`, followed until done), then boots the node from
//! its disk: `active`. An agent that fails the command fails the deploy.
//! The BMC is tests/redfish_bmc, the agent a stand-in speaking
//! ironic-python-agent's command API.

mod common;
mod mock_http;
mod redfish_bmc;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Baremetal, Db, TestServer};
use mock_http::{Answer, reply, serve};
use redfish_bmc::{Bmc, PASSWORD, SYSTEM, USER};
use reqwest::Method;
use serde_json::{Value, json};

const IMAGE: &str = "http://images.example/ubuntu-24.04.raw";
const MAC: &str = "52:54:00:aa:bb:01";

/// An agent's command API: commands run for two polls, then succeed (or
/// fail when told to).
#[derive(Default)]
struct AgentState {
    commands: Vec<Value>,
    polls: usize,
    fail: bool,
}

fn agent_api(state: Arc<Mutex<AgentState>>) -> String {
    serve(move |req| {
        let mut s = state.lock().unwrap();
        match (req.method.as_str(), req.path.as_str()) {
            ("POST", p) if p.starts_with("/v1/commands") => {
                s.commands.push(req.body.clone());
                let name = req.body["name"].as_str().unwrap_or_default().to_string();
                reply(
                    200,
                    json!({"id": "c1", "command_name": name, "command_status": "RUNNING",
                                  "command_error": null, "command_result": null}),
                )
            }
            ("GET", "/v1/commands/c1") => {
                s.polls += 1;
                let status = match (s.polls >= 2, s.fail) {
                    (false, _) => "RUNNING",
                    (true, false) => "SUCCEEDED",
                    (true, true) => "FAILED",
                };
                let error = if status == "FAILED" {
                    json!({"type": "ImageChecksumError", "code": 500, "message": "Error verifying image checksum",
                           "details": "checksum mismatch"})
                } else {
                    Value::Null
                };
                reply(
                    200,
                    json!({"id": "c1", "command_name": "write_image", "command_status": status,
                                  "command_error": error, "command_result": {"result": "image written"}}),
                )
            }
            _ => Answer::Reply { status: 404, headers: vec![], body: json!({"message": "not found"}) },
        }
    })
}

struct Bm<'a> {
    admin: Baremetal<'a>,
    agent: Baremetal<'a>,
}

impl Bm<'_> {
    fn new(s: &TestServer) -> Bm<'_> {
        Bm { admin: Baremetal::admin(s, "1.95"), agent: Baremetal::anonymous(s, "1.95") }
    }

    /// A call as the admin (`token`) or as the agent.
    fn call(&self, method: Method, path: &str, token: bool, body: Option<Value>) -> (u16, Value) {
        if token { self.admin.call(method, path, body) } else { self.agent.call(method, path, body) }
    }

    fn ok(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        self.admin.ok(method, path, body)
    }

    fn wait(&self, node: &str, state: &str) -> Value {
        for _ in 0..400 {
            let n = self.ok(Method::GET, &format!("/v1/nodes/{node}"), None);
            if n["provision_state"] == state && n["reservation"].is_null() {
                return n;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("{node} not {state}: {}", self.ok(Method::GET, &format!("/v1/nodes/{node}"), None));
    }

    fn provision(&self, node: &str, target: &str, state: &str) -> Value {
        self.ok(Method::PUT, &format!("/v1/nodes/{node}/states/provision"), Some(json!({"target": target})));
        self.wait(node, state)
    }
}

/// A redfish node with the direct deploy, available, its instance set.
fn ready_node(bm: &Bm, bmc: &Bmc) -> String {
    let n = bm.ok(
        Method::POST,
        "/v1/nodes",
        Some(json!({"driver": "redfish", "deploy_interface": "direct", "boot_interface": "pxe",
            "driver_info": {"redfish_address": bmc.url, "redfish_system_id": SYSTEM,
                            "redfish_username": USER, "redfish_password": PASSWORD,
                            "image_https_proxy": "http://proxy.example:3128", "image_no_proxy": "10.0.0.0/8"},
            "instance_info": {"image_source": IMAGE, "image_os_hash_algo": "sha512",
                              "image_os_hash_value": "ab".repeat(64), "image_disk_format": "raw"}})),
    );
    let node = n["uuid"].as_str().unwrap().to_string();
    bm.ok(Method::POST, "/v1/ports", Some(json!({"node_uuid": node, "address": MAC})));
    bm.provision(&node, "manage", "manageable");
    bm.provision(&node, "provide", "available");
    node
}

/// What the agent does once booted: look its node up, then heartbeat.
fn agent_calls_back(bm: &Bm, node: &str, callback: &str) {
    let (status, v) = bm.call(Method::GET, &format!("/v1/lookup?addresses={MAC}"), false, None);
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["node"]["uuid"], node);
    let token = v["config"]["agent_token"].as_str().unwrap().to_string();
    let (status, v) = bm.call(
        Method::POST,
        &format!("/v1/heartbeat/{node}"),
        false,
        Some(json!({"callback_url": callback, "agent_version": "9.4.0", "agent_token": token})),
    );
    assert_eq!(status, 202, "{v}");
}

fn server() -> Option<TestServer> {
    TestServer::start_with(Db::Sqlite, |c| {
        c.bmc.request_timeout_s = 2;
        c.bmc.power_state_change_timeout_s = 2;
        c.bmc.poll_interval_ms = 20;
        c.bmc.agent_command_timeout_s = 5;
    })
}

#[test]
fn the_agent_writes_the_image_and_the_node_boots_from_disk() {
    let bmc = Bmc::start();
    let agent = Arc::new(Mutex::new(AgentState::default()));
    let callback = agent_api(agent.clone());
    let Some(s) = server() else { return };
    let bm = Bm::new(&s);
    let node = ready_node(&bm, &bmc);

    // Deploy: the agent is booted from the network, then awaited.
    let n = bm.provision(&node, "active", "wait call-back");
    assert_eq!(n["target_provision_state"], "active");
    {
        let st = bmc.state.lock().unwrap();
        assert_eq!((st.boot_target.as_str(), st.boot_enabled.as_str(), st.power.as_str()), ("Pxe", "Once", "On"));
    }

    agent_calls_back(&bm, &node, &callback);
    let n = bm.wait(&node, "active");
    assert!(n["last_error"].is_null(), "{n}");
    let cmds = agent.lock().unwrap().commands.clone();
    assert_eq!(cmds.len(), 1, "{cmds:?}");
    assert_eq!(cmds[0]["name"], "standby.write_image");
    let info = &cmds[0]["params"]["image_info"];
    assert_eq!(info["urls"], json!([IMAGE]));
    assert_eq!((info["os_hash_algo"].as_str(), info["disk_format"].as_str()), (Some("sha512"), Some("raw")));
    assert_eq!(info["node_uuid"], node.as_str());
    assert_eq!(info["proxies"], json!({"https": "http://proxy.example:3128"}));
    assert_eq!(info["no_proxy"], "10.0.0.0/8");
    {
        let st = bmc.state.lock().unwrap();
        assert_eq!((st.boot_target.as_str(), st.boot_enabled.as_str(), st.power.as_str()), ("Hdd", "Continuous", "On"));
    }
    assert_eq!(n["driver_internal_info"]["agent_url"], callback.as_str());
    assert!(n["driver_internal_info"].get("deploy_phase").is_none(), "{n}");

    // Undeploy and deploy again: a new agent session each time.
    bm.provision(&node, "deleted", "available");
    let image = json!([{"op": "add", "path": "/instance_info/image_source", "value": IMAGE}]);
    bm.ok(Method::PATCH, &format!("/v1/nodes/{node}"), Some(image));
    bm.provision(&node, "active", "wait call-back");
    let n = bm.ok(Method::GET, &format!("/v1/nodes/{node}"), None);
    assert!(n["driver_internal_info"].get("agent_url").is_none(), "the old agent is forgotten");
    agent_calls_back(&bm, &node, &callback);
    bm.wait(&node, "active");
}

#[test]
fn an_agent_command_that_fails_fails_the_deploy() {
    let bmc = Bmc::start();
    let agent = Arc::new(Mutex::new(AgentState { fail: true, ..Default::default() }));
    let callback = agent_api(agent.clone());
    let Some(s) = server() else { return };
    let bm = Bm::new(&s);
    let node = ready_node(&bm, &bmc);
    bm.provision(&node, "active", "wait call-back");
    agent_calls_back(&bm, &node, &callback);
    let n = bm.wait(&node, "deploy failed");
    let err = n["last_error"].as_str().unwrap();
    assert!(err.starts_with("Deploy step deploy.deploy failed: "), "{err}");
    assert!(err.contains("Agent command standby.write_image failed: Error verifying image checksum"), "{err}");

    // An agent that is not there: the deploy fails, it does not hang.
    let node2 = {
        let n = bm.ok(
            Method::POST,
            "/v1/nodes",
            Some(json!({"driver": "redfish", "deploy_interface": "direct",
                "driver_info": {"redfish_address": bmc.url, "redfish_username": USER, "redfish_password": PASSWORD},
                "instance_info": {"image_source": IMAGE}})),
        );
        n["uuid"].as_str().unwrap().to_string()
    };
    bm.ok(Method::POST, "/v1/ports", Some(json!({"node_uuid": node2, "address": "52:54:00:aa:bb:02"})));
    bm.provision(&node2, "manage", "manageable");
    bm.provision(&node2, "provide", "available");
    bm.provision(&node2, "active", "wait call-back");
    let (status, v) = bm.call(Method::GET, "/v1/lookup?addresses=52:54:00:aa:bb:02", false, None);
    assert_eq!(status, 200);
    let token = v["config"]["agent_token"].as_str().unwrap().to_string();
    let dead = redfish_bmc::closed_port_url();
    let (status, _) = bm.call(
        Method::POST,
        &format!("/v1/heartbeat/{node2}"),
        false,
        Some(json!({"callback_url": dead, "agent_version": "9.4.0", "agent_token": token})),
    );
    assert_eq!(status, 202);
    let n = bm.wait(&node2, "deploy failed");
    assert!(n["last_error"].as_str().unwrap().contains("did not answer standby.write_image"), "{n}");
}
