//! The generator's shared state: the UVE cache the collector is resynced
//! from, per-type sequence numbers, the bounded send queue, statistics
//! and connection state. Producers never wait: a full queue drops the
//! message and counts it; the UVE cache keeps the node's state for the
//! next resync either way.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus::{IntCounterVec, IntGauge, Opts, Registry};
use tokio::sync::mpsc;

use super::codec::Struct;
use super::messages::{Identity, Kind, Level};

/// One message waiting to be sent.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The message (sandesh) name: the unit of sequence numbers and stats.
    pub name: &'static str,
    pub kind: Kind,
    pub level: Level,
    pub hints: i32,
    pub seq: i32,
    pub timestamp_us: i64,
    pub body: Struct,
}

/// Where the live UVEs of a type come from when the collector needs all of
/// them again: the database holds every node's state, so node UVEs are
/// not kept in memory (a fleet of 100 000 nodes would hold hundreds of MB).
pub trait UveSource: Send + Sync + 'static {
    /// Up to `limit` UVE data structs after key `after`, in key order;
    /// fewer than `limit` at the end.
    fn page(&self, after: Option<String>, limit: usize) -> BoxFuture<Result<Vec<Struct>, String>>;
    /// The UVE data of one key, if it is live.
    fn one(&self, key: String) -> BoxFuture<Result<Option<Struct>, String>>;
}

pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// A live UVE as last sent (or meant to be sent).
#[derive(Debug, Clone)]
pub struct CachedUve {
    pub message: &'static str,
    pub seq: i32,
    pub timestamp_us: i64,
    /// The `data` struct.
    pub data: Struct,
}

/// Why a message was not sent; the names are Sandesh's drop reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Drop {
    /// The bounded queue was full.
    QueueLevel,
    /// No session with a collector was up.
    SessionNotConnected,
    /// The session was up but not yet accepted by the collector.
    WrongClientSmState,
    /// Writing to the collector failed.
    WriteFailed,
}

impl Drop {
    pub fn as_str(self) -> &'static str {
        match self {
            Drop::QueueLevel => "queue_level",
            Drop::SessionNotConnected => "session_not_connected",
            Drop::WrongClientSmState => "wrong_client_sm_state",
            Drop::WriteFailed => "write_failed",
        }
    }
}

/// Per message type counters, as `SandeshMessageStats` reports them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TypeStats {
    pub messages_sent: u64,
    pub bytes_sent: u64,
    pub messages_received: u64,
    pub bytes_received: u64,
    pub dropped: BTreeMap<Drop, u64>,
}

/// The generator's state machine states, by Sandesh's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmState {
    Idle,
    Connect,
    ClientInit,
    Established,
}

impl SmState {
    pub fn as_str(self) -> &'static str {
        match self {
            SmState::Idle => "Idle",
            SmState::Connect => "Connect",
            SmState::ClientInit => "ClientInit",
            SmState::Established => "Established",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Connection {
    pub state: SmState,
    /// The collector being tried or talked to (`host:port`).
    pub collector: Option<String>,
    /// Its resolved address.
    pub collector_ip: Option<String>,
    pub successful_connections: u32,
    pub last_error: Option<String>,
    /// When the current state was entered, µs since the epoch.
    pub since_us: i64,
}

/// How the generator connects.
#[derive(Debug, Clone)]
pub struct Settings {
    pub identity: Identity,
    /// `host:port` each.
    pub collectors: Vec<String>,
    /// The introspect port announced in the hello (0 = none).
    pub http_port: u16,
    pub queue_size: usize,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    pub connect_timeout: Duration,
    pub handshake_timeout: Duration,
    pub write_timeout: Duration,
}

/// Prometheus figures of the generator.
struct Metrics {
    sent: IntCounterVec,
    dropped: IntCounterVec,
    queue: IntGauge,
    established: IntGauge,
}

impl Metrics {
    fn new(registry: &Registry) -> prometheus::Result<Metrics> {
        let sent = IntCounterVec::new(
            Opts::new("ironbark_sandesh_messages_sent_total", "Sandesh messages written to a collector"),
            &["type"],
        )?;
        let dropped = IntCounterVec::new(
            Opts::new("ironbark_sandesh_messages_dropped_total", "Sandesh messages not sent, by reason"),
            &["type", "reason"],
        )?;
        let queue = IntGauge::new("ironbark_sandesh_queue_depth", "Sandesh messages waiting to be sent")?;
        let established =
            IntGauge::new("ironbark_sandesh_collector_established", "1 while a collector session is established")?;
        registry.register(Box::new(sent.clone()))?;
        registry.register(Box::new(dropped.clone()))?;
        registry.register(Box::new(queue.clone()))?;
        registry.register(Box::new(established.clone()))?;
        Ok(Metrics { sent, dropped, queue, established })
    }
}

pub(super) struct Shared {
    pub settings: Settings,
    tx: mpsc::Sender<Outgoing>,
    cache: Mutex<BTreeMap<(String, String), CachedUve>>,
    seqs: Mutex<HashMap<&'static str, i32>>,
    stats: Mutex<BTreeMap<&'static str, TypeStats>>,
    conn: Mutex<Connection>,
    max_queue: Mutex<u64>,
    enqueues: std::sync::atomic::AtomicU64,
    metrics: Metrics,
    pub started_us: i64,
    /// UVE types resynced from a source instead of the cache: message name
    /// and struct name.
    pub sources: Vec<(&'static str, &'static str, Arc<dyn UveSource>)>,
}

/// A handle on the generator (cheap to clone).
#[derive(Clone)]
pub struct Generator {
    pub(super) shared: Arc<Shared>,
}

pub fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic elsewhere must not stop reporting: the data stays usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The UVE key of a data struct: the text of its `key`-annotated field.
pub fn uve_key(data: &Struct) -> Option<String> {
    data.fields.iter().find(|f| f.annotations.iter().any(|(k, _)| k == "key")).and_then(|f| match &f.value {
        super::codec::Value::Str(s) => Some(s.clone()),
        _ => None,
    })
}

fn is_deleted(data: &Struct) -> bool {
    matches!(data.get("deleted"), Some(super::codec::Value::Bool(true)))
}

impl Generator {
    /// A generator and the receiving end of its queue (for the session).
    pub(super) fn new(
        settings: Settings,
        sources: Vec<(&'static str, &'static str, Arc<dyn UveSource>)>,
        registry: &Registry,
    ) -> prometheus::Result<(Generator, mpsc::Receiver<Outgoing>)> {
        let (tx, rx) = mpsc::channel(settings.queue_size.max(1));
        let shared = Shared {
            settings,
            tx,
            cache: Mutex::default(),
            seqs: Mutex::default(),
            stats: Mutex::default(),
            conn: Mutex::new(Connection {
                state: SmState::Idle,
                collector: None,
                collector_ip: None,
                successful_connections: 0,
                last_error: None,
                since_us: now_us(),
            }),
            max_queue: Mutex::new(0),
            enqueues: Default::default(),
            metrics: Metrics::new(registry)?,
            started_us: now_us(),
            sources,
        };
        Ok((Generator { shared: Arc::new(shared) }, rx))
    }

    pub fn identity(&self) -> &Identity {
        &self.shared.settings.identity
    }

    pub fn settings(&self) -> &Settings {
        &self.shared.settings
    }

    fn next_seq(&self, name: &'static str) -> i32 {
        let mut seqs = lock(&self.shared.seqs);
        let s = seqs.entry(name).or_insert(0);
        *s = s.wrapping_add(1).max(1);
        *s
    }

    /// The last sequence number used per message type.
    pub fn last_seqs(&self) -> HashMap<&'static str, i32> {
        lock(&self.shared.seqs).clone()
    }

    /// Sends a UVE: the cache takes the new state (or forgets a deleted
    /// one) and the message is queued.
    pub fn send_uve(&self, message: &'static str, data: Struct) {
        if let Some(out) = self.prepare_uve(message, data) {
            self.enqueue(out);
        }
    }

    /// As [`Generator::send_uve`], for the session itself to write.
    pub(super) fn send_uve_direct(&self, message: &'static str, data: Struct) -> Option<Outgoing> {
        self.prepare_uve(message, data)
    }

    fn prepare_uve(&self, message: &'static str, data: Struct) -> Option<Outgoing> {
        let Some(key) = uve_key(&data) else {
            tracing::warn!(message, "a UVE without a key is not sent");
            return None;
        };
        // One lock orders cache updates with their sequence numbers.
        let mut cache = lock(&self.shared.cache);
        let seq = self.next_seq(message);
        let ts = now_us();
        let slot = (data.name.to_string(), key);
        if self.source_of(message).is_some() {
            // Resynced from its source, not from memory.
        } else if is_deleted(&data) {
            cache.remove(&slot);
        } else {
            cache.insert(slot, CachedUve { message, seq, timestamp_us: ts, data: data.clone() });
        }
        Some(Outgoing {
            name: message,
            kind: Kind::Uve,
            level: Level::Notice,
            hints: super::messages::HINT_KEY,
            seq,
            timestamp_us: ts,
            body: super::messages::uve(message, data),
        })
    }

    /// The source of a UVE type (by message name), if it has one.
    pub fn source_of(&self, message: &str) -> Option<Arc<dyn UveSource>> {
        self.shared.sources.iter().find(|(m, _, _)| *m == message).map(|(_, _, s)| s.clone())
    }

    /// Sources by (message, struct) name.
    pub fn sources(&self) -> Vec<(&'static str, &'static str, Arc<dyn UveSource>)> {
        self.shared.sources.clone()
    }

    /// A fresh sequence number for a resync send of a sourced UVE type.
    pub(super) fn resync_seq(&self, message: &'static str) -> i32 {
        self.next_seq(message)
    }

    pub(super) fn next_ctrl_seq(&self) -> i32 {
        self.next_seq(super::messages::CTRL_HELLO)
    }

    /// Sends a system or object log.
    pub fn send_log(&self, kind: Kind, level: Level, body: Struct) {
        let name: &'static str = match body.name.as_ref() {
            super::messages::NODE_EVENT_LOG => super::messages::NODE_EVENT_LOG,
            super::messages::NODE_STATE_LOG => super::messages::NODE_STATE_LOG,
            super::messages::SERVER_EVENT_LOG => super::messages::SERVER_EVENT_LOG,
            _ => "other",
        };
        let hints = if has_key_deep(&body) { super::messages::HINT_KEY } else { 0 };
        let out = Outgoing { name, kind, level, hints, seq: self.next_seq(name), timestamp_us: now_us(), body };
        self.enqueue(out);
    }

    fn enqueue(&self, out: Outgoing) {
        let name = out.name;
        match self.shared.tx.try_send(out) {
            Ok(()) => {
                self.shared.enqueues.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let depth = (self.shared.settings.queue_size - self.shared.tx.capacity()) as u64;
                self.shared.metrics.queue.set(depth as i64);
                let mut max = lock(&self.shared.max_queue);
                *max = (*max).max(depth);
            }
            Err(_) => self.dropped(name, Drop::QueueLevel),
        }
    }

    pub(super) fn dropped(&self, name: &'static str, why: Drop) {
        *lock(&self.shared.stats).entry(name).or_default().dropped.entry(why).or_default() += 1;
        self.shared.metrics.dropped.with_label_values(&[name, why.as_str()]).inc();
    }

    pub(super) fn sent(&self, name: &'static str, bytes: usize) {
        let mut stats = lock(&self.shared.stats);
        let s = stats.entry(name).or_default();
        s.messages_sent += 1;
        s.bytes_sent += bytes as u64;
        drop(stats);
        self.shared.metrics.sent.with_label_values(&[name]).inc();
    }

    pub(super) fn received(&self, name: &'static str, bytes: usize) {
        let mut stats = lock(&self.shared.stats);
        let s = stats.entry(name).or_default();
        s.messages_received += 1;
        s.bytes_received += bytes as u64;
    }

    pub(super) fn dequeued(&self) {
        let depth = (self.shared.settings.queue_size - self.shared.tx.capacity()) as i64;
        self.shared.metrics.queue.set(depth);
    }

    pub fn stats(&self) -> BTreeMap<&'static str, TypeStats> {
        lock(&self.shared.stats).clone()
    }

    pub fn queue_depth(&self) -> u64 {
        (self.shared.settings.queue_size - self.shared.tx.capacity()) as u64
    }

    /// Messages ever queued.
    pub fn enqueues(&self) -> u64 {
        self.shared.enqueues.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn max_queue_depth(&self) -> u64 {
        *lock(&self.shared.max_queue)
    }

    /// Live UVEs, by (struct name, key).
    pub fn cache(&self) -> Vec<CachedUve> {
        lock(&self.shared.cache).values().cloned().collect()
    }

    pub fn cached(&self, struct_name: &str, key: &str) -> Option<CachedUve> {
        lock(&self.shared.cache).get(&(struct_name.to_string(), key.to_string())).cloned()
    }

    pub fn connection(&self) -> Connection {
        lock(&self.shared.conn).clone()
    }

    pub(super) fn set_state(&self, state: SmState, collector: Option<&str>, ip: Option<String>) {
        let mut c = lock(&self.shared.conn);
        if state == SmState::Established && c.state != SmState::Established {
            c.successful_connections += 1;
            c.last_error = None;
        }
        c.state = state;
        if let Some(col) = collector {
            c.collector = Some(col.to_string());
        }
        if ip.is_some() {
            c.collector_ip = ip;
        }
        c.since_us = now_us();
        self.shared.metrics.established.set(i64::from(state == SmState::Established));
    }

    pub(super) fn set_error(&self, e: String) {
        lock(&self.shared.conn).last_error = Some(e);
    }
}

/// Whether a field anywhere in the message (in nested structs too) carries
/// a key annotation: such messages get the key hint.
fn has_key_deep(s: &Struct) -> bool {
    s.has_key()
        || s.fields.iter().any(|f| match &f.value {
            super::codec::Value::Struct(inner) => has_key_deep(inner),
            _ => false,
        })
}

/// A bounded record of recent lifecycle events for introspect.
pub struct Recent<T> {
    items: Mutex<VecDeque<T>>,
}

impl<T> Default for Recent<T> {
    fn default() -> Self {
        Recent { items: Mutex::new(VecDeque::new()) }
    }
}

impl<T: Clone> Recent<T> {
    pub const CAPACITY: usize = 256;

    pub fn push(&self, item: T) {
        let mut q = lock(&self.items);
        if q.len() == Self::CAPACITY {
            q.pop_front();
        }
        q.push_back(item);
    }

    pub fn snapshot(&self) -> Vec<T> {
        lock(&self.items).iter().cloned().collect()
    }
}
