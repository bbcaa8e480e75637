//! Image rows, their custom properties, tags and members, and the list
//! query behind `GET /v2/images`.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{DbConn, StorageError, StorageResult, found};

diesel::table! {
    images (id) {
        id -> BigInt,
        uuid -> Text,
        name -> Nullable<Text>,
        status -> Text,
        visibility -> Text,
        owner -> Nullable<Text>,
        disk_format -> Nullable<Text>,
        container_format -> Nullable<Text>,
        size -> Nullable<BigInt>,
        virtual_size -> Nullable<BigInt>,
        checksum -> Nullable<Text>,
        os_hash_algo -> Nullable<Text>,
        os_hash_value -> Nullable<Text>,
        min_ram -> Integer,
        min_disk -> Integer,
        protected -> Bool,
        os_hidden -> Bool,
        store -> Nullable<Text>,
        row_version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        transfer_owner -> Nullable<Text>,
    }
}

diesel::table! {
    image_properties (image_uuid, name) {
        image_uuid -> Text,
        name -> Text,
        value -> Text,
    }
}

diesel::table! {
    image_tags (image_uuid, tag) {
        image_uuid -> Text,
        tag -> Text,
    }
}

diesel::table! {
    image_members (image_uuid, member) {
        image_uuid -> Text,
        member -> Text,
        status -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::allow_tables_to_appear_in_same_query!(images, image_properties, image_tags, image_members);

/// One image's core attributes. Custom properties, tags and members are
/// separate rows.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = images, treat_none_as_null = true)]
pub struct Image {
    pub uuid: String,
    pub name: Option<String>,
    pub status: String,
    pub visibility: String,
    pub owner: Option<String>,
    pub disk_format: Option<String>,
    pub container_format: Option<String>,
    pub size: Option<i64>,
    pub virtual_size: Option<i64>,
    pub checksum: Option<String>,
    pub os_hash_algo: Option<String>,
    pub os_hash_value: Option<String>,
    pub min_ram: i32,
    pub min_disk: i32,
    pub protected: bool,
    pub os_hidden: bool,
    /// The store holding the data, once there is data.
    pub store: Option<String>,
    pub row_version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = image_members)]
pub struct Member {
    pub image_uuid: String,
    pub member: String,
    pub status: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// An image with everything shown about it.
#[derive(Debug, Clone, PartialEq)]
pub struct FullImage {
    pub image: Image,
    /// Custom properties, by name.
    pub properties: Vec<(String, String)>,
    pub tags: Vec<String>,
}

pub fn image(c: &mut DbConn, uuid: &str) -> StorageResult<Image> {
    found(images::table.filter(images::uuid.eq(uuid)).select(Image::as_select()).first(c), "image", uuid)
}

pub fn full_image(c: &mut DbConn, uuid: &str) -> StorageResult<FullImage> {
    let image = image(c, uuid)?;
    Ok(complete(c, vec![image])?.remove(0))
}

/// Adds properties and tags to images, keeping their order.
fn complete(c: &mut DbConn, list: Vec<Image>) -> StorageResult<Vec<FullImage>> {
    let ids: Vec<&str> = list.iter().map(|i| i.uuid.as_str()).collect();
    let mut props: Vec<(String, String, String)> = image_properties::table
        .filter(image_properties::image_uuid.eq_any(&ids))
        .select((image_properties::image_uuid, image_properties::name, image_properties::value))
        .load(c)?;
    props.sort();
    let mut tags: Vec<(String, String)> = image_tags::table
        .filter(image_tags::image_uuid.eq_any(&ids))
        .select((image_tags::image_uuid, image_tags::tag))
        .load(c)?;
    tags.sort();
    Ok(list
        .into_iter()
        .map(|image| {
            let properties = props.iter().filter(|p| p.0 == image.uuid).map(|p| (p.1.clone(), p.2.clone())).collect();
            let tags = tags.iter().filter(|t| t.0 == image.uuid).map(|t| t.1.clone()).collect();
            FullImage { image, properties, tags }
        })
        .collect())
}

/// Inserts an image with its properties and tags.
pub fn image_insert(c: &mut DbConn, img: &FullImage) -> StorageResult<()> {
    diesel::insert_into(images::table).values(&img.image).execute(c).map_err(|e| match e.into() {
        StorageError::Duplicate(_) => {
            StorageError::Duplicate(format!("Image with identifier {} already exists!", img.image.uuid))
        }
        other => other,
    })?;
    set_properties(c, &img.image.uuid, &img.properties)?;
    set_tags(c, &img.image.uuid, &img.tags)
}

fn set_properties(c: &mut DbConn, uuid: &str, props: &[(String, String)]) -> StorageResult<()> {
    diesel::delete(image_properties::table.filter(image_properties::image_uuid.eq(uuid))).execute(c)?;
    for (name, value) in props {
        diesel::insert_into(image_properties::table)
            .values((
                image_properties::image_uuid.eq(uuid),
                image_properties::name.eq(name),
                image_properties::value.eq(value),
            ))
            .execute(c)?;
    }
    Ok(())
}

fn set_tags(c: &mut DbConn, uuid: &str, tags: &[String]) -> StorageResult<()> {
    diesel::delete(image_tags::table.filter(image_tags::image_uuid.eq(uuid))).execute(c)?;
    let mut seen = std::collections::BTreeSet::new();
    for tag in tags.iter().filter(|t| seen.insert(t.as_str())) {
        diesel::insert_into(image_tags::table)
            .values((image_tags::image_uuid.eq(uuid), image_tags::tag.eq(tag)))
            .execute(c)?;
    }
    Ok(())
}

/// Writes a changed image (core attributes, properties and tags) if nobody
/// else changed it since it was read (`row_version`); a lost race is a
/// `Conflict`.
pub fn image_update(c: &mut DbConn, img: &mut FullImage) -> StorageResult<()> {
    let seen = img.image.row_version;
    img.image.row_version = seen + 1;
    let n = diesel::update(images::table.filter(images::uuid.eq(&img.image.uuid)).filter(images::row_version.eq(seen)))
        .set(&img.image)
        .execute(c)?;
    if n == 0 {
        img.image.row_version = seen;
        return Err(StorageError::Conflict(format!("image {} was changed by another request", img.image.uuid)));
    }
    set_properties(c, &img.image.uuid, &img.properties)?;
    set_tags(c, &img.image.uuid, &img.tags)
}

/// The statuses in which a process is moving an image's data.
pub const TRANSFER_STATUSES: &[&str] = &["saving", "uploading", "importing"];

/// Moves an image from one status to another only if it is still in one of
/// `from` (the guard behind "one upload at a time"). Returns whether it did.
/// `owner` is the conductor that moves the data in the new status (`None`
/// outside a transfer).
pub fn image_transition(
    c: &mut DbConn,
    uuid: &str,
    from: &[&str],
    to: &str,
    owner: Option<&str>,
    now: NaiveDateTime,
) -> StorageResult<bool> {
    let n = diesel::update(images::table.filter(images::uuid.eq(uuid)).filter(images::status.eq_any(from)))
        .set((
            images::status.eq(to),
            images::transfer_owner.eq(owner),
            images::updated_at.eq(now),
            images::row_version.eq(images::row_version + 1),
        ))
        .execute(c)?;
    Ok(n == 1)
}

/// Transfers left to `me` to settle, each now owned by `me`: those of a
/// conductor silent since `dead_before` (stopped or dead), and with
/// `own_too` (at start) this conductor's own and those without an owner
/// (a previous run's, or recorded before owners were).
pub fn transfers_to_settle(
    c: &mut DbConn,
    me: &str,
    dead_before: NaiveDateTime,
    own_too: bool,
) -> StorageResult<Vec<Image>> {
    use super::schema::conductors;
    let stuck: Vec<(String, Option<String>)> = images::table
        .filter(images::status.eq_any(TRANSFER_STATUSES))
        .select((images::uuid, images::transfer_owner))
        .load(c)?;
    if stuck.is_empty() {
        return Ok(Vec::new());
    }
    let live: Vec<String> = conductors::table
        .filter(conductors::updated_at.ge(dead_before))
        .filter(conductors::online.eq(true))
        .select(conductors::hostname)
        .load(c)?;
    let mut out = Vec::new();
    for (uuid, owner) in stuck {
        let settle = match owner.as_deref() {
            None => own_too,
            Some(o) if o == me => own_too,
            Some(o) => !live.iter().any(|l| l == o),
        };
        if !settle {
            continue;
        }
        // One process settles each: the one that moves the owner first.
        let q = diesel::update(images::table.filter(images::uuid.eq(&uuid)));
        let moved = match &owner {
            Some(o) => q.filter(images::transfer_owner.eq(o)).set(images::transfer_owner.eq(me)).execute(c)?,
            None => q.filter(images::transfer_owner.is_null()).set(images::transfer_owner.eq(me)).execute(c)?,
        };
        if moved == 1 {
            out.push(image(c, &uuid)?);
        }
    }
    Ok(out)
}

/// Whether a process other than `me` that is alive (heartbeat since
/// `alive_since`) is moving this image's data.
pub fn transfer_is_live_elsewhere(
    c: &mut DbConn,
    uuid: &str,
    me: &str,
    alive_since: NaiveDateTime,
) -> StorageResult<bool> {
    use super::schema::conductors;
    let owner: Option<Option<String>> = images::table
        .filter(images::uuid.eq(uuid))
        .filter(images::status.eq_any(TRANSFER_STATUSES))
        .select(images::transfer_owner)
        .first(c)
        .optional()?;
    let Some(Some(owner)) = owner else { return Ok(false) };
    if owner == me {
        return Ok(false);
    }
    let alive: i64 = conductors::table
        .filter(conductors::hostname.eq(&owner))
        .filter(conductors::updated_at.ge(alive_since))
        .filter(conductors::online.eq(true))
        .count()
        .get_result(c)?;
    Ok(alive > 0)
}

/// What a finished upload records.
#[derive(Debug, Clone)]
pub struct DataRecord {
    pub size: i64,
    pub virtual_size: Option<i64>,
    pub checksum: String,
    pub os_hash_algo: String,
    pub os_hash_value: String,
    /// The store holding the data; `None` while it is only staged.
    pub store: Option<String>,
}

/// Records an image's data and moves it from status `from` to `to`, if it
/// is still in `from` (it may have been deleted or reset meanwhile).
/// Returns whether it did.
pub fn image_set_data(
    c: &mut DbConn,
    uuid: &str,
    from: &str,
    to: &str,
    d: &DataRecord,
    now: NaiveDateTime,
) -> StorageResult<bool> {
    let n = diesel::update(images::table.filter(images::uuid.eq(uuid)).filter(images::status.eq(from)))
        .set((
            images::status.eq(to),
            images::transfer_owner.eq(None::<String>),
            images::size.eq(d.size),
            images::virtual_size.eq(d.virtual_size),
            images::checksum.eq(&d.checksum),
            images::os_hash_algo.eq(&d.os_hash_algo),
            images::os_hash_value.eq(&d.os_hash_value),
            images::store.eq(&d.store),
            images::updated_at.eq(now),
            images::row_version.eq(images::row_version + 1),
        ))
        .execute(c)?;
    Ok(n == 1)
}

/// Puts an image whose upload or import failed back to `queued`, with no
/// data, if it is still in `from`.
pub fn image_reset(c: &mut DbConn, uuid: &str, from: &[&str], now: NaiveDateTime) -> StorageResult<bool> {
    let none: Option<String> = None;
    let n = diesel::update(images::table.filter(images::uuid.eq(uuid)).filter(images::status.eq_any(from)))
        .set((
            images::status.eq("queued"),
            images::transfer_owner.eq(None::<String>),
            images::size.eq(None::<i64>),
            images::virtual_size.eq(None::<i64>),
            images::checksum.eq(&none),
            images::os_hash_algo.eq(&none),
            images::os_hash_value.eq(&none),
            images::store.eq(&none),
            images::updated_at.eq(now),
            images::row_version.eq(images::row_version + 1),
        ))
        .execute(c)?;
    Ok(n == 1)
}

pub fn image_delete(c: &mut DbConn, uuid: &str) -> StorageResult<()> {
    diesel::delete(image_members::table.filter(image_members::image_uuid.eq(uuid))).execute(c)?;
    diesel::delete(image_tags::table.filter(image_tags::image_uuid.eq(uuid))).execute(c)?;
    diesel::delete(image_properties::table.filter(image_properties::image_uuid.eq(uuid))).execute(c)?;
    let n = diesel::delete(images::table.filter(images::uuid.eq(uuid))).execute(c)?;
    if n == 0 {
        return Err(StorageError::not_found("image", uuid));
    }
    Ok(())
}

/// Adds a tag; true when it was new.
pub fn tag_add(c: &mut DbConn, uuid: &str, tag: &str, now: NaiveDateTime) -> StorageResult<bool> {
    let exists = image_tags::table
        .filter(image_tags::image_uuid.eq(uuid))
        .filter(image_tags::tag.eq(tag))
        .count()
        .get_result::<i64>(c)?
        > 0;
    if !exists {
        diesel::insert_into(image_tags::table)
            .values((image_tags::image_uuid.eq(uuid), image_tags::tag.eq(tag)))
            .execute(c)?;
        touch(c, uuid, now)?;
    }
    Ok(!exists)
}

pub fn tag_count(c: &mut DbConn, uuid: &str) -> StorageResult<i64> {
    Ok(image_tags::table.filter(image_tags::image_uuid.eq(uuid)).count().get_result(c)?)
}

/// Removes a tag; false when the image did not have it.
pub fn tag_remove(c: &mut DbConn, uuid: &str, tag: &str, now: NaiveDateTime) -> StorageResult<bool> {
    let n = diesel::delete(image_tags::table.filter(image_tags::image_uuid.eq(uuid)).filter(image_tags::tag.eq(tag)))
        .execute(c)?;
    if n > 0 {
        touch(c, uuid, now)?;
    }
    Ok(n > 0)
}

fn touch(c: &mut DbConn, uuid: &str, now: NaiveDateTime) -> StorageResult<()> {
    diesel::update(images::table.filter(images::uuid.eq(uuid)))
        .set((images::updated_at.eq(now), images::row_version.eq(images::row_version + 1)))
        .execute(c)?;
    Ok(())
}

// ---- members -------------------------------------------------------------------

pub fn member(c: &mut DbConn, uuid: &str, member: &str) -> StorageResult<Member> {
    found(
        image_members::table
            .filter(image_members::image_uuid.eq(uuid))
            .filter(image_members::member.eq(member))
            .select(Member::as_select())
            .first(c),
        "member",
        member,
    )
}

pub fn members(c: &mut DbConn, uuid: &str) -> StorageResult<Vec<Member>> {
    Ok(image_members::table
        .filter(image_members::image_uuid.eq(uuid))
        .select(Member::as_select())
        .order(image_members::created_at)
        .load(c)?)
}

pub fn member_count(c: &mut DbConn, uuid: &str) -> StorageResult<i64> {
    Ok(image_members::table.filter(image_members::image_uuid.eq(uuid)).count().get_result(c)?)
}

pub fn member_insert(c: &mut DbConn, m: &Member) -> StorageResult<()> {
    diesel::insert_into(image_members::table).values(m).execute(c)?;
    Ok(())
}

pub fn member_set_status(
    c: &mut DbConn,
    uuid: &str,
    member: &str,
    status: &str,
    now: NaiveDateTime,
) -> StorageResult<()> {
    let n = diesel::update(
        image_members::table.filter(image_members::image_uuid.eq(uuid)).filter(image_members::member.eq(member)),
    )
    .set((image_members::status.eq(status), image_members::updated_at.eq(now)))
    .execute(c)?;
    if n == 0 {
        return Err(StorageError::not_found("member", member));
    }
    Ok(())
}

pub fn member_delete(c: &mut DbConn, uuid: &str, member: &str) -> StorageResult<()> {
    let n = diesel::delete(
        image_members::table.filter(image_members::image_uuid.eq(uuid)).filter(image_members::member.eq(member)),
    )
    .execute(c)?;
    if n == 0 {
        return Err(StorageError::not_found("member", member));
    }
    Ok(())
}

// ---- listing -------------------------------------------------------------------

/// Whose images a caller may see in a list.
#[derive(Debug, Clone, PartialEq)]
pub enum Viewer {
    /// Every image (administrators).
    All,
    /// A project: its own images, public ones, shared ones it is a member of
    /// (with a member status in `member_status`; empty = any), and
    /// community ones when asked for.
    Project(String),
    /// No project (an unscoped or system reader without admin): public only.
    Nobody,
}

/// A comparison for `created_at`, `updated_at`, `size`…
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Neq,
    Gt,
    Gte,
    Lt,
    Lte,
}

impl Cmp {
    fn sql(self) -> &'static str {
        match self {
            Cmp::Eq => "=",
            Cmp::Neq => "<>",
            Cmp::Gt => ">",
            Cmp::Gte => ">=",
            Cmp::Lt => "<",
            Cmp::Lte => "<=",
        }
    }
}

/// Filters of `GET /v2/images`, already validated.
#[derive(Debug, Clone, Default)]
pub struct ImageFilter {
    pub viewer: Option<Viewer>,
    /// `visibility`; `None` = the default (own, public, shared-accepted).
    pub visibility: Option<String>,
    /// Statuses of a membership that count (default `accepted`).
    pub member_status: Option<String>,
    pub names: Option<Vec<String>>,
    pub ids: Option<Vec<String>>,
    pub statuses: Option<Vec<String>>,
    pub owner: Option<String>,
    pub disk_format: Option<Vec<String>>,
    pub container_format: Option<Vec<String>>,
    pub tags: Vec<String>,
    pub protected: Option<bool>,
    pub os_hidden: Option<bool>,
    pub size_min: Option<i64>,
    pub size_max: Option<i64>,
    pub created_at: Vec<(Cmp, NaiveDateTime)>,
    pub updated_at: Vec<(Cmp, NaiveDateTime)>,
    pub properties: Vec<(String, String)>,
}

/// A sort key: a whitelisted column and its direction.
#[derive(Debug, Clone, Copy)]
pub struct SortKey {
    pub column: &'static str,
    pub desc: bool,
}

/// The column expression a sort key orders by: NULLs sort as the lowest
/// value on both backends.
pub fn sort_column(key: &str) -> Option<&'static str> {
    Some(match key {
        "name" => "COALESCE(images.name, '')",
        "status" => "images.status",
        "container_format" => "COALESCE(images.container_format, '')",
        "disk_format" => "COALESCE(images.disk_format, '')",
        "size" => "COALESCE(images.size, -1)",
        "virtual_size" => "COALESCE(images.virtual_size, -1)",
        "id" => "images.uuid",
        "created_at" => "images.created_at",
        "updated_at" => "images.updated_at",
        "owner" => "COALESCE(images.owner, '')",
        "visibility" => "images.visibility",
        "min_ram" => "images.min_ram",
        "min_disk" => "images.min_disk",
        "protected" => "images.protected",
        "os_hidden" => "images.os_hidden",
        _ => return None,
    })
}

type Sql = diesel::expression::SqlLiteral<diesel::sql_types::Bool>;

fn sql(s: &str) -> Sql {
    diesel::dsl::sql::<diesel::sql_types::Bool>(s)
}

/// A page of images matching `f`, sorted by `keys` (the serial id breaks
/// ties), after the image `marker` when given.
pub fn images_list(
    c: &mut DbConn,
    f: &ImageFilter,
    keys: &[SortKey],
    marker: Option<&str>,
    limit: i64,
) -> StorageResult<Vec<FullImage>> {
    use diesel::dsl::exists;
    let mut q = images::table.select(Image::as_select()).into_boxed();
    let member_status = f.member_status.clone().unwrap_or_else(|| "accepted".into());
    let statuses: Vec<String> = if member_status == "all" {
        ["pending", "accepted", "rejected"].map(String::from).to_vec()
    } else {
        vec![member_status.clone()]
    };
    let membership = |project: &str| {
        exists(
            image_members::table
                .filter(image_members::image_uuid.eq(images::uuid))
                .filter(image_members::member.eq(project.to_string()))
                .filter(image_members::status.eq_any(statuses.clone())),
        )
    };
    let visibility = f.visibility.as_deref();
    match f.viewer.as_ref().unwrap_or(&Viewer::All) {
        Viewer::All => {
            match visibility {
                None | Some("all") => {}
                Some(v) => q = q.filter(images::visibility.eq(v.to_string())),
            }
            if f.member_status.is_some() && f.member_status.as_deref() != Some("all") {
                let s = member_status.clone();
                q = q.filter(exists(
                    image_members::table
                        .filter(image_members::image_uuid.eq(images::uuid))
                        .filter(image_members::status.eq(s)),
                ));
            }
        }
        Viewer::Project(p) => {
            let own = images::owner.eq(p.clone());
            q = match visibility {
                None => q.filter(
                    own.or(images::visibility.eq("public")).or(images::visibility.eq("shared").and(membership(p))),
                ),
                Some("all") => q.filter(
                    own.or(images::visibility.eq_any(["public", "community"]))
                        .or(images::visibility.eq("shared").and(membership(p))),
                ),
                Some("public") => q.filter(images::visibility.eq("public")),
                Some("community") => q.filter(images::visibility.eq("community")),
                Some("private") => q.filter(images::visibility.eq("private")).filter(own),
                // own shared images count only when no member status was asked for
                Some(_) if f.member_status.is_some() => q.filter(images::visibility.eq("shared")).filter(membership(p)),
                Some(_) => q.filter(images::visibility.eq("shared")).filter(own.or(membership(p))),
            };
        }
        Viewer::Nobody => {
            q = match visibility {
                None | Some("public") => q.filter(images::visibility.eq("public")),
                Some("community") => q.filter(images::visibility.eq("community")),
                Some("all") => q.filter(images::visibility.eq_any(["public", "community"])),
                Some(_) => q.filter(sql("1 = 0")),
            }
        }
    }
    if let Some(v) = &f.names {
        q = q.filter(images::name.eq_any(v.clone()));
    }
    if let Some(v) = &f.ids {
        q = q.filter(images::uuid.eq_any(v.clone()));
    }
    if let Some(v) = &f.statuses {
        q = q.filter(images::status.eq_any(v.clone()));
    }
    if let Some(v) = &f.owner {
        q = q.filter(images::owner.eq(v.clone()));
    }
    if let Some(v) = &f.disk_format {
        q = q.filter(images::disk_format.eq_any(v.clone()));
    }
    if let Some(v) = &f.container_format {
        q = q.filter(images::container_format.eq_any(v.clone()));
    }
    if let Some(v) = f.protected {
        q = q.filter(images::protected.eq(v));
    }
    if let Some(v) = f.os_hidden {
        q = q.filter(images::os_hidden.eq(v));
    }
    if let Some(v) = f.size_min {
        q = q.filter(images::size.ge(v));
    }
    if let Some(v) = f.size_max {
        q = q.filter(images::size.le(v));
    }
    for (col, conds) in [("images.created_at", &f.created_at), ("images.updated_at", &f.updated_at)] {
        for (op, at) in conds {
            q = q.filter(sql(&format!("{col} {} ", op.sql())).bind::<diesel::sql_types::Timestamp, _>(*at).sql(""));
        }
    }
    for tag in &f.tags {
        q = q.filter(exists(
            image_tags::table.filter(image_tags::image_uuid.eq(images::uuid)).filter(image_tags::tag.eq(tag.clone())),
        ));
    }
    for (name, value) in &f.properties {
        q = q.filter(exists(
            image_properties::table
                .filter(image_properties::image_uuid.eq(images::uuid))
                .filter(image_properties::name.eq(name.clone()))
                .filter(image_properties::value.eq(value.clone())),
        ));
    }
    if let Some(m) = marker {
        q = q.filter(after_marker(keys, m));
    }
    let mut order = Vec::with_capacity(keys.len() + 1);
    for k in keys {
        order.push(format!("{} {}", k.column, if k.desc { "DESC" } else { "ASC" }));
    }
    let last_desc = keys.last().is_some_and(|k| k.desc);
    order.push(format!("images.id {}", if last_desc { "DESC" } else { "ASC" }));
    let list = q.order(diesel::dsl::sql::<diesel::sql_types::Text>(&order.join(", "))).limit(limit).load(c)?;
    complete(c, list)
}

/// Rows after the marker row in the order of `keys` (with the serial id
/// as the last key, in the last key's direction): the usual expansion
/// `k1 > m1 OR (k1 = m1 AND k2 > m2) OR …`, each `m` read from the marker
/// row by a subquery. The marker must be a canonical UUID (the caller has
/// checked that it names a visible image), so it is safe inline.
fn after_marker(keys: &[SortKey], marker: &str) -> Sql {
    assert!(marker.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'), "marker is a UUID");
    let last_desc = keys.last().is_some_and(|k| k.desc);
    let mut all: Vec<(&str, bool)> = keys.iter().map(|k| (k.column, k.desc)).collect();
    all.push(("images.id", last_desc));
    let of_marker =
        |col: &str| format!("(SELECT {} FROM images m WHERE m.uuid = '{marker}')", col.replace("images.", "m."));
    let mut alternatives = Vec::with_capacity(all.len());
    for (i, (col, desc)) in all.iter().enumerate() {
        let mut terms: Vec<String> = all[..i].iter().map(|(c, _)| format!("{c} = {}", of_marker(c))).collect();
        terms.push(format!("{col} {} {}", if *desc { "<" } else { ">" }, of_marker(col)));
        alternatives.push(format!("({})", terms.join(" AND ")));
    }
    sql(&format!("({})", alternatives.join(" OR ")))
}

/// Total bytes of image data an owner holds (the storage quota).
pub fn usage(c: &mut DbConn, owner: &str) -> StorageResult<i64> {
    let sizes: Vec<Option<i64>> = images::table
        .filter(images::owner.eq(owner))
        .filter(images::size.is_not_null())
        .select(images::size)
        .load(c)?;
    Ok(sizes.into_iter().flatten().sum())
}
