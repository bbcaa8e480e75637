//! A read-only Contrail VNC API (contrail-api, port 8082) presenting the
//! network service's networks, subnets, ports and bare-metal bindings as
//! the objects a Contrail fabric holds, so that Contrail tooling
//! (`vnc_api`) can read them. The fabric view is an operator's view:
//! every request needs the admin role. With `contrail.api_url` set, the
//! same objects are also pushed to an external contrail-api
//! ([`crate::reporters::contrail::push`]).

mod error;
pub mod openapi;
mod routes;

use std::sync::Arc;

use actix_web::web;

pub use error::{ContrailError, text_errors};

use crate::common::auth::Auth;
use crate::config::{Config, ServiceKind};
use crate::storage::Storage;

/// The caller, or Contrail's plain-text 401.
pub type Caller = Auth<ContrailError>;

pub struct ContrailState {
    /// The configured public URL; `None` = the URL the client used, as
    /// contrail-api answers (vnc_api strips this root from every link).
    pub public_url: Option<String>,
    pub storage: Storage,
    /// Whether changes are pushed to an external contrail-api.
    pub push_enabled: bool,
    /// This API's OpenAPI document, served at `/openapi.json`.
    pub openapi: web::Data<crate::common::openapi::Document>,
}

impl ContrailState {
    pub fn new(cfg: &Config, storage: Storage) -> ContrailState {
        let public_url =
            cfg.contrail_public_url.as_ref().filter(|u| !u.is_empty()).map(|_| cfg.public_url(ServiceKind::Contrail));
        ContrailState {
            public_url,
            storage,
            push_enabled: cfg.contrail.push_url().is_some(),
            openapi: web::Data::new(crate::common::openapi::Document::new(&openapi::document(
                &cfg.public_url(ServiceKind::Contrail),
            ))),
        }
    }
}

pub fn configure(cfg: &mut web::ServiceConfig, state: Arc<ContrailState>) {
    crate::common::openapi::serve_document(cfg, &state.openapi);
    cfg.app_data(web::Data::from(state));
    openapi::routes().register(cfg);
}
