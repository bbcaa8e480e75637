//! `/ui/login` and `/ui/logout`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};
use serde::Deserialize;

use super::Console;
use super::error::UiError;
use super::session::{self, SYSTEM_COOKIE, TOKEN_COOKIE};
use super::views;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/login", web::get().to(form))
        .route("/login", web::post().to(submit))
        .route("/logout", web::post().to(logout));
}

#[derive(Deserialize)]
struct Next {
    next: Option<String>,
}

#[derive(Deserialize)]
struct Credentials {
    csrf: String,
    username: String,
    password: String,
    project: String,
    #[serde(default)]
    domain: String,
    #[serde(default)]
    next: String,
}

fn login_page(csrf: &str, user: &str, project: &str, domain: &str, next: &str, error: Option<&str>) -> Markup {
    views::bare(
        "Sign in",
        html! {
            @if let Some(e) = error { p.error role="alert" { (e) } }
            form.card method="post" action="/ui/login" {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="next" value=(next);
                label for="username" { "User name" }
                input id="username" name="username" autocomplete="username" required value=(user) autofocus;
                label for="password" { "Password" }
                input id="password" name="password" type="password" autocomplete="current-password" required;
                label for="project" { "Project" }
                input id="project" name="project" required value=(project);
                label for="domain" { "Domain" }
                input id="domain" name="domain" value=(domain);
                button.primary type="submit" { "Sign in" }
            }
        },
    )
}

async fn form(req: HttpRequest, q: web::Query<Next>) -> HttpResponse {
    let (csrf, new_cookie) = session::csrf_value(&req);
    let next = q.next.clone().unwrap_or_default();
    let mut res = views::ok(login_page(&csrf, "", "", "Default", &next, None));
    if let Some(c) = new_cookie {
        let _ = res.add_cookie(&c);
    }
    res
}

async fn submit(
    req: HttpRequest,
    console: web::Data<Console>,
    f: web::Form<Credentials>,
) -> Result<HttpResponse, UiError> {
    session::check_csrf(&req, &f.csrf)?;
    let domain = if f.domain.trim().is_empty() { "Default" } else { f.domain.trim() };
    match session::sign_in(&console, f.username.trim(), &f.password, f.project.trim(), domain).await {
        Ok(tokens) => {
            let target = if f.next.starts_with("/ui/") && !f.next.starts_with("/ui/login") {
                f.next.clone()
            } else {
                "/ui/servers".to_string()
            };
            let mut res = HttpResponse::SeeOther().insert_header(("Location", target)).finish();
            for c in session::session_cookies(tokens, &req) {
                res.add_cookie(&c).map_err(|e| UiError::BadRequest(e.to_string()))?;
            }
            Ok(res)
        }
        Err(e) => {
            let (status, message) = match e.status {
                401 => {
                    (StatusCode::UNAUTHORIZED, "The user name, password, project or domain is not right.".to_string())
                }
                s if s < 500 => (StatusCode::from_u16(s).unwrap_or(StatusCode::BAD_REQUEST), e.message),
                _ => (StatusCode::BAD_GATEWAY, e.message),
            };
            Ok(views::html(status, login_page(&f.csrf, &f.username, &f.project, domain, &f.next, Some(&message))))
        }
    }
}

async fn logout(
    req: HttpRequest,
    console: web::Data<Console>,
    f: web::Form<session::CsrfForm>,
) -> Result<HttpResponse, UiError> {
    session::check_csrf(&req, &f.csrf)?;
    for name in [TOKEN_COOKIE, SYSTEM_COOKIE] {
        if let Some(c) = req.cookie(name).filter(|c| !c.value().is_empty()) {
            session::sign_out(&console, c.value()).await;
        }
    }
    let mut res = HttpResponse::SeeOther().insert_header(("Location", "/ui/login")).finish();
    for c in session::expired_cookies() {
        let _ = res.add_cookie(&c);
    }
    Ok(res)
}
