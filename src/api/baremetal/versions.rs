//! Version discovery (`GET /`, `GET /v1`) and microversion negotiation.

use std::rc::Rc;

use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{Error, HttpMessage, HttpResponse, ResponseError, web};
use futures_util::future::{LocalBoxFuture, Ready, ready};
use serde_json::{Value, json};

use super::BaremetalState;
use super::error::BaremetalError;
pub use crate::common::microversion::Version;
use crate::common::microversion::{Range, VersionError};

pub const MIN: Version = Version::new(1, 1);
/// Ironic 39's newest microversion.
pub const MAX: Version = Version::new(1, 115);

pub const RANGE: Range =
    Range { min: MIN, max: MAX, service_type: "baremetal", legacy_header: "x-openstack-ironic-api-version" };

const MIN_HEADER: &str = "x-openstack-ironic-api-minimum-version";
const MAX_HEADER: &str = "x-openstack-ironic-api-maximum-version";
const VERSION_HEADER: &str = "x-openstack-ironic-api-version";

/// The negotiated microversion of a request, kept in its extensions.
#[derive(Debug, Clone, Copy)]
pub struct Negotiated(pub Version);

/// Middleware: resolves the microversion (406 when it cannot be served),
/// and stamps the min/max (and negotiated) version headers on responses.
pub struct Microversions;

impl<S, B> Transform<S, ServiceRequest> for Microversions
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: actix_web::body::MessageBody + 'static,
{
    type Response = ServiceResponse<actix_web::body::EitherBody<B>>;
    type Error = Error;
    type Transform = MicroversionService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(MicroversionService { service: Rc::new(service) }))
    }
}

pub struct MicroversionService<S> {
    service: Rc<S>,
}

fn stamp(headers: &mut actix_web::http::header::HeaderMap, version: Option<Version>) {
    let set = |h: &mut actix_web::http::header::HeaderMap, name: &'static str, v: String| {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(HeaderName::from_static(name), v);
        }
    };
    set(headers, MIN_HEADER, MIN.to_string());
    set(headers, MAX_HEADER, MAX.to_string());
    if let Some(v) = version {
        set(headers, VERSION_HEADER, v.to_string());
    }
}

impl<S, B> Service<ServiceRequest> for MicroversionService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: actix_web::body::MessageBody + 'static,
{
    type Response = ServiceResponse<actix_web::body::EitherBody<B>>;
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, mut req: ServiceRequest) -> Self::Future {
        let negotiated = RANGE.negotiate(&RANGE.requested(req.request()), MIN);
        let version = match negotiated {
            Ok(v) => v,
            Err(e) => {
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
                let res = req.into_response(err.error_response()).map_into_right_body();
                return Box::pin(async move { Ok(res) });
            }
        };
        req.extensions_mut().insert(Negotiated(version));
        rewrite_to_v1(&mut req);
        let service = self.service.clone();
        Box::pin(async move {
            let mut res = service.call(req).await?;
            stamp(res.headers_mut(), Some(version));
            Ok(res.map_into_left_body())
        })
    }
}

/// Every v1 resource is also served at the root (`/nodes` = `/v1/nodes`),
/// as the bookmark links promise; rewritten before routing.
fn rewrite_to_v1(req: &mut ServiceRequest) {
    let path = req.path();
    if path == "/" || path == "/v1" || path.starts_with("/v1/") {
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

async fn v1(req: actix_web::HttpRequest, state: web::Data<BaremetalState>) -> HttpResponse {
    let version = req.extensions().get::<Negotiated>().map_or(MIN, |n| n.0);
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

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(root)).route("/v1", web::get().to(v1)).route("/v1/", web::get().to(v1));
}
