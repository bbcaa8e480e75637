//! API microversions (`X-OpenStack-<Service>-API-Version: 1.38`, or the
//! standard `OpenStack-API-Version: <service-type> 1.38`).

use std::fmt;

use actix_web::HttpRequest;

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
