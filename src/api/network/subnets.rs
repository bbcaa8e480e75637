//! `/v2.0/subnets`: address ranges of networks, with pools, gateway, DNS
//! servers and host routes.

use std::net::IpAddr;

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};

use super::error::{NeutronError, Result};
use super::ipam::{Cidr, parse_ip, parse_pools, pools_json};
use super::{
    Caller, ListQuery, NetworkState, body_object, get_bool, get_str, new_id, now, owns, scope, select_fields, ts,
};
use crate::common::auth::AuthContext;
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

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v2.0/subnets", web::get().to(list))
        .route("/v2.0/subnets", web::post().to(create))
        .route("/v2.0/subnets/{id}", web::get().to(show))
        .route("/v2.0/subnets/{id}", web::put().to(update))
        .route("/v2.0/subnets/{id}", web::delete().to(delete));
}

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

fn routes(obj: &Map<String, Value>, ip_version: i32) -> Result<Option<Value>> {
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
        host_routes: routes(&obj, ip_version)?.unwrap_or_else(|| json!([])).to_string(),
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
    if let Some(v) = routes(&obj, s.ip_version)? {
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
