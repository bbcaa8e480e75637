//! ironbark as a Contrail Sandesh generator: it reports every bare-metal
//! node to Contrail analytics as the `IronicNodeInfo` UVE (table
//! `ObjectServerTable`, keyed by node uuid) that Contrail's Ironic
//! notification manager sends, and every lifecycle event as object and
//! system logs, straight from the engine's events — no extra daemon.
//!
//! [`codec`] is the wire encoding, [`session`] the connection state
//! machine, [`generator`] the UVE cache and bounded queue between them,
//! [`introspect`] the HTTP pages a Sandesh module serves.

pub mod codec;
pub mod decode;
pub mod generator;
pub mod introspect;
pub mod messages;
pub mod reporter;
mod session;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use prometheus::Registry;

use generator::Recent;
pub use generator::{Generator, Settings};
use messages::{Cause, Kind, Level, NodeEvent, ServerEvent};

use crate::storage::baremetal::{Node, Port};

/// A lifecycle event as introspect lists it.
#[derive(Debug, Clone)]
pub struct EventRecord {
    pub at: DateTime<Utc>,
    pub level: Level,
    pub event: NodeEvent,
}

/// The running generator (cheap to clone).
#[derive(Clone)]
pub struct Sandesh {
    pub generator: Generator,
    pub recent: Arc<Recent<EventRecord>>,
}

impl Sandesh {
    /// Starts the collector session on the current runtime.
    pub fn start(
        settings: Settings,
        sources: Vec<(&'static str, &'static str, Arc<dyn generator::UveSource>)>,
        registry: &Registry,
    ) -> prometheus::Result<Sandesh> {
        let (generator, rx) = Generator::new(settings, sources, registry)?;
        tokio::spawn(session::run(generator.clone(), rx));
        Ok(Sandesh { generator, recent: Arc::default() })
    }

    /// The node's current state, as its UVE.
    pub fn node(&self, node: &Node, ports: &[Port], cause: &Cause) {
        self.generator.send_uve(messages::NODE_UVE, messages::ironic_node(node, ports, cause));
    }

    /// Removes a node from analytics.
    pub fn node_deleted(&self, uuid: &str) {
        self.generator.send_uve(messages::NODE_UVE, messages::ironic_node_deleted(uuid));
    }

    /// A lifecycle event: an object log keyed by the node, and a system
    /// log line saying it in words.
    pub fn node_event(&self, level: Level, event: NodeEvent, text: &str) {
        self.generator.send_log(Kind::Object, level, messages::node_event_log(&event));
        self.generator.send_log(Kind::System, level, messages::node_state_log(&event.node_uuid, text));
        self.recent.push(EventRecord { at: Utc::now(), level, event });
    }

    /// A tenant's server created or deleted.
    pub fn server_event(&self, level: Level, event: &ServerEvent) {
        self.generator.send_log(Kind::Object, level, messages::server_event_log(event));
    }
}
