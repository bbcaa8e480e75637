//! Runbooks: `/v1/runbooks` (1.92+), named lists of steps a node may run
//! while cleaning or servicing; owned by a project or public. From 1.112 a
//! runbook also has a description, freer names and traits
//! (`/v1/runbooks/{runbook}/traits`).

use std::collections::HashMap;

use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};

use super::deploy_templates::{
    StepInterface, StepKind, StepRank, canonical_uuid, check_fields, check_ident, check_patch_shape, check_sort_key,
    check_steps, check_trait_name, keep, list_args, merge_steps, prune_steps, py_repr, respond, show_steps,
    split_fields, too_old, webob_error,
};
use super::error::{BaremetalError, Result};
use super::openapi::{DetailQuery, FieldsQuery, JsonPatch, Link, PageQuery};
use super::ports::{
    carried, collection, forbidden, is_logical_name, links, now, only_keys, optional, patch_values, schema,
};
use super::{Api, BaremetalState, Paging, Query, apply_patch, body_object, is_uuid, json_text, parse_bool, ts, ts_opt};
use crate::common::openapi::Routes;
use crate::common::policy::{Level, Owner, Rule};
use crate::storage::DbConn;
use crate::storage::steps::{self as st, Runbook, RunbookScope};

const MIN: u16 = 92;
/// Traits, descriptions and free-form names.
const TRAITS: u16 = 112;
const WHAT: &str = "runbook";

const SORTABLE: &[(&str, &str)] = &[
    ("id", "id"),
    ("uuid", "uuid"),
    ("name", "name"),
    ("description", "COALESCE(description, '')"),
    ("public", "public"),
    ("owner", "COALESCE(owner, '')"),
    ("disable_ramdisk", "disable_ramdisk"),
    ("created_at", "created_at"),
    ("updated_at", "COALESCE(updated_at, created_at)"),
];
const NOT_SORTABLE: &[&str] = &["extra", "steps", "traits"];

/// `baremetal:runbook:get`: system reader, a reader of the owning project,
/// or a service.
const READER: Rule = Rule { system: Level::Reader, project: Some(Level::Reader), lessee: None };
/// `baremetal:runbook:update|delete`: system member, a manager of the
/// owning project, or a service.
const ADMIN: Rule = Rule { system: Level::Member, project: Some(Level::Manager), lessee: None };
const SYSTEM_MEMBER: Rule = Rule { system: Level::Member, project: None, lessee: None };

fn owner_of(r: &Runbook) -> Owner<'_> {
    Owner { owner: r.owner.as_deref(), lessee: None }
}

fn allowed(api: &Api, rule: Rule, r: &Runbook) -> bool {
    api.ctx.allows(rule, owner_of(r)) || api.ctx.has_role("service")
}

fn not_found(ident: &str) -> BaremetalError {
    BaremetalError::NotFound(format!("Runbook {ident} could not be found."))
}

fn render(base: &str, api: &Api, r: &Runbook) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("uuid".into(), json!(r.uuid));
    m.insert("created_at".into(), ts(&r.created_at));
    m.insert("updated_at".into(), ts_opt(&r.updated_at));
    m.insert("name".into(), json!(r.name));
    m.insert("extra".into(), json_text(&r.extra));
    m.insert("public".into(), json!(r.public));
    m.insert("owner".into(), json!(r.owner));
    m.insert("disable_ramdisk".into(), json!(r.disable_ramdisk));
    if api.at_least(TRAITS) {
        m.insert("description".into(), json!(r.description));
    }
    m.insert("links".into(), links(base, "runbooks", &r.uuid));
    m.insert("steps".into(), show_steps(&stored(&r.steps), "order"));
    if api.at_least(TRAITS) {
        m.insert("traits".into(), stored(&r.traits));
    }
    m
}

/// Python truthiness of a patch value.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
    }
}

fn stored(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| json!([]))
}

fn lookup(c: &mut DbConn, ident: &str) -> Result<Runbook> {
    if is_uuid(ident) {
        return optional(st::runbook(c, &canonical_uuid(ident)))?.ok_or_else(|| not_found(ident));
    }
    check_ident("runbook_ident", ident)?;
    st::runbook_by_name(c, ident)?.ok_or_else(|| not_found(ident))
}

async fn load(state: &BaremetalState, ident: &str) -> Result<Runbook> {
    let ident = ident.to_string();
    state.storage().read(move |c| Ok(lookup(c, &ident))).await?
}

/// The runbook name schema of this version.
fn check_name(api: &Api, what: &str, v: Option<&Value>, relaxed: bool) -> Result<String> {
    if !(relaxed || api.at_least(TRAITS)) {
        return check_trait_name(what, v);
    }
    match v {
        Some(Value::String(s)) if s.is_empty() => Err(schema(what, "'' should be non-empty")),
        Some(Value::String(s)) if s.chars().count() > 255 => Err(schema(what, format!("'{s}' is too long"))),
        Some(Value::String(s)) if is_logical_name(s) => Ok(s.clone()),
        Some(Value::String(s)) => Err(schema(what, format!("'{s}' does not match '^[A-Za-z0-9\\\\-._~]+$'"))),
        Some(other) => Err(schema(what, format!("{} is not of type 'string'", py_repr(other)))),
        None => Err(schema(what, "'name' is a required property")),
    }
}

/// The scalar fields of a runbook body (create or patched document).
struct Fields {
    name: String,
    steps: Vec<Value>,
    description: Option<String>,
    public: bool,
    owner: Option<String>,
    disable_ramdisk: bool,
    extra: String,
}

fn check_body(api: &Api, what: &str, b: &Map<String, Value>, relaxed: bool) -> Result<Fields> {
    for r in ["steps", "name"] {
        if !b.contains_key(r) {
            return Err(schema(what, format!("'{r}' is a required property")));
        }
    }
    let mut keys = vec!["uuid", "name", "steps", "disable_ramdisk", "extra", "public", "owner"];
    if api.at_least(TRAITS) || relaxed {
        keys.push("description");
    }
    only_keys(b, &keys, what)?;
    let opt_str = |k: &str| -> Result<Option<String>> {
        match b.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.chars().count() > 255 => Err(schema(what, format!("'{s}' is too long"))),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(schema(what, format!("{} is not of type 'string', 'null'", py_repr(other)))),
        }
    };
    let opt_bool = |k: &str| -> Result<bool> {
        match b.get(k) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(v)) => Ok(*v),
            Some(other) => Err(schema(what, format!("{} is not of type 'boolean', 'null'", py_repr(other)))),
        }
    };
    if let Some(u) = b.get("uuid")
        && !u.is_null()
        && !u.is_string()
    {
        return Err(schema(what, format!("{} is not of type 'string', 'null'", py_repr(u))));
    }
    let extra = match b.get("extra") {
        None | Some(Value::Null) => "{}".to_string(),
        Some(e @ Value::Object(_)) => e.to_string(),
        Some(other) => return Err(schema(what, format!("{} is not of type 'object', 'null'", py_repr(other)))),
    };
    let name = check_name(api, what, b.get("name"), relaxed)?;
    let steps = check_steps(what, b.get("steps"), StepKind::Runbook)?;
    Ok(Fields {
        name,
        steps,
        description: opt_str("description")?,
        public: opt_bool("public")?,
        owner: opt_str("owner")?,
        disable_ramdisk: opt_bool("disable_ramdisk")?,
        extra,
    })
}

// ---- documents ----------------------------------------------------------------------

/// A runbook step as shown.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct RunbookStep {
    interface: StepInterface,
    step: String,
    /// Secrets masked.
    #[schema(value_type = Object)]
    args: Value,
    /// Steps run in this order.
    order: i64,
}

/// A runbook step as given.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct RunbookStepIn {
    interface: StepInterface,
    #[schema(min_length = 1)]
    step: String,
    #[schema(value_type = Option<Object>)]
    args: Option<Value>,
    order: StepRank,
}

/// A runbook: named steps a node may run while cleaning or servicing.
#[derive(utoipa::ToSchema)]
#[schema(as = Runbook)]
#[allow(dead_code)]
pub struct RunbookDoc {
    uuid: uuid::Uuid,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: Option<String>,
    /// A trait name before 1.112, a logical name from then.
    name: String,
    #[schema(value_type = Object)]
    extra: Value,
    public: bool,
    /// The owning project.
    owner: Option<String>,
    disable_ramdisk: bool,
    /// (1.112)
    description: Option<String>,
    links: Vec<Link>,
    steps: Vec<RunbookStep>,
    /// (1.112)
    traits: Vec<String>,
}

/// A page of runbooks (`uuid` and `name` unless `detail` or `fields`);
/// `next` is the next page's URL when this one is full.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct RunbookList {
    runbooks: Vec<RunbookDoc>,
    #[serde(default)]
    next: String,
}

/// A new runbook.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct RunbookCreate {
    /// A trait name (`CUSTOM_…`) before 1.112, a logical name from then.
    #[schema(min_length = 1, max_length = 255)]
    name: String,
    #[schema(min_items = 1)]
    steps: Vec<RunbookStepIn>,
    /// (1.112)
    #[schema(max_length = 255)]
    description: Option<String>,
    /// Public runbooks have no owner (system-scoped callers only).
    public: Option<bool>,
    /// The owning project (a project-scoped caller's own by default).
    #[schema(max_length = 255)]
    owner: Option<String>,
    disable_ramdisk: Option<bool>,
    #[schema(value_type = Option<Object>)]
    extra: Option<Value>,
    uuid: Option<uuid::Uuid>,
}

/// A runbook's traits.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct RunbookTraits {
    /// `CUSTOM_…` or standard trait names.
    traits: Vec<String>,
}

// ---- handlers ---------------------------------------------------------------------

/// (1.92) The runbooks the caller may see.
#[utoipa::path(get, path = "/v1/runbooks", tag = "runbooks",
    params(PageQuery, FieldsQuery, DetailQuery,
        ("project" = Option<bool>, Query, description = "Any value keeps only public runbooks (system readers).")),
    responses((status = 200, description = "A page of runbooks.", body = RunbookList)))]
async fn list(req: HttpRequest, api: Api, state: web::Data<BaremetalState>, q: Query) -> HttpResponse {
    if let Some(r) = too_old(&api, req.method(), MIN, "runbooks") {
        return r;
    }
    respond(list_inner(api, state, q.into_inner()).await)
}

async fn list_inner(api: Api, state: web::Data<BaremetalState>, q: HashMap<String, String>) -> Result<HttpResponse> {
    super::only_params(&q, &["marker", "limit", "sort_key", "sort_dir", "fields", "detail", "project"])?;
    let detail = list_args(&q)?;
    let project = q.get("project").map(|p| parse_bool("project", p)).transpose()?;
    let scope = if api.ctx.allows(Rule::SYSTEM_READER, Owner::default()) {
        // The filter is read as a boolean, which matches no owner: only
        // public runbooks remain.
        if project.is_some() { RunbookScope::PublicOnly } else { RunbookScope::All }
    } else {
        match (&api.ctx.project_id, api.ctx.project_level().is_some() || api.ctx.has_role("service")) {
            (Some(p), true) if project.is_none() => RunbookScope::Project(p.clone()),
            _ => return Err(forbidden("baremetal:runbook:list_all")),
        }
    };
    let fields = q.get("fields").map(|f| split_fields(f));
    if fields.is_some() && detail == Some(true) {
        return Err(BaremetalError::BadRequest("Can not specify ?detail=True and fields in the same request.".into()));
    }
    let fields = match (fields, detail) {
        (Some(f), _) => Some(f),
        (None, Some(true)) => None,
        (None, _) => Some(vec!["uuid".to_string(), "name".to_string()]),
    };
    check_sort_key(&q, SORTABLE, NOT_SORTABLE)?;
    let (paging, page) = Paging::parse(&q, state.max_limit, SORTABLE, NOT_SORTABLE)?;
    let rows = state.storage().read(move |c| st::runbook_list(c, &page, &scope)).await?;
    let mut items = Vec::new();
    for r in &rows {
        let m = render(&state.base, &api, r);
        check_fields(&fields, &m)?;
        items.push(keep(m, &fields));
    }
    let last = rows.last().map(|r| r.uuid.clone());
    let extras = carried(&q, detail, &fields, &[]);
    Ok(HttpResponse::Ok().json(collection(&state.base, "runbooks", "runbooks", &paging, items, last, &extras)))
}

/// (1.92) A runbook.
#[utoipa::path(get, path = "/v1/runbooks/{ident}", tag = "runbooks", params(("ident" = String, Path, description = "A UUID or a name."), FieldsQuery),
    responses((status = 200, description = "The runbook.", body = RunbookDoc)))]
async fn show(
    req: HttpRequest,
    api: Api,
    state: web::Data<BaremetalState>,
    path: web::Path<String>,
    q: Query,
) -> HttpResponse {
    if let Some(r) = too_old(&api, req.method(), MIN, "runbooks") {
        return r;
    }
    respond(show_inner(api, state, path.into_inner(), q.into_inner()).await)
}

async fn show_inner(
    api: Api,
    state: web::Data<BaremetalState>,
    ident: String,
    q: HashMap<String, String>,
) -> Result<HttpResponse> {
    super::only_params(&q, &["fields"])?;
    check_ident("runbook_ident", &ident)?;
    let fields = q.get("fields").map(|f| split_fields(f));
    let r = load(&state, &ident).await?;
    if !allowed(&api, READER, &r) && !r.public {
        return Err(forbidden("baremetal:runbook:get"));
    }
    let m = render(&state.base, &api, &r);
    check_fields(&fields, &m)?;
    Ok(HttpResponse::Ok().json(keep(m, &fields)))
}

/// (1.92) Creates a runbook.
#[utoipa::path(post, path = "/v1/runbooks", tag = "runbooks", request_body = RunbookCreate,
    responses((status = 201, description = "The new runbook.", body = RunbookDoc)))]
async fn create(req: HttpRequest, api: Api, state: web::Data<BaremetalState>, body: web::Bytes) -> HttpResponse {
    if let Some(r) = too_old(&api, req.method(), MIN, "runbooks") {
        return r;
    }
    respond(create_inner(api, state, body).await)
}

async fn create_inner(api: Api, state: web::Data<BaremetalState>, body: web::Bytes) -> Result<HttpResponse> {
    let ctx = &api.ctx;
    let creator = ctx.allows(SYSTEM_MEMBER, Owner::default())
        || ctx.project_level().is_some_and(|l| l >= Level::Manager)
        || ctx.has_role("service");
    if !creator {
        return Err(forbidden("baremetal:runbook:create"));
    }
    let b = body_object(&body, WHAT)?;
    let f = check_body(&api, WHAT, &b, false)?;
    let uuid = match b.get("uuid") {
        Some(Value::String(u)) if is_uuid(u) => canonical_uuid(u),
        Some(Value::String(u)) if !u.is_empty() => {
            return Err(BaremetalError::BadRequest(format!("Expected UUID for uuid: {u}")));
        }
        _ => uuid::Uuid::new_v4().to_string(),
    };
    let mut owner = f.owner.clone();
    // Only a system-scoped caller may pick any owner (noauth is not one).
    if !ctx.system || ctx.noauth {
        let project = ctx.project_id.clone();
        if owner.is_some() && owner != project {
            return Err(BaremetalError::BadRequest(
                "Cannot create a runbook as a project scoped admin with an owner other than your own project.".into(),
            ));
        }
        if project.is_some() && f.public {
            return Err(BaremetalError::BadRequest("Cannot create a public runbook as a project scoped admin.".into()));
        }
        owner = project;
    }
    let r = Runbook {
        uuid,
        name: f.name,
        description: f.description,
        public: f.public,
        owner,
        disable_ramdisk: f.disable_ramdisk,
        extra: f.extra,
        steps: Value::Array(f.steps).to_string(),
        traits: "[]".into(),
        created_at: now(),
        updated_at: None,
    };
    let row = r.clone();
    state
        .storage()
        .write(move |c| {
            if st::runbook_by_name(c, &row.name)?.is_some() {
                return Ok(Err(BaremetalError::Conflict(format!("A runbook with name {} already exists.", row.name))));
            }
            if optional(st::runbook(c, &row.uuid))?.is_some() {
                return Ok(Err(BaremetalError::Conflict(format!("A runbook with UUID {} already exists.", row.uuid))));
            }
            st::runbook_insert(c, &row)?;
            Ok(Ok(()))
        })
        .await??;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("{}/v1/runbooks/{}", state.base, r.uuid)))
        .json(render(&state.base, &api, &r)))
}

/// (1.92) Updates a runbook.
#[utoipa::path(patch, path = "/v1/runbooks/{ident}", tag = "runbooks", params(("ident" = String, Path, description = "A UUID or a name.")), request_body = JsonPatch,
    responses((status = 200, description = "The updated runbook.", body = RunbookDoc)))]
async fn update(
    req: HttpRequest,
    api: Api,
    state: web::Data<BaremetalState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    if let Some(r) = too_old(&api, req.method(), MIN, "runbooks") {
        return r;
    }
    respond(update_inner(api, state, path.into_inner(), body).await)
}

async fn update_inner(
    api: Api,
    state: web::Data<BaremetalState>,
    ident: String,
    body: web::Bytes,
) -> Result<HttpResponse> {
    check_ident("runbook_ident", &ident)?;
    check_patch_shape(&body)?;
    let mut allowed_fields = vec!["disable_ramdisk", "extra", "name", "owner", "public", "steps"];
    if api.at_least(TRAITS) {
        allowed_fields.push("description");
    }
    let roots = super::ports::patch_roots(&body, &allowed_fields)?;
    let old = load(&state, &ident).await?;
    // Changing `owner` or `public` is a system member's call; anything else
    // needs `baremetal:runbook:update`.
    let special = |p: &str| p.starts_with("/owner") || p.starts_with("/public");
    let generic = roots.is_empty() || roots.iter().any(|(_, p, _)| !special(p));
    if generic && !allowed(&api, ADMIN, &old) {
        return Err(forbidden("baremetal:runbook:update"));
    }
    for (_, p, _) in &roots {
        if special(p) && !api.ctx.allows(SYSTEM_MEMBER, Owner::default()) {
            let policy = if p.starts_with("/owner") { "owner" } else { "public" };
            return Err(forbidden(&format!("baremetal:runbook:update:{policy}")));
        }
    }
    let owners = patch_values(&body, "/owner");
    let publics = patch_values(&body, "/public");
    if !owners.is_empty() {
        let public_value = publics.first().is_some_and(truthy);
        if (old.public && publics.is_empty()) || public_value {
            let patch: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            return Err(BaremetalError::BadRequest(format!(
                "Couldn't apply patch '{}'. Reason: There cannot be an owner for a public runbook",
                py_repr(&patch)
            )));
        }
    }
    let old_steps = stored(&old.steps);
    let mut doc = json!({"uuid": old.uuid, "name": old.name, "description": old.description,
                         "public": old.public, "owner": old.owner, "disable_ramdisk": old.disable_ramdisk,
                         "extra": json_text(&old.extra), "steps": old_steps,
                         "created_at": ts(&old.created_at), "updated_at": ts_opt(&old.updated_at)});
    if !publics.is_empty() {
        doc["owner"] = Value::Null;
    }
    apply_patch(&mut doc, &body, &allowed_fields, "the resource")?;
    prune_steps(&mut doc, StepKind::Runbook);
    let Value::Object(mut d) = doc else { return Err(schema("patch", "not an object")) };
    d.retain(|k, _| {
        ["uuid", "name", "description", "steps", "disable_ramdisk", "extra", "public", "owner"].contains(&k.as_str())
    });
    let f = check_body(&api, "patch", &d, true)?;
    let old_list = old_steps.as_array().cloned().unwrap_or_default();
    let mut r = Runbook {
        name: f.name,
        description: f.description,
        public: f.public,
        owner: f.owner,
        disable_ramdisk: f.disable_ramdisk,
        extra: f.extra,
        steps: if f.steps == old_list {
            old.steps.clone()
        } else {
            Value::Array(merge_steps(&old_list, &f.steps)).to_string()
        },
        ..old.clone()
    };
    if r != old {
        // Steps live apart from the runbook's own columns in Ironic:
        // changing only them leaves `updated_at` as it was.
        if (Runbook { steps: old.steps.clone(), ..r.clone() }) != old {
            r.updated_at = Some(now());
        }
        let row = r.clone();
        let renamed = r.name != old.name;
        state
            .storage()
            .write(move |c| {
                if renamed && st::runbook_by_name(c, &row.name)?.is_some() {
                    return Ok(Err(BaremetalError::Conflict(format!(
                        "A runbook with name {} already exists.",
                        row.name
                    ))));
                }
                st::runbook_update(c, &row)?;
                Ok(Ok(()))
            })
            .await??;
    }
    Ok(HttpResponse::Ok().json(render(&state.base, &api, &r)))
}

/// (1.92) Deletes a runbook.
#[utoipa::path(delete, path = "/v1/runbooks/{ident}", tag = "runbooks", params(("ident" = String, Path, description = "A UUID or a name.")),
    responses((status = 204, description = "Deleted.")))]
async fn delete(req: HttpRequest, api: Api, state: web::Data<BaremetalState>, path: web::Path<String>) -> HttpResponse {
    if let Some(r) = too_old(&api, req.method(), MIN, "runbooks") {
        return r;
    }
    respond(delete_inner(api, state, path.into_inner()).await)
}

async fn delete_inner(api: Api, state: web::Data<BaremetalState>, ident: String) -> Result<HttpResponse> {
    check_ident("runbook_ident", &ident)?;
    let r = load(&state, &ident).await?;
    if !allowed(&api, ADMIN, &r) {
        return Err(forbidden("baremetal:runbook:delete"));
    }
    let uuid = r.uuid.clone();
    state.storage().write(move |c| st::runbook_delete(c, &uuid)).await?;
    Ok(HttpResponse::NoContent().finish())
}

// ---- traits (1.112+) ---------------------------------------------------------------

/// Gate for the traits sub-resource: 404 below 1.112 whatever the method.
fn traits_gate(api: &Api, method: &Method) -> Option<HttpResponse> {
    if let Some(r) = too_old(api, method, MIN, "runbooks") {
        return Some(r);
    }
    (!api.at_least(TRAITS)).then(|| webob_error(StatusCode::NOT_FOUND, "The API version does not allow runbook traits"))
}

/// (1.112) A runbook's traits.
#[utoipa::path(get, path = "/v1/runbooks/{ident}/traits", tag = "runbooks", params(("ident" = String, Path, description = "A UUID or a name.")),
    responses((status = 200, description = "The traits.", body = RunbookTraits)))]
async fn traits_get(
    req: HttpRequest,
    api: Api,
    state: web::Data<BaremetalState>,
    path: web::Path<String>,
) -> HttpResponse {
    if let Some(r) = traits_gate(&api, req.method()) {
        return r;
    }
    respond(
        async {
            let ident = path.into_inner();
            check_ident("runbook_ident", &ident)?;
            let r = load(&state, &ident).await?;
            if !allowed(&api, READER, &r) {
                return Err(forbidden("baremetal:runbook:get"));
            }
            Ok(HttpResponse::Ok().json(json!({"traits": stored(&r.traits)})))
        }
        .await,
    )
}

/// Replaces the trait list (`traits: None` removes them all, `add` adds one).
async fn set_traits(
    api: &Api,
    state: &BaremetalState,
    ident: &str,
    change: impl FnOnce(Vec<String>) -> Vec<String> + Send + 'static,
) -> Result<()> {
    check_ident("runbook_ident", ident)?;
    let r = load(state, ident).await?;
    if !allowed(api, ADMIN, &r) {
        return Err(forbidden("baremetal:runbook:update"));
    }
    let uuid = r.uuid.clone();
    state
        .storage()
        .write(move |c| {
            let mut r = st::runbook(c, &uuid)?;
            let current: Vec<String> = serde_json::from_str(&r.traits).unwrap_or_default();
            r.traits = json!(change(current)).to_string();
            st::runbook_update(c, &r)
        })
        .await?;
    Ok(())
}

/// (1.112) Replaces a runbook's traits.
#[utoipa::path(put, path = "/v1/runbooks/{ident}/traits", tag = "runbooks", params(("ident" = String, Path, description = "A UUID or a name.")),
    request_body = RunbookTraits, responses((status = 204, description = "Replaced.")))]
async fn traits_put_all(
    req: HttpRequest,
    api: Api,
    state: web::Data<BaremetalState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    if let Some(r) = traits_gate(&api, req.method()) {
        return r;
    }
    respond(
        async {
            const USAGE: &str = "A single runbook trait may be added via PUT /v1/runbooks/<runbook identifier>/traits/<trait> \
                 with no body, or all runbook traits may be replaced via PUT /v1/runbooks/<runbook identifier>/traits \
                 with the list of traits specified in the request body.";
            let b = if body.is_empty() { Map::new() } else { body_object(&body, "body")? };
            only_keys(&b, &["traits"], "body")?;
            let list = match b.get("traits") {
                None => return Err(BaremetalError::BadRequest(USAGE.into())),
                Some(Value::Array(l)) => l.clone(),
                Some(other) => return Err(schema("body", format!("{} is not of type 'array'", py_repr(other)))),
            };
            let mut traits = Vec::new();
            for t in &list {
                traits.push(check_trait_name("body", Some(t))?);
            }
            traits.sort();
            traits.dedup();
            set_traits(&api, &state, &path.into_inner(), move |_| traits).await?;
            Ok(HttpResponse::NoContent().finish())
        }
        .await,
    )
}

/// (1.112) Adds a trait to a runbook (no body).
#[utoipa::path(put, path = "/v1/runbooks/{ident}/traits/{trait}", tag = "runbooks", params(("ident" = String, Path, description = "A UUID or a name."), ("trait" = String, Path, description = "`CUSTOM_…` or a standard trait.")),
    responses((status = 204, description = "Added.")))]
async fn traits_put_one(
    req: HttpRequest,
    api: Api,
    state: web::Data<BaremetalState>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> HttpResponse {
    if let Some(r) = traits_gate(&api, req.method()) {
        return r;
    }
    respond(
        async {
            let (ident, t) = path.into_inner();
            let t = check_trait_name("trait", Some(&Value::String(t)))?;
            if serde_json::from_slice::<Value>(&body).is_ok_and(|v| v != Value::Null && v != json!({})) {
                return Err(BaremetalError::BadRequest("No body should be provided when adding a trait".into()));
            }
            let added = t.clone();
            set_traits(&api, &state, &ident, move |mut cur| {
                if !cur.contains(&added) {
                    cur.push(added);
                }
                cur
            })
            .await?;
            Ok(HttpResponse::NoContent()
                .insert_header(("Location", format!("{}/v1/runbooks/{ident}/traits/{t}", state.base)))
                .finish())
        }
        .await,
    )
}

/// (1.112) Removes every trait of a runbook.
#[utoipa::path(delete, path = "/v1/runbooks/{ident}/traits", tag = "runbooks", params(("ident" = String, Path, description = "A UUID or a name.")),
    responses((status = 204, description = "Removed.")))]
async fn traits_delete_all(
    req: HttpRequest,
    api: Api,
    state: web::Data<BaremetalState>,
    path: web::Path<String>,
) -> HttpResponse {
    if let Some(r) = traits_gate(&api, req.method()) {
        return r;
    }
    respond(
        async {
            set_traits(&api, &state, &path.into_inner(), |_| Vec::new()).await?;
            Ok(HttpResponse::NoContent().finish())
        }
        .await,
    )
}

/// (1.112) Removes a trait from a runbook.
#[utoipa::path(delete, path = "/v1/runbooks/{ident}/traits/{trait}", tag = "runbooks", params(("ident" = String, Path, description = "A UUID or a name."), ("trait" = String, Path, description = "`CUSTOM_…` or a standard trait.")),
    responses((status = 204, description = "Removed.")))]
async fn traits_delete_one(
    req: HttpRequest,
    api: Api,
    state: web::Data<BaremetalState>,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    if let Some(r) = traits_gate(&api, req.method()) {
        return r;
    }
    respond(
        async {
            let (ident, t) = path.into_inner();
            set_traits(&api, &state, &ident, move |mut cur| {
                cur.retain(|x| *x != t);
                cur
            })
            .await?;
            Ok(HttpResponse::NoContent().finish())
        }
        .await,
    )
}

pub fn routes(r: &mut Routes) {
    crate::routes!(r;
        list | "/v1/runbooks/",
        create | "/v1/runbooks/",
        show,
        update,
        delete,
        traits_get,
        traits_put_all,
        traits_delete_all,
        traits_put_one,
        traits_delete_one,
    );
}
