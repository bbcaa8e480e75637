//! The contrail API's OpenAPI document: its routes, the shapes they share
//! and what every operation accepts.

use utoipa::ToSchema;
use utoipa::openapi::OpenApi;

use crate::common::openapi::{ErrorDoc, Routes, ServiceDoc};

/// Every route of the contrail API, in matching order.
pub fn routes() -> Routes {
    #[allow(unused_mut)]
    let mut r = Routes::new();
    r
}

/// The document of the contrail API.
pub fn document(server: &str) -> OpenApi {
    routes().document(service_doc(), server)
}

fn service_doc() -> ServiceDoc {
    ServiceDoc {
        title: "ironbark Contrail VNC API (read-only)",
        version: "1.0".to_string(),
        description: "A read-only Contrail VNC API (contrail-api) showing the network service's networks, subnets, ports and bare-metal bindings as Contrail objects; every request needs the admin role.",
        error: ErrorDoc::of::<Error>("text/plain"),
        headers: vec![],
    }
}

/// contrail-api answers errors in plain text.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Error(String);
