//! Patients: registration with duplicate detection, search, the chart's demographics. Identities
//! are encrypted at rest, searched through blind indexes (`sealed`).

mod sealed;

pub use sealed::SealedIdentity;
pub(crate) use sealed::{names_patient, pad_name_tokens, seal_clear_identities, NamesPatient};

use chrono::NaiveDate;
use serde::Serialize;
use sqlx::FromRow;
use trellis_domain::access::{permits, Permission};
use trellis_domain::patient::{
    is_probable_duplicate, name_key, validate_registration, ExistingIdentity, Registration,
};

use sealed::write_name_tokens;

use crate::access::{can, patient_set_scope_sql, Grant, PatientGrant};
use crate::audit::{self, AuditEvent};
use crate::{Day, Instant, Result, Store, StoreError};

/// The medical record number shown to staff, derived from the patient id.
pub fn mrn(patient_id: i64) -> String {
    format!("TR{patient_id:06}")
}

/// Parses a medical record number ("TR000042" or "42") back to an id.
pub fn parse_mrn(s: &str) -> Option<i64> {
    let s = s.trim();
    let digits = s
        .strip_prefix("TR")
        .or_else(|| s.strip_prefix("tr"))
        .unwrap_or(s);
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// A patient's full demographic record.
#[derive(Debug, Clone, FromRow, Serialize, PartialEq)]
pub struct Patient {
    /// Id.
    pub id: i64,
    /// Registration site.
    pub site_id: i64,
    /// Legal first name.
    pub legal_first_name: String,
    /// Legal last name.
    pub legal_last_name: String,
    /// Name the patient goes by.
    pub preferred_name: Option<String>,
    /// Date of birth.
    pub date_of_birth: Day,
    /// Sex recorded at birth.
    pub sex: String,
    /// Gender identity.
    pub gender_identity: Option<String>,
    /// Pronouns.
    pub pronouns: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Address.
    pub address: Option<String>,
    /// Emergency contact's name.
    pub emergency_contact_name: Option<String>,
    /// Emergency contact's phone.
    pub emergency_contact_phone: Option<String>,
    /// Emergency contact's relationship.
    pub emergency_contact_relationship: Option<String>,
    /// Preferred language.
    pub preferred_language: Option<String>,
    /// Registered at.
    pub created_at: Instant,
    /// Last changed at.
    pub updated_at: Instant,
}

impl Patient {
    /// The name to address the patient by: preferred name if given, else legal first name.
    pub fn display_name(&self) -> String {
        let first = self
            .preferred_name
            .as_deref()
            .filter(|p| !p.trim().is_empty())
            .unwrap_or(&self.legal_first_name);
        format!("{first} {}", self.legal_last_name)
    }

    /// The record as an editable registration.
    pub fn registration(&self) -> Registration {
        Registration {
            legal_first_name: self.legal_first_name.clone(),
            legal_last_name: self.legal_last_name.clone(),
            preferred_name: self.preferred_name.clone(),
            date_of_birth: Some(self.date_of_birth.0),
            sex: self.sex.clone(),
            gender_identity: self.gender_identity.clone(),
            pronouns: self.pronouns.clone(),
            phone: self.phone.clone(),
            email: self.email.clone(),
            address: self.address.clone(),
            emergency_contact_name: self.emergency_contact_name.clone(),
            emergency_contact_phone: self.emergency_contact_phone.clone(),
            emergency_contact_relationship: self.emergency_contact_relationship.clone(),
            preferred_language: self.preferred_language.clone(),
        }
    }
}

/// A row of the patient list.
#[derive(Debug, Clone, FromRow, Serialize, PartialEq)]
pub struct PatientSummary {
    /// Id.
    pub id: i64,
    /// Legal first name.
    pub legal_first_name: String,
    /// Legal last name.
    pub legal_last_name: String,
    /// Preferred name.
    pub preferred_name: Option<String>,
    /// Pronouns.
    pub pronouns: Option<String>,
    /// Date of birth.
    pub date_of_birth: Day,
    /// Latest episode's program.
    pub program_name: Option<String>,
    /// Latest episode's current level of care code; `None` for roles that do not read episodes.
    pub current_level: Option<String>,
    /// Latest episode's status: "open" or "discharged".
    pub episode_status: Option<String>,
    /// Latest episode's admission date.
    pub admitted_on: Option<Day>,
    /// Latest episode's primary counselor; `None` for roles that do not read episodes.
    pub counselor_name: Option<String>,
    /// Open safety flags; `None` for roles that do not read clinical content.
    pub open_flags: Option<i64>,
}

/// A possible duplicate found before registering.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DuplicateCandidate {
    /// Id of the existing patient.
    pub patient_id: i64,
    /// Their medical record number.
    pub mrn: String,
    /// Their legal name.
    pub name: String,
    /// Their date of birth.
    pub date_of_birth: Day,
}

/// What registering did.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub enum RegisterOutcome {
    /// A new patient was created with this id.
    Created(i64),
    /// Nothing was created: these existing patients may be the same person.
    PossibleDuplicates(Vec<DuplicateCandidate>),
}

/// Patient list filters.
#[derive(Debug, Clone, Default)]
pub struct PatientQuery {
    /// Name (prefix of first or last, or "last, first"), MRN or date of birth (YYYY-MM-DD).
    pub text: Option<String>,
    /// Only patients with an open episode.
    pub open_only: bool,
    /// Page size.
    pub limit: i64,
    /// Rows to skip.
    pub offset: i64,
}

/// A row of the patient list as stored: identity columns sealed.
#[derive(FromRow)]
struct SealedSummary {
    id: i64,
    legal_first_name: String,
    legal_last_name: String,
    preferred_name: Option<String>,
    pronouns: Option<String>,
    date_of_birth: String,
    program_name: Option<String>,
    current_level: Option<String>,
    episode_status: Option<String>,
    admitted_on: Option<Day>,
    counselor_name: Option<String>,
    open_flags: Option<i64>,
}

/// A patient's record as stored: identity columns sealed.
#[derive(FromRow)]
struct SealedPatient {
    id: i64,
    site_id: i64,
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
    created_at: Instant,
    updated_at: Instant,
}

// Minimum necessary: the level and counselor only when $10 = 1 (the role reads episodes), the
// count of safety flags only when $11 = 1 (it reads clinical content); otherwise NULL.
const SUMMARY_SELECT: &str = "SELECT p.id, p.legal_first_name, p.legal_last_name, p.preferred_name,
    p.pronouns, p.date_of_birth, pr.name AS program_name,
    CASE WHEN $10 = 1 THEN e.current_level END AS current_level,
    e.status AS episode_status, e.admitted_on,
    CASE WHEN $10 = 1 THEN u.display_name END AS counselor_name,
    CASE WHEN $11 = 1 THEN (SELECT COUNT(*) FROM patient_flags f
        WHERE f.patient_id = p.id AND f.resolved_at IS NULL) END AS open_flags
    FROM patients p
    LEFT JOIN episodes e ON e.id = (SELECT e2.id FROM episodes e2 WHERE e2.patient_id = p.id
        ORDER BY e2.status = 'discharged', e2.admitted_on DESC, e2.id DESC LIMIT 1)
    LEFT JOIN programs pr ON pr.id = e.program_id
    LEFT JOIN users u ON u.id = e.primary_counselor_id";

fn clean(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

fn cleaned(r: &Registration) -> Registration {
    Registration {
        legal_first_name: r.legal_first_name.trim().to_owned(),
        legal_last_name: r.legal_last_name.trim().to_owned(),
        preferred_name: clean(&r.preferred_name),
        date_of_birth: r.date_of_birth,
        sex: r.sex.trim().to_owned(),
        gender_identity: clean(&r.gender_identity),
        pronouns: clean(&r.pronouns),
        phone: clean(&r.phone),
        email: clean(&r.email),
        address: clean(&r.address),
        emergency_contact_name: clean(&r.emergency_contact_name),
        emergency_contact_phone: clean(&r.emergency_contact_phone),
        emergency_contact_relationship: clean(&r.emergency_contact_relationship),
        preferred_language: clean(&r.preferred_language),
    }
}

impl Store {
    /// Registers a patient at a site. Unless `confirmed_new` is set, a registration that matches
    /// an existing patient (same date of birth, last name and first name or initial) creates
    /// nothing and returns the candidates, so staff can open the existing chart instead.
    pub async fn register_patient(
        &self,
        grant: &Grant<can::EditDemographics>,
        site_id: i64,
        registration: &Registration,
        today: NaiveDate,
        confirmed_new: bool,
    ) -> Result<RegisterOutcome> {
        let r = cleaned(registration);
        let errors = validate_registration(&r, today);
        if !errors.is_empty() {
            return Err(StoreError::Invalid(errors));
        }
        let created_by = grant.actor().staff_id()?;
        self.site(site_id)
            .await
            .map_err(|_| StoreError::invalid("site_id", "is not a known site"))?;
        let dob = r
            .date_of_birth
            .ok_or_else(|| StoreError::invalid("date_of_birth", "is required"))?;
        let mut tx = self.begin().await?;
        if !confirmed_new {
            // The blind index finds everyone born that day (a handful even at network scale);
            // decrypting them and applying the domain's rule finds the same duplicates as before.
            let same_dob: Vec<(i64, String, String, String)> = sqlx::query_as(
                "SELECT id, legal_first_name, legal_last_name, date_of_birth FROM patients
                 WHERE dob_index = $1",
            )
            .bind(self.dob_index(dob)?)
            .fetch_all(&mut *tx)
            .await?;
            let mut candidates = Vec::new();
            for (id, first, last, born) in same_dob {
                let existing = ExistingIdentity {
                    patient_id: id,
                    first_name: self.open_identity("legal_first_name", &first)?,
                    last_name: self.open_identity("legal_last_name", &last)?,
                    date_of_birth: self.open_date_of_birth(&born)?.0,
                };
                if is_probable_duplicate(&r, &existing) {
                    candidates.push(DuplicateCandidate {
                        patient_id: id,
                        mrn: mrn(id),
                        name: format!("{} {}", existing.first_name, existing.last_name),
                        date_of_birth: Day(existing.date_of_birth),
                    });
                }
            }
            if !candidates.is_empty() {
                for c in &candidates {
                    audit::append(
                        &mut tx,
                        grant.actor(),
                        AuditEvent {
                            action: "duplicate_shown",
                            record_type: "patient",
                            record_id: Some(c.patient_id),
                            patient_id: Some(c.patient_id),
                            detail: "shown as a possible duplicate during registration".into(),
                        },
                    )
                    .await?;
                }
                tx.commit().await?;
                return Ok(RegisterOutcome::PossibleDuplicates(candidates));
            }
        }
        let now = Instant::now();
        let sealed = self.seal_identity(&r)?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO patients (site_id, legal_first_name, legal_last_name, preferred_name,
                 date_of_birth, dob_index, sex, gender_identity, pronouns, phone, email, address,
                 emergency_contact_name, emergency_contact_phone, emergency_contact_relationship,
                 preferred_language, created_at, created_by, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                 $17, $18, $17)
             RETURNING id",
        )
        .bind(site_id)
        .bind(&sealed.legal_first_name)
        .bind(&sealed.legal_last_name)
        .bind(&sealed.preferred_name)
        .bind(&sealed.date_of_birth)
        .bind(&sealed.dob_index)
        .bind(&r.sex)
        .bind(&sealed.gender_identity)
        .bind(&sealed.pronouns)
        .bind(&sealed.phone)
        .bind(&sealed.email)
        .bind(&sealed.address)
        .bind(&sealed.emergency_contact_name)
        .bind(&sealed.emergency_contact_phone)
        .bind(&sealed.emergency_contact_relationship)
        .bind(&sealed.preferred_language)
        .bind(now)
        .bind(created_by)
        .fetch_one(&mut *tx)
        .await?;
        write_name_tokens(&mut tx, id, &sealed.name_tokens).await?;
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "create",
                record_type: "patient",
                record_id: Some(id),
                patient_id: Some(id),
                detail: if confirmed_new {
                    "registered after duplicate warning".into()
                } else {
                    String::new()
                },
            },
        )
        .await?;
        tx.commit().await?;
        Ok(RegisterOutcome::Created(id))
    }

    /// Changes a patient's demographics.
    pub async fn update_patient(
        &self,
        grant: &PatientGrant<can::EditDemographics>,
        registration: &Registration,
        today: NaiveDate,
    ) -> Result<()> {
        self.update_patient_if(grant, registration, today, None)
            .await
    }

    /// Replaces a patient's demographics only if they were last changed at `last_changed` (the
    /// version the caller read); otherwise nothing changes and the answer is `Stale`. `None`
    /// writes whatever the current version.
    pub async fn update_patient_if(
        &self,
        grant: &PatientGrant<can::EditDemographics>,
        registration: &Registration,
        today: NaiveDate,
        last_changed: Option<Instant>,
    ) -> Result<()> {
        let r = cleaned(registration);
        let errors = validate_registration(&r, today);
        if !errors.is_empty() {
            return Err(StoreError::Invalid(errors));
        }
        // Sealed before the transaction starts: it needs the key, not the database.
        let sealed = self.seal_identity(&r)?;
        let mut tx = self.begin().await?;
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "update",
                record_type: "patient",
                record_id: Some(grant.patient_id()),
                patient_id: Some(grant.patient_id()),
                detail: String::new(),
            },
        )
        .await?;
        let changed = sqlx::query(
            "UPDATE patients SET legal_first_name = $2, legal_last_name = $3, preferred_name = $4,
                 date_of_birth = $5, dob_index = $6, sex = $7, gender_identity = $8,
                 pronouns = $9, phone = $10, email = $11, address = $12,
                 emergency_contact_name = $13, emergency_contact_phone = $14,
                 emergency_contact_relationship = $15, preferred_language = $16, updated_at = $17
             WHERE id = $1 AND updated_at = COALESCE($18, updated_at)",
        )
        .bind(grant.patient_id())
        .bind(&sealed.legal_first_name)
        .bind(&sealed.legal_last_name)
        .bind(&sealed.preferred_name)
        .bind(&sealed.date_of_birth)
        .bind(&sealed.dob_index)
        .bind(&r.sex)
        .bind(&sealed.gender_identity)
        .bind(&sealed.pronouns)
        .bind(&sealed.phone)
        .bind(&sealed.email)
        .bind(&sealed.address)
        .bind(&sealed.emergency_contact_name)
        .bind(&sealed.emergency_contact_phone)
        .bind(&sealed.emergency_contact_relationship)
        .bind(&sealed.preferred_language)
        .bind(Instant::now())
        .bind(last_changed)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Err(StoreError::Stale("the patient's demographics"));
        }
        write_name_tokens(&mut tx, grant.patient_id(), &sealed.name_tokens).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Reads one patient's demographics (audited).
    pub async fn patient(&self, grant: &PatientGrant<can::ReadDemographics>) -> Result<Patient> {
        let mut reader = self.read_conn().await?;
        let mut tx = sqlx::Connection::begin(&mut *reader).await?;
        audit::record(
            self,
            grant.actor(),
            AuditEvent {
                action: "read",
                record_type: "patient",
                record_id: Some(grant.patient_id()),
                patient_id: Some(grant.patient_id()),
                detail: String::new(),
            },
        )
        .await?;
        let row: SealedPatient = sqlx::query_as(
            "SELECT id, site_id, legal_first_name, legal_last_name, preferred_name, date_of_birth,
                 sex, gender_identity, pronouns, phone, email, address, emergency_contact_name,
                 emergency_contact_phone, emergency_contact_relationship, preferred_language,
                 created_at, updated_at
             FROM patients WHERE id = $1",
        )
        .bind(grant.patient_id())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound("patient"))?;
        tx.commit().await?;
        self.open_patient(row)
    }

    /// Lists the patients in the actor's view matching a query; the listing is audited once.
    pub async fn search_patients(
        &self,
        grant: &Grant<can::ReadDemographics>,
        query: &PatientQuery,
    ) -> Result<Vec<PatientSummary>> {
        let actor = grant.actor();
        let user_id = actor.user_id.unwrap_or(0);
        let text = query.text.as_deref().map(str::trim).unwrap_or("");
        // Names are matched by prefix on their blind indexes: `last` (or either name, for a
        // single word) and `first`, each folded like the duplicate rule folds them.
        let (mut first, mut last, mut either, mut id, mut dob) = (None, None, None, None, None);
        if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            dob = Some(self.dob_index(d)?);
        } else if let Some(n) = parse_mrn(text).filter(|_| text.len() >= 2) {
            id = Some(n);
        } else if let Some((l, f)) = text.split_once(',') {
            last = Some(name_key(l));
            first = Some(name_key(f));
        } else if !text.is_empty() {
            // One word matches first or last name; two words are "first last".
            let words: Vec<String> = text.split_whitespace().map(name_key).collect();
            if words.len() >= 2 {
                first = Some(words[0].clone());
                last = Some(words[words.len() - 1].clone());
            } else {
                either = Some(words[0].clone());
            }
        }
        let token = |part: &str, key: Option<String>| {
            key.filter(|k| !k.is_empty())
                .map(|k| self.name_prefix_index(part, &k))
                .transpose()
        };
        let first_token = token("first", first.or_else(|| either.clone()))?;
        let last_token = token("last", last.or(either.clone()))?;
        let single_word = either.is_some();
        // Ordered by record number: names cannot be sorted in SQL once encrypted, and the
        // record number says nothing about the person. Only the page shown is decrypted.
        let sql = format!(
            "{SUMMARY_SELECT} WHERE {scope}
               AND ($2 IS NULL OR p.id = $2)
               AND ($3 IS NULL OR p.dob_index = $3)
               AND ($4 IS NULL OR p.id IN (SELECT t.patient_id FROM patient_name_tokens t
                    WHERE t.token = $4 OR ($6 = 1 AND t.token = $5)))
               AND ($5 IS NULL OR $6 = 1 OR p.id IN (SELECT t.patient_id
                    FROM patient_name_tokens t WHERE t.token = $5))
               AND ($7 = 0 OR e.status = 'open')
             ORDER BY p.id DESC
             LIMIT $8 OFFSET $9",
            scope = patient_set_scope_sql(actor.role, "$1"),
        );
        let mut reader = self.read_conn().await?;
        let mut tx = sqlx::Connection::begin(&mut *reader).await?;
        let sealed: Vec<SealedSummary> = sqlx::query_as(&sql)
            .bind(user_id)
            .bind(id)
            .bind(dob)
            .bind(last_token)
            .bind(first_token)
            .bind(i64::from(single_word))
            .bind(i64::from(query.open_only))
            .bind(query.limit.clamp(1, 500))
            .bind(query.offset.max(0))
            .bind(i64::from(permits(actor.role, Permission::ReadEpisodes)))
            .bind(i64::from(permits(actor.role, Permission::ReadClinical)))
            .fetch_all(&mut *tx)
            .await?;
        let rows = sealed
            .into_iter()
            .map(|r| self.open_summary(r))
            .collect::<Result<Vec<_>>>()?;
        let shown: Vec<i64> = rows.iter().map(|r| r.id).collect();
        audit::record_shown(
            self,
            actor,
            AuditEvent {
                action: "search",
                record_type: "patient",
                record_id: None,
                patient_id: None,
                detail: format!("{} results", rows.len()),
            },
            &shown,
        )
        .await?;
        tx.commit().await?;
        Ok(rows)
    }
}

impl Store {
    fn open_summary(&self, r: SealedSummary) -> Result<PatientSummary> {
        Ok(PatientSummary {
            id: r.id,
            legal_first_name: self.open_identity("legal_first_name", &r.legal_first_name)?,
            legal_last_name: self.open_identity("legal_last_name", &r.legal_last_name)?,
            preferred_name: self.open_identity_opt("preferred_name", r.preferred_name)?,
            pronouns: self.open_identity_opt("pronouns", r.pronouns)?,
            date_of_birth: self.open_date_of_birth(&r.date_of_birth)?,
            program_name: r.program_name,
            current_level: r.current_level,
            episode_status: r.episode_status,
            admitted_on: r.admitted_on,
            counselor_name: r.counselor_name,
            open_flags: r.open_flags,
        })
    }

    fn open_patient(&self, r: SealedPatient) -> Result<Patient> {
        Ok(Patient {
            id: r.id,
            site_id: r.site_id,
            legal_first_name: self.open_identity("legal_first_name", &r.legal_first_name)?,
            legal_last_name: self.open_identity("legal_last_name", &r.legal_last_name)?,
            preferred_name: self.open_identity_opt("preferred_name", r.preferred_name)?,
            date_of_birth: self.open_date_of_birth(&r.date_of_birth)?,
            sex: r.sex,
            gender_identity: self.open_identity_opt("gender_identity", r.gender_identity)?,
            pronouns: self.open_identity_opt("pronouns", r.pronouns)?,
            phone: self.open_identity_opt("phone", r.phone)?,
            email: self.open_identity_opt("email", r.email)?,
            address: self.open_identity_opt("address", r.address)?,
            emergency_contact_name: self
                .open_identity_opt("emergency_contact_name", r.emergency_contact_name)?,
            emergency_contact_phone: self
                .open_identity_opt("emergency_contact_phone", r.emergency_contact_phone)?,
            emergency_contact_relationship: self.open_identity_opt(
                "emergency_contact_relationship",
                r.emergency_contact_relationship,
            )?,
            preferred_language: self
                .open_identity_opt("preferred_language", r.preferred_language)?,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// An open safety or clinical flag shown on the chart header.
#[derive(Debug, Clone, FromRow, Serialize, PartialEq)]
pub struct PatientFlag {
    /// Id.
    pub id: i64,
    /// Kind, e.g. "suicide_risk", "unexpected_screen", "manual".
    pub kind: String,
    /// "moderate" or "high".
    pub severity: String,
    /// One line for the header.
    pub summary: String,
    /// Raised at.
    pub raised_at: Instant,
}

impl Store {
    /// The patient's open flags, most severe first (audited).
    pub async fn open_flags(
        &self,
        grant: &PatientGrant<can::ReadClinical>,
    ) -> Result<Vec<PatientFlag>> {
        let mut reader = self.read_conn().await?;
        let mut tx = sqlx::Connection::begin(&mut *reader).await?;
        audit::record(
            self,
            grant.actor(),
            AuditEvent {
                action: "read",
                record_type: "patient_flags",
                record_id: None,
                patient_id: Some(grant.patient_id()),
                detail: String::new(),
            },
        )
        .await?;
        let mut flags: Vec<PatientFlag> = sqlx::query_as(
            "SELECT id, kind, severity, summary, raised_at FROM patient_flags
             WHERE patient_id = $1 AND resolved_at IS NULL
             ORDER BY severity = 'high' DESC, raised_at DESC, id DESC",
        )
        .bind(grant.patient_id())
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        for flag in &mut flags {
            flag.summary = self.open(crate::tasks::SUMMARY_COLUMN, &flag.summary)?;
        }
        Ok(flags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_numbers_round_trip() {
        assert_eq!(mrn(42), "TR000042");
        assert_eq!(parse_mrn("TR000042"), Some(42));
        assert_eq!(parse_mrn("42"), Some(42));
        assert_eq!(parse_mrn("TRx"), None);
        assert_eq!(parse_mrn("Smith"), None);
    }
}
