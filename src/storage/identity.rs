//! Identity rows and queries: domains, projects, users, roles, assignments,
//! the service catalog, token revocations and application credentials.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::found;
use super::schema::*;
use super::{DbConn, StorageError, StorageResult};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = domains)]
pub struct Domain {
    pub id: String,
    pub name: String,
    pub description: String,
    pub enabled: bool,
    pub extra: String,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = projects, treat_none_as_null = true)]
pub struct Project {
    pub id: String,
    pub name: String,
    pub domain_id: String,
    pub parent_id: Option<String>,
    pub description: String,
    pub enabled: bool,
    pub tags: String,
    pub extra: String,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = users, treat_none_as_null = true)]
pub struct User {
    pub id: String,
    pub name: String,
    pub domain_id: String,
    pub enabled: bool,
    pub password_hash: Option<String>,
    pub default_project_id: Option<String>,
    pub extra: String,
    pub created_at: NaiveDateTime,
    pub password_changed_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = roles, treat_none_as_null = true)]
pub struct Role {
    pub id: String,
    pub name: String,
    /// Empty for a global role.
    pub domain_id: String,
    pub description: Option<String>,
    pub extra: String,
}

/// What a role is granted on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    Project(String),
    Domain(String),
    System,
}

impl Target {
    fn kind(&self) -> &'static str {
        match self {
            Target::Project(_) => "project",
            Target::Domain(_) => "domain",
            Target::System => "system",
        }
    }

    fn id(&self) -> &str {
        match self {
            Target::Project(id) | Target::Domain(id) => id,
            Target::System => "all",
        }
    }

    fn from_parts(kind: &str, id: String) -> Option<Target> {
        match kind {
            "project" => Some(Target::Project(id)),
            "domain" => Some(Target::Domain(id)),
            "system" => Some(Target::System),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = role_assignments)]
struct AssignmentRow {
    actor_id: String,
    target_kind: String,
    target_id: String,
    role_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub user_id: String,
    pub target: Target,
    pub role_id: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = regions, treat_none_as_null = true)]
pub struct Region {
    pub id: String,
    pub description: String,
    pub parent_region_id: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = services)]
pub struct Service {
    pub id: String,
    pub service_type: String,
    pub name: String,
    pub description: String,
    pub enabled: bool,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = endpoints, treat_none_as_null = true)]
pub struct Endpoint {
    pub id: String,
    pub service_id: String,
    pub interface: String,
    pub region_id: Option<String>,
    pub url: String,
    pub enabled: bool,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = revocations)]
pub struct Revocation {
    pub id: String,
    pub audit_id: Option<String>,
    pub user_id: Option<String>,
    pub project_id: Option<String>,
    pub issued_before: NaiveDateTime,
    /// When the rule can be forgotten: no token it matches is still valid.
    pub expires_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = application_credentials)]
pub struct AppCredential {
    pub id: String,
    pub name: String,
    pub user_id: String,
    pub project_id: String,
    pub description: Option<String>,
    pub secret_hash: String,
    /// JSON list of role ids.
    pub roles: String,
    pub unrestricted: bool,
    pub expires_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

fn changed(n: usize, kind: &'static str, id: &str) -> StorageResult<()> {
    if n == 0 { Err(StorageError::not_found(kind, id)) } else { Ok(()) }
}

// ---- domains ---------------------------------------------------------------

pub fn domain(c: &mut DbConn, id: &str) -> StorageResult<Domain> {
    found(domains::table.find(id).select(Domain::as_select()).first(c), "domain", id)
}

pub fn domain_by_name(c: &mut DbConn, name: &str) -> StorageResult<Option<Domain>> {
    Ok(domains::table.filter(domains::name.eq(name)).select(Domain::as_select()).first(c).optional()?)
}

pub fn domains_list(c: &mut DbConn, name: Option<&str>, enabled: Option<bool>) -> StorageResult<Vec<Domain>> {
    let mut q = domains::table.select(Domain::as_select()).order(domains::name).into_boxed();
    if let Some(n) = name {
        q = q.filter(domains::name.eq(n.to_string()));
    }
    if let Some(e) = enabled {
        q = q.filter(domains::enabled.eq(e));
    }
    Ok(q.load(c)?)
}

pub fn domain_insert(c: &mut DbConn, d: &Domain) -> StorageResult<()> {
    diesel::insert_into(domains::table).values(d).execute(c)?;
    Ok(())
}

pub fn domain_update(c: &mut DbConn, d: &Domain) -> StorageResult<()> {
    let n = diesel::update(domains::table.find(&d.id)).set(d).execute(c)?;
    changed(n, "domain", &d.id)
}

/// Deletes a domain; refuses while it still holds projects or users.
pub fn domain_delete(c: &mut DbConn, id: &str) -> StorageResult<()> {
    let used: i64 = projects::table.filter(projects::domain_id.eq(id)).count().get_result(c)?;
    let users: i64 = users::table.filter(users::domain_id.eq(id)).count().get_result(c)?;
    if used + users > 0 {
        return Err(StorageError::Duplicate(format!("domain {id} still owns projects or users")));
    }
    role_assignments_delete_target(c, &Target::Domain(id.to_string()))?;
    let n = diesel::delete(domains::table.find(id)).execute(c)?;
    changed(n, "domain", id)
}

// ---- projects --------------------------------------------------------------

pub fn project(c: &mut DbConn, id: &str) -> StorageResult<Project> {
    found(projects::table.find(id).select(Project::as_select()).first(c), "project", id)
}

pub fn project_by_name(c: &mut DbConn, domain_id: &str, name: &str) -> StorageResult<Option<Project>> {
    Ok(projects::table
        .filter(projects::domain_id.eq(domain_id))
        .filter(projects::name.eq(name))
        .select(Project::as_select())
        .first(c)
        .optional()?)
}

#[derive(Debug, Default, Clone)]
pub struct ProjectFilter {
    pub name: Option<String>,
    pub domain_id: Option<String>,
    pub parent_id: Option<String>,
    pub enabled: Option<bool>,
    /// Only these ids (a user's own projects).
    pub ids: Option<Vec<String>>,
}

pub fn projects_list(c: &mut DbConn, f: &ProjectFilter) -> StorageResult<Vec<Project>> {
    let mut q = projects::table.select(Project::as_select()).order(projects::name).into_boxed();
    if let Some(n) = &f.name {
        q = q.filter(projects::name.eq(n.clone()));
    }
    if let Some(d) = &f.domain_id {
        q = q.filter(projects::domain_id.eq(d.clone()));
    }
    if let Some(p) = &f.parent_id {
        q = q.filter(projects::parent_id.eq(p.clone()));
    }
    if let Some(e) = f.enabled {
        q = q.filter(projects::enabled.eq(e));
    }
    if let Some(ids) = &f.ids {
        q = q.filter(projects::id.eq_any(ids.clone()));
    }
    Ok(q.load(c)?)
}

pub fn project_insert(c: &mut DbConn, p: &Project) -> StorageResult<()> {
    diesel::insert_into(projects::table).values(p).execute(c)?;
    Ok(())
}

pub fn project_update(c: &mut DbConn, p: &Project) -> StorageResult<()> {
    let n = diesel::update(projects::table.find(&p.id)).set(p).execute(c)?;
    changed(n, "project", &p.id)
}

pub fn project_delete(c: &mut DbConn, id: &str) -> StorageResult<()> {
    role_assignments_delete_target(c, &Target::Project(id.to_string()))?;
    diesel::delete(application_credentials::table.filter(application_credentials::project_id.eq(id))).execute(c)?;
    let n = diesel::delete(projects::table.find(id)).execute(c)?;
    changed(n, "project", id)
}

// ---- users -----------------------------------------------------------------

pub fn user(c: &mut DbConn, id: &str) -> StorageResult<User> {
    found(users::table.find(id).select(User::as_select()).first(c), "user", id)
}

pub fn user_by_name(c: &mut DbConn, domain_id: &str, name: &str) -> StorageResult<Option<User>> {
    Ok(users::table
        .filter(users::domain_id.eq(domain_id))
        .filter(users::name.eq(name))
        .select(User::as_select())
        .first(c)
        .optional()?)
}

pub fn users_list(
    c: &mut DbConn,
    name: Option<&str>,
    domain_id: Option<&str>,
    enabled: Option<bool>,
) -> StorageResult<Vec<User>> {
    let mut q = users::table.select(User::as_select()).order(users::name).into_boxed();
    if let Some(n) = name {
        q = q.filter(users::name.eq(n.to_string()));
    }
    if let Some(d) = domain_id {
        q = q.filter(users::domain_id.eq(d.to_string()));
    }
    if let Some(e) = enabled {
        q = q.filter(users::enabled.eq(e));
    }
    Ok(q.load(c)?)
}

pub fn user_insert(c: &mut DbConn, u: &User) -> StorageResult<()> {
    diesel::insert_into(users::table).values(u).execute(c)?;
    Ok(())
}

pub fn user_update(c: &mut DbConn, u: &User) -> StorageResult<()> {
    let n = diesel::update(users::table.find(&u.id)).set(u).execute(c)?;
    changed(n, "user", &u.id)
}

pub fn user_delete(c: &mut DbConn, id: &str) -> StorageResult<()> {
    diesel::delete(role_assignments::table.filter(role_assignments::actor_id.eq(id))).execute(c)?;
    diesel::delete(application_credentials::table.filter(application_credentials::user_id.eq(id))).execute(c)?;
    let n = diesel::delete(users::table.find(id)).execute(c)?;
    changed(n, "user", id)
}

// ---- roles -----------------------------------------------------------------

pub fn role(c: &mut DbConn, id: &str) -> StorageResult<Role> {
    found(roles::table.find(id).select(Role::as_select()).first(c), "role", id)
}

pub fn role_by_name(c: &mut DbConn, name: &str) -> StorageResult<Option<Role>> {
    Ok(roles::table
        .filter(roles::name.eq(name))
        .filter(roles::domain_id.eq(""))
        .select(Role::as_select())
        .first(c)
        .optional()?)
}

pub fn roles_list(c: &mut DbConn, name: Option<&str>, domain_id: Option<&str>) -> StorageResult<Vec<Role>> {
    let mut q = roles::table.select(Role::as_select()).order(roles::name).into_boxed();
    if let Some(n) = name {
        q = q.filter(roles::name.eq(n.to_string()));
    }
    q = q.filter(roles::domain_id.eq(domain_id.unwrap_or("").to_string()));
    Ok(q.load(c)?)
}

pub fn roles_by_ids(c: &mut DbConn, ids: &[String]) -> StorageResult<Vec<Role>> {
    Ok(roles::table.filter(roles::id.eq_any(ids)).select(Role::as_select()).load(c)?)
}

pub fn role_insert(c: &mut DbConn, r: &Role) -> StorageResult<()> {
    diesel::insert_into(roles::table).values(r).execute(c)?;
    Ok(())
}

pub fn role_update(c: &mut DbConn, r: &Role) -> StorageResult<()> {
    let n = diesel::update(roles::table.find(&r.id)).set(r).execute(c)?;
    changed(n, "role", &r.id)
}

pub fn role_delete(c: &mut DbConn, id: &str) -> StorageResult<()> {
    diesel::delete(role_assignments::table.filter(role_assignments::role_id.eq(id))).execute(c)?;
    diesel::delete(
        implied_roles::table.filter(implied_roles::prior_role_id.eq(id).or(implied_roles::implied_role_id.eq(id))),
    )
    .execute(c)?;
    let n = diesel::delete(roles::table.find(id)).execute(c)?;
    changed(n, "role", id)
}

pub fn implied_role_add(c: &mut DbConn, prior: &str, implied: &str) -> StorageResult<()> {
    let exists = implied_roles::table
        .filter(implied_roles::prior_role_id.eq(prior))
        .filter(implied_roles::implied_role_id.eq(implied))
        .count()
        .get_result::<i64>(c)?;
    if exists == 0 {
        diesel::insert_into(implied_roles::table)
            .values((implied_roles::prior_role_id.eq(prior), implied_roles::implied_role_id.eq(implied)))
            .execute(c)?;
    }
    Ok(())
}

/// Every (prior, implied) pair.
pub fn implied_roles_all(c: &mut DbConn) -> StorageResult<Vec<(String, String)>> {
    Ok(implied_roles::table.select((implied_roles::prior_role_id, implied_roles::implied_role_id)).load(c)?)
}

// ---- role assignments ------------------------------------------------------

pub fn grant(c: &mut DbConn, user_id: &str, target: &Target, role_id: &str) -> StorageResult<()> {
    if has_grant(c, user_id, target, role_id)? {
        return Ok(());
    }
    diesel::insert_into(role_assignments::table)
        .values(AssignmentRow {
            actor_id: user_id.to_string(),
            target_kind: target.kind().to_string(),
            target_id: target.id().to_string(),
            role_id: role_id.to_string(),
        })
        .execute(c)?;
    Ok(())
}

pub fn has_grant(c: &mut DbConn, user_id: &str, target: &Target, role_id: &str) -> StorageResult<bool> {
    let n: i64 = role_assignments::table
        .filter(role_assignments::actor_id.eq(user_id))
        .filter(role_assignments::target_kind.eq(target.kind()))
        .filter(role_assignments::target_id.eq(target.id()))
        .filter(role_assignments::role_id.eq(role_id))
        .count()
        .get_result(c)?;
    Ok(n > 0)
}

pub fn revoke_grant(c: &mut DbConn, user_id: &str, target: &Target, role_id: &str) -> StorageResult<()> {
    let n = diesel::delete(
        role_assignments::table
            .filter(role_assignments::actor_id.eq(user_id))
            .filter(role_assignments::target_kind.eq(target.kind()))
            .filter(role_assignments::target_id.eq(target.id()))
            .filter(role_assignments::role_id.eq(role_id)),
    )
    .execute(c)?;
    changed(n, "role assignment", role_id)
}

fn role_assignments_delete_target(c: &mut DbConn, target: &Target) -> StorageResult<()> {
    diesel::delete(
        role_assignments::table
            .filter(role_assignments::target_kind.eq(target.kind()))
            .filter(role_assignments::target_id.eq(target.id())),
    )
    .execute(c)?;
    Ok(())
}

#[derive(Debug, Default, Clone)]
pub struct AssignmentFilter {
    pub user_id: Option<String>,
    pub target: Option<Target>,
    /// Any target of this kind ("project", "domain", "system").
    pub target_kind: Option<&'static str>,
    pub role_id: Option<String>,
}

pub fn assignments_list(c: &mut DbConn, f: &AssignmentFilter) -> StorageResult<Vec<Assignment>> {
    let mut q = role_assignments::table.select(AssignmentRow::as_select()).into_boxed();
    if let Some(u) = &f.user_id {
        q = q.filter(role_assignments::actor_id.eq(u.clone()));
    }
    if let Some(t) = &f.target {
        q = q
            .filter(role_assignments::target_kind.eq(t.kind()))
            .filter(role_assignments::target_id.eq(t.id().to_string()));
    }
    if let Some(k) = f.target_kind {
        q = q.filter(role_assignments::target_kind.eq(k));
    }
    if let Some(r) = &f.role_id {
        q = q.filter(role_assignments::role_id.eq(r.clone()));
    }
    let rows = q.order((role_assignments::actor_id, role_assignments::target_id, role_assignments::role_id)).load(c)?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            Target::from_parts(&r.target_kind, r.target_id).map(|target| Assignment {
                user_id: r.actor_id,
                target,
                role_id: r.role_id,
            })
        })
        .collect())
}

/// The roles a user holds on a target, implied roles included, by name order.
pub fn effective_roles(c: &mut DbConn, user_id: &str, target: &Target) -> StorageResult<Vec<Role>> {
    let direct: Vec<String> = role_assignments::table
        .filter(role_assignments::actor_id.eq(user_id))
        .filter(role_assignments::target_kind.eq(target.kind()))
        .filter(role_assignments::target_id.eq(target.id()))
        .select(role_assignments::role_id)
        .load(c)?;
    if direct.is_empty() {
        return Ok(Vec::new());
    }
    let ids = expand_implied(c, direct)?;
    let mut roles = roles_by_ids(c, &ids)?;
    roles.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(roles)
}

/// Closes a set of role ids over the implied-role relation.
pub fn expand_implied(c: &mut DbConn, mut ids: Vec<String>) -> StorageResult<Vec<String>> {
    let pairs = implied_roles_all(c)?;
    let mut i = 0;
    while i < ids.len() {
        for (prior, implied) in &pairs {
            if *prior == ids[i] && !ids.contains(implied) {
                ids.push(implied.clone());
            }
        }
        i += 1;
    }
    Ok(ids)
}

/// Projects on which the user holds any role.
pub fn user_project_ids(c: &mut DbConn, user_id: &str) -> StorageResult<Vec<String>> {
    let mut ids: Vec<String> = role_assignments::table
        .filter(role_assignments::actor_id.eq(user_id))
        .filter(role_assignments::target_kind.eq("project"))
        .select(role_assignments::target_id)
        .load(c)?;
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// Domains on which the user holds any role.
pub fn user_domain_ids(c: &mut DbConn, user_id: &str) -> StorageResult<Vec<String>> {
    let mut ids: Vec<String> = role_assignments::table
        .filter(role_assignments::actor_id.eq(user_id))
        .filter(role_assignments::target_kind.eq("domain"))
        .select(role_assignments::target_id)
        .load(c)?;
    ids.sort();
    ids.dedup();
    Ok(ids)
}

// ---- catalog: regions, services, endpoints ---------------------------------

pub fn region(c: &mut DbConn, id: &str) -> StorageResult<Region> {
    found(regions::table.find(id).select(Region::as_select()).first(c), "region", id)
}

pub fn regions_list(c: &mut DbConn) -> StorageResult<Vec<Region>> {
    Ok(regions::table.select(Region::as_select()).order(regions::id).load(c)?)
}

pub fn region_insert(c: &mut DbConn, r: &Region) -> StorageResult<()> {
    diesel::insert_into(regions::table).values(r).execute(c)?;
    Ok(())
}

pub fn region_update(c: &mut DbConn, r: &Region) -> StorageResult<()> {
    let n = diesel::update(regions::table.find(&r.id)).set(r).execute(c)?;
    changed(n, "region", &r.id)
}

pub fn region_delete(c: &mut DbConn, id: &str) -> StorageResult<()> {
    let n = diesel::delete(regions::table.find(id)).execute(c)?;
    changed(n, "region", id)
}

pub fn service(c: &mut DbConn, id: &str) -> StorageResult<Service> {
    found(services::table.find(id).select(Service::as_select()).first(c), "service", id)
}

pub fn services_list(c: &mut DbConn, service_type: Option<&str>, name: Option<&str>) -> StorageResult<Vec<Service>> {
    let mut q = services::table.select(Service::as_select()).order(services::service_type).into_boxed();
    if let Some(t) = service_type {
        q = q.filter(services::service_type.eq(t.to_string()));
    }
    if let Some(n) = name {
        q = q.filter(services::name.eq(n.to_string()));
    }
    Ok(q.load(c)?)
}

pub fn service_insert(c: &mut DbConn, s: &Service) -> StorageResult<()> {
    diesel::insert_into(services::table).values(s).execute(c)?;
    Ok(())
}

pub fn service_update(c: &mut DbConn, s: &Service) -> StorageResult<()> {
    let n = diesel::update(services::table.find(&s.id)).set(s).execute(c)?;
    changed(n, "service", &s.id)
}

pub fn service_delete(c: &mut DbConn, id: &str) -> StorageResult<()> {
    diesel::delete(endpoints::table.filter(endpoints::service_id.eq(id))).execute(c)?;
    let n = diesel::delete(services::table.find(id)).execute(c)?;
    changed(n, "service", id)
}

pub fn endpoint(c: &mut DbConn, id: &str) -> StorageResult<Endpoint> {
    found(endpoints::table.find(id).select(Endpoint::as_select()).first(c), "endpoint", id)
}

#[derive(Debug, Default, Clone)]
pub struct EndpointFilter {
    pub service_id: Option<String>,
    pub interface: Option<String>,
    pub region_id: Option<String>,
}

pub fn endpoints_list(c: &mut DbConn, f: &EndpointFilter) -> StorageResult<Vec<Endpoint>> {
    let mut q = endpoints::table.select(Endpoint::as_select()).order(endpoints::id).into_boxed();
    if let Some(s) = &f.service_id {
        q = q.filter(endpoints::service_id.eq(s.clone()));
    }
    if let Some(i) = &f.interface {
        q = q.filter(endpoints::interface.eq(i.clone()));
    }
    if let Some(r) = &f.region_id {
        q = q.filter(endpoints::region_id.eq(r.clone()));
    }
    Ok(q.load(c)?)
}

pub fn endpoint_insert(c: &mut DbConn, e: &Endpoint) -> StorageResult<()> {
    diesel::insert_into(endpoints::table).values(e).execute(c)?;
    Ok(())
}

pub fn endpoint_update(c: &mut DbConn, e: &Endpoint) -> StorageResult<()> {
    let n = diesel::update(endpoints::table.find(&e.id)).set(e).execute(c)?;
    changed(n, "endpoint", &e.id)
}

pub fn endpoint_delete(c: &mut DbConn, id: &str) -> StorageResult<()> {
    let n = diesel::delete(endpoints::table.find(id)).execute(c)?;
    changed(n, "endpoint", id)
}

/// Enabled services with their enabled endpoints: what a token's catalog shows.
pub fn catalog(c: &mut DbConn) -> StorageResult<Vec<(Service, Vec<Endpoint>)>> {
    let services = services::table
        .filter(services::enabled.eq(true))
        .select(Service::as_select())
        .order(services::service_type)
        .load(c)?;
    let eps = endpoints::table
        .filter(endpoints::enabled.eq(true))
        .select(Endpoint::as_select())
        .order((endpoints::service_id, endpoints::interface))
        .load(c)?;
    Ok(services
        .into_iter()
        .map(|s| {
            let mine = eps.iter().filter(|e| e.service_id == s.id).cloned().collect();
            (s, mine)
        })
        .collect())
}

// ---- token signing keys ----------------------------------------------------

/// A token signing key: `private_key` is the sealed PKCS#8 PEM.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = signing_keys)]
pub struct SigningKey {
    pub kid: String,
    /// Milliseconds since the epoch.
    pub created_ms: i64,
    pub private_key: String,
}

/// Every signing key, oldest first.
pub fn signing_keys(c: &mut DbConn) -> StorageResult<Vec<SigningKey>> {
    Ok(signing_keys::table
        .select(SigningKey::as_select())
        .order((signing_keys::created_ms, signing_keys::kid))
        .load(c)?)
}

pub fn signing_key_insert(c: &mut DbConn, k: &SigningKey) -> StorageResult<()> {
    diesel::insert_into(signing_keys::table).values(k).execute(c)?;
    Ok(())
}

pub fn signing_key_delete(c: &mut DbConn, kid: &str) -> StorageResult<()> {
    diesel::delete(signing_keys::table.filter(signing_keys::kid.eq(kid))).execute(c)?;
    Ok(())
}

// ---- revocations -----------------------------------------------------------

pub fn revocation_insert(c: &mut DbConn, r: &Revocation) -> StorageResult<()> {
    diesel::insert_into(revocations::table).values(r).execute(c)?;
    Ok(())
}

/// True when a token with these facts matches a revocation rule.
pub fn is_revoked(
    c: &mut DbConn,
    audit_ids: &[String],
    user_id: &str,
    project_id: Option<&str>,
    issued_at: NaiveDateTime,
) -> StorageResult<bool> {
    let by_audit: i64 = revocations::table.filter(revocations::audit_id.eq_any(audit_ids)).count().get_result(c)?;
    if by_audit > 0 {
        return Ok(true);
    }
    let by_user: i64 = revocations::table
        .filter(revocations::audit_id.is_null())
        .filter(revocations::user_id.eq(user_id))
        .filter(revocations::issued_before.ge(issued_at))
        .count()
        .get_result(c)?;
    if by_user > 0 {
        return Ok(true);
    }
    if let Some(p) = project_id {
        let by_project: i64 = revocations::table
            .filter(revocations::audit_id.is_null())
            .filter(revocations::user_id.is_null())
            .filter(revocations::project_id.eq(p))
            .filter(revocations::issued_before.ge(issued_at))
            .count()
            .get_result(c)?;
        return Ok(by_project > 0);
    }
    Ok(false)
}

/// Forgets revocation rules that no longer match any unexpired token.
pub fn revocations_purge(c: &mut DbConn, now: NaiveDateTime) -> StorageResult<usize> {
    Ok(diesel::delete(revocations::table.filter(revocations::expires_at.lt(now))).execute(c)?)
}

// ---- application credentials -----------------------------------------------

pub fn app_credential(c: &mut DbConn, id: &str) -> StorageResult<AppCredential> {
    found(
        application_credentials::table.find(id).select(AppCredential::as_select()).first(c),
        "application credential",
        id,
    )
}

pub fn app_credential_by_name(c: &mut DbConn, user_id: &str, name: &str) -> StorageResult<Option<AppCredential>> {
    Ok(application_credentials::table
        .filter(application_credentials::user_id.eq(user_id))
        .filter(application_credentials::name.eq(name))
        .select(AppCredential::as_select())
        .first(c)
        .optional()?)
}

pub fn app_credentials_list(c: &mut DbConn, user_id: &str, name: Option<&str>) -> StorageResult<Vec<AppCredential>> {
    let mut q = application_credentials::table
        .filter(application_credentials::user_id.eq(user_id.to_string()))
        .select(AppCredential::as_select())
        .order(application_credentials::name)
        .into_boxed();
    if let Some(n) = name {
        q = q.filter(application_credentials::name.eq(n.to_string()));
    }
    Ok(q.load(c)?)
}

pub fn app_credential_insert(c: &mut DbConn, a: &AppCredential) -> StorageResult<()> {
    diesel::insert_into(application_credentials::table).values(a).execute(c)?;
    Ok(())
}

pub fn app_credential_delete(c: &mut DbConn, id: &str) -> StorageResult<()> {
    let n = diesel::delete(application_credentials::table.find(id)).execute(c)?;
    changed(n, "application credential", id)
}
