//! Keystone v3 identity API.

mod catalog;
mod error;
mod grants;
pub mod openapi;
mod resources;
mod tokens;
mod versions;

use std::sync::Arc;

use actix_web::{HttpRequest, web};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

pub use error::IdentityError;
use error::Result;

use crate::config::{Config, ServiceKind};

/// What the identity handlers need besides storage and the authenticator.
pub struct IdentityState {
    /// Public root URL of this service, no trailing slash.
    pub base: String,
    pub token_ttl: chrono::Duration,
    /// This API's OpenAPI document, served at `/openapi.json`.
    pub openapi: web::Data<crate::common::openapi::Document>,
}

impl IdentityState {
    pub fn new(cfg: &Config) -> IdentityState {
        IdentityState {
            base: cfg.public_url(ServiceKind::Identity),
            token_ttl: chrono::Duration::seconds(cfg.token.expiration as i64),
            openapi: web::Data::new(crate::common::openapi::Document::new(&openapi::document(
                &cfg.public_url(ServiceKind::Identity),
            ))),
        }
    }

    fn link(&self, path: &str) -> String {
        format!("{}/v3/{}", self.base, path)
    }

    /// `links` of a collection: self is the request's own URL.
    fn collection_links(&self, req: &HttpRequest) -> Value {
        let q = req.query_string();
        let this = if q.is_empty() {
            format!("{}{}", self.base, req.path())
        } else {
            format!("{}{}?{}", self.base, req.path(), q)
        };
        json!({"self": this, "previous": null, "next": null})
    }
}

pub fn configure(cfg: &mut web::ServiceConfig, state: Arc<IdentityState>) {
    crate::common::openapi::serve_document(cfg, &state.openapi);
    cfg.app_data(web::Data::from(state));
    openapi::routes().register(cfg);
}

/// The message of a 4xx/5xx answer made outside a handler (unknown route,
/// wrong method, body too large), in Keystone's envelope.
pub fn error_body(status: actix_web::http::StatusCode, message: &str) -> Value {
    json!({"error": {"code": status.as_u16(), "message": message,
        "title": status.canonical_reason().unwrap_or("Error")}})
}

const BAD_JSON: &str = "Expecting to find valid JSON in request body. The server could not comply with the \
request since it is either malformed or otherwise incorrect. The client is assumed to be in error.";

/// Parses a JSON body into `T`; malformed JSON and schema errors are 400s.
fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T> {
    let v: Value = serde_json::from_slice(body).map_err(|_| IdentityError::BadRequest(BAD_JSON.into()))?;
    serde_json::from_value(v).map_err(|e| IdentityError::BadRequest(format!("Invalid input for field: {e}")))
}

/// Takes the object under `key` of a JSON body (`{"project": {...}}`).
fn parse_wrapped(body: &[u8], key: &str) -> Result<serde_json::Map<String, Value>> {
    let v: Value = serde_json::from_slice(body).map_err(|_| IdentityError::BadRequest(BAD_JSON.into()))?;
    match v {
        Value::Object(mut m) => match m.remove(key) {
            Some(Value::Object(inner)) => Ok(inner),
            Some(_) => Err(IdentityError::BadRequest(format!("Invalid input for field '{key}': not an object"))),
            None => Err(IdentityError::BadRequest(format!("Invalid input for field: '{key}' is a required property"))),
        },
        _ => Err(IdentityError::BadRequest(BAD_JSON.into())),
    }
}

/// Query-string booleans the way Keystone reads them.
fn query_bool(v: &str) -> bool {
    !matches!(v.to_ascii_lowercase().as_str(), "0" | "false" | "f" | "no" | "n" | "off")
}

fn now() -> chrono::NaiveDateTime {
    chrono::Utc::now().naive_utc()
}

fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Keystone's timestamp format: microseconds and a `Z`.
fn timestamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}
