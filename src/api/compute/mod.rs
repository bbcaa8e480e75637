//! Nova v2.1-compatible compute API: the version documents, microversions
//! 2.1–2.104, flavors (with extra specs and project access), keypairs, and
//! servers — a bare-metal deploy through the engine — with their quotas,
//! usage reports and availability zone.
//!
//! Routes are registered in [`configure`] from their `#[utoipa::path]`s
//! ([`openapi::routes`]): the version documents, then every resource family
//! under `/v2.1`.

mod error;
mod flavors;
mod keypairs;
pub mod openapi;
mod quotas;
mod server_groups;
mod servers;
mod usage;
mod versions;
mod zones;

use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use futures_util::future::{Ready, ready};
use serde_json::{Map, Value, json};

use error::Result;
pub use error::{ComputeError, error_body};

use crate::common::auth::Auth;
pub use crate::common::microversion::Version;
use crate::common::microversion::{Microversions, Negotiation, Range, VersionError};
use crate::config::{Config, ServiceKind};
use crate::engine::Engine;
use crate::storage::Storage;

/// The caller, or keystonemiddleware's 401.
pub type Caller = Auth<ComputeError>;

/// The oldest and newest microversions served.
pub const MIN: Version = Version::new(2, 1);
/// Nova 34's newest microversion.
pub const MAX: Version = Version::new(2, 104);

const RANGE: Range =
    Range { min: MIN, max: MAX, service_type: "compute", legacy_header: "x-openstack-nova-api-version" };

const VARY: &str = "OpenStack-API-Version, X-OpenStack-Nova-API-Version";

/// Nova's negotiation: 2.1 without a header, a 406 `computeFault` out of
/// range, and both version headers (plus `Vary`) on every response.
static NEGOTIATION: Negotiation = Negotiation { range: RANGE, absent: MIN, refuse, stamp, prepare: None };

/// Middleware for the compute port: see [`NEGOTIATION`].
pub const MICROVERSIONS: Microversions = Microversions(&NEGOTIATION);

fn refuse(e: VersionError) -> HttpResponse {
    let err = match e {
        VersionError::Invalid(s) => ComputeError::BadRequest(format!(
            "API Version String {s} is of invalid format. Must be of format MajorNum.MinorNum."
        )),
        VersionError::Unsupported(v) | VersionError::WrongMajor(v) => ComputeError::NotAcceptable(format!(
            "Version {v} is not supported by the API. Minimum is {MIN} and maximum is {MAX}."
        )),
    };
    let mut res = err.error_response();
    res.headers_mut().insert(HeaderName::from_static("vary"), HeaderValue::from_static(VARY));
    res
}

fn stamp(headers: &mut HeaderMap, v: Version) {
    if let Ok(h) = HeaderValue::from_str(&format!("compute {v}")) {
        headers.insert(HeaderName::from_static("openstack-api-version"), h);
    }
    if let Ok(h) = HeaderValue::from_str(&v.to_string()) {
        headers.insert(HeaderName::from_static("x-openstack-nova-api-version"), h);
    }
    headers.insert(HeaderName::from_static("vary"), HeaderValue::from_static(VARY));
}

/// Extractor: the request's negotiated microversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiVersion(pub Version);

impl ApiVersion {
    /// Whether the request asked for 2.`minor` or later.
    pub fn at_least(self, minor: u16) -> bool {
        self.0 >= Version::new(2, minor)
    }
}

impl FromRequest for ApiVersion {
    type Error = ComputeError;
    type Future = Ready<Result<ApiVersion>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(ApiVersion(crate::common::microversion::negotiated(req, MIN))))
    }
}

/// What the compute handlers share.
pub struct ComputeState {
    /// Public root URL, no trailing slash (`http://H:8774`).
    pub base: String,
    pub storage: Storage,
    /// Largest page of a list (`[api]max_limit`).
    pub max_limit: i64,
    /// Keypairs one user may hold (`[quota]key_pairs`).
    pub max_keypairs: i64,
    /// Builds, deletes and acts on servers.
    pub engine: Engine,
    /// This API's OpenAPI document, served at `/openapi.json`.
    pub openapi: web::Data<crate::common::openapi::Document>,
}

impl ComputeState {
    pub fn new(cfg: &Config, storage: Storage, engine: Engine) -> ComputeState {
        ComputeState {
            base: cfg.public_url(ServiceKind::Compute),
            storage,
            max_limit: 1000,
            max_keypairs: 100,
            engine,
            openapi: web::Data::new(crate::common::openapi::Document::new(&openapi::document(
                &cfg.public_url(ServiceKind::Compute),
            ))),
        }
    }

    /// `self` (versioned) and `bookmark` (unversioned) links of a resource.
    pub fn links(&self, collection: &str, id: &str) -> Value {
        json!([{"rel": "self", "href": format!("{}/v2.1/{collection}/{id}", self.base)},
               {"rel": "bookmark", "href": format!("{}/{collection}/{id}", self.base)}])
    }
}

pub fn configure(cfg: &mut web::ServiceConfig, state: Arc<ComputeState>) {
    crate::common::openapi::serve_document(cfg, &state.openapi);
    cfg.app_data(web::Data::from(state));
    openapi::routes().register(cfg);
}

fn now() -> chrono::NaiveDateTime {
    chrono::Utc::now().naive_utc()
}

/// The object under `key` of a JSON request body, refusing other top-level
/// keys as Nova's schemas do.
pub fn body_object(body: &[u8], key: &str) -> Result<Map<String, Value>> {
    let v: Value = serde_json::from_slice(body).map_err(|_| ComputeError::bad("Malformed request body"))?;
    let Value::Object(top) = &v else {
        return Err(ComputeError::bad(format!(
            "Invalid input for field/attribute body. Value: {v}. {v} is not of type 'object'"
        )));
    };
    if let Some(extra) = top.keys().find(|k| *k != key) {
        return Err(ComputeError::bad(format!(
            "Invalid input for field/attribute body. Value: {v}. Additional properties are not allowed ('{extra}' was unexpected)"
        )));
    }
    match top.get(key) {
        Some(Value::Object(o)) => Ok(o.clone()),
        Some(other) => Err(ComputeError::invalid(key, other, format!("{other} is not of type 'object'"))),
        None => Err(ComputeError::bad(format!(
            "Invalid input for field/attribute body. Value: {v}. '{key}' is a required property"
        ))),
    }
}

/// Refuses attributes not in `allowed` (`additionalProperties: false`).
pub fn only_keys(obj: &Map<String, Value>, field: &str, allowed: &[&str]) -> Result<()> {
    let mut extra: Vec<&str> = obj.keys().map(String::as_str).filter(|k| !allowed.contains(k)).collect();
    if extra.is_empty() {
        return Ok(());
    }
    extra.sort();
    let list = extra.iter().map(|k| format!("'{k}'")).collect::<Vec<_>>().join(", ");
    let verb = if extra.len() == 1 { "was" } else { "were" };
    Err(ComputeError::invalid(
        field,
        &Value::Object(obj.clone()),
        format!("Additional properties are not allowed ({list} {verb} unexpected)"),
    ))
}

/// oslo's `bool_from_string(strict=True)` values.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "1" | "t" | "true" | "on" | "y" | "yes" => Some(true),
        "0" | "f" | "false" | "off" | "n" | "no" => Some(false),
        _ => None,
    }
}

/// oslo's `is_none_string`.
pub fn is_none_string(s: &str) -> bool {
    s.eq_ignore_ascii_case("none")
}

/// The query string as ordered pairs.
pub fn query_pairs(req: &HttpRequest) -> Result<Vec<(String, String)>> {
    serde_urlencoded::from_str(req.query_string()).map_err(|_| ComputeError::bad("Malformed query string"))
}
