//! Inspection rules (1.96+): `/v1/inspection_rules`.
//!
//! A rule is a list of conditions and actions run against nodes being
//! inspected. Rules are validated here as Ironic does (a JSON schema, then
//! per-operator argument checks); the engine runs them when an inspection
//! finishes (`engine::rules`).

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde_json::{Map, Value, json};

use super::error::{BaremetalError, Result};
use super::openapi::{DetailQuery, FieldsQuery, JsonPatch, Link, PageQuery};
use super::ports::{collection, forbidden, now, require_system};
use super::versions::{MAX, MIN};
use super::{Api, BaremetalState, Paging, Query, is_uuid, only_params, parse_bool, ts, ts_opt};
use crate::common::openapi::Routes;
use crate::common::policy::Rule as Policy;
use crate::storage::inspection::{self as ins, Rule};

const ACTIONS: &[&str] = &[
    "fail",
    "log",
    "set-attribute",
    "extend-attribute",
    "del-attribute",
    "set-capability",
    "unset-capability",
    "add-trait",
    "remove-trait",
    "set-plugin-data",
    "extend-plugin-data",
    "unset-plugin-data",
    "set-port-attribute",
    "extend-port-attribute",
    "del-port-attribute",
    "api-call",
];

const OPERATORS: &[&str] =
    &["eq", "lt", "gt", "is-empty", "in-net", "matches", "contains", "one-of", "is-none", "is-true", "is-false"];

/// Required and optional arguments of an action or operator, and whether
/// it is handed the plugin data (which validation adds to its arguments).
fn signature(op: &str) -> (&'static [&'static str], &'static [&'static str], bool) {
    match op {
        "fail" => (&["msg"], &[], false),
        "log" => (&["msg"], &["level"], false),
        "set-attribute" => (&["path", "value"], &[], false),
        "extend-attribute" => (&["path", "value"], &["unique"], false),
        "del-attribute" => (&["path"], &[], false),
        "set-capability" => (&["name", "value"], &[], false),
        "unset-capability" | "add-trait" | "remove-trait" => (&["name"], &[], false),
        "set-plugin-data" => (&["path", "value", "plugin_data"], &[], true),
        "extend-plugin-data" => (&["path", "value", "plugin_data"], &["unique"], true),
        "unset-plugin-data" => (&["path", "plugin_data"], &[], true),
        "set-port-attribute" => (&["port_id", "path", "value"], &[], false),
        "extend-port-attribute" => (&["port_id", "path", "value"], &["unique"], false),
        "del-port-attribute" => (&["port_id", "path"], &[], false),
        "api-call" => (&["url"], &["headers", "proxies", "timeout", "retries", "backoff_factor"], false),
        "eq" | "lt" | "gt" => (&["values"], &["force_strings"], false),
        "in-net" => (&["address", "subnet"], &[], false),
        "matches" | "contains" => (&["value", "regex"], &[], false),
        "one-of" => (&["value"], &["values"], false),
        _ => (&["value"], &[], false),
    }
}

const FIELDS: &[&str] = &[
    "uuid",
    "created_at",
    "updated_at",
    "description",
    "priority",
    "sensitive",
    "phase",
    "conditions",
    "actions",
    "links",
];
const DEFAULT_FIELDS: &[&str] = &["uuid", "priority", "phase", "description"];
const SORTABLE: &[(&str, &str)] = &[
    ("id", "id"),
    ("uuid", "uuid"),
    ("priority", "priority"),
    ("description", "COALESCE(description, '')"),
    ("scope", "COALESCE(scope, '')"),
    ("sensitive", "sensitive"),
    ("phase", "COALESCE(phase, '')"),
    ("created_at", "created_at"),
    ("updated_at", "COALESCE(updated_at, created_at)"),
];

/// `baremetal:inspection_rule:*`: system readers see, system admins change.
const GET: Policy = Policy::SYSTEM_READER;
const CHANGE: Policy = Policy::SYSTEM_ADMIN;

/// Below 1.96 reads are 404 and writes 405, both with a controller fault.
fn too_old(status: StatusCode) -> HttpResponse {
    let text = json!({"faultcode": "Client", "faultstring": "The API version does not allow inspection rules",
                      "debuginfo": null});
    HttpResponse::build(status)
        .insert_header(("X-OpenStack-Ironic-API-Minimum-Version", MIN.to_string()))
        .insert_header(("X-OpenStack-Ironic-API-Maximum-Version", MAX.to_string()))
        .json(json!({"error_message": text.to_string()}))
}

fn not_found(uuid: &str) -> BaremetalError {
    BaremetalError::NotFound(format!("Rule {uuid} could not be found."))
}

fn schema(prefix: &str, msg: impl std::fmt::Display) -> BaremetalError {
    BaremetalError::BadRequest(format!("{prefix}: {msg}"))
}

/// A JSON value as Python prints it (for schema messages).
pub(super) fn py(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(b) => if *b { "True" } else { "False" }.into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("'{s}'"),
        Value::Array(a) => format!("[{}]", a.iter().map(py).collect::<Vec<_>>().join(", ")),
        Value::Object(m) => {
            format!("{{{}}}", m.iter().map(|(k, v)| format!("'{k}': {}", py(v))).collect::<Vec<_>>().join(", "))
        }
    }
}

/// Python's truthiness, for a non-null value.
fn is_falsy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
    }
}

fn py_list(items: &[&str]) -> String {
    format!("[{}]", items.iter().map(|s| format!("'{s}'")).collect::<Vec<_>>().join(", "))
}

// ---- documents ---------------------------------------------------------------------

/// An operator's or action's arguments: positional (a list) or named.
#[derive(utoipa::ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum RuleArgs {
    Positional(Vec<Value>),
    #[schema(value_type = Object)]
    Named(Map<String, Value>),
}

/// What a condition tests over the items of a `loop`.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum LoopMultiple {
    Any,
    All,
    First,
    Last,
}

/// A rule's condition: an operator (`eq`, `lt`, `gt`, `is-empty`,
/// `in-net`, `matches`, `contains`, `one-of`, `is-none`, `is-true`,
/// `is-false`, each also negated with a leading `!`) and its arguments.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct RuleCondition {
    op: String,
    args: RuleArgs,
    /// Runs the condition for each item.
    #[schema(nullable = false)]
    r#loop: Option<RuleArgs>,
    /// With `loop` (`any` by default).
    #[schema(nullable = false)]
    multiple: Option<LoopMultiple>,
}

/// A rule's action: `fail`, `log`, `set-attribute`, `extend-attribute`,
/// `del-attribute`, `set-capability`, `unset-capability`, `add-trait`,
/// `remove-trait`, `set-plugin-data`, `extend-plugin-data`,
/// `unset-plugin-data`, `set-port-attribute`, `extend-port-attribute`,
/// `del-port-attribute` or `api-call`, with its arguments.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct RuleAction {
    op: String,
    args: RuleArgs,
    /// Runs the action for each item.
    #[schema(nullable = false)]
    r#loop: Option<RuleArgs>,
}

/// An inspection rule: actions run on a node being inspected when its
/// conditions hold.
#[derive(utoipa::ToSchema)]
#[schema(as = InspectionRule)]
#[allow(dead_code)]
pub struct InspectionRuleDoc {
    uuid: uuid::Uuid,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: Option<String>,
    description: Option<String>,
    /// Rules run by descending priority.
    priority: i64,
    /// A sensitive rule's conditions and actions are never shown (null).
    sensitive: bool,
    /// Always `main`.
    phase: Option<String>,
    conditions: Option<Vec<RuleCondition>>,
    actions: Option<Vec<RuleAction>>,
    links: Vec<Link>,
}

/// A page of inspection rules (`uuid`, `priority`, `phase`, `description`
/// unless `detail` or `fields`); `next` is the next page's URL when this
/// one is full.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct InspectionRuleList {
    inspection_rules: Vec<InspectionRuleDoc>,
    #[serde(default)]
    next: String,
}

/// A new inspection rule.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct InspectionRuleCreate {
    #[schema(min_items = 1)]
    actions: Vec<RuleAction>,
    conditions: Option<Vec<RuleCondition>>,
    #[schema(max_length = 255)]
    description: Option<String>,
    /// Only `main`.
    #[schema(max_length = 16)]
    phase: Option<String>,
    /// 0 to 9999.
    #[schema(nullable = false, minimum = 0, maximum = 9999)]
    priority: Option<i64>,
    sensitive: Option<bool>,
    uuid: Option<uuid::Uuid>,
}

// ---- validation ---------------------------------------------------------------------

/// The request schema: `prefix` is "Schema error" or "Schema error for patch".
fn check_schema(body: &Value, prefix: &str) -> Result<()> {
    let Value::Object(b) = body else { return Err(schema(prefix, format!("{} is not of type 'object'", py(body)))) };
    if !b.contains_key("actions") {
        return Err(schema(prefix, "'actions' is a required property"));
    }
    const KEYS: &[&str] = &["actions", "conditions", "description", "phase", "priority", "sensitive", "uuid"];
    if let Some(k) = b.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(schema(prefix, format!("Additional properties are not allowed ('{k}' was unexpected)")));
    }
    check_steps(&b["actions"], prefix, true)?;
    if let Some(c) = b.get("conditions") {
        check_steps(c, prefix, false)?;
    }
    for (key, max) in [("description", 255), ("phase", 16)] {
        match b.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if s.chars().count() > max => {
                return Err(schema(prefix, format!("'{s}' is too long")));
            }
            Some(Value::String(_)) => {}
            Some(other) => return Err(schema(prefix, format!("{} is not of type 'string', 'null'", py(other)))),
        }
    }
    match b.get("priority") {
        None => {}
        Some(Value::Number(n)) if n.as_i64().is_some_and(|p| p < 0) => {
            return Err(schema(prefix, format!("{n} is less than the minimum of 0")));
        }
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => {}
        Some(other) => return Err(schema(prefix, format!("{} is not of type 'integer'", py(other)))),
    }
    if let Some(v) = b.get("sensitive")
        && !v.is_boolean()
        && !v.is_null()
    {
        return Err(schema(prefix, format!("{} is not of type 'boolean', 'null'", py(v))));
    }
    if let Some(v) = b.get("uuid")
        && !v.is_string()
        && !v.is_null()
    {
        return Err(schema(prefix, format!("{} is not of type 'string', 'null'", py(v))));
    }
    Ok(())
}

/// Actions (at least one) or conditions.
fn check_steps(v: &Value, prefix: &str, actions: bool) -> Result<()> {
    let Value::Array(items) = v else { return Err(schema(prefix, format!("{} is not of type 'array'", py(v)))) };
    if actions && items.is_empty() {
        return Err(schema(prefix, "[] should be non-empty"));
    }
    let ops: Vec<String> = if actions {
        ACTIONS.iter().map(|s| s.to_string()).collect()
    } else {
        OPERATORS.iter().map(|s| s.to_string()).chain(OPERATORS.iter().map(|s| format!("!{s}"))).collect()
    };
    for item in items {
        let Value::Object(m) = item else {
            return Err(schema(prefix, format!("{} is not of type 'object'", py(item))));
        };
        for r in ["op", "args"] {
            if !m.contains_key(r) {
                return Err(schema(prefix, format!("'{r}' is a required property")));
            }
        }
        if !m["op"].as_str().is_some_and(|o| ops.iter().any(|x| x == o)) {
            let names: Vec<&str> = ops.iter().map(String::as_str).collect();
            return Err(schema(prefix, format!("{} is not one of {}", py(&m["op"]), py_list(&names))));
        }
        for key in ["args", "loop"] {
            if let Some(a) = m.get(key)
                && !a.is_array()
                && !a.is_object()
            {
                return Err(schema(prefix, format!("{} is not of type 'array', 'object'", py(a))));
            }
        }
        if !actions
            && let Some(mult) = m.get("multiple")
            && !mult.as_str().is_some_and(|s| ["any", "all", "first", "last"].contains(&s))
        {
            return Err(schema(prefix, format!("{} is not one of ['any', 'all', 'first', 'last']", py(mult))));
        }
    }
    Ok(())
}

/// Checks an operator's arguments against its signature. List arguments
/// are positional. Operators given the plugin data get it added to their
/// stored arguments, as Ironic's validation does. Ironic answers a
/// failure here with a 500; it is the request's fault, so a 400 here.
fn check_args(op: &str, args: &mut Value) -> Result<()> {
    let (required, optional, plugin_data) = signature(op.trim_start_matches('!'));
    let named: Map<String, Value> = match args {
        Value::Array(list) => {
            if plugin_data {
                list.push(json!({}));
            }
            if list.len() < required.len() {
                let missing = required[list.len()..].join(", ");
                return Err(BaremetalError::BadRequest(format!("Not enough arguments provided. Missing: {missing}")));
            }
            required.iter().chain(optional.iter()).zip(list.iter()).map(|(k, v)| (k.to_string(), v.clone())).collect()
        }
        Value::Object(m) => {
            if plugin_data {
                m.insert("plugin_data".into(), json!({}));
            }
            m.clone()
        }
        _ => return Err(BaremetalError::BadRequest("args must be either a list or dictionary".into())),
    };
    let mut missing: Vec<&str> = required.iter().copied().filter(|r| !named.contains_key(*r)).collect();
    missing.sort();
    let mut unexpected: Vec<&str> =
        named.keys().map(String::as_str).filter(|k| !required.contains(k) && !optional.contains(k)).collect();
    unexpected.sort();
    let mut msg = Vec::new();
    if !missing.is_empty() {
        msg.push(format!("missing required argument(s): {}", missing.join(", ")));
    }
    if !unexpected.is_empty() {
        msg.push(format!("unexpected argument(s): {}", unexpected.join(", ")));
    }
    if msg.is_empty() { Ok(()) } else { Err(BaremetalError::BadRequest(msg.join("; "))) }
}

/// Ironic's `validate_rule`: phase, priority range and operator arguments.
/// May add the plugin data argument to `body`'s actions.
fn validate_rule(body: &mut Map<String, Value>) -> Result<()> {
    let mut errors = Vec::new();
    let phase = body.get("phase").cloned().unwrap_or_else(|| json!("main"));
    if phase != json!("main") {
        let shown = phase.as_str().map_or_else(|| py(&phase), str::to_string);
        errors.push(format!("Invalid phase: {shown}. Valid phases are: main"));
    }
    if body.get("priority").and_then(Value::as_i64).is_some_and(|p| p > 9999) {
        errors.push("Priority must be between 0 and 9999 for user-defined rules.".to_string());
    }
    for key in ["conditions", "actions"] {
        if let Some(Value::Array(items)) = body.get_mut(key) {
            for item in items.iter_mut() {
                let op = item["op"].as_str().unwrap_or_default().to_string();
                if let Some(args) = item.get_mut("args") {
                    check_args(&op, args)?;
                }
            }
        }
    }
    match errors.len() {
        0 => Ok(()),
        1 => Err(BaremetalError::BadRequest(errors.remove(0))),
        _ => Err(BaremetalError::BadRequest(format!("Multiple validation errors occurred: {}", errors.join("; ")))),
    }
}

// ---- rendering ------------------------------------------------------------------------

/// Conditions and actions as shown: `op`, `args`, and `loop` (with
/// `multiple`, for conditions) when looping.
fn shown_steps(text: Option<&str>, conditions: bool) -> Value {
    let items: Vec<Value> = text.and_then(|t| serde_json::from_str(t).ok()).unwrap_or_default();
    let out: Vec<Value> = items
        .iter()
        .map(|i| {
            let mut m = Map::new();
            m.insert("op".into(), i.get("op").cloned().unwrap_or(Value::Null));
            m.insert("args".into(), i.get("args").cloned().unwrap_or(Value::Null));
            let looping = i.get("loop").filter(|l| match l {
                Value::Array(a) => !a.is_empty(),
                Value::Object(o) => !o.is_empty(),
                _ => false,
            });
            if let Some(l) = looping {
                m.insert("loop".into(), l.clone());
                if conditions {
                    m.insert("multiple".into(), i.get("multiple").cloned().unwrap_or_else(|| json!("any")));
                }
            }
            Value::Object(m)
        })
        .collect();
    Value::Array(out)
}

fn rule_json(base: &str, r: &Rule) -> Map<String, Value> {
    let (conditions, actions) = if r.sensitive {
        (Value::Null, Value::Null)
    } else {
        (shown_steps(r.conditions.as_deref(), true), shown_steps(Some(&r.actions), false))
    };
    let mut m = Map::new();
    m.insert("uuid".into(), json!(r.uuid));
    m.insert("created_at".into(), ts(&r.created_at));
    m.insert("updated_at".into(), ts_opt(&r.updated_at));
    m.insert("description".into(), json!(r.description));
    m.insert("priority".into(), json!(r.priority));
    m.insert("sensitive".into(), json!(r.sensitive));
    m.insert("phase".into(), json!(r.phase));
    m.insert("conditions".into(), conditions);
    m.insert("actions".into(), actions);
    m.insert("links".into(), super::ports::links(base, "inspection", &r.uuid));
    m
}

fn check_fields(q: &HashMap<String, String>) -> Result<Option<Vec<String>>> {
    let Some(raw) = q.get("fields") else { return Ok(None) };
    let fields: Vec<String> = raw.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect();
    let bad: Vec<&str> = fields.iter().map(String::as_str).filter(|f| !FIELDS.contains(f)).collect();
    if !bad.is_empty() {
        return Err(BaremetalError::BadRequest(format!("Field(s) \"{}\" are not valid", bad.join(", "))));
    }
    Ok(Some(fields))
}

// ---- handlers -----------------------------------------------------------------------------

/// (1.96) The inspection rules.
#[utoipa::path(get, path = "/v1/inspection_rules", tag = "inspection_rules",
    params(PageQuery, FieldsQuery, DetailQuery, ("phase" = Option<String>, Query, description = "Ignored.")),
    responses((status = 200, description = "A page of inspection rules.", body = InspectionRuleList)))]
async fn list(api: Api, state: web::Data<BaremetalState>, q: Query) -> Result<HttpResponse> {
    if !api.at_least(96) {
        return Ok(too_old(StatusCode::NOT_FOUND));
    }
    let q = q.into_inner();
    only_params(&q, &["detail", "fields", "marker", "limit", "phase", "sort_dir", "sort_key"])?;
    let detail = q.get("detail").map(|d| parse_bool("detail", d)).transpose()?;
    if let Some(d) = q.get("sort_dir")
        && d != "asc"
        && d != "desc"
    {
        return Err(BaremetalError::BadRequest(format!("Schema error: '{d}' is not one of ['asc', 'desc']")));
    }
    let sort_key = q.get("sort_key").cloned().unwrap_or_else(|| "id".into());
    if sort_key == "actions" || sort_key == "conditions" {
        return Err(BaremetalError::BadRequest(format!(
            "Schema error: '{sort_key}' should not be valid under {{'type': 'string', 'enum': ['actions', 'conditions']}}"
        )));
    }
    require_system(&api, GET, "baremetal:inspection_rule:get")?;
    let explicit = check_fields(&q)?;
    if explicit.is_some() && detail == Some(true) {
        return Err(BaremetalError::BadRequest("Can not specify ?detail=True and fields in the same request.".into()));
    }
    let fields: Option<Vec<String>> = match (&explicit, detail) {
        (Some(f), _) => Some(f.clone()),
        (None, Some(true)) => None,
        (None, _) => Some(DEFAULT_FIELDS.iter().map(|s| s.to_string()).collect()),
    };
    if let Some(l) = q.get("limit")
        && l.parse::<i64>().is_err()
    {
        return Err(BaremetalError::BadRequest(format!("Expected an integer for limit: {l}")));
    }
    if !SORTABLE.iter().any(|(k, _)| *k == sort_key) {
        return Err(BaremetalError::BadRequest(format!(
            "The sort_key value \"{sort_key}\" is an invalid field for sorting"
        )));
    }
    let (paging, page) = Paging::parse(&q, state.max_limit, SORTABLE, &[])?;
    let marker = page.marker.clone();
    let rows = state
        .storage()
        .read(move |c| {
            if let Some(m) = &marker
                && super::ports::optional(ins::rule(c, m))?.is_none()
            {
                return Ok(Err(not_found(m)));
            }
            Ok(Ok(ins::rules_list(c, &page)?))
        })
        .await??;
    let last = rows.last().map(|r| r.uuid.clone());
    let items: Vec<Value> = rows
        .iter()
        .map(|r| {
            let m = rule_json(&state.base, r);
            match &fields {
                Some(f) => super::select_fields(m, f),
                None => Value::Object(m),
            }
        })
        .collect();
    // Ironic's next link starts with the (unused) filters, printed as a
    // Python dict.
    let filters = match q.get("phase") {
        Some(p) => format!("{{'phase': '{p}'}}"),
        None => "{}".into(),
    };
    let mut body = collection(&state.base, "inspection_rules", "inspection", &paging, items, last, &[]);
    if let Some(Value::String(next)) = body.get_mut("next") {
        let mut extras = String::new();
        if let Some(d) = detail {
            extras.push_str(&format!("&detail={}", if d { "True" } else { "False" }));
        }
        if let Some(f) = &fields {
            extras.push_str(&format!("&fields={}", f.join(",")));
        }
        let (head, tail) = next.split_once('?').unwrap_or((next.as_str(), ""));
        let (sorting, paging_args) = match tail.find("&limit=") {
            Some(i) => (&tail[..i], &tail[i..]),
            None => (tail, ""),
        };
        *next = format!("{head}?filters={filters}&{sorting}{extras}{paging_args}");
    }
    Ok(HttpResponse::Ok().json(body))
}

/// (1.96) An inspection rule.
#[utoipa::path(get, path = "/v1/inspection_rules/{uuid}", tag = "inspection_rules", params(("uuid" = uuid::Uuid, Path), FieldsQuery),
    responses((status = 200, description = "The inspection rule.", body = InspectionRuleDoc)))]
async fn show(api: Api, state: web::Data<BaremetalState>, path: web::Path<String>, q: Query) -> Result<HttpResponse> {
    if !api.at_least(96) {
        return Ok(too_old(StatusCode::NOT_FOUND));
    }
    let q = q.into_inner();
    only_params(&q, &["fields"])?;
    let uuid = path.into_inner();
    if !is_uuid(&uuid) {
        return Err(BaremetalError::BadRequest(format!("Schema error: '{uuid}' is not a 'uuid'")));
    }
    // Stored lower case and hyphenated.
    let uuid = uuid::Uuid::parse_str(&uuid).map_or(uuid, |u| u.to_string());
    require_system(&api, GET, "baremetal:inspection_rule:get")?;
    let id = uuid.clone();
    let rule = state.storage().read(move |c| super::ports::optional(ins::rule(c, &id))).await?;
    let rule = rule.ok_or_else(|| not_found(&uuid))?;
    let fields = check_fields(&q)?;
    let m = rule_json(&state.base, &rule);
    Ok(HttpResponse::Ok().json(match &fields {
        Some(f) => super::select_fields(m, f),
        None => Value::Object(m),
    }))
}

/// A rule from a validated body (create) or patched document.
fn rule_from(body: &Map<String, Value>, uuid: String, old: Option<&Rule>) -> Rule {
    Rule {
        uuid,
        priority: body.get("priority").and_then(Value::as_i64).unwrap_or(0),
        description: body.get("description").and_then(Value::as_str).map(str::to_string),
        scope: old.and_then(|o| o.scope.clone()),
        sensitive: body.get("sensitive").and_then(Value::as_bool).unwrap_or(false),
        phase: match body.get("phase") {
            Some(Value::String(s)) => Some(s.clone()),
            _ => Some("main".into()),
        },
        conditions: Some(
            body.get("conditions").filter(|c| !c.is_null()).cloned().unwrap_or_else(|| json!([])).to_string(),
        ),
        actions: body.get("actions").cloned().unwrap_or_else(|| json!([])).to_string(),
        created_at: old.map_or_else(now, |o| o.created_at),
        updated_at: old.and_then(|o| o.updated_at),
    }
}

/// (1.96) Creates an inspection rule.
#[utoipa::path(post, path = "/v1/inspection_rules", tag = "inspection_rules", request_body = InspectionRuleCreate,
    responses((status = 201, description = "The new inspection rule.", body = InspectionRuleDoc)))]
async fn create(api: Api, state: web::Data<BaremetalState>, body: web::Bytes) -> Result<HttpResponse> {
    if !api.at_least(96) {
        return Ok(too_old(StatusCode::METHOD_NOT_ALLOWED));
    }
    let v: Value =
        serde_json::from_slice(&body).map_err(|e| BaremetalError::BadRequest(format!("Invalid JSON body: {e}")))?;
    check_schema(&v, "Schema error")?;
    require_system(&api, CHANGE, "baremetal:inspection_rule:create")?;
    let Value::Object(mut b) = v else { return Err(BaremetalError::BadRequest("Schema error".into())) };
    validate_rule(&mut b)?;
    // Ironic stores any string here (and then cannot find the rule by it).
    let uuid = match b.get("uuid").and_then(Value::as_str) {
        Some(u) if !u.is_empty() => match uuid::Uuid::parse_str(u) {
            Ok(x) => x.to_string(),
            Err(_) => return Err(BaremetalError::BadRequest(format!("Expected UUID for uuid: {u}"))),
        },
        _ => uuid::Uuid::new_v4().to_string(),
    };
    let rule = rule_from(&b, uuid, None);
    let r = rule.clone();
    state
        .storage()
        .write(move |c| {
            if super::ports::optional(ins::rule(c, &r.uuid))?.is_some() {
                return Ok(Err(BaremetalError::Conflict(format!("A rule with UUID {} already exists.", r.uuid))));
            }
            ins::rule_insert(c, &r)?;
            Ok(Ok(()))
        })
        .await??;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("{}/v1/inspection_rules/{}", state.base, rule.uuid)))
        .json(rule_json(&state.base, &rule)))
}

/// The patchable document of a stored rule (all its fields).
fn patch_doc(r: &Rule) -> Value {
    let parse = |t: &str| serde_json::from_str::<Value>(t).unwrap_or_else(|_| json!([]));
    json!({
        "uuid": r.uuid, "priority": r.priority, "description": r.description, "scope": r.scope,
        "sensitive": r.sensitive, "phase": r.phase,
        "conditions": r.conditions.as_deref().map_or(Value::Null, parse),
        "actions": parse(&r.actions),
        "created_at": ts(&r.created_at), "updated_at": ts_opt(&r.updated_at),
    })
}

/// (1.96) Updates an inspection rule (a sensitive rule stays sensitive).
#[utoipa::path(patch, path = "/v1/inspection_rules/{uuid}", tag = "inspection_rules", params(("uuid" = uuid::Uuid, Path)),
    request_body = JsonPatch,
    responses((status = 200, description = "The updated inspection rule.", body = InspectionRuleDoc)))]
async fn update(
    api: Api,
    state: web::Data<BaremetalState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse> {
    if !api.at_least(96) {
        return Ok(too_old(StatusCode::METHOD_NOT_ALLOWED));
    }
    let uuid = path.into_inner();
    if !is_uuid(&uuid) {
        return Err(BaremetalError::BadRequest(format!("Expected UUID for inspection_rule_uuid: {uuid}")));
    }
    // Stored lower case and hyphenated.
    let uuid = uuid::Uuid::parse_str(&uuid).map_or(uuid, |u| u.to_string());
    let ops: Value =
        serde_json::from_slice(&body).map_err(|e| BaremetalError::BadRequest(format!("Invalid JSON in patch: {e}")))?;
    require_system(&api, CHANGE, "baremetal:inspection_rule:update")?;
    let id = uuid.clone();
    let old = state.storage().read(move |c| super::ports::optional(ins::rule(c, &id))).await?;
    let old = old.ok_or_else(|| not_found(&uuid))?;
    let mut doc = patch_doc(&old);
    let keys: Vec<String> = doc.as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default();
    let list = ops.as_array().cloned().unwrap_or_default();
    let first_sensitive = list
        .iter()
        .find(|o| {
            o.get("path").and_then(Value::as_str) == Some("/sensitive")
                && o.get("op").and_then(Value::as_str) != Some("remove")
        })
        .and_then(|o| o.get("value"));
    if old.sensitive
        && let Some(v) = first_sensitive
        && is_falsy(v)
    {
        return Err(BaremetalError::BadRequest(format!(
            "Couldn't apply patch '{}'. Reason: Inspection rules cannot have the sensitive flag unset.",
            py(&ops)
        )));
    }
    for op in &list {
        let path = op.get("path").and_then(Value::as_str).unwrap_or("");
        let root = path.trim_start_matches('/').split('/').next().unwrap_or("");
        if !keys.iter().any(|k| k == root) && op.get("op").and_then(Value::as_str) == Some("add") {
            return Err(BaremetalError::BadRequest(format!(
                "Adding a new attribute ({path}) to the root of the resource is not allowed"
            )));
        }
    }
    let allowed: Vec<&str> = keys.iter().map(String::as_str).collect();
    super::apply_patch(&mut doc, &body, &allowed, "the resource")?;
    // Only the request schema's fields are validated and saved.
    let Value::Object(mut patched) = doc else { return Err(BaremetalError::BadRequest("Invalid patch".into())) };
    patched.retain(|k, _| {
        ["actions", "conditions", "description", "phase", "priority", "sensitive", "uuid"].contains(&k.as_str())
    });
    check_schema(&Value::Object(patched.clone()), "Schema error for patch")?;
    validate_rule(&mut patched)?;
    let mut rule = rule_from(&patched, old.uuid.clone(), Some(&old));
    if rule != old {
        rule.updated_at = Some(now());
        let r = rule.clone();
        state.storage().write(move |c| ins::rule_update(c, &r)).await?;
    }
    Ok(HttpResponse::Ok().json(rule_json(&state.base, &rule)))
}

/// (1.96) Deletes an inspection rule.
#[utoipa::path(delete, path = "/v1/inspection_rules/{uuid}", tag = "inspection_rules", params(("uuid" = uuid::Uuid, Path)),
    responses((status = 204, description = "Deleted.")))]
async fn delete(api: Api, state: web::Data<BaremetalState>, path: web::Path<String>) -> Result<HttpResponse> {
    if !api.at_least(96) {
        return Ok(too_old(StatusCode::METHOD_NOT_ALLOWED));
    }
    let uuid = path.into_inner();
    if !is_uuid(&uuid) {
        return Err(BaremetalError::BadRequest(format!("Schema error: '{uuid}' is not a 'uuid'")));
    }
    // Stored lower case and hyphenated.
    let uuid = uuid::Uuid::parse_str(&uuid).map_or(uuid, |u| u.to_string());
    require_system(&api, CHANGE, "baremetal:inspection_rule:delete")?;
    let id = uuid.clone();
    let gone = state
        .storage()
        .write(move |c| match super::ports::optional(ins::rule(c, &id))? {
            Some(_) => ins::rule_delete(c, &id).map(|_| true),
            None => Ok(false),
        })
        .await?;
    if !gone {
        return Err(not_found(&uuid));
    }
    Ok(HttpResponse::NoContent().finish())
}

/// (1.96) Deleting every rule at once: always refused (403).
#[utoipa::path(delete, path = "/v1/inspection_rules", tag = "inspection_rules", responses())]
async fn delete_all(api: Api) -> Result<HttpResponse> {
    if !api.at_least(96) {
        return Ok(too_old(StatusCode::METHOD_NOT_ALLOWED));
    }
    Err(forbidden("baremetal:inspection_rule:delete"))
}

pub fn routes(r: &mut Routes) {
    crate::routes!(r;
        list | "/v1/inspection_rules/",
        create | "/v1/inspection_rules/",
        delete_all | "/v1/inspection_rules/",
        show,
        update,
        delete,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_and_rule_checks() {
        let ok = json!({"actions": [{"op": "log", "args": {"msg": "x"}}], "priority": 5});
        assert!(check_schema(&ok, "Schema error").is_ok());
        for bad in [
            json!({"actions": []}),
            json!({}),
            json!({"actions": [{"op": "bogus", "args": {}}]}),
            json!({"actions": [{"op": "log", "args": {"msg": "x"}}], "priority": -1}),
            json!({"actions": [{"op": "log", "args": {"msg": "x"}}], "priority": 5000.5}),
            json!({"actions": [{"op": "log", "args": {"msg": "x"}}], "foo": 1}),
        ] {
            assert!(check_schema(&bad, "Schema error").is_err(), "{bad}");
        }
        let mut high = json!({"actions": [{"op": "log", "args": {"msg": "x"}}], "priority": 10000});
        assert!(validate_rule(high.as_object_mut().unwrap()).is_err());
        let mut pd = json!({"actions": [{"op": "set-plugin-data", "args": {"path": "a", "value": 1}}]});
        validate_rule(pd.as_object_mut().unwrap()).unwrap();
        assert_eq!(pd["actions"][0]["args"]["plugin_data"], json!({}));
        let mut list = json!({"actions": [{"op": "set-attribute", "args": ["{item[path]}", "{item[value]}"]}],
                              "conditions": [{"op": "!eq", "args": ["{a}", 8]}]});
        validate_rule(list.as_object_mut().unwrap()).unwrap();
        let mut missing = json!({"actions": [{"op": "log", "args": {}}]});
        assert!(matches!(validate_rule(missing.as_object_mut().unwrap()), Err(BaremetalError::BadRequest(_))));
    }

    #[test]
    fn steps_render_loops() {
        let shown =
            shown_steps(Some(r#"[{"op":"eq","args":[1],"loop":[1],"x":1},{"op":"eq","args":[2],"loop":[]}]"#), true);
        assert_eq!(
            shown,
            json!([{"op": "eq", "args": [1], "loop": [1], "multiple": "any"}, {"op": "eq", "args": [2]}])
        );
        assert_eq!(py(&json!([{"op": "replace", "value": false}])), "[{'op': 'replace', 'value': False}]");
    }
}
