//! The identity API's OpenAPI document: its routes, the shapes they share
//! and what every operation accepts.

use utoipa::ToSchema;
use utoipa::openapi::OpenApi;

use crate::common::openapi::{ErrorDoc, Routes, ServiceDoc};

/// Every route of the identity API, in matching order.
pub fn routes() -> Routes {
    let mut r = Routes::new();
    super::versions::routes(&mut r);
    super::tokens::routes(&mut r);
    super::resources::routes(&mut r);
    super::grants::routes(&mut r);
    super::catalog::routes(&mut r);
    r
}

/// The document of the identity API.
pub fn document(server: &str) -> OpenApi {
    routes().document(service_doc(), server)
}

fn service_doc() -> ServiceDoc {
    ServiceDoc {
        title: "ironbark identity (Keystone v3)",
        version: "3.14".to_string(),
        description: "The OpenStack Identity API v3: tokens (password, token, application credential; project, domain and system scope), domains, projects, users, groups, roles, role assignments, the service catalog and application credentials.",
        error: ErrorDoc::of::<Error>("application/json"),
        headers: vec![],
    }
}

/// Keystone's error envelope.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Error {
    error: ErrorBody,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ErrorBody {
    /// The HTTP status.
    code: u16,
    message: String,
    /// The status's reason phrase.
    title: String,
}

/// `links` of a resource.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SelfLink {
    /// The resource's URL.
    #[schema(rename = "self")]
    this: String,
}

/// `links` of a collection: its own URL; never paged.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct CollectionLinks {
    /// The request's URL.
    #[schema(rename = "self")]
    this: String,
    #[schema(nullable)]
    previous: Option<String>,
    #[schema(nullable)]
    next: Option<String>,
}

/// An id and a name.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct IdName {
    id: String,
    name: String,
}

/// The whole system (`{"all": true}`), the only system scope.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SystemAll {
    all: bool,
}
