//! The web console over HTTP, as a browser without script would use it:
//! sign-in with CSRF and cookie flags, sign-out revoking the token; a member
//! is shown 403 on the fleet pages, and every admin action posted with a
//! member's session is refused by the API itself (nothing changes); an
//! administrator enrols, manages and provides a node, creates a flavor and
//! uploads an image; the member deploys a server with one form and deletes
//! it. SQLite and PostgreSQL.

mod common;

use std::time::{Duration, Instant};

use common::{ADMIN_PASSWORD, Db, TestServer};
use reqwest::blocking::{Client, Response};
use reqwest::redirect::Policy;
use serde_json::{Value, json};

/// One browser: its own cookie jar, redirects not followed.
struct Browser<'a> {
    s: &'a TestServer,
    http: Client,
}

struct Page {
    status: u16,
    location: String,
    cookies: Vec<String>,
    body: String,
}

impl Page {
    fn of(r: Response) -> Page {
        let status = r.status().as_u16();
        let location = r.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let cookies =
            r.headers().get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).map(str::to_string).collect();
        Page { status, location, cookies, body: r.text().unwrap() }
    }

    /// The CSRF value of the page's forms.
    fn csrf(&self) -> String {
        let Some(at) = self.body.find("name=\"csrf\" value=\"") else {
            panic!("no form with a CSRF field on a {} page: {}", self.status, self.body)
        };
        let at = at + 19;
        self.body[at..at + 64].to_string()
    }
}

impl<'a> Browser<'a> {
    fn new(s: &'a TestServer) -> Self {
        let http = Client::builder()
            .cookie_store(true)
            .redirect(Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        Browser { s, http }
    }

    fn get(&self, path: &str) -> Page {
        Page::of(self.http.get(self.s.url(path)).send().unwrap())
    }

    fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        Page::of(self.http.post(self.s.url(path)).form(form).send().unwrap())
    }

    /// Posts a form with this browser's CSRF value (read off `from`).
    fn submit(&self, from: &str, path: &str, fields: &[(&str, &str)]) -> Page {
        let csrf = self.get(from).csrf();
        let mut form = vec![("csrf", csrf.as_str())];
        form.extend_from_slice(fields);
        self.post(path, &form)
    }

    fn login(&self, user: &str, password: &str, project: &str) -> Page {
        let page = self.get("/ui/login");
        assert_eq!(page.status, 200);
        let csrf = page.csrf();
        self.post(
            "/ui/login",
            &[("csrf", &csrf), ("username", user), ("password", password), ("project", project), ("domain", "Default")],
        )
    }
}

fn api(s: &TestServer, token: &str, method: reqwest::Method, url: String, body: Option<Value>) -> (u16, Value) {
    let mut r = s
        .client
        .request(method, url)
        .header("X-Auth-Token", token)
        .header("X-OpenStack-Ironic-API-Version", "1.78")
        .header("X-OpenStack-Nova-API-Version", "2.79");
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().unwrap();
    let st = r.status().as_u16();
    (st, r.json().unwrap_or(Value::Null))
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < Duration::from_secs(60), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn sign_in_and_out(s: &TestServer) {
    let b = Browser::new(s);
    // anonymous pages send to the login page, keeping where to come back
    let p = b.get("/ui/servers");
    assert_eq!((p.status, p.location.as_str()), (303, "/ui/login?next=%2Fui%2Fservers"));
    let login = b.get("/ui/login");
    let csrf_cookie = login.cookies.iter().find(|c| c.starts_with("ironbark_csrf=")).expect("csrf cookie");
    assert!(csrf_cookie.contains("HttpOnly") && csrf_cookie.contains("SameSite=Strict"), "{csrf_cookie}");
    // a form without the browser's CSRF value, or from another site, is refused
    let p = b.post(
        "/ui/login",
        &[("csrf", &"0".repeat(64)), ("username", "admin"), ("password", ADMIN_PASSWORD), ("project", "admin")],
    );
    assert_eq!(p.status, 403, "{}", p.body);
    let csrf = login.csrf();
    let r = b
        .http
        .post(s.url("/ui/login"))
        .header("Origin", "http://evil.example")
        .form(&[("csrf", csrf.as_str()), ("username", "admin"), ("password", ADMIN_PASSWORD), ("project", "admin")])
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
    let p = b.login("admin", "wrong", "admin");
    assert_eq!(p.status, 401);
    assert!(p.body.contains("password"), "{}", p.body);
    let p = b.login("admin", ADMIN_PASSWORD, "admin");
    assert_eq!((p.status, p.location.as_str()), (303, "/ui/servers"), "{}", p.body);
    let session = p.cookies.iter().find(|c| c.starts_with("ironbark_session=")).expect("session cookie");
    assert!(
        session.contains("HttpOnly") && session.contains("SameSite=Strict") && session.contains("Path=/ui"),
        "{session}"
    );
    let token = session["ironbark_session=".len()..].split(';').next().unwrap().to_string();
    let p = b.get("/ui/servers");
    assert_eq!(p.status, 200);
    assert!(p.body.contains("Fleet"), "an admin sees the fleet section");
    // sign-out revokes the token itself
    let p = b.submit("/ui/servers", "/ui/logout", &[]);
    assert_eq!((p.status, p.location.as_str()), (303, "/ui/login"));
    let admin = s.admin_token();
    let r = s
        .client
        .get(s.url("/v3/auth/tokens"))
        .header("X-Auth-Token", &admin)
        .header("X-Subject-Token", &token)
        .send()
        .unwrap();
    assert_eq!(r.status(), 404, "the signed-out token is revoked");
    assert_eq!(b.get("/ui/servers").status, 303);
}

/// Every admin action of the console, posted with a member's session: the
/// console forwards it, the API refuses it, and nothing changes.
fn member_cannot_act_as_admin(s: &TestServer) {
    let admin = s.admin_token();
    let (st, node) = api(
        s,
        &admin,
        reqwest::Method::POST,
        format!("{}/v1/nodes", s.baremetal),
        Some(json!({"driver": "fake-hardware", "name": "guarded"})),
    );
    assert_eq!(st, 201);
    let id = node["uuid"].as_str().unwrap().to_string();
    s.project_user("tenant-x", "mallory", "member");
    let b = Browser::new(s);
    assert_eq!(b.login("mallory", "mallory-pw", "tenant-x").status, 303);
    let servers = b.get("/ui/servers");
    assert_eq!(servers.status, 200);
    assert!(!servers.body.contains("/ui/admin/nodes"), "no fleet link for a member");
    for page in [
        "/ui/admin/nodes",
        "/ui/admin/nodes/new",
        &format!("/ui/admin/nodes/{id}"),
        "/ui/admin/flavors",
        "/ui/admin/images",
        "/ui/admin/nodes/rows",
    ] {
        let p = b.get(page);
        assert_eq!(p.status, 403, "{page}: {}", p.body);
    }
    let csrf = servers.csrf();
    let attempts: Vec<(String, Vec<(&str, &str)>)> = vec![
        ("/ui/admin/nodes".into(), vec![("driver", "fake-hardware"), ("name", "sneaky")]),
        (
            "/ui/admin/nodes/bulk".into(),
            vec![("inventory", r#"{"nodes": [{"driver": "fake-hardware", "name": "sneaky2"}]}"#)],
        ),
        (format!("/ui/admin/nodes/{id}/action"), vec![("verb", "manage")]),
        (format!("/ui/admin/nodes/{id}/action"), vec![("verb", "maintenance_on"), ("reason", "x")]),
        (format!("/ui/admin/nodes/{id}/action"), vec![("verb", "power_on")]),
        (
            "/ui/admin/flavors".into(),
            vec![("name", "free"), ("resource_class", "gold"), ("vcpus", "1"), ("ram", "1"), ("disk", "1")],
        ),
    ];
    for (path, fields) in attempts {
        let mut form = vec![("csrf", csrf.as_str())];
        form.extend(fields);
        let p = b.post(&path, &form);
        // a node the member's project cannot see is "not found" to it, as in Ironic
        let refused = if path.contains("/action") { [403, 404].contains(&p.status) } else { p.status == 403 };
        assert!(refused, "{path} with a member's session: {} {}", p.status, p.body);
    }
    let upload = reqwest::blocking::multipart::Form::new()
        .text("csrf", csrf.clone())
        .text("name", "evil")
        .text("disk_format", "raw")
        .text("visibility", "public")
        .part("file", reqwest::blocking::multipart::Part::bytes(vec![1u8; 1000]).file_name("x.img"));
    let r = b.http.post(s.url("/ui/admin/images")).multipart(upload).send().unwrap();
    assert_eq!(r.status(), 403, "a member may not publish an image");
    // the API saw the attempts and refused them all
    let (_, nodes) = api(
        s,
        &admin,
        reqwest::Method::GET,
        format!("{}/v1/nodes?fields=name,provision_state,maintenance,power_state", s.baremetal),
        None,
    );
    let names: Vec<&str> = nodes["nodes"].as_array().unwrap().iter().filter_map(|n| n["name"].as_str()).collect();
    assert_eq!(names, ["guarded"]);
    assert_eq!(nodes["nodes"][0]["provision_state"], "enroll");
    assert_eq!(nodes["nodes"][0]["maintenance"], false);
    let (_, flavors) = api(s, &admin, reqwest::Method::GET, format!("{}/v2.1/flavors?is_public=None", s.compute), None);
    assert!(flavors["flavors"].as_array().unwrap().iter().all(|f| f["name"] != "free"));
    let (_, images) = api(s, &admin, reqwest::Method::GET, format!("{}/v2/images", s.image), None);
    assert!(images["images"].as_array().unwrap().iter().all(|i| i["name"] != "evil"));
    api(s, &admin, reqwest::Method::DELETE, format!("{}/v1/nodes/{id}", s.baremetal), None);
}

/// The admin's enrolment, flavor and image; the member's one-form deploy
/// and delete.
fn deploy_through_the_console(s: &TestServer) {
    let admin_b = Browser::new(s);
    assert_eq!(admin_b.login("admin", ADMIN_PASSWORD, "admin").status, 303);
    let inventory = json!({"nodes": [{
        "name": "rack1-u1", "driver": "fake-hardware", "resource_class": "baremetal-gold", "network_interface": "flat",
        "properties": {"cpus": 8, "memory_mb": 16384, "local_gb": 100},
        "ports": [{"address": "52:54:00:aa:00:01", "local_link_connection": {"switch_id": "00:11:22:33:44:55", "port_id": "xe-0/0/1", "switch_info": "leaf1"}}],
    }]})
    .to_string();
    let p = admin_b.submit("/ui/admin/nodes/new", "/ui/admin/nodes/bulk", &[("inventory", &inventory)]);
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(p.body.contains("1 of 1 nodes enrolled"), "{}", p.body);
    let at = p.body.find("/ui/admin/nodes/").unwrap() + 16;
    let id = p.body[at..at + 36].to_string();
    let node_state = || {
        let p = admin_b.get(&format!("/ui/admin/nodes/{id}/live"));
        assert_eq!(p.status, 200);
        let at = p.body.find("data-state=\"").unwrap() + 12;
        p.body[at..].split('"').next().unwrap().to_string()
    };
    assert_eq!(node_state(), "enroll");
    for (verb, reached) in [("manage", "manageable"), ("provide", "available")] {
        let p = admin_b.submit(
            &format!("/ui/admin/nodes/{id}"),
            &format!("/ui/admin/nodes/{id}/action"),
            &[("verb", verb)],
        );
        assert_eq!(p.status, 303, "{verb}: {}", p.body);
        wait_for(reached, || node_state() == reached);
    }
    let timeline = admin_b.get(&format!("/ui/admin/nodes/{id}"));
    assert!(timeline.body.contains("Timeline") && timeline.body.contains("available"), "{}", timeline.body);
    let fleet = admin_b.get("/ui/admin/nodes?provision_state=available");
    assert!(fleet.body.contains("rack1-u1") && fleet.body.contains("available"), "{}", fleet.body);
    assert!(!admin_b.get("/ui/admin/nodes?provision_state=enroll").body.contains("rack1-u1"));
    let p = admin_b.submit(
        "/ui/admin/flavors",
        "/ui/admin/flavors",
        &[("name", "bm.gold"), ("resource_class", "baremetal-gold"), ("vcpus", "8"), ("ram", "16384"), ("disk", "100")],
    );
    assert_eq!(p.status, 303, "{}", p.body);
    let csrf = admin_b.get("/ui/admin/images").csrf();
    let data: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
    let form = reqwest::blocking::multipart::Form::new()
        .text("csrf", csrf)
        .text("name", "ubuntu-bm")
        .text("disk_format", "raw")
        .text("visibility", "public")
        .part("file", reqwest::blocking::multipart::Part::bytes(data.clone()).file_name("ubuntu.img"));
    let r = admin_b.http.post(s.url("/ui/admin/images")).multipart(form).send().unwrap();
    assert_eq!(r.status(), 303, "{}", r.text().unwrap());
    let admin = s.admin_token();
    let (_, images) = api(s, &admin, reqwest::Method::GET, format!("{}/v2/images?name=ubuntu-bm", s.image), None);
    let image = &images["images"][0];
    assert_eq!((image["status"].as_str(), image["size"].as_u64()), (Some("active"), Some(data.len() as u64)));
    use md5::Digest;
    let md5: String = md5::Md5::digest(&data).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(image["checksum"], md5, "the upload streamed through intact");
    let (_, net) = api(
        s,
        &admin,
        reqwest::Method::POST,
        format!("{}/v2.0/networks", s.network),
        Some(json!({"network": {"name": "tenants", "shared": true}})),
    );
    let nid = net["network"]["id"].as_str().unwrap().to_string();
    api(
        s,
        &admin,
        reqwest::Method::POST,
        format!("{}/v2.0/subnets", s.network),
        Some(json!({"subnet": {"network_id": nid, "cidr": "10.90.0.0/24", "ip_version": 4}})),
    );

    s.project_user("tenant-d", "dora", "member");
    let b = Browser::new(s);
    assert_eq!(b.login("dora", "dora-pw", "tenant-d").status, 303);
    let form = b.get("/ui/deploy");
    assert_eq!(form.status, 200);
    assert!(
        form.body.contains("bm.gold") && form.body.contains("8 CPUs") && form.body.contains("class baremetal-gold"),
        "{}",
        form.body
    );
    assert!(form.body.contains("ubuntu-bm") && form.body.contains("tenants"));
    // one click: everything the form needs is preselected
    let radio = form.body.find("name=\"flavor\" value=\"").unwrap() + 21;
    let flavor = form.body[radio..].split('"').next().unwrap().to_string();
    let pick = |name: &str| {
        let sel = form.body.find(&format!("name=\"{name}\"")).unwrap();
        let opt = form.body[sel..].find("option value=\"").unwrap() + sel + 14;
        form.body[opt..].split('"').next().unwrap().to_string()
    };
    let (image, network) = (pick("image"), pick("network"));
    let p = b.post(
        "/ui/deploy",
        &[
            ("csrf", &form.csrf()),
            ("flavor", &flavor),
            ("image", &image),
            ("network", &network),
            ("key", ""),
            ("name", ""),
        ],
    );
    assert_eq!(p.status, 303, "{}", p.body);
    assert!(p.location.starts_with("/ui/servers?created=bms-"), "{}", p.location);
    wait_for("the server to be ACTIVE", || b.get("/ui/servers/rows").body.contains("data-status=\"ACTIVE\""));
    let rows = b.get("/ui/servers/rows").body;
    assert!(rows.contains("10.90.0."), "the server shows its address: {rows}");
    // a second deploy finds no free node: said in words
    let p = b.post(
        "/ui/deploy",
        &[("csrf", &form.csrf()), ("flavor", &flavor), ("image", &image), ("network", &network), ("name", "second")],
    );
    assert_eq!(p.status, 303);
    wait_for("the second server to fail", || b.get("/ui/servers/rows").body.contains("data-status=\"ERROR\""));
    assert!(b.get("/ui/servers/rows").body.contains("No free server of this flavor"));
    // delete with confirmation
    let at = rows.find("data-server=\"").unwrap() + 13;
    let sid = rows[at..at + 36].to_string();
    let confirm = b.get(&format!("/ui/servers/{sid}/delete"));
    assert!(confirm.body.contains("cannot be undone"), "{}", confirm.body);
    let p = b.post(&format!("/ui/servers/{sid}/delete"), &[("csrf", &confirm.csrf())]);
    assert_eq!(p.status, 303, "{}", p.body);
    wait_for("the server to go", || !b.get("/ui/servers/rows").body.contains(&sid));
    wait_for("the node back in the pool", || node_state() == "available");
    // the member cannot delete someone else's server through the console either
    let other = Browser::new(s);
    s.project_user("tenant-e", "erin", "member");
    assert_eq!(other.login("erin", "erin-pw", "tenant-e").status, 303);
    let err_row = b.get("/ui/servers/rows").body;
    let at = err_row.find("data-server=\"").unwrap() + 13;
    let failed = err_row[at..at + 36].to_string();
    let p = other.submit("/ui/servers", &format!("/ui/servers/{failed}/delete"), &[]);
    assert_eq!(p.status, 404, "{}", p.body);
}

#[test]
fn console_sqlite() {
    let s = TestServer::start_with(Db::Sqlite, |c| c.fake.delay_ms = 50).unwrap();
    sign_in_and_out(&s);
    member_cannot_act_as_admin(&s);
    deploy_through_the_console(&s);
}

#[test]
fn console_postgres() {
    let Some(s) = TestServer::start_with(Db::Postgres, |c| c.fake.delay_ms = 50) else {
        eprintln!("IRONBARK_TEST_PG_URL not set; skipping");
        return;
    };
    sign_in_and_out(&s);
    member_cannot_act_as_admin(&s);
    deploy_through_the_console(&s);
}
