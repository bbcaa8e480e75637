//! Secrets at rest (BMC credentials, token signing keys) sealed with
//! ChaCha20-Poly1305.
//!
//! The 32-byte key comes from `secrets_key` in the configuration (base64;
//! every process sharing a database must have the same one) or, failing
//! that, from `<data_dir>/secrets.key`, created on first start.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

/// Marks a sealed value: `ironbark-sealed:v1:<base64 of nonce ‖ ciphertext>`.
const PREFIX: &str = "ironbark-sealed:v1:";

/// Whether `value` is sealed (rather than stored plain).
pub fn is_sealed(value: &str) -> bool {
    value.starts_with(PREFIX)
}

pub struct Sealer {
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

impl Sealer {
    pub fn from_key(key: &[u8; 32]) -> Sealer {
        Sealer { cipher: ChaCha20Poly1305::new(&Key::from(*key)) }
    }

    /// The configured key (base64 of 32 bytes), else the data directory's
    /// key file, created with mode 0600 when missing.
    pub fn load(configured: Option<&str>, data_dir: &Path) -> anyhow::Result<Sealer> {
        let text = match configured.filter(|k| !k.trim().is_empty()) {
            Some(k) => k.trim().to_string(),
            None => {
                let path = data_dir.join("secrets.key");
                match std::fs::read_to_string(&path) {
                    Ok(t) => t.trim().to_string(),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        let key = ChaCha20Poly1305::generate_key(&mut OsRng);
                        let text = STANDARD.encode(key);
                        write_private(&path, &text)?;
                        text
                    }
                    Err(e) => anyhow::bail!("cannot read the secrets key {}: {e}", path.display()),
                }
            }
        };
        let bytes = STANDARD.decode(&text).map_err(|e| anyhow::anyhow!("the secrets key is not base64: {e}"))?;
        let key: [u8; 32] =
            bytes.try_into().map_err(|_| anyhow::anyhow!("the secrets key must be 32 bytes (base64-encoded)"))?;
        Ok(Sealer::from_key(&key))
    }

    pub fn seal(&self, plain: &str) -> String {
        let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
        // Encryption of an in-memory buffer cannot fail with this AEAD.
        let sealed = self.cipher.encrypt(&nonce, plain.as_bytes()).unwrap_or_default();
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&sealed);
        format!("{PREFIX}{}", STANDARD.encode(blob))
    }

    /// The plain text of a sealed value; other values pass through.
    pub fn open(&self, value: &str) -> Result<String, String> {
        let Some(b64) = value.strip_prefix(PREFIX) else { return Ok(value.to_string()) };
        let blob = STANDARD.decode(b64).map_err(|_| "a sealed secret is corrupt".to_string())?;
        if blob.len() < 12 {
            return Err("a sealed secret is corrupt".into());
        }
        let (nonce, data) = blob.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| "a sealed secret is corrupt".to_string())?;
        let plain = self.cipher.decrypt(&Nonce::from(nonce), data).map_err(|_| {
            "a sealed secret cannot be opened with this process's secrets key (is `secrets_key` the same on \
             every ironbark sharing the database?)"
                .to_string()
        })?;
        String::from_utf8(plain).map_err(|_| "a sealed secret is corrupt".into())
    }
}

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f =
        opts.open(path).map_err(|e| anyhow::anyhow!("cannot create the secrets key {}: {e}", path.display()))?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_with_their_key_only() {
        let s = Sealer::from_key(&[7; 32]);
        let sealed = s.seal("hunter2");
        assert!(is_sealed(&sealed) && !sealed.contains("hunter2"));
        assert_eq!(s.open(&sealed).unwrap(), "hunter2");
        assert!(Sealer::from_key(&[8; 32]).open(&sealed).is_err());
    }

    #[test]
    fn the_key_file_is_made_once() {
        let dir = tempfile::tempdir().unwrap();
        let a = Sealer::load(None, dir.path()).unwrap();
        let b = Sealer::load(None, dir.path()).unwrap();
        assert_eq!(b.open(&a.seal("x")).unwrap(), "x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("secrets.key")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(Sealer::load(Some("c2hvcnQ="), dir.path()).is_err(), "a short key is refused");
    }
}
