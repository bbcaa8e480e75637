//! `/v2.0/ports`: ports with MAC and IP address allocation, and the port
//! binding (`binding:*`) through which a bare-metal node's switch ports
//! join the network.

use std::net::IpAddr;

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};

use utoipa::ToSchema;

use super::error::{NeutronError, Result};
use super::ipam::{Cidr, parse_ip};
use super::openapi::{FieldsParam, Link, ListParams};
use super::security_groups;
use super::{
    Caller, ListQuery, NetworkState, body_object, get_bool, get_str, new_id, now, owns, scope, select_fields, ts,
};
use crate::common::auth::AuthContext;
use crate::common::openapi::Routes;
use crate::engine::ipam::{FixedIp, allocate, random_mac};
use crate::reporters::contrail::push::PortSync;
use crate::storage::StorageError;
use crate::storage::network::{self as db, IpAllocation, Port};

const CREATE: &[&str] = &[
    "network_id",
    "name",
    "description",
    "admin_state_up",
    "mac_address",
    "fixed_ips",
    "device_id",
    "device_owner",
    "port_security_enabled",
    "allowed_address_pairs",
    "security_groups",
    "binding:vnic_type",
    "binding:host_id",
    "binding:profile",
    "project_id",
    "tenant_id",
];
const UPDATE: &[&str] = &[
    "name",
    "description",
    "admin_state_up",
    "mac_address",
    "fixed_ips",
    "device_id",
    "device_owner",
    "port_security_enabled",
    "allowed_address_pairs",
    "security_groups",
    "binding:vnic_type",
    "binding:host_id",
    "binding:profile",
];
const VNIC_TYPES: &[&str] = &[
    "normal",
    "direct",
    "macvtap",
    "baremetal",
    "direct-physical",
    "virtio-forwarder",
    "smart-nic",
    "vdpa",
    "remote-managed",
];
/// Attributes only administrators see and set (Neutron's default policy).
const ADMIN_BINDING: &[&str] = &["binding:host_id", "binding:profile"];

pub fn routes(r: &mut Routes) {
    crate::routes!(r; list, create, show, update, delete);
}

/// An address of a port.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct FixedIpDoc {
    subnet_id: String,
    ip_address: String,
}

/// An address of a port, as requested: a subnet (any free address of it),
/// an address, or both.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct FixedIpRequest {
    #[schema(nullable = false)]
    subnet_id: Option<String>,
    #[schema(nullable = false)]
    ip_address: Option<String>,
}

/// An address (or CIDR) the port may also send from, with a MAC address.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AddressPair {
    /// An IP address or CIDR.
    ip_address: String,
    #[schema(nullable = false)]
    mac_address: Option<String>,
}

/// A port as Neutron shows it; the binding's host, profile and VIF only to
/// admins.
#[derive(ToSchema)]
#[schema(as = Port)]
#[allow(dead_code)]
pub struct PortDoc {
    #[schema(format = Uuid)]
    id: String,
    name: String,
    description: String,
    network_id: String,
    project_id: String,
    tenant_id: String,
    mac_address: String,
    admin_state_up: bool,
    /// `ACTIVE` when bound and administratively up, else `DOWN`.
    status: String,
    device_id: String,
    device_owner: String,
    fixed_ips: Vec<FixedIpDoc>,
    /// The ids of its security groups.
    security_groups: Vec<String>,
    port_security_enabled: bool,
    allowed_address_pairs: Vec<AddressPair>,
    /// Always empty.
    #[schema(value_type = Vec<Object>)]
    extra_dhcp_opts: Vec<Value>,
    #[schema(rename = "binding:vnic_type")]
    vnic_type: String,
    /// Always `immediate`.
    ip_allocation: String,
    /// Always false.
    propagate_uplink_status: bool,
    /// Always empty.
    tags: Vec<String>,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
    revision_number: i64,
    /// (admin) The host the port is bound to (for bare metal: the Ironic
    /// node); empty when unbound.
    #[schema(rename = "binding:host_id", nullable = false)]
    host_id: Option<String>,
    /// (admin) For bare metal, `local_link_information`: the switch ports.
    #[schema(rename = "binding:profile", value_type = Object, required = false)]
    profile: Value,
    /// (admin) `unbound` or `other`.
    #[schema(rename = "binding:vif_type", nullable = false)]
    vif_type: Option<String>,
    /// (admin)
    #[schema(rename = "binding:vif_details", value_type = Object, required = false)]
    vif_details: Value,
}

/// A list of ports; `ports_links` holds the `next`/`previous` pages when
/// paging.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PortList {
    ports: Vec<PortDoc>,
    ports_links: Option<Vec<Link>>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PortOne {
    port: PortDoc,
}

#[derive(ToSchema)]
#[schema(rename_all = "kebab-case")]
#[allow(dead_code)]
pub enum VnicType {
    Normal,
    Direct,
    Macvtap,
    Baremetal,
    DirectPhysical,
    VirtioForwarder,
    SmartNic,
    Vdpa,
    RemoteManaged,
}

/// The attributes of a new port: `network_id` is required. Without
/// `fixed_ips` the port gets an address of each subnet of the network;
/// without `security_groups` (and with port security) the project's
/// default group. `binding:host_id` and `binding:profile` need an admin.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct PortCreate {
    #[schema(max_length = 36)]
    network_id: String,
    #[schema(max_length = 255, nullable = false)]
    name: Option<String>,
    #[schema(max_length = 255, nullable = false)]
    description: Option<String>,
    #[schema(nullable = false)]
    admin_state_up: Option<bool>,
    /// A unicast MAC address; a random one when absent.
    #[schema(nullable = false)]
    mac_address: Option<String>,
    #[schema(nullable = false)]
    fixed_ips: Option<Vec<FixedIpRequest>>,
    #[schema(max_length = 255, nullable = false)]
    device_id: Option<String>,
    #[schema(max_length = 255, nullable = false)]
    device_owner: Option<String>,
    /// The network's setting when absent.
    #[schema(nullable = false)]
    port_security_enabled: Option<bool>,
    #[schema(nullable = false)]
    allowed_address_pairs: Option<Vec<AddressPair>>,
    /// Security group ids; null for none.
    security_groups: Option<Vec<String>>,
    #[schema(rename = "binding:vnic_type", nullable = false, inline)]
    vnic_type: Option<VnicType>,
    /// The Ironic node the port is bound to; null or empty to unbind.
    #[schema(rename = "binding:host_id", max_length = 255)]
    host_id: Option<String>,
    /// `local_link_information`: a list of switch ports, each with a
    /// `port_id` and a `switch_id` or `switch_info`. Null for none.
    #[schema(rename = "binding:profile", value_type = Option<Object>)]
    profile: Option<Value>,
    /// The owner (another project than the caller's needs an admin).
    #[schema(max_length = 255, nullable = false)]
    project_id: Option<String>,
    /// The same as `project_id`.
    #[schema(max_length = 255, nullable = false)]
    tenant_id: Option<String>,
}

/// One port (`port`) or, in bulk, several (`ports`), made all or nothing.
#[derive(ToSchema)]
#[serde(untagged)]
#[allow(dead_code, clippy::large_enum_variant)]
pub enum PortCreateBody {
    One { port: PortCreate },
    Bulk { ports: Vec<PortCreate> },
}

/// The new port, or the new ports of a bulk request.
#[derive(ToSchema)]
#[serde(untagged)]
#[allow(dead_code, clippy::large_enum_variant)]
pub enum PortCreated {
    One { port: PortDoc },
    Bulk { ports: Vec<PortDoc> },
}

/// The attributes a port update may change. A new `fixed_ips` replaces the
/// addresses; `mac_address` needs an admin and an unbound port.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct PortUpdate {
    #[schema(max_length = 255, nullable = false)]
    name: Option<String>,
    #[schema(max_length = 255, nullable = false)]
    description: Option<String>,
    #[schema(nullable = false)]
    admin_state_up: Option<bool>,
    #[schema(nullable = false)]
    mac_address: Option<String>,
    #[schema(nullable = false)]
    fixed_ips: Option<Vec<FixedIpRequest>>,
    #[schema(max_length = 255, nullable = false)]
    device_id: Option<String>,
    #[schema(max_length = 255, nullable = false)]
    device_owner: Option<String>,
    #[schema(nullable = false)]
    port_security_enabled: Option<bool>,
    #[schema(nullable = false)]
    allowed_address_pairs: Option<Vec<AddressPair>>,
    /// Security group ids; null for none.
    security_groups: Option<Vec<String>>,
    #[schema(rename = "binding:vnic_type", nullable = false, inline)]
    vnic_type: Option<VnicType>,
    /// The Ironic node the port is bound to; null or empty to unbind.
    #[schema(rename = "binding:host_id", max_length = 255)]
    host_id: Option<String>,
    /// `local_link_information`: a list of switch ports, each with a
    /// `port_id` and a `switch_id` or `switch_info`. Null for none.
    #[schema(rename = "binding:profile", value_type = Option<Object>)]
    profile: Option<Value>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PortUpdateBody {
    port: PortUpdate,
}

/// The port filters, `fixed_ips` aside: its values are `ip_address=…`,
/// `subnet_id=…` or `ip_address_substr=…` (a bare address is an
/// `ip_address`), and a port must match every one.
pub struct PortFilters;

impl utoipa::IntoParams for PortFilters {
    fn into_params(
        _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        use super::openapi::Kind::*;
        let mut params = super::openapi::filters(&[
            ("id", Str),
            ("name", Str),
            ("description", Str),
            ("network_id", Str),
            ("project_id", Str),
            ("tenant_id", Str),
            ("mac_address", Str),
            ("admin_state_up", Bool),
            ("status", Str),
            ("device_id", Str),
            ("device_owner", Str),
            ("fixed_ips", Str),
            ("security_groups", Str),
            ("port_security_enabled", Bool),
            ("binding:vnic_type", Str),
            ("binding:host_id", Str),
            ("revision_number", Int),
        ]);
        for p in &mut params {
            if p.name == "fixed_ips" {
                p.description = Some(
                    "Only those with an address matching every value: `ip_address=<address>`, \
                     `subnet_id=<id>` or `ip_address_substr=<part of an address>`."
                        .into(),
                );
            }
        }
        params
    }
}

fn json_of(s: &str, default: Value) -> Value {
    serde_json::from_str(s).unwrap_or(default)
}

pub fn view(ctx: &AuthContext, p: &Port, ips: &[IpAllocation]) -> Value {
    let fixed: Vec<Value> = ips
        .iter()
        .filter(|a| a.port_uuid == p.uuid)
        .map(|a| json!({"subnet_id": a.subnet_uuid, "ip_address": a.ip_address}))
        .collect();
    let mut v = json!({
        "id": p.uuid, "name": p.name, "description": p.description,
        "network_id": p.network_uuid, "project_id": p.project_id, "tenant_id": p.project_id,
        "mac_address": p.mac_address, "admin_state_up": p.admin_state_up, "status": p.status,
        "device_id": p.device_id, "device_owner": p.device_owner, "fixed_ips": fixed,
        "security_groups": json_of(&p.security_groups, json!([])),
        "port_security_enabled": p.port_security_enabled,
        "allowed_address_pairs": json_of(&p.allowed_address_pairs, json!([])),
        "extra_dhcp_opts": [], "binding:vnic_type": p.vnic_type,
        "ip_allocation": "immediate", "propagate_uplink_status": false, "tags": [],
        "created_at": ts(p.created_at), "updated_at": ts(p.updated_at), "revision_number": p.revision_number,
    });
    if ctx.is_admin() {
        v["binding:host_id"] = json!(p.host_id);
        v["binding:profile"] = json_of(&p.profile, json!({}));
        v["binding:vif_type"] = json!(p.vif_type);
        v["binding:vif_details"] = json_of(&p.vif_details, json!({}));
    }
    v
}

/// A port the caller may see (its project's, or any for admins).
async fn visible(state: &NetworkState, ctx: &AuthContext, id: &str) -> Result<Port> {
    let uuid = id.to_string();
    let p = state.storage.read(move |c| db::port(c, &uuid)).await?;
    if scope(ctx).is_some_and(|proj| proj != p.project_id) {
        return Err(NeutronError::not_found("port", id));
    }
    Ok(p)
}

/// `fixed_ips=ip_address=…` / `fixed_ips=subnet_id=…` filters.
fn fixed_ips_filter(key: &str, wanted: &[String], item: &Value) -> Option<bool> {
    if key != "fixed_ips" {
        return None;
    }
    let ips = item.get("fixed_ips")?.as_array()?;
    Some(wanted.iter().all(|w| {
        let (k, v) = w.split_once('=').unwrap_or(("ip_address", w));
        match k {
            // the ip-substring-filtering extension
            "ip_address_substr" => {
                ips.iter().any(|ip| ip.get("ip_address").and_then(Value::as_str).is_some_and(|a| a.contains(v)))
            }
            _ => ips.iter().any(|ip| ip.get(k).and_then(Value::as_str) == Some(v)),
        }
    }))
}

/// Lists the caller's project's ports (every port for admins).
#[utoipa::path(get, path = "/v2.0/ports", tag = "ports", params(PortFilters, ListParams),
    responses((status = 200, description = "The ports.", body = PortList)))]
async fn list(caller: Caller, state: web::Data<NetworkState>, req: HttpRequest) -> Result<HttpResponse> {
    let q = ListQuery::parse(&req)?;
    let project = scope(&caller);
    let (ports, ips) = state
        .storage
        .read(move |c| {
            let ports = db::ports_visible(c, project.as_deref())?;
            let ids: Vec<String> = ports.iter().map(|p| p.uuid.clone()).collect();
            Ok((ports, db::allocations_of_ports(c, &ids)?))
        })
        .await?;
    let items = ports.iter().map(|p| view(&caller, p, &ips)).collect();
    Ok(HttpResponse::Ok().json(q.respond(&state, "ports", items, &fixed_ips_filter)?))
}

/// Shows a port.
#[utoipa::path(get, path = "/v2.0/ports/{id}", tag = "ports",
    params(("id" = String, Path, description = "The port's id."), FieldsParam),
    responses((status = 200, description = "The port.", body = PortOne)))]
async fn show(
    caller: Caller,
    state: web::Data<NetworkState>,
    id: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse> {
    let p = visible(&state, &caller, &id).await?;
    let ids = vec![p.uuid.clone()];
    let ips = state.storage.read(move |c| db::allocations_of_ports(c, &ids)).await?;
    Ok(HttpResponse::Ok().json(json!({"port": select_fields(&req, view(&caller, &p, &ips))})))
}

fn parse_mac(v: &Value) -> Result<String> {
    let s = v.as_str().ok_or_else(|| NeutronError::invalid(format!("'{v}' is not a valid MAC address")))?;
    let parts: Vec<&str> = s.split([':', '-']).collect();
    let ok = parts.len() == 6 && parts.iter().all(|p| p.len() == 2 && u8::from_str_radix(p, 16).is_ok());
    let mac = parts.join(":").to_lowercase();
    if !ok || mac == "00:00:00:00:00:00" || u8::from_str_radix(parts[0], 16).is_ok_and(|b| b & 1 == 1) {
        return Err(NeutronError::invalid(format!("'{s}' is not a valid MAC address")));
    }
    Ok(mac)
}

fn parse_fixed_ips(v: &Value) -> Result<Vec<FixedIp>> {
    let list = v.as_array().ok_or_else(|| NeutronError::invalid("fixed_ips must be a list"))?;
    let mut out = Vec::with_capacity(list.len());
    for f in list {
        let obj = f.as_object().ok_or_else(|| NeutronError::invalid(format!("Invalid fixed IP '{f}'")))?;
        if let Some(k) = obj.keys().find(|k| !["subnet_id", "ip_address"].contains(&k.as_str())) {
            return Err(NeutronError::invalid(format!("Unrecognized attribute '{k}' in fixed_ips")));
        }
        let subnet = obj.get("subnet_id").and_then(Value::as_str).map(str::to_string);
        let ip = obj.get("ip_address").and_then(Value::as_str).map(parse_ip).transpose()?;
        if subnet.is_none() && ip.is_none() {
            return Err(NeutronError::invalid(format!(
                "Invalid fixed IP '{f}': a subnet_id or ip_address is required"
            )));
        }
        out.push(FixedIp { subnet, ip });
    }
    Ok(out)
}

/// Applies the binding attributes; a port counts as bound once it has a
/// host (for bare metal: the Ironic node, with the switch ports in
/// `binding:profile.local_link_information`).
fn apply_binding(ctx: &AuthContext, p: &mut Port, obj: &Map<String, Value>) -> Result<()> {
    for key in ADMIN_BINDING {
        if obj.contains_key(*key) && !ctx.is_admin() {
            return Err(NeutronError::forbidden(format!(
                "(rule:create_port and rule:create_port:{key}) is disallowed by policy"
            )));
        }
    }
    if let Some(v) = get_str(obj, "binding:vnic_type", 64)? {
        if !VNIC_TYPES.contains(&v.as_str()) {
            return Err(NeutronError::invalid(format!("'{v}' is not in {VNIC_TYPES:?}")));
        }
        p.vnic_type = v;
    }
    let mut host = p.host_id.clone();
    if let Some(v) = obj.get("binding:host_id") {
        host = match v {
            Value::Null => String::new(),
            Value::String(s) if s.len() <= 255 => s.clone(),
            _ => return Err(NeutronError::invalid(format!("'{v}' is not a valid host id"))),
        };
    }
    let mut profile = json_of(&p.profile, json!({}));
    if let Some(v) = obj.get("binding:profile") {
        profile = match v {
            Value::Null => json!({}),
            Value::Object(_) => v.clone(),
            _ => return Err(NeutronError::invalid(format!("'{v}' is not a dictionary"))),
        };
        if let Some(links) = profile.get("local_link_information") {
            check_links(links)?;
        }
    }
    p.set_binding(&host, &profile);
    Ok(())
}

/// `local_link_information`: a list of switch ports, each with at least a
/// `port_id` and a `switch_id` or `switch_info` (Ironic's
/// `local_link_connection`).
fn check_links(v: &Value) -> Result<()> {
    let list = v.as_array().ok_or_else(|| NeutronError::invalid("local_link_information must be a list"))?;
    for l in list {
        let ok = l.get("port_id").is_some_and(Value::is_string)
            && (l.get("switch_id").is_some_and(Value::is_string) || l.get("switch_info").is_some_and(Value::is_string));
        if !ok {
            return Err(NeutronError::invalid(format!(
                "local_link_information entry '{l}' needs port_id and switch_id or switch_info"
            )));
        }
    }
    Ok(())
}

fn address_pairs(v: &Value) -> Result<String> {
    let list = v.as_array().ok_or_else(|| NeutronError::invalid("allowed_address_pairs must be a list"))?;
    for pair in list {
        let ip = pair.get("ip_address").and_then(Value::as_str);
        let ok = ip.is_some_and(|s| s.parse::<IpAddr>().is_ok() || Cidr::parse(s).is_ok());
        if !ok {
            return Err(NeutronError::invalid(format!("'{pair}' is not a valid address pair")));
        }
        if let Some(m) = pair.get("mac_address") {
            parse_mac(m)?;
        }
    }
    Ok(v.to_string())
}

/// Creates a port on a network (or several: all or nothing), with its
/// addresses, MAC, security groups and binding.
#[utoipa::path(post, path = "/v2.0/ports", tag = "ports", request_body = PortCreateBody,
    responses((status = 201, description = "The new port(s).", body = PortCreated,
        links(("Show" = (operation_id = "ports.show", parameters(("id" = "$response.body#/port/id")))), ("Update" = (operation_id = "ports.update", parameters(("id" = "$response.body#/port/id")))), ("Delete" = (operation_id = "ports.delete", parameters(("id" = "$response.body#/port/id"))))))))]
async fn create(caller: Caller, state: web::Data<NetworkState>, body: web::Bytes) -> Result<HttpResponse> {
    let undo = |id: String| {
        let storage = state.storage.clone();
        let push = state.contrail_push;
        async move {
            let _ = storage
                .write(move |c| {
                    let sync = PortSync::begin(c, push, &id)?;
                    db::port_delete(c, &id)?;
                    sync.finish(c)
                })
                .await;
        }
    };
    let created =
        super::create_all(&body, "port", "ports", CREATE, |obj| create_one(&caller, &state, obj), undo).await?;
    Ok(HttpResponse::Created().json(created))
}

async fn create_one(caller: &AuthContext, state: &NetworkState, obj: Map<String, Value>) -> Result<Value> {
    let network_id = get_str(&obj, "network_id", 36)?
        .ok_or_else(|| NeutronError::bad("Failed to parse request. Required attribute 'network_id' not specified"))?;
    let net = super::networks::visible(state, caller, &network_id).await?;
    let project_id = super::owner_of_new(caller, &obj)?;
    if !owns(caller, &project_id) {
        return Err(NeutronError::forbidden("rule:create_port is disallowed by policy"));
    }
    let fixed = obj.get("fixed_ips").map(parse_fixed_ips).transpose()?;
    let mac = obj.get("mac_address").map(parse_mac).transpose()?;
    let t = now();
    let mut p = Port {
        uuid: new_id(),
        name: get_str(&obj, "name", 255)?.unwrap_or_default(),
        description: get_str(&obj, "description", 255)?.unwrap_or_default(),
        network_uuid: net.uuid.clone(),
        project_id,
        mac_address: mac.clone().unwrap_or_else(random_mac),
        admin_state_up: get_bool(&obj, "admin_state_up")?.unwrap_or(true),
        status: "DOWN".into(),
        device_id: get_str(&obj, "device_id", 255)?.unwrap_or_default(),
        device_owner: get_str(&obj, "device_owner", 255)?.unwrap_or_default(),
        port_security_enabled: get_bool(&obj, "port_security_enabled")?.unwrap_or(net.port_security_enabled),
        vnic_type: "normal".into(),
        host_id: String::new(),
        profile: "{}".into(),
        vif_type: "unbound".into(),
        vif_details: "{}".into(),
        security_groups: "[]".into(),
        allowed_address_pairs: obj
            .get("allowed_address_pairs")
            .map(address_pairs)
            .transpose()?
            .unwrap_or_else(|| "[]".into()),
        revision_number: 1,
        created_at: t,
        updated_at: t,
    };
    apply_binding(caller, &mut p, &obj)?;
    let groups = security_groups::port_request(&obj)?;
    security_groups::check_port_security(p.port_security_enabled, groups.as_deref(), "[]")?;
    let admin = caller.is_admin();
    let explicit_mac = mac.is_some();
    let push = state.contrail_push;
    let outcome = state
        .storage
        .write(move |c| {
            crate::storage::security_groups::quota_check(c, &p.project_id, "port")?;
            let sync = PortSync::begin(c, push, &p.uuid)?;
            p.security_groups = security_groups::port_groups(c, &p, admin, groups.as_deref())?;
            // A generated MAC that collides is simply drawn again.
            let mut tries = 0;
            loop {
                match db::port_insert(c, &p) {
                    Ok(()) => break,
                    Err(StorageError::Duplicate(m)) if explicit_mac || tries > 8 => {
                        return Ok(Err(NeutronError::Conflict("MacAddressInUse", m)));
                    }
                    Err(StorageError::Duplicate(_)) => {
                        tries += 1;
                        p.mac_address = random_mac();
                    }
                    Err(e) => return Err(e),
                }
            }
            // A failure rolls the port back with the transaction.
            allocate(c, &p.network_uuid, &p.uuid, fixed.as_deref())?.map_err(StorageError::from)?;
            sync.finish(c)?;
            let ips = db::allocations_of_ports(c, std::slice::from_ref(&p.uuid))?;
            Ok(Ok((p, ips)))
        })
        .await?;
    let (p, ips) = outcome?;
    Ok(view(caller, &p, &ips))
}

/// Updates a port: binding it to a bare-metal node's switch ports sets
/// `binding:host_id` and `binding:profile`.
#[utoipa::path(put, path = "/v2.0/ports/{id}", tag = "ports",
    params(("id" = String, Path, description = "The port's id.")), request_body = PortUpdateBody,
    responses((status = 200, description = "The updated port.", body = PortOne)))]
async fn update(
    caller: Caller,
    state: web::Data<NetworkState>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse> {
    let obj = body_object(&body, "port", CREATE)?;
    if let Some(k) = obj.keys().find(|k| !UPDATE.contains(&k.as_str())) {
        return Err(NeutronError::bad(format!("Cannot update read-only attribute {k}")));
    }
    let mut p = visible(&state, &caller, &id).await?;
    if !owns(&caller, &p.project_id) {
        return Err(NeutronError::forbidden("rule:update_port is disallowed by policy"));
    }
    if let Some(v) = get_str(&obj, "name", 255)? {
        p.name = v;
    }
    if let Some(v) = get_str(&obj, "description", 255)? {
        p.description = v;
    }
    if let Some(v) = get_bool(&obj, "admin_state_up")? {
        p.admin_state_up = v;
    }
    if let Some(v) = get_str(&obj, "device_id", 255)? {
        p.device_id = v;
    }
    if let Some(v) = get_str(&obj, "device_owner", 255)? {
        p.device_owner = v;
    }
    if let Some(v) = get_bool(&obj, "port_security_enabled")? {
        p.port_security_enabled = v;
    }
    if let Some(v) = obj.get("allowed_address_pairs") {
        p.allowed_address_pairs = address_pairs(v)?;
    }
    if let Some(v) = obj.get("mac_address") {
        if !caller.is_admin() {
            return Err(NeutronError::forbidden("rule:update_port:mac_address is disallowed by policy"));
        }
        if !p.host_id.is_empty() {
            return Err(NeutronError::Conflict(
                "PortBound",
                format!("Unable to complete operation on port {}, port is already bound.", p.uuid),
            ));
        }
        p.mac_address = parse_mac(v)?;
    }
    apply_binding(&caller, &mut p, &obj)?;
    let groups = security_groups::port_request(&obj)?;
    security_groups::check_port_security(p.port_security_enabled, groups.as_deref(), &p.security_groups)?;
    let admin = caller.is_admin();
    let fixed = obj.get("fixed_ips").map(parse_fixed_ips).transpose()?;
    p.updated_at = now();
    p.revision_number += 1;
    let push = state.contrail_push;
    let outcome = state
        .storage
        .write(move |c| {
            // Before anything changes: a new binding host or new addresses
            // also touch the objects of the old ones.
            let sync = PortSync::begin(c, push, &p.uuid)?;
            if let Some(ids) = &groups {
                p.security_groups = security_groups::port_groups(c, &p, admin, Some(ids))?;
            }
            db::port_update(c, &p).map_err(|e| match e {
                StorageError::Duplicate(m) => StorageError::refused("MacAddressInUse", m),
                other => other,
            })?;
            if let Some(fixed) = fixed {
                db::allocations_release(c, &p.uuid)?;
                allocate(c, &p.network_uuid, &p.uuid, Some(&fixed))?.map_err(StorageError::from)?;
            }
            sync.finish(c)?;
            let ips = db::allocations_of_ports(c, std::slice::from_ref(&p.uuid))?;
            Ok((p, ips))
        })
        .await?;
    let (p, ips) = outcome;
    Ok(HttpResponse::Ok().json(json!({"port": view(&caller, &p, &ips)})))
}

/// Deletes a port, releasing its addresses.
#[utoipa::path(delete, path = "/v2.0/ports/{id}", tag = "ports",
    params(("id" = String, Path, description = "The port's id.")),
    responses((status = 204, description = "Deleted.")))]
async fn delete(caller: Caller, state: web::Data<NetworkState>, id: web::Path<String>) -> Result<HttpResponse> {
    let p = visible(&state, &caller, &id).await?;
    if !owns(&caller, &p.project_id) {
        return Err(NeutronError::forbidden("rule:delete_port is disallowed by policy"));
    }
    let uuid = p.uuid.clone();
    let push = state.contrail_push;
    state
        .storage
        .write(move |c| {
            let sync = PortSync::begin(c, push, &uuid)?;
            db::port_delete(c, &uuid)?;
            sync.finish(c)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
