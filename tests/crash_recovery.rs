//! `kill -9` during deploys and cleanings: after a restart every node
//! reaches a stable state by itself, with its lock released. The rounds
//! test kills one worker at random points, again and again (with an image
//! upload in flight), then checks the nodes, the locks and the image store.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::blocking::Client;
use serde_json::{Value, json};

const VERSION: (&str, &str) = ("X-OpenStack-Ironic-API-Version", "1.115");

struct Ironbark {
    child: Child,
    url: String,
    image: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start(data: &std::path::Path, db: Option<&str>, delay_ms: u64) -> Ironbark {
    let (ip, bp, gp) = (free_port(), free_port(), free_port());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ironbark"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("IRONBARK_DATA_DIR", data)
        .env("IRONBARK_AUTH", "noauth")
        .env("IRONBARK_IDENTITY_PORT", ip.to_string())
        .env("IRONBARK_BAREMETAL_PORT", bp.to_string())
        .env("IRONBARK_IMAGE_PORT", gp.to_string())
        .env("IRONBARK_NETWORK_PORT", free_port().to_string())
        .env("IRONBARK_CONTRAIL_PORT", free_port().to_string())
        .env("IRONBARK_COMPUTE_PORT", free_port().to_string())
        .env("IRONBARK_CONDUCTOR_NAME", "crash-test-conductor")
        // A killed run's heartbeat is young at the next start: a short
        // timeout keeps the wait that tells it from a live twin short.
        .env("IRONBARK_HEARTBEAT_TIMEOUT_S", "3")
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
            return Ironbark { child, url, image: format!("http://127.0.0.1:{gp}") };
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

/// Bytes that arrive slowly, so that a kill lands mid-upload.
struct Trickle(usize);

impl std::io::Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.0 == 0 {
            return Ok(0);
        }
        std::thread::sleep(Duration::from_millis(20));
        let n = buf.len().min(self.0).min(64 * 1024);
        buf[..n].fill(0xab);
        self.0 -= n;
        Ok(n)
    }
}

/// Kills one worker `rounds` times at random points while nodes deploy,
/// tear down, clean and get managed, with an image upload in flight; then
/// one clean start must settle everything: every node stable, unlocked and
/// error-free, every image active with its whole file or queued with none,
/// no stray file in the store.
fn rounds(db: Option<&str>, rounds: usize) {
    use rand::Rng;
    let dir = tempfile::tempdir().unwrap();
    let c = Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
    let mut rng = rand::thread_rng();
    let ib = start(dir.path(), db, 0);
    for i in 0..12 {
        let r = c
            .post(format!("{}/v1/nodes", ib.url))
            .header(VERSION.0, VERSION.1)
            .json(&json!({"driver": "fake-hardware", "name": format!("round-{i}")}))
            .send()
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    let mut ib = ib;
    let mut uploads = 0;
    // nodes caught mid-transition by a kill, over all rounds
    let mut busy = 0;
    for _ in 0..rounds {
        for n in nodes(&c, &ib.url) {
            if !n["reservation"].is_null() {
                continue;
            }
            let target = match n["provision_state"].as_str().unwrap_or_default() {
                "enroll" => "manage",
                "manageable" => "provide",
                "available" => "active",
                "active" => "deleted",
                "deploy failed" | "clean failed" => "manage",
                _ => continue,
            };
            let r = c
                .put(format!("{}/v1/nodes/{}/states/provision", ib.url, n["uuid"].as_str().unwrap()))
                .header(VERSION.0, VERSION.1)
                .json(&json!({"target": target}))
                .send()
                .unwrap();
            assert!([202, 409].contains(&r.status().as_u16()), "{target}: {}", r.text().unwrap_or_default());
        }
        let image: Value = c
            .post(format!("{}/v2/images", ib.image))
            .json(&json!({"name": format!("up-{uploads}"), "disk_format": "raw", "container_format": "bare"}))
            .send()
            .unwrap()
            .json()
            .unwrap();
        uploads += 1;
        let put = c
            .put(format!("{}/v2/images/{}/file", ib.image, image["id"].as_str().unwrap()))
            .header("Content-Type", "application/octet-stream")
            .body(reqwest::blocking::Body::new(Trickle(if rng.gen_bool(0.5) { 256 * 1024 } else { 8 << 20 })));
        let upload = std::thread::spawn(move || put.send().map(|r| r.status().as_u16()).ok());
        std::thread::sleep(Duration::from_millis(rng.gen_range(0..1200)));
        busy += nodes(&c, &ib.url).iter().filter(|n| !n["reservation"].is_null()).count();
        ib.child.kill().unwrap(); // SIGKILL at a random point
        ib.child.wait().unwrap();
        let _ = upload.join();
        ib = start(dir.path(), db, rng.gen_range(50..400));
    }
    ib.child.kill().unwrap();
    ib.child.wait().unwrap();
    let mut ib = start(dir.path(), db, 0);
    let list = wait_all(&c, &ib.url, &["available", "active", "manageable"], Duration::from_secs(120));
    for n in &list {
        assert!(n["target_provision_state"].is_null(), "{}", n["name"]);
        assert!(n["last_error"].is_null(), "{}: {}", n["name"], n["last_error"]);
    }
    let images: Value = c.get(format!("{}/v2/images?limit=1000", ib.image)).send().unwrap().json().unwrap();
    let images = images["images"].as_array().unwrap();
    assert_eq!(images.len(), uploads);
    let store = dir.path().join("images");
    let files_in = |dir: &std::path::Path| -> Vec<String> {
        let mut f: Vec<String> = std::fs::read_dir(dir)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    // (not the store's marker, `.ironbark-store`)
                    .filter(|e| e.path().is_file() && !e.file_name().to_string_lossy().starts_with('.'))
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        f.sort();
        f
    };
    let files = files_in(&store);
    assert_eq!(files_in(&store.join("staging")), Vec::<String>::new(), "nothing left staged");
    let mut expected = Vec::new();
    for i in images {
        let id = i["id"].as_str().unwrap();
        match i["status"].as_str().unwrap() {
            "active" => {
                let len = std::fs::metadata(store.join(id)).map(|m| m.len()).unwrap_or(0);
                assert_eq!(Some(len), i["size"].as_u64(), "{id}: the whole file");
                expected.push(id.to_string());
            }
            "queued" => assert!(i["size"].is_null(), "{id}: a queued image has no data: {i}"),
            other => panic!("{id} left {other}"),
        }
    }
    expected.sort();
    assert_eq!(files, expected, "the store holds the active images' files and nothing else");
    if db.is_none() {
        // PostgreSQL enforces its constraints in every transaction; SQLite's
        // file is checked whole
        let check = "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); \
            print(c.execute('pragma integrity_check').fetchone()[0], len(c.execute('pragma foreign_key_check').fetchall()))";
        let out =
            Command::new("python3").arg("-c").arg(check).arg(dir.path().join("ironbark.sqlite")).output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok 0", "{}", String::from_utf8_lossy(&out.stderr));
    }
    let states: Vec<&str> = list.iter().map(|n| n["provision_state"].as_str().unwrap()).collect();
    eprintln!(
        "{rounds} kill -9 rounds ({busy} node transitions cut): nodes {states:?}; {uploads} uploads, {} active, the rest queued; store clean",
        expected.len()
    );
    ib.child.kill().unwrap();
    ib.child.wait().unwrap();
}

fn rounds_wanted() -> usize {
    std::env::var("IRONBARK_CRASH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(5)
}

#[test]
fn kill_9_rounds_sqlite() {
    rounds(None, rounds_wanted());
}

#[test]
fn kill_9_rounds_postgres() {
    let Some(admin) = common::pg_admin_url() else {
        eprintln!("IRONBARK_TEST_PG_URL not set: PostgreSQL case not run");
        return;
    };
    let name = format!("ironbark_rounds_{}", std::process::id());
    let url = ironbark::storage::create_scratch_postgres(&admin, &name).unwrap();
    rounds(Some(&url), rounds_wanted());
    ironbark::storage::drop_scratch_postgres(&admin, &name).unwrap();
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
