//! The service catalog: regions, services and endpoints.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use utoipa::{IntoParams, ToSchema};

use super::error::{IdentityError, Result};
use super::openapi::{CollectionLinks, SelfLink};
use super::resources::require_admin;
use super::{IdentityState, new_id, parse_wrapped, query_bool};
use crate::common::auth::{Auth, Authenticator};
use crate::common::openapi::Routes;
use crate::storage::StorageError;
use crate::storage::identity::{self as ids, Endpoint, Region, Service};

type Caller = Auth<IdentityError>;

fn string_field(m: &Map<String, Value>, key: &str) -> Result<Option<String>> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(IdentityError::validation(format!("{key}': must be a string"))),
    }
}

fn bool_field(m: &Map<String, Value>, key: &str) -> Result<Option<bool>> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(IdentityError::validation(format!("{key}': must be a boolean"))),
    }
}

fn require_reader(caller: &crate::common::auth::AuthContext, action: &str) -> Result<()> {
    if caller.is_admin() || caller.system_level().is_some() {
        Ok(())
    } else {
        Err(IdentityError::Forbidden(format!("identity:{action}")))
    }
}

// ---- documentation ---------------------------------------------------------------

/// A region.
#[derive(ToSchema)]
#[schema(as = Region)]
#[allow(dead_code)]
pub struct RegionDoc {
    id: String,
    description: String,
    #[schema(nullable)]
    parent_region_id: Option<String>,
    links: SelfLink,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RegionShow {
    region: RegionDoc,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RegionList {
    regions: Vec<RegionDoc>,
    links: CollectionLinks,
}

/// A new region.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RegionCreate {
    region: RegionFields,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RegionFields {
    /// Generated when absent.
    #[schema(nullable)]
    id: Option<String>,
    #[schema(nullable)]
    description: Option<String>,
    #[schema(nullable)]
    parent_region_id: Option<String>,
}

/// A region's changes.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RegionUpdate {
    region: RegionPatch,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RegionPatch {
    #[schema(nullable)]
    description: Option<String>,
    #[schema(nullable)]
    parent_region_id: Option<String>,
}

/// A service.
#[derive(ToSchema)]
#[schema(as = Service)]
#[allow(dead_code)]
pub struct ServiceDoc {
    id: String,
    #[schema(rename = "type")]
    service_type: String,
    name: String,
    description: String,
    enabled: bool,
    links: SelfLink,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ServiceShow {
    service: ServiceDoc,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ServiceList {
    services: Vec<ServiceDoc>,
    links: CollectionLinks,
}

/// A new service.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ServiceCreate {
    service: ServiceFields,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ServiceFields {
    #[schema(rename = "type", min_length = 1, max_length = 255)]
    service_type: String,
    #[schema(nullable)]
    name: Option<String>,
    #[schema(nullable)]
    description: Option<String>,
    #[schema(nullable)]
    enabled: Option<bool>,
}

/// A service's changes.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ServiceUpdate {
    service: ServicePatch,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ServicePatch {
    #[schema(rename = "type", nullable, min_length = 1, max_length = 255)]
    service_type: Option<String>,
    #[schema(nullable)]
    name: Option<String>,
    #[schema(nullable)]
    description: Option<String>,
    #[schema(nullable)]
    enabled: Option<bool>,
}

/// Filters of the service list.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct ServiceFilters {
    #[param(rename = "type")]
    service_type: Option<String>,
    name: Option<String>,
}

/// An endpoint.
#[derive(ToSchema)]
#[schema(as = Endpoint)]
#[allow(dead_code)]
pub struct EndpointDoc {
    id: String,
    interface: Interface,
    #[schema(nullable)]
    region_id: Option<String>,
    /// The region's id again (deprecated).
    #[schema(nullable)]
    region: Option<String>,
    service_id: String,
    url: String,
    enabled: bool,
    links: SelfLink,
}

#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum Interface {
    Public,
    Internal,
    Admin,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct EndpointShow {
    endpoint: EndpointDoc,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct EndpointList {
    endpoints: Vec<EndpointDoc>,
    links: CollectionLinks,
}

/// A new endpoint.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct EndpointCreate {
    endpoint: EndpointFields,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct EndpointFields {
    interface: Interface,
    #[schema(min_length = 1)]
    service_id: String,
    #[schema(min_length = 1)]
    url: String,
    #[schema(nullable)]
    region_id: Option<String>,
    /// The region (deprecated spelling of `region_id`).
    #[schema(nullable)]
    region: Option<String>,
    #[schema(nullable)]
    enabled: Option<bool>,
}

/// An endpoint's changes.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct EndpointUpdate {
    endpoint: EndpointPatch,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct EndpointPatch {
    #[schema(nullable)]
    interface: Option<Interface>,
    #[schema(nullable)]
    service_id: Option<String>,
    #[schema(nullable)]
    url: Option<String>,
    #[schema(nullable)]
    region_id: Option<String>,
    #[schema(nullable)]
    region: Option<String>,
    #[schema(nullable)]
    enabled: Option<bool>,
}

/// Filters of the endpoint list.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct EndpointFilters {
    service_id: Option<String>,
    interface: Option<String>,
    region_id: Option<String>,
    /// `false`, `0`, `no`, `off`, `f` or `n` is false; anything else true.
    enabled: Option<String>,
}

// ---- regions -------------------------------------------------------------------

fn region_json(state: &IdentityState, r: &Region) -> Value {
    json!({"id": r.id, "description": r.description, "parent_region_id": r.parent_region_id,
           "links": {"self": state.link(&format!("regions/{}", r.id))}})
}

/// Lists regions.
#[utoipa::path(get, path = "/v3/regions", tag = "regions",
    responses((status = 200, description = "The regions.", body = RegionList)))]
async fn regions_list(
    req: HttpRequest,
    _caller: Caller,
    auth: web::Data<Authenticator>,
    state: web::Data<IdentityState>,
) -> Result<HttpResponse> {
    let list = auth.storage.read(ids::regions_list).await?;
    let list: Vec<Value> = list.iter().map(|r| region_json(&state, r)).collect();
    Ok(HttpResponse::Ok().json(json!({"regions": list, "links": state.collection_links(&req)})))
}

/// Shows a region.
#[utoipa::path(get, path = "/v3/regions/{region_id}", tag = "regions", params(("region_id" = String, Path)),
    responses((status = 200, description = "The region.", body = RegionShow)))]
async fn region_get(
    _caller: Caller,
    path: web::Path<String>,
    auth: web::Data<Authenticator>,
    state: web::Data<IdentityState>,
) -> Result<HttpResponse> {
    let id = path.into_inner();
    let r = auth.storage.read(move |c| ids::region(c, &id)).await?;
    Ok(HttpResponse::Ok().json(json!({"region": region_json(&state, &r)})))
}

/// Creates a region.
#[utoipa::path(post, path = "/v3/regions", tag = "regions", request_body = RegionCreate,
    responses((status = 201, description = "The new region.", body = RegionShow)))]
async fn region_create(
    caller: Caller,
    body: web::Bytes,
    auth: web::Data<Authenticator>,
    state: web::Data<IdentityState>,
) -> Result<HttpResponse> {
    require_admin(&caller, "create_region")?;
    let m = parse_wrapped(&body, "region")?;
    let r = Region {
        id: string_field(&m, "id")?.unwrap_or_else(new_id),
        description: string_field(&m, "description")?.unwrap_or_default(),
        parent_region_id: string_field(&m, "parent_region_id")?,
    };
    let row = r.clone();
    auth.storage
        .write(move |c| {
            if let Some(p) = &row.parent_region_id {
                ids::region(c, p)?;
            }
            if ids::region(c, &row.id).is_ok() {
                return Err(StorageError::Duplicate(format!("region - Duplicate ID, {}", row.id)));
            }
            ids::region_insert(c, &row)
        })
        .await?;
    Ok(HttpResponse::Created().json(json!({"region": region_json(&state, &r)})))
}

/// Updates a region.
#[utoipa::path(patch, path = "/v3/regions/{region_id}", tag = "regions", params(("region_id" = String, Path)),
    request_body = RegionUpdate, responses((status = 200, description = "The updated region.", body = RegionShow)))]
async fn region_update(
    caller: Caller,
    path: web::Path<String>,
    body: web::Bytes,
    auth: web::Data<Authenticator>,
    state: web::Data<IdentityState>,
) -> Result<HttpResponse> {
    require_admin(&caller, "update_region")?;
    let id = path.into_inner();
    let m = parse_wrapped(&body, "region")?;
    let description = string_field(&m, "description")?;
    let parent = m.get("parent_region_id").cloned();
    let r = auth
        .storage
        .write(move |c| {
            let mut r = ids::region(c, &id)?;
            if let Some(d) = description {
                r.description = d;
            }
            match parent {
                Some(Value::String(p)) => {
                    ids::region(c, &p)?;
                    r.parent_region_id = Some(p);
                }
                Some(Value::Null) => r.parent_region_id = None,
                _ => {}
            }
            ids::region_update(c, &r)?;
            Ok(r)
        })
        .await?;
    Ok(HttpResponse::Ok().json(json!({"region": region_json(&state, &r)})))
}

/// Deletes a region.
#[utoipa::path(delete, path = "/v3/regions/{region_id}", tag = "regions", params(("region_id" = String, Path)),
    responses((status = 204, description = "Deleted.")))]
async fn region_delete(
    caller: Caller,
    path: web::Path<String>,
    auth: web::Data<Authenticator>,
) -> Result<HttpResponse> {
    require_admin(&caller, "delete_region")?;
    let id = path.into_inner();
    auth.storage.write(move |c| ids::region_delete(c, &id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

// ---- services ------------------------------------------------------------------

fn service_json(state: &IdentityState, s: &Service) -> Value {
    json!({"id": s.id, "type": s.service_type, "name": s.name, "description": s.description,
           "enabled": s.enabled, "links": {"self": state.link(&format!("services/{}", s.id))}})
}

#[derive(Deserialize)]
struct ServiceQuery {
    #[serde(rename = "type")]
    service_type: Option<String>,
    name: Option<String>,
}

/// Lists services.
#[utoipa::path(get, path = "/v3/services", tag = "services", params(ServiceFilters),
    responses((status = 200, description = "The services.", body = ServiceList)))]
async fn services_list(
    req: HttpRequest,
    caller: Caller,
    q: web::Query<ServiceQuery>,
    auth: web::Data<Authenticator>,
    state: web::Data<IdentityState>,
) -> Result<HttpResponse> {
    require_reader(&caller, "list_services")?;
    let (t, n) = (q.service_type.clone(), q.name.clone());
    let list = auth.storage.read(move |c| ids::services_list(c, t.as_deref(), n.as_deref())).await?;
    let list: Vec<Value> = list.iter().map(|s| service_json(&state, s)).collect();
    Ok(HttpResponse::Ok().json(json!({"services": list, "links": state.collection_links(&req)})))
}

/// Shows a service.
#[utoipa::path(get, path = "/v3/services/{service_id}", tag = "services", params(("service_id" = String, Path)),
    responses((status = 200, description = "The service.", body = ServiceShow)))]
async fn service_get(
    caller: Caller,
    path: web::Path<String>,
    auth: web::Data<Authenticator>,
    state: web::Data<IdentityState>,
) -> Result<HttpResponse> {
    require_reader(&caller, "get_service")?;
    let id = path.into_inner();
    let s = auth.storage.read(move |c| ids::service(c, &id)).await?;
    Ok(HttpResponse::Ok().json(json!({"service": service_json(&state, &s)})))
}

/// Creates a service.
#[utoipa::path(post, path = "/v3/services", tag = "services", request_body = ServiceCreate,
    responses((status = 201, description = "The new service.", body = ServiceShow)))]
async fn service_create(
    caller: Caller,
    body: web::Bytes,
    auth: web::Data<Authenticator>,
    state: web::Data<IdentityState>,
) -> Result<HttpResponse> {
    require_admin(&caller, "create_service")?;
    let m = parse_wrapped(&body, "service")?;
    let service_type = string_field(&m, "type")?.filter(|t| !t.is_empty() && t.len() <= 255).ok_or_else(|| {
        IdentityError::BadRequest("Invalid input for field 'type': 'type' is a required property".into())
    })?;
    let s = Service {
        id: new_id(),
        service_type,
        name: string_field(&m, "name")?.unwrap_or_default(),
        description: string_field(&m, "description")?.unwrap_or_default(),
        enabled: bool_field(&m, "enabled")?.unwrap_or(true),
    };
    let row = s.clone();
    auth.storage.write(move |c| ids::service_insert(c, &row)).await?;
    Ok(HttpResponse::Created().json(json!({"service": service_json(&state, &s)})))
}

/// Updates a service.
#[utoipa::path(patch, path = "/v3/services/{service_id}", tag = "services", params(("service_id" = String, Path)),
    request_body = ServiceUpdate, responses((status = 200, description = "The updated service.", body = ServiceShow)))]
async fn service_update(
    caller: Caller,
    path: web::Path<String>,
    body: web::Bytes,
    auth: web::Data<Authenticator>,
    state: web::Data<IdentityState>,
) -> Result<HttpResponse> {
    require_admin(&caller, "update_service")?;
    let id = path.into_inner();
    let m = parse_wrapped(&body, "service")?;
    let (t, n, d, e) = (
        string_field(&m, "type")?,
        string_field(&m, "name")?,
        string_field(&m, "description")?,
        bool_field(&m, "enabled")?,
    );
    let s = auth
        .storage
        .write(move |c| {
            let mut s = ids::service(c, &id)?;
            if let Some(t) = t {
                s.service_type = t;
            }
            if let Some(n) = n {
                s.name = n;
            }
            if let Some(d) = d {
                s.description = d;
            }
            if let Some(e) = e {
                s.enabled = e;
            }
            ids::service_update(c, &s)?;
            Ok(s)
        })
        .await?;
    Ok(HttpResponse::Ok().json(json!({"service": service_json(&state, &s)})))
}

/// Deletes a service.
#[utoipa::path(delete, path = "/v3/services/{service_id}", tag = "services", params(("service_id" = String, Path)),
    responses((status = 204, description = "Deleted.")))]
async fn service_delete(
    caller: Caller,
    path: web::Path<String>,
    auth: web::Data<Authenticator>,
) -> Result<HttpResponse> {
    require_admin(&caller, "delete_service")?;
    let id = path.into_inner();
    auth.storage.write(move |c| ids::service_delete(c, &id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

// ---- endpoints -----------------------------------------------------------------

fn endpoint_json(state: &IdentityState, e: &Endpoint) -> Value {
    json!({"id": e.id, "interface": e.interface, "region_id": e.region_id, "region": e.region_id,
           "service_id": e.service_id, "url": e.url, "enabled": e.enabled,
           "links": {"self": state.link(&format!("endpoints/{}", e.id))}})
}

fn interface_ok(i: &str) -> Result<()> {
    if matches!(i, "public" | "internal" | "admin") {
        Ok(())
    } else {
        Err(IdentityError::validation(format!("interface': '{i}' is not one of ['public', 'internal', 'admin']")))
    }
}

#[derive(Deserialize)]
struct EndpointQuery {
    service_id: Option<String>,
    interface: Option<String>,
    region_id: Option<String>,
    enabled: Option<String>,
}

/// Lists endpoints.
#[utoipa::path(get, path = "/v3/endpoints", tag = "endpoints", params(EndpointFilters),
    responses((status = 200, description = "The endpoints.", body = EndpointList)))]
async fn endpoints_list(
    req: HttpRequest,
    caller: Caller,
    q: web::Query<EndpointQuery>,
    auth: web::Data<Authenticator>,
    state: web::Data<IdentityState>,
) -> Result<HttpResponse> {
    require_reader(&caller, "list_endpoints")?;
    let f = ids::EndpointFilter {
        service_id: q.service_id.clone(),
        interface: q.interface.clone(),
        region_id: q.region_id.clone(),
    };
    let enabled = q.enabled.as_deref().map(query_bool);
    let mut list = auth.storage.read(move |c| ids::endpoints_list(c, &f)).await?;
    if let Some(e) = enabled {
        list.retain(|x| x.enabled == e);
    }
    let list: Vec<Value> = list.iter().map(|e| endpoint_json(&state, e)).collect();
    Ok(HttpResponse::Ok().json(json!({"endpoints": list, "links": state.collection_links(&req)})))
}

/// Shows an endpoint.
#[utoipa::path(get, path = "/v3/endpoints/{endpoint_id}", tag = "endpoints", params(("endpoint_id" = String, Path)),
    responses((status = 200, description = "The endpoint.", body = EndpointShow)))]
async fn endpoint_get(
    caller: Caller,
    path: web::Path<String>,
    auth: web::Data<Authenticator>,
    state: web::Data<IdentityState>,
) -> Result<HttpResponse> {
    require_reader(&caller, "get_endpoint")?;
    let id = path.into_inner();
    let e = auth.storage.read(move |c| ids::endpoint(c, &id)).await?;
    Ok(HttpResponse::Ok().json(json!({"endpoint": endpoint_json(&state, &e)})))
}

/// Creates an endpoint.
#[utoipa::path(post, path = "/v3/endpoints", tag = "endpoints", request_body = EndpointCreate,
    responses((status = 201, description = "The new endpoint.", body = EndpointShow)))]
async fn endpoint_create(
    caller: Caller,
    body: web::Bytes,
    auth: web::Data<Authenticator>,
    state: web::Data<IdentityState>,
) -> Result<HttpResponse> {
    require_admin(&caller, "create_endpoint")?;
    let m = parse_wrapped(&body, "endpoint")?;
    let required = |k: &str| -> Result<String> {
        string_field(&m, k)?.filter(|v| !v.is_empty()).ok_or_else(|| {
            IdentityError::BadRequest(format!("Invalid input for field '{k}': '{k}' is a required property"))
        })
    };
    let interface = required("interface")?;
    interface_ok(&interface)?;
    let e = Endpoint {
        id: new_id(),
        service_id: required("service_id")?,
        interface,
        region_id: string_field(&m, "region_id")?.or(string_field(&m, "region")?),
        url: required("url")?,
        enabled: bool_field(&m, "enabled")?.unwrap_or(true),
    };
    let row = e.clone();
    auth.storage
        .write(move |c| {
            ids::service(c, &row.service_id)?;
            if let Some(r) = &row.region_id {
                ids::region(c, r)?;
            }
            ids::endpoint_insert(c, &row)
        })
        .await
        .map_err(|e| match e {
            StorageError::NotFound { kind, id } => IdentityError::BadRequest(format!("Could not find {kind}: {id}.")),
            other => other.into(),
        })?;
    Ok(HttpResponse::Created().json(json!({"endpoint": endpoint_json(&state, &e)})))
}

/// Updates an endpoint.
#[utoipa::path(patch, path = "/v3/endpoints/{endpoint_id}", tag = "endpoints", params(("endpoint_id" = String, Path)),
    request_body = EndpointUpdate, responses((status = 200, description = "The updated endpoint.", body = EndpointShow)))]
async fn endpoint_update(
    caller: Caller,
    path: web::Path<String>,
    body: web::Bytes,
    auth: web::Data<Authenticator>,
    state: web::Data<IdentityState>,
) -> Result<HttpResponse> {
    require_admin(&caller, "update_endpoint")?;
    let id = path.into_inner();
    let m = parse_wrapped(&body, "endpoint")?;
    let interface = string_field(&m, "interface")?;
    if let Some(i) = &interface {
        interface_ok(i)?;
    }
    let (url, service, region, enabled) = (
        string_field(&m, "url")?,
        string_field(&m, "service_id")?,
        string_field(&m, "region_id")?.or(string_field(&m, "region")?),
        bool_field(&m, "enabled")?,
    );
    let e = auth
        .storage
        .write(move |c| {
            let mut e = ids::endpoint(c, &id)?;
            if let Some(i) = interface {
                e.interface = i;
            }
            if let Some(u) = url {
                e.url = u;
            }
            if let Some(s) = service {
                ids::service(c, &s)?;
                e.service_id = s;
            }
            if let Some(r) = region {
                ids::region(c, &r)?;
                e.region_id = Some(r);
            }
            if let Some(en) = enabled {
                e.enabled = en;
            }
            ids::endpoint_update(c, &e)?;
            Ok(e)
        })
        .await?;
    Ok(HttpResponse::Ok().json(json!({"endpoint": endpoint_json(&state, &e)})))
}

/// Deletes an endpoint.
#[utoipa::path(delete, path = "/v3/endpoints/{endpoint_id}", tag = "endpoints", params(("endpoint_id" = String, Path)),
    responses((status = 204, description = "Deleted.")))]
async fn endpoint_delete(
    caller: Caller,
    path: web::Path<String>,
    auth: web::Data<Authenticator>,
) -> Result<HttpResponse> {
    require_admin(&caller, "delete_endpoint")?;
    let id = path.into_inner();
    auth.storage.write(move |c| ids::endpoint_delete(c, &id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub fn routes(r: &mut Routes) {
    crate::routes!(r;
        regions_list, region_create, region_get, region_update, region_delete,
        services_list, service_create, service_get, service_update, service_delete,
        endpoints_list, endpoint_create, endpoint_get, endpoint_update, endpoint_delete);
}
