//! Portgroups (1.23+): `/v1/portgroups` and `/v1/nodes/{node}/portgroups`.

use actix_web::{HttpResponse, web};
use serde_json::{Map, Value, json};

use super::error::{BaremetalError, Result};
use super::openapi::{DetailQuery, FieldsQuery, JsonPatch, Link, PageQuery};
use super::ports::{
    MEMBER_OR_OWNER_ADMIN, NODE_GET, OWNER_ADMIN, all_rows, carried, check_mac, check_node_ident, check_unlocked,
    check_uuid, check_uuid_or_name, collection, csv, find_node, forbidden, is_logical_name, links, list_scope,
    node_not_found, now, only_keys, opt_bool, opt_object, opt_string, optional, owner_of, parse_detail, patch_roots,
    patch_values, relink_node, schema,
};
use super::{
    Api, BaremetalState, Paging, Query, apply_patch, body_object, is_uuid, json_text, only_params, parse_fields,
    select_fields, ts, ts_opt,
};
use crate::common::auth::AuthContext;
use crate::common::openapi::Routes;
use crate::storage::baremetal::{self as bm, Node, PortFilter, Portgroup, PortgroupFilter};
use crate::storage::{DbConn, StorageResult};

/// Portgroup fields in Ironic's order, with the microversion that shows them.
const FIELDS: &[(&str, u16)] = &[
    ("uuid", 1),
    ("created_at", 1),
    ("updated_at", 1),
    ("address", 1),
    ("extra", 1),
    ("internal_info", 1),
    ("mode", 26),
    ("name", 1),
    ("properties", 26),
    ("standalone_ports_supported", 1),
    ("node_uuid", 1),
    ("physical_network", 102),
    ("category", 103),
    ("dynamic_portgroup", 111),
    ("links", 1),
    ("ports", 1),
];

const FIELD_NAMES: [&str; 16] = [
    "uuid",
    "created_at",
    "updated_at",
    "address",
    "extra",
    "internal_info",
    "mode",
    "name",
    "properties",
    "standalone_ports_supported",
    "node_uuid",
    "physical_network",
    "category",
    "dynamic_portgroup",
    "links",
    "ports",
];

fn field_version(name: &str) -> u16 {
    FIELDS.iter().find(|(f, _)| *f == name).map_or(1, |(_, v)| *v)
}

/// `?fields=` gates: Ironic refuses only mode/properties and
/// dynamic_portgroup early; physical_network and category are just hidden.
fn fields_gate(name: &str) -> u16 {
    match name {
        "physical_network" | "category" => 1,
        other => field_version(other),
    }
}

const SORTABLE: &[(&str, &str)] = &[
    ("id", "id"),
    ("uuid", "uuid"),
    ("name", "COALESCE(name, '')"),
    ("address", "COALESCE(address, '')"),
    ("created_at", "created_at"),
    ("updated_at", "COALESCE(updated_at, created_at)"),
    ("mode", "COALESCE(mode, '')"),
    ("standalone_ports_supported", "standalone_ports_supported"),
    ("node_uuid", "node_uuid"),
    ("node_id", "node_uuid"),
    ("physical_network", "COALESCE(physical_network, '')"),
    ("category", "COALESCE(category, '')"),
];
const NOT_SORTABLE: &[&str] = &["extra", "internal_info", "properties"];

const POST_KEYS: &[&str] = &[
    "address",
    "category",
    "extra",
    "mode",
    "name",
    "node_uuid",
    "physical_network",
    "properties",
    "standalone_ports_supported",
    "uuid",
];

const PATCH_ALLOWED: &[&str] = &[
    "address",
    "extra",
    "mode",
    "name",
    "node_uuid",
    "properties",
    "standalone_ports_supported",
    "physical_network",
    "category",
];

// ---- documents ------------------------------------------------------------------

/// (1.23) A port group: ports of a node bonded together.
#[derive(utoipa::ToSchema)]
#[schema(as = Portgroup)]
#[allow(dead_code)]
pub struct PortgroupDoc {
    uuid: uuid::Uuid,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: Option<String>,
    /// The MAC address, lower case.
    address: Option<String>,
    #[schema(value_type = Object)]
    extra: Value,
    #[schema(value_type = Object)]
    internal_info: Value,
    /// (1.26) The bonding mode (`active-backup` unless given).
    mode: Option<String>,
    name: Option<String>,
    /// (1.26) The bond's properties.
    #[schema(value_type = Object)]
    properties: Value,
    /// Whether its ports may also be used alone.
    standalone_ports_supported: bool,
    node_uuid: uuid::Uuid,
    /// (1.102)
    physical_network: Option<String>,
    /// (1.103)
    category: Option<String>,
    /// (1.111) Always false: no port group is made dynamically.
    dynamic_portgroup: bool,
    links: Vec<Link>,
    /// The links of the port group's port list.
    ports: Vec<Link>,
}

/// A page of port groups (`uuid`, `address` and `name` unless `detail` or
/// `fields`); `next` is the next page's URL when this one is full.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct PortgroupList {
    portgroups: Vec<PortgroupDoc>,
    #[serde(default)]
    next: String,
}

/// A new port group.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct PortgroupCreate {
    node_uuid: uuid::Uuid,
    #[schema(pattern = "^[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}$")]
    address: Option<String>,
    /// A logical name (unique).
    #[schema(pattern = "^[A-Za-z0-9._~-]{1,255}$")]
    name: Option<String>,
    uuid: Option<uuid::Uuid>,
    /// (1.26) `active-backup` unless given.
    mode: Option<String>,
    /// (1.26)
    #[schema(value_type = Option<Object>)]
    properties: Option<Value>,
    /// True unless given.
    standalone_ports_supported: Option<bool>,
    /// (1.102)
    #[schema(max_length = 64)]
    physical_network: Option<String>,
    /// (1.103)
    #[schema(max_length = 80)]
    category: Option<String>,
    #[schema(value_type = Option<Object>)]
    extra: Option<Value>,
}

/// The filters of a port group listing (only one of them at a time).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct PortgroupFilters {
    /// Only the port groups of this node (UUID, or from 1.5 a name).
    node: Option<String>,
    /// Only the port group with this MAC address.
    #[param(pattern = "^[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}$")]
    address: Option<String>,
    /// (1.106) Only the port groups of nodes in these shards (comma-separated).
    shard: Option<String>,
    /// Only the port groups of nodes in these conductor groups (comma-separated).
    conductor_groups: Option<String>,
}

/// `[DEFAULT]default_portgroup_mode`.
const DEFAULT_MODE: &str = "active-backup";

/// Finds a portgroup by UUID or name.
pub(super) fn find_portgroup(c: &mut DbConn, ident: &str) -> StorageResult<Option<Portgroup>> {
    if is_uuid(ident) { optional(bm::portgroup(c, ident)) } else { bm::portgroup_by_name(c, ident) }
}

fn not_found(ident: &str) -> BaremetalError {
    BaremetalError::NotFound(format!("Portgroup {ident} could not be found."))
}

/// A portgroup as the requested microversion shows it.
fn portgroup_json(base: &str, api: &Api, p: &Portgroup) -> Map<String, Value> {
    let all = [
        ("uuid", json!(p.uuid)),
        ("created_at", ts(&p.created_at)),
        ("updated_at", ts_opt(&p.updated_at)),
        ("address", json!(p.address)),
        ("extra", json_text(&p.extra)),
        ("internal_info", json_text(&p.internal_info)),
        ("mode", json!(p.mode)),
        ("name", json!(p.name)),
        ("properties", json_text(&p.properties)),
        ("standalone_ports_supported", json!(p.standalone_ports_supported)),
        ("node_uuid", json!(p.node_uuid)),
        ("physical_network", json!(p.physical_network)),
        ("category", json!(p.category)),
        ("dynamic_portgroup", json!(false)),
        ("links", links(base, "portgroups", &p.uuid)),
        ("ports", links(base, "portgroups", &format!("{}/ports", p.uuid))),
    ];
    all.into_iter().filter(|(k, _)| api.at_least(field_version(k))).map(|(k, v)| (k.to_string(), v)).collect()
}

/// The identifier in a portgroup URL: up to 1.90 a `.json` suffix is
/// stripped, and the lookup retries with it when the stripped one is unknown.
fn url_ident(api: &Api, raw: &str) -> Result<(String, Option<String>)> {
    let stripped = super::ports::strip_json_suffix(api, raw);
    check_uuid_or_name("portgroup_ident", &stripped)?;
    Ok(if stripped != raw { (stripped, Some(raw.to_string())) } else { (stripped, None) })
}

/// Loads a portgroup and its node for `policy`, concealing portgroups of
/// nodes the caller may not see.
fn portgroup_for(
    c: &mut DbConn,
    ctx: &AuthContext,
    ident: &(String, Option<String>),
    rule: crate::common::policy::Rule,
    policy: &str,
) -> StorageResult<std::result::Result<(Portgroup, Node), BaremetalError>> {
    let mut pg = find_portgroup(c, &ident.0)?;
    if pg.is_none()
        && let Some(with_suffix) = &ident.1
    {
        pg = find_portgroup(c, with_suffix)?;
    }
    let Some(pg) = pg else { return Ok(Err(not_found(&ident.0))) };
    let node = bm::node(c, &pg.node_uuid)?;
    if !ctx.allows(NODE_GET, owner_of(&node)) {
        return Ok(Err(not_found(&ident.0)));
    }
    if !ctx.allows(rule, owner_of(&node)) {
        return Ok(Err(forbidden(policy)));
    }
    Ok(Ok((pg, node)))
}

/// A name must be a logical name.
fn check_name(name: &Option<String>, err: impl Fn(&str) -> String) -> Result<()> {
    match name {
        Some(n) if !is_logical_name(n) => Err(BaremetalError::BadRequest(err(n))),
        _ => Ok(()),
    }
}

/// Name, address and UUID are unique among portgroups.
fn check_unique(c: &mut DbConn, p: &Portgroup, new: bool) -> StorageResult<std::result::Result<(), BaremetalError>> {
    if let Some(name) = &p.name
        && let Some(other) = bm::portgroup_by_name(c, name)?
        && other.uuid != p.uuid
    {
        return Ok(Err(BaremetalError::Conflict(format!("A portgroup with name {name} already exists."))));
    }
    if let Some(address) = &p.address {
        let f = PortgroupFilter { address: Some(address.clone()), ..Default::default() };
        if bm::portgroups_list(c, &f, &all_rows())?.iter().any(|o| o.uuid != p.uuid) {
            return Ok(Err(BaremetalError::Conflict(format!(
                "A portgroup with MAC address {address} already exists."
            ))));
        }
    }
    if new && optional(bm::portgroup(c, &p.uuid))?.is_some() {
        return Ok(Err(BaremetalError::Conflict(format!("A portgroup with UUID {} already exists.", p.uuid))));
    }
    Ok(Ok(()))
}

async fn list(
    api: Api,
    state: web::Data<BaremetalState>,
    q: Query,
    parent: Option<String>,
    detail_route: bool,
) -> Result<HttpResponse> {
    api.require(23)?;
    let q = q.into_inner();
    let mut allowed = vec!["node", "address", "marker", "limit", "sort_key", "sort_dir", "shard", "conductor_groups"];
    if !detail_route {
        allowed.extend(["fields", "detail"]);
    }
    only_params(&q, &allowed)?;
    if let Some(v) = q.get("node") {
        check_uuid_or_name("node", v)?;
    }
    let address = q.get("address").map(|a| check_mac("address", a)).transpose()?;
    if let Some(v) = q.get("marker") {
        check_uuid("marker", v)?;
    }
    if q.contains_key("shard") && !api.at_least(106) {
        return Err(BaremetalError::NotAcceptable(
            "Request not acceptable. The minimal required API version should be 1.106".into(),
        ));
    }
    let fields = parse_fields(&q, &FIELD_NAMES, &api, fields_gate)?;
    if let Some(k) = q.get("sort_key") {
        api.accept(fields_gate(k))?;
    }
    let detail = parse_detail(&q, &api, 43)?;
    let project = list_scope(&api.ctx, "portgroup")?;
    let (paging, page) = Paging::parse(&q, state.max_limit, SORTABLE, NOT_SORTABLE)?;
    if NOT_SORTABLE.contains(&paging.sort_key.as_str()) {
        return Err(BaremetalError::BadRequest(format!(
            "The sort_key value {} is an invalid field for sorting",
            paging.sort_key
        )));
    }
    let node_ident = parent.clone().or_else(|| q.get("node").cloned());
    let shards = q.get("shard").map(|s| csv(s));
    let conductor_groups = q.get("conductor_groups").map(|s| csv(s));
    let given = [node_ident.is_some(), address.is_some(), shards.is_some(), conductor_groups.is_some()];
    if given.iter().filter(|x| **x).count() > 1 {
        return Err(BaremetalError::BadRequest(
            "Filtering by node, address, or shard simultaneously is not supported.".into(),
        ));
    }
    let names = api.at_least(5);
    let ctx = api.ctx.clone();
    let is_parent = parent.is_some();
    let rows = state
        .storage()
        .read(move |c| {
            let mut f = PortgroupFilter { address, project, ..Default::default() };
            if let Some(ident) = &node_ident {
                let Some(node) = find_node(c, ident, names)? else { return Ok(Err(node_not_found(ident))) };
                if is_parent && !ctx.allows(NODE_GET, owner_of(&node)) {
                    return Ok(Err(node_not_found(ident)));
                }
                f.node_uuid = Some(node.uuid);
            }
            Ok(Ok(bm::portgroups_list_in(c, &f, shards.as_deref(), conductor_groups.as_deref(), &page)?))
        })
        .await??;
    let select = match (&fields, detail_route || detail == Some(true)) {
        (Some(f), _) => Some(f.clone()),
        (None, true) => None,
        (None, false) => Some(vec!["uuid".to_string(), "address".to_string(), "name".to_string()]),
    };
    let last = rows.last().map(|p| p.uuid.clone());
    let items = rows
        .iter()
        .map(|p| {
            let m = portgroup_json(&state.base, &api, p);
            match &select {
                Some(f) => select_fields(m, f),
                None => Value::Object(m),
            }
        })
        .collect();
    let path = match &parent {
        Some(n) => format!("nodes/{n}/portgroups{}", if detail_route { "/detail" } else { "" }),
        None if detail_route => "portgroups/detail".into(),
        None => "portgroups".into(),
    };
    let extras = carried(&q, detail, &fields, &["node", "address", "shard", "conductor_groups"]);
    Ok(HttpResponse::Ok().json(collection(&state.base, "portgroups", &path, &paging, items, last, &extras)))
}

/// (1.23) Lists port groups.
#[utoipa::path(get, path = "/v1/portgroups", tag = "portgroups", params(PortgroupFilters, PageQuery, FieldsQuery, DetailQuery),
    responses((status = 200, description = "A page of port groups (`uuid`, `address` and `name` unless `detail` or `fields`).", body = PortgroupList)))]
async fn list_all(api: Api, state: web::Data<BaremetalState>, q: Query) -> Result<HttpResponse> {
    list(api, state, q, None, false).await
}

/// (1.23) Lists port groups with every field.
#[utoipa::path(get, path = "/v1/portgroups/detail", tag = "portgroups", params(PortgroupFilters, PageQuery),
    responses((status = 200, description = "A page of port groups with every field.", body = PortgroupList)))]
async fn list_detail(api: Api, state: web::Data<BaremetalState>, q: Query) -> Result<HttpResponse> {
    list(api, state, q, None, true).await
}

/// (1.24) Lists the port groups of a node.
#[utoipa::path(get, path = "/v1/nodes/{node_ident}/portgroups", tag = "portgroups",
    params(("node_ident" = String, Path, description = "A node's UUID or (1.5) name."), PortgroupFilters, PageQuery, FieldsQuery, DetailQuery),
    responses((status = 200, description = "A page of the node's port groups (`uuid`, `address` and `name` unless `detail` or `fields`).", body = PortgroupList)))]
async fn list_by_node(
    api: Api,
    state: web::Data<BaremetalState>,
    path: web::Path<String>,
    q: Query,
) -> Result<HttpResponse> {
    api.require(24)?;
    let node = path.into_inner();
    check_node_ident(&api, &node)?;
    list(api, state, q, Some(node), false).await
}

/// (1.24) Lists the port groups of a node with every field.
#[utoipa::path(get, path = "/v1/nodes/{node_ident}/portgroups/detail", tag = "portgroups",
    params(("node_ident" = String, Path, description = "A node's UUID or (1.5) name."), PortgroupFilters, PageQuery),
    responses((status = 200, description = "A page of the node's port groups with every field.", body = PortgroupList)))]
async fn list_by_node_detail(
    api: Api,
    state: web::Data<BaremetalState>,
    path: web::Path<String>,
    q: Query,
) -> Result<HttpResponse> {
    api.require(24)?;
    let node = path.into_inner();
    check_node_ident(&api, &node)?;
    list(api, state, q, Some(node), true).await
}

/// (1.23) Shows a port group.
#[utoipa::path(get, path = "/v1/portgroups/{portgroup_ident}", tag = "portgroups",
    params(("portgroup_ident" = String, Path, description = "A port group's UUID or name (up to 1.90 a `.json` suffix is ignored)."), FieldsQuery),
    responses((status = 200, description = "The port group.", body = PortgroupDoc)))]
async fn show(api: Api, state: web::Data<BaremetalState>, path: web::Path<String>, q: Query) -> Result<HttpResponse> {
    api.require(23)?;
    let q = q.into_inner();
    only_params(&q, &["fields"])?;
    let ident = url_ident(&api, &path.into_inner())?;
    let fields = parse_fields(&q, &FIELD_NAMES, &api, fields_gate)?;
    let ctx = api.ctx.clone();
    let (pg, _) =
        state.storage().read(move |c| portgroup_for(c, &ctx, &ident, NODE_GET, "baremetal:portgroup:get")).await??;
    let m = portgroup_json(&state.base, &api, &pg);
    Ok(HttpResponse::Ok().json(match &fields {
        Some(f) => select_fields(m, f),
        None => Value::Object(m),
    }))
}

/// 406 for body fields newer than the request.
fn check_versions<'a>(api: &Api, keys: impl IntoIterator<Item = &'a str>) -> Result<()> {
    for k in keys {
        api.accept(field_version(k))?;
    }
    Ok(())
}

/// (1.23) Creates a port group.
#[utoipa::path(post, path = "/v1/portgroups", tag = "portgroups", request_body = PortgroupCreate,
    responses((status = 201, description = "The new port group.", body = PortgroupDoc,
        headers(("Location" = String, description = "The new port group's URL.")))))]
async fn create(api: Api, state: web::Data<BaremetalState>, body: web::Bytes) -> Result<HttpResponse> {
    const WHAT: &str = "portgroup";
    api.require(23)?;
    let b = body_object(&body, WHAT)?;
    only_keys(&b, POST_KEYS, WHAT)?;
    let node_uuid = match b.get("node_uuid") {
        Some(Value::String(u)) => {
            check_uuid("node_uuid", u)?;
            u.clone()
        }
        Some(other) => return Err(schema(WHAT, format!("{other} is not of type 'string'"))),
        None => return Err(schema(WHAT, "'node_uuid' is a required property")),
    };
    let address = opt_string(&b, "address", None, WHAT)?.map(|a| check_mac("address", &a)).transpose()?;
    let uuid = opt_string(&b, "uuid", None, WHAT)?;
    if let Some(u) = &uuid {
        check_uuid("uuid", u)?;
    }
    let standalone = opt_bool(&b, "standalone_ports_supported", WHAT)?;
    let name = opt_string(&b, "name", None, WHAT)?;
    let mode = opt_string(&b, "mode", None, WHAT)?;
    let physical_network = opt_string(&b, "physical_network", Some(64), WHAT)?;
    let category = opt_string(&b, "category", Some(80), WHAT)?;
    let extra = opt_object(&b, "extra", WHAT)?;
    let properties = opt_object(&b, "properties", WHAT)?;
    let version_check = check_versions(&api, b.keys().map(String::as_str));
    let ctx = api.ctx.clone();
    let pg = state
        .storage()
        .write(move |c| {
            let node = optional(bm::node(c, &node_uuid))?;
            if !ctx.allows(OWNER_ADMIN, node.as_ref().map(owner_of).unwrap_or_default()) {
                return Ok(Err(forbidden("baremetal:portgroup:create")));
            }
            let Some(node) = node else {
                return Ok(Err(BaremetalError::BadRequest(format!("Node {node_uuid} could not be found."))));
            };
            if let Err(e) = version_check {
                return Ok(Err(e));
            }
            if let Err(e) = check_name(&name, |n| format!("Cannot create portgroup with invalid name '{n}'")) {
                return Ok(Err(e));
            }
            let pg = Portgroup {
                uuid: uuid.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
                name,
                node_uuid: node.uuid,
                address,
                extra,
                internal_info: "{}".into(),
                mode: Some(mode.filter(|m| !m.is_empty()).unwrap_or_else(|| DEFAULT_MODE.into())),
                properties,
                standalone_ports_supported: standalone.unwrap_or(true),
                physical_network,
                category,
                created_at: now(),
                updated_at: None,
            };
            if let Err(e) = check_unique(c, &pg, true)? {
                return Ok(Err(e));
            }
            bm::portgroup_insert(c, &pg)?;
            Ok(Ok(pg))
        })
        .await??;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("{}/v1/portgroups/{}", state.base, pg.uuid)))
        .json(portgroup_json(&state.base, &api, &pg)))
}

fn patch_doc(p: &Portgroup) -> Value {
    json!({
        "uuid": p.uuid, "name": p.name, "node_uuid": p.node_uuid, "address": p.address,
        "extra": json_text(&p.extra), "internal_info": json_text(&p.internal_info), "mode": p.mode,
        "properties": json_text(&p.properties), "standalone_ports_supported": p.standalone_ports_supported,
        "physical_network": p.physical_network, "category": p.category,
    })
}

fn patched(old: &Portgroup, doc: &Value) -> Result<Portgroup> {
    const WHAT: &str = "portgroup";
    let Value::Object(d) = doc else { return Err(schema(WHAT, "the portgroup is not an object")) };
    if !d.contains_key("mode") {
        return Err(BaremetalError::BadRequest("'mode' is a mandatory attribute and can not be removed".into()));
    }
    let address = opt_string(d, "address", None, WHAT)?.map(|a| check_mac("address", &a)).transpose()?;
    Ok(Portgroup {
        uuid: old.uuid.clone(),
        name: opt_string(d, "name", None, WHAT)?,
        node_uuid: old.node_uuid.clone(),
        address,
        extra: opt_object(d, "extra", WHAT)?,
        internal_info: old.internal_info.clone(),
        mode: opt_string(d, "mode", None, WHAT)?,
        properties: opt_object(d, "properties", WHAT)?,
        standalone_ports_supported: opt_bool(d, "standalone_ports_supported", WHAT)?.unwrap_or(true),
        physical_network: opt_string(d, "physical_network", Some(64), WHAT)?,
        category: opt_string(d, "category", Some(80), WHAT)?,
        created_at: old.created_at,
        updated_at: old.updated_at,
    })
}

/// (1.23) Updates a port group with a JSON patch.
#[utoipa::path(patch, path = "/v1/portgroups/{portgroup_ident}", tag = "portgroups",
    params(("portgroup_ident" = String, Path, description = "A port group's UUID or name (up to 1.90 a `.json` suffix is ignored).")),
    request_body = JsonPatch, responses((status = 200, description = "The updated port group.", body = PortgroupDoc)))]
async fn update(
    api: Api,
    state: web::Data<BaremetalState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse> {
    api.require(23)?;
    let raw = path.into_inner();
    let ident = url_ident(&api, &raw)?;
    let roots = patch_roots(&body, PATCH_ALLOWED)?;
    for (root, _, _) in &roots {
        api.accept(field_version(root))?;
    }
    for name in patch_values(&body, "/name") {
        if let Some(n) = name.as_str()
            && !is_logical_name(n)
        {
            return Err(BaremetalError::BadRequest(format!(
                "Portgroup {raw}: Cannot change name to invalid name '{n}'"
            )));
        }
    }
    let new_node = patch_values(&body, "/node_uuid").into_iter().next();
    let physnet_patched = roots.iter().any(|(r, _, _)| r == "physical_network");
    let ctx = api.ctx.clone();
    let inspect_wait = api.at_least(39);
    let pg = state
        .storage()
        .write(move |c| {
            let (old, mut node) =
                match portgroup_for(c, &ctx, &ident, MEMBER_OR_OWNER_ADMIN, "baremetal:portgroup:update")? {
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
            if let Err(e) = apply_patch(&mut doc, &body, PATCH_ALLOWED, "portgroup") {
                return Ok(Err(e));
            }
            let mut pg = match patched(&old, &doc) {
                Ok(p) => p,
                Err(e) => return Ok(Err(e)),
            };
            pg.node_uuid = node.uuid.clone();
            if node.provision_state == "inspecting" && inspect_wait {
                return Ok(Err(BaremetalError::Conflict(format!(
                    "Cannot update portgroup \"{}\" on node \"{}\" while it is in state \"inspecting\".",
                    pg.uuid, node.uuid
                ))));
            }
            if let Err(e) = check_unlocked(&node) {
                return Ok(Err(e));
            }
            let members = bm::ports_list(
                c,
                &PortFilter { portgroup_uuid: Some(pg.uuid.clone()), ..Default::default() },
                &all_rows(),
            )?;
            if pg.node_uuid != old.node_uuid {
                const ALLOWED: [&str; 4] = ["enroll", "inspecting", "inspect wait", "manageable"];
                if !ALLOWED.contains(&node.provision_state.as_str()) && !node.maintenance {
                    return Ok(Err(BaremetalError::Conflict(format!(
                        "Portgroup {} can not be associated to node {} unless the node is in a {} state or in \
                         maintenance mode. Current state is '{}'.",
                        pg.uuid,
                        node.uuid,
                        ALLOWED.join(", "),
                        node.provision_state
                    ))));
                }
                if !members.is_empty() {
                    return Ok(Err(BaremetalError::BadRequest(format!(
                        "Portgroup {} can not be associated with node {} because there are ports associated with \
                         this portgroup.",
                        pg.uuid, node.uuid
                    ))));
                }
            }
            if let Err(e) = check_unique(c, &pg, false)? {
                return Ok(Err(e));
            }
            if pg != old {
                pg.updated_at = Some(now());
                bm::portgroup_update(c, &pg)?;
            }
            // A portgroup's physical network is its members'.
            if physnet_patched {
                for mut p in members.into_iter().filter(|p| p.physical_network != pg.physical_network) {
                    p.physical_network = pg.physical_network.clone();
                    p.updated_at = Some(now());
                    bm::port_update(c, &p)?;
                }
            }
            Ok(Ok(pg))
        })
        .await??;
    Ok(HttpResponse::Ok().json(portgroup_json(&state.base, &api, &pg)))
}

/// (1.23) Deletes a port group that holds no ports.
#[utoipa::path(delete, path = "/v1/portgroups/{portgroup_ident}", tag = "portgroups",
    params(("portgroup_ident" = String, Path, description = "A port group's UUID or name (up to 1.90 a `.json` suffix is ignored).")),
    responses((status = 204, description = "Deleted.")))]
async fn delete(api: Api, state: web::Data<BaremetalState>, path: web::Path<String>) -> Result<HttpResponse> {
    api.require(23)?;
    let ident = url_ident(&api, &path.into_inner())?;
    let ctx = api.ctx.clone();
    state
        .storage()
        .write(move |c| {
            let (pg, node) = match portgroup_for(c, &ctx, &ident, OWNER_ADMIN, "baremetal:portgroup:delete")? {
                Ok(x) => x,
                Err(e) => return Ok(Err(e)),
            };
            if let Err(e) = check_unlocked(&node) {
                return Ok(Err(e));
            }
            if bm::portgroup_port_count(c, &pg.uuid)? > 0 {
                return Ok(Err(BaremetalError::BadRequest(format!(
                    "Cannot complete the requested action because portgroup {} contains ports.",
                    pg.uuid
                ))));
            }
            bm::portgroup_delete(c, &pg.uuid)?;
            Ok(Ok(()))
        })
        .await??;
    Ok(HttpResponse::NoContent().finish())
}

pub fn routes(r: &mut Routes) {
    crate::routes!(r;
        list_all | "/v1/portgroups/", create | "/v1/portgroups/", list_detail, show, update, delete,
        list_by_node, list_by_node_detail);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::microversion::Version;

    fn api(minor: u16) -> Api {
        Api { ctx: AuthContext::noauth(), version: Version::new(1, minor) }
    }

    fn pg() -> Portgroup {
        Portgroup {
            uuid: "u".into(),
            name: Some("pg".into()),
            node_uuid: "n".into(),
            address: None,
            extra: "{}".into(),
            internal_info: "{}".into(),
            mode: Some("active-backup".into()),
            properties: "{}".into(),
            standalone_ports_supported: true,
            physical_network: Some("physnet1".into()),
            category: None,
            created_at: chrono::NaiveDateTime::default(),
            updated_at: None,
        }
    }

    #[test]
    fn versions_hide_fields() {
        let old = portgroup_json("http://h", &api(23), &pg());
        assert!(!old.contains_key("mode") && !old.contains_key("physical_network"));
        assert!(old.contains_key("ports") && old.contains_key("standalone_ports_supported"));
        let new = portgroup_json("http://h", &api(115), &pg());
        assert_eq!(new.len(), FIELDS.len());
        assert_eq!(new["dynamic_portgroup"], false);
        assert_eq!(new["ports"][0]["href"], "http://h/v1/portgroups/u/ports");
    }

    #[test]
    fn patch_rules() {
        let old = pg();
        let mut doc = patch_doc(&old);
        apply_patch(&mut doc, br#"[{"op":"remove","path":"/mode"}]"#, PATCH_ALLOWED, "portgroup").unwrap();
        assert!(patched(&old, &doc).is_err());
        let mut doc = patch_doc(&old);
        apply_patch(
            &mut doc,
            br#"[{"op":"replace","path":"/address","value":"52:54:00:AA:00:01"},{"op":"remove","path":"/extra"}]"#,
            PATCH_ALLOWED,
            "portgroup",
        )
        .unwrap();
        let p = patched(&old, &doc).unwrap();
        assert_eq!(p.address.as_deref(), Some("52:54:00:aa:00:01"));
        assert_eq!(p.extra, "{}");
        let (ident, retry) = url_ident(&api(90), "abc.json").unwrap();
        assert_eq!((ident.as_str(), retry.as_deref()), ("abc", Some("abc.json")));
        assert!(url_ident(&api(115), "bad:name").is_err());
    }
}
