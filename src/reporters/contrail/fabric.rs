//! The fabric side of the view, derived from bound bare-metal ports the
//! way contrail-api's `_manage_vpg_association` builds it: each link of
//! `binding:profile.local_link_information` names a switch
//! (`switch_info` = physical-router) and its port (`port_id` =
//! physical-interface); each bound node gets a virtual-port-group.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::object::{VncObject, fq, uuid_of_name};
use crate::storage::network::Port;

pub const GLOBAL: &str = "default-global-system-config";
const DEFAULT_FABRIC: &str = "default-fabric";

/// One switch port a bound port is cabled to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Link {
    switch: String,
    port: String,
    switch_mac: Option<String>,
}

/// What one bound bare-metal port contributes.
struct Binding {
    node: String,
    fabric: String,
    links: Vec<Link>,
    /// The Ironic portgroup the links are bonded in, when there is one.
    group: Option<String>,
}

/// A port is bound (contrail's `_is_port_bound`) when it is a bare-metal
/// port with a host and at least one usable link.
fn binding(p: &Port) -> Option<Binding> {
    if p.vnic_type != "baremetal" || p.host_id.is_empty() {
        return None;
    }
    let profile: Value = serde_json::from_str(&p.profile).ok()?;
    let raw = profile.get("local_link_information")?.as_array()?;
    let text = |l: &Value, k: &str| l.get(k).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string);
    let links: Vec<Link> = raw
        .iter()
        .filter_map(|l| {
            Some(Link { switch: text(l, "switch_info")?, port: text(l, "port_id")?, switch_mac: text(l, "switch_id") })
        })
        .collect();
    if links.is_empty() {
        return None;
    }
    // All links share one fabric (contrail refuses a mix): the first one names it.
    let fabric = raw.iter().find_map(|l| text(l, "fabric")).unwrap_or_else(|| DEFAULT_FABRIC.to_string());
    let group = profile.pointer("/local_group_information/id").and_then(Value::as_str).map(str::to_string);
    Some(Binding { node: p.host_id.clone(), fabric, links, group })
}

pub fn global_system_config() -> VncObject {
    let fq_name = fq(&[GLOBAL]);
    let mut g = VncObject::new("global-system-config", uuid_of_name("global-system-config", &fq_name), fq_name, None);
    g.id_perms(true, None, None);
    g
}

fn named(kind: &'static str, fq_name: Vec<String>, parent: &VncObject) -> VncObject {
    let mut o = VncObject::new(kind, uuid_of_name(kind, &fq_name), fq_name, Some(parent.uuid.clone()));
    o.id_perms(true, None, None);
    o
}

/// Fabrics, physical routers, physical interfaces and virtual port groups
/// of the bound ports (`vmis` are the ports' interfaces, for the VPG refs).
pub fn fabric_objects(ports: &[Port], vmis: &[VncObject]) -> Vec<VncObject> {
    let gsc = global_system_config();
    let bound: Vec<(&Port, Binding)> = ports.iter().filter_map(|p| binding(p).map(|b| (p, b))).collect();

    let mut routers: BTreeMap<String, VncObject> = BTreeMap::new();
    let mut interfaces: BTreeMap<(String, String), VncObject> = BTreeMap::new();
    for (_, b) in &bound {
        for l in &b.links {
            let router = routers.entry(l.switch.clone()).or_insert_with(|| {
                let mut r = named("physical-router", fq(&[GLOBAL, &l.switch]), &gsc);
                r.set("physical_router_hostname", json!(l.switch)).set("physical_router_vnc_managed", json!(false));
                r
            });
            if let Some(mac) = &l.switch_mac {
                router.set("physical_router_management_mac", json!(mac));
            }
            let router = router.clone();
            interfaces.entry((l.switch.clone(), l.port.clone())).or_insert_with(|| {
                let mut pi = named("physical-interface", fq(&[GLOBAL, &l.switch, &l.port]), &router);
                pi.set("physical_interface_type", json!("access")).set("physical_interface_port_id", json!(l.port));
                pi
            });
        }
    }

    // One VPG per node, under the fabric its links name.
    let mut nodes: BTreeMap<&str, Vec<&(&Port, Binding)>> = BTreeMap::new();
    for item in &bound {
        nodes.entry(item.1.node.as_str()).or_default().push(item);
    }
    let mut fabrics: BTreeMap<String, VncObject> = BTreeMap::new();
    let mut groups = Vec::new();
    for (node, items) in nodes {
        let fabric_name = &items[0].1.fabric;
        let fabric = fabrics
            .entry(fabric_name.clone())
            .or_insert_with(|| named("fabric", fq(&[GLOBAL, fabric_name]), &gsc))
            .clone();
        let mut vpg = named("virtual-port-group", fq(&[GLOBAL, fabric_name, &format!("vpg-{node}")]), &fabric);
        let (pi_refs, lag) = interface_refs(&items, &interfaces);
        let vmi_refs: Vec<Value> = items
            .iter()
            .filter_map(|(p, _)| vmis.iter().find(|v| v.uuid == p.uuid))
            .map(|v| v.reference(Value::Null))
            .collect();
        vpg.set("physical_interface_refs", json!(pi_refs))
            .set("virtual_machine_interface_refs", json!(vmi_refs))
            .set("virtual_port_group_user_created", json!(false))
            .set("virtual_port_group_lacp_enabled", json!(lag))
            .set("virtual_port_group_type", json!("access"));
        groups.push(vpg);
    }

    let mut out = vec![gsc];
    out.extend(fabrics.into_values());
    out.extend(routers.into_values());
    out.extend(interfaces.into_values());
    out.extend(groups);
    out
}

/// The VPG's physical-interface refs, each link once. The links of a
/// bonded group (more than one link) form a LAG and carry its `ae_num`,
/// numbered per VPG in the order the groups appear.
fn interface_refs(
    items: &[&(&Port, Binding)],
    interfaces: &BTreeMap<(String, String), VncObject>,
) -> (Vec<Value>, bool) {
    let mut refs: Vec<Value> = Vec::new();
    let mut seen = Vec::new();
    let mut lags: Vec<&str> = Vec::new();
    for (_, b) in items {
        let ae_num = match (&b.group, b.links.len() > 1) {
            (Some(g), true) => Some(lags.iter().position(|x| x == g).unwrap_or_else(|| {
                lags.push(g);
                lags.len() - 1
            })),
            (None, true) => {
                lags.push("");
                Some(lags.len() - 1)
            }
            _ => None,
        };
        for l in &b.links {
            let key = (l.switch.clone(), l.port.clone());
            if seen.contains(&key) {
                continue;
            }
            if let Some(pi) = interfaces.get(&key) {
                refs.push(pi.reference(ae_num.map_or(Value::Null, |n| json!({"ae_num": n}))));
            }
            seen.push(key);
        }
    }
    (refs, !lags.is_empty())
}
