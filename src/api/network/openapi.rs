//! The network API's OpenAPI document: its routes, the shapes they share
//! and what every operation accepts.
//!
//! Neutron renders every resource field by field and `?fields=` selects
//! among them, so no field of a resource schema ([`SELECTABLE`]) is
//! required. Lists take Neutron's query conventions (attribute filters,
//! `fields`, sorting, paging): [`ListParams`] and each resource's filters.

use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn, ParameterStyle};
use utoipa::openapi::{ArrayBuilder, ObjectBuilder, OpenApi, RefOr, Required, Schema, Type};
use utoipa::{IntoParams, ToSchema};

use crate::common::openapi::{ErrorDoc, Routes, ServiceDoc};

/// Every route of the network API, in matching order.
pub fn routes() -> Routes {
    let mut r = Routes::new();
    super::versions::routes(&mut r);
    super::networks::routes(&mut r);
    super::subnets::routes(&mut r);
    super::ports::routes(&mut r);
    super::security_groups::routes(&mut r);
    super::quotas::routes(&mut r);
    r
}

/// The resources whose fields `?fields=` selects.
const SELECTABLE: &[&str] = &["Network", "Subnet", "Port", "SecurityGroup", "SecurityGroupRule"];

/// The document of the network API.
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

/// A link.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Link {
    href: String,
    /// `self`, `next` or `previous`.
    rel: String,
}

#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum SortDir {
    Asc,
    Desc,
}

/// Neutron's list conventions: `fields`, sorting and paging.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ListParams {
    /// Only these fields of each item (repeat the parameter, or separate names with commas).
    fields: Option<Vec<String>>,
    /// Attributes to sort by, in order (repeat for several); `id` breaks ties.
    sort_key: Option<Vec<String>>,
    /// The direction of each `sort_key`, in the same order (all or none).
    #[param(inline)]
    sort_dir: Option<Vec<SortDir>>,
    /// The page size; 0 for no limit. A full page comes with a `next` link.
    #[param(minimum = 0)]
    limit: Option<i64>,
    /// The id of the last item of the previous page.
    marker: Option<String>,
    /// Page backwards from `marker`.
    page_reverse: Option<bool>,
}

/// `fields`: only these fields of the resource.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct FieldsParam {
    /// Only these fields (repeat the parameter, or separate names with commas).
    fields: Option<Vec<String>>,
}

/// The type of an attribute filter's values.
#[derive(Clone, Copy)]
pub enum Kind {
    Str,
    Bool,
    Int,
}

/// Attribute filters of a list: each `name=value` keeps the items whose
/// attribute is one of the values given (repeat the parameter for several);
/// a list attribute matches when it holds one of them.
pub fn filters(attrs: &[(&str, Kind)]) -> Vec<Parameter> {
    attrs
        .iter()
        .map(|(name, kind)| {
            let item = match kind {
                Kind::Str => ObjectBuilder::new().schema_type(Type::String),
                Kind::Bool => ObjectBuilder::new().schema_type(Type::Boolean),
                Kind::Int => ObjectBuilder::new().schema_type(Type::Integer),
            };
            ParameterBuilder::new()
                .name(*name)
                .parameter_in(ParameterIn::Query)
                .required(Required::False)
                .description(Some(format!("Only those whose `{name}` is one of these values.")))
                .style(Some(ParameterStyle::Form))
                .explode(Some(true))
                .schema(Some(ArrayBuilder::new().items(item)))
                .build()
        })
        .collect()
}

/// Declares a type whose `IntoParams` are these attribute filters.
#[macro_export]
macro_rules! neutron_filters {
    ($name:ident: $($attr:literal = $kind:ident),* $(,)?) => {
        /// Attribute filters of the list.
        pub struct $name;
        impl utoipa::IntoParams for $name {
            fn into_params(
                _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
            ) -> Vec<utoipa::openapi::path::Parameter> {
                use $crate::api::network::openapi::Kind::*;
                $crate::api::network::openapi::filters(&[$(($attr, $kind)),*])
            }
        }
    };
}
