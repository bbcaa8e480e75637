//! What an inspection leaves on a node: its scheduling properties, the
//! boot mode capability, a port per NIC it did not have, and the stored
//! inventory (`GET /v1/nodes/{n}/inventory`).

use serde_json::{Map, Value};

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
/// transaction and stores `document` (the inventory as reported) with
/// `plugin_data`; returns the ports it enrolled.
pub fn apply(
    c: &mut DbConn,
    n: &mut Node,
    inv: &Inventory,
    (document, plugin_data): (&Value, &Value),
    host: &str,
) -> Result<Vec<Port>, StorageError> {
    let mut props: Map<String, Value> = serde_json::from_str(&n.properties).unwrap_or_default();
    props.extend(inv.properties());
    if let Some(mode) = inv.boot_mode() {
        let caps = set_capability(props.get("capabilities").and_then(Value::as_str), "boot_mode", mode);
        props.insert("capabilities".into(), caps.into());
    }
    n.properties = Value::Object(props).to_string();

    let mut enrolled = Vec::new();
    for mac in inv.port_macs() {
        match bm::port_by_address(c, &mac)? {
            Some(p) if p.node_uuid == n.uuid => {}
            Some(p) => {
                let note =
                    format!("Port {mac} found by inspection already belongs to node {}; not enrolled", p.node_uuid);
                bm::history_insert(c, &Engine::history(n, host, &Actor::default(), "WARNING", note, "inspection"))?;
            }
            None => {
                let port = Port::new(uuid::Uuid::new_v4().to_string(), mac, n.uuid.clone(), now());
                bm::port_insert(c, &port)?;
                enrolled.push(port);
            }
        }
    }
    let missing = inv.missing();
    if !missing.is_empty() {
        let note = format!("Inspection could not learn {}; those properties are left as they were", missing.join(", "));
        bm::history_insert(c, &Engine::history(n, host, &Actor::default(), "WARNING", note, "inspection"))?;
    }
    let row = NodeInventory {
        node_uuid: n.uuid.clone(),
        inventory: document.to_string(),
        plugin_data: plugin_data.to_string(),
        created_at: now(),
        updated_at: None,
    };
    ins::inventory_put(c, &row)?;
    Ok(enrolled)
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
