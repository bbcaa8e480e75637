//! One connection type over SQLite and PostgreSQL, picked by URL scheme.

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, SqliteConnection};

#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Backend {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgresql",
        }
    }
}

/// r2d2 manager that chooses the backend from the URL rather than trying
/// each in turn (SQLite would accept any string as a file name).
pub struct Manager {
    url: String,
    backend: Backend,
}

impl Manager {
    pub fn new(url: &str) -> Manager {
        let backend = Backend::from_url(url);
        let url = match backend {
            Backend::Sqlite => url.strip_prefix("sqlite://").unwrap_or(url).to_string(),
            Backend::Postgres => url.to_string(),
        };
        Manager { url, backend }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }
}

/// Switches a SQLite database to WAL (readers run beside the one writer).
/// Done once, before the pool opens its connections concurrently.
pub fn enable_wal(path: &str) -> Result<(), diesel::r2d2::Error> {
    use diesel::r2d2::Error;
    let path = path.strip_prefix("sqlite://").unwrap_or(path);
    let mut c = SqliteConnection::establish(path).map_err(Error::ConnectionError)?;
    c.batch_execute("PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL;").map_err(Error::QueryError)
}

impl r2d2::ManageConnection for Manager {
    type Connection = DbConn;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<DbConn, Self::Error> {
        use diesel::r2d2::Error;
        match self.backend {
            Backend::Postgres => {
                PgConnection::establish(&self.url).map(DbConn::Postgresql).map_err(Error::ConnectionError)
            }
            Backend::Sqlite => {
                let mut c = SqliteConnection::establish(&self.url).map_err(Error::ConnectionError)?;
                // The busy timeout covers the short moments a checkpoint or
                // another process holds the file; WAL was set once by `open`.
                c.batch_execute("PRAGMA busy_timeout = 5000; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")
                    .map_err(Error::QueryError)?;
                Ok(DbConn::Sqlite(c))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), Self::Error> {
        conn.batch_execute("SELECT 1").map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, _conn: &mut DbConn) -> bool {
        false
    }
}
