//! In-band inspection and discovery: an agent booted on a server posts its
//! inventory (`POST /v1/continue_inspection`); the server is found by the
//! MACs of its NICs or its BMC address, or — when discovery is enabled —
//! enrolled as a new node. Either way its properties, ports and stored
//! inventory follow from what it reported.

use serde_json::{Map, Value, json};
use std::sync::Arc;

use super::{Actor, Engine, EngineError, Event, EventKind, events::NodeAction, inspection, now, state_of};
use crate::drivers::credentials::Sealer;
use crate::drivers::inventory::normal_mac;
use crate::drivers::{Inventory, default_interfaces, hardware_info};
use crate::engine::states::{Event as Fsm, ProvisionState as S, transition};
use crate::storage::baremetal::{self as bm, Node};
use crate::storage::{DbConn, StorageError};

/// What to do with servers nobody enrolled.
#[derive(Debug, Clone, Default)]
pub struct DiscoverySettings {
    /// Enrol unknown servers (else they are refused with a 404).
    pub enabled: bool,
    /// Hardware type of discovered nodes.
    pub driver: String,
    /// `driver_info` every discovered node starts with; the reported BMC
    /// address is added as `<driver>_address` for ipmi and redfish.
    pub driver_info: Map<String, Value>,
    pub resource_class: Option<String>,
}

/// The node an inventory was applied to.
pub struct Inspected {
    pub node: Node,
    /// True when the node was enrolled by this report.
    pub enrolled: bool,
}

/// The host part of a BMC address as drivers store it (`10.0.0.5`,
/// `https://bmc1:8443/`, `[fe80::1]`).
fn host_of(addr: &str) -> String {
    let a = addr.trim();
    let a = a.split_once("://").map_or(a, |(_, rest)| rest);
    let a = a.split(['/', '?']).next().unwrap_or_default();
    let host = if let Some(v6) = a.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else if a.matches(':').count() == 1 {
        a.split(':').next().unwrap_or_default()
    } else {
        a
    };
    host.to_ascii_lowercase()
}

/// Whether one of the node's `*_address` driver fields names `bmc`.
fn has_bmc(n: &Node, bmc: &str) -> bool {
    let info: Map<String, Value> = serde_json::from_str(&n.driver_info).unwrap_or_default();
    info.iter().any(|(k, v)| k.ends_with("_address") && v.as_str().is_some_and(|s| host_of(s) == bmc))
}

fn lookup_failed() -> EngineError {
    EngineError::LookupFailed
}

/// The node a report is about: by its MACs, else by its BMC address.
fn find(c: &mut DbConn, macs: &[String], bmcs: &[String]) -> Result<Option<Node>, EngineError> {
    if !macs.is_empty() {
        match bm::nodes_with_port_addresses(c, macs)?.as_slice() {
            [] => {}
            [one] => return Ok(Some(bm::node(c, one)?)),
            _ => return Err(lookup_failed()),
        }
    }
    let mut found: Vec<Node> = Vec::new();
    for b in bmcs {
        for n in bm::nodes_driver_info_containing(c, b)? {
            if has_bmc(&n, b) && !found.iter().any(|f| f.uuid == n.uuid) {
                found.push(n);
            }
        }
    }
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.pop()),
        _ => Err(lookup_failed()),
    }
}

impl Engine {
    /// Applies an agent's report: `body` is what it posted (`inventory`
    /// and the rest, kept as plugin data).
    pub async fn continue_inspection(
        &self,
        settings: &DiscoverySettings,
        body: Map<String, Value>,
    ) -> Result<Inspected, EngineError> {
        let mut plugin_data = body;
        let document = plugin_data.remove("inventory").unwrap_or(Value::Null);
        let inv: Inventory = serde_json::from_value(document.clone())
            .map_err(|e| EngineError::BadInput(format!("Schema error for data: {e}")))?;
        let macs: Vec<String> = inv.interfaces.iter().filter_map(|i| normal_mac(&i.mac_address)).collect();
        let bmcs: Vec<String> = [&inv.bmc_address, &inv.bmc_v6address]
            .into_iter()
            .flatten()
            .map(|a| host_of(a))
            .filter(|a| !a.is_empty() && a != "0.0.0.0" && a != "::")
            .collect();
        if macs.is_empty() && bmcs.is_empty() {
            return Err(EngineError::BadInput("No lookup information provided".into()));
        }
        let host = self.host().to_string();
        let settings = settings.clone();
        let sealer = self.settings().hardware.sealer.clone();
        let (node, enrolled, ports, moved) = self
            .inner
            .storage
            .write(move |c| -> Result<Result<_, EngineError>, StorageError> {
                let found = match find(c, &macs, &bmcs) {
                    Ok(f) => f,
                    Err(e) => return Ok(Err(e)),
                };
                let (mut n, enrolled) = match found {
                    Some(n) => {
                        let state = state_of(&n);
                        let accepted = state == S::InspectWait || (state == S::Enroll && settings.enabled);
                        if !accepted {
                            return Ok(Err(lookup_failed()));
                        }
                        if let Some(h) = &n.reservation {
                            return Ok(Err(EngineError::Locked { node: n.uuid.clone(), host: h.clone() }));
                        }
                        (n, false)
                    }
                    None if settings.enabled => match new_node(c, &settings, &inv, sealer.as_deref()) {
                        Ok(n) => (n, true),
                        Err(e) => return Ok(Err(e)),
                    },
                    None => return Ok(Err(lookup_failed())),
                };
                let mut plugin = plugin_data;
                // Still marked on later reports of a node discovery enrolled.
                let was_discovered = crate::storage::inspection::inventory(c, &n.uuid)?
                    .and_then(|r| serde_json::from_str::<Value>(&r.plugin_data).ok())
                    .is_some_and(|p| p["auto_discovered"] == json!(true));
                if enrolled || was_discovered {
                    plugin.insert("auto_discovered".into(), json!(true));
                }
                let from = state_of(&n);
                let (ports, event) =
                    match inspection::apply(c, &mut n, &inv, (&document, &Value::Object(plugin)), &host)? {
                        Ok(ports) => (ports, Fsm::Done),
                        Err(why) => {
                            // As an agent's report is processed after it is
                            // accepted, a rule failure shows on the node.
                            n.last_error = Some(format!("Failed to inspect hardware. Reason: {why}"));
                            (Vec::new(), Fsm::Fail)
                        }
                    };
                let mut moved = None;
                if from == S::InspectWait
                    && let Some(next) = transition(from, event)
                {
                    n.provision_state = next.as_str().into();
                    n.target_provision_state = None;
                    n.provision_updated_at = Some(now());
                    n.inspection_finished_at = Some(now());
                    moved = Some((from, next, event));
                }
                n.updated_at = Some(now());
                let note = if enrolled {
                    "Enrolled by discovery from the inventory an agent reported".to_string()
                } else {
                    "Inventory reported by the agent applied".to_string()
                };
                bm::history_insert(c, &Engine::history(&n, &host, &Actor::default(), "INFO", note, "inspection"))?;
                let n = bm::node_update(c, &n)?;
                Ok(Ok((n, enrolled, ports, moved)))
            })
            .await??;
        if enrolled {
            self.emit(Event::of(&node, EventKind::Node { action: NodeAction::Create, prior_updated_at: None }));
        }
        for p in ports {
            self.emit(Event::port(Some(&node), EventKind::PortCreated { port: Arc::new(p) }));
        }
        match moved {
            Some((from, to, event)) => self.emit(Event::of(
                &node,
                EventKind::Provision {
                    from,
                    to,
                    event,
                    prior_target: Some(S::Manageable),
                    target: None,
                    error: node.last_error.clone().filter(|_| event == Fsm::Fail),
                },
            )),
            None if !enrolled => self.emit(Event::of(&node, EventKind::NodeChanged)),
            None => {}
        }
        Ok(Inspected { node, enrolled })
    }
}

/// A node for a server nobody enrolled, stored in `enroll`.
fn new_node(
    c: &mut DbConn,
    s: &DiscoverySettings,
    inv: &Inventory,
    sealer: Option<&Sealer>,
) -> Result<Node, EngineError> {
    let Some(hw) = hardware_info(&s.driver) else {
        return Err(EngineError::Conflict(format!("Discovery is configured with unknown driver {}", s.driver)));
    };
    let mut n = Node::new(uuid::Uuid::new_v4().to_string(), s.driver.clone(), now());
    n.interfaces = Value::Object(default_interfaces(hw)).to_string();
    let mut info = s.driver_info.clone();
    if let Some(bmc) = inv.bmc_address.as_deref().or(inv.bmc_v6address.as_deref()).filter(|b| !b.is_empty()) {
        let key = match s.driver.as_str() {
            "ipmi" => Some(("ipmi_address", bmc.to_string())),
            "redfish" => Some(("redfish_address", format!("https://{bmc}"))),
            _ => None,
        };
        if let Some((k, v)) = key {
            info.entry(k.to_string()).or_insert(Value::String(v));
        }
    }
    if let Some(sealer) = sealer {
        sealer.seal_map(&mut info);
    }
    n.driver_info = Value::Object(info).to_string();
    n.resource_class = s.resource_class.clone();
    bm::node_insert(c, &n)?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bmc_hosts_compare_as_drivers_store_them() {
        assert_eq!(host_of("10.0.0.5"), "10.0.0.5");
        assert_eq!(host_of("https://BMC1.example:8443/redfish/v1"), "bmc1.example");
        assert_eq!(host_of("[fe80::1]:623"), "fe80::1");
        assert_eq!(host_of("fe80::1"), "fe80::1");
        assert_eq!(host_of("10.0.0.5:623"), "10.0.0.5");
    }
}
