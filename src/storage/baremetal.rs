//! Bare-metal rows and queries: nodes, ports, portgroups, chassis, node
//! history and conductors.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::*;
use super::{DbConn, StorageError, StorageResult};
use super::{found, order_by};

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = nodes, treat_none_as_null = true)]
pub struct Node {
    pub uuid: String,
    /// Bumped on every update; an update of a stale copy changes nothing.
    #[diesel(skip_update)]
    pub row_version: i64,
    pub name: Option<String>,
    pub driver: String,
    pub driver_info: String,
    pub driver_internal_info: String,
    pub properties: String,
    pub extra: String,
    pub instance_info: String,
    pub instance_uuid: Option<String>,
    pub instance_name: Option<String>,
    pub chassis_uuid: Option<String>,
    pub provision_state: String,
    pub target_provision_state: Option<String>,
    pub provision_updated_at: Option<NaiveDateTime>,
    pub power_state: Option<String>,
    pub target_power_state: Option<String>,
    pub maintenance: bool,
    pub maintenance_reason: Option<String>,
    pub fault: Option<String>,
    pub reservation: Option<String>,
    pub last_error: Option<String>,
    pub console_enabled: bool,
    /// JSON object: interface kind → implementation name.
    pub interfaces: String,
    pub resource_class: Option<String>,
    pub conductor_group: String,
    pub automated_clean: Option<bool>,
    pub protected: bool,
    pub protected_reason: Option<String>,
    pub owner: Option<String>,
    pub lessee: Option<String>,
    pub description: Option<String>,
    pub retired: bool,
    pub retired_reason: Option<String>,
    pub network_data: String,
    pub boot_mode: Option<String>,
    pub secure_boot: Option<bool>,
    pub shard: Option<String>,
    pub parent_node: Option<String>,
    pub disable_power_off: bool,
    pub clean_step: String,
    pub deploy_step: String,
    pub service_step: String,
    pub raid_config: String,
    pub target_raid_config: String,
    /// JSON list of trait names.
    pub traits: String,
    pub inspection_started_at: Option<NaiveDateTime>,
    pub inspection_finished_at: Option<NaiveDateTime>,
    pub allocation_uuid: Option<String>,
    pub health: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: Option<NaiveDateTime>,
}

impl Node {
    /// A node just enrolled: `enroll`, no interfaces chosen, empty JSON
    /// fields, nothing else set.
    pub fn new(uuid: impl Into<String>, driver: impl Into<String>, created_at: NaiveDateTime) -> Node {
        let empty = || "{}".to_string();
        Node {
            uuid: uuid.into(),
            row_version: 0,
            name: None,
            driver: driver.into(),
            driver_info: empty(),
            driver_internal_info: empty(),
            properties: empty(),
            extra: empty(),
            instance_info: empty(),
            instance_uuid: None,
            instance_name: None,
            chassis_uuid: None,
            provision_state: "enroll".into(),
            target_provision_state: None,
            provision_updated_at: None,
            power_state: None,
            target_power_state: None,
            maintenance: false,
            maintenance_reason: None,
            fault: None,
            reservation: None,
            last_error: None,
            console_enabled: false,
            interfaces: empty(),
            resource_class: None,
            conductor_group: String::new(),
            automated_clean: None,
            protected: false,
            protected_reason: None,
            owner: None,
            lessee: None,
            description: None,
            retired: false,
            retired_reason: None,
            network_data: empty(),
            boot_mode: None,
            secure_boot: None,
            shard: None,
            parent_node: None,
            disable_power_off: false,
            clean_step: empty(),
            deploy_step: empty(),
            service_step: empty(),
            raid_config: empty(),
            target_raid_config: empty(),
            traits: "[]".into(),
            inspection_started_at: None,
            inspection_finished_at: None,
            allocation_uuid: None,
            health: None,
            created_at,
            updated_at: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = ports, treat_none_as_null = true)]
pub struct Port {
    pub uuid: String,
    pub address: String,
    pub node_uuid: String,
    pub portgroup_uuid: Option<String>,
    pub name: Option<String>,
    pub extra: String,
    pub internal_info: String,
    pub local_link_connection: String,
    pub physical_network: Option<String>,
    pub pxe_enabled: bool,
    pub is_smartnic: bool,
    pub description: Option<String>,
    pub vendor: Option<String>,
    pub category: Option<String>,
    pub available_for_dynamic_portgroup: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: Option<NaiveDateTime>,
}

impl Port {
    /// A port with Ironic's defaults (PXE enabled, may join a dynamic portgroup, empty dicts).
    pub fn new(
        uuid: impl Into<String>,
        address: impl Into<String>,
        node_uuid: impl Into<String>,
        created_at: NaiveDateTime,
    ) -> Port {
        Port {
            uuid: uuid.into(),
            address: address.into(),
            node_uuid: node_uuid.into(),
            portgroup_uuid: None,
            name: None,
            extra: "{}".into(),
            internal_info: "{}".into(),
            local_link_connection: "{}".into(),
            physical_network: None,
            pxe_enabled: true,
            is_smartnic: false,
            description: None,
            vendor: None,
            category: None,
            available_for_dynamic_portgroup: true,
            created_at,
            updated_at: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = portgroups, treat_none_as_null = true)]
pub struct Portgroup {
    pub uuid: String,
    pub name: Option<String>,
    pub node_uuid: String,
    pub address: Option<String>,
    pub extra: String,
    pub internal_info: String,
    pub mode: Option<String>,
    pub properties: String,
    pub standalone_ports_supported: bool,
    pub physical_network: Option<String>,
    pub category: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = chassis, treat_none_as_null = true)]
pub struct Chassis {
    pub uuid: String,
    pub description: Option<String>,
    pub extra: String,
    pub created_at: NaiveDateTime,
    pub updated_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = node_history)]
pub struct HistoryEntry {
    pub uuid: String,
    pub node_uuid: String,
    pub created_at: NaiveDateTime,
    pub severity: String,
    pub event: String,
    pub event_type: String,
    pub conductor: Option<String>,
    pub user_id: Option<String>,
    pub project_id: Option<String>,
    pub state: Option<String>,
    pub target_state: Option<String>,
    pub duration_seconds: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = conductors)]
pub struct Conductor {
    pub hostname: String,
    pub conductor_group: String,
    pub drivers: String,
    pub online: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// Keyset paging over any of these tables: `sort` is a whitelisted SQL
/// expression over the table's columns; ties break on the serial `id`.
#[derive(Debug, Clone)]
pub struct Page {
    pub limit: i64,
    pub marker: Option<String>,
    pub sort: &'static str,
    pub desc: bool,
}

// ---- nodes -----------------------------------------------------------------

pub fn node(c: &mut DbConn, uuid: &str) -> StorageResult<Node> {
    found(nodes::table.filter(nodes::uuid.eq(uuid)).select(Node::as_select()).first(c), "node", uuid)
}

pub fn node_by_name(c: &mut DbConn, name: &str) -> StorageResult<Option<Node>> {
    Ok(nodes::table.filter(nodes::name.eq(name)).select(Node::as_select()).first(c).optional()?)
}

pub fn node_by_instance(c: &mut DbConn, instance: &str) -> StorageResult<Option<Node>> {
    Ok(nodes::table.filter(nodes::instance_uuid.eq(instance)).select(Node::as_select()).first(c).optional()?)
}

pub fn node_insert(c: &mut DbConn, n: &Node) -> StorageResult<()> {
    diesel::insert_into(nodes::table).values(n).execute(c)?;
    Ok(())
}

/// Writes `n` if nobody changed the row since `n` was read; returns the
/// stored copy (with its new row version).
pub fn node_update(c: &mut DbConn, n: &Node) -> StorageResult<Node> {
    let changed =
        diesel::update(nodes::table.filter(nodes::uuid.eq(&n.uuid)).filter(nodes::row_version.eq(n.row_version)))
            .set((n, nodes::row_version.eq(n.row_version + 1)))
            .execute(c)?;
    if changed == 0 {
        return match node(c, &n.uuid) {
            Ok(_) => Err(StorageError::Conflict(format!("node {} changed concurrently", n.uuid))),
            Err(e) => Err(e),
        };
    }
    let mut stored = n.clone();
    stored.row_version += 1;
    Ok(stored)
}

/// Takes the node's lock: succeeds only when nobody holds it.
pub fn node_reserve(c: &mut DbConn, uuid: &str, host: &str) -> StorageResult<bool> {
    let n = diesel::update(nodes::table.filter(nodes::uuid.eq(uuid)).filter(nodes::reservation.is_null()))
        .set((nodes::reservation.eq(host), nodes::row_version.eq(nodes::row_version + 1)))
        .execute(c)?;
    Ok(n == 1)
}

pub fn node_release(c: &mut DbConn, uuid: &str, host: &str) -> StorageResult<()> {
    diesel::update(nodes::table.filter(nodes::uuid.eq(uuid)).filter(nodes::reservation.eq(host)))
        .set((nodes::reservation.eq(None::<String>), nodes::row_version.eq(nodes::row_version + 1)))
        .execute(c)?;
    Ok(())
}

/// Deletes a node with its ports, portgroups and history.
pub fn node_delete(c: &mut DbConn, uuid: &str) -> StorageResult<()> {
    diesel::delete(ports::table.filter(ports::node_uuid.eq(uuid))).execute(c)?;
    diesel::delete(portgroups::table.filter(portgroups::node_uuid.eq(uuid))).execute(c)?;
    diesel::delete(node_history::table.filter(node_history::node_uuid.eq(uuid))).execute(c)?;
    diesel::delete(
        super::inspection::node_inventory::table.filter(super::inspection::node_inventory::node_uuid.eq(uuid)),
    )
    .execute(c)?;
    let n = diesel::delete(nodes::table.filter(nodes::uuid.eq(uuid))).execute(c)?;
    if n == 0 { Err(StorageError::not_found("node", uuid)) } else { Ok(()) }
}

/// Nodes a process holds, or left mid-work: what to resume after a restart.
pub fn nodes_reserved_by(c: &mut DbConn, host: &str) -> StorageResult<Vec<Node>> {
    Ok(nodes::table.filter(nodes::reservation.eq(host)).select(Node::as_select()).load(c)?)
}

pub fn nodes_in_states(c: &mut DbConn, states: &[&str]) -> StorageResult<Vec<Node>> {
    Ok(nodes::table.filter(nodes::provision_state.eq_any(states)).select(Node::as_select()).load(c)?)
}

#[derive(Debug, Default, Clone)]
pub struct NodeFilter {
    pub associated: Option<bool>,
    pub maintenance: Option<bool>,
    pub retired: Option<bool>,
    pub provision_state: Option<String>,
    pub driver: Option<String>,
    pub resource_class: Option<String>,
    pub fault: Option<String>,
    pub conductor_group: Option<String>,
    pub owner: Option<String>,
    pub lessee: Option<String>,
    /// Owner or lessee.
    pub project: Option<String>,
    pub description_contains: Option<String>,
    pub shards: Option<Vec<String>>,
    pub sharded: Option<bool>,
    pub parent_node: Option<String>,
    pub include_children: bool,
    pub instance_uuid: Option<String>,
    pub instance_name: Option<String>,
    pub chassis_uuid: Option<String>,
}

pub fn nodes_list(c: &mut DbConn, f: &NodeFilter, page: &Page) -> StorageResult<Vec<Node>> {
    let mut q = nodes::table.select(Node::as_select()).into_boxed();
    if let Some(a) = f.associated {
        q = if a { q.filter(nodes::instance_uuid.is_not_null()) } else { q.filter(nodes::instance_uuid.is_null()) };
    }
    if let Some(m) = f.maintenance {
        q = q.filter(nodes::maintenance.eq(m));
    }
    if let Some(r) = f.retired {
        q = q.filter(nodes::retired.eq(r));
    }
    if let Some(s) = &f.provision_state {
        q = q.filter(nodes::provision_state.eq(s.clone()));
    }
    if let Some(d) = &f.driver {
        q = q.filter(nodes::driver.eq(d.clone()));
    }
    if let Some(r) = &f.resource_class {
        q = q.filter(nodes::resource_class.eq(r.clone()));
    }
    if let Some(v) = &f.fault {
        q = q.filter(nodes::fault.eq(v.clone()));
    }
    if let Some(v) = &f.conductor_group {
        q = q.filter(nodes::conductor_group.eq(v.to_lowercase()));
    }
    if let Some(v) = &f.owner {
        q = q.filter(nodes::owner.eq(v.clone()));
    }
    if let Some(v) = &f.lessee {
        q = q.filter(nodes::lessee.eq(v.clone()));
    }
    if let Some(p) = &f.project {
        q = q.filter(nodes::owner.eq(p.clone()).or(nodes::lessee.eq(p.clone())));
    }
    if let Some(d) = &f.description_contains {
        q = q.filter(nodes::description.like(format!("%{}%", d.replace('%', "\\%").replace('_', "\\_"))));
    }
    if let Some(s) = &f.shards {
        q = q.filter(nodes::shard.eq_any(s.clone()));
    }
    if let Some(s) = f.sharded {
        q = if s { q.filter(nodes::shard.is_not_null()) } else { q.filter(nodes::shard.is_null()) };
    }
    if let Some(p) = &f.parent_node {
        q = q.filter(nodes::parent_node.eq(p.clone()));
    } else if !f.include_children {
        q = q.filter(nodes::parent_node.is_null());
    }
    if let Some(v) = &f.instance_uuid {
        q = q.filter(nodes::instance_uuid.eq(v.clone()));
    }
    if let Some(v) = &f.instance_name {
        q = q.filter(nodes::instance_name.eq(v.clone()));
    }
    if let Some(v) = &f.chassis_uuid {
        q = q.filter(nodes::chassis_uuid.eq(v.clone()));
    }
    if let Some(m) = &page.marker {
        node(c, m)?;
        q = q.filter(after_marker!("nodes", page, m.clone()));
    }
    Ok(q.order(order_by("nodes", page.sort, page.desc)).limit(page.limit).load(c)?)
}

/// Up to `limit` nodes by uuid after `after`: a walk over every node in
/// bounded pages.
pub fn nodes_page_by_uuid(c: &mut DbConn, after: Option<&str>, limit: i64) -> StorageResult<Vec<Node>> {
    let mut q = nodes::table.select(Node::as_select()).into_boxed();
    if let Some(a) = after {
        q = q.filter(nodes::uuid.gt(a.to_string()));
    }
    Ok(q.order(nodes::uuid.asc()).limit(limit).load(c)?)
}

/// The ports of these nodes, by node then port uuid.
pub fn ports_of_nodes(c: &mut DbConn, nodes: &[String]) -> StorageResult<Vec<Port>> {
    Ok(ports::table
        .filter(ports::node_uuid.eq_any(nodes))
        .select(Port::as_select())
        .order((ports::node_uuid.asc(), ports::uuid.asc()))
        .load(c)?)
}

/// The nodes owning ports with any of `macs`.
pub fn nodes_with_port_addresses(c: &mut DbConn, macs: &[String]) -> StorageResult<Vec<String>> {
    Ok(ports::table.filter(ports::address.eq_any(macs)).select(ports::node_uuid).distinct().load(c)?)
}

/// Nodes whose `driver_info` text contains `needle` (a coarse filter; the
/// caller checks the field it wants).
pub fn nodes_driver_info_containing(c: &mut DbConn, needle: &str) -> StorageResult<Vec<Node>> {
    let escaped = needle.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    Ok(nodes::table
        .filter(nodes::driver_info.like(format!("%{escaped}%")).escape('\\'))
        .select(Node::as_select())
        .load(c)?)
}

pub fn nodes_in_maintenance(c: &mut DbConn) -> StorageResult<i64> {
    Ok(nodes::table.filter(nodes::maintenance.eq(true)).count().get_result(c)?)
}

pub fn nodes_count_by_state(c: &mut DbConn) -> StorageResult<Vec<(String, i64)>> {
    Ok(nodes::table
        .group_by(nodes::provision_state)
        .select((nodes::provision_state, diesel::dsl::count_star()))
        .load(c)?)
}

// ---- ports -----------------------------------------------------------------

pub fn port(c: &mut DbConn, uuid: &str) -> StorageResult<Port> {
    found(ports::table.filter(ports::uuid.eq(uuid)).select(Port::as_select()).first(c), "port", uuid)
}

pub fn port_by_name(c: &mut DbConn, name: &str) -> StorageResult<Option<Port>> {
    Ok(ports::table.filter(ports::name.eq(name)).select(Port::as_select()).first(c).optional()?)
}

pub fn port_by_address(c: &mut DbConn, address: &str) -> StorageResult<Option<Port>> {
    Ok(ports::table.filter(ports::address.eq(address)).select(Port::as_select()).first(c).optional()?)
}

pub fn port_insert(c: &mut DbConn, p: &Port) -> StorageResult<()> {
    diesel::insert_into(ports::table).values(p).execute(c)?;
    Ok(())
}

pub fn port_update(c: &mut DbConn, p: &Port) -> StorageResult<()> {
    let n = diesel::update(ports::table.filter(ports::uuid.eq(&p.uuid))).set(p).execute(c)?;
    if n == 0 { Err(StorageError::not_found("port", &p.uuid)) } else { Ok(()) }
}

pub fn port_delete(c: &mut DbConn, uuid: &str) -> StorageResult<()> {
    let n = diesel::delete(ports::table.filter(ports::uuid.eq(uuid))).execute(c)?;
    if n == 0 { Err(StorageError::not_found("port", uuid)) } else { Ok(()) }
}

#[derive(Debug, Default, Clone)]
pub struct PortFilter {
    pub node_uuid: Option<String>,
    pub portgroup_uuid: Option<String>,
    pub address: Option<String>,
    pub shards: Option<Vec<String>>,
    pub conductor_groups: Option<Vec<String>>,
    pub description_contains: Option<String>,
    /// Only ports of nodes owned/leased by this project.
    pub project: Option<String>,
}

pub fn ports_list(c: &mut DbConn, f: &PortFilter, page: &Page) -> StorageResult<Vec<Port>> {
    let mut q = ports::table.select(Port::as_select()).into_boxed();
    if let Some(v) = &f.node_uuid {
        q = q.filter(ports::node_uuid.eq(v.clone()));
    }
    if let Some(v) = &f.portgroup_uuid {
        q = q.filter(ports::portgroup_uuid.eq(v.clone()));
    }
    if let Some(v) = &f.address {
        q = q.filter(ports::address.eq(v.to_lowercase()));
    }
    if let Some(v) = &f.description_contains {
        q = q.filter(ports::description.like(format!("%{}%", v.replace('%', "\\%").replace('_', "\\_"))));
    }
    if f.shards.is_some() || f.conductor_groups.is_some() || f.project.is_some() {
        let mut nq = nodes::table.select(nodes::uuid).into_boxed();
        if let Some(s) = &f.shards {
            nq = nq.filter(nodes::shard.eq_any(s.clone()));
        }
        if let Some(g) = &f.conductor_groups {
            nq = nq.filter(nodes::conductor_group.eq_any(g.iter().map(|x| x.to_lowercase()).collect::<Vec<_>>()));
        }
        if let Some(p) = &f.project {
            nq = nq.filter(nodes::owner.eq(p.clone()).or(nodes::lessee.eq(p.clone())));
        }
        let uuids: Vec<String> = nq.load(c)?;
        q = q.filter(ports::node_uuid.eq_any(uuids));
    }
    if let Some(m) = &page.marker {
        port(c, m)?;
        q = q.filter(after_marker!("ports", page, m.clone()));
    }
    Ok(q.order(order_by("ports", page.sort, page.desc)).limit(page.limit).load(c)?)
}

// ---- portgroups ------------------------------------------------------------

pub fn portgroup(c: &mut DbConn, uuid: &str) -> StorageResult<Portgroup> {
    found(
        portgroups::table.filter(portgroups::uuid.eq(uuid)).select(Portgroup::as_select()).first(c),
        "portgroup",
        uuid,
    )
}

pub fn portgroup_by_name(c: &mut DbConn, name: &str) -> StorageResult<Option<Portgroup>> {
    Ok(portgroups::table.filter(portgroups::name.eq(name)).select(Portgroup::as_select()).first(c).optional()?)
}

pub fn portgroup_insert(c: &mut DbConn, p: &Portgroup) -> StorageResult<()> {
    diesel::insert_into(portgroups::table).values(p).execute(c)?;
    Ok(())
}

pub fn portgroup_update(c: &mut DbConn, p: &Portgroup) -> StorageResult<()> {
    let n = diesel::update(portgroups::table.filter(portgroups::uuid.eq(&p.uuid))).set(p).execute(c)?;
    if n == 0 { Err(StorageError::not_found("portgroup", &p.uuid)) } else { Ok(()) }
}

pub fn portgroup_delete(c: &mut DbConn, uuid: &str) -> StorageResult<()> {
    let n = diesel::delete(portgroups::table.filter(portgroups::uuid.eq(uuid))).execute(c)?;
    if n == 0 { Err(StorageError::not_found("portgroup", uuid)) } else { Ok(()) }
}

pub fn portgroup_port_count(c: &mut DbConn, uuid: &str) -> StorageResult<i64> {
    Ok(ports::table.filter(ports::portgroup_uuid.eq(uuid)).count().get_result(c)?)
}

#[derive(Debug, Default, Clone)]
pub struct PortgroupFilter {
    pub node_uuid: Option<String>,
    pub address: Option<String>,
    pub project: Option<String>,
}

pub fn portgroups_list(c: &mut DbConn, f: &PortgroupFilter, page: &Page) -> StorageResult<Vec<Portgroup>> {
    let mut q = portgroups::table.select(Portgroup::as_select()).into_boxed();
    if let Some(v) = &f.node_uuid {
        q = q.filter(portgroups::node_uuid.eq(v.clone()));
    }
    if let Some(v) = &f.address {
        q = q.filter(portgroups::address.eq(v.to_lowercase()));
    }
    if let Some(p) = &f.project {
        let uuids: Vec<String> = nodes::table
            .filter(nodes::owner.eq(p.clone()).or(nodes::lessee.eq(p.clone())))
            .select(nodes::uuid)
            .load(c)?;
        q = q.filter(portgroups::node_uuid.eq_any(uuids));
    }
    if let Some(m) = &page.marker {
        portgroup(c, m)?;
        q = q.filter(after_marker!("portgroups", page, m.clone()));
    }
    Ok(q.order(order_by("portgroups", page.sort, page.desc)).limit(page.limit).load(c)?)
}

// ---- chassis ---------------------------------------------------------------

pub fn chassis_get(c: &mut DbConn, uuid: &str) -> StorageResult<Chassis> {
    found(chassis::table.filter(chassis::uuid.eq(uuid)).select(Chassis::as_select()).first(c), "chassis", uuid)
}

pub fn chassis_insert(c: &mut DbConn, ch: &Chassis) -> StorageResult<()> {
    diesel::insert_into(chassis::table).values(ch).execute(c)?;
    Ok(())
}

pub fn chassis_update(c: &mut DbConn, ch: &Chassis) -> StorageResult<()> {
    let n = diesel::update(chassis::table.filter(chassis::uuid.eq(&ch.uuid))).set(ch).execute(c)?;
    if n == 0 { Err(StorageError::not_found("chassis", &ch.uuid)) } else { Ok(()) }
}

pub fn chassis_delete(c: &mut DbConn, uuid: &str) -> StorageResult<()> {
    let n = diesel::delete(chassis::table.filter(chassis::uuid.eq(uuid))).execute(c)?;
    if n == 0 { Err(StorageError::not_found("chassis", uuid)) } else { Ok(()) }
}

pub fn chassis_node_count(c: &mut DbConn, uuid: &str) -> StorageResult<i64> {
    Ok(nodes::table.filter(nodes::chassis_uuid.eq(uuid)).count().get_result(c)?)
}

pub fn chassis_list(c: &mut DbConn, page: &Page) -> StorageResult<Vec<Chassis>> {
    let mut q = chassis::table.select(Chassis::as_select()).into_boxed();
    if let Some(m) = &page.marker {
        chassis_get(c, m)?;
        q = q.filter(after_marker!("chassis", page, m.clone()));
    }
    Ok(q.order(order_by("chassis", page.sort, page.desc)).limit(page.limit).load(c)?)
}

// ---- history and conductors -------------------------------------------------

pub fn history_insert(c: &mut DbConn, h: &HistoryEntry) -> StorageResult<()> {
    diesel::insert_into(node_history::table).values(h).execute(c)?;
    Ok(())
}

pub fn history_get(c: &mut DbConn, uuid: &str) -> StorageResult<HistoryEntry> {
    found(
        node_history::table.filter(node_history::uuid.eq(uuid)).select(HistoryEntry::as_select()).first(c),
        "history event",
        uuid,
    )
}

pub fn history_list(c: &mut DbConn, node_uuid: &str, page: &Page) -> StorageResult<Vec<HistoryEntry>> {
    let mut q = node_history::table
        .filter(node_history::node_uuid.eq(node_uuid.to_string()))
        .select(HistoryEntry::as_select())
        .into_boxed();
    if let Some(m) = &page.marker {
        history_get(c, m)?;
        q = q.filter(after_marker!("node_history", page, m.clone()));
    }
    Ok(q.order(order_by("node_history", page.sort, page.desc)).limit(page.limit).load(c)?)
}

/// Takes over, for `me`, the nodes reserved by conductors whose last
/// heartbeat is older than `dead_before`, and marks those conductors
/// offline. Each node moves with a compare-and-set on its reservation, so
/// of several live conductors exactly one gets it.
pub fn take_over_from_dead(c: &mut DbConn, me: &str, dead_before: NaiveDateTime) -> StorageResult<Vec<Node>> {
    // Silent conductors: found dead (still marked online) or stopped (marked
    // offline at a clean stop); either way their nodes' work is orphaned.
    let silent: Vec<(String, bool)> = conductors::table
        .filter(conductors::updated_at.lt(dead_before))
        .filter(conductors::hostname.ne(me))
        .select((conductors::hostname, conductors::online))
        .load(c)?;
    if silent.is_empty() {
        return Ok(Vec::new());
    }
    let newly_dead: Vec<&String> = silent.iter().filter(|(_, online)| *online).map(|(h, _)| h).collect();
    if !newly_dead.is_empty() {
        diesel::update(conductors::table.filter(conductors::hostname.eq_any(newly_dead)))
            .set(conductors::online.eq(false))
            .execute(c)?;
    }
    let silent: Vec<&String> = silent.iter().map(|(h, _)| h).collect();
    let orphans: Vec<(String, Option<String>)> =
        nodes::table.filter(nodes::reservation.eq_any(silent)).select((nodes::uuid, nodes::reservation)).load(c)?;
    let mut taken = Vec::new();
    for (uuid, owner) in orphans {
        let moved = diesel::update(nodes::table.filter(nodes::uuid.eq(&uuid)).filter(nodes::reservation.eq(owner)))
            .set(nodes::reservation.eq(me))
            .execute(c)?;
        if moved == 1 {
            taken.push(node(c, &uuid)?);
        }
    }
    Ok(taken)
}

/// Registers (or refreshes) a conductor.
pub fn conductor_upsert(c: &mut DbConn, cond: &Conductor) -> StorageResult<()> {
    let exists: i64 = conductors::table.filter(conductors::hostname.eq(&cond.hostname)).count().get_result(c)?;
    if exists > 0 {
        diesel::update(conductors::table.filter(conductors::hostname.eq(&cond.hostname))).set(cond).execute(c)?;
    } else {
        diesel::insert_into(conductors::table).values(cond).execute(c)?;
    }
    Ok(())
}

pub fn conductor(c: &mut DbConn, hostname: &str) -> StorageResult<Conductor> {
    found(
        conductors::table.filter(conductors::hostname.eq(hostname)).select(Conductor::as_select()).first(c),
        "conductor",
        hostname,
    )
}

pub fn conductors_list(c: &mut DbConn) -> StorageResult<Vec<Conductor>> {
    Ok(conductors::table.select(Conductor::as_select()).order(conductors::hostname).load(c)?)
}

// ---- added for the ports/portgroups API ---------------------------------------

/// [`portgroups_list`], also restricted to portgroups of nodes in `shards`
/// and/or `conductor_groups`.
pub fn portgroups_list_in(
    c: &mut DbConn,
    f: &PortgroupFilter,
    shards: Option<&[String]>,
    conductor_groups: Option<&[String]>,
    page: &Page,
) -> StorageResult<Vec<Portgroup>> {
    let mut q = portgroups::table.select(Portgroup::as_select()).into_boxed();
    if let Some(v) = &f.node_uuid {
        q = q.filter(portgroups::node_uuid.eq(v.clone()));
    }
    if let Some(v) = &f.address {
        q = q.filter(portgroups::address.eq(v.to_lowercase()));
    }
    if f.project.is_some() || shards.is_some() || conductor_groups.is_some() {
        let mut nq = nodes::table.select(nodes::uuid).into_boxed();
        if let Some(p) = &f.project {
            nq = nq.filter(nodes::owner.eq(p.clone()).or(nodes::lessee.eq(p.clone())));
        }
        if let Some(s) = shards {
            nq = nq.filter(nodes::shard.eq_any(s.to_vec()));
        }
        if let Some(g) = conductor_groups {
            nq = nq.filter(nodes::conductor_group.eq_any(g.iter().map(|x| x.to_lowercase()).collect::<Vec<_>>()));
        }
        let uuids: Vec<String> = nq.load(c)?;
        q = q.filter(portgroups::node_uuid.eq_any(uuids));
    }
    if let Some(m) = &page.marker {
        portgroup(c, m)?;
        q = q.filter(after_marker!("portgroups", page, m.clone()));
    }
    Ok(q.order(order_by("portgroups", page.sort, page.desc)).limit(page.limit).load(c)?)
}
