//! Ironic's error envelope: `{"error_message": "<JSON text>"}` where the
//! text is `{"faultcode", "faultstring", "debuginfo"}`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use super::versions::{MAX, MIN};
use crate::common::auth::AuthError;
use crate::common::microversion::Version;
use crate::storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum BaremetalError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("Access was denied to the following resource: {0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// 404 raised by routing (unknown path, feature above the requested
    /// microversion), which Ironic words differently.
    #[error("The resource could not be found.")]
    NoRoute,
    #[error("{0}")]
    NotAcceptable(String),
    /// 406 from version negotiation (a routing-level answer in Ironic).
    #[error("{0}")]
    VersionNotAcceptable(String),
    #[error("The method is not allowed for the requested URL.")]
    MethodNotAllowed,
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
}

pub type Result<T> = std::result::Result<T, BaremetalError>;

impl BaremetalError {
    pub fn not_acceptable() -> Self {
        BaremetalError::NotAcceptable("Request not acceptable.".into())
    }

    pub fn unsupported_version(v: Version) -> Self {
        BaremetalError::VersionNotAcceptable(format!(
            "Version {v} was requested but the minor version is not supported by this service. \
             The supported version range is: [{MIN}, {MAX}]."
        ))
    }

    pub fn locked(node: &str, host: &str) -> Self {
        BaremetalError::Conflict(format!(
            "Node {node} is locked by host {host}, please retry after the current operation is completed."
        ))
    }
}

impl ResponseError for BaremetalError {
    fn status_code(&self) -> StatusCode {
        match self {
            BaremetalError::BadRequest(_) => StatusCode::BAD_REQUEST,
            BaremetalError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            BaremetalError::Forbidden(_) => StatusCode::FORBIDDEN,
            BaremetalError::NotFound(_) | BaremetalError::NoRoute => StatusCode::NOT_FOUND,
            BaremetalError::NotAcceptable(_) | BaremetalError::VersionNotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            BaremetalError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            BaremetalError::Conflict(_) => StatusCode::CONFLICT,
            BaremetalError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            BaremetalError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let mut res = HttpResponse::build(status);
        res.insert_header(("X-OpenStack-Ironic-API-Minimum-Version", MIN.to_string()))
            .insert_header(("X-OpenStack-Ironic-API-Maximum-Version", MAX.to_string()));
        if let BaremetalError::Internal(m) = self {
            tracing::error!(error = %m, "baremetal request failed");
        }
        let routing = matches!(self, BaremetalError::NoRoute | BaremetalError::VersionNotAcceptable(_));
        res.json(json!({"error_message": fault_text(status, &self.to_string(), routing)}))
    }
}

/// The inner JSON text: a controller fault, or (for routing-level errors and
/// 406s, as Ironic does) the webob `{code, title, description}` shape.
pub fn fault_text(status: StatusCode, message: &str, routing: bool) -> String {
    let v = if routing || status == StatusCode::METHOD_NOT_ALLOWED {
        let description = if status == StatusCode::NOT_FOUND { "" } else { message };
        json!({"code": status.as_u16(), "title": status.canonical_reason().unwrap_or("Error"),
               "description": description})
    } else {
        let fault = if status.is_server_error() { "Server" } else { "Client" };
        json!({"faultcode": fault, "faultstring": message, "debuginfo": null})
    };
    v.to_string()
}

/// Body for errors made outside handlers (unknown routes, wrong methods).
pub fn error_body(status: StatusCode, message: &str) -> serde_json::Value {
    let routing = status == StatusCode::NOT_FOUND;
    json!({"error_message": fault_text(status, message, routing)})
}

impl From<AuthError> for BaremetalError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Unavailable => {
                BaremetalError::Unavailable("Resource temporarily unavailable, please retry.".into())
            }
            _ => BaremetalError::Unauthorized("The request you have made requires authentication.".into()),
        }
    }
}

impl From<StorageError> for BaremetalError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::NotFound { kind, id } => BaremetalError::NotFound(not_found_text(kind, &id)),
            StorageError::Duplicate(m) | StorageError::Conflict(m) => BaremetalError::Conflict(m),
            StorageError::Unavailable(m) => {
                tracing::warn!(error = %m, "baremetal database unavailable");
                BaremetalError::Unavailable("Resource temporarily unavailable, please retry.".into())
            }
            // PostgreSQL refuses text holding NUL (Ironic on it answers
            // 500): the request's fault.
            StorageError::InvalidText => {
                BaremetalError::BadRequest("Invalid input: text must not contain NUL (0x00) characters.".into())
            }
            StorageError::Database(m) => BaremetalError::Internal(m),
            StorageError::Refused { message, .. } => BaremetalError::Conflict(message),
        }
    }
}

/// Ironic's "X could not be found." texts.
pub fn not_found_text(kind: &str, id: &str) -> String {
    match kind {
        "node" => format!("Node {id} could not be found."),
        "port" => format!("Port {id} could not be found."),
        "portgroup" => format!("Portgroup {id} could not be found."),
        "chassis" => format!("Chassis {id} could not be found."),
        "driver" => format!("Could not find the following driver(s) or hardware type(s): {id}."),
        "conductor" => format!("Conductor {id} could not be found."),
        "allocation" => format!("Allocation {id} could not be found."),
        "deploy template" => format!("Deploy template {id} could not be found."),
        "runbook" => format!("Runbook {id} could not be found."),
        "trait" => format!("Trait {id} could not be found."),
        other => format!("{other} {id} could not be found."),
    }
}
