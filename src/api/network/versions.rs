//! `GET /` (the API versions), `GET /v2.0` (the resources) and
//! `GET /v2.0/extensions` (what this Neutron offers beyond the core).

use actix_web::{HttpResponse, web};
use serde_json::json;

use super::error::{NeutronError, Result};
use super::openapi::Link;
use super::{Caller, NetworkState};
use crate::common::openapi::Routes;

/// The extensions offered: (alias, name, description).
pub const EXTENSIONS: &[(&str, &str, &str)] = &[
    ("binding", "Port Binding", "Expose port bindings of a virtual port to external application"),
    ("binding-extended", "Port Bindings Extended", "Expose port bindings of a virtual port to external application"),
    ("provider", "Provider Network", "Expose mapping of virtual networks to physical networks"),
    ("external-net", "Neutron external network", "Adds external network attribute to network resource."),
    ("net-mtu", "Network MTU", "Provides MTU attribute for a network resource."),
    ("port-security", "Port Security", "Provides port security"),
    ("allowed-address-pairs", "Allowed Address Pairs", "Provides allowed address pairs"),
    ("project-id", "project_id field enabled", "Extension that indicates that project_id field is enabled."),
    ("standard-attr-description", "standard-attr-description", "Extension to add descriptions to standard attributes"),
    (
        "standard-attr-timestamp",
        "Resource timestamps",
        "Adds created_at and updated_at fields to all Neutron resources that have Neutron standard attributes.",
    ),
    (
        "standard-attr-revisions",
        "Resource revision numbers",
        "This extension will display the revision number of neutron resources.",
    ),
    ("pagination", "Pagination support", "Extension that indicates that pagination is enabled."),
    ("sorting", "Sorting support", "Extension that indicates that sorting is enabled."),
    (
        "ip-substring-filtering",
        "IP address substring filtering",
        "Provides IP address substring filtering when listing ports",
    ),
    ("security-group", "security-group", "The security groups extension."),
    ("quotas", "Quota management support", "Expose functions for quotas management per project"),
    ("quota_details", "Quota details management support", "Expose functions for quotas usage statistics per project"),
];

/// A version of the API.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ApiVersion {
    /// `v2.0`.
    id: String,
    /// `CURRENT`.
    status: String,
    links: Vec<Link>,
}

/// The versions of the API.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct Versions {
    versions: Vec<ApiVersion>,
}

/// A resource collection of v2.0.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ApiResource {
    /// The resource, e.g. `network`.
    name: String,
    /// Its collection, e.g. `networks`.
    collection: String,
    links: Vec<Link>,
}

/// The resources of v2.0.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct Resources {
    resources: Vec<ApiResource>,
}

/// An API extension.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct Extension {
    alias: String,
    name: String,
    description: String,
    updated: String,
    links: Vec<Link>,
}

/// The extensions offered.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct Extensions {
    extensions: Vec<Extension>,
}

/// One extension.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ExtensionOne {
    extension: Extension,
}

/// The agents (none).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct Agents {
    /// Always empty.
    #[schema(value_type = Vec<Object>)]
    agents: Vec<serde_json::Value>,
}

/// The API's versions.
#[utoipa::path(get, path = "/", tag = "versions", security(()),
    responses((status = 200, description = "The versions of the API (only v2.0).", body = Versions)))]
async fn root(state: web::Data<NetworkState>) -> HttpResponse {
    HttpResponse::Ok().json(json!({"versions": [{"id": "v2.0", "status": "CURRENT",
        "links": [{"href": format!("{}/v2.0/", state.base), "rel": "self"}]}]}))
}

/// The resource collections of v2.0.
#[utoipa::path(get, path = "/v2.0", tag = "versions", security(()),
    responses((status = 200, description = "The resource collections.", body = Resources)))]
async fn v2(state: web::Data<NetworkState>) -> HttpResponse {
    let resources: Vec<_> = ["network", "subnet", "port", "security-group", "security-group-rule", "quota"]
        .iter()
        .map(|r| {
            json!({"name": r, "collection": format!("{r}s"),
                "links": [{"href": format!("{}/v2.0/{r}s", state.base), "rel": "self"}]})
        })
        .collect();
    HttpResponse::Ok().json(json!({ "resources": resources }))
}

fn extension(alias: &str, name: &str, description: &str) -> serde_json::Value {
    json!({"alias": alias, "name": name, "description": description,
        "updated": "2026-11-28T00:00:00-00:00", "links": []})
}

/// Lists the extensions offered.
#[utoipa::path(get, path = "/v2.0/extensions", tag = "extensions",
    responses((status = 200, description = "The extensions.", body = Extensions)))]
async fn extensions(_: Caller) -> HttpResponse {
    let list: Vec<_> = EXTENSIONS.iter().map(|(a, n, d)| extension(a, n, d)).collect();
    HttpResponse::Ok().json(json!({ "extensions": list }))
}

/// Shows an extension.
#[utoipa::path(get, path = "/v2.0/extensions/{alias}", tag = "extensions",
    params(("alias" = String, Path, description = "The extension's alias, e.g. `binding`.")),
    responses((status = 200, description = "The extension.", body = ExtensionOne)))]
async fn extension_show(_: Caller, alias: web::Path<String>) -> Result<HttpResponse> {
    let (a, n, d) = EXTENSIONS.iter().find(|(a, _, _)| *a == alias.as_str()).ok_or_else(|| {
        NeutronError::NotFound("HTTPNotFound", format!("Extension with alias {alias} does not exist"))
    })?;
    Ok(HttpResponse::Ok().json(json!({"extension": extension(a, n, d)})))
}

/// Lists the agents: none run here (no DHCP or L2 agents: switch ports
/// are configured through the port binding).
#[utoipa::path(get, path = "/v2.0/agents", tag = "agents",
    responses((status = 200, description = "An empty list.", body = Agents)))]
async fn agents(_: Caller) -> HttpResponse {
    HttpResponse::Ok().json(json!({"agents": []}))
}

pub fn routes(r: &mut Routes) {
    crate::routes!(r; agents, root, v2 | "/v2.0/", extensions, extension_show);
}
