//! Start-up: bind every built service's port, open and migrate the
//! database, bootstrap, then serve until a shutdown signal.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::middleware::Condition;
use actix_web::{App, HttpServer, web};
use tracing_actix_web::TracingLogger;

use crate::api;
use crate::bootstrap::{self, Report};
use crate::common::auth::Authenticator;
use crate::common::request_id::CommonHeaders;
use crate::common::token::KeyRing;
use crate::config::{Config, ServiceKind, clouds_yaml, ensure_dir};
use crate::drivers::credentials::Sealer;
use crate::drivers::fake_disk::Disks;
use crate::drivers::{BmcTimeouts, HardwareSettings};
use crate::engine::{Engine, Settings, Worker};
use crate::storage::Storage;
use crate::storage::baremetal::{self as bm, Conductor};
use crate::storage::image_store::FsStore;

/// The services that exist so far; the other ports are not opened.
pub const BUILT: &[ServiceKind] = &[
    ServiceKind::Identity,
    ServiceKind::Baremetal,
    ServiceKind::Compute,
    ServiceKind::Image,
    ServiceKind::Network,
    ServiceKind::Contrail,
];

/// Everything ready to serve: ports bound, database migrated, bootstrap done.
pub struct Prepared {
    pub config: Config,
    pub storage: Storage,
    pub auth: web::Data<Authenticator>,
    pub report: Report,
    pub engine: Engine,
    pub images: Arc<api::image::ImageState>,
    worker: Worker,
    listeners: Vec<(ServiceKind, TcpListener)>,
    reporters: crate::reporters::Plan,
    /// The Sandesh introspect port, bound when the generator is on.
    introspect: Option<TcpListener>,
}

fn bind(cfg: &Config, kind: ServiceKind) -> anyhow::Result<TcpListener> {
    let addr = format!("{}:{}", cfg.host, cfg.port(kind));
    TcpListener::bind(&addr).map_err(|e| {
        let why =
            if e.kind() == std::io::ErrorKind::AddrInUse { "is already in use".to_string() } else { e.to_string() };
        anyhow::anyhow!(
            "cannot open the {} port {addr}: {why} (set IRONBARK_{}_PORT to use another)",
            kind.catalog_type(),
            kind.catalog_type().to_uppercase()
        )
    })
}

/// Opens the database and applies migrations.
pub fn open_storage(cfg: &Config) -> anyhow::Result<Storage> {
    ensure_dir(&cfg.data_dir)?;
    let storage = Storage::open(&cfg.database_url(), cfg.db_pool_size)?;
    let applied = storage.migrate()?;
    if !applied.is_empty() {
        tracing::info!(backend = storage.backend().name(), migrations = ?applied, "database migrated");
    }
    Ok(storage)
}

pub fn authenticator(cfg: &Config, storage: &Storage) -> anyhow::Result<Authenticator> {
    let keys = Arc::new(KeyRing::open(storage.clone(), sealer(cfg)?, Some(&cfg.keys_dir()))?);
    Ok(Authenticator::new(cfg.auth, keys, storage.clone(), Duration::from_secs(cfg.token.password_cache)))
}

/// What seals secrets at rest (BMC credentials, token signing keys).
pub fn sealer(cfg: &Config) -> anyhow::Result<Arc<Sealer>> {
    Ok(Arc::new(Sealer::load(cfg.secrets_key.as_deref(), &cfg.data_dir)?))
}

/// Binds ports (port 0 picks a free one, recorded back into the config so
/// that URLs and the catalog name the real port), migrates and bootstraps.
pub fn prepare(mut cfg: Config) -> anyhow::Result<Prepared> {
    let mut listeners = Vec::new();
    for kind in BUILT {
        let l = bind(&cfg, *kind)?;
        cfg.set_port(*kind, l.local_addr()?.port());
        listeners.push((*kind, l));
    }
    let storage = open_storage(&cfg)?;
    let auth = authenticator(&cfg, &storage)?;
    let report = bootstrap::run(&cfg, &storage, &auth)?;
    let store: Arc<dyn crate::storage::image_store::ImageStore> = Arc::new(
        FsStore::open(&cfg.image_store_dir())
            .map_err(|e| anyhow::anyhow!("cannot open the image store {}: {e}", cfg.image_store_dir().display()))?,
    );
    crate::storage::image_store::check_shared(&storage, &cfg.image_store_dir())?;
    let settings = Settings {
        host: cfg.conductor_name(),
        hardware: HardwareSettings {
            fake_delay: Duration::from_millis(cfg.fake.delay_ms),
            bmc: BmcTimeouts {
                connect: Duration::from_secs(cfg.bmc.connect_timeout_s),
                request: Duration::from_secs(cfg.bmc.request_timeout_s),
                power_wait: Duration::from_secs(cfg.bmc.power_state_change_timeout_s),
                poll: Duration::from_millis(cfg.bmc.poll_interval_ms),
                agent_command: Duration::from_secs(cfg.bmc.agent_command_timeout_s),
            },
            sealer: Some(sealer(&cfg)?),
        },
        disks: Disks::new(cfg.fake_disk_dir(), cfg.fake.erase),
        images: Some(store.clone()),
        contrail_push: cfg.contrail.push_url().is_some(),
    };
    let (engine, worker) = Engine::new(storage.clone(), settings);
    let mut reporters = crate::reporters::Plan::new(&cfg, &storage, engine.host())?;
    let introspect = match &mut reporters.sandesh {
        Some(s) => {
            let addr = format!("{}:{}", cfg.host, cfg.sandesh.introspect_port);
            let l = TcpListener::bind(&addr).map_err(|e| {
                anyhow::anyhow!(
                    "cannot open the Sandesh introspect port {addr}: {e} (set IRONBARK_SANDESH__INTROSPECT_PORT)"
                )
            })?;
            let port = l.local_addr()?.port();
            cfg.sandesh.introspect_port = port;
            s.http_port = port;
            Some(l)
        }
        None => None,
    };
    claim_conductor_name(&storage, engine.host(), Duration::from_secs(cfg.heartbeat_timeout_s.max(1)))?;
    register_conductor(&storage, engine.host(), true)?;
    let resumed = engine.resume_interrupted()?;
    if resumed > 0 {
        tracing::info!(nodes = resumed, "resuming work interrupted by the previous stop");
    }
    let images = Arc::new(api::image::ImageState::new(&cfg, storage.clone(), store));
    Ok(Prepared {
        config: cfg,
        storage,
        auth: web::Data::new(auth),
        report,
        engine,
        images,
        worker,
        listeners,
        reporters,
        introspect,
    })
}

/// How often a process heartbeats: three times per timeout, at least every
/// 10 s and at most twice a second.
fn heartbeat_interval(timeout: Duration) -> Duration {
    (timeout / 3).clamp(Duration::from_millis(500), Duration::from_secs(10))
}

/// The tick of the heartbeat and takeover task.
fn heartbeat_tick(timeout: Duration) -> Duration {
    heartbeat_interval(timeout).min(Duration::from_secs(2))
}

/// Refuses to start under a conductor name a live process heartbeats
/// with: both would take the same nodes' work as their own. A heartbeat
/// younger than the timeout is either this process's crashed predecessor
/// or a live twin; waiting one heartbeat interval tells which.
fn claim_conductor_name(storage: &Storage, host: &str, timeout: Duration) -> anyhow::Result<()> {
    let read = || storage.read_blocking(|c| Ok(bm::conductor(c, host).ok()));
    let Some(seen) = read()? else { return Ok(()) };
    let now = chrono::Utc::now().naive_utc();
    let age = (now - seen.updated_at).to_std().unwrap_or_default();
    if !seen.online || age >= timeout {
        return Ok(());
    }
    let next_beat = heartbeat_interval(timeout) + heartbeat_tick(timeout) + Duration::from_millis(500);
    let wait = next_beat.saturating_sub(age);
    tracing::info!(
        conductor = host,
        heartbeat_age_ms = age.as_millis() as u64,
        wait_ms = wait.as_millis() as u64,
        "a process with this conductor name heartbeated recently; waiting to see whether it is alive"
    );
    std::thread::sleep(wait);
    match read()? {
        Some(now_seen) if now_seen.updated_at > seen.updated_at && now_seen.online => anyhow::bail!(
            "the conductor name {host} is in use by a live ironbark (it heartbeated at {}); give each process \
             sharing the database its own IRONBARK_CONDUCTOR_NAME",
            now_seen.updated_at
        ),
        _ => Ok(()),
    }
}

/// Records (or refreshes) this process in the conductor list, `online` or
/// not, and returns the heartbeat time it wrote.
fn register_conductor(storage: &Storage, host: &str, online: bool) -> anyhow::Result<chrono::NaiveDateTime> {
    // Microseconds: what PostgreSQL keeps, so that the time read back is the time written.
    let now = chrono::SubsecRound::trunc_subsecs(chrono::Utc::now().naive_utc(), 6);
    let drivers: Vec<&str> = crate::drivers::HARDWARE_TYPES.iter().map(|h| h.name).collect();
    let before = storage.read_blocking(|c| Ok(bm::conductor(c, host).ok()))?;
    let row = Conductor {
        hostname: host.to_string(),
        conductor_group: String::new(),
        drivers: serde_json::to_string(&drivers)?,
        online,
        created_at: before.as_ref().map_or(now, |b| b.created_at),
        updated_at: now,
    };
    storage.write_blocking(|c| bm::conductor_upsert(c, &row))?;
    Ok(now)
}

impl Prepared {
    /// The Sandesh introspect port, when the generator is on.
    pub fn introspect_port(&self) -> Option<u16> {
        self.introspect.as_ref().and_then(|l| l.local_addr().ok()).map(|a| a.port())
    }

    pub fn port(&self, kind: ServiceKind) -> Option<u16> {
        self.listeners.iter().find(|(k, _)| *k == kind).and_then(|(_, l)| l.local_addr().ok()).map(|a| a.port())
    }

    /// Prints where everything is, and writes `clouds.yaml` when the admin
    /// password is known (configured, or just generated).
    pub fn announce(&self) -> anyhow::Result<()> {
        let cfg = &self.config;
        let password = self.report.generated_password.as_deref().or(cfg.admin_password.as_deref());
        let mut out = String::new();
        if let Some(p) = &self.report.generated_password {
            out.push_str(&format!("Generated admin password (shown once): {p}\n"));
        }
        for (kind, _) in &self.listeners {
            out.push_str(&format!("{:<9} {}\n", kind.catalog_type(), cfg.catalog_url(*kind)));
        }
        out.push_str(&format!("database  {} ({})\n", redact(&cfg.database_url()), self.storage.backend().name()));
        if cfg.metrics.enabled {
            out.push_str(&format!("metrics   {}/metrics\n", cfg.public_url(ServiceKind::Baremetal)));
        }
        if let (Some(s), Some(port)) = (&self.reporters.sandesh, self.introspect_port()) {
            out.push_str(&format!(
                "sandesh   collectors {} as {}; introspect http://{}:{port}/\n",
                s.collectors.join(" "),
                s.identity.generator_name(),
                cfg.host
            ));
        }
        if let Some(n) = &self.reporters.notifications {
            out.push_str(&format!(
                "notify    exchange {} topics {} (level {}) on {}\n",
                n.exchange,
                n.topics.join(","),
                format!("{:?}", n.level).to_lowercase(),
                n.url.brokers.iter().map(|b| format!("{}:{}", b.host, b.port)).collect::<Vec<_>>().join(",")
            ));
        }
        let yaml = clouds_yaml(cfg, password);
        if password.is_some() {
            let path = cfg.data_dir.join("clouds.yaml");
            write_private(&path, yaml.as_bytes())?;
            out.push_str(&format!("clouds.yaml (also in {}):\n{yaml}", path.display()));
        } else {
            out.push_str(&format!("clouds.yaml:\n{yaml}"));
        }
        // A closed stdout (a detached service) must not stop the server.
        use std::io::Write;
        let mut stdout = std::io::stdout();
        let _ = stdout.write_all(out.as_bytes()).and_then(|_| stdout.flush());
        Ok(())
    }

    /// Serves until SIGINT/SIGTERM (or [`actix_web::dev::ServerHandle::stop`]).
    pub async fn run(
        self,
        handles: Option<std::sync::mpsc::Sender<actix_web::dev::ServerHandle>>,
    ) -> anyhow::Result<()> {
        // One process-wide handler, installed before any server starts, stops
        // every service (per-server handlers could miss a signal that arrives
        // while the later servers are still starting).
        #[cfg(unix)]
        let signals = {
            use tokio::signal::unix::{SignalKind, signal};
            (signal(SignalKind::terminate())?, signal(SignalKind::interrupt())?)
        };
        let cfg = Arc::new(self.config);
        let identity_url = cfg.catalog_url(ServiceKind::Identity);
        let identity_state = Arc::new(api::identity::IdentityState::new(&cfg));
        let console = Arc::new(crate::console::Console::new(&cfg.public_url(ServiceKind::Identity))?);
        let baremetal_state = Arc::new(api::baremetal::BaremetalState::new(&cfg, self.engine.clone()));
        actix_web::rt::spawn(self.worker.run());
        actix_web::rt::spawn(self.engine.clone().run_instances());
        let metrics_on = self.reporters.metrics_enabled;
        let reporters = self.reporters.start(&self.engine)?;
        let metrics = web::Data::from(reporters.metrics.clone());
        let http_metrics: std::collections::HashMap<&str, actix_web_prom::PrometheusMetrics> =
            ServiceKind::ALL.iter().map(|k| (k.catalog_type(), reporters.metrics.http(k.catalog_type()))).collect();
        let image_state = self.images.clone();
        let network_state = Arc::new(api::network::NetworkState::new(&cfg, self.storage.clone()));
        let compute_state = Arc::new(api::compute::ComputeState::new(&cfg, self.storage.clone(), self.engine.clone()));
        let contrail_state = Arc::new(api::contrail::ContrailState::new(&cfg, self.storage.clone()));
        self.images.clone().recover(true).await;
        let mut servers = Vec::new();
        for (kind, listener) in self.listeners {
            let auth = self.auth.clone();
            let max_body = cfg.max_json_body;
            let identity_url = identity_url.clone();
            let identity_state = identity_state.clone();
            let console = console.clone();
            let baremetal_state = baremetal_state.clone();
            let image_state = image_state.clone();
            let network_state = network_state.clone();
            let compute_state = compute_state.clone();
            let contrail_state = contrail_state.clone();
            let workers = cfg.workers();
            let timing = http_metrics[kind.catalog_type()].clone();
            let metrics = metrics.clone();
            let server = match kind {
                ServiceKind::Identity => HttpServer::new(move || {
                    App::new()
                        .app_data(auth.clone())
                        .app_data(web::PayloadConfig::new(max_body))
                        .wrap(api::json_errors(api::identity::error_body))
                        .wrap(CommonHeaders::new(&identity_url))
                        .wrap(TracingLogger::default())
                        .wrap(Condition::new(metrics_on, timing.clone()))
                        .configure(|c| api::identity::configure(c, identity_state.clone()))
                        .configure(|c| crate::console::configure(c, console.clone()))
                })
                .workers(workers)
                .shutdown_timeout(10)
                .disable_signals()
                .listen(listener)?
                .run(),
                ServiceKind::Baremetal => HttpServer::new(move || {
                    App::new()
                        .app_data(auth.clone())
                        .app_data(web::PayloadConfig::new(max_body))
                        .wrap(api::json_errors(api::baremetal::error_body))
                        .wrap(api::baremetal::MICROVERSIONS)
                        .wrap(CommonHeaders::new(&identity_url).with_id_aliases(&["openstack-request-id"]))
                        .wrap(TracingLogger::default())
                        .wrap(Condition::new(metrics_on, timing.clone()))
                        .app_data(metrics.clone())
                        .configure(|c| api::baremetal::configure(c, baremetal_state.clone()))
                })
                .workers(workers)
                .shutdown_timeout(10)
                .disable_signals()
                .listen(listener)?
                .run(),
                ServiceKind::Compute => HttpServer::new(move || {
                    App::new()
                        .app_data(auth.clone())
                        .app_data(web::PayloadConfig::new(max_body))
                        .wrap(api::json_errors(api::compute::error_body))
                        .wrap(api::compute::MICROVERSIONS)
                        .wrap(CommonHeaders::new(&identity_url).with_id_aliases(&["x-compute-request-id"]))
                        .wrap(TracingLogger::default())
                        .wrap(Condition::new(metrics_on, timing.clone()))
                        .configure(|c| api::compute::configure(c, compute_state.clone()))
                })
                .workers(workers)
                .shutdown_timeout(10)
                .disable_signals()
                .listen(listener)?
                .run(),
                ServiceKind::Image => HttpServer::new(move || {
                    App::new()
                        .app_data(auth.clone())
                        .app_data(web::PayloadConfig::new(max_body))
                        .wrap(api::json_errors(api::image::error_body))
                        .wrap(CommonHeaders::new(&identity_url))
                        .wrap(TracingLogger::default())
                        .wrap(Condition::new(metrics_on, timing.clone()))
                        .configure(|c| api::image::configure(c, image_state.clone()))
                })
                .workers(workers)
                .shutdown_timeout(10)
                .disable_signals()
                .listen(listener)?
                .run(),
                ServiceKind::Network => HttpServer::new(move || {
                    App::new()
                        .app_data(auth.clone())
                        .app_data(web::PayloadConfig::new(max_body))
                        .wrap(api::json_errors(api::network::error_body))
                        .wrap(CommonHeaders::new(&identity_url))
                        .wrap(TracingLogger::default())
                        .wrap(Condition::new(metrics_on, timing.clone()))
                        .configure(|c| api::network::configure(c, network_state.clone()))
                })
                .workers(workers)
                .shutdown_timeout(10)
                .disable_signals()
                .listen(listener)?
                .run(),
                // Contrail's API has no OpenStack request ids; errors are plain text.
                ServiceKind::Contrail => HttpServer::new(move || {
                    App::new()
                        .app_data(auth.clone())
                        .app_data(web::PayloadConfig::new(max_body))
                        .wrap(api::contrail::text_errors())
                        .wrap(TracingLogger::default())
                        .wrap(Condition::new(metrics_on, timing.clone()))
                        .configure(|c| api::contrail::configure(c, contrail_state.clone()))
                })
                .workers(workers)
                .shutdown_timeout(10)
                .disable_signals()
                .listen(listener)?
                .run(),
            };
            if let Some(tx) = &handles {
                let _ = tx.send(server.handle());
            }
            servers.push(server);
        }
        if let (Some(listener), Some(sandesh)) = (self.introspect, reporters.sandesh.clone()) {
            let sandesh = web::Data::new(sandesh);
            let server = HttpServer::new(move || {
                App::new().app_data(sandesh.clone()).configure(crate::reporters::sandesh::introspect::configure)
            })
            .workers(1)
            .shutdown_timeout(5)
            .disable_signals()
            .listen(listener)?
            .run();
            if let Some(tx) = &handles {
                let _ = tx.send(server.handle());
            }
            servers.push(server);
        }
        #[cfg(unix)]
        {
            let all = Handles(servers.iter().map(|s| s.handle()).collect());
            let (mut term, mut int) = signals;
            actix_web::rt::spawn(async move {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
                tracing::info!("shutdown signal received; stopping every service");
                all.stop(true).await;
            });
        }
        let keys = self.auth.keys.clone();
        let storage = self.storage.clone();
        let token_cfg = cfg.token.clone();

        let housekeeping = actix_web::rt::spawn(async move {
            let mut tick = actix_web::rt::time::interval(Duration::from_secs(10));
            loop {
                tick.tick().await;
                let k = keys.clone();
                let t = token_cfg.clone();
                let rotated = web::block(move || {
                    k.rotate_if_due(Duration::from_secs(t.key_rotation), Duration::from_secs(t.expiration))
                })
                .await;
                if let Ok(Err(e)) = rotated {
                    tracing::warn!(error = %e, "signing key rotation failed");
                }
                let now = chrono::Utc::now().naive_utc();
                if let Err(e) = storage.write(move |c| crate::storage::identity::revocations_purge(c, now)).await {
                    tracing::warn!(error = %e, "revocation purge failed");
                }
            }
        });
        // The heartbeat (three per timeout, at most every 10 s), and the
        // takeover of nodes whose conductor stopped heartbeating.
        let engine = self.engine.clone();
        let storage = self.storage.clone();
        let images = self.images.clone();
        let heartbeat_timeout = Duration::from_secs(cfg.heartbeat_timeout_s.max(1));
        let beat = heartbeat_interval(heartbeat_timeout);
        let takeover = actix_web::rt::spawn(async move {
            let mut tick = actix_web::rt::time::interval(heartbeat_tick(heartbeat_timeout));
            let mut last_beat: Option<std::time::Instant> = None;
            let mut written: Option<chrono::NaiveDateTime> = None;
            loop {
                tick.tick().await;
                if last_beat.is_none_or(|t| t.elapsed() >= beat) {
                    let (s, h) = (storage.clone(), engine.host().to_string());
                    let mine = written;
                    let beat = web::block(move || {
                        // A heartbeat this process did not write: two processes share the name.
                        let seen = s.read_blocking(|c| Ok(bm::conductor(c, &h).ok().map(|r| r.updated_at)))?;
                        if let (Some(mine), Some(seen)) = (mine, seen)
                            && seen != mine
                        {
                            tracing::error!(
                                conductor = %h,
                                "another process heartbeats under this conductor name; give each process \
                                 sharing the database its own IRONBARK_CONDUCTOR_NAME"
                            );
                        }
                        register_conductor(&s, &h, true)
                    })
                    .await;
                    match beat {
                        Ok(Ok(at)) => {
                            last_beat = Some(std::time::Instant::now());
                            written = Some(at);
                        }
                        Ok(Err(e)) => tracing::warn!(error = %e, "conductor heartbeat failed"),
                        Err(e) => tracing::warn!(error = %e, "conductor heartbeat failed"),
                    }
                }
                match engine.take_over_dead(heartbeat_timeout).await {
                    Ok(0) => {}
                    Ok(n) => tracing::warn!(nodes = n, "took over the nodes of a dead conductor"),
                    Err(e) => tracing::debug!(error = %e, "dead-conductor check failed"),
                }
                // ...and the image transfers such a conductor left.
                images.clone().recover(false).await;
            }
        });
        // Only requests write the outbox; this task alone talks to the external API.
        let contrail_push = cfg.contrail.push_url().map(|_| {
            actix_web::rt::spawn(crate::reporters::contrail::push::run(cfg.contrail.clone(), self.storage.clone()))
        });
        let results = futures_util::future::join_all(servers).await;
        housekeeping.abort();
        takeover.abort();
        // Stopped cleanly: a successor under this name need not wait to
        // tell this process from a live twin; live processes take over
        // nodes this one leaves reserved once its heartbeat is stale.
        let (s, h) = (self.storage.clone(), self.engine.host().to_string());
        if let Err(e) = web::block(move || register_conductor(&s, &h, false)).await.map_err(anyhow::Error::from)? {
            tracing::warn!(error = %e, "could not mark the conductor offline");
        }
        if let Some(task) = contrail_push {
            task.abort();
        }
        for r in results {
            r?;
        }
        tracing::info!("ironbark stopped");
        Ok(())
    }
}

fn redact(url: &str) -> String {
    // postgres://user:secret@host/db -> postgres://user:***@host/db
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(unix)]
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    f.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

/// Every HTTP server of one running ironbark.
#[derive(Clone)]
pub struct Handles(Vec<actix_web::dev::ServerHandle>);

impl Handles {
    /// Stops every service (gracefully: in-flight requests finish).
    pub async fn stop(&self, graceful: bool) {
        futures_util::future::join_all(self.0.iter().map(|h| h.stop(graceful))).await;
    }
}

/// Starts a [`Prepared`] server on its own thread and actix system, returning
/// once every service listens. Used by `serve` and by the tests.
pub fn spawn(prepared: Prepared) -> anyhow::Result<(Handles, std::thread::JoinHandle<anyhow::Result<()>>)> {
    let count = prepared.listeners.len() + usize::from(prepared.introspect.is_some());
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("ironbark-main".into())
        .spawn(move || actix_web::rt::System::new().block_on(prepared.run(Some(tx))))?;
    let mut handles = Vec::with_capacity(count);
    for _ in 0..count {
        handles.push(rx.recv_timeout(Duration::from_secs(30)).map_err(|_| anyhow::anyhow!("server did not start"))?);
    }
    Ok((Handles(handles), thread))
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_passwords() {
        assert_eq!(super::redact("postgres://u:pw@h/db"), "postgres://u:***@h/db");
        assert_eq!(super::redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(super::redact("/data/x.sqlite"), "/data/x.sqlite");
    }
}
