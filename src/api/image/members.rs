//! Sharing: the owner adds projects as members of a `shared` image; each
//! member accepts or rejects it (accepted images appear in its list).

use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

use super::error::{ImageError, Result};
use super::openapi::{MemberCreate, MemberDoc, MemberList, MemberUpdate};
use super::{Caller, ImageState, MEMBER_LIMIT, can_modify, now, parse_body, project, ts, visible_image};
use crate::common::openapi::Routes;
use crate::storage::images::{self as db, Member};

pub fn routes(r: &mut Routes) {
    crate::routes!(r; list, create, show, update, delete);
}

fn view(m: &Member) -> Value {
    json!({
        "image_id": m.image_uuid,
        "member_id": m.member,
        "status": m.status,
        "created_at": ts(m.created_at),
        "updated_at": ts(m.updated_at),
        "schema": "/v2/schemas/member",
    })
}

fn only_shared(visibility: &str) -> Result<()> {
    if visibility == "shared" {
        Ok(())
    } else {
        Err(ImageError::forbidden(format!("Only shared images have members (this one is {visibility}).")))
    }
}

/// Shares a `shared` image with a project (its owner only).
#[utoipa::path(post, path = "/v2/images/{image_id}/members", tag = "members", params(("image_id" = uuid::Uuid, Path, description = "The image.")),
    request_body = MemberCreate, responses((status = 200, description = "The new member, pending.", body = MemberDoc)))]
async fn create(
    caller: Caller,
    state: web::Data<ImageState>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse> {
    let body = parse_body(&body)?;
    let member = match body.get("member") {
        Some(Value::String(m)) if !m.is_empty() && m.len() <= 255 => m.clone(),
        Some(_) => return Err(ImageError::bad("'member' must be a project id (a non-empty string)")),
        None => return Err(ImageError::bad("Member to be added not specified")),
    };
    let img = visible_image(&state, &caller, &id).await?;
    if !can_modify(&caller, &img.image) {
        return Err(ImageError::forbidden("You are not authorized to complete add_member action."));
    }
    only_shared(&img.image.visibility)?;
    let t = now();
    let row = Member {
        image_uuid: img.image.uuid.clone(),
        member: member.clone(),
        status: "pending".into(),
        created_at: t,
        updated_at: t,
    };
    let saved = row.clone();
    let outcome = state
        .storage
        .write(move |c| {
            if db::member(c, &row.image_uuid, &row.member).is_ok() {
                return Ok(Err(ImageError::Conflict(format!(
                    "Member {} already exists for image {}",
                    row.member, row.image_uuid
                ))));
            }
            if db::member_count(c, &row.image_uuid)? >= MEMBER_LIMIT {
                return Ok(Err(ImageError::TooLarge(format!(
                    "Maximum number of image members exceeded: {MEMBER_LIMIT}"
                ))));
            }
            db::member_insert(c, &row)?;
            Ok(Ok(()))
        })
        .await?;
    outcome?;
    Ok(HttpResponse::Ok().json(view(&saved)))
}

/// Lists the members of a `shared` image (a member sees itself only).
#[utoipa::path(get, path = "/v2/images/{image_id}/members", tag = "members", params(("image_id" = uuid::Uuid, Path, description = "The image.")),
    responses((status = 200, description = "The members.", body = MemberList)))]
async fn list(caller: Caller, state: web::Data<ImageState>, id: web::Path<String>) -> Result<HttpResponse> {
    let img = visible_image(&state, &caller, &id).await?;
    only_shared(&img.image.visibility)?;
    let uuid = img.image.uuid.clone();
    let mut members = state.storage.read(move |c| db::members(c, &uuid)).await?;
    // A member project sees its own membership only.
    if !caller.is_admin() && img.image.owner.as_deref() != project(&caller) {
        members.retain(|m| Some(m.member.as_str()) == project(&caller));
    }
    Ok(HttpResponse::Ok().json(json!({
        "members": members.iter().map(view).collect::<Vec<_>>(),
        "schema": "/v2/schemas/members",
    })))
}

/// Shows a member of an image.
#[utoipa::path(get, path = "/v2/images/{image_id}/members/{member_id}", tag = "members", params(("image_id" = uuid::Uuid, Path, description = "The image."), ("member_id" = String, Path, description = "The member project.")),
    responses((status = 200, description = "The member.", body = MemberDoc)))]
async fn show(caller: Caller, state: web::Data<ImageState>, path: web::Path<(String, String)>) -> Result<HttpResponse> {
    let (id, member) = path.into_inner();
    let img = visible_image(&state, &caller, &id).await?;
    only_shared(&img.image.visibility)?;
    let is_owner = caller.is_admin() || img.image.owner.as_deref() == project(&caller);
    if !is_owner && project(&caller) != Some(member.as_str()) {
        return Err(ImageError::NotFound(format!("Member {member} not found")));
    }
    let (uuid, m) = (img.image.uuid.clone(), member.clone());
    let row = state
        .storage
        .read(move |c| db::member(c, &uuid, &m))
        .await
        .map_err(|_| ImageError::NotFound(format!("Member {member} not found")))?;
    Ok(HttpResponse::Ok().json(view(&row)))
}

/// Accepts or rejects a shared image (the member project only).
#[utoipa::path(put, path = "/v2/images/{image_id}/members/{member_id}", tag = "members", params(("image_id" = uuid::Uuid, Path, description = "The image."), ("member_id" = String, Path, description = "The member project.")),
    request_body = MemberUpdate, responses((status = 200, description = "The member with its new status.", body = MemberDoc)))]
async fn update(
    caller: Caller,
    state: web::Data<ImageState>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse> {
    let (id, member) = path.into_inner();
    let body = parse_body(&body)?;
    let status = match body.get("status").and_then(Value::as_str) {
        Some(s @ ("pending" | "accepted" | "rejected")) => s.to_string(),
        Some(other) => return Err(ImageError::bad(format!("Invalid status: {other}"))),
        None => return Err(ImageError::bad("Status not specified")),
    };
    let img = visible_image(&state, &caller, &id).await?;
    only_shared(&img.image.visibility)?;
    // Only the member project decides; not even the owner can accept for it.
    if project(&caller) != Some(member.as_str()) && !caller.is_admin() {
        return Err(ImageError::forbidden("You are not permitted to modify 'status' on this image member."));
    }
    let (uuid, m, t) = (img.image.uuid.clone(), member.clone(), now());
    let row = state
        .storage
        .write(move |c| {
            db::member_set_status(c, &uuid, &m, &status, t)?;
            db::member(c, &uuid, &m)
        })
        .await
        .map_err(|e| match e {
            crate::storage::StorageError::NotFound { .. } => ImageError::NotFound(format!("Member {member} not found")),
            other => other.into(),
        })?;
    Ok(HttpResponse::Ok().json(view(&row)))
}

/// Stops sharing an image with a project (its owner only).
#[utoipa::path(delete, path = "/v2/images/{image_id}/members/{member_id}", tag = "members", params(("image_id" = uuid::Uuid, Path, description = "The image."), ("member_id" = String, Path, description = "The member project.")),
    responses((status = 204, description = "The member is gone.")))]
async fn delete(
    caller: Caller,
    state: web::Data<ImageState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse> {
    let (id, member) = path.into_inner();
    let img = visible_image(&state, &caller, &id).await?;
    only_shared(&img.image.visibility)?;
    if !can_modify(&caller, &img.image) {
        return Err(ImageError::forbidden("You are not authorized to complete delete_member action."));
    }
    let (uuid, m) = (img.image.uuid.clone(), member.clone());
    state
        .storage
        .write(move |c| db::member_delete(c, &uuid, &m))
        .await
        .map_err(|_| ImageError::NotFound(format!("Member {member} not found")))?;
    Ok(HttpResponse::NoContent().finish())
}
