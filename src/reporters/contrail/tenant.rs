//! The tenant side of the view: projects, the default IPAM, virtual
//! networks (with their subnets), virtual-machine-interfaces (ports) and
//! instance-ips (fixed IPs), following vnc_openstack's Neutron mapping.

use std::collections::{BTreeSet, HashMap};

use chrono::NaiveDateTime;
use serde_json::{Value, json};

use super::object::{VncObject, derived_uuid, fq, uuid_of_id, uuid_of_name};
use crate::storage::network::{IpAllocation, Network, Port, Subnet};
use crate::storage::security_groups::SecurityGroup;

pub const DOMAIN: &str = "default-domain";
const DEFAULT_PROJECT: &str = "default-project";
const DEFAULT_IPAM: &str = "default-network-ipam";

fn ts(t: NaiveDateTime) -> Option<String> {
    Some(t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string())
}

fn json_text(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or(Value::Null)
}

pub fn domain() -> VncObject {
    let fq_name = fq(&[DOMAIN]);
    let mut d = VncObject::new("domain", uuid_of_name("domain", &fq_name), fq_name, None);
    d.id_perms(true, None, None);
    d
}

pub fn project_uuid(project_id: &str) -> String {
    if project_id == DEFAULT_PROJECT {
        uuid_of_name("project", &fq(&[DOMAIN, DEFAULT_PROJECT]))
    } else {
        uuid_of_id("project", project_id)
    }
}

/// `default-project` (the default IPAM's parent) and every project that
/// owns a network or a port.
pub fn projects(networks: &[Network], ports: &[Port]) -> Vec<VncObject> {
    let ids: BTreeSet<&str> = networks
        .iter()
        .map(|n| n.project_id.as_str())
        .chain(ports.iter().map(|p| p.project_id.as_str()))
        .chain([DEFAULT_PROJECT])
        .collect();
    let parent = domain().uuid;
    ids.into_iter()
        .map(|id| {
            let mut p = VncObject::new("project", project_uuid(id), fq(&[DOMAIN, id]), Some(parent.clone()));
            p.id_perms(true, None, None);
            p
        })
        .collect()
}

pub fn default_ipam() -> VncObject {
    let fq_name = fq(&[DOMAIN, DEFAULT_PROJECT, DEFAULT_IPAM]);
    let mut ipam = VncObject::new(
        "network-ipam",
        uuid_of_name("network-ipam", &fq_name),
        fq_name,
        Some(project_uuid(DEFAULT_PROJECT)),
    );
    ipam.set("ipam_subnet_method", json!("user-defined-subnet")).id_perms(true, None, None);
    ipam
}

/// The last fq_name element of a network: its name when that names it
/// alone within its project, else its uuid (fq_names are unique in VNC).
fn network_names(networks: &[Network]) -> HashMap<String, String> {
    let mut count: HashMap<(&str, &str), usize> = HashMap::new();
    for n in networks {
        *count.entry((n.project_id.as_str(), n.name.as_str())).or_default() += 1;
    }
    networks
        .iter()
        .map(|n| {
            let unique = !n.name.is_empty() && count[&(n.project_id.as_str(), n.name.as_str())] == 1;
            (n.uuid.clone(), if unique { n.name.clone() } else { n.uuid.clone() })
        })
        .collect()
}

/// IpamSubnetType of one subnet.
fn ipam_subnet(s: &Subnet) -> Value {
    let (prefix, len) = s.cidr.split_once('/').unwrap_or((s.cidr.as_str(), "0"));
    let pools: Vec<Value> = json_text(&s.allocation_pools)
        .as_array()
        .map(|l| l.iter().map(|p| json!({"start": p["start"], "end": p["end"]})).collect())
        .unwrap_or_default();
    let routes: Vec<Value> = json_text(&s.host_routes)
        .as_array()
        .map(|l| l.iter().map(|r| json!({"prefix": r["destination"], "next_hop": r["nexthop"]})).collect())
        .unwrap_or_default();
    json!({
        "subnet": {"ip_prefix": prefix, "ip_prefix_len": len.parse::<u8>().unwrap_or(0)},
        "default_gateway": s.gateway_ip,
        "enable_dhcp": s.enable_dhcp,
        "dns_nameservers": json_text(&s.dns_nameservers),
        "allocation_pools": pools,
        "host_routes": {"route": routes},
        "addr_from_start": true,
        "alloc_unit": 1,
        "subnet_uuid": s.uuid,
        "subnet_name": s.name,
        "created": ts(s.created_at),
        "last_modified": ts(s.updated_at),
    })
}

/// The VLAN a bare-metal port of this network is tagged with on the switch.
pub fn vlan_of(n: &Network) -> Option<i32> {
    n.segmentation_id.filter(|_| n.network_type.as_deref() == Some("vlan"))
}

pub fn virtual_networks(networks: &[Network], subnets: &[Subnet]) -> Vec<VncObject> {
    let names = network_names(networks);
    let ipam = default_ipam();
    networks
        .iter()
        .map(|n| {
            let fq_name = fq(&[DOMAIN, &n.project_id, &names[&n.uuid]]);
            let mut vn = VncObject::new("virtual-network", n.uuid.clone(), fq_name, Some(project_uuid(&n.project_id)));
            let own: Vec<Value> = subnets.iter().filter(|s| s.network_uuid == n.uuid).map(ipam_subnet).collect();
            if !own.is_empty() {
                vn.set("network_ipam_refs", json!([ipam.reference(json!({"ipam_subnets": own, "host_routes": null}))]));
            }
            if n.network_type.is_some() {
                vn.set(
                    "provider_properties",
                    json!({"segmentation_id": n.segmentation_id, "physical_network": n.physical_network}),
                );
            }
            vn.set("display_name", json!(if n.name.is_empty() { &n.uuid } else { &n.name }))
                .set("is_shared", json!(n.shared))
                .set("router_external", json!(n.external))
                .set("port_security_enabled", json!(n.port_security_enabled))
                .set("address_allocation_mode", json!("user-defined-subnet-only"))
                .set("perms2", perms2(&n.project_id, n.shared))
                .id_perms(n.admin_state_up, ts(n.created_at), ts(n.updated_at));
            vn
        })
        .collect()
}

fn perms2(project_id: &str, shared: bool) -> Value {
    json!({"owner": project_uuid(project_id).replace('-', ""), "owner_access": 7,
           "global_access": if shared { 5 } else { 0 }, "share": []})
}

/// `virtual_machine_interface_bindings`: Neutron's `binding:*` values as
/// strings, the profile as a JSON string (what vnc_openstack stores).
fn bindings(p: &Port) -> Value {
    let mut kvps =
        vec![json!({"key": "vnic_type", "value": p.vnic_type}), json!({"key": "vif_type", "value": p.vif_type})];
    if !p.host_id.is_empty() {
        kvps.push(json!({"key": "host_id", "value": p.host_id}));
    }
    let profile = json_text(&p.profile);
    if profile.as_object().is_some_and(|m| !m.is_empty()) {
        kvps.push(json!({"key": "profile", "value": profile.to_string()}));
    }
    json!({"key_value_pair": kvps})
}

/// The fq_names of security groups (`["default-domain", <project>, <name>]`)
/// by uuid.
pub fn security_group_names(groups: &[SecurityGroup]) -> HashMap<String, Vec<String>> {
    groups.iter().map(|g| (g.uuid.clone(), fq(&[DOMAIN, &g.project_id, &g.name]))).collect()
}

/// The port's security groups as references (uuid only for a group that
/// has gone meanwhile).
fn security_group_refs(p: &Port, names: &HashMap<String, Vec<String>>) -> Vec<Value> {
    let ids = json_text(&p.security_groups);
    let ids = ids.as_array().map(|l| l.iter().filter_map(Value::as_str).collect::<Vec<_>>()).unwrap_or_default();
    ids.into_iter()
        .map(|id| match names.get(id) {
            Some(to) => json!({"to": to, "uuid": id, "attr": null}),
            None => json!({"uuid": id, "attr": null}),
        })
        .collect()
}

pub fn virtual_machine_interfaces(
    ports: &[Port],
    vns: &[VncObject],
    networks: &[Network],
    security_groups: &HashMap<String, Vec<String>>,
) -> Vec<VncObject> {
    ports
        .iter()
        .map(|p| {
            let fq_name = fq(&[DOMAIN, &p.project_id, &p.uuid]);
            let mut vmi =
                VncObject::new("virtual-machine-interface", p.uuid.clone(), fq_name, Some(project_uuid(&p.project_id)));
            if let Some(vn) = vns.iter().find(|v| v.uuid == p.network_uuid) {
                vmi.set("virtual_network_refs", json!([vn.reference(Value::Null)]));
            }
            if let Some(tag) = networks.iter().find(|n| n.uuid == p.network_uuid).and_then(vlan_of) {
                vmi.set("virtual_machine_interface_properties", json!({"sub_interface_vlan_tag": tag}));
            }
            let sgs = security_group_refs(p, security_groups);
            if !sgs.is_empty() {
                vmi.set("security_group_refs", json!(sgs));
            }
            vmi.set("display_name", json!(if p.name.is_empty() { &p.uuid } else { &p.name }))
                .set("virtual_machine_interface_mac_addresses", json!({"mac_address": [p.mac_address]}))
                .set("virtual_machine_interface_device_owner", json!(p.device_owner))
                .set("virtual_machine_interface_bindings", bindings(p))
                .set("port_security_enabled", json!(p.port_security_enabled))
                .set("perms2", perms2(&p.project_id, false))
                .id_perms(p.admin_state_up, ts(p.created_at), ts(p.updated_at));
            vmi
        })
        .collect()
}

/// The stable uuid of a fixed IP (an allocation has none of its own).
pub fn instance_ip_uuid(a: &IpAllocation) -> String {
    derived_uuid("instance-ip", &format!("{}:{}", a.port_uuid, a.ip_address))
}

pub fn instance_ips(allocations: &[IpAllocation], vns: &[VncObject], vmis: &[VncObject]) -> Vec<VncObject> {
    allocations
        .iter()
        .map(|a| {
            let uuid = instance_ip_uuid(a);
            let mut iip = VncObject::new("instance-ip", uuid.clone(), vec![uuid], None);
            let family = if a.ip_address.contains(':') { "v6" } else { "v4" };
            let refs = |list: &[VncObject], id: &str| -> Value {
                json!(list.iter().filter(|o| o.uuid == id).map(|o| o.reference(Value::Null)).collect::<Vec<_>>())
            };
            iip.set("instance_ip_address", json!(a.ip_address))
                .set("instance_ip_family", json!(family))
                .set("instance_ip_mode", json!("active-standby"))
                .set("subnet_uuid", json!(a.subnet_uuid))
                .set("virtual_network_refs", refs(vns, &a.network_uuid))
                .set("virtual_machine_interface_refs", refs(vmis, &a.port_uuid))
                .id_perms(true, None, None);
            iip
        })
        .collect()
}
