//! Headers every response carries: `x-openstack-request-id: req-<uuid>`
//! (plus any service-specific alias), and on a 401 the
//! `WWW-Authenticate: Keystone uri="…"` that tells clients where to log in.

use std::rc::Rc;

use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue, WWW_AUTHENTICATE};
use actix_web::{Error, HttpMessage};
use futures_util::future::{LocalBoxFuture, Ready, ready};

pub const HEADER: &str = "x-openstack-request-id";

/// The id of the current request, kept in the request extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

#[derive(Clone)]
pub struct CommonHeaders {
    extra_id_headers: &'static [&'static str],
    www_authenticate: Option<HeaderValue>,
}

impl CommonHeaders {
    /// `identity_url` is the public Keystone v3 URL named in 401 responses.
    pub fn new(identity_url: &str) -> Self {
        CommonHeaders {
            extra_id_headers: &[],
            www_authenticate: HeaderValue::from_str(&format!("Keystone uri=\"{identity_url}\"")).ok(),
        }
    }

    /// Also echo the request id under these header names.
    pub fn with_id_aliases(mut self, names: &'static [&'static str]) -> Self {
        self.extra_id_headers = names;
        self
    }
}

impl<S, B> Transform<S, ServiceRequest> for CommonHeaders
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Transform = CommonHeadersService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(CommonHeadersService { service, cfg: Rc::new(self.clone()) }))
    }
}

pub struct CommonHeadersService<S> {
    service: S,
    cfg: Rc<CommonHeaders>,
}

impl<S, B> Service<ServiceRequest> for CommonHeadersService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let id = format!("req-{}", uuid::Uuid::new_v4());
        req.extensions_mut().insert(RequestId(id.clone()));
        let cfg = self.cfg.clone();
        let fut = self.service.call(req);
        Box::pin(async move {
            let mut res = fut.await?;
            let unauthorized = res.status() == StatusCode::UNAUTHORIZED;
            let headers = res.headers_mut();
            if let Ok(v) = HeaderValue::from_str(&id) {
                headers.insert(HeaderName::from_static(HEADER), v.clone());
                for h in cfg.extra_id_headers {
                    headers.insert(HeaderName::from_static(h), v.clone());
                }
            }
            if unauthorized
                && !headers.contains_key(WWW_AUTHENTICATE)
                && let Some(v) = &cfg.www_authenticate
            {
                headers.insert(WWW_AUTHENTICATE, v.clone());
            }
            Ok(res)
        })
    }
}
