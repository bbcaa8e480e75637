//! API microversions (`X-OpenStack-<Service>-API-Version: 1.38`, or the
//! standard `OpenStack-API-Version: <service-type> 1.38`).

use std::fmt;
use std::rc::Rc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header::HeaderMap;
use actix_web::{Error, HttpMessage, HttpRequest, HttpResponse};
use futures_util::future::{LocalBoxFuture, Ready, ready};

/// `major.minor`; ordered, so ranges compare naturally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    pub major: u16,
    pub minor: u16,
}

impl Version {
    pub const fn new(major: u16, minor: u16) -> Version {
        Version { major, minor }
    }

    /// Parses `1.38` (not `latest`).
    pub fn parse(s: &str) -> Option<Version> {
        let (a, b) = s.trim().split_once('.')?;
        if a.is_empty()
            || b.is_empty()
            || !a.bytes().all(|c| c.is_ascii_digit())
            || !b.bytes().all(|c| c.is_ascii_digit())
        {
            return None;
        }
        Some(Version { major: a.parse().ok()?, minor: b.parse().ok()? })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// What the request asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requested {
    /// No header: the service's default (usually its minimum).
    Absent,
    Latest,
    Exact(Version),
    /// A header whose value is not a version.
    Invalid(String),
}

/// Why a requested version cannot be served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionError {
    Invalid(String),
    /// Same major, minor out of range.
    Unsupported(Version),
    /// Another major version.
    WrongMajor(Version),
}

/// The versions one service offers.
#[derive(Debug, Clone, Copy)]
pub struct Range {
    pub min: Version,
    pub max: Version,
    /// `OpenStack-API-Version` service type, e.g. `baremetal`.
    pub service_type: &'static str,
    /// Legacy header, e.g. `X-OpenStack-Ironic-API-Version`.
    pub legacy_header: &'static str,
}

impl Range {
    /// Reads the request's version headers; the standard header wins, and
    /// only its entry for this service counts.
    pub fn requested(&self, req: &HttpRequest) -> Requested {
        let headers = req.headers();
        for v in headers.get_all("openstack-api-version") {
            let Ok(v) = v.to_str() else { continue };
            for part in v.split(',') {
                let mut it = part.split_whitespace();
                if it.next().is_some_and(|t| t.eq_ignore_ascii_case(self.service_type)) {
                    return classify(it.next().unwrap_or(""));
                }
            }
        }
        match headers.get(self.legacy_header) {
            Some(v) => match v.to_str() {
                Ok(v) => classify(v),
                Err(_) => Requested::Invalid(String::from_utf8_lossy(v.as_bytes()).into()),
            },
            None => Requested::Absent,
        }
    }

    /// Resolves a request to one version, `absent` being the default.
    pub fn negotiate(&self, requested: &Requested, absent: Version) -> Result<Version, VersionError> {
        let v = match requested {
            Requested::Absent => return Ok(absent),
            Requested::Latest => return Ok(self.max),
            Requested::Invalid(s) => return Err(VersionError::Invalid(s.clone())),
            Requested::Exact(v) => *v,
        };
        if v.major != self.min.major {
            return Err(VersionError::WrongMajor(v));
        }
        if v < self.min || v > self.max {
            return Err(VersionError::Unsupported(v));
        }
        Ok(v)
    }
}

/// How one service negotiates microversions: what it offers, what a request
/// without a header gets, how it refuses, and what it stamps on responses.
pub struct Negotiation {
    pub range: Range,
    /// The version of a request that names none.
    pub absent: Version,
    /// The whole answer to a request whose version cannot be served.
    pub refuse: fn(VersionError) -> HttpResponse,
    /// Headers added to every served response, given the negotiated version.
    pub stamp: fn(&mut HeaderMap, Version),
    /// Runs on a request once its version is known (e.g. path rewriting).
    pub prepare: Option<fn(&mut ServiceRequest)>,
}

/// The negotiated microversion of a request, kept in its extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated(pub Version);

/// The version the middleware settled on, or `default` outside it.
pub fn negotiated(req: &HttpRequest, default: Version) -> Version {
    req.extensions().get::<Negotiated>().map_or(default, |n| n.0)
}

/// Middleware: resolves each request's microversion with one service's
/// [`Negotiation`], answering its refusal when the version cannot be served,
/// and stamping its headers on every response that got through.
#[derive(Clone, Copy)]
pub struct Microversions(pub &'static Negotiation);

impl<S, B> Transform<S, ServiceRequest> for Microversions
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = MicroversionService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(MicroversionService { service: Rc::new(service), n: self.0 }))
    }
}

pub struct MicroversionService<S> {
    service: Rc<S>,
    n: &'static Negotiation,
}

impl<S, B> Service<ServiceRequest> for MicroversionService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, mut req: ServiceRequest) -> Self::Future {
        let n = self.n;
        let version = match n.range.negotiate(&n.range.requested(req.request()), n.absent) {
            Ok(v) => v,
            Err(e) => {
                let res = req.into_response((n.refuse)(e)).map_into_right_body();
                return Box::pin(async move { Ok(res) });
            }
        };
        req.extensions_mut().insert(Negotiated(version));
        if let Some(prepare) = n.prepare {
            prepare(&mut req);
        }
        let service = self.service.clone();
        Box::pin(async move {
            let mut res = service.call(req).await?;
            (n.stamp)(res.headers_mut(), version);
            Ok(res.map_into_left_body())
        })
    }
}

fn classify(v: &str) -> Requested {
    let v = v.trim();
    if v.eq_ignore_ascii_case("latest") {
        return Requested::Latest;
    }
    match Version::parse(v) {
        Some(ver) => Requested::Exact(ver),
        None => Requested::Invalid(v.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    const R: Range = Range {
        min: Version::new(1, 1),
        max: Version::new(1, 115),
        service_type: "baremetal",
        legacy_header: "x-openstack-ironic-api-version",
    };

    #[test]
    fn parses_and_orders() {
        assert_eq!(Version::parse("1.38"), Some(Version::new(1, 38)));
        assert!(Version::new(1, 9) < Version::new(1, 10));
        for bad in ["", "1", "1.", ".1", "1.x", "a.b", "1.2.3", "-1.2"] {
            assert_eq!(Version::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn headers_and_negotiation() {
        let req = TestRequest::default().to_http_request();
        assert_eq!(R.negotiate(&R.requested(&req), R.min), Ok(Version::new(1, 1)));
        let req = TestRequest::default().insert_header(("X-OpenStack-Ironic-API-Version", "latest")).to_http_request();
        assert_eq!(R.negotiate(&R.requested(&req), R.min), Ok(R.max));
        let req = TestRequest::default()
            .insert_header(("X-OpenStack-Ironic-API-Version", "1.20"))
            .insert_header(("OpenStack-API-Version", "compute 2.5, baremetal 1.38"))
            .to_http_request();
        assert_eq!(R.requested(&req), Requested::Exact(Version::new(1, 38)));
        let req = TestRequest::default().insert_header(("OpenStack-API-Version", "compute 2.5")).to_http_request();
        assert_eq!(R.requested(&req), Requested::Absent);
        for (h, want) in [
            ("1.200", VersionError::Unsupported(Version::new(1, 200))),
            ("1.0", VersionError::Unsupported(Version::new(1, 0))),
            ("2.0", VersionError::WrongMajor(Version::new(2, 0))),
            ("foo", VersionError::Invalid("foo".into())),
        ] {
            let req = TestRequest::default().insert_header(("X-OpenStack-Ironic-API-Version", h)).to_http_request();
            assert_eq!(R.negotiate(&R.requested(&req), R.min), Err(want), "{h}");
        }
    }
}
