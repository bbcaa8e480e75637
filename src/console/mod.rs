//! The web console, served under `/ui` on the identity port: sign-in, a
//! one-page deploy and a live server list for tenants; the fleet, enrolment,
//! node actions and timelines, flavors and images for administrators.
//!
//! It holds no privilege of its own: every read and write is a call to
//! ironbark's public APIs with the signed-in user's Keystone token (see
//! [`client`]), so the console can never do what the API would refuse.
//! Pages are rendered on the server (maud); a small script refreshes the
//! live parts and is not needed for anything else.

mod admin;
mod assets;
pub mod client;
mod error;
mod login;
mod session;
mod tenant;
mod views;

use std::sync::Arc;
use std::time::Duration;

use actix_web::{HttpResponse, web};

/// What every console handler shares.
pub struct Console {
    /// The identity API root (no `/v3`), where tokens are issued and checked.
    identity: String,
    http: reqwest::Client,
}

impl Console {
    pub fn new(identity_root: &str) -> anyhow::Result<Console> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(600))
            .pool_idle_timeout(Duration::from_secs(30))
            .build()?;
        Ok(Console { identity: identity_root.trim_end_matches('/').to_string(), http })
    }
}

pub fn configure(cfg: &mut web::ServiceConfig, console: Arc<Console>) {
    cfg.service(
        web::scope("/ui")
            .app_data(web::Data::from(console))
            .app_data(web::FormConfig::default().limit(4 << 20))
            .route("", web::get().to(home))
            .route("/", web::get().to(home))
            .route("/static/{file}", web::get().to(assets::serve))
            .configure(login::routes)
            .configure(tenant::routes)
            .configure(admin::routes)
            .default_service(web::to(not_found))
            .wrap(actix_web::middleware::from_fn(redirects_are_not_errors)),
    );
}

/// "Sign in first" is a redirect, not a failure: it leaves the request log
/// as a plain 303 rather than an error.
async fn redirects_are_not_errors(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    let res = next.call(req).await?.map_into_boxed_body();
    if res.response().error().is_none() || !res.status().is_redirection() {
        return Ok(res);
    }
    let (req, old) = res.into_parts();
    let mut plain = HttpResponse::new(old.status());
    *plain.headers_mut() = old.headers().clone();
    Ok(actix_web::dev::ServiceResponse::new(req, plain.set_body(old.into_body())))
}

async fn home() -> HttpResponse {
    HttpResponse::SeeOther().insert_header(("Location", "/ui/servers")).finish()
}

async fn not_found() -> HttpResponse {
    use actix_web::ResponseError;
    error::UiError::NotFound("There is no such page in the console.".into()).error_response()
}
