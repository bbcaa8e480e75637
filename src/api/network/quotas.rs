//! `/v2.0/quotas`: per-project limits on networks, subnets, ports, security
//! groups and rules (Neutron's `quotas` and `quota_details` extensions). A
//! project reads its own; admins read and set every project's. The limits
//! are enforced where each resource is created ([`db::quota_check`]).

use actix_web::{HttpResponse, web};
use serde_json::{Map, Value, json};

use utoipa::ToSchema;

use super::error::{NeutronError, Result};
use super::{Caller, NetworkState, body_object, get_bool, project};
use crate::common::auth::AuthContext;
use crate::common::openapi::Routes;
use crate::storage::security_groups::{self as db, QUOTA_DEFAULTS, Quota};

/// Neutron's `DB_INTEGER_MAX_VALUE`.
const MAX_LIMIT: i64 = 2_147_483_647;

pub fn routes(r: &mut Routes) {
    // The named actions come before `{id}`, which would match them too.
    crate::routes!(r; list, own_project, own_tenant, show, update, reset, defaults,
        details | "/v2.0/quotas/{id}/details.json");
}

/// A project's limits (-1 for no limit).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Limits {
    network: i64,
    subnet: i64,
    port: i64,
    security_group: i64,
    security_group_rule: i64,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct LimitsOne {
    quota: Limits,
}

/// The limits of a project that has limits of its own.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ProjectLimits {
    project_id: String,
    tenant_id: String,
    network: i64,
    subnet: i64,
    port: i64,
    security_group: i64,
    security_group_rule: i64,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct LimitsList {
    quotas: Vec<ProjectLimits>,
}

/// A limit and its use.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Usage {
    /// -1 for no limit.
    limit: i64,
    used: i64,
    /// Always 0.
    reserved: i64,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Details {
    network: Usage,
    subnet: Usage,
    port: Usage,
    security_group: Usage,
    security_group_rule: Usage,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct DetailsOne {
    quota: Details,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ProjectId {
    project_id: String,
}

/// The caller's project.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct OwnProject {
    project: ProjectId,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TenantId {
    tenant_id: String,
}

/// The caller's project, in the legacy words.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct OwnTenant {
    tenant: TenantId,
}

/// New limits: each an integer from -1 (no limit) up (or its string). A
/// limit below what the project uses is refused unless `force` is true.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct LimitsUpdate {
    #[schema(minimum = -1, maximum = 2147483647, nullable = false)]
    network: Option<i64>,
    #[schema(minimum = -1, maximum = 2147483647, nullable = false)]
    subnet: Option<i64>,
    #[schema(minimum = -1, maximum = 2147483647, nullable = false)]
    port: Option<i64>,
    #[schema(minimum = -1, maximum = 2147483647, nullable = false)]
    security_group: Option<i64>,
    #[schema(minimum = -1, maximum = 2147483647, nullable = false)]
    security_group_rule: Option<i64>,
    /// Set limits below the current use too.
    #[schema(nullable = false)]
    force: Option<bool>,
    /// Accepted (the opposite of `force`; checking is the default).
    #[schema(nullable = false)]
    check_limit: Option<bool>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct LimitsUpdateBody {
    quota: LimitsUpdate,
}

fn limits_view(limits: &[(&str, i64)]) -> Map<String, Value> {
    limits.iter().map(|(r, l)| (r.to_string(), json!(l))).collect()
}

/// Another project's quotas need an admin.
fn may_read(ctx: &AuthContext, project_id: &str) -> Result<()> {
    if project(ctx) == Some(project_id) || ctx.is_admin() {
        Ok(())
    } else {
        Err(NeutronError::forbidden("rule:get_quota is disallowed by policy"))
    }
}

/// The caller's project id.
#[utoipa::path(get, path = "/v2.0/quotas/project", tag = "quotas",
    responses((status = 200, description = "The caller's project.", body = OwnProject)))]
async fn own_project(caller: Caller) -> Result<HttpResponse> {
    own(caller, "project")
}

/// The caller's project id, as `tenant_id`.
#[utoipa::path(get, path = "/v2.0/quotas/tenant", tag = "quotas",
    responses((status = 200, description = "The caller's project.", body = OwnTenant)))]
async fn own_tenant(caller: Caller) -> Result<HttpResponse> {
    own(caller, "tenant")
}

fn own(caller: Caller, key: &'static str) -> Result<HttpResponse> {
    let Some(p) = project(&caller) else {
        return Err(NeutronError::bad("Tenant-id was missing from quota request."));
    };
    Ok(HttpResponse::Ok().json(json!({ key: { format!("{key}_id"): p } })))
}

/// (admin) The projects with limits of their own, each with all its
/// limits.
#[utoipa::path(get, path = "/v2.0/quotas", tag = "quotas",
    responses((status = 200, description = "The projects with limits of their own.", body = LimitsList)))]
async fn list(caller: Caller, state: web::Data<NetworkState>) -> Result<HttpResponse> {
    if !caller.is_admin() {
        return Err(NeutronError::forbidden("rule:get_quota is disallowed by policy"));
    }
    let set = state.storage.read(db::quotas_set).await?;
    let mut projects: Vec<Map<String, Value>> = Vec::new();
    for q in set {
        let pos = match projects.iter().position(|p| p["project_id"] == q.project_id.as_str()) {
            Some(pos) => pos,
            None => {
                let mut p = limits_view(QUOTA_DEFAULTS);
                p.insert("project_id".into(), json!(q.project_id));
                p.insert("tenant_id".into(), json!(q.project_id));
                projects.push(p);
                projects.len() - 1
            }
        };
        projects[pos].insert(q.resource, json!(q.hard_limit));
    }
    Ok(HttpResponse::Ok().json(json!({ "quotas": projects })))
}

/// A project's limits.
#[utoipa::path(get, path = "/v2.0/quotas/{id}", tag = "quotas", params(("id" = String, Path, description = "A project id.")),
    responses((status = 200, description = "The project's limits.", body = LimitsOne)))]
async fn show(caller: Caller, state: web::Data<NetworkState>, id: web::Path<String>) -> Result<HttpResponse> {
    may_read(&caller, &id)?;
    let id = id.into_inner();
    let limits = state.storage.read(move |c| db::quota_limits(c, &id)).await?;
    Ok(HttpResponse::Ok().json(json!({ "quota": limits_view(&limits) })))
}

/// The default limits.
#[utoipa::path(get, path = "/v2.0/quotas/{id}/default", tag = "quotas", params(("id" = String, Path, description = "A project id.")),
    responses((status = 200, description = "The default limits.", body = LimitsOne)))]
async fn defaults(caller: Caller, id: web::Path<String>) -> Result<HttpResponse> {
    may_read(&caller, &id)?;
    Ok(HttpResponse::Ok().json(json!({ "quota": limits_view(QUOTA_DEFAULTS) })))
}

/// A project's limits with what is used of them (`reserved` is always 0: creations
/// count in their own transaction instead of reserving).
#[utoipa::path(get, path = "/v2.0/quotas/{id}/details", tag = "quotas", params(("id" = String, Path, description = "A project id.")),
    responses((status = 200, description = "Each limit with its use.", body = DetailsOne)))]
async fn details(caller: Caller, state: web::Data<NetworkState>, id: web::Path<String>) -> Result<HttpResponse> {
    if project(&caller) != Some(id.as_str()) && !caller.is_admin() {
        return Err(NeutronError::forbidden(
            "User does not have admin privileges: Only admin is authorized to access quotas for another project.",
        ));
    }
    let id = id.into_inner();
    let detail = state
        .storage
        .read(move |c| {
            let mut out = Map::new();
            for (resource, limit) in db::quota_limits(c, &id)? {
                let used = db::usage(c, &id, resource)?;
                out.insert(resource.into(), json!({"limit": limit, "used": used, "reserved": 0}));
            }
            Ok(out)
        })
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "quota": detail })))
}

/// A limit from the request: an integer (or its string) from -1 up.
fn limit(key: &str, v: &Value) -> Result<i64> {
    let n = match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    let shown = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let n = n.ok_or_else(|| NeutronError::invalid(format!("'{shown}' is not an integer")))?;
    if n < -1 {
        return Err(NeutronError::bad(format!(
            "Invalid input for {key}. Reason: '{n}' is too small - must be at least '-1'."
        )));
    }
    if n > MAX_LIMIT {
        return Err(NeutronError::bad(format!(
            "Invalid input for {key}. Reason: '{n}' is too large - must be no larger than '{MAX_LIMIT}'."
        )));
    }
    Ok(n)
}

/// (admin) Sets some of a project's limits. As Neutron since 2025.1, a limit below what the
/// project already uses is refused unless `force` is true.
#[utoipa::path(put, path = "/v2.0/quotas/{id}", tag = "quotas", params(("id" = String, Path, description = "A project id.")), request_body = LimitsUpdateBody,
    responses((status = 200, description = "The project's limits.", body = LimitsOne)))]
async fn update(
    caller: Caller,
    state: web::Data<NetworkState>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse> {
    if !caller.is_admin() {
        return Err(NeutronError::forbidden("rule:update_quota is disallowed by policy"));
    }
    let mut allowed: Vec<&str> = QUOTA_DEFAULTS.iter().map(|(r, _)| *r).collect();
    allowed.extend(["force", "check_limit"]);
    let obj = body_object(&body, "quota", &allowed)?;
    let force = get_bool(&obj, "force")?.unwrap_or(false);
    get_bool(&obj, "check_limit")?;
    let mut wanted = Vec::new();
    for (resource, _) in QUOTA_DEFAULTS {
        if let Some(v) = obj.get(*resource) {
            wanted.push((*resource, limit(resource, v)?));
        }
    }
    let id = id.into_inner();
    let outcome = state
        .storage
        .write(move |c| {
            for (resource, limit) in &wanted {
                if force || *limit == -1 {
                    continue;
                }
                let used = db::usage(c, &id, resource)?;
                if used > *limit {
                    return Ok(Err(NeutronError::bad(format!(
                        "Quota limit {limit} for {resource} must be greater than or equal to already used {used}"
                    ))));
                }
            }
            for (resource, limit) in &wanted {
                db::quota_set(
                    c,
                    &Quota { project_id: id.clone(), resource: resource.to_string(), hard_limit: *limit },
                )?;
            }
            Ok(Ok(db::quota_limits(c, &id)?))
        })
        .await?;
    let limits = outcome?;
    Ok(HttpResponse::Ok().json(json!({ "quota": limits_view(&limits) })))
}

/// (admin) Resets a project's limits to the defaults.
#[utoipa::path(delete, path = "/v2.0/quotas/{id}", tag = "quotas", params(("id" = String, Path, description = "A project id.")),
    responses((status = 204, description = "Reset.")))]
async fn reset(caller: Caller, state: web::Data<NetworkState>, id: web::Path<String>) -> Result<HttpResponse> {
    if !caller.is_admin() {
        return Err(NeutronError::forbidden("rule:delete_quota is disallowed by policy"));
    }
    let pid = id.clone();
    if !state.storage.write(move |c| db::quota_reset(c, &pid)).await? {
        return Err(NeutronError::NotFound(
            "TenantQuotaNotFound",
            format!("Quota for project {id} could not be found."),
        ));
    }
    Ok(HttpResponse::NoContent().finish())
}
