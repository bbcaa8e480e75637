//! Compute instances (bare-metal servers) and per-project compute quotas.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::baremetal::Node;
use super::{DbConn, StorageError, StorageResult, found};

diesel::table! {
    servers (id) {
        id -> BigInt,
        uuid -> Text,
        name -> Text,
        project_id -> Text,
        user_id -> Text,
        flavor -> Text,
        image_uuid -> Nullable<Text>,
        key_name -> Nullable<Text>,
        key_data -> Nullable<Text>,
        user_data -> Nullable<Text>,
        config_drive -> Bool,
        metadata -> Text,
        availability_zone -> Nullable<Text>,
        requested_networks -> Text,
        ports -> Text,
        vm_state -> Text,
        task_state -> Nullable<Text>,
        power_state -> Integer,
        node_uuid -> Nullable<Text>,
        fault -> Nullable<Text>,
        description -> Nullable<Text>,
        hostname -> Text,
        reservation_id -> Text,
        launched_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    server_usage (uuid) {
        uuid -> Text,
        project_id -> Text,
        name -> Text,
        flavor -> Text,
        created_at -> Timestamp,
        launched_at -> Nullable<Timestamp>,
        terminated_at -> Timestamp,
    }
}

diesel::table! {
    compute_quotas (project_id, resource) {
        project_id -> Text,
        resource -> Text,
        hard_limit -> BigInt,
    }
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = servers, treat_none_as_null = true)]
pub struct Server {
    #[diesel(skip_insertion, skip_update)]
    pub id: i64,
    pub uuid: String,
    pub name: String,
    pub project_id: String,
    pub user_id: String,
    pub flavor: String,
    pub image_uuid: Option<String>,
    pub key_name: Option<String>,
    pub key_data: Option<String>,
    pub user_data: Option<String>,
    pub config_drive: bool,
    pub metadata: String,
    pub availability_zone: Option<String>,
    pub requested_networks: String,
    pub ports: String,
    pub vm_state: String,
    pub task_state: Option<String>,
    pub power_state: i32,
    pub node_uuid: Option<String>,
    pub fault: Option<String>,
    pub description: Option<String>,
    pub hostname: String,
    pub reservation_id: String,
    pub launched_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: Option<NaiveDateTime>,
}

pub fn server(c: &mut DbConn, uuid: &str) -> StorageResult<Server> {
    found(servers::table.filter(servers::uuid.eq(uuid)).select(Server::as_select()).first(c), "server", uuid)
}

pub fn server_of_node(c: &mut DbConn, node_uuid: &str) -> StorageResult<Option<Server>> {
    Ok(servers::table.filter(servers::node_uuid.eq(node_uuid)).select(Server::as_select()).first(c).optional()?)
}

pub fn server_insert(c: &mut DbConn, s: &Server) -> StorageResult<()> {
    diesel::insert_into(servers::table).values(s).execute(c)?;
    Ok(())
}

pub fn server_update(c: &mut DbConn, s: &Server) -> StorageResult<()> {
    let n = diesel::update(servers::table.filter(servers::uuid.eq(&s.uuid))).set(s).execute(c)?;
    if n == 0 {
        return Err(StorageError::not_found("server", s.uuid.clone()));
    }
    Ok(())
}

/// Removes a server, keeping what it used for the usage report.
pub fn server_delete(c: &mut DbConn, uuid: &str) -> StorageResult<()> {
    let Some(s) = servers::table.filter(servers::uuid.eq(uuid)).select(Server::as_select()).first(c).optional()? else {
        return Ok(());
    };
    diesel::delete(server_usage::table.filter(server_usage::uuid.eq(uuid))).execute(c)?;
    diesel::insert_into(server_usage::table)
        .values((
            server_usage::uuid.eq(&s.uuid),
            server_usage::project_id.eq(&s.project_id),
            server_usage::name.eq(&s.name),
            server_usage::flavor.eq(&s.flavor),
            server_usage::created_at.eq(s.created_at),
            server_usage::launched_at.eq(s.launched_at),
            server_usage::terminated_at.eq(chrono::Utc::now().naive_utc()),
        ))
        .execute(c)?;
    super::server_groups::member_remove(c, uuid)?;
    diesel::delete(servers::table.filter(servers::uuid.eq(uuid))).execute(c)?;
    Ok(())
}

/// One server's life for the usage report: a live server, or what a deleted
/// one left behind.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageRecord {
    pub uuid: String,
    pub project_id: String,
    pub name: String,
    /// JSON, as in `servers.flavor`.
    pub flavor: String,
    pub created_at: NaiveDateTime,
    pub launched_at: Option<NaiveDateTime>,
    pub terminated_at: Option<NaiveDateTime>,
    /// `deleted` for a server that is gone.
    pub vm_state: String,
}

/// Servers alive at some time in `[start, end)`, of one project or of all,
/// ordered by creation then id (the order the report pages in).
pub fn usage_in(
    c: &mut DbConn,
    project_id: Option<&str>,
    start: NaiveDateTime,
    end: NaiveDateTime,
) -> StorageResult<Vec<UsageRecord>> {
    let mut live = servers::table.filter(servers::created_at.lt(end)).into_boxed();
    let mut gone = server_usage::table
        .filter(server_usage::created_at.lt(end))
        .filter(server_usage::terminated_at.ge(start))
        .into_boxed();
    if let Some(p) = project_id {
        live = live.filter(servers::project_id.eq(p.to_string()));
        gone = gone.filter(server_usage::project_id.eq(p.to_string()));
    }
    type Row = (String, String, String, String, NaiveDateTime, Option<NaiveDateTime>);
    let live: Vec<(Row, String)> = live
        .select((
            (
                servers::uuid,
                servers::project_id,
                servers::name,
                servers::flavor,
                servers::created_at,
                servers::launched_at,
            ),
            servers::vm_state,
        ))
        .load(c)?;
    let gone: Vec<(Row, NaiveDateTime)> = gone
        .select((
            (
                server_usage::uuid,
                server_usage::project_id,
                server_usage::name,
                server_usage::flavor,
                server_usage::created_at,
                server_usage::launched_at,
            ),
            server_usage::terminated_at,
        ))
        .load(c)?;
    let record = |(uuid, project_id, name, flavor, created_at, launched_at): Row, terminated_at, vm_state| {
        UsageRecord { uuid, project_id, name, flavor, created_at, launched_at, terminated_at, vm_state }
    };
    let mut out: Vec<UsageRecord> = live
        .into_iter()
        .map(|(r, state)| record(r, None, state))
        .chain(gone.into_iter().map(|(r, t)| record(r, Some(t), "deleted".into())))
        .collect();
    out.sort_by(|a, b| (a.created_at, &a.uuid).cmp(&(b.created_at, &b.uuid)));
    Ok(out)
}

/// What a server list asks for; filters the SQL can apply.
#[derive(Debug, Default, Clone)]
pub struct ServerFilter {
    /// Only this project's servers (`None`: every project, for admins).
    pub project_id: Option<String>,
    pub vm_states: Option<Vec<String>>,
    pub image_uuid: Option<String>,
    pub node_uuid: Option<String>,
    pub user_id: Option<String>,
}

/// Servers matching `f`, newest first (as Nova lists them).
pub fn servers_list(c: &mut DbConn, f: &ServerFilter) -> StorageResult<Vec<Server>> {
    let mut q = servers::table.select(Server::as_select()).into_boxed();
    if let Some(p) = &f.project_id {
        q = q.filter(servers::project_id.eq(p.clone()));
    }
    if let Some(v) = &f.vm_states {
        q = q.filter(servers::vm_state.eq_any(v.clone()));
    }
    if let Some(i) = &f.image_uuid {
        q = q.filter(servers::image_uuid.eq(i.clone()));
    }
    if let Some(n) = &f.node_uuid {
        q = q.filter(servers::node_uuid.eq(n.clone()));
    }
    if let Some(u) = &f.user_id {
        q = q.filter(servers::user_id.eq(u.clone()));
    }
    Ok(q.order((servers::created_at.desc(), servers::id.desc())).load(c)?)
}

/// Servers whose work is not settled: building, or being deleted.
pub fn servers_unsettled(c: &mut DbConn) -> StorageResult<Vec<Server>> {
    Ok(servers::table
        .filter(servers::vm_state.eq("building").or(servers::task_state.is_not_null()))
        .select(Server::as_select())
        .load(c)?)
}

/// `(instances, cores, ram MiB)` a project's servers use.
pub fn usage(c: &mut DbConn, project_id: &str) -> StorageResult<(i64, i64, i64)> {
    let flavors: Vec<String> =
        servers::table.filter(servers::project_id.eq(project_id)).select(servers::flavor).load(c)?;
    let mut out = (flavors.len() as i64, 0, 0);
    for f in flavors {
        let v: serde_json::Value = serde_json::from_str(&f).unwrap_or_default();
        out.1 += v["vcpus"].as_i64().unwrap_or(0);
        out.2 += v["ram"].as_i64().unwrap_or(0);
    }
    Ok(out)
}

// ---- quotas --------------------------------------------------------------------

/// The limits an admin set for a project.
pub fn quotas_of(c: &mut DbConn, project_id: &str) -> StorageResult<Vec<(String, i64)>> {
    Ok(compute_quotas::table
        .filter(compute_quotas::project_id.eq(project_id))
        .select((compute_quotas::resource, compute_quotas::hard_limit))
        .load(c)?)
}

pub fn quota_set(c: &mut DbConn, project_id: &str, resource: &str, limit: i64) -> StorageResult<()> {
    let n = diesel::update(
        compute_quotas::table
            .filter(compute_quotas::project_id.eq(project_id))
            .filter(compute_quotas::resource.eq(resource)),
    )
    .set(compute_quotas::hard_limit.eq(limit))
    .execute(c)?;
    if n == 0 {
        diesel::insert_into(compute_quotas::table)
            .values((
                compute_quotas::project_id.eq(project_id),
                compute_quotas::resource.eq(resource),
                compute_quotas::hard_limit.eq(limit),
            ))
            .execute(c)?;
    }
    Ok(())
}

pub fn quotas_reset(c: &mut DbConn, project_id: &str) -> StorageResult<()> {
    diesel::delete(compute_quotas::table.filter(compute_quotas::project_id.eq(project_id))).execute(c)?;
    Ok(())
}

// ---- scheduling ----------------------------------------------------------------

/// Nodes that may take an instance: `available`, powered, out of
/// maintenance, not retired, without instance or allocation, unlocked.
pub fn schedulable_nodes(c: &mut DbConn) -> StorageResult<Vec<Node>> {
    use super::schema::nodes;
    Ok(nodes::table
        .select(Node::as_select())
        .filter(nodes::provision_state.eq("available"))
        .filter(nodes::maintenance.eq(false))
        .filter(nodes::retired.eq(false))
        .filter(nodes::power_state.is_not_null())
        .filter(nodes::instance_uuid.is_null())
        .filter(nodes::allocation_uuid.is_null())
        .filter(nodes::reservation.is_null())
        .order(nodes::id)
        .load(c)?)
}
