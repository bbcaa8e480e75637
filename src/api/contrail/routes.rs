//! The root document, collections, resources and the two name actions.

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use super::error::{ContrailError, Result};
use super::{Caller, ContrailState};
use crate::common::openapi::Routes;
use crate::reporters::contrail::object::{TYPES, VncObject, is_type};
use crate::reporters::contrail::view;

pub fn routes(r: &mut Routes) {
    // The named actions come before `/{collection}`, which would match them too.
    crate::routes!(r; root, fqname_to_id, id_to_fqname, push_status, list, read);
}

/// A link of the root document.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct LinkDoc {
    /// `collection`, `resource-base` or `action`.
    rel: String,
    href: String,
    /// The type, or the action (`name-to-id`, `id-to-name`).
    name: String,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct LinkItem {
    link: LinkDoc,
}

/// Where each type's collection and resources live, and the actions.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RootDoc {
    href: String,
    links: Vec<LinkItem>,
}

/// An object of the fabric view: its identity, parent, and its type's
/// properties and references (`virtual_network_refs`, …).
#[derive(ToSchema)]
#[schema(as = VncObject)]
#[allow(dead_code)]
pub struct ObjectDoc {
    #[schema(format = Uuid)]
    uuid: String,
    fq_name: Vec<String>,
    name: String,
    href: String,
    display_name: String,
    /// The parent's type (`config-root` for top-level objects).
    parent_type: String,
    /// Of objects with a parent type.
    parent_uuid: Option<String>,
    /// Of objects with a parent type.
    parent_href: Option<String>,
}

/// An object of a listing: where it is and its name.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Summary {
    href: String,
    fq_name: Vec<String>,
    #[schema(format = Uuid)]
    uuid: String,
}

/// With `count=true`: how many objects match.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Count {
    count: i64,
}

/// An item of a listing: a summary, or with `detail=true` the whole
/// object under its type (`{"virtual-network": {...}}`).
#[derive(ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum ListItem {
    Summary(Summary),
    Detail(HashMap<String, ObjectDoc>),
}

/// The items of a collection, or their count.
#[derive(ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum Listing {
    Items(Vec<ListItem>),
    Count(Count),
}

/// A collection, under its name (`{"virtual-networks": [...]}`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct CollectionDoc(HashMap<String, Listing>);

/// An object under its type (`{"virtual-network": {...}}`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ObjectOne(HashMap<String, ObjectDoc>);

/// A name to look up.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct FqNameQuery {
    /// The type, e.g. `virtual-network` (`_` for `-` too).
    r#type: String,
    fq_name: Vec<String>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UuidDoc {
    #[schema(format = Uuid)]
    uuid: String,
}

/// An object's uuid to look up.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UuidQuery {
    uuid: String,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct FqNameDoc {
    fq_name: Vec<String>,
    r#type: String,
}

/// The push's last failure.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PushFailure {
    object_type: String,
    object_uuid: String,
    /// `create`, `update` or `delete`.
    op: String,
    attempts: i32,
    error: Option<String>,
    #[schema(format = DateTime)]
    next_attempt_at: String,
}

/// The push to the external contrail-api.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PushStatus {
    /// Whether changes are pushed (`contrail.api_url`).
    enabled: bool,
    /// Changes not pushed yet.
    pending: i64,
    /// Changes whose last push failed.
    failing: i64,
    /// The most recent failure; null when none fails.
    last_error: Option<PushFailure>,
}

/// The list options this view honours (contrail-api's names); others
/// (`fields`, `shared`, `exclude_hrefs`, …) change nothing here.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ListParams {
    /// Every field of each object, under its type.
    detail: Option<bool>,
    /// Only the number of matching objects.
    count: Option<bool>,
    /// Only children of these parents (comma-separated uuids).
    parent_id: Option<String>,
    /// Only children of this parent (its fq_name joined with `:`).
    parent_fq_name_str: Option<String>,
    /// Only these objects (comma-separated uuids).
    obj_uuids: Option<String>,
    /// Only objects referring to one of these (comma-separated uuids).
    back_ref_id: Option<String>,
    /// Only these names (comma-separated, each joined with `:`).
    fq_names: Option<String>,
}

/// Operators only: the view spans every project.
fn admin(caller: &Caller) -> Result<()> {
    if caller.is_admin() { Ok(()) } else { Err(ContrailError::Forbidden) }
}

fn base(req: &HttpRequest, state: &ContrailState) -> String {
    match &state.public_url {
        Some(u) => u.clone(),
        None => {
            let info = req.connection_info();
            format!("{}://{}", info.scheme(), info.host())
        }
    }
}

async fn objects(state: &ContrailState) -> Result<Vec<VncObject>> {
    Ok(state.storage.read(view::load).await?)
}

fn link(rel: &str, href: String, name: &str) -> Value {
    json!({"link": {"rel": rel, "href": href, "name": name}})
}

/// The root document: where each type's collection and resources live,
/// and the action URIs (`name-to-id`, `id-to-name`); what vnc_api reads
/// first.
#[utoipa::path(get, path = "/", tag = "contrail",
    responses((status = 200, description = "The links of every type and action.", body = RootDoc)))]
async fn root(caller: Caller, req: HttpRequest, state: web::Data<ContrailState>) -> Result<HttpResponse> {
    admin(&caller)?;
    let base = base(&req, &state);
    let mut links = Vec::new();
    for (kind, _) in TYPES {
        links.push(link("collection", format!("{base}/{kind}s"), kind));
        links.push(link("resource-base", format!("{base}/{kind}"), kind));
    }
    links.push(link("action", format!("{base}/fqname-to-id"), "name-to-id"));
    links.push(link("action", format!("{base}/id-to-fqname"), "id-to-name"));
    Ok(HttpResponse::Ok().json(json!({"href": base, "links": links})))
}

/// The list options this view honours (contrail-api's names).
#[derive(Default)]
struct ListQuery {
    detail: bool,
    count: bool,
    parent_ids: Option<Vec<String>>,
    parent_fq_name: Option<Vec<String>>,
    uuids: Option<Vec<String>>,
    back_ref_ids: Option<Vec<String>>,
    fq_names: Option<Vec<Vec<String>>>,
}

impl ListQuery {
    fn parse(req: &HttpRequest) -> Result<ListQuery> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(req.query_string())
            .map_err(|e| ContrailError::BadRequest(format!("Invalid query string: {e}")))?;
        let list = |v: &str| -> Vec<String> { v.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect() };
        let mut q = ListQuery::default();
        for (k, v) in &pairs {
            match k.as_str() {
                "detail" => q.detail = v.eq_ignore_ascii_case("true"),
                "count" => q.count = v.eq_ignore_ascii_case("true"),
                "parent_id" => q.parent_ids = Some(list(v)),
                "parent_fq_name_str" => q.parent_fq_name = Some(v.split(':').map(str::to_string).collect()),
                "obj_uuids" => q.uuids = Some(list(v)),
                "back_ref_id" => q.back_ref_ids = Some(list(v)),
                "fq_names" => {
                    q.fq_names = Some(list(v).iter().map(|n| n.split(':').map(str::to_string).collect()).collect())
                }
                _ => {} // fields, shared, exclude_hrefs… do not change what this view returns
            }
        }
        Ok(q)
    }

    fn matches(&self, o: &VncObject) -> bool {
        let parent_ok =
            self.parent_ids.as_ref().is_none_or(|ids| o.parent_uuid.as_ref().is_some_and(|p| ids.contains(p)));
        let parent_fq_ok =
            self.parent_fq_name.as_ref().is_none_or(|p| o.fq_name.len() == p.len() + 1 && o.fq_name.starts_with(p));
        let uuid_ok = self.uuids.as_ref().is_none_or(|ids| ids.contains(&o.uuid));
        let back_ref_ok = self.back_ref_ids.as_ref().is_none_or(|ids| ids.iter().any(|id| o.refers_to(id)));
        let fq_ok = self.fq_names.as_ref().is_none_or(|names| names.contains(&o.fq_name));
        parent_ok && parent_fq_ok && uuid_ok && back_ref_ok && fq_ok
    }
}

/// Lists a type's objects (`/virtual-networks`).
#[utoipa::path(get, path = "/{collection}", tag = "contrail",
    params(("collection" = String, Path, description = "A type's plural: `domains`, `projects`, `network-ipams`, \
        `virtual-networks`, `virtual-machine-interfaces`, `instance-ips`, `global-system-configs`, `fabrics`, \
        `physical-routers`, `physical-interfaces`, `virtual-port-groups`."), ListParams),
    responses((status = 200, description = "The objects (or their count) under the collection's name.", body = CollectionDoc)))]
async fn list(
    caller: Caller,
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<ContrailState>,
) -> Result<HttpResponse> {
    admin(&caller)?;
    let collection = path.into_inner();
    let kind = collection.strip_suffix('s').filter(|k| is_type(k)).ok_or_else(|| not_found(&collection))?;
    let q = ListQuery::parse(&req)?;
    let base = base(&req, &state);
    let found: Vec<VncObject> = objects(&state).await?.into_iter().filter(|o| o.kind == kind && q.matches(o)).collect();
    let items: Value = if q.count {
        json!({"count": found.len()})
    } else if q.detail {
        found.iter().map(|o| json!({ kind: o.full(&base) })).collect()
    } else {
        found.iter().map(|o| o.summary(&base)).collect()
    };
    Ok(HttpResponse::Ok().json(json!({ collection: items })))
}

fn not_found(what: &str) -> ContrailError {
    ContrailError::NotFound(format!("{what} not found"))
}

/// Reads an object (`/virtual-network/<uuid>`).
#[utoipa::path(get, path = "/{kind}/{uuid}", tag = "contrail",
    params(("kind" = String, Path, description = "The type, e.g. `virtual-network`."),
        ("uuid" = String, Path, description = "The object's uuid.")),
    responses((status = 200, description = "The object under its type.", body = ObjectOne)))]
async fn read(
    caller: Caller,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<ContrailState>,
) -> Result<HttpResponse> {
    admin(&caller)?;
    let (kind, uuid) = path.into_inner();
    if !is_type(&kind) {
        return Err(not_found(&kind));
    }
    let base = base(&req, &state);
    let o = objects(&state)
        .await?
        .into_iter()
        .find(|o| o.kind == kind && o.uuid == uuid)
        .ok_or_else(|| ContrailError::NotFound(format!("ID {uuid} does not exist")))?;
    Ok(HttpResponse::Ok().json(json!({ kind: o.full(&base) })))
}

fn body(bytes: &[u8]) -> Result<Value> {
    serde_json::from_slice(bytes).map_err(|e| ContrailError::BadRequest(format!("Invalid JSON body: {e}")))
}

/// The uuid of a type's object by its name (`{"type", "fq_name"}` →
/// `{"uuid"}`).
#[utoipa::path(post, path = "/fqname-to-id", tag = "contrail", request_body = FqNameQuery,
    responses((status = 200, description = "The object's uuid.", body = UuidDoc)))]
async fn fqname_to_id(caller: Caller, bytes: web::Bytes, state: web::Data<ContrailState>) -> Result<HttpResponse> {
    admin(&caller)?;
    let b = body(&bytes)?;
    let kind =
        b["type"].as_str().ok_or_else(|| ContrailError::BadRequest("type is required".into()))?.replace('_', "-");
    let fq_name: Vec<String> = serde_json::from_value(b["fq_name"].clone())
        .map_err(|_| ContrailError::BadRequest("fq_name must be a list of strings".into()))?;
    let o = objects(&state)
        .await?
        .into_iter()
        .find(|o| o.kind == kind && o.fq_name == fq_name)
        .ok_or_else(|| not_found(&format!("Name {} of type {kind}", fq_name.join(":"))))?;
    Ok(HttpResponse::Ok().json(json!({"uuid": o.uuid})))
}

/// The name and type of an object by its uuid (`{"uuid"}` →
/// `{"fq_name", "type"}`).
#[utoipa::path(post, path = "/id-to-fqname", tag = "contrail", request_body = UuidQuery,
    responses((status = 200, description = "The object's name and type.", body = FqNameDoc)))]
async fn id_to_fqname(caller: Caller, bytes: web::Bytes, state: web::Data<ContrailState>) -> Result<HttpResponse> {
    admin(&caller)?;
    let b = body(&bytes)?;
    let uuid = b["uuid"].as_str().ok_or_else(|| ContrailError::BadRequest("uuid is required".into()))?.to_string();
    let o =
        objects(&state).await?.into_iter().find(|o| o.uuid == uuid).ok_or_else(|| not_found(&format!("ID {uuid}")))?;
    Ok(HttpResponse::Ok().json(json!({"fq_name": o.fq_name, "type": o.kind})))
}

/// How far the push to the external contrail-api is behind (not a
/// contrail-api resource: ironbark's own introspection).
#[utoipa::path(get, path = "/contrail-push-status", tag = "contrail",
    responses((status = 200, description = "The push's backlog and last failure.", body = PushStatus)))]
async fn push_status(caller: Caller, state: web::Data<ContrailState>) -> Result<HttpResponse> {
    admin(&caller)?;
    let s = state.storage.read(crate::storage::contrail_outbox::status).await?;
    let last_error = s.last_failure.map(|e| {
        json!({
            "object_type": e.object_type, "object_uuid": e.object_uuid, "op": e.op,
            "attempts": e.attempts, "error": e.last_error,
            "next_attempt_at": e.next_attempt_at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        })
    });
    Ok(HttpResponse::Ok().json(json!({
        "enabled": state.push_enabled, "pending": s.pending, "failing": s.failing, "last_error": last_error,
    })))
}
