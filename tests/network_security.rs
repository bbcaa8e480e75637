//! The network service's security groups, rules and quotas (Neutron
//! semantics): default groups, validation, ports' groups, isolation between
//! projects, quota enforcement, and concurrent first requests, on SQLite and
//! PostgreSQL.

mod common;

use common::{Net, TestServer};
use reqwest::blocking::Response;
use serde_json::{Value, json};

impl Net<'_> {
    fn group(&self, name: &str) -> Value {
        self.create("security_group", "security-groups", json!({ "name": name }))
    }

    fn rule(&self, body: Value) -> Response {
        self.post("/v2.0/security-group-rules", json!({ "security_group_rule": body }))
    }
}

/// Asserts Neutron's error envelope and status; returns (type, message).
fn error(r: Response, status: u16) -> (String, String) {
    let got = r.status().as_u16();
    let body: Value = r.json().expect("error body is JSON");
    assert_eq!(got, status, "{body}");
    let e = body["NeutronError"].as_object().unwrap_or_else(|| panic!("not a NeutronError: {body}"));
    assert_eq!(e.len(), 3, "{body}");
    assert_eq!(e["detail"], "", "{body}");
    (e["type"].as_str().unwrap().to_string(), e["message"].as_str().unwrap().to_string())
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

fn groups_named(n: &Net, name: &str) -> Vec<Value> {
    n.get(&format!("/v2.0/security-groups?name={name}"))["security_groups"].as_array().unwrap().clone()
}

/// A network with one IPv4 subnet, owned by `n`'s project.
fn network(n: &Net, cidr: &str) -> String {
    let net = n.create("network", "networks", json!({"name": "sg-net"}));
    n.create("subnet", "subnets", json!({"network_id": id(&net), "cidr": cidr, "ip_version": 4}));
    id(&net)
}

fn default_group(s: &TestServer) {
    let (pid, token) = s.project_user("sg-default", "sg-default-member", "member");
    let member = Net::new(s, token);
    let (_, reader_token) = s.project_user("sg-default", "sg-default-reader", "reader");
    let reader = Net::new(s, reader_token);
    // the reader's first list already shows the project's default group
    let list = reader.get("/v2.0/security-groups");
    let groups = list["security_groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "{list}");
    let g = &groups[0];
    assert_eq!((g["name"].as_str(), g["project_id"].as_str()), (Some("default"), Some(pid.as_str())));
    assert_eq!(
        (g["tenant_id"].as_str(), g["description"].as_str()),
        (Some(pid.as_str()), Some("Default security group"))
    );
    assert_eq!((g["stateful"].as_bool(), g["shared"].as_bool()), (Some(true), Some(false)));
    let gid = id(g);
    let mut rules: Vec<(String, String, Value, Value, Value)> = g["security_group_rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["security_group_id"], gid.as_str());
            assert_eq!(r["belongs_to_default_sg"], true);
            assert!(r["port_range_min"].is_null() && r["port_range_max"].is_null() && r["normalized_cidr"].is_null());
            let dir = r["direction"].as_str().unwrap().to_string();
            (
                dir,
                r["ethertype"].as_str().unwrap().to_string(),
                r["protocol"].clone(),
                r["remote_group_id"].clone(),
                r["remote_ip_prefix"].clone(),
            )
        })
        .collect();
    rules.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    assert_eq!(
        rules,
        vec![
            ("egress".into(), "IPv4".into(), Value::Null, Value::Null, Value::Null),
            ("egress".into(), "IPv6".into(), Value::Null, Value::Null, Value::Null),
            ("ingress".into(), "IPv4".into(), Value::Null, json!(gid), Value::Null),
            ("ingress".into(), "IPv6".into(), Value::Null, json!(gid), Value::Null),
        ]
    );
    // later lists, of groups or rules, do not make another
    assert_eq!(member.get("/v2.0/security-groups")["security_groups"].as_array().unwrap().len(), 1);
    let rules = member.get(&format!("/v2.0/security-group-rules?security_group_id={gid}"));
    assert_eq!(rules["security_group_rules"].as_array().unwrap().len(), 4);
    assert_eq!(member.get(&format!("/v2.0/security-groups/{gid}"))["security_group"]["name"], "default");
    // the default group keeps its name and stays, for its project
    let (ty, _) =
        error(member.put(&format!("/v2.0/security-groups/{gid}"), json!({"security_group": {"name": "x"}})), 409);
    assert_eq!(ty, "SecurityGroupCannotUpdateDefault");
    let r = member.put(&format!("/v2.0/security-groups/{gid}"), json!({"security_group": {"description": "ours"}}));
    assert_eq!(r.json::<Value>().unwrap()["security_group"]["description"], "ours");
    let (ty, msg) = error(member.delete(&format!("/v2.0/security-groups/{gid}")), 409);
    assert_eq!(
        (ty.as_str(), msg.as_str()),
        ("SecurityGroupCannotRemoveDefault", "Insufficient rights for removing default security group.")
    );
    // no other group may be called default, in any case
    for name in ["default", "Default"] {
        let (ty, _) = error(member.post("/v2.0/security-groups", json!({"security_group": {"name": name}})), 409);
        assert_eq!(ty, "SecurityGroupDefaultAlreadyExists");
    }
    let other = member.group("other");
    let (ty, _) = error(
        member.put(&format!("/v2.0/security-groups/{}", id(&other)), json!({"security_group": {"name": "DEFAULT"}})),
        409,
    );
    assert_eq!(ty, "SecurityGroupDefaultAlreadyExists");
    // an admin may delete it (Neutron allows that); the next list makes a new one
    let admin = Net::new(s, s.admin_token());
    assert_eq!(admin.delete(&format!("/v2.0/security-groups/{gid}")).status(), 204);
    assert!(member.get_raw(&format!("/v2.0/security-group-rules?security_group_id={gid}")).status().is_success());
    let again = groups_named(&member, "default");
    assert_eq!(again.len(), 1);
    assert_ne!(id(&again[0]), gid);
    // an admin's list for a project (filtered by project_id) makes that project's group
    let (fresh, _) = s.project_user("sg-fresh", "sg-fresh-member", "member");
    let v = admin.get(&format!("/v2.0/security-groups?project_id={fresh}"));
    assert_eq!(v["security_groups"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["security_groups"][0]["name"], "default");
}

fn groups_and_rules(s: &TestServer) {
    let (pid, token) = s.project_user("sg-crud", "sg-crud-member", "member");
    let user = Net::new(s, token);
    let (_, reader_token) = s.project_user("sg-crud", "sg-crud-reader", "reader");
    let reader = Net::new(s, reader_token);
    let g = user.create("security_group", "security-groups", json!({"name": "web", "description": "front"}));
    let gid = id(&g);
    assert_eq!(
        (g["name"].as_str(), g["description"].as_str(), g["project_id"].as_str()),
        (Some("web"), Some("front"), Some(pid.as_str()))
    );
    // a new group allows egress anywhere, over IPv4 and IPv6
    let rules = g["security_group_rules"].as_array().unwrap();
    assert_eq!(rules.len(), 2);
    assert!(
        rules.iter().all(|r| r["direction"] == "egress"
            && r["remote_ip_prefix"].is_null()
            && r["belongs_to_default_sg"] == false)
    );
    // listed (with the default group) and shown, to the reader too
    let names: Vec<String> = reader.get("/v2.0/security-groups")["security_groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names.len(), 2);
    assert!(names.contains(&"web".to_string()) && names.contains(&"default".to_string()));
    assert_eq!(
        reader.get(&format!("/v2.0/security-groups/{gid}?fields=name"))["security_group"],
        json!({"name": "web"})
    );
    error(reader.post("/v2.0/security-groups", json!({"security_group": {"name": "r"}})), 403);
    error(reader.delete(&format!("/v2.0/security-groups/{gid}")), 403);
    // update
    let r = user
        .put(&format!("/v2.0/security-groups/{gid}"), json!({"security_group": {"name": "web2", "description": "d2"}}));
    let up: Value = r.json().unwrap();
    assert_eq!(
        (up["security_group"]["name"].as_str(), up["security_group"]["description"].as_str()),
        (Some("web2"), Some("d2"))
    );
    let (ty, _) =
        error(user.put(&format!("/v2.0/security-groups/{gid}"), json!({"security_group": {"project_id": "x"}})), 400);
    assert_eq!(ty, "HTTPBadRequest");
    // rules: created as sent, shown identically
    let body = json!({"security_group_id": gid, "direction": "ingress", "ethertype": "IPv4", "protocol": "tcp",
        "port_range_min": 22, "port_range_max": 22, "remote_group_id": null, "remote_ip_prefix": "10.0.0.0/8"});
    let r = user.rule(body);
    assert_eq!(r.status(), 201);
    let rule = r.json::<Value>().unwrap()["security_group_rule"].clone();
    for (k, v) in [
        ("protocol", json!("tcp")),
        ("port_range_min", json!(22)),
        ("port_range_max", json!(22)),
        ("remote_ip_prefix", json!("10.0.0.0/8")),
        ("normalized_cidr", json!("10.0.0.0/8")),
        ("remote_group_id", Value::Null),
        ("project_id", json!(pid)),
        ("description", json!("")),
        ("belongs_to_default_sg", json!(false)),
    ] {
        assert_eq!(rule[k], v, "{k}: {rule}");
    }
    let rid = id(&rule);
    assert_eq!(reader.get(&format!("/v2.0/security-group-rules/{rid}"))["security_group_rule"], rule);
    // the group lists it and has a new revision
    let shown = user.get(&format!("/v2.0/security-groups/{gid}"))["security_group"].clone();
    assert_eq!(shown["security_group_rules"].as_array().unwrap().len(), 3);
    assert!(shown["revision_number"].as_i64().unwrap() > up["security_group"]["revision_number"].as_i64().unwrap());
    // canonical forms: numbers as given, IPv6 ICMP spelled ipv6-icmp, the whole range as none, addresses as /32
    let made = |body: Value| -> Value {
        let r = user.rule(body);
        let status = r.status();
        let v: Value = r.json().unwrap();
        assert_eq!(status, 201, "{v}");
        v["security_group_rule"].clone()
    };
    let udp = made(json!({"security_group_id": gid, "direction": "ingress", "protocol": 17}));
    assert_eq!((udp["protocol"].as_str(), udp["ethertype"].as_str()), (Some("17"), Some("IPv4")));
    let icmp6 = made(json!({"security_group_id": gid, "direction": "ingress", "ethertype": "ipv6", "protocol": "icmp",
        "port_range_min": 11, "port_range_max": null}));
    assert_eq!((icmp6["protocol"].as_str(), icmp6["ethertype"].as_str()), (Some("ipv6-icmp"), Some("IPv6")));
    assert_eq!((icmp6["port_range_min"].as_i64(), icmp6["port_range_max"].is_null()), (Some(11), true));
    let all = made(json!({"security_group_id": gid, "direction": "egress", "protocol": "TCP",
        "port_range_min": 1, "port_range_max": 65535, "remote_ip_prefix": "192.168.1.7"}));
    assert_eq!((all["protocol"].as_str(), all["port_range_min"].is_null()), (Some("tcp"), true));
    assert_eq!(
        (all["remote_ip_prefix"].as_str(), all["normalized_cidr"].as_str()),
        (Some("192.168.1.7/32"), Some("192.168.1.7/32"))
    );
    let host_bits = made(json!({"security_group_id": gid, "direction": "egress", "remote_ip_prefix": "172.16.5.4/16"}));
    assert_eq!(
        (host_bits["remote_ip_prefix"].as_str(), host_bits["normalized_cidr"].as_str()),
        (Some("172.16.5.4/16"), Some("172.16.0.0/16"))
    );
    let any = made(json!({"security_group_id": gid, "direction": "ingress", "protocol": "any", "ethertype": "IPv6"}));
    assert!(any["protocol"].is_null());
    // filters on the rule list
    let v = reader.get(&format!("/v2.0/security-group-rules?security_group_id={gid}&direction=ingress"));
    assert_eq!(v["security_group_rules"].as_array().unwrap().len(), 4, "{v}");
    // a rule naming another group as its remote goes with that group
    let peer = user.group("peer");
    let remote = made(json!({"security_group_id": gid, "direction": "ingress", "remote_group_id": id(&peer)}));
    assert_eq!(remote["remote_group_id"], id(&peer).as_str());
    assert_eq!(user.delete(&format!("/v2.0/security-groups/{}", id(&peer))).status(), 204);
    error(user.get_raw(&format!("/v2.0/security-group-rules/{}", id(&remote))), 404);
    // rules are deleted, not updated
    assert_eq!(user.delete(&format!("/v2.0/security-group-rules/{rid}")).status(), 204);
    let (ty, msg) = error(user.get_raw(&format!("/v2.0/security-group-rules/{rid}")), 404);
    assert_eq!((ty.as_str(), msg), ("SecurityGroupRuleNotFound", format!("Security group rule {rid} does not exist")));
    error(user.delete(&format!("/v2.0/security-group-rules/{rid}")), 404);
    // deleting the group takes its rules
    let last = id(&udp);
    assert_eq!(user.delete(&format!("/v2.0/security-groups/{gid}")).status(), 204);
    let (ty, msg) = error(user.get_raw(&format!("/v2.0/security-groups/{gid}")), 404);
    assert_eq!((ty.as_str(), msg), ("SecurityGroupNotFound", format!("Security group {gid} does not exist")));
    error(user.get_raw(&format!("/v2.0/security-group-rules/{last}")), 404);
    error(user.delete(&format!("/v2.0/security-groups/{gid}")), 404);
    let listed = user.get("/v2.0/security-group-rules")["security_group_rules"].as_array().unwrap().clone();
    assert!(listed.iter().all(|r| r["security_group_id"] != gid.as_str()));
}

fn rule_validation(s: &TestServer) {
    let (_, token) = s.project_user("sg-valid", "sg-valid-member", "member");
    let user = Net::new(s, token);
    let g = user.group("checked");
    let gid = id(&g);
    let other = id(&user.group("remote"));
    let rule = |extra: Value| -> Value {
        let mut body = json!({"security_group_id": gid, "direction": "ingress"});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let cases: Vec<(Value, u16, &str, &str)> = vec![
        (
            json!({"protocol": "bad_protocol_name"}),
            400,
            "SecurityGroupRuleInvalidProtocol",
            "Security group rule protocol bad_protocol_name not supported",
        ),
        (json!({"protocol": 256}), 400, "SecurityGroupRuleInvalidProtocol", "integer representations [0 to 255]"),
        (
            json!({"protocol": "tcp", "port_range_min": -16, "port_range_max": 80}),
            400,
            "SecurityGroupInvalidPortValue",
            "Invalid value for port -16",
        ),
        (
            json!({"protocol": "tcp", "port_range_min": 80, "port_range_max": 65536}),
            400,
            "SecurityGroupInvalidPortValue",
            "Invalid value for port 65536",
        ),
        (
            json!({"protocol": "tcp", "port_range_min": 80, "port_range_max": 79}),
            400,
            "SecurityGroupInvalidPortRange",
            "port_range_min must be <= port_range_max",
        ),
        (
            json!({"protocol": "tcp", "port_range_min": null, "port_range_max": 6}),
            400,
            "SecurityGroupInvalidPortRange",
            "port_range_min must be <= port_range_max",
        ),
        (
            json!({"protocol": "udp", "port_range_min": 0, "port_range_max": 10}),
            400,
            "SecurityGroupInvalidPortValue",
            "Invalid value for port 0",
        ),
        (
            json!({"protocol": "icmp", "port_range_min": 1, "port_range_max": 256}),
            400,
            "SecurityGroupInvalidIcmpValue",
            "Invalid value for ICMP code (port_range_max) 256",
        ),
        (
            json!({"protocol": "icmp", "port_range_min": 300, "port_range_max": 1}),
            400,
            "SecurityGroupInvalidIcmpValue",
            "Invalid value for ICMP type (port_range_min) 300",
        ),
        (
            json!({"protocol": "icmp", "port_range_min": -1, "port_range_max": 25}),
            400,
            "SecurityGroupInvalidPortValue",
            "Invalid value",
        ),
        (
            json!({"protocol": "icmp", "port_range_min": null, "port_range_max": 6}),
            400,
            "SecurityGroupMissingIcmpType",
            "ICMP type (port-range-min) is missing",
        ),
        (
            json!({"protocol": "gre", "port_range_min": 1, "port_range_max": 2}),
            400,
            "SecurityGroupInvalidProtocolForPort",
            "Ports cannot be specified for protocol 47",
        ),
        (
            json!({"port_range_min": 22, "port_range_max": 22}),
            400,
            "SecurityGroupProtocolRequiredWithPorts",
            "Must also specify protocol",
        ),
        (
            json!({"protocol": "udp", "ethertype": "bad_ethertype"}),
            400,
            "SecurityGroupRuleInvalidEtherType",
            "ethertype 'bad_ethertype' not supported",
        ),
        (
            json!({"protocol": "tcp", "ethertype": "IPv6", "remote_ip_prefix": "10.100.0.0/16"}),
            400,
            "SecurityGroupRuleParameterConflict",
            "Conflicting value ethertype IPv6 for CIDR 10.100.0.0/16",
        ),
        (
            json!({"protocol": "tcp", "ethertype": "IPv4", "remote_ip_prefix": "2001:db8::/48"}),
            400,
            "SecurityGroupRuleParameterConflict",
            "Conflicting value ethertype",
        ),
        (
            json!({"protocol": "ipv6-icmp", "ethertype": "IPv4"}),
            400,
            "SecurityGroupEthertypeConflictWithProtocol",
            "Invalid ethertype IPv4 for protocol ipv6-icmp.",
        ),
        (
            json!({"remote_ip_prefix": "10.100.0.0/16", "remote_group_id": other}),
            400,
            "SecurityGroupMultipleRemoteEntites",
            "Only one of remote_ip_prefix or remote_group_id",
        ),
        (
            json!({"protocol": "tcp", "remote_ip_prefix": "192.168.1./24"}),
            400,
            "InvalidCIDR",
            "Invalid CIDR 192.168.1./24 given as IP prefix.",
        ),
        (json!({"protocol": "tcp", "remote_ip_prefix": "192.168.1.1/33"}), 400, "InvalidCIDR", "Invalid CIDR"),
        (json!({"protocol": "tcp", "remote_ip_prefix": "bad_prefix"}), 400, "InvalidCIDR", "Invalid CIDR"),
        (json!({"protocol": "tcp", "remote_ip_prefix": "256"}), 400, "InvalidCIDR", "Invalid CIDR"),
        (
            json!({"direction": "sideways"}),
            400,
            "HTTPBadRequest",
            "Invalid input for direction. Reason: 'sideways' is not in ['ingress', 'egress'].",
        ),
        (json!({"bogus": 1}), 400, "HTTPBadRequest", "Unrecognized attribute(s) 'bogus'"),
        (
            json!({"protocol": "tcp", "remote_group_id": "bad_group_id"}),
            404,
            "SecurityGroupNotFound",
            "Security group bad_group_id does not exist",
        ),
        (
            json!({"security_group_id": "4c2bb5a0-8ac0-4b0e-9fd4-33c9e6ba0a57"}),
            404,
            "SecurityGroupNotFound",
            "does not exist",
        ),
    ];
    for (extra, status, ty, msg) in cases {
        let (got_ty, got_msg) = error(user.rule(rule(extra.clone())), status);
        assert_eq!(got_ty, ty, "{extra}: {got_msg}");
        assert!(got_msg.contains(msg), "{extra}: {got_msg}");
    }
    let (_, msg) =
        error(user.post("/v2.0/security-group-rules", json!({"security_group_rule": {"security_group_id": gid}})), 400);
    assert_eq!(msg, "Failed to parse request. Required attribute 'direction' not specified");
    // duplicates, as Neutron compares them: tcp = 6, 0.0.0.0/0 = anywhere
    let first = user.rule(rule(json!({"protocol": "tcp", "port_range_min": 66, "port_range_max": 67})));
    assert_eq!(first.status(), 201);
    let first_id = id(&first.json::<Value>().unwrap()["security_group_rule"]);
    for dup in [
        json!({"protocol": "tcp", "port_range_min": 66, "port_range_max": 67}),
        json!({"protocol": "6", "port_range_min": 66, "port_range_max": 67, "remote_ip_prefix": "0.0.0.0/0", "description": "x"}),
    ] {
        let (ty, msg) = error(user.rule(rule(dup)), 409);
        assert_eq!(
            (ty.as_str(), msg),
            ("SecurityGroupRuleExists", format!("Security group rule already exists. Rule id is {first_id}."))
        );
    }
    // the egress rule every new group has
    let (ty, _) = error(user.rule(json!({"security_group_id": gid, "direction": "egress", "ethertype": "IPv6"})), 409);
    assert_eq!(ty, "SecurityGroupRuleExists");
    // not a duplicate: another direction
    assert_eq!(
        user.rule(rule(json!({"protocol": "tcp", "port_range_min": 66, "port_range_max": 67, "direction": "egress"})))
            .status(),
        201
    );
}

fn ports_and_groups(s: &TestServer) {
    let (pid, token) = s.project_user("sg-ports", "sg-ports-member", "member");
    let user = Net::new(s, token);
    let nid = network(&user, "10.61.0.0/24");
    let default = id(&groups_named(&user, "default")[0]);
    // a new port gets the default group; [] or no port security means none
    let p = user.create("port", "ports", json!({"network_id": nid}));
    assert_eq!(p["security_groups"], json!([default]));
    let bare = user.create("port", "ports", json!({"network_id": nid, "security_groups": []}));
    assert_eq!(bare["security_groups"], json!([]));
    let open = user.create("port", "ports", json!({"network_id": nid, "port_security_enabled": false}));
    assert_eq!(open["security_groups"], json!([]));
    let dhcp = user.create("port", "ports", json!({"network_id": nid, "device_owner": "network:dhcp"}));
    assert_eq!(dhcp["security_groups"], json!([]));
    let g1 = id(&user.group("g1"));
    let g2 = id(&user.group("g2"));
    let (ty, msg) = error(
        user.post(
            "/v2.0/ports",
            json!({"port": {"network_id": nid, "port_security_enabled": false, "security_groups": [g1]}}),
        ),
        400,
    );
    assert_eq!(ty, "PortSecurityAndIPRequiredForSecurityGroups", "{msg}");
    for bad in [json!([g1, g1]), json!(["not-a-uuid"]), json!("x")] {
        error(user.post("/v2.0/ports", json!({"port": {"network_id": nid, "security_groups": bad}})), 400);
    }
    let missing = "1f8b6f6e-7c55-4f1a-9e7b-8d4b8ff3a111";
    let (ty, msg) =
        error(user.post("/v2.0/ports", json!({"port": {"network_id": nid, "security_groups": [g1, missing]}})), 404);
    assert_eq!((ty.as_str(), msg), ("SecurityGroupNotFound", format!("Security group {missing} does not exist")));
    // update replaces the list
    let pid_port = id(&p);
    let path = format!("/v2.0/ports/{pid_port}");
    let r = user.put(&path, json!({"port": {"security_groups": [g1, g2], "name": "two"}}));
    let v: Value = r.json().unwrap();
    assert_eq!(v["port"]["security_groups"], json!([g1, g2]), "{v}");
    assert_eq!(user.get(&path)["port"]["security_groups"], json!([g1, g2]));
    // port security cannot go while groups stay
    let (ty, _) = error(user.put(&path, json!({"port": {"port_security_enabled": false}})), 409);
    assert_eq!(ty, "PortSecurityPortHasSecurityGroup");
    let (ty, _) =
        error(user.put(&path, json!({"port": {"port_security_enabled": false, "security_groups": [g1]}})), 400);
    assert_eq!(ty, "PortSecurityAndIPRequiredForSecurityGroups");
    // a group in use cannot be deleted, nor change statefulness
    let (ty, msg) = error(user.delete(&format!("/v2.0/security-groups/{g1}")), 409);
    assert_eq!((ty.as_str(), msg), ("SecurityGroupInUse", format!("Security Group {g1} in use.")));
    let (ty, _) =
        error(user.put(&format!("/v2.0/security-groups/{g2}"), json!({"security_group": {"stateful": false}})), 409);
    assert_eq!(ty, "SecurityGroupInUse");
    let r = user.put(&path, json!({"port": {"port_security_enabled": false, "security_groups": []}}));
    let v: Value = r.json().unwrap();
    assert_eq!(
        (v["port"]["security_groups"].clone(), v["port"]["port_security_enabled"].clone()),
        (json!([]), json!(false)),
        "{v}"
    );
    assert_eq!(user.delete(&format!("/v2.0/security-groups/{g1}")).status(), 204);
    // stateful and stateless groups do not mix on a port
    let r = user.put(&format!("/v2.0/security-groups/{g2}"), json!({"security_group": {"stateful": false}}));
    assert_eq!(r.json::<Value>().unwrap()["security_group"]["stateful"], false);
    let (ty, _) = error(
        user.put(&format!("/v2.0/ports/{}", id(&bare)), json!({"port": {"security_groups": [g2, default]}})),
        409,
    );
    assert_eq!(ty, "SecurityGroupConflict");
    // other projects: the group is invisible; an admin may use any
    let (_, other_token) = s.project_user("sg-ports-other", "sg-ports-other-member", "member");
    let other = Net::new(s, other_token);
    for (status, r) in [
        (404, other.get_raw(&format!("/v2.0/security-groups/{g2}"))),
        (404, other.put(&format!("/v2.0/security-groups/{g2}"), json!({"security_group": {"name": "mine"}}))),
        (404, other.delete(&format!("/v2.0/security-groups/{g2}"))),
        (404, other.rule(json!({"security_group_id": g2, "direction": "ingress"}))),
    ] {
        let (ty, _) = error(r, status);
        assert_eq!(ty, "SecurityGroupNotFound");
    }
    let theirs = other.get("/v2.0/security-groups")["security_groups"].as_array().unwrap().clone();
    assert!(theirs.iter().all(|g| g["project_id"] != pid.as_str()));
    let rule_of_default =
        id(&user.get(&format!("/v2.0/security-group-rules?security_group_id={default}"))["security_group_rules"][0]);
    error(other.get_raw(&format!("/v2.0/security-group-rules/{rule_of_default}")), 404);
    assert!(
        other.get("/v2.0/security-group-rules")["security_group_rules"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["project_id"] != pid.as_str())
    );
    let other_net = network(&other, "10.62.0.0/24");
    let (ty, _) =
        error(other.post("/v2.0/ports", json!({"port": {"network_id": other_net, "security_groups": [g2]}})), 404);
    assert_eq!(ty, "SecurityGroupNotFound");
    let admin = Net::new(s, s.admin_token());
    let all = admin.get("/v2.0/security-groups")["security_groups"].as_array().unwrap().clone();
    assert!(all.iter().any(|g| g["id"] == g2.as_str()));
    let port = admin.create("port", "ports", json!({"network_id": other_net, "security_groups": [g2]}));
    assert_eq!(port["security_groups"], json!([g2]));
}

fn quotas(s: &TestServer) {
    let admin = Net::new(s, s.admin_token());
    let (pid, token) = s.project_user("sg-quota", "sg-quota-member", "member");
    let user = Net::new(s, token);
    let defaults =
        json!({"network": 100, "subnet": 100, "port": 500, "security_group": 10, "security_group_rule": 100});
    assert_eq!(user.get(&format!("/v2.0/quotas/{pid}"))["quota"], defaults);
    assert_eq!(user.get(&format!("/v2.0/quotas/{pid}/default"))["quota"], defaults);
    assert_eq!(user.get("/v2.0/quotas/project")["project"]["project_id"], pid.as_str());
    // reading others', listing and setting need an admin
    let admin_project = admin.get("/v2.0/quotas/project")["project"]["project_id"].as_str().unwrap().to_string();
    error(user.get_raw(&format!("/v2.0/quotas/{admin_project}")), 403);
    error(user.get_raw(&format!("/v2.0/quotas/{admin_project}/details")), 403);
    error(user.get_raw("/v2.0/quotas"), 403);
    error(user.put(&format!("/v2.0/quotas/{pid}"), json!({"quota": {"port": 5}})), 403);
    error(user.delete(&format!("/v2.0/quotas/{pid}")), 403);
    // bad limits
    for bad in [json!({"port": -2}), json!({"port": "abc"}), json!({"router": 1}), json!({"port": 2147483648u64})] {
        error(admin.put(&format!("/v2.0/quotas/{pid}"), json!({ "quota": bad })), 400);
    }
    let r = admin.put(&format!("/v2.0/quotas/{pid}"), json!({"quota": {"port": 2, "network": "3"}}));
    let v: Value = r.json().unwrap();
    assert_eq!(
        v["quota"],
        json!({"network": 3, "subnet": 100, "port": 2, "security_group": 10, "security_group_rule": 100})
    );
    assert_eq!(user.get(&format!("/v2.0/quotas/{pid}"))["quota"]["port"], 2);
    let listed = admin.get("/v2.0/quotas")["quotas"].as_array().unwrap().clone();
    let mine = listed.iter().find(|q| q["project_id"] == pid.as_str()).expect("listed");
    assert_eq!(
        (mine["port"].as_i64(), mine["tenant_id"].as_str(), mine["subnet"].as_i64()),
        (Some(2), Some(pid.as_str()), Some(100))
    );
    // the third port is over quota
    let nid = network(&user, "10.70.0.0/24");
    user.create("port", "ports", json!({"network_id": nid}));
    user.create("port", "ports", json!({"network_id": nid}));
    let (ty, msg) = error(user.post("/v2.0/ports", json!({"port": {"network_id": nid}})), 409);
    assert_eq!((ty.as_str(), msg.as_str()), ("OverQuota", "Quota exceeded for resources: ['port']."));
    // details count what exists: the default group (made with the network) and its 4 rules
    let d = user.get(&format!("/v2.0/quotas/{pid}/details.json"))["quota"].clone();
    assert_eq!(d["port"], json!({"limit": 2, "used": 2, "reserved": 0}));
    assert_eq!(d["network"], json!({"limit": 3, "used": 1, "reserved": 0}));
    assert_eq!(d["subnet"]["used"], 1);
    assert_eq!((d["security_group"]["used"].as_i64(), d["security_group_rule"]["used"].as_i64()), (Some(1), Some(4)));
    assert_eq!(admin.get(&format!("/v2.0/quotas/{pid}/details"))["quota"], d);
    // a limit under the usage needs force
    let (_, msg) = error(admin.put(&format!("/v2.0/quotas/{pid}"), json!({"quota": {"port": 1}})), 400);
    assert_eq!(msg, "Quota limit 1 for port must be greater than or equal to already used 2");
    assert_eq!(admin.put(&format!("/v2.0/quotas/{pid}"), json!({"quota": {"port": 1, "force": true}})).status(), 200);
    // every kind of resource is counted at creation
    admin.put(
        &format!("/v2.0/quotas/{pid}"),
        json!({"quota": {"network": 1, "subnet": 1, "security_group": 2, "security_group_rule": 7}}),
    );
    for (path, body, resource) in [
        ("/v2.0/networks", json!({"network": {"name": "n2"}}), "network"),
        ("/v2.0/subnets", json!({"subnet": {"network_id": nid, "cidr": "10.71.0.0/24", "ip_version": 4}}), "subnet"),
    ] {
        let (ty, msg) = error(user.post(path, body), 409);
        assert_eq!((ty.as_str(), msg), ("OverQuota", format!("Quota exceeded for resources: ['{resource}'].")));
    }
    // a new group's two egress rules are not checked against the limit, but count
    let g = user.group("one-more");
    assert_eq!(
        user.rule(json!({"security_group_id": id(&g), "direction": "ingress", "protocol": "tcp"})).status(),
        201
    );
    let (ty, msg) = error(user.post("/v2.0/security-groups", json!({"security_group": {"name": "too-many"}})), 409);
    assert_eq!((ty.as_str(), msg.as_str()), ("OverQuota", "Quota exceeded for resources: ['security_group']."));
    // 4 default + 2 egress + 1 = 7 rules: the limit
    let (ty, msg) =
        error(user.rule(json!({"security_group_id": id(&g), "direction": "ingress", "protocol": "udp"})), 409);
    assert_eq!((ty.as_str(), msg.as_str()), ("OverQuota", "Quota exceeded for resources: ['security_group_rule']."));
    // -1 is unlimited; delete returns to the defaults
    admin.put(&format!("/v2.0/quotas/{pid}"), json!({"quota": {"security_group_rule": -1}}));
    assert_eq!(
        user.rule(json!({"security_group_id": id(&g), "direction": "ingress", "protocol": "udp"})).status(),
        201
    );
    assert_eq!(admin.delete(&format!("/v2.0/quotas/{pid}")).status(), 204);
    assert_eq!(user.get(&format!("/v2.0/quotas/{pid}"))["quota"], defaults);
    let (ty, _) = error(admin.delete(&format!("/v2.0/quotas/{pid}")), 404);
    assert_eq!(ty, "TenantQuotaNotFound");
    assert!(!admin.get("/v2.0/quotas")["quotas"].as_array().unwrap().iter().any(|q| q["project_id"] == pid.as_str()));
    let ext = admin.get("/v2.0/extensions");
    let aliases: Vec<&str> =
        ext["extensions"].as_array().unwrap().iter().map(|e| e["alias"].as_str().unwrap()).collect();
    for a in ["security-group", "quotas", "quota_details"] {
        assert!(aliases.contains(&a), "{a}");
    }
}

/// Parallel first requests of a fresh project make exactly one default
/// group; parallel port creations stop exactly at the quota.
fn concurrency(s: &TestServer) {
    let (pid, token) = s.project_user("sg-race", "sg-race-member", "member");
    let answers: Vec<Value> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..20)
            .map(|_| {
                let token = token.clone();
                scope.spawn(move || Net::new(s, token).get("/v2.0/security-groups"))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut ids = std::collections::HashSet::new();
    for a in &answers {
        let groups = a["security_groups"].as_array().unwrap();
        assert_eq!(groups.len(), 1, "{a}");
        ids.insert(id(&groups[0]));
    }
    assert_eq!(ids.len(), 1, "{ids:?}");
    let admin = Net::new(s, s.admin_token());
    let v = admin.get(&format!("/v2.0/security-groups?project_id={pid}"));
    assert_eq!(v["security_groups"].as_array().unwrap().len(), 1, "{v}");
    let gid = ids.into_iter().next().unwrap();
    let rules = admin.get(&format!("/v2.0/security-group-rules?security_group_id={gid}"));
    assert_eq!(rules["security_group_rules"].as_array().unwrap().len(), 4);

    let user = Net::new(s, token.clone());
    let nid = network(&user, "10.80.0.0/24");
    admin.put(&format!("/v2.0/quotas/{pid}"), json!({"quota": {"port": 5}}));
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..12)
            .map(|_| {
                let (token, nid) = (token.clone(), nid.clone());
                scope.spawn(move || {
                    Net::new(s, token).post("/v2.0/ports", json!({"port": {"network_id": nid}})).status().as_u16()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 5, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 7, "{statuses:?}");
    assert_eq!(user.get(&format!("/v2.0/quotas/{pid}/details"))["quota"]["port"]["used"], 5);
}

on_both_backends!(default_group, groups_and_rules, rule_validation, ports_and_groups, quotas, concurrency);
