//! Who is calling: token validation shared by every API, and the request
//! context the policy layer reasons about.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{FromRequest, HttpRequest, ResponseError, dev::Payload, web};
use chrono::{DateTime, TimeZone, Utc};
use futures_util::future::LocalBoxFuture;
use sha2::{Digest, Sha256};

use super::token::{Claims, KeyRing, TokenError};
use crate::config::AuthMode;
use crate::storage::identity::{self as ids, Target};
use crate::storage::{DbConn, Storage, StorageError};

/// An id with its name (users, projects, domains, roles).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedRef {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Unscoped,
    Project { project: NamedRef, domain: NamedRef },
    Domain(NamedRef),
    System,
}

/// Everything a validated token stands for, resolved from the database.
#[derive(Debug, Clone)]
pub struct TokenInfo {
    pub claims: Claims,
    pub user: NamedRef,
    pub user_domain: NamedRef,
    pub scope: Scope,
    pub roles: Vec<NamedRef>,
    pub app_cred: Option<NamedRef>,
}

impl TokenInfo {
    pub fn issued_at(&self) -> DateTime<Utc> {
        Utc.timestamp_opt(self.claims.iat, self.claims.iat_us * 1000).single().unwrap_or_default()
    }

    pub fn expires_at(&self) -> DateTime<Utc> {
        Utc.timestamp_opt(self.claims.exp, 0).single().unwrap_or_default()
    }

    pub fn context(&self) -> AuthContext {
        let (project_id, project_domain_id, domain_id, system) = match &self.scope {
            Scope::Unscoped => (None, None, None, false),
            Scope::Project { project, domain } => (Some(project.id.clone()), Some(domain.id.clone()), None, false),
            Scope::Domain(d) => (None, None, Some(d.id.clone()), false),
            Scope::System => (None, None, None, true),
        };
        AuthContext {
            user_id: Some(self.claims.sub.clone()),
            user_domain_id: Some(self.user_domain.id.clone()),
            project_id,
            project_domain_id,
            domain_id,
            system,
            roles: self.roles.iter().map(|r| r.name.clone()).collect(),
            noauth: false,
        }
    }
}

/// The caller as the policy layer sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthContext {
    pub user_id: Option<String>,
    pub user_domain_id: Option<String>,
    pub project_id: Option<String>,
    pub project_domain_id: Option<String>,
    pub domain_id: Option<String>,
    /// Scoped to the whole deployment (`system: all`).
    pub system: bool,
    pub roles: Vec<String>,
    /// Unauthenticated mode: a system administrator with no identity.
    pub noauth: bool,
}

impl AuthContext {
    pub fn noauth() -> AuthContext {
        AuthContext {
            system: true,
            roles: vec!["admin".into(), "member".into(), "reader".into()],
            noauth: true,
            ..Default::default()
        }
    }

    pub fn has_role(&self, name: &str) -> bool {
        self.roles.iter().any(|r| r == name)
    }
}

/// Why a token was refused. The API decides the status (401 for the caller's
/// own token, 404 for a token being validated on someone's behalf).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AuthError {
    #[error("The request you have made requires authentication.")]
    Missing,
    #[error("The request you have made requires authentication.")]
    Invalid(&'static str),
    #[error("The database is unavailable.")]
    Unavailable,
}

impl From<TokenError> for AuthError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::Malformed => AuthError::Invalid("malformed token"),
            TokenError::UnknownKey => AuthError::Invalid("token signed by an unknown key"),
            TokenError::BadSignature => AuthError::Invalid("bad token signature"),
        }
    }
}

impl From<StorageError> for AuthError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::NotFound { .. } => AuthError::Invalid("token subject not found"),
            other => {
                tracing::warn!(error = %other, "token validation could not reach the database");
                AuthError::Unavailable
            }
        }
    }
}

/// Validates tokens and remembers recently verified passwords.
pub struct Authenticator {
    pub mode: AuthMode,
    pub keys: Arc<KeyRing>,
    pub storage: Storage,
    passwords: PasswordCache,
}

impl Authenticator {
    pub fn new(mode: AuthMode, keys: Arc<KeyRing>, storage: Storage, password_cache_ttl: Duration) -> Self {
        Authenticator { mode, keys, storage, passwords: PasswordCache::new(password_cache_ttl) }
    }

    /// Full validation of a token: signature, expiry, revocation, and that
    /// its user, scope and roles still exist.
    pub async fn validate(&self, token: &str, allow_expired: bool) -> Result<TokenInfo, AuthError> {
        let claims = self.keys.verify_current(token).await?;
        if !allow_expired && claims.exp <= Utc::now().timestamp() {
            return Err(AuthError::Invalid("token expired"));
        }
        self.storage.read(move |c| Ok(resolve(c, claims))).await?
    }

    /// The context for a request carrying `token` (or none, in noauth mode).
    pub async fn context(&self, token: Option<&str>) -> Result<AuthContext, AuthError> {
        if self.mode == AuthMode::Noauth {
            return Ok(AuthContext::noauth());
        }
        let token = token.ok_or(AuthError::Missing)?;
        Ok(self.validate(token, false).await?.context())
    }

    /// Checks a password against its argon2 hash (blocking; call it off the
    /// executor), consulting the short-lived cache of verified passwords.
    pub fn verify_password(&self, user_id: &str, hash: &str, password: &str) -> bool {
        self.passwords.verify(user_id, hash, password)
    }
}

/// Resolves verified claims into a [`TokenInfo`], refusing a token whose
/// user, scope, roles or application credential no longer hold.
pub fn resolve(c: &mut DbConn, claims: Claims) -> Result<TokenInfo, AuthError> {
    let user = ids::user(c, &claims.sub)?;
    let user_domain = ids::domain(c, &user.domain_id)?;
    if !user.enabled || !user_domain.enabled {
        return Err(AuthError::Invalid("user disabled"));
    }
    let issued = Utc.timestamp_opt(claims.iat, claims.iat_us * 1000).single().unwrap_or_default().naive_utc();
    if ids::is_revoked(c, &claims.openstack_audit_ids, &claims.sub, claims.openstack_project_id.as_deref(), issued)? {
        return Err(AuthError::Invalid("token revoked"));
    }
    let (scope, target) = resolve_scope(c, &claims)?;
    let mut roles = match &target {
        Some(t) => ids::effective_roles(c, &user.id, t)?,
        None => Vec::new(),
    };
    let mut app_cred = None;
    if let Some(ac_id) = &claims.openstack_app_cred_id {
        let ac = ids::app_credential(c, ac_id)?;
        if ac.user_id != user.id || ac.expires_at.is_some_and(|e| e <= Utc::now().naive_utc()) {
            return Err(AuthError::Invalid("application credential expired"));
        }
        let granted: Vec<String> = serde_json::from_str(&ac.roles).unwrap_or_default();
        let granted = ids::expand_implied(c, granted)?;
        roles.retain(|r| granted.contains(&r.id));
        app_cred = Some(NamedRef { id: ac.id, name: ac.name });
    }
    if target.is_some() && roles.is_empty() {
        return Err(AuthError::Invalid("no role on the token's scope"));
    }
    Ok(TokenInfo {
        claims,
        user: NamedRef { id: user.id, name: user.name },
        user_domain: NamedRef { id: user_domain.id, name: user_domain.name },
        scope,
        roles: roles.into_iter().map(|r| NamedRef { id: r.id, name: r.name }).collect(),
        app_cred,
    })
}

fn resolve_scope(c: &mut DbConn, claims: &Claims) -> Result<(Scope, Option<Target>), AuthError> {
    if let Some(pid) = &claims.openstack_project_id {
        let p = ids::project(c, pid)?;
        let d = ids::domain(c, &p.domain_id)?;
        if !p.enabled || !d.enabled {
            return Err(AuthError::Invalid("project disabled"));
        }
        let scope = Scope::Project {
            project: NamedRef { id: p.id.clone(), name: p.name },
            domain: NamedRef { id: d.id, name: d.name },
        };
        return Ok((scope, Some(Target::Project(p.id))));
    }
    if let Some(did) = &claims.openstack_domain_id {
        let d = ids::domain(c, did)?;
        if !d.enabled {
            return Err(AuthError::Invalid("domain disabled"));
        }
        return Ok((Scope::Domain(NamedRef { id: d.id.clone(), name: d.name }), Some(Target::Domain(d.id))));
    }
    if claims.openstack_system.is_some() {
        return Ok((Scope::System, Some(Target::System)));
    }
    Ok((Scope::Unscoped, None))
}

/// Hashes a password with argon2id (blocking; run it off the executor).
pub fn hash_password(password: &str) -> String {
    use argon2::PasswordHasher;
    use argon2::password_hash::SaltString;
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    argon2::Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).unwrap_or_default()
}

/// Remembers, for a short time, that a password matched a hash, as a keyed
/// SHA-256 digest (never the password). A changed hash never matches an
/// entry made for the old one.
struct PasswordCache {
    ttl: Duration,
    secret: [u8; 32],
    entries: Mutex<HashMap<String, ([u8; 32], Instant)>>,
}

impl PasswordCache {
    fn new(ttl: Duration) -> Self {
        PasswordCache { ttl, secret: rand::random(), entries: Mutex::new(HashMap::new()) }
    }

    fn digest(&self, user_id: &str, hash: &str, password: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.secret);
        for part in [user_id, hash, password] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part.as_bytes());
        }
        h.finalize().into()
    }

    fn verify(&self, user_id: &str, hash: &str, password: &str) -> bool {
        let d = self.digest(user_id, hash, password);
        if !self.ttl.is_zero() {
            let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((known, at)) = entries.get(user_id)
                && at.elapsed() < self.ttl
                && constant_time_eq(known, &d)
            {
                return true;
            }
        }
        use argon2::PasswordVerifier;
        let ok = argon2::password_hash::PasswordHash::new(hash)
            .is_ok_and(|parsed| argon2::Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok());
        if ok && !self.ttl.is_zero() {
            let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            if entries.len() > 10_000 {
                entries.retain(|_, (_, at)| at.elapsed() < self.ttl);
            }
            entries.insert(user_id.to_string(), (d, Instant::now()));
        }
        ok
    }
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Extractor: the caller's context, or the API's own 401 (`E`).
pub struct Auth<E> {
    pub ctx: AuthContext,
    _envelope: PhantomData<E>,
}

impl<E> std::ops::Deref for Auth<E> {
    type Target = AuthContext;
    fn deref(&self) -> &AuthContext {
        &self.ctx
    }
}

impl<E> FromRequest for Auth<E>
where
    E: From<AuthError> + ResponseError + 'static,
{
    type Error = E;
    type Future = LocalBoxFuture<'static, Result<Self, E>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let auth = req.app_data::<web::Data<Authenticator>>().cloned();
        let token = req.headers().get("x-auth-token").and_then(|v| v.to_str().ok()).map(str::to_string);
        Box::pin(async move {
            let auth = auth.ok_or(E::from(AuthError::Unavailable))?;
            let ctx = auth.context(token.as_deref()).await.map_err(E::from)?;
            Ok(Auth { ctx, _envelope: PhantomData })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_cache_matches_only_same_hash_and_password() {
        let hash = hash_password("s3cret");
        let cache = PasswordCache::new(Duration::from_secs(60));
        assert!(cache.verify("u", &hash, "s3cret"));
        assert!(cache.verify("u", &hash, "s3cret"), "second check served from the cache");
        assert!(!cache.verify("u", &hash, "wrong"));
        let other = hash_password("s3cret");
        assert!(cache.verify("u", &other, "s3cret"));
        assert!(!cache.verify("u", "not-a-hash", "s3cret"));
        let off = PasswordCache::new(Duration::ZERO);
        assert!(off.verify("u", &hash, "s3cret"));
    }
}
