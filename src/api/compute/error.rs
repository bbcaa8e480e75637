//! Nova's error envelope: `{"<faultKey>": {"code": N, "message": "…"}}`,
//! the key chosen by status (`badRequest`, `forbidden`, `itemNotFound`,
//! `conflictingRequest`, `overLimit`, `computeFault`). A 401 is worded as
//! keystonemiddleware words it (Keystone's `{"error": …}`).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::{Value, json};

use crate::common::auth::AuthError;
use crate::storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum ComputeError {
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
    /// 403 `forbidden` for a quota (Nova answers keypair quota this way).
    #[error("{0}")]
    QuotaExceeded(String),
    /// 413 `overLimit`.
    #[error("{0}")]
    OverLimit(String),
    /// 406 `computeFault` (an unsupported microversion).
    #[error("{0}")]
    NotAcceptable(String),
    #[error("{0}")]
    Unavailable(String),
    #[error(
        "Unexpected API Error. Please report this at http://bugs.launchpad.net/nova/ and attach the Nova API log if possible."
    )]
    Internal(String),
}

pub type Result<T> = std::result::Result<T, ComputeError>;

impl ComputeError {
    pub fn bad(msg: impl Into<String>) -> Self {
        ComputeError::BadRequest(msg.into())
    }

    /// Nova's policy refusal for `rule` (e.g. `os-flavor-manage:create`).
    pub fn policy(rule: &str) -> Self {
        ComputeError::Forbidden(format!("Policy doesn't allow os_compute_api:{rule} to be performed."))
    }

    pub fn flavor_not_found(id: &str) -> Self {
        ComputeError::NotFound(format!("Flavor {id} could not be found."))
    }

    /// The JSON-schema style refusal of one attribute.
    pub fn invalid(field: &str, value: &Value, reason: impl std::fmt::Display) -> Self {
        ComputeError::BadRequest(format!("Invalid input for field/attribute {field}. Value: {value}. {reason}"))
    }
}

fn fault_key(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "badRequest",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "itemNotFound",
        405 => "badMethod",
        409 => "conflictingRequest",
        413 | 429 => "overLimit",
        415 => "badMediaType",
        501 => "notImplemented",
        503 => "serviceUnavailable",
        _ => "computeFault",
    }
}

/// The body Nova sends for `status`.
pub fn error_body(status: StatusCode, message: &str) -> Value {
    json!({ fault_key(status): {"code": status.as_u16(), "message": message} })
}

impl ResponseError for ComputeError {
    fn status_code(&self) -> StatusCode {
        match self {
            ComputeError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ComputeError::Unauthorized => StatusCode::UNAUTHORIZED,
            ComputeError::Forbidden(_) | ComputeError::QuotaExceeded(_) => StatusCode::FORBIDDEN,
            ComputeError::NotFound(_) => StatusCode::NOT_FOUND,
            ComputeError::Conflict(_) => StatusCode::CONFLICT,
            ComputeError::OverLimit(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ComputeError::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            ComputeError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ComputeError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if let ComputeError::Internal(detail) = self {
            tracing::error!(detail = %detail, "compute request failed");
        }
        let body = match self {
            ComputeError::Unauthorized => {
                json!({"error": {"code": 401, "title": "Unauthorized", "message": self.to_string()}})
            }
            _ => error_body(status, &self.to_string()),
        };
        HttpResponse::build(status).content_type("application/json; charset=UTF-8").body(body.to_string())
    }
}

impl From<AuthError> for ComputeError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Unavailable => ComputeError::Unavailable("The identity data is unavailable.".into()),
            _ => ComputeError::Unauthorized,
        }
    }
}

impl From<StorageError> for ComputeError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::NotFound { kind: "flavor", id } => ComputeError::flavor_not_found(&id),
            StorageError::NotFound { kind, id } => {
                ComputeError::NotFound(format!("The {kind} {id} could not be found."))
            }
            StorageError::Duplicate(m) | StorageError::Conflict(m) => ComputeError::Conflict(m),
            StorageError::Unavailable(m) => ComputeError::Unavailable(format!("The database is unavailable: {m}")),
            StorageError::InvalidText => ComputeError::BadRequest(e.to_string()),
            StorageError::Database(m) => ComputeError::Internal(m),
            StorageError::Refused { reason: "QuotaExceeded", message } => ComputeError::QuotaExceeded(message),
            StorageError::Refused { reason: "InvalidProject", message } => ComputeError::BadRequest(message),
            StorageError::Refused { message, .. } => ComputeError::Conflict(message),
        }
    }
}
