//! JSON schemas of images, members and metadata definitions
//! (`/v2/schemas/...`). glanceclient
//! reads the image schema before every command and validates with it.

use std::sync::LazyLock;

use actix_web::HttpResponse;
use serde_json::{Value, json};

use super::Caller;
use super::openapi::JsonSchema;
use crate::common::openapi::Routes;

/// The image schema, property for property as Glance serves it.
pub static IMAGE: LazyLock<Value> =
    LazyLock::new(|| serde_json::from_str(include_str!("schema-image.json")).expect("valid image schema"));

/// The metadata definitions schemas: `namespace` and `resource_type`.
static METADEFS: LazyLock<Value> =
    LazyLock::new(|| serde_json::from_str(include_str!("schema-metadefs.json")).expect("valid metadefs schemas"));

static MEMBER: LazyLock<Value> = LazyLock::new(|| {
    json!({
        "name": "member",
        "properties": {
            "member_id": {"type": "string", "description": "An identifier for the image member (tenantId)"},
            "image_id": {"type": "string", "description": "An identifier for the image",
                "pattern": "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$"},
            "created_at": {"type": "string", "description": "Date and time of image member creation"},
            "updated_at": {"type": "string", "description": "Date and time of last modification of image member"},
            "status": {"type": "string", "description": "The status of this image member",
                "enum": ["pending", "accepted", "rejected"]},
            "schema": {"readOnly": true, "type": "string"}
        },
        "additionalProperties": false
    })
});

fn collection(name: &str, item: &Value) -> Value {
    json!({
        "name": name,
        "properties": {
            name: {"type": "array", "items": item},
            "first": {"type": "string"},
            "next": {"type": "string"},
            "schema": {"type": "string"}
        },
        "links": [
            {"rel": "first", "href": "{first}"},
            {"rel": "next", "href": "{next}"},
            {"rel": "describedby", "href": "{schema}"}
        ]
    })
}

/// The image schema.
#[utoipa::path(get, path = "/v2/schemas/image", tag = "schemas",
    responses((status = 200, description = "The schema of an image.", body = JsonSchema)))]
async fn image(_: Caller) -> HttpResponse {
    HttpResponse::Ok().json(&*IMAGE)
}

/// The image list schema.
#[utoipa::path(get, path = "/v2/schemas/images", tag = "schemas",
    responses((status = 200, description = "The schema of a list of images.", body = JsonSchema)))]
async fn images(_: Caller) -> HttpResponse {
    HttpResponse::Ok().json(collection("images", &IMAGE))
}

/// The image member schema.
#[utoipa::path(get, path = "/v2/schemas/member", tag = "schemas",
    responses((status = 200, description = "The schema of an image member.", body = JsonSchema)))]
async fn member(_: Caller) -> HttpResponse {
    HttpResponse::Ok().json(&*MEMBER)
}

/// The image member list schema.
#[utoipa::path(get, path = "/v2/schemas/members", tag = "schemas",
    responses((status = 200, description = "The schema of a list of image members.", body = JsonSchema)))]
async fn members(_: Caller) -> HttpResponse {
    HttpResponse::Ok().json(collection("members", &MEMBER))
}

/// The metadata definition namespace schema.
#[utoipa::path(get, path = "/v2/schemas/metadefs/namespace", tag = "schemas",
    responses((status = 200, description = "The schema of a namespace.", body = JsonSchema)))]
async fn namespace(_: Caller) -> HttpResponse {
    HttpResponse::Ok().json(&METADEFS["namespace"])
}

/// The metadata definition namespace list schema.
#[utoipa::path(get, path = "/v2/schemas/metadefs/namespaces", tag = "schemas",
    responses((status = 200, description = "The schema of a list of namespaces.", body = JsonSchema)))]
async fn namespaces(_: Caller) -> HttpResponse {
    HttpResponse::Ok().json(collection("namespaces", &METADEFS["namespace"]))
}

/// The metadata definition resource type association schema.
#[utoipa::path(get, path = "/v2/schemas/metadefs/resource_type", tag = "schemas",
    responses((status = 200, description = "The schema of a resource type association.", body = JsonSchema)))]
async fn resource_type(_: Caller) -> HttpResponse {
    HttpResponse::Ok().json(&METADEFS["resource_type"])
}

/// The metadata definition resource type association list schema.
#[utoipa::path(get, path = "/v2/schemas/metadefs/resource_types", tag = "schemas",
    responses((status = 200, description = "The schema of a list of resource type associations.", body = JsonSchema)))]
async fn resource_types(_: Caller) -> HttpResponse {
    HttpResponse::Ok().json(collection("resource_type_associations", &METADEFS["resource_type"]))
}

pub fn routes(r: &mut Routes) {
    crate::routes!(r; image, images, member, members, namespace, namespaces, resource_type, resource_types);
}
