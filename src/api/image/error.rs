//! Glance's error body: a flat `{"message", "code": "404 Not Found", "title"}`
//! (the code is a string), whatever went wrong.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::{Value, json};

use crate::common::auth::AuthError;
use crate::storage::StorageError;
use crate::storage::image_store::IngestError;

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("{0}")]
    BadRequest(String),
    #[error("The request you have made requires authentication.")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Gone(String),
    #[error("{0}")]
    TooLarge(String),
    /// Wrong request media type; carries the `Accept-Patch` value for PATCH.
    #[error("{0}")]
    UnsupportedMediaType(String, Option<&'static str>),
    #[error("{0}")]
    RangeNotSatisfiable(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("An unexpected error prevented the server from fulfilling your request.")]
    Internal(String),
}

pub type Result<T> = std::result::Result<T, ImageError>;

impl ImageError {
    pub fn no_image(id: &str) -> Self {
        ImageError::NotFound(format!("No image found with ID {id}"))
    }

    pub fn bad(msg: impl Into<String>) -> Self {
        ImageError::BadRequest(msg.into())
    }

    pub fn forbidden(msg: impl Into<String>) -> Self {
        ImageError::Forbidden(msg.into())
    }
}

/// The body Glance sends for `status`.
pub fn error_body(status: StatusCode, message: &str) -> Value {
    let reason = status.canonical_reason().unwrap_or("Error");
    json!({"message": message, "code": format!("{} {reason}", status.as_u16()), "title": reason})
}

impl ResponseError for ImageError {
    fn status_code(&self) -> StatusCode {
        match self {
            ImageError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ImageError::Unauthorized => StatusCode::UNAUTHORIZED,
            ImageError::Forbidden(_) => StatusCode::FORBIDDEN,
            ImageError::NotFound(_) => StatusCode::NOT_FOUND,
            ImageError::Conflict(_) => StatusCode::CONFLICT,
            ImageError::Gone(_) => StatusCode::GONE,
            ImageError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ImageError::UnsupportedMediaType(..) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ImageError::RangeNotSatisfiable(_) => StatusCode::RANGE_NOT_SATISFIABLE,
            ImageError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ImageError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if let ImageError::Internal(detail) = self {
            tracing::error!(detail = %detail, "image request failed");
        }
        let mut res = HttpResponse::build(status);
        if let ImageError::UnsupportedMediaType(_, Some(accept)) = self {
            res.insert_header(("Accept-Patch", *accept));
        }
        res.json(error_body(status, &self.to_string()))
    }
}

impl From<AuthError> for ImageError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Unavailable => ImageError::Unavailable("The identity data is unavailable.".into()),
            _ => ImageError::Unauthorized,
        }
    }
}

impl From<StorageError> for ImageError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::NotFound { kind: "image", id } => ImageError::no_image(&id),
            StorageError::NotFound { kind, id } => ImageError::NotFound(format!("No {kind} found with ID {id}")),
            StorageError::Duplicate(m) | StorageError::Conflict(m) => ImageError::Conflict(m),
            StorageError::Unavailable(m) => ImageError::Unavailable(format!("The database is unavailable: {m}")),
            StorageError::InvalidText => ImageError::BadRequest(e.to_string()),
            StorageError::Database(m) => ImageError::Internal(m),
            StorageError::Refused { message, .. } => ImageError::Conflict(message),
        }
    }
}

impl From<IngestError> for ImageError {
    fn from(e: IngestError) -> Self {
        match e {
            IngestError::TooLarge(_) => ImageError::TooLarge(format!("The incoming image is too large: {e}")),
            IngestError::Cut | IngestError::Stream(_) => ImageError::BadRequest(e.to_string()),
            IngestError::Io(io) => ImageError::Unavailable(format!("Image storage failed: {io}")),
        }
    }
}
