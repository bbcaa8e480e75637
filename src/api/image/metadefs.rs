//! The metadata definitions catalog (`/v2/metadefs`), read side. ironbark
//! ships no definitions, so the catalog is that of a Glance whose
//! definitions were never loaded: lists are empty and a named namespace is
//! not found. Dashboards ask it which properties to offer for images,
//! flavors and servers.

use actix_web::{HttpResponse, web};
use serde_json::json;
use utoipa::ToSchema;

use super::Caller;
use super::error::{ImageError, Result};
use crate::common::openapi::Routes;

pub fn routes(r: &mut Routes) {
    crate::routes!(r; namespaces, namespace, resource_types);
}

/// A page of namespaces (always empty here).
#[derive(ToSchema)]
#[allow(dead_code)]
struct NamespaceList {
    #[schema(value_type = Vec<Object>)]
    namespaces: Vec<serde_json::Value>,
    first: String,
    schema: String,
}

/// The resource types namespaces apply to (none here).
#[derive(ToSchema)]
#[allow(dead_code)]
struct ResourceTypeList {
    #[schema(value_type = Vec<Object>)]
    resource_types: Vec<serde_json::Value>,
}

/// Lists metadata definition namespaces.
///
/// Filters (`resource_types`, `visibility`, `limit`, `marker`…) narrow an
/// empty catalog to nothing.
#[utoipa::path(get, path = "/v2/metadefs/namespaces", tag = "metadefs",
    responses((status = 200, description = "The namespaces: none.", body = NamespaceList)))]
async fn namespaces(caller: Caller) -> Result<HttpResponse> {
    let _ = caller;
    Ok(HttpResponse::Ok().json(json!({
        "namespaces": [], "first": "/v2/metadefs/namespaces", "schema": "/v2/schemas/metadefs/namespaces",
    })))
}

/// Shows a metadata definition namespace: none exists, so this is a 404.
#[utoipa::path(get, path = "/v2/metadefs/namespaces/{namespace}", tag = "metadefs",
    params(("namespace" = String, Path, description = "The namespace's name.")), responses())]
async fn namespace(path: web::Path<String>, caller: Caller) -> Result<HttpResponse> {
    let _ = caller;
    Err(ImageError::NotFound(format!("Metadata definition namespace={} was not found.", path.into_inner())))
}

/// Lists the resource types namespaces can apply to.
#[utoipa::path(get, path = "/v2/metadefs/resource_types", tag = "metadefs",
    responses((status = 200, description = "The resource types: none.", body = ResourceTypeList)))]
async fn resource_types(caller: Caller) -> Result<HttpResponse> {
    let _ = caller;
    Ok(HttpResponse::Ok().json(json!({"resource_types": []})))
}
