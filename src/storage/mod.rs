//! Persistence. This is the only module that knows diesel: everything else
//! calls the functions here, inside one blocking unit of work
//! ([`Storage::read`] / [`Storage::write`]) that runs off the async executor.

/// `(sort, id) > (the marker row's)` as one row-value comparison, for
/// keyset paging of a table with a serial `id` and a public `uuid`; `sort`
/// is a whitelisted SQL expression over the table's columns.
macro_rules! after_marker {
    ($table:literal, $page:expr, $marker:expr) => {{
        let op = if $page.desc { "<" } else { ">" };
        diesel::dsl::sql::<diesel::sql_types::Bool>(&format!(
            "({sort}, {t}.id) {op} (SELECT {sort}, m.id FROM {t} m WHERE m.uuid = ",
            sort = $page.sort,
            t = $table
        ))
        .bind::<diesel::sql_types::Text, _>($marker)
        .sql(")")
    }};
}

pub mod allocations;
pub mod baremetal;
pub mod compute;
mod conn;
pub mod contrail_outbox;
pub mod identity;
pub mod image_store;
pub mod images;
pub mod inspection;
pub mod network;
mod schema;
pub mod security_groups;
pub mod server_groups;
pub mod servers;
pub mod settings;
pub mod steps;
pub mod volume;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use conn::{Backend, DbConn};
use diesel::Connection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// What can go wrong below the API. Each API maps these once to its envelope.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("{kind} {id} not found")]
    NotFound { kind: &'static str, id: String },
    #[error("duplicate {0}")]
    Duplicate(String),
    /// The row changed under an optimistic update.
    #[error("{0}")]
    Conflict(String),
    /// The database cannot be reached (or the pool is exhausted): a 503.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Database(String),
    /// The database refused a text value (PostgreSQL stores no NUL
    /// character): the caller's input, a 400.
    #[error("text must not contain NUL (0x00) characters")]
    InvalidText,
    /// The unit of work refused to finish (and rolled back) for a reason
    /// the API reports in its own terms: `reason` names it.
    #[error("{message}")]
    Refused { reason: &'static str, message: String },
}

impl StorageError {
    pub fn refused(reason: &'static str, message: impl Into<String>) -> Self {
        StorageError::Refused { reason, message: message.into() }
    }

    pub fn not_found(kind: &'static str, id: impl Into<String>) -> Self {
        StorageError::NotFound { kind, id: id.into() }
    }
}

impl From<diesel::result::Error> for StorageError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::NotFound => StorageError::NotFound { kind: "row", id: String::new() },
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                StorageError::Duplicate(info.message().to_string())
            }
            Error::DatabaseError(DatabaseErrorKind::ClosedConnection, info) => {
                StorageError::Unavailable(info.message().to_string())
            }
            Error::DatabaseError(_, info) if info.message().contains("invalid byte sequence for encoding") => {
                StorageError::InvalidText
            }
            Error::DatabaseError(_, info) if connection_lost(info.message()) => {
                StorageError::Unavailable(info.message().trim().to_string())
            }
            // a connection lost inside a transaction
            Error::BrokenTransactionManager => StorageError::Unavailable("the database connection was lost".into()),
            Error::RollbackErrorOnCommit { commit_error, .. } => (*commit_error).into(),
            other => StorageError::Database(other.to_string()),
        }
    }
}

/// What PostgreSQL (or libpq) says when the server went away, is shutting
/// down or is not ready yet: a 503 to retry, not a fault.
fn connection_lost(message: &str) -> bool {
    const LOST: &[&str] = &[
        "terminating connection",
        "server closed the connection",
        "no connection to the server",
        "could not receive data from server",
        "could not send data to server",
        "connection to server",
        "the database system is shutting down",
        "the database system is starting up",
        "the database system is in recovery mode",
        "the database system is not yet accepting connections",
    ];
    LOST.iter().any(|l| message.contains(l))
}

impl From<r2d2::Error> for StorageError {
    fn from(e: r2d2::Error) -> Self {
        StorageError::Unavailable(e.to_string())
    }
}

pub type StorageResult<T> = Result<T, StorageError>;

/// `ORDER BY sort, id` in one direction (ties break on the serial id).
fn order_by(table: &str, sort: &str, desc: bool) -> diesel::expression::SqlLiteral<diesel::sql_types::Text> {
    let dir = if desc { "DESC" } else { "ASC" };
    diesel::dsl::sql(&format!("{sort} {dir}, {table}.id {dir}"))
}

/// Maps diesel's `NotFound` to a named one.
fn found<T>(r: diesel::QueryResult<T>, kind: &'static str, id: &str) -> StorageResult<T> {
    match r {
        Ok(v) => Ok(v),
        Err(diesel::result::Error::NotFound) => Err(StorageError::not_found(kind, id)),
        Err(e) => Err(e.into()),
    }
}

/// While the database is unreachable: how often a caller may try for a new
/// connection, and how long it waits.
const PROBE_EVERY: Duration = Duration::from_secs(1);
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// A pool of connections to one database, SQLite or PostgreSQL.
#[derive(Clone)]
pub struct Storage {
    pool: r2d2::Pool<conn::Manager>,
    backend: Backend,
    /// SQLite allows one writer at a time; serialising writers in-process
    /// avoids SQLITE_BUSY storms. PostgreSQL needs no such lock.
    sqlite_writer: Arc<Mutex<()>>,
    /// When the last checkout failed (ms since the epoch; 0: it did not):
    /// the database is unreachable.
    down_since: Arc<AtomicU64>,
    /// While it is down, one caller at a time waits for a new connection.
    probing: Arc<AtomicBool>,
}

impl Storage {
    /// Opens the pool. Fails fast when the database cannot be reached.
    pub fn open(url: &str, pool_size: u32) -> anyhow::Result<Storage> {
        let manager = conn::Manager::new(url);
        let backend = manager.backend();
        if backend == Backend::Sqlite {
            conn::enable_wal(url)?;
        }
        let pool = r2d2::Pool::builder()
            .max_size(pool_size.max(1))
            .min_idle(Some(2))
            .connection_timeout(Duration::from_secs(5))
            .build(manager)?;
        Ok(Storage {
            pool,
            backend,
            sqlite_writer: Arc::new(Mutex::new(())),
            down_since: Arc::new(AtomicU64::new(0)),
            probing: Arc::new(AtomicBool::new(false)),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A pooled connection. While the database is unreachable, callers get
    /// their 503 at once instead of each waiting out the pool's timeout:
    /// at most one caller per [`PROBE_EVERY`] waits (briefly) for a new
    /// connection.
    fn conn(&self) -> StorageResult<r2d2::PooledConnection<conn::Manager>> {
        let now =
            || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_millis() as u64);
        let since = self.down_since.load(Ordering::Acquire);
        if since == 0 {
            return self.pool.get().map_err(|e| {
                self.down_since.store(now(), Ordering::Release);
                e.into()
            });
        }
        if let Some(c) = self.pool.try_get() {
            self.down_since.store(0, Ordering::Release);
            return Ok(c);
        }
        let unreachable = || StorageError::Unavailable("the database is unreachable".into());
        if now().saturating_sub(since) < PROBE_EVERY.as_millis() as u64 || self.probing.swap(true, Ordering::AcqRel) {
            return Err(unreachable());
        }
        let got = self.pool.get_timeout(PROBE_TIMEOUT);
        self.down_since.store(if got.is_ok() { 0 } else { now() }, Ordering::Release);
        self.probing.store(false, Ordering::Release);
        got.map_err(|_| unreachable())
    }

    /// Applies every pending migration of this backend.
    pub fn migrate(&self) -> anyhow::Result<Vec<String>> {
        let mut c = self.pool.get()?;
        let migrations = match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS,
            Backend::Postgres => POSTGRES_MIGRATIONS,
        };
        let applied = c.run_pending_migrations(migrations).map_err(|e| anyhow::anyhow!("migration failed: {e}"))?;
        Ok(applied.iter().map(|v| v.to_string()).collect())
    }

    /// Runs read-only work on a pooled connection, off the async executor.
    pub async fn read<T, F>(&self, f: F) -> StorageResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConn) -> StorageResult<T> + Send + 'static,
    {
        let this = self.clone();
        blocking(move || {
            let mut c = this.conn()?;
            f(&mut c)
        })
        .await
    }

    /// Runs one transaction, off the async executor; it commits when `f`
    /// returns `Ok` and rolls back otherwise.
    pub async fn write<T, F>(&self, f: F) -> StorageResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConn) -> StorageResult<T> + Send + 'static,
    {
        let this = self.clone();
        blocking(move || this.write_blocking(f)).await
    }

    /// The blocking form of [`Storage::write`], for start-up and CLI commands.
    pub fn write_blocking<T, F>(&self, f: F) -> StorageResult<T>
    where
        F: FnOnce(&mut DbConn) -> StorageResult<T>,
    {
        let mut c = self.conn()?;
        let _guard = match self.backend {
            Backend::Sqlite => Some(self.sqlite_writer.lock().unwrap_or_else(|p| p.into_inner())),
            Backend::Postgres => None,
        };
        let conn: &mut DbConn = &mut c;
        conn.transaction(f)
    }

    /// The blocking form of [`Storage::read`].
    pub fn read_blocking<T, F>(&self, f: F) -> StorageResult<T>
    where
        F: FnOnce(&mut DbConn) -> StorageResult<T>,
    {
        let mut c = self.conn()?;
        f(&mut c)
    }
}

async fn blocking<T, F>(f: F) -> StorageResult<T>
where
    T: Send + 'static,
    F: FnOnce() -> StorageResult<T> + Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(StorageError::Unavailable(e.to_string())),
    }
}

/// Creates a fresh, empty PostgreSQL database next to `admin_url` (same
/// server, new name) and returns its URL. Used by tests so that runs never
/// see each other's rows.
pub fn create_scratch_postgres(admin_url: &str, name: &str) -> anyhow::Result<String> {
    use diesel::connection::SimpleConnection;
    let mut c = diesel::PgConnection::establish(admin_url)?;
    c.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\""))?;
    c.batch_execute(&format!("CREATE DATABASE \"{name}\""))?;
    Ok(replace_db_name(admin_url, name))
}

/// Drops a database made by [`create_scratch_postgres`].
pub fn drop_scratch_postgres(admin_url: &str, name: &str) -> anyhow::Result<()> {
    use diesel::connection::SimpleConnection;
    let mut c = diesel::PgConnection::establish(admin_url)?;
    c.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))?;
    Ok(())
}

fn replace_db_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let path_start = base[scheme_end..].find('/').map(|i| i + scheme_end);
    let mut out = match path_start {
        Some(i) => format!("{}/{}", &base[..i], name),
        None => format!("{base}/{name}"),
    };
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn replaces_database_name() {
        assert_eq!(super::replace_db_name("postgres://u@127.0.0.1:5432/test", "x"), "postgres://u@127.0.0.1:5432/x");
        assert_eq!(super::replace_db_name("postgres://h", "x"), "postgres://h/x");
        assert_eq!(
            super::replace_db_name("postgresql://h/db?sslmode=disable", "x"),
            "postgresql://h/x?sslmode=disable"
        );
    }
}
