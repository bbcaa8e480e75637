//! `/v1/allocations` (1.52+; PATCH 1.57, backfill 1.58, owner 1.60) and
//! `/v1/nodes/{node}/allocation`.
//!
//! A new allocation is stored as `allocating` and the response shows it so;
//! the scheduler then runs before the request ends: one write transaction
//! picks a matching node and reserves it with an optimistic node update,
//! retried when another writer got there first, so no node is ever given to
//! two allocations.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError, web};
use chrono::Utc;
use serde_json::{Map, Value, json};

use super::error::BaremetalError;
use super::nodes::find_node;
use super::openapi::{FieldsQuery, JsonPatch, Link, PageQuery};
use super::versions::{MAX, MIN};
use super::{
    Api, BaremetalState, Paging, Query, apply_patch, is_uuid, is_valid_name, json_text, only_params, ts, ts_opt,
};
use crate::common::openapi::Routes;
use crate::common::policy::{Level, Owner, Rule};
use crate::storage::allocations::{self as al, Allocation, AllocationFilter, CandidateFilter};
use crate::storage::baremetal::{self as bm, Node};
use crate::storage::{DbConn, Storage, StorageError};

/// Errors of this module: the shared ones, plus Ironic's controller faults
/// whose status is not one the shared type words this way (405, 406, 404
/// below the microversion).
#[derive(Debug)]
enum Fail {
    Bm(BaremetalError),
    Fault(StatusCode, String),
}

type Out<T> = std::result::Result<T, Fail>;

impl fmt::Display for Fail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fail::Bm(e) => e.fmt(f),
            Fail::Fault(_, m) => f.write_str(m),
        }
    }
}

impl From<BaremetalError> for Fail {
    fn from(e: BaremetalError) -> Self {
        Fail::Bm(e)
    }
}

impl From<StorageError> for Fail {
    fn from(e: StorageError) -> Self {
        Fail::Bm(e.into())
    }
}

impl ResponseError for Fail {
    fn status_code(&self) -> StatusCode {
        match self {
            Fail::Bm(e) => e.status_code(),
            Fail::Fault(s, _) => *s,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Fail::Bm(e) => e.error_response(),
            Fail::Fault(status, m) => HttpResponse::build(*status)
                .insert_header(("X-OpenStack-Ironic-API-Minimum-Version", MIN.to_string()))
                .insert_header(("X-OpenStack-Ironic-API-Maximum-Version", MAX.to_string()))
                .json(json!({"error_message":
                    json!({"faultcode": "Client", "faultstring": m, "debuginfo": null}).to_string()})),
        }
    }
}

fn bad(m: impl Into<String>) -> Fail {
    Fail::Bm(BaremetalError::BadRequest(m.into()))
}

fn not_acceptable() -> Fail {
    Fail::Fault(StatusCode::NOT_ACCEPTABLE, "Request not acceptable.".into())
}

/// Below 1.52: GET answers 404, the other verbs 405.
fn gate(api: &Api, minor: u16, status: StatusCode, what: &str) -> Out<()> {
    if api.at_least(minor) {
        Ok(())
    } else {
        Err(Fail::Fault(status, format!("The API version does not allow {what}")))
    }
}

fn now() -> chrono::NaiveDateTime {
    Utc::now().naive_utc()
}

fn list_of(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

fn opt(s: &Option<String>) -> Value {
    s.as_ref().map_or(Value::Null, |v| Value::String(v.clone()))
}

// ---- documents ----------------------------------------------------------------------------

/// Where an allocation stands.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum AllocationState {
    Allocating,
    Active,
    Error,
}

/// An allocation: a request for a node matching a resource class and
/// traits.
#[derive(utoipa::ToSchema)]
#[schema(as = Allocation)]
#[allow(dead_code)]
pub struct AllocationDoc {
    uuid: uuid::Uuid,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: Option<String>,
    /// The nodes it may pick from (UUIDs); empty for any.
    candidate_nodes: Vec<String>,
    #[schema(value_type = Object)]
    extra: Value,
    /// Why it failed.
    last_error: Option<String>,
    name: Option<String>,
    /// (1.60)
    owner: Option<String>,
    resource_class: Option<String>,
    #[schema(inline)]
    state: AllocationState,
    traits: Vec<String>,
    links: Vec<Link>,
    /// The node picked.
    node_uuid: Option<uuid::Uuid>,
}

/// A page of allocations; `next` is the next page's URL when this one is full.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct AllocationList {
    allocations: Vec<AllocationDoc>,
    #[serde(default)]
    next: String,
}

/// A new allocation. `resource_class` is required unless `node` is given.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct AllocationCreate {
    #[schema(max_length = 80)]
    resource_class: Option<String>,
    /// A logical name (unique).
    name: Option<String>,
    /// Traits the node must have (`CUSTOM_…` or standard ones).
    traits: Option<Vec<String>>,
    /// The nodes (UUIDs or names) it may pick from.
    candidate_nodes: Option<Vec<String>>,
    /// (1.60) The owning project.
    owner: Option<String>,
    /// (1.58) Backfill: a node (UUID or name) already deployed.
    node: Option<String>,
    #[schema(value_type = Option<Object>)]
    extra: Option<Value>,
    uuid: Option<uuid::Uuid>,
}

// ---- rendering ------------------------------------------------------------------------

/// Fields of an allocation in Ironic's output order (`owner` from 1.60).
const FIELDS: &[&str] = &[
    "uuid",
    "created_at",
    "updated_at",
    "candidate_nodes",
    "extra",
    "last_error",
    "name",
    "owner",
    "resource_class",
    "state",
    "traits",
    "links",
    "node_uuid",
];

fn render(state: &BaremetalState, a: &Allocation, api: &Api, fields: Option<&[String]>) -> Value {
    let mut m = Map::new();
    for f in FIELDS {
        if *f == "owner" && !api.at_least(60) {
            continue;
        }
        if *f != "links" && fields.is_some_and(|fs| !fs.iter().any(|x| x == f)) {
            continue;
        }
        let v = match *f {
            "uuid" => json!(a.uuid),
            "created_at" => ts(&a.created_at),
            "updated_at" => ts_opt(&a.updated_at),
            "candidate_nodes" => json!(list_of(&a.candidate_nodes)),
            "extra" => json_text(&a.extra),
            "last_error" => opt(&a.last_error),
            "name" => opt(&a.name),
            "owner" => opt(&a.owner),
            "resource_class" => opt(&a.resource_class),
            "state" => json!(a.state),
            "traits" => json!(list_of(&a.traits)),
            "links" => state.links("allocations", &a.uuid),
            _ => opt(&a.node_uuid),
        };
        m.insert(f.to_string(), v);
    }
    Value::Object(m)
}

/// `?fields=`: checked against the fields known at this version, as
/// Ironic's query schema does.
fn parse_fields(q: &HashMap<String, String>, api: &Api) -> Out<Option<Vec<String>>> {
    let Some(f) = q.get("fields") else { return Ok(None) };
    let mut known: Vec<&str> = vec![
        "candidate_nodes",
        "created_at",
        "extra",
        "last_error",
        "links",
        "name",
        "node_uuid",
        "resource_class",
        "state",
        "traits",
        "updated_at",
        "uuid",
    ];
    if api.at_least(60) {
        known.push("owner");
    }
    let mut out = Vec::new();
    for name in f.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if !known.contains(&name) {
            let list: Vec<String> = known.iter().map(|k| format!("'{k}'")).collect();
            return Err(bad(format!("Schema error: '{name}' is not one of [{}]", list.join(", "))));
        }
        out.push(name.to_string());
    }
    Ok(Some(out))
}

// ---- lookup and policy ------------------------------------------------------------------

const GET_RULE: Rule = Rule { system: Level::Reader, project: Some(Level::Reader), lessee: None };
const CHANGE_RULE: Rule = Rule { system: Level::Member, project: Some(Level::Member), lessee: None };

fn allows(api: &Api, a: &Allocation, rule: Rule) -> bool {
    api.ctx.allows(rule, Owner { owner: a.owner.as_deref(), lessee: None })
}

fn lookup(c: &mut DbConn, ident: &str) -> Out<Option<Allocation>> {
    if is_uuid(ident) {
        let id = uuid::Uuid::parse_str(ident).map(|u| u.to_string()).unwrap_or_default();
        return match al::allocation(c, &id) {
            Ok(a) => Ok(Some(a)),
            Err(StorageError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        };
    }
    if is_valid_name(ident) {
        return Ok(al::allocation_by_name(c, ident)?);
    }
    Err(bad(format!("Expected a logical name or UUID but received {ident}.")))
}

/// Resolves `{allocation}`: a UUID or a name; below 1.91 a `.json` suffix
/// may be the client's format hint, so the bare identifier is tried first.
fn find_allocation(c: &mut DbConn, ident: &str, api: &Api) -> Out<Allocation> {
    if !api.at_least(91)
        && let Some(bare) = ident.strip_suffix(".json")
        && let Ok(Some(a)) = lookup(c, bare)
    {
        return Ok(a);
    }
    lookup(c, ident)?
        .ok_or_else(|| Fail::Bm(BaremetalError::NotFound(format!("Allocation {ident} could not be found."))))
}

async fn load_visible(state: &BaremetalState, ident: &str, api: &Api) -> Out<Allocation> {
    let ident2 = ident.to_string();
    let ver = Api { ctx: api.ctx.clone(), version: api.version };
    let a = state.storage().read(move |c| Ok(find_allocation(c, &ident2, &ver))).await??;
    if !allows(api, &a, GET_RULE) {
        return Err(Fail::Bm(BaremetalError::NotFound(format!("Allocation {ident} could not be found."))));
    }
    Ok(a)
}

fn can_see_node(api: &Api, n: &Node) -> bool {
    api.ctx.allows(
        Rule { system: Level::Reader, project: Some(Level::Reader), lessee: Some(Level::Reader) },
        Owner { owner: n.owner.as_deref(), lessee: n.lessee.as_deref() },
    )
}

/// A node named in a request body or query: unknown ones are a 400.
async fn node_for_request(state: &BaremetalState, ident: &str, api: &Api) -> Out<Node> {
    let ident2 = ident.to_string();
    let ver = Api { ctx: api.ctx.clone(), version: api.version };
    let found = state.storage().read(move |c| Ok(find_node(c, &ident2, &ver))).await?;
    match found {
        Ok(n) if can_see_node(api, &n) => Ok(n),
        Ok(_) | Err(BaremetalError::NotFound(_)) => Err(bad(format!("Node {ident} could not be found."))),
        Err(e) => Err(e.into()),
    }
}

// ---- list and show ----------------------------------------------------------------------

const SORTABLE: &[(&str, &str)] = &[
    ("id", "id"),
    ("uuid", "uuid"),
    ("name", "COALESCE(name, '')"),
    ("node_id", "COALESCE(node_uuid, '')"),
    ("state", "state"),
    ("owner", "COALESCE(owner, '')"),
    ("last_error", "COALESCE(last_error, '')"),
    ("resource_class", "COALESCE(resource_class, '')"),
    ("conductor_affinity", "id"),
    ("created_at", "created_at"),
    ("updated_at", "COALESCE(updated_at, created_at)"),
];
const NOT_SORTABLE: &[&str] = &["extra", "candidate_nodes", "traits"];

const LIST_PARAMS: &[&str] =
    &["node", "resource_class", "state", "owner", "marker", "limit", "sort_key", "sort_dir", "fields"];

fn check_node_ident(v: &str) -> Out<()> {
    if is_uuid(v) || is_valid_name(v) {
        Ok(())
    } else {
        Err(bad(format!(
            "Schema error: '{v}' is not valid under any of the given schemas. Possible root cause: '{v}' is not a 'uuid'"
        )))
    }
}

/// (1.52) The allocations.
#[utoipa::path(get, path = "/v1/allocations", tag = "allocations",
    params(("node" = Option<String>, Query, description = "Only the allocation of this node (UUID or name)."),
        ("resource_class" = Option<String>, Query),
        ("state" = Option<String>, Query, description = "`allocating`, `active` or `error`."),
        ("owner" = Option<String>, Query, description = "(1.60)"),
        PageQuery, FieldsQuery),
    responses((status = 200, description = "A page of allocations.", body = AllocationList)))]
async fn list(api: Api, q: Query, state: web::Data<BaremetalState>) -> Out<HttpResponse> {
    gate(&api, 52, StatusCode::NOT_FOUND, "allocations")?;
    only_params(&q, LIST_PARAMS)?;
    let fields = parse_fields(&q, &api)?;
    if let Some(m) = q.get("marker")
        && !is_uuid(m)
    {
        return Err(bad(format!("Schema error: '{m}' is not a 'uuid'")));
    }
    if let Some(n) = q.get("node") {
        check_node_ident(n)?;
    }
    let mut owner = q.get("owner").cloned();
    if owner.is_some() && !api.at_least(60) {
        return Err(not_acceptable());
    }
    // Project-scoped callers list only their own allocations.
    if !api.ctx.noauth && api.ctx.system_level().is_none() {
        let Some(project) = api.ctx.project_id.clone() else {
            return Err(Fail::Bm(BaremetalError::Forbidden("baremetal:allocation:list".into())));
        };
        if owner.as_ref().is_some_and(|o| *o != project) {
            return Err(Fail::Bm(BaremetalError::Forbidden("baremetal:allocation:list_all".into())));
        }
        owner = Some(project);
    }
    if let Some(k) = q.get("sort_key")
        && !SORTABLE.iter().any(|(s, _)| s == k)
        && !NOT_SORTABLE.contains(&k.as_str())
    {
        return Err(bad(format!("The sort_key value \"{k}\" is an invalid field for sorting")));
    }
    let (paging, page) = Paging::parse(&q, state.max_limit, SORTABLE, NOT_SORTABLE)?;
    let node_uuid = match q.get("node") {
        Some(ident) => Some(node_for_request(&state, ident, &api).await?.uuid),
        None => None,
    };
    let filter = AllocationFilter {
        node_uuid,
        resource_class: q.get("resource_class").cloned(),
        state: q.get("state").cloned(),
        owner,
    };
    let rows = state.storage().read(move |c| al::allocations_list(c, &filter, &page)).await?;
    let items: Vec<Value> = rows.iter().map(|a| render(&state, a, &api, fields.as_deref())).collect();
    let mut carry = Vec::new();
    if let Some(f) = &fields {
        carry.push(("fields".to_string(), f.join(",")));
    }
    let last = rows.last().map(|a| a.uuid.clone());
    Ok(HttpResponse::Ok().json(paging.collection(&state, "allocations", "allocations", items, last.as_deref(), &carry)))
}

/// (1.52) An allocation.
#[utoipa::path(get, path = "/v1/allocations/{allocation}", tag = "allocations",
    params(("allocation" = String, Path, description = "A UUID or a name."), FieldsQuery),
    responses((status = 200, description = "The allocation.", body = AllocationDoc)))]
async fn show(api: Api, path: web::Path<String>, q: Query, state: web::Data<BaremetalState>) -> Out<HttpResponse> {
    gate(&api, 52, StatusCode::NOT_FOUND, "allocations")?;
    only_params(&q, &["fields"])?;
    let fields = parse_fields(&q, &api)?;
    let a = load_visible(&state, &path, &api).await?;
    Ok(HttpResponse::Ok().json(render(&state, &a, &api, fields.as_deref())))
}

// ---- create -------------------------------------------------------------------------------

fn schema_type(v: &Value, types: &str) -> Fail {
    bad(format!("Schema error: {v} is not of type {types}"))
}

fn opt_string(m: &Map<String, Value>, k: &str) -> Out<Option<String>> {
    match m.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(schema_type(other, "'string', 'null'")),
    }
}

fn opt_string_list(m: &Map<String, Value>, k: &str) -> Out<Vec<String>> {
    match m.get(k) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Ok(s.clone()),
                other => Err(schema_type(other, "'string'")),
            })
            .collect(),
        Some(other) => Err(schema_type(other, "'array', 'null'")),
    }
}

/// Ironic's trait names: `CUSTOM_[A-Z0-9_]+` or a standard (os-traits) name.
fn check_trait(t: &str) -> Out<()> {
    const STANDARD_PREFIXES: &[&str] = &["HW_", "COMPUTE_", "STORAGE_", "MISC_", "OWNER_"];
    let upper = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    let custom = t.strip_prefix("CUSTOM_").is_some_and(upper);
    let standard = STANDARD_PREFIXES.iter().any(|p| t.starts_with(p)) && upper(t);
    if !t.is_empty() && t.len() <= 255 && (custom || standard) {
        Ok(())
    } else {
        Err(bad(format!(
            "Schema error: '{t}' is not valid under any of the given schemas. Possible root cause: '{t}' does not \
             match '^CUSTOM_[A-Z0-9_]+$'"
        )))
    }
}

fn failed(uuid: &str, error: &str) -> String {
    format!("Failed to process allocation {uuid}: {error}.")
}

/// (1.52) Allocates a node: the answer shows the request as accepted
/// (`allocating`), the node is picked before the request ends.
#[utoipa::path(post, path = "/v1/allocations", tag = "allocations", request_body = AllocationCreate,
    responses((status = 201, description = "The new allocation.", body = AllocationDoc)))]
async fn create(api: Api, body: web::Bytes, state: web::Data<BaremetalState>) -> Out<HttpResponse> {
    gate(&api, 52, StatusCode::METHOD_NOT_ALLOWED, "allocations")?;
    let m = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(m)) => m,
        Ok(other) => return Err(schema_type(&other, "'object'")),
        Err(e) => return Err(bad(format!("Invalid JSON body: {e}"))),
    };
    let mut allowed = vec!["candidate_nodes", "extra", "name", "owner", "resource_class", "traits", "uuid"];
    if api.at_least(58) {
        allowed.push("node");
    }
    if let Some(k) = m.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(bad(format!("Schema error: Additional properties are not allowed ('{k}' was unexpected)")));
    }
    let name = opt_string(&m, "name")?;
    let mut owner = opt_string(&m, "owner")?;
    let mut resource_class = opt_string(&m, "resource_class")?;
    if let Some(rc) = &resource_class
        && rc.chars().count() > 80
    {
        return Err(bad(format!("Schema error: '{rc}' is too long")));
    }
    let node_ident = opt_string(&m, "node")?;
    let uuid = opt_string(&m, "uuid")?;
    let candidates = opt_string_list(&m, "candidate_nodes")?;
    for c in &candidates {
        check_node_ident(c)?;
    }
    let traits = opt_string_list(&m, "traits")?;
    for t in &traits {
        check_trait(t)?;
    }
    let extra = match m.get("extra") {
        None | Some(Value::Null) => json!({}),
        Some(v @ Value::Object(_)) => v.clone(),
        Some(other) => return Err(schema_type(other, "'object', 'null'")),
    };
    if m.contains_key("owner") && !api.at_least(60) {
        return Err(not_acceptable());
    }

    // Policy: system members create freely; project members create for
    // their own project only (the owner defaults to it).
    let system = api.ctx.noauth || api.ctx.system_level().is_some_and(|l| l >= Level::Member);
    let mut candidate_project = None;
    if !system {
        let (Some(project), Some(level)) = (api.ctx.project_id.clone(), api.ctx.project_level()) else {
            return Err(Fail::Bm(BaremetalError::Forbidden("baremetal:allocation:create".into())));
        };
        if level < Level::Member {
            return Err(Fail::Bm(BaremetalError::Forbidden("baremetal:allocation:create".into())));
        }
        match &owner {
            Some(o) if *o != project => {
                return Err(Fail::Bm(BaremetalError::Forbidden(format!(
                    "Cannot create allocation with an owner Project ID value {o} not matching the requester Project \
                     ID {project}. Policy baremetal:allocation:create_restricted is required for this capability."
                ))));
            }
            Some(_) => {}
            None => owner = Some(project.clone()),
        }
        candidate_project = Some(project);
    }

    if let Some(n) = &name
        && !is_valid_name(n)
    {
        return Err(bad(format!("Cannot create allocation with invalid name '{n}'")));
    }
    let node = match &node_ident {
        Some(ident) => Some(node_for_request(&state, ident, &api).await?),
        None => None,
    };
    if resource_class.as_deref().is_none_or(str::is_empty) {
        match &node {
            Some(n) => resource_class = n.resource_class.clone(),
            None => return Err(bad("The resource_class field is mandatory when not backfilling")),
        }
    }
    let candidate_uuids = if candidates.is_empty() {
        Vec::new()
    } else {
        let idents = candidates.clone();
        let project = candidate_project.clone();
        let rows = state
            .storage()
            .read(move |c| {
                let (uuids, names): (Vec<String>, Vec<String>) = idents.iter().cloned().partition(|i| is_uuid(i));
                let uuids: Vec<String> = uuids
                    .iter()
                    .map(|u| uuid::Uuid::parse_str(u).map(|x| x.to_string()).unwrap_or_else(|_| u.clone()))
                    .collect();
                al::nodes_named(c, &uuids, &names, project.as_deref())
            })
            .await?;
        let resolve = |ident: &str| -> Option<String> {
            let canon = uuid::Uuid::parse_str(ident).map(|u| u.to_string()).ok();
            rows.iter()
                .find(|(u, n)| canon.as_deref() == Some(u.as_str()) || n.as_deref() == Some(ident))
                .map(|(u, _)| u.clone())
        };
        let mut out = Vec::new();
        let mut missing = Vec::new();
        for ident in &candidates {
            match resolve(ident) {
                Some(u) => out.push(u),
                None if !missing.contains(ident) => missing.push(ident.clone()),
                None => {}
            }
        }
        if !missing.is_empty() {
            return Err(bad(format!("Nodes cannot be found: {}", missing.join(", "))));
        }
        out
    };
    let uuid = match uuid {
        Some(u) => match uuid::Uuid::parse_str(&u) {
            Ok(x) => x.to_string(),
            Err(_) => return Err(bad(format!("Expected a UUID but received {u}."))),
        },
        None => match node.as_ref().and_then(|n| n.instance_uuid.clone()) {
            Some(i) => i,
            None => uuid::Uuid::new_v4().to_string(),
        },
    };

    let a = Allocation {
        uuid: uuid.clone(),
        name: name.clone(),
        node_uuid: None,
        state: "allocating".into(),
        owner,
        last_error: None,
        resource_class,
        traits: json!(traits).to_string(),
        candidate_nodes: json!(candidate_uuids).to_string(),
        extra: extra.to_string(),
        created_at: now(),
        updated_at: None,
    };
    let row = a.clone();
    state
        .storage()
        .write(move |c| {
            if al::allocation(c, &row.uuid).is_ok() {
                return Ok(Err(BaremetalError::Conflict(format!(
                    "An allocation with UUID {} already exists.",
                    row.uuid
                ))));
            }
            if let Some(n) = &row.name
                && al::allocation_by_name(c, n)?.is_some()
            {
                return Ok(Err(BaremetalError::Conflict(format!("An allocation with name {n} already exists."))));
            }
            al::allocation_insert(c, &row)?;
            Ok(Ok(()))
        })
        .await??;

    let location = format!("{}/v1/allocations/{uuid}", state.base);
    let created = |body: Value| HttpResponse::Created().insert_header(("Location", location.clone())).json(body);
    match node {
        Some(n) => {
            let done = backfill(state.storage(), &uuid, &n.uuid).await?;
            Ok(created(render(&state, &done, &api, None)))
        }
        None => {
            // The response shows the request as accepted; the node is
            // picked right after, before the request completes.
            let body = render(&state, &a, &api, None);
            schedule(state.storage(), &uuid).await;
            Ok(created(body))
        }
    }
}

// ---- scheduling ---------------------------------------------------------------------------

enum Pick {
    Done,
    /// Every suitable node is locked by a running operation.
    Locked(usize),
}

/// Marks the allocation failed (unless it is gone).
async fn fail_allocation(storage: &Storage, uuid: &str, error: String) {
    let uuid = uuid.to_string();
    let r = storage
        .write(move |c| {
            let mut a = al::allocation(c, &uuid)?;
            a.state = "error".into();
            a.node_uuid = None;
            a.last_error = Some(error);
            a.updated_at = Some(now());
            al::allocation_update(c, &a)
        })
        .await;
    if let Err(e) = r
        && !matches!(e, StorageError::NotFound { .. })
    {
        tracing::warn!(error = %e, "could not record a failed allocation");
    }
}

/// Sets on `n` the marks of an allocation: instance, allocation and the
/// requested traits in `instance_info`.
fn claim(n: &mut Node, a: &Allocation) {
    n.instance_uuid = Some(a.uuid.clone());
    n.allocation_uuid = Some(a.uuid.clone());
    let mut info = json_text(&n.instance_info);
    if !info.is_object() {
        info = json!({});
    }
    info["traits"] = json!(list_of(&a.traits));
    n.instance_info = info.to_string();
    n.updated_at = Some(now());
}

fn traits_match(n: &Node, wanted: &[String]) -> bool {
    let have = list_of(&n.traits);
    wanted.iter().all(|t| have.contains(t))
}

/// One scheduling attempt, inside one write transaction.
fn pick(c: &mut DbConn, uuid: &str) -> crate::storage::StorageResult<Pick> {
    use rand::seq::SliceRandom;
    let mut a = al::allocation(c, uuid)?;
    if a.state != "allocating" {
        return Ok(Pick::Done);
    }
    let rc = a.resource_class.clone().unwrap_or_default();
    let candidates = list_of(&a.candidate_nodes);
    let filter = CandidateFilter {
        resource_class: a.resource_class.clone(),
        uuids: (!candidates.is_empty()).then(|| candidates.clone()),
        project: a.owner.clone(),
    };
    let mut nodes = al::allocation_candidates(c, &filter)?;
    let mut error = None;
    if nodes.is_empty() {
        error = Some(if candidates.is_empty() {
            format!("no available nodes match the resource class {rc}")
        } else {
            format!("none of the requested nodes are available and match the resource class {rc}")
        });
    } else {
        let wanted = list_of(&a.traits);
        nodes.retain(|n| traits_match(n, &wanted));
        if nodes.is_empty() {
            error = Some(format!("no suitable nodes have the requested traits {}", wanted.join(", ")));
        }
    }
    if let Some(e) = error {
        a.state = "error".into();
        a.last_error = Some(failed(&a.uuid, &e));
        a.updated_at = Some(now());
        al::allocation_update(c, &a)?;
        return Ok(Pick::Done);
    }
    // Parallel requests try nodes in different orders; a node named like
    // the allocation goes first.
    nodes.shuffle(&mut rand::thread_rng());
    if let Some(name) = &a.name
        && let Some(i) = nodes.iter().position(|n| n.name.as_deref() == Some(name.as_str()))
    {
        let n = nodes.remove(i);
        nodes.insert(0, n);
    }
    let mut locked = 0;
    for n in nodes {
        if n.reservation.is_some() {
            locked += 1;
            continue;
        }
        let mut n = n;
        claim(&mut n, &a);
        // A concurrent change to this node aborts the attempt (Conflict).
        bm::node_update(c, &n)?;
        a.node_uuid = Some(n.uuid.clone());
        a.state = "active".into();
        a.last_error = None;
        a.updated_at = Some(now());
        al::allocation_update(c, &a)?;
        return Ok(Pick::Done);
    }
    Ok(Pick::Locked(locked))
}

/// Runs the scheduler for a new allocation until it is active or failed.
async fn schedule(storage: &Storage, uuid: &str) {
    let mut conflicts = 0;
    let mut locked_rounds = 0;
    loop {
        let id = uuid.to_string();
        match storage.write(move |c| pick(c, &id)).await {
            Ok(Pick::Done) | Err(StorageError::NotFound { .. }) => return,
            Ok(Pick::Locked(n)) => {
                locked_rounds += 1;
                if locked_rounds >= 3 {
                    let msg = failed(uuid, &format!("could not reserve any of {n} suitable nodes"));
                    return fail_allocation(storage, uuid, msg).await;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(StorageError::Conflict(_)) if conflicts < 100 => {
                conflicts += 1;
                let jitter = rand::random::<u64>() % 20;
                tokio::time::sleep(Duration::from_millis(5 + jitter)).await;
            }
            Err(e) => {
                let msg = format!("Unexpected exception during allocation: {e}");
                return fail_allocation(storage, uuid, msg).await;
            }
        }
    }
}

/// Backfill (1.58): records an allocation for a node already deployed.
async fn backfill(storage: &Storage, uuid: &str, node_uuid: &str) -> Out<Allocation> {
    for _ in 0..50 {
        let (id, nu) = (uuid.to_string(), node_uuid.to_string());
        let r = storage
            .write(move |c| {
                let mut a = al::allocation(c, &id)?;
                let fail = |c: &mut DbConn, a: &mut Allocation, msg: String| -> crate::storage::StorageResult<()> {
                    a.state = "error".into();
                    a.last_error = Some(msg);
                    a.updated_at = Some(now());
                    al::allocation_update(c, a)
                };
                let mut n = match bm::node(c, &nu) {
                    Ok(n) => n,
                    Err(StorageError::NotFound { .. }) => {
                        let msg = format!("Node {nu} could not be found.");
                        fail(c, &mut a, msg.clone())?;
                        return Ok(Err(BaremetalError::NotFound(msg)));
                    }
                    Err(e) => return Err(e),
                };
                if let Some(host) = n.reservation.clone() {
                    let e = BaremetalError::locked(&n.uuid, &host);
                    fail(c, &mut a, format!("Unexpected exception during allocation: {e}"))?;
                    return Ok(Err(e));
                }
                let mut errors = Vec::new();
                if n.provision_state != "active" {
                    errors.push(format!(
                        "Node must be in the \"active\" state, but the current state is \"{}\"",
                        n.provision_state
                    ));
                }
                if let Some(rc) = &a.resource_class
                    && n.resource_class.as_ref() != Some(rc)
                {
                    errors.push(format!(
                        "Resource class {} does not match the requested resource class {rc}",
                        n.resource_class.as_deref().unwrap_or("None")
                    ));
                }
                let wanted = list_of(&a.traits);
                if !wanted.is_empty() && !traits_match(&n, &wanted) {
                    errors.push(format!(
                        "List of traits {:?} does not match the requested traits {:?}",
                        list_of(&n.traits),
                        wanted
                    ));
                }
                let candidates = list_of(&a.candidate_nodes);
                if !candidates.is_empty() && !candidates.contains(&n.uuid) {
                    errors.push(format!(
                        "Candidate nodes must be empty or contain the target node, but got {candidates:?}"
                    ));
                }
                if !errors.is_empty() {
                    let msg = failed(
                        &a.uuid,
                        &format!("Cannot backfill an allocation for node {}: {}", n.uuid, errors.join("; ")),
                    );
                    fail(c, &mut a, msg.clone())?;
                    // Ironic's AllocationFailed is a 500; the request is at fault.
                    return Ok(Err(BaremetalError::BadRequest(msg)));
                }
                if let Some(inst) = n.instance_uuid.clone()
                    && inst != a.uuid
                {
                    let msg = format!("Node {} is associated with instance {inst}.", n.uuid);
                    fail(c, &mut a, msg.clone())?;
                    return Ok(Err(BaremetalError::Conflict(msg)));
                }
                claim(&mut n, &a);
                bm::node_update(c, &n)?;
                a.node_uuid = Some(n.uuid.clone());
                a.state = "active".into();
                a.last_error = None;
                a.updated_at = Some(now());
                al::allocation_update(c, &a)?;
                Ok(Ok(a))
            })
            .await;
        match r {
            Ok(done) => return Ok(done?),
            Err(StorageError::Conflict(_)) => tokio::time::sleep(Duration::from_millis(10)).await,
            Err(StorageError::Duplicate(_)) => {
                let msg = format!(
                    "Instance {uuid} is already associated with a node, it cannot be associated with this other node \
                     {node_uuid}"
                );
                fail_allocation(storage, uuid, msg.clone()).await;
                return Err(Fail::Bm(BaremetalError::Conflict(msg)));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(Fail::Bm(BaremetalError::Conflict(format!("node {node_uuid} changed concurrently"))))
}

// ---- update and delete ------------------------------------------------------------------

/// (1.57) Renames an allocation or changes its `extra`.
#[utoipa::path(patch, path = "/v1/allocations/{allocation}", tag = "allocations",
    params(("allocation" = String, Path, description = "A UUID or a name.")), request_body = JsonPatch,
    responses((status = 200, description = "The updated allocation.", body = AllocationDoc)))]
async fn update(
    api: Api,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<BaremetalState>,
) -> Out<HttpResponse> {
    gate(&api, 57, StatusCode::METHOD_NOT_ALLOWED, "updating allocations")?;
    let a = load_visible(&state, &path, &api).await?;
    if !allows(&api, &a, CHANGE_RULE) {
        return Err(Fail::Bm(BaremetalError::Forbidden("baremetal:allocation:update".into())));
    }
    let mut doc = json!({"name": opt(&a.name), "extra": json_text(&a.extra)});
    apply_patch(&mut doc, &body, &["name", "extra"], "allocation")?;
    let name = match doc.get("name") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => return Err(schema_type(other, "'string', 'null'")),
    };
    if let Some(n) = &name
        && !is_valid_name(n)
    {
        return Err(bad(format!("Cannot update allocation with invalid name '{n}'")));
    }
    let extra = match doc.get("extra") {
        None | Some(Value::Null) => json!({}),
        Some(v @ Value::Object(_)) => v.clone(),
        Some(other) => return Err(schema_type(other, "'object', 'null'")),
    };
    let uuid = a.uuid.clone();
    let saved = state
        .storage()
        .write(move |c| {
            let mut a = al::allocation(c, &uuid)?;
            if let Some(n) = &name
                && a.name.as_ref() != Some(n)
                && al::allocation_by_name(c, n)?.is_some()
            {
                return Ok(Err(BaremetalError::Conflict(format!("An allocation with name {n} already exists."))));
            }
            a.name = name;
            a.extra = extra.to_string();
            a.updated_at = Some(now());
            al::allocation_update(c, &a)?;
            Ok(Ok(a))
        })
        .await??;
    Ok(HttpResponse::Ok().json(render(&state, &saved, &api, None)))
}

/// Provision states in which a node with a pending target may still lose
/// its allocation.
const UPDATE_ALLOWED_STATES: &[&str] = &[
    "deploy failed",
    "inspecting",
    "inspect failed",
    "inspect wait",
    "clean failed",
    "error",
    "verifying",
    "adopt failed",
    "rescue failed",
    "unrescue failed",
    "service",
    "service hold",
    "service failed",
];

/// Deletes an allocation, freeing its node; refused (409) while the node
/// is deployed or busy, unless it is in maintenance.
async fn destroy(storage: &Storage, uuid: &str) -> Out<()> {
    for _ in 0..50 {
        let id = uuid.to_string();
        let r = storage
            .write(move |c| {
                let a = al::allocation(c, &id)?;
                if let Some(nu) = &a.node_uuid {
                    match bm::node(c, nu) {
                        Ok(mut n) => {
                            if let Some(host) = &n.reservation {
                                return Ok(Err(BaremetalError::locked(&n.uuid, host)));
                            }
                            if !n.maintenance {
                                if n.target_provision_state.is_some()
                                    && !UPDATE_ALLOWED_STATES.contains(&n.provision_state.as_str())
                                {
                                    return Ok(Err(BaremetalError::Conflict(format!(
                                        "Cannot remove allocation {} for node {}, because the node is in state {} \
                                         where updates are not allowed (and maintenance mode is off)",
                                        a.uuid, n.uuid, n.provision_state
                                    ))));
                                }
                                if n.provision_state == "active" {
                                    return Ok(Err(BaremetalError::Conflict(format!(
                                        "Cannot remove allocation {} for node {}, because the node is active (and \
                                         maintenance mode is off)",
                                        a.uuid, n.uuid
                                    ))));
                                }
                            }
                            if n.allocation_uuid.as_deref() == Some(a.uuid.as_str()) {
                                n.allocation_uuid = None;
                                n.instance_uuid = None;
                                n.updated_at = Some(now());
                                bm::node_update(c, &n)?;
                            }
                        }
                        Err(StorageError::NotFound { .. }) => {}
                        Err(e) => return Err(e),
                    }
                }
                al::allocation_delete(c, &a.uuid)?;
                Ok(Ok(()))
            })
            .await;
        match r {
            Ok(done) => return Ok(done?),
            Err(StorageError::Conflict(_)) => tokio::time::sleep(Duration::from_millis(10)).await,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Fail::Bm(BaremetalError::Conflict(format!("allocation {uuid} changed concurrently"))))
}

/// (1.52) Deletes an allocation, freeing its node.
#[utoipa::path(delete, path = "/v1/allocations/{allocation}", tag = "allocations",
    params(("allocation" = String, Path, description = "A UUID or a name.")),
    responses((status = 204, description = "Deleted.")))]
async fn delete(api: Api, path: web::Path<String>, state: web::Data<BaremetalState>) -> Out<HttpResponse> {
    gate(&api, 52, StatusCode::METHOD_NOT_ALLOWED, "allocations")?;
    let a = load_visible(&state, &path, &api).await?;
    if !allows(&api, &a, CHANGE_RULE) {
        return Err(Fail::Bm(BaremetalError::Forbidden("baremetal:allocation:delete".into())));
    }
    destroy(state.storage(), &a.uuid).await?;
    Ok(HttpResponse::NoContent().finish())
}

// ---- /v1/nodes/{node}/allocation ----------------------------------------------------------

async fn node_allocation(state: &BaremetalState, api: &Api, node: &Node, ident: &str) -> Out<Allocation> {
    let nu = node.uuid.clone();
    let a = state.storage().read(move |c| al::allocation_of_node(c, &nu)).await?;
    match a {
        Some(a) if allows(api, &a, GET_RULE) => Ok(a),
        _ => Err(Fail::Bm(BaremetalError::NotFound(format!("Allocation for node {ident} was not found")))),
    }
}

/// (1.52) The allocation of a node.
#[utoipa::path(get, path = "/v1/nodes/{node}/allocation", tag = "allocations",
    params(("node" = String, Path, description = "A node's UUID or name."), FieldsQuery),
    responses((status = 200, description = "The allocation.", body = AllocationDoc)))]
async fn node_show(api: Api, path: web::Path<String>, q: Query, state: web::Data<BaremetalState>) -> Out<HttpResponse> {
    api.require(52)?;
    only_params(&q, &["fields"])?;
    let fields = parse_fields(&q, &api)?;
    // An unknown node is a 400 here, as in the list filter.
    let n = node_for_request(&state, &path, &api).await?;
    let a = node_allocation(&state, &api, &n, &path).await?;
    Ok(HttpResponse::Ok().json(render(&state, &a, &api, fields.as_deref())))
}

/// (1.52) Deletes the allocation of a node.
#[utoipa::path(delete, path = "/v1/nodes/{node}/allocation", tag = "allocations",
    params(("node" = String, Path, description = "A node's UUID or name.")),
    responses((status = 204, description = "Deleted.")))]
async fn node_delete(api: Api, path: web::Path<String>, state: web::Data<BaremetalState>) -> Out<HttpResponse> {
    api.require(52)?;
    let n = super::nodes::load_visible(&state, &path, &api).await?;
    let a = node_allocation(&state, &api, &n, &path).await?;
    if !allows(&api, &a, CHANGE_RULE) {
        return Err(Fail::Bm(BaremetalError::Forbidden("baremetal:allocation:delete".into())));
    }
    destroy(state.storage(), &a.uuid).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub fn routes(r: &mut Routes) {
    crate::routes!(r;
        list | "/v1/allocations/",
        create | "/v1/allocations/",
        show,
        update,
        delete,
        node_show,
        node_delete,
    );
}
