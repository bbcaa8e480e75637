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
