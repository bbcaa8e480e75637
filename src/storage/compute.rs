//! Compute flavors (their extra specs and the projects a private flavor is
//! shared with) and users' keypairs.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{flavor_extra_specs, flavor_projects, flavors, key_pairs};
use super::{DbConn, StorageError, StorageResult, found, identity};

#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = flavors)]
struct FlavorRow {
    id: i64,
    flavorid: String,
    name: String,
    memory_mb: i32,
    vcpus: i32,
    root_gb: i32,
    ephemeral_gb: i32,
    swap: i32,
    rxtx_factor: f64,
    vcpu_weight: Option<i32>,
    is_public: bool,
    disabled: bool,
    description: Option<String>,
    created_at: NaiveDateTime,
    updated_at: Option<NaiveDateTime>,
}

/// A flavor with its extra specs.
#[derive(Debug, Clone, PartialEq)]
pub struct Flavor {
    /// Internal serial id (never shown).
    pub id: i64,
    /// The id clients use.
    pub flavorid: String,
    pub name: String,
    pub memory_mb: i32,
    pub vcpus: i32,
    pub root_gb: i32,
    pub ephemeral_gb: i32,
    /// MiB; 0 = none.
    pub swap: i32,
    pub rxtx_factor: f64,
    pub vcpu_weight: Option<i32>,
    pub is_public: bool,
    pub disabled: bool,
    pub description: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: Option<NaiveDateTime>,
    pub extra_specs: BTreeMap<String, String>,
}

impl Flavor {
    fn from_row(r: FlavorRow, extra_specs: BTreeMap<String, String>) -> Flavor {
        Flavor {
            id: r.id,
            flavorid: r.flavorid,
            name: r.name,
            memory_mb: r.memory_mb,
            vcpus: r.vcpus,
            root_gb: r.root_gb,
            ephemeral_gb: r.ephemeral_gb,
            swap: r.swap,
            rxtx_factor: r.rxtx_factor,
            vcpu_weight: r.vcpu_weight,
            is_public: r.is_public,
            disabled: r.disabled,
            description: r.description,
            created_at: r.created_at,
            updated_at: r.updated_at,
            extra_specs,
        }
    }
}

/// What a new flavor is made of.
#[derive(Debug, Clone, PartialEq, Insertable)]
#[diesel(table_name = flavors)]
pub struct NewFlavor {
    pub flavorid: String,
    pub name: String,
    pub memory_mb: i32,
    pub vcpus: i32,
    pub root_gb: i32,
    pub ephemeral_gb: i32,
    pub swap: i32,
    pub rxtx_factor: f64,
    pub is_public: bool,
    pub disabled: bool,
    pub description: Option<String>,
    pub created_at: NaiveDateTime,
}

fn row(c: &mut DbConn, flavorid: &str) -> StorageResult<FlavorRow> {
    found(
        flavors::table.filter(flavors::flavorid.eq(flavorid)).select(FlavorRow::as_select()).first(c),
        "flavor",
        flavorid,
    )
}

fn with_specs(c: &mut DbConn, rows: Vec<FlavorRow>) -> StorageResult<Vec<Flavor>> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let specs: Vec<(i64, String, String)> = flavor_extra_specs::table
        .filter(flavor_extra_specs::flavor_id.eq_any(&ids))
        .select((flavor_extra_specs::flavor_id, flavor_extra_specs::key, flavor_extra_specs::value))
        .load(c)?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let mine = specs.iter().filter(|s| s.0 == r.id).map(|s| (s.1.clone(), s.2.clone())).collect();
            Flavor::from_row(r, mine)
        })
        .collect())
}

/// A flavor by its public id, with its extra specs (whoever may see it).
pub fn flavor(c: &mut DbConn, flavorid: &str) -> StorageResult<Flavor> {
    let r = row(c, flavorid)?;
    Ok(with_specs(c, vec![r])?.remove(0))
}

/// Whether a project sees a flavor: every public flavor, and private ones
/// shared with it. (Administrators see every flavor; callers decide that.)
pub fn flavor_visible_to(c: &mut DbConn, flavor: &Flavor, project_id: Option<&str>) -> StorageResult<bool> {
    if flavor.is_public {
        return Ok(true);
    }
    let Some(p) = project_id else { return Ok(false) };
    let n: i64 = flavor_projects::table
        .filter(flavor_projects::flavor_id.eq(flavor.id))
        .filter(flavor_projects::project_id.eq(p))
        .count()
        .get_result(c)?;
    Ok(n > 0)
}

/// Which flavors a list shows, by visibility.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visibility {
    /// Every flavor (administrator, `is_public=None`).
    All,
    /// Only private flavors (administrator, `is_public=false`).
    Private,
    /// Public flavors, plus the private ones shared with the project.
    PublicOr(Option<String>),
}

/// A flavor sort column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlavorSort {
    CreatedAt,
    Description,
    Disabled,
    EphemeralGb,
    Flavorid,
    Id,
    IsPublic,
    MemoryMb,
    Name,
    RootGb,
    RxtxFactor,
    Swap,
    UpdatedAt,
    VcpuWeight,
    Vcpus,
}

impl FlavorSort {
    /// The public sort keys, in the order Nova lists them.
    pub const ALL: [(&'static str, FlavorSort); 15] = [
        ("created_at", FlavorSort::CreatedAt),
        ("description", FlavorSort::Description),
        ("disabled", FlavorSort::Disabled),
        ("ephemeral_gb", FlavorSort::EphemeralGb),
        ("flavorid", FlavorSort::Flavorid),
        ("id", FlavorSort::Id),
        ("is_public", FlavorSort::IsPublic),
        ("memory_mb", FlavorSort::MemoryMb),
        ("name", FlavorSort::Name),
        ("root_gb", FlavorSort::RootGb),
        ("rxtx_factor", FlavorSort::RxtxFactor),
        ("swap", FlavorSort::Swap),
        ("updated_at", FlavorSort::UpdatedAt),
        ("vcpu_weight", FlavorSort::VcpuWeight),
        ("vcpus", FlavorSort::Vcpus),
    ];

    pub fn parse(key: &str) -> Option<FlavorSort> {
        FlavorSort::ALL.iter().find(|(k, _)| *k == key).map(|(_, s)| *s)
    }

    /// The SQL value sorted on, over table alias `t` (NULLs folded so that
    /// row-value comparisons stay total).
    fn sql(self, t: &str) -> String {
        match self {
            FlavorSort::CreatedAt => format!("{t}.created_at"),
            FlavorSort::Description => format!("COALESCE({t}.description, '')"),
            FlavorSort::Disabled => format!("{t}.disabled"),
            FlavorSort::EphemeralGb => format!("{t}.ephemeral_gb"),
            FlavorSort::Flavorid => format!("{t}.flavorid"),
            FlavorSort::Id => format!("{t}.id"),
            FlavorSort::IsPublic => format!("{t}.is_public"),
            FlavorSort::MemoryMb => format!("{t}.memory_mb"),
            FlavorSort::Name => format!("{t}.name"),
            FlavorSort::RootGb => format!("{t}.root_gb"),
            FlavorSort::RxtxFactor => format!("{t}.rxtx_factor"),
            FlavorSort::Swap => format!("{t}.swap"),
            FlavorSort::UpdatedAt => format!("COALESCE({t}.updated_at, {t}.created_at)"),
            FlavorSort::VcpuWeight => format!("COALESCE({t}.vcpu_weight, 0)"),
            FlavorSort::Vcpus => format!("{t}.vcpus"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct FlavorFilter {
    pub visibility: Visibility,
    /// Only enabled flavors (what non-administrators see).
    pub enabled_only: bool,
    pub min_memory_mb: Option<i64>,
    pub min_root_gb: Option<i64>,
    pub name: Option<String>,
    pub sort: FlavorSort,
    pub desc: bool,
    /// Start after this flavor (already checked to exist for the caller).
    pub marker: Option<String>,
    pub limit: i64,
}

/// One page of flavors, with their extra specs.
pub fn flavors_list(c: &mut DbConn, f: &FlavorFilter) -> StorageResult<Vec<Flavor>> {
    use diesel::dsl::{exists, sql};
    use diesel::sql_types::{Bool, Text};
    let mut q = flavors::table.select(FlavorRow::as_select()).into_boxed();
    match &f.visibility {
        Visibility::All => {}
        Visibility::Private => q = q.filter(flavors::is_public.eq(false)),
        Visibility::PublicOr(None) => q = q.filter(flavors::is_public.eq(true)),
        Visibility::PublicOr(Some(p)) => {
            q = q.filter(
                flavors::is_public.eq(true).or(exists(
                    flavor_projects::table
                        .filter(flavor_projects::flavor_id.eq(flavors::id))
                        .filter(flavor_projects::project_id.eq(p.clone())),
                )),
            )
        }
    }
    if f.enabled_only {
        q = q.filter(flavors::disabled.eq(false));
    }
    if let Some(m) = f.min_memory_mb {
        q = q.filter(flavors::memory_mb.ge(m.clamp(i32::MIN as i64, i32::MAX as i64) as i32));
    }
    if let Some(m) = f.min_root_gb {
        q = q.filter(flavors::root_gb.ge(m.clamp(i32::MIN as i64, i32::MAX as i64) as i32));
    }
    if let Some(n) = &f.name {
        q = q.filter(flavors::name.eq(n.clone()));
    }
    let op = if f.desc { "<" } else { ">" };
    if let Some(marker) = &f.marker {
        q = q.filter(
            sql::<Bool>(&format!(
                "({}, flavors.id) {op} (SELECT {}, m.id FROM flavors m WHERE m.flavorid = ",
                f.sort.sql("flavors"),
                f.sort.sql("m")
            ))
            .bind::<Text, _>(marker.clone())
            .sql(")"),
        );
    }
    let dir = if f.desc { "DESC" } else { "ASC" };
    let order = format!("{} {dir}, flavors.id {dir}", f.sort.sql("flavors"));
    let rows = q.order(sql::<Text>(&order)).limit(f.limit).load(c)?;
    with_specs(c, rows)
}

/// Inserts a flavor; a name or id already taken is refused
/// (`Duplicate` with Nova's wording).
pub fn flavor_insert(c: &mut DbConn, new: &NewFlavor) -> StorageResult<Flavor> {
    let name_taken: i64 = flavors::table.filter(flavors::name.eq(&new.name)).count().get_result(c)?;
    if name_taken > 0 {
        return Err(StorageError::Duplicate(format!("Flavor with name {} already exists.", new.name)));
    }
    let id_taken: i64 = flavors::table.filter(flavors::flavorid.eq(&new.flavorid)).count().get_result(c)?;
    if id_taken > 0 {
        return Err(StorageError::Duplicate(format!("Flavor with ID {} already exists.", new.flavorid)));
    }
    diesel::insert_into(flavors::table).values(new).execute(c).map_err(|e| match StorageError::from(e) {
        StorageError::Duplicate(_) => StorageError::Duplicate(format!("Flavor with name {} already exists.", new.name)),
        other => other,
    })?;
    flavor(c, &new.flavorid)
}

pub fn flavor_set_description(
    c: &mut DbConn,
    flavorid: &str,
    description: Option<String>,
    now: NaiveDateTime,
) -> StorageResult<Flavor> {
    let n = diesel::update(flavors::table.filter(flavors::flavorid.eq(flavorid)))
        .set((flavors::description.eq(description), flavors::updated_at.eq(Some(now))))
        .execute(c)?;
    if n == 0 {
        return Err(StorageError::not_found("flavor", flavorid));
    }
    flavor(c, flavorid)
}

/// Deletes a flavor with its extra specs and access list.
pub fn flavor_delete(c: &mut DbConn, flavorid: &str) -> StorageResult<()> {
    let r = row(c, flavorid)?;
    diesel::delete(flavor_extra_specs::table.filter(flavor_extra_specs::flavor_id.eq(r.id))).execute(c)?;
    diesel::delete(flavor_projects::table.filter(flavor_projects::flavor_id.eq(r.id))).execute(c)?;
    diesel::delete(flavors::table.find(r.id)).execute(c)?;
    Ok(())
}

/// Sets (adds or replaces) extra specs; answers all of the flavor's specs.
pub fn extra_specs_set(
    c: &mut DbConn,
    flavorid: &str,
    specs: &[(String, String)],
    now: NaiveDateTime,
) -> StorageResult<BTreeMap<String, String>> {
    let r = row(c, flavorid)?;
    for (k, v) in specs {
        let n = diesel::update(
            flavor_extra_specs::table
                .filter(flavor_extra_specs::flavor_id.eq(r.id))
                .filter(flavor_extra_specs::key.eq(k)),
        )
        .set(flavor_extra_specs::value.eq(v))
        .execute(c)?;
        if n == 0 {
            diesel::insert_into(flavor_extra_specs::table)
                .values((
                    flavor_extra_specs::flavor_id.eq(r.id),
                    flavor_extra_specs::key.eq(k),
                    flavor_extra_specs::value.eq(v),
                ))
                .execute(c)?;
        }
    }
    diesel::update(flavors::table.find(r.id)).set(flavors::updated_at.eq(Some(now))).execute(c)?;
    Ok(flavor(c, flavorid)?.extra_specs)
}

/// Removes one extra spec; `NotFound` (kind `extra_spec`) when the flavor
/// has no such key.
pub fn extra_spec_delete(c: &mut DbConn, flavorid: &str, key: &str) -> StorageResult<()> {
    let r = row(c, flavorid)?;
    let n = diesel::delete(
        flavor_extra_specs::table
            .filter(flavor_extra_specs::flavor_id.eq(r.id))
            .filter(flavor_extra_specs::key.eq(key)),
    )
    .execute(c)?;
    if n == 0 {
        return Err(StorageError::not_found("extra_spec", key));
    }
    Ok(())
}

/// The projects a flavor is shared with, sorted.
pub fn flavor_access(c: &mut DbConn, flavorid: &str) -> StorageResult<Vec<String>> {
    let r = row(c, flavorid)?;
    Ok(flavor_projects::table
        .filter(flavor_projects::flavor_id.eq(r.id))
        .select(flavor_projects::project_id)
        .order(flavor_projects::project_id)
        .load(c)?)
}

/// Shares a private flavor with a project that exists. Refusals:
/// `InvalidProject` (no such project), `PublicFlavor`; `Duplicate` when
/// already shared.
pub fn flavor_access_add(c: &mut DbConn, flavorid: &str, project_id: &str) -> StorageResult<Vec<String>> {
    match identity::project(c, project_id) {
        Ok(_) => {}
        Err(StorageError::NotFound { .. }) => {
            return Err(StorageError::refused(
                "InvalidProject",
                format!("Project ID {project_id} is not a valid project."),
            ));
        }
        Err(e) => return Err(e),
    }
    let r = row(c, flavorid)?;
    if r.is_public {
        return Err(StorageError::refused("PublicFlavor", "Can not add access to a public flavor."));
    }
    let n: i64 = flavor_projects::table
        .filter(flavor_projects::flavor_id.eq(r.id))
        .filter(flavor_projects::project_id.eq(project_id))
        .count()
        .get_result(c)?;
    if n > 0 {
        return Err(StorageError::Duplicate(format!(
            "Flavor access already exists for flavor {flavorid} and project {project_id} combination."
        )));
    }
    diesel::insert_into(flavor_projects::table)
        .values((flavor_projects::flavor_id.eq(r.id), flavor_projects::project_id.eq(project_id)))
        .execute(c)?;
    flavor_access(c, flavorid)
}

/// Stops sharing a flavor with a project; `NotFound` (kind
/// `flavor_access`) when it was not shared.
pub fn flavor_access_remove(c: &mut DbConn, flavorid: &str, project_id: &str) -> StorageResult<Vec<String>> {
    let r = row(c, flavorid)?;
    let n = diesel::delete(
        flavor_projects::table
            .filter(flavor_projects::flavor_id.eq(r.id))
            .filter(flavor_projects::project_id.eq(project_id)),
    )
    .execute(c)?;
    if n == 0 {
        return Err(StorageError::not_found("flavor_access", format!("{flavorid} / {project_id}")));
    }
    flavor_access(c, flavorid)
}

// ---- keypairs ----------------------------------------------------------------

/// What a keypair's public half is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    /// An OpenSSH public key.
    Ssh,
    /// A PEM X.509 certificate.
    X509,
}

impl KeyType {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::Ssh => "ssh",
            KeyType::X509 => "x509",
        }
    }

    pub fn parse(s: &str) -> Option<KeyType> {
        match s {
            "ssh" => Some(KeyType::Ssh),
            "x509" => Some(KeyType::X509),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = key_pairs)]
struct KeypairRow {
    id: i64,
    user_id: String,
    name: String,
    key_type: String,
    public_key: String,
    fingerprint: String,
    created_at: NaiveDateTime,
}

/// A user's public key, by name.
#[derive(Debug, Clone, PartialEq)]
pub struct Keypair {
    pub id: i64,
    pub user_id: String,
    pub name: String,
    pub key_type: KeyType,
    pub public_key: String,
    pub fingerprint: String,
    pub created_at: NaiveDateTime,
}

impl From<KeypairRow> for Keypair {
    fn from(r: KeypairRow) -> Keypair {
        Keypair {
            id: r.id,
            user_id: r.user_id,
            name: r.name,
            key_type: KeyType::parse(&r.key_type).unwrap_or(KeyType::Ssh),
            public_key: r.public_key,
            fingerprint: r.fingerprint,
            created_at: r.created_at,
        }
    }
}

/// A user's keypair by name; `NotFound` (kind `keypair`, id = name).
pub fn keypair(c: &mut DbConn, user_id: &str, name: &str) -> StorageResult<Keypair> {
    let r = found(
        key_pairs::table
            .filter(key_pairs::user_id.eq(user_id))
            .filter(key_pairs::name.eq(name))
            .select(KeypairRow::as_select())
            .first(c),
        "keypair",
        name,
    )?;
    Ok(r.into())
}

/// A user's keypairs by name, after `marker` (a name), at most `limit`.
pub fn keypairs_list(
    c: &mut DbConn,
    user_id: &str,
    marker: Option<&str>,
    limit: Option<i64>,
) -> StorageResult<Vec<Keypair>> {
    let mut q = key_pairs::table.filter(key_pairs::user_id.eq(user_id)).select(KeypairRow::as_select()).into_boxed();
    if let Some(m) = marker {
        q = q.filter(key_pairs::name.gt(m.to_string()));
    }
    if let Some(l) = limit {
        q = q.limit(l);
    }
    Ok(q.order(key_pairs::name.asc()).load(c)?.into_iter().map(Keypair::from).collect())
}

/// What a new keypair is made of.
#[derive(Debug, Clone, PartialEq)]
pub struct NewKeypair {
    pub user_id: String,
    pub name: String,
    pub key_type: KeyType,
    pub public_key: String,
    pub fingerprint: String,
    pub created_at: NaiveDateTime,
}

/// Stores a new keypair. Refusals: `Duplicate` for a name the user already
/// has, `QuotaExceeded` when the user holds `max_per_user` keypairs.
pub fn keypair_insert(c: &mut DbConn, new: &NewKeypair, max_per_user: i64) -> StorageResult<Keypair> {
    let (user_id, name) = (new.user_id.as_str(), new.name.as_str());
    let held: i64 = key_pairs::table.filter(key_pairs::user_id.eq(user_id)).count().get_result(c)?;
    let taken: i64 = key_pairs::table
        .filter(key_pairs::user_id.eq(user_id))
        .filter(key_pairs::name.eq(name))
        .count()
        .get_result(c)?;
    if taken > 0 {
        return Err(StorageError::Duplicate(format!("Key pair '{name}' already exists.")));
    }
    if held >= max_per_user {
        return Err(StorageError::refused("QuotaExceeded", "Quota exceeded, too many key pairs."));
    }
    diesel::insert_into(key_pairs::table)
        .values((
            key_pairs::user_id.eq(user_id),
            key_pairs::name.eq(name),
            key_pairs::key_type.eq(new.key_type.as_str()),
            key_pairs::public_key.eq(&new.public_key),
            key_pairs::fingerprint.eq(&new.fingerprint),
            key_pairs::created_at.eq(new.created_at),
        ))
        .execute(c)
        .map_err(|e| match StorageError::from(e) {
            StorageError::Duplicate(_) => StorageError::Duplicate(format!("Key pair '{name}' already exists.")),
            other => other,
        })?;
    keypair(c, user_id, name)
}

pub fn keypair_delete(c: &mut DbConn, user_id: &str, name: &str) -> StorageResult<()> {
    let n = diesel::delete(key_pairs::table.filter(key_pairs::user_id.eq(user_id)).filter(key_pairs::name.eq(name)))
        .execute(c)?;
    if n == 0 {
        return Err(StorageError::not_found("keypair", name));
    }
    Ok(())
}
