//! Hardware types: what `GET /v1/drivers` lists, how a node's
//! `driver_info` is validated, and the power/provision work itself.
//! `fake-hardware` completes everything after a configurable delay;
//! `redfish` talks to the node's BMC over HTTPS ([`redfish`]), `ipmi`
//! through ipmitool ([`ipmi`]). A fake node's deploy
//! writes its image to a disk file ([`fake_disk`]) with a config drive
//! ([`configdrive`]); inspection yields an [`Inventory`].

pub mod agent;
pub mod configdrive;
pub mod credentials;
pub mod fake_disk;
pub mod inventory;
pub mod ipmi;
pub mod redfish;

use std::time::Duration;

use serde_json::{Map, Value};

use crate::engine::states::{PowerState, ProvisionState};
use crate::storage::baremetal::Node;
pub use inventory::Inventory;

/// The interface kinds of a node, in Ironic's order.
pub const INTERFACE_KINDS: [&str; 13] = [
    "bios",
    "boot",
    "console",
    "deploy",
    "firmware",
    "inspect",
    "management",
    "network",
    "power",
    "raid",
    "rescue",
    "storage",
    "vendor",
];

/// One hardware type's enabled and default interfaces.
pub struct HardwareInfo {
    pub name: &'static str,
    /// (kind, enabled implementations; the first is the default).
    pub interfaces: &'static [(&'static str, &'static [&'static str])],
    /// `driver_info` keys with a description; `true` = required.
    pub properties: &'static [(&'static str, bool, &'static str)],
}

const BOOT_PROPS: &[(&str, bool, &str)] = &[
    ("deploy_kernel", true, "Image (UUID or URL) of the deployment kernel."),
    ("deploy_ramdisk", true, "Image (UUID or URL) of the deployment ramdisk."),
    ("force_persistent_boot_device", false, "Always set the boot device persistently: Default, Always or Never."),
    ("rescue_kernel", false, "Image (UUID or URL) of the rescue kernel."),
    ("rescue_ramdisk", false, "Image (UUID or URL) of the rescue ramdisk."),
    ("kernel_append_params", false, "Extra kernel command-line parameters for the deployment ramdisk."),
    // What the direct deploy's agent is told.
    ("image_http_proxy", false, "HTTP proxy the agent uses to download the image."),
    ("image_https_proxy", false, "HTTPS proxy the agent uses to download the image."),
    ("image_no_proxy", false, "Hosts the agent reaches without a proxy when downloading the image."),
];

pub const HARDWARE_TYPES: &[HardwareInfo] = &[
    HardwareInfo {
        name: "fake-hardware",
        interfaces: &[
            ("bios", &["fake", "no-bios"]),
            ("boot", &["fake", "pxe"]),
            ("console", &["fake", "no-console", "fake-graphical"]),
            ("deploy", &["fake", "ramdisk"]),
            ("firmware", &["fake", "no-firmware"]),
            ("inspect", &["fake", "no-inspect"]),
            ("management", &["fake"]),
            ("network", &["noop", "flat", "neutron"]),
            ("power", &["fake"]),
            ("raid", &["fake", "no-raid"]),
            ("rescue", &["fake", "no-rescue"]),
            ("storage", &["noop", "fake"]),
            ("vendor", &["fake", "no-vendor"]),
        ],
        properties: &[("B1", true, "Fake property B1; any value."), ("B2", true, "Fake property B2; any value.")],
    },
    HardwareInfo {
        name: "ipmi",
        interfaces: &[
            ("bios", &["no-bios"]),
            ("boot", &["pxe"]),
            ("console", &["no-console", "fake-graphical"]),
            ("deploy", &["ramdisk", "direct"]),
            ("firmware", &["no-firmware"]),
            ("inspect", &["no-inspect"]),
            ("management", &["ipmitool"]),
            ("network", &["noop", "flat", "neutron"]),
            ("power", &["ipmitool"]),
            ("raid", &["no-raid"]),
            ("rescue", &["no-rescue"]),
            ("storage", &["noop"]),
            ("vendor", &["ipmitool", "no-vendor"]),
        ],
        properties: &[
            ("ipmi_address", true, "IP address or host name of the BMC."),
            ("ipmi_password", false, "Password of the BMC user."),
            ("ipmi_hex_kg_key", false, "Hexadecimal Kg key for IPMIv2 authentication."),
            ("ipmi_port", false, "Remote IPMI RMCP port."),
            ("ipmi_priv_level", false, "Privilege level: ADMINISTRATOR (default), CALLBACK, OPERATOR or USER."),
            ("ipmi_username", false, "BMC user name; empty means anonymous."),
            ("ipmi_bridging", false, "Bridging type: single, dual or no (default)."),
            ("ipmi_transit_channel", true, "Transit channel for double bridging; needed when ipmi_bridging is dual."),
            ("ipmi_transit_address", true, "Transit address for double bridging; needed when ipmi_bridging is dual."),
            ("ipmi_target_channel", true, "Destination channel for bridging; needed when bridging is single or dual."),
            ("ipmi_target_address", true, "Destination address for bridging; needed when bridging is single or dual."),
            ("ipmi_local_address", false, "Local IPMB address for bridged requests."),
            ("ipmi_protocol_version", false, "IPMI protocol version: 1.5 or 2.0 (default)."),
            (
                "ipmi_force_boot_device",
                false,
                "Whether to emulate a persistent boot device by re-setting it each boot.",
            ),
            (
                "ipmi_disable_boot_timeout",
                false,
                "Whether to send the raw command that disables the 60 s boot timeout.",
            ),
            ("ipmi_cipher_suite", false, "IPMI cipher suite number to use."),
        ],
    },
    HardwareInfo {
        name: "redfish",
        interfaces: &[
            ("bios", &["redfish", "no-bios"]),
            ("boot", &["pxe", "redfish-virtual-media"]),
            ("console", &["no-console", "fake-graphical"]),
            ("deploy", &["ramdisk", "direct"]),
            ("firmware", &["redfish", "no-firmware"]),
            ("inspect", &["redfish", "no-inspect"]),
            ("management", &["redfish"]),
            ("network", &["noop", "flat", "neutron"]),
            ("power", &["redfish"]),
            ("raid", &["redfish", "no-raid"]),
            ("rescue", &["no-rescue"]),
            ("storage", &["noop"]),
            ("vendor", &["redfish", "no-vendor"]),
        ],
        properties: &[
            ("redfish_address", true, "URL of the Redfish service; https is assumed when no scheme is given."),
            ("redfish_system_id", false, "Path of the ComputerSystem; needed only when the BMC manages several."),
            ("redfish_username", false, "User name for the Redfish service."),
            ("redfish_password", false, "Password for the Redfish service."),
            ("redfish_verify_ca", false, "Verify the BMC certificate: true, false, or a CA bundle path."),
            ("redfish_auth_type", false, "Authentication: basic, session or auto (default)."),
            (
                "firmware_update_unresponsive_bmc_wait",
                false,
                "Seconds to wait for a BMC that stops answering during a firmware update.",
            ),
            ("redfish_tls_minimum_version", false, "Lowest TLS version to accept from the BMC."),
            ("redfish_tls_ciphers", false, "TLS cipher list to offer the BMC."),
        ],
    },
];

pub fn hardware_info(name: &str) -> Option<&'static HardwareInfo> {
    HARDWARE_TYPES.iter().find(|h| h.name == name)
}

impl HardwareInfo {
    pub fn default_interface(&self, kind: &str) -> Option<&'static str> {
        self.interfaces.iter().find(|(k, _)| *k == kind).and_then(|(_, v)| v.first().copied())
    }

    pub fn enabled(&self, kind: &str) -> &'static [&'static str] {
        self.interfaces.iter().find(|(k, _)| *k == kind).map_or(&[], |(_, v)| *v)
    }

    /// Every `driver_info` property, boot/deploy ones included.
    pub fn all_properties(&self) -> Vec<(&'static str, bool, &'static str)> {
        let mut p = self.properties.to_vec();
        if self.name != "fake-hardware" {
            p.extend_from_slice(BOOT_PROPS);
        }
        p
    }

    /// `{key: "description. Required."}` as `/properties` shows it.
    pub fn properties_doc(&self) -> Map<String, Value> {
        self.all_properties()
            .into_iter()
            .map(|(k, req, d)| {
                (k.to_string(), Value::String(format!("{d} {}", if req { "Required." } else { "Optional." })))
            })
            .collect()
    }
}

/// The interfaces a new node gets for a hardware type.
pub fn default_interfaces(hw: &HardwareInfo) -> Map<String, Value> {
    INTERFACE_KINDS
        .iter()
        .filter_map(|k| hw.default_interface(k).map(|d| (k.to_string(), Value::String(d.into()))))
        .collect()
}

/// One interface's `GET /validate` answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Validation {
    pub result: Option<bool>,
    pub reason: Option<String>,
}

/// Validates a node for every interface kind.
pub fn validate(node: &Node, has_ports: bool) -> Vec<(&'static str, Validation)> {
    let info: Map<String, Value> = serde_json::from_str(&node.driver_info).unwrap_or_default();
    let ifaces: Map<String, Value> = serde_json::from_str(&node.interfaces).unwrap_or_default();
    let iface = |k: &str| ifaces.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let ok = Validation { result: Some(true), reason: None };
    let missing = |keys: &[&str], what: &str| {
        let absent: Vec<&str> = keys.iter().copied().filter(|k| !info.contains_key(*k)).collect();
        if absent.is_empty() {
            Validation { result: Some(true), reason: None }
        } else {
            Validation {
                result: Some(false),
                reason: Some(format!("Missing the following {what} in node's driver_info: {absent:?}.")),
            }
        }
    };
    INTERFACE_KINDS
        .iter()
        .map(|kind| {
            let name = iface(kind);
            let v = if name.starts_with("no-") {
                Validation { result: None, reason: Some(format!("not supported: {kind} interface is {name}")) }
            } else {
                match (node.driver.as_str(), *kind) {
                    ("ipmi", "power" | "management") => match ipmi::IpmiInfo::parse(&info) {
                        Ok(_) => ok.clone(),
                        Err(reason) => Validation { result: Some(false), reason: Some(reason) },
                    },
                    ("redfish", "power" | "management") => match redfish::RedfishInfo::parse(&info, &node.uuid) {
                        Ok(_) => ok.clone(),
                        Err(reason) => Validation { result: Some(false), reason: Some(reason) },
                    },
                    ("ipmi" | "redfish", "boot" | "deploy") => {
                        let m = missing(&["deploy_kernel", "deploy_ramdisk"], "deploy image properties");
                        if m.result == Some(true) && !has_ports && *kind == "boot" {
                            Validation {
                                result: Some(false),
                                reason: Some(format!("Node {} does not have any port associated with it.", node.uuid)),
                            }
                        } else {
                            m
                        }
                    }
                    _ => ok.clone(),
                }
            };
            (*kind, v)
        })
        .collect()
}

/// Why a step failed; becomes the node's `last_error`.
#[derive(Debug, Clone, PartialEq)]
pub struct StepError(pub String);

/// What went wrong talking to a BMC.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BmcError {
    /// `driver_info` cannot be used (the operator must fix it).
    #[error("{0}")]
    Config(String),
    /// No connection (refused, unreachable, TLS failure).
    #[error("{0}")]
    Unreachable(String),
    /// The BMC did not answer, or the system did not reach a state, in time.
    #[error("{0}")]
    Timeout(String),
    #[error("{0}")]
    Auth(String),
    /// The BMC answered with an error.
    #[error("{0}")]
    Bmc(String),
    /// The BMC answered something that is not Redfish/IPMI as expected.
    #[error("{0}")]
    Protocol(String),
}

/// Deadlines of BMC conversations.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BmcTimeouts {
    pub connect: Duration,
    /// One request.
    pub request: Duration,
    /// A power change, from request to the state reported.
    pub power_wait: Duration,
    /// Between two reads of the power state (or of an agent command)
    /// while waiting.
    pub poll: Duration,
    /// One agent command (writing an image) from start to end.
    pub agent_command: Duration,
}

/// Polls `read` (whether the BMC reports `want` yet, and what it
/// reports) until it does or `power_wait` passes.
pub(crate) async fn wait_for_power<F, Fut>(t: &BmcTimeouts, want: PowerState, mut read: F) -> Result<(), BmcError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(bool, String), BmcError>>,
{
    let deadline = tokio::time::Instant::now() + t.power_wait;
    loop {
        let (reached, now) = read().await?;
        if reached {
            return Ok(());
        }
        if tokio::time::Instant::now() + t.poll > deadline {
            return Err(BmcError::Timeout(format!(
                "Failed to set node power state to {want}. The BMC still reported {now} after {} s.",
                t.power_wait.as_secs()
            )));
        }
        tokio::time::sleep(t.poll).await;
    }
}

impl Default for BmcTimeouts {
    fn default() -> Self {
        redfish::default_timeouts()
    }
}

/// A device a node can boot from, by Ironic's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootDevice {
    Pxe,
    Disk,
    Cdrom,
    Bios,
    Safe,
    UefiHttp,
}

impl BootDevice {
    pub const ALL: [BootDevice; 6] = [
        BootDevice::Pxe,
        BootDevice::Disk,
        BootDevice::Cdrom,
        BootDevice::Bios,
        BootDevice::Safe,
        BootDevice::UefiHttp,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            BootDevice::Pxe => "pxe",
            BootDevice::Disk => "disk",
            BootDevice::Cdrom => "cdrom",
            BootDevice::Bios => "bios",
            BootDevice::Safe => "safe",
            BootDevice::UefiHttp => "uefihttp",
        }
    }

    pub fn parse(s: &str) -> Option<BootDevice> {
        BootDevice::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

/// The work of one step as the hardware reports it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StepDone {
    /// The power state the node is left in, when the hardware read it.
    pub power: Option<PowerState>,
    /// What an inspection found.
    pub inventory: Option<Inventory>,
    /// The step goes on once the server's agent calls back.
    pub wait: bool,
}

/// How the engine reaches hardware.
#[derive(Debug, Clone, Default)]
pub struct HardwareSettings {
    /// How long each fake-hardware step takes.
    pub fake_delay: Duration,
    pub bmc: BmcTimeouts,
    /// Opens the sealed credentials of `driver_info`.
    pub sealer: Option<std::sync::Arc<credentials::Sealer>>,
}

/// The hardware behind one node, for the engine.
pub enum Hardware {
    Fake {
        delay: Duration,
    },
    Redfish(Box<redfish::Redfish>),
    Ipmi(Box<ipmi::Ipmi>),
    /// A node whose `driver_info` cannot reach its BMC: every action fails
    /// with this reason.
    Invalid(String),
    /// A hardware type whose BMC protocol is not built yet.
    Unsupported(String),
}

fn driver_info(node: &Node) -> Map<String, Value> {
    serde_json::from_str(&node.driver_info).unwrap_or_default()
}

fn interface(node: &Node, kind: &str) -> String {
    let ifaces: Map<String, Value> = serde_json::from_str(&node.interfaces).unwrap_or_default();
    ifaces.get(kind).and_then(Value::as_str).unwrap_or_default().to_string()
}

impl Hardware {
    pub fn for_node(node: &Node, settings: &HardwareSettings) -> Hardware {
        if node.driver == "fake-hardware" {
            return Hardware::Fake { delay: settings.fake_delay };
        }
        let info = match &settings.sealer {
            Some(s) => match s.open_map(&driver_info(node)) {
                Ok(info) => info,
                Err(e) => return Hardware::Invalid(e),
            },
            None => driver_info(node),
        };
        match node.driver.as_str() {
            "redfish" => match redfish::RedfishInfo::parse(&info, &node.uuid) {
                Ok(info) => match redfish::Redfish::new(&node.uuid, info, settings.bmc) {
                    Ok(r) => Hardware::Redfish(Box::new(r)),
                    Err(e) => Hardware::Invalid(e.to_string()),
                },
                Err(e) => Hardware::Invalid(e),
            },
            "ipmi" => match ipmi::IpmiInfo::parse(&info) {
                Ok(info) => Hardware::Ipmi(Box::new(ipmi::Ipmi::new(info, settings.bmc))),
                Err(e) => Hardware::Invalid(e),
            },
            other => Hardware::Unsupported(other.to_string()),
        }
    }

    /// The outcome of a step when the hardware can give it without waiting
    /// (fake hardware with no delay, a node that cannot be reached at all);
    /// `None` means run [`Hardware::provision_step`].
    pub fn immediate_step(&self, state: ProvisionState) -> Option<Result<StepDone, StepError>> {
        match self {
            Hardware::Fake { delay } if delay.is_zero() => Some(Ok(StepDone::default())),
            Hardware::Fake { .. } | Hardware::Redfish(_) | Hardware::Ipmi(_) => None,
            Hardware::Invalid(why) => Some(Err(StepError(format!("{state} could not be performed: {why}")))),
            Hardware::Unsupported(driver) => Some(Err(StepError(format!(
                "The {driver} hardware type cannot yet talk to the BMC; {state} could not be performed."
            )))),
        }
    }

    /// The outcome of a power action when the hardware gives it at once.
    pub fn immediate_power(&self, target: PowerState) -> Option<Result<(), StepError>> {
        match self {
            Hardware::Fake { delay } if delay.is_zero() => Some(Ok(())),
            Hardware::Fake { .. } | Hardware::Redfish(_) | Hardware::Ipmi(_) => None,
            Hardware::Invalid(why) => Some(Err(power_error(target, why))),
            Hardware::Unsupported(driver) => Some(Err(StepError(format!(
                "Failed to change power state to '{target}': the {driver} hardware type cannot yet talk to the BMC."
            )))),
        }
    }

    /// Does the work of one transient provision state.
    pub async fn provision_step(&mut self, state: ProvisionState, node: &Node) -> Result<StepDone, StepError> {
        if let Some(outcome) = self.immediate_step(state) {
            return outcome;
        }
        match self {
            Hardware::Fake { delay } => {
                tokio::time::sleep(*delay).await;
                Ok(StepDone::default())
            }
            Hardware::Redfish(r) => {
                r.login().await.map_err(|e| step_error(state, node, &e))?;
                let done = redfish_step(r, state, node).await.map_err(|e| step_error(state, node, &e));
                r.logout().await;
                done
            }
            Hardware::Ipmi(i) => ipmi_step(i, state, node).await.map_err(|e| step_error(state, node, &e)),
            Hardware::Invalid(_) | Hardware::Unsupported(_) => unreachable!("answered by immediate_step"),
        }
    }

    pub async fn set_power(&mut self, target: PowerState) -> Result<(), StepError> {
        if let Some(outcome) = self.immediate_power(target) {
            return outcome;
        }
        let fail = |e: BmcError| power_error(target, &e.to_string());
        match self {
            Hardware::Fake { delay } => {
                tokio::time::sleep(*delay).await;
                Ok(())
            }
            Hardware::Redfish(r) => {
                r.login().await.map_err(fail)?;
                let done = r.set_power(target).await.map_err(fail);
                r.logout().await;
                done
            }
            Hardware::Ipmi(i) => i.set_power(target).await.map_err(fail),
            Hardware::Invalid(_) | Hardware::Unsupported(_) => unreachable!("answered by immediate_power"),
        }
    }

    /// The boot device the BMC reports, `None` for hardware that keeps no
    /// state of its own (the fake one).
    pub async fn boot_device(&mut self) -> Result<Option<(Option<BootDevice>, bool)>, BmcError> {
        match self {
            Hardware::Fake { .. } => Ok(None),
            Hardware::Redfish(r) => {
                r.login().await?;
                let d = r.boot_device().await;
                r.logout().await;
                d.map(Some)
            }
            Hardware::Ipmi(i) => i.boot_device().await.map(Some),
            Hardware::Invalid(why) => Err(BmcError::Config(why.clone())),
            Hardware::Unsupported(d) => {
                Err(BmcError::Config(format!("the {d} hardware type cannot yet talk to the BMC")))
            }
        }
    }

    /// The boot devices the hardware offers.
    pub async fn supported_boot_devices(&mut self) -> Result<Vec<BootDevice>, BmcError> {
        match self {
            Hardware::Fake { .. } => Ok(vec![BootDevice::Pxe]),
            Hardware::Redfish(_) => Ok(redfish::SUPPORTED_BOOT_DEVICES.to_vec()),
            Hardware::Ipmi(_) => Ok(ipmi::SUPPORTED_BOOT_DEVICES.to_vec()),
            Hardware::Invalid(why) => Err(BmcError::Config(why.clone())),
            Hardware::Unsupported(_) => {
                Ok(vec![BootDevice::Pxe, BootDevice::Disk, BootDevice::Cdrom, BootDevice::Bios, BootDevice::Safe])
            }
        }
    }

    /// Sets the next boot device; `false` when the hardware keeps no state
    /// of its own (the caller records it).
    pub async fn set_boot_device(&mut self, device: BootDevice, persistent: bool) -> Result<bool, BmcError> {
        match self {
            Hardware::Fake { .. } => Ok(false),
            Hardware::Redfish(r) => {
                r.login().await?;
                let d = r.set_boot_device(device, persistent).await;
                r.logout().await;
                d.map(|()| true)
            }
            Hardware::Ipmi(i) => i.set_boot_device(device, persistent).await.map(|()| true),
            Hardware::Invalid(why) => Err(BmcError::Config(why.clone())),
            Hardware::Unsupported(d) => {
                Err(BmcError::Config(format!("the {d} hardware type cannot yet talk to the BMC")))
            }
        }
    }
}

/// `last_error` of a failed power action, in Ironic's words.
fn power_error(target: PowerState, why: &str) -> StepError {
    StepError(format!("Failed to change power state to '{}' by '{target}': {why}", target.resting()))
}

/// `last_error` of a failed provision step, in Ironic's words.
fn step_error(state: ProvisionState, node: &Node, e: &BmcError) -> StepError {
    use ProvisionState as S;
    let id = &node.uuid;
    StepError(match state {
        S::Verifying | S::Adopting => format!("Failed to get power state for node {id}. Error: {e}"),
        S::Inspecting => format!("Failed to inspect hardware. Reason: {e}"),
        S::Deploying => format!("Deploy step deploy.deploy failed: {e}."),
        S::Cleaning => format!("Failed to prepare node {id} for cleaning: {e}"),
        S::Deleting => format!("Failed to tear down. Error: {e}"),
        other => format!("{other} failed: {e}"),
    })
}

/// One provision state's work on a Redfish BMC.
async fn redfish_step(r: &redfish::Redfish, state: ProvisionState, node: &Node) -> Result<StepDone, BmcError> {
    use ProvisionState as S;
    match state {
        // Reading the power state proves address, credentials and system.
        S::Verifying | S::Adopting => Ok(StepDone { power: Some(r.power_state().await?), ..Default::default() }),
        S::Inspecting => {
            let inventory = r.inspect().await?;
            Ok(StepDone { power: Some(r.power_state().await?), inventory: Some(inventory), wait: false })
        }
        S::Deploying if agent_phase(node) => {
            write_with_agent(node, r.timeouts()).await?;
            if interface(node, "boot") == "redfish-virtual-media" {
                r.eject_cd().await?;
            }
            r.set_boot_device(BootDevice::Disk, true).await?;
            r.set_power(PowerState::Rebooting).await?;
            Ok(StepDone { power: Some(PowerState::On), ..Default::default() })
        }
        S::Deploying => {
            let direct = interface(node, "deploy") == "direct";
            match interface(node, "boot").as_str() {
                "redfish-virtual-media" => {
                    // The agent's ISO for a direct deploy, the instance's own otherwise.
                    let iso = if direct { deploy_iso(node) } else { boot_iso(node) }.ok_or_else(|| {
                        BmcError::Config(if direct {
                            "redfish-virtual-media boot of the agent needs driver_info/deploy_iso".into()
                        } else {
                            "redfish-virtual-media boot needs instance_info/boot_iso or driver_info/redfish_deploy_iso"
                                .into()
                        })
                    })?;
                    r.insert_cd(&iso).await?;
                    r.set_boot_device(BootDevice::Cdrom, false).await?;
                }
                _ => r.set_boot_device(BootDevice::Pxe, false).await?,
            }
            r.set_power(PowerState::Rebooting).await?;
            Ok(StepDone { power: Some(PowerState::On), inventory: None, wait: direct })
        }
        S::Deleting | S::Cleaning => {
            r.set_power(PowerState::Off).await?;
            if interface(node, "boot") == "redfish-virtual-media" {
                r.eject_cd().await?;
            }
            Ok(StepDone { power: Some(PowerState::Off), ..Default::default() })
        }
        other => Err(BmcError::Config(format!(
            "{other} needs the deploy agent, which the redfish hardware type of ironbark does not drive yet"
        ))),
    }
}

/// One provision state's work over IPMI: power and boot device only (no
/// out-of-band inspection, no virtual media).
async fn ipmi_step(i: &ipmi::Ipmi, state: ProvisionState, node: &Node) -> Result<StepDone, BmcError> {
    use ProvisionState as S;
    match state {
        S::Verifying | S::Adopting => Ok(StepDone { power: Some(i.power_state().await?), ..Default::default() }),
        S::Deploying if agent_phase(node) => {
            write_with_agent(node, i.timeouts()).await?;
            i.set_boot_device(BootDevice::Disk, true).await?;
            i.set_power(PowerState::Rebooting).await?;
            Ok(StepDone { power: Some(PowerState::On), ..Default::default() })
        }
        S::Deploying => {
            i.set_boot_device(BootDevice::Pxe, false).await?;
            i.set_power(PowerState::Rebooting).await?;
            Ok(StepDone { power: Some(PowerState::On), inventory: None, wait: interface(node, "deploy") == "direct" })
        }
        S::Deleting | S::Cleaning => {
            i.set_power(PowerState::Off).await?;
            Ok(StepDone { power: Some(PowerState::Off), ..Default::default() })
        }
        S::Inspecting => Err(BmcError::Config(
            "IPMI has no out-of-band inspection; inspect in-band with an agent posting to /v1/continue_inspection"
                .into(),
        )),
        other => Err(BmcError::Config(format!(
            "{other} needs the deploy agent, which the ipmi hardware type of ironbark does not drive yet"
        ))),
    }
}

/// Whether a direct deploy's agent has called back: the image is written
/// through it (the engine marks the node when it resumes the deploy).
fn agent_phase(node: &Node) -> bool {
    let internal: Map<String, Value> = serde_json::from_str(&node.driver_internal_info).unwrap_or_default();
    internal.get("deploy_phase").and_then(Value::as_str) == Some("agent")
        && internal.get("agent_url").and_then(Value::as_str).is_some()
}

/// Has the node's agent write the instance image.
async fn write_with_agent(node: &Node, timeouts: BmcTimeouts) -> Result<(), BmcError> {
    let internal: Map<String, Value> = serde_json::from_str(&node.driver_internal_info).unwrap_or_default();
    let url = internal.get("agent_url").and_then(Value::as_str).unwrap_or_default();
    agent::AgentClient::new(url, timeouts)?.write_image(node, timeouts.agent_command).await
}

/// The agent's ISO of a node (virtual-media boot of a direct deploy).
fn deploy_iso(node: &Node) -> Option<String> {
    let info = driver_info(node);
    [info.get("deploy_iso"), info.get("redfish_deploy_iso")]
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .find(|s| !s.is_empty())
        .map(str::to_string)
}

/// The ISO a virtual-media deploy boots: the instance's own, else the
/// deploy ISO of the node.
fn boot_iso(node: &Node) -> Option<String> {
    let instance: Map<String, Value> = serde_json::from_str(&node.instance_info).unwrap_or_default();
    let info = driver_info(node);
    [instance.get("boot_iso"), info.get("redfish_deploy_iso"), info.get("deploy_iso")]
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .find(|s| !s.is_empty())
        .map(str::to_string)
}
