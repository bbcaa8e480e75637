//! What an inspection leaves on a node: its scheduling properties, the
//! boot mode capability, a port per NIC it did not have, and the stored
//! inventory (`GET /v1/nodes/{n}/inventory`).

use serde_json::{Map, Value};

use super::rules::{self, RuleFailure, Subject};
use super::{Actor, Engine, now};
use crate::drivers::Inventory;
use crate::storage::baremetal::{self as bm, Node, Port};
use crate::storage::inspection::{self as ins, NodeInventory};
use crate::storage::{DbConn, StorageError};

/// Sets `key:value` in a capabilities string (`k1:v1,k2:v2`).
fn set_capability(caps: Option<&str>, key: &str, value: &str) -> String {
    let mut parts: Vec<String> = caps
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty() && p.split(':').next() != Some(key))
        .map(str::to_string)
        .collect();
    parts.push(format!("{key}:{value}"));
    parts.join(",")
}

/// Applies an inventory to `n` (not yet saved) in the caller's
/// transaction: properties, new ports, then the inspection rules; stores
/// `document` (the inventory as reported) with the plugin data. Returns
/// the ports it enrolled, or why the rules failed the inspection (then
/// nothing is changed).
pub fn apply(
    c: &mut DbConn,
    n: &mut Node,
    inv: &Inventory,
    (document, plugin_data): (&Value, &Value),
    host: &str,
) -> Result<Result<Vec<Port>, String>, StorageError> {
    let mut node = n.clone();
    let mut props: Map<String, Value> = serde_json::from_str(&node.properties).unwrap_or_default();
    props.extend(inv.properties());
    if let Some(mode) = inv.boot_mode() {
        let caps = set_capability(props.get("capabilities").and_then(Value::as_str), "boot_mode", mode);
        props.insert("capabilities".into(), caps.into());
    }
    node.properties = Value::Object(props).to_string();

    let existing = bm::ports_of_nodes(c, std::slice::from_ref(&node.uuid))?;
    let mut ports = existing.clone();
    let mut notes = Vec::new();
    for mac in inv.port_macs() {
        if ports.iter().any(|p| p.address == mac) {
            continue;
        }
        match bm::port_by_address(c, &mac)? {
            Some(p) => notes.push((
                "WARNING".to_string(),
                format!("Port {mac} found by inspection already belongs to node {}; not enrolled", p.node_uuid),
            )),
            None => ports.push(Port::new(uuid::Uuid::new_v4().to_string(), mac, node.uuid.clone(), now())),
        }
    }
    let rules = ins::rules_for_phase(c, "main")?;
    let mut plugin = plugin_data.clone();
    let mut subject =
        Subject { node: &mut node, ports: &mut ports, inventory: document, plugin_data: &mut plugin, log: vec![] };
    if let Err(RuleFailure(why)) = rules::apply(&rules, &mut subject) {
        return Ok(Err(why));
    }
    notes.extend(subject.log);

    let mut enrolled = Vec::new();
    for p in ports {
        match existing.iter().find(|e| e.uuid == p.uuid) {
            Some(before) if *before != p => bm::port_update(c, &Port { updated_at: Some(now()), ..p })?,
            Some(_) => {}
            None => {
                bm::port_insert(c, &p)?;
                enrolled.push(p);
            }
        }
    }
    let missing = inv.missing();
    if !missing.is_empty() {
        notes.push((
            "WARNING".into(),
            format!("Inspection could not learn {}; those properties are left as they were", missing.join(", ")),
        ));
    }
    for (severity, note) in notes {
        bm::history_insert(c, &Engine::history(&node, host, &Actor::default(), &severity, note, "inspection"))?;
    }
    let row = NodeInventory {
        node_uuid: node.uuid.clone(),
        inventory: document.to_string(),
        plugin_data: plugin.to_string(),
        created_at: now(),
        updated_at: None,
    };
    ins::inventory_put(c, &row)?;
    *n = node;
    Ok(Ok(enrolled))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_keep_the_others() {
        assert_eq!(set_capability(None, "boot_mode", "uefi"), "boot_mode:uefi");
        assert_eq!(set_capability(Some("a:1, boot_mode:bios,b:2"), "boot_mode", "uefi"), "a:1,b:2,boot_mode:uefi");
    }
}
