//! Server groups (`/os-server-groups`): a named placement policy a server
//! joins at create with the scheduler hint `group`. Microversion deltas:
//! 2.13 `project_id`/`user_id`; 2.15 the soft policies; 2.64 one `policy`
//! plus `rules` instead of a `policies` list and `metadata`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};

use super::error::Result;
use super::{ApiVersion, Caller, ComputeError, ComputeState, body_object, now, query_pairs};
use crate::common::auth::AuthContext;
use crate::common::openapi::Routes;
use crate::storage::server_groups::{self as db, ServerGroup};
use crate::storage::{DbConn, StorageError, StorageResult};

/// Groups one project may hold, and servers one group may hold
/// (`[quota]server_groups`, `[quota]server_group_members`).
pub const GROUPS_QUOTA: i64 = 10;
pub const MEMBERS_QUOTA: i64 = 10;

pub fn routes(r: &mut Routes) {
    crate::routes!(r; list, create, show, delete);
}

/// A server group. Below 2.64 it has `policies` (a list of one) and
/// `metadata` (empty); from 2.64 `policy` and `rules`. `project_id` and
/// `user_id` from 2.13.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ServerGroupDoc {
    id: String,
    name: String,
    members: Vec<String>,
    #[serde(default)]
    policies: Vec<String>,
    #[schema(value_type = Object)]
    #[serde(default)]
    metadata: Value,
    #[serde(default)]
    policy: String,
    #[serde(default)]
    rules: GroupRules,
    #[serde(default)]
    project_id: String,
    #[serde(default)]
    user_id: String,
}

/// A server group's rules (`anti-affinity` only).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct GroupRules {
    #[schema(minimum = 1)]
    #[serde(default)]
    max_server_per_host: i64,
}

/// `{"server_group": …}`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ServerGroupShow {
    server_group: ServerGroupDoc,
}

/// `{"server_groups": […]}`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ServerGroupList {
    server_groups: Vec<ServerGroupDoc>,
}

/// A placement policy: `affinity`, `anti-affinity`, and from 2.15
/// `soft-affinity`, `soft-anti-affinity`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub enum GroupPolicy {
    #[schema(rename = "affinity")]
    Affinity,
    #[schema(rename = "anti-affinity")]
    AntiAffinity,
    #[schema(rename = "soft-affinity")]
    SoftAffinity,
    #[schema(rename = "soft-anti-affinity")]
    SoftAntiAffinity,
}

/// A new server group: `name` and, below 2.64, `policies` (one policy), from
/// 2.64 `policy` and optional `rules` (anti-affinity only).
#[derive(utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ServerGroupFields {
    #[schema(min_length = 1, max_length = 255)]
    name: String,
    #[schema(min_items = 1, max_items = 1)]
    #[serde(default)]
    policies: Vec<GroupPolicy>,
    #[serde(default)]
    policy: GroupPolicy,
    #[serde(default)]
    rules: GroupRules,
}

/// `{"server_group": …}` to create.
#[derive(utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ServerGroupCreate {
    server_group: ServerGroupFields,
}

/// Paging and scope of the server group listing.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ServerGroupQuery {
    /// Every project's groups (administrators).
    all_projects: Option<String>,
    #[param(minimum = 0)]
    limit: Option<i64>,
    #[param(minimum = 0)]
    offset: Option<i64>,
}

fn not_found(id: &str) -> ComputeError {
    ComputeError::NotFound(format!("Instance group {id} could not be found."))
}

fn policies_for(v: ApiVersion) -> &'static [&'static str] {
    if v.at_least(15) {
        &["affinity", "anti-affinity", "soft-affinity", "soft-anti-affinity"]
    } else {
        &["affinity", "anti-affinity"]
    }
}

fn render(g: &ServerGroup, members: Vec<String>, v: ApiVersion) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(g.uuid));
    m.insert("name".into(), json!(g.name));
    if v.at_least(64) {
        m.insert("policy".into(), json!(g.policy));
        m.insert("rules".into(), serde_json::from_str(&g.rules).unwrap_or_else(|_| json!({})));
    } else {
        m.insert("policies".into(), json!([g.policy]));
        m.insert("metadata".into(), json!({}));
    }
    m.insert("members".into(), json!(members));
    if v.at_least(13) {
        m.insert("project_id".into(), json!(g.project_id));
        m.insert("user_id".into(), json!(g.user_id));
    }
    Value::Object(m)
}

fn visible(ctx: &AuthContext, g: &ServerGroup) -> bool {
    ctx.is_admin() || ctx.project_id.as_deref() == Some(g.project_id.as_str())
}

/// The group a server create names in its `group` hint, checked as
/// visible to the caller; it is joined in the create's transaction.
pub fn hinted_group(c: &mut DbConn, ctx: &AuthContext, id: &str) -> StorageResult<Result<ServerGroup>> {
    match db::group(c, id) {
        Ok(g) if visible(ctx, &g) => Ok(Ok(g)),
        Ok(_) | Err(StorageError::NotFound { .. }) => Ok(Err(not_found(id))),
        Err(e) => Err(e),
    }
}

/// Lists the project's server groups (every project's for an administrator
/// with `all_projects`).
#[utoipa::path(get, path = "/v2.1/os-server-groups", tag = "server-groups", params(ServerGroupQuery),
    responses((status = 200, description = "The server groups.", body = ServerGroupList)))]
async fn list(req: HttpRequest, caller: Caller, v: ApiVersion, state: web::Data<ComputeState>) -> Result<HttpResponse> {
    let q = query_pairs(&req)?;
    let get = |k: &str| q.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let all = get("all_projects").is_some_and(|a| !matches!(a.to_ascii_lowercase().as_str(), "false" | "0" | "no"));
    let project = if all && caller.is_admin() { None } else { Some(caller.project_id.clone().unwrap_or_default()) };
    let number = |k: &str| -> Result<Option<usize>> {
        get(k)
            .map(|s| {
                s.parse::<usize>().map_err(|_| ComputeError::bad(format!("Invalid input for query parameters {k}")))
            })
            .transpose()
    };
    let (limit, offset) = (number("limit")?, number("offset")?.unwrap_or(0));
    let groups = state
        .storage
        .read(move |c| {
            let gs = db::groups_list(c, project.as_deref())?;
            gs.into_iter().map(|g| Ok((db::members(c, &g.uuid)?, g))).collect::<StorageResult<Vec<_>>>()
        })
        .await?;
    let limit = limit.unwrap_or(state.max_limit as usize).min(state.max_limit as usize);
    let out: Vec<Value> = groups.iter().skip(offset).take(limit).map(|(m, g)| render(g, m.clone(), v)).collect();
    Ok(HttpResponse::Ok().json(json!({"server_groups": out})))
}

/// Creates a server group.
#[utoipa::path(post, path = "/v2.1/os-server-groups", tag = "server-groups", request_body = ServerGroupCreate,
    responses((status = 200, description = "The new server group.", body = ServerGroupShow)))]
async fn create(
    body: web::Bytes,
    caller: Caller,
    v: ApiVersion,
    state: web::Data<ComputeState>,
) -> Result<HttpResponse> {
    let obj = body_object(&body, "server_group")?;
    let allowed: &[&str] = if v.at_least(64) { &["name", "policy", "rules"] } else { &["name", "policies"] };
    if let Some(extra) = obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(ComputeError::bad(format!(
            "Invalid input for field/attribute server_group. Additional properties are not allowed ('{extra}' was unexpected)"
        )));
    }
    let name = match obj.get("name") {
        Some(Value::String(s)) if !s.trim().is_empty() && s.chars().count() <= 255 => s.clone(),
        Some(n) => return Err(ComputeError::invalid("name", n, format!("{n} is not a valid name"))),
        None => {
            return Err(ComputeError::bad(
                "Invalid input for field/attribute server_group. 'name' is a required property",
            ));
        }
    };
    let known = policies_for(v);
    let policy = if v.at_least(64) {
        match obj.get("policy") {
            Some(Value::String(p)) if known.contains(&p.as_str()) => p.clone(),
            Some(p) => return Err(ComputeError::invalid("policy", p, format!("{p} is not one of {known:?}"))),
            None => {
                return Err(ComputeError::bad(
                    "Invalid input for field/attribute server_group. 'policy' is a required property",
                ));
            }
        }
    } else {
        match obj.get("policies") {
            Some(Value::Array(a)) if a.len() == 1 && a[0].as_str().is_some_and(|p| known.contains(&p)) => {
                a[0].as_str().unwrap_or_default().to_string()
            }
            Some(p) => {
                return Err(ComputeError::invalid("policies", p, format!("{p} is not a list of one of {known:?}")));
            }
            None => {
                return Err(ComputeError::bad(
                    "Invalid input for field/attribute server_group. 'policies' is a required property",
                ));
            }
        }
    };
    let rules = match obj.get("rules") {
        None => json!({}),
        Some(Value::Object(r)) if r.is_empty() => json!({}),
        Some(Value::Object(r)) if policy == "anti-affinity" => {
            match (r.len(), r.get("max_server_per_host").and_then(Value::as_i64)) {
                (1, Some(n)) if n >= 1 => json!({"max_server_per_host": n}),
                _ => {
                    return Err(ComputeError::invalid(
                        "rules",
                        &Value::Object(r.clone()),
                        "is not valid under the rules schema",
                    ));
                }
            }
        }
        Some(r) => {
            return Err(ComputeError::bad(format!(
                "Only anti-affinity policy supports rules; {r} was given for {policy}"
            )));
        }
    };
    let g = ServerGroup {
        uuid: uuid::Uuid::new_v4().to_string(),
        name,
        project_id: caller.project_id.clone().unwrap_or_default(),
        user_id: caller.user_id.clone().unwrap_or_default(),
        policy,
        rules: rules.to_string(),
        created_at: now(),
    };
    let stored = g.clone();
    state.storage.write(move |c| db::group_insert(c, &stored, GROUPS_QUOTA)).await?;
    Ok(HttpResponse::Ok().json(json!({"server_group": render(&g, vec![], v)})))
}

/// Shows a server group.
#[utoipa::path(get, path = "/v2.1/os-server-groups/{id}", tag = "server-groups",
    params(("id" = String, Path, description = "A server group's UUID.")),
    responses((status = 200, description = "The server group.", body = ServerGroupShow)))]
async fn show(
    id: web::Path<String>,
    caller: Caller,
    v: ApiVersion,
    state: web::Data<ComputeState>,
) -> Result<HttpResponse> {
    let id = id.into_inner();
    let i2 = id.clone();
    let found = state
        .storage
        .read(move |c| match db::group(c, &i2) {
            Ok(g) => Ok(Some((db::members(c, &g.uuid)?, g))),
            Err(StorageError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        })
        .await?;
    match found {
        Some((m, g)) if visible(&caller, &g) => Ok(HttpResponse::Ok().json(json!({"server_group": render(&g, m, v)}))),
        _ => Err(not_found(&id)),
    }
}

/// Deletes a server group.
#[utoipa::path(delete, path = "/v2.1/os-server-groups/{id}", tag = "server-groups",
    params(("id" = String, Path, description = "A server group's UUID.")),
    responses((status = 204, description = "Deleted.")))]
async fn delete(id: web::Path<String>, caller: Caller, state: web::Data<ComputeState>) -> Result<HttpResponse> {
    let id = id.into_inner();
    let (i2, ctx) = (id.clone(), (*caller).clone());
    state
        .storage
        .write(move |c| match hinted_group(c, &ctx, &i2)? {
            Ok(_) => db::group_delete(c, &i2).map(Ok),
            Err(e) => Ok(Err(e)),
        })
        .await??;
    Ok(HttpResponse::NoContent().finish())
}
