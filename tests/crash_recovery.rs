//! `kill -9` during deploys and cleanings: after a restart every node
//! reaches a stable state by itself, with its lock released.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::blocking::Client;
use serde_json::{Value, json};

const VERSION: (&str, &str) = ("X-OpenStack-Ironic-API-Version", "1.115");

struct Ironbark {
    child: Child,
    url: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start(data: &std::path::Path, db: Option<&str>, delay_ms: u64) -> Ironbark {
    let (ip, bp) = (free_port(), free_port());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ironbark"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("IRONBARK_DATA_DIR", data)
        .env("IRONBARK_AUTH", "noauth")
        .env("IRONBARK_IDENTITY_PORT", ip.to_string())
        .env("IRONBARK_BAREMETAL_PORT", bp.to_string())
        .env("IRONBARK_IMAGE_PORT", free_port().to_string())
        .env("IRONBARK_NETWORK_PORT", free_port().to_string())
        .env("IRONBARK_CONTRAIL_PORT", free_port().to_string())
        .env("IRONBARK_COMPUTE_PORT", free_port().to_string())
        .env("IRONBARK_CONDUCTOR_NAME", "crash-test-conductor")
        .env("IRONBARK_FAKE__DELAY_MS", delay_ms.to_string())
        .env("IRONBARK_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(db) = db {
        cmd.env("IRONBARK_DATABASE_URL", db);
    }
    let mut child = cmd.arg("serve").spawn().unwrap();
    let url = format!("http://127.0.0.1:{bp}");
    let client = Client::new();
    for _ in 0..150 {
        if client.get(format!("{url}/v1")).send().is_ok_and(|r| r.status() == 200) {
            return Ironbark { child, url };
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("ironbark did not start");
}

fn provision(c: &Client, url: &str, node: &str, target: &str) {
    let r = c
        .put(format!("{url}/v1/nodes/{node}/states/provision"))
        .header(VERSION.0, VERSION.1)
        .json(&json!({"target": target}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 202, "{target} on {node}: {}", r.text().unwrap_or_default());
}

fn nodes(c: &Client, url: &str) -> Vec<Value> {
    let body: Value =
        c.get(format!("{url}/v1/nodes/detail")).header(VERSION.0, VERSION.1).send().unwrap().json().unwrap();
    body["nodes"].as_array().unwrap().clone()
}

fn wait_all(c: &Client, url: &str, want: &[&str], within: Duration) -> Vec<Value> {
    let deadline = Instant::now() + within;
    loop {
        let list = nodes(c, url);
        let done = list
            .iter()
            .all(|n| want.contains(&n["provision_state"].as_str().unwrap_or("")) && n["reservation"].is_null());
        if done {
            return list;
        }
        if Instant::now() > deadline {
            let states: Vec<String> =
                list.iter().map(|n| format!("{}:{}:{}", n["name"], n["provision_state"], n["reservation"])).collect();
            panic!("not all nodes reached {want:?}: {states:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn run(db: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let c = Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
    // Each fake step takes 300 ms while the lifecycle is set up.
    let mut ib = start(dir.path(), db, 300);
    let mut uuids = Vec::new();
    for i in 0..20 {
        let r = c
            .post(format!("{}/v1/nodes", ib.url))
            .header(VERSION.0, VERSION.1)
            .json(&json!({"driver": "fake-hardware", "name": format!("crash-{i}")}))
            .send()
            .unwrap();
        assert_eq!(r.status(), 201);
        uuids.push(r.json::<Value>().unwrap()["uuid"].as_str().unwrap().to_string());
    }
    for u in &uuids {
        provision(&c, &ib.url, u, "manage");
    }
    wait_all(&c, &ib.url, &["manageable"], Duration::from_secs(60));
    for u in &uuids {
        provision(&c, &ib.url, u, "provide");
    }
    wait_all(&c, &ib.url, &["available"], Duration::from_secs(60));
    for u in &uuids[..10] {
        provision(&c, &ib.url, u, "active");
    }
    wait_all(&c, &ib.url, &["available", "active"], Duration::from_secs(60));
    ib.child.kill().unwrap();
    ib.child.wait().unwrap();

    // Restart with slow steps, start deploys (10 fresh nodes) and tear-downs
    // (the 10 active ones, which then clean), and kill while they run.
    let mut ib = start(dir.path(), db, 5_000);
    for u in &uuids[..10] {
        provision(&c, &ib.url, u, "deleted");
    }
    for u in &uuids[10..] {
        provision(&c, &ib.url, u, "active");
    }
    let mid: Vec<String> =
        nodes(&c, &ib.url).iter().map(|n| n["provision_state"].as_str().unwrap().to_string()).collect();
    assert!(mid.iter().all(|s| s == "deploying" || s == "deleting" || s == "cleaning"), "{mid:?}");
    ib.child.kill().unwrap(); // SIGKILL: no chance to tidy up
    ib.child.wait().unwrap();

    // A plain restart finishes every interrupted transition.
    let mut ib = start(dir.path(), db, 0);
    let list = wait_all(&c, &ib.url, &["available", "active"], Duration::from_secs(60));
    for n in &list {
        let name = n["name"].as_str().unwrap();
        let i: usize = name.trim_start_matches("crash-").parse().unwrap();
        let want = if i < 10 { "available" } else { "active" };
        assert_eq!(n["provision_state"], want, "{name}");
        assert!(n["target_provision_state"].is_null(), "{name}");
        assert!(n["last_error"].is_null(), "{name}: {}", n["last_error"]);
    }
    ib.child.kill().unwrap();
    ib.child.wait().unwrap();
}

#[test]
fn kill_9_during_deploy_and_clean_sqlite() {
    run(None);
}

#[test]
fn kill_9_during_deploy_and_clean_postgres() {
    let Some(admin) = common::pg_admin_url() else {
        eprintln!("IRONBARK_TEST_PG_URL not set: PostgreSQL case not run");
        return;
    };
    let name = format!("ironbark_crash_{}", std::process::id());
    let url = ironbark::storage::create_scratch_postgres(&admin, &name).unwrap();
    run(Some(&url));
    ironbark::storage::drop_scratch_postgres(&admin, &name).unwrap();
}
