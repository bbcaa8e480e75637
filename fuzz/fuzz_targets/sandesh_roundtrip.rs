//! Sandesh messages through ironbark's encoder and back: an arbitrary,
//! well-typed message (structs, lists and maps nested a few levels, every
//! base type, any text) behind a real `SandeshHeader` is framed with
//! `codec::frame`, taken off a stream by the `Deframer`, and decoded.
//!
//! Checks: the deframer yields exactly the frame's inner XML; ironbark's
//! `decode_frame` (and `decode_message` for the introspect form) gives back
//! the header and message as built, fields in identifier order; and the
//! test collector (tests/sandesh_collector), as strict as contrail-collector,
//! reads the same frame with no violation and the same values.
#![no_main]

#[allow(dead_code, unused_imports, clippy::all)]
#[path = "../../tests/sandesh_collector/mod.rs"]
mod sandesh_collector;

use std::borrow::Cow;

use arbitrary::{Arbitrary, Result, Unstructured};
use ironbark::reporters::sandesh::codec::{
    Deframer, FRAME_CLOSE, FRAME_OPEN_LEN, Field, Struct, Value, frame, message_xml,
};
use ironbark::reporters::sandesh::decode::{decode_frame, decode_message};
use ironbark::reporters::sandesh::messages::{HeaderFields, Identity, Kind, Level, header};
use libfuzzer_sys::fuzz_target;
use sandesh_collector as coll;

const DEPTH: usize = 4;

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Ty {
    Bool,
    I16,
    I32,
    I64,
    U16,
    U32,
    U64,
    Double,
    Str,
    Struct,
    List,
    Map,
}

/// Everything of the header that varies, as `arbitrary` derives it.
#[derive(Arbitrary, Debug)]
struct Head {
    source: String,
    module: String,
    node_type: String,
    instance_id: String,
    context: String,
    seq: i32,
    hints: i32,
    /// Offset into the years the collector finds plausible.
    at: u32,
    kind: u8,
    level: u8,
}

/// An XML name: what IDL identifiers look like (no `:`, no `xml` prefix).
fn name(u: &mut Unstructured) -> Result<String> {
    const FIRST: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_";
    const REST: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_0123456789.-";
    let mut s = String::from(*u.choose(FIRST)? as char);
    for _ in 0..u.int_in_range(0..=7)? {
        s.push(*u.choose(REST)? as char);
    }
    // `<element>` is the container item wrapper.
    if s == "element" || s.to_ascii_lowercase().starts_with("xml") {
        s.insert(0, 'x');
        s.push('_');
    }
    Ok(s)
}

fn value(u: &mut Unstructured, ty: Ty, depth: usize) -> Result<Value> {
    Ok(match ty {
        Ty::Bool => Value::Bool(u.arbitrary()?),
        Ty::I16 => Value::I16(u.arbitrary()?),
        Ty::I32 => Value::I32(u.arbitrary()?),
        Ty::I64 => Value::I64(u.arbitrary()?),
        Ty::U16 => Value::U16(u.arbitrary()?),
        Ty::U32 => Value::U32(u.arbitrary()?),
        Ty::U64 => Value::U64(u.arbitrary()?),
        // NaN is never equal to itself; every other double reads back.
        Ty::Double => Value::Double(Some(u.arbitrary::<f64>()?).filter(|d| !d.is_nan()).unwrap_or(0.5)),
        Ty::Str => Value::Str(u.arbitrary()?),
        Ty::Struct => Value::Struct(strct(u, depth + 1)?),
        Ty::List => {
            let elem = item_type(u, depth)?;
            let items = (0..u.int_in_range(0..=4)?).map(|_| value(u, elem, depth + 1)).collect::<Result<_>>()?;
            Value::List(type_name(elem), items)
        }
        Ty::Map => {
            let (kt, vt) = (item_type(u, depth)?, item_type(u, depth)?);
            let mut entries = Vec::new();
            for _ in 0..u.int_in_range(0..=3)? {
                entries.push((value(u, kt, depth + 1)?, value(u, vt, depth + 1)?));
            }
            Value::Map(type_name(kt), type_name(vt), entries)
        }
    })
}

/// A type for a field or item: only base types past the nesting limit.
fn item_type(u: &mut Unstructured, depth: usize) -> Result<Ty> {
    let ty: Ty = u.arbitrary()?;
    Ok(if depth >= DEPTH && matches!(ty, Ty::Struct | Ty::List | Ty::Map) { Ty::Str } else { ty })
}

fn type_name(ty: Ty) -> Cow<'static, str> {
    let sample = match ty {
        Ty::Struct => Value::Struct(Struct::default()),
        Ty::List => Value::List("string".into(), vec![]),
        Ty::Map => Value::Map("string".into(), "string".into(), vec![]),
        Ty::Bool => Value::Bool(false),
        Ty::I16 => Value::I16(0),
        Ty::I32 => Value::I32(0),
        Ty::I64 => Value::I64(0),
        Ty::U16 => Value::U16(0),
        Ty::U32 => Value::U32(0),
        Ty::U64 => Value::U64(0),
        Ty::Double => Value::Double(0.0),
        Ty::Str => Value::str(""),
    };
    Cow::Borrowed(sample.type_name())
}

/// A struct with unique field identifiers (as every IDL struct has).
fn strct(u: &mut Unstructured, depth: usize) -> Result<Struct> {
    let mut s = Struct::new(name(u)?);
    for _ in 0..u.int_in_range(0..=5)? {
        let id: u16 = u.arbitrary()?;
        let mut annotations: Vec<(Cow<'static, str>, Cow<'static, str>)> = Vec::new();
        for _ in 0..u.int_in_range(0..=2)? {
            let k = name(u)?;
            // Attribute values are normalised by XML readers: no tabs or line breaks.
            let v: String = u.arbitrary::<String>()?.chars().filter(|c| !matches!(c, '\t' | '\n' | '\r')).collect();
            if !["type", "identifier"].contains(&k.as_str()) && !annotations.iter().any(|(a, _)| *a == k) {
                annotations.push((k.into(), v.into()));
            }
        }
        let ty = item_type(u, depth)?;
        let field = Field { id, name: name(u)?.into(), annotations, value: value(u, ty, depth)? };
        if !s.fields.iter().any(|f| f.id == id) {
            s.fields.push(field);
        }
    }
    Ok(s)
}

/// `s` as a reader sees it: fields in identifier order, at every level.
fn sorted(s: &Struct) -> Struct {
    let mut fields: Vec<Field> =
        s.fields.iter().map(|f| Field { value: sorted_value(&f.value), ..f.clone() }).collect();
    fields.sort_by_key(|f| f.id);
    Struct { name: s.name.clone(), fields }
}

fn sorted_value(v: &Value) -> Value {
    match v {
        Value::Struct(s) => Value::Struct(sorted(s)),
        Value::List(t, items) => Value::List(t.clone(), items.iter().map(sorted_value).collect()),
        Value::Map(k, t, e) => {
            Value::Map(k.clone(), t.clone(), e.iter().map(|(a, b)| (sorted_value(a), sorted_value(b))).collect())
        }
        other => other.clone(),
    }
}

/// What the test collector makes of a value.
fn collected(v: &Value) -> coll::Value {
    match v {
        Value::Bool(b) => coll::Value::Bool(*b),
        Value::I16(i) => coll::Value::Int(i128::from(*i)),
        Value::I32(i) => coll::Value::Int(i128::from(*i)),
        Value::I64(i) => coll::Value::Int(i128::from(*i)),
        Value::U16(i) => coll::Value::Int(i128::from(*i)),
        Value::U32(i) => coll::Value::Int(i128::from(*i)),
        Value::U64(i) => coll::Value::Int(i128::from(*i)),
        Value::Double(d) => coll::Value::Str(d.to_string()),
        Value::Str(s) => coll::Value::Str(s.clone()),
        Value::Struct(s) => coll::Value::Struct(collected_struct(s)),
        Value::List(t, items) => {
            coll::Value::List { elem: t.to_string(), items: items.iter().map(collected).collect() }
        }
        Value::Map(k, t, e) => coll::Value::Map {
            key: k.to_string(),
            value: t.to_string(),
            entries: e.iter().map(|(a, b)| (collected(a), collected(b))).collect(),
        },
    }
}

fn collected_struct(s: &Struct) -> coll::Struct {
    coll::Struct {
        name: s.name.to_string(),
        fields: s
            .fields
            .iter()
            .map(|f| coll::Field {
                name: f.name.to_string(),
                id: u32::from(f.id),
                ty: f.value.type_name().to_string(),
                annotations: f.annotations.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
                value: collected(&f.value),
            })
            .collect(),
    }
}

/// Characters XML 1.0 allows in a document (the collector's parser is a
/// conforming one; ironbark's own reader is not that strict).
fn xml_chars(s: &str) -> bool {
    s.chars().all(|c| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..))
}

fn fuzz(u: &mut Unstructured) -> Result<()> {
    let h: Head = u.arbitrary()?;
    let id = Identity { source: h.source, module: h.module, node_type: h.node_type, instance_id: h.instance_id };
    let kinds = [Kind::System, Kind::Request, Kind::Response, Kind::Uve, Kind::Object];
    let levels = [Level::Emerg, Level::Err, Level::Info, Level::Debug, Level::Invalid];
    let fields = HeaderFields {
        // 2020-01-02 to early 2099, the years the collector finds plausible.
        timestamp_us: 1_577_923_200_000_000 + i64::from(h.at % 2_500_000_000) * 1_000_000,
        context: &h.context,
        seq: h.seq,
        kind: kinds[usize::from(h.kind) % kinds.len()],
        hints: h.hints,
        level: levels[usize::from(h.level) % levels.len()],
    };
    let head = header(&id, fields);
    let body = strct(u, 0)?;

    let f = frame(&head, &body);
    let mut d = Deframer::default();
    d.push(&f);
    let inner = d.next_frame().expect("a frame of ours is well framed").expect("a whole frame");
    assert_eq!(inner, f[FRAME_OPEN_LEN..f.len() - FRAME_CLOSE.len()]);
    assert_eq!(d.next_frame(), Ok(None));

    let want = sorted(&body);
    let (h2, b2) = decode_frame(&inner).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&f)));
    assert_eq!(h2, head, "header");
    assert_eq!(b2, want, "body of {}", String::from_utf8_lossy(&f));
    assert_eq!(decode_message(&message_xml(&body)).expect("introspect form"), want);

    let text = String::from_utf8(f).expect("frames are UTF-8");
    if xml_chars(&text) {
        let c = coll::decode_frame(&text).unwrap_or_else(|e| panic!("collector: {e}: {text}"));
        assert!(c.violations.is_empty(), "collector: {:?}: {text}", c.violations);
        assert_eq!(c.body, collected_struct(&want), "collector's body of {text}");
        assert_eq!((c.header.source, c.header.seq), (id.source, h.seq));
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = fuzz(&mut Unstructured::new(data));
});
