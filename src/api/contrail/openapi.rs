//! The contrail API's OpenAPI document: its routes, the shapes they share
//! and what every operation accepts.

use utoipa::ToSchema;
use utoipa::openapi::OpenApi;

use crate::common::openapi::{ErrorDoc, Routes, ServiceDoc};

/// Every route of the contrail API, in matching order.
pub fn routes() -> Routes {
    let mut r = Routes::new();
    super::routes::routes(&mut r);
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
        description: "A read-only Contrail VNC API (contrail-api) showing the network service's networks, subnets, ports and bare-metal bindings as Contrail objects; every request needs the admin role. Errors are plain text (`text/plain`), the message alone, as contrail-api answers them.",
        error: ErrorDoc::of::<Error>("text/plain"),
        headers: vec![],
    }
}

/// contrail-api answers errors in plain text (`text/plain`), the message
/// alone: no JSON envelope. vnc_api maps the status to its exceptions (404
/// → `NoIdError`, 403 → `PermissionDenied`).
#[derive(ToSchema)]
#[schema(as = ContrailError)]
#[allow(dead_code)]
pub struct Error(String);
