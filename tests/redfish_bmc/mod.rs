//! A Redfish BMC for tests, written from the DMTF schema's resource shapes:
//! one ComputerSystem with processors, memory summary, storage with
//! drives, NICs, a CD virtual media device under its manager, and the
//! Reset action. It can be told to misbehave (500s, hang, never reach the
//! requested power state, refuse the credentials) to test how ironbark
//! copes with a bad BMC.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::mock_http::{Answer, Request, reply, serve};

pub const SYSTEM: &str = "/redfish/v1/Systems/437XR1138R2";
pub const USER: &str = "root";
pub const PASSWORD: &str = "calvin";
const SESSION: &str = "5c8bb3b1a31e4a01";

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    Normal,
    /// Every POST and PATCH answers 500 with a Redfish error body.
    Fail500,
    /// Connections are accepted and never answered.
    Hang,
    /// Resets are accepted but the power state never changes.
    Stuck,
}

#[derive(Debug)]
pub struct State {
    pub mode: Mode,
    pub power: String,
    pub boot_target: String,
    pub boot_enabled: String,
    pub cd_image: Option<String>,
    /// `METHOD path` of every request, in order.
    pub requests: Vec<String>,
    /// Bodies of the resets asked for.
    pub resets: Vec<String>,
    /// Sessions open now.
    pub sessions: i64,
}

pub struct Bmc {
    pub url: String,
    pub state: Arc<Mutex<State>>,
}

#[allow(dead_code)] // each test crate uses its part
impl Bmc {
    pub fn start() -> Bmc {
        let state = Arc::new(Mutex::new(State {
            mode: Mode::Normal,
            power: "Off".into(),
            boot_target: "Hdd".into(),
            boot_enabled: "Disabled".into(),
            cd_image: None,
            requests: Vec::new(),
            resets: Vec::new(),
            sessions: 0,
        }));
        let shared = state.clone();
        let url = serve(move |req| answer(req, &shared));
        Bmc { url, state }
    }

    pub fn set_mode(&self, m: Mode) {
        self.state.lock().unwrap().mode = m;
    }

    pub fn power(&self) -> String {
        self.state.lock().unwrap().power.clone()
    }
}

/// A port nothing listens on.
pub fn closed_port_url() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    format!("http://{addr}")
}

fn answer(req: Request, st: &Mutex<State>) -> Answer {
    let Request { method, path, headers, body } = req;
    let mode = {
        let mut s = st.lock().unwrap();
        s.requests.push(format!("{method} {path}"));
        s.mode
    };
    if mode == Mode::Hang {
        return Answer::Hang;
    }
    let expected = format!("Basic {}", base64(&format!("{USER}:{PASSWORD}")));
    let session = format!("/redfish/v1/SessionService/Sessions/{SESSION}");
    if method == "POST" && path == "/redfish/v1/SessionService/Sessions" {
        // Sessions are opened without other credentials than the body's.
        if body["UserName"] == USER && body["Password"] == PASSWORD {
            st.lock().unwrap().sessions += 1;
            return Answer::Reply {
                status: 201,
                headers: vec![("X-Auth-Token".into(), SESSION.into()), ("Location".into(), session.clone())],
                body: json!({"@odata.id": session, "Id": SESSION, "UserName": USER}),
            };
        }
        return reply(
            401,
            error("Base.1.0.NoValidSession", "There is no valid session established with the implementation."),
        );
    }
    if method == "DELETE" && path == session {
        st.lock().unwrap().sessions -= 1;
        return reply(204, Value::Null);
    }
    let auth = headers.get("authorization").map(String::as_str);
    let token = headers.get("x-auth-token").map(String::as_str);
    if auth != Some(expected.as_str()) && token != Some(SESSION) {
        return reply(
            401,
            error("Base.1.0.InsufficientPrivilege", "There are insufficient privileges for the account."),
        );
    }
    if mode == Mode::Fail500 && method != "GET" {
        return reply(500, error("Base.1.0.InternalError", "The request failed due to an internal service error."));
    }
    let (status, body) = route(&method, &path, &body, &mut st.lock().unwrap());
    reply(status, body)
}

fn error(code: &str, message: &str) -> Value {
    json!({"error": {"code": code, "message": message,
        "@Message.ExtendedInfo": [{"MessageId": code, "Message": message}]}})
}

fn link(p: &str) -> Value {
    json!({"@odata.id": p})
}

fn route(method: &str, path: &str, body: &Value, s: &mut State) -> (u16, Value) {
    let nic = |id: &str, mac: &str, link: &str| {
        json!({"@odata.id": format!("{SYSTEM}/EthernetInterfaces/{id}"), "Id": id, "MACAddress": mac,
               "LinkStatus": link, "SpeedMbps": 25000, "Status": {"State": "Enabled", "Health": "OK"}})
    };
    let drive = |id: &str, bytes: u64| {
        json!({"@odata.id": format!("{SYSTEM}/Storage/1/Drives/{id}"), "Id": id, "Model": "PM1733",
               "CapacityBytes": bytes, "MediaType": "SSD", "SerialNumber": format!("S{id}"), "Manufacturer": "Samsung"})
    };
    let cpu = |id: &str| {
        json!({"@odata.id": format!("{SYSTEM}/Processors/{id}"), "Id": id, "ProcessorType": "CPU",
               "ProcessorArchitecture": "x86", "InstructionSet": "x86-64", "Model": "Intel Xeon Gold 6338",
               "MaxSpeedMHz": 3200, "TotalCores": 8, "TotalThreads": 16})
    };
    let cd = "/redfish/v1/Managers/BMC/VirtualMedia/CD1".to_string();
    match (method, path) {
        ("GET", "/redfish/v1/Systems") => (200, json!({"Members": [link(SYSTEM)], "Members@odata.count": 1})),
        ("GET", p) if p == SYSTEM => (
            200,
            json!({
                "@odata.id": SYSTEM, "Id": "437XR1138R2", "Manufacturer": "Contoso", "Model": "3500RX",
                "SerialNumber": "437XR1138R2", "PowerState": s.power,
                "Boot": {"BootSourceOverrideTarget": s.boot_target, "BootSourceOverrideEnabled": s.boot_enabled,
                         "BootSourceOverrideMode": "UEFI"},
                "ProcessorSummary": {"Count": 2, "Model": "Intel Xeon Gold 6338"},
                "MemorySummary": {"TotalSystemMemoryGiB": 64},
                "Processors": link(&format!("{SYSTEM}/Processors")),
                "Storage": link(&format!("{SYSTEM}/Storage")),
                "EthernetInterfaces": link(&format!("{SYSTEM}/EthernetInterfaces")),
                "Links": {"ManagedBy": [link("/redfish/v1/Managers/BMC")]},
                "Actions": {"#ComputerSystem.Reset": {"target": format!("{SYSTEM}/Actions/ComputerSystem.Reset"),
                    "ResetType@Redfish.AllowableValues": ["On", "ForceOff", "GracefulShutdown", "ForceRestart"]}}
            }),
        ),
        ("PATCH", p) if p == SYSTEM => {
            if let Some(t) = body["Boot"]["BootSourceOverrideTarget"].as_str() {
                s.boot_target = t.into();
            }
            if let Some(e) = body["Boot"]["BootSourceOverrideEnabled"].as_str() {
                s.boot_enabled = e.into();
            }
            (204, Value::Null)
        }
        ("POST", p) if p == format!("{SYSTEM}/Actions/ComputerSystem.Reset") => {
            let kind = body["ResetType"].as_str().unwrap_or_default().to_string();
            s.resets.push(kind.clone());
            if s.mode != Mode::Stuck {
                s.power = match kind.as_str() {
                    "On" | "ForceRestart" | "GracefulRestart" => "On",
                    _ => "Off",
                }
                .into();
            }
            (204, Value::Null)
        }
        ("GET", p) if p == format!("{SYSTEM}/Processors") => (
            200,
            json!({"Members": [link(&format!("{SYSTEM}/Processors/CPU1")), link(&format!("{SYSTEM}/Processors/CPU2"))]}),
        ),
        ("GET", p) if p.starts_with(&format!("{SYSTEM}/Processors/")) => (200, cpu(p.rsplit('/').next().unwrap())),
        ("GET", p) if p == format!("{SYSTEM}/Storage") => {
            (200, json!({"Members": [link(&format!("{SYSTEM}/Storage/1"))]}))
        }
        ("GET", p) if p == format!("{SYSTEM}/Storage/1") => (
            200,
            json!({"Id": "1", "Drives": [link(&format!("{SYSTEM}/Storage/1/Drives/D1")),
                                          link(&format!("{SYSTEM}/Storage/1/Drives/D2"))]}),
        ),
        ("GET", p) if p == format!("{SYSTEM}/Storage/1/Drives/D1") => (200, drive("D1", 960_197_124_096)),
        ("GET", p) if p == format!("{SYSTEM}/Storage/1/Drives/D2") => (200, drive("D2", 480_103_981_056)),
        ("GET", p) if p == format!("{SYSTEM}/EthernetInterfaces") => (
            200,
            json!({"Members": [link(&format!("{SYSTEM}/EthernetInterfaces/NIC1")),
                               link(&format!("{SYSTEM}/EthernetInterfaces/NIC2")),
                               link(&format!("{SYSTEM}/EthernetInterfaces/NIC3"))]}),
        ),
        ("GET", p) if p.ends_with("/NIC1") => (200, nic("NIC1", "F8:BC:12:00:00:01", "LinkUp")),
        ("GET", p) if p.ends_with("/NIC2") => (200, nic("NIC2", "F8:BC:12:00:00:02", "LinkUp")),
        ("GET", p) if p.ends_with("/NIC3") => (200, nic("NIC3", "F8:BC:12:00:00:03", "LinkDown")),
        ("GET", "/redfish/v1/Managers/BMC") => {
            (200, json!({"Id": "BMC", "VirtualMedia": link("/redfish/v1/Managers/BMC/VirtualMedia")}))
        }
        ("GET", "/redfish/v1/Managers/BMC/VirtualMedia") => (200, json!({"Members": [link(&cd)]})),
        ("GET", p) if p == cd => (
            200,
            json!({"@odata.id": cd, "Id": "CD1", "MediaTypes": ["CD", "DVD"], "Image": s.cd_image,
                   "Inserted": s.cd_image.is_some(),
                   "Actions": {"#VirtualMedia.InsertMedia": {"target": format!("{cd}/Actions/VirtualMedia.InsertMedia")},
                               "#VirtualMedia.EjectMedia": {"target": format!("{cd}/Actions/VirtualMedia.EjectMedia")}}}),
        ),
        ("POST", p) if p == format!("{cd}/Actions/VirtualMedia.InsertMedia") => {
            s.cd_image = body["Image"].as_str().map(str::to_string);
            (204, Value::Null)
        }
        ("POST", p) if p == format!("{cd}/Actions/VirtualMedia.EjectMedia") => {
            s.cd_image = None;
            (204, Value::Null)
        }
        _ => (404, error("Base.1.0.ResourceMissingAtURI", &format!("The resource at the URI {path} was not found."))),
    }
}

fn base64(s: &str) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::new();
    for chunk in b.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
