//! From engine events to Sandesh: every change of a node sends its full
//! UVE (with its ports, as Contrail's Ironic notification manager builds
//! it), a deleted node its `deleted=true`, and lifecycle events their
//! object and system logs at a level that says how they went.

use std::collections::HashMap;
use tokio::sync::broadcast;

use super::Sandesh;
use super::codec::Struct;
use super::generator::{BoxFuture, UveSource};
use super::messages::{self, Cause, Level, NodeEvent, ServerEvent};
use crate::engine::events::{Event, EventKind, NodeAction, ServerStep};
use crate::engine::states::Event as Fsm;
use crate::reporters::ironic_events;
use crate::storage::Storage;
use crate::storage::baremetal::{self as bm, Node, Port};

/// Node UVEs straight from the database.
pub struct NodeUves {
    pub storage: Storage,
}

fn uves_of(nodes: Vec<Node>, ports: Vec<Port>) -> Vec<Struct> {
    let mut by_node: HashMap<String, Vec<Port>> = HashMap::new();
    for p in ports {
        by_node.entry(p.node_uuid.clone()).or_default().push(p);
    }
    nodes
        .iter()
        .map(|n| messages::ironic_node(n, by_node.get(&n.uuid).map_or(&[][..], |v| v), &Cause::default()))
        .collect()
}

impl UveSource for NodeUves {
    fn page(&self, after: Option<String>, limit: usize) -> BoxFuture<Result<Vec<Struct>, String>> {
        let storage = self.storage.clone();
        Box::pin(async move {
            let (nodes, ports) = storage
                .read(move |c| {
                    let nodes = bm::nodes_page_by_uuid(c, after.as_deref(), limit as i64)?;
                    let ids: Vec<String> = nodes.iter().map(|n| n.uuid.clone()).collect();
                    Ok((nodes, bm::ports_of_nodes(c, &ids)?))
                })
                .await
                .map_err(|e| e.to_string())?;
            Ok(uves_of(nodes, ports))
        })
    }

    fn one(&self, key: String) -> BoxFuture<Result<Option<Struct>, String>> {
        let storage = self.storage.clone();
        Box::pin(async move {
            let found = storage
                .read(move |c| match bm::node(c, &key) {
                    Ok(n) => {
                        let ports = bm::ports_of_nodes(c, std::slice::from_ref(&n.uuid))?;
                        Ok(Some((n, ports)))
                    }
                    Err(crate::storage::StorageError::NotFound { .. }) => Ok(None),
                    Err(e) => Err(e),
                })
                .await
                .map_err(|e| e.to_string())?;
            Ok(found.map(|(n, p)| uves_of(vec![n], p).remove(0)))
        })
    }
}

/// The UVE cause of an event: its last Ironic notification.
fn cause(ev: &Event, host: &str) -> Option<Cause> {
    ironic_events::notices(ev)
        .last()
        .map(|n| Cause { event_type: n.event_type(), publisher_id: format!("{}.{host}", n.service.as_str()) })
}

fn opt(s: &Option<String>) -> String {
    s.clone().unwrap_or_default()
}

/// The object log and the words of a node's lifecycle event, if it is one.
fn lifecycle(ev: &Event, cause: &Option<Cause>) -> Option<(Level, NodeEvent, String)> {
    let n = ev.node.as_deref()?;
    let mut e = NodeEvent {
        node_uuid: n.uuid.clone(),
        event_type: cause.as_ref().map(|c| c.event_type.clone()).unwrap_or_default(),
        provision_state: n.provision_state.clone(),
        target_provision_state: opt(&n.target_provision_state),
        previous_provision_state: String::new(),
        power_state: opt(&n.power_state),
        error: None,
        instance_uuid: n.instance_uuid.clone(),
    };
    let (level, text) = match &ev.kind {
        EventKind::Node { action: NodeAction::Create, .. } => (Level::Notice, "enrolled".to_string()),
        EventKind::Node { action: NodeAction::Delete, .. } => (Level::Notice, "deleted".to_string()),
        EventKind::Node { action: NodeAction::MaintenanceSet, .. } => {
            let text = match (n.maintenance, &n.maintenance_reason) {
                (true, Some(r)) => format!("put in maintenance: {r}"),
                (true, None) => "put in maintenance".to_string(),
                (false, _) => "taken out of maintenance".to_string(),
            };
            (Level::Notice, text)
        }
        EventKind::NodeRefused { action, reason } => {
            e.error = Some(reason.clone());
            (
                Level::Warn,
                format!("{} refused: {reason}", if *action == NodeAction::Delete { "delete" } else { "change" }),
            )
        }
        EventKind::Provision { from, to, event, error, .. } => {
            e.previous_provision_state = from.as_str().into();
            e.error = error.clone();
            match (event, error) {
                (Fsm::Fail, Some(err)) => (Level::Err, format!("failed in {from}, now {to}: {err}")),
                (Fsm::Fail, None) => (Level::Err, format!("failed in {from}, now {to}")),
                _ => (Level::Info, format!("changed provision state from {from} to {to} ({})", event.as_str())),
            }
        }
        EventKind::PowerRequested { requested } => (Level::Info, format!("power change to {requested} requested")),
        EventKind::Power { requested, from, to, error } => {
            e.error = error.clone();
            match error {
                Some(err) => (Level::Err, format!("power change to {requested} failed: {err}")),
                None => (
                    Level::Info,
                    format!("power state changed from {} to {}", from.as_deref().unwrap_or("None"), opt(to)),
                ),
            }
        }
        _ => return None,
    };
    Some((level, e, text))
}

fn server_log(ev: &Event) -> Option<(Level, ServerEvent)> {
    let EventKind::Server(s) = &ev.kind else { return None };
    let level = match s.step {
        ServerStep::CreateError => Level::Err,
        _ => Level::Notice,
    };
    let status = match s.step {
        ServerStep::CreateStart => "BUILD",
        ServerStep::CreateEnd => "ACTIVE",
        ServerStep::CreateError => "ERROR",
        ServerStep::DeleteStart => "DELETING",
        ServerStep::DeleteEnd => "DELETED",
    };
    Some((
        level,
        ServerEvent {
            server_uuid: s.server_uuid.clone(),
            node_uuid: (!ev.node_uuid.is_empty()).then(|| ev.node_uuid.clone()),
            action: s.step.as_str().into(),
            project_id: s.project_id.clone(),
            status: status.into(),
            error: s.error.clone(),
        },
    ))
}

/// Events taken at once: one database read serves the whole batch.
const BATCH: usize = 256;

/// Follows the engine's events until it stops.
pub async fn run(sandesh: Sandesh, storage: Storage, host: String, mut events: broadcast::Receiver<Event>) {
    loop {
        let mut batch = Vec::new();
        match events.recv().await {
            Ok(ev) => batch.push(ev),
            Err(broadcast::error::RecvError::Lagged(n)) => {
                // Missed changes: their UVEs are sent again from the database.
                tracing::warn!(missed = n, "sandesh: engine events missed; refreshing every node");
                refresh_all(&sandesh, &storage).await;
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
        while batch.len() < BATCH {
            match events.try_recv() {
                Ok(ev) => batch.push(ev),
                Err(_) => break,
            }
        }
        report(&sandesh, &storage, &host, batch).await;
    }
}

/// Logs and UVEs of a batch of events, in order.
async fn report(sandesh: &Sandesh, storage: &Storage, host: &str, batch: Vec<Event>) {
    // The nodes (those the events do not carry) and ports to read.
    let mut wanted: Vec<String> = Vec::new();
    let mut unknown: Vec<String> = Vec::new();
    for ev in &batch {
        let uve = !matches!(ev.kind, EventKind::Server(_) | EventKind::Node { action: NodeAction::Delete, .. });
        if uve && !wanted.contains(&ev.node_uuid) {
            wanted.push(ev.node_uuid.clone());
        }
        if uve && ev.node.is_none() && !unknown.contains(&ev.node_uuid) {
            unknown.push(ev.node_uuid.clone());
        }
    }
    let read = if wanted.is_empty() {
        Ok((Vec::new(), Vec::new()))
    } else {
        storage
            .read(move |c| {
                let mut nodes = Vec::new();
                for id in &unknown {
                    match bm::node(c, id) {
                        Ok(n) => nodes.push(n),
                        // A port of a node deleted meanwhile.
                        Err(crate::storage::StorageError::NotFound { .. }) => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok((nodes, bm::ports_of_nodes(c, &wanted)?))
            })
            .await
    };
    let (nodes, ports) = match read {
        Ok(x) => x,
        Err(e) => {
            tracing::warn!(error = %e, events = batch.len(), "sandesh: node UVEs not sent");
            (Vec::new(), Vec::new())
        }
    };
    let ports_at = ports_at_each_event(&batch, ports);
    for (ev, ports) in batch.iter().zip(ports_at) {
        let cause = cause(ev, host);
        if let Some((level, e)) = server_log(ev) {
            sandesh.server_event(level, &e);
            continue;
        }
        if let Some((level, e, text)) = lifecycle(ev, &cause) {
            sandesh.node_event(level, e, &text);
        }
        if matches!(ev.kind, EventKind::Node { action: NodeAction::Delete, .. }) {
            sandesh.node_deleted(&ev.node_uuid);
            continue;
        }
        let node = match &ev.node {
            Some(n) => n.as_ref(),
            None => match nodes.iter().find(|n| n.uuid == ev.node_uuid) {
                Some(n) => n,
                None => continue,
            },
        };
        // A change with no notification of its own leaves the last cause.
        sandesh.node(node, &ports, &cause.unwrap_or_default());
    }
}

/// The ports of each event's node as they were right after that event.
/// `now` was read after the events, so the later port events of the batch
/// are undone, newest first.
fn ports_at_each_event(batch: &[Event], now: Vec<Port>) -> Vec<Vec<Port>> {
    let mut ports_of: HashMap<String, Vec<Port>> = HashMap::new();
    for p in now {
        ports_of.entry(p.node_uuid.clone()).or_default().push(p);
    }
    let mut at = vec![Vec::new(); batch.len()];
    for (i, ev) in batch.iter().enumerate().rev() {
        if let Some(ports) = ports_of.get(&ev.node_uuid) {
            at[i] = ports.clone();
        }
        let (gone, back) = match &ev.kind {
            EventKind::PortCreated { port } => (Some(port), None),
            EventKind::PortDeleted { port } => (None, Some(port)),
            EventKind::PortUpdated { port, prior } => (Some(port), Some(prior)),
            _ => continue,
        };
        if let Some(p) = gone
            && let Some(list) = ports_of.get_mut(&p.node_uuid)
        {
            list.retain(|q| q.uuid != p.uuid);
        }
        if let Some(p) = back {
            let list = ports_of.entry(p.node_uuid.clone()).or_default();
            let at = list.partition_point(|q| q.uuid < p.uuid);
            list.insert(at, (**p).clone());
        }
    }
    at
}

/// Sends every node's UVE from the database.
pub async fn refresh_all(sandesh: &Sandesh, storage: &Storage) {
    let source = NodeUves { storage: storage.clone() };
    let mut after = None;
    loop {
        match source.page(after.clone(), 500).await {
            Ok(page) => {
                let full = page.len() == 500;
                for data in page {
                    after = super::generator::uve_key(&data);
                    sandesh.generator.send_uve(messages::NODE_UVE, data);
                }
                if !full {
                    return;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "sandesh: nodes not read");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn port(uuid: &str, node: &str) -> Arc<Port> {
        Arc::new(Port::new(uuid, "52:54:00:00:00:01", node, chrono::Utc::now().naive_utc()))
    }

    fn uuids(ports: &[Port]) -> Vec<&str> {
        ports.iter().map(|p| p.uuid.as_str()).collect()
    }

    #[test]
    fn each_uve_shows_the_ports_of_its_moment() {
        let node = Node::new("n1", "fake-hardware", chrono::Utc::now().naive_utc());
        let (a, b) = (port("a", "n1"), port("b", "n1"));
        let mut moved = (*b).clone();
        moved.node_uuid = "n2".into();
        let batch = vec![
            Event::of(&node, EventKind::NodeChanged),
            Event::port(None, EventKind::PortCreated { port: b.clone() }),
            Event::of(&node, EventKind::NodeChanged),
            Event::port(None, EventKind::PortDeleted { port: a.clone() }),
            Event::of(&node, EventKind::NodeChanged),
            Event::port(None, EventKind::PortUpdated { port: Arc::new(moved.clone()), prior: b.clone() }),
            Event::of(&node, EventKind::NodeChanged),
        ];
        // Read after the batch: only the moved port, now on n2.
        let at = ports_at_each_event(&batch, vec![moved]);
        let n1: Vec<Vec<&str>> = [0, 1, 2, 3, 4, 6].iter().map(|&i| uuids(&at[i])).collect();
        assert_eq!(n1, vec![vec!["a"], vec!["a", "b"], vec!["a", "b"], vec!["b"], vec!["b"], vec![]]);
        assert_eq!(uuids(&at[5]), vec!["b"], "the moved port, seen from its new node");
    }
}
