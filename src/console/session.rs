//! Signing in and out, the session cookie and CSRF protection.
//!
//! The session is the user's own Keystone token, kept in an HttpOnly,
//! SameSite=Strict cookie scoped to `/ui`; it is validated against the
//! identity API on every page, so a revoked or expired token ends the
//! session at once. Every form carries a CSRF value that must equal a second
//! cookie (double submit), and a cross-site `Origin` is refused outright.
//!
//! A user with a role on the system also gets a system-scoped token at
//! sign-in (a rescope of the project token, kept in a second cookie): the
//! bare-metal API lists the whole fleet only to system readers, while
//! flavors, images and servers stay with the project token.

use std::collections::HashMap;

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieAge};
use actix_web::http::header;
use serde_json::{Value, json};

use super::Console;
use super::client::{ApiError, Cloud, answer};
use super::error::UiError;

pub const TOKEN_COOKIE: &str = "ironbark_session";
pub const SYSTEM_COOKIE: &str = "ironbark_system";
pub const CSRF_COOKIE: &str = "ironbark_csrf";
const PATH: &str = "/ui";

/// A signed-in user, as the identity API describes the token.
#[derive(Debug, Clone)]
pub struct Session {
    pub cloud: Cloud,
    pub user_name: String,
    pub project_id: String,
    pub project_name: String,
    pub roles: Vec<String>,
    /// The CSRF value every form of this browser must carry.
    pub csrf: String,
}

impl Session {
    /// Administrators see the fleet pages; what they may do there is still
    /// decided by the APIs.
    pub fn is_admin(&self) -> bool {
        self.cloud.system_token.is_some() || self.roles.iter().any(|r| r == "admin")
    }
}

/// The CSRF value of this browser, or a new one (with the cookie to set).
pub fn csrf_value(req: &HttpRequest) -> (String, Option<Cookie<'static>>) {
    if let Some(c) = req.cookie(CSRF_COOKIE).filter(|c| c.value().len() == 64) {
        return (c.value().to_string(), None);
    }
    use rand::RngCore;
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    let v: String = b.iter().map(|x| format!("{x:02x}")).collect();
    (v.clone(), Some(cookie(CSRF_COOKIE, v, req)))
}

fn cookie(name: &'static str, value: String, req: &HttpRequest) -> Cookie<'static> {
    let mut c = Cookie::build(name, value).path(PATH).http_only(true).same_site(SameSite::Strict).finish();
    if req.connection_info().scheme() == "https" {
        c.set_secure(true);
    }
    c
}

/// The cookies of a new session.
pub fn session_cookies(tokens: Tokens, req: &HttpRequest) -> Vec<Cookie<'static>> {
    let mut cookies = vec![cookie(TOKEN_COOKIE, tokens.project, req)];
    if let Some(system) = tokens.system {
        cookies.push(cookie(SYSTEM_COOKIE, system, req));
    }
    cookies
}

/// Cookies that delete the session.
pub fn expired_cookies() -> Vec<Cookie<'static>> {
    [TOKEN_COOKIE, SYSTEM_COOKIE]
        .into_iter()
        .map(|n| {
            let mut c = Cookie::build(n, "").path(PATH).http_only(true).same_site(SameSite::Strict).finish();
            c.set_max_age(CookieAge::ZERO);
            c
        })
        .collect()
}

/// Refuses a form post that did not come from this console: the form's
/// `csrf` field must equal the browser's CSRF cookie, and an `Origin`
/// header, when the browser sends one, must be this host.
pub fn check_csrf(req: &HttpRequest, submitted: &str) -> Result<(), UiError> {
    if let Some(origin) = req.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let ci = req.connection_info();
        let expected = format!("{}://{}", ci.scheme(), ci.host());
        if origin != expected {
            return Err(UiError::Forbidden("This form was sent from another site.".into()));
        }
    }
    let cookie = req.cookie(CSRF_COOKIE).map(|c| c.value().to_string()).unwrap_or_default();
    if cookie.is_empty() || !constant_time_eq(cookie.as_bytes(), submitted.as_bytes()) {
        return Err(UiError::Forbidden(
            "The form has expired or did not come from this console; reload the page and try again.".into(),
        ));
    }
    Ok(())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A form that carries nothing but its CSRF value.
#[derive(serde::Deserialize)]
pub struct CsrfForm {
    pub csrf: String,
}

/// The signed-in user behind a posted form, after its CSRF check.
pub async fn posted(req: &HttpRequest, console: &Console, csrf: &str) -> Result<Session, UiError> {
    check_csrf(req, csrf)?;
    current(req, console).await
}

/// The signed-in user of a request, or a redirect to the login page.
pub async fn current(req: &HttpRequest, console: &Console) -> Result<Session, UiError> {
    let login = || UiError::Login(req.uri().path_and_query().map(|p| p.to_string()).unwrap_or_default());
    let token = req.cookie(TOKEN_COOKIE).map(|c| c.value().to_string()).filter(|t| !t.is_empty()).ok_or_else(login)?;
    let body = match validate(console, &token).await {
        Ok(b) => b,
        Err(e) if e.status == 401 || e.status == 404 => return Err(login()),
        Err(e) => return Err(UiError::Api(e)),
    };
    // a system token that no longer validates only takes the fleet away
    let system = match req.cookie(SYSTEM_COOKIE).map(|c| c.value().to_string()).filter(|t| !t.is_empty()) {
        Some(t) => match validate(console, &t).await {
            Ok(b) if b["token"]["system"]["all"] == json!(true) => Some(t),
            Ok(_) | Err(ApiError { status: 401 | 404, .. }) => None,
            Err(e) => return Err(UiError::Api(e)),
        },
        None => None,
    };
    let (csrf, _) = csrf_value(req);
    Ok(from_token(console, token, system, &body["token"], csrf))
}

/// A token's own call on itself: validate (GET) or revoke (DELETE).
async fn on_own_token(console: &Console, method: reqwest::Method, token: &str) -> Result<Value, ApiError> {
    let r = console
        .http
        .request(method, format!("{}/v3/auth/tokens", console.identity))
        .header("X-Auth-Token", token)
        .header("X-Subject-Token", token)
        .send()
        .await;
    answer(r).await
}

async fn validate(console: &Console, token: &str) -> Result<Value, ApiError> {
    on_own_token(console, reqwest::Method::GET, token).await
}

fn from_token(console: &Console, token: String, system_token: Option<String>, t: &Value, csrf: String) -> Session {
    let mut endpoints = HashMap::new();
    for svc in t["catalog"].as_array().into_iter().flatten() {
        let public = svc["endpoints"].as_array().into_iter().flatten().find(|e| e["interface"] == "public");
        if let (Some(ty), Some(url)) = (svc["type"].as_str(), public.and_then(|e| e["url"].as_str())) {
            endpoints.insert(ty.to_string(), url.to_string());
        }
    }
    Session {
        cloud: Cloud { http: console.http.clone(), token, system_token, endpoints },
        user_name: t["user"]["name"].as_str().unwrap_or_default().to_string(),
        project_id: t["project"]["id"].as_str().unwrap_or_default().to_string(),
        project_name: t["project"]["name"].as_str().unwrap_or_default().to_string(),
        roles: t["roles"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["name"].as_str().map(str::to_string))
            .collect(),
        csrf,
    }
}

/// The tokens of a session.
pub struct Tokens {
    pub project: String,
    pub system: Option<String>,
}

/// Password authentication scoped to a project, then, for a user with a
/// role on the system, a rescope of that token to the system.
pub async fn sign_in(
    console: &Console,
    user: &str,
    password: &str,
    project: &str,
    domain: &str,
) -> Result<Tokens, ApiError> {
    let project = issue(
        console,
        json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {"name": user, "domain": {"name": domain}, "password": password}}},
            "scope": {"project": {"name": project, "domain": {"name": domain}}},
        }}),
    )
    .await?;
    let r =
        console.http.get(format!("{}/v3/auth/system", console.identity)).header("X-Auth-Token", &project).send().await;
    let on_system = answer(r).await.is_ok_and(|b| b["system"].as_array().is_some_and(|s| !s.is_empty()));
    let system = if on_system {
        let rescope = json!({"auth": {
            "identity": {"methods": ["token"], "token": {"id": project}},
            "scope": {"system": {"all": true}},
        }});
        Some(issue(console, rescope).await?)
    } else {
        None
    };
    Ok(Tokens { project, system })
}

/// One token request: the token issued.
async fn issue(console: &Console, body: Value) -> Result<String, ApiError> {
    let r = console
        .http
        .post(format!("{}/v3/auth/tokens?nocatalog", console.identity))
        .json(&body)
        .send()
        .await
        .map_err(ApiError::unreachable)?;
    if r.status().is_success() {
        return r
            .headers()
            .get("X-Subject-Token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .ok_or_else(|| ApiError::unreachable("the identity service issued no token"));
    }
    answer(Ok(r)).await.map(|_| String::new())
}

/// Revokes the session's token.
pub async fn sign_out(console: &Console, token: &str) {
    if let Err(e) = on_own_token(console, reqwest::Method::DELETE, token).await {
        tracing::warn!(status = e.status, message = %e.message, "console sign-out: the token was not revoked");
    }
}
