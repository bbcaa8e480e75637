//! Version discovery: `GET /` (300) and `GET /v3`.

use actix_web::{HttpResponse, web};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::IdentityState;
use crate::common::openapi::Routes;

fn version(state: &IdentityState) -> Value {
    json!({
        "id": "v3.14",
        "status": "stable",
        "updated": "2020-04-07T00:00:00Z",
        "links": [{"rel": "self", "href": format!("{}/v3/", state.base)}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}],
    })
}

/// A version of the identity API.
#[derive(ToSchema)]
#[schema(as = Version)]
#[allow(dead_code)]
pub struct VersionDoc {
    /// `v3.14`.
    id: String,
    /// `stable`.
    status: String,
    #[schema(format = DateTime)]
    updated: String,
    links: Vec<VersionLink>,
    #[schema(rename = "media-types")]
    media_types: Vec<MediaType>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct VersionLink {
    /// `self`.
    rel: String,
    href: String,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct MediaType {
    base: String,
    #[schema(rename = "type")]
    media_type: String,
}

/// The versions the service offers (only v3).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Versions {
    versions: VersionValues,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct VersionValues {
    values: Vec<VersionDoc>,
}

/// One version of the API.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct VersionShow {
    version: VersionDoc,
}

/// Lists the API's versions.
#[utoipa::path(get, path = "/", tag = "versions", security(()),
    responses((status = 300, description = "The versions (only v3); `Location` names v3.", body = Versions,
        headers(("Location" = String, description = "The v3 root.")))))]
async fn root(state: web::Data<IdentityState>) -> HttpResponse {
    HttpResponse::MultipleChoices()
        .insert_header(("Location", format!("{}/v3/", state.base)))
        .json(json!({"versions": {"values": [version(&state)]}}))
}

/// Shows the v3 API.
#[utoipa::path(get, path = "/v3", tag = "versions", security(()),
    responses((status = 200, description = "The v3 API.", body = VersionShow)))]
async fn v3(state: web::Data<IdentityState>) -> HttpResponse {
    HttpResponse::Ok().json(json!({"version": version(&state)}))
}

pub fn routes(r: &mut Routes) {
    crate::routes!(r; root, v3 | "/v3/");
}
