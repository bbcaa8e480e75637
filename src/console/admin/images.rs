//! Image management: the list, an upload streamed from the browser to the
//! image API (never held in memory or on disk here), deletion.

use actix_multipart::Multipart;
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;
use futures_util::StreamExt;
use maud::{Markup, html};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{see_other, str_of};
use crate::console::Console;
use crate::console::client::{ApiError, Service, answer};
use crate::console::error::UiError;
use crate::console::session::{self, Session};
use crate::console::views::{self, Nav, badge, csrf};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/images", web::get().to(list))
        .route("/admin/images", web::post().to(upload))
        .route("/admin/images/{id}/delete", web::post().to(delete));
}

const DISK_FORMATS: &[&str] = &["raw", "qcow2", "iso", "vmdk", "vhd", "vhdx", "vdi", "ami", "ari", "aki"];

async fn list(req: HttpRequest, console: web::Data<Console>) -> Result<HttpResponse, UiError> {
    let s = super::admin(&req, &console).await?;
    Ok(views::ok(page(&s, None).await?))
}

async fn page(s: &Session, error: Option<&str>) -> Result<Markup, ApiError> {
    let v = s.cloud.get(Service::Image, "/images?sort=created_at:desc").await?;
    let images = v["images"].as_array().cloned().unwrap_or_default();
    Ok(views::page(
        s,
        Nav::Images,
        "Images",
        None,
        html! {
            @if let Some(e) = error { p.error role="alert" { (e) } }
            table.list {
                thead { tr { th scope="col" { "Name" } th scope="col" { "Status" } th scope="col" { "Format" } th scope="col" { "Size" }
                    th scope="col" { "Visibility" } th scope="col" { "Checksum" } th scope="col" { span.sr { "Actions" } } } }
                tbody {
                    @if images.is_empty() { tr { td colspan="7" { "No image yet." } } }
                    @for i in &images {
                        @let id = str_of(i, "id");
                        tr {
                            th scope="row" { (i["name"].as_str().unwrap_or(id)) }
                            td { (badge(str_of(i, "status"))) }
                            td { (str_of(i, "disk_format")) }
                            td { @if let Some(sz) = i["size"].as_i64() { (views::bytes(sz)) } }
                            td { (str_of(i, "visibility")) }
                            td.mono { (str_of(i, "checksum")) }
                            td { form.inline method="post" action={"/ui/admin/images/" (id) "/delete"} {
                                (csrf(s)) button.danger type="submit" aria-label={"Delete image " (i["name"].as_str().unwrap_or(id))} { "Delete" } } }
                        }
                    }
                }
            }
            section {
                h2 { "Upload an image" }
                form.grid method="post" action="/ui/admin/images" enctype="multipart/form-data" {
                    (csrf(s))
                    div { label for="im-name" { "Name" } input id="im-name" name="name" required; }
                    div { label for="im-format" { "Disk format" }
                        select id="im-format" name="disk_format" { @for f in DISK_FORMATS { option value=(f) { (f) } } } }
                    div { label for="im-vis" { "Visibility" }
                        select id="im-vis" name="visibility" {
                            option value="public" { "public" } option value="private" { "private" }
                            option value="shared" { "shared" } option value="community" { "community" } } }
                    div.wide { label for="im-file" { "Image file" } input id="im-file" name="file" type="file" required; }
                    div.wide { button.primary type="submit" { "Upload" } }
                }
            }
        },
    ))
}

/// Reads a small text field of the form.
async fn text(field: &mut actix_multipart::Field) -> Result<String, UiError> {
    let mut out = Vec::new();
    while let Some(chunk) = field.next().await {
        let chunk = chunk.map_err(|e| UiError::BadRequest(format!("The upload broke off: {e}")))?;
        if out.len() + chunk.len() > 4096 {
            return Err(UiError::BadRequest("A form field is too long.".into()));
        }
        out.extend_from_slice(&chunk);
    }
    String::from_utf8(out).map_err(|_| UiError::BadRequest("A form field is not UTF-8 text.".into()))
}

/// The form's fields come in page order: csrf, name, disk_format and
/// visibility, then the file, which is streamed to the image API as it
/// arrives.
async fn upload(req: HttpRequest, console: web::Data<Console>, mut form: Multipart) -> Result<HttpResponse, UiError> {
    let mut fields = serde_json::Map::new();
    let mut checked = false;
    let s = session::current(&req, &console).await?;
    while let Some(field) = form.next().await {
        let mut field = field.map_err(|e| UiError::BadRequest(format!("The upload is not a valid form: {e}")))?;
        let name = field.name().unwrap_or_default().to_string();
        if name == "csrf" {
            session::check_csrf(&req, &text(&mut field).await?)?;
            checked = true;
            continue;
        }
        if !checked {
            return Err(UiError::Forbidden("The form did not come from this console.".into()));
        }
        if name != "file" {
            fields.insert(name, Value::String(text(&mut field).await?));
            continue;
        }
        let body = json!({
            "name": fields.get("name").cloned().unwrap_or(json!("")),
            "disk_format": fields.get("disk_format").cloned().unwrap_or(json!("raw")),
            "container_format": "bare",
            "visibility": fields.get("visibility").cloned().unwrap_or(json!("private")),
        });
        let image = match s.cloud.call(Service::Image, Method::POST, "/images", Some(&body)).await {
            Ok(i) => i,
            Err(e) if e.status == 400 || e.status == 409 => {
                return Ok(views::html(
                    actix_web::http::StatusCode::from_u16(e.status).unwrap_or(actix_web::http::StatusCode::BAD_REQUEST),
                    page(&s, Some(&e.message)).await?,
                ));
            }
            Err(e) => return Err(e.into()),
        };
        let id = str_of(&image, "id").to_string();
        // The multipart stream is not Send; a channel carries its chunks to
        // the request body while both run on this task.
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
        let feed = async move {
            while let Some(chunk) = field.next().await {
                let item = chunk.map_err(|e| std::io::Error::other(e.to_string()));
                let stop = item.is_err();
                if tx.send(item).await.is_err() || stop {
                    break;
                }
            }
        };
        let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
        let put = async {
            let r = s
                .cloud
                .request(Service::Image, Method::PUT, &format!("/images/{id}/file"))?
                .header("Content-Type", "application/octet-stream")
                .body(reqwest::Body::wrap_stream(stream))
                .send()
                .await;
            answer(r).await
        };
        let ((), sent) = futures_util::join!(feed, put);
        if let Err(e) = sent {
            // an image without data helps no one
            let _ = s.cloud.call(Service::Image, Method::DELETE, &format!("/images/{id}"), None).await;
            return Err(e.into());
        }
        return Ok(see_other("/ui/admin/images"));
    }
    Err(UiError::BadRequest("The form has no image file.".into()))
}

#[derive(Deserialize)]
struct Id {
    id: String,
}

async fn delete(
    req: HttpRequest,
    console: web::Data<Console>,
    path: web::Path<Id>,
    f: web::Form<session::CsrfForm>,
) -> Result<HttpResponse, UiError> {
    let s = session::posted(&req, &console, &f.csrf).await?;
    s.cloud.call(Service::Image, Method::DELETE, &format!("/images/{}", path.id), None).await?;
    Ok(see_other("/ui/admin/images"))
}
