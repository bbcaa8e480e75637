//! The `direct` deploy interface's side of ironic-python-agent's API: once
//! the agent booted on the server has heartbeated (giving its
//! `callback_url`), ironbark sends it commands (`POST /v1/commands/`) and
//! follows them (`GET /v1/commands/{id}`) until they succeed or fail.

use std::time::Duration;

use serde_json::{Map, Value, json};

use super::{BmcError, BmcTimeouts};
use crate::storage::baremetal::Node;

pub struct AgentClient {
    url: String,
    http: reqwest::Client,
    timeouts: BmcTimeouts,
}

fn json_map(text: &str) -> Map<String, Value> {
    serde_json::from_str(text).unwrap_or_default()
}

/// The `image_info` of `standby.write_image` for a node's instance: its
/// `instance_info.image_source` must be a URL the agent can download.
pub fn image_info(node: &Node) -> Result<Value, BmcError> {
    let ii = json_map(&node.instance_info);
    let source = ii.get("image_source").and_then(Value::as_str).unwrap_or_default();
    if !(source.starts_with("http://") || source.starts_with("https://")) {
        return Err(BmcError::Config(format!(
            "the direct deploy needs instance_info/image_source as an http(s) URL the agent can download, not \
             {source:?}"
        )));
    }
    let field = |k: &str| ii.get(k).cloned().unwrap_or(Value::Null);
    let info = json_map(&node.driver_info);
    let text = |k: &str| info.get(k).and_then(Value::as_str).filter(|v| !v.is_empty()).map(str::to_string);
    let mut proxies = Map::new();
    for (scheme, key) in [("http", "image_http_proxy"), ("https", "image_https_proxy")] {
        if let Some(p) = text(key) {
            proxies.insert(scheme.into(), Value::String(p));
        }
    }
    Ok(json!({
        "proxies": proxies,
        "no_proxy": text("image_no_proxy"),
        "id": source,
        "urls": [source],
        "node_uuid": node.uuid,
        "disk_format": ii.get("image_disk_format").cloned().unwrap_or(json!("raw")),
        "container_format": "bare",
        "checksum": field("image_checksum"),
        "os_hash_algo": field("image_os_hash_algo"),
        "os_hash_value": field("image_os_hash_value"),
        "image_type": "whole-disk-image",
        "stream_raw_images": true,
    }))
}

impl AgentClient {
    pub fn new(url: &str, timeouts: BmcTimeouts) -> Result<AgentClient, BmcError> {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(BmcError::Config(format!("the agent's callback URL {url:?} is not http(s)")));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(timeouts.connect)
            .timeout(timeouts.request)
            .build()
            .map_err(|e| BmcError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(AgentClient { url: url.trim_end_matches('/').to_string(), http, timeouts })
    }

    async fn send(&self, req: reqwest::RequestBuilder, what: &str) -> Result<Value, BmcError> {
        let resp = req.send().await.map_err(|e| {
            let why = if e.is_timeout() { "no answer in time".to_string() } else { e.to_string() };
            BmcError::Unreachable(format!("Agent at {} did not answer {what}: {why}", self.url))
        })?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(BmcError::Bmc(format!(
                "Agent at {} refused {what}: HTTP {} {text}",
                self.url,
                status.as_u16()
            )));
        }
        serde_json::from_str(&text)
            .map_err(|e| BmcError::Protocol(format!("Agent at {} answered {what} with invalid JSON: {e}", self.url)))
    }

    /// Runs an agent command to its end (within `deadline`); its result.
    pub async fn run(&self, name: &str, params: Value, deadline: Duration) -> Result<Value, BmcError> {
        let until = tokio::time::Instant::now() + deadline;
        let body = json!({"name": name, "params": params});
        let mut cmd =
            self.send(self.http.post(format!("{}/v1/commands/?wait=false", self.url)).json(&body), name).await?;
        loop {
            match cmd["command_status"].as_str() {
                Some("SUCCEEDED") => return Ok(cmd["command_result"].clone()),
                Some("FAILED") => {
                    let err = &cmd["command_error"];
                    let msg = err["message"]
                        .as_str()
                        .or(err["details"].as_str())
                        .map_or_else(|| err.to_string(), str::to_string);
                    return Err(BmcError::Bmc(format!("Agent command {name} failed: {msg}")));
                }
                _ => {}
            }
            if tokio::time::Instant::now() + self.timeouts.poll > until {
                return Err(BmcError::Timeout(format!(
                    "Agent command {name} did not finish within {} s",
                    deadline.as_secs()
                )));
            }
            tokio::time::sleep(self.timeouts.poll).await;
            let id = cmd["id"].as_str().unwrap_or_default().to_string();
            cmd = self.send(self.http.get(format!("{}/v1/commands/{id}", self.url)), name).await?;
        }
    }

    /// Writes the node's instance image to its disk.
    pub async fn write_image(&self, node: &Node, deadline: Duration) -> Result<(), BmcError> {
        let mut params = json!({"image_info": image_info(node)?});
        if let Some(cd) = json_map(&node.driver_internal_info).get("configdrive") {
            params["configdrive"] = cd.clone();
        }
        self.run("standby.write_image", params, deadline).await.map(|_| ())
    }
}
