//! `/v1/nodes`: create, list, detail, show, update (JSON patch), delete.

use actix_web::{HttpResponse, web};
use serde_json::{Map, Value, json};

use super::error::{BaremetalError, Result};
use super::openapi::{DetailQuery, FieldsQuery, JsonPatch, Link, PageQuery};
use super::{
    Api, BaremetalState, Paging, Query, apply_patch, body_object, is_uuid, is_valid_name, json_text, only_params,
    parse_bool, parse_fields, select_fields, ts, ts_opt,
};
use crate::common::openapi::Routes;
use crate::common::policy::{Level, Owner, Rule};
use crate::drivers::{self, INTERFACE_KINDS};
use crate::engine::events::NodeAction;
use crate::engine::states::ProvisionState;
use crate::engine::{Event, EventKind};
use crate::storage::DbConn;
use crate::storage::baremetal::{self as bm, Node, NodeFilter};

/// Every node field with the microversion that introduced it, in
/// Ironic's output order.
pub const FIELDS: &[(&str, u16)] = &[
    ("uuid", 1),
    ("created_at", 1),
    ("updated_at", 1),
    ("automated_clean", 47),
    ("bios_interface", 40),
    ("boot_interface", 31),
    ("boot_mode", 75),
    ("clean_step", 7),
    ("conductor_group", 46),
    ("console_enabled", 1),
    ("console_interface", 31),
    ("disable_power_off", 95),
    ("deploy_interface", 31),
    ("deploy_step", 44),
    ("description", 51),
    ("driver", 1),
    ("driver_info", 1),
    ("driver_internal_info", 3),
    ("extra", 1),
    ("fault", 42),
    ("firmware_interface", 86),
    ("health", 109),
    ("inspection_finished_at", 6),
    ("inspection_started_at", 6),
    ("inspect_interface", 31),
    ("instance_info", 1),
    ("instance_name", 104),
    ("instance_uuid", 1),
    ("last_error", 1),
    ("lessee", 65),
    ("maintenance", 1),
    ("maintenance_reason", 1),
    ("management_interface", 31),
    ("name", 5),
    ("network_data", 66),
    ("network_interface", 20),
    ("owner", 50),
    ("parent_node", 83),
    ("power_interface", 31),
    ("power_state", 1),
    ("properties", 1),
    ("protected", 48),
    ("protected_reason", 48),
    ("provision_state", 1),
    ("provision_updated_at", 1),
    ("raid_config", 12),
    ("raid_interface", 31),
    ("rescue_interface", 38),
    ("reservation", 1),
    ("resource_class", 21),
    ("retired", 61),
    ("retired_reason", 61),
    ("secure_boot", 75),
    ("service_step", 87),
    ("shard", 82),
    ("storage_interface", 33),
    ("target_power_state", 1),
    ("target_provision_state", 1),
    ("target_raid_config", 12),
    ("traits", 37),
    ("vendor_interface", 31),
    ("conductor", 49),
    ("allocation_uuid", 52),
    ("chassis_uuid", 1),
];

// ---- documents ----------------------------------------------------------------------------

/// A node: a bare-metal server. A field whose microversion is not 1.1 is
/// named with it; `states`, `portgroups` and `volume` are links from 1.14,
/// 1.24 and 1.32.
#[derive(utoipa::ToSchema)]
#[schema(as = Node)]
#[allow(dead_code)]
pub struct NodeDoc {
    uuid: uuid::Uuid,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: Option<String>,
    /// (1.47) Whether cleaning runs automatically; null for the conductor's default.
    automated_clean: Option<bool>,
    /// (1.40)
    bios_interface: Option<String>,
    /// (1.31)
    boot_interface: Option<String>,
    /// (1.75) `uefi` or `bios`, as last seen.
    boot_mode: Option<String>,
    /// (1.7) The cleaning step in progress (`{}` when none).
    #[schema(value_type = Object)]
    clean_step: Value,
    /// (1.46)
    conductor_group: String,
    console_enabled: bool,
    /// (1.31)
    console_interface: Option<String>,
    /// (1.95)
    disable_power_off: bool,
    /// (1.31)
    deploy_interface: Option<String>,
    /// (1.44) The deploy step in progress (`{}` when none).
    #[schema(value_type = Object)]
    deploy_step: Value,
    /// (1.51)
    description: Option<String>,
    /// The hardware type.
    driver: String,
    /// How to reach the BMC; secrets show as `******`.
    #[schema(value_type = Object)]
    driver_info: Value,
    /// (1.3)
    #[schema(value_type = Object)]
    driver_internal_info: Value,
    #[schema(value_type = Object)]
    extra: Value,
    /// (1.42) Why the node was put in maintenance by the conductor.
    fault: Option<String>,
    /// (1.86)
    firmware_interface: Option<String>,
    /// (1.109)
    health: Option<String>,
    /// (1.6)
    #[schema(format = DateTime)]
    inspection_finished_at: Option<String>,
    /// (1.6)
    #[schema(format = DateTime)]
    inspection_started_at: Option<String>,
    /// (1.31)
    inspect_interface: Option<String>,
    /// What the deployment uses; secrets show as `******`.
    #[schema(value_type = Object)]
    instance_info: Value,
    /// (1.104)
    instance_name: Option<String>,
    instance_uuid: Option<String>,
    last_error: Option<String>,
    /// (1.65)
    lessee: Option<String>,
    maintenance: bool,
    maintenance_reason: Option<String>,
    /// (1.31)
    management_interface: Option<String>,
    /// (1.5)
    name: Option<String>,
    /// (1.66)
    #[schema(value_type = Object)]
    network_data: Value,
    /// (1.20)
    network_interface: Option<String>,
    /// (1.50)
    owner: Option<String>,
    /// (1.83)
    parent_node: Option<String>,
    /// (1.31)
    power_interface: Option<String>,
    /// `power on`, `power off` or null when unknown.
    power_state: Option<String>,
    #[schema(value_type = Object)]
    properties: Value,
    /// (1.48)
    protected: bool,
    /// (1.48)
    protected_reason: Option<String>,
    /// Null for `available` below 1.2.
    provision_state: Option<String>,
    #[schema(format = DateTime)]
    provision_updated_at: Option<String>,
    /// (1.12)
    #[schema(value_type = Object)]
    raid_config: Value,
    /// (1.31)
    raid_interface: Option<String>,
    /// (1.38)
    rescue_interface: Option<String>,
    /// The conductor holding the node's lock.
    reservation: Option<String>,
    /// (1.21)
    resource_class: Option<String>,
    /// (1.61)
    retired: bool,
    /// (1.61)
    retired_reason: Option<String>,
    /// (1.75)
    secure_boot: Option<bool>,
    /// (1.87) The service step in progress (`{}` when none).
    #[schema(value_type = Object)]
    service_step: Value,
    /// (1.82)
    shard: Option<String>,
    /// (1.33)
    storage_interface: Option<String>,
    target_power_state: Option<String>,
    target_provision_state: Option<String>,
    /// (1.12)
    #[schema(value_type = Object)]
    target_raid_config: Value,
    /// (1.37)
    traits: Vec<String>,
    /// (1.31)
    vendor_interface: Option<String>,
    /// (1.49) The conductor serving the node.
    conductor: String,
    /// (1.52)
    allocation_uuid: Option<String>,
    chassis_uuid: Option<String>,
    links: Vec<Link>,
    /// Links to the node's ports.
    ports: Vec<Link>,
    /// (1.14) Links to the node's states.
    states: Vec<Link>,
    /// (1.24) Links to the node's port groups.
    portgroups: Vec<Link>,
    /// (1.32) Links to the node's volume resources.
    volume: Vec<Link>,
}

/// A page of nodes; `next` is the next page's URL when this one is full.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct NodeList {
    nodes: Vec<NodeDoc>,
    #[serde(default)]
    next: String,
}

/// A new node. A field whose microversion is not 1.1 is named with it and
/// refused (406) below it; interfaces default to the hardware type's.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct NodeCreate {
    uuid: Option<uuid::Uuid>,
    /// (1.5) A logical name (unique; not a UUID, nor a reserved word).
    #[schema(max_length = 255, pattern = "^[A-Za-z0-9._~-]+$")]
    name: Option<String>,
    #[schema(inline)]
    driver: HardwareType,
    #[schema(value_type = Option<Object>)]
    driver_info: Option<Value>,
    #[schema(value_type = Option<Object>)]
    properties: Option<Value>,
    #[schema(value_type = Option<Object>)]
    extra: Option<Value>,
    #[schema(value_type = Option<Object>)]
    instance_info: Option<Value>,
    instance_uuid: Option<uuid::Uuid>,
    chassis_uuid: Option<uuid::Uuid>,
    maintenance: Option<bool>,
    console_enabled: Option<bool>,
    /// (1.20)
    network_interface: Option<String>,
    /// (1.21)
    #[schema(max_length = 80)]
    resource_class: Option<String>,
    /// (1.31)
    boot_interface: Option<String>,
    /// (1.31)
    console_interface: Option<String>,
    /// (1.31)
    deploy_interface: Option<String>,
    /// (1.31)
    inspect_interface: Option<String>,
    /// (1.31)
    management_interface: Option<String>,
    /// (1.31)
    power_interface: Option<String>,
    /// (1.31)
    raid_interface: Option<String>,
    /// (1.31)
    vendor_interface: Option<String>,
    /// (1.33)
    storage_interface: Option<String>,
    /// (1.38)
    rescue_interface: Option<String>,
    /// (1.40)
    bios_interface: Option<String>,
    /// (1.46) Letters, digits, `.`, `_` and `-`.
    #[schema(max_length = 255, pattern = "^[A-Za-z0-9._-]*$")]
    conductor_group: Option<String>,
    /// (1.47)
    automated_clean: Option<bool>,
    /// (1.50) A project caller may only name its own project.
    #[schema(max_length = 255)]
    owner: Option<String>,
    /// (1.51)
    #[schema(max_length = 4096)]
    description: Option<String>,
    /// (1.61)
    retired: Option<bool>,
    /// (1.61)
    #[schema(max_length = 255)]
    retired_reason: Option<String>,
    /// (1.65)
    #[schema(max_length = 255)]
    lessee: Option<String>,
    /// (1.66)
    #[schema(value_type = Option<Object>)]
    network_data: Option<Value>,
    /// (1.75)
    #[schema(max_length = 255)]
    boot_mode: Option<String>,
    /// (1.75)
    secure_boot: Option<bool>,
    /// (1.82)
    #[schema(max_length = 255)]
    shard: Option<String>,
    /// (1.83) The parent node (UUID or name).
    #[schema(max_length = 36)]
    parent_node: Option<String>,
    /// (1.86)
    firmware_interface: Option<String>,
    /// (1.95)
    disable_power_off: Option<bool>,
    /// (1.104)
    #[schema(max_length = 255)]
    instance_name: Option<String>,
}

/// The hardware type of a node: one this conductor serves (another is
/// refused with 400).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub enum HardwareType {
    #[schema(rename = "fake-hardware")]
    FakeHardware,
    #[schema(rename = "ipmi")]
    Ipmi,
    #[schema(rename = "redfish")]
    Redfish,
}

/// The filters of a node listing; each named with the microversion that
/// introduced it where it is not 1.1 (406 below it).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct NodeFilterQuery {
    /// Only nodes with (true) or without (false) an instance.
    associated: Option<bool>,
    maintenance: Option<bool>,
    /// (1.61)
    retired: Option<bool>,
    /// (1.9)
    provision_state: Option<String>,
    /// (1.16)
    driver: Option<String>,
    /// (1.21)
    resource_class: Option<String>,
    /// (1.42) `power failure`, `clean failure`, `rescue abort failure` or `service failure`.
    fault: Option<String>,
    /// (1.46)
    conductor_group: Option<String>,
    /// (1.49) The conductor's host name.
    conductor: Option<String>,
    /// (1.50)
    owner: Option<String>,
    /// (1.65)
    lessee: Option<String>,
    /// (1.65) Nodes the project owns or leases.
    project: Option<String>,
    /// (1.51)
    description_contains: Option<String>,
    /// (1.82) Comma-separated shards.
    shard: Option<String>,
    /// (1.82) Only nodes with (true) or without (false) a shard.
    sharded: Option<bool>,
    /// (1.83) Child nodes too.
    include_children: Option<bool>,
    /// (1.83)
    parent_node: Option<String>,
    instance_uuid: Option<String>,
    /// (1.104)
    instance_name: Option<String>,
    chassis_uuid: Option<String>,
}

/// `reset_interfaces` (1.45): with a driver change, reset the interfaces
/// not given to the new hardware type's defaults.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ResetInterfacesQuery {
    reset_interfaces: Option<bool>,
}

fn field_gate(name: &str) -> u16 {
    FIELDS.iter().find(|(f, _)| *f == name).map_or(1, |(_, v)| *v)
}

fn interface_gate(kind: &str) -> u16 {
    field_gate(&format!("{kind}_interface"))
}

/// Names a node may not take: the words of its own sub-resources.
const RESERVED_NAMES: &[&str] = &["maintenance", "management", "states", "vendor_passthru", "validate", "detail"];

/// `driver_info` / `instance_info` keys whose values are never shown.
fn is_secret(key: &str) -> bool {
    crate::drivers::credentials::is_secret(key) || key.to_ascii_lowercase().contains("configdrive")
}

pub(super) fn masked(text: &str, extra_keys: &[&str]) -> Value {
    let mut v = json_text(text);
    if let Value::Object(m) = &mut v {
        for (k, val) in m.iter_mut() {
            if (is_secret(k) || extra_keys.contains(&k.as_str())) && !val.is_null() {
                *val = Value::String("******".into());
            }
        }
    }
    v
}

fn opt(s: &Option<String>) -> Value {
    s.as_ref().map_or(Value::Null, |v| Value::String(v.clone()))
}

/// Provision states as clients of old microversions expect them.
fn legacy_state(state: &str, api: &Api) -> Value {
    if !api.at_least(2) && state == "available" {
        return Value::Null;
    }
    if !api.at_least(39) && state == "inspect wait" {
        return Value::String("inspecting".into());
    }
    Value::String(state.into())
}

/// The full node document at the newest microversion, secrets unmasked:
/// what PATCH operates on.
fn raw_doc(n: &Node) -> Map<String, Value> {
    let ifaces = json_text(&n.interfaces);
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_string(), v);
    };
    put("uuid", json!(n.uuid));
    put("name", opt(&n.name));
    put("driver", json!(n.driver));
    put("driver_info", json_text(&n.driver_info));
    put("driver_internal_info", json_text(&n.driver_internal_info));
    put("properties", json_text(&n.properties));
    put("extra", json_text(&n.extra));
    put("instance_info", json_text(&n.instance_info));
    put("instance_uuid", opt(&n.instance_uuid));
    put("instance_name", opt(&n.instance_name));
    put("chassis_uuid", opt(&n.chassis_uuid));
    put("maintenance", json!(n.maintenance));
    put("resource_class", opt(&n.resource_class));
    put("conductor_group", json!(n.conductor_group));
    put("automated_clean", json!(n.automated_clean));
    put("protected", json!(n.protected));
    put("protected_reason", opt(&n.protected_reason));
    put("owner", opt(&n.owner));
    put("lessee", opt(&n.lessee));
    put("description", opt(&n.description));
    put("retired", json!(n.retired));
    put("retired_reason", opt(&n.retired_reason));
    put("network_data", json_text(&n.network_data));
    put("shard", opt(&n.shard));
    put("parent_node", opt(&n.parent_node));
    put("disable_power_off", json!(n.disable_power_off));
    for kind in INTERFACE_KINDS {
        put(&format!("{kind}_interface"), ifaces.get(kind).cloned().unwrap_or(Value::Null));
    }
    m
}

/// A node as the API shows it at the request's microversion.
pub fn render(state: &BaremetalState, n: &Node, api: &Api) -> Map<String, Value> {
    let raw = raw_doc(n);
    let mut full = Map::new();
    for (name, gate) in FIELDS {
        if !api.at_least(*gate) {
            continue;
        }
        let v = match *name {
            "created_at" => ts(&n.created_at),
            "updated_at" => ts_opt(&n.updated_at),
            "provision_updated_at" => ts_opt(&n.provision_updated_at),
            "inspection_started_at" => ts_opt(&n.inspection_started_at),
            "inspection_finished_at" => ts_opt(&n.inspection_finished_at),
            "driver_info" => masked(&n.driver_info, &[]),
            "instance_info" => masked(&n.instance_info, &["image_url"]),
            // The agent's token is its proof of identity: never shown.
            "driver_internal_info" => {
                let mut v = json_text(&n.driver_internal_info);
                if let Some(t) = v.get_mut("agent_secret_token").filter(|t| !t.is_null()) {
                    *t = Value::String("******".into());
                }
                v
            }
            "provision_state" => legacy_state(&n.provision_state, api),
            "target_provision_state" => {
                n.target_provision_state.as_deref().map_or(Value::Null, |t| legacy_state(t, api))
            }
            "power_state" => opt(&n.power_state),
            "target_power_state" => opt(&n.target_power_state),
            "maintenance_reason" => opt(&n.maintenance_reason),
            "fault" => opt(&n.fault),
            "reservation" => opt(&n.reservation),
            "last_error" => opt(&n.last_error),
            "console_enabled" => json!(n.console_enabled),
            "boot_mode" => opt(&n.boot_mode),
            "secure_boot" => json!(n.secure_boot),
            "clean_step" => json_text(&n.clean_step),
            "deploy_step" => json_text(&n.deploy_step),
            "service_step" => json_text(&n.service_step),
            "raid_config" => json_text(&n.raid_config),
            "target_raid_config" => json_text(&n.target_raid_config),
            "traits" => serde_json::from_str(&n.traits).unwrap_or_else(|_| json!([])),
            "health" => opt(&n.health),
            "conductor" => json!(state.engine.host()),
            "allocation_uuid" => opt(&n.allocation_uuid),
            other => raw.get(other).cloned().unwrap_or(Value::Null),
        };
        full.insert(name.to_string(), v);
    }
    full.insert("links".into(), state.links("nodes", &n.uuid));
    let sub = |what: &str| {
        json!([{"href": format!("{}/v1/nodes/{}/{what}", state.base, n.uuid), "rel": "self"},
               {"href": format!("{}/nodes/{}/{what}", state.base, n.uuid), "rel": "bookmark"}])
    };
    full.insert("ports".into(), sub("ports"));
    if api.at_least(14) {
        full.insert("states".into(), sub("states"));
    }
    if api.at_least(24) {
        full.insert("portgroups".into(), sub("portgroups"));
    }
    if api.at_least(32) {
        full.insert("volume".into(), sub("volume"));
    }
    full
}

/// What a project-scoped caller may see of a node it neither owns nor leases:
/// nothing (404, the node is concealed).
fn can_see(api: &Api, n: &Node) -> bool {
    api.ctx.allows(
        Rule { system: Level::Reader, project: Some(Level::Reader), lessee: Some(Level::Reader) },
        Owner { owner: n.owner.as_deref(), lessee: n.lessee.as_deref() },
    )
}

/// Resolves `{node}` in a path: a UUID, or a name from 1.5 on (a `.json`
/// suffix is ignored below 1.91).
pub fn find_node(c: &mut DbConn, ident: &str, api: &Api) -> Result<Node> {
    let ident = match ident.strip_suffix(".json") {
        Some(s) if !api.at_least(91) => s,
        _ => ident,
    };
    if is_uuid(ident) {
        let id = uuid::Uuid::parse_str(ident).map(|u| u.to_string()).unwrap_or_default();
        return Ok(bm::node(c, &id)?);
    }
    if !api.at_least(5) || !is_valid_name(ident) {
        return Err(BaremetalError::BadRequest(format!("Expected UUID or name for node: {ident}")));
    }
    bm::node_by_name(c, ident)?.ok_or_else(|| BaremetalError::NotFound(format!("Node {ident} could not be found.")))
}

/// Loads a node the caller may see; 404 otherwise.
pub async fn load_visible(state: &BaremetalState, ident: &str, api: &Api) -> Result<Node> {
    let ident = ident.to_string();
    let ver = Api { ctx: api.ctx.clone(), version: api.version };
    let n = state.storage().read(move |c| Ok(find_node(c, &ident, &ver))).await??;
    if !can_see(api, &n) {
        return Err(BaremetalError::NotFound(format!("Node {} could not be found.", n.uuid)));
    }
    Ok(n)
}

// ---- list ---------------------------------------------------------------------------

const SORTABLE: &[(&str, &str)] = &[
    ("id", "id"),
    ("uuid", "uuid"),
    ("name", "COALESCE(name, '')"),
    ("created_at", "created_at"),
    ("updated_at", "COALESCE(updated_at, created_at)"),
    ("provision_state", "provision_state"),
    ("power_state", "COALESCE(power_state, '')"),
    ("target_provision_state", "COALESCE(target_provision_state, '')"),
    ("target_power_state", "COALESCE(target_power_state, '')"),
    ("provision_updated_at", "COALESCE(provision_updated_at, created_at)"),
    ("driver", "driver"),
    ("instance_uuid", "COALESCE(instance_uuid, '')"),
    ("maintenance", "maintenance"),
    ("resource_class", "COALESCE(resource_class, '')"),
    ("conductor_group", "conductor_group"),
    ("owner", "COALESCE(owner, '')"),
    ("lessee", "COALESCE(lessee, '')"),
    ("chassis_uuid", "COALESCE(chassis_uuid, '')"),
    ("reservation", "COALESCE(reservation, '')"),
    ("description", "COALESCE(description, '')"),
    ("shard", "COALESCE(shard, '')"),
    ("retired", "retired"),
    ("protected", "protected"),
];

const NOT_SORTABLE: &[&str] = &[
    "properties",
    "driver_info",
    "extra",
    "instance_info",
    "driver_internal_info",
    "clean_step",
    "deploy_step",
    "raid_config",
    "target_raid_config",
    "traits",
    "network_data",
    "service_step",
];

/// The fields of a plain (non-detail) listing.
const DEFAULT_LIST_FIELDS: &[&str] =
    &["uuid", "instance_uuid", "maintenance", "power_state", "provision_state", "name"];

const LIST_PARAMS: &[&str] = &[
    "limit",
    "marker",
    "sort_key",
    "sort_dir",
    "fields",
    "detail",
    "associated",
    "maintenance",
    "retired",
    "provision_state",
    "driver",
    "resource_class",
    "fault",
    "conductor_group",
    "conductor",
    "owner",
    "lessee",
    "project",
    "description_contains",
    "shard",
    "sharded",
    "include_children",
    "parent_node",
    "instance_uuid",
    "instance_name",
    "chassis_uuid",
];

/// A list filter, the query pairs to carry into `next` links, and whether
/// any node can match at all.
type ListFilter = (NodeFilter, Vec<(String, String)>, bool);

fn filter_from(q: &std::collections::HashMap<String, String>, api: &Api, host: &str) -> Result<ListFilter> {
    let mut f = NodeFilter::default();
    let mut carry = Vec::new();
    let mut s = |k: &str, gate: u16| -> Result<Option<String>> {
        match q.get(k) {
            Some(v) => {
                api.accept(gate)?;
                carry.push((k.to_string(), v.clone()));
                Ok(Some(v.clone()))
            }
            None => Ok(None),
        }
    };
    f.associated = s("associated", 1)?.map(|v| parse_bool("associated", &v)).transpose()?;
    f.maintenance = s("maintenance", 1)?.map(|v| parse_bool("maintenance", &v)).transpose()?;
    f.retired = s("retired", 61)?.map(|v| parse_bool("retired", &v)).transpose()?;
    f.provision_state = s("provision_state", 9)?;
    if let Some(p) = &f.provision_state
        && p.parse::<ProvisionState>().is_err()
    {
        return Err(BaremetalError::BadRequest(format!("Provision state \"{p}\" is not valid")));
    }
    f.driver = s("driver", 16)?;
    f.resource_class = s("resource_class", 21)?;
    f.fault = s("fault", 42)?;
    if let Some(v) = &f.fault {
        const FAULTS: [&str; 4] = ["power failure", "clean failure", "rescue abort failure", "service failure"];
        if !FAULTS.contains(&v.as_str()) {
            return Err(BaremetalError::BadRequest(format!(
                "Unrecognized fault \"{v}\" is specified, allowed faults are {}",
                FAULTS.map(|x| format!("'{x}'")).join(", ")
            )));
        }
    }
    f.conductor_group = s("conductor_group", 46)?;
    let conductor = s("conductor", 49)?;
    f.owner = s("owner", 50)?;
    f.description_contains = s("description_contains", 51)?;
    f.lessee = s("lessee", 65)?;
    f.project = s("project", 65)?;
    f.shards = s("shard", 82)?.map(|v| v.split(',').map(|x| x.trim().to_string()).collect());
    f.sharded = s("sharded", 82)?.map(|v| parse_bool("sharded", &v)).transpose()?;
    f.include_children =
        s("include_children", 83)?.map(|v| parse_bool("include_children", &v)).transpose()?.unwrap_or(false);
    f.parent_node = s("parent_node", 83)?;
    f.instance_name = s("instance_name", 104)?;
    f.instance_uuid = s("instance_uuid", 1)?;
    f.chassis_uuid = s("chassis_uuid", 1)?;
    // Every node is served by this process's conductor: another name matches none.
    let matches_conductor = conductor.is_none_or(|c| c == host);
    Ok((f, carry, matches_conductor))
}

async fn list_nodes(state: &BaremetalState, api: &Api, q: &Query, detail: bool, path: &str) -> Result<HttpResponse> {
    only_params(q, LIST_PARAMS)?;
    let detail = detail
        || match q.get("detail") {
            Some(d) => {
                api.accept(43)?;
                parse_bool("detail", d)?
            }
            None => false,
        };
    let known: Vec<&str> = FIELDS.iter().map(|(f, _)| *f).collect();
    let fields = parse_fields(q, &known, api, field_gate)?;
    if detail && fields.is_some() {
        return Err(BaremetalError::BadRequest("Can not specify ?detail=True and fields in the same request.".into()));
    }
    let (mut filter, mut carry, any_match) = filter_from(q, api, state.engine.host())?;
    let (paging, page) = Paging::parse(q, state.max_limit, SORTABLE, NOT_SORTABLE)?;
    // Project-scoped callers see only what they own or lease.
    if !api.ctx.noauth && api.ctx.system_level().is_none() {
        match &api.ctx.project_id {
            Some(p) => filter.project = Some(p.clone()),
            None => return Err(BaremetalError::Forbidden("baremetal:node:list".into())),
        }
    }
    let nodes =
        if any_match { state.storage().read(move |c| bm::nodes_list(c, &filter, &page)).await? } else { Vec::new() };
    let items: Vec<Value> = nodes
        .iter()
        .map(|n| {
            let full = render(state, n, api);
            match (&fields, detail) {
                (Some(f), _) => select_fields(full, f),
                (None, true) => Value::Object(full),
                (None, false) => {
                    let f: Vec<String> = DEFAULT_LIST_FIELDS
                        .iter()
                        .filter(|k| api.at_least(field_gate(k)))
                        .map(|s| s.to_string())
                        .collect();
                    select_fields(full, &f)
                }
            }
        })
        .collect();
    if let Some(f) = &fields {
        carry.push(("fields".into(), f.join(",")));
    }
    let last = nodes.last().map(|n| n.uuid.clone());
    Ok(HttpResponse::Ok().json(paging.collection(state, "nodes", path, items, last.as_deref(), &carry)))
}

/// Lists nodes.
#[utoipa::path(get, path = "/v1/nodes", tag = "nodes", params(PageQuery, FieldsQuery, DetailQuery, NodeFilterQuery),
    responses((status = 200, description = "A page of nodes (uuid, instance_uuid, maintenance, power_state, \
        provision_state and name unless `detail` or `fields`).", body = NodeList)))]
async fn list(api: Api, q: Query, state: web::Data<BaremetalState>) -> Result<HttpResponse> {
    list_nodes(&state, &api, &q, false, "nodes").await
}

/// Lists nodes with every field.
#[utoipa::path(get, path = "/v1/nodes/detail", tag = "nodes", params(PageQuery, NodeFilterQuery),
    responses((status = 200, description = "A page of nodes with every field.", body = NodeList)))]
async fn detail(api: Api, q: Query, state: web::Data<BaremetalState>) -> Result<HttpResponse> {
    if q.contains_key("detail") {
        return Err(BaremetalError::BadRequest("Unexpected arguments: detail".into()));
    }
    list_nodes(&state, &api, &q, true, "nodes/detail").await
}

/// Shows a node.
#[utoipa::path(get, path = "/v1/nodes/{node}", tag = "nodes", params(("node" = String, Path, description = NODE), FieldsQuery),
    responses((status = 200, description = "The node.", body = NodeDoc)))]
async fn show(api: Api, path: web::Path<String>, q: Query, state: web::Data<BaremetalState>) -> Result<HttpResponse> {
    only_params(&q, &["fields"])?;
    let known: Vec<&str> = FIELDS.iter().map(|(f, _)| *f).collect();
    let fields = parse_fields(&q, &known, &api, field_gate)?;
    let n = load_visible(&state, &path, &api).await?;
    let full = render(&state, &n, &api);
    Ok(HttpResponse::Ok().json(match fields {
        Some(f) => select_fields(full, &f),
        None => Value::Object(full),
    }))
}

// ---- create ------------------------------------------------------------------------

/// Create-body fields with their microversions.
const CREATE_FIELDS: &[(&str, u16)] = &[
    ("uuid", 1),
    ("name", 5),
    ("driver", 1),
    ("driver_info", 1),
    ("properties", 1),
    ("extra", 1),
    ("instance_info", 1),
    ("instance_uuid", 1),
    ("chassis_uuid", 1),
    ("maintenance", 1),
    ("console_enabled", 1),
    ("network_interface", 20),
    ("resource_class", 21),
    ("boot_interface", 31),
    ("console_interface", 31),
    ("deploy_interface", 31),
    ("inspect_interface", 31),
    ("management_interface", 31),
    ("power_interface", 31),
    ("raid_interface", 31),
    ("vendor_interface", 31),
    ("storage_interface", 33),
    ("rescue_interface", 38),
    ("bios_interface", 40),
    ("conductor_group", 46),
    ("automated_clean", 47),
    ("owner", 50),
    ("description", 51),
    ("retired", 61),
    ("retired_reason", 61),
    ("lessee", 65),
    ("network_data", 66),
    ("boot_mode", 75),
    ("secure_boot", 75),
    ("shard", 82),
    ("parent_node", 83),
    ("firmware_interface", 86),
    ("disable_power_off", 95),
    ("instance_name", 104),
];

/// Fields PATCH may change.
const PATCHABLE: &[&str] = &[
    "automated_clean",
    "bios_interface",
    "boot_interface",
    "chassis_uuid",
    "conductor_group",
    "console_interface",
    "deploy_interface",
    "description",
    "disable_power_off",
    "driver",
    "driver_info",
    "extra",
    "inspect_interface",
    "instance_info",
    "instance_name",
    "instance_uuid",
    "lessee",
    "maintenance",
    "management_interface",
    "name",
    "network_data",
    "network_interface",
    "owner",
    "power_interface",
    "properties",
    "protected",
    "protected_reason",
    "raid_interface",
    "rescue_interface",
    "resource_class",
    "retired",
    "retired_reason",
    "shard",
    "storage_interface",
    "vendor_interface",
    "parent_node",
    "firmware_interface",
];

fn str_field(m: &Map<String, Value>, k: &str, max: usize) -> Result<Option<String>> {
    match m.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.chars().count() <= max => Ok(Some(s.clone())),
        Some(Value::String(_)) => Err(BaremetalError::BadRequest(format!("Schema error for node: '{k}' is too long"))),
        Some(other) => {
            Err(BaremetalError::BadRequest(format!("Schema error for node: {other} is not of type 'string'")))
        }
    }
}

fn bool_field(m: &Map<String, Value>, k: &str) -> Result<Option<bool>> {
    match m.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) => parse_bool(k, s).map(Some),
        Some(other) => {
            Err(BaremetalError::BadRequest(format!("Schema error for node: {other} is not of type 'boolean'")))
        }
    }
}

/// `driver_info` of a request, its secrets sealed for storage.
fn sealed_info(state: &BaremetalState, m: &Map<String, Value>) -> Result<String> {
    dict_field(m, "driver_info")?;
    let mut info = m.get("driver_info").and_then(Value::as_object).cloned().unwrap_or_default();
    state.engine.seal_driver_info(&mut info);
    Ok(Value::Object(info).to_string())
}

fn dict_field(m: &Map<String, Value>, k: &str) -> Result<Option<String>> {
    match m.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(v @ Value::Object(_)) => Ok(Some(v.to_string())),
        Some(other) => {
            Err(BaremetalError::BadRequest(format!("Schema error for node: {other} is not of type 'object'")))
        }
    }
}

fn check_name(name: &str) -> Result<()> {
    if !is_valid_name(name) {
        return Err(BaremetalError::BadRequest(format!("Cannot use invalid name '{name}' for a node.")));
    }
    if RESERVED_NAMES.contains(&name) {
        return Err(BaremetalError::BadRequest(format!(
            "The word \"{name}\" is reserved and can not be used as a node name. Reserved words are: {}.",
            RESERVED_NAMES.join(", ")
        )));
    }
    Ok(())
}

fn check_resource_class(rc: &Option<String>) -> Result<()> {
    if let Some(r) = rc
        && r.chars().count() > 80
    {
        return Err(BaremetalError::BadRequest("Schema error for node: 'resource_class' is too long".into()));
    }
    Ok(())
}

fn check_conductor_group(g: &str) -> Result<String> {
    if g.len() > 255 || !g.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')) {
        return Err(BaremetalError::BadRequest(format!("Invalid conductor group {g}")));
    }
    Ok(g.to_lowercase())
}

/// Checks a node's interfaces against its hardware type; fills defaults.
fn settle_interfaces(driver: &str, given: &Map<String, Value>, current: Option<&Map<String, Value>>) -> Result<String> {
    let hw = drivers::hardware_info(driver).ok_or_else(|| no_driver(driver))?;
    let mut out = Map::new();
    for kind in INTERFACE_KINDS {
        let key = format!("{kind}_interface");
        let chosen = match given.get(&key) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Null) | None => current.and_then(|c| c.get(kind)).and_then(Value::as_str).map(str::to_string),
            Some(other) => {
                return Err(BaremetalError::BadRequest(format!(
                    "Schema error for node: {other} is not of type 'string'"
                )));
            }
        };
        let name = match chosen {
            Some(n) if hw.enabled(kind).contains(&n.as_str()) => n,
            Some(n) => {
                return Err(BaremetalError::BadRequest(format!(
                    "Interface {n} is not enabled for the {kind} interface of hardware type {driver}; enabled: {}",
                    hw.enabled(kind).join(", ")
                )));
            }
            None => hw.default_interface(kind).unwrap_or("").to_string(),
        };
        out.insert(kind.to_string(), Value::String(name));
    }
    Ok(Value::Object(out).to_string())
}

fn no_driver(driver: &str) -> BaremetalError {
    BaremetalError::BadRequest(format!(
        "No valid host was found. Reason: No conductor service registered which supports driver {driver} for \
         conductor group \"\"."
    ))
}

/// Enrols a node (in `enroll` from 1.11, `available` before).
#[utoipa::path(post, path = "/v1/nodes", tag = "nodes", request_body = NodeCreate,
    responses((status = 201, description = "The new node.", body = NodeDoc)))]
async fn create(api: Api, body: web::Bytes, state: web::Data<BaremetalState>) -> Result<HttpResponse> {
    let m = body_object(&body, "node")?;
    let mut unknown: Vec<&String> = m.keys().filter(|k| !CREATE_FIELDS.iter().any(|(f, _)| f == k)).collect();
    if !unknown.is_empty() {
        unknown.sort();
        return Err(BaremetalError::BadRequest(format!(
            "Schema error for node: Additional properties are not allowed ('{}' was unexpected)",
            unknown[0]
        )));
    }
    for (k, gate) in CREATE_FIELDS {
        if m.contains_key(*k) && !api.at_least(*gate) {
            return Err(BaremetalError::not_acceptable());
        }
    }
    let driver = str_field(&m, "driver", 255)?
        .ok_or_else(|| BaremetalError::BadRequest("Schema error for node: 'driver' is a required property".into()))?;
    if drivers::hardware_info(&driver).is_none() {
        return Err(no_driver(&driver));
    }
    // A project caller may enrol only nodes it will own (admin of its project).
    let owner = str_field(&m, "owner", 255)?;
    let system_ok = api.ctx.allows(Rule::SYSTEM_ADMIN, Owner::default());
    let owner = if system_ok {
        owner
    } else if api.ctx.has_role("admin") && api.ctx.project_id.is_some() {
        if owner.is_some() && owner != api.ctx.project_id {
            return Err(BaremetalError::Forbidden("baremetal:node:create".into()));
        }
        api.ctx.project_id.clone()
    } else {
        return Err(BaremetalError::Forbidden("baremetal:node:create".into()));
    };
    let uuid = match str_field(&m, "uuid", 36)? {
        Some(u) if is_uuid(&u) => uuid::Uuid::parse_str(&u).map(|x| x.to_string()).unwrap_or(u),
        Some(u) => return Err(BaremetalError::BadRequest(format!("Expected UUID for uuid: {u}"))),
        None => uuid::Uuid::new_v4().to_string(),
    };
    let name = str_field(&m, "name", 255)?;
    if let Some(n) = &name {
        check_name(n)?;
    }
    let resource_class = str_field(&m, "resource_class", 80)?;
    check_resource_class(&resource_class)?;
    let instance_uuid = match str_field(&m, "instance_uuid", 36)? {
        Some(i) if !is_uuid(&i) => {
            return Err(BaremetalError::BadRequest(format!("Expected UUID for instance_uuid: {i}")));
        }
        other => other,
    };
    let conductor_group = check_conductor_group(&str_field(&m, "conductor_group", 255)?.unwrap_or_default())?;
    let interfaces = settle_interfaces(&driver, &m, None)?;
    let now = chrono::Utc::now().naive_utc();
    let initial = if api.at_least(11) { ProvisionState::Enroll } else { ProvisionState::Available };
    let node = Node {
        uuid,
        row_version: 0,
        name,
        driver,
        driver_info: sealed_info(&state, &m)?,
        driver_internal_info: "{}".into(),
        properties: dict_field(&m, "properties")?.unwrap_or_else(|| "{}".into()),
        extra: dict_field(&m, "extra")?.unwrap_or_else(|| "{}".into()),
        instance_info: dict_field(&m, "instance_info")?.unwrap_or_else(|| "{}".into()),
        instance_uuid,
        instance_name: str_field(&m, "instance_name", 255)?,
        chassis_uuid: str_field(&m, "chassis_uuid", 36)?,
        provision_state: initial.as_str().into(),
        target_provision_state: None,
        provision_updated_at: None,
        power_state: None,
        target_power_state: None,
        maintenance: bool_field(&m, "maintenance")?.unwrap_or(false),
        maintenance_reason: None,
        fault: None,
        reservation: None,
        last_error: None,
        console_enabled: bool_field(&m, "console_enabled")?.unwrap_or(false),
        interfaces,
        resource_class,
        conductor_group,
        automated_clean: bool_field(&m, "automated_clean")?,
        protected: false,
        protected_reason: None,
        owner,
        lessee: str_field(&m, "lessee", 255)?,
        description: str_field(&m, "description", 4096)?,
        retired: bool_field(&m, "retired")?.unwrap_or(false),
        retired_reason: str_field(&m, "retired_reason", 255)?,
        network_data: dict_field(&m, "network_data")?.unwrap_or_else(|| "{}".into()),
        boot_mode: str_field(&m, "boot_mode", 255)?,
        secure_boot: bool_field(&m, "secure_boot")?,
        shard: str_field(&m, "shard", 255)?,
        parent_node: str_field(&m, "parent_node", 36)?,
        disable_power_off: bool_field(&m, "disable_power_off")?.unwrap_or(false),
        clean_step: "{}".into(),
        deploy_step: "{}".into(),
        service_step: "{}".into(),
        raid_config: "{}".into(),
        target_raid_config: "{}".into(),
        traits: "[]".into(),
        inspection_started_at: None,
        inspection_finished_at: None,
        allocation_uuid: None,
        health: None,
        created_at: now,
        updated_at: None,
    };
    let row = node.clone();
    let api2 = Api { ctx: api.ctx.clone(), version: api.version };
    let node = state
        .storage()
        .write(move |c| {
            let mut row = row;
            if let Some(ch) = &row.chassis_uuid
                && bm::chassis_get(c, ch).is_err()
            {
                return Ok(Err(BaremetalError::BadRequest(format!("Chassis {ch} could not be found."))));
            }
            if let Some(p) = row.parent_node.clone() {
                match find_node(c, &p, &api2) {
                    Ok(parent) => row.parent_node = Some(parent.uuid),
                    Err(_) => return Ok(Err(BaremetalError::BadRequest(format!("Node {p} could not be found.")))),
                }
            }
            if bm::node(c, &row.uuid).is_ok() {
                return Ok(Err(BaremetalError::Conflict(format!("A node with UUID {} already exists.", row.uuid))));
            }
            if let Some(n) = &row.name
                && bm::node_by_name(c, n)?.is_some()
            {
                return Ok(Err(BaremetalError::Conflict(format!("A node with name {n} already exists."))));
            }
            if let Some(i) = &row.instance_uuid
                && bm::node_by_instance(c, i)?.is_some()
            {
                return Ok(Err(BaremetalError::Conflict(format!("Instance {i} is already associated with a node."))));
            }
            bm::node_insert(c, &row)?;
            Ok(Ok(row))
        })
        .await??;
    state.engine.emit(Event::of(&node, EventKind::Node { action: NodeAction::Create, prior_updated_at: None }));
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("{}/v1/nodes/{}", state.base, node.uuid)))
        .json(render(&state, &node, &api)))
}

// ---- update -------------------------------------------------------------------------

/// Policy of a PATCH by the top-level fields it touches.
fn patch_rule(field: &str) -> Rule {
    match field {
        "owner" | "conductor_group" | "shard" => Rule { system: Level::Member, project: None, lessee: None },
        f if f.ends_with("_interface") || f == "driver" => {
            Rule { system: Level::Member, project: Some(Level::Manager), lessee: None }
        }
        "instance_info" | "instance_uuid" => {
            Rule { system: Level::Member, project: Some(Level::Member), lessee: Some(Level::Manager) }
        }
        _ => Rule { system: Level::Member, project: Some(Level::Member), lessee: None },
    }
}

/// Updates a node with a JSON patch.
#[utoipa::path(patch, path = "/v1/nodes/{node}", tag = "nodes",
    params(("node" = String, Path, description = NODE), ResetInterfacesQuery), request_body = JsonPatch,
    responses((status = 200, description = "The updated node.", body = NodeDoc)))]
async fn update(
    api: Api,
    path: web::Path<String>,
    q: Query,
    body: web::Bytes,
    state: web::Data<BaremetalState>,
) -> Result<HttpResponse> {
    only_params(&q, &["reset_interfaces"])?;
    let reset_interfaces = match q.get("reset_interfaces") {
        Some(v) => {
            api.accept(45)?;
            parse_bool("reset_interfaces", v)?
        }
        None => false,
    };
    let current = load_visible(&state, &path, &api).await?;
    let mut doc = Value::Object(raw_doc(&current));
    let touched = apply_patch(&mut doc, &body, PATCHABLE, "node")?;
    for f in &touched {
        if !api.at_least(field_gate(f)) {
            return Err(BaremetalError::not_acceptable());
        }
        let owner = Owner { owner: current.owner.as_deref(), lessee: current.lessee.as_deref() };
        if !api.ctx.allows(patch_rule(f), owner) {
            return Err(BaremetalError::Forbidden(format!("baremetal:node:update:{f}")));
        }
    }
    if reset_interfaces && !touched.iter().any(|f| f == "driver") {
        return Err(BaremetalError::BadRequest(
            "The reset_interfaces parameter can be provided only when changing the driver".into(),
        ));
    }
    let Value::Object(mut m) = doc else {
        return Err(BaremetalError::Internal("patched node is not an object".into()));
    };
    if let Some(Value::Object(info)) = m.get_mut("driver_info") {
        state.engine.seal_driver_info(info);
    }
    let api2 = Api { ctx: api.ctx.clone(), version: api.version };
    let uuid = current.uuid.clone();
    let node = state
        .storage()
        .write(move |c| {
            let n = bm::node(c, &uuid)?;
            Ok(apply_update(c, n, &m, &touched, reset_interfaces, &api2))
        })
        .await??;
    let prior_updated_at = current.updated_at;
    state.engine.emit(Event::of(&node, EventKind::Node { action: NodeAction::Update, prior_updated_at }));
    Ok(HttpResponse::Ok().json(render(&state, &node, &api)))
}

/// Validates the patched document and writes it, in the caller's transaction.
fn apply_update(
    c: &mut DbConn,
    mut n: Node,
    m: &Map<String, Value>,
    touched: &[String],
    reset_interfaces: bool,
    api: &Api,
) -> Result<Node> {
    if let Some(h) = &n.reservation {
        return Err(BaremetalError::locked(&n.uuid, h));
    }
    let state: ProvisionState = n.provision_state.parse().unwrap_or(ProvisionState::Error);
    let only_instance_removal =
        n.maintenance && touched.iter().all(|f| f == "instance_uuid") && m["instance_uuid"].is_null();
    if n.target_provision_state.is_some() && !state.update_allowed() && !only_instance_removal {
        return Err(BaremetalError::Conflict(format!(
            "Node {} can not be updated while a state transition is in progress.",
            n.uuid
        )));
    }
    let ifaces_before: Map<String, Value> = serde_json::from_str(&n.interfaces).unwrap_or_default();
    let mut driver_changed = false;
    for f in touched {
        match f.as_str() {
            "name" => {
                let name = str_field(m, "name", 255)?;
                if let Some(new) = &name {
                    if is_uuid(new) || !is_valid_name(new) {
                        return Err(BaremetalError::BadRequest(format!(
                            "Node {}: Cannot change name to invalid name '{new}'",
                            n.uuid
                        )));
                    }
                    check_name(new)?;
                    if name != n.name
                        && let Some(other) = bm::node_by_name(c, new)?
                        && other.uuid != n.uuid
                    {
                        return Err(BaremetalError::Conflict(format!("A node with name {new} already exists.")));
                    }
                }
                n.name = name;
            }
            "driver" => {
                let d = str_field(m, "driver", 255)?
                    .ok_or_else(|| BaremetalError::BadRequest("driver cannot be removed".into()))?;
                if drivers::hardware_info(&d).is_none() {
                    return Err(no_driver(&d));
                }
                if n.console_enabled && d != n.driver {
                    return Err(BaremetalError::Conflict(format!(
                        "Node {} can not update the driver while the console is enabled. Please stop the console first.",
                        n.uuid
                    )));
                }
                driver_changed = d != n.driver;
                n.driver = d;
            }
            "driver_info" => n.driver_info = dict_field(m, f)?.unwrap_or_else(|| "{}".into()),
            "properties" => n.properties = dict_field(m, f)?.unwrap_or_else(|| "{}".into()),
            "extra" => n.extra = dict_field(m, f)?.unwrap_or_else(|| "{}".into()),
            "instance_info" => n.instance_info = dict_field(m, f)?.unwrap_or_else(|| "{}".into()),
            "network_data" => n.network_data = dict_field(m, f)?.unwrap_or_else(|| "{}".into()),
            "instance_uuid" => {
                let i = str_field(m, f, 36)?;
                if let Some(i) = &i {
                    if !is_uuid(i) {
                        return Err(BaremetalError::BadRequest(format!("Expected UUID for instance_uuid: {i}")));
                    }
                    if n.instance_uuid.is_some() && n.instance_uuid.as_ref() != Some(i) {
                        return Err(BaremetalError::Conflict(format!(
                            "Node {} is associated with instance {}.",
                            n.uuid,
                            n.instance_uuid.clone().unwrap_or_default()
                        )));
                    }
                    if let Some(other) = bm::node_by_instance(c, i)?
                        && other.uuid != n.uuid
                    {
                        return Err(BaremetalError::Conflict(format!(
                            "Instance {i} is already associated with a node."
                        )));
                    }
                }
                n.instance_uuid = i;
            }
            "instance_name" => n.instance_name = str_field(m, f, 255)?,
            "chassis_uuid" => {
                let ch = str_field(m, f, 36)?;
                if let Some(x) = &ch
                    && bm::chassis_get(c, x).is_err()
                {
                    return Err(BaremetalError::BadRequest(format!("Chassis {x} could not be found.")));
                }
                n.chassis_uuid = ch;
            }
            "maintenance" => {
                n.maintenance = bool_field(m, f)?.unwrap_or(false);
                if !n.maintenance {
                    n.maintenance_reason = None;
                    n.fault = None;
                }
            }
            "resource_class" => {
                let r = str_field(m, f, 80)?;
                check_resource_class(&r)?;
                if state == ProvisionState::Active && r != n.resource_class {
                    return Err(BaremetalError::BadRequest(format!(
                        "Node {} is in active state; its resource class cannot be changed.",
                        n.uuid
                    )));
                }
                n.resource_class = r;
            }
            "conductor_group" => n.conductor_group = check_conductor_group(&str_field(m, f, 255)?.unwrap_or_default())?,
            "automated_clean" => n.automated_clean = bool_field(m, f)?,
            "owner" => n.owner = str_field(m, f, 255)?,
            "lessee" => n.lessee = str_field(m, f, 255)?,
            "description" => n.description = str_field(m, f, 4096)?,
            "shard" => n.shard = str_field(m, f, 255)?,
            "disable_power_off" => n.disable_power_off = bool_field(m, f)?.unwrap_or(false),
            "parent_node" => {
                n.parent_node = match str_field(m, f, 36)? {
                    Some(p) => match find_node(c, &p, api) {
                        Ok(parent) if parent.uuid != n.uuid => Some(parent.uuid),
                        _ => return Err(BaremetalError::BadRequest(format!("Node {p} could not be found."))),
                    },
                    None => None,
                }
            }
            "protected" => {
                n.protected = bool_field(m, f)?.unwrap_or(false);
                if !n.protected {
                    n.protected_reason = None;
                } else if !matches!(state, ProvisionState::Active | ProvisionState::Rescue) {
                    return Err(BaremetalError::Conflict(format!(
                        "Node {} can only be made protected in provision states 'active' or 'rescue', the current \
                         state is '{}'",
                        n.uuid, n.provision_state
                    )));
                }
            }
            "protected_reason" => n.protected_reason = str_field(m, f, 255)?,
            "retired" => {
                n.retired = bool_field(m, f)?.unwrap_or(false);
                if !n.retired {
                    n.retired_reason = None;
                } else if matches!(state, ProvisionState::Available) {
                    return Err(BaremetalError::Conflict(format!(
                        "Node {} can not be set retired in state available; move it to manageable first.",
                        n.uuid
                    )));
                }
            }
            "retired_reason" => n.retired_reason = str_field(m, f, 255)?,
            _ => {} // interfaces: settled below
        }
    }
    if touched.iter().any(|f| f == "protected_reason") && n.protected_reason.is_some() && !n.protected {
        return Err(BaremetalError::BadRequest(
            "The protected_reason field can only be set when protected is True".into(),
        ));
    }
    if touched.iter().any(|f| f == "retired_reason") && n.retired_reason.is_some() && !n.retired {
        return Err(BaremetalError::BadRequest("The retired_reason field can only be set when retired is True".into()));
    }
    let iface_touched = touched.iter().any(|f| f.ends_with("_interface"));
    if driver_changed || iface_touched {
        // Interfaces removed by the patch (null) fall back to the default; a
        // driver change keeps the others only when they stay valid.
        let mut given = Map::new();
        for kind in INTERFACE_KINDS {
            let key = format!("{kind}_interface");
            if touched.contains(&key) {
                given.insert(key.clone(), m.get(&key).cloned().unwrap_or(Value::Null));
            }
        }
        let keep = if driver_changed && reset_interfaces { None } else { Some(ifaces_before.clone()) };
        // An interface explicitly removed goes back to the default.
        let mut keep = keep;
        if let Some(k) = keep.as_mut() {
            for kind in INTERFACE_KINDS {
                if given.get(&format!("{kind}_interface")).is_some_and(Value::is_null) {
                    k.remove(kind);
                }
            }
        }
        n.interfaces = settle_interfaces(&n.driver, &given, keep.as_ref())?;
        for kind in INTERFACE_KINDS {
            if touched.contains(&format!("{kind}_interface")) && !api.at_least(interface_gate(kind)) {
                return Err(BaremetalError::not_acceptable());
            }
        }
    }
    n.updated_at = Some(chrono::Utc::now().naive_utc());
    Ok(bm::node_update(c, &n)?)
}

// ---- delete ----------------------------------------------------------------------------

/// Deletes a node (with its ports, port groups, volume resources and allocation).
#[utoipa::path(delete, path = "/v1/nodes/{node}", tag = "nodes", params(("node" = String, Path, description = NODE)),
    responses((status = 204, description = "Deleted.")))]
async fn delete(api: Api, path: web::Path<String>, state: web::Data<BaremetalState>) -> Result<HttpResponse> {
    let n = load_visible(&state, &path, &api).await?;
    let owner = Owner { owner: n.owner.as_deref(), lessee: None };
    let self_owned = Rule { system: Level::Admin, project: Some(Level::Admin), lessee: None };
    if !api.ctx.allows(self_owned, owner) {
        return Err(BaremetalError::Forbidden("baremetal:node:delete".into()));
    }
    let uuid = n.uuid.clone();
    let outcome = state
        .storage()
        .write(move |c| {
            let n = bm::node(c, &uuid)?;
            if let Some(h) = &n.reservation {
                return Ok(Err((BaremetalError::locked(&n.uuid, h), None)));
            }
            if n.protected {
                let e = BaremetalError::Forbidden(format!(
                    "Node {} is protected and cannot be undeployed, rebuilt or deleted",
                    n.uuid
                ));
                return Ok(Err((e, None)));
            }
            let state: ProvisionState = n.provision_state.parse().unwrap_or(ProvisionState::Error);
            // Refusals by the node's state are reported, as a conductor's are.
            if !n.maintenance {
                if let Some(i) = &n.instance_uuid {
                    let e = BaremetalError::Conflict(format!("Node {} is associated with instance {i}.", n.uuid));
                    return Ok(Err((e, Some(n))));
                }
                if !state.delete_allowed() {
                    let e = BaremetalError::Conflict(format!(
                        "Can not delete node \"{}\" while it is in provision state \"{}\". Valid provision states to \
                         perform deletion are: \"('manageable', 'enroll', 'adopt failed', 'available')\", or set the \
                         node into maintenance mode",
                        n.uuid, n.provision_state
                    ));
                    return Ok(Err((e, Some(n))));
                }
            }
            crate::storage::allocations::allocations_delete_of_node(c, &n.uuid)?;
            crate::storage::volume::delete_for_node(c, &n.uuid)?;
            bm::node_delete(c, &n.uuid)?;
            Ok(Ok(n))
        })
        .await?;
    let n = match outcome {
        Ok(n) => n,
        Err((e, refused)) => {
            if let Some(node) = refused {
                let reason = e.to_string();
                state.engine.emit(Event::of(&node, EventKind::NodeRefused { action: NodeAction::Delete, reason }));
            }
            return Err(e);
        }
    };
    state.engine.node_deleted(&n).await;
    Ok(HttpResponse::NoContent().finish())
}

/// Lists the nodes of a chassis.
#[utoipa::path(get, path = "/v1/chassis/{chassis}/nodes", tag = "nodes",
    params(("chassis" = uuid::Uuid, Path, description = "The chassis."), PageQuery, FieldsQuery, DetailQuery, NodeFilterQuery),
    responses((status = 200, description = "A page of the chassis's nodes (as `GET /v1/nodes`).", body = NodeList)))]
async fn chassis_nodes(
    api: Api,
    path: web::Path<String>,
    q: Query,
    state: web::Data<BaremetalState>,
) -> Result<HttpResponse> {
    of_chassis(&state, &api, path.into_inner(), q, false).await
}

/// Lists the nodes of a chassis with every field.
#[utoipa::path(get, path = "/v1/chassis/{chassis}/nodes/detail", tag = "nodes",
    params(("chassis" = uuid::Uuid, Path, description = "The chassis."), PageQuery, NodeFilterQuery),
    responses((status = 200, description = "A page of the chassis's nodes with every field.", body = NodeList)))]
async fn chassis_nodes_detail(
    api: Api,
    path: web::Path<String>,
    q: Query,
    state: web::Data<BaremetalState>,
) -> Result<HttpResponse> {
    of_chassis(&state, &api, path.into_inner(), q, true).await
}

/// `GET /v1/chassis/{uuid}/nodes[/detail]`.
async fn of_chassis(state: &BaremetalState, api: &Api, ch: String, q: Query, detail: bool) -> Result<HttpResponse> {
    let c2 = ch.clone();
    state.storage().read(move |c| bm::chassis_get(c, &c2)).await?;
    let mut q = q.into_inner();
    q.insert("chassis_uuid".into(), ch.clone());
    let p = if detail { format!("chassis/{ch}/nodes/detail") } else { format!("chassis/{ch}/nodes") };
    list_nodes(state, api, &web::Query(q), detail, &p).await
}

/// A node's path parameter.
const NODE: &str = "A node's UUID or name (from 1.5; up to 1.90 a `.json` suffix is ignored).";

pub fn routes(r: &mut Routes) {
    crate::routes!(r;
        list | "/v1/nodes/",
        create | "/v1/nodes/",
        detail,
        show,
        update,
        delete,
        chassis_nodes,
        chassis_nodes_detail,
    );
}
