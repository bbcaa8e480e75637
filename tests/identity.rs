//! Keystone v3 behaviour of the identity service, on every backend.

mod common;

use common::{ADMIN_PASSWORD, TestServer, assert_error, password_auth, project_scope};
use serde_json::{Value, json};

fn versions(s: &TestServer) {
    let r = s.get("/").send().unwrap();
    assert_eq!(r.status(), 300);
    assert!(r.headers()["x-openstack-request-id"].to_str().unwrap().starts_with("req-"));
    assert_eq!(r.headers()["location"].to_str().unwrap(), format!("{}/v3/", s.identity));
    let body: Value = r.json().unwrap();
    let v = &body["versions"]["values"][0];
    assert_eq!(v["id"], "v3.14");
    assert_eq!(v["status"], "stable");
    assert_eq!(v["links"][0]["href"], format!("{}/v3/", s.identity));
    assert_eq!(v["media-types"][0]["type"], "application/vnd.openstack.identity-v3+json");
    for path in ["/v3", "/v3/"] {
        let body: Value = s.get(path).send().unwrap().json().unwrap();
        assert_eq!(body["version"]["id"], "v3.14");
    }
}

fn project_token_validate_revoke(s: &TestServer) {
    let (token, body) = s.token("admin", ADMIN_PASSWORD, project_scope("admin"));
    let t = &body["token"];
    assert_eq!(t["methods"], json!(["password"]));
    assert_eq!(t["user"]["name"], "admin");
    assert_eq!(t["user"]["domain"], json!({"id": "default", "name": "Default"}));
    assert_eq!(t["project"]["name"], "admin");
    assert_eq!(t["is_domain"], false);
    let roles: Vec<&str> = t["roles"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    for r in ["admin", "manager", "member", "reader"] {
        assert!(roles.contains(&r), "implied role {r} in {roles:?}");
    }
    assert_eq!(t["audit_ids"][0].as_str().unwrap().len(), 22);
    let expires = t["expires_at"].as_str().unwrap();
    assert!(expires.ends_with('Z') && expires.len() == 27, "{expires}");
    let catalog = t["catalog"].as_array().unwrap();
    let identity = catalog.iter().find(|c| c["type"] == "identity").expect("identity in catalog");
    let public = identity["endpoints"].as_array().unwrap().iter().find(|e| e["interface"] == "public").unwrap();
    assert_eq!(public["url"], format!("{}/v3", s.identity));
    assert_eq!(public["region"], "RegionOne");
    for kind in ["baremetal", "compute", "image", "network"] {
        assert!(catalog.iter().any(|c| c["type"] == kind), "{kind} in catalog");
    }

    // validate, check, revoke
    let r = s.get("/v3/auth/tokens").header("x-auth-token", &token).header("x-subject-token", &token).send().unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-subject-token"].to_str().unwrap(), token);
    let again: Value = r.json().unwrap();
    assert_eq!(again["token"]["audit_ids"], t["audit_ids"]);
    assert_eq!(again["token"]["expires_at"], t["expires_at"]);
    let r = s
        .get("/v3/auth/tokens?nocatalog")
        .header("x-auth-token", &token)
        .header("x-subject-token", &token)
        .send()
        .unwrap();
    let nocat: Value = r.json().unwrap();
    assert!(nocat["token"].get("catalog").is_none());
    let r = s
        .client
        .head(s.url("/v3/auth/tokens"))
        .header("x-auth-token", &token)
        .header("x-subject-token", &token)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);

    let (other, _) = s.token("admin", ADMIN_PASSWORD, project_scope("admin"));
    let r = s
        .client
        .delete(s.url("/v3/auth/tokens"))
        .header("x-auth-token", &other)
        .header("x-subject-token", &token)
        .send()
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = s.get("/v3/auth/tokens").header("x-auth-token", &other).header("x-subject-token", &token).send().unwrap();
    assert_error(r, 404);
    let r = s.get("/v3/projects").header("x-auth-token", &token).send().unwrap();
    assert_error(r, 401);
    // the other token is untouched
    let r = s.get("/v3/projects").header("x-auth-token", &other).send().unwrap();
    assert_eq!(r.status(), 200);
}

fn scopes(s: &TestServer) {
    // system
    let (_, body) = s.token("admin", ADMIN_PASSWORD, json!({"system": {"all": true}}));
    assert_eq!(body["token"]["system"], json!({"all": true}));
    assert!(body["token"].get("project").is_none());
    assert!(body["token"]["catalog"].as_array().unwrap().iter().any(|c| c["type"] == "baremetal"));
    // explicitly unscoped: no roles, no catalog
    let (_, body) = s.token("admin", ADMIN_PASSWORD, json!("unscoped"));
    assert!(body["token"].get("roles").is_none());
    assert!(body["token"].get("catalog").is_none());
    // no scope: the user's default project
    let (_, body) = s.token("admin", ADMIN_PASSWORD, Value::Null);
    assert_eq!(body["token"]["project"]["name"], "admin");
    // project by id
    let pid = body["token"]["project"]["id"].as_str().unwrap().to_string();
    let (_, body) = s.token("admin", ADMIN_PASSWORD, json!({"project": {"id": pid}}));
    assert_eq!(body["token"]["project"]["id"], pid);
    // domain scope without a role on the domain is refused
    let r = s
        .post("/v3/auth/tokens", &password_auth("admin", ADMIN_PASSWORD, json!({"domain": {"id": "default"}})))
        .send()
        .unwrap();
    assert_error(r, 401);
    // user by id
    let uid = body["token"]["user"]["id"].as_str().unwrap().to_string();
    let by_id = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {"id": uid, "password": ADMIN_PASSWORD}}},
        "scope": {"system": {"all": true}}}});
    let r = s.post("/v3/auth/tokens", &by_id).send().unwrap();
    assert_eq!(r.status(), 201);
}

fn rescope_with_token(s: &TestServer) {
    let (unscoped, body) = s.token("admin", ADMIN_PASSWORD, json!("unscoped"));
    let parent_audit = body["token"]["audit_ids"][0].clone();
    let req = json!({"auth": {"identity": {"methods": ["token"], "token": {"id": unscoped}}, "scope": project_scope("admin")}});
    let r = s.post("/v3/auth/tokens", &req).send().unwrap();
    assert_eq!(r.status(), 201);
    let body: Value = r.json().unwrap();
    let t = &body["token"];
    assert_eq!(t["project"]["name"], "admin");
    assert_eq!(t["audit_ids"][1], parent_audit);
    assert!(t["methods"].as_array().unwrap().contains(&json!("password")));
    assert!(t["methods"].as_array().unwrap().contains(&json!("token")));
}

fn bad_input(s: &TestServer) {
    let post = |body: &str| {
        s.client
            .post(s.url("/v3/auth/tokens"))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .unwrap()
    };
    assert!(assert_error(post("{not json"), 400).contains("valid JSON"));
    assert_error(post("{}"), 400);
    assert_error(post(r#"{"auth": {"identity": {}}}"#), 400);
    assert_error(post(r#"{"auth": {"identity": {"methods": "password"}}}"#), 400);
    let no_domain = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "admin", "password": "x"}}}}});
    assert!(assert_error(s.post("/v3/auth/tokens", &no_domain).send().unwrap(), 400).contains("domain"));
    // wrong password, unknown user, unknown domain, unknown project: all plain 401
    for body in [
        password_auth("admin", "wrong", project_scope("admin")),
        password_auth("nobody", ADMIN_PASSWORD, project_scope("admin")),
        password_auth("admin", ADMIN_PASSWORD, project_scope("no-such-project")),
        json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "admin",
            "domain": {"name": "Nope"}, "password": ADMIN_PASSWORD}}}}}),
        json!({"auth": {"identity": {"methods": ["totp"], "totp": {}}}}),
    ] {
        assert_error(s.post("/v3/auth/tokens", &body).send().unwrap(), 401);
    }
    // garbled, missing and forged tokens
    let token = s.admin_token();
    assert_error(s.get("/v3/projects").send().unwrap(), 401);
    assert_error(s.get("/v3/projects").header("x-auth-token", "garbage").send().unwrap(), 401);
    let mut forged = token.clone();
    forged.pop();
    forged.push(if token.ends_with('A') { 'B' } else { 'A' });
    assert_error(s.get("/v3/projects").header("x-auth-token", &forged).send().unwrap(), 401);
    let r =
        s.get("/v3/auth/tokens").header("x-auth-token", &token).header("x-subject-token", "garbage").send().unwrap();
    assert_error(r, 404);
    let r = s.get("/v3/auth/tokens").header("x-auth-token", &token).send().unwrap();
    assert_error(r, 404);
    // unknown route and wrong method keep the envelope
    assert_error(s.get("/v3/nothing-here").header("x-auth-token", &token).send().unwrap(), 404);
    assert_error(s.client.put(s.url("/v3/auth/tokens")).send().unwrap(), 405);
    // resource bodies
    let r = s
        .post("/v3/projects", &json!({"project": {"description": "no name"}}))
        .header("x-auth-token", &token)
        .send()
        .unwrap();
    assert_error(r, 400);
    let r = s.post("/v3/projects", &json!({"project": {"name": 5}})).header("x-auth-token", &token).send().unwrap();
    assert_error(r, 400);
    let r = s.post("/v3/users", &json!("user")).header("x-auth-token", &token).send().unwrap();
    assert_error(r, 400);
    // too large a body
    let big = "x".repeat(2 * 1024 * 1024);
    let r = s
        .client
        .post(s.url("/v3/projects"))
        .header("x-auth-token", &token)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .unwrap();
    assert_error(r, 413);
}

/// A server whose tokens live one second.
#[test]
fn expired_tokens() {
    // Every token lives 3 s: long enough that the fresh token below stays
    // valid for its two requests even on a loaded machine.
    let s = TestServer::start_with(common::Db::Sqlite, |c| c.token.expiration = 3).unwrap();
    let token = s.admin_token();
    std::thread::sleep(std::time::Duration::from_millis(3100));
    assert_error(s.get("/v3/projects").header("x-auth-token", &token).send().unwrap(), 401);
    let (fresh, _) = s.token("admin", ADMIN_PASSWORD, project_scope("admin"));
    let r = s.get("/v3/auth/tokens").header("x-auth-token", &fresh).header("x-subject-token", &token).send().unwrap();
    assert_error(r, 404);
    let r = s
        .get("/v3/auth/tokens?allow_expired=1")
        .header("x-auth-token", &fresh)
        .header("x-subject-token", &token)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
}

fn admin_workflow(s: &TestServer) {
    let admin = s.admin_token();
    let call = |method: reqwest::Method, path: &str, body: Option<Value>| {
        let mut b = s.client.request(method, s.url(path)).header("x-auth-token", &admin);
        if let Some(body) = body {
            b = b.json(&body);
        }
        b.send().unwrap()
    };
    use reqwest::Method;
    // Name lookups 404 first, as clients expect.
    assert_error(call(Method::GET, "/v3/projects/demo", None), 404);
    let r = call(
        Method::POST,
        "/v3/projects",
        Some(json!({"project": {"name": "demo", "domain_id": "default", "description": "d", "enabled": true}})),
    );
    assert_eq!(r.status(), 201);
    let project: Value = r.json().unwrap();
    let pid = project["project"]["id"].as_str().unwrap().to_string();
    assert_eq!(project["project"]["parent_id"], "default");
    assert!(project["project"]["links"]["self"].as_str().unwrap().ends_with(&pid));
    let r = call(Method::POST, "/v3/projects", Some(json!({"project": {"name": "demo", "domain_id": "default"}})));
    assert_error(r, 409);
    let list: Value = call(Method::GET, "/v3/projects?name=demo", None).json().unwrap();
    assert_eq!(list["projects"].as_array().unwrap().len(), 1);
    assert!(list["links"]["self"].as_str().unwrap().ends_with("/v3/projects?name=demo"));

    let r = call(
        Method::POST,
        "/v3/users",
        Some(json!({"user": {"name": "alice", "domain_id": "default", "password": "alice-pw",
        "default_project_id": pid, "email": "alice@example.org", "enabled": true}})),
    );
    assert_eq!(r.status(), 201);
    let user: Value = r.json().unwrap();
    let uid = user["user"]["id"].as_str().unwrap().to_string();
    assert_eq!(user["user"]["email"], "alice@example.org");
    assert!(user["user"].get("password").is_none());
    // no role yet: a project token is refused
    let r =
        s.post("/v3/auth/tokens", &password_auth("alice", "alice-pw", json!({"project": {"id": pid}}))).send().unwrap();
    assert_error(r, 401);

    let roles: Value = call(Method::GET, "/v3/roles?name=member", None).json().unwrap();
    let member = roles["roles"][0]["id"].as_str().unwrap().to_string();
    let reader_roles: Value = call(Method::GET, "/v3/roles?name=reader", None).json().unwrap();
    let reader = reader_roles["roles"][0]["id"].as_str().unwrap().to_string();
    let r = call(Method::PUT, &format!("/v3/projects/{pid}/users/{uid}/roles/{member}"), None);
    assert_eq!(r.status(), 204);
    assert_eq!(call(Method::HEAD, &format!("/v3/projects/{pid}/users/{uid}/roles/{member}"), None).status(), 204);
    assert_eq!(call(Method::HEAD, &format!("/v3/projects/{pid}/users/{uid}/roles/{reader}"), None).status(), 404);
    assert_error(call(Method::PUT, &format!("/v3/projects/{pid}/users/nobody/roles/{member}"), None), 404);
    assert_eq!(call(Method::PUT, &format!("/v3/system/users/{uid}/roles/{reader}"), None).status(), 204);

    let ra: Value = call(
        Method::GET,
        &format!("/v3/role_assignments?scope.project.id={pid}&user.id={uid}&include_names=True"),
        None,
    )
    .json()
    .unwrap();
    let a = &ra["role_assignments"][0];
    assert_eq!(a["role"]["name"], "member");
    assert_eq!(a["user"]["name"], "alice");
    assert_eq!(a["scope"]["project"]["name"], "demo");
    assert_eq!(a["scope"]["project"]["domain"]["name"], "Default");
    let sys: Value =
        call(Method::GET, &format!("/v3/role_assignments?scope.system=all&user.id={uid}"), None).json().unwrap();
    assert_eq!(sys["role_assignments"][0]["scope"]["system"]["all"], true);

    // alice: default project token, member (and implied reader), not admin
    let (alice, body) = s.token("alice", "alice-pw", Value::Null);
    assert_eq!(body["token"]["project"]["id"], pid);
    let names: Vec<&str> =
        body["token"]["roles"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"member") && names.contains(&"reader") && !names.contains(&"admin"), "{names:?}");
    assert_error(s.get("/v3/projects").header("x-auth-token", &alice).send().unwrap(), 403);
    assert_error(s.get(&format!("/v3/users/{}", "someone-else")).header("x-auth-token", &alice).send().unwrap(), 403);
    let mine: Value =
        s.get(&format!("/v3/users/{uid}/projects")).header("x-auth-token", &alice).send().unwrap().json().unwrap();
    assert_eq!(mine["projects"][0]["id"], pid);
    let auth_projects: Value =
        s.get("/v3/auth/projects").header("x-auth-token", &alice).send().unwrap().json().unwrap();
    assert_eq!(auth_projects["projects"][0]["name"], "demo");
    let system: Value = s.get("/v3/auth/system").header("x-auth-token", &alice).send().unwrap().json().unwrap();
    assert_eq!(system["system"], json!([{"all": true}]));
    let cat: Value = s.get("/v3/auth/catalog").header("x-auth-token", &alice).send().unwrap().json().unwrap();
    assert!(cat["catalog"].as_array().unwrap().len() >= 5);

    // application credential: created by alice, used without a scope
    let r = s
        .post(&format!("/v3/users/{uid}/application_credentials"), &json!({"application_credential": {"name": "ci"}}))
        .header("x-auth-token", &alice)
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    let ac: Value = r.json().unwrap();
    let secret = ac["application_credential"]["secret"].as_str().unwrap().to_string();
    let ac_id = ac["application_credential"]["id"].as_str().unwrap().to_string();
    let by_name = json!({"auth": {"identity": {"methods": ["application_credential"], "application_credential": {
        "name": "ci", "secret": secret, "user": {"name": "alice", "domain": {"name": "Default"}}}}}});
    let r = s.post("/v3/auth/tokens", &by_name).send().unwrap();
    assert_eq!(r.status(), 201);
    let body: Value = r.json().unwrap();
    assert_eq!(body["token"]["project"]["id"], pid);
    assert_eq!(body["token"]["application_credential"]["id"], ac_id);
    let wrong = json!({"auth": {"identity": {"methods": ["application_credential"], "application_credential": {"id": ac_id, "secret": "nope"}}}});
    assert_error(s.post("/v3/auth/tokens", &wrong).send().unwrap(), 401);

    // a password change revokes alice's tokens
    let r = call(Method::PATCH, &format!("/v3/users/{uid}"), Some(json!({"user": {"password": "new-pw"}})));
    assert_eq!(r.status(), 200);
    assert_error(s.get(&format!("/v3/users/{uid}")).header("x-auth-token", &alice).send().unwrap(), 401);
    let (alice2, _) = s.token("alice", "new-pw", Value::Null);
    assert_eq!(s.get(&format!("/v3/users/{uid}")).header("x-auth-token", &alice2).send().unwrap().status(), 200);

    // revoke the grant: the project token no longer validates
    assert_eq!(call(Method::DELETE, &format!("/v3/projects/{pid}/users/{uid}/roles/{member}"), None).status(), 204);
    assert_error(s.get(&format!("/v3/users/{uid}")).header("x-auth-token", &alice2).send().unwrap(), 401);

    // catalog administration
    let r = call(Method::POST, "/v3/services", Some(json!({"service": {"type": "placement", "name": "placement"}})));
    assert_eq!(r.status(), 201);
    let svc: Value = r.json().unwrap();
    let sid = svc["service"]["id"].as_str().unwrap().to_string();
    let r = call(
        Method::POST,
        "/v3/endpoints",
        Some(json!({"endpoint": {"service_id": sid, "interface": "public",
        "url": "http://127.0.0.1:8778", "region_id": "RegionOne"}})),
    );
    assert_eq!(r.status(), 201);
    let r = call(
        Method::POST,
        "/v3/endpoints",
        Some(json!({"endpoint": {"service_id": sid, "interface": "sideways", "url": "http://x"}})),
    );
    assert_error(r, 400);
    let eps: Value = call(Method::GET, &format!("/v3/endpoints?service_id={sid}"), None).json().unwrap();
    assert_eq!(eps["endpoints"].as_array().unwrap().len(), 1);
    assert_eq!(call(Method::DELETE, &format!("/v3/services/{sid}"), None).status(), 204);
    let regions: Value = call(Method::GET, "/v3/regions", None).json().unwrap();
    assert_eq!(regions["regions"][0]["id"], "RegionOne");

    // deletes
    assert_eq!(call(Method::DELETE, &format!("/v3/users/{uid}"), None).status(), 204);
    assert_error(call(Method::GET, &format!("/v3/users/{uid}"), None), 404);
    assert_eq!(call(Method::DELETE, &format!("/v3/projects/{pid}"), None).status(), 204);
    assert_error(call(Method::DELETE, &format!("/v3/projects/{pid}"), None), 404);
    // bootstrap roles are immutable
    let admin_role: Value = call(Method::GET, "/v3/roles?name=admin", None).json().unwrap();
    let rid = admin_role["roles"][0]["id"].as_str().unwrap();
    assert_error(call(Method::DELETE, &format!("/v3/roles/{rid}"), None), 403);
}

/// Role options are Keystone's: an object whose only option is `immutable`
/// (a boolean, or null to unset it); anything else is a 400.
fn role_options(s: &TestServer) {
    let admin = s.admin_token();
    let call = |method: reqwest::Method, path: &str, body: Value| {
        s.client.request(method, s.url(path)).header("x-auth-token", &admin).json(&body).send().unwrap()
    };
    use reqwest::Method;
    for bad in [json!([null, null]), json!(null), json!("x"), json!({"other": true}), json!({"immutable": "yes"})] {
        let r = call(Method::POST, "/v3/roles", json!({"role": {"name": "opt", "options": bad}}));
        assert_error(r, 400);
    }
    let r = call(Method::POST, "/v3/roles", json!({"role": {"name": "opt", "options": {"immutable": true}}}));
    assert_eq!(r.status(), 201);
    let role: Value = r.json().unwrap();
    assert_eq!(role["role"]["options"], json!({"immutable": true}));
    let id = role["role"]["id"].as_str().unwrap().to_string();
    let path = format!("/v3/roles/{id}");
    assert_error(call(Method::PATCH, &path, json!({"role": {"options": [1]}})), 400);
    assert_error(call(Method::PATCH, &path, json!({"role": {"description": "locked"}})), 403);
    // null unsets the option, and the role can change again
    let r = call(Method::PATCH, &path, json!({"role": {"options": {"immutable": null}}}));
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().unwrap()["role"]["options"], json!({}));
    let r = call(Method::PATCH, &path, json!({"role": {"options": {}, "description": "free"}}));
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().unwrap()["role"]["description"], "free");
}

/// A user update is validated as Keystone does: a name of 1 to 255
/// characters and unique in the domain, `enabled` not null, a string (or
/// null) default project, which need not exist; neither the id nor the
/// domain changes.
fn user_update_validation(s: &TestServer) {
    let admin = s.admin_token();
    let call = |method: reqwest::Method, path: &str, body: Value| {
        s.client.request(method, s.url(path)).header("x-auth-token", &admin).json(&body).send().unwrap()
    };
    use reqwest::Method;
    let r = call(Method::POST, "/v3/users", json!({"user": {"name": "upd1", "password": "p"}}));
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().unwrap()["user"]["id"].as_str().unwrap().to_string();
    assert_eq!(call(Method::POST, "/v3/users", json!({"user": {"name": "upd2"}})).status(), 201);
    let path = format!("/v3/users/{id}");
    for bad in [
        json!({}),
        json!({"name": ""}),
        json!({"name": "   "}),
        json!({"enabled": null}),
        json!({"default_project_id": 5}),
        json!({"id": "other"}),
        json!({"domain_id": "elsewhere"}),
    ] {
        assert_error(call(Method::PATCH, &path, json!({ "user": bad })), 400);
    }
    assert_error(call(Method::PATCH, &path, json!({"user": {"name": "upd2"}})), 409);
    let r = call(Method::PATCH, &path, json!({"user": {"default_project_id": "nosuch", "domain_id": "default"}}));
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().unwrap()["user"]["default_project_id"], "nosuch");
    let r = call(Method::PATCH, &path, json!({"user": {"name": "upd3", "default_project_id": null}}));
    assert_eq!(r.status(), 200);
    let u: Value = r.json().unwrap();
    assert_eq!(u["user"]["name"], "upd3");
    assert!(u["user"].get("default_project_id").is_none());
}

/// Application credentials are validated as Keystone does: known fields
/// only, typed description and unrestricted, no expiry in the past,
/// non-empty role references; an empty secret is generated.
fn app_credential_validation(s: &TestServer) {
    let (admin, body) = s.token("admin", ADMIN_PASSWORD, project_scope("admin"));
    let uid = body["token"]["user"]["id"].as_str().unwrap().to_string();
    let path = format!("/v3/users/{uid}/application_credentials");
    let create = |ac: Value| {
        s.client
            .post(s.url(&path))
            .header("x-auth-token", &admin)
            .json(&json!({ "application_credential": ac }))
            .send()
            .unwrap()
    };
    for bad in [
        json!({"name": "a", "extra": 1}),
        json!({"name": "a", "description": 5}),
        json!({"name": "a", "unrestricted": "x"}),
        json!({"name": "a", "expires_at": "2000-01-01T00:00:00Z"}),
        json!({"name": "a", "expires_at": "garbage"}),
        json!({"name": "a", "roles": [{}]}),
        json!({"name": ""}),
    ] {
        assert_error(create(bad), 400);
    }
    assert_error(create(json!({"name": "a", "roles": [{"name": "nosuch"}]})), 404);
    let r = create(json!({"name": "a", "secret": "", "description": null, "unrestricted": null}));
    assert_eq!(r.status(), 201);
    let ac: Value = r.json().unwrap();
    assert!(!ac["application_credential"]["secret"].as_str().unwrap().is_empty());
    let r = create(json!({"name": "b", "expires_at": "2999-01-01T00:00:00Z"}));
    assert_eq!(r.status(), 201);
}

on_both_backends!(
    user_update_validation,
    app_credential_validation,
    versions,
    project_token_validate_revoke,
    scopes,
    rescope_with_token,
    bad_input,
    admin_workflow,
    role_options,
);
