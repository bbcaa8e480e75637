//! The bare-metal API's OpenAPI document: its routes, the shapes they share
//! and what every operation accepts.
//!
//! Ironic resources are rendered per microversion and `?fields=` selects
//! among their fields, so no field of a resource schema ([`SELECTABLE`]) is
//! required; a field's description names the microversion that introduced
//! it where it is not 1.1.

use utoipa::ToSchema;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::{ObjectBuilder, OpenApi, RefOr, Required, Schema, Type};

use super::versions::{MAX, MIN};
use crate::common::openapi::{ErrorDoc, Routes, ServiceDoc, version_pattern};

/// Every route of the bare-metal API, in matching order.
pub fn routes() -> Routes {
    let mut r = Routes::new();
    super::versions::routes(&mut r);
    super::volume::routes(&mut r);
    super::inspection_rules::routes(&mut r);
    super::agent::routes(&mut r);
    super::chassis::routes(&mut r);
    super::drivers::routes(&mut r);
    super::allocations::routes(&mut r);
    super::shards::routes(&mut r);
    super::deploy_templates::routes(&mut r);
    super::runbooks::routes(&mut r);
    super::nodes::routes(&mut r);
    super::node_extras::routes(&mut r);
    super::states::routes(&mut r);
    super::ports::routes(&mut r);
    super::portgroups::routes(&mut r);
    crate::routes!(r; metrics);
    r
}

fn microversion_header() -> Parameter {
    ParameterBuilder::new()
        .name("X-OpenStack-Ironic-API-Version")
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(format!(
            "The microversion to speak: `1.1` to `{MAX}` or `latest`; 1.1 when absent. Fields, filters and \
             endpoints newer than the version are refused (406) or hidden (404)."
        )))
        .schema(Some(ObjectBuilder::new().schema_type(Type::String).pattern(Some(version_pattern("", MIN, MAX)))))
        .build()
}

/// The resources whose fields `?fields=` and the microversion select.
const SELECTABLE: &[&str] = &[
    "Chassis",
    "Driver",
    "Conductor",
    "Allocation",
    "VolumeConnector",
    "VolumeTarget",
    "DeployTemplate",
    "Runbook",
    "InspectionRule",
    "Node",
    "Port",
    "Portgroup",
];

/// The document of the bare-metal API.
pub fn document(server: &str) -> OpenApi {
    let mut doc = routes().document(service_doc(), server);
    for (name, schema) in doc.components.iter_mut().flat_map(|c| c.schemas.iter_mut()) {
        if let (true, RefOr::T(Schema::Object(o))) = (SELECTABLE.contains(&name.as_str()), schema) {
            o.required.clear();
        }
    }
    doc
}

fn service_doc() -> ServiceDoc {
    ServiceDoc {
        title: "ironbark bare metal (Ironic v1)",
        version: MAX.to_string(),
        description: "The OpenStack Bare Metal API: nodes and their lifecycle, ports, port groups, chassis, \
                      drivers, conductors, allocations, deploy templates, runbooks, volume connectors and \
                      targets, inspection rules and the agent's lookup and heartbeat.",
        error: ErrorDoc::of::<Fault>("application/json"),
        headers: vec![microversion_header()],
    }
}

/// Ironic's error envelope: `error_message` is itself JSON text, either
/// `{"faultcode", "faultstring", "debuginfo"}` or, for routing errors,
/// `{"code", "title", "description"}`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Fault {
    error_message: String,
}

/// A link to a resource.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Link {
    href: String,
    /// `self` or `bookmark`.
    rel: String,
}

/// Paging of a collection.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct PageQuery {
    /// The last item of the previous page.
    marker: Option<String>,
    /// The page size (at most 1000, the default).
    #[param(minimum = 1)]
    limit: Option<i64>,
    /// The field to sort by (`id`, the creation order, by default).
    sort_key: Option<String>,
    #[param(inline)]
    sort_dir: Option<SortDir>,
}

#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum SortDir {
    Asc,
    Desc,
}

/// `fields` (1.8): only these fields (comma-separated), plus `links`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct FieldsQuery {
    /// Comma-separated field names.
    fields: Option<String>,
}

/// `detail` (1.43): every field in a plain listing.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct DetailQuery {
    detail: Option<bool>,
}

/// A JSON patch (RFC 6902): `add`, `replace` and `remove` only.
#[derive(ToSchema)]
#[schema(as = JsonPatch)]
#[allow(dead_code)]
pub struct JsonPatch(Vec<PatchOp>);

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PatchOp {
    op: PatchKind,
    /// A JSON pointer, e.g. `/extra/rack`.
    path: String,
    /// Required for `add` and `replace`.
    #[schema(value_type = Value)]
    #[serde(default)]
    value: serde_json::Value,
}

#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum PatchKind {
    Add,
    Replace,
    Remove,
}

/// The Prometheus metrics of this process (no token): node counts by state,
/// request latencies, engine figures.
#[utoipa::path(get, path = "/metrics", tag = "metrics", security(()),
    responses((status = 200, description = "The text exposition format.",
            content_type = "text/plain; version=0.0.4; charset=utf-8", body = String),
        (status = 500, description = "The metrics could not be encoded.", content_type = "text/plain", body = String),
        (status = 503, description = "The database is unreachable.", content_type = "text/plain", body = String)))]
async fn metrics(m: actix_web::web::Data<crate::reporters::metrics::Metrics>) -> actix_web::HttpResponse {
    crate::reporters::metrics::handler(m).await
}
