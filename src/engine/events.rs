//! What the engine tells the world: one event per lifecycle change. The
//! reporters (Sandesh, notifications, metrics) subscribe to these.

use chrono::{DateTime, Utc};

use super::states::{Event as FsmEvent, ProvisionState};

#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    NodeCreated,
    NodeUpdated,
    NodeDeleted,
    /// A provision state change (request or outcome of work).
    Provision {
        from: ProvisionState,
        to: ProvisionState,
        event: FsmEvent,
        target: Option<ProvisionState>,
        error: Option<String>,
    },
    /// A power state change that completed (or failed, with `error`).
    Power {
        from: Option<String>,
        to: Option<String>,
        error: Option<String>,
    },
    PortCreated {
        port_uuid: String,
    },
    PortUpdated {
        port_uuid: String,
    },
    PortDeleted {
        port_uuid: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub at: DateTime<Utc>,
    pub node_uuid: String,
    pub kind: EventKind,
}

impl Event {
    pub fn now(node_uuid: impl Into<String>, kind: EventKind) -> Event {
        Event { at: Utc::now(), node_uuid: node_uuid.into(), kind }
    }
}
