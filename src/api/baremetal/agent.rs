//! The agent-facing API: what ironic-python-agent (or any agent speaking
//! its protocol) calls from a booted server — `POST /v1/continue_inspection`
//! with its inventory, `GET /v1/lookup` to find its node, and
//! `POST /v1/heartbeat/{node}`. These routes take no token, as in Ironic:
//! the server is identified by what it reports.

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, web};
use futures_util::future::{Ready, ready};
use serde_json::{Map, Value, json};

use super::error::{BaremetalError, Result};
use super::nodes::masked;
use super::openapi::Link;
use super::versions::{self, Version};
use super::{BaremetalState, Query, body_object, is_uuid, only_params};
use crate::common::openapi::Routes;
use crate::drivers::inventory::normal_mac;
use crate::storage::baremetal::{self as bm, Node};

/// Extractor for agent routes: the negotiated microversion, no caller.
pub struct Agent {
    version: Version,
}

impl Agent {
    fn at_least(&self, minor: u16) -> bool {
        self.version >= Version::new(1, minor)
    }

    fn require(&self, minor: u16) -> Result<()> {
        if self.at_least(minor) { Ok(()) } else { Err(BaremetalError::NoRoute) }
    }
}

impl FromRequest for Agent {
    type Error = BaremetalError;
    type Future = Ready<Result<Self>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let version = req.extensions().get::<versions::Negotiated>().map_or(versions::MIN, |n| n.0);
        ready(Ok(Agent { version }))
    }
}

// ---- documents -----------------------------------------------------------------------

/// What an agent learns of its node.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct AgentNode {
    uuid: uuid::Uuid,
    #[schema(value_type = Object)]
    properties: Value,
    /// Secrets masked.
    #[schema(value_type = Object)]
    instance_info: Value,
    /// Secrets (the agent token included) masked.
    #[schema(value_type = Object)]
    driver_internal_info: Value,
    links: Vec<Link>,
}

/// The agent's metrics settings.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct AgentMetrics {
    backend: String,
    prepend_host: bool,
    prepend_uuid: bool,
    prepend_host_reverse: bool,
    #[schema(required = true)]
    global_prefix: Option<String>,
}

/// Where the agent sends statsd metrics.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct AgentStatsd {
    statsd_host: String,
    statsd_port: i64,
}

/// How the agent is to behave.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct AgentConfig {
    /// Seconds the agent may go without a heartbeat.
    heartbeat_timeout: i64,
    /// The agent token when this call issued it, `******` once it exists.
    agent_token: String,
    agent_token_required: bool,
    metrics: AgentMetrics,
    metrics_statsd: AgentStatsd,
    agent_md5_checksum_enable: bool,
    disable_deep_image_inspection: bool,
    permitted_image_formats: Vec<String>,
    agent_skip_bmc_detect: bool,
    enable_bios_bootloader_install: bool,
}

/// An agent's node and configuration.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct AgentLookup {
    node: AgentNode,
    config: AgentConfig,
}

/// An inspection report accepted from an agent speaking no microversion.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct InspectionAccepted {
    /// The node inspected (or enrolled).
    uuid: uuid::Uuid,
}

/// The answer to an inspection report: the node's UUID without a
/// microversion, its lookup document from 1.84.
#[derive(utoipa::ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum ContinueInspectionResult {
    Legacy(InspectionAccepted),
    Lookup(Box<AgentLookup>),
}

/// A network interface of the inventory.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct InventoryInterface {
    mac_address: String,
}

/// The hardware inventory an agent reports.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct Inventory {
    #[schema(min_items = 1)]
    interfaces: Vec<InventoryInterface>,
    bmc_address: Option<String>,
    bmc_v6address: Option<String>,
}

/// What an agent reports after inspecting its server (more keys are the
/// plugin data).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct InspectionData {
    inventory: Inventory,
}

/// An agent's heartbeat; each field from the microversion named.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct Heartbeat {
    /// The agent's URL (`http://` or `https://`).
    callback_url: String,
    /// (1.36)
    #[schema(nullable = false)]
    agent_version: Option<String>,
    /// (1.62) The token handed out by lookup; required once it exists.
    #[schema(nullable = false)]
    agent_token: Option<String>,
    /// (1.68)
    #[schema(nullable = false)]
    agent_verify_ca: Option<String>,
    /// (1.72)
    #[schema(nullable = false)]
    agent_status: Option<String>,
    /// (1.72)
    #[schema(nullable = false)]
    agent_status_message: Option<String>,
}

/// A heartbeat naming its node in the body.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct HeartbeatWithNode {
    /// The node's UUID.
    node_ident: uuid::Uuid,
    /// The agent's URL (`http://` or `https://`).
    callback_url: String,
    /// (1.36)
    #[schema(nullable = false)]
    agent_version: Option<String>,
    /// (1.62)
    #[schema(nullable = false)]
    agent_token: Option<String>,
    /// (1.68)
    #[schema(nullable = false)]
    agent_verify_ca: Option<String>,
    /// (1.72)
    #[schema(nullable = false)]
    agent_status: Option<String>,
    /// (1.72)
    #[schema(nullable = false)]
    agent_status_message: Option<String>,
}

// ---- lookup ---------------------------------------------------------------------------

/// States a node may be looked up in by its agent.
const LOOKUP_STATES: &[&str] = &[
    "deploying",
    "wait call-back",
    "cleaning",
    "clean wait",
    "inspecting",
    "inspect wait",
    "rescuing",
    "rescue wait",
    "service wait",
];

/// How long an agent may go without a heartbeat, seconds.
const HEARTBEAT_TIMEOUT: u64 = 300;

/// What an agent learns of its node and of how to behave. `token` is the
/// agent token when this call created it, `******` once it exists.
fn agent_view(state: &BaremetalState, n: &Node, token: Option<&str>) -> Value {
    let redfish = n.driver == "redfish";
    json!({
        "node": {
            "uuid": n.uuid,
            "properties": super::json_text(&n.properties),
            "instance_info": masked(&n.instance_info, &[]),
            "driver_internal_info": masked(&n.driver_internal_info, &["agent_secret_token"]),
            "links": state.links("nodes", &n.uuid),
        },
        "config": {
            "heartbeat_timeout": HEARTBEAT_TIMEOUT,
            "agent_token": token.unwrap_or("******"),
            "agent_token_required": true,
            "metrics": {"backend": "noop", "prepend_host": false, "prepend_uuid": false,
                        "prepend_host_reverse": true, "global_prefix": null},
            "metrics_statsd": {"statsd_host": "localhost", "statsd_port": 8125},
            "agent_md5_checksum_enable": false,
            "disable_deep_image_inspection": false,
            "permitted_image_formats": ["raw", "qcow2", "iso"],
            "agent_skip_bmc_detect": redfish,
            "enable_bios_bootloader_install": false,
        },
    })
}

/// Gives the node an agent token unless it has one; the new token, if any.
async fn issue_token(state: &BaremetalState, uuid: &str) -> Result<(Node, Option<String>)> {
    let id = uuid.to_string();
    let out = state
        .storage()
        .write(move |c| {
            let mut n = bm::node(c, &id)?;
            let mut internal: Map<String, Value> = serde_json::from_str(&n.driver_internal_info).unwrap_or_default();
            if internal.contains_key("agent_secret_token") {
                return Ok((n, None));
            }
            let token = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
            internal.insert("agent_secret_token".into(), Value::String(token.clone()));
            n.driver_internal_info = Value::Object(internal).to_string();
            let n = bm::node_update(c, &n)?;
            Ok((n, Some(token)))
        })
        .await?;
    Ok(out)
}

/// (1.22) An agent finds its node (no token).
#[utoipa::path(get, path = "/v1/lookup", tag = "agent", security(()),
    params(("addresses" = Option<String>, Query, description = "The server's MAC addresses, comma-separated."),
        ("node_uuid" = Option<String>, Query, description = "The node's UUID, when known.")),
    responses((status = 200, description = "The node (in a state an agent runs in) and the agent's configuration; \
        from 1.62 the agent token on the first call.", body = AgentLookup)))]
async fn lookup(api: Agent, q: Query, state: web::Data<BaremetalState>) -> Result<HttpResponse> {
    api.require(22)?;
    only_params(&q, &["addresses", "node_uuid"])?;
    let macs: Vec<String> =
        q.get("addresses").map(|a| a.split(',').filter_map(normal_mac).collect()).unwrap_or_default();
    let node_uuid = q.get("node_uuid").filter(|u| !u.is_empty()).cloned();
    if let Some(u) = &node_uuid
        && !is_uuid(u)
    {
        return Err(BaremetalError::BadRequest(format!("Expected a UUID but received {u}.")));
    }
    if macs.is_empty() && node_uuid.is_none() {
        return Err(BaremetalError::BadRequest(
            "At least one of 'addresses' and 'node_uuid' parameters is required".into(),
        ));
    }
    let found = state
        .storage()
        .read(move |c| {
            if let Some(u) = &node_uuid {
                return match bm::node(c, u) {
                    Ok(n) => Ok(Some(n)),
                    Err(crate::storage::StorageError::NotFound { .. }) => Ok(None),
                    Err(e) => Err(e),
                };
            }
            match bm::nodes_with_port_addresses(c, &macs)?.as_slice() {
                [one] => Ok(Some(bm::node(c, one)?)),
                _ => Ok(None),
            }
        })
        .await?;
    let Some(n) = found.filter(|n| LOOKUP_STATES.contains(&n.provision_state.as_str())) else {
        return Err(BaremetalError::NotFound("Resource could not be found.".into()));
    };
    let (n, token) = if api.at_least(62) { issue_token(&state, &n.uuid).await? } else { (n, None) };
    Ok(HttpResponse::Ok().json(agent_view(&state, &n, token.as_deref())))
}

// ---- continue inspection -------------------------------------------------------------------

/// The body's shape as Ironic's schema requires it: an `inventory` object
/// with a non-empty `interfaces` list whose items have a `mac_address`.
fn check_report(body: &Map<String, Value>) -> std::result::Result<(), String> {
    let Some(inv) = body.get("inventory") else { return Err("'inventory' is a required property".into()) };
    let Some(inv) = inv.as_object() else { return Err(format!("{inv} is not of type 'object'")) };
    let Some(ifaces) = inv.get("interfaces") else { return Err("'interfaces' is a required property".into()) };
    let Some(list) = ifaces.as_array() else { return Err(format!("{ifaces} is not of type 'array'")) };
    if list.is_empty() {
        return Err("[] should be non-empty".into());
    }
    for i in list {
        match i.get("mac_address") {
            Some(Value::String(_)) => {}
            Some(other) => return Err(format!("{other} is not of type 'string'")),
            None => return Err("'mac_address' is a required property".into()),
        }
    }
    for key in ["bmc_address", "bmc_v6address"] {
        if let Some(v) = inv.get(key)
            && !(v.is_string() || v.is_null())
        {
            return Err(format!("{v} is not of type 'string', 'null'"));
        }
    }
    Ok(())
}

/// An agent reports its inventory (no token): inspection goes on, or the
/// server is enrolled when discovery is on.
///
/// Agents speak no microversion (1.1); a caller naming one needs 1.84.
#[utoipa::path(post, path = "/v1/continue_inspection", tag = "agent", security(()),
    params(("node_uuid" = Option<String>, Query, description = "(1.84) The node inspected.")),
    request_body = InspectionData,
    responses((status = 202, description = "Accepted: the node's UUID (1.1), or its lookup document (1.84).",
        body = ContinueInspectionResult)))]
async fn continue_inspection(
    api: Agent,
    q: Query,
    body: web::Bytes,
    state: web::Data<BaremetalState>,
) -> Result<HttpResponse> {
    // Agents send no version header (1.1); newer callers need 1.84.
    let legacy = api.version == versions::MIN;
    if !legacy && !api.at_least(84) {
        return Err(BaremetalError::NotFound("API version 1.84 or newer is required".into()));
    }
    if legacy && q.contains_key("node_uuid") {
        return Err(BaremetalError::NotFound("API version 1.84 or newer is required".into()));
    }
    only_params(&q, &["node_uuid"])?;
    let m = body_object(&body, "inspection data")?;
    check_report(&m).map_err(|e| BaremetalError::BadRequest(format!("Schema error for data: {e}")))?;
    let done = state.engine.continue_inspection(&state.discovery, m).await?;
    if legacy {
        return Ok(HttpResponse::Accepted().json(json!({"uuid": done.node.uuid})));
    }
    let (n, token) = issue_token(&state, &done.node.uuid).await?;
    Ok(HttpResponse::Accepted().json(agent_view(&state, &n, token.as_deref())))
}

// ---- heartbeat ---------------------------------------------------------------------------

/// Heartbeat fields and the microversion that introduced each.
const HEARTBEAT_FIELDS: &[(&str, u16)] = &[
    ("node_ident", 22),
    ("callback_url", 22),
    ("agent_version", 36),
    ("agent_token", 62),
    ("agent_verify_ca", 68),
    ("agent_status", 72),
    ("agent_status_message", 72),
];

/// States in which a node's agent may heartbeat: waiting for it, or at
/// work it may be part of.
const HEARTBEAT_STATES: &[&str] = &[
    "deploying",
    "cleaning",
    "rescuing",
    "servicing",
    "wait call-back",
    "clean wait",
    "rescue wait",
    "inspect wait",
    "service wait",
    "deploy hold",
    "clean hold",
    "service hold",
];

async fn heartbeat(
    api: Agent,
    ident: Option<web::Path<String>>,
    body: web::Bytes,
    state: web::Data<BaremetalState>,
) -> Result<HttpResponse> {
    api.require(22)?;
    let m = body_object(&body, "heartbeat")?;
    for k in m.keys() {
        match HEARTBEAT_FIELDS.iter().find(|(f, _)| f == k) {
            Some((_, gate)) if api.at_least(*gate) => {}
            _ => return Err(BaremetalError::BadRequest(format!("Field {k} not recognised."))),
        }
    }
    let ident = match (ident, m.get("node_ident").and_then(Value::as_str)) {
        (Some(p), _) => p.into_inner(),
        (None, Some(i)) => i.to_string(),
        (None, None) => return Err(BaremetalError::BadRequest("Missing mandatory parameter: node_ident".into())),
    };
    if !is_uuid(&ident) {
        return Err(BaremetalError::BadRequest(format!("Expected UUID for node_ident: {ident}")));
    }
    if m.get("callback_url").and_then(Value::as_str).is_none_or(str::is_empty) {
        return Err(BaremetalError::BadRequest("Missing mandatory parameter: callback_url".into()));
    }
    let callback = m.get("callback_url").and_then(Value::as_str).unwrap_or_default().to_string();
    if !(callback.starts_with("http://") || callback.starts_with("https://")) {
        return Err(BaremetalError::BadRequest(
            "An issue with the supplied \"callback_url\" has been detected.".into(),
        ));
    }
    let id = ident.clone();
    let given_token = m.get("agent_token").and_then(Value::as_str).map(str::to_string);
    let recorded = state
        .storage()
        .write(move |c| {
            let mut n = bm::node(c, &id)?;
            if !HEARTBEAT_STATES.contains(&n.provision_state.as_str()) {
                return Ok(Err(BaremetalError::Conflict(format!(
                    "Node {} does not accept heartbeats in provision state {}.",
                    n.uuid, n.provision_state
                ))));
            }
            let mut internal: Map<String, Value> = serde_json::from_str(&n.driver_internal_info).unwrap_or_default();
            // The token handed out by lookup is the agent's proof of identity.
            match (internal.get("agent_secret_token").and_then(Value::as_str), given_token.as_deref()) {
                (Some(want), Some(got)) if want == got => {}
                (None, None) => {}
                (Some(_), None) => {
                    return Ok(Err(BaremetalError::BadRequest(
                        "Agent token is required for heartbeat processing.".into(),
                    )));
                }
                _ => return Ok(Err(BaremetalError::BadRequest("Invalid or missing agent token received.".into()))),
            }
            internal.insert("agent_url".into(), Value::String(callback));
            internal.insert("agent_last_heartbeat".into(), super::ts(&chrono::Utc::now().naive_utc()));
            for key in ["agent_version", "agent_verify_ca", "agent_status", "agent_status_message"] {
                if let Some(v) = m.get(key) {
                    internal.insert(key.into(), v.clone());
                }
            }
            n.driver_internal_info = Value::Object(internal).to_string();
            let n = bm::node_update(c, &n)?;
            Ok(Ok(n.provision_state == "wait call-back"))
        })
        .await?;
    // The agent a direct deploy waits for: the deploy goes on.
    if recorded? {
        state.engine.agent_called_back(&ident).await?;
    }
    Ok(HttpResponse::Accepted().finish())
}

/// (1.22) An agent's heartbeat (no token).
#[utoipa::path(post, path = "/v1/heartbeat/{node}", tag = "agent", security(()),
    params(("node" = uuid::Uuid, Path, description = "The node's UUID.")),
    request_body = Heartbeat,
    responses((status = 202, description = "Recorded; a deploy waiting for the agent goes on.")))]
async fn heartbeat_node(
    api: Agent,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<BaremetalState>,
) -> Result<HttpResponse> {
    heartbeat(api, Some(path), body, state).await
}

/// (1.22) An agent's heartbeat naming its node in the body (no token).
#[utoipa::path(post, path = "/v1/heartbeat", tag = "agent", security(()),
    request_body = HeartbeatWithNode,
    responses((status = 202, description = "Recorded; a deploy waiting for the agent goes on.")))]
async fn heartbeat_body(api: Agent, body: web::Bytes, state: web::Data<BaremetalState>) -> Result<HttpResponse> {
    heartbeat(api, None, body, state).await
}

pub fn routes(r: &mut Routes) {
    crate::routes!(r; lookup, continue_inspection, heartbeat_node, heartbeat_body);
}
