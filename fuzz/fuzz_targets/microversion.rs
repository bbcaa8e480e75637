//! Microversion headers, as the bare-metal and compute middlewares read
//! them (`Range::requested`, `Range::negotiate`, then the service's refusal
//! or its response headers).
//!
//! Input: header lines, `Name: value`; a line without a colon is sent as
//! both services' legacy header (`X-OpenStack-Ironic-API-Version`,
//! `X-OpenStack-Nova-API-Version`).
//!
//! Checks: no panic; an exact version round-trips through Display and
//! `Version::parse`; a negotiated version is within the service's range; a
//! refusal is a 4xx; and the headers stamped on a response, sent back as a
//! request, ask for exactly the version negotiated.
#![no_main]

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::test::TestRequest;
use ironbark::common::microversion::{Negotiation, Requested, Version};
use libfuzzer_sys::fuzz_target;

const LEGACY: [&str; 2] = ["x-openstack-ironic-api-version", "x-openstack-nova-api-version"];

fn headers(data: &[u8]) -> Vec<(HeaderName, HeaderValue)> {
    let mut out = Vec::new();
    for line in data.split(|b| *b == b'\n') {
        let (names, value): (Vec<&[u8]>, &[u8]) = match line.iter().position(|b| *b == b':') {
            Some(i) => (vec![line[..i].trim_ascii()], &line[i + 1..]),
            None => (LEGACY.iter().map(|n| n.as_bytes()).collect(), line),
        };
        let Ok(value) = HeaderValue::from_bytes(value.trim_ascii()) else { continue };
        for n in names {
            if let Ok(name) = HeaderName::from_bytes(n) {
                out.push((name, value.clone()));
            }
        }
    }
    out
}

fn check(n: &Negotiation, sent: &[(HeaderName, HeaderValue)]) {
    let mut req = TestRequest::default();
    for h in sent {
        req = req.append_header(h.clone());
    }
    let requested = n.range.requested(&req.to_http_request());
    if let Requested::Exact(v) = &requested {
        assert_eq!(Version::parse(&v.to_string()), Some(*v), "{v} does not round-trip");
    }
    match n.range.negotiate(&requested, n.absent) {
        Ok(v) => {
            assert!(n.range.min <= v && v <= n.range.max, "{v} negotiated out of range ({requested:?})");
            let mut stamped = HeaderMap::new();
            (n.stamp)(&mut stamped, v);
            let mut back = TestRequest::default();
            for (k, val) in stamped.iter() {
                back = back.append_header((k.clone(), val.clone()));
            }
            assert_eq!(n.range.requested(&back.to_http_request()), Requested::Exact(v), "stamped {stamped:?}");
        }
        Err(e) => {
            let res = (n.refuse)(e.clone());
            assert!(res.status().is_client_error(), "{e:?} refused with {}", res.status());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let sent = headers(data);
    for (_, v) in &sent {
        if let Some(p) = v.to_str().ok().and_then(Version::parse) {
            assert_eq!(Version::parse(&p.to_string()), Some(p));
        }
    }
    check(ironbark::api::baremetal::MICROVERSIONS.0, &sent);
    check(ironbark::api::compute::MICROVERSIONS.0, &sent);
});
