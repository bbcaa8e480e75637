//! Volume connectors and volume targets of bare-metal nodes.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::baremetal::Page;
use super::schema::nodes;
use super::{DbConn, StorageError, StorageResult};
use super::{found, order_by};

diesel::table! {
    volume_connectors (id) {
        id -> BigInt,
        uuid -> Text,
        node_uuid -> Text,
        connector_type -> Text,
        connector_id -> Text,
        extra -> Text,
        created_at -> Timestamp,
        updated_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    volume_targets (id) {
        id -> BigInt,
        uuid -> Text,
        node_uuid -> Text,
        volume_type -> Text,
        properties -> Text,
        boot_index -> BigInt,
        volume_id -> Text,
        extra -> Text,
        created_at -> Timestamp,
        updated_at -> Nullable<Timestamp>,
    }
}

/// How a node attaches to storage: `type` (iqn, wwpn, …) and its identifier.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = volume_connectors, treat_none_as_null = true)]
pub struct Connector {
    pub uuid: String,
    pub node_uuid: String,
    pub connector_type: String,
    pub connector_id: String,
    /// JSON object.
    pub extra: String,
    pub created_at: NaiveDateTime,
    pub updated_at: Option<NaiveDateTime>,
}

/// A volume a node boots from or attaches, ordered by `boot_index`.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = volume_targets, treat_none_as_null = true)]
pub struct Target {
    pub uuid: String,
    pub node_uuid: String,
    pub volume_type: String,
    /// JSON object.
    pub properties: String,
    pub boot_index: i64,
    pub volume_id: String,
    /// JSON object.
    pub extra: String,
    pub created_at: NaiveDateTime,
    pub updated_at: Option<NaiveDateTime>,
}

/// What a connector or target list is restricted to.
#[derive(Debug, Default, Clone)]
pub struct VolumeFilter {
    pub node_uuid: Option<String>,
    /// Only objects of nodes this project owns or leases.
    pub project: Option<String>,
}

fn project_nodes(c: &mut DbConn, project: &str) -> StorageResult<Vec<String>> {
    Ok(nodes::table
        .filter(nodes::owner.eq(project.to_string()).or(nodes::lessee.eq(project.to_string())))
        .select(nodes::uuid)
        .load(c)?)
}

/// Removes a node's connectors and targets (part of deleting the node).
pub fn delete_for_node(c: &mut DbConn, node_uuid: &str) -> StorageResult<()> {
    diesel::delete(volume_connectors::table.filter(volume_connectors::node_uuid.eq(node_uuid))).execute(c)?;
    diesel::delete(volume_targets::table.filter(volume_targets::node_uuid.eq(node_uuid))).execute(c)?;
    Ok(())
}

// ---- connectors --------------------------------------------------------------

pub fn connector(c: &mut DbConn, uuid: &str) -> StorageResult<Connector> {
    found(
        volume_connectors::table.filter(volume_connectors::uuid.eq(uuid)).select(Connector::as_select()).first(c),
        "Volume connector",
        uuid,
    )
}

pub fn connector_by_type_and_id(c: &mut DbConn, kind: &str, id: &str) -> StorageResult<Option<Connector>> {
    Ok(volume_connectors::table
        .filter(volume_connectors::connector_type.eq(kind))
        .filter(volume_connectors::connector_id.eq(id))
        .select(Connector::as_select())
        .first(c)
        .optional()?)
}

pub fn connector_insert(c: &mut DbConn, v: &Connector) -> StorageResult<()> {
    diesel::insert_into(volume_connectors::table).values(v).execute(c)?;
    Ok(())
}

pub fn connector_update(c: &mut DbConn, v: &Connector) -> StorageResult<()> {
    let n = diesel::update(volume_connectors::table.filter(volume_connectors::uuid.eq(&v.uuid))).set(v).execute(c)?;
    if n == 0 { Err(StorageError::not_found("Volume connector", &v.uuid)) } else { Ok(()) }
}

pub fn connector_delete(c: &mut DbConn, uuid: &str) -> StorageResult<()> {
    let n = diesel::delete(volume_connectors::table.filter(volume_connectors::uuid.eq(uuid))).execute(c)?;
    if n == 0 { Err(StorageError::not_found("Volume connector", uuid)) } else { Ok(()) }
}

/// `page.sort` is a whitelisted expression over `volume_connectors` columns.
pub fn connectors_list(c: &mut DbConn, f: &VolumeFilter, page: &Page) -> StorageResult<Vec<Connector>> {
    let mut q = volume_connectors::table.select(Connector::as_select()).into_boxed();
    if let Some(n) = &f.node_uuid {
        q = q.filter(volume_connectors::node_uuid.eq(n.clone()));
    }
    if let Some(p) = &f.project {
        q = q.filter(volume_connectors::node_uuid.eq_any(project_nodes(c, p)?));
    }
    if let Some(m) = &page.marker {
        connector(c, m)?;
        q = q.filter(after_marker!("volume_connectors", page, m.clone()));
    }
    Ok(q.order(order_by("volume_connectors", page.sort, page.desc)).limit(page.limit).load(c)?)
}

// ---- targets -------------------------------------------------------------------

pub fn target(c: &mut DbConn, uuid: &str) -> StorageResult<Target> {
    found(
        volume_targets::table.filter(volume_targets::uuid.eq(uuid)).select(Target::as_select()).first(c),
        "Volume target",
        uuid,
    )
}

pub fn target_by_boot_index(c: &mut DbConn, node_uuid: &str, boot_index: i64) -> StorageResult<Option<Target>> {
    Ok(volume_targets::table
        .filter(volume_targets::node_uuid.eq(node_uuid))
        .filter(volume_targets::boot_index.eq(boot_index))
        .select(Target::as_select())
        .first(c)
        .optional()?)
}

pub fn target_insert(c: &mut DbConn, v: &Target) -> StorageResult<()> {
    diesel::insert_into(volume_targets::table).values(v).execute(c)?;
    Ok(())
}

pub fn target_update(c: &mut DbConn, v: &Target) -> StorageResult<()> {
    let n = diesel::update(volume_targets::table.filter(volume_targets::uuid.eq(&v.uuid))).set(v).execute(c)?;
    if n == 0 { Err(StorageError::not_found("Volume target", &v.uuid)) } else { Ok(()) }
}

pub fn target_delete(c: &mut DbConn, uuid: &str) -> StorageResult<()> {
    let n = diesel::delete(volume_targets::table.filter(volume_targets::uuid.eq(uuid))).execute(c)?;
    if n == 0 { Err(StorageError::not_found("Volume target", uuid)) } else { Ok(()) }
}

/// `page.sort` is a whitelisted expression over `volume_targets` columns.
pub fn targets_list(c: &mut DbConn, f: &VolumeFilter, page: &Page) -> StorageResult<Vec<Target>> {
    let mut q = volume_targets::table.select(Target::as_select()).into_boxed();
    if let Some(n) = &f.node_uuid {
        q = q.filter(volume_targets::node_uuid.eq(n.clone()));
    }
    if let Some(p) = &f.project {
        q = q.filter(volume_targets::node_uuid.eq_any(project_nodes(c, p)?));
    }
    if let Some(m) = &page.marker {
        target(c, m)?;
        q = q.filter(after_marker!("volume_targets", page, m.clone()));
    }
    Ok(q.order(order_by("volume_targets", page.sort, page.desc)).limit(page.limit).load(c)?)
}
