//! The HTTP front-ends, one per OpenStack service. An API module never
//! imports another: shared pieces live in `common`.

pub mod baremetal;
pub mod compute;
pub mod contrail;
pub mod identity;
pub mod image;
pub mod network;

use actix_web::HttpResponse;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers};
use serde_json::Value;

use crate::config::{Config, ServiceKind};

/// Every service's OpenAPI document, as its port serves it at
/// `/openapi.json`, with the public URLs of `cfg`.
pub fn documents(cfg: &Config) -> Vec<(ServiceKind, utoipa::openapi::OpenApi)> {
    vec![
        (ServiceKind::Identity, identity::openapi::document(&cfg.public_url(ServiceKind::Identity))),
        (ServiceKind::Baremetal, baremetal::openapi::document(&cfg.public_url(ServiceKind::Baremetal))),
        (ServiceKind::Compute, compute::openapi::document(&cfg.public_url(ServiceKind::Compute))),
        (ServiceKind::Image, image::openapi::document(&cfg.public_url(ServiceKind::Image))),
        (ServiceKind::Network, network::openapi::document(&cfg.public_url(ServiceKind::Network))),
        (ServiceKind::Contrail, contrail::openapi::document(&cfg.public_url(ServiceKind::Contrail))),
    ]
}

/// Writes `<dir>/openapi/<service>.json` and `<dir>/reference/<service>.md`
/// for every service, with the default public URLs (what `api-ref/` holds).
pub fn write_reference(dir: &std::path::Path) -> anyhow::Result<Vec<std::path::PathBuf>> {
    let mut written = Vec::new();
    for sub in ["openapi", "reference"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    for (kind, doc) in documents(&Config::default()) {
        let name = kind.catalog_type();
        let json = doc.to_pretty_json()?;
        let value: Value = serde_json::from_str(&json)?;
        let files = [
            (dir.join("openapi").join(format!("{name}.json")), format!("{json}\n")),
            (dir.join("reference").join(format!("{name}.md")), crate::common::openapi::markdown(&value)),
        ];
        for (path, text) in files {
            std::fs::write(&path, text)?;
            written.push(path);
        }
    }
    Ok(written)
}

fn default_message(status: StatusCode) -> &'static str {
    match status {
        StatusCode::NOT_FOUND => "The resource could not be found.",
        StatusCode::METHOD_NOT_ALLOWED => "The method is not allowed for the requested URL.",
        StatusCode::PAYLOAD_TOO_LARGE => "Request is too large.",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "The request media type is not supported.",
        StatusCode::BAD_REQUEST => "The request could not be understood.",
        s if s.is_server_error() => "An unexpected error prevented the server from fulfilling your request.",
        _ => "The request could not be completed.",
    }
}

/// Rewrites error responses that did not come from a handler (unknown
/// route, wrong method, body too large, bad query string) into the
/// service's own JSON envelope, keeping their status and headers.
pub fn json_errors<B: MessageBody + 'static>(render: fn(StatusCode, &str) -> Value) -> ErrorHandlers<B> {
    ErrorHandlers::new().default_handler(move |res: ServiceResponse<B>| {
        // JSON errors are the handlers' own; HTML ones are the web console's pages
        let own =
            res.response().headers().get(CONTENT_TYPE).is_some_and(|v| {
                v.as_bytes().starts_with(b"application/json") || v.as_bytes().starts_with(b"text/html")
            });
        if own {
            return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
        }
        let status = res.status();
        let (req, old) = res.into_parts();
        let mut new = HttpResponse::build(status).json(render(status, default_message(status)));
        for (k, v) in old.headers() {
            if k != CONTENT_TYPE && k != CONTENT_LENGTH {
                new.headers_mut().insert(k.clone(), v.clone());
            }
        }
        let res: ServiceResponse<EitherBody<B>> = ServiceResponse::new(req, new).map_into_right_body();
        Ok(ErrorHandlerResponse::Response(res))
    })
}
