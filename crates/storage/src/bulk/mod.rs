//! Bulk loading for the network-scale data generator (`trellis generate`): multi-row inserts in
//! big transactions, with the audit rows the loaded records imply appended to the same
//! hash chain in the same transaction.
//!
//! The loader assigns ids itself (so one statement can insert thousands of rows that refer to
//! each other) and moves PostgreSQL's id sequences past them before it commits. It is for the
//! command line acting as administrator on a database nobody else is writing to at that moment.

use sqlx::{Any, Transaction};
use std::collections::HashMap;

use crate::access::{can, Grant};
use crate::audit::{self, AuditRow};
use crate::{Engine, Instant, Result, Store, StoreError};

/// Parameters per statement: far below the engines' limits (32,766 and 65,535); sqlx handles
/// very long statements slowly, and a few hundred rows per statement is already bulk speed.
const MAX_PARAMETERS: usize = 2_000;

/// One column value, typed so that a NULL binds with its column's type on PostgreSQL.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// BIGINT / INTEGER.
    Int(Option<i64>),
    /// DOUBLE PRECISION / REAL.
    Real(Option<f64>),
    /// BOOLEAN (INTEGER 0/1 on SQLite).
    Bool(Option<bool>),
    /// TEXT.
    Text(Option<String>),
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(Some(v))
    }
}
impl From<Option<i64>> for Value {
    fn from(v: Option<i64>) -> Self {
        Value::Int(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(Some(v))
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Real(Some(v))
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(Some(v))
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(Some(v.to_owned()))
    }
}
impl From<Option<String>> for Value {
    fn from(v: Option<String>) -> Self {
        Value::Text(v)
    }
}
impl Value {
    /// The value as an integer, if it is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(v) => *v,
            _ => None,
        }
    }

    /// The value as text, if it is some.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(v) => v.as_deref(),
            _ => None,
        }
    }
}

impl From<Instant> for Value {
    fn from(v: Instant) -> Self {
        Value::Text(Some(v.to_db()))
    }
}

/// One audit row the loaded records imply (who did what to which record, when).
#[derive(Debug, Clone)]
pub struct BulkAudit {
    /// When it happened.
    pub at: Instant,
    /// The staff account.
    pub user_id: Option<i64>,
    /// Its username.
    pub username: String,
    /// Its role code.
    pub role: String,
    /// What was done ("create", "update", …).
    pub action: &'static str,
    /// What kind of record.
    pub record_type: &'static str,
    /// The record's id.
    pub record_id: Option<i64>,
    /// The patient it belongs to.
    pub patient_id: Option<i64>,
    /// Non-identifying detail.
    pub detail: String,
}

/// An open bulk load: one transaction at a time, committed by [`BulkLoad::checkpoint`] or
/// [`BulkLoad::commit`].
pub struct BulkLoad<'s> {
    store: &'s Store,
    tx: Option<Transaction<'static, Any>>,
    last_audit_id: i64,
    last_audit_hash: String,
    chain_id: String,
    next_ids: HashMap<String, i64>,
    rows: u64,
}

impl Store {
    /// Starts a bulk load (administrators only).
    pub async fn bulk_load(&self, _grant: &Grant<can::ManageUsers>) -> Result<BulkLoad<'_>> {
        let mut load = BulkLoad {
            store: self,
            tx: None,
            last_audit_id: 0,
            last_audit_hash: String::new(),
            chain_id: String::new(),
            next_ids: HashMap::new(),
            rows: 0,
        };
        load.begin().await?;
        Ok(load)
    }
}

impl BulkLoad<'_> {
    async fn begin(&mut self) -> Result<()> {
        let mut tx = self.store.begin().await?;
        // Taking the head row first locks out every other appender until this transaction ends.
        let (id, hash, chain_id): (i64, String, String) = sqlx::query_as(
            "UPDATE audit_head SET last_id = last_id WHERE id = 1
             RETURNING last_id, last_hash, chain_id",
        )
        .fetch_one(&mut *tx)
        .await?;
        self.last_audit_id = id;
        self.last_audit_hash = hash;
        self.chain_id = chain_id;
        self.tx = Some(tx);
        Ok(())
    }

    fn tx(&mut self) -> Result<&mut Transaction<'static, Any>> {
        self.tx
            .as_mut()
            .ok_or_else(|| StoreError::Conflict("the bulk load has ended".into()))
    }

    /// Rows written so far (records and audit rows).
    pub fn rows_written(&self) -> u64 {
        self.rows
    }

    /// Reserves `count` consecutive ids in `table` and returns the first.
    pub async fn reserve_ids(&mut self, table: &str, count: i64) -> Result<i64> {
        check_name(table)?;
        let next = match self.next_ids.get(table) {
            Some(next) => *next,
            None => {
                let sql = format!("SELECT COALESCE(MAX(id), 0) FROM {table}");
                let max: i64 = sqlx::query_scalar(&sql)
                    .fetch_one(&mut **self.tx()?)
                    .await?;
                max + 1
            }
        };
        self.next_ids.insert(table.to_owned(), next + count);
        Ok(next)
    }

    /// Encrypts clinical text for `table.column`, as the store's own writes do.
    pub fn seal(&self, column: &str, text: &str) -> Result<String> {
        self.store.seal(column, text)
    }

    /// Seals a patient's identity and computes its blind indexes, as registering does.
    pub fn seal_identity(
        &self,
        registration: &trellis_domain::patient::Registration,
    ) -> Result<crate::patients::SealedIdentity> {
        self.store.seal_identity(registration)
    }

    /// Decrypts a value read from `table.column` (e.g. a template row).
    pub fn open(&self, column: &str, sealed: &str) -> Result<String> {
        self.store.open(column, sealed)
    }

    /// Reads columns of every row of `table`, in id order: templates for generated records
    /// (the demo clinic's rows, small tables).
    pub async fn sample(&mut self, table: &str, columns: &[&str]) -> Result<Vec<Vec<Value>>> {
        use sqlx::any::AnyTypeInfoKind as Kind;
        use sqlx::{Column, Row, TypeInfo};
        check_name(table)?;
        for c in columns {
            check_name(c)?;
        }
        let sql = format!("SELECT {} FROM {table} ORDER BY id", columns.join(", "));
        let rows = sqlx::query(&sql).fetch_all(&mut **self.tx()?).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let mut values = Vec::with_capacity(columns.len());
            for (i, column) in r.columns().iter().enumerate() {
                let info = column.type_info();
                let value = match info.kind() {
                    Kind::SmallInt | Kind::Integer | Kind::BigInt => Value::Int(r.try_get(i)?),
                    Kind::Real | Kind::Double => Value::Real(r.try_get(i)?),
                    Kind::Bool => Value::Bool(r.try_get(i)?),
                    Kind::Null => Value::Text(None),
                    _ if info.is_null() => Value::Text(None),
                    _ => Value::Text(r.try_get(i)?),
                };
                values.push(value);
            }
            out.push(values);
        }
        Ok(out)
    }

    /// Inserts rows into `table`, many per statement.
    pub async fn insert(
        &mut self,
        table: &str,
        columns: &[&str],
        rows: &[Vec<Value>],
    ) -> Result<()> {
        check_name(table)?;
        for c in columns {
            check_name(c)?;
        }
        if let Some(bad) = rows.iter().find(|r| r.len() != columns.len()) {
            return Err(StoreError::Conflict(format!(
                "a row for {table} has {} values for {} columns",
                bad.len(),
                columns.len()
            )));
        }
        let per_statement = (MAX_PARAMETERS / columns.len().max(1)).max(1);
        for chunk in rows.chunks(per_statement) {
            let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
            let mut n = 0;
            for (i, _) in chunk.iter().enumerate() {
                if i > 0 {
                    sql.push(',');
                }
                sql.push('(');
                for j in 0..columns.len() {
                    if j > 0 {
                        sql.push(',');
                    }
                    n += 1;
                    sql.push('$');
                    sql.push_str(&n.to_string());
                }
                sql.push(')');
            }
            let mut query = sqlx::query(&sql);
            for row in chunk {
                for value in row {
                    query = match value {
                        Value::Int(v) => query.bind(*v),
                        Value::Real(v) => query.bind(*v),
                        Value::Bool(v) => query.bind(*v),
                        Value::Text(v) => query.bind(v.clone()),
                    };
                }
            }
            query.execute(&mut **self.tx()?).await?;
            self.rows += chunk.len() as u64;
        }
        Ok(())
    }

    /// Appends audit rows to the keyed hash chain, in order, with the patient each names.
    pub async fn audit(&mut self, events: &[BulkAudit]) -> Result<()> {
        const COLUMNS: [&str; 15] = [
            "id",
            "at",
            "user_id",
            "username",
            "role",
            "action",
            "record_type",
            "record_id",
            "patient_id",
            "ip",
            "request_id",
            "detail",
            "prev_hash",
            "hash",
            "chain",
        ];
        let mut rows = Vec::with_capacity(events.len());
        let mut named = Vec::new();
        for e in events {
            let mut row = AuditRow {
                id: self.last_audit_id + 1,
                at: e.at,
                user_id: e.user_id,
                username: e.username.clone(),
                role: e.role.clone(),
                action: e.action.to_owned(),
                record_type: e.record_type.to_owned(),
                record_id: e.record_id,
                patient_id: e.patient_id,
                ip: None,
                request_id: None,
                detail: e.detail.clone(),
                prev_hash: self.last_audit_hash.clone(),
                hash: String::new(),
                chain: String::new(),
                patients: e.patient_id.into_iter().collect(),
            };
            audit::seal_bulk_row(&self.chain_id, &mut row)?;
            if let Some(patient) = row.patient_id {
                named.push(vec![Value::from(patient), Value::from(row.id)]);
            }
            rows.push(vec![
                Value::from(row.id),
                Value::from(row.at),
                Value::from(row.user_id),
                Value::from(row.username),
                Value::from(row.role),
                Value::from(e.action),
                Value::from(e.record_type),
                Value::from(row.record_id),
                Value::from(row.patient_id),
                Value::Text(None),
                Value::Text(None),
                Value::from(row.detail),
                Value::from(row.prev_hash),
                Value::from(row.hash.clone()),
                Value::from(row.chain),
            ]);
            self.last_audit_id = row.id;
            self.last_audit_hash = row.hash;
        }
        self.insert("audit_log", &COLUMNS, &rows).await?;
        self.insert("audit_patients", &["patient_id", "audit_id"], &named)
            .await
    }

    async fn finish_transaction(&mut self) -> Result<()> {
        let (id, hash) = (self.last_audit_id, self.last_audit_hash.clone());
        let engine = self.store.engine();
        let tables: Vec<String> = self.next_ids.keys().cloned().collect();
        let mut tx = self
            .tx
            .take()
            .ok_or_else(|| StoreError::Conflict("the bulk load has ended".into()))?;
        sqlx::query("UPDATE audit_head SET last_id = $1, last_hash = $2 WHERE id = 1")
            .bind(id)
            .bind(hash)
            .execute(&mut *tx)
            .await?;
        if engine == Engine::Postgres {
            // Ids were given explicitly; later inserts must not draw them again.
            for table in tables {
                let sql = format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                     (SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"
                );
                sqlx::query(&sql).execute(&mut *tx).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Commits what has been written so far and carries on in a new transaction.
    pub async fn checkpoint(&mut self) -> Result<()> {
        self.finish_transaction().await?;
        self.begin().await
    }

    /// Commits and ends the load.
    pub async fn commit(mut self) -> Result<()> {
        self.finish_transaction().await
    }
}

/// Table and column names are code, never input; refuse anything but plain identifiers.
fn check_name(name: &str) -> Result<()> {
    if !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        Ok(())
    } else {
        Err(StoreError::Conflict(format!(
            "{name:?} is not a table or column name"
        )))
    }
}
