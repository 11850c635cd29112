//! Trellis storage: one query layer over SQLite (embedded default) and PostgreSQL (networks).
//!
//! Every query is written once in portable SQL with `$n` placeholders and run through sqlx's
//! `Any` driver; each engine has its own migration folder with the same version numbers.
//! Patient data is only reachable through grants from [`access`], and every such read or write
//! appends to the hash-chained [`audit`] log in the same transaction.

pub mod access;
pub mod appointments;
pub mod assessments;
mod at_rest;
pub mod audit;
pub mod bulk;
pub mod chart_overview;
pub mod collaterals;
pub mod confidentiality;
pub mod counseling_notes;
pub mod crypto;
pub mod dashboard;
pub mod discharge;
pub mod episodes;
pub mod frontdoor;
pub mod group_notes;
pub mod idempotency;
pub mod jobs;
pub mod measures;
pub mod medications;
pub mod notes;
pub mod org;
pub mod patients;
mod per_request;
pub mod phases;
pub mod portal;
pub mod privacy;
pub mod recipients;
pub mod revenue;
pub mod schedule;
pub mod staff;
pub mod tasks;
#[cfg(feature = "testing")]
pub mod testing;
mod time;
pub mod treatment_plans;
pub mod week;

/// The database driver's error, as carried by [`StoreError::Database`].
pub use sqlx::Error as DatabaseError;
pub use time::{readable_day, Day, Flag, Instant};

use sqlx::any::{AnyPoolOptions, AnyQueryResult};
use sqlx::{Any, AnyPool, Executor, Transaction};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;
use trellis_domain::patient::FieldError;

/// Which database engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// Embedded SQLite file (the default).
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

/// What can go wrong in storage, typed so the web layer maps each kind to one HTTP answer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The record does not exist (or is outside the caller's view).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The caller may not do this.
    #[error("access denied: {0}")]
    Denied(String),
    /// The input is invalid; each problem names its field.
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    /// The change conflicts with the record's current state.
    #[error("{0}")]
    Conflict(String),
    /// The record changed since the version the caller read (a conditional write).
    #[error("{0} changed since it was read")]
    Stale(&'static str),
    /// The configuration (URL, key) is unusable.
    #[error("configuration: {0}")]
    Config(String),
    /// A stored value could not be read back (corrupt or foreign data).
    #[error("stored data is malformed: {0}")]
    Corrupt(String),
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// An audit row could not be written, so the data it would record must not be returned.
    #[error("the audit log could not be written: {0}")]
    AuditUnavailable(String),
    /// Migrations failed.
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    /// An invalid-input error about one field.
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        StoreError::Invalid(vec![FieldError::new(field, message)])
    }

    /// Whether the error means "overloaded for a moment, nothing was done, try again" rather
    /// than a fault: the pool gave no connection within its timeout, or SQLite's writer stayed
    /// busy past the busy timeout.
    pub fn is_busy(&self) -> bool {
        match self {
            StoreError::Database(sqlx::Error::PoolTimedOut) => true,
            StoreError::Database(sqlx::Error::Database(db)) => {
                // SQLITE_BUSY is 5; its extended codes (261, 517, …) keep 5 in the low byte.
                db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some()
                    && db
                        .code()
                        .and_then(|c| c.parse::<i32>().ok())
                        .is_some_and(|c| c & 0xff == 5)
            }
            _ => false,
        }
    }
}

/// Result of a storage call.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A handle on the database: cheap to clone, shared by every request.
#[derive(Clone)]
pub struct Store {
    /// Tells this store's request reader from another store's in the same process.
    id: usize,
    read: AnyPool,
    write: AnyPool,
    engine: Engine,
    sqlite_path: Option<String>,
    keyring: std::sync::Arc<std::sync::OnceLock<crypto::Keyring>>,
    appender: std::sync::Arc<std::sync::OnceLock<audit::Appender>>,
    /// The read-audit appender's connection: on PostgreSQL a pool of its own, so readers that
    /// hold pooled connections while they wait for their audit row can never starve it.
    audit_pool: AnyPool,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Store {
    /// Connects to `sqlite://path` (created if missing) or `postgres://…`.
    pub async fn connect(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let url = url.trim();
        if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            let path = path.split('?').next().unwrap_or(path);
            if path.is_empty() || path == ":memory:" {
                return Err(StoreError::Config(
                    "a SQLite URL needs a file path, e.g. sqlite://trellis-data/trellis.db".into(),
                ));
            }
            if let Some(dir) = Path::new(path)
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
            {
                std::fs::create_dir_all(dir).map_err(|e| {
                    StoreError::Config(format!("cannot create {}: {e}", dir.display()))
                })?;
            }
            private_sqlite_files(Path::new(path))?;
            let url = format!("sqlite://{path}?mode=rwc");
            // Every write goes through this one connection, and each of its commits is one that
            // matters (patient data and its audit row together): FULL syncs the WAL at each
            // commit, so an acknowledged write survives a power cut, not only a crash. Readers
            // change nothing and keep NORMAL. The cost is in docs/security.md.
            let write = sqlite_pool(&url, 1, "FULL").await?;
            // WAL lets readers run beside the single writer; the setting persists in the file.
            sqlx::query("PRAGMA journal_mode = WAL")
                .fetch_optional(&write)
                .await?;
            let read = sqlite_pool(&url, 8, "NORMAL").await?;
            Ok(Store {
                id: per_request::next_store_id(),
                read,
                audit_pool: write.clone(),
                write,
                engine: Engine::Sqlite,
                sqlite_path: Some(path.to_owned()),
                keyring: Default::default(),
                appender: Default::default(),
            })
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = AnyPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .connect(url)
                .await?;
            let audit_pool = AnyPoolOptions::new()
                .max_connections(1)
                .acquire_timeout(Duration::from_secs(10))
                .connect_lazy(url)?;
            Ok(Store {
                id: per_request::next_store_id(),
                audit_pool,
                read: pool.clone(),
                write: pool,
                engine: Engine::Postgres,
                sqlite_path: None,
                keyring: Default::default(),
                appender: Default::default(),
            })
        } else {
            Err(StoreError::Config(
                "database URL must start with sqlite:// or postgres://".into(),
            ))
        }
    }

    /// The engine this store runs on.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Applies pending migrations.
    pub async fn migrate(&self) -> Result<()> {
        match self.engine {
            Engine::Sqlite => SQLITE_MIGRATIONS.run(&self.write).await?,
            Engine::Postgres => POSTGRES_MIGRATIONS.run(&self.write).await?,
        }
        if self.engine == Engine::Sqlite {
            // SQLite plans without statistics until something gathers them (PostgreSQL's
            // autovacuum does it on its own): without them the planner scanned a network's every
            // administration and note for one counselor's dashboard. Its documented practice is
            // this pragma when a long-lived connection opens (and periodically); it analyses
            // only tables never analysed or grown many times over, with a bounded sample.
            sqlx::query("PRAGMA optimize=0x10002")
                .execute(&self.write)
                .await?;
        }
        Ok(())
    }

    /// Gathers the query planner's statistics on every table now (after a bulk load such as the
    /// network generator, before autovacuum or housekeeping would get to it).
    pub async fn analyze(&self) -> Result<()> {
        match self.engine {
            Engine::Sqlite => {
                // A bounded sample per index keeps this to a second on a network-sized file.
                sqlx::query("PRAGMA analysis_limit = 1000")
                    .execute(&self.write)
                    .await?;
                sqlx::query("ANALYZE").execute(&self.write).await?;
            }
            Engine::Postgres => {
                // VACUUM too: it marks the freshly written pages all-visible, so scope checks
                // read the episode indexes alone (index-only scans) instead of visiting the
                // table (network x0.25: a clinical director's dashboard from 154 ms to 21 ms).
                sqlx::query("VACUUM ANALYZE").execute(&self.write).await?;
            }
        }
        Ok(())
    }

    /// Whether the database answers (for /healthz).
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").fetch_one(&self.read).await.is_ok()
    }

    /// Writes a consistent online copy of a SQLite database to `dest` (which must not exist).
    pub async fn backup_sqlite(&self, dest: &Path) -> Result<()> {
        if self.engine != Engine::Sqlite {
            return Err(StoreError::Config(
                "online backup is for SQLite; for PostgreSQL use pg_dump".into(),
            ));
        }
        if dest.exists() {
            return Err(StoreError::Config(format!(
                "{} already exists; choose a new file",
                dest.display()
            )));
        }
        let dest = dest
            .to_str()
            .ok_or_else(|| StoreError::Config("backup path must be UTF-8".into()))?;
        // Created empty and private first (VACUUM INTO accepts an empty file), so the copy is
        // never readable by others, not even while it is being written.
        create_private_file(Path::new(dest))?;
        sqlx::query("VACUUM INTO $1")
            .bind(dest.to_owned())
            .execute(&self.write)
            .await?;
        private_sqlite_files(Path::new(dest))?;
        Ok(())
    }

    /// The SQLite file this store uses, if any.
    pub fn sqlite_path(&self) -> Option<&str> {
        self.sqlite_path.as_deref()
    }

    /// Starts a write transaction (on SQLite, on the single writer connection).
    pub(crate) async fn begin(&self) -> Result<Transaction<'static, Any>> {
        if self.engine == Engine::Postgres {
            self.release_request_reader();
        }
        Ok(self.write.begin().await?)
    }

    /// The pool for single-statement writes outside a transaction.
    pub(crate) fn writer(&self) -> &AnyPool {
        &self.write
    }

    /// Reads a setting.
    pub async fn setting(&self, key: &str) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar::<_, String>("SELECT value FROM settings WHERE key = $1")
                .bind(key.to_owned())
                .fetch_optional(&mut *self.read_conn().await?)
                .await?,
        )
    }

    /// Writes a setting.
    pub async fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        let _: AnyQueryResult = sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key.to_owned())
        .bind(value.to_owned())
        .execute(&self.write)
        .await?;
        Ok(())
    }
}

/// Creates `path` empty and readable by its owner only, unless it exists.
fn create_private_file(path: &Path) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Config(format!(
            "cannot create {}: {e}",
            path.display()
        ))),
    }
}

/// Makes a SQLite database and its WAL and shared-memory files readable by their owner only:
/// creates the database file that way (SQLite gives the WAL and -shm files the database's
/// permissions) and tightens files an earlier version left world-readable.
fn private_sqlite_files(db: &Path) -> Result<()> {
    create_private_file(db)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for suffix in ["", "-wal", "-shm"] {
            let mut name = db.as_os_str().to_owned();
            name.push(suffix);
            let file = Path::new(&name);
            if file.exists() {
                std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600)).map_err(
                    |e| StoreError::Config(format!("cannot restrict {}: {e}", file.display())),
                )?;
            }
        }
    }
    Ok(())
}

async fn sqlite_pool(url: &str, size: u32, synchronous: &'static str) -> Result<AnyPool> {
    Ok(AnyPoolOptions::new()
        .max_connections(size)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        // A SQLite connection is a file handle that cannot drop like a socket: the default ping
        // before each acquire was a round trip to the connection's thread for nothing.
        .test_before_acquire(false)
        .after_connect(move |conn, _| {
            Box::pin(async move {
                conn.execute("PRAGMA foreign_keys = ON").await?;
                conn.execute(format!("PRAGMA synchronous = {synchronous}").as_str())
                    .await?;
                conn.execute("PRAGMA busy_timeout = 5000").await?;
                Ok(())
            })
        })
        .connect(url)
        .await?)
}

/// Parses a stored enum code, reporting a corrupt row instead of panicking.
pub(crate) fn parse_code<T: FromStr>(value: &str, what: &str) -> Result<T> {
    value
        .parse()
        .map_err(|_| StoreError::Corrupt(format!("unknown {what} {value:?}")))
}
