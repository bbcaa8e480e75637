//! Bare-metal ports, portgroups, chassis, drivers and conductors over HTTP,
//! as Ironic 39 answers them (status codes, fields per microversion).

mod common;

use common::{ADMIN_PASSWORD, TestServer, project_scope};
use reqwest::blocking::{RequestBuilder, Response};
use serde_json::{Value, json};

/// A bare-metal client with one token (system-scoped admin unless told).
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

    fn patch(&self, path: &str, version: &str, body: Value) -> Response {
        self.req(reqwest::Method::PATCH, path, version).json(&body).send().expect("request")
    }

    fn delete(&self, path: &str, version: &str) -> Response {
        self.req(reqwest::Method::DELETE, path, version).send().expect("request")
    }

    /// The JSON body of a response that must have `status`.
    fn expect(&self, r: Response, status: u16) -> Value {
        let code = r.status().as_u16();
        let body: Value = r.json().unwrap_or(Value::Null);
        assert_eq!(code, status, "{body}");
        body
    }

    fn ok(&self, path: &str, version: &str) -> Value {
        self.expect(self.get(path, version), 200)
    }

    fn status(&self, r: Response) -> u16 {
        r.status().as_u16()
    }

    fn node(&self, name: &str, chassis: Option<&str>) -> String {
        let mut body = json!({"name": name, "driver": "fake-hardware"});
        if let Some(c) = chassis {
            body["chassis_uuid"] = json!(c);
        }
        self.expect(self.post("/v1/nodes", "1.115", body), 201)["uuid"].as_str().expect("uuid").to_string()
    }
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().expect("object").keys().cloned().collect();
    k.sort();
    k
}

fn ports(s: &TestServer) {
    let bm = Bm::system(s);
    let node = bm.node("pn1", None);

    // Create: 201, Location, normalised MAC, Ironic's defaults.
    let r =
        bm.post("/v1/ports", "1.115", json!({"node_uuid": node, "address": "52:54:00:AA:BB:01", "extra": {"k": "v"}}));
    assert_eq!(r.status(), 201);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let port = bm.expect(r, 201);
    let uuid = port["uuid"].as_str().unwrap().to_string();
    assert_eq!(location, format!("{}/v1/ports/{uuid}", s.baremetal));
    assert_eq!(port["address"], "52:54:00:aa:bb:01");
    assert_eq!(port["pxe_enabled"], true);
    assert_eq!(port["is_smartnic"], false);
    assert_eq!(port["local_link_connection"], json!({}));
    assert_eq!(port["internal_info"], json!({}));
    assert_eq!(port["available_for_dynamic_portgroup"], true);
    assert_eq!(port["portgroup_uuid"], Value::Null);
    assert_eq!(port["node_uuid"], json!(node));
    assert_eq!(port["links"][0]["href"], format!("{}/v1/ports/{uuid}", s.baremetal));
    assert_eq!(port["links"][1]["href"], format!("{}/ports/{uuid}", s.baremetal));
    assert_eq!(keys(&port).len(), 18);

    // Errors on create.
    let dup = bm.post("/v1/ports", "1.115", json!({"node_uuid": node, "address": "52:54:00:aa:bb:01"}));
    assert_eq!(bm.status(dup), 409);
    for (body, status) in [
        (json!({"node_uuid": node, "address": "malformed:mac"}), 400),
        (json!({"node_uuid": "pn1", "address": "52:54:00:aa:bb:02"}), 400),
        (json!({"node_uuid": "6966530b-e96e-4283-94ac-f9929cbba1ab", "address": "52:54:00:aa:bb:02"}), 400),
        (json!({"address": "52:54:00:aa:bb:02"}), 400),
        (json!({"node_uuid": node}), 400),
        (json!({"node_uuid": node, "address": "52:54:00:aa:bb:02", "foo": 1}), 400),
        (json!({"node_uuid": node, "address": "52:54:00:aa:bb:02", "uuid": "abc"}), 400),
        (json!({"node_uuid": node, "address": "52:54:00:aa:bb:02", "physical_network": ""}), 400),
        (json!({"node_uuid": node, "address": "52:54:00:aa:bb:02", "local_link_connection": {"foo": "x"}}), 400),
        (
            json!({"node_uuid": node, "address": "52:54:00:aa:bb:02", "local_link_connection": {"switch_id": "zz", "port_id": "p"}}),
            400,
        ),
        (json!({"node_uuid": node, "address": "52:54:00:aa:bb:02", "uuid": uuid}), 409),
    ] {
        let r = bm.post("/v1/ports", "1.115", body.clone());
        assert_eq!(bm.status(r), status, "{body}");
    }
    // Fields newer than the request: 406.
    let r = bm.post(
        "/v1/ports",
        "1.33",
        json!({"node_uuid": node, "address": "52:54:00:aa:bb:02", "physical_network": "p"}),
    );
    assert_eq!(bm.status(r), 406);
    let r = bm.post("/v1/ports", "1.93", json!({"node_ident": "pn1", "address": "52:54:00:aa:bb:02"}));
    assert_eq!(bm.status(r), 406);
    // node_ident (1.94) takes a name; a named port with a switch.
    let named = bm.expect(
        bm.post(
            "/v1/ports",
            "1.115",
            json!({"node_ident": "pn1", "address": "52:54:00:aa:bb:02", "name": "eth1",
                   "local_link_connection": {"switch_id": "AA:BB:CC:DD:EE:FF", "port_id": "Eth1/1"}}),
        ),
        201,
    );
    assert_eq!(named["local_link_connection"]["switch_id"], "aa:bb:cc:dd:ee:ff");
    let r = bm.post("/v1/ports", "1.115", json!({"node_uuid": node, "address": "52:54:00:aa:bb:03", "name": "eth1"}));
    assert_eq!(bm.status(r), 409);

    // List: uuid, address and links only; detail has everything.
    let list = bm.ok("/v1/ports", "1.115");
    assert_eq!(list["ports"].as_array().unwrap().len(), 2);
    assert_eq!(keys(&list["ports"][0]), vec!["address", "links", "uuid"]);
    let detail = bm.ok("/v1/ports/detail", "1.115");
    assert_eq!(keys(&detail["ports"][0]).len(), 18);
    assert_eq!(bm.ok("/v1/ports?detail=true", "1.43")["ports"][0]["extra"], json!({"k": "v"}));
    assert_eq!(bm.status(bm.get("/v1/ports?detail=true", "1.42")), 400);
    assert_eq!(bm.status(bm.get("/v1/ports?detail=true&fields=uuid", "1.115")), 400);
    assert_eq!(bm.status(bm.get("/v1/ports?foo=1", "1.115")), 400);
    assert_eq!(bm.status(bm.get("/v1/ports/detail?fields=uuid", "1.115")), 400);
    let fields = bm.ok("/v1/ports?fields=uuid,name", "1.115");
    assert_eq!(keys(&fields["ports"][0]), vec!["links", "name", "uuid"]);
    assert_eq!(bm.status(bm.get("/v1/ports?fields=uuid", "1.7")), 406);
    assert_eq!(bm.status(bm.get("/v1/ports?fields=uuid,name", "1.87")), 406);
    assert_eq!(bm.status(bm.get("/v1/ports?fields=bogus", "1.115")), 400);
    assert_eq!(bm.status(bm.get("/v1/ports?sort_key=extra", "1.115")), 400);
    let by_addr = bm.ok("/v1/ports?address=52:54:00:AA:BB:02", "1.115");
    assert_eq!(by_addr["ports"][0]["uuid"], named["uuid"]);
    assert_eq!(bm.status(bm.get("/v1/ports?address=zz", "1.115")), 400);
    assert_eq!(bm.ok(&format!("/v1/ports?node={node}"), "1.1")["ports"].as_array().unwrap().len(), 2);
    assert_eq!(bm.ok("/v1/ports?node=pn1", "1.5")["ports"].as_array().unwrap().len(), 2);
    assert_eq!(bm.status(bm.get("/v1/ports?node=pn1", "1.4")), 406);
    assert_eq!(bm.status(bm.get("/v1/ports?node=nope", "1.115")), 404);
    assert_eq!(bm.status(bm.get("/v1/ports?shard=a", "1.81")), 406);
    // Paging: `next` only on a full page, carrying the marker.
    let page = bm.ok("/v1/ports?limit=1", "1.115");
    let next = page["next"].as_str().expect("next");
    assert!(next.ends_with(&format!("limit=1&marker={uuid}")), "{next}");
    let rest = bm.ok(&next.replace(&s.baremetal, ""), "1.115");
    assert_eq!(rest["ports"][0]["uuid"], named["uuid"]);
    assert!(bm.ok("/v1/ports?limit=2", "1.115").get("next").is_some());
    assert!(bm.ok("/v1/ports?limit=3", "1.115").get("next").is_none());
    assert_eq!(bm.status(bm.get("/v1/ports?marker=abc", "1.115")), 400);
    assert_eq!(bm.status(bm.get("/v1/ports?marker=6966530b-e96e-4283-94ac-f9929cbba1ab", "1.115")), 404);
    // Under the node.
    assert_eq!(bm.ok(&format!("/v1/nodes/{node}/ports"), "1.1")["ports"].as_array().unwrap().len(), 2);
    assert_eq!(bm.ok("/v1/nodes/pn1/ports/detail", "1.115")["ports"][0]["node_uuid"], json!(node));
    assert_eq!(bm.status(bm.get("/v1/nodes/nope/ports", "1.115")), 404);

    // Show: by UUID, by name; fields hidden below their version.
    let old = bm.ok(&format!("/v1/ports/{uuid}"), "1.1");
    assert_eq!(keys(&old), vec!["address", "created_at", "extra", "links", "node_uuid", "updated_at", "uuid"]);
    let v19 = bm.ok(&format!("/v1/ports/{uuid}"), "1.19");
    assert!(v19.get("pxe_enabled").is_some() && v19.get("physical_network").is_none());
    assert_eq!(bm.ok("/v1/ports/eth1", "1.115")["uuid"], named["uuid"]);
    assert_eq!(bm.status(bm.get("/v1/ports/52:54:00:aa:bb:01", "1.115")), 400);
    assert_eq!(bm.status(bm.get("/v1/ports/nope", "1.115")), 404);
    assert_eq!(keys(&bm.ok(&format!("/v1/ports/{uuid}?fields=address"), "1.115")), vec!["address", "links"]);

    // Patch.
    let patched = bm.expect(
        bm.patch(
            &format!("/v1/ports/{uuid}"),
            "1.115",
            json!([{"op": "replace", "path": "/address", "value": "52:54:00:AA:BB:09"},
                   {"op": "add", "path": "/extra/k2", "value": 2},
                   {"op": "add", "path": "/name", "value": "eth0"}]),
        ),
        200,
    );
    assert_eq!(patched["address"], "52:54:00:aa:bb:09");
    assert_eq!(patched["extra"], json!({"k": "v", "k2": 2}));
    assert_eq!(patched["name"], "eth0");
    assert!(patched["updated_at"].is_string());
    let removed =
        bm.expect(bm.patch(&format!("/v1/ports/{uuid}"), "1.115", json!([{"op": "remove", "path": "/extra"}])), 200);
    assert_eq!(removed["extra"], json!({}));
    for (patch, status) in [
        (json!([{"op": "replace", "path": "/address", "value": "52:54:00:aa:bb:02"}]), 409),
        (json!([{"op": "replace", "path": "/address", "value": "malformed:mac"}]), 400),
        (json!([{"op": "remove", "path": "/address"}]), 400),
        (json!([{"op": "remove", "path": "/uuid"}]), 400),
        (json!([{"op": "add", "path": "/nonexistent", "value": 1}]), 400),
        (json!([{"op": "remove", "path": "/extra/nothere"}]), 400),
        (json!([{"op": "replace", "path": "/node_uuid", "value": "malformed:node_uuid"}]), 400),
        (json!([{"op": "replace", "path": "/node_uuid", "value": "6966530b-e96e-4283-94ac-f9929cbba1ab"}]), 400),
        (json!([{"op": "replace", "path": "/name", "value": "eth1"}]), 409),
    ] {
        let r = bm.patch(&format!("/v1/ports/{uuid}"), "1.115", patch.clone());
        assert_eq!(bm.status(r), status, "{patch}");
    }
    let r = bm.patch(
        &format!("/v1/ports/{uuid}"),
        "1.33",
        json!([{"op": "add", "path": "/physical_network", "value": "p"}]),
    );
    assert_eq!(bm.status(r), 406);
    let r = bm.patch(
        &format!("/v1/ports/{uuid}"),
        "1.34",
        json!([{"op": "add", "path": "/physical_network", "value": "p"}]),
    );
    assert_eq!(bm.expect(r, 200)["physical_network"], "p");
    let r = bm.patch("/v1/ports/52:54:00:aa:bb:09", "1.115", json!([{"op": "add", "path": "/extra/a", "value": 1}]));
    assert_eq!(bm.status(r), 400);

    // Delete: by UUID only.
    assert_eq!(bm.status(bm.delete("/v1/ports/eth1", "1.115")), 400);
    assert_eq!(bm.status(bm.delete(&format!("/v1/ports/{uuid}"), "1.115")), 204);
    assert_eq!(bm.status(bm.get(&format!("/v1/ports/{uuid}"), "1.115")), 404);
    assert_eq!(bm.status(bm.delete(&format!("/v1/ports/{uuid}"), "1.115")), 404);
    assert_eq!(bm.status(bm.get("/v1/ports", "1.0")), 406);
}

fn portgroups(s: &TestServer) {
    let bm = Bm::system(s);
    let node = bm.node("gn1", None);

    // Older than 1.23: the whole API is absent.
    assert_eq!(bm.status(bm.get("/v1/portgroups", "1.22")), 404);
    assert_eq!(bm.status(bm.get("/v1/portgroups/detail", "1.13")), 404);
    assert_eq!(bm.status(bm.post("/v1/portgroups", "1.22", json!({"node_uuid": node}))), 404);

    let r =
        bm.post("/v1/portgroups", "1.115", json!({"node_uuid": node, "name": "bond0", "address": "52:54:00:AA:00:01"}));
    let location = r.headers().get("location").map(|l| l.to_str().unwrap().to_string());
    let pg = bm.expect(r, 201);
    let pg_uuid = pg["uuid"].as_str().unwrap().to_string();
    assert_eq!(location, Some(format!("{}/v1/portgroups/{pg_uuid}", s.baremetal)));
    assert_eq!(pg["address"], "52:54:00:aa:00:01");
    assert_eq!(pg["mode"], "active-backup");
    assert_eq!(pg["standalone_ports_supported"], true);
    assert_eq!(pg["dynamic_portgroup"], false);
    assert_eq!(pg["properties"], json!({}));
    assert_eq!(pg["ports"][0]["href"], format!("{}/v1/portgroups/{pg_uuid}/ports", s.baremetal));
    assert_eq!(keys(&pg).len(), 16);
    let plain = bm.expect(bm.post("/v1/portgroups", "1.23", json!({"node_uuid": node})), 201);
    assert!(plain.get("mode").is_none() && plain["address"].is_null() && plain["name"].is_null());
    for (body, version, status) in [
        (json!({"node_uuid": node, "address": "52:54:00:aa:00:01"}), "1.115", 409),
        (json!({"node_uuid": node, "name": "bond0"}), "1.115", 409),
        (json!({"node_uuid": node, "name": "bad name"}), "1.115", 400),
        (json!({"node_uuid": node, "address": "zz"}), "1.115", 400),
        (json!({"node_uuid": "gn1"}), "1.115", 400),
        (json!({"node_uuid": "6966530b-e96e-4283-94ac-f9929cbba1ab"}), "1.115", 400),
        (json!({}), "1.115", 400),
        (json!({"node_uuid": node, "dynamic_portgroup": true}), "1.115", 400),
        (json!({"node_uuid": node, "mode": "802.3ad"}), "1.25", 406),
    ] {
        let r = bm.post("/v1/portgroups", version, body.clone());
        assert_eq!(bm.status(r), status, "{body}");
    }

    // List and show.
    let list = bm.ok("/v1/portgroups", "1.115");
    assert_eq!(list["portgroups"].as_array().unwrap().len(), 2);
    assert_eq!(keys(&list["portgroups"][0]), vec!["address", "links", "name", "uuid"]);
    assert_eq!(bm.ok("/v1/portgroups/detail", "1.115")["portgroups"][0]["mode"], "active-backup");
    assert!(bm.ok("/v1/portgroups/detail", "1.25")["portgroups"][0].get("mode").is_none());
    assert_eq!(bm.ok(&format!("/v1/nodes/{node}/portgroups"), "1.24")["portgroups"].as_array().unwrap().len(), 2);
    assert_eq!(bm.ok("/v1/nodes/gn1/portgroups/detail", "1.115")["portgroups"][0]["uuid"], json!(pg_uuid));
    assert_eq!(bm.status(bm.get(&format!("/v1/nodes/{node}/portgroups"), "1.23")), 404);
    assert_eq!(bm.status(bm.get(&format!("/v1/portgroups?node={node}&address=52:54:00:aa:00:01"), "1.115")), 400);
    assert_eq!(bm.status(bm.get("/v1/portgroups?shard=a", "1.105")), 406);
    assert_eq!(bm.status(bm.get("/v1/portgroups?fields=uuid,mode", "1.25")), 406);
    assert_eq!(bm.ok("/v1/portgroups/bond0", "1.115")["uuid"], json!(pg_uuid));
    assert_eq!(bm.ok(&format!("/v1/portgroups/{pg_uuid}.json"), "1.90")["uuid"], json!(pg_uuid));
    assert_eq!(bm.status(bm.get(&format!("/v1/portgroups/{pg_uuid}.json"), "1.91")), 404);
    assert_eq!(bm.status(bm.get("/v1/portgroups/bad:name", "1.115")), 400);

    // Member ports: the first one with a physical network gives it to the portgroup.
    let p1 = bm.expect(
        bm.post(
            "/v1/ports",
            "1.115",
            json!({"node_uuid": node, "address": "52:54:00:aa:00:11", "portgroup_uuid": pg_uuid, "physical_network": "physnet1"}),
        ),
        201,
    );
    assert_eq!(bm.ok(&format!("/v1/portgroups/{pg_uuid}"), "1.115")["physical_network"], "physnet1");
    let r = bm.post(
        "/v1/ports",
        "1.115",
        json!({"node_uuid": node, "address": "52:54:00:aa:00:12", "portgroup_uuid": pg_uuid, "physical_network": "physnet2"}),
    );
    assert_eq!(bm.status(r), 409);
    let loose = bm.expect(
        bm.post(
            "/v1/ports",
            "1.34",
            json!({"node_uuid": node, "address": "52:54:00:aa:00:13", "physical_network": "physnet2"}),
        ),
        201,
    );
    let r = bm.patch(
        &format!("/v1/ports/{}", loose["uuid"].as_str().unwrap()),
        "1.34",
        json!([{"op": "replace", "path": "/portgroup_uuid", "value": pg_uuid}]),
    );
    assert_eq!(bm.status(r), 409);
    let r = bm.patch(
        &format!("/v1/ports/{}", p1["uuid"].as_str().unwrap()),
        "1.34",
        json!([{"op": "replace", "path": "/physical_network", "value": "physnet2"}]),
    );
    assert_eq!(bm.status(r), 409);
    let members = bm.ok(&format!("/v1/portgroups/{pg_uuid}/ports"), "1.24");
    assert_eq!(members["ports"].as_array().unwrap().len(), 1);
    assert_eq!(bm.status(bm.get(&format!("/v1/portgroups/{pg_uuid}/ports"), "1.23")), 404);
    assert_eq!(bm.status(bm.get(&format!("/v1/ports?portgroup={pg_uuid}"), "1.23")), 406);
    assert_eq!(bm.ok(&format!("/v1/ports?portgroup={pg_uuid}"), "1.24")["ports"].as_array().unwrap().len(), 1);
    assert_eq!(bm.ok("/v1/portgroups/bond0/ports/detail", "1.115")["ports"][0]["portgroup_uuid"], json!(pg_uuid));

    // Patch.
    let up = bm.expect(
        bm.patch(
            &format!("/v1/portgroups/{pg_uuid}"),
            "1.115",
            json!([{"op": "replace", "path": "/address", "value": "52:54:00:aa:00:02"},
                   {"op": "add", "path": "/properties/miimon", "value": 100},
                   {"op": "replace", "path": "/physical_network", "value": "physnet3"}]),
        ),
        200,
    );
    assert_eq!(up["address"], "52:54:00:aa:00:02");
    assert_eq!(up["properties"], json!({"miimon": 100}));
    assert_eq!(bm.ok(&format!("/v1/ports/{}", p1["uuid"].as_str().unwrap()), "1.115")["physical_network"], "physnet3");
    let plain_path = format!("/v1/portgroups/{}", plain["uuid"].as_str().unwrap());
    for (patch, version, status) in [
        (json!([{"op": "replace", "path": "/name", "value": "bad name"}]), "1.115", 400),
        (json!([{"op": "remove", "path": "/mode"}]), "1.115", 400),
        (json!([{"op": "replace", "path": "/dynamic_portgroup", "value": true}]), "1.115", 400),
        (json!([{"op": "replace", "path": "/address", "value": "52:54:00:aa:00:02"}]), "1.115", 409),
        (json!([{"op": "replace", "path": "/name", "value": "bond0"}]), "1.115", 409),
        (json!([{"op": "replace", "path": "/mode", "value": "802.3ad"}]), "1.25", 406),
        (json!([{"op": "replace", "path": "/node_uuid", "value": "nope"}]), "1.115", 400),
        (json!([{"op": "replace", "path": "/mode", "value": "802.3ad"}]), "1.115", 200),
    ] {
        let r = bm.patch(&plain_path, version, patch.clone());
        assert_eq!(bm.status(r), status, "{patch}");
    }

    // Delete: refused while ports remain; `.json` works up to 1.90.
    assert_eq!(bm.status(bm.delete(&format!("/v1/portgroups/{pg_uuid}"), "1.115")), 400);
    assert_eq!(bm.status(bm.delete(&format!("/v1/ports/{}", p1["uuid"].as_str().unwrap()), "1.115")), 204);
    assert_eq!(bm.status(bm.delete("/v1/portgroups/bond0", "1.115")), 204);
    assert_eq!(bm.status(bm.delete(&format!("{plain_path}.json"), "1.90")), 204);
    assert_eq!(bm.status(bm.get("/v1/portgroups/bond0", "1.115")), 404);
}

fn chassis(s: &TestServer) {
    let bm = Bm::system(s);
    let r = bm.post("/v1/chassis", "1.1", json!({"description": "rack 1 ♡", "extra": {"a": 1}}));
    assert_eq!(r.status(), 201);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let ch = bm.expect(r, 201);
    let uuid = ch["uuid"].as_str().unwrap().to_string();
    assert_eq!(location, format!("{}/v1/chassis/{uuid}", s.baremetal));
    assert_eq!(ch["description"], "rack 1 ♡");
    // Ironic's quirk: `nodes` is a list holding the link list.
    assert_eq!(ch["nodes"][0][0]["href"], format!("{}/v1/chassis/{uuid}/nodes", s.baremetal));
    assert_eq!(ch["nodes"][0][1]["rel"], "bookmark");
    assert_eq!(keys(&ch), vec!["created_at", "description", "extra", "links", "nodes", "updated_at", "uuid"]);
    assert_eq!(bm.ok(&format!("/v1/chassis/{uuid}"), "1.1"), ch);

    let fixed = "1be26c0b-03f2-4d2e-ae87-c02d7f33c123";
    assert_eq!(bm.expect(bm.post("/v1/chassis", "1.1", json!({"uuid": fixed})), 201)["uuid"], fixed);
    assert_eq!(bm.status(bm.post("/v1/chassis", "1.1", json!({"uuid": fixed}))), 409);
    assert_eq!(bm.status(bm.post("/v1/chassis", "1.1", json!({"foo": 1}))), 400);
    assert_eq!(bm.status(bm.post("/v1/chassis", "1.1", json!({"uuid": "abc"}))), 400);

    let list = bm.ok("/v1/chassis", "1.1");
    assert_eq!(list["chassis"].as_array().unwrap().len(), 2);
    assert_eq!(keys(&list["chassis"][0]), vec!["description", "links", "uuid"]);
    assert_eq!(keys(&bm.ok("/v1/chassis/detail", "1.1")["chassis"][0]).len(), 7);
    assert_eq!(bm.status(bm.get("/v1/chassis?detail=true", "1.42")), 400);
    assert_eq!(bm.status(bm.get("/v1/chassis?fields=uuid", "1.7")), 406);
    assert_eq!(keys(&bm.ok(&format!("/v1/chassis/{uuid}?fields=extra"), "1.8")), vec!["extra", "links"]);
    assert!(bm.ok("/v1/chassis?limit=1", "1.1")["next"].as_str().unwrap().contains(&format!("marker={uuid}")));
    assert_eq!(bm.status(bm.get("/v1/chassis/rack1", "1.1")), 400);
    assert_eq!(bm.status(bm.get("/v1/chassis/6966530b-e96e-4283-94ac-f9929cbba1ab", "1.1")), 404);

    let up = bm.expect(
        bm.patch(
            &format!("/v1/chassis/{uuid}"),
            "1.1",
            json!([{"op": "replace", "path": "/description", "value": "rack 2"}, {"op": "add", "path": "/extra/b", "value": 2}]),
        ),
        200,
    );
    assert_eq!(up["description"], "rack 2");
    assert_eq!(up["extra"], json!({"a": 1, "b": 2}));
    let r = bm.patch(&format!("/v1/chassis/{uuid}"), "1.1", json!([{"op": "replace", "path": "/nodes", "value": 1}]));
    assert_eq!(bm.status(r), 400);

    // A chassis with nodes cannot go.
    let node = bm.node("cn1", Some(&uuid));
    assert_eq!(bm.status(bm.delete(&format!("/v1/chassis/{uuid}"), "1.1")), 400);
    assert_eq!(bm.status(bm.delete(&format!("/v1/nodes/{node}"), "1.115")), 204);
    assert_eq!(bm.status(bm.delete(&format!("/v1/chassis/{uuid}"), "1.1")), 204);
    assert_eq!(bm.status(bm.get(&format!("/v1/chassis/{uuid}"), "1.1")), 404);
    assert_eq!(bm.status(bm.post("/v1/chassis", "1.0", json!({}))), 406);
}

fn drivers(s: &TestServer) {
    let bm = Bm::system(s);
    let host = bm.ok("/v1/conductors", "1.49")["conductors"][0]["hostname"].as_str().unwrap().to_string();

    let old = bm.ok("/v1/drivers", "1.1");
    let names: Vec<&str> = old["drivers"].as_array().unwrap().iter().map(|d| d["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["fake-hardware", "ipmi", "redfish"]);
    assert_eq!(keys(&old["drivers"][0]), vec!["hosts", "links", "name"]);
    assert_eq!(old["drivers"][0]["hosts"], json!([host]));
    let new = bm.ok("/v1/drivers", "1.115");
    assert_eq!(keys(&new["drivers"][0]), vec!["hosts", "links", "name", "properties", "type"]);
    assert_eq!(new["drivers"][1]["type"], "dynamic");
    assert_eq!(new["drivers"][1]["properties"][0]["href"], format!("{}/v1/drivers/ipmi/properties", s.baremetal));
    let detail = bm.ok("/v1/drivers?detail=true", "1.115");
    assert_eq!(detail["drivers"][0]["default_power_interface"], "fake");
    assert_eq!(keys(&detail["drivers"][0]).len(), 5 + 26);
    assert_eq!(bm.ok("/v1/drivers?type=classic", "1.30"), json!({"drivers": []}));
    assert_eq!(bm.ok("/v1/drivers?type=dynamic", "1.30")["drivers"].as_array().unwrap().len(), 3);
    assert_eq!(bm.status(bm.get("/v1/drivers?type=dynamic", "1.29")), 406);
    assert_eq!(bm.status(bm.get("/v1/drivers?detail=true", "1.29")), 406);
    assert_eq!(bm.status(bm.get("/v1/drivers?type=foo", "1.30")), 400);
    assert_eq!(bm.status(bm.get("/v1/drivers?fields=name", "1.76")), 406);
    assert_eq!(keys(&bm.ok("/v1/drivers?fields=name", "1.77")["drivers"][0]), vec!["links", "name"]);

    let ipmi = bm.ok("/v1/drivers/ipmi", "1.115");
    assert_eq!(ipmi["default_management_interface"], "ipmitool");
    assert!(ipmi["enabled_vendor_interfaces"].as_array().unwrap().contains(&json!("no-vendor")));
    let ipmi32 = bm.ok("/v1/drivers/ipmi", "1.32");
    assert!(ipmi32.get("default_storage_interface").is_none() && ipmi32.get("default_boot_interface").is_some());
    assert_eq!(keys(&bm.ok("/v1/drivers/ipmi", "1.1")), vec!["hosts", "links", "name"]);
    assert_eq!(bm.status(bm.get("/v1/drivers/nope", "1.115")), 404);

    let props = bm.ok("/v1/drivers/ipmi/properties", "1.1");
    assert!(props["ipmi_address"].as_str().unwrap().ends_with("Required."));
    assert!(!bm.ok("/v1/drivers/fake-hardware/properties", "1.1").as_object().unwrap().is_empty());
    assert_eq!(bm.status(bm.get("/v1/drivers/nope/properties", "1.1")), 404);
    assert!(bm.ok("/v1/drivers/fake-hardware/raid/logical_disk_properties", "1.12").get("raid_level").is_some());
    assert_eq!(bm.status(bm.get("/v1/drivers/testdriver/raid/logical_disk_properties", "1.11")), 406);
    assert_eq!(bm.status(bm.get("/v1/drivers/testdriver/raid/logical_disk_properties", "1.12")), 404);
    assert_eq!(bm.ok("/v1/drivers/ipmi/vendor_passthru/methods", "1.115"), json!({}));
}

fn conductors(s: &TestServer) {
    let bm = Bm::system(s);
    assert_eq!(bm.status(bm.get("/v1/conductors", "1.48")), 404);
    assert_eq!(bm.status(bm.get("/v1/conductors", "1.39")), 404);
    let list = bm.ok("/v1/conductors", "1.49");
    let c = &list["conductors"][0];
    assert_eq!(keys(c), vec!["alive", "conductor_group", "hostname", "links"]);
    assert_eq!(c["alive"], true);
    let host = c["hostname"].as_str().unwrap().to_string();
    let detail = bm.ok("/v1/conductors?detail=true", "1.49");
    assert_eq!(detail["conductors"][0]["drivers"], json!(["fake-hardware", "ipmi", "redfish"]));
    assert_eq!(keys(&detail["conductors"][0]).len(), 7);
    assert_eq!(keys(&bm.ok("/v1/conductors?fields=hostname", "1.49")["conductors"][0]), vec!["hostname", "links"]);
    assert_eq!(bm.status(bm.get("/v1/conductors?fields=bogus", "1.49")), 400);
    assert_eq!(bm.status(bm.get("/v1/conductors?sort_key=alive", "1.49")), 400);
    let page = bm.ok("/v1/conductors?limit=1", "1.49");
    assert!(page["next"].as_str().unwrap().ends_with(&format!("marker={host}")));
    assert!(bm.ok(&format!("/v1/conductors?marker={host}"), "1.49")["conductors"].as_array().unwrap().is_empty());

    let one = bm.ok(&format!("/v1/conductors/{host}"), "1.49");
    assert_eq!(one["hostname"], json!(host));
    assert!(one["drivers"].is_array() && one["created_at"].is_string());
    assert_eq!(one["links"][0]["href"], format!("{}/v1/conductors/{host}", s.baremetal));
    assert_eq!(bm.status(bm.get(&format!("/v1/conductors/{host}"), "1.48")), 404);
    assert_eq!(bm.status(bm.get("/v1/conductors/nope", "1.49")), 404);
}

/// Project-scoped callers see only the ports of their nodes; system-only
/// resources are refused.
fn project_scope_rules(s: &TestServer) {
    let sys = Bm::system(s);
    let node = sys.node("rn1", None);
    let port =
        sys.expect(sys.post("/v1/ports", "1.115", json!({"node_uuid": node, "address": "52:54:00:cc:00:01"})), 201);
    let port_path = format!("/v1/ports/{}", port["uuid"].as_str().unwrap());

    let (token, body) = s.token("admin", ADMIN_PASSWORD, project_scope("admin"));
    let project = body["token"]["project"]["id"].as_str().unwrap().to_string();
    let proj = Bm { s, token };
    assert_eq!(proj.ok("/v1/ports", "1.115"), json!({"ports": []}));
    assert_eq!(proj.status(proj.get(&port_path, "1.115")), 404);
    assert_eq!(proj.status(proj.get(&format!("/v1/nodes/{node}/ports"), "1.115")), 404);
    let r = proj.post("/v1/ports", "1.115", json!({"node_uuid": node, "address": "52:54:00:cc:00:02"}));
    assert_eq!(proj.status(r), 403);
    assert_eq!(proj.status(proj.get("/v1/chassis", "1.115")), 403);
    assert_eq!(proj.status(proj.get("/v1/drivers", "1.115")), 403);
    assert_eq!(proj.status(proj.get("/v1/conductors", "1.115")), 403);

    // Once the project owns the node, its admin sees and manages the ports.
    let r =
        sys.patch(&format!("/v1/nodes/{node}"), "1.115", json!([{"op": "add", "path": "/owner", "value": project}]));
    sys.expect(r, 200);
    assert_eq!(proj.ok("/v1/ports", "1.115")["ports"].as_array().unwrap().len(), 1);
    assert_eq!(proj.ok(&port_path, "1.115")["uuid"], port["uuid"]);
    let r = proj.post("/v1/ports", "1.115", json!({"node_uuid": node, "address": "52:54:00:cc:00:02"}));
    assert_eq!(proj.status(r), 201);
    let r = proj.patch(&port_path, "1.115", json!([{"op": "add", "path": "/extra/x", "value": 1}]));
    assert_eq!(proj.status(r), 200);
    assert_eq!(proj.status(proj.delete(&port_path, "1.115")), 204);
}

on_both_backends!(ports, portgroups, chassis, drivers, conductors, project_scope_rules);

/// While the node's lock is held (here: a slow fake `manage`), ports and
/// portgroups of that node can be created but not changed or deleted.
fn node_lock(s: &TestServer) {
    let bm = Bm::system(s);
    let node = bm.node("ln1", None);
    let port =
        bm.expect(bm.post("/v1/ports", "1.115", json!({"node_uuid": node, "address": "52:54:00:dd:00:01"})), 201);
    let pg = bm.expect(bm.post("/v1/portgroups", "1.115", json!({"node_uuid": node})), 201);
    let r = bm
        .req(reqwest::Method::PUT, &format!("/v1/nodes/{node}/states/provision"), "1.115")
        .json(&json!({"target": "manage"}))
        .send()
        .expect("request");
    assert_eq!(r.status(), 202);
    let reservation = bm.ok(&format!("/v1/nodes/{node}"), "1.115")["reservation"].clone();
    assert!(reservation.is_string(), "{reservation}");

    let port_path = format!("/v1/ports/{}", port["uuid"].as_str().unwrap());
    let pg_path = format!("/v1/portgroups/{}", pg["uuid"].as_str().unwrap());
    let r = bm.patch(&port_path, "1.115", json!([{"op": "add", "path": "/extra/x", "value": 1}]));
    assert_eq!(bm.status(r), 409);
    assert_eq!(bm.status(bm.delete(&port_path, "1.115")), 409);
    let r = bm.patch(&pg_path, "1.115", json!([{"op": "add", "path": "/extra/x", "value": 1}]));
    assert_eq!(bm.status(r), 409);
    assert_eq!(bm.status(bm.delete(&pg_path, "1.115")), 409);
    let r = bm.post("/v1/ports", "1.115", json!({"node_uuid": node, "address": "52:54:00:dd:00:02"}));
    assert_eq!(bm.status(r), 201);
}

#[test]
fn node_lock_sqlite() {
    let s = TestServer::start_with(common::Db::Sqlite, |c| c.fake.delay_ms = 5000).expect("server");
    node_lock(&s);
}
