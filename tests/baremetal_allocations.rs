//! Bare-metal allocations and shards over HTTP: scheduling, backfill,
//! update, delete, microversion gates, and that parallel allocations never
//! share a node.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::{ADMIN_PASSWORD, TestServer};
use reqwest::blocking::{RequestBuilder, Response};
use serde_json::{Value, json};

const V: &str = "1.115";

struct Bm<'a> {
    s: &'a TestServer,
    token: String,
}

impl<'a> Bm<'a> {
    fn system(s: &'a TestServer) -> Bm<'a> {
        let token = s.token("admin", ADMIN_PASSWORD, json!({"system": {"all": true}})).0;
        Bm { s, token }
    }

    fn req(&self, method: reqwest::Method, path: &str, version: &str) -> RequestBuilder {
        self.s
            .client
            .request(method, format!("{}{path}", self.s.baremetal))
            .header("X-Auth-Token", &self.token)
            .header("X-OpenStack-Ironic-API-Version", version)
    }

    fn get(&self, path: &str, version: &str) -> Response {
        self.req(reqwest::Method::GET, path, version).send().expect("request")
    }

    fn post(&self, path: &str, version: &str, body: Value) -> Response {
        self.req(reqwest::Method::POST, path, version).json(&body).send().expect("request")
    }

    fn put(&self, path: &str, version: &str, body: Value) -> Response {
        self.req(reqwest::Method::PUT, path, version).json(&body).send().expect("request")
    }

    fn patch(&self, path: &str, version: &str, body: Value) -> Response {
        self.req(reqwest::Method::PATCH, path, version).json(&body).send().expect("request")
    }

    fn delete(&self, path: &str, version: &str) -> Response {
        self.req(reqwest::Method::DELETE, path, version).send().expect("request")
    }

    fn expect(&self, r: Response, status: u16) -> Value {
        let code = r.status().as_u16();
        let body: Value = r.json().unwrap_or(Value::Null);
        assert_eq!(code, status, "{body}");
        body
    }

    fn ok(&self, path: &str) -> Value {
        self.expect(self.get(path, V), 200)
    }

    fn wait_node(&self, uuid: &str, field: &str, want: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let n = self.ok(&format!("/v1/nodes/{uuid}"));
            if n[field] == want && n["reservation"].is_null() {
                return;
            }
            assert!(Instant::now() < deadline, "node {uuid} never reached {field}={want}: {n}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn provision(&self, uuid: &str, target: &str) {
        self.expect(self.put(&format!("/v1/nodes/{uuid}/states/provision"), V, json!({"target": target})), 202);
    }

    /// A node of `rc` that is `available` and powered off: what the
    /// scheduler takes.
    fn available_node(&self, name: &str, rc: &str, traits: &[&str]) -> String {
        let body = json!({"name": name, "driver": "fake-hardware", "resource_class": rc,
                          "deploy_interface": "fake", "network_interface": "noop"});
        let uuid = self.expect(self.post("/v1/nodes", V, body), 201)["uuid"].as_str().expect("uuid").to_string();
        if !traits.is_empty() {
            self.expect(self.put(&format!("/v1/nodes/{uuid}/traits"), V, json!({"traits": traits})), 204);
        }
        self.provision(&uuid, "manage");
        self.wait_node(&uuid, "provision_state", "manageable");
        self.provision(&uuid, "provide");
        self.wait_node(&uuid, "provision_state", "available");
        self.expect(self.put(&format!("/v1/nodes/{uuid}/states/power"), V, json!({"target": "power off"})), 202);
        self.wait_node(&uuid, "power_state", "power off");
        uuid
    }

    fn allocate(&self, body: Value) -> Value {
        self.expect(self.post("/v1/allocations", V, body), 201)
    }
}

fn error_text(body: &Value) -> String {
    let inner: Value = serde_json::from_str(body["error_message"].as_str().expect("envelope")).expect("inner JSON");
    inner["faultstring"].as_str().or(inner["description"].as_str()).unwrap_or_default().to_string()
}

fn scheduling(s: &TestServer) {
    let bm = Bm::system(s);
    let node = bm.available_node("al-node-1", "rc-a", &["CUSTOM_GOLD"]);

    // Created as "allocating"; scheduled before the request completes.
    let a = bm.allocate(json!({"resource_class": "rc-a", "name": "al-1", "traits": ["CUSTOM_GOLD"],
                               "extra": {"k": "v"}}));
    assert_eq!(a["state"], "allocating");
    assert!(a["node_uuid"].is_null());
    assert!(a["last_error"].is_null());
    let mut keys: Vec<&str> = a.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    let mut want = [
        "uuid",
        "created_at",
        "updated_at",
        "candidate_nodes",
        "extra",
        "last_error",
        "name",
        "owner",
        "resource_class",
        "state",
        "traits",
        "links",
        "node_uuid",
    ];
    want.sort();
    assert_eq!(keys, want);
    let uuid = a["uuid"].as_str().unwrap().to_string();
    let shown = bm.ok("/v1/allocations/al-1");
    assert_eq!(shown["state"], "active", "{shown}");
    assert_eq!(shown["node_uuid"], node.as_str());
    let n = bm.ok(&format!("/v1/nodes/{node}"));
    assert_eq!(n["allocation_uuid"], uuid.as_str());
    assert_eq!(n["instance_uuid"], uuid.as_str());
    assert_eq!(n["instance_info"]["traits"], json!(["CUSTOM_GOLD"]));
    assert_eq!(bm.ok(&format!("/v1/nodes/{node}/allocation")), shown);
    assert_eq!(bm.expect(bm.get(&format!("/v1/allocations/{uuid}.json"), "1.90"), 200)["uuid"], uuid.as_str());
    bm.expect(bm.get(&format!("/v1/allocations/{uuid}.json"), "1.91"), 404);
    // Owner appears from 1.60.
    assert!(bm.expect(bm.get("/v1/allocations/al-1", "1.59"), 200).get("owner").is_none());

    // Nothing else matches: the next one fails with Ironic's text.
    let b = bm.allocate(json!({"resource_class": "rc-a"}));
    let b = bm.ok(&format!("/v1/allocations/{}", b["uuid"].as_str().unwrap()));
    assert_eq!(b["state"], "error");
    assert_eq!(
        b["last_error"],
        format!(
            "Failed to process allocation {}: no available nodes match the resource class rc-a.",
            b["uuid"].as_str().unwrap()
        )
    );

    // Filters, fields, paging.
    let l = bm.ok("/v1/allocations?state=active&fields=uuid,state");
    assert_eq!(l["allocations"].as_array().unwrap().len(), 1);
    assert_eq!(l["allocations"][0].as_object().unwrap().len(), 3);
    assert_eq!(bm.ok("/v1/allocations?state=error")["allocations"].as_array().unwrap().len(), 1);
    assert_eq!(bm.ok("/v1/allocations?node=al-node-1")["allocations"][0]["uuid"], uuid.as_str());
    let page = bm.ok("/v1/allocations?limit=1");
    assert!(page["next"].as_str().unwrap().contains(&format!("marker={uuid}")));
    let e = bm.expect(bm.get("/v1/allocations?fields=owner", "1.59"), 400);
    assert!(error_text(&e).starts_with("Schema error: 'owner' is not one of"));
    bm.expect(bm.get("/v1/allocations?owner=x", "1.59"), 406);
    bm.expect(bm.get("/v1/allocations?node=nope", V), 400);
    bm.expect(bm.get("/v1/allocations?sort_key=traits", V), 400);

    // PATCH: name and extra only.
    let p = bm.expect(
        bm.patch(
            "/v1/allocations/al-1",
            V,
            json!([{"op": "replace", "path": "/name", "value": "al-2"},
                                                     {"op": "add", "path": "/extra/x", "value": 1}]),
        ),
        200,
    );
    assert_eq!(p["name"], "al-2");
    assert_eq!(p["extra"], json!({"k": "v", "x": 1}));
    let e =
        bm.expect(bm.patch("/v1/allocations/al-2", V, json!([{"op": "replace", "path": "/owner", "value": "p"}])), 400);
    assert_eq!(error_text(&e), "Cannot patch /owner. Only the following can be updated: name, extra");
    bm.expect(bm.patch("/v1/allocations/al-2", "1.56", json!([])), 405);

    // Deleting frees the node.
    bm.expect(bm.delete(&format!("/v1/nodes/{node}/allocation"), V), 204);
    let n = bm.ok(&format!("/v1/nodes/{node}"));
    assert!(n["allocation_uuid"].is_null() && n["instance_uuid"].is_null(), "{n}");
    bm.expect(bm.get(&format!("/v1/nodes/{node}/allocation"), V), 404);
    bm.expect(bm.get("/v1/allocations/al-2", V), 404);

    // Candidate nodes by name; mismatch and unknown candidates.
    let c = bm.allocate(json!({"resource_class": "rc-a", "candidate_nodes": ["al-node-1"]}));
    assert_eq!(c["candidate_nodes"], json!([node]));
    assert_eq!(bm.ok(&format!("/v1/allocations/{}", c["uuid"].as_str().unwrap()))["state"], "active");
    let e =
        bm.expect(bm.post("/v1/allocations", V, json!({"resource_class": "rc-a", "candidate_nodes": ["ghost"]})), 400);
    assert_eq!(error_text(&e), "Nodes cannot be found: ghost");
    bm.expect(bm.delete(&format!("/v1/allocations/{}", c["uuid"].as_str().unwrap()), V), 204);

    // Request validation.
    let e = bm.expect(bm.post("/v1/allocations", V, json!({})), 400);
    assert_eq!(error_text(&e), "The resource_class field is mandatory when not backfilling");
    bm.expect(bm.post("/v1/allocations", V, json!({"resource_class": "r", "name": "bad name"})), 400);
    bm.expect(bm.post("/v1/allocations", V, json!({"resource_class": "r", "traits": ["bad"]})), 400);
    bm.expect(bm.post("/v1/allocations", V, json!({"resource_class": "r", "bogus": 1})), 400);
    bm.expect(bm.post("/v1/allocations", "1.59", json!({"resource_class": "r", "owner": "o"})), 406);
    bm.expect(bm.post("/v1/allocations", "1.57", json!({"resource_class": "r", "node": "x"})), 400);
    bm.allocate(json!({"resource_class": "r", "name": "dup"}));
    bm.expect(bm.post("/v1/allocations", V, json!({"resource_class": "r", "name": "dup"})), 409);
}

fn backfill_and_gates(s: &TestServer) {
    let bm = Bm::system(s);
    let node = bm.available_node("bf-node", "rc-b", &[]);
    bm.provision(&node, "active");
    bm.wait_node(&node, "provision_state", "active");
    let a = bm.allocate(json!({"node": "bf-node"}));
    assert_eq!(a["state"], "active");
    assert_eq!(a["node_uuid"], node.as_str());
    assert_eq!(a["resource_class"], "rc-b");
    let uuid = a["uuid"].as_str().unwrap();
    assert_eq!(bm.ok(&format!("/v1/nodes/{node}"))["allocation_uuid"], uuid);
    // An active node keeps its allocation.
    let e = bm.expect(bm.delete(&format!("/v1/allocations/{uuid}"), V), 409);
    assert!(error_text(&e).contains("because the node is active"), "{e}");

    // Microversion gates.
    bm.expect(bm.get("/v1/allocations", "1.51"), 404);
    bm.expect(bm.post("/v1/allocations", "1.51", json!({"resource_class": "r"})), 405);
    bm.expect(bm.delete(&format!("/v1/allocations/{uuid}"), "1.51"), 405);
    bm.expect(bm.get(&format!("/v1/nodes/{node}/allocation"), "1.51"), 404);

    // Shards.
    bm.expect(bm.get("/v1/shards", "1.81"), 404);
    for (name, shard) in [("s1", Some("shard-a")), ("s2", Some("shard-a")), ("s3", Some("shard-b")), ("s4", None)] {
        let mut body = json!({"name": name, "driver": "fake-hardware"});
        if let Some(sh) = shard {
            body["shard"] = json!(sh);
        }
        bm.expect(bm.post("/v1/nodes", V, body), 201);
    }
    let shards = bm.ok("/v1/shards");
    assert_eq!(
        shards,
        json!({"shards": [{"name": "None", "count": 2}, {"name": "shard-a", "count": 2},
                                         {"name": "shard-b", "count": 1}]})
    );
    bm.expect(bm.get("/v1/shards/shard-a", V), 404);
}

/// Ten allocations race for five matching nodes: five win distinct nodes,
/// five fail.
fn concurrent(s: &TestServer) {
    let bm = Bm::system(s);
    let nodes: HashSet<String> = (0..5).map(|i| bm.available_node(&format!("cc-{i}"), "rc-c", &[])).collect();
    let uuids: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..10)
            .map(|_| {
                scope.spawn(|| {
                    let a = bm.allocate(json!({"resource_class": "rc-c"}));
                    a["uuid"].as_str().unwrap().to_string()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("thread")).collect()
    });
    let mut taken = HashSet::new();
    let mut errors = 0;
    for u in &uuids {
        let a = bm.ok(&format!("/v1/allocations/{u}"));
        match a["state"].as_str().unwrap() {
            "active" => {
                let n = a["node_uuid"].as_str().unwrap().to_string();
                assert!(nodes.contains(&n));
                assert!(taken.insert(n.clone()), "node {n} given twice");
                assert_eq!(bm.ok(&format!("/v1/nodes/{n}"))["allocation_uuid"], u.as_str());
            }
            "error" => errors += 1,
            other => panic!("allocation {u} left {other}"),
        }
    }
    assert_eq!(taken.len(), 5);
    assert_eq!(errors, 5);
}

on_both_backends!(scheduling, backfill_and_gates, concurrent);
