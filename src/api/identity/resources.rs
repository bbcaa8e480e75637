//! Domains, projects, users and roles.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use utoipa::{IntoParams, ToSchema};

use super::error::{IdentityError, Result};
use super::openapi::{CollectionLinks, SelfLink};
use super::{IdentityState, new_id, now, parse, parse_wrapped, query_bool};
use crate::common::auth::{Auth, AuthContext, Authenticator, hash_password};
use crate::common::openapi::Routes;
use crate::storage::identity::{self as ids, Domain, Project, Revocation, Role, User};

type Caller = Auth<IdentityError>;

pub(super) fn require_admin(caller: &AuthContext, action: &str) -> Result<()> {
    if caller.is_admin() { Ok(()) } else { Err(IdentityError::Forbidden(format!("identity:{action}"))) }
}

/// Keys a resource keeps in its own columns; everything else goes to `extra`.
fn split_extra(mut body: Map<String, Value>, own: &[&str]) -> (Map<String, Value>, Map<String, Value>) {
    let mut mine = Map::new();
    for k in own {
        if let Some(v) = body.remove(*k) {
            mine.insert((*k).to_string(), v);
        }
    }
    body.remove("id");
    body.remove("links");
    (mine, body)
}

fn opt_string(m: &Map<String, Value>, key: &str) -> Result<Option<String>> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(IdentityError::validation(format!("{key}': must be a string"))),
    }
}

fn required_name(m: &Map<String, Value>) -> Result<String> {
    match opt_string(m, "name")? {
        Some(n) if !n.trim().is_empty() && n.len() <= 255 => Ok(n),
        Some(_) => Err(IdentityError::validation("name': must be 1 to 255 characters")),
        None => Err(IdentityError::BadRequest("Invalid input for field 'name': 'name' is a required property".into())),
    }
}

fn opt_bool(m: &Map<String, Value>, key: &str) -> Result<Option<bool>> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(IdentityError::validation(format!("{key}': must be a boolean"))),
    }
}

fn merge_extra(stored: &str, update: Map<String, Value>) -> String {
    let mut extra: Map<String, Value> = serde_json::from_str(stored).unwrap_or_default();
    for (k, v) in update {
        extra.insert(k, v);
    }
    Value::Object(extra).to_string()
}

fn with_extra(mut v: Value, extra: &str) -> Value {
    if let (Some(obj), Ok(Value::Object(more))) = (v.as_object_mut(), serde_json::from_str::<Value>(extra)) {
        for (k, val) in more {
            obj.entry(k).or_insert(val);
        }
    }
    v
}

#[derive(Deserialize)]
struct ListQuery {
    name: Option<String>,
    domain_id: Option<String>,
    enabled: Option<String>,
    parent_id: Option<String>,
}

impl ListQuery {
    fn enabled(&self) -> Option<bool> {
        self.enabled.as_deref().map(query_bool)
    }
}

// ---- documentation -------------------------------------------------------------

/// Filters of the domain list.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct DomainFilters {
    name: Option<String>,
    /// `false`, `0`, `no`, `off`, `f` or `n` is false; anything else true.
    enabled: Option<String>,
}

/// Filters of the project list.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct ProjectFilters {
    name: Option<String>,
    domain_id: Option<String>,
    parent_id: Option<String>,
    /// `false`, `0`, `no`, `off`, `f` or `n` is false; anything else true.
    enabled: Option<String>,
}

/// Filters of the user list.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct UserFilters {
    name: Option<String>,
    domain_id: Option<String>,
    /// `false`, `0`, `no`, `off`, `f` or `n` is false; anything else true.
    enabled: Option<String>,
}

/// Filters of the role list.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct RoleFilters {
    name: Option<String>,
    domain_id: Option<String>,
}

/// A domain; any other attribute it was given is returned too.
#[derive(ToSchema)]
#[schema(as = Domain)]
#[allow(dead_code)]
pub struct DomainDoc {
    id: String,
    name: String,
    description: String,
    enabled: bool,
    tags: Vec<String>,
    #[schema(value_type = Object)]
    options: Value,
    links: SelfLink,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct DomainShow {
    domain: DomainDoc,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct DomainList {
    domains: Vec<DomainDoc>,
    links: CollectionLinks,
}

/// A new domain; other attributes are kept as given.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct DomainCreate {
    domain: DomainFields,
}

/// A domain's changes; other attributes are kept as given.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct DomainUpdate {
    domain: DomainPatch,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct DomainFields {
    #[schema(min_length = 1, max_length = 255)]
    name: String,
    #[schema(nullable)]
    description: Option<String>,
    #[schema(nullable)]
    enabled: Option<bool>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct DomainPatch {
    #[schema(nullable, min_length = 1, max_length = 255)]
    name: Option<String>,
    #[schema(nullable)]
    description: Option<String>,
    #[schema(nullable)]
    enabled: Option<bool>,
}

/// A project; any other attribute it was given is returned too.
#[derive(ToSchema)]
#[schema(as = Project)]
#[allow(dead_code)]
pub struct ProjectDoc {
    id: String,
    name: String,
    domain_id: String,
    description: String,
    enabled: bool,
    /// The parent project, or the domain for a top-level project.
    parent_id: String,
    is_domain: bool,
    tags: Vec<String>,
    #[schema(value_type = Object)]
    options: Value,
    links: SelfLink,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ProjectShow {
    project: ProjectDoc,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ProjectList {
    projects: Vec<ProjectDoc>,
    links: CollectionLinks,
}

/// A new project; other attributes are kept as given.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ProjectCreate {
    project: ProjectFields,
}

/// A project's changes; other attributes are kept as given.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ProjectUpdate {
    project: ProjectPatch,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ProjectFields {
    #[schema(min_length = 1, max_length = 255)]
    name: String,
    /// The caller's project's domain when absent.
    #[schema(nullable)]
    domain_id: Option<String>,
    #[schema(nullable)]
    parent_id: Option<String>,
    #[schema(nullable)]
    description: Option<String>,
    #[schema(nullable)]
    enabled: Option<bool>,
    /// Only false: projects acting as domains are not offered.
    #[schema(nullable)]
    is_domain: Option<bool>,
    #[schema(nullable)]
    tags: Option<Vec<Tag>>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ProjectPatch {
    #[schema(nullable, min_length = 1, max_length = 255)]
    name: Option<String>,
    #[schema(nullable)]
    description: Option<String>,
    #[schema(nullable)]
    enabled: Option<bool>,
    #[schema(nullable)]
    tags: Option<Vec<Tag>>,
}

/// A project tag.
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(min_length = 1, max_length = 255)]
pub struct Tag(String);

/// A user; any other attribute it was given is returned too.
#[derive(ToSchema)]
#[schema(as = User)]
#[allow(dead_code)]
pub struct UserDoc {
    id: String,
    name: String,
    domain_id: String,
    enabled: bool,
    /// Always null: passwords do not expire.
    #[schema(nullable, format = DateTime)]
    password_expires_at: Option<String>,
    default_project_id: Option<String>,
    #[schema(value_type = Object)]
    options: Value,
    links: SelfLink,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UserShow {
    user: UserDoc,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UserList {
    users: Vec<UserDoc>,
    links: CollectionLinks,
}

/// A new user; other attributes are kept as given.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UserCreate {
    user: UserFields,
}

/// A user's changes; other attributes are kept as given.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UserUpdate {
    user: UserPatch,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UserFields {
    #[schema(min_length = 1, max_length = 255)]
    name: String,
    /// The caller's project's domain when absent.
    #[schema(nullable)]
    domain_id: Option<String>,
    #[schema(nullable)]
    enabled: Option<bool>,
    #[schema(nullable)]
    password: Option<String>,
    #[schema(nullable)]
    default_project_id: Option<String>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UserPatch {
    #[schema(nullable, min_length = 1, max_length = 255)]
    name: Option<String>,
    #[schema(nullable)]
    enabled: Option<bool>,
    #[schema(nullable)]
    password: Option<String>,
    #[schema(nullable)]
    default_project_id: Option<String>,
}

/// A password change.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PasswordChangeDoc {
    user: PasswordChangeFields,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PasswordChangeFields {
    password: String,
    original_password: String,
}

/// A role.
#[derive(ToSchema)]
#[schema(as = Role)]
#[allow(dead_code)]
pub struct RoleDoc {
    id: String,
    name: String,
    /// The domain of a domain-specific role.
    #[schema(nullable)]
    domain_id: Option<String>,
    #[schema(nullable)]
    description: Option<String>,
    options: RoleOptions,
    links: SelfLink,
}

/// A role's options.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct RoleOptions {
    /// An immutable role can be neither changed nor deleted until this is
    /// unset (false or null).
    #[schema(nullable)]
    immutable: Option<bool>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RoleShow {
    role: RoleDoc,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RoleList {
    roles: Vec<RoleDoc>,
    links: CollectionLinks,
}

/// A new role.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RoleCreate {
    role: RoleFields,
}

/// A role's changes.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RoleUpdate {
    role: RolePatch,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RoleFields {
    #[schema(min_length = 1, max_length = 255)]
    name: String,
    #[schema(nullable)]
    domain_id: Option<String>,
    #[schema(nullable)]
    description: Option<String>,
    options: Option<RoleOptions>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RolePatch {
    #[schema(nullable, min_length = 1, max_length = 255)]
    name: Option<String>,
    #[schema(nullable)]
    description: Option<String>,
    options: Option<RoleOptions>,
}

// ---- domains -------------------------------------------------------------------

pub(super) fn domain_json(state: &IdentityState, d: &Domain) -> Value {
    with_extra(
        json!({"id": d.id, "name": d.name, "description": d.description, "enabled": d.enabled,
               "tags": [], "options": {}, "links": {"self": state.link(&format!("domains/{}", d.id))}}),
        &d.extra,
    )
}

/// Lists domains.
#[utoipa::path(get, path = "/v3/domains", tag = "domains", params(DomainFilters),
    responses((status = 200, description = "The domains.", body = DomainList)))]
async fn domains_list(
    req: HttpRequest,
    caller: Caller,
    q: web::Query<ListQuery>,
    auth: web::Data<Authenticator>,
    state: web::Data<IdentityState>,
) -> Result<HttpResponse> {
    require_admin(&caller, "list_domains")?;
    let (name, enabled) = (q.name.clone(), q.enabled());
    let list = auth.storage.read(move |c| ids::domains_list(c, name.as_deref(), enabled)).await?;
    let list: Vec<Value> = list.iter().map(|d| domain_json(&state, d)).collect();
    Ok(HttpResponse::Ok().json(json!({"domains": list, "links": state.collection_links(&req)})))
}

/// Shows a domain.
#[utoipa::path(get, path = "/v3/domains/{domain_id}", tag = "domains", params(("domain_id" = String, Path)),
    responses((status = 200, description = "The domain.", body = DomainShow)))]
async fn domain_get(
    caller: Caller,
    path: web::Path<String>,
    auth: web::Data<Authenticator>,
    state: web::Data<IdentityState>,
) -> Result<HttpResponse> {
    let id = path.into_inner();
    let d = auth.storage.read(move |c| ids::domain(c, &id)).await?;
    let own = caller.domain_id.as_deref() == Some(&d.id)
        || caller.project_domain_id.as_deref() == Some(&d.id)
        || caller.user_domain_id.as_deref() == Some(&d.id);
    if !caller.is_admin() && !own {
        return Err(IdentityError::Forbidden("identity:get_domain".into()));
    }
    Ok(HttpResponse::Ok().json(json!({"domain": domain_json(&state, &d)})))
}

/// Creates a domain.
#[utoipa::path(post, path = "/v3/domains", tag = "domains", request_body = DomainCreate,
    responses((status = 201, description = "The new domain.", body = DomainShow)))]
async fn domain_create(
    caller: Caller,
    body: web::Bytes,
    auth: web::Data<Authenticator>,
    state: web::Data<IdentityState>,
) -> Result<HttpResponse> {
    require_admin(&caller, "create_domain")?;
    let (mine, extra) = split_extra(parse_wrapped(&body, "domain")?, &["name", "description", "enabled"]);
    let d = Domain {
        id: new_id(),
        name: required_name(&mine)?,
        description: opt_string(&mine, "description")?.unwrap_or_default(),
        enabled: opt_bool(&mine, "enabled")?.unwrap_or(true),
        extra: Value::Object(extra).to_string(),
        created_at: now(),
    };
    let row = d.clone();
    auth.storage
        .write(move |c| {
            if ids::domain_by_name(c, &row.name)?.is_some() {
                return Err(crate::storage::StorageError::Duplicate(format!(
                    "domain - Duplicate entry found with name {}",
                    row.name
                )));
            }
            ids::domain_insert(c, &row)
        })
        .await?;
    Ok(HttpResponse::Created().json(json!({"domain": domain_json(&state, &d)})))
}

/// Updates a domain.
#[utoipa::path(patch, path = "/v3/domains/{domain_id}", tag = "domains", params(("domain_id" = String, Path)),
    request_body = DomainUpdate, responses((status = 200, description = "The updated domain.", body = DomainShow)))]
async fn domain_update(
    caller: Caller,
    path: web::Path<String>,
    body: web::Bytes,
    auth: web::Data<Authenticator>,
    state: web::Data<IdentityState>,
) -> Result<HttpResponse> {
    require_admin(&caller, "update_domain")?;
    let id = path.into_inner();
    let (mine, extra) = split_extra(parse_wrapped(&body, "domain")?, &["name", "description", "enabled"]);
    let name = opt_string(&mine, "name")?;
    let description = opt_string(&mine, "description")?;
    let enabled = opt_bool(&mine, "enabled")?;
    let d = auth
        .storage
        .write(move |c| {
            let mut d = ids::domain(c, &id)?;
            if let Some(n) = name {
                d.name = n;
            }
            if let Some(v) = description {
                d.description = v;
            }
            if let Some(e) = enabled {
                d.enabled = e;
            }
            d.extra = merge_extra(&d.extra, extra);
            ids::domain_update(c, &d)?;
            Ok(d)
        })
        .await?;
    Ok(HttpResponse::Ok().json(json!({"domain": domain_json(&state, &d)})))
}

/// Deletes a disabled domain.
#[utoipa::path(delete, path = "/v3/domains/{domain_id}", tag = "domains", params(("domain_id" = String, Path)),
    responses((status = 204, description = "Deleted.")))]
async fn domain_delete(
    caller: Caller,
    path: web::Path<String>,
    auth: web::Data<Authenticator>,
) -> Result<HttpResponse> {
    require_admin(&caller, "delete_domain")?;
    let id = path.into_inner();
    let enabled = auth
        .storage
        .write(move |c| {
            let d = ids::domain(c, &id)?;
            if d.enabled {
                return Ok(true);
            }
            ids::domain_delete(c, &id)?;
            Ok(false)
        })
        .await?;
    if enabled {
        return Err(IdentityError::Forbidden(
            "identity:delete_domain (cannot delete a domain that is enabled, please disable it first)".into(),
        ));
    }
    Ok(HttpResponse::NoContent().finish())
}

// ---- projects ------------------------------------------------------------------

pub(super) fn project_json(state: &IdentityState, p: &Project) -> Value {
    let tags: Value = serde_json::from_str(&p.tags).unwrap_or_else(|_| json!([]));
    with_extra(
        json!({"id": p.id, "name": p.name, "domain_id": p.domain_id, "description": p.description,
               "enabled": p.enabled, "parent_id": p.parent_id.clone().unwrap_or_else(|| p.domain_id.clone()),
               "is_domain": false, "tags": tags, "options": {},
               "links": {"self": state.link(&format!("projects/{}", p.id))}}),
        &p.extra,
    )
}

fn tags_of(m: &Map<String, Value>) -> Result<Option<String>> {
    match m.get("tags") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) if a.iter().all(|t| t.as_str().is_some_and(|s| !s.is_empty() && s.len() <= 255)) => {
            Ok(Some(Value::Array(a.clone()).to_string()))
        }
        Some(_) => Err(IdentityError::validation("tags': must be a list of non-empty strings")),
    }
}

const PROJECT_KEYS: &[&str] = &["name", "domain_id", "description", "enabled", "parent_id", "tags", "is_domain"];

/// Lists projects.
#[utoipa::path(get, path = "/v3/projects", tag = "projects", params(ProjectFilters),
    responses((status = 200, description = "The projects.", body = ProjectList)))]
async fn projects_list(
    req: HttpRequest,
    caller: Caller,
    q: web::Query<ListQuery>,
    auth: web::Data<Authenticator>,
    state: web::Data<IdentityState>,
) -> Result<HttpResponse> {
    require_admin(&caller, "list_projects")?;
    let f = ids::ProjectFilter {
        name: q.name.clone(),
        domain_id: q.domain_id.clone(),
        parent_id: q.parent_id.clone(),
        enabled: q.enabled(),
        ids: None,
    };
    let list = auth.storage.read(move |c| ids::projects_list(c, &f)).await?;
    let list: Vec<Value> = list.iter().map(|p| project_json(&state, p)).collect();
    Ok(HttpResponse::Ok().json(json!({"projects": list, "links": state.collection_links(&req)})))
}

/// Shows a project.
#[utoipa::path(get, path = "/v3/projects/{project_id}", tag = "projects", params(("project_id" = String, Path)),
    responses((status = 200, description = "The project.", body = ProjectShow)))]
async fn project_get(
    caller: Caller,
    path: web::Path<String>,
    auth: web::Data<Authenticator>,
    state: web::Data<IdentityState>,
) -> Result<HttpResponse> {
    let id = path.into_inner();
    if !caller.is_admin() && caller.project_id.as_deref() != Some(id.as_str()) {
        // Keystone answers 403 whether or not the project exists.
        return Err(IdentityError::Forbidden("identity:get_project".into()));
    }
    let p = auth.storage.read(move |c| ids::project(c, &id)).await?;
    Ok(HttpResponse::Ok().json(json!({"project": project_json(&state, &p)})))
}

/// Creates a project.
#[utoipa::path(post, path = "/v3/projects", tag = "projects", request_body = ProjectCreate,
    responses((status = 201, description = "The new project.", body = ProjectShow)))]
async fn project_create(
    caller: Caller,
    body: web::Bytes,
    auth: web::Data<Authenticator>,
    state: web::Data<IdentityState>,
) -> Result<HttpResponse> {
    require_admin(&caller, "create_project")?;
    let (mine, extra) = split_extra(parse_wrapped(&body, "project")?, PROJECT_KEYS);
    if opt_bool(&mine, "is_domain")? == Some(true) {
        return Err(IdentityError::BadRequest("Projects acting as domains are not supported.".into()));
    }
    let domain_id = opt_string(&mine, "domain_id")?
        .or_else(|| caller.project_domain_id.clone())
        .or_else(|| caller.domain_id.clone())
        .unwrap_or_else(|| "default".into());
    let mut p = Project {
        id: new_id(),
        name: required_name(&mine)?,
        domain_id,
        parent_id: opt_string(&mine, "parent_id")?,
        description: opt_string(&mine, "description")?.unwrap_or_default(),
        enabled: opt_bool(&mine, "enabled")?.unwrap_or(true),
        tags: tags_of(&mine)?.unwrap_or_else(|| "[]".into()),
        extra: Value::Object(extra).to_string(),
        created_at: now(),
    };
    if p.parent_id.as_deref() == Some(p.domain_id.as_str()) {
        p.parent_id = None;
    }
    let row = p.clone();
    auth.storage
        .write(move |c| {
            ids::domain(c, &row.domain_id)?;
            if let Some(parent) = &row.parent_id {
                let parent = ids::project(c, parent)?;
                if parent.domain_id != row.domain_id {
                    return Err(crate::storage::StorageError::Duplicate(
                        "project - a parent project must be in the same domain".into(),
                    ));
                }
            }
            if ids::project_by_name(c, &row.domain_id, &row.name)?.is_some() {
                return Err(crate::storage::StorageError::Duplicate(format!(
                    "project - Duplicate entry found with name {} at domain ID {}",
                    row.name, row.domain_id
                )));
            }
            ids::project_insert(c, &row)
        })
        .await?;
    Ok(HttpResponse::Created().json(json!({"project": project_json(&state, &p)})))
}

/// Updates a project.
#[utoipa::path(patch, path = "/v3/projects/{project_id}", tag = "projects", params(("project_id" = String, Path)),
    request_body = ProjectUpdate, responses((status = 200, description = "The updated project.", body = ProjectShow)))]
async fn project_update(
    caller: Caller,
    path: web::Path<String>,
    body: web::Bytes,
    auth: web::Data<Authenticator>,
    state: web::Data<IdentityState>,
) -> Result<HttpResponse> {
    require_admin(&caller, "update_project")?;
    let id = path.into_inner();
    let (mine, extra) = split_extra(parse_wrapped(&body, "project")?, PROJECT_KEYS);
    if mine.contains_key("domain_id") || mine.contains_key("parent_id") || mine.contains_key("is_domain") {
        return Err(IdentityError::validation("domain_id': cannot change the domain or parent of a project"));
    }
    let name = opt_string(&mine, "name")?;
    let description = opt_string(&mine, "description")?;
    let enabled = opt_bool(&mine, "enabled")?;
    let tags = tags_of(&mine)?;
    let p = auth
        .storage
        .write(move |c| {
            let mut p = ids::project(c, &id)?;
            if let Some(n) = name {
                if n != p.name && ids::project_by_name(c, &p.domain_id, &n)?.is_some() {
                    return Err(crate::storage::StorageError::Duplicate(format!(
                        "project - Duplicate entry found with name {n} at domain ID {}",
                        p.domain_id
                    )));
                }
                p.name = n;
            }
            if let Some(v) = description {
                p.description = v;
            }
            if let Some(e) = enabled {
                p.enabled = e;
            }
            if let Some(t) = tags {
                p.tags = t;
            }
            p.extra = merge_extra(&p.extra, extra);
            ids::project_update(c, &p)?;
            Ok(p)
        })
        .await?;
    Ok(HttpResponse::Ok().json(json!({"project": project_json(&state, &p)})))
}

/// Deletes a project; tokens scoped to it are revoked.
#[utoipa::path(delete, path = "/v3/projects/{project_id}", tag = "projects", params(("project_id" = String, Path)),
    responses((status = 204, description = "Deleted.")))]
async fn project_delete(
    caller: Caller,
    path: web::Path<String>,
    auth: web::Data<Authenticator>,
) -> Result<HttpResponse> {
    require_admin(&caller, "delete_project")?;
    let id = path.into_inner();
    auth.storage
        .write(move |c| {
            ids::project_delete(c, &id)?;
            // Tokens scoped to the project die with it.
            let at = now();
            ids::revocation_insert(
                c,
                &Revocation {
                    id: new_id(),
                    audit_id: None,
                    user_id: None,
                    project_id: Some(id.clone()),
                    issued_before: at,
                    expires_at: at + chrono::Duration::days(2),
                },
            )
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

// ---- users -----------------------------------------------------------------------

pub(super) fn user_json(state: &IdentityState, u: &User) -> Value {
    let mut v = with_extra(
        json!({"id": u.id, "name": u.name, "domain_id": u.domain_id, "enabled": u.enabled,
               "password_expires_at": null, "options": {},
               "links": {"self": state.link(&format!("users/{}", u.id))}}),
        &u.extra,
    );
    if let (Some(p), Some(obj)) = (&u.default_project_id, v.as_object_mut()) {
        obj.insert("default_project_id".into(), json!(p));
    }
    v
}

const USER_KEYS: &[&str] = &["name", "domain_id", "enabled", "password", "default_project_id"];

/// Hashes off the executor (argon2 is deliberately slow).
async fn hash(password: Option<String>) -> Result<Option<String>> {
    match password {
        None => Ok(None),
        Some(p) => {
            web::block(move || hash_password(&p)).await.map(Some).map_err(|e| IdentityError::Internal(e.to_string()))
        }
    }
}

fn user_revocation(user_id: &str) -> Revocation {
    let at = now();
    Revocation {
        id: new_id(),
        audit_id: None,
        user_id: Some(user_id.to_string()),
        project_id: None,
        issued_before: at,
        expires_at: at + chrono::Duration::days(2),
    }
}

/// Lists users.
#[utoipa::path(get, path = "/v3/users", tag = "users", params(UserFilters),
    responses((status = 200, description = "The users.", body = UserList)))]
async fn users_list(
    req: HttpRequest,
    caller: Caller,
    q: web::Query<ListQuery>,
    auth: web::Data<Authenticator>,
    state: web::Data<IdentityState>,
) -> Result<HttpResponse> {
    require_admin(&caller, "list_users")?;
    let (name, domain, enabled) = (q.name.clone(), q.domain_id.clone(), q.enabled());
    let list = auth.storage.read(move |c| ids::users_list(c, name.as_deref(), domain.as_deref(), enabled)).await?;
    let list: Vec<Value> = list.iter().map(|u| user_json(&state, u)).collect();
    Ok(HttpResponse::Ok().json(json!({"users": list, "links": state.collection_links(&req)})))
}

pub(super) fn require_self_or_admin(caller: &AuthContext, user_id: &str, action: &str) -> Result<()> {
    if caller.is_admin() || caller.user_id.as_deref() == Some(user_id) {
        Ok(())
    } else {
        Err(IdentityError::Forbidden(format!("identity:{action}")))
    }
}

/// Shows a user.
#[utoipa::path(get, path = "/v3/users/{user_id}", tag = "users", params(("user_id" = String, Path)),
    responses((status = 200, description = "The user.", body = UserShow)))]
async fn user_get(
    caller: Caller,
    path: web::Path<String>,
    auth: web::Data<Authenticator>,
    state: web::Data<IdentityState>,
) -> Result<HttpResponse> {
    let id = path.into_inner();
    require_self_or_admin(&caller, &id, "get_user")?;
    let u = auth.storage.read(move |c| ids::user(c, &id)).await?;
    Ok(HttpResponse::Ok().json(json!({"user": user_json(&state, &u)})))
}

/// Creates a user.
#[utoipa::path(post, path = "/v3/users", tag = "users", request_body = UserCreate,
    responses((status = 201, description = "The new user.", body = UserShow)))]
async fn user_create(
    caller: Caller,
    body: web::Bytes,
    auth: web::Data<Authenticator>,
    state: web::Data<IdentityState>,
) -> Result<HttpResponse> {
    require_admin(&caller, "create_user")?;
    let (mine, extra) = split_extra(parse_wrapped(&body, "user")?, USER_KEYS);
    let name = required_name(&mine)?;
    let domain_id = opt_string(&mine, "domain_id")?
        .or_else(|| caller.project_domain_id.clone())
        .or_else(|| caller.domain_id.clone())
        .unwrap_or_else(|| "default".into());
    let password_hash = hash(opt_string(&mine, "password")?).await?;
    let u = User {
        id: new_id(),
        name,
        domain_id,
        enabled: opt_bool(&mine, "enabled")?.unwrap_or(true),
        password_changed_at: password_hash.as_ref().map(|_| now()),
        password_hash,
        default_project_id: opt_string(&mine, "default_project_id")?,
        extra: Value::Object(extra).to_string(),
        created_at: now(),
    };
    let row = u.clone();
    auth.storage
        .write(move |c| {
            ids::domain(c, &row.domain_id)?;
            if let Some(p) = &row.default_project_id {
                ids::project(c, p)?;
            }
            if ids::user_by_name(c, &row.domain_id, &row.name)?.is_some() {
                return Err(crate::storage::StorageError::Duplicate(format!(
                    "user - Duplicate entry found with name {} at domain ID {}",
                    row.name, row.domain_id
                )));
            }
            ids::user_insert(c, &row)
        })
        .await?;
    Ok(HttpResponse::Created().json(json!({"user": user_json(&state, &u)})))
}

/// Updates a user; disabling it or changing its password revokes its tokens.
#[utoipa::path(patch, path = "/v3/users/{user_id}", tag = "users", params(("user_id" = String, Path)),
    request_body = UserUpdate, responses((status = 200, description = "The updated user.", body = UserShow)))]
async fn user_update(
    caller: Caller,
    path: web::Path<String>,
    body: web::Bytes,
    auth: web::Data<Authenticator>,
    state: web::Data<IdentityState>,
) -> Result<HttpResponse> {
    require_admin(&caller, "update_user")?;
    let id = path.into_inner();
    let body = parse_wrapped(&body, "user")?;
    if body.is_empty() {
        return Err(IdentityError::validation("user': {} should be non-empty"));
    }
    if body.get("id").is_some_and(|v| v.as_str() != Some(id.as_str())) {
        return Err(IdentityError::BadRequest("Cannot change ID".into()));
    }
    let (mine, extra) = split_extra(body, USER_KEYS);
    let domain = opt_string(&mine, "domain_id")?;
    let name = if mine.contains_key("name") { Some(required_name(&mine)?) } else { None };
    if mine.get("enabled").is_some_and(Value::is_null) {
        return Err(IdentityError::validation("enabled': None is not a boolean"));
    }
    let enabled = opt_bool(&mine, "enabled")?;
    let default_project = mine.get("default_project_id").cloned();
    if default_project.as_ref().is_some_and(|v| !v.is_string() && !v.is_null()) {
        return Err(IdentityError::validation("default_project_id': must be a string or null"));
    }
    let password_hash = hash(opt_string(&mine, "password")?).await?;
    let u = auth
        .storage
        .write(move |c| {
            let mut u = ids::user(c, &id)?;
            if domain.is_some_and(|d| d != u.domain_id) {
                return Ok(Err(IdentityError::BadRequest("Cannot change Domain ID".into())));
            }
            let mut revoke = false;
            if let Some(n) = name {
                if n != u.name && ids::user_by_name(c, &u.domain_id, &n)?.is_some() {
                    return Err(crate::storage::StorageError::Duplicate(format!(
                        "user - Duplicate entry found with name {n}"
                    )));
                }
                u.name = n;
            }
            if let Some(e) = enabled {
                revoke |= u.enabled && !e;
                u.enabled = e;
            }
            // Keystone keeps a default project it cannot find (a token then
            // falls back to unscoped).
            match default_project {
                Some(Value::String(p)) => u.default_project_id = Some(p),
                Some(Value::Null) => u.default_project_id = None,
                _ => {}
            }
            if let Some(h) = password_hash {
                u.password_hash = Some(h);
                u.password_changed_at = Some(now());
                revoke = true;
            }
            u.extra = merge_extra(&u.extra, extra);
            ids::user_update(c, &u)?;
            if revoke {
                ids::revocation_insert(c, &user_revocation(&u.id))?;
            }
            Ok(Ok(u))
        })
        .await??;
    Ok(HttpResponse::Ok().json(json!({"user": user_json(&state, &u)})))
}

/// Deletes a user; its tokens are revoked.
#[utoipa::path(delete, path = "/v3/users/{user_id}", tag = "users", params(("user_id" = String, Path)),
    responses((status = 204, description = "Deleted.")))]
async fn user_delete(caller: Caller, path: web::Path<String>, auth: web::Data<Authenticator>) -> Result<HttpResponse> {
    require_admin(&caller, "delete_user")?;
    let id = path.into_inner();
    auth.storage
        .write(move |c| {
            ids::user_delete(c, &id)?;
            ids::revocation_insert(c, &user_revocation(&id))
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
struct PasswordChange {
    user: PasswordChangeInner,
}

#[derive(Deserialize)]
struct PasswordChangeInner {
    password: String,
    original_password: String,
}

/// Changes a user's password (the user's own, given the current one).
#[utoipa::path(post, path = "/v3/users/{user_id}/password", tag = "users", params(("user_id" = String, Path)),
    request_body = PasswordChangeDoc, responses((status = 204, description = "Changed; the user's tokens are revoked.")))]
async fn user_change_password(
    caller: Caller,
    path: web::Path<String>,
    body: web::Bytes,
    auth: web::Data<Authenticator>,
) -> Result<HttpResponse> {
    let id = path.into_inner();
    require_self_or_admin(&caller, &id, "change_password")?;
    let change: PasswordChange = parse(&body)?;
    let uid = id.clone();
    let user = auth.storage.read(move |c| ids::user(c, &uid)).await?;
    let a = auth.clone();
    let original = change.user.original_password;
    let ok =
        web::block(move || user.password_hash.as_deref().is_some_and(|h| a.verify_password(&user.id, h, &original)))
            .await
            .map_err(|e| IdentityError::Internal(e.to_string()))?;
    if !ok {
        return Err(IdentityError::unauthorized());
    }
    let new_hash = hash(Some(change.user.password)).await?;
    auth.storage
        .write(move |c| {
            let mut u = ids::user(c, &id)?;
            u.password_hash = new_hash;
            u.password_changed_at = Some(now());
            ids::user_update(c, &u)?;
            ids::revocation_insert(c, &user_revocation(&id))
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

// ---- roles -------------------------------------------------------------------------

pub(super) fn role_json(state: &IdentityState, r: &Role) -> Value {
    let extra: Map<String, Value> = serde_json::from_str(&r.extra).unwrap_or_default();
    let options = extra.get("options").cloned().unwrap_or_else(|| json!({}));
    json!({"id": r.id, "name": r.name,
           "domain_id": if r.domain_id.is_empty() { Value::Null } else { json!(r.domain_id) },
           "description": r.description, "options": options,
           "links": {"self": state.link(&format!("roles/{}", r.id))}})
}

/// Lists roles.
#[utoipa::path(get, path = "/v3/roles", tag = "roles", params(RoleFilters),
    responses((status = 200, description = "The roles.", body = RoleList)))]
async fn roles_list(
    req: HttpRequest,
    caller: Caller,
    q: web::Query<ListQuery>,
    auth: web::Data<Authenticator>,
    state: web::Data<IdentityState>,
) -> Result<HttpResponse> {
    if !caller.is_admin() && caller.system_level().is_none() {
        return Err(IdentityError::Forbidden("identity:list_roles".into()));
    }
    let (name, domain) = (q.name.clone(), q.domain_id.clone());
    let list = auth.storage.read(move |c| ids::roles_list(c, name.as_deref(), domain.as_deref())).await?;
    let list: Vec<Value> = list.iter().map(|r| role_json(&state, r)).collect();
    Ok(HttpResponse::Ok().json(json!({"roles": list, "links": state.collection_links(&req)})))
}

/// Shows a role.
#[utoipa::path(get, path = "/v3/roles/{role_id}", tag = "roles", params(("role_id" = String, Path)),
    responses((status = 200, description = "The role.", body = RoleShow)))]
async fn role_get(
    caller: Caller,
    path: web::Path<String>,
    auth: web::Data<Authenticator>,
    state: web::Data<IdentityState>,
) -> Result<HttpResponse> {
    if !caller.is_admin() && caller.system_level().is_none() {
        return Err(IdentityError::Forbidden("identity:get_role".into()));
    }
    let id = path.into_inner();
    let r = auth.storage.read(move |c| ids::role(c, &id)).await?;
    Ok(HttpResponse::Ok().json(json!({"role": role_json(&state, &r)})))
}

/// Creates a role.
#[utoipa::path(post, path = "/v3/roles", tag = "roles", request_body = RoleCreate,
    responses((status = 201, description = "The new role.", body = RoleShow)))]
async fn role_create(
    caller: Caller,
    body: web::Bytes,
    auth: web::Data<Authenticator>,
    state: web::Data<IdentityState>,
) -> Result<HttpResponse> {
    require_admin(&caller, "create_role")?;
    let (mine, _) = split_extra(parse_wrapped(&body, "role")?, &["name", "domain_id", "description", "options"]);
    let options = role_options(&mine)?.unwrap_or_default();
    let r = Role {
        id: new_id(),
        name: required_name(&mine)?,
        domain_id: opt_string(&mine, "domain_id")?.unwrap_or_default(),
        description: opt_string(&mine, "description")?,
        extra: merged_options("{}", options),
    };
    let row = r.clone();
    auth.storage
        .write(move |c| {
            let same = ids::roles_list(c, Some(&row.name), Some(&row.domain_id))?;
            if !same.is_empty() {
                return Err(crate::storage::StorageError::Duplicate(format!(
                    "role - Duplicate entry found with name {}",
                    row.name
                )));
            }
            ids::role_insert(c, &row)
        })
        .await?;
    Ok(HttpResponse::Created().json(json!({"role": role_json(&state, &r)})))
}

/// Role options as Keystone validates them: an object whose only option is
/// `immutable`, a boolean (null unsets it).
fn role_options(m: &Map<String, Value>) -> Result<Option<Map<String, Value>>> {
    match m.get("options") {
        None => Ok(None),
        Some(Value::Object(o)) => {
            for (k, v) in o {
                if k != "immutable" {
                    return Err(IdentityError::validation(format!(
                        "options': Additional properties are not allowed ('{k}' was unexpected)"
                    )));
                }
                if !matches!(v, Value::Bool(_) | Value::Null) {
                    return Err(IdentityError::validation("options.immutable': must be a boolean or null"));
                }
            }
            Ok(Some(o.clone()))
        }
        Some(_) => Err(IdentityError::validation("options': must be an object")),
    }
}

/// `options` after a change: a null option is removed.
fn merged_options(stored: &str, change: Map<String, Value>) -> String {
    let mut options = serde_json::from_str::<Value>(stored)
        .ok()
        .and_then(|v| v.get("options").and_then(Value::as_object).cloned())
        .unwrap_or_default();
    for (k, v) in change {
        if v.is_null() {
            options.remove(&k);
        } else {
            options.insert(k, v);
        }
    }
    json!({"options": options}).to_string()
}

fn immutable(r: &Role) -> bool {
    serde_json::from_str::<Value>(&r.extra)
        .ok()
        .and_then(|v| v.pointer("/options/immutable").and_then(Value::as_bool))
        .unwrap_or(false)
}

/// Updates a role (not an immutable one, unless the change unsets `immutable`).
#[utoipa::path(patch, path = "/v3/roles/{role_id}", tag = "roles", params(("role_id" = String, Path)),
    request_body = RoleUpdate, responses((status = 200, description = "The updated role.", body = RoleShow)))]
async fn role_update(
    caller: Caller,
    path: web::Path<String>,
    body: web::Bytes,
    auth: web::Data<Authenticator>,
    state: web::Data<IdentityState>,
) -> Result<HttpResponse> {
    require_admin(&caller, "update_role")?;
    let id = path.into_inner();
    let (mine, _) = split_extra(parse_wrapped(&body, "role")?, &["name", "description", "options"]);
    let name = opt_string(&mine, "name")?;
    let description = opt_string(&mine, "description")?;
    let options = role_options(&mine)?;
    let r = auth
        .storage
        .write(move |c| {
            let mut r = ids::role(c, &id)?;
            let unlocking = options
                .as_ref()
                .and_then(|o| o.get("immutable"))
                .is_some_and(|v| matches!(v, Value::Bool(false) | Value::Null));
            if immutable(&r) && !unlocking {
                return Ok(Err(IdentityError::Forbidden(format!("identity:update_role (role {} is immutable)", r.id))));
            }
            if let Some(n) = name {
                r.name = n;
            }
            if description.is_some() {
                r.description = description;
            }
            if let Some(o) = options {
                r.extra = merged_options(&r.extra, o);
            }
            ids::role_update(c, &r)?;
            Ok(Ok(r))
        })
        .await??;
    Ok(HttpResponse::Ok().json(json!({"role": role_json(&state, &r)})))
}

/// Deletes a role that is not immutable.
#[utoipa::path(delete, path = "/v3/roles/{role_id}", tag = "roles", params(("role_id" = String, Path)),
    responses((status = 204, description = "Deleted.")))]
async fn role_delete(caller: Caller, path: web::Path<String>, auth: web::Data<Authenticator>) -> Result<HttpResponse> {
    require_admin(&caller, "delete_role")?;
    let id = path.into_inner();
    auth.storage
        .write(move |c| {
            let r = ids::role(c, &id)?;
            if immutable(&r) {
                return Ok(Err(IdentityError::Forbidden(format!("identity:delete_role (role {} is immutable)", r.id))));
            }
            ids::role_delete(c, &id)?;
            Ok(Ok(()))
        })
        .await??;
    Ok(HttpResponse::NoContent().finish())
}

pub fn routes(r: &mut Routes) {
    crate::routes!(r;
        domains_list, domain_create, domain_get, domain_update, domain_delete,
        projects_list, project_create, project_get, project_update, project_delete,
        users_list, user_create, user_get, user_update, user_delete, user_change_password,
        roles_list, role_create, role_get, role_update, role_delete);
}
