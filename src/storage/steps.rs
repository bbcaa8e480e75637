//! Deploy templates and runbooks: named, ordered lists of steps. Steps,
//! and a runbook's traits, are JSON lists stored on the row.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::baremetal::Page;
use super::{DbConn, StorageError, StorageResult};
use super::{found, order_by};

diesel::table! {
    deploy_templates (id) {
        id -> BigInt,
        uuid -> Text,
        name -> Text,
        extra -> Text,
        steps -> Text,
        created_at -> Timestamp,
        updated_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    runbooks (id) {
        id -> BigInt,
        uuid -> Text,
        name -> Text,
        description -> Nullable<Text>,
        public -> Bool,
        owner -> Nullable<Text>,
        disable_ramdisk -> Bool,
        extra -> Text,
        steps -> Text,
        traits -> Text,
        created_at -> Timestamp,
        updated_at -> Nullable<Timestamp>,
    }
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = deploy_templates, treat_none_as_null = true)]
pub struct DeployTemplate {
    pub uuid: String,
    pub name: String,
    /// JSON object.
    pub extra: String,
    /// JSON list of `{interface, step, args, priority}`.
    pub steps: String,
    pub created_at: NaiveDateTime,
    pub updated_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = runbooks, treat_none_as_null = true)]
pub struct Runbook {
    pub uuid: String,
    pub name: String,
    pub description: Option<String>,
    pub public: bool,
    pub owner: Option<String>,
    pub disable_ramdisk: bool,
    /// JSON object.
    pub extra: String,
    /// JSON list of `{interface, step, args, order}`.
    pub steps: String,
    /// JSON list of trait names.
    pub traits: String,
    pub created_at: NaiveDateTime,
    pub updated_at: Option<NaiveDateTime>,
}

/// Who may see a runbook in a list: everything, or one project's runbooks
/// plus the public ones, or only the public ones.
#[derive(Debug, Clone, PartialEq)]
pub enum RunbookScope {
    All,
    Project(String),
    PublicOnly,
}

// ---- deploy templates ----------------------------------------------------------

pub fn template(c: &mut DbConn, uuid: &str) -> StorageResult<DeployTemplate> {
    found(
        deploy_templates::table.filter(deploy_templates::uuid.eq(uuid)).select(DeployTemplate::as_select()).first(c),
        "deploy template",
        uuid,
    )
}

pub fn template_by_name(c: &mut DbConn, name: &str) -> StorageResult<Option<DeployTemplate>> {
    Ok(deploy_templates::table
        .filter(deploy_templates::name.eq(name))
        .select(DeployTemplate::as_select())
        .first(c)
        .optional()?)
}

pub fn template_insert(c: &mut DbConn, t: &DeployTemplate) -> StorageResult<()> {
    diesel::insert_into(deploy_templates::table).values(t).execute(c)?;
    Ok(())
}

pub fn template_update(c: &mut DbConn, t: &DeployTemplate) -> StorageResult<()> {
    let n = diesel::update(deploy_templates::table.filter(deploy_templates::uuid.eq(&t.uuid))).set(t).execute(c)?;
    if n == 0 { Err(StorageError::not_found("deploy template", &t.uuid)) } else { Ok(()) }
}

pub fn template_delete(c: &mut DbConn, uuid: &str) -> StorageResult<()> {
    let n = diesel::delete(deploy_templates::table.filter(deploy_templates::uuid.eq(uuid))).execute(c)?;
    if n == 0 { Err(StorageError::not_found("deploy template", uuid)) } else { Ok(()) }
}

pub fn template_list(c: &mut DbConn, page: &Page) -> StorageResult<Vec<DeployTemplate>> {
    let mut q = deploy_templates::table.select(DeployTemplate::as_select()).into_boxed();
    if let Some(m) = &page.marker {
        template(c, m)?;
        q = q.filter(after_marker!("deploy_templates", page, m.clone()));
    }
    Ok(q.order(order_by("deploy_templates", page.sort, page.desc)).limit(page.limit).load(c)?)
}

// ---- runbooks --------------------------------------------------------------------

pub fn runbook(c: &mut DbConn, uuid: &str) -> StorageResult<Runbook> {
    found(runbooks::table.filter(runbooks::uuid.eq(uuid)).select(Runbook::as_select()).first(c), "runbook", uuid)
}

pub fn runbook_by_name(c: &mut DbConn, name: &str) -> StorageResult<Option<Runbook>> {
    Ok(runbooks::table.filter(runbooks::name.eq(name)).select(Runbook::as_select()).first(c).optional()?)
}

pub fn runbook_insert(c: &mut DbConn, r: &Runbook) -> StorageResult<()> {
    diesel::insert_into(runbooks::table).values(r).execute(c)?;
    Ok(())
}

pub fn runbook_update(c: &mut DbConn, r: &Runbook) -> StorageResult<()> {
    let n = diesel::update(runbooks::table.filter(runbooks::uuid.eq(&r.uuid))).set(r).execute(c)?;
    if n == 0 { Err(StorageError::not_found("runbook", &r.uuid)) } else { Ok(()) }
}

pub fn runbook_delete(c: &mut DbConn, uuid: &str) -> StorageResult<()> {
    let n = diesel::delete(runbooks::table.filter(runbooks::uuid.eq(uuid))).execute(c)?;
    if n == 0 { Err(StorageError::not_found("runbook", uuid)) } else { Ok(()) }
}

pub fn runbook_list(c: &mut DbConn, page: &Page, scope: &RunbookScope) -> StorageResult<Vec<Runbook>> {
    let mut q = runbooks::table.select(Runbook::as_select()).into_boxed();
    match scope {
        RunbookScope::All => {}
        RunbookScope::Project(p) => q = q.filter(runbooks::owner.eq(p.clone()).or(runbooks::public.eq(true))),
        RunbookScope::PublicOnly => q = q.filter(runbooks::public.eq(true)),
    }
    if let Some(m) = &page.marker {
        runbook(c, m)?;
        q = q.filter(after_marker!("runbooks", page, m.clone()));
    }
    Ok(q.order(order_by("runbooks", page.sort, page.desc)).limit(page.limit).load(c)?)
}
