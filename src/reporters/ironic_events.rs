//! The Ironic notifications an engine event stands for: their
//! `event_type`, priority, publishing service and payload class. The
//! notification publisher sends them; the Sandesh generator names the
//! latest one in each node UVE, as Contrail's Ironic notification manager
//! does.

use crate::engine::events::{Event, EventKind, NodeAction};
use crate::engine::states::{Event as Fsm, ProvisionState};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    Info,
    Error,
}

impl Priority {
    /// As in a message's `priority`.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Info => "INFO",
            Priority::Error => "ERROR",
        }
    }
}

/// Which Ironic service publishes it (`publisher_id` = `<service>.<host>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Api,
    Conductor,
}

impl Service {
    pub fn as_str(self) -> &'static str {
        match self {
            Service::Api => "ironic-api",
            Service::Conductor => "ironic-conductor",
        }
    }
}

/// The payload class, by Ironic's object name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadClass {
    Node,
    NodeCrud,
    NodeSetProvisionState,
    NodeSetPowerState,
    PortCrud,
}

impl PayloadClass {
    pub fn name(self) -> &'static str {
        match self {
            PayloadClass::Node => "NodePayload",
            PayloadClass::NodeCrud => "NodeCRUDPayload",
            PayloadClass::NodeSetProvisionState => "NodeSetProvisionStatePayload",
            PayloadClass::NodeSetPowerState => "NodeSetPowerStatePayload",
            PayloadClass::PortCrud => "PortCRUDPayload",
        }
    }

    /// The object version Ironic 39 sends.
    pub fn version(self) -> &'static str {
        match self {
            PayloadClass::Node | PayloadClass::NodeSetPowerState => "1.17",
            PayloadClass::NodeCrud => "1.15",
            PayloadClass::NodeSetProvisionState => "1.18",
            PayloadClass::PortCrud => "1.8",
        }
    }
}

/// When in its action a notification is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Start,
    End,
    Success,
    Error,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Start => "start",
            Phase::End => "end",
            Phase::Success => "success",
            Phase::Error => "error",
        }
    }
}

/// One notification to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// `baremetal.<object>.<action>`; the phase is appended.
    pub object_action: &'static str,
    pub phase: Phase,
    pub service: Service,
    pub payload: PayloadClass,
}

impl Notice {
    pub fn event_type(&self) -> String {
        format!("{}.{}", self.object_action, self.phase.as_str())
    }

    pub fn priority(&self) -> Priority {
        if self.phase == Phase::Error { Priority::Error } else { Priority::Info }
    }

    /// Whether the payload shows the object as it was when the action
    /// began (a `start` of an API action).
    pub fn before(&self) -> bool {
        self.phase == Phase::Start && self.service == Service::Api
    }
}

/// Ironic's status of a provision state change: an error when work failed,
/// `start` on entering an unstable state from a resting one, `end` on
/// leaving it, `success` otherwise.
pub fn provision_phase(from: ProvisionState, to: ProvisionState, event: Fsm) -> Phase {
    if event == Fsm::Fail {
        return Phase::Error;
    }
    match (from.is_unstable(), to.is_unstable()) {
        (false, true) => Phase::Start,
        (true, false) => Phase::End,
        _ => Phase::Success,
    }
}

fn pair(object_action: &'static str, service: Service, payload: PayloadClass, last: Phase) -> Vec<Notice> {
    vec![
        Notice { object_action, phase: Phase::Start, service, payload },
        Notice { object_action, phase: last, service, payload },
    ]
}

fn node_action(a: NodeAction) -> (&'static str, PayloadClass) {
    match a {
        NodeAction::Create => ("baremetal.node.create", PayloadClass::NodeCrud),
        NodeAction::Update => ("baremetal.node.update", PayloadClass::NodeCrud),
        NodeAction::Delete => ("baremetal.node.delete", PayloadClass::NodeCrud),
        NodeAction::MaintenanceSet => ("baremetal.node.maintenance_set", PayloadClass::Node),
    }
}

/// The notifications of one engine event, in the order Ironic sends them.
pub fn notices(ev: &Event) -> Vec<Notice> {
    use PayloadClass as P;
    use Service::{Api, Conductor};
    match &ev.kind {
        EventKind::Node { action, .. } => {
            let (oa, p) = node_action(*action);
            pair(oa, Api, p, Phase::End)
        }
        EventKind::NodeRefused { action, .. } => {
            let (oa, p) = node_action(*action);
            pair(oa, Api, p, Phase::Error)
        }
        EventKind::NodeChanged | EventKind::Server(_) => Vec::new(),
        EventKind::Console { .. } => pair("baremetal.node.console_set", Conductor, P::Node, Phase::End),
        EventKind::Provision { from, to, event, .. } => vec![Notice {
            object_action: "baremetal.node.provision_set",
            phase: provision_phase(*from, *to, *event),
            service: Conductor,
            payload: P::NodeSetProvisionState,
        }],
        EventKind::PowerRequested { .. } => vec![Notice {
            object_action: "baremetal.node.power_set",
            phase: Phase::Start,
            service: Conductor,
            payload: P::NodeSetPowerState,
        }],
        EventKind::Power { error, .. } => vec![Notice {
            object_action: "baremetal.node.power_set",
            phase: if error.is_some() { Phase::Error } else { Phase::End },
            service: Conductor,
            payload: P::NodeSetPowerState,
        }],
        EventKind::PortCreated { .. } => pair("baremetal.port.create", Api, P::PortCrud, Phase::End),
        EventKind::PortUpdated { .. } => pair("baremetal.port.update", Api, P::PortCrud, Phase::End),
        EventKind::PortDeleted { .. } => pair("baremetal.port.delete", Api, P::PortCrud, Phase::End),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ProvisionState as S;

    #[test]
    fn provision_phases_follow_ironic() {
        assert_eq!(provision_phase(S::Enroll, S::Verifying, Fsm::Manage), Phase::Start);
        assert_eq!(provision_phase(S::Verifying, S::Manageable, Fsm::Done), Phase::End);
        assert_eq!(provision_phase(S::Deleting, S::Cleaning, Fsm::Clean), Phase::Success);
        assert_eq!(provision_phase(S::Available, S::Manageable, Fsm::Manage), Phase::Success);
        assert_eq!(provision_phase(S::Cleaning, S::CleanFailed, Fsm::Fail), Phase::Error);
        assert_eq!(provision_phase(S::CleanFailed, S::Manageable, Fsm::Manage), Phase::Success);
    }
}
