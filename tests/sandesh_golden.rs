//! Golden frames: ironbark's Sandesh encoder against committed frames,
//! byte for byte. `ctrl-hello.frame` and `node-uve-partial.frame` were
//! written from the protocol rules, independently of the encoder; the
//! full node UVE is checked by the independent test collector's decoder
//! too. Set `IRONBARK_BLESS=1` to rewrite `node-uve-full.frame` after an
//! intended change (and review the diff).

mod sandesh_collector;

use chrono::NaiveDate;
use ironbark::reporters::sandesh::codec::{Struct, Value, frame};
use ironbark::reporters::sandesh::messages::{
    self, Cause, HINT_CONTROL, HINT_KEY, HeaderFields, Identity, Kind, Level,
};
use ironbark::storage::baremetal::{Node, Port};

fn golden(name: &str) -> String {
    let path = format!("{}/tests/golden/sandesh/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn identity() -> Identity {
    Identity {
        source: "bms-ctl-1".into(),
        module: "ironbark".into(),
        node_type: "Config".into(),
        instance_id: "0".into(),
    }
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).expect("utf-8")
}

/// The independent decoder finds nothing wrong with a frame.
fn clean(frame: &str) -> sandesh_collector::Decoded {
    let d = sandesh_collector::decode_frame(frame).expect("the test collector decodes the frame");
    assert!(d.violations.is_empty(), "violations: {:?}", d.violations);
    d
}

#[test]
fn control_hello() {
    let h = messages::header(
        &identity(),
        HeaderFields {
            timestamp_us: 1_700_000_000_000_000,
            context: "ctrl",
            seq: 1,
            kind: Kind::Request,
            hints: HINT_CONTROL,
            level: Level::Invalid,
        },
    );
    let body = messages::ctrl_hello(&identity(), 1, &["IronicNodeInfo"], 4242, 8110);
    let got = text(frame(&h, &body));
    assert_eq!(got, golden("ctrl-hello.frame"));
    clean(&got);
}

#[test]
fn node_uve_partial() {
    let h = messages::header(
        &identity(),
        HeaderFields {
            timestamp_us: 1_700_000_000_123_456,
            context: "",
            seq: 1,
            kind: Kind::Uve,
            hints: HINT_KEY,
            level: Level::Notice,
        },
    );
    let port = Struct::new("PortInfo").with(1, "name", Value::str("6f0ad3b4-8a3c-4c27-9b7e-2f4b8f4e9a10"));
    let data = Struct::new("IronicNode")
        .with_annotated(1, "name", &[("key", "ObjectServerTable")], Value::str("1be26c0b-03f2-4d2e-ae87-c02d7f33c123"))
        .with(3, "provision_state", Value::str("active"))
        .with(4, "power_state", Value::str("power on"))
        .with(7, "maintenance", Value::Bool(false))
        .with(18, "port_info", Value::List("struct".into(), vec![Value::Struct(port)]));
    let got = text(frame(&h, &messages::uve("IronicNodeInfo", data)));
    assert_eq!(got, golden("node-uve-partial.frame"));
    clean(&got);
}

fn at(h: u32, m: u32, s: u32) -> chrono::NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 12, 1).unwrap().and_hms_opt(h, m, s).unwrap()
}

fn fixture() -> (Node, Vec<Port>) {
    let node = Node {
        row_version: 7,
        name: Some("rack1-node7".into()),
        driver_info: r#"{"ipmi_address": "10.0.0.7", "ipmi_username": "admin", "ipmi_password": "s3cret",
            "ipmi_terminal_port": 9007, "deploy_kernel": "glance://k", "deploy_ramdisk": "glance://r"}"#
            .into(),
        properties: r#"{"cpus": 32, "memory_mb": 262144, "local_gb": 960, "cpu_arch": "x86_64",
            "capabilities": "boot_mode:uefi"}"#
            .into(),
        instance_info: r#"{"image_source": "5b3c1f0e-2d7a-4b8e-9c1d-0a6f2e4b8c90", "root_gb": "100",
            "display_name": "tenant <db> & 'cache' \"1\"", "memory_mb": 262144, "vcpus": 32,
            "configdrive": "H4sI-user-data"}"#
            .into(),
        instance_uuid: Some("9d0c2b1a-8e7f-4a6b-b5c4-d3e2f1a0b9c8".into()),
        provision_state: "active".into(),
        provision_updated_at: Some(at(10, 5, 0)),
        power_state: Some("power on".into()),
        interfaces: r#"{"network": "neutron", "power": "ipmitool"}"#.into(),
        resource_class: Some("baremetal-gold".into()),
        updated_at: Some(at(10, 5, 1)),
        ..Node::new("1be26c0b-03f2-4d2e-ae87-c02d7f33c123", "ipmi", at(9, 0, 0))
    };
    let port = Port {
        internal_info: r#"{"tenant_vif_port_id": "0e2a6c4d-1b3f-4e5a-8c7d-9f0a1b2c3d4e"}"#.into(),
        local_link_connection: r#"{"switch_id": "00:11:22:33:44:55", "port_id": "xe-0/0/7", "switch_info": "leaf1"}"#
            .into(),
        available_for_dynamic_portgroup: false,
        ..Port::new("6f0ad3b4-8a3c-4c27-9b7e-2f4b8f4e9a10", "52:54:00:aa:bb:cc", node.uuid.clone(), at(9, 1, 0))
    };
    (node, vec![port])
}

#[test]
fn node_uve_full() {
    let (node, ports) = fixture();
    let cause = Cause {
        event_type: "baremetal.node.provision_set.end".into(),
        publisher_id: "ironic-conductor.bms-ctl-1".into(),
    };
    let h = messages::header(
        &identity(),
        HeaderFields {
            timestamp_us: 1_764_583_501_000_000,
            context: "",
            seq: 12,
            kind: Kind::Uve,
            hints: HINT_KEY,
            level: Level::Notice,
        },
    );
    let got = text(frame(&h, &messages::uve("IronicNodeInfo", messages::ironic_node(&node, &ports, &cause))));
    let path = format!("{}/tests/golden/sandesh/node-uve-full.frame", env!("CARGO_MANIFEST_DIR"));
    if std::env::var("IRONBARK_BLESS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &got).unwrap();
    }
    assert_eq!(got, golden("node-uve-full.frame"));
    // What the independent decoder reads out of it.
    let d = clean(&got);
    assert_eq!(d.message, "IronicNodeInfo");
    let n = d.body.sub("data").expect("data");
    assert_eq!(n.field("name").unwrap().annotation("key"), Some("ObjectServerTable"));
    assert_eq!(n.str("provision_state"), Some("active"));
    assert_eq!(n.str("host_name"), Some("rack1-node7"));
    assert_eq!(n.str("network_interface"), Some("neutron"));
    assert_eq!(n.str("create_timestamp"), Some("2026-12-01T09:00:00+00:00"));
    let di = n.sub("driver_info").unwrap();
    assert_eq!(di.str("ipmi_address"), Some("10.0.0.7"));
    assert_eq!(di.int("ipmi_terminal_port"), Some(9007));
    assert!(di.get("ipmi_password").is_none(), "the BMC password never leaves ironbark");
    assert!(!got.contains("s3cret"));
    let ii = n.sub("instance_info").unwrap();
    assert_eq!(ii.str("display_name"), Some("tenant <db> & 'cache' \"1\""));
    assert_eq!(ii.str("memory_mb"), Some("262144"));
    assert!(ii.get("configdrive").is_none() && !got.contains("H4sI"), "user data stays out of analytics");
    let p = n.sub("node_properties").unwrap();
    assert_eq!((p.int("cpus"), p.int("memory_mb"), p.int("local_gb")), (Some(32), Some(262144), Some(960)));
    let ports = n.structs("port_info");
    assert_eq!(ports.len(), 1);
    assert_eq!(ports[0].str("mac_address"), Some("52:54:00:aa:bb:cc"));
    assert_eq!(ports[0].sub("local_link_connection").unwrap().str("port_id"), Some("xe-0/0/7"));
    assert_eq!(
        ports[0].sub("internal_info").unwrap().str("tenant_vif_port_id"),
        Some("0e2a6c4d-1b3f-4e5a-8c7d-9f0a1b2c3d4e")
    );
}

#[test]
fn node_deleted_uve() {
    let h = messages::header(
        &identity(),
        HeaderFields {
            timestamp_us: 1_700_000_000_123_456,
            context: "",
            seq: 2,
            kind: Kind::Uve,
            hints: HINT_KEY,
            level: Level::Notice,
        },
    );
    let got = text(frame(
        &h,
        &messages::uve("IronicNodeInfo", messages::ironic_node_deleted("1be26c0b-03f2-4d2e-ae87-c02d7f33c123")),
    ));
    assert_eq!(got.len(), 1006);
    assert!(got.ends_with(
        r#"<IronicNodeInfo type="sandesh"><data type="struct" identifier="1"><IronicNode><name type="string" identifier="1" key="ObjectServerTable">1be26c0b-03f2-4d2e-ae87-c02d7f33c123</name><deleted type="bool" identifier="2">true</deleted></IronicNode></data></IronicNodeInfo></sandesh>"#
    ));
    clean(&got);
}
