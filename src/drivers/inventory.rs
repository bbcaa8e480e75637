//! A server's hardware inventory in the shape ironic-python-agent reports
//! it (and `GET /v1/nodes/{n}/inventory` returns), and what inspection
//! derives from it: the node's scheduling properties and its ports.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Inventory {
    pub cpu: Cpu,
    pub memory: Memory,
    pub disks: Vec<Disk>,
    pub interfaces: Vec<Interface>,
    pub system_vendor: SystemVendor,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bmc_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bmc_v6address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub boot: Option<Boot>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Boot {
    /// `uefi` or `bios`.
    pub current_boot_mode: Option<String>,
    /// MAC of the NIC the server network-booted from (or the pxelinux
    /// `01-aa-bb-…` form of it).
    pub pxe_interface: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Cpu {
    pub model_name: Option<String>,
    pub frequency: Option<String>,
    pub count: Option<u64>,
    pub architecture: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Memory {
    /// Bytes usable by the OS.
    pub total: Option<u64>,
    /// Installed memory, MiB.
    pub physical_mb: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Disk {
    pub name: String,
    pub model: String,
    /// Bytes.
    pub size: u64,
    pub rotational: bool,
    pub serial: Option<String>,
    pub vendor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Interface {
    pub name: String,
    pub mac_address: String,
    pub ipv4_address: Option<String>,
    /// The agent's default is true.
    pub has_carrier: bool,
    pub speed_mbps: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pxe_enabled: Option<bool>,
}

impl Default for Interface {
    fn default() -> Self {
        Interface {
            name: String::new(),
            mac_address: String::new(),
            ipv4_address: None,
            has_carrier: true,
            speed_mbps: None,
            pxe_enabled: None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SystemVendor {
    pub product_name: String,
    pub serial_number: String,
    pub manufacturer: String,
}

/// A MAC address in Ironic's form (lower case, colon separated), or `None`
/// when `s` is not one (or is all zeros, as some BMCs report absent NICs).
pub fn normal_mac(s: &str) -> Option<String> {
    let hex: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    let separators_ok = s.chars().all(|c| c.is_ascii_hexdigit() || matches!(c, ':' | '-' | '.'));
    if hex.len() != 12 || !separators_ok || hex.chars().all(|c| c == '0') {
        return None;
    }
    let lower = hex.to_ascii_lowercase();
    Some((0..6).map(|i| &lower[i * 2..i * 2 + 2]).collect::<Vec<_>>().join(":"))
}

const GIB: u64 = 1024 * 1024 * 1024;

impl Inventory {
    /// The scheduling properties inspection sets: `cpus`, `memory_mb`,
    /// `cpu_arch` and `local_gb` (the disk an agent would pick as root: the
    /// smallest of at least 4 GiB, in GiB, less one for the partition
    /// table), each only when known.
    pub fn properties(&self) -> Map<String, Value> {
        let mut p = Map::new();
        if let Some(n) = self.cpu.count.filter(|n| *n > 0) {
            p.insert("cpus".into(), n.into());
        }
        if let Some(a) = self.cpu.architecture.as_deref().filter(|a| !a.is_empty()) {
            p.insert("cpu_arch".into(), a.into());
        }
        let mb = self.memory.physical_mb.or(self.memory.total.map(|b| b / (1024 * 1024)));
        if let Some(mb) = mb.filter(|m| *m > 0) {
            p.insert("memory_mb".into(), mb.into());
        }
        if let Some(root) = self.disks.iter().map(|d| d.size).filter(|s| *s >= 4 * GIB).min() {
            p.insert("local_gb".into(), (root / GIB - 1).into());
        }
        p
    }

    /// The properties an inspection could not learn (for a warning).
    pub fn missing(&self) -> Vec<&'static str> {
        let have = self.properties();
        ["cpus", "memory_mb", "local_gb", "cpu_arch"].into_iter().filter(|k| !have.contains_key(*k)).collect()
    }

    pub fn boot_mode(&self) -> Option<&str> {
        self.boot.as_ref().and_then(|b| b.current_boot_mode.as_deref()).filter(|m| matches!(*m, "uefi" | "bios"))
    }

    /// The MAC the server booted from, when the inventory says.
    pub fn pxe_mac(&self) -> Option<String> {
        let raw = self.boot.as_ref()?.pxe_interface.as_deref()?;
        normal_mac(raw.strip_prefix("01-").unwrap_or(raw))
    }

    /// The MACs to enrol as ports: the boot NIC when the inventory names
    /// one of its interfaces, else the interfaces with a carrier (all of
    /// them when none reports one); in order, without duplicates.
    pub fn port_macs(&self) -> Vec<String> {
        if let Some(pxe) = self.pxe_mac()
            && self.interfaces.iter().any(|i| normal_mac(&i.mac_address).as_ref() == Some(&pxe))
        {
            return vec![pxe];
        }
        let any_carrier = self.interfaces.iter().any(|i| i.has_carrier);
        let mut macs: Vec<String> = Vec::new();
        for i in &self.interfaces {
            if (i.has_carrier || !any_carrier)
                && let Some(m) = normal_mac(&i.mac_address)
                && !macs.contains(&m)
            {
                macs.push(m);
            }
        }
        macs
    }

    /// The stored document, in the agent's shape.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn macs_are_normalised() {
        assert_eq!(normal_mac("00:5C:52:31:3A:01").as_deref(), Some("00:5c:52:31:3a:01"));
        assert_eq!(normal_mac("00-5c-52-31-3a-01").as_deref(), Some("00:5c:52:31:3a:01"));
        assert_eq!(normal_mac("00:00:00:00:00:00"), None);
        assert_eq!(normal_mac("zz:5c:52:31:3a:01"), None);
        assert_eq!(normal_mac("00:5c:52:31:3a"), None);
    }

    #[test]
    fn properties_come_from_what_is_known() {
        let inv: Inventory = serde_json::from_value(json!({
            "cpu": {"count": 16, "architecture": "x86_64", "model_name": "Xeon"},
            "memory": {"total": 33554432000u64, "physical_mb": 32768},
            "disks": [{"name": "/dev/sda", "size": 2_000_000_000u64}, {"name": "/dev/sdb", "size": 480_103_981_056u64}],
            "interfaces": [{"name": "eth0", "mac_address": "52:54:00:12:34:56", "has_carrier": true},
                           {"name": "eth1", "mac_address": "52:54:00:12:34:57", "has_carrier": false}],
            "hostname": "ignored"
        }))
        .unwrap();
        assert_eq!(
            Value::Object(inv.properties()),
            json!({"cpus": 16, "cpu_arch": "x86_64", "memory_mb": 32768, "local_gb": 446})
        );
        assert!(inv.missing().is_empty());
        assert_eq!(inv.port_macs(), vec!["52:54:00:12:34:56"]);
        let bare = Inventory {
            interfaces: vec![Interface {
                mac_address: "52:54:00:00:00:01".into(),
                has_carrier: false,
                ..Default::default()
            }],
            ..Default::default()
        };
        assert!(bare.properties().is_empty());
        assert_eq!(bare.missing(), vec!["cpus", "memory_mb", "local_gb", "cpu_arch"]);
        assert_eq!(bare.port_macs(), vec!["52:54:00:00:00:01"], "no carrier reported: every NIC");
        let mut booted = inv.clone();
        booted.boot =
            Some(Boot { current_boot_mode: Some("uefi".into()), pxe_interface: Some("01-52-54-00-12-34-57".into()) });
        assert_eq!(booted.port_macs(), vec!["52:54:00:12:34:57"], "only the NIC it booted from");
        assert_eq!(booted.boot_mode(), Some("uefi"));
    }
}
