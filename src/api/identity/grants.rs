//! Role grants on projects, domains and the system; role assignments; a
//! user's projects; application credentials.

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};
use utoipa::{IntoParams, ToSchema};

use super::error::{IdentityError, Result};
use super::openapi::{CollectionLinks, SelfLink, SystemAll};
use super::resources::{ProjectList, RoleList, project_json, require_admin, require_self_or_admin, role_json};
use super::{IdentityState, new_id, now, parse_wrapped, query_bool, timestamp};
use crate::common::auth::{Auth, Authenticator, hash_password};
use crate::common::openapi::Routes;
use crate::common::token::random_id;
use crate::storage::identity::{self as ids, AppCredential, Target};
use crate::storage::{DbConn, StorageResult};

type Caller = Auth<IdentityError>;

/// Every party of a grant must exist: 404 naming the missing one otherwise.
fn check_parties(c: &mut DbConn, user: &str, target: &Target, role: Option<&str>) -> StorageResult<()> {
    ids::user(c, user)?;
    match target {
        Target::Project(p) => {
            ids::project(c, p)?;
        }
        Target::Domain(d) => {
            ids::domain(c, d)?;
        }
        Target::System => {}
    }
    if let Some(r) = role {
        ids::role(c, r)?;
    }
    Ok(())
}

async fn put_grant(caller: Caller, target: Target, user: String, role: String, auth: &Authenticator) -> Result<()> {
    require_admin(&caller, "create_grant")?;
    auth.storage
        .write(move |c| {
            check_parties(c, &user, &target, Some(&role))?;
            ids::grant(c, &user, &target, &role)
        })
        .await?;
    Ok(())
}

async fn check_grant(caller: Caller, target: Target, user: String, role: String, auth: &Authenticator) -> Result<()> {
    require_admin(&caller, "check_grant")?;
    let r = role.clone();
    let has = auth
        .storage
        .read(move |c| {
            check_parties(c, &user, &target, Some(&r))?;
            ids::has_grant(c, &user, &target, &r)
        })
        .await?;
    if !has {
        return Err(IdentityError::NotFound(format!("Could not find role assignment with role: {role}.")));
    }
    Ok(())
}

async fn delete_grant(caller: Caller, target: Target, user: String, role: String, auth: &Authenticator) -> Result<()> {
    require_admin(&caller, "revoke_grant")?;
    auth.storage
        .write(move |c| {
            check_parties(c, &user, &target, Some(&role))?;
            ids::revoke_grant(c, &user, &target, &role)
        })
        .await?;
    Ok(())
}

async fn list_grants(
    req: &HttpRequest,
    caller: Caller,
    target: Target,
    user: String,
    auth: &Authenticator,
    state: &IdentityState,
) -> Result<HttpResponse> {
    require_admin(&caller, "list_grants")?;
    let roles = auth
        .storage
        .read(move |c| {
            check_parties(c, &user, &target, None)?;
            let f = ids::AssignmentFilter {
                user_id: Some(user.clone()),
                target: Some(target.clone()),
                ..Default::default()
            };
            let role_ids: Vec<String> = ids::assignments_list(c, &f)?.into_iter().map(|a| a.role_id).collect();
            ids::roles_by_ids(c, &role_ids)
        })
        .await?;
    let list: Vec<Value> = roles.iter().map(|r| role_json(state, r)).collect();
    Ok(HttpResponse::Ok().json(json!({"roles": list, "links": state.collection_links(req)})))
}

fn no_content(r: Result<()>) -> Result<HttpResponse> {
    r.map(|()| HttpResponse::NoContent().finish())
}

type TargetUserRole = web::Path<(String, String, String)>;

/// Grants a user a role on a project.
#[utoipa::path(put, path = "/v3/projects/{project_id}/users/{user_id}/roles/{role_id}", tag = "grants",
    params(("project_id" = String, Path), ("user_id" = String, Path), ("role_id" = String, Path)),
    responses((status = 204, description = "Granted.")))]
async fn project_grant_put(
    caller: Caller,
    path: TargetUserRole,
    auth: web::Data<Authenticator>,
) -> Result<HttpResponse> {
    let (t, u, r) = path.into_inner();
    no_content(put_grant(caller, Target::Project(t), u, r, &auth).await)
}

/// Checks that a user holds a role on a project.
#[utoipa::path(get, path = "/v3/projects/{project_id}/users/{user_id}/roles/{role_id}", tag = "grants",
    params(("project_id" = String, Path), ("user_id" = String, Path), ("role_id" = String, Path)),
    responses((status = 204, description = "The user holds the role.")))]
async fn project_grant_check(
    caller: Caller,
    path: TargetUserRole,
    auth: web::Data<Authenticator>,
) -> Result<HttpResponse> {
    let (t, u, r) = path.into_inner();
    no_content(check_grant(caller, Target::Project(t), u, r, &auth).await)
}

/// Checks that a user holds a role on a project (no body).
#[utoipa::path(head, path = "/v3/projects/{project_id}/users/{user_id}/roles/{role_id}", tag = "grants",
    params(("project_id" = String, Path), ("user_id" = String, Path), ("role_id" = String, Path)),
    responses((status = 204, description = "The user holds the role.")))]
async fn project_grant_head(
    caller: Caller,
    path: TargetUserRole,
    auth: web::Data<Authenticator>,
) -> Result<HttpResponse> {
    let (t, u, r) = path.into_inner();
    no_content(check_grant(caller, Target::Project(t), u, r, &auth).await)
}

/// Revokes a user's role on a project.
#[utoipa::path(delete, path = "/v3/projects/{project_id}/users/{user_id}/roles/{role_id}", tag = "grants",
    params(("project_id" = String, Path), ("user_id" = String, Path), ("role_id" = String, Path)),
    responses((status = 204, description = "Revoked.")))]
async fn project_grant_delete(
    caller: Caller,
    path: TargetUserRole,
    auth: web::Data<Authenticator>,
) -> Result<HttpResponse> {
    let (t, u, r) = path.into_inner();
    no_content(delete_grant(caller, Target::Project(t), u, r, &auth).await)
}

/// Lists a user's roles on a project.
#[utoipa::path(get, path = "/v3/projects/{project_id}/users/{user_id}/roles", tag = "grants",
    params(("project_id" = String, Path), ("user_id" = String, Path)),
    responses((status = 200, description = "The roles granted directly.", body = RoleList)))]
async fn project_grants_list(
    req: HttpRequest,
    caller: Caller,
    path: web::Path<(String, String)>,
    auth: web::Data<Authenticator>,
    state: web::Data<IdentityState>,
) -> Result<HttpResponse> {
    let (t, u) = path.into_inner();
    list_grants(&req, caller, Target::Project(t), u, &auth, &state).await
}

/// Grants a user a role on a domain.
#[utoipa::path(put, path = "/v3/domains/{domain_id}/users/{user_id}/roles/{role_id}", tag = "grants",
    params(("domain_id" = String, Path), ("user_id" = String, Path), ("role_id" = String, Path)),
    responses((status = 204, description = "Granted.")))]
async fn domain_grant_put(
    caller: Caller,
    path: TargetUserRole,
    auth: web::Data<Authenticator>,
) -> Result<HttpResponse> {
    let (t, u, r) = path.into_inner();
    no_content(put_grant(caller, Target::Domain(t), u, r, &auth).await)
}

/// Checks that a user holds a role on a domain.
#[utoipa::path(get, path = "/v3/domains/{domain_id}/users/{user_id}/roles/{role_id}", tag = "grants",
    params(("domain_id" = String, Path), ("user_id" = String, Path), ("role_id" = String, Path)),
    responses((status = 204, description = "The user holds the role.")))]
async fn domain_grant_check(
    caller: Caller,
    path: TargetUserRole,
    auth: web::Data<Authenticator>,
) -> Result<HttpResponse> {
    let (t, u, r) = path.into_inner();
    no_content(check_grant(caller, Target::Domain(t), u, r, &auth).await)
}

/// Checks that a user holds a role on a domain (no body).
#[utoipa::path(head, path = "/v3/domains/{domain_id}/users/{user_id}/roles/{role_id}", tag = "grants",
    params(("domain_id" = String, Path), ("user_id" = String, Path), ("role_id" = String, Path)),
    responses((status = 204, description = "The user holds the role.")))]
async fn domain_grant_head(
    caller: Caller,
    path: TargetUserRole,
    auth: web::Data<Authenticator>,
) -> Result<HttpResponse> {
    let (t, u, r) = path.into_inner();
    no_content(check_grant(caller, Target::Domain(t), u, r, &auth).await)
}

/// Revokes a user's role on a domain.
#[utoipa::path(delete, path = "/v3/domains/{domain_id}/users/{user_id}/roles/{role_id}", tag = "grants",
    params(("domain_id" = String, Path), ("user_id" = String, Path), ("role_id" = String, Path)),
    responses((status = 204, description = "Revoked.")))]
async fn domain_grant_delete(
    caller: Caller,
    path: TargetUserRole,
    auth: web::Data<Authenticator>,
) -> Result<HttpResponse> {
    let (t, u, r) = path.into_inner();
    no_content(delete_grant(caller, Target::Domain(t), u, r, &auth).await)
}

/// Lists a user's roles on a domain.
#[utoipa::path(get, path = "/v3/domains/{domain_id}/users/{user_id}/roles", tag = "grants",
    params(("domain_id" = String, Path), ("user_id" = String, Path)),
    responses((status = 200, description = "The roles granted directly.", body = RoleList)))]
async fn domain_grants_list(
    req: HttpRequest,
    caller: Caller,
    path: web::Path<(String, String)>,
    auth: web::Data<Authenticator>,
    state: web::Data<IdentityState>,
) -> Result<HttpResponse> {
    let (t, u) = path.into_inner();
    list_grants(&req, caller, Target::Domain(t), u, &auth, &state).await
}

type UserRole = web::Path<(String, String)>;

/// Grants a user a role on the system.
#[utoipa::path(put, path = "/v3/system/users/{user_id}/roles/{role_id}", tag = "grants",
    params(("user_id" = String, Path), ("role_id" = String, Path)),
    responses((status = 204, description = "Granted.")))]
async fn system_grant_put(caller: Caller, path: UserRole, auth: web::Data<Authenticator>) -> Result<HttpResponse> {
    let (u, r) = path.into_inner();
    no_content(put_grant(caller, Target::System, u, r, &auth).await)
}

/// Checks that a user holds a role on the system.
#[utoipa::path(get, path = "/v3/system/users/{user_id}/roles/{role_id}", tag = "grants",
    params(("user_id" = String, Path), ("role_id" = String, Path)),
    responses((status = 204, description = "The user holds the role.")))]
async fn system_grant_check(caller: Caller, path: UserRole, auth: web::Data<Authenticator>) -> Result<HttpResponse> {
    let (u, r) = path.into_inner();
    no_content(check_grant(caller, Target::System, u, r, &auth).await)
}

/// Checks that a user holds a role on the system (no body).
#[utoipa::path(head, path = "/v3/system/users/{user_id}/roles/{role_id}", tag = "grants",
    params(("user_id" = String, Path), ("role_id" = String, Path)),
    responses((status = 204, description = "The user holds the role.")))]
async fn system_grant_head(caller: Caller, path: UserRole, auth: web::Data<Authenticator>) -> Result<HttpResponse> {
    let (u, r) = path.into_inner();
    no_content(check_grant(caller, Target::System, u, r, &auth).await)
}

/// Revokes a user's role on the system.
#[utoipa::path(delete, path = "/v3/system/users/{user_id}/roles/{role_id}", tag = "grants",
    params(("user_id" = String, Path), ("role_id" = String, Path)),
    responses((status = 204, description = "Revoked.")))]
async fn system_grant_delete(caller: Caller, path: UserRole, auth: web::Data<Authenticator>) -> Result<HttpResponse> {
    let (u, r) = path.into_inner();
    no_content(delete_grant(caller, Target::System, u, r, &auth).await)
}

/// Lists a user's roles on the system.
#[utoipa::path(get, path = "/v3/system/users/{user_id}/roles", tag = "grants", params(("user_id" = String, Path)),
    responses((status = 200, description = "The roles granted directly.", body = RoleList)))]
async fn system_grants_list(
    req: HttpRequest,
    caller: Caller,
    path: web::Path<String>,
    auth: web::Data<Authenticator>,
    state: web::Data<IdentityState>,
) -> Result<HttpResponse> {
    list_grants(&req, caller, Target::System, path.into_inner(), &auth, &state).await
}

// ---- documentation ------------------------------------------------------------------

/// Filters of the role assignments.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct AssignmentFilters {
    #[param(rename = "user.id")]
    user_id: Option<String>,
    /// Groups are not offered: no assignment matches a group.
    #[param(rename = "group.id")]
    group_id: Option<String>,
    #[param(rename = "role.id")]
    role_id: Option<String>,
    #[param(rename = "scope.project.id")]
    scope_project_id: Option<String>,
    #[param(rename = "scope.domain.id")]
    scope_domain_id: Option<String>,
    /// Present: assignments on the system.
    #[param(rename = "scope.system")]
    scope_system: Option<String>,
    /// Present: implied roles expanded.
    effective: Option<String>,
    /// True: names beside the ids.
    include_names: Option<String>,
}

/// A role assignment: a user's role on a project, a domain or the system.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RoleAssignment {
    links: AssignmentLink,
    scope: AssignmentScope,
    user: AssignmentActor,
    role: MaybeNamed,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AssignmentLink {
    /// The grant's URL.
    assignment: String,
}

/// One of project, domain or system.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AssignmentScope {
    project: Option<AssignmentActor>,
    domain: Option<MaybeNamed>,
    system: Option<SystemAll>,
}

/// A user or project: the name and domain with `include_names`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AssignmentActor {
    id: String,
    name: Option<String>,
    domain: Option<MaybeNamed>,
}

/// An id, and the name with `include_names`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct MaybeNamed {
    id: String,
    name: Option<String>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RoleAssignmentList {
    role_assignments: Vec<RoleAssignment>,
    links: CollectionLinks,
}

/// An application credential; `secret` only when it is created.
#[derive(ToSchema)]
#[schema(as = ApplicationCredential)]
#[allow(dead_code)]
pub struct AppCredDoc {
    id: String,
    name: String,
    #[schema(nullable)]
    description: Option<String>,
    user_id: String,
    project_id: String,
    /// Always null.
    #[schema(nullable, value_type = Option<String>)]
    system: Option<Value>,
    unrestricted: bool,
    #[schema(nullable, format = DateTime)]
    expires_at: Option<String>,
    roles: Vec<AppCredRole>,
    /// Always empty.
    #[schema(value_type = Vec<Object>)]
    access_rules: Vec<Value>,
    links: SelfLink,
    secret: Option<String>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AppCredRole {
    id: String,
    name: String,
    #[schema(nullable)]
    domain_id: Option<String>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AppCredShow {
    application_credential: AppCredDoc,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AppCredList {
    application_credentials: Vec<AppCredDoc>,
    links: CollectionLinks,
}

/// A new application credential.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AppCredCreate {
    application_credential: AppCredFields,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AppCredFields {
    #[schema(min_length = 1, max_length = 255)]
    name: String,
    #[schema(nullable)]
    description: Option<String>,
    /// Generated when absent.
    #[schema(nullable, min_length = 1)]
    secret: Option<String>,
    #[schema(nullable, format = DateTime)]
    expires_at: Option<String>,
    /// Roles by id or name, among the token's; all of the token's when absent.
    #[schema(nullable)]
    roles: Option<Vec<RoleRef>>,
    #[schema(nullable)]
    unrestricted: Option<bool>,
}

/// A role by id or name.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RoleRef {
    id: Option<String>,
    name: Option<String>,
}

/// Filters of the application credential list.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct AppCredFilters {
    name: Option<String>,
}

// ---- role assignments ------------------------------------------------------------

struct Names {
    users: HashMap<String, (String, String)>,
    projects: HashMap<String, (String, String)>,
    domains: HashMap<String, String>,
    roles: HashMap<String, String>,
}

/// Lists role assignments.
#[utoipa::path(get, path = "/v3/role_assignments", tag = "role assignments", params(AssignmentFilters),
    responses((status = 200, description = "The matching assignments.", body = RoleAssignmentList)))]
async fn role_assignments(
    req: HttpRequest,
    caller: Caller,
    q: web::Query<HashMap<String, String>>,
    auth: web::Data<Authenticator>,
    state: web::Data<IdentityState>,
) -> Result<HttpResponse> {
    if !caller.is_admin() && caller.system_level().is_none() {
        return Err(IdentityError::Forbidden("identity:list_role_assignments".into()));
    }
    let mut f = ids::AssignmentFilter { user_id: q.get("user.id").cloned(), ..Default::default() };
    if let Some(p) = q.get("scope.project.id") {
        f.target = Some(Target::Project(p.clone()));
    } else if let Some(d) = q.get("scope.domain.id") {
        f.target = Some(Target::Domain(d.clone()));
    } else if q.contains_key("scope.system") {
        f.target = Some(Target::System);
    }
    if q.contains_key("group.id") {
        // Groups are not offered: no assignment can match.
        return Ok(HttpResponse::Ok().json(json!({"role_assignments": [], "links": state.collection_links(&req)})));
    }
    let role_filter = q.get("role.id").cloned();
    let include_names = q.get("include_names").is_some_and(|v| query_bool(v));
    let effective = q.contains_key("effective");
    let (list, names) = auth
        .storage
        .read(move |c| {
            let mut list = ids::assignments_list(c, &f)?;
            if effective {
                let mut expanded = Vec::new();
                for a in list {
                    for role_id in ids::expand_implied(c, vec![a.role_id.clone()])? {
                        let e = ids::Assignment { role_id, ..a.clone() };
                        if !expanded.contains(&e) {
                            expanded.push(e);
                        }
                    }
                }
                list = expanded;
            }
            if let Some(r) = &role_filter {
                list.retain(|a| &a.role_id == r);
            }
            let mut names = Names {
                users: HashMap::new(),
                projects: HashMap::new(),
                domains: HashMap::new(),
                roles: HashMap::new(),
            };
            if include_names {
                for a in &list {
                    if let Ok(u) = ids::user(c, &a.user_id) {
                        names.users.insert(u.id, (u.name, u.domain_id));
                    }
                    if let Target::Project(p) = &a.target
                        && let Ok(p) = ids::project(c, p)
                    {
                        names.projects.insert(p.id, (p.name, p.domain_id));
                    }
                    if let Ok(r) = ids::role(c, &a.role_id) {
                        names.roles.insert(r.id, r.name);
                    }
                }
                let domain_ids: Vec<String> = names
                    .users
                    .values()
                    .chain(names.projects.values())
                    .map(|(_, d)| d.clone())
                    .chain(list.iter().filter_map(|a| match &a.target {
                        Target::Domain(d) => Some(d.clone()),
                        _ => None,
                    }))
                    .collect();
                for d in domain_ids {
                    if let Ok(dom) = ids::domain(c, &d) {
                        names.domains.insert(dom.id, dom.name);
                    }
                }
            }
            Ok((list, names))
        })
        .await?;
    let with_name = |id: &str, name: Option<&String>| {
        let mut v = json!({"id": id});
        if let Some(n) = name {
            v["name"] = json!(n);
        }
        v
    };
    let domain_ref = |d: &str| with_name(d, names.domains.get(d));
    let rendered: Vec<Value> = list
        .iter()
        .map(|a| {
            let (scope, link) = match &a.target {
                Target::Project(p) => {
                    let mut s = with_name(p, names.projects.get(p).map(|x| &x.0));
                    if let Some((_, d)) = names.projects.get(p) {
                        s["domain"] = domain_ref(d);
                    }
                    (json!({"project": s}), format!("projects/{p}/users/{}/roles/{}", a.user_id, a.role_id))
                }
                Target::Domain(d) => {
                    (json!({"domain": domain_ref(d)}), format!("domains/{d}/users/{}/roles/{}", a.user_id, a.role_id))
                }
                Target::System => {
                    (json!({"system": {"all": true}}), format!("system/users/{}/roles/{}", a.user_id, a.role_id))
                }
            };
            let mut user = with_name(&a.user_id, names.users.get(&a.user_id).map(|x| &x.0));
            if let Some((_, d)) = names.users.get(&a.user_id) {
                user["domain"] = domain_ref(d);
            }
            json!({"links": {"assignment": state.link(&link)}, "scope": scope, "user": user,
                   "role": with_name(&a.role_id, names.roles.get(&a.role_id))})
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({"role_assignments": rendered, "links": state.collection_links(&req)})))
}

// ---- a user's projects -----------------------------------------------------------

/// Lists the projects where a user holds a role.
#[utoipa::path(get, path = "/v3/users/{user_id}/projects", tag = "users", params(("user_id" = String, Path)),
    responses((status = 200, description = "The projects.", body = ProjectList)))]
async fn user_projects(
    req: HttpRequest,
    caller: Caller,
    path: web::Path<String>,
    auth: web::Data<Authenticator>,
    state: web::Data<IdentityState>,
) -> Result<HttpResponse> {
    let user = path.into_inner();
    require_self_or_admin(&caller, &user, "list_user_projects")?;
    let projects = auth
        .storage
        .read(move |c| {
            ids::user(c, &user)?;
            let f = ids::ProjectFilter { ids: Some(ids::user_project_ids(c, &user)?), ..Default::default() };
            ids::projects_list(c, &f)
        })
        .await?;
    let list: Vec<Value> = projects.iter().map(|p| project_json(&state, p)).collect();
    Ok(HttpResponse::Ok().json(json!({"projects": list, "links": state.collection_links(&req)})))
}

// ---- application credentials -------------------------------------------------------

fn app_cred_json(state: &IdentityState, a: &AppCredential, roles: &[ids::Role], secret: Option<&str>) -> Value {
    let roles: Vec<Value> = roles.iter().map(|r| json!({"id": r.id, "name": r.name, "domain_id": null})).collect();
    let mut v = json!({
        "id": a.id, "name": a.name, "description": a.description, "user_id": a.user_id,
        "project_id": a.project_id, "system": null, "unrestricted": a.unrestricted,
        "expires_at": a.expires_at.map(|t| timestamp(t.and_utc())), "roles": roles, "access_rules": [],
        "links": {"self": state.link(&format!("users/{}/application_credentials/{}", a.user_id, a.id))},
    });
    if let Some(s) = secret {
        v["secret"] = json!(s);
    }
    v
}

fn roles_of(c: &mut DbConn, a: &AppCredential) -> StorageResult<Vec<ids::Role>> {
    let ids_: Vec<String> = serde_json::from_str(&a.roles).unwrap_or_default();
    ids::roles_by_ids(c, &ids_)
}

/// Creates an application credential for the caller, on the token's project.
#[utoipa::path(post, path = "/v3/users/{user_id}/application_credentials", tag = "application credentials",
    params(("user_id" = String, Path)), request_body = AppCredCreate,
    responses((status = 201, description = "The new application credential, with its secret.", body = AppCredShow)))]
async fn app_cred_create(
    caller: Caller,
    path: web::Path<String>,
    body: web::Bytes,
    auth: web::Data<Authenticator>,
    state: web::Data<IdentityState>,
) -> Result<HttpResponse> {
    let user = path.into_inner();
    if caller.user_id.as_deref() != Some(user.as_str()) {
        return Err(IdentityError::Forbidden("identity:create_application_credential".into()));
    }
    let project = caller
        .project_id
        .clone()
        .ok_or_else(|| IdentityError::BadRequest("An application credential needs a project-scoped token.".into()))?;
    let body: Map<String, Value> = parse_wrapped(&body, "application_credential")?;
    const KEYS: [&str; 7] = ["name", "description", "secret", "expires_at", "roles", "unrestricted", "access_rules"];
    if let Some(k) = body.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(IdentityError::validation(format!(
            "application_credential': Additional properties are not allowed ('{k}' was unexpected)"
        )));
    }
    let name = match body.get("name") {
        Some(Value::String(n)) if !n.is_empty() && n.len() <= 255 => n.clone(),
        _ => return Err(IdentityError::BadRequest("Invalid input for field 'name': 'name' is required.".into())),
    };
    let secret = match body.get("secret") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        // An empty secret is generated too, as Keystone does.
        None | Some(Value::Null) | Some(Value::String(_)) => random_id() + &random_id(),
        _ => return Err(IdentityError::validation("secret': must be a string")),
    };
    let expires_at = match body.get("expires_at") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(
            chrono::DateTime::parse_from_rfc3339(s)
                .map(|t| t.naive_utc())
                .or_else(|_| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f"))
                .map_err(|_| IdentityError::validation("expires_at': not a timestamp"))?,
        ),
        _ => return Err(IdentityError::validation("expires_at': must be a string")),
    };
    if expires_at.is_some_and(|t| t < now()) {
        return Err(IdentityError::BadRequest("The 'expires_at' must not be before now.".into()));
    }
    let wanted: Vec<Value> = match body.get("roles") {
        Some(Value::Array(a)) => a.clone(),
        None | Some(Value::Null) => Vec::new(),
        _ => return Err(IdentityError::validation("roles': must be a list")),
    };
    if wanted.iter().any(|w| w.as_object().is_none_or(|o| o.is_empty())) {
        return Err(IdentityError::validation("roles': every role is a non-empty object"));
    }
    let unrestricted = match body.get("unrestricted") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(IdentityError::validation("unrestricted': must be a boolean or null")),
    };
    let description = match body.get("description") {
        None | Some(Value::Null) => None,
        Some(Value::String(d)) => Some(d.clone()),
        Some(_) => return Err(IdentityError::validation("description': must be a string or null")),
    };
    let caller_roles = caller.roles.clone();
    let secret_hash = web::block({
        let s = secret.clone();
        move || hash_password(&s)
    })
    .await
    .map_err(|e| IdentityError::Internal(e.to_string()))?;
    let (row, roles) =
        auth.storage
            .write(move |c| {
                let mut role_ids = Vec::new();
                for w in &wanted {
                    let r = match (w.get("id").and_then(Value::as_str), w.get("name").and_then(Value::as_str)) {
                        (Some(id), _) => ids::role(c, id)?,
                        (None, Some(n)) => ids::role_by_name(c, n)?
                            .ok_or_else(|| crate::storage::StorageError::not_found("role", n))?,
                        _ => continue,
                    };
                    if !caller_roles.contains(&r.name) {
                        return Ok(Err(IdentityError::Forbidden(format!(
                            "identity:create_application_credential (the token does not hold role {})",
                            r.name
                        ))));
                    }
                    role_ids.push(r.id);
                }
                if role_ids.is_empty() {
                    for n in &caller_roles {
                        if let Some(r) = ids::role_by_name(c, n)? {
                            role_ids.push(r.id);
                        }
                    }
                }
                if ids::app_credential_by_name(c, &user, &name)?.is_some() {
                    return Err(crate::storage::StorageError::Duplicate(format!(
                        "application credential - Duplicate entry found with name {name}"
                    )));
                }
                let row = AppCredential {
                    id: new_id(),
                    name,
                    user_id: user,
                    project_id: project,
                    description,
                    secret_hash,
                    roles: serde_json::to_string(&role_ids).unwrap_or_else(|_| "[]".into()),
                    unrestricted,
                    expires_at,
                    created_at: now(),
                };
                ids::app_credential_insert(c, &row)?;
                let roles = roles_of(c, &row)?;
                Ok(Ok((row, roles)))
            })
            .await??;
    Ok(HttpResponse::Created()
        .json(json!({"application_credential": app_cred_json(&state, &row, &roles, Some(&secret))})))
}

/// Lists a user's application credentials.
#[utoipa::path(get, path = "/v3/users/{user_id}/application_credentials", tag = "application credentials",
    params(("user_id" = String, Path), AppCredFilters),
    responses((status = 200, description = "The application credentials.", body = AppCredList)))]
async fn app_creds_list(
    req: HttpRequest,
    caller: Caller,
    path: web::Path<String>,
    q: web::Query<HashMap<String, String>>,
    auth: web::Data<Authenticator>,
    state: web::Data<IdentityState>,
) -> Result<HttpResponse> {
    let user = path.into_inner();
    require_self_or_admin(&caller, &user, "list_application_credentials")?;
    let name = q.get("name").cloned();
    let list = auth
        .storage
        .read(move |c| {
            ids::user(c, &user)?;
            let mut out = Vec::new();
            for a in ids::app_credentials_list(c, &user, name.as_deref())? {
                let roles = roles_of(c, &a)?;
                out.push((a, roles));
            }
            Ok(out)
        })
        .await?;
    let list: Vec<Value> = list.iter().map(|(a, r)| app_cred_json(&state, a, r, None)).collect();
    Ok(HttpResponse::Ok().json(json!({"application_credentials": list, "links": state.collection_links(&req)})))
}

/// Shows an application credential.
#[utoipa::path(get, path = "/v3/users/{user_id}/application_credentials/{application_credential_id}",
    tag = "application credentials",
    params(("user_id" = String, Path), ("application_credential_id" = String, Path)),
    responses((status = 200, description = "The application credential.", body = AppCredShow)))]
async fn app_cred_get(
    caller: Caller,
    path: web::Path<(String, String)>,
    auth: web::Data<Authenticator>,
    state: web::Data<IdentityState>,
) -> Result<HttpResponse> {
    let (user, id) = path.into_inner();
    require_self_or_admin(&caller, &user, "get_application_credential")?;
    let (a, roles) = auth
        .storage
        .read(move |c| {
            let a = ids::app_credential(c, &id)?;
            if a.user_id != user {
                return Err(crate::storage::StorageError::not_found("application credential", id));
            }
            let roles = roles_of(c, &a)?;
            Ok((a, roles))
        })
        .await?;
    Ok(HttpResponse::Ok().json(json!({"application_credential": app_cred_json(&state, &a, &roles, None)})))
}

/// Deletes an application credential.
#[utoipa::path(delete, path = "/v3/users/{user_id}/application_credentials/{application_credential_id}",
    tag = "application credentials",
    params(("user_id" = String, Path), ("application_credential_id" = String, Path)),
    responses((status = 204, description = "Deleted.")))]
async fn app_cred_delete(
    caller: Caller,
    path: web::Path<(String, String)>,
    auth: web::Data<Authenticator>,
) -> Result<HttpResponse> {
    let (user, id) = path.into_inner();
    require_self_or_admin(&caller, &user, "delete_application_credential")?;
    auth.storage
        .write(move |c| {
            let a = ids::app_credential(c, &id)?;
            if a.user_id != user {
                return Err(crate::storage::StorageError::not_found("application credential", id));
            }
            ids::app_credential_delete(c, &id)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

pub fn routes(r: &mut Routes) {
    crate::routes!(r;
        project_grant_put, project_grant_check, project_grant_head, project_grant_delete, project_grants_list,
        domain_grant_put, domain_grant_check, domain_grant_head, domain_grant_delete, domain_grants_list,
        system_grant_put, system_grant_check, system_grant_head, system_grant_delete, system_grants_list,
        role_assignments, user_projects,
        app_creds_list, app_cred_create, app_cred_get, app_cred_delete);
}
