//! Pushing to an external Contrail VNC API (`contrail.api_url`): a fake
//! contrail-api in the test records what ironbark sends (its first
//! requests fail with 503 to prove the retry), on SQLite and PostgreSQL.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Api, Db, TestServer};
use reqwest::Method;
use serde_json::{Value, json};

/// One request the fake API received, and its answer.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    body: Value,
    token: Option<String>,
    status: u16,
}

#[derive(Default)]
struct FakeState {
    fail_first: usize,
    log: Vec<Seen>,
    /// (type, uuid) -> the object as last created or updated.
    objects: HashMap<(String, String), Value>,
}

impl FakeState {
    /// contrail-api's answers: create is 409 when the uuid exists, update
    /// and delete are 404 when it does not.
    fn answer(&mut self, method: &str, path: &str, body: &Value) -> u16 {
        if self.log.len() < self.fail_first {
            return 503;
        }
        let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match (method, segs.as_slice()) {
            ("POST", [collection]) => {
                let Some(kind) = collection.strip_suffix('s') else { return 404 };
                let obj = &body[kind];
                let Some(uuid) = obj["uuid"].as_str() else { return 400 };
                let key = (kind.to_string(), uuid.to_string());
                if self.objects.contains_key(&key) {
                    return 409;
                }
                self.objects.insert(key, obj.clone());
                200
            }
            ("PUT", [kind, uuid]) => match self.objects.get_mut(&(kind.to_string(), uuid.to_string())) {
                Some(stored) => {
                    for (k, v) in body[*kind].as_object().cloned().unwrap_or_default() {
                        stored[k] = v;
                    }
                    200
                }
                None => 404,
            },
            ("DELETE", [kind, uuid]) => match self.objects.remove(&(kind.to_string(), uuid.to_string())) {
                Some(_) => 200,
                None => 404,
            },
            _ => 400,
        }
    }
}

struct Fake {
    url: String,
    state: Arc<Mutex<FakeState>>,
}

impl Fake {
    fn start(fail_first: usize) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(FakeState { fail_first, ..Default::default() }));
        let shared = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let st = shared.clone();
                std::thread::spawn(move || serve(conn, &st));
            }
        });
        Fake { url, state }
    }

    fn log(&self) -> Vec<Seen> {
        self.state.lock().unwrap().log.clone()
    }

    fn object(&self, kind: &str, uuid: &str) -> Option<Value> {
        self.state.lock().unwrap().objects.get(&(kind.to_string(), uuid.to_string())).cloned()
    }

    fn count(&self, kind: &str) -> usize {
        self.state.lock().unwrap().objects.keys().filter(|(k, _)| k == kind).count()
    }
}

/// HTTP/1.1 with keep-alive: requests with a Content-Length body.
fn serve(conn: TcpStream, st: &Mutex<FakeState>) {
    let mut out = conn.try_clone().unwrap();
    let mut reader = BufReader::new(conn);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (method, path) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
        let (mut length, mut token) = (0usize, None);
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                match k.trim().to_ascii_lowercase().as_str() {
                    "content-length" => length = v.trim().parse().unwrap_or(0),
                    "x-auth-token" => token = Some(v.trim().to_string()),
                    _ => {}
                }
            }
        }
        let mut raw = vec![0; length];
        if reader.read_exact(&mut raw).is_err() {
            return;
        }
        let body: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        let status = {
            let mut s = st.lock().unwrap();
            let status = s.answer(&method, &path, &body);
            s.log.push(Seen { method, path, body, token, status });
            status
        };
        let reply = "{}";
        let head = format!(
            "HTTP/1.1 {status} Fake\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            reply.len()
        );
        if out.write_all(head.as_bytes()).and_then(|_| out.write_all(reply.as_bytes())).is_err() {
            return;
        }
    }
}

fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(40);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl Api<'_> {
    /// An object as ironbark's own (read) VNC API shows it.
    fn vnc(&self, kind: &str, uuid: &str) -> Value {
        let r = self.call(Method::GET, format!("{}/{kind}/{uuid}", self.s.contrail), None);
        assert_eq!(r.status(), 200, "GET {kind}/{uuid}");
        r.json::<Value>().unwrap()[kind].clone()
    }

    fn status(&self) -> Value {
        let r = self.call(Method::GET, format!("{}/contrail-push-status", self.s.contrail), None);
        assert_eq!(r.status(), 200);
        r.json().unwrap()
    }
}

fn kvp(bindings: &Value, key: &str) -> Option<String> {
    bindings["key_value_pair"].as_array()?.iter().find(|p| p["key"] == key)?["value"].as_str().map(str::to_string)
}

fn index_of(log: &[Seen], method: &str, path: &str) -> Option<usize> {
    log.iter().rposition(|r| r.method == method && r.path == path && r.status < 300)
}

fn pushes_changes(db: Db) {
    let fake = Fake::start(3);
    let url = fake.url.clone();
    let Some(s) = TestServer::start_with(db, move |c| {
        c.contrail.api_url = Some(url);
        c.contrail.token = Some("vnc-secret".into());
        c.contrail.retry_max_s = 2;
    }) else {
        eprintln!("IRONBARK_TEST_PG_URL not set: PostgreSQL case not run");
        return;
    };
    let api = Api { s: &s, token: s.admin_token() };
    let (net, bm) = (&s.network, &s.baremetal);

    let network = api.create(
        net,
        "/v2.0/networks",
        json!({"network": {"name": "push-net",
        "provider:network_type": "vlan", "provider:physical_network": "physnet1", "provider:segmentation_id": 130}}),
    )["network"]
        .clone();
    let net_id = network["id"].as_str().unwrap().to_string();
    api.create(
        net,
        "/v2.0/subnets",
        json!({"subnet": {"network_id": net_id, "cidr": "10.90.0.0/24", "ip_version": 4}}),
    );
    let port = api.create(net, "/v2.0/ports", json!({"port": {"network_id": net_id}}))["port"].clone();
    let port_id = port["id"].as_str().unwrap().to_string();
    let node = api.create(bm, "/v1/nodes", json!({"driver": "fake-hardware", "network_interface": "flat"}));
    let node_id = node["uuid"].as_str().unwrap().to_string();
    let llc = json!({"switch_id": "00:11:22:33:44:55", "port_id": "xe-0/0/9", "switch_info": "leaf1"});
    api.create(
        bm,
        "/v1/ports",
        json!({"node_uuid": node_id, "address": "52:54:00:aa:bb:09", "local_link_connection": llc}),
    );
    let r = api.call(Method::POST, format!("{bm}/v1/nodes/{node_id}/vifs"), Some(json!({"id": port_id})));
    assert_eq!(r.status(), 204);

    // everything arrives, bound, despite the first answers being 503
    wait_for("the bound VMI and the node's VPG", || {
        let vmi = fake.object("virtual-machine-interface", &port_id);
        let bound =
            vmi.is_some_and(|v| kvp(&v["virtual_machine_interface_bindings"], "host_id") == Some(node_id.clone()));
        bound && fake.count("virtual-port-group") == 1 && fake.count("instance-ip") == 1
    });
    wait_for("an empty outbox", || api.status()["pending"] == 0);
    let log = fake.log();
    assert!(log[..3].iter().all(|r| r.status == 503), "{log:?}");
    assert!(log.iter().all(|r| r.token.as_deref() == Some("vnc-secret")), "X-Auth-Token on every request");
    let first = &log[0];
    assert!(
        log[3..].iter().any(|r| r.method == first.method && r.path == first.path && r.status != 503),
        "the failed push was retried: {log:?}"
    );
    assert!(index_of(&log, "POST", "/virtual-networks").is_some(), "{log:?}");
    assert!(log.iter().any(|r| r.method == "POST" && r.path == "/virtual-machine-interfaces" && r.status == 200));
    assert!(index_of(&log, "POST", "/virtual-port-groups").is_some());
    for r in log.iter().filter(|r| r.method == "POST") {
        let kind = r.path.trim_start_matches('/').trim_end_matches('s');
        assert!(r.body[kind]["fq_name"].is_array(), "POST {} carries {{\"{kind}\": {{...}}}}: {}", r.path, r.body);
    }

    // the pushed objects are the read API's objects
    let vn = fake.object("virtual-network", &net_id).expect("VN pushed");
    let read_vn = api.vnc("virtual-network", &net_id);
    assert_eq!(vn["fq_name"], read_vn["fq_name"]);
    assert_eq!(vn["parent_type"], "project");
    assert_eq!(vn["network_ipam_refs"], read_vn["network_ipam_refs"], "the subnet is on the VN's IPAM ref");
    let vmi = fake.object("virtual-machine-interface", &port_id).unwrap();
    let read_vmi = api.vnc("virtual-machine-interface", &port_id);
    assert_eq!(vmi["virtual_machine_interface_bindings"], read_vmi["virtual_machine_interface_bindings"]);
    assert_eq!(kvp(&vmi["virtual_machine_interface_bindings"], "vnic_type").as_deref(), Some("baremetal"));
    let profile: Value =
        serde_json::from_str(&kvp(&vmi["virtual_machine_interface_bindings"], "profile").unwrap()).unwrap();
    assert_eq!(profile["local_link_information"], json!([llc]));
    assert_eq!(vmi["virtual_network_refs"][0]["uuid"], net_id.as_str());
    assert_eq!(vmi["virtual_machine_interface_properties"]["sub_interface_vlan_tag"], 130);
    let (iip_key, iip) = {
        let st = fake.state.lock().unwrap();
        let (k, v) = st.objects.iter().find(|((k, _), _)| k == "instance-ip").unwrap();
        (k.1.clone(), v.clone())
    };
    assert_eq!(iip["instance_ip_address"], port["fixed_ips"][0]["ip_address"]);
    assert_eq!(iip["virtual_machine_interface_refs"][0]["uuid"], port_id.as_str());
    let vpg = {
        let st = fake.state.lock().unwrap();
        st.objects.iter().find(|((k, _), _)| k == "virtual-port-group").unwrap().1.clone()
    };
    let vpg_id = vpg["uuid"].as_str().unwrap().to_string();
    assert_eq!(vpg["fq_name"], json!(["default-global-system-config", "default-fabric", format!("vpg-{node_id}")]));
    assert_eq!(vpg["virtual_machine_interface_refs"][0]["uuid"], port_id.as_str());
    assert_eq!(vpg, {
        let mut read = api.vnc("virtual-port-group", &vpg_id);
        for k in ["href", "parent_href", "name"] {
            read.as_object_mut().unwrap().remove(k);
        }
        read
    });

    // a rename is an update of the existing object (POST 409, then PUT)
    let r = api.call(Method::PUT, format!("{net}/v2.0/ports/{port_id}"), Some(json!({"port": {"name": "renamed"}})));
    assert_eq!(r.status(), 200);
    wait_for("the renamed VMI", || {
        fake.object("virtual-machine-interface", &port_id).is_some_and(|v| v["display_name"] == "renamed")
    });
    assert!(index_of(&fake.log(), "PUT", &format!("/virtual-machine-interface/{port_id}")).is_some());

    // deleting the bound port deletes its VPG and instance-ip before the VMI
    api.delete(net, &format!("/v2.0/ports/{port_id}"));
    wait_for("the VMI delete", || fake.object("virtual-machine-interface", &port_id).is_none());
    let log = fake.log();
    let vmi_del = index_of(&log, "DELETE", &format!("/virtual-machine-interface/{port_id}")).unwrap();
    let iip_del = index_of(&log, "DELETE", &format!("/instance-ip/{iip_key}")).expect("instance-ip deleted");
    let vpg_del = index_of(&log, "DELETE", &format!("/virtual-port-group/{vpg_id}")).expect("VPG deleted");
    assert!(iip_del < vmi_del && vpg_del < vmi_del, "{log:?}");

    // and the network, once its subnet is gone
    let subnet_id = network_subnet(&api, &net_id);
    api.delete(net, &format!("/v2.0/subnets/{subnet_id}"));
    api.delete(net, &format!("/v2.0/networks/{net_id}"));
    wait_for("the VN delete", || fake.object("virtual-network", &net_id).is_none());
    wait_for("an empty outbox", || api.status()["pending"] == 0);
    let st = api.status();
    assert_eq!(st["enabled"], true);
    assert_eq!(st["last_error"], Value::Null);
}

fn network_subnet(api: &Api, net_id: &str) -> String {
    let r = api.call(Method::GET, format!("{}/v2.0/subnets?network_id={net_id}", api.s.network), None);
    r.json::<Value>().unwrap()["subnets"][0]["id"].as_str().unwrap().to_string()
}

/// With the external API down, changes wait in the outbox with their error.
fn failures_wait_in_the_outbox(db: Db) {
    // a port nobody listens on
    let dead = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    let Some(s) = TestServer::start_with(db, move |c| c.contrail.api_url = Some(url)) else {
        return;
    };
    let api = Api { s: &s, token: s.admin_token() };
    let network = api.create(&s.network, "/v2.0/networks", json!({"network": {"name": "unpushed"}}));
    let net_id = network["network"]["id"].as_str().unwrap().to_string();
    wait_for("a failed attempt", || api.status()["failing"] == 1);
    let st = api.status();
    assert_eq!(st["pending"], 1);
    assert_eq!(st["last_error"]["object_uuid"], net_id.as_str());
    assert_eq!(st["last_error"]["object_type"], "virtual-network");
    assert!(st["last_error"]["attempts"].as_i64().unwrap() >= 1);
    assert!(st["last_error"]["error"].as_str().unwrap().contains("/virtual-networks"), "{st}");
    // requests are not slowed down by the unreachable API
    let t = Instant::now();
    api.create(&s.network, "/v2.0/networks", json!({"network": {"name": "also-unpushed"}}));
    assert!(t.elapsed() < Duration::from_secs(5));
    assert_eq!(api.status()["pending"], 2);
}

/// Without `contrail.api_url` nothing is recorded.
fn no_outbox_without_api_url(db: Db) {
    let Some(s) = TestServer::start(db) else {
        return;
    };
    let api = Api { s: &s, token: s.admin_token() };
    let network = api.create(&s.network, "/v2.0/networks", json!({"network": {"name": "quiet"}}));
    let net_id = network["network"]["id"].as_str().unwrap();
    api.create(
        &s.network,
        "/v2.0/subnets",
        json!({"subnet": {"network_id": net_id, "cidr": "10.91.0.0/24", "ip_version": 4}}),
    );
    let port = api.create(&s.network, "/v2.0/ports", json!({"port": {"network_id": net_id}}));
    api.delete(&s.network, &format!("/v2.0/ports/{}", port["port"]["id"].as_str().unwrap()));
    assert_eq!(api.status(), json!({"enabled": false, "pending": 0, "failing": 0, "last_error": null}));
    // the status page is for operators
    let (_, token) = s.project_user("push-tenant", "push-user", "member");
    let r = s.client.get(format!("{}/contrail-push-status", s.contrail)).header("X-Auth-Token", token).send().unwrap();
    assert_eq!(r.status(), 403);
}

/// The outbox itself: one row per object, leases, and a change recorded
/// while its push is in flight outliving that push's bookkeeping.
fn outbox_rows(db: Db) {
    use ironbark::storage::contrail_outbox::{self as ob, Op};
    let dir = tempfile::tempdir().unwrap();
    let (url, pg) = match db {
        Db::Sqlite => (dir.path().join("outbox.sqlite").display().to_string(), None),
        Db::Postgres => {
            let Some(admin) = common::pg_admin_url() else { return };
            let name = format!("ironbark_outbox_{}", std::process::id());
            (ironbark::storage::create_scratch_postgres(&admin, &name).unwrap(), Some((admin, name)))
        }
    };
    let storage = ironbark::storage::Storage::open(&url, 2).unwrap();
    storage.migrate().unwrap();
    let lease = Duration::from_secs(60);
    storage
        .write_blocking(|c| {
            ob::enqueue(c, "virtual-network", "n1", Op::Upsert)?;
            ob::enqueue(c, "instance-ip", "i1", Op::Upsert)?;
            ob::enqueue(c, "virtual-network", "n1", Op::Delete)
        })
        .unwrap();
    let rows = storage.read_blocking(ob::pending).unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows.iter().find(|r| r.object_uuid == "n1").unwrap().op(), Op::Delete, "the latest op wins");

    let taken = storage.write_blocking(|c| ob::take_due(c, 10, lease)).unwrap();
    assert_eq!(taken.len(), 2);
    assert!(storage.write_blocking(|c| ob::take_due(c, 10, lease)).unwrap().is_empty(), "taken rows are leased");
    let n1 = taken.iter().find(|r| r.object_uuid == "n1").unwrap().clone();
    let i1 = taken.iter().find(|r| r.object_uuid == "i1").unwrap().clone();

    std::thread::sleep(Duration::from_millis(5));
    storage.write_blocking(|c| ob::enqueue(c, "virtual-network", "n1", Op::Upsert)).unwrap();
    storage
        .write_blocking(|c| {
            ob::done(c, &n1)?;
            ob::failed(c, &i1, "503 busy", Duration::from_secs(30))
        })
        .unwrap();
    let rows = storage.read_blocking(ob::pending).unwrap();
    let again = rows.iter().find(|r| r.object_uuid == "n1").expect("the newer change is still pending");
    assert_eq!((again.op(), again.attempts, again.last_error.as_deref()), (Op::Upsert, 0, None));
    let failed = rows.iter().find(|r| r.object_uuid == "i1").unwrap();
    assert_eq!((failed.attempts, failed.last_error.as_deref()), (1, Some("503 busy")));
    let taken = storage.write_blocking(|c| ob::take_due(c, 10, lease)).unwrap();
    assert_eq!(taken.len(), 1, "the failed row waits for its backoff");
    storage.write_blocking(|c| ob::done(c, &taken[0])).unwrap();
    let status = storage.read_blocking(ob::status).unwrap();
    assert_eq!((status.pending, status.failing), (1, 1));
    assert_eq!(status.last_failure.unwrap().object_uuid, "i1");
    drop(storage);
    if let Some((admin, name)) = pg {
        let _ = ironbark::storage::drop_scratch_postgres(&admin, &name);
    }
}

macro_rules! both {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[test]
                fn sqlite() {
                    super::$name(super::Db::Sqlite);
                }
                #[test]
                fn postgres() {
                    super::$name(super::Db::Postgres);
                }
            }
        )*
    };
}

both!(outbox_rows, pushes_changes, failures_wait_in_the_outbox, no_outbox_without_api_url);
