//! OpenAPI documents made from the routes themselves.
//!
//! Every handler carries a `#[utoipa::path]`. [`routes!`](crate::routes)
//! registers it at that path and for those methods *and* adds the operation
//! to its service's document, so the document cannot describe a route that
//! is not served, nor miss one that is. What every operation of a service
//! shares (the error envelope for 4xx and 503, the token header, the
//! microversion header) is added here once instead of on each handler.

use actix_web::http::Method;
use actix_web::{FromRequest, Handler, HttpResponse, Responder, web};
use utoipa::ToSchema;
use utoipa::openapi::path::{HttpMethod, Operation, Parameter, PathItem, Paths};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Ref, RefOr, ResponseBuilder, Schema,
    Server,
};
use utoipa_actix_web::OpenApiFactory;

use super::microversion::Version;

/// The name of the `X-Auth-Token` security scheme in every document.
pub const TOKEN_SCHEME: &str = "token";

/// What a service's document says of itself.
pub struct ServiceDoc {
    pub title: &'static str,
    /// The API version the document describes (the newest microversion).
    pub version: String,
    pub description: &'static str,
    /// The service's error envelope.
    pub error: ErrorDoc,
    /// Request headers every operation accepts (the microversion header).
    pub headers: Vec<Parameter>,
}

/// A service's error envelope: its schema (with the schemas it uses) and
/// media type.
pub struct ErrorDoc {
    name: String,
    schemas: Vec<(String, RefOr<Schema>)>,
    media: &'static str,
}

impl ErrorDoc {
    pub fn of<T: ToSchema>(media: &'static str) -> ErrorDoc {
        let mut schemas = vec![(T::name().into_owned(), T::schema())];
        T::schemas(&mut schemas);
        ErrorDoc { name: T::name().into_owned(), schemas, media }
    }
}

/// A service's routes: what actix serves and what the document says.
#[derive(Default)]
pub struct Routes {
    resources: Vec<(String, Option<actix_web::Resource>)>,
    paths: Paths,
    schemas: Vec<(String, RefOr<Schema>)>,
}

fn method(m: &HttpMethod) -> Method {
    match m {
        HttpMethod::Get => Method::GET,
        HttpMethod::Post => Method::POST,
        HttpMethod::Put => Method::PUT,
        HttpMethod::Delete => Method::DELETE,
        HttpMethod::Options => Method::OPTIONS,
        HttpMethod::Head => Method::HEAD,
        HttpMethod::Patch => Method::PATCH,
        HttpMethod::Trace => Method::TRACE,
    }
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = (&'static str, &mut Operation)> {
    [
        ("GET", item.get.as_mut()),
        ("PUT", item.put.as_mut()),
        ("POST", item.post.as_mut()),
        ("DELETE", item.delete.as_mut()),
        ("OPTIONS", item.options.as_mut()),
        ("HEAD", item.head.as_mut()),
        ("PATCH", item.patch.as_mut()),
        ("TRACE", item.trace.as_mut()),
    ]
    .into_iter()
    .filter_map(|(m, op)| op.map(|op| (m, op)))
}

impl Routes {
    pub fn new() -> Routes {
        Routes::default()
    }

    /// Serves `handler` at the path and methods of its `#[utoipa::path]`
    /// (`doc`), and at each of `aliases` (other spellings of the same path,
    /// such as a trailing slash), which its description then names. The
    /// operation id is `<module>.<handler>`, unique in the service.
    pub fn add<D, F, Args>(&mut self, module: &str, doc: D, handler: F, aliases: &[&str])
    where
        D: utoipa::Path + OpenApiFactory,
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        let path = D::path();
        let methods = D::methods();
        for p in std::iter::once(path.as_str()).chain(aliases.iter().copied()) {
            for m in &methods {
                self.route(p, method(m), handler.clone());
            }
        }
        let mut paths = doc.paths();
        let module = module.rsplit("::").next().unwrap_or(module);
        let also = aliases.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ");
        for item in paths.paths.values_mut() {
            for (_, op) in operations(item) {
                if let Some(id) = &mut op.operation_id {
                    *id = format!("{module}.{id}");
                }
                if !aliases.is_empty() {
                    let d = op.description.get_or_insert_with(String::new);
                    if !d.is_empty() {
                        d.push_str("\n\n");
                    }
                    d.push_str(&format!("Also served at {also}."));
                }
            }
        }
        self.paths.merge(paths);
        doc.schemas(&mut self.schemas);
    }

    /// One actix resource per path, in the order paths first appear, so
    /// that a known path with an unserved method answers 405.
    fn route<F, Args>(&mut self, path: &str, m: Method, handler: F)
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        let route = web::method(m).to(handler);
        match self.resources.iter_mut().find(|(p, _)| p == path) {
            Some((_, slot)) => {
                let resource = slot.take().map(|r| r.route(route));
                *slot = resource;
            }
            None => self.resources.push((path.to_string(), Some(web::resource(path).route(route)))),
        }
    }

    /// Hands every route to actix.
    pub fn register(self, cfg: &mut web::ServiceConfig) {
        for (_, r) in self.resources {
            if let Some(r) = r {
                cfg.service(r);
            }
        }
    }

    /// The service's document: its operations, each with the shared
    /// headers, the error envelope for 4xx and 503, and token security
    /// unless the operation declares its own (`security(())` for none).
    pub fn document(self, svc: ServiceDoc, server: &str) -> OpenApi {
        let mut paths = self.paths;
        let error_ref = RefOr::Ref(Ref::from_schema_name(&svc.error.name));
        let error = |what: &str| {
            ResponseBuilder::new()
                .description(what)
                .content(svc.error.media, ContentBuilder::new().schema(Some(error_ref.clone())).build())
                .build()
        };
        for item in paths.paths.values_mut() {
            for (_, op) in operations(item) {
                let r = &mut op.responses.responses;
                r.entry("4XX".into()).or_insert_with(|| RefOr::T(error("The request was refused.")));
                r.entry("503".into()).or_insert_with(|| RefOr::T(error("The database is unreachable; retry later.")));
                let params = op.parameters.get_or_insert_with(Vec::new);
                for h in &svc.headers {
                    if !params.iter().any(|p| matches!(p, RefOr::T(p) if p.name == h.name)) {
                        params.push(RefOr::T(h.clone()));
                    }
                }
            }
        }
        paths.paths.insert(
            "/openapi.json".into(),
            PathItem::new(HttpMethod::Get, {
                let mut op = Operation::new();
                op.operation_id = Some("openapi".into());
                op.summary = Some("This document.".into());
                op.tags = Some(vec!["openapi".into()]);
                op.security = Some(vec![SecurityRequirement::default()]);
                op.responses.responses.insert(
                    "200".into(),
                    RefOr::T(
                        ResponseBuilder::new()
                            .description("The OpenAPI document of this service.")
                            .content("application/json", ContentBuilder::new().build())
                            .build(),
                    ),
                );
                op
            }),
        );
        let mut components = ComponentsBuilder::new().security_scheme(
            TOKEN_SCHEME,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Auth-Token",
                "A Keystone token from POST /v3/auth/tokens.",
            ))),
        );
        let mut schemas = self.schemas;
        schemas.extend(svc.error.schemas);
        schemas.sort_by(|a, b| a.0.cmp(&b.0));
        schemas.dedup_by(|a, b| a.0 == b.0);
        for (name, schema) in schemas {
            components = components.schema(name, schema);
        }
        OpenApiBuilder::new()
            .info(InfoBuilder::new().title(svc.title).version(svc.version).description(Some(svc.description)))
            .servers(Some(vec![Server::new(server)]))
            .paths(paths)
            .components(Some(components.build()))
            .security(Some(vec![SecurityRequirement::new(TOKEN_SCHEME, Vec::<String>::new())]))
            .build()
    }
}

/// A pattern for the versions `min` to `max` (or `latest`) after `prefix`
/// (`"compute "` for `OpenStack-API-Version`), each minor spelled out.
pub fn version_pattern(prefix: &str, min: Version, max: Version) -> String {
    let minors: Vec<String> = (min.minor..=max.minor).map(|m| m.to_string()).collect();
    format!(r"^{prefix}(latest|{}\.({}))$", min.major, minors.join("|"))
}

/// A built document, served as `GET /openapi.json`.
pub struct Document(pub String);

impl Document {
    pub fn new(doc: &OpenApi) -> Document {
        Document(doc.to_pretty_json().unwrap_or_else(|_| "{}".into()))
    }
}

async fn serve(doc: web::Data<Document>) -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(doc.0.clone())
}

/// Serves `doc` at `GET /openapi.json`.
pub fn serve_document(cfg: &mut web::ServiceConfig, doc: &web::Data<Document>) {
    cfg.app_data(doc.clone()).route("/openapi.json", web::get().to(serve));
}

/// Registers handlers by their `#[utoipa::path]`:
/// `routes!(r; list, create, show | "/v1/x/")` (a `|` adds an alias path).
#[macro_export]
macro_rules! routes {
    ($r:expr; $($h:ident $(| $alias:literal)*),* $(,)?) => {
        $( ::pastey::paste! { $r.add(module_path!(), [<__path_ $h>], $h, &[$($alias),*]); } )*
    };
}

/// A Markdown reference of a document (`api-ref/reference/<service>.md`):
/// every operation with its parameters, body and answers, then every schema
/// with its fields.
pub fn markdown(doc: &serde_json::Value) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let info = &doc["info"];
    let _ = writeln!(out, "# {}\n", text(&info["title"]));
    let _ = writeln!(
        out,
        "<!-- Generated from the OpenAPI document (`GET /openapi.json`) by `ironbark openapi --out api-ref`; do not \
         edit. -->\n"
    );
    let _ = writeln!(out, "{}\n\nAPI version {}.\n", text(&info["description"]), text(&info["version"]));
    let empty = serde_json::Map::new();
    let paths = doc["paths"].as_object().unwrap_or(&empty);
    let operations = || {
        paths.iter().flat_map(|(path, item)| {
            item.as_object()
                .into_iter()
                .flatten()
                .filter(|(_, op)| op.is_object())
                .map(move |(method, op)| (path.as_str(), method.as_str(), op))
        })
    };
    // Parameters every operation takes (the microversion header) are told once.
    let params_of = |op: &serde_json::Value| -> Vec<String> {
        op["parameters"].as_array().into_iter().flatten().map(|p| text(&p["name"])).collect()
    };
    let mut common: Vec<serde_json::Value> = Vec::new();
    if let Some((_, _, first)) = operations().find(|(p, _, _)| *p != "/openapi.json") {
        for p in first["parameters"].as_array().into_iter().flatten() {
            let name = text(&p["name"]);
            if operations().filter(|(p, _, _)| *p != "/openapi.json").all(|(_, _, op)| params_of(op).contains(&name)) {
                common.push(p.clone());
            }
        }
    }
    for p in &common {
        let _ = writeln!(
            out,
            "Every operation takes the {} parameter `{}` ({}): {}\n",
            text(&p["in"]),
            text(&p["name"]),
            type_of(&p["schema"]),
            cell(&p["description"])
        );
    }
    let is_common = |p: &serde_json::Value| common.iter().any(|c| c["name"] == p["name"]);
    let _ = writeln!(out, "## Operations\n\n| method | path | summary |\n|---|---|---|");
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap_or(&empty).iter().filter(|(_, op)| op.is_object()) {
            let _ = writeln!(out, "| {} | `{path}` | {} |", method.to_uppercase(), cell(&op["summary"]));
        }
    }
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap_or(&empty).iter().filter(|(_, op)| op.is_object()) {
            let _ = writeln!(out, "\n### {} `{path}`\n", method.to_uppercase());
            for key in ["summary", "description"] {
                if let Some(t) = op[key].as_str() {
                    let _ = writeln!(out, "{t}\n");
                }
            }
            if op["security"].as_array().is_some_and(|s| s.iter().all(|r| r.as_object().is_some_and(|o| o.is_empty())))
            {
                let _ = writeln!(out, "No token needed.\n");
            }
            let params: Vec<&serde_json::Value> =
                op["parameters"].as_array().into_iter().flatten().filter(|p| !is_common(p)).collect();
            if !params.is_empty() {
                let _ = writeln!(out, "| parameter | in | type | required | description |\n|---|---|---|---|---|");
                for p in params {
                    let _ = writeln!(
                        out,
                        "| `{}` | {} | {} | {} | {} |",
                        text(&p["name"]),
                        text(&p["in"]),
                        type_of(&p["schema"]),
                        if p["required"] == true { "yes" } else { "no" },
                        cell(&p["description"])
                    );
                }
                out.push('\n');
            }
            if let Some(content) = op["requestBody"]["content"].as_object() {
                for (media, c) in content {
                    let _ = writeln!(out, "Request body (`{media}`): {}\n", type_of(&c["schema"]));
                }
            }
            let _ = writeln!(out, "| status | answer | body |\n|---|---|---|");
            for (status, r) in op["responses"].as_object().unwrap_or(&empty) {
                let body = r["content"]
                    .as_object()
                    .map(|c| {
                        c.iter()
                            .map(|(m, c)| {
                                if c["schema"].is_null() {
                                    format!("`{m}`")
                                } else {
                                    format!("{} (`{m}`)", type_of(&c["schema"]))
                                }
                            })
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default();
                let _ = writeln!(out, "| {status} | {} | {body} |", cell(&r["description"]));
            }
        }
    }
    if let Some(schemas) = doc["components"]["schemas"].as_object() {
        let _ = writeln!(out, "\n## Schemas");
        for (name, s) in schemas {
            let _ = writeln!(out, "\n### {name}\n");
            if let Some(d) = s["description"].as_str() {
                let _ = writeln!(out, "{d}\n");
            }
            match s["properties"].as_object() {
                Some(props) => {
                    let required: Vec<&str> = s["required"]
                        .as_array()
                        .map(|r| r.iter().filter_map(|v| v.as_str()).collect())
                        .unwrap_or_default();
                    let _ = writeln!(out, "| field | type | required | description |\n|---|---|---|---|");
                    for (field, p) in props {
                        let _ = writeln!(
                            out,
                            "| `{field}` | {} | {} | {} |",
                            type_of(p),
                            if required.contains(&field.as_str()) { "yes" } else { "no" },
                            cell(&p["description"])
                        );
                    }
                }
                None => {
                    let _ = writeln!(out, "Type: {}", type_of(s));
                }
            }
        }
    }
    out
}

fn text(v: &serde_json::Value) -> String {
    v.as_str().map(str::to_string).unwrap_or_else(|| if v.is_null() { String::new() } else { v.to_string() })
}

/// A table cell: one line, pipes escaped.
fn cell(v: &serde_json::Value) -> String {
    text(v).replace('\n', " ").replace('|', "\\|")
}

/// A schema in a few words: `string (uuid)`, `[Link]`, `string | null`.
fn type_of(s: &serde_json::Value) -> String {
    if let Some(r) = s["$ref"].as_str() {
        let name = r.rsplit('/').next().unwrap_or(r);
        return format!("[{name}](#{})", name.to_lowercase());
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(list) = s[key].as_array() {
            let sep = if key == "allOf" { " & " } else { " \\| " };
            return list.iter().map(type_of).collect::<Vec<_>>().join(sep);
        }
    }
    let one = |t: &str| -> String {
        match t {
            "array" => format!("[{}]", type_of(&s["items"])),
            "string" if s["enum"].is_array() => {
                let values: Vec<String> =
                    s["enum"].as_array().into_iter().flatten().map(|v| format!("`{}`", text(v))).collect();
                format!("one of {}", values.join(", "))
            }
            other => match s["format"].as_str() {
                Some(f) => format!("{other} ({f})"),
                None => other.to_string(),
            },
        }
    };
    match &s["type"] {
        serde_json::Value::String(t) => one(t),
        serde_json::Value::Array(ts) => {
            ts.iter().map(|t| one(t.as_str().unwrap_or(""))).collect::<Vec<_>>().join(" \\| ")
        }
        _ if s.as_object().is_some_and(|o| o.is_empty()) || s.is_null() => "any".into(),
        _ => "any".into(),
    }
}
