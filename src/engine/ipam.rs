//! Address management shared by the network API and the instance build:
//! subnet arithmetic and the transactional allocation of fixed IPs.

use std::net::IpAddr;

use serde_json::Value;

use crate::storage::network::{self as db, IpAllocation, Pool, Subnet};
use crate::storage::{DbConn, StorageError, StorageResult};

/// Why a CIDR was refused (the message Neutron gives).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct CidrError(pub String);

/// A subnet's network: its first address and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub network: IpAddr,
    pub prefix: u8,
}

pub fn to_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u32::from(a) as u128,
        IpAddr::V6(a) => u128::from(a),
    }
}

fn from_u128(v: u128, v4: bool) -> IpAddr {
    if v4 { IpAddr::V4(std::net::Ipv4Addr::from(v as u32)) } else { IpAddr::V6(std::net::Ipv6Addr::from(v)) }
}

impl Cidr {
    /// Parses `a.b.c.d/n` or `x::/n`; host bits must be zero, as Neutron asks.
    pub fn parse(s: &str) -> Result<Cidr, CidrError> {
        let bad = || CidrError(format!("'{s}' is not a valid IP subnet"));
        let (addr, len) = s.split_once('/').ok_or_else(bad)?;
        let ip: IpAddr = addr.parse().map_err(|_| bad())?;
        let prefix: u8 = len.parse().map_err(|_| bad())?;
        let bits = if ip.is_ipv4() { 32 } else { 128 };
        if prefix > bits {
            return Err(bad());
        }
        let cidr = Cidr { network: from_u128(to_u128(ip) & mask(prefix, bits), ip.is_ipv4()), prefix };
        if cidr.network != ip {
            return Err(CidrError(format!("'{s}' isn't a recommended CIDR, it should be {}", cidr)));
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

/// A locally administered unicast MAC with OpenStack's usual prefix.
pub fn random_mac() -> String {
    let b: [u8; 3] = rand::random();
    format!("fa:16:3e:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2])
}

/// One requested fixed IP: a subnet, an address, or both.
#[derive(Debug, Clone)]
pub struct FixedIp {
    pub subnet: Option<String>,
    pub ip: Option<IpAddr>,
}

/// Why an address could not be given.
pub enum IpFailure {
    Exhausted(String),
    Taken(String),
    Invalid(String),
}

/// Allocates the requested addresses (or, with `None`, one per IP version
/// from the network's subnets) to `port`, inside the caller's transaction.
pub fn allocate(
    c: &mut DbConn,
    network: &str,
    port: &str,
    requested: Option<&[FixedIp]>,
) -> StorageResult<std::result::Result<(), IpFailure>> {
    let subnets = db::subnets_of(c, &[network.to_string()])?;
    let reserved = |s: &Subnet| -> Vec<IpAddr> { s.gateway_ip.iter().filter_map(|g| g.parse().ok()).collect() };
    let Some(requested) = requested else {
        for version in [4, 6] {
            let candidates: Vec<&Subnet> = subnets.iter().filter(|s| s.ip_version == version).collect();
            if candidates.is_empty() {
                continue;
            }
            let mut got = false;
            for s in candidates {
                let pools = pools_from_json(&s.allocation_pools);
                if db::allocate_next(c, &s.uuid, network, port, &pools, &reserved(s))?.is_some() {
                    got = true;
                    break;
                }
            }
            if !got {
                return Ok(Err(IpFailure::Exhausted(format!("No more IP addresses available on network {network}."))));
            }
        }
        return Ok(Ok(()));
    };
    for f in requested {
        let subnet = match (&f.subnet, f.ip) {
            (Some(id), _) => match subnets.iter().find(|s| &s.uuid == id) {
                Some(s) => s,
                None => {
                    return Ok(Err(IpFailure::Invalid(format!(
                        "Failed to create port on network {network}, because fixed_ips included invalid subnet {id}."
                    ))));
                }
            },
            (None, Some(ip)) => match subnets.iter().find(|s| Cidr::parse(&s.cidr).is_ok_and(|c| c.contains(ip))) {
                Some(s) => s,
                None => {
                    return Ok(Err(IpFailure::Invalid(format!(
                        "IP address {ip} is not a valid IP for any of the subnets on the specified network."
                    ))));
                }
            },
            (None, None) => unreachable!("checked when parsed"),
        };
        match f.ip {
            Some(ip) => {
                let cidr = Cidr::parse(&subnet.cidr).map_err(|e| StorageError::Database(e.0))?;
                if !cidr.is_host(ip) || subnet.gateway_ip.as_deref() == Some(ip.to_string().as_str()) {
                    return Ok(Err(IpFailure::Invalid(format!(
                        "IP address {ip} is not a valid IP for the specified subnet."
                    ))));
                }
                let a = IpAllocation {
                    subnet_uuid: subnet.uuid.clone(),
                    ip_address: ip.to_string(),
                    port_uuid: port.to_string(),
                    network_uuid: network.to_string(),
                };
                match db::allocate_exact(c, &a) {
                    Ok(()) => {}
                    Err(StorageError::Duplicate(_)) => {
                        return Ok(Err(IpFailure::Taken(format!(
                            "IP address {ip} already allocated in subnet {}",
                            subnet.uuid
                        ))));
                    }
                    Err(e) => return Err(e),
                }
            }
            None => {
                let pools = pools_from_json(&subnet.allocation_pools);
                if db::allocate_next(c, &subnet.uuid, network, port, &pools, &reserved(subnet))?.is_none() {
                    return Ok(Err(IpFailure::Exhausted(format!(
                        "No more IP addresses available for subnet {}.",
                        subnet.uuid
                    ))));
                }
            }
        }
    }
    Ok(Ok(()))
}

impl From<IpFailure> for StorageError {
    /// Leaves the transaction (rolling it back) with the Neutron reason.
    fn from(f: IpFailure) -> Self {
        match f {
            IpFailure::Exhausted(m) => StorageError::refused("IpAddressGenerationFailure", m),
            IpFailure::Taken(m) => StorageError::refused("IpAddressAlreadyAllocated", m),
            IpFailure::Invalid(m) => StorageError::refused("InvalidInput", m),
        }
    }
}
