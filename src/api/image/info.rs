//! Discovery of what this image service can do: import methods, stores,
//! and the caller's quota usage.

use actix_web::{HttpResponse, web};
use serde_json::json;

use super::error::{ImageError, Result};
use super::{Caller, ImageState, project};

/// The import methods on offer (`glance-direct`: stage, then import).
pub const IMPORT_METHODS: &[&str] = &["glance-direct"];

async fn import(_: Caller) -> HttpResponse {
    HttpResponse::Ok().json(json!({"import-methods": {
        "description": "Import methods available.", "type": "array", "value": IMPORT_METHODS}}))
}

async fn stores(_: Caller, state: web::Data<ImageState>) -> HttpResponse {
    HttpResponse::Ok().json(json!({"stores": [{"id": state.store.id(), "default": "true"}]}))
}

async fn stores_detail(caller: Caller, state: web::Data<ImageState>) -> Result<HttpResponse> {
    if !caller.is_admin() {
        return Err(ImageError::forbidden("You are not authorized to complete stores_info_detail action."));
    }
    Ok(HttpResponse::Ok().json(json!({"stores": [{
        "id": state.store.id(), "default": "true", "type": "file", "weight": 0,
        "properties": {"datadir": "(ironbark image store)", "chunk_size": 65536}}]})))
}

async fn usage(caller: Caller, state: web::Data<ImageState>) -> Result<HttpResponse> {
    if state.project_quota == 0 {
        return Ok(HttpResponse::Ok().json(json!({"usage": {}})));
    }
    let owner = project(&caller).unwrap_or_default().to_string();
    let used = state.storage.read(move |c| crate::storage::images::usage(c, &owner)).await?;
    Ok(HttpResponse::Ok().json(json!({"usage": {
        "image_size_total": {"limit": state.project_quota.div_ceil(1 << 20), "usage": (used as u64).div_ceil(1 << 20)}}})))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v2/info/import", web::get().to(import))
        .route("/v2/info/stores", web::get().to(stores))
        .route("/v2/info/stores/detail", web::get().to(stores_detail))
        .route("/v2/info/usage", web::get().to(usage));
}
