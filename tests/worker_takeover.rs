//! Two `ironbark serve` processes on one PostgreSQL database; one is killed
//! with SIGKILL while its nodes are cleaning. The survivor answers every
//! request throughout, takes the dead worker's nodes once its heartbeat is
//! older than the timeout, and finishes each transition exactly once.

mod common;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const HEARTBEAT_TIMEOUT_S: u64 = 3;
/// Every process sharing a database seals secrets (BMC credentials, token
/// signing keys) with the same key.
const SECRETS_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

struct Worker {
    child: Child,
    url: String,
    image: String,
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The command of a worker on `db` with its own data dir (ports not set).
fn command(name: &str, db: &str, dir: &std::path::Path) -> Command {
    let data = dir.join(name);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ironbark"));
    cmd.arg("serve")
        .env("IRONBARK_DATA_DIR", &data)
        .env("IRONBARK_DATABASE_URL", db)
        .env("IRONBARK_AUTH", "noauth")
        .env("IRONBARK_CONDUCTOR_NAME", name)
        .env("IRONBARK_SECRETS_KEY", SECRETS_KEY)
        .env("IRONBARK_HEARTBEAT_TIMEOUT_S", HEARTBEAT_TIMEOUT_S.to_string())
        .env("IRONBARK_FAKE__DELAY_MS", "400")
        .env("IRONBARK_FAKE__DISK_DIR", dir.join("disks"))
        // one image store for all: what one worker stores, every worker serves
        .env("IRONBARK_IMAGE__STORE_DIR", dir.join("images"))
        .env("IRONBARK_LOG", "warn")
        .stdout(Stdio::null());
    cmd
}

fn start(name: &str, db: &str, dir: &std::path::Path) -> Worker {
    let mut cmd = command(name, db, dir);
    cmd.stderr(std::fs::File::create(dir.join(format!("{name}.log"))).unwrap());
    let (mut bport, mut iport) = (0, 0);
    for kind in ["IDENTITY", "BAREMETAL", "COMPUTE", "IMAGE", "NETWORK", "CONTRAIL"] {
        let p = free_port();
        match kind {
            "BAREMETAL" => bport = p,
            "IMAGE" => iport = p,
            _ => {}
        }
        cmd.env(format!("IRONBARK_{kind}_PORT"), p.to_string());
    }
    let child = cmd.spawn().expect("start ironbark");
    let url = format!("http://127.0.0.1:{bport}");
    let client = reqwest::blocking::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.get(format!("{url}/v1")).send().is_err() {
        assert!(Instant::now() < deadline, "{name} did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Worker { child, url, image: format!("http://127.0.0.1:{iport}") }
}

/// Starts `serve` expecting it to refuse; returns what it printed.
fn refused(mut cmd: Command) -> String {
    let out = cmd
        .envs(
            ["IDENTITY", "BAREMETAL", "COMPUTE", "IMAGE", "NETWORK", "CONTRAIL"]
                .map(|k| (format!("IRONBARK_{k}_PORT"), "0")),
        )
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(!out.status.success(), "it must not start");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn call(client: &reqwest::blocking::Client, method: reqwest::Method, url: String, body: Option<Value>) -> (u16, Value) {
    let mut r = client.request(method, url).header("X-OpenStack-Ironic-API-Version", "1.78");
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().expect("an answer");
    let st = r.status().as_u16();
    (st, r.json().unwrap_or(Value::Null))
}

#[test]
fn survivor_finishes_the_dead_workers_transitions() {
    let Some(admin) = common::pg_admin_url() else {
        eprintln!("IRONBARK_TEST_PG_URL not set; skipping");
        return;
    };
    let name = format!("ironbark_takeover_{}", std::process::id());
    let db = ironbark::storage::create_scratch_postgres(&admin, &name).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut a = start("worker-a", &db, dir.path());
    let b = start("worker-b", &db, dir.path());
    let client = reqwest::blocking::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
    let node = |u: &str, id: &str| call(&client, reqwest::Method::GET, format!("{u}/v1/nodes/{id}"), None).1;

    let ids: Vec<String> = (0..6)
        .map(|i| {
            let (st, n) = call(
                &client,
                reqwest::Method::POST,
                format!("{}/v1/nodes", a.url),
                Some(json!({"driver": "fake-hardware", "name": format!("tk-{i}")})),
            );
            assert_eq!(st, 201, "{n}");
            n["uuid"].as_str().unwrap().to_string()
        })
        .collect();
    let set_state = |url: &str, id: &str, target: &str| {
        let (st, body) = call(
            &client,
            reqwest::Method::PUT,
            format!("{url}/v1/nodes/{id}/states/provision"),
            Some(json!({"target": target})),
        );
        assert_eq!(st, 202, "{target} {id}: {body}");
    };
    let wait_all = |url: &str, state: &str, within: Duration| {
        let deadline = Instant::now() + within;
        loop {
            let states: Vec<Value> = ids.iter().map(|id| node(url, id)["provision_state"].clone()).collect();
            if states.iter().all(|s| s == state) {
                return;
            }
            assert!(Instant::now() < deadline, "not all {state} within {within:?}: {states:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    for id in &ids {
        set_state(&a.url, id, "manage");
    }
    wait_all(&b.url, "manageable", Duration::from_secs(30));

    // load on the survivor for the whole failover
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (s2, burl) = (stop.clone(), b.url.clone());
    let load = std::thread::spawn(move || {
        let c = reqwest::blocking::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
        let mut answered = Vec::new();
        while !s2.load(std::sync::atomic::Ordering::SeqCst) {
            let (st, _) = call(&c, reqwest::Method::GET, format!("{burl}/v1/nodes/detail?limit=50"), None);
            answered.push(st);
            std::thread::sleep(Duration::from_millis(20));
        }
        answered
    });

    for id in &ids {
        set_state(&a.url, id, "provide");
    }
    std::thread::sleep(Duration::from_millis(300));
    let held: Vec<String> = ids.iter().filter(|id| node(&b.url, id)["reservation"] == "worker-a").cloned().collect();
    assert!(!held.is_empty(), "worker-a holds cleaning nodes when it dies");
    a.child.kill().unwrap(); // SIGKILL
    a.child.wait().unwrap();
    let killed = Instant::now();
    wait_all(&b.url, "available", Duration::from_secs(HEARTBEAT_TIMEOUT_S + 10));
    let took = killed.elapsed();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let answered = load.join().unwrap();
    assert!(answered.iter().all(|s| *s == 200), "every request to the survivor succeeded: {answered:?}");

    for id in &ids {
        let n = node(&b.url, id);
        assert_eq!(n["reservation"], Value::Null, "{id} released");
        let (_, h) = call(&client, reqwest::Method::GET, format!("{}/v1/nodes/{id}/history", b.url), None);
        let events: Vec<String> = h["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["event"].as_str().unwrap_or_default().to_string())
            .collect();
        for step in ["from manageable to cleaning", "from cleaning to available"] {
            let n = events.iter().filter(|e| e.contains(step)).count();
            assert_eq!(n, 1, "{id}: '{step}' {n} times in {events:#?}");
        }
    }
    let (_, conductors) = call(&client, reqwest::Method::GET, format!("{}/v1/conductors", b.url), None);
    let alive: Vec<(Value, Value)> = conductors["conductors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["hostname"].clone(), c["alive"].clone()))
        .collect();
    assert!(alive.contains(&(json!("worker-a"), json!(false))), "{alive:?}");
    eprintln!(
        "failover: {} nodes held by the killed worker, all available {took:?} after the kill; {} requests to the survivor, all 200",
        held.len(),
        answered.len()
    );
    let log = std::fs::read_to_string(dir.path().join("worker-b.log")).unwrap_or_default();
    assert!(log.contains("took over the nodes of a dead conductor"), "worker-b took the nodes: {log}");
    drop(b);
    let _ = ironbark::storage::drop_scratch_postgres(&admin, &name);
}

/// A second process under a live process's conductor name is refused (both
/// would take the same nodes' work as their own); after the first is killed,
/// the name can be taken again once its heartbeat has stopped, and after a
/// clean stop at once.
#[test]
fn a_live_workers_conductor_name_is_refused() {
    let Some(admin) = common::pg_admin_url() else {
        eprintln!("IRONBARK_TEST_PG_URL not set; skipping");
        return;
    };
    let name = format!("ironbark_names_{}", std::process::id());
    let db = ironbark::storage::create_scratch_postgres(&admin, &name).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut a = start("worker-a", &db, dir.path());
    let err = refused(command("worker-a", &db, dir.path()));
    assert!(err.contains("conductor name worker-a is in use by a live ironbark"), "{err}");
    // A worker whose image store is not the shared one is refused too.
    let mut own_store = command("worker-c", &db, dir.path());
    own_store.env("IRONBARK_IMAGE__STORE_DIR", dir.path().join("elsewhere"));
    let err = refused(own_store);
    assert!(err.contains("does not hold this database's images"), "{err}");
    // Killed: the same name starts again (after at most a heartbeat interval).
    let _ = a.child.kill();
    let _ = a.child.wait();
    let started = Instant::now();
    let a2 = start("worker-a", &db, dir.path());
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    drop(a2);
    drop(a);
    let _ = ironbark::storage::drop_scratch_postgres(&admin, &name);
}

/// An endless upload body, a chunk every 20 ms.
struct Trickle;

impl std::io::Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        std::thread::sleep(Duration::from_millis(20));
        let n = buf.len().min(16 * 1024);
        buf[..n].fill(0x5a);
        Ok(n)
    }
}

/// One image store shared by the workers: an image uploaded through one is
/// downloaded through another; a worker starting while another uploads
/// leaves that upload alone; the upload of a worker killed mid-way is
/// settled by the survivor (back to `queued`, its partial file gone).
#[test]
fn workers_share_images_and_settle_a_dead_workers_upload() {
    let Some(admin) = common::pg_admin_url() else {
        eprintln!("IRONBARK_TEST_PG_URL not set; skipping");
        return;
    };
    let name = format!("ironbark_images_{}", std::process::id());
    let db = ironbark::storage::create_scratch_postgres(&admin, &name).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut a = start("worker-a", &db, dir.path());
    let b = start("worker-b", &db, dir.path());
    let client = reqwest::blocking::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
    let create = |url: &str, name: &str| -> String {
        let r = client
            .post(format!("{url}/v2/images"))
            .json(&json!({"name": name, "disk_format": "raw", "container_format": "bare"}))
            .send()
            .unwrap();
        assert_eq!(r.status(), 201);
        r.json::<Value>().unwrap()["id"].as_str().unwrap().to_string()
    };
    let status = |url: &str, id: &str| -> String {
        let v: Value = client.get(format!("{url}/v2/images/{id}")).send().unwrap().json().unwrap();
        v["status"].as_str().unwrap_or_default().to_string()
    };

    let data = vec![7u8; 300_000];
    let small = create(&a.image, "small");
    let r = client
        .put(format!("{}/v2/images/{small}/file", a.image))
        .header("Content-Type", "application/octet-stream")
        .body(data.clone())
        .send()
        .unwrap();
    assert_eq!(r.status(), 204);
    let got = client.get(format!("{}/v2/images/{small}/file", b.image)).send().unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.bytes().unwrap().to_vec(), data, "worker-b serves what worker-a stored");

    // A slow upload on worker-a while a third worker starts over the same store.
    let slow = create(&a.image, "slow");
    let put = client
        .put(format!("{}/v2/images/{slow}/file", a.image))
        .header("Content-Type", "application/octet-stream")
        .body(reqwest::blocking::Body::new(Trickle));
    let upload = std::thread::spawn(move || put.send().map(|r| r.status().as_u16()).ok());
    let deadline = Instant::now() + Duration::from_secs(10);
    while status(&b.image, &slow) != "saving" {
        assert!(Instant::now() < deadline, "the upload did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let partial = dir.path().join("images").join(format!("{slow}.partial"));
    let c = start("worker-c", &db, dir.path());
    std::thread::sleep(Duration::from_millis(500));
    assert!(partial.exists(), "a starting worker leaves another's live upload alone");
    assert_eq!(status(&c.image, &slow), "saving");

    a.child.kill().unwrap(); // SIGKILL mid-upload
    a.child.wait().unwrap();
    let _ = upload.join();
    let killed = Instant::now();
    while status(&b.image, &slow) != "queued" {
        assert!(killed.elapsed() < Duration::from_secs(HEARTBEAT_TIMEOUT_S + 10 + 10), "not settled");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!partial.exists(), "the dead upload's partial file is gone");
    assert_eq!(status(&c.image, &small), "active");
    eprintln!("shared image store: the dead worker's upload settled {:?} after the kill", killed.elapsed());
    drop((b, c));
    let _ = ironbark::storage::drop_scratch_postgres(&admin, &name);
}
