//! Address arithmetic for subnets: CIDRs, gateways, allocation pools.

use std::net::IpAddr;

use serde_json::{Value, json};

use super::error::{NeutronError, Result};
pub use crate::engine::ipam::Cidr;
use crate::engine::ipam::{CidrError, to_u128};
use crate::storage::network::Pool;

pub fn parse_ip(s: &str) -> Result<IpAddr> {
    s.parse().map_err(|_| NeutronError::invalid(format!("'{s}' is not a valid IP address")))
}

impl From<CidrError> for NeutronError {
    fn from(e: CidrError) -> Self {
        NeutronError::invalid(e.0)
    }
}

/// Reads and checks `allocation_pools` against the subnet and its gateway.
pub fn parse_pools(v: &Value, cidr: &Cidr, gateway: Option<IpAddr>) -> Result<Vec<Pool>> {
    let list = v.as_array().ok_or_else(|| NeutronError::invalid("allocation_pools must be a list"))?;
    let mut pools: Vec<Pool> = Vec::with_capacity(list.len());
    for p in list {
        let (Some(start), Some(end)) = (p.get("start").and_then(Value::as_str), p.get("end").and_then(Value::as_str))
        else {
            return Err(NeutronError::invalid(format!("Invalid data format for IP pool: '{p}'")));
        };
        let (start, end) = (parse_ip(start)?, parse_ip(end)?);
        if !cidr.is_host(start) || !cidr.is_host(end) || to_u128(start) > to_u128(end) {
            return Err(NeutronError::BadRequest(
                "InvalidAllocationPool",
                format!("The allocation pool {start}-{end} spans beyond the subnet cidr {cidr}."),
            ));
        }
        let pool = Pool { start, end };
        if let Some(o) = pools.iter().find(|o| to_u128(o.start) <= to_u128(end) && to_u128(start) <= to_u128(o.end)) {
            return Err(NeutronError::BadRequest(
                "OverlappingAllocationPools",
                format!(
                    "Found overlapping allocation pools: {}-{} and {start}-{end} for subnet {cidr}.",
                    o.start, o.end
                ),
            ));
        }
        if let Some(g) = gateway
            && (to_u128(start)..=to_u128(end)).contains(&to_u128(g))
        {
            return Err(NeutronError::Conflict(
                "GatewayConflictWithAllocationPools",
                format!("Gateway ip {g} conflicts with allocation pool {start}-{end}."),
            ));
        }
        pools.push(pool);
    }
    Ok(pools)
}

pub fn pools_json(pools: &[Pool]) -> Value {
    Value::Array(pools.iter().map(|p| json!({"start": p.start.to_string(), "end": p.end.to_string()})).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_math() {
        let c = Cidr::parse("10.0.0.0/24").unwrap();
        assert_eq!(c.default_gateway().to_string(), "10.0.0.1");
        let pools = c.default_pools(Some(c.default_gateway()));
        assert_eq!((pools[0].start.to_string(), pools[0].end.to_string()), ("10.0.0.2".into(), "10.0.0.254".into()));
        assert!(Cidr::parse("10.0.0.1/24").is_err());
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        let g = "10.0.0.100".parse().unwrap();
        assert_eq!(c.default_pools(Some(g)).len(), 2);
        let v6 = Cidr::parse("2001:db8::/64").unwrap();
        assert_eq!(v6.default_gateway().to_string(), "2001:db8::1");
        assert!(v6.contains("2001:db8::ffff".parse().unwrap()));
        assert!(c.overlaps(&Cidr::parse("10.0.0.128/25").unwrap()));
        assert!(!c.overlaps(&Cidr::parse("10.0.1.0/24").unwrap()));
        let bad = json!([{"start": "10.0.0.1", "end": "10.0.0.10"}]);
        assert!(matches!(parse_pools(&bad, &c, Some(c.default_gateway())), Err(NeutronError::Conflict(..))));
        let outside = json!([{"start": "10.0.0.10", "end": "10.0.1.10"}]);
        assert!(parse_pools(&outside, &c, None).is_err());
    }
}
