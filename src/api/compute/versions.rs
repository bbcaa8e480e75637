//! Version discovery: `GET /` lists v2.0 (deprecated) and v2.1; `GET /v2.1`
//! is the v2.1 document keystoneauth reads its microversion range from.
//! Both are unauthenticated.

use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

use super::openapi::Link;
use super::{ComputeState, MAX, MIN};
use crate::common::openapi::Routes;

fn v21(base: &str) -> Value {
    json!({"id": "v2.1", "status": "CURRENT", "version": MAX.to_string(), "min_version": MIN.to_string(),
           "updated": "2013-07-23T11:33:21Z", "links": [{"rel": "self", "href": format!("{base}/v2.1/")}]})
}

/// An API version: its id, status and microversion range (`version` and
/// `min_version` are empty for v2.0, which has none).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ApiVersionDoc {
    /// `v2.0` or `v2.1`.
    id: String,
    /// `CURRENT` or `DEPRECATED`.
    status: String,
    /// The newest microversion.
    version: String,
    /// The oldest microversion.
    min_version: String,
    #[schema(format = DateTime)]
    updated: String,
    links: Vec<Link>,
}

/// The versions of the compute API.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct Versions {
    versions: Vec<ApiVersionDoc>,
}

/// A media type the version speaks.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct MediaType {
    base: String,
    r#type: String,
}

/// The v2.1 version, with its media types.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ApiVersionDetail {
    id: String,
    status: String,
    version: String,
    min_version: String,
    #[schema(format = DateTime)]
    updated: String,
    links: Vec<Link>,
    #[serde(rename = "media-types")]
    media_types: Vec<MediaType>,
}

/// The v2.1 version document.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct VersionShow {
    version: ApiVersionDetail,
}

/// Lists the API versions (no token).
#[utoipa::path(get, path = "/", tag = "versions", security(()),
    responses((status = 200, description = "v2.0 (deprecated) and v2.1.", body = Versions)))]
async fn root(state: web::Data<ComputeState>) -> HttpResponse {
    let base = &state.base;
    HttpResponse::Ok().json(json!({"versions": [
        {"id": "v2.0", "status": "DEPRECATED", "version": "", "min_version": "", "updated": "2025-07-04T12:00:00Z",
         "links": [{"rel": "self", "href": format!("{base}/v2/")}]},
        v21(base),
    ]}))
}

/// Shows v2.1 and its microversion range (no token).
#[utoipa::path(get, path = "/v2.1", tag = "versions", security(()),
    responses((status = 200, description = "The v2.1 version.", body = VersionShow)))]
async fn version(state: web::Data<ComputeState>) -> HttpResponse {
    let mut v = v21(&state.base);
    if let Some(links) = v["links"].as_array_mut() {
        links.push(json!({"rel": "describedby", "type": "text/html", "href": "http://docs.openstack.org/"}));
    }
    v["media-types"] =
        json!([{"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2.1"}]);
    HttpResponse::Ok().json(json!({ "version": v }))
}

pub fn routes(r: &mut Routes) {
    crate::routes!(r; root, version | "/v2.1/");
}
