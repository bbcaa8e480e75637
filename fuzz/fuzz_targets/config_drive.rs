//! Config drives: what a deploy request's `configdrive` and a server's
//! fields put on the VFAT image `drivers::configdrive` builds.
//!
//! Input, when it starts with `{` or `"`: JSON, as a request carries it:
//! - a string: the wire form (base64, gzipped or not), read by `decode`;
//! - an object with `server`: a Nova server's fields (name, hostname,
//!   key_name, key_data, user_data in base64, metadata, availability_zone)
//!   and `network_data`, through `engine::instances::config_drive`, whose
//!   drive is then read as Ironic's object form and built;
//! - any other object: Ironic's object form (`meta_data`, `network_data`,
//!   `user_data`, `vendor_data`), through `configdrive::image_of`.
//!
//! Otherwise the bytes are an `arbitrary` drive: binary user data, possibly
//! repeated into megabytes, and string maps for the JSON files.
//!
//! Checks: no panic; a Nova server's drive is always accepted by the object
//! form; every image built is a whole number of MiB, opens with `fatfs`,
//! is labelled `config-2`, and holds exactly `openstack/latest/<files>`
//! with the bytes `ConfigDrive::files` says.
#![no_main]

use std::io::{Cursor, Read};

use arbitrary::{Arbitrary, Unstructured};
use base64::Engine as _;
use chrono::NaiveDateTime;
use ironbark::drivers::configdrive::{self, ConfigDrive};
use ironbark::engine::instances::config_drive;
use ironbark::storage::servers::Server;
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

const MIB: usize = 1024 * 1024;

#[derive(Arbitrary, Debug)]
struct Parts {
    meta_data: Vec<(String, String)>,
    network_data: Option<Vec<(String, String)>>,
    vendor_data: Option<Vec<(String, String)>>,
    user_data: Option<Vec<u8>>,
    /// How many times the user data is repeated (up to a few MiB): the
    /// image grows in MiB steps with the payload.
    repeat: u16,
}

fn object(pairs: Vec<(String, String)>) -> Map<String, Value> {
    pairs.into_iter().map(|(k, v)| (k, Value::String(v))).collect()
}

/// The names (sorted) and bytes of a directory's entries; `.`/`..` left out.
fn entries<T: fatfs::ReadWriteSeek>(dir: &fatfs::Dir<'_, T>) -> Vec<(String, bool)> {
    let mut out: Vec<(String, bool)> = dir
        .iter()
        .map(|e| e.expect("a readable directory entry"))
        .filter(|e| e.file_name() != "." && e.file_name() != "..")
        .map(|e| (e.file_name(), e.is_dir()))
        .collect();
    out.sort();
    out
}

fn check(drive: &ConfigDrive, image: &[u8]) {
    assert!(image.len() >= MIB && image.len() % MIB == 0, "an image of {} bytes", image.len());
    let files = drive.files();
    let payload: usize = files.iter().map(|(_, d)| d.len()).sum();
    assert!(image.len() > payload, "{payload} bytes of files on an image of {}", image.len());
    {
        let mut cur = Cursor::new(image.to_vec());
        let fs = fatfs::FileSystem::new(&mut cur, fatfs::FsOptions::new()).expect("the image opens as FAT");
        assert_eq!(fs.volume_label().trim_end(), "config-2");
        let root = fs.root_dir();
        assert_eq!(entries(&root), [("openstack".to_string(), true)]);
        let openstack = root.open_dir("openstack").unwrap();
        assert_eq!(entries(&openstack), [("latest".to_string(), true)]);
        let latest = openstack.open_dir("latest").unwrap();
        let mut want: Vec<(String, bool)> = files.iter().map(|(n, _)| (n.to_string(), false)).collect();
        want.sort();
        assert_eq!(entries(&latest), want);
        for (name, data) in &files {
            let mut got = Vec::new();
            latest.open_file(name).unwrap().read_to_end(&mut got).unwrap();
            assert!(got == *data, "{name}: {} bytes read back, {} written", got.len(), data.len());
        }
    }
    // The helper the deploy's own checks use agrees.
    assert_eq!(configdrive::label(image).unwrap().trim_end(), "config-2");
}

fn build_and_check(drive: &ConfigDrive) {
    let image = drive.build().expect("a drive builds");
    check(drive, &image);
}

fn text(v: Option<&Value>) -> Option<String> {
    v.map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
}

fn server(s: &Map<String, Value>) -> Server {
    let t = NaiveDateTime::parse_from_str("2026-03-01T10:00:00", "%Y-%m-%dT%H:%M:%S").unwrap();
    let get = |k: &str| text(s.get(k));
    Server {
        id: 1,
        uuid: "0d8b7b3e-6c2f-4b0a-9a47-2b6f1f3c9e11".into(),
        name: get("name").unwrap_or_default(),
        project_id: "f2c8b1d6b4f84f0c9c6a8c1b5f7c0d11".into(),
        user_id: "u1".into(),
        flavor: "{}".into(),
        image_uuid: None,
        key_name: get("key_name"),
        key_data: get("key_data"),
        user_data: get("user_data"),
        config_drive: true,
        metadata: get("metadata").unwrap_or_else(|| "{}".into()),
        availability_zone: get("availability_zone"),
        requested_networks: "[]".into(),
        ports: "[]".into(),
        vm_state: "building".into(),
        task_state: Some("spawning".into()),
        power_state: 0,
        node_uuid: None,
        fault: None,
        description: None,
        hostname: get("hostname").unwrap_or_default(),
        reservation_id: "r-1".into(),
        launched_at: None,
        created_at: t,
        updated_at: None,
    }
}

fn json(v: Value) {
    match v {
        Value::String(s) => {
            // The wire form carries a finished image: only its reading is checked.
            let _ = configdrive::decode(&s);
        }
        Value::Object(m) if m.contains_key("server") => {
            let Some(Value::Object(s)) = m.get("server") else { return };
            let srv = server(s);
            // Networking always hands the build an object (or nothing).
            let network_data = match m.get("network_data") {
                Some(v @ Value::Object(_)) => v.clone(),
                _ => Value::Null,
            };
            let drive = config_drive(&srv, network_data);
            let Value::Object(obj) = &drive else { panic!("a server's drive is not an object: {drive}") };
            let parsed = ConfigDrive::from_object(obj).unwrap_or_else(|e| panic!("{e}: {drive}"));
            assert_eq!(parsed.meta_data.get("uuid"), Some(&Value::String(srv.uuid.clone())));
            let decoded =
                srv.user_data.as_deref().and_then(|u| base64::engine::general_purpose::STANDARD.decode(u).ok());
            assert_eq!(parsed.user_data, decoded.map(|b| String::from_utf8_lossy(&b).into_owned().into_bytes()));
            build_and_check(&parsed);
            assert_eq!(configdrive::image_of(&drive).expect("the object form builds").len() % MIB, 0);
        }
        Value::Object(m) => {
            if let Ok(drive) = ConfigDrive::from_object(&m) {
                build_and_check(&drive);
            }
        }
        other => assert!(configdrive::image_of(&other).is_err()),
    }
}

fuzz_target!(|data: &[u8]| {
    if matches!(data.first(), Some(b'{' | b'"')) {
        if let Ok(v) = serde_json::from_slice::<Value>(data) {
            json(v);
        }
        return;
    }
    let Ok(p) = Parts::arbitrary_take_rest(Unstructured::new(data)) else { return };
    let user_data = p.user_data.map(|u| {
        let times = if u.is_empty() { 1 } else { usize::from(p.repeat).min(3 * MIB / u.len()).max(1) };
        u.repeat(times)
    });
    let drive = ConfigDrive {
        meta_data: object(p.meta_data),
        network_data: p.network_data.map(|n| Value::Object(object(n))),
        user_data,
        vendor_data: p.vendor_data.map(|n| Value::Object(object(n))),
    };
    build_and_check(&drive);
});
