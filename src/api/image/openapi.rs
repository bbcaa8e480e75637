//! The image API's OpenAPI document: its routes, the shapes they share
//! and what every operation accepts.

use utoipa::ToSchema;
use utoipa::openapi::OpenApi;

use crate::common::openapi::{ErrorDoc, Routes, ServiceDoc};

/// Every route of the image API, in matching order.
pub fn routes() -> Routes {
    #[allow(unused_mut)]
    let mut r = Routes::new();
    r
}

/// The document of the image API.
pub fn document(server: &str) -> OpenApi {
    routes().document(service_doc(), server)
}

fn service_doc() -> ServiceDoc {
    ServiceDoc {
        title: "ironbark image (Glance v2)",
        version: "2.15".to_string(),
        description: "The OpenStack Image API v2: images, streamed data upload and download, tags, members, image import (glance-direct), schemas, discovery and the metadata definitions catalog.",
        error: ErrorDoc::of::<Error>("application/json"),
        headers: vec![],
    }
}

/// Glance's error body.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Error {
    message: String,
    /// Status and reason, e.g. `404 Not Found`.
    code: String,
    /// The status's reason phrase.
    title: String,
}
