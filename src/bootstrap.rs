//! Idempotent first-run set-up: the `Default` domain, the standard roles,
//! the `admin` project and user (admin on the project and on the system),
//! region and catalog entries for every service.

use serde_json::json;

use crate::common::auth::{Authenticator, hash_password};
use crate::config::{Config, ServiceKind};
use crate::storage::identity::{self as ids, Target};
use crate::storage::{DbConn, Storage, StorageResult};

pub const DEFAULT_DOMAIN_ID: &str = "default";
pub const DEFAULT_DOMAIN_NAME: &str = "Default";
/// Highest first: each role implies the next.
pub const ROLES: [&str; 4] = ["admin", "manager", "member", "reader"];

#[derive(Debug, Default)]
pub struct Report {
    /// Set when the admin user was created with a generated password.
    pub generated_password: Option<String>,
    pub admin_created: bool,
}

fn id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn now() -> chrono::NaiveDateTime {
    chrono::Utc::now().naive_utc()
}

/// Runs the bootstrap. `auth` checks whether a configured admin password
/// already matches, so that restarts do not re-hash it.
pub fn run(cfg: &Config, storage: &Storage, auth: &Authenticator) -> anyhow::Result<Report> {
    let existing = storage.read_blocking(|c| ids::user_by_name(c, DEFAULT_DOMAIN_ID, "admin"))?;
    let mut report = Report::default();
    let password_hash = match (&existing, &cfg.admin_password) {
        (Some(u), Some(p)) => match &u.password_hash {
            Some(h) if auth.verify_password(&u.id, h, p) => None,
            _ => Some(hash_password(p)),
        },
        (Some(_), None) => None,
        (None, Some(p)) => Some(hash_password(p)),
        (None, None) => {
            let p = crate::common::token::random_id();
            report.generated_password = Some(p.clone());
            Some(hash_password(&p))
        }
    };
    report.admin_created = existing.is_none();
    storage.write_blocking(|c| apply(c, cfg, password_hash))?;
    Ok(report)
}

fn apply(c: &mut DbConn, cfg: &Config, password_hash: Option<String>) -> StorageResult<()> {
    if ids::domain_by_name(c, DEFAULT_DOMAIN_NAME)?.is_none() && ids::domain(c, DEFAULT_DOMAIN_ID).is_err() {
        ids::domain_insert(
            c,
            &ids::Domain {
                id: DEFAULT_DOMAIN_ID.into(),
                name: DEFAULT_DOMAIN_NAME.into(),
                description: "The default domain".into(),
                enabled: true,
                extra: "{}".into(),
                created_at: now(),
            },
        )?;
    }
    let mut role_ids = Vec::new();
    for name in ROLES {
        let role = match ids::role_by_name(c, name)? {
            Some(r) => r,
            None => {
                let r = ids::Role {
                    id: id(),
                    name: name.into(),
                    domain_id: String::new(),
                    description: None,
                    extra: json!({"options": {"immutable": true}}).to_string(),
                };
                ids::role_insert(c, &r)?;
                r
            }
        };
        role_ids.push(role.id);
    }
    for pair in role_ids.windows(2) {
        ids::implied_role_add(c, &pair[0], &pair[1])?;
    }
    let admin_role = role_ids[0].clone();

    let project = match ids::project_by_name(c, DEFAULT_DOMAIN_ID, "admin")? {
        Some(p) => p,
        None => {
            let p = ids::Project {
                id: id(),
                name: "admin".into(),
                domain_id: DEFAULT_DOMAIN_ID.into(),
                parent_id: None,
                description: "Bootstrap project for initializing the cloud.".into(),
                enabled: true,
                tags: "[]".into(),
                extra: "{}".into(),
                created_at: now(),
            };
            ids::project_insert(c, &p)?;
            p
        }
    };
    let user = match ids::user_by_name(c, DEFAULT_DOMAIN_ID, "admin")? {
        Some(mut u) => {
            if let Some(h) = password_hash {
                u.password_hash = Some(h);
                u.password_changed_at = Some(now());
                u.enabled = true;
                ids::user_update(c, &u)?;
            }
            u
        }
        None => {
            let u = ids::User {
                id: id(),
                name: "admin".into(),
                domain_id: DEFAULT_DOMAIN_ID.into(),
                enabled: true,
                password_hash,
                default_project_id: Some(project.id.clone()),
                extra: "{}".into(),
                created_at: now(),
                password_changed_at: Some(now()),
            };
            ids::user_insert(c, &u)?;
            u
        }
    };
    ids::grant(c, &user.id, &Target::Project(project.id.clone()), &admin_role)?;
    ids::grant(c, &user.id, &Target::System, &admin_role)?;

    if ids::region(c, &cfg.region).is_err() {
        ids::region_insert(
            c,
            &ids::Region { id: cfg.region.clone(), description: String::new(), parent_region_id: None },
        )?;
    }
    for kind in ServiceKind::ALL.into_iter().filter(|k| k.in_catalog()) {
        ensure_service(c, cfg, kind)?;
    }
    Ok(())
}

/// One service entry per kind, with public/internal/admin endpoints that
/// follow the configured URL (a changed port or public URL is picked up).
fn ensure_service(c: &mut DbConn, cfg: &Config, kind: ServiceKind) -> StorageResult<()> {
    let service = match ids::services_list(c, Some(kind.catalog_type()), None)?.into_iter().next() {
        Some(s) => s,
        None => {
            let s = ids::Service {
                id: id(),
                service_type: kind.catalog_type().into(),
                name: kind.catalog_name().into(),
                description: String::new(),
                enabled: true,
            };
            ids::service_insert(c, &s)?;
            s
        }
    };
    let url = cfg.catalog_url(kind);
    for interface in ["public", "internal", "admin"] {
        let f = ids::EndpointFilter {
            service_id: Some(service.id.clone()),
            interface: Some(interface.into()),
            region_id: Some(cfg.region.clone()),
        };
        match ids::endpoints_list(c, &f)?.into_iter().next() {
            Some(mut e) if e.url != url => {
                e.url = url.clone();
                ids::endpoint_update(c, &e)?;
            }
            Some(_) => {}
            None => ids::endpoint_insert(
                c,
                &ids::Endpoint {
                    id: id(),
                    service_id: service.id.clone(),
                    interface: interface.into(),
                    region_id: Some(cfg.region.clone()),
                    url: url.clone(),
                    enabled: true,
                },
            )?,
        }
    }
    Ok(())
}
