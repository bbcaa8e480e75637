//! Discovery of what this image service can do: import methods, stores,
//! and the caller's quota usage.

use actix_web::{HttpResponse, web};
use serde_json::json;
use utoipa::ToSchema;

use super::error::{ImageError, Result};
use super::{Caller, ImageState, project};
use crate::common::openapi::Routes;

/// The import methods on offer (`glance-direct`: stage, then import).
pub const IMPORT_METHODS: &[&str] = &["glance-direct"];

pub fn routes(r: &mut Routes) {
    crate::routes!(r; import, stores, stores_detail, usage);
}

/// The import methods on offer.
#[derive(ToSchema)]
#[allow(dead_code)]
struct ImportInfo {
    #[serde(rename = "import-methods")]
    import_methods: ImportMethods,
}

#[derive(ToSchema)]
#[allow(dead_code)]
struct ImportMethods {
    description: String,
    /// `array`.
    #[serde(rename = "type")]
    type_: String,
    /// The method names (`glance-direct`).
    value: Vec<String>,
}

/// The stores image data may go to.
#[derive(ToSchema)]
#[allow(dead_code)]
struct StoreList {
    stores: Vec<Store>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
struct Store {
    id: String,
    /// `"true"` for the default store (a string, as Glance sends it).
    default: String,
}

/// The stores with their settings (admins only).
#[derive(ToSchema)]
#[allow(dead_code)]
struct StoreDetailList {
    stores: Vec<StoreDetail>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
struct StoreDetail {
    id: String,
    /// `"true"` for the default store.
    default: String,
    /// The store driver (`file`).
    #[serde(rename = "type")]
    type_: String,
    weight: i64,
    properties: StoreProperties,
}

#[derive(ToSchema)]
#[allow(dead_code)]
struct StoreProperties {
    datadir: String,
    chunk_size: i64,
}

/// The caller's project's usage; empty when no quota applies.
#[derive(ToSchema)]
#[allow(dead_code)]
struct UsageInfo {
    usage: Usage,
}

#[derive(ToSchema)]
#[allow(dead_code)]
struct Usage {
    /// MiB of image data: the limit and what the project holds.
    #[serde(default)]
    image_size_total: Quota,
}

#[derive(ToSchema)]
#[allow(dead_code)]
struct Quota {
    limit: i64,
    usage: i64,
}

/// Lists the import methods on offer.
#[utoipa::path(get, path = "/v2/info/import", tag = "info",
    responses((status = 200, description = "The import methods.", body = ImportInfo)))]
async fn import(_: Caller) -> HttpResponse {
    HttpResponse::Ok().json(json!({"import-methods": {
        "description": "Import methods available.", "type": "array", "value": IMPORT_METHODS}}))
}

/// Lists the stores.
#[utoipa::path(get, path = "/v2/info/stores", tag = "info",
    responses((status = 200, description = "The stores.", body = StoreList)))]
async fn stores(_: Caller, state: web::Data<ImageState>) -> HttpResponse {
    HttpResponse::Ok().json(json!({"stores": [{"id": state.store.id(), "default": "true"}]}))
}

/// Lists the stores with their settings (admins only).
#[utoipa::path(get, path = "/v2/info/stores/detail", tag = "info",
    responses((status = 200, description = "The stores with their settings.", body = StoreDetailList)))]
async fn stores_detail(caller: Caller, state: web::Data<ImageState>) -> Result<HttpResponse> {
    if !caller.is_admin() {
        return Err(ImageError::forbidden("You are not authorized to complete stores_info_detail action."));
    }
    Ok(HttpResponse::Ok().json(json!({"stores": [{
        "id": state.store.id(), "default": "true", "type": "file", "weight": 0,
        "properties": {"datadir": "(ironbark image store)", "chunk_size": 65536}}]})))
}

/// Shows the caller's project's quota usage.
#[utoipa::path(get, path = "/v2/info/usage", tag = "info",
    responses((status = 200, description = "The project's usage against its quotas.", body = UsageInfo)))]
async fn usage(caller: Caller, state: web::Data<ImageState>) -> Result<HttpResponse> {
    if state.project_quota == 0 {
        return Ok(HttpResponse::Ok().json(json!({"usage": {}})));
    }
    let owner = project(&caller).unwrap_or_default().to_string();
    let used = state.storage.read(move |c| crate::storage::images::usage(c, &owner)).await?;
    Ok(HttpResponse::Ok().json(json!({"usage": {
        "image_size_total": {"limit": state.project_quota.div_ceil(1 << 20), "usage": (used as u64).div_ceil(1 << 20)}}})))
}
