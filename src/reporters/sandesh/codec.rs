//! Sandesh's XML encoding (TXMLProtocol) and its stream framing.
//!
//! A message is a tree of typed fields. The writer emits the one canonical
//! form collectors accept: no whitespace, attributes `type`, `identifier`,
//! then annotations, fields in identifier order, base-type container items
//! wrapped in `<element>`, and only `& ' < >` escaped in text (a collector
//! unescapes nothing else, so `"` must stay as it is). Each frame is
//! `<sandesh length="NNNNNNNNNN">…</sandesh>` where the ten digits count
//! the bytes of the whole frame.

use std::borrow::Cow;

use quick_xml::Writer;
use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};

/// `<sandesh length="` … `">`: 29 bytes with the ten digits.
pub const FRAME_OPEN_PREFIX: &str = "<sandesh length=\"";
pub const FRAME_OPEN_LEN: usize = FRAME_OPEN_PREFIX.len() + 10 + 2;
pub const FRAME_CLOSE: &str = "</sandesh>";

/// A field's value. Integers keep their IDL type: it is written in the
/// `type` attribute and a collector parses it by that name.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Bool(bool),
    I16(i16),
    I32(i32),
    I64(i64),
    U16(u16),
    U32(u32),
    U64(u64),
    Double(f64),
    Str(String),
    Struct(Struct),
    /// Items all of the given type name (`string`, `struct`, `i32`, …).
    List(Name, Vec<Value>),
    Map(Name, Name, Vec<(Value, Value)>),
}

impl Value {
    pub fn str(s: impl Into<String>) -> Value {
        Value::Str(s.into())
    }

    /// The IDL type name written in `type="…"`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Bool(_) => "bool",
            Value::I16(_) => "i16",
            Value::I32(_) => "i32",
            Value::I64(_) => "i64",
            Value::U16(_) => "u16",
            Value::U32(_) => "u32",
            Value::U64(_) => "u64",
            Value::Double(_) => "double",
            Value::Str(_) => "string",
            Value::Struct(_) => "struct",
            Value::List(..) => "list",
            Value::Map(..) => "map",
        }
    }

    /// The text of a base-type value; `None` for containers and structs.
    fn text(&self) -> Option<Cow<'_, str>> {
        Some(match self {
            Value::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
            Value::I16(v) => Cow::Owned(v.to_string()),
            Value::I32(v) => Cow::Owned(v.to_string()),
            Value::I64(v) => Cow::Owned(v.to_string()),
            Value::U16(v) => Cow::Owned(v.to_string()),
            Value::U32(v) => Cow::Owned(v.to_string()),
            Value::U64(v) => Cow::Owned(v.to_string()),
            Value::Double(v) => Cow::Owned(v.to_string()),
            Value::Str(s) => escape(s),
            Value::Struct(_) | Value::List(..) | Value::Map(..) => return None,
        })
    }
}

/// A name: static when encoding, owned when decoded.
pub type Name = Cow<'static, str>;

/// One field of a struct or message.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub id: u16,
    pub name: Name,
    /// IDL annotations in declaration order, e.g. `key="ObjectServerTable"`.
    pub annotations: Vec<(Name, Name)>,
    pub value: Value,
}

/// A struct, or the body of a message (`sandesh` = the message form).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Struct {
    pub name: Name,
    pub fields: Vec<Field>,
}

impl Struct {
    pub fn new(name: impl Into<Name>) -> Struct {
        Struct { name: name.into(), fields: Vec::new() }
    }

    /// Adds a field.
    pub fn with(mut self, id: u16, name: &'static str, value: Value) -> Struct {
        self.fields.push(Field { id, name: Cow::Borrowed(name), annotations: Vec::new(), value });
        self
    }

    /// Adds an optional field: an unset one is left out, as Sandesh does.
    pub fn with_opt(self, id: u16, name: &'static str, value: Option<Value>) -> Struct {
        match value {
            Some(v) => self.with(id, name, v),
            None => self,
        }
    }

    /// Adds a field carrying an annotation (a UVE's `key="Table"`).
    pub fn with_annotated(
        mut self,
        id: u16,
        name: &'static str,
        annotations: &[(&'static str, &'static str)],
        value: Value,
    ) -> Struct {
        let annotations = annotations.iter().map(|(k, v)| (Cow::Borrowed(*k), Cow::Borrowed(*v))).collect();
        self.fields.push(Field { id, name: Cow::Borrowed(name), annotations, value });
        self
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.fields.iter().find(|f| f.name == name).map(|f| &f.value)
    }

    /// Whether any field carries a `key` annotation (then the message gets
    /// the key hint).
    pub fn has_key(&self) -> bool {
        self.fields.iter().any(|f| f.annotations.iter().any(|(k, _)| k == "key"))
    }
}

/// Escapes the four characters a Sandesh reader unescapes, and nothing
/// else: `"` stays literal, no numeric references are ever written.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.bytes().any(|b| matches!(b, b'&' | b'\'' | b'<' | b'>')) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '\'' => out.push_str("&apos;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// The canonical XML writer.
pub struct XmlOut {
    w: Writer<Vec<u8>>,
}

impl Default for XmlOut {
    fn default() -> Self {
        XmlOut { w: Writer::new(Vec::with_capacity(1024)) }
    }
}

// Writing into a Vec cannot fail; quick-xml still returns io::Result.
fn infallible(r: std::io::Result<()>) {
    r.expect("writing XML into memory");
}

impl XmlOut {
    fn start(&mut self, name: &str, attrs: &[(&str, &str)]) {
        let mut e = BytesStart::new(name);
        for a in attrs {
            e.push_attribute(*a);
        }
        infallible(self.w.write_event(Event::Start(e)));
    }

    fn end(&mut self, name: &str) {
        infallible(self.w.write_event(Event::End(BytesEnd::new(name))));
    }

    fn text(&mut self, escaped: &str) {
        if !escaped.is_empty() {
            infallible(self.w.write_event(Event::Text(BytesText::from_escaped(escaped))));
        }
    }

    /// `<Name>fields</Name>`
    pub fn write_struct(&mut self, s: &Struct) {
        self.start(&s.name, &[]);
        self.write_fields(s);
        self.end(&s.name);
    }

    /// `<Name type="sandesh">fields</Name>`: a message body.
    pub fn write_message(&mut self, s: &Struct) {
        self.start(&s.name, &[("type", "sandesh")]);
        self.write_fields(s);
        self.end(&s.name);
    }

    fn write_fields(&mut self, s: &Struct) {
        let mut fields: Vec<&Field> = s.fields.iter().collect();
        fields.sort_by_key(|f| f.id);
        for f in fields {
            let id = f.id.to_string();
            let mut attrs: Vec<(&str, &str)> = vec![("type", f.value.type_name()), ("identifier", &id)];
            attrs.extend(f.annotations.iter().map(|(k, v)| (k.as_ref(), v.as_ref())));
            self.start(&f.name, &attrs);
            self.write_value(&f.value);
            self.end(&f.name);
        }
    }

    fn write_value(&mut self, v: &Value) {
        match v {
            Value::Struct(s) => self.write_struct(s),
            Value::List(elem, items) => {
                let size = items.len().to_string();
                self.start("list", &[("type", elem.as_ref()), ("size", &size)]);
                for i in items {
                    self.write_item(i);
                }
                self.end("list");
            }
            Value::Map(k, val, entries) => {
                let size = entries.len().to_string();
                self.start("map", &[("key", k.as_ref()), ("value", val.as_ref()), ("size", &size)]);
                for (a, b) in entries {
                    self.write_item(a);
                    self.write_item(b);
                }
                self.end("map");
            }
            base => self.text(&base.text().unwrap_or_default()),
        }
    }

    /// A container item: structs as themselves, everything else in
    /// `<element>`.
    fn write_item(&mut self, v: &Value) {
        match v {
            Value::Struct(s) => self.write_struct(s),
            other => {
                self.start("element", &[]);
                self.write_value(other);
                self.end("element");
            }
        }
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.w.into_inner()
    }
}

/// Encodes a message body (no header, no framing): the form introspect
/// pages show.
pub fn message_xml(body: &Struct) -> Vec<u8> {
    let mut out = XmlOut::default();
    out.write_message(body);
    out.into_bytes()
}

/// One framed message: header then body inside `<sandesh length=…>`.
pub fn frame(header: &Struct, body: &Struct) -> Vec<u8> {
    let mut out = XmlOut::default();
    out.write_struct(header);
    out.write_message(body);
    let inner = out.into_bytes();
    let total = FRAME_OPEN_LEN + inner.len() + FRAME_CLOSE.len();
    let mut f = Vec::with_capacity(total);
    f.extend_from_slice(format!("{FRAME_OPEN_PREFIX}{total:010}\">").as_bytes());
    f.extend_from_slice(&inner);
    f.extend_from_slice(FRAME_CLOSE.as_bytes());
    f
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FrameError {
    #[error("a frame must start with <sandesh length=\"")]
    BadOpen,
    #[error("the frame length is not ten digits")]
    BadLength,
    #[error("the frame does not end with </sandesh>")]
    BadClose,
    #[error("a frame of {0} bytes is larger than allowed")]
    TooLarge(usize),
}

/// Takes whole frames off the front of a stream buffer.
#[derive(Default)]
pub struct Deframer {
    buf: Vec<u8>,
}

/// The largest frame accepted from a collector.
const MAX_FRAME: usize = 16 << 20;

impl Deframer {
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next complete frame's inner XML (header + body), if one has
    /// arrived; a malformed stream is an error (the session ends).
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        let prefix = FRAME_OPEN_PREFIX.as_bytes();
        let have = self.buf.len().min(prefix.len());
        if self.buf[..have] != prefix[..have] {
            return Err(FrameError::BadOpen);
        }
        if self.buf.len() < FRAME_OPEN_LEN {
            return Ok(None);
        }
        let digits = &self.buf[prefix.len()..prefix.len() + 10];
        if !digits.iter().all(u8::is_ascii_digit) || &self.buf[prefix.len() + 10..FRAME_OPEN_LEN] != b"\">" {
            return Err(FrameError::BadLength);
        }
        let total: usize =
            std::str::from_utf8(digits).ok().and_then(|d| d.parse().ok()).ok_or(FrameError::BadLength)?;
        if total < FRAME_OPEN_LEN + FRAME_CLOSE.len() {
            return Err(FrameError::BadLength);
        }
        if total > MAX_FRAME {
            return Err(FrameError::TooLarge(total));
        }
        if self.buf.len() < total {
            return Ok(None);
        }
        if &self.buf[total - FRAME_CLOSE.len()..total] != FRAME_CLOSE.as_bytes() {
            return Err(FrameError::BadClose);
        }
        let inner = self.buf[FRAME_OPEN_LEN..total - FRAME_CLOSE.len()].to_vec();
        self.buf.drain(..total);
        Ok(Some(inner))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_only_what_sandesh_unescapes() {
        assert_eq!(escape(r#"a "b" & 'c' <d>"#), r#"a "b" &amp; &apos;c&apos; &lt;d&gt;"#);
        assert!(matches!(escape("plain"), Cow::Borrowed(_)));
        assert_eq!(escape("é\u{1}"), "é\u{1}");
    }

    #[test]
    fn containers_and_order() {
        let s = Struct::new("S")
            .with(3, "m", Value::Map("string".into(), "u32".into(), vec![(Value::str("k"), Value::U32(7))]))
            .with(1, "l", Value::List("string".into(), vec![Value::str("x\"y")]))
            .with(
                2,
                "s",
                Value::List("struct".into(), vec![Value::Struct(Struct::new("T").with(1, "b", Value::Bool(true)))]),
            )
            .with(4, "e", Value::str(""));
        let mut out = XmlOut::default();
        out.write_struct(&s);
        assert_eq!(
            String::from_utf8(out.into_bytes()).unwrap(),
            concat!(
                r#"<S><l type="list" identifier="1"><list type="string" size="1"><element>x"y</element></list></l>"#,
                r#"<s type="list" identifier="2"><list type="struct" size="1"><T><b type="bool" identifier="1">true</b></T></list></s>"#,
                r#"<m type="map" identifier="3"><map key="string" value="u32" size="1"><element>k</element><element>7</element></map></m>"#,
                r#"<e type="string" identifier="4"></e></S>"#
            )
        );
    }

    #[test]
    fn frames_round_trip_through_the_deframer() {
        let h = Struct::new("SandeshHeader").with(1, "Namespace", Value::str(""));
        let b = Struct::new("M").with_annotated(1, "name", &[("key", "T")], Value::str("n"));
        let f = frame(&h, &b);
        let text = String::from_utf8(f.clone()).unwrap();
        assert_eq!(text[17..27].parse::<usize>().unwrap(), f.len());
        assert!(text.ends_with("</sandesh>"));
        let mut d = Deframer::default();
        let mut two = f.clone();
        two.extend_from_slice(&f);
        d.push(&two[..10]);
        assert_eq!(d.next_frame(), Ok(None));
        d.push(&two[10..]);
        let inner = d.next_frame().unwrap().unwrap();
        assert!(inner.starts_with(b"<SandeshHeader>"));
        assert!(d.next_frame().unwrap().is_some());
        assert_eq!(d.next_frame(), Ok(None));
        d.push(b"<sandesh length=\"00000000x1\">");
        assert_eq!(d.next_frame(), Err(FrameError::BadLength));
        let mut d = Deframer::default();
        d.push(b"<other>");
        assert_eq!(d.next_frame(), Err(FrameError::BadOpen));
    }
}
