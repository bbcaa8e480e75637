//! Deploy templates and runbooks over HTTP, as Ironic 39 answers them:
//! microversion gates, validation, paging, patching and runbook ownership.

mod common;

use common::{ADMIN_PASSWORD, TestServer, password_auth, project_scope};
use reqwest::blocking::{RequestBuilder, Response};
use serde_json::{Value, json};

struct Bm<'a> {
    s: &'a TestServer,
    token: String,
}

impl<'a> Bm<'a> {
    fn system(s: &'a TestServer) -> Bm<'a> {
        let token = token(s, json!({"system": {"all": true}})).0;
        Bm { s, token }
    }

    fn req(&self, method: reqwest::Method, path: &str, version: &str) -> RequestBuilder {
        self.s
            .client
            .request(method, format!("{}{path}", self.s.baremetal))
            .header("X-Auth-Token", &self.token)
            .header("X-OpenStack-Ironic-API-Version", version)
            // No idle keep-alive connections: the server stops at once.
            .header("Connection", "close")
    }

    fn get(&self, path: &str, version: &str) -> Response {
        self.req(reqwest::Method::GET, path, version).send().expect("request")
    }

    fn post(&self, path: &str, version: &str, body: Value) -> Response {
        self.req(reqwest::Method::POST, path, version).json(&body).send().expect("request")
    }

    fn patch(&self, path: &str, version: &str, body: Value) -> Response {
        self.req(reqwest::Method::PATCH, path, version).json(&body).send().expect("request")
    }

    fn put(&self, path: &str, version: &str, body: Option<Value>) -> Response {
        let r = self.req(reqwest::Method::PUT, path, version);
        match body {
            Some(b) => r.json(&b),
            None => r,
        }
        .send()
        .expect("request")
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

    fn ok(&self, path: &str, version: &str) -> Value {
        self.expect(self.get(path, version), 200)
    }

    /// The `faultstring` (or webob `description`) of an error response.
    fn error(&self, r: Response, status: u16) -> String {
        let body = self.expect(r, status);
        let inner: Value = serde_json::from_str(body["error_message"].as_str().expect("error_message")).unwrap();
        inner.get("faultstring").or_else(|| inner.get("description")).and_then(Value::as_str).unwrap().to_string()
    }
}

/// An admin token of this scope (on a connection that is not kept open).
fn token(s: &TestServer, scope: Value) -> (String, Value) {
    let r = s
        .client
        .post(format!("{}/v3/auth/tokens", s.identity))
        .header("Connection", "close")
        .json(&password_auth("admin", ADMIN_PASSWORD, scope))
        .send()
        .expect("request");
    assert_eq!(r.status(), 201);
    let t = r.headers()["x-subject-token"].to_str().expect("header").to_string();
    (t, r.json().expect("json"))
}

fn dt_steps() -> Value {
    json!([{"interface": "bios", "step": "apply_configuration", "args": {}, "priority": 10}])
}

fn rb_steps() -> Value {
    json!([{"interface": "bios", "step": "apply_configuration", "args": {}, "order": 1}])
}

fn deploy_templates(s: &TestServer) {
    let bm = Bm::system(s);
    const V: &str = "1.55";

    // Hidden below 1.55: reads 404, writes 405.
    assert_eq!(bm.get("/v1/deploy_templates", "1.54").status(), 404);
    assert_eq!(bm.post("/v1/deploy_templates", "1.54", json!({})).status(), 405);
    assert_eq!(bm.patch("/v1/deploy_templates/x", "1.54", json!([])).status(), 405);
    assert_eq!(bm.delete("/v1/deploy_templates/x", "1.54").status(), 405);

    let body = json!({"name": "CUSTOM_ONE", "steps": [{"interface": "bios", "step": "apply_configuration",
                      "args": {"password": "s3cret"}, "priority": "10"}], "extra": {"a": 1}});
    let r = bm.post("/v1/deploy_templates", V, body.clone());
    let loc = r.headers().get("location").unwrap().to_str().unwrap().to_string();
    let t = bm.expect(r, 201);
    let uuid = t["uuid"].as_str().unwrap().to_string();
    assert!(loc.ends_with(&format!("/v1/deploy_templates/{uuid}")), "{loc}");
    assert_eq!(t["steps"][0]["args"]["password"], "******");
    assert_eq!(t["steps"][0]["priority"], "10", "the answer echoes the request");
    assert_eq!(t["updated_at"], Value::Null);
    assert_eq!(t["links"].as_array().unwrap().len(), 2);

    // Shown by UUID or name, priority now an integer.
    let shown = bm.ok(&format!("/v1/deploy_templates/{uuid}"), V);
    assert_eq!(shown["steps"][0]["priority"], 10);
    assert_eq!(bm.ok("/v1/deploy_templates/CUSTOM_ONE", V)["uuid"], uuid);
    let f = bm.ok("/v1/deploy_templates/CUSTOM_ONE?fields=name", V);
    assert_eq!(f.as_object().unwrap().len(), 2, "{f}");
    // `.json` belongs to the path up to 1.90 only.
    assert_eq!(bm.ok(&format!("/v1/deploy_templates/{uuid}.json"), "1.90")["uuid"], uuid);
    assert_eq!(bm.get(&format!("/v1/deploy_templates/{uuid}.json"), "1.91").status(), 404);

    // Validation.
    let bad = [
        json!({"name": "invalid-name", "steps": dt_steps()}),
        json!({"steps": dt_steps()}),
        json!({"name": "CUSTOM_X"}),
        json!({"name": "CUSTOM_X", "steps": {"key": "value"}}),
        json!({"name": "CUSTOM_X", "steps": []}),
        json!({"name": "CUSTOM_X", "steps": dt_steps(), "uuid": "malformed:uuid"}),
        json!({"name": "CUSTOM_X", "steps": [{"interface": "foo", "step": "x", "args": {}, "priority": 1}]}),
        json!({"name": "CUSTOM_X", "steps": [{"interface": "bios", "step": "x", "args": {}, "priority": -1}]}),
        json!({"name": "CUSTOM_X", "steps": [{"interface": "bios", "step": "x", "priority": 1}]}),
        json!({"name": "CUSTOM_X", "steps": dt_steps(), "foo": 1}),
    ];
    for b in bad {
        assert_eq!(bm.post("/v1/deploy_templates", V, b.clone()).status(), 400, "{b}");
    }
    let dup = json!({"name": "CUSTOM_X", "steps": [
        {"interface": "bios", "step": "x", "args": {}, "priority": 1},
        {"interface": "bios", "step": "x", "args": {}, "priority": 2}]});
    let msg = bm.error(bm.post("/v1/deploy_templates", V, dup), 400);
    assert!(msg.contains("Duplicate deploy steps"), "{msg}");
    let msg = bm.error(bm.post("/v1/deploy_templates", V, body), 409);
    assert_eq!(msg, "A deploy template with name CUSTOM_ONE already exists.");

    // Paging: default fields, `next` with the marker, detail.
    for n in ["CUSTOM_TWO", "CUSTOM_THREE"] {
        bm.expect(bm.post("/v1/deploy_templates", V, json!({"name": n, "steps": dt_steps()})), 201);
    }
    let page = bm.ok("/v1/deploy_templates?limit=2", V);
    let items = page["deploy_templates"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0].as_object().unwrap().len(), 3, "uuid, name, links");
    let next = page["next"].as_str().unwrap();
    assert!(next.contains("fields=uuid,name") && next.ends_with(items[1]["uuid"].as_str().unwrap()), "{next}");
    let rest = bm.ok(&format!("/v1/deploy_templates?limit=2&marker={}", items[1]["uuid"].as_str().unwrap()), V);
    assert_eq!(rest["deploy_templates"].as_array().unwrap().len(), 1);
    assert!(rest.get("next").is_none());
    let detail = bm.ok("/v1/deploy_templates?detail=true&sort_key=name&sort_dir=desc", V);
    let names: Vec<&str> =
        detail["deploy_templates"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["CUSTOM_TWO", "CUSTOM_THREE", "CUSTOM_ONE"]);
    assert!(detail["deploy_templates"][0]["steps"].is_array());
    assert_eq!(bm.get("/v1/deploy_templates?sort_key=steps", V).status(), 400);
    assert_eq!(bm.get("/v1/deploy_templates?fields=bogus", V).status(), 400);
    assert_eq!(bm.get("/v1/deploy_templates?detail=true&fields=name", V).status(), 400);

    // Patching: step paths, mixed operations, schema errors.
    let path = format!("/v1/deploy_templates/{uuid}");
    let step2 = json!({"interface": "raid", "step": "create_configuration", "args": {}, "priority": 5});
    let p = bm.expect(bm.patch(&path, V, json!([{"op": "add", "path": "/steps/1", "value": step2}])), 200);
    assert_eq!(p["steps"].as_array().unwrap().len(), 2);
    assert_eq!(p["updated_at"], Value::Null, "steps alone leave updated_at");
    let p = bm.expect(bm.patch(&path, V, json!([{"op": "replace", "path": "/steps/0/priority", "value": 20}])), 200);
    assert!(p["steps"].as_array().unwrap().iter().any(|s| s["priority"] == 20));
    let p = bm.expect(
        bm.patch(
            &path,
            V,
            json!([{"op": "replace", "path": "/name", "value": "CUSTOM_RENAMED"},
                   {"op": "replace", "path": "/steps", "value": [step2]}]),
        ),
        200,
    );
    assert_eq!(p["name"], "CUSTOM_RENAMED");
    assert_eq!(p["steps"], json!([step2]));
    assert!(p["updated_at"].is_string());
    for bad in [
        json!([{"op": "remove", "path": "/steps/0"}]),
        json!([{"op": "remove", "path": "/steps"}]),
        json!([{"op": "remove", "path": "/name"}]),
        json!([{"op": "replace", "path": "/name", "value": ""}]),
        json!([{"op": "replace", "path": "/uuid", "value": "x"}]),
        json!([{"op": "replace", "path": "/steps/0/priority", "value": -1}]),
    ] {
        assert_eq!(bm.patch(&path, V, bad.clone()).status(), 400, "{bad}");
    }
    let r = bm.patch(&path, V, json!([{"op": "replace", "path": "/name", "value": "CUSTOM_TWO"}]));
    assert_eq!(r.status(), 409);
    assert_eq!(bm.patch("/v1/deploy_templates/fakedt", V, json!([])).status(), 404);

    // Delete (with the pre-1.91 suffix), then it is gone.
    assert_eq!(bm.delete(&format!("{path}.json"), "1.91").status(), 404);
    assert_eq!(bm.delete(&format!("{path}.json"), "1.90").status(), 204);
    assert_eq!(bm.get(&path, V).status(), 404);
}

fn runbooks(s: &TestServer) {
    let bm = Bm::system(s);
    const V: &str = "1.92";

    assert_eq!(bm.get("/v1/runbooks", "1.91").status(), 404);
    assert_eq!(bm.post("/v1/runbooks", "1.91", json!({})).status(), 405);
    assert_eq!(bm.delete("/v1/runbooks/x", "1.91").status(), 405);

    let r = bm.post("/v1/runbooks", V, json!({"name": "CUSTOM_RB", "steps": rb_steps(), "extra": {"k": "v"}}));
    assert!(r.headers().contains_key("location"));
    let rb = bm.expect(r, 201);
    let uuid = rb["uuid"].as_str().unwrap().to_string();
    assert_eq!(rb["public"], false);
    assert_eq!(rb["owner"], Value::Null);
    assert_eq!(rb["disable_ramdisk"], false);
    assert_eq!(rb["steps"], rb_steps());
    assert!(rb.get("description").is_none() && rb.get("traits").is_none(), "1.112 fields");
    let new = bm.ok(&format!("/v1/runbooks/{uuid}"), "1.115");
    assert_eq!(new["traits"], json!([]));
    assert_eq!(new["description"], Value::Null);

    // Names are trait-like before 1.112, logical names from it.
    assert_eq!(bm.post("/v1/runbooks", V, json!({"name": "rb-free", "steps": rb_steps()})).status(), 400);
    let free = bm.expect(
        bm.post("/v1/runbooks", "1.115", json!({"name": "rb-free", "description": "d", "steps": rb_steps()})),
        201,
    );
    assert_eq!(free["description"], "d");
    assert_eq!(bm.post("/v1/runbooks", V, json!({"name": "CUSTOM_RB", "steps": rb_steps()})).status(), 409);
    for bad in [
        json!({"name": "CUSTOM_Y", "steps": [{"invalid_key": "value"}]}),
        json!({"name": "CUSTOM_Y", "steps": {"key": "value"}}),
        json!({"name": "CUSTOM_Y", "steps": rb_steps(), "uuid": "malformed:uuid"}),
        json!({"name": "CUSTOM_Y", "steps": rb_steps(), "description": "only from 1.112"}),
        json!({"steps": rb_steps()}),
    ] {
        assert_eq!(bm.post("/v1/runbooks", V, bad.clone()).status(), 400, "{bad}");
    }

    // Listing and paging.
    let page = bm.ok("/v1/runbooks?limit=1", V);
    assert!(page["next"].as_str().unwrap().contains(&uuid));
    let detail = bm.ok("/v1/runbooks?detail=true", V);
    assert_eq!(detail["runbooks"].as_array().unwrap().len(), 2);
    assert_eq!(detail["runbooks"][0]["extra"], json!({"k": "v"}));
    assert_eq!(bm.get("/v1/runbooks?sort_key=traits", V).status(), 400);

    // Patching, including public/owner rules.
    let path = format!("/v1/runbooks/{uuid}");
    let more = json!({"interface": "bios", "step": "factory_reset", "args": {}, "order": 3});
    let p = bm.expect(bm.patch(&path, V, json!([{"op": "add", "path": "/steps/1", "value": more}])), 200);
    assert_eq!(p["steps"].as_array().unwrap().len(), 2);
    let p = bm.expect(bm.patch(&path, V, json!([{"op": "replace", "path": "/owner", "value": "p1"}])), 200);
    assert_eq!(p["owner"], "p1");
    let p = bm.expect(bm.patch(&path, V, json!([{"op": "replace", "path": "/public", "value": true}])), 200);
    assert_eq!((p["public"].clone(), p["owner"].clone()), (json!(true), Value::Null));
    let r = bm.patch(&path, V, json!([{"op": "replace", "path": "/owner", "value": "p2"}]));
    assert!(bm.error(r, 400).contains("There cannot be an owner for a public runbook"));
    assert_eq!(bm.patch(&path, V, json!([{"op": "replace", "path": "/description", "value": "x"}])).status(), 400);
    let p = bm.expect(bm.patch(&path, "1.115", json!([{"op": "replace", "path": "/description", "value": "x"}])), 200);
    assert_eq!(p["description"], "x");
    assert_eq!(bm.patch(&path, V, json!([{"op": "remove", "path": "/name"}])).status(), 400);
    assert_eq!(bm.patch("/v1/runbooks/fake_runbook", V, json!([])).status(), 404);

    // Traits, from 1.112.
    let traits = format!("{path}/traits");
    assert_eq!(bm.get(&traits, "1.111").status(), 404);
    assert_eq!(bm.put(&format!("{traits}/CUSTOM_T1"), "1.115", None).status(), 204);
    assert_eq!(bm.put(&format!("{traits}/bad-trait"), "1.115", None).status(), 400);
    assert_eq!(bm.ok(&traits, "1.115"), json!({"traits": ["CUSTOM_T1"]}));
    let r = bm.put(&traits, "1.115", Some(json!({"traits": ["CUSTOM_B", "CUSTOM_A", "CUSTOM_B"]})));
    assert_eq!(r.status(), 204);
    assert_eq!(bm.ok(&traits, "1.115"), json!({"traits": ["CUSTOM_A", "CUSTOM_B"]}));
    assert_eq!(bm.delete(&format!("{traits}/CUSTOM_A"), "1.115").status(), 204);
    assert_eq!(bm.ok(&path, "1.115")["traits"], json!(["CUSTOM_B"]));
    assert_eq!(bm.delete(&traits, "1.115").status(), 204);
    assert_eq!(bm.ok(&traits, "1.115"), json!({"traits": []}));

    // A project admin creates runbooks for its own project only, and may not
    // make them public or touch their ownership.
    let (token, tok) = token(s, project_scope("admin"));
    let project = tok["token"]["project"]["id"].as_str().unwrap().to_string();
    let proj = Bm { s, token };
    let r = proj.post("/v1/runbooks", V, json!({"name": "CUSTOM_PROJ", "steps": rb_steps(), "public": true}));
    assert_eq!(r.status(), 400);
    let r = proj.post("/v1/runbooks", V, json!({"name": "CUSTOM_PROJ", "steps": rb_steps(), "owner": "other"}));
    assert_eq!(r.status(), 400);
    let own = proj.expect(proj.post("/v1/runbooks", V, json!({"name": "CUSTOM_PROJ", "steps": rb_steps()})), 201);
    assert_eq!(own["owner"], project);
    let own_path = format!("/v1/runbooks/{}", own["uuid"].as_str().unwrap());
    let listed: Vec<String> = proj.ok("/v1/runbooks", V)["runbooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["uuid"].as_str().unwrap().to_string())
        .collect();
    // Its own and the public one; not the system's private one.
    assert!(listed.contains(&uuid) && listed.contains(&own["uuid"].as_str().unwrap().to_string()));
    assert!(!listed.contains(&free["uuid"].as_str().unwrap().to_string()));
    assert_eq!(proj.get(&format!("/v1/runbooks/{}", free["uuid"].as_str().unwrap()), V).status(), 403);
    assert_eq!(proj.patch(&own_path, V, json!([{"op": "replace", "path": "/public", "value": true}])).status(), 403);
    assert_eq!(proj.patch(&path, V, json!([{"op": "replace", "path": "/extra/x", "value": 1}])).status(), 403);
    let p = proj.expect(proj.patch(&own_path, V, json!([{"op": "add", "path": "/extra/x", "value": 1}])), 200);
    assert_eq!(p["extra"], json!({"x": 1}));
    assert_eq!(proj.delete(&path, V).status(), 403);
    assert_eq!(proj.delete(&own_path, V).status(), 204);

    assert_eq!(bm.delete(&path, V).status(), 204);
    assert_eq!(bm.get(&path, V).status(), 404);
}

on_both_backends!(deploy_templates, runbooks);
