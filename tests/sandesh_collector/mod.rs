//! A test Contrail analytics collector: it speaks the Sandesh XML protocol
//! over TCP the way `contrail-collector` does, and is as strict as it is.
//!
//! Written from the protocol notes (shared/research/sandesh-contrail.md,
//! parts A, C.3 and E.1), independently of ironbark's own encoder: nothing
//! here is taken from `src/reporters/sandesh/`. It uses std threads and
//! blocking sockets so that it does not depend on the server's runtime.
//!
//! What it does, per session (one thread each):
//! - framing: `<sandesh length="NNNNNNNNNN">` ... `</sandesh>`, the length
//!   being the whole frame in bytes; a framing error closes the session;
//! - every frame is decoded into a typed tree ([`Struct`], [`Value`]) and
//!   checked against the canonical encoding; a deviation is recorded in
//!   [`Collector::violations`] and is not fatal;
//! - the first message must be the control hello: anything without the
//!   control hint before it is dropped ("generator NOT PRESENT") and the
//!   session stays up; a control message that fails is rejected and its
//!   session closed; a valid one is answered with `SandeshCtrlServerToClient`;
//! - UVEs (Type 6) are merged per attribute into a per-generator store, a
//!   `deleted` UVE removes the generator's contribution, and a session that
//!   drops purges every UVE of its generator.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

// ---------------------------------------------------------------------------
// The typed tree
// ---------------------------------------------------------------------------

/// One decoded Sandesh value. Every integer type (and enums, sent as i32) is
/// `Int`; `string`, `xml`, `uuid_t`, `ipaddr` and `double` are `Str`; a set
/// is a `List`.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Bool(bool),
    Int(i128),
    Str(String),
    Struct(Struct),
    List { elem: String, items: Vec<Value> },
    Map { key: String, value: String, entries: Vec<(Value, Value)> },
}

impl Value {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i128> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_struct(&self) -> Option<&Struct> {
        match self {
            Value::Struct(s) => Some(s),
            _ => None,
        }
    }

    /// The items of a list or set.
    pub fn items(&self) -> Option<&[Value]> {
        match self {
            Value::List { items, .. } => Some(items),
            _ => None,
        }
    }

    /// The text the collector would take for this value as a UVE key part.
    fn key_text(&self) -> String {
        match self {
            Value::Str(s) => s.clone(),
            Value::Int(i) => i.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => String::new(),
        }
    }
}

/// A field element: `<name type="ty" identifier="id" annotations...>value</name>`.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    pub id: u32,
    pub ty: String,
    /// Attributes other than `type` and `identifier`, in document order
    /// (for example `("key", "ObjectServerTable")`).
    pub annotations: Vec<(String, String)>,
    pub value: Value,
}

impl Field {
    pub fn annotation(&self, name: &str) -> Option<&str> {
        self.annotations.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// A struct (or a whole message: then `name` is the message name).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Struct {
    pub name: String,
    pub fields: Vec<Field>,
}

impl Struct {
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.field(name).map(|f| &f.value)
    }

    pub fn str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(Value::as_str)
    }

    pub fn bool(&self, name: &str) -> Option<bool> {
        self.get(name).and_then(Value::as_bool)
    }

    pub fn int(&self, name: &str) -> Option<i128> {
        self.get(name).and_then(Value::as_int)
    }

    /// The value of a `struct` field.
    pub fn sub(&self, name: &str) -> Option<&Struct> {
        self.get(name).and_then(Value::as_struct)
    }

    /// The items of a list field (empty if the field is absent).
    pub fn list(&self, name: &str) -> &[Value] {
        self.get(name).and_then(Value::items).unwrap_or(&[])
    }

    /// The struct items of a list-of-structs field (empty if absent: use
    /// [`Struct::get`] to tell an absent field from an empty list).
    pub fn structs(&self, name: &str) -> Vec<&Struct> {
        self.list(name).iter().filter_map(Value::as_struct).collect()
    }

    /// The string items of a list-of-strings field.
    pub fn strs(&self, name: &str) -> Vec<&str> {
        self.list(name).iter().filter_map(Value::as_str).collect()
    }
}

/// `SandeshHeader`, fields 1..13.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Header {
    pub namespace: String,
    pub timestamp: i64,
    pub module: String,
    pub source: String,
    pub context: String,
    pub seq: i32,
    pub version_sig: i32,
    pub typ: i32,
    pub hints: i32,
    pub level: i32,
    pub category: String,
    pub node_type: String,
    pub instance_id: String,
}

/// SandeshType values used here.
pub const TYPE_SYSTEM: i32 = 1;
pub const TYPE_REQUEST: i32 = 2;
pub const TYPE_UVE: i32 = 6;
pub const TYPE_OBJECT: i32 = 7;
/// Header hint bits.
pub const HINT_KEY: i32 = 0x1;
pub const HINT_CONTROL: i32 = 0x2;
pub const HINT_SYNC: i32 = 0x4;

/// One received frame.
#[derive(Debug, Clone)]
pub struct Frame {
    /// The session it arrived on: 1 for the first accepted connection.
    pub session: usize,
    pub at: Instant,
    /// The whole frame, `<sandesh length=...>` to `</sandesh>`.
    pub raw: String,
    pub header: Header,
    /// The message name, e.g. `IronicNodeInfo`.
    pub message: String,
    /// The message element as a struct whose fields are the message's fields.
    pub body: Struct,
}

/// A generator as the collector keys it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GeneratorId {
    pub source: String,
    pub module: String,
    pub instance_id: String,
    pub node_type: String,
}

impl fmt::Display for GeneratorId {
    /// The collector's own spelling: `source:node_type:module:instance_id`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}:{}", self.source, self.node_type, self.module, self.instance_id)
    }
}

/// One UVE message as received (the history kept by [`Collector::uve_updates`]).
#[derive(Debug, Clone)]
pub struct UveUpdate {
    pub session: usize,
    pub generator: GeneratorId,
    pub seq: i32,
    pub hints: i32,
    pub at: Instant,
    pub deleted: bool,
    /// The `data` struct as sent (its name is the UVE type, e.g. `IronicNode`).
    pub data: Struct,
}

// ---------------------------------------------------------------------------
// Decoding and checking one frame
// ---------------------------------------------------------------------------

const OPEN_PREFIX: &str = "<sandesh length=\"";
const OPEN_LEN: usize = 29;
const CLOSE: &str = "</sandesh>";

const HEADER_FIELDS: [(&str, &str); 13] = [
    ("Namespace", "string"),
    ("Timestamp", "i64"),
    ("Module", "string"),
    ("Source", "string"),
    ("Context", "string"),
    ("SequenceNum", "i32"),
    ("VersionSig", "i32"),
    ("Type", "i32"),
    ("Hints", "i32"),
    ("Level", "i32"),
    ("Category", "string"),
    ("NodeType", "string"),
    ("InstanceId", "string"),
];

/// Timestamps must be plausible microseconds: 2020-01-01 .. 2100-01-01.
const TS_MIN_US: i64 = 1_577_836_800_000_000;
const TS_MAX_US: i64 = 4_102_444_800_000_000;

/// A decoded frame and every deviation from the canonical encoding found in it.
#[derive(Debug, Clone)]
pub struct Decoded {
    pub header: Header,
    pub message: String,
    pub body: Struct,
    pub violations: Vec<String>,
}

/// Decodes one whole frame (open tag to close tag). `Err` when it cannot be
/// read at all (not XML, or not a header followed by a message); otherwise
/// the violations found are in [`Decoded::violations`].
pub fn decode_frame(raw: &str) -> Result<Decoded, String> {
    let mut d = Dec { src: raw, v: Vec::new() };
    if raw.contains("&quot;") {
        d.v("the frame contains `&quot;`: `\"` must not be escaped (only &amp; &apos; &lt; &gt; exist)".into());
    }
    if raw.contains("&#") {
        d.v("the frame contains a numeric character reference (`&#`): only &amp; &apos; &lt; &gt; exist".into());
    }
    let doc = roxmltree::Document::parse(raw).map_err(|e| format!("not well-formed XML: {e}"))?;
    let root = doc.root_element();
    d.check_layout(root);
    if root.tag_name().name() != "sandesh" {
        return Err(format!("root element is <{}>, not <sandesh>", root.tag_name().name()));
    }
    let attrs = attr_names(root);
    if attrs != ["length"] {
        d.v(format!("<sandesh> must have exactly the attribute length, has {attrs:?}"));
    }
    let children: Vec<_> = root.children().filter(|n| n.is_element()).collect();
    if children.len() != 2 {
        let names: Vec<_> = children.iter().map(|n| n.tag_name().name()).collect();
        return Err(format!("<sandesh> must hold <SandeshHeader> and one message, holds {names:?}"));
    }
    if children[0].tag_name().name() != "SandeshHeader" {
        return Err(format!("the first element is <{}>, not <SandeshHeader>", children[0].tag_name().name()));
    }
    let header = d.header(children[0]);
    let msg = children[1];
    let message = msg.tag_name().name().to_string();
    let mattrs = attrs_of(msg);
    if mattrs != [("type", "sandesh")] {
        d.v(format!("message <{message}> must have exactly type=\"sandesh\", has {mattrs:?}"));
    }
    let fields = d.fields(msg);
    Ok(Decoded { header, message: message.clone(), body: Struct { name: message, fields }, violations: dedup(d.v) })
}

fn dedup(v: Vec<String>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    v.into_iter().filter(|s| seen.insert(s.clone())).collect()
}

fn attr_names<'a>(n: roxmltree::Node<'a, '_>) -> Vec<&'a str> {
    n.attributes().map(|a| a.name()).collect()
}

fn attrs_of<'a>(n: roxmltree::Node<'a, '_>) -> Vec<(&'a str, &'a str)> {
    n.attributes().map(|a| (a.name(), a.value())).collect()
}

fn elements<'a, 'i>(n: roxmltree::Node<'a, 'i>) -> Vec<roxmltree::Node<'a, 'i>> {
    n.children().filter(|c| c.is_element()).collect()
}

/// Unescapes exactly the four entities the Sandesh reader knows; anything
/// else starting with `&` is left as it is.
pub fn unescape4(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let t = &rest[i..];
        let (rep, n) = [("&amp;", "&"), ("&apos;", "'"), ("&lt;", "<"), ("&gt;", ">")]
            .iter()
            .find(|(e, _)| t.starts_with(e))
            .map(|(e, r)| (*r, e.len()))
            .unwrap_or(("&", 1));
        out.push_str(rep);
        rest = &t[n..];
    }
    out.push_str(rest);
    out
}

/// Escapes text the Sandesh way: `& ' < >`, and never `"`.
pub fn escape4(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '\'' => out.push_str("&apos;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Parses a decimal integer of Sandesh type `ty`: digits only, with a leading
/// `-` for signed types, and within the type's range.
fn parse_int(text: &str, ty: &str) -> Result<i128, String> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 20 {
        return Err(format!("{ty} value {text:?} is not a decimal integer"));
    }
    let v: i128 = text.parse().map_err(|_| format!("{ty} value {text:?} is not a decimal integer"))?;
    let (lo, hi): (i128, i128) = match ty {
        "byte" => (i8::MIN as i128, u8::MAX as i128),
        "i16" => (i16::MIN as i128, i16::MAX as i128),
        "i32" => (i32::MIN as i128, i32::MAX as i128),
        "i64" => (i64::MIN as i128, i64::MAX as i128),
        "u16" => (0, u16::MAX as i128),
        "u32" | "ipv4" => (0, u32::MAX as i128),
        "u64" => (0, u64::MAX as i128),
        _ => (i128::MIN, i128::MAX),
    };
    if v < lo || v > hi {
        return Err(format!("{ty} value {text} is out of range"));
    }
    Ok(v)
}

const INT_TYPES: [&str; 8] = ["byte", "i16", "i32", "i64", "u16", "u32", "u64", "ipv4"];
const STR_TYPES: [&str; 4] = ["string", "xml", "uuid_t", "ipaddr"];

struct Dec<'s> {
    src: &'s str,
    v: Vec<String>,
}

impl<'s> Dec<'s> {
    fn v(&mut self, s: String) {
        self.v.push(s);
    }

    /// No whitespace (or any text) between elements, no comments, no
    /// processing instructions: the format is one line of canonical XML.
    fn check_layout(&mut self, root: roxmltree::Node) {
        for n in root.descendants() {
            if n.is_comment() {
                self.v("the frame contains an XML comment".into());
            } else if n.is_pi() {
                self.v("the frame contains a processing instruction".into());
            } else if n.is_text() {
                let Some(parent) = n.parent_element() else { continue };
                if parent.children().any(|c| c.is_element()) {
                    let t = n.text().unwrap_or("");
                    if t.trim().is_empty() {
                        self.v(format!(
                            "whitespace text {t:?} between elements inside <{}> (no newlines or indentation allowed)",
                            parent.tag_name().name()
                        ));
                    } else {
                        self.v(format!("stray text {t:?} between elements inside <{}>", parent.tag_name().name()));
                    }
                }
            }
        }
    }

    /// The text of a leaf element, from the source: CDATA sections verbatim,
    /// the rest with the four entities unescaped.
    fn text(&mut self, n: roxmltree::Node) -> String {
        if n.children().any(|c| c.is_element()) {
            self.v(format!("<{}> should hold a value but holds elements", n.tag_name().name()));
            return String::new();
        }
        let Some(first) = n.first_child() else { return String::new() };
        let r = n.range();
        let start = first.range().start;
        let end = self.src[..r.end].rfind("</").unwrap_or(start).max(start);
        let mut raw = &self.src[start..end];
        let mut out = String::new();
        while let Some(i) = raw.find("<![CDATA[") {
            out.push_str(&unescape4(&raw[..i]));
            let after = &raw[i + 9..];
            let j = after.find("]]>").unwrap_or(after.len());
            out.push_str(&after[..j]);
            raw = &after[(j + 3).min(after.len())..];
        }
        out.push_str(&unescape4(raw));
        out
    }

    fn header(&mut self, node: roxmltree::Node) -> Header {
        if node.attributes().next().is_some() {
            self.v(format!("<SandeshHeader> must have no attributes, has {:?}", attrs_of(node)));
        }
        let mut h = Header::default();
        let mut seen = BTreeSet::new();
        for (i, child) in elements(node).into_iter().enumerate() {
            let name = child.tag_name().name();
            match HEADER_FIELDS.get(i) {
                Some((expected, _)) if *expected == name => {}
                Some((expected, _)) => {
                    self.v(format!("header field {} is <{name}>, expected <{expected}> (order 1..13)", i + 1))
                }
                None => self.v(format!("unexpected header field <{name}> after the 13 fields")),
            }
            let attrs = attr_names(child);
            if attrs.last() != Some(&"identifier") {
                self.v(format!("header field <{name}>: the last attribute is not identifier (the collector asserts this): {attrs:?}"));
            }
            if attrs != ["type", "identifier"] {
                self.v(format!("header field <{name}>: attributes must be exactly type, identifier; are {attrs:?}"));
            }
            let Some(pos) = HEADER_FIELDS.iter().position(|(n, _)| *n == name) else {
                let _ = self.text(child);
                continue;
            };
            if !seen.insert(pos) {
                self.v(format!("header field <{name}> appears twice"));
            }
            let ty = HEADER_FIELDS[pos].1;
            if child.attribute("type") != Some(ty) {
                self.v(format!("header field <{name}>: type must be {ty}, is {:?}", child.attribute("type")));
            }
            let want_id = (pos + 1).to_string();
            if child.attribute("identifier") != Some(want_id.as_str()) {
                self.v(format!(
                    "header field <{name}>: identifier must be {want_id}, is {:?}",
                    child.attribute("identifier")
                ));
            }
            let text = self.text(child);
            let int = |d: &mut Self, ty: &str| match parse_int(&text, ty) {
                Ok(v) => v,
                Err(e) => {
                    d.v(format!("header field <{name}>: {e}"));
                    0
                }
            };
            match name {
                "Namespace" => h.namespace = text.clone(),
                "Timestamp" => h.timestamp = int(self, "i64") as i64,
                "Module" => h.module = text.clone(),
                "Source" => h.source = text.clone(),
                "Context" => h.context = text.clone(),
                "SequenceNum" => h.seq = int(self, "i32") as i32,
                "VersionSig" => h.version_sig = int(self, "i32") as i32,
                "Type" => h.typ = int(self, "i32") as i32,
                "Hints" => h.hints = int(self, "i32") as i32,
                "Level" => h.level = int(self, "i32") as i32,
                "Category" => h.category = text.clone(),
                "NodeType" => h.node_type = text.clone(),
                "InstanceId" => h.instance_id = text.clone(),
                _ => unreachable!(),
            }
        }
        for (pos, (name, _)) in HEADER_FIELDS.iter().enumerate() {
            if !seen.contains(&pos) {
                self.v(format!("header field <{name}> (identifier {}) is missing", pos + 1));
            }
        }
        if seen.contains(&1) && !(TS_MIN_US..TS_MAX_US).contains(&h.timestamp) {
            self.v(format!(
                "header Timestamp {} is not plausible microseconds since the epoch (2020..2100)",
                h.timestamp
            ));
        }
        h
    }

    /// The fields of a struct or message element, checked for attribute
    /// order and ascending identifiers.
    fn fields(&mut self, node: roxmltree::Node) -> Vec<Field> {
        let owner = node.tag_name().name().to_string();
        let mut out: Vec<Field> = Vec::new();
        for child in elements(node) {
            let f = self.field(child);
            if let Some(prev) = out.last()
                && f.id <= prev.id
            {
                self.v(format!(
                    "<{owner}>: field <{}> (identifier {}) after <{}> (identifier {}): fields must be in ascending identifier order",
                    f.name, f.id, prev.name, prev.id
                ));
            }
            out.push(f);
        }
        out
    }

    fn field(&mut self, node: roxmltree::Node) -> Field {
        let name = node.tag_name().name().to_string();
        let attrs = attrs_of(node);
        let names: Vec<&str> = attrs.iter().map(|(k, _)| *k).collect();
        if names.first() != Some(&"type") || names.get(1) != Some(&"identifier") {
            self.v(format!("field <{name}>: attributes must be type, identifier, then annotations; are {names:?}"));
        }
        let ty = node.attribute("type").unwrap_or("").to_string();
        let id = match node.attribute("identifier").map(|s| (s, parse_int(s, "u32"))) {
            Some((_, Ok(i))) => i as u32,
            Some((s, Err(_))) => {
                self.v(format!("field <{name}>: identifier {s:?} is not a number"));
                0
            }
            None => {
                self.v(format!("field <{name}> has no identifier"));
                0
            }
        };
        if ty.is_empty() {
            self.v(format!("field <{name}> has no type"));
        }
        let annotations = attrs
            .iter()
            .filter(|(k, _)| *k != "type" && *k != "identifier")
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let value = self.value(&ty, node, &name);
        Field { name, id, ty, annotations, value }
    }

    /// The value of type `ty` held by `node` (a field element or an
    /// `<element>` container item).
    fn value(&mut self, ty: &str, node: roxmltree::Node, what: &str) -> Value {
        match ty {
            "bool" => {
                let t = self.text(node);
                match t.as_str() {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    _ => {
                        self.v(format!("<{what}>: bool value {t:?} is not true/false"));
                        Value::Str(t)
                    }
                }
            }
            t if INT_TYPES.contains(&t) => {
                let text = self.text(node);
                match parse_int(&text, t) {
                    Ok(i) => Value::Int(i),
                    Err(e) => {
                        self.v(format!("<{what}>: {e}"));
                        Value::Str(text)
                    }
                }
            }
            "double" => {
                let text = self.text(node);
                if text.parse::<f64>().is_err() {
                    self.v(format!("<{what}>: double value {text:?} is not a number"));
                }
                Value::Str(text)
            }
            t if STR_TYPES.contains(&t) => Value::Str(self.text(node)),
            "struct" => {
                let kids = elements(node);
                if kids.len() != 1 {
                    self.v(format!(
                        "<{what}>: a struct field must hold exactly one struct element, holds {}",
                        kids.len()
                    ));
                }
                match kids.first() {
                    Some(k) => Value::Struct(self.strct(*k)),
                    None => Value::Struct(Struct::default()),
                }
            }
            "list" | "set" | "map" => {
                let kids = elements(node);
                if kids.len() != 1 || kids[0].tag_name().name() != ty {
                    let names: Vec<_> = kids.iter().map(|k| k.tag_name().name()).collect();
                    self.v(format!("<{what}>: a {ty} field must hold exactly one <{ty}>, holds {names:?}"));
                }
                match kids.first() {
                    Some(k) => self.container(*k, what),
                    None => Value::List { elem: String::new(), items: Vec::new() },
                }
            }
            other => {
                self.v(format!("<{what}>: unknown type {other:?}"));
                Value::Str(self.text(node))
            }
        }
    }

    fn strct(&mut self, node: roxmltree::Node) -> Struct {
        let name = node.tag_name().name().to_string();
        if node.attributes().next().is_some() {
            self.v(format!("struct <{name}> must have no attributes, has {:?}", attrs_of(node)));
        }
        if name == "element" {
            self.v("a struct element is named <element>: struct values are not wrapped".into());
        }
        Struct { name, fields: self.fields(node) }
    }

    /// `<list type=T size=K>`, `<set ...>` or `<map key=K value=V size=N>`.
    fn container(&mut self, node: roxmltree::Node, what: &str) -> Value {
        let kind = node.tag_name().name();
        let names = attr_names(node);
        let expected: &[&str] = if kind == "map" { &["key", "value", "size"] } else { &["type", "size"] };
        if names != expected {
            self.v(format!("<{what}>: <{kind}> attributes must be {expected:?}, are {names:?}"));
        }
        let size = match node.attribute("size").map(|s| (s, parse_int(s, "u32"))) {
            Some((_, Ok(n))) => Some(n as usize),
            Some((s, Err(_))) => {
                self.v(format!("<{what}>: <{kind}> size {s:?} is not a number"));
                None
            }
            None => None,
        };
        let items = elements(node);
        if kind == "map" {
            let kt = node.attribute("key").unwrap_or("").to_string();
            let vt = node.attribute("value").unwrap_or("").to_string();
            if !items.len().is_multiple_of(2) {
                self.v(format!("<{what}>: <map> holds an odd number of items ({})", items.len()));
            }
            if let Some(n) = size
                && n * 2 != items.len()
            {
                self.v(format!("<{what}>: <map> size=\"{n}\" but it holds {} entries", items.len() / 2));
            }
            let mut entries = Vec::new();
            for pair in items.chunks(2) {
                let k = self.item(&kt, pair[0], what);
                let v = if pair.len() > 1 { self.item(&vt, pair[1], what) } else { Value::Str(String::new()) };
                entries.push((k, v));
            }
            Value::Map { key: kt, value: vt, entries }
        } else {
            let elem = node.attribute("type").unwrap_or("").to_string();
            if let Some(n) = size
                && n != items.len()
            {
                self.v(format!("<{what}>: <{kind}> size=\"{n}\" but it holds {} items", items.len()));
            }
            let items = items.into_iter().map(|i| self.item(&elem, i, what)).collect();
            Value::List { elem, items }
        }
    }

    /// One container item: base types wrapped in `<element>`, structs not.
    fn item(&mut self, ty: &str, node: roxmltree::Node, what: &str) -> Value {
        let name = node.tag_name().name();
        match ty {
            "struct" => {
                if name == "element" {
                    self.v(format!("<{what}>: a struct item is wrapped in <element> (struct items are not wrapped)"));
                    return match elements(node).first() {
                        Some(k) => Value::Struct(self.strct(*k)),
                        None => Value::Struct(Struct::default()),
                    };
                }
                Value::Struct(self.strct(node))
            }
            "list" | "set" | "map" => {
                if name == ty {
                    return self.container(node, what);
                }
                self.v(format!("<{what}>: a {ty} item is <{name}>, expected <{ty}>"));
                match elements(node).first() {
                    Some(k) => self.container(*k, what),
                    None => Value::List { elem: String::new(), items: Vec::new() },
                }
            }
            _ => {
                if name != "element" {
                    self.v(format!("<{what}>: a {ty} item is <{name}>, not wrapped in <element>"));
                }
                if node.attributes().next().is_some() {
                    self.v(format!("<{what}>: <element> must have no attributes"));
                }
                self.value(ty, node, what)
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The canonical writer (for the collector's own reply)
// ---------------------------------------------------------------------------

/// Wraps header + message XML in the frame tags, with the whole frame's
/// byte length in 10 digits.
pub fn frame(inner: &str) -> String {
    format!("<sandesh length=\"{:010}\">{inner}{CLOSE}", OPEN_LEN + inner.len() + CLOSE.len())
}

fn w_field(out: &mut String, name: &str, ty: &str, id: u32, value: &str) {
    out.push_str(&format!("<{name} type=\"{ty}\" identifier=\"{id}\">{}</{name}>", escape4(value)));
}

fn now_us() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as i64).unwrap_or(0)
}

/// The framed `SandeshCtrlServerToClient` reply.
fn ctrl_reply(seq: i32, success: bool, type_info: &[(String, u32)]) -> String {
    let mut x = String::from("<SandeshHeader>");
    let ts = now_us().to_string();
    let seq = seq.to_string();
    let h: [(&str, &str, &str); 13] = [
        ("Namespace", "string", ""),
        ("Timestamp", "i64", &ts),
        ("Module", "string", "contrail-collector"),
        ("Source", "string", "test-collector"),
        ("Context", "string", "ctrl"),
        ("SequenceNum", "i32", &seq),
        ("VersionSig", "i32", "0"),
        ("Type", "i32", "2"),
        ("Hints", "i32", "2"),
        ("Level", "i32", "2147483647"),
        ("Category", "string", ""),
        ("NodeType", "string", "Analytics"),
        ("InstanceId", "string", "0"),
    ];
    for (i, (name, ty, v)) in h.iter().enumerate() {
        w_field(&mut x, name, ty, i as u32 + 1, v);
    }
    x.push_str("</SandeshHeader><SandeshCtrlServerToClient type=\"sandesh\">");
    x.push_str(&format!(
        "<type_info type=\"list\" identifier=\"1\"><list type=\"struct\" size=\"{}\">",
        type_info.len()
    ));
    for (name, seq) in type_info {
        x.push_str("<UVETypeInfo>");
        w_field(&mut x, "type_name", "string", 1, name);
        w_field(&mut x, "seq_num", "u32", 2, &seq.to_string());
        x.push_str("</UVETypeInfo>");
    }
    x.push_str("</list></type_info>");
    w_field(&mut x, "success", "bool", 2, if success { "true" } else { "false" });
    x.push_str("</SandeshCtrlServerToClient>");
    frame(&x)
}

/// Reads one frame from a stream (for test clients reading the reply).
pub fn read_frame(r: &mut impl Read) -> io::Result<String> {
    let mut open = [0u8; OPEN_LEN];
    r.read_exact(&mut open)?;
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "bad Sandesh frame");
    if !open.starts_with(OPEN_PREFIX.as_bytes()) || &open[27..29] != b"\">" {
        return Err(bad());
    }
    let len: usize = std::str::from_utf8(&open[17..27]).map_err(|_| bad())?.parse().map_err(|_| bad())?;
    if len < OPEN_LEN + CLOSE.len() {
        return Err(bad());
    }
    let mut rest = vec![0u8; len - OPEN_LEN];
    r.read_exact(&mut rest)?;
    let mut all = open.to_vec();
    all.extend_from_slice(&rest);
    if !all.ends_with(CLOSE.as_bytes()) {
        return Err(bad());
    }
    String::from_utf8(all).map_err(|_| bad())
}

/// What the framing layer found at the start of the buffer.
enum Framing {
    /// Not enough bytes yet.
    More,
    /// A whole frame of this many bytes.
    Frame(usize),
    /// A framing error: the collector closes the session.
    Bad(String),
}

fn framing(buf: &[u8]) -> Framing {
    let p = OPEN_PREFIX.as_bytes();
    let n = buf.len().min(p.len());
    if buf[..n] != p[..n] {
        return Framing::Bad(format!(
            "the frame does not start with `<sandesh length=\"`: {:?}",
            String::from_utf8_lossy(&buf[..buf.len().min(40)])
        ));
    }
    if buf.len() < OPEN_LEN {
        // The digits and `">` may still be partial: check what is there.
        if buf.len() > 17 && !buf[17..buf.len().min(27)].iter().all(u8::is_ascii_digit) {
            return Framing::Bad(format!(
                "the length is not 10 decimal digits: {:?}",
                String::from_utf8_lossy(&buf[17..buf.len().min(27)])
            ));
        }
        return Framing::More;
    }
    let digits = &buf[17..27];
    if !digits.iter().all(u8::is_ascii_digit) {
        return Framing::Bad(format!("the length is not 10 decimal digits: {:?}", String::from_utf8_lossy(digits)));
    }
    if &buf[27..29] != b"\">" {
        return Framing::Bad(format!(
            "bytes 27..29 of the open tag are {:?}, not `\">`",
            String::from_utf8_lossy(&buf[27..29])
        ));
    }
    let len: usize = std::str::from_utf8(digits).unwrap().parse().unwrap();
    if len < OPEN_LEN + CLOSE.len() {
        return Framing::Bad(format!("length {len} is shorter than the open and close tags"));
    }
    if buf.len() < len {
        return Framing::More;
    }
    if !buf[..len].ends_with(CLOSE.as_bytes()) {
        return Framing::Bad(format!(
            "the {len} bytes announced do not end with `</sandesh>` (they end with {:?})",
            String::from_utf8_lossy(&buf[len.saturating_sub(12)..len])
        ));
    }
    Framing::Frame(len)
}

// ---------------------------------------------------------------------------
// The collector
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum SessionState {
    /// Waiting for the control hello ("ServerInit").
    Init,
    /// The hello was answered with success=false.
    Rejected,
    /// Registered as this generator ("Established").
    Established(GeneratorId),
}

struct Session {
    /// A handle on the socket, to shut it down from elsewhere.
    stream: TcpStream,
    state: SessionState,
    /// Closed by the collector (stop or a duplicate generator): bytes left in
    /// its buffer are not the generator's fault.
    closing: bool,
}

/// uves[generator][Table:key][uve type][attribute] = the last field sent.
type Store = BTreeMap<GeneratorId, BTreeMap<String, BTreeMap<String, BTreeMap<String, Field>>>>;

#[derive(Default)]
struct State {
    frames: Vec<Frame>,
    hellos: Vec<Frame>,
    dropped: Vec<Frame>,
    violations: Vec<String>,
    sessions_total: usize,
    live: HashMap<usize, Session>,
    generators: HashMap<GeneratorId, usize>,
    uves: Store,
    history: Vec<(String, UveUpdate)>,
    ctrl_seq: i32,
}

struct Inner {
    state: Mutex<State>,
    accept: AtomicBool,
    stopped: AtomicBool,
    acceptor: Mutex<Option<JoinHandle<()>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

#[derive(Default)]
struct Action {
    reply: Option<String>,
    close: bool,
}

/// The test collector. Every method is thread-safe.
pub struct Collector {
    inner: Arc<Inner>,
    addr: SocketAddr,
}

impl Collector {
    /// Listens on 127.0.0.1 at a free port.
    pub fn start() -> Collector {
        Collector::start_on("127.0.0.1:0".parse().unwrap())
    }

    /// Listens on `addr` (e.g. the address of a stopped collector, to
    /// restart it), retrying the bind for up to 5 s.
    pub fn start_on(addr: SocketAddr) -> Collector {
        let deadline = Instant::now() + Duration::from_secs(5);
        let listener = loop {
            match TcpListener::bind(addr) {
                Ok(l) => break l,
                Err(e) if Instant::now() < deadline && e.kind() == io::ErrorKind::AddrInUse => {
                    thread::sleep(Duration::from_millis(20))
                }
                Err(e) => panic!("test collector: cannot bind {addr}: {e}"),
            }
        };
        let addr = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        let inner = Arc::new(Inner {
            state: Mutex::new(State::default()),
            accept: AtomicBool::new(true),
            stopped: AtomicBool::new(false),
            acceptor: Mutex::new(None),
            threads: Mutex::new(Vec::new()),
        });
        let i2 = inner.clone();
        let handle = thread::Builder::new()
            .name("sandesh-collector-accept".into())
            .spawn(move || accept_loop(i2, listener))
            .unwrap();
        *inner.acceptor.lock().unwrap() = Some(handle);
        Collector { inner, addr }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A crash: the listener closes and every live session is shut down at
    /// once. Idempotent; dropping the collector does the same.
    pub fn stop(&self) {
        self.inner.stopped.store(true, Ordering::SeqCst);
        if let Some(h) = self.inner.acceptor.lock().unwrap().take() {
            let _ = h.join();
        }
        {
            let mut st = self.inner.lock();
            for s in st.live.values_mut() {
                s.closing = true;
                let _ = s.stream.shutdown(Shutdown::Both);
            }
        }
        let threads: Vec<_> = self.inner.threads.lock().unwrap().drain(..).collect();
        for t in threads {
            let _ = t.join();
        }
    }

    /// Whether hellos are answered with success=true (the default) or
    /// success=false (the generator must then close and retry).
    pub fn set_accept(&self, accept: bool) {
        self.inner.accept.store(accept, Ordering::SeqCst);
    }

    /// Every frame processed, in arrival order (hellos included; dropped
    /// frames not).
    pub fn frames(&self) -> Vec<Frame> {
        self.inner.lock().frames.clone()
    }

    pub fn frames_of(&self, message: &str) -> Vec<Frame> {
        self.inner.lock().frames.iter().filter(|f| f.message == message).cloned().collect()
    }

    /// Valid control hellos (accepted or refused with success=false).
    pub fn hellos(&self) -> Vec<Frame> {
        self.inner.lock().hellos.clone()
    }

    /// Frames decoded but dropped, as the collector drops them: before the
    /// hello, on a session whose hello was refused, control messages that
    /// were rejected or came after the hello.
    pub fn dropped(&self) -> Vec<Frame> {
        self.inner.lock().dropped.clone()
    }

    pub fn violations(&self) -> Vec<String> {
        self.inner.lock().violations.clone()
    }

    /// Sessions accepted so far.
    pub fn sessions(&self) -> usize {
        self.inner.lock().sessions_total
    }

    /// Sessions open now.
    pub fn live_sessions(&self) -> usize {
        self.inner.lock().live.len()
    }

    /// Generators registered on a live session.
    pub fn generators(&self) -> Vec<GeneratorId> {
        let mut g: Vec<_> = self.inner.lock().generators.keys().cloned().collect();
        g.sort();
        g
    }

    /// The merged current view of a UVE, as analytics would show it: the
    /// attributes sent (key fields and `deleted` excluded, as the collector
    /// stores them), ordered by identifier; `None` once deleted or purged.
    /// When several UVE types share the key, the first type by name.
    pub fn uve(&self, table: &str, key: &str) -> Option<Struct> {
        let ty = self.uve_types(table, key).into_iter().next()?;
        self.uve_of_type(table, key, &ty)
    }

    /// The UVE types (struct names) present under a key.
    pub fn uve_types(&self, table: &str, key: &str) -> Vec<String> {
        let full = format!("{table}:{key}");
        let st = self.inner.lock();
        let set: BTreeSet<String> =
            st.uves.values().filter_map(|g| g.get(&full)).flat_map(|t| t.keys().cloned()).collect();
        set.into_iter().collect()
    }

    /// The merged view of one UVE type under a key, over every generator.
    pub fn uve_of_type(&self, table: &str, key: &str, ty: &str) -> Option<Struct> {
        let full = format!("{table}:{key}");
        let st = self.inner.lock();
        let mut attrs: BTreeMap<String, Field> = BTreeMap::new();
        let mut found = false;
        for g in st.uves.values() {
            if let Some(a) = g.get(&full).and_then(|t| t.get(ty)) {
                found = true;
                attrs.extend(a.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        }
        if !found {
            return None;
        }
        let mut fields: Vec<Field> = attrs.into_values().collect();
        fields.sort_by(|a, b| (a.id, &a.name).cmp(&(b.id, &b.name)));
        Some(Struct { name: ty.to_string(), fields })
    }

    /// The bare keys of the live UVEs of a table, sorted.
    pub fn uve_keys(&self, table: &str) -> Vec<String> {
        let prefix = format!("{table}:");
        let st = self.inner.lock();
        let set: BTreeSet<String> = st
            .uves
            .values()
            .flat_map(|g| g.keys())
            .filter_map(|k| k.strip_prefix(&prefix).map(str::to_string))
            .collect();
        set.into_iter().collect()
    }

    /// Every UVE message received for `Table:key`, in arrival order, over
    /// all sessions (deletes included; purges are not messages).
    pub fn uve_updates(&self, table: &str, key: &str) -> Vec<UveUpdate> {
        let full = format!("{table}:{key}");
        self.inner.lock().history.iter().filter(|(k, _)| *k == full).map(|(_, u)| u.clone()).collect()
    }

    /// Polls `f` every 10 ms until it holds or `timeout` passes.
    pub fn wait_until(&self, timeout: Duration, f: impl Fn(&Collector) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if f(self) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking test thread must not hide the collector's state.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn violation(&self, s: String) {
        self.lock().violations.push(s);
    }

    fn on_frame(&self, sid: usize, bytes: Vec<u8>) -> Action {
        let at = Instant::now();
        let raw = match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(_) => {
                self.violation(format!("session {sid}: a frame is not UTF-8: dropped"));
                return Action::default();
            }
        };
        let d = match decode_frame(&raw) {
            Ok(d) => d,
            Err(e) => {
                self.violation(format!("session {sid}: undecodable frame dropped: {e}: {raw}"));
                return Action::default();
            }
        };
        let mut st = self.lock();
        for v in &d.violations {
            st.violations.push(format!("session {sid}: {} seq {}: {v}", d.message, d.header.seq));
        }
        let frame = Frame { session: sid, at, raw, header: d.header, message: d.message, body: d.body };
        let Some(state) = st.live.get(&sid).map(|s| s.state.clone()) else {
            return Action { reply: None, close: true };
        };
        if frame.header.hints & HINT_CONTROL != 0 {
            return self.on_ctrl(&mut st, sid, state, frame);
        }
        match state {
            SessionState::Established(gid) => {
                if frame.header.typ == TYPE_UVE {
                    on_uve(&mut st, &gid, &frame);
                }
                st.frames.push(frame);
            }
            SessionState::Rejected => st.dropped.push(frame),
            SessionState::Init => {
                st.violations.push(format!(
                    "session {sid}: {} seq {} before the control hello: SandeshGenerator NOT PRESENT, message dropped",
                    frame.message, frame.header.seq
                ));
                st.dropped.push(frame);
            }
        }
        Action::default()
    }

    fn on_ctrl(&self, st: &mut State, sid: usize, state: SessionState, frame: Frame) -> Action {
        if state != SessionState::Init {
            st.violations.push(format!(
                "session {sid}: control message {} after the hello: ignored (the collector discards it)",
                frame.message
            ));
            st.dropped.push(frame);
            return Action::default();
        }
        let h = &frame.header;
        let b = &frame.body;
        let mut why = Vec::new();
        if frame.message != "SandeshCtrlClientToServer" {
            why.push(format!("message is {}, not SandeshCtrlClientToServer", frame.message));
        }
        if h.context != "ctrl" {
            why.push(format!("Context is {:?}, not \"ctrl\"", h.context));
        }
        if h.typ != TYPE_REQUEST {
            why.push(format!("Type is {}, not 2 (REQUEST)", h.typ));
        }
        for f in ["source", "module_name", "node_type_name", "instance_id_name"] {
            if b.str(f).is_none_or(str::is_empty) {
                why.push(format!("{f} is missing or empty"));
            }
        }
        if !why.is_empty() {
            st.violations.push(format!("session {sid}: control hello rejected, session closed: {}", why.join("; ")));
            st.dropped.push(frame);
            return Action { reply: None, close: true };
        }
        let gid = GeneratorId {
            source: b.str("source").unwrap_or("").into(),
            module: b.str("module_name").unwrap_or("").into(),
            instance_id: b.str("instance_id_name").unwrap_or("").into(),
            node_type: b.str("node_type_name").unwrap_or("").into(),
        };
        // The collector registers the generator from the body, but keys its
        // UVEs by the header: the two must agree.
        for (what, body, head) in [
            ("source/Source", &gid.source, &h.source),
            ("module_name/Module", &gid.module, &h.module),
            ("instance_id_name/InstanceId", &gid.instance_id, &h.instance_id),
            ("node_type_name/NodeType", &gid.node_type, &h.node_type),
        ] {
            if body != head {
                st.violations.push(format!("session {sid}: hello {what} differ: {body:?} vs header {head:?}"));
            }
        }
        st.hellos.push(frame.clone());
        st.frames.push(frame);
        if let Some(&other) = st.generators.get(&gid)
            && other != sid
            && st.live.contains_key(&other)
        {
            st.violations.push(format!(
                "session {sid}: generator {gid} is already connected on session {other}: both sessions closed"
            ));
            if let Some(o) = st.live.get_mut(&other) {
                o.closing = true;
                let _ = o.stream.shutdown(Shutdown::Both);
            }
            return Action { reply: None, close: true };
        }
        st.ctrl_seq += 1;
        let seq = st.ctrl_seq;
        if !self.accept.load(Ordering::SeqCst) {
            st.live.get_mut(&sid).unwrap().state = SessionState::Rejected;
            return Action { reply: Some(ctrl_reply(seq, false, &[])), close: false };
        }
        st.live.get_mut(&sid).unwrap().state = SessionState::Established(gid.clone());
        st.generators.insert(gid.clone(), sid);
        // After a disconnect the generator's UVEs are purged, so this is
        // normally empty; the collector lists the types it still holds.
        let types: BTreeSet<String> =
            st.uves.get(&gid).into_iter().flat_map(|k| k.values()).flat_map(|t| t.keys().cloned()).collect();
        let type_info: Vec<(String, u32)> = types.into_iter().map(|t| (t, 0)).collect();
        Action { reply: Some(ctrl_reply(seq, true, &type_info)), close: false }
    }

    fn end_session(&self, sid: usize) {
        let mut st = self.lock();
        let Some(s) = st.live.remove(&sid) else { return };
        if let SessionState::Established(gid) = s.state
            && st.generators.get(&gid) == Some(&sid)
        {
            st.generators.remove(&gid);
            // generator.cc DisconnectSession → DeleteUVEs.
            st.uves.remove(&gid);
        }
    }
}

/// The rule engine's `handle_uve_publish`, for one UVE of an established generator.
fn on_uve(st: &mut State, gid: &GeneratorId, frame: &Frame) {
    let sid = frame.session;
    let what = format!("session {sid}: {} seq {}", frame.message, frame.header.seq);
    let Some(data) = frame.body.get("data").and_then(Value::as_struct) else {
        st.violations.push(format!("{what}: UVE without a <data> struct: key NOT PRESENT, rejected"));
        return;
    };
    let mut table = None;
    let mut parts = Vec::new();
    for f in &data.fields {
        if let Some(t) = f.annotation("key").filter(|t| !t.is_empty()) {
            table.get_or_insert_with(|| t.to_string());
            parts.push(f.value.key_text());
        }
    }
    let Some(table) = table else {
        st.violations
            .push(format!("{what}: UVE {} has no field with a key annotation: key NOT PRESENT, rejected", data.name));
        return;
    };
    if frame.header.hints & HINT_KEY == 0 {
        st.violations.push(format!("{what}: UVE without SANDESH_KEY_HINT (0x1) in Hints {}", frame.header.hints));
    }
    let key = format!("{table}:{}", parts.join(":"));
    let deleted = data.fields.iter().any(|f| f.name == "deleted" && f.value == Value::Bool(true));
    st.history.push((
        key.clone(),
        UveUpdate {
            session: sid,
            generator: gid.clone(),
            seq: frame.header.seq,
            hints: frame.header.hints,
            at: frame.at,
            deleted,
            data: data.clone(),
        },
    ));
    let gen_store = st.uves.entry(gid.clone()).or_default();
    let per_key = gen_store.entry(key.clone()).or_default();
    if deleted {
        per_key.remove(&data.name);
    } else {
        let attrs = per_key.entry(data.name.clone()).or_default();
        for f in &data.fields {
            let is_key = f.annotation("key").is_some_and(|t| !t.is_empty());
            if f.name != "deleted" && !is_key {
                attrs.insert(f.name.clone(), f.clone());
            }
        }
        if attrs.is_empty() {
            per_key.remove(&data.name);
        }
    }
    if per_key.is_empty() {
        gen_store.remove(&key);
    }
    if gen_store.is_empty() {
        st.uves.remove(gid);
    }
}

fn accept_loop(inner: Arc<Inner>, listener: TcpListener) {
    while !inner.stopped.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_nodelay(true);
                let Ok(handle) = stream.try_clone() else { continue };
                let sid = {
                    let mut st = inner.lock();
                    st.sessions_total += 1;
                    let sid = st.sessions_total;
                    st.live.insert(sid, Session { stream: handle, state: SessionState::Init, closing: false });
                    sid
                };
                let i2 = inner.clone();
                let t = thread::Builder::new()
                    .name(format!("sandesh-collector-session-{sid}"))
                    .spawn(move || run_session(i2, sid, stream))
                    .unwrap();
                inner.threads.lock().unwrap().push(t);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => thread::sleep(Duration::from_millis(5)),
            Err(_) => thread::sleep(Duration::from_millis(5)),
        }
    }
    // The listener is dropped (closed) here.
}

fn run_session(inner: Arc<Inner>, sid: usize, mut stream: TcpStream) {
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    'read: loop {
        let n = match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        buf.extend_from_slice(&chunk[..n]);
        loop {
            match framing(&buf) {
                Framing::More => break,
                Framing::Bad(why) => {
                    inner.violation(format!("session {sid}: framing error, session closed: {why}"));
                    buf.clear();
                    let _ = stream.shutdown(Shutdown::Both);
                    break 'read;
                }
                Framing::Frame(len) => {
                    let bytes: Vec<u8> = buf.drain(..len).collect();
                    let action = inner.on_frame(sid, bytes);
                    if let Some(reply) = action.reply {
                        let _ = stream.write_all(reply.as_bytes());
                    }
                    if action.close {
                        buf.clear();
                        let _ = stream.shutdown(Shutdown::Both);
                        break 'read;
                    }
                }
            }
        }
    }
    if !buf.is_empty() {
        let closing = inner.lock().live.get(&sid).is_some_and(|s| s.closing);
        if !closing {
            inner.violation(format!(
                "session {sid}: the connection closed in the middle of a frame ({} bytes pending)",
                buf.len()
            ));
        }
    }
    inner.end_session(sid);
}
