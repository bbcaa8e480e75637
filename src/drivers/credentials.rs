//! BMC credentials at rest: the secret values of a node's `driver_info`
//! (passwords, keys, tokens) are stored sealed (see [`Sealer`]) and opened
//! only when a driver talks to the BMC. The API never shows them (they are
//! masked), so it only ever seals.

use serde_json::{Map, Value};

pub use crate::common::sealing::Sealer;
use crate::common::sealing::is_sealed;

/// `driver_info` keys whose values are secrets.
pub fn is_secret(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["password", "secret", "token", "private_key", "passphrase", "kg_key", "encrypted_key"]
        .iter()
        .any(|s| k.contains(s))
}

impl Sealer {
    /// Seals every secret string of a `driver_info` object not sealed yet.
    pub fn seal_map(&self, info: &mut Map<String, Value>) {
        for (k, v) in info.iter_mut() {
            if let Value::String(s) = v
                && is_secret(k)
                && !is_sealed(s)
            {
                *s = self.seal(s);
            }
        }
    }

    /// `driver_info` text with its secrets sealed.
    pub fn seal_text(&self, text: &str) -> String {
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(mut m)) => {
                self.seal_map(&mut m);
                Value::Object(m).to_string()
            }
            _ => text.to_string(),
        }
    }

    /// `driver_info` with its secrets opened, for a driver.
    pub fn open_map(&self, info: &Map<String, Value>) -> Result<Map<String, Value>, String> {
        let mut out = info.clone();
        for v in out.values_mut() {
            if let Value::String(s) = v
                && is_sealed(s)
            {
                *s = self.open(s)?;
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_sealed_and_opened() {
        let s = Sealer::from_key(&[7; 32]);
        let mut info = json!({"ipmi_address": "10.0.0.1", "ipmi_password": "hunter2", "redfish_password": null})
            .as_object()
            .cloned()
            .unwrap();
        s.seal_map(&mut info);
        let sealed = info["ipmi_password"].as_str().unwrap().to_string();
        assert!(is_sealed(&sealed) && !sealed.contains("hunter2"));
        assert_eq!(info["ipmi_address"], "10.0.0.1", "only secrets are sealed");
        s.seal_map(&mut info);
        assert_eq!(info["ipmi_password"], sealed.as_str(), "sealing twice changes nothing");
        let open = s.open_map(&info).unwrap();
        assert_eq!(open["ipmi_password"], "hunter2");
        assert_eq!(s.open("plain").unwrap(), "plain", "values stored before sealing still work");
        let other = Sealer::from_key(&[8; 32]);
        assert!(other.open(&sealed).unwrap_err().contains("secrets key"));
        assert!(s.open("ironbark-sealed:v1:AAAA").is_err());
    }
}
