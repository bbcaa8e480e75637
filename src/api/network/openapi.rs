//! The network API's OpenAPI document: its routes, the shapes they share
//! and what every operation accepts.

use utoipa::ToSchema;
use utoipa::openapi::OpenApi;

use crate::common::openapi::{ErrorDoc, Routes, ServiceDoc};

/// Every route of the network API, in matching order.
pub fn routes() -> Routes {
    #[allow(unused_mut)]
    let mut r = Routes::new();
    r
}

/// The document of the network API.
pub fn document(server: &str) -> OpenApi {
    routes().document(service_doc(), server)
}

fn service_doc() -> ServiceDoc {
    ServiceDoc {
        title: "ironbark network (Neutron v2.0)",
        version: "2.0".to_string(),
        description: "The OpenStack Networking API v2.0 subset ironbark serves: networks (with provider VLANs), subnets, ports (with bare-metal bindings), security groups and rules, quotas and extensions.",
        error: ErrorDoc::of::<Fault>("application/json"),
        headers: vec![],
    }
}

/// Neutron's error envelope.
#[derive(ToSchema)]
#[schema(as = NeutronError)]
#[allow(dead_code)]
pub struct Fault {
    #[schema(rename = "NeutronError")]
    neutron_error: FaultBody,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct FaultBody {
    /// The fault's class, e.g. `NetworkNotFound`.
    r#type: String,
    message: String,
    detail: String,
}
