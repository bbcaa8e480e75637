//! Keypairs (`/os-keypairs`): a user's named public keys, imported or (below
//! 2.92) generated here. Microversion deltas: 2.2 `type` (ssh/x509) and
//! 201/204 status codes; 2.10 an administrator's `user_id`; 2.35
//! `limit`/`marker` paging; 2.92 import only, wider name pattern.

use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use md5::{Digest, Md5};
use serde_json::{Map, Value, json};

use super::error::{ComputeError, Result};
use super::openapi::NextLink;
use super::{ApiVersion, Caller, ComputeState, body_object, now, only_keys, query_pairs};
use crate::common::auth::AuthContext;
use crate::common::openapi::Routes;
use crate::storage::StorageError;
use crate::storage::compute::{self as db, KeyType, Keypair, NewKeypair};

pub fn routes(r: &mut Routes) {
    crate::routes!(r; list, create, show, delete);
}

/// `ssh` or `x509`.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum KeypairType {
    Ssh,
    X509,
}

/// A new keypair: imported with `public_key`, else (below 2.92) generated
/// and its private key returned once; (2.2) `type` is `ssh` by default.
#[derive(utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct KeypairFields {
    /// `^[a-zA-Z0-9 _-]+$`, from 2.92 `^[a-zA-Z0-9 @._-]+$`.
    #[schema(min_length = 1, max_length = 255)]
    name: String,
    /// An OpenSSH public key, or a PEM X.509 certificate for `x509`;
    /// required from 2.92.
    #[serde(default)]
    public_key: String,
    #[serde(default)]
    #[schema(inline)]
    r#type: KeypairType,
    /// (2.10) Another user's (administrators).
    #[serde(default)]
    user_id: String,
}

/// `{"keypair": …}` to create.
#[derive(utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct KeypairCreate {
    keypair: KeypairFields,
}

/// A keypair as created; `private_key` only when generated, `type` from
/// 2.2.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct KeypairCreated {
    name: String,
    public_key: String,
    fingerprint: String,
    user_id: String,
    #[serde(default)]
    private_key: String,
    #[serde(default)]
    #[schema(inline)]
    r#type: KeypairType,
}

/// `{"keypair": …}` as created.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct KeypairCreatedShow {
    keypair: KeypairCreated,
}

/// A keypair in a listing; `type` from 2.2.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct KeypairBrief {
    name: String,
    public_key: String,
    fingerprint: String,
    #[serde(default)]
    #[schema(inline)]
    r#type: KeypairType,
}

/// A listed keypair, wrapped.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct KeypairItem {
    keypair: KeypairBrief,
}

/// The user's keypairs; (2.35) `keypairs_links` when the page is full.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct KeypairList {
    keypairs: Vec<KeypairItem>,
    #[serde(default)]
    keypairs_links: Vec<NextLink>,
}

/// A keypair in full; `type` from 2.2.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct KeypairDetail {
    id: i64,
    name: String,
    public_key: String,
    fingerprint: String,
    user_id: String,
    /// `YYYY-MM-DDTHH:MM:SS.ffffff` (UTC, no zone).
    created_at: String,
    deleted: bool,
    /// Always null.
    #[schema(required = true)]
    deleted_at: Option<String>,
    /// Always null.
    #[schema(required = true)]
    updated_at: Option<String>,
    #[serde(default)]
    #[schema(inline)]
    r#type: KeypairType,
}

/// `{"keypair": …}`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct KeypairShow {
    keypair: KeypairDetail,
}

/// (2.10) Whose keypairs (administrators).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct UserQuery {
    user_id: Option<String>,
}

/// The listing's user and (2.35) paging.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct KeypairListQuery {
    /// (2.10) Whose keypairs (administrators).
    user_id: Option<String>,
    /// (2.35) Keypairs per page.
    #[param(minimum = 0)]
    limit: Option<i64>,
    /// (2.35) The name of the previous page's last keypair.
    marker: Option<String>,
}

fn not_found(name: &str, user_id: &str) -> ComputeError {
    ComputeError::NotFound(format!("Keypair {name} not found for user {user_id}"))
}

fn invalid_key() -> ComputeError {
    ComputeError::bad("Keypair data is invalid: failed to generate fingerprint")
}

/// Whose keypairs a request is about: the caller's, or (2.10+, admins
/// only) the `user_id` it names.
fn target_user(ctx: &AuthContext, v: ApiVersion, requested: Option<&str>, rule: &str) -> Result<String> {
    let own = ctx.user_id.clone().unwrap_or_default();
    match requested {
        Some(u) if v.at_least(10) && u != own => {
            if ctx.is_admin() {
                Ok(u.to_string())
            } else {
                Err(ComputeError::policy(rule))
            }
        }
        _ => Ok(own),
    }
}

fn user_param(req: &HttpRequest) -> Result<Option<String>> {
    Ok(query_pairs(req)?.into_iter().rev().find(|(k, _)| k == "user_id").map(|(_, v)| v))
}

/// Colon-separated lower-case hex.
fn colon_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

/// An OpenSSH public key line checked, and its fingerprint: MD5 of the key
/// blob.
fn ssh_fingerprint(public_key: &str) -> Result<String> {
    let line = public_key.trim();
    ssh_key::PublicKey::from_openssh(line).map_err(|_| invalid_key())?;
    let blob = line.split_whitespace().nth(1).ok_or_else(invalid_key)?;
    let raw = base64::engine::general_purpose::STANDARD.decode(blob).map_err(|_| invalid_key())?;
    Ok(colon_hex(&Md5::digest(&raw)))
}

/// The DER inside a PEM certificate.
fn pem_certificate(pem: &str) -> Option<Vec<u8>> {
    let body = pem.trim().strip_prefix("-----BEGIN CERTIFICATE-----")?.trim_end();
    let body = body.strip_suffix("-----END CERTIFICATE-----")?;
    let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    let der = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    // an X.509 certificate is a DER SEQUENCE of at least a few dozen bytes
    (der.len() > 64 && der[0] == 0x30).then_some(der)
}

/// An X.509 certificate's fingerprint: SHA-1 of its DER.
fn x509_fingerprint(der: &[u8]) -> String {
    colon_hex(ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, der).as_ref())
}

/// A new keypair: (public key, private key, fingerprint).
fn generate(key_type: KeyType, user_id: &str) -> Result<(String, String, String)> {
    match key_type {
        KeyType::Ssh => {
            let mut key = ssh_key::PrivateKey::random(&mut rand::rngs::OsRng, ssh_key::Algorithm::Ed25519)
                .map_err(|e| ComputeError::Internal(format!("key generation failed: {e}")))?;
            key.set_comment("Generated-by-ironbark");
            let private = key
                .to_openssh(ssh_key::LineEnding::LF)
                .map_err(|e| ComputeError::Internal(format!("key encoding failed: {e}")))?
                .to_string();
            let public = key
                .public_key()
                .to_openssh()
                .map_err(|e| ComputeError::Internal(format!("key encoding failed: {e}")))?;
            let fingerprint = ssh_fingerprint(&public)?;
            Ok((public, private, fingerprint))
        }
        KeyType::X509 => {
            let fail = |e: rcgen::Error| ComputeError::Internal(format!("certificate generation failed: {e}"));
            let key = rcgen::KeyPair::generate().map_err(fail)?;
            let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(fail)?;
            params.distinguished_name.push(rcgen::DnType::OrganizationName, "ironbark");
            params.distinguished_name.push(rcgen::DnType::CommonName, user_id);
            let cert = params.self_signed(&key).map_err(fail)?;
            let fingerprint = x509_fingerprint(cert.der());
            Ok((cert.pem(), key.serialize_pem(), fingerprint))
        }
    }
}

/// `^[a-zA-Z0-9 _-]+$`, or from 2.92 `^[a-zA-Z0-9 @._-]+$`; 1–255 long.
fn valid_name(name: &str, v: ApiVersion) -> bool {
    let extra: &[u8] = if v.at_least(92) { b" @._-" } else { b" _-" };
    !name.is_empty() && name.len() <= 255 && name.bytes().all(|b| b.is_ascii_alphanumeric() || extra.contains(&b))
}

fn str_attr<'a>(obj: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>> {
    match obj.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(ComputeError::invalid(key, other, format!("{other} is not of type 'string'"))),
    }
}

/// Creates (imports or generates) a keypair.
#[utoipa::path(post, path = "/v2.1/os-keypairs", tag = "keypairs", request_body = KeypairCreate,
    responses((status = 200, description = "The new keypair (below 2.2).", body = KeypairCreatedShow),
        (status = 201, description = "The new keypair (2.2 and later).", body = KeypairCreatedShow)))]
async fn create(
    body: web::Bytes,
    caller: Caller,
    v: ApiVersion,
    state: web::Data<ComputeState>,
) -> Result<HttpResponse> {
    let obj = body_object(&body, "keypair")?;
    let mut allowed = vec!["name", "public_key"];
    if v.at_least(2) {
        allowed.push("type");
    }
    if v.at_least(10) {
        allowed.push("user_id");
    }
    only_keys(&obj, "keypair", &allowed)?;
    let name = match str_attr(&obj, "name")? {
        Some(n) if valid_name(n, v) => n.to_string(),
        Some(n) => {
            return Err(ComputeError::invalid("name", &json!(n), "is not a valid keypair name"));
        }
        None => return Err(ComputeError::invalid("keypair", &Value::Object(obj), "'name' is a required property")),
    };
    let key_type = match str_attr(&obj, "type")? {
        None => KeyType::Ssh,
        Some(t) => KeyType::parse(t)
            .ok_or_else(|| ComputeError::invalid("type", &json!(t), format!("'{t}' is not one of ['ssh', 'x509']")))?,
    };
    let user_id = target_user(&caller, v, str_attr(&obj, "user_id")?, "os-keypairs:create")?;
    let (public_key, private_key, fingerprint) = match str_attr(&obj, "public_key")? {
        Some(pk) => {
            let fingerprint = match key_type {
                KeyType::Ssh => ssh_fingerprint(pk)?,
                KeyType::X509 => x509_fingerprint(&pem_certificate(pk).ok_or_else(invalid_key)?),
            };
            (pk.to_string(), None, fingerprint)
        }
        None if v.at_least(92) => {
            return Err(ComputeError::invalid("keypair", &Value::Object(obj), "'public_key' is a required property"));
        }
        None => {
            let (u, t) = (user_id.clone(), key_type);
            let (public, private, fp) = web::block(move || generate(t, &u))
                .await
                .map_err(|e| ComputeError::Internal(format!("key generation failed: {e}")))??;
            (public, Some(private), fp)
        }
    };
    let new = NewKeypair { user_id, name, key_type, public_key, fingerprint, created_at: now() };
    let max = state.max_keypairs;
    let kp = state.storage.write(move |c| db::keypair_insert(c, &new, max)).await?;
    let mut out = json!({"name": kp.name, "public_key": kp.public_key, "fingerprint": kp.fingerprint,
                         "user_id": kp.user_id});
    if let Some(p) = private_key {
        out["private_key"] = json!(p);
    }
    if v.at_least(2) {
        out["type"] = json!(kp.key_type.as_str());
        Ok(HttpResponse::Created().json(json!({ "keypair": out })))
    } else {
        Ok(HttpResponse::Ok().json(json!({ "keypair": out })))
    }
}

fn brief(kp: &Keypair, v: ApiVersion) -> Value {
    let mut o = json!({"name": kp.name, "public_key": kp.public_key, "fingerprint": kp.fingerprint});
    if v.at_least(2) {
        o["type"] = json!(kp.key_type.as_str());
    }
    json!({ "keypair": o })
}

/// Lists the user's keypairs.
#[utoipa::path(get, path = "/v2.1/os-keypairs", tag = "keypairs", params(KeypairListQuery),
    responses((status = 200, description = "The keypairs.", body = KeypairList)))]
async fn list(req: HttpRequest, caller: Caller, v: ApiVersion, state: web::Data<ComputeState>) -> Result<HttpResponse> {
    let pairs = query_pairs(&req)?;
    let get = |k: &str| pairs.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let user_id = target_user(&caller, v, get("user_id").as_deref(), "os-keypairs:index")?;
    let (limit, marker) = if v.at_least(35) {
        let limit = match get("limit") {
            None => state.max_limit,
            Some(s) => match s.parse::<i64>() {
                Ok(n) if n >= 0 => n.min(state.max_limit),
                _ => {
                    return Err(ComputeError::bad(format!(
                        "Invalid input for query parameters limit. Value: {s}. '{s}' does not match '^[0-9]*$'"
                    )));
                }
            },
        };
        (Some(limit), get("marker"))
    } else {
        (None, None)
    };
    let (u, m) = (user_id.clone(), marker.clone());
    let keypairs = state
        .storage
        .read(move |c| {
            if let Some(m) = &m {
                match db::keypair(c, &u, m) {
                    Ok(_) => {}
                    Err(StorageError::NotFound { .. }) => {
                        return Ok(Err(ComputeError::bad(format!("Marker {m} could not be found."))));
                    }
                    Err(e) => return Err(e),
                }
            }
            Ok(Ok(db::keypairs_list(c, &u, m.as_deref(), limit)?))
        })
        .await??;
    let items: Vec<Value> = keypairs.iter().map(|k| brief(k, v)).collect();
    let mut body = json!({ "keypairs": items });
    if let Some(limit) = limit
        && limit > 0
        && keypairs.len() as i64 == limit
        && let Some(last) = keypairs.last()
    {
        let mut q: Vec<(String, String)> = pairs.into_iter().filter(|(k, _)| k != "marker").collect();
        q.push(("marker".into(), last.name.clone()));
        let qs = serde_urlencoded::to_string(&q).unwrap_or_default();
        body["keypairs_links"] = json!([{"rel": "next", "href": format!("{}/v2.1/os-keypairs?{qs}", state.base)}]);
    }
    Ok(HttpResponse::Ok().json(body))
}

/// Shows a keypair.
#[utoipa::path(get, path = "/v2.1/os-keypairs/{name}", tag = "keypairs",
    params(("name" = String, Path, description = "The keypair's name."), UserQuery),
    responses((status = 200, description = "The keypair.", body = KeypairShow)))]
async fn show(
    req: HttpRequest,
    name: web::Path<String>,
    caller: Caller,
    v: ApiVersion,
    state: web::Data<ComputeState>,
) -> Result<HttpResponse> {
    let user_id = target_user(&caller, v, user_param(&req)?.as_deref(), "os-keypairs:show")?;
    let name = name.into_inner();
    let (u, n) = (user_id.clone(), name.clone());
    let kp = match state.storage.read(move |c| db::keypair(c, &u, &n)).await {
        Ok(kp) => kp,
        Err(StorageError::NotFound { .. }) => return Err(not_found(&name, &user_id)),
        Err(e) => return Err(e.into()),
    };
    let mut o = json!({
        "name": kp.name, "public_key": kp.public_key, "fingerprint": kp.fingerprint, "user_id": kp.user_id,
        "created_at": kp.created_at.format("%Y-%m-%dT%H:%M:%S%.6f").to_string(),
        "deleted": false, "deleted_at": null, "updated_at": null, "id": kp.id,
    });
    if v.at_least(2) {
        o["type"] = json!(kp.key_type.as_str());
    }
    Ok(HttpResponse::Ok().json(json!({ "keypair": o })))
}

/// Deletes a keypair.
#[utoipa::path(delete, path = "/v2.1/os-keypairs/{name}", tag = "keypairs",
    params(("name" = String, Path, description = "The keypair's name."), UserQuery),
    responses((status = 202, description = "Deleted (below 2.2)."), (status = 204, description = "Deleted (2.2 and later).")))]
async fn delete(
    req: HttpRequest,
    name: web::Path<String>,
    caller: Caller,
    v: ApiVersion,
    state: web::Data<ComputeState>,
) -> Result<HttpResponse> {
    let user_id = target_user(&caller, v, user_param(&req)?.as_deref(), "os-keypairs:delete")?;
    let name = name.into_inner();
    let (u, n) = (user_id.clone(), name.clone());
    match state.storage.write(move |c| db::keypair_delete(c, &u, &n)).await {
        Ok(()) if v.at_least(2) => Ok(HttpResponse::NoContent().finish()),
        Ok(()) => Ok(HttpResponse::Accepted().finish()),
        Err(StorageError::NotFound { .. }) => Err(not_found(&name, &user_id)),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_back() {
        let (public, private, fp) = generate(KeyType::Ssh, "u1").unwrap();
        assert!(public.starts_with("ssh-ed25519 "), "{public}");
        assert!(private.contains("BEGIN OPENSSH PRIVATE KEY"));
        assert_eq!(ssh_fingerprint(&public).unwrap(), fp);
        assert_eq!(fp.len(), 47);
        let (cert, key, fp) = generate(KeyType::X509, "u1").unwrap();
        assert!(key.contains("PRIVATE KEY"));
        assert_eq!(x509_fingerprint(&pem_certificate(&cert).unwrap()), fp);
        assert_eq!(fp.len(), 59);
    }

    #[test]
    fn rejects_junk() {
        assert!(ssh_fingerprint("ssh-rsa JUNK nova@ubuntu").is_err());
        assert!(ssh_fingerprint(" ").is_err());
        assert!(ssh_fingerprint(&format!("ssh-rsa {} openstack@ubuntu", "A".repeat(2048))).is_err());
        assert!(pem_certificate("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----").is_none());
    }
}
