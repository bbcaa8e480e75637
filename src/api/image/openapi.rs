//! The image API's OpenAPI document: its routes, the shapes they share
//! and what every operation accepts.

use std::collections::HashMap;

use utoipa::ToSchema;
use utoipa::openapi::OpenApi;

use crate::common::openapi::{ErrorDoc, Routes, ServiceDoc};

/// Every route of the image API, in matching order.
pub fn routes() -> Routes {
    let mut r = Routes::new();
    super::versions::routes(&mut r);
    super::schemas::routes(&mut r);
    super::info::routes(&mut r);
    super::metadefs::routes(&mut r);
    super::data::routes(&mut r);
    super::members::routes(&mut r);
    super::images::routes(&mut r);
    r
}

/// The document of the image API.
pub fn document(server: &str) -> OpenApi {
    routes().document(service_doc(), server)
}

fn service_doc() -> ServiceDoc {
    ServiceDoc {
        title: "ironbark image (Glance v2)",
        version: "2.15".to_string(),
        description: "The OpenStack Image API v2: images, streamed data upload and download, tags, members, image import (glance-direct), schemas, discovery and the metadata definitions catalog.",
        error: ErrorDoc::of::<Error>("application/json"),
        headers: vec![],
    }
}

/// Glance's error body.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Error {
    message: String,
    /// Status and reason, e.g. `404 Not Found`.
    code: String,
    /// The status's reason phrase.
    title: String,
}

/// An image's status.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum ImageStatus {
    Queued,
    Saving,
    Uploading,
    Importing,
    Active,
    Deactivated,
    Killed,
}

/// Who sees an image: its owner only (`private`), its members too
/// (`shared`), or everyone (`public`, or `community`, unlisted).
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum Visibility {
    Public,
    Private,
    Shared,
    Community,
}

#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum DiskFormat {
    Ami,
    Ari,
    Aki,
    Vhd,
    Vhdx,
    Vmdk,
    Raw,
    Qcow2,
    Vdi,
    Iso,
    Ploop,
}

#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum ContainerFormat {
    Ami,
    Ari,
    Aki,
    Bare,
    Ovf,
    Ova,
    Docker,
    Compressed,
}

/// An image: its core attributes and, beside them, its custom properties
/// (every other key, a string).
#[derive(ToSchema)]
#[schema(as = Image)]
#[allow(dead_code)]
pub struct ImageDoc {
    id: uuid::Uuid,
    #[schema(required = true)]
    name: Option<String>,
    status: ImageStatus,
    visibility: Visibility,
    /// The owning project.
    #[schema(required = true)]
    owner: Option<String>,
    #[schema(required = true)]
    disk_format: Option<DiskFormat>,
    #[schema(required = true)]
    container_format: Option<ContainerFormat>,
    /// Bytes of data; null until data is uploaded.
    #[schema(required = true)]
    size: Option<i64>,
    /// The size of the disk the data holds, when known.
    #[schema(required = true)]
    virtual_size: Option<i64>,
    /// MD5 of the data.
    #[schema(required = true)]
    checksum: Option<String>,
    #[schema(required = true)]
    os_hash_algo: Option<String>,
    #[schema(required = true)]
    os_hash_value: Option<String>,
    /// MiB of RAM a server booting the image needs.
    min_ram: i32,
    /// GiB of disk a server booting the image needs.
    min_disk: i32,
    /// A protected image cannot be deleted.
    protected: bool,
    /// Hidden from lists unless `os_hidden=true` is asked for.
    os_hidden: bool,
    tags: Vec<String>,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
    /// `/v2/images/{id}`.
    #[serde(rename = "self")]
    self_: String,
    /// `/v2/images/{id}/file`.
    file: String,
    /// `/v2/schemas/image`.
    schema: String,
    /// The store holding the data, once it has some.
    #[serde(default)]
    stores: String,
    #[serde(flatten)]
    properties: HashMap<String, String>,
}

/// A page of images; `next` (the next page's URL) when this one is full.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ImageList {
    images: Vec<ImageDoc>,
    first: String,
    #[serde(default)]
    next: String,
    schema: String,
}

/// The attributes an image is created with; every other key is a custom
/// property (a string).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ImageCreate {
    /// The new image's id (a new one when absent).
    #[serde(default)]
    id: uuid::Uuid,
    #[schema(max_length = 255)]
    name: Option<String>,
    /// `public` is for admins; `shared` by default.
    #[serde(default)]
    visibility: Visibility,
    /// Another project than the caller's is for admins.
    #[schema(max_length = 255)]
    owner: Option<String>,
    disk_format: Option<DiskFormat>,
    container_format: Option<ContainerFormat>,
    #[schema(minimum = 0, maximum = 2147483647)]
    #[serde(default)]
    min_ram: i32,
    #[schema(minimum = 0, maximum = 2147483647)]
    #[serde(default)]
    min_disk: i32,
    #[serde(default)]
    protected: bool,
    #[serde(default)]
    os_hidden: bool,
    /// At most 128, each of at most 255 characters.
    #[serde(default)]
    #[schema(max_items = 128)]
    tags: Vec<String>,
    #[serde(flatten)]
    properties: HashMap<String, String>,
}

/// One change of an image PATCH (`application/openstack-images-v2.1-json-patch`).
/// The path names one attribute, e.g. `/name`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ImagePatchOp {
    op: PatchKind,
    /// A JSON pointer to one attribute, e.g. `/name`.
    path: String,
    /// Required for `add` and `replace`.
    #[schema(value_type = Value)]
    #[serde(default)]
    value: serde_json::Value,
}

#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum PatchKind {
    Add,
    Replace,
    Remove,
}

/// An image PATCH in the RFC 6902 form.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ImagePatch(Vec<ImagePatchOp>);

/// One change of an image PATCH in the draft-4 form
/// (`application/openstack-images-v2.0-json-patch`): exactly one of `add`,
/// `replace`, `remove`, holding the path.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ImagePatchDraft4Op {
    #[serde(default)]
    add: String,
    #[serde(default)]
    replace: String,
    #[serde(default)]
    remove: String,
    #[schema(value_type = Value)]
    #[serde(default)]
    value: serde_json::Value,
}

/// An image PATCH in the draft-4 form.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ImagePatchDraft4(Vec<ImagePatchDraft4Op>);

/// A member's answer to the sharing of an image.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum MemberStatus {
    Pending,
    Accepted,
    Rejected,
}

/// A project an image is shared with.
#[derive(ToSchema)]
#[schema(as = Member)]
#[allow(dead_code)]
pub struct MemberDoc {
    image_id: uuid::Uuid,
    /// The member project.
    member_id: String,
    status: MemberStatus,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
    /// `/v2/schemas/member`.
    schema: String,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct MemberList {
    members: Vec<MemberDoc>,
    schema: String,
}

/// Shares the image with a project.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct MemberCreate {
    /// The project's id.
    #[schema(min_length = 1, max_length = 255)]
    member: String,
}

/// The member's answer.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct MemberUpdate {
    status: MemberStatus,
}

/// A link.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Link {
    /// `self`.
    rel: String,
    href: String,
}

#[derive(ToSchema)]
#[schema(rename_all = "UPPERCASE")]
#[allow(dead_code)]
pub enum VersionStatus {
    Current,
    Supported,
}

/// An API version.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Version {
    /// E.g. `v2.15`.
    id: String,
    status: VersionStatus,
    links: Vec<Link>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct VersionList {
    versions: Vec<Version>,
}

/// A JSON schema as Glance serves it.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct JsonSchema {
    name: String,
    #[schema(value_type = Object)]
    properties: serde_json::Value,
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    links: Vec<serde_json::Value>,
    /// `false` or the schema of custom properties.
    #[serde(default, rename = "additionalProperties")]
    #[schema(value_type = Value)]
    additional_properties: serde_json::Value,
    /// The attributes an object must have.
    #[serde(default)]
    required: Vec<String>,
    /// Schemas the properties refer to.
    #[serde(default)]
    #[schema(value_type = Object)]
    definitions: serde_json::Value,
}

/// Starts the import of staged data.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ImportRequest {
    method: ImportMethod,
    /// The stores to import to; only this service's own.
    #[serde(default)]
    stores: Option<Vec<String>>,
    #[serde(default)]
    all_stores: Option<bool>,
    #[serde(default)]
    all_stores_must_succeed: Option<bool>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ImportMethod {
    /// `glance-direct`, the one method on offer.
    name: String,
    /// The source of `web-download` (not on offer).
    #[serde(default)]
    uri: Option<String>,
}
