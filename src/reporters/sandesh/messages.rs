//! The Sandesh messages ironbark sends and serves, field for field as
//! their IDL declares them: the header, the control hello, the bare-metal
//! node UVE Contrail's analytics keeps in `ObjectServerTable`, the
//! generator's own UVE, lifecycle logs and the introspect responses.

use chrono::NaiveDateTime;
use serde_json::{Map, Value as Json};

use super::codec::{Struct, Value};
use crate::storage::baremetal::{Node, Port};

/// `SandeshType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    System = 1,
    Request = 2,
    Response = 3,
    Uve = 6,
    Object = 7,
}

/// `SandeshLevel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Emerg = 0,
    Alert = 1,
    Crit = 2,
    Err = 3,
    Warn = 4,
    Notice = 5,
    Info = 6,
    Debug = 7,
    /// Requests carry it; collectors drop logs at this level.
    Invalid = 0x7fff_ffff,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::Emerg => "SYS_EMERG",
            Level::Alert => "SYS_ALERT",
            Level::Crit => "SYS_CRIT",
            Level::Err => "SYS_ERR",
            Level::Warn => "SYS_WARN",
            Level::Notice => "SYS_NOTICE",
            Level::Info => "SYS_INFO",
            Level::Debug => "SYS_DEBUG",
            Level::Invalid => "INVALID",
        }
    }
}

/// Header hint bits.
pub const HINT_KEY: i32 = 0x1;
pub const HINT_CONTROL: i32 = 0x2;
pub const HINT_SYNC: i32 = 0x4;

/// Who this generator is: the collector keys its state by these four.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    pub source: String,
    pub module: String,
    pub node_type: String,
    pub instance_id: String,
}

impl Identity {
    /// `source:node_type:module:instance_id`, the generator's name in
    /// analytics.
    pub fn generator_name(&self) -> String {
        format!("{}:{}:{}:{}", self.source, self.node_type, self.module, self.instance_id)
    }
}

/// Everything of a header but the identity.
#[derive(Debug, Clone, Copy)]
pub struct HeaderFields<'a> {
    pub timestamp_us: i64,
    pub context: &'a str,
    pub seq: i32,
    pub kind: Kind,
    pub hints: i32,
    pub level: Level,
}

/// `SandeshHeader`: fields 1–13, always all of them, in order.
pub fn header(id: &Identity, h: HeaderFields<'_>) -> Struct {
    Struct::new("SandeshHeader")
        .with(1, "Namespace", Value::str(""))
        .with(2, "Timestamp", Value::I64(h.timestamp_us))
        .with(3, "Module", Value::str(&id.module))
        .with(4, "Source", Value::str(&id.source))
        .with(5, "Context", Value::str(h.context))
        .with(6, "SequenceNum", Value::I32(h.seq))
        .with(7, "VersionSig", Value::I32(0))
        .with(8, "Type", Value::I32(h.kind as i32))
        .with(9, "Hints", Value::I32(h.hints))
        .with(10, "Level", Value::I32(h.level as i32))
        .with(11, "Category", Value::str(""))
        .with(12, "NodeType", Value::str(&id.node_type))
        .with(13, "InstanceId", Value::str(&id.instance_id))
}

pub const CTRL_HELLO: &str = "SandeshCtrlClientToServer";
pub const CTRL_REPLY: &str = "SandeshCtrlServerToClient";

/// The control hello sent first on every connection (the IDL's own
/// spelling of `sucessful_connections`).
pub fn ctrl_hello(id: &Identity, successful_connections: u32, uve_types: &[&str], pid: u32, http_port: u32) -> Struct {
    Struct::new(CTRL_HELLO)
        .with(1, "source", Value::str(&id.source))
        .with(2, "module_name", Value::str(&id.module))
        .with(3, "sucessful_connections", Value::U32(successful_connections))
        .with(4, "uve_types", Value::List("string".into(), uve_types.iter().map(|t| Value::str(*t)).collect()))
        .with(5, "pid", Value::U32(pid))
        .with(6, "http_port", Value::U32(http_port))
        .with(7, "node_type_name", Value::str(&id.node_type))
        .with(8, "instance_id_name", Value::str(&id.instance_id))
}

/// What the collector's control reply says.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CtrlReply {
    pub success: bool,
    /// UVE struct names and the sequence number the collector holds.
    pub type_info: Vec<(String, u32)>,
}

pub fn parse_ctrl_reply(body: &Struct) -> Option<CtrlReply> {
    if body.name != CTRL_REPLY {
        return None;
    }
    let success = matches!(body.get("success"), Some(Value::Bool(true)));
    let mut type_info = Vec::new();
    if let Some(Value::List(_, items)) = body.get("type_info") {
        for i in items {
            if let Value::Struct(s) = i {
                let name = match s.get("type_name") {
                    Some(Value::Str(n)) => n.clone(),
                    _ => continue,
                };
                let seq = match s.get("seq_num") {
                    Some(Value::U32(n)) => *n,
                    _ => 0,
                };
                type_info.push((name, seq));
            }
        }
    }
    Some(CtrlReply { success, type_info })
}

// ---- the bare-metal node UVE -------------------------------------------------

pub const NODE_UVE: &str = "IronicNodeInfo";
pub const NODE_STRUCT: &str = "IronicNode";
pub const NODE_TABLE: &str = "ObjectServerTable";

/// The timestamp form Ironic's notification payloads carry, which is what
/// Contrail's analytics shows for its nodes.
pub fn timestamp(t: Option<NaiveDateTime>) -> String {
    t.map(|t| t.and_utc().format("%Y-%m-%dT%H:%M:%S+00:00").to_string()).unwrap_or_default()
}

fn json_map(text: &str) -> Map<String, Json> {
    serde_json::from_str(text).unwrap_or_default()
}

/// A JSON value as the string a Sandesh string field carries.
fn text_of(v: &Json) -> Option<String> {
    match v {
        Json::Null => None,
        Json::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn uint_of(v: Option<&Json>) -> Option<u64> {
    match v? {
        Json::Number(n) => n.as_u64(),
        Json::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The strings of `keys` present in a JSON object, as `(id, name, text)`.
fn string_fields(mut s: Struct, obj: &Map<String, Json>, keys: &[(u16, &'static str)]) -> Struct {
    for (id, key) in keys {
        if let Some(v) = obj.get(*key).and_then(text_of) {
            s = s.with(*id, key, Value::Str(v));
        }
    }
    s
}

/// `DriverInfo`, without the IDL's `ipmi_password` (2): a secret never
/// leaves ironbark.
fn driver_info(n: &Node) -> Struct {
    let info = json_map(&n.driver_info);
    let s = string_fields(Struct::new("DriverInfo"), &info, &[(1, "ipmi_address"), (3, "ipmi_username")]);
    let s = s.with_opt(
        4,
        "ipmi_terminal_port",
        uint_of(info.get("ipmi_terminal_port")).and_then(|p| u32::try_from(p).ok()).map(Value::U32),
    );
    string_fields(s, &info, &[(5, "deploy_kernel"), (6, "deploy_ramdisk")])
}

/// `InstanceInfo`; the config drive (7) holds the tenant's user data and
/// is left out.
fn instance_info(n: &Node) -> Struct {
    let info = json_map(&n.instance_info);
    string_fields(
        Struct::new("InstanceInfo"),
        &info,
        &[
            (1, "root_gb"),
            (2, "display_name"),
            (3, "memory_mb"),
            (4, "vcpus"),
            (5, "local_gb"),
            (6, "nova_host_id"),
            (8, "image_checksum"),
            (9, "image_source"),
            (10, "image_type"),
            (11, "image_url"),
        ],
    )
}

fn node_properties(n: &Node) -> Struct {
    let p = json_map(&n.properties);
    let u32_of = |k: &str| uint_of(p.get(k)).and_then(|v| u32::try_from(v).ok()).map(Value::U32);
    let s = string_fields(Struct::new("NodeProperties"), &p, &[(1, "cpu_arch")]);
    s.with_opt(2, "cpus", u32_of("cpus"))
        .with_opt(3, "local_gb", u32_of("local_gb"))
        .with_opt(4, "memory_mb", uint_of(p.get("memory_mb")).map(Value::U64))
        .with_opt(5, "capabilities", p.get("capabilities").and_then(text_of).map(Value::Str))
}

fn port_info(p: &Port) -> Struct {
    let llc = json_map(&p.local_link_connection);
    let internal = json_map(&p.internal_info);
    let link = string_fields(
        Struct::new("LocalLinkConnection"),
        &llc,
        &[(1, "switch_info"), (2, "port_id"), (3, "switch_id")],
    );
    let vifs = string_fields(
        Struct::new("InternalPortInfo"),
        &internal,
        &[(1, "tenant_vif_port_id"), (2, "provisioning_vif_port_id")],
    );
    Struct::new("PortInfo")
        .with(1, "name", Value::str(&p.uuid))
        .with(2, "pxe_enabled", Value::Bool(p.pxe_enabled))
        .with(3, "mac_address", Value::str(&p.address))
        .with(4, "create_timestamp", Value::Str(timestamp(Some(p.created_at))))
        .with(5, "port_uuid", Value::str(&p.uuid))
        .with(6, "local_link_connection", Value::Struct(link))
        .with(7, "internal_info", Value::Struct(vifs))
}

/// Why a UVE is sent: the Ironic notification it stands for.
#[derive(Debug, Clone, Default)]
pub struct Cause {
    pub event_type: String,
    pub publisher_id: String,
}

/// The full `IronicNode` of a node: every field of the IDL. A UVE update
/// replaces only the attributes it carries, so absent values are sent
/// empty, never left out, or analytics would keep stale ones (the cause,
/// when unknown, is left out: the previous one stays true).
pub fn ironic_node(n: &Node, ports: &[Port], cause: &Cause) -> Struct {
    let opt = |v: &Option<String>| Value::Str(v.clone().unwrap_or_default());
    Struct::new(NODE_STRUCT)
        .with_annotated(1, "name", &[("key", NODE_TABLE)], Value::str(&n.uuid))
        .with(3, "provision_state", Value::str(&n.provision_state))
        .with(4, "power_state", opt(&n.power_state))
        .with(5, "driver", Value::str(&n.driver))
        .with(6, "instance_uuid", opt(&n.instance_uuid))
        .with(7, "maintenance", Value::Bool(n.maintenance))
        .with(8, "provision_update_timestamp", Value::Str(timestamp(n.provision_updated_at)))
        .with(9, "update_timestamp", Value::Str(timestamp(n.updated_at)))
        .with(10, "create_timestamp", Value::Str(timestamp(Some(n.created_at))))
        .with(11, "host_name", opt(&n.name))
        // Unknown (a resync from the database): left out, not cleared.
        .with_opt(12, "publisher_id", (!cause.publisher_id.is_empty()).then(|| Value::str(&cause.publisher_id)))
        .with_opt(13, "event_type", (!cause.event_type.is_empty()).then(|| Value::str(&cause.event_type)))
        .with(
            14,
            "network_interface",
            Value::Str(json_map(&n.interfaces).get("network").and_then(text_of).unwrap_or_default()),
        )
        .with(15, "driver_info", Value::Struct(driver_info(n)))
        .with(16, "instance_info", Value::Struct(instance_info(n)))
        .with(17, "node_properties", Value::Struct(node_properties(n)))
        .with(
            18,
            "port_info",
            Value::List("struct".into(), ports.iter().map(|p| Value::Struct(port_info(p))).collect()),
        )
}

/// The UVE that removes a node from analytics.
pub fn ironic_node_deleted(uuid: &str) -> Struct {
    Struct::new(NODE_STRUCT).with_annotated(1, "name", &[("key", NODE_TABLE)], Value::str(uuid)).with(
        2,
        "deleted",
        Value::Bool(true),
    )
}

/// `uve sandesh X { 1: T data }`.
pub fn uve(message: &'static str, data: Struct) -> Struct {
    Struct::new(message).with(1, "data", Value::Struct(data))
}

// ---- the generator's own UVE -------------------------------------------------

pub const CLIENT_UVE: &str = "SandeshModuleClientTrace";
pub const CLIENT_STRUCT: &str = "ModuleClientState";
pub const CLIENT_TABLE: &str = "ObjectGeneratorInfo";

/// `SandeshClientInfo` as the generator reports itself.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub status: String,
    pub successful_connections: u32,
    pub pid: u32,
    pub http_port: u32,
    pub start_time_us: u64,
    pub collector_name: String,
    pub collector_ip: String,
    pub collector_list: Vec<String>,
}

pub fn module_client_state(id: &Identity, c: &ClientInfo, queue_count: u64, max_queue_count: u64) -> Struct {
    let info = Struct::new("SandeshClientInfo")
        .with(1, "status", Value::str(&c.status))
        .with(2, "successful_connections", Value::U32(c.successful_connections))
        .with(3, "pid", Value::U32(c.pid))
        .with(4, "http_port", Value::U32(c.http_port))
        .with(5, "start_time", Value::U64(c.start_time_us))
        .with(6, "collector_name", Value::str(&c.collector_name))
        .with(11, "collector_ip", Value::str(&c.collector_ip))
        .with(12, "collector_list", Value::List("string".into(), c.collector_list.iter().map(Value::str).collect()));
    Struct::new(CLIENT_STRUCT)
        .with_annotated(1, "name", &[("key", CLIENT_TABLE)], Value::Str(id.generator_name()))
        .with(3, "client_info", Value::Struct(info))
        .with(5, "sm_queue_count", Value::U64(queue_count))
        .with(14, "max_sm_queue_count", Value::U64(max_queue_count))
}

// ---- lifecycle logs ----------------------------------------------------------

/// `struct BmsNodeEvent` of ironbark's own IDL; its key puts each log
/// next to the node's UVE (`contrail-logs --object-type server`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeEvent {
    pub node_uuid: String,
    pub event_type: String,
    pub provision_state: String,
    pub target_provision_state: String,
    pub previous_provision_state: String,
    pub power_state: String,
    pub error: Option<String>,
    pub instance_uuid: Option<String>,
}

pub const NODE_EVENT_LOG: &str = "BmsNodeEventLog";

/// `objectlog sandesh BmsNodeEventLog { 1: BmsNodeEvent event }`
pub fn node_event_log(e: &NodeEvent) -> Struct {
    let ev = Struct::new("BmsNodeEvent")
        .with_annotated(1, "name", &[("key", NODE_TABLE)], Value::str(&e.node_uuid))
        .with(2, "event_type", Value::str(&e.event_type))
        .with(3, "provision_state", Value::str(&e.provision_state))
        .with(4, "target_provision_state", Value::str(&e.target_provision_state))
        .with(5, "previous_provision_state", Value::str(&e.previous_provision_state))
        .with(6, "power_state", Value::str(&e.power_state))
        .with_opt(7, "error", e.error.clone().map(Value::Str))
        .with_opt(8, "instance_uuid", e.instance_uuid.clone().map(Value::Str));
    Struct::new(NODE_EVENT_LOG).with(1, "event", Value::Struct(ev))
}

pub const NODE_STATE_LOG: &str = "BmsNodeStateLog";

/// `systemlog sandesh BmsNodeStateLog { 1: "Node" 2: string node_uuid
/// 3: string message }`: the line `contrail-logs` prints.
pub fn node_state_log(node_uuid: &str, message: &str) -> Struct {
    Struct::new(NODE_STATE_LOG).with(1, "str1", Value::str("Node")).with(2, "node_uuid", Value::str(node_uuid)).with(
        3,
        "message",
        Value::str(message),
    )
}

pub const SERVER_EVENT_LOG: &str = "BmsServerEventLog";

/// A tenant's bare-metal server being created or deleted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServerEvent {
    pub server_uuid: String,
    pub node_uuid: Option<String>,
    pub action: String,
    pub project_id: String,
    pub status: String,
    pub error: Option<String>,
}

/// `objectlog sandesh BmsServerEventLog { 1: BmsServerEvent event }`, keyed
/// by the server in `ObjectVMTable` and by its node in `ObjectServerTable`.
pub fn server_event_log(e: &ServerEvent) -> Struct {
    let ev = Struct::new("BmsServerEvent")
        .with_annotated(1, "name", &[("key", "ObjectVMTable")], Value::str(&e.server_uuid))
        .with_opt(2, "node_uuid", e.node_uuid.clone().map(Value::Str))
        .with(3, "action", Value::str(&e.action))
        .with(4, "project_id", Value::str(&e.project_id))
        .with(5, "status", Value::str(&e.status))
        .with_opt(6, "error", e.error.clone().map(Value::Str));
    Struct::new(SERVER_EVENT_LOG).with(1, "event", Value::Struct(ev))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_ironic_payload_form() {
        let t = chrono::NaiveDate::from_ymd_opt(2026, 1, 2).unwrap().and_hms_opt(3, 4, 5).unwrap();
        assert_eq!(timestamp(Some(t)), "2026-01-02T03:04:05+00:00");
        assert_eq!(timestamp(None), "");
    }

    #[test]
    fn ctrl_reply_is_read() {
        let body = Struct::new(CTRL_REPLY)
            .with(
                1,
                "type_info",
                Value::List(
                    "struct".into(),
                    vec![Value::Struct(
                        Struct::new("UVETypeInfo").with(1, "type_name", Value::str("IronicNode")).with(
                            2,
                            "seq_num",
                            Value::U32(0),
                        ),
                    )],
                ),
            )
            .with(2, "success", Value::Bool(true));
        assert_eq!(
            parse_ctrl_reply(&body),
            Some(CtrlReply { success: true, type_info: vec![("IronicNode".into(), 0)] })
        );
        assert_eq!(parse_ctrl_reply(&Struct::new("Other")), None);
    }
}
