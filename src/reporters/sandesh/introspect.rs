//! The generator's HTTP introspect, as Sandesh modules serve it: an index,
//! one request list per package, and `Snh_<Request>` pages answering in
//! the response sandesh's XML (no header, no framing) behind the
//! stylesheet instruction. Arguments are taken by name, the first one also
//! as `x`.

use std::collections::HashMap;

use actix_web::{HttpResponse, web};

use super::Sandesh;
use super::codec::{Struct, Value, XmlOut, message_xml};
use super::generator::{Drop, TypeStats};
use super::messages::{self, Level};

const STYLESHEET: &str = r#"<?xml-stylesheet type="text/xsl" href="/universal_parse.xsl"?>"#;

/// A request: its name and its fields (name, type).
type Request = (&'static str, &'static [(&'static str, &'static str)]);

/// The requests served, per package (`<pkg>.xml`).
const PACKAGES: &[(&str, &[Request])] = &[
    (
        "sandesh_uve",
        &[
            ("SandeshUVETypesReq", &[]),
            ("SandeshUVECacheReq", &[("tname", "string"), ("key", "string")]),
            ("CollectorInfoRequest", &[]),
            ("SandeshMessageStatsReq", &[]),
        ],
    ),
    ("ironbark", &[("BmsRecentEventsReq", &[("node_uuid", "string")])]),
];

fn xml(body: String) -> HttpResponse {
    HttpResponse::Ok().content_type("text/xml").body(body)
}

fn response(s: &Struct) -> HttpResponse {
    let mut body = String::from(STYLESHEET);
    body.push_str(&String::from_utf8_lossy(&message_xml(s)));
    xml(body)
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(index))
        .route("/index.html", web::get().to(index))
        .route("/universal_parse.xsl", web::get().to(stylesheet))
        .route("/{file:[A-Za-z_]+\\.xml}", web::get().to(package))
        .route("/Snh_{request}", web::get().to(request))
        .default_service(web::to(|| async {
            HttpResponse::NotFound().content_type("text/html").body("<html><title>404 Not Found</title></html>")
        }));
}

async fn index(s: web::Data<Sandesh>) -> HttpResponse {
    let module = &s.generator.identity().module;
    let mut page =
        format!("<!DOCTYPE html><html><head><title>{module}</title></head><body><h1>Modules for {module}</h1>");
    for (pkg, _) in PACKAGES {
        page.push_str(&format!("<a href=\"{pkg}.xml\">{pkg}</a><br/>"));
    }
    page.push_str("</body></html>");
    HttpResponse::Ok().content_type("text/html").body(page)
}

async fn package(path: web::Path<String>) -> HttpResponse {
    let name = path.trim_end_matches(".xml");
    let Some((pkg, requests)) = PACKAGES.iter().find(|(p, _)| *p == name) else {
        return HttpResponse::NotFound().finish();
    };
    let mut out = format!("{STYLESHEET}<{pkg} type=\"rlist\">");
    for (req, fields) in *requests {
        out.push_str(&format!("<{req} type=\"sandesh\">"));
        for (f, ty) in *fields {
            out.push_str(&format!("<{f} type=\"{ty}\">0</{f}>"));
        }
        out.push_str(&format!("</{req}>"));
    }
    out.push_str(&format!("</{pkg}>"));
    xml(out)
}

/// A request argument by name, or `x` for the first field.
fn arg<'a>(q: &'a HashMap<String, String>, name: &str, first: bool) -> Option<&'a str> {
    q.get(name).or_else(|| if first { q.get("x") } else { None }).map(String::as_str).filter(|v| !v.is_empty())
}

async fn request(
    s: web::Data<Sandesh>,
    path: web::Path<String>,
    q: web::Query<HashMap<String, String>>,
) -> HttpResponse {
    match path.as_str() {
        "SandeshUVETypesReq" => response(&uve_types(&s)),
        "SandeshUVECacheReq" => uve_cache(&s, arg(&q, "tname", true), arg(&q, "key", false)).await,
        "CollectorInfoRequest" => response(&collector_info(&s)),
        "SandeshMessageStatsReq" => response(&message_stats(&s)),
        "BmsRecentEventsReq" => response(&recent_events(&s, arg(&q, "node_uuid", true))),
        other => HttpResponse::NotFound()
            .content_type("text/html")
            .body(format!("<h3>Sandesh Request \"{}\" not implemented</h3>", super::codec::escape(other))),
    }
}

fn uve_types(s: &Sandesh) -> Struct {
    let seqs = s.generator.last_seqs();
    let types = [(messages::NODE_STRUCT, messages::NODE_UVE), (messages::CLIENT_STRUCT, messages::CLIENT_UVE)];
    let items = types
        .iter()
        .map(|(st, msg)| {
            Value::Struct(
                Struct::new("SandeshUVETypeInfo")
                    .with_annotated(1, "type_name", &[("link", "SandeshUVECacheReq")], Value::str(*st))
                    .with(2, "seq_num", Value::U32(seqs.get(msg).copied().unwrap_or(0).max(0) as u32))
                    .with(3, "period", Value::I32(-1)),
            )
        })
        .collect();
    Struct::new("SandeshUVETypesResp").with(1, "type_info", Value::List("struct".into(), items))
}

/// Every live UVE of struct `tname` (or the one named `key`), then the
/// count, as one multi-part response. Sourced types (nodes) are read from
/// their source, the rest from the cache.
async fn uve_cache(s: &Sandesh, tname: Option<&str>, key: Option<&str>) -> HttpResponse {
    let mut found: Vec<(&'static str, Struct)> = Vec::new();
    let source = s.generator.sources().into_iter().find(|(_, st, _)| Some(*st) == tname);
    if let Some((message, _, source)) = source {
        let got = match key {
            Some(k) => source.one(k.to_string()).await.map(|u| u.into_iter().collect::<Vec<_>>()),
            None => all_of(source.as_ref()).await,
        };
        match got {
            Ok(list) => found.extend(list.into_iter().map(|d| (message, d))),
            Err(e) => {
                return HttpResponse::ServiceUnavailable()
                    .content_type("text/html")
                    .body(format!("<h3>{}</h3>", super::codec::escape(&e)));
            }
        }
    } else {
        found.extend(
            s.generator
                .cache()
                .into_iter()
                .filter(|u| Some(u.data.name.as_ref()) == tname)
                .filter(|u| key.is_none() || super::generator::uve_key(&u.data).as_deref() == key)
                .map(|u| (u.message, u.data)),
        );
    }
    let tail = Struct::new("SandeshUVECacheResp").with(1, "returned", Value::U32(found.len() as u32)).with(
        2,
        "period",
        Value::I32(-1),
    );
    if found.is_empty() {
        return response(&tail);
    }
    let wrapper = format!("__{}_list", found[0].0);
    let mut out = XmlOut::default();
    for (message, data) in found {
        out.write_message(&messages::uve(message, data));
    }
    out.write_message(&tail);
    let mut body = format!("{STYLESHEET}<{wrapper} type=\"slist\">");
    body.push_str(&String::from_utf8_lossy(&out.into_bytes()));
    body.push_str(&format!("</{wrapper}>"));
    xml(body)
}

async fn all_of(source: &dyn super::generator::UveSource) -> Result<Vec<Struct>, String> {
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = source.page(after.clone(), 500).await?;
        let full = page.len() == 500;
        after = page.last().and_then(super::generator::uve_key);
        all.extend(page);
        if !full {
            return Ok(all);
        }
    }
}

fn collector_info(s: &Sandesh) -> Struct {
    let c = s.generator.connection();
    let (ip, port) = match c.collector.as_deref().and_then(|t| t.rsplit_once(':')) {
        Some((h, p)) => (Some(h.to_string()), p.parse::<i32>().ok()),
        None => (None, None),
    };
    Struct::new("CollectorInfoResponse")
        .with_opt(1, "ip", ip.map(Value::Str))
        .with_opt(2, "port", port.map(Value::I32))
        .with(3, "status", Value::str(c.state.as_str()))
        // ironbark's additions: why the last connection ended, and how many held.
        .with_opt(4, "last_error", c.last_error.map(Value::Str))
        .with(5, "successful_connections", Value::U32(c.successful_connections))
}

fn stats_struct(t: &TypeStats) -> Struct {
    let dropped: u64 = t.dropped.values().sum();
    let mut st = Struct::new("SandeshMessageStats")
        .with(1, "messages_sent", Value::U64(t.messages_sent))
        .with(2, "bytes_sent", Value::U64(t.bytes_sent))
        .with(3, "messages_received", Value::U64(t.messages_received))
        .with(4, "bytes_received", Value::U64(t.bytes_received))
        .with(5, "messages_sent_dropped", Value::U64(dropped));
    for (why, n) in &t.dropped {
        let (id, name) = match why {
            Drop::QueueLevel => (54, "messages_sent_dropped_queue_level"),
            Drop::SessionNotConnected => (56, "messages_sent_dropped_session_not_connected"),
            Drop::WriteFailed => (58, "messages_sent_dropped_write_failed"),
            Drop::WrongClientSmState => (59, "messages_sent_dropped_wrong_client_sm_state"),
        };
        st = st.with(id, name, Value::U64(*n));
    }
    st
}

fn message_stats(s: &Sandesh) -> Struct {
    let stats = s.generator.stats();
    let mut total = TypeStats::default();
    let mut types = Vec::new();
    for (name, t) in &stats {
        total.messages_sent += t.messages_sent;
        total.bytes_sent += t.bytes_sent;
        total.messages_received += t.messages_received;
        total.bytes_received += t.bytes_received;
        for (why, n) in &t.dropped {
            *total.dropped.entry(*why).or_default() += n;
        }
        types.push(Value::Struct(
            Struct::new("SandeshMessageTypeStats").with(1, "message_type", Value::str(*name)).with(
                2,
                "stats",
                Value::Struct(stats_struct(t)),
            ),
        ));
    }
    let generator = Struct::new("SandeshGeneratorStats")
        .with(1, "type_stats", Value::List("struct".into(), types))
        .with(2, "aggregate_stats", Value::Struct(stats_struct(&total)));
    let queue = Struct::new("SandeshQueueStats")
        .with(1, "enqueues", Value::U64(s.generator.enqueues()))
        .with(2, "count", Value::U64(s.generator.queue_depth()))
        .with(3, "max_count", Value::U64(s.generator.max_queue_depth()));
    Struct::new("SandeshMessageStatsResp")
        .with(1, "stats", Value::Struct(generator))
        .with(2, "send_queue_stats", Value::Struct(queue))
        .with(3, "sending_level", Value::str(Level::Debug.name()))
        .with(4, "session_close_interval_msec", Value::U64(0))
        .with(5, "session_close_timestamp", Value::U64(0))
}

fn recent_events(s: &Sandesh, node: Option<&str>) -> Struct {
    let items =
        s.recent
            .snapshot()
            .into_iter()
            .rev()
            .filter(|r| node.is_none() || Some(r.event.node_uuid.as_str()) == node)
            .map(|r| {
                let mut ev = messages::node_event_log(&r.event);
                // The log's struct, with when it happened and at which level.
                let Some(Value::Struct(inner)) = ev.fields.pop().map(|f| f.value) else { unreachable!() };
                Value::Struct(
                    inner
                        .with(20, "timestamp", Value::Str(r.at.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()))
                        .with(21, "level", Value::str(r.level.name())),
                )
            })
            .collect();
    Struct::new("BmsRecentEventsResp").with(1, "events", Value::List("struct".into(), items))
}

async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok().content_type("text/xsl").body(XSL)
}

/// A small stylesheet of ironbark's own: fields as nested tables, request
/// lists as forms.
const XSL: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
<xsl:output method="html"/>
<xsl:template match="/">
  <html><head><title>ironbark introspect</title>
  <style>table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:2px 6px;vertical-align:top;text-align:left}</style>
  </head><body><xsl:apply-templates select="*"/></body></html>
</xsl:template>
<xsl:template match="*[@type='rlist']">
  <xsl:for-each select="*">
    <form action="Snh_{name()}" method="get"><b><xsl:value-of select="name()"/></b>
      <xsl:for-each select="*"><label> <xsl:value-of select="name()"/> <input type="text" name="{name()}"/></label></xsl:for-each>
      <input type="submit" value="Send"/></form>
  </xsl:for-each>
</xsl:template>
<xsl:template match="*[@type='slist']"><xsl:apply-templates select="*"/></xsl:template>
<xsl:template match="*[@type='sandesh']">
  <h2><xsl:value-of select="name()"/></h2><xsl:call-template name="fields"/>
</xsl:template>
<xsl:template name="fields">
  <table><xsl:for-each select="*">
    <tr><th><xsl:value-of select="name()"/></th><td><xsl:apply-templates select="." mode="value"/></td></tr>
  </xsl:for-each></table>
</xsl:template>
<xsl:template match="*[@type='struct']" mode="value"><xsl:for-each select="*"><xsl:call-template name="fields"/></xsl:for-each></xsl:template>
<xsl:template match="*[@type='list']" mode="value">
  <xsl:for-each select="list/*"><xsl:choose>
    <xsl:when test="name()='element'"><xsl:value-of select="."/><br/></xsl:when>
    <xsl:otherwise><xsl:call-template name="fields"/></xsl:otherwise>
  </xsl:choose></xsl:for-each>
</xsl:template>
<xsl:template match="*" mode="value"><xsl:value-of select="."/></xsl:template>
</xsl:stylesheet>
"#;
