//! The `redfish` hardware type: power, boot device, virtual media and
//! out-of-band inspection over a BMC's Redfish service (HTTPS + JSON).
//!
//! Every call has a deadline ([`BmcTimeouts`]); a power change is polled
//! until the system reports it or `power_wait` passes, so a dead or slow BMC
//! ends in a [`BmcError`] (the node's `last_error`), never in a stuck worker.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};

use super::inventory::{Boot, Cpu, Disk, Interface, Inventory, Memory, SystemVendor};
use super::{BmcError, BmcTimeouts, BootDevice};
use crate::engine::states::PowerState;

/// Parsed `driver_info` of a redfish node.
#[derive(Debug, Clone, PartialEq)]
pub struct RedfishInfo {
    /// `scheme://host[:port]`, no trailing slash.
    pub address: String,
    pub system_id: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub verify_ca: VerifyCa,
    pub auth: AuthType,
}

#[derive(Debug, Clone, PartialEq)]
pub enum VerifyCa {
    Yes,
    No,
    /// A CA bundle (PEM file) to verify the BMC against.
    Bundle(String),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AuthType {
    Basic,
    Session,
    /// A session when the BMC offers one, basic otherwise.
    Auto,
}

fn text<'a>(info: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    info.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
}

impl RedfishInfo {
    /// Reads `driver_info`; the error lists what is missing or wrong.
    pub fn parse(info: &Map<String, Value>, node: &str) -> Result<RedfishInfo, String> {
        let Some(address) = text(info, "redfish_address") else {
            return Err(format!(
                "Missing the following Redfish properties in node {node} driver_info: ['redfish_address']"
            ));
        };
        let address = if address.contains("://") { address.to_string() } else { format!("https://{address}") };
        let parsed = reqwest::Url::parse(&address)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
        let Some(url) = parsed else {
            return Err(format!("Invalid Redfish address {address} set in driver_info/redfish_address on node {node}"));
        };
        let mut base = format!("{}://{}", url.scheme(), url.host_str().unwrap_or_default());
        if url.host_str().is_some_and(|h| h.contains(':')) {
            base = format!("{}://[{}]", url.scheme(), url.host_str().unwrap_or_default());
        }
        if let Some(p) = url.port() {
            base.push_str(&format!(":{p}"));
        }
        let verify_ca = match info.get("redfish_verify_ca") {
            None | Some(Value::Null) => VerifyCa::Yes,
            Some(Value::Bool(true)) => VerifyCa::Yes,
            Some(Value::Bool(false)) => VerifyCa::No,
            Some(Value::String(s)) => match s.to_ascii_lowercase().as_str() {
                "true" | "yes" | "1" | "on" => VerifyCa::Yes,
                "false" | "no" | "0" | "off" => VerifyCa::No,
                _ if std::path::Path::new(s).is_file() => VerifyCa::Bundle(s.clone()),
                _ => {
                    return Err(format!(
                        "Invalid value type set in driver_info/redfish_verify_ca on node {node}. The value should be \
                         a Boolean or the path to a file/directory, not \"{s}\""
                    ));
                }
            },
            Some(other) => {
                return Err(format!(
                    "Invalid value type set in driver_info/redfish_verify_ca on node {node}. The value should be a \
                     Boolean or the path to a file/directory, not \"{other}\""
                ));
            }
        };
        let auth = match text(info, "redfish_auth_type").unwrap_or("auto") {
            "basic" => AuthType::Basic,
            "session" => AuthType::Session,
            "auto" => AuthType::Auto,
            other => {
                return Err(format!(
                    "Invalid value \"{other}\" set in driver_info/redfish_auth_type on node {node}. The value \
                     should be one of \"basic\", \"session\" or \"auto\"."
                ));
            }
        };
        Ok(RedfishInfo {
            address: base,
            system_id: text(info, "redfish_system_id").map(str::to_string),
            username: text(info, "redfish_username").map(str::to_string),
            password: info.get("redfish_password").and_then(Value::as_str).map(str::to_string),
            verify_ca,
            auth,
        })
    }
}

/// A connection to one node's BMC.
pub struct Redfish {
    /// The node's uuid, for messages.
    node: String,
    info: RedfishInfo,
    http: reqwest::Client,
    timeouts: BmcTimeouts,
    /// `X-Auth-Token` of a session opened by [`Redfish::login`].
    session: Option<(String, Option<String>)>,
}

/// The boot devices a redfish node offers, as Ironic's redfish driver.
pub const SUPPORTED_BOOT_DEVICES: [BootDevice; 5] =
    [BootDevice::Pxe, BootDevice::Disk, BootDevice::Cdrom, BootDevice::Bios, BootDevice::UefiHttp];

/// Redfish names of the boot devices ironbark offers.
fn redfish_target(d: BootDevice) -> &'static str {
    match d {
        BootDevice::Pxe => "Pxe",
        BootDevice::Disk => "Hdd",
        BootDevice::Cdrom => "Cd",
        BootDevice::Bios => "BiosSetup",
        // Not offered (see `SUPPORTED_BOOT_DEVICES`); the nearest device.
        BootDevice::Safe => "Hdd",
        BootDevice::UefiHttp => "UefiHttp",
    }
}

fn boot_device_of(target: &str) -> Option<BootDevice> {
    Some(match target {
        "Pxe" => BootDevice::Pxe,
        "Hdd" => BootDevice::Disk,
        "Cd" => BootDevice::Cdrom,
        "BiosSetup" => BootDevice::Bios,
        "UefiHttp" => BootDevice::UefiHttp,
        _ => return None,
    })
}

/// Ironic's power state for a Redfish `PowerState`; a transition in
/// progress counts as where it is heading.
pub fn power_of(redfish: &str) -> Option<PowerState> {
    match redfish {
        "On" | "PoweringOn" | "Paused" => Some(PowerState::On),
        "Off" | "PoweringOff" => Some(PowerState::Off),
        _ => None,
    }
}

fn odata_id(v: &Value) -> Option<&str> {
    v.get("@odata.id").and_then(Value::as_str)
}

/// The BMC's own words for a failed request, from Redfish's error
/// envelope: `code: message`, then the extended messages.
fn bmc_message(body: &str) -> String {
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let e = &v["error"];
    let code = e["code"].as_str().unwrap_or("Base.1.0.GeneralError");
    let Some(message) = e["message"].as_str() else {
        return format!("{code}: the BMC gave no Redfish error body");
    };
    let ext: Vec<&str> = e["@Message.ExtendedInfo"]
        .as_array()
        .map(|a| a.iter().filter_map(|m| m["Message"].as_str()).filter(|m| *m != message).collect())
        .unwrap_or_default();
    if ext.is_empty() {
        format!("{code}: {message}")
    } else {
        format!("{code}: {message} Extended information: {}", ext.join("; "))
    }
}

impl Redfish {
    pub fn new(node: &str, info: RedfishInfo, timeouts: BmcTimeouts) -> Result<Redfish, BmcError> {
        let mut b = reqwest::Client::builder()
            .connect_timeout(timeouts.connect)
            .timeout(timeouts.request)
            .redirect(reqwest::redirect::Policy::none());
        match &info.verify_ca {
            VerifyCa::Yes => {}
            VerifyCa::No => b = b.danger_accept_invalid_certs(true),
            VerifyCa::Bundle(path) => {
                let pem = std::fs::read(path)
                    .map_err(|e| BmcError::Config(format!("cannot read the CA bundle {path}: {e}")))?;
                for cert in reqwest::Certificate::from_pem_bundle(&pem)
                    .map_err(|e| BmcError::Config(format!("invalid CA bundle {path}: {e}")))?
                {
                    b = b.add_root_certificate(cert);
                }
            }
        }
        let http = b.build().map_err(|e| BmcError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Redfish { node: node.to_string(), info, http, timeouts, session: None })
    }

    pub fn timeouts(&self) -> BmcTimeouts {
        self.timeouts
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{}{path}", self.info.address)
        }
    }

    async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<(StatusCode, String), BmcError> {
        let mut req = self.http.request(method.clone(), self.url(path)).header("Accept", "application/json");
        match &self.session {
            Some((token, _)) => req = req.header("X-Auth-Token", token),
            None => {
                if let Some(u) = &self.info.username {
                    req = req.basic_auth(u, self.info.password.as_deref());
                }
            }
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let url = self.url(path);
        let resp = req.send().await.map_err(|e| self.transport_error(&url, e))?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| self.transport_error(&url, e))?;
        Ok((status, text))
    }

    fn transport_error(&self, url: &str, e: reqwest::Error) -> BmcError {
        let why = if e.is_timeout() {
            format!("no answer within {} s", self.timeouts.request.as_secs())
        } else {
            root_cause(&e)
        };
        let text =
            format!("Redfish connection failed for node {}: Unable to connect to {url}. Error: {why}", self.node);
        if e.is_timeout() { BmcError::Timeout(text) } else { BmcError::Unreachable(text) }
    }

    /// A request whose answer must be a 2xx; the JSON body, if any.
    async fn request(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value, BmcError> {
        let (status, text) = self.call(method.clone(), path, body).await?;
        let failed = || {
            format!(
                "Redfish exception occurred. Error: HTTP {method} {} returned code {}. {}",
                self.url(path),
                status.as_u16(),
                bmc_message(&text)
            )
        };
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(BmcError::Auth(failed()));
        }
        if !status.is_success() {
            return Err(BmcError::Bmc(failed()));
        }
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text)
            .map_err(|e| BmcError::Protocol(format!("{method} {path}: the BMC sent invalid JSON ({e})")))
    }

    async fn get(&self, path: &str) -> Result<Value, BmcError> {
        self.request(Method::GET, path, None).await
    }

    /// Opens a session when the auth type asks for one (`auto` falls back
    /// to basic when the BMC has no session service).
    pub async fn login(&mut self) -> Result<(), BmcError> {
        if self.info.auth == AuthType::Basic || self.info.username.is_none() || self.session.is_some() {
            return Ok(());
        }
        let body = json!({"UserName": self.info.username, "Password": self.info.password});
        let resp = self
            .http
            .post(self.url("/redfish/v1/SessionService/Sessions"))
            .json(&body)
            .send()
            .await
            .map_err(|e| self.transport_error("/redfish/v1/SessionService/Sessions", e))?;
        let status = resp.status();
        let token = resp.headers().get("X-Auth-Token").and_then(|v| v.to_str().ok()).map(str::to_string);
        let location = resp.headers().get("Location").and_then(|v| v.to_str().ok()).map(str::to_string);
        match (status.is_success(), token) {
            (true, Some(t)) => {
                self.session = Some((t, location));
                Ok(())
            }
            _ if self.info.auth == AuthType::Auto && status != StatusCode::UNAUTHORIZED => Ok(()),
            _ => {
                let text = resp.text().await.unwrap_or_default();
                Err(BmcError::Auth(format!(
                    "Redfish exception occurred. Error: the BMC at {} refused a session (code {}). {}",
                    self.info.address,
                    status.as_u16(),
                    bmc_message(&text)
                )))
            }
        }
    }

    /// Closes the session [`Redfish::login`] opened, if any.
    pub async fn logout(&mut self) {
        if let Some((_, Some(location))) = &self.session {
            let location = location.clone();
            let _ = self.call(Method::DELETE, &location, None).await;
        }
        self.session = None;
    }

    /// The path of the node's ComputerSystem.
    async fn system_path(&self) -> Result<String, BmcError> {
        if let Some(id) = &self.info.system_id {
            return Ok(if id.starts_with('/') { id.clone() } else { format!("/redfish/v1/Systems/{id}") });
        }
        let systems = self.get("/redfish/v1/Systems").await?;
        let members: Vec<&str> =
            systems["Members"].as_array().map(|m| m.iter().filter_map(odata_id).collect()).unwrap_or_default();
        match members.as_slice() {
            [one] => Ok(one.to_string()),
            [] => Err(BmcError::Bmc(
                "Failed at determining default for \"ComputerSystem\": System count is not exactly one (none)".into(),
            )),
            many => Err(BmcError::Config(format!(
                "Failed at determining default for \"ComputerSystem\": System count is not exactly one ({} at {}); \
                 set driver_info/redfish_system_id to one of {}",
                self.info.address,
                many.len(),
                many.join(", ")
            ))),
        }
    }

    async fn system(&self) -> Result<(String, Value), BmcError> {
        let path = self.system_path().await?;
        let s = self.get(&path).await?;
        Ok((path, s))
    }

    pub async fn power_state(&self) -> Result<PowerState, BmcError> {
        let (_, s) = self.system().await?;
        let raw = s["PowerState"].as_str().unwrap_or("");
        power_of(raw).ok_or_else(|| BmcError::Protocol(format!("the system reports an unknown power state {raw:?}")))
    }

    /// Asks for `target` and waits until the system reports it. A hard
    /// reboot is a power off, then a power on, each waited for.
    pub async fn set_power(&self, target: PowerState) -> Result<(), BmcError> {
        let (path, s) = self.system().await?;
        let current = power_of(s["PowerState"].as_str().unwrap_or(""));
        let action = s["Actions"]["#ComputerSystem.Reset"]["target"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| format!("{path}/Actions/ComputerSystem.Reset"));
        let reset = |kind: &'static str| {
            let action = action.clone();
            async move {
                self.request(Method::POST, &action, Some(&json!({"ResetType": kind}))).await.map_err(|e| {
                    BmcError::Bmc(format!("Setting power state to {target} failed for node {}. Error: {e}", self.node))
                })
            }
        };
        match (target, current) {
            (PowerState::On, Some(PowerState::On)) | (PowerState::Off | PowerState::SoftOff, Some(PowerState::Off)) => {
                return Ok(());
            }
            (PowerState::On, _) | (PowerState::Rebooting | PowerState::SoftRebooting, Some(PowerState::Off)) => {
                reset("On").await?
            }
            (PowerState::Off, _) => reset("ForceOff").await?,
            (PowerState::SoftOff, _) => reset("GracefulShutdown").await?,
            (PowerState::SoftRebooting, _) => reset("GracefulRestart").await?,
            (PowerState::Rebooting, _) => {
                reset("ForceOff").await?;
                self.wait_power(&path, PowerState::Off).await?;
                reset("On").await?
            }
        };
        self.wait_power(&path, target.resting()).await
    }

    async fn wait_power(&self, path: &str, want: PowerState) -> Result<(), BmcError> {
        super::wait_for_power(&self.timeouts, want, || async move {
            let s = self.get(path).await?;
            let now = s["PowerState"].as_str().unwrap_or("").to_string();
            // Only the settled state counts, not "PoweringOn".
            let reached = (want == PowerState::On && now == "On") || (want == PowerState::Off && now == "Off");
            Ok((reached, format!("{now:?}")))
        })
        .await
    }

    pub async fn boot_device(&self) -> Result<(Option<BootDevice>, bool), BmcError> {
        let (_, s) = self.system().await?;
        let boot = &s["Boot"];
        let device = boot["BootSourceOverrideTarget"].as_str().and_then(boot_device_of);
        let persistent = boot["BootSourceOverrideEnabled"].as_str() == Some("Continuous");
        Ok((device, persistent))
    }

    pub async fn set_boot_device(&self, device: BootDevice, persistent: bool) -> Result<(), BmcError> {
        let path = self.system_path().await?;
        let enabled = if persistent { "Continuous" } else { "Once" };
        let body = json!({"Boot": {"BootSourceOverrideTarget": redfish_target(device),
                                   "BootSourceOverrideEnabled": enabled}});
        self.request(Method::PATCH, &path, Some(&body))
            .await
            .map_err(|e| BmcError::Bmc(format!("Redfish set boot device failed for node {}. Error: {e}", self.node)))?;
        Ok(())
    }

    /// The CD/DVD virtual media device of the system: under the system
    /// (newer BMCs) or under its manager.
    async fn cd_device(&self) -> Result<Value, BmcError> {
        let (_, s) = self.system().await?;
        let mut collections: Vec<String> = Vec::new();
        if let Some(p) = odata_id(&s["VirtualMedia"]) {
            collections.push(p.to_string());
        }
        for m in s["Links"]["ManagedBy"].as_array().into_iter().flatten().filter_map(odata_id) {
            if let Ok(manager) = self.get(m).await
                && let Some(p) = odata_id(&manager["VirtualMedia"])
            {
                collections.push(p.to_string());
            }
        }
        for c in collections {
            let Ok(list) = self.get(&c).await else { continue };
            for member in list["Members"].as_array().into_iter().flatten().filter_map(odata_id) {
                let dev = self.get(member).await?;
                let types: Vec<&str> = dev["MediaTypes"]
                    .as_array()
                    .map(|t| t.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let is_cd = types.iter().any(|t| matches!(*t, "CD" | "DVD"))
                    || (types.is_empty() && dev["Id"].as_str().is_some_and(|i| i.eq_ignore_ascii_case("cd")));
                if is_cd {
                    return Ok(dev);
                }
            }
        }
        Err(BmcError::Bmc(format!("No suitable virtual media device found for node {}", self.node)))
    }

    /// Inserts an ISO (by URL) into the virtual CD.
    pub async fn insert_cd(&self, image: &str) -> Result<(), BmcError> {
        let dev = self.cd_device().await?;
        let id = odata_id(&dev).unwrap_or_default().to_string();
        if dev["Inserted"].as_bool() == Some(true) {
            if dev["Image"].as_str() == Some(image) {
                return Ok(());
            }
            self.eject_device(&dev, &id).await?;
        }
        let action = dev["Actions"]["#VirtualMedia.InsertMedia"]["target"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| format!("{id}/Actions/VirtualMedia.InsertMedia"));
        let body = json!({"Image": image, "Inserted": true, "WriteProtected": true});
        self.request(Method::POST, &action, Some(&body)).await.map_err(|e| {
            BmcError::Bmc(format!("Virtual media mount failed for node {} with image {image}. Error: {e}", self.node))
        })?;
        Ok(())
    }

    /// Ejects whatever the virtual CD holds.
    pub async fn eject_cd(&self) -> Result<(), BmcError> {
        let dev = self.cd_device().await?;
        if dev["Inserted"].as_bool() != Some(true) {
            return Ok(());
        }
        let id = odata_id(&dev).unwrap_or_default().to_string();
        self.eject_device(&dev, &id).await
    }

    async fn eject_device(&self, dev: &Value, id: &str) -> Result<(), BmcError> {
        let action = dev["Actions"]["#VirtualMedia.EjectMedia"]["target"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| format!("{id}/Actions/VirtualMedia.EjectMedia"));
        self.request(Method::POST, &action, Some(&json!({}))).await?;
        Ok(())
    }

    /// Out-of-band inspection: what the BMC knows of the system's CPUs,
    /// memory, disks and NICs, as an agent-shaped inventory. Parts the BMC
    /// does not report are left empty (and named in `missing`).
    pub async fn inspect(&self) -> Result<Inventory, BmcError> {
        let (_, s) = self.system().await?;
        let system_vendor = SystemVendor {
            manufacturer: s["Manufacturer"].as_str().unwrap_or_default().to_string(),
            product_name: s["Model"].as_str().unwrap_or_default().to_string(),
            serial_number: s["SerialNumber"].as_str().unwrap_or_default().to_string(),
        };
        let boot = match s["Boot"]["BootSourceOverrideMode"].as_str() {
            Some("UEFI") => Some(Boot { current_boot_mode: Some("uefi".into()), pxe_interface: None }),
            Some("Legacy") => Some(Boot { current_boot_mode: Some("bios".into()), pxe_interface: None }),
            _ => None,
        };
        let gib = s["MemorySummary"]["TotalSystemMemoryGiB"].as_f64();
        Ok(Inventory {
            cpu: self.cpu(&s).await,
            memory: Memory { physical_mb: gib.map(|g| (g * 1024.0).round() as u64), total: None },
            disks: self.disks(&s).await,
            interfaces: self.nics(&s).await?,
            system_vendor,
            boot,
            ..Default::default()
        })
    }

    /// CPUs: the threads of every processor (the summary's count when there
    /// is no processor list), the first one's architecture and model.
    async fn cpu(&self, s: &Value) -> Cpu {
        let mut cpu = Cpu { count: s["ProcessorSummary"]["Count"].as_u64(), ..Default::default() };
        let Some(p) = odata_id(&s["Processors"]) else { return cpu };
        let Ok(list) = self.get(p).await else { return cpu };
        let mut threads = 0;
        for m in list["Members"].as_array().into_iter().flatten().filter_map(odata_id) {
            let Ok(proc_) = self.get(m).await else { continue };
            if proc_["ProcessorType"].as_str().is_some_and(|t| t != "CPU") {
                continue;
            }
            threads += proc_["TotalThreads"].as_u64().or(proc_["TotalCores"].as_u64()).unwrap_or(0);
            if cpu.architecture.is_none() {
                cpu.architecture = arch_of(&proc_);
                cpu.model_name = proc_["Model"].as_str().map(str::to_string);
                cpu.frequency = proc_["MaxSpeedMHz"].as_u64().map(|m| m.to_string());
            }
        }
        if threads > 0 {
            cpu.count = Some(threads);
        }
        cpu
    }

    async fn disks(&self, s: &Value) -> Vec<Disk> {
        let mut disks = Vec::new();
        if let Some(p) = odata_id(&s["Storage"])
            && let Ok(list) = self.get(p).await
        {
            for m in list["Members"].as_array().into_iter().flatten().filter_map(odata_id) {
                let Ok(st) = self.get(m).await else { continue };
                for d in st["Drives"].as_array().into_iter().flatten().filter_map(odata_id) {
                    let Ok(drive) = self.get(d).await else { continue };
                    if let Some(size) = drive["CapacityBytes"].as_u64() {
                        disks.push(Disk {
                            name: drive["Id"].as_str().unwrap_or_default().to_string(),
                            model: drive["Model"].as_str().unwrap_or_default().to_string(),
                            size,
                            rotational: drive["MediaType"].as_str() == Some("HDD"),
                            serial: drive["SerialNumber"].as_str().map(str::to_string),
                            vendor: drive["Manufacturer"].as_str().map(str::to_string),
                        });
                    }
                }
            }
        }
        if disks.is_empty()
            && let Some(p) = odata_id(&s["SimpleStorage"])
            && let Ok(list) = self.get(p).await
        {
            for m in list["Members"].as_array().into_iter().flatten().filter_map(odata_id) {
                let Ok(st) = self.get(m).await else { continue };
                for d in st["Devices"].as_array().into_iter().flatten() {
                    if let Some(size) = d["CapacityBytes"].as_u64() {
                        disks.push(Disk {
                            name: d["Name"].as_str().unwrap_or_default().to_string(),
                            model: d["Model"].as_str().unwrap_or_default().to_string(),
                            size,
                            rotational: false,
                            serial: None,
                            vendor: d["Manufacturer"].as_str().map(str::to_string),
                        });
                    }
                }
            }
        }
        disks
    }

    async fn nics(&self, s: &Value) -> Result<Vec<Interface>, BmcError> {
        let mut nics = Vec::new();
        let Some(p) = odata_id(&s["EthernetInterfaces"]) else { return Ok(nics) };
        let list = self.get(p).await?;
        for m in list["Members"].as_array().into_iter().flatten().filter_map(odata_id) {
            let nic = self.get(m).await?;
            let mac = nic["MACAddress"].as_str().or(nic["PermanentMACAddress"].as_str());
            let Some(mac) = mac.and_then(super::inventory::normal_mac) else { continue };
            let state = nic["Status"]["State"].as_str();
            nics.push(Interface {
                name: nic["Id"].as_str().unwrap_or_default().to_string(),
                mac_address: mac,
                ipv4_address: nic["IPv4Addresses"][0]["Address"].as_str().map(str::to_string),
                has_carrier: state.is_none_or(|s| s == "Enabled") && nic["LinkStatus"].as_str() != Some("LinkDown"),
                speed_mbps: nic["SpeedMbps"].as_u64(),
                pxe_enabled: None,
            });
        }
        Ok(nics)
    }
}

/// `cpu_arch` as Ironic names it, from a processor's instruction set (or,
/// failing that, its architecture).
fn arch_of(p: &Value) -> Option<String> {
    let a = p["InstructionSet"].as_str().or(p["ProcessorArchitecture"].as_str())?;
    let arch = match a {
        "x86-64" | "x86" => "x86_64",
        "IA-64" => "ia64",
        "ARM-A64" => "aarch64",
        "ARM-A32" | "ARM" => "arm",
        "PowerISA" | "Power" => "ppc64le",
        "MIPS64" => "mips64",
        "MIPS32" | "MIPS" => "mips",
        _ => return None,
    };
    Some(arch.to_string())
}

fn root_cause(e: &dyn std::error::Error) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// How long to wait before giving up on a BMC, per call and per power change.
pub fn default_timeouts() -> BmcTimeouts {
    BmcTimeouts {
        connect: Duration::from_secs(5),
        request: Duration::from_secs(30),
        power_wait: Duration::from_secs(60),
        poll: Duration::from_secs(1),
        agent_command: Duration::from_secs(1800),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(v: Value) -> Result<RedfishInfo, String> {
        RedfishInfo::parse(v.as_object().unwrap(), "n1")
    }

    #[test]
    fn driver_info_is_read_as_ironic_reads_it() {
        let i = info(json!({"redfish_address": "10.0.0.5", "redfish_username": "u", "redfish_password": "p"})).unwrap();
        assert_eq!(i.address, "https://10.0.0.5");
        assert_eq!(i.verify_ca, VerifyCa::Yes);
        assert_eq!(i.auth, AuthType::Auto);
        let i = info(json!({"redfish_address": "http://127.0.0.1:8000/", "redfish_verify_ca": "False",
            "redfish_system_id": "/redfish/v1/Systems/1", "redfish_auth_type": "basic"}))
        .unwrap();
        assert_eq!(i.address, "http://127.0.0.1:8000");
        assert_eq!(i.verify_ca, VerifyCa::No);
        assert_eq!(i.system_id.as_deref(), Some("/redfish/v1/Systems/1"));
        assert!(info(json!({})).unwrap_err().contains("redfish_address"));
        assert!(info(json!({"redfish_address": "ftp://x"})).unwrap_err().contains("Invalid Redfish address"));
        assert!(
            info(json!({"redfish_address": "x", "redfish_verify_ca": "/no/such"})).unwrap_err().contains("verify_ca")
        );
        assert!(info(json!({"redfish_address": "x", "redfish_auth_type": "kerberos"})).is_err());
    }

    #[test]
    fn bmc_errors_keep_the_bmc_words() {
        let body = r#"{"error": {"code": "Base.1.0.GeneralError", "message": "Not implemented",
            "@Message.ExtendedInfo": [{"Message": "The action is not supported."}]}}"#;
        assert_eq!(
            bmc_message(body),
            "Base.1.0.GeneralError: Not implemented Extended information: The action is not supported."
        );
        assert_eq!(bmc_message("<html>"), "Base.1.0.GeneralError: the BMC gave no Redfish error body");
    }

    #[test]
    fn power_states_map() {
        assert_eq!(power_of("PoweringOn"), Some(PowerState::On));
        assert_eq!(power_of("Off"), Some(PowerState::Off));
        assert_eq!(power_of("Weird"), None);
    }
}
