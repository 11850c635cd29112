//! The audit log (HIPAA audit controls): who did what to which record, when and from where.
//!
//! Writes append their row in the same transaction as the change they record ([`append`]).
//! Reads hand their event to the appender ([`record`]): one task that owns the chain and writes
//! everything queued in one transaction (group commit), answering each waiter once its batch has
//! committed, so readers never queue behind each other's commits and nothing read goes
//! unaudited. Inside a web request the events are first gathered by a [`RequestAudit`], which
//! writes one row per action naming every record and patient the request touched, before the
//! response leaves the server.
//!
//! Rows are chained: each row's hash covers its fields, the patients it names and the previous
//! row's hash, and ids run 1, 2, 3… without gaps, so `verify` finds any altered, inserted or
//! deleted row. Rows are keyed (HMAC-SHA256, `chain = 'hmac-sha256'`) under a key derived from the
//! data key, which only the master key unwraps, so someone who can write the database cannot
//! recompute the chain; rows written before keying keep their SHA-256 hashes and are sealed by the
//! first keyed row. Signed [`Checkpoint`]s kept outside the database detect a truncated chain.
//! Details never carry patient data.

use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::{Any, AnyConnection, AnyPool, FromRow, Transaction};
use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use tokio::sync::{mpsc, oneshot};

use crate::access::{can, Actor, Grant};
use crate::{Instant, Result, Store, StoreError};

/// The genesis value of the chain.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// `chain` of rows hashed with plain SHA-256 (written before the chain was keyed).
const UNKEYED: &str = "sha256";
/// `chain` of rows signed with HMAC-SHA256 under the chain key.
const KEYED: &str = "hmac-sha256";

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
    /// Patient id, when the row is about one patient.
    pub patient_id: Option<i64>,
    /// Client address.
    pub ip: Option<String>,
    /// Request id (made by the server).
    pub request_id: Option<String>,
    /// Non-identifying detail.
    pub detail: String,
    /// The previous row's hash.
    pub prev_hash: String,
    /// This row's hash.
    pub hash: String,
    /// How the hash was made: "sha256" (before keying) or "hmac-sha256".
    pub chain: String,
    /// Every patient the row names (e.g. each patient shown by a list), ascending.
    #[sqlx(skip)]
    pub patients: Vec<i64>,
}

fn canonical(row: &AuditRow) -> serde_json::Value {
    // A JSON array is an unambiguous encoding of the fields (no separator collisions).
    serde_json::json!([
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
    ])
}

fn unkeyed_hash(row: &AuditRow) -> String {
    hex::encode(Sha256::digest(canonical(row).to_string().as_bytes()))
}

fn keyed_hash(keys: &ChainKeys, row: &AuditRow) -> String {
    let mut fields = canonical(row);
    if let Some(array) = fields.as_array_mut() {
        array.push(serde_json::json!(row.chain));
        array.push(serde_json::json!(row.patients));
    }
    hex::encode(mac(&keys.chain, fields.to_string().as_bytes()))
}

fn mac(key: &[u8; 32], message: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so this never fails for a 32-byte key.
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(message);
    m.finalize().into_bytes().to_vec()
}

/// The chain's keys, derived from the data key; held in memory only.
pub(crate) struct ChainKeys {
    chain: [u8; 32],
    checkpoint: [u8; 32],
}

impl ChainKeys {
    /// Derives the row key and the checkpoint key (HKDF-SHA256) from key material that never
    /// enters the database in the clear.
    pub(crate) fn derive(secret: &[u8]) -> ChainKeys {
        let hk = Hkdf::<Sha256>::new(Some(b"trellis-audit-chain-v1"), secret);
        let mut chain = [0u8; 32];
        let mut checkpoint = [0u8; 32];
        // 32 bytes is far below HKDF-SHA256's output limit, so expand cannot fail.
        hk.expand(b"row mac", &mut chain)
            .expect("32 bytes is a valid HKDF length");
        hk.expand(b"checkpoint mac", &mut checkpoint)
            .expect("32 bytes is a valid HKDF length");
        ChainKeys { chain, checkpoint }
    }
}

/// Keys by chain id. `append` runs inside callers' transactions, which carry no `Store`, so the
/// key is found through the chain id it reads from `audit_head` anyway.
fn chain_keys() -> &'static RwLock<HashMap<String, Arc<ChainKeys>>> {
    static KEYS: OnceLock<RwLock<HashMap<String, Arc<ChainKeys>>>> = OnceLock::new();
    KEYS.get_or_init(Default::default)
}

fn keys_for(chain_id: &str) -> Result<Arc<ChainKeys>> {
    chain_keys()
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .get(chain_id)
        .cloned()
        .ok_or_else(|| {
            StoreError::Config(
                "the audit log is keyed: Trellis needs its master key to write or verify it".into(),
            )
        })
}

/// Seals a row the bulk loader built (ids and previous hash already set) with the chain's key,
/// exactly as [`write_entries`] would, so generated rows verify like any other.
pub(crate) fn seal_bulk_row(chain_id: &str, row: &mut AuditRow) -> Result<()> {
    let keys = keys_for(chain_id)?;
    row.chain = KEYED.to_owned();
    row.hash = keyed_hash(&keys, row);
    Ok(())
}

/// One row to append.
#[derive(Debug, Clone)]
struct Entry {
    actor: Actor,
    action: String,
    record_type: String,
    record_id: Option<i64>,
    patient_id: Option<i64>,
    detail: String,
    patients: BTreeSet<i64>,
}

impl Entry {
    fn new(actor: &Actor, event: AuditEvent<'_>, shown: &[i64]) -> Entry {
        let mut patients: BTreeSet<i64> = shown.iter().copied().collect();
        patients.extend(event.patient_id);
        Entry {
            actor: actor.clone(),
            action: event.action.to_owned(),
            record_type: event.record_type.to_owned(),
            record_id: event.record_id,
            patient_id: event.patient_id,
            detail: event.detail,
            patients,
        }
    }
}

/// Appends rows in the caller's transaction, taking the head row first: a row lock on
/// PostgreSQL, the single writer on SQLite, so appenders (the read appender's batches and each
/// write's own transaction) take turns and the chain never forks.
async fn write_entries(conn: &mut AnyConnection, entries: &[&Entry]) -> Result<()> {
    let count = entries.len() as i64;
    let (last_id, mut prev_hash, chain_id): (i64, String, String) = sqlx::query_as(
        "UPDATE audit_head SET last_id = last_id + $1 WHERE id = 1
         RETURNING last_id, last_hash, chain_id",
    )
    .bind(count)
    .fetch_one(&mut *conn)
    .await?;
    let keys = keys_for(&chain_id)?;
    for (id, entry) in (last_id - count + 1..).zip(entries) {
        let mut row = AuditRow {
            id,
            at: Instant::now(),
            user_id: entry.actor.user_id,
            username: entry.actor.username.clone(),
            role: entry.actor.role.code().to_owned(),
            action: entry.action.clone(),
            record_type: entry.record_type.clone(),
            record_id: entry.record_id,
            patient_id: entry.patient_id,
            ip: entry.actor.ip.clone(),
            request_id: entry.actor.request_id.clone(),
            detail: entry.detail.clone(),
            prev_hash,
            hash: String::new(),
            chain: KEYED.to_owned(),
            patients: entry.patients.iter().copied().collect(),
        };
        row.hash = keyed_hash(&keys, &row);
        sqlx::query(
            "INSERT INTO audit_log (id, at, user_id, username, role, action, record_type,
                 record_id, patient_id, ip, request_id, detail, prev_hash, hash, chain)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
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
        .bind(&row.chain)
        .execute(&mut *conn)
        .await?;
        // One statement per few hundred patients (a list page names them all).
        for chunk in row.patients.chunks(400) {
            let mut q = String::from("INSERT INTO audit_patients (patient_id, audit_id) VALUES ");
            q.push_str(
                &(0..chunk.len())
                    .map(|i| format!("(${}, $1)", i + 2))
                    .collect::<Vec<_>>()
                    .join(", "),
            );
            let mut insert = sqlx::query(&q).bind(row.id);
            for patient in chunk {
                insert = insert.bind(*patient);
            }
            insert.execute(&mut *conn).await?;
        }
        prev_hash = row.hash;
    }
    sqlx::query("UPDATE audit_head SET last_hash = $1 WHERE id = 1")
        .bind(&prev_hash)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Appends one row inside the caller's transaction: for writes, whose row must commit (or roll
/// back) with the change it records.
pub(crate) async fn append(
    tx: &mut Transaction<'static, Any>,
    actor: &Actor,
    event: AuditEvent<'_>,
) -> Result<()> {
    append_on(&mut *tx, actor, event).await
}

/// [`append`] on a bare connection that is already inside a transaction.
pub(crate) async fn append_on(
    conn: &mut AnyConnection,
    actor: &Actor,
    event: AuditEvent<'_>,
) -> Result<()> {
    write_entries(conn, &[&Entry::new(actor, event, &[])]).await
}

/// Records a read: inside a web request the event joins the request's audit row (written before
/// the response leaves); elsewhere it goes to the appender and this returns once its batch has
/// committed. Either way, a caller that gets `Ok` and returns data has its read audited, and one
/// that gets `Err` must return no data.
pub(crate) async fn record(store: &Store, actor: &Actor, event: AuditEvent<'_>) -> Result<()> {
    record_shown(store, actor, event, &[]).await
}

/// [`record`] for a list: `shown` names every patient whose row the caller shows, so the
/// per-patient audit view finds the list read under each of them.
pub(crate) async fn record_shown(
    store: &Store,
    actor: &Actor,
    event: AuditEvent<'_>,
    shown: &[i64],
) -> Result<()> {
    let entry = Entry::new(actor, event, shown);
    if let Ok(collector) = REQUEST.try_with(|c| c.clone()) {
        collector.push(entry);
        return Ok(());
    }
    store.appender().submit(vec![entry]).await
}

tokio::task_local! {
    static REQUEST: RequestAudit;
}

/// The reads of one web request, written as one audit row per action when the request ends.
#[derive(Clone, Default)]
pub struct RequestAudit(Arc<Mutex<Vec<Entry>>>);

impl RequestAudit {
    /// An empty collector.
    pub fn new() -> RequestAudit {
        RequestAudit::default()
    }

    /// Runs `work` with this collector receiving every read it records.
    pub async fn scope<F: Future>(&self, work: F) -> F::Output {
        REQUEST.scope(self.clone(), work).await
    }

    fn push(&self, entry: Entry) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(entry);
    }

    /// Writes what was gathered (one row per action and actor) and waits for its commit. The
    /// caller must send no data from the request unless this succeeds.
    pub async fn flush(&self, store: &Store) -> Result<usize> {
        let gathered = std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()));
        if gathered.is_empty() {
            return Ok(0);
        }
        let merged = merge(gathered);
        let rows = merged.len();
        store.appender().submit(merged).await?;
        Ok(rows)
    }
}

/// One entry per (action, actor), in first-seen order. A merged entry keeps the record type,
/// record and patient when all its parts agree (else the first part's type, and none), names
/// every patient, and lists every record in its detail.
fn merge(entries: Vec<Entry>) -> Vec<Entry> {
    let mut groups: Vec<Vec<Entry>> = Vec::new();
    for entry in entries {
        match groups
            .iter_mut()
            .find(|g| g[0].action == entry.action && g[0].actor == entry.actor)
        {
            Some(group) => group.push(entry),
            None => groups.push(vec![entry]),
        }
    }
    groups
        .into_iter()
        .map(|mut group| {
            if group.len() == 1 {
                return group.remove(0);
            }
            let same = |f: &dyn Fn(&Entry) -> Option<i64>| {
                let first = f(&group[0]);
                group
                    .iter()
                    .all(|e| f(e) == first)
                    .then_some(first)
                    .flatten()
            };
            let record_id = if group.iter().all(|e| e.record_type == group[0].record_type) {
                same(&|e| e.record_id)
            } else {
                None
            };
            let patient_id = same(&|e| e.patient_id);
            let detail = group
                .iter()
                .map(|e| {
                    let record = match e.record_id {
                        Some(id) => format!("{}#{id}", e.record_type),
                        None => e.record_type.clone(),
                    };
                    if e.detail.is_empty() {
                        record
                    } else {
                        format!("{record} ({})", e.detail)
                    }
                })
                .collect::<Vec<_>>()
                .join("; ");
            let patients = group.iter().flat_map(|e| e.patients.clone()).collect();
            let first = group.swap_remove(0);
            Entry {
                record_id,
                patient_id,
                detail,
                patients,
                ..first
            }
        })
        .collect()
}

/// A batch of entries from one caller and the answer it waits for.
struct Unit {
    entries: Vec<Entry>,
    done: oneshot::Sender<Result<(), String>>,
}

/// The handle on the appender task.
#[derive(Clone)]
pub(crate) struct Appender(mpsc::Sender<Unit>);

/// At most this many callers share one transaction, so one commit stays short.
const MAX_UNITS: usize = 256;

impl Appender {
    /// Starts the appender task on the writer pool.
    pub(crate) fn start(write: AnyPool) -> Appender {
        let (sender, receiver) = mpsc::channel(4096);
        tokio::spawn(run_appender(write, receiver));
        Appender(sender)
    }

    async fn submit(&self, entries: Vec<Entry>) -> Result<()> {
        let (done, answer) = oneshot::channel();
        let stopped = || StoreError::AuditUnavailable("the audit appender has stopped".into());
        self.0
            .send(Unit { entries, done })
            .await
            .map_err(|_| stopped())?;
        answer
            .await
            .map_err(|_| stopped())?
            .map_err(StoreError::AuditUnavailable)
    }
}

/// Group commit: whatever queued while the last batch committed goes into the next transaction.
async fn run_appender(write: AnyPool, mut receiver: mpsc::Receiver<Unit>) {
    while let Some(first) = receiver.recv().await {
        let mut units = vec![first];
        while units.len() < MAX_UNITS {
            match receiver.try_recv() {
                Ok(unit) => units.push(unit),
                Err(_) => break,
            }
        }
        let entries: Vec<&Entry> = units.iter().flat_map(|u| &u.entries).collect();
        match commit(&write, &entries).await {
            Ok(()) => {
                for unit in units {
                    let _ = unit.done.send(Ok(()));
                }
            }
            Err(e) if units.len() == 1 => {
                tracing::error!(error = %e, "audit rows could not be written");
                for unit in units {
                    let _ = unit.done.send(Err(e.to_string()));
                }
            }
            // One bad entry must not fail its neighbours: retry each caller alone.
            Err(_) => {
                for unit in units {
                    let entries: Vec<&Entry> = unit.entries.iter().collect();
                    let result = commit(&write, &entries).await.map_err(|e| {
                        tracing::error!(error = %e, "audit rows could not be written");
                        e.to_string()
                    });
                    let _ = unit.done.send(result);
                }
            }
        }
    }
}

async fn commit(write: &AnyPool, entries: &[&Entry]) -> Result<()> {
    let mut tx = write.begin().await?;
    write_entries(&mut tx, entries).await?;
    tx.commit().await?;
    Ok(())
}

/// Registers the chain key for this database and, when the chain still ends in an unkeyed row
/// (a log written before keying), appends the row from which keyed hashing starts.
pub(crate) async fn unlock_chain(store: &Store, secret: &[u8]) -> Result<()> {
    let (chain_id, last_id): (String, i64) =
        sqlx::query_as("SELECT chain_id, last_id FROM audit_head WHERE id = 1")
            .fetch_one(store.writer())
            .await?;
    chain_keys()
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .insert(chain_id, Arc::new(ChainKeys::derive(secret)));
    if last_id > 0 {
        let chain: Option<String> = sqlx::query_scalar("SELECT chain FROM audit_log WHERE id = $1")
            .bind(last_id)
            .fetch_optional(store.writer())
            .await?;
        if chain.as_deref() != Some(KEYED) {
            store
                .record(
                    &Actor::system("unlock"),
                    AuditEvent {
                        action: "key_chain",
                        record_type: "audit_log",
                        record_id: None,
                        patient_id: None,
                        detail: format!("keyed hashing starts after row {last_id}"),
                    },
                )
                .await?;
        }
    }
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

/// A signed statement of the chain's length and head at a moment, kept outside the database
/// (exported by `trellis audit checkpoint`) so a later truncation or rewrite is detected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The chain it belongs to.
    pub chain_id: String,
    /// Rows in the chain then.
    pub rows: i64,
    /// The last row's hash then.
    pub head: String,
    /// When it was made.
    pub at: String,
    /// HMAC-SHA256 of the above under the checkpoint key.
    pub mac: String,
}

impl Checkpoint {
    fn message(chain_id: &str, rows: i64, head: &str, at: &str) -> String {
        serde_json::json!(["trellis-audit-checkpoint", chain_id, rows, head, at]).to_string()
    }

    fn signed_by(&self, keys: &ChainKeys) -> bool {
        let expected = mac(
            &keys.checkpoint,
            Checkpoint::message(&self.chain_id, self.rows, &self.head, &self.at).as_bytes(),
        );
        hex::decode(&self.mac).is_ok_and(|m| m == expected)
    }
}

/// The audit page's further narrowing: one action, and rows older than a row id (the page).
#[derive(Debug, Clone, Default)]
pub struct AuditPage {
    /// Only rows of this action ("read", "create", "search", ...).
    pub action: Option<String>,
    /// Only rows older than this row id (the next page starts after the last row shown).
    pub before: Option<i64>,
}

/// Filters for the audit search page.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Only rows naming this patient.
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

/// The patients named by rows `after < id <= through`, by row.
async fn patients_between(
    store: &Store,
    after: i64,
    through: i64,
) -> Result<HashMap<i64, Vec<i64>>> {
    let pairs: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT audit_id, patient_id FROM audit_patients
         WHERE audit_id > $1 AND audit_id <= $2 ORDER BY audit_id, patient_id",
    )
    .bind(after)
    .bind(through)
    .fetch_all(&mut *store.read_conn().await?)
    .await?;
    let mut by_row: HashMap<i64, Vec<i64>> = HashMap::new();
    for (audit_id, patient_id) in pairs {
        by_row.entry(audit_id).or_default().push(patient_id);
    }
    Ok(by_row)
}

impl Store {
    /// The appender task, started on first use.
    fn appender(&self) -> &Appender {
        self.appender
            .get_or_init(|| Appender::start(self.audit_pool.clone()))
    }

    /// Recomputes the whole chain and reports every break. Keyed rows need the master key
    /// (the store must be unlocked).
    pub async fn verify_audit(&self) -> Result<Verification> {
        self.verify_audit_against(&[]).await
    }

    /// [`Store::verify_audit`], also checking signed checkpoints: each must be signed with this
    /// chain's key and match the row it names, and the log must still reach it.
    pub async fn verify_audit_against(&self, checkpoints: &[Checkpoint]) -> Result<Verification> {
        let chain_id: String = sqlx::query_scalar("SELECT chain_id FROM audit_head WHERE id = 1")
            .fetch_one(&mut *self.read_conn().await?)
            .await?;
        let mut keys: Option<Arc<ChainKeys>> = None;
        let mut problems = Vec::new();
        let mut expected_prev = GENESIS_HASH.to_owned();
        let mut expected_id = 1;
        let mut after = 0;
        let mut keyed_from: Option<i64> = None;
        let mut last_chain = String::new();
        let wanted: BTreeSet<i64> = checkpoints.iter().map(|c| c.rows).collect();
        let mut hashes_at: HashMap<i64, String> = HashMap::new();
        loop {
            let rows: Vec<AuditRow> =
                sqlx::query_as("SELECT * FROM audit_log WHERE id > $1 ORDER BY id LIMIT $2")
                    .bind(after)
                    .bind(PAGE)
                    .fetch_all(&mut *self.read_conn().await?)
                    .await?;
            let Some(last) = rows.last() else { break };
            let mut patients = patients_between(self, after, last.id).await?;
            after = last.id;
            for mut row in rows {
                row.patients = patients.remove(&row.id).unwrap_or_default();
                if row.id != expected_id {
                    problems.push(format!(
                        "row {expected_id}: missing (next row is {})",
                        row.id
                    ));
                }
                if row.prev_hash != expected_prev {
                    problems.push(format!("row {}: does not follow the previous row", row.id));
                }
                let intact = match row.chain.as_str() {
                    UNKEYED => {
                        if keyed_from.is_some() {
                            problems.push(format!(
                                "row {}: unkeyed row after the chain became keyed",
                                row.id
                            ));
                        }
                        row.patients == row.patient_id.into_iter().collect::<Vec<_>>()
                            && unkeyed_hash(&row) == row.hash
                    }
                    KEYED => {
                        keyed_from.get_or_insert(row.id);
                        let k = match &keys {
                            Some(k) => k.clone(),
                            None => keys.insert(keys_for(&chain_id)?).clone(),
                        };
                        keyed_hash(&k, &row) == row.hash
                    }
                    other => {
                        problems.push(format!("row {}: unknown chain kind {other:?}", row.id));
                        true
                    }
                };
                if !intact {
                    problems.push(format!("row {}: contents were altered", row.id));
                }
                if wanted.contains(&row.id) {
                    hashes_at.insert(row.id, row.hash.clone());
                }
                expected_prev = row.hash.clone();
                expected_id = row.id + 1;
                last_chain = row.chain;
            }
        }
        let rows = expected_id - 1;
        if rows > 0 && last_chain != KEYED {
            problems.push(format!(
                "row {rows}: the chain does not end in a keyed row, so it could have been \
                 recomputed without the key"
            ));
        }
        let (head_id, head_hash): (i64, String) =
            sqlx::query_as("SELECT last_id, last_hash FROM audit_head WHERE id = 1")
                .fetch_one(&mut *self.read_conn().await?)
                .await?;
        if head_id != rows || head_hash != expected_prev {
            problems.push(format!(
                "chain head says {head_id} rows but the log ends at row {rows}: rows were removed"
            ));
        }
        if !checkpoints.is_empty() {
            let k = match keys {
                Some(k) => k,
                None => keys_for(&chain_id)?,
            };
            for cp in checkpoints {
                if cp.chain_id != chain_id || !cp.signed_by(&k) {
                    problems.push(format!(
                        "checkpoint of {}: not signed with this audit log's key",
                        cp.at
                    ));
                } else if cp.rows > rows {
                    problems.push(format!(
                        "checkpoint of {} recorded {} rows but the log has {rows}: rows were removed",
                        cp.at, cp.rows
                    ));
                } else if cp.rows > 0 && hashes_at.get(&cp.rows) != Some(&cp.head) {
                    problems.push(format!(
                        "row {}: differs from the checkpoint of {}",
                        cp.rows, cp.at
                    ));
                }
            }
        }
        Ok(Verification {
            rows,
            head_hash: expected_prev,
            problems,
        })
    }

    /// A signed checkpoint of the chain as it stands (needs the master key).
    pub async fn audit_checkpoint(&self) -> Result<Checkpoint> {
        let (chain_id, rows, head): (String, i64, String) =
            sqlx::query_as("SELECT chain_id, last_id, last_hash FROM audit_head WHERE id = 1")
                .fetch_one(&mut *self.read_conn().await?)
                .await?;
        let keys = keys_for(&chain_id)?;
        let at = Instant::now().to_db();
        let mac = hex::encode(mac(
            &keys.checkpoint,
            Checkpoint::message(&chain_id, rows, &head, &at).as_bytes(),
        ));
        Ok(Checkpoint {
            chain_id,
            rows,
            head,
            at,
            mac,
        })
    }

    /// Searches the log, newest first; `patient_id` finds every row naming the patient. The
    /// search itself is recorded.
    pub async fn search_audit(
        &self,
        grant: &Grant<can::ReadAudit>,
        query: &AuditQuery,
    ) -> Result<Vec<AuditRow>> {
        self.search_audit_page(grant, query, &AuditPage::default())
            .await
    }

    /// One page of the audit search, newest first, narrowed to one action. Pages are keyed by
    /// row id (`before`), not an offset: the log only grows, so an offset would shift under a
    /// reader and make the database count past every earlier row.
    pub async fn search_audit_page(
        &self,
        grant: &Grant<can::ReadAudit>,
        query: &AuditQuery,
        page: &AuditPage,
    ) -> Result<Vec<AuditRow>> {
        record(
            self,
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
        let mut rows: Vec<AuditRow> = sqlx::query_as(
            "SELECT * FROM audit_log
             WHERE ($1 IS NULL OR id IN (SELECT audit_id FROM audit_patients WHERE patient_id = $1))
               AND ($2 IS NULL OR username = $2)
               AND ($3 IS NULL OR at >= $3)
               AND ($4 IS NULL OR at < $4)
               AND ($5 IS NULL OR action = $5)
               AND ($6 IS NULL OR id < $6)
             ORDER BY id DESC LIMIT $7",
        )
        .bind(query.patient_id)
        .bind(&query.username)
        .bind(query.from)
        .bind(query.until)
        .bind(&page.action)
        .bind(page.before)
        .bind(query.limit.clamp(1, 1000))
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        if let (Some(newest), Some(oldest)) = (rows.first(), rows.last()) {
            let mut patients = patients_between(self, oldest.id - 1, newest.id).await?;
            for row in &mut rows {
                row.patients = patients.remove(&row.id).unwrap_or_default();
            }
        }
        Ok(rows)
    }

    /// Records an event that is not tied to a storage call (e.g. a login), in a transaction of
    /// its own.
    pub async fn record(&self, actor: &Actor, event: AuditEvent<'_>) -> Result<()> {
        let mut tx = self.begin().await?;
        append(&mut tx, actor, event).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// See `testing::rewrite_audit_chain`.
#[cfg(feature = "testing")]
pub(crate) async fn rewrite_chain(store: &Store, key: Option<&[u8]>) -> Result<()> {
    let keys = key.map(ChainKeys::derive);
    let mut rows: Vec<AuditRow> = sqlx::query_as("SELECT * FROM audit_log ORDER BY id")
        .fetch_all(&mut *store.read_conn().await?)
        .await?;
    let mut patients = patients_between(store, 0, i64::MAX).await?;
    let mut prev = GENESIS_HASH.to_owned();
    for row in &mut rows {
        row.patients = patients.remove(&row.id).unwrap_or_default();
        row.prev_hash = prev;
        match &keys {
            Some(k) => {
                row.chain = KEYED.into();
                row.hash = keyed_hash(k, row);
            }
            None => {
                row.chain = UNKEYED.into();
                row.hash = unkeyed_hash(row);
            }
        }
        sqlx::query("UPDATE audit_log SET prev_hash = $2, hash = $3, chain = $4 WHERE id = $1")
            .bind(row.id)
            .bind(&row.prev_hash)
            .bind(&row.hash)
            .bind(&row.chain)
            .execute(store.writer())
            .await?;
        prev = row.hash.clone();
    }
    sqlx::query("UPDATE audit_head SET last_hash = $1 WHERE id = 1")
        .bind(&prev)
        .execute(store.writer())
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use trellis_domain::access::Role;

    fn actor(name: &str) -> Actor {
        Actor {
            user_id: Some(1),
            username: name.into(),
            role: Role::Counselor,
            ip: Some("10.0.0.1".into()),
            request_id: Some("r1".into()),
        }
    }

    fn entry(actor: &Actor, action: &str, record: &str, id: i64, patient: i64) -> Entry {
        Entry::new(
            actor,
            AuditEvent {
                action,
                record_type: record,
                record_id: Some(id),
                patient_id: Some(patient),
                detail: String::new(),
            },
            &[],
        )
    }

    #[test]
    fn a_request_merges_into_one_row_per_action_naming_every_record_and_patient() {
        let a = actor("casey");
        let merged = merge(vec![
            entry(&a, "read", "patient", 7, 7),
            entry(&a, "read", "episode", 12, 7),
            entry(&a, "access_denied", "patient", 9, 9),
            Entry::new(
                &a,
                AuditEvent {
                    action: "read",
                    record_type: "patient_list",
                    record_id: None,
                    patient_id: None,
                    detail: "2 results".into(),
                },
                &[7, 8],
            ),
        ]);
        assert_eq!(merged.len(), 2);
        let read = &merged[0];
        assert_eq!(read.action, "read");
        assert_eq!(read.record_type, "patient");
        assert_eq!(read.record_id, None, "several records");
        assert_eq!(read.patient_id, None, "two patients");
        assert_eq!(
            read.detail,
            "patient#7; episode#12; patient_list (2 results)"
        );
        assert_eq!(read.patients.iter().copied().collect::<Vec<_>>(), [7, 8]);
        assert_eq!(merged[1].action, "access_denied");
        assert_eq!(merged[1].record_id, Some(9));
    }

    #[test]
    fn one_patients_reads_keep_the_patient_and_other_actors_stay_apart() {
        let a = actor("casey");
        let merged = merge(vec![
            entry(&a, "read", "patient", 7, 7),
            entry(&a, "read", "episode", 12, 7),
            entry(&actor("dana"), "read", "patient", 7, 7),
        ]);
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[0].patient_id, Some(7));
        assert_eq!(merged[1].actor.username, "dana");
    }

    #[test]
    fn keyed_hashes_depend_on_the_key_and_the_patients_named() {
        let keys = ChainKeys::derive(b"secret one");
        let other = ChainKeys::derive(b"secret two");
        let mut row = AuditRow {
            id: 1,
            at: Instant::now(),
            user_id: None,
            username: "system:test".into(),
            role: "admin".into(),
            action: "read".into(),
            record_type: "patient".into(),
            record_id: None,
            patient_id: None,
            ip: None,
            request_id: None,
            detail: String::new(),
            prev_hash: GENESIS_HASH.into(),
            hash: String::new(),
            chain: KEYED.into(),
            patients: vec![3, 4],
        };
        let hash = keyed_hash(&keys, &row);
        assert_ne!(hash, keyed_hash(&other, &row));
        assert_ne!(hash, unkeyed_hash(&row));
        row.patients = vec![3];
        assert_ne!(hash, keyed_hash(&keys, &row));
    }
}
