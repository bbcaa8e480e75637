//! The console's only way to the cloud: ironbark's public APIs, called over
//! HTTP with the signed-in user's token, at the endpoints of the token's
//! catalog. Whatever an API refuses, the console cannot do.

use std::collections::HashMap;

use reqwest::{Method, StatusCode};
use serde_json::Value;

/// The OpenStack services the console talks to, by catalog type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Compute,
    Image,
    Network,
    Baremetal,
}

impl Service {
    fn catalog_type(self) -> &'static str {
        match self {
            Service::Compute => "compute",
            Service::Image => "image",
            Service::Network => "network",
            Service::Baremetal => "baremetal",
        }
    }

    /// Requests pin a microversion so the shapes the pages read stay fixed.
    fn version_header(self) -> Option<(&'static str, &'static str)> {
        match self {
            Service::Compute => Some(("X-OpenStack-Nova-API-Version", "2.79")),
            // 1.115: node history with the state reached and how long it took
            Service::Baremetal => Some(("X-OpenStack-Ironic-API-Version", "1.115")),
            Service::Image | Service::Network => None,
        }
    }

    /// The path under the catalog URL where the API's resources start.
    fn prefix(self) -> &'static str {
        match self {
            Service::Image => "/v2",
            Service::Network => "/v2.0",
            Service::Baremetal => "/v1",
            // the compute catalog URL already ends in /v2.1
            Service::Compute => "",
        }
    }
}

/// What an API call answered when it did not succeed, in the API's words.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The HTTP status, or 502 when the API could not be reached.
    pub status: u16,
    pub message: String,
}

impl ApiError {
    pub fn unreachable(what: impl std::fmt::Display) -> ApiError {
        ApiError { status: 502, message: format!("The service could not be reached: {what}") }
    }
}

/// A signed-in user's view of the cloud: token plus catalog.
#[derive(Debug, Clone)]
pub struct Cloud {
    pub http: reqwest::Client,
    pub token: String,
    /// The same user's system-scoped token, when the user holds a role on
    /// the system: the bare-metal API shows the whole fleet only to it.
    pub system_token: Option<String>,
    /// Public endpoint per catalog type.
    pub endpoints: HashMap<String, String>,
}

impl Cloud {
    fn url(&self, service: Service, path: &str) -> Result<String, ApiError> {
        let base = self.endpoints.get(service.catalog_type()).ok_or_else(|| ApiError {
            status: 503,
            message: format!("The catalog of this token has no {} service.", service.catalog_type()),
        })?;
        Ok(format!("{}{}{path}", base.trim_end_matches('/'), service.prefix()))
    }

    pub fn request(&self, service: Service, method: Method, path: &str) -> Result<reqwest::RequestBuilder, ApiError> {
        let token = match (service, &self.system_token) {
            (Service::Baremetal, Some(system)) => system,
            _ => &self.token,
        };
        let mut r = self.http.request(method, self.url(service, path)?).header("X-Auth-Token", token);
        if let Some((k, v)) = service.version_header() {
            r = r.header(k, v);
        }
        Ok(r)
    }

    /// One call with an optional JSON body; the decoded answer (Null when
    /// it had no body).
    pub async fn call(
        &self,
        service: Service,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, ApiError> {
        let mut r = self.request(service, method, path)?;
        if let Some(b) = body {
            r = r.json(b);
        }
        answer(r.send().await).await
    }

    pub async fn get(&self, service: Service, path: &str) -> Result<Value, ApiError> {
        self.call(service, Method::GET, path, None).await
    }
}

/// Reads a response: its JSON when it succeeded, its error message when not.
pub async fn answer(r: reqwest::Result<reqwest::Response>) -> Result<Value, ApiError> {
    let r = r.map_err(ApiError::unreachable)?;
    let status = r.status();
    let bytes = r.bytes().await.map_err(ApiError::unreachable)?;
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(body);
    }
    let message = error_message(&body)
        .or_else(|| Some(String::from_utf8_lossy(&bytes).trim().to_string()).filter(|s| !s.is_empty() && s.len() < 500))
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_string());
    Err(ApiError { status: status.as_u16(), message })
}

/// The message of any OpenStack error envelope: Keystone's `error.message`,
/// Nova's `{"itemNotFound": {"message"}}`, Neutron's `NeutronError`,
/// Ironic's `error_message` (a JSON string holding `faultstring`), Glance's
/// `message`.
pub fn error_message(body: &Value) -> Option<String> {
    let obj = body.as_object()?;
    if let Some(em) = obj.get("error_message") {
        let inner: Value = match em {
            Value::String(s) => serde_json::from_str(s).unwrap_or(Value::String(s.clone())),
            v => v.clone(),
        };
        return match inner {
            Value::String(s) => Some(s),
            v => v["faultstring"].as_str().map(str::to_string),
        };
    }
    if let Some(m) = obj.get("message").and_then(Value::as_str) {
        return Some(m.to_string());
    }
    obj.values().find_map(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
}

/// Whether a status means the caller's token is no longer good.
pub fn is_unauthorized(status: u16) -> bool {
    status == StatusCode::UNAUTHORIZED.as_u16()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn messages_of_every_envelope() {
        let ironic = json!({"error_message": "{\"faultstring\": \"Node x could not be found.\", \"debuginfo\": null}"});
        assert_eq!(error_message(&ironic).as_deref(), Some("Node x could not be found."));
        let nova = json!({"forbidden": {"code": 403, "message": "Policy doesn't allow it."}});
        assert_eq!(error_message(&nova).as_deref(), Some("Policy doesn't allow it."));
        let keystone = json!({"error": {"code": 401, "message": "The request you have made requires authentication.", "title": "Unauthorized"}});
        assert_eq!(error_message(&keystone).as_deref(), Some("The request you have made requires authentication."));
        let neutron = json!({"NeutronError": {"type": "NetworkNotFound", "message": "Network n could not be found.", "detail": ""}});
        assert_eq!(error_message(&neutron).as_deref(), Some("Network n could not be found."));
        assert_eq!(error_message(&json!([1])), None);
    }
}
