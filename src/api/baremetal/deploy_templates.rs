//! Deploy templates: `/v1/deploy_templates` (1.55+). Also the pieces the
//! runbooks share with them: the microversion gate, step validation,
//! trait-like names, secret masking in step arguments and Python-style
//! value printing for schema errors.

use std::collections::HashMap;

use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde_json::{Map, Value, json};

use super::error::{BaremetalError, Result};
use super::openapi::{DetailQuery, FieldsQuery, JsonPatch, Link, PageQuery};
use super::ports::{carried, collection, forbidden, links, now, only_keys, optional, py_bool, schema};
use super::versions::{MAX, MIN};
use super::{Api, BaremetalState, Paging, Query, apply_patch, body_object, is_uuid, json_text, parse_bool, ts, ts_opt};
use crate::common::openapi::Routes;
use crate::common::policy::{Owner, Rule};
use crate::storage::DbConn;
use crate::storage::steps::{self as st, DeployTemplate};

// ---- shared with runbooks -----------------------------------------------------

/// Ironic hides a whole collection newer than the request: reads get a 404,
/// every other method a 405, both in the webob error shape.
pub(super) fn too_old(api: &Api, method: &Method, minor: u16, what: &str) -> Option<HttpResponse> {
    if api.at_least(minor) {
        return None;
    }
    let status = if method == Method::GET { StatusCode::NOT_FOUND } else { StatusCode::METHOD_NOT_ALLOWED };
    Some(webob_error(status, &format!("The API version does not allow {what}")))
}

/// An error in the `{code, title, description}` shape.
pub(super) fn webob_error(status: StatusCode, description: &str) -> HttpResponse {
    let inner = json!({"code": status.as_u16(), "title": status.canonical_reason().unwrap_or("Error"),
                       "description": description});
    HttpResponse::build(status)
        .insert_header(("X-OpenStack-Ironic-API-Minimum-Version", MIN.to_string()))
        .insert_header(("X-OpenStack-Ironic-API-Maximum-Version", MAX.to_string()))
        .json(json!({"error_message": inner.to_string()}))
}

/// A handler result as a response.
pub(super) fn respond(r: Result<HttpResponse>) -> HttpResponse {
    r.unwrap_or_else(|e| e.error_response())
}

/// A JSON value printed as Python prints the decoded value (for messages).
pub(super) fn py_repr(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(b) => py_bool(*b).into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("'{s}'"),
        Value::Array(a) => format!("[{}]", a.iter().map(py_repr).collect::<Vec<_>>().join(", ")),
        Value::Object(m) => {
            format!("{{{}}}", m.iter().map(|(k, v)| format!("'{k}': {}", py_repr(v))).collect::<Vec<_>>().join(", "))
        }
    }
}

/// `os-traits` style names: `CUSTOM_[A-Z0-9_]+`, or a standard trait.
pub(super) fn is_trait(t: &str) -> bool {
    const STANDARD_PREFIXES: &[&str] = &["HW_", "COMPUTE_", "STORAGE_", "MISC_", "OWNER_"];
    let upper = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    t.len() <= 255
        && (t.strip_prefix("CUSTOM_").is_some_and(upper)
            || STANDARD_PREFIXES.iter().any(|p| t.starts_with(p)) && upper(t))
}

/// Checks a trait-like name against Ironic's schema.
pub(super) fn check_trait_name(what: &str, v: Option<&Value>) -> Result<String> {
    match v {
        Some(Value::String(s)) if s.is_empty() => Err(schema(what, "'' should be non-empty")),
        Some(Value::String(s)) if s.chars().count() > 255 => Err(schema(what, format!("'{s}' is too long"))),
        Some(Value::String(s)) if is_trait(s) => Ok(s.clone()),
        Some(Value::String(s)) => Err(schema(
            what,
            format!(
                "'{s}' is not valid under any of the given schemas. Possible root cause: '{s}' does not match \
                 '^CUSTOM_[A-Z0-9_]+$'"
            ),
        )),
        Some(other) => Err(schema(what, format!("{} is not of type 'string'", py_repr(other)))),
        None => Err(schema(what, "'name' is a required property")),
    }
}

/// Masks secrets in step arguments, as Ironic does when it shows steps.
pub(super) fn mask_args(v: &mut Value) {
    *v = crate::common::secrets::masked(v);
}

/// Stored steps as shown: `{interface, step, args, <key>}` with masked args.
pub(super) fn show_steps(steps: &Value, key: &str) -> Value {
    let list = steps.as_array().cloned().unwrap_or_default();
    Value::Array(
        list.into_iter()
            .map(|s| {
                let mut args = s.get("args").cloned().unwrap_or_else(|| json!({}));
                mask_args(&mut args);
                json!({"interface": s.get("interface").cloned().unwrap_or(Value::Null),
                       "step": s.get("step").cloned().unwrap_or(Value::Null),
                       "args": args,
                       key: s.get(key).cloned().unwrap_or(Value::Null)})
            })
            .collect(),
    )
}

/// Which steps a list holds: deploy steps (templates) or runbook steps.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum StepKind {
    Deploy,
    Runbook,
}

const STEP_INTERFACES: [&str; 7] = ["vendor", "power", "management", "firmware", "deploy", "bios", "raid"];

impl StepKind {
    /// The ordering key of a step.
    pub(super) fn key(self) -> &'static str {
        match self {
            StepKind::Deploy => "priority",
            StepKind::Runbook => "order",
        }
    }

    fn required(self) -> &'static [&'static str] {
        match self {
            StepKind::Deploy => &["interface", "step", "args", "priority"],
            StepKind::Runbook => &["interface", "step", "order"],
        }
    }
}

/// Drops the keys a step schema does not know (Ironic prunes them from
/// patched steps before validating).
pub(super) fn prune_steps(doc: &mut Value, kind: StepKind) {
    if let Some(Value::Array(steps)) = doc.get_mut("steps") {
        for s in steps.iter_mut() {
            if let Value::Object(m) = s {
                m.retain(|k, _| ["interface", "step", "args", kind.key()].contains(&k.as_str()));
            }
        }
    }
}

/// Validates a `steps` value; returns the steps as stored (the ordering key
/// as an integer, `args` present).
pub(super) fn check_steps(what: &str, v: Option<&Value>, kind: StepKind) -> Result<Vec<Value>> {
    let list = match v {
        None => return Err(schema(what, "'steps' is a required property")),
        Some(Value::Array(l)) => l,
        Some(other) => return Err(schema(what, format!("{} is not of type 'array'", py_repr(other)))),
    };
    if list.is_empty() {
        return Err(schema(what, "[] should be non-empty"));
    }
    let mut out = Vec::new();
    for s in list {
        let Value::Object(m) = s else {
            return Err(schema(what, format!("{} is not of type 'object'", py_repr(s))));
        };
        if let Some(r) = kind.required().iter().find(|r| !m.contains_key(**r)) {
            return Err(schema(what, format!("'{r}' is a required property")));
        }
        if let Some(k) = m.keys().find(|k| !["interface", "step", "args", kind.key()].contains(&k.as_str())) {
            return Err(schema(what, format!("Additional properties are not allowed ('{k}' was unexpected)")));
        }
        let interface = match &m["interface"] {
            Value::String(i) if STEP_INTERFACES.contains(&i.as_str()) => i.clone(),
            Value::String(i) => {
                return Err(schema(
                    what,
                    format!(
                        "'{i}' is not one of ['vendor', 'power', 'management', 'firmware', 'deploy', 'bios', 'raid']"
                    ),
                ));
            }
            other => return Err(schema(what, format!("{} is not of type 'string'", py_repr(other)))),
        };
        let step = match &m["step"] {
            Value::String(s) if s.is_empty() => return Err(schema(what, "'' should be non-empty")),
            Value::String(s) => s.clone(),
            other => return Err(schema(what, format!("{} is not of type 'string'", py_repr(other)))),
        };
        let args = match m.get("args") {
            None => json!({}),
            Some(a @ Value::Object(_)) => a.clone(),
            Some(other) => return Err(schema(what, format!("{} is not of type 'object'", py_repr(other)))),
        };
        let key = kind.key();
        let order = match &m[key] {
            Value::Number(n) if n.as_i64().is_some_and(|i| i < 0) => {
                return Err(schema(what, format!("{n} is less than the minimum of 0")));
            }
            Value::Number(n) if n.as_i64().is_some() => n.as_i64().unwrap_or(0),
            Value::String(s) if s.is_empty() => return Err(schema(what, "'' should be non-empty")),
            Value::String(s) if s.chars().all(|c| c.is_ascii_digit()) => s
                .parse::<i64>()
                .map_err(|_| schema(what, format!("'{s}' is not valid under any of the given schemas")))?,
            Value::String(s) => return Err(schema(what, format!("'{s}' does not match '^[0-9]+$'"))),
            other => {
                return Err(schema(what, format!("{} is not valid under any of the given schemas", py_repr(other))));
            }
        };
        out.push(json!({"interface": interface, "step": step, "args": args, key: order}));
    }
    check_duplicates(&out)?;
    Ok(out)
}

/// Each interface/step pair may appear once.
fn check_duplicates(steps: &[Value]) -> Result<()> {
    let mut seen: HashMap<(String, String), usize> = HashMap::new();
    for s in steps {
        let k = (s["interface"].as_str().unwrap_or("").to_string(), s["step"].as_str().unwrap_or("").to_string());
        *seen.entry(k).or_default() += 1;
    }
    let mut dups: Vec<String> =
        seen.into_iter().filter(|(_, n)| *n > 1).map(|((i, s), _)| format!("interface: {i}, step: {s}")).collect();
    if dups.is_empty() {
        return Ok(());
    }
    dups.sort();
    Err(BaremetalError::BadRequest(format!(
        "Deploy template invalid: Duplicate deploy steps. A template cannot have multiple deploy steps with the \
         same interface and step. Duplicates: {}.",
        dups.join("; ")
    )))
}

/// The stored order of replaced steps: steps that did not change keep their
/// place, new ones follow in the order given.
pub(super) fn merge_steps(old: &[Value], new: &[Value]) -> Vec<Value> {
    let mut pending: Vec<Option<&Value>> = new.iter().map(Some).collect();
    let mut out = Vec::new();
    for o in old {
        if let Some(slot) = pending.iter_mut().find(|p| p.is_some_and(|n| n == o)) {
            out.push(o.clone());
            *slot = None;
        }
    }
    out.extend(pending.into_iter().flatten().cloned());
    out
}

/// `?fields=` of the collections here: validated against the fields an
/// object shows at this version (only when there is something to show, as
/// Ironic checks them while rendering).
pub(super) fn check_fields(fields: &Option<Vec<String>>, shown: &Map<String, Value>) -> Result<()> {
    let Some(f) = fields else { return Ok(()) };
    let mut bad: Vec<&str> = f.iter().map(String::as_str).filter(|k| !shown.contains_key(*k)).collect();
    if bad.is_empty() {
        return Ok(());
    }
    bad.dedup();
    Err(BaremetalError::BadRequest(format!("Field(s) \"{}\" are not valid", bad.join(", "))))
}

pub(super) fn split_fields(v: &str) -> Vec<String> {
    v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

/// Keeps `fields` (and `links`) of a rendered object.
pub(super) fn keep(mut m: Map<String, Value>, fields: &Option<Vec<String>>) -> Value {
    if let Some(f) = fields {
        m.retain(|k, _| k == "links" || f.iter().any(|x| x == k));
    }
    Value::Object(m)
}

/// Common list arguments: `limit` (an integer), `marker` (a name), `detail`.
pub(super) fn list_args(q: &HashMap<String, String>) -> Result<Option<bool>> {
    if let Some(l) = q.get("limit")
        && l.parse::<i64>().is_err()
    {
        return Err(BaremetalError::BadRequest(format!("Expected an integer for limit: {l}")));
    }
    if let Some(m) = q.get("marker")
        && !super::ports::is_logical_name(m)
    {
        return Err(BaremetalError::BadRequest(format!("Expected name for marker: {m}")));
    }
    q.get("detail").map(|d| parse_bool("detail", d)).transpose()
}

/// The sort key, checked as Ironic does: known columns only, and never the
/// JSON ones.
pub(super) fn check_sort_key<'a>(
    q: &'a HashMap<String, String>,
    sortable: &[(&str, &'static str)],
    unsortable: &[&str],
) -> Result<&'a str> {
    let key = q.get("sort_key").map_or("id", String::as_str);
    if unsortable.contains(&key) {
        return Err(BaremetalError::BadRequest(format!("The sort_key value {key} is an invalid field for sorting")));
    }
    if !sortable.iter().any(|(k, _)| *k == key) {
        return Err(BaremetalError::BadRequest(format!(
            "The sort_key value \"{key}\" is an invalid field for sorting"
        )));
    }
    Ok(key)
}

/// The identifier of a template or runbook: a UUID or a logical name.
pub(super) fn check_ident(param: &str, ident: &str) -> Result<()> {
    if is_uuid(ident) || super::ports::is_logical_name(ident) {
        Ok(())
    } else {
        Err(BaremetalError::BadRequest(format!("Expected UUID or name for {param}: {ident}")))
    }
}

/// A UUID as stored (lower case, hyphenated).
pub(super) fn canonical_uuid(s: &str) -> String {
    uuid::Uuid::parse_str(s).map(|u| u.to_string()).unwrap_or_else(|_| s.to_string())
}

// ---- documents (shared with runbooks) ----------------------------------------------

/// The interfaces a step may belong to.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum StepInterface {
    Vendor,
    Power,
    Management,
    Firmware,
    Deploy,
    Bios,
    Raid,
}

/// A step's priority or order: a non-negative integer, or (as given) a
/// string of digits.
#[derive(utoipa::ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum StepRank {
    Number(i64),
    Digits(String),
}

/// A deploy step.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct DeployStep {
    interface: StepInterface,
    #[schema(min_length = 1)]
    step: String,
    /// Secrets masked when shown.
    #[schema(value_type = Object)]
    args: Value,
    /// 0 disables the step.
    priority: StepRank,
}

/// A deploy template: deploy steps run for nodes whose instance has the
/// trait it is named after.
#[derive(utoipa::ToSchema)]
#[schema(as = DeployTemplate)]
#[allow(dead_code)]
pub struct DeployTemplateDoc {
    uuid: uuid::Uuid,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: Option<String>,
    /// A trait name (`CUSTOM_…`).
    name: String,
    #[schema(value_type = Object)]
    extra: Value,
    links: Vec<Link>,
    /// The steps; a creation echoes them as given (a priority given as a
    /// string stays one).
    steps: Vec<DeployStep>,
}

/// A page of deploy templates (`uuid` and `name` unless `detail` or
/// `fields`); `next` is the next page's URL when this one is full.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct DeployTemplateList {
    deploy_templates: Vec<DeployTemplateDoc>,
    #[serde(default)]
    next: String,
}

/// A new deploy template.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct DeployTemplateCreate {
    /// A trait name: `CUSTOM_[A-Z0-9_]+` or a standard trait.
    #[schema(min_length = 1, max_length = 255)]
    name: String,
    #[schema(min_items = 1)]
    steps: Vec<DeployStep>,
    #[schema(max_length = 255)]
    description: Option<String>,
    #[schema(value_type = Option<Object>)]
    extra: Option<Value>,
    uuid: Option<uuid::Uuid>,
}

// ---- deploy templates -----------------------------------------------------------

const WHAT: &str = "template";

const FIELD_NAMES: [&str; 8] = ["created_at", "description", "extra", "links", "name", "steps", "updated_at", "uuid"];

const SORTABLE: &[(&str, &str)] = &[
    ("id", "id"),
    ("uuid", "uuid"),
    ("name", "name"),
    ("created_at", "created_at"),
    ("updated_at", "COALESCE(updated_at, created_at)"),
];
const NOT_SORTABLE: &[&str] = &["extra", "steps"];

const PATCH_ALLOWED: &[&str] = &["extra", "name", "steps", "description"];

/// `baremetal:deploy_template:*`: system reader to read, system admin to write.
fn allow(api: &Api, rule: Rule, policy: &str) -> Result<()> {
    if api.ctx.allows(rule, Owner::default()) { Ok(()) } else { Err(forbidden(policy)) }
}

fn not_found(ident: &str) -> BaremetalError {
    BaremetalError::NotFound(format!("Deploy template {ident} could not be found."))
}

fn render(base: &str, t: &DeployTemplate, steps: &Value) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("uuid".into(), json!(t.uuid));
    m.insert("created_at".into(), ts(&t.created_at));
    m.insert("updated_at".into(), ts_opt(&t.updated_at));
    m.insert("name".into(), json!(t.name));
    m.insert("extra".into(), json_text(&t.extra));
    m.insert("links".into(), links(base, "deploy_templates", &t.uuid));
    m.insert("steps".into(), show_steps(steps, "priority"));
    m
}

fn stored_steps(t: &DeployTemplate) -> Value {
    serde_json::from_str(&t.steps).unwrap_or_else(|_| json!([]))
}

/// Finds a template by UUID or name; up to 1.90 a `.json` suffix may be
/// part of the request path rather than of the identifier.
fn find(c: &mut DbConn, api: &Api, ident: &str) -> Result<DeployTemplate> {
    if !api.at_least(91)
        && let Some(stripped) = ident.strip_suffix(".json")
        && !stripped.is_empty()
    {
        if let Some(t) = lookup(c, stripped)? {
            return Ok(t);
        }
        return lookup(c, ident)?.ok_or_else(|| not_found(ident));
    }
    check_ident("template_ident", ident)?;
    lookup(c, ident)?.ok_or_else(|| not_found(ident))
}

fn lookup(c: &mut DbConn, ident: &str) -> Result<Option<DeployTemplate>> {
    if is_uuid(ident) {
        Ok(optional(st::template(c, &canonical_uuid(ident)))?)
    } else if super::ports::is_logical_name(ident) {
        Ok(st::template_by_name(c, ident)?)
    } else {
        Ok(None)
    }
}

fn ident_arg(api: &Api, ident: &str) -> Result<()> {
    let bare = match ident.strip_suffix(".json") {
        Some(s) if !api.at_least(91) && !s.is_empty() => s,
        _ => ident,
    };
    check_ident("template_ident", bare)
}

fn parse_template_fields(q: &HashMap<String, String>) -> Result<Option<Vec<String>>> {
    let Some(f) = q.get("fields") else { return Ok(None) };
    let list = split_fields(f);
    if let Some(bad) = list.iter().find(|f| !FIELD_NAMES.contains(&f.as_str())) {
        return Err(BaremetalError::BadRequest(format!(
            "Schema error: '{bad}' is not one of ['created_at', 'description', 'extra', 'links', 'name', 'steps', \
             'updated_at', 'uuid']"
        )));
    }
    Ok(Some(list))
}

/// (1.55) The deploy templates.
#[utoipa::path(get, path = "/v1/deploy_templates", tag = "deploy_templates",
    params(PageQuery, FieldsQuery, DetailQuery),
    responses((status = 200, description = "A page of deploy templates.", body = DeployTemplateList)))]
async fn list(req: HttpRequest, api: Api, state: web::Data<BaremetalState>, q: Query) -> HttpResponse {
    if let Some(r) = too_old(&api, req.method(), 55, "deploy templates") {
        return r;
    }
    respond(list_inner(api, state, q.into_inner()).await)
}

async fn list_inner(api: Api, state: web::Data<BaremetalState>, q: HashMap<String, String>) -> Result<HttpResponse> {
    super::only_params(&q, &["marker", "limit", "sort_key", "sort_dir", "fields", "detail"])?;
    let detail = list_args(&q)?;
    let fields = parse_template_fields(&q)?;
    if let Some(d) = q.get("sort_dir")
        && d != "asc"
        && d != "desc"
    {
        return Err(BaremetalError::BadRequest(format!("Schema error: '{d}' is not one of ['asc', 'desc']")));
    }
    allow(&api, Rule::SYSTEM_READER, "baremetal:deploy_template:get")?;
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
    let rows = state.storage().read(move |c| st::template_list(c, &page)).await?;
    let mut items = Vec::new();
    for t in &rows {
        let m = render(&state.base, t, &stored_steps(t));
        check_fields(&fields, &m)?;
        items.push(keep(m, &fields));
    }
    let last = rows.last().map(|t| t.uuid.clone());
    let extras = carried(&q, detail, &fields, &[]);
    Ok(HttpResponse::Ok().json(collection(
        &state.base,
        "deploy_templates",
        "deploy_templates",
        &paging,
        items,
        last,
        &extras,
    )))
}

/// (1.55) A deploy template.
#[utoipa::path(get, path = "/v1/deploy_templates/{ident}", tag = "deploy_templates",
    params(("ident" = String, Path, description = "A UUID or a name (up to 1.90 a `.json` suffix is ignored)."), FieldsQuery),
    responses((status = 200, description = "The deploy template.", body = DeployTemplateDoc)))]
async fn show(
    req: HttpRequest,
    api: Api,
    state: web::Data<BaremetalState>,
    path: web::Path<String>,
    q: Query,
) -> HttpResponse {
    if let Some(r) = too_old(&api, req.method(), 55, "deploy templates") {
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
    ident_arg(&api, &ident)?;
    let fields = parse_template_fields(&q)?;
    allow(&api, Rule::SYSTEM_READER, "baremetal:deploy_template:get")?;
    let v = Api { ctx: api.ctx.clone(), version: api.version };
    let t = state.storage().read(move |c| Ok(find(c, &v, &ident))).await??;
    let m = render(&state.base, &t, &stored_steps(&t));
    check_fields(&fields, &m)?;
    Ok(HttpResponse::Ok().json(keep(m, &fields)))
}

/// (1.55) Creates a deploy template.
#[utoipa::path(post, path = "/v1/deploy_templates", tag = "deploy_templates", request_body = DeployTemplateCreate,
    responses((status = 201, description = "The new deploy template.", body = DeployTemplateDoc)))]
async fn create(req: HttpRequest, api: Api, state: web::Data<BaremetalState>, body: web::Bytes) -> HttpResponse {
    if let Some(r) = too_old(&api, req.method(), 55, "deploy templates") {
        return r;
    }
    respond(create_inner(api, state, body).await)
}

async fn create_inner(api: Api, state: web::Data<BaremetalState>, body: web::Bytes) -> Result<HttpResponse> {
    let b = body_object(&body, WHAT)?;
    let steps = check_template_body(&b)?;
    let uuid = match b.get("uuid") {
        None | Some(Value::Null) => uuid::Uuid::new_v4().to_string(),
        Some(Value::String(u)) if is_uuid(u) => canonical_uuid(u),
        Some(Value::String(u)) => return Err(BaremetalError::BadRequest(format!("Expected UUID for uuid: {u}"))),
        Some(other) => return Err(schema(WHAT, format!("{} is not of type 'string', 'null'", py_repr(other)))),
    };
    allow(&api, Rule::SYSTEM_ADMIN, "baremetal:deploy_template:create")?;
    let t = DeployTemplate {
        uuid,
        name: b["name"].as_str().unwrap_or_default().to_string(),
        extra: match b.get("extra") {
            Some(e @ Value::Object(_)) => e.to_string(),
            _ => "{}".into(),
        },
        steps: Value::Array(steps).to_string(),
        created_at: now(),
        updated_at: None,
    };
    let row = t.clone();
    state
        .storage()
        .write(move |c| {
            if st::template_by_name(c, &row.name)?.is_some() {
                return Ok(Err(BaremetalError::Conflict(format!(
                    "A deploy template with name {} already exists.",
                    row.name
                ))));
            }
            if optional(st::template(c, &row.uuid))?.is_some() {
                return Ok(Err(BaremetalError::Conflict(format!(
                    "A deploy template with UUID {} already exists.",
                    row.uuid
                ))));
            }
            st::template_insert(c, &row)?;
            Ok(Ok(()))
        })
        .await??;
    // The answer echoes the steps as sent (a priority given as a string
    // stays one), as Ironic's does.
    let echoed = b.get("steps").cloned().unwrap_or_else(|| json!([]));
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("{}/v1/deploy_templates/{}", state.base, t.uuid)))
        .json(render(&state.base, &t, &echoed)))
}

/// The template schema: known keys, name, steps, description, extra.
fn check_template_body(b: &Map<String, Value>) -> Result<Vec<Value>> {
    for r in ["steps", "name"] {
        if !b.contains_key(r) {
            return Err(schema(WHAT, format!("'{r}' is a required property")));
        }
    }
    only_keys(b, &["description", "extra", "name", "steps", "uuid"], WHAT)?;
    match b.get("description") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if s.chars().count() > 255 => return Err(schema(WHAT, format!("'{s}' is too long"))),
        Some(Value::String(_)) => {}
        Some(other) => return Err(schema(WHAT, format!("{} is not of type 'string', 'null'", py_repr(other)))),
    }
    match b.get("extra") {
        None | Some(Value::Null) | Some(Value::Object(_)) => {}
        Some(other) => return Err(schema(WHAT, format!("{} is not of type 'object', 'null'", py_repr(other)))),
    }
    check_trait_name(WHAT, b.get("name"))?;
    check_steps(WHAT, b.get("steps"), StepKind::Deploy)
}

/// (1.55) Updates a deploy template (`name`, `steps`, `extra`).
#[utoipa::path(patch, path = "/v1/deploy_templates/{ident}", tag = "deploy_templates",
    params(("ident" = String, Path, description = "A UUID or a name (up to 1.90 a `.json` suffix is ignored).")), request_body = JsonPatch,
    responses((status = 200, description = "The updated deploy template.", body = DeployTemplateDoc)))]
async fn update(
    req: HttpRequest,
    api: Api,
    state: web::Data<BaremetalState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    if let Some(r) = too_old(&api, req.method(), 55, "deploy templates") {
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
    ident_arg(&api, &ident)?;
    check_patch_shape(&body)?;
    allow(&api, Rule::SYSTEM_ADMIN, "baremetal:deploy_template:update")?;
    super::ports::patch_roots(&body, PATCH_ALLOWED)?;
    let v = Api { ctx: api.ctx.clone(), version: api.version };
    let t = state
        .storage()
        .write(move |c| {
            let old = match find(c, &v, &ident) {
                Ok(t) => t,
                Err(e) => return Ok(Err(e)),
            };
            let old_steps = stored_steps(&old);
            let mut doc = json!({"uuid": old.uuid, "name": old.name, "extra": json_text(&old.extra),
                                 "steps": old_steps, "created_at": ts(&old.created_at),
                                 "updated_at": ts_opt(&old.updated_at)});
            if let Err(e) = apply_patch(&mut doc, &body, PATCH_ALLOWED, "the resource") {
                return Ok(Err(e));
            }
            prune_steps(&mut doc, StepKind::Deploy);
            let read = || -> Result<DeployTemplate> {
                let Value::Object(d) = &doc else { return Err(schema("patch", "not an object")) };
                let mut d = d.clone();
                d.retain(|k, _| ["description", "extra", "name", "steps", "uuid"].contains(&k.as_str()));
                let new_steps = patched_template(&d)?;
                let old_list = old_steps.as_array().cloned().unwrap_or_default();
                Ok(DeployTemplate {
                    uuid: old.uuid.clone(),
                    name: d["name"].as_str().unwrap_or_default().to_string(),
                    extra: match d.get("extra") {
                        Some(e @ Value::Object(_)) => e.to_string(),
                        _ => "{}".into(),
                    },
                    steps: if new_steps == old_list {
                        old.steps.clone()
                    } else {
                        Value::Array(merge_steps(&old_list, &new_steps)).to_string()
                    },
                    created_at: old.created_at,
                    updated_at: old.updated_at,
                })
            };
            let mut t = match read() {
                Ok(t) => t,
                Err(e) => return Ok(Err(e)),
            };
            if t != old {
                if t.name != old.name && st::template_by_name(c, &t.name)?.is_some() {
                    return Ok(Err(BaremetalError::Conflict(format!(
                        "A deploy template with name {} already exists.",
                        t.name
                    ))));
                }
                // Steps live apart from the template's own columns in Ironic:
                // changing only them leaves `updated_at` as it was.
                if t.name != old.name || t.extra != old.extra {
                    t.updated_at = Some(now());
                }
                st::template_update(c, &t)?;
            }
            Ok(Ok(t))
        })
        .await??;
    Ok(HttpResponse::Ok().json(render(&state.base, &t, &stored_steps(&t))))
}

/// A patched template checked against the schema (as "patch").
fn patched_template(d: &Map<String, Value>) -> Result<Vec<Value>> {
    const P: &str = "patch";
    for r in ["steps", "name"] {
        if !d.contains_key(r) {
            return Err(schema(P, format!("'{r}' is a required property")));
        }
    }
    match d.get("extra") {
        None | Some(Value::Null) | Some(Value::Object(_)) => {}
        Some(other) => return Err(schema(P, format!("{} is not of type 'object', 'null'", py_repr(other)))),
    }
    check_trait_name(P, d.get("name"))?;
    check_steps(P, d.get("steps"), StepKind::Deploy)
}

/// Ironic's patch document schema: a list of `{op, path, value}`.
pub(super) fn check_patch_shape(body: &[u8]) -> Result<()> {
    let Ok(v) = serde_json::from_slice::<Value>(body) else { return Ok(()) };
    let Value::Array(ops) = &v else {
        return Err(schema("patch", format!("{} is not of type 'array'", py_repr(&v))));
    };
    for op in ops {
        let Value::Object(m) = op else {
            return Err(schema("patch", format!("{} is not of type 'object'", py_repr(op))));
        };
        if let Some(k) = m.keys().find(|k| !["op", "path", "value"].contains(&k.as_str())) {
            return Err(schema("patch", format!("Additional properties are not allowed ('{k}' was unexpected)")));
        }
        for r in ["op", "path"] {
            if !m.contains_key(r) {
                return Err(schema("patch", format!("'{r}' is a required property")));
            }
        }
    }
    Ok(())
}

/// (1.55) Deletes a deploy template.
#[utoipa::path(delete, path = "/v1/deploy_templates/{ident}", tag = "deploy_templates",
    params(("ident" = String, Path, description = "A UUID or a name (up to 1.90 a `.json` suffix is ignored).")),
    responses((status = 204, description = "Deleted.")))]
async fn delete(req: HttpRequest, api: Api, state: web::Data<BaremetalState>, path: web::Path<String>) -> HttpResponse {
    if let Some(r) = too_old(&api, req.method(), 55, "deploy templates") {
        return r;
    }
    respond(delete_inner(api, state, path.into_inner()).await)
}

async fn delete_inner(api: Api, state: web::Data<BaremetalState>, ident: String) -> Result<HttpResponse> {
    ident_arg(&api, &ident)?;
    allow(&api, Rule::SYSTEM_ADMIN, "baremetal:deploy_template:delete")?;
    let v = Api { ctx: api.ctx.clone(), version: api.version };
    state
        .storage()
        .write(move |c| {
            let t = match find(c, &v, &ident) {
                Ok(t) => t,
                Err(e) => return Ok(Err(e)),
            };
            st::template_delete(c, &t.uuid)?;
            Ok(Ok(()))
        })
        .await??;
    Ok(HttpResponse::NoContent().finish())
}

/// (1.55) Always refused: Ironic takes the path's last segment as the
/// template body (400, not an object).
#[utoipa::path(post, path = "/v1/deploy_templates/{ident}", tag = "deploy_templates",
    params(("ident" = String, Path)), responses())]
async fn post_ident(req: HttpRequest, api: Api, path: web::Path<String>) -> HttpResponse {
    if let Some(r) = too_old(&api, req.method(), 55, "deploy templates") {
        return r;
    }
    schema(WHAT, format!("'{}' is not of type 'object'", path.into_inner())).error_response()
}

pub fn routes(r: &mut Routes) {
    crate::routes!(r;
        list | "/v1/deploy_templates/",
        create | "/v1/deploy_templates/",
        show,
        post_ident,
        update,
        delete,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_repr() {
        assert_eq!(py_repr(&json!({"key": "value"})), "{'key': 'value'}");
        assert_eq!(py_repr(&json!([1, null, true])), "[1, None, True]");
    }

    #[test]
    fn steps_are_checked_and_normalised() {
        let s = json!([{"interface": "bios", "step": "x", "args": {}, "priority": "10"}]);
        let out = check_steps("t", Some(&s), StepKind::Deploy).unwrap();
        assert_eq!(out[0]["priority"], 10);
        let dup = json!([{"interface": "bios", "step": "x", "args": {}, "priority": 1},
                         {"interface": "bios", "step": "x", "args": {}, "priority": 2}]);
        assert!(check_steps("t", Some(&dup), StepKind::Deploy).is_err());
        let bad = json!([{"interface": "foo", "step": "x", "args": {}, "priority": 1}]);
        assert!(check_steps("t", Some(&bad), StepKind::Deploy).is_err());
        let rb = json!([{"interface": "bios", "step": "x", "order": 1}]);
        assert_eq!(check_steps("t", Some(&rb), StepKind::Runbook).unwrap()[0]["args"], json!({}));
    }

    #[test]
    fn names_and_masks() {
        assert!(is_trait("CUSTOM_A_1"));
        assert!(!is_trait("invalid-name"));
        assert!(!is_trait("CUSTOM_"));
        let mut a = json!({"password": "x", "nested": {"auth_token": "y"}, "a": 1});
        mask_args(&mut a);
        assert_eq!(a, json!({"password": "******", "nested": {"auth_token": "******"}, "a": 1}));
    }

    #[test]
    fn merged_order_keeps_unchanged_steps() {
        let a = json!({"step": "a"});
        let b = json!({"step": "b"});
        let c = json!({"step": "c"});
        assert_eq!(merge_steps(&[a.clone(), b.clone()], &[c.clone(), a.clone()]), vec![a, c]);
    }
}
