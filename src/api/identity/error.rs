//! Keystone's error envelope: `{"error": {"code", "message", "title"}}`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::common::auth::AuthError;
use crate::storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("You are not authorized to perform the requested action: {0}.")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("An unexpected error prevented the server from fulfilling your request.")]
    Internal(String),
}

pub type Result<T> = std::result::Result<T, IdentityError>;

impl IdentityError {
    pub fn not_found(kind: &str, id: &str) -> Self {
        IdentityError::NotFound(format!("Could not find {kind}: {id}."))
    }

    pub fn validation(detail: impl std::fmt::Display) -> Self {
        IdentityError::BadRequest(format!("Invalid input for field '{detail}'"))
    }

    pub fn unauthorized() -> Self {
        IdentityError::Unauthorized("The request you have made requires authentication.".into())
    }

    fn title(&self) -> &'static str {
        match self {
            IdentityError::BadRequest(_) => "Bad Request",
            IdentityError::Unauthorized(_) => "Unauthorized",
            IdentityError::Forbidden(_) => "Forbidden",
            IdentityError::NotFound(_) => "Not Found",
            IdentityError::Conflict(_) => "Conflict",
            IdentityError::Unavailable(_) => "Service Unavailable",
            IdentityError::Internal(_) => "Internal Server Error",
        }
    }
}

impl ResponseError for IdentityError {
    fn status_code(&self) -> StatusCode {
        match self {
            IdentityError::BadRequest(_) => StatusCode::BAD_REQUEST,
            IdentityError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            IdentityError::Forbidden(_) => StatusCode::FORBIDDEN,
            IdentityError::NotFound(_) => StatusCode::NOT_FOUND,
            IdentityError::Conflict(_) => StatusCode::CONFLICT,
            IdentityError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            IdentityError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if let IdentityError::Internal(detail) = self {
            tracing::error!(detail = %detail, "identity request failed");
        }
        let mut res = HttpResponse::build(status);
        res.insert_header(("Vary", "X-Auth-Token"));
        res.json(json!({"error": {"code": status.as_u16(), "message": self.to_string(), "title": self.title()}}))
    }
}

impl From<AuthError> for IdentityError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Unavailable => IdentityError::Unavailable("The identity database is unavailable.".into()),
            _ => IdentityError::unauthorized(),
        }
    }
}

impl From<StorageError> for IdentityError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::NotFound { kind, id } => IdentityError::not_found(kind, &id),
            StorageError::Duplicate(what) => {
                IdentityError::Conflict(format!("Conflict occurred attempting to store {what}."))
            }
            StorageError::Conflict(what) => IdentityError::Conflict(what),
            StorageError::Unavailable(m) => {
                tracing::warn!(error = %m, "identity database unavailable");
                IdentityError::Unavailable("The identity database is unavailable.".into())
            }
            StorageError::InvalidText => IdentityError::BadRequest(e.to_string()),
            StorageError::Database(m) => IdentityError::Internal(m),
            StorageError::Refused { message, .. } => IdentityError::Conflict(message),
        }
    }
}
