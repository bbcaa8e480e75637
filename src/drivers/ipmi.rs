//! The `ipmi` hardware type: power and boot device over IPMI v2 (lanplus)
//! by running `ipmitool`, as Ironic's ipmitool interfaces do.
//!
//! The password goes to ipmitool through its environment (`-E`), never on
//! the command line. Each command has a deadline and is killed when it
//! passes; a power change is polled until the BMC reports it.

use std::process::Stdio;

use serde_json::{Map, Value};
use tokio::process::Command;

use super::{BmcError, BmcTimeouts, BootDevice};
use crate::engine::states::PowerState;

const PRIV_LEVELS: [&str; 4] = ["ADMINISTRATOR", "CALLBACK", "OPERATOR", "USER"];

/// Parsed `driver_info` of an ipmi node.
#[derive(Debug, Clone, PartialEq)]
pub struct IpmiInfo {
    pub address: String,
    pub port: Option<u16>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub priv_level: String,
    /// `lanplus` (IPMI 2.0, default) or `lan` (1.5).
    pub interface: &'static str,
}

fn text(info: &Map<String, Value>, key: &str) -> Option<String> {
    match info.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

impl IpmiInfo {
    pub fn parse(info: &Map<String, Value>) -> Result<IpmiInfo, String> {
        let Some(address) = text(info, "ipmi_address") else {
            return Err("Missing the following IPMI credentials in node's driver_info: ['ipmi_address'].".into());
        };
        if address.starts_with('-') || address.chars().any(char::is_whitespace) {
            return Err(format!("Invalid IPMI address \"{address}\". Must be a valid IP address or hostname."));
        }
        let port = match text(info, "ipmi_port") {
            None => None,
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 => Some(n),
                _ => return Err(format!("ipmi_port \"{p}\" is not a valid port.")),
            },
        };
        let priv_level = text(info, "ipmi_priv_level").unwrap_or_else(|| "ADMINISTRATOR".into());
        if !PRIV_LEVELS.contains(&priv_level.as_str()) {
            return Err(format!(
                "Invalid privilege level value:{priv_level}, the valid value can be one of {}",
                PRIV_LEVELS.join(", ")
            ));
        }
        let interface = match text(info, "ipmi_protocol_version").as_deref() {
            None | Some("2.0") => "lanplus",
            Some("1.5") => "lan",
            Some(v) => {
                return Err(format!("Invalid IPMI protocol version value {v}, the valid value can be one of 2.0, 1.5"));
            }
        };
        Ok(IpmiInfo {
            address,
            port,
            username: text(info, "ipmi_username"),
            password: info.get("ipmi_password").and_then(Value::as_str).map(str::to_string),
            priv_level,
            interface,
        })
    }
}

/// One node's BMC, reached through ipmitool.
pub struct Ipmi {
    info: IpmiInfo,
    timeouts: BmcTimeouts,
    tool: String,
}

/// What `chassis bootdev` calls each device.
fn bootdev_word(d: BootDevice) -> &'static str {
    match d {
        BootDevice::Pxe => "pxe",
        BootDevice::Disk => "disk",
        BootDevice::Cdrom => "cdrom",
        BootDevice::Bios => "bios",
        BootDevice::Safe => "safe",
        BootDevice::UefiHttp => "pxe",
    }
}

/// The boot devices an ipmi node offers, as Ironic's ipmitool driver.
pub const SUPPORTED_BOOT_DEVICES: [BootDevice; 5] =
    [BootDevice::Pxe, BootDevice::Disk, BootDevice::Cdrom, BootDevice::Bios, BootDevice::Safe];

/// `chassis bootparam get 5` output → device and persistence.
pub fn parse_bootparam(out: &str) -> (Option<BootDevice>, bool) {
    let selector = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("- Boot Device Selector").or(l.trim().strip_prefix("Boot Device Selector")))
        .map(|rest| rest.trim_start_matches([' ', ':']).to_string())
        .unwrap_or_default();
    let device = if selector.contains("PXE") {
        Some(BootDevice::Pxe)
    } else if selector.contains("Hard-Drive") && selector.contains("Safe-Mode") {
        Some(BootDevice::Safe)
    } else if selector.contains("Hard-Drive") {
        Some(BootDevice::Disk)
    } else if selector.contains("BIOS") {
        Some(BootDevice::Bios)
    } else if selector.contains("CD/DVD") {
        Some(BootDevice::Cdrom)
    } else {
        None
    };
    (device, out.contains("Options apply to all future boots"))
}

impl Ipmi {
    pub fn new(info: IpmiInfo, timeouts: BmcTimeouts) -> Ipmi {
        let tool = std::env::var("IRONBARK_IPMITOOL").unwrap_or_else(|_| "ipmitool".into());
        Ipmi { info, timeouts, tool }
    }

    /// Runs `ipmitool … <words>`; its stdout. Retried while the deadline of
    /// one request allows (BMCs drop sessions under load).
    async fn run(&self, words: &[&str]) -> Result<String, BmcError> {
        let cmd_text = words.join(" ");
        let deadline = tokio::time::Instant::now() + self.timeouts.request;
        let mut last = String::new();
        for attempt in 0.. {
            if attempt > 0 && tokio::time::Instant::now() + self.timeouts.poll >= deadline {
                break;
            }
            if attempt > 0 {
                tokio::time::sleep(self.timeouts.poll).await;
            }
            let mut c = Command::new(&self.tool);
            c.args(["-I", self.info.interface, "-H", &self.info.address, "-L", &self.info.priv_level]);
            if let Some(p) = self.info.port {
                c.args(["-p", &p.to_string()]);
            }
            if let Some(u) = &self.info.username {
                c.args(["-U", u]);
            }
            c.args(["-R", "1", "-N", "1", "-E"]).args(words);
            c.env("IPMI_PASSWORD", self.info.password.as_deref().unwrap_or(""));
            c.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
            let child = match c.spawn() {
                Ok(ch) => ch,
                Err(e) => {
                    return Err(BmcError::Config(format!(
                        "IPMI call failed: {cmd_text}. Cannot run {}: {e}",
                        self.tool
                    )));
                }
            };
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, child.wait_with_output()).await {
                Ok(Ok(out)) if out.status.success() => return Ok(String::from_utf8_lossy(&out.stdout).into_owned()),
                Ok(Ok(out)) => {
                    last = String::from_utf8_lossy(&out.stderr).trim().lines().last().unwrap_or_default().to_string();
                }
                Ok(Err(e)) => last = e.to_string(),
                Err(_) => {
                    last = format!("no answer within {} s", self.timeouts.request.as_secs());
                    break;
                }
            }
        }
        let text = format!("IPMI call failed: {cmd_text}. {last}");
        Err(if last.starts_with("no answer") { BmcError::Timeout(text) } else { BmcError::Unreachable(text) })
    }

    pub fn timeouts(&self) -> BmcTimeouts {
        self.timeouts
    }

    pub async fn power_state(&self) -> Result<PowerState, BmcError> {
        let out = self.run(&["power", "status"]).await?;
        match out.trim_end() {
            "Chassis Power is on" => Ok(PowerState::On),
            "Chassis Power is off" => Ok(PowerState::Off),
            other => Err(BmcError::Protocol(format!("IPMI power status answered {other:?}"))),
        }
    }

    pub async fn set_power(&self, target: PowerState) -> Result<(), BmcError> {
        let current = self.power_state().await?;
        match (target, current) {
            (PowerState::On, PowerState::On) | (PowerState::Off | PowerState::SoftOff, PowerState::Off) => {
                return Ok(());
            }
            (PowerState::On, _) | (PowerState::Rebooting | PowerState::SoftRebooting, PowerState::Off) => {
                self.run(&["power", "on"]).await?;
            }
            (PowerState::Off, _) => {
                self.run(&["power", "off"]).await?;
            }
            (PowerState::SoftOff, _) => {
                self.run(&["power", "soft"]).await?;
            }
            (PowerState::Rebooting, _) => {
                self.run(&["power", "off"]).await?;
                self.wait_power(PowerState::Off).await?;
                self.run(&["power", "on"]).await?;
            }
            (PowerState::SoftRebooting, _) => {
                self.run(&["power", "soft"]).await?;
                self.wait_power(PowerState::Off).await?;
                self.run(&["power", "on"]).await?;
            }
        }
        self.wait_power(target.resting()).await
    }

    async fn wait_power(&self, want: PowerState) -> Result<(), BmcError> {
        super::wait_for_power(&self.timeouts, want, || async move {
            let now = self.power_state().await?;
            Ok((now == want, now.to_string()))
        })
        .await
    }

    pub async fn boot_device(&self) -> Result<(Option<BootDevice>, bool), BmcError> {
        Ok(parse_bootparam(&self.run(&["chassis", "bootparam", "get", "5"]).await?))
    }

    pub async fn set_boot_device(&self, device: BootDevice, persistent: bool) -> Result<(), BmcError> {
        let word = bootdev_word(device);
        if persistent {
            self.run(&["chassis", "bootdev", word, "options=persistent"]).await?;
        } else {
            self.run(&["chassis", "bootdev", word]).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn info(v: Value) -> Result<IpmiInfo, String> {
        IpmiInfo::parse(v.as_object().unwrap())
    }

    #[test]
    fn driver_info_is_checked_as_ironic_does() {
        let i = info(json!({"ipmi_address": "10.0.0.9", "ipmi_port": "6230", "ipmi_username": "admin"})).unwrap();
        assert_eq!((i.port, i.interface, i.priv_level.as_str()), (Some(6230), "lanplus", "ADMINISTRATOR"));
        assert_eq!(
            info(json!({})).unwrap_err(),
            "Missing the following IPMI credentials in node's driver_info: ['ipmi_address']."
        );
        assert_eq!(
            info(json!({"ipmi_address": "h", "ipmi_port": "abc"})).unwrap_err(),
            "ipmi_port \"abc\" is not a valid port."
        );
        assert!(
            info(json!({"ipmi_address": "h", "ipmi_priv_level": "ROOT"})).unwrap_err().starts_with("Invalid privilege")
        );
        assert_eq!(info(json!({"ipmi_address": "h", "ipmi_protocol_version": "1.5"})).unwrap().interface, "lan");
        assert!(info(json!({"ipmi_address": "-oProxyCommand=x"})).is_err(), "no option injection");
    }

    #[test]
    fn bootparam_output_is_read() {
        let out = "Boot parameter version: 1\nBoot parameter 5 is valid/unlocked\nBoot parameter data: c004000000\n \
                   Boot Flags :\n   - Boot Flag Valid\n   - Options apply to all future boots\n   - BIOS PC Compatible \
                   (legacy) boot\n   - Boot Device Selector : Force PXE\n";
        assert_eq!(parse_bootparam(out), (Some(BootDevice::Pxe), true));
        let out = "   - Boot Flag Valid\n   - Options apply to only next boot\n   - Boot Device Selector : Force Boot from default Hard-Drive\n";
        assert_eq!(parse_bootparam(out), (Some(BootDevice::Disk), false));
        assert_eq!(parse_bootparam("   - Boot Device Selector : No override\n").0, None);
    }
}
