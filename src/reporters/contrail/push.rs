//! Pushing the view to an external Contrail VNC API (`contrail.api_url`).
//!
//! Requests never call that API: a change records which objects it touched
//! in the outbox, in its own transaction ([`network_changed`],
//! [`PortSync`]). A background worker ([`run`]) sends them: it derives
//! each object exactly as the read API does ([`super::view::load`]), then
//! `POST /<type>s` (on 409, `PUT /<type>/<uuid>`), or `DELETE
//! /<type>/<uuid>` when the object no longer exists. Failures are retried
//! with a capped exponential backoff; the outbox survives restarts.

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::fabric::fabric_objects;
use super::object::VncObject;
use super::{tenant, view};
use crate::config::ContrailConfig;
use crate::storage::contrail_outbox::{self as outbox, Entry, Op};
use crate::storage::network as net;
use crate::storage::{DbConn, Storage, StorageError, StorageResult};

const VN: &str = "virtual-network";
const VMI: &str = "virtual-machine-interface";
const IIP: &str = "instance-ip";
const VPG: &str = "virtual-port-group";

/// Rows taken per round, and how long a taken row is left to this worker.
const BATCH: i64 = 100;
const LEASE: Duration = Duration::from_secs(120);
const TIMEOUT: Duration = Duration::from_secs(10);

// ---- recording changes (inside the caller's transaction) -----------------------

/// A network (or one of its subnets) changed: its virtual-network is
/// pushed, or deleted once the network is gone. Nothing when `enabled` is false.
pub fn network_changed(c: &mut DbConn, enabled: bool, network_uuid: &str) -> StorageResult<()> {
    if !enabled {
        return Ok(());
    }
    let op = match net::network(c, network_uuid) {
        Ok(_) => Op::Upsert,
        Err(StorageError::NotFound { .. }) => Op::Delete,
        Err(e) => return Err(e),
    };
    outbox::enqueue(c, VN, network_uuid, op)
}

/// The objects a port stands for: its VMI, its instance-ips, and the VPG of
/// the node it is bound to (which lists the node's bound ports).
#[derive(Default)]
struct Related {
    objects: BTreeSet<(&'static str, String)>,
    hosts: BTreeSet<String>,
}

fn related(c: &mut DbConn, port_uuid: &str) -> StorageResult<Related> {
    let mut r = Related::default();
    let port = match net::port(c, port_uuid) {
        Ok(p) => p,
        Err(StorageError::NotFound { .. }) => return Ok(r),
        Err(e) => return Err(e),
    };
    r.objects.insert((VMI, port.uuid.clone()));
    for a in net::allocations_of_ports(c, std::slice::from_ref(&port.uuid))? {
        r.objects.insert((IIP, tenant::instance_ip_uuid(&a)));
    }
    if !port.host_id.is_empty() {
        for uuid in vpgs_of(c, &port.host_id)? {
            r.objects.insert((VPG, uuid));
        }
        r.hosts.insert(port.host_id);
    }
    Ok(r)
}

/// The VPGs derived from a node's bound ports (one, or none when unbound).
fn vpgs_of(c: &mut DbConn, host: &str) -> StorageResult<Vec<String>> {
    let ports = net::ports_on_host(c, host)?;
    Ok(fabric_objects(&ports, &[]).into_iter().filter(|o| o.kind == VPG).map(|o| o.uuid).collect())
}

/// Brackets a change of one port (create, update, binding, delete) in a
/// transaction: [`PortSync::begin`] before it, [`PortSync::finish`] after
/// it records every object the port stood for before or stands for now.
pub struct PortSync {
    port: String,
    /// `None`: pushing is off.
    before: Option<Related>,
}

impl PortSync {
    pub fn begin(c: &mut DbConn, enabled: bool, port_uuid: &str) -> StorageResult<PortSync> {
        let before = if enabled { Some(related(c, port_uuid)?) } else { None };
        Ok(PortSync { port: port_uuid.to_string(), before })
    }

    pub fn finish(self, c: &mut DbConn) -> StorageResult<()> {
        let Some(before) = self.before else {
            return Ok(());
        };
        let now = related(c, &self.port)?;
        // A node's VPG outlives one port's unbinding while others stay bound.
        let mut live = now.objects;
        for host in before.hosts.union(&now.hosts) {
            live.extend(vpgs_of(c, host)?.into_iter().map(|u| (VPG, u)));
        }
        for (kind, uuid) in before.objects.union(&live) {
            let op = if live.contains(&(*kind, uuid.clone())) { Op::Upsert } else { Op::Delete };
            outbox::enqueue(c, kind, uuid, op)?;
        }
        Ok(())
    }
}

// ---- the worker ------------------------------------------------------------------

/// Why one push failed.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("{method} {url}: {source}")]
    Http {
        method: Method,
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{method} {url}: {status} {body}")]
    Status { method: Method, url: String, status: StatusCode, body: String },
}

struct Pusher {
    base: String,
    token: Option<String>,
    cap: Duration,
    client: reqwest::Client,
    storage: Storage,
}

/// Drains the outbox every second until the task is dropped. Returns at
/// once when no `api_url` is configured.
pub async fn run(cfg: ContrailConfig, storage: Storage) {
    let Some(base) = cfg.push_url() else {
        return;
    };
    let client = match reqwest::Client::builder().timeout(TIMEOUT).connect_timeout(TIMEOUT).build() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot make the Contrail push client; changes stay in the outbox");
            return;
        }
    };
    tracing::info!(url = %base, "pushing network changes to the Contrail API");
    let p = Pusher {
        base,
        token: cfg.token.filter(|t| !t.is_empty()),
        cap: Duration::from_secs(cfg.retry_max_s),
        client,
        storage,
    };
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = p.drain().await {
            tracing::warn!(error = %e, "Contrail push: outbox unavailable");
        }
    }
}

/// Upserts before deletes; upserts parents first (a VMI needs its VN, a VPG
/// its VMIs), deletes referrers first (a VMI goes after its instance-ips
/// and the VPG that lists it).
fn rank(kind: &str) -> i32 {
    match kind {
        VN => 0,
        VMI => 1,
        IIP => 2,
        _ => 3,
    }
}

impl Pusher {
    async fn drain(&self) -> StorageResult<()> {
        loop {
            let rows = self.storage.write(|c| outbox::take_due(c, BATCH, LEASE)).await?;
            if rows.is_empty() {
                return Ok(());
            }
            let full = rows.len() as i64 == BATCH;
            // One derivation per round; it is read after the rows were taken,
            // so it holds at least the changes that recorded them.
            let objects = self.storage.read(view::load).await?;
            let mut work: Vec<(Entry, Option<&VncObject>)> = rows
                .into_iter()
                .map(|e| {
                    let o = objects.iter().find(|o| o.kind == e.object_type && o.uuid == e.object_uuid);
                    (e, o)
                })
                .collect();
            work.sort_by_key(|(e, o)| {
                let r = rank(&e.object_type);
                (o.is_none(), if o.is_some() { r } else { -r }, e.id)
            });
            for (e, o) in work {
                let outcome = match o {
                    Some(o) => self.upsert(o).await,
                    None => self.delete(&e.object_type, &e.object_uuid).await,
                };
                match outcome {
                    Ok(()) => {
                        tracing::debug!(kind = %e.object_type, uuid = %e.object_uuid, "pushed to Contrail");
                        self.storage.write(move |c| outbox::done(c, &e)).await?;
                    }
                    Err(err) => {
                        let why = err.to_string();
                        let cap = self.cap;
                        tracing::warn!(kind = %e.object_type, uuid = %e.object_uuid, attempts = e.attempts + 1,
                            error = %why, "Contrail push failed; will retry");
                        self.storage.write(move |c| outbox::failed(c, &e, &why, cap)).await?;
                    }
                }
            }
            if !full {
                return Ok(());
            }
        }
    }

    async fn send(&self, method: Method, url: &str, body: Option<&Value>) -> Result<(StatusCode, String), PushError> {
        let mut req = self.client.request(method.clone(), url);
        if let Some(t) = &self.token {
            req = req.header("X-Auth-Token", t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let http = |source: reqwest::Error| PushError::Http { method: method.clone(), url: url.to_string(), source };
        let resp = req.send().await.map_err(http)?;
        let status = resp.status();
        let text = resp.text().await.map_err(http)?;
        // 409 on create is "exists" (the caller updates); 404 on delete is "gone".
        let expected = status.is_success()
            || (method == Method::POST && status == StatusCode::CONFLICT)
            || (method == Method::DELETE && status == StatusCode::NOT_FOUND);
        if expected {
            return Ok((status, text));
        }
        Err(PushError::Status { method, url: url.to_string(), status, body: text.chars().take(500).collect() })
    }

    /// Create, or update when it exists (409).
    async fn upsert(&self, o: &VncObject) -> Result<(), PushError> {
        let url = format!("{}/{}s", self.base, o.kind);
        let (status, _) = self.send(Method::POST, &url, Some(&o.create_body())).await?;
        if status == StatusCode::CONFLICT {
            let url = format!("{}/{}/{}", self.base, o.kind, o.uuid);
            self.send(Method::PUT, &url, Some(&o.update_body())).await?;
        }
        Ok(())
    }

    /// Delete; an object that is already gone (404) counts as deleted.
    async fn delete(&self, kind: &str, uuid: &str) -> Result<(), PushError> {
        self.send(Method::DELETE, &format!("{}/{kind}/{uuid}", self.base), None).await.map(|_| ())
    }
}
