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

struct Worker {
    child: Child,
    url: String,
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

fn start(name: &str, db: &str, dir: &std::path::Path) -> Worker {
    let data = dir.join(name);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ironbark"));
    cmd.arg("serve")
        .env("IRONBARK_DATA_DIR", &data)
        .env("IRONBARK_DATABASE_URL", db)
        .env("IRONBARK_AUTH", "noauth")
        .env("IRONBARK_CONDUCTOR_NAME", name)
        .env("IRONBARK_HEARTBEAT_TIMEOUT_S", HEARTBEAT_TIMEOUT_S.to_string())
        .env("IRONBARK_FAKE__DELAY_MS", "400")
        .env("IRONBARK_FAKE__DISK_DIR", dir.join("disks"))
        .env("IRONBARK_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join(format!("{name}.log"))).unwrap());
    let mut bport = 0;
    for kind in ["IDENTITY", "BAREMETAL", "COMPUTE", "IMAGE", "NETWORK", "CONTRAIL"] {
        let p = free_port();
        if kind == "BAREMETAL" {
            bport = p;
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
    Worker { child, url }
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
