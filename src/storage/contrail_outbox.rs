//! The Contrail push outbox: objects whose state changed and must be sent
//! to the external VNC API. Rows are written in the transaction of the
//! change that causes them, so a committed change is never lost, and a
//! crash between the push and its bookkeeping only repeats an idempotent push.

use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{DbConn, StorageError, StorageResult};

diesel::table! {
    contrail_outbox (id) {
        id -> BigInt,
        object_type -> Text,
        object_uuid -> Text,
        op -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

/// What the external API should end up with for an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Upsert,
    Delete,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Upsert => "upsert",
            Op::Delete => "delete",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = contrail_outbox)]
pub struct Entry {
    pub id: i64,
    pub object_type: String,
    pub object_uuid: String,
    pub op: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub last_error: Option<String>,
    /// When the pending change was last recorded (see the migration).
    pub created_at: NaiveDateTime,
}

impl Entry {
    pub fn op(&self) -> Op {
        if self.op == "delete" { Op::Delete } else { Op::Upsert }
    }
}

#[derive(Insertable)]
#[diesel(table_name = contrail_outbox)]
struct NewEntry<'a> {
    object_type: &'a str,
    object_uuid: &'a str,
    op: &'a str,
    attempts: i32,
    next_attempt_at: NaiveDateTime,
    last_error: Option<String>,
    created_at: NaiveDateTime,
}

/// Now, to the microsecond both backends keep, so that a timestamp read
/// back compares equal to the one written.
fn now() -> NaiveDateTime {
    use chrono::{SubsecRound, Utc};
    Utc::now().naive_utc().trunc_subsecs(6)
}

/// Records a change of one object: the pending row of that object, if any,
/// takes the newest op and becomes due at once.
pub fn enqueue(c: &mut DbConn, object_type: &str, object_uuid: &str, op: Op) -> StorageResult<()> {
    use contrail_outbox::dsl as o;
    let t = now();
    let refresh = |c: &mut DbConn| {
        diesel::update(o::contrail_outbox.filter(o::object_type.eq(object_type)).filter(o::object_uuid.eq(object_uuid)))
            .set((
                o::op.eq(op.as_str()),
                o::attempts.eq(0),
                o::next_attempt_at.eq(t),
                o::last_error.eq(None::<String>),
                o::created_at.eq(t),
            ))
            .execute(c)
    };
    if refresh(c)? > 0 {
        return Ok(());
    }
    let row = NewEntry {
        object_type,
        object_uuid,
        op: op.as_str(),
        attempts: 0,
        next_attempt_at: t,
        last_error: None,
        created_at: t,
    };
    // A concurrent transaction may insert the same object first: the insert
    // runs in a savepoint so that the clash leaves this transaction usable.
    match c.transaction(|c| diesel::insert_into(o::contrail_outbox).values(&row).execute(c)).map_err(StorageError::from)
    {
        Ok(_) => Ok(()),
        Err(StorageError::Duplicate(_)) => refresh(c).map(|_| ()).map_err(StorageError::from),
        Err(e) => Err(e),
    }
}

/// Claims up to `limit` due rows for `lease` (other workers skip them
/// meanwhile; a worker that dies lets them fall due again). Oldest first.
pub fn take_due(c: &mut DbConn, limit: i64, lease: Duration) -> StorageResult<Vec<Entry>> {
    use contrail_outbox::dsl as o;
    let t = now();
    let until = t + chrono::Duration::from_std(lease).unwrap_or_else(|_| chrono::Duration::seconds(60));
    let due: Vec<Entry> = o::contrail_outbox
        .filter(o::next_attempt_at.le(t))
        .order((o::next_attempt_at, o::id))
        .limit(limit)
        .select(Entry::as_select())
        .load(c)?;
    let mut taken = Vec::with_capacity(due.len());
    for mut e in due {
        // Re-checking due-ness makes the claim atomic between workers.
        let n = diesel::update(o::contrail_outbox.filter(o::id.eq(e.id)).filter(o::next_attempt_at.le(t)))
            .set(o::next_attempt_at.eq(until))
            .execute(c)?;
        if n == 1 {
            e.next_attempt_at = until;
            taken.push(e);
        }
    }
    Ok(taken)
}

/// The row of `e` unless a newer change of the object was recorded since it was taken.
macro_rules! unchanged {
    ($e:expr) => {
        contrail_outbox::table
            .filter(contrail_outbox::id.eq($e.id))
            .filter(contrail_outbox::created_at.eq($e.created_at))
    };
}

/// The push of `e` succeeded: the row goes (unless the object changed again meanwhile).
pub fn done(c: &mut DbConn, e: &Entry) -> StorageResult<()> {
    diesel::delete(unchanged!(e)).execute(c)?;
    Ok(())
}

/// The push of `e` failed: retried after a capped exponential backoff
/// (1 s, 2 s, 4 s … up to `cap`).
pub fn failed(c: &mut DbConn, e: &Entry, error: &str, cap: Duration) -> StorageResult<()> {
    use contrail_outbox::dsl as o;
    let attempts = e.attempts.saturating_add(1);
    let wait = backoff(attempts, cap);
    let at = now() + chrono::Duration::from_std(wait).unwrap_or_else(|_| chrono::Duration::seconds(300));
    let error: String = error.chars().take(2000).collect();
    diesel::update(unchanged!(e))
        .set((o::attempts.eq(attempts), o::next_attempt_at.eq(at), o::last_error.eq(Some(error))))
        .execute(c)?;
    Ok(())
}

/// The wait before attempt `attempts + 1`.
pub fn backoff(attempts: i32, cap: Duration) -> Duration {
    let exp = attempts.clamp(1, 31) - 1;
    Duration::from_secs(1u64 << exp).min(cap.max(Duration::from_secs(1)))
}

/// What is waiting, for the status page.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub pending: i64,
    /// Rows whose last push failed.
    pub failing: i64,
    /// The most recently failed row.
    pub last_failure: Option<Entry>,
}

pub fn status(c: &mut DbConn) -> StorageResult<Status> {
    use contrail_outbox::dsl as o;
    let pending = o::contrail_outbox.count().get_result(c)?;
    let failing = o::contrail_outbox.filter(o::last_error.is_not_null()).count().get_result(c)?;
    let last_failure = o::contrail_outbox
        .filter(o::last_error.is_not_null())
        .order((o::next_attempt_at.desc(), o::id.desc()))
        .select(Entry::as_select())
        .first(c)
        .optional()?;
    Ok(Status { pending, failing, last_failure })
}

/// Every pending row, oldest first (tests, diagnostics).
pub fn pending(c: &mut DbConn) -> StorageResult<Vec<Entry>> {
    use contrail_outbox::dsl as o;
    Ok(o::contrail_outbox.order(o::id).select(Entry::as_select()).load(c)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let cap = Duration::from_secs(10);
        let waits: Vec<u64> = (1..=6).map(|a| backoff(a, cap).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 10, 10]);
        assert_eq!(backoff(1000, Duration::from_secs(300)).as_secs(), 300);
    }
}
