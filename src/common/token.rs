//! Token signing: JWS (ES256) with keys kept in the database.
//!
//! The newest key signs; every key still stored verifies (selected by the
//! `kid` header). A key is retired once a newer key has been signing for
//! longer than the token lifetime, so no live token needs it.

use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use p256::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use serde::{Deserialize, Serialize};

use super::sealing::Sealer;
use crate::storage::Storage;
use crate::storage::identity as ids;

/// The signed payload, with Keystone's JWS claim names.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    pub sub: String,
    pub iat: i64,
    pub exp: i64,
    pub openstack_methods: Vec<String>,
    pub openstack_audit_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub openstack_project_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub openstack_domain_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub openstack_system: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub openstack_app_cred_id: Option<String>,
    /// Microseconds past `iat`, so that issue times keep Keystone's precision.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub iat_us: u32,
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TokenError {
    #[error("malformed token")]
    Malformed,
    #[error("token signed by an unknown key")]
    UnknownKey,
    #[error("bad token signature")]
    BadSignature,
}

struct Key {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

struct Ring {
    signing: Option<Key>,
    verifying: HashMap<String, DecodingKey>,
}

/// The token signing keys, kept in the database so that every process
/// sharing it signs and verifies with the same keys; private keys are
/// sealed with the secrets key.
pub struct KeyRing {
    storage: Storage,
    sealer: Arc<Sealer>,
    ring: RwLock<Ring>,
    validation: Validation,
    /// When the database was last re-read for a token with an unknown key.
    last_miss: Mutex<Option<Instant>>,
}

const PREFIX: &str = "jws-";

/// The least time between two re-reads caused by unknown key ids, so that
/// forged key ids cannot turn into database load.
const MISS_RELOAD_INTERVAL: Duration = Duration::from_secs(1);

fn now_millis() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// A random identifier: 16 bytes, URL-safe base64 without padding (22 chars),
/// the shape of Keystone's audit ids.
pub fn random_id() -> String {
    let bytes: [u8; 16] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn parse_key(kid: &str, pem: &str) -> anyhow::Result<Key> {
    use p256::pkcs8::DecodePrivateKey;
    let secret = p256::SecretKey::from_pkcs8_pem(pem)
        .or_else(|_| p256::SecretKey::from_sec1_pem(pem))
        .map_err(|e| anyhow::anyhow!("unreadable signing key {kid}: {e}"))?;
    let pkcs8 = secret.to_pkcs8_pem(LineEnding::LF)?;
    let public_pem = secret.public_key().to_public_key_pem(LineEnding::LF)?;
    Ok(Key {
        kid: kid.to_string(),
        encoding: EncodingKey::from_ec_pem(pkcs8.as_bytes())?,
        decoding: DecodingKey::from_ec_pem(public_pem.as_bytes())?,
    })
}

impl KeyRing {
    /// Loads the keys in the database, making the first one when there is
    /// none. A database without keys first takes those of `legacy_dir`
    /// (`<data dir>/keys`, where earlier versions kept them), so that tokens
    /// issued before the upgrade stay valid.
    pub fn open(storage: Storage, sealer: Arc<Sealer>, legacy_dir: Option<&Path>) -> anyhow::Result<KeyRing> {
        let mut validation = Validation::new(Algorithm::ES256);
        // Expiry is checked by the caller so that `allow_expired` can be honoured.
        validation.validate_exp = false;
        validation.required_spec_claims.clear();
        let kr = KeyRing {
            storage,
            sealer,
            ring: RwLock::new(Ring { signing: None, verifying: HashMap::new() }),
            validation,
            last_miss: Mutex::new(None),
        };
        if let Some(dir) = legacy_dir
            && kr.storage.read_blocking(ids::signing_keys)?.is_empty()
        {
            kr.import(dir)?;
        }
        let stored = kr.storage.read_blocking(ids::signing_keys)?;
        let any_stored = !stored.is_empty();
        kr.install(stored);
        if kr.ring.read().map_or(true, |r| r.signing.is_none()) {
            if any_stored {
                anyhow::bail!(
                    "the token signing keys in the database cannot be opened with this process's secrets key; \
                     give every ironbark sharing the database the same IRONBARK_SECRETS_KEY"
                );
            }
            kr.create_key()?;
            kr.reload()?;
        }
        Ok(kr)
    }

    /// Copies the PEM files of an earlier version's key directory.
    fn import(&self, dir: &Path) -> anyhow::Result<()> {
        let Ok(entries) = fs::read_dir(dir) else { return Ok(()) };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            let Some(kid) = name.strip_prefix(PREFIX).and_then(|s| s.strip_suffix(".pem")) else { continue };
            let created = kid.split('-').next().and_then(|t| t.parse::<u64>().ok()).unwrap_or(0);
            let pem = fs::read_to_string(e.path())?;
            if parse_key(kid, &pem).is_err() {
                tracing::warn!(path = %e.path().display(), "not importing an unreadable signing key");
                continue;
            }
            let row = ids::SigningKey {
                kid: kid.to_string(),
                created_ms: created as i64,
                private_key: self.sealer.seal(&pem),
            };
            self.storage.write_blocking(|c| ids::signing_key_insert(c, &row))?;
            tracing::info!(kid = %kid, "imported a token signing key from {}", dir.display());
        }
        Ok(())
    }

    /// Makes the ring what the database holds (other processes sharing it
    /// may have rotated). Blocking.
    pub fn reload(&self) -> anyhow::Result<()> {
        let rows = self.storage.read_blocking(ids::signing_keys)?;
        self.install(rows);
        Ok(())
    }

    fn install(&self, rows: Vec<ids::SigningKey>) {
        let mut signing = None;
        let mut verifying = HashMap::new();
        for row in rows {
            let key = self
                .sealer
                .open(&row.private_key)
                .map_err(|e| anyhow::anyhow!(e))
                .and_then(|pem| parse_key(&row.kid, &pem));
            match key {
                Ok(key) => {
                    verifying.insert(key.kid.clone(), key.decoding.clone());
                    signing = Some(key);
                }
                Err(e) => tracing::warn!(kid = %row.kid, error = %e, "ignoring a signing key"),
            }
        }
        let mut ring = self.ring.write().unwrap_or_else(|p| p.into_inner());
        ring.signing = signing;
        ring.verifying = verifying;
    }

    fn create_key(&self) -> anyhow::Result<String> {
        let secret = p256::SecretKey::random(&mut p256::elliptic_curve::rand_core::OsRng);
        let pem = secret.to_pkcs8_pem(LineEnding::LF)?;
        let created = now_millis();
        let kid = format!("{created}-{}", &random_id()[..8]);
        let row = ids::SigningKey { kid: kid.clone(), created_ms: created as i64, private_key: self.sealer.seal(&pem) };
        self.storage.write_blocking(|c| ids::signing_key_insert(c, &row))?;
        tracing::info!(kid = %kid, "created token signing key");
        Ok(kid)
    }

    /// Makes a new signing key when the newest is older than `rotation`, and
    /// deletes keys that no unexpired token can need any more. Blocking.
    pub fn rotate_if_due(&self, rotation: Duration, token_lifetime: Duration) -> anyhow::Result<()> {
        let now = now_millis();
        let rows = self.storage.read_blocking(ids::signing_keys)?;
        let newest = rows.last().map_or(0, |r| r.created_ms.max(0) as u64);
        if now.saturating_sub(newest) >= rotation.as_millis() as u64 {
            self.create_key()?;
        }
        // A key may go once its successor has existed for a whole token lifetime.
        for pair in rows.windows(2) {
            let successor_created = pair[1].created_ms.max(0) as u64;
            if now.saturating_sub(successor_created) > token_lifetime.as_millis() as u64 + 60_000 {
                let kid = pair[0].kid.clone();
                self.storage.write_blocking(|c| ids::signing_key_delete(c, &kid))?;
                tracing::info!(kid = %pair[0].kid, "retired token signing key");
            }
        }
        self.reload()
    }

    pub fn sign(&self, claims: &Claims) -> anyhow::Result<String> {
        let ring = self.ring.read().unwrap_or_else(|p| p.into_inner());
        let key = ring.signing.as_ref().ok_or_else(|| anyhow::anyhow!("no signing key"))?;
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(key.kid.clone());
        Ok(jsonwebtoken::encode(&header, claims, &key.encoding)?)
    }

    /// Checks the signature with the keys in memory and decodes the claims.
    /// Expiry is not checked here.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        if token.len() > 8192 {
            return Err(TokenError::Malformed);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        if header.alg != Algorithm::ES256 {
            return Err(TokenError::Malformed);
        }
        let ring = self.ring.read().unwrap_or_else(|p| p.into_inner());
        let key = match header.kid.as_deref() {
            Some(kid) => ring.verifying.get(kid),
            None => ring.signing.as_ref().map(|k| &k.decoding),
        };
        let key = key.ok_or(TokenError::UnknownKey)?;
        match jsonwebtoken::decode::<Claims>(token, key, &self.validation) {
            Ok(d) => Ok(d.claims),
            Err(e) => match e.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature => Err(TokenError::BadSignature),
                _ => Err(TokenError::Malformed),
            },
        }
    }

    /// [`verify`](Self::verify), re-reading the database first when the
    /// token names a key this process has not seen yet (made by another
    /// process since the last reload), at most once per second.
    pub async fn verify_current(&self, token: &str) -> Result<Claims, TokenError> {
        match self.verify(token) {
            Err(TokenError::UnknownKey) if self.may_reload() => {
                match self.storage.read(ids::signing_keys).await {
                    Ok(rows) => self.install(rows),
                    Err(e) => tracing::warn!(error = %e, "signing keys could not be re-read"),
                }
                self.verify(token)
            }
            other => other,
        }
    }

    fn may_reload(&self) -> bool {
        let mut last = self.last_miss.lock().unwrap_or_else(|p| p.into_inner());
        if last.is_some_and(|t| t.elapsed() < MISS_RELOAD_INTERVAL) {
            return false;
        }
        *last = Some(Instant::now());
        true
    }

    pub fn key_count(&self) -> usize {
        self.ring.read().map_or(0, |r| r.verifying.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        Claims {
            sub: "u1".into(),
            iat: 1,
            exp: 2,
            openstack_methods: vec!["password".into()],
            openstack_audit_ids: vec![random_id()],
            openstack_project_id: Some("p1".into()),
            openstack_domain_id: None,
            openstack_system: None,
            openstack_app_cred_id: None,
            iat_us: 5,
        }
    }

    /// A ring over a fresh SQLite database in `dir`.
    fn ring(dir: &Path, legacy: Option<&Path>) -> (Storage, KeyRing) {
        let storage = Storage::open(dir.join("db.sqlite").to_str().unwrap(), 2).unwrap();
        storage.migrate().unwrap();
        let kr = KeyRing::open(storage.clone(), Arc::new(Sealer::from_key(&[3; 32])), legacy).unwrap();
        (storage, kr)
    }

    #[test]
    fn sign_verify_and_tamper() {
        let dir = tempfile::tempdir().unwrap();
        let (_, kr) = ring(dir.path(), None);
        let c = claims();
        let t = kr.sign(&c).unwrap();
        assert_eq!(kr.verify(&t).unwrap(), c);
        let mut parts: Vec<String> = t.split('.').map(String::from).collect();
        let first = if parts[2].starts_with('A') { 'B' } else { 'A' };
        parts[2] = format!("{first}{}", &parts[2][1..]);
        assert!(kr.verify(&parts.join(".")).is_err());
        assert_eq!(kr.verify("garbage"), Err(TokenError::Malformed));
    }

    #[test]
    fn keys_are_sealed_in_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let (storage, _) = ring(dir.path(), None);
        let rows = storage.read_blocking(ids::signing_keys).unwrap();
        assert_eq!(rows.len(), 1);
        assert!(crate::common::sealing::is_sealed(&rows[0].private_key));
        assert!(!rows[0].private_key.contains("PRIVATE KEY"));
    }

    #[test]
    fn rotation_keeps_old_tokens_valid_and_other_processes_follow() {
        let dir = tempfile::tempdir().unwrap();
        let (storage, kr) = ring(dir.path(), None);
        // A second process over the same database.
        let other = KeyRing::open(storage.clone(), Arc::new(Sealer::from_key(&[3; 32])), None).unwrap();
        let old = kr.sign(&claims()).unwrap();
        assert!(other.verify(&old).is_ok(), "both use the one key in the database");
        // Force a rotation: a zero rotation interval always makes a new key.
        std::thread::sleep(Duration::from_millis(5));
        kr.rotate_if_due(Duration::ZERO, Duration::from_secs(3600)).unwrap();
        assert_eq!(kr.key_count(), 2);
        let new = kr.sign(&claims()).unwrap();
        assert_ne!(jsonwebtoken::decode_header(&old).unwrap().kid, jsonwebtoken::decode_header(&new).unwrap().kid);
        assert!(kr.verify(&old).is_ok());
        assert!(kr.verify(&new).is_ok());
        // The other process has not reloaded yet; verifying re-reads the keys.
        assert_eq!(other.verify(&new), Err(TokenError::UnknownKey));
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        assert!(rt.block_on(other.verify_current(&new)).is_ok());
        // ...but not again within a second for a key nobody has.
        let header = r#"{"alg":"ES256","kid":"1-forged"}"#;
        let forged = format!(
            "{}.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(header),
            &new[new.find('.').unwrap() + 1..]
        );
        assert_eq!(rt.block_on(other.verify_current(&forged)), Err(TokenError::UnknownKey));
        // A process with another secrets key is refused, not handed a key of its own.
        let stranger = KeyRing::open(storage.clone(), Arc::new(Sealer::from_key(&[4; 32])), None);
        assert!(stranger.err().unwrap().to_string().contains("IRONBARK_SECRETS_KEY"));
    }

    #[test]
    fn a_key_is_retired_once_its_successor_outlived_every_token() {
        let dir = tempfile::tempdir().unwrap();
        let (storage, kr) = ring(dir.path(), None);
        let sealer = Sealer::from_key(&[3; 32]);
        let hour = 3_600_000_i64;
        let now = now_millis() as i64;
        for (kid, age) in [("a", 3 * hour), ("b", 2 * hour)] {
            let pem = p256::SecretKey::random(&mut p256::elliptic_curve::rand_core::OsRng)
                .to_pkcs8_pem(LineEnding::LF)
                .unwrap();
            let row = ids::SigningKey { kid: kid.into(), created_ms: now - age, private_key: sealer.seal(&pem) };
            storage.write_blocking(|c| ids::signing_key_insert(c, &row)).unwrap();
        }
        // Tokens live an hour: "a" (followed by "b" two hours ago) can go,
        // "b" (followed by the key made at open, just now) cannot.
        kr.rotate_if_due(Duration::from_secs(3600), Duration::from_secs(3600)).unwrap();
        let left: Vec<String> = storage.read_blocking(ids::signing_keys).unwrap().into_iter().map(|k| k.kid).collect();
        assert_eq!(left.len(), 2);
        assert!(!left.contains(&"a".to_string()) && left.contains(&"b".to_string()));
    }

    #[test]
    fn keys_of_an_earlier_version_are_imported() {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys");
        fs::create_dir_all(&keys).unwrap();
        let secret = p256::SecretKey::random(&mut p256::elliptic_curve::rand_core::OsRng);
        let pem = secret.to_pkcs8_pem(LineEnding::LF).unwrap();
        fs::write(keys.join("jws-1000-abcdefgh.pem"), pem.as_bytes()).unwrap();
        let (_, kr) = ring(dir.path(), Some(&keys));
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some("1000-abcdefgh".into());
        let old = jsonwebtoken::encode(&header, &claims(), &EncodingKey::from_ec_pem(pem.as_bytes()).unwrap()).unwrap();
        assert!(kr.verify(&old).is_ok(), "a token signed before the upgrade still verifies");
    }
}
