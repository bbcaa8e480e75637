//! PostgreSQL going away under load: ironbark answers 503 in each API's
//! envelope while the database is unreachable — never a 500, never a hang —
//! and recovers by itself when it is back. The outage is a TCP proxy in
//! front of PostgreSQL that the test cuts (every open connection dropped,
//! new ones refused) and restores.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Db, TestServer};
use serde_json::{Value, json};

/// A forwarder to PostgreSQL that can be cut and restored.
struct Proxy {
    port: u16,
    up: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    fn start(target: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let open = Arc::new(Mutex::new(Vec::new()));
        let (u, o) = (up.clone(), open.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if !u.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&target) else { continue };
                let mut opened = o.lock().unwrap();
                opened.push(client.try_clone().unwrap());
                opened.push(server.try_clone().unwrap());
                for (mut from, mut to) in [(client.try_clone().unwrap(), server.try_clone().unwrap()), (server, client)]
                {
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 16384];
                        while let Ok(n) = from.read(&mut buf) {
                            if n == 0 || to.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        let _ = to.shutdown(Shutdown::Both);
                    });
                }
            }
        });
        Proxy { port, up, open }
    }

    /// Drops every connection and refuses new ones.
    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for s in self.open.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// `postgres://user@host:port/db` with the host and port replaced.
fn through(url: &str, port: u16) -> (String, String) {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (auth_host, path) = rest.split_once('/').unwrap();
    let (auth, host) = match auth_host.rsplit_once('@') {
        Some((a, h)) => (format!("{a}@"), h),
        None => (String::new(), auth_host),
    };
    (format!("{scheme}://{auth}127.0.0.1:{port}/{path}"), host.to_string())
}

#[test]
fn postgres_outage_is_503_then_recovers() {
    let proxy: Arc<Mutex<Option<Proxy>>> = Arc::new(Mutex::new(None));
    let slot = proxy.clone();
    let Some(s) = TestServer::start_with(Db::Postgres, move |cfg| {
        let url = cfg.database_url.clone().unwrap();
        let (_, host) = through(&url, 0);
        let p = Proxy::start(if host.contains(':') { host } else { format!("{host}:5432") });
        cfg.database_url = Some(through(&url, p.port).0);
        *slot.lock().unwrap() = Some(p);
    }) else {
        eprintln!("IRONBARK_TEST_PG_URL not set; skipping");
        return;
    };
    let proxy = proxy.lock().unwrap().take().unwrap();
    let token = s.admin_token();
    let call = |method: reqwest::Method, url: String, body: Option<Value>| {
        let mut r = s
            .client
            .request(method, url)
            .header("X-Auth-Token", &token)
            .header("X-OpenStack-Ironic-API-Version", "1.78");
        if let Some(b) = body {
            r = r.json(&b);
        }
        let started = Instant::now();
        let res = r.send().expect("an answer, not a hang");
        (res.status().as_u16(), started.elapsed(), res.text().unwrap_or_default())
    };
    for i in 0..5 {
        let (st, _, body) = call(
            reqwest::Method::POST,
            format!("{}/v1/nodes", s.baremetal),
            Some(json!({"driver": "fake-hardware", "name": format!("n{i}")})),
        );
        assert_eq!(st, 201, "{body}");
    }
    let reads = [
        format!("{}/v1/nodes", s.baremetal),
        format!("{}/v1/nodes/n1", s.baremetal),
        format!("{}/v2.1/flavors", s.compute),
        format!("{}/v2/images", s.image),
        format!("{}/v2.0/networks", s.network),
        format!("{}/v3/projects", s.identity),
    ];
    for u in &reads {
        assert!(call(reqwest::Method::GET, u.clone(), None).0 < 300, "{u} before the outage");
    }

    proxy.cut();
    let outage = Instant::now();
    let mut seen = Vec::new();
    let mut slowest = Duration::ZERO;
    while outage.elapsed() < Duration::from_secs(8) {
        for u in &reads {
            let (st, took, body) = call(reqwest::Method::GET, u.clone(), None);
            assert!(st == 503 || st < 300, "{u} during the outage: {st} {body}");
            assert!(took < Duration::from_secs(12), "{u} took {took:?}");
            if st == 503 {
                assert!(!body.contains("panicked") && !body.contains("stack"), "{body}");
                assert!(serde_json::from_str::<Value>(&body).is_ok(), "a JSON envelope: {body}");
            }
            slowest = slowest.max(took);
            seen.push(st);
        }
        let (st, _, body) = call(
            reqwest::Method::PATCH,
            format!("{}/v1/nodes/n2", s.baremetal),
            Some(json!([{"op": "add", "path": "/extra/k", "value": "v"}])),
        );
        assert!(st == 503, "a write during the outage: {st} {body}");
    }
    assert!(
        seen.iter().filter(|s| **s == 503).count() > seen.len() / 2,
        "mostly 503 while the database is gone: {seen:?}"
    );

    proxy.restore();
    let back = Instant::now();
    loop {
        let statuses: Vec<u16> = reads.iter().map(|u| call(reqwest::Method::GET, u.clone(), None).0).collect();
        if statuses.iter().all(|s| *s < 300) {
            break;
        }
        assert!(back.elapsed() < Duration::from_secs(30), "not recovered: {statuses:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (st, _, body) = call(
        reqwest::Method::PATCH,
        format!("{}/v1/nodes/n2", s.baremetal),
        Some(json!([{"op": "add", "path": "/extra/k", "value": "v"}])),
    );
    assert_eq!(st, 200, "{body}");
    eprintln!(
        "outage: {} calls, {} answered 503, slowest {slowest:?}; recovered in {:?}",
        seen.len(),
        seen.iter().filter(|s| **s == 503).count(),
        back.elapsed()
    );
}

/// A PostgreSQL cluster of the test's own (initdb in a temporary directory,
/// on a free port), so that it can be restarted and crashed: run as the
/// `postgres` user when the test runs as root.
struct PrivatePostgres {
    bin: std::path::PathBuf,
    dir: String,
    port: u16,
    as_postgres: bool,
}

impl PrivatePostgres {
    fn start() -> Option<PrivatePostgres> {
        let out = std::process::Command::new("pg_config").arg("--bindir").output().ok()?;
        let bin = std::path::PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
        if !bin.join("initdb").exists() {
            return None;
        }
        let as_postgres = std::process::Command::new("id").arg("-u").output().ok()?.stdout == b"0\n";
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut pg = PrivatePostgres { bin, dir: String::new(), port, as_postgres };
        pg.dir = String::from_utf8(pg.run("mktemp", &["-d", "/tmp/ironbark-pg.XXXXXX"])).unwrap().trim().to_string();
        let data = format!("{}/data", pg.dir);
        pg.run(&pg.tool("initdb"), &["-D", &data, "-A", "trust", "-U", "postgres", "--no-sync"]);
        pg.ctl(&["start", "-w", "-t", "30"]);
        Some(pg)
    }

    fn tool(&self, name: &str) -> String {
        self.bin.join(name).display().to_string()
    }

    fn run(&self, program: &str, args: &[&str]) -> Vec<u8> {
        let mut cmd = if self.as_postgres {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--", program]);
            c
        } else {
            std::process::Command::new(program)
        };
        let out = cmd.args(args).stdin(std::process::Stdio::null()).output().expect("run a PostgreSQL tool");
        assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    }

    /// `pg_ctl <args>` on this cluster.
    fn ctl(&self, args: &[&str]) {
        let data = format!("{}/data", self.dir);
        let opts = format!("-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off", self.port, self.dir);
        let log = format!("{}/log", self.dir);
        let mut all = vec!["-D", data.as_str(), "-l", log.as_str(), "-o", opts.as_str()];
        all.extend_from_slice(args);
        self.run(&self.tool("pg_ctl"), &all);
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let data = format!("{}/data", self.dir);
        let _ = std::process::Command::new("runuser")
            .args(["-u", "postgres", "--", &self.tool("pg_ctl"), "-D", &data, "stop", "-m", "immediate"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A real PostgreSQL restarted (fast shutdown) and then crashed (immediate
/// shutdown, down for a few seconds) while clients keep calling every API:
/// each answer is a success or a 503 in the API's envelope, none takes
/// long, and ironbark is whole again by itself once the database is back.
#[test]
fn postgres_restart_and_crash_under_load() {
    if common::pg_admin_url().is_none() {
        eprintln!("IRONBARK_TEST_PG_URL not set; skipping");
        return;
    }
    let Some(pg) = PrivatePostgres::start() else {
        eprintln!("no PostgreSQL server binaries (pg_config --bindir); skipping");
        return;
    };
    let url = pg.url();
    let s = TestServer::start_with(Db::Postgres, move |cfg| cfg.database_url = Some(url)).unwrap();
    let token = s.admin_token();
    let call = |method: reqwest::Method, url: &str, body: Option<&Value>| {
        let mut r = s
            .client
            .request(method, url)
            .header("X-Auth-Token", &token)
            .header("X-OpenStack-Ironic-API-Version", "1.78");
        if let Some(b) = body {
            r = r.json(b);
        }
        let started = Instant::now();
        let res = r.send().expect("an answer, not a hang");
        (res.status().as_u16(), started.elapsed(), res.text().unwrap_or_default())
    };
    for i in 0..5 {
        let body = json!({"driver": "fake-hardware", "name": format!("n{i}")});
        let (st, _, text) = call(reqwest::Method::POST, &format!("{}/v1/nodes", s.baremetal), Some(&body));
        assert_eq!(st, 201, "{text}");
    }
    let patch = json!([{"op": "add", "path": "/extra/k", "value": "v"}]);
    let calls: Vec<(reqwest::Method, String, Option<Value>)> = vec![
        (reqwest::Method::GET, format!("{}/v1/nodes?detail=true", s.baremetal), None),
        (reqwest::Method::GET, format!("{}/v1/nodes/n1", s.baremetal), None),
        // each client patches a node of its own (see below)
        (reqwest::Method::PATCH, format!("{}/v1/nodes/n", s.baremetal), Some(patch.clone())),
        (reqwest::Method::GET, format!("{}/v2.1/flavors/detail", s.compute), None),
        (reqwest::Method::GET, format!("{}/v2/images", s.image), None),
        (reqwest::Method::GET, format!("{}/v2.0/networks", s.network), None),
        (reqwest::Method::GET, format!("{}/v3/projects", s.identity), None),
    ];

    // (status, how long, when, what) of every call, by four clients.
    let log: Mutex<Vec<(u16, Duration, Instant, String)>> = Mutex::new(Vec::new());
    let stop = AtomicBool::new(false);
    let started = Instant::now();
    let (mut restarted, mut crashed, mut back) = (Duration::ZERO, Duration::ZERO, Instant::now());
    std::thread::scope(|scope| {
        for k in 0..4 {
            let (calls, log, stop, call) = (&calls, &log, &stop, &call);
            scope.spawn(move || {
                let mut i = k;
                while !stop.load(Ordering::SeqCst) {
                    let (method, url, body) = &calls[i % calls.len()];
                    let url = if url.ends_with("/n") { format!("{url}{k}") } else { url.clone() };
                    let (st, took, text) = call(method.clone(), &url, body.as_ref());
                    let what = format!("{method} {url}: {st} {}", text.chars().take(300).collect::<String>());
                    assert!(st < 300 || st == 503, "{what}");
                    if st == 503 {
                        assert!(serde_json::from_str::<Value>(&text).is_ok(), "a JSON envelope: {what}");
                        assert!(!text.contains("panicked") && !text.contains("stack backtrace"), "{what}");
                    }
                    log.lock().unwrap().push((st, took, Instant::now(), what));
                    i += 1;
                }
            });
        }
        std::thread::sleep(Duration::from_secs(2));
        let t = Instant::now();
        pg.ctl(&["restart", "-m", "fast", "-w", "-t", "30"]);
        restarted = t.elapsed();
        std::thread::sleep(Duration::from_secs(3));
        let t = Instant::now();
        pg.ctl(&["stop", "-m", "immediate", "-w"]);
        std::thread::sleep(Duration::from_secs(4));
        pg.ctl(&["start", "-w", "-t", "30"]);
        crashed = t.elapsed();
        back = Instant::now();
        // Whole again: every kind of call succeeds for two seconds running.
        let mut clean_since: Option<Instant> = None;
        while clean_since.is_none_or(|c| c.elapsed() < Duration::from_secs(2)) {
            assert!(back.elapsed() < Duration::from_secs(30), "not recovered 30 s after the restart");
            std::thread::sleep(Duration::from_millis(100));
            let last_failure = log.lock().unwrap().iter().filter(|e| e.0 >= 300).map(|e| e.2).max();
            clean_since = Some(last_failure.map_or(back, |f| f.max(back)));
        }
        stop.store(true, Ordering::SeqCst);
    });
    let log = log.into_inner().unwrap();
    let unavailable = log.iter().filter(|e| e.0 == 503).count();
    let slowest = log.iter().map(|e| e.1).max().unwrap_or_default();
    let last_503 = log.iter().filter(|e| e.0 == 503).map(|e| e.2).max();
    assert!(unavailable > 0, "the crash was seen as 503s");
    assert!(slowest < Duration::from_secs(12), "a call took {slowest:?}");
    // nothing lost: the five nodes, each answering
    let (st, _, text) = call(reqwest::Method::GET, &format!("{}/v1/nodes", s.baremetal), None);
    assert_eq!(st, 200, "{text}");
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap()["nodes"].as_array().map(Vec::len), Some(5));
    eprintln!(
        "restart (fast) took {restarted:?}, crash (immediate) to up again {crashed:?}; {} calls in {:?}, {unavailable} \
         answered 503, slowest {slowest:?}; last 503 {:?} after the database was back",
        log.len(),
        started.elapsed(),
        last_503.map(|l| l.saturating_duration_since(back)),
    );
}
