//! Node sub-resources: `/states/*`, `/maintenance`, `/management/*`,
//! `/validate`, `/traits`, `/history`.

use actix_web::{HttpResponse, web};
use serde_json::{Map, Value, json};

use super::error::{BaremetalError, Result};
use super::nodes::{find_node, load_visible};
use super::{Api, BaremetalState, Paging, Query, body_object, json_text, only_params, ts};
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

async fn boot_device_supported(
    api: Api,
    path: web::Path<String>,
    state: web::Data<BaremetalState>,
) -> Result<HttpResponse> {
    let n = load_visible(&state, &path, &api).await?;
    Ok(HttpResponse::Ok().json(json!({"supported_boot_devices": supported_boot_devices(&state, &n).await?})))
}

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

async fn inject_nmi(api: Api, path: web::Path<String>, state: web::Data<BaremetalState>) -> Result<HttpResponse> {
    api.require(29)?;
    let n = load_visible(&state, &path, &api).await?;
    require(&api, &n, OWNER_MEMBER_RULE, "inject_nmi")?;
    Ok(HttpResponse::NoContent().finish())
}

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

async fn traits_get(api: Api, path: web::Path<String>, state: web::Data<BaremetalState>) -> Result<HttpResponse> {
    api.accept(37)?;
    let n = load_visible(&state, &path, &api).await?;
    Ok(HttpResponse::Ok().json(json!({"traits": traits_of(&n)})))
}

const MAX_TRAITS: usize = 50;

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

pub fn configure(cfg: &mut web::ServiceConfig) {
    {
        let p = "/v1/nodes/{node}";
        cfg.route(&format!("{p}/states"), web::get().to(get_states))
            .route(&format!("{p}/states/provision"), web::put().to(provision))
            .route(&format!("{p}/states/power"), web::put().to(power))
            .route(&format!("{p}/states/raid"), web::put().to(raid))
            .route(&format!("{p}/states/console"), web::get().to(console_get))
            .route("/v1/nodes/states/console/{node}", web::get().to(console_get))
            .route(&format!("{p}/states/console"), web::put().to(console_set))
            .route(&format!("{p}/states/boot_mode"), web::put().to(boot_mode))
            .route(&format!("{p}/states/secure_boot"), web::put().to(secure_boot))
            .route(&format!("{p}/maintenance"), web::put().to(maintenance_set))
            .route(&format!("{p}/maintenance"), web::delete().to(maintenance_unset))
            .route(&format!("{p}/management/boot_device"), web::get().to(boot_device_get))
            .route(&format!("{p}/management/boot_device"), web::put().to(boot_device_set))
            .route(&format!("{p}/management/boot_device/supported"), web::get().to(boot_device_supported))
            .route(&format!("{p}/management/inject_nmi"), web::put().to(inject_nmi))
            .route(&format!("{p}/validate"), web::get().to(validate))
            .route(&format!("{p}/traits"), web::get().to(traits_get))
            .route(&format!("{p}/traits"), web::put().to(traits_set))
            .route(&format!("{p}/traits"), web::delete().to(traits_clear))
            .route(&format!("{p}/traits/{{trait}}"), web::put().to(trait_add))
            .route(&format!("{p}/traits/{{trait}}"), web::delete().to(trait_delete))
            .route(&format!("{p}/history"), web::get().to(history_list))
            .route(&format!("{p}/history/{{event}}"), web::get().to(history_get));
    }
}
