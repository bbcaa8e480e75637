//! Availability zones (`os-availability-zone`): ironbark schedules every
//! bare-metal server in one zone, `nova`, whose hosts are the processes
//! (conductors) driving the nodes.

use actix_web::{HttpResponse, web};
use serde_json::{Map, Value, json};

use super::error::Result;
use super::{Caller, ComputeError, ComputeState};
use crate::storage::baremetal as bm;

/// The one zone servers are placed in (`availability_zone` on create).
pub const ZONE: &str = "nova";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/os-availability-zone").route(web::get().to(index)))
        .service(web::resource("/os-availability-zone/detail").route(web::get().to(detail)));
}

async fn index(caller: Caller) -> Result<HttpResponse> {
    let _ = caller;
    Ok(HttpResponse::Ok().json(json!({"availabilityZoneInfo": [
        {"zoneName": ZONE, "zoneState": {"available": true}, "hosts": null}
    ]})))
}

/// The zone with its hosts, for admins.
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
