//! Instances: the compute service's side of a bare-metal deploy. A server
//! is stored by the compute API; from there the engine schedules it (claims
//! a matching `available` node in one transaction), creates and binds its
//! network ports, builds its config drive and deploys the node through the
//! same provision path as `openstack baremetal node deploy`. The server's
//! state follows its node's ([`Engine::sync_node`]): deploying → BUILD,
//! active → ACTIVE, deploy failed → ERROR. Delete unplugs the ports and
//! undeploys; the row goes once the node has left `active` for cleaning.

use std::collections::BTreeMap;
use std::time::Duration;

use rand::seq::SliceRandom;
use serde_json::{Map, Value, json};

use super::events::{ServerChange, ServerStep};
use super::ipam::{FixedIp, allocate, random_mac};
use super::states::{PowerState, ProvisionState as S, Verb};
use super::vifs::{self, uses_network_service};
use super::{Actor, Engine, EngineError, Event, EventKind, now};
use crate::reporters::contrail::push::PortSync;
use crate::storage::baremetal::{self as bm, Node};
use crate::storage::network::{self as net, Port};
use crate::storage::servers::{self as db, Server};
use crate::storage::{DbConn, StorageError, StorageResult};

/// The fault Nova reports when no node fits.
pub const NO_VALID_HOST: &str = "No valid host was found. There are not enough hosts available.";

/// What a flavor asks of a node (from its `resources:` and `trait:` specs).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Placement {
    /// `CUSTOM_<CLASS>` the flavor asks one of.
    pub resource_class: Option<String>,
    pub required: Vec<String>,
    pub forbidden: Vec<String>,
}

/// A node's resource class as a placement resource name:
/// `baremetal-gold` → `CUSTOM_BAREMETAL_GOLD`.
pub fn normalize_resource_class(rc: &str) -> String {
    let up: String = rc.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect();
    if up.starts_with("CUSTOM_") { up } else { format!("CUSTOM_{up}") }
}

impl Placement {
    pub fn of(extra_specs: &Map<String, Value>) -> Placement {
        let mut p = Placement::default();
        for (k, v) in extra_specs {
            let v = v.as_str().unwrap_or_default();
            if let Some(rc) = k.strip_prefix("resources:") {
                if rc.starts_with("CUSTOM_") && v.trim().parse::<i64>().is_ok_and(|n| n > 0) {
                    p.resource_class = Some(rc.to_string());
                }
            } else if let Some(t) = k.strip_prefix("trait:") {
                match v {
                    "required" => p.required.push(t.to_string()),
                    "forbidden" => p.forbidden.push(t.to_string()),
                    _ => {}
                }
            }
        }
        p
    }

    pub fn fits(&self, n: &Node) -> bool {
        let Some(want) = &self.resource_class else { return false };
        let Some(rc) = n.resource_class.as_deref() else { return false };
        if normalize_resource_class(rc) != *want {
            return false;
        }
        let traits: Vec<String> = serde_json::from_str(&n.traits).unwrap_or_default();
        self.required.iter().all(|t| traits.contains(t)) && !self.forbidden.iter().any(|t| traits.contains(t))
    }
}

/// One network a server asked for, resolved by the compute API.
#[derive(Debug, Clone, PartialEq)]
pub enum NetworkRequest {
    /// A new port on this network, optionally with this address.
    Network { uuid: String, fixed_ip: Option<std::net::IpAddr> },
    /// An existing port.
    Port(String),
}

impl NetworkRequest {
    pub fn to_json(list: &[NetworkRequest]) -> String {
        let v: Vec<Value> = list
            .iter()
            .map(|r| match r {
                NetworkRequest::Network { uuid, fixed_ip } => {
                    json!({"network": uuid, "fixed_ip": fixed_ip.map(|i| i.to_string())})
                }
                NetworkRequest::Port(p) => json!({"port": p}),
            })
            .collect();
        Value::Array(v).to_string()
    }

    pub fn from_json(text: &str) -> Vec<NetworkRequest> {
        let v: Vec<Value> = serde_json::from_str(text).unwrap_or_default();
        v.iter()
            .filter_map(|r| {
                if let Some(p) = r["port"].as_str() {
                    return Some(NetworkRequest::Port(p.to_string()));
                }
                let uuid = r["network"].as_str()?.to_string();
                Some(NetworkRequest::Network { uuid, fixed_ip: r["fixed_ip"].as_str().and_then(|s| s.parse().ok()) })
            })
            .collect()
    }
}

/// A port a server uses, and whether the build created it (and so deletes it).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ServerPort {
    pub port: String,
    pub created: bool,
}

pub fn ports_of(s: &Server) -> Vec<ServerPort> {
    serde_json::from_str(&s.ports).unwrap_or_default()
}

fn json_obj(text: &str) -> Map<String, Value> {
    serde_json::from_str(text).unwrap_or_default()
}

fn fault(code: u16, message: &str) -> String {
    json!({"code": code, "message": message, "created": now().format("%Y-%m-%dT%H:%M:%SZ").to_string()}).to_string()
}

/// The outcome of one scheduling attempt.
enum Claim {
    Node(Box<Node>),
    NoHost,
    /// The server is gone, placed already, or no longer building.
    Nothing,
}

/// A server event for the reporters, with the node when there is one.
fn server_event(c: &mut DbConn, s: &Server, step: ServerStep, error: Option<String>) -> Event {
    let node = s.node_uuid.as_deref().and_then(|n| bm::node(c, n).ok());
    let change = ServerChange { server_uuid: s.uuid.clone(), project_id: s.project_id.clone(), step, error };
    Event::server(node.as_ref(), change)
}

/// The fault message stored in a server's `fault` JSON.
fn fault_message(s: &Server) -> Option<String> {
    let f: Value = serde_json::from_str(s.fault.as_deref()?).ok()?;
    f.get("message").and_then(Value::as_str).map(str::to_string)
}

/// What [`reconcile`] found to do outside the transaction.
enum Next {
    Nothing,
    Undeploy(String),
}

impl Engine {
    /// Starts building a stored server (in the background).
    pub fn build_server(&self, uuid: &str, actor: Actor) {
        let engine = self.clone();
        let uuid = uuid.to_string();
        tokio::spawn(async move {
            let id = uuid.clone();
            let started = engine
                .inner
                .storage
                .read(move |c| Ok(db::server(c, &id).ok().map(|s| server_event(c, &s, ServerStep::CreateStart, None))))
                .await;
            if let Ok(Some(ev)) = started {
                engine.emit(ev);
            }
            if let Err(e) = engine.build(&uuid, actor).await {
                tracing::warn!(server = %uuid, error = %e, "server build interrupted; it resumes at the next start");
            }
        });
    }

    async fn build(&self, uuid: &str, actor: Actor) -> Result<(), StorageError> {
        // Parallel builds race for the same nodes: a lost race retries.
        let mut conflicts = 0;
        let claim = loop {
            let id = uuid.to_string();
            match self.inner.storage.write(move |c| claim(c, &id)).await {
                Err(StorageError::Conflict(_)) if conflicts < 200 => {
                    conflicts += 1;
                    tokio::time::sleep(Duration::from_millis(2 + rand::random::<u64>() % 20)).await;
                }
                other => break other?,
            }
        };
        let node = match claim {
            Claim::Nothing => return Ok(()),
            Claim::NoHost => return self.fail_build(uuid, 500, NO_VALID_HOST, false).await,
            Claim::Node(n) => n,
        };
        let (id, node_uuid, push) = (uuid.to_string(), node.uuid.clone(), self.inner.settings.contrail_push);
        let plugged = self.inner.storage.write(move |c| plug(c, &id, &node_uuid, push)).await;
        let network_data = match plugged {
            Ok(nd) => nd,
            Err(StorageError::Refused { message, .. }) => {
                let msg = format!("Build of instance {uuid} aborted: {message}");
                return self.fail_build(uuid, 500, &msg, true).await;
            }
            Err(e) => return Err(e),
        };
        let id = uuid.to_string();
        let server = self.inner.storage.read(move |c| db::server(c, &id)).await?;
        if server.task_state.as_deref() == Some("deleting") {
            return self.advance_delete(uuid).await;
        }
        let drive = config_drive(&server, network_data);
        let mut extras = Map::new();
        extras.insert("configdrive".into(), drive);
        match self.provision_with(&node.uuid, Verb::Active, actor, extras).await {
            Ok(()) => self.sync_node(&node.uuid).await,
            Err(EngineError::Storage(e)) => Err(e),
            Err(e) => {
                let msg = format!("Build of instance {uuid} aborted: {e}");
                self.fail_build(uuid, 500, &msg, true).await
            }
        }
    }

    /// Puts a server in ERROR with a fault; with `release`, its ports are
    /// unplugged and its node given back.
    async fn fail_build(&self, uuid: &str, code: u16, message: &str, release: bool) -> Result<(), StorageError> {
        let (id, msg, push) = (uuid.to_string(), message.to_string(), self.inner.settings.contrail_push);
        let failed = self
            .inner
            .storage
            .write(move |c| {
                let mut s = match db::server(c, &id) {
                    Ok(s) => s,
                    Err(StorageError::NotFound { .. }) => return Ok(None),
                    Err(e) => return Err(e),
                };
                let ev = server_event(c, &s, ServerStep::CreateError, Some(msg.clone()));
                if release {
                    unplug(c, &mut s, push)?;
                    if let Some(n) = s.node_uuid.take() {
                        release_node(c, &n, &s.uuid)?;
                    }
                }
                s.vm_state = "error".into();
                s.power_state = 0;
                s.fault = Some(fault(code, &msg));
                if s.task_state.as_deref() != Some("deleting") {
                    s.task_state = None;
                }
                s.updated_at = Some(now());
                db::server_update(c, &s)?;
                Ok(Some(ev))
            })
            .await?;
        if let Some(ev) = failed {
            self.emit(ev);
        }
        tracing::info!(server = %uuid, fault = %message, "server build failed");
        self.advance_delete(uuid).await
    }

    /// Brings the server on `node` up to date with the node; starts an
    /// undeploy when the server is being deleted and the node allows it.
    pub async fn sync_node(&self, node: &str) -> Result<(), StorageError> {
        let id = node.to_string();
        let push = self.inner.settings.contrail_push;
        let (next, events) = self
            .inner
            .storage
            .write(move |c| {
                let mut events = Vec::new();
                let next = match db::server_of_node(c, &id)? {
                    Some(s) => reconcile(c, s, push, &mut events)?,
                    None => Next::Nothing,
                };
                Ok((next, events))
            })
            .await?;
        events.into_iter().for_each(|e| self.emit(e));
        self.follow(next).await
    }

    async fn follow(&self, next: Next) -> Result<(), StorageError> {
        match next {
            Next::Nothing => Ok(()),
            Next::Undeploy(node) => match self.provision(&node, Verb::Deleted, Actor::default()).await {
                Ok(()) => Box::pin(self.sync_node(&node)).await,
                // Busy (or already tearing down): the node's next event brings us back.
                Err(EngineError::Storage(e)) => Err(e),
                Err(e) => {
                    tracing::debug!(node = %node, error = %e, "undeploy deferred");
                    Ok(())
                }
            },
        }
    }

    /// Deletes a server: ports unplugged now, node undeployed as soon as
    /// it can be; the row goes once the node is torn down.
    pub async fn delete_server(&self, uuid: &str) -> Result<(), StorageError> {
        let (id, push) = (uuid.to_string(), self.inner.settings.contrail_push);
        let started = self
            .inner
            .storage
            .write(move |c| {
                let mut s = db::server(c, &id)?;
                let first = s.task_state.as_deref() != Some("deleting");
                s.task_state = Some("deleting".into());
                s.updated_at = Some(now());
                // Ports of a server still being placed are unplugged when the build sees the flag.
                if s.node_uuid.is_some() {
                    unplug(c, &mut s, push)?;
                }
                db::server_update(c, &s)?;
                Ok(first.then(|| server_event(c, &s, ServerStep::DeleteStart, None)))
            })
            .await?;
        if let Some(ev) = started {
            self.emit(ev);
        }
        self.advance_delete(uuid).await
    }

    async fn advance_delete(&self, uuid: &str) -> Result<(), StorageError> {
        let (id, push) = (uuid.to_string(), self.inner.settings.contrail_push);
        let (next, events) = self
            .inner
            .storage
            .write(move |c| {
                let mut events = Vec::new();
                let next = match db::server(c, &id) {
                    Ok(s) => reconcile(c, s, push, &mut events)?,
                    Err(StorageError::NotFound { .. }) => Next::Nothing,
                    Err(e) => return Err(e),
                };
                Ok((next, events))
            })
            .await?;
        events.into_iter().for_each(|e| self.emit(e));
        self.follow(next).await
    }

    /// Power actions on a server's node (`os-start`, `os-stop`, `reboot`).
    pub async fn server_power(&self, node: &str, target: PowerState, actor: Actor) -> Result<(), EngineError> {
        self.set_power(node, target, actor).await?;
        self.sync_node(node).await.map_err(EngineError::Storage)
    }

    /// Redeploys a server's node with a new image (`rebuild`).
    pub async fn rebuild_server(&self, uuid: &str, actor: Actor) -> Result<(), EngineError> {
        let id = uuid.to_string();
        let s = self.inner.storage.read(move |c| db::server(c, &id)).await?;
        let Some(node) = s.node_uuid.clone() else {
            return Err(EngineError::Conflict(format!("Instance {uuid} has no node to rebuild.")));
        };
        let drive = config_drive(&s, Value::Null);
        let mut extras = Map::new();
        extras.insert("configdrive".into(), drive);
        self.provision_with(&node, Verb::Rebuild, actor, extras).await?;
        self.sync_node(&node).await.map_err(EngineError::Storage)
    }

    /// Follows node events to keep servers in step, and sweeps unsettled
    /// servers at start and every few seconds (events can be missed).
    pub async fn run_instances(self) {
        let mut events = self.subscribe();
        self.sweep(true).await;
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tokio::select! {
                ev = events.recv() => match ev {
                    Ok(ev) => {
                        if matches!(ev.kind, EventKind::Provision { .. } | EventKind::Power { .. })
                            && let Err(e) = self.sync_node(&ev.node_uuid).await
                        {
                            tracing::warn!(node = %ev.node_uuid, error = %e, "server state not updated");
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => self.sweep(false).await,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                },
                _ = tick.tick() => self.sweep(false).await,
            }
        }
    }

    async fn sweep(&self, at_start: bool) {
        let list = match self.inner.storage.read(db::servers_unsettled).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list unsettled servers");
                return;
            }
        };
        for s in list {
            let r = match (&s.node_uuid, s.vm_state.as_str()) {
                // Interrupted before a node was claimed: schedule again.
                (None, "building") if at_start && s.task_state.as_deref() != Some("deleting") => {
                    Box::pin(self.build(&s.uuid, Actor::default())).await
                }
                _ => self.advance_delete(&s.uuid).await,
            };
            if let Err(e) = r {
                tracing::warn!(server = %s.uuid, error = %e, "server not settled");
            }
        }
    }
}

/// Attaches one more port to a placed server (`os-interface`): an existing
/// port, or a new one on a network; returns the port id. `Refused` when the
/// node has no free physical port or the address cannot be given.
pub fn attach_interface(c: &mut DbConn, uuid: &str, req: &NetworkRequest, push: bool) -> StorageResult<String> {
    let mut s = db::server(c, uuid)?;
    let Some(node_uuid) = s.node_uuid.clone() else {
        return Err(StorageError::refused("InstanceInvalidState", format!("Instance {uuid} has no node.")));
    };
    let node = bm::node(c, &node_uuid)?;
    let az = s.availability_zone.clone().unwrap_or_else(|| "nova".into());
    let mut ports = ports_of(&s);
    let port = match req {
        NetworkRequest::Port(id) => {
            take_port(c, &s, id, &az, push)?;
            ports.push(ServerPort { port: id.clone(), created: false });
            id.clone()
        }
        NetworkRequest::Network { uuid: network, fixed_ip } => {
            let p = create_port(c, &s, network, *fixed_ip, &az, push)?;
            ports.push(ServerPort { port: p.clone(), created: true });
            p
        }
    };
    if let Err(e) = vifs::attach(c, &node_uuid, &port, None, None, uses_network_service(&node), push)? {
        return Err(StorageError::refused(
            "InterfaceAttachFailed",
            format!("Failed to attach network adapter device to {uuid}: {e}"),
        ));
    }
    s.ports = serde_json::to_string(&ports).unwrap_or_else(|_| "[]".into());
    s.updated_at = Some(now());
    db::server_update(c, &s)?;
    Ok(port)
}

/// Detaches one port from a server (`os-interface` delete): the VIF comes
/// off the node; a port the server created is deleted, a given one released.
pub fn detach_interface(c: &mut DbConn, uuid: &str, port: &str, push: bool) -> StorageResult<()> {
    let mut s = db::server(c, uuid)?;
    let mut ports = ports_of(&s);
    let Some(i) = ports.iter().position(|p| p.port == port) else {
        return Err(StorageError::not_found("interface", port));
    };
    let one = ports.remove(i);
    let mut only = s.clone();
    only.ports = serde_json::to_string(&[one]).unwrap_or_else(|_| "[]".into());
    unplug(c, &mut only, push)?;
    s.ports = serde_json::to_string(&ports).unwrap_or_else(|_| "[]".into());
    s.updated_at = Some(now());
    db::server_update(c, &s)
}

/// Claims a node for a building server, in one transaction.
/// Whether the server's group lets it be placed. Every node sits behind the
/// one compute host, so (as in Nova with a single Ironic compute service)
/// affinity always holds and hard anti-affinity admits only
/// `max_server_per_host` (default 1) placed members; soft policies never refuse.
fn group_admits(c: &mut DbConn, server_uuid: &str) -> StorageResult<bool> {
    use crate::storage::server_groups as groups;
    let Some(gid) = groups::group_of(c, server_uuid)? else { return Ok(true) };
    let g = groups::group(c, &gid)?;
    if g.policy != "anti-affinity" {
        return Ok(true);
    }
    let max = serde_json::from_str::<Value>(&g.rules).ok().and_then(|r| r["max_server_per_host"].as_i64()).unwrap_or(1);
    let mut placed = 0;
    for m in groups::members(c, &gid)? {
        if m != server_uuid && db::server(c, &m).is_ok_and(|o| o.node_uuid.is_some()) {
            placed += 1;
        }
    }
    Ok(placed < max)
}

fn claim(c: &mut DbConn, uuid: &str) -> StorageResult<Claim> {
    let mut s = match db::server(c, uuid) {
        Ok(s) => s,
        Err(StorageError::NotFound { .. }) => return Ok(Claim::Nothing),
        Err(e) => return Err(e),
    };
    if s.vm_state != "building" || s.node_uuid.is_some() || s.task_state.as_deref() == Some("deleting") {
        return Ok(Claim::Nothing);
    }
    if !group_admits(c, &s.uuid)? {
        return Ok(Claim::NoHost);
    }
    let flavor: Value = serde_json::from_str(&s.flavor).unwrap_or_default();
    let specs = flavor["extra_specs"].as_object().cloned().unwrap_or_default();
    let want = Placement::of(&specs);
    let mut nodes: Vec<Node> = db::schedulable_nodes(c)?.into_iter().filter(|n| want.fits(n)).collect();
    if nodes.is_empty() {
        return Ok(Claim::NoHost);
    }
    // Parallel builds try nodes in different orders.
    nodes.shuffle(&mut rand::thread_rng());
    let mut n = nodes.swap_remove(0);
    n.instance_uuid = Some(s.uuid.clone());
    n.instance_name = Some(s.name.clone());
    let mut info = json_obj(&n.instance_info);
    info.insert("display_name".into(), json!(s.name));
    info.insert("project_id".into(), json!(s.project_id));
    info.insert("vcpus".into(), flavor["vcpus"].clone());
    info.insert("memory_mb".into(), flavor["ram"].clone());
    info.insert("root_gb".into(), json!(flavor["disk"].as_i64().unwrap_or(0).to_string()));
    info.insert("local_gb".into(), flavor["disk"].clone());
    info.insert("ephemeral_gb".into(), flavor["ephemeral"].clone());
    info.insert("swap_mb".into(), flavor["swap"].clone());
    if let Some(img) = &s.image_uuid {
        info.insert("image_source".into(), json!(img));
        // What the deploy verifies the image against, as Nova passes it to Ironic.
        if let Ok(i) = crate::storage::images::image(c, img) {
            info.insert("image_checksum".into(), json!(i.checksum));
            info.insert("image_os_hash_algo".into(), json!(i.os_hash_algo));
            info.insert("image_os_hash_value".into(), json!(i.os_hash_value));
            info.insert("image_disk_format".into(), json!(i.disk_format));
        }
    }
    if !want.required.is_empty() {
        info.insert("traits".into(), json!(want.required));
    }
    n.instance_info = Value::Object(info).to_string();
    n.updated_at = Some(now());
    // A concurrent claim of this node fails the update: the attempt is retried.
    let n = bm::node_update(c, &n)?;
    s.node_uuid = Some(n.uuid.clone());
    s.task_state = Some("networking".into());
    s.updated_at = Some(now());
    db::server_update(c, &s)?;
    Ok(Claim::Node(Box::new(n)))
}

/// Gives a node back after a failed build.
fn release_node(c: &mut DbConn, node: &str, server: &str) -> StorageResult<()> {
    let mut n = match bm::node(c, node) {
        Ok(n) => n,
        Err(StorageError::NotFound { .. }) => return Ok(()),
        Err(e) => return Err(e),
    };
    if n.instance_uuid.as_deref() == Some(server) && n.provision_state == S::Available.as_str() {
        n.instance_uuid = None;
        n.instance_name = None;
        n.instance_info = "{}".into();
        n.updated_at = Some(now());
        bm::node_update(c, &n)?;
    }
    Ok(())
}

/// Creates (or takes) the server's ports and attaches them to the node as
/// VIFs, in one transaction; returns the config drive's `network_data`.
/// A failure refuses the whole unit of work (`StorageError::Refused`).
fn plug(c: &mut DbConn, uuid: &str, node_uuid: &str, push: bool) -> StorageResult<Value> {
    let mut s = db::server(c, uuid)?;
    if s.task_state.as_deref() == Some("deleting") {
        return Ok(Value::Null);
    }
    let node = bm::node(c, node_uuid)?;
    let bind = uses_network_service(&node);
    let az = s.availability_zone.clone().unwrap_or_else(|| "nova".into());
    let mut ports = Vec::new();
    for req in NetworkRequest::from_json(&s.requested_networks) {
        let port = match req {
            NetworkRequest::Port(id) => {
                take_port(c, &s, &id, &az, push)?;
                ports.push(ServerPort { port: id.clone(), created: false });
                id
            }
            NetworkRequest::Network { uuid: network, fixed_ip } => {
                let p = create_port(c, &s, &network, fixed_ip, &az, push)?;
                ports.push(ServerPort { port: p.clone(), created: true });
                p
            }
        };
        if let Err(e) = vifs::attach(c, node_uuid, &port, None, None, bind, push)? {
            return Err(StorageError::refused("VifAttachFailed", e.to_string()));
        }
    }
    s.ports = serde_json::to_string(&ports).unwrap_or_else(|_| "[]".into());
    s.task_state = Some("spawning".into());
    s.updated_at = Some(now());
    db::server_update(c, &s)?;
    network_data(c, &ports)
}

/// Makes a given port the server's (`device_id`); refused when another
/// device holds it.
fn take_port(c: &mut DbConn, s: &Server, id: &str, az: &str, push: bool) -> StorageResult<()> {
    let sync = PortSync::begin(c, push, id)?;
    let mut p = net::port(c, id)?;
    if !p.device_id.is_empty() && p.device_id != s.uuid {
        return Err(StorageError::refused("PortInUse", format!("Port {id} is still in use.")));
    }
    p.device_id = s.uuid.clone();
    p.device_owner = format!("compute:{az}");
    p.revision_number += 1;
    p.updated_at = now();
    net::port_update(c, &p)?;
    sync.finish(c)
}

fn create_port(
    c: &mut DbConn,
    s: &Server,
    network: &str,
    fixed_ip: Option<std::net::IpAddr>,
    az: &str,
    push: bool,
) -> StorageResult<String> {
    let nw = net::network(c, network)?;
    let t = now();
    let mut p = Port {
        uuid: uuid::Uuid::new_v4().to_string(),
        name: String::new(),
        description: String::new(),
        network_uuid: nw.uuid.clone(),
        project_id: s.project_id.clone(),
        mac_address: random_mac(),
        admin_state_up: true,
        status: "DOWN".into(),
        device_id: s.uuid.clone(),
        device_owner: format!("compute:{az}"),
        port_security_enabled: nw.port_security_enabled,
        vnic_type: "baremetal".into(),
        host_id: String::new(),
        profile: "{}".into(),
        vif_type: "unbound".into(),
        vif_details: "{}".into(),
        security_groups: "[]".into(),
        allowed_address_pairs: "[]".into(),
        revision_number: 1,
        created_at: t,
        updated_at: t,
    };
    crate::storage::security_groups::quota_check(c, &p.project_id, "port")?;
    if p.port_security_enabled {
        let g = crate::storage::security_groups::default_group(c, &p.project_id)?;
        p.security_groups = json!([g]).to_string();
    }
    let sync = PortSync::begin(c, push, &p.uuid)?;
    let mut tries = 0;
    loop {
        match net::port_insert(c, &p) {
            Ok(()) => break,
            Err(StorageError::Duplicate(_)) if tries < 8 => {
                tries += 1;
                p.mac_address = random_mac();
            }
            Err(e) => return Err(e),
        }
    }
    let fixed = fixed_ip.map(|ip| vec![FixedIp { subnet: None, ip: Some(ip) }]);
    allocate(c, &p.network_uuid, &p.uuid, fixed.as_deref())?.map_err(StorageError::from)?;
    sync.finish(c)?;
    Ok(p.uuid)
}

/// Unplugs a server's ports: VIFs detached from its node, ports the build
/// created deleted (their addresses released), given ports released.
fn unplug(c: &mut DbConn, s: &mut Server, push: bool) -> StorageResult<()> {
    let ports = ports_of(s);
    let node = match &s.node_uuid {
        Some(n) => bm::node(c, n).ok(),
        None => None,
    };
    for sp in &ports {
        if let Some(n) = &node {
            // Not attached (any more) is fine.
            let _ = vifs::detach(c, &n.uuid, &sp.port, uses_network_service(n), push)?;
        }
        let sync = PortSync::begin(c, push, &sp.port)?;
        match net::port(c, &sp.port) {
            Ok(_) if sp.created => {
                net::allocations_release(c, &sp.port)?;
                net::port_delete(c, &sp.port)?;
            }
            Ok(mut p) => {
                if p.device_id == s.uuid {
                    p.device_id.clear();
                    p.device_owner.clear();
                    p.revision_number += 1;
                    p.updated_at = now();
                    net::port_update(c, &p)?;
                }
            }
            Err(StorageError::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
        sync.finish(c)?;
    }
    s.ports = "[]".into();
    Ok(())
}

/// `network_data.json` for the server's ports: links, networks, DNS.
fn network_data(c: &mut DbConn, ports: &[ServerPort]) -> StorageResult<Value> {
    let ids: Vec<String> = ports.iter().map(|p| p.port.clone()).collect();
    let allocations = net::allocations_of_ports(c, &ids)?;
    let (mut links, mut networks, mut dns) = (Vec::new(), Vec::new(), Vec::<String>::new());
    for (i, sp) in ports.iter().enumerate() {
        let p = net::port(c, &sp.port)?;
        let nw = net::network(c, &p.network_uuid)?;
        let link = format!("tap{}", &p.uuid[..11.min(p.uuid.len())]);
        links.push(
            json!({"id": link, "vif_id": p.uuid, "type": "phy", "mtu": nw.mtu, "ethernet_mac_address": p.mac_address}),
        );
        for a in allocations.iter().filter(|a| a.port_uuid == p.uuid) {
            let sub = net::subnet(c, &a.subnet_uuid)?;
            let cidr = super::ipam::Cidr::parse(&sub.cidr).map_err(|e| StorageError::Database(e.0))?;
            let v4 = sub.ip_version == 4;
            let netmask = if v4 {
                std::net::Ipv4Addr::from(u32::MAX.checked_shl(32 - cidr.prefix as u32).unwrap_or(0)).to_string()
            } else {
                cidr.prefix.to_string()
            };
            let mut routes = Vec::new();
            if let Some(g) = &sub.gateway_ip {
                let (any, mask) = if v4 { ("0.0.0.0", "0.0.0.0") } else { ("::", "::") };
                routes.push(json!({"network": any, "netmask": mask, "gateway": g}));
            }
            let servers: Vec<String> = serde_json::from_str(&sub.dns_nameservers).unwrap_or_default();
            let services: Vec<Value> = servers.iter().map(|d| json!({"type": "dns", "address": d})).collect();
            for d in servers {
                if !dns.contains(&d) {
                    dns.push(d);
                }
            }
            networks.push(json!({
                "id": format!("network{}", networks.len()),
                "type": if v4 { "ipv4" } else { "ipv6" },
                "link": link, "ip_address": a.ip_address, "netmask": netmask,
                "routes": routes, "network_id": nw.uuid, "services": services,
            }));
        }
        let _ = i;
    }
    let services: Vec<Value> = dns.iter().map(|d| json!({"type": "dns", "address": d})).collect();
    Ok(json!({"links": links, "networks": networks, "services": services}))
}

/// The config drive of a server, in the object form the deploy builds.
pub fn config_drive(s: &Server, network_data: Value) -> Value {
    let mut keys = BTreeMap::new();
    let mut key_list = Vec::new();
    if let (Some(name), Some(data)) = (&s.key_name, &s.key_data) {
        keys.insert(name.clone(), json!(data));
        key_list.push(json!({"name": name, "type": "ssh", "data": data}));
    }
    let meta = json!({
        "uuid": s.uuid, "name": s.name, "hostname": s.hostname, "launch_index": 0,
        "availability_zone": s.availability_zone.clone().unwrap_or_else(|| "nova".into()),
        "project_id": s.project_id, "public_keys": keys, "keys": key_list,
        "meta": json_obj(&s.metadata), "devices": [],
    });
    let user_data = s.user_data.as_deref().and_then(|u| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.decode(u).ok().map(|b| String::from_utf8_lossy(&b).into_owned())
    });
    let mut drive = json!({"meta_data": meta, "user_data": user_data});
    if !network_data.is_null() {
        drive["network_data"] = network_data;
    }
    drive
}

/// Brings a server in step with its node, in the caller's transaction.
fn reconcile(c: &mut DbConn, mut s: Server, push: bool, events: &mut Vec<Event>) -> StorageResult<Next> {
    let node = match &s.node_uuid {
        Some(n) => bm::node(c, n).ok(),
        None => None,
    };
    let before = s.clone();
    if s.task_state.as_deref() == Some("deleting") {
        let Some(n) = node.filter(|n| n.instance_uuid.as_deref() == Some(s.uuid.as_str())) else {
            // No node, or its teardown has taken the instance off it.
            unplug(c, &mut s, push)?;
            events.push(server_event(c, &s, ServerStep::DeleteEnd, None));
            db::server_delete(c, &s.uuid)?;
            return Ok(Next::Nothing);
        };
        if !s.ports.is_empty() && s.ports != "[]" {
            unplug(c, &mut s, push)?;
            s.updated_at = Some(now());
            db::server_update(c, &s)?;
        }
        let state: S = n.provision_state.parse().unwrap_or(S::Error);
        let undeployable = matches!(state, S::Active | S::DeployFailed | S::Error | S::Available);
        if state == S::Available {
            // Claimed but never deployed: just give the node back.
            release_node(c, &n.uuid, &s.uuid)?;
            events.push(server_event(c, &s, ServerStep::DeleteEnd, None));
            db::server_delete(c, &s.uuid)?;
            return Ok(Next::Nothing);
        }
        if undeployable && n.reservation.is_none() {
            return Ok(Next::Undeploy(n.uuid));
        }
        return Ok(Next::Nothing);
    }
    let Some(n) = node else { return Ok(Next::Nothing) };
    let state: S = n.provision_state.parse().unwrap_or(S::Error);
    let power = match n.power_state.as_deref() {
        Some("power on") => 1,
        Some("power off") => 4,
        _ => 0,
    };
    match s.vm_state.as_str() {
        "building" => match state {
            S::Active => {
                s.vm_state = "active".into();
                s.task_state = None;
                s.power_state = power;
                s.launched_at = Some(now());
            }
            S::DeployFailed | S::Error => {
                s.vm_state = "error".into();
                s.task_state = None;
                s.power_state = power;
                let msg = n.last_error.clone().unwrap_or_else(|| "Failed to provision instance".into());
                s.fault = Some(fault(500, &format!("Build of instance {} aborted: {msg}", s.uuid)));
            }
            _ => {}
        },
        "active" | "stopped" => {
            if s.task_state.as_deref() == Some("rebuild_spawning") || s.task_state.as_deref() == Some("rebuilding") {
                match state {
                    S::Active => s.task_state = None,
                    S::DeployFailed | S::Error => {
                        s.vm_state = "error".into();
                        s.task_state = None;
                        let msg = n.last_error.clone().unwrap_or_else(|| "Rebuild failed".into());
                        s.fault = Some(fault(500, &msg));
                    }
                    _ => {}
                }
            }
            if n.target_power_state.is_none() && state == S::Active {
                if matches!(
                    s.task_state.as_deref(),
                    Some("powering-off" | "powering-on" | "rebooting" | "rebooting_hard")
                ) {
                    s.task_state = None;
                }
                if s.task_state.is_none() {
                    s.power_state = power;
                    s.vm_state = if power == 4 { "stopped" } else { "active" }.into();
                }
            }
        }
        _ => {}
    }
    if s != before {
        s.updated_at = Some(now());
        db::server_update(c, &s)?;
        if before.vm_state == "building" && s.vm_state == "active" {
            events.push(server_event(c, &s, ServerStep::CreateEnd, None));
        } else if before.vm_state == "building" && s.vm_state == "error" {
            events.push(server_event(c, &s, ServerStep::CreateError, fault_message(&s)));
        }
    }
    Ok(Next::Nothing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_classes_normalise_like_placement() {
        assert_eq!(normalize_resource_class("baremetal-gold"), "CUSTOM_BAREMETAL_GOLD");
        assert_eq!(normalize_resource_class("CUSTOM_X"), "CUSTOM_X");
        let Value::Object(specs) = json!({
            "resources:CUSTOM_BAREMETAL_GOLD": "1", "resources:VCPU": "0",
            "trait:CUSTOM_RAID": "required", "trait:CUSTOM_GPU": "forbidden", "hw:cpu_policy": "x"
        }) else {
            unreachable!()
        };
        let p = Placement::of(&specs);
        assert_eq!(p.resource_class.as_deref(), Some("CUSTOM_BAREMETAL_GOLD"));
        assert_eq!((p.required.clone(), p.forbidden.clone()), (vec!["CUSTOM_RAID".into()], vec!["CUSTOM_GPU".into()]));
    }

    #[test]
    fn network_requests_round_trip() {
        let l = vec![
            NetworkRequest::Network { uuid: "n".into(), fixed_ip: Some("10.0.0.5".parse().unwrap()) },
            NetworkRequest::Port("p".into()),
        ];
        assert_eq!(NetworkRequest::from_json(&NetworkRequest::to_json(&l)), l);
    }
}
