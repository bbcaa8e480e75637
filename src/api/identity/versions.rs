//! Version discovery: `GET /` (300) and `GET /v3`.

use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

use super::IdentityState;

fn version(state: &IdentityState) -> Value {
    json!({
        "id": "v3.14",
        "status": "stable",
        "updated": "2020-04-07T00:00:00Z",
        "links": [{"rel": "self", "href": format!("{}/v3/", state.base)}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}],
    })
}

async fn root(state: web::Data<IdentityState>) -> HttpResponse {
    HttpResponse::MultipleChoices()
        .insert_header(("Location", format!("{}/v3/", state.base)))
        .json(json!({"versions": {"values": [version(&state)]}}))
}

async fn v3(state: web::Data<IdentityState>) -> HttpResponse {
    HttpResponse::Ok().json(json!({"version": version(&state)}))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(root)).route("/v3", web::get().to(v3)).route("/v3/", web::get().to(v3));
}
