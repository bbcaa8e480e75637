//! The OpenAPI documents: complete and well formed for every service, every
//! route registered from its description, and `api-ref/` generated from the
//! current code.

use std::collections::HashSet;
use std::path::Path;

use ironbark::config::Config;
use serde_json::Value;

const METHODS: [&str; 7] = ["get", "put", "post", "delete", "options", "head", "patch"];

fn documents() -> Vec<(String, Value)> {
    ironbark::api::documents(&Config::default())
        .into_iter()
        .map(|(kind, doc)| {
            (kind.catalog_type().to_string(), serde_json::from_str(&doc.to_json().expect("serialises")).unwrap())
        })
        .collect()
}

/// Every `$ref` in a value, with where it was found.
fn refs<'a>(v: &'a Value, at: &str, out: &mut Vec<(String, &'a str)>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k == "$ref" {
                    if let Some(s) = x.as_str() {
                        out.push((at.to_string(), s));
                    }
                } else {
                    refs(x, &format!("{at}/{k}"), out);
                }
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                refs(x, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn every_operation_is_described_completely() {
    let mut problems = Vec::new();
    for (svc, doc) in documents() {
        let paths = doc["paths"].as_object().unwrap_or_else(|| panic!("{svc}: no paths"));
        assert!(!paths.is_empty(), "{svc}: no paths");
        let mut ids = HashSet::new();
        for (path, item) in paths {
            let in_path: Vec<&str> = path.split('{').skip(1).filter_map(|s| s.split('}').next()).collect();
            for method in METHODS {
                let Some(op) = item.get(method) else { continue };
                let at = format!("{svc} {} {path}", method.to_uppercase());
                match op["operationId"].as_str() {
                    Some(id) if ids.insert(id.to_string()) => {}
                    Some(id) => problems.push(format!("{at}: operationId {id} is not unique")),
                    None => problems.push(format!("{at}: no operationId")),
                }
                if op["summary"].as_str().is_none_or(str::is_empty) {
                    problems.push(format!("{at}: no summary"));
                }
                if op["tags"].as_array().is_none_or(Vec::is_empty) {
                    problems.push(format!("{at}: no tag"));
                }
                let responses = op["responses"].as_object().map(|r| r.keys().cloned().collect::<Vec<_>>());
                match responses {
                    // this document itself, served from memory, never fails
                    Some(_) if path == "/openapi.json" => {}
                    Some(r) if r.iter().any(|s| s.starts_with('4')) => {}
                    _ => problems.push(format!("{at}: the error envelope is not described")),
                }
                let params: Vec<&Value> =
                    op["parameters"].as_array().into_iter().chain(item["parameters"].as_array()).flatten().collect();
                for name in &in_path {
                    let described = params.iter().any(|p| p["in"] == "path" && p["name"] == *name);
                    if !described {
                        problems.push(format!("{at}: path parameter {name} not described"));
                    }
                }
            }
        }
        let mut found = Vec::new();
        refs(&doc, "", &mut found);
        for (at, r) in found {
            let target = r.strip_prefix("#/").map(|p| p.split('/').fold(&doc, |v, k| &v[k]));
            if target.is_none_or(Value::is_null) {
                problems.push(format!("{svc}{at}: dangling $ref {r}"));
            }
        }
    }
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
}

/// Routes are registered only from their `#[utoipa::path]` (the `routes!`
/// macro), so a route cannot exist without its description.
#[test]
fn no_route_is_registered_by_hand() {
    let mut found = Vec::new();
    let mut stack = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src/api")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or_default();
                if [".route(", "web::resource(", "web::scope(", ".service("].iter().any(|p| code.contains(p)) {
                    found.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                }
            }
        }
    }
    assert!(found.is_empty(), "routes registered outside routes!:\n{}", found.join("\n"));
}

/// `api-ref/openapi/` and `api-ref/reference/` are what
/// `ironbark openapi --out api-ref` writes from this code.
#[test]
fn api_ref_is_generated_from_the_code() {
    let out = tempfile::tempdir().unwrap();
    let written = ironbark::api::write_reference(out.path()).unwrap();
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("api-ref");
    let mut stale = Vec::new();
    for path in written {
        let rel = path.strip_prefix(out.path()).unwrap();
        let want = std::fs::read_to_string(&path).unwrap();
        if std::fs::read_to_string(committed.join(rel)).ok().as_deref() != Some(want.as_str()) {
            stale.push(rel.display().to_string());
        }
    }
    assert!(stale.is_empty(), "api-ref/ is stale ({}): run `cargo run -- openapi --out api-ref`", stale.join(", "));
}
