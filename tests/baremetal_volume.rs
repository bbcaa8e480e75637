//! The bare-metal volume API (connectors, targets) and inspection rules over
//! HTTP, as Ironic 39 answers them.

mod common;

use common::{ADMIN_PASSWORD, TestServer};
use reqwest::blocking::Response;
use serde_json::{Value, json};

/// A bare-metal client with a system-scoped admin token.
struct Bm<'a> {
    s: &'a TestServer,
    token: String,
}

impl<'a> Bm<'a> {
    fn new(s: &'a TestServer) -> Bm<'a> {
        let token = s.token("admin", ADMIN_PASSWORD, json!({"system": {"all": true}})).0;
        Bm { s, token }
    }

    fn call(&self, method: reqwest::Method, path: &str, version: &str, body: Option<Value>) -> Response {
        let mut r = self
            .s
            .client
            .request(method, format!("{}{path}", self.s.baremetal))
            .header("X-Auth-Token", &self.token)
            .header("X-OpenStack-Ironic-API-Version", version);
        if let Some(b) = body {
            r = r.json(&b);
        }
        r.send().expect("request")
    }

    /// Status and JSON body (null when empty).
    fn run(&self, method: reqwest::Method, path: &str, version: &str, body: Option<Value>) -> (u16, Value) {
        let r = self.call(method, path, version, body);
        let code = r.status().as_u16();
        (code, r.json().unwrap_or(Value::Null))
    }

    fn get(&self, path: &str, version: &str) -> (u16, Value) {
        self.run(reqwest::Method::GET, path, version, None)
    }

    fn post(&self, path: &str, version: &str, body: Value) -> (u16, Value) {
        self.run(reqwest::Method::POST, path, version, Some(body))
    }

    fn patch(&self, path: &str, version: &str, body: Value) -> (u16, Value) {
        self.run(reqwest::Method::PATCH, path, version, Some(body))
    }

    fn put(&self, path: &str, version: &str, body: Value) -> (u16, Value) {
        self.run(reqwest::Method::PUT, path, version, Some(body))
    }

    fn delete(&self, path: &str, version: &str) -> u16 {
        self.run(reqwest::Method::DELETE, path, version, None).0
    }

    fn node(&self, name: &str) -> String {
        let (code, body) = self.post("/v1/nodes", "1.32", json!({"name": name, "driver": "fake-hardware"}));
        assert_eq!(code, 201, "{body}");
        body["uuid"].as_str().expect("uuid").to_string()
    }

    fn power(&self, node: &str, target: &str) {
        let (code, body) = self.put(&format!("/v1/nodes/{node}/states/power"), "1.32", json!({"target": target}));
        assert_eq!(code, 202, "{body}");
        for _ in 0..100 {
            let (_, n) = self.get(&format!("/v1/nodes/{node}"), "1.32");
            if n["power_state"] == target && n["target_power_state"].is_null() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("node {node} never reached {target}");
    }
}

/// The faultstring of an Ironic error body.
fn fault(body: &Value) -> String {
    let inner: Value = serde_json::from_str(body["error_message"].as_str().expect("error_message")).expect("json");
    inner["faultstring"].as_str().map_or_else(|| inner.to_string(), str::to_string)
}

fn connectors(s: &TestServer) {
    let bm = Bm::new(s);
    let node = bm.node("vol-c1");
    // Hidden below 1.32.
    assert_eq!(bm.get("/v1/volume/connectors", "1.31").0, 404);
    assert_eq!(bm.get("/v1/volume", "1.31").0, 404);
    assert_eq!(bm.get(&format!("/v1/nodes/{node}/volume/connectors"), "1.22").0, 404);
    let body = json!({"node_uuid": node, "type": "iqn", "connector_id": "iqn.x", "extra": {"a": 1, "b": 2}});
    assert_eq!(bm.post("/v1/volume/connectors", "1.31", body.clone()).0, 404);

    let (_, root) = bm.get("/v1/volume", "1.32");
    assert!(root["connectors"][0]["href"].as_str().unwrap().ends_with("/v1/volume/connectors"));
    let (code, nroot) = bm.get(&format!("/v1/nodes/{node}/volume"), "1.32");
    assert_eq!(code, 200);
    assert!(nroot["targets"][0]["href"].as_str().unwrap().ends_with(&format!("/v1/nodes/{node}/volume/targets")));

    let (code, c) = bm.post("/v1/volume/connectors", "1.32", body.clone());
    assert_eq!(code, 201, "{c}");
    let uuid = c["uuid"].as_str().unwrap().to_string();
    assert_eq!(c["node_uuid"], node.as_str());
    assert_eq!(c["extra"], json!({"a": 1, "b": 2}));
    assert!(c["updated_at"].is_null() && c["links"].is_array());

    // Unique (type, connector_id); unknown node; schema.
    let (code, err) = bm.post("/v1/volume/connectors", "1.32", body.clone());
    assert_eq!(code, 409);
    assert!(fault(&err).contains("already exists"));
    let missing = json!({"node_uuid": "1be26c0b-03f2-4d2e-ae87-c02d7f33c123", "type": "iqn", "connector_id": "y"});
    assert_eq!(bm.post("/v1/volume/connectors", "1.32", missing).0, 400);
    assert_eq!(bm.post("/v1/volume/connectors", "1.32", json!({"node_uuid": node, "type": "iqn"})).0, 400);
    let (code, err) = bm.post(
        &format!("/v1/nodes/{node}/volume/connectors"),
        "1.32",
        json!({"node_uuid": node, "type": "wwpn", "connector_id": "z"}),
    );
    assert_eq!((code, fault(&err).as_str()), (400, "Malformed request URI."));

    // Lists: default fields, detail, fields, node filter, paging.
    bm.post("/v1/volume/connectors", "1.32", json!({"node_uuid": node, "type": "ip", "connector_id": "10.0.0.1"}));
    bm.post("/v1/volume/connectors", "1.32", json!({"node_uuid": node, "type": "mac", "connector_id": "m"}));
    let (_, l) = bm.get("/v1/volume/connectors", "1.32");
    let items = l["connectors"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    let mut keys: Vec<&str> = items[0].as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["connector_id", "links", "node_uuid", "type", "uuid"]);
    let (_, l) = bm.get("/v1/volume/connectors?limit=2", "1.32");
    let next = l["next"].as_str().unwrap();
    assert!(next.contains("/v1/volume/connectors?sort_key=id&sort_dir=asc&fields=uuid,node_uuid,type,connector_id"));
    assert!(next.ends_with(&format!("limit=2&marker={}", l["connectors"][1]["uuid"].as_str().unwrap())));
    let (_, l) = bm.get(&format!("/v1/volume/connectors?limit=2&marker={uuid}"), "1.32");
    assert_eq!(l["connectors"].as_array().unwrap().len(), 2);
    assert!(l.get("next").is_some());
    let (_, l) = bm.get("/v1/volume/connectors?detail=true&sort_key=connector_id&sort_dir=desc", "1.32");
    assert_eq!(l["connectors"][0]["connector_id"], "m");
    assert!(l["connectors"][0].get("created_at").is_some());
    let (_, l) = bm.get("/v1/nodes/vol-c1/volume/connectors?fields=uuid,extra", "1.32");
    assert_eq!(l["connectors"].as_array().unwrap().len(), 3);
    assert!(l["connectors"][0].get("type").is_none() && l["connectors"][0].get("extra").is_some());
    assert_eq!(bm.get("/v1/volume/connectors?fields=bogus", "1.32").0, 400);
    assert_eq!(bm.get("/v1/volume/connectors?sort_key=extra", "1.32").0, 400);
    assert_eq!(bm.get("/v1/volume/connectors?detail=true&fields=uuid", "1.32").0, 400);
    assert_eq!(bm.get("/v1/volume/connectors?node=nope", "1.32").0, 404);
    assert_eq!(bm.get("/v1/volume/connectors/detail", "1.32").0, 400);
    assert_eq!(bm.get(&format!("/v1/nodes/{node}/volume/connectors/{uuid}"), "1.32").0, 400);
    let (_, one) = bm.get(&format!("/v1/volume/connectors/{uuid}?fields=type"), "1.32");
    assert_eq!(one["type"], "iqn");
    assert!(one.get("connector_id").is_none());

    // Updates need the node powered off.
    let patch = json!([{"op": "replace", "path": "/connector_id", "value": "iqn.y"}]);
    let (code, err) = bm.patch(&format!("/v1/volume/connectors/{uuid}"), "1.32", patch.clone());
    assert_eq!(code, 400);
    assert!(fault(&err).contains("\"volume connector update\" can not be performed on node"), "{err}");
    bm.power(&node, "power off");
    let (code, c) = bm.patch(&format!("/v1/volume/connectors/{uuid}"), "1.32", patch);
    assert_eq!(code, 200, "{c}");
    assert_eq!(c["connector_id"], "iqn.y");
    assert!(c["updated_at"].is_string());
    let (code, c) =
        bm.patch(&format!("/v1/volume/connectors/{uuid}"), "1.32", json!([{"op": "remove", "path": "/extra/b"}]));
    assert_eq!((code, &c["extra"]), (200, &json!({"a": 1})));
    let clash = json!([{"op": "replace", "path": "/type", "value": "ip"},
                       {"op": "replace", "path": "/connector_id", "value": "10.0.0.1"}]);
    assert_eq!(bm.patch(&format!("/v1/volume/connectors/{uuid}"), "1.32", clash).0, 409);
    let bad = json!([{"op": "replace", "path": "/uuid", "value": "x"}]);
    assert_eq!(bm.patch(&format!("/v1/volume/connectors/{uuid}"), "1.32", bad).0, 400);

    // Deletion: allowed in enroll, refused when powered on elsewhere.
    let (code, body) = bm.put(&format!("/v1/nodes/{node}/states/provision"), "1.32", json!({"target": "manage"}));
    assert_eq!(code, 202, "{body}");
    for _ in 0..100 {
        if bm.get(&format!("/v1/nodes/{node}"), "1.32").1["provision_state"] == "manageable" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    bm.put(&format!("/v1/nodes/{node}/states/provision"), "1.32", json!({"target": "provide"}));
    for _ in 0..100 {
        if bm.get(&format!("/v1/nodes/{node}"), "1.32").1["provision_state"] == "available" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    bm.power(&node, "power on");
    let r = bm.call(reqwest::Method::DELETE, &format!("/v1/volume/connectors/{uuid}"), "1.32", None);
    assert_eq!(r.status().as_u16(), 400);
    assert!(fault(&r.json().unwrap()).contains("\"volume connector deletion\""));
    bm.power(&node, "power off");
    assert_eq!(bm.delete(&format!("/v1/volume/connectors/{uuid}"), "1.32"), 204);
    assert_eq!(bm.get(&format!("/v1/volume/connectors/{uuid}"), "1.32").0, 404);
    assert_eq!(bm.delete(&format!("/v1/volume/connectors/{uuid}"), "1.32"), 404);
}

fn targets(s: &TestServer) {
    let bm = Bm::new(s);
    let node = bm.node("vol-t1");
    let body = json!({"node_uuid": node, "volume_type": "iscsi", "volume_id": "v1", "boot_index": 0,
                      "properties": {"auth_password": "p", "target_iqn": "iqn.t"}});
    let (code, t) = bm.post("/v1/volume/targets", "1.32", body.clone());
    assert_eq!(code, 201, "{t}");
    let uuid = t["uuid"].as_str().unwrap().to_string();
    assert_eq!(t["properties"], json!({"auth_password": "******", "target_iqn": "iqn.t"}));
    assert_eq!(t["boot_index"], 0);
    let (code, err) = bm.post("/v1/volume/targets", "1.32", body);
    assert_eq!(code, 409);
    assert!(fault(&err).contains("A volume target with boot index '0'"));
    let other = json!({"node_uuid": node, "volume_type": "iscsi", "volume_id": "v2", "boot_index": "1"});
    assert_eq!(bm.post("/v1/volume/targets", "1.32", other).0, 400);
    let (code, _) = bm.post(
        "/v1/volume/targets",
        "1.32",
        json!({"node_uuid": node, "volume_type": "iscsi", "volume_id": "v2", "boot_index": 1}),
    );
    assert_eq!(code, 201);
    let (_, l) = bm.get("/v1/volume/targets?sort_key=boot_index&sort_dir=desc", "1.32");
    assert_eq!(l["targets"][0]["boot_index"], 1);
    assert!(l["targets"][0].get("properties").is_none());
    let (_, l) = bm.get(&format!("/v1/nodes/{node}/volume/targets?detail=True"), "1.32");
    assert_eq!(l["targets"].as_array().unwrap().len(), 2);
    assert_eq!(bm.get("/v1/volume/targets?sort_key=properties", "1.32").0, 400);

    bm.power(&node, "power off");
    let (code, t) = bm.patch(
        &format!("/v1/volume/targets/{uuid}"),
        "1.32",
        json!([{"op": "replace", "path": "/boot_index", "value": 1}]),
    );
    assert_eq!(code, 409, "{t}");
    let (code, t) = bm.patch(
        &format!("/v1/volume/targets/{uuid}"),
        "1.32",
        json!([{"op": "replace", "path": "/volume_id", "value": "v9"}, {"op": "add", "path": "/extra/k", "value": 1}]),
    );
    assert_eq!(code, 200, "{t}");
    assert_eq!((&t["volume_id"], &t["extra"]), (&json!("v9"), &json!({"k": 1})));

    // Deleting the node takes its volume objects along.
    assert_eq!(bm.delete(&format!("/v1/nodes/{node}"), "1.32"), 204);
    let (_, l) = bm.get("/v1/volume/targets", "1.32");
    assert_eq!(l["targets"], json!([]), "{l}");
}

fn inspection_rules(s: &TestServer) {
    let bm = Bm::new(s);
    let rule = json!({
        "description": "log it", "priority": 0, "sensitive": false, "phase": "main",
        "conditions": [{"op": "eq", "args": ["{inventory.system.product_name}", "{item}"], "loop": ["a", "b"]}],
        "actions": [{"op": "set-attribute", "args": ["{item[path]}", "{item[value]}"],
                     "loop": [{"path": "/driver_info/x", "value": "y"}]}],
    });
    assert_eq!(bm.post("/v1/inspection_rules", "1.95", rule.clone()).0, 405);
    assert_eq!(bm.get("/v1/inspection_rules", "1.95").0, 404);
    let (code, r) = bm.post("/v1/inspection_rules", "1.96", rule.clone());
    assert_eq!(code, 201, "{r}");
    let uuid = r["uuid"].as_str().unwrap().to_string();
    assert_eq!(r["conditions"][0]["multiple"], "any");
    assert_eq!(r["actions"], rule["actions"]);
    assert!(r["links"][0]["href"].as_str().unwrap().ends_with(&format!("/v1/inspection/{uuid}")));

    for priority in [json!(-1), json!(10000), json!(5000.5)] {
        let mut bad = rule.clone();
        bad["priority"] = priority;
        assert_eq!(bm.post("/v1/inspection_rules", "1.96", bad).0, 400);
    }
    assert_eq!(bm.post("/v1/inspection_rules", "1.96", json!({"actions": []})).0, 400);

    let sensitive_uuid = "5d3c0a57-3333-4c3b-9a60-0f9b0c0a0001";
    let mut sensitive = rule.clone();
    sensitive["sensitive"] = json!(true);
    sensitive["uuid"] = json!(sensitive_uuid);
    assert_eq!(bm.post("/v1/inspection_rules", "1.96", sensitive).0, 201);
    let (_, shown) = bm.get(&format!("/v1/inspection_rules/{sensitive_uuid}"), "1.96");
    assert_eq!(shown["sensitive"], true);
    assert!(shown["conditions"].is_null() && shown["actions"].is_null());
    let unset = json!([{"op": "replace", "path": "/sensitive", "value": false}]);
    assert_eq!(bm.patch(&format!("/v1/inspection_rules/{sensitive_uuid}"), "1.96", unset).0, 400);

    let (_, l) = bm.get("/v1/inspection_rules?limit=1", "1.96");
    let mut keys: Vec<&str> = l["inspection_rules"][0].as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["description", "links", "phase", "priority", "uuid"]);
    assert!(l["next"].as_str().unwrap().contains("/v1/inspection?filters={}&sort_key=id&sort_dir=asc"));
    assert_eq!(bm.get("/v1/inspection_rules?sort_key=actions", "1.96").0, 400);

    let patch = json!([
        {"op": "replace", "path": "/priority", "value": 200},
        {"op": "replace", "path": "/conditions", "value": [{"op": "eq", "args": ["{{ inventory.cpu.count }}", 8]}]},
        {"op": "replace", "path": "/actions", "value": [{"op": "log", "args": ["updated"]}]},
    ]);
    let (code, r) = bm.patch(&format!("/v1/inspection_rules/{uuid}"), "1.96", patch.clone());
    assert_eq!(code, 200, "{r}");
    assert_eq!(r["priority"], 200);
    assert_eq!(r["conditions"], patch[1]["value"]);
    assert_eq!(r["actions"], patch[2]["value"]);
    let bad = json!([{"op": "add", "path": "/foo", "value": 1}]);
    assert_eq!(bm.patch(&format!("/v1/inspection_rules/{uuid}"), "1.96", bad).0, 400);

    assert_eq!(bm.delete(&format!("/v1/inspection_rules/{uuid}"), "1.96"), 204);
    assert_eq!(bm.delete(&format!("/v1/inspection_rules/{uuid}"), "1.96"), 404);
    assert_eq!(bm.delete("/v1/inspection_rules/not-a-uuid", "1.96"), 400);
}

on_both_backends!(connectors, targets, inspection_rules);
