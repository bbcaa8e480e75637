//! The root document, collections, resources and the two name actions.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::error::{ContrailError, Result};
use super::{Caller, ContrailState};
use crate::reporters::contrail::object::{TYPES, VncObject, is_type};
use crate::reporters::contrail::view;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(root))
        .route("/fqname-to-id", web::post().to(fqname_to_id))
        .route("/id-to-fqname", web::post().to(id_to_fqname))
        .route("/contrail-push-status", web::get().to(push_status))
        .route("/{collection}", web::get().to(list))
        .route("/{kind}/{uuid}", web::get().to(read));
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

/// What vnc_api reads first: where each type's collection and resources
/// live, and the action URIs (`name-to-id`, `id-to-name`).
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

/// `{"type", "fq_name"}` → `{"uuid"}`.
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

/// `{"uuid"}` → `{"fq_name", "type"}`.
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
