//! The compute service (Nova v2.1) over HTTP: version documents and
//! microversion headers, flavors with their extra specs and access lists,
//! and keypairs, on SQLite and PostgreSQL.

mod common;

use common::TestServer;
use reqwest::Method;
use reqwest::blocking::Response;
use serde_json::{Value, json};

/// A caller of the compute API with one token and one microversion.
struct Nova<'a> {
    s: &'a TestServer,
    token: String,
    version: &'static str,
}

impl<'a> Nova<'a> {
    fn new(s: &'a TestServer, token: String) -> Self {
        Nova { s, token, version: "2.1" }
    }

    fn at(&self, version: &'static str) -> Nova<'a> {
        Nova { s: self.s, token: self.token.clone(), version }
    }

    fn call(&self, method: Method, path: &str, body: Option<Value>) -> Response {
        let mut r = self
            .s
            .client
            .request(method, format!("{}/v2.1{path}", self.s.compute))
            .header("X-Auth-Token", &self.token)
            .header("X-OpenStack-Nova-API-Version", self.version);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let res = r.send().expect("request");
        let echoed = res.headers().get("x-openstack-nova-api-version").map(|v| v.to_str().unwrap().to_string());
        if res.status() != 406 {
            assert_eq!(echoed.as_deref(), Some(self.version), "{path}: version echoed");
        }
        res
    }

    fn get(&self, path: &str) -> Value {
        let r = self.call(Method::GET, path, None);
        let status = r.status();
        let v: Value = r.json().unwrap();
        assert_eq!(status, 200, "GET {path}: {v}");
        v
    }

    fn post(&self, path: &str, body: Value) -> Response {
        self.call(Method::POST, path, Some(body))
    }

    fn put(&self, path: &str, body: Value) -> Response {
        self.call(Method::PUT, path, Some(body))
    }

    fn delete(&self, path: &str) -> Response {
        self.call(Method::DELETE, path, None)
    }

    fn flavor(&self, body: Value) -> Value {
        let r = self.post("/flavors", json!({ "flavor": body }));
        let status = r.status();
        let v: Value = r.json().unwrap();
        assert_eq!(status, 200, "create flavor: {v}");
        v["flavor"].clone()
    }
}

/// Asserts Nova's envelope `{"<key>": {"code", "message"}}`; returns the message.
fn fault(r: Response, status: u16, key: &str) -> String {
    assert_eq!(r.status().as_u16(), status, "status");
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let body: Value = r.json().expect("error body is JSON");
    assert_eq!(body[key]["code"], status, "{body}");
    body[key]["message"].as_str().expect("message").to_string()
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

fn versions_and_headers(s: &TestServer) {
    let r = s.client.get(format!("{}/", s.compute)).send().unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-openstack-nova-api-version"], "2.1");
    let root: Value = r.json().unwrap();
    let v21 = &root["versions"][1];
    assert_eq!(v21["id"], "v2.1");
    assert_eq!(v21["version"], "2.104");
    assert_eq!(v21["min_version"], "2.1");
    assert_eq!(v21["links"][0]["href"], format!("{}/v2.1/", s.compute));
    assert_eq!(root["versions"][0]["status"], "DEPRECATED");
    for path in ["/v2.1", "/v2.1/"] {
        let r = s.client.get(format!("{}{path}", s.compute)).send().unwrap();
        assert_eq!(r.status(), 200);
        let doc: Value = r.json().unwrap();
        assert_eq!(doc["version"]["status"], "CURRENT");
        assert_eq!(doc["version"]["media-types"][0]["base"], "application/json");
        assert_eq!(doc["version"]["links"][1]["rel"], "describedby");
    }
    // both headers, `latest`, the standard header winning, Vary, request ids
    let r = s
        .client
        .get(format!("{}/v2.1", s.compute))
        .header("OpenStack-API-Version", "compute 2.61")
        .header("X-OpenStack-Nova-API-Version", "2.10")
        .send()
        .unwrap();
    assert_eq!(r.headers()["openstack-api-version"], "compute 2.61");
    assert_eq!(r.headers()["x-openstack-nova-api-version"], "2.61");
    assert!(r.headers()["vary"].to_str().unwrap().contains("X-OpenStack-Nova-API-Version"));
    assert!(r.headers()["x-compute-request-id"].to_str().unwrap().starts_with("req-"));
    assert!(r.headers().contains_key("x-openstack-request-id"));
    let r =
        s.client.get(format!("{}/v2.1", s.compute)).header("X-OpenStack-Nova-API-Version", "latest").send().unwrap();
    assert_eq!(r.headers()["x-openstack-nova-api-version"], "2.104");
    for bad in ["2.200", "3.0", "2.0"] {
        let r = s
            .client
            .get(format!("{}/v2.1/flavors", s.compute))
            .header("X-OpenStack-Nova-API-Version", bad)
            .send()
            .unwrap();
        assert!(r.headers().contains_key("vary"));
        let m = fault(r, 406, "computeFault");
        assert_eq!(m, format!("Version {bad} is not supported by the API. Minimum is 2.1 and maximum is 2.104."));
    }
    let r = s.client.get(format!("{}/v2.1", s.compute)).header("X-OpenStack-Nova-API-Version", "abc").send().unwrap();
    fault(r, 400, "badRequest");
    // no token: keystonemiddleware's 401, still versioned
    let r = s.client.get(format!("{}/v2.1/flavors", s.compute)).send().unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["x-openstack-nova-api-version"], "2.1");
    assert!(r.headers().contains_key("www-authenticate"));
    // an unknown path: Nova's envelope, headers stamped
    let admin = Nova::new(s, s.admin_token());
    let r = admin.call(Method::GET, "/no-such-thing", None);
    fault(r, 404, "itemNotFound");
}

const V21_DETAIL: &[&str] = &[
    "OS-FLV-DISABLED:disabled",
    "OS-FLV-EXT-DATA:ephemeral",
    "disk",
    "id",
    "links",
    "name",
    "os-flavor-access:is_public",
    "ram",
    "rxtx_factor",
    "swap",
    "vcpus",
];

fn flavor_crud_and_microversions(s: &TestServer) {
    let admin = Nova::new(s, s.admin_token());
    let f = admin.flavor(json!({"name": "bm.small", "ram": 1024, "vcpus": 2, "disk": 10, "id": 42}));
    assert_eq!(keys(&f), V21_DETAIL);
    assert_eq!(f["id"], "42");
    assert_eq!(f["swap"], "");
    assert_eq!(f["rxtx_factor"], 1.0);
    assert_eq!(f["os-flavor-access:is_public"], true);
    assert_eq!(f["links"][0]["href"], format!("{}/v2.1/flavors/42", s.compute));
    assert_eq!(f["links"][1]["href"], format!("{}/flavors/42", s.compute));

    // string numbers, null id -> uuid, is_public as a string
    let g = admin.flavor(
        json!({"name": "bm.str", "ram": "2048", "vcpus": "1", "disk": "0", "id": null, "os-flavor-access:is_public": "false", "swap": 512}),
    );
    assert_eq!(g["ram"], 2048);
    assert_eq!(g["swap"], 512);
    assert_eq!(g["os-flavor-access:is_public"], false);
    assert_eq!(g["id"].as_str().unwrap().len(), 36);

    // duplicates and bad input
    let m = fault(
        admin.post("/flavors", json!({"flavor": {"name": "bm.small", "ram": 1, "vcpus": 1, "disk": 1}})),
        409,
        "conflictingRequest",
    );
    assert_eq!(m, "Flavor with name bm.small already exists.");
    let m = fault(
        admin.post("/flavors", json!({"flavor": {"name": "other", "ram": 1, "vcpus": 1, "disk": 1, "id": "42"}})),
        409,
        "conflictingRequest",
    );
    assert_eq!(m, "Flavor with ID 42 already exists.");
    for bad in [
        json!({"flavor": {"name": "x", "vcpus": 1, "disk": 1}}),
        json!({"flavor": {"name": "x", "ram": 0, "vcpus": 1, "disk": 1}}),
        json!({"flavor": {"name": "x", "ram": "abc", "vcpus": 1, "disk": 1}}),
        json!({"flavor": {"name": " x", "ram": 1, "vcpus": 1, "disk": 1}}),
        json!({"flavor": {"name": "x", "ram": 1, "vcpus": 1, "disk": 1, "id": "a/b"}}),
        json!({"flavor": {"name": "x", "ram": 1, "vcpus": 1, "disk": 1, "description": "not before 2.55"}}),
        json!({"flavor": {"name": "x", "ram": 1, "vcpus": 1, "disk": 1, "bogus": 1}}),
        json!({"nope": {}}),
    ] {
        fault(admin.post("/flavors", bad), 400, "badRequest");
    }
    let r = admin
        .s
        .client
        .post(format!("{}/v2.1/flavors", s.compute))
        .header("X-Auth-Token", &admin.token)
        .body("{not json")
        .send()
        .unwrap();
    assert_eq!(fault(r, 400, "badRequest"), "Malformed request body");

    // 2.55: description, PUT; 2.54: PUT is not there
    let v55 = admin.at("2.55");
    let d = v55.flavor(json!({"name": "bm.desc", "ram": 512, "vcpus": 1, "disk": 5, "description": "gold nodes"}));
    assert_eq!(d["description"], "gold nodes");
    assert!(d.get("extra_specs").is_none());
    let brief = v55.get("/flavors");
    assert!(brief["flavors"].as_array().unwrap().iter().all(|f| keys(f) == ["description", "id", "links", "name"]));
    let r = v55.put(&format!("/flavors/{}", d["id"].as_str().unwrap()), json!({"flavor": {"description": null}}));
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().unwrap()["flavor"]["description"], Value::Null);
    fault(admin.at("2.54").put("/flavors/42", json!({"flavor": {"description": "x"}})), 404, "itemNotFound");
    fault(v55.put("/flavors/42", json!({"flavor": {"name": "x"}})), 400, "badRequest");
    fault(v55.put("/flavors/nope", json!({"flavor": {"description": "x"}})), 404, "itemNotFound");

    // 2.61: extra specs inline; 2.75: swap 0; 2.102: fields gone, rxtx refused
    let v61 = admin.at("2.61");
    let f61 = v61.get("/flavors/42")["flavor"].clone();
    assert_eq!(f61["extra_specs"], json!({}));
    assert_eq!(f61["swap"], "");
    assert_eq!(admin.at("2.75").get("/flavors/42")["flavor"]["swap"], 0);
    let f102 = admin.at("2.102").get("/flavors/42")["flavor"].clone();
    assert!(f102.get("rxtx_factor").is_none() && f102.get("OS-FLV-DISABLED:disabled").is_none());
    assert_eq!(f102["swap"], 0);
    fault(
        admin
            .at("2.102")
            .post("/flavors", json!({"flavor": {"name": "r", "ram": 1, "vcpus": 1, "disk": 1, "rxtx_factor": 2.0}})),
        400,
        "badRequest",
    );
    let latest = admin.at("2.104").flavor(json!({"name": "bm.new", "ram": 1, "vcpus": 1, "disk": 1}));
    assert_eq!(
        keys(&latest),
        [
            "OS-FLV-EXT-DATA:ephemeral",
            "description",
            "disk",
            "extra_specs",
            "id",
            "links",
            "name",
            "os-flavor-access:is_public",
            "ram",
            "swap",
            "vcpus"
        ]
    );

    // name lookups 404 so that clients fall back to listing
    let m = fault(admin.call(Method::GET, "/flavors/bm.gold", None), 404, "itemNotFound");
    assert_eq!(m, "Flavor bm.gold could not be found.");

    // delete: 202, then gone
    let r = admin.delete("/flavors/42");
    assert_eq!(r.status(), 202);
    fault(admin.delete("/flavors/42"), 404, "itemNotFound");
    fault(admin.call(Method::GET, "/flavors/42", None), 404, "itemNotFound");
}

fn flavor_filters_and_paging(s: &TestServer) {
    let admin = Nova::new(s, s.admin_token());
    for (id, ram, disk) in [("1", 512, 1), ("2", 1024, 10), ("3", 2048, 20), ("4", 4096, 40)] {
        admin.flavor(json!({"name": format!("f{id}"), "ram": ram, "vcpus": 1, "disk": disk, "id": id}));
    }
    admin.flavor(
        json!({"name": "secret", "ram": 8192, "vcpus": 1, "disk": 80, "id": "5", "os-flavor-access:is_public": false}),
    );
    let ids = |v: &Value| -> Vec<String> {
        v["flavors"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(ids(&admin.get("/flavors/detail")), ["1", "2", "3", "4"]);
    assert_eq!(ids(&admin.get("/flavors/detail?is_public=None")), ["1", "2", "3", "4", "5"]);
    for s in ["false", "f", "no", "0"] {
        assert_eq!(ids(&admin.get(&format!("/flavors/detail?is_public={s}"))), ["5"], "{s}");
    }
    for s in ["true", "t", "yes", "1"] {
        assert_eq!(ids(&admin.get(&format!("/flavors/detail?is_public={s}"))), ["1", "2", "3", "4"], "{s}");
    }
    fault(admin.call(Method::GET, "/flavors?is_public=maybe", None), 400, "badRequest");
    assert_eq!(ids(&admin.get("/flavors?minRam=1024&minDisk=20")), ["3", "4"]);
    assert_eq!(
        fault(admin.call(Method::GET, "/flavors?minRam=abc", None), 400, "badRequest"),
        "Invalid minRam filter [abc]"
    );
    assert_eq!(ids(&admin.get("/flavors?sort_key=memory_mb&sort_dir=desc")), ["4", "3", "2", "1"]);
    fault(admin.call(Method::GET, "/flavors?sort_key=bogus", None), 400, "badRequest");
    fault(admin.call(Method::GET, "/flavors?sort_dir=up", None), 400, "badRequest");

    let page = admin.get("/flavors/detail?limit=2");
    assert_eq!(ids(&page), ["1", "2"]);
    let next = page["flavors_links"][0]["href"].as_str().unwrap();
    assert_eq!(page["flavors_links"][0]["rel"], "next");
    assert!(next.starts_with(&format!("{}/v2.1/flavors/detail?", s.compute)), "{next}");
    assert!(next.contains("limit=2") && next.ends_with("marker=2"), "{next}");
    let page2 = admin.get("/flavors/detail?limit=2&marker=2");
    assert_eq!(ids(&page2), ["3", "4"]);
    let page3 = admin.get("/flavors/detail?limit=2&marker=4");
    assert_eq!(ids(&page3), Vec::<String>::new());
    assert!(page3.get("flavors_links").is_none());
    assert_eq!(ids(&admin.get("/flavors?sort_dir=desc&marker=3")), ["2", "1"]);
    assert_eq!(
        fault(admin.call(Method::GET, "/flavors?marker=nope", None), 400, "badRequest"),
        "marker [nope] not found"
    );

    // unknown parameters: ignored before 2.75, refused from it; name at 2.102
    assert_eq!(ids(&admin.get("/flavors?foo=bar")).len(), 4);
    fault(admin.at("2.75").call(Method::GET, "/flavors?foo=bar", None), 400, "badRequest");
    fault(admin.at("2.75").call(Method::GET, "/flavors?name=f1", None), 400, "badRequest");
    assert_eq!(ids(&admin.at("2.102").get("/flavors?name=f3")), ["3"]);

    // non-admins: public flavors plus private ones shared with their project
    let (pid, member) = s.project_user("tenant-a", "alice", "member");
    let alice = Nova::new(s, member);
    assert_eq!(ids(&alice.get("/flavors/detail?is_public=None")), ["1", "2", "3", "4"]);
    fault(alice.call(Method::GET, "/flavors/5", None), 404, "itemNotFound");
    let r = admin.post("/flavors/5/action", json!({"addTenantAccess": {"tenant": pid}}));
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().unwrap(), json!({"flavor_access": [{"flavor_id": "5", "tenant_id": pid}]}));
    assert_eq!(ids(&alice.get("/flavors/detail")), ["1", "2", "3", "4", "5"]);
    assert_eq!(alice.get("/flavors/5")["flavor"]["name"], "secret");
    assert_eq!(ids(&admin.get("/flavors/detail")), ["1", "2", "3", "4"], "the admin project has no access");
}

fn flavor_policy(s: &TestServer) {
    let admin = Nova::new(s, s.admin_token());
    admin.flavor(json!({"name": "pub", "ram": 1, "vcpus": 1, "disk": 1, "id": "p"}));
    let (_, token) = s.project_user("tenant-b", "bob", "member");
    let bob = Nova::new(s, token);
    let m = fault(
        bob.post("/flavors", json!({"flavor": {"name": "x", "ram": 1, "vcpus": 1, "disk": 1}})),
        403,
        "forbidden",
    );
    assert_eq!(m, "Policy doesn't allow os_compute_api:os-flavor-manage:create to be performed.");
    fault(bob.delete("/flavors/p"), 403, "forbidden");
    fault(bob.at("2.55").put("/flavors/p", json!({"flavor": {"description": "x"}})), 403, "forbidden");
    fault(bob.post("/flavors/p/os-extra_specs", json!({"extra_specs": {"a": "b"}})), 403, "forbidden");
    fault(bob.put("/flavors/p/os-extra_specs/a", json!({"a": "b"})), 403, "forbidden");
    fault(bob.delete("/flavors/p/os-extra_specs/a"), 403, "forbidden");
    fault(bob.post("/flavors/p/action", json!({"addTenantAccess": {"tenant": "x"}})), 403, "forbidden");
    fault(bob.post("/flavors/p/action", json!({"removeTenantAccess": {"tenant": "x"}})), 403, "forbidden");
    fault(bob.call(Method::GET, "/flavors/p/os-flavor-access", None), 403, "forbidden");
    assert_eq!(bob.get("/flavors/p")["flavor"]["name"], "pub");
    assert_eq!(bob.get("/flavors/p/os-extra_specs"), json!({"extra_specs": {}}));
}

fn extra_specs(s: &TestServer) {
    let admin = Nova::new(s, s.admin_token());
    admin.flavor(json!({"name": "bm.gold", "ram": 1, "vcpus": 1, "disk": 1, "id": "g"}));
    let specs = json!({"resources:CUSTOM_BAREMETAL_GOLD": "1", "resources:VCPU": "0", "hw:cpu_policy": "shared"});
    let r = admin.post("/flavors/g/os-extra_specs", json!({"extra_specs": specs}));
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().unwrap()["extra_specs"], specs);
    let r = admin.post("/flavors/g/os-extra_specs", json!({"extra_specs": {"trait:CUSTOM_RAID": "required", "n": 5}}));
    assert_eq!(r.json::<Value>().unwrap()["extra_specs"]["n"], "5");
    let all = admin.get("/flavors/g/os-extra_specs")["extra_specs"].clone();
    assert_eq!(all.as_object().unwrap().len(), 5);
    assert_eq!(admin.get("/flavors/g/os-extra_specs/resources:VCPU"), json!({"resources:VCPU": "0"}));
    let m = fault(admin.call(Method::GET, "/flavors/g/os-extra_specs/nokey", None), 404, "itemNotFound");
    assert_eq!(m, "Flavor g has no extra specs with key nokey.");
    let r = admin.put("/flavors/g/os-extra_specs/resources:VCPU", json!({"resources:VCPU": "2"}));
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().unwrap(), json!({"resources:VCPU": "2"}));
    let m =
        fault(admin.put("/flavors/g/os-extra_specs/resources:VCPU", json!({"hw:cpu_policy": "x"})), 400, "badRequest");
    assert_eq!(m, "Request body and URI mismatch");
    fault(admin.put("/flavors/g/os-extra_specs/n", json!({"n": "1", "m": "2"})), 400, "badRequest");
    let r = admin.delete("/flavors/g/os-extra_specs/n");
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().unwrap().len(), 0);
    fault(admin.delete("/flavors/g/os-extra_specs/n"), 404, "itemNotFound");
    fault(admin.call(Method::GET, "/flavors/none/os-extra_specs", None), 404, "itemNotFound");
    fault(admin.post("/flavors/g/os-extra_specs", json!({"extra_specs": {"bad/key": "x"}})), 400, "badRequest");
    fault(admin.post("/flavors/g/os-extra_specs", json!({"extra_specs": {"k": "x".repeat(256)}})), 400, "badRequest");
    // shown inline from 2.61
    assert_eq!(admin.at("2.61").get("/flavors/g")["flavor"]["extra_specs"]["resources:VCPU"], "2");

    // 2.86 validates known namespaces; earlier versions store anything
    admin.post("/flavors/g/os-extra_specs", json!({"extra_specs": {"trait:CUSTOM_Y": "maybe"}}));
    let v86 = admin.at("2.86");
    let m = fault(
        v86.post("/flavors/g/os-extra_specs", json!({"extra_specs": {"trait:CUSTOM_Y": "maybe"}})),
        400,
        "badRequest",
    );
    assert_eq!(m, "Validation failed; 'maybe' is not one of: required, forbidden.");
    fault(v86.post("/flavors/g/os-extra_specs", json!({"extra_specs": {"hw:cpu_policy": "bogus"}})), 400, "badRequest");
    fault(v86.post("/flavors/g/os-extra_specs", json!({"extra_specs": {"resources:VCPU": "one"}})), 400, "badRequest");
    fault(v86.put("/flavors/g/os-extra_specs/trait:CUSTOM_Z", json!({"trait:CUSTOM_Z": "often"})), 400, "badRequest");
    let ok = json!({"extra_specs": {"mynamespace:foo": "bar", "resources:VCPU": "-1", "trait:CUSTOM_Z": "forbidden", "hw:numa_nodes": "1"}});
    assert_eq!(v86.post("/flavors/g/os-extra_specs", ok).status(), 200);
}

fn flavor_access(s: &TestServer) {
    let admin = Nova::new(s, s.admin_token());
    admin.flavor(
        json!({"name": "priv", "ram": 1, "vcpus": 1, "disk": 1, "id": "pv", "os-flavor-access:is_public": false}),
    );
    admin.flavor(json!({"name": "pub", "ram": 1, "vcpus": 1, "disk": 1, "id": "pb"}));
    let (pid, _) = s.project_user("tenant-c", "carol", "member");
    assert_eq!(admin.get("/flavors/pv/os-flavor-access"), json!({"flavor_access": []}));
    let m = fault(admin.call(Method::GET, "/flavors/pb/os-flavor-access", None), 404, "itemNotFound");
    assert_eq!(m, "Access list not available for public flavors.");
    let r = admin.post("/flavors/pv/action", json!({"addTenantAccess": {"tenant": pid}}));
    assert_eq!(r.status(), 200);
    fault(admin.post("/flavors/pv/action", json!({"addTenantAccess": {"tenant": pid}})), 409, "conflictingRequest");
    let m = fault(admin.post("/flavors/pv/action", json!({"addTenantAccess": {"tenant": "nope"}})), 400, "badRequest");
    assert_eq!(m, "Project ID nope is not a valid project.");
    fault(admin.post("/flavors/none/action", json!({"addTenantAccess": {"tenant": pid}})), 404, "itemNotFound");
    assert_eq!(admin.get("/flavors/pv/os-flavor-access")["flavor_access"][0]["tenant_id"], pid);
    let r = admin.post("/flavors/pv/action", json!({"removeTenantAccess": {"tenant": pid}}));
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().unwrap(), json!({"flavor_access": []}));
    fault(admin.post("/flavors/pv/action", json!({"removeTenantAccess": {"tenant": pid}})), 404, "itemNotFound");
    fault(
        admin.post("/flavors/pv/action", json!({"removeTenantAccess": {"tenant": "never-there"}})),
        404,
        "itemNotFound",
    );
    fault(admin.post("/flavors/pv/action", json!({"shelve": null})), 400, "badRequest");
    // deleting a flavor drops its specs and access rows
    admin.post("/flavors/pv/action", json!({"addTenantAccess": {"tenant": pid}}));
    assert_eq!(admin.delete("/flavors/pv").status(), 202);
}

const RSA_PUB: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCs\
Ne3/1ILNCqFyfYWDeTKLD6jEXC2OQHLmietMWW+/vd\
aZq7KZEwO0jhglaFjU1mpqq4Gz5RX156sCTNM9vRbw\
KAxfsdF9laBYVsex3m3Wmui3uYrKyumsoJn2g9GNnG1P\
I1mrVjZ61i0GY3khna+wzlTpCCmy5HNlrmbj3XLqBUpip\
TOXmsnr4sChzC53KCd8LXuwc1i/CZPvF+3XipvAgFSE53pCt\
LOeB1kYMOBaiUPLQTWXR3JpckqFIQwhIH0zoHlJvZE8hh90\
XcPojYN56tI0OlrGqojbediJYD0rUsJu4weZpbn8vilb3JuDY+jws\
snSA8wzBx3A/8y9Pp1B nova@ubuntu";

fn keypairs(s: &TestServer) {
    let (_, token) = s.project_user("tenant-k", "kim", "member");
    let kim = Nova::new(s, token);
    // import at 2.1: 200, no type, MD5 fingerprint of the blob
    let r = kim.post("/os-keypairs", json!({"keypair": {"name": "imported", "public_key": RSA_PUB}}));
    assert_eq!(r.status(), 200);
    let kp = r.json::<Value>().unwrap()["keypair"].clone();
    assert_eq!(keys(&kp), ["fingerprint", "name", "public_key", "user_id"]);
    let fp = kp["fingerprint"].as_str().unwrap();
    assert_eq!(fp.len(), 47);
    assert_eq!(fp.matches(':').count(), 15);
    // generated at 2.1
    let r = kim.post("/os-keypairs", json!({"keypair": {"name": "made"}}));
    assert_eq!(r.status(), 200);
    let made = r.json::<Value>().unwrap()["keypair"].clone();
    assert!(made["private_key"].as_str().unwrap().contains("PRIVATE KEY"));
    assert!(made["public_key"].as_str().unwrap().starts_with("ssh-"));
    // 2.2: 201 and type; x509 generation
    let v22 = kim.at("2.2");
    let r = v22.post("/os-keypairs", json!({"keypair": {"name": "cert", "type": "x509"}}));
    assert_eq!(r.status(), 201);
    let cert = r.json::<Value>().unwrap()["keypair"].clone();
    assert_eq!(cert["type"], "x509");
    assert!(cert["public_key"].as_str().unwrap().starts_with("-----BEGIN CERTIFICATE-----"));
    assert_eq!(cert["fingerprint"].as_str().unwrap().len(), 59);
    // x509 import of that certificate
    let r = v22
        .post("/os-keypairs", json!({"keypair": {"name": "cert2", "type": "x509", "public_key": cert["public_key"]}}));
    assert_eq!(r.status(), 201);
    assert_eq!(r.json::<Value>().unwrap()["keypair"]["fingerprint"], cert["fingerprint"]);
    // 2.92: import only
    fault(kim.at("2.92").post("/os-keypairs", json!({"keypair": {"name": "gen92"}})), 400, "badRequest");
    let r = kim.at("2.92").post("/os-keypairs", json!({"keypair": {"name": "key@host.x", "public_key": RSA_PUB}}));
    assert_eq!(r.status(), 201);

    // bad input, duplicates
    for bad in [
        json!({"keypair": {"name": "x", "public_key": "ssh-rsa JUNK nova@ubuntu"}}),
        json!({"keypair": {"name": "x", "public_key": " "}}),
        json!({"keypair": {"name": "x", "public_key": format!("ssh-rsa {} openstack@ubuntu", "A".repeat(2048))}}),
        json!({"keypair": {"name": ""}}),
        json!({"keypair": {"name": "keypair-".repeat(40)}}),
        json!({"keypair": {"name": "key_/.\\@:"}}),
        json!({"keypair": {"name": "x", "type": "ssh"}}),
        json!({"keypair": {"name": "x", "user_id": "u"}}),
    ] {
        fault(kim.post("/os-keypairs", bad), 400, "badRequest");
    }
    fault(v22.post("/os-keypairs", json!({"keypair": {"name": "x", "type": "pgp"}})), 400, "badRequest");
    let m = fault(kim.post("/os-keypairs", json!({"keypair": {"name": "made"}})), 409, "conflictingRequest");
    assert_eq!(m, "Key pair 'made' already exists.");

    // list (doubly wrapped), show, delete
    let list = kim.get("/os-keypairs")["keypairs"].clone();
    let names: Vec<&str> = list.as_array().unwrap().iter().map(|k| k["keypair"]["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["cert", "cert2", "imported", "key@host.x", "made"]);
    assert_eq!(keys(&list[2]["keypair"]), ["fingerprint", "name", "public_key"]);
    assert_eq!(keys(&v22.get("/os-keypairs")["keypairs"][0]["keypair"]), ["fingerprint", "name", "public_key", "type"]);
    let shown = kim.get("/os-keypairs/imported")["keypair"].clone();
    assert_eq!(
        keys(&shown),
        ["created_at", "deleted", "deleted_at", "fingerprint", "id", "name", "public_key", "updated_at", "user_id"]
    );
    assert_eq!(shown["fingerprint"], fp);
    assert_eq!(v22.get("/os-keypairs/cert")["keypair"]["type"], "x509");
    let m = fault(kim.call(Method::GET, "/os-keypairs/none", None), 404, "itemNotFound");
    assert!(m.starts_with("Keypair none not found for user "), "{m}");
    assert_eq!(kim.delete("/os-keypairs/made").status(), 202);
    assert_eq!(v22.delete("/os-keypairs/cert").status(), 204);
    fault(kim.delete("/os-keypairs/made"), 404, "itemNotFound");

    // 2.35 paging
    let v35 = kim.at("2.35");
    let page = v35.get("/os-keypairs?limit=2");
    assert_eq!(page["keypairs"].as_array().unwrap().len(), 2);
    let next = page["keypairs_links"][0]["href"].as_str().unwrap();
    assert!(next.ends_with("marker=imported"), "{next}");
    let rest = v35.get("/os-keypairs?limit=2&marker=imported");
    assert_eq!(rest["keypairs"][0]["keypair"]["name"], "key@host.x");
    fault(v35.call(Method::GET, "/os-keypairs?marker=nope", None), 400, "badRequest");

    // users see only their own; 2.10 admins act for others
    let (_, token) = s.project_user("tenant-k", "lee", "member");
    let lee = Nova::new(s, token);
    assert_eq!(lee.get("/os-keypairs")["keypairs"], json!([]));
    fault(lee.call(Method::GET, "/os-keypairs/imported", None), 404, "itemNotFound");
    let kim_id = shown["user_id"].as_str().unwrap().to_string();
    fault(lee.at("2.10").call(Method::GET, &format!("/os-keypairs?user_id={kim_id}"), None), 403, "forbidden");
    fault(lee.at("2.10").post("/os-keypairs", json!({"keypair": {"name": "z", "user_id": kim_id}})), 403, "forbidden");
    let admin = Nova::new(s, s.admin_token()).at("2.10");
    let r = admin.post("/os-keypairs", json!({"keypair": {"name": "for-kim", "type": "ssh", "user_id": kim_id}}));
    assert_eq!(r.status(), 201);
    assert_eq!(r.json::<Value>().unwrap()["keypair"]["user_id"], kim_id);
    assert_eq!(admin.get(&format!("/os-keypairs/for-kim?user_id={kim_id}"))["keypair"]["user_id"], kim_id);
    let theirs = admin.get(&format!("/os-keypairs?user_id={kim_id}"))["keypairs"].as_array().unwrap().len();
    assert_eq!(theirs, 4);
    assert_eq!(admin.get("/os-keypairs")["keypairs"], json!([]));
    assert_eq!(admin.delete(&format!("/os-keypairs/for-kim?user_id={kim_id}")).status(), 204);
}

on_both_backends!(
    versions_and_headers,
    flavor_crud_and_microversions,
    flavor_filters_and_paging,
    flavor_policy,
    extra_specs,
    flavor_access,
    keypairs,
);
