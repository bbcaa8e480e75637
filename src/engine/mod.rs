//! The lifecycle engine: Ironic's conductor role for every API.
//!
//! A request is checked and its first step persisted in one transaction —
//! the state change, the target, the node lock (`reservation`) and a
//! history entry — before the API answers 202. The rest of the work runs
//! asynchronously; because the lock and the state are in the database, a
//! restarted process finds every node it was working on and resumes it.

pub mod discovery;
pub mod events;
mod inspection;
pub mod instances;
pub mod ipam;
pub mod rules;
pub mod states;
pub mod vifs;

use std::sync::Arc;

use chrono::Utc;
use tokio::sync::{broadcast, mpsc};

use crate::drivers::configdrive;
use crate::drivers::fake_disk::{Disks, ImageToWrite};
use crate::drivers::{BmcError, BootDevice, Hardware, HardwareSettings, StepDone, StepError};
use crate::storage::baremetal::{self as bm, HistoryEntry, Node, Port};
use crate::storage::image_store::{ImageStore, open_verified};
use crate::storage::{DbConn, Storage, StorageError};
pub use events::{Event, EventKind};
use states::{Event as Fsm, PowerState, ProvisionState as S, Verb};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("Node {0} could not be found.")]
    NotFound(String),
    #[error("Node {node} is locked by host {host}, please retry after the current operation is completed.")]
    Locked { node: String, host: String },
    #[error(
        "The requested action \"{action}\" can not be performed on node \"{node}\" while it is in state \"{state}\"."
    )]
    InvalidState { action: String, node: String, state: String },
    #[error("The {op} operation can't be performed on node {node} because it's in maintenance mode.")]
    Maintenance { op: String, node: String },
    #[error("Node {0} is protected and cannot be undeployed, rebuilt or deleted")]
    Protected(String),
    #[error("{0}")]
    Conflict(String),
    /// An agent's report matches no node it may report for (Ironic's
    /// deliberately vague 404).
    #[error("Resource could not be found.")]
    LookupFailed,
    /// A request the engine cannot act on as given.
    #[error("{0}")]
    BadInput(String),
    /// `driver_info` does not let ironbark reach the BMC.
    #[error("{0}")]
    DriverInfo(String),
    /// The BMC failed or did not answer.
    #[error("{0}")]
    Bmc(String),
    #[error(transparent)]
    Storage(StorageError),
}

impl From<BmcError> for EngineError {
    fn from(e: BmcError) -> Self {
        match e {
            BmcError::Config(m) => EngineError::DriverInfo(m),
            other => EngineError::Bmc(other.to_string()),
        }
    }
}

impl From<StorageError> for EngineError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::NotFound { id, .. } => EngineError::NotFound(id),
            other => EngineError::Storage(other),
        }
    }
}

/// Who asked, for node history.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    pub user_id: Option<String>,
    pub project_id: Option<String>,
}

#[derive(Debug, Clone, Copy)]
enum Job {
    Provision,
    Power,
}

pub struct Settings {
    /// This process's name in `reservation` and `GET /v1/conductors`.
    pub host: String,
    /// Fake hardware's step time and BMC deadlines.
    pub hardware: HardwareSettings,
    /// Fake nodes' disks.
    pub disks: Disks,
    /// Where deploys read instance images from.
    pub images: Option<Arc<dyn ImageStore>>,
    /// Whether network changes are recorded for the Contrail push.
    pub contrail_push: bool,
}

struct Inner {
    storage: Storage,
    settings: Settings,
    queue: mpsc::UnboundedSender<(String, Job)>,
    events: broadcast::Sender<Event>,
}

#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

pub struct Worker {
    engine: Engine,
    rx: mpsc::UnboundedReceiver<(String, Job)>,
}

/// One state change made by the engine, with the node it left.
struct Move {
    from: S,
    event: Fsm,
    prior_target: Option<String>,
    error: Option<String>,
    node: Node,
}

impl Move {
    fn event(self) -> Event {
        let kind = EventKind::Provision {
            from: self.from,
            to: state_of(&self.node),
            event: self.event,
            prior_target: self.prior_target.and_then(|t| t.parse().ok()),
            target: self.node.target_provision_state.as_deref().and_then(|t| t.parse().ok()),
            error: self.error,
        };
        Event::of(&self.node, kind)
    }
}

/// `driver_internal_info` keys of one agent's session.
const AGENT_SESSION: &[&str] =
    &["agent_url", "agent_secret_token", "agent_last_heartbeat", "agent_version", "agent_verify_ca", "deploy_phase"];

fn now() -> chrono::NaiveDateTime {
    Utc::now().naive_utc()
}

fn state_of(n: &Node) -> S {
    n.provision_state.parse().unwrap_or(S::Error)
}

/// Target shown after a move: none once stable; otherwise the current one,
/// or the state's default.
fn next_target(current: Option<&str>, next: S) -> Option<String> {
    if next.is_stable() {
        return None;
    }
    current.map(str::to_string).or_else(|| next.default_target().map(|t| t.as_str().to_string()))
}

impl Engine {
    pub fn new(storage: Storage, settings: Settings) -> (Engine, Worker) {
        let (tx, rx) = mpsc::unbounded_channel();
        let (events, _) = broadcast::channel(4096);
        let engine = Engine { inner: Arc::new(Inner { storage, settings, queue: tx, events }) };
        (engine.clone(), Worker { engine, rx })
    }

    pub fn host(&self) -> &str {
        &self.inner.settings.host
    }

    pub fn storage(&self) -> &Storage {
        &self.inner.storage
    }

    /// Whether network changes are recorded for the Contrail push.
    pub fn contrail_push(&self) -> bool {
        self.inner.settings.contrail_push
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.inner.events.subscribe()
    }

    /// After a node's row is deleted (`node` as it was): its fake disk
    /// files go too.
    pub async fn node_deleted(&self, node: &Node) {
        let (disks, id) = (self.inner.settings.disks.clone(), node.uuid.clone());
        if let Ok(Err(e)) = tokio::task::spawn_blocking(move || disks.remove(&id)).await {
            tracing::warn!(node = %node.uuid, error = %e, "disk files of a deleted node not removed");
        }
        self.emit(Event::of(
            node,
            EventKind::Node { action: events::NodeAction::Delete, prior_updated_at: node.updated_at },
        ));
    }

    /// Publishes an event (no subscriber is fine).
    pub fn emit(&self, e: Event) {
        let _ = self.inner.events.send(e);
    }

    fn history(
        node: &Node,
        host: &str,
        actor: &Actor,
        severity: &str,
        event: String,
        event_type: &str,
    ) -> HistoryEntry {
        HistoryEntry {
            uuid: uuid::Uuid::new_v4().to_string(),
            node_uuid: node.uuid.clone(),
            created_at: now(),
            severity: severity.into(),
            event,
            event_type: event_type.into(),
            conductor: Some(host.into()),
            user_id: actor.user_id.clone(),
            project_id: actor.project_id.clone(),
            state: Some(node.provision_state.clone()),
            target_state: node.target_provision_state.clone(),
            duration_seconds: None,
        }
    }

    /// Starts a provision action. Returns once the first step is stored.
    pub async fn provision(&self, uuid: &str, verb: Verb, actor: Actor) -> Result<(), EngineError> {
        self.provision_with(uuid, verb, actor, serde_json::Map::new()).await
    }

    /// As [`Engine::provision`], keeping request details (steps, config
    /// drive) in `driver_internal_info` for the work that follows.
    pub async fn provision_with(
        &self,
        uuid: &str,
        verb: Verb,
        actor: Actor,
        extras: serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), EngineError> {
        let host = self.host().to_string();
        let id = uuid.to_string();
        let (from, prior_target, node) =
            self.inner.storage.write(move |c| Ok(Self::start_provision(c, &id, verb, &host, &actor, extras))).await??;
        let node_uuid = node.uuid.clone();
        let reserved = node.reservation.as_deref() == Some(self.host());
        self.emit(Move { from, event: verb.event(), prior_target, error: None, node }.event());
        if reserved {
            self.start(node_uuid, Job::Provision);
        }
        Ok(())
    }

    /// Checks and stores the first step of a provision action; returns the
    /// state and target before it and the node after it.
    fn start_provision(
        c: &mut DbConn,
        uuid: &str,
        verb: Verb,
        host: &str,
        actor: &Actor,
        extras: serde_json::Map<String, serde_json::Value>,
    ) -> Result<(S, Option<String>, Node), EngineError> {
        let mut n = bm::node(c, uuid)?;
        let from = state_of(&n);
        let prior_target = n.target_provision_state.clone();
        let event = verb.event();
        let Some(next) = states::transition(from, event) else {
            if let Some(h) = &n.reservation {
                return Err(EngineError::Locked { node: n.uuid, host: h.clone() });
            }
            return Err(EngineError::InvalidState {
                action: match verb {
                    Verb::Active | Verb::Deploy => "deploy".into(),
                    Verb::Deleted | Verb::Undeploy => "delete".into(),
                    _ => event.as_str().into(),
                },
                node: n.uuid,
                state: from.as_str().into(),
            });
        };
        if let Some(h) = &n.reservation {
            return Err(EngineError::Locked { node: n.uuid, host: h.clone() });
        }
        if n.maintenance && matches!(event, Fsm::Deploy | Fsm::Rebuild) {
            return Err(EngineError::Maintenance { op: "provisioning".into(), node: n.uuid });
        }
        if n.protected && matches!(event, Fsm::Delete | Fsm::Rebuild) {
            return Err(EngineError::Protected(n.uuid));
        }
        let fresh_agent = matches!(event, Fsm::Deploy | Fsm::Rebuild);
        if !extras.is_empty() || fresh_agent {
            let mut internal: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(&n.driver_internal_info).unwrap_or_default();
            if fresh_agent {
                // A deploy boots a new agent: what an earlier one said is void.
                for k in AGENT_SESSION {
                    internal.remove(*k);
                }
            }
            internal.extend(extras);
            n.driver_internal_info = serde_json::Value::Object(internal).to_string();
        }
        let target = match verb {
            Verb::Clean => Some(S::Manageable.as_str().to_string()),
            _ if next.is_stable() => None,
            _ => next.default_target().map(|t| t.as_str().to_string()),
        };
        n.provision_state = next.as_str().into();
        n.target_provision_state = target;
        n.provision_updated_at = Some(now());
        n.updated_at = Some(now());
        if !from.is_failure() || next.is_engine_work() {
            n.last_error = None;
        }
        if next.is_engine_work() {
            n.reservation = Some(host.to_string());
        }
        if matches!(event, Fsm::Inspect) {
            n.inspection_started_at = Some(now());
            n.inspection_finished_at = None;
        }
        let note = format!("Provision state changed from {from} to {next} ({} requested)", event.as_str());
        bm::history_insert(c, &Self::history(&n, host, actor, "INFO", note, "provisioning"))?;
        let n = bm::node_update(c, &n)?;
        Ok((from, prior_target, n))
    }

    /// A heartbeat of the agent a direct deploy waits for: the deploy goes
    /// on (the image is written through the agent). False when the node
    /// waits for no agent.
    pub async fn agent_called_back(&self, uuid: &str) -> Result<bool, EngineError> {
        let host = self.host().to_string();
        let id = uuid.to_string();
        let moved = self
            .inner
            .storage
            .write(move |c| {
                let mut n = bm::node(c, &id)?;
                let from = state_of(&n);
                if from != S::DeployWait || n.reservation.is_some() {
                    return Ok(None);
                }
                let Some(next) = states::transition(from, Fsm::Resume) else { return Ok(None) };
                let prior_target = n.target_provision_state.clone();
                let mut internal: serde_json::Map<String, serde_json::Value> =
                    serde_json::from_str(&n.driver_internal_info).unwrap_or_default();
                internal.insert("deploy_phase".into(), "agent".into());
                n.driver_internal_info = serde_json::Value::Object(internal).to_string();
                n.provision_state = next.as_str().into();
                n.target_provision_state = next_target(n.target_provision_state.as_deref(), next);
                n.provision_updated_at = Some(now());
                n.updated_at = Some(now());
                n.reservation = Some(host.clone());
                let note = format!("Provision state changed from {from} to {next} (the agent called back)");
                bm::history_insert(c, &Self::history(&n, &host, &Actor::default(), "INFO", note, "provisioning"))?;
                let n = bm::node_update(c, &n)?;
                Ok(Some(Move { from, event: Fsm::Resume, prior_target, error: None, node: n }))
            })
            .await?;
        let Some(m) = moved else { return Ok(false) };
        self.emit(m.event());
        self.start(uuid.to_string(), Job::Provision);
        Ok(true)
    }

    /// Starts a power action (`target` as in `PUT /states/power`).
    pub async fn set_power(&self, uuid: &str, target: PowerState, actor: Actor) -> Result<(), EngineError> {
        let host = self.host().to_string();
        let id = uuid.to_string();
        let hw = self.settings().hardware.clone();
        let done = self
            .inner
            .storage
            .write(move |c| {
                let mut n = match bm::node(c, &id) {
                    Ok(n) => n,
                    Err(e) => return Ok(Err(EngineError::from(e))),
                };
                if let Some(h) = &n.reservation {
                    return Ok(Err(EngineError::Locked { node: n.uuid, host: h.clone() }));
                }
                if n.target_power_state.is_some() {
                    return Ok(Err(EngineError::Locked { node: n.uuid, host: host.clone() }));
                }
                n.target_power_state = Some(target.as_str().into());
                n.reservation = Some(host.clone());
                n.updated_at = Some(now());
                let note = format!("Power state change to {target} requested");
                bm::history_insert(c, &Self::history(&n, &host, &actor, "INFO", note, "power"))?;
                let n = bm::node_update(c, &n)?;
                let requested = Event::of(&n, EventKind::PowerRequested { requested: target });
                // Hardware that answers at once finishes within this request.
                match Hardware::for_node(&n, &hw).immediate_power(target) {
                    Some(result) => {
                        let err = result.err().map(|StepError(m)| m);
                        let done = Self::apply_power(c, n, target, err, &host)?;
                        Ok(Ok((requested, Some(done))))
                    }
                    None => Ok(Ok((requested, None))),
                }
            })
            .await??;
        let (requested, finished) = done;
        self.emit(requested);
        match finished {
            Some(ev) => self.emit(ev),
            None => self.start(uuid.to_string(), Job::Power),
        }
        Ok(())
    }

    /// Seals the secret values of a `driver_info` object before it is
    /// stored.
    pub fn seal_driver_info(&self, info: &mut serde_json::Map<String, serde_json::Value>) {
        if let Some(s) = &self.settings().hardware.sealer {
            s.seal_map(info);
        }
    }

    /// The boot device the node's BMC reports; `None` for hardware that
    /// keeps none of its own (fake), whose choice the caller records.
    pub async fn boot_device(&self, n: &Node) -> Result<Option<(Option<BootDevice>, bool)>, EngineError> {
        Ok(Hardware::for_node(n, &self.settings().hardware).boot_device().await?)
    }

    pub async fn supported_boot_devices(&self, n: &Node) -> Result<Vec<BootDevice>, EngineError> {
        Ok(Hardware::for_node(n, &self.settings().hardware).supported_boot_devices().await?)
    }

    /// Sets the next boot device on the BMC; `false` when the hardware
    /// keeps no state of its own (the caller records the choice).
    pub async fn set_boot_device(&self, n: &Node, device: BootDevice, persistent: bool) -> Result<bool, EngineError> {
        if let Some(h) = &n.reservation {
            return Err(EngineError::Locked { node: n.uuid.clone(), host: h.clone() });
        }
        Ok(Hardware::for_node(n, &self.settings().hardware).set_boot_device(device, persistent).await?)
    }

    /// Runs a job on the caller's runtime right away; without one (a
    /// blocking caller) it goes through the worker's queue.
    fn start(&self, uuid: String, job: Job) {
        if tokio::runtime::Handle::try_current().is_ok() {
            let engine = self.clone();
            tokio::spawn(async move { engine.drive(uuid, job).await });
        } else {
            let _ = self.inner.queue.send((uuid, job));
        }
    }

    fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// Runs one node's queued work to a resting point.
    async fn drive(&self, uuid: String, job: Job) {
        let r = match job {
            Job::Provision => self.drive_provision(&uuid).await,
            Job::Power => self.drive_power(&uuid).await,
        };
        if let Err(e) = r {
            tracing::warn!(node = %uuid, error = %e, "engine work interrupted; it resumes at the next start");
        }
    }

    async fn read(&self, uuid: &str) -> Result<Node, StorageError> {
        let id = uuid.to_string();
        self.inner.storage.read(move |c| bm::node(c, &id)).await
    }

    async fn drive_provision(&self, uuid: &str) -> Result<(), StorageError> {
        loop {
            // Steps whose hardware answers at once are applied in the same
            // transaction that reads the node: one database round trip.
            let host = self.host().to_string();
            let id = uuid.to_string();
            let hw = self.settings().hardware.clone();
            let disks = self.settings().disks.clone();
            let (moves, pending) = self
                .inner
                .storage
                .write(move |c| {
                    let n = bm::node(c, &id)?;
                    let (moves, n) = Self::run_immediate(c, n, &host, &hw, Some(&disks))?;
                    let state = state_of(&n);
                    if n.reservation.as_deref() != Some(host.as_str()) {
                        return Ok((moves, None));
                    }
                    if !state.is_engine_work() {
                        bm::node_release(c, &id, &host)?;
                        return Ok((moves, None));
                    }
                    Ok((moves, Some((state, n))))
                })
                .await?;
            self.emit_moves(moves);
            let Some((state, n)) = pending else { return Ok(()) };
            let (outcome, record) = match disk_work(&self.settings().disks, state, &n) {
                Some(work) => match self.do_disk_work(&n, work).await {
                    Ok(record) => (Ok(StepDone::default()), record),
                    Err(e) => (Err(e), None),
                },
                None => {
                    let mut hw = Hardware::for_node(&n, &self.settings().hardware);
                    (hw.provision_step(state, &n).await, None)
                }
            };
            let (event, error, done) = Self::outcome_event(state, &n, outcome);
            if !self.finish_step(uuid, state, event, error, Work { disk: record, done }).await? {
                return Ok(());
            }
        }
    }

    /// Applies, in the caller's transaction, every step of a node held by
    /// `host` whose hardware answers at once; returns the moves made and
    /// the node as it now stands.
    fn run_immediate(
        c: &mut DbConn,
        mut n: Node,
        host: &str,
        hw: &HardwareSettings,
        disks: Option<&Disks>,
    ) -> Result<(Vec<Move>, Node), StorageError> {
        let mut moves = Vec::new();
        loop {
            let state = state_of(&n);
            if n.reservation.as_deref() != Some(host) || !state.is_engine_work() {
                return Ok((moves, n));
            }
            if disks.is_some_and(|d| disk_work(d, state, &n).is_some()) {
                return Ok((moves, n));
            }
            let Some(outcome) = Hardware::for_node(&n, hw).immediate_step(state) else { return Ok((moves, n)) };
            let (event, error, done) = Self::outcome_event(state, &n, outcome);
            let uuid = n.uuid.clone();
            let prior_target = n.target_provision_state.clone();
            let work = Work { disk: None, done };
            match Self::apply_outcome(c, n, state, event, error, host, work)? {
                Some(Applied { node: after, event, error, .. }) => {
                    moves.push(Move { from: state, event, prior_target, error, node: after.clone() });
                    n = after;
                }
                None => return Ok((moves, bm::node(c, &uuid)?)),
            }
        }
    }

    fn emit_moves(&self, moves: Vec<Move>) {
        for m in moves {
            self.emit(m.event());
        }
    }

    fn outcome_event(state: S, n: &Node, outcome: Result<StepDone, StepError>) -> (Fsm, Option<String>, StepDone) {
        match outcome {
            Ok(done) if done.wait => (Fsm::Wait, None, done),
            Ok(done) => (Self::success_event(state, n), None, done),
            Err(StepError(msg)) => (Fsm::Fail, Some(msg), StepDone::default()),
        }
    }

    /// The event that ends a state's work successfully.
    fn success_event(state: S, n: &Node) -> Fsm {
        match state {
            S::Deleting => Fsm::Clean,
            S::Cleaning if n.target_provision_state.as_deref() == Some(S::Manageable.as_str()) => Fsm::Manage,
            _ => Fsm::Done,
        }
    }

    /// Applies a step's outcome to a node in `state` held by `host`, in the
    /// caller's transaction. Returns what was applied (an inspection's
    /// rules may turn a success into a failure), or `None` when the node
    /// went elsewhere meanwhile.
    fn apply_outcome(
        c: &mut DbConn,
        mut n: Node,
        state: S,
        mut event: Fsm,
        mut error: Option<String>,
        host: &str,
        work: Work,
    ) -> Result<Option<Applied>, StorageError> {
        let Work { disk: record, done } = work;
        if state_of(&n) != state || n.reservation.as_deref() != Some(host) {
            return Ok(None);
        }
        let mut enrolled = Vec::new();
        if let (Some(inv), None) = (&done.inventory, &error) {
            let document = inv.to_json();
            match inspection::apply(c, &mut n, inv, (&document, &serde_json::json!({})), host)? {
                Ok(ports) => enrolled = ports,
                Err(why) => {
                    event = Fsm::Fail;
                    error = Some(format!("Failed to inspect hardware. Reason: {why}"));
                }
            }
        }
        let Some(next) = states::transition(state, event) else { return Ok(None) };
        n.provision_state = next.as_str().into();
        n.target_provision_state = next_target(n.target_provision_state.as_deref(), next);
        n.provision_updated_at = Some(now());
        n.updated_at = Some(now());
        match state {
            S::Deleting => {
                n.instance_uuid = None;
                n.instance_info = "{}".into();
                n.instance_name = None;
                // The allocation that placed the instance ends with it.
                n.allocation_uuid = None;
                crate::storage::allocations::allocations_delete_of_node(c, &n.uuid)?;
            }
            S::Inspecting => n.inspection_finished_at = Some(now()),
            _ => {}
        }
        if let (None, Some(p)) = (&error, done.power) {
            // What the BMC reported.
            n.power_state = Some(p.as_str().into());
        } else if error.is_none() {
            // The power state the hardware is left in: verification reads it
            // (a fake BMC starts powered off), a deploy ends by booting the
            // instance, a teardown or cleaning by powering off.
            match state {
                S::Verifying if n.power_state.is_none() => n.power_state = Some(PowerState::Off.as_str().into()),
                S::Deploying => n.power_state = Some(PowerState::On.as_str().into()),
                S::Deleting | S::Cleaning => n.power_state = Some(PowerState::Off.as_str().into()),
                _ => {}
            }
        }
        if let Some(e) = &error {
            n.last_error = Some(e.clone());
        }
        if !next.is_engine_work() {
            n.reservation = None;
        }
        if matches!(state, S::Deploying) && event != Fsm::Wait {
            // The drive holds the tenant's user data and keys: it is on the
            // disk now, or the deploy failed; either way it is not kept here.
            // (While the agent is awaited it still has to be written.)
            let mut internal: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(&n.driver_internal_info).unwrap_or_default();
            let had = internal.remove("configdrive").is_some();
            if internal.remove("deploy_phase").is_some() || had {
                n.driver_internal_info = serde_json::Value::Object(internal).to_string();
            }
        }
        if let Some(DiskRecord { key, value, note }) = record {
            let mut internal: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(&n.driver_internal_info).unwrap_or_default();
            internal.insert(key.into(), value);
            n.driver_internal_info = serde_json::Value::Object(internal).to_string();
            bm::history_insert(c, &Self::history(&n, host, &Actor::default(), "INFO", note, "provisioning"))?;
        }
        let (severity, note) = match &error {
            Some(e) => ("ERROR", e.clone()),
            None => ("INFO", format!("Provision state changed from {state} to {next}")),
        };
        bm::history_insert(c, &Self::history(&n, host, &Actor::default(), severity, note, "provisioning"))?;
        Ok(Some(Applied { node: bm::node_update(c, &n)?, enrolled, event, error }))
    }

    /// Applies the outcome of a step; false when the node went elsewhere.
    async fn finish_step(
        &self,
        uuid: &str,
        state: S,
        event: Fsm,
        error: Option<String>,
        work: Work,
    ) -> Result<bool, StorageError> {
        let host = self.host().to_string();
        let id = uuid.to_string();
        let moved = self
            .inner
            .storage
            .write(move |c| {
                let n = bm::node(c, &id)?;
                let prior_target = n.target_provision_state.clone();
                Ok(Self::apply_outcome(c, n, state, event, error, &host, work)?.map(|after| (prior_target, after)))
            })
            .await?;
        let Some((prior_target, Applied { node, enrolled, event, error })) = moved else { return Ok(false) };
        let more = state_of(&node).is_engine_work();
        for port in enrolled {
            self.emit(Event::port(Some(&node), EventKind::PortCreated { port: Arc::new(port) }));
        }
        self.emit(Move { from: state, event, prior_target, error, node }.event());
        Ok(more)
    }

    async fn drive_power(&self, uuid: &str) -> Result<(), StorageError> {
        let n = self.read(uuid).await?;
        if n.reservation.as_deref() != Some(self.host()) {
            return Ok(());
        }
        let Some(target) = n.target_power_state.as_deref().and_then(|t| t.parse::<PowerState>().ok()) else {
            self.release(uuid).await?;
            return Ok(());
        };
        let mut hw = Hardware::for_node(&n, &self.settings().hardware);
        let err = hw.set_power(target).await.err().map(|StepError(m)| m);
        let host = self.host().to_string();
        let id = uuid.to_string();
        let done = self
            .inner
            .storage
            .write(move |c| {
                let n = bm::node(c, &id)?;
                Self::apply_power(c, n, target, err, &host)
            })
            .await?;
        self.emit(done);
        Ok(())
    }

    /// Records the end of a power action in the caller's transaction;
    /// returns its event.
    fn apply_power(
        c: &mut DbConn,
        mut n: Node,
        target: PowerState,
        error: Option<String>,
        host: &str,
    ) -> Result<Event, StorageError> {
        let from = n.power_state.clone();
        match &error {
            None => {
                n.power_state = Some(target.resting().as_str().into());
                n.fault = None;
            }
            Some(e) => n.last_error = Some(e.clone()),
        }
        n.target_power_state = None;
        if !state_of(&n).is_engine_work() {
            n.reservation = None;
        }
        n.updated_at = Some(now());
        let note = match &error {
            Some(e) => e.clone(),
            None => format!("Power state changed to {}", target.resting()),
        };
        let sev = if error.is_some() { "ERROR" } else { "INFO" };
        bm::history_insert(c, &Self::history(&n, host, &Actor::default(), sev, note, "power"))?;
        let n = bm::node_update(c, &n)?;
        let to = n.power_state.clone();
        Ok(Event::of(&n, EventKind::Power { requested: target, from, to, error }))
    }

    async fn release(&self, uuid: &str) -> Result<(), StorageError> {
        let host = self.host().to_string();
        let id = uuid.to_string();
        self.inner.storage.write(move |c| bm::node_release(c, &id, &host)).await
    }

    /// Takes over the work of conductors silent for longer than `timeout`:
    /// their nodes become this process's and their transitions go on from
    /// the state they were left in. Returns how many nodes were taken.
    pub async fn take_over_dead(&self, timeout: std::time::Duration) -> Result<usize, StorageError> {
        let me = self.host().to_string();
        let dead_before = now() - chrono::Duration::from_std(timeout).unwrap_or(chrono::Duration::seconds(60));
        let taken = self.inner.storage.write(move |c| bm::take_over_from_dead(c, &me, dead_before)).await?;
        for n in &taken {
            let job = if n.target_power_state.is_some() { Job::Power } else { Job::Provision };
            tracing::warn!(node = %n.uuid, state = %n.provision_state, "taking over the work of a dead conductor");
            let _ = self.inner.queue.send((n.uuid.clone(), job));
        }
        Ok(taken.len())
    }

    /// Finds the work a previous run of this process left unfinished.
    pub fn resume_interrupted(&self) -> anyhow::Result<usize> {
        let host = self.host().to_string();
        let nodes = self.inner.storage.read_blocking(|c| bm::nodes_reserved_by(c, &host))?;
        let mut resumed = 0;
        for n in nodes {
            let job = if n.target_power_state.is_some() { Job::Power } else { Job::Provision };
            tracing::info!(node = %n.uuid, state = %n.provision_state, "resuming interrupted work");
            let _ = self.inner.queue.send((n.uuid, job));
            resumed += 1;
        }
        Ok(resumed)
    }
}

impl Worker {
    /// Runs queued work until every sender is gone.
    pub async fn run(mut self) {
        while let Some((uuid, job)) = self.rx.recv().await {
            let engine = self.engine.clone();
            tokio::spawn(async move { engine.drive(uuid, job).await });
        }
    }
}

impl PowerState {
    /// The state a node rests in once this request is done.
    pub fn resting(self) -> PowerState {
        match self {
            PowerState::Rebooting | PowerState::SoftRebooting | PowerState::On => PowerState::On,
            PowerState::Off | PowerState::SoftOff => PowerState::Off,
        }
    }
}

/// What a fake node's disk needs done in a step.
#[derive(Debug, Clone, Copy)]
enum DiskWork {
    /// Write the instance image and config drive.
    Deploy,
    /// Erase what a deploy wrote.
    Erase,
}

/// A step's outcome as stored: the node, the ports an inspection enrolled,
/// and the event and error that moved it.
struct Applied {
    node: Node,
    enrolled: Vec<Port>,
    event: Fsm,
    error: Option<String>,
}

/// What a step did besides moving the node: disk work, and what the
/// hardware reported.
struct Work {
    disk: Option<DiskRecord>,
    done: StepDone,
}

/// A step's record of disk work: stored in `driver_internal_info[key]`
/// and noted in the node's history.
struct DiskRecord {
    key: &'static str,
    value: serde_json::Value,
    note: String,
}

fn json_map(text: &str) -> serde_json::Map<String, serde_json::Value> {
    serde_json::from_str(text).unwrap_or_default()
}

/// The disk work, if any, of a fake-hardware node's step in `state`.
fn disk_work(disks: &Disks, state: S, n: &Node) -> Option<DiskWork> {
    if n.driver != "fake-hardware" {
        return None;
    }
    match state {
        S::Deploying => {
            let wants = json_map(&n.instance_info).contains_key("image_source")
                || json_map(&n.driver_internal_info).contains_key("configdrive");
            wants.then_some(DiskWork::Deploy)
        }
        S::Cleaning => disks.has_data(&n.uuid).then_some(DiskWork::Erase),
        _ => None,
    }
}

impl Engine {
    /// Does a fake node's disk work off the async executor.
    async fn do_disk_work(&self, n: &Node, work: DiskWork) -> Result<Option<DiskRecord>, StepError> {
        let disks = self.settings().disks.clone();
        let node = n.uuid.clone();
        let joined = |e: tokio::task::JoinError| StepError(format!("disk work stopped: {e}"));
        match work {
            DiskWork::Erase => {
                let erased = tokio::task::spawn_blocking(move || disks.erase(&node)).await.map_err(joined)??;
                Ok(erased.map(|mut value| {
                    value["erased_at"] = serde_json::json!(now().and_utc().to_rfc3339());
                    let note = format!(
                        "Disk erased ({} mode): {} of {} bytes zeroed",
                        value["mode"].as_str().unwrap_or_default(),
                        value["bytes_zeroed"].as_u64().unwrap_or(0),
                        value["disk_bytes"].as_u64().unwrap_or(0)
                    );
                    DiskRecord { key: "disk_erase", value, note }
                }))
            }
            DiskWork::Deploy => {
                let image = self.image_to_deploy(n).await?;
                let drive = match json_map(&n.driver_internal_info).get("configdrive") {
                    // A drive given by URL is not fetched by fake hardware.
                    None | Some(serde_json::Value::Null) => None,
                    Some(serde_json::Value::String(u)) if u.starts_with("http://") || u.starts_with("https://") => None,
                    Some(v) => Some(configdrive::image_of(v).map_err(|e| StepError(e.to_string()))?),
                };
                let store = self.inner.settings.images.clone();
                let mut value = tokio::task::spawn_blocking(move || {
                    let image = match (image, store) {
                        (Some((id, fmt, sha)), Some(store)) => {
                            let data = open_verified(store.as_ref(), &id, &sha).map_err(|e| {
                                StepError(format!("Image {id} cannot be read from the image store: {e}"))
                            })?;
                            Some(ImageToWrite { id, disk_format: fmt, data: Box::new(data) })
                        }
                        (Some((id, ..)), None) => {
                            return Err(StepError(format!("Image {id} cannot be read: no image store")));
                        }
                        (None, _) => None,
                    };
                    disks.write(&node, image, drive.as_deref())
                })
                .await
                .map_err(joined)??;
                value["written_at"] = serde_json::json!(now().and_utc().to_rfc3339());
                let note = match value.get("image") {
                    Some(i) => format!(
                        "Image {} ({}) written to disk: {} bytes",
                        i["id"].as_str().unwrap_or_default(),
                        i["disk_format"].as_str().unwrap_or_default(),
                        i["bytes"].as_u64().unwrap_or(0)
                    ),
                    None => "Config drive written; no image from the image service to write".to_string(),
                };
                Ok(Some(DiskRecord { key: "fake_disk", value, note }))
            }
        }
    }

    /// `(id, disk_format, sha512)` of the image service's image named by
    /// `instance_info.image_source`; `None` for a source elsewhere (a URL).
    async fn image_to_deploy(&self, n: &Node) -> Result<Option<(String, String, String)>, StepError> {
        let Some(source) = json_map(&n.instance_info).get("image_source").and_then(|v| v.as_str()).map(str::to_string)
        else {
            return Ok(None);
        };
        let id = source.strip_prefix("glance://").unwrap_or(&source).to_string();
        if uuid::Uuid::parse_str(&id).is_err() {
            return Ok(None);
        }
        let lookup = id.clone();
        let img = self
            .inner
            .storage
            .read(move |c| crate::storage::images::image(c, &lookup))
            .await
            .map_err(|_| StepError(format!("Image {id} could not be found in the image service.")))?;
        if img.status != "active" {
            return Err(StepError(format!("Image {id} is {} and cannot be deployed.", img.status)));
        }
        match (img.os_hash_algo.as_deref(), img.os_hash_value) {
            (Some("sha512"), Some(sha)) => Ok(Some((id, img.disk_format.unwrap_or_else(|| "raw".into()), sha))),
            _ => Err(StepError(format!("Image {id} has no SHA-512 to verify it against."))),
        }
    }
}
