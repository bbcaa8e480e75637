//! Masking of secrets in free-form JSON (`driver_info`, step arguments,
//! notification payloads), by the key names OpenStack treats as secret.

use serde_json::{Map, Value};

/// Key fragments that mark a value as secret (matched case-insensitively
/// anywhere in the key), as oslo's sanitizer lists them.
const SECRET_KEYS: &[&str] = &[
    "adminpass",
    "admin_pass",
    "password",
    "admin_password",
    "auth_token",
    "new_pass",
    "auth_password",
    "secret_uuid",
    "secret",
    "sys_pswd",
    "token",
    "configdrive",
    "chappassword",
    "encrypted_key",
    "private_key",
    "fernetkey",
    "sslkey",
    "passphrase",
    "chapsecret",
];

pub const MASK: &str = "******";

pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    SECRET_KEYS.iter().any(|s| k.contains(s))
}

/// A copy of `v` with every secret value replaced by [`MASK`], in nested
/// objects too.
pub fn masked(v: &Value) -> Value {
    let Value::Object(m) = v else { return v.clone() };
    let mut out = Map::with_capacity(m.len());
    for (k, v) in m {
        let value = if v.is_object() {
            masked(v)
        } else if is_secret_key(k) {
            Value::String(MASK.into())
        } else {
            v.clone()
        };
        out.insert(k.clone(), value);
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn masks_nested_secrets_by_key() {
        let v =
            json!({"ipmi_password": "x", "nested": {"Auth_Token": "t", "a": 1}, "user": "u", "configdrive": "H4sI"});
        assert_eq!(
            masked(&v),
            json!({"ipmi_password": MASK, "nested": {"Auth_Token": MASK, "a": 1}, "user": "u", "configdrive": MASK})
        );
        assert_eq!(masked(&json!([1])), json!([1]));
    }
}
