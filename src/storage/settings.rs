//! Settings of the deployment as a whole, shared by every process on the
//! database.

use diesel::prelude::*;

use super::schema::settings;
use super::{DbConn, StorageResult};

pub fn get(c: &mut DbConn, name: &str) -> StorageResult<Option<String>> {
    Ok(settings::table.filter(settings::name.eq(name)).select(settings::value).first(c).optional()?)
}

/// Stores `value` unless the setting exists; returns the stored value
/// (first writer wins when processes race).
pub fn get_or_insert(c: &mut DbConn, name: &str, value: &str) -> StorageResult<String> {
    if let Some(v) = get(c, name)? {
        return Ok(v);
    }
    let inserted =
        diesel::insert_into(settings::table).values((settings::name.eq(name), settings::value.eq(value))).execute(c);
    match inserted {
        Ok(_) => Ok(value.to_string()),
        Err(diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)) => {
            Ok(get(c, name)?.unwrap_or_else(|| value.to_string()))
        }
        Err(e) => Err(e.into()),
    }
}
