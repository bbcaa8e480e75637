//! Availability zones (`os-availability-zone`): ironbark schedules every
//! bare-metal server in one zone, `nova`, whose hosts are the processes
//! (conductors) driving the nodes.

use actix_web::{HttpResponse, web};
use serde_json::{Map, Value, json};

use super::error::Result;
use super::{Caller, ComputeError, ComputeState};
use crate::common::openapi::Routes;
use crate::storage::baremetal as bm;

/// The one zone servers are placed in (`availability_zone` on create).
pub const ZONE: &str = "nova";

pub fn routes(r: &mut Routes) {
    crate::routes!(r; index, detail);
}

/// Whether a zone can take servers.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ZoneState {
    available: bool,
}

/// The `nova-compute` service of a host.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ZoneService {
    available: bool,
    active: bool,
    /// `YYYY-MM-DDTHH:MM:SS.ffffff` (UTC, no zone).
    updated_at: String,
}

/// A host's services in the zone.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ZoneHost {
    #[serde(rename = "nova-compute")]
    nova_compute: ZoneService,
}

/// An availability zone; `hosts` is null in the plain listing.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct Zone {
    #[schema(rename = "zoneName")]
    zone_name: String,
    #[schema(rename = "zoneState")]
    zone_state: ZoneState,
    #[schema(required = true)]
    hosts: Option<std::collections::BTreeMap<String, ZoneHost>>,
}

/// The availability zones.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ZoneList {
    #[schema(rename = "availabilityZoneInfo")]
    availability_zone_info: Vec<Zone>,
}

/// Lists the availability zones (the one zone, `nova`).
#[utoipa::path(get, path = "/v2.1/os-availability-zone", tag = "availability-zones",
    responses((status = 200, description = "The zones, without their hosts.", body = ZoneList)))]
async fn index(caller: Caller) -> Result<HttpResponse> {
    let _ = caller;
    Ok(HttpResponse::Ok().json(json!({"availabilityZoneInfo": [
        {"zoneName": ZONE, "zoneState": {"available": true}, "hosts": null}
    ]})))
}

/// Lists the availability zones with their hosts (administrators).
#[utoipa::path(get, path = "/v2.1/os-availability-zone/detail", tag = "availability-zones",
    responses((status = 200, description = "The zones with their hosts (the conductors).", body = ZoneList)))]
async fn detail(caller: Caller, state: web::Data<ComputeState>) -> Result<HttpResponse> {
    if !caller.is_admin() {
        return Err(ComputeError::policy("os_compute_api:os-availability-zone:detail"));
    }
    let conductors = state.storage.read(bm::conductors_list).await?;
    let mut hosts = Map::new();
    for c in conductors {
        let service = json!({"available": c.online, "active": true,
            "updated_at": c.updated_at.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()});
        hosts.insert(c.hostname, json!({"nova-compute": service}));
    }
    let available = hosts.values().any(|h| h["nova-compute"]["available"] == json!(true));
    Ok(HttpResponse::Ok().json(json!({"availabilityZoneInfo": [
        {"zoneName": ZONE, "zoneState": {"available": available}, "hosts": Value::Object(hosts)}
    ]})))
}
