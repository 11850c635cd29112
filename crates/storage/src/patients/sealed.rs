//! Patients' identities encrypted at rest, with blind indexes for the searches that need them.
//!
//! Names, date of birth and contact details are sealed per column like clinical text
//! (`crate::crypto`). What search and duplicate matching need is kept as blind indexes: keyed
//! hashes (HMAC-SHA256 under a key derived from the data key, never stored) of normalised values.
//! The date of birth has one (`patients.dob_index`); each name has one per prefix of its folded
//! form (`patient_name_tokens`), so "Smi" finds "Smith". Lists cannot sort by name in SQL: they
//! decrypt only the rows they show (`Store::listed_names`). What the indexes leak is written up
//! in docs/security.md.

use std::collections::{BTreeSet, HashMap};

use chrono::NaiveDate;
use sqlx::FromRow;
use trellis_domain::patient::{name_key, Registration};

use crate::{Day, Result, Store, StoreError};

/// A patient's identity as stored: every text sealed, the indexes computed.
#[derive(Debug, Clone)]
pub struct SealedIdentity {
    /// Legal first name, sealed.
    pub legal_first_name: String,
    /// Legal last name, sealed.
    pub legal_last_name: String,
    /// Preferred name, sealed.
    pub preferred_name: Option<String>,
    /// Date of birth (`YYYY-MM-DD`), sealed.
    pub date_of_birth: String,
    /// Gender identity, sealed.
    pub gender_identity: Option<String>,
    /// Pronouns, sealed.
    pub pronouns: Option<String>,
    /// Phone, sealed.
    pub phone: Option<String>,
    /// Email, sealed.
    pub email: Option<String>,
    /// Address, sealed.
    pub address: Option<String>,
    /// Emergency contact's name, sealed.
    pub emergency_contact_name: Option<String>,
    /// Emergency contact's phone, sealed.
    pub emergency_contact_phone: Option<String>,
    /// Emergency contact's relationship, sealed.
    pub emergency_contact_relationship: Option<String>,
    /// Preferred language, sealed.
    pub preferred_language: Option<String>,
    /// Blind index of the date of birth.
    pub dob_index: String,
    /// Blind indexes of every prefix of the folded first and last names.
    pub name_tokens: Vec<String>,
}

/// How many letters of each folded name get prefix tokens. Every patient stores exactly twice
/// this many tokens (real prefixes, then random filler of the same shape), so the count no
/// longer tells a name's length; a search word longer than this matches on its first letters.
const NAME_TOKEN_LETTERS: usize = 16;

fn column(name: &str) -> String {
    format!("patients.{name}")
}

impl Store {
    /// Seals a (cleaned, validated) registration for storage.
    pub(crate) fn seal_identity(&self, r: &Registration) -> Result<SealedIdentity> {
        let dob = r
            .date_of_birth
            .ok_or_else(|| StoreError::invalid("date_of_birth", "is required"))?;
        let seal = |name: &str, text: &str| self.seal(&column(name), text);
        let seal_opt =
            |name: &str, text: &Option<String>| text.as_deref().map(|t| seal(name, t)).transpose();
        Ok(SealedIdentity {
            legal_first_name: seal("legal_first_name", &r.legal_first_name)?,
            legal_last_name: seal("legal_last_name", &r.legal_last_name)?,
            preferred_name: seal_opt("preferred_name", &r.preferred_name)?,
            date_of_birth: seal("date_of_birth", &Day(dob).to_string())?,
            gender_identity: seal_opt("gender_identity", &r.gender_identity)?,
            pronouns: seal_opt("pronouns", &r.pronouns)?,
            phone: seal_opt("phone", &r.phone)?,
            email: seal_opt("email", &r.email)?,
            address: seal_opt("address", &r.address)?,
            emergency_contact_name: seal_opt("emergency_contact_name", &r.emergency_contact_name)?,
            emergency_contact_phone: seal_opt(
                "emergency_contact_phone",
                &r.emergency_contact_phone,
            )?,
            emergency_contact_relationship: seal_opt(
                "emergency_contact_relationship",
                &r.emergency_contact_relationship,
            )?,
            preferred_language: seal_opt("preferred_language", &r.preferred_language)?,
            dob_index: self.dob_index(dob)?,
            name_tokens: self.name_tokens(&r.legal_first_name, &r.legal_last_name)?,
        })
    }

    /// The blind index of a date of birth.
    pub(crate) fn dob_index(&self, dob: NaiveDate) -> Result<String> {
        self.blind_index("dob", &Day(dob).to_string())
    }

    /// The blind index of one prefix of a folded name (its first [`NAME_TOKEN_LETTERS`]
    /// letters); `part` is "first" or "last".
    pub(crate) fn name_prefix_index(&self, part: &str, folded_prefix: &str) -> Result<String> {
        let prefix: String = folded_prefix.chars().take(NAME_TOKEN_LETTERS).collect();
        self.blind_index(&format!("{part}-prefix"), &prefix)
    }

    /// Every prefix token of the folded first and last names, padded with random tokens to a
    /// fixed count. Sorted by value, so the stored order does not tell filler from real.
    fn name_tokens(&self, first: &str, last: &str) -> Result<Vec<String>> {
        let mut tokens = BTreeSet::new();
        for (part, name) in [("first", first), ("last", last)] {
            let folded: Vec<char> = name_key(name).chars().take(NAME_TOKEN_LETTERS).collect();
            for end in 1..=folded.len() {
                let prefix: String = folded[..end].iter().collect();
                tokens.insert(self.name_prefix_index(part, &prefix)?);
            }
        }
        while tokens.len() < 2 * NAME_TOKEN_LETTERS {
            // 128 random bits in hex: the shape of a real token, and matching no search.
            tokens.insert(crate::staff::random_secret()[..32].to_owned());
        }
        Ok(tokens.into_iter().collect())
    }

    /// Opens a sealed patient column.
    pub(crate) fn open_identity(&self, name: &str, sealed: &str) -> Result<String> {
        self.open(&column(name), sealed)
    }

    /// Opens an optional sealed patient column.
    pub(crate) fn open_identity_opt(
        &self,
        name: &str,
        sealed: Option<String>,
    ) -> Result<Option<String>> {
        sealed.map(|s| self.open_identity(name, &s)).transpose()
    }

    /// Opens a sealed date of birth.
    pub(crate) fn open_date_of_birth(&self, sealed: &str) -> Result<Day> {
        let text = self.open_identity("date_of_birth", sealed)?;
        NaiveDate::parse_from_str(&text, "%Y-%m-%d")
            .map(Day)
            .map_err(|_| StoreError::Corrupt("patients.date_of_birth is not a date".into()))
    }

    /// The names of the patients a list shows, decrypted: only the rows on the page are opened.
    /// Read on the caller's connection (its transaction, or the reader pool when it holds
    /// none): taking a second pooled connection while holding one starved the pool once as
    /// many requests as it has connections did so at once (every dashboard waited 10 s).
    pub(crate) async fn listed_names(
        &self,
        connection: &mut sqlx::AnyConnection,
        ids: impl IntoIterator<Item = i64>,
    ) -> Result<ListedNames> {
        let ids: Vec<i64> = ids
            .into_iter()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut names = HashMap::new();
        for chunk in ids.chunks(500) {
            let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT id, legal_first_name, legal_last_name, preferred_name FROM patients
                 WHERE id IN ({})",
                marks.join(", ")
            );
            let mut query =
                sqlx::query_as::<sqlx::Any, (i64, String, String, Option<String>)>(&sql);
            for id in chunk {
                query = query.bind(*id);
            }
            for (id, first, last, preferred) in query.fetch_all(&mut *connection).await? {
                let first = self.open_identity("legal_first_name", &first)?;
                let last = self.open_identity("legal_last_name", &last)?;
                let preferred = self.open_identity_opt("preferred_name", preferred)?;
                names.insert(
                    id,
                    ListedName {
                        display: format!("{} {last}", preferred.as_deref().unwrap_or(&first)),
                        order: (name_key(&last), name_key(&first)),
                    },
                );
            }
        }
        Ok(ListedNames(names))
    }
}

struct ListedName {
    display: String,
    order: (String, String),
}

/// Decrypted names of a list's patients, by id.
pub(crate) struct ListedNames(HashMap<i64, ListedName>);

impl ListedNames {
    /// The name staff address the patient by (preferred or legal first name, and last name).
    pub(crate) fn display(&self, patient_id: i64) -> String {
        self.0
            .get(&patient_id)
            .map(|n| n.display.clone())
            .unwrap_or_default()
    }

    /// The key lists sort by: folded last name, folded first name, then id.
    pub(crate) fn order(&self, patient_id: i64) -> (String, String, i64) {
        let (last, first) = self
            .0
            .get(&patient_id)
            .map(|n| n.order.clone())
            .unwrap_or_default();
        (last, first, patient_id)
    }
}

/// Replaces a patient's name tokens.
pub(crate) async fn write_name_tokens(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    patient_id: i64,
    tokens: &[String],
) -> Result<()> {
    sqlx::query("DELETE FROM patient_name_tokens WHERE patient_id = $1")
        .bind(patient_id)
        .execute(&mut **tx)
        .await?;
    for chunk in tokens.chunks(200) {
        let rows: Vec<String> = (0..chunk.len())
            .map(|i| format!("($1, ${})", i + 2))
            .collect();
        let sql = format!(
            "INSERT INTO patient_name_tokens (patient_id, token) VALUES {}",
            rows.join(", ")
        );
        let mut query = sqlx::query(&sql).bind(patient_id);
        for token in chunk {
            query = query.bind(token);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Stores a sealed identity's columns and indexes on an existing row that is still in the clear;
/// false if it was sealed already (by another server since it was read).
async fn seal_clear_row(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    patient_id: i64,
    s: &SealedIdentity,
) -> Result<bool> {
    let changed = sqlx::query(
        "UPDATE patients SET legal_first_name = $2, legal_last_name = $3, preferred_name = $4,
             date_of_birth = $5, gender_identity = $6, pronouns = $7, phone = $8, email = $9,
             address = $10, emergency_contact_name = $11, emergency_contact_phone = $12,
             emergency_contact_relationship = $13, preferred_language = $14, dob_index = $15
         WHERE id = $1 AND dob_index IS NULL",
    )
    .bind(patient_id)
    .bind(&s.legal_first_name)
    .bind(&s.legal_last_name)
    .bind(&s.preferred_name)
    .bind(&s.date_of_birth)
    .bind(&s.gender_identity)
    .bind(&s.pronouns)
    .bind(&s.phone)
    .bind(&s.email)
    .bind(&s.address)
    .bind(&s.emergency_contact_name)
    .bind(&s.emergency_contact_phone)
    .bind(&s.emergency_contact_relationship)
    .bind(&s.preferred_language)
    .bind(&s.dob_index)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if changed == 0 {
        return Ok(false);
    }
    write_name_tokens(tx, patient_id, &s.name_tokens).await?;
    Ok(true)
}

/// A row written in the clear, before identities were encrypted (migration 0085).
#[derive(FromRow)]
struct ClearIdentity {
    id: i64,
    legal_first_name: String,
    legal_last_name: String,
    preferred_name: Option<String>,
    date_of_birth: String,
    sex: String,
    gender_identity: Option<String>,
    pronouns: Option<String>,
    phone: Option<String>,
    email: Option<String>,
    address: Option<String>,
    emergency_contact_name: Option<String>,
    emergency_contact_phone: Option<String>,
    emergency_contact_relationship: Option<String>,
    preferred_language: Option<String>,
}

/// How many clear rows one upgrade transaction seals.
const UPGRADE_BATCH: i64 = 500;

/// Seals every identity still in the clear (a database from before migration 0085), in batches
/// of one transaction each. A row without a date-of-birth index is a clear one; sealing sets it,
/// so running again (or on two servers at once) does nothing twice. Returns how many were sealed.
pub(crate) async fn seal_clear_identities(store: &Store) -> Result<u64> {
    let mut sealed = 0u64;
    loop {
        let rows: Vec<ClearIdentity> = sqlx::query_as(
            "SELECT id, legal_first_name, legal_last_name, preferred_name, date_of_birth, sex,
                 gender_identity, pronouns, phone, email, address, emergency_contact_name,
                 emergency_contact_phone, emergency_contact_relationship, preferred_language
             FROM patients WHERE dob_index IS NULL ORDER BY id LIMIT $1",
        )
        .bind(UPGRADE_BATCH)
        .fetch_all(store.writer())
        .await?;
        if rows.is_empty() {
            break;
        }
        let mut tx = store.begin().await?;
        for row in rows {
            let dob = NaiveDate::parse_from_str(&row.date_of_birth, "%Y-%m-%d").map_err(|_| {
                StoreError::Corrupt(format!("patient {} has no valid date of birth", row.id))
            })?;
            let identity = store.seal_identity(&Registration {
                legal_first_name: row.legal_first_name,
                legal_last_name: row.legal_last_name,
                preferred_name: row.preferred_name,
                date_of_birth: Some(dob),
                sex: row.sex,
                gender_identity: row.gender_identity,
                pronouns: row.pronouns,
                phone: row.phone,
                email: row.email,
                address: row.address,
                emergency_contact_name: row.emergency_contact_name,
                emergency_contact_phone: row.emergency_contact_phone,
                emergency_contact_relationship: row.emergency_contact_relationship,
                preferred_language: row.preferred_language,
            })?;
            if seal_clear_row(&mut tx, row.id, &identity).await? {
                sealed += 1;
            }
        }
        tx.commit().await?;
    }
    if sealed > 0 {
        tracing::info!(
            patients = sealed,
            "sealed identities written before encryption"
        );
    }
    Ok(sealed)
}

/// Rewrites, padded to the fixed count, the name tokens of the patients written before they were
/// padded (listed by migration 0110), in batches of one transaction each; a patient leaves the
/// list with its new tokens, so running again does nothing twice. Returns how many.
pub(crate) async fn pad_name_tokens(store: &Store) -> Result<u64> {
    let mut padded = 0u64;
    loop {
        let rows: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT q.patient_id, p.legal_first_name, p.legal_last_name
             FROM name_tokens_to_pad q JOIN patients p ON p.id = q.patient_id
             ORDER BY q.patient_id LIMIT $1",
        )
        .bind(UPGRADE_BATCH)
        .fetch_all(store.writer())
        .await?;
        if rows.is_empty() {
            break;
        }
        let mut tx = store.begin().await?;
        for (id, first, last) in rows {
            let tokens = store.name_tokens(
                &store.open_identity("legal_first_name", &first)?,
                &store.open_identity("legal_last_name", &last)?,
            )?;
            write_name_tokens(&mut tx, id, &tokens).await?;
            sqlx::query("DELETE FROM name_tokens_to_pad WHERE patient_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            padded += 1;
        }
        tx.commit().await?;
    }
    // A listed id without a patient row (none are deleted, but the list must empty).
    sqlx::query("DELETE FROM name_tokens_to_pad WHERE patient_id NOT IN (SELECT id FROM patients)")
        .execute(store.writer())
        .await?;
    if padded > 0 {
        tracing::info!(patients = padded, "name tokens padded to a fixed count");
    }
    Ok(padded)
}

/// A list row that names a patient: the name is filled in after the query, decrypted, since
/// SQL only sees ciphertext (queries select `CAST('' AS TEXT)` in its place).
pub(crate) trait NamesPatient {
    /// The patient the row names, if any.
    fn named_patient(&self) -> Option<i64>;
    /// Puts the decrypted display name in place.
    fn set_patient_name(&mut self, name: String);
}

impl Store {
    /// Decrypts and fills in the display names of a list's rows; the names are returned too,
    /// for lists that sort by name.
    pub(crate) async fn fill_patient_names<T: NamesPatient>(
        &self,
        connection: &mut sqlx::AnyConnection,
        rows: &mut [T],
    ) -> Result<ListedNames> {
        let names = self
            .listed_names(
                connection,
                rows.iter().filter_map(NamesPatient::named_patient),
            )
            .await?;
        for row in rows.iter_mut() {
            if let Some(id) = row.named_patient() {
                row.set_patient_name(names.display(id));
            }
        }
        Ok(names)
    }
}

/// Implements [`NamesPatient`] for rows with `patient_id: i64` and `patient_name: String`.
macro_rules! names_patient {
    ($($row:ty),+ $(,)?) => {
        $(impl crate::patients::NamesPatient for $row {
            fn named_patient(&self) -> Option<i64> {
                Some(self.patient_id)
            }
            fn set_patient_name(&mut self, name: String) {
                self.patient_name = name;
            }
        })+
    };
}
pub(crate) use names_patient;
