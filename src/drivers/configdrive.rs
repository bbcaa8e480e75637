//! Config drives in OpenStack's format: a small filesystem labelled
//! `config-2` holding `openstack/latest/{meta_data.json, network_data.json,
//! user_data, vendor_data.json, vendor_data2.json}` that cloud-init reads at
//! first boot. ironbark builds it as a VFAT image (one of the two formats
//! cloud-init accepts). On the wire (`configdrive` in a deploy request) a
//! drive is the gzipped image in base64; a JSON object asks ironbark to
//! build one from its parts, as Ironic does.

use std::io::{self, Cursor, Read, Write};

use base64::Engine as _;
use serde_json::{Map, Value};

/// What goes on a config drive.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConfigDrive {
    pub meta_data: Map<String, Value>,
    pub network_data: Option<Value>,
    pub user_data: Option<Vec<u8>>,
    pub vendor_data: Option<Value>,
}

/// Why a `configdrive` request value could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigDriveError {
    #[error("Invalid configdrive: {0}")]
    Invalid(String),
    #[error("Config drive could not be built: {0}")]
    Io(#[from] io::Error),
}

const LABEL: [u8; 11] = *b"config-2   ";
const MIB: usize = 1024 * 1024;

impl ConfigDrive {
    /// Reads Ironic's object form: `meta_data`, `network_data`, `user_data`
    /// (a string, or JSON that is serialised), `vendor_data`.
    pub fn from_object(m: &Map<String, Value>) -> Result<ConfigDrive, ConfigDriveError> {
        if let Some(k) =
            m.keys().find(|k| !["meta_data", "network_data", "user_data", "vendor_data"].contains(&k.as_str()))
        {
            return Err(ConfigDriveError::Invalid(format!("unknown key '{k}'")));
        }
        let meta_data = match m.get("meta_data") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(o)) => o.clone(),
            Some(_) => return Err(ConfigDriveError::Invalid("meta_data must be an object".into())),
        };
        let object_or_null = |k: &str| match m.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(v @ Value::Object(_)) => Ok(Some(v.clone())),
            Some(_) => Err(ConfigDriveError::Invalid(format!("{k} must be an object"))),
        };
        let user_data = match m.get("user_data") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone().into_bytes()),
            Some(v) => Some(v.to_string().into_bytes()),
        };
        Ok(ConfigDrive {
            meta_data,
            network_data: object_or_null("network_data")?,
            user_data,
            vendor_data: object_or_null("vendor_data")?,
        })
    }

    /// The files of the drive, by path.
    pub fn files(&self) -> Vec<(&'static str, Vec<u8>)> {
        let mut out = vec![("meta_data.json", Value::Object(self.meta_data.clone()).to_string().into_bytes())];
        out.push((
            "network_data.json",
            self.network_data.clone().unwrap_or(Value::Object(Map::new())).to_string().into(),
        ));
        let vendor = self.vendor_data.clone().unwrap_or(Value::Object(Map::new())).to_string().into_bytes();
        out.push(("vendor_data.json", vendor.clone()));
        out.push(("vendor_data2.json", vendor));
        if let Some(u) = &self.user_data {
            out.push(("user_data", u.clone()));
        }
        out
    }

    /// The VFAT image: sized for its content, at least 1 MiB.
    pub fn build(&self) -> Result<Vec<u8>, ConfigDriveError> {
        let files = self.files();
        let payload: usize = files.iter().map(|(_, d)| d.len()).sum();
        let size = (payload * 2 / MIB + 1).max(1) * MIB;
        let mut img = Cursor::new(vec![0u8; size]);
        fatfs::format_volume(&mut img, fatfs::FormatVolumeOptions::new().volume_label(LABEL))?;
        {
            let fs = fatfs::FileSystem::new(&mut img, fatfs::FsOptions::new())?;
            {
                let latest = fs.root_dir().create_dir("openstack")?.create_dir("latest")?;
                for (name, data) in files {
                    let mut f = latest.create_file(name)?;
                    f.truncate()?;
                    f.write_all(&data)?;
                    f.flush()?;
                }
            }
            fs.unmount()?;
        }
        Ok(img.into_inner())
    }
}

/// `base64(gzip(image))`, the form a deploy request carries.
pub fn encode(image: &[u8]) -> String {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    gz.write_all(image).expect("in-memory gzip");
    base64::engine::general_purpose::STANDARD.encode(gz.finish().expect("in-memory gzip"))
}

/// The image carried by a request string: base64, gzipped or not.
pub fn decode(text: &str) -> Result<Vec<u8>, ConfigDriveError> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| ConfigDriveError::Invalid(format!("not base64: {e}")))?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| ConfigDriveError::Invalid(format!("not gzip: {e}")))?;
        return Ok(out);
    }
    Ok(raw)
}

/// The image a request's `configdrive` (string or object) stands for.
pub fn image_of(v: &Value) -> Result<Vec<u8>, ConfigDriveError> {
    match v {
        Value::String(s) => decode(s),
        Value::Object(m) => ConfigDrive::from_object(m)?.build(),
        _ => Err(ConfigDriveError::Invalid("must be a string or an object".into())),
    }
}

/// Reads one file back from a drive image (for checks and tests).
pub fn read_file(image: &[u8], path: &str) -> io::Result<Vec<u8>> {
    let mut cur = Cursor::new(image.to_vec());
    let fs = fatfs::FileSystem::new(&mut cur, fatfs::FsOptions::new())?;
    let mut f = fs.root_dir().open_file(path)?;
    let mut out = Vec::new();
    f.read_to_end(&mut out)?;
    Ok(out)
}

/// The volume label of a drive image.
pub fn label(image: &[u8]) -> io::Result<String> {
    let mut cur = Cursor::new(image.to_vec());
    let fs = fatfs::FileSystem::new(&mut cur, fatfs::FsOptions::new())?;
    Ok(fs.volume_label())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn builds_a_readable_config_2_drive() {
        let Value::Object(req) = json!({
            "meta_data": {"uuid": "u1", "public_keys": {"k": "ssh-ed25519 AAAA x"}},
            "network_data": {"links": [], "networks": [], "services": []},
            "user_data": "#cloud-config\n",
        }) else {
            unreachable!()
        };
        let image = ConfigDrive::from_object(&req).unwrap().build().unwrap();
        assert_eq!(label(&image).unwrap().trim(), "config-2");
        let meta: Value =
            serde_json::from_slice(&read_file(&image, "openstack/latest/meta_data.json").unwrap()).unwrap();
        assert_eq!(meta["public_keys"]["k"], "ssh-ed25519 AAAA x");
        assert_eq!(read_file(&image, "openstack/latest/user_data").unwrap(), b"#cloud-config\n");
        assert!(read_file(&image, "openstack/latest/network_data.json").is_ok());
        // The wire form round-trips.
        assert_eq!(decode(&encode(&image)).unwrap(), image);
        assert_eq!(image_of(&json!(encode(&image))).unwrap(), image);
    }

    #[test]
    fn refuses_bad_requests() {
        assert!(image_of(&json!(5)).is_err());
        assert!(image_of(&json!("%%%")).is_err());
        assert!(image_of(&json!({"meta_data": "x"})).is_err());
        assert!(image_of(&json!({"other": {}})).is_err());
    }
}
