//! More node sub-resources: VIFs (on the node's ports), BIOS settings,
//! firmware components, virtual media, and the agent heartbeat.

use actix_web::{HttpResponse, web};
use serde_json::{Map, Value, json};

use super::error::{BaremetalError, Result};
use super::nodes::load_visible;
use super::{Api, BaremetalState, body_object, is_uuid, json_text};
use crate::api::contrail::push::PortSync;
use crate::common::policy::{Level, Owner, Rule};
use crate::storage::baremetal::{self as bm, Node, Page, PortFilter, PortgroupFilter};
use crate::storage::network as net;

const VIF_KEY: &str = "tenant_vif_port_id";

fn all() -> Page {
    Page { limit: i64::MAX, marker: None, sort: "id", desc: false }
}

fn vif_of(internal: &str) -> Option<String> {
    json_text(internal).get(VIF_KEY).and_then(Value::as_str).map(str::to_string)
}

fn with_vif(internal: &str, vif: Option<&str>) -> String {
    let mut m: Map<String, Value> = serde_json::from_str(internal).unwrap_or_default();
    match vif {
        Some(v) => m.insert(VIF_KEY.into(), json!(v)),
        None => m.remove(VIF_KEY),
    };
    Value::Object(m).to_string()
}

/// Nodes whose network interface is `flat` or `neutron` attach VIFs that are
/// ports of the network service: attaching binds the port to the node
/// (the switch ports of the node's port or portgroup become its
/// `local_link_information`), detaching unbinds it. `noop` records the VIF only.
fn uses_network_service(n: &Node) -> bool {
    matches!(json_text(&n.interfaces).get("network").and_then(Value::as_str), Some("flat" | "neutron"))
}

/// The binding profile of a VIF on these Ironic ports (one port, or the
/// members of a portgroup, whose group information is added for a LAG).
fn binding_profile(ports: &[&bm::Port], group: Option<&bm::Portgroup>) -> Value {
    let links: Vec<Value> = ports.iter().map(|p| json_text(&p.local_link_connection)).collect();
    let mut profile = json!({ "local_link_information": links });
    if let Some(pg) = group {
        profile["local_group_information"] = json!({
            "id": pg.uuid, "name": pg.name, "bond_mode": pg.mode,
            "bond_properties": json_text(&pg.properties),
        });
    }
    profile
}

/// Binds (or, with `None`, unbinds) network port `vif` for `node`; with
/// `push`, the port's VMI and the node's VPG are recorded for the Contrail push.
fn bind_vif(
    c: &mut crate::storage::DbConn,
    vif: &str,
    node: &str,
    binding: Option<(Value, Option<String>)>,
    push: bool,
) -> crate::storage::StorageResult<std::result::Result<(), BaremetalError>> {
    let sync = PortSync::begin(c, push, vif)?;
    let mut port = match net::port(c, vif) {
        Ok(p) => p,
        Err(crate::storage::StorageError::NotFound { .. }) if binding.is_none() => return Ok(Ok(())),
        Err(crate::storage::StorageError::NotFound { .. }) => {
            return Ok(Err(BaremetalError::BadRequest(format!(
                "Unable to attach VIF {vif}: the network service has no port {vif}"
            ))));
        }
        Err(e) => return Err(e),
    };
    match binding {
        Some((profile, mac)) => {
            if !port.host_id.is_empty() && port.host_id != node {
                return Ok(Err(BaremetalError::Conflict(format!(
                    "Unable to attach VIF {vif}: the port is bound to {}",
                    port.host_id
                ))));
            }
            port.vnic_type = "baremetal".into();
            if let Some(mac) = mac {
                port.mac_address = mac;
            }
            port.set_binding(node, &profile);
        }
        None => port.set_binding("", &json!({})),
    }
    port.updated_at = chrono::Utc::now().naive_utc();
    port.revision_number += 1;
    match net::port_update(c, &port) {
        Err(crate::storage::StorageError::Duplicate(_)) => Ok(Err(BaremetalError::Conflict(format!(
            "Unable to attach VIF {vif}: its network already has a port with MAC {}",
            port.mac_address
        )))),
        Err(e) => Err(e),
        Ok(()) => sync.finish(c).map(Ok),
    }
}

fn vif_rule() -> Rule {
    Rule { system: Level::Member, project: Some(Level::Member), lessee: Some(Level::Manager) }
}

fn may(api: &Api, n: &Node, rule: Rule, what: &str) -> Result<()> {
    if api.ctx.allows(rule, Owner { owner: n.owner.as_deref(), lessee: n.lessee.as_deref() }) {
        Ok(())
    } else {
        Err(BaremetalError::Forbidden(format!("baremetal:node:{what}")))
    }
}

async fn vifs_list(api: Api, path: web::Path<String>, state: web::Data<BaremetalState>) -> Result<HttpResponse> {
    api.require(28)?;
    let n = load_visible(&state, &path, &api).await?;
    let id = n.uuid.clone();
    let vifs = state
        .storage()
        .read(move |c| {
            let mut out = Vec::new();
            for pg in
                bm::portgroups_list(c, &PortgroupFilter { node_uuid: Some(id.clone()), ..Default::default() }, &all())?
            {
                out.extend(vif_of(&pg.internal_info));
            }
            for p in bm::ports_list(c, &PortFilter { node_uuid: Some(id), ..Default::default() }, &all())? {
                out.extend(vif_of(&p.internal_info));
            }
            Ok(out)
        })
        .await?;
    let list: Vec<Value> = vifs.into_iter().map(|v| json!({"id": v})).collect();
    Ok(HttpResponse::Ok().json(json!({"vifs": list})))
}

async fn vif_attach(
    api: Api,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<BaremetalState>,
) -> Result<HttpResponse> {
    api.require(28)?;
    let m = body_object(&body, "vif")?;
    let vif = m
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| BaremetalError::BadRequest("Missing mandatory parameter: id".into()))?
        .to_string();
    let want_port = m.get("port_uuid").and_then(Value::as_str).map(str::to_string);
    let want_pg = m.get("portgroup_uuid").and_then(Value::as_str).map(str::to_string);
    if (want_port.is_some() || want_pg.is_some()) && !api.at_least(67) {
        return Err(BaremetalError::not_acceptable());
    }
    if want_port.is_some() && want_pg.is_some() {
        return Err(BaremetalError::BadRequest("Cannot specify both port_uuid and portgroup_uuid".into()));
    }
    let n = load_visible(&state, &path, &api).await?;
    may(&api, &n, vif_rule(), "vif:attach")?;
    let node = n.uuid.clone();
    let bind = uses_network_service(&n);
    let push = state.contrail_push;
    state
        .storage()
        .write(move |c| {
            let n = bm::node(c, &node)?;
            if let Some(h) = &n.reservation {
                return Ok(Err(BaremetalError::locked(&n.uuid, h)));
            }
            let pgs = bm::portgroups_list(
                c,
                &PortgroupFilter { node_uuid: Some(node.clone()), ..Default::default() },
                &all(),
            )?;
            let ports = bm::ports_list(c, &PortFilter { node_uuid: Some(node.clone()), ..Default::default() }, &all())?;
            let attached = pgs.iter().any(|p| vif_of(&p.internal_info).as_deref() == Some(vif.as_str()))
                || ports.iter().any(|p| vif_of(&p.internal_info).as_deref() == Some(vif.as_str()));
            if attached {
                return Ok(Err(BaremetalError::Conflict(format!(
                    "Unable to attach VIF because VIF {vif} is already attached to node {node}"
                ))));
            }
            // A portgroup first (it bonds its ports), then a free standalone port.
            // A portgroup without ports cannot carry traffic: it is skipped.
            if let Some(pg) = pgs.into_iter().find(|p| {
                want_port.is_none()
                    && want_pg.as_ref().is_none_or(|w| *w == p.uuid)
                    && vif_of(&p.internal_info).is_none()
                    && ports.iter().any(|port| port.portgroup_uuid.as_deref() == Some(p.uuid.as_str()))
            }) {
                let mut pg = pg;
                if bind {
                    let members: Vec<&bm::Port> =
                        ports.iter().filter(|p| p.portgroup_uuid.as_deref() == Some(pg.uuid.as_str())).collect();
                    let mac = pg.address.clone().or_else(|| members.first().map(|p| p.address.clone()));
                    if let Err(e) = bind_vif(c, &vif, &node, Some((binding_profile(&members, Some(&pg)), mac)), push)? {
                        return Ok(Err(e));
                    }
                }
                pg.internal_info = with_vif(&pg.internal_info, Some(&vif));
                bm::portgroup_update(c, &pg)?;
                return Ok(Ok(()));
            }
            if want_pg.is_some() {
                return Ok(Err(BaremetalError::BadRequest(format!(
                    "Portgroup for VIF {vif} is not free or not found."
                ))));
            }
            let free = ports.into_iter().find(|p| {
                want_port.as_ref().is_none_or(|w| *w == p.uuid)
                    && p.portgroup_uuid.is_none()
                    && vif_of(&p.internal_info).is_none()
            });
            match free {
                Some(mut p) => {
                    if bind {
                        let profile = binding_profile(&[&p], None);
                        if let Err(e) = bind_vif(c, &vif, &node, Some((profile, Some(p.address.clone()))), push)? {
                            return Ok(Err(e));
                        }
                    }
                    p.internal_info = with_vif(&p.internal_info, Some(&vif));
                    bm::port_update(c, &p)?;
                    Ok(Ok(()))
                }
                None => Ok(Err(BaremetalError::BadRequest(format!(
                    "Unable to attach VIF {vif}, not enough free physical ports."
                )))),
            }
        })
        .await??;
    Ok(HttpResponse::NoContent().finish())
}

/// `DELETE …/vifs` (or `…/vifs/`) names no VIF.
async fn vif_detach_nothing(
    api: Api,
    path: web::Path<String>,
    state: web::Data<BaremetalState>,
) -> Result<HttpResponse> {
    api.require(28)?;
    load_visible(&state, &path, &api).await?;
    Err(BaremetalError::BadRequest("Missing mandatory parameter: vif_id".into()))
}

async fn vif_detach(
    api: Api,
    path: web::Path<(String, String)>,
    state: web::Data<BaremetalState>,
) -> Result<HttpResponse> {
    api.require(28)?;
    let (ident, vif) = path.into_inner();
    let n = load_visible(&state, &ident, &api).await?;
    may(&api, &n, vif_rule(), "vif:detach")?;
    let node = n.uuid.clone();
    let bind = uses_network_service(&n);
    let push = state.contrail_push;
    state
        .storage()
        .write(move |c| {
            for mut pg in bm::portgroups_list(
                c,
                &PortgroupFilter { node_uuid: Some(node.clone()), ..Default::default() },
                &all(),
            )? {
                if vif_of(&pg.internal_info).as_deref() == Some(vif.as_str()) {
                    pg.internal_info = with_vif(&pg.internal_info, None);
                    bm::portgroup_update(c, &pg)?;
                    if bind {
                        return bind_vif(c, &vif, &node, None, push);
                    }
                    return Ok(Ok(()));
                }
            }
            for mut p in bm::ports_list(c, &PortFilter { node_uuid: Some(node.clone()), ..Default::default() }, &all())?
            {
                if vif_of(&p.internal_info).as_deref() == Some(vif.as_str()) {
                    p.internal_info = with_vif(&p.internal_info, None);
                    bm::port_update(c, &p)?;
                    if bind {
                        return bind_vif(c, &vif, &node, None, push);
                    }
                    return Ok(Ok(()));
                }
            }
            Ok(Err(BaremetalError::BadRequest(format!(
                "Unable to detach VIF {vif} from node {node} because it is not attached to it."
            ))))
        })
        .await??;
    Ok(HttpResponse::NoContent().finish())
}

// ---- BIOS, firmware, virtual media ---------------------------------------------------------

/// BIOS settings cached from the BMC (none for fake hardware).
fn bios_settings(n: &Node) -> Vec<Value> {
    json_text(&n.driver_internal_info).get("bios_settings").and_then(Value::as_array).cloned().unwrap_or_default()
}

async fn bios_list(api: Api, path: web::Path<String>, state: web::Data<BaremetalState>) -> Result<HttpResponse> {
    api.require(40)?;
    let n = load_visible(&state, &path, &api).await?;
    Ok(HttpResponse::Ok().json(json!({"bios": bios_settings(&n)})))
}

async fn bios_get(
    api: Api,
    path: web::Path<(String, String)>,
    state: web::Data<BaremetalState>,
) -> Result<HttpResponse> {
    api.require(40)?;
    let (ident, name) = path.into_inner();
    let n = load_visible(&state, &ident, &api).await?;
    let found = bios_settings(&n).into_iter().find(|s| s.get("name").and_then(Value::as_str) == Some(name.as_str()));
    match found {
        Some(s) => Ok(HttpResponse::Ok().json(json!({name: s}))),
        None => Err(BaremetalError::NotFound(format!("Node {} doesn't have a BIOS setting '{name}'", n.uuid))),
    }
}

async fn firmware_list(api: Api, path: web::Path<String>, state: web::Data<BaremetalState>) -> Result<HttpResponse> {
    api.require(86)?;
    let n = load_visible(&state, &path, &api).await?;
    let list = json_text(&n.driver_internal_info).get("firmware_components").cloned().unwrap_or_else(|| json!([]));
    Ok(HttpResponse::Ok().json(json!({"firmware": list})))
}

async fn vmedia_attach(
    api: Api,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<BaremetalState>,
) -> Result<HttpResponse> {
    api.require(89)?;
    let m = body_object(&body, "vmedia")?;
    let device = m.get("device_type").and_then(Value::as_str).unwrap_or("");
    if !matches!(device, "cdrom" | "CDROM" | "floppy" | "FLOPPY" | "dvd" | "DVD" | "usb" | "USB") {
        return Err(BaremetalError::BadRequest(format!("Invalid virtual media device type {device}")));
    }
    if m.get("image_url").and_then(Value::as_str).is_none_or(str::is_empty) {
        return Err(BaremetalError::BadRequest("Missing mandatory parameter: image_url".into()));
    }
    let n = load_visible(&state, &path, &api).await?;
    may(&api, &n, Rule { system: Level::Member, project: Some(Level::Member), lessee: None }, "vmedia:attach")?;
    Err(BaremetalError::BadRequest(format!(
        "The {} boot interface of node {} does not support virtual media.",
        json_text(&n.interfaces).get("boot").and_then(Value::as_str).unwrap_or("configured"),
        n.uuid
    )))
}

async fn vmedia_detach(api: Api, path: web::Path<String>, state: web::Data<BaremetalState>) -> Result<HttpResponse> {
    api.require(89)?;
    let n = load_visible(&state, &path, &api).await?;
    may(&api, &n, Rule { system: Level::Member, project: Some(Level::Member), lessee: None }, "vmedia:detach")?;
    Ok(HttpResponse::NoContent().finish())
}

/// `PUT /vmedia` exists in no microversion: 404 before the resource, 405 after.
async fn vmedia_put(api: Api) -> Result<HttpResponse> {
    api.require(89)?;
    Err(BaremetalError::MethodNotAllowed)
}

async fn vmedia_list(api: Api, path: web::Path<String>, state: web::Data<BaremetalState>) -> Result<HttpResponse> {
    api.require(93)?;
    let n = load_visible(&state, &path, &api).await?;
    let list = json_text(&n.driver_internal_info).get("vmedia").cloned().unwrap_or_else(|| json!([]));
    Ok(HttpResponse::Ok().json(json!({"vmedia": list})))
}

// ---- agent heartbeat -------------------------------------------------------------------------

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

/// States in which a node waits for its agent.
const HEARTBEAT_STATES: &[&str] = &[
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
    api: Api,
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
    let id = ident.clone();
    let n = state.storage().read(move |c| bm::node(c, &id)).await?;
    if !HEARTBEAT_STATES.contains(&n.provision_state.as_str()) {
        return Err(BaremetalError::Conflict(format!(
            "Node {} does not accept heartbeats in provision state {}.",
            n.uuid, n.provision_state
        )));
    }
    Ok(HttpResponse::Accepted().finish())
}

async fn heartbeat_node(
    api: Api,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<BaremetalState>,
) -> Result<HttpResponse> {
    heartbeat(api, Some(path), body, state).await
}

async fn heartbeat_body(api: Api, body: web::Bytes, state: web::Data<BaremetalState>) -> Result<HttpResponse> {
    heartbeat(api, None, body, state).await
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    let p = "/v1/nodes/{node}";
    cfg.route(&format!("{p}/vifs"), web::get().to(vifs_list))
        .route(&format!("{p}/vifs"), web::post().to(vif_attach))
        .route(&format!("{p}/vifs/{{vif}}"), web::delete().to(vif_detach))
        .route(&format!("{p}/vifs/"), web::delete().to(vif_detach_nothing))
        .route(&format!("{p}/vifs"), web::delete().to(vif_detach_nothing))
        .route(&format!("{p}/bios"), web::get().to(bios_list))
        .route(&format!("{p}/bios/{{setting}}"), web::get().to(bios_get))
        .route(&format!("{p}/firmware"), web::get().to(firmware_list))
        .route(&format!("{p}/vmedia"), web::post().to(vmedia_attach))
        .route(&format!("{p}/vmedia"), web::delete().to(vmedia_detach))
        .route(&format!("{p}/vmedia"), web::get().to(vmedia_list))
        .route(&format!("{p}/vmedia"), web::put().to(vmedia_put))
        .route("/v1/heartbeat/{node}", web::post().to(heartbeat_node))
        .route("/v1/heartbeat", web::post().to(heartbeat_body));
}
