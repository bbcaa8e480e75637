//! `GET /` (300 Multiple Choices, as Glance) and `GET /versions` (200):
//! the API versions, each with a self link clients use as the base URL.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde_json::json;

use super::ImageState;
use super::openapi::VersionList;
use crate::common::openapi::Routes;

/// The v2 minor versions offered, newest first; 2.15 is the current one.
/// Locations (2.17), caching (2.14/2.16/2.18) and multiple stores
/// (2.8, 2.10–2.13) are not offered.
const VERSIONS: &[(&str, &str)] = &[
    ("v2.15", "CURRENT"),
    ("v2.9", "SUPPORTED"),
    ("v2.7", "SUPPORTED"),
    ("v2.6", "SUPPORTED"),
    ("v2.5", "SUPPORTED"),
    ("v2.4", "SUPPORTED"),
    ("v2.3", "SUPPORTED"),
    ("v2.2", "SUPPORTED"),
    ("v2.1", "SUPPORTED"),
    ("v2.0", "SUPPORTED"),
];

fn body(state: &ImageState) -> serde_json::Value {
    let list: Vec<_> = VERSIONS
        .iter()
        .map(|(id, status)| {
            json!({"id": id, "status": status, "links": [{"rel": "self", "href": format!("{}/v2/", state.base)}]})
        })
        .collect();
    json!({ "versions": list })
}

/// Lists the API versions (300 Multiple Choices, as Glance).
#[utoipa::path(get, path = "/", tag = "versions", security(()),
    responses((status = 300, description = "Every API version, each with its base URL.", body = VersionList)))]
async fn root(state: web::Data<ImageState>) -> HttpResponse {
    HttpResponse::build(StatusCode::MULTIPLE_CHOICES).json(body(&state))
}

/// Lists the API versions.
#[utoipa::path(get, path = "/versions", tag = "versions", security(()),
    responses((status = 200, description = "Every API version, each with its base URL.", body = VersionList)))]
async fn versions(state: web::Data<ImageState>) -> HttpResponse {
    HttpResponse::Ok().json(body(&state))
}

pub fn routes(r: &mut Routes) {
    crate::routes!(r; root, versions);
}
