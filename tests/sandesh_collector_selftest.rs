//! Self-test of the test Sandesh collector (tests/sandesh_collector), over
//! real TCP with frames written here by hand: the worked examples of the
//! protocol notes byte for byte, and deliberately broken frames.

mod sandesh_collector;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::thread::sleep;
use std::time::Duration;

use sandesh_collector::{Collector, Value, decode_frame, read_frame};

/// Worked example A.7 (the control hello), exactly as in the notes.
const HELLO: &str = r#"<sandesh length="0000001363"><SandeshHeader><Namespace type="string" identifier="1"></Namespace><Timestamp type="i64" identifier="2">1700000000000000</Timestamp><Module type="string" identifier="3">ironbark</Module><Source type="string" identifier="4">bms-ctl-1</Source><Context type="string" identifier="5">ctrl</Context><SequenceNum type="i32" identifier="6">1</SequenceNum><VersionSig type="i32" identifier="7">0</VersionSig><Type type="i32" identifier="8">2</Type><Hints type="i32" identifier="9">2</Hints><Level type="i32" identifier="10">2147483647</Level><Category type="string" identifier="11"></Category><NodeType type="string" identifier="12">Config</NodeType><InstanceId type="string" identifier="13">0</InstanceId></SandeshHeader><SandeshCtrlClientToServer type="sandesh"><source type="string" identifier="1">bms-ctl-1</source><module_name type="string" identifier="2">ironbark</module_name><sucessful_connections type="u32" identifier="3">1</sucessful_connections><uve_types type="list" identifier="4"><list type="string" size="1"><element>IronicNodeInfo</element></list></uve_types><pid type="u32" identifier="5">4242</pid><http_port type="u32" identifier="6">8110</http_port><node_type_name type="string" identifier="7">Config</node_type_name><instance_id_name type="string" identifier="8">0</instance_id_name></SandeshCtrlClientToServer></sandesh>"#;

/// Worked example A.8 (an IronicNodeInfo UVE), exactly as in the notes.
const UVE: &str = r#"<sandesh length="0000001335"><SandeshHeader><Namespace type="string" identifier="1"></Namespace><Timestamp type="i64" identifier="2">1700000000123456</Timestamp><Module type="string" identifier="3">ironbark</Module><Source type="string" identifier="4">bms-ctl-1</Source><Context type="string" identifier="5"></Context><SequenceNum type="i32" identifier="6">1</SequenceNum><VersionSig type="i32" identifier="7">0</VersionSig><Type type="i32" identifier="8">6</Type><Hints type="i32" identifier="9">1</Hints><Level type="i32" identifier="10">5</Level><Category type="string" identifier="11"></Category><NodeType type="string" identifier="12">Config</NodeType><InstanceId type="string" identifier="13">0</InstanceId></SandeshHeader><IronicNodeInfo type="sandesh"><data type="struct" identifier="1"><IronicNode><name type="string" identifier="1" key="ObjectServerTable">1be26c0b-03f2-4d2e-ae87-c02d7f33c123</name><provision_state type="string" identifier="3">active</provision_state><power_state type="string" identifier="4">power on</power_state><maintenance type="bool" identifier="7">false</maintenance><port_info type="list" identifier="18"><list type="struct" size="1"><PortInfo><name type="string" identifier="1">6f0ad3b4-8a3c-4c27-9b7e-2f4b8f4e9a10</name></PortInfo></list></port_info></IronicNode></data></IronicNodeInfo></sandesh>"#;

const NODE: &str = "1be26c0b-03f2-4d2e-ae87-c02d7f33c123";
const TABLE: &str = "ObjectServerTable";
const T: Duration = Duration::from_secs(5);

/// The reply body the notes expect (A.8, "Expected reply").
const REPLY_BODY: &str = r#"<SandeshCtrlServerToClient type="sandesh"><type_info type="list" identifier="1"><list type="struct" size="0"></list></type_info><success type="bool" identifier="2">true</success></SandeshCtrlServerToClient>"#;

/// Frames header + message XML written by hand: the length counts the
/// whole frame, open tag (29 bytes) and close tag (10 bytes) included.
fn framed(inner: &str) -> String {
    format!("<sandesh length=\"{:010}\">{inner}</sandesh>", inner.len() + 29 + 10)
}

/// The header + message part of a frame.
fn inner(frame: &str) -> &str {
    &frame[29..frame.len() - 10]
}

/// A frame with one textual change, re-framed with the right length.
fn mutate(frame: &str, from: &str, to: &str) -> String {
    assert!(frame.contains(from), "{from:?} is not in the frame");
    framed(&inner(frame).replacen(from, to, 1))
}

/// A.8's header with another SequenceNum.
fn uve_header(seq: i32) -> String {
    let h = &UVE[29..UVE.find("<IronicNodeInfo").unwrap()];
    h.replace(
        r#"<SequenceNum type="i32" identifier="6">1</SequenceNum>"#,
        &format!(r#"<SequenceNum type="i32" identifier="6">{seq}</SequenceNum>"#),
    )
}

/// An IronicNodeInfo UVE for NODE with these fields after `name`.
fn uve_frame(seq: i32, fields: &str) -> String {
    framed(&format!(
        r#"{}<IronicNodeInfo type="sandesh"><data type="struct" identifier="1"><IronicNode><name type="string" identifier="1" key="ObjectServerTable">{NODE}</name>{fields}</IronicNode></data></IronicNodeInfo>"#,
        uve_header(seq)
    ))
}

/// The notes' delete example.
fn deleted_frame(seq: i32) -> String {
    uve_frame(seq, r#"<deleted type="bool" identifier="2">true</deleted>"#)
}

struct Client(TcpStream);

impl Client {
    fn connect(c: &Collector) -> Client {
        let s = TcpStream::connect(c.addr()).unwrap();
        s.set_read_timeout(Some(T)).unwrap();
        Client(s)
    }

    fn send(&mut self, s: &str) {
        self.0.write_all(s.as_bytes()).unwrap();
    }

    fn reply(&mut self) -> String {
        self.0.set_read_timeout(Some(T)).unwrap();
        read_frame(&mut self.0).expect("a reply frame")
    }

    /// Sends A.7 and checks that it is accepted.
    fn hello(&mut self) {
        self.send(HELLO);
        let r = decode_frame(&self.reply()).unwrap();
        assert_eq!(r.body.bool("success"), Some(true));
    }

    /// True once the collector has closed the connection (within 5 s).
    fn closed(&mut self) -> bool {
        self.0.set_read_timeout(Some(T)).unwrap();
        let mut b = [0u8; 4096];
        loop {
            match self.0.read(&mut b) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => return false,
                Err(_) => return true,
            }
        }
    }

    /// True if the connection stays open (no EOF) for 200 ms.
    fn open(&mut self) -> bool {
        self.0.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        let mut b = [0u8; 4096];
        match self.0.read(&mut b) {
            Ok(0) => false,
            Ok(_) => true,
            Err(e) => matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        }
    }
}

fn has(violations: &[String], what: &str) -> bool {
    violations.iter().any(|v| v.contains(what))
}

#[test]
fn worked_examples_byte_for_byte() {
    // The lengths stated in the notes are the real byte lengths.
    assert_eq!(HELLO.len(), 1363);
    assert_eq!(&HELLO[17..27], "0000001363");
    assert_eq!(UVE.len(), 1335);
    assert_eq!(&UVE[17..27], "0000001335");
    assert_eq!(deleted_frame(2).len(), 1006, "the notes' delete example");

    let c = Collector::start();
    let mut a = Client::connect(&c);
    a.send(&format!("{HELLO}{UVE}"));

    let reply = a.reply();
    assert!(reply.ends_with(&format!("{REPLY_BODY}</sandesh>")), "{reply}");
    assert_eq!(reply.len(), reply[17..27].parse::<usize>().unwrap());
    let r = decode_frame(&reply).unwrap();
    assert!(r.violations.is_empty(), "{:?}", r.violations);
    assert_eq!(r.message, "SandeshCtrlServerToClient");
    let h = &r.header;
    assert_eq!(
        (h.namespace.as_str(), h.module.as_str(), h.source.as_str()),
        ("", "contrail-collector", "test-collector")
    );
    assert_eq!((h.context.as_str(), h.seq, h.version_sig, h.typ, h.hints), ("ctrl", 1, 0, 2, 2));
    assert_eq!((h.level, h.category.as_str(), h.node_type.as_str()), (2147483647, "", "Analytics"));
    assert_eq!(h.instance_id, "0");
    assert_eq!(r.body.bool("success"), Some(true));
    assert_eq!(r.body.get("type_info"), Some(&Value::List { elem: "struct".into(), items: vec![] }));

    assert!(c.wait_until(T, |c| c.uve(TABLE, NODE).is_some()));
    let u = c.uve(TABLE, NODE).unwrap();
    assert_eq!(u.name, "IronicNode");
    assert_eq!(u.str("provision_state"), Some("active"));
    assert_eq!(u.str("power_state"), Some("power on"));
    assert_eq!(u.bool("maintenance"), Some(false));
    let ports = u.structs("port_info");
    assert_eq!(ports.len(), 1);
    assert_eq!(ports[0].name, "PortInfo");
    assert_eq!(ports[0].str("name"), Some("6f0ad3b4-8a3c-4c27-9b7e-2f4b8f4e9a10"));
    // As the collector stores it: the key field is the key, not an attribute.
    assert!(u.get("name").is_none());
    assert_eq!(c.uve_keys(TABLE), vec![NODE.to_string()]);

    let ups = c.uve_updates(TABLE, NODE);
    assert_eq!(ups.len(), 1);
    assert_eq!((ups[0].session, ups[0].seq, ups[0].hints, ups[0].deleted), (1, 1, 1, false));
    assert_eq!(ups[0].data.str("name"), Some(NODE));
    assert_eq!(ups[0].generator.to_string(), "bms-ctl-1:Config:ironbark:0");

    assert_eq!(c.hellos().len(), 1);
    let hello = &c.hellos()[0];
    assert_eq!(hello.raw, HELLO);
    assert_eq!(hello.body.int("pid"), Some(4242));
    assert_eq!(hello.body.strs("uve_types"), vec!["IronicNodeInfo"]);
    let f = c.frames_of("IronicNodeInfo");
    assert_eq!(f.len(), 1);
    assert_eq!((f[0].header.timestamp, f[0].header.level, f[0].header.typ), (1700000000123456, 5, 6));
    assert_eq!(c.frames().len(), 2);
    assert_eq!((c.sessions(), c.live_sessions()), (1, 1));
    assert_eq!(c.generators().len(), 1);
    assert!(c.violations().is_empty(), "{:?}", c.violations());
    assert!(a.open());
}

#[test]
fn uve_before_hello_is_dropped_and_the_session_stays_up() {
    let c = Collector::start();
    let mut a = Client::connect(&c);
    a.send(UVE);
    assert!(c.wait_until(T, |c| !c.violations().is_empty()));
    assert!(has(&c.violations(), "NOT PRESENT"), "{:?}", c.violations());
    assert!(c.frames().is_empty());
    assert_eq!(c.dropped().len(), 1);
    assert!(c.uve(TABLE, NODE).is_none());
    assert!(a.open());
    assert_eq!(c.live_sessions(), 1);

    // The hello still works on the same session, and then UVEs are taken.
    a.hello();
    a.send(UVE);
    assert!(c.wait_until(T, |c| c.uve(TABLE, NODE).is_some()));
    assert_eq!(c.violations().len(), 1);
}

#[test]
fn deleted_uve_is_gone() {
    let c = Collector::start();
    let mut a = Client::connect(&c);
    a.hello();
    a.send(UVE);
    assert!(c.wait_until(T, |c| c.uve(TABLE, NODE).is_some()));
    a.send(&deleted_frame(2));
    assert!(c.wait_until(T, |c| c.uve_updates(TABLE, NODE).len() == 2));
    assert!(c.uve(TABLE, NODE).is_none());
    assert!(c.uve_keys(TABLE).is_empty());
    let ups = c.uve_updates(TABLE, NODE);
    assert!(!ups[0].deleted && ups[1].deleted);
    assert_eq!(ups[1].seq, 2);
    assert_eq!(c.frames_of("IronicNodeInfo").len(), 2);

    // Sent again, it comes back.
    a.send(&uve_frame(3, r#"<provision_state type="string" identifier="3">available</provision_state>"#));
    assert!(c.wait_until(T, |c| c.uve(TABLE, NODE).is_some()));
    let u = c.uve(TABLE, NODE).unwrap();
    assert_eq!(u.str("provision_state"), Some("available"));
    assert!(u.get("power_state").is_none(), "the delete dropped the old attributes");
    assert!(c.violations().is_empty(), "{:?}", c.violations());
}

#[test]
fn split_frames_and_packed_frames() {
    let c = Collector::start();
    let mut a = Client::connect(&c);
    // The hello in four writes: inside the prefix, inside the digits, in the body.
    for (from, to) in [(0, 10), (10, 20), (20, 700), (700, HELLO.len())] {
        a.send(&HELLO[from..to]);
        sleep(Duration::from_millis(30));
    }
    let r = decode_frame(&a.reply()).unwrap();
    assert_eq!(r.body.bool("success"), Some(true));

    // Two UVEs in one write; the second updates one attribute only.
    let second = uve_frame(2, r#"<provision_state type="string" identifier="3">deploying</provision_state>"#);
    a.send(&format!("{UVE}{second}"));
    assert!(c.wait_until(T, |c| c.uve_updates(TABLE, NODE).len() == 2));
    let u = c.uve(TABLE, NODE).unwrap();
    assert_eq!(u.str("provision_state"), Some("deploying"));
    assert_eq!(u.str("power_state"), Some("power on"), "attributes merge");
    assert_eq!(u.structs("port_info").len(), 1);

    // A UVE split in the middle of a tag, then the tail with a whole frame after it.
    let third = uve_frame(3, r#"<power_state type="string" identifier="4">power off</power_state>"#);
    a.send(&third[..400]);
    sleep(Duration::from_millis(30));
    a.send(&format!("{}{}", &third[400..], deleted_frame(4)));
    assert!(c.wait_until(T, |c| c.uve_updates(TABLE, NODE).len() == 4));
    assert_eq!(c.uve_updates(TABLE, NODE)[2].data.str("power_state"), Some("power off"));
    assert!(c.uve(TABLE, NODE).is_none());
    assert!(c.violations().is_empty(), "{:?}", c.violations());
}

#[test]
fn framing_errors_close_the_session() {
    let c = Collector::start();
    let cases = [
        (HELLO.replacen("0000001363", "0000001362", 1), "do not end with `</sandesh>`"),
        (HELLO.replacen("<sandesh length=", "<sandesh len=", 1), "does not start with"),
        (HELLO.replacen("0000001363", "00000013x3", 1), "10 decimal digits"),
        (HELLO.replacen("0000001363\">", "0000001363 >", 1), "bytes 27..29"),
        // One byte too many: the next frame's first byte makes it end wrong.
        (format!("{}{UVE}", HELLO.replacen("0000001363", "0000001364", 1)), "do not end with `</sandesh>`"),
    ];
    for (i, (bytes, why)) in cases.iter().enumerate() {
        let mut a = Client::connect(&c);
        a.send(bytes);
        assert!(a.closed(), "case {i}: the session should be closed");
        assert!(c.wait_until(T, |c| c.violations().len() == i + 1), "case {i}: {:?}", c.violations());
        let v = c.violations();
        assert!(v[i].contains("framing error") && v[i].contains(why), "case {i}: {}", v[i]);
    }
    assert!(c.wait_until(T, |c| c.live_sessions() == 0));
    assert!(c.frames().is_empty());
    assert_eq!(c.sessions(), cases.len());
}

#[test]
fn escaping_and_whitespace() {
    // `&quot;` is not Sandesh escaping: flagged, and kept as the collector keeps it.
    let c = Collector::start();
    let mut a = Client::connect(&c);
    a.hello();
    a.send(&mutate(UVE, "power on", "power &quot;on&quot;"));
    assert!(c.wait_until(T, |c| !c.violations().is_empty()));
    assert!(has(&c.violations(), "&quot;"), "{:?}", c.violations());
    assert!(c.wait_until(T, |c| c.uve(TABLE, NODE).is_some()), "not fatal");
    assert_eq!(c.uve(TABLE, NODE).unwrap().str("power_state"), Some("power &quot;on&quot;"));
    drop(c);

    // A numeric character reference likewise.
    let c = Collector::start();
    let mut a = Client::connect(&c);
    a.hello();
    a.send(&mutate(UVE, "power on", "power &#34;on&#34;"));
    assert!(c.wait_until(T, |c| has(&c.violations(), "numeric character reference")), "{:?}", c.violations());
    drop(c);

    // A raw `"` and the four entities are right.
    let c = Collector::start();
    let mut a = Client::connect(&c);
    a.hello();
    a.send(&mutate(UVE, "power on", "\"a\" &amp; &lt;b&gt; &apos;c&apos;"));
    assert!(c.wait_until(T, |c| c.uve(TABLE, NODE).is_some()));
    assert_eq!(c.uve(TABLE, NODE).unwrap().str("power_state"), Some("\"a\" & <b> 'c'"));
    assert!(c.violations().is_empty(), "{:?}", c.violations());
    drop(c);

    // Indentation between elements.
    let c = Collector::start();
    let mut a = Client::connect(&c);
    a.hello();
    a.send(&mutate(UVE, "</provision_state><power_state", "</provision_state>\n    <power_state"));
    assert!(c.wait_until(T, |c| !c.violations().is_empty()));
    assert!(has(&c.violations(), "whitespace"), "{:?}", c.violations());
    assert!(c.wait_until(T, |c| c.uve(TABLE, NODE).is_some()), "not fatal");
}

#[test]
fn restart_on_the_same_port_and_purge_on_disconnect() {
    let c = Collector::start();
    let addr = c.addr();
    let mut a = Client::connect(&c);
    a.hello();
    a.send(UVE);
    assert!(c.wait_until(T, |c| c.uve(TABLE, NODE).is_some()));

    c.stop();
    assert!(a.closed(), "the generator sees its connection drop");
    assert_eq!(c.live_sessions(), 0);
    assert!(c.uve(TABLE, NODE).is_none(), "purged with the session");
    assert!(TcpStream::connect(addr).is_err(), "the listener is closed");

    let c2 = Collector::start_on(addr);
    assert_eq!(c2.addr(), addr);
    let mut b = Client::connect(&c2);
    b.hello();
    b.send(UVE);
    assert!(c2.wait_until(T, |c| c.uve(TABLE, NODE).is_some()));

    // The generator goes away: its UVEs are purged, the history stays.
    b.0.shutdown(Shutdown::Both).unwrap();
    drop(b);
    assert!(c2.wait_until(T, |c| c.live_sessions() == 0 && c.uve(TABLE, NODE).is_none()));
    assert!(c2.uve_keys(TABLE).is_empty());
    assert!(c2.generators().is_empty());
    assert_eq!(c2.uve_updates(TABLE, NODE).len(), 1);
    assert!(c.violations().is_empty(), "{:?}", c.violations());
    assert!(c2.violations().is_empty(), "{:?}", c2.violations());
}

#[test]
fn duplicate_generator_sessions_are_both_closed() {
    let c = Collector::start();
    let mut a = Client::connect(&c);
    a.hello();
    a.send(UVE);
    assert!(c.wait_until(T, |c| c.uve(TABLE, NODE).is_some()));

    let mut b = Client::connect(&c);
    b.send(HELLO);
    assert!(b.closed(), "the second session is closed");
    assert!(a.closed(), "the first session is closed too");
    assert!(c.wait_until(T, |c| c.live_sessions() == 0));
    assert!(has(&c.violations(), "already connected"), "{:?}", c.violations());
    assert!(c.uve(TABLE, NODE).is_none(), "the first session's UVEs are purged");
    assert_eq!(c.hellos().len(), 2);

    // Afterwards a single session registers again.
    let mut d = Client::connect(&c);
    d.hello();
    assert_eq!(c.generators().len(), 1);
}

#[test]
fn refused_hello() {
    let c = Collector::start();
    c.set_accept(false);
    let mut a = Client::connect(&c);
    a.send(HELLO);
    let r = decode_frame(&a.reply()).unwrap();
    assert!(r.violations.is_empty(), "{:?}", r.violations);
    assert_eq!(r.body.bool("success"), Some(false));
    a.send(UVE);
    assert!(c.wait_until(T, |c| c.dropped().len() == 1));
    assert!(c.uve(TABLE, NODE).is_none());
    assert!(c.violations().is_empty(), "{:?}", c.violations());

    c.set_accept(true);
    let mut b = Client::connect(&c);
    b.hello();
    b.send(UVE);
    assert!(c.wait_until(T, |c| c.uve(TABLE, NODE).is_some()));
    let r2 = c.hellos();
    assert_eq!(r2.len(), 2);
}

#[test]
fn a_bad_hello_closes_the_session() {
    let c = Collector::start();
    let mut a = Client::connect(&c);
    a.send(&mutate(HELLO, ">Config</node_type_name>", "></node_type_name>"));
    assert!(a.closed());
    assert!(has(&c.violations(), "node_type_name is missing or empty"), "{:?}", c.violations());
    assert!(c.hellos().is_empty());
}

#[test]
fn decoder_types_and_clean_examples() {
    let h = decode_frame(HELLO).unwrap();
    assert!(h.violations.is_empty(), "{:?}", h.violations);
    assert_eq!(h.message, "SandeshCtrlClientToServer");
    assert_eq!(h.header.timestamp, 1700000000000000);
    assert_eq!(h.body.int("sucessful_connections"), Some(1));
    assert_eq!(h.body.int("http_port"), Some(8110));
    assert_eq!(h.body.str("node_type_name"), Some("Config"));
    assert_eq!(
        h.body.get("uve_types"),
        Some(&Value::List { elem: "string".into(), items: vec![Value::Str("IronicNodeInfo".into())] })
    );
    let u = decode_frame(UVE).unwrap();
    assert!(u.violations.is_empty(), "{:?}", u.violations);
    let data = u.body.sub("data").unwrap();
    assert_eq!(data.name, "IronicNode");
    let name = data.field("name").unwrap();
    assert_eq!((name.id, name.ty.as_str()), (1, "string"));
    assert_eq!(name.annotations, vec![("key".to_string(), "ObjectServerTable".to_string())]);
    assert_eq!(data.field("port_info").unwrap().id, 18);

    // Maps and sets (not in the IronicNode IDL, but part of the encoding).
    let extra = r#"<tags type="map" identifier="19"><map key="string" value="u32" size="2"><element>a</element><element>1</element><element>b&amp;c</element><element>2</element></map></tags><labels type="set" identifier="20"><set type="string" size="1"><element>x</element></set></labels>"#;
    let m = decode_frame(&mutate(UVE, "</port_info>", &format!("</port_info>{extra}"))).unwrap();
    assert!(m.violations.is_empty(), "{:?}", m.violations);
    let data = m.body.sub("data").unwrap();
    assert_eq!(
        data.get("tags"),
        Some(&Value::Map {
            key: "string".into(),
            value: "u32".into(),
            entries: vec![(Value::Str("a".into()), Value::Int(1)), (Value::Str("b&c".into()), Value::Int(2))],
        })
    );
    assert_eq!(data.strs("labels"), vec!["x"]);
    let bad = decode_frame(&mutate(
        UVE,
        "</port_info>",
        &format!("</port_info>{}", extra.replace(r#"size="2""#, r#"size="3""#)),
    ))
    .unwrap();
    assert!(has(&bad.violations, "<map> size=\"3\" but it holds 2 entries"), "{:?}", bad.violations);
}

#[test]
fn decoder_violations() {
    let swap = |s: &str, a: &str, b: &str| {
        assert!(s.contains(a) && s.contains(b));
        framed(&inner(s).replacen(a, "\u{0}", 1).replacen(b, a, 1).replacen('\u{0}', b, 1))
    };
    let struct_wrapped = framed(
        &inner(UVE).replace("<PortInfo>", "<element><PortInfo>").replace("</PortInfo>", "</PortInfo></element>"),
    );
    let cases: Vec<(String, &str)> = vec![
        (
            swap(
                UVE,
                r#"<Module type="string" identifier="3">ironbark</Module>"#,
                r#"<Source type="string" identifier="4">bms-ctl-1</Source>"#,
            ),
            "header field 3 is <Source>, expected <Module>",
        ),
        (
            mutate(UVE, r#"<Module type="string" identifier="3">"#, r#"<Module identifier="3" type="string">"#),
            "the last attribute is not identifier",
        ),
        (mutate(HELLO, r#"<Hints type="i32" identifier="9">2</Hints>"#, ""), "<Hints> (identifier 9) is missing"),
        (mutate(UVE, ">1700000000123456<", ">1700000000<"), "plausible microseconds"),
        (
            mutate(
                UVE,
                r#"<name type="string" identifier="1" key="ObjectServerTable">"#,
                r#"<name type="string" key="ObjectServerTable" identifier="1">"#,
            ),
            "attributes must be type, identifier, then annotations",
        ),
        (
            swap(
                UVE,
                r#"<provision_state type="string" identifier="3">active</provision_state>"#,
                r#"<power_state type="string" identifier="4">power on</power_state>"#,
            ),
            "ascending identifier order",
        ),
        (
            mutate(UVE, r#"<list type="struct" size="1">"#, r#"<list type="struct" size="2">"#),
            "size=\"2\" but it holds 1 items",
        ),
        (
            mutate(UVE, r#"<list type="struct" size="1">"#, r#"<list size="1" type="struct">"#),
            "<list> attributes must be",
        ),
        (struct_wrapped, "struct item is wrapped in <element>"),
        (mutate(HELLO, "<element>IronicNodeInfo</element>", "<item>IronicNodeInfo</item>"), "not wrapped in <element>"),
        (mutate(HELLO, ">4242<", ">42a<"), "not a decimal integer"),
        (mutate(HELLO, ">4242<", ">+4242<"), "not a decimal integer"),
        (mutate(HELLO, ">4242<", "> 4242<"), "not a decimal integer"),
        (mutate(HELLO, ">4242<", ">-4242<"), "out of range"),
        (
            mutate(
                HELLO,
                r#"<SequenceNum type="i32" identifier="6">1<"#,
                r#"<SequenceNum type="i32" identifier="6">0x1<"#,
            ),
            "not a decimal integer",
        ),
        (mutate(UVE, ">false</maintenance>", ">False</maintenance>"), "not true/false"),
        (mutate(UVE, "power on", "power &quot;on&quot;"), "&quot;"),
        (mutate(UVE, "power on", "power &#x22;on"), "numeric character reference"),
        (mutate(UVE, "</provision_state><power_state", "</provision_state> <power_state"), "whitespace"),
        (mutate(HELLO, "<SandeshHeader><Namespace", "<SandeshHeader>\n  <Namespace"), "whitespace"),
    ];
    for (frame, want) in &cases {
        let d = decode_frame(frame).unwrap();
        assert!(has(&d.violations, want), "want {want:?} in {:?}", d.violations);
    }
}
