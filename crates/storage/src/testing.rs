//! Test support: a fresh, migrated database on the engine the test run asks for.
//!
//! `TRELLIS_TEST_DATABASE=postgres` runs against the PostgreSQL server named by
//! `TRELLIS_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`), creating a
//! new database `trellis_t_<random>` per store; otherwise each store is a new SQLite file.

use std::path::PathBuf;

use crate::{Engine, Result, Store};

/// The engine the test run targets.
pub fn engine() -> Engine {
    match std::env::var("TRELLIS_TEST_DATABASE").as_deref() {
        Ok("postgres") => Engine::Postgres,
        _ => Engine::Sqlite,
    }
}

/// A database URL for a brand-new, empty database.
pub async fn fresh_database_url() -> Result<String> {
    let suffix = &crate::staff::random_secret()[..16];
    match engine() {
        Engine::Sqlite => {
            let dir: PathBuf = std::env::temp_dir().join("trellis-tests");
            Ok(format!("sqlite://{}/t_{suffix}.db", dir.display()))
        }
        Engine::Postgres => {
            let base = std::env::var("TRELLIS_TEST_POSTGRES_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
            let admin = Store::connect(&base).await?;
            let name = format!("trellis_t_{suffix}");
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(admin.writer())
                .await?;
            admin.write.close().await;
            let (prefix, _) = base.rsplit_once('/').unwrap_or((&base, ""));
            Ok(format!("{prefix}/{name}"))
        }
    }
}

/// A fresh, migrated store, unlocked with a new random master key.
pub async fn fresh_store() -> Result<Store> {
    let store = Store::connect(&fresh_database_url().await?).await?;
    store.migrate().await?;
    store
        .unlock(&crate::crypto::MasterKey::generate().0)
        .await?;
    Ok(store)
}

/// A fresh store migrated only up to `version` and not unlocked: a database as an older
/// Trellis left it, for upgrade tests. `Store::migrate` and `Store::unlock` then upgrade it.
pub async fn store_at_version(version: i64) -> Result<Store> {
    let store = Store::connect(&fresh_database_url().await?).await?;
    let all = match store.engine() {
        Engine::Sqlite => &crate::SQLITE_MIGRATIONS,
        Engine::Postgres => &crate::POSTGRES_MIGRATIONS,
    };
    let older = sqlx::migrate::Migrator {
        migrations: all
            .iter()
            .filter(|m| m.version <= version)
            .cloned()
            .collect::<Vec<_>>()
            .into(),
        ..sqlx::migrate::Migrator::DEFAULT
    };
    older.run(store.writer()).await?;
    Ok(store)
}

/// Runs raw SQL, bypassing grants and audit: only for tests that simulate tampering.
pub async fn raw_execute(store: &Store, sql: &str) -> Result<u64> {
    Ok(sqlx::query(sql)
        .execute(store.writer())
        .await?
        .rows_affected())
}

/// Reads one text column with raw SQL, bypassing grants, audit and decryption: only for tests
/// that check what is actually stored.
pub async fn raw_strings(store: &Store, sql: &str) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(sql)
        .fetch_all(&mut *store.read_conn().await?)
        .await?)
}

/// Decrypts a value read with [`raw_strings`] from its column ("tasks.title"): only for tests
/// that check what is stored.
pub fn open_sealed(store: &Store, column: &str, sealed: &str) -> Result<String> {
    store.open(column, sealed)
}

/// Lifts the append-only triggers on the audit tables, as a database superuser could: only for
/// tests that simulate tampering.
pub async fn allow_audit_tampering(store: &Store) -> Result<()> {
    let statements: &[&str] = match store.engine() {
        Engine::Sqlite => &[
            "DROP TRIGGER audit_log_no_update",
            "DROP TRIGGER audit_log_no_delete",
            "DROP TRIGGER audit_patients_no_update",
            "DROP TRIGGER audit_patients_no_delete",
        ],
        Engine::Postgres => &[
            "ALTER TABLE audit_log DISABLE TRIGGER USER",
            "ALTER TABLE audit_patients DISABLE TRIGGER USER",
        ],
    };
    for sql in statements {
        raw_execute(store, sql).await?;
    }
    Ok(())
}

/// Rewrites every audit row's chain fields as an attacker with database access would after
/// editing rows: plain SHA-256 (`key: None`, as before keying) or HMAC under a key of their own.
/// Needs [`allow_audit_tampering`] first.
pub async fn rewrite_audit_chain(store: &Store, key: Option<&[u8]>) -> Result<()> {
    crate::audit::rewrite_chain(store, key).await
}
