//! JSON schemas of images, members and metadata definitions
//! (`/v2/schemas/...`). glanceclient
//! reads the image schema before every command and validates with it.

use std::sync::LazyLock;

use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

use super::Caller;

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

async fn image(_: Caller) -> HttpResponse {
    HttpResponse::Ok().json(&*IMAGE)
}

async fn images(_: Caller) -> HttpResponse {
    HttpResponse::Ok().json(collection("images", &IMAGE))
}

async fn member(_: Caller) -> HttpResponse {
    HttpResponse::Ok().json(&*MEMBER)
}

async fn members(_: Caller) -> HttpResponse {
    HttpResponse::Ok().json(collection("members", &MEMBER))
}

async fn namespace(_: Caller) -> HttpResponse {
    HttpResponse::Ok().json(&METADEFS["namespace"])
}

async fn namespaces(_: Caller) -> HttpResponse {
    HttpResponse::Ok().json(collection("namespaces", &METADEFS["namespace"]))
}

async fn resource_type(_: Caller) -> HttpResponse {
    HttpResponse::Ok().json(&METADEFS["resource_type"])
}

async fn resource_types(_: Caller) -> HttpResponse {
    HttpResponse::Ok().json(collection("resource_type_associations", &METADEFS["resource_type"]))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v2/schemas/image", web::get().to(image))
        .route("/v2/schemas/images", web::get().to(images))
        .route("/v2/schemas/member", web::get().to(member))
        .route("/v2/schemas/members", web::get().to(members))
        .route("/v2/schemas/metadefs/namespace", web::get().to(namespace))
        .route("/v2/schemas/metadefs/namespaces", web::get().to(namespaces))
        .route("/v2/schemas/metadefs/resource_type", web::get().to(resource_type))
        .route("/v2/schemas/metadefs/resource_types", web::get().to(resource_types));
}
