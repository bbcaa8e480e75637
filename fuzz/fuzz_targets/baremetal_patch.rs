//! `PATCH /v1/nodes/{id}`: the body is applied to a node's document by
//! the bare-metal API's `apply_patch`, as the node handler does.
//!
//! Checks: no panic; on success the document is still an object, only the
//! reported roots changed, every reported root is patchable, and no
//! top-level field appeared.
#![no_main]

use ironbark::api::baremetal::apply_patch;
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

/// A node's patchable document as the node handler builds it (`raw_doc`).
fn node() -> Value {
    json!({
        "uuid": "1be26c0b-03f2-4d2e-ae87-c02d7f33c123",
        "name": "node-1",
        "driver": "redfish",
        "driver_info": {"redfish_address": "https://10.0.0.5", "redfish_username": "root",
                        "redfish_password": "******", "redfish_system_id": "/redfish/v1/Systems/1"},
        "driver_internal_info": {"clean_steps": null, "agent_url": "http://10.1.0.9:9999"},
        "properties": {"cpus": 32, "memory_mb": 262144, "local_gb": 894, "cpu_arch": "x86_64",
                       "capabilities": "boot_mode:uefi", "root_device": {"serial": "S3EW"}},
        "extra": {"rack": "r12", "tags": ["a", "b"]},
        "instance_info": {"image_source": "http://images/focal.qcow2", "root_gb": "10"},
        "instance_uuid": null,
        "instance_name": null,
        "chassis_uuid": null,
        "maintenance": false,
        "resource_class": "baremetal.large",
        "conductor_group": "",
        "automated_clean": null,
        "protected": false,
        "protected_reason": null,
        "owner": "f2c8b1d6b4f84f0c9c6a8c1b5f7c0d11",
        "lessee": null,
        "description": "rack 12, slot 4",
        "retired": false,
        "retired_reason": null,
        "network_data": {"links": [], "networks": [], "services": []},
        "shard": null,
        "parent_node": null,
        "disable_power_off": false,
        "boot_interface": "redfish-virtual-media",
        "deploy_interface": "direct",
        "power_interface": "redfish",
        "management_interface": "redfish",
        "network_interface": "flat",
        "vendor_interface": null,
    })
}

/// Never patchable: everything else in the document is (as in the node
/// handler's list).
const FIXED: &[&str] = &["uuid", "driver_internal_info"];

fuzz_target!(|body: &[u8]| {
    let before = node();
    let Value::Object(b) = &before else { unreachable!() };
    let allowed: Vec<&str> = b.keys().map(String::as_str).filter(|k| !FIXED.contains(k)).collect();
    let mut doc = before.clone();
    let Ok(roots) = apply_patch(&mut doc, body, &allowed, "node") else { return };
    let Value::Object(a) = &doc else { panic!("a patched node is not an object: {doc}") };
    for r in &roots {
        assert!(allowed.contains(&r.as_str()), "root {r:?} is not patchable");
    }
    for (k, v) in a {
        let old = b.get(k).unwrap_or_else(|| panic!("the patch added the top-level field {k:?}"));
        assert!(roots.contains(k) || old == v, "{k:?} changed without being patched");
    }
    for k in b.keys() {
        assert!(a.contains_key(k) || roots.contains(k), "{k:?} vanished without being patched");
    }
});
