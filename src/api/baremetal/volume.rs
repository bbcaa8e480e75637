//! The volume API (1.32+): `/v1/volume` with its connectors and targets,
//! and the same under `/v1/nodes/{node}/volume` (read-only there: writes
//! through a node path are refused as malformed).

use std::collections::HashMap;

use actix_web::{HttpResponse, web};
use serde_json::{Map, Value, json};

use super::error::{BaremetalError, Result};
use super::inspection_rules::py;
use super::openapi::{DetailQuery, FieldsQuery, JsonPatch, Link, PageQuery};
use super::ports::{
    NODE_GET, check_unlocked, collection, find_node, forbidden, list_scope, node_not_found, now, optional, owner_of,
    patch_roots, patch_values, relink_node,
};
use super::{Api, BaremetalState, Paging, Query, apply_patch, is_uuid, json_text, only_params, parse_bool, ts, ts_opt};
use crate::common::auth::AuthContext;
use crate::common::openapi::Routes;
use crate::common::policy::{Level, Owner, Rule};
use crate::storage::baremetal::{self as bm, Node};
use crate::storage::volume::{self as vol, Connector, Target, VolumeFilter};
use crate::storage::{DbConn, StorageResult};

/// `baremetal:volume:create|delete`: system member, or an admin/manager
/// of the owning or leasing project.
const CREATE_DELETE: Rule = Rule { system: Level::Member, project: Some(Level::Manager), lessee: Some(Level::Manager) };
/// `baremetal:volume:update`: system member, an owner member, or a
/// lessee admin/manager.
const UPDATE: Rule = Rule { system: Level::Member, project: Some(Level::Member), lessee: Some(Level::Manager) };

/// Provision states in which connectors and targets may be deleted
/// whatever the power state.
const DELETE_STATES: [&str; 3] = ["manageable", "enroll", "adopt failed"];

/// Which of the two collections a request is about.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Connector,
    Target,
}

impl Kind {
    /// The collection key and the URL segment.
    fn plural(self) -> &'static str {
        match self {
            Kind::Connector => "connectors",
            Kind::Target => "targets",
        }
    }

    /// The body name in schema errors and the `…_uuid` path parameter.
    fn singular(self) -> &'static str {
        match self {
            Kind::Connector => "connector",
            Kind::Target => "target",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Kind::Connector => "Volume connector",
            Kind::Target => "Volume target",
        }
    }

    fn resource(self) -> String {
        format!("volume/{}", self.plural())
    }

    /// The fields `?fields=` accepts.
    fn fields(self) -> &'static [&'static str] {
        match self {
            Kind::Connector => {
                &["connector_id", "created_at", "extra", "links", "node_uuid", "type", "updated_at", "uuid"]
            }
            Kind::Target => &[
                "boot_index",
                "created_at",
                "extra",
                "links",
                "node_uuid",
                "properties",
                "updated_at",
                "uuid",
                "volume_id",
                "volume_type",
            ],
        }
    }

    /// What a list shows without `detail` or `fields`.
    fn default_fields(self) -> &'static [&'static str] {
        match self {
            Kind::Connector => &["uuid", "node_uuid", "type", "connector_id"],
            Kind::Target => &["uuid", "node_uuid", "volume_type", "boot_index", "volume_id"],
        }
    }

    /// Public sort keys and their SQL (the first is the default).
    fn sortable(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Kind::Connector => &[
                ("id", "id"),
                ("uuid", "uuid"),
                ("node_id", "node_uuid"),
                ("type", "connector_type"),
                ("connector_id", "connector_id"),
                ("created_at", "created_at"),
                ("updated_at", "COALESCE(updated_at, created_at)"),
            ],
            Kind::Target => &[
                ("id", "id"),
                ("uuid", "uuid"),
                ("node_id", "node_uuid"),
                ("volume_type", "volume_type"),
                ("boot_index", "boot_index"),
                ("volume_id", "volume_id"),
                ("created_at", "created_at"),
                ("updated_at", "COALESCE(updated_at, created_at)"),
            ],
        }
    }

    /// Known fields that cannot be sorted on (a different message).
    fn unsortable(self) -> &'static [&'static str] {
        match self {
            Kind::Connector => &["extra"],
            Kind::Target => &["extra", "properties"],
        }
    }

    fn patchable(self) -> &'static [&'static str] {
        match self {
            Kind::Connector => &["connector_id", "extra", "node_uuid", "type"],
            Kind::Target => &["boot_index", "extra", "node_uuid", "properties", "volume_id", "volume_type"],
        }
    }

    fn not_found(self, ident: &str) -> BaremetalError {
        BaremetalError::NotFound(format!("{} {ident} could not be found.", self.title()))
    }
}

fn malformed() -> BaremetalError {
    BaremetalError::BadRequest("Malformed request URI.".into())
}

/// `what` is the body's name (`connector`, `target`) or `patch`.
fn schema_error(what: &str, msg: impl std::fmt::Display) -> BaremetalError {
    BaremetalError::BadRequest(format!("Schema error for {what}: {msg}"))
}

/// Python's rendering of a list of strings, for schema messages.
fn py_list(items: &[&str]) -> String {
    format!("[{}]", items.iter().map(|s| format!("'{s}'")).collect::<Vec<_>>().join(", "))
}

fn links(base: &str, resource: &str, id: &str) -> Value {
    super::ports::links(base, resource, id)
}

// ---- documents -------------------------------------------------------------------------

/// The volume API's root: links to its collections.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct VolumeRoot {
    links: Vec<Link>,
    connectors: Vec<Link>,
    targets: Vec<Link>,
}

/// A volume connector: how a node attaches to storage (an iSCSI
/// initiator, a WWPN, …).
#[derive(utoipa::ToSchema)]
#[schema(as = VolumeConnector)]
#[allow(dead_code)]
pub struct ConnectorDoc {
    uuid: uuid::Uuid,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: Option<String>,
    connector_id: String,
    #[schema(value_type = Object)]
    extra: Value,
    /// `iqn`, `ip`, `mac`, `wwnn`, `wwpn`, `port`, `portgroup`.
    r#type: String,
    links: Vec<Link>,
    node_uuid: uuid::Uuid,
}

/// A volume target: a volume a node uses (booting from it when its
/// `boot_index` is 0).
#[derive(utoipa::ToSchema)]
#[schema(as = VolumeTarget)]
#[allow(dead_code)]
pub struct TargetDoc {
    uuid: uuid::Uuid,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: Option<String>,
    boot_index: i64,
    #[schema(value_type = Object)]
    extra: Value,
    /// Secrets masked; redacted for callers without
    /// `baremetal:volume:view_target_properties`.
    #[schema(value_type = Object)]
    properties: Value,
    volume_id: String,
    volume_type: String,
    links: Vec<Link>,
    node_uuid: uuid::Uuid,
}

/// A page of volume connectors (`uuid`, `node_uuid`, `type`,
/// `connector_id` unless `detail` or `fields`).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct VolumeConnectorList {
    connectors: Vec<ConnectorDoc>,
    #[serde(default)]
    next: String,
}

/// A page of volume targets (`uuid`, `node_uuid`, `volume_type`,
/// `boot_index`, `volume_id` unless `detail` or `fields`).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct VolumeTargetList {
    targets: Vec<TargetDoc>,
    #[serde(default)]
    next: String,
}

/// A new volume connector.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct VolumeConnectorCreate {
    node_uuid: uuid::Uuid,
    r#type: String,
    connector_id: String,
    #[schema(value_type = Option<Object>)]
    extra: Option<Value>,
    uuid: Option<uuid::Uuid>,
}

/// A new volume target.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct VolumeTargetCreate {
    node_uuid: uuid::Uuid,
    volume_type: String,
    volume_id: String,
    boot_index: i64,
    #[schema(value_type = Option<Object>)]
    properties: Option<Value>,
    #[schema(value_type = Option<Object>)]
    extra: Option<Value>,
    uuid: Option<uuid::Uuid>,
}

// ---- rendering -----------------------------------------------------------------------

fn mask_secrets(v: &Value) -> Value {
    crate::common::secrets::masked(v)
}

/// `baremetal:volume:view_target_properties`: system readers and admins.
fn may_view_properties(ctx: &AuthContext) -> bool {
    ctx.allows(Rule::SYSTEM_READER, Owner::default()) || ctx.is_admin()
}

fn connector_json(base: &str, v: &Connector) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("uuid".into(), json!(v.uuid));
    m.insert("created_at".into(), ts(&v.created_at));
    m.insert("updated_at".into(), ts_opt(&v.updated_at));
    m.insert("connector_id".into(), json!(v.connector_id));
    m.insert("extra".into(), json_text(&v.extra));
    m.insert("type".into(), json!(v.connector_type));
    m.insert("links".into(), links(base, "volume/connectors", &v.uuid));
    m.insert("node_uuid".into(), json!(v.node_uuid));
    m
}

fn target_json(base: &str, v: &Target, show_properties: bool) -> Map<String, Value> {
    let properties = if show_properties {
        mask_secrets(&json_text(&v.properties))
    } else {
        json!({"redacted_contents": "** Value redacted: Requires permission \
               baremetal:volume:view_target_properties access. Permission denied. **"})
    };
    let mut m = Map::new();
    m.insert("uuid".into(), json!(v.uuid));
    m.insert("created_at".into(), ts(&v.created_at));
    m.insert("updated_at".into(), ts_opt(&v.updated_at));
    m.insert("boot_index".into(), json!(v.boot_index));
    m.insert("extra".into(), json_text(&v.extra));
    m.insert("properties".into(), properties);
    m.insert("volume_id".into(), json!(v.volume_id));
    m.insert("volume_type".into(), json!(v.volume_type));
    m.insert("links".into(), links(base, "volume/targets", &v.uuid));
    m.insert("node_uuid".into(), json!(v.node_uuid));
    m
}

/// Keeps `fields` (and `links`) when given.
fn selected(m: Map<String, Value>, fields: Option<&[String]>) -> Value {
    match fields {
        Some(f) => super::select_fields(m, f),
        None => Value::Object(m),
    }
}

// ---- the volume root ---------------------------------------------------------------

fn root_doc(base: &str, prefix: &str) -> Value {
    let link = |rel: &str, path: &str| {
        let href = if rel == "self" { format!("{base}/v1/{prefix}{path}") } else { format!("{base}/{prefix}{path}") };
        json!({"href": href, "rel": rel})
    };
    json!({
        "links": [link("self", ""), link("bookmark", "")],
        "connectors": [link("self", "connectors"), link("bookmark", "connectors")],
        "targets": [link("self", "targets"), link("bookmark", "targets")],
    })
}

/// (1.32) The volume API's root.
#[utoipa::path(get, path = "/v1/volume", tag = "volume",
    responses((status = 200, description = "Links to the connectors and targets.", body = VolumeRoot)))]
async fn root(api: Api, state: web::Data<BaremetalState>) -> Result<HttpResponse> {
    if !api.at_least(32) {
        return Err(BaremetalError::NotFound("The API is not supported for this version".into()));
    }
    if !api.ctx.allows(NODE_GET, Owner::default()) && api.ctx.project_level().is_none() {
        return Err(forbidden("baremetal:volume:get"));
    }
    Ok(HttpResponse::Ok().json(root_doc(&state.base, "volume/")))
}

/// (1.32) The volume API's root for a node.
#[utoipa::path(get, path = "/v1/nodes/{node}/volume", tag = "volume", params(("node" = String, Path, description = "A node's UUID or name.")),
    responses((status = 200, description = "Links to the node's connectors and targets.", body = VolumeRoot)))]
async fn node_root(api: Api, state: web::Data<BaremetalState>, path: web::Path<String>) -> Result<HttpResponse> {
    if !api.at_least(32) {
        return Err(BaremetalError::NotFound("The API is not supported for this version".into()));
    }
    if !api.ctx.allows(NODE_GET, Owner::default()) && api.ctx.project_level().is_none() {
        return Err(forbidden("baremetal:volume:get"));
    }
    Ok(HttpResponse::Ok().json(root_doc(&state.base, &format!("nodes/{}/volume/", path.into_inner()))))
}

// ---- lists ---------------------------------------------------------------------------

/// `?fields=` against the kind's field list.
fn list_fields(q: &HashMap<String, String>, kind: Kind) -> Result<Option<Vec<String>>> {
    let Some(raw) = q.get("fields") else { return Ok(None) };
    let mut out = Vec::new();
    for f in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if !kind.fields().contains(&f) {
            return Err(BaremetalError::BadRequest(format!(
                "Schema error: '{f}' is not one of {}",
                py_list(kind.fields())
            )));
        }
        out.push(f.to_string());
    }
    Ok(Some(out))
}

async fn list(
    api: Api,
    state: web::Data<BaremetalState>,
    q: Query,
    parent: Option<String>,
    kind: Kind,
) -> Result<HttpResponse> {
    api.require(32)?;
    let q = q.into_inner();
    only_params(&q, &["node", "marker", "limit", "sort_key", "sort_dir", "fields", "detail"])?;
    if let Some(n) = q.get("node")
        && !is_uuid(n)
        && !super::ports::is_logical_name(n)
    {
        return Err(BaremetalError::BadRequest(format!("Expected UUID or name for node: {n}")));
    }
    if let Some(m) = q.get("marker")
        && !is_uuid(m)
    {
        return Err(BaremetalError::BadRequest(format!("Expected UUID for marker: {m}")));
    }
    if let Some(l) = q.get("limit")
        && l.parse::<i64>().is_err()
    {
        return Err(BaremetalError::BadRequest(format!("Expected an integer for limit: {l}")));
    }
    let detail = q.get("detail").map(|d| parse_bool("detail", d)).transpose()?;
    let explicit_fields = list_fields(&q, kind)?;
    if let Some(d) = q.get("sort_dir")
        && d != "asc"
        && d != "desc"
    {
        return Err(BaremetalError::BadRequest(format!("Schema error: '{d}' is not one of ['asc', 'desc']")));
    }
    let project = list_scope(&api.ctx, "volume")?;
    let fields: Option<Vec<String>> = match (&explicit_fields, detail) {
        (Some(f), _) => Some(f.clone()),
        (None, Some(true)) => None,
        (None, _) => Some(kind.default_fields().iter().map(|s| s.to_string()).collect()),
    };
    if fields.is_some() && detail == Some(true) {
        return Err(BaremetalError::BadRequest("Can't fetch a subset of fields with 'detail' set".into()));
    }
    let sort_key = q.get("sort_key").cloned().unwrap_or_else(|| "id".into());
    if kind.unsortable().contains(&sort_key.as_str()) {
        return Err(BaremetalError::BadRequest(format!(
            "The sort_key value {sort_key} is an invalid field for sorting"
        )));
    }
    if !kind.sortable().iter().any(|(k, _)| *k == sort_key) {
        return Err(BaremetalError::BadRequest(format!(
            "The sort_key value \"{sort_key}\" is an invalid field for sorting"
        )));
    }
    let (paging, page) = Paging::parse(&q, state.max_limit, kind.sortable(), kind.unsortable())?;
    let node_ident = parent.clone().or_else(|| q.get("node").cloned());
    let ctx = api.ctx.clone();
    let is_parent = parent.is_some();
    let show_properties = may_view_properties(&api.ctx);
    let base = state.base.clone();
    let (items, last) = state
        .storage()
        .read(move |c| {
            if let Some(m) = &page.marker {
                let exists = match kind {
                    Kind::Connector => optional(vol::connector(c, m))?.is_some(),
                    Kind::Target => optional(vol::target(c, m))?.is_some(),
                };
                if !exists {
                    return Ok(Err(kind.not_found(m)));
                }
            }
            let mut f = VolumeFilter { project, ..Default::default() };
            if let Some(ident) = &node_ident {
                let Some(node) = find_node(c, ident, true)? else { return Ok(Err(node_not_found(ident))) };
                if is_parent && !ctx.allows(NODE_GET, owner_of(&node)) {
                    return Ok(Err(node_not_found(ident)));
                }
                f.node_uuid = Some(node.uuid);
            }
            let rendered: Vec<(String, Map<String, Value>)> = match kind {
                Kind::Connector => vol::connectors_list(c, &f, &page)?
                    .iter()
                    .map(|v| (v.uuid.clone(), connector_json(&base, v)))
                    .collect(),
                Kind::Target => vol::targets_list(c, &f, &page)?
                    .iter()
                    .map(|v| (v.uuid.clone(), target_json(&base, v, show_properties)))
                    .collect(),
            };
            let last = rendered.last().map(|(u, _)| u.clone());
            Ok(Ok((rendered.into_iter().map(|(_, m)| m).collect::<Vec<_>>(), last)))
        })
        .await??;
    let items: Vec<Value> = items.into_iter().map(|m| selected(m, fields.as_deref())).collect();
    let mut extras = Vec::new();
    if detail == Some(true) {
        extras.push(("detail".to_string(), "True".to_string()));
    }
    if let Some(f) = &fields {
        extras.push(("fields".to_string(), f.join(",")));
    }
    Ok(HttpResponse::Ok().json(collection(&state.base, kind.plural(), &kind.resource(), &paging, items, last, &extras)))
}

/// (1.32) The volume connectors.
#[utoipa::path(get, path = "/v1/volume/connectors", tag = "volume",
    params(("node" = Option<String>, Query, description = "Only those of this node (UUID or name)."), PageQuery, FieldsQuery, DetailQuery),
    responses((status = 200, description = "A page of volume connectors.", body = VolumeConnectorList)))]
async fn list_connectors(api: Api, state: web::Data<BaremetalState>, q: Query) -> Result<HttpResponse> {
    list(api, state, q, None, Kind::Connector).await
}

/// (1.32) The volume targets.
#[utoipa::path(get, path = "/v1/volume/targets", tag = "volume",
    params(("node" = Option<String>, Query, description = "Only those of this node (UUID or name)."), PageQuery, FieldsQuery, DetailQuery),
    responses((status = 200, description = "A page of volume targets.", body = VolumeTargetList)))]
async fn list_targets(api: Api, state: web::Data<BaremetalState>, q: Query) -> Result<HttpResponse> {
    list(api, state, q, None, Kind::Target).await
}

/// (1.32) The volume connectors of a node.
#[utoipa::path(get, path = "/v1/nodes/{node}/volume/connectors", tag = "volume",
    params(("node" = String, Path, description = "A node's UUID or name."), PageQuery, FieldsQuery, DetailQuery),
    responses((status = 200, description = "A page of the node's volume connectors.", body = VolumeConnectorList)))]
async fn node_connectors(
    api: Api,
    state: web::Data<BaremetalState>,
    path: web::Path<String>,
    q: Query,
) -> Result<HttpResponse> {
    list(api, state, q, Some(path.into_inner()), Kind::Connector).await
}

/// (1.32) The volume targets of a node.
#[utoipa::path(get, path = "/v1/nodes/{node}/volume/targets", tag = "volume",
    params(("node" = String, Path, description = "A node's UUID or name."), PageQuery, FieldsQuery, DetailQuery),
    responses((status = 200, description = "A page of the node's volume targets.", body = VolumeTargetList)))]
async fn node_targets(
    api: Api,
    state: web::Data<BaremetalState>,
    path: web::Path<String>,
    q: Query,
) -> Result<HttpResponse> {
    list(api, state, q, Some(path.into_inner()), Kind::Target).await
}

// ---- single objects ----------------------------------------------------------------

/// Either object, with the node it belongs to.
enum Object {
    Connector(Connector),
    Target(Target),
}

impl Object {
    fn node_uuid(&self) -> &str {
        match self {
            Object::Connector(v) => &v.node_uuid,
            Object::Target(v) => &v.node_uuid,
        }
    }
}

/// A connector's or target's UUID from the path, as stored (lower case,
/// hyphenated).
fn check_ident(kind: Kind, ident: &str) -> Result<String> {
    if let Ok(u) = uuid::Uuid::parse_str(ident) {
        Ok(u.to_string())
    } else {
        Err(BaremetalError::BadRequest(format!("Expected UUID for {}_uuid: {ident}", kind.singular())))
    }
}

/// Loads an object for `rule`: 404 when it is missing or its node is
/// concealed from the caller, 403 when the caller may see but not act.
fn load(
    c: &mut DbConn,
    ctx: &AuthContext,
    kind: Kind,
    ident: &str,
    rule: Rule,
    policy: &str,
) -> StorageResult<std::result::Result<(Object, Option<Node>), BaremetalError>> {
    let obj = match kind {
        Kind::Connector => optional(vol::connector(c, ident))?.map(Object::Connector),
        Kind::Target => optional(vol::target(c, ident))?.map(Object::Target),
    };
    let Some(obj) = obj else { return Ok(Err(kind.not_found(ident))) };
    let node = optional(bm::node(c, obj.node_uuid()))?;
    let owner = node.as_ref().map(owner_of).unwrap_or_default();
    if !ctx.allows(NODE_GET, owner) {
        return Ok(Err(kind.not_found(ident)));
    }
    if !ctx.allows(rule, owner) {
        return Ok(Err(forbidden(policy)));
    }
    Ok(Ok((obj, node)))
}

async fn show(
    api: Api,
    state: web::Data<BaremetalState>,
    q: Query,
    ident: String,
    parent: bool,
    kind: Kind,
) -> Result<HttpResponse> {
    api.require(32)?;
    let q = q.into_inner();
    only_params(&q, &["fields"])?;
    let ident = check_ident(kind, &ident)?;
    let fields = list_fields(&q, kind)?;
    let ctx = api.ctx.clone();
    let (obj, _) =
        state.storage().read(move |c| load(c, &ctx, kind, &ident, NODE_GET, "baremetal:volume:get")).await??;
    if parent {
        return Err(malformed());
    }
    let m = match &obj {
        Object::Connector(v) => connector_json(&state.base, v),
        Object::Target(v) => target_json(&state.base, v, may_view_properties(&api.ctx)),
    };
    Ok(HttpResponse::Ok().json(selected(m, fields.as_deref())))
}

/// (1.32) A volume connector.
#[utoipa::path(get, path = "/v1/volume/connectors/{uuid}", tag = "volume", params(("uuid" = uuid::Uuid, Path), FieldsQuery),
    responses((status = 200, description = "The volume connector.", body = ConnectorDoc)))]
async fn show_connector(
    api: Api,
    state: web::Data<BaremetalState>,
    path: web::Path<String>,
    q: Query,
) -> Result<HttpResponse> {
    show(api, state, q, path.into_inner(), false, Kind::Connector).await
}

/// (1.32) A volume target.
#[utoipa::path(get, path = "/v1/volume/targets/{uuid}", tag = "volume", params(("uuid" = uuid::Uuid, Path), FieldsQuery),
    responses((status = 200, description = "The volume target.", body = TargetDoc)))]
async fn show_target(
    api: Api,
    state: web::Data<BaremetalState>,
    path: web::Path<String>,
    q: Query,
) -> Result<HttpResponse> {
    show(api, state, q, path.into_inner(), false, Kind::Target).await
}

/// (1.32) A volume connector through its node: always refused.
///
/// Refused through a node path (400 `Malformed request URI.`), as in Ironic; use the `/v1/volume/…` path.
#[utoipa::path(get, path = "/v1/nodes/{node}/volume/connectors/{uuid}", tag = "volume",
    params(("node" = String, Path, description = "A node's UUID or name."), ("uuid" = uuid::Uuid, Path), FieldsQuery), responses())]
async fn node_show_connector(
    api: Api,
    state: web::Data<BaremetalState>,
    path: web::Path<(String, String)>,
    q: Query,
) -> Result<HttpResponse> {
    show(api, state, q, path.into_inner().1, true, Kind::Connector).await
}

/// (1.32) A volume target through its node: always refused.
///
/// Refused through a node path (400 `Malformed request URI.`), as in Ironic; use the `/v1/volume/…` path.
#[utoipa::path(get, path = "/v1/nodes/{node}/volume/targets/{uuid}", tag = "volume",
    params(("node" = String, Path, description = "A node's UUID or name."), ("uuid" = uuid::Uuid, Path), FieldsQuery), responses())]
async fn node_show_target(
    api: Api,
    state: web::Data<BaremetalState>,
    path: web::Path<(String, String)>,
    q: Query,
) -> Result<HttpResponse> {
    show(api, state, q, path.into_inner().1, true, Kind::Target).await
}

// ---- body validation ---------------------------------------------------------------

/// A required (or optional) string field.
fn body_string(what: &str, b: &Map<String, Value>, key: &str) -> Result<Option<String>> {
    match b.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(schema_error(what, format!("{} is not of type 'string'", py(other)))),
    }
}

fn body_object_field(what: &str, b: &Map<String, Value>, key: &str) -> Result<String> {
    match b.get(key) {
        None | Some(Value::Null) => Ok("{}".into()),
        Some(v @ Value::Object(_)) => Ok(v.to_string()),
        Some(other) => Err(schema_error(what, format!("{} is not of type 'object', 'null'", py(other)))),
    }
}

/// The fields of a connector or target body (create, or a patched copy),
/// checked as Ironic's schema does.
struct Fields {
    uuid: Option<String>,
    node_uuid: String,
    /// Connector `type` or target `volume_type`.
    kind_name: String,
    /// Connector `connector_id` or target `volume_id`.
    id: String,
    boot_index: i64,
    properties: String,
    extra: String,
}

fn check_body(kind: Kind, b: &Map<String, Value>, what: &str) -> Result<Fields> {
    let (allowed, required): (&[&str], &[&str]) = match kind {
        Kind::Connector => {
            (&["connector_id", "extra", "node_uuid", "type", "uuid"], &["connector_id", "node_uuid", "type"])
        }
        Kind::Target => (
            &["boot_index", "extra", "node_uuid", "properties", "uuid", "volume_id", "volume_type"],
            &["boot_index", "node_uuid", "volume_id", "volume_type"],
        ),
    };
    for r in required {
        if !b.contains_key(*r) {
            return Err(schema_error(what, format!("'{r}' is a required property")));
        }
    }
    if let Some(k) = b.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(schema_error(what, format!("Additional properties are not allowed ('{k}' was unexpected)")));
    }
    let uuid = match b.get("uuid") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => return Err(schema_error(what, format!("{} is not of type 'string', 'null'", py(other)))),
    };
    let (name_key, id_key) = match kind {
        Kind::Connector => ("type", "connector_id"),
        Kind::Target => ("volume_type", "volume_id"),
    };
    let node_uuid = body_string(what, b, "node_uuid")?.unwrap_or_default();
    let kind_name = body_string(what, b, name_key)?.unwrap_or_default();
    let id = body_string(what, b, id_key)?.unwrap_or_default();
    let boot_index = match (kind, b.get("boot_index")) {
        (Kind::Target, Some(v)) => match v.as_i64() {
            Some(i) => i,
            None => return Err(schema_error(what, format!("{} is not of type 'integer'", py(v)))),
        },
        _ => 0,
    };
    let properties = if kind == Kind::Target { body_object_field(what, b, "properties")? } else { "{}".into() };
    let extra = body_object_field(what, b, "extra")?;
    if !is_uuid(&node_uuid) {
        return Err(BaremetalError::BadRequest(format!("Expected UUID for node_uuid: {node_uuid}")));
    }
    let uuid = match uuid {
        Some(u) => match uuid::Uuid::parse_str(&u) {
            Ok(x) => Some(x.to_string()),
            Err(_) => return Err(BaremetalError::BadRequest(format!("Expected UUID for uuid: {u}"))),
        },
        None => None,
    };
    Ok(Fields { uuid, node_uuid, kind_name, id, boot_index, properties, extra })
}

/// 409 when another object has the connector's (type, connector_id) or
/// the target's (node, boot_index).
fn check_unique(c: &mut DbConn, obj: &Object) -> StorageResult<std::result::Result<(), BaremetalError>> {
    match obj {
        Object::Connector(v) => {
            if let Some(o) = vol::connector_by_type_and_id(c, &v.connector_type, &v.connector_id)?
                && o.uuid != v.uuid
            {
                return Ok(Err(BaremetalError::Conflict(format!(
                    "A volume connector with type {} and connector ID {} already exists.",
                    v.connector_type, v.connector_id
                ))));
            }
        }
        Object::Target(v) => {
            if let Some(o) = vol::target_by_boot_index(c, &v.node_uuid, v.boot_index)?
                && o.uuid != v.uuid
            {
                return Ok(Err(BaremetalError::Conflict(format!(
                    "A volume target with boot index '{}' for the same node already exists.",
                    v.boot_index
                ))));
            }
        }
    }
    Ok(Ok(()))
}

// ---- create ----------------------------------------------------------------------------

async fn create(
    api: Api,
    state: web::Data<BaremetalState>,
    body: web::Bytes,
    parent: bool,
    kind: Kind,
) -> Result<HttpResponse> {
    api.require(32)?;
    let b = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(m)) => m,
        Ok(other) => return Err(schema_error(kind.singular(), format!("{} is not of type 'object'", py(&other)))),
        Err(e) => return Err(BaremetalError::BadRequest(format!("Invalid JSON body: {e}"))),
    };
    let f = check_body(kind, &b, kind.singular())?;
    let ctx = api.ctx.clone();
    let show_properties = may_view_properties(&api.ctx);
    let obj = state
        .storage()
        .write(move |c| {
            let node = optional(bm::node(c, &f.node_uuid.to_lowercase()))?;
            if !ctx.allows(CREATE_DELETE, node.as_ref().map(owner_of).unwrap_or_default()) {
                return Ok(Err(forbidden("baremetal:volume:create")));
            }
            let Some(node) = node else {
                return Ok(Err(BaremetalError::BadRequest(format!(
                    "Invalid input for field/attribute node_uuid. Value: '{}'. ",
                    f.node_uuid
                ))));
            };
            if parent {
                return Ok(Err(malformed()));
            }
            let uuid = f.uuid.clone().unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
            let obj = match kind {
                Kind::Connector => Object::Connector(Connector {
                    uuid,
                    node_uuid: node.uuid,
                    connector_type: f.kind_name,
                    connector_id: f.id,
                    extra: f.extra,
                    created_at: now(),
                    updated_at: None,
                }),
                Kind::Target => Object::Target(Target {
                    uuid,
                    node_uuid: node.uuid,
                    volume_type: f.kind_name,
                    properties: f.properties,
                    boot_index: f.boot_index,
                    volume_id: f.id,
                    extra: f.extra,
                    created_at: now(),
                    updated_at: None,
                }),
            };
            let taken = match &obj {
                Object::Connector(v) => optional(vol::connector(c, &v.uuid))?.is_some(),
                Object::Target(v) => optional(vol::target(c, &v.uuid))?.is_some(),
            };
            if taken {
                let (what, u) = match &obj {
                    Object::Connector(v) => ("connector", &v.uuid),
                    Object::Target(v) => ("target", &v.uuid),
                };
                return Ok(Err(BaremetalError::Conflict(format!("A volume {what} with UUID {u} already exists."))));
            }
            if let Err(e) = check_unique(c, &obj)? {
                return Ok(Err(e));
            }
            match &obj {
                Object::Connector(v) => vol::connector_insert(c, v)?,
                Object::Target(v) => vol::target_insert(c, v)?,
            }
            Ok(Ok(obj))
        })
        .await??;
    let (uuid, m) = match &obj {
        Object::Connector(v) => (v.uuid.clone(), connector_json(&state.base, v)),
        Object::Target(v) => (v.uuid.clone(), target_json(&state.base, v, show_properties)),
    };
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("{}/v1/{}/{uuid}", state.base, kind.resource())))
        .json(m))
}

/// (1.32) Creates a volume connector.
#[utoipa::path(post, path = "/v1/volume/connectors", tag = "volume", request_body = VolumeConnectorCreate,
    responses((status = 201, description = "The new volume connector.", body = ConnectorDoc)))]
async fn create_connector(api: Api, state: web::Data<BaremetalState>, body: web::Bytes) -> Result<HttpResponse> {
    create(api, state, body, false, Kind::Connector).await
}

/// (1.32) Creates a volume target.
#[utoipa::path(post, path = "/v1/volume/targets", tag = "volume", request_body = VolumeTargetCreate,
    responses((status = 201, description = "The new volume target.", body = TargetDoc)))]
async fn create_target(api: Api, state: web::Data<BaremetalState>, body: web::Bytes) -> Result<HttpResponse> {
    create(api, state, body, false, Kind::Target).await
}

/// (1.32) Creates a volume connector through a node: always refused.
///
/// Refused through a node path (400 `Malformed request URI.`), as in Ironic; use the `/v1/volume/…` path.
#[utoipa::path(post, path = "/v1/nodes/{node}/volume/connectors", tag = "volume", params(("node" = String, Path, description = "A node's UUID or name.")),
    request_body = VolumeConnectorCreate, responses())]
async fn node_create_connector(
    api: Api,
    state: web::Data<BaremetalState>,
    body: web::Bytes,
    _path: web::Path<String>,
) -> Result<HttpResponse> {
    create(api, state, body, true, Kind::Connector).await
}

/// (1.32) Creates a volume target through a node: always refused.
///
/// Refused through a node path (400 `Malformed request URI.`), as in Ironic; use the `/v1/volume/…` path.
#[utoipa::path(post, path = "/v1/nodes/{node}/volume/targets", tag = "volume", params(("node" = String, Path, description = "A node's UUID or name.")),
    request_body = VolumeTargetCreate, responses())]
async fn node_create_target(
    api: Api,
    state: web::Data<BaremetalState>,
    body: web::Bytes,
    _path: web::Path<String>,
) -> Result<HttpResponse> {
    create(api, state, body, true, Kind::Target).await
}

// ---- update ------------------------------------------------------------------------------

/// The patchable document of an object (`node_uuid` included).
fn patch_doc(obj: &Object) -> Value {
    match obj {
        Object::Connector(v) => json!({
            "uuid": v.uuid, "node_uuid": v.node_uuid, "type": v.connector_type,
            "connector_id": v.connector_id, "extra": json_text(&v.extra),
        }),
        Object::Target(v) => json!({
            "uuid": v.uuid, "node_uuid": v.node_uuid, "volume_type": v.volume_type,
            "properties": json_text(&v.properties), "boot_index": v.boot_index,
            "volume_id": v.volume_id, "extra": json_text(&v.extra),
        }),
    }
}

/// The object a patched document describes, after Ironic's schema checks.
fn patched(kind: Kind, old: &Object, doc: &Value, node_uuid: &str) -> Result<Object> {
    let Value::Object(d) = doc else { return Err(schema_error("patch", "the patched object is not an object")) };
    let mut d = d.clone();
    d.insert("node_uuid".into(), json!(node_uuid));
    if d.get("uuid").is_some_and(Value::is_null) {
        d.remove("uuid");
    }
    let f = check_body(kind, &d, "patch")?;
    Ok(match old {
        Object::Connector(v) => Object::Connector(Connector {
            uuid: v.uuid.clone(),
            node_uuid: node_uuid.to_string(),
            connector_type: f.kind_name,
            connector_id: f.id,
            extra: f.extra,
            created_at: v.created_at,
            updated_at: v.updated_at,
        }),
        Object::Target(v) => Object::Target(Target {
            uuid: v.uuid.clone(),
            node_uuid: node_uuid.to_string(),
            volume_type: f.kind_name,
            properties: f.properties,
            boot_index: f.boot_index,
            volume_id: f.id,
            extra: f.extra,
            created_at: v.created_at,
            updated_at: v.updated_at,
        }),
    })
}

fn invalid_state(kind: Kind, action: &str, node: &Node) -> BaremetalError {
    BaremetalError::BadRequest(format!(
        "The requested action \"volume {} {action}\" can not be performed on node \"{}\" while it is in state \"{}\".",
        kind.singular(),
        node.uuid,
        node.power_state.as_deref().unwrap_or("None")
    ))
}

async fn update(
    api: Api,
    state: web::Data<BaremetalState>,
    ident: String,
    body: web::Bytes,
    parent: bool,
    kind: Kind,
) -> Result<HttpResponse> {
    api.require(32)?;
    let ident = check_ident(kind, &ident)?;
    let ctx = api.ctx.clone();
    let show_properties = may_view_properties(&api.ctx);
    let obj = state
        .storage()
        .write(move |c| {
            let (old, node) = match load(c, &ctx, kind, &ident, UPDATE, "baremetal:volume:update")? {
                Ok(x) => x,
                Err(e) => return Ok(Err(e)),
            };
            if parent {
                return Ok(Err(malformed()));
            }
            if let Err(e) = patch_roots(&body, kind.patchable()) {
                return Ok(Err(e));
            }
            let new_node = patch_values(&body, "/node_uuid").into_iter().next();
            if let Some(v) = &new_node
                && !v.as_str().is_some_and(is_uuid)
            {
                let shown = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                return Ok(Err(BaremetalError::BadRequest(format!(
                    "Expected a UUID for node_uuid, but received {shown}."
                ))));
            }
            let Some(mut node) = node else { return Ok(Err(node_not_found(old.node_uuid()))) };
            if let Some(target) = &new_node {
                node = match relink_node(c, &ctx, &node, target, "node_uuid")? {
                    Ok(n) => n,
                    Err(e) => return Ok(Err(e)),
                };
            }
            let mut doc = patch_doc(&old);
            if let Err(e) = apply_patch(&mut doc, &body, kind.patchable(), kind.singular()) {
                return Ok(Err(e));
            }
            let new = match patched(kind, &old, &doc, &node.uuid) {
                Ok(o) => o,
                Err(e) => return Ok(Err(e)),
            };
            if let Err(e) = check_unlocked(&node) {
                return Ok(Err(e));
            }
            if node.power_state.as_deref() != Some("power off") {
                return Ok(Err(invalid_state(kind, "update", &node)));
            }
            if let Err(e) = check_unique(c, &new)? {
                return Ok(Err(e));
            }
            let new = match new {
                Object::Connector(mut v) => {
                    if Object::Connector(v.clone()) != old {
                        v.updated_at = Some(now());
                        vol::connector_update(c, &v)?;
                    }
                    Object::Connector(v)
                }
                Object::Target(mut v) => {
                    if Object::Target(v.clone()) != old {
                        v.updated_at = Some(now());
                        vol::target_update(c, &v)?;
                    }
                    Object::Target(v)
                }
            };
            Ok(Ok(new))
        })
        .await??;
    let m = match &obj {
        Object::Connector(v) => connector_json(&state.base, v),
        Object::Target(v) => target_json(&state.base, v, show_properties),
    };
    Ok(HttpResponse::Ok().json(m))
}

impl PartialEq for Object {
    fn eq(&self, other: &Object) -> bool {
        match (self, other) {
            (Object::Connector(a), Object::Connector(b)) => a == b,
            (Object::Target(a), Object::Target(b)) => a == b,
            _ => false,
        }
    }
}

/// (1.32) Updates a volume connector; its node must be powered off.
#[utoipa::path(patch, path = "/v1/volume/connectors/{uuid}", tag = "volume", params(("uuid" = uuid::Uuid, Path)),
    request_body = JsonPatch,
    responses((status = 200, description = "The updated volume connector.", body = ConnectorDoc)))]
async fn update_connector(
    api: Api,
    state: web::Data<BaremetalState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse> {
    update(api, state, path.into_inner(), body, false, Kind::Connector).await
}

/// (1.32) Updates a volume target; its node must be powered off.
#[utoipa::path(patch, path = "/v1/volume/targets/{uuid}", tag = "volume", params(("uuid" = uuid::Uuid, Path)),
    request_body = JsonPatch,
    responses((status = 200, description = "The updated volume target.", body = TargetDoc)))]
async fn update_target(
    api: Api,
    state: web::Data<BaremetalState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse> {
    update(api, state, path.into_inner(), body, false, Kind::Target).await
}

/// (1.32) Updates a volume connector through its node: always refused.
///
/// Refused through a node path (400 `Malformed request URI.`), as in Ironic; use the `/v1/volume/…` path.
#[utoipa::path(patch, path = "/v1/nodes/{node}/volume/connectors/{uuid}", tag = "volume",
    params(("node" = String, Path, description = "A node's UUID or name."), ("uuid" = uuid::Uuid, Path)), request_body = JsonPatch, responses())]
async fn node_update_connector(
    api: Api,
    state: web::Data<BaremetalState>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse> {
    update(api, state, path.into_inner().1, body, true, Kind::Connector).await
}

/// (1.32) Updates a volume target through its node: always refused.
///
/// Refused through a node path (400 `Malformed request URI.`), as in Ironic; use the `/v1/volume/…` path.
#[utoipa::path(patch, path = "/v1/nodes/{node}/volume/targets/{uuid}", tag = "volume",
    params(("node" = String, Path, description = "A node's UUID or name."), ("uuid" = uuid::Uuid, Path)), request_body = JsonPatch, responses())]
async fn node_update_target(
    api: Api,
    state: web::Data<BaremetalState>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse> {
    update(api, state, path.into_inner().1, body, true, Kind::Target).await
}

// ---- delete ------------------------------------------------------------------------------

async fn delete(
    api: Api,
    state: web::Data<BaremetalState>,
    ident: String,
    parent: bool,
    kind: Kind,
) -> Result<HttpResponse> {
    api.require(32)?;
    let ident = check_ident(kind, &ident)?;
    let ctx = api.ctx.clone();
    state
        .storage()
        .write(move |c| {
            let (obj, node) = match load(c, &ctx, kind, &ident, CREATE_DELETE, "baremetal:volume:delete")? {
                Ok(x) => x,
                Err(e) => return Ok(Err(e)),
            };
            if parent {
                return Ok(Err(malformed()));
            }
            let Some(node) = node else { return Ok(Err(node_not_found(obj.node_uuid()))) };
            if let Err(e) = check_unlocked(&node) {
                return Ok(Err(e));
            }
            if !DELETE_STATES.contains(&node.provision_state.as_str())
                && node.power_state.as_deref() != Some("power off")
            {
                return Ok(Err(invalid_state(kind, "deletion", &node)));
            }
            match &obj {
                Object::Connector(v) => vol::connector_delete(c, &v.uuid)?,
                Object::Target(v) => vol::target_delete(c, &v.uuid)?,
            }
            Ok(Ok(()))
        })
        .await??;
    Ok(HttpResponse::NoContent().finish())
}

/// (1.32) Deletes a volume connector; its node must be powered off or
/// not yet deployable (`enroll`, `manageable`, `adopt failed`).
#[utoipa::path(delete, path = "/v1/volume/connectors/{uuid}", tag = "volume", params(("uuid" = uuid::Uuid, Path)),
    responses((status = 204, description = "Deleted.")))]
async fn delete_connector(api: Api, state: web::Data<BaremetalState>, path: web::Path<String>) -> Result<HttpResponse> {
    delete(api, state, path.into_inner(), false, Kind::Connector).await
}

/// (1.32) Deletes a volume target; its node must be powered off or not
/// yet deployable (`enroll`, `manageable`, `adopt failed`).
#[utoipa::path(delete, path = "/v1/volume/targets/{uuid}", tag = "volume", params(("uuid" = uuid::Uuid, Path)),
    responses((status = 204, description = "Deleted.")))]
async fn delete_target(api: Api, state: web::Data<BaremetalState>, path: web::Path<String>) -> Result<HttpResponse> {
    delete(api, state, path.into_inner(), false, Kind::Target).await
}

/// (1.32) Deletes a volume connector through its node: always refused.
///
/// Refused through a node path (400 `Malformed request URI.`), as in Ironic; use the `/v1/volume/…` path.
#[utoipa::path(delete, path = "/v1/nodes/{node}/volume/connectors/{uuid}", tag = "volume",
    params(("node" = String, Path, description = "A node's UUID or name."), ("uuid" = uuid::Uuid, Path)), responses())]
async fn node_delete_connector(
    api: Api,
    state: web::Data<BaremetalState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse> {
    delete(api, state, path.into_inner().1, true, Kind::Connector).await
}

/// (1.32) Deletes a volume target through its node: always refused.
///
/// Refused through a node path (400 `Malformed request URI.`), as in Ironic; use the `/v1/volume/…` path.
#[utoipa::path(delete, path = "/v1/nodes/{node}/volume/targets/{uuid}", tag = "volume",
    params(("node" = String, Path, description = "A node's UUID or name."), ("uuid" = uuid::Uuid, Path)), responses())]
async fn node_delete_target(
    api: Api,
    state: web::Data<BaremetalState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse> {
    delete(api, state, path.into_inner().1, true, Kind::Target).await
}

pub fn routes(r: &mut Routes) {
    crate::routes!(r;
        root | "/v1/volume/",
        node_root | "/v1/nodes/{node}/volume/",
        list_connectors | "/v1/volume/connectors/",
        create_connector | "/v1/volume/connectors/",
        list_targets | "/v1/volume/targets/",
        create_target | "/v1/volume/targets/",
        show_connector,
        update_connector,
        delete_connector,
        show_target,
        update_target,
        delete_target,
        node_connectors | "/v1/nodes/{node}/volume/connectors/",
        node_create_connector | "/v1/nodes/{node}/volume/connectors/",
        node_targets | "/v1/nodes/{node}/volume/targets/",
        node_create_target | "/v1/nodes/{node}/volume/targets/",
        node_show_connector,
        node_update_connector,
        node_delete_connector,
        node_show_target,
        node_update_target,
        node_delete_target,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_target_secrets() {
        let v = mask_secrets(&json!({"auth_password": "x", "nested": {"chap_secret": "y"}, "iqn": "z"}));
        assert_eq!(v, json!({"auth_password": "******", "nested": {"chap_secret": "******"}, "iqn": "z"}));
    }

    #[test]
    fn body_rules() {
        let node = "1be26c0b-03f2-4d2e-ae87-c02d7f33c123";
        let ok = json!({"node_uuid": node, "type": "iqn", "connector_id": "x"});
        assert!(check_body(Kind::Connector, ok.as_object().unwrap(), "connector").is_ok());
        for bad in [
            json!({"node_uuid": node, "type": "iqn"}),
            json!({"node_uuid": node, "type": "iqn", "connector_id": "x", "foo": 1}),
            json!({"node_uuid": "name", "type": "iqn", "connector_id": "x"}),
            json!({"node_uuid": node, "type": 1, "connector_id": "x"}),
        ] {
            assert!(check_body(Kind::Connector, bad.as_object().unwrap(), "connector").is_err(), "{bad}");
        }
        let t = json!({"node_uuid": node, "volume_type": "iscsi", "volume_id": "v", "boot_index": 1.5});
        assert!(check_body(Kind::Target, t.as_object().unwrap(), "target").is_err());
        let root = root_doc("http://h", "volume/");
        assert_eq!(root["connectors"][0]["href"], "http://h/v1/volume/connectors");
        assert_eq!(root["links"][1]["href"], "http://h/volume/");
    }
}
