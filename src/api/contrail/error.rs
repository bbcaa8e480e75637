//! Contrail's API server (bottle) answers errors with the status and a
//! plain-text message; `vnc_api` maps the status to its exceptions
//! (404 → `NoIdError`, 403 → `PermissionDenied`) and keeps the text.

use actix_web::body::MessageBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers};
use actix_web::{HttpResponse, ResponseError};

use crate::common::auth::AuthError;
use crate::storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum ContrailError {
    #[error("{0}")]
    BadRequest(String),
    #[error("Authentication required")]
    Unauthorized,
    #[error("Permission denied: the fabric view needs the admin role")]
    Forbidden,
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("Internal server error")]
    Internal(String),
}

pub type Result<T> = std::result::Result<T, ContrailError>;

impl ResponseError for ContrailError {
    fn status_code(&self) -> StatusCode {
        match self {
            ContrailError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ContrailError::Unauthorized => StatusCode::UNAUTHORIZED,
            ContrailError::Forbidden => StatusCode::FORBIDDEN,
            ContrailError::NotFound(_) => StatusCode::NOT_FOUND,
            ContrailError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ContrailError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ContrailError::Internal(detail) = self {
            tracing::error!(detail = %detail, "contrail request failed");
        }
        text(self.status_code(), &self.to_string())
    }
}

fn text(status: StatusCode, message: &str) -> HttpResponse {
    HttpResponse::build(status).content_type("text/plain; charset=utf-8").body(message.to_string())
}

impl From<AuthError> for ContrailError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Unavailable => ContrailError::Unavailable("The identity data is unavailable.".into()),
            _ => ContrailError::Unauthorized,
        }
    }
}

impl From<StorageError> for ContrailError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Unavailable(m) => ContrailError::Unavailable(format!("The database is unavailable: {m}")),
            StorageError::InvalidText => ContrailError::BadRequest(e.to_string()),
            other => ContrailError::Internal(other.to_string()),
        }
    }
}

/// Rewrites error responses made outside a handler (unknown route, wrong
/// method, bad body) into plain text, keeping their status and headers.
pub fn text_errors<B: MessageBody + 'static>() -> ErrorHandlers<B> {
    ErrorHandlers::new().default_handler(|res: ServiceResponse<B>| {
        let is_text =
            res.response().headers().get(CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"text/plain"));
        if is_text {
            return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
        }
        let status = res.status();
        let (req, old) = res.into_parts();
        let message = match status {
            StatusCode::NOT_FOUND => "Not Found",
            StatusCode::METHOD_NOT_ALLOWED => "Method Not Allowed: this endpoint is read-only",
            s => s.canonical_reason().unwrap_or("Error"),
        };
        let mut new = text(status, message);
        for (k, v) in old.headers() {
            if k != CONTENT_TYPE && k != CONTENT_LENGTH {
                new.headers_mut().insert(k.clone(), v.clone());
            }
        }
        Ok(ErrorHandlerResponse::Response(ServiceResponse::new(req, new).map_into_right_body()))
    })
}
