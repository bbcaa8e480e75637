//! Neutron v2.0 subset: networks, subnets, ports (with IP address
//! management and bare-metal port binding), security groups, quotas, and
//! the discovery documents.
//! Lists share one implementation of Neutron's query conventions
//! (attribute filters, `fields`, sorting, `limit`/`marker`/`page_reverse`).

mod error;
mod ipam;
mod networks;
pub mod openapi;
mod ports;
mod quotas;
mod security_groups;
mod subnets;
mod versions;

use std::cmp::Ordering;
use std::sync::Arc;

use actix_web::{HttpRequest, web};
use chrono::NaiveDateTime;
use serde_json::{Map, Value, json};

use error::Result;
pub use error::{NeutronError, error_body};

use crate::common::auth::{Auth, AuthContext};
use crate::config::{Config, ServiceKind};
use crate::storage::Storage;

/// The caller, or Neutron's 401.
pub type Caller = Auth<NeutronError>;

/// What the network handlers share.
pub struct NetworkState {
    /// Public root URL, no trailing slash.
    pub base: String,
    pub storage: Storage,
    /// Changes are recorded for the Contrail push (`contrail.api_url`).
    pub contrail_push: bool,
    /// This API's OpenAPI document, served at `/openapi.json`.
    pub openapi: web::Data<crate::common::openapi::Document>,
}

impl NetworkState {
    pub fn new(cfg: &Config, storage: Storage) -> NetworkState {
        let contrail_push = cfg.contrail.push_url().is_some();
        NetworkState {
            base: cfg.public_url(ServiceKind::Network),
            storage,
            contrail_push,
            openapi: web::Data::new(crate::common::openapi::Document::new(&openapi::document(
                &cfg.public_url(ServiceKind::Network),
            ))),
        }
    }
}

pub fn configure(cfg: &mut web::ServiceConfig, state: Arc<NetworkState>) {
    crate::common::openapi::serve_document(cfg, &state.openapi);
    cfg.app_data(web::Data::from(state));
    openapi::routes().register(cfg);
}

/// The caller's project, when project-scoped.
fn project(ctx: &AuthContext) -> Option<&str> {
    ctx.project_id.as_deref()
}

/// Whose rows a list shows: `None` = everything (admins).
fn scope(ctx: &AuthContext) -> Option<String> {
    if ctx.is_admin() { None } else { Some(project(ctx).unwrap_or_default().to_string()) }
}

/// Owner check for changes: admins, or members of the owning project.
fn owns(ctx: &AuthContext, project_id: &str) -> bool {
    use crate::common::policy::Level;
    ctx.is_admin() || (project(ctx) == Some(project_id) && ctx.project_level().is_some_and(|l| l >= Level::Member))
}

/// Neutron's timestamps: seconds, UTC, `Z`.
fn ts(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn now() -> NaiveDateTime {
    use chrono::Timelike;
    let n = chrono::Utc::now().naive_utc();
    n.with_nanosecond(0).unwrap_or(n)
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The object under `key` of a request body (`{"network": {...}}`), with
/// every attribute checked against those the resource accepts.
fn body_object(body: &[u8], key: &str, allowed: &[&str]) -> Result<Map<String, Value>> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| NeutronError::bad(format!("Failed to parse request. Invalid JSON: {e}")))?;
    let Some(Value::Object(obj)) = v.get(key).cloned() else {
        return Err(NeutronError::bad(format!("Resource body required with key '{key}'")));
    };
    let unknown: Vec<&str> = obj.keys().map(String::as_str).filter(|k| !allowed.contains(k)).collect();
    if !unknown.is_empty() {
        return Err(NeutronError::bad(format!("Unrecognized attribute(s) '{}'", unknown.join(", "))));
    }
    Ok(obj)
}

/// Creates one resource (`{"network": {...}}`) or, in Neutron's bulk form
/// (`{"networks": [{...}, ...]}`), several: all or nothing — when one
/// fails, those already made are removed with `undo` and the error is
/// returned. Answers the body to send with 201.
async fn create_all<C, CF, U, UF>(
    body: &[u8],
    singular: &str,
    plural: &str,
    allowed: &[&str],
    create: C,
    undo: U,
) -> Result<Value>
where
    C: Fn(Map<String, Value>) -> CF,
    CF: std::future::Future<Output = Result<Value>>,
    U: Fn(String) -> UF,
    UF: std::future::Future<Output = ()>,
{
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| NeutronError::bad(format!("Failed to parse request. Invalid JSON: {e}")))?;
    let Some(list) = v.get(plural) else {
        let obj = body_object(body, singular, allowed)?;
        return Ok(json!({ singular: create(obj).await? }));
    };
    let list = list.as_array().ok_or_else(|| NeutronError::bad(format!("'{plural}' must be a list")))?;
    let mut objs = Vec::with_capacity(list.len());
    for item in list {
        let wrapped = serde_json::to_vec(&json!({ singular: item })).unwrap_or_default();
        objs.push(body_object(&wrapped, singular, allowed)?);
    }
    let mut made: Vec<Value> = Vec::with_capacity(objs.len());
    for obj in objs {
        match create(obj).await {
            Ok(v) => made.push(v),
            Err(e) => {
                for v in made.iter().rev() {
                    undo(v["id"].as_str().unwrap_or_default().to_string()).await;
                }
                return Err(e);
            }
        }
    }
    Ok(json!({ plural: made }))
}

fn get_str(obj: &Map<String, Value>, key: &str, max: usize) -> Result<Option<String>> {
    match obj.get(key) {
        None => Ok(None),
        Some(Value::String(s)) if s.chars().count() <= max => Ok(Some(s.clone())),
        Some(v) => Err(NeutronError::bad(format!(
            "Invalid input for {key}. Reason: '{v}' is not a valid string of at most {max} characters."
        ))),
    }
}

fn get_bool(obj: &Map<String, Value>, key: &str) -> Result<Option<bool>> {
    match obj.get(key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(v) => {
            Err(NeutronError::bad(format!("Invalid input for {key}. Reason: '{v}' cannot be converted to boolean.")))
        }
    }
}

/// `project_id`/`tenant_id` of a new resource: the caller's project, or any
/// project for admins; the two keys must agree.
fn owner_of_new(ctx: &AuthContext, obj: &Map<String, Value>) -> Result<String> {
    let p = get_str(obj, "project_id", 255)?;
    let t = get_str(obj, "tenant_id", 255)?;
    if let (Some(p), Some(t)) = (&p, &t)
        && p != t
    {
        return Err(NeutronError::bad("'project_id' and 'tenant_id' do not match"));
    }
    match p.or(t) {
        Some(given) if Some(given.as_str()) != project(ctx) && !ctx.is_admin() => Err(NeutronError::forbidden(
            "Specifying 'project_id' or 'tenant_id' other than the authenticated project in request requires admin privileges",
        )),
        Some(given) => Ok(given),
        None => Ok(project(ctx).unwrap_or_default().to_string()),
    }
}

/// A resource's own reading of a filter it understands better than plain
/// equality (e.g. `fixed_ips=ip_address=…`): `None` = not its filter.
type SpecialFilter<'a> = &'a dyn Fn(&str, &[String], &Value) -> Option<bool>;

/// Neutron's list conventions over rendered resources.
struct ListQuery {
    fields: Vec<String>,
    sort: Vec<(String, bool)>,
    limit: Option<usize>,
    marker: Option<String>,
    page_reverse: bool,
    /// attribute → accepted values (any matches)
    filters: Vec<(String, Vec<String>)>,
    /// The query without `marker`/`page_reverse`, to build paging links.
    base_query: Vec<(String, String)>,
}

impl ListQuery {
    fn parse(req: &HttpRequest) -> Result<ListQuery> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(req.query_string())
            .map_err(|e| NeutronError::bad(format!("Invalid query string: {e}")))?;
        let mut q = ListQuery {
            fields: Vec::new(),
            sort: Vec::new(),
            limit: None,
            marker: None,
            page_reverse: false,
            filters: Vec::new(),
            base_query: Vec::new(),
        };
        let mut keys = Vec::new();
        let mut dirs = Vec::new();
        for (k, v) in &pairs {
            match k.as_str() {
                "fields" => q.fields.extend(v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty())),
                "sort_key" => keys.push(v.clone()),
                "sort_dir" => match v.as_str() {
                    "asc" => dirs.push(false),
                    "desc" => dirs.push(true),
                    _ => {
                        return Err(NeutronError::bad(format!(
                            "Invalid input for operation: sort_dir '{v}' must be 'asc' or 'desc'."
                        )));
                    }
                },
                "limit" => {
                    let n: i64 = v.parse().map_err(|_| {
                        NeutronError::bad(format!(
                            "Bad limit request: Limit must be an integer 0 or greater and not '{v}'."
                        ))
                    })?;
                    if n < 0 {
                        return Err(NeutronError::bad(format!(
                            "Bad limit request: Limit must be an integer 0 or greater and not '{v}'."
                        )));
                    }
                    q.limit = if n == 0 { None } else { Some(n as usize) };
                }
                "marker" => q.marker = Some(v.clone()),
                "page_reverse" => q.page_reverse = v.eq_ignore_ascii_case("true"),
                _ => match q.filters.iter_mut().find(|(name, _)| name == k) {
                    Some((_, vals)) => vals.push(v.clone()),
                    None => q.filters.push((k.clone(), vec![v.clone()])),
                },
            }
            if k != "marker" && k != "page_reverse" {
                q.base_query.push((k.clone(), v.clone()));
            }
        }
        if !dirs.is_empty() && dirs.len() != keys.len() {
            return Err(NeutronError::bad("The number of sort_keys and sort_dirs must be same"));
        }
        q.sort = keys.into_iter().zip(dirs.into_iter().chain(std::iter::repeat(false))).collect();
        Ok(q)
    }

    /// Does a rendered resource pass every filter? Values compare as Neutron
    /// does: by their string form (`true`/`True`, numbers), lists by
    /// membership.
    fn matches(&self, item: &Value, special: SpecialFilter<'_>) -> bool {
        self.filters.iter().all(|(key, wanted)| {
            if let Some(answer) = special(key, wanted, item) {
                return answer;
            }
            let key = if key == "tenant_id" { "project_id" } else { key.as_str() };
            match item.get(key) {
                None => true, // unknown attributes are ignored, as Neutron does
                Some(Value::Array(list)) => wanted.iter().any(|w| list.iter().any(|v| same(v, w))),
                Some(v) => wanted.iter().any(|w| same(v, w)),
            }
        })
    }

    /// Filters, sorts, pages and trims a rendered collection into the
    /// response body `{"<collection>": [...], "<collection>_links": [...]}`.
    fn respond(
        &self,
        state: &NetworkState,
        collection: &str,
        mut items: Vec<Value>,
        special: SpecialFilter<'_>,
    ) -> Result<Value> {
        items.retain(|i| self.matches(i, special));
        for (key, _) in &self.sort {
            if items.first().is_some_and(|i| i.get(key).is_none()) {
                return Err(NeutronError::bad(format!("{key} is invalid attribute for sort_key")));
            }
        }
        let mut sort = self.sort.clone();
        if !sort.iter().any(|(k, _)| k == "id") {
            sort.push(("id".into(), sort.last().is_some_and(|s| s.1)));
        }
        let reverse = self.page_reverse;
        items.sort_by(|a, b| {
            for (key, desc) in &sort {
                let o = cmp_values(&a[key.as_str()], &b[key.as_str()]);
                let o = if *desc != reverse { o.reverse() } else { o };
                if o != Ordering::Equal {
                    return o;
                }
            }
            Ordering::Equal
        });
        let mut links = Vec::new();
        if let Some(marker) = &self.marker {
            match items.iter().position(|i| i["id"] == marker.as_str()) {
                Some(pos) => {
                    items.drain(..=pos);
                }
                None => {
                    // A marker that names nothing starts at the beginning.
                }
            }
        }
        if let Some(limit) = self.limit {
            let more = items.len() > limit;
            items.truncate(limit);
            let link = |rel: &str, marker: &Value, reverse: bool| {
                let mut q = self.base_query.clone();
                q.push(("marker".into(), marker.as_str().unwrap_or_default().to_string()));
                if reverse {
                    q.push(("page_reverse".into(), "True".into()));
                }
                let qs = serde_urlencoded::to_string(&q).unwrap_or_default();
                json!({"rel": rel, "href": format!("{}/v2.0/{collection}?{qs}", state.base)})
            };
            if let (Some(first), Some(last)) = (items.first(), items.last()) {
                let (first, last) = (first["id"].clone(), last["id"].clone());
                if more {
                    links.push(if reverse { link("previous", &last, true) } else { link("next", &last, false) });
                }
                if self.marker.is_some() {
                    links.push(if reverse { link("next", &first, false) } else { link("previous", &first, true) });
                }
            }
        }
        if reverse {
            items.reverse();
            links.reverse();
        }
        if !self.fields.is_empty() {
            for item in &mut items {
                if let Value::Object(m) = item {
                    m.retain(|k, _| self.fields.iter().any(|f| f == k));
                }
            }
        }
        let mut body = json!({ collection: items });
        if !links.is_empty() {
            body[format!("{collection}_links")] = Value::Array(links);
        }
        Ok(body)
    }
}

/// Keeps only the requested `fields` of one resource.
fn select_fields(req: &HttpRequest, mut item: Value) -> Value {
    let fields: Vec<String> = serde_urlencoded::from_str::<Vec<(String, String)>>(req.query_string())
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| k == "fields")
        .flat_map(|(_, v)| v.split(',').map(|s| s.trim().to_string()).collect::<Vec<_>>())
        .collect();
    if !fields.is_empty()
        && let Value::Object(m) = &mut item
    {
        m.retain(|k, _| fields.iter().any(|f| f == k));
    }
    item
}

fn same(v: &Value, wanted: &str) -> bool {
    match v {
        Value::String(s) => s == wanted,
        Value::Bool(b) => wanted.eq_ignore_ascii_case(if *b { "true" } else { "false" }),
        Value::Number(n) => n.to_string() == wanted,
        Value::Null => wanted.is_empty() || wanted == "None",
        _ => false,
    }
}

fn cmp_values(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            x.as_f64().unwrap_or(0.0).partial_cmp(&y.as_f64().unwrap_or(0.0)).unwrap_or(Ordering::Equal)
        }
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Less,
        (_, Value::Null) => Ordering::Greater,
        (x, y) => x.to_string().cmp(&y.to_string()),
    }
}
