//! Node sub-resources: `/states/*`, `/maintenance`, `/management/*`,
//! `/validate`, `/traits`, `/history`.

use actix_web::{HttpResponse, web};
use serde_json::{Map, Value, json};

use super::error::{BaremetalError, Result};
use super::nodes::{find_node, load_visible};
use super::openapi::Link;
use super::{Api, BaremetalState, Paging, Query, body_object, json_text, only_params, ts};
use crate::common::openapi::Routes;
use crate::common::policy::{Level, Owner, Rule};
use crate::drivers;
use crate::engine::events::NodeAction;
use crate::engine::states::{PowerState, Verb};
use crate::engine::{EngineError, Event, EventKind};
use crate::storage::baremetal::{self as bm, Node};

impl From<EngineError> for BaremetalError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::NotFound(id) => BaremetalError::NotFound(format!("Node {id} could not be found.")),
            EngineError::Locked { node, host } => BaremetalError::locked(&node, &host),
            EngineError::InvalidState { .. } | EngineError::Maintenance { .. } => {
                BaremetalError::BadRequest(e.to_string())
            }
            EngineError::Protected(node) => BaremetalError::Forbidden(format!(
                "Node {node} is protected and cannot be undeployed, rebuilt or deleted"
            )),
            EngineError::Conflict(m) => BaremetalError::Conflict(m),
            EngineError::DriverInfo(m) | EngineError::BadInput(m) => BaremetalError::BadRequest(m),
            EngineError::LookupFailed => BaremetalError::NotFound("Resource could not be found.".into()),
            EngineError::Bmc(m) => BaremetalError::Unavailable(format!("The node's BMC failed: {m}")),
            EngineError::Storage(s) => s.into(),
        }
    }
}

// ---- documents ------------------------------------------------------------------

/// A node's states.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct NodeStates {
    console_enabled: bool,
    last_error: Option<String>,
    power_state: Option<String>,
    /// Null for `available` below 1.2.
    provision_state: Option<String>,
    #[schema(format = DateTime)]
    provision_updated_at: Option<String>,
    target_power_state: Option<String>,
    target_provision_state: Option<String>,
    /// (1.12)
    #[schema(value_type = Option<Object>, nullable = false)]
    raid_config: Option<Value>,
    /// (1.12)
    #[schema(value_type = Option<Object>, nullable = false)]
    target_raid_config: Option<Value>,
    /// (1.75)
    boot_mode: Option<String>,
    /// (1.75)
    secure_boot: Option<bool>,
}

/// What a provision state change asks for (`target`) and with what.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ProvisionRequest {
    #[schema(inline)]
    target: ProvisionTarget,
    /// For `active` and `rebuild`: a URL, a gzipped and base64-encoded ISO
    /// 9660 image, or (1.56) an object of `meta_data`, `network_data`,
    /// `user_data` and `vendor_data` to build one from.
    #[schema(inline)]
    configdrive: Option<ConfigDrive>,
    /// (1.15) Required for `clean`.
    #[schema(value_type = Option<Vec<Object>>, nullable = false)]
    clean_steps: Option<Value>,
    /// (1.69) For `active` and `rebuild`.
    #[schema(value_type = Option<Vec<Object>>, nullable = false)]
    deploy_steps: Option<Value>,
    /// (1.87) Required for `service`.
    #[schema(value_type = Option<Vec<Object>>, nullable = false)]
    service_steps: Option<Value>,
    /// (1.38) Required for `rescue`.
    #[schema(nullable = false, min_length = 1)]
    rescue_password: Option<String>,
    /// (1.70) Clean or service without booting the agent ramdisk.
    #[schema(nullable = false)]
    disable_ramdisk: Option<bool>,
    /// (1.92) A runbook (UUID or name) to clean or service with.
    #[schema(nullable = false)]
    runbook: Option<String>,
}

/// The provision verbs, with the microversion that accepts each: `active`,
/// `deleted`, `rebuild` (1.1), `manage`, `provide` (1.4), `inspect` (1.6),
/// `abort` (1.13), `clean` (1.15), `adopt` (1.17), `rescue`, `unrescue`
/// (1.38), `deploy`, `undeploy` (1.73), `unhold` (1.85), `service` (1.87).
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum ProvisionTarget {
    Active,
    Deploy,
    Deleted,
    Undeploy,
    Manage,
    Provide,
    Inspect,
    Abort,
    Clean,
    Adopt,
    Rescue,
    Unrescue,
    Rebuild,
    Unhold,
    Service,
}

/// A config drive: a URL or encoded image, or (1.56) what to build it from.
#[derive(utoipa::ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum ConfigDrive {
    Text(String),
    Build(#[schema(inline)] ConfigDriveParts),
}

#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ConfigDriveParts {
    #[schema(value_type = Option<Object>)]
    meta_data: Option<Value>,
    #[schema(value_type = Option<Object>)]
    network_data: Option<Value>,
    /// Text, or an object (serialised as JSON).
    #[schema(value_type = Option<Value>)]
    user_data: Option<Value>,
    #[schema(value_type = Option<Object>)]
    vendor_data: Option<Value>,
}

/// A power state change.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct PowerRequest {
    #[schema(inline)]
    target: PowerTarget,
    /// (1.27) Seconds to wait for the change.
    #[schema(nullable = false, minimum = 1)]
    timeout: Option<i64>,
}

/// `soft rebooting` and `soft power off` from 1.27.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub enum PowerTarget {
    #[schema(rename = "power on")]
    On,
    #[schema(rename = "power off")]
    Off,
    #[schema(rename = "rebooting")]
    Rebooting,
    #[schema(rename = "soft rebooting")]
    SoftRebooting,
    #[schema(rename = "soft power off")]
    SoftOff,
}

/// (1.12) The RAID configuration to build at the next cleaning.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct RaidConfig {
    /// The logical disks (`size_gb`, `raid_level`, …).
    #[schema(value_type = Vec<Object>)]
    logical_disks: Vec<Value>,
}

/// A node's console.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ConsoleState {
    console_enabled: bool,
    /// Where to reach the console; null while it is disabled.
    #[schema(inline)]
    console_info: Option<ConsoleInfo>,
}

#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ConsoleInfo {
    /// `vnc` or `fake`.
    r#type: String,
    url: String,
}

/// Enables or disables a node's console.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ConsoleRequest {
    enabled: bool,
}

/// (1.76) The boot mode to set.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct BootModeRequest {
    #[schema(inline)]
    target: BootMode,
}

#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum BootMode {
    Uefi,
    Bios,
}

/// (1.76) Whether to boot securely.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct SecureBootRequest {
    target: bool,
}

/// Why the node is put in maintenance (also accepted as `?reason=`).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct MaintenanceRequest {
    reason: Option<String>,
}

/// A node's next boot device.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct BootDeviceState {
    /// Null when the BMC does not tell.
    boot_device: Option<String>,
    /// Whether it stays the boot device after the next boot.
    persistent: Option<bool>,
}

/// Sets a node's next boot device.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct BootDeviceRequest {
    #[schema(inline)]
    boot_device: BootDeviceName,
    /// For every boot rather than the next one (false unless given).
    #[schema(nullable = false)]
    persistent: Option<bool>,
}

/// One of the node's supported boot devices.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum BootDeviceName {
    Pxe,
    Disk,
    Cdrom,
    Bios,
    Safe,
    Wanboot,
    Iscsiboot,
    Floppy,
    Uefihttp,
}

/// The boot devices a node's hardware supports.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct SupportedBootDevices {
    supported_boot_devices: Vec<String>,
}

/// Whether a node's interfaces are ready for use, by interface
/// (`firmware` from 1.86).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct NodeValidation {
    bios: InterfaceValidation,
    boot: InterfaceValidation,
    console: InterfaceValidation,
    deploy: InterfaceValidation,
    #[schema(nullable = false)]
    firmware: Option<InterfaceValidation>,
    inspect: InterfaceValidation,
    management: InterfaceValidation,
    network: InterfaceValidation,
    power: InterfaceValidation,
    raid: InterfaceValidation,
    rescue: InterfaceValidation,
    storage: InterfaceValidation,
    vendor: InterfaceValidation,
}

/// One interface's validation: `result` is null where the interface is
/// not supported.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct InterfaceValidation {
    result: Option<bool>,
    /// Why it failed or is not supported.
    #[schema(nullable = false)]
    reason: Option<String>,
}

/// (1.37) A node's traits.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct NodeTraits {
    traits: Vec<String>,
}

/// (1.37) A node's new traits (at most 50): standard ones or `CUSTOM_…`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct TraitsRequest {
    #[schema(max_items = 50)]
    traits: Vec<String>,
}

/// (1.78) An event in a node's history.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct HistoryEvent {
    uuid: uuid::Uuid,
    #[schema(format = DateTime)]
    created_at: String,
    /// `info` or `error`.
    severity: String,
    event: String,
    links: Vec<Link>,
    /// Detail only.
    #[schema(nullable = false)]
    event_type: Option<String>,
    /// Detail only.
    conductor: Option<String>,
    /// Detail only: the user who caused it.
    user: Option<String>,
    /// Detail only (1.113): the user's project.
    project: Option<String>,
    /// Detail only (1.115): the provision state it left the node in.
    state: Option<String>,
    /// Detail only (1.115).
    target_provision_state: Option<String>,
    /// Detail only (1.115): how long the step took.
    duration_seconds: Option<i64>,
}

/// (1.78) A page of a node's history (uuid, created_at, severity, event
/// unless `detail`); `next` is the next page's URL when this one is full.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct HistoryList {
    history: Vec<HistoryEvent>,
    #[serde(default)]
    next: String,
}

/// The query of a history listing.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct HistoryQuery {
    /// Every field of each event.
    detail: Option<bool>,
    /// The page size.
    #[param(minimum = 1)]
    limit: Option<i64>,
    /// The last event of the previous page.
    marker: Option<uuid::Uuid>,
}

/// A small stable number from a node's UUID (its fake VNC port offset).
fn uuid_hash(uuid: &str) -> u64 {
    uuid.bytes().fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)))
}

fn owner_of(n: &Node) -> Owner<'_> {
    Owner { owner: n.owner.as_deref(), lessee: n.lessee.as_deref() }
}

fn require(api: &Api, n: &Node, rule: Rule, name: &str) -> Result<()> {
    if api.ctx.allows(rule, owner_of(n)) {
        Ok(())
    } else {
        Err(BaremetalError::Forbidden(format!("baremetal:node:{name}")))
    }
}

/// system member, owner member, lessee admin/manager.
const PROVISION_RULE: Rule = Rule { system: Level::Member, project: Some(Level::Member), lessee: Some(Level::Manager) };
const MEMBER_RULE: Rule = Rule { system: Level::Member, project: Some(Level::Member), lessee: Some(Level::Member) };
const OWNER_MEMBER_RULE: Rule = Rule { system: Level::Member, project: Some(Level::Member), lessee: None };

fn accepted(state: &BaremetalState, n: &Node, what: &str) -> HttpResponse {
    HttpResponse::Accepted().insert_header(("Location", format!("{}/v1/nodes/{}/{what}", state.base, n.uuid))).finish()
}

/// A node's power, provision, console, RAID and boot states.
#[utoipa::path(get, path = "/v1/nodes/{node_ident}/states", tag = "node management", params(("node_ident" = String, Path, description = "A node's UUID or (1.5) name.")),
    responses((status = 200, description = "The node's states.", body = NodeStates)))]
async fn get_states(api: Api, path: web::Path<String>, state: web::Data<BaremetalState>) -> Result<HttpResponse> {
    let n = load_visible(&state, &path, &api).await?;
    let mut s = json!({
        "console_enabled": n.console_enabled,
        "last_error": n.last_error,
        "power_state": n.power_state,
        "provision_state": n.provision_state,
        "provision_updated_at": n.provision_updated_at.as_ref().map(ts),
        "target_power_state": n.target_power_state,
        "target_provision_state": n.target_provision_state,
    });
    if !api.at_least(2) && n.provision_state == "available" {
        s["provision_state"] = Value::Null;
    }
    if api.at_least(12) {
        s["raid_config"] = json_text(&n.raid_config);
        s["target_raid_config"] = json_text(&n.target_raid_config);
    }
    if api.at_least(75) {
        s["boot_mode"] = json!(n.boot_mode);
        s["secure_boot"] = json!(n.secure_boot);
    }
    Ok(HttpResponse::Ok().json(s))
}

/// Changes a node's provision state.
///
/// The change is accepted and carried out in the background; `GET …/states` follows it.
#[utoipa::path(put, path = "/v1/nodes/{node_ident}/states/provision", tag = "node management", params(("node_ident" = String, Path, description = "A node's UUID or (1.5) name.")),
    request_body = ProvisionRequest,
    responses((status = 202, description = "Accepted.", headers(("Location" = String, description = "The URL of the node's states.")))))]
async fn provision(
    api: Api,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<BaremetalState>,
) -> Result<HttpResponse> {
    let m = body_object(&body, "provision")?;
    let known = [
        "target",
        "configdrive",
        "clean_steps",
        "deploy_steps",
        "service_steps",
        "rescue_password",
        "disable_ramdisk",
        "runbook",
    ];
    if let Some(k) = m.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(BaremetalError::BadRequest(format!("Unexpected arguments: {k}")));
    }
    let target = m
        .get("target")
        .and_then(Value::as_str)
        .ok_or_else(|| BaremetalError::BadRequest("Missing mandatory parameter: target".into()))?
        .to_string();
    let n = load_visible(&state, &path, &api).await?;
    require(&api, &n, PROVISION_RULE, "set_provision_state")?;
    let verb = Verb::parse(&target).ok_or_else(|| {
        BaremetalError::BadRequest(format!(
            "The requested action \"{target}\" can not be performed on node \"{}\" while it is in state \"{}\".",
            n.uuid, n.provision_state
        ))
    })?;
    api.accept(verb.min_minor())?;
    if m.contains_key("configdrive") && !matches!(verb, Verb::Active | Verb::Rebuild) {
        return Err(BaremetalError::BadRequest(
            "Adding a config drive is only supported when setting provision state to active, rebuild".into(),
        ));
    }
    if let Some(cd) = m.get("configdrive") {
        if let Some(obj) = cd.as_object() {
            api.accept(56)?;
            crate::drivers::configdrive::ConfigDrive::from_object(obj)
                .map_err(|e| BaremetalError::BadRequest(e.to_string()))?;
        } else if let Some(text) = cd.as_str() {
            // A URL is fetched by the deploy; anything else must be the drive itself.
            if !text.starts_with("http://") && !text.starts_with("https://") {
                crate::drivers::configdrive::decode(text).map_err(|e| BaremetalError::BadRequest(e.to_string()))?;
            }
        } else if !cd.is_null() {
            return Err(BaremetalError::BadRequest("Invalid configdrive: must be a string or an object".into()));
        }
    }
    match verb {
        Verb::Clean if !m.get("clean_steps").is_some_and(Value::is_array) => {
            return Err(BaremetalError::BadRequest(
                "\"clean_steps\" is required when setting target provision state to clean".into(),
            ));
        }
        Verb::Service if !m.get("service_steps").is_some_and(Value::is_array) => {
            return Err(BaremetalError::BadRequest(
                "\"service_steps\" is required when setting target provision state to service".into(),
            ));
        }
        Verb::Rescue if m.get("rescue_password").is_none_or(|p| p.as_str().is_none_or(|s| s.is_empty())) => {
            return Err(BaremetalError::BadRequest(
                "A non-empty \"rescue_password\" is required when setting target provision state to rescue".into(),
            ));
        }
        _ => {}
    }
    if m.contains_key("clean_steps") && verb != Verb::Clean {
        return Err(BaremetalError::BadRequest(
            "\"clean_steps\" is only valid when setting target provision state to clean".into(),
        ));
    }
    if m.contains_key("deploy_steps") {
        api.accept(69)?;
        if !matches!(verb, Verb::Active | Verb::Rebuild) {
            return Err(BaremetalError::BadRequest(
                "\"deploy_steps\" is only valid when setting target provision state to active or rebuild".into(),
            ));
        }
    }
    if m.contains_key("disable_ramdisk") {
        api.accept(70)?;
    }
    if m.contains_key("runbook") {
        api.accept(92)?;
    }
    if n.protected && matches!(verb, Verb::Deleted | Verb::Undeploy | Verb::Rebuild) {
        return Err(EngineError::Protected(n.uuid.clone()).into());
    }
    let extras = ProvisionExtras {
        configdrive: m.get("configdrive").cloned(),
        steps: m.get("clean_steps").or(m.get("deploy_steps")).or(m.get("service_steps")).cloned(),
    };
    state.engine.provision_with(&n.uuid, verb, api.actor(), extras.into_internal()).await?;
    Ok(accepted(&state, &n, "states"))
}

/// Request parts the engine keeps in `driver_internal_info` for its work.
struct ProvisionExtras {
    configdrive: Option<Value>,
    steps: Option<Value>,
}

impl ProvisionExtras {
    fn into_internal(self) -> Map<String, Value> {
        let mut m = Map::new();
        if let Some(s) = self.steps {
            m.insert("requested_steps".into(), s);
        }
        if let Some(cd) = self.configdrive {
            m.insert("configdrive".into(), cd);
        }
        m
    }
}

/// Changes a node's power state.
///
/// The change is accepted and carried out in the background; `GET …/states` follows it.
#[utoipa::path(put, path = "/v1/nodes/{node_ident}/states/power", tag = "node management", params(("node_ident" = String, Path, description = "A node's UUID or (1.5) name.")),
    request_body = PowerRequest,
    responses((status = 202, description = "Accepted.", headers(("Location" = String, description = "The URL of the node's states.")))))]
async fn power(
    api: Api,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<BaremetalState>,
) -> Result<HttpResponse> {
    let m = body_object(&body, "power")?;
    if let Some(k) = m.keys().find(|k| !["target", "timeout"].contains(&k.as_str())) {
        return Err(BaremetalError::BadRequest(format!("Unexpected arguments: {k}")));
    }
    let target = m
        .get("target")
        .and_then(Value::as_str)
        .ok_or_else(|| BaremetalError::BadRequest("Missing mandatory parameter: target".into()))?
        .to_string();
    let n = load_visible(&state, &path, &api).await?;
    require(&api, &n, MEMBER_RULE, "set_power_state")?;
    if let Some(t) = m.get("timeout") {
        api.accept(27)?;
        match t.as_i64() {
            Some(v) if v >= 1 => {}
            _ => {
                return Err(BaremetalError::BadRequest(format!(
                    "Invalid timeout value {t}; it must be a positive integer."
                )));
            }
        }
    }
    let p = match target.parse::<PowerState>() {
        Ok(p) => p,
        Err(()) => {
            return Err(BaremetalError::BadRequest(format!(
                "The requested action \"{target}\" can not be performed on node \"{}\" while it is in state \"{}\".",
                n.uuid,
                n.power_state.as_deref().unwrap_or("None")
            )));
        }
    };
    if matches!(p, PowerState::SoftRebooting | PowerState::SoftOff) {
        api.accept(27)?;
    }
    if matches!(n.provision_state.as_str(), "cleaning" | "clean wait") {
        return Err(BaremetalError::BadRequest(format!(
            "Can not change power state of node {} while it is in state {}.",
            n.uuid, n.provision_state
        )));
    }
    if n.disable_power_off && matches!(p, PowerState::Off | PowerState::SoftOff) {
        return Err(BaremetalError::Conflict(format!("Node {} does not allow being powered off.", n.uuid)));
    }
    state.engine.set_power(&n.uuid, p, api.actor()).await?;
    Ok(accepted(&state, &n, "states"))
}

/// Applies a quick synchronous change to a node that is not busy.
async fn quick_update(
    state: &BaremetalState,
    api: &Api,
    ident: &str,
    f: impl FnOnce(&mut Node) -> Result<()> + Send + 'static,
) -> Result<Node> {
    quick_update_as(state, api, ident, EventKind::NodeChanged, f).await
}

/// As [`quick_update`], reporting the change as `kind`.
async fn quick_update_as(
    state: &BaremetalState,
    api: &Api,
    ident: &str,
    kind: EventKind,
    f: impl FnOnce(&mut Node) -> Result<()> + Send + 'static,
) -> Result<Node> {
    let ident = ident.to_string();
    let a = Api { ctx: api.ctx.clone(), version: api.version };
    let node = state
        .storage()
        .write(move |c| {
            let mut n = match find_node(c, &ident, &a) {
                Ok(n) => n,
                Err(e) => return Ok(Err(e)),
            };
            if let Some(h) = &n.reservation {
                return Ok(Err(BaremetalError::locked(&n.uuid, h)));
            }
            if let Err(e) = f(&mut n) {
                return Ok(Err(e));
            }
            n.updated_at = Some(chrono::Utc::now().naive_utc());
            Ok(Ok(bm::node_update(c, &n)?))
        })
        .await??;
    state.engine.emit(Event::of(&node, kind));
    Ok(node)
}

/// (1.12) Sets a node's target RAID configuration.
#[utoipa::path(put, path = "/v1/nodes/{node_ident}/states/raid", tag = "node management", params(("node_ident" = String, Path, description = "A node's UUID or (1.5) name.")),
    request_body = RaidConfig, responses((status = 204, description = "Set; built at the next cleaning.")))]
async fn raid(
    api: Api,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<BaremetalState>,
) -> Result<HttpResponse> {
    api.accept(12)?;
    let n = load_visible(&state, &path, &api).await?;
    require(&api, &n, OWNER_MEMBER_RULE, "set_raid_state")?;
    let m = body_object(&body, "raid")?;
    match m.get("logical_disks") {
        Some(Value::Array(_)) => {}
        _ => {
            return Err(BaremetalError::BadRequest(
                "Schema error for target_raid_config: 'logical_disks' is a required property".into(),
            ));
        }
    }
    let text = Value::Object(m).to_string();
    quick_update(&state, &api, &path, move |n| {
        n.target_raid_config = text;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A node's console: whether it is enabled and where to reach it.
#[utoipa::path(get, path = "/v1/nodes/{node_ident}/states/console", tag = "node management", params(("node_ident" = String, Path, description = "A node's UUID or (1.5) name.")),
    responses((status = 200, description = "The node's console.", body = ConsoleState)))]
async fn console_get(api: Api, path: web::Path<String>, state: web::Data<BaremetalState>) -> Result<HttpResponse> {
    let n = load_visible(&state, &path, &api).await?;
    let ifaces = json_text(&n.interfaces);
    let kind = ifaces.get("console").and_then(Value::as_str).unwrap_or("no-console").to_string();
    if kind == "no-console" {
        return Err(BaremetalError::BadRequest(format!(
            "Driver {} does not support console (disabled or not implemented).",
            n.driver
        )));
    }
    let info = if n.console_enabled {
        if kind == "fake-graphical" {
            let internal = json_text(&n.driver_internal_info);
            let host = internal.get("vnc_host").and_then(Value::as_str).unwrap_or("127.0.0.1").to_string();
            let port = internal.get("vnc_port").and_then(Value::as_u64).unwrap_or(5900);
            json!({"type": "vnc", "url": format!("vnc://{host}:{port}/?node={}", n.uuid)})
        } else {
            json!({"type": "fake", "url": format!("fake://{}", n.uuid)})
        }
    } else {
        Value::Null
    };
    Ok(HttpResponse::Ok().json(json!({"console_enabled": n.console_enabled, "console_info": info})))
}

/// Enables or disables a node's console.
#[utoipa::path(put, path = "/v1/nodes/{node_ident}/states/console", tag = "node management", params(("node_ident" = String, Path, description = "A node's UUID or (1.5) name.")),
    request_body = ConsoleRequest,
    responses((status = 202, description = "Accepted.", headers(("Location" = String, description = "The URL of the node's console.")))))]
async fn console_set(
    api: Api,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<BaremetalState>,
) -> Result<HttpResponse> {
    let m = body_object(&body, "console")?;
    let enabled = match m.get("enabled") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => super::parse_bool("enabled", s)?,
        _ => return Err(BaremetalError::BadRequest("Missing mandatory parameter: enabled".into())),
    };
    let n = load_visible(&state, &path, &api).await?;
    require(&api, &n, OWNER_MEMBER_RULE, "set_console_state")?;
    let node = quick_update_as(&state, &api, &path, EventKind::Console { enabled }, move |n| {
        n.console_enabled = enabled;
        let graphical = json_text(&n.interfaces).get("console").and_then(Value::as_str) == Some("fake-graphical");
        let mut internal: Map<String, Value> = serde_json::from_str(&n.driver_internal_info).unwrap_or_default();
        if enabled && graphical {
            internal.insert("vnc_host".into(), json!("127.0.0.1"));
            internal.insert("vnc_port".into(), json!(5900 + (uuid_hash(&n.uuid) % 1000)));
        } else {
            internal.remove("vnc_host");
            internal.remove("vnc_port");
        }
        n.driver_internal_info = Value::Object(internal).to_string();
        Ok(())
    })
    .await?;
    Ok(accepted(&state, &node, "states/console"))
}

/// (1.76) Sets a node's boot mode.
#[utoipa::path(put, path = "/v1/nodes/{node_ident}/states/boot_mode", tag = "node management", params(("node_ident" = String, Path, description = "A node's UUID or (1.5) name.")),
    request_body = BootModeRequest,
    responses((status = 202, description = "Accepted.", headers(("Location" = String, description = "The URL of the node's states.")))))]
async fn boot_mode(
    api: Api,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<BaremetalState>,
) -> Result<HttpResponse> {
    api.require(76)?;
    let m = body_object(&body, "boot_mode")?;
    let target = match m.get("target").and_then(Value::as_str) {
        Some(t @ ("uefi" | "bios")) => t.to_string(),
        _ => return Err(BaremetalError::BadRequest("Invalid boot mode target; it must be uefi or bios".into())),
    };
    let n = load_visible(&state, &path, &api).await?;
    require(&api, &n, OWNER_MEMBER_RULE, "set_boot_mode")?;
    let node = quick_update(&state, &api, &path, move |n| {
        n.boot_mode = Some(target);
        Ok(())
    })
    .await?;
    Ok(accepted(&state, &node, "states"))
}

/// (1.76) Turns a node's secure boot on or off.
#[utoipa::path(put, path = "/v1/nodes/{node_ident}/states/secure_boot", tag = "node management", params(("node_ident" = String, Path, description = "A node's UUID or (1.5) name.")),
    request_body = SecureBootRequest,
    responses((status = 202, description = "Accepted.", headers(("Location" = String, description = "The URL of the node's states.")))))]
async fn secure_boot(
    api: Api,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<BaremetalState>,
) -> Result<HttpResponse> {
    api.require(76)?;
    let m = body_object(&body, "secure_boot")?;
    let target = match m.get("target") {
        Some(Value::Bool(b)) => *b,
        _ => return Err(BaremetalError::BadRequest("Invalid secure boot target; it must be a boolean".into())),
    };
    let n = load_visible(&state, &path, &api).await?;
    require(&api, &n, OWNER_MEMBER_RULE, "set_secure_boot")?;
    let node = quick_update(&state, &api, &path, move |n| {
        n.secure_boot = Some(target);
        Ok(())
    })
    .await?;
    Ok(accepted(&state, &node, "states"))
}

// ---- maintenance ----------------------------------------------------------------------

/// Puts a node in maintenance.
#[utoipa::path(put, path = "/v1/nodes/{node_ident}/maintenance", tag = "node management",
    params(("node_ident" = String, Path, description = "A node's UUID or (1.5) name."), ("reason" = Option<String>, Query, description = "Why (the body's `reason` wins).")),
    request_body(content = Option<MaintenanceRequest>, description = "Optional."),
    responses((status = 202, description = "Accepted.", headers(("Location" = String, description = "The URL of the node's maintenance.")))))]
async fn maintenance_set(
    api: Api,
    path: web::Path<String>,
    q: Query,
    body: web::Bytes,
    state: web::Data<BaremetalState>,
) -> Result<HttpResponse> {
    only_params(&q, &["reason"])?;
    let reason = if body.is_empty() {
        q.get("reason").cloned()
    } else {
        let m = body_object(&body, "maintenance")?;
        m.get("reason").and_then(Value::as_str).map(str::to_string).or_else(|| q.get("reason").cloned())
    };
    let n = load_visible(&state, &path, &api).await?;
    require(&api, &n, PROVISION_RULE, "set_maintenance")?;
    let node = maintenance(&state, &n.uuid, Some(reason)).await?;
    Ok(accepted(&state, &node, "maintenance"))
}

/// Takes a node out of maintenance (clearing its reason and fault).
#[utoipa::path(delete, path = "/v1/nodes/{node_ident}/maintenance", tag = "node management", params(("node_ident" = String, Path, description = "A node's UUID or (1.5) name.")),
    responses((status = 202, description = "Accepted.", headers(("Location" = String, description = "The URL of the node's maintenance.")))))]
async fn maintenance_unset(
    api: Api,
    path: web::Path<String>,
    state: web::Data<BaremetalState>,
) -> Result<HttpResponse> {
    let n = load_visible(&state, &path, &api).await?;
    require(&api, &n, PROVISION_RULE, "clear_maintenance")?;
    let node = maintenance(&state, &n.uuid, None).await?;
    Ok(accepted(&state, &node, "maintenance"))
}

/// Maintenance may change even while the node is busy (it is how an
/// operator stops a node being worked on), so it takes no lock.
async fn maintenance(state: &BaremetalState, uuid: &str, set: Option<Option<String>>) -> Result<Node> {
    let id = uuid.to_string();
    let node = state
        .storage()
        .write(move |c| {
            for _ in 0..5 {
                let mut n = bm::node(c, &id)?;
                match &set {
                    Some(reason) => {
                        n.maintenance = true;
                        n.maintenance_reason = reason.clone();
                    }
                    None => {
                        n.maintenance = false;
                        n.maintenance_reason = None;
                        n.fault = None;
                    }
                }
                n.updated_at = Some(chrono::Utc::now().naive_utc());
                match bm::node_update(c, &n) {
                    Ok(n) => return Ok(n),
                    Err(crate::storage::StorageError::Conflict(_)) => continue,
                    Err(e) => return Err(e),
                }
            }
            Err(crate::storage::StorageError::Conflict(format!("node {id} is changing too fast")))
        })
        .await?;
    let kind = EventKind::Node { action: NodeAction::MaintenanceSet, prior_updated_at: None };
    state.engine.emit(Event::of(&node, kind));
    Ok(node)
}

// ---- management ---------------------------------------------------------------------------

const BOOT_DEVICES: &[&str] = &["pxe", "disk", "cdrom", "bios", "safe", "wanboot", "iscsiboot", "floppy", "uefihttp"];

async fn supported_boot_devices(state: &BaremetalState, n: &Node) -> Result<Vec<&'static str>> {
    let devices = state.engine.supported_boot_devices(n).await?;
    Ok(devices.into_iter().map(|d| d.as_str()).collect())
}

/// A node's next boot device.
#[utoipa::path(get, path = "/v1/nodes/{node_ident}/management/boot_device", tag = "node management", params(("node_ident" = String, Path, description = "A node's UUID or (1.5) name.")),
    responses((status = 200, description = "The boot device.", body = BootDeviceState)))]
async fn boot_device_get(api: Api, path: web::Path<String>, state: web::Data<BaremetalState>) -> Result<HttpResponse> {
    let n = load_visible(&state, &path, &api).await?;
    let current = match state.engine.boot_device(&n).await? {
        Some((device, persistent)) => json!({"boot_device": device.map(|d| d.as_str()), "persistent": persistent}),
        None => json_text(&n.driver_internal_info)
            .get("boot_device")
            .cloned()
            .unwrap_or_else(|| json!({"boot_device": "pxe", "persistent": false})),
    };
    Ok(HttpResponse::Ok().json(current))
}

/// The boot devices a node supports.
#[utoipa::path(get, path = "/v1/nodes/{node_ident}/management/boot_device/supported", tag = "node management",
    params(("node_ident" = String, Path, description = "A node's UUID or (1.5) name.")), responses((status = 200, description = "The supported boot devices.", body = SupportedBootDevices)))]
async fn boot_device_supported(
    api: Api,
    path: web::Path<String>,
    state: web::Data<BaremetalState>,
) -> Result<HttpResponse> {
    let n = load_visible(&state, &path, &api).await?;
    Ok(HttpResponse::Ok().json(json!({"supported_boot_devices": supported_boot_devices(&state, &n).await?})))
}

/// Sets a node's next boot device.
#[utoipa::path(put, path = "/v1/nodes/{node_ident}/management/boot_device", tag = "node management", params(("node_ident" = String, Path, description = "A node's UUID or (1.5) name.")),
    request_body = BootDeviceRequest, responses((status = 204, description = "Set.")))]
async fn boot_device_set(
    api: Api,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<BaremetalState>,
) -> Result<HttpResponse> {
    let m = body_object(&body, "boot_device")?;
    let device = m
        .get("boot_device")
        .and_then(Value::as_str)
        .ok_or_else(|| BaremetalError::BadRequest("Missing mandatory parameter: boot_device".into()))?
        .to_string();
    let persistent = match m.get("persistent") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => super::parse_bool("persistent", s)?,
        Some(_) => return Err(BaremetalError::BadRequest("Invalid persistent value".into())),
    };
    if !BOOT_DEVICES.contains(&device.as_str()) {
        return Err(BaremetalError::BadRequest(format!("Invalid boot device {device} specified.")));
    }
    let n = load_visible(&state, &path, &api).await?;
    require(&api, &n, OWNER_MEMBER_RULE, "set_boot_device")?;
    let Some(chosen) = crate::drivers::BootDevice::parse(&device)
        .filter(|_| matches!(n.driver.as_str(), "fake-hardware" | "redfish") || device != "uefihttp")
    else {
        return Err(BaremetalError::BadRequest(format!("Invalid boot device {device} specified.")));
    };
    if !supported_boot_devices(&state, &n).await?.contains(&device.as_str()) {
        return Err(BaremetalError::BadRequest(format!("Invalid boot device {device} specified.")));
    }
    if state.engine.set_boot_device(&n, chosen, persistent).await? {
        return Ok(HttpResponse::NoContent().finish());
    }
    quick_update(&state, &api, &path, move |n| {
        let mut internal: Map<String, Value> = serde_json::from_str(&n.driver_internal_info).unwrap_or_default();
        internal.insert("boot_device".into(), json!({"boot_device": device, "persistent": persistent}));
        n.driver_internal_info = Value::Object(internal).to_string();
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// (1.29) Injects a non-maskable interrupt into a node.
#[utoipa::path(put, path = "/v1/nodes/{node_ident}/management/inject_nmi", tag = "node management", params(("node_ident" = String, Path, description = "A node's UUID or (1.5) name.")),
    responses((status = 204, description = "Injected.")))]
async fn inject_nmi(api: Api, path: web::Path<String>, state: web::Data<BaremetalState>) -> Result<HttpResponse> {
    api.require(29)?;
    let n = load_visible(&state, &path, &api).await?;
    require(&api, &n, OWNER_MEMBER_RULE, "inject_nmi")?;
    Ok(HttpResponse::NoContent().finish())
}

/// Validates a node's interfaces.
#[utoipa::path(get, path = "/v1/nodes/{node_ident}/validate", tag = "node management", params(("node_ident" = String, Path, description = "A node's UUID or (1.5) name.")),
    responses((status = 200, description = "Each interface's result.", body = NodeValidation)))]
async fn validate(api: Api, path: web::Path<String>, state: web::Data<BaremetalState>) -> Result<HttpResponse> {
    let n = load_visible(&state, &path, &api).await?;
    let id = n.uuid.clone();
    let has_ports = state
        .storage()
        .read(move |c| {
            let f = bm::PortFilter { node_uuid: Some(id), ..Default::default() };
            let page = bm::Page { limit: 1, marker: None, sort: "id", desc: false };
            Ok(!bm::ports_list(c, &f, &page)?.is_empty())
        })
        .await?;
    let mut out = Map::new();
    for (kind, v) in drivers::validate(&n, has_ports) {
        if kind == "firmware" && !api.at_least(86) {
            continue;
        }
        let mut entry = json!({"result": v.result});
        if let Some(r) = v.reason {
            entry["reason"] = json!(r);
        }
        out.insert(kind.to_string(), entry);
    }
    Ok(HttpResponse::Ok().json(Value::Object(out)))
}

// ---- traits -------------------------------------------------------------------------------

fn valid_trait(t: &str) -> bool {
    const STANDARD_PREFIXES: &[&str] = &["HW_", "COMPUTE_", "STORAGE_", "MISC_", "HW_CPU_", "OWNER_"];
    let custom = t.strip_prefix("CUSTOM_").is_some_and(|rest| {
        !rest.is_empty() && rest.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
    });
    let standard = STANDARD_PREFIXES.iter().any(|p| t.starts_with(p))
        && t.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    t.len() <= 255 && (custom || standard)
}

fn check_trait(t: &str) -> Result<()> {
    if valid_trait(t) {
        Ok(())
    } else {
        Err(BaremetalError::BadRequest(format!(
            "Schema error for trait: '{t}' is not valid under any of the given schemas"
        )))
    }
}

fn traits_of(n: &Node) -> Vec<String> {
    serde_json::from_str(&n.traits).unwrap_or_default()
}

/// Below 1.37 Ironic refuses trait writes with 405 (the methods did not exist).
fn traits_write_allowed(api: &Api) -> Result<()> {
    if api.at_least(37) { Ok(()) } else { Err(BaremetalError::MethodNotAllowed) }
}

/// (1.37) A node's traits.
#[utoipa::path(get, path = "/v1/nodes/{node_ident}/traits", tag = "node traits", params(("node_ident" = String, Path, description = "A node's UUID or (1.5) name.")),
    responses((status = 200, description = "The node's traits.", body = NodeTraits)))]
async fn traits_get(api: Api, path: web::Path<String>, state: web::Data<BaremetalState>) -> Result<HttpResponse> {
    api.accept(37)?;
    let n = load_visible(&state, &path, &api).await?;
    Ok(HttpResponse::Ok().json(json!({"traits": traits_of(&n)})))
}

const MAX_TRAITS: usize = 50;

/// (1.37) Replaces a node's traits.
#[utoipa::path(put, path = "/v1/nodes/{node_ident}/traits", tag = "node traits", params(("node_ident" = String, Path, description = "A node's UUID or (1.5) name.")),
    request_body = TraitsRequest, responses((status = 204, description = "Set.")))]
async fn traits_set(
    api: Api,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<BaremetalState>,
) -> Result<HttpResponse> {
    traits_write_allowed(&api)?;
    let m = body_object(&body, "traits")?;
    if let Some(k) = m.keys().find(|k| k.as_str() != "traits") {
        return Err(BaremetalError::BadRequest(format!("Unexpected arguments: {k}")));
    }
    let list: Vec<String> = match m.get("traits") {
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| BaremetalError::BadRequest("Schema error for traits: traits must be strings".into()))
            })
            .collect::<Result<_>>()?,
        _ => return Err(BaremetalError::BadRequest("Missing mandatory parameter: traits".into())),
    };
    for t in &list {
        check_trait(t)?;
    }
    if list.len() > MAX_TRAITS {
        return Err(BaremetalError::BadRequest(format!(
            "Could not add traits to node: a node can have at most {MAX_TRAITS} traits"
        )));
    }
    let n = load_visible(&state, &path, &api).await?;
    require(&api, &n, OWNER_MEMBER_RULE, "traits:set")?;
    let mut unique = Vec::new();
    for t in list {
        if !unique.contains(&t) {
            unique.push(t);
        }
    }
    quick_update(&state, &api, &path, move |n| {
        n.traits = json!(unique).to_string();
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// (1.37) Adds a trait to a node.
#[utoipa::path(put, path = "/v1/nodes/{node_ident}/traits/{trait}", tag = "node traits",
    params(("node_ident" = String, Path, description = "A node's UUID or (1.5) name."), ("trait" = String, Path, description = "A standard trait or `CUSTOM_…`.")),
    responses((status = 204, description = "Added (or already there).",
        headers(("Location" = String, description = "The trait's URL.")))))]
async fn trait_add(
    api: Api,
    path: web::Path<(String, String)>,
    state: web::Data<BaremetalState>,
) -> Result<HttpResponse> {
    traits_write_allowed(&api)?;
    let (ident, t) = path.into_inner();
    check_trait(&t)?;
    let n = load_visible(&state, &ident, &api).await?;
    require(&api, &n, OWNER_MEMBER_RULE, "traits:set")?;
    let tr = t.clone();
    let node = quick_update(&state, &api, &ident, move |n| {
        let mut list = traits_of(n);
        if !list.contains(&tr) {
            if list.len() >= MAX_TRAITS {
                return Err(BaremetalError::BadRequest(format!(
                    "Could not add trait to node: a node can have at most {MAX_TRAITS} traits"
                )));
            }
            list.push(tr);
        }
        n.traits = json!(list).to_string();
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent()
        .insert_header(("Location", format!("{}/v1/nodes/{}/traits/{t}", state.base, node.uuid)))
        .finish())
}

/// (1.37) Removes a trait from a node.
#[utoipa::path(delete, path = "/v1/nodes/{node_ident}/traits/{trait}", tag = "node traits",
    params(("node_ident" = String, Path, description = "A node's UUID or (1.5) name."), ("trait" = String, Path)), responses((status = 204, description = "Removed.")))]
async fn trait_delete(
    api: Api,
    path: web::Path<(String, String)>,
    state: web::Data<BaremetalState>,
) -> Result<HttpResponse> {
    api.require(37)?;
    let (ident, t) = path.into_inner();
    let n = load_visible(&state, &ident, &api).await?;
    require(&api, &n, OWNER_MEMBER_RULE, "traits:delete")?;
    quick_update(&state, &api, &ident, move |n| {
        let mut list = traits_of(n);
        if !list.contains(&t) {
            return Err(BaremetalError::NotFound(format!("Node {} doesn't have a trait '{t}'", n.uuid)));
        }
        list.retain(|x| x != &t);
        n.traits = json!(list).to_string();
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// (1.37) Removes every trait of a node.
#[utoipa::path(delete, path = "/v1/nodes/{node_ident}/traits", tag = "node traits", params(("node_ident" = String, Path, description = "A node's UUID or (1.5) name.")),
    responses((status = 204, description = "Removed.")))]
async fn traits_clear(api: Api, path: web::Path<String>, state: web::Data<BaremetalState>) -> Result<HttpResponse> {
    api.require(37)?;
    let n = load_visible(&state, &path, &api).await?;
    require(&api, &n, OWNER_MEMBER_RULE, "traits:delete")?;
    quick_update(&state, &api, &path, |n| {
        n.traits = "[]".into();
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

// ---- history ----------------------------------------------------------------------------

fn history_json(state: &BaremetalState, node: &str, h: &bm::HistoryEntry, detail: bool, api: &Api) -> Value {
    let mut v = json!({
        "uuid": h.uuid, "created_at": ts(&h.created_at), "severity": h.severity, "event": h.event,
        "links": state.links(&format!("nodes/{node}/history"), &h.uuid),
    });
    if detail {
        v["event_type"] = json!(h.event_type);
        v["conductor"] = json!(h.conductor);
        v["user"] = json!(h.user_id);
        if api.at_least(113) {
            v["project"] = json!(h.project_id);
        }
        if api.at_least(115) {
            v["state"] = json!(h.state);
            v["target_provision_state"] = json!(h.target_state);
            v["duration_seconds"] = json!(h.duration_seconds);
        }
    }
    v
}

/// (1.78) A node's history.
#[utoipa::path(get, path = "/v1/nodes/{node_ident}/history", tag = "node history", params(("node_ident" = String, Path, description = "A node's UUID or (1.5) name."), HistoryQuery),
    responses((status = 200, description = "A page of the node's history, oldest first.", body = HistoryList)))]
async fn history_list(
    api: Api,
    path: web::Path<String>,
    q: Query,
    state: web::Data<BaremetalState>,
) -> Result<HttpResponse> {
    api.require(78)?;
    only_params(&q, &["detail", "limit", "marker"])?;
    let n = load_visible(&state, &path, &api).await?;
    require(&api, &n, Rule { system: Level::Reader, project: Some(Level::Admin), lessee: None }, "history:get")?;
    let detail = q.get("detail").map(|d| super::parse_bool("detail", d)).transpose()?.unwrap_or(false);
    let (paging, page) = Paging::parse(&q, state.max_limit, &[("id", "id")], &[])?;
    let id = n.uuid.clone();
    let list = state.storage().read(move |c| bm::history_list(c, &id, &page)).await?;
    let items: Vec<Value> = list.iter().map(|h| history_json(&state, &n.uuid, h, detail, &api)).collect();
    let last = list.last().map(|h| h.uuid.clone());
    let carry = if detail { vec![("detail".to_string(), "True".to_string())] } else { vec![] };
    Ok(HttpResponse::Ok().json(paging.collection(
        &state,
        "history",
        &format!("nodes/{}/history", n.uuid),
        items,
        last.as_deref(),
        &carry,
    )))
}

/// (1.78) An event of a node's history.
#[utoipa::path(get, path = "/v1/nodes/{node_ident}/history/{event}", tag = "node history",
    params(("node_ident" = String, Path, description = "A node's UUID or (1.5) name."), ("event" = uuid::Uuid, Path, description = "The event's UUID.")),
    responses((status = 200, description = "The event with every field.", body = HistoryEvent)))]
async fn history_get(
    api: Api,
    path: web::Path<(String, String)>,
    state: web::Data<BaremetalState>,
) -> Result<HttpResponse> {
    api.require(78)?;
    let (ident, event) = path.into_inner();
    let n = load_visible(&state, &ident, &api).await?;
    require(&api, &n, Rule { system: Level::Reader, project: Some(Level::Admin), lessee: None }, "history:get")?;
    let h = state.storage().read(move |c| bm::history_get(c, &event)).await?;
    if h.node_uuid != n.uuid {
        return Err(BaremetalError::NotFound(format!("Node history record {} could not be found.", h.uuid)));
    }
    Ok(HttpResponse::Ok().json(history_json(&state, &n.uuid, &h, true, &api)))
}

pub fn routes(r: &mut Routes) {
    crate::routes!(r;
        get_states, provision, power, raid, console_get | "/v1/nodes/states/console/{node_ident}", console_set,
        boot_mode, secure_boot, maintenance_set, maintenance_unset, boot_device_get, boot_device_set,
        boot_device_supported, inject_nmi, validate, traits_get, traits_set, traits_clear, trait_add,
        trait_delete, history_list, history_get);
}
