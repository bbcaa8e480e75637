//! `PATCH /v2/images/{id}`: the body applied to a stored image by the image
//! API's `patched_image` (media type, Glance's restricted JSON patch, the
//! patch itself, then the image schema and its rules).
//!
//! Input: one control byte, then the body. The control byte picks the
//! media type (v2.1, v2.0 or a wrong one), whether the caller is an admin
//! or the owning project's member, and whether the image is still queued.
//!
//! Checks: no panic; on success the read-only attributes are unchanged,
//! no reserved or read-only name became a custom property, the limits on
//! properties and tags hold, tags are unique, and a member neither changed
//! the owner nor made the image public, nor changed the formats of an
//! image that has data.
#![no_main]

use chrono::NaiveDateTime;
use ironbark::api::image::{DISK_FORMATS, VISIBILITIES, patched_image};
use ironbark::common::auth::AuthContext;
use ironbark::storage::images::{FullImage, Image};
use libfuzzer_sys::fuzz_target;

const MEDIA: [&str; 4] = [
    "application/openstack-images-v2.1-json-patch",
    "application/openstack-images-v2.0-json-patch",
    "Application/OpenStack-Images-v2.1-JSON-Patch; charset=UTF-8",
    "application/json",
];
const PROJECT: &str = "f2c8b1d6b4f84f0c9c6a8c1b5f7c0d11";
/// Glance's read-only and reserved names: never stored as properties.
const NOT_PROPERTIES: &[&str] = &[
    "created_at",
    "updated_at",
    "status",
    "checksum",
    "size",
    "virtual_size",
    "direct_url",
    "self",
    "file",
    "schema",
    "id",
    "os_hash_algo",
    "os_hash_value",
    "stores",
    "locations",
    "location",
    "deleted",
    "deleted_at",
];

fn image(queued: bool) -> FullImage {
    let t = NaiveDateTime::parse_from_str("2026-03-01T10:00:00", "%Y-%m-%dT%H:%M:%S").unwrap();
    FullImage {
        image: Image {
            uuid: "7b6f2b6e-3c55-4a34-8a4e-5f0d3c1d2e9a".into(),
            name: Some("focal".into()),
            status: if queued { "queued" } else { "active" }.into(),
            visibility: "shared".into(),
            owner: Some(PROJECT.into()),
            disk_format: if queued { None } else { Some("qcow2".into()) },
            container_format: if queued { None } else { Some("bare".into()) },
            size: (!queued).then_some(2_361_393_152),
            virtual_size: None,
            checksum: (!queued).then(|| "5d41402abc4b2a76b9719d911017c592".into()),
            os_hash_algo: (!queued).then(|| "sha512".into()),
            os_hash_value: (!queued).then(|| "ab".repeat(64)),
            min_ram: 512,
            min_disk: 10,
            protected: false,
            os_hidden: false,
            store: (!queued).then(|| "file".into()),
            row_version: 3,
            created_at: t,
            updated_at: t,
        },
        properties: vec![
            ("hw_firmware_type".into(), "uefi".into()),
            ("os_distro".into(), "ubuntu".into()),
            ("os~weird/name".into(), "x".into()),
        ],
        tags: vec!["ubuntu".into(), "lts".into()],
    }
}

fn caller(admin: bool) -> AuthContext {
    AuthContext {
        user_id: Some("u1".into()),
        project_id: Some(PROJECT.into()),
        roles: if admin {
            vec!["admin".into(), "member".into(), "reader".into()]
        } else {
            vec!["member".into(), "reader".into()]
        },
        ..Default::default()
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, body)) = data.split_first() else { return };
    let (admin, queued) = (ctl & 4 != 0, ctl & 8 != 0);
    let before = image(queued);
    let ctx = caller(admin);
    let Ok(after) = patched_image(&ctx, &before, MEDIA[usize::from(ctl & 3)], body) else { return };
    let (a, b) = (&after.image, &before.image);
    assert_eq!(
        (&a.uuid, &a.status, a.size, a.virtual_size, &a.checksum, &a.os_hash_value, &a.store, a.created_at),
        (&b.uuid, &b.status, b.size, b.virtual_size, &b.checksum, &b.os_hash_value, &b.store, b.created_at),
        "a read-only attribute changed"
    );
    assert!(after.properties.len() <= 128 && after.tags.len() <= 128, "over a limit");
    for (k, _) in &after.properties {
        assert!(!NOT_PROPERTIES.contains(&k.as_str()) && !k.starts_with("os_glance"), "property {k:?} stored");
        assert!(k.chars().count() <= 255);
    }
    for (i, t) in after.tags.iter().enumerate() {
        assert!(!after.tags[..i].contains(t), "tag {t:?} twice");
    }
    assert!(VISIBILITIES.contains(&a.visibility.as_str()));
    assert!(a.disk_format.as_deref().is_none_or(|f| DISK_FORMATS.contains(&f)));
    assert!(a.min_ram >= 0 && a.min_disk >= 0);
    if !admin {
        assert_eq!(a.owner, b.owner, "a member changed the owner");
        assert!(a.visibility != "public", "a member made the image public");
    }
    if !queued {
        assert_eq!((&a.disk_format, &a.container_format), (&b.disk_format, &b.container_format));
    }
});
