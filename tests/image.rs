//! The image service (Glance v2) over HTTP: records, data, sharing, import
//! and the errors of bad input, on SQLite and PostgreSQL.

mod common;

use std::io::{Read, Write};

use common::{Db, TestServer};
use md5::Md5;
use reqwest::blocking::{Body, RequestBuilder, Response};
use serde_json::{Value, json};
use sha2::{Digest, Sha512};

const V21: &str = "application/openstack-images-v2.1-json-patch";
const V20: &str = "application/openstack-images-v2.0-json-patch";

/// A caller of the image API with one token.
struct Img<'a> {
    s: &'a TestServer,
    token: String,
}

impl<'a> Img<'a> {
    fn new(s: &'a TestServer, token: String) -> Self {
        Img { s, token }
    }

    fn req(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        self.s.client.request(method, format!("{}{path}", self.s.image)).header("X-Auth-Token", &self.token)
    }

    fn get(&self, path: &str) -> Response {
        self.req(reqwest::Method::GET, path).send().unwrap()
    }

    fn get_json(&self, path: &str) -> Value {
        let r = self.get(path);
        assert_eq!(r.status(), 200, "GET {path}");
        r.json().unwrap()
    }

    fn create(&self, body: Value) -> Response {
        self.req(reqwest::Method::POST, "/v2/images").json(&body).send().unwrap()
    }

    fn create_ok(&self, body: Value) -> Value {
        let r = self.create(body);
        assert_eq!(r.status(), 201);
        r.json().unwrap()
    }

    fn patch(&self, id: &str, media: &str, ops: Value) -> Response {
        self.req(reqwest::Method::PATCH, &format!("/v2/images/{id}"))
            .header("Content-Type", media)
            .body(ops.to_string())
            .send()
            .unwrap()
    }

    fn upload(&self, id: &str, data: Vec<u8>) -> Response {
        self.req(reqwest::Method::PUT, &format!("/v2/images/{id}/file"))
            .header("Content-Type", "application/octet-stream")
            .body(data)
            .send()
            .unwrap()
    }

    fn delete(&self, path: &str) -> Response {
        self.req(reqwest::Method::DELETE, path).send().unwrap()
    }
}

/// Asserts Glance's flat error body with this status; returns the message.
fn error(r: Response, status: u16) -> String {
    assert_eq!(r.status().as_u16(), status, "status");
    let body: Value = r.json().expect("error body is JSON");
    assert!(body["code"].as_str().is_some_and(|c| c.starts_with(&status.to_string())), "{body}");
    assert!(body["title"].is_string(), "{body}");
    body["message"].as_str().expect("message").to_string()
}

fn hashes(data: &[u8]) -> (String, String) {
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    (hex(&Md5::digest(data)), hex(&Sha512::digest(data)))
}

fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 251) as u8).collect()
}

fn versions_and_schemas(s: &TestServer) {
    let r = s.client.get(format!("{}/", s.image)).send().unwrap();
    assert_eq!(r.status(), 300);
    let v: Value = r.json().unwrap();
    let current: Vec<&Value> = v["versions"].as_array().unwrap().iter().filter(|x| x["status"] == "CURRENT").collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["links"][0]["href"], format!("{}/v2/", s.image));
    assert_eq!(s.client.get(format!("{}/versions", s.image)).send().unwrap().status(), 200);
    let a = Img::new(s, s.admin_token());
    let schema = a.get_json("/v2/schemas/image");
    assert_eq!(schema["name"], "image");
    assert_eq!(schema["additionalProperties"]["type"], "string");
    assert!(schema["properties"]["disk_format"]["enum"].as_array().unwrap().contains(&json!("qcow2")));
    assert_eq!(a.get_json("/v2/schemas/images")["properties"]["images"]["items"]["name"], "image");
    assert_eq!(
        a.get_json("/v2/schemas/member")["properties"]["status"]["enum"],
        json!(["pending", "accepted", "rejected"])
    );
    assert_eq!(a.get_json("/v2/schemas/members")["name"], "members");
    // the metadata definitions catalog holds no namespaces
    let ns = a.get_json("/v2/schemas/metadefs/namespace");
    assert_eq!((ns["name"].as_str(), ns["required"].clone()), (Some("namespace"), json!(["namespace"])));
    assert_eq!(ns["properties"]["visibility"]["enum"], json!(["public", "private"]));
    assert_eq!(a.get_json("/v2/schemas/metadefs/namespaces")["properties"]["namespaces"]["items"]["name"], "namespace");
    let listed = a.get_json("/v2/metadefs/namespaces?resource_types=OS::Nova::Flavor");
    assert_eq!(
        (listed["namespaces"].clone(), listed["schema"].as_str()),
        (json!([]), Some("/v2/schemas/metadefs/namespaces"))
    );
    assert!(error(a.get("/v2/metadefs/namespaces/OS::Compute::Hypervisor"), 404).contains("OS::Compute::Hypervisor"));
    assert_eq!(a.get_json("/v2/info/import")["import-methods"]["value"], json!(["glance-direct"]));
    assert_eq!(a.get_json("/v2/info/stores")["stores"], json!([{"id": "fs", "default": "true"}]));
    // no token: 401 with Glance's body and WWW-Authenticate
    let r = s.client.get(format!("{}/v2/images", s.image)).send().unwrap();
    assert!(r.headers().contains_key("www-authenticate"));
    error(r, 401);
    error(a.get("/v2/nothing-here"), 404);
}

fn upload_download(s: &TestServer) {
    let a = Img::new(s, s.admin_token());
    let created = a.create(json!({"name": "raw1", "disk_format": "raw", "container_format": "bare", "hw_x": "1"}));
    assert_eq!(created.status(), 201);
    let location = created.headers()["location"].to_str().unwrap().to_string();
    let img: Value = created.json().unwrap();
    let id = img["id"].as_str().unwrap().to_string();
    assert_eq!(location, format!("{}/v2/images/{id}", s.image));
    assert_eq!(img["status"], "queued");
    assert_eq!(img["visibility"], "shared");
    for k in ["size", "virtual_size", "checksum", "os_hash_algo", "os_hash_value"] {
        assert!(img[k].is_null(), "{k} is null while queued");
    }
    assert!(img.get("stores").is_none());
    assert_eq!(img["hw_x"], "1");
    // no data yet: 204
    assert_eq!(a.get(&format!("/v2/images/{id}/file")).status(), 204);
    // chunked upload (a reader of unknown length)
    let bytes = data(3 * 1024 * 1024 + 17);
    let r = a
        .req(reqwest::Method::PUT, &format!("/v2/images/{id}/file"))
        .header("Content-Type", "application/octet-stream")
        .body(Body::new(std::io::Cursor::new(bytes.clone())))
        .send()
        .unwrap();
    assert_eq!(r.status(), 204);
    let img = a.get_json(&format!("/v2/images/{id}"));
    let (md5, sha) = hashes(&bytes);
    assert_eq!(img["status"], "active");
    assert_eq!(img["size"], bytes.len());
    assert_eq!(img["virtual_size"], bytes.len());
    assert_eq!(img["checksum"], md5);
    assert_eq!(img["os_hash_algo"], "sha512");
    assert_eq!(img["os_hash_value"], sha);
    assert_eq!(img["stores"], "fs");
    // a second upload is a conflict
    let msg = error(a.upload(&id, b"again".to_vec()), 409);
    assert!(msg.contains("active"), "{msg}");
    // download whole, and ranges
    let r = a.get(&format!("/v2/images/{id}/file"));
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-md5"], md5.as_str());
    assert_eq!(r.headers()["content-length"], bytes.len().to_string().as_str());
    assert!(r.bytes().unwrap() == bytes);
    let ranged =
        |h: &str| a.req(reqwest::Method::GET, &format!("/v2/images/{id}/file")).header("Range", h).send().unwrap();
    let r = ranged("bytes=0-9");
    assert_eq!(r.status(), 206);
    assert_eq!(r.headers()["content-range"], format!("bytes 0-9/{}", bytes.len()).as_str());
    assert_eq!(r.bytes().unwrap().as_ref(), &bytes[..10]);
    let r = ranged("bytes=-5");
    assert_eq!(r.status(), 206);
    assert_eq!(r.bytes().unwrap().as_ref(), &bytes[bytes.len() - 5..]);
    error(ranged("bytes=9-2"), 416);
    error(ranged("bytes=zz"), 416);
    error(ranged(&format!("bytes={}-", bytes.len())), 416);
    error(ranged("bytes=0-1,4-5"), 400);
    // qcow2 images get their virtual size from the image header
    let q = a.create_ok(json!({"name": "q", "disk_format": "qcow2", "container_format": "bare"}));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.qcow2");
    let made = std::process::Command::new("qemu-img").args(["create", "-f", "qcow2"]).arg(&path).arg("64M").output();
    if made.is_ok_and(|o| o.status.success()) {
        let qid = q["id"].as_str().unwrap();
        assert_eq!(a.upload(qid, std::fs::read(&path).unwrap()).status(), 204);
        assert_eq!(a.get_json(&format!("/v2/images/{qid}"))["virtual_size"], 64 * 1024 * 1024);
    } else {
        eprintln!("qemu-img not installed: virtual size of qcow2 not checked");
    }
    // wrong media type
    let r = a
        .req(reqwest::Method::PUT, &format!("/v2/images/{}/file", q["id"].as_str().unwrap()))
        .header("Content-Type", "text/plain")
        .body("x")
        .send()
        .unwrap();
    error(r, 415);
    // delete: 204, then 404, data gone
    assert_eq!(a.delete(&format!("/v2/images/{id}")).status(), 204);
    error(a.get(&format!("/v2/images/{id}")), 404);
    error(a.get(&format!("/v2/images/{id}/file")), 404);
    error(a.get("/v2/images/not-a-uuid"), 404);
}

/// What Glance accepts that a stricter reading would refuse, and the edges
/// of a ranged download.
fn glance_leniencies(s: &TestServer) {
    let a = Img::new(s, s.admin_token());
    // JSON Schema's integers include integral numbers written with a fraction.
    let img = a.create_ok(json!({"name": "f", "min_ram": 512.0, "min_disk": 0.0}));
    assert_eq!((img["min_ram"].as_i64(), img["min_disk"].as_i64()), (Some(512), Some(0)));
    let id = img["id"].as_str().unwrap();
    let r = a.patch(id, V21, json!([{"op": "replace", "path": "/min_disk", "value": 20.0}]));
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().unwrap()["min_disk"], 20);
    error(a.patch(id, V21, json!([{"op": "replace", "path": "/min_disk", "value": 1.5}])), 400);
    error(a.patch(id, V21, json!([{"op": "replace", "path": "/min_disk", "value": -2.0}])), 400);
    error(a.create(json!({"min_ram": 1e12})), 400);
    // A range of empty data cannot be satisfied, a suffix one neither.
    assert_eq!(a.upload(id, Vec::new()).status(), 204);
    let ranged =
        |h: &str| a.req(reqwest::Method::GET, &format!("/v2/images/{id}/file")).header("Range", h).send().unwrap();
    for h in ["bytes=-5", "bytes=0-", "bytes=0-0"] {
        error(ranged(h), 416);
    }
    let r = a.get(&format!("/v2/images/{id}/file"));
    assert_eq!(r.status(), 200);
    assert!(r.bytes().unwrap().is_empty());
    // A method a known path does not serve is a 405, as in Glance.
    let r = a.req(reqwest::Method::POST, &format!("/v2/images/{id}/file")).send().unwrap();
    error(r, 405);
}

fn patch_rules(s: &TestServer) {
    let a = Img::new(s, s.admin_token());
    let img = a.create_ok(json!({"name": "p", "disk_format": "raw", "container_format": "bare", "tags": ["t1"]}));
    let id = img["id"].as_str().unwrap();
    // v2.1 and v2.0 forms
    let r = a.patch(id, V21, json!([{"op": "replace", "path": "/name", "value": "p2"},
        {"op": "add", "path": "/hw_disk_bus", "value": "scsi"}, {"op": "replace", "path": "/tags", "value": ["a", "b"]}]));
    assert_eq!(r.status(), 200);
    let v: Value = r.json().unwrap();
    assert_eq!((v["name"].as_str(), v["hw_disk_bus"].as_str()), (Some("p2"), Some("scsi")));
    assert_eq!(v["tags"], json!(["a", "b"]));
    let r = a.patch(id, V20, json!([{"replace": "/min_ram", "value": 512}, {"remove": "/hw_disk_bus"}]));
    assert_eq!(r.status(), 200);
    let v: Value = r.json().unwrap();
    assert_eq!(v["min_ram"], 512);
    assert!(v.get("hw_disk_bus").is_none());
    // v2.0 add of an existing property conflicts; v2.1 add replaces
    error(a.patch(id, V20, json!([{"add": "/name", "value": "x"}])), 409);
    assert_eq!(a.patch(id, V21, json!([{"op": "add", "path": "/name", "value": "p3"}])).status(), 200);
    // media type
    let r = a.patch(id, "application/json", json!([]));
    assert_eq!(r.status(), 415);
    assert!(r.headers()["accept-patch"].to_str().unwrap().contains("v2.1-json-patch"));
    // read-only, reserved, base removal, missing custom property, depth
    for (ops, status) in [
        (json!([{"op": "replace", "path": "/status", "value": "active"}]), 403),
        (json!([{"op": "replace", "path": "/checksum", "value": "x"}]), 403),
        (json!([{"op": "add", "path": "/os_glance_x", "value": "1"}]), 403),
        (json!([{"op": "add", "path": "/deleted", "value": "1"}]), 403),
        (json!([{"op": "remove", "path": "/name"}]), 403),
        (json!([{"op": "replace", "path": "/nope", "value": "1"}]), 409),
        (json!([{"op": "remove", "path": "/nope"}]), 409),
        (json!([{"op": "add", "path": "/tags/-", "value": "x"}]), 400),
        (json!([{"op": "add", "path": "/x", "value": 5}]), 400),
        (json!([{"op": "replace", "path": "/protected", "value": "true"}]), 400),
        (json!([{"op": "replace", "path": "/disk_format", "value": "bogus"}]), 400),
        (json!([{"op": "replace", "path": "/min_disk", "value": -1}]), 400),
        (json!([{"op": "move", "path": "/name"}]), 400),
        (json!([{"op": "replace", "path": "/name"}]), 400),
        (json!({"op": "replace"}), 400),
    ] {
        let r = a.patch(id, V21, ops.clone());
        assert_eq!(r.status().as_u16(), status, "{ops}");
        error(r, status);
    }
    // a failed change leaves the image as it was (the list is atomic)
    error(
        a.patch(id, V21, json!([{"op": "replace", "path": "/name", "value": "zz"}, {"op": "remove", "path": "/nope"}])),
        409,
    );
    assert_eq!(a.get_json(&format!("/v2/images/{id}"))["name"], "p3");
    // formats are fixed once there is data
    assert_eq!(a.upload(id, b"abc".to_vec()).status(), 204);
    error(a.patch(id, V21, json!([{"op": "replace", "path": "/disk_format", "value": "qcow2"}])), 403);
    // create: bad values and read-only attributes
    for (body, status) in [
        (json!({"disk_format": "bogus"}), 400),
        (json!({"container_format": "nope"}), 400),
        (json!({"status": "active"}), 403),
        (json!({"size": 5}), 403),
        (json!({"self": "x"}), 403),
        (json!({"os_glance_foo": "x"}), 403),
        (json!({"custom": 1}), 400),
        (json!({"id": "not-a-uuid"}), 400),
        (json!({"visibility": "everyone"}), 400),
        (json!(["not", "an", "object"]), 400),
    ] {
        error(a.create(body), status);
    }
    let r = a
        .req(reqwest::Method::POST, "/v2/images")
        .header("Content-Type", "application/json")
        .body("{bad")
        .send()
        .unwrap();
    error(r, 400);
    // a chosen id, then the same id again
    let fixed = "8b9a1b3e-53f4-4a8e-9a3c-0d9d8f2f6f99";
    assert_eq!(a.create_ok(json!({"id": fixed}))["id"], fixed);
    error(a.create(json!({"id": fixed})), 409);
    // protected images cannot be deleted
    assert_eq!(a.patch(fixed, V21, json!([{"op": "replace", "path": "/protected", "value": true}])).status(), 200);
    error(a.delete(&format!("/v2/images/{fixed}")), 403);
    assert_eq!(a.patch(fixed, V21, json!([{"op": "replace", "path": "/protected", "value": false}])).status(), 200);
    assert_eq!(a.delete(&format!("/v2/images/{fixed}")).status(), 204);
    // tags API
    assert_eq!(a.req(reqwest::Method::PUT, &format!("/v2/images/{id}/tags/new")).send().unwrap().status(), 204);
    assert_eq!(a.req(reqwest::Method::PUT, &format!("/v2/images/{id}/tags/new")).send().unwrap().status(), 204);
    assert!(a.get_json(&format!("/v2/images/{id}"))["tags"].as_array().unwrap().contains(&json!("new")));
    assert_eq!(a.delete(&format!("/v2/images/{id}/tags/new")).status(), 204);
    error(a.delete(&format!("/v2/images/{id}/tags/new")), 404);
}

fn listing(s: &TestServer) {
    let a = Img::new(s, s.admin_token());
    let mut ids = Vec::new();
    for i in 0..7 {
        let img = a.create_ok(json!({"name": format!("l{i}"), "disk_format": if i % 2 == 0 { "raw" } else { "qcow2" },
            "container_format": "bare", "tags": [format!("t{}", i % 3)], "flavor": if i < 3 { "small" } else { "big" }}));
        let id = img["id"].as_str().unwrap().to_string();
        if i < 4 {
            assert_eq!(a.upload(&id, data(100 * (i + 1))).status(), 204);
        }
        ids.push(id);
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let names = |q: &str| -> Vec<String> {
        let v = a.get_json(&format!("/v2/images?{q}"));
        v["images"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(names("sort_key=name&sort_dir=asc"), ["l0", "l1", "l2", "l3", "l4", "l5", "l6"]);
    assert_eq!(names("sort=name:desc&limit=2"), ["l6", "l5"]);
    assert_eq!(names("disk_format=qcow2&sort_key=name&sort_dir=asc"), ["l1", "l3", "l5"]);
    assert_eq!(names("status=active&sort_key=name&sort_dir=asc"), ["l0", "l1", "l2", "l3"]);
    assert_eq!(names("tag=t0&sort_key=name&sort_dir=asc"), ["l0", "l3", "l6"]);
    assert_eq!(names("tag=t0&tag=t1"), Vec::<String>::new());
    assert_eq!(names("flavor=small&sort_key=name&sort_dir=asc"), ["l0", "l1", "l2"]);
    assert_eq!(names("size_min=250&size_max=350"), ["l2"]);
    assert_eq!(names("size=400"), ["l3"]);
    assert_eq!(names("name=in:l1,l5&sort_key=name&sort_dir=asc"), ["l1", "l5"]);
    assert_eq!(names(&format!("id=in:{},{}&sort_key=name&sort_dir=asc", ids[2], ids[4])), ["l2", "l4"]);
    assert_eq!(names("name=l3"), ["l3"]);
    assert_eq!(
        names("sort_key=disk_format&sort_key=name&sort_dir=asc&sort_dir=desc"),
        ["l5", "l3", "l1", "l6", "l4", "l2", "l0"]
    );
    let first = a.get_json(&format!("/v2/images/{}", ids[0]))["created_at"].as_str().unwrap().to_string();
    assert_eq!(names(&format!("created_at=gte:{first}")).len(), 7);
    assert_eq!(names("created_at=lt:2000-01-01T00:00:00Z").len(), 0);
    // paging: limit, next, marker across a two-key order
    let mut seen = Vec::new();
    let mut url = "/v2/images?limit=3&sort=disk_format:asc,name:asc".to_string();
    loop {
        let v = a.get_json(&url);
        assert!(v["first"].as_str().unwrap().starts_with("/v2/images?"));
        assert_eq!(v["schema"], "/v2/schemas/images");
        seen.extend(v["images"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap().to_string()));
        match v["next"].as_str() {
            Some(n) => url = n.to_string(),
            None => break,
        }
    }
    assert_eq!(seen, ["l1", "l3", "l5", "l0", "l2", "l4", "l6"]);
    // hidden images are left out unless asked for
    assert_eq!(a.patch(&ids[6], V21, json!([{"op": "replace", "path": "/os_hidden", "value": true}])).status(), 200);
    assert!(!names("").contains(&"l6".to_string()));
    assert_eq!(names("os_hidden=true"), ["l6"]);
    // bad parameters
    for q in [
        "limit=abc",
        "limit=-1",
        "sort_key=owner",
        "sort_dir=up",
        "visibility=everyone",
        "member_status=x",
        "changes-since=2020-01-01",
        "marker=ffffffff-ffff-ffff-ffff-ffffffffffff",
        "marker=zz",
        "size_min=big",
        "created_at=gt:yesterday",
        "sort=name&sort_key=name",
        "protected=maybe",
    ] {
        error(a.get(&format!("/v2/images?{q}")), 400);
    }
}

fn sharing(s: &TestServer) {
    let admin = Img::new(s, s.admin_token());
    let (p1, t1) = s.project_user("img-owner", "img-owner-user", "member");
    let (p2, t2) = s.project_user("img-consumer", "img-consumer-user", "member");
    let (_, tr) = s.project_user("img-owner", "img-owner-reader", "reader");
    let (owner, consumer, reader) = (Img::new(s, t1), Img::new(s, t2), Img::new(s, tr));
    // members may not publish; readers may not create
    error(owner.create(json!({"name": "pub", "visibility": "public"})), 403);
    error(reader.create(json!({"name": "r"})), 403);
    error(owner.create(json!({"name": "o", "owner": p2})), 403);
    let private = owner.create_ok(json!({"name": "priv", "visibility": "private"}));
    let pid = private["id"].as_str().unwrap();
    assert_eq!(private["owner"], p1.as_str());
    // invisible to others: 404 (not 403); readers of the project see it but cannot change it
    error(consumer.get(&format!("/v2/images/{pid}")), 404);
    assert_eq!(reader.get(&format!("/v2/images/{pid}")).status(), 200);
    error(reader.patch(pid, V21, json!([{"op": "replace", "path": "/name", "value": "x"}])), 403);
    error(reader.delete(&format!("/v2/images/{pid}")), 403);
    // only shared images have members
    let add = |img: &Img, id: &str, member: &str| {
        img.req(reqwest::Method::POST, &format!("/v2/images/{id}/members"))
            .json(&json!({"member": member}))
            .send()
            .unwrap()
    };
    error(add(&owner, pid, &p2), 403);
    let shared = owner.create_ok(json!({"name": "sh", "visibility": "shared"}));
    let sid = shared["id"].as_str().unwrap();
    error(consumer.get(&format!("/v2/images/{sid}")), 404);
    let r = add(&owner, sid, &p2);
    assert_eq!(r.status(), 200);
    let m: Value = r.json().unwrap();
    assert_eq!((m["status"].as_str(), m["member_id"].as_str()), (Some("pending"), Some(p2.as_str())));
    assert_eq!(m["schema"], "/v2/schemas/member");
    error(add(&owner, sid, &p2), 409);
    error(add(&consumer, sid, "someone"), 403);
    // the consumer sees it, but lists it only when it asks for pending ones
    assert_eq!(consumer.get(&format!("/v2/images/{sid}")).status(), 200);
    let listed = |q: &str| -> Vec<String> {
        let v = consumer.get_json(&format!("/v2/images?{q}"));
        v["images"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_string()).collect()
    };
    assert!(!listed("").contains(&sid.to_string()));
    assert_eq!(listed("visibility=shared&member_status=pending"), [sid]);
    // only the member decides
    let set = |img: &Img, status: &str| {
        img.req(reqwest::Method::PUT, &format!("/v2/images/{sid}/members/{p2}"))
            .json(&json!({"status": status}))
            .send()
            .unwrap()
    };
    error(set(&owner, "accepted"), 403);
    error(set(&consumer, "maybe"), 400);
    assert_eq!(set(&consumer, "accepted").status(), 200);
    assert!(listed("").contains(&sid.to_string()));
    let members = owner.get_json(&format!("/v2/images/{sid}/members"));
    assert_eq!(members["members"].as_array().unwrap().len(), 1);
    assert_eq!(members["schema"], "/v2/schemas/members");
    assert_eq!(consumer.get_json(&format!("/v2/images/{sid}/members/{p2}"))["status"], "accepted");
    // the consumer cannot change or delete the owner's image
    error(consumer.patch(sid, V21, json!([{"op": "replace", "path": "/name", "value": "x"}])), 403);
    error(consumer.delete(&format!("/v2/images/{sid}")), 403);
    // removing the member hides the image again
    assert_eq!(owner.delete(&format!("/v2/images/{sid}/members/{p2}")).status(), 204);
    error(consumer.get(&format!("/v2/images/{sid}")), 404);
    // community images are visible to all and listed on request
    let community = owner.create_ok(json!({"name": "comm", "visibility": "community"}));
    let cid = community["id"].as_str().unwrap();
    assert_eq!(consumer.get(&format!("/v2/images/{cid}")).status(), 200);
    assert!(!listed("").contains(&cid.to_string()));
    assert_eq!(listed("visibility=community"), [cid]);
    // admins see everything and may publish
    assert_eq!(admin.get(&format!("/v2/images/{pid}")).status(), 200);
    let public = admin.create_ok(json!({"name": "pub", "visibility": "public"}));
    assert!(listed("").contains(&public["id"].as_str().unwrap().to_string()));
    // deactivation: owners may, data download is refused to non-admins
    assert_eq!(owner.upload(pid, b"secret".to_vec()).status(), 204);
    let act = |img: &Img, what: &str| {
        img.req(reqwest::Method::POST, &format!("/v2/images/{pid}/actions/{what}")).send().unwrap().status().as_u16()
    };
    assert_eq!(act(&owner, "deactivate"), 204);
    assert_eq!(owner.get_json(&format!("/v2/images/{pid}"))["status"], "deactivated");
    error(owner.get(&format!("/v2/images/{pid}/file")), 403);
    assert_eq!(admin.get(&format!("/v2/images/{pid}/file")).status(), 200);
    assert_eq!(act(&owner, "reactivate"), 204);
    assert_eq!(owner.get(&format!("/v2/images/{pid}/file")).status(), 200);
    let queued = owner.create_ok(json!({"name": "q"}));
    let r = owner
        .req(reqwest::Method::POST, &format!("/v2/images/{}/actions/deactivate", queued["id"].as_str().unwrap()))
        .send()
        .unwrap();
    error(r, 403);
}

fn import_flow(s: &TestServer) {
    let a = Img::new(s, s.admin_token());
    let img = a.create_ok(json!({"name": "imp", "disk_format": "raw", "container_format": "bare"}));
    let id = img["id"].as_str().unwrap();
    let import =
        |body: Value| a.req(reqwest::Method::POST, &format!("/v2/images/{id}/import")).json(&body).send().unwrap();
    error(import(json!({"method": {"name": "glance-direct"}})), 409);
    error(import(json!({"method": {"name": "web-download", "uri": "http://x"}})), 400);
    error(import(json!({})), 400);
    let bytes = data(50_000);
    let r = a
        .req(reqwest::Method::PUT, &format!("/v2/images/{id}/stage"))
        .header("Content-Type", "application/octet-stream")
        .body(bytes.clone())
        .send()
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(a.get_json(&format!("/v2/images/{id}"))["status"], "uploading");
    assert_eq!(import(json!({"method": {"name": "glance-direct"}})).status(), 202);
    let mut status = Value::Null;
    for _ in 0..100 {
        status = a.get_json(&format!("/v2/images/{id}"))["status"].clone();
        if status == "active" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(status, "active");
    let v = a.get_json(&format!("/v2/images/{id}"));
    assert_eq!(v["checksum"], hashes(&bytes).0);
    assert_eq!(v["size"], bytes.len());
    assert!(a.get(&format!("/v2/images/{id}/file")).bytes().unwrap() == bytes);
}

/// Sends `sent` bytes of a body that claims `claimed`, then hangs up.
fn cut_upload(s: &TestServer, token: &str, id: &str, claimed: usize, sent: usize) {
    let addr = s.image.trim_start_matches("http://");
    let mut tcp = std::net::TcpStream::connect(addr).unwrap();
    write!(
        tcp,
        "PUT /v2/images/{id}/file HTTP/1.1\r\nHost: {addr}\r\nX-Auth-Token: {token}\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: {claimed}\r\n\r\n"
    )
    .unwrap();
    tcp.write_all(&data(sent)).unwrap();
    tcp.flush().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(100));
    tcp.shutdown(std::net::Shutdown::Both).unwrap();
    let mut rest = Vec::new();
    let _ = tcp.read_to_end(&mut rest);
}

fn status_becomes(a: &Img, id: &str, want: &str) -> bool {
    for _ in 0..100 {
        if a.get_json(&format!("/v2/images/{id}"))["status"] == want {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    false
}

/// The data files of a store (not its marker, `.ironbark-store`).
fn store_files(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.path().is_file() && !e.file_name().to_string_lossy().starts_with('.'))
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Cut and oversize uploads leave the image `queued`, with no data.
fn failed_uploads(db: Db) {
    let store = tempfile::tempdir().unwrap();
    let store_dir = store.path().to_path_buf();
    let Some(s) = TestServer::start_with(db, |c| {
        c.image.max_size = 1_000_000;
        c.image.store_dir = Some(store_dir.clone());
    }) else {
        return;
    };
    let token = s.admin_token();
    let a = Img::new(&s, token.clone());
    let id = a.create_ok(json!({"name": "cut", "disk_format": "raw", "container_format": "bare"}))["id"]
        .as_str()
        .unwrap()
        .to_string();
    cut_upload(&s, &token, &id, 500_000, 100_000);
    assert!(status_becomes(&a, &id, "queued"), "a cut upload returns the image to queued");
    let img = a.get_json(&format!("/v2/images/{id}"));
    assert!(img["size"].is_null() && img["checksum"].is_null(), "{img}");
    assert!(store_files(&store_dir).is_empty(), "no data left: {:?}", store_files(&store_dir));
    // over the size cap: refused up front when the length is declared…
    let msg = error(a.upload(&id, data(1_000_001)), 413);
    assert!(msg.contains("too large"), "{msg}");
    // …and when it is not (chunked)
    let r = a
        .req(reqwest::Method::PUT, &format!("/v2/images/{id}/file"))
        .header("Content-Type", "application/octet-stream")
        .body(Body::new(std::io::Cursor::new(data(1_500_000))))
        .send();
    if let Ok(r) = r {
        error(r, 413);
    }
    assert!(status_becomes(&a, &id, "queued"));
    assert!(store_files(&store_dir).is_empty());
    // after all that, a good upload still works
    assert_eq!(a.upload(&id, data(1000)).status(), 204);
    assert_eq!(a.get_json(&format!("/v2/images/{id}"))["status"], "active");
    assert_eq!(store_files(&store_dir), vec![id]);
}

#[test]
fn failed_uploads_sqlite() {
    failed_uploads(Db::Sqlite);
}

#[test]
fn failed_uploads_postgres() {
    failed_uploads(Db::Postgres);
}

/// A project over its storage quota gets 413.
#[test]
fn storage_quota() {
    let s = TestServer::start_with(Db::Sqlite, |c| c.image.project_quota = 10_000).unwrap();
    let a = Img::new(&s, s.admin_token());
    let one = a.create_ok(json!({"name": "a"}));
    assert_eq!(a.upload(one["id"].as_str().unwrap(), data(8_000)).status(), 204);
    let two = a.create_ok(json!({"name": "b"}));
    error(a.upload(two["id"].as_str().unwrap(), data(3_000)), 413);
    assert_eq!(a.get_json(&format!("/v2/images/{}", two["id"].as_str().unwrap()))["status"], "queued");
    assert_eq!(a.upload(two["id"].as_str().unwrap(), data(2_000)).status(), 204);
    let usage = a.get_json("/v2/info/usage");
    assert!(usage["usage"]["image_size_total"].is_object(), "{usage}");
}

/// Images a stop interrupted mid-upload return to `queued` at the next start.
#[test]
fn interrupted_upload_is_reset_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_path_buf();
    let id;
    {
        let d = data_dir.clone();
        let s = TestServer::start_with(Db::Sqlite, move |c| c.data_dir = d).unwrap();
        let a = Img::new(&s, s.admin_token());
        id = a.create_ok(json!({"name": "x"}))["id"].as_str().unwrap().to_string();
    }
    // as a process killed mid-upload leaves it: status saving, a partial file
    let db = data_dir.join("ironbark.sqlite");
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(format!(
            "import sqlite3; c=sqlite3.connect('{}'); c.execute(\"update images set status='saving' where uuid='{id}'\"); c.commit()",
            db.display()
        ))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::write(data_dir.join("images").join(format!("{id}.partial")), b"half").unwrap();
    let d = data_dir.clone();
    let s = TestServer::start_with(Db::Sqlite, move |c| c.data_dir = d).unwrap();
    let a = Img::new(&s, s.admin_token());
    assert!(status_becomes(&a, &id, "queued"));
    assert!(store_files(&data_dir.join("images")).is_empty());
}

on_both_backends!(versions_and_schemas, upload_download, patch_rules, listing, sharing, import_flow, glance_leniencies);
