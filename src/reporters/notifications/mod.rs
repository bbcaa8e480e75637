//! Ironic's versioned notifications on RabbitMQ, as oslo.messaging's
//! `messagingv2` driver publishes them: topic exchange `ironic` (not
//! durable), routing key `<topic>.<priority>`, one queue of that name
//! declared and bound by the publisher so nothing is lost before a
//! consumer comes, persistent JSON messages in the v2 envelope.
//!
//! The engine never waits on the broker: messages go through a bounded
//! queue; while the broker is away they wait there (in order) until it is
//! full, then new ones are dropped and counted.

pub mod payload;
pub mod transport;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use amqprs::BasicProperties;
use amqprs::callbacks::{DefaultChannelCallback, DefaultConnectionCallback};
use amqprs::channel::{
    BasicPublishArguments, Channel, ExchangeDeclareArguments, QueueBindArguments, QueueDeclareArguments,
};
use amqprs::connection::{Connection, OpenConnectionArguments};
use prometheus::{IntCounterVec, IntGauge, Opts, Registry};
use tokio::sync::mpsc;

use crate::engine::events::Event;
use crate::reporters::ironic_events::{self, Priority};
pub use transport::TransportUrl;

/// `notification_level`: the lowest priority sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Debug,
    Info,
    Warning,
    Error,
    Critical,
}

impl Level {
    fn admits(self, p: Priority) -> bool {
        let rank = match p {
            Priority::Info => Level::Info,
            Priority::Error => Level::Error,
        };
        rank >= self
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub url: TransportUrl,
    pub exchange: String,
    pub topics: Vec<String>,
    pub level: Level,
    /// `publisher_id` = `<service>.<host>`.
    pub host: String,
    pub queue_size: usize,
    pub retry_max: Duration,
}

struct Outgoing {
    routing_key: String,
    event_type: String,
    body: Vec<u8>,
}

struct Metrics {
    sent: IntCounterVec,
    dropped: IntCounterVec,
    queue: IntGauge,
    connected: IntGauge,
}

impl Metrics {
    fn new(r: &Registry) -> prometheus::Result<Metrics> {
        let sent = IntCounterVec::new(
            Opts::new("ironbark_notifications_sent_total", "Versioned notifications published to the broker"),
            &["event_type"],
        )?;
        let dropped = IntCounterVec::new(
            Opts::new("ironbark_notifications_dropped_total", "Versioned notifications not published, by reason"),
            &["reason"],
        )?;
        let queue = IntGauge::new("ironbark_notifications_queue_depth", "Notifications waiting for the broker")?;
        let connected = IntGauge::new("ironbark_notifications_broker_connected", "1 while connected to the broker")?;
        for c in [Box::new(sent.clone()) as Box<dyn prometheus::core::Collector>, Box::new(dropped.clone())] {
            r.register(c)?;
        }
        r.register(Box::new(queue.clone()))?;
        r.register(Box::new(connected.clone()))?;
        Ok(Metrics { sent, dropped, queue, connected })
    }
}

struct Shared {
    settings: Settings,
    metrics: Metrics,
    sent: AtomicU64,
    dropped: AtomicU64,
}

/// The notification publisher (cheap to clone).
#[derive(Clone)]
pub struct Notifier {
    shared: Arc<Shared>,
    tx: mpsc::Sender<Outgoing>,
}

impl Notifier {
    /// Starts the publisher on the current runtime.
    pub fn start(settings: Settings, registry: &Registry) -> prometheus::Result<Notifier> {
        let (tx, rx) = mpsc::channel(settings.queue_size.max(1));
        let shared = Arc::new(Shared {
            settings,
            metrics: Metrics::new(registry)?,
            sent: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        });
        tokio::spawn(publish_loop(shared.clone(), rx));
        Ok(Notifier { shared, tx })
    }

    /// Queues the notifications of an engine event.
    pub fn publish(&self, ev: &Event) {
        let s = &self.shared.settings;
        let request_id = format!("req-{}", uuid::Uuid::new_v4());
        for notice in ironic_events::notices(ev) {
            if !s.level.admits(notice.priority()) {
                continue;
            }
            let Some(data) = payload::data(&notice, ev) else { continue };
            let (_, body) = payload::envelope(&notice, payload::payload(&notice, data), &s.host, ev.at, &request_id);
            for topic in &s.topics {
                let out = Outgoing {
                    routing_key: format!("{topic}.{}", notice.priority().as_str().to_ascii_lowercase()),
                    event_type: notice.event_type(),
                    body: body.clone(),
                };
                match self.tx.try_send(out) {
                    Ok(()) => self.shared.metrics.queue.inc(),
                    Err(_) => {
                        self.shared.dropped.fetch_add(1, Ordering::Relaxed);
                        self.shared.metrics.dropped.with_label_values(&["queue_full"]).inc();
                    }
                }
            }
        }
    }

    /// Engine events this reporter fell too far behind to see.
    pub fn missed(&self, events: u64) {
        self.shared.dropped.fetch_add(events, Ordering::Relaxed);
        self.shared.metrics.dropped.with_label_values(&["events_missed"]).inc_by(events);
    }

    /// Published and dropped so far.
    pub fn counts(&self) -> (u64, u64) {
        (self.shared.sent.load(Ordering::Relaxed), self.shared.dropped.load(Ordering::Relaxed))
    }
}

/// An open channel with the exchange declared, and the queues declared on it.
struct Link {
    conn: Connection,
    channel: Channel,
    declared: std::collections::HashSet<String>,
}

async fn connect(s: &Settings, attempt: usize) -> Result<Link, String> {
    let b = &s.url.brokers[attempt % s.url.brokers.len()];
    let mut args = OpenConnectionArguments::new(&b.host, b.port, &b.user, &b.password);
    args.virtual_host(&s.url.virtual_host).connection_name(&format!("ironbark:{}", std::process::id()));
    if s.url.tls {
        let tls = amqprs::tls::TlsAdaptor::without_client_auth(None, b.host.clone()).map_err(|e| e.to_string())?;
        args.tls_adaptor(tls);
    }
    let where_ = format!("{}:{}", b.host, b.port);
    let conn = tokio::time::timeout(Duration::from_secs(10), Connection::open(&args.finish()))
        .await
        .map_err(|_| format!("{where_}: connection timed out"))?
        .map_err(|e| format!("{where_}: {e}"))?;
    conn.register_callback(DefaultConnectionCallback).await.map_err(|e| e.to_string())?;
    let channel = conn.open_channel(None).await.map_err(|e| e.to_string())?;
    channel.register_callback(DefaultChannelCallback).await.map_err(|e| e.to_string())?;
    let exchange = ExchangeDeclareArguments::new(&s.exchange, "topic").durable(false).auto_delete(false).finish();
    channel.exchange_declare(exchange).await.map_err(|e| format!("declaring exchange {}: {e}", s.exchange))?;
    Ok(Link { conn, channel, declared: Default::default() })
}

async fn send(s: &Settings, link: &mut Link, m: &Outgoing) -> Result<(), String> {
    if !link.declared.contains(&m.routing_key) {
        // As oslo does: a queue named after the routing key, so that
        // messages wait for a consumer that has not come yet.
        let q = QueueDeclareArguments::new(&m.routing_key).durable(false).auto_delete(false).finish();
        link.channel.queue_declare(q).await.map_err(|e| e.to_string())?;
        let bind = QueueBindArguments::new(&m.routing_key, &s.exchange, &m.routing_key).finish();
        link.channel.queue_bind(bind).await.map_err(|e| e.to_string())?;
        link.declared.insert(m.routing_key.clone());
    }
    let props = BasicProperties::default()
        .with_content_type("application/json")
        .with_content_encoding("utf-8")
        .with_delivery_mode(2)
        .with_priority(0)
        .finish();
    let args = BasicPublishArguments::new(&s.exchange, &m.routing_key);
    link.channel.basic_publish(props, m.body.clone(), args).await.map_err(|e| e.to_string())?;
    if !link.conn.is_open() || !link.channel.is_open() {
        return Err("the broker closed the connection".into());
    }
    Ok(())
}

async fn publish_loop(shared: Arc<Shared>, mut rx: mpsc::Receiver<Outgoing>) {
    let s = &shared.settings;
    let mut attempt = 0usize;
    let mut backoff = Duration::from_millis(500);
    let mut pending: Option<Outgoing> = None;
    loop {
        let mut link = match connect(s, attempt).await {
            Ok(l) => {
                tracing::info!(exchange = %s.exchange, "notifications: connected to the broker");
                shared.metrics.connected.set(1);
                backoff = Duration::from_millis(500);
                l
            }
            Err(e) => {
                tracing::warn!(error = %e, "notifications: broker unreachable; retrying");
                attempt += 1;
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(s.retry_max.max(Duration::from_millis(500)));
                if rx.is_closed() && rx.is_empty() && pending.is_none() {
                    return;
                }
                continue;
            }
        };
        loop {
            let m = match pending.take() {
                Some(m) => m,
                None => match rx.recv().await {
                    Some(m) => {
                        shared.metrics.queue.dec();
                        m
                    }
                    None => {
                        let _ = link.channel.close().await;
                        let _ = link.conn.close().await;
                        return;
                    }
                },
            };
            match send(s, &mut link, &m).await {
                Ok(()) => {
                    shared.sent.fetch_add(1, Ordering::Relaxed);
                    shared.metrics.sent.with_label_values(&[&m.event_type]).inc();
                }
                Err(e) => {
                    tracing::warn!(error = %e, "notifications: publishing failed; reconnecting");
                    shared.metrics.connected.set(0);
                    // Sent again once connected: at least once, in order.
                    pending = Some(m);
                    attempt += 1;
                    break;
                }
            }
        }
    }
}
