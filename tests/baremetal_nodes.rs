//! Ironic v1 nodes: versions, field gating, listing, PATCH rules, the
//! lifecycle, node locks and project-scoped access, on every backend.

mod common;

use common::{ADMIN_PASSWORD, TestServer};
use reqwest::Method;
use reqwest::blocking::Response;
use serde_json::{Value, json};

const V: &str = "X-OpenStack-Ironic-API-Version";

fn call(s: &TestServer, token: &str, method: Method, path: &str, version: &str, body: Option<Value>) -> Response {
    let mut b =
        s.client.request(method, format!("{}{path}", s.baremetal)).header(V, version).header("X-Auth-Token", token);
    if let Some(body) = body {
        b = b.json(&body);
    }
    b.send().unwrap()
}

/// Asserts Ironic's error envelope; returns the inner fault.
fn ironic_error(r: Response, status: u16) -> Value {
    assert_eq!(r.status().as_u16(), status);
    assert!(r.headers().contains_key("x-openstack-ironic-api-maximum-version"));
    let body: Value = r.json().unwrap();
    let inner: Value =
        serde_json::from_str(body["error_message"].as_str().expect("error_message is a string")).unwrap();
    inner
}

fn system_token(s: &TestServer) -> String {
    s.token("admin", ADMIN_PASSWORD, json!({"system": {"all": true}})).0
}

fn create(s: &TestServer, t: &str, body: Value) -> Value {
    let r = call(s, t, Method::POST, "/v1/nodes", "1.115", Some(body));
    assert_eq!(r.status(), 201);
    assert!(r.headers()["location"].to_str().unwrap().contains("/v1/nodes/"));
    r.json().unwrap()
}

fn versions_and_gating(s: &TestServer) {
    let r = s.client.get(format!("{}/", s.baremetal)).send().unwrap();
    assert_eq!(r.headers()["x-openstack-ironic-api-minimum-version"], "1.1");
    assert_eq!(r.headers()["x-openstack-ironic-api-maximum-version"], "1.115");
    let root: Value = r.json().unwrap();
    assert_eq!(root["default_version"]["version"], "1.115");
    let t = system_token(s);
    let v1: Value = call(s, &t, Method::GET, "/v1", "1.1", None).json().unwrap();
    assert!(v1.get("nodes").is_some() && v1.get("portgroups").is_none());
    let v1: Value = call(s, &t, Method::GET, "/v1/", "1.115", None).json().unwrap();
    assert!(v1.get("portgroups").is_some() && v1.get("runbooks").is_some());
    // out of range, wrong major, garbage
    ironic_error(call(s, &t, Method::GET, "/v1/nodes", "1.200", None), 406);
    ironic_error(call(s, &t, Method::GET, "/v1/nodes", "2.0", None), 406);
    ironic_error(call(s, &t, Method::GET, "/v1/nodes", "foo", None), 400);
    // the standard header wins, and is echoed as the legacy one
    let r = s
        .client
        .get(format!("{}/v1/nodes", s.baremetal))
        .header("X-Auth-Token", &t)
        .header("OpenStack-API-Version", "baremetal 1.42")
        .send()
        .unwrap();
    assert_eq!(r.headers()[V], "1.42");
    // fields appear with their microversion; new nodes start in enroll from 1.11
    let n = create(s, &t, json!({"driver": "fake-hardware", "name": "gate-1", "resource_class": "gold"}));
    let uuid = n["uuid"].as_str().unwrap();
    assert_eq!(n["provision_state"], "enroll");
    assert_eq!(n["power_interface"], "fake");
    assert_eq!(n["storage_interface"], "noop");
    let old: Value = call(s, &t, Method::GET, &format!("/v1/nodes/{uuid}"), "1.20", None).json().unwrap();
    assert!(old.get("resource_class").is_none() && old.get("network_interface").is_some());
    assert!(old.get("traits").is_none());
    let r = call(s, &t, Method::GET, &format!("/v1/nodes/{uuid}?fields=resource_class"), "1.20", None);
    ironic_error(r, 406);
    let r = call(s, &t, Method::GET, &format!("/v1/nodes/{uuid}?fields=bogus"), "1.20", None);
    ironic_error(r, 400);
    // names need 1.5; a .json suffix addresses the node up to 1.90
    ironic_error(call(s, &t, Method::GET, "/v1/nodes/gate-1", "1.4", None), 400);
    assert_eq!(call(s, &t, Method::GET, "/v1/nodes/gate-1", "1.5", None).status(), 200);
    assert_eq!(call(s, &t, Method::GET, &format!("/v1/nodes/{uuid}.json"), "1.90", None).status(), 200);
    assert_eq!(call(s, &t, Method::GET, &format!("/v1/nodes/{uuid}.json"), "1.91", None).status(), 404);
    // a node made with an old version starts available (shown as null below 1.2)
    let r = call(s, &t, Method::POST, "/v1/nodes", "1.1", Some(json!({"driver": "fake-hardware"})));
    let legacy: Value = r.json().unwrap();
    assert!(legacy["provision_state"].is_null());
    let id = legacy["uuid"].as_str().unwrap();
    let now: Value = call(s, &t, Method::GET, &format!("/v1/nodes/{id}"), "1.115", None).json().unwrap();
    assert_eq!(now["provision_state"], "available");
    // unversioned (bookmark) paths are the v1 resources
    assert_eq!(call(s, &t, Method::GET, &format!("/nodes/{uuid}"), "1.115", None).status(), 200);
}

fn create_validation(s: &TestServer) {
    let t = system_token(s);
    let bad = [
        json!({"name": "no-driver"}),
        json!({"driver": "nope"}),
        json!({"driver": "fake-hardware", "foo": 1}),
        json!({"driver": "fake-hardware", "name": "has space"}),
        json!({"driver": "fake-hardware", "name": "detail"}),
        json!({"driver": "fake-hardware", "power_interface": "ipmitool"}),
        json!({"driver": "fake-hardware", "uuid": "not-a-uuid"}),
        json!({"driver": "fake-hardware", "chassis_uuid": "2a7b3c4d-0000-4000-8000-000000000001"}),
    ];
    for b in bad {
        let r = call(s, &t, Method::POST, "/v1/nodes", "1.115", Some(b.clone()));
        assert_eq!(r.status(), 400, "{b}");
    }
    create(s, &t, json!({"driver": "fake-hardware", "name": "dup"}));
    ironic_error(
        call(s, &t, Method::POST, "/v1/nodes", "1.115", Some(json!({"driver": "fake-hardware", "name": "dup"}))),
        409,
    );
    // a field newer than the request
    ironic_error(
        call(s, &t, Method::POST, "/v1/nodes", "1.20", Some(json!({"driver": "fake-hardware", "resource_class": "x"}))),
        406,
    );
    // secrets are never shown
    let n = create(
        s,
        &t,
        json!({"driver": "ipmi", "driver_info": {"ipmi_address": "10.0.0.1", "ipmi_password": "s3cret"}}),
    );
    assert_eq!(n["driver_info"]["ipmi_password"], "******");
    assert_eq!(n["driver_info"]["ipmi_address"], "10.0.0.1");
    assert_eq!(n["power_interface"], "ipmitool");
    let v: Value =
        call(s, &t, Method::GET, &format!("/v1/nodes/{}/validate", n["uuid"].as_str().unwrap()), "1.115", None)
            .json()
            .unwrap();
    assert_eq!(v["power"]["result"], true);
    assert_eq!(v["deploy"]["result"], false);
    assert!(v["deploy"]["reason"].as_str().unwrap().contains("deploy_kernel"));
}

fn listing(s: &TestServer) {
    let t = system_token(s);
    for i in 0..5 {
        create(
            s,
            &t,
            json!({"driver": "fake-hardware", "name": format!("list-{i}"), "resource_class": if i % 2 == 0 { "even" } else { "odd" }}),
        );
    }
    let page: Value = call(s, &t, Method::GET, "/v1/nodes?limit=2", "1.115", None).json().unwrap();
    let items = page["nodes"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    let keys: Vec<&str> = items[0].as_object().unwrap().keys().map(String::as_str).collect();
    for k in ["uuid", "name", "provision_state", "power_state", "maintenance", "instance_uuid", "links"] {
        assert!(keys.contains(&k), "{k} in {keys:?}");
    }
    assert!(!keys.contains(&"driver"));
    // follow `next` to the end: every node once, and no `next` on a short page
    let mut seen = Vec::new();
    let mut next = Some(format!("{}/v1/nodes?limit=2", s.baremetal));
    while let Some(url) = next {
        let p: Value = s.client.get(url).header(V, "1.115").header("X-Auth-Token", &t).send().unwrap().json().unwrap();
        for n in p["nodes"].as_array().unwrap() {
            seen.push(n["uuid"].as_str().unwrap().to_string());
        }
        next = p.get("next").and_then(Value::as_str).map(str::to_string);
    }
    let mut unique = seen.clone();
    unique.dedup();
    assert_eq!(seen.len(), 5);
    assert_eq!(unique.len(), 5);
    let odd: Value = call(s, &t, Method::GET, "/v1/nodes/detail?resource_class=odd", "1.115", None).json().unwrap();
    assert_eq!(odd["nodes"].as_array().unwrap().len(), 2);
    assert_eq!(odd["nodes"][0]["driver"], "fake-hardware");
    let sorted: Value =
        call(s, &t, Method::GET, "/v1/nodes?sort_key=name&sort_dir=desc&fields=name", "1.115", None).json().unwrap();
    let names: Vec<&str> = sorted["nodes"].as_array().unwrap().iter().map(|n| n["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["list-4", "list-3", "list-2", "list-1", "list-0"]);
    for bad in [
        "limit=0",
        "sort_dir=up",
        "sort_key=driver_info",
        "maintenance=maybe",
        "provision_state=nope",
        "foo=1",
        "fault=somefake",
    ] {
        let r = call(s, &t, Method::GET, &format!("/v1/nodes?{bad}"), "1.115", None);
        assert_eq!(r.status(), 400, "{bad}");
    }
    ironic_error(call(s, &t, Method::GET, "/v1/nodes?resource_class=odd", "1.20", None), 406);
    ironic_error(call(s, &t, Method::GET, "/v1/nodes?detail=true&fields=name", "1.115", None), 400);
}

fn patch_rules(s: &TestServer) {
    let t = system_token(s);
    let n = create(s, &t, json!({"driver": "fake-hardware", "name": "p1", "extra": {"a": 1}}));
    let path = format!("/v1/nodes/{}", n["uuid"].as_str().unwrap());
    let patch = |ops: Value| call(s, &t, Method::PATCH, &path, "1.115", Some(ops));
    let r =
        patch(json!([{"op": "add", "path": "/extra/b", "value": 2}, {"op": "replace", "path": "/name", "value": "p2"},
                        {"op": "add", "path": "/properties/cpus", "value": "8"}]));
    assert_eq!(r.status(), 200);
    let body: Value = r.json().unwrap();
    assert_eq!(body["extra"], json!({"a": 1, "b": 2}));
    assert_eq!(body["name"], "p2");
    assert_eq!(body["properties"]["cpus"], "8");
    for bad in [
        json!({"op": "replace"}),
        json!([{"op": "frob", "path": "/name", "value": "x"}]),
        json!([{"op": "replace", "path": "/uuid", "value": "x"}]),
        json!([{"op": "replace", "path": "/provision_state", "value": "active"}]),
        json!([{"op": "remove", "path": "/extra/nothere"}]),
        json!([{"op": "replace", "path": "/name", "value": "2a7b3c4d-0000-4000-8000-000000000001"}]),
        json!([{"op": "replace", "path": "/driver", "value": "ipmi"}]),
    ] {
        assert_eq!(patch(bad.clone()).status(), 400, "{bad}");
    }
    // an interface removed falls back to the hardware type's default
    let r = patch(json!([{"op": "replace", "path": "/deploy_interface", "value": "ramdisk"}]));
    assert_eq!(r.json::<Value>().unwrap()["deploy_interface"], "ramdisk");
    let r = patch(json!([{"op": "remove", "path": "/deploy_interface"}]));
    assert_eq!(r.json::<Value>().unwrap()["deploy_interface"], "fake");
    // protected only while active
    assert_eq!(patch(json!([{"op": "replace", "path": "/protected", "value": true}])).status(), 409);
}

fn lifecycle_and_locks(s: &TestServer) {
    let t = system_token(s);
    let n = create(s, &t, json!({"driver": "fake-hardware", "name": "life"}));
    let u = n["uuid"].as_str().unwrap().to_string();
    let prov = |target: &str| {
        call(s, &t, Method::PUT, &format!("/v1/nodes/{u}/states/provision"), "1.115", Some(json!({"target": target})))
    };
    let wait = |want: &str| {
        for _ in 0..100 {
            let n: Value = call(s, &t, Method::GET, &format!("/v1/nodes/{u}"), "1.115", None).json().unwrap();
            if n["provision_state"] == want && n["target_provision_state"].is_null() && n["reservation"].is_null() {
                return n;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        panic!("node did not reach {want}");
    };
    // not allowed from enroll
    let e = ironic_error(prov("provide"), 400);
    assert!(e["faultstring"].as_str().unwrap().contains("enroll"));
    ironic_error(prov("frobnicate"), 400);
    ironic_error(call(s, &t, Method::PUT, &format!("/v1/nodes/{u}/states/provision"), "1.115", Some(json!({}))), 400);
    let r = prov("manage");
    assert_eq!(r.status(), 202);
    assert!(r.headers()["location"].to_str().unwrap().ends_with(&format!("/v1/nodes/{u}/states")));
    wait("manageable");
    assert_eq!(prov("provide").status(), 202);
    wait("available");
    // verbs newer than the request
    ironic_error(
        call(s, &t, Method::PUT, &format!("/v1/nodes/{u}/states/provision"), "1.72", Some(json!({"target": "deploy"}))),
        406,
    );
    assert_eq!(prov("active").status(), 202);
    let active = wait("active");
    assert!(active["last_error"].is_null());
    // an active node cannot be deleted; protected ones cannot be undeployed
    ironic_error(call(s, &t, Method::DELETE, &format!("/v1/nodes/{u}"), "1.115", None), 409);
    let r = call(
        s,
        &t,
        Method::PATCH,
        &format!("/v1/nodes/{u}"),
        "1.115",
        Some(json!([{"op": "replace", "path": "/protected", "value": true}])),
    );
    assert_eq!(r.status(), 200);
    ironic_error(prov("deleted"), 403);
    call(
        s,
        &t,
        Method::PATCH,
        &format!("/v1/nodes/{u}"),
        "1.115",
        Some(json!([{"op": "replace", "path": "/protected", "value": false}])),
    );
    assert_eq!(prov("deleted").status(), 202);
    wait("available");
    // power
    let r =
        call(s, &t, Method::PUT, &format!("/v1/nodes/{u}/states/power"), "1.115", Some(json!({"target": "power on"})));
    assert_eq!(r.status(), 202);
    for _ in 0..100 {
        let st: Value = call(s, &t, Method::GET, &format!("/v1/nodes/{u}/states"), "1.115", None).json().unwrap();
        if st["power_state"] == "power on" && st["target_power_state"].is_null() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // history records every transition
    let h: Value = call(s, &t, Method::GET, &format!("/v1/nodes/{u}/history"), "1.115", None).json().unwrap();
    assert!(h["history"].as_array().unwrap().len() >= 10, "{h}");
    // traits
    assert_eq!(call(s, &t, Method::PUT, &format!("/v1/nodes/{u}/traits/CUSTOM_GOLD"), "1.115", None).status(), 204);
    assert_eq!(call(s, &t, Method::PUT, &format!("/v1/nodes/{u}/traits/gold"), "1.115", None).status(), 400);
    let tr: Value = call(s, &t, Method::GET, &format!("/v1/nodes/{u}/traits"), "1.115", None).json().unwrap();
    assert_eq!(tr["traits"], json!(["CUSTOM_GOLD"]));
    ironic_error(call(s, &t, Method::GET, &format!("/v1/nodes/{u}/traits"), "1.36", None), 406);
    assert_eq!(call(s, &t, Method::DELETE, &format!("/v1/nodes/{u}"), "1.115", None).status(), 204);
    ironic_error(call(s, &t, Method::GET, &format!("/v1/nodes/{u}"), "1.115", None), 404);
}

/// Slow fake hardware keeps the node locked while it works.
#[test]
fn node_locks() {
    let s = TestServer::start_with(common::Db::Sqlite, |c| c.fake.delay_ms = 1500).unwrap();
    let t = system_token(&s);
    let n = create(&s, &t, json!({"driver": "fake-hardware"}));
    let u = n["uuid"].as_str().unwrap();
    let r = call(
        &s,
        &t,
        Method::PUT,
        &format!("/v1/nodes/{u}/states/provision"),
        "1.115",
        Some(json!({"target": "manage"})),
    );
    assert_eq!(r.status(), 202);
    let busy: Value = call(&s, &t, Method::GET, &format!("/v1/nodes/{u}"), "1.115", None).json().unwrap();
    assert_eq!(busy["provision_state"], "verifying");
    assert_eq!(busy["target_provision_state"], "manageable");
    assert!(busy["reservation"].is_string());
    let e = ironic_error(
        call(
            &s,
            &t,
            Method::PUT,
            &format!("/v1/nodes/{u}/states/provision"),
            "1.115",
            Some(json!({"target": "provide"})),
        ),
        409,
    );
    assert!(e["faultstring"].as_str().unwrap().contains("is locked by host"));
    ironic_error(
        call(
            &s,
            &t,
            Method::PATCH,
            &format!("/v1/nodes/{u}"),
            "1.115",
            Some(json!([{"op": "add", "path": "/extra/x", "value": 1}])),
        ),
        409,
    );
    ironic_error(call(&s, &t, Method::DELETE, &format!("/v1/nodes/{u}"), "1.115", None), 409);
}

/// The document describes every node route, offers the hardware types this
/// conductor serves, and a node path answers an unserved method with 405.
#[test]
fn node_document_and_methods() {
    let s = TestServer::start_with(common::Db::Sqlite, |_| {}).unwrap();
    let t = system_token(&s);
    let doc: Value = s.client.get(format!("{}/openapi.json", s.baremetal)).send().unwrap().json().unwrap();
    for (path, method, id) in [
        ("/v1/nodes", "post", "nodes.create"),
        ("/v1/nodes/detail", "get", "nodes.detail"),
        ("/v1/nodes/{node}", "patch", "nodes.update"),
        ("/v1/chassis/{chassis}/nodes/detail", "get", "nodes.chassis_nodes_detail"),
        ("/v1/nodes/{node}/vifs/{vif}", "delete", "node_extras.vif_detach"),
        ("/v1/nodes/{node}/inventory", "get", "node_extras.inventory"),
    ] {
        assert_eq!(doc["paths"][path][method]["operationId"], id, "{method} {path}");
    }
    let offered = &doc["components"]["schemas"]["NodeCreate"]["properties"]["driver"]["enum"];
    let drivers: Value = call(&s, &t, Method::GET, "/v1/drivers", "1.115", None).json().unwrap();
    let mut served: Vec<&str> =
        drivers["drivers"].as_array().unwrap().iter().map(|d| d["name"].as_str().unwrap()).collect();
    served.sort();
    let mut offered: Vec<&str> = offered.as_array().unwrap().iter().map(|d| d.as_str().unwrap()).collect();
    offered.sort();
    assert_eq!(offered, served);
    assert!(doc["components"]["schemas"]["Node"].get("required").is_none(), "fields select a node's fields");

    let u = create(&s, &t, json!({"driver": "fake-hardware"}))["uuid"].as_str().unwrap().to_string();
    for (method, path) in [
        (Method::PUT, format!("/v1/nodes/{u}/vifs")),
        (Method::POST, format!("/v1/nodes/{u}/bios")),
        (Method::POST, "/v1/nodes/detail".to_string()),
        (Method::DELETE, format!("/v1/chassis/{u}/nodes")),
    ] {
        assert_eq!(call(&s, &t, method.clone(), &path, "1.115", None).status(), 405, "{method} {path}");
    }
    // PUT /vmedia is hidden below 1.89 and never served
    assert_eq!(call(&s, &t, Method::PUT, &format!("/v1/nodes/{u}/vmedia"), "1.88", None).status(), 404);
    assert_eq!(call(&s, &t, Method::PUT, &format!("/v1/nodes/{u}/vmedia"), "1.89", None).status(), 405);
    let vifs: Value = call(&s, &t, Method::GET, &format!("/v1/nodes/{u}/vifs"), "1.115", None).json().unwrap();
    assert_eq!(vifs, json!({"vifs": []}));
    ironic_error(call(&s, &t, Method::DELETE, &format!("/v1/nodes/{u}/vifs/"), "1.115", None), 400);
}

fn project_scoped_access(s: &TestServer) {
    let admin = s.admin_token();
    let sys = system_token(s);
    let call_id = |method: Method, path: &str, body: Value| {
        s.client.request(method, s.url(path)).header("X-Auth-Token", &admin).json(&body).send().unwrap()
    };
    let p: Value =
        call_id(Method::POST, "/v3/projects", json!({"project": {"name": "tenant-a", "domain_id": "default"}}))
            .json()
            .unwrap();
    let pid = p["project"]["id"].as_str().unwrap().to_string();
    let u: Value = call_id(
        Method::POST,
        "/v3/users",
        json!({"user": {"name": "tenant-a-user", "domain_id": "default", "password": "pw"}}),
    )
    .json()
    .unwrap();
    let uid = u["user"]["id"].as_str().unwrap().to_string();
    let roles: Value = s.get("/v3/roles?name=member").header("X-Auth-Token", &admin).send().unwrap().json().unwrap();
    let member = roles["roles"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        call_id(Method::PUT, &format!("/v3/projects/{pid}/users/{uid}/roles/{member}"), json!(null)).status(),
        204
    );
    let tenant = s.token("tenant-a-user", "pw", json!({"project": {"id": pid}})).0;

    let mine = create(
        s,
        &sys,
        json!({"driver": "fake-hardware", "name": "owned", "owner": pid, "driver_info": {"secret_thing": "x"}}),
    );
    let other = create(s, &sys, json!({"driver": "fake-hardware", "name": "not-owned"}));
    let list: Value = call(s, &tenant, Method::GET, "/v1/nodes", "1.115", None).json().unwrap();
    let names: Vec<&str> = list["nodes"].as_array().unwrap().iter().map(|n| n["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["owned"]);
    assert_eq!(
        call(s, &tenant, Method::GET, &format!("/v1/nodes/{}", mine["uuid"].as_str().unwrap()), "1.115", None).status(),
        200
    );
    // a node the project neither owns nor leases is concealed
    ironic_error(
        call(s, &tenant, Method::GET, &format!("/v1/nodes/{}", other["uuid"].as_str().unwrap()), "1.115", None),
        404,
    );
    // members may not enrol or delete nodes
    ironic_error(call(s, &tenant, Method::POST, "/v1/nodes", "1.115", Some(json!({"driver": "fake-hardware"}))), 403);
    ironic_error(
        call(s, &tenant, Method::DELETE, &format!("/v1/nodes/{}", mine["uuid"].as_str().unwrap()), "1.115", None),
        403,
    );
    // no token: 401 with the identity URL
    let r = s.client.get(format!("{}/v1/nodes", s.baremetal)).send().unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"].to_str().unwrap().contains("/v3"));
}

on_both_backends!(
    versions_and_gating,
    create_validation,
    listing,
    patch_rules,
    lifecycle_and_locks,
    project_scoped_access
);
