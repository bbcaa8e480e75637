//! Image records: create, list, show, update (JSON patch), delete,
//! deactivate/reactivate, and tags.

use actix_web::http::header::{CONTENT_TYPE, LOCATION};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};

use super::error::{ImageError, Result};
use super::info::IMPORT_METHODS;
use super::openapi::{ImageCreate, ImageDoc, ImageList, ImagePatch, ImagePatchDraft4};
use super::{
    CONTAINER_FORMATS, Caller, DISK_FORMATS, ImageState, PROPERTY_LIMIT, Status, TAG_LIMIT, VISIBILITIES, can_create,
    can_modify, now, parse_body, project, query_pairs, view, visible_image,
};
use crate::common::auth::AuthContext;
use crate::common::openapi::Routes;
use crate::storage::image_store::Area;
use crate::storage::images::{self as db, Cmp, FullImage, Image, ImageFilter, SortKey, Viewer};

/// Shown by Glance but never set by a client.
const READ_ONLY: &[&str] = &[
    "created_at",
    "updated_at",
    "status",
    "checksum",
    "size",
    "virtual_size",
    "direct_url",
    "self",
    "file",
    "schema",
    "id",
    "os_hash_algo",
    "os_hash_value",
    "stores",
    "locations",
];
/// Refused on create even where the schema would allow them.
const NOT_ON_CREATE: &[&str] = &["direct_url", "self", "file", "schema", "stores", "locations"];
const RESERVED: &[&str] = &["location", "deleted", "deleted_at"];
const RESERVED_PREFIX: &str = "os_glance";
/// The attributes every image has; they can be replaced but not removed.
const BASE: &[&str] = &[
    "checksum",
    "created_at",
    "container_format",
    "disk_format",
    "id",
    "min_disk",
    "min_ram",
    "name",
    "size",
    "virtual_size",
    "status",
    "tags",
    "owner",
    "updated_at",
    "visibility",
    "protected",
    "os_hidden",
];
const SORT_KEYS: &[&str] =
    &["name", "status", "container_format", "disk_format", "size", "id", "created_at", "updated_at"];
const PATCH_TYPES: &str = "application/openstack-images-v2.0-json-patch, application/openstack-images-v2.1-json-patch";

pub fn routes(r: &mut Routes) {
    crate::routes!(r; list, create, show, update, delete, deactivate, reactivate, tag_add, tag_remove);
}

/// The filters, sorting and paging of an image list. Any other key filters
/// on the custom property of that name.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct ListQuery {
    /// The page size (25 by default, at most 1000).
    #[param(minimum = 0)]
    limit: Option<i64>,
    /// The last image of the previous page.
    marker: Option<uuid::Uuid>,
    /// A name, or `in:a,b` for any of several.
    name: Option<String>,
    /// An id, or `in:a,b`.
    id: Option<String>,
    /// The owning project.
    owner: Option<String>,
    /// A status, or `in:a,b`.
    status: Option<String>,
    #[param(inline)]
    visibility: Option<VisibilityFilter>,
    /// The caller's membership status of shared images listed.
    #[param(inline)]
    member_status: Option<MemberStatusFilter>,
    /// Images with every one of these tags.
    tag: Option<Vec<String>>,
    /// A disk format, or `in:a,b`.
    disk_format: Option<String>,
    /// A container format, or `in:a,b`.
    container_format: Option<String>,
    protected: Option<bool>,
    /// Hidden images are left out unless `true`.
    os_hidden: Option<bool>,
    /// Bytes of data, at least.
    size_min: Option<i64>,
    /// Bytes of data, at most.
    size_max: Option<i64>,
    /// `[gt|gte|lt|lte|eq|neq:]<ISO 8601 time>`.
    created_at: Option<String>,
    /// `[gt|gte|lt|lte|eq|neq:]<ISO 8601 time>`.
    updated_at: Option<String>,
    /// Sort keys, each sorted by the `sort_dir` of the same rank (`created_at` by default).
    #[param(inline)]
    sort_key: Option<Vec<SortKeyName>>,
    /// One direction for every key, or one per key (`desc` by default).
    #[param(inline)]
    sort_dir: Option<Vec<SortDir>>,
    /// `key[:asc|desc],…`: the newer syntax, instead of `sort_key` and `sort_dir`.
    sort: Option<String>,
}

#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
enum VisibilityFilter {
    Public,
    Private,
    Shared,
    Community,
    All,
}

#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
enum MemberStatusFilter {
    Pending,
    Accepted,
    Rejected,
    All,
}

#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
enum SortKeyName {
    Name,
    Status,
    ContainerFormat,
    DiskFormat,
    Size,
    Id,
    CreatedAt,
    UpdatedAt,
}

#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
enum SortDir {
    Asc,
    Desc,
}

fn reserved(key: &str) -> bool {
    RESERVED.contains(&key) || key.starts_with(RESERVED_PREFIX)
}

fn read_only(key: &str) -> ImageError {
    ImageError::forbidden(format!("Attribute '{key}' is read-only."))
}

fn invalid(key: &str, why: &str) -> ImageError {
    ImageError::bad(format!("Provided object does not match schema 'image': {why} (property '{key}')"))
}

/// The attributes a client may set, as one flat JSON object: the editable
/// core attributes (always present, `null` when unset) and the custom
/// properties. Create validates a body in this shape; update applies a
/// JSON patch to it and validates the result.
fn editable(f: &FullImage) -> Map<String, Value> {
    let i = &f.image;
    let mut m: Map<String, Value> = f.properties.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
    let core = json!({
        "name": i.name, "visibility": i.visibility, "owner": i.owner,
        "disk_format": i.disk_format, "container_format": i.container_format,
        "min_ram": i.min_ram, "min_disk": i.min_disk, "protected": i.protected,
        "os_hidden": i.os_hidden, "tags": f.tags,
    });
    if let Value::Object(core) = core {
        m.extend(core);
    }
    m
}

fn opt_string(key: &str, v: &Value, max: usize) -> Result<Option<String>> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.chars().count() <= max => Ok(Some(s.clone())),
        Value::String(_) => Err(invalid(key, &format!("longer than {max} characters"))),
        _ => Err(invalid(key, &format!("{v} is not of type 'null', 'string'"))),
    }
}

fn one_of(key: &str, v: &Value, allowed: &[&str]) -> Result<Option<String>> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if allowed.contains(&s.as_str()) => Ok(Some(s.clone())),
        _ => Err(invalid(key, &format!("{v} is not one of {allowed:?}"))),
    }
}

fn boolean(key: &str, v: &Value) -> Result<bool> {
    v.as_bool().ok_or_else(|| invalid(key, &format!("{v} is not of type 'boolean'")))
}

/// A non-negative `integer` of JSON Schema, which counts an integral number
/// written with a fraction (`512.0`) as one, as Glance's validator does.
fn non_negative(key: &str, v: &Value) -> Result<i32> {
    let not_integer = || invalid(key, &format!("{v} is not of type 'integer'"));
    let n = match (v.as_i64(), v.as_f64()) {
        (Some(n), _) => n,
        (None, Some(f)) if f.is_finite() && f.fract() == 0.0 => f as i64,
        _ => return Err(not_integer()),
    };
    if n < 0 {
        return Err(ImageError::bad(format!("Cannot set {key} to a negative value.")));
    }
    i32::try_from(n).map_err(|_| invalid(key, &format!("{n} is too large")))
}

/// Validates an editable document and writes it into `img`. `before` is
/// the stored image on update (`None` on create): rules about changing a
/// value only apply to values that change.
fn apply(ctx: &AuthContext, doc: &Map<String, Value>, img: &mut FullImage, before: Option<&FullImage>) -> Result<()> {
    let mut properties = Vec::new();
    let mut tags: Option<Vec<String>> = None;
    for (key, v) in doc {
        let i = &mut img.image;
        match key.as_str() {
            "name" => i.name = opt_string(key, v, 255)?,
            "visibility" => {
                i.visibility = match v.as_str() {
                    Some(s) if VISIBILITIES.contains(&s) => s.to_string(),
                    _ => return Err(invalid(key, &format!("{v} is not one of {VISIBILITIES:?}"))),
                }
            }
            "owner" => i.owner = opt_string(key, v, 255)?,
            "disk_format" => i.disk_format = one_of(key, v, DISK_FORMATS)?,
            "container_format" => i.container_format = one_of(key, v, CONTAINER_FORMATS)?,
            "min_ram" => i.min_ram = non_negative(key, v)?,
            "min_disk" => i.min_disk = non_negative(key, v)?,
            "protected" => i.protected = boolean(key, v)?,
            "os_hidden" => i.os_hidden = boolean(key, v)?,
            "tags" => {
                let list = v.as_array().ok_or_else(|| invalid(key, &format!("{v} is not of type 'array'")))?;
                let mut out: Vec<String> = Vec::with_capacity(list.len());
                for t in list {
                    match t.as_str() {
                        Some(s) if s.chars().count() <= 255 => {
                            if !out.iter().any(|o| o == s) {
                                out.push(s.to_string())
                            }
                        }
                        _ => return Err(invalid(key, &format!("{t} is not a string of at most 255 characters"))),
                    }
                }
                if out.len() > TAG_LIMIT {
                    return Err(ImageError::TooLarge(format!(
                        "Maximum number of tags exceeded: {} of {TAG_LIMIT}",
                        out.len()
                    )));
                }
                tags = Some(out);
            }
            "id" if before.is_none() => {
                let s = v.as_str().filter(|s| uuid::Uuid::try_parse(s).is_ok() && s.len() == 36);
                i.uuid = s.ok_or_else(|| invalid(key, &format!("{v} does not match the UUID pattern")))?.to_lowercase();
            }
            k if READ_ONLY.contains(&k) => return Err(read_only(k)),
            k if reserved(k) => return Err(ImageError::forbidden(format!("Attribute '{k}' is reserved."))),
            k => {
                if k.chars().count() > 255 {
                    return Err(ImageError::bad("Custom property should not be greater than 255 characters."));
                }
                let s = v.as_str().ok_or_else(|| invalid(k, &format!("{v} is not of type 'string'")))?;
                properties.push((k.to_string(), s.to_string()));
            }
        }
    }
    if properties.len() > PROPERTY_LIMIT {
        return Err(ImageError::TooLarge(format!(
            "Maximum number of image properties exceeded: {} of {PROPERTY_LIMIT}",
            properties.len()
        )));
    }
    properties.sort();
    img.properties = properties;
    if let Some(t) = tags {
        img.tags = t;
    }
    let i = &img.image;
    let old = before.map(|b| &b.image);
    if i.visibility == "public" && old.is_none_or(|o| o.visibility != "public") && !ctx.is_admin() {
        return Err(ImageError::forbidden("You are not authorized to complete publicize_image action."));
    }
    if let Some(o) = old {
        if i.owner != o.owner && !ctx.is_admin() {
            return Err(ImageError::forbidden("Owner can't be updated by non admin."));
        }
        for (name, new, was) in [
            ("container_format", &i.container_format, &o.container_format),
            ("disk_format", &i.disk_format, &o.disk_format),
        ] {
            if new != was && o.status != Status::Queued.as_str() {
                return Err(ImageError::forbidden(format!(
                    "Attribute {name} can be only replaced for a queued image."
                )));
            }
        }
    } else if i.owner.as_deref() != project(ctx) && !ctx.is_admin() {
        return Err(ImageError::forbidden(format!(
            "You are not permitted to create images owned by '{}'.",
            i.owner.as_deref().unwrap_or("")
        )));
    }
    Ok(())
}

/// Creates an image record, `queued` until data arrives.
#[utoipa::path(post, path = "/v2/images", tag = "images", request_body = ImageCreate,
    responses((status = 201, description = "The new image.", body = ImageDoc, headers(
        ("Location" = String, description = "The image's URL."),
        ("OpenStack-image-import-methods" = String, description = "The import methods on offer, comma-separated."),
        ("OpenStack-image-store-ids" = String, description = "The stores data may go to, comma-separated.")))))]
async fn create(caller: Caller, state: web::Data<ImageState>, body: web::Bytes) -> Result<HttpResponse> {
    let body = parse_body(&body)?;
    let Value::Object(doc) = body else {
        return Err(ImageError::bad("Provided object does not match schema 'image': the body must be an object"));
    };
    for key in NOT_ON_CREATE {
        if doc.contains_key(*key) {
            return Err(read_only(key));
        }
    }
    if !can_create(&caller) {
        return Err(ImageError::forbidden("You are not authorized to complete add_image action."));
    }
    let t = now();
    let mut img = FullImage {
        image: Image {
            uuid: uuid::Uuid::new_v4().to_string(),
            name: None,
            status: Status::Queued.as_str().into(),
            visibility: "shared".into(),
            owner: project(&caller).map(str::to_string),
            disk_format: None,
            container_format: None,
            size: None,
            virtual_size: None,
            checksum: None,
            os_hash_algo: None,
            os_hash_value: None,
            min_ram: 0,
            min_disk: 0,
            protected: false,
            os_hidden: false,
            store: None,
            row_version: 0,
            created_at: t,
            updated_at: t,
        },
        properties: Vec::new(),
        tags: Vec::new(),
    };
    apply(&caller, &doc, &mut img, None)?;
    let row = img.clone();
    state.storage.write(move |c| db::image_insert(c, &row)).await?;
    let location = format!("{}/v2/images/{}", state.base, img.image.uuid);
    Ok(HttpResponse::Created()
        .insert_header((LOCATION, location))
        .insert_header(("OpenStack-image-import-methods", IMPORT_METHODS.join(",")))
        .insert_header(("OpenStack-image-store-ids", state.store.id()))
        .json(view(&img)))
}

/// Shows an image.
#[utoipa::path(get, path = "/v2/images/{image_id}", tag = "images", params(("image_id" = uuid::Uuid, Path, description = "The image.")),
    responses((status = 200, description = "The image.", body = ImageDoc)))]
async fn show(caller: Caller, state: web::Data<ImageState>, id: web::Path<String>) -> Result<HttpResponse> {
    let img = visible_image(&state, &caller, &id).await?;
    Ok(HttpResponse::Ok().json(view(&img)))
}

/// One change of a PATCH, in Glance's restricted form: a single-segment path.
struct Change {
    op: &'static str,
    key: String,
    value: Option<Value>,
}

fn decode_pointer(pointer: &str) -> Result<Vec<String>> {
    let bad = |why: &str| ImageError::bad(format!("Pointer `{pointer}` {why}"));
    if !pointer.starts_with('/') {
        return Err(bad("does not start with \"/\"."));
    }
    if pointer.len() > 1 && pointer.ends_with('/') {
        return Err(bad("end with \"/\"."));
    }
    if pointer[1..].split('/').any(|p| p.trim().is_empty()) && pointer.len() > 1 {
        return Err(bad("contains adjacent \"/\"."));
    }
    let mut rest = pointer;
    while let Some(i) = rest.find('~') {
        if !matches!(rest.as_bytes().get(i + 1), Some(b'0' | b'1')) {
            return Err(bad("contains \"~\" not part of a recognized escape sequence."));
        }
        rest = &rest[i + 2..];
    }
    Ok(pointer[1..].split('/').map(|p| p.replace("~1", "/").replace("~0", "~").trim().to_string()).collect())
}

/// Reads a PATCH body in either of Glance's media types: v2.1
/// (`{"op": "replace", "path": "/name", "value": …}`) or v2.0 (the draft-4
/// form `{"replace": "/name", "value": …}`).
fn parse_changes(body: &Value, draft4: bool) -> Result<Vec<Change>> {
    let list =
        body.as_array().ok_or_else(|| ImageError::bad("Request body must be a JSON array of operation objects."))?;
    let mut out = Vec::with_capacity(list.len());
    for raw in list {
        let raw = raw.as_object().ok_or_else(|| ImageError::bad("Operations must be JSON objects."))?;
        let (op, path) = if draft4 {
            let ops: Vec<&str> = ["add", "remove", "replace"].into_iter().filter(|k| raw.contains_key(*k)).collect();
            match ops.as_slice() {
                [op] => (*op, raw[*op].clone()),
                [] => {
                    return Err(ImageError::bad(
                        "Operation objects must contain exactly one member named \"add\", \"remove\", or \"replace\".",
                    ));
                }
                _ => {
                    return Err(ImageError::bad(
                        "Operation objects must contain only one member named \"add\", \"remove\", or \"replace\".",
                    ));
                }
            }
        } else {
            let op = match raw.get("op").and_then(Value::as_str) {
                Some("add") => "add",
                Some("remove") => "remove",
                Some("replace") => "replace",
                Some(other) => {
                    return Err(ImageError::bad(format!(
                        "Invalid operation: `{other}`. It must be one of the following: add, remove, replace."
                    )));
                }
                None => {
                    return Err(ImageError::bad(
                        "Unable to find `op` in JSON Schema change. It must be one of the following: add, remove, replace.",
                    ));
                }
            };
            let path = raw
                .get("path")
                .cloned()
                .ok_or_else(|| ImageError::bad("Unable to find 'path' in JSON Schema change"))?;
            (op, path)
        };
        let path = path.as_str().ok_or_else(|| ImageError::bad("The change path must be a string."))?;
        let parts = decode_pointer(path)?;
        if parts.len() != 1 || parts[0] == "locations" {
            if parts.first().is_some_and(|p| p == "locations") {
                return Err(ImageError::forbidden("It's not allowed to update locations of images here."));
            }
            return Err(ImageError::bad(format!("Invalid JSON pointer for this resource: '/{}'", parts.join("/"))));
        }
        let key = parts.into_iter().next().unwrap_or_default();
        let value = if op == "remove" {
            None
        } else {
            Some(
                raw.get("value")
                    .cloned()
                    .ok_or_else(|| ImageError::bad(format!("Operation \"{op}\" requires a member named \"value\".")))?,
            )
        };
        if READ_ONLY.contains(&key.as_str()) {
            return Err(read_only(&key));
        }
        if reserved(&key) {
            return Err(ImageError::forbidden(format!("Attribute '{key}' is reserved.")));
        }
        out.push(Change { op, key, value });
    }
    Ok(out)
}

/// Whether a PATCH's `Content-Type` is the v2.0 (draft-4) form rather than
/// v2.1; any other media type is refused.
fn draft4_media(content_type: &str) -> Result<bool> {
    let media = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match media.as_str() {
        "application/openstack-images-v2.0-json-patch" => Ok(true),
        "application/openstack-images-v2.1-json-patch" => Ok(false),
        _ => Err(ImageError::UnsupportedMediaType(
            format!("Image PATCH expects Content-Type one of: {PATCH_TYPES}"),
            Some(PATCH_TYPES),
        )),
    }
}

/// A whole PATCH as `update` applies it, short of the lookup, the right to
/// modify and the write: `before` as it would be stored after the body
/// (of media type `content_type`) is applied by `caller`.
pub fn patched_image(caller: &AuthContext, before: &FullImage, content_type: &str, body: &[u8]) -> Result<FullImage> {
    let draft4 = draft4_media(content_type)?;
    apply_changes(caller, before, &parse_changes(&parse_body(body)?, draft4)?, draft4)
}

/// Applies parsed changes to the stored image and validates the result.
fn apply_changes(caller: &AuthContext, before: &FullImage, changes: &[Change], draft4: bool) -> Result<FullImage> {
    let mut doc = editable(before);
    let mut ops = Vec::with_capacity(changes.len());
    for ch in changes {
        let exists = doc.contains_key(&ch.key);
        let base = BASE.contains(&ch.key.as_str());
        match ch.op {
            "remove" if base => {
                return Err(ImageError::forbidden(format!("Property {} may not be removed.", ch.key)));
            }
            "remove" | "replace" if !exists && !base => {
                return Err(ImageError::Conflict(format!("Property {} does not exist.", ch.key)));
            }
            "add" if draft4 && (exists || base) => {
                return Err(ImageError::Conflict(format!("Property {} already present.", ch.key)));
            }
            _ => {}
        }
        // Every change is checked against the document as the previous
        // ones left it, as the patch applies them in order.
        let path = format!("/{}", ch.key.replace('~', "~0").replace('/', "~1"));
        let op = match &ch.value {
            Some(v) => json!({"op": if exists { "replace" } else { "add" }, "path": path, "value": v}),
            None => json!({"op": "remove", "path": path}),
        };
        match &ch.value {
            Some(v) => doc.insert(ch.key.clone(), v.clone()),
            None => doc.remove(&ch.key),
        };
        ops.push(op);
    }
    let patch: json_patch::Patch =
        serde_json::from_value(Value::Array(ops)).map_err(|e| ImageError::bad(format!("Invalid patch: {e}")))?;
    let mut patched = Value::Object(editable(before));
    json_patch::patch(&mut patched, &patch).map_err(|e| ImageError::Conflict(e.to_string()))?;
    let Value::Object(patched) = patched else { unreachable!("a patched object stays an object") };
    let mut img = before.clone();
    apply(caller, &patched, &mut img, Some(before))?;
    Ok(img)
}

/// Updates an image with a JSON patch.
///
/// Each change names one attribute (`/name`, `/tags`, a custom property);
/// read-only attributes are refused (403), as is any other media type (415,
/// with `Accept-Patch`).
#[utoipa::path(patch, path = "/v2/images/{image_id}", tag = "images", params(("image_id" = uuid::Uuid, Path, description = "The image.")),
    request_body(content((ImagePatch = "application/openstack-images-v2.1-json-patch"),
        (ImagePatchDraft4 = "application/openstack-images-v2.0-json-patch"))),
    responses((status = 200, description = "The updated image.", body = ImageDoc)))]
async fn update(
    caller: Caller,
    state: web::Data<ImageState>,
    id: web::Path<String>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse> {
    let media = req.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let draft4 = draft4_media(media)?;
    let changes = parse_changes(&parse_body(&body)?, draft4)?;
    let before = visible_image(&state, &caller, &id).await?;
    if !can_modify(&caller, &before.image) {
        return Err(ImageError::forbidden("You are not authorized to complete modify_image action."));
    }
    let mut img = apply_changes(&caller, &before, &changes, draft4)?;
    if changes.is_empty() {
        return Ok(HttpResponse::Ok().json(view(&before)));
    }
    img.image.updated_at = now();
    let saved = state
        .storage
        .write(move |c| {
            db::image_update(c, &mut img)?;
            Ok(img)
        })
        .await?;
    Ok(HttpResponse::Ok().json(view(&saved)))
}

/// Deletes an image and its data (not a protected one).
#[utoipa::path(delete, path = "/v2/images/{image_id}", tag = "images", params(("image_id" = uuid::Uuid, Path, description = "The image.")),
    responses((status = 204, description = "The image is gone.")))]
async fn delete(caller: Caller, state: web::Data<ImageState>, id: web::Path<String>) -> Result<HttpResponse> {
    let img = visible_image(&state, &caller, &id).await?;
    if !can_modify(&caller, &img.image) {
        return Err(ImageError::forbidden("You are not authorized to complete delete_image action."));
    }
    if img.image.protected {
        return Err(ImageError::forbidden(format!("Image {} is protected and cannot be deleted.", img.image.uuid)));
    }
    let uuid = img.image.uuid.clone();
    state.storage.write(move |c| db::image_delete(c, &uuid)).await?;
    // The row is gone first: an upload still running sees that and stops.
    let (store, uuid) = (state.store.clone(), img.image.uuid.clone());
    web::block(move || {
        for area in [Area::Store, Area::Staging] {
            if let Err(e) = store.delete(&uuid, area) {
                tracing::warn!(image = %uuid, error = %e, "could not remove deleted image data");
            }
        }
    })
    .await
    .map_err(|e| ImageError::Internal(e.to_string()))?;
    Ok(HttpResponse::NoContent().finish())
}

/// Deactivate (`to_active = false`) or reactivate an image.
async fn set_active(caller: &AuthContext, state: &ImageState, id: &str, to_active: bool) -> Result<HttpResponse> {
    let img = visible_image(state, caller, id).await?;
    let (action, target, source) = if to_active {
        ("reactivate", Status::Active, Status::Deactivated)
    } else {
        ("deactivate", Status::Deactivated, Status::Active)
    };
    if !can_modify(caller, &img.image) {
        return Err(ImageError::forbidden(format!("You are not authorized to complete {action} action.")));
    }
    if img.image.status == target.as_str() {
        return Ok(HttpResponse::NoContent().finish());
    }
    if img.image.status != source.as_str() {
        return Err(ImageError::forbidden(format!("Not allowed to {action} image in status '{}'", img.image.status)));
    }
    let uuid = img.image.uuid.clone();
    let t = now();
    let moved = state
        .storage
        .write(move |c| db::image_transition(c, &uuid, &[source.as_str()], target.as_str(), None, t))
        .await?;
    if !moved {
        return Err(ImageError::Conflict(format!("Image {id} changed status during the request; try again.")));
    }
    Ok(HttpResponse::NoContent().finish())
}

/// Deactivates an active image: its data can no longer be downloaded (but by admins).
#[utoipa::path(post, path = "/v2/images/{image_id}/actions/deactivate", tag = "images", params(("image_id" = uuid::Uuid, Path, description = "The image.")),
    responses((status = 204, description = "The image is deactivated.")))]
async fn deactivate(caller: Caller, state: web::Data<ImageState>, id: web::Path<String>) -> Result<HttpResponse> {
    set_active(&caller, &state, &id, false).await
}

/// Reactivates a deactivated image.
#[utoipa::path(post, path = "/v2/images/{image_id}/actions/reactivate", tag = "images", params(("image_id" = uuid::Uuid, Path, description = "The image.")),
    responses((status = 204, description = "The image is active.")))]
async fn reactivate(caller: Caller, state: web::Data<ImageState>, id: web::Path<String>) -> Result<HttpResponse> {
    set_active(&caller, &state, &id, true).await
}

/// Adds a tag to an image (adding one it has changes nothing).
#[utoipa::path(put, path = "/v2/images/{image_id}/tags/{tag}", tag = "images", params(("image_id" = uuid::Uuid, Path, description = "The image."), ("tag" = String, Path, description = "The tag (at most 255 characters).")),
    responses((status = 204, description = "The image has the tag.")))]
async fn tag_add(
    caller: Caller,
    state: web::Data<ImageState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse> {
    let (id, tag) = path.into_inner();
    let img = visible_image(&state, &caller, &id).await?;
    if !can_modify(&caller, &img.image) {
        return Err(ImageError::forbidden("You are not authorized to complete modify_image action."));
    }
    if tag.chars().count() > 255 {
        return Err(ImageError::bad(format!("Provided object does not match schema 'image': tag '{tag}' is too long")));
    }
    let t = now();
    let uuid = img.image.uuid.clone();
    state
        .storage
        .write(move |c| {
            if db::tag_count(c, &uuid)? >= TAG_LIMIT as i64 && !db::full_image(c, &uuid)?.tags.contains(&tag) {
                return Ok(false);
            }
            db::tag_add(c, &uuid, &tag, t)?;
            Ok(true)
        })
        .await?
        .then_some(())
        .ok_or_else(|| ImageError::TooLarge(format!("Maximum number of tags exceeded: {TAG_LIMIT}")))?;
    Ok(HttpResponse::NoContent().finish())
}

/// Removes a tag from an image.
#[utoipa::path(delete, path = "/v2/images/{image_id}/tags/{tag}", tag = "images", params(("image_id" = uuid::Uuid, Path, description = "The image."), ("tag" = String, Path, description = "The tag (at most 255 characters).")),
    responses((status = 204, description = "The tag is gone.")))]
async fn tag_remove(
    caller: Caller,
    state: web::Data<ImageState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse> {
    let (id, tag) = path.into_inner();
    let img = visible_image(&state, &caller, &id).await?;
    if !can_modify(&caller, &img.image) {
        return Err(ImageError::forbidden("You are not authorized to complete modify_image action."));
    }
    let (uuid, t, tag2) = (img.image.uuid.clone(), now(), tag.clone());
    let removed = state.storage.write(move |c| db::tag_remove(c, &uuid, &tag2, t)).await?;
    if !removed {
        return Err(ImageError::NotFound(format!("Tag {tag} not found.")));
    }
    Ok(HttpResponse::NoContent().finish())
}

// ---- listing -------------------------------------------------------------------

/// `in:a,b` lists or a single value.
fn values(v: &str) -> Vec<String> {
    match v.strip_prefix("in:") {
        Some(list) => list.split(',').map(|s| s.trim().trim_matches('"').to_string()).collect(),
        None => vec![v.to_string()],
    }
}

fn bool_param(key: &str, v: &str) -> Result<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" | "t" | "y" => Ok(true),
        "false" | "0" | "no" | "off" | "f" | "n" => Ok(false),
        _ => Err(ImageError::bad(format!("Invalid value '{v}' for the '{key}' filter: expected true or false"))),
    }
}

fn time_filter(key: &str, v: &str) -> Result<(Cmp, chrono::NaiveDateTime)> {
    let (op, at) = match v.split_once(':') {
        Some((op, rest)) if ["gt", "gte", "lt", "lte", "eq", "neq"].contains(&op) => (op, rest),
        _ => ("eq", v),
    };
    let op = match op {
        "gt" => Cmp::Gt,
        "gte" => Cmp::Gte,
        "lt" => Cmp::Lt,
        "lte" => Cmp::Lte,
        "neq" => Cmp::Neq,
        _ => Cmp::Eq,
    };
    let at = chrono::DateTime::parse_from_rfc3339(at)
        .map(|d| d.naive_utc())
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(at, "%Y-%m-%dT%H:%M:%S"))
        .map_err(|_| ImageError::bad(format!("Invalid time format for {key}: '{at}'")))?;
    Ok((op, at))
}

/// Lists the images the caller sees, newest first.
#[utoipa::path(get, path = "/v2/images", tag = "images", params(ListQuery),
    responses((status = 200, description = "A page of images.", body = ImageList)))]
async fn list(caller: Caller, state: web::Data<ImageState>, req: HttpRequest) -> Result<HttpResponse> {
    let pairs = query_pairs(req.query_string())?;
    let mut f = ImageFilter {
        viewer: Some(if caller.is_admin() {
            Viewer::All
        } else {
            project(&caller).map_or(Viewer::Nobody, |p| Viewer::Project(p.to_string()))
        }),
        ..Default::default()
    };
    let mut limit = 25i64;
    let mut marker = None;
    let (mut sort_keys, mut sort_dirs, mut sort) = (Vec::new(), Vec::new(), None);
    for (k, v) in &pairs {
        match k.as_str() {
            "limit" => {
                limit = v.trim().parse().map_err(|_| ImageError::bad("limit param must be an integer"))?;
                if limit < 0 {
                    return Err(ImageError::bad("limit param must be positive"));
                }
            }
            "marker" => marker = Some(v.clone()),
            "member_status" => {
                if !["pending", "accepted", "rejected", "all"].contains(&v.as_str()) {
                    return Err(ImageError::bad(format!("Invalid status: {v}")));
                }
                f.member_status = Some(v.clone());
            }
            "visibility" => {
                if !["community", "public", "private", "shared", "all"].contains(&v.as_str()) {
                    return Err(ImageError::bad(format!("Invalid visibility value: {v}")));
                }
                f.visibility = Some(v.clone());
            }
            "changes-since" => {
                return Err(ImageError::bad("The \"changes-since\" filter is no longer available on v2."));
            }
            "tag" => f.tags.push(v.trim().to_string()),
            "sort_key" => {
                let key = v.trim();
                if !SORT_KEYS.contains(&key) {
                    return Err(ImageError::bad(format!(
                        "Invalid sort key: {key}. It must be one of the following: {}.",
                        SORT_KEYS.join(", ")
                    )));
                }
                sort_keys.push(key.to_string());
            }
            "sort_dir" => sort_dirs.push(v.trim().to_string()),
            "sort" => sort = Some(v.clone()),
            "name" => f.names = Some(values(v)),
            "id" => f.ids = Some(values(v)),
            "status" => f.statuses = Some(values(v)),
            "owner" => f.owner = Some(v.clone()),
            "disk_format" => f.disk_format = Some(values(v)),
            "container_format" => f.container_format = Some(values(v)),
            "protected" => f.protected = Some(bool_param(k, v)?),
            "os_hidden" => f.os_hidden = Some(bool_param(k, v)?),
            "size_min" | "size_max" | "size" => {
                let n: i64 = v.parse().map_err(|_| ImageError::bad(format!("Invalid value for {k}: '{v}'")))?;
                if k != "size_max" {
                    f.size_min = Some(n);
                }
                if k != "size_min" {
                    f.size_max = Some(n);
                }
            }
            "created_at" => f.created_at.push(time_filter(k, v)?),
            "updated_at" => f.updated_at.push(time_filter(k, v)?),
            _ => f.properties.push((k.clone(), v.clone())),
        }
    }
    if f.os_hidden.is_none() {
        f.os_hidden = Some(false);
    }
    let keys = sort_order(sort.as_deref(), &sort_keys, &sort_dirs)?;
    limit = limit.min(1000);
    if let Some(m) = &marker {
        // The marker must be an image the caller can see.
        visible_image(&state, &caller, m).await.map_err(|_| ImageError::bad(format!("No image found with ID {m}")))?;
    }
    let (filter, keys2, marker2) = (f, keys, marker.clone());
    let list = state
        .storage
        .read(move |c| db::images_list(c, &filter, &keys2, marker2.map(|m| m.to_lowercase()).as_deref(), limit))
        .await?;
    let without_marker: Vec<(String, String)> = pairs.iter().filter(|(k, _)| k != "marker").cloned().collect();
    let encode = |p: &[(String, String)]| serde_urlencoded::to_string(p).unwrap_or_default();
    let query = encode(&without_marker);
    let mut body = json!({
        "images": list.iter().map(view).collect::<Vec<_>>(),
        "first": if query.is_empty() { "/v2/images".to_string() } else { format!("/v2/images?{query}") },
        "schema": "/v2/schemas/images",
    });
    if limit > 0 && list.len() as i64 == limit {
        let mut next = without_marker;
        next.push(("marker".into(), list.last().map(|i| i.image.uuid.clone()).unwrap_or_default()));
        body["next"] = Value::String(format!("/v2/images?{}", encode(&next)));
    }
    Ok(HttpResponse::Ok().json(body))
}

/// The sort keys of a list: `sort=name:asc,size` or the classic repeated
/// `sort_key`/`sort_dir` (one direction for all keys, or one per key).
fn sort_order(sort: Option<&str>, keys: &[String], dirs: &[String]) -> Result<Vec<SortKey>> {
    let dir = |d: &str| match d {
        "asc" => Ok(false),
        "desc" => Ok(true),
        other => Err(ImageError::bad(format!("Invalid sort direction: {other}"))),
    };
    let key = |k: &str| {
        if !SORT_KEYS.contains(&k) {
            return Err(ImageError::bad(format!(
                "Invalid sort key: {k}. It must be one of the following: {}.",
                SORT_KEYS.join(", ")
            )));
        }
        Ok(db::sort_column(k).expect("sort keys are all columns"))
    };
    let mut out = Vec::new();
    if let Some(s) = sort {
        if !keys.is_empty() || !dirs.is_empty() {
            return Err(ImageError::bad("Old and new sorting syntax cannot be combined"));
        }
        for part in s.trim().split(',') {
            let (k, d) = part.split_once(':').unwrap_or((part, "desc"));
            out.push(SortKey { column: key(k.trim())?, desc: dir(d.trim())? });
        }
        return Ok(out);
    }
    if dirs.len() > 1 && dirs.len() != keys.len() {
        return Err(ImageError::bad("Number of sort dirs does not match the number of sort keys"));
    }
    let keys: Vec<&str> = if keys.is_empty() { vec!["created_at"] } else { keys.iter().map(String::as_str).collect() };
    for (i, k) in keys.iter().enumerate() {
        let d = dirs.get(i).or(dirs.first()).map(String::as_str).unwrap_or("desc");
        out.push(SortKey { column: key(k)?, desc: dir(d)? });
    }
    Ok(out)
}
