//! Prometheus metrics: HTTP latency per service and route (the
//! `actix-web-prom` middleware on every service), nodes per provision
//! state (counted in the database at each scrape, so every process over
//! one database reports the same fleet), how long provision states and
//! whole actions take (from engine events), and the reporters' own
//! sent/dropped/queue figures. One registry per process, no globals.

use std::collections::HashMap;
use std::time::Instant;

use actix_web::{HttpResponse, web};
use actix_web_prom::{PrometheusMetrics, PrometheusMetricsBuilder};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};
use tokio::sync::broadcast;

use crate::engine::events::{Event, EventKind};
use crate::engine::states::{Event as Fsm, ProvisionState};
use crate::storage::Storage;
use crate::storage::baremetal as bm;

/// Buckets for provisioning durations: from a fake node's milliseconds to
/// a real server's tens of minutes.
const DURATION_BUCKETS: &[f64] =
    &[0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0];

/// HTTP request latency buckets, seconds.
const HTTP_BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

pub struct Metrics {
    pub registry: Registry,
    nodes: IntGaugeVec,
    nodes_maintenance: IntGauge,
    state_seconds: HistogramVec,
    action_seconds: HistogramVec,
    failures: IntCounterVec,
    power: IntCounterVec,
    events_missed: IntGauge,
    storage: Storage,
}

impl Metrics {
    pub fn new(storage: Storage) -> prometheus::Result<Metrics> {
        let registry = Registry::new();
        let nodes = IntGaugeVec::new(
            Opts::new("ironbark_nodes", "Bare-metal nodes per provision state"),
            &["provision_state"],
        )?;
        let nodes_maintenance = IntGauge::new("ironbark_nodes_maintenance", "Bare-metal nodes in maintenance")?;
        let state_seconds = HistogramVec::new(
            HistogramOpts::new(
                "ironbark_provision_state_duration_seconds",
                "Time nodes spent in a transitional provision state before leaving it",
            )
            .buckets(DURATION_BUCKETS.to_vec()),
            &["state", "outcome"],
        )?;
        let action_seconds = HistogramVec::new(
            HistogramOpts::new(
                "ironbark_provision_transition_duration_seconds",
                "Time from leaving a resting provision state to reaching the next one",
            )
            .buckets(DURATION_BUCKETS.to_vec()),
            &["from", "to"],
        )?;
        let failures = IntCounterVec::new(
            Opts::new("ironbark_provision_failures_total", "Provisioning steps that failed, by state"),
            &["state"],
        )?;
        let power = IntCounterVec::new(
            Opts::new("ironbark_power_actions_total", "Completed power actions, by requested state and result"),
            &["requested", "result"],
        )?;
        let events_missed =
            IntGauge::new("ironbark_metrics_events_missed", "Engine events the metrics reporter fell behind on")?;
        registry.register(Box::new(nodes.clone()))?;
        registry.register(Box::new(nodes_maintenance.clone()))?;
        registry.register(Box::new(state_seconds.clone()))?;
        registry.register(Box::new(action_seconds.clone()))?;
        registry.register(Box::new(failures.clone()))?;
        registry.register(Box::new(power.clone()))?;
        registry.register(Box::new(events_missed.clone()))?;
        Ok(Metrics {
            registry,
            nodes,
            nodes_maintenance,
            state_seconds,
            action_seconds,
            failures,
            power,
            events_missed,
            storage,
        })
    }

    /// The latency middleware of one service, recording into this registry.
    pub fn http(&self, service: &str) -> PrometheusMetrics {
        let labels = HashMap::from([("service".to_string(), service.to_string())]);
        PrometheusMetricsBuilder::new("ironbark")
            .registry(self.registry.clone())
            .const_labels(labels)
            .buckets(HTTP_BUCKETS)
            // Unknown paths share one label: a scan must not grow the registry.
            .mask_unmatched_patterns("UNMATCHED")
            .build()
            .expect("one latency middleware per service")
    }

    /// Counts nodes per state in the database.
    async fn refresh(&self) -> Result<(), crate::storage::StorageError> {
        let (states, maintenance) =
            self.storage.read(|c| Ok((bm::nodes_count_by_state(c)?, bm::nodes_in_maintenance(c)?))).await?;
        self.nodes.reset();
        for s in ProvisionState::ALL {
            self.nodes.with_label_values(&[s.as_str()]).set(0);
        }
        for (state, n) in states {
            self.nodes.with_label_values(&[&state]).set(n);
        }
        self.nodes_maintenance.set(maintenance);
        Ok(())
    }

    /// `GET /metrics`: the text exposition format.
    pub async fn render(&self) -> HttpResponse {
        if let Err(e) = self.refresh().await {
            tracing::warn!(error = %e, "metrics: node counts not refreshed");
            return HttpResponse::ServiceUnavailable().content_type("text/plain").body(format!("database: {e}\n"));
        }
        let mut out = Vec::with_capacity(16 * 1024);
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            return HttpResponse::InternalServerError().content_type("text/plain").body(e.to_string());
        }
        HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(out)
    }

    /// Follows engine events: how long states and actions take.
    pub async fn follow(self: std::sync::Arc<Self>, mut events: broadcast::Receiver<Event>) {
        // Only nodes on their way somewhere: (state entered at, action start).
        let mut moving: HashMap<String, (Instant, Option<(ProvisionState, Instant)>)> = HashMap::new();
        loop {
            let ev = match events.recv().await {
                Ok(ev) => ev,
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    self.events_missed.add(n as i64);
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            };
            let now = Instant::now();
            match &ev.kind {
                EventKind::Provision { from, to, event, .. } => {
                    let entry = moving.remove(&ev.node_uuid);
                    if let Some((entered, _)) = entry
                        && !from.is_stable()
                    {
                        let outcome = if *event == Fsm::Fail { "failed" } else { "ok" };
                        self.state_seconds
                            .with_label_values(&[from.as_str(), outcome])
                            .observe((now - entered).as_secs_f64());
                    }
                    if *event == Fsm::Fail {
                        self.failures.with_label_values(&[from.as_str()]).inc();
                    }
                    let action = match entry {
                        Some((_, a)) => a,
                        None if from.is_stable() => Some((*from, now)),
                        None => None,
                    };
                    if to.is_stable() || to.is_failure() {
                        if let Some((start, at)) = action {
                            self.action_seconds
                                .with_label_values(&[start.as_str(), to.as_str()])
                                .observe((now - at).as_secs_f64());
                        }
                    } else {
                        moving.insert(ev.node_uuid.clone(), (now, action));
                    }
                }
                EventKind::Power { requested, error, .. } => {
                    let result = if error.is_some() { "error" } else { "ok" };
                    self.power.with_label_values(&[requested.as_str(), result]).inc();
                }
                EventKind::Node { action: crate::engine::events::NodeAction::Delete, .. } => {
                    moving.remove(&ev.node_uuid);
                }
                _ => {}
            }
        }
    }
}

/// The `/metrics` route.
pub async fn handler(m: web::Data<Metrics>) -> HttpResponse {
    m.render().await
}
