//! Start-up: bind every built service's port, open and migrate the
//! database, bootstrap, then serve until a shutdown signal.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{App, HttpServer, web};
use tracing_actix_web::TracingLogger;

use crate::api;
use crate::bootstrap::{self, Report};
use crate::common::auth::Authenticator;
use crate::common::request_id::CommonHeaders;
use crate::common::token::KeyRing;
use crate::config::{Config, ServiceKind, clouds_yaml, ensure_dir};
use crate::storage::Storage;

/// The services that exist so far; the other ports are not opened.
pub const BUILT: &[ServiceKind] = &[ServiceKind::Identity];

/// Everything ready to serve: ports bound, database migrated, bootstrap done.
pub struct Prepared {
    pub config: Config,
    pub storage: Storage,
    pub auth: web::Data<Authenticator>,
    pub report: Report,
    listeners: Vec<(ServiceKind, TcpListener)>,
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
    let keys = Arc::new(KeyRing::open(&cfg.keys_dir())?);
    Ok(Authenticator::new(cfg.auth, keys, storage.clone(), Duration::from_secs(cfg.token.password_cache)))
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
    Ok(Prepared { config: cfg, storage, auth: web::Data::new(auth), report, listeners })
}

impl Prepared {
    pub fn port(&self, kind: ServiceKind) -> Option<u16> {
        self.listeners.iter().find(|(k, _)| *k == kind).and_then(|(_, l)| l.local_addr().ok()).map(|a| a.port())
    }

    /// Prints where everything is, and writes `clouds.yaml` when the admin
    /// password is known (configured, or just generated).
    pub fn announce(&self) -> anyhow::Result<()> {
        let cfg = &self.config;
        let password = self.report.generated_password.as_deref().or(cfg.admin_password.as_deref());
        if let Some(p) = &self.report.generated_password {
            println!("Generated admin password (shown once): {p}");
        }
        for (kind, _) in &self.listeners {
            println!("{:<9} {}", kind.catalog_type(), cfg.catalog_url(*kind));
        }
        println!("database  {} ({})", redact(&cfg.database_url()), self.storage.backend().name());
        let yaml = clouds_yaml(cfg, password);
        if password.is_some() {
            let path = cfg.data_dir.join("clouds.yaml");
            write_private(&path, yaml.as_bytes())?;
            println!("clouds.yaml (also in {}):\n{yaml}", path.display());
        } else {
            println!("clouds.yaml:\n{yaml}");
        }
        Ok(())
    }

    /// Serves until SIGINT/SIGTERM (or [`actix_web::dev::ServerHandle::stop`]).
    pub async fn run(
        self,
        handles: Option<std::sync::mpsc::Sender<actix_web::dev::ServerHandle>>,
    ) -> anyhow::Result<()> {
        let cfg = Arc::new(self.config);
        let identity_url = cfg.catalog_url(ServiceKind::Identity);
        let identity_state = Arc::new(api::identity::IdentityState::new(&cfg));
        let mut servers = Vec::new();
        for (kind, listener) in self.listeners {
            let auth = self.auth.clone();
            let max_body = cfg.max_json_body;
            let identity_url = identity_url.clone();
            let identity_state = identity_state.clone();
            let server = HttpServer::new(move || {
                let app = App::new().app_data(auth.clone()).app_data(web::PayloadConfig::new(max_body));
                match kind {
                    ServiceKind::Identity => app
                        .wrap(api::json_errors(api::identity::error_body))
                        .wrap(CommonHeaders::new(&identity_url))
                        .wrap(TracingLogger::default())
                        .configure(|c| api::identity::configure(c, identity_state.clone())),
                    other => unreachable!("{other:?} is not built"),
                }
            })
            .workers(cfg.workers())
            .shutdown_timeout(10)
            .listen(listener)?
            .run();
            if let Some(tx) = &handles {
                let _ = tx.send(server.handle());
            }
            servers.push(server);
        }
        let keys = self.auth.keys.clone();
        let storage = self.storage.clone();
        let token_cfg = cfg.token.clone();
        let housekeeping = actix_web::rt::spawn(async move {
            let mut tick = actix_web::rt::time::interval(Duration::from_secs(60));
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
        let results = futures_util::future::join_all(servers).await;
        housekeeping.abort();
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

/// Starts a [`Prepared`] server on its own thread and actix system, returning
/// once it listens. Used by `serve` and by the tests.
pub fn spawn(
    prepared: Prepared,
) -> anyhow::Result<(actix_web::dev::ServerHandle, std::thread::JoinHandle<anyhow::Result<()>>)> {
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("ironbark-main".into())
        .spawn(move || actix_web::rt::System::new().block_on(prepared.run(Some(tx))))?;
    let handle = rx.recv_timeout(Duration::from_secs(30)).map_err(|_| anyhow::anyhow!("server did not start"))?;
    Ok((handle, thread))
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
