//! The audit log (HIPAA audit controls): who did what to which record, when and from where.
//!
//! Rows are appended in the same transaction as the change they record and chained by SHA-256:
//! each row's hash covers its fields and the previous row's hash, and ids run 1, 2, 3… without
//! gaps, so `verify` finds any altered, inserted or deleted row. Details never carry patient data.

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{Any, AnyConnection, FromRow, Transaction};

use crate::access::{can, Actor, Grant};
use crate::{Instant, Result, Store};

/// The genesis value of the chain.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One thing to record.
#[derive(Debug, Clone)]
pub struct AuditEvent<'a> {
    /// What was done: "read", "create", "update", "search", "access_denied", …
    pub action: &'a str,
    /// What kind of record: "patient", "episode", "user", …
    pub record_type: &'a str,
    /// The record's id.
    pub record_id: Option<i64>,
    /// The patient the record belongs to, for the per-patient audit view.
    pub patient_id: Option<i64>,
    /// Non-identifying detail (ids, field names, counts): never names, dates of birth or text.
    pub detail: String,
}

/// A stored audit row.
#[derive(Debug, Clone, FromRow, Serialize, PartialEq, Eq)]
pub struct AuditRow {
    /// Position in the chain, from 1.
    pub id: i64,
    /// When.
    pub at: Instant,
    /// Staff account, if any.
    pub user_id: Option<i64>,
    /// Username at the time.
    pub username: String,
    /// Role in force.
    pub role: String,
    /// What was done.
    pub action: String,
    /// Kind of record.
    pub record_type: String,
    /// Record id.
    pub record_id: Option<i64>,
    /// Patient id.
    pub patient_id: Option<i64>,
    /// Client address.
    pub ip: Option<String>,
    /// Request id.
    pub request_id: Option<String>,
    /// Non-identifying detail.
    pub detail: String,
    /// The previous row's hash.
    pub prev_hash: String,
    /// This row's hash.
    pub hash: String,
}

fn row_hash(row: &AuditRow) -> String {
    // A JSON array is an unambiguous encoding of the fields (no separator collisions).
    let canonical = serde_json::json!([
        row.id,
        row.at.to_db(),
        row.user_id,
        row.username,
        row.role,
        row.action,
        row.record_type,
        row.record_id,
        row.patient_id,
        row.ip,
        row.request_id,
        row.detail,
        row.prev_hash,
    ]);
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}

/// Appends one row inside the caller's transaction. Taking the head row first serialises
/// appenders (a row lock on PostgreSQL, the write lock on SQLite), so the chain never forks.
pub(crate) async fn append(
    tx: &mut Transaction<'static, Any>,
    actor: &Actor,
    event: AuditEvent<'_>,
) -> Result<()> {
    append_on(&mut *tx, actor, event).await
}

/// Appends one row in a transaction of its own: for reads whose rows were fetched from the
/// reader pool, so the audit is the only write and the caller returns the rows only after it
/// commits.
pub(crate) async fn record(store: &Store, actor: &Actor, event: AuditEvent<'_>) -> Result<()> {
    let mut tx = store.begin().await?;
    append(&mut tx, actor, event).await?;
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn append_on(
    conn: &mut AnyConnection,
    actor: &Actor,
    event: AuditEvent<'_>,
) -> Result<()> {
    let (id, prev_hash): (i64, String) = sqlx::query_as(
        "UPDATE audit_head SET last_id = last_id + 1 WHERE id = 1 RETURNING last_id, last_hash",
    )
    .fetch_one(&mut *conn)
    .await?;
    let mut row = AuditRow {
        id,
        at: Instant::now(),
        user_id: actor.user_id,
        username: actor.username.clone(),
        role: actor.role.code().to_owned(),
        action: event.action.to_owned(),
        record_type: event.record_type.to_owned(),
        record_id: event.record_id,
        patient_id: event.patient_id,
        ip: actor.ip.clone(),
        request_id: actor.request_id.clone(),
        detail: event.detail,
        prev_hash,
        hash: String::new(),
    };
    row.hash = row_hash(&row);
    sqlx::query(
        "INSERT INTO audit_log (id, at, user_id, username, role, action, record_type, record_id,
             patient_id, ip, request_id, detail, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(row.id)
    .bind(row.at)
    .bind(row.user_id)
    .bind(&row.username)
    .bind(&row.role)
    .bind(&row.action)
    .bind(&row.record_type)
    .bind(row.record_id)
    .bind(row.patient_id)
    .bind(&row.ip)
    .bind(&row.request_id)
    .bind(&row.detail)
    .bind(&row.prev_hash)
    .bind(&row.hash)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE audit_head SET last_hash = $1 WHERE id = 1")
        .bind(&row.hash)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// What `trellis audit verify` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// Rows checked.
    pub rows: i64,
    /// The hash of the last row: record it elsewhere to detect a rewrite of the whole chain.
    pub head_hash: String,
    /// Problems, each naming the row.
    pub problems: Vec<String>,
}

impl Verification {
    /// Whether the chain is intact.
    pub fn is_intact(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Filters for the audit search page.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Only rows about this patient.
    pub patient_id: Option<i64>,
    /// Only rows by this username.
    pub username: Option<String>,
    /// From this instant (inclusive).
    pub from: Option<Instant>,
    /// Until this instant (exclusive).
    pub until: Option<Instant>,
    /// At most this many rows, newest first.
    pub limit: i64,
}

const PAGE: i64 = 2000;

impl Store {
    /// Recomputes the whole chain and reports every break.
    pub async fn verify_audit(&self) -> Result<Verification> {
        let mut problems = Vec::new();
        let mut expected_prev = GENESIS_HASH.to_owned();
        let mut expected_id = 1;
        let mut after = 0;
        loop {
            let rows: Vec<AuditRow> =
                sqlx::query_as("SELECT * FROM audit_log WHERE id > $1 ORDER BY id LIMIT $2")
                    .bind(after)
                    .bind(PAGE)
                    .fetch_all(self.reader())
                    .await?;
            let Some(last) = rows.last() else { break };
            after = last.id;
            for row in rows {
                if row.id != expected_id {
                    problems.push(format!(
                        "row {expected_id}: missing (next row is {})",
                        row.id
                    ));
                }
                if row.prev_hash != expected_prev {
                    problems.push(format!("row {}: does not follow the previous row", row.id));
                }
                if row_hash(&row) != row.hash {
                    problems.push(format!("row {}: contents were altered", row.id));
                }
                expected_prev = row.hash.clone();
                expected_id = row.id + 1;
            }
        }
        let (head_id, head_hash): (i64, String) =
            sqlx::query_as("SELECT last_id, last_hash FROM audit_head WHERE id = 1")
                .fetch_one(self.reader())
                .await?;
        if head_id != expected_id - 1 || head_hash != expected_prev {
            problems.push(format!(
                "chain head says {head_id} rows but the log ends at row {}: rows were removed",
                expected_id - 1
            ));
        }
        Ok(Verification {
            rows: expected_id - 1,
            head_hash: expected_prev,
            problems,
        })
    }

    /// Searches the log, newest first. The search itself is recorded.
    pub async fn search_audit(
        &self,
        grant: &Grant<can::ReadAudit>,
        query: &AuditQuery,
    ) -> Result<Vec<AuditRow>> {
        let mut tx = self.begin().await?;
        append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "search",
                record_type: "audit_log",
                record_id: None,
                patient_id: query.patient_id,
                detail: String::new(),
            },
        )
        .await?;
        let rows = sqlx::query_as(
            "SELECT * FROM audit_log
             WHERE ($1 IS NULL OR patient_id = $1)
               AND ($2 IS NULL OR username = $2)
               AND ($3 IS NULL OR at >= $3)
               AND ($4 IS NULL OR at < $4)
             ORDER BY id DESC LIMIT $5",
        )
        .bind(query.patient_id)
        .bind(&query.username)
        .bind(query.from)
        .bind(query.until)
        .bind(query.limit.clamp(1, 1000))
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(rows)
    }

    /// Records an event that is not tied to a storage call (e.g. a login).
    pub async fn record(&self, actor: &Actor, event: AuditEvent<'_>) -> Result<()> {
        let mut tx = self.begin().await?;
        append(&mut tx, actor, event).await?;
        tx.commit().await?;
        Ok(())
    }
}
