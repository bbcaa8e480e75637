//! Server groups and their members.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{DbConn, StorageError, StorageResult, found};

diesel::table! {
    server_groups (uuid) {
        uuid -> Text,
        name -> Text,
        project_id -> Text,
        user_id -> Text,
        policy -> Text,
        rules -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    server_group_members (group_uuid, server_uuid) {
        group_uuid -> Text,
        server_uuid -> Text,
    }
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = server_groups)]
pub struct ServerGroup {
    pub uuid: String,
    pub name: String,
    pub project_id: String,
    pub user_id: String,
    /// `affinity`, `anti-affinity`, `soft-affinity` or `soft-anti-affinity`.
    pub policy: String,
    /// JSON object.
    pub rules: String,
    pub created_at: NaiveDateTime,
}

pub fn group(c: &mut DbConn, uuid: &str) -> StorageResult<ServerGroup> {
    found(
        server_groups::table.filter(server_groups::uuid.eq(uuid)).select(ServerGroup::as_select()).first(c),
        "server group",
        uuid,
    )
}

/// Groups of one project (or of all), oldest first.
pub fn groups_list(c: &mut DbConn, project_id: Option<&str>) -> StorageResult<Vec<ServerGroup>> {
    let mut q = server_groups::table.select(ServerGroup::as_select()).into_boxed();
    if let Some(p) = project_id {
        q = q.filter(server_groups::project_id.eq(p.to_string()));
    }
    Ok(q.order((server_groups::created_at.asc(), server_groups::uuid.asc())).load(c)?)
}

/// Stores a group unless its project already holds `quota` of them.
pub fn group_insert(c: &mut DbConn, g: &ServerGroup, quota: i64) -> StorageResult<()> {
    let held: i64 = server_groups::table.filter(server_groups::project_id.eq(&g.project_id)).count().get_result(c)?;
    if held >= quota {
        return Err(StorageError::refused("QuotaExceeded", "Quota exceeded, too many server groups."));
    }
    diesel::insert_into(server_groups::table).values(g).execute(c)?;
    Ok(())
}

pub fn group_delete(c: &mut DbConn, uuid: &str) -> StorageResult<()> {
    diesel::delete(server_group_members::table.filter(server_group_members::group_uuid.eq(uuid))).execute(c)?;
    let n = diesel::delete(server_groups::table.filter(server_groups::uuid.eq(uuid))).execute(c)?;
    if n == 0 {
        return Err(StorageError::not_found("server group", uuid));
    }
    Ok(())
}

/// The servers of a group, in the order they joined.
pub fn members(c: &mut DbConn, group_uuid: &str) -> StorageResult<Vec<String>> {
    Ok(server_group_members::table
        .filter(server_group_members::group_uuid.eq(group_uuid))
        .select(server_group_members::server_uuid)
        .order(server_group_members::server_uuid.asc())
        .load(c)?)
}

/// Adds a server to a group unless the group is full (`quota` members).
pub fn member_add(c: &mut DbConn, group_uuid: &str, server_uuid: &str, quota: i64) -> StorageResult<()> {
    let held: i64 =
        server_group_members::table.filter(server_group_members::group_uuid.eq(group_uuid)).count().get_result(c)?;
    if held >= quota {
        return Err(StorageError::refused("QuotaExceeded", "Quota exceeded, too many servers in group"));
    }
    diesel::insert_into(server_group_members::table)
        .values((server_group_members::group_uuid.eq(group_uuid), server_group_members::server_uuid.eq(server_uuid)))
        .execute(c)?;
    Ok(())
}

/// The group a server belongs to, if any.
pub fn group_of(c: &mut DbConn, server_uuid: &str) -> StorageResult<Option<String>> {
    Ok(server_group_members::table
        .filter(server_group_members::server_uuid.eq(server_uuid))
        .select(server_group_members::group_uuid)
        .first(c)
        .optional()?)
}

/// A deleted server leaves its group.
pub fn member_remove(c: &mut DbConn, server_uuid: &str) -> StorageResult<()> {
    diesel::delete(server_group_members::table.filter(server_group_members::server_uuid.eq(server_uuid))).execute(c)?;
    Ok(())
}
