//! Glance v2-compatible image API: images and their metadata, data upload
//! and download, tags, members (sharing), the interoperable import, and
//! the schemas clients read first.

mod data;
mod error;
mod images;
mod info;
mod members;
mod metadefs;
pub mod openapi;
mod schemas;
mod versions;

use std::sync::Arc;

use actix_web::web;
use chrono::NaiveDateTime;
use serde_json::{Map, Value, json};

use error::Result;
pub use error::{ImageError, error_body};
pub use images::patched_image;

use crate::common::auth::{Auth, AuthContext};
use crate::common::policy::Level;
use crate::config::{Config, ServiceKind};
use crate::storage::Storage;
use crate::storage::image_store::ImageStore;
use crate::storage::images::{FullImage, Image};

/// The caller, or Glance's 401.
pub type Caller = Auth<ImageError>;

/// What the image handlers share.
pub struct ImageState {
    /// Public root URL, no trailing slash.
    pub base: String,
    pub storage: Storage,
    pub store: Arc<dyn ImageStore>,
    /// Largest accepted image, bytes (`image_size_cap`).
    pub max_size: u64,
    /// Bytes of image data each project may hold; 0 = no limit.
    pub project_quota: u64,
    /// This process in transfer ownership (its conductor name).
    pub conductor: String,
    /// A conductor silent this long is gone; its transfers are settled.
    pub heartbeat_timeout: chrono::Duration,
    /// This API's OpenAPI document, served at `/openapi.json`.
    pub openapi: web::Data<crate::common::openapi::Document>,
}

impl ImageState {
    pub fn new(cfg: &Config, storage: Storage, store: Arc<dyn ImageStore>) -> ImageState {
        ImageState {
            base: cfg.public_url(ServiceKind::Image),
            storage,
            store,
            max_size: cfg.image.max_size,
            project_quota: cfg.image.project_quota,
            conductor: cfg.conductor_name(),
            heartbeat_timeout: chrono::Duration::seconds(cfg.heartbeat_timeout_s.max(1) as i64),
            openapi: web::Data::new(crate::common::openapi::Document::new(&openapi::document(
                &cfg.public_url(ServiceKind::Image),
            ))),
        }
    }
}

impl ImageState {
    /// Settles transfers a stop left unfinished: an upload (`saving`) or a
    /// stage (`uploading` without complete data) goes back to `queued` and
    /// its partial file goes; an import (`importing`) with its data staged
    /// is finished in the background. At start (`at_start`) that is this
    /// conductor's own (a previous run's) and every partial file no live
    /// transfer writes; later, those of conductors that stopped
    /// heartbeating. Each is settled by one process only.
    pub async fn recover(self: Arc<Self>, at_start: bool) {
        use crate::storage::images as db;
        let (me, dead_before) = (self.conductor.clone(), now() - self.heartbeat_timeout);
        let stuck = match self.storage.write(move |c| db::transfers_to_settle(c, &me, dead_before, at_start)).await {
            Ok(list) => list,
            Err(e) => {
                tracing::warn!(error = %e, "cannot look for interrupted image transfers");
                return;
            }
        };
        for img in stuck {
            let staged = self.store.local_path(&img.uuid, crate::storage::image_store::Area::Staging);
            let staged_ok = img.checksum.is_some() && staged.is_some_and(|p| p.exists());
            match img.status.as_str() {
                "importing" if staged_ok => {
                    let this = self.clone();
                    actix_web::rt::spawn(async move { data::finish_import(&this, &img.uuid).await });
                }
                "uploading" if staged_ok => {}
                _ => {
                    let area = if img.status == "saving" {
                        crate::storage::image_store::Area::Store
                    } else {
                        crate::storage::image_store::Area::Staging
                    };
                    let (store, id) = (self.store.clone(), img.uuid.clone());
                    let _ = web::block(move || store.discard_partial(&id, area)).await;
                    let (id, t, from) = (img.uuid.clone(), now(), img.status.clone());
                    let reset = self.storage.write(move |c| db::image_reset(c, &id, &[from.as_str()], t)).await;
                    tracing::info!(image = %img.uuid, status = %img.status, ok = reset.is_ok(), "interrupted image transfer returned to queued");
                }
            }
        }
        if at_start {
            self.discard_orphan_partials().await;
        }
    }

    /// Removes partial files that no live transfer of another process
    /// writes (a crash between the file and the status change leaves one).
    async fn discard_orphan_partials(&self) {
        use crate::storage::images as db;
        let store = self.store.clone();
        let Ok(Ok(partials)) = web::block(move || store.partials()).await else { return };
        for (image, area) in partials {
            let (me, alive_since, id) = (self.conductor.clone(), now() - self.heartbeat_timeout, image.clone());
            let live = self.storage.read(move |c| db::transfer_is_live_elsewhere(c, &id, &me, alive_since)).await;
            if matches!(live, Ok(false)) {
                let store = self.store.clone();
                let _ = web::block(move || store.discard_partial(&image, area)).await;
            }
        }
    }
}

pub fn configure(cfg: &mut web::ServiceConfig, state: Arc<ImageState>) {
    crate::common::openapi::serve_document(cfg, &state.openapi);
    cfg.app_data(web::Data::from(state));
    openapi::routes().register(cfg);
}

/// Most tags, members and custom properties one image may have
/// (Glance's `image_tag_quota`, `image_member_quota`, `image_property_quota`).
const TAG_LIMIT: usize = 128;
const MEMBER_LIMIT: i64 = 128;
const PROPERTY_LIMIT: usize = 128;

pub const DISK_FORMATS: &[&str] = &["ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop"];
pub const CONTAINER_FORMATS: &[&str] = &["ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"];
pub const VISIBILITIES: &[&str] = &["public", "private", "shared", "community"];

/// An image's status (Glance's state machine).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Queued,
    Saving,
    Uploading,
    Importing,
    Active,
    Deactivated,
    Killed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Saving => "saving",
            Status::Uploading => "uploading",
            Status::Importing => "importing",
            Status::Active => "active",
            Status::Deactivated => "deactivated",
            Status::Killed => "killed",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Some(match s {
            "queued" => Status::Queued,
            "saving" => Status::Saving,
            "uploading" => Status::Uploading,
            "importing" => Status::Importing,
            "active" => Status::Active,
            "deactivated" => Status::Deactivated,
            "killed" => Status::Killed,
            _ => return None,
        })
    }
}

/// The caller's project, when project-scoped.
fn project(ctx: &AuthContext) -> Option<&str> {
    ctx.project_id.as_deref()
}

/// May the caller see this image at all? (Not seeing it is a 404.)
fn can_see(ctx: &AuthContext, img: &Image, is_member: bool) -> bool {
    ctx.is_admin()
        || matches!(img.visibility.as_str(), "public" | "community")
        || (project(ctx).is_some() && img.owner.as_deref() == project(ctx))
        || (img.visibility == "shared" && is_member)
}

/// May the caller change this image (metadata, data, tags, members)?
fn can_modify(ctx: &AuthContext, img: &Image) -> bool {
    ctx.is_admin()
        || (project(ctx).is_some()
            && img.owner.as_deref() == project(ctx)
            && ctx.project_level().is_some_and(|l| l >= Level::Member))
}

/// Project members may create images; readers may not.
fn can_create(ctx: &AuthContext) -> bool {
    ctx.is_admin() || ctx.project_level().is_some_and(|l| l >= Level::Member)
}

/// Reads an image the caller may see, with its properties and tags; an
/// invisible or malformed id is a 404, as Glance answers (clients rely on
/// it for name lookups).
async fn visible_image(state: &ImageState, ctx: &AuthContext, id: &str) -> Result<FullImage> {
    if uuid::Uuid::try_parse(id).is_err() {
        return Err(ImageError::no_image(id));
    }
    let (uuid, project) = (id.to_string(), project(ctx).map(str::to_string));
    let (img, is_member) = state
        .storage
        .read(move |c| {
            let img = crate::storage::images::full_image(c, &uuid)?;
            let is_member = match &project {
                Some(p) if img.image.visibility == "shared" => crate::storage::images::member(c, &uuid, p).is_ok(),
                _ => false,
            };
            Ok((img, is_member))
        })
        .await?;
    if !can_see(ctx, &img.image, is_member) {
        return Err(ImageError::no_image(id));
    }
    Ok(img)
}

/// Glance's timestamp format: seconds, UTC, `Z`.
fn ts(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn now() -> NaiveDateTime {
    // Second precision, as shown, so that filters on shown values are exact.
    use chrono::Timelike;
    let n = chrono::Utc::now().naive_utc();
    n.with_nanosecond(0).unwrap_or(n)
}

/// The image as Glance shows it: custom properties flattened to the top
/// level beside the core attributes.
fn view(f: &FullImage) -> Value {
    let i = &f.image;
    let mut m = Map::new();
    for (k, v) in &f.properties {
        m.insert(k.clone(), Value::String(v.clone()));
    }
    let core = json!({
        "id": i.uuid,
        "name": i.name,
        "status": i.status,
        "visibility": i.visibility,
        "owner": i.owner,
        "disk_format": i.disk_format,
        "container_format": i.container_format,
        "size": i.size,
        "virtual_size": i.virtual_size,
        "checksum": i.checksum,
        "os_hash_algo": i.os_hash_algo,
        "os_hash_value": i.os_hash_value,
        "min_ram": i.min_ram,
        "min_disk": i.min_disk,
        "protected": i.protected,
        "os_hidden": i.os_hidden,
        "tags": f.tags,
        "created_at": ts(i.created_at),
        "updated_at": ts(i.updated_at),
        "self": format!("/v2/images/{}", i.uuid),
        "file": format!("/v2/images/{}/file", i.uuid),
        "schema": "/v2/schemas/image",
    });
    if let Value::Object(core) = core {
        m.extend(core);
    }
    if let Some(store) = &i.store {
        m.insert("stores".into(), Value::String(store.clone()));
    }
    Value::Object(m)
}

/// Parses a JSON request body; malformed JSON is a 400.
fn parse_body(body: &[u8]) -> Result<Value> {
    if body.is_empty() {
        return Err(ImageError::bad("Body expected in request."));
    }
    serde_json::from_slice(body).map_err(|e| ImageError::bad(format!("Malformed JSON in request body: {e}")))
}

/// The query string as ordered pairs (repeatable keys kept).
fn query_pairs(query: &str) -> Result<Vec<(String, String)>> {
    serde_urlencoded::from_str(query).map_err(|e| ImageError::bad(format!("Invalid query string: {e}")))
}
