//! Version discovery (`GET /`, `GET /v1`) and microversion negotiation.

use actix_web::dev::ServiceRequest;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::{HttpResponse, ResponseError, web};
use serde_json::{Value, json};

use super::BaremetalState;
use super::error::BaremetalError;
pub use crate::common::microversion::Negotiated;
pub use crate::common::microversion::Version;
use crate::common::microversion::{Microversions, Negotiation, Range, VersionError};

pub const MIN: Version = Version::new(1, 1);
/// Ironic 39's newest microversion.
pub const MAX: Version = Version::new(1, 115);

pub const RANGE: Range =
    Range { min: MIN, max: MAX, service_type: "baremetal", legacy_header: "x-openstack-ironic-api-version" };

const MIN_HEADER: &str = "x-openstack-ironic-api-minimum-version";
const MAX_HEADER: &str = "x-openstack-ironic-api-maximum-version";
const VERSION_HEADER: &str = "x-openstack-ironic-api-version";

/// Ironic's negotiation: 1.1 without a header, its 406 wording, and the
/// min/max/negotiated headers on every response.
pub static NEGOTIATION: Negotiation =
    Negotiation { range: RANGE, absent: MIN, refuse, stamp, prepare: Some(rewrite_to_v1) };

/// Middleware: resolves the microversion (406 when it cannot be served),
/// and stamps the min/max (and negotiated) version headers on responses.
pub const MICROVERSIONS: Microversions = Microversions(&NEGOTIATION);

fn refuse(e: VersionError) -> HttpResponse {
    let err = match e {
        VersionError::Invalid(_) => {
            BaremetalError::BadRequest("Invalid value for X-OpenStack-Ironic-API-Version header".into())
        }
        VersionError::Unsupported(v) => BaremetalError::unsupported_version(v),
        VersionError::WrongMajor(v) => BaremetalError::VersionNotAcceptable(format!(
            "Mutually exclusive versions requested. Version {v} requested but not supported by this \
             service. The supported version range is: [{MIN}, {MAX}]."
        )),
    };
    err.error_response()
}

fn stamp(headers: &mut HeaderMap, version: Version) {
    for (name, v) in [(MIN_HEADER, MIN), (MAX_HEADER, MAX), (VERSION_HEADER, version)] {
        if let Ok(v) = HeaderValue::from_str(&v.to_string()) {
            headers.insert(HeaderName::from_static(name), v);
        }
    }
}

/// Every v1 resource is also served at the root (`/nodes` = `/v1/nodes`),
/// as the bookmark links promise; rewritten before routing. `/metrics`
/// (the Prometheus endpoint on this port) and `/openapi.json` are no v1 resources.
fn rewrite_to_v1(req: &mut ServiceRequest) {
    let path = req.path();
    if path == "/" || path == "/v1" || path.starts_with("/v1/") || path == "/metrics" || path == "/openapi.json" {
        return;
    }
    let pq = req.uri().path_and_query().map_or(path.to_string(), |pq| pq.as_str().to_string());
    if let Ok(uri) = format!("/v1{pq}").parse::<actix_web::http::Uri>() {
        req.match_info_mut().get_mut().update(&uri);
        req.head_mut().uri = uri;
    }
}

fn version_doc(base: &str) -> Value {
    json!({"id": "v1", "links": [{"href": format!("{base}/v1/"), "rel": "self"}],
           "status": "CURRENT", "min_version": MIN.to_string(), "version": MAX.to_string()})
}

/// The API's versions.
#[utoipa::path(get, path = "/", tag = "versions", security(()),
    responses((status = 200, description = "The versions of the API (only v1).", body = Object)))]
async fn root(state: web::Data<BaremetalState>) -> HttpResponse {
    let v = version_doc(&state.base);
    HttpResponse::Ok().json(json!({
        "name": "OpenStack Ironic API",
        "description": "Ironic is an OpenStack project which enables the provision and management of baremetal machines.",
        "default_version": v,
        "versions": [v],
    }))
}

/// Resources listed by `GET /v1`, with the microversion that shows them.
const RESOURCES: &[(&str, u16)] = &[
    ("chassis", 1),
    ("nodes", 1),
    ("ports", 1),
    ("drivers", 1),
    ("lookup", 22),
    ("heartbeat", 22),
    ("portgroups", 23),
    ("volume", 32),
    ("conductors", 49),
    ("allocations", 52),
    ("events", 54),
    ("deploy_templates", 55),
    ("shards", 82),
    ("continue_inspection", 84),
    ("runbooks", 92),
    ("inspection_rules", 96),
];

/// Version 1: its microversion range and resources.
#[utoipa::path(get, path = "/v1", tag = "versions", security(()),
    responses((status = 200, description = "The v1 document: its range and the resources at the requested microversion.", body = Object)))]
async fn v1(req: actix_web::HttpRequest, state: web::Data<BaremetalState>) -> HttpResponse {
    let version = crate::common::microversion::negotiated(&req, MIN);
    let base = &state.base;
    let mut doc = json!({
        "id": "v1",
        "links": [{"href": format!("{base}/v1/"), "rel": "self"},
                  {"href": "https://docs.openstack.org//ironic/latest/contributor//webapi.html",
                   "rel": "describedby", "type": "text/html"}],
        "media_types": {"base": "application/json", "type": "application/vnd.openstack.ironic.v1+json"},
        "version": version_doc(base),
    });
    for (name, minor) in RESOURCES {
        if version.minor >= *minor {
            doc[*name] = json!([{"href": format!("{base}/v1/{name}/"), "rel": "self"},
                                 {"href": format!("{base}/{name}/"), "rel": "bookmark"}]);
        }
    }
    HttpResponse::Ok().json(doc)
}

pub fn routes(r: &mut crate::common::openapi::Routes) {
    crate::routes!(r; root, v1 | "/v1/");
}
