//! Neutron's error body: `{"NeutronError": {"type", "message", "detail"}}`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::{Value, json};

use crate::common::auth::AuthError;
use crate::storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum NeutronError {
    /// 400 with Neutron's exception name (`HTTPBadRequest`, `InvalidInput`…).
    #[error("{1}")]
    BadRequest(&'static str, String),
    #[error("Authentication required")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    /// 404: `NetworkNotFound`, `SubnetNotFound`, `PortNotFound`…
    #[error("{1}")]
    NotFound(&'static str, String),
    /// 409: `IpAddressGenerationFailure`, `MacAddressInUse`, `NetworkInUse`…
    #[error("{1}")]
    Conflict(&'static str, String),
    #[error("{0}")]
    Unavailable(String),
    #[error("Request Failed: internal server error while processing your request.")]
    Internal(String),
}

pub type Result<T> = std::result::Result<T, NeutronError>;

impl NeutronError {
    pub fn bad(msg: impl Into<String>) -> Self {
        NeutronError::BadRequest("HTTPBadRequest", msg.into())
    }

    pub fn invalid(msg: impl Into<String>) -> Self {
        NeutronError::BadRequest("InvalidInput", format!("Invalid input for operation: {}", msg.into()))
    }

    pub fn forbidden(msg: impl Into<String>) -> Self {
        NeutronError::Forbidden(msg.into())
    }

    pub fn not_found(kind: &'static str, id: &str) -> Self {
        let (ty, word) = match kind {
            "network" => ("NetworkNotFound", "Network"),
            "subnet" => ("SubnetNotFound", "Subnet"),
            "port" => ("PortNotFound", "Port"),
            // Neutron words these two differently.
            "security_group" => {
                return NeutronError::NotFound("SecurityGroupNotFound", format!("Security group {id} does not exist"));
            }
            "security_group_rule" => {
                return NeutronError::NotFound(
                    "SecurityGroupRuleNotFound",
                    format!("Security group rule {id} does not exist"),
                );
            }
            _ => ("NotFound", "Resource"),
        };
        NeutronError::NotFound(ty, format!("{word} {id} could not be found."))
    }

    fn kind(&self) -> &'static str {
        match self {
            NeutronError::BadRequest(t, _) | NeutronError::NotFound(t, _) | NeutronError::Conflict(t, _) => t,
            NeutronError::Unauthorized => "HTTPUnauthorized",
            NeutronError::Forbidden(_) => "PolicyNotAuthorized",
            NeutronError::Unavailable(_) => "ServiceUnavailable",
            NeutronError::Internal(_) => "HTTPInternalServerError",
        }
    }
}

/// The body Neutron sends for `status` (errors made outside a handler).
pub fn error_body(status: StatusCode, message: &str) -> Value {
    let kind = match status {
        StatusCode::NOT_FOUND => "HTTPNotFound",
        StatusCode::METHOD_NOT_ALLOWED => "HTTPMethodNotAllowed",
        StatusCode::PAYLOAD_TOO_LARGE => "HTTPRequestEntityTooLarge",
        StatusCode::BAD_REQUEST => "HTTPBadRequest",
        _ => "HTTPError",
    };
    json!({"NeutronError": {"type": kind, "message": message, "detail": ""}})
}

impl ResponseError for NeutronError {
    fn status_code(&self) -> StatusCode {
        match self {
            NeutronError::BadRequest(..) => StatusCode::BAD_REQUEST,
            NeutronError::Unauthorized => StatusCode::UNAUTHORIZED,
            NeutronError::Forbidden(_) => StatusCode::FORBIDDEN,
            NeutronError::NotFound(..) => StatusCode::NOT_FOUND,
            NeutronError::Conflict(..) => StatusCode::CONFLICT,
            NeutronError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            NeutronError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let NeutronError::Internal(detail) = self {
            tracing::error!(detail = %detail, "network request failed");
        }
        HttpResponse::build(self.status_code())
            .json(json!({"NeutronError": {"type": self.kind(), "message": self.to_string(), "detail": ""}}))
    }
}

impl From<AuthError> for NeutronError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Unavailable => NeutronError::Unavailable("The identity data is unavailable.".into()),
            _ => NeutronError::Unauthorized,
        }
    }
}

impl From<StorageError> for NeutronError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::NotFound { kind, id } => NeutronError::not_found(kind, &id),
            StorageError::Duplicate(m) => NeutronError::Conflict("Conflict", m),
            StorageError::Conflict(m) => NeutronError::Conflict("Conflict", m),
            StorageError::Unavailable(m) => NeutronError::Unavailable(format!("The database is unavailable: {m}")),
            StorageError::InvalidText => NeutronError::BadRequest("HTTPBadRequest", e.to_string()),
            StorageError::Database(m) => NeutronError::Internal(m),
            StorageError::Refused { reason: "InvalidInput", message } => {
                NeutronError::BadRequest("InvalidInput", message)
            }
            StorageError::Refused { reason, message } => NeutronError::Conflict(reason, message),
        }
    }
}
