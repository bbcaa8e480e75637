//! Inspection rules (`/v1/inspection_rules`) run when an inspection
//! finishes: each rule whose conditions all hold runs its actions on the
//! node, its ports and the plugin data, highest priority first.
//!
//! Arguments are interpolated: `{inventory[cpu][count]}`,
//! `{node.properties[cpus]}`, `{plugin_data[root_disk][name]}`, `{item}`
//! inside a loop. An argument that is exactly one placeholder takes the
//! value itself (a number stays a number); placeholders inside a longer
//! text are replaced by their text.

use regex::Regex;
use serde_json::{Map, Value, json};

use crate::storage::baremetal::{Node, Port};
use crate::storage::inspection::Rule;

/// What the rules see and change.
pub struct Subject<'a> {
    pub node: &'a mut Node,
    pub ports: &'a mut Vec<Port>,
    pub inventory: &'a Value,
    pub plugin_data: &'a mut Value,
    /// Lines of `log` actions (and skipped actions), for the node's history.
    pub log: Vec<(String, String)>,
}

/// A `fail` action, or a rule that cannot run: the inspection fails.
#[derive(Debug, PartialEq)]
pub struct RuleFailure(pub String);

fn node_json(n: &Node) -> Value {
    let j = |s: &str| serde_json::from_str::<Value>(s).unwrap_or(Value::Null);
    json!({
        "uuid": n.uuid, "name": n.name, "driver": n.driver, "driver_info": j(&n.driver_info),
        "properties": j(&n.properties), "extra": j(&n.extra), "instance_info": j(&n.instance_info),
        "resource_class": n.resource_class, "description": n.description, "owner": n.owner, "lessee": n.lessee,
        "provision_state": n.provision_state, "traits": j(&n.traits), "conductor_group": n.conductor_group,
        "shard": n.shard,
    })
}

/// `a[b][0]` / `a.b` → the value under it.
fn lookup<'v>(root: &'v Value, path: &str) -> Option<&'v Value> {
    let mut cur = root;
    let parts = path.replace(']', "").replace('[', ".");
    for p in parts.split('.').filter(|p| !p.is_empty()) {
        cur = match cur {
            Value::Object(m) => m.get(p)?,
            Value::Array(a) => a.get(p.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        other => other.to_string(),
    }
}

struct Scope<'a> {
    node: Value,
    inventory: &'a Value,
    plugin_data: Value,
    item: Option<Value>,
}

impl Scope<'_> {
    fn resolve(&self, expr: &str) -> Option<Value> {
        let (head, rest) = match expr.find(['.', '[']) {
            Some(i) => (&expr[..i], &expr[i..]),
            None => (expr, ""),
        };
        let root = match head {
            "node" => &self.node,
            "inventory" => self.inventory,
            "plugin_data" => &self.plugin_data,
            "item" => self.item.as_ref()?,
            _ => return None,
        };
        lookup(root, rest).cloned()
    }

    /// Interpolates the placeholders of every string in `v`.
    fn interpolate(&self, v: &Value) -> Result<Value, RuleFailure> {
        Ok(match v {
            Value::String(s) => {
                let re = Regex::new(r"\{([A-Za-z_][A-Za-z0-9_.\[\]-]*)\}").expect("valid pattern");
                if let Some(c) = re.captures(s)
                    && c.get(0).is_some_and(|m| m.as_str() == s)
                {
                    return self
                        .resolve(&c[1])
                        .ok_or_else(|| RuleFailure(format!("Cannot interpolate {s}: nothing at that path")));
                }
                let mut missing = None;
                let out = re.replace_all(s, |c: &regex::Captures| match self.resolve(&c[1]) {
                    Some(v) => as_text(&v),
                    None => {
                        missing = Some(c[0].to_string());
                        String::new()
                    }
                });
                if let Some(m) = missing {
                    return Err(RuleFailure(format!("Cannot interpolate {m}: nothing at that path")));
                }
                Value::String(out.into_owned())
            }
            Value::Array(a) => Value::Array(a.iter().map(|x| self.interpolate(x)).collect::<Result<_, _>>()?),
            Value::Object(m) => Value::Object(
                m.iter().map(|(k, x)| Ok((k.clone(), self.interpolate(x)?))).collect::<Result<_, RuleFailure>>()?,
            ),
            other => other.clone(),
        })
    }
}

fn number(v: &Value) -> Option<f64> {
    v.as_f64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::String(s) => matches!(s.to_ascii_lowercase().as_str(), "true" | "yes" | "1" | "on" | "t" | "y"),
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        _ => false,
    }
}

fn in_net(address: &str, subnet: &str) -> bool {
    let Some((net, bits)) = subnet.split_once('/') else { return address == subnet };
    let (Ok(addr), Ok(net), Ok(bits)) =
        (address.parse::<std::net::IpAddr>(), net.parse::<std::net::IpAddr>(), bits.parse::<u32>())
    else {
        return false;
    };
    match (addr, net) {
        (std::net::IpAddr::V4(a), std::net::IpAddr::V4(n)) if bits <= 32 => {
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (std::net::IpAddr::V6(a), std::net::IpAddr::V6(n)) if bits <= 128 => {
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - bits) };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// One condition operator on interpolated arguments.
fn check(op: &str, a: &Map<String, Value>) -> Result<bool, RuleFailure> {
    let arg = |k: &str| a.get(k).cloned().unwrap_or(Value::Null);
    let force = a.get("force_strings").is_some_and(truthy);
    let values: Vec<Value> = a.get("values").and_then(Value::as_array).cloned().unwrap_or_default();
    let pair = || -> Result<(Value, Value), RuleFailure> {
        match values.as_slice() {
            [x, y] => Ok((x.clone(), y.clone())),
            _ => Err(RuleFailure(format!("{op} needs two values"))),
        }
    };
    Ok(match op {
        "eq" => {
            let first = values.first().cloned().unwrap_or(Value::Null);
            values.iter().all(|v| {
                if force {
                    as_text(v) == as_text(&first)
                } else {
                    match (number(v), number(&first)) {
                        (Some(x), Some(y)) if v.is_number() || first.is_number() => x == y,
                        _ => *v == first,
                    }
                }
            })
        }
        "lt" | "gt" => {
            let (x, y) = pair()?;
            let ord = match (force, number(&x), number(&y)) {
                (false, Some(x), Some(y)) => x.partial_cmp(&y),
                _ => Some(as_text(&x).cmp(&as_text(&y))),
            };
            ord == Some(if op == "lt" { std::cmp::Ordering::Less } else { std::cmp::Ordering::Greater })
        }
        "is-empty" => match arg("value") {
            Value::Null => true,
            Value::String(s) => s.is_empty(),
            Value::Array(v) => v.is_empty(),
            Value::Object(m) => m.is_empty(),
            _ => false,
        },
        "is-none" => arg("value").is_null(),
        "is-true" => truthy(&arg("value")),
        "is-false" => !truthy(&arg("value")) && !arg("value").is_null(),
        "in-net" => in_net(&as_text(&arg("address")), &as_text(&arg("subnet"))),
        "matches" | "contains" => {
            let re = Regex::new(&as_text(&arg("regex")))
                .map_err(|e| RuleFailure(format!("Invalid regular expression in {op}: {e}")))?;
            let text = as_text(&arg("value"));
            if op == "matches" { re.find(&text).is_some_and(|m| m.start() == 0) } else { re.is_match(&text) }
        }
        "one-of" => {
            let v = arg("value");
            values.contains(&v)
        }
        other => return Err(RuleFailure(format!("Unsupported operator: '{other}'"))),
    })
}

/// The arguments of a condition or action as an object (the deprecated
/// list form is given the operator's positional names).
fn args_of(step: &Value) -> Map<String, Value> {
    match &step["args"] {
        Value::Object(m) => m.clone(),
        Value::Array(list) => {
            let names: &[&str] = match step["op"].as_str().unwrap_or_default().trim_start_matches('!') {
                "eq" | "lt" | "gt" | "one-of" => &["values"],
                "set-attribute" | "extend-attribute" | "set-plugin-data" | "extend-plugin-data" => &["path", "value"],
                "set-capability" => &["name", "value"],
                "fail" | "log" => &["msg"],
                "in-net" => &["address", "subnet"],
                "matches" | "contains" => &["value", "regex"],
                _ => &["value"],
            };
            if names == ["values"] {
                return [("values".to_string(), Value::Array(list.clone()))].into_iter().collect();
            }
            names.iter().zip(list).map(|(n, v)| (n.to_string(), v.clone())).collect()
        }
        _ => Map::new(),
    }
}

/// The items a step loops over, or one pass with no item.
fn items_of(scope: &Scope, step: &Value) -> Result<Option<Vec<Value>>, RuleFailure> {
    match step.get("loop") {
        None | Some(Value::Null) => Ok(None),
        Some(l) => match scope.interpolate(l)? {
            Value::Array(a) => Ok(Some(a)),
            Value::Object(m) => Ok(Some(m.into_iter().map(|(k, v)| json!({"key": k, "value": v})).collect())),
            other => Ok(Some(vec![other])),
        },
    }
}

fn condition_holds(scope: &mut Scope, cond: &Value) -> Result<bool, RuleFailure> {
    let raw = cond["op"].as_str().unwrap_or_default();
    let (negate, op) = match raw.strip_prefix('!') {
        Some(op) => (true, op),
        None => (false, raw),
    };
    let run = |scope: &Scope| -> Result<bool, RuleFailure> {
        let args = match scope.interpolate(&Value::Object(args_of(cond)))? {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        Ok(check(op, &args)? != negate)
    };
    let Some(items) = items_of(scope, cond)? else { return run(scope) };
    let mut results = Vec::new();
    for it in items {
        scope.item = Some(it);
        results.push(run(scope)?);
    }
    scope.item = None;
    Ok(match cond["multiple"].as_str().unwrap_or("any") {
        "all" => results.iter().all(|r| *r),
        "first" => results.first().copied().unwrap_or(false),
        "last" => results.last().copied().unwrap_or(false),
        _ => results.iter().any(|r| *r),
    })
}

/// Splits `/a/b` or `a.b` into segments.
fn segments(path: &str) -> Vec<String> {
    let p = path.trim_start_matches('/');
    let sep = if p.contains('/') { '/' } else { '.' };
    p.split(sep).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

/// Sets, extends or deletes `rest` inside a JSON document.
fn edit(doc: &mut Value, rest: &[String], change: &Change) -> Result<(), RuleFailure> {
    let Some((last, parents)) = rest.split_last() else {
        return Err(RuleFailure("an attribute path needs a key".into()));
    };
    let mut cur = doc;
    for p in parents {
        if !cur.is_object() {
            *cur = json!({});
        }
        cur = cur.as_object_mut().expect("object").entry(p.clone()).or_insert_with(|| json!({}));
    }
    if !cur.is_object() {
        *cur = json!({});
    }
    let m = cur.as_object_mut().expect("object");
    match change {
        Change::Set(v) => {
            m.insert(last.clone(), v.clone());
        }
        Change::Extend(v, unique) => {
            let list = m.entry(last.clone()).or_insert_with(|| json!([]));
            if !list.is_array() {
                *list = json!([]);
            }
            let list = list.as_array_mut().expect("array");
            if !(*unique && list.contains(v)) {
                list.push(v.clone());
            }
        }
        Change::Delete => {
            m.remove(last);
        }
    }
    Ok(())
}

enum Change {
    Set(Value),
    Extend(Value, bool),
    Delete,
}

const NODE_DICTS: [&str; 4] = ["properties", "extra", "driver_info", "instance_info"];
const NODE_TEXTS: [&str; 7] = ["name", "description", "resource_class", "owner", "lessee", "shard", "conductor_group"];

fn edit_node(n: &mut Node, path: &str, change: &Change) -> Result<(), RuleFailure> {
    let segs = segments(path);
    let Some(first) = segs.first() else { return Err(RuleFailure("empty attribute path".into())) };
    if NODE_DICTS.contains(&first.as_str()) {
        let text = match first.as_str() {
            "properties" => &mut n.properties,
            "extra" => &mut n.extra,
            "driver_info" => &mut n.driver_info,
            _ => &mut n.instance_info,
        };
        let mut doc: Value = serde_json::from_str(text).unwrap_or_else(|_| json!({}));
        edit(&mut doc, &segs[1..], change)?;
        *text = doc.to_string();
        return Ok(());
    }
    if segs.len() == 1 && NODE_TEXTS.contains(&first.as_str()) {
        let v = match change {
            Change::Set(v) => (!v.is_null()).then(|| as_text(v)),
            Change::Delete => None,
            Change::Extend(..) => return Err(RuleFailure(format!("{first} is not a list"))),
        };
        match first.as_str() {
            "name" => n.name = v,
            "description" => n.description = v,
            "resource_class" => n.resource_class = v,
            "owner" => n.owner = v,
            "lessee" => n.lessee = v,
            "shard" => n.shard = v,
            _ => n.conductor_group = v.unwrap_or_default(),
        }
        return Ok(());
    }
    Err(RuleFailure(format!("Cannot change node attribute {path}")))
}

fn edit_port(p: &mut Port, path: &str, change: &Change) -> Result<(), RuleFailure> {
    let segs = segments(path);
    match segs.first().map(String::as_str) {
        Some(f @ ("extra" | "local_link_connection")) => {
            let text = if f == "extra" { &mut p.extra } else { &mut p.local_link_connection };
            let mut doc: Value = serde_json::from_str(text).unwrap_or_else(|_| json!({}));
            edit(&mut doc, &segs[1..], change)?;
            *text = doc.to_string();
            Ok(())
        }
        Some("physical_network") => {
            p.physical_network = match change {
                Change::Set(v) if !v.is_null() => Some(as_text(v)),
                _ => None,
            };
            Ok(())
        }
        Some("pxe_enabled") => {
            p.pxe_enabled = matches!(change, Change::Set(v) if truthy(v));
            Ok(())
        }
        _ => Err(RuleFailure(format!("Cannot change port attribute {path}"))),
    }
}

fn capabilities(n: &Node) -> Vec<(String, String)> {
    let props: Value = serde_json::from_str(&n.properties).unwrap_or(Value::Null);
    props["capabilities"]
        .as_str()
        .unwrap_or_default()
        .split(',')
        .filter_map(|c| c.trim().split_once(':').map(|(k, v)| (k.to_string(), v.to_string())))
        .collect()
}

fn set_capabilities(n: &mut Node, caps: &[(String, String)]) -> Result<(), RuleFailure> {
    let text: Vec<String> = caps.iter().map(|(k, v)| format!("{k}:{v}")).collect();
    edit_node(n, "properties/capabilities", &Change::Set(Value::String(text.join(","))))
}

fn run_action(s: &mut Subject, scope: &Scope, action: &Value) -> Result<(), RuleFailure> {
    let op = action["op"].as_str().unwrap_or_default();
    let a = match scope.interpolate(&Value::Object(args_of(action)))? {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let arg = |k: &str| a.get(k).cloned().unwrap_or(Value::Null);
    let text = |k: &str| as_text(&arg(k));
    let unique = a.get("unique").is_some_and(truthy);
    match op {
        "fail" => return Err(RuleFailure(text("msg"))),
        "log" => s.log.push((text("level").to_ascii_uppercase().replace("NONE", "INFO"), text("msg"))),
        "set-attribute" => edit_node(s.node, &text("path"), &Change::Set(arg("value")))?,
        "extend-attribute" => edit_node(s.node, &text("path"), &Change::Extend(arg("value"), unique))?,
        "del-attribute" => edit_node(s.node, &text("path"), &Change::Delete)?,
        "set-capability" | "unset-capability" => {
            let name = text("name");
            let mut caps: Vec<(String, String)> =
                capabilities(s.node).into_iter().filter(|(k, _)| *k != name).collect();
            if op == "set-capability" {
                caps.push((name, text("value")));
            }
            set_capabilities(s.node, &caps)?;
        }
        "add-trait" | "remove-trait" => {
            let name = text("name");
            let mut traits: Vec<String> = serde_json::from_str(&s.node.traits).unwrap_or_default();
            traits.retain(|t| *t != name);
            if op == "add-trait" {
                traits.push(name);
            }
            s.node.traits = json!(traits).to_string();
        }
        "set-plugin-data" | "extend-plugin-data" | "unset-plugin-data" => {
            let change = match op {
                "set-plugin-data" => Change::Set(arg("value")),
                "extend-plugin-data" => Change::Extend(arg("value"), unique),
                _ => Change::Delete,
            };
            edit(s.plugin_data, &segments(&text("path")), &change)?;
        }
        "set-port-attribute" | "extend-port-attribute" | "del-port-attribute" => {
            let id = text("port_id").to_ascii_lowercase();
            let Some(port) = s.ports.iter_mut().find(|p| p.uuid == id || p.address == id) else {
                return Err(RuleFailure(format!("Port {id} of node {} was not found", s.node.uuid)));
            };
            let change = match op {
                "set-port-attribute" => Change::Set(arg("value")),
                "extend-port-attribute" => Change::Extend(arg("value"), unique),
                _ => Change::Delete,
            };
            edit_port(port, &text("path"), &change)?;
        }
        "api-call" => s.log.push((
            "WARNING".into(),
            format!(
                "Inspection rule action api-call to {} skipped: ironbark makes no outbound calls from rules",
                text("url")
            ),
        )),
        other => return Err(RuleFailure(format!("Unsupported action: '{other}'"))),
    }
    Ok(())
}

fn list_of(text: Option<&str>) -> Vec<Value> {
    text.and_then(|t| serde_json::from_str(t).ok()).unwrap_or_default()
}

/// Runs `rules` (highest priority first) on the subject.
pub fn apply(rules: &[Rule], s: &mut Subject) -> Result<(), RuleFailure> {
    for rule in rules {
        let mut scope =
            Scope { node: node_json(s.node), inventory: s.inventory, plugin_data: s.plugin_data.clone(), item: None };
        let mut holds = true;
        for cond in list_of(rule.conditions.as_deref()) {
            if !condition_holds(&mut scope, &cond)? {
                holds = false;
                break;
            }
        }
        if !holds {
            continue;
        }
        for action in list_of(Some(&rule.actions)) {
            match items_of(&scope, &action)? {
                None => run_action(s, &scope, &action)?,
                Some(items) => {
                    for it in items {
                        scope.item = Some(it);
                        run_action(s, &scope, &action)?;
                    }
                    scope.item = None;
                }
            }
            // Later actions see what earlier ones did.
            scope.node = node_json(s.node);
            scope.plugin_data = s.plugin_data.clone();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(priority: i64, conditions: Value, actions: Value) -> Rule {
        Rule {
            uuid: format!("r{priority}"),
            priority,
            description: None,
            scope: None,
            sensitive: false,
            phase: Some("main".into()),
            conditions: Some(conditions.to_string()),
            actions: actions.to_string(),
            created_at: chrono::Utc::now().naive_utc(),
            updated_at: None,
        }
    }

    type Outcome = (Result<(), RuleFailure>, Node, Vec<Port>, Value, Vec<(String, String)>);

    fn run(rules: &[Rule], inventory: Value) -> Outcome {
        let mut node = Node::new("n1", "ipmi", chrono::Utc::now().naive_utc());
        node.properties = json!({"cpus": 64, "capabilities": "boot_mode:uefi"}).to_string();
        let mut ports = vec![Port::new("p1", "52:54:00:00:00:01", "n1", chrono::Utc::now().naive_utc())];
        let mut plugin = json!({});
        let mut s = Subject {
            node: &mut node,
            ports: &mut ports,
            inventory: &inventory,
            plugin_data: &mut plugin,
            log: vec![],
        };
        let r = apply(rules, &mut s);
        let log = s.log;
        (r, node, ports, plugin, log)
    }

    #[test]
    fn conditions_select_and_actions_change() {
        let inv = json!({"cpu": {"count": 64, "architecture": "x86_64"}, "bmc_address": "10.1.2.3",
                         "system_vendor": {"manufacturer": "Dell Inc."},
                         "interfaces": [{"name": "eno1", "mac_address": "52:54:00:00:00:01"}]});
        let rules = vec![
            rule(
                50,
                json!([{"op": "eq", "args": {"values": ["{inventory[cpu][count]}", 64]}},
                       {"op": "in-net", "args": {"address": "{inventory[bmc_address]}", "subnet": "10.0.0.0/8"}},
                       {"op": "!matches", "args": {"value": "{inventory[system_vendor][manufacturer]}", "regex": "HP"}}]),
                json!([{"op": "set-attribute", "args": {"path": "/resource_class", "value": "big-{inventory[cpu][architecture]}"}},
                       {"op": "set-attribute", "args": {"path": "properties.vendor", "value": "{inventory[system_vendor][manufacturer]}"}},
                       {"op": "add-trait", "args": {"name": "CUSTOM_GPU"}},
                       {"op": "set-capability", "args": {"name": "boot_mode", "value": "bios"}},
                       {"op": "extend-plugin-data", "args": {"path": "seen", "value": "{node.properties[cpus]}"}},
                       {"op": "set-port-attribute", "loop": "{inventory[interfaces]}",
                        "args": {"port_id": "{item[mac_address]}", "path": "extra/ifname", "value": "{item[name]}"}},
                       {"op": "log", "args": {"msg": "matched {node.uuid}"}}]),
            ),
            rule(
                10,
                json!([{"op": "lt", "args": {"values": ["{inventory[cpu][count]}", 8]}}]),
                json!([{"op": "fail", "args": {"msg": "too small"}}]),
            ),
        ];
        let (r, node, ports, plugin, log) = run(&rules, inv);
        assert_eq!(r, Ok(()));
        assert_eq!(node.resource_class.as_deref(), Some("big-x86_64"));
        let props: Value = serde_json::from_str(&node.properties).unwrap();
        assert_eq!(props["vendor"], "Dell Inc.");
        assert_eq!(props["capabilities"], "boot_mode:bios");
        assert_eq!(node.traits, r#"["CUSTOM_GPU"]"#);
        assert_eq!(plugin, json!({"seen": [64]}), "a lone placeholder keeps its type");
        assert_eq!(serde_json::from_str::<Value>(&ports[0].extra).unwrap(), json!({"ifname": "eno1"}));
        assert_eq!(log, vec![("INFO".to_string(), "matched n1".to_string())]);
    }

    #[test]
    fn fail_and_bad_rules_fail_the_inspection() {
        let inv = json!({"cpu": {"count": 4}});
        let small = rule(
            1,
            json!([{"op": "lt", "args": {"values": ["{inventory[cpu][count]}", 8]}}]),
            json!([{"op": "fail", "args": {"msg": "only {inventory[cpu][count]} CPUs"}}]),
        );
        assert_eq!(run(&[small], inv.clone()).0, Err(RuleFailure("only 4 CPUs".into())));
        let missing = rule(1, json!([{"op": "is-true", "args": {"value": "{inventory[nothing]}"}}]), json!([]));
        assert!(run(&[missing], inv.clone()).0.unwrap_err().0.contains("Cannot interpolate"));
        let list_form = rule(
            1,
            json!([{"op": "eq", "args": ["{inventory[cpu][count]}", 4]}]),
            json!([{"op": "set-attribute", "args": ["/extra/small", true]}]),
        );
        let (r, node, ..) = run(&[list_form], inv);
        assert_eq!(r, Ok(()));
        assert_eq!(serde_json::from_str::<Value>(&node.extra).unwrap(), json!({"small": true}));
    }
}
