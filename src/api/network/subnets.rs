//! `/v2.0/subnets`: address ranges of networks, with pools, gateway, DNS
//! servers and host routes.

use std::net::IpAddr;

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};

use utoipa::ToSchema;

use super::error::{NeutronError, Result};
use super::ipam::{Cidr, parse_ip, parse_pools, pools_json};
use super::openapi::{FieldsParam, Link, ListParams};
use super::{
    Caller, ListQuery, NetworkState, body_object, get_bool, get_str, new_id, now, owns, scope, select_fields, ts,
};
use crate::common::auth::AuthContext;
use crate::common::openapi::Routes;
use crate::reporters::contrail::push::network_changed;
use crate::storage::StorageError;
use crate::storage::network::{self as db, Subnet};
use crate::storage::security_groups as sg;

const CREATE: &[&str] = &[
    "network_id",
    "cidr",
    "ip_version",
    "name",
    "description",
    "gateway_ip",
    "enable_dhcp",
    "allocation_pools",
    "dns_nameservers",
    "host_routes",
    "ipv6_ra_mode",
    "ipv6_address_mode",
    "project_id",
    "tenant_id",
    "subnetpool_id",
    "service_types",
];
const UPDATE: &[&str] =
    &["name", "description", "gateway_ip", "enable_dhcp", "allocation_pools", "dns_nameservers", "host_routes"];
const V6_MODES: &[&str] = &["slaac", "dhcpv6-stateful", "dhcpv6-stateless"];

pub fn routes(r: &mut Routes) {
    crate::routes!(r; list, create, show, update, delete);
}

/// A range of addresses handed out to ports.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AllocationPool {
    start: String,
    end: String,
}

/// A static route handed to the subnet's hosts.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct HostRoute {
    /// A CIDR of the subnet's IP version.
    destination: String,
    nexthop: String,
}

/// A subnet as Neutron shows it.
#[derive(ToSchema)]
#[schema(as = Subnet)]
#[allow(dead_code)]
pub struct SubnetDoc {
    #[schema(format = Uuid)]
    id: String,
    name: String,
    description: String,
    network_id: String,
    project_id: String,
    tenant_id: String,
    /// 4 or 6.
    ip_version: i32,
    cidr: String,
    /// null when the subnet has no gateway.
    gateway_ip: Option<String>,
    enable_dhcp: bool,
    allocation_pools: Vec<AllocationPool>,
    dns_nameservers: Vec<String>,
    host_routes: Vec<HostRoute>,
    /// `slaac`, `dhcpv6-stateful` or `dhcpv6-stateless` (IPv6 only).
    ipv6_ra_mode: Option<String>,
    /// `slaac`, `dhcpv6-stateful` or `dhcpv6-stateless` (IPv6 only).
    ipv6_address_mode: Option<String>,
    /// Always null (no subnet pools).
    #[schema(value_type = Option<String>)]
    subnetpool_id: (),
    /// Always null (no routed segments).
    #[schema(value_type = Option<String>)]
    segment_id: (),
    /// Always empty.
    service_types: Vec<String>,
    /// Always empty.
    tags: Vec<String>,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
    revision_number: i64,
}

/// A list of subnets; `subnets_links` holds the `next`/`previous` pages
/// when paging.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SubnetList {
    subnets: Vec<SubnetDoc>,
    subnets_links: Option<Vec<Link>>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SubnetOne {
    subnet: SubnetDoc,
}

#[derive(ToSchema)]
#[schema(rename_all = "kebab-case")]
#[allow(dead_code)]
pub enum Ipv6Mode {
    Slaac,
    Dhcpv6Stateful,
    Dhcpv6Stateless,
}

/// 4 or 6.
fn ip_version() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::Integer)
        .enum_values(Some([4, 6]))
        .description(Some("4 or 6."))
        .build()
}

/// The attributes of a new subnet: `network_id`, `cidr` and `ip_version`
/// are required. Without `gateway_ip` the first host is the gateway (null
/// for none); without `allocation_pools` the rest of the range is one pool.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct SubnetCreate {
    #[schema(max_length = 36)]
    network_id: String,
    /// A network address with its prefix length, e.g. `10.0.0.0/24`.
    #[schema(max_length = 64)]
    cidr: String,
    #[schema(schema_with = ip_version)]
    ip_version: i32,
    #[schema(max_length = 255, nullable = false)]
    name: Option<String>,
    #[schema(max_length = 255, nullable = false)]
    description: Option<String>,
    /// A host address of the subnet; null for no gateway.
    gateway_ip: Option<String>,
    #[schema(nullable = false)]
    enable_dhcp: Option<bool>,
    #[schema(nullable = false)]
    allocation_pools: Option<Vec<AllocationPool>>,
    #[schema(nullable = false)]
    dns_nameservers: Option<Vec<String>>,
    #[schema(nullable = false)]
    host_routes: Option<Vec<HostRoute>>,
    #[schema(nullable = false, inline)]
    ipv6_ra_mode: Option<Ipv6Mode>,
    #[schema(nullable = false, inline)]
    ipv6_address_mode: Option<Ipv6Mode>,
    /// The owner (another project than the caller's needs an admin).
    #[schema(max_length = 255, nullable = false)]
    project_id: Option<String>,
    /// The same as `project_id`.
    #[schema(max_length = 255, nullable = false)]
    tenant_id: Option<String>,
    /// Only null: subnet pools are not offered.
    #[schema(value_type = Option<String>)]
    subnetpool_id: (),
    /// Accepted and ignored.
    #[schema(value_type = Option<Vec<String>>)]
    service_types: Option<Value>,
}

/// One subnet (`subnet`) or, in bulk, several (`subnets`), made all or
/// nothing.
#[derive(ToSchema)]
#[serde(untagged)]
#[allow(dead_code, clippy::large_enum_variant)]
pub enum SubnetCreateBody {
    One { subnet: SubnetCreate },
    Bulk { subnets: Vec<SubnetCreate> },
}

/// The new subnet, or the new subnets of a bulk request.
#[derive(ToSchema)]
#[serde(untagged)]
#[allow(dead_code, clippy::large_enum_variant)]
pub enum SubnetCreated {
    One { subnet: SubnetDoc },
    Bulk { subnets: Vec<SubnetDoc> },
}

/// The attributes a subnet update may change.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct SubnetUpdate {
    #[schema(max_length = 255, nullable = false)]
    name: Option<String>,
    #[schema(max_length = 255, nullable = false)]
    description: Option<String>,
    /// A host address of the subnet, outside its pools; null for no gateway.
    gateway_ip: Option<String>,
    #[schema(nullable = false)]
    enable_dhcp: Option<bool>,
    #[schema(nullable = false)]
    allocation_pools: Option<Vec<AllocationPool>>,
    #[schema(nullable = false)]
    dns_nameservers: Option<Vec<String>>,
    #[schema(nullable = false)]
    host_routes: Option<Vec<HostRoute>>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SubnetUpdateBody {
    subnet: SubnetUpdate,
}

crate::neutron_filters!(SubnetFilters:
    "id" = Str, "name" = Str, "description" = Str, "network_id" = Str, "project_id" = Str, "tenant_id" = Str,
    "ip_version" = Int, "cidr" = Str, "gateway_ip" = Str, "enable_dhcp" = Bool, "ipv6_ra_mode" = Str,
    "ipv6_address_mode" = Str, "dns_nameservers" = Str, "revision_number" = Int,
);

fn json_list(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|_| json!([]))
}

pub fn view(s: &Subnet) -> Value {
    json!({
        "id": s.uuid, "name": s.name, "description": s.description,
        "network_id": s.network_uuid, "project_id": s.project_id, "tenant_id": s.project_id,
        "ip_version": s.ip_version, "cidr": s.cidr, "gateway_ip": s.gateway_ip,
        "enable_dhcp": s.enable_dhcp, "allocation_pools": json_list(&s.allocation_pools),
        "dns_nameservers": json_list(&s.dns_nameservers), "host_routes": json_list(&s.host_routes),
        "ipv6_ra_mode": s.ipv6_ra_mode, "ipv6_address_mode": s.ipv6_address_mode,
        "subnetpool_id": null, "segment_id": null, "service_types": [], "tags": [],
        "created_at": ts(s.created_at), "updated_at": ts(s.updated_at), "revision_number": s.revision_number,
    })
}

/// A subnet the caller may see: one of its project's, or of a network it may see.
async fn visible(state: &NetworkState, ctx: &AuthContext, id: &str) -> Result<Subnet> {
    let uuid = id.to_string();
    let s = state.storage.read(move |c| db::subnet(c, &uuid)).await?;
    if scope(ctx).is_none_or(|p| p == s.project_id) {
        return Ok(s);
    }
    super::networks::visible(state, ctx, &s.network_uuid).await.map_err(|_| NeutronError::not_found("subnet", id))?;
    Ok(s)
}

/// Lists the subnets of the networks the caller may see.
#[utoipa::path(get, path = "/v2.0/subnets", tag = "subnets", params(SubnetFilters, ListParams),
    responses((status = 200, description = "The subnets.", body = SubnetList)))]
async fn list(caller: Caller, state: web::Data<NetworkState>, req: HttpRequest) -> Result<HttpResponse> {
    let q = ListQuery::parse(&req)?;
    let project = scope(&caller);
    let subnets = state
        .storage
        .read(move |c| {
            let nets = db::networks_visible(c, project.as_deref())?;
            db::subnets_of(c, &nets.into_iter().map(|n| n.uuid).collect::<Vec<_>>())
        })
        .await?;
    let items = subnets.iter().map(view).collect();
    Ok(HttpResponse::Ok().json(q.respond(&state, "subnets", items, &|_, _, _| None)?))
}

/// Shows a subnet.
#[utoipa::path(get, path = "/v2.0/subnets/{id}", tag = "subnets",
    params(("id" = String, Path, description = "The subnet's id."), FieldsParam),
    responses((status = 200, description = "The subnet.", body = SubnetOne)))]
async fn show(
    caller: Caller,
    state: web::Data<NetworkState>,
    id: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse> {
    let s = visible(&state, &caller, &id).await?;
    Ok(HttpResponse::Ok().json(json!({"subnet": select_fields(&req, view(&s))})))
}

fn ip_list(obj: &Map<String, Value>, key: &str) -> Result<Option<Vec<String>>> {
    let Some(v) = obj.get(key) else { return Ok(None) };
    let list = v.as_array().ok_or_else(|| NeutronError::invalid(format!("{key} must be a list")))?;
    let mut out = Vec::new();
    for item in list {
        let s = item.as_str().ok_or_else(|| NeutronError::invalid(format!("'{item}' is not a valid nameserver")))?;
        parse_ip(s)?;
        if out.iter().any(|o| o == s) {
            return Err(NeutronError::invalid(format!("Duplicate nameserver '{s}'")));
        }
        out.push(s.to_string());
    }
    Ok(Some(out))
}

fn host_routes(obj: &Map<String, Value>, ip_version: i32) -> Result<Option<Value>> {
    let Some(v) = obj.get("host_routes") else { return Ok(None) };
    let list = v.as_array().ok_or_else(|| NeutronError::invalid("host_routes must be a list"))?;
    let mut out = Vec::new();
    for r in list {
        let (Some(dest), Some(hop)) =
            (r.get("destination").and_then(Value::as_str), r.get("nexthop").and_then(Value::as_str))
        else {
            return Err(NeutronError::invalid(format!("Invalid data format for hostroute: '{r}'")));
        };
        let d = Cidr::parse(dest)?;
        let h = parse_ip(hop)?;
        if d.is_v4() != (ip_version == 4) || h.is_ipv4() != (ip_version == 4) {
            return Err(NeutronError::invalid(format!(
                "Host route {dest} via {hop} is not of IP version {ip_version}"
            )));
        }
        out.push(json!({"destination": dest, "nexthop": hop}));
    }
    Ok(Some(Value::Array(out)))
}

/// The gateway as given: absent → the default, `null` → none.
fn gateway(obj: &Map<String, Value>, cidr: &Cidr) -> Result<Option<IpAddr>> {
    match obj.get("gateway_ip") {
        None => Ok(Some(cidr.default_gateway())),
        Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let g = parse_ip(s)?;
            if !cidr.is_host(g) {
                return Err(NeutronError::invalid(format!("Gateway IP {g} is not a valid host address of {cidr}")));
            }
            Ok(Some(g))
        }
        Some(v) => Err(NeutronError::invalid(format!("'{v}' is not a valid IP address"))),
    }
}

/// Creates a subnet of a network (or several: all or nothing); it may not
/// overlap the network's other subnets.
#[utoipa::path(post, path = "/v2.0/subnets", tag = "subnets", request_body = SubnetCreateBody,
    responses((status = 201, description = "The new subnet(s).", body = SubnetCreated,
        links(("Show" = (operation_id = "subnets.show", parameters(("id" = "$response.body#/subnet/id")))), ("Update" = (operation_id = "subnets.update", parameters(("id" = "$response.body#/subnet/id")))), ("Delete" = (operation_id = "subnets.delete", parameters(("id" = "$response.body#/subnet/id"))))))))]
async fn create(caller: Caller, state: web::Data<NetworkState>, body: web::Bytes) -> Result<HttpResponse> {
    let undo = |id: String| {
        let storage = state.storage.clone();
        let push = state.contrail_push;
        async move {
            let _ = storage
                .write(move |c| {
                    let network = db::subnet(c, &id)?.network_uuid;
                    db::subnet_delete(c, &id)?;
                    network_changed(c, push, &network)
                })
                .await;
        }
    };
    let created =
        super::create_all(&body, "subnet", "subnets", CREATE, |obj| create_one(&caller, &state, obj), undo).await?;
    Ok(HttpResponse::Created().json(created))
}

async fn create_one(caller: &AuthContext, state: &NetworkState, obj: Map<String, Value>) -> Result<Value> {
    let network_id = get_str(&obj, "network_id", 36)?
        .ok_or_else(|| NeutronError::bad("Failed to parse request. Required attribute 'network_id' not specified"))?;
    if obj.get("subnetpool_id").is_some_and(|v| !v.is_null()) {
        return Err(NeutronError::invalid("subnet pools are not offered here"));
    }
    let cidr_s = get_str(&obj, "cidr", 64)?
        .ok_or_else(|| NeutronError::bad("Failed to parse request. Required attribute 'cidr' not specified"))?;
    let cidr = Cidr::parse(&cidr_s)?;
    let ip_version = match obj.get("ip_version").and_then(|v| v.as_i64().or_else(|| v.as_str()?.parse().ok())) {
        Some(4) => 4,
        Some(6) => 6,
        Some(other) => return Err(NeutronError::invalid(format!("'{other}' is not in [4, 6]"))),
        None => {
            return Err(NeutronError::bad("Failed to parse request. Required attribute 'ip_version' not specified"));
        }
    };
    if cidr.is_v4() != (ip_version == 4) {
        return Err(NeutronError::invalid("Cidr and IP version mismatch"));
    }
    let net = super::networks::visible(state, caller, &network_id).await?;
    if !owns(caller, &net.project_id) {
        return Err(NeutronError::forbidden(
            "rule:create_subnet and rule:create_subnet:network_owner is disallowed by policy",
        ));
    }
    let gw = gateway(&obj, &cidr)?;
    let pools = match obj.get("allocation_pools") {
        Some(v) => parse_pools(v, &cidr, gw)?,
        None => cidr.default_pools(gw),
    };
    let mut modes = [None, None];
    for (i, key) in ["ipv6_ra_mode", "ipv6_address_mode"].iter().enumerate() {
        if let Some(m) = get_str(&obj, key, 32)? {
            if ip_version != 6 || !V6_MODES.contains(&m.as_str()) {
                return Err(NeutronError::invalid(format!("{key} set to '{m}' is not valid for this subnet")));
            }
            modes[i] = Some(m);
        }
    }
    let t = now();
    let s = Subnet {
        uuid: new_id(),
        name: get_str(&obj, "name", 255)?.unwrap_or_default(),
        description: get_str(&obj, "description", 255)?.unwrap_or_default(),
        network_uuid: net.uuid.clone(),
        project_id: super::owner_of_new(caller, &obj)?,
        ip_version,
        cidr: cidr.to_string(),
        gateway_ip: gw.map(|g| g.to_string()),
        enable_dhcp: get_bool(&obj, "enable_dhcp")?.unwrap_or(true),
        allocation_pools: pools_json(&pools).to_string(),
        dns_nameservers: serde_json::to_string(&ip_list(&obj, "dns_nameservers")?.unwrap_or_default())
            .unwrap_or_default(),
        host_routes: host_routes(&obj, ip_version)?.unwrap_or_else(|| json!([])).to_string(),
        ipv6_ra_mode: modes[0].take(),
        ipv6_address_mode: modes[1].take(),
        revision_number: 1,
        created_at: t,
        updated_at: t,
    };
    let row = s.clone();
    let push = state.contrail_push;
    let overlap = state
        .storage
        .write(move |c| {
            sg::quota_check(c, &row.project_id, "subnet")?;
            for other in db::subnets_of(c, std::slice::from_ref(&row.network_uuid))? {
                if Cidr::parse(&other.cidr).is_ok_and(|o| o.overlaps(&cidr)) {
                    return Ok(Some(other.cidr));
                }
            }
            db::subnet_insert(c, &row)?;
            // The subnet is part of its virtual-network's IPAM ref.
            network_changed(c, push, &row.network_uuid)?;
            Ok(None)
        })
        .await?;
    if let Some(other) = overlap {
        return Err(NeutronError::invalid(format!(
            "Requested subnet with cidr: {} for network: {} overlaps with another subnet ({other})",
            s.cidr, s.network_uuid
        )));
    }
    Ok(view(&s))
}

/// Updates a subnet.
#[utoipa::path(put, path = "/v2.0/subnets/{id}", tag = "subnets",
    params(("id" = String, Path, description = "The subnet's id.")), request_body = SubnetUpdateBody,
    responses((status = 200, description = "The updated subnet.", body = SubnetOne)))]
async fn update(
    caller: Caller,
    state: web::Data<NetworkState>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse> {
    let obj = body_object(&body, "subnet", CREATE)?;
    if let Some(k) = obj.keys().find(|k| !UPDATE.contains(&k.as_str())) {
        return Err(NeutronError::bad(format!("Cannot update read-only attribute {k}")));
    }
    let mut s = visible(&state, &caller, &id).await?;
    if !owns(&caller, &s.project_id) {
        return Err(NeutronError::forbidden("rule:update_subnet is disallowed by policy"));
    }
    let cidr = Cidr::parse(&s.cidr)?;
    if let Some(v) = get_str(&obj, "name", 255)? {
        s.name = v;
    }
    if let Some(v) = get_str(&obj, "description", 255)? {
        s.description = v;
    }
    if let Some(v) = get_bool(&obj, "enable_dhcp")? {
        s.enable_dhcp = v;
    }
    if obj.contains_key("gateway_ip") {
        s.gateway_ip = gateway(&obj, &cidr)?.map(|g| g.to_string());
    }
    let gw: Option<IpAddr> = s.gateway_ip.as_deref().and_then(|g| g.parse().ok());
    if let Some(v) = obj.get("allocation_pools") {
        s.allocation_pools = pools_json(&parse_pools(v, &cidr, gw)?).to_string();
    } else if obj.contains_key("gateway_ip") {
        // a new gateway must not fall into the existing pools
        parse_pools(&serde_json::from_str(&s.allocation_pools).unwrap_or(json!([])), &cidr, gw)?;
    }
    if let Some(v) = ip_list(&obj, "dns_nameservers")? {
        s.dns_nameservers = serde_json::to_string(&v).unwrap_or_default();
    }
    if let Some(v) = host_routes(&obj, s.ip_version)? {
        s.host_routes = v.to_string();
    }
    s.updated_at = now();
    s.revision_number += 1;
    let row = s.clone();
    let push = state.contrail_push;
    state
        .storage
        .write(move |c| {
            db::subnet_update(c, &row)?;
            network_changed(c, push, &row.network_uuid)
        })
        .await?;
    Ok(HttpResponse::Ok().json(json!({"subnet": view(&s)})))
}

/// Deletes a subnet no port has an address of.
#[utoipa::path(delete, path = "/v2.0/subnets/{id}", tag = "subnets",
    params(("id" = String, Path, description = "The subnet's id.")),
    responses((status = 204, description = "Deleted.")))]
async fn delete(caller: Caller, state: web::Data<NetworkState>, id: web::Path<String>) -> Result<HttpResponse> {
    let s = visible(&state, &caller, &id).await?;
    if !owns(&caller, &s.project_id) {
        return Err(NeutronError::forbidden("rule:delete_subnet is disallowed by policy"));
    }
    let (uuid, network) = (s.uuid.clone(), s.network_uuid.clone());
    let push = state.contrail_push;
    let deleted = state.storage.write(move |c| {
        db::subnet_delete(c, &uuid)?;
        network_changed(c, push, &network)
    });
    deleted.await.map_err(|e| match e {
        StorageError::Conflict(m) => NeutronError::Conflict("SubnetInUse", m),
        other => other.into(),
    })?;
    Ok(HttpResponse::NoContent().finish())
}
