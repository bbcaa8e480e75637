//! Servers: create (a bare-metal deploy through the engine), list, show,
//! update, delete, the power and rebuild actions, metadata and addresses.

use std::collections::BTreeMap;
use std::net::IpAddr;

use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use rand::Rng;
use serde_json::{Map, Value, json};

use super::error::Result;
use super::openapi::{Link, NextLink};
use super::{ApiVersion, Caller, ComputeError, ComputeState, body_object, parse_bool, query_pairs};
use crate::common::auth::AuthContext;
use crate::common::openapi::Routes;
use crate::engine::instances::{self, NetworkRequest, ports_of};
use crate::engine::states::PowerState;
use crate::engine::{Actor, EngineError};
use crate::storage::baremetal as bm;
use crate::storage::compute as fl;
use crate::storage::images as img;
use crate::storage::network as net;
use crate::storage::servers::{self as db, Server, ServerFilter};

pub fn routes(r: &mut Routes) {
    crate::routes!(r; list, create, detail, show, update, delete, action, ips, interfaces, interface_attach,
        interface_show, interface_detach, metadata_index, metadata_replace, metadata_merge, metadata_show,
        metadata_put, metadata_delete);
}

// ---- documents -----------------------------------------------------------------------

/// A server in the brief listing.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ServerBrief {
    id: String,
    name: String,
    links: Vec<Link>,
}

/// A page of servers; `servers_links` when `limit` cut it short.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ServerList {
    servers: Vec<ServerBrief>,
    #[serde(default)]
    servers_links: Vec<NextLink>,
}

/// A page of servers with every field.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ServerDetailList {
    servers: Vec<ServerDoc>,
    #[serde(default)]
    servers_links: Vec<NextLink>,
}

/// `{"server": …}`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ServerShow {
    server: ServerDoc,
}

fn image_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::Ref;
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Type};
    utoipa::openapi::schema::Schema::OneOf(
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .property("id", ObjectBuilder::new().schema_type(Type::String))
                    .required("id")
                    .property("links", ArrayBuilder::new().items(Ref::from_schema_name("Link")))
                    .required("links"),
            )
            .item(ObjectBuilder::new().schema_type(Type::String).enum_values(Some([""])))
            .description(Some("The image booted (its id and bookmark link), `\"\"` when none."))
            .build(),
    )
}

/// The flavor of a server: below 2.47 its id and bookmark link, from 2.47
/// a copy of its fields (`original_name` its name then).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ServerFlavor {
    #[serde(default)]
    id: String,
    #[serde(default)]
    links: Vec<Link>,
    #[serde(default)]
    vcpus: i64,
    #[serde(default)]
    ram: i64,
    #[serde(default)]
    disk: i64,
    #[serde(default)]
    ephemeral: i64,
    #[serde(default)]
    swap: i64,
    #[serde(default)]
    original_name: String,
    #[serde(default)]
    extra_specs: std::collections::BTreeMap<String, String>,
}

/// An address of a server on a network.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ServerAddress {
    /// 4 or 6.
    version: i64,
    addr: String,
    /// `fixed`.
    #[serde(rename = "OS-EXT-IPS:type")]
    ip_type: String,
    #[serde(rename = "OS-EXT-IPS-MAC:mac_addr")]
    mac_addr: String,
}

/// A security group by name.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct SecurityGroupName {
    name: String,
}

/// A volume attached to a server (bare-metal servers have none).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct VolumeAttached {
    id: String,
}

/// Why a server is in ERROR; `details` is hidden from non-administrators
/// for a 500.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ServerFault {
    code: i64,
    message: String,
    #[schema(format = DateTime)]
    created: String,
    #[serde(default)]
    details: String,
}

/// A server. Administrators also see the `OS-EXT-SRV-ATTR:` fields (from
/// 2.3 the extended ones, from 2.16 `host_status`); others see
/// `OS-EXT-SRV-ATTR:hostname` from 2.90. Microversions add `locked` (2.9),
/// `description` (2.19), `tags` (2.26), the flavor's fields (2.47),
/// `trusted_image_certificates` (2.63), `server_groups` (2.71),
/// `locked_reason` (2.73), `pinned_availability_zone` (2.96) and
/// `scheduler_hints` (2.100). Launch times are `YYYY-MM-DDTHH:MM:SS.ffffff`
/// (UTC, no zone).
#[derive(utoipa::ToSchema)]
#[schema(as = Server)]
#[allow(dead_code, non_snake_case)]
pub struct ServerDoc {
    id: String,
    name: String,
    /// `BUILD`, `ACTIVE`, `REBOOT`, `HARD_REBOOT`, `REBUILD`, `SHUTOFF`, `ERROR`, `DELETED` or `UNKNOWN`.
    status: String,
    tenant_id: String,
    user_id: String,
    metadata: std::collections::BTreeMap<String, String>,
    /// A hash of project and node; empty before placement.
    hostId: String,
    #[schema(schema_with = image_schema)]
    image: Value,
    flavor: ServerFlavor,
    #[schema(format = DateTime)]
    created: String,
    #[schema(format = DateTime)]
    updated: String,
    /// By network name.
    addresses: std::collections::BTreeMap<String, Vec<ServerAddress>>,
    accessIPv4: String,
    accessIPv6: String,
    links: Vec<Link>,
    #[serde(rename = "OS-DCF:diskConfig")]
    disk_config: String,
    /// While building (0), rebuilding (0) or active (100).
    #[serde(default)]
    progress: i64,
    #[serde(rename = "OS-EXT-AZ:availability_zone")]
    availability_zone: String,
    /// `True` or empty.
    config_drive: String,
    #[schema(required = true)]
    key_name: Option<String>,
    #[serde(rename = "OS-SRV-USG:launched_at")]
    #[schema(required = true)]
    launched_at: Option<String>,
    #[serde(rename = "OS-SRV-USG:terminated_at")]
    #[schema(required = true)]
    terminated_at: Option<String>,
    security_groups: Vec<SecurityGroupName>,
    #[serde(rename = "OS-EXT-STS:task_state")]
    #[schema(required = true)]
    task_state: Option<String>,
    #[serde(rename = "OS-EXT-STS:vm_state")]
    vm_state: String,
    #[serde(rename = "OS-EXT-STS:power_state")]
    power_state: i64,
    #[serde(rename = "os-extended-volumes:volumes_attached")]
    volumes_attached: Vec<VolumeAttached>,
    #[serde(rename = "OS-EXT-SRV-ATTR:host")]
    host: Option<String>,
    #[serde(rename = "OS-EXT-SRV-ATTR:instance_name", default)]
    instance_name: String,
    #[serde(rename = "OS-EXT-SRV-ATTR:hypervisor_hostname")]
    hypervisor_hostname: Option<String>,
    #[serde(rename = "OS-EXT-SRV-ATTR:reservation_id", default)]
    reservation_id: String,
    #[serde(rename = "OS-EXT-SRV-ATTR:launch_index", default)]
    launch_index: i64,
    #[serde(rename = "OS-EXT-SRV-ATTR:kernel_id", default)]
    kernel_id: String,
    #[serde(rename = "OS-EXT-SRV-ATTR:ramdisk_id", default)]
    ramdisk_id: String,
    #[serde(rename = "OS-EXT-SRV-ATTR:root_device_name")]
    root_device_name: Option<String>,
    /// Base64.
    #[serde(rename = "OS-EXT-SRV-ATTR:user_data")]
    user_data: Option<String>,
    #[serde(rename = "OS-EXT-SRV-ATTR:hostname", default)]
    hostname: String,
    /// `UP`, or empty before placement.
    #[serde(default)]
    host_status: String,
    #[serde(default)]
    locked: bool,
    description: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    trusted_image_certificates: Option<Vec<String>>,
    #[serde(default)]
    server_groups: Vec<String>,
    locked_reason: Option<String>,
    pinned_availability_zone: Option<String>,
    #[serde(default)]
    #[schema(value_type = Object)]
    scheduler_hints: Value,
    /// In ERROR only.
    #[serde(default)]
    fault: ServerFault,
}

/// A network a new server is to be on: a network (`uuid`, optionally
/// `fixed_ip`) or an existing `port`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct NetworkReq {
    #[serde(default)]
    #[schema(format = Uuid)]
    uuid: String,
    #[serde(default)]
    #[schema(format = Uuid)]
    port: String,
    /// An IPv4 or IPv6 address.
    #[serde(default)]
    fixed_ip: String,
}

fn networks_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Type};
    utoipa::openapi::schema::Schema::OneOf(
        OneOfBuilder::new()
            .item(ArrayBuilder::new().items(<NetworkReq as utoipa::PartialSchema>::schema()))
            .item(ObjectBuilder::new().schema_type(Type::String).enum_values(Some(["auto", "none"])))
            .description(Some(
                "The networks: a list, or (2.37) `auto` or `none`; required from 2.37, `auto` below when absent.",
            ))
            .build(),
    )
}

/// A block device mapping; only an image boot (`source_type` `image`,
/// `boot_index` 0, the image's `uuid`) is used.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct BlockDeviceMapping {
    #[serde(default)]
    uuid: String,
    #[serde(default)]
    source_type: String,
    #[serde(default)]
    destination_type: String,
    #[serde(default)]
    #[schema(value_type = Value)]
    boot_index: Value,
}

/// A new server. The image comes from `imageRef` or an image block device
/// mapping of boot index 0.
#[derive(utoipa::ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct ServerFields {
    /// No leading or trailing space.
    #[schema(min_length = 1, max_length = 255)]
    name: String,
    /// A flavor's id or link.
    #[schema(min_length = 1)]
    flavorRef: String,
    /// An image's id or link.
    #[serde(default)]
    #[schema(max_length = 255)]
    imageRef: String,
    #[serde(default)]
    block_device_mapping_v2: Vec<BlockDeviceMapping>,
    #[serde(default)]
    #[schema(max_length = 255)]
    key_name: String,
    /// Base64, at most 65535 characters.
    #[serde(default)]
    #[schema(max_length = 65535)]
    user_data: String,
    #[serde(default)]
    config_drive: bool,
    /// At most 128 items; keys 1–255 characters, values up to 255.
    #[serde(default)]
    metadata: std::collections::BTreeMap<String, String>,
    /// `nova` (or `nova:<host>`).
    #[serde(default)]
    availability_zone: String,
    /// (2.19)
    #[schema(max_length = 255)]
    description: Option<String>,
    /// As many servers as fit the quota, at least this many.
    #[serde(default)]
    #[schema(minimum = 1)]
    min_count: i64,
    #[serde(default)]
    #[schema(minimum = 1)]
    max_count: i64,
    #[serde(default)]
    #[schema(schema_with = networks_schema)]
    networks: Value,
}

/// Scheduler hints: `group`, a server group to join.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct SchedulerHints {
    #[serde(default)]
    group: String,
}

/// `{"server": …}` to create, with optional scheduler hints.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ServerCreate {
    server: ServerFields,
    #[serde(rename = "os:scheduler_hints", default)]
    hints: SchedulerHints,
    /// The older spelling of `os:scheduler_hints`.
    #[serde(rename = "OS-SCH-HNT:scheduler_hints", default)]
    old_hints: SchedulerHints,
}

/// A server just requested (the first, when several).
#[derive(utoipa::ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct ServerCreated {
    id: String,
    links: Vec<Link>,
    #[serde(rename = "OS-DCF:diskConfig")]
    disk_config: String,
    security_groups: Vec<SecurityGroupName>,
    adminPass: String,
}

/// `{"server": …}` as requested.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ServerCreatedShow {
    server: ServerCreated,
}

/// What a server update may change: `description` from 2.19, `hostname`
/// from 2.90; the access addresses and disk config are accepted and
/// ignored.
#[derive(utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code, non_snake_case)]
pub struct ServerUpdateFields {
    #[serde(default)]
    #[schema(min_length = 1, max_length = 255)]
    name: String,
    #[serde(default)]
    accessIPv4: String,
    #[serde(default)]
    accessIPv6: String,
    #[serde(rename = "OS-DCF:diskConfig", default)]
    disk_config: String,
    #[schema(max_length = 255)]
    description: Option<String>,
    #[serde(default)]
    #[schema(max_length = 63)]
    hostname: String,
}

/// `{"server": …}` to update.
#[derive(utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ServerUpdate {
    server: ServerUpdateFields,
}

/// `{"os-start": null}`: powers a stopped server on.
#[derive(utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct StartAction {
    /// Ignored.
    #[serde(rename = "os-start")]
    #[schema(value_type = Value)]
    start: Value,
}

/// `{"os-stop": null}`: powers an active (or errored) server off.
#[derive(utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct StopAction {
    /// Ignored.
    #[serde(rename = "os-stop")]
    #[schema(value_type = Value)]
    stop: Value,
}

/// The kind of reboot (any case).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub enum RebootType {
    #[serde(rename = "SOFT")]
    Soft,
    #[serde(rename = "HARD")]
    Hard,
    #[serde(rename = "soft")]
    SoftLower,
    #[serde(rename = "hard")]
    HardLower,
    #[serde(rename = "Soft")]
    SoftTitle,
    #[serde(rename = "Hard")]
    HardTitle,
}

/// How to reboot.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct Reboot {
    #[schema(inline)]
    r#type: RebootType,
}

/// `{"reboot": {"type": "SOFT"|"HARD"}}`.
#[derive(utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct RebootAction {
    reboot: Reboot,
}

/// What a rebuild deploys: the image, and optionally a new name, metadata,
/// (2.54) keypair and (2.57) user data.
#[derive(utoipa::ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct Rebuild {
    /// An image's id or link.
    #[schema(max_length = 255)]
    imageRef: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    metadata: std::collections::BTreeMap<String, String>,
    /// (2.54)
    #[schema(max_length = 255)]
    key_name: Option<String>,
    /// (2.57) Base64; null clears it.
    #[schema(max_length = 65535)]
    user_data: Option<String>,
}

/// `{"rebuild": …}`.
#[derive(utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct RebuildAction {
    rebuild: Rebuild,
}

/// A server action: one key naming it.
#[derive(utoipa::ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum ServerAction {
    Start(StartAction),
    Stop(StopAction),
    Reboot(RebootAction),
    Rebuild(RebuildAction),
}

/// A rebuilt server, with its new administrator password.
#[derive(utoipa::ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct RebuiltServer {
    #[serde(flatten)]
    server: ServerDoc,
    adminPass: String,
}

/// `{"server": …}` as rebuilt.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct RebuildShow {
    server: RebuiltServer,
}

/// `{"addresses": …}`: a server's addresses by network name.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ServerAddresses {
    addresses: std::collections::BTreeMap<String, Vec<ServerAddress>>,
}

/// `{"metadata": …}`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct Metadata {
    /// At most 128 items; keys 1–255 characters, values up to 255.
    metadata: std::collections::BTreeMap<String, String>,
}

/// `{"meta": {"<key>": "<value>"}}`: one metadata item.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct MetaItem {
    meta: std::collections::BTreeMap<String, String>,
}

/// An address of an attached port.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct FixedIp {
    subnet_id: String,
    ip_address: String,
}

/// A port attached to a server; `tag` (always null) from 2.70.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct InterfaceAttachment {
    port_state: String,
    fixed_ips: Vec<FixedIp>,
    port_id: String,
    net_id: String,
    mac_addr: String,
    tag: Option<String>,
}

/// `{"interfaceAttachments": […]}`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct InterfaceList {
    interfaceAttachments: Vec<InterfaceAttachment>,
}

/// `{"interfaceAttachment": …}`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct InterfaceShow {
    interfaceAttachment: InterfaceAttachment,
}

/// An address asked for on attach.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct FixedIpReq {
    ip_address: String,
}

/// What to attach: an existing `port_id`, or a new port on `net_id`
/// (optionally with the first of `fixed_ips`); neither picks the network
/// as a create does.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct InterfaceAttachFields {
    #[serde(default)]
    #[schema(format = Uuid)]
    port_id: String,
    #[serde(default)]
    #[schema(format = Uuid)]
    net_id: String,
    #[serde(default)]
    fixed_ips: Vec<FixedIpReq>,
}

/// `{"interfaceAttachment": …}` to attach.
#[derive(utoipa::ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct InterfaceAttach {
    interfaceAttachment: InterfaceAttachFields,
}

/// Filters and paging of the server listings.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ServerQuery {
    /// Every project's servers (administrators); empty means true.
    all_tenants: Option<String>,
    /// With `all_tenants`, only this project's.
    project_id: Option<String>,
    /// With `all_tenants`, only this project's (older spelling).
    tenant_id: Option<String>,
    /// Only servers of this status.
    status: Option<String>,
    /// `true`: the deleted servers (none are kept).
    deleted: Option<String>,
    /// Only servers of this image.
    image: Option<String>,
    /// Only servers of this flavor id.
    flavor: Option<String>,
    /// Only servers on this node (administrators).
    node: Option<String>,
    /// Only this user's servers (administrators).
    user_id: Option<String>,
    /// A regular expression the name must match.
    name: Option<String>,
    #[param(minimum = 0)]
    limit: Option<i64>,
    /// The id of the previous page's last server.
    marker: Option<String>,
}

fn now() -> chrono::NaiveDateTime {
    chrono::Utc::now().naive_utc()
}

fn ts(t: chrono::NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

fn not_found(id: &str) -> ComputeError {
    ComputeError::NotFound(format!("Instance {id} could not be found."))
}

fn actor(ctx: &AuthContext) -> Actor {
    Actor { user_id: ctx.user_id.clone(), project_id: ctx.project_id.clone() }
}

/// Nova's status from `(vm_state, task_state)`.
pub fn status(s: &Server) -> &'static str {
    match (s.vm_state.as_str(), s.task_state.as_deref()) {
        ("building", _) => "BUILD",
        ("active", Some("rebooting")) => "REBOOT",
        ("active", Some("rebooting_hard")) => "HARD_REBOOT",
        ("active" | "stopped", Some("rebuilding" | "rebuild_spawning")) => "REBUILD",
        ("active", _) => "ACTIVE",
        ("stopped", _) => "SHUTOFF",
        ("error", _) => "ERROR",
        ("deleted", _) => "DELETED",
        _ => "UNKNOWN",
    }
}

/// The vm_states a `status` filter stands for.
fn vm_states_of(status: &str) -> Option<Vec<String>> {
    let v: &[&str] = match status.to_ascii_uppercase().as_str() {
        "BUILD" => &["building"],
        "ACTIVE" | "REBOOT" | "HARD_REBOOT" => &["active"],
        "SHUTOFF" => &["stopped"],
        "ERROR" => &["error"],
        "REBUILD" => &["active", "stopped"],
        _ => return None,
    };
    Some(v.iter().map(|s| s.to_string()).collect())
}

async fn load(state: &ComputeState, ctx: &AuthContext, id: &str) -> Result<Server> {
    let key = id.to_string();
    let s = match state.storage.read(move |c| db::server(c, &key)).await {
        Ok(s) => s,
        Err(crate::storage::StorageError::NotFound { .. }) => return Err(not_found(id)),
        Err(e) => return Err(e.into()),
    };
    if !ctx.is_admin() && ctx.project_id.as_deref() != Some(s.project_id.as_str()) {
        return Err(not_found(id));
    }
    Ok(s)
}

/// The addresses of a server's ports, by network name.
async fn addresses_of(state: &ComputeState, servers: &[Server]) -> Result<BTreeMap<String, Value>> {
    let ports: Vec<(String, String)> =
        servers.iter().flat_map(|s| ports_of(s).into_iter().map(|p| (s.uuid.clone(), p.port))).collect();
    if ports.is_empty() {
        return Ok(BTreeMap::new());
    }
    let rows = state
        .storage
        .read(move |c| {
            let ids: Vec<String> = ports.iter().map(|p| p.1.clone()).collect();
            let allocations = net::allocations_of_ports(c, &ids)?;
            let mut out: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
            for (server, port) in &ports {
                let Ok(p) = net::port(c, port) else { continue };
                let Ok(nw) = net::network(c, &p.network_uuid) else { continue };
                let entry = out.entry(server.clone()).or_default();
                let list = entry.entry(nw.name.clone()).or_insert_with(|| json!([]));
                for a in allocations.iter().filter(|a| &a.port_uuid == port) {
                    let v6 = a.ip_address.parse::<IpAddr>().is_ok_and(|ip| ip.is_ipv6());
                    if let Value::Array(l) = list {
                        l.push(json!({"version": if v6 { 6 } else { 4 }, "addr": a.ip_address,
                            "OS-EXT-IPS:type": "fixed", "OS-EXT-IPS-MAC:mac_addr": p.mac_address}));
                    }
                }
            }
            Ok(out)
        })
        .await?;
    Ok(rows.into_iter().map(|(k, v)| (k, Value::Object(v))).collect())
}

/// The detailed view of a server at microversion `v`.
fn render(state: &ComputeState, ctx: &AuthContext, s: &Server, addresses: Value, v: ApiVersion) -> Value {
    let admin = ctx.is_admin();
    let flavor = json_of(&s.flavor);
    let st = status(s);
    let mut o = Map::new();
    o.insert("id".into(), json!(s.uuid));
    o.insert("name".into(), json!(s.name));
    o.insert("status".into(), json!(st));
    o.insert("tenant_id".into(), json!(s.project_id));
    o.insert("user_id".into(), json!(s.user_id));
    o.insert("metadata".into(), json_of(&s.metadata));
    let host_id = match &s.node_uuid {
        Some(n) => {
            use sha2::Digest;
            let h = sha2::Sha224::digest(format!("{}{}", s.project_id, n).as_bytes());
            h.iter().map(|b| format!("{b:02x}")).collect()
        }
        None => String::new(),
    };
    o.insert("hostId".into(), json!(host_id));
    o.insert(
        "image".into(),
        match &s.image_uuid {
            Some(i) => json!({"id": i, "links": [{"rel": "bookmark", "href": format!("{}/images/{i}", state.base)}]}),
            None => json!(""),
        },
    );
    let fid = flavor["id"].as_str().unwrap_or_default().to_string();
    o.insert(
        "flavor".into(),
        if v.at_least(47) {
            json!({"vcpus": flavor["vcpus"], "ram": flavor["ram"], "disk": flavor["disk"],
                "ephemeral": flavor["ephemeral"], "swap": flavor["swap"],
                "original_name": flavor["name"], "extra_specs": flavor["extra_specs"]})
        } else {
            json!({"id": fid, "links": [{"rel": "bookmark", "href": format!("{}/flavors/{fid}", state.base)}]})
        },
    );
    o.insert("created".into(), json!(ts(s.created_at)));
    o.insert("updated".into(), json!(ts(s.updated_at.unwrap_or(s.created_at))));
    o.insert("addresses".into(), addresses);
    o.insert("accessIPv4".into(), json!(""));
    o.insert("accessIPv6".into(), json!(""));
    o.insert("links".into(), state.links("servers", &s.uuid));
    o.insert("OS-DCF:diskConfig".into(), json!("MANUAL"));
    if matches!(st, "ACTIVE" | "BUILD" | "REBUILD") {
        o.insert("progress".into(), json!(if st == "ACTIVE" { 100 } else { 0 }));
    }
    o.insert(
        "OS-EXT-AZ:availability_zone".into(),
        json!(s.availability_zone.clone().unwrap_or_else(|| super::zones::ZONE.into())),
    );
    o.insert("config_drive".into(), json!(if s.config_drive { "True" } else { "" }));
    o.insert("key_name".into(), json!(s.key_name));
    o.insert(
        "OS-SRV-USG:launched_at".into(),
        json!(s.launched_at.map(|t| t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string())),
    );
    o.insert("OS-SRV-USG:terminated_at".into(), Value::Null);
    o.insert("security_groups".into(), json!([{"name": "default"}]));
    o.insert("OS-EXT-STS:task_state".into(), json!(s.task_state));
    o.insert("OS-EXT-STS:vm_state".into(), json!(s.vm_state));
    o.insert("OS-EXT-STS:power_state".into(), json!(s.power_state));
    o.insert("os-extended-volumes:volumes_attached".into(), json!([]));
    if admin {
        o.insert("OS-EXT-SRV-ATTR:host".into(), json!(s.node_uuid.as_ref().map(|_| "ironbark")));
        o.insert("OS-EXT-SRV-ATTR:instance_name".into(), json!(format!("instance-{:08x}", s.id)));
        o.insert("OS-EXT-SRV-ATTR:hypervisor_hostname".into(), json!(s.node_uuid));
        if v.at_least(3) {
            o.insert("OS-EXT-SRV-ATTR:reservation_id".into(), json!(s.reservation_id));
            o.insert("OS-EXT-SRV-ATTR:launch_index".into(), json!(0));
            o.insert("OS-EXT-SRV-ATTR:kernel_id".into(), json!(""));
            o.insert("OS-EXT-SRV-ATTR:ramdisk_id".into(), json!(""));
            o.insert("OS-EXT-SRV-ATTR:root_device_name".into(), Value::Null);
            o.insert("OS-EXT-SRV-ATTR:user_data".into(), json!(s.user_data));
            o.insert("OS-EXT-SRV-ATTR:hostname".into(), json!(s.hostname));
        }
        if v.at_least(16) {
            o.insert("host_status".into(), json!(if s.node_uuid.is_some() { "UP" } else { "" }));
        }
    } else if v.at_least(90) {
        o.insert("OS-EXT-SRV-ATTR:hostname".into(), json!(s.hostname));
    }
    if v.at_least(9) {
        o.insert("locked".into(), json!(false));
    }
    if v.at_least(19) {
        o.insert("description".into(), json!(s.description));
    }
    if v.at_least(26) {
        o.insert("tags".into(), json!([]));
    }
    if v.at_least(63) {
        o.insert("trusted_image_certificates".into(), Value::Null);
    }
    if v.at_least(71) {
        o.insert("server_groups".into(), json!([]));
    }
    if v.at_least(73) {
        o.insert("locked_reason".into(), Value::Null);
    }
    if v.at_least(96) {
        o.insert("pinned_availability_zone".into(), Value::Null);
    }
    if v.at_least(100) {
        o.insert("scheduler_hints".into(), json!({}));
    }
    if st == "ERROR"
        && let Some(f) = &s.fault
    {
        let mut f = json_of(f);
        if !admin && f["code"].as_u64() == Some(500) {
            // Nova hides a 500 fault's details from non-admins; the message stays.
            if let Some(m) = f.as_object_mut() {
                m.remove("details");
            }
        }
        o.insert("fault".into(), f);
    }
    Value::Object(o)
}

async fn render_all(state: &ComputeState, ctx: &AuthContext, servers: &[Server], v: ApiVersion) -> Result<Vec<Value>> {
    let mut addrs = addresses_of(state, servers).await?;
    Ok(servers.iter().map(|s| render(state, ctx, s, addrs.remove(&s.uuid).unwrap_or_else(|| json!({})), v)).collect())
}

// ---- list ------------------------------------------------------------------------

/// Lists the project's servers.
#[utoipa::path(get, path = "/v2.1/servers", tag = "servers", params(ServerQuery),
    responses((status = 200, description = "The servers.", body = ServerList)))]
async fn list(req: HttpRequest, caller: Caller, v: ApiVersion, state: web::Data<ComputeState>) -> Result<HttpResponse> {
    listing(req, caller, v, state, false).await
}

/// Lists the project's servers with every field.
#[utoipa::path(get, path = "/v2.1/servers/detail", tag = "servers", params(ServerQuery),
    responses((status = 200, description = "The servers.", body = ServerDetailList)))]
async fn detail(
    req: HttpRequest,
    caller: Caller,
    v: ApiVersion,
    state: web::Data<ComputeState>,
) -> Result<HttpResponse> {
    listing(req, caller, v, state, true).await
}

async fn listing(
    req: HttpRequest,
    caller: Caller,
    v: ApiVersion,
    state: web::Data<ComputeState>,
    detailed: bool,
) -> Result<HttpResponse> {
    let q = query_pairs(&req)?;
    let get = |k: &str| q.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let admin = caller.is_admin();
    let all_tenants = match get("all_tenants") {
        None => false,
        Some(s) if s.is_empty() => true,
        Some(s) => parse_bool(&s).unwrap_or(true),
    };
    if all_tenants && !admin {
        return Err(ComputeError::policy("servers:index:get_all_tenants"));
    }
    let mut f = ServerFilter::default();
    if !all_tenants {
        f.project_id = Some(caller.project_id.clone().unwrap_or_default());
    } else if let Some(p) = get("project_id").or_else(|| get("tenant_id")) {
        f.project_id = Some(p);
    }
    if let Some(s) = get("status") {
        match vm_states_of(&s) {
            Some(states) => f.vm_states = Some(states),
            None => return Ok(HttpResponse::Ok().json(json!({"servers": []}))),
        }
    }
    if let Some(d) = get("deleted")
        && parse_bool(&d) == Some(true)
    {
        // Deleted servers are not kept.
        return Ok(HttpResponse::Ok().json(json!({"servers": []})));
    }
    f.image_uuid = get("image");
    if admin {
        f.node_uuid = get("node");
    }
    f.user_id = get("user_id").filter(|_| admin);
    let name = match get("name") {
        Some(n) => Some(regex::Regex::new(&n).map_err(|_| ComputeError::bad(format!("Invalid name filter [{n}]")))?),
        None => None,
    };
    let flavor = get("flavor");
    let limit = match get("limit") {
        Some(l) => Some(l.parse::<usize>().map_err(|_| ComputeError::bad("limit param must be an integer"))?),
        None => None,
    };
    let marker = get("marker");
    let mut servers = state.storage.read(move |c| db::servers_list(c, &f)).await?;
    if let Some(re) = &name {
        servers.retain(|s| re.is_match(&s.name));
    }
    if let Some(fid) = &flavor {
        servers.retain(|s| json_of(&s.flavor)["id"].as_str() == Some(fid.as_str()));
    }
    if let Some(m) = &marker {
        let Some(i) = servers.iter().position(|s| &s.uuid == m) else {
            return Err(ComputeError::bad(format!("marker [{m}] not found")));
        };
        servers.drain(..=i);
    }
    let mut next = None;
    if let Some(l) = limit
        && servers.len() > l
    {
        servers.truncate(l);
        if let Some(last) = servers.last() {
            let mut qs: Vec<(String, String)> = q.iter().filter(|(k, _)| k != "marker").cloned().collect();
            qs.push(("marker".into(), last.uuid.clone()));
            let path = if detailed { "servers/detail" } else { "servers" };
            next = Some(format!("{}/v2.1/{path}?{}", state.base, serde_urlencoded::to_string(&qs).unwrap_or_default()));
        }
    }
    let items: Vec<Value> = if detailed {
        render_all(&state, &caller, &servers, v).await?
    } else {
        servers
            .iter()
            .map(|s| json!({"id": s.uuid, "name": s.name, "links": state.links("servers", &s.uuid)}))
            .collect()
    };
    let mut body = json!({"servers": items});
    if let Some(n) = next {
        body["servers_links"] = json!([{"rel": "next", "href": n}]);
    }
    Ok(HttpResponse::Ok().json(body))
}

/// Shows a server.
#[utoipa::path(get, path = "/v2.1/servers/{id}", tag = "servers", params(("id" = String, Path, description = "The server's UUID.")),
    responses((status = 200, description = "The server.", body = ServerShow)))]
async fn show(
    id: web::Path<String>,
    caller: Caller,
    v: ApiVersion,
    state: web::Data<ComputeState>,
) -> Result<HttpResponse> {
    let s = load(&state, &caller, &id).await?;
    let mut r = render_all(&state, &caller, std::slice::from_ref(&s), v).await?;
    Ok(HttpResponse::Ok().json(json!({"server": r.remove(0)})))
}

/// Lists a server's addresses.
#[utoipa::path(get, path = "/v2.1/servers/{id}/ips", tag = "servers", params(("id" = String, Path, description = "The server's UUID.")),
    responses((status = 200, description = "The addresses by network.", body = ServerAddresses)))]
async fn ips(id: web::Path<String>, caller: Caller, state: web::Data<ComputeState>) -> Result<HttpResponse> {
    let s = load(&state, &caller, &id).await?;
    let mut a = addresses_of(&state, std::slice::from_ref(&s)).await?;
    let list = a.remove(&s.uuid).unwrap_or_else(|| json!({}));
    Ok(HttpResponse::Ok().json(json!({"addresses": list})))
}

// ---- create ----------------------------------------------------------------------

fn str_attr(obj: &Map<String, Value>, key: &str, max: usize) -> Result<Option<String>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.chars().count() <= max => Ok(Some(s.clone())),
        Some(v @ Value::String(_)) => Err(ComputeError::invalid(key, v, format!("{v} is too long"))),
        Some(v) => Err(ComputeError::invalid(key, v, format!("{v} is not of type 'string'"))),
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.starts_with(' ') && !name.ends_with(' ') && name.chars().count() <= 255
}

/// Metadata: at most 128 string keys (1–255) and values (≤255).
fn parse_metadata(v: &Value) -> Result<Map<String, Value>> {
    let Value::Object(m) = v else {
        return Err(ComputeError::invalid("metadata", v, format!("{v} is not of type 'object'")));
    };
    if m.len() > 128 {
        return Err(ComputeError::QuotaExceeded("Quota exceeded for metadata_items: Requested more than 128".into()));
    }
    for (k, val) in m {
        if k.is_empty() || k.chars().count() > 255 {
            return Err(ComputeError::invalid("metadata", v, format!("'{k}' does not match any of the regexes")));
        }
        match val {
            Value::String(s) if s.chars().count() <= 255 => {}
            _ => return Err(ComputeError::invalid("metadata", v, format!("{val} is not of type 'string'"))),
        }
    }
    Ok(m.clone())
}

/// What the body asked of the network.
enum Networks {
    Auto,
    None,
    List(Vec<(Option<String>, Option<String>, Option<IpAddr>)>),
}

fn parse_networks(v: Option<&Value>, ver: ApiVersion) -> Result<Networks> {
    match v {
        None if ver.at_least(37) => Err(ComputeError::bad(
            "Invalid input for field/attribute server. Value: {}. 'networks' is a required property",
        )),
        None => Ok(Networks::Auto),
        Some(Value::String(s)) if ver.at_least(37) && s == "auto" => Ok(Networks::Auto),
        Some(Value::String(s)) if ver.at_least(37) && s == "none" => Ok(Networks::None),
        Some(Value::Array(list)) => {
            let mut out = Vec::new();
            for item in list {
                let Value::Object(o) = item else {
                    return Err(ComputeError::invalid("networks", item, format!("{item} is not of type 'object'")));
                };
                let net_id = str_attr(o, "uuid", 255)?;
                let port = str_attr(o, "port", 255)?;
                let fixed = match str_attr(o, "fixed_ip", 64)? {
                    Some(ip) => Some(
                        ip.parse::<IpAddr>()
                            .map_err(|_| ComputeError::bad(format!("Invalid fixed IP address ({ip})")))?,
                    ),
                    None => None,
                };
                for id in net_id.iter().chain(port.iter()) {
                    if uuid::Uuid::parse_str(id).is_err() {
                        return Err(ComputeError::bad(format!(
                            "Bad networks format: network uuid is not in proper format ({id})"
                        )));
                    }
                }
                if net_id.is_none() && port.is_none() {
                    return Err(ComputeError::bad("Bad networks format: network uuid is not in proper format (None)"));
                }
                out.push((net_id, port, fixed));
            }
            Ok(Networks::List(out))
        }
        Some(other) => Err(ComputeError::invalid("networks", other, format!("{other} is not of type 'array'"))),
    }
}

/// Everything checked before a server is stored.
struct Checked {
    flavor: fl::Flavor,
    image: Option<String>,
    key: Option<(String, String)>,
    networks: Vec<NetworkRequest>,
}

fn may_see_image(
    c: &mut crate::storage::DbConn,
    i: &img::Image,
    ctx: &AuthContext,
) -> crate::storage::StorageResult<bool> {
    if ctx.is_admin() || matches!(i.visibility.as_str(), "public" | "community") {
        return Ok(true);
    }
    let project = ctx.project_id.clone().unwrap_or_default();
    if i.owner.as_deref() == Some(project.as_str()) {
        return Ok(true);
    }
    if i.visibility == "shared" {
        return Ok(img::member(c, &i.uuid, &project).is_ok_and(|m| m.status == "accepted"));
    }
    Ok(false)
}

async fn check(
    state: &ComputeState,
    ctx: &AuthContext,
    flavor_ref: String,
    image_ref: Option<String>,
    key_name: Option<String>,
    networks: Networks,
) -> Result<Checked> {
    let ctx2 = ctx.clone();
    state
        .storage
        .read(move |c| {
            let ctx = &ctx2;
            let project = ctx.project_id.clone().unwrap_or_default();
            // A flavor reference may be its id or its link.
            let fid = flavor_ref.rsplit('/').next().unwrap_or(&flavor_ref).to_string();
            let flavor = match fl::flavor(c, &fid) {
                Ok(f) if ctx.is_admin() || fl::flavor_visible_to(c, &f, Some(&project))? => f,
                Ok(_) | Err(crate::storage::StorageError::NotFound { .. }) => {
                    return Ok(Err(ComputeError::bad(format!("Flavor {fid} could not be found."))));
                }
                Err(e) => return Err(e),
            };
            let mut image = None;
            if let Some(iref) = image_ref {
                let iid = iref.rsplit('/').next().unwrap_or(&iref).to_string();
                let i = match img::image(c, &iid) {
                    Ok(i) if may_see_image(c, &i, ctx)? => i,
                    Ok(_) | Err(crate::storage::StorageError::NotFound { .. }) => {
                        return Ok(Err(ComputeError::bad(format!("Image {iid} could not be found."))));
                    }
                    Err(e) => return Err(e),
                };
                if i.status != "active" {
                    return Ok(Err(ComputeError::bad(format!("Image {iid} is not active."))));
                }
                if i.min_ram > 0 && flavor.memory_mb < i.min_ram {
                    return Ok(Err(ComputeError::bad("Flavor's memory is too small for requested image.")));
                }
                if i.min_disk > 0 && flavor.root_gb > 0 && flavor.root_gb < i.min_disk {
                    return Ok(Err(ComputeError::bad("Flavor's disk is too small for requested image.")));
                }
                image = Some(i.uuid);
            }
            let mut key = None;
            if let Some(k) = key_name {
                let user = ctx.user_id.clone().unwrap_or_default();
                match fl::keypair(c, &user, &k) {
                    Ok(kp) => key = Some((kp.name, kp.public_key)),
                    Err(crate::storage::StorageError::NotFound { .. }) => {
                        return Ok(Err(ComputeError::bad("Invalid key_name provided.")));
                    }
                    Err(e) => return Err(e),
                }
            }
            let visible = net::networks_visible(c, if ctx.is_admin() { None } else { Some(project.as_str()) })?;
            let requests = match networks {
                Networks::None => Vec::new(),
                Networks::Auto => {
                    // The project's own network, else the one shared network.
                    let own: Vec<&net::Network> =
                        visible.iter().filter(|n| n.project_id == project && !n.external).collect();
                    let shared: Vec<&net::Network> = visible.iter().filter(|n| n.shared && !n.external).collect();
                    let pick = if own.is_empty() { shared } else { own };
                    match pick.len() {
                        0 => Vec::new(),
                        1 => vec![NetworkRequest::Network { uuid: pick[0].uuid.clone(), fixed_ip: None }],
                        _ => {
                            return Ok(Err(ComputeError::Conflict(
                                "Multiple possible networks found, use a Network ID to be more specific.".into(),
                            )));
                        }
                    }
                }
                Networks::List(list) => {
                    let mut out = Vec::new();
                    for (net_id, port, fixed) in list {
                        if let Some(p) = port {
                            let found = net::port(c, &p).ok().filter(|x| ctx.is_admin() || x.project_id == project);
                            let Some(found) = found else {
                                return Ok(Err(ComputeError::bad(format!("Port {p} could not be found."))));
                            };
                            if !found.device_id.is_empty() || !found.host_id.is_empty() {
                                return Ok(Err(ComputeError::Conflict(format!("Port {p} is still in use."))));
                            }
                            out.push(NetworkRequest::Port(p));
                        } else if let Some(n) = net_id {
                            if !visible.iter().any(|x| x.uuid == n) {
                                return Ok(Err(ComputeError::bad(format!("Network {n} could not be found."))));
                            }
                            out.push(NetworkRequest::Network { uuid: n, fixed_ip: fixed });
                        }
                    }
                    out
                }
            };
            Ok(Ok(Checked { flavor, image, key, networks: requests }))
        })
        .await?
}

fn admin_pass() -> String {
    const CHARS: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    (0..12).map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char).collect()
}

/// A hostname from the display name, as Nova sanitises it.
fn hostname_of(name: &str) -> String {
    let mut h: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else if c == ' ' || c == '_' || c == '.' {
                '-'
            } else {
                '\0'
            }
        })
        .filter(|c| *c != '\0')
        .collect();
    h = h.trim_matches(|c| c == '-' || c == '.').chars().take(63).collect();
    if h.is_empty() { "server".into() } else { h }
}

/// Takes the scheduler hints (`os:scheduler_hints`, or the older
/// `OS-SCH-HNT:scheduler_hints`) off a create body, leaving `{"server": …}`.
fn split_hints(body: &[u8]) -> Result<(Vec<u8>, Map<String, Value>)> {
    let Ok(Value::Object(mut top)) = serde_json::from_slice::<Value>(body) else {
        return Ok((body.to_vec(), Map::new()));
    };
    let mut hints = Map::new();
    for key in ["os:scheduler_hints", "OS-SCH-HNT:scheduler_hints"] {
        match top.remove(key) {
            None => {}
            Some(Value::Object(h)) => hints.extend(h),
            Some(other) => return Err(ComputeError::invalid(key, &other, format!("{other} is not of type 'object'"))),
        }
    }
    Ok((serde_json::to_vec(&Value::Object(top)).unwrap_or_default(), hints))
}

/// Creates servers: each is placed on a bare-metal node and deployed.
#[utoipa::path(post, path = "/v2.1/servers", tag = "servers", request_body = ServerCreate,
    responses((status = 202, description = "Accepted; the servers build.", body = ServerCreatedShow,
        headers(("Location" = String, description = "The (first) server's URL.")))))]
async fn create(
    req: HttpRequest,
    body: web::Bytes,
    caller: Caller,
    v: ApiVersion,
    state: web::Data<ComputeState>,
) -> Result<HttpResponse> {
    let _ = req;
    let (body, hints) = split_hints(&body)?;
    let group = match hints.get("group") {
        None => None,
        Some(Value::String(g)) => Some(g.clone()),
        Some(g) => return Err(ComputeError::invalid("group", g, format!("{g} is not of type 'string'"))),
    };
    let obj = body_object(&body, "server")?;
    let name = match obj.get("name") {
        Some(Value::String(s)) if valid_name(s) => s.clone(),
        Some(n) => return Err(ComputeError::invalid("name", n, format!("{n} does not match the name pattern"))),
        None => {
            return Err(ComputeError::bad(format!(
                "Invalid input for field/attribute server. Value: {}. 'name' is a required property",
                Value::Object(obj.clone())
            )));
        }
    };
    let flavor_ref = match obj.get("flavorRef") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(f) => return Err(ComputeError::invalid("flavorRef", f, format!("{f} is not of type 'string'"))),
        None => {
            return Err(ComputeError::bad(format!(
                "Invalid input for field/attribute server. Value: {}. 'flavorRef' is a required property",
                Value::Object(obj.clone())
            )));
        }
    };
    let mut image_ref = str_attr(&obj, "imageRef", 255)?.filter(|s| !s.is_empty());
    if image_ref.is_none() {
        // A plain image boot may come as a block device mapping (OSC sends both).
        image_ref = obj
            .get("block_device_mapping_v2")
            .and_then(Value::as_array)
            .and_then(|l| l.iter().find(|b| b["source_type"] == "image" && b["boot_index"] == json!(0)))
            .and_then(|b| b["uuid"].as_str())
            .map(str::to_string);
    }
    if image_ref.is_none() {
        return Err(ComputeError::bad(
            "Block Device Mapping is Invalid: Boot sequence for the instance and image/block device mapping combination is not valid.",
        ));
    }
    let key_name = str_attr(&obj, "key_name", 255)?;
    let user_data = match str_attr(&obj, "user_data", 65535)? {
        Some(u) => {
            base64::engine::general_purpose::STANDARD
                .decode(u.trim())
                .map_err(|_| ComputeError::bad("User data needs to be valid base 64."))?;
            Some(u)
        }
        None => None,
    };
    let config_drive = match obj.get("config_drive") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => parse_bool(s).unwrap_or(!s.is_empty()),
        Some(other) => return Err(ComputeError::invalid("config_drive", other, "is not a boolean")),
    };
    let metadata = match obj.get("metadata") {
        Some(m) => parse_metadata(m)?,
        None => Map::new(),
    };
    let az = str_attr(&obj, "availability_zone", 255)?;
    if let Some(z) = &az
        && z != super::zones::ZONE
        && !z.starts_with(&format!("{}:", super::zones::ZONE))
    {
        return Err(ComputeError::bad("The requested availability zone is not available"));
    }
    let description = if v.at_least(19) { str_attr(&obj, "description", 255)? } else { None };
    let count = |k: &str| -> Result<i64> {
        match obj.get(k) {
            None => Ok(1),
            Some(Value::Number(n)) if n.as_i64().is_some_and(|x| x >= 1) => Ok(n.as_i64().unwrap_or(1)),
            Some(Value::String(s)) if s.parse::<i64>().is_ok_and(|x| x >= 1) => Ok(s.parse().unwrap_or(1)),
            Some(other) => Err(ComputeError::invalid(k, other, format!("{other} is less than the minimum of 1"))),
        }
    };
    let (min_count, max_count) = (count("min_count")?, count("max_count")?);
    if min_count > max_count {
        return Err(ComputeError::bad("min_count must be <= max_count"));
    }
    let networks = parse_networks(obj.get("networks"), v)?;
    let checked = check(&state, &caller, flavor_ref, image_ref, key_name, networks).await?;
    if max_count > 1 && checked.networks.iter().any(|n| matches!(n, NetworkRequest::Port(_))) {
        return Err(ComputeError::bad(
            "Unable to launch multiple instances with a single configured port ID. Please launch your instance one by one with different ports.",
        ));
    }
    let f = &checked.flavor;
    let flavor_json = json!({
        "id": f.flavorid, "name": f.name, "vcpus": f.vcpus, "ram": f.memory_mb, "disk": f.root_gb,
        "ephemeral": f.ephemeral_gb, "swap": f.swap, "extra_specs": f.extra_specs,
    })
    .to_string();
    let project = caller.project_id.clone().unwrap_or_default();
    let user = caller.user_id.clone().unwrap_or_default();
    let reservation = format!("r-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let (vcpus, ram) = (f.vcpus as i64, f.memory_mb as i64);
    let t = now();
    let mut rows = Vec::new();
    for i in 0..max_count {
        let display = if max_count > 1 { format!("{name}-{}", i + 1) } else { name.clone() };
        rows.push(Server {
            id: 0,
            uuid: uuid::Uuid::new_v4().to_string(),
            hostname: hostname_of(&display),
            name: display,
            project_id: project.clone(),
            user_id: user.clone(),
            flavor: flavor_json.clone(),
            image_uuid: checked.image.clone(),
            key_name: checked.key.as_ref().map(|k| k.0.clone()),
            key_data: checked.key.as_ref().map(|k| k.1.clone()),
            user_data: user_data.clone(),
            config_drive,
            metadata: Value::Object(metadata.clone()).to_string(),
            availability_zone: az.clone(),
            requested_networks: NetworkRequest::to_json(&checked.networks),
            ports: "[]".into(),
            vm_state: "building".into(),
            task_state: Some("scheduling".into()),
            power_state: 0,
            node_uuid: None,
            fault: None,
            description: description.clone(),
            reservation_id: reservation.clone(),
            launched_at: None,
            created_at: t,
            updated_at: Some(t),
        });
    }
    let p2 = project.clone();
    let ctx = (*caller).clone();
    let stored = state
        .storage
        .write(move |c| {
            let group = match &group {
                Some(id) => match super::server_groups::hinted_group(c, &ctx, id)? {
                    Ok(g) => Some(g),
                    Err(e) => return Ok(Err(e)),
                },
                None => None,
            };
            let limits = quota_limits(c, &p2)?;
            let (used_i, used_c, used_r) = db::usage(c, &p2)?;
            // As many as fit, at least min_count.
            let mut n = rows.len() as i64;
            while n >= min_count {
                let over = [
                    ("instances", used_i + n, limits.instances),
                    ("cores", used_c + n * vcpus, limits.cores),
                    ("ram", used_r + n * ram, limits.ram),
                ]
                .into_iter()
                .find(|(_, want, lim)| *lim >= 0 && want > lim);
                match over {
                    None => break,
                    Some(_) if n > min_count => n -= 1,
                    Some((what, _, lim)) => {
                        let (used, per) = match what {
                            "instances" => (used_i, 1),
                            "cores" => (used_c, vcpus),
                            _ => (used_r, ram),
                        };
                        return Ok(Err(ComputeError::QuotaExceeded(format!(
                            "Quota exceeded for {what}: Requested {}, but already used {used} of {lim} {what}",
                            min_count * per
                        ))));
                    }
                }
            }
            rows.truncate(n.max(0) as usize);
            for r in &rows {
                db::server_insert(c, r)?;
                if let Some(g) = &group {
                    crate::storage::server_groups::member_add(
                        c,
                        &g.uuid,
                        &r.uuid,
                        super::server_groups::MEMBERS_QUOTA,
                    )?;
                }
            }
            Ok(Ok(rows))
        })
        .await??;
    for s in &stored {
        state.engine.build_server(&s.uuid, actor(&caller));
    }
    let first = &stored[0];
    let location = format!("{}/v2.1/servers/{}", state.base, first.uuid);
    let body = json!({"server": {
        "id": first.uuid, "links": state.links("servers", &first.uuid), "OS-DCF:diskConfig": "MANUAL",
        "security_groups": [{"name": "default"}], "adminPass": admin_pass(),
    }});
    Ok(HttpResponse::Accepted().insert_header(("Location", location)).json(body))
}

// ---- quotas (shared with os-quota-sets and limits) -------------------------------

/// A project's compute limits; -1 = unlimited.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub instances: i64,
    pub cores: i64,
    pub ram: i64,
}

pub const DEFAULT_LIMITS: Limits = Limits { instances: 10, cores: 20, ram: 51200 };

pub fn quota_limits(c: &mut crate::storage::DbConn, project: &str) -> crate::storage::StorageResult<Limits> {
    let mut l = DEFAULT_LIMITS;
    for (k, v) in db::quotas_of(c, project)? {
        match k.as_str() {
            "instances" => l.instances = v,
            "cores" => l.cores = v,
            "ram" => l.ram = v,
            _ => {}
        }
    }
    Ok(l)
}

// ---- update / delete / actions --------------------------------------------------

/// Updates a server's name, description (2.19) or hostname (2.90).
#[utoipa::path(put, path = "/v2.1/servers/{id}", tag = "servers", params(("id" = String, Path, description = "The server's UUID.")), request_body = ServerUpdate,
    responses((status = 200, description = "The server.", body = ServerShow)))]
async fn update(
    id: web::Path<String>,
    body: web::Bytes,
    caller: Caller,
    v: ApiVersion,
    state: web::Data<ComputeState>,
) -> Result<HttpResponse> {
    let obj = body_object(&body, "server")?;
    let mut s = load(&state, &caller, &id).await?;
    for k in obj.keys() {
        let ok = matches!(k.as_str(), "name" | "accessIPv4" | "accessIPv6" | "OS-DCF:diskConfig")
            || (k == "description" && v.at_least(19))
            || (k == "hostname" && v.at_least(90));
        if !ok {
            return Err(ComputeError::bad(format!(
                "Invalid input for field/attribute server. Value: {}. Additional properties are not allowed ('{k}' was unexpected)",
                Value::Object(obj.clone())
            )));
        }
    }
    if let Some(n) = obj.get("name") {
        match n {
            Value::String(s2) if valid_name(s2) => s.name = s2.clone(),
            other => return Err(ComputeError::invalid("name", other, "does not match the name pattern")),
        }
    }
    if obj.contains_key("description") {
        s.description = str_attr(&obj, "description", 255)?;
    }
    if let Some(h) = str_attr(&obj, "hostname", 63)? {
        s.hostname = hostname_of(&h);
    }
    s.updated_at = Some(now());
    let row = s.clone();
    state.storage.write(move |c| db::server_update(c, &row)).await?;
    let mut r = render_all(&state, &caller, std::slice::from_ref(&s), v).await?;
    Ok(HttpResponse::Ok().json(json!({"server": r.remove(0)})))
}

/// Deletes a server (its node is torn down).
#[utoipa::path(delete, path = "/v2.1/servers/{id}", tag = "servers", params(("id" = String, Path, description = "The server's UUID.")),
    responses((status = 204, description = "Deleted.")))]
async fn delete(id: web::Path<String>, caller: Caller, state: web::Data<ComputeState>) -> Result<HttpResponse> {
    let s = load(&state, &caller, &id).await?;
    state.engine.delete_server(&s.uuid).await?;
    Ok(HttpResponse::NoContent().finish())
}

fn engine_error(e: EngineError) -> ComputeError {
    match e {
        EngineError::NotFound(m) => ComputeError::NotFound(m),
        EngineError::Storage(s) => s.into(),
        other => ComputeError::Conflict(other.to_string()),
    }
}

fn state_conflict(action: &str, s: &Server) -> ComputeError {
    match &s.task_state {
        Some(t) => {
            ComputeError::Conflict(format!("Cannot '{action}' instance {} while it is in task_state {t}", s.uuid))
        }
        None => ComputeError::Conflict(format!(
            "Cannot '{action}' instance {} while it is in vm_state {}",
            s.uuid, s.vm_state
        )),
    }
}

async fn set_task(state: &ComputeState, s: &Server, task: &str) -> Result<()> {
    let mut row = s.clone();
    row.task_state = Some(task.to_string());
    row.updated_at = Some(now());
    state.storage.write(move |c| db::server_update(c, &row)).await?;
    Ok(())
}

/// Acts on a server: `os-start`, `os-stop`, `reboot` or `rebuild`.
#[utoipa::path(post, path = "/v2.1/servers/{id}/action", tag = "servers", params(("id" = String, Path, description = "The server's UUID.")), request_body = ServerAction,
    responses((status = 202, description = "Accepted. `rebuild` answers with the server being rebuilt and its new \
        administrator password; `os-start`, `os-stop` and `reboot` answer with no body.", body = RebuildShow)))]
async fn action(
    id: web::Path<String>,
    body: web::Bytes,
    caller: Caller,
    v: ApiVersion,
    state: web::Data<ComputeState>,
) -> Result<HttpResponse> {
    let parsed: Value = serde_json::from_slice(&body).map_err(|_| ComputeError::bad("Malformed request body"))?;
    let Some((name, arg)) = parsed.as_object().filter(|o| o.len() == 1).and_then(|o| o.iter().next()) else {
        return Err(ComputeError::bad("There is no such action"));
    };
    let (name, arg) = (name.clone(), arg.clone());
    let s = load(&state, &caller, &id).await?;
    let node = s.node_uuid.clone();
    let who = actor(&caller);
    let power = |target: PowerState, action: &'static str, task: &'static str, allowed: &'static [&'static str]| {
        let state = state.clone();
        let s = s.clone();
        let node = node.clone();
        let who = who.clone();
        async move {
            if s.task_state.is_some() || !allowed.contains(&s.vm_state.as_str()) {
                return Err(state_conflict(action, &s));
            }
            let Some(node) = node else { return Err(state_conflict(action, &s)) };
            set_task(&state, &s, task).await?;
            if let Err(e) = state.engine.server_power(&node, target, who).await {
                let mut row = s.clone();
                row.task_state = None;
                let _ = state.storage.write(move |c| db::server_update(c, &row)).await;
                return Err(engine_error(e));
            }
            Ok(HttpResponse::Accepted().finish())
        }
    };
    match name.as_str() {
        "os-stop" => power(PowerState::Off, "stop", "powering-off", &["active", "error"]).await,
        "os-start" => power(PowerState::On, "start", "powering-on", &["stopped"]).await,
        "reboot" => {
            let kind = arg.get("type").and_then(Value::as_str).unwrap_or_default().to_ascii_uppercase();
            match kind.as_str() {
                "SOFT" => power(PowerState::SoftRebooting, "reboot", "rebooting", &["active"]).await,
                "HARD" => {
                    power(PowerState::Rebooting, "reboot", "rebooting_hard", &["active", "stopped", "error"]).await
                }
                _ => Err(ComputeError::invalid(
                    "type",
                    &json!(kind),
                    "is not one of ['HARD', 'Hard', 'hard', 'SOFT', 'Soft', 'soft']",
                )),
            }
        }
        "rebuild" => rebuild(&state, &caller, s, &arg, v).await,
        other => Err(ComputeError::bad(format!("There is no such action: {other}"))),
    }
}

async fn rebuild(
    state: &ComputeState,
    caller: &AuthContext,
    s: Server,
    arg: &Value,
    v: ApiVersion,
) -> Result<HttpResponse> {
    let Value::Object(o) = arg else {
        return Err(ComputeError::invalid("rebuild", arg, format!("{arg} is not of type 'object'")));
    };
    let image_ref = str_attr(o, "imageRef", 255)?.ok_or_else(|| {
        ComputeError::bad(format!(
            "Invalid input for field/attribute rebuild. Value: {arg}. 'imageRef' is a required property"
        ))
    })?;
    if s.task_state.is_some() || !matches!(s.vm_state.as_str(), "active" | "stopped" | "error") || s.node_uuid.is_none()
    {
        return Err(state_conflict("rebuild", &s));
    }
    let flavor = json_of(&s.flavor);
    let fid = flavor["id"].as_str().unwrap_or_default().to_string();
    let key_name = if v.at_least(54) { str_attr(o, "key_name", 255)? } else { None };
    let checked = check(state, caller, fid, Some(image_ref), key_name.clone(), Networks::None).await;
    let checked = match checked {
        Err(ComputeError::BadRequest(m)) if m.starts_with("Flavor ") => {
            // The flavor may be gone since; the server keeps its copy.
            return Err(ComputeError::bad(m));
        }
        other => other?,
    };
    let mut row = s.clone();
    row.image_uuid = checked.image.clone();
    if let Some(n) = o.get("name").and_then(Value::as_str) {
        row.name = n.to_string();
    }
    if let Some(m) = o.get("metadata") {
        row.metadata = Value::Object(parse_metadata(m)?).to_string();
    }
    if let Some((k, d)) = checked.key {
        row.key_name = Some(k);
        row.key_data = Some(d);
    }
    if v.at_least(57) && o.contains_key("user_data") {
        row.user_data = str_attr(o, "user_data", 65535)?;
    }
    row.task_state = Some("rebuilding".into());
    row.updated_at = Some(now());
    let node = s.node_uuid.clone().unwrap_or_default();
    let (r2, img) = (row.clone(), row.image_uuid.clone());
    state
        .storage
        .write(move |c| {
            db::server_update(c, &r2)?;
            let mut n = bm::node(c, &node)?;
            let mut info: Map<String, Value> = serde_json::from_str(&n.instance_info).unwrap_or_default();
            for k in
                ["image_source", "image_checksum", "image_os_hash_algo", "image_os_hash_value", "image_disk_format"]
            {
                info.remove(k);
            }
            if let Some(i) = &img {
                let image = img::image(c, i)?;
                info.insert("image_source".into(), json!(i));
                info.insert("image_checksum".into(), json!(image.checksum));
                info.insert("image_os_hash_algo".into(), json!(image.os_hash_algo));
                info.insert("image_os_hash_value".into(), json!(image.os_hash_value));
                info.insert("image_disk_format".into(), json!(image.disk_format));
            }
            n.instance_info = Value::Object(info).to_string();
            bm::node_update(c, &n)?;
            Ok(())
        })
        .await?;
    if let Err(e) = state.engine.rebuild_server(&row.uuid, actor(caller)).await {
        let mut back = row.clone();
        back.task_state = None;
        let _ = state.storage.write(move |c| db::server_update(c, &back)).await;
        return Err(engine_error(e));
    }
    let fresh = load(state, caller, &row.uuid).await?;
    let mut r = render_all(state, caller, std::slice::from_ref(&fresh), v).await?;
    let mut server = r.remove(0);
    server["adminPass"] = json!(admin_pass());
    Ok(HttpResponse::Accepted().json(json!({"server": server})))
}

// ---- metadata ----------------------------------------------------------------------

async fn save_metadata(state: &ComputeState, s: &Server, m: Map<String, Value>) -> Result<()> {
    let mut row = s.clone();
    row.metadata = Value::Object(m).to_string();
    row.updated_at = Some(now());
    state.storage.write(move |c| db::server_update(c, &row)).await?;
    Ok(())
}

/// Adds (or replaces) items in a server's metadata, within the 128-item limit.
async fn merge_metadata(state: &ComputeState, s: &Server, add: Map<String, Value>) -> Result<Map<String, Value>> {
    let mut m: Map<String, Value> = serde_json::from_str(&s.metadata).unwrap_or_default();
    m.extend(add);
    if m.len() > 128 {
        return Err(ComputeError::QuotaExceeded("Quota exceeded for metadata_items: Requested more than 128".into()));
    }
    save_metadata(state, s, m.clone()).await?;
    Ok(m)
}

fn metadata_body(body: &[u8], key: &str) -> Result<Map<String, Value>> {
    let v: Value = serde_json::from_slice(body).map_err(|_| ComputeError::bad("Malformed request body"))?;
    match v.get(key) {
        Some(m) => parse_metadata(m),
        None => Err(ComputeError::bad(format!(
            "Invalid input for field/attribute body. Value: {v}. '{key}' is a required property"
        ))),
    }
}

/// Shows a server's metadata.
#[utoipa::path(get, path = "/v2.1/servers/{id}/metadata", tag = "server-metadata", params(("id" = String, Path, description = "The server's UUID.")),
    responses((status = 200, description = "The metadata.", body = Metadata)))]
async fn metadata_index(id: web::Path<String>, caller: Caller, state: web::Data<ComputeState>) -> Result<HttpResponse> {
    let s = load(&state, &caller, &id).await?;
    Ok(HttpResponse::Ok().json(json!({"metadata": json_of(&s.metadata)})))
}

/// Replaces a server's metadata.
#[utoipa::path(put, path = "/v2.1/servers/{id}/metadata", tag = "server-metadata", params(("id" = String, Path, description = "The server's UUID.")), request_body = Metadata,
    responses((status = 200, description = "The metadata.", body = Metadata)))]
async fn metadata_replace(
    id: web::Path<String>,
    body: web::Bytes,
    caller: Caller,
    state: web::Data<ComputeState>,
) -> Result<HttpResponse> {
    let m = metadata_body(&body, "metadata")?;
    let s = load(&state, &caller, &id).await?;
    save_metadata(&state, &s, m.clone()).await?;
    Ok(HttpResponse::Ok().json(json!({"metadata": m})))
}

/// Adds to (or replaces items of) a server's metadata.
#[utoipa::path(post, path = "/v2.1/servers/{id}/metadata", tag = "server-metadata", params(("id" = String, Path, description = "The server's UUID.")), request_body = Metadata,
    responses((status = 200, description = "The whole metadata.", body = Metadata)))]
async fn metadata_merge(
    id: web::Path<String>,
    body: web::Bytes,
    caller: Caller,
    state: web::Data<ComputeState>,
) -> Result<HttpResponse> {
    let add = metadata_body(&body, "metadata")?;
    let s = load(&state, &caller, &id).await?;
    let m = merge_metadata(&state, &s, add).await?;
    Ok(HttpResponse::Ok().json(json!({"metadata": m})))
}

/// Shows one metadata item of a server.
#[utoipa::path(get, path = "/v2.1/servers/{id}/metadata/{key}", tag = "server-metadata", params(("id" = String, Path, description = "The server's UUID."), ("key" = String, Path, description = "The metadata key.")),
    responses((status = 200, description = "The item.", body = MetaItem)))]
async fn metadata_show(
    path: web::Path<(String, String)>,
    caller: Caller,
    state: web::Data<ComputeState>,
) -> Result<HttpResponse> {
    let (id, key) = path.into_inner();
    let s = load(&state, &caller, &id).await?;
    match json_of(&s.metadata).get(&key) {
        Some(v) => Ok(HttpResponse::Ok().json(json!({"meta": {key: v}}))),
        None => Err(ComputeError::NotFound("Metadata item was not found".into())),
    }
}

/// Sets one metadata item of a server (the body names the path's key).
#[utoipa::path(put, path = "/v2.1/servers/{id}/metadata/{key}", tag = "server-metadata", params(("id" = String, Path, description = "The server's UUID."), ("key" = String, Path, description = "The metadata key.")),
    request_body = MetaItem, responses((status = 200, description = "The item.", body = MetaItem)))]
async fn metadata_put(
    path: web::Path<(String, String)>,
    body: web::Bytes,
    caller: Caller,
    state: web::Data<ComputeState>,
) -> Result<HttpResponse> {
    let (id, key) = path.into_inner();
    let meta = metadata_body(&body, "meta")?;
    if meta.len() != 1 || !meta.contains_key(&key) {
        return Err(ComputeError::bad("Request body and URI mismatch"));
    }
    let s = load(&state, &caller, &id).await?;
    merge_metadata(&state, &s, meta.clone()).await?;
    Ok(HttpResponse::Ok().json(json!({"meta": meta})))
}

/// Deletes one metadata item of a server.
#[utoipa::path(delete, path = "/v2.1/servers/{id}/metadata/{key}", tag = "server-metadata", params(("id" = String, Path, description = "The server's UUID."), ("key" = String, Path, description = "The metadata key.")),
    responses((status = 204, description = "Deleted.")))]
async fn metadata_delete(
    path: web::Path<(String, String)>,
    caller: Caller,
    state: web::Data<ComputeState>,
) -> Result<HttpResponse> {
    let (id, key) = path.into_inner();
    let s = load(&state, &caller, &id).await?;
    let mut m: Map<String, Value> = serde_json::from_str(&s.metadata).unwrap_or_default();
    if m.remove(&key).is_none() {
        return Err(ComputeError::NotFound("Metadata item was not found".into()));
    }
    save_metadata(&state, &s, m).await?;
    Ok(HttpResponse::NoContent().finish())
}

// ---- interfaces (os-interface) ----------------------------------------------------------

/// The attachments of these ports, as `os-interface` shows them.
async fn attachments(state: &ComputeState, ports: Vec<String>, v: ApiVersion) -> Result<Vec<Value>> {
    let rows = state
        .storage
        .read(move |c| {
            let ips = net::allocations_of_ports(c, &ports)?;
            let mut out = Vec::new();
            for id in &ports {
                let Ok(p) = net::port(c, id) else { continue };
                let fixed: Vec<Value> = ips
                    .iter()
                    .filter(|a| &a.port_uuid == id)
                    .map(|a| json!({"subnet_id": a.subnet_uuid, "ip_address": a.ip_address}))
                    .collect();
                let mut a = json!({"port_state": p.status, "fixed_ips": fixed, "port_id": p.uuid,
                    "net_id": p.network_uuid, "mac_addr": p.mac_address});
                if v.at_least(70) {
                    a["tag"] = Value::Null;
                }
                out.push(a);
            }
            Ok(out)
        })
        .await?;
    Ok(rows)
}

/// Lists the ports attached to a server.
#[utoipa::path(get, path = "/v2.1/servers/{id}/os-interface", tag = "server-interfaces", params(("id" = String, Path, description = "The server's UUID.")),
    responses((status = 200, description = "The attachments.", body = InterfaceList)))]
async fn interfaces(
    id: web::Path<String>,
    caller: Caller,
    v: ApiVersion,
    state: web::Data<ComputeState>,
) -> Result<HttpResponse> {
    let s = load(&state, &caller, &id).await?;
    let ports = ports_of(&s).into_iter().map(|p| p.port).collect();
    Ok(HttpResponse::Ok().json(json!({"interfaceAttachments": attachments(&state, ports, v).await?})))
}

/// Shows a port attached to a server.
#[utoipa::path(get, path = "/v2.1/servers/{id}/os-interface/{port}", tag = "server-interfaces", params(("id" = String, Path, description = "The server's UUID."), ("port" = String, Path, description = "The port's UUID.")),
    responses((status = 200, description = "The attachment.", body = InterfaceShow)))]
async fn interface_show(
    path: web::Path<(String, String)>,
    caller: Caller,
    v: ApiVersion,
    state: web::Data<ComputeState>,
) -> Result<HttpResponse> {
    let (id, port) = path.into_inner();
    let s = load(&state, &caller, &id).await?;
    if !ports_of(&s).iter().any(|p| p.port == port) {
        return Err(ComputeError::NotFound(format!("Port {port} is not attached")));
    }
    let mut list = attachments(&state, vec![port.clone()], v).await?;
    match list.pop() {
        Some(a) => Ok(HttpResponse::Ok().json(json!({"interfaceAttachment": a}))),
        None => Err(ComputeError::NotFound(format!("Port {port} is not attached"))),
    }
}

/// Attaches a port (existing or new) to an active or stopped server.
#[utoipa::path(post, path = "/v2.1/servers/{id}/os-interface", tag = "server-interfaces", params(("id" = String, Path, description = "The server's UUID.")),
    request_body = InterfaceAttach, responses((status = 200, description = "The attachment.", body = InterfaceShow)))]
async fn interface_attach(
    id: web::Path<String>,
    body: web::Bytes,
    caller: Caller,
    v: ApiVersion,
    state: web::Data<ComputeState>,
) -> Result<HttpResponse> {
    let obj = body_object(&body, "interfaceAttachment")?;
    let s = load(&state, &caller, &id).await?;
    if s.task_state.is_some() || !matches!(s.vm_state.as_str(), "active" | "stopped") {
        return Err(state_conflict("attach_interface", &s));
    }
    let port = str_attr(&obj, "port_id", 255)?;
    let net_id = str_attr(&obj, "net_id", 255)?;
    let fixed = obj
        .get("fixed_ips")
        .and_then(Value::as_array)
        .and_then(|l| l.first())
        .and_then(|f| f["ip_address"].as_str())
        .map(|ip| ip.parse::<IpAddr>().map_err(|_| ComputeError::bad(format!("Invalid fixed IP address ({ip})"))))
        .transpose()?;
    let list = match (port, net_id) {
        (Some(_), Some(_)) => return Err(ComputeError::bad("Must not input both network_id and port_id")),
        (Some(p), None) => Networks::List(vec![(None, Some(p), None)]),
        (None, Some(n)) => Networks::List(vec![(Some(n), None, fixed)]),
        (None, None) => Networks::Auto,
    };
    let flavor = json_of(&s.flavor)["id"].as_str().unwrap_or_default().to_string();
    let checked = check(&state, &caller, flavor, None, None, list).await;
    let requests = match checked {
        // The flavor may have gone since the server was made; only the network matters here.
        Err(ComputeError::BadRequest(m)) if m.starts_with("Flavor ") => {
            return Err(ComputeError::bad("The server's flavor is gone; interfaces cannot be checked."));
        }
        other => other?.networks,
    };
    let Some(req) = requests.into_iter().next() else {
        return Err(ComputeError::bad("No network to attach an interface to."));
    };
    let (uuid, push) = (s.uuid.clone(), state.engine.contrail_push());
    let attached = state.storage.write(move |c| instances::attach_interface(c, &uuid, &req, push)).await;
    let port = match attached {
        Ok(p) => p,
        Err(crate::storage::StorageError::Refused { reason: "PortInUse", message }) => {
            return Err(ComputeError::Conflict(message));
        }
        Err(crate::storage::StorageError::Refused { message, .. }) => return Err(ComputeError::Conflict(message)),
        Err(e) => return Err(e.into()),
    };
    let mut list = attachments(&state, vec![port], v).await?;
    Ok(HttpResponse::Ok().json(json!({"interfaceAttachment": list.pop().unwrap_or(Value::Null)})))
}

/// Detaches a port from an active or stopped server.
#[utoipa::path(delete, path = "/v2.1/servers/{id}/os-interface/{port}", tag = "server-interfaces", params(("id" = String, Path, description = "The server's UUID."), ("port" = String, Path, description = "The port's UUID.")),
    responses((status = 202, description = "Detached.")))]
async fn interface_detach(
    path: web::Path<(String, String)>,
    caller: Caller,
    state: web::Data<ComputeState>,
) -> Result<HttpResponse> {
    let (id, port) = path.into_inner();
    let s = load(&state, &caller, &id).await?;
    if s.task_state.is_some() || !matches!(s.vm_state.as_str(), "active" | "stopped") {
        return Err(state_conflict("detach_interface", &s));
    }
    let (uuid, push) = (s.uuid.clone(), state.engine.contrail_push());
    match state.storage.write(move |c| instances::detach_interface(c, &uuid, &port, push)).await {
        Ok(()) => Ok(HttpResponse::Accepted().finish()),
        Err(crate::storage::StorageError::NotFound { id, .. }) => {
            Err(ComputeError::NotFound(format!("Port {id} is not attached")))
        }
        Err(e) => Err(e.into()),
    }
}
