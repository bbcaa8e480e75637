//! ironbark as a Sandesh generator against the independent test collector:
//! the handshake, the exact sequence of node UVEs through a lifecycle and
//! `deleted=true`, resync after the collector is killed and restarted,
//! fail-over, a refused hello, an absent collector, lifecycle logs, and
//! the introspect pages and metrics that show it all.

mod common;
mod sandesh_collector;

use std::time::Duration;

use common::{ADMIN_PASSWORD, Db, TestServer};
use reqwest::Method;
use sandesh_collector::{Collector, HINT_KEY, HINT_SYNC, TYPE_OBJECT, TYPE_SYSTEM, TYPE_UVE};
use serde_json::{Value, json};

const TABLE: &str = "ObjectServerTable";
const WAIT: Duration = Duration::from_secs(20);

fn server(db: Db, collectors: &[String]) -> Option<TestServer> {
    let list = collectors.to_vec();
    TestServer::start_with(db, move |c| {
        c.sandesh.collectors = ironbark::config::List(list);
        c.sandesh.backoff_min_ms = 50;
        c.sandesh.backoff_max_ms = 400;
        c.sandesh.source = Some("bms-test".into());
    })
}

struct Bm<'a> {
    s: &'a TestServer,
    token: String,
}

impl Bm<'_> {
    fn new(s: &TestServer) -> Bm<'_> {
        Bm { s, token: s.token("admin", ADMIN_PASSWORD, json!({"system": {"all": true}})).0 }
    }

    fn call(&self, method: Method, path: &str, body: Option<Value>) -> reqwest::blocking::Response {
        let mut b = self
            .s
            .client
            .request(method, format!("{}{path}", self.s.baremetal))
            .header("X-OpenStack-Ironic-API-Version", "1.95")
            .header("X-Auth-Token", &self.token);
        if let Some(body) = body {
            b = b.json(&body);
        }
        b.send().unwrap()
    }

    fn ok(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let r = self.call(method, path, body);
        let status = r.status();
        let text = r.text().unwrap();
        assert!(status.is_success(), "{path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    fn node(&self, name: &str) -> String {
        let n = self.ok(
            Method::POST,
            "/v1/nodes",
            Some(json!({"driver": "fake-hardware", "name": name,
                "properties": {"cpus": 8, "memory_mb": 16384, "local_gb": 100, "cpu_arch": "x86_64"}})),
        );
        n["uuid"].as_str().unwrap().to_string()
    }

    fn port(&self, node: &str, mac: &str) -> String {
        let p = self.ok(
            Method::POST,
            "/v1/ports",
            Some(json!({"node_uuid": node, "address": mac,
                "local_link_connection": {"switch_id": "00:11:22:33:44:55", "port_id": "xe-0/0/1", "switch_info": "leaf1"}})),
        );
        p["uuid"].as_str().unwrap().to_string()
    }

    /// Moves a node and waits until it rests in `want`.
    fn provision(&self, node: &str, target: &str, want: &str) {
        self.ok(Method::PUT, &format!("/v1/nodes/{node}/states/provision"), Some(json!({"target": target})));
        self.wait(node, |n| n["provision_state"] == want && n["reservation"].is_null());
    }

    fn power(&self, node: &str, target: &str) {
        self.ok(Method::PUT, &format!("/v1/nodes/{node}/states/power"), Some(json!({"target": target})));
        self.wait(node, |n| n["power_state"] == target && n["target_power_state"].is_null());
    }

    fn wait(&self, node: &str, f: impl Fn(&Value) -> bool) {
        for _ in 0..500 {
            let n = self.ok(Method::GET, &format!("/v1/nodes/{node}"), None);
            if f(&n) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("node {node} did not get there");
    }
}

fn established(s: &TestServer) -> bool {
    introspect(s, "/Snh_CollectorInfoRequest").contains(">Established</status>")
}

fn introspect(s: &TestServer, path: &str) -> String {
    let url = format!("{}{path}", s.introspect.as_deref().expect("introspect runs"));
    s.client.get(url).send().unwrap().text().unwrap()
}

fn metrics(s: &TestServer) -> String {
    let r = s.client.get(format!("{}/metrics", s.baremetal)).send().unwrap();
    assert_eq!(r.status(), 200);
    r.text().unwrap()
}

/// The value of one metric line (`name{labels} value`).
fn metric(text: &str, line_start: &str) -> Option<f64> {
    text.lines().find(|l| l.starts_with(line_start)).and_then(|l| l.rsplit(' ').next()).and_then(|v| v.parse().ok())
}

/// `(provision_state, power_state, event_type, number of ports)` of every
/// UVE of a node, or `deleted`.
fn uve_states(c: &Collector, node: &str) -> Vec<String> {
    c.uve_updates(TABLE, node)
        .iter()
        .map(|u| {
            if u.deleted {
                return "deleted".to_string();
            }
            let d = &u.data;
            format!(
                "{} | {} | {} | {}",
                d.str("provision_state").unwrap_or("?"),
                d.str("power_state").unwrap_or("?"),
                d.str("event_type").unwrap_or("?"),
                d.structs("port_info").len()
            )
        })
        .collect()
}

fn lifecycle(db: Db) {
    let c = Collector::start();
    let Some(s) = server(db, &[c.addr().to_string()]) else { return };
    assert!(c.wait_until(WAIT, |c| c.hellos().len() == 1), "the generator says hello");
    assert!(wait_for(|| established(&s)), "session established");
    let hello = &c.hellos()[0];
    assert_eq!(hello.header.context, "ctrl");
    assert_eq!(hello.header.hints & 0x2, 0x2);
    assert_eq!(hello.body.str("module_name"), Some("ironbark"));
    assert_eq!(hello.body.int("sucessful_connections"), Some(1));
    assert_eq!(hello.body.str("node_type_name"), Some("Config"));
    assert_eq!(hello.body.str("instance_id_name"), Some("0"));

    let bm = Bm::new(&s);
    let node = bm.node("sandesh-1");
    let port = bm.port(&node, "52:54:00:00:00:01");
    bm.provision(&node, "manage", "manageable");
    bm.provision(&node, "provide", "available");
    bm.provision(&node, "active", "active");
    bm.power(&node, "power off");
    bm.provision(&node, "deleted", "available");
    bm.ok(Method::DELETE, &format!("/v1/ports/{port}"), None);
    bm.ok(Method::DELETE, &format!("/v1/nodes/{node}"), None);
    assert!(c.wait_until(WAIT, |c| uve_states(c, &node).last().map(String::as_str) == Some("deleted")));
    let b = "baremetal.node";
    // A UVE shows the node as of its event and the ports as read when it
    // is built (never older than its event): the states are exact, the
    // port counts are checked where no later port change can race them.
    let states = uve_states(&c, &node);
    let without_ports: Vec<String> =
        states.iter().map(|s| s.rsplit_once(" | ").map_or(s.as_str(), |(head, _)| head).to_string()).collect();
    assert_eq!(
        without_ports,
        vec![
            format!("enroll |  | {b}.create.end"),
            "enroll |  | baremetal.port.create.end".to_string(),
            format!("verifying |  | {b}.provision_set.start"),
            format!("manageable | power off | {b}.provision_set.end"),
            format!("cleaning | power off | {b}.provision_set.start"),
            format!("available | power off | {b}.provision_set.end"),
            format!("deploying | power off | {b}.provision_set.start"),
            format!("active | power on | {b}.provision_set.end"),
            format!("active | power on | {b}.power_set.start"),
            format!("active | power off | {b}.power_set.end"),
            format!("deleting | power off | {b}.provision_set.start"),
            format!("cleaning | power off | {b}.provision_set.success"),
            format!("available | power off | {b}.provision_set.end"),
            "available | power off | baremetal.port.delete.end".to_string(),
            "deleted".to_string(),
        ]
    );
    let ports = |i: usize| states[i].rsplit(" | ").next().unwrap().to_string();
    assert_eq!(ports(1), "1", "the port's own UVE lists it");
    assert!((2..=9).all(|i| ports(i) == "1"), "{states:?}");
    assert_eq!(ports(13), "0", "the port delete's UVE no longer lists it");
    let ups = c.uve_updates(TABLE, &node);
    // Headers: UVE type, key hint, notice level, rising per-type sequence numbers.
    let frames = c.frames_of("IronicNodeInfo");
    assert!(frames.iter().all(|f| f.header.typ == TYPE_UVE && f.header.hints == HINT_KEY && f.header.level == 5));
    assert!(frames.windows(2).all(|w| w[1].header.seq > w[0].header.seq), "sequence numbers rise");
    assert!(ups.iter().all(|u| u.generator.source == "bms-test" && u.generator.module == "ironbark"));
    // The merged view analytics would show: gone after the delete.
    assert!(c.uve(TABLE, &node).is_none());
    let first = &ups[1].data;
    assert_eq!(first.str("host_name"), Some("sandesh-1"));
    assert_eq!(first.str("driver"), Some("fake-hardware"));
    assert_eq!(first.sub("node_properties").unwrap().int("cpus"), Some(8));
    let p = &first.structs("port_info")[0];
    assert_eq!(p.str("mac_address"), Some("52:54:00:00:00:01"));
    assert_eq!(p.sub("local_link_connection").unwrap().str("switch_info"), Some("leaf1"));
    assert!(first.str("publisher_id").unwrap().starts_with("ironic-api."));
    assert!(ups[2].data.str("publisher_id").unwrap().starts_with("ironic-conductor."));

    // Lifecycle logs: object logs keyed by the node, system logs in words.
    assert!(c.wait_until(WAIT, |c| {
        c.frames_of("BmsNodeEventLog")
            .iter()
            .any(|f| f.body.sub("event").and_then(|e| e.str("event_type")) == Some("baremetal.node.delete.end"))
    }));
    let objs = c.frames_of("BmsNodeEventLog");
    assert!(objs.iter().all(|f| f.header.typ == TYPE_OBJECT && f.header.hints == HINT_KEY));
    let deployed = objs
        .iter()
        .find(|f| {
            let e = f.body.sub("event").unwrap();
            e.str("provision_state") == Some("active") && e.str("previous_provision_state") == Some("deploying")
        })
        .expect("the deploy's end is logged");
    assert_eq!(deployed.header.level, 6);
    assert_eq!(deployed.body.sub("event").unwrap().field("name").unwrap().annotation("key"), Some(TABLE));
    let lines = c.frames_of("BmsNodeStateLog");
    assert!(lines.iter().all(|f| f.header.typ == TYPE_SYSTEM && f.header.hints == 0));
    assert!(
        lines.iter().any(|f| f.body.str("message") == Some("changed provision state from deploying to active (done)"))
    );
    assert!(c.violations().is_empty(), "collector saw: {:#?}", c.violations());
}

#[test]
fn lifecycle_sqlite() {
    lifecycle(Db::Sqlite);
}

#[test]
fn lifecycle_postgres() {
    lifecycle(Db::Postgres);
}

fn wait_for(f: impl Fn() -> bool) -> bool {
    let until = std::time::Instant::now() + WAIT;
    while std::time::Instant::now() < until {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// A failing step is reported at error level: a BMC the node's hardware
/// type cannot reach fails its verification.
#[test]
fn failures_are_logged_as_errors() {
    let c = Collector::start();
    let s = server(Db::Sqlite, &[c.addr().to_string()]).unwrap();
    assert!(wait_for(|| established(&s)));
    let bm = Bm::new(&s);
    let n = bm.ok(
        Method::POST,
        "/v1/nodes",
        Some(json!({"driver": "redfish", "name": "no-bmc", "driver_info": {"redfish_address": "http://127.0.0.1:9"}})),
    );
    let node = n["uuid"].as_str().unwrap().to_string();
    bm.ok(Method::PUT, &format!("/v1/nodes/{node}/states/provision"), Some(json!({"target": "manage"})));
    bm.wait(&node, |n| n["provision_state"] == "enroll" && n["last_error"].is_string() && n["reservation"].is_null());
    assert!(c.wait_until(WAIT, |c| uve_states(c, &node).iter().any(|s| s.contains("provision_set.error"))));
    let states = uve_states(&c, &node);
    assert!(states.last().unwrap().starts_with("enroll |"), "{states:?}");
    assert!(c.wait_until(WAIT, |c| c.frames_of("BmsNodeEventLog").iter().any(|f| f.header.level == 3)));
    let err = c.frames_of("BmsNodeEventLog").into_iter().find(|f| f.header.level == 3).unwrap();
    let e = err.body.sub("event").unwrap();
    assert_eq!(e.str("provision_state"), Some("enroll"));
    assert_eq!(e.str("previous_provision_state"), Some("verifying"));
    assert!(e.str("error").is_some_and(|m| !m.is_empty()));
    assert!(c.wait_until(WAIT, |c| c.frames_of("BmsNodeStateLog").iter().any(|f| f.header.level == 3
        && f.body.str("message").is_some_and(|m| m.starts_with("failed in verifying, now enroll: ")))));
}

/// The collector dies mid-run and comes back on the same address: the
/// generator reconnects, says hello again, re-sends every live node (with
/// the resync hint) from the database, and live updates follow.
#[test]
fn collector_restart_resyncs() {
    let c = Collector::start();
    let addr = c.addr();
    let s = server(Db::Sqlite, &[addr.to_string()]).unwrap();
    assert!(wait_for(|| established(&s)));
    let bm = Bm::new(&s);
    let a = bm.node("keep");
    let b = bm.node("goes-away");
    assert!(c.wait_until(WAIT, |c| c.uve(TABLE, &a).is_some() && c.uve(TABLE, &b).is_some()));
    c.stop();
    // While it is down: one node changes, one goes, one comes.
    bm.provision(&a, "manage", "manageable");
    bm.ok(Method::DELETE, &format!("/v1/nodes/{b}"), None);
    let n = bm.node("new-while-down");
    assert!(wait_for(|| !established(&s)));
    let dropped = metrics(&s);
    assert!(
        metric(
            &dropped,
            "ironbark_sandesh_messages_dropped_total{reason=\"session_not_connected\",type=\"IronicNodeInfo\"}"
        )
        .is_some_and(|v| v >= 1.0),
        "drops are counted:\n{dropped}"
    );
    let stats = introspect(&s, "/Snh_SandeshMessageStatsReq");
    assert!(stats.contains("<messages_sent_dropped_session_not_connected type=\"u64\""), "{stats}");

    let c2 = Collector::start_on(addr);
    assert!(c2.wait_until(WAIT, |c| c.hellos().len() == 1), "hello again");
    assert_eq!(c2.hellos()[0].body.int("sucessful_connections"), Some(2));
    assert!(c2.wait_until(WAIT, |c| c.uve(TABLE, &a).is_some() && c.uve(TABLE, &n).is_some()));
    let resent = c2.uve_updates(TABLE, &a);
    assert_eq!(resent[0].hints, HINT_KEY | HINT_SYNC, "a resync send");
    assert_eq!(resent[0].data.str("provision_state"), Some("manageable"));
    assert!(c2.uve(TABLE, &b).is_none() && c2.uve_updates(TABLE, &b).is_empty(), "a deleted node is not re-sent");
    // The generator's own UVE comes along.
    assert!(c2.uve_keys("ObjectGeneratorInfo").iter().any(|k| k.starts_with("bms-test:Config:ironbark:0")));
    // Live updates after the resync.
    bm.provision(&a, "provide", "available");
    assert!(c2.wait_until(WAIT, |c| c.uve(TABLE, &a).and_then(|u| u.str("provision_state").map(str::to_string))
        == Some("available".into())));
    let live = c2.uve_updates(TABLE, &a).last().unwrap().clone();
    assert_eq!(live.hints, HINT_KEY);
    assert!(c2.violations().is_empty(), "{:#?}", c2.violations());
    // The first collector's view was purged with its session.
    assert!(c.uve(TABLE, &a).is_none());
}

/// Two collectors, the first one dead: the generator fails over.
#[test]
fn fails_over_to_the_next_collector() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_addr = dead.local_addr().unwrap().to_string();
    drop(dead);
    let c = Collector::start();
    let s = server(Db::Sqlite, &[dead_addr, c.addr().to_string()]).unwrap();
    assert!(c.wait_until(WAIT, |c| c.hellos().len() == 1));
    assert!(wait_for(|| established(&s)));
    let info = introspect(&s, "/Snh_CollectorInfoRequest");
    assert!(info.contains(&format!("<port type=\"i32\" identifier=\"2\">{}</port>", c.addr().port())), "{info}");
}

/// A collector that refuses the hello: the generator closes and retries
/// until it is accepted.
#[test]
fn refused_hello_is_retried() {
    let c = Collector::start();
    c.set_accept(false);
    let s = server(Db::Sqlite, &[c.addr().to_string()]).unwrap();
    assert!(c.wait_until(WAIT, |c| c.hellos().len() >= 2), "retried after the refusal");
    assert!(!established(&s));
    assert!(introspect(&s, "/Snh_CollectorInfoRequest").contains("refused"));
    c.set_accept(true);
    assert!(wait_for(|| established(&s)));
}

/// With no collector listening, the API serves as usual; messages are
/// counted as dropped and the introspect says why.
#[test]
fn absent_collector_changes_nothing_for_the_api() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = dead.local_addr().unwrap().to_string();
    drop(dead);
    let s = server(Db::Sqlite, &[addr]).unwrap();
    let bm = Bm::new(&s);
    let node = bm.node("alone");
    bm.provision(&node, "manage", "manageable");
    let info = introspect(&s, "/Snh_CollectorInfoRequest");
    assert!(!info.contains("Established"), "{info}");
    assert!(info.contains("<last_error type=\"string\""), "{info}");
    assert!(wait_for(|| metric(
        &metrics(&s),
        "ironbark_sandesh_messages_dropped_total{reason=\"session_not_connected\",type=\"IronicNodeInfo\"}"
    )
    .is_some_and(|v| v >= 3.0)));
    assert_eq!(metric(&metrics(&s), "ironbark_sandesh_collector_established"), Some(0.0));
}

/// The introspect pages, in Sandesh's shapes.
#[test]
fn introspect_pages() {
    let c = Collector::start();
    let s = server(Db::Sqlite, &[c.addr().to_string()]).unwrap();
    assert!(wait_for(|| established(&s)));
    let bm = Bm::new(&s);
    let a = bm.node("intro-a");
    let b = bm.node("intro-b");
    bm.provision(&a, "manage", "manageable");
    let root = s.introspect.clone().unwrap();
    let index = s.client.get(format!("{root}/")).send().unwrap().text().unwrap();
    assert!(index.contains("<a href=\"sandesh_uve.xml\">") && index.contains("Modules for ironbark"), "{index}");
    let reqs = introspect(&s, "/sandesh_uve.xml");
    assert!(reqs.contains("<SandeshUVECacheReq type=\"sandesh\"><tname type=\"string\">0</tname>"), "{reqs}");
    let all = introspect(&s, "/Snh_SandeshUVECacheReq?x=IronicNode");
    assert!(
        all.starts_with(
            "<?xml-stylesheet type=\"text/xsl\" href=\"/universal_parse.xsl\"?><__IronicNodeInfo_list type=\"slist\">"
        ),
        "{all}"
    );
    assert!(all.contains(&a) && all.contains(&b));
    assert!(all.contains("<returned type=\"u32\" identifier=\"1\">2</returned>"), "{all}");
    let one = introspect(&s, &format!("/Snh_SandeshUVECacheReq?tname=IronicNode&key={a}"));
    assert!(one.contains(&a) && !one.contains(&b) && one.contains(">manageable</provision_state>"), "{one}");
    let none = introspect(&s, "/Snh_SandeshUVECacheReq?tname=NoSuchType");
    assert!(none.contains("<returned type=\"u32\" identifier=\"1\">0</returned>"), "{none}");
    let generator = introspect(&s, "/Snh_SandeshUVECacheReq?x=ModuleClientState");
    assert!(generator.contains("<status type=\"string\" identifier=\"1\">Established</status>"), "{generator}");
    let types = introspect(&s, "/Snh_SandeshUVETypesReq");
    assert!(types.contains(">IronicNode</type_name>") && types.contains(">ModuleClientState</type_name>"), "{types}");
    let stats = introspect(&s, "/Snh_SandeshMessageStatsReq");
    assert!(stats.contains("<message_type type=\"string\" identifier=\"1\">IronicNodeInfo</message_type>"), "{stats}");
    let events = introspect(&s, &format!("/Snh_BmsRecentEventsReq?node_uuid={a}"));
    assert!(events.contains(">verifying</provision_state>") && !events.contains(&b), "{events}");
    let r = s.client.get(format!("{root}/Snh_NoSuchRequest")).send().unwrap();
    assert_eq!(r.status(), 404);
    let r = s.client.get(format!("{root}/universal_parse.xsl")).send().unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().unwrap().contains("xsl:stylesheet"));
}

/// `/metrics` in the Prometheus text format: latency per service and
/// route, nodes per state, transition durations.
#[test]
fn metrics_show_live_figures() {
    let s = TestServer::start(Db::Sqlite).unwrap();
    let bm = Bm::new(&s);
    let node = bm.node("metrics-1");
    bm.provision(&node, "manage", "manageable");
    bm.provision(&node, "provide", "available");
    let _ = s.client.get(format!("{}/v3", s.identity)).send().unwrap();
    let _ = s.client.get(format!("{}/no/such/path", s.baremetal)).send().unwrap();
    let m = metrics(&s);
    assert!(m.contains("# TYPE ironbark_http_requests_duration_seconds histogram"), "{m}");
    assert!(
        m.lines().any(|l| l.starts_with("ironbark_http_requests_duration_seconds_count{")
            && l.contains("endpoint=\"/v1/nodes/{node}\"")
            && l.contains("service=\"baremetal\"")),
        "per-route latency:\n{m}"
    );
    assert!(m.lines().any(|l| l.contains("service=\"identity\"")), "{m}");
    assert!(m.contains("endpoint=\"UNMATCHED\""), "unknown paths share one label");
    assert_eq!(metric(&m, "ironbark_nodes{provision_state=\"available\"}"), Some(1.0));
    assert_eq!(metric(&m, "ironbark_nodes{provision_state=\"active\"}"), Some(0.0));
    assert!(
        metric(&m, "ironbark_provision_transition_duration_seconds_count{from=\"manageable\",to=\"available\"}")
            .is_some_and(|v| v >= 1.0),
        "{m}"
    );
    assert!(
        metric(&m, "ironbark_provision_state_duration_seconds_count{outcome=\"ok\",state=\"cleaning\"}")
            .is_some_and(|v| v >= 1.0),
        "{m}"
    );
}
