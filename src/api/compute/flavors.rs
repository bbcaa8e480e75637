//! Flavors (`/flavors`), their extra specs (`/flavors/{id}/os-extra_specs`)
//! and project access (`/flavors/{id}/os-flavor-access`, the
//! `addTenantAccess`/`removeTenantAccess` actions).
//!
//! Policy as Nova's defaults: reads for any authenticated caller (private
//! flavors only for administrators and the projects they are shared with),
//! every write administrator-only.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};

use super::error::{ComputeError, Result};
use super::openapi::{Link, NextLink};
use super::{ApiVersion, Caller, ComputeState, body_object, is_none_string, now, only_keys, parse_bool, query_pairs};
use crate::common::auth::AuthContext;
use crate::common::openapi::Routes;
use crate::storage::StorageError;
use crate::storage::compute::{self as db, Flavor, FlavorFilter, FlavorSort, NewFlavor, Visibility};

/// Nova's `db.MAX_INT`: the largest ram/vcpus/disk/swap/ephemeral.
const MAX_INT: i64 = i32::MAX as i64;

pub fn routes(r: &mut Routes) {
    crate::routes!(r; list, create, detail, show, update, delete, specs_index, specs_create, spec_show, spec_update,
        spec_delete, access_index, action);
}

// ---- documents ---------------------------------------------------------------------

fn swap_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
    utoipa::openapi::schema::Schema::OneOf(
        OneOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(Type::Integer))
            .item(ObjectBuilder::new().schema_type(Type::String).enum_values(Some([""])))
            .description(Some("Swap in MB; `\"\"` for none below 2.75."))
            .build(),
    )
}

/// A flavor. `OS-FLV-DISABLED:disabled` and `rxtx_factor` are gone from
/// 2.102; `description` from 2.55, `extra_specs` from 2.61.
#[derive(utoipa::ToSchema)]
#[schema(as = Flavor)]
#[allow(dead_code)]
pub struct FlavorDoc {
    id: String,
    name: String,
    ram: i64,
    disk: i64,
    #[schema(schema_with = swap_schema)]
    swap: Value,
    #[serde(rename = "OS-FLV-EXT-DATA:ephemeral")]
    ephemeral: i64,
    #[serde(rename = "OS-FLV-DISABLED:disabled", default)]
    disabled: bool,
    vcpus: i64,
    #[serde(rename = "os-flavor-access:is_public")]
    is_public: bool,
    #[serde(default)]
    rxtx_factor: f64,
    links: Vec<Link>,
    description: Option<String>,
    #[serde(default)]
    extra_specs: std::collections::BTreeMap<String, String>,
}

/// A flavor in the brief listing; `description` from 2.55.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct FlavorBrief {
    id: String,
    name: String,
    links: Vec<Link>,
    description: Option<String>,
}

/// `{"flavor": …}`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct FlavorShow {
    flavor: FlavorDoc,
}

/// A page of flavors; `flavors_links` when the page is full.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct FlavorList {
    flavors: Vec<FlavorBrief>,
    #[serde(default)]
    flavors_links: Vec<NextLink>,
}

/// A page of flavors with every field.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct FlavorDetailList {
    flavors: Vec<FlavorDoc>,
    #[serde(default)]
    flavors_links: Vec<NextLink>,
}

/// A new flavor. `rxtx_factor` below 2.102, `description` from 2.55.
#[derive(utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct FlavorFields {
    /// Printable, no leading or trailing whitespace.
    #[schema(min_length = 1, max_length = 255)]
    name: String,
    #[schema(minimum = 1, maximum = 2147483647)]
    ram: i64,
    #[schema(minimum = 1, maximum = 2147483647)]
    vcpus: i64,
    #[schema(minimum = 0, maximum = 2147483647)]
    disk: i64,
    /// `[a-zA-Z0-9. _-]`, no leading or trailing space; a UUID when absent.
    #[schema(max_length = 255)]
    id: Option<String>,
    #[serde(default)]
    #[schema(minimum = 0, maximum = 2147483647)]
    swap: i64,
    #[serde(rename = "OS-FLV-EXT-DATA:ephemeral", default)]
    #[schema(minimum = 0, maximum = 2147483647)]
    ephemeral: i64,
    #[serde(rename = "os-flavor-access:is_public", default)]
    is_public: bool,
    #[serde(default)]
    #[schema(exclusive_minimum = 0)]
    rxtx_factor: f64,
    #[schema(max_length = 65535)]
    description: Option<String>,
}

/// `{"flavor": …}` to create.
#[derive(utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct FlavorCreate {
    flavor: FlavorFields,
}

/// (2.55) The one field a flavor update changes.
#[derive(utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct FlavorUpdateFields {
    #[schema(max_length = 65535, required = true)]
    description: Option<String>,
}

/// `{"flavor": {"description": …}}`.
#[derive(utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct FlavorUpdate {
    flavor: FlavorUpdateFields,
}

/// A flavor's extra specs (values are strings; numbers are accepted in a
/// request).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ExtraSpecs {
    extra_specs: std::collections::BTreeMap<String, String>,
}

/// One extra spec: `{"<key>": "<value>"}`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ExtraSpec(std::collections::BTreeMap<String, String>);

/// A project a private flavor is shared with.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct FlavorAccess {
    flavor_id: String,
    tenant_id: String,
}

/// The projects a private flavor is shared with.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct FlavorAccessList {
    flavor_access: Vec<FlavorAccess>,
}

/// The project an access action names.
#[derive(utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct TenantRef {
    #[schema(min_length = 1, max_length = 255)]
    tenant: String,
}

/// A flavor action: share a private flavor with a project, or stop.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub enum FlavorAction {
    #[serde(rename = "addTenantAccess")]
    AddTenantAccess(TenantRef),
    #[serde(rename = "removeTenantAccess")]
    RemoveTenantAccess(TenantRef),
}

/// Filters, order and paging of the flavor listings.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code, non_snake_case)]
pub struct FlavorQuery {
    /// Only flavors with at least this RAM (MB).
    minRam: Option<i64>,
    /// Only flavors with at least this disk (GB).
    minDisk: Option<i64>,
    /// (administrators) `true` (public and the project's), `false` (private) or `none` (all).
    is_public: Option<String>,
    /// `created_at`, `description`, `disabled`, `ephemeral_gb`, `flavorid` (default), `id`, `is_public`,
    /// `memory_mb`, `name`, `root_gb`, `rxtx_factor` (below 2.102), `swap`, `updated_at`, `vcpu_weight`,
    /// `vcpus`.
    sort_key: Option<String>,
    /// `asc` (default) or `desc`.
    sort_dir: Option<String>,
    #[param(minimum = 0)]
    limit: Option<i64>,
    /// The id of the previous page's last flavor.
    marker: Option<String>,
    /// (2.102) Only flavors of this name.
    name: Option<String>,
}

fn require_admin(ctx: &AuthContext, rule: &str) -> Result<()> {
    if ctx.is_admin() { Ok(()) } else { Err(ComputeError::policy(rule)) }
}

/// The flavor `id` if the caller may see it, else Nova's 404.
async fn visible_flavor(state: &ComputeState, ctx: &AuthContext, id: &str) -> Result<Flavor> {
    let id = id.to_string();
    let admin = ctx.is_admin();
    let project = ctx.project_id.clone();
    state
        .storage
        .read(move |c| {
            let f = db::flavor(c, &id)?;
            let ok = admin || db::flavor_visible_to(c, &f, project.as_deref())?;
            Ok(if ok { Ok(f) } else { Err(ComputeError::flavor_not_found(&id)) })
        })
        .await?
}

/// A flavor as Nova shows it at microversion `v` (the detailed view).
pub fn render(state: &ComputeState, f: &Flavor, v: ApiVersion) -> Value {
    let mut o = Map::new();
    o.insert("id".into(), json!(f.flavorid));
    o.insert("name".into(), json!(f.name));
    o.insert("ram".into(), json!(f.memory_mb));
    o.insert("disk".into(), json!(f.root_gb));
    let swap = if f.swap == 0 && !v.at_least(75) { json!("") } else { json!(f.swap) };
    o.insert("swap".into(), swap);
    o.insert("OS-FLV-EXT-DATA:ephemeral".into(), json!(f.ephemeral_gb));
    if !v.at_least(102) {
        o.insert("OS-FLV-DISABLED:disabled".into(), json!(f.disabled));
    }
    o.insert("vcpus".into(), json!(f.vcpus));
    o.insert("os-flavor-access:is_public".into(), json!(f.is_public));
    if !v.at_least(102) {
        o.insert("rxtx_factor".into(), json!(f.rxtx_factor));
    }
    o.insert("links".into(), state.links("flavors", &f.flavorid));
    if v.at_least(55) {
        o.insert("description".into(), json!(f.description));
    }
    if v.at_least(61) {
        o.insert("extra_specs".into(), json!(f.extra_specs));
    }
    Value::Object(o)
}

/// The brief view of `GET /flavors`.
fn render_brief(state: &ComputeState, f: &Flavor, v: ApiVersion) -> Value {
    let mut o = json!({"id": f.flavorid, "name": f.name, "links": state.links("flavors", &f.flavorid)});
    if v.at_least(55) {
        o["description"] = json!(f.description);
    }
    o
}

// ---- list ---------------------------------------------------------------------

/// Lists flavors.
#[utoipa::path(get, path = "/v2.1/flavors", tag = "flavors", params(FlavorQuery),
    responses((status = 200, description = "A page of flavors.", body = FlavorList)))]
async fn list(req: HttpRequest, caller: Caller, v: ApiVersion, state: web::Data<ComputeState>) -> Result<HttpResponse> {
    listing(&req, &caller, v, &state, false).await
}

/// Lists flavors with every field.
#[utoipa::path(get, path = "/v2.1/flavors/detail", tag = "flavors", params(FlavorQuery),
    responses((status = 200, description = "A page of flavors.", body = FlavorDetailList)))]
async fn detail(
    req: HttpRequest,
    caller: Caller,
    v: ApiVersion,
    state: web::Data<ComputeState>,
) -> Result<HttpResponse> {
    listing(&req, &caller, v, &state, true).await
}

fn query_error(name: &str, value: &str, reason: &str) -> ComputeError {
    ComputeError::bad(format!("Invalid input for query parameters {name}. Value: {value}. {reason}"))
}

async fn listing(
    req: &HttpRequest,
    caller: &Caller,
    v: ApiVersion,
    state: &ComputeState,
    detailed: bool,
) -> Result<HttpResponse> {
    let pairs = query_pairs(req)?;
    let mut known = vec!["minRam", "minDisk", "is_public", "sort_key", "sort_dir", "limit", "marker"];
    if v.at_least(102) {
        known.push("name");
    }
    if v.at_least(75)
        && let Some((k, _)) = pairs.iter().find(|(k, _)| !known.contains(&k.as_str()))
    {
        return Err(ComputeError::bad(format!(
            "Invalid input for query parameters {k}. Additional properties are not allowed ('{k}' was unexpected)"
        )));
    }
    let get = |k: &str| pairs.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let admin = caller.is_admin();
    let project = caller.project_id.clone();
    let visibility = if admin {
        match get("is_public") {
            None => Visibility::PublicOr(project),
            Some(s) if is_none_string(s) => Visibility::All,
            Some(s) => match parse_bool(s) {
                Some(true) => Visibility::PublicOr(project),
                Some(false) => Visibility::Private,
                None => return Err(ComputeError::bad(format!("Invalid is_public filter [{s}]"))),
            },
        }
    } else {
        Visibility::PublicOr(project)
    };
    let min = |name: &str| -> Result<Option<i64>> {
        match get(name) {
            None => Ok(None),
            Some(s) => {
                s.trim().parse::<i64>().map(Some).map_err(|_| ComputeError::bad(format!("Invalid {name} filter [{s}]")))
            }
        }
    };
    let min_memory_mb = min("minRam")?;
    let min_root_gb = min("minDisk")?;
    let sort_key = get("sort_key").filter(|s| !s.is_empty()).unwrap_or("flavorid");
    let sort = FlavorSort::parse(sort_key).filter(|s| *s != FlavorSort::RxtxFactor || !v.at_least(102));
    let Some(sort) = sort else {
        let valid: Vec<String> = FlavorSort::ALL
            .iter()
            .filter(|(_, s)| *s != FlavorSort::RxtxFactor || !v.at_least(102))
            .map(|(k, _)| format!("'{k}'"))
            .collect();
        return Err(query_error("sort_key", sort_key, &format!("'{sort_key}' is not one of [{}]", valid.join(", "))));
    };
    let desc = match get("sort_dir").filter(|s| !s.is_empty()).unwrap_or("asc") {
        "asc" => false,
        "desc" => true,
        other => return Err(query_error("sort_dir", other, &format!("'{other}' is not one of ['asc', 'desc']"))),
    };
    let max_items = match get("limit") {
        None => state.max_limit,
        Some(s) => match s.parse::<i64>() {
            Ok(n) if n >= 0 => n.min(state.max_limit),
            _ => return Err(query_error("limit", s, &format!("'{s}' does not match '^[0-9]*$'"))),
        },
    };
    let marker = get("marker").map(str::to_string);
    if let Some(m) = &marker {
        let seen = match visible_flavor(state, caller, m).await {
            Ok(_) => true,
            Err(ComputeError::NotFound(_)) => false,
            Err(e) => return Err(e),
        };
        if !seen {
            return Err(ComputeError::bad(format!("marker [{m}] not found")));
        }
    }
    let filter = FlavorFilter {
        visibility,
        enabled_only: !admin,
        min_memory_mb,
        min_root_gb,
        name: if v.at_least(102) { get("name").map(str::to_string) } else { None },
        sort,
        desc,
        marker,
        limit: max_items,
    };
    let flavors = state.storage.read(move |c| db::flavors_list(c, &filter)).await?;
    let items: Vec<Value> =
        flavors.iter().map(|f| if detailed { render(state, f, v) } else { render_brief(state, f, v) }).collect();
    let mut body = json!({ "flavors": items });
    if max_items > 0
        && flavors.len() as i64 == max_items
        && let Some(last) = flavors.last()
    {
        let mut q: Vec<(String, String)> = pairs.into_iter().filter(|(k, _)| k != "marker").collect();
        q.push(("marker".into(), last.flavorid.clone()));
        let qs = serde_urlencoded::to_string(&q).unwrap_or_default();
        let path = if detailed { "flavors/detail" } else { "flavors" };
        body["flavors_links"] = json!([{"rel": "next", "href": format!("{}/v2.1/{path}?{qs}", state.base)}]);
    }
    Ok(HttpResponse::Ok().json(body))
}

// ---- show / create / update / delete -------------------------------------------

/// Shows a flavor.
#[utoipa::path(get, path = "/v2.1/flavors/{id}", tag = "flavors",
    params(("id" = String, Path, description = "The flavor's id.")),
    responses((status = 200, description = "The flavor.", body = FlavorShow)))]
async fn show(
    id: web::Path<String>,
    caller: Caller,
    v: ApiVersion,
    state: web::Data<ComputeState>,
) -> Result<HttpResponse> {
    let f = visible_flavor(&state, &caller, &id).await?;
    Ok(HttpResponse::Ok().json(json!({"flavor": render(&state, &f, v)})))
}

/// An integer attribute: a JSON integer or a string of digits, within bounds.
fn int_attr(obj: &Map<String, Value>, key: &str, min: i64, default: Option<i64>) -> Result<i32> {
    let value = match obj.get(key) {
        None => {
            return default.map(|d| d as i32).ok_or_else(|| {
                ComputeError::invalid("flavor", &Value::Object(obj.clone()), format!("'{key}' is a required property"))
            });
        }
        Some(v) => v,
    };
    let n = match value {
        Value::Number(n) => n
            .as_i64()
            .ok_or_else(|| ComputeError::invalid(key, value, format!("{value} is not of type 'integer', 'string'")))?,
        Value::String(s) => {
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ComputeError::invalid(key, value, format!("'{s}' does not match '^[0-9]*$'")));
            }
            s.parse::<i64>().unwrap_or(i64::MAX)
        }
        _ => return Err(ComputeError::invalid(key, value, format!("{value} is not of type 'integer', 'string'"))),
    };
    if n < min {
        return Err(ComputeError::invalid(key, value, format!("{n} is less than the minimum of {min}")));
    }
    if n > MAX_INT {
        return Err(ComputeError::invalid(key, value, format!("{n} is greater than the maximum of {MAX_INT}")));
    }
    Ok(n as i32)
}

/// Nova's `name` format: printable, no leading or trailing whitespace.
fn valid_name(s: &str) -> bool {
    !s.is_empty() && s.trim() == s && !s.chars().any(char::is_control)
}

/// `^(?! )[a-zA-Z0-9. _-]+(?<! )$`
fn valid_flavorid(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && !s.starts_with(' ')
        && !s.ends_with(' ')
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._ -".contains(&b))
}

fn description_attr(obj: &Map<String, Value>) -> Result<Option<String>> {
    match obj.get("description") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s))
            if s.chars().count() <= 65535
                && !s.chars().any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r') =>
        {
            Ok(Some(s.clone()))
        }
        Some(v @ Value::String(_)) => Err(ComputeError::invalid("description", v, "is not a valid description")),
        Some(v) => Err(ComputeError::invalid("description", v, format!("{v} is not of type 'string', 'null'"))),
    }
}

fn parse_new_flavor(obj: &Map<String, Value>, v: ApiVersion) -> Result<NewFlavor> {
    let mut allowed =
        vec!["name", "ram", "vcpus", "disk", "id", "swap", "OS-FLV-EXT-DATA:ephemeral", "os-flavor-access:is_public"];
    if !v.at_least(102) {
        allowed.push("rxtx_factor");
    }
    if v.at_least(55) {
        allowed.push("description");
    }
    only_keys(obj, "flavor", &allowed)?;
    let name = match obj.get("name") {
        None => {
            return Err(ComputeError::invalid("flavor", &Value::Object(obj.clone()), "'name' is a required property"));
        }
        Some(Value::String(s)) if valid_name(s) && s.chars().count() <= 255 => s.clone(),
        Some(n @ Value::String(_)) => return Err(ComputeError::invalid("name", n, "is not a valid name")),
        Some(n) => return Err(ComputeError::invalid("name", n, format!("{n} is not of type 'string'"))),
    };
    let memory_mb = int_attr(obj, "ram", 1, None)?;
    let vcpus = int_attr(obj, "vcpus", 1, None)?;
    let root_gb = int_attr(obj, "disk", 0, None)?;
    let swap = int_attr(obj, "swap", 0, Some(0))?;
    let ephemeral_gb = int_attr(obj, "OS-FLV-EXT-DATA:ephemeral", 0, Some(0))?;
    let flavorid = match obj.get("id") {
        None | Some(Value::Null) => uuid::Uuid::new_v4().to_string(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => {
            return Err(ComputeError::invalid(
                "id",
                other,
                format!("{other} is not of type 'string', 'number', 'null'"),
            ));
        }
    };
    if !valid_flavorid(&flavorid) {
        return Err(ComputeError::bad("Invalid input received: id can only contain [a-zA-Z0-9_.- ]"));
    }
    let is_public = match obj.get("os-flavor-access:is_public") {
        None => true,
        Some(Value::Bool(b)) => *b,
        Some(s @ Value::String(t)) => parse_bool(t).ok_or_else(|| {
            ComputeError::invalid("os-flavor-access:is_public", s, format!("{s} is not of type 'boolean'"))
        })?,
        Some(other) => {
            return Err(ComputeError::invalid(
                "os-flavor-access:is_public",
                other,
                format!("{other} is not of type 'boolean'"),
            ));
        }
    };
    let rxtx_factor = match obj.get("rxtx_factor") {
        None => 1.0,
        Some(r) => {
            let f = match r {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse::<f64>().ok(),
                _ => None,
            };
            match f {
                Some(f) if f > 0.0 && f <= 3.40282e38 && f.is_finite() => f,
                _ => return Err(ComputeError::invalid("rxtx_factor", r, "must be a number greater than 0")),
            }
        }
    };
    let description = description_attr(obj)?;
    Ok(NewFlavor {
        flavorid,
        name,
        memory_mb,
        vcpus,
        root_gb,
        ephemeral_gb,
        swap,
        rxtx_factor,
        is_public,
        disabled: false,
        description,
        created_at: now(),
    })
}

/// Creates a flavor (administrators).
#[utoipa::path(post, path = "/v2.1/flavors", tag = "flavors", request_body = FlavorCreate,
    responses((status = 200, description = "The new flavor.", body = FlavorShow)))]
async fn create(
    body: web::Bytes,
    caller: Caller,
    v: ApiVersion,
    state: web::Data<ComputeState>,
) -> Result<HttpResponse> {
    require_admin(&caller, "os-flavor-manage:create")?;
    let obj = body_object(&body, "flavor")?;
    let new = parse_new_flavor(&obj, v)?;
    let f = state.storage.write(move |c| db::flavor_insert(c, &new)).await?;
    Ok(HttpResponse::Ok().json(json!({"flavor": render(&state, &f, v)})))
}

/// (2.55) Updates a flavor's description (administrators).
#[utoipa::path(put, path = "/v2.1/flavors/{id}", tag = "flavors",
    params(("id" = String, Path, description = "The flavor's id.")), request_body = FlavorUpdate,
    responses((status = 200, description = "The flavor.", body = FlavorShow)))]
async fn update(
    id: web::Path<String>,
    body: web::Bytes,
    caller: Caller,
    v: ApiVersion,
    state: web::Data<ComputeState>,
) -> Result<HttpResponse> {
    if !v.at_least(55) {
        return Err(ComputeError::NotFound("The resource could not be found.".into()));
    }
    require_admin(&caller, "os-flavor-manage:update")?;
    let obj = body_object(&body, "flavor")?;
    only_keys(&obj, "flavor", &["description"])?;
    if !obj.contains_key("description") {
        return Err(ComputeError::invalid("flavor", &Value::Object(obj), "'description' is a required property"));
    }
    let description = description_attr(&obj)?;
    let id = id.into_inner();
    let f = state.storage.write(move |c| db::flavor_set_description(c, &id, description, now())).await?;
    Ok(HttpResponse::Ok().json(json!({"flavor": render(&state, &f, v)})))
}

/// Deletes a flavor (administrators).
#[utoipa::path(delete, path = "/v2.1/flavors/{id}", tag = "flavors",
    params(("id" = String, Path, description = "The flavor's id.")),
    responses((status = 202, description = "Deleted.")))]
async fn delete(id: web::Path<String>, caller: Caller, state: web::Data<ComputeState>) -> Result<HttpResponse> {
    require_admin(&caller, "os-flavor-manage:delete")?;
    let id = id.into_inner();
    state.storage.write(move |c| db::flavor_delete(c, &id)).await?;
    Ok(HttpResponse::Accepted().finish())
}

// ---- extra specs -----------------------------------------------------------------

/// `^[a-zA-Z0-9-_:. ]{1,255}$`
fn valid_spec_key(k: &str) -> bool {
    !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_:. ".contains(&b))
}

/// Checks a request's specs (keys, string-or-number values of at most 255
/// characters; from 2.86 also the known namespaces) and turns them into
/// strings.
fn parse_specs(specs: &Map<String, Value>, v: ApiVersion) -> Result<Vec<(String, String)>> {
    let mut out = Vec::with_capacity(specs.len());
    for (k, val) in specs {
        if !valid_spec_key(k) {
            return Err(ComputeError::invalid(
                "extra_specs",
                &Value::Object(specs.clone()),
                format!("Additional properties are not allowed ('{k}' was unexpected)"),
            ));
        }
        let s = match val {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            other => return Err(ComputeError::invalid(k, other, format!("{other} is not of type 'string', 'number'"))),
        };
        if s.chars().count() > 255 {
            return Err(ComputeError::invalid(k, val, format!("'{s}' is too long")));
        }
        if v.at_least(86) {
            validate_spec(k, &s)?;
        }
        out.push((k.clone(), s));
    }
    Ok(out)
}

fn failed(msg: String) -> ComputeError {
    ComputeError::bad(format!("Validation failed; {msg}"))
}

fn one_of(value: &str, options: &[&str]) -> Result<()> {
    if options.contains(&value) {
        Ok(())
    } else {
        Err(failed(format!("'{value}' is not one of: {}.", options.join(", "))))
    }
}

/// `resources{group}:` / `trait{group}:`, where group is empty, digits, or
/// `_` followed by `[a-zA-Z0-9_-]` (up to 64).
fn split_group<'a>(key: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = key.strip_prefix(prefix)?;
    let (group, name) = rest.split_once(':')?;
    let ok = group.is_empty()
        || group.bytes().all(|b| b.is_ascii_digit())
        || (group.starts_with('_')
            && group.len() <= 65
            && group[1..].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
    ok.then_some(name)
}

/// Microversion 2.86's validation of the namespaces ironbark schedules on
/// (`resources*:`, `trait*:`) and the common `hw:` CPU/NUMA/page keys;
/// other namespaces and `hw:` keys pass unchecked.
fn validate_spec(key: &str, value: &str) -> Result<()> {
    let rc_name =
        |n: &str| !n.is_empty() && n.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    if let Some(rc) = split_group(key, "resources") {
        if !rc_name(rc) {
            return Err(failed(format!("extra spec '{key}' does not exist.")));
        }
        return match value.trim().parse::<i64>() {
            Ok(_) => Ok(()),
            Err(_) => Err(failed(format!("'{value}' is not of type int."))),
        };
    }
    if let Some(t) = split_group(key, "trait") {
        if !rc_name(t) {
            return Err(failed(format!("extra spec '{key}' does not exist.")));
        }
        return one_of(value, &["required", "forbidden"]);
    }
    match key {
        "hw:cpu_policy" => one_of(value, &["dedicated", "shared", "mixed"]),
        "hw:cpu_thread_policy" => one_of(value, &["prefer", "isolate", "require"]),
        "hw:emulator_threads_policy" => one_of(value, &["share", "isolate"]),
        "hw:cpu_realtime" | "hw:boot_menu" | "hw:vif_multiqueue_enabled" | "hw:hide_hypervisor_id" => {
            match parse_bool(value) {
                Some(_) => Ok(()),
                None => Err(failed(format!("'{value}' is not a valid boolean."))),
            }
        }
        "hw:numa_nodes" | "hw:cpu_sockets" | "hw:cpu_cores" | "hw:cpu_threads" | "hw:cpu_max_sockets"
        | "hw:cpu_max_cores" | "hw:cpu_max_threads" => match value.trim().parse::<i64>() {
            Ok(n) if n >= 1 => Ok(()),
            Ok(n) => Err(failed(format!("'{n}' is less than the minimum of 1."))),
            Err(_) => Err(failed(format!("'{value}' is not of type int."))),
        },
        "hw:mem_page_size" => {
            let ok = ["small", "large", "any"].contains(&value)
                || value.trim_end_matches(|c: char| c.is_ascii_alphabetic()).parse::<u64>().is_ok();
            if ok { Ok(()) } else { Err(failed(format!("'{value}' is not a valid page size."))) }
        }
        _ => Ok(()),
    }
}

/// Lists a flavor's extra specs.
#[utoipa::path(get, path = "/v2.1/flavors/{id}/os-extra_specs", tag = "flavors",
    params(("id" = String, Path, description = "The flavor's id.")),
    responses((status = 200, description = "The extra specs.", body = ExtraSpecs)))]
async fn specs_index(id: web::Path<String>, caller: Caller, state: web::Data<ComputeState>) -> Result<HttpResponse> {
    let f = visible_flavor(&state, &caller, &id).await?;
    Ok(HttpResponse::Ok().json(json!({"extra_specs": f.extra_specs})))
}

/// Adds or replaces extra specs of a flavor (administrators); from 2.86 the
/// known namespaces are checked.
#[utoipa::path(post, path = "/v2.1/flavors/{id}/os-extra_specs", tag = "flavors",
    params(("id" = String, Path, description = "The flavor's id.")), request_body = ExtraSpecs,
    responses((status = 200, description = "The specs set.", body = ExtraSpecs)))]
async fn specs_create(
    id: web::Path<String>,
    body: web::Bytes,
    caller: Caller,
    v: ApiVersion,
    state: web::Data<ComputeState>,
) -> Result<HttpResponse> {
    require_admin(&caller, "os-flavor-extra-specs:create")?;
    let obj = body_object(&body, "extra_specs")?;
    let specs = parse_specs(&obj, v)?;
    let echo: Map<String, Value> = specs.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
    let id = id.into_inner();
    state.storage.write(move |c| db::extra_specs_set(c, &id, &specs, now())).await?;
    Ok(HttpResponse::Ok().json(json!({ "extra_specs": echo })))
}

fn no_such_spec(flavor: &str, key: &str) -> ComputeError {
    ComputeError::NotFound(format!("Flavor {flavor} has no extra specs with key {key}."))
}

/// Shows one extra spec of a flavor.
#[utoipa::path(get, path = "/v2.1/flavors/{id}/os-extra_specs/{key}", tag = "flavors",
    params(("id" = String, Path, description = "The flavor's id."), ("key" = String, Path, description = "The spec's key.")),
    responses((status = 200, description = "The spec.", body = ExtraSpec)))]
async fn spec_show(
    path: web::Path<(String, String)>,
    caller: Caller,
    state: web::Data<ComputeState>,
) -> Result<HttpResponse> {
    let (id, key) = path.into_inner();
    let f = visible_flavor(&state, &caller, &id).await?;
    match f.extra_specs.get(&key) {
        Some(v) => Ok(HttpResponse::Ok().json(json!({ key: v }))),
        None => Err(no_such_spec(&id, &key)),
    }
}

/// Sets one extra spec of a flavor (administrators): the body is
/// `{"<key>": "<value>"}` with the key of the path.
#[utoipa::path(put, path = "/v2.1/flavors/{id}/os-extra_specs/{key}", tag = "flavors",
    params(("id" = String, Path, description = "The flavor's id."), ("key" = String, Path, description = "The spec's key.")),
    request_body = ExtraSpec, responses((status = 200, description = "The spec.", body = ExtraSpec)))]
async fn spec_update(
    path: web::Path<(String, String)>,
    body: web::Bytes,
    caller: Caller,
    v: ApiVersion,
    state: web::Data<ComputeState>,
) -> Result<HttpResponse> {
    require_admin(&caller, "os-flavor-extra-specs:update")?;
    let (id, key) = path.into_inner();
    let obj = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(o)) => o,
        Ok(other) => return Err(ComputeError::invalid("body", &other, format!("{other} is not of type 'object'"))),
        Err(_) => return Err(ComputeError::bad("Malformed request body")),
    };
    if obj.len() != 1 {
        return Err(ComputeError::invalid(
            "body",
            &Value::Object(obj.clone()),
            if obj.is_empty() { "{} does not have enough properties" } else { "has too many properties" },
        ));
    }
    let specs = parse_specs(&obj, v)?;
    if specs[0].0 != key {
        return Err(ComputeError::bad("Request body and URI mismatch"));
    }
    let value = specs[0].1.clone();
    state.storage.write(move |c| db::extra_specs_set(c, &id, &specs, now())).await?;
    Ok(HttpResponse::Ok().json(json!({ key: value })))
}

/// Deletes one extra spec of a flavor (administrators).
#[utoipa::path(delete, path = "/v2.1/flavors/{id}/os-extra_specs/{key}", tag = "flavors",
    params(("id" = String, Path, description = "The flavor's id."), ("key" = String, Path, description = "The spec's key.")),
    responses((status = 200, description = "Deleted.")))]
async fn spec_delete(
    path: web::Path<(String, String)>,
    caller: Caller,
    state: web::Data<ComputeState>,
) -> Result<HttpResponse> {
    require_admin(&caller, "os-flavor-extra-specs:delete")?;
    let (id, key) = path.into_inner();
    let (i, k) = (id.clone(), key.clone());
    match state.storage.write(move |c| db::extra_spec_delete(c, &i, &k)).await {
        Ok(()) => Ok(HttpResponse::Ok().finish()),
        Err(StorageError::NotFound { kind: "extra_spec", .. }) => Err(no_such_spec(&id, &key)),
        Err(e) => Err(e.into()),
    }
}

// ---- access ------------------------------------------------------------------------

fn access_body(flavorid: &str, projects: Vec<String>) -> Value {
    let list: Vec<Value> = projects.into_iter().map(|p| json!({"flavor_id": flavorid, "tenant_id": p})).collect();
    json!({ "flavor_access": list })
}

/// Lists the projects a private flavor is shared with (administrators).
#[utoipa::path(get, path = "/v2.1/flavors/{id}/os-flavor-access", tag = "flavors",
    params(("id" = String, Path, description = "The flavor's id.")),
    responses((status = 200, description = "The projects.", body = FlavorAccessList)))]
async fn access_index(id: web::Path<String>, caller: Caller, state: web::Data<ComputeState>) -> Result<HttpResponse> {
    require_admin(&caller, "os-flavor-access")?;
    let f = visible_flavor(&state, &caller, &id).await?;
    if f.is_public {
        return Err(ComputeError::NotFound("Access list not available for public flavors.".into()));
    }
    let fid = f.flavorid.clone();
    let projects = state.storage.read(move |c| db::flavor_access(c, &fid)).await?;
    Ok(HttpResponse::Ok().json(access_body(&f.flavorid, projects)))
}

/// Shares a private flavor with a project, or stops sharing it
/// (administrators): `{"addTenantAccess": {"tenant": "<project id>"}}` or
/// `removeTenantAccess`.
#[utoipa::path(post, path = "/v2.1/flavors/{id}/action", tag = "flavors",
    params(("id" = String, Path, description = "The flavor's id.")), request_body = FlavorAction,
    responses((status = 200, description = "The projects the flavor is now shared with.", body = FlavorAccessList)))]
async fn action(
    id: web::Path<String>,
    body: web::Bytes,
    caller: Caller,
    state: web::Data<ComputeState>,
) -> Result<HttpResponse> {
    let v: Value = serde_json::from_slice(&body).map_err(|_| ComputeError::bad("Malformed request body"))?;
    let Some((name, args)) = v.as_object().and_then(|o| o.iter().next()) else {
        return Err(ComputeError::bad("Malformed request body"));
    };
    let add = match name.as_str() {
        "addTenantAccess" => true,
        "removeTenantAccess" => false,
        other => return Err(ComputeError::bad(format!("There is no such action: {other}"))),
    };
    require_admin(
        &caller,
        if add { "os-flavor-access:add_tenant_access" } else { "os-flavor-access:remove_tenant_access" },
    )?;
    let args = match args {
        Value::Object(o) => o.clone(),
        other => return Err(ComputeError::invalid(name, other, format!("{other} is not of type 'object'"))),
    };
    only_keys(&args, name, &["tenant"])?;
    let tenant = match args.get("tenant") {
        Some(Value::String(t)) if !t.is_empty() && t.len() <= 255 => t.clone(),
        Some(other) => return Err(ComputeError::invalid("tenant", other, "is not a valid project id")),
        None => return Err(ComputeError::invalid(name, &Value::Object(args), "'tenant' is a required property")),
    };
    let flavorid = id.into_inner();
    let (f, t) = (flavorid.clone(), tenant.clone());
    let result = if add {
        state.storage.write(move |c| db::flavor_access_add(c, &f, &t)).await
    } else {
        state.storage.write(move |c| db::flavor_access_remove(c, &f, &t)).await
    };
    match result {
        Ok(projects) => Ok(HttpResponse::Ok().json(access_body(&flavorid, projects))),
        Err(StorageError::NotFound { kind: "flavor_access", .. }) => {
            Err(ComputeError::NotFound(format!("Flavor access not found for {flavorid} / {tenant} combination.")))
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_validation() {
        assert!(validate_spec("trait:CUSTOM_GOLD", "required").is_ok());
        assert!(validate_spec("trait1:HW_CPU_X86_AVX2", "forbidden").is_ok());
        assert!(validate_spec("trait:CUSTOM_Y", "maybe").is_err());
        assert!(validate_spec("resources:CUSTOM_BAREMETAL_GOLD", "1").is_ok());
        assert!(validate_spec("resources_g1:VCPU", "-1").is_ok());
        assert!(validate_spec("resources:VCPU", "one").is_err());
        assert!(validate_spec("resources:vcpu", "1").is_err());
        assert!(validate_spec("hw:cpu_policy", "bogus").is_err());
        assert!(validate_spec("hw:cpu_policy", "dedicated").is_ok());
        assert!(validate_spec("hw:numa_nodes", "0").is_err());
        assert!(validate_spec("mynamespace:foo", "anything").is_ok());
    }

    #[test]
    fn flavor_ids() {
        for ok in ["1", "m1.tiny", "a b", "x_y-z"] {
            assert!(valid_flavorid(ok), "{ok}");
        }
        for bad in ["", " a", "a ", "a/b", "é"] {
            assert!(!valid_flavorid(bad), "{bad}");
        }
    }
}
