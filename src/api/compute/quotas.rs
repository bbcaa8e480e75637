//! Compute quotas (`os-quota-sets`) and the caller's limits (`limits`):
//! instances, cores and RAM are enforced at server create; the other
//! resources Nova lists are shown with their fixed limits.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};

use super::error::Result;
use super::servers::{DEFAULT_LIMITS, Limits, quota_limits};
use super::{ApiVersion, Caller, ComputeError, ComputeState, body_object, query_pairs};
use crate::common::auth::AuthContext;
use crate::common::openapi::Routes;
use crate::storage::servers as db;

pub fn routes(r: &mut Routes) {
    crate::routes!(r; limits, defaults, detail, show, update, reset);
}

/// A project's quotas (-1 = unlimited). Those ironbark does not enforce show
/// Nova's defaults; `injected_file*` are gone from 2.57, `floating_ips`,
/// `fixed_ips` and `security_group*` from 2.36. `id` is absent in the
/// answer to an update.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct QuotaSet {
    /// The project.
    #[serde(default)]
    id: String,
    instances: i64,
    cores: i64,
    ram: i64,
    key_pairs: i64,
    metadata_items: i64,
    server_groups: i64,
    server_group_members: i64,
    #[serde(default)]
    injected_files: i64,
    #[serde(default)]
    injected_file_content_bytes: i64,
    #[serde(default)]
    injected_file_path_bytes: i64,
    #[serde(default)]
    floating_ips: i64,
    #[serde(default)]
    fixed_ips: i64,
    #[serde(default)]
    security_groups: i64,
    #[serde(default)]
    security_group_rules: i64,
}

/// `{"quota_set": …}`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct QuotaSetShow {
    quota_set: QuotaSet,
}

/// One quota with its use.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct QuotaDetail {
    limit: i64,
    in_use: i64,
    reserved: i64,
}

/// A project's quotas with their use (same microversion deltas as
/// [`QuotaSet`]).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct QuotaSetDetail {
    id: String,
    instances: QuotaDetail,
    cores: QuotaDetail,
    ram: QuotaDetail,
    key_pairs: QuotaDetail,
    metadata_items: QuotaDetail,
    server_groups: QuotaDetail,
    server_group_members: QuotaDetail,
    #[serde(default)]
    injected_files: QuotaDetail,
    #[serde(default)]
    injected_file_content_bytes: QuotaDetail,
    #[serde(default)]
    injected_file_path_bytes: QuotaDetail,
    #[serde(default)]
    floating_ips: QuotaDetail,
    #[serde(default)]
    fixed_ips: QuotaDetail,
    #[serde(default)]
    security_groups: QuotaDetail,
    #[serde(default)]
    security_group_rules: QuotaDetail,
}

/// `{"quota_set": …}` with use.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct QuotaSetDetailShow {
    quota_set: QuotaSetDetail,
}

/// New quotas (-1 = unlimited); `instances`, `cores` and `ram` are stored,
/// the others accepted (those of the microversion) and left at their fixed
/// values.
#[derive(utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct QuotaSetFields {
    #[schema(minimum = -1)]
    #[serde(default)]
    instances: i64,
    #[schema(minimum = -1)]
    #[serde(default)]
    cores: i64,
    #[schema(minimum = -1)]
    #[serde(default)]
    ram: i64,
    #[schema(minimum = -1)]
    #[serde(default)]
    key_pairs: i64,
    #[schema(minimum = -1)]
    #[serde(default)]
    metadata_items: i64,
    #[schema(minimum = -1)]
    #[serde(default)]
    server_groups: i64,
    #[schema(minimum = -1)]
    #[serde(default)]
    server_group_members: i64,
    /// Below 2.57.
    #[schema(minimum = -1)]
    #[serde(default)]
    injected_files: i64,
    /// Below 2.57.
    #[schema(minimum = -1)]
    #[serde(default)]
    injected_file_content_bytes: i64,
    /// Below 2.57.
    #[schema(minimum = -1)]
    #[serde(default)]
    injected_file_path_bytes: i64,
    /// Below 2.36.
    #[schema(minimum = -1)]
    #[serde(default)]
    floating_ips: i64,
    /// Below 2.36.
    #[schema(minimum = -1)]
    #[serde(default)]
    fixed_ips: i64,
    /// Below 2.36.
    #[schema(minimum = -1)]
    #[serde(default)]
    security_groups: i64,
    /// Below 2.36.
    #[schema(minimum = -1)]
    #[serde(default)]
    security_group_rules: i64,
    /// Accepted and ignored.
    #[serde(default)]
    force: bool,
}

/// `{"quota_set": …}` to update.
#[derive(utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct QuotaSetUpdate {
    quota_set: QuotaSetFields,
}

/// The caller's (or an administrator's `tenant_id`'s) limits and use;
/// `maxPersonality*` below 2.57, the floating IP and security group ones
/// below 2.36.
#[derive(utoipa::ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct AbsoluteLimits {
    maxTotalInstances: i64,
    maxTotalCores: i64,
    maxTotalRAMSize: i64,
    totalInstancesUsed: i64,
    totalCoresUsed: i64,
    totalRAMUsed: i64,
    maxServerMeta: i64,
    maxImageMeta: i64,
    maxTotalKeypairs: i64,
    maxServerGroups: i64,
    maxServerGroupMembers: i64,
    totalServerGroupsUsed: i64,
    #[serde(default)]
    maxPersonality: i64,
    #[serde(default)]
    maxPersonalitySize: i64,
    #[serde(default)]
    maxSecurityGroupRules: i64,
    #[serde(default)]
    maxSecurityGroups: i64,
    #[serde(default)]
    maxTotalFloatingIps: i64,
    #[serde(default)]
    totalFloatingIpsUsed: i64,
    #[serde(default)]
    totalSecurityGroupsUsed: i64,
}

/// Rate limits (none) and absolute limits.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct LimitsDoc {
    /// Always empty.
    #[schema(value_type = Vec<Object>)]
    rate: Vec<Value>,
    absolute: AbsoluteLimits,
}

/// `{"limits": …}`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct LimitsShow {
    limits: LimitsDoc,
}

/// Limits ironbark does not enforce, shown as Nova's defaults.
fn fixed(v: ApiVersion) -> Vec<(&'static str, i64)> {
    let mut out =
        vec![("key_pairs", 100), ("metadata_items", 128), ("server_groups", 10), ("server_group_members", 10)];
    if !v.at_least(57) {
        out.extend([("injected_files", 5), ("injected_file_content_bytes", 10240), ("injected_file_path_bytes", 255)]);
    }
    if !v.at_least(36) {
        out.extend([("floating_ips", 10), ("fixed_ips", -1), ("security_groups", 10), ("security_group_rules", 20)]);
    }
    out
}

fn quota_set(l: Limits, v: ApiVersion) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("instances".into(), json!(l.instances));
    m.insert("cores".into(), json!(l.cores));
    m.insert("ram".into(), json!(l.ram));
    for (k, n) in fixed(v) {
        m.insert(k.into(), json!(n));
    }
    m
}

/// Project members read their own project's quotas; admins any.
fn may_read(ctx: &AuthContext, project: &str) -> Result<()> {
    if ctx.is_admin() || ctx.project_id.as_deref() == Some(project) {
        Ok(())
    } else {
        Err(ComputeError::policy("os-quota-sets:show"))
    }
}

/// Shows a project's quotas (its members or an administrator).
#[utoipa::path(get, path = "/v2.1/os-quota-sets/{project}", tag = "quota-sets",
    params(("project" = String, Path, description = "A project id.")),
    responses((status = 200, description = "The project's quotas.", body = QuotaSetShow)))]
async fn show(
    path: web::Path<String>,
    caller: Caller,
    v: ApiVersion,
    state: web::Data<ComputeState>,
) -> Result<HttpResponse> {
    may_read(&caller, &path)?;
    let p = path.clone();
    let l = state.storage.read(move |c| quota_limits(c, &p)).await?;
    let mut m = quota_set(l, v);
    m.insert("id".into(), json!(*path));
    Ok(HttpResponse::Ok().json(json!({"quota_set": m})))
}

/// Shows the default quotas.
#[utoipa::path(get, path = "/v2.1/os-quota-sets/{project}/defaults", tag = "quota-sets",
    params(("project" = String, Path, description = "A project id.")),
    responses((status = 200, description = "The default quotas.", body = QuotaSetShow)))]
async fn defaults(path: web::Path<String>, caller: Caller, v: ApiVersion) -> Result<HttpResponse> {
    let _ = caller;
    let mut m = quota_set(DEFAULT_LIMITS, v);
    m.insert("id".into(), json!(*path));
    Ok(HttpResponse::Ok().json(json!({"quota_set": m})))
}

/// Shows a project's quotas with their use.
#[utoipa::path(get, path = "/v2.1/os-quota-sets/{project}/detail", tag = "quota-sets",
    params(("project" = String, Path, description = "A project id.")),
    responses((status = 200, description = "The project's quotas and use.", body = QuotaSetDetailShow)))]
async fn detail(
    path: web::Path<String>,
    caller: Caller,
    v: ApiVersion,
    state: web::Data<ComputeState>,
) -> Result<HttpResponse> {
    may_read(&caller, &path)?;
    let p = path.clone();
    let (l, (i, c, r)) = state.storage.read(move |c| Ok((quota_limits(c, &p)?, db::usage(c, &p)?))).await?;
    let mut m = Map::new();
    for (k, limit, used) in [("instances", l.instances, i), ("cores", l.cores, c), ("ram", l.ram, r)] {
        m.insert(k.into(), json!({"limit": limit, "in_use": used, "reserved": 0}));
    }
    for (k, n) in fixed(v) {
        m.insert(k.into(), json!({"limit": n, "in_use": 0, "reserved": 0}));
    }
    m.insert("id".into(), json!(*path));
    Ok(HttpResponse::Ok().json(json!({"quota_set": m})))
}

/// Updates a project's quotas (administrators).
#[utoipa::path(put, path = "/v2.1/os-quota-sets/{project}", tag = "quota-sets",
    params(("project" = String, Path, description = "A project id.")), request_body = QuotaSetUpdate,
    responses((status = 200, description = "The project's quotas, without `id`.", body = QuotaSetShow)))]
async fn update(
    path: web::Path<String>,
    body: web::Bytes,
    caller: Caller,
    v: ApiVersion,
    state: web::Data<ComputeState>,
) -> Result<HttpResponse> {
    if !caller.is_admin() {
        return Err(ComputeError::policy("os-quota-sets:update"));
    }
    let obj = body_object(&body, "quota_set")?;
    let known: Vec<&str> =
        ["instances", "cores", "ram", "force"].into_iter().chain(fixed(v).into_iter().map(|(k, _)| k)).collect();
    let mut set = Vec::new();
    for (k, val) in &obj {
        if !known.contains(&k.as_str()) {
            return Err(ComputeError::invalid(
                "quota_set",
                &Value::Object(obj.clone()),
                format!("Additional properties are not allowed ('{k}' was unexpected)"),
            ));
        }
        if k == "force" {
            continue;
        }
        let n = match val {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.parse::<i64>().ok(),
            _ => None,
        }
        .filter(|n| *n >= -1)
        .ok_or_else(|| ComputeError::invalid(k, val, format!("{val} is not a valid quota value")))?;
        if ["instances", "cores", "ram"].contains(&k.as_str()) {
            set.push((k.clone(), n));
        }
    }
    let p = path.clone();
    let l = state
        .storage
        .write(move |c| {
            for (k, n) in &set {
                db::quota_set(c, &p, k, *n)?;
            }
            quota_limits(c, &p)
        })
        .await?;
    Ok(HttpResponse::Ok().json(json!({"quota_set": quota_set(l, v)})))
}

/// Resets a project's quotas to the defaults (administrators).
#[utoipa::path(delete, path = "/v2.1/os-quota-sets/{project}", tag = "quota-sets",
    params(("project" = String, Path, description = "A project id.")),
    responses((status = 202, description = "Reset.")))]
async fn reset(path: web::Path<String>, caller: Caller, state: web::Data<ComputeState>) -> Result<HttpResponse> {
    if !caller.is_admin() {
        return Err(ComputeError::policy("os-quota-sets:delete"));
    }
    let p = path.into_inner();
    state.storage.write(move |c| db::quotas_reset(c, &p)).await?;
    Ok(HttpResponse::Accepted().finish())
}

/// Shows the caller's limits and use.
#[utoipa::path(get, path = "/v2.1/limits", tag = "limits",
    params(("tenant_id" = Option<String>, Query, description = "Another project's (administrators).")),
    responses((status = 200, description = "The limits.", body = LimitsShow)))]
async fn limits(
    req: HttpRequest,
    caller: Caller,
    v: ApiVersion,
    state: web::Data<ComputeState>,
) -> Result<HttpResponse> {
    let q = query_pairs(&req)?;
    let mut project = caller.project_id.clone().unwrap_or_default();
    if let Some((_, t)) = q.iter().find(|(k, _)| k == "tenant_id") {
        if !caller.is_admin() && *t != project {
            return Err(ComputeError::policy("limits:other_project"));
        }
        project = t.clone();
    }
    let (l, (i, c, r)) = state.storage.read(move |c| Ok((quota_limits(c, &project)?, db::usage(c, &project)?))).await?;
    let mut a = Map::new();
    for (k, n) in [
        ("maxTotalInstances", l.instances),
        ("maxTotalCores", l.cores),
        ("maxTotalRAMSize", l.ram),
        ("totalInstancesUsed", i),
        ("totalCoresUsed", c),
        ("totalRAMUsed", r),
        ("maxServerMeta", 128),
        ("maxImageMeta", 128),
        ("maxTotalKeypairs", 100),
        ("maxServerGroups", 10),
        ("maxServerGroupMembers", 10),
        ("totalServerGroupsUsed", 0),
    ] {
        a.insert(k.into(), json!(n));
    }
    if !v.at_least(57) {
        a.insert("maxPersonality".into(), json!(5));
        a.insert("maxPersonalitySize".into(), json!(10240));
    }
    if !v.at_least(36) {
        for (k, n) in [
            ("maxSecurityGroupRules", 20),
            ("maxSecurityGroups", 10),
            ("maxTotalFloatingIps", 10),
            ("totalFloatingIpsUsed", 0),
            ("totalSecurityGroupsUsed", 0),
        ] {
            a.insert(k.into(), json!(n));
        }
    }
    Ok(HttpResponse::Ok().json(json!({"limits": {"rate": [], "absolute": a}})))
}
