//! Compute quotas (`os-quota-sets`) and the caller's limits (`limits`):
//! instances, cores and RAM are enforced at server create; the other
//! resources Nova lists are shown with their fixed limits.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};

use super::error::Result;
use super::servers::{DEFAULT_LIMITS, Limits, quota_limits};
use super::{ApiVersion, Caller, ComputeError, ComputeState, body_object, query_pairs};
use crate::common::auth::AuthContext;
use crate::storage::servers as db;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/limits").route(web::get().to(limits)))
        .service(web::resource("/os-quota-sets/{project}/defaults").route(web::get().to(defaults)))
        .service(web::resource("/os-quota-sets/{project}/detail").route(web::get().to(detail)))
        .service(
            web::resource("/os-quota-sets/{project}")
                .route(web::get().to(show))
                .route(web::put().to(update))
                .route(web::delete().to(reset)),
        );
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

async fn defaults(path: web::Path<String>, caller: Caller, v: ApiVersion) -> Result<HttpResponse> {
    let _ = caller;
    let mut m = quota_set(DEFAULT_LIMITS, v);
    m.insert("id".into(), json!(*path));
    Ok(HttpResponse::Ok().json(json!({"quota_set": m})))
}

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

async fn reset(path: web::Path<String>, caller: Caller, state: web::Data<ComputeState>) -> Result<HttpResponse> {
    if !caller.is_admin() {
        return Err(ComputeError::policy("os-quota-sets:delete"));
    }
    let p = path.into_inner();
    state.storage.write(move |c| db::quotas_reset(c, &p)).await?;
    Ok(HttpResponse::Accepted().finish())
}

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
