//! One typed configuration: built-in defaults, then a TOML file
//! (`--config`), then `IRONBARK_*` environment variables (nested keys with
//! `__`, e.g. `IRONBARK_TOKEN__EXPIRATION`), then command-line flags.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// How requests to the service APIs are authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// Keystone v3 tokens (`X-Auth-Token`), validated in-process.
    Keystone,
    /// Every request acts as a system administrator (labs, benchmarks).
    Noauth,
}

/// The services ironbark can offer, each on its own port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServiceKind {
    Identity,
    Baremetal,
    Compute,
    Image,
    Network,
    /// A read-only Contrail VNC API view of the network fabric.
    Contrail,
}

impl ServiceKind {
    pub const ALL: [ServiceKind; 6] = [
        ServiceKind::Identity,
        ServiceKind::Baremetal,
        ServiceKind::Compute,
        ServiceKind::Image,
        ServiceKind::Network,
        ServiceKind::Contrail,
    ];

    /// Whether the service is registered in the Keystone catalog: Contrail's
    /// API is not an OpenStack service (clients are given its address).
    pub fn in_catalog(self) -> bool {
        !matches!(self, ServiceKind::Contrail)
    }

    /// The catalog `type`.
    pub fn catalog_type(self) -> &'static str {
        match self {
            ServiceKind::Identity => "identity",
            ServiceKind::Baremetal => "baremetal",
            ServiceKind::Compute => "compute",
            ServiceKind::Image => "image",
            ServiceKind::Network => "network",
            ServiceKind::Contrail => "contrail",
        }
    }

    /// The catalog `name`, as OpenStack deployments call them.
    pub fn catalog_name(self) -> &'static str {
        match self {
            ServiceKind::Identity => "keystone",
            ServiceKind::Baremetal => "ironic",
            ServiceKind::Compute => "nova",
            ServiceKind::Image => "glance",
            ServiceKind::Network => "neutron",
            ServiceKind::Contrail => "contrail-api",
        }
    }

    /// The path clients expect after the service root in the catalog URL.
    pub fn catalog_suffix(self) -> &'static str {
        match self {
            ServiceKind::Identity => "/v3",
            ServiceKind::Compute => "/v2.1",
            _ => "",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct TokenConfig {
    /// Token lifetime, seconds.
    pub expiration: u64,
    /// A new signing key is made when the newest one is older than this, seconds.
    pub key_rotation: u64,
    /// How long a validated password is remembered (as a keyed hash, in memory
    /// only) so that repeated logins skip the deliberately slow argon2 check;
    /// 0 turns this off. Seconds.
    pub password_cache: u64,
}

impl Default for TokenConfig {
    fn default() -> Self {
        TokenConfig { expiration: 3600, key_rotation: 86400, password_cache: 300 }
    }
}

/// The `fake-hardware` type.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct FakeConfig {
    /// How long each power or provision step takes, milliseconds.
    pub delay_ms: u64,
    /// Where each fake node's disk file lives; default `<data_dir>/fake-disks`.
    pub disk_dir: Option<PathBuf>,
    /// How cleaning erases a fake node's disk.
    pub erase: EraseMode,
}

/// How cleaning erases a disk: its partition metadata (first and last MiB)
/// or every byte.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EraseMode {
    Metadata,
    #[default]
    Full,
}

/// Deadlines of BMC conversations (Redfish, IPMI).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct BmcConfig {
    pub connect_timeout_s: u64,
    /// One request to a BMC.
    pub request_timeout_s: u64,
    /// A power change, from request to the state reported (Ironic's
    /// `power_state_change_timeout`).
    pub power_state_change_timeout_s: u64,
    /// Between two reads of the power state while waiting.
    pub poll_interval_ms: u64,
    /// One command of a direct deploy's agent (writing the image).
    pub agent_command_timeout_s: u64,
}

impl Default for BmcConfig {
    fn default() -> Self {
        BmcConfig {
            connect_timeout_s: 5,
            request_timeout_s: 30,
            power_state_change_timeout_s: 60,
            poll_interval_ms: 1000,
            agent_command_timeout_s: 1800,
        }
    }
}

/// Discovery of servers nobody enrolled, from the inventory their agent
/// posts to `/v1/continue_inspection`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct DiscoveryConfig {
    pub enabled: bool,
    /// Hardware type of discovered nodes.
    pub driver: String,
    /// `driver_info` every discovered node starts with (e.g. BMC user and
    /// password); the reported BMC address is added for ipmi and redfish.
    pub driver_info: serde_json::Map<String, serde_json::Value>,
    pub resource_class: Option<String>,
}

impl Default for DiscoveryConfig {
    fn default() -> Self {
        DiscoveryConfig { enabled: false, driver: "ipmi".into(), driver_info: Default::default(), resource_class: None }
    }
}

/// The image service's store and limits.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ImageConfig {
    /// Directory of the filesystem image store; default `<data_dir>/images`.
    pub store_dir: Option<PathBuf>,
    /// Largest image accepted, bytes.
    pub max_size: u64,
    /// Bytes of image data one project may hold; 0 = no limit.
    pub project_quota: u64,
}

impl Default for ImageConfig {
    fn default() -> Self {
        ImageConfig { store_dir: None, max_size: 1 << 40, project_quota: 0 }
    }
}

/// Pushing network changes to an external Contrail VNC API (`[contrail]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ContrailConfig {
    /// Root of the external contrail-api (e.g. `http://10.0.0.5:8082`);
    /// unset = no push (and no outbox rows are written).
    pub api_url: Option<String>,
    /// Sent as `X-Auth-Token` when set.
    pub token: Option<String>,
    /// Largest wait between retries of a failed push, seconds.
    pub retry_max_s: u64,
}

impl Default for ContrailConfig {
    fn default() -> Self {
        ContrailConfig { api_url: None, token: None, retry_max_s: 300 }
    }
}

impl ContrailConfig {
    /// The configured API root without a trailing slash, when pushing is on.
    pub fn push_url(&self) -> Option<String> {
        self.api_url.as_deref().map(|u| u.trim_end_matches('/')).filter(|u| !u.is_empty()).map(str::to_string)
    }
}

/// A list given either as a TOML/JSON list or as one string separated by
/// spaces or commas (as Contrail's `collectors = a:8086 b:8086`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(transparent)]
pub struct List(pub Vec<String>);

impl<'de> Deserialize<'de> for List {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            One(String),
            Many(Vec<String>),
        }
        let items = match Form::deserialize(d)? {
            Form::One(s) => s.split([' ', ',', '\t']).map(str::to_string).collect(),
            Form::Many(v) => v,
        };
        Ok(List(items.into_iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()))
    }
}

/// Reporting to Contrail analytics as a Sandesh generator (`[sandesh]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct SandeshConfig {
    /// Collectors, `host[:port]` (port 8086 when left out); none = off.
    pub collectors: List,
    /// The introspect HTTP server (served while the generator runs).
    pub introspect_port: u16,
    /// The generator's `Source`; default: the host name.
    pub source: Option<String>,
    /// `Module`; `ironic-notification-manager` shows ironbark where
    /// Contrail shows that module.
    pub module: String,
    pub node_type: String,
    /// Distinct per process on one host; empty = the conductor name when
    /// one is configured (each process sharing a database has its own),
    /// else `0`. See [`Config::sandesh_instance_id`].
    pub instance_id: String,
    /// Messages waiting for the collector before new ones are dropped.
    pub queue_size: usize,
    /// Reconnection back-off: first wait and cap, milliseconds.
    pub backoff_min_ms: u64,
    pub backoff_max_ms: u64,
    pub connect_timeout_s: u64,
    /// How long the collector has to answer the hello.
    pub handshake_timeout_s: u64,
}

impl Default for SandeshConfig {
    fn default() -> Self {
        SandeshConfig {
            collectors: List::default(),
            introspect_port: 8110,
            source: None,
            module: "ironbark".into(),
            node_type: "Config".into(),
            instance_id: String::new(),
            queue_size: 10_000,
            backoff_min_ms: 1000,
            backoff_max_ms: 30_000,
            connect_timeout_s: 5,
            handshake_timeout_s: 30,
        }
    }
}

impl SandeshConfig {
    /// The collectors as `host:port`, or why one is not an address.
    pub fn collector_addrs(&self) -> anyhow::Result<Vec<String>> {
        self.collectors
            .0
            .iter()
            .map(|c| {
                let (host, port) = match c.strip_prefix('[') {
                    Some(v6) => match v6.split_once(']') {
                        Some((h, rest)) => (format!("[{h}]"), rest.strip_prefix(':')),
                        None => anyhow::bail!("invalid sandesh collector {c:?}"),
                    },
                    None => match c.rsplit_once(':') {
                        Some((h, p)) => (h.to_string(), Some(p)),
                        None => (c.clone(), None),
                    },
                };
                let port: u16 = match port {
                    Some(p) => p.parse().map_err(|_| anyhow::anyhow!("invalid port in sandesh collector {c:?}"))?,
                    None => 8086,
                };
                if host.is_empty() || host == "[]" {
                    anyhow::bail!("invalid sandesh collector {c:?}");
                }
                Ok(format!("{host}:{port}"))
            })
            .collect()
    }
}

/// Ironic's versioned notifications on AMQP (`[notifications]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct NotificationsConfig {
    /// `rabbit://user:pass@host:5672/` (oslo's form; `amqps://` for TLS);
    /// unset = no notifications.
    pub transport_url: Option<String>,
    /// The topic exchange (Ironic's control exchange).
    pub exchange: String,
    /// Ironic's `versioned_notifications_topics`.
    pub topics: List,
    /// Ironic's `notification_level`: debug, info, warning, error, critical.
    pub level: crate::reporters::notifications::Level,
    /// Notifications waiting for the broker before new ones are dropped.
    pub queue_size: usize,
    /// Longest wait between reconnection attempts, seconds.
    pub retry_max_s: u64,
}

impl Default for NotificationsConfig {
    fn default() -> Self {
        NotificationsConfig {
            transport_url: None,
            exchange: "ironic".into(),
            topics: List(vec!["ironic_versioned_notifications".into()]),
            level: crate::reporters::notifications::Level::Info,
            queue_size: 10_000,
            retry_max_s: 30,
        }
    }
}

/// Prometheus metrics (`[metrics]`): `/metrics` on the bare-metal port.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct MetricsConfig {
    pub enabled: bool,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig { enabled: true }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    pub data_dir: PathBuf,
    /// `sqlite://<file>` / a file path, or `postgres://…`. Default: SQLite in the data dir.
    pub database_url: Option<String>,
    pub db_pool_size: u32,
    /// Bootstrap admin password; generated and printed once when unset.
    pub admin_password: Option<String>,
    pub host: String,
    pub auth: AuthMode,
    pub region: String,
    pub identity_port: u16,
    pub baremetal_port: u16,
    pub compute_port: u16,
    pub image_port: u16,
    pub network_port: u16,
    pub contrail_port: u16,
    pub identity_public_url: Option<String>,
    pub baremetal_public_url: Option<String>,
    pub compute_public_url: Option<String>,
    pub image_public_url: Option<String>,
    pub network_public_url: Option<String>,
    pub contrail_public_url: Option<String>,
    /// HTTP worker threads per service; 0 = one per CPU.
    pub workers: usize,
    /// Largest accepted JSON request body, bytes.
    pub max_json_body: usize,
    pub token: TokenConfig,
    pub fake: FakeConfig,
    pub bmc: BmcConfig,
    pub discovery: DiscoveryConfig,
    pub image: ImageConfig,
    pub contrail: ContrailConfig,
    pub sandesh: SandeshConfig,
    pub notifications: NotificationsConfig,
    pub metrics: MetricsConfig,
    /// This process's conductor name (node `reservation`, `/v1/conductors`).
    /// Every process sharing a database needs its own.
    pub conductor_name: Option<String>,
    /// How long after its last heartbeat (every 10 s) a conductor counts as
    /// dead: its nodes' work is then taken over by a live one.
    pub heartbeat_timeout_s: u64,
    /// Key sealing BMC credentials in the database: base64 of 32 bytes.
    /// Unset: `<data_dir>/secrets.key` (made on first start). Processes
    /// sharing one database must share this key.
    pub secrets_key: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("./data"),
            database_url: None,
            db_pool_size: 16,
            admin_password: None,
            host: "127.0.0.1".into(),
            auth: AuthMode::Keystone,
            region: "RegionOne".into(),
            identity_port: 5000,
            baremetal_port: 6385,
            compute_port: 8774,
            image_port: 9292,
            network_port: 9696,
            contrail_port: 8082,
            identity_public_url: None,
            baremetal_public_url: None,
            compute_public_url: None,
            image_public_url: None,
            network_public_url: None,
            contrail_public_url: None,
            workers: 0,
            max_json_body: 1024 * 1024,
            token: TokenConfig::default(),
            fake: FakeConfig::default(),
            bmc: BmcConfig::default(),
            discovery: DiscoveryConfig::default(),
            image: ImageConfig::default(),
            contrail: ContrailConfig::default(),
            sandesh: SandeshConfig::default(),
            notifications: NotificationsConfig::default(),
            metrics: MetricsConfig::default(),
            conductor_name: None,
            heartbeat_timeout_s: 60,
            secrets_key: None,
        }
    }
}

/// Values given on the command line; they win over file and environment.
#[derive(Debug, Default, Clone, clap::Args)]
pub struct Overrides {
    /// TOML configuration file.
    #[arg(long, global = true, env = "IRONBARK_CONFIG")]
    pub config: Option<PathBuf>,
    /// Directory for the SQLite database, signing keys and clouds.yaml.
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    /// Database URL (`postgres://…` for PostgreSQL).
    #[arg(long, global = true)]
    pub database_url: Option<String>,
    /// Bind address of every service.
    #[arg(long, global = true)]
    pub host: Option<String>,
    /// Authentication of the service APIs.
    #[arg(long, global = true, value_enum)]
    pub auth: Option<AuthMode>,
}

impl Config {
    pub fn load(o: &Overrides) -> anyhow::Result<Config> {
        Self::figment(o, Env::prefixed("IRONBARK_").split("__"))
            .extract()
            .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))
    }

    fn figment(o: &Overrides, env: Env) -> Figment {
        let mut f = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = &o.config {
            f = f.merge(Toml::file_exact(path));
        }
        f = f.merge(env.ignore(&["config", "test_pg_url"]));
        if let Some(v) = &o.data_dir {
            f = f.merge(("data_dir", v));
        }
        if let Some(v) = &o.database_url {
            f = f.merge(("database_url", v));
        }
        if let Some(v) = &o.host {
            f = f.merge(("host", v));
        }
        if let Some(v) = o.auth {
            f = f.merge(("auth", v));
        }
        f
    }

    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(u) if !u.is_empty() => u.clone(),
            _ => self.data_dir.join("ironbark.sqlite").display().to_string(),
        }
    }

    pub fn port(&self, s: ServiceKind) -> u16 {
        match s {
            ServiceKind::Identity => self.identity_port,
            ServiceKind::Baremetal => self.baremetal_port,
            ServiceKind::Compute => self.compute_port,
            ServiceKind::Image => self.image_port,
            ServiceKind::Network => self.network_port,
            ServiceKind::Contrail => self.contrail_port,
        }
    }

    pub fn set_port(&mut self, s: ServiceKind, port: u16) {
        match s {
            ServiceKind::Identity => self.identity_port = port,
            ServiceKind::Baremetal => self.baremetal_port = port,
            ServiceKind::Compute => self.compute_port = port,
            ServiceKind::Image => self.image_port = port,
            ServiceKind::Network => self.network_port = port,
            ServiceKind::Contrail => self.contrail_port = port,
        }
    }

    fn configured_public_url(&self, s: ServiceKind) -> Option<&String> {
        match s {
            ServiceKind::Identity => self.identity_public_url.as_ref(),
            ServiceKind::Baremetal => self.baremetal_public_url.as_ref(),
            ServiceKind::Compute => self.compute_public_url.as_ref(),
            ServiceKind::Image => self.image_public_url.as_ref(),
            ServiceKind::Network => self.network_public_url.as_ref(),
            ServiceKind::Contrail => self.contrail_public_url.as_ref(),
        }
    }

    /// The public root URL of a service (no trailing slash): configured, or
    /// derived from the bind address and port. A wildcard bind address is
    /// replaced by the loopback address.
    pub fn public_url(&self, s: ServiceKind) -> String {
        if let Some(u) = self.configured_public_url(s).filter(|u| !u.is_empty()) {
            return u.trim_end_matches('/').to_string();
        }
        let host = match self.host.parse::<IpAddr>() {
            Ok(ip) if ip.is_unspecified() => "127.0.0.1".to_string(),
            Ok(IpAddr::V6(ip)) => format!("[{ip}]"),
            _ => self.host.clone(),
        };
        format!("http://{host}:{}", self.port(s))
    }

    /// The URL registered in the catalog for a service.
    pub fn catalog_url(&self, s: ServiceKind) -> String {
        format!("{}{}", self.public_url(s), s.catalog_suffix())
    }

    pub fn conductor_name(&self) -> String {
        if let Some(n) = self.conductor_name.as_ref().filter(|n| !n.is_empty()) {
            return n.clone();
        }
        format!("ironbark-{}", hostname())
    }

    /// The Sandesh generator's `InstanceId`: as configured; else the
    /// configured conductor name, so that processes sharing a host (which
    /// must have distinct conductor names) are distinct generators to the
    /// collector; else `0`, Contrail's usual id of a single instance.
    pub fn sandesh_instance_id(&self) -> String {
        let configured = self.sandesh.instance_id.trim();
        if !configured.is_empty() {
            return configured.to_string();
        }
        self.conductor_name.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| "0".into())
    }

    /// The Sandesh generator's `Source`.
    pub fn sandesh_source(&self) -> String {
        self.sandesh.source.clone().filter(|s| !s.is_empty()).unwrap_or_else(hostname)
    }

    /// Where versions before the signing keys moved into the database kept
    /// them; imported once.
    pub fn keys_dir(&self) -> PathBuf {
        self.data_dir.join("keys")
    }

    pub fn fake_disk_dir(&self) -> PathBuf {
        self.fake.disk_dir.clone().unwrap_or_else(|| self.data_dir.join("fake-disks"))
    }

    pub fn image_store_dir(&self) -> PathBuf {
        self.image.store_dir.clone().unwrap_or_else(|| self.data_dir.join("images"))
    }

    pub fn workers(&self) -> usize {
        if self.workers > 0 { self.workers } else { std::thread::available_parallelism().map_or(2, |n| n.get()) }
    }
}

/// This machine's host name.
pub fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// The `clouds.yaml` a user pastes to reach this deployment.
pub fn clouds_yaml(cfg: &Config, password: Option<&str>) -> String {
    let password = password.unwrap_or("<the admin password>");
    format!(
        "clouds:\n  ironbark:\n    auth:\n      auth_url: {}\n      username: admin\n      password: \"{}\"\n      \
         project_name: admin\n      user_domain_name: Default\n      project_domain_name: Default\n    \
         region_name: {}\n    interface: public\n    identity_api_version: 3\n",
        cfg.catalog_url(ServiceKind::Identity),
        password.replace('\\', "\\\\").replace('"', "\\\""),
        cfg.region
    )
}

/// Ensures the data directory exists.
pub fn ensure_dir(p: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(p).map_err(|e| anyhow::anyhow!("cannot create {}: {e}", p.display()))
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's own error type
mod tests {
    use super::*;

    #[test]
    fn layers_apply_in_order() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("c.toml", "identity_port = 5001\nhost = \"10.0.0.1\"\n[token]\nexpiration = 60\n")?;
            jail.set_env("IRONBARK_IDENTITY_PORT", "5002");
            jail.set_env("IRONBARK_TOKEN__KEY_ROTATION", "7");
            let o = Overrides { config: Some("c.toml".into()), host: Some("0.0.0.0".into()), ..Default::default() };
            let c: Config = Config::figment(&o, Env::prefixed("IRONBARK_").split("__")).extract()?;
            assert_eq!(c.identity_port, 5002);
            assert_eq!(c.token.expiration, 60);
            assert_eq!(c.token.key_rotation, 7);
            assert_eq!(c.contrail.push_url(), None);
            jail.set_env("IRONBARK_CONTRAIL__API_URL", "http://10.0.0.5:8082/");
            jail.set_env("IRONBARK_CONTRAIL__RETRY_MAX_S", "30");
            let c: Config = Config::figment(&o, Env::prefixed("IRONBARK_").split("__")).extract()?;
            assert_eq!(c.contrail.push_url().as_deref(), Some("http://10.0.0.5:8082"));
            assert_eq!(c.contrail.retry_max_s, 30);
            assert_eq!(c.contrail_port, 8082);
            assert_eq!(c.host, "0.0.0.0");
            assert!(c.sandesh.collectors.0.is_empty());
            jail.set_env("IRONBARK_SANDESH__COLLECTORS", "10.0.0.1:8087 10.0.0.2,[::1]");
            jail.set_env("IRONBARK_NOTIFICATIONS__TOPICS", "a b");
            jail.set_env("IRONBARK_NOTIFICATIONS__LEVEL", "error");
            let c: Config = Config::figment(&o, Env::prefixed("IRONBARK_").split("__")).extract()?;
            assert_eq!(
                c.sandesh.collector_addrs().unwrap(),
                vec!["10.0.0.1:8087".to_string(), "10.0.0.2:8086".into(), "[::1]:8086".into()]
            );
            assert_eq!(c.notifications.topics.0, vec!["a".to_string(), "b".into()]);
            assert_eq!(c.notifications.level, crate::reporters::notifications::Level::Error);
            assert_eq!(c.notifications.exchange, "ironic");
            assert_eq!(c.public_url(ServiceKind::Identity), "http://127.0.0.1:5002");
            assert_eq!(c.catalog_url(ServiceKind::Compute), "http://127.0.0.1:8774/v2.1");
            Ok(())
        });
    }

    #[test]
    fn workers_are_distinct_sandesh_generators() {
        let mut c = Config::default();
        assert_eq!(c.sandesh_instance_id(), "0");
        c.conductor_name = Some("worker-2".into());
        assert_eq!(c.sandesh_instance_id(), "worker-2");
        c.sandesh.instance_id = "7".into();
        assert_eq!(c.sandesh_instance_id(), "7");
    }

    #[test]
    fn bad_value_is_a_clear_error() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("IRONBARK_IDENTITY_PORT", "not-a-port");
            let err = Config::figment(&Overrides::default(), Env::prefixed("IRONBARK_").split("__"))
                .extract::<Config>()
                .unwrap_err();
            assert!(err.to_string().to_lowercase().contains("identity_port"), "{err}");
            Ok(())
        });
    }
}
