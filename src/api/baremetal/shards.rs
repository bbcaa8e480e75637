//! `GET /v1/shards` (1.82+): how many nodes each shard holds.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde_json::json;

use super::error::{BaremetalError, Result};
use super::versions::{MAX, MIN};
use super::{Api, BaremetalState};
use crate::common::openapi::Routes;
use crate::common::policy::{Level, Owner, Rule};
use crate::storage::allocations as al;

/// Below 1.82 the collection does not exist: a controller-style 404.
fn too_old() -> HttpResponse {
    let text =
        json!({"faultcode": "Client", "faultstring": "The API version does not allow shards", "debuginfo": null});
    HttpResponse::build(StatusCode::NOT_FOUND)
        .insert_header(("X-OpenStack-Ironic-API-Minimum-Version", MIN.to_string()))
        .insert_header(("X-OpenStack-Ironic-API-Maximum-Version", MAX.to_string()))
        .json(json!({"error_message": text.to_string()}))
}

/// A shard and how many nodes it holds.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct Shard {
    /// The shard's name; `None` counts the nodes without a shard.
    name: String,
    count: i64,
}

/// The shards.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ShardList {
    shards: Vec<Shard>,
}

/// (1.82) The shards nodes are in, with their node counts.
#[utoipa::path(get, path = "/v1/shards", tag = "shards",
    responses((status = 200, description = "Every shard.", body = ShardList)))]
async fn list(api: Api, state: web::Data<BaremetalState>) -> Result<HttpResponse> {
    if !api.at_least(82) {
        return Ok(too_old());
    }
    if !api.ctx.allows(Rule { system: Level::Reader, project: None, lessee: None }, Owner::default()) {
        return Err(BaremetalError::Forbidden("baremetal:shards:get".into()));
    }
    let rows = state.storage().read(al::shard_counts).await?;
    // Nodes without a shard are counted under the name "None".
    let shards: Vec<_> = rows
        .into_iter()
        .map(|(name, count)| json!({"name": name.unwrap_or_else(|| "None".into()), "count": count}))
        .collect();
    Ok(HttpResponse::Ok().json(json!({"shards": shards})))
}

/// (1.82) There is no single-shard resource: always 404.
#[utoipa::path(get, path = "/v1/shards/{shard}", tag = "shards", params(("shard" = String, Path)), responses())]
async fn show(api: Api) -> Result<HttpResponse> {
    if !api.at_least(82) {
        return Ok(too_old());
    }
    Err(BaremetalError::NotFound("The resource could not be found.".into()))
}

pub fn routes(r: &mut Routes) {
    crate::routes!(r; list | "/v1/shards/", show);
}
