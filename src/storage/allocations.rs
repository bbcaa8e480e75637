//! Allocation rows and queries, the node queries the allocation scheduler
//! needs, and the per-shard node counts behind `GET /v1/shards`.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::baremetal::{Node, Page};
use super::schema::*;
use super::{DbConn, StorageError, StorageResult};
use super::{found, order_by};

diesel::table! {
    allocations (id) {
        id -> BigInt,
        uuid -> Text,
        name -> Nullable<Text>,
        node_uuid -> Nullable<Text>,
        state -> Text,
        owner -> Nullable<Text>,
        last_error -> Nullable<Text>,
        resource_class -> Nullable<Text>,
        traits -> Text,
        candidate_nodes -> Text,
        extra -> Text,
        created_at -> Timestamp,
        updated_at -> Nullable<Timestamp>,
    }
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = allocations, treat_none_as_null = true)]
pub struct Allocation {
    pub uuid: String,
    pub name: Option<String>,
    /// The reserved node, once the allocation is active.
    pub node_uuid: Option<String>,
    /// `allocating`, `active` or `error`.
    pub state: String,
    pub owner: Option<String>,
    pub last_error: Option<String>,
    pub resource_class: Option<String>,
    /// JSON list of trait names.
    pub traits: String,
    /// JSON list of node UUIDs.
    pub candidate_nodes: String,
    pub extra: String,
    pub created_at: NaiveDateTime,
    pub updated_at: Option<NaiveDateTime>,
}

// ---- allocations ---------------------------------------------------------------

pub fn allocation(c: &mut DbConn, uuid: &str) -> StorageResult<Allocation> {
    found(
        allocations::table.filter(allocations::uuid.eq(uuid)).select(Allocation::as_select()).first(c),
        "allocation",
        uuid,
    )
}

pub fn allocation_by_name(c: &mut DbConn, name: &str) -> StorageResult<Option<Allocation>> {
    Ok(allocations::table.filter(allocations::name.eq(name)).select(Allocation::as_select()).first(c).optional()?)
}

/// The allocation holding `node_uuid`, if any (the oldest, should there be
/// several).
pub fn allocation_of_node(c: &mut DbConn, node_uuid: &str) -> StorageResult<Option<Allocation>> {
    Ok(allocations::table
        .filter(allocations::node_uuid.eq(node_uuid))
        .select(Allocation::as_select())
        .order(allocations::id)
        .first(c)
        .optional()?)
}

pub fn allocation_insert(c: &mut DbConn, a: &Allocation) -> StorageResult<()> {
    diesel::insert_into(allocations::table).values(a).execute(c)?;
    Ok(())
}

pub fn allocation_update(c: &mut DbConn, a: &Allocation) -> StorageResult<()> {
    let n = diesel::update(allocations::table.filter(allocations::uuid.eq(&a.uuid))).set(a).execute(c)?;
    if n == 0 { Err(StorageError::not_found("allocation", &a.uuid)) } else { Ok(()) }
}

pub fn allocation_delete(c: &mut DbConn, uuid: &str) -> StorageResult<()> {
    let n = diesel::delete(allocations::table.filter(allocations::uuid.eq(uuid))).execute(c)?;
    if n == 0 { Err(StorageError::not_found("allocation", uuid)) } else { Ok(()) }
}

#[derive(Debug, Default, Clone)]
pub struct AllocationFilter {
    pub node_uuid: Option<String>,
    pub resource_class: Option<String>,
    pub state: Option<String>,
    pub owner: Option<String>,
}

pub fn allocations_list(c: &mut DbConn, f: &AllocationFilter, page: &Page) -> StorageResult<Vec<Allocation>> {
    let mut q = allocations::table.select(Allocation::as_select()).into_boxed();
    if let Some(v) = &f.node_uuid {
        q = q.filter(allocations::node_uuid.eq(v.clone()));
    }
    if let Some(v) = &f.resource_class {
        q = q.filter(allocations::resource_class.eq(v.clone()));
    }
    if let Some(v) = &f.state {
        q = q.filter(allocations::state.eq(v.clone()));
    }
    if let Some(v) = &f.owner {
        q = q.filter(allocations::owner.eq(v.clone()));
    }
    if let Some(m) = &page.marker {
        allocation(c, m)?;
        q = q.filter(after_marker!("allocations", page, m.clone()));
    }
    Ok(q.order(order_by("allocations", page.sort, page.desc)).limit(page.limit).load(c)?)
}

/// Removes the allocation of a node (tear-down, node deletion): the node
/// loses `allocation_uuid` and `instance_uuid` (its row version moves on, so
/// stale copies of it no longer write), and the allocation row goes.
/// Returns the removed allocation's UUID.
pub fn allocation_release_node(c: &mut DbConn, node_uuid: &str) -> StorageResult<Option<String>> {
    let held: Option<String> =
        nodes::table.filter(nodes::uuid.eq(node_uuid)).select(nodes::allocation_uuid).first(c).optional()?.flatten();
    if let Some(a) = &held {
        diesel::update(nodes::table.filter(nodes::uuid.eq(node_uuid)))
            .set((
                nodes::allocation_uuid.eq(None::<String>),
                nodes::instance_uuid.eq(None::<String>),
                nodes::row_version.eq(nodes::row_version + 1),
            ))
            .execute(c)?;
        diesel::delete(allocations::table.filter(allocations::uuid.eq(a))).execute(c)?;
    }
    diesel::delete(allocations::table.filter(allocations::node_uuid.eq(node_uuid))).execute(c)?;
    Ok(held)
}

/// Deletes the allocation rows of a node, leaving the node row alone: for
/// callers that are about to write the node themselves (clearing its
/// `allocation_uuid` and `instance_uuid`) in the same transaction.
pub fn allocations_delete_of_node(c: &mut DbConn, node_uuid: &str) -> StorageResult<usize> {
    Ok(diesel::delete(allocations::table.filter(allocations::node_uuid.eq(node_uuid))).execute(c)?)
}

// ---- scheduling ----------------------------------------------------------------

/// What a node must be to take a new allocation.
#[derive(Debug, Default, Clone)]
pub struct CandidateFilter {
    pub resource_class: Option<String>,
    /// Only these node UUIDs (when set).
    pub uuids: Option<Vec<String>>,
    /// Only nodes this project owns or leases (when set).
    pub project: Option<String>,
}

/// Nodes that are `available`, powered (a known power state), out of
/// maintenance, not retired and unassociated, matching `f`.
pub fn allocation_candidates(c: &mut DbConn, f: &CandidateFilter) -> StorageResult<Vec<Node>> {
    let mut q = nodes::table
        .select(Node::as_select())
        .filter(nodes::provision_state.eq("available"))
        .filter(nodes::maintenance.eq(false))
        .filter(nodes::retired.eq(false))
        .filter(nodes::power_state.is_not_null())
        .filter(nodes::instance_uuid.is_null())
        .filter(nodes::allocation_uuid.is_null())
        .into_boxed();
    match &f.resource_class {
        Some(rc) => q = q.filter(nodes::resource_class.eq(rc.clone())),
        None => q = q.filter(nodes::resource_class.is_null()),
    }
    if let Some(u) = &f.uuids {
        q = q.filter(nodes::uuid.eq_any(u.clone()));
    }
    if let Some(p) = &f.project {
        q = q.filter(nodes::owner.eq(p.clone()).or(nodes::lessee.eq(p.clone())));
    }
    Ok(q.order(nodes::id).load(c)?)
}

/// `(uuid, name)` of the nodes whose UUID is in `uuids` or name in `names`,
/// restricted to nodes `project` owns or leases when set.
pub fn nodes_named(
    c: &mut DbConn,
    uuids: &[String],
    names: &[String],
    project: Option<&str>,
) -> StorageResult<Vec<(String, Option<String>)>> {
    let mut q = nodes::table
        .select((nodes::uuid, nodes::name))
        .filter(nodes::uuid.eq_any(uuids.to_vec()).or(nodes::name.eq_any(names.to_vec())))
        .into_boxed();
    if let Some(p) = project {
        q = q.filter(nodes::owner.eq(p.to_string()).or(nodes::lessee.eq(p.to_string())));
    }
    Ok(q.load(c)?)
}

// ---- shards --------------------------------------------------------------------

/// Node counts per shard (`None`: nodes without a shard), largest first.
pub fn shard_counts(c: &mut DbConn) -> StorageResult<Vec<(Option<String>, i64)>> {
    let mut rows: Vec<(Option<String>, i64)> =
        nodes::table.group_by(nodes::shard).select((nodes::shard, diesel::dsl::count_star())).load(c)?;
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(rows)
}
