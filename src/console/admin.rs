//! The administrator's pages: the fleet (filterable, with counts per
//! state), enrolment by form or inventory file, node actions and the
//! lifecycle timeline, flavors and images.
//!
//! The pages are shown to users with the admin role only; the actions are
//! not checked here at all but sent to the APIs, whose policy decides, so a
//! member posting to these endpoints gets the API's own refusal.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::Console;
use super::client::{ApiError, Service};
use super::error::UiError;
use super::session::{self, Session};
use super::views::{self, Nav, badge, csrf, mib};

mod images;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin", web::get().to(|| async { see_other("/ui/admin/nodes") }))
        .route("/admin/nodes", web::get().to(fleet))
        .route("/admin/nodes", web::post().to(enrol))
        .route("/admin/nodes/rows", web::get().to(fleet_rows))
        .route("/admin/nodes/new", web::get().to(enrol_form))
        .route("/admin/nodes/bulk", web::post().to(enrol_bulk))
        .route("/admin/nodes/{id}", web::get().to(node_page))
        .route("/admin/nodes/{id}/live", web::get().to(node_live))
        .route("/admin/nodes/{id}/action", web::post().to(node_action))
        .route("/admin/flavors", web::get().to(flavors))
        .route("/admin/flavors", web::post().to(flavor_create))
        .route("/admin/flavors/{id}/delete", web::post().to(flavor_delete))
        .configure(images::routes);
}

fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header(("Location", to.to_string())).finish()
}

/// The signed-in administrator, or 403 for anyone else.
async fn admin(req: &HttpRequest, console: &Console) -> Result<Session, UiError> {
    let s = session::current(req, console).await?;
    if !s.is_admin() {
        return Err(UiError::Forbidden(format!(
            "The fleet pages are for administrators; {} has no admin role in {}.",
            s.user_name, s.project_name
        )));
    }
    Ok(s)
}

fn str_of<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or_default()
}

// ---- the fleet --------------------------------------------------------------

#[derive(Deserialize, Default, Clone)]
struct Filter {
    #[serde(default)]
    provision_state: String,
    #[serde(default)]
    maintenance: String,
    #[serde(default)]
    owner: String,
    #[serde(default)]
    resource_class: String,
    #[serde(default)]
    marker: String,
}

impl Filter {
    /// The bare-metal API query for one page of this filter.
    fn query(&self) -> String {
        let mut q = vec![(
            "fields",
            "uuid,name,provision_state,target_provision_state,power_state,maintenance,maintenance_reason,owner,resource_class,last_error,driver".to_string(),
        ), ("limit", "100".to_string())];
        for (k, v) in [
            ("provision_state", &self.provision_state),
            ("maintenance", &self.maintenance),
            ("owner", &self.owner),
            ("resource_class", &self.resource_class),
            ("marker", &self.marker),
        ] {
            if !v.is_empty() {
                q.push((k, v.clone()));
            }
        }
        serde_urlencoded::to_string(q).unwrap_or_default()
    }

    fn ui_query(&self, marker: Option<&str>) -> String {
        let mut q: Vec<(&str, &str)> = vec![];
        for (k, v) in [
            ("provision_state", &self.provision_state),
            ("maintenance", &self.maintenance),
            ("owner", &self.owner),
            ("resource_class", &self.resource_class),
        ] {
            if !v.is_empty() {
                q.push((k, v));
            }
        }
        if let Some(m) = marker {
            q.push(("marker", m));
        }
        serde_urlencoded::to_string(q).unwrap_or_default()
    }
}

/// Nodes per provision state, over every page of the fleet.
async fn counts(s: &Session) -> Result<(BTreeMap<String, usize>, usize), ApiError> {
    let mut by_state = BTreeMap::new();
    let mut maintenance = 0;
    let mut path = "/nodes?fields=uuid,provision_state,maintenance&limit=1000".to_string();
    // bounded: a fleet page must not walk an unbounded table
    for _ in 0..100 {
        let v = s.cloud.get(Service::Baremetal, &path).await?;
        for n in v["nodes"].as_array().into_iter().flatten() {
            *by_state.entry(str_of(n, "provision_state").to_string()).or_insert(0) += 1;
            if n["maintenance"] == json!(true) {
                maintenance += 1;
            }
        }
        match v["next"].as_str().and_then(|n| n.split_once("/v1").map(|(_, p)| p.to_string())) {
            Some(p) => path = p,
            None => break,
        }
    }
    Ok((by_state, maintenance))
}

async fn fleet(req: HttpRequest, console: web::Data<Console>, f: web::Query<Filter>) -> Result<HttpResponse, UiError> {
    let s = admin(&req, &console).await?;
    let ((by_state, in_maintenance), rows) = futures_util::try_join!(counts(&s), node_rows(&s, &f))?;
    let total: usize = by_state.values().sum();
    let chip = |label: &str, n: usize, q: String, on: bool| {
        html! { a.chip href={"/ui/admin/nodes?" (q)} aria-current=[on.then_some("true")] { (label) " " strong { (n) } } }
    };
    Ok(views::ok(views::page(
        &s,
        Nav::Fleet,
        "Fleet",
        None,
        html! {
            nav.counts aria-label="Nodes per state" {
                (chip("all", total, String::new(), f.provision_state.is_empty() && f.maintenance.is_empty()))
                @for (st, n) in &by_state {
                    (chip(st, *n, format!("provision_state={}", views::url_encode(st)), f.provision_state == *st))
                }
                (chip("maintenance", in_maintenance, "maintenance=true".into(), f.maintenance == "true"))
            }
            form.filters method="get" action="/ui/admin/nodes" {
                div { label for="f-state" { "Provision state" }
                    input id="f-state" name="provision_state" value=(f.provision_state) list="states"; }
                datalist id="states" { @for st in by_state.keys() { option value=(st) {} } }
                div { label for="f-maint" { "Maintenance" }
                    select id="f-maint" name="maintenance" {
                        option value="" selected[f.maintenance.is_empty()] { "any" }
                        option value="true" selected[f.maintenance == "true"] { "yes" }
                        option value="false" selected[f.maintenance == "false"] { "no" }
                    } }
                div { label for="f-owner" { "Owner" } input id="f-owner" name="owner" value=(f.owner); }
                div { label for="f-rc" { "Resource class" } input id="f-rc" name="resource_class" value=(f.resource_class); }
                button type="submit" { "Filter" }
                a.button.primary href="/ui/admin/nodes/new" { "Enrol nodes" }
            }
            table.list {
                caption { (total) " nodes" }
                thead { tr {
                    th scope="col" { "Node" } th scope="col" { "Provision state" } th scope="col" { "Power" }
                    th scope="col" { "Maintenance" } th scope="col" { "Owner" } th scope="col" { "Class" } th scope="col" { "Last error" }
                } }
                tbody id="nodes" data-poll={"/ui/admin/nodes/rows?" (f.ui_query(None))} aria-live="polite" { (rows) }
            }
        },
    )))
}

async fn fleet_rows(
    req: HttpRequest,
    console: web::Data<Console>,
    f: web::Query<Filter>,
) -> Result<HttpResponse, UiError> {
    let s = admin(&req, &console).await?;
    Ok(views::ok(node_rows(&s, &f).await?))
}

async fn node_rows(s: &Session, f: &Filter) -> Result<Markup, ApiError> {
    let v = s.cloud.get(Service::Baremetal, &format!("/nodes?{}", f.query())).await?;
    let nodes = v["nodes"].as_array().cloned().unwrap_or_default();
    let next = v["next"].as_str().and_then(|_| nodes.last()).map(|n| str_of(n, "uuid").to_string());
    Ok(html! {
        @if nodes.is_empty() { tr { td colspan="7" { "No node matches." } } }
        @for n in &nodes {
            @let id = str_of(n, "uuid");
            @let target = str_of(n, "target_provision_state");
            tr data-node=(id) data-state=(str_of(n, "provision_state")) {
                th scope="row" { a href={"/ui/admin/nodes/" (id)} { (n["name"].as_str().unwrap_or(id)) } br; span.muted.mono { (id) } }
                td { (badge(str_of(n, "provision_state"))) @if !target.is_empty() { " → " (target) } }
                td { (n["power_state"].as_str().unwrap_or("unknown")) }
                td { @if n["maintenance"] == json!(true) { (badge("maintenance")) " " (str_of(n, "maintenance_reason")) } @else { "no" } }
                td.mono { (str_of(n, "owner")) }
                td { (str_of(n, "resource_class")) }
                td.error { (str_of(n, "last_error")) }
            }
        }
        @if let Some(m) = next {
            tr { td colspan="7" { a href={"/ui/admin/nodes?" (f.ui_query(Some(&m)))} { "Next page" } } }
        }
    })
}

// ---- enrolment --------------------------------------------------------------

/// The hardware types the bare-metal API serves.
async fn driver_names(s: &Session) -> Result<Vec<String>, ApiError> {
    let drivers = s.cloud.get(Service::Baremetal, "/drivers").await?;
    Ok(drivers["drivers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d["name"].as_str().map(str::to_string))
        .collect())
}

async fn enrol_form(req: HttpRequest, console: web::Data<Console>) -> Result<HttpResponse, UiError> {
    let s = admin(&req, &console).await?;
    let names = driver_names(&s).await?;
    Ok(views::ok(enrol_page(&s, &names, &Enrol::default(), None)))
}

fn enrol_page(s: &Session, drivers: &[String], e: &Enrol, error: Option<&str>) -> Markup {
    let field = |id: &str, label: &str, value: &str, kind: &str| {
        html! { div { label for=(id) { (label) } input id=(id) name=(id) type=(kind) value=(value); } }
    };
    views::page(
        s,
        Nav::Fleet,
        "Enrol nodes",
        None,
        html! {
            @if let Some(e) = error { p.error role="alert" { (e) } }
            section {
                h2 { "One node" }
                form.grid method="post" action="/ui/admin/nodes" {
                    (csrf(s))
                    (field("name", "Name", &e.name, "text"))
                    div { label for="driver" { "Hardware type" }
                        select id="driver" name="driver" required {
                            @for d in drivers { option value=(d) selected[*d == e.driver] { (d) } }
                        } }
                    (field("resource_class", "Resource class", &e.resource_class, "text"))
                    (field("bmc_address", "BMC address (redfish: URL, ipmi: host)", &e.bmc_address, "text"))
                    (field("bmc_username", "BMC user", &e.bmc_username, "text"))
                    (field("bmc_password", "BMC password", "", "password"))
                    (field("redfish_system_id", "Redfish system id", &e.redfish_system_id, "text"))
                    (field("cpus", "CPUs", &e.cpus, "number"))
                    (field("memory_mb", "RAM (MiB)", &e.memory_mb, "number"))
                    (field("local_gb", "Disk (GiB)", &e.local_gb, "number"))
                    div.wide { label for="macs" { "MAC addresses of its NICs (one per line)" }
                        textarea id="macs" name="macs" rows="3" { (e.macs) } }
                    div.wide { button.primary type="submit" { "Enrol" } }
                }
            }
            section {
                h2 { "Many nodes from an inventory" }
                p { "JSON or YAML: " code { "{\"nodes\": [{\"name\": …, \"driver\": …, \"driver_info\": {…}, \"properties\": {…}, \"ports\": [{\"address\": …}]}]}" } ", as for " code { "openstack baremetal create" } "." }
                form method="post" action="/ui/admin/nodes/bulk" {
                    (csrf(s))
                    label for="inventory-file" { "Inventory file" }
                    input id="inventory-file" type="file" accept=".json,.yaml,.yml,application/json" data-fill="inventory";
                    label for="inventory" { "Inventory" }
                    textarea id="inventory" name="inventory" rows="10" required {}
                    button.primary type="submit" { "Enrol all" }
                }
            }
        },
    )
}

#[derive(Deserialize, Default)]
struct Enrol {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    driver: String,
    #[serde(default)]
    resource_class: String,
    #[serde(default)]
    bmc_address: String,
    #[serde(default)]
    bmc_username: String,
    #[serde(default)]
    bmc_password: String,
    #[serde(default)]
    redfish_system_id: String,
    #[serde(default)]
    cpus: String,
    #[serde(default)]
    memory_mb: String,
    #[serde(default)]
    local_gb: String,
    #[serde(default)]
    macs: String,
}

impl Enrol {
    /// The node body and MACs the form describes, or what is wrong with it.
    fn to_node(&self) -> Result<(Value, Vec<String>), String> {
        let mut node = Map::new();
        node.insert("driver".into(), json!(self.driver));
        for (k, v) in [("name", &self.name), ("resource_class", &self.resource_class)] {
            if !v.trim().is_empty() {
                node.insert(k.into(), json!(v.trim()));
            }
        }
        let mut info = Map::new();
        let prefix = match self.driver.as_str() {
            "redfish" => Some("redfish"),
            "ipmi" => Some("ipmi"),
            _ => None,
        };
        if let Some(p) = prefix {
            for (k, v) in
                [("address", &self.bmc_address), ("username", &self.bmc_username), ("password", &self.bmc_password)]
            {
                if !v.trim().is_empty() {
                    info.insert(format!("{p}_{k}"), json!(v.trim()));
                }
            }
            if p == "redfish" && !self.redfish_system_id.trim().is_empty() {
                info.insert("redfish_system_id".into(), json!(self.redfish_system_id.trim()));
            }
        }
        if !info.is_empty() {
            node.insert("driver_info".into(), Value::Object(info));
        }
        let mut props = Map::new();
        for (k, v) in [("cpus", &self.cpus), ("memory_mb", &self.memory_mb), ("local_gb", &self.local_gb)] {
            if v.trim().is_empty() {
                continue;
            }
            let n: u64 = v.trim().parse().map_err(|_| format!("{k} must be a whole number, not {v:?}."))?;
            props.insert(k.into(), json!(n));
        }
        if !props.is_empty() {
            node.insert("properties".into(), Value::Object(props));
        }
        let macs = self.macs.split_whitespace().map(str::to_string).collect();
        Ok((Value::Object(node), macs))
    }
}

/// Creates a node, then its ports; the node's UUID, or the first refusal.
async fn create_node(s: &Session, node: &Value, ports: &[Value]) -> Result<String, ApiError> {
    let created = s.cloud.call(Service::Baremetal, Method::POST, "/nodes", Some(node)).await?;
    let id = str_of(&created, "uuid").to_string();
    for p in ports {
        let mut p = p.clone();
        if let Some(o) = p.as_object_mut() {
            o.insert("node_uuid".into(), json!(id));
        }
        s.cloud.call(Service::Baremetal, Method::POST, "/ports", Some(&p)).await.map_err(|e| ApiError {
            status: e.status,
            message: format!("node {id} was enrolled, but its port {} was refused: {}", p["address"], e.message),
        })?;
    }
    Ok(id)
}

async fn enrol(req: HttpRequest, console: web::Data<Console>, f: web::Form<Enrol>) -> Result<HttpResponse, UiError> {
    let s = session::posted(&req, &console, &f.csrf).await?;
    let (node, macs) = f.to_node().map_err(UiError::BadRequest)?;
    let ports: Vec<Value> = macs.iter().map(|m| json!({"address": m})).collect();
    match create_node(&s, &node, &ports).await {
        Ok(id) => Ok(see_other(&format!("/ui/admin/nodes/{id}?enrolled=1"))),
        Err(e) if e.status == 400 || e.status == 409 => {
            let names = driver_names(&s).await?;
            let status =
                actix_web::http::StatusCode::from_u16(e.status).unwrap_or(actix_web::http::StatusCode::BAD_REQUEST);
            Ok(views::html(status, enrol_page(&s, &names, &f, Some(&e.message))))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct Bulk {
    csrf: String,
    inventory: String,
}

/// The nodes of an inventory document (JSON is YAML too): `{"nodes": […]}`
/// or a bare list.
fn parse_inventory(text: &str) -> Result<Vec<Value>, String> {
    let doc: Value = serde_yaml_ng::from_str(text).map_err(|e| format!("The inventory is not JSON or YAML: {e}"))?;
    let nodes = match doc {
        Value::Array(a) => a,
        Value::Object(mut o) => match o.remove("nodes") {
            Some(Value::Array(a)) => a,
            _ => return Err("The inventory has no \"nodes\" list.".into()),
        },
        _ => return Err("The inventory must be a list of nodes or an object with a \"nodes\" list.".into()),
    };
    if nodes.is_empty() {
        return Err("The inventory lists no node.".into());
    }
    if nodes.len() > 1000 {
        return Err(format!("The inventory lists {} nodes; enrol at most 1000 at a time.", nodes.len()));
    }
    Ok(nodes)
}

async fn enrol_bulk(
    req: HttpRequest,
    console: web::Data<Console>,
    f: web::Form<Bulk>,
) -> Result<HttpResponse, UiError> {
    let s = session::posted(&req, &console, &f.csrf).await?;
    let nodes = parse_inventory(&f.inventory).map_err(UiError::BadRequest)?;
    let mut results = Vec::new();
    for (i, n) in nodes.into_iter().enumerate() {
        let Value::Object(mut n) = n else {
            results.push((format!("#{}", i + 1), Err(format!("entry {} is not an object", i + 1))));
            continue;
        };
        let ports = match n.remove("ports") {
            Some(Value::Array(p)) => p,
            Some(_) => {
                results.push((format!("#{}", i + 1), Err("\"ports\" must be a list".into())));
                continue;
            }
            None => vec![],
        };
        let label = n.get("name").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| format!("#{}", i + 1));
        let r = create_node(&s, &Value::Object(n), &ports).await;
        if let Err(e) = &r
            && (e.status == 401 || e.status == 403)
        {
            return Err(e.clone().into());
        }
        results.push((label, r.map_err(|e| e.message)));
    }
    let ok = results.iter().filter(|r| r.1.is_ok()).count();
    Ok(views::ok(views::page(
        &s,
        Nav::Fleet,
        "Inventory enrolled",
        Some(&format!("{ok} of {} nodes enrolled.", results.len())),
        html! {
            table.list {
                thead { tr { th scope="col" { "Node" } th scope="col" { "Result" } } }
                tbody {
                    @for (label, r) in &results {
                        tr {
                            th scope="row" { (label) }
                            @match r {
                                Ok(id) => td { a href={"/ui/admin/nodes/" (id)} { "enrolled as " (id) } },
                                Err(e) => td.error { (e) },
                            }
                        }
                    }
                }
            }
            p { a.button href="/ui/admin/nodes" { "Back to the fleet" } }
        },
    )))
}

// ---- one node ---------------------------------------------------------------

/// The provision actions that make sense from a state.
fn actions_for(state: &str) -> &'static [(&'static str, &'static str)] {
    match state {
        "enroll" => &[("manage", "Manage")],
        "manageable" => &[("provide", "Provide"), ("inspect", "Inspect")],
        "available" => &[("manage", "Manage")],
        "inspect failed" | "clean failed" => &[("manage", "Manage")],
        "inspect wait" | "clean wait" | "deploy wait" | "wait call-back" => &[("abort", "Abort")],
        _ => &[],
    }
}

#[derive(Deserialize)]
struct Enrolled {
    enrolled: Option<String>,
    done: Option<String>,
}

async fn node_page(
    req: HttpRequest,
    console: web::Data<Console>,
    id: web::Path<String>,
    q: web::Query<Enrolled>,
) -> Result<HttpResponse, UiError> {
    let s = admin(&req, &console).await?;
    let node = s.cloud.get(Service::Baremetal, &format!("/nodes/{id}")).await?;
    let ports = s.cloud.get(Service::Baremetal, &format!("/nodes/{id}/ports?detail=True")).await?;
    let live = node_live_block(&s, &node).await?;
    let name = node["name"].as_str().unwrap_or(&id).to_string();
    let notice = if q.enrolled.is_some() {
        Some("Enrolled. Manage it to check its BMC, then provide it to make it available.".to_string())
    } else {
        q.done.as_ref().map(|d| format!("Asked: {d}."))
    };
    let kv = |k: &str, v: Value| {
        html! { dt { (k) } dd { @match v { Value::String(s) => (s), Value::Null => "—", v => (v.to_string()) } } }
    };
    Ok(views::ok(views::page(
        &s,
        Nav::Fleet,
        &format!("Node {name}"),
        notice.as_deref(),
        html! {
            div id="node-live" data-poll={"/ui/admin/nodes/" (id) "/live"} aria-live="polite" { (live) }
            section {
                h2 { "Hardware" }
                dl.kv {
                    (kv("UUID", node["uuid"].clone()))
                    (kv("Hardware type", node["driver"].clone()))
                    (kv("Resource class", node["resource_class"].clone()))
                    (kv("Owner", node["owner"].clone()))
                    (kv("Lessee", node["lessee"].clone()))
                    (kv("Instance", node["instance_uuid"].clone()))
                    (kv("CPUs", node["properties"]["cpus"].clone()))
                    (kv("RAM", node["properties"]["memory_mb"].as_i64().map(|m| json!(mib(m))).unwrap_or(Value::Null)))
                    (kv("Disk (GiB)", node["properties"]["local_gb"].clone()))
                    (kv("BMC", node["driver_info"].as_object().map(|o| {
                        json!(o.iter().filter(|(k, _)| k.ends_with("_address")).map(|(_, v)| v.as_str().unwrap_or_default().to_string()).collect::<Vec<_>>().join(" "))
                    }).unwrap_or(Value::Null)))
                }
                h3 { "Ports" }
                ul { @for p in ports["ports"].as_array().into_iter().flatten() {
                    li.mono { (str_of(p, "address")) " " span.muted { (p["local_link_connection"]["switch_info"].as_str().unwrap_or_default()) " " (p["local_link_connection"]["port_id"].as_str().unwrap_or_default()) } }
                } }
            }
        },
    )))
}

async fn node_live(
    req: HttpRequest,
    console: web::Data<Console>,
    id: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let s = admin(&req, &console).await?;
    let node = s.cloud.get(Service::Baremetal, &format!("/nodes/{id}")).await?;
    Ok(views::ok(node_live_block(&s, &node).await?))
}

/// State, actions and the timeline: the part of a node page that refreshes.
async fn node_live_block(s: &Session, node: &Value) -> Result<Markup, ApiError> {
    let id = str_of(node, "uuid");
    let history = s.cloud.get(Service::Baremetal, &format!("/nodes/{id}/history?detail=True")).await?;
    let mut events = history["history"].as_array().cloned().unwrap_or_default();
    events.reverse();
    let state = str_of(node, "provision_state");
    let target = str_of(node, "target_provision_state");
    let maintenance = node["maintenance"] == json!(true);
    let power = node["power_state"].as_str().unwrap_or("unknown");
    let action = |verb: &str, label: &str, extra: Markup| {
        html! {
            form.inline method="post" action={"/ui/admin/nodes/" (id) "/action"} {
                (csrf(s))
                input type="hidden" name="verb" value=(verb);
                (extra)
                button type="submit" { (label) }
            }
        }
    };
    Ok(html! {
        div.state data-state=(state) {
            p { "Provision state " (badge(state)) @if !target.is_empty() { " → " (target) } }
            p { "Power " (badge(power)) @if maintenance { " " (badge("maintenance")) " " (str_of(node, "maintenance_reason")) } }
            @if let Some(e) = node["last_error"].as_str() { p.error role="alert" { (e) } }
        }
        div.actions aria-label="Actions" {
            @for (verb, label) in actions_for(state) { (action(verb, label, html!{})) }
            @if maintenance {
                (action("maintenance_off", "End maintenance", html!{}))
            } @else {
                (action("maintenance_on", "Maintenance", html! {
                    label.sr for="reason" { "Reason" }
                    input id="reason" name="reason" placeholder="reason";
                }))
            }
            @if power == "power on" { (action("power_off", "Power off", html!{})) } @else { (action("power_on", "Power on", html!{})) }
        }
        section {
            h2 { "Timeline" }
            @if events.is_empty() { p.muted { "No event yet." } }
            ol.timeline {
                @for e in &events {
                    li class={"sev-" (str_of(e, "severity").to_ascii_lowercase())} {
                        time datetime=(str_of(e, "created_at")) { (views::when(str_of(e, "created_at"))) }
                        " " span.muted { (str_of(e, "event_type")) }
                        @if let Some(st) = e["state"].as_str() { " " (badge(st)) }
                        @if let Some(d) = e["duration_seconds"].as_f64() { " " span.muted { (format!("{d:.1} s")) } }
                        p { (str_of(e, "event")) }
                    }
                }
            }
        }
    })
}

#[derive(Deserialize)]
struct Action {
    csrf: String,
    verb: String,
    #[serde(default)]
    reason: String,
}

async fn node_action(
    req: HttpRequest,
    console: web::Data<Console>,
    id: web::Path<String>,
    f: web::Form<Action>,
) -> Result<HttpResponse, UiError> {
    let s = session::posted(&req, &console, &f.csrf).await?;
    let (method, path, body) = match f.verb.as_str() {
        v @ ("manage" | "provide" | "inspect" | "abort") => {
            (Method::PUT, format!("/nodes/{id}/states/provision"), Some(json!({"target": v})))
        }
        "power_on" => (Method::PUT, format!("/nodes/{id}/states/power"), Some(json!({"target": "power on"}))),
        "power_off" => (Method::PUT, format!("/nodes/{id}/states/power"), Some(json!({"target": "power off"}))),
        "maintenance_on" => {
            let reason = f.reason.trim();
            let body = if reason.is_empty() { json!({}) } else { json!({"reason": reason}) };
            (Method::PUT, format!("/nodes/{id}/maintenance"), Some(body))
        }
        "maintenance_off" => (Method::DELETE, format!("/nodes/{id}/maintenance"), None),
        other => return Err(UiError::BadRequest(format!("{other:?} is not a node action."))),
    };
    s.cloud.call(Service::Baremetal, method, &path, body.as_ref()).await?;
    Ok(see_other(&format!("/ui/admin/nodes/{id}?done={}", views::url_encode(&f.verb.replace('_', " ")))))
}

// ---- flavors ----------------------------------------------------------------

async fn flavors(req: HttpRequest, console: web::Data<Console>) -> Result<HttpResponse, UiError> {
    let s = admin(&req, &console).await?;
    Ok(views::ok(flavors_page(&s, None).await?))
}

async fn flavors_page(s: &Session, error: Option<&str>) -> Result<Markup, ApiError> {
    let v = s.cloud.get(Service::Compute, "/flavors/detail?is_public=None").await?;
    let list = v["flavors"].as_array().cloned().unwrap_or_default();
    Ok(views::page(
        s,
        Nav::Flavors,
        "Flavors",
        None,
        html! {
            @if let Some(e) = error { p.error role="alert" { (e) } }
            table.list {
                thead { tr { th scope="col" { "Name" } th scope="col" { "CPUs" } th scope="col" { "RAM" } th scope="col" { "Disk" }
                    th scope="col" { "Resources" } th scope="col" { "Public" } th scope="col" { span.sr { "Actions" } } } }
                tbody {
                    @for f in &list {
                        @let id = str_of(f, "id");
                        tr {
                            th scope="row" { (str_of(f, "name")) }
                            td { (f["vcpus"]) } td { (mib(f["ram"].as_i64().unwrap_or(0))) } td { (f["disk"]) " GB" }
                            td.mono { @for (k, v) in f["extra_specs"].as_object().into_iter().flatten() { (k) "=" (v.as_str().unwrap_or_default()) br; } }
                            td { @if f["os-flavor-access:is_public"] == json!(false) { "no" } @else { "yes" } }
                            td { form.inline method="post" action={"/ui/admin/flavors/" (id) "/delete"} {
                                (csrf(s)) button.danger type="submit" aria-label={"Delete flavor " (str_of(f, "name"))} { "Delete" } } }
                        }
                    }
                }
            }
            section {
                h2 { "New bare-metal flavor" }
                form.grid method="post" action="/ui/admin/flavors" {
                    (csrf(s))
                    div { label for="fl-name" { "Name" } input id="fl-name" name="name" required; }
                    div { label for="fl-rc" { "Node resource class" } input id="fl-rc" name="resource_class" required placeholder="baremetal-gold"; }
                    div { label for="fl-cpu" { "CPUs" } input id="fl-cpu" name="vcpus" type="number" min="1" value="1" required; }
                    div { label for="fl-ram" { "RAM (MiB)" } input id="fl-ram" name="ram" type="number" min="1" value="1024" required; }
                    div { label for="fl-disk" { "Disk (GB)" } input id="fl-disk" name="disk" type="number" min="0" value="10" required; }
                    div.wide { button.primary type="submit" { "Create flavor" } }
                }
            }
        },
    ))
}

#[derive(Deserialize)]
struct NewFlavor {
    csrf: String,
    name: String,
    resource_class: String,
    vcpus: String,
    ram: String,
    disk: String,
}

/// Placement's name of a node resource class: `baremetal-gold` →
/// `CUSTOM_BAREMETAL_GOLD`.
fn custom_class(rc: &str) -> String {
    let up: String =
        rc.trim().chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect();
    format!("CUSTOM_{up}")
}

async fn flavor_create(
    req: HttpRequest,
    console: web::Data<Console>,
    f: web::Form<NewFlavor>,
) -> Result<HttpResponse, UiError> {
    let s = session::posted(&req, &console, &f.csrf).await?;
    let num = |k: &str, v: &str| {
        v.trim().parse::<u64>().map_err(|_| UiError::BadRequest(format!("{k} must be a whole number.")))
    };
    let body = json!({"flavor": {"name": f.name.trim(), "vcpus": num("CPUs", &f.vcpus)?, "ram": num("RAM", &f.ram)?, "disk": num("Disk", &f.disk)?}});
    let created = match s.cloud.call(Service::Compute, Method::POST, "/flavors", Some(&body)).await {
        Ok(c) => c,
        Err(e) if e.status == 400 || e.status == 409 => {
            return Ok(views::html(
                actix_web::http::StatusCode::from_u16(e.status).unwrap_or(actix_web::http::StatusCode::BAD_REQUEST),
                flavors_page(&s, Some(&e.message)).await?,
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let id = created["flavor"]["id"].as_str().unwrap_or_default().to_string();
    // A bare-metal flavor asks for one whole node of the class and none of
    // the virtual resources.
    let specs = json!({"extra_specs": {
        format!("resources:{}", custom_class(&f.resource_class)): "1",
        "resources:VCPU": "0", "resources:MEMORY_MB": "0", "resources:DISK_GB": "0",
    }});
    s.cloud.call(Service::Compute, Method::POST, &format!("/flavors/{id}/os-extra_specs"), Some(&specs)).await?;
    Ok(see_other("/ui/admin/flavors"))
}

async fn flavor_delete(
    req: HttpRequest,
    console: web::Data<Console>,
    id: web::Path<String>,
    f: web::Form<session::CsrfForm>,
) -> Result<HttpResponse, UiError> {
    let s = session::posted(&req, &console, &f.csrf).await?;
    s.cloud.call(Service::Compute, Method::DELETE, &format!("/flavors/{id}"), None).await?;
    Ok(see_other("/ui/admin/flavors"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inventories_in_json_and_yaml() {
        let j = parse_inventory(
            r#"{"nodes": [{"name": "a", "driver": "fake-hardware", "ports": [{"address": "52:54:00:00:00:01"}]}]}"#,
        )
        .unwrap();
        assert_eq!(j[0]["ports"][0]["address"], "52:54:00:00:00:01");
        let y =
            parse_inventory("nodes:\n  - name: b\n    driver: ipmi\n    driver_info:\n      ipmi_address: 10.0.0.5\n")
                .unwrap();
        assert_eq!(y[0]["driver_info"]["ipmi_address"], "10.0.0.5");
        let bare = parse_inventory("- name: c\n  driver: fake-hardware\n").unwrap();
        assert_eq!(bare[0]["name"], "c");
        assert!(parse_inventory("nodes: 3").is_err());
        assert!(parse_inventory("[]").is_err());
        assert!(parse_inventory("{").is_err());
    }

    #[test]
    fn enrol_form_to_node() {
        let e = Enrol {
            driver: "ipmi".into(),
            name: "rack1-u3".into(),
            bmc_address: "10.0.0.9".into(),
            bmc_password: "pw".into(),
            cpus: "8".into(),
            macs: "52:54:00:00:00:01\n52:54:00:00:00:02".into(),
            ..Default::default()
        };
        let (n, macs) = e.to_node().unwrap();
        assert_eq!(n["driver_info"], json!({"ipmi_address": "10.0.0.9", "ipmi_password": "pw"}));
        assert_eq!(n["properties"], json!({"cpus": 8}));
        assert_eq!(macs.len(), 2);
        let bad = Enrol { driver: "fake-hardware".into(), cpus: "eight".into(), ..Default::default() };
        assert!(bad.to_node().is_err());
        assert_eq!(custom_class("baremetal-gold"), "CUSTOM_BAREMETAL_GOLD");
    }
}
