//! `/v2.0/security-groups` and `/v2.0/security-group-rules`: the groups of
//! rules that filter ports' traffic, each project's `default` group (made on
//! the project's first list or port), and the groups of ports.

use std::collections::HashSet;
use std::net::IpAddr;

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};

use utoipa::ToSchema;

use super::error::{NeutronError, Result};
use super::openapi::{FieldsParam, Link, ListParams};
use super::{
    Caller, ListQuery, NetworkState, body_object, get_bool, get_str, new_id, now, owner_of_new, owns, project, scope,
    select_fields, ts,
};
use crate::common::auth::AuthContext;
use crate::common::openapi::Routes;
use crate::storage::network::Port;
use crate::storage::security_groups::{self as db, Rule, SecurityGroup};
use crate::storage::{DbConn, StorageError, StorageResult};

const GROUP_CREATE: &[&str] = &["name", "description", "stateful", "project_id", "tenant_id"];
const GROUP_UPDATE: &[&str] = &["name", "description", "stateful"];
const RULE_CREATE: &[&str] = &[
    "security_group_id",
    "direction",
    "ethertype",
    "protocol",
    "port_range_min",
    "port_range_max",
    "remote_ip_prefix",
    "remote_group_id",
    "remote_address_group_id",
    "description",
    "project_id",
    "tenant_id",
];

/// neutron-lib's `IP_PROTOCOL_MAP`, in its order (Neutron's error message
/// lists the names in it).
const PROTOCOLS: &[(&str, u8)] = &[
    ("ah", 51),
    ("dccp", 33),
    ("egp", 8),
    ("esp", 50),
    ("gre", 47),
    ("hopopt", 0),
    ("icmp", 1),
    ("igmp", 2),
    ("ip", 0),
    ("ipip", 4),
    ("ipv6-encap", 41),
    ("ipv6-frag", 44),
    ("ipv6-icmp", 58),
    ("icmpv6", 58),
    ("ipv6-nonxt", 59),
    ("ipv6-opts", 60),
    ("ipv6-route", 43),
    ("ospf", 89),
    ("pgm", 113),
    ("rsvp", 46),
    ("sctp", 132),
    ("tcp", 6),
    ("udp", 17),
    ("udplite", 136),
    ("vrrp", 112),
];
/// Protocols whose rules may name ports: DCCP, SCTP, TCP, UDP, UDP-Lite.
const PORT_PROTOCOLS: &[u8] = &[33, 132, 6, 17, 136];
/// Protocols only IPv6 carries: an IPv4 rule for them is refused.
const IPV6_ONLY: &[&str] = &[
    "ipv6-encap",
    "ipv6-frag",
    "ipv6-icmp",
    "icmpv6",
    "ipv6-nonxt",
    "ipv6-opts",
    "ipv6-route",
    "41",
    "44",
    "58",
    "59",
    "60",
    "43",
];

pub fn routes(r: &mut Routes) {
    crate::routes!(r; list_groups, create_group, show_group, update_group, delete_group,
        list_rules, create_rule, show_rule, delete_rule);
}

/// A rule of a security group.
#[derive(ToSchema)]
#[schema(as = SecurityGroupRule)]
#[allow(dead_code)]
pub struct RuleDoc {
    #[schema(format = Uuid)]
    id: String,
    security_group_id: String,
    project_id: String,
    tenant_id: String,
    /// `ingress` or `egress`.
    direction: String,
    /// `IPv4` or `IPv6`.
    ethertype: String,
    /// A protocol name or number; null for any.
    protocol: Option<String>,
    /// The first port (TCP, UDP…) or the ICMP type; null for any.
    port_range_min: Option<i32>,
    /// The last port or the ICMP code; null for any.
    port_range_max: Option<i32>,
    remote_ip_prefix: Option<String>,
    /// `remote_ip_prefix` with its host bits cleared.
    normalized_cidr: Option<String>,
    remote_group_id: Option<String>,
    /// Always null (no address groups).
    #[schema(value_type = Option<String>)]
    remote_address_group_id: (),
    /// Whether the rule is of its project's default group.
    belongs_to_default_sg: bool,
    description: String,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
    revision_number: i64,
}

/// A security group with its rules.
#[derive(ToSchema)]
#[schema(as = SecurityGroup)]
#[allow(dead_code)]
pub struct GroupDoc {
    #[schema(format = Uuid)]
    id: String,
    name: String,
    description: String,
    project_id: String,
    tenant_id: String,
    stateful: bool,
    /// Always false (no RBAC sharing).
    shared: bool,
    security_group_rules: Vec<RuleDoc>,
    /// Always empty.
    tags: Vec<String>,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
    revision_number: i64,
}

/// A list of security groups; `security_groups_links` holds the
/// `next`/`previous` pages when paging.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct GroupList {
    security_groups: Vec<GroupDoc>,
    security_groups_links: Option<Vec<Link>>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct GroupOne {
    security_group: GroupDoc,
}

/// A new security group (it starts with the two egress rules). `default`
/// is the project's own group's name.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct GroupCreate {
    #[schema(max_length = 255, nullable = false)]
    name: Option<String>,
    #[schema(max_length = 255, nullable = false)]
    description: Option<String>,
    #[schema(nullable = false)]
    stateful: Option<bool>,
    /// The owner (another project than the caller's needs an admin).
    #[schema(max_length = 255, nullable = false)]
    project_id: Option<String>,
    /// The same as `project_id`.
    #[schema(max_length = 255, nullable = false)]
    tenant_id: Option<String>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct GroupCreateBody {
    security_group: GroupCreate,
}

/// What a group update may change (the default group keeps its name;
/// `stateful` cannot change while ports use the group).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct GroupUpdate {
    #[schema(max_length = 255, nullable = false)]
    name: Option<String>,
    #[schema(max_length = 255, nullable = false)]
    description: Option<String>,
    #[schema(nullable = false)]
    stateful: Option<bool>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct GroupUpdateBody {
    security_group: GroupUpdate,
}

/// A list of rules; `security_group_rules_links` holds the
/// `next`/`previous` pages when paging.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RuleList {
    security_group_rules: Vec<RuleDoc>,
    security_group_rules_links: Option<Vec<Link>>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RuleOne {
    security_group_rule: RuleDoc,
}

#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum Direction {
    Ingress,
    Egress,
}

/// A new rule: `security_group_id` and `direction` are required. Ports
/// need a protocol (TCP, UDP, SCTP, DCCP, UDP-Lite: the range; ICMP: type
/// and code); one remote at most.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct RuleCreate {
    #[schema(max_length = 36)]
    security_group_id: String,
    #[schema(inline)]
    direction: Direction,
    /// `IPv4` (the default) or `IPv6`, in any case.
    #[schema(nullable = false)]
    ethertype: Option<String>,
    /// A protocol name (any case), a number 0–255 (or its string), `any` or
    /// null for any.
    #[schema(value_type = Option<String>)]
    protocol: Option<Value>,
    #[schema(minimum = 0, maximum = 65535)]
    port_range_min: Option<i32>,
    #[schema(minimum = 0, maximum = 65535)]
    port_range_max: Option<i32>,
    /// An address or CIDR of the rule's ethertype.
    remote_ip_prefix: Option<String>,
    remote_group_id: Option<String>,
    /// Address groups are not offered: any id is not found.
    remote_address_group_id: Option<String>,
    #[schema(max_length = 255, nullable = false)]
    description: Option<String>,
    /// The owner (another project than the caller's needs an admin).
    #[schema(max_length = 255, nullable = false)]
    project_id: Option<String>,
    /// The same as `project_id`.
    #[schema(max_length = 255, nullable = false)]
    tenant_id: Option<String>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RuleCreateBody {
    security_group_rule: RuleCreate,
}

crate::neutron_filters!(GroupFilters:
    "id" = Str, "name" = Str, "description" = Str, "project_id" = Str, "tenant_id" = Str, "stateful" = Bool,
    "shared" = Bool, "revision_number" = Int,
);

crate::neutron_filters!(RuleFilters:
    "id" = Str, "security_group_id" = Str, "project_id" = Str, "tenant_id" = Str, "direction" = Str,
    "ethertype" = Str, "protocol" = Str, "port_range_min" = Int, "port_range_max" = Int,
    "remote_ip_prefix" = Str, "normalized_cidr" = Str, "remote_group_id" = Str, "description" = Str,
    "belongs_to_default_sg" = Bool, "revision_number" = Int,
);

/// A value as Python's `%s` prints it, for messages that quote input.
fn raw(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        other => other.to_string(),
    }
}

// ---- views ---------------------------------------------------------------------

/// `a.b.c.d/n` with the host bits cleared.
fn normalized_cidr(prefix: &str) -> Option<String> {
    let (addr, len) = prefix.split_once('/')?;
    let len: u32 = len.parse().ok()?;
    Some(match addr.parse::<IpAddr>().ok()? {
        IpAddr::V4(a) => {
            let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
            format!("{}/{len}", std::net::Ipv4Addr::from(u32::from(a) & mask))
        }
        IpAddr::V6(a) => {
            let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
            format!("{}/{len}", std::net::Ipv6Addr::from(u128::from(a) & mask))
        }
    })
}

pub fn rule_view(r: &Rule, in_default_group: bool) -> Value {
    json!({
        "id": r.uuid, "security_group_id": r.security_group_uuid,
        "project_id": r.project_id, "tenant_id": r.project_id,
        "direction": r.direction, "ethertype": r.ethertype, "protocol": r.protocol,
        "port_range_min": r.port_range_min, "port_range_max": r.port_range_max,
        "remote_ip_prefix": r.remote_ip_prefix,
        "normalized_cidr": r.remote_ip_prefix.as_deref().and_then(normalized_cidr),
        "remote_group_id": r.remote_group_id, "remote_address_group_id": null,
        "belongs_to_default_sg": in_default_group, "description": r.description,
        "created_at": ts(r.created_at), "updated_at": ts(r.updated_at), "revision_number": r.revision_number,
    })
}

/// A group with its rules (those of `rules` that are its own).
pub fn group_view(g: &SecurityGroup, rules: &[Rule], is_default: bool) -> Value {
    let rules: Vec<Value> =
        rules.iter().filter(|r| r.security_group_uuid == g.uuid).map(|r| rule_view(r, is_default)).collect();
    json!({
        "id": g.uuid, "name": g.name, "description": g.description,
        "project_id": g.project_id, "tenant_id": g.project_id,
        "stateful": g.stateful, "shared": false, "security_group_rules": rules, "tags": [],
        "created_at": ts(g.created_at), "updated_at": ts(g.updated_at), "revision_number": g.revision_number,
    })
}

/// Renders groups with their rules, read in one unit of work.
async fn render(state: &NetworkState, groups: Vec<SecurityGroup>) -> Result<Vec<Value>> {
    let (groups, rules, defaults) = state
        .storage
        .read(move |c| {
            let ids: Vec<String> = groups.iter().map(|g| g.uuid.clone()).collect();
            let rules = db::rules_of(c, &ids)?;
            let defaults = db::defaults_among(c, &ids)?;
            Ok((groups, rules, defaults))
        })
        .await?;
    Ok(groups.iter().map(|g| group_view(g, &rules, defaults.contains(&g.uuid))).collect())
}

// ---- default groups ------------------------------------------------------------

/// The project's default group, made if it has none yet.
pub async fn ensure_default(state: &NetworkState, project_id: String) -> Result<String> {
    let p = project_id.clone();
    if let Some(id) = state.storage.read(move |c| db::default_of(c, &p)).await? {
        return Ok(id);
    }
    Ok(state.storage.write(move |c| db::default_group(c, &project_id)).await?)
}

/// Neutron makes a project's default group when its groups or rules are
/// listed: for the project the list filters on, else the caller's. Only
/// the project itself (or an admin) causes that.
async fn ensure_default_for_list(state: &NetworkState, ctx: &AuthContext, q: &ListQuery) -> Result<()> {
    let Some(own) = project(ctx) else { return Ok(()) };
    let filtered = ["project_id", "tenant_id"]
        .iter()
        .find_map(|key| q.filters.iter().find(|(k, _)| k == key).and_then(|(_, v)| v.first().cloned()));
    let target = filtered.unwrap_or_else(|| own.to_string());
    if target == own || ctx.is_admin() {
        ensure_default(state, target).await?;
    }
    Ok(())
}

// ---- groups --------------------------------------------------------------------

/// A group the caller may see (its project's, or any for admins); others are 404.
async fn visible_group(state: &NetworkState, ctx: &AuthContext, id: &str) -> Result<SecurityGroup> {
    let uuid = id.to_string();
    let g = state.storage.read(move |c| db::group(c, &uuid)).await?;
    if scope(ctx).is_some_and(|p| p != g.project_id) {
        return Err(NeutronError::not_found("security_group", id));
    }
    Ok(g)
}

/// `name`, which may not be `default` (in any case): only the project's
/// own default group has that name.
fn group_name(obj: &Map<String, Value>) -> Result<Option<String>> {
    let name = get_str(obj, "name", 255)?;
    if name.as_deref().is_some_and(|n| n.to_lowercase() == "default") {
        return Err(NeutronError::Conflict(
            "SecurityGroupDefaultAlreadyExists",
            "Default security group already exists.".into(),
        ));
    }
    Ok(name)
}

/// Lists the caller's project's security groups (every group for admins),
/// making the project's default group first if it has none.
#[utoipa::path(get, path = "/v2.0/security-groups", tag = "security-groups", params(GroupFilters, ListParams),
    responses((status = 200, description = "The security groups.", body = GroupList)))]
async fn list_groups(caller: Caller, state: web::Data<NetworkState>, req: HttpRequest) -> Result<HttpResponse> {
    let q = ListQuery::parse(&req)?;
    ensure_default_for_list(&state, &caller, &q).await?;
    let project = scope(&caller);
    let groups = state.storage.read(move |c| db::groups_of(c, project.as_deref())).await?;
    let items = render(&state, groups).await?;
    Ok(HttpResponse::Ok().json(q.respond(&state, "security_groups", items, &|_, _, _| None)?))
}

/// Shows a security group with its rules.
#[utoipa::path(get, path = "/v2.0/security-groups/{id}", tag = "security-groups",
    params(("id" = String, Path, description = "The group's id."), FieldsParam),
    responses((status = 200, description = "The security group.", body = GroupOne)))]
async fn show_group(
    caller: Caller,
    state: web::Data<NetworkState>,
    id: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse> {
    let g = visible_group(&state, &caller, &id).await?;
    let view = render(&state, vec![g]).await?.remove(0);
    Ok(HttpResponse::Ok().json(json!({"security_group": select_fields(&req, view)})))
}

/// Creates a security group with the two egress rules.
#[utoipa::path(post, path = "/v2.0/security-groups", tag = "security-groups", request_body = GroupCreateBody,
    responses((status = 201, description = "The new security group.", body = GroupOne,
        links(("Show" = (operation_id = "security_groups.show_group", parameters(("id" = "$response.body#/security_group/id")))), ("Update" = (operation_id = "security_groups.update_group", parameters(("id" = "$response.body#/security_group/id")))), ("Delete" = (operation_id = "security_groups.delete_group", parameters(("id" = "$response.body#/security_group/id")))),
        ("CreateRule" = (operation_id = "security_groups.create_rule", request_body = json!({"security_group_rule": {
            "security_group_id": "$response.body#/security_group/id", "direction": "ingress"}})))))))]
async fn create_group(caller: Caller, state: web::Data<NetworkState>, body: web::Bytes) -> Result<HttpResponse> {
    let obj = body_object(&body, "security_group", GROUP_CREATE)?;
    let name = group_name(&obj)?.unwrap_or_default();
    let description = get_str(&obj, "description", 255)?.unwrap_or_default();
    let stateful = get_bool(&obj, "stateful")?.unwrap_or(true);
    let project_id = owner_of_new(&caller, &obj)?;
    if !owns(&caller, &project_id) {
        return Err(NeutronError::forbidden("rule:create_security_group is disallowed by policy"));
    }
    let t = now();
    let g = SecurityGroup {
        uuid: new_id(),
        name,
        description,
        project_id,
        stateful,
        revision_number: 1,
        created_at: t,
        updated_at: t,
    };
    let rules = db::template_rules(&g, false);
    let (row, first_rules) = (g.clone(), rules.clone());
    state
        .storage
        .write(move |c| {
            db::quota_check(c, &row.project_id, "security_group")?;
            // As Neutron: the project's default group comes first.
            db::default_group(c, &row.project_id)?;
            db::group_insert(c, &row, &first_rules)
        })
        .await?;
    Ok(HttpResponse::Created().json(json!({"security_group": group_view(&g, &rules, false)})))
}

/// Updates a security group.
#[utoipa::path(put, path = "/v2.0/security-groups/{id}", tag = "security-groups",
    params(("id" = String, Path, description = "The group's id.")), request_body = GroupUpdateBody,
    responses((status = 200, description = "The updated security group.", body = GroupOne)))]
async fn update_group(
    caller: Caller,
    state: web::Data<NetworkState>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse> {
    let obj = body_object(&body, "security_group", GROUP_CREATE)?;
    if let Some(k) = obj.keys().find(|k| !GROUP_UPDATE.contains(&k.as_str())) {
        return Err(NeutronError::bad(format!("Cannot update read-only attribute {k}")));
    }
    let name = group_name(&obj)?;
    let description = get_str(&obj, "description", 255)?;
    let stateful = get_bool(&obj, "stateful")?;
    let g = visible_group(&state, &caller, &id).await?;
    if !owns(&caller, &g.project_id) {
        return Err(NeutronError::forbidden("rule:update_security_group is disallowed by policy"));
    }
    let renaming = obj.contains_key("name");
    let (g, rules, is_default) = state
        .storage
        .write(move |c| {
            let Some(mut g) = db::lock_groups(c, std::slice::from_ref(&g.uuid))?.pop() else {
                return Err(StorageError::not_found("security_group", g.uuid));
            };
            let is_default = !db::defaults_among(c, std::slice::from_ref(&g.uuid))?.is_empty();
            if is_default && renaming {
                return Err(StorageError::refused(
                    "SecurityGroupCannotUpdateDefault",
                    "Updating default security group not allowed.",
                ));
            }
            if let Some(s) = stateful {
                // The ports' filtering would change under them.
                if s != g.stateful && db::group_in_use(c, &g.uuid)? {
                    return Err(StorageError::refused(
                        "SecurityGroupInUse",
                        format!("Security Group {} in use.", g.uuid),
                    ));
                }
                g.stateful = s;
            }
            if let Some(n) = name {
                g.name = n;
            }
            if let Some(d) = description {
                g.description = d;
            }
            g.revision_number += 1;
            g.updated_at = now();
            db::group_update(c, &g)?;
            let rules = db::rules_of(c, std::slice::from_ref(&g.uuid))?;
            Ok((g, rules, is_default))
        })
        .await?;
    Ok(HttpResponse::Ok().json(json!({"security_group": group_view(&g, &rules, is_default)})))
}

/// Deletes a security group no port uses (a default group: admins only).
#[utoipa::path(delete, path = "/v2.0/security-groups/{id}", tag = "security-groups",
    params(("id" = String, Path, description = "The group's id.")),
    responses((status = 204, description = "Deleted.")))]
async fn delete_group(caller: Caller, state: web::Data<NetworkState>, id: web::Path<String>) -> Result<HttpResponse> {
    let g = visible_group(&state, &caller, &id).await?;
    if !owns(&caller, &g.project_id) {
        return Err(NeutronError::forbidden("rule:delete_security_group is disallowed by policy"));
    }
    let admin = caller.is_admin();
    state.storage.write(move |c| db::group_delete(c, &g.uuid, admin)).await?;
    Ok(HttpResponse::NoContent().finish())
}

// ---- rule attributes -----------------------------------------------------------

fn invalid(kind: &'static str, msg: impl Into<String>) -> NeutronError {
    NeutronError::BadRequest(kind, msg.into())
}

/// `protocol`: a name (any case), a number 0–255, or `null`/`any` for any.
fn protocol(v: Option<&Value>) -> Result<Option<String>> {
    let refuse = |v: &Value| {
        let names: Vec<String> = PROTOCOLS.iter().map(|(n, _)| format!("'{n}'")).collect();
        invalid(
            "SecurityGroupRuleInvalidProtocol",
            format!(
                "Security group rule protocol {} not supported. Only protocol values (None, 'any', {}) and integer representations [0 to 255] are supported.",
                raw(v),
                names.join(", ")
            ),
        )
    };
    let Some(v) = v else { return Ok(None) };
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => match n.as_i64() {
            Some(i) if (0..=255).contains(&i) => Ok(Some(i.to_string())),
            _ => Err(refuse(v)),
        },
        Value::String(s) => {
            let s = s.trim();
            if let Ok(i) = s.parse::<i64>() {
                return if (0..=255).contains(&i) { Ok(Some(s.to_string())) } else { Err(refuse(v)) };
            }
            let name = s.to_lowercase();
            if name == "any" {
                Ok(None)
            } else if PROTOCOLS.iter().any(|(n, _)| *n == name) {
                Ok(Some(name))
            } else {
                Err(refuse(v))
            }
        }
        _ => Err(refuse(v)),
    }
}

/// A port bound: 0–65535 or `null`.
fn port_bound(v: Option<&Value>) -> Result<Option<i32>> {
    let Some(v) = v else { return Ok(None) };
    let n = match v {
        Value::Null => return Ok(None),
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    match n {
        Some(n) if (0..=65535).contains(&n) => Ok(Some(n as i32)),
        _ => Err(invalid("SecurityGroupInvalidPortValue", format!("Invalid value for port {}", raw(v)))),
    }
}

fn ethertype(v: Option<&Value>) -> Result<String> {
    match v {
        None => Ok("IPv4".into()),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("ipv4") => Ok("IPv4".into()),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("ipv6") => Ok("IPv6".into()),
        Some(v) => Err(invalid(
            "SecurityGroupRuleInvalidEtherType",
            format!(
                "Security group rule for ethertype '{}' not supported. Allowed values are ['IPv4', 'IPv6'].",
                raw(v)
            ),
        )),
    }
}

/// `remote_ip_prefix` as Neutron keeps it: an address gets a full-length
/// prefix; the host bits stay as given (`normalized_cidr` clears them).
fn ip_prefix(v: Option<&Value>) -> Result<Option<(String, bool)>> {
    let bad = |v: &Value| invalid("InvalidCIDR", format!("Invalid CIDR {} given as IP prefix.", raw(v)));
    let s = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) if s.is_empty() => return Ok(None),
        Some(Value::String(s)) => s,
        Some(v) => return Err(bad(v)),
    };
    let (addr, len) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s.as_str(), None),
    };
    let ip: IpAddr = addr.parse().map_err(|_| bad(v.unwrap_or(&Value::Null)))?;
    let bits = if ip.is_ipv4() { 32 } else { 128 };
    let len: u8 = match len {
        None => bits,
        Some(l) => l.parse().ok().filter(|l| *l <= bits).ok_or_else(|| bad(v.unwrap_or(&Value::Null)))?,
    };
    Ok(Some((format!("{ip}/{len}"), ip.is_ipv4())))
}

fn required<'a>(obj: &'a Map<String, Value>, key: &str) -> Result<&'a Value> {
    obj.get(key)
        .ok_or_else(|| NeutronError::bad(format!("Failed to parse request. Required attribute '{key}' not specified")))
}

/// A protocol's number (names through neutron-lib's map, `icmpv6` included).
fn protocol_number(p: &str) -> Option<u8> {
    PROTOCOLS.iter().find(|(n, _)| *n == p).map(|(_, num)| *num).or_else(|| p.parse().ok())
}

/// The protocol as Neutron compares rules: (name, number), with IPv6 ICMP's
/// legacy spellings folded together.
fn protocol_key(p: Option<&str>, ethertype: &str) -> Option<(String, String)> {
    let mut p = p?.to_string();
    if ethertype == "IPv6" {
        if p == "icmp" || p == "icmpv6" {
            p = "ipv6-icmp".into();
        } else if p == "1" {
            p = "58".into();
        }
    }
    if let Some((_, num)) = PROTOCOLS.iter().find(|(n, _)| *n == p) {
        return Some((p, num.to_string()));
    }
    // Number to name as Neutron's map: the last name of a number wins, `icmpv6` aside.
    let name =
        PROTOCOLS.iter().rev().find(|(n, num)| *n != "icmpv6" && num.to_string() == p).map(|(n, _)| n.to_string());
    Some((name.unwrap_or_else(|| p.clone()), p))
}

/// What makes two rules the same for Neutron: all but id, project and
/// description; "anywhere" prefixes equal no prefix.
fn rule_key(r: &Rule) -> impl PartialEq + use<> {
    let prefix = r.remote_ip_prefix.clone().filter(|p| p != "0.0.0.0/0" && p != "::/0");
    (
        r.security_group_uuid.clone(),
        r.direction.clone(),
        r.ethertype.clone(),
        protocol_key(r.protocol.as_deref(), &r.ethertype),
        r.port_range_min,
        r.port_range_max,
        r.remote_group_id.clone(),
        prefix,
    )
}

/// Neutron's checks of a rule's values together, after it made them
/// canonical (IPv6 ICMP spelled `ipv6-icmp`, the whole port range as none).
fn check_rule(r: &mut Rule, v4_prefix: Option<bool>, address_group: bool) -> Result<()> {
    if r.ethertype == "IPv6" {
        match r.protocol.as_deref() {
            Some("icmp" | "icmpv6") => r.protocol = Some("ipv6-icmp".into()),
            Some("1") => r.protocol = Some("58".into()),
            _ => {}
        }
    }
    if r.port_range_min == Some(1) && r.port_range_max == Some(65535) {
        (r.port_range_min, r.port_range_max) = (None, None);
    }
    let (min, max) = (r.port_range_min, r.port_range_max);
    if min.is_some() || max.is_some() {
        let Some(number) = r.protocol.as_deref().and_then(protocol_number) else {
            return Err(invalid(
                "SecurityGroupProtocolRequiredWithPorts",
                "Must also specify protocol if port range is given.",
            ));
        };
        if PORT_PROTOCOLS.contains(&number) {
            if min == Some(0) || max == Some(0) {
                return Err(invalid("SecurityGroupInvalidPortValue", "Invalid value for port 0"));
            }
            if !matches!((min, max), (Some(a), Some(b)) if a <= b) {
                return Err(invalid(
                    "SecurityGroupInvalidPortRange",
                    "For TCP/UDP protocols, port_range_min must be <= port_range_max",
                ));
            }
        } else if number == 1 || number == 58 {
            for (value, field, attr) in [(min, "type", "port_range_min"), (max, "code", "port_range_max")] {
                if let Some(v) = value
                    && !(0..=255).contains(&v)
                {
                    return Err(invalid(
                        "SecurityGroupInvalidIcmpValue",
                        format!("Invalid value for ICMP {field} ({attr}) {v}. It must be 0 to 255."),
                    ));
                }
            }
            if let (None, Some(code)) = (min, max) {
                return Err(invalid(
                    "SecurityGroupMissingIcmpType",
                    format!("ICMP code (port-range-max) {code} is provided but ICMP type (port-range-min) is missing."),
                ));
            }
        } else {
            return Err(invalid(
                "SecurityGroupInvalidProtocolForPort",
                format!(
                    "Ports cannot be specified for protocol {number}. Ports are only supported for DCCP, SCTP, TCP, UDP, UDPLITE."
                ),
            ));
        }
    }
    if let (Some(prefix), Some(v4)) = (&r.remote_ip_prefix, v4_prefix)
        && v4 != (r.ethertype == "IPv4")
    {
        return Err(invalid(
            "SecurityGroupRuleParameterConflict",
            format!("Conflicting value ethertype {} for CIDR {prefix}", r.ethertype),
        ));
    }
    if let Some(p) = &r.protocol
        && r.ethertype == "IPv4"
        && IPV6_ONLY.contains(&p.as_str())
    {
        return Err(invalid(
            "SecurityGroupEthertypeConflictWithProtocol",
            format!("Invalid ethertype IPv4 for protocol {p}."),
        ));
    }
    let remotes = [r.remote_ip_prefix.is_some(), r.remote_group_id.is_some(), address_group];
    if remotes.iter().filter(|x| **x).count() > 1 {
        return Err(invalid(
            "SecurityGroupMultipleRemoteEntites",
            "Only one of remote_ip_prefix or remote_group_id or remote_address_group_id may be provided.",
        ));
    }
    Ok(())
}

/// A new rule from a request body, converted and checked in Neutron's order
/// (each attribute, then the values together).
fn new_rule(ctx: &AuthContext, obj: &Map<String, Value>) -> Result<Rule> {
    required(obj, "security_group_id")?;
    required(obj, "direction")?;
    let security_group_uuid = get_str(obj, "security_group_id", 36)?.unwrap_or_default();
    let remote_group_id = match obj.get("remote_group_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(v) => {
            return Err(NeutronError::bad(format!(
                "Invalid input for remote_group_id. Reason: '{}' is not a valid string.",
                raw(v)
            )));
        }
    };
    let direction = match obj.get("direction") {
        Some(Value::String(d)) if d == "ingress" || d == "egress" => d.clone(),
        Some(v) => {
            return Err(NeutronError::bad(format!(
                "Invalid input for direction. Reason: '{}' is not in ['ingress', 'egress'].",
                raw(v)
            )));
        }
        None => unreachable!("required above"),
    };
    let protocol = protocol(obj.get("protocol"))?;
    let port_range_min = port_bound(obj.get("port_range_min"))?;
    let port_range_max = port_bound(obj.get("port_range_max"))?;
    let ethertype = ethertype(obj.get("ethertype"))?;
    let prefix = ip_prefix(obj.get("remote_ip_prefix"))?;
    let project_id = owner_of_new(ctx, obj)?;
    let description = get_str(obj, "description", 255)?.unwrap_or_default();
    let address_group = obj.get("remote_address_group_id").is_some_and(|v| !v.is_null());
    let t = now();
    let mut r = Rule {
        uuid: new_id(),
        security_group_uuid,
        project_id,
        direction,
        ethertype,
        protocol,
        port_range_min,
        port_range_max,
        remote_ip_prefix: prefix.as_ref().map(|(p, _)| p.clone()),
        remote_group_id,
        description,
        revision_number: 1,
        created_at: t,
        updated_at: t,
    };
    check_rule(&mut r, prefix.map(|(_, v4)| v4), address_group)?;
    if let Some(id) = obj.get("remote_address_group_id").filter(|v| !v.is_null()) {
        // Address groups are not offered here: none can be found.
        return Err(NeutronError::NotFound(
            "AddressGroupNotFound",
            format!("Address group {} could not be found.", raw(id)),
        ));
    }
    Ok(r)
}

// ---- rules ---------------------------------------------------------------------

/// A rule the caller may see: its project's, or one in a group of its
/// project (any for admins); others are 404.
async fn visible_rule(state: &NetworkState, ctx: &AuthContext, id: &str) -> Result<(Rule, SecurityGroup, bool)> {
    let uuid = id.to_string();
    let (r, g, is_default) = state
        .storage
        .read(move |c| {
            let r = db::rule(c, &uuid)?;
            let g = db::group(c, &r.security_group_uuid)?;
            let is_default = !db::defaults_among(c, std::slice::from_ref(&g.uuid))?.is_empty();
            Ok((r, g, is_default))
        })
        .await?;
    if let Some(p) = scope(ctx)
        && p != r.project_id
        && p != g.project_id
    {
        return Err(NeutronError::not_found("security_group_rule", id));
    }
    Ok((r, g, is_default))
}

/// Lists the rules the caller may see: its project's and those of its
/// project's groups (every rule for admins).
#[utoipa::path(get, path = "/v2.0/security-group-rules", tag = "security-group-rules",
    params(RuleFilters, ListParams),
    responses((status = 200, description = "The rules.", body = RuleList)))]
async fn list_rules(caller: Caller, state: web::Data<NetworkState>, req: HttpRequest) -> Result<HttpResponse> {
    let q = ListQuery::parse(&req)?;
    ensure_default_for_list(&state, &caller, &q).await?;
    let project = scope(&caller);
    let (rules, defaults) = state
        .storage
        .read(move |c| {
            let rules = db::rules_visible(c, project.as_deref())?;
            let groups: Vec<String> =
                rules.iter().map(|r| r.security_group_uuid.clone()).collect::<HashSet<_>>().into_iter().collect();
            Ok((rules, db::defaults_among(c, &groups)?))
        })
        .await?;
    let items = rules.iter().map(|r| rule_view(r, defaults.contains(&r.security_group_uuid))).collect();
    Ok(HttpResponse::Ok().json(q.respond(&state, "security_group_rules", items, &|_, _, _| None)?))
}

/// Shows a security group rule.
#[utoipa::path(get, path = "/v2.0/security-group-rules/{id}", tag = "security-group-rules",
    params(("id" = String, Path, description = "The rule's id."), FieldsParam),
    responses((status = 200, description = "The rule.", body = RuleOne)))]
async fn show_rule(
    caller: Caller,
    state: web::Data<NetworkState>,
    id: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse> {
    let (r, _, is_default) = visible_rule(&state, &caller, &id).await?;
    Ok(HttpResponse::Ok().json(json!({"security_group_rule": select_fields(&req, rule_view(&r, is_default))})))
}

/// Adds a rule to a security group.
#[utoipa::path(post, path = "/v2.0/security-group-rules", tag = "security-group-rules",
    request_body = RuleCreateBody,
    responses((status = 201, description = "The new rule.", body = RuleOne,
        links(("Show" = (operation_id = "security_groups.show_rule", parameters(("id" = "$response.body#/security_group_rule/id")))),
            ("Delete" = (operation_id = "security_groups.delete_rule", parameters(("id" = "$response.body#/security_group_rule/id"))))))))]
async fn create_rule(caller: Caller, state: web::Data<NetworkState>, body: web::Bytes) -> Result<HttpResponse> {
    let obj = body_object(&body, "security_group_rule", RULE_CREATE)?;
    let r = new_rule(&caller, &obj)?;
    if !owns(&caller, &r.project_id) {
        return Err(NeutronError::forbidden("rule:create_security_group_rule is disallowed by policy"));
    }
    let admin = caller.is_admin();
    let row = r.clone();
    let is_default = state
        .storage
        .write(move |c| {
            db::quota_check(c, &row.project_id, "security_group_rule")?;
            // Locking the group serialises concurrent rules of one group, so
            // that the duplicate check below sees them all.
            let mut wanted = vec![row.security_group_uuid.clone()];
            wanted.extend(row.remote_group_id.clone());
            let groups = db::lock_groups(c, &wanted)?;
            let usable = |id: &str| groups.iter().any(|g| g.uuid == id && (admin || g.project_id == row.project_id));
            if let Some(remote) = &row.remote_group_id
                && !usable(remote)
            {
                return Err(StorageError::not_found("security_group", remote.clone()));
            }
            if !usable(&row.security_group_uuid) {
                return Err(StorageError::not_found("security_group", row.security_group_uuid.clone()));
            }
            let key = rule_key(&row);
            let existing = db::rules_of(c, std::slice::from_ref(&row.security_group_uuid))?;
            if let Some(same) = existing.iter().find(|e| rule_key(e) == key) {
                return Err(StorageError::refused(
                    "SecurityGroupRuleExists",
                    format!("Security group rule already exists. Rule id is {}.", same.uuid),
                ));
            }
            db::rule_insert(c, &row)?;
            Ok(!db::defaults_among(c, std::slice::from_ref(&row.security_group_uuid))?.is_empty())
        })
        .await?;
    Ok(HttpResponse::Created().json(json!({"security_group_rule": rule_view(&r, is_default)})))
}

/// Deletes a security group rule.
#[utoipa::path(delete, path = "/v2.0/security-group-rules/{id}", tag = "security-group-rules",
    params(("id" = String, Path, description = "The rule's id.")),
    responses((status = 204, description = "Deleted.")))]
async fn delete_rule(caller: Caller, state: web::Data<NetworkState>, id: web::Path<String>) -> Result<HttpResponse> {
    let (r, g, _) = visible_rule(&state, &caller, &id).await?;
    if !owns(&caller, &r.project_id) && !owns(&caller, &g.project_id) {
        return Err(NeutronError::forbidden("rule:delete_security_group_rule is disallowed by policy"));
    }
    state.storage.write(move |c| db::rule_delete(c, &r.uuid)).await?;
    Ok(HttpResponse::NoContent().finish())
}

// ---- the groups of ports -------------------------------------------------------

/// `security_groups` of a port request: `None` when absent; `null` is an
/// empty list, as Neutron converts it.
pub fn port_request(obj: &Map<String, Value>) -> Result<Option<Vec<String>>> {
    let reason = |r: String| NeutronError::bad(format!("Invalid input for security_groups. Reason: {r}."));
    let list = match obj.get("security_groups") {
        None => return Ok(None),
        Some(Value::Null) => return Ok(Some(Vec::new())),
        Some(Value::Array(list)) => list,
        Some(v) => return Err(reason(format!("'{}' is not a list", raw(v)))),
    };
    let mut ids: Vec<String> = Vec::with_capacity(list.len());
    let mut dups: Vec<String> = Vec::new();
    for item in list {
        let s = raw(item);
        if ids.contains(&s) && !dups.contains(&s) {
            dups.push(s.clone());
        }
        ids.push(s);
    }
    if !dups.is_empty() {
        return Err(reason(format!("Duplicate items in the list: '{}'", dups.join(", "))));
    }
    for (item, id) in list.iter().zip(&ids) {
        if !item.is_string() || uuid::Uuid::parse_str(id).is_err() {
            return Err(reason(format!("'{id}' is not a valid UUID")));
        }
    }
    Ok(Some(ids))
}

/// Neutron's port-security rules for groups: a port without port security
/// takes none, and port security cannot be turned off while the port still
/// has groups (unless the same request removes them).
pub fn check_port_security(enabled: bool, requested: Option<&[String]>, current: &str) -> Result<()> {
    if enabled {
        return Ok(());
    }
    match requested {
        Some(ids) if !ids.is_empty() => Err(invalid(
            "PortSecurityAndIPRequiredForSecurityGroups",
            "Port security must be enabled and port must have an IP address in order to use security groups.",
        )),
        None if !serde_json::from_str::<Vec<String>>(current).unwrap_or_default().is_empty() => Err(NeutronError::Conflict(
            "PortSecurityPortHasSecurityGroup",
            "Port has security group associated. Cannot disable port security or IP address until security group is removed."
                .into(),
        )),
        _ => Ok(()),
    }
}

/// The groups a port gets (its stored JSON list), inside the port's write
/// transaction: the requested ones, each a group of the port's project
/// (admins may use any), else 404; without a request, the project's
/// default group when port security is on. Network-owned ports (DHCP,
/// routers) get none, as in Neutron.
pub fn port_groups(c: &mut DbConn, port: &Port, admin: bool, requested: Option<&[String]>) -> StorageResult<String> {
    if port.device_owner.starts_with("network:") {
        return Ok("[]".into());
    }
    let ids = match requested {
        None if port.port_security_enabled => vec![db::default_group(c, &port.project_id)?],
        None => Vec::new(),
        Some(ids) => {
            let groups = db::lock_groups(c, ids)?;
            let missing: Vec<&str> = ids
                .iter()
                .filter(|id| !groups.iter().any(|g| &g.uuid == *id && (admin || g.project_id == port.project_id)))
                .map(String::as_str)
                .collect();
            if !missing.is_empty() {
                return Err(StorageError::not_found("security_group", missing.join(", ")));
            }
            if groups.iter().any(|g| g.stateful) && groups.iter().any(|g| !g.stateful) {
                return Err(StorageError::refused(
                    "SecurityGroupConflict",
                    "Error Cannot apply both stateful and stateless security groups on the same port at the same time while attempting the operation.",
                ));
            }
            ids.to_vec()
        }
    };
    Ok(serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into()))
}
