//! `/v3/auth/tokens` (issue, validate, check, revoke) and the `/v3/auth/*`
//! helpers a token holder uses to discover what it can reach.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use super::error::{IdentityError, Result};
use super::openapi::{CollectionLinks, IdName, SelfLink, SystemAll};
use super::resources::{DomainDoc, ProjectDoc};
use super::{IdentityState, parse, timestamp};
use crate::common::auth::{Auth, AuthError, Authenticator, NamedRef, Scope, TokenInfo, resolve};
use crate::common::openapi::Routes;
use crate::common::token::{Claims, random_id};
use crate::storage::DbConn;
use crate::storage::identity::{self as ids, Endpoint, Service};

// ---- request bodies ----------------------------------------------------------

#[derive(Deserialize)]
struct AuthBody {
    auth: AuthRequest,
}

#[derive(Deserialize)]
struct AuthRequest {
    identity: Identity,
    #[serde(default)]
    scope: Option<ScopeRequest>,
}

#[derive(Deserialize)]
struct Identity {
    methods: Vec<String>,
    #[serde(default)]
    password: Option<PasswordMethod>,
    #[serde(default)]
    token: Option<TokenMethod>,
    #[serde(default)]
    application_credential: Option<AppCredMethod>,
}

#[derive(Deserialize)]
struct PasswordMethod {
    user: UserRef,
}

#[derive(Deserialize)]
struct UserRef {
    id: Option<String>,
    name: Option<String>,
    domain: Option<DomainRef>,
    #[serde(default)]
    password: Option<String>,
}

#[derive(Deserialize)]
struct DomainRef {
    id: Option<String>,
    name: Option<String>,
}

#[derive(Deserialize)]
struct TokenMethod {
    id: String,
}

#[derive(Deserialize)]
struct AppCredMethod {
    id: Option<String>,
    name: Option<String>,
    user: Option<UserRef>,
    secret: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ScopeRequest {
    Named(String),
    Target(ScopeTarget),
}

#[derive(Deserialize)]
struct ScopeTarget {
    project: Option<ProjectRef>,
    domain: Option<DomainRef>,
    system: Option<SystemRef>,
}

#[derive(Deserialize)]
struct ProjectRef {
    id: Option<String>,
    name: Option<String>,
    domain: Option<DomainRef>,
}

#[derive(Deserialize)]
struct SystemRef {
    #[serde(default)]
    all: bool,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct TokenQuery {
    /// Present (any value): leave the catalog out.
    nocatalog: Option<String>,
    /// True: an expired token is still validated.
    allow_expired: Option<String>,
}

/// `nocatalog` of a token request.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct CatalogQuery {
    /// Present (any value): leave the catalog out.
    nocatalog: Option<String>,
}

/// The token a request is about.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
struct SubjectHeader {
    /// The token to validate, check or revoke.
    #[param(rename = "X-Subject-Token")]
    subject: String,
}

// ---- documentation of bodies ---------------------------------------------------------

/// An authentication request.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AuthRequestDoc {
    auth: AuthDoc,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AuthDoc {
    identity: IdentityDoc,
    /// `"unscoped"`, or one of project, domain or system; the user's
    /// default project when absent.
    scope: Option<ScopeDoc>,
}

/// Who authenticates, and how.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct IdentityDoc {
    /// `password`, `token` and/or `application_credential`.
    methods: Vec<String>,
    password: Option<PasswordDoc>,
    token: Option<TokenIdDoc>,
    application_credential: Option<AppCredAuthDoc>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PasswordDoc {
    user: UserAuthDoc,
}

/// A user by id, or by name and domain.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UserAuthDoc {
    id: Option<String>,
    name: Option<String>,
    domain: Option<DomainRefDoc>,
    password: Option<String>,
}

/// A domain by id or name.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct DomainRefDoc {
    id: Option<String>,
    name: Option<String>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TokenIdDoc {
    id: String,
}

/// An application credential by id, or by name and user.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AppCredAuthDoc {
    id: Option<String>,
    name: Option<String>,
    user: Option<UserAuthDoc>,
    secret: String,
}

#[derive(ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum ScopeDoc {
    Named(Unscoped),
    Target(ScopeTargetDoc),
}

/// An unscoped token, even for a user with a default project.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum Unscoped {
    Unscoped,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ScopeTargetDoc {
    project: Option<ProjectRefDoc>,
    domain: Option<DomainRefDoc>,
    system: Option<SystemAll>,
}

/// A project by id, or by name and domain.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ProjectRefDoc {
    id: Option<String>,
    name: Option<String>,
    domain: Option<DomainRefDoc>,
}

/// A token.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TokenResponse {
    token: TokenDoc,
}

/// A token's content; a scoped token carries its roles and (unless
/// `nocatalog`) the catalog.
#[derive(ToSchema)]
#[schema(as = Token)]
#[allow(dead_code)]
pub struct TokenDoc {
    methods: Vec<String>,
    user: TokenUser,
    audit_ids: Vec<String>,
    #[schema(format = DateTime)]
    expires_at: String,
    #[schema(format = DateTime)]
    issued_at: String,
    /// Project scope.
    project: Option<TokenProject>,
    /// Project scope: always false.
    is_domain: Option<bool>,
    /// Domain scope.
    domain: Option<IdName>,
    /// System scope.
    system: Option<SystemAll>,
    roles: Option<Vec<IdName>>,
    /// A token from an application credential.
    application_credential: Option<TokenAppCred>,
    catalog: Option<Vec<CatalogEntry>>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TokenUser {
    domain: IdName,
    id: String,
    name: String,
    #[schema(nullable, format = DateTime)]
    password_expires_at: Option<String>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TokenProject {
    domain: IdName,
    id: String,
    name: String,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TokenAppCred {
    id: String,
    name: String,
    restricted: bool,
}

/// A service of the catalog with its endpoints.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct CatalogEntry {
    endpoints: Vec<CatalogEndpoint>,
    id: String,
    #[schema(rename = "type")]
    service_type: String,
    name: String,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct CatalogEndpoint {
    id: String,
    interface: String,
    #[schema(nullable)]
    region_id: Option<String>,
    url: String,
    #[schema(nullable)]
    region: Option<String>,
}

/// The catalog of the caller's token.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AuthCatalog {
    catalog: Vec<CatalogEntry>,
    links: SelfLink,
}

/// The projects the caller's user may scope to.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AuthProjects {
    projects: Vec<ProjectDoc>,
    links: CollectionLinks,
}

/// The domains the caller's user may scope to.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AuthDomains {
    domains: Vec<DomainDoc>,
    links: CollectionLinks,
}

/// Whether the caller's user may scope to the system.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AuthSystem {
    /// `[{"all": true}]` or empty.
    system: Vec<SystemAll>,
    links: SelfLink,
}

impl TokenQuery {
    fn with_catalog(&self) -> bool {
        self.nocatalog.is_none()
    }
    fn allow_expired(&self) -> bool {
        self.allow_expired.as_deref().is_some_and(super::query_bool)
    }
}

// ---- issue -------------------------------------------------------------------

fn unauthorized() -> IdentityError {
    IdentityError::unauthorized()
}

fn find_domain(c: &mut DbConn, d: &DomainRef) -> Result<ids::Domain> {
    let dom = match (&d.id, &d.name) {
        (Some(id), _) => ids::domain(c, id).map_err(|_| unauthorized())?,
        (None, Some(name)) => ids::domain_by_name(c, name)?.ok_or_else(unauthorized)?,
        (None, None) => {
            return Err(IdentityError::BadRequest(
                "Expecting to find id or name in domain - the server could not comply with the request since it is \
                 either malformed or otherwise incorrect. The client is assumed to be in error."
                    .into(),
            ));
        }
    };
    if !dom.enabled {
        return Err(unauthorized());
    }
    Ok(dom)
}

fn find_user(c: &mut DbConn, u: &UserRef) -> Result<ids::User> {
    let user = match (&u.id, &u.name) {
        (Some(id), _) => ids::user(c, id).map_err(|_| unauthorized())?,
        (None, Some(name)) => {
            let d = u.domain.as_ref().ok_or_else(|| {
                IdentityError::BadRequest(
                    "Expecting to find domain in user. The server could not comply with the request since it is \
                     either malformed or otherwise incorrect. The client is assumed to be in error."
                        .into(),
                )
            })?;
            let dom = find_domain(c, d)?;
            ids::user_by_name(c, &dom.id, name)?.ok_or_else(unauthorized)?
        }
        (None, None) => {
            return Err(IdentityError::BadRequest(
                "Expecting to find id or name in user - the server could not comply with the request since it is \
                 either malformed or otherwise incorrect. The client is assumed to be in error."
                    .into(),
            ));
        }
    };
    let dom = ids::domain(c, &user.domain_id)?;
    if !user.enabled || !dom.enabled {
        return Err(unauthorized());
    }
    Ok(user)
}

/// Scope claims requested by the body (or implied by the user's default project).
fn scope_claims(c: &mut DbConn, scope: Option<&ScopeRequest>, user: &ids::User, claims: &mut Claims) -> Result<()> {
    let target = match scope {
        Some(ScopeRequest::Named(s)) if s == "unscoped" => return Ok(()),
        Some(ScopeRequest::Named(_)) => {
            return Err(IdentityError::BadRequest("Invalid input for field 'scope'.".into()));
        }
        Some(ScopeRequest::Target(t)) => t,
        None => {
            // No scope: the default project, when the user holds a role there.
            if let Some(p) = &user.default_project_id
                && let Ok(project) = ids::project(c, p)
            {
                let roles = ids::effective_roles(c, &user.id, &ids::Target::Project(project.id.clone()))?;
                if project.enabled && !roles.is_empty() {
                    claims.openstack_project_id = Some(project.id);
                }
            }
            return Ok(());
        }
    };
    let chosen = [target.project.is_some(), target.domain.is_some(), target.system.is_some()];
    if chosen.iter().filter(|b| **b).count() > 1 {
        return Err(IdentityError::BadRequest("Specify only one of project, domain or system in the scope.".into()));
    }
    if let Some(p) = &target.project {
        let project = match (&p.id, &p.name) {
            (Some(id), _) => ids::project(c, id).map_err(|_| unauthorized())?,
            (None, Some(name)) => {
                let d = p
                    .domain
                    .as_ref()
                    .ok_or_else(|| IdentityError::BadRequest("Expecting to find domain in project.".into()))?;
                let dom = find_domain(c, d)?;
                ids::project_by_name(c, &dom.id, name)?.ok_or_else(unauthorized)?
            }
            (None, None) => return Err(IdentityError::BadRequest("Expecting to find id or name in project.".into())),
        };
        claims.openstack_project_id = Some(project.id);
    } else if let Some(d) = &target.domain {
        claims.openstack_domain_id = Some(find_domain(c, d)?.id);
    } else if let Some(s) = &target.system {
        if !s.all {
            return Err(IdentityError::BadRequest("Invalid input for field 'system': only 'all' is supported.".into()));
        }
        claims.openstack_system = Some("all".into());
    }
    Ok(())
}

struct Issued {
    info: TokenInfo,
    catalog: Option<Vec<(Service, Vec<Endpoint>)>>,
}

fn authenticate(
    c: &mut DbConn,
    auth: &Authenticator,
    req: AuthRequest,
    parent: Option<Claims>,
    with_catalog: bool,
    ttl: chrono::Duration,
) -> Result<Issued> {
    let now = Utc::now();
    let methods = &req.identity.methods;
    if methods.is_empty() {
        return Err(IdentityError::BadRequest("Invalid input for field 'identity': 'methods' is empty.".into()));
    }
    let mut claims = Claims {
        sub: String::new(),
        iat: now.timestamp(),
        iat_us: now.timestamp_subsec_micros(),
        exp: (now + ttl).timestamp(),
        openstack_methods: Vec::new(),
        openstack_audit_ids: vec![random_id()],
        openstack_project_id: None,
        openstack_domain_id: None,
        openstack_system: None,
        openstack_app_cred_id: None,
    };
    let mut user: Option<ids::User> = None;
    for m in methods {
        match m.as_str() {
            "password" => {
                let p = req.identity.password.as_ref().ok_or_else(|| {
                    IdentityError::BadRequest("Invalid input for field 'identity': 'password' is required.".into())
                })?;
                let secret = p.user.password.as_deref().ok_or_else(unauthorized)?;
                let u = find_user(c, &p.user)?;
                let hash = u.password_hash.as_deref().ok_or_else(unauthorized)?;
                if !auth.verify_password(&u.id, hash, secret) {
                    return Err(unauthorized());
                }
                user = Some(u);
            }
            "token" => {
                let parent = parent.clone().ok_or_else(unauthorized)?;
                let u = ids::user(c, &parent.sub).map_err(|_| unauthorized())?;
                claims.exp = parent.exp;
                claims.openstack_methods.extend(parent.openstack_methods.iter().cloned());
                if let Some(first) = parent.openstack_audit_ids.first() {
                    claims.openstack_audit_ids.push(first.clone());
                }
                if parent.openstack_app_cred_id.is_some() {
                    // A token from an application credential cannot be rescoped.
                    return Err(IdentityError::Forbidden("identity:rescope_token".into()));
                }
                user = Some(u);
            }
            "application_credential" => {
                let a = req.identity.application_credential.as_ref().ok_or_else(unauthorized)?;
                let ac = match (&a.id, &a.name) {
                    (Some(id), _) => ids::app_credential(c, id).map_err(|_| unauthorized())?,
                    (None, Some(name)) => {
                        let u = a.user.as_ref().ok_or_else(|| {
                            IdentityError::BadRequest("Expecting to find user in application_credential.".into())
                        })?;
                        let owner = find_user(c, u)?;
                        ids::app_credential_by_name(c, &owner.id, name)?.ok_or_else(unauthorized)?
                    }
                    (None, None) => return Err(unauthorized()),
                };
                if ac.expires_at.is_some_and(|e| e <= now.naive_utc()) {
                    return Err(unauthorized());
                }
                if !auth.verify_password(&ac.id, &ac.secret_hash, &a.secret) {
                    return Err(unauthorized());
                }
                let u = ids::user(c, &ac.user_id).map_err(|_| unauthorized())?;
                if !u.enabled {
                    return Err(unauthorized());
                }
                claims.openstack_project_id = Some(ac.project_id.clone());
                claims.openstack_app_cred_id = Some(ac.id);
                user = Some(u);
            }
            _ => {
                return Err(IdentityError::Unauthorized(
                    "Attempted to authenticate with an unsupported method.".into(),
                ));
            }
        }
        if !claims.openstack_methods.contains(m) {
            claims.openstack_methods.push(m.clone());
        }
    }
    let user = user.ok_or_else(unauthorized)?;
    claims.sub = user.id.clone();
    if claims.openstack_app_cred_id.is_none() {
        scope_claims(c, req.scope.as_ref(), &user, &mut claims)?;
    } else if req.scope.is_some() {
        return Err(IdentityError::Forbidden("identity:scope_application_credential".into()));
    }
    let info = resolve(c, claims).map_err(|e| match e {
        AuthError::Unavailable => IdentityError::from(e),
        _ => unauthorized(),
    })?;
    let catalog = if with_catalog && info.scope != Scope::Unscoped { Some(ids::catalog(c)?) } else { None };
    Ok(Issued { info, catalog })
}

/// Issues a token.
#[utoipa::path(post, path = "/v3/auth/tokens", tag = "tokens", security(()), params(CatalogQuery),
    request_body = AuthRequestDoc,
    responses((status = 201, description = "The token; its id is the `X-Subject-Token` header.", body = TokenResponse,
        headers(("X-Subject-Token" = String, description = "The new token.")))))]
async fn issue(
    req: HttpRequest,
    body: web::Bytes,
    q: web::Query<TokenQuery>,
    auth: web::Data<Authenticator>,
    state: web::Data<IdentityState>,
) -> Result<HttpResponse> {
    let parsed: AuthBody = parse(&body)?;
    let parent = match &parsed.auth.identity.token {
        Some(t) if parsed.auth.identity.methods.iter().any(|m| m == "token") => {
            Some(auth.validate(&t.id, false).await.map_err(|_| unauthorized())?.claims)
        }
        _ => None,
    };
    let with_catalog = q.with_catalog();
    let ttl = state.token_ttl;
    let a = auth.clone();
    let issued = auth.storage.read(move |c| Ok(authenticate(c, &a, parsed.auth, parent, with_catalog, ttl))).await??;
    let token = auth.keys.sign(&issued.info.claims).map_err(|e| IdentityError::Internal(e.to_string()))?;
    tracing::info!(user = %issued.info.user.id, "token issued");
    let _ = req;
    Ok(HttpResponse::Created()
        .insert_header(("X-Subject-Token", token))
        .insert_header(("Vary", "X-Auth-Token"))
        .json(render(&issued.info, issued.catalog.as_deref())))
}

// ---- validate / check / revoke -------------------------------------------------

fn subject(req: &HttpRequest) -> Result<String> {
    req.headers()
        .get("x-subject-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .ok_or_else(|| IdentityError::NotFound("Could not find token: no token in the request.".into()))
}

/// Who may look at or revoke a token: an admin or service, or its own user.
fn may_inspect(caller: &crate::common::auth::AuthContext, info: &TokenInfo) -> Result<()> {
    if caller.is_admin() || caller.has_role("service") || caller.user_id.as_deref() == Some(info.claims.sub.as_str()) {
        Ok(())
    } else {
        Err(IdentityError::Forbidden("identity:validate_token".into()))
    }
}

async fn validated_subject(req: &HttpRequest, auth: &Authenticator, allow_expired: bool) -> Result<TokenInfo> {
    let token = subject(req)?;
    auth.validate(&token, allow_expired).await.map_err(|e| match e {
        AuthError::Unavailable => IdentityError::from(e),
        _ => IdentityError::NotFound("Failed to validate token".into()),
    })
}

/// Validates a token.
#[utoipa::path(get, path = "/v3/auth/tokens", tag = "tokens", params(SubjectHeader, TokenQuery),
    responses((status = 200, description = "The token named by `X-Subject-Token`.", body = TokenResponse,
        headers(("X-Subject-Token" = String, description = "The validated token.")))))]
async fn validate(
    req: HttpRequest,
    caller: Auth<IdentityError>,
    q: web::Query<TokenQuery>,
    auth: web::Data<Authenticator>,
) -> Result<HttpResponse> {
    let info = validated_subject(&req, &auth, q.allow_expired()).await?;
    may_inspect(&caller, &info)?;
    let catalog = if q.with_catalog() && info.scope != Scope::Unscoped {
        Some(auth.storage.read(ids::catalog).await?)
    } else {
        None
    };
    let token = subject(&req)?;
    Ok(HttpResponse::Ok()
        .insert_header(("X-Subject-Token", token))
        .insert_header(("Vary", "X-Auth-Token"))
        .json(render(&info, catalog.as_deref())))
}

/// Checks a token.
#[utoipa::path(head, path = "/v3/auth/tokens", tag = "tokens", params(SubjectHeader, TokenQuery),
    responses((status = 200, description = "The token is valid.",
        headers(("X-Subject-Token" = String, description = "The checked token.")))))]
async fn check(
    req: HttpRequest,
    caller: Auth<IdentityError>,
    q: web::Query<TokenQuery>,
    auth: web::Data<Authenticator>,
) -> Result<HttpResponse> {
    let info = validated_subject(&req, &auth, q.allow_expired()).await?;
    may_inspect(&caller, &info)?;
    Ok(HttpResponse::Ok().insert_header(("X-Subject-Token", subject(&req)?)).finish())
}

/// Revokes a token.
#[utoipa::path(delete, path = "/v3/auth/tokens", tag = "tokens", params(SubjectHeader),
    responses((status = 204, description = "Revoked.")))]
async fn revoke(req: HttpRequest, caller: Auth<IdentityError>, auth: web::Data<Authenticator>) -> Result<HttpResponse> {
    let info = validated_subject(&req, &auth, false).await?;
    may_inspect(&caller, &info)?;
    let audit = info.claims.openstack_audit_ids.first().cloned();
    let rule = ids::Revocation {
        id: super::new_id(),
        audit_id: audit,
        user_id: Some(info.claims.sub.clone()),
        project_id: info.claims.openstack_project_id.clone(),
        issued_before: info.issued_at().naive_utc(),
        expires_at: info.expires_at().naive_utc(),
    };
    auth.storage.write(move |c| ids::revocation_insert(c, &rule)).await?;
    tracing::info!(user = %info.claims.sub, "token revoked");
    Ok(HttpResponse::NoContent().finish())
}

// ---- /v3/auth/* helpers --------------------------------------------------------

/// The caller's own token, fully resolved.
async fn own_token(req: &HttpRequest, auth: &Authenticator) -> Result<TokenInfo> {
    let token = req.headers().get("x-auth-token").and_then(|v| v.to_str().ok()).ok_or_else(unauthorized)?;
    auth.validate(token, false).await.map_err(IdentityError::from)
}

/// Shows the catalog of the caller's token.
#[utoipa::path(get, path = "/v3/auth/catalog", tag = "auth",
    responses((status = 200, description = "The service catalog.", body = AuthCatalog)))]
async fn auth_catalog(
    req: HttpRequest,
    auth: web::Data<Authenticator>,
    state: web::Data<IdentityState>,
) -> Result<HttpResponse> {
    let info = own_token(&req, &auth).await?;
    if info.scope == Scope::Unscoped {
        return Err(IdentityError::Forbidden("identity:get_auth_catalog (an unscoped token has no catalog)".into()));
    }
    let catalog = auth.storage.read(ids::catalog).await?;
    Ok(HttpResponse::Ok().json(json!({
        "catalog": render_catalog(&catalog),
        "links": {"self": state.link("auth/catalog")},
    })))
}

/// Lists the projects the caller may scope to.
#[utoipa::path(get, path = "/v3/auth/projects", tag = "auth",
    responses((status = 200, description = "The enabled projects where the user holds a role.", body = AuthProjects)))]
async fn auth_projects(
    req: HttpRequest,
    auth: web::Data<Authenticator>,
    state: web::Data<IdentityState>,
) -> Result<HttpResponse> {
    let info = own_token(&req, &auth).await?;
    let user = info.claims.sub.clone();
    let projects = auth
        .storage
        .read(move |c| {
            let ids = ids::user_project_ids(c, &user)?;
            let f = ids::ProjectFilter { ids: Some(ids), enabled: Some(true), ..Default::default() };
            ids::projects_list(c, &f)
        })
        .await?;
    let list: Vec<Value> = projects.iter().map(|p| super::resources::project_json(&state, p)).collect();
    Ok(HttpResponse::Ok().json(json!({"projects": list, "links": state.collection_links(&req)})))
}

/// Lists the domains the caller may scope to.
#[utoipa::path(get, path = "/v3/auth/domains", tag = "auth",
    responses((status = 200, description = "The enabled domains where the user holds a role.", body = AuthDomains)))]
async fn auth_domains(
    req: HttpRequest,
    auth: web::Data<Authenticator>,
    state: web::Data<IdentityState>,
) -> Result<HttpResponse> {
    let info = own_token(&req, &auth).await?;
    let user = info.claims.sub.clone();
    let domains = auth
        .storage
        .read(move |c| {
            let mut out = Vec::new();
            for id in ids::user_domain_ids(c, &user)? {
                if let Ok(d) = ids::domain(c, &id)
                    && d.enabled
                {
                    out.push(d);
                }
            }
            Ok(out)
        })
        .await?;
    let list: Vec<Value> = domains.iter().map(|d| super::resources::domain_json(&state, d)).collect();
    Ok(HttpResponse::Ok().json(json!({"domains": list, "links": state.collection_links(&req)})))
}

/// Tells whether the caller may scope to the system.
#[utoipa::path(get, path = "/v3/auth/system", tag = "auth",
    responses((status = 200, description = "The system, when the user holds a role on it.", body = AuthSystem)))]
async fn auth_system(
    req: HttpRequest,
    auth: web::Data<Authenticator>,
    state: web::Data<IdentityState>,
) -> Result<HttpResponse> {
    let info = own_token(&req, &auth).await?;
    let user = info.claims.sub.clone();
    let has = auth.storage.read(move |c| Ok(!ids::effective_roles(c, &user, &ids::Target::System)?.is_empty())).await?;
    let system: Vec<Value> = if has { vec![json!({"all": true})] } else { vec![] };
    Ok(HttpResponse::Ok().json(json!({"system": system, "links": {"self": state.link("auth/system")}})))
}

// ---- rendering -------------------------------------------------------------------

fn named(r: &NamedRef) -> Value {
    json!({"id": r.id, "name": r.name})
}

pub(super) fn render_catalog(catalog: &[(Service, Vec<Endpoint>)]) -> Vec<Value> {
    catalog
        .iter()
        .map(|(s, eps)| {
            let endpoints: Vec<Value> = eps
                .iter()
                .map(|e| {
                    json!({"id": e.id, "interface": e.interface, "region_id": e.region_id,
                           "url": e.url, "region": e.region_id})
                })
                .collect();
            json!({"endpoints": endpoints, "id": s.id, "type": s.service_type, "name": s.name})
        })
        .collect()
}

fn render(info: &TokenInfo, catalog: Option<&[(Service, Vec<Endpoint>)]>) -> Value {
    let mut t = json!({
        "methods": info.claims.openstack_methods,
        "user": {
            "domain": named(&info.user_domain),
            "id": info.user.id,
            "name": info.user.name,
            "password_expires_at": null,
        },
        "audit_ids": info.claims.openstack_audit_ids,
        "expires_at": timestamp(info.expires_at()),
        "issued_at": timestamp(info.issued_at()),
    });
    let obj = t.as_object_mut().expect("token body is an object");
    match &info.scope {
        Scope::Unscoped => {}
        Scope::Project { project, domain } => {
            obj.insert("project".into(), json!({"domain": named(domain), "id": project.id, "name": project.name}));
            obj.insert("is_domain".into(), json!(false));
        }
        Scope::Domain(d) => {
            obj.insert("domain".into(), named(d));
        }
        Scope::System => {
            obj.insert("system".into(), json!({"all": true}));
        }
    }
    if info.scope != Scope::Unscoped {
        obj.insert("roles".into(), Value::Array(info.roles.iter().map(named).collect()));
    }
    if let Some(ac) = &info.app_cred {
        obj.insert("application_credential".into(), json!({"id": ac.id, "name": ac.name, "restricted": true}));
    }
    if let Some(c) = catalog {
        obj.insert("catalog".into(), Value::Array(render_catalog(c)));
    }
    json!({"token": t})
}

pub fn routes(r: &mut Routes) {
    crate::routes!(r; issue, validate, check, revoke, auth_catalog, auth_projects, auth_domains, auth_system);
}
