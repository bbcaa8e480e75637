//! Ironic v1 bare-metal API.

mod agent;
mod allocations;
mod chassis;
mod deploy_templates;
mod drivers;
mod error;
mod inspection_rules;
mod node_extras;
mod nodes;
pub mod openapi;
mod portgroups;
mod ports;
mod runbooks;
mod shards;
mod states;
mod versions;
mod volume;

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload, web};
use futures_util::future::LocalBoxFuture;
use serde_json::{Map, Value, json};

use error::Result;
pub use error::{BaremetalError, error_body};
pub use versions::MICROVERSIONS;
use versions::{Negotiated, Version};

use crate::common::auth::{AuthContext, Authenticator};
use crate::config::{Config, ServiceKind};
use crate::engine::Engine;

/// What the bare-metal handlers share.
pub struct BaremetalState {
    /// Public root URL, no trailing slash.
    pub base: String,
    pub engine: Engine,
    /// `[api]max_limit`: the largest (and default) page.
    pub max_limit: i64,
    /// VIF changes are recorded for the Contrail push (`contrail.api_url`).
    pub contrail_push: bool,
    /// What `/v1/continue_inspection` does with unknown servers.
    pub discovery: crate::engine::discovery::DiscoverySettings,
    /// Seconds after its last heartbeat a conductor is no longer alive.
    pub heartbeat_timeout_s: i64,
    /// This API's OpenAPI document, served at `/openapi.json`.
    pub openapi: web::Data<crate::common::openapi::Document>,
}

impl BaremetalState {
    pub fn new(cfg: &Config, engine: Engine) -> BaremetalState {
        let contrail_push = cfg.contrail.push_url().is_some();
        let d = &cfg.discovery;
        let discovery = crate::engine::discovery::DiscoverySettings {
            enabled: d.enabled,
            driver: d.driver.clone(),
            driver_info: d.driver_info.clone(),
            resource_class: d.resource_class.clone(),
        };
        BaremetalState {
            heartbeat_timeout_s: cfg.heartbeat_timeout_s as i64,
            base: cfg.public_url(ServiceKind::Baremetal),
            engine,
            max_limit: 1000,
            contrail_push,
            discovery,
            openapi: web::Data::new(crate::common::openapi::Document::new(&openapi::document(
                &cfg.public_url(ServiceKind::Baremetal),
            ))),
        }
    }

    /// `self` and `bookmark` links of a resource.
    pub fn links(&self, resource: &str, id: &str) -> Value {
        json!([{"href": format!("{}/v1/{resource}/{id}", self.base), "rel": "self"},
               {"href": format!("{}/{resource}/{id}", self.base), "rel": "bookmark"}])
    }

    pub fn storage(&self) -> &crate::storage::Storage {
        self.engine.storage()
    }
}

pub fn configure(cfg: &mut web::ServiceConfig, state: Arc<BaremetalState>) {
    cfg.app_data(web::Data::from(state.clone()));
    crate::common::openapi::serve_document(cfg, &state.openapi);
    openapi::routes().register(cfg);
}

/// Extractor: the caller and the negotiated microversion.
pub struct Api {
    pub ctx: AuthContext,
    pub version: Version,
}

impl Api {
    pub fn at_least(&self, minor: u16) -> bool {
        self.version >= Version::new(1, minor)
    }

    /// 404 below `minor`, as Ironic hides endpoints newer than the request.
    pub fn require(&self, minor: u16) -> Result<()> {
        if self.at_least(minor) { Ok(()) } else { Err(BaremetalError::NoRoute) }
    }

    /// 406 below `minor`: for fields, filters and verbs newer than the request.
    pub fn accept(&self, minor: u16) -> Result<()> {
        if self.at_least(minor) { Ok(()) } else { Err(BaremetalError::not_acceptable()) }
    }

    pub fn actor(&self) -> crate::engine::Actor {
        crate::engine::Actor { user_id: self.ctx.user_id.clone(), project_id: self.ctx.project_id.clone() }
    }
}

impl FromRequest for Api {
    type Error = BaremetalError;
    type Future = LocalBoxFuture<'static, Result<Self>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let auth = req.app_data::<web::Data<Authenticator>>().cloned();
        let version = req.extensions().get::<Negotiated>().map_or(versions::MIN, |n| n.0);
        let token = req.headers().get("x-auth-token").and_then(|v| v.to_str().ok()).map(str::to_string);
        Box::pin(async move {
            let auth = auth.ok_or_else(|| BaremetalError::Internal("no authenticator".into()))?;
            let ctx = auth.context(token.as_deref()).await?;
            Ok(Api { ctx, version })
        })
    }
}

/// Query string as a map (last value wins), for per-endpoint validation.
pub type Query = web::Query<HashMap<String, String>>;

/// Refuses query parameters an endpoint does not know: Ironic's
/// `Unexpected arguments: …` 400.
pub fn only_params(q: &HashMap<String, String>, allowed: &[&str]) -> Result<()> {
    let mut extra: Vec<&str> = q.keys().map(String::as_str).filter(|k| !allowed.contains(k)).collect();
    if extra.is_empty() {
        return Ok(());
    }
    extra.sort();
    Err(BaremetalError::BadRequest(format!("Unexpected arguments: {}", extra.join(", "))))
}

/// Ironic's boolean query values.
pub fn parse_bool(name: &str, v: &str) -> Result<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "t" | "true" | "on" | "y" | "yes" => Ok(true),
        "0" | "f" | "false" | "off" | "n" | "no" => Ok(false),
        _ => Err(BaremetalError::BadRequest(format!(
            "Invalid {name}: Unrecognized value '{v}', acceptable values are: '0', '1', 'f', 'false', 'n', 'no', \
             'off', 'on', 't', 'true', 'y', 'yes'"
        ))),
    }
}

/// `limit`, `marker`, `sort_key`, `sort_dir` of a collection.
pub struct Paging {
    pub limit: i64,
    pub marker: Option<String>,
    pub sort_key: String,
    pub sort_dir: String,
}

impl Paging {
    /// `sortable` maps public sort keys to SQL expressions (the first is the default).
    pub fn parse(
        q: &HashMap<String, String>,
        max_limit: i64,
        sortable: &[(&str, &'static str)],
        not_sortable: &[&str],
    ) -> Result<(Paging, crate::storage::baremetal::Page)> {
        let limit = match q.get("limit") {
            None => max_limit,
            Some(l) => {
                let n: i64 = l.parse().map_err(|_| BaremetalError::BadRequest(format!("Invalid limit: {l}")))?;
                if n <= 0 {
                    return Err(BaremetalError::BadRequest("Limit must be positive".into()));
                }
                n.min(max_limit)
            }
        };
        let sort_key = q.get("sort_key").cloned().unwrap_or_else(|| "id".into());
        let sort = match sortable.iter().find(|(k, _)| *k == sort_key) {
            Some((_, expr)) => *expr,
            None if sort_key == "id" => sortable[0].1,
            None if not_sortable.contains(&sort_key.as_str()) => {
                return Err(BaremetalError::BadRequest(format!(
                    "The sort_key value {sort_key} is an invalid field for sorting"
                )));
            }
            None => return Err(BaremetalError::BadRequest(format!("Invalid sort key: {sort_key}"))),
        };
        let sort_dir = q.get("sort_dir").cloned().unwrap_or_else(|| "asc".into());
        let desc = match sort_dir.as_str() {
            "asc" => false,
            "desc" => true,
            other => {
                return Err(BaremetalError::BadRequest(format!(
                    "Invalid sort direction: {other}. Acceptable values are 'asc' or 'desc'"
                )));
            }
        };
        let marker = q.get("marker").cloned();
        let page = crate::storage::baremetal::Page { limit, marker: marker.clone(), sort, desc };
        Ok((Paging { limit, marker, sort_key, sort_dir }, page))
    }

    /// The collection body: items, plus `next` when the page is full.
    pub fn collection(
        &self,
        state: &BaremetalState,
        key: &str,
        path: &str,
        items: Vec<Value>,
        last_uuid: Option<&str>,
        carry: &[(String, String)],
    ) -> Value {
        let mut body = Map::new();
        let full = items.len() as i64 == self.limit;
        body.insert(key.into(), Value::Array(items));
        if full && let Some(last) = last_uuid {
            let mut q: Vec<String> = carry.iter().map(|(k, v)| format!("{k}={v}")).collect();
            q.push(format!("sort_key={}", self.sort_key));
            q.push(format!("sort_dir={}", self.sort_dir));
            q.push(format!("limit={}", self.limit));
            q.push(format!("marker={last}"));
            body.insert("next".into(), Value::String(format!("{}/v1/{path}?{}", state.base, q.join("&"))));
        }
        Value::Object(body)
    }
}

/// `?fields=a,b`: validated against the fields known at this version.
pub fn parse_fields(
    q: &HashMap<String, String>,
    known: &[&str],
    api: &Api,
    gate: impl Fn(&str) -> u16,
) -> Result<Option<Vec<String>>> {
    let Some(f) = q.get("fields") else { return Ok(None) };
    api.accept(8)?;
    let mut out = Vec::new();
    for name in f.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if !known.contains(&name) {
            return Err(BaremetalError::BadRequest(format!("Field {name} is not a valid field.")));
        }
        api.accept(gate(name))?;
        out.push(name.to_string());
    }
    Ok(Some(out))
}

/// Keeps only `fields` (plus `links`) of a rendered object.
pub fn select_fields(mut obj: Map<String, Value>, fields: &[String]) -> Value {
    obj.retain(|k, _| k == "links" || fields.iter().any(|f| f == k));
    Value::Object(obj)
}

/// Is `s` a UUID (in any of the accepted spellings)?
pub fn is_uuid(s: &str) -> bool {
    uuid::Uuid::parse_str(s).is_ok()
}

/// Ironic's logical names: RFC 3986 unreserved characters, not a UUID.
pub fn is_valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && !is_uuid(s)
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~'))
}

/// Normalises a MAC address to lower case `aa:bb:…`; `None` if invalid.
pub fn normalize_mac(s: &str) -> Option<String> {
    let parts: Vec<&str> = s.split([':', '-']).collect();
    let ok = parts.len() == 6 && parts.iter().all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()));
    ok.then(|| parts.join(":").to_lowercase())
}

/// Checks the shape of a JSON patch as Ironic's schema does and applies it
/// to `doc`. Only `add`, `replace` and `remove` are accepted; `allowed`
/// are the patchable top-level fields.
pub fn apply_patch(doc: &mut Value, body: &[u8], allowed: &[&str], what: &str) -> Result<Vec<String>> {
    let ops: Value =
        serde_json::from_slice(body).map_err(|e| BaremetalError::BadRequest(format!("Invalid JSON in patch: {e}")))?;
    let Value::Array(list) = &ops else {
        return Err(BaremetalError::BadRequest(format!("Schema error for patch: {ops} is not of type 'array'")));
    };
    let mut roots = Vec::new();
    for op in list {
        let kind = op.get("op").and_then(Value::as_str).unwrap_or("");
        if !matches!(kind, "add" | "replace" | "remove") {
            return Err(BaremetalError::BadRequest(format!(
                "Schema error for patch: '{kind}' is not one of ['add', 'replace', 'remove']"
            )));
        }
        let path = op.get("path").and_then(Value::as_str).ok_or_else(|| {
            BaremetalError::BadRequest("Schema error for patch: 'path' is a required property".into())
        })?;
        if kind != "remove" && op.get("value").is_none() {
            return Err(BaremetalError::BadRequest(format!("Schema error for patch: 'value' is required for {kind}")));
        }
        let root = path.trim_start_matches('/').split('/').next().unwrap_or("").to_string();
        if !path.starts_with('/') || !allowed.contains(&root.as_str()) {
            return Err(BaremetalError::BadRequest(format!(
                "Cannot patch {path}. Only the following can be updated: {}",
                allowed.join(", ")
            )));
        }
        // Adding a new top-level key is not a patch of an existing field.
        if kind == "add" && path.matches('/').count() == 1 && doc.get(&root).is_none() {
            return Err(BaremetalError::BadRequest(format!(
                "Adding a new attribute ({path}) to the root of {what} is not allowed"
            )));
        }
        roots.push(root);
    }
    let patch: json_patch::Patch =
        serde_json::from_value(ops.clone()).map_err(|e| BaremetalError::BadRequest(format!("Invalid patch: {e}")))?;
    json_patch::patch(doc, &patch)
        .map_err(|e| BaremetalError::BadRequest(format!("Couldn't apply patch '{ops}'. Reason: {e}")))?;
    Ok(roots)
}

/// Reads a JSON body object (Ironic's "Schema error for X" on shape errors).
pub fn body_object(body: &[u8], what: &str) -> Result<Map<String, Value>> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(other) => {
            Err(BaremetalError::BadRequest(format!("Schema error for {what}: {other} is not of type 'object'")))
        }
        Err(e) => Err(BaremetalError::BadRequest(format!("Invalid JSON body: {e}"))),
    }
}

/// `+00:00` timestamps with microseconds, as Ironic prints them.
pub fn ts(t: &chrono::NaiveDateTime) -> Value {
    Value::String(t.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string())
}

pub fn ts_opt(t: &Option<chrono::NaiveDateTime>) -> Value {
    t.as_ref().map_or(Value::Null, ts)
}

/// A stored JSON text as a value (`{}` when unreadable).
pub fn json_text(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|_| json!({}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_and_names() {
        assert_eq!(normalize_mac("52:54:00:AB:cd:01").as_deref(), Some("52:54:00:ab:cd:01"));
        assert_eq!(normalize_mac("52-54-00-ab-cd-01").as_deref(), Some("52:54:00:ab:cd:01"));
        assert_eq!(normalize_mac("zz:54:00:ab:cd:01"), None);
        assert!(is_valid_name("node-1.a_b~"));
        assert!(!is_valid_name("bad name"));
        assert!(!is_valid_name("2b9d8f8e-0b57-4b7e-9f3f-6f8f2c1c2b6a"));
    }

    #[test]
    fn patch_rules() {
        let mut doc = json!({"name": "a", "extra": {"x": 1}});
        let roots = apply_patch(
            &mut doc,
            br#"[{"op":"replace","path":"/name","value":"b"},{"op":"add","path":"/extra/y","value":2}]"#,
            &["name", "extra"],
            "node",
        )
        .unwrap();
        assert_eq!(roots, vec!["name", "extra"]);
        assert_eq!(doc, json!({"name": "b", "extra": {"x": 1, "y": 2}}));
        for bad in [
            r#"{"op":"replace"}"#,
            r#"[{"op":"frob","path":"/name","value":1}]"#,
            r#"[{"op":"replace","path":"/uuid","value":"x"}]"#,
            r#"[{"op":"add","path":"/foo","value":1}]"#,
            r#"[{"op":"remove","path":"/extra/nothere"}]"#,
            r#"[{"op":"replace","path":"/name"}]"#,
        ] {
            let mut d = json!({"name": "a", "extra": {}, "foo2": 1});
            assert!(apply_patch(&mut d, bad.as_bytes(), &["name", "extra", "foo"], "node").is_err(), "{bad}");
        }
    }
}
