//! The page frame, shared pieces and helpers for the console's templates.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use maud::{DOCTYPE, Markup, html};

use super::session::Session;

/// The console's sections, for the navigation bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Servers,
    Deploy,
    Fleet,
    Flavors,
    Images,
}

/// An HTML answer that no browser caches or frames.
pub fn html(status: StatusCode, body: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("X-Frame-Options", "DENY"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("Referrer-Policy", "same-origin"))
        .insert_header((
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
        ))
        .body(body.into_string())
}

pub fn ok(body: Markup) -> HttpResponse {
    html(StatusCode::OK, body)
}

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · ironbark" }
            link rel="stylesheet" href="/ui/static/console.css";
            script src="/ui/static/console.js" defer {}
        }
    }
}

/// A page of a signed-in user: navigation, sign-out, then the content.
pub fn page(s: &Session, active: Nav, title: &str, notice: Option<&str>, content: Markup) -> Markup {
    let item = |nav: Nav, href: &str, label: &str| {
        html! {
            li { a href=(href) aria-current=[(nav == active).then_some("page")] { (label) } }
        }
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/ui/" { "ironbark" }
                    nav aria-label="Sections" {
                        ul {
                            (item(Nav::Servers, "/ui/servers", "Servers"))
                            (item(Nav::Deploy, "/ui/deploy", "Deploy"))
                            @if s.is_admin() {
                                (item(Nav::Fleet, "/ui/admin/nodes", "Fleet"))
                                (item(Nav::Flavors, "/ui/admin/flavors", "Flavors"))
                                (item(Nav::Images, "/ui/admin/images", "Images"))
                            }
                        }
                    }
                    form.signout method="post" action="/ui/logout" {
                        (csrf(s))
                        span.who { (s.user_name) " · " (s.project_name) }
                        button type="submit" { "Sign out" }
                    }
                }
                main id="main" {
                    h1 { (title) }
                    @if let Some(n) = notice {
                        p.notice role="status" { (n) }
                    }
                    (content)
                }
            }
        }
    }
}

/// A page without navigation (sign-in, errors).
pub fn bare(title: &str, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body.bare {
                main id="main" {
                    p.brand { "ironbark" }
                    h1 { (title) }
                    (content)
                }
            }
        }
    }
}

pub fn error_page(status: u16, title: &str, message: &str) -> Markup {
    bare(
        title,
        html! {
            p.error role="alert" { (message) }
            p.muted { "HTTP " (status) }
            p { a href="/ui/" { "Back to the console" } }
        },
    )
}

/// The hidden CSRF field of every form.
pub fn csrf(s: &Session) -> Markup {
    html! { input type="hidden" name="csrf" value=(s.csrf); }
}

/// A state as a coloured badge: green when settled well, amber while
/// moving, red on failure.
pub fn badge(state: &str) -> Markup {
    let lower = state.to_ascii_lowercase();
    let kind = match lower.as_str() {
        "active" | "available" | "power on" | "manageable" => "good",
        s if s.contains("fail") || s.contains("error") => "bad",
        "enroll" | "shutoff" | "power off" | "deleted" | "maintenance" => "idle",
        _ => "busy",
    };
    html! { span class={"badge " (kind)} { (state) } }
}

pub fn url_encode(s: &str) -> String {
    serde_urlencoded::to_string([("", s)]).map(|e| e[1..].to_string()).unwrap_or_default()
}

/// A size in MiB for people.
/// An API timestamp (`2026-12-04T19:26:47.061064+00:00`, `…Z`) as a
/// reader wants it: `2026-12-04 19:26:47`.
pub fn when(ts: &str) -> String {
    let end = ts.find(['.', '+', 'Z']).unwrap_or(ts.len());
    ts[..end].replacen('T', " ", 1)
}

pub fn mib(m: i64) -> String {
    if m >= 1024 && m % 1024 == 0 { format!("{} GiB", m / 1024) } else { format!("{m} MiB") }
}

pub fn bytes(b: i64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 { format!("{b} B") } else { format!("{v:.1} {}", UNITS[u]) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_read_to_the_second() {
        assert_eq!(when("2026-12-04T19:26:47.061064+00:00"), "2026-12-04 19:26:47");
        assert_eq!(when("2026-12-04T19:26:42Z"), "2026-12-04 19:26:42");
        assert_eq!(when(""), "");
    }

    #[test]
    fn sizes_and_encoding() {
        assert_eq!(mib(2048), "2 GiB");
        assert_eq!(mib(1500), "1500 MiB");
        assert_eq!(bytes(10), "10 B");
        assert_eq!(bytes(3 * 1024 * 1024), "3.0 MiB");
        assert_eq!(url_encode("/ui/servers?a=b c"), "%2Fui%2Fservers%3Fa%3Db+c");
    }
}
