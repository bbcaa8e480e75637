//! `GET /` (the API versions), `GET /v2.0` (the resources) and
//! `GET /v2.0/extensions` (what this Neutron offers beyond the core).

use actix_web::{HttpResponse, web};
use serde_json::json;

use super::error::{NeutronError, Result};
use super::{Caller, NetworkState};

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

async fn root(state: web::Data<NetworkState>) -> HttpResponse {
    HttpResponse::Ok().json(json!({"versions": [{"id": "v2.0", "status": "CURRENT",
        "links": [{"href": format!("{}/v2.0/", state.base), "rel": "self"}]}]}))
}

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

async fn extensions(_: Caller) -> HttpResponse {
    let list: Vec<_> = EXTENSIONS.iter().map(|(a, n, d)| extension(a, n, d)).collect();
    HttpResponse::Ok().json(json!({ "extensions": list }))
}

async fn extension_show(_: Caller, alias: web::Path<String>) -> Result<HttpResponse> {
    let (a, n, d) = EXTENSIONS.iter().find(|(a, _, _)| *a == alias.as_str()).ok_or_else(|| {
        NeutronError::NotFound("HTTPNotFound", format!("Extension with alias {alias} does not exist"))
    })?;
    Ok(HttpResponse::Ok().json(json!({"extension": extension(a, n, d)})))
}

/// No agents run here (no DHCP or L2 agents: switch ports are configured
/// through the port binding), and the list says so.
async fn agents(_: Caller) -> HttpResponse {
    HttpResponse::Ok().json(json!({"agents": []}))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v2.0/agents", web::get().to(agents));
    cfg.route("/", web::get().to(root))
        .route("/v2.0", web::get().to(v2))
        .route("/v2.0/", web::get().to(v2))
        .route("/v2.0/extensions", web::get().to(extensions))
        .route("/v2.0/extensions/{alias}", web::get().to(extension_show));
}
