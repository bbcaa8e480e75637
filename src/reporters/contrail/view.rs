//! The whole fabric view, derived on each request from the network
//! service's tables (ironbark keeps no second copy of this state).

use super::fabric::fabric_objects;
use super::object::VncObject;
use super::tenant;
use crate::storage::network as net;
use crate::storage::{DbConn, StorageResult};

pub fn load(c: &mut DbConn) -> StorageResult<Vec<VncObject>> {
    let networks = net::networks_visible(c, None)?;
    let network_ids: Vec<String> = networks.iter().map(|n| n.uuid.clone()).collect();
    let subnets = net::subnets_of(c, &network_ids)?;
    let ports = net::ports_visible(c, None)?;
    let port_ids: Vec<String> = ports.iter().map(|p| p.uuid.clone()).collect();
    let allocations = net::allocations_of_ports(c, &port_ids)?;
    let security_groups = tenant::security_group_names(&crate::storage::security_groups::groups_of(c, None)?);

    let vns = tenant::virtual_networks(&networks, &subnets);
    let vmis = tenant::virtual_machine_interfaces(&ports, &vns, &networks, &security_groups);
    let iips = tenant::instance_ips(&allocations, &vns, &vmis);
    let fabric = fabric_objects(&ports, &vmis);

    let mut all = vec![tenant::domain()];
    all.extend(tenant::projects(&networks, &ports));
    all.push(tenant::default_ipam());
    all.extend(vns);
    all.extend(vmis);
    all.extend(iips);
    all.extend(fabric);
    Ok(all)
}
