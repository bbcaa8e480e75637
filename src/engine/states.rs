//! Ironic's provision state machine, as one table.
//!
//! `transition(state, event)` is the only way a node's provision state
//! changes; `target_of(state)` gives the `target_provision_state` a node
//! shows while it is in a non-stable state (`None` once stable).

use std::fmt;
use std::str::FromStr;

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident => $text:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),* }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),* }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = ();
            fn from_str(s: &str) -> Result<Self, ()> {
                match s { $($text => Ok($name::$variant),)* _ => Err(()) }
            }
        }
    };
}

string_enum!(
    /// Where a node is in its life.
    ProvisionState {
        Enroll => "enroll",
        Verifying => "verifying",
        Manageable => "manageable",
        Available => "available",
        Active => "active",
        Deploying => "deploying",
        DeployWait => "wait call-back",
        DeployFailed => "deploy failed",
        DeployHold => "deploy hold",
        Deleting => "deleting",
        Cleaning => "cleaning",
        CleanWait => "clean wait",
        CleanFailed => "clean failed",
        CleanHold => "clean hold",
        Error => "error",
        Inspecting => "inspecting",
        InspectWait => "inspect wait",
        InspectFailed => "inspect failed",
        Adopting => "adopting",
        AdoptFailed => "adopt failed",
        Rescue => "rescue",
        Rescuing => "rescuing",
        RescueWait => "rescue wait",
        RescueFailed => "rescue failed",
        Unrescuing => "unrescuing",
        UnrescueFailed => "unrescue failed",
        Servicing => "servicing",
        ServiceWait => "service wait",
        ServiceFailed => "service failed",
        ServiceHold => "service hold",
    }
);

string_enum!(
    /// What moves a node between states: requests from the API (manage,
    /// provide, …) and outcomes of the engine's work (done, fail, wait, …).
    Event {
        Manage => "manage",
        Provide => "provide",
        Inspect => "inspect",
        Clean => "clean",
        Adopt => "adopt",
        Deploy => "deploy",
        Rebuild => "rebuild",
        Delete => "delete",
        Rescue => "rescue",
        Unrescue => "unrescue",
        Abort => "abort",
        Unhold => "unhold",
        Service => "service",
        Done => "done",
        Fail => "fail",
        Wait => "wait",
        Resume => "resume",
        Hold => "hold",
    }
);

string_enum!(
    PowerState {
        On => "power on",
        Off => "power off",
        Rebooting => "rebooting",
        SoftRebooting => "soft rebooting",
        SoftOff => "soft power off",
    }
);

use Event as E;
use ProvisionState as S;

/// `(from, event, to)`: every legal move.
const TRANSITIONS: &[(S, E, S)] = &[
    (S::Enroll, E::Manage, S::Verifying),
    (S::Verifying, E::Done, S::Manageable),
    (S::Verifying, E::Fail, S::Enroll),
    // deploy
    (S::Available, E::Deploy, S::Deploying),
    (S::Deploying, E::Fail, S::DeployFailed),
    (S::DeployFailed, E::Rebuild, S::Deploying),
    (S::DeployFailed, E::Deploy, S::Deploying),
    (S::Deploying, E::Wait, S::DeployWait),
    (S::Deploying, E::Hold, S::DeployHold),
    (S::DeployWait, E::Hold, S::DeployHold),
    (S::DeployWait, E::Resume, S::Deploying),
    (S::DeployWait, E::Fail, S::DeployFailed),
    (S::DeployHold, E::Unhold, S::DeployWait),
    (S::DeployHold, E::Abort, S::DeployFailed),
    (S::DeployWait, E::Abort, S::DeployFailed),
    (S::Deploying, E::Done, S::Active),
    (S::Active, E::Rebuild, S::Deploying),
    // tear down and cleaning
    (S::Active, E::Delete, S::Deleting),
    (S::DeployWait, E::Delete, S::Deleting),
    (S::DeployFailed, E::Delete, S::Deleting),
    (S::Deleting, E::Fail, S::Error),
    (S::Deleting, E::Clean, S::Cleaning),
    (S::Cleaning, E::Done, S::Available),
    (S::Cleaning, E::Fail, S::CleanFailed),
    (S::CleanWait, E::Fail, S::CleanFailed),
    (S::CleanWait, E::Abort, S::CleanFailed),
    (S::Cleaning, E::Wait, S::CleanWait),
    (S::Cleaning, E::Hold, S::CleanHold),
    (S::CleanWait, E::Hold, S::CleanHold),
    (S::CleanWait, E::Resume, S::Cleaning),
    (S::CleanHold, E::Abort, S::CleanFailed),
    (S::CleanHold, E::Unhold, S::CleanWait),
    (S::CleanFailed, E::Manage, S::Manageable),
    (S::Manageable, E::Provide, S::Cleaning),
    (S::Manageable, E::Clean, S::Cleaning),
    (S::Cleaning, E::Manage, S::Manageable),
    (S::Available, E::Manage, S::Manageable),
    (S::Error, E::Rebuild, S::Deploying),
    (S::Error, E::Delete, S::Deleting),
    // inspection
    (S::Manageable, E::Inspect, S::Inspecting),
    (S::Inspecting, E::Done, S::Manageable),
    (S::Inspecting, E::Fail, S::InspectFailed),
    (S::Inspecting, E::Wait, S::InspectWait),
    (S::InspectWait, E::Done, S::Manageable),
    (S::InspectWait, E::Fail, S::InspectFailed),
    (S::InspectWait, E::Abort, S::InspectFailed),
    (S::InspectWait, E::Resume, S::Inspecting),
    (S::InspectFailed, E::Manage, S::Manageable),
    (S::InspectFailed, E::Inspect, S::Inspecting),
    // rescue
    (S::Active, E::Rescue, S::Rescuing),
    (S::Rescuing, E::Done, S::Rescue),
    (S::Rescuing, E::Wait, S::RescueWait),
    (S::RescueWait, E::Resume, S::Rescuing),
    (S::Rescue, E::Rescue, S::Rescuing),
    (S::Rescue, E::Delete, S::Deleting),
    (S::RescueWait, E::Fail, S::RescueFailed),
    (S::Rescuing, E::Fail, S::RescueFailed),
    (S::RescueWait, E::Abort, S::RescueFailed),
    (S::RescueFailed, E::Rescue, S::Rescuing),
    (S::RescueFailed, E::Unrescue, S::Unrescuing),
    (S::RescueFailed, E::Delete, S::Deleting),
    (S::RescueWait, E::Delete, S::Deleting),
    (S::Rescue, E::Unrescue, S::Unrescuing),
    (S::Unrescuing, E::Done, S::Active),
    (S::Unrescuing, E::Fail, S::UnrescueFailed),
    (S::UnrescueFailed, E::Rescue, S::Rescuing),
    (S::UnrescueFailed, E::Unrescue, S::Unrescuing),
    (S::UnrescueFailed, E::Delete, S::Deleting),
    // adoption
    (S::Manageable, E::Adopt, S::Adopting),
    (S::Adopting, E::Done, S::Active),
    (S::Adopting, E::Fail, S::AdoptFailed),
    (S::AdoptFailed, E::Adopt, S::Adopting),
    (S::AdoptFailed, E::Manage, S::Manageable),
    // servicing
    (S::Servicing, E::Done, S::Active),
    (S::Active, E::Service, S::Servicing),
    (S::Servicing, E::Fail, S::ServiceFailed),
    (S::Servicing, E::Wait, S::ServiceWait),
    (S::Servicing, E::Hold, S::ServiceHold),
    (S::ServiceWait, E::Hold, S::ServiceHold),
    (S::ServiceHold, E::Service, S::Servicing),
    (S::ServiceHold, E::Unhold, S::ServiceWait),
    (S::ServiceWait, E::Resume, S::Servicing),
    (S::ServiceWait, E::Fail, S::ServiceFailed),
    (S::ServiceHold, E::Fail, S::ServiceFailed),
    (S::ServiceWait, E::Abort, S::ServiceFailed),
    (S::ServiceHold, E::Abort, S::ServiceFailed),
    (S::ServiceFailed, E::Service, S::Servicing),
    (S::ServiceFailed, E::Rescue, S::Rescuing),
    (S::ServiceFailed, E::Wait, S::ServiceWait),
    (S::ServiceFailed, E::Hold, S::ServiceHold),
    (S::ServiceFailed, E::Delete, S::Deleting),
    (S::ServiceFailed, E::Abort, S::Active),
    (S::ServiceWait, E::Delete, S::Deleting),
];

/// The state a move leads to, if the move is legal.
pub fn transition(from: S, event: E) -> Option<S> {
    TRANSITIONS.iter().find(|(f, e, _)| *f == from && *e == event).map(|(_, _, to)| *to)
}

impl ProvisionState {
    /// States that change only on request.
    pub fn is_stable(self) -> bool {
        matches!(self, S::Enroll | S::Manageable | S::Available | S::Active | S::Error | S::Rescue)
    }

    /// States the engine moves a node out of without a request (Ironic's
    /// `UNSTABLE_STATES`): entering one starts an action, leaving one ends it.
    pub fn is_unstable(self) -> bool {
        matches!(
            self,
            S::Deploying
                | S::DeployWait
                | S::Cleaning
                | S::CleanWait
                | S::Verifying
                | S::Deleting
                | S::Inspecting
                | S::InspectWait
                | S::Adopting
                | S::Rescuing
                | S::RescueWait
                | S::Unrescuing
                | S::Servicing
                | S::ServiceWait
        )
    }

    /// The default `target_provision_state` while in this state.
    pub fn default_target(self) -> Option<S> {
        Some(match self {
            S::Verifying | S::Inspecting | S::InspectWait | S::InspectFailed => S::Manageable,
            S::Deploying | S::DeployWait | S::DeployFailed | S::DeployHold => S::Active,
            S::Cleaning | S::CleanWait | S::CleanFailed | S::CleanHold | S::Deleting => S::Available,
            S::Adopting | S::AdoptFailed | S::Unrescuing | S::UnrescueFailed => S::Active,
            S::Rescuing | S::RescueWait | S::RescueFailed => S::Rescue,
            S::Servicing | S::ServiceWait | S::ServiceFailed | S::ServiceHold => S::Active,
            _ => return None,
        })
    }

    /// States the engine itself moves a node out of (its own work).
    pub fn is_engine_work(self) -> bool {
        matches!(
            self,
            S::Verifying
                | S::Deploying
                | S::Deleting
                | S::Cleaning
                | S::Inspecting
                | S::Adopting
                | S::Rescuing
                | S::Unrescuing
                | S::Servicing
        )
    }

    /// States a PATCH may change a node in even while a target is set.
    pub fn update_allowed(self) -> bool {
        matches!(
            self,
            S::DeployFailed
                | S::Inspecting
                | S::InspectFailed
                | S::InspectWait
                | S::CleanFailed
                | S::Error
                | S::Verifying
                | S::AdoptFailed
                | S::RescueFailed
                | S::UnrescueFailed
                | S::ServiceHold
                | S::ServiceFailed
        )
    }

    /// States a node may be deleted in (available too, by default).
    pub fn delete_allowed(self) -> bool {
        matches!(self, S::Manageable | S::Enroll | S::AdoptFailed | S::Available)
    }

    /// Failure states (`*failed`).
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            S::DeployFailed
                | S::CleanFailed
                | S::InspectFailed
                | S::RescueFailed
                | S::UnrescueFailed
                | S::AdoptFailed
                | S::ServiceFailed
        )
    }
}

/// A provision request from the API (`PUT /states/provision {"target": …}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Active,
    Deploy,
    Deleted,
    Undeploy,
    Manage,
    Provide,
    Inspect,
    Abort,
    Clean,
    Adopt,
    Rescue,
    Unrescue,
    Rebuild,
    Unhold,
    Service,
}

impl Verb {
    pub fn parse(s: &str) -> Option<Verb> {
        Some(match s {
            "active" => Verb::Active,
            "deploy" => Verb::Deploy,
            "deleted" => Verb::Deleted,
            "undeploy" => Verb::Undeploy,
            "manage" => Verb::Manage,
            "provide" => Verb::Provide,
            "inspect" => Verb::Inspect,
            "abort" => Verb::Abort,
            "clean" => Verb::Clean,
            "adopt" => Verb::Adopt,
            "rescue" => Verb::Rescue,
            "unrescue" => Verb::Unrescue,
            "rebuild" => Verb::Rebuild,
            "unhold" => Verb::Unhold,
            "service" => Verb::Service,
            _ => return None,
        })
    }

    pub fn event(self) -> E {
        match self {
            Verb::Active | Verb::Deploy => E::Deploy,
            Verb::Deleted | Verb::Undeploy => E::Delete,
            Verb::Manage => E::Manage,
            Verb::Provide => E::Provide,
            Verb::Inspect => E::Inspect,
            Verb::Abort => E::Abort,
            Verb::Clean => E::Clean,
            Verb::Adopt => E::Adopt,
            Verb::Rescue => E::Rescue,
            Verb::Unrescue => E::Unrescue,
            Verb::Rebuild => E::Rebuild,
            Verb::Unhold => E::Unhold,
            Verb::Service => E::Service,
        }
    }

    /// The first microversion that accepts this verb.
    pub fn min_minor(self) -> u16 {
        match self {
            Verb::Active | Verb::Deleted | Verb::Rebuild => 1,
            Verb::Manage | Verb::Provide => 4,
            Verb::Inspect => 6,
            Verb::Abort => 13,
            Verb::Clean => 15,
            Verb::Adopt => 17,
            Verb::Rescue | Verb::Unrescue => 38,
            Verb::Deploy | Verb::Undeploy => 73,
            Verb::Unhold => 85,
            Verb::Service => 87,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in S::ALL {
            assert_eq!(s.as_str().parse::<S>(), Ok(*s));
        }
        assert_eq!("wait call-back".parse::<S>(), Ok(S::DeployWait));
        assert!("deploy complete".parse::<S>().is_err());
    }

    #[test]
    fn lifecycle_paths() {
        let path = [
            (S::Enroll, E::Manage, S::Verifying),
            (S::Verifying, E::Done, S::Manageable),
            (S::Manageable, E::Provide, S::Cleaning),
            (S::Cleaning, E::Done, S::Available),
            (S::Available, E::Deploy, S::Deploying),
            (S::Deploying, E::Done, S::Active),
            (S::Active, E::Delete, S::Deleting),
            (S::Deleting, E::Clean, S::Cleaning),
        ];
        for (from, ev, to) in path {
            assert_eq!(transition(from, ev), Some(to), "{from} -{ev}->");
        }
        assert_eq!(transition(S::Enroll, E::Provide), None);
        assert_eq!(transition(S::Active, E::Deploy), None);
        assert_eq!(transition(S::DeployWait, E::Abort), Some(S::DeployFailed));
    }

    #[test]
    fn table_is_consistent() {
        for (i, (f, e, _)) in TRANSITIONS.iter().enumerate() {
            assert!(!TRANSITIONS[i + 1..].iter().any(|(f2, e2, _)| f2 == f && e2 == e), "duplicate move {f} -{e}->");
        }
        for s in S::ALL {
            assert_eq!(s.is_stable(), s.default_target().is_none(), "{s}");
        }
    }
}
