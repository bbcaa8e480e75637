//! `/v2.0/networks`: tenant and provider networks.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};

use utoipa::ToSchema;

use super::error::{NeutronError, Result};
use super::openapi::{FieldsParam, Link, ListParams};
use super::{
    Caller, ListQuery, NetworkState, body_object, get_bool, get_str, new_id, now, owns, scope, select_fields, ts,
};
use crate::common::auth::AuthContext;
use crate::common::openapi::Routes;
use crate::reporters::contrail::push::network_changed;
use crate::storage::StorageError;
use crate::storage::network::{self as db, Network};
use crate::storage::security_groups as sg;

const CREATE: &[&str] = &[
    "name",
    "description",
    "admin_state_up",
    "shared",
    "router:external",
    "mtu",
    "port_security_enabled",
    "provider:network_type",
    "provider:physical_network",
    "provider:segmentation_id",
    "project_id",
    "tenant_id",
    "availability_zone_hints",
];
const UPDATE: &[&str] =
    &["name", "description", "admin_state_up", "shared", "router:external", "mtu", "port_security_enabled"];
const NETWORK_TYPES: &[&str] = &["flat", "vlan", "vxlan", "geneve", "local"];

pub fn routes(r: &mut Routes) {
    crate::routes!(r; list, create, show, update, delete);
}

/// A network as Neutron shows it; the provider attributes only to admins.
#[derive(ToSchema)]
#[schema(as = Network)]
#[allow(dead_code)]
pub struct NetworkDoc {
    #[schema(format = Uuid)]
    id: String,
    name: String,
    description: String,
    project_id: String,
    tenant_id: String,
    admin_state_up: bool,
    /// Always `ACTIVE`.
    status: String,
    /// The ids of its subnets.
    subnets: Vec<String>,
    shared: bool,
    #[schema(rename = "router:external")]
    router_external: bool,
    mtu: i32,
    port_security_enabled: bool,
    /// Always empty.
    availability_zone_hints: Vec<String>,
    /// Always empty.
    availability_zones: Vec<String>,
    /// Always null (no address scopes).
    #[schema(value_type = Option<String>)]
    ipv4_address_scope: (),
    /// Always null (no address scopes).
    #[schema(value_type = Option<String>)]
    ipv6_address_scope: (),
    l2_adjacency: bool,
    /// Always empty.
    tags: Vec<String>,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
    revision_number: i64,
    /// (admin) `flat`, `vlan`, `vxlan`, `geneve` or `local`; null for a tenant network.
    #[schema(rename = "provider:network_type")]
    network_type: Option<String>,
    /// (admin)
    #[schema(rename = "provider:physical_network")]
    physical_network: Option<String>,
    /// (admin) The VLAN or VNI.
    #[schema(rename = "provider:segmentation_id")]
    segmentation_id: Option<i32>,
}

/// A list of networks; `networks_links` holds the `next`/`previous` pages
/// when paging.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct NetworkList {
    networks: Vec<NetworkDoc>,
    networks_links: Option<Vec<Link>>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct NetworkOne {
    network: NetworkDoc,
}

#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum NetworkType {
    Flat,
    Vlan,
    Vxlan,
    Geneve,
    Local,
}

/// The attributes of a new network. `shared`, `router:external` and the
/// provider attributes need an admin; a `vlan` network needs a physical
/// network and a segmentation id 1–4094, `vxlan`/`geneve` an id up to
/// 16777215, `flat` a physical network and no id.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct NetworkCreate {
    #[schema(max_length = 255, nullable = false)]
    name: Option<String>,
    #[schema(max_length = 255, nullable = false)]
    description: Option<String>,
    #[schema(nullable = false)]
    admin_state_up: Option<bool>,
    #[schema(nullable = false)]
    shared: Option<bool>,
    #[schema(rename = "router:external", nullable = false)]
    router_external: Option<bool>,
    #[schema(minimum = 68, maximum = 9216, nullable = false)]
    mtu: Option<i32>,
    #[schema(nullable = false)]
    port_security_enabled: Option<bool>,
    #[schema(rename = "provider:network_type", nullable = false, inline)]
    network_type: Option<NetworkType>,
    #[schema(rename = "provider:physical_network", max_length = 64)]
    physical_network: Option<String>,
    #[schema(rename = "provider:segmentation_id", minimum = 1, maximum = 16777215)]
    segmentation_id: Option<i32>,
    /// The owner (another project than the caller's needs an admin).
    #[schema(max_length = 255, nullable = false)]
    project_id: Option<String>,
    /// The same as `project_id`.
    #[schema(max_length = 255, nullable = false)]
    tenant_id: Option<String>,
    /// Accepted and ignored (no availability zones).
    #[schema(value_type = Option<Vec<String>>)]
    availability_zone_hints: Option<Value>,
}

/// One network (`network`) or, in bulk, several (`networks`), made all or
/// nothing.
#[derive(ToSchema)]
#[serde(untagged)]
#[allow(dead_code, clippy::large_enum_variant)]
pub enum NetworkCreateBody {
    One { network: NetworkCreate },
    Bulk { networks: Vec<NetworkCreate> },
}

/// The new network, or the new networks of a bulk request.
#[derive(ToSchema)]
#[serde(untagged)]
#[allow(dead_code, clippy::large_enum_variant)]
pub enum NetworkCreated {
    One { network: NetworkDoc },
    Bulk { networks: Vec<NetworkDoc> },
}

/// The attributes a network update may change (`shared` and
/// `router:external` need an admin; provider attributes cannot change).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct NetworkUpdate {
    #[schema(max_length = 255, nullable = false)]
    name: Option<String>,
    #[schema(max_length = 255, nullable = false)]
    description: Option<String>,
    #[schema(nullable = false)]
    admin_state_up: Option<bool>,
    #[schema(nullable = false)]
    shared: Option<bool>,
    #[schema(rename = "router:external", nullable = false)]
    router_external: Option<bool>,
    #[schema(minimum = 68, maximum = 9216, nullable = false)]
    mtu: Option<i32>,
    #[schema(nullable = false)]
    port_security_enabled: Option<bool>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct NetworkUpdateBody {
    network: NetworkUpdate,
}

crate::neutron_filters!(NetworkFilters:
    "id" = Str, "name" = Str, "description" = Str, "project_id" = Str, "tenant_id" = Str,
    "admin_state_up" = Bool, "status" = Str, "shared" = Bool, "router:external" = Bool, "mtu" = Int,
    "port_security_enabled" = Bool, "provider:network_type" = Str, "provider:physical_network" = Str,
    "provider:segmentation_id" = Int, "subnets" = Str, "revision_number" = Int,
);

/// A network as Neutron shows it; provider attributes only to admins.
pub fn view(ctx: &AuthContext, n: &Network, subnets: Vec<String>) -> Value {
    let mut v = json!({
        "id": n.uuid, "name": n.name, "description": n.description,
        "project_id": n.project_id, "tenant_id": n.project_id,
        "admin_state_up": n.admin_state_up, "status": "ACTIVE", "subnets": subnets,
        "shared": n.shared, "router:external": n.external, "mtu": n.mtu,
        "port_security_enabled": n.port_security_enabled,
        "availability_zone_hints": [], "availability_zones": [],
        "ipv4_address_scope": null, "ipv6_address_scope": null, "l2_adjacency": true,
        "tags": [], "created_at": ts(n.created_at), "updated_at": ts(n.updated_at),
        "revision_number": n.revision_number,
    });
    if ctx.is_admin() {
        v["provider:network_type"] = json!(n.network_type);
        v["provider:physical_network"] = json!(n.physical_network);
        v["provider:segmentation_id"] = json!(n.segmentation_id);
    }
    v
}

/// Reads a network the caller may see (others are 404).
pub async fn visible(state: &NetworkState, ctx: &AuthContext, id: &str) -> Result<Network> {
    let uuid = id.to_string();
    let n = state.storage.read(move |c| db::network(c, &uuid)).await?;
    let mine = scope(ctx).is_none_or(|p| p == n.project_id);
    if !(mine || n.shared || n.external) {
        return Err(NeutronError::not_found("network", id));
    }
    Ok(n)
}

async fn subnet_ids(state: &NetworkState, ids: Vec<String>) -> Result<std::collections::HashMap<String, Vec<String>>> {
    let subnets = state.storage.read(move |c| db::subnets_of(c, &ids)).await?;
    let mut map: std::collections::HashMap<String, Vec<String>> = std::collections::HashMap::new();
    for s in subnets {
        map.entry(s.network_uuid).or_default().push(s.uuid);
    }
    Ok(map)
}

/// Lists the networks the caller may see: its project's, shared and
/// external ones (every network for admins).
#[utoipa::path(get, path = "/v2.0/networks", tag = "networks", params(NetworkFilters, ListParams),
    responses((status = 200, description = "The networks.", body = NetworkList)))]
async fn list(caller: Caller, state: web::Data<NetworkState>, req: HttpRequest) -> Result<HttpResponse> {
    let q = ListQuery::parse(&req)?;
    let project = scope(&caller);
    let nets = state.storage.read(move |c| db::networks_visible(c, project.as_deref())).await?;
    let mut subnets = subnet_ids(&state, nets.iter().map(|n| n.uuid.clone()).collect()).await?;
    let items = nets.iter().map(|n| view(&caller, n, subnets.remove(&n.uuid).unwrap_or_default())).collect();
    Ok(HttpResponse::Ok().json(q.respond(&state, "networks", items, &|_, _, _| None)?))
}

/// Shows a network.
#[utoipa::path(get, path = "/v2.0/networks/{id}", tag = "networks",
    params(("id" = String, Path, description = "The network's id."), FieldsParam),
    responses((status = 200, description = "The network.", body = NetworkOne)))]
async fn show(
    caller: Caller,
    state: web::Data<NetworkState>,
    id: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse> {
    let n = visible(&state, &caller, &id).await?;
    let subnets = subnet_ids(&state, vec![n.uuid.clone()]).await?.remove(&n.uuid).unwrap_or_default();
    Ok(HttpResponse::Ok().json(json!({"network": select_fields(&req, view(&caller, &n, subnets))})))
}

fn check_mtu(obj: &Map<String, Value>) -> Result<Option<i32>> {
    match obj.get("mtu") {
        None => Ok(None),
        Some(v) => match v.as_i64() {
            Some(m) if (68..=9216).contains(&m) => Ok(Some(m as i32)),
            _ => Err(NeutronError::invalid(format!("'{v}' is not a valid MTU (68 to 9216)"))),
        },
    }
}

/// Admin-only attributes: `shared`, `router:external` and the provider ones.
fn admin_only(ctx: &AuthContext, obj: &Map<String, Value>) -> Result<()> {
    for key in
        ["shared", "router:external", "provider:network_type", "provider:physical_network", "provider:segmentation_id"]
    {
        if obj.contains_key(key) && !ctx.is_admin() {
            return Err(NeutronError::forbidden(format!(
                "(rule:create_network and rule:create_network:{key}) is disallowed by policy"
            )));
        }
    }
    Ok(())
}

/// Validates the provider attributes of a new network.
fn segment(obj: &Map<String, Value>) -> Result<(Option<String>, Option<String>, Option<i32>)> {
    let kind = get_str(obj, "provider:network_type", 64)?;
    let physnet = match obj.get("provider:physical_network") {
        None | Some(Value::Null) => None,
        Some(_) => get_str(obj, "provider:physical_network", 64)?,
    };
    let seg = match obj.get("provider:segmentation_id") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .ok_or_else(|| NeutronError::invalid(format!("'{v}' is not an integer segmentation id")))?,
        ),
    };
    let Some(kind) = kind else {
        if physnet.is_some() || seg.is_some() {
            return Err(NeutronError::invalid("provider:network_type required"));
        }
        return Ok((None, None, None));
    };
    if !NETWORK_TYPES.contains(&kind.as_str()) {
        return Err(NeutronError::invalid(format!("network_type value '{kind}' not supported")));
    }
    let seg = match kind.as_str() {
        "vlan" => {
            if physnet.is_none() {
                return Err(NeutronError::invalid("physical_network required for VLAN provider network"));
            }
            let id = seg.ok_or_else(|| NeutronError::invalid("segmentation_id required for VLAN provider network"))?;
            if !(1..=4094).contains(&id) {
                return Err(NeutronError::invalid(format!("segmentation_id out of range (1 through 4094), got {id}")));
            }
            Some(id as i32)
        }
        "vxlan" | "geneve" => {
            let id = seg.ok_or_else(|| {
                NeutronError::invalid(format!("segmentation_id required for {kind} provider network"))
            })?;
            if !(1..=16_777_215).contains(&id) {
                return Err(NeutronError::invalid(format!("segmentation_id {id} out of range")));
            }
            Some(id as i32)
        }
        _ => {
            if seg.is_some() {
                return Err(NeutronError::invalid(format!("segmentation_id specified for {kind} network")));
            }
            if kind == "flat" && physnet.is_none() {
                return Err(NeutronError::invalid("physical_network required for flat provider network"));
            }
            None
        }
    };
    Ok((Some(kind), physnet, seg))
}

/// Creates a network (or several: all or nothing), and the project's
/// default security group with its first one.
#[utoipa::path(post, path = "/v2.0/networks", tag = "networks", request_body = NetworkCreateBody,
    responses((status = 201, description = "The new network(s).", body = NetworkCreated,
        links(("Show" = (operation_id = "networks.show", parameters(("id" = "$response.body#/network/id")))), ("Update" = (operation_id = "networks.update", parameters(("id" = "$response.body#/network/id")))), ("Delete" = (operation_id = "networks.delete", parameters(("id" = "$response.body#/network/id")))),
        ("CreateSubnet" = (operation_id = "subnets.create", request_body = json!({"subnet": {
            "network_id": "$response.body#/network/id", "cidr": "10.20.0.0/24", "ip_version": 4}}))),
        ("CreatePort" = (operation_id = "ports.create",
            request_body = json!({"port": {"network_id": "$response.body#/network/id"}})))))))]
async fn create(caller: Caller, state: web::Data<NetworkState>, body: web::Bytes) -> Result<HttpResponse> {
    let undo = |id: String| {
        let storage = state.storage.clone();
        let push = state.contrail_push;
        async move {
            let _ = storage
                .write(move |c| {
                    db::network_delete(c, &id)?;
                    network_changed(c, push, &id)
                })
                .await;
        }
    };
    let created =
        super::create_all(&body, "network", "networks", CREATE, |obj| create_one(&caller, &state, obj), undo).await?;
    Ok(HttpResponse::Created().json(created))
}

async fn create_one(caller: &AuthContext, state: &NetworkState, obj: Map<String, Value>) -> Result<Value> {
    admin_only(caller, &obj)?;
    if !super::owns(caller, caller.project_id.as_deref().unwrap_or_default()) && !caller.is_admin() {
        return Err(NeutronError::forbidden("rule:create_network is disallowed by policy"));
    }
    let (network_type, physical_network, segmentation_id) = segment(&obj)?;
    let t = now();
    let n = Network {
        uuid: new_id(),
        name: get_str(&obj, "name", 255)?.unwrap_or_default(),
        description: get_str(&obj, "description", 255)?.unwrap_or_default(),
        project_id: super::owner_of_new(caller, &obj)?,
        admin_state_up: get_bool(&obj, "admin_state_up")?.unwrap_or(true),
        shared: get_bool(&obj, "shared")?.unwrap_or(false),
        external: get_bool(&obj, "router:external")?.unwrap_or(false),
        mtu: check_mtu(&obj)?.unwrap_or(1500),
        port_security_enabled: get_bool(&obj, "port_security_enabled")?.unwrap_or(true),
        network_type,
        physical_network,
        segmentation_id,
        revision_number: 1,
        created_at: t,
        updated_at: t,
    };
    let row = n.clone();
    let push = state.contrail_push;
    let taken = state
        .storage
        .write(move |c| {
            sg::quota_check(c, &row.project_id, "network")?;
            // Neutron makes the project's default security group with its first network.
            sg::default_group(c, &row.project_id)?;
            if let (Some(kind), Some(id)) = (&row.network_type, row.segmentation_id)
                && db::segment_taken(c, kind, row.physical_network.as_deref(), id)?
            {
                return Ok(true);
            }
            db::network_insert(c, &row)?;
            network_changed(c, push, &row.uuid)?;
            Ok(false)
        })
        .await?;
    if taken {
        return Err(NeutronError::Conflict(
            "SegmentationIdInUse",
            format!(
                "Unable to create the network. The {} segment {} on physical network {} is in use.",
                n.network_type.as_deref().unwrap_or_default(),
                n.segmentation_id.unwrap_or_default(),
                n.physical_network.as_deref().unwrap_or("-")
            ),
        ));
    }
    Ok(view(caller, &n, Vec::new()))
}

/// Updates a network.
#[utoipa::path(put, path = "/v2.0/networks/{id}", tag = "networks",
    params(("id" = String, Path, description = "The network's id.")), request_body = NetworkUpdateBody,
    responses((status = 200, description = "The updated network.", body = NetworkOne)))]
async fn update(
    caller: Caller,
    state: web::Data<NetworkState>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse> {
    let obj = body_object(&body, "network", CREATE)?;
    if let Some(k) = obj.keys().find(|k| k.starts_with("provider:")) {
        return Err(NeutronError::invalid(format!("Plugin does not support updating provider attributes ({k})")));
    }
    if let Some(k) = obj.keys().find(|k| !UPDATE.contains(&k.as_str())) {
        return Err(NeutronError::bad(format!("Cannot update read-only attribute {k}")));
    }
    let mut n = visible(&state, &caller, &id).await?;
    if !owns(&caller, &n.project_id) {
        return Err(NeutronError::forbidden("rule:update_network is disallowed by policy"));
    }
    admin_only(&caller, &obj)?;
    if let Some(v) = get_str(&obj, "name", 255)? {
        n.name = v;
    }
    if let Some(v) = get_str(&obj, "description", 255)? {
        n.description = v;
    }
    if let Some(v) = get_bool(&obj, "admin_state_up")? {
        n.admin_state_up = v;
    }
    if let Some(v) = get_bool(&obj, "shared")? {
        n.shared = v;
    }
    if let Some(v) = get_bool(&obj, "router:external")? {
        n.external = v;
    }
    if let Some(v) = check_mtu(&obj)? {
        n.mtu = v;
    }
    if let Some(v) = get_bool(&obj, "port_security_enabled")? {
        n.port_security_enabled = v;
    }
    n.updated_at = now();
    n.revision_number += 1;
    let row = n.clone();
    let push = state.contrail_push;
    state
        .storage
        .write(move |c| {
            db::network_update(c, &row)?;
            network_changed(c, push, &row.uuid)
        })
        .await?;
    let subnets = subnet_ids(&state, vec![n.uuid.clone()]).await?.remove(&n.uuid).unwrap_or_default();
    Ok(HttpResponse::Ok().json(json!({"network": view(&caller, &n, subnets)})))
}

/// Deletes a network without ports, and its subnets.
#[utoipa::path(delete, path = "/v2.0/networks/{id}", tag = "networks",
    params(("id" = String, Path, description = "The network's id.")),
    responses((status = 204, description = "Deleted.")))]
async fn delete(caller: Caller, state: web::Data<NetworkState>, id: web::Path<String>) -> Result<HttpResponse> {
    let n = visible(&state, &caller, &id).await?;
    if !owns(&caller, &n.project_id) {
        return Err(NeutronError::forbidden("rule:delete_network is disallowed by policy"));
    }
    let uuid = n.uuid.clone();
    let push = state.contrail_push;
    let deleted = state.storage.write(move |c| {
        db::network_delete(c, &uuid)?;
        network_changed(c, push, &uuid)
    });
    deleted.await.map_err(|e| match e {
        StorageError::Conflict(m) => NeutronError::Conflict("NetworkInUse", m),
        other => other.into(),
    })?;
    Ok(HttpResponse::NoContent().finish())
}
