//! Ironic's versioned notification payloads, field for field as Ironic 39
//! sends them, and the oslo.messaging v2 envelope around them.

use chrono::NaiveDateTime;
use serde_json::{Map, Value, json};

use crate::common::secrets::{MASK, masked};
use crate::drivers::INTERFACE_KINDS;
use crate::engine::events::{Event, EventKind, NodeAction};
use crate::reporters::ironic_events::{Notice, PayloadClass};
use crate::storage::baremetal::{Node, Port};

/// The date-time form of payload fields.
fn time(t: Option<NaiveDateTime>) -> Value {
    t.map_or(Value::Null, |t| Value::String(t.and_utc().format("%Y-%m-%dT%H:%M:%SZ").to_string()))
}

fn text(s: &Option<String>) -> Value {
    s.as_ref().map_or(Value::Null, |v| Value::String(v.clone()))
}

fn object(text: &str) -> Value {
    match serde_json::from_str::<Value>(text) {
        Ok(v @ Value::Object(_)) => v,
        _ => json!({}),
    }
}

/// `NodePayload`'s fields.
fn node_fields(n: &Node) -> Map<String, Value> {
    let ifaces = object(&n.interfaces);
    let mut m = Map::new();
    // Ironic 39's NodePayload has every interface field but firmware_interface.
    for i in INTERFACE_KINDS.iter().filter(|i| **i != "firmware") {
        m.insert(format!("{i}_interface"), ifaces.get(*i).cloned().unwrap_or(Value::Null));
    }
    let traits: Value = serde_json::from_str(&n.traits).unwrap_or_else(|_| json!([]));
    let fields = [
        ("boot_mode", text(&n.boot_mode)),
        ("clean_step", object(&n.clean_step)),
        ("conductor_group", Value::String(n.conductor_group.clone())),
        ("console_enabled", Value::Bool(n.console_enabled)),
        ("created_at", time(Some(n.created_at))),
        ("deploy_step", object(&n.deploy_step)),
        ("description", text(&n.description)),
        ("disable_power_off", Value::Bool(n.disable_power_off)),
        ("driver", Value::String(n.driver.clone())),
        ("extra", object(&n.extra)),
        ("fault", text(&n.fault)),
        ("inspection_finished_at", time(n.inspection_finished_at)),
        ("inspection_started_at", time(n.inspection_started_at)),
        ("instance_uuid", text(&n.instance_uuid)),
        ("last_error", text(&n.last_error)),
        ("lessee", text(&n.lessee)),
        ("maintenance", Value::Bool(n.maintenance)),
        ("maintenance_reason", text(&n.maintenance_reason)),
        ("name", text(&n.name)),
        ("owner", text(&n.owner)),
        ("power_state", text(&n.power_state)),
        ("properties", object(&n.properties)),
        ("protected", Value::Bool(n.protected)),
        ("protected_reason", text(&n.protected_reason)),
        ("provision_state", Value::String(n.provision_state.clone())),
        ("provision_updated_at", time(n.provision_updated_at)),
        ("resource_class", text(&n.resource_class)),
        ("retired", Value::Bool(n.retired)),
        ("retired_reason", text(&n.retired_reason)),
        ("secure_boot", n.secure_boot.map_or(Value::Null, Value::Bool)),
        ("target_power_state", text(&n.target_power_state)),
        ("target_provision_state", text(&n.target_provision_state)),
        ("traits", if traits.is_array() { traits } else { json!([]) }),
        ("updated_at", time(n.updated_at)),
        ("uuid", Value::String(n.uuid.clone())),
    ];
    for (k, v) in fields {
        m.insert(k.into(), v);
    }
    m
}

/// `instance_info` as notifications show it: secrets masked, and the
/// image URL (it may carry credentials) always.
fn instance_info(n: &Node) -> Value {
    let mut v = masked(&object(&n.instance_info));
    if let Some(u) = v.get_mut("image_url") {
        *u = Value::String(MASK.into());
    }
    v
}

fn port_fields(p: &Port) -> Map<String, Value> {
    let fields = [
        ("address", Value::String(p.address.clone())),
        ("available_for_dynamic_portgroup", Value::Bool(p.available_for_dynamic_portgroup)),
        ("category", text(&p.category)),
        ("created_at", time(Some(p.created_at))),
        ("description", text(&p.description)),
        ("extra", object(&p.extra)),
        ("is_smartnic", Value::Bool(p.is_smartnic)),
        ("local_link_connection", object(&p.local_link_connection)),
        ("name", text(&p.name)),
        ("physical_network", text(&p.physical_network)),
        ("pxe_enabled", Value::Bool(p.pxe_enabled)),
        ("updated_at", time(p.updated_at)),
        ("uuid", Value::String(p.uuid.clone())),
        ("vendor", text(&p.vendor)),
        ("node_uuid", Value::String(p.node_uuid.clone())),
        ("portgroup_uuid", text(&p.portgroup_uuid)),
    ];
    fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// The node a notification describes: as the event left it, or — for the
/// `start` of an API action — as it was when the action began.
fn node_view(notice: &Notice, ev: &Event, n: &Node) -> Node {
    let mut n = n.clone();
    if notice.before() {
        match &ev.kind {
            // Not stored yet when the action begins.
            EventKind::Node { action: NodeAction::Create, .. } => n.updated_at = None,
            EventKind::Node { prior_updated_at: Some(t), .. } => n.updated_at = Some(*t),
            _ => {}
        }
    }
    n
}

/// `ironic_object.data` of a notice; `None` when the event lacks the
/// object it needs.
pub fn data(notice: &Notice, ev: &Event) -> Option<Map<String, Value>> {
    if notice.payload == PayloadClass::PortCrud {
        let (port, prior) = match &ev.kind {
            EventKind::PortCreated { port } | EventKind::PortDeleted { port } => (port, None),
            EventKind::PortUpdated { port, prior } => (port, prior.updated_at),
            _ => return None,
        };
        let mut p = (**port).clone();
        if notice.before() && prior.is_some() {
            p.updated_at = prior;
        }
        return Some(port_fields(&p));
    }
    let n = node_view(notice, ev, ev.node.as_deref()?);
    let mut m = node_fields(&n);
    if notice.before() && matches!(ev.kind, EventKind::Node { action: NodeAction::Create, .. }) {
        m.insert("created_at".into(), Value::Null);
    }
    match (&ev.kind, notice.payload) {
        (EventKind::Console { enabled }, _) if notice.phase == crate::reporters::ironic_events::Phase::Start => {
            m.insert("console_enabled".into(), Value::Bool(!enabled));
        }
        (_, PayloadClass::NodeCrud) => {
            m.insert("chassis_uuid".into(), text(&n.chassis_uuid));
            m.insert("driver_info".into(), masked(&object(&n.driver_info)));
            m.insert("instance_info".into(), instance_info(&n));
        }
        (EventKind::Provision { from, event, prior_target, .. }, PayloadClass::NodeSetProvisionState) => {
            m.insert("driver_internal_info".into(), masked(&object(&n.driver_internal_info)));
            m.insert("instance_info".into(), instance_info(&n));
            m.insert("event".into(), Value::String(event.as_str().into()));
            m.insert("previous_provision_state".into(), Value::String(from.as_str().into()));
            m.insert(
                "previous_target_provision_state".into(),
                prior_target.map_or(Value::Null, |t| Value::String(t.as_str().into())),
            );
        }
        (
            EventKind::PowerRequested { requested } | EventKind::Power { requested, .. },
            PayloadClass::NodeSetPowerState,
        ) => {
            m.insert("to_power".into(), Value::String(requested.as_str().into()));
        }
        _ => {}
    }
    Some(m)
}

/// The wrapped payload: `ironic_object.*` around the data.
pub fn payload(notice: &Notice, data: Map<String, Value>) -> Value {
    json!({
        "ironic_object.name": notice.payload.name(),
        "ironic_object.namespace": "ironic",
        "ironic_object.version": notice.payload.version(),
        "ironic_object.data": data,
    })
}

/// The request context oslo.messaging flattens into every message; the
/// engine acts for no particular user, so it is the anonymous one.
fn context(request_id: &str) -> [(&'static str, Value); 18] {
    [
        ("_context_user", Value::Null),
        ("_context_project_id", Value::Null),
        ("_context_system_scope", Value::Null),
        ("_context_project", Value::Null),
        ("_context_domain", Value::Null),
        ("_context_user_domain", Value::Null),
        ("_context_project_domain", Value::Null),
        ("_context_is_admin", Value::Bool(false)),
        ("_context_read_only", Value::Bool(false)),
        ("_context_show_deleted", Value::Bool(false)),
        ("_context_auth_token", Value::Null),
        ("_context_request_id", Value::String(request_id.into())),
        ("_context_global_request_id", Value::Null),
        ("_context_resource_uuid", Value::Null),
        ("_context_roles", json!([])),
        ("_context_user_identity", Value::String("- - - - -".into())),
        ("_context_is_admin_project", Value::Bool(true)),
        ("_context_auth_token_info", Value::Null),
    ]
}

/// The message oslo.messaging's v2 serializer sends, and its body:
/// `{"oslo.version": "2.0", "oslo.message": "<the message as JSON text>"}`.
pub fn envelope(
    notice: &Notice,
    payload: Value,
    host: &str,
    at: chrono::DateTime<chrono::Utc>,
    request_id: &str,
) -> (Value, Vec<u8>) {
    let mut msg = Map::new();
    msg.insert("message_id".into(), Value::String(uuid::Uuid::new_v4().to_string()));
    msg.insert("publisher_id".into(), Value::String(format!("{}.{host}", notice.service.as_str())));
    msg.insert("event_type".into(), Value::String(notice.event_type()));
    msg.insert("priority".into(), Value::String(notice.priority().as_str().into()));
    msg.insert("payload".into(), payload);
    msg.insert("timestamp".into(), Value::String(at.naive_utc().format("%Y-%m-%d %H:%M:%S%.6f").to_string()));
    msg.insert("_unique_id".into(), Value::String(uuid::Uuid::new_v4().simple().to_string()));
    for (k, v) in context(request_id) {
        msg.insert(k.into(), v);
    }
    let msg = Value::Object(msg);
    let body = json!({"oslo.version": "2.0", "oslo.message": msg.to_string()});
    (msg, body.to_string().into_bytes())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::Value;

    use super::*;
    use crate::engine::states::{Event as Fsm, PowerState, ProvisionState as S};
    use crate::reporters::ironic_events::notices;

    /// What the real Ironic 39 sent, per payload class (captured).
    fn reference_keys(class: &str) -> Vec<String> {
        let r: Value =
            serde_json::from_str(include_str!("../../../tests/notifications/ironic39-reference.json")).unwrap();
        r["payload_keys"][class].as_array().unwrap().iter().map(|k| k.as_str().unwrap().to_string()).collect()
    }

    fn node() -> Node {
        let t = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap();
        Node {
            driver_info: r#"{"ipmi_password": "x", "ipmi_address": "a"}"#.into(),
            instance_info: r#"{"image_url": "http://u:p@h/i", "configdrive": "H4sI"}"#.into(),
            provision_state: "available".into(),
            interfaces: r#"{"deploy": "fake"}"#.into(),
            traits: r#"["CUSTOM_A"]"#.into(),
            updated_at: Some(t),
            ..Node::new("1be26c0b-03f2-4d2e-ae87-c02d7f33c123", "fake-hardware", t)
        }
    }

    fn keys(ev: &Event) -> Vec<(String, Vec<String>)> {
        notices(ev)
            .iter()
            .map(|n| {
                let mut k: Vec<String> = data(n, ev).unwrap().keys().cloned().collect();
                k.sort();
                (n.payload.name().to_string(), k)
            })
            .collect()
    }

    #[test]
    fn payload_fields_are_ironics() {
        let n = node();
        let events = [
            Event::of(&n, EventKind::Node { action: NodeAction::Create, prior_updated_at: None }),
            Event::of(&n, EventKind::Node { action: NodeAction::MaintenanceSet, prior_updated_at: None }),
            Event::of(
                &n,
                EventKind::Provision {
                    from: S::Available,
                    to: S::Deploying,
                    event: Fsm::Deploy,
                    prior_target: None,
                    target: Some(S::Active),
                    error: None,
                },
            ),
            Event::of(&n, EventKind::PowerRequested { requested: PowerState::On }),
        ];
        for ev in &events {
            for (class, got) in keys(ev) {
                assert_eq!(got, reference_keys(&class), "{class}");
            }
        }
        let d = data(&notices(&events[0])[1], &events[0]).unwrap();
        assert_eq!(d["driver_info"]["ipmi_password"], MASK);
        assert_eq!(d["instance_info"]["image_url"], MASK);
        assert_eq!(d["instance_info"]["configdrive"], MASK);
        assert_eq!(d["created_at"], "2026-01-01T00:00:00Z");
        assert_eq!(d["traits"], serde_json::json!(["CUSTOM_A"]));
        // The start of a create shows the node not yet stored.
        let start = data(&notices(&events[0])[0], &events[0]).unwrap();
        assert!(start["created_at"].is_null() && start["updated_at"].is_null());
        let port = crate::storage::baremetal::Port::new("p", "52:54:00:00:00:01", n.uuid.clone(), n.created_at);
        let ev = Event::port(None, EventKind::PortCreated { port: Arc::new(port) });
        for (class, got) in keys(&ev) {
            assert_eq!(got, reference_keys(&class), "{class}");
        }
    }
}
