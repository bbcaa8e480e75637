//! Inspection rules: conditions and actions applied to inspected nodes.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::baremetal::Page;
use super::{DbConn, StorageError, StorageResult};
use super::{found, order_by};

diesel::table! {
    inspection_rules (id) {
        id -> BigInt,
        uuid -> Text,
        priority -> BigInt,
        description -> Nullable<Text>,
        scope -> Nullable<Text>,
        sensitive -> Bool,
        phase -> Nullable<Text>,
        conditions -> Nullable<Text>,
        actions -> Text,
        created_at -> Timestamp,
        updated_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    node_inventory (node_uuid) {
        node_uuid -> Text,
        inventory -> Text,
        plugin_data -> Text,
        created_at -> Timestamp,
        updated_at -> Nullable<Timestamp>,
    }
}

/// What the last inspection of a node found.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = node_inventory)]
pub struct NodeInventory {
    pub node_uuid: String,
    /// JSON object in the agent's inventory shape.
    pub inventory: String,
    /// JSON object.
    pub plugin_data: String,
    pub created_at: NaiveDateTime,
    pub updated_at: Option<NaiveDateTime>,
}

/// Stores a node's inventory in place of the one it had.
pub fn inventory_put(c: &mut DbConn, inv: &NodeInventory) -> StorageResult<()> {
    let prior: Option<NaiveDateTime> = node_inventory::table
        .filter(node_inventory::node_uuid.eq(&inv.node_uuid))
        .select(node_inventory::created_at)
        .first(c)
        .optional()?;
    diesel::delete(node_inventory::table.filter(node_inventory::node_uuid.eq(&inv.node_uuid))).execute(c)?;
    let mut row = inv.clone();
    if let Some(created) = prior {
        row.updated_at = Some(inv.created_at);
        row.created_at = created;
    }
    diesel::insert_into(node_inventory::table).values(&row).execute(c)?;
    Ok(())
}

pub fn inventory(c: &mut DbConn, node_uuid: &str) -> StorageResult<Option<NodeInventory>> {
    Ok(node_inventory::table
        .filter(node_inventory::node_uuid.eq(node_uuid))
        .select(NodeInventory::as_select())
        .first(c)
        .optional()?)
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = inspection_rules, treat_none_as_null = true)]
pub struct Rule {
    pub uuid: String,
    pub priority: i64,
    pub description: Option<String>,
    pub scope: Option<String>,
    /// Conditions and actions are hidden from readers of a sensitive rule.
    pub sensitive: bool,
    pub phase: Option<String>,
    /// JSON list, as given.
    pub conditions: Option<String>,
    /// JSON list, as given.
    pub actions: String,
    pub created_at: NaiveDateTime,
    pub updated_at: Option<NaiveDateTime>,
}

pub fn rule(c: &mut DbConn, uuid: &str) -> StorageResult<Rule> {
    found(
        inspection_rules::table.filter(inspection_rules::uuid.eq(uuid)).select(Rule::as_select()).first(c),
        "Rule",
        uuid,
    )
}

pub fn rule_insert(c: &mut DbConn, r: &Rule) -> StorageResult<()> {
    diesel::insert_into(inspection_rules::table).values(r).execute(c)?;
    Ok(())
}

pub fn rule_update(c: &mut DbConn, r: &Rule) -> StorageResult<()> {
    let n = diesel::update(inspection_rules::table.filter(inspection_rules::uuid.eq(&r.uuid))).set(r).execute(c)?;
    if n == 0 { Err(StorageError::not_found("Rule", &r.uuid)) } else { Ok(()) }
}

pub fn rule_delete(c: &mut DbConn, uuid: &str) -> StorageResult<()> {
    let n = diesel::delete(inspection_rules::table.filter(inspection_rules::uuid.eq(uuid))).execute(c)?;
    if n == 0 { Err(StorageError::not_found("Rule", uuid)) } else { Ok(()) }
}

/// `page.sort` is a whitelisted expression over `inspection_rules` columns.
pub fn rules_list(c: &mut DbConn, page: &Page) -> StorageResult<Vec<Rule>> {
    let mut q = inspection_rules::table.select(Rule::as_select()).into_boxed();
    if let Some(m) = &page.marker {
        rule(c, m)?;
        q = q.filter(after_marker!("inspection_rules", page, m.clone()));
    }
    Ok(q.order(order_by("inspection_rules", page.sort, page.desc)).limit(page.limit).load(c)?)
}

/// The rules of an inspection phase (a rule with no phase runs in `main`),
/// highest priority first.
pub fn rules_for_phase(c: &mut DbConn, phase: &str) -> StorageResult<Vec<Rule>> {
    let q = inspection_rules::table
        .select(Rule::as_select())
        .order((inspection_rules::priority.desc(), inspection_rules::id));
    let rules: Vec<Rule> = if phase == "main" {
        q.filter(inspection_rules::phase.eq(phase).or(inspection_rules::phase.is_null())).load(c)?
    } else {
        q.filter(inspection_rules::phase.eq(phase)).load(c)?
    };
    Ok(rules)
}
