//! What ironbark tells other systems: the Contrail model and its push
//! ([`contrail`]), Contrail analytics over Sandesh ([`sandesh`]), Ironic's
//! versioned notifications on AMQP ([`notifications`]) and Prometheus
//! ([`metrics`]). Each follows the engine's events on its own task, so no
//! reporter can slow a request or a deploy.

pub mod contrail;
pub mod ironic_events;
pub mod metrics;
pub mod notifications;
pub mod sandesh;

use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;
use crate::engine::Engine;
use crate::storage::Storage;

/// The reporters a configuration asks for, checked before anything starts.
pub struct Plan {
    pub metrics: Arc<metrics::Metrics>,
    pub metrics_enabled: bool,
    pub sandesh: Option<sandesh::Settings>,
    pub notifications: Option<notifications::Settings>,
}

/// The running reporters.
#[derive(Clone)]
pub struct Reporters {
    pub metrics: Arc<metrics::Metrics>,
    pub sandesh: Option<sandesh::Sandesh>,
    pub notifier: Option<notifications::Notifier>,
}

impl Plan {
    /// Reads and checks the reporters' configuration; a bad collector
    /// address or transport URL stops the start with a clear message.
    pub fn new(cfg: &Config, storage: &Storage, host: &str) -> anyhow::Result<Plan> {
        let metrics = Arc::new(metrics::Metrics::new(storage.clone())?);
        let collectors = cfg.sandesh.collector_addrs()?;
        let s = &cfg.sandesh;
        let sandesh = (!collectors.is_empty()).then(|| sandesh::Settings {
            identity: sandesh::messages::Identity {
                source: cfg.sandesh_source(),
                module: s.module.clone(),
                node_type: s.node_type.clone(),
                instance_id: cfg.sandesh_instance_id(),
            },
            collectors,
            http_port: s.introspect_port,
            queue_size: s.queue_size.max(1),
            backoff_min: Duration::from_millis(s.backoff_min_ms.max(10)),
            backoff_max: Duration::from_millis(s.backoff_max_ms.max(s.backoff_min_ms).max(10)),
            connect_timeout: Duration::from_secs(s.connect_timeout_s.max(1)),
            handshake_timeout: Duration::from_secs(s.handshake_timeout_s.max(1)),
            write_timeout: Duration::from_secs(30),
        });
        if let Some(id) = sandesh.as_ref().map(|s| &s.identity)
            && (id.source.is_empty() || id.module.is_empty() || id.node_type.is_empty() || id.instance_id.is_empty())
        {
            anyhow::bail!("sandesh source, module, node_type and instance_id must not be empty");
        }
        let n = &cfg.notifications;
        let notifications = match n.transport_url.as_deref().filter(|u| !u.is_empty()) {
            None => None,
            Some(url) => {
                let url = notifications::TransportUrl::parse(url)?;
                // AMQP short strings: names of at most 255 bytes.
                if n.exchange.is_empty() || n.exchange.len() > 255 {
                    anyhow::bail!("notifications.exchange must be 1 to 255 bytes long");
                }
                if n.topics.0.is_empty() || n.topics.0.iter().any(|t| t.len() > 240) {
                    anyhow::bail!("notifications.topics must name 1 or more topics of at most 240 bytes");
                }
                Some(notifications::Settings {
                    url,
                    exchange: n.exchange.clone(),
                    topics: n.topics.0.clone(),
                    level: n.level,
                    host: host.to_string(),
                    queue_size: n.queue_size.max(1),
                    retry_max: Duration::from_secs(n.retry_max_s.max(1)),
                })
            }
        };
        Ok(Plan { metrics, metrics_enabled: cfg.metrics.enabled, sandesh, notifications })
    }

    /// Starts every planned reporter on the current runtime.
    pub fn start(self, engine: &Engine) -> anyhow::Result<Reporters> {
        let registry = self.metrics.registry.clone();
        let storage = engine.storage().clone();
        tokio::spawn(self.metrics.clone().follow(engine.subscribe()));
        let sandesh = match self.sandesh {
            Some(settings) => {
                let nodes: Arc<dyn sandesh::generator::UveSource> =
                    Arc::new(sandesh::reporter::NodeUves { storage: storage.clone() });
                let sources = vec![(sandesh::messages::NODE_UVE, sandesh::messages::NODE_STRUCT, nodes)];
                let s = sandesh::Sandesh::start(settings, sources, &registry)?;
                tokio::spawn(sandesh::reporter::run(s.clone(), storage, engine.host().to_string(), engine.subscribe()));
                Some(s)
            }
            None => None,
        };
        let notifier = match self.notifications {
            Some(settings) => {
                let n = notifications::Notifier::start(settings, &registry)?;
                let (n2, mut events) = (n.clone(), engine.subscribe());
                tokio::spawn(async move {
                    loop {
                        match events.recv().await {
                            Ok(ev) => n2.publish(&ev),
                            Err(tokio::sync::broadcast::error::RecvError::Lagged(k)) => {
                                tracing::warn!(missed = k, "notifications: engine events missed");
                                n2.missed(k);
                            }
                            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                        }
                    }
                });
                Some(n)
            }
            None => None,
        };
        Ok(Reporters { metrics: self.metrics, sandesh, notifier })
    }
}
