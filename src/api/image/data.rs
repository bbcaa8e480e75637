//! Image data: upload (`PUT …/file`), download with ranges (`GET …/file`),
//! and the interoperable import (`PUT …/stage`, `POST …/import` with
//! `glance-direct`). Data streams through in chunks; nothing buffers a
//! whole image.

use std::io::{Read, Seek, SeekFrom};

use actix_web::body::SizedStream;
use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::Value;

use super::error::{ImageError, Result};
use super::info::IMPORT_METHODS;
use super::openapi::{Error, ImportRequest};
use super::{Caller, ImageState, Status, can_modify, now, parse_body, visible_image};
use crate::common::openapi::Routes;
use crate::storage::image_store::{Area, Chunk, Digests, IngestError, ingest, virtual_size};
use crate::storage::images::{self as db, DataRecord, FullImage};

pub fn routes(r: &mut Routes) {
    crate::routes!(r; upload, download, stage, import);
}

/// The part of the data to send.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
struct RangeHeader {
    /// One byte range, `bytes=<first>-[<last>]` or `bytes=-<suffix length>`;
    /// several ranges are a 400.
    #[param(rename = "Range")]
    range: Option<String>,
}

/// Image data: any bytes.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)]
struct ImageData(Vec<u8>);

/// Read size of download chunks and depth of the chunk queues.
const CHUNK: usize = 256 * 1024;
const QUEUE: usize = 16;

fn require_octet_stream(req: &HttpRequest) -> Result<()> {
    let ct = req.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if ct.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/octet-stream") {
        Ok(())
    } else {
        Err(ImageError::UnsupportedMediaType(
            format!("Unsupported Content-Type '{ct}': image data must be application/octet-stream"),
            None,
        ))
    }
}

fn content_length(req: &HttpRequest) -> Result<Option<u64>> {
    match req.headers().get(CONTENT_LENGTH) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .map(Some)
            .ok_or_else(|| ImageError::bad("Invalid Content-Length")),
    }
}

/// The most bytes this image's data may have: the size cap, and what is
/// left of the owner's quota.
async fn allowed_size(state: &ImageState, img: &FullImage) -> Result<u64> {
    let mut limit = state.max_size;
    if state.project_quota > 0
        && let Some(owner) = img.image.owner.clone()
    {
        let used = state.storage.read(move |c| db::usage(c, &owner)).await? as u64;
        let left = state.project_quota.saturating_sub(used);
        if left == 0 {
            return Err(ImageError::TooLarge(format!(
                "Image exceeds the storage quota: the project's {} bytes are used up",
                state.project_quota
            )));
        }
        limit = limit.min(left);
    }
    Ok(limit)
}

/// Streams the request body into the store, hashing as it goes.
async fn receive(
    state: &ImageState,
    uuid: &str,
    area: Area,
    mut payload: web::Payload,
    limit: u64,
    expected: Option<u64>,
) -> std::result::Result<Digests, IngestError> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Chunk>(QUEUE);
    let (store, id) = (state.store.clone(), uuid.to_string());
    let job = tokio::task::spawn_blocking(move || {
        let writer = store.create(&id, area)?;
        ingest(&mut rx, writer, limit, expected)
    });
    while let Some(chunk) = payload.next().await {
        let item = chunk.map_err(|e| {
            tracing::info!(image = %uuid, error = %e, "image upload stream ended early");
            IngestError::Cut
        });
        let stop = item.is_err();
        if tx.send(item).await.is_err() || stop {
            break;
        }
    }
    drop(tx);
    match job.await {
        Ok(r) => r,
        Err(e) => Err(IngestError::Io(std::io::Error::other(e.to_string()))),
    }
}

/// Checks and claims an image for receiving data: visible, the caller may
/// change it, it is in `from`; then moves it to `to`. Returns the image and
/// the size limit.
async fn claim(
    caller: &Caller,
    state: &ImageState,
    id: &str,
    req: &HttpRequest,
    action: &str,
    to: Status,
) -> Result<(FullImage, u64, Option<u64>)> {
    require_octet_stream(req)?;
    let img = visible_image(state, caller, id).await?;
    if !can_modify(caller, &img.image) {
        return Err(ImageError::forbidden(format!("You are not authorized to complete {action} action.")));
    }
    let expected = content_length(req)?;
    let limit = allowed_size(state, &img).await?;
    if expected.is_some_and(|n| n > limit) {
        return Err(ImageError::TooLarge(format!("The incoming image is too large: more than {limit} bytes")));
    }
    let (uuid, t, me) = (img.image.uuid.clone(), now(), state.conductor.clone());
    let claimed = state
        .storage
        .write(move |c| db::image_transition(c, &uuid, &[Status::Queued.as_str()], to.as_str(), Some(&me), t))
        .await?;
    if !claimed {
        let status = state.storage.read({
            let uuid = img.image.uuid.clone();
            move |c| db::image(c, &uuid)
        });
        let status = status.await.map(|i| i.status).unwrap_or_else(|_| img.image.status.clone());
        return Err(ImageError::Conflict(format!(
            "Image status transition from {status} to {} is not allowed",
            to.as_str()
        )));
    }
    Ok((img, limit, expected))
}

/// After a failed transfer: the blob goes, the image returns to `queued`.
async fn give_back(state: &ImageState, uuid: &str, from: Status, area: Area) {
    let (store, id) = (state.store.clone(), uuid.to_string());
    let _ = web::block(move || store.delete(&id, area)).await;
    let (id, t) = (uuid.to_string(), now());
    if let Err(e) = state.storage.write(move |c| db::image_reset(c, &id, &[from.as_str()], t)).await {
        tracing::warn!(image = %uuid, error = %e, "could not return image to queued after a failed upload");
    }
}

/// The virtual size of stored data: the data size for raw and ISO images,
/// `qemu-img`'s answer for disk formats it knows.
async fn measure(state: &ImageState, uuid: &str, area: Area, disk_format: Option<String>, size: u64) -> Option<i64> {
    match disk_format.as_deref() {
        Some("raw") | Some("iso") => Some(size as i64),
        Some(fmt) => {
            let (path, fmt) = (state.store.local_path(uuid, area)?, fmt.to_string());
            web::block(move || virtual_size(&path, &fmt)).await.ok().flatten().map(|v| v as i64)
        }
        None => None,
    }
}

/// When the image vanished while its data was arriving: drop the data and
/// say so (Glance answers 410 Gone).
async fn vanished(state: &ImageState, uuid: &str, area: Area) -> ImageError {
    let (store, id) = (state.store.clone(), uuid.to_string());
    let _ = web::block(move || store.delete(&id, area)).await;
    ImageError::Gone(format!(
        "Image {uuid} could not be found after upload. The image may have been deleted during the upload."
    ))
}

/// An upload or stage that fails may leave part of its body unread: the
/// connection is closed after the error so that no client reuses it with
/// stray body bytes still in flight.
fn closing(r: Result<HttpResponse>) -> HttpResponse {
    use actix_web::ResponseError;
    r.unwrap_or_else(|e| {
        let mut res = e.error_response();
        res.head_mut().set_connection_type(actix_web::http::ConnectionType::Close);
        res
    })
}

/// Uploads a `queued` image's data; the image becomes `active`.
///
/// The body is streamed to the store, hashed on the way; larger than the
/// size cap or the project's quota left is a 413.
#[utoipa::path(put, path = "/v2/images/{image_id}/file", tag = "image data", params(("image_id" = uuid::Uuid, Path, description = "The image.")),
    request_body(content = inline(ImageData), content_type = "application/octet-stream"),
    responses((status = 204, description = "The data is stored; the image is active.")))]
async fn upload(
    caller: Caller,
    state: web::Data<ImageState>,
    id: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    closing(receive_file(caller, state, id, req, payload).await)
}

/// Stages a `queued` image's data for an import (`glance-direct`); the image becomes `uploading`.
#[utoipa::path(put, path = "/v2/images/{image_id}/stage", tag = "image data", params(("image_id" = uuid::Uuid, Path, description = "The image.")),
    request_body(content = inline(ImageData), content_type = "application/octet-stream"),
    responses((status = 204, description = "The data is staged.")))]
async fn stage(
    caller: Caller,
    state: web::Data<ImageState>,
    id: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    closing(receive_staged(caller, state, id, req, payload).await)
}

async fn receive_file(
    caller: Caller,
    state: web::Data<ImageState>,
    id: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse> {
    let (img, limit, expected) = claim(&caller, &state, &id, &req, "upload_image", Status::Saving).await?;
    let uuid = img.image.uuid.clone();
    let digests = match receive(&state, &uuid, Area::Store, payload, limit, expected).await {
        Ok(d) => d,
        Err(e) => {
            give_back(&state, &uuid, Status::Saving, Area::Store).await;
            return Err(e.into());
        }
    };
    let record = DataRecord {
        size: digests.size as i64,
        virtual_size: measure(&state, &uuid, Area::Store, img.image.disk_format.clone(), digests.size).await,
        checksum: digests.md5,
        os_hash_algo: "sha512".into(),
        os_hash_value: digests.sha512,
        store: Some(state.store.id().to_string()),
    };
    let (id2, t) = (uuid.clone(), now());
    let done = state
        .storage
        .write(move |c| db::image_set_data(c, &id2, Status::Saving.as_str(), Status::Active.as_str(), &record, t))
        .await?;
    if !done {
        return Err(vanished(&state, &uuid, Area::Store).await);
    }
    Ok(HttpResponse::NoContent().finish())
}

async fn receive_staged(
    caller: Caller,
    state: web::Data<ImageState>,
    id: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse> {
    let (img, limit, expected) = claim(&caller, &state, &id, &req, "stage_image", Status::Uploading).await?;
    let uuid = img.image.uuid.clone();
    let digests = match receive(&state, &uuid, Area::Staging, payload, limit, expected).await {
        Ok(d) => d,
        Err(e) => {
            give_back(&state, &uuid, Status::Uploading, Area::Staging).await;
            return Err(e.into());
        }
    };
    // The staged data's measures are kept with the image (still
    // `uploading`) so that the import does not read it again.
    let record = DataRecord {
        size: digests.size as i64,
        virtual_size: None,
        checksum: digests.md5,
        os_hash_algo: "sha512".into(),
        os_hash_value: digests.sha512,
        store: None,
    };
    let (id2, t) = (uuid.clone(), now());
    let s = Status::Uploading.as_str();
    let done = state.storage.write(move |c| db::image_set_data(c, &id2, s, s, &record, t)).await?;
    if !done {
        return Err(vanished(&state, &uuid, Area::Staging).await);
    }
    Ok(HttpResponse::NoContent().finish())
}

/// Imports staged data (`glance-direct`): the image is `importing`, then `active`.
#[utoipa::path(post, path = "/v2/images/{image_id}/import", tag = "image data", params(("image_id" = uuid::Uuid, Path, description = "The image.")),
    request_body = ImportRequest, responses((status = 202, description = "The import has started.")))]
async fn import(
    caller: Caller,
    state: web::Data<ImageState>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse> {
    let body = parse_body(&body)?;
    let method = body.get("method").ok_or_else(|| ImageError::bad("Import request requires a 'method' field."))?;
    let name = method
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| ImageError::bad("Import request requires a 'name' field."))?;
    if !IMPORT_METHODS.contains(&name) {
        return Err(ImageError::bad(format!("Unknown import method name '{name}'.")));
    }
    for flag in ["all_stores_must_succeed", "all_stores"] {
        if body.get(flag).is_some_and(|v| !v.is_boolean()) {
            return Err(ImageError::bad(format!("'{flag}' must be boolean value only")));
        }
    }
    if let Some(stores) = body.get("stores") {
        let ok = stores.as_array().is_some_and(|l| l.iter().all(|s| s.as_str() == Some(state.store.id())));
        if !ok {
            return Err(ImageError::Conflict(format!("Only the store '{}' exists here.", state.store.id())));
        }
    }
    let img = visible_image(&state, &caller, &id).await?;
    if !can_modify(&caller, &img.image) {
        return Err(ImageError::forbidden("You are not authorized to complete import_image action."));
    }
    let i = &img.image;
    if i.status == Status::Active.as_str() {
        return Err(ImageError::Conflict("Image with status active cannot be target for import".into()));
    }
    if i.status != Status::Uploading.as_str() || i.checksum.is_none() {
        return Err(ImageError::Conflict("Image needs to be staged before 'glance-direct' method can be used".into()));
    }
    if i.container_format.is_none() {
        return Err(ImageError::Conflict("'container_format' needs to be set before import".into()));
    }
    if i.disk_format.is_none() {
        return Err(ImageError::Conflict("'disk_format' needs to be set before import".into()));
    }
    let (uuid, t, me) = (i.uuid.clone(), now(), state.conductor.clone());
    let moved = state
        .storage
        .write(move |c| {
            let (from, to) = (Status::Uploading.as_str(), Status::Importing.as_str());
            db::image_transition(c, &uuid, &[from], to, Some(&me), t)
        })
        .await?;
    if !moved {
        return Err(ImageError::Conflict(format!("Image {id} changed status during the request; try again.")));
    }
    let state = state.into_inner();
    let uuid = i.uuid.clone();
    actix_web::rt::spawn(async move { finish_import(&state, &uuid).await });
    Ok(HttpResponse::Accepted().finish())
}

/// Moves staged data into the store and activates the image; on failure
/// the image returns to `queued`. Also resumes imports a stop interrupted.
pub async fn finish_import(state: &ImageState, uuid: &str) {
    let id = uuid.to_string();
    let img = match state.storage.read(move |c| db::image(c, &id)).await {
        Ok(i) => i,
        Err(_) => {
            let (store, id) = (state.store.clone(), uuid.to_string());
            let _ = web::block(move || store.delete(&id, Area::Staging)).await;
            return;
        }
    };
    let (store, id) = (state.store.clone(), uuid.to_string());
    match web::block(move || store.promote(&id)).await {
        Ok(Ok(())) => {}
        failed => {
            tracing::warn!(image = %uuid, outcome = ?failed.map(|r| r.map_err(|e| e.to_string())).ok(), "image import failed");
            give_back(state, uuid, Status::Importing, Area::Staging).await;
            return;
        }
    }
    let size = img.size.unwrap_or(0);
    let record = DataRecord {
        size,
        virtual_size: measure(state, uuid, Area::Store, img.disk_format.clone(), size as u64).await,
        checksum: img.checksum.clone().unwrap_or_default(),
        os_hash_algo: img.os_hash_algo.clone().unwrap_or_else(|| "sha512".into()),
        os_hash_value: img.os_hash_value.clone().unwrap_or_default(),
        store: Some(state.store.id().to_string()),
    };
    let (id, t) = (uuid.to_string(), now());
    let done = state
        .storage
        .write(move |c| db::image_set_data(c, &id, Status::Importing.as_str(), Status::Active.as_str(), &record, t))
        .await;
    if !matches!(done, Ok(true)) {
        let _ = vanished(state, uuid, Area::Store).await;
    }
}

/// A byte range of a download: offset and length.
#[derive(Debug, PartialEq, Eq)]
struct Span {
    offset: u64,
    len: u64,
}

/// Parses a `Range` header as Glance does (one range only; `bytes=a-b`,
/// `bytes=a-`, `bytes=-n`): several ranges are a 400, a malformed or
/// unsatisfiable one a 416.
fn parse_range(header: &str, size: u64) -> Result<Span> {
    if header.contains(',') {
        return Err(ImageError::bad(
            "Requests with multiple ranges are not supported in Glance. You may make multiple single-range requests instead.",
        ));
    }
    let invalid = || ImageError::RangeNotSatisfiable("Invalid Range header.".into());
    let spec = header.trim().strip_prefix("bytes=").ok_or_else(invalid)?;
    let (a, b) = spec.split_once('-').ok_or_else(invalid)?;
    let num = |s: &str| s.trim().parse::<u64>().map_err(|_| invalid());
    let (offset, end) = if a.trim().is_empty() {
        let n = num(b)?;
        if n == 0 {
            return Err(invalid());
        }
        if size == 0 {
            // No suffix of empty data can be sent (RFC 9110, 14.1.2).
            return Err(ImageError::RangeNotSatisfiable("The image data is empty: no range of it exists.".into()));
        }
        (size.saturating_sub(n), size)
    } else {
        let start = num(a)?;
        let end = if b.trim().is_empty() { size } else { num(b)?.saturating_add(1) };
        if end <= start {
            return Err(invalid());
        }
        if start >= size {
            return Err(ImageError::RangeNotSatisfiable(format!(
                "Invalid start position in Range header. Start position MUST be in the inclusive range [0, {}].",
                size.saturating_sub(1)
            )));
        }
        (start, end.min(size))
    };
    Ok(Span { offset, len: end - offset })
}

/// Downloads an image's data, whole or one byte range.
#[utoipa::path(get, path = "/v2/images/{image_id}/file", tag = "image data",
    params(("image_id" = uuid::Uuid, Path, description = "The image."), RangeHeader),
    responses(
        (status = 200, description = "The data.", content_type = "application/octet-stream", body = inline(ImageData),
            headers(("Content-MD5" = String, description = "The MD5 of the whole data."))),
        (status = 206, description = "The range asked for.", content_type = "application/octet-stream", body = inline(ImageData),
            headers(("Content-Range" = String, description = "`bytes <first>-<last>/<size>`."),
                ("Content-MD5" = String, description = "The MD5 of the whole data."))),
        (status = 204, description = "The image has no data (yet)."),
        (status = 416, description = "The range is malformed or starts past the end of the data.", body = Error)))]
async fn download(
    caller: Caller,
    state: web::Data<ImageState>,
    id: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse> {
    let img = visible_image(&state, &caller, &id).await?;
    let i = &img.image;
    if i.status == Status::Deactivated.as_str() && !caller.is_admin() {
        return Err(ImageError::forbidden(
            "The requested image has been deactivated. Image data download is forbidden.",
        ));
    }
    if i.store.is_none() || !matches!(i.status.as_str(), "active" | "deactivated") {
        return Ok(HttpResponse::NoContent().finish());
    }
    let (store, uuid) = (state.store.clone(), i.uuid.clone());
    let reader = match web::block(move || store.open(&uuid, Area::Store)).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            tracing::warn!(image = %i.uuid, "active image has no data in the store");
            return Ok(HttpResponse::NoContent().finish());
        }
        Ok(Err(e)) => return Err(ImageError::Unavailable(format!("Image store unavailable: {e}"))),
        Err(e) => return Err(ImageError::Internal(e.to_string())),
    };
    let size = reader.len();
    let range = req.headers().get("range").map(|v| v.to_str().unwrap_or("\u{0}").to_string());
    let span = match &range {
        Some(h) => parse_range(h, size)?,
        None => Span { offset: 0, len: size },
    };
    let mut res = HttpResponse::build(if range.is_some() { StatusCode::PARTIAL_CONTENT } else { StatusCode::OK });
    res.insert_header((CONTENT_TYPE, "application/octet-stream"));
    if range.is_some() {
        res.insert_header(("Content-Range", format!("bytes {}-{}/{size}", span.offset, span.offset + span.len - 1)));
    }
    if let Some(md5) = &i.checksum {
        res.insert_header(("Content-MD5", md5.clone()));
    }
    let len = span.len;
    Ok(res.body(SizedStream::new(len, stream_blob(reader, span))))
}

/// Reads a blob on a blocking thread into a bounded queue, as a stream of
/// chunks: memory stays at a few chunks whatever the image size, and a
/// slow client slows the reads.
fn stream_blob(
    mut reader: Box<dyn crate::storage::image_store::BlobReader>,
    span: Span,
) -> impl futures_util::Stream<Item = std::result::Result<Bytes, std::io::Error>> {
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(4);
    tokio::task::spawn_blocking(move || {
        if let Err(e) = reader.seek(SeekFrom::Start(span.offset)) {
            let _ = tx.blocking_send(Err(e));
            return;
        }
        let mut left = span.len;
        while left > 0 {
            let mut buf = vec![0u8; CHUNK.min(left as usize)];
            match reader.read(&mut buf) {
                Ok(0) => {
                    let _ = tx.blocking_send(Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "image data ended early",
                    )));
                    return;
                }
                Ok(n) => {
                    buf.truncate(n);
                    left -= n as u64;
                    if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                        return; // the client went away
                    }
                }
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            }
        }
    });
    futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_as_glance() {
        assert_eq!(parse_range("bytes=0-9", 3000).unwrap(), Span { offset: 0, len: 10 });
        assert_eq!(parse_range("bytes=10-", 30).unwrap(), Span { offset: 10, len: 20 });
        assert_eq!(parse_range("bytes=-5", 30).unwrap(), Span { offset: 25, len: 5 });
        assert_eq!(parse_range("bytes=-50", 30).unwrap(), Span { offset: 0, len: 30 });
        assert_eq!(parse_range("bytes=5-100", 30).unwrap(), Span { offset: 5, len: 25 });
        assert!(matches!(parse_range("bytes=0-1,4-5", 30), Err(ImageError::BadRequest(_))));
        for bad in ["bytes=30-", "bytes=9-2", "items=0-1", "bytes=a-b", "bytes=-0", "bytes"] {
            assert!(matches!(parse_range(bad, 30), Err(ImageError::RangeNotSatisfiable(_))), "{bad}");
        }
        for bad in ["bytes=-5", "bytes=0-", "bytes=0-0"] {
            assert!(matches!(parse_range(bad, 0), Err(ImageError::RangeNotSatisfiable(_))), "{bad} of nothing");
        }
    }
}
