//! More node sub-resources: VIFs (on the node's ports), BIOS settings,
//! firmware components, virtual media, and the agent heartbeat.

use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

use super::error::{BaremetalError, Result};
use super::nodes::load_visible;
use super::{Api, BaremetalState, body_object, json_text};
use crate::common::policy::{Level, Owner, Rule};
use crate::engine::vifs::{self, VifError, uses_network_service};
use crate::storage::baremetal::Node;

impl From<VifError> for BaremetalError {
    fn from(e: VifError) -> Self {
        match e {
            VifError::Locked { node, host } => BaremetalError::locked(&node, &host),
            VifError::Conflict(m) => BaremetalError::Conflict(m),
            VifError::BadRequest(m) => BaremetalError::BadRequest(m),
        }
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
    let vifs = state.storage().read(move |c| vifs::vifs_of_node(c, &id)).await?;
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
            Ok(vifs::attach(c, &node, &vif, want_port.as_deref(), want_pg.as_deref(), bind, push)?
                .map_err(BaremetalError::from))
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
        .write(move |c| Ok(vifs::detach(c, &node, &vif, bind, push)?.map_err(BaremetalError::from)))
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

// ---- inventory ---------------------------------------------------------------------------

/// `GET /v1/nodes/{node}/inventory` (1.81): what the last inspection found.
async fn inventory(api: Api, path: web::Path<String>, state: web::Data<BaremetalState>) -> Result<HttpResponse> {
    api.require(81)?;
    let n = load_visible(&state, &path, &api).await?;
    let id = n.uuid.clone();
    let row = state.storage().read(move |c| crate::storage::inspection::inventory(c, &id)).await?;
    let Some(row) = row else {
        return Err(BaremetalError::NotFound(format!("Node inventory record for node {} could not be found.", n.uuid)));
    };
    Ok(HttpResponse::Ok()
        .json(json!({"inventory": json_text(&row.inventory), "plugin_data": json_text(&row.plugin_data)})))
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
        .route(&format!("{p}/inventory"), web::get().to(inventory));
}
