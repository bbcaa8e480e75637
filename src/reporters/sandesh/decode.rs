//! Reading Sandesh XML: what a collector sends back (the control reply,
//! requests), parsed into the same typed tree the writer takes. Lenient
//! about form, strict about types: a value that does not parse as its
//! declared type is an error.

use std::borrow::Cow;

use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};

use super::codec::{Field, Name, Struct, Value};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DecodeError {
    #[error("malformed XML: {0}")]
    Xml(String),
    #[error("unexpected end of the message")]
    Eof,
    #[error("unexpected {0}")]
    Unexpected(String),
    #[error("field {field}: {value:?} is not a valid {ty}")]
    BadValue { field: String, ty: String, value: String },
    #[error("field {0} has no valid identifier")]
    BadIdentifier(String),
    #[error("structs and containers nested deeper than {0} levels")]
    TooDeep(usize),
}

/// How deep structs and containers may nest. Messages nest a few levels;
/// the reader recurses once per level, so a peer's frame of nothing but
/// nesting (up to 16 MiB) would otherwise overflow the stack.
pub const MAX_DEPTH: usize = 64;

type R<T> = Result<T, DecodeError>;

/// A frame's inner XML: the header and the message body.
pub fn decode_frame(inner: &[u8]) -> R<(Struct, Struct)> {
    let text = std::str::from_utf8(inner).map_err(|e| DecodeError::Xml(e.to_string()))?;
    let mut p = Parser { r: Reader::from_str(text), depth: 0 };
    let header = match p.next_start()? {
        Some(Start { name, .. }) if name == "SandeshHeader" => p.structure(name)?,
        Some(s) => return Err(DecodeError::Unexpected(format!("element {} instead of SandeshHeader", s.name))),
        None => return Err(DecodeError::Eof),
    };
    let body = match p.next_start()? {
        Some(Start { name, empty: true, .. }) => Struct::new(name),
        Some(Start { name, .. }) => p.structure(name)?,
        None => return Err(DecodeError::Eof),
    };
    Ok((header, body))
}

/// A message body alone (an introspect response).
pub fn decode_message(xml: &[u8]) -> R<Struct> {
    let text = std::str::from_utf8(xml).map_err(|e| DecodeError::Xml(e.to_string()))?;
    let mut p = Parser { r: Reader::from_str(text), depth: 0 };
    match p.next_start()? {
        Some(Start { name, empty: true, .. }) => Ok(Struct::new(name)),
        Some(Start { name, .. }) => p.structure(name),
        None => Err(DecodeError::Eof),
    }
}

struct Start {
    name: Name,
    attrs: Vec<(String, String)>,
    empty: bool,
}

struct Parser<'a> {
    r: Reader<&'a [u8]>,
    /// Structs and containers open around the current position.
    depth: usize,
}

fn start_of(e: &BytesStart<'_>, empty: bool) -> R<Start> {
    let name = e.name().as_ref().to_string();
    let mut attrs = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(|e| DecodeError::Xml(e.to_string()))?;
        let v = a.normalized_value(XmlVersion::Implicit1_0).map_err(|e| DecodeError::Xml(e.to_string()))?;
        attrs.push((a.key.as_ref().to_string(), v.into_owned()));
    }
    Ok(Start { name: Cow::Owned(name), attrs, empty })
}

fn attr<'s>(s: &'s Start, k: &str) -> Option<&'s str> {
    s.attrs.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str())
}

/// The character a reference stands for: the four Sandesh entities, and
/// leniently the other XML ones.
fn reference(name: &str) -> Option<String> {
    Some(match name {
        "amp" => "&".into(),
        "apos" => "'".into(),
        "lt" => "<".into(),
        "gt" => ">".into(),
        "quot" => "\"".into(),
        _ => {
            let n = name.strip_prefix('#')?;
            let code = match n.strip_prefix('x') {
                Some(h) => u32::from_str_radix(h, 16).ok()?,
                None => n.parse().ok()?,
            };
            char::from_u32(code)?.to_string()
        }
    })
}

impl Parser<'_> {
    fn event(&mut self) -> R<Event<'static>> {
        self.r.read_event().map(|e| e.into_owned()).map_err(|e| DecodeError::Xml(e.to_string()))
    }

    /// The next element start, skipping declarations, comments and the
    /// stylesheet instruction; `None` at the end of the input.
    fn next_start(&mut self) -> R<Option<Start>> {
        loop {
            match self.event()? {
                Event::Start(e) => return start_of(&e, false).map(Some),
                Event::Empty(e) => return start_of(&e, true).map(Some),
                Event::Eof => return Ok(None),
                Event::Text(t) if t.trim().is_empty() => {}
                Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
                other => return Err(DecodeError::Unexpected(format!("{other:?}"))),
            }
        }
    }

    /// Text up to the end tag of `name`.
    fn text(&mut self, name: &str) -> R<String> {
        let mut out = String::new();
        loop {
            match self.event()? {
                Event::Text(t) => out.push_str(&t),
                Event::CData(c) => out.push_str(&c),
                Event::GeneralRef(r) => {
                    let n = r.into_inner();
                    out.push_str(&reference(&n).ok_or_else(|| DecodeError::Unexpected(format!("entity &{n};")))?);
                }
                Event::End(e) if e.name().as_ref() == name => return Ok(out),
                Event::Eof => return Err(DecodeError::Eof),
                other => return Err(DecodeError::Unexpected(format!("{other:?} in {name}"))),
            }
        }
    }

    /// Runs `f` one nesting level down, refusing past [`MAX_DEPTH`].
    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> R<T>) -> R<T> {
        if self.depth >= MAX_DEPTH {
            return Err(DecodeError::TooDeep(MAX_DEPTH));
        }
        self.depth += 1;
        let out = f(self);
        self.depth -= 1;
        out
    }

    /// The fields of a struct whose start tag was just read.
    fn structure(&mut self, name: Name) -> R<Struct> {
        self.nested(|p| p.struct_fields(name))
    }

    fn struct_fields(&mut self, name: Name) -> R<Struct> {
        let mut s = Struct::new(name.clone());
        loop {
            match self.event()? {
                Event::Start(e) => {
                    let f = start_of(&e, false)?;
                    s.fields.push(self.field(f)?);
                }
                Event::Empty(e) => {
                    let f = start_of(&e, true)?;
                    s.fields.push(self.field(f)?);
                }
                Event::End(e) if e.name().as_ref() == name => return Ok(s),
                Event::Text(t) if t.trim().is_empty() => {}
                Event::Eof => return Err(DecodeError::Eof),
                other => return Err(DecodeError::Unexpected(format!("{other:?} in {name}"))),
            }
        }
    }

    fn field(&mut self, f: Start) -> R<Field> {
        let ty = attr(&f, "type").unwrap_or("string").to_string();
        let id = attr(&f, "identifier")
            .and_then(|i| i.parse().ok())
            .ok_or_else(|| DecodeError::BadIdentifier(f.name.to_string()))?;
        let annotations = f
            .attrs
            .iter()
            .filter(|(k, _)| k != "type" && k != "identifier")
            .map(|(k, v)| (Cow::Owned(k.clone()), Cow::Owned(v.clone())))
            .collect();
        let value = if f.empty { base(&f.name, &ty, String::new())? } else { self.value(&f.name, &ty)? };
        Ok(Field { id, name: f.name, annotations, value })
    }

    /// The value of a field or container item of type `ty`, up to and
    /// including the end tag `end`.
    fn value(&mut self, end: &str, ty: &str) -> R<Value> {
        match ty {
            "struct" => {
                let v = match self.next_start()? {
                    Some(Start { name, empty: true, .. }) => Struct::new(name),
                    Some(Start { name, .. }) => self.structure(name)?,
                    None => return Err(DecodeError::Eof),
                };
                self.close(end)?;
                Ok(Value::Struct(v))
            }
            "list" | "set" | "map" => {
                let Some(c) = self.next_start()? else { return Err(DecodeError::Eof) };
                let v = self.container(c)?;
                self.close(end)?;
                Ok(v)
            }
            _ => {
                let t = self.text(end)?;
                base(end, ty, t)
            }
        }
    }

    fn close(&mut self, name: &str) -> R<()> {
        loop {
            match self.event()? {
                Event::End(e) if e.name().as_ref() == name => return Ok(()),
                Event::Text(t) if t.trim().is_empty() => {}
                Event::Eof => return Err(DecodeError::Eof),
                other => return Err(DecodeError::Unexpected(format!("{other:?} before </{name}>"))),
            }
        }
    }

    fn container(&mut self, c: Start) -> R<Value> {
        self.nested(|p| p.container_items(c))
    }

    fn container_items(&mut self, c: Start) -> R<Value> {
        let kind = c.name.to_string();
        let map = kind == "map";
        let (kt, vt) = if map {
            (attr(&c, "key").unwrap_or("string").to_string(), attr(&c, "value").unwrap_or("string").to_string())
        } else {
            (attr(&c, "type").unwrap_or("string").to_string(), String::new())
        };
        let mut items = Vec::new();
        if !c.empty {
            let mut item_type = &kt;
            while let Some(s) = self.next_item(&kind)? {
                items.push(self.item(s, item_type)?);
                if map {
                    item_type = if item_type == &kt { &vt } else { &kt };
                }
            }
        }
        if map {
            if items.len() % 2 != 0 {
                return Err(DecodeError::Unexpected("a map with a key and no value".into()));
            }
            let mut entries = Vec::with_capacity(items.len() / 2);
            let mut it = items.into_iter();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                entries.push((k, v));
            }
            return Ok(Value::Map(Cow::Owned(kt), Cow::Owned(vt), entries));
        }
        Ok(Value::List(Cow::Owned(kt), items))
    }

    /// The next item start inside a container, `None` at its end tag.
    fn next_item(&mut self, container: &str) -> R<Option<Start>> {
        loop {
            match self.event()? {
                Event::Start(e) => return start_of(&e, false).map(Some),
                Event::Empty(e) => return start_of(&e, true).map(Some),
                Event::End(e) if e.name().as_ref() == container => return Ok(None),
                Event::Text(t) if t.trim().is_empty() => {}
                Event::Eof => return Err(DecodeError::Eof),
                other => return Err(DecodeError::Unexpected(format!("{other:?} in {container}"))),
            }
        }
    }

    fn item(&mut self, s: Start, ty: &str) -> R<Value> {
        match (ty, s.name.as_ref()) {
            ("struct", _) if s.empty => Ok(Value::Struct(Struct::new(s.name))),
            ("struct", _) => Ok(Value::Struct(self.structure(s.name)?)),
            (_, "element") if s.empty => base("element", ty, String::new()),
            (_, "element") => self.value("element", ty),
            (_, other) => Err(DecodeError::Unexpected(format!("item <{other}> in a container of {ty}"))),
        }
    }
}

fn base(field: &str, ty: &str, text: String) -> R<Value> {
    fn num<T: std::str::FromStr>(field: &str, ty: &str, t: &str) -> R<T> {
        t.trim().parse().map_err(|_| DecodeError::BadValue { field: field.into(), ty: ty.into(), value: t.into() })
    }
    Ok(match ty {
        "bool" => match text.trim() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(DecodeError::BadValue { field: field.into(), ty: ty.into(), value: text }),
        },
        "byte" | "i16" => Value::I16(num(field, ty, &text)?),
        "i32" => Value::I32(num(field, ty, &text)?),
        "i64" => Value::I64(num(field, ty, &text)?),
        "u16" => Value::U16(num(field, ty, &text)?),
        "u32" | "ipv4" => Value::U32(num(field, ty, &text)?),
        "u64" => Value::U64(num(field, ty, &text)?),
        "double" => Value::Double(num(field, ty, &text)?),
        // string, xml, uuid_t, ipaddr and anything newer: text
        _ => Value::Str(text),
    })
}

#[cfg(test)]
mod tests {
    use super::super::codec::{XmlOut, frame};
    use super::*;

    #[test]
    fn what_the_writer_writes_reads_back() {
        let body = Struct::new("M")
            .with_annotated(1, "name", &[("key", "T")], Value::str("a&b'<\"c\">"))
            .with(2, "n", Value::I64(-5))
            .with(
                3,
                "l",
                Value::List("struct".into(), vec![Value::Struct(Struct::new("P").with(1, "x", Value::U32(3)))]),
            )
            .with(4, "m", Value::Map("string".into(), "bool".into(), vec![(Value::str("k"), Value::Bool(false))]))
            .with(5, "e", Value::str(""))
            .with(6, "s", Value::Struct(Struct::new("Q").with(1, "y", Value::U64(u64::MAX))));
        let header = Struct::new("SandeshHeader").with(1, "Namespace", Value::str(""));
        let f = frame(&header, &body);
        let (h, b) = decode_frame(&f[29..f.len() - 10]).unwrap();
        assert_eq!(h, header);
        assert_eq!(b, body);
        let mut out = XmlOut::default();
        out.write_message(&body);
        assert_eq!(decode_message(&out.into_bytes()).unwrap(), body);
    }

    #[test]
    fn bad_values_are_errors_not_panics() {
        let bad = br#"<SandeshHeader></SandeshHeader><M type="sandesh"><n type="i32" identifier="1">x</n></M>"#;
        assert!(matches!(decode_frame(bad), Err(DecodeError::BadValue { .. })));
        assert!(decode_frame(b"<SandeshHeader><a type=").is_err());
        assert!(decode_frame(b"").is_err());
        let reply = concat!(
            r#"<?xml-stylesheet type="text/xsl" href="/universal_parse.xsl"?>"#,
            r#"<R type="sandesh"><l type="list" identifier="1"><list type="struct" size="0"></list></l>"#,
            r#"<ok type="bool" identifier="2">true</ok></R>"#
        );
        let r = decode_message(reply.as_bytes()).unwrap();
        assert_eq!(r.get("ok"), Some(&Value::Bool(true)));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        // `levels` structs (or lists) inside one another, in a message.
        let nest = |levels: usize, lists: bool| {
            let (field, open, close, end) = if lists {
                (
                    r#"<l type="list" identifier="1"><list type="list" size="1">"#,
                    r#"<element><list type="list" size="1">"#,
                    "</list></element>",
                    "</list></l>",
                )
            } else {
                (
                    r#"<f type="struct" identifier="1"><S>"#,
                    r#"<f type="struct" identifier="1"><S>"#,
                    "</S></f>",
                    "</S></f>",
                )
            };
            let mut x = String::from(r#"<SandeshHeader></SandeshHeader><M type="sandesh">"#);
            x.push_str(field);
            x.push_str(&open.repeat(levels - 1));
            x.push_str(&close.repeat(levels - 1));
            x.push_str(end);
            x.push_str("</M>");
            x
        };
        // The deframer takes frames of up to 16 MiB: some 400 000 levels.
        for lists in [false, true] {
            let deep = nest(400_000, lists);
            assert_eq!(decode_frame(deep.as_bytes()), Err(DecodeError::TooDeep(MAX_DEPTH)), "lists: {lists}");
            // The message is one level: up to the limit, nesting reads back.
            assert!(decode_frame(nest(MAX_DEPTH - 1, lists).as_bytes()).is_ok(), "lists: {lists}");
            assert_eq!(decode_frame(nest(MAX_DEPTH, lists).as_bytes()), Err(DecodeError::TooDeep(MAX_DEPTH)));
        }
        let (_, body) = decode_frame(nest(MAX_DEPTH - 1, false).as_bytes()).unwrap();
        let (mut depth, mut s) = (0, &body);
        while let Some(Value::Struct(inner)) = s.get("f") {
            (depth, s) = (depth + 1, inner);
        }
        assert_eq!(depth, MAX_DEPTH - 1);
    }
}
