//! Drivers (`/v1/drivers`: the hardware types the conductors serve) and
//! conductors (`/v1/conductors`, 1.49+).

use std::collections::HashMap;

use actix_web::{HttpResponse, web};
use serde_json::{Map, Value, json};

use super::error::{BaremetalError, Result};
use super::openapi::{FieldsQuery, Link, PageQuery};
use super::ports::{carried, collection, links, parse_detail, require_system, strip_json_suffix};
use super::{Api, BaremetalState, Paging, Query, only_params, parse_bool, select_fields, ts};
use crate::common::openapi::Routes;
use crate::common::policy::Rule;
use crate::drivers::{HARDWARE_TYPES, HardwareInfo, INTERFACE_KINDS};
use crate::storage::baremetal::{self as bm, Conductor};

/// The microversion that shows an interface kind in driver details.
fn kind_version(kind: &str) -> u16 {
    match kind {
        "storage" => 33,
        "rescue" => 38,
        "bios" => 40,
        "firmware" => 86,
        _ => 30,
    }
}

/// What a hardware type is: only `dynamic` ones exist now.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum DriverType {
    Classic,
    Dynamic,
}

/// A hardware type some conductor serves. The interface fields are shown
/// by `GET /v1/drivers/{name}` and `?detail=true`, each kind from the
/// microversion that introduced it.
#[derive(utoipa::ToSchema)]
#[schema(as = Driver)]
#[allow(dead_code)]
pub struct DriverDoc {
    name: String,
    /// The conductors serving it.
    hosts: Vec<String>,
    links: Vec<Link>,
    /// (1.14) The links of its `driver_info` properties.
    properties: Vec<Link>,
    /// (1.30)
    r#type: DriverType,
    /// (1.40)
    default_bios_interface: Option<String>,
    /// (1.30)
    default_boot_interface: Option<String>,
    /// (1.30)
    default_console_interface: Option<String>,
    /// (1.30)
    default_deploy_interface: Option<String>,
    /// (1.86)
    default_firmware_interface: Option<String>,
    /// (1.30)
    default_inspect_interface: Option<String>,
    /// (1.30)
    default_management_interface: Option<String>,
    /// (1.30)
    default_network_interface: Option<String>,
    /// (1.30)
    default_power_interface: Option<String>,
    /// (1.30)
    default_raid_interface: Option<String>,
    /// (1.38)
    default_rescue_interface: Option<String>,
    /// (1.33)
    default_storage_interface: Option<String>,
    /// (1.30)
    default_vendor_interface: Option<String>,
    /// (1.40)
    enabled_bios_interfaces: Vec<String>,
    /// (1.30)
    enabled_boot_interfaces: Vec<String>,
    /// (1.30)
    enabled_console_interfaces: Vec<String>,
    /// (1.30)
    enabled_deploy_interfaces: Vec<String>,
    /// (1.86)
    enabled_firmware_interfaces: Vec<String>,
    /// (1.30)
    enabled_inspect_interfaces: Vec<String>,
    /// (1.30)
    enabled_management_interfaces: Vec<String>,
    /// (1.30)
    enabled_network_interfaces: Vec<String>,
    /// (1.30)
    enabled_power_interfaces: Vec<String>,
    /// (1.30)
    enabled_raid_interfaces: Vec<String>,
    /// (1.38)
    enabled_rescue_interfaces: Vec<String>,
    /// (1.33)
    enabled_storage_interfaces: Vec<String>,
    /// (1.30)
    enabled_vendor_interfaces: Vec<String>,
}

/// The hardware types served by at least one online conductor.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct DriverList {
    drivers: Vec<DriverDoc>,
}

/// A description of each `driver_info` property of a hardware type
/// (ending in `Required.` or `Optional.`).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct DriverProperties(HashMap<String, String>);

/// What each key of a RAID logical disk in `target_raid_config` means.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct RaidLogicalDiskProperties(HashMap<String, String>);

/// A conductor: a process serving hardware types.
#[derive(utoipa::ToSchema)]
#[schema(as = Conductor)]
#[allow(dead_code)]
pub struct ConductorDoc {
    #[schema(format = DateTime)]
    created_at: String,
    /// Its last heartbeat.
    #[schema(format = DateTime)]
    updated_at: String,
    hostname: String,
    conductor_group: String,
    /// The hardware types it serves.
    drivers: Vec<String>,
    links: Vec<Link>,
    /// Whether it heartbeats.
    alive: bool,
}

/// A page of conductors (hostname, conductor group and liveness unless
/// `detail` or `fields`); `next` is the next page's URL when this one is full.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ConductorList {
    conductors: Vec<ConductorDoc>,
    #[serde(default)]
    next: String,
}

fn unknown_driver(name: &str) -> BaremetalError {
    BaremetalError::NotFound(format!("Could not find the following driver(s) or hardware type(s): {name}."))
}

fn driver_missing(name: &str) -> BaremetalError {
    BaremetalError::NotFound(format!("The driver '{name}' is unknown."))
}

/// The conductor rows, or (before this process registered one) a stand-in
/// for this process serving every hardware type.
async fn conductors(state: &BaremetalState) -> Result<Vec<Conductor>> {
    let rows = state.storage().read(bm::conductors_list).await?;
    if !rows.is_empty() {
        return Ok(rows);
    }
    let now = chrono::Utc::now().naive_utc();
    let drivers: Vec<&str> = HARDWARE_TYPES.iter().map(|h| h.name).collect();
    Ok(vec![Conductor {
        hostname: state.engine.host().to_string(),
        conductor_group: String::new(),
        drivers: json!(drivers).to_string(),
        online: true,
        created_at: now,
        updated_at: now,
    }])
}

fn driver_list(c: &Conductor) -> Vec<String> {
    serde_json::from_str(&c.drivers).unwrap_or_default()
}

/// Hardware types served by at least one online conductor, with their hosts.
async fn active_types(state: &BaremetalState) -> Result<Vec<(&'static HardwareInfo, Vec<String>)>> {
    let rows = conductors(state).await?;
    Ok(HARDWARE_TYPES
        .iter()
        .filter_map(|hw| {
            let hosts: Vec<String> = rows
                .iter()
                .filter(|c| c.online && driver_list(c).iter().any(|d| d == hw.name))
                .map(|c| c.hostname.clone())
                .collect();
            (!hosts.is_empty()).then_some((hw, hosts))
        })
        .collect())
}

/// The fields a driver shows at this microversion.
fn driver_fields(api: &Api) -> Vec<String> {
    let mut f = vec!["name".to_string(), "hosts".into(), "links".into()];
    if api.at_least(14) {
        f.push("properties".into());
    }
    if api.at_least(30) {
        f.push("type".into());
        for kind in INTERFACE_KINDS.iter().filter(|k| api.at_least(kind_version(k))) {
            f.push(format!("default_{kind}_interface"));
            f.push(format!("enabled_{kind}_interfaces"));
        }
    }
    f
}

fn driver_json(base: &str, api: &Api, hw: &HardwareInfo, hosts: &[String], detail: bool) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("name".into(), json!(hw.name));
    m.insert("hosts".into(), json!(hosts));
    m.insert("links".into(), links(base, "drivers", hw.name));
    if api.at_least(14) {
        m.insert("properties".into(), links(base, "drivers", &format!("{}/properties", hw.name)));
    }
    if api.at_least(30) {
        m.insert("type".into(), json!("dynamic"));
        if detail {
            for kind in INTERFACE_KINDS.iter().filter(|k| api.at_least(kind_version(k))) {
                m.insert(format!("default_{kind}_interface"), json!(hw.default_interface(kind)));
                m.insert(format!("enabled_{kind}_interfaces"), json!(hw.enabled(kind)));
            }
        }
    }
    m
}

/// `?fields=` of drivers (1.77+), checked against this version's fields.
fn driver_select(q: &HashMap<String, String>, api: &Api) -> Result<Option<Vec<String>>> {
    let Some(raw) = q.get("fields") else { return Ok(None) };
    api.accept(77)?;
    let known = driver_fields(api);
    let mut out = Vec::new();
    for f in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if !known.iter().any(|k| k == f) {
            return Err(BaremetalError::BadRequest(format!("Field {f} is not a valid field.")));
        }
        out.push(f.to_string());
    }
    Ok(Some(out))
}

/// The hardware types.
#[utoipa::path(get, path = "/v1/drivers", tag = "drivers",
    params(("type" = inline(Option<DriverType>), Query, description = "(1.30) `classic` lists none."),
        ("detail" = Option<bool>, Query, description = "(1.30) Show the interfaces of each."),
        ("fields" = Option<String>, Query, description = "(1.77) Only these fields (comma-separated), plus `links`.")),
    responses((status = 200, description = "The hardware types served by an online conductor.", body = DriverList)))]
async fn drivers_list(api: Api, state: web::Data<BaremetalState>, q: Query) -> Result<HttpResponse> {
    let q = q.into_inner();
    only_params(&q, &["type", "detail", "fields"])?;
    let detail = q.get("detail").map(|d| parse_bool("detail", d)).transpose()?;
    if detail == Some(true) && q.contains_key("fields") {
        return Err(BaremetalError::BadRequest("Can not specify ?detail=True and fields in the same request.".into()));
    }
    require_system(&api, Rule::SYSTEM_READER, "baremetal:driver:get")?;
    let too_old = || {
        BaremetalError::NotAcceptable("Request not acceptable. The minimal required API version should be 1.30".into())
    };
    if detail.is_some() && !api.at_least(30) {
        return Err(too_old());
    }
    let kind = q.get("type").cloned();
    if kind.is_some() && !api.at_least(30) {
        return Err(too_old());
    }
    let fields = driver_select(&q, &api)?;
    let types = match kind.as_deref() {
        None | Some("dynamic") => active_types(&state).await?,
        Some("classic") => Vec::new(),
        Some(_) => {
            return Err(BaremetalError::BadRequest(
                "\"type\" filter must be one of \"classic\" or \"dynamic\", if specified.".into(),
            ));
        }
    };
    // Interface details are computed for `detail=true`, or when asked for by name.
    let want_ifaces = detail == Some(true)
        || fields.as_ref().is_some_and(|f| f.iter().any(|x| x.starts_with("default_") || x.starts_with("enabled_")));
    let drivers: Vec<Value> = types
        .iter()
        .map(|(hw, hosts)| {
            let m = driver_json(&state.base, &api, hw, hosts, want_ifaces);
            match &fields {
                Some(f) => select_fields(m, f),
                None => Value::Object(m),
            }
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({"drivers": drivers})))
}

/// A hardware type, with its interfaces.
#[utoipa::path(get, path = "/v1/drivers/{name}", tag = "drivers",
    params(("name" = String, Path, description = "A hardware type."),
        ("fields" = Option<String>, Query, description = "(1.77) Only these fields (comma-separated), plus `links`.")),
    responses((status = 200, description = "The hardware type.", body = DriverDoc)))]
async fn driver_show(
    api: Api,
    state: web::Data<BaremetalState>,
    path: web::Path<String>,
    q: Query,
) -> Result<HttpResponse> {
    let q = q.into_inner();
    only_params(&q, &["fields"])?;
    require_system(&api, Rule::SYSTEM_READER, "baremetal:driver:get")?;
    let fields = driver_select(&q, &api)?;
    let name = strip_json_suffix(&api, &path.into_inner());
    let types = active_types(&state).await?;
    let (hw, hosts) = types.iter().find(|(hw, _)| hw.name == name).ok_or_else(|| unknown_driver(&name))?;
    let m = driver_json(&state.base, &api, hw, hosts, true);
    Ok(HttpResponse::Ok().json(match &fields {
        Some(f) => select_fields(m, f),
        None => Value::Object(m),
    }))
}

/// A driver some conductor serves, for its sub-resources.
async fn served(state: &BaremetalState, name: &str) -> Result<&'static HardwareInfo> {
    let types = active_types(state).await?;
    types.iter().find(|(hw, _)| hw.name == name).map(|(hw, _)| *hw).ok_or_else(|| driver_missing(name))
}

/// The `driver_info` properties a hardware type knows.
#[utoipa::path(get, path = "/v1/drivers/{name}/properties", tag = "drivers",
    params(("name" = String, Path, description = "A hardware type.")),
    responses((status = 200, description = "Each property with its description.", body = DriverProperties)))]
async fn driver_properties(
    api: Api,
    state: web::Data<BaremetalState>,
    path: web::Path<String>,
    q: Query,
) -> Result<HttpResponse> {
    only_params(&q, &[])?;
    require_system(&api, Rule::SYSTEM_READER, "baremetal:driver:get_properties")?;
    let hw = served(&state, &path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(hw.properties_doc()))
}

/// What a RAID `target_raid_config` logical disk may say.
fn logical_disk_properties() -> Value {
    json!({
        "raid_level": "RAID level of the logical disk: 'JBOD', '0', '1', '2', '5', '6', '1+0', '5+0' or '6+0'. Required.",
        "size_gb": "Size of the logical disk in GiB (an integer), or 'MAX' to use the remaining space. Required.",
        "volume_name": "Name of the volume; generated when not given. Optional.",
        "is_root_volume": "Whether this disk is the root volume; false by default. Optional.",
        "share_physical_disks": "Whether other logical disks may share this one's physical disks; false by default. Optional.",
        "disk_type": "Preferred disk type, 'hdd' or 'ssd'; any when not given. Optional.",
        "interface_type": "Preferred disk interface, 'sata', 'scsi' or 'sas'; any when not given. Optional.",
        "number_of_physical_disks": "How many physical disks to use; by default the minimum the RAID level needs. Optional.",
        "controller": "The RAID controller to use; chosen by the driver when not given. Optional.",
        "physical_disks": "The physical disks to use; chosen by the driver when not given. Optional.",
    })
}

/// (1.12) What a RAID logical disk may say.
#[utoipa::path(get, path = "/v1/drivers/{name}/raid/logical_disk_properties", tag = "drivers",
    params(("name" = String, Path, description = "A hardware type.")),
    responses((status = 200, description = "Each logical disk key with its description.", body = RaidLogicalDiskProperties)))]
async fn raid_properties(
    api: Api,
    state: web::Data<BaremetalState>,
    path: web::Path<String>,
    q: Query,
) -> Result<HttpResponse> {
    only_params(&q, &[])?;
    require_system(&api, Rule::SYSTEM_READER, "baremetal:driver:get_raid_logical_disk_properties")?;
    api.accept(12)?;
    served(&state, &path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(logical_disk_properties()))
}

/// The vendor passthru methods of a hardware type (none).
#[utoipa::path(get, path = "/v1/drivers/{name}/vendor_passthru/methods", tag = "drivers",
    params(("name" = String, Path, description = "A hardware type.")),
    responses((status = 200, description = "The methods by name (always empty).", body = Object)))]
async fn vendor_methods(
    api: Api,
    state: web::Data<BaremetalState>,
    path: web::Path<String>,
    q: Query,
) -> Result<HttpResponse> {
    only_params(&q, &[])?;
    require_system(&api, Rule::SYSTEM_ADMIN, "baremetal:driver:vendor_passthru")?;
    served(&state, &path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(json!({})))
}

// ---- conductors ---------------------------------------------------------------

const CONDUCTOR_FIELDS: [&str; 7] =
    ["created_at", "updated_at", "hostname", "conductor_group", "drivers", "links", "alive"];

fn alive(state: &BaremetalState, c: &Conductor) -> bool {
    // This process is alive by definition; others by their heartbeat.
    let fresh =
        chrono::Utc::now().naive_utc().signed_duration_since(c.updated_at).num_seconds() <= state.heartbeat_timeout_s;
    c.online && (fresh || c.hostname == state.engine.host())
}

fn conductor_json(state: &BaremetalState, c: &Conductor) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("created_at".into(), ts(&c.created_at));
    m.insert("updated_at".into(), ts(&c.updated_at));
    m.insert("hostname".into(), json!(c.hostname));
    m.insert("conductor_group".into(), json!(c.conductor_group));
    m.insert("drivers".into(), json!(driver_list(c)));
    m.insert("links".into(), links(&state.base, "conductors", &c.hostname));
    m.insert("alive".into(), json!(alive(state, c)));
    m
}

fn conductor_select(q: &HashMap<String, String>, api: &Api) -> Result<Option<Vec<String>>> {
    let Some(raw) = q.get("fields") else { return Ok(None) };
    api.accept(8)?;
    let mut out = Vec::new();
    for f in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if !CONDUCTOR_FIELDS.contains(&f) {
            return Err(BaremetalError::BadRequest(format!("Field {f} is not a valid field.")));
        }
        out.push(f.to_string());
    }
    Ok(Some(out))
}

fn conductor_not_found(hostname: &str) -> BaremetalError {
    BaremetalError::NotFound(format!("Conductor {hostname} could not be found."))
}

/// (1.49) The conductors.
#[utoipa::path(get, path = "/v1/conductors", tag = "conductors",
    params(PageQuery, FieldsQuery,
        ("detail" = Option<bool>, Query, description = "(1.43) Every field of each conductor.")),
    responses((status = 200, description = "A page of conductors.", body = ConductorList)))]
async fn conductors_list(api: Api, state: web::Data<BaremetalState>, q: Query) -> Result<HttpResponse> {
    api.require(49)?;
    let q = q.into_inner();
    only_params(&q, &["marker", "limit", "sort_key", "sort_dir", "fields", "detail"])?;
    require_system(&api, Rule::SYSTEM_READER, "baremetal:conductor:get")?;
    let fields = conductor_select(&q, &api)?;
    let detail = parse_detail(&q, &api, 43)?;
    let sort_key = q.get("sort_key").cloned().unwrap_or_else(|| "id".into());
    if sort_key == "alive" || sort_key == "drivers" {
        return Err(BaremetalError::BadRequest(format!(
            "The sort_key value {sort_key} is an invalid field for sorting"
        )));
    }
    // Conductors are few: sort and page in memory (`id` is registration order).
    let (mut paging, _) = Paging::parse(&strip_sort_key(&q), state.max_limit, &[("id", "id")], &[])?;
    paging.sort_key = sort_key.clone();
    let key = |c: &Conductor| -> (String, String) {
        match sort_key.as_str() {
            "hostname" => (c.hostname.clone(), String::new()),
            "conductor_group" => (c.conductor_group.clone(), c.hostname.clone()),
            "updated_at" => (c.updated_at.to_string(), c.hostname.clone()),
            _ => (c.created_at.to_string(), c.hostname.clone()),
        }
    };
    if !["id", "hostname", "conductor_group", "created_at", "updated_at"].contains(&sort_key.as_str()) {
        return Err(BaremetalError::BadRequest(format!(
            "The sort_key value \"{sort_key}\" is an invalid field for sorting"
        )));
    }
    let mut rows = conductors(&state).await?;
    rows.sort_by_key(|c| key(c));
    if paging.sort_dir == "desc" {
        rows.reverse();
    }
    if let Some(m) = &paging.marker {
        let pos = rows.iter().position(|c| &c.hostname == m).ok_or_else(|| conductor_not_found(m))?;
        rows.drain(..=pos);
    }
    rows.truncate(paging.limit.max(0) as usize);
    let select = match (&fields, detail == Some(true)) {
        (Some(f), _) => Some(f.clone()),
        (None, true) => None,
        (None, false) => Some(vec!["hostname".to_string(), "conductor_group".into(), "alive".into()]),
    };
    let last = rows.last().map(|c| c.hostname.clone());
    let items = rows
        .iter()
        .map(|c| {
            let m = conductor_json(&state, c);
            match &select {
                Some(f) => select_fields(m, f),
                None => Value::Object(m),
            }
        })
        .collect();
    let extras = carried(&q, detail, &fields, &[]);
    Ok(HttpResponse::Ok().json(collection(&state.base, "conductors", "conductors", &paging, items, last, &extras)))
}

/// The query without `sort_key` (checked separately), for the shared
/// paging arguments.
fn strip_sort_key(q: &HashMap<String, String>) -> HashMap<String, String> {
    let mut q = q.clone();
    q.remove("sort_key");
    q
}

/// (1.49) A conductor.
#[utoipa::path(get, path = "/v1/conductors/{hostname}", tag = "conductors",
    params(("hostname" = String, Path), FieldsQuery),
    responses((status = 200, description = "The conductor.", body = ConductorDoc)))]
async fn conductor_show(
    api: Api,
    state: web::Data<BaremetalState>,
    path: web::Path<String>,
    q: Query,
) -> Result<HttpResponse> {
    api.require(49)?;
    let q = q.into_inner();
    only_params(&q, &["fields"])?;
    require_system(&api, Rule::SYSTEM_READER, "baremetal:conductor:get")?;
    let fields = conductor_select(&q, &api)?;
    let hostname = strip_json_suffix(&api, &path.into_inner());
    let rows = conductors(&state).await?;
    let c = rows.iter().find(|c| c.hostname == hostname).ok_or_else(|| conductor_not_found(&hostname))?;
    let m = conductor_json(&state, c);
    Ok(HttpResponse::Ok().json(match &fields {
        Some(f) => select_fields(m, f),
        None => Value::Object(m),
    }))
}

pub fn routes(r: &mut Routes) {
    crate::routes!(r;
        drivers_list | "/v1/drivers/",
        conductors_list | "/v1/conductors/",
        driver_show,
        driver_properties,
        raid_properties,
        vendor_methods,
        conductor_show,
    );
}

#[cfg(test)]
mod tests {
    use super::super::ports::py_bool;
    use super::*;
    use crate::common::auth::AuthContext;
    use crate::common::microversion::Version;
    use crate::drivers::hardware_info;

    fn api(minor: u16) -> Api {
        Api { ctx: AuthContext::noauth(), version: Version::new(1, minor) }
    }

    #[test]
    fn driver_fields_by_version() {
        let hw = hardware_info("ipmi").expect("ipmi");
        let hosts = vec!["h1".to_string()];
        let old = driver_json("http://h", &api(1), hw, &hosts, true);
        assert_eq!(old.keys().cloned().collect::<Vec<_>>(), vec!["hosts", "links", "name"]);
        let v14 = driver_json("http://h", &api(14), hw, &hosts, true);
        assert_eq!(v14["properties"][0]["href"], "http://h/v1/drivers/ipmi/properties");
        assert!(!v14.contains_key("type"));
        let v32 = driver_json("http://h", &api(32), hw, &hosts, true);
        assert_eq!(v32["type"], "dynamic");
        assert_eq!(v32["default_power_interface"], "ipmitool");
        assert!(!v32.contains_key("default_storage_interface") && !v32.contains_key("default_bios_interface"));
        let new = driver_json("http://h", &api(115), hw, &hosts, true);
        for kind in INTERFACE_KINDS {
            assert!(new.contains_key(&format!("default_{kind}_interface")), "{kind}");
            assert!(new[&format!("enabled_{kind}_interfaces")].is_array(), "{kind}");
        }
        assert_eq!(new.len(), 5 + 2 * INTERFACE_KINDS.len());
        assert_eq!(driver_fields(&api(115)).len(), new.len());
        let brief = driver_json("http://h", &api(115), hw, &hosts, false);
        assert_eq!(brief.len(), 5);
        assert_eq!(py_bool(true), "True");
    }

    #[test]
    fn driver_field_selection() {
        let mut q = HashMap::new();
        q.insert("fields".to_string(), "name,default_firmware_interface".to_string());
        assert!(matches!(driver_select(&q, &api(76)), Err(BaremetalError::NotAcceptable(_))));
        assert!(matches!(driver_select(&q, &api(85)), Err(BaremetalError::BadRequest(_))));
        assert_eq!(driver_select(&q, &api(86)).unwrap().unwrap().len(), 2);
        assert!(logical_disk_properties().as_object().unwrap().contains_key("raid_level"));
    }
}
