//! Ports: `/v1/ports`, `/v1/nodes/{node}/ports` and
//! `/v1/portgroups/{portgroup}/ports`; plus the helpers the other
//! network-side resources (portgroups, chassis, drivers) share: policy
//! personas, identifier checks, body field readers and collection links.

use std::collections::{HashMap, HashSet};

use actix_web::{HttpResponse, web};
use serde_json::{Map, Value, json};

use super::error::{BaremetalError, Result};
use super::openapi::{DetailQuery, FieldsQuery, JsonPatch, Link, PageQuery};
use super::portgroups::find_portgroup;
use super::{
    Api, BaremetalState, Paging, Query, apply_patch, body_object, is_uuid, json_text, normalize_mac, only_params,
    parse_bool, parse_fields, select_fields, ts, ts_opt,
};
use crate::common::auth::AuthContext;
use crate::common::openapi::Routes;
use crate::common::policy::{Level, Owner, Rule};
use crate::engine::{Event, EventKind};
use crate::storage::baremetal::{self as bm, Node, Page, Port, PortFilter};
use crate::storage::{DbConn, StorageError, StorageResult};

// ---- shared helpers -----------------------------------------------------------

/// `baremetal:node:get` (and `port:get`, `portgroup:get`): system reader or
/// a reader of the owning or leasing project.
pub(super) const NODE_GET: Rule =
    Rule { system: Level::Reader, project: Some(Level::Reader), lessee: Some(Level::Reader) };
/// `port:create|delete`, `portgroup:create|delete`: system admin or an
/// admin/manager of the owning project.
pub(super) const OWNER_ADMIN: Rule = Rule { system: Level::Admin, project: Some(Level::Manager), lessee: None };
/// `port:update`, `portgroup:update`: system member or an admin/manager of
/// the owning project.
pub(super) const MEMBER_OR_OWNER_ADMIN: Rule =
    Rule { system: Level::Member, project: Some(Level::Manager), lessee: None };
/// `chassis:update`.
pub(super) const SYSTEM_MEMBER: Rule = Rule { system: Level::Member, project: None, lessee: None };

/// Provision states in which a port's connectivity may change.
const CONNECTIVITY_STATES: [&str; 4] = ["enroll", "inspecting", "inspect wait", "manageable"];

pub(super) fn owner_of(node: &Node) -> Owner<'_> {
    Owner { owner: node.owner.as_deref(), lessee: node.lessee.as_deref() }
}

pub(super) fn forbidden(policy: &str) -> BaremetalError {
    BaremetalError::Forbidden(policy.to_string())
}

/// Refuses a caller lacking a system-wide persona (chassis, drivers, conductors).
pub(super) fn require_system(api: &Api, rule: Rule, policy: &str) -> Result<()> {
    if api.ctx.allows(rule, Owner::default()) { Ok(()) } else { Err(forbidden(policy)) }
}

/// The project a list is restricted to: none for system readers
/// (`…:list_all`), the caller's own for project readers (`…:list`).
pub(super) fn list_scope(ctx: &AuthContext, what: &str) -> Result<Option<String>> {
    if ctx.allows(Rule::SYSTEM_READER, Owner::default()) {
        return Ok(None);
    }
    match (&ctx.project_id, ctx.project_level()) {
        (Some(p), Some(_)) => Ok(Some(p.clone())),
        _ => Err(forbidden(&format!("baremetal:{what}:list_all"))),
    }
}

/// Ironic's logical names: RFC 3986 unreserved characters, at most 255.
pub(super) fn is_logical_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~'))
}

pub(super) fn check_uuid(name: &str, v: &str) -> Result<()> {
    if is_uuid(v) { Ok(()) } else { Err(BaremetalError::BadRequest(format!("Expected UUID for {name}: {v}"))) }
}

pub(super) fn check_uuid_or_name(name: &str, v: &str) -> Result<()> {
    if is_uuid(v) || is_logical_name(v) {
        Ok(())
    } else {
        Err(BaremetalError::BadRequest(format!("Expected UUID or name for {name}: {v}")))
    }
}

pub(super) fn check_mac(name: &str, v: &str) -> Result<String> {
    normalize_mac(v).ok_or_else(|| BaremetalError::BadRequest(format!("Expected valid MAC address for {name}: {v}")))
}

/// Up to 1.90 Ironic strips a `.json` suffix from request paths.
pub(super) fn strip_json_suffix(api: &Api, ident: &str) -> String {
    match ident.strip_suffix(".json") {
        Some(s) if !api.at_least(91) && !s.is_empty() => s.to_string(),
        _ => ident.to_string(),
    }
}

/// `?detail=` (1.43+); `detail` and `fields` exclude each other.
pub(super) fn parse_detail(q: &HashMap<String, String>, api: &Api, min: u16) -> Result<Option<bool>> {
    let Some(raw) = q.get("detail") else { return Ok(None) };
    let detail = parse_bool("detail", raw)?;
    if !api.at_least(min) {
        return Err(BaremetalError::BadRequest(format!(
            "Invalid query parameter ?detail={} received.",
            py_bool(detail)
        )));
    }
    if detail && q.contains_key("fields") {
        return Err(BaremetalError::BadRequest("Can not specify ?detail=True and fields in the same request.".into()));
    }
    Ok(Some(detail))
}

pub(super) fn py_bool(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

/// Comma-separated query values (`shard`, `conductor_groups`).
pub(super) fn csv(v: &str) -> Vec<String> {
    v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

/// `StorageError::NotFound` as `None`.
pub(super) fn optional<T>(r: StorageResult<T>) -> StorageResult<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(StorageError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Finds a node by UUID or (from 1.5) by name, as Ironic's `get_rpc_node`.
pub(super) fn find_node(c: &mut DbConn, ident: &str, names: bool) -> StorageResult<Option<Node>> {
    if is_uuid(ident) {
        optional(bm::node(c, ident))
    } else if names && is_logical_name(ident) {
        bm::node_by_name(c, ident)
    } else {
        Ok(None)
    }
}

pub(super) fn node_not_found(ident: &str) -> BaremetalError {
    BaremetalError::NotFound(format!("Node {ident} could not be found."))
}

/// Rejects a node identifier that is neither a UUID nor (where names are
/// accepted) a logical name.
pub(super) fn check_node_ident(api: &Api, ident: &str) -> Result<()> {
    if api.at_least(5) && !is_uuid(ident) && !is_logical_name(ident) {
        return Err(BaremetalError::BadRequest(format!("Expected a logical name or UUID but received {ident}.")));
    }
    Ok(())
}

/// Every row: for in-transaction scans (members of a portgroup, …).
pub(super) fn all_rows() -> Page {
    Page { limit: i64::MAX, marker: None, sort: "id", desc: false }
}

pub(super) fn now() -> chrono::NaiveDateTime {
    chrono::Utc::now().naive_utc()
}

/// Percent-encodes a query value, keeping what Ironic leaves as is.
fn encode(v: &str) -> String {
    let mut out = String::new();
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~,:".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `self` and `bookmark` links, as [`BaremetalState::links`].
pub(super) fn links(base: &str, resource: &str, id: &str) -> Value {
    json!([{"href": format!("{base}/v1/{resource}/{id}"), "rel": "self"},
           {"href": format!("{base}/{resource}/{id}"), "rel": "bookmark"}])
}

/// A collection body: `{key: items}` plus, when the page is full, a `next`
/// link carrying Ironic's paging arguments and the given extras
/// (`detail`, `fields`, filters), in Ironic's order.
pub(super) fn collection(
    base: &str,
    key: &str,
    path: &str,
    paging: &Paging,
    items: Vec<Value>,
    last: Option<String>,
    extras: &[(String, String)],
) -> Value {
    let full = !items.is_empty() && items.len() as i64 == paging.limit;
    let mut body = Map::new();
    body.insert(key.into(), Value::Array(items));
    if let (true, Some(marker)) = (full, last) {
        let mut q = vec![format!("sort_key={}", encode(&paging.sort_key)), format!("sort_dir={}", paging.sort_dir)];
        q.extend(extras.iter().map(|(k, v)| format!("{k}={}", encode(v))));
        q.push(format!("limit={}", paging.limit));
        q.push(format!("marker={}", encode(&marker)));
        body.insert("next".into(), Value::String(format!("{base}/v1/{path}?{}", q.join("&"))));
    }
    Value::Object(body)
}

/// The query arguments a `next` link carries: `detail`, explicit `fields`
/// and the filters.
pub(super) fn carried(
    q: &HashMap<String, String>,
    detail: Option<bool>,
    fields: &Option<Vec<String>>,
    filters: &[&str],
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(d) = detail {
        out.push(("detail".into(), py_bool(d).into()));
    }
    if let Some(f) = fields {
        out.push(("fields".into(), f.join(",")));
    }
    for k in filters {
        if let Some(v) = q.get(*k) {
            out.push((k.to_string(), v.clone()));
        }
    }
    out
}

/// A schema error in a request body.
pub(super) fn schema(what: &str, msg: impl std::fmt::Display) -> BaremetalError {
    BaremetalError::BadRequest(format!("Schema error for {what}: {msg}"))
}

/// Refuses body keys outside `allowed`.
pub(super) fn only_keys(body: &Map<String, Value>, allowed: &[&str], what: &str) -> Result<()> {
    match body.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(schema(what, format!("Additional properties are not allowed ('{k}' was unexpected)"))),
        None => Ok(()),
    }
}

/// A `string | null` body field, at most `max` characters.
pub(super) fn opt_string(
    body: &Map<String, Value>,
    key: &str,
    max: Option<usize>,
    what: &str,
) -> Result<Option<String>> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => match max {
            Some(m) if s.chars().count() > m => Err(schema(what, format!("'{s}' is too long"))),
            _ => Ok(Some(s.clone())),
        },
        Some(other) => Err(schema(what, format!("{other} is not of type 'string', 'null'"))),
    }
}

/// A `string | boolean | null` body field read as Ironic's booleans.
pub(super) fn opt_bool(body: &Map<String, Value>, key: &str, what: &str) -> Result<Option<bool>> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) => parse_bool(key, s).map(Some),
        Some(other) => Err(schema(what, format!("{other} is not of type 'string', 'boolean', 'null'"))),
    }
}

/// An `object | null` body field as stored JSON text (`{}` for null).
pub(super) fn opt_object(body: &Map<String, Value>, key: &str, what: &str) -> Result<String> {
    match body.get(key) {
        None | Some(Value::Null) => Ok("{}".into()),
        Some(v @ Value::Object(_)) => Ok(v.to_string()),
        Some(other) => Err(schema(what, format!("{other} is not of type 'object', 'null'"))),
    }
}

/// `None` printed as Python does, for messages.
pub(super) fn py_opt(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| "None".into())
}

/// The roots a JSON patch touches, checked against `allowed` before any
/// lookup (Ironic answers a bad path with 400 even for a missing object).
/// Returns `(root, removed)` pairs; malformed documents are left to
/// [`apply_patch`].
pub(super) fn patch_roots(body: &[u8], allowed: &[&str]) -> Result<Vec<(String, String, bool)>> {
    let Ok(Value::Array(ops)) = serde_json::from_slice::<Value>(body) else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for op in &ops {
        let Some(path) = op.get("path").and_then(Value::as_str) else { continue };
        let root = path.trim_start_matches('/').split('/').next().unwrap_or("").to_string();
        if !allowed.contains(&root.as_str()) {
            return Err(BaremetalError::BadRequest(format!(
                "Cannot patch {path}. Only the following can be updated: {}",
                allowed.join(", ")
            )));
        }
        let removed = op.get("op").and_then(Value::as_str) == Some("remove");
        out.push((root, path.to_string(), removed));
    }
    Ok(out)
}

/// The values a patch sets at exactly `path` (Ironic's `get_patch_values`).
pub(super) fn patch_values(body: &[u8], path: &str) -> Vec<Value> {
    let Ok(Value::Array(ops)) = serde_json::from_slice::<Value>(body) else { return Vec::new() };
    ops.iter()
        .filter(|o| {
            o.get("path").and_then(Value::as_str) == Some(path) && o.get("op").and_then(Value::as_str) != Some("remove")
        })
        .filter_map(|o| o.get("value").cloned())
        .collect()
}

/// A node a patch links an object to (`node_uuid`): it must exist, be
/// visible to the caller and have the same owner; any failure is the same
/// 400, so existence is not disclosed.
pub(super) fn relink_node(
    c: &mut DbConn,
    ctx: &AuthContext,
    current: &Node,
    target: &Value,
    field: &str,
) -> StorageResult<std::result::Result<Node, BaremetalError>> {
    let shown = target.as_str().map_or_else(|| target.to_string(), str::to_string);
    let invalid = || {
        BaremetalError::BadRequest(format!(
            "Unable to apply the requested {field} '{shown}'. Requested value was invalid."
        ))
    };
    let Some(ident) = target.as_str() else { return Ok(Err(invalid())) };
    let Some(node) = find_node(c, ident, true)? else { return Ok(Err(invalid())) };
    if !ctx.allows(NODE_GET, owner_of(&node)) || node.owner != current.owner {
        return Ok(Err(invalid()));
    }
    Ok(Ok(node))
}

/// 409 while the node's lock is held.
pub(super) fn check_unlocked(node: &Node) -> std::result::Result<(), BaremetalError> {
    match &node.reservation {
        Some(host) => Err(BaremetalError::locked(&node.uuid, host)),
        None => Ok(()),
    }
}

// ---- ports ----------------------------------------------------------------------

/// Port fields in Ironic's order, with the microversion that shows them.
const FIELDS: &[(&str, u16)] = &[
    ("uuid", 1),
    ("created_at", 1),
    ("updated_at", 1),
    ("address", 1),
    ("extra", 1),
    ("internal_info", 18),
    ("is_smartnic", 53),
    ("local_link_connection", 19),
    ("physical_network", 34),
    ("pxe_enabled", 19),
    ("node_uuid", 1),
    ("name", 88),
    ("description", 97),
    ("vendor", 100),
    ("category", 101),
    ("available_for_dynamic_portgroup", 111),
    ("links", 1),
    ("portgroup_uuid", 24),
];

fn field_version(name: &str) -> u16 {
    FIELDS.iter().find(|(f, _)| *f == name).map_or(1, |(_, v)| *v)
}

const FIELD_NAMES: [&str; 18] = [
    "uuid",
    "created_at",
    "updated_at",
    "address",
    "extra",
    "internal_info",
    "is_smartnic",
    "local_link_connection",
    "physical_network",
    "pxe_enabled",
    "node_uuid",
    "name",
    "description",
    "vendor",
    "category",
    "available_for_dynamic_portgroup",
    "links",
    "portgroup_uuid",
];

// ---- documents ------------------------------------------------------------------

/// A port: a NIC of a node.
#[derive(utoipa::ToSchema)]
#[schema(as = Port)]
#[allow(dead_code)]
pub struct PortDoc {
    uuid: uuid::Uuid,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: Option<String>,
    /// The MAC address, lower case.
    address: String,
    #[schema(value_type = Object)]
    extra: Value,
    /// (1.18) What the services record about the port (its VIF, …).
    #[schema(value_type = Object)]
    internal_info: Value,
    /// (1.53)
    is_smartnic: bool,
    /// (1.19) The switch port it is cabled to; the VTEP keys are shown only
    /// in 1.90 to 1.104 (the connection reads as empty elsewhere).
    #[schema(value_type = Object)]
    local_link_connection: Value,
    /// (1.34)
    physical_network: Option<String>,
    /// (1.19)
    pxe_enabled: bool,
    node_uuid: uuid::Uuid,
    /// (1.88)
    name: Option<String>,
    /// (1.97)
    description: Option<String>,
    /// (1.100)
    vendor: Option<String>,
    /// (1.101)
    category: Option<String>,
    /// (1.111)
    available_for_dynamic_portgroup: bool,
    links: Vec<Link>,
    /// (1.24)
    portgroup_uuid: Option<uuid::Uuid>,
}

/// A page of ports (`uuid` and `address` unless `detail` or `fields`);
/// `next` is the next page's URL when this one is full.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct PortList {
    ports: Vec<PortDoc>,
    #[serde(default)]
    next: String,
}

/// How a port is cabled: empty; `port_id` with `switch_id` or `hostname`;
/// `network_type` `unmanaged`; or `port_id` with both VTEP switches (1.90).
#[derive(utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct LocalLinkConnection {
    port_id: Option<String>,
    /// A MAC address or a 16-digit OpenFlow datapath ID.
    switch_id: Option<String>,
    hostname: Option<String>,
    switch_info: Option<String>,
    /// (1.64)
    #[schema(inline)]
    network_type: Option<NetworkType>,
    /// (1.90)
    #[serde(rename = "vtep-logical-switch")]
    vtep_logical_switch: Option<String>,
    /// (1.90)
    #[serde(rename = "vtep-physical-switch")]
    vtep_physical_switch: Option<String>,
}

#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum NetworkType {
    Managed,
    Unmanaged,
}

/// A new port: its MAC address and its node (`node_uuid`, or from 1.94
/// `node_ident`, not both).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct PortCreate {
    #[schema(pattern = "^[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}$")]
    address: String,
    node_uuid: Option<uuid::Uuid>,
    /// (1.94) The node's UUID or name.
    #[schema(nullable = false)]
    node_ident: Option<String>,
    uuid: Option<uuid::Uuid>,
    #[schema(value_type = Option<Object>)]
    extra: Option<Value>,
    /// (1.53)
    is_smartnic: Option<bool>,
    /// (1.19)
    local_link_connection: Option<LocalLinkConnection>,
    /// (1.34)
    #[schema(max_length = 64)]
    physical_network: Option<String>,
    /// (1.24) A port group of the same node.
    portgroup_uuid: Option<uuid::Uuid>,
    /// (1.19) True unless given.
    pxe_enabled: Option<bool>,
    /// (1.88) Unique.
    name: Option<String>,
    /// (1.97)
    #[schema(max_length = 255)]
    description: Option<String>,
    /// (1.100)
    #[schema(max_length = 32)]
    vendor: Option<String>,
    /// (1.101)
    #[schema(max_length = 80)]
    category: Option<String>,
    /// (1.111) True unless given.
    #[schema(nullable = false)]
    available_for_dynamic_portgroup: Option<bool>,
}

/// The filters of a port listing.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct PortFilters {
    /// Only the ports of this node (UUID, or from 1.5 a name).
    node: Option<String>,
    /// Only the ports of this node.
    node_uuid: Option<uuid::Uuid>,
    /// Only the port with this MAC address.
    #[param(pattern = "^[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}$")]
    address: Option<String>,
    /// (1.24) Only the members of this port group (UUID or name).
    portgroup: Option<String>,
    /// (1.82) Only the ports of nodes in these shards (comma-separated).
    shard: Option<String>,
    /// Only the ports whose description contains this text.
    description_contains: Option<String>,
    /// Only the ports of nodes in these conductor groups (comma-separated);
    /// not with `node`, `portgroup` or `address`.
    conductor_groups: Option<String>,
}

/// Sort keys: columns, with nullable ones made comparable for keyset paging.
const SORTABLE: &[(&str, &str)] = &[
    ("id", "id"),
    ("uuid", "uuid"),
    ("address", "address"),
    ("created_at", "created_at"),
    ("updated_at", "COALESCE(updated_at, created_at)"),
    ("node_uuid", "node_uuid"),
    ("node_id", "node_uuid"),
    ("portgroup_id", "COALESCE(portgroup_uuid, '')"),
    ("name", "COALESCE(name, '')"),
    ("pxe_enabled", "pxe_enabled"),
    ("physical_network", "COALESCE(physical_network, '')"),
    ("is_smartnic", "is_smartnic"),
    ("description", "COALESCE(description, '')"),
    ("vendor", "COALESCE(vendor, '')"),
    ("category", "COALESCE(category, '')"),
    ("available_for_dynamic_portgroup", "available_for_dynamic_portgroup"),
];
const NOT_SORTABLE: &[&str] = &["extra", "internal_info", "local_link_connection"];

const POST_KEYS: &[&str] = &[
    "address",
    "extra",
    "is_smartnic",
    "local_link_connection",
    "node_ident",
    "node_uuid",
    "physical_network",
    "portgroup_uuid",
    "pxe_enabled",
    "uuid",
    "name",
    "description",
    "vendor",
    "category",
    "available_for_dynamic_portgroup",
];

const PATCH_ALLOWED: &[&str] = &[
    "address",
    "extra",
    "is_smartnic",
    "local_link_connection",
    "node_ident",
    "node_uuid",
    "physical_network",
    "portgroup_uuid",
    "pxe_enabled",
    "name",
    "description",
    "vendor",
    "category",
    "available_for_dynamic_portgroup",
];

const LLC_KEYS: [&str; 7] =
    ["port_id", "switch_id", "hostname", "switch_info", "network_type", "vtep-logical-switch", "vtep-physical-switch"];
const VTEP_KEYS: [&str; 2] = ["vtep-logical-switch", "vtep-physical-switch"];

/// A port as the requested microversion shows it.
pub(super) fn port_json(base: &str, api: &Api, p: &Port) -> Map<String, Value> {
    let minor = api.version.minor;
    let mut llc = json_text(&p.local_link_connection);
    // VTEP keys are shown only in 1.90–1.104; elsewhere the connection reads as empty.
    let vtep = llc.as_object().is_some_and(|o| o.keys().any(|k| VTEP_KEYS.contains(&k.as_str())));
    if vtep && !(90..105).contains(&minor) {
        llc = json!({});
    }
    let all = [
        ("uuid", json!(p.uuid)),
        ("created_at", ts(&p.created_at)),
        ("updated_at", ts_opt(&p.updated_at)),
        ("address", json!(p.address)),
        ("extra", json_text(&p.extra)),
        ("internal_info", json_text(&p.internal_info)),
        ("is_smartnic", json!(p.is_smartnic)),
        ("local_link_connection", llc),
        ("physical_network", json!(p.physical_network)),
        ("pxe_enabled", json!(p.pxe_enabled)),
        ("node_uuid", json!(p.node_uuid)),
        ("name", json!(p.name)),
        ("description", json!(p.description)),
        ("vendor", json!(p.vendor)),
        ("category", json!(p.category)),
        ("available_for_dynamic_portgroup", json!(p.available_for_dynamic_portgroup)),
        ("links", links(base, "ports", &p.uuid)),
        ("portgroup_uuid", json!(p.portgroup_uuid)),
    ];
    all.into_iter().filter(|(k, _)| api.at_least(field_version(k))).map(|(k, v)| (k.to_string(), v)).collect()
}

/// Validates and normalises a `local_link_connection` (Ironic's anyOf
/// schema: empty; port_id with switch_id or hostname; unmanaged; OVN VTEP).
fn local_link(api: &Api, v: Option<&Value>) -> Result<Map<String, Value>> {
    const WHAT: &str = "local_link_connection";
    let mut llc = match v {
        None | Some(Value::Null) => return Ok(Map::new()),
        Some(Value::Object(o)) => o.clone(),
        Some(other) => return Err(schema(WHAT, format!("{other} is not of type 'null', 'object'"))),
    };
    for (k, val) in &llc {
        if !LLC_KEYS.contains(&k.as_str()) {
            return Err(schema(WHAT, format!("Additional properties are not allowed ('{k}' was unexpected)")));
        }
        if !val.is_string() {
            return Err(schema(WHAT, format!("{val} is not of type 'string'")));
        }
    }
    let has = |k: &str| llc.contains_key(k);
    let network_type = llc.get("network_type").and_then(Value::as_str).map(str::to_string);
    if let Some(nt) = &network_type {
        api.accept(64)?;
        if nt != "managed" && nt != "unmanaged" {
            return Err(schema(WHAT, format!("'{nt}' is not one of ['managed', 'unmanaged']")));
        }
    }
    if has("vtep-logical-switch") || has("vtep-physical-switch") {
        api.accept(90)?;
        if !(has("vtep-logical-switch") && has("vtep-physical-switch")) {
            return Err(schema(WHAT, "vtep-logical-switch and vtep-physical-switch are required together"));
        }
    }
    let valid = llc.is_empty()
        || (has("port_id") && has("switch_id"))
        || (has("port_id") && has("hostname"))
        || network_type.as_deref() == Some("unmanaged")
        || (has("port_id") && has("vtep-logical-switch"));
    if !valid {
        return Err(schema(
            WHAT,
            format!(
                "{} is not valid: it needs port_id with switch_id or hostname, network_type 'unmanaged', or \
                 port_id with the VTEP switches",
                Value::Object(llc.clone())
            ),
        ));
    }
    if let Some(sid) = llc.get("switch_id").and_then(Value::as_str).map(str::to_string) {
        let normal = normalize_mac(&sid)
            .or_else(|| (sid.len() == 16 && sid.chars().all(|c| c.is_ascii_hexdigit())).then(|| sid.to_lowercase()))
            .ok_or_else(|| {
                BaremetalError::BadRequest(format!(
                    "Expected a MAC address or OpenFlow datapath ID but received {sid}."
                ))
            })?;
        llc.insert("switch_id".into(), Value::String(normal));
    }
    Ok(llc)
}

/// 406 for request fields newer than the microversion.
fn check_field_versions<'a>(api: &Api, names: impl IntoIterator<Item = &'a str>) -> Result<()> {
    for n in names {
        api.accept(field_version(n))?;
    }
    Ok(())
}

/// Ironic's `validate_port_physnet`: every member of a portgroup has the
/// same physical network; the first member with one gives it to a portgroup
/// that has none.
fn check_physnet(c: &mut DbConn, port: &Port) -> StorageResult<std::result::Result<(), BaremetalError>> {
    let Some(pg_uuid) = &port.portgroup_uuid else { return Ok(Ok(())) };
    let filter = PortFilter { portgroup_uuid: Some(pg_uuid.clone()), ..Default::default() };
    let physnets: HashSet<Option<String>> = bm::ports_list(c, &filter, &all_rows())?
        .into_iter()
        .filter(|m| m.uuid != port.uuid)
        .map(|m| m.physical_network)
        .collect();
    let mut pg = bm::portgroup(c, pg_uuid)?;
    let expected = if physnets.is_empty() {
        match (&pg.physical_network, &port.physical_network) {
            (Some(p), _) => Some(p.clone()),
            (None, Some(p)) => {
                pg.physical_network = Some(p.clone());
                pg.updated_at = Some(now());
                bm::portgroup_update(c, &pg)?;
                return Ok(Ok(()));
            }
            (None, None) => return Ok(Ok(())),
        }
    } else if physnets.len() > 1 {
        return Ok(Err(BaremetalError::Conflict(format!(
            "Port group {pg_uuid} has member ports with inconsistent physical networks. All ports in a port group \
             must have the same physical network."
        ))));
    } else {
        physnets.into_iter().next().flatten()
    };
    if port.physical_network != expected {
        return Ok(Err(BaremetalError::Conflict(format!(
            "Port with physical network {} cannot become a member of port group {pg_uuid} which has ports in \
             physical network {}.",
            py_opt(&port.physical_network),
            py_opt(&expected)
        ))));
    }
    Ok(Ok(()))
}

/// Address, name and UUID are unique among ports.
fn check_unique(c: &mut DbConn, p: &Port, new: bool) -> StorageResult<std::result::Result<(), BaremetalError>> {
    if let Some(other) = bm::port_by_address(c, &p.address)?
        && other.uuid != p.uuid
    {
        return Ok(Err(BaremetalError::Conflict(format!("A port with MAC address {} already exists.", p.address))));
    }
    if let Some(name) = &p.name
        && let Some(other) = bm::port_by_name(c, name)?
        && other.uuid != p.uuid
    {
        return Ok(Err(BaremetalError::Conflict(format!("A port with name {name} already exists."))));
    }
    if new && optional(bm::port(c, &p.uuid))?.is_some() {
        return Ok(Err(BaremetalError::Conflict(format!("A port with UUID {} already exists.", p.uuid))));
    }
    Ok(Ok(()))
}

/// Where a port listing comes from.
#[derive(Clone)]
enum Parent {
    All,
    Node(String),
    Portgroup(String),
}

async fn list(
    api: Api,
    state: web::Data<BaremetalState>,
    q: Query,
    parent: Parent,
    detail_route: bool,
) -> Result<HttpResponse> {
    let q = q.into_inner();
    let mut allowed = vec![
        "node",
        "node_uuid",
        "address",
        "marker",
        "limit",
        "sort_key",
        "sort_dir",
        "portgroup",
        "shard",
        "description_contains",
        "conductor_groups",
    ];
    if !detail_route {
        allowed.extend(["fields", "detail"]);
    }
    only_params(&q, &allowed)?;
    if let Some(v) = q.get("node") {
        check_uuid_or_name("node", v)?;
    }
    if let Some(v) = q.get("node_uuid") {
        check_uuid("node_uuid", v)?;
    }
    let address = q.get("address").map(|a| check_mac("address", a)).transpose()?;
    if let Some(v) = q.get("marker") {
        check_uuid("marker", v)?;
    }
    if let Some(v) = q.get("portgroup") {
        check_uuid_or_name("portgroup", v)?;
    }
    let project = list_scope(&api.ctx, "port")?;

    let fields = parse_fields(&q, &FIELD_NAMES, &api, field_version)?;
    if let Some(k) = q.get("sort_key") {
        api.accept(field_version(k))?;
    }
    if q.contains_key("portgroup") {
        api.accept(24)?;
    }
    if q.contains_key("shard") && !api.at_least(82) {
        return Err(BaremetalError::NotAcceptable(
            "Request not acceptable. The minimal required API version should be 1.82".into(),
        ));
    }
    let detail = parse_detail(&q, &api, 43)?;
    let node_ident = match &parent {
        Parent::Node(n) => Some(n.clone()),
        _ => q.get("node_uuid").or(q.get("node")).cloned(),
    };
    if let (Some(n), Parent::All) = (&node_ident, &parent)
        && !q.contains_key("node_uuid")
        && !is_uuid(n)
    {
        api.accept(5)?;
    }
    let pg_ident = match &parent {
        Parent::Portgroup(p) => Some(p.clone()),
        _ => q.get("portgroup").cloned(),
    };
    let (paging, page) = Paging::parse(&q, state.max_limit, SORTABLE, NOT_SORTABLE)?;
    if NOT_SORTABLE.contains(&paging.sort_key.as_str()) {
        return Err(BaremetalError::BadRequest(format!(
            "The sort_key value {} is an invalid field for sorting",
            paging.sort_key
        )));
    }
    let shards = q.get("shard").map(|s| csv(s));
    if [node_ident.is_some(), pg_ident.is_some(), shards.is_some()].iter().filter(|x| **x).count() > 1 {
        return Err(forbidden("filtering by more than one of node, portgroup and shard"));
    }
    let conductor_groups = q.get("conductor_groups").map(|s| csv(s));
    if conductor_groups.is_some() && (node_ident.is_some() || pg_ident.is_some() || address.is_some()) {
        return Err(BaremetalError::BadRequest(
            "Filtering by conductor_groups cannot be combined with node_ident, portgroup_ident, or node address \
             filters."
                .into(),
        ));
    }
    let names = api.at_least(5);
    let ctx = api.ctx.clone();
    let description_contains = q.get("description_contains").cloned();
    let parent2 = parent.clone();
    let ports = state
        .storage()
        .read(move |c| {
            let mut f =
                PortFilter { address, shards, conductor_groups, description_contains, project, ..Default::default() };
            if let Some(ident) = &node_ident {
                let Some(node) = find_node(c, ident, names)? else { return Ok(Err(node_not_found(ident))) };
                // A parent node the caller may not see does not exist for it.
                if matches!(parent2, Parent::Node(_)) && !ctx.allows(NODE_GET, owner_of(&node)) {
                    return Ok(Err(node_not_found(ident)));
                }
                f.node_uuid = Some(node.uuid);
            }
            if let Some(ident) = &pg_ident {
                let missing = || BaremetalError::NotFound(format!("Portgroup {ident} could not be found."));
                let Some(pg) = find_portgroup(c, ident)? else { return Ok(Err(missing())) };
                if matches!(parent2, Parent::Portgroup(_)) {
                    let node = bm::node(c, &pg.node_uuid)?;
                    if !ctx.allows(NODE_GET, owner_of(&node)) {
                        return Ok(Err(missing()));
                    }
                }
                f.portgroup_uuid = Some(pg.uuid);
            }
            Ok(Ok(bm::ports_list(c, &f, &page)?))
        })
        .await??;

    let select = match (&fields, detail_route || detail == Some(true)) {
        (Some(f), _) => Some(f.clone()),
        (None, true) => None,
        (None, false) => Some(vec!["uuid".to_string(), "address".to_string()]),
    };
    let last = ports.last().map(|p| p.uuid.clone());
    let items = ports
        .iter()
        .map(|p| {
            let m = port_json(&state.base, &api, p);
            match &select {
                Some(f) => select_fields(m, f),
                None => Value::Object(m),
            }
        })
        .collect();
    let path = match (&parent, detail_route) {
        (Parent::All, false) => "ports".to_string(),
        (Parent::All, true) => "ports/detail".to_string(),
        (Parent::Node(n), d) => format!("nodes/{n}/ports{}", if d { "/detail" } else { "" }),
        (Parent::Portgroup(p), d) => format!("portgroups/{p}/ports{}", if d { "/detail" } else { "" }),
    };
    let extras = carried(
        &q,
        detail,
        &fields,
        &["node", "node_uuid", "address", "portgroup", "shard", "description_contains", "conductor_groups"],
    );
    Ok(HttpResponse::Ok().json(collection(&state.base, "ports", &path, &paging, items, last, &extras)))
}

/// Lists ports.
#[utoipa::path(get, path = "/v1/ports", tag = "ports", params(PortFilters, PageQuery, FieldsQuery, DetailQuery),
    responses((status = 200, description = "A page of ports (`uuid` and `address` unless `detail` or `fields`).", body = PortList)))]
async fn list_all(api: Api, state: web::Data<BaremetalState>, q: Query) -> Result<HttpResponse> {
    list(api, state, q, Parent::All, false).await
}

/// Lists ports with every field.
#[utoipa::path(get, path = "/v1/ports/detail", tag = "ports", params(PortFilters, PageQuery),
    responses((status = 200, description = "A page of ports with every field.", body = PortList)))]
async fn list_detail(api: Api, state: web::Data<BaremetalState>, q: Query) -> Result<HttpResponse> {
    list(api, state, q, Parent::All, true).await
}

/// Lists the ports of a node.
#[utoipa::path(get, path = "/v1/nodes/{node_ident}/ports", tag = "ports",
    params(("node_ident" = String, Path, description = "A node's UUID or (1.5) name."), PortFilters, PageQuery, FieldsQuery, DetailQuery),
    responses((status = 200, description = "A page of the node's ports (`uuid` and `address` unless `detail` or `fields`).", body = PortList)))]
async fn list_by_node(
    api: Api,
    state: web::Data<BaremetalState>,
    path: web::Path<String>,
    q: Query,
) -> Result<HttpResponse> {
    let node = path.into_inner();
    check_node_ident(&api, &node)?;
    list(api, state, q, Parent::Node(node), false).await
}

/// Lists the ports of a node with every field.
#[utoipa::path(get, path = "/v1/nodes/{node_ident}/ports/detail", tag = "ports",
    params(("node_ident" = String, Path, description = "A node's UUID or (1.5) name."), PortFilters, PageQuery),
    responses((status = 200, description = "A page of the node's ports with every field.", body = PortList)))]
async fn list_by_node_detail(
    api: Api,
    state: web::Data<BaremetalState>,
    path: web::Path<String>,
    q: Query,
) -> Result<HttpResponse> {
    let node = path.into_inner();
    check_node_ident(&api, &node)?;
    list(api, state, q, Parent::Node(node), true).await
}

/// (1.24) Lists the ports of a port group.
#[utoipa::path(get, path = "/v1/portgroups/{portgroup_ident}/ports", tag = "ports",
    params(("portgroup_ident" = String, Path, description = "A port group's UUID or name."), PortFilters, PageQuery, FieldsQuery, DetailQuery),
    responses((status = 200, description = "A page of the port group's ports (`uuid` and `address` unless `detail` or `fields`).", body = PortList)))]
async fn list_by_portgroup(
    api: Api,
    state: web::Data<BaremetalState>,
    path: web::Path<String>,
    q: Query,
) -> Result<HttpResponse> {
    api.require(24)?;
    let pg = path.into_inner();
    check_uuid_or_name("portgroup", &pg)?;
    list(api, state, q, Parent::Portgroup(pg), false).await
}

/// (1.24) Lists the ports of a port group with every field.
#[utoipa::path(get, path = "/v1/portgroups/{portgroup_ident}/ports/detail", tag = "ports",
    params(("portgroup_ident" = String, Path, description = "A port group's UUID or name."), PortFilters, PageQuery),
    responses((status = 200, description = "A page of the port group's ports with every field.", body = PortList)))]
async fn list_by_portgroup_detail(
    api: Api,
    state: web::Data<BaremetalState>,
    path: web::Path<String>,
    q: Query,
) -> Result<HttpResponse> {
    api.require(24)?;
    let pg = path.into_inner();
    check_uuid_or_name("portgroup", &pg)?;
    list(api, state, q, Parent::Portgroup(pg), true).await
}

fn find_port(c: &mut DbConn, ident: &str) -> StorageResult<Option<Port>> {
    if is_uuid(ident) { optional(bm::port(c, ident)) } else { bm::port_by_name(c, ident) }
}

fn port_not_found(ident: &str) -> BaremetalError {
    BaremetalError::NotFound(format!("Port {ident} could not be found."))
}

/// Loads a port and its node for `policy`: a port of a node the caller may
/// not see is not found; one it sees but may not act on is 403.
fn port_for(
    c: &mut DbConn,
    ctx: &AuthContext,
    ident: &str,
    rule: Rule,
    policy: &str,
) -> StorageResult<std::result::Result<(Port, Node), BaremetalError>> {
    let Some(port) = find_port(c, ident)? else { return Ok(Err(port_not_found(ident))) };
    let node = bm::node(c, &port.node_uuid)?;
    if !ctx.allows(NODE_GET, owner_of(&node)) {
        return Ok(Err(port_not_found(ident)));
    }
    if !ctx.allows(rule, owner_of(&node)) {
        return Ok(Err(forbidden(policy)));
    }
    Ok(Ok((port, node)))
}

/// Shows a port.
#[utoipa::path(get, path = "/v1/ports/{port_ident}", tag = "ports",
    params(("port_ident" = String, Path, description = "A port's UUID or (1.88) name (up to 1.90 a `.json` suffix is ignored)."), FieldsQuery),
    responses((status = 200, description = "The port.", body = PortDoc)))]
async fn show(api: Api, state: web::Data<BaremetalState>, path: web::Path<String>, q: Query) -> Result<HttpResponse> {
    let q = q.into_inner();
    only_params(&q, &["fields"])?;
    let ident = strip_json_suffix(&api, &path.into_inner());
    check_uuid_or_name("port_ident", &ident)?;
    let ctx = api.ctx.clone();
    let (port, _) = state.storage().read(move |c| port_for(c, &ctx, &ident, NODE_GET, "baremetal:port:get")).await??;
    let fields = parse_fields(&q, &FIELD_NAMES, &api, field_version)?;
    let m = port_json(&state.base, &api, &port);
    Ok(HttpResponse::Ok().json(match &fields {
        Some(f) => select_fields(m, f),
        None => Value::Object(m),
    }))
}

/// Creates a port.
#[utoipa::path(post, path = "/v1/ports", tag = "ports", request_body = PortCreate,
    responses((status = 201, description = "The new port.", body = PortDoc,
        headers(("Location" = String, description = "The new port's URL.")))))]
async fn create(api: Api, state: web::Data<BaremetalState>, body: web::Bytes) -> Result<HttpResponse> {
    const WHAT: &str = "port";
    let b = body_object(&body, WHAT)?;
    only_keys(&b, POST_KEYS, WHAT)?;
    let address = match b.get("address") {
        Some(Value::String(a)) => check_mac("address", a)?,
        Some(other) => return Err(schema(WHAT, format!("{other} is not of type 'string'"))),
        None => return Err(schema(WHAT, "'address' is a required property")),
    };
    let node_ident = match (b.get("node_uuid"), b.get("node_ident")) {
        (Some(_), Some(_)) => return Err(schema(WHAT, "only one of 'node_uuid' and 'node_ident' may be given")),
        (None, None) => return Err(schema(WHAT, "'node_uuid' or 'node_ident' is a required property")),
        (Some(Value::String(u)), None) => {
            check_uuid("node_uuid", u)?;
            u.clone()
        }
        (None, Some(Value::String(n))) => n.clone(),
        (Some(other), None) | (None, Some(other)) => {
            return Err(schema(WHAT, format!("{other} is not of type 'string'")));
        }
    };
    let is_smartnic = opt_bool(&b, "is_smartnic", WHAT)?;
    let pxe_enabled = opt_bool(&b, "pxe_enabled", WHAT)?;
    let llc_given = b.get("local_link_connection").is_some_and(|v| !v.is_null());
    let llc = local_link(&api, b.get("local_link_connection"))?;
    let physical_network = opt_string(&b, "physical_network", Some(64), WHAT)?;
    let portgroup_uuid = opt_string(&b, "portgroup_uuid", None, WHAT)?;
    if let Some(pg) = &portgroup_uuid {
        check_uuid("portgroup_uuid", pg)?;
    }
    let uuid = opt_string(&b, "uuid", None, WHAT)?;
    if let Some(u) = &uuid {
        check_uuid("uuid", u)?;
    }
    let name = opt_string(&b, "name", None, WHAT)?;
    let description = opt_string(&b, "description", Some(255), WHAT)?;
    let vendor = opt_string(&b, "vendor", Some(32), WHAT)?;
    let category = opt_string(&b, "category", Some(80), WHAT)?;
    let dynamic = match b.get("available_for_dynamic_portgroup") {
        None => true,
        Some(Value::Bool(v)) => *v,
        Some(other) => return Err(schema(WHAT, format!("{other} is not of type 'boolean'"))),
    };
    let extra = opt_object(&b, "extra", WHAT)?;
    if b.contains_key("node_ident") {
        api.accept(94)?;
    }

    let ctx = api.ctx.clone();
    let names = api.at_least(5);
    let version_check = check_field_versions(&api, b.keys().map(String::as_str));
    let port = state
        .storage()
        .write(move |c| {
            let node = find_node(c, &node_ident, names)?;
            let owner = node.as_ref().map(owner_of).unwrap_or_default();
            if !ctx.allows(OWNER_ADMIN, owner) {
                return Ok(Err(forbidden("baremetal:port:create")));
            }
            let Some(node) = node else {
                return Ok(Err(BaremetalError::BadRequest(format!("Node {node_ident} could not be found."))));
            };
            if let Err(e) = version_check {
                return Ok(Err(e));
            }
            let mut portgroup = None;
            if let Some(pg_uuid) = &portgroup_uuid {
                let Some(pg) = optional(bm::portgroup(c, pg_uuid))? else {
                    return Ok(Err(BaremetalError::BadRequest(format!("Portgroup {pg_uuid} could not be found."))));
                };
                if pg.node_uuid != node.uuid {
                    return Ok(Err(BaremetalError::BadRequest(
                        "Port can not be added to a portgroup belonging to a different node.".into(),
                    )));
                }
                portgroup = Some(pg);
            }
            if is_smartnic == Some(true) && llc_given && !(llc.contains_key("port_id") && llc.contains_key("hostname"))
            {
                return Ok(Err(BaremetalError::BadRequest(
                    "Smart NIC port must have port_id and hostname in local_link_connection".into(),
                )));
            }
            if physical_network.as_deref() == Some("") {
                return Ok(Err(BaremetalError::BadRequest(
                    "A non-empty value is required when setting physical_network".into(),
                )));
            }
            if let Some(pg) = &portgroup
                && pxe_enabled == Some(true)
                && !pg.standalone_ports_supported
            {
                return Ok(Err(BaremetalError::Conflict(format!(
                    "Port group {} does not support standalone ports, so a port with pxe_enabled set to True cannot \
                     be added to it.",
                    pg.uuid
                ))));
            }
            let port = Port {
                uuid: uuid.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
                address,
                node_uuid: node.uuid.clone(),
                portgroup_uuid,
                name,
                extra,
                internal_info: "{}".into(),
                local_link_connection: Value::Object(llc).to_string(),
                physical_network,
                pxe_enabled: pxe_enabled.unwrap_or(true),
                is_smartnic: is_smartnic.unwrap_or(false),
                description,
                vendor,
                category,
                available_for_dynamic_portgroup: dynamic,
                created_at: now(),
                updated_at: None,
            };
            if let Err(e) = check_physnet(c, &port)? {
                return Ok(Err(e));
            }
            if let Err(e) = check_unique(c, &port, true)? {
                return Ok(Err(e));
            }
            bm::port_insert(c, &port)?;
            Ok(Ok((port, node)))
        })
        .await??;
    let (port, node) = port;
    state.engine.emit(Event::port(Some(&node), EventKind::PortCreated { port: std::sync::Arc::new(port.clone()) }));
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("{}/v1/ports/{}", state.base, port.uuid)))
        .json(port_json(&state.base, &api, &port)))
}

/// A port as the document a JSON patch applies to (every field, unversioned).
fn patch_doc(p: &Port) -> Value {
    json!({
        "uuid": p.uuid, "address": p.address, "node_uuid": p.node_uuid, "portgroup_uuid": p.portgroup_uuid,
        "name": p.name, "extra": json_text(&p.extra), "internal_info": json_text(&p.internal_info),
        "local_link_connection": json_text(&p.local_link_connection), "physical_network": p.physical_network,
        "pxe_enabled": p.pxe_enabled, "is_smartnic": p.is_smartnic, "description": p.description,
        "vendor": p.vendor, "category": p.category,
        "available_for_dynamic_portgroup": p.available_for_dynamic_portgroup,
    })
}

/// Reads a patched port document back into a row, validating it as
/// Ironic's port schema does.
fn patched_port(api: &Api, old: &Port, doc: &Value) -> Result<Port> {
    const WHAT: &str = "port";
    let Value::Object(d) = doc else { return Err(schema(WHAT, "the port is not an object")) };
    let address = match d.get("address") {
        Some(Value::String(a)) => check_mac("address", a)?,
        None | Some(Value::Null) => return Err(schema(WHAT, "'address' is a required property")),
        Some(other) => return Err(schema(WHAT, format!("{other} is not of type 'string'"))),
    };
    let portgroup_uuid = opt_string(d, "portgroup_uuid", None, WHAT)?;
    if let Some(pg) = &portgroup_uuid {
        check_uuid("portgroup_uuid", pg)?;
    }
    let llc_changed = d.get("local_link_connection") != Some(&json_text(&old.local_link_connection));
    let llc = if llc_changed {
        Value::Object(local_link(api, d.get("local_link_connection"))?).to_string()
    } else {
        old.local_link_connection.clone()
    };
    let dynamic = match d.get("available_for_dynamic_portgroup") {
        Some(Value::Bool(v)) => *v,
        None | Some(Value::Null) => true,
        Some(other) => return Err(schema(WHAT, format!("{other} is not of type 'boolean'"))),
    };
    Ok(Port {
        uuid: old.uuid.clone(),
        address,
        node_uuid: old.node_uuid.clone(),
        portgroup_uuid,
        name: opt_string(d, "name", None, WHAT)?,
        extra: opt_object(d, "extra", WHAT)?,
        internal_info: old.internal_info.clone(),
        local_link_connection: llc,
        physical_network: opt_string(d, "physical_network", Some(64), WHAT)?,
        pxe_enabled: opt_bool(d, "pxe_enabled", WHAT)?.unwrap_or(true),
        is_smartnic: opt_bool(d, "is_smartnic", WHAT)?.unwrap_or(false),
        description: opt_string(d, "description", Some(255), WHAT)?,
        vendor: opt_string(d, "vendor", Some(32), WHAT)?,
        category: opt_string(d, "category", Some(80), WHAT)?,
        available_for_dynamic_portgroup: dynamic,
        created_at: old.created_at,
        updated_at: old.updated_at,
    })
}

/// Updates a port with a JSON patch.
#[utoipa::path(patch, path = "/v1/ports/{port_ident}", tag = "ports",
    params(("port_ident" = String, Path, description = "A port's UUID or (1.88) name (up to 1.90 a `.json` suffix is ignored).")),
    request_body = JsonPatch, responses((status = 200, description = "The updated port.", body = PortDoc)))]
async fn update(
    api: Api,
    state: web::Data<BaremetalState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse> {
    let ident = strip_json_suffix(&api, &path.into_inner());
    check_uuid_or_name("port_ident", &ident)?;
    let roots = patch_roots(&body, PATCH_ALLOWED)?;
    for (root, path, _) in &roots {
        api.accept(field_version(root))?;
        if path == "/local_link_connection/network_type" {
            api.accept(64)?;
        }
    }
    let new_node = patch_values(&body, "/node_uuid").into_iter().next();
    let ctx = api.ctx.clone();
    let api_version = api.version;
    let port = state
        .storage()
        .write(move |c| {
            let api = Api { ctx: ctx.clone(), version: api_version };
            let (old, mut node) = match port_for(c, &ctx, &ident, MEMBER_OR_OWNER_ADMIN, "baremetal:port:update")? {
                Ok(x) => x,
                Err(e) => return Ok(Err(e)),
            };
            if let Some(target) = &new_node {
                node = match relink_node(c, &ctx, &node, target, "node_uuid")? {
                    Ok(n) => n,
                    Err(e) => return Ok(Err(e)),
                };
            }
            let mut doc = patch_doc(&old);
            if let Err(e) = apply_patch(&mut doc, &body, PATCH_ALLOWED, "port") {
                return Ok(Err(e));
            }
            let mut port = match patched_port(&api, &old, &doc) {
                Ok(p) => p,
                Err(e) => return Ok(Err(e)),
            };
            port.node_uuid = node.uuid.clone();
            if port.portgroup_uuid != old.portgroup_uuid
                && let Some(pg_uuid) = &port.portgroup_uuid
            {
                let Some(pg) = optional(bm::portgroup(c, pg_uuid))? else {
                    return Ok(Err(BaremetalError::BadRequest(format!("Portgroup {pg_uuid} could not be found."))));
                };
                if pg.node_uuid != port.node_uuid {
                    return Ok(Err(BaremetalError::BadRequest(
                        "Port can not be added to a portgroup belonging to a different node.".into(),
                    )));
                }
            }
            if node.provision_state == "inspecting" && api.at_least(39) {
                return Ok(Err(BaremetalError::Conflict(format!(
                    "Cannot update port \"{}\" on \"{}\" while it is in state \"inspecting\".",
                    port.uuid, node.uuid
                ))));
            }
            let physnet_changed = port.physical_network != old.physical_network;
            if physnet_changed && port.physical_network.as_deref() == Some("") {
                return Ok(Err(BaremetalError::BadRequest(
                    "A non-empty value is required when setting physical_network".into(),
                )));
            }
            // 1.102+: a member's physical network follows its portgroup's.
            if physnet_changed && api.at_least(102) && old.portgroup_uuid.is_some() && port.portgroup_uuid.is_some() {
                return Ok(Err(BaremetalError::BadRequest(
                    "physical_network cannot be changed while the port belongs to a portgroup.".into(),
                )));
            }
            if let Err(e) = check_unlocked(&node) {
                return Ok(Err(e));
            }
            if port.address != old.address
                && (node.provision_state == "active" || node.instance_uuid.is_some())
                && !node.maintenance
            {
                return Ok(Err(BaremetalError::Conflict(format!(
                    "Cannot update hardware address for port {} as node {} is active or has instance UUID assigned",
                    port.uuid, node.uuid
                ))));
            }
            let connectivity = port.portgroup_uuid != old.portgroup_uuid
                || port.pxe_enabled != old.pxe_enabled
                || port.local_link_connection != old.local_link_connection
                || physnet_changed;
            if connectivity && !CONNECTIVITY_STATES.contains(&node.provision_state.as_str()) && !node.maintenance {
                return Ok(Err(BaremetalError::Conflict(format!(
                    "Port {} can not have any connectivity attributes (portgroup_uuid, pxe_enabled, \
                     local_link_connection, physical_network) updated unless node {} is in a {} state or in \
                     maintenance mode. The current state is {}.",
                    port.uuid,
                    node.uuid,
                    CONNECTIVITY_STATES.join(", "),
                    node.provision_state
                ))));
            }
            if (port.portgroup_uuid != old.portgroup_uuid || physnet_changed)
                && let Err(e) = check_physnet(c, &port)?
            {
                return Ok(Err(e));
            }
            if let Err(e) = check_unique(c, &port, false)? {
                return Ok(Err(e));
            }
            if port != old {
                port.updated_at = Some(now());
                bm::port_update(c, &port)?;
            }
            Ok(Ok((port, old, node)))
        })
        .await??;
    let (port, prior, node) = port;
    state.engine.emit(Event::port(
        Some(&node),
        EventKind::PortUpdated { port: std::sync::Arc::new(port.clone()), prior: std::sync::Arc::new(prior) },
    ));
    Ok(HttpResponse::Ok().json(port_json(&state.base, &api, &port)))
}

/// Deletes a port.
#[utoipa::path(delete, path = "/v1/ports/{port_ident}", tag = "ports",
    params(("port_ident" = uuid::Uuid, Path, description = "The port's UUID (up to 1.90 a `.json` suffix is ignored).")),
    responses((status = 204, description = "Deleted.")))]
async fn delete(api: Api, state: web::Data<BaremetalState>, path: web::Path<String>) -> Result<HttpResponse> {
    let ident = strip_json_suffix(&api, &path.into_inner());
    check_uuid("port_uuid", &ident)?;
    let ctx = api.ctx.clone();
    let port = state
        .storage()
        .write(move |c| {
            let (port, node) = match port_for(c, &ctx, &ident, OWNER_ADMIN, "baremetal:port:delete")? {
                Ok(x) => x,
                Err(e) => return Ok(Err(e)),
            };
            if let Err(e) = check_unlocked(&node) {
                return Ok(Err(e));
            }
            bm::port_delete(c, &port.uuid)?;
            Ok(Ok((port, node)))
        })
        .await??;
    let (port, node) = port;
    state.engine.emit(Event::port(Some(&node), EventKind::PortDeleted { port: std::sync::Arc::new(port) }));
    Ok(HttpResponse::NoContent().finish())
}

pub fn routes(r: &mut Routes) {
    crate::routes!(r;
        list_all | "/v1/ports/", create | "/v1/ports/", list_detail, show, update, delete,
        list_by_node, list_by_node_detail, list_by_portgroup, list_by_portgroup_detail);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::microversion::Version;

    fn api(minor: u16) -> Api {
        Api { ctx: AuthContext::noauth(), version: Version::new(1, minor) }
    }

    #[test]
    fn local_link_rules() {
        let a = api(115);
        let ok = local_link(&a, Some(&json!({"switch_id": "AA:BB:CC:DD:EE:FF", "port_id": "Eth1"}))).unwrap();
        assert_eq!(ok["switch_id"], "aa:bb:cc:dd:ee:ff");
        let dp = local_link(&a, Some(&json!({"switch_id": "ABCDEF0123456789", "port_id": "p"}))).unwrap();
        assert_eq!(dp["switch_id"], "abcdef0123456789");
        assert!(local_link(&a, Some(&json!({}))).unwrap().is_empty());
        assert!(local_link(&a, None).unwrap().is_empty());
        assert!(local_link(&a, Some(&json!({"port_id": "p", "hostname": "h"}))).is_ok());
        assert!(local_link(&a, Some(&json!({"network_type": "unmanaged"}))).is_ok());
        for bad in [
            json!({"foo": "x"}),
            json!({"switch_id": "aa:bb:cc:dd:ee:ff"}),
            json!({"switch_id": "zz", "port_id": "p"}),
            json!({"switch_id": "0xAbCdEf0123456789", "port_id": "p"}),
            json!({"port_id": "p", "switch_id": "aa:bb:cc:dd:ee:ff", "network_type": "foo"}),
            json!({"port_id": 1, "switch_id": "aa:bb:cc:dd:ee:ff"}),
            json!([1]),
        ] {
            assert!(matches!(local_link(&a, Some(&bad)), Err(BaremetalError::BadRequest(_))), "{bad}");
        }
        assert!(matches!(
            local_link(&api(63), Some(&json!({"network_type": "unmanaged"}))),
            Err(BaremetalError::NotAcceptable(_))
        ));
    }

    #[test]
    fn next_links_follow_ironic_order() {
        let paging = Paging { limit: 1, marker: None, sort_key: "id".into(), sort_dir: "asc".into() };
        let extras = vec![("detail".to_string(), "True".to_string()), ("description_contains".into(), "a b&c".into())];
        let body = collection("http://h", "ports", "ports", &paging, vec![json!({})], Some("m1".into()), &extras);
        assert_eq!(
            body["next"],
            "http://h/v1/ports?sort_key=id&sort_dir=asc&detail=True&description_contains=a%20b%26c&limit=1&marker=m1"
        );
        let body = collection("http://h", "ports", "ports", &paging, vec![], None, &extras);
        assert!(body.get("next").is_none());
    }

    #[test]
    fn names_and_idents() {
        assert!(is_logical_name("bad.name_~-1"));
        assert!(!is_logical_name("bad name"));
        assert!(!is_logical_name("52:54:00:aa:bb:01"));
        assert!(check_uuid_or_name("port_ident", "malformed:uuid").is_err());
        assert!(check_uuid("port_uuid", "somename").is_err());
        assert_eq!(check_mac("address", "52-54-00-AA-BB-01").unwrap(), "52:54:00:aa:bb:01");
        assert_eq!(strip_json_suffix(&api(90), "x.json"), "x");
        assert_eq!(strip_json_suffix(&api(91), "x.json"), "x.json");
        assert_eq!(csv("a, b,,c"), vec!["a", "b", "c"]);
    }

    #[test]
    fn versioned_fields_are_hidden() {
        let p = Port {
            name: Some("p".into()),
            local_link_connection: r#"{"port_id":"p","vtep-logical-switch":"l","vtep-physical-switch":"s"}"#.into(),
            ..Port::new("u", "52:54:00:aa:bb:01", "n", chrono::NaiveDateTime::default())
        };
        let old = port_json("http://h", &api(1), &p);
        assert!(!old.contains_key("pxe_enabled") && !old.contains_key("name") && !old.contains_key("portgroup_uuid"));
        assert!(old.contains_key("extra") && old.contains_key("links"));
        let v95 = port_json("http://h", &api(95), &p);
        assert_eq!(v95["local_link_connection"]["vtep-logical-switch"], "l");
        let new = port_json("http://h", &api(115), &p);
        assert_eq!(new["local_link_connection"], json!({}));
        assert_eq!(new.len(), FIELDS.len());
    }
}
