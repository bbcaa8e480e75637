//! Security groups and their rules, each project's `default` group, and the
//! per-project quota limits with the usage counts they are checked against.

use std::collections::HashSet;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::network::{networks, ports, subnets};
use super::{DbConn, StorageError, StorageResult, found};

diesel::table! {
    security_groups (id) {
        id -> BigInt,
        uuid -> Text,
        name -> Text,
        description -> Text,
        project_id -> Text,
        stateful -> Bool,
        revision_number -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    default_security_groups (project_id) {
        project_id -> Text,
        security_group_uuid -> Text,
    }
}

diesel::table! {
    security_group_rules (id) {
        id -> BigInt,
        uuid -> Text,
        security_group_uuid -> Text,
        project_id -> Text,
        direction -> Text,
        ethertype -> Text,
        protocol -> Nullable<Text>,
        port_range_min -> Nullable<Integer>,
        port_range_max -> Nullable<Integer>,
        remote_ip_prefix -> Nullable<Text>,
        remote_group_id -> Nullable<Text>,
        description -> Text,
        revision_number -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    quotas (project_id, resource) {
        project_id -> Text,
        resource -> Text,
        hard_limit -> BigInt,
    }
}

diesel::allow_tables_to_appear_in_same_query!(security_groups, default_security_groups, security_group_rules, quotas);

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = security_groups, treat_none_as_null = true)]
pub struct SecurityGroup {
    pub uuid: String,
    pub name: String,
    pub description: String,
    pub project_id: String,
    pub stateful: bool,
    pub revision_number: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = security_group_rules)]
pub struct Rule {
    pub uuid: String,
    pub security_group_uuid: String,
    pub project_id: String,
    /// `ingress` or `egress`.
    pub direction: String,
    /// `IPv4` or `IPv6`.
    pub ethertype: String,
    /// A protocol name or number; `None` = any.
    pub protocol: Option<String>,
    pub port_range_min: Option<i32>,
    pub port_range_max: Option<i32>,
    pub remote_ip_prefix: Option<String>,
    pub remote_group_id: Option<String>,
    pub description: String,
    pub revision_number: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = quotas)]
pub struct Quota {
    pub project_id: String,
    pub resource: String,
    pub hard_limit: i64,
}

fn now() -> NaiveDateTime {
    use chrono::Timelike;
    let n = chrono::Utc::now().naive_utc();
    n.with_nanosecond(0).unwrap_or(n)
}

// ---- groups --------------------------------------------------------------------

pub fn group(c: &mut DbConn, uuid: &str) -> StorageResult<SecurityGroup> {
    found(
        security_groups::table.filter(security_groups::uuid.eq(uuid)).select(SecurityGroup::as_select()).first(c),
        "security_group",
        uuid,
    )
}

/// Groups of a project (every group when `None`).
pub fn groups_of(c: &mut DbConn, project: Option<&str>) -> StorageResult<Vec<SecurityGroup>> {
    let mut q = security_groups::table.select(SecurityGroup::as_select()).order(security_groups::id).into_boxed();
    if let Some(p) = project {
        q = q.filter(security_groups::project_id.eq(p.to_string()));
    }
    Ok(q.load(c)?)
}

/// Locks the named groups for the rest of the transaction and returns those
/// that exist. Whoever binds a group to a port or a rule takes this lock,
/// and so does [`group_delete`]: on PostgreSQL one of them then waits for
/// the other, so a group is never deleted while something starts using it.
/// Rows are locked by one statement, in index order, so that two
/// transactions locking overlapping sets cannot deadlock.
pub fn lock_groups(c: &mut DbConn, uuids: &[String]) -> StorageResult<Vec<SecurityGroup>> {
    diesel::update(security_groups::table.filter(security_groups::uuid.eq_any(uuids)))
        .set(security_groups::stateful.eq(security_groups::stateful))
        .execute(c)?;
    Ok(security_groups::table
        .filter(security_groups::uuid.eq_any(uuids))
        .select(SecurityGroup::as_select())
        .order(security_groups::id)
        .load(c)?)
}

/// A new revision of a group whose rules changed (Neutron revises the
/// group with its rules).
fn group_revise(c: &mut DbConn, uuid: &str) -> StorageResult<()> {
    diesel::update(security_groups::table.filter(security_groups::uuid.eq(uuid)))
        .set((
            security_groups::revision_number.eq(security_groups::revision_number + 1),
            security_groups::updated_at.eq(now()),
        ))
        .execute(c)?;
    Ok(())
}

/// Inserts a group with its first rules.
pub fn group_insert(c: &mut DbConn, g: &SecurityGroup, rules: &[Rule]) -> StorageResult<()> {
    diesel::insert_into(security_groups::table).values(g).execute(c)?;
    // One by one: batch inserts are not offered over both backends.
    for r in rules {
        diesel::insert_into(security_group_rules::table).values(r).execute(c)?;
    }
    Ok(())
}

pub fn group_update(c: &mut DbConn, g: &SecurityGroup) -> StorageResult<()> {
    diesel::update(security_groups::table.filter(security_groups::uuid.eq(&g.uuid))).set(g).execute(c)?;
    Ok(())
}

/// Is the group bound to a port? (`ports.security_groups` is a JSON list of ids.)
pub fn group_in_use(c: &mut DbConn, uuid: &str) -> StorageResult<bool> {
    let n: i64 = ports::table.filter(ports::security_groups.like(format!("%\"{uuid}\"%"))).count().get_result(c)?;
    Ok(n > 0)
}

/// Deletes a group, its rules and the rules of other groups that name it as
/// their remote group. Refused while a port uses it, and for a project's
/// default group unless `may_delete_default` (Neutron lets admins do that;
/// the next request of the project makes a new one).
pub fn group_delete(c: &mut DbConn, uuid: &str, may_delete_default: bool) -> StorageResult<()> {
    if lock_groups(c, &[uuid.to_string()])?.is_empty() {
        return Err(StorageError::not_found("security_group", uuid));
    }
    if group_in_use(c, uuid)? {
        return Err(StorageError::refused("SecurityGroupInUse", format!("Security Group {uuid} in use.")));
    }
    if !defaults_among(c, &[uuid.to_string()])?.is_empty() {
        if !may_delete_default {
            return Err(StorageError::refused(
                "SecurityGroupCannotRemoveDefault",
                "Insufficient rights for removing default security group.",
            ));
        }
        diesel::delete(default_security_groups::table.filter(default_security_groups::security_group_uuid.eq(uuid)))
            .execute(c)?;
    }
    // Other groups' rules that pointed here change: they get a new revision.
    let revised: Vec<String> = security_group_rules::table
        .filter(security_group_rules::remote_group_id.eq(uuid))
        .filter(security_group_rules::security_group_uuid.ne(uuid))
        .select(security_group_rules::security_group_uuid)
        .distinct()
        .load(c)?;
    diesel::delete(
        security_group_rules::table.filter(
            security_group_rules::security_group_uuid.eq(uuid).or(security_group_rules::remote_group_id.eq(uuid)),
        ),
    )
    .execute(c)?;
    diesel::delete(security_groups::table.filter(security_groups::uuid.eq(uuid))).execute(c)?;
    for other in revised {
        group_revise(c, &other)?;
    }
    Ok(())
}

// ---- default groups ------------------------------------------------------------

/// The project's default group, if it has one yet.
pub fn default_of(c: &mut DbConn, project_id: &str) -> StorageResult<Option<String>> {
    Ok(default_security_groups::table
        .filter(default_security_groups::project_id.eq(project_id))
        .select(default_security_groups::security_group_uuid)
        .first(c)
        .optional()?)
}

/// Which of these groups are their project's default group.
pub fn defaults_among(c: &mut DbConn, uuids: &[String]) -> StorageResult<HashSet<String>> {
    Ok(default_security_groups::table
        .filter(default_security_groups::security_group_uuid.eq_any(uuids))
        .select(default_security_groups::security_group_uuid)
        .load::<String>(c)?
        .into_iter()
        .collect())
}

/// Neutron's rule templates for a new group: egress to anywhere over IPv4
/// and IPv6 for every group, and for a default group also ingress from its
/// own members.
pub fn template_rules(g: &SecurityGroup, default: bool) -> Vec<Rule> {
    let rule = |direction: &str, ethertype: &str, remote: Option<String>| Rule {
        uuid: uuid::Uuid::new_v4().to_string(),
        security_group_uuid: g.uuid.clone(),
        project_id: g.project_id.clone(),
        direction: direction.into(),
        ethertype: ethertype.into(),
        protocol: None,
        port_range_min: None,
        port_range_max: None,
        remote_ip_prefix: None,
        remote_group_id: remote,
        description: String::new(),
        revision_number: 1,
        created_at: g.created_at,
        updated_at: g.created_at,
    };
    let mut rules = vec![rule("egress", "IPv4", None), rule("egress", "IPv6", None)];
    if default {
        rules.push(rule("ingress", "IPv4", Some(g.uuid.clone())));
        rules.push(rule("ingress", "IPv6", Some(g.uuid.clone())));
    }
    rules
}

/// The project's `default` group, made with Neutron's default rules the
/// first time it is asked for. Concurrent first calls agree on one group:
/// each claims the project in `default_security_groups`, whose primary key
/// lets one claim through; on PostgreSQL the others wait for it to commit,
/// fail with a duplicate, and read the winner's group. The claim runs in a
/// savepoint so that a lost race leaves the caller's transaction usable.
pub fn default_group(c: &mut DbConn, project_id: &str) -> StorageResult<String> {
    if let Some(id) = default_of(c, project_id)? {
        return Ok(id);
    }
    let t = now();
    let g = SecurityGroup {
        uuid: uuid::Uuid::new_v4().to_string(),
        name: "default".into(),
        description: "Default security group".into(),
        project_id: project_id.to_string(),
        stateful: true,
        revision_number: 1,
        created_at: t,
        updated_at: t,
    };
    let rules = template_rules(&g, true);
    let made = c.transaction(|c| {
        group_insert(c, &g, &rules)?;
        diesel::insert_into(default_security_groups::table)
            .values((
                default_security_groups::project_id.eq(project_id),
                default_security_groups::security_group_uuid.eq(&g.uuid),
            ))
            .execute(c)?;
        Ok::<_, StorageError>(())
    });
    match made {
        Ok(()) => Ok(g.uuid),
        Err(StorageError::Duplicate(_)) => default_of(c, project_id)?.ok_or_else(|| {
            StorageError::Conflict(format!("the default security group of {project_id} was deleted meanwhile"))
        }),
        Err(e) => Err(e),
    }
}

// ---- rules ---------------------------------------------------------------------

pub fn rule(c: &mut DbConn, uuid: &str) -> StorageResult<Rule> {
    found(
        security_group_rules::table.filter(security_group_rules::uuid.eq(uuid)).select(Rule::as_select()).first(c),
        "security_group_rule",
        uuid,
    )
}

pub fn rules_of(c: &mut DbConn, group_uuids: &[String]) -> StorageResult<Vec<Rule>> {
    Ok(security_group_rules::table
        .filter(security_group_rules::security_group_uuid.eq_any(group_uuids))
        .select(Rule::as_select())
        .order(security_group_rules::id)
        .load(c)?)
}

/// Rules a project may see: its own and those of its groups (every rule
/// when `None`).
pub fn rules_visible(c: &mut DbConn, project: Option<&str>) -> StorageResult<Vec<Rule>> {
    let mut q = security_group_rules::table.select(Rule::as_select()).order(security_group_rules::id).into_boxed();
    if let Some(p) = project {
        let groups =
            security_groups::table.filter(security_groups::project_id.eq(p.to_string())).select(security_groups::uuid);
        q = q.filter(
            security_group_rules::project_id
                .eq(p.to_string())
                .or(security_group_rules::security_group_uuid.eq_any(groups)),
        );
    }
    Ok(q.load(c)?)
}

pub fn rule_insert(c: &mut DbConn, r: &Rule) -> StorageResult<()> {
    diesel::insert_into(security_group_rules::table).values(r).execute(c)?;
    group_revise(c, &r.security_group_uuid)
}

pub fn rule_delete(c: &mut DbConn, uuid: &str) -> StorageResult<()> {
    let r = rule(c, uuid)?;
    diesel::delete(security_group_rules::table.filter(security_group_rules::uuid.eq(uuid))).execute(c)?;
    group_revise(c, &r.security_group_uuid)
}

// ---- quotas --------------------------------------------------------------------

/// The resources with quotas and Neutron's default limits (-1 = unlimited).
pub const QUOTA_DEFAULTS: &[(&str, i64)] =
    &[("network", 100), ("subnet", 100), ("port", 500), ("security_group", 10), ("security_group_rule", 100)];

/// A project's limits: its own where set, the defaults elsewhere.
pub fn quota_limits(c: &mut DbConn, project_id: &str) -> StorageResult<Vec<(&'static str, i64)>> {
    let set: Vec<Quota> = quotas::table.filter(quotas::project_id.eq(project_id)).select(Quota::as_select()).load(c)?;
    Ok(QUOTA_DEFAULTS
        .iter()
        .map(|(r, d)| (*r, set.iter().find(|q| q.resource == *r).map_or(*d, |q| q.hard_limit)))
        .collect())
}

/// Every limit set for some project.
pub fn quotas_set(c: &mut DbConn) -> StorageResult<Vec<Quota>> {
    Ok(quotas::table.select(Quota::as_select()).order((quotas::project_id, quotas::resource)).load(c)?)
}

/// Sets one limit. `ON CONFLICT` is not offered over both backends, so:
/// update, else insert (in a savepoint), else a concurrent insert won and
/// the update applies to its row.
pub fn quota_set(c: &mut DbConn, q: &Quota) -> StorageResult<()> {
    let update = |c: &mut DbConn| {
        diesel::update(
            quotas::table.filter(quotas::project_id.eq(&q.project_id)).filter(quotas::resource.eq(&q.resource)),
        )
        .set(quotas::hard_limit.eq(q.hard_limit))
        .execute(c)
    };
    if update(c)? > 0 {
        return Ok(());
    }
    match c.transaction(|c| diesel::insert_into(quotas::table).values(q).execute(c).map_err(StorageError::from)) {
        Ok(_) => Ok(()),
        Err(StorageError::Duplicate(_)) => update(c).map(|_| ()).map_err(StorageError::from),
        Err(e) => Err(e),
    }
}

/// Back to the defaults; `false` when the project had no limits of its own.
pub fn quota_reset(c: &mut DbConn, project_id: &str) -> StorageResult<bool> {
    Ok(diesel::delete(quotas::table.filter(quotas::project_id.eq(project_id))).execute(c)? > 0)
}

/// How many of `resource` the project has.
pub fn usage(c: &mut DbConn, project_id: &str, resource: &str) -> StorageResult<i64> {
    let p = project_id.to_string();
    Ok(match resource {
        "network" => networks::table.filter(networks::project_id.eq(p)).count().get_result(c)?,
        "subnet" => subnets::table.filter(subnets::project_id.eq(p)).count().get_result(c)?,
        "port" => ports::table.filter(ports::project_id.eq(p)).count().get_result(c)?,
        "security_group" => security_groups::table.filter(security_groups::project_id.eq(p)).count().get_result(c)?,
        "security_group_rule" => {
            security_group_rules::table.filter(security_group_rules::project_id.eq(p)).count().get_result(c)?
        }
        other => return Err(StorageError::Database(format!("no quota resource {other}"))),
    })
}

/// Refuses (`OverQuota`) one more `resource` for the project when it has
/// reached its limit. Call it in the transaction that creates the resource:
/// on PostgreSQL it first takes a transaction-scoped lock on (project,
/// resource), so that concurrent creations are counted one after the
/// other and cannot together exceed the limit; SQLite has one writer anyway.
pub fn quota_check(c: &mut DbConn, project_id: &str, resource: &str) -> StorageResult<()> {
    if let DbConn::Postgresql(pg) = c {
        diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext($1))")
            .bind::<diesel::sql_types::Text, _>(format!("quota/{project_id}/{resource}"))
            .execute(pg)?;
    }
    let limit = quota_limits(c, project_id)?.into_iter().find(|(r, _)| *r == resource).map_or(-1, |(_, l)| l);
    if limit >= 0 && usage(c, project_id, resource)? >= limit {
        return Err(StorageError::refused("OverQuota", format!("Quota exceeded for resources: ['{resource}'].")));
    }
    Ok(())
}
