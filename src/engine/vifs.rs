//! VIFs: network-service ports attached to a node's Ironic ports or
//! portgroups. Shared by the bare-metal API (`/v1/nodes/{n}/vifs`) and the
//! instance build, which attaches the ports it creates.

use serde_json::{Map, Value, json};

use crate::reporters::contrail::push::PortSync;
use crate::storage::baremetal::{self as bm, Node, Page, PortFilter, PortgroupFilter};
use crate::storage::network as net;
use crate::storage::{DbConn, StorageError, StorageResult};

/// Why a VIF could not be attached or detached.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VifError {
    #[error("Node {node} is locked by host {host}, please retry after the current operation is completed.")]
    Locked { node: String, host: String },
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    BadRequest(String),
}

fn json_of(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or(Value::Null)
}

const VIF_KEY: &str = "tenant_vif_port_id";

fn all() -> Page {
    Page { limit: i64::MAX, marker: None, sort: "id", desc: false }
}

pub fn vif_of(internal: &str) -> Option<String> {
    json_of(internal).get(VIF_KEY).and_then(Value::as_str).map(str::to_string)
}

fn with_vif(internal: &str, vif: Option<&str>) -> String {
    let mut m: Map<String, Value> = serde_json::from_str(internal).unwrap_or_default();
    match vif {
        Some(v) => m.insert(VIF_KEY.into(), json!(v)),
        None => m.remove(VIF_KEY),
    };
    Value::Object(m).to_string()
}

/// Nodes whose network interface is `flat` or `neutron` attach VIFs that are
/// ports of the network service: attaching binds the port to the node
/// (the switch ports of the node's port or portgroup become its
/// `local_link_information`), detaching unbinds it. `noop` records the VIF only.
pub fn uses_network_service(n: &Node) -> bool {
    matches!(json_of(&n.interfaces).get("network").and_then(Value::as_str), Some("flat" | "neutron"))
}

/// The binding profile of a VIF on these Ironic ports (one port, or the
/// members of a portgroup, whose group information is added for a LAG).
fn binding_profile(ports: &[&bm::Port], group: Option<&bm::Portgroup>) -> Value {
    let links: Vec<Value> = ports.iter().map(|p| json_of(&p.local_link_connection)).collect();
    let mut profile = json!({ "local_link_information": links });
    if let Some(pg) = group {
        profile["local_group_information"] = json!({
            "id": pg.uuid, "name": pg.name, "bond_mode": pg.mode,
            "bond_properties": json_of(&pg.properties),
        });
    }
    profile
}

/// Binds (or, with `None`, unbinds) network port `vif` for `node`; with
/// `push`, the port's VMI and the node's VPG are recorded for the Contrail push.
fn bind_vif(
    c: &mut DbConn,
    vif: &str,
    node: &str,
    binding: Option<(Value, Option<String>)>,
    push: bool,
) -> StorageResult<Result<(), VifError>> {
    let sync = PortSync::begin(c, push, vif)?;
    let mut port = match net::port(c, vif) {
        Ok(p) => p,
        Err(StorageError::NotFound { .. }) if binding.is_none() => return Ok(Ok(())),
        Err(StorageError::NotFound { .. }) => {
            return Ok(Err(VifError::BadRequest(format!(
                "Unable to attach VIF {vif}: the network service has no port {vif}"
            ))));
        }
        Err(e) => return Err(e),
    };
    match binding {
        Some((profile, mac)) => {
            if !port.host_id.is_empty() && port.host_id != node {
                return Ok(Err(VifError::Conflict(format!(
                    "Unable to attach VIF {vif}: the port is bound to {}",
                    port.host_id
                ))));
            }
            port.vnic_type = "baremetal".into();
            if let Some(mac) = mac {
                port.mac_address = mac;
            }
            port.set_binding(node, &profile);
        }
        None => port.set_binding("", &json!({})),
    }
    port.updated_at = chrono::Utc::now().naive_utc();
    port.revision_number += 1;
    match net::port_update(c, &port) {
        Err(StorageError::Duplicate(_)) => Ok(Err(VifError::Conflict(format!(
            "Unable to attach VIF {vif}: its network already has a port with MAC {}",
            port.mac_address
        )))),
        Err(e) => Err(e),
        Ok(()) => sync.finish(c).map(Ok),
    }
}

/// Attaches `vif` to `node`: to the portgroup or port asked for, else to a
/// free portgroup with ports, else to a free standalone port. With `bind`
/// the network port is bound to the node (see [`uses_network_service`]).
pub fn attach(
    c: &mut DbConn,
    node: &str,
    vif: &str,
    want_port: Option<&str>,
    want_pg: Option<&str>,
    bind: bool,
    push: bool,
) -> StorageResult<Result<(), VifError>> {
    let n = bm::node(c, node)?;
    if let Some(h) = &n.reservation {
        return Ok(Err(VifError::Locked { node: n.uuid.clone(), host: h.clone() }));
    }
    let pgs =
        bm::portgroups_list(c, &PortgroupFilter { node_uuid: Some(node.to_string()), ..Default::default() }, &all())?;
    let ports = bm::ports_list(c, &PortFilter { node_uuid: Some(node.to_string()), ..Default::default() }, &all())?;
    let attached = pgs.iter().any(|p| vif_of(&p.internal_info).as_deref() == Some(vif))
        || ports.iter().any(|p| vif_of(&p.internal_info).as_deref() == Some(vif));
    if attached {
        return Ok(Err(VifError::Conflict(format!(
            "Unable to attach VIF because VIF {vif} is already attached to node {node}"
        ))));
    }
    // A portgroup first (it bonds its ports), then a free standalone port.
    // A portgroup without ports cannot carry traffic: it is skipped.
    if let Some(pg) = pgs.into_iter().find(|p| {
        want_port.is_none()
            && want_pg.is_none_or(|w| w == p.uuid)
            && vif_of(&p.internal_info).is_none()
            && ports.iter().any(|port| port.portgroup_uuid.as_deref() == Some(p.uuid.as_str()))
    }) {
        let mut pg = pg;
        if bind {
            let members: Vec<&bm::Port> =
                ports.iter().filter(|p| p.portgroup_uuid.as_deref() == Some(pg.uuid.as_str())).collect();
            let mac = pg.address.clone().or_else(|| members.first().map(|p| p.address.clone()));
            if let Err(e) = bind_vif(c, vif, node, Some((binding_profile(&members, Some(&pg)), mac)), push)? {
                return Ok(Err(e));
            }
        }
        pg.internal_info = with_vif(&pg.internal_info, Some(vif));
        bm::portgroup_update(c, &pg)?;
        return Ok(Ok(()));
    }
    if want_pg.is_some() {
        return Ok(Err(VifError::BadRequest(format!("Portgroup for VIF {vif} is not free or not found."))));
    }
    let free = ports.into_iter().find(|p| {
        want_port.is_none_or(|w| w == p.uuid) && p.portgroup_uuid.is_none() && vif_of(&p.internal_info).is_none()
    });
    match free {
        Some(mut p) => {
            if bind {
                let profile = binding_profile(&[&p], None);
                if let Err(e) = bind_vif(c, vif, node, Some((profile, Some(p.address.clone()))), push)? {
                    return Ok(Err(e));
                }
            }
            p.internal_info = with_vif(&p.internal_info, Some(vif));
            bm::port_update(c, &p)?;
            Ok(Ok(()))
        }
        None => Ok(Err(VifError::BadRequest(format!("Unable to attach VIF {vif}, not enough free physical ports.")))),
    }
}

/// Detaches `vif` from `node` (unbinding its network port with `bind`).
pub fn detach(c: &mut DbConn, node: &str, vif: &str, bind: bool, push: bool) -> StorageResult<Result<(), VifError>> {
    for mut pg in
        bm::portgroups_list(c, &PortgroupFilter { node_uuid: Some(node.to_string()), ..Default::default() }, &all())?
    {
        if vif_of(&pg.internal_info).as_deref() == Some(vif) {
            pg.internal_info = with_vif(&pg.internal_info, None);
            bm::portgroup_update(c, &pg)?;
            if bind {
                return bind_vif(c, vif, node, None, push);
            }
            return Ok(Ok(()));
        }
    }
    for mut p in bm::ports_list(c, &PortFilter { node_uuid: Some(node.to_string()), ..Default::default() }, &all())? {
        if vif_of(&p.internal_info).as_deref() == Some(vif) {
            p.internal_info = with_vif(&p.internal_info, None);
            bm::port_update(c, &p)?;
            if bind {
                return bind_vif(c, vif, node, None, push);
            }
            return Ok(Ok(()));
        }
    }
    Ok(Err(VifError::BadRequest(format!(
        "Unable to detach VIF {vif} from node {node} because it is not attached to it."
    ))))
}

/// The VIFs attached to `node`: its portgroups' first, then its ports'.
pub fn vifs_of_node(c: &mut DbConn, node: &str) -> StorageResult<Vec<String>> {
    let mut out = Vec::new();
    let pgs =
        bm::portgroups_list(c, &PortgroupFilter { node_uuid: Some(node.to_string()), ..Default::default() }, &all())?;
    out.extend(pgs.iter().filter_map(|pg| vif_of(&pg.internal_info)));
    let ports = bm::ports_list(c, &PortFilter { node_uuid: Some(node.to_string()), ..Default::default() }, &all())?;
    out.extend(ports.iter().filter_map(|p| vif_of(&p.internal_info)));
    Ok(out)
}
