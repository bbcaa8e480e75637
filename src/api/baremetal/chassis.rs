//! Chassis: `/v1/chassis` (the `/v1/chassis/{uuid}/nodes` listing lives
//! with the nodes).

use actix_web::{HttpResponse, web};
use serde_json::{Map, Value, json};

use super::error::{BaremetalError, Result};
use super::openapi::{DetailQuery, FieldsQuery, JsonPatch, Link, PageQuery};
use super::ports::{
    SYSTEM_MEMBER, carried, check_uuid, collection, links, now, only_keys, opt_object, opt_string, optional,
    parse_detail, patch_roots, require_system, schema, strip_json_suffix,
};
use super::{
    Api, BaremetalState, Paging, Query, apply_patch, body_object, json_text, only_params, parse_fields, select_fields,
    ts, ts_opt,
};
use crate::common::openapi::Routes;
use crate::common::policy::Rule;
use crate::storage::baremetal::{self as bm, Chassis};

const FIELD_NAMES: [&str; 7] = ["uuid", "created_at", "updated_at", "description", "extra", "links", "nodes"];

const SORTABLE: &[(&str, &str)] = &[
    ("id", "id"),
    ("uuid", "uuid"),
    ("description", "COALESCE(description, '')"),
    ("created_at", "created_at"),
    ("updated_at", "COALESCE(updated_at, created_at)"),
];
const NOT_SORTABLE: &[&str] = &["extra"];

/// Only `uuid` (unchanged), `extra` and `description` may be patched.
const PATCH_ALLOWED: &[&str] = &["uuid", "extra", "description"];

/// A chassis as Ironic renders it, including its quirk: `nodes` is a list
/// holding the link list.
fn chassis_json(base: &str, ch: &Chassis) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("uuid".into(), json!(ch.uuid));
    m.insert("created_at".into(), ts(&ch.created_at));
    m.insert("updated_at".into(), ts_opt(&ch.updated_at));
    m.insert("description".into(), json!(ch.description));
    m.insert("extra".into(), json_text(&ch.extra));
    m.insert("links".into(), links(base, "chassis", &ch.uuid));
    m.insert("nodes".into(), json!([links(base, "chassis", &format!("{}/nodes", ch.uuid))]));
    m
}

/// A chassis: a group of nodes.
#[derive(utoipa::ToSchema)]
#[schema(as = Chassis)]
#[allow(dead_code)]
pub struct ChassisDoc {
    uuid: uuid::Uuid,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: Option<String>,
    description: Option<String>,
    #[schema(value_type = Object)]
    extra: Value,
    links: Vec<Link>,
    /// The links of the chassis's node list, nested in a list.
    nodes: Vec<Vec<Link>>,
}

/// A page of chassis; `next` is the next page's URL when this one is full.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ChassisList {
    chassis: Vec<ChassisDoc>,
    #[serde(default)]
    next: String,
}

/// The fields a chassis is created with.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ChassisCreate {
    uuid: Option<uuid::Uuid>,
    #[schema(max_length = 255)]
    description: Option<String>,
    #[schema(value_type = Option<Object>)]
    extra: Option<Value>,
}

fn not_found(uuid: &str) -> BaremetalError {
    BaremetalError::NotFound(format!("Chassis {uuid} could not be found."))
}

async fn list(api: Api, state: web::Data<BaremetalState>, q: Query, detail_route: bool) -> Result<HttpResponse> {
    let q = q.into_inner();
    let mut allowed = vec!["marker", "limit", "sort_key", "sort_dir"];
    if !detail_route {
        allowed.extend(["fields", "detail"]);
    }
    only_params(&q, &allowed)?;
    if let Some(m) = q.get("marker") {
        check_uuid("marker", m)?;
    }
    require_system(&api, Rule::SYSTEM_READER, "baremetal:chassis:get")?;
    let fields = parse_fields(&q, &FIELD_NAMES, &api, |_| 1)?;
    let detail = parse_detail(&q, &api, 43)?;
    let (paging, page) = Paging::parse(&q, state.max_limit, SORTABLE, NOT_SORTABLE)?;
    let rows = state.storage().read(move |c| bm::chassis_list(c, &page)).await?;
    let select = match (&fields, detail_route || detail == Some(true)) {
        (Some(f), _) => Some(f.clone()),
        (None, true) => None,
        (None, false) => Some(vec!["uuid".to_string(), "description".to_string()]),
    };
    let last = rows.last().map(|c| c.uuid.clone());
    let items = rows
        .iter()
        .map(|ch| {
            let m = chassis_json(&state.base, ch);
            match &select {
                Some(f) => select_fields(m, f),
                None => Value::Object(m),
            }
        })
        .collect();
    let path = if detail_route { "chassis/detail" } else { "chassis" };
    let extras = carried(&q, detail, &fields, &[]);
    Ok(HttpResponse::Ok().json(collection(&state.base, "chassis", path, &paging, items, last, &extras)))
}

/// Lists chassis.
#[utoipa::path(get, path = "/v1/chassis", tag = "chassis", params(PageQuery, FieldsQuery, DetailQuery),
    responses((status = 200, description = "A page of chassis (uuid and description unless `detail` or `fields`).", body = ChassisList)))]
async fn list_all(api: Api, state: web::Data<BaremetalState>, q: Query) -> Result<HttpResponse> {
    list(api, state, q, false).await
}

/// Lists chassis with every field.
#[utoipa::path(get, path = "/v1/chassis/detail", tag = "chassis", params(PageQuery),
    responses((status = 200, description = "A page of chassis with every field.", body = ChassisList)))]
async fn list_detail(api: Api, state: web::Data<BaremetalState>, q: Query) -> Result<HttpResponse> {
    list(api, state, q, true).await
}

/// Shows a chassis.
#[utoipa::path(get, path = "/v1/chassis/{uuid}", tag = "chassis", params(("uuid" = uuid::Uuid, Path), FieldsQuery),
    responses((status = 200, description = "The chassis.", body = ChassisDoc)))]
async fn show(api: Api, state: web::Data<BaremetalState>, path: web::Path<String>, q: Query) -> Result<HttpResponse> {
    let q = q.into_inner();
    only_params(&q, &["fields"])?;
    let uuid = strip_json_suffix(&api, &path.into_inner());
    check_uuid("chassis_uuid", &uuid)?;
    require_system(&api, Rule::SYSTEM_READER, "baremetal:chassis:get")?;
    let fields = parse_fields(&q, &FIELD_NAMES, &api, |_| 1)?;
    let u = uuid.clone();
    let ch = state.storage().read(move |c| optional(bm::chassis_get(c, &u))).await?.ok_or_else(|| not_found(&uuid))?;
    let m = chassis_json(&state.base, &ch);
    Ok(HttpResponse::Ok().json(match &fields {
        Some(f) => select_fields(m, f),
        None => Value::Object(m),
    }))
}

/// Creates a chassis.
#[utoipa::path(post, path = "/v1/chassis", tag = "chassis", request_body = ChassisCreate,
    responses((status = 201, description = "The new chassis.", body = ChassisDoc)))]
async fn create(api: Api, state: web::Data<BaremetalState>, body: web::Bytes) -> Result<HttpResponse> {
    const WHAT: &str = "chassis";
    require_system(&api, Rule::SYSTEM_ADMIN, "baremetal:chassis:create")?;
    let b = body_object(&body, WHAT)?;
    only_keys(&b, &["uuid", "extra", "description"], WHAT)?;
    let uuid = opt_string(&b, "uuid", None, WHAT)?;
    if let Some(u) = &uuid {
        check_uuid("uuid", u)?;
    }
    let ch = Chassis {
        uuid: uuid.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        description: opt_string(&b, "description", Some(255), WHAT)?,
        extra: opt_object(&b, "extra", WHAT)?,
        created_at: now(),
        updated_at: None,
    };
    let row = ch.clone();
    state
        .storage()
        .write(move |c| {
            if optional(bm::chassis_get(c, &row.uuid))?.is_some() {
                return Ok(Err(BaremetalError::Conflict(format!("A chassis with UUID {} already exists.", row.uuid))));
            }
            bm::chassis_insert(c, &row)?;
            Ok(Ok(()))
        })
        .await??;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("{}/v1/chassis/{}", state.base, ch.uuid)))
        .json(chassis_json(&state.base, &ch)))
}

/// Updates a chassis with a JSON patch (`description`, `extra`).
#[utoipa::path(patch, path = "/v1/chassis/{uuid}", tag = "chassis", params(("uuid" = uuid::Uuid, Path)),
    request_body = JsonPatch, responses((status = 200, description = "The updated chassis.", body = ChassisDoc)))]
async fn update(
    api: Api,
    state: web::Data<BaremetalState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse> {
    const WHAT: &str = "chassis";
    let uuid = strip_json_suffix(&api, &path.into_inner());
    check_uuid("chassis_uuid", &uuid)?;
    require_system(&api, SYSTEM_MEMBER, "baremetal:chassis:update")?;
    patch_roots(&body, PATCH_ALLOWED)?;
    let ch = state
        .storage()
        .write(move |c| {
            let Some(old) = optional(bm::chassis_get(c, &uuid))? else { return Ok(Err(not_found(&uuid))) };
            let mut doc = json!({"uuid": old.uuid, "description": old.description, "extra": json_text(&old.extra)});
            if let Err(e) = apply_patch(&mut doc, &body, PATCH_ALLOWED, "chassis") {
                return Ok(Err(e));
            }
            let Value::Object(d) = &doc else { return Ok(Err(schema(WHAT, "the chassis is not an object"))) };
            let read = || -> Result<Chassis> {
                match d.get("uuid") {
                    Some(Value::String(u)) if *u == old.uuid => {}
                    Some(Value::String(u)) => {
                        check_uuid("uuid", u)?;
                        return Err(BaremetalError::BadRequest(
                            "Cannot overwrite UUID for an existing Chassis.".into(),
                        ));
                    }
                    other => {
                        return Err(schema(WHAT, format!("{} is not of type 'string'", other.unwrap_or(&Value::Null))));
                    }
                }
                Ok(Chassis {
                    uuid: old.uuid.clone(),
                    description: opt_string(d, "description", Some(255), WHAT)?,
                    extra: opt_object(d, "extra", WHAT)?,
                    created_at: old.created_at,
                    updated_at: old.updated_at,
                })
            };
            let mut ch = match read() {
                Ok(ch) => ch,
                Err(e) => return Ok(Err(e)),
            };
            if ch != old {
                ch.updated_at = Some(now());
                bm::chassis_update(c, &ch)?;
            }
            Ok(Ok(ch))
        })
        .await??;
    Ok(HttpResponse::Ok().json(chassis_json(&state.base, &ch)))
}

/// Deletes a chassis that holds no nodes.
#[utoipa::path(delete, path = "/v1/chassis/{uuid}", tag = "chassis", params(("uuid" = uuid::Uuid, Path)),
    responses((status = 204, description = "Deleted.")))]
async fn delete(api: Api, state: web::Data<BaremetalState>, path: web::Path<String>) -> Result<HttpResponse> {
    let uuid = strip_json_suffix(&api, &path.into_inner());
    check_uuid("chassis_uuid", &uuid)?;
    require_system(&api, Rule::SYSTEM_ADMIN, "baremetal:chassis:delete")?;
    state
        .storage()
        .write(move |c| {
            if optional(bm::chassis_get(c, &uuid))?.is_none() {
                return Ok(Err(not_found(&uuid)));
            }
            if bm::chassis_node_count(c, &uuid)? > 0 {
                return Ok(Err(BaremetalError::BadRequest(format!(
                    "Cannot complete the requested action because chassis {uuid} contains nodes."
                ))));
            }
            bm::chassis_delete(c, &uuid)?;
            Ok(Ok(()))
        })
        .await??;
    Ok(HttpResponse::NoContent().finish())
}

pub fn routes(r: &mut Routes) {
    crate::routes!(r; list_all | "/v1/chassis/", create | "/v1/chassis/", list_detail, show, update, delete);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_link_is_doubly_nested() {
        let ch = Chassis {
            uuid: "c1".into(),
            description: Some("rack".into()),
            extra: r#"{"a":1}"#.into(),
            created_at: chrono::NaiveDateTime::default(),
            updated_at: None,
        };
        let m = chassis_json("http://h", &ch);
        assert_eq!(m["nodes"][0][0]["href"], "http://h/v1/chassis/c1/nodes");
        assert_eq!(m["nodes"][0][1]["href"], "http://h/chassis/c1/nodes");
        assert_eq!(m["extra"]["a"], 1);
        assert_eq!(m.len(), FIELD_NAMES.len());
    }
}
