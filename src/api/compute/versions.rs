//! Version discovery: `GET /` lists v2.0 (deprecated) and v2.1; `GET /v2.1`
//! is the v2.1 document keystoneauth reads its microversion range from.
//! Both are unauthenticated.

use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

use super::{ComputeState, MAX, MIN};

fn v21(base: &str) -> Value {
    json!({"id": "v2.1", "status": "CURRENT", "version": MAX.to_string(), "min_version": MIN.to_string(),
           "updated": "2013-07-23T11:33:21Z", "links": [{"rel": "self", "href": format!("{base}/v2.1/")}]})
}

async fn root(state: web::Data<ComputeState>) -> HttpResponse {
    let base = &state.base;
    HttpResponse::Ok().json(json!({"versions": [
        {"id": "v2.0", "status": "DEPRECATED", "version": "", "min_version": "", "updated": "2025-07-04T12:00:00Z",
         "links": [{"rel": "self", "href": format!("{base}/v2/")}]},
        v21(base),
    ]}))
}

async fn version(state: web::Data<ComputeState>) -> HttpResponse {
    let mut v = v21(&state.base);
    if let Some(links) = v["links"].as_array_mut() {
        links.push(json!({"rel": "describedby", "type": "text/html", "href": "http://docs.openstack.org/"}));
    }
    v["media-types"] =
        json!([{"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2.1"}]);
    HttpResponse::Ok().json(json!({ "version": v }))
}

/// `GET /`.
pub fn configure_root(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(root));
}

/// `GET /v2.1` and `/v2.1/` (inside the `/v2.1` scope).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("", web::get().to(version)).route("/", web::get().to(version));
}
