//! Disclosures without the patient's consent: court orders (42 CFR 2.61–2.67) and qualified
//! service organisation, audit or evaluation and research agreements (§§2.11, 2.53, 2.52).
//! The privacy officer records each with what the rule requires; a disclosure under one leaves
//! by the same door as a consented one (a directory recipient, the packet as the record stands,
//! the §2.32 notice, the accounting), after the domain's check that it stays within the order's
//! or agreement's recipient, information and period.

use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{Any, Transaction};
use std::collections::BTreeSet;
use trellis_domain::consent::{
    check_authorised, validate_authority, validate_correction, validate_early_end,
    AuthorisedRequest, Authority, AuthorityChangeProblem, AuthorityKind, AuthorityRefusal,
    InformationCategory, Terms,
};
use trellis_domain::patient::FieldError;

use super::{category_codes, limit, DisclosureRecord, Outgoing, PacketDetail};
use crate::access::{can, Grant, PatientGrant};
use crate::audit::{self, AuditEvent};
use crate::privacy::parse_categories;
use crate::{parse_code, Day, Instant, Result, Store, StoreError};

const TERMS: &str = "disclosure_authorities.terms";
const CHANGE_REASON: &str = "disclosure_authority_changes.reason";
const CHANGE_PREVIOUS: &str = "disclosure_authority_changes.previous";

/// An order or agreement as the privacy officer enters it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewAuthority {
    /// The kind's terms (court and findings, services, auditor, board).
    pub terms: Terms,
    /// The directory entry information may go to.
    pub recipient_id: Option<i64>,
    /// The information it allows.
    pub categories: BTreeSet<InformationCategory>,
    /// The day the order was made or the agreement signed.
    pub dated_on: Option<NaiveDate>,
    /// The first day disclosures may be made.
    pub starts_on: Option<NaiveDate>,
    /// The last day.
    pub ends_on: Option<NaiveDate>,
    /// The recipient's written undertaking (see `Authority::recipient_bound`).
    pub recipient_bound: bool,
}

/// An order or agreement on file.
#[derive(Debug, Clone, Serialize)]
pub struct AuthorityRecord {
    /// Id.
    pub id: i64,
    /// The patient a court order is about (none for agreements, which cover the program).
    pub patient_id: Option<i64>,
    /// The recipient's name, from the directory.
    pub recipient_name: String,
    /// What was recorded.
    pub authority: Authority,
    /// Whether today is within its period.
    pub in_effect: bool,
    /// When it was recorded.
    pub recorded_at: Instant,
    /// Who recorded it.
    pub recorded_by: String,
    /// Its corrections and early end, oldest first (filled in on the one-record view).
    pub changes: Vec<AuthorityChange>,
}

/// A correction or early end of an order or agreement, with why.
#[derive(Debug, Clone, Serialize)]
pub struct AuthorityChange {
    /// "correction" or "end".
    pub change: String,
    /// Why, as the privacy officer gave it.
    pub reason: String,
    /// When.
    pub changed_at: Instant,
    /// By whom.
    pub changed_by: String,
}

/// One disclosure made under an order or agreement: the recipient's access, for the privacy
/// officer (ids and dates only).
#[derive(Debug, Clone, Serialize)]
pub struct AccessUnderAuthority {
    /// The disclosure.
    pub disclosure_id: i64,
    /// Whose records.
    pub patient_id: i64,
    /// When.
    pub disclosed_at: Instant,
    /// By whom.
    pub disclosed_by: String,
    /// What, as category codes.
    pub categories: Vec<String>,
}

/// A request to disclose under an order or agreement.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthorisedDisclosureInput {
    /// The order or agreement.
    pub authority_id: Option<i64>,
    /// What information.
    pub categories: BTreeSet<InformationCategory>,
}

/// What a disclosure under an order or agreement answers.
#[derive(Debug, Clone)]
pub enum AuthorisedOutcome {
    /// Made and recorded in the accounting.
    Made(Box<DisclosureRecord>),
    /// Refused, with the reason (the refusal is in the audit log).
    Refused(AuthorityRefusal),
}

type Row = (
    i64,
    String,
    Option<i64>,
    i64,
    String,
    Day,
    Day,
    Day,
    String,
    Instant,
    String,
    Option<Instant>,
);

const SELECT: &str = "SELECT a.id, a.kind, a.patient_id, a.recipient_id, a.categories, a.dated_on,
    a.starts_on, a.ends_on, a.terms, a.recorded_at, u.display_name, a.ended_at
    FROM disclosure_authorities a JOIN users u ON u.id = a.recorded_by";

impl Store {
    async fn authority_record(&self, row: Row, today: NaiveDate) -> Result<AuthorityRecord> {
        let (id, _kind, patient_id, recipient_id, categories, dated_on, starts_on, ends_on) =
            (row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7);
        let sealed: Sealed = serde_json::from_str(&self.open(TERMS, &row.8)?)
            .map_err(|e| StoreError::Corrupt(format!("disclosure authority {id}: {e}")))?;
        let recipient = self.recipient(recipient_id).await?;
        Ok(AuthorityRecord {
            id,
            patient_id,
            recipient_name: recipient.recipient.name,
            in_effect: (starts_on.0..=ends_on.0).contains(&today) && row.11.is_none(),
            authority: Authority {
                terms: sealed.terms,
                recipient_id,
                recipient_kind: recipient.recipient.kind,
                categories: parse_categories(&categories)?,
                dated_on: Some(dated_on.0),
                starts_on: Some(starts_on.0),
                ends_on: Some(ends_on.0),
                recipient_bound: sealed.recipient_bound,
                ended_at: row.11.map(|at| at.0),
            },
            recorded_at: row.9,
            recorded_by: row.10,
            changes: Vec::new(),
        })
    }

    async fn authority_rows(&self, filter: &str, bind: i64) -> Result<Vec<AuthorityRecord>> {
        let rows: Vec<Row> = sqlx::query_as(&format!("{SELECT} {filter} ORDER BY a.id DESC"))
            .bind(bind)
            .fetch_all(&mut *self.read_conn().await?)
            .await?;
        let today = Utc::now().date_naive();
        let mut records = Vec::with_capacity(rows.len());
        for row in rows {
            records.push(self.authority_record(row, today).await?);
        }
        Ok(records)
    }

    /// Checks an order or agreement as entered, for `patient_id` (a court order's patient, none
    /// for an agreement): the directory recipient, the text limits and the domain's findings.
    /// Every problem at once, each with its field.
    async fn checked_authority(
        &self,
        patient_id: Option<i64>,
        new: &NewAuthority,
    ) -> Result<(Authority, Day, Day, Day)> {
        let mut errors = Vec::new();
        let is_order = matches!(new.terms, Terms::CourtOrder(_));
        match (is_order, patient_id) {
            (true, None) => errors.push(FieldError::new(
                "patient_id",
                "a court order is about one patient: give the patient",
            )),
            (false, Some(_)) => errors.push(FieldError::new(
                "patient_id",
                "an agreement covers the program's records, not one patient: leave it empty",
            )),
            _ => {}
        }
        let recipient = match self.disclosure_recipient(new.recipient_id).await {
            Ok(r) => Some(r),
            Err(StoreError::Invalid(mut field)) => {
                errors.append(&mut field);
                None
            }
            Err(e) => return Err(e),
        };
        for (field, text) in terms_texts(&new.terms) {
            limit(field, text, 1000, &mut errors);
        }
        let today = match patient_id {
            Some(p) => Utc::now()
                .with_timezone(&self.patient_zone(p).await?)
                .date_naive(),
            None => Utc::now().date_naive(),
        };
        let Some(recipient) = recipient else {
            return Err(StoreError::Invalid(errors));
        };
        let authority = Authority {
            terms: trimmed(&new.terms),
            recipient_id: recipient.id,
            recipient_kind: recipient.recipient.kind,
            categories: new.categories.clone(),
            dated_on: new.dated_on,
            starts_on: new.starts_on,
            ends_on: new.ends_on,
            recipient_bound: new.recipient_bound,
            ended_at: None,
        };
        if let Err(problems) = validate_authority(&authority, today) {
            errors.extend(
                problems
                    .into_iter()
                    .map(|(field, p)| FieldError::new(field, p.to_string())),
            );
        }
        match (new.dated_on, new.starts_on, new.ends_on) {
            (Some(dated_on), Some(starts_on), Some(ends_on)) if errors.is_empty() => {
                Ok((authority, Day(dated_on), Day(starts_on), Day(ends_on)))
            }
            _ => Err(StoreError::Invalid(errors)),
        }
    }

    fn seal_terms(&self, authority: &Authority) -> Result<String> {
        let sealed = serde_json::to_string(&Sealed {
            terms: authority.terms.clone(),
            recipient_bound: authority.recipient_bound,
        })
        .map_err(|e| StoreError::Corrupt(format!("disclosure authority: {e}")))?;
        self.seal(TERMS, &sealed)
    }

    /// Records a court order (about the patient of `patient`) or an agreement (`patient` none),
    /// after checking the findings or undertakings the rule requires (audited).
    pub async fn record_authority(
        &self,
        grant: &Grant<can::DiscloseWithoutConsent>,
        patient: Option<&PatientGrant<can::DiscloseWithoutConsent>>,
        new: &NewAuthority,
    ) -> Result<i64> {
        let by = grant.actor().staff_id()?;
        let patient_id = patient.map(PatientGrant::patient_id);
        let (authority, dated_on, starts_on, ends_on) =
            self.checked_authority(patient_id, new).await?;
        let kind = authority.kind();
        let mut tx = self.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO disclosure_authorities (kind, patient_id, recipient_id, categories,
                 dated_on, starts_on, ends_on, terms, recorded_at, recorded_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        )
        .bind(kind.code())
        .bind(patient_id)
        .bind(authority.recipient_id)
        .bind(category_codes(&authority.categories))
        .bind(dated_on)
        .bind(starts_on)
        .bind(ends_on)
        .bind(self.seal_terms(&authority)?)
        .bind(Instant(Utc::now()))
        .bind(by)
        .fetch_one(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "create",
                record_type: "disclosure_authority",
                record_id: Some(id),
                patient_id,
                detail: format!(
                    "{}; recipient {}; categories {}; {starts_on} to {ends_on}",
                    kind.code(),
                    authority.recipient_id,
                    category_codes(&authority.categories)
                ),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Corrects an order or agreement (a misread date, a wrong category, the recipient): the
    /// corrected one is checked like a new one and must keep its kind and patient; the record as
    /// it stood and the reason are kept (audited). Disclosures already made keep their packets.
    pub async fn correct_authority(
        &self,
        grant: &Grant<can::DiscloseWithoutConsent>,
        id: i64,
        new: &NewAuthority,
        reason: &str,
    ) -> Result<()> {
        let by = grant.actor().staff_id()?;
        let current = self.authority_on_file(id).await?;
        let (corrected, dated_on, starts_on, ends_on) =
            self.checked_authority(current.patient_id, new).await?;
        validate_correction(&current.authority, &corrected, reason)
            .map_err(|p| StoreError::invalid(change_field(&p), p.to_string()))?;
        limit_reason(reason)?;
        let previous = serde_json::to_string(&current.authority)
            .map_err(|e| StoreError::Corrupt(format!("disclosure authority {id}: {e}")))?;
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE disclosure_authorities SET recipient_id = $1, categories = $2, dated_on = $3,
                 starts_on = $4, ends_on = $5, terms = $6
             WHERE id = $7 AND ended_at IS NULL",
        )
        .bind(corrected.recipient_id)
        .bind(category_codes(&corrected.categories))
        .bind(dated_on)
        .bind(starts_on)
        .bind(ends_on)
        .bind(self.seal_terms(&corrected)?)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        self.insert_change(&mut tx, id, "correction", reason, Some(&previous), by)
            .await?;
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "update",
                record_type: "disclosure_authority",
                record_id: Some(id),
                patient_id: current.patient_id,
                detail: format!(
                    "corrected; recipient {}; categories {}; {starts_on} to {ends_on}",
                    corrected.recipient_id,
                    category_codes(&corrected.categories)
                ),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Ends an order or agreement before its last day (vacated, terminated, withdrawn), from
    /// now: it authorises nothing after this moment. The reason is kept (audited).
    pub async fn end_authority(
        &self,
        grant: &Grant<can::DiscloseWithoutConsent>,
        id: i64,
        reason: &str,
    ) -> Result<()> {
        let by = grant.actor().staff_id()?;
        let current = self.authority_on_file(id).await?;
        let today = match current.patient_id {
            Some(p) => Utc::now()
                .with_timezone(&self.patient_zone(p).await?)
                .date_naive(),
            None => Utc::now().date_naive(),
        };
        validate_early_end(&current.authority, today, reason)
            .map_err(|p| StoreError::invalid(change_field(&p), p.to_string()))?;
        limit_reason(reason)?;
        let mut tx = self.begin().await?;
        let ended = sqlx::query(
            "UPDATE disclosure_authorities SET ended_at = $1 WHERE id = $2 AND ended_at IS NULL",
        )
        .bind(Instant(Utc::now()))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if ended.rows_affected() == 0 {
            return Err(StoreError::invalid("reason", "was already ended"));
        }
        self.insert_change(&mut tx, id, "end", reason, None, by)
            .await?;
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "end",
                record_type: "disclosure_authority",
                record_id: Some(id),
                patient_id: current.patient_id,
                detail: format!("{} ended early", current.authority.kind().code()),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The kind of an order or agreement on file and the patient a court order is about, so a
    /// correction can be read as the right kind (no audit row: nothing clinical is read).
    pub async fn authority_kind(&self, id: i64) -> Result<(AuthorityKind, Option<i64>)> {
        let row: Option<(String, Option<i64>)> =
            sqlx::query_as("SELECT kind, patient_id FROM disclosure_authorities WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *self.read_conn().await?)
                .await?;
        let (kind, patient_id) = row.ok_or(StoreError::NotFound("court order or agreement"))?;
        Ok((parse_code(&kind, "authority kind")?, patient_id))
    }

    pub(super) async fn authority_on_file(&self, id: i64) -> Result<AuthorityRecord> {
        self.authority_rows("WHERE a.id = $1", id)
            .await?
            .pop()
            .ok_or(StoreError::NotFound("court order or agreement"))
    }

    async fn insert_change(
        &self,
        tx: &mut Transaction<'static, Any>,
        id: i64,
        change: &str,
        reason: &str,
        previous: Option<&str>,
        by: i64,
    ) -> Result<()> {
        let previous = previous
            .map(|p| self.seal(CHANGE_PREVIOUS, p))
            .transpose()?;
        sqlx::query(
            "INSERT INTO disclosure_authority_changes (authority_id, change, reason, previous,
                 changed_at, changed_by)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(change)
        .bind(self.seal(CHANGE_REASON, reason.trim())?)
        .bind(previous)
        .bind(Instant(Utc::now()))
        .bind(by)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// The corrections and early end of an order or agreement, oldest first.
    async fn authority_changes(&self, id: i64) -> Result<Vec<AuthorityChange>> {
        let rows: Vec<(String, String, Instant, String)> = sqlx::query_as(
            "SELECT c.change, c.reason, c.changed_at, u.display_name
             FROM disclosure_authority_changes c JOIN users u ON u.id = c.changed_by
             WHERE c.authority_id = $1 ORDER BY c.id",
        )
        .bind(id)
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        rows.into_iter()
            .map(|(change, reason, changed_at, changed_by)| {
                Ok(AuthorityChange {
                    change,
                    reason: self.open(CHANGE_REASON, &reason)?,
                    changed_at,
                    changed_by,
                })
            })
            .collect()
    }

    /// Every order and agreement, newest first, for the privacy officer (audited).
    pub async fn authorities(
        &self,
        grant: &Grant<can::DiscloseWithoutConsent>,
    ) -> Result<Vec<AuthorityRecord>> {
        audit::record(
            self,
            grant.actor(),
            AuditEvent {
                action: "read",
                record_type: "disclosure_authority",
                record_id: None,
                patient_id: None,
                detail: "court orders and agreements".into(),
            },
        )
        .await?;
        self.authority_rows("WHERE a.id > $1", 0).await
    }

    /// One order or agreement with every disclosure made under it: the recipient's access,
    /// which the privacy officer reviews (audited).
    pub async fn authority(
        &self,
        grant: &Grant<can::DiscloseWithoutConsent>,
        id: i64,
    ) -> Result<(AuthorityRecord, Vec<AccessUnderAuthority>)> {
        let mut record = self.authority_on_file(id).await?;
        record.changes = self.authority_changes(id).await?;
        let rows: Vec<(i64, i64, Instant, String, String)> = sqlx::query_as(
            "SELECT d.id, d.patient_id, d.disclosed_at, u.display_name, d.categories
             FROM disclosures d JOIN users u ON u.id = d.disclosed_by
             WHERE d.authority_id = $1 ORDER BY d.disclosed_at DESC, d.id DESC",
        )
        .bind(id)
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        audit::record(
            self,
            grant.actor(),
            AuditEvent {
                action: "read",
                record_type: "disclosure_authority",
                record_id: Some(id),
                patient_id: record.patient_id,
                detail: format!("{} disclosures under it", rows.len()),
            },
        )
        .await?;
        let access = rows
            .into_iter()
            .map(
                |(disclosure_id, patient_id, disclosed_at, disclosed_by, codes)| {
                    AccessUnderAuthority {
                        disclosure_id,
                        patient_id,
                        disclosed_at,
                        disclosed_by,
                        categories: codes
                            .split(',')
                            .filter(|c| !c.is_empty())
                            .map(str::to_owned)
                            .collect(),
                    }
                },
            )
            .collect();
        Ok((record, access))
    }

    /// The orders about this patient and the program's agreements: what a disclosure without
    /// consent may cite for them.
    pub async fn authorities_for_patient(
        &self,
        grant: &PatientGrant<can::DiscloseWithoutConsent>,
    ) -> Result<Vec<AuthorityRecord>> {
        self.authority_rows(
            "WHERE a.patient_id = $1 OR a.patient_id IS NULL",
            grant.patient_id(),
        )
        .await
    }

    /// Discloses under a court order or agreement: the domain decides whether it stays within
    /// the recipient, information and period recorded; either outcome is audited, and an
    /// allowed one is built, sealed and accounted for like any other disclosure.
    pub async fn disclose_under_authority(
        &self,
        grant: &PatientGrant<can::DiscloseWithoutConsent>,
        input: &AuthorisedDisclosureInput,
    ) -> Result<AuthorisedOutcome> {
        let patient_id = grant.patient_id();
        let Some(authority_id) = input.authority_id else {
            return Err(StoreError::invalid(
                "authority_id",
                "choose the court order or agreement",
            ));
        };
        let Some(record) = self
            .authority_rows("WHERE a.id = $1", authority_id)
            .await?
            .pop()
        else {
            return Err(StoreError::invalid(
                "authority_id",
                "is not a court order or agreement on file",
            ));
        };
        if input.categories.is_empty() {
            return Err(StoreError::invalid(
                "categories",
                "choose the information to disclose",
            ));
        }
        let recipient = self.recipient(record.authority.recipient_id).await?;
        if !recipient.is_current() {
            return Err(StoreError::invalid(
                "authority_id",
                "its recipient was retired from the directory",
            ));
        }
        let zone = self.patient_zone(patient_id).await?;
        let now = Utc::now();
        let request = AuthorisedRequest {
            recipient_id: recipient.id,
            categories: input.categories.clone(),
            on: now.with_timezone(&zone).date_naive(),
            at: now,
            patient_named: record.patient_id.is_none_or(|p| p == patient_id),
        };
        let kind = record.authority.kind();
        if let Err(refusal) = check_authorised(&record.authority, &request) {
            audit::record(
                self,
                grant.actor(),
                AuditEvent {
                    action: "disclosure_refused",
                    record_type: "disclosure",
                    record_id: None,
                    patient_id: Some(patient_id),
                    detail: format!(
                        "{} {authority_id}; categories {}; {}",
                        kind.code(),
                        category_codes(&input.categories),
                        refusal.code()
                    ),
                },
            )
            .await?;
            return Ok(AuthorisedOutcome::Refused(refusal));
        }
        let name = recipient.recipient.name;
        let record = self
            .build_and_account(
                grant.actor(),
                Outgoing {
                    patient_id,
                    categories: &input.categories,
                    // Summaries only: an order or agreement limits what goes, and note text or the
                    // rules' wording would need a choice the authorised-disclosure form does not offer.
                    detail: PacketDetail::default(),
                    scope: record.authority.scope_summary(&name),
                    consent_id: None,
                    authority_id: Some(authority_id),
                    kind: kind.code(),
                    recipient_id: Some(recipient.id),
                    recipient: &name,
                    purpose: kind.code(),
                    audit_detail: format!(
                        "{} {authority_id}; recipient {}",
                        kind.code(),
                        recipient.id
                    ),
                    told: None,
                    emergency: None,
                    review: None,
                },
            )
            .await?;
        Ok(AuthorisedOutcome::Made(Box::new(record)))
    }
}

/// The form field a change problem belongs to.
fn change_field(problem: &AuthorityChangeProblem) -> &'static str {
    match problem {
        AuthorityChangeProblem::KindChanged(_) => "kind",
        _ => "reason",
    }
}

fn limit_reason(reason: &str) -> Result<()> {
    let mut errors = Vec::new();
    limit("reason", reason, 1000, &mut errors);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(StoreError::Invalid(errors))
    }
}

/// The sealed part of an order or agreement.
#[derive(Serialize, Deserialize)]
struct Sealed {
    terms: Terms,
    recipient_bound: bool,
}

/// The free-text fields of the terms, by form field, for the length limits.
fn terms_texts(terms: &Terms) -> Vec<(&'static str, &str)> {
    match terms {
        Terms::CourtOrder(o) => vec![
            ("court", o.court.as_str()),
            ("case_number", o.case_number.as_str()),
            ("protective_measures", o.protective_measures.as_str()),
        ],
        Terms::QualifiedService { services } => vec![("services", services.as_str())],
        Terms::AuditEvaluation {
            body_name, scope, ..
        } => vec![("body_name", body_name.as_str()), ("scope", scope.as_str())],
        Terms::Research {
            board, protocol, ..
        } => vec![("board", board.as_str()), ("protocol", protocol.as_str())],
    }
}

fn trimmed(terms: &Terms) -> Terms {
    let t = |s: &str| s.trim().to_owned();
    match terms {
        Terms::CourtOrder(o) => {
            let mut o = o.clone();
            o.court = t(&o.court);
            o.case_number = t(&o.case_number);
            o.protective_measures = t(&o.protective_measures);
            Terms::CourtOrder(o)
        }
        Terms::QualifiedService { services } => Terms::QualifiedService {
            services: t(services),
        },
        Terms::AuditEvaluation {
            body,
            body_name,
            scope,
        } => Terms::AuditEvaluation {
            body: *body,
            body_name: t(body_name),
            scope: t(scope),
        },
        Terms::Research {
            board,
            decided_on,
            protocol,
            determination,
        } => Terms::Research {
            board: t(board),
            decided_on: *decided_on,
            protocol: t(protocol),
            determination: *determination,
        },
    }
}
