//! Test harness: a real ironbark (all built services, in-process, on
//! ephemeral loopback ports) over SQLite, or over a fresh PostgreSQL
//! database when `IRONBARK_TEST_PG_URL` is set.

#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};

use ironbark::config::{Config, ServiceKind};
use ironbark::server;
use reqwest::blocking::{Client, RequestBuilder, Response};
use serde_json::{Value, json};

pub const ADMIN_PASSWORD: &str = "test-admin-pw";

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Db {
    Sqlite,
    Postgres,
}

pub struct TestServer {
    /// Identity root, e.g. `http://127.0.0.1:40123`.
    pub identity: String,
    /// Bare-metal (Ironic) root, e.g. `http://127.0.0.1:40124`.
    pub baremetal: String,
    /// Compute (Nova) root; the API is under `/v2.1`.
    pub compute: String,
    /// Image (Glance) root.
    pub image: String,
    /// Network (Neutron) root.
    pub network: String,
    /// Contrail VNC API root.
    pub contrail: String,
    /// The Sandesh introspect root, when the generator is configured.
    pub introspect: Option<String>,
    pub client: Client,
    handle: Option<ironbark::server::Handles>,
    thread: Option<std::thread::JoinHandle<anyhow::Result<()>>>,
    pg: Option<(String, String)>,
    /// The server's data directory (fake disks live in `fake-disks/`).
    pub data_dir: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub fn pg_admin_url() -> Option<String> {
    std::env::var("IRONBARK_TEST_PG_URL").ok().filter(|u| !u.is_empty())
}

impl TestServer {
    /// `None` when the backend is not available in this run (PostgreSQL
    /// without `IRONBARK_TEST_PG_URL`).
    pub fn start(db: Db) -> Option<TestServer> {
        Self::start_with(db, |_| {})
    }

    pub fn start_with(db: Db, tweak: impl FnOnce(&mut Config)) -> Option<TestServer> {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cfg = Config {
            data_dir: dir.path().to_path_buf(),
            admin_password: Some(ADMIN_PASSWORD.into()),
            workers: 2,
            db_pool_size: 8,
            ..Config::default()
        };
        for kind in ServiceKind::ALL {
            cfg.set_port(kind, 0);
        }
        cfg.sandesh.introspect_port = 0;
        let mut pg = None;
        if db == Db::Postgres {
            let admin = pg_admin_url()?;
            let name = format!(
                "ironbark_test_{}_{}_{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::SeqCst),
                rand_suffix()
            );
            let url = ironbark::storage::create_scratch_postgres(&admin, &name).expect("create test database");
            cfg.database_url = Some(url);
            pg = Some((admin, name));
        }
        tweak(&mut cfg);
        let prepared = server::prepare(cfg).expect("prepare server");
        let port = prepared.port(ServiceKind::Identity).expect("identity port");
        let baremetal_port = prepared.port(ServiceKind::Baremetal).expect("baremetal port");
        let image_port = prepared.port(ServiceKind::Image).expect("image port");
        let compute_port = prepared.port(ServiceKind::Compute).expect("compute port");
        let network_port = prepared.port(ServiceKind::Network).expect("network port");
        let contrail_port = prepared.port(ServiceKind::Contrail).expect("contrail port");
        let introspect = prepared.introspect_port().map(|p| format!("http://127.0.0.1:{p}"));
        let (handle, thread) = server::spawn(prepared).expect("start server");
        Some(TestServer {
            identity: format!("http://127.0.0.1:{port}"),
            baremetal: format!("http://127.0.0.1:{baremetal_port}"),
            compute: format!("http://127.0.0.1:{compute_port}"),
            image: format!("http://127.0.0.1:{image_port}"),
            network: format!("http://127.0.0.1:{network_port}"),
            contrail: format!("http://127.0.0.1:{contrail_port}"),
            introspect,
            client: Client::builder().timeout(std::time::Duration::from_secs(30)).build().expect("client"),
            handle: Some(handle),
            thread: Some(thread),
            pg,
            data_dir: dir.path().to_path_buf(),
            _dir: dir,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.identity, path)
    }

    pub fn get(&self, path: &str) -> RequestBuilder {
        self.client.get(self.url(path))
    }

    pub fn post(&self, path: &str, body: &Value) -> RequestBuilder {
        self.client.post(self.url(path)).json(body)
    }

    /// Issues a token; returns (token, body).
    pub fn token(&self, user: &str, password: &str, scope: Value) -> (String, Value) {
        let r = self.post("/v3/auth/tokens", &password_auth(user, password, scope)).send().expect("request");
        assert_eq!(r.status(), 201, "token issue for {user}");
        let token = r.headers()["x-subject-token"].to_str().expect("header").to_string();
        (token, r.json().expect("json"))
    }

    pub fn admin_token(&self) -> String {
        self.token("admin", ADMIN_PASSWORD, project_scope("admin")).0
    }

    /// Creates project `project` (if needed) and user `user` with `role` on
    /// it, through the identity admin API; returns (project id, user token).
    pub fn project_user(&self, project: &str, user: &str, role: &str) -> (String, String) {
        let admin = self.admin_token();
        let auth = |b: RequestBuilder| b.header("X-Auth-Token", &admin);
        let found: Value = auth(self.get(&format!("/v3/projects?name={project}"))).send().unwrap().json().unwrap();
        let pid = match found["projects"][0]["id"].as_str() {
            Some(id) => id.to_string(),
            None => {
                let r = auth(self.post("/v3/projects", &json!({"project": {"name": project, "domain_id": "default"}})))
                    .send()
                    .unwrap();
                assert_eq!(r.status(), 201, "project create");
                r.json::<Value>().unwrap()["project"]["id"].as_str().unwrap().to_string()
            }
        };
        let password = format!("{user}-pw");
        let r = auth(self.post(
            "/v3/users",
            &json!({"user": {"name": user, "domain_id": "default", "password": password, "default_project_id": pid}}),
        ))
        .send()
        .unwrap();
        assert_eq!(r.status(), 201, "user create");
        let uid = r.json::<Value>().unwrap()["user"]["id"].as_str().unwrap().to_string();
        let roles: Value = auth(self.get(&format!("/v3/roles?name={role}"))).send().unwrap().json().unwrap();
        let rid = roles["roles"][0]["id"].as_str().expect("role exists").to_string();
        let r = auth(self.client.put(self.url(&format!("/v3/projects/{pid}/users/{uid}/roles/{rid}")))).send().unwrap();
        assert_eq!(r.status(), 204, "role grant");
        let token = self.token(user, &password, project_scope(project)).0;
        (pid, token)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            rt.block_on(h.stop(true));
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if let Some((admin, name)) = self.pg.take() {
            let _ = ironbark::storage::drop_scratch_postgres(&admin, &name);
        }
    }
}

fn rand_suffix() -> u32 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    nanos % 1_000_000
}

pub fn project_scope(name: &str) -> Value {
    json!({"project": {"name": name, "domain": {"name": "Default"}}})
}

pub fn password_auth(user: &str, password: &str, scope: Value) -> Value {
    let mut body = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": user, "domain": {"name": "Default"}, "password": password}}}}});
    if !scope.is_null() {
        body["auth"]["scope"] = scope;
    }
    body
}

/// A caller of the network service (paths under its root).
pub struct Net<'a> {
    pub s: &'a TestServer,
    pub token: String,
}

impl<'a> Net<'a> {
    pub fn new(s: &'a TestServer, token: String) -> Self {
        Net { s, token }
    }

    pub fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Response {
        let mut r =
            self.s.client.request(method, format!("{}{path}", self.s.network)).header("X-Auth-Token", &self.token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        r.send().unwrap()
    }

    pub fn get(&self, path: &str) -> Value {
        let r = self.call(reqwest::Method::GET, path, None);
        let status = r.status();
        let v: Value = r.json().unwrap();
        assert_eq!(status, 200, "GET {path}: {v}");
        v
    }

    pub fn get_raw(&self, path: &str) -> Response {
        self.call(reqwest::Method::GET, path, None)
    }

    pub fn post(&self, path: &str, body: Value) -> Response {
        self.call(reqwest::Method::POST, path, Some(body))
    }

    /// Creates `{"<kind>": body}` at `/v2.0/<collection>`; 201 expected.
    pub fn create(&self, kind: &str, collection: &str, body: Value) -> Value {
        let r = self.post(&format!("/v2.0/{collection}"), json!({ kind: body }));
        let status = r.status();
        let v: Value = r.json().unwrap();
        assert_eq!(status, 201, "create {kind}: {v}");
        v[kind].clone()
    }

    pub fn put(&self, path: &str, body: Value) -> Response {
        self.call(reqwest::Method::PUT, path, Some(body))
    }

    pub fn delete(&self, path: &str) -> Response {
        self.call(reqwest::Method::DELETE, path, None)
    }
}

/// One caller's requests to any of the services, by full URL (the Ironic
/// microversion header rides along; the other services ignore it).
pub struct Api<'a> {
    pub s: &'a TestServer,
    pub token: String,
}

impl Api<'_> {
    pub fn call(&self, method: reqwest::Method, url: String, body: Option<Value>) -> Response {
        let mut r = self
            .s
            .client
            .request(method, url)
            .header("X-Auth-Token", &self.token)
            .header("X-OpenStack-Ironic-API-Version", "1.67");
        if let Some(b) = body {
            r = r.json(&b);
        }
        r.send().expect("request")
    }

    /// POSTs `body` to `root` + `path`; any 2xx expected.
    pub fn create(&self, root: &str, path: &str, body: Value) -> Value {
        let r = self.call(reqwest::Method::POST, format!("{root}{path}"), Some(body));
        assert!(r.status().is_success(), "POST {path}: {}", r.status());
        r.json().expect("json")
    }

    pub fn delete(&self, root: &str, path: &str) {
        let r = self.call(reqwest::Method::DELETE, format!("{root}{path}"), None);
        assert!(r.status().is_success(), "DELETE {path}: {}", r.status());
    }
}

/// Asserts Keystone's error envelope with this status; returns the message.
pub fn assert_error(r: Response, status: u16) -> String {
    assert_eq!(r.status().as_u16(), status, "status");
    assert!(r.headers().contains_key("x-openstack-request-id"));
    let www = r.headers().get("www-authenticate").map(|v| v.to_str().unwrap_or_default().to_string());
    let body: Value = r.json().expect("error body is JSON");
    let e = &body["error"];
    assert_eq!(e["code"], status, "{body}");
    assert!(e["title"].is_string(), "{body}");
    if status == 401 {
        let www = www.expect("401 carries WWW-Authenticate");
        assert!(www.starts_with("Keystone uri=\"http://127.0.0.1:"), "{www}");
    }
    e["message"].as_str().expect("message").to_string()
}

/// Runs a test body on SQLite and, when configured, on PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[test]
                fn sqlite() {
                    let s = $crate::common::TestServer::start($crate::common::Db::Sqlite).expect("sqlite server");
                    super::$name(&s);
                }
                #[test]
                fn postgres() {
                    match $crate::common::TestServer::start($crate::common::Db::Postgres) {
                        Some(s) => super::$name(&s),
                        None => eprintln!("IRONBARK_TEST_PG_URL not set: PostgreSQL case not run"),
                    }
                }
            }
        )*
    };
}

/// Bare-metal (Ironic) requests at one microversion, with a token (a system
/// admin's unless given) or without one (as an agent calls).
pub struct Baremetal<'a> {
    pub s: &'a TestServer,
    pub token: Option<String>,
    pub version: &'static str,
}

impl<'a> Baremetal<'a> {
    pub fn admin(s: &'a TestServer, version: &'static str) -> Baremetal<'a> {
        let token = s.token("admin", ADMIN_PASSWORD, json!({"system": {"all": true}})).0;
        Baremetal { s, token: Some(token), version }
    }

    pub fn anonymous(s: &'a TestServer, version: &'static str) -> Baremetal<'a> {
        Baremetal { s, token: None, version }
    }

    /// Status and JSON body (`null` when there is none).
    pub fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut b = self
            .s
            .client
            .request(method, format!("{}{path}", self.s.baremetal))
            .header("X-OpenStack-Ironic-API-Version", self.version);
        if let Some(t) = &self.token {
            b = b.header("X-Auth-Token", t);
        }
        if let Some(body) = body {
            b = b.json(&body);
        }
        let r = b.send().expect("request");
        let status = r.status().as_u16();
        (status, serde_json::from_str(&r.text().unwrap_or_default()).unwrap_or(Value::Null))
    }

    /// The body of a request that must succeed.
    pub fn ok(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let (status, v) = self.call(method, path, body);
        assert!((200..300).contains(&status), "{path}: {status} {v}");
        v
    }
}
