//! The metadata definitions catalog (`/v2/metadefs`), read side. ironbark
//! ships no definitions, so the catalog is that of a Glance whose
//! definitions were never loaded: lists are empty and a named namespace is
//! not found. Dashboards ask it which properties to offer for images,
//! flavors and servers.

use actix_web::{HttpResponse, web};
use serde_json::json;

use super::Caller;
use super::error::{ImageError, Result};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v2/metadefs/namespaces", web::get().to(namespaces))
        .route("/v2/metadefs/namespaces/{namespace}", web::get().to(namespace))
        .route("/v2/metadefs/resource_types", web::get().to(resource_types));
}

/// Filters (`resource_types`, `visibility`, `limit`, `marker`…) narrow an
/// empty catalog to nothing.
async fn namespaces(caller: Caller) -> Result<HttpResponse> {
    let _ = caller;
    Ok(HttpResponse::Ok().json(json!({
        "namespaces": [], "first": "/v2/metadefs/namespaces", "schema": "/v2/schemas/metadefs/namespaces",
    })))
}

async fn namespace(path: web::Path<String>, caller: Caller) -> Result<HttpResponse> {
    let _ = caller;
    Err(ImageError::NotFound(format!("Metadata definition namespace={} was not found.", path.into_inner())))
}

async fn resource_types(caller: Caller) -> Result<HttpResponse> {
    let _ = caller;
    Ok(HttpResponse::Ok().json(json!({"resource_types": []})))
}
