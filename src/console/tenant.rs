//! The tenant's pages: the live server list, the one-page deploy and the
//! delete confirmation.

use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::Console;
use super::client::{ApiError, Service};
use super::error::UiError;
use super::session::{self, Session};
use super::views::{self, Nav, badge, csrf, mib};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/servers", web::get().to(list))
        .route("/servers/rows", web::get().to(rows))
        .route("/servers/{id}/delete", web::get().to(confirm_delete))
        .route("/servers/{id}/delete", web::post().to(delete))
        .route("/deploy", web::get().to(deploy_form))
        .route("/deploy", web::post().to(deploy));
}

/// The scheduler's refusal, in the tenant's words.
const NO_NODE: &str = "No free server of this flavor is available right now. Try another flavor, or ask your \
     provider to add servers.";

fn fault_words(message: &str) -> String {
    if message.starts_with("No valid host") { NO_NODE.to_string() } else { message.to_string() }
}

/// What a building server is doing, as a step out of four.
fn build_step(task: Option<&str>) -> (u8, &'static str) {
    match task {
        Some("scheduling") => (1, "Finding a free server"),
        Some("networking") => (2, "Attaching the network"),
        Some("block_device_mapping") => (2, "Preparing disks"),
        Some("spawning") => (3, "Writing the image and booting"),
        Some("deleting") => (3, "Deleting and cleaning"),
        _ => (1, "Starting"),
    }
}

#[derive(Deserialize)]
struct Notice {
    created: Option<String>,
    deleted: Option<String>,
}

async fn list(req: HttpRequest, console: web::Data<Console>, q: web::Query<Notice>) -> Result<HttpResponse, UiError> {
    let s = session::current(&req, &console).await?;
    let body = server_rows(&s).await?;
    let notice = match (&q.created, &q.deleted) {
        (Some(n), _) => Some(format!("Deploying {n}. It shows ACTIVE with its address when it is ready.")),
        (_, Some(n)) => Some(format!("Deleting {n}. Its machine is cleaned and goes back to the pool.")),
        _ => None,
    };
    Ok(views::ok(views::page(
        &s,
        Nav::Servers,
        "Servers",
        notice.as_deref(),
        html! {
            p { a.button.primary href="/ui/deploy" { "Deploy a server" } }
            table.list aria-describedby="servers-caption" {
                caption id="servers-caption" { "Bare-metal servers of project " (s.project_name) }
                thead { tr {
                    th scope="col" { "Name" } th scope="col" { "Status" } th scope="col" { "Progress" }
                    th scope="col" { "Flavor" } th scope="col" { "IP addresses" } th scope="col" { "Created" }
                    th scope="col" { span.sr { "Actions" } }
                } }
                tbody id="servers" data-poll="/ui/servers/rows" aria-live="polite" { (body) }
            }
        },
    )))
}

async fn rows(req: HttpRequest, console: web::Data<Console>) -> Result<HttpResponse, UiError> {
    let s = session::current(&req, &console).await?;
    Ok(views::ok(server_rows(&s).await?))
}

async fn server_rows(s: &Session) -> Result<Markup, UiError> {
    let v = s.cloud.get(Service::Compute, "/servers/detail").await?;
    let servers = v["servers"].as_array().cloned().unwrap_or_default();
    Ok(html! {
        @if servers.is_empty() {
            tr { td colspan="7" { "No servers yet. " a href="/ui/deploy" { "Deploy one" } "." } }
        }
        @for sv in &servers {
            (server_row(sv))
        }
    })
}

fn server_row(sv: &Value) -> Markup {
    let id = sv["id"].as_str().unwrap_or_default();
    let name = sv["name"].as_str().unwrap_or_default();
    let status = sv["status"].as_str().unwrap_or("UNKNOWN");
    let task = sv["OS-EXT-STS:task_state"].as_str();
    let addresses: Vec<String> = sv["addresses"]
        .as_object()
        .into_iter()
        .flatten()
        .flat_map(|(net, list)| {
            list.as_array()
                .into_iter()
                .flatten()
                .filter_map(move |a| a["addr"].as_str().map(|ip| format!("{ip} ({net})")))
        })
        .collect();
    let flavor = sv["flavor"]["original_name"].as_str().or(sv["flavor"]["id"].as_str()).unwrap_or_default();
    html! {
        tr data-server=(id) data-status=(status) {
            th scope="row" { (name) }
            td { (badge(status)) }
            td {
                @match status {
                    "BUILD" => {
                        @let (step, words) = build_step(task);
                        progress max="4" value=(step) aria-label={"Deploy of " (name)} {}
                        " " span { (words) }
                    }
                    "ACTIVE" => @if let Some(t) = task { (build_step(Some(t)).1) } @else { "Ready" },
                    "ERROR" => span.error { (fault_words(sv["fault"]["message"].as_str().unwrap_or("The deploy failed."))) },
                    _ => (task.unwrap_or("")),
                }
            }
            td { (flavor) }
            td.addresses { @for a in &addresses { span { (a) } br; } }
            td { time datetime=(sv["created"].as_str().unwrap_or_default()) { (views::when(sv["created"].as_str().unwrap_or_default())) } }
            td { @if task != Some("deleting") { a.button.danger href={"/ui/servers/" (id) "/delete"} aria-label={"Delete " (name)} { "Delete" } } }
        }
    }
}

async fn confirm_delete(
    req: HttpRequest,
    console: web::Data<Console>,
    id: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let s = session::current(&req, &console).await?;
    let sv = s.cloud.get(Service::Compute, &format!("/servers/{id}")).await?;
    let name = sv["server"]["name"].as_str().unwrap_or_default().to_string();
    Ok(views::ok(views::page(
        &s,
        Nav::Servers,
        &format!("Delete {name}?"),
        None,
        html! {
            p { "The server is powered off, its disks are erased and the machine returns to the free pool. This cannot be undone." }
            form method="post" action={"/ui/servers/" (id) "/delete"} {
                (csrf(&s))
                button.danger type="submit" { "Delete " (name) }
                " "
                a.button href="/ui/servers" { "Cancel" }
            }
        },
    )))
}

async fn delete(
    req: HttpRequest,
    console: web::Data<Console>,
    id: web::Path<String>,
    f: web::Form<session::CsrfForm>,
) -> Result<HttpResponse, UiError> {
    let s = session::posted(&req, &console, &f.csrf).await?;
    let sv = s.cloud.get(Service::Compute, &format!("/servers/{id}")).await?;
    let name = sv["server"]["name"].as_str().unwrap_or_default().to_string();
    s.cloud.call(Service::Compute, Method::DELETE, &format!("/servers/{id}"), None).await?;
    Ok(HttpResponse::SeeOther()
        .insert_header(("Location", format!("/ui/servers?deleted={}", views::url_encode(&name))))
        .finish())
}

/// What the deploy form offers.
struct Choices {
    flavors: Vec<Value>,
    images: Vec<Value>,
    networks: Vec<Value>,
    keys: Vec<String>,
}

async fn choices(s: &Session) -> Result<Choices, ApiError> {
    let (f, i, n, k) = futures_util::join!(
        s.cloud.get(Service::Compute, "/flavors/detail"),
        s.cloud.get(Service::Image, "/images?status=active&sort=name:asc"),
        s.cloud.get(Service::Network, "/networks"),
        s.cloud.get(Service::Compute, "/os-keypairs"),
    );
    let mut flavors = f?["flavors"].as_array().cloned().unwrap_or_default();
    flavors.sort_by_key(|f| (f["vcpus"].as_i64().unwrap_or(0), f["ram"].as_i64().unwrap_or(0)));
    let mut networks = n?["networks"].as_array().cloned().unwrap_or_default();
    // the project's own networks first, then shared ones
    let project = s.project_id.clone();
    networks
        .sort_by_key(|n| (n["project_id"].as_str() != Some(project.as_str()), n["name"].as_str().map(str::to_string)));
    Ok(Choices {
        flavors,
        images: i?["images"].as_array().cloned().unwrap_or_default(),
        networks,
        keys: k?["keypairs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|k| k["keypair"]["name"].as_str().map(str::to_string))
            .collect(),
    })
}

/// The bare-metal resource class a flavor asks for (`resources:CUSTOM_X=1`).
fn resource_class(f: &Value) -> Option<String> {
    f["extra_specs"].as_object()?.iter().find_map(|(k, v)| {
        let rc = k.strip_prefix("resources:CUSTOM_")?;
        (v.as_str() == Some("1")).then(|| rc.to_ascii_lowercase().replace('_', "-"))
    })
}

#[derive(Deserialize, Default)]
struct Deploy {
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    flavor: String,
    #[serde(default)]
    image: String,
    #[serde(default)]
    network: String,
    #[serde(default)]
    key: String,
}

fn deploy_page(s: &Session, c: &Choices, chosen: &Deploy, error: Option<&str>) -> Markup {
    let flavor = if chosen.flavor.is_empty() {
        c.flavors.first().and_then(|f| f["id"].as_str()).unwrap_or_default()
    } else {
        chosen.flavor.as_str()
    };
    let missing: Vec<&str> =
        [(c.flavors.is_empty(), "flavors"), (c.images.is_empty(), "images"), (c.networks.is_empty(), "networks")]
            .into_iter()
            .filter_map(|(empty, what)| empty.then_some(what))
            .collect();
    views::page(
        s,
        Nav::Deploy,
        "Deploy a bare-metal server",
        None,
        html! {
            @if let Some(e) = error { p.error role="alert" { (e) } }
            @if !missing.is_empty() {
                p.error role="alert" { "Nothing to deploy yet: this project sees no " (missing.join(", ")) "." }
            }
            form.deploy method="post" action="/ui/deploy" {
                (csrf(s))
                fieldset.flavors {
                    legend { "Flavor" }
                    @for f in &c.flavors {
                        @let id = f["id"].as_str().unwrap_or_default();
                        label.choice {
                            input type="radio" name="flavor" value=(id) checked[id == flavor] required;
                            span.choice-body {
                                strong { (f["name"].as_str().unwrap_or(id)) }
                                span { (f["vcpus"]) " CPUs · " (mib(f["ram"].as_i64().unwrap_or(0))) " RAM · " (f["disk"]) " GB disk" }
                                @if let Some(rc) = resource_class(f) { span.muted { "class " (rc) } }
                            }
                        }
                    }
                }
                div.row {
                    div {
                        label for="image" { "Image" }
                        select id="image" name="image" required {
                            @for i in &c.images {
                                @let id = i["id"].as_str().unwrap_or_default();
                                option value=(id) selected[id == chosen.image] {
                                    (i["name"].as_str().unwrap_or(id))
                                    @if let Some(sz) = i["size"].as_i64() { " (" (views::bytes(sz)) ")" }
                                }
                            }
                        }
                    }
                    div {
                        label for="network" { "Network" }
                        select id="network" name="network" required {
                            @for n in &c.networks {
                                @let id = n["id"].as_str().unwrap_or_default();
                                option value=(id) selected[id == chosen.network] {
                                    (n["name"].as_str().unwrap_or(id))
                                    @if n["shared"] == json!(true) { " (shared)" }
                                }
                            }
                        }
                    }
                    div {
                        label for="key" { "SSH key" }
                        select id="key" name="key" {
                            option value="" { "No key" }
                            @for (i, k) in c.keys.iter().enumerate() {
                                option value=(k) selected[*k == chosen.key || (chosen.key.is_empty() && i == 0)] { (k) }
                            }
                        }
                    }
                    div {
                        label for="name" { "Name " span.muted { "(optional)" } }
                        input id="name" name="name" value=(chosen.name) maxlength="255" placeholder="generated";
                    }
                }
                button.primary.big type="submit" disabled[!missing.is_empty()] { "Deploy" }
            }
        },
    )
}

async fn deploy_form(req: HttpRequest, console: web::Data<Console>) -> Result<HttpResponse, UiError> {
    let s = session::current(&req, &console).await?;
    let c = choices(&s).await?;
    Ok(views::ok(deploy_page(&s, &c, &Deploy::default(), None)))
}

async fn deploy(req: HttpRequest, console: web::Data<Console>, f: web::Form<Deploy>) -> Result<HttpResponse, UiError> {
    let s = session::posted(&req, &console, &f.csrf).await?;
    let name = if f.name.trim().is_empty() {
        use rand::Rng;
        format!("bms-{:04x}", rand::thread_rng().r#gen::<u16>())
    } else {
        f.name.trim().to_string()
    };
    let mut server =
        json!({"name": name, "flavorRef": f.flavor, "imageRef": f.image, "networks": [{"uuid": f.network}]});
    if !f.key.is_empty() {
        server["key_name"] = json!(f.key);
    }
    match s.cloud.call(Service::Compute, Method::POST, "/servers", Some(&json!({ "server": server }))).await {
        Ok(_) => Ok(HttpResponse::SeeOther()
            .insert_header(("Location", format!("/ui/servers?created={}", views::url_encode(&name))))
            .finish()),
        Err(e) if e.status < 500 && e.status != 401 => {
            let c = choices(&s).await?;
            let status =
                actix_web::http::StatusCode::from_u16(e.status).unwrap_or(actix_web::http::StatusCode::BAD_REQUEST);
            Ok(views::html(status, deploy_page(&s, &c, &f, Some(&fault_words(&e.message)))))
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flavor_resource_class_and_faults() {
        let f = json!({"extra_specs": {"resources:VCPU": "0", "resources:CUSTOM_BAREMETAL_GOLD": "1"}});
        assert_eq!(resource_class(&f).as_deref(), Some("baremetal-gold"));
        assert_eq!(resource_class(&json!({})), None);
        assert_eq!(fault_words("No valid host was found. There are not enough hosts available."), NO_NODE);
        assert_eq!(fault_words("disk full"), "disk full");
    }
}
