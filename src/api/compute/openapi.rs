//! The compute API's OpenAPI document: its routes, the shapes they share
//! and what every operation accepts.

use utoipa::ToSchema;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::{ObjectBuilder, OpenApi, Required, Type};

use super::{MAX, MIN};
use crate::common::openapi::{ErrorDoc, Routes, ServiceDoc, version_pattern};

/// Every route of the compute API, in matching order.
pub fn routes() -> Routes {
    let mut r = Routes::new();
    super::versions::routes(&mut r);
    super::flavors::routes(&mut r);
    super::keypairs::routes(&mut r);
    super::servers::routes(&mut r);
    super::quotas::routes(&mut r);
    super::usage::routes(&mut r);
    super::server_groups::routes(&mut r);
    super::zones::routes(&mut r);
    r
}

/// The document of the compute API.
pub fn document(server: &str) -> OpenApi {
    routes().document(service_doc(), server)
}

fn microversion_header() -> Parameter {
    ParameterBuilder::new()
        .name("OpenStack-API-Version")
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(format!(
            "The microversion to speak: `compute 2.1` to `compute {MAX}` or `compute latest`; 2.1 when \
             absent (`X-OpenStack-Nova-API-Version: 2.x` is accepted too)."
        )))
        .schema(Some(
            ObjectBuilder::new().schema_type(Type::String).pattern(Some(version_pattern("compute ", MIN, MAX))),
        ))
        .build()
}

fn service_doc() -> ServiceDoc {
    ServiceDoc {
        title: "ironbark compute (Nova v2.1)",
        version: MAX.to_string(),
        description: "The OpenStack Compute API v2.1 for bare-metal servers: flavors (extra specs, project access), keypairs, servers and their actions, server groups, quotas, limits, usage reports and the availability zone.",
        error: ErrorDoc::of::<Fault>("application/json"),
        headers: vec![microversion_header()],
    }
}

/// Nova's error envelope: one key naming the fault (`badRequest`,
/// `itemNotFound`, `forbidden`, `conflict`, …) holding code and message.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Fault(std::collections::HashMap<String, FaultBody>);

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct FaultBody {
    /// The HTTP status.
    code: u16,
    message: String,
}

/// A link to a resource: `self` (versioned), `bookmark` (unversioned) or
/// `describedby`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Link {
    rel: String,
    href: String,
    /// The media type (`describedby` only).
    #[serde(default)]
    r#type: String,
}

/// A link to the next page of a listing.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct NextLink {
    /// `next`.
    rel: String,
    href: String,
}
