//! Address arithmetic for subnets: CIDRs, gateways, allocation pools.

use std::net::IpAddr;

use serde_json::{Value, json};

use super::error::{NeutronError, Result};
use crate::storage::network::Pool;

/// A subnet's network: its first address and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub network: IpAddr,
    pub prefix: u8,
}

fn to_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u32::from(a) as u128,
        IpAddr::V6(a) => u128::from(a),
    }
}

fn from_u128(v: u128, v4: bool) -> IpAddr {
    if v4 { IpAddr::V4(std::net::Ipv4Addr::from(v as u32)) } else { IpAddr::V6(std::net::Ipv6Addr::from(v)) }
}

pub fn parse_ip(s: &str) -> Result<IpAddr> {
    s.parse().map_err(|_| NeutronError::invalid(format!("'{s}' is not a valid IP address")))
}

impl Cidr {
    /// Parses `a.b.c.d/n` or `x::/n`; host bits must be zero, as Neutron asks.
    pub fn parse(s: &str) -> Result<Cidr> {
        let bad = || NeutronError::invalid(format!("'{s}' is not a valid IP subnet"));
        let (addr, len) = s.split_once('/').ok_or_else(bad)?;
        let ip: IpAddr = addr.parse().map_err(|_| bad())?;
        let prefix: u8 = len.parse().map_err(|_| bad())?;
        let bits = if ip.is_ipv4() { 32 } else { 128 };
        if prefix > bits {
            return Err(bad());
        }
        let cidr = Cidr { network: from_u128(to_u128(ip) & mask(prefix, bits), ip.is_ipv4()), prefix };
        if cidr.network != ip {
            return Err(NeutronError::invalid(format!("'{s}' isn't a recommended CIDR, it should be {}", cidr)));
        }
        Ok(cidr)
    }

    pub fn is_v4(&self) -> bool {
        self.network.is_ipv4()
    }

    fn bits(&self) -> u8 {
        if self.is_v4() { 32 } else { 128 }
    }

    pub fn first(&self) -> u128 {
        to_u128(self.network)
    }

    pub fn last(&self) -> u128 {
        self.first() | !mask(self.prefix, self.bits()) & if self.is_v4() { u32::MAX as u128 } else { u128::MAX }
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        ip.is_ipv4() == self.is_v4() && (self.first()..=self.last()).contains(&to_u128(ip))
    }

    pub fn overlaps(&self, other: &Cidr) -> bool {
        self.is_v4() == other.is_v4() && self.first() <= other.last() && other.first() <= self.last()
    }

    /// The addresses hosts may use: all but the network address, and (IPv4)
    /// the broadcast address; a /31 or /32 (/127, /128) uses every address.
    pub fn host_range(&self) -> (u128, u128) {
        let (f, l) = (self.first(), self.last());
        if l - f < 2 {
            return (f, l);
        }
        if self.is_v4() { (f + 1, l - 1) } else { (f + 1, l) }
    }

    pub fn is_host(&self, ip: IpAddr) -> bool {
        let (f, l) = self.host_range();
        ip.is_ipv4() == self.is_v4() && (f..=l).contains(&to_u128(ip))
    }

    /// The default gateway: the first host address.
    pub fn default_gateway(&self) -> IpAddr {
        from_u128(self.host_range().0, self.is_v4())
    }

    /// The default pools: every host address except the gateway's.
    pub fn default_pools(&self, gateway: Option<IpAddr>) -> Vec<Pool> {
        let (f, l) = self.host_range();
        let v4 = self.is_v4();
        let mut pools = Vec::new();
        let mut push = |a: u128, b: u128| {
            if a <= b {
                pools.push(Pool { start: from_u128(a, v4), end: from_u128(b, v4) });
            }
        };
        match gateway.map(to_u128).filter(|g| (f..=l).contains(g)) {
            Some(g) => {
                if g > f {
                    push(f, g - 1);
                }
                if g < l {
                    push(g + 1, l);
                }
            }
            None => push(f, l),
        }
        pools
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

fn mask(prefix: u8, bits: u8) -> u128 {
    let full = if bits == 32 { u32::MAX as u128 } else { u128::MAX };
    if prefix == 0 { 0 } else { (full << (bits - prefix)) & full }
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

pub fn pools_from_json(s: &str) -> Vec<Pool> {
    let v: Value = serde_json::from_str(s).unwrap_or(Value::Null);
    v.as_array()
        .map(|l| {
            l.iter()
                .filter_map(|p| {
                    Some(Pool {
                        start: p.get("start")?.as_str()?.parse().ok()?,
                        end: p.get("end")?.as_str()?.parse().ok()?,
                    })
                })
                .collect()
        })
        .unwrap_or_default()
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
