//! What the engine tells the world: one event per change of a node, its
//! ports or a tenant's server, carrying a snapshot of the object as the
//! change left it, so that every reporter (Sandesh, notifications,
//! metrics) describes that moment and not whatever the database holds by
//! the time it reads.

use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime, Utc};

use super::states::{Event as FsmEvent, PowerState, ProvisionState};
use crate::storage::baremetal::{Node, Port};

/// API-side changes to a node (Ironic's CRUD and maintenance actions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeAction {
    Create,
    Update,
    Delete,
    MaintenanceSet,
}

#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    /// A node stored through the API: `action` done, `node` as it is now
    /// (for a delete: as it was). `prior_updated_at` is the stamp the node
    /// had before the change.
    Node {
        action: NodeAction,
        prior_updated_at: Option<NaiveDateTime>,
    },
    /// An API action on a node refused by its state (e.g. deleting an
    /// active node): `node` as it stands.
    NodeRefused {
        action: NodeAction,
        reason: String,
    },
    /// A quick change with no notification of its own (boot mode, RAID
    /// config, traits, …): reporters refresh their view of the node.
    NodeChanged,
    /// The console turned on or off.
    Console {
        enabled: bool,
    },
    /// A provision state change (request or outcome of work).
    Provision {
        from: ProvisionState,
        to: ProvisionState,
        event: FsmEvent,
        /// The target before the move.
        prior_target: Option<ProvisionState>,
        target: Option<ProvisionState>,
        error: Option<String>,
    },
    /// A power action accepted: the node holds its target.
    PowerRequested {
        requested: PowerState,
    },
    /// A power action that completed (or failed, with `error`).
    Power {
        requested: PowerState,
        from: Option<String>,
        to: Option<String>,
        error: Option<String>,
    },
    PortCreated {
        port: Arc<Port>,
    },
    /// `prior`: the port before the change.
    PortUpdated {
        port: Arc<Port>,
        prior: Arc<Port>,
    },
    PortDeleted {
        port: Arc<Port>,
    },
    /// A tenant's server: `node_uuid` of the event is its node, when it
    /// has one.
    Server(ServerChange),
}

/// Where a tenant's bare-metal server went.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerChange {
    pub server_uuid: String,
    pub project_id: String,
    pub step: ServerStep,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerStep {
    /// Accepted; scheduling and deploying follow.
    CreateStart,
    /// ACTIVE on its node.
    CreateEnd,
    /// ERROR (no valid host, a failed deploy).
    CreateError,
    /// Delete requested.
    DeleteStart,
    /// Gone; its node is being (or has been) cleaned.
    DeleteEnd,
}

impl ServerStep {
    /// Nova's notification name for the step.
    pub fn as_str(self) -> &'static str {
        match self {
            ServerStep::CreateStart => "instance.create.start",
            ServerStep::CreateEnd => "instance.create.end",
            ServerStep::CreateError => "instance.create.error",
            ServerStep::DeleteStart => "instance.delete.start",
            ServerStep::DeleteEnd => "instance.delete.end",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub at: DateTime<Utc>,
    pub node_uuid: String,
    /// The node after the change (before it, for a delete); `None` for a
    /// server event with no node yet.
    pub node: Option<Arc<Node>>,
    pub kind: EventKind,
}

impl Event {
    /// An event about `node`, with its snapshot.
    pub fn of(node: &Node, kind: EventKind) -> Event {
        Event { at: Utc::now(), node_uuid: node.uuid.clone(), node: Some(Arc::new(node.clone())), kind }
    }

    /// A port event, with its node as it stood (reporters read the node
    /// when they are given none).
    pub fn port(node: Option<&Node>, kind: EventKind) -> Event {
        let node_uuid = match &kind {
            EventKind::PortCreated { port } | EventKind::PortUpdated { port, .. } | EventKind::PortDeleted { port } => {
                port.node_uuid.clone()
            }
            _ => String::new(),
        };
        Event { at: Utc::now(), node_uuid, node: node.map(|n| Arc::new(n.clone())), kind }
    }

    /// A server event; `node` when the server has one.
    pub fn server(node: Option<&Node>, change: ServerChange) -> Event {
        Event {
            at: Utc::now(),
            node_uuid: node.map(|n| n.uuid.clone()).unwrap_or_default(),
            node: node.map(|n| Arc::new(n.clone())),
            kind: EventKind::Server(change),
        }
    }
}
