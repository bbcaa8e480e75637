//! More node sub-resources: VIFs (on the node's ports), BIOS settings,
//! firmware components, virtual media, and the agent heartbeat.

use std::collections::HashMap;

use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

use super::error::{BaremetalError, Result};
use super::nodes::load_visible;
use super::openapi::Link;
use super::{Api, BaremetalState, body_object, json_text};
use crate::common::openapi::Routes;
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

// ---- documents ----------------------------------------------------------------------------

/// A node's path parameter.
const NODE: &str = "A node's UUID or name (from 1.5; up to 1.90 a `.json` suffix is ignored).";

/// A VIF attached to one of the node's ports or port groups.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct Vif {
    /// The network port's id.
    id: String,
}

/// The VIFs of a node.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct VifList {
    vifs: Vec<Vif>,
}

/// A VIF to attach: to a free port (or port group) of the node, or to the
/// one named (1.67).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct VifAttach {
    /// The network port's id.
    id: String,
    /// (1.67) The port to attach it to; not with `portgroup_uuid`.
    port_uuid: Option<String>,
    /// (1.67) The port group to attach it to; not with `port_uuid`.
    portgroup_uuid: Option<String>,
}

/// A BIOS setting as the BMC reports it.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct BiosSetting {
    name: Option<String>,
    value: Option<String>,
    links: Option<Vec<Link>>,
}

/// A node's BIOS settings (1.40).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct BiosList {
    bios: Vec<BiosSetting>,
}

/// One BIOS setting, keyed by its name.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct BiosShow(HashMap<String, BiosSetting>);

/// A firmware component and its versions.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct FirmwareComponent {
    component: Option<String>,
    initial_version: Option<String>,
    current_version: Option<String>,
    last_version_flashed: Option<String>,
    #[schema(format = DateTime)]
    created_at: Option<String>,
    #[schema(format = DateTime)]
    updated_at: Option<String>,
}

/// A node's firmware components (1.86).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct FirmwareList {
    firmware: Vec<FirmwareComponent>,
}

/// A virtual media device type.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub enum VmediaDevice {
    #[schema(rename = "cdrom")]
    Cdrom,
    #[schema(rename = "CDROM")]
    CdromUpper,
    #[schema(rename = "floppy")]
    Floppy,
    #[schema(rename = "FLOPPY")]
    FloppyUpper,
    #[schema(rename = "dvd")]
    Dvd,
    #[schema(rename = "DVD")]
    DvdUpper,
    #[schema(rename = "usb")]
    Usb,
    #[schema(rename = "USB")]
    UsbUpper,
}

/// An image to attach as virtual media.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct VmediaAttach {
    #[schema(inline)]
    device_type: VmediaDevice,
    #[schema(min_length = 1)]
    image_url: String,
}

/// A virtual media device attached to a node.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct Vmedia {
    device_type: Option<String>,
    image_url: Option<String>,
}

/// A node's attached virtual media (1.93).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct VmediaList {
    vmedia: Vec<Vmedia>,
}

/// What the last inspection of a node found (1.81).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct Inventory {
    /// The hardware inventory the agent sent.
    #[schema(value_type = Object)]
    inventory: Value,
    /// What inspection hooks stored besides.
    #[schema(value_type = Object)]
    plugin_data: Value,
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

/// (1.28) Lists the VIFs attached to a node.
#[utoipa::path(get, path = "/v1/nodes/{node}/vifs", tag = "nodes", params(("node" = String, Path, description = NODE)),
    responses((status = 200, description = "The node's VIFs.", body = VifList)))]
async fn vifs_list(api: Api, path: web::Path<String>, state: web::Data<BaremetalState>) -> Result<HttpResponse> {
    api.require(28)?;
    let n = load_visible(&state, &path, &api).await?;
    let id = n.uuid.clone();
    let vifs = state.storage().read(move |c| vifs::vifs_of_node(c, &id)).await?;
    let list: Vec<Value> = vifs.into_iter().map(|v| json!({"id": v})).collect();
    Ok(HttpResponse::Ok().json(json!({"vifs": list})))
}

/// (1.28) Attaches a VIF to a node.
#[utoipa::path(post, path = "/v1/nodes/{node}/vifs", tag = "nodes", params(("node" = String, Path, description = NODE)),
    request_body = VifAttach, responses((status = 204, description = "Attached.")))]
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

/// (1.28) Detaching names no VIF: always refused (400).
#[utoipa::path(delete, path = "/v1/nodes/{node}/vifs", tag = "nodes", params(("node" = String, Path, description = NODE)),
    responses())]
async fn vif_detach_nothing(
    api: Api,
    path: web::Path<String>,
    state: web::Data<BaremetalState>,
) -> Result<HttpResponse> {
    api.require(28)?;
    load_visible(&state, &path, &api).await?;
    Err(BaremetalError::BadRequest("Missing mandatory parameter: vif_id".into()))
}

/// (1.28) Detaches a VIF from a node.
#[utoipa::path(delete, path = "/v1/nodes/{node}/vifs/{vif}", tag = "nodes",
    params(("node" = String, Path, description = NODE), ("vif" = String, Path, description = "The VIF's id.")),
    responses((status = 204, description = "Detached.")))]
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

/// (1.40) Lists a node's BIOS settings.
#[utoipa::path(get, path = "/v1/nodes/{node}/bios", tag = "nodes", params(("node" = String, Path, description = NODE)),
    responses((status = 200, description = "The node's BIOS settings.", body = BiosList)))]
async fn bios_list(api: Api, path: web::Path<String>, state: web::Data<BaremetalState>) -> Result<HttpResponse> {
    api.require(40)?;
    let n = load_visible(&state, &path, &api).await?;
    Ok(HttpResponse::Ok().json(json!({"bios": bios_settings(&n)})))
}

/// (1.40) Shows a BIOS setting of a node.
#[utoipa::path(get, path = "/v1/nodes/{node}/bios/{setting}", tag = "nodes",
    params(("node" = String, Path, description = NODE), ("setting" = String, Path, description = "The setting's name.")),
    responses((status = 200, description = "The setting, keyed by its name.", body = BiosShow)))]
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

/// (1.86) Lists a node's firmware components.
#[utoipa::path(get, path = "/v1/nodes/{node}/firmware", tag = "nodes", params(("node" = String, Path, description = NODE)),
    responses((status = 200, description = "The node's firmware components.", body = FirmwareList)))]
async fn firmware_list(api: Api, path: web::Path<String>, state: web::Data<BaremetalState>) -> Result<HttpResponse> {
    api.require(86)?;
    let n = load_visible(&state, &path, &api).await?;
    let list = json_text(&n.driver_internal_info).get("firmware_components").cloned().unwrap_or_else(|| json!([]));
    Ok(HttpResponse::Ok().json(json!({"firmware": list})))
}

/// (1.89) Attaches virtual media: refused (400), as no boot interface here
/// supports it.
#[utoipa::path(post, path = "/v1/nodes/{node}/vmedia", tag = "nodes", params(("node" = String, Path, description = NODE)),
    request_body = VmediaAttach, responses())]
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

/// (1.89) Detaches a node's virtual media.
#[utoipa::path(delete, path = "/v1/nodes/{node}/vmedia", tag = "nodes", params(("node" = String, Path, description = NODE)),
    responses((status = 204, description = "Detached.")))]
async fn vmedia_detach(api: Api, path: web::Path<String>, state: web::Data<BaremetalState>) -> Result<HttpResponse> {
    api.require(89)?;
    let n = load_visible(&state, &path, &api).await?;
    may(&api, &n, Rule { system: Level::Member, project: Some(Level::Member), lessee: None }, "vmedia:detach")?;
    Ok(HttpResponse::NoContent().finish())
}

/// `PUT /vmedia` exists in no microversion: 404 below 1.89, 405 from it.
#[utoipa::path(put, path = "/v1/nodes/{node}/vmedia", tag = "nodes", params(("node" = String, Path, description = NODE)),
    responses())]
async fn vmedia_put(api: Api) -> Result<HttpResponse> {
    api.require(89)?;
    Err(BaremetalError::MethodNotAllowed)
}

/// (1.93) Lists a node's attached virtual media.
#[utoipa::path(get, path = "/v1/nodes/{node}/vmedia", tag = "nodes", params(("node" = String, Path, description = NODE)),
    responses((status = 200, description = "The node's virtual media.", body = VmediaList)))]
async fn vmedia_list(api: Api, path: web::Path<String>, state: web::Data<BaremetalState>) -> Result<HttpResponse> {
    api.require(93)?;
    let n = load_visible(&state, &path, &api).await?;
    let list = json_text(&n.driver_internal_info).get("vmedia").cloned().unwrap_or_else(|| json!([]));
    Ok(HttpResponse::Ok().json(json!({"vmedia": list})))
}

// ---- inventory ---------------------------------------------------------------------------

/// (1.81) What the last inspection of a node found.
#[utoipa::path(get, path = "/v1/nodes/{node}/inventory", tag = "nodes", params(("node" = String, Path, description = NODE)),
    responses((status = 200, description = "The node's inventory and plugin data.", body = Inventory)))]
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

pub fn routes(r: &mut Routes) {
    crate::routes!(r;
        vifs_list,
        vif_attach,
        vif_detach_nothing | "/v1/nodes/{node}/vifs/",
        vif_detach,
        bios_list,
        bios_get,
        firmware_list,
        vmedia_attach,
        vmedia_detach,
        vmedia_list,
        vmedia_put,
        inventory,
    );
}
