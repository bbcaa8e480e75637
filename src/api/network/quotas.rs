//! `/v2.0/quotas`: per-project limits on networks, subnets, ports, security
//! groups and rules (Neutron's `quotas` and `quota_details` extensions). A
//! project reads its own; admins read and set every project's. The limits
//! are enforced where each resource is created ([`db::quota_check`]).

use actix_web::{HttpResponse, web};
use serde_json::{Map, Value, json};

use super::error::{NeutronError, Result};
use super::{Caller, NetworkState, body_object, get_bool, project};
use crate::common::auth::AuthContext;
use crate::storage::security_groups::{self as db, QUOTA_DEFAULTS, Quota};

/// Neutron's `DB_INTEGER_MAX_VALUE`.
const MAX_LIMIT: i64 = 2_147_483_647;

pub fn configure(cfg: &mut web::ServiceConfig) {
    // The named actions come before `{id}`, which would match them too.
    cfg.route("/v2.0/quotas", web::get().to(list))
        .route("/v2.0/quotas/project", web::get().to(|c: Caller| own_project(c, "project")))
        .route("/v2.0/quotas/tenant", web::get().to(|c: Caller| own_project(c, "tenant")))
        .route("/v2.0/quotas/{id}", web::get().to(show))
        .route("/v2.0/quotas/{id}", web::put().to(update))
        .route("/v2.0/quotas/{id}", web::delete().to(reset))
        .route("/v2.0/quotas/{id}/default", web::get().to(defaults))
        .route("/v2.0/quotas/{id}/details", web::get().to(details))
        .route("/v2.0/quotas/{id}/details.json", web::get().to(details));
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

async fn own_project(caller: Caller, key: &'static str) -> Result<HttpResponse> {
    let Some(p) = project(&caller) else {
        return Err(NeutronError::bad("Tenant-id was missing from quota request."));
    };
    Ok(HttpResponse::Ok().json(json!({ key: { format!("{key}_id"): p } })))
}

/// The projects with limits of their own, each with all its limits.
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

async fn show(caller: Caller, state: web::Data<NetworkState>, id: web::Path<String>) -> Result<HttpResponse> {
    may_read(&caller, &id)?;
    let id = id.into_inner();
    let limits = state.storage.read(move |c| db::quota_limits(c, &id)).await?;
    Ok(HttpResponse::Ok().json(json!({ "quota": limits_view(&limits) })))
}

async fn defaults(caller: Caller, id: web::Path<String>) -> Result<HttpResponse> {
    may_read(&caller, &id)?;
    Ok(HttpResponse::Ok().json(json!({ "quota": limits_view(QUOTA_DEFAULTS) })))
}

/// Limits with what is used of them (`reserved` is always 0: creations
/// count in their own transaction instead of reserving).
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

/// Sets some limits. As Neutron since 2025.1, a limit below what the
/// project already uses is refused unless `force` is true.
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
