//! Token signing: JWS (ES256) with keys kept in the data directory.
//!
//! The newest key signs; every key still on disk verifies (selected by the
//! `kid` header). A key is retired from disk once a newer key has been
//! signing for longer than the token lifetime, so no live token needs it.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use p256::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use serde::{Deserialize, Serialize};

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
    /// Creation time, milliseconds since the epoch (the start of the kid).
    created: u64,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

struct Ring {
    signing: Option<Key>,
    verifying: HashMap<String, DecodingKey>,
}

pub struct KeyRing {
    dir: PathBuf,
    ring: RwLock<Ring>,
    validation: Validation,
}

const PREFIX: &str = "jws-";

fn now_millis() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// A random identifier: 16 bytes, URL-safe base64 without padding (22 chars),
/// the shape of Keystone's audit ids.
pub fn random_id() -> String {
    let bytes: [u8; 16] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl KeyRing {
    /// Loads the keys in `dir`, making the first one when there is none.
    pub fn open(dir: &Path) -> anyhow::Result<KeyRing> {
        fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
        let mut validation = Validation::new(Algorithm::ES256);
        // Expiry is checked by the caller so that `allow_expired` can be honoured.
        validation.validate_exp = false;
        validation.required_spec_claims.clear();
        let kr = KeyRing {
            dir: dir.to_path_buf(),
            ring: RwLock::new(Ring { signing: None, verifying: HashMap::new() }),
            validation,
        };
        kr.reload()?;
        if kr.ring.read().map_or(true, |r| r.signing.is_none()) {
            kr.create_key()?;
            kr.reload()?;
        }
        Ok(kr)
    }

    fn key_files(&self) -> anyhow::Result<Vec<(u64, String, PathBuf)>> {
        let mut out = Vec::new();
        for e in fs::read_dir(&self.dir)? {
            let e = e?;
            let name = e.file_name().to_string_lossy().to_string();
            let Some(stem) = name.strip_prefix(PREFIX).and_then(|s| s.strip_suffix(".pem")) else { continue };
            let created = stem.split('-').next().and_then(|t| t.parse::<u64>().ok()).unwrap_or(0);
            out.push((created, stem.to_string(), e.path()));
        }
        out.sort();
        Ok(out)
    }

    /// Re-reads the directory (other processes sharing it may have rotated).
    pub fn reload(&self) -> anyhow::Result<()> {
        let mut signing = None;
        let mut verifying = HashMap::new();
        for (created, kid, path) in self.key_files()? {
            let pem = fs::read(&path)?;
            let secret = match p256::SecretKey::from_sec1_pem(&String::from_utf8_lossy(&pem)).ok().or_else(|| {
                use p256::pkcs8::DecodePrivateKey;
                p256::SecretKey::from_pkcs8_pem(&String::from_utf8_lossy(&pem)).ok()
            }) {
                Some(s) => s,
                None => {
                    tracing::warn!(path = %path.display(), "ignoring unreadable signing key");
                    continue;
                }
            };
            let public_pem = secret.public_key().to_public_key_pem(LineEnding::LF)?;
            let decoding = DecodingKey::from_ec_pem(public_pem.as_bytes())?;
            let encoding = EncodingKey::from_ec_pem(&pem)?;
            verifying.insert(kid.clone(), decoding.clone());
            signing = Some(Key { kid, created, encoding, decoding });
        }
        let mut ring = self.ring.write().unwrap_or_else(|p| p.into_inner());
        ring.signing = signing;
        ring.verifying = verifying;
        Ok(())
    }

    fn create_key(&self) -> anyhow::Result<String> {
        let secret = p256::SecretKey::random(&mut p256::elliptic_curve::rand_core::OsRng);
        let pem = secret.to_pkcs8_pem(LineEnding::LF)?;
        let kid = format!("{}-{}", now_millis(), &random_id()[..8]);
        let path = self.dir.join(format!("{PREFIX}{kid}.pem"));
        let tmp = self.dir.join(format!(".{PREFIX}{kid}.tmp"));
        write_private(&tmp, pem.as_bytes())?;
        fs::rename(&tmp, &path)?;
        tracing::info!(kid = %kid, "created token signing key");
        Ok(kid)
    }

    /// Makes a new signing key when the newest is older than `rotation`, and
    /// deletes keys that no unexpired token can need any more.
    pub fn rotate_if_due(&self, rotation: Duration, token_lifetime: Duration) -> anyhow::Result<()> {
        self.reload()?;
        let now = now_millis();
        let newest = self.ring.read().ok().and_then(|r| r.signing.as_ref().map(|k| k.created)).unwrap_or(0);
        if now.saturating_sub(newest) >= rotation.as_millis() as u64 {
            self.create_key()?;
        }
        let files = self.key_files()?;
        // A key may go once its successor has existed for a whole token lifetime.
        for pair in files.windows(2) {
            let (successor_created, ..) = pair[1];
            if now.saturating_sub(successor_created) > token_lifetime.as_millis() as u64 + 60_000 {
                let _ = fs::remove_file(&pair[0].2);
                tracing::info!(kid = %pair[0].1, "retired token signing key");
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

    /// Checks the signature and decodes the claims. Expiry is not checked here.
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

    pub fn key_count(&self) -> usize {
        self.ring.read().map_or(0, |r| r.verifying.len())
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    fs::write(path, bytes)
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

    #[test]
    fn sign_verify_and_tamper() {
        let dir = tempfile::tempdir().unwrap();
        let kr = KeyRing::open(dir.path()).unwrap();
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
    fn rotation_keeps_old_tokens_valid_until_retired() {
        let dir = tempfile::tempdir().unwrap();
        let kr = KeyRing::open(dir.path()).unwrap();
        let old = kr.sign(&claims()).unwrap();
        // Force a rotation: a zero rotation interval always makes a new key.
        std::thread::sleep(Duration::from_millis(5));
        kr.rotate_if_due(Duration::ZERO, Duration::from_secs(3600)).unwrap();
        assert_eq!(kr.key_count(), 2);
        let new = kr.sign(&claims()).unwrap();
        assert_ne!(jsonwebtoken::decode_header(&old).unwrap().kid, jsonwebtoken::decode_header(&new).unwrap().kid);
        assert!(kr.verify(&old).is_ok());
        assert!(kr.verify(&new).is_ok());
        // A second ring over the same directory verifies both (shared data dir).
        let other = KeyRing::open(dir.path()).unwrap();
        assert!(other.verify(&old).is_ok());
    }
}
