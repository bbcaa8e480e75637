//! One VNC object as contrail-api serves it: type, uuid, fq_name, parent and
//! its own properties and references (`<type>_refs`).

use serde_json::{Map, Value, json};
use uuid::Uuid;

/// The object types served, with the parent type of each (`None` =
/// config-root), in the order the root document lists them.
pub const TYPES: &[(&str, Option<&str>)] = &[
    ("domain", None),
    ("project", Some("domain")),
    ("network-ipam", Some("project")),
    ("virtual-network", Some("project")),
    ("virtual-machine-interface", Some("project")),
    ("instance-ip", None),
    ("global-system-config", None),
    ("fabric", Some("global-system-config")),
    ("physical-router", Some("global-system-config")),
    ("physical-interface", Some("physical-router")),
    ("virtual-port-group", Some("fabric")),
];

pub fn is_type(kind: &str) -> bool {
    TYPES.iter().any(|(t, _)| *t == kind)
}

fn parent_type(kind: &str) -> Option<&'static str> {
    TYPES.iter().find(|(t, _)| *t == kind).and_then(|(_, p)| *p)
}

/// Namespace of the uuids ironbark derives for objects that have no uuid
/// of their own (switches, switch ports, VPGs, addresses).
const NAMESPACE: Uuid = Uuid::from_u128(0x6c0e_1f3a_5b2d_4e8f_9a71_c4d2_b8e3_0f51);

/// A stable uuid for a derived object, from what identifies it.
pub fn derived_uuid(kind: &str, key: &str) -> String {
    Uuid::new_v5(&NAMESPACE, format!("{kind}:{key}").as_bytes()).to_string()
}

/// The uuid of an object named by its fq_name alone.
pub fn uuid_of_name(kind: &str, fq_name: &[String]) -> String {
    derived_uuid(kind, &fq_name.join(":"))
}

/// An OpenStack id as a VNC uuid: Keystone's undashed hex gets its dashes
/// (as vnc_openstack does); anything else gets a derived uuid.
pub fn uuid_of_id(kind: &str, id: &str) -> String {
    Uuid::parse_str(id).map(|u| u.to_string()).unwrap_or_else(|_| derived_uuid(kind, id))
}

pub fn fq(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| s.to_string()).collect()
}

#[derive(Debug, Clone)]
pub struct VncObject {
    pub kind: &'static str,
    pub uuid: String,
    pub fq_name: Vec<String>,
    pub parent_uuid: Option<String>,
    /// Properties and references, without the common identity fields.
    pub props: Map<String, Value>,
}

impl VncObject {
    pub fn new(kind: &'static str, uuid: String, fq_name: Vec<String>, parent_uuid: Option<String>) -> Self {
        VncObject { kind, uuid, fq_name, parent_uuid, props: Map::new() }
    }

    pub fn set(&mut self, key: &str, value: Value) -> &mut Self {
        self.props.insert(key.to_string(), value);
        self
    }

    /// `id_perms` with `enable` (= Neutron's admin_state_up) and the uuid
    /// halves contrail-api always includes.
    pub fn id_perms(&mut self, enable: bool, created: Option<String>, modified: Option<String>) -> &mut Self {
        let u = Uuid::parse_str(&self.uuid).map(|u| u.as_u128()).unwrap_or_default();
        let value = json!({
            "enable": enable, "user_visible": true, "created": created, "last_modified": modified,
            "uuid": {"uuid_mslong": (u >> 64) as u64, "uuid_lslong": u as u64},
        });
        self.set("id_perms", value)
    }

    /// A reference to this object, as `<type>_refs` entries are written.
    pub fn reference(&self, attr: Value) -> Value {
        json!({"to": self.fq_name, "uuid": self.uuid, "attr": attr})
    }

    pub fn href(&self, base: &str) -> String {
        format!("{base}/{}/{}", self.kind, self.uuid)
    }

    /// Does any `<type>_refs` of this object point at `uuid`?
    pub fn refers_to(&self, uuid: &str) -> bool {
        self.props
            .iter()
            .filter(|(k, _)| k.ends_with("_refs"))
            .any(|(_, refs)| refs.as_array().is_some_and(|l| l.iter().any(|r| r["uuid"].as_str() == Some(uuid))))
    }

    /// The short form collections list.
    pub fn summary(&self, base: &str) -> Value {
        json!({"href": self.href(base), "fq_name": self.fq_name, "uuid": self.uuid})
    }

    /// The body of `POST /<type>s` creating this object on another VNC API
    /// server: identity, parent and every property and reference.
    pub fn create_body(&self) -> Value {
        let mut m = self.props.clone();
        m.insert("uuid".into(), json!(self.uuid));
        m.insert("fq_name".into(), json!(self.fq_name));
        m.entry("display_name").or_insert_with(|| json!(self.fq_name.last()));
        if let Some(p) = parent_type(self.kind) {
            m.insert("parent_type".into(), json!(p));
            if let Some(u) = &self.parent_uuid {
                m.insert("parent_uuid".into(), json!(u));
            }
        }
        json!({ self.kind: m })
    }

    /// The body of `PUT /<type>/<uuid>`: properties and references only
    /// (contrail-api does not let an update move or rename an object).
    pub fn update_body(&self) -> Value {
        let mut m = self.props.clone();
        m.entry("display_name").or_insert_with(|| json!(self.fq_name.last()));
        json!({ self.kind: m })
    }

    /// The full object, as `GET /<type>/<uuid>` and `detail=True` give it.
    pub fn full(&self, base: &str) -> Value {
        let mut m = self.props.clone();
        m.insert("uuid".into(), json!(self.uuid));
        m.insert("fq_name".into(), json!(self.fq_name));
        m.insert("name".into(), json!(self.fq_name.last()));
        m.insert("href".into(), json!(self.href(base)));
        m.entry("display_name").or_insert_with(|| json!(self.fq_name.last()));
        match parent_type(self.kind) {
            Some(p) => {
                m.insert("parent_type".into(), json!(p));
                m.insert("parent_uuid".into(), json!(self.parent_uuid));
                let parent_href = self.parent_uuid.as_ref().map(|u| format!("{base}/{p}/{u}"));
                m.insert("parent_href".into(), json!(parent_href));
            }
            None => {
                m.insert("parent_type".into(), json!("config-root"));
            }
        }
        Value::Object(m)
    }
}
