//! Disclosures without the patient's consent: court orders (42 CFR 2.61–2.67) and qualified
//! service organisation, audit or evaluation and research agreements (§§2.11, 2.53, 2.52).
//! The privacy officer records each with what the rule requires; a disclosure under one leaves
//! by the same door as a consented one (a directory recipient, the packet as the record stands,
//! the §2.32 notice, the accounting), after the domain's check that it stays within the order's
//! or agreement's recipient, information and period.

use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use trellis_domain::consent::{
    check_authorised, validate_authority, AuthorisedRequest, Authority, AuthorityRefusal,
    InformationCategory, Terms, NOTICE_VERSION,
};
use trellis_domain::patient::FieldError;

use super::{category_codes, limit, DisclosureRecord, NewDisclosureRow, Packet, PacketDetail};
use crate::access::{can, Grant, PatientGrant};
use crate::audit::{self, AuditEvent};
use crate::privacy::parse_categories;
use crate::{Day, Instant, Result, Store, StoreError};

const TERMS: &str = "disclosure_authorities.terms";

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
);

const SELECT: &str = "SELECT a.id, a.kind, a.patient_id, a.recipient_id, a.categories, a.dated_on,
    a.starts_on, a.ends_on, a.terms, a.recorded_at, u.display_name
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
            in_effect: (starts_on.0..=ends_on.0).contains(&today),
            authority: Authority {
                terms: sealed.terms,
                recipient_id,
                recipient_kind: recipient.recipient.kind,
                categories: parse_categories(&categories)?,
                dated_on: Some(dated_on.0),
                starts_on: Some(starts_on.0),
                ends_on: Some(ends_on.0),
                recipient_bound: sealed.recipient_bound,
            },
            recorded_at: row.9,
            recorded_by: row.10,
        })
    }

    async fn authority_rows(&self, filter: &str, bind: i64) -> Result<Vec<AuthorityRecord>> {
        let rows: Vec<Row> = sqlx::query_as(&format!("{SELECT} {filter} ORDER BY a.id DESC"))
            .bind(bind)
            .fetch_all(self.reader())
            .await?;
        let today = Utc::now().date_naive();
        let mut records = Vec::with_capacity(rows.len());
        for row in rows {
            records.push(self.authority_record(row, today).await?);
        }
        Ok(records)
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
        let mut errors = Vec::new();
        let is_order = matches!(new.terms, Terms::CourtOrder(_));
        match (is_order, patient) {
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
        let today = match patient {
            Some(p) => Utc::now()
                .with_timezone(&self.patient_zone(p.patient_id()).await?)
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
        };
        if let Err(problems) = validate_authority(&authority, today) {
            errors.extend(
                problems
                    .into_iter()
                    .map(|(field, p)| FieldError::new(field, p.to_string())),
            );
        }
        let (Some(dated_on), Some(starts_on), Some(ends_on)) =
            (new.dated_on, new.starts_on, new.ends_on)
        else {
            return Err(StoreError::Invalid(errors));
        };
        if !errors.is_empty() {
            return Err(StoreError::Invalid(errors));
        }
        let kind = authority.kind();
        let sealed = serde_json::to_string(&Sealed {
            terms: authority.terms.clone(),
            recipient_bound: authority.recipient_bound,
        })
        .map_err(|e| StoreError::Corrupt(format!("disclosure authority: {e}")))?;
        let patient_id = patient.map(PatientGrant::patient_id);
        let mut tx = self.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO disclosure_authorities (kind, patient_id, recipient_id, categories,
                 dated_on, starts_on, ends_on, terms, recorded_at, recorded_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        )
        .bind(kind.code())
        .bind(patient_id)
        .bind(recipient.id)
        .bind(category_codes(&authority.categories))
        .bind(Day(dated_on))
        .bind(Day(starts_on))
        .bind(Day(ends_on))
        .bind(self.seal(TERMS, &sealed)?)
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
                    recipient.id,
                    category_codes(&authority.categories)
                ),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(id)
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
        let record = self
            .authority_rows("WHERE a.id = $1", id)
            .await?
            .pop()
            .ok_or(StoreError::NotFound("court order or agreement"))?;
        let rows: Vec<(i64, i64, Instant, String, String)> = sqlx::query_as(
            "SELECT d.id, d.patient_id, d.disclosed_at, u.display_name, d.categories
             FROM disclosures d JOIN users u ON u.id = d.disclosed_by
             WHERE d.authority_id = $1 ORDER BY d.disclosed_at DESC, d.id DESC",
        )
        .bind(id)
        .fetch_all(self.reader())
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
        let by = grant.actor().staff_id()?;
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
        let packet = Packet {
            patient_name: self.patient_legal_name(patient_id).await?,
            sections: self
                // Summaries only: an order or agreement limits what goes, and note text or the
                // rules' wording would need a choice the authorised-disclosure form does not offer.
                .packet_sections(patient_id, &input.categories, by, PacketDetail::default())
                .await?,
            notice: self.disclosure_notice().await?.to_owned(),
            consent_scope: record.authority.scope_summary(&name),
            notice_version: NOTICE_VERSION.into(),
            emergency: None,
        };
        let mut tx = self.begin().await?;
        let id = self
            .insert_disclosure(
                &mut tx,
                NewDisclosureRow {
                    patient_id,
                    consent_id: None,
                    authority_id: Some(authority_id),
                    kind: kind.code(),
                    recipient_id: Some(recipient.id),
                    purpose: kind.code(),
                    categories: category_codes(&input.categories),
                    recipient: &name,
                    packet: &packet,
                    at: Instant(now),
                    by,
                },
            )
            .await?;
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "disclose",
                record_type: "disclosure",
                record_id: Some(id),
                patient_id: Some(patient_id),
                detail: format!(
                    "{} {authority_id}; recipient {}; categories {}",
                    kind.code(),
                    recipient.id,
                    category_codes(&input.categories)
                ),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(AuthorisedOutcome::Made(Box::new(DisclosureRecord {
            id,
            patient_id,
            consent_id: None,
            kind: kind.code().into(),
            purpose: kind.code().into(),
            categories: input.categories.iter().map(|c| c.label().into()).collect(),
            recipient: name,
            disclosed_at: Instant(now),
            disclosed_by: grant.actor().username.clone(),
            packet,
        })))
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
