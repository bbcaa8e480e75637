//! Tenant networks: networks, subnets, ports and IP address allocation.

use std::collections::HashSet;
use std::net::IpAddr;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{DbConn, StorageError, StorageResult, found};

diesel::table! {
    networks (id) {
        id -> BigInt,
        uuid -> Text,
        name -> Text,
        description -> Text,
        project_id -> Text,
        admin_state_up -> Bool,
        shared -> Bool,
        external -> Bool,
        mtu -> Integer,
        port_security_enabled -> Bool,
        network_type -> Nullable<Text>,
        physical_network -> Nullable<Text>,
        segmentation_id -> Nullable<Integer>,
        revision_number -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    subnets (id) {
        id -> BigInt,
        uuid -> Text,
        name -> Text,
        description -> Text,
        network_uuid -> Text,
        project_id -> Text,
        ip_version -> Integer,
        cidr -> Text,
        gateway_ip -> Nullable<Text>,
        enable_dhcp -> Bool,
        allocation_pools -> Text,
        dns_nameservers -> Text,
        host_routes -> Text,
        ipv6_ra_mode -> Nullable<Text>,
        ipv6_address_mode -> Nullable<Text>,
        revision_number -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    /// Ports of the network service (`ports` is the bare-metal ports' table).
    #[sql_name = "network_ports"]
    ports (id) {
        id -> BigInt,
        uuid -> Text,
        name -> Text,
        description -> Text,
        network_uuid -> Text,
        project_id -> Text,
        mac_address -> Text,
        admin_state_up -> Bool,
        status -> Text,
        device_id -> Text,
        device_owner -> Text,
        port_security_enabled -> Bool,
        vnic_type -> Text,
        host_id -> Text,
        profile -> Text,
        vif_type -> Text,
        vif_details -> Text,
        security_groups -> Text,
        allowed_address_pairs -> Text,
        revision_number -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    ip_allocations (subnet_uuid, ip_address) {
        subnet_uuid -> Text,
        ip_address -> Text,
        port_uuid -> Text,
        network_uuid -> Text,
    }
}

diesel::allow_tables_to_appear_in_same_query!(networks, subnets, ports, ip_allocations);

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = networks, treat_none_as_null = true)]
pub struct Network {
    pub uuid: String,
    pub name: String,
    pub description: String,
    pub project_id: String,
    pub admin_state_up: bool,
    pub shared: bool,
    pub external: bool,
    pub mtu: i32,
    pub port_security_enabled: bool,
    pub network_type: Option<String>,
    pub physical_network: Option<String>,
    pub segmentation_id: Option<i32>,
    pub revision_number: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = subnets, treat_none_as_null = true)]
pub struct Subnet {
    pub uuid: String,
    pub name: String,
    pub description: String,
    pub network_uuid: String,
    pub project_id: String,
    pub ip_version: i32,
    pub cidr: String,
    pub gateway_ip: Option<String>,
    pub enable_dhcp: bool,
    /// JSON list of `{"start", "end"}`.
    pub allocation_pools: String,
    pub dns_nameservers: String,
    pub host_routes: String,
    pub ipv6_ra_mode: Option<String>,
    pub ipv6_address_mode: Option<String>,
    pub revision_number: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = ports, treat_none_as_null = true)]
pub struct Port {
    pub uuid: String,
    pub name: String,
    pub description: String,
    pub network_uuid: String,
    pub project_id: String,
    pub mac_address: String,
    pub admin_state_up: bool,
    pub status: String,
    pub device_id: String,
    pub device_owner: String,
    pub port_security_enabled: bool,
    pub vnic_type: String,
    pub host_id: String,
    /// JSON object: `binding:profile`.
    pub profile: String,
    pub vif_type: String,
    pub vif_details: String,
    /// JSON list of security group ids.
    pub security_groups: String,
    pub allowed_address_pairs: String,
    pub revision_number: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Port {
    /// Sets the binding host and profile, and what follows from them: a
    /// port with a host is bound (`vif_type` "other", `ACTIVE` when
    /// administratively up), one without is `unbound` and `DOWN`.
    pub fn set_binding(&mut self, host: &str, profile: &serde_json::Value) {
        self.host_id = host.to_string();
        self.profile = profile.to_string();
        let bound = !self.host_id.is_empty();
        self.vif_type = if bound { "other" } else { "unbound" }.to_string();
        self.vif_details = if bound { r#"{"port_filter":false}"# } else { "{}" }.to_string();
        self.status = if bound && self.admin_state_up { "ACTIVE" } else { "DOWN" }.to_string();
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = ip_allocations)]
pub struct IpAllocation {
    pub subnet_uuid: String,
    pub ip_address: String,
    pub port_uuid: String,
    pub network_uuid: String,
}

// ---- networks ------------------------------------------------------------------

pub fn network(c: &mut DbConn, uuid: &str) -> StorageResult<Network> {
    found(networks::table.filter(networks::uuid.eq(uuid)).select(Network::as_select()).first(c), "network", uuid)
}

/// Networks a project may see (its own, shared and external ones); every
/// network when `project` is `None`.
pub fn networks_visible(c: &mut DbConn, project: Option<&str>) -> StorageResult<Vec<Network>> {
    let mut q = networks::table.select(Network::as_select()).order(networks::id).into_boxed();
    if let Some(p) = project {
        q = q.filter(
            networks::project_id.eq(p.to_string()).or(networks::shared.eq(true)).or(networks::external.eq(true)),
        );
    }
    Ok(q.load(c)?)
}

pub fn network_insert(c: &mut DbConn, n: &Network) -> StorageResult<()> {
    diesel::insert_into(networks::table).values(n).execute(c)?;
    Ok(())
}

pub fn network_update(c: &mut DbConn, n: &Network) -> StorageResult<()> {
    diesel::update(networks::table.filter(networks::uuid.eq(&n.uuid))).set(n).execute(c)?;
    Ok(())
}

/// Deletes a network and its subnets; refused (`Conflict`) while ports
/// other than those of `auto_owners` (e.g. DHCP) use it.
pub fn network_delete(c: &mut DbConn, uuid: &str) -> StorageResult<()> {
    let in_use = ports::table.filter(ports::network_uuid.eq(uuid)).count().get_result::<i64>(c)?;
    if in_use > 0 {
        return Err(StorageError::Conflict(format!(
            "Unable to complete operation on network {uuid}. There are one or more ports still in use on the network."
        )));
    }
    diesel::delete(subnets::table.filter(subnets::network_uuid.eq(uuid))).execute(c)?;
    let n = diesel::delete(networks::table.filter(networks::uuid.eq(uuid))).execute(c)?;
    if n == 0 {
        return Err(StorageError::not_found("network", uuid));
    }
    Ok(())
}

/// Segmentation ids already used by networks of a physical network and type.
pub fn segment_taken(c: &mut DbConn, kind: &str, physnet: Option<&str>, id: i32) -> StorageResult<bool> {
    let mut q =
        networks::table.filter(networks::network_type.eq(kind)).filter(networks::segmentation_id.eq(id)).into_boxed();
    q = match physnet {
        Some(p) => q.filter(networks::physical_network.eq(p.to_string())),
        None => q.filter(networks::physical_network.is_null()),
    };
    Ok(q.count().get_result::<i64>(c)? > 0)
}

// ---- subnets -------------------------------------------------------------------

pub fn subnet(c: &mut DbConn, uuid: &str) -> StorageResult<Subnet> {
    found(subnets::table.filter(subnets::uuid.eq(uuid)).select(Subnet::as_select()).first(c), "subnet", uuid)
}

pub fn subnets_of(c: &mut DbConn, network_uuids: &[String]) -> StorageResult<Vec<Subnet>> {
    Ok(subnets::table
        .filter(subnets::network_uuid.eq_any(network_uuids))
        .select(Subnet::as_select())
        .order(subnets::id)
        .load(c)?)
}

pub fn subnet_insert(c: &mut DbConn, s: &Subnet) -> StorageResult<()> {
    diesel::insert_into(subnets::table).values(s).execute(c)?;
    Ok(())
}

pub fn subnet_update(c: &mut DbConn, s: &Subnet) -> StorageResult<()> {
    diesel::update(subnets::table.filter(subnets::uuid.eq(&s.uuid))).set(s).execute(c)?;
    Ok(())
}

pub fn subnet_delete(c: &mut DbConn, uuid: &str) -> StorageResult<()> {
    let used = ip_allocations::table.filter(ip_allocations::subnet_uuid.eq(uuid)).count().get_result::<i64>(c)?;
    if used > 0 {
        return Err(StorageError::Conflict(format!(
            "Unable to complete operation on subnet {uuid}: One or more ports have an IP allocation from this subnet."
        )));
    }
    let n = diesel::delete(subnets::table.filter(subnets::uuid.eq(uuid))).execute(c)?;
    if n == 0 {
        return Err(StorageError::not_found("subnet", uuid));
    }
    Ok(())
}

// ---- ports ---------------------------------------------------------------------

pub fn port(c: &mut DbConn, uuid: &str) -> StorageResult<Port> {
    found(ports::table.filter(ports::uuid.eq(uuid)).select(Port::as_select()).first(c), "port", uuid)
}

/// Ports of a project (every port when `None`).
pub fn ports_visible(c: &mut DbConn, project: Option<&str>) -> StorageResult<Vec<Port>> {
    let mut q = ports::table.select(Port::as_select()).order(ports::id).into_boxed();
    if let Some(p) = project {
        q = q.filter(ports::project_id.eq(p.to_string()));
    }
    Ok(q.load(c)?)
}

/// Inserts a port. A MAC already used on the network is `Duplicate`, and
/// leaves the transaction usable (a savepoint) so that another MAC can be
/// tried.
pub fn port_insert(c: &mut DbConn, p: &Port) -> StorageResult<()> {
    use diesel::Connection;
    c.transaction(|c| diesel::insert_into(ports::table).values(p).execute(c)).map_err(
        |e| match StorageError::from(e) {
            StorageError::Duplicate(_) => StorageError::Duplicate(format!(
                "Unable to complete operation for network {}. The mac address {} is in use.",
                p.network_uuid, p.mac_address
            )),
            other => other,
        },
    )?;
    Ok(())
}

/// Updates a port; a MAC clash is `Duplicate` and leaves the transaction
/// usable (a savepoint).
pub fn port_update(c: &mut DbConn, p: &Port) -> StorageResult<()> {
    use diesel::Connection;
    c.transaction(|c| diesel::update(ports::table.filter(ports::uuid.eq(&p.uuid))).set(p).execute(c))?;
    Ok(())
}

pub fn port_delete(c: &mut DbConn, uuid: &str) -> StorageResult<()> {
    diesel::delete(ip_allocations::table.filter(ip_allocations::port_uuid.eq(uuid))).execute(c)?;
    let n = diesel::delete(ports::table.filter(ports::uuid.eq(uuid))).execute(c)?;
    if n == 0 {
        return Err(StorageError::not_found("port", uuid));
    }
    Ok(())
}

/// Ports bound to a host (an Ironic node, for bare-metal ports).
pub fn ports_on_host(c: &mut DbConn, host: &str) -> StorageResult<Vec<Port>> {
    Ok(ports::table.filter(ports::host_id.eq(host)).select(Port::as_select()).order(ports::id).load(c)?)
}

// ---- addresses -----------------------------------------------------------------

pub fn allocations_of_ports(c: &mut DbConn, port_uuids: &[String]) -> StorageResult<Vec<IpAllocation>> {
    Ok(ip_allocations::table
        .filter(ip_allocations::port_uuid.eq_any(port_uuids))
        .select(IpAllocation::as_select())
        .order((ip_allocations::port_uuid, ip_allocations::subnet_uuid))
        .load(c)?)
}

pub fn allocations_of_subnet(c: &mut DbConn, subnet_uuid: &str) -> StorageResult<Vec<IpAllocation>> {
    Ok(ip_allocations::table
        .filter(ip_allocations::subnet_uuid.eq(subnet_uuid))
        .select(IpAllocation::as_select())
        .load(c)?)
}

pub fn allocations_release(c: &mut DbConn, port_uuid: &str) -> StorageResult<()> {
    diesel::delete(ip_allocations::table.filter(ip_allocations::port_uuid.eq(port_uuid))).execute(c)?;
    Ok(())
}

/// Records one address for a port. A taken address is `Duplicate`, and
/// leaves the surrounding transaction usable (the insert runs in a
/// savepoint: PostgreSQL would otherwise abort the whole transaction).
pub fn allocate_exact(c: &mut DbConn, a: &IpAllocation) -> StorageResult<()> {
    use diesel::Connection;
    c.transaction(|c| diesel::insert_into(ip_allocations::table).values(a).execute(c).map(|_| ())).map_err(|e| {
        match StorageError::from(e) {
            StorageError::Duplicate(_) => StorageError::Duplicate(format!(
                "IP address {} already allocated in subnet {}",
                a.ip_address, a.subnet_uuid
            )),
            other => other,
        }
    })
}

/// An inclusive range of addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool {
    pub start: IpAddr,
    pub end: IpAddr,
}

fn to_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u32::from(a) as u128,
        IpAddr::V6(a) => u128::from(a),
    }
}

fn from_u128(v: u128, like: IpAddr) -> IpAddr {
    match like {
        IpAddr::V4(_) => IpAddr::V4(std::net::Ipv4Addr::from(v as u32)),
        IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::from(v)),
    }
}

/// Allocates the first free address of `pools` to a port; `Ok(None)` when
/// the pools are exhausted. Safe under concurrency: each candidate is
/// claimed by inserting it, and a candidate another transaction took first
/// is skipped. Candidates start at a random free address among the first
/// few, so that concurrent requests rarely collide.
pub fn allocate_next(
    c: &mut DbConn,
    subnet_uuid: &str,
    network_uuid: &str,
    port_uuid: &str,
    pools: &[Pool],
    reserved: &[IpAddr],
) -> StorageResult<Option<IpAddr>> {
    // Every candidate of a round can be taken meanwhile by concurrent
    // requests; a new round reads the allocations again.
    for _ in 0..32 {
        match allocation_round(c, subnet_uuid, network_uuid, port_uuid, pools, reserved)? {
            Round::Got(ip) => return Ok(Some(ip)),
            Round::Exhausted => return Ok(None),
            Round::Raced => continue,
        }
    }
    Err(StorageError::Conflict(format!("too many concurrent allocations in subnet {subnet_uuid}; try again")))
}

enum Round {
    Got(IpAddr),
    Exhausted,
    Raced,
}

fn allocation_round(
    c: &mut DbConn,
    subnet_uuid: &str,
    network_uuid: &str,
    port_uuid: &str,
    pools: &[Pool],
    reserved: &[IpAddr],
) -> StorageResult<Round> {
    let taken: HashSet<IpAddr> = allocations_of_subnet(c, subnet_uuid)?
        .into_iter()
        .filter_map(|a| a.ip_address.parse().ok())
        .chain(reserved.iter().copied())
        .collect();
    // Free candidates, in pool order, walking past taken ones only.
    let mut candidates = Vec::new();
    for pool in pools {
        let (mut v, end) = (to_u128(pool.start), to_u128(pool.end));
        while v <= end && candidates.len() < 64 {
            let ip = from_u128(v, pool.start);
            if !taken.contains(&ip) {
                candidates.push(ip);
            }
            v += 1;
        }
    }
    if candidates.is_empty() {
        return Ok(Round::Exhausted);
    }
    let first = rand::random::<usize>() % candidates.len().min(8);
    candidates.rotate_left(first);
    for ip in candidates {
        let a = IpAllocation {
            subnet_uuid: subnet_uuid.to_string(),
            ip_address: ip.to_string(),
            port_uuid: port_uuid.to_string(),
            network_uuid: network_uuid.to_string(),
        };
        match allocate_exact(c, &a) {
            Ok(()) => return Ok(Round::Got(ip)),
            Err(StorageError::Duplicate(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(Round::Raced)
}
