//! 42 CFR Part 2 in storage: consents, the one consent-checked disclosure path with its accounting,
//! and emergency (break-the-glass) access. The decisions themselves are the domain's
//! (`trellis_domain::consent`); this module keeps the records, the audit rows and the tasks.
//!
//! Consent bodies, disclosure packets and emergency records are sealed (encrypted at rest): they
//! name recipients, purposes and clinical facts. Only ids, codes and instants stay in clear.

pub mod auditors;
pub mod authorities;
mod packet;
mod patient_access;
pub mod undercover;

pub use packet::PacketDetail;
pub use patient_access::PATIENT_ACCESS_KIND;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use sqlx::{Any, Transaction};
use std::collections::BTreeSet;
use trellis_domain::access::Role;
use trellis_domain::consent::{
    check_disclosure, check_revocable, end_of_treatment, validate_consent,
    validate_criminal_justice, validate_emergency_disclosure, validate_expiry_event, Consent,
    ConsentElement, ConsentId, ConsentProblem, ConsentStatus, DisclosureRefusal, DisclosureRequest,
    EmergencyDisclosure, EmergencyGround, EmergencyRecordError, Expiry, InformationCategory,
    NoticeForm, Purpose, Recipient, Revocation, Signature, SignerAuthority, Signing,
    NOTICE_VERSION,
};
use trellis_domain::consent::{CriminalJustice, NotYetRevocable, Revocability};
use trellis_domain::patient::FieldError;
use trellis_domain::schedule::zone::SiteZone;

use crate::access::{can, Actor, Grant, PatientGrant};
use crate::audit::{self, AuditEvent};
use crate::tasks::{open_task, NewTask};
use crate::{parse_code, Instant, Result, Store, StoreError};

const CONSENT_BODY: &str = "consents.body";
const DISCLOSURE_RECIPIENT: &str = "disclosures.recipient";
const DISCLOSURE_PACKET: &str = "disclosures.packet";
const BREAK_GLASS_RECORD: &str = "break_glass.record";
const REVOCATION_COPY: &str = "consents.revocation_copy";
const COURT_DOCUMENT: &str = "consent_signers.court_document";

/// Setting key: which §2.32 statement (its code) is attached to every consented disclosure.
pub const NOTICE_SETTING: &str = "part2.disclosure_notice";
/// Setting key: how many minutes emergency access lasts.
pub const BREAK_GLASS_MINUTES_SETTING: &str = "part2.break_glass_minutes";
/// Setting: emergency accesses one person may open within 24 hours.
pub const BREAK_GLASS_PER_DAY_SETTING: &str = "part2.break_glass_per_day";
/// Emergency accesses per person within 24 hours unless configured.
pub const DEFAULT_BREAK_GLASS_PER_DAY: i64 = 2;
/// Emergency access lasts this long unless the clinic configures otherwise.
pub const DEFAULT_BREAK_GLASS_MINUTES: i64 = 60;

/// A consent to record, as signed by the patient (or someone authorised to sign for them).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct NewConsent {
    /// Who may make the disclosure (the program, by name).
    pub disclosing_program: String,
    /// What information, by category.
    pub categories: BTreeSet<InformationCategory>,
    /// Specific description of the information, in the patient's words if they wish.
    pub information_description: String,
    /// To whom: named people or organisations, or classes.
    pub recipients: Vec<Recipient>,
    /// Why.
    pub purposes: BTreeSet<Purpose>,
    /// The purpose, when "other".
    pub other_purpose: String,
    /// HIPAA-redisclosure statement (required on TPO consents).
    pub redisclosure_statement: String,
    /// Right to revoke and how.
    pub revocation_statement: String,
    /// When it expires.
    pub expiry: Option<Expiry>,
    /// Typed name of the signer.
    pub signer_name: String,
    /// Relationship to the patient when someone else signs.
    pub signer_relationship: Option<String>,
    /// On what authority the signer signs (§2.14, §2.15), checked against the patient's age
    /// under the site's minor-consent rule and any recorded date of death.
    pub signer_authority: Option<SignerAuthority>,
    /// For a parent or guardian: the minor signed too (§2.14(c)).
    #[serde(default)]
    pub minor_also_signed: bool,
    /// For a personal representative: the court order or document appointing them (§2.15(a)).
    #[serde(default)]
    pub court_document: String,
    /// Date signed.
    pub signed_on: Option<NaiveDate>,
    /// The collateral contact the consent names, if it names one (the recipient text above
    /// stays the legal record).
    #[serde(default)]
    pub collateral_id: Option<i64>,
    /// For a consent to disclose to the criminal justice system that made treatment a condition
    /// of a disposition or release: the elements §2.35 adds.
    #[serde(default)]
    pub criminal_justice: Option<CriminalJustice>,
}

/// A consent on file, with its state as of the moment it was read.
#[derive(Debug, Clone, Serialize)]
pub struct ConsentRecord {
    /// Id.
    pub id: i64,
    /// The consent with every §2.31 element (revocation filled in from the record).
    pub consent: Consent,
    /// "active", "expired", "revoked" or "pending", computed by the domain as of now.
    pub state: &'static str,
    /// One-paragraph scope statement (what the recipient is told).
    pub scope: String,
    /// When it was recorded.
    pub recorded_at: Instant,
    /// Who recorded it.
    pub recorded_by: String,
    /// The collateral contact it names, if linked to one.
    pub collateral_id: Option<i64>,
    /// The patient's written revocation, once received.
    pub written_revocation: Option<WrittenRevocation>,
    /// On what authority it was signed (consents recorded before Trellis asked have none).
    pub signer: Option<ConsentSigner>,
}

/// The authority of whoever signed a consent (§2.14, §2.15).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ConsentSigner {
    /// On what authority they signed.
    pub authority: SignerAuthority,
    /// For a parent or guardian: the minor signed too.
    pub minor_also_signed: bool,
    /// For a personal representative: the document appointing them.
    pub court_document: Option<String>,
}

impl ConsentRecord {
    /// When it last changed (recorded, or revoked): its version for `If-Match`.
    pub fn last_changed(&self) -> Instant {
        self.consent
            .revocation
            .as_ref()
            .map_or(self.recorded_at, |r| Instant(r.revoked_at))
    }
}

/// A consent as loaded for decisions, with its record-keeping facts.
pub(crate) struct LoadedConsent {
    pub(crate) consent: Consent,
    pub(crate) recorded_at: Instant,
    pub(crate) recorded_by: String,
    pub(crate) collateral_id: Option<i64>,
    pub(crate) written_revocation: Option<WrittenRevocation>,
    pub(crate) signer: Option<ConsentSigner>,
}

/// The patient's written revocation (§2.31(a)(6)), kept with the consent.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct WrittenRevocation {
    /// The day the program received it.
    pub received_on: NaiveDate,
    /// Its text, as the patient wrote it (or a transcription of the signed copy).
    pub text: String,
    /// For a §2.35 consent revocable after an event: the day staff confirm the event happened
    /// (checked when the revocation is recorded, and kept in its audit row).
    #[serde(default)]
    pub event_on: Option<NaiveDate>,
}

/// A request to disclose, from the disclosure form or the API.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct DisclosureInput {
    /// The recipient, an entry of the recipient directory (which carries their class).
    pub recipient_id: Option<i64>,
    /// Why.
    pub purpose: Purpose,
    /// The purpose, when "other".
    pub purpose_detail: String,
    /// What information.
    pub categories: BTreeSet<InformationCategory>,
}

/// One section of a disclosure packet.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PacketSection {
    /// Heading (the information category).
    pub heading: String,
    /// Lines of the record, as disclosed.
    pub lines: Vec<String>,
}

/// What was sent: kept sealed with the disclosure so the accounting shows exactly what left.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Packet {
    /// Patient name as on the consent.
    pub patient_name: String,
    /// Information drawn from the record.
    pub sections: Vec<PacketSection>,
    /// The §2.32 notice, as configured at the time.
    pub notice: String,
    /// The consent's scope (§2.32: a copy or a clear explanation of its scope).
    pub consent_scope: String,
    /// The rule text the notice reproduces (packets made before it was stamped have none).
    #[serde(default)]
    pub notice_version: String,
    /// For an emergency disclosure: the four §2.51 facts.
    pub emergency: Option<EmergencyDisclosure>,
}

/// One entry of the accounting of disclosures.
#[derive(Debug, Clone, Serialize)]
pub struct DisclosureRecord {
    /// Id.
    pub id: i64,
    /// Patient.
    pub patient_id: i64,
    /// The consent it was made under (none for an emergency disclosure).
    pub consent_id: Option<i64>,
    /// "consent" or "emergency".
    pub kind: String,
    /// Purpose code (or "emergency").
    pub purpose: String,
    /// Category labels.
    pub categories: Vec<String>,
    /// To whom.
    pub recipient: String,
    /// When.
    pub disclosed_at: Instant,
    /// By whom.
    pub disclosed_by: String,
    /// What was sent.
    pub packet: Packet,
}

/// What the one disclosure path answers.
#[derive(Debug, Clone)]
pub enum DisclosureOutcome {
    /// Made and recorded in the accounting.
    Made(Box<DisclosureRecord>),
    /// Refused, with the reason (the refusal is in the audit log).
    Refused(DisclosureRefusal),
}

/// The emergency-access form: why, plus the §2.51 facts.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct EmergencyAccess {
    /// Medical emergency, declared disaster or FDA product error.
    pub ground: EmergencyGround,
    /// Why normal access is not enough, now.
    pub reason: String,
    /// Medical personnel receiving the information.
    pub recipient_name: String,
    /// Their facility.
    pub recipient_facility: String,
    /// Nature of the emergency.
    pub nature: String,
}

/// A disclosure made in a medical emergency, recorded when it is made (§2.51(c)).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct EmergencyDisclosureInput {
    /// Medical emergency, declared disaster or FDA product error.
    pub ground: EmergencyGround,
    /// Medical personnel who received the information.
    pub recipient_name: String,
    /// Their facility.
    pub recipient_facility: String,
    /// The nature of the emergency: why the information was disclosed.
    pub nature: String,
    /// What was disclosed, by category (the record as it stands goes into the packet).
    pub categories: BTreeSet<InformationCategory>,
    /// What was said, in words (e.g. current medications and the last dose).
    pub information: String,
}

/// One emergency access, for the privacy officer.
#[derive(Debug, Clone, Serialize)]
pub struct BreakGlassEvent {
    /// Id.
    pub id: i64,
    /// Patient.
    pub patient_id: i64,
    /// Who opened the record.
    pub user_name: String,
    /// When.
    pub started_at: Instant,
    /// Until when.
    pub expires_at: Instant,
    /// The form as filled in.
    pub access: EmergencyAccess,
}

/// A consent revocation, for the privacy officer.
#[derive(Debug, Clone, Serialize)]
pub struct RevocationEvent {
    /// Consent.
    pub consent_id: i64,
    /// Patient.
    pub patient_id: i64,
    /// When it took effect.
    pub revoked_at: Instant,
    /// Who recorded it.
    pub recorded_by: String,
}

/// The privacy officer's view of a period.
#[derive(Debug, Clone, Serialize)]
pub struct PrivacyReport {
    /// Disclosures made.
    pub disclosures: Vec<DisclosureRecord>,
    /// Emergency accesses.
    pub break_glass: Vec<BreakGlassEvent>,
    /// Consent revocations.
    pub revocations: Vec<RevocationEvent>,
}

/// The form field each missing consent element belongs to.
fn element_field(element: ConsentElement) -> &'static str {
    match element {
        ConsentElement::PatientName => "patient",
        ConsentElement::DisclosingProgram => "disclosing_program",
        ConsentElement::InformationDescription => "categories",
        ConsentElement::Recipients => "recipients",
        ConsentElement::RedisclosureStatement => "redisclosure_statement",
        ConsentElement::Purpose => "purposes",
        ConsentElement::OtherPurposeDescription => "other_purpose",
        ConsentElement::RightToRevoke => "revocation_statement",
        ConsentElement::Expiry | ConsentElement::ExpiryEventDescription => "expiry",
        ConsentElement::Signature => "signer_name",
        ConsentElement::SignerRelationship => "signer_relationship",
        ConsentElement::DateSigned => "signed_on",
    }
}

fn problem_errors(problems: Vec<ConsentProblem>) -> Vec<FieldError> {
    problems
        .into_iter()
        .map(|p| {
            let field = match &p {
                ConsentProblem::Missing(e) => element_field(*e),
                ConsentProblem::OpenExpiryRequiresTpo
                | ConsentProblem::ExpiresBeforeSigned { .. } => "expiry",
                ConsentProblem::GenericRecipientRequiresTpo => "recipients",
                ConsentProblem::CounselingNotesCombined => "categories",
                ConsentProblem::CounselingNotesConditioned => "information_description",
                ConsentProblem::StatementLacks { element, .. } => element_field(*element),
            };
            FieldError::new(field, p.to_string())
        })
        .collect()
}

pub(crate) fn limit(field: &'static str, value: &str, max: usize, errors: &mut Vec<FieldError>) {
    if value.chars().count() > max {
        errors.push(FieldError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
}

fn state_code(status: &ConsentStatus) -> &'static str {
    match status {
        ConsentStatus::Active => "active",
        ConsentStatus::Expired => "expired",
        ConsentStatus::Revoked(_) => "revoked",
        ConsentStatus::Pending => "pending",
    }
}

fn category_codes(categories: &BTreeSet<InformationCategory>) -> String {
    categories
        .iter()
        .map(|c| c.code())
        .collect::<Vec<_>>()
        .join(",")
}

type ConsentRow = (
    i64,
    String,
    Instant,
    String,
    Option<Instant>,
    Option<String>,
    Option<i64>,
    Option<Instant>,
    Option<Instant>,
    Option<crate::Day>,
    Option<String>,
    Option<String>,
    Option<crate::Flag>,
    Option<String>,
);

type DisclosureRow = (
    i64,
    i64,
    Option<i64>,
    String,
    String,
    String,
    String,
    String,
    Instant,
    String,
);

const DISCLOSURE_SELECT: &str = "SELECT d.id, d.patient_id, d.consent_id, d.kind, d.purpose,
    d.categories, d.recipient, d.packet, d.disclosed_at, u.display_name
    FROM disclosures d JOIN users u ON u.id = d.disclosed_by";

impl Store {
    /// The site time zone of a patient, for "as of now" consent decisions.
    pub(crate) async fn patient_zone(&self, patient_id: i64) -> Result<Tz> {
        let zone: String = sqlx::query_scalar(
            "SELECT s.timezone FROM patients p JOIN sites s ON s.id = p.site_id WHERE p.id = $1",
        )
        .bind(patient_id)
        .fetch_optional(&mut *self.read_conn().await?)
        .await?
        .ok_or(StoreError::NotFound("patient"))?;
        parse_code(&zone, "time zone")
    }

    async fn patient_legal_name(&self, patient_id: i64) -> Result<String> {
        let (first, last): (String, String) =
            sqlx::query_as("SELECT legal_first_name, legal_last_name FROM patients WHERE id = $1")
                .bind(patient_id)
                .fetch_optional(&mut *self.read_conn().await?)
                .await?
                .ok_or(StoreError::NotFound("patient"))?;
        Ok(format!(
            "{} {}",
            self.open_identity("legal_first_name", &first)?,
            self.open_identity("legal_last_name", &last)?
        ))
    }

    /// The patient's discharge days, for "end of treatment" expiries.
    async fn discharge_days(&self, patient_id: i64) -> Result<Vec<NaiveDate>> {
        let days: Vec<crate::Day> = sqlx::query_scalar(
            "SELECT discharged_on FROM episodes WHERE patient_id = $1 AND discharged_on IS NOT NULL",
        )
        .bind(patient_id)
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        Ok(days.into_iter().map(|d| d.0).collect())
    }

    /// Loads a patient's consents with revocations and treatment end filled in (no audit row:
    /// callers audit what they do with them).
    pub(crate) async fn load_consents(&self, patient_id: i64) -> Result<Vec<LoadedConsent>> {
        let rows: Vec<ConsentRow> = sqlx::query_as(
            "SELECT c.id, c.body, c.recorded_at, u.display_name, c.revoked_at, r.display_name,
                    c.collateral_id, c.expiry_event_at, c.treatment_ended_at,
                    c.revocation_received_on, c.revocation_copy,
                    s.authority, s.minor_also_signed, s.court_document
             FROM consents c JOIN users u ON u.id = c.recorded_by
             LEFT JOIN users r ON r.id = c.revoked_by
             LEFT JOIN consent_signers s ON s.consent_id = c.id
             WHERE c.patient_id = $1 ORDER BY c.id DESC",
        )
        .bind(patient_id)
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        let discharges = self.discharge_days(patient_id).await?;
        let mut loaded = Vec::with_capacity(rows.len());
        for (
            id,
            body,
            recorded_at,
            recorded_by,
            revoked_at,
            revoked_by,
            collateral_id,
            event_at,
            treatment_ended_at,
            received_on,
            copy,
            authority,
            minor_also_signed,
            court_document,
        ) in rows
        {
            let mut consent: Consent = serde_json::from_str(&self.open(CONSENT_BODY, &body)?)
                .map_err(|e| StoreError::Corrupt(format!("consent {id}: {e}")))?;
            consent.id = ConsentId(id);
            consent.revocation = revoked_at.map(|at| Revocation {
                revoked_at: at.0,
                recorded_by: revoked_by.unwrap_or_default(),
            });
            let signed_on = consent.signed_on;
            match &mut consent.expiry {
                Some(Expiry::Event { occurred_at, .. }) => *occurred_at = event_at.map(|at| at.0),
                Some(Expiry::EndOfTreatment { ended_at }) => {
                    *ended_at = match treatment_ended_at {
                        Some(at) => Some(at.0),
                        None => {
                            self.fix_end_of_treatment(patient_id, id, signed_on, &discharges)
                                .await?
                        }
                    }
                }
                _ => {}
            }
            let written_revocation = match (received_on, copy) {
                (Some(day), Some(sealed)) => Some(WrittenRevocation {
                    received_on: day.0,
                    text: self.open(REVOCATION_COPY, &sealed)?,
                    event_on: None,
                }),
                _ => None,
            };
            let signer = match authority {
                Some(code) => Some(ConsentSigner {
                    authority: parse_code(&code, "signer authority")?,
                    minor_also_signed: minor_also_signed.is_some_and(|f| f.0),
                    court_document: court_document
                        .map(|sealed| self.open(COURT_DOCUMENT, &sealed))
                        .transpose()?,
                }),
                None => None,
            };
            loaded.push(LoadedConsent {
                consent,
                recorded_at,
                recorded_by,
                collateral_id,
                written_revocation,
                signer,
            });
        }
        Ok(loaded)
    }

    /// Stores when an "end of treatment" consent ended, the first time a discharge on or after
    /// signing is on file, so readmission never brings it back. A consent until the end of
    /// treatment covers the whole discharge day, on the site's calendar.
    async fn fix_end_of_treatment(
        &self,
        patient_id: i64,
        consent_id: i64,
        signed_on: Option<NaiveDate>,
        discharges: &[NaiveDate],
    ) -> Result<Option<DateTime<Utc>>> {
        let Some(day) =
            signed_on.and_then(|signed| end_of_treatment(signed, discharges.iter().copied()))
        else {
            return Ok(None);
        };
        let zone = SiteZone::from(self.patient_zone(patient_id).await?);
        let ended = zone.day_end(day);
        sqlx::query(
            "UPDATE consents SET treatment_ended_at = $1
             WHERE id = $2 AND treatment_ended_at IS NULL",
        )
        .bind(Instant(ended))
        .bind(consent_id)
        .execute(self.writer())
        .await?;
        Ok(Some(ended))
    }

    /// Records a signed consent after checking every §2.31 element (audited).
    pub async fn record_consent(
        &self,
        grant: &PatientGrant<can::ManageConsents>,
        new: &NewConsent,
    ) -> Result<i64> {
        let recorded_by = grant.actor().staff_id()?;
        let mut errors = Vec::new();
        limit(
            "disclosing_program",
            &new.disclosing_program,
            200,
            &mut errors,
        );
        limit(
            "information_description",
            &new.information_description,
            2000,
            &mut errors,
        );
        limit("other_purpose", &new.other_purpose, 500, &mut errors);
        limit("signer_name", &new.signer_name, 200, &mut errors);
        limit("court_document", &new.court_document, 500, &mut errors);
        for r in &new.recipients {
            limit("recipients", r.describe(), 300, &mut errors);
        }
        let now = Utc::now();
        let consent = Consent {
            id: ConsentId(0),
            patient_name: self.patient_legal_name(grant.patient_id()).await?,
            disclosing_program: new.disclosing_program.trim().to_owned(),
            categories: new.categories.clone(),
            information_description: new.information_description.trim().to_owned(),
            recipients: new.recipients.clone(),
            purposes: new.purposes.clone(),
            other_purpose: new.other_purpose.trim().to_owned(),
            redisclosure_statement: new.redisclosure_statement.trim().to_owned(),
            revocation_statement: new.revocation_statement.trim().to_owned(),
            expiry: new.expiry.clone(),
            signature: Some(Signature {
                signer_name: new.signer_name.trim().to_owned(),
                relationship: new
                    .signer_relationship
                    .as_deref()
                    .map(str::trim)
                    .filter(|r| !r.is_empty())
                    .map(str::to_owned),
                signed_at: now,
            }),
            signed_on: new.signed_on,
            revocation: None,
            criminal_justice: new.criminal_justice.as_ref().map(|cj| CriminalJustice {
                monitoring_duty: cj.monitoring_duty.trim().to_owned(),
                duration_statement: cj.duration_statement.trim().to_owned(),
                ..cj.clone()
            }),
        };
        if let Err(problems) = validate_consent(&consent) {
            errors.extend(problem_errors(problems));
        }
        if let Some(cj) = &consent.criminal_justice {
            limit("monitoring_duty", &cj.monitoring_duty, 1000, &mut errors);
            limit(
                "duration_statement",
                &cj.duration_statement,
                1000,
                &mut errors,
            );
            if let Some(Revocability::Event { description }) = &cj.revocable {
                limit("revocable_event", description, 300, &mut errors);
            }
            errors.extend(
                validate_criminal_justice(&consent, cj)
                    .into_iter()
                    .map(|(field, p)| FieldError::new(field, p.to_string())),
            );
        }
        let zone = self.patient_zone(grant.patient_id()).await?;
        if new
            .signed_on
            .is_some_and(|d| d > now.with_timezone(&zone).date_naive())
        {
            errors.push(FieldError::new("signed_on", "cannot be in the future"));
        }
        let signing = match (new.signer_authority, new.signed_on) {
            (None, _) => {
                errors.push(FieldError::new(
                    "signer_authority",
                    "say who signs: the patient, a parent or guardian, a personal \
                     representative, an executor or administrator, or next of kin",
                ));
                None
            }
            (Some(authority), Some(signed_on)) => Some(Signing {
                authority,
                signed_on,
                minor_also_signed: new.minor_also_signed
                    && authority == SignerAuthority::ParentOrGuardian,
                court_document: if authority == SignerAuthority::PersonalRepresentative {
                    new.court_document.trim().to_owned()
                } else {
                    String::new()
                },
            }),
            // The missing date is named already; authority is checked once it is known.
            (Some(_), None) => None,
        };
        if let Some(signing) = &signing {
            match self.check_consent_signer(grant.patient_id(), signing).await {
                Ok(()) => {}
                Err(StoreError::Invalid(problems)) => errors.extend(problems),
                Err(e) => return Err(e),
            }
        }
        if !errors.is_empty() {
            return Err(StoreError::Invalid(errors));
        }
        let Some(signing) = signing else {
            return Err(StoreError::invalid("signer_authority", "is required"));
        };
        let court_document = if signing.court_document.is_empty() {
            None
        } else {
            Some(self.seal(COURT_DOCUMENT, &signing.court_document)?)
        };
        let body = serde_json::to_string(&consent)
            .map_err(|e| StoreError::Corrupt(format!("consent: {e}")))?;
        let sealed = self.seal(CONSENT_BODY, &body)?;
        let mut tx = self.begin().await?;
        if let Some(collateral) = new.collateral_id {
            match self
                .current_collateral(&mut tx, grant.patient_id(), collateral)
                .await
            {
                Ok(()) => {}
                Err(StoreError::NotFound(_) | StoreError::Conflict(_)) => {
                    return Err(StoreError::invalid(
                        "collateral_id",
                        "choose one of the patient's current collateral contacts",
                    ))
                }
                Err(e) => return Err(e),
            }
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO consents (patient_id, body, recorded_at, recorded_by, collateral_id)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(grant.patient_id())
        .bind(sealed)
        .bind(Instant(now))
        .bind(recorded_by)
        .bind(new.collateral_id)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO consent_signers (consent_id, authority, minor_also_signed, court_document)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(signing.authority.code())
        .bind(signing.minor_also_signed)
        .bind(court_document)
        .execute(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "create",
                record_type: "consent",
                record_id: Some(id),
                patient_id: Some(grant.patient_id()),
                detail: format!(
                    "purposes {}; signed by {}",
                    codes(&consent.purposes),
                    signing.authority.code()
                ),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The patient's consents, newest first, each with its state as of now (audited).
    pub async fn consents(
        &self,
        grant: &PatientGrant<can::ManageConsents>,
    ) -> Result<Vec<ConsentRecord>> {
        self.consent_records(grant.actor(), grant.patient_id())
            .await
    }

    /// The same list for whoever may disclose (the disclosure form shows what consents allow).
    pub async fn consents_for_disclosure(
        &self,
        grant: &PatientGrant<can::Disclose>,
    ) -> Result<Vec<ConsentRecord>> {
        self.consent_records(grant.actor(), grant.patient_id())
            .await
    }

    async fn consent_records(&self, actor: &Actor, patient_id: i64) -> Result<Vec<ConsentRecord>> {
        let zone = self.patient_zone(patient_id).await?;
        let now = Utc::now().with_timezone(&zone);
        let loaded = self.load_consents(patient_id).await?;
        audit::record(
            self,
            actor,
            AuditEvent {
                action: "read",
                record_type: "consent",
                record_id: None,
                patient_id: Some(patient_id),
                detail: format!("consent list ({})", loaded.len()),
            },
        )
        .await?;
        Ok(loaded
            .into_iter()
            .map(|l| ConsentRecord {
                id: l.consent.id.0,
                state: state_code(&l.consent.status(&now)),
                scope: trellis_domain::consent::scope_summary(&l.consent),
                consent: l.consent,
                recorded_at: l.recorded_at,
                recorded_by: l.recorded_by,
                collateral_id: l.collateral_id,
                written_revocation: l.written_revocation,
                signer: l.signer,
            })
            .collect())
    }

    /// Records that the patient revoked a consent in writing, keeping the day it was received
    /// and its text; it stops covering disclosures from now (audited; the privacy officer sees
    /// it in the period report).
    pub async fn revoke_consent(
        &self,
        grant: &PatientGrant<can::ManageConsents>,
        consent_id: i64,
        written: &WrittenRevocation,
    ) -> Result<()> {
        self.revoke_consent_if(grant, consent_id, written, None)
            .await
    }

    /// Revokes a consent only if it was last changed at `last_changed` (the version the caller
    /// read, see [`ConsentRecord::last_changed`]), else `Stale`; `None` revokes whatever the
    /// current version. Refused if already revoked.
    pub async fn revoke_consent_if(
        &self,
        grant: &PatientGrant<can::ManageConsents>,
        consent_id: i64,
        written: &WrittenRevocation,
        last_changed: Option<Instant>,
    ) -> Result<()> {
        let by = grant.actor().staff_id()?;
        let consent = self.patient_consent(grant.patient_id(), consent_id).await?;
        let zone = self.patient_zone(grant.patient_id()).await?;
        let today = Utc::now().with_timezone(&zone).date_naive();
        let mut errors = Vec::new();
        if written.received_on > today {
            errors.push(FieldError::new("received_on", "cannot be in the future"));
        }
        if let Some(signed) = consent.signed_on.filter(|s| written.received_on < *s) {
            errors.push(FieldError::new(
                "received_on",
                format!("cannot be before the consent was signed ({signed})"),
            ));
        }
        if written.event_on.is_some_and(|d| d > today) {
            errors.push(FieldError::new("event_on", "cannot be in the future"));
        }
        // §2.35(c): a criminal justice consent is irrevocable until its stated time or event.
        if let Err(not_yet) = check_revocable(&consent, written.received_on, written.event_on) {
            let field = match not_yet {
                NotYetRevocable::BeforeDate(_) => "received_on",
                _ => "event_on",
            };
            errors.push(FieldError::new(field, not_yet.to_string()));
        }
        let text = written.text.trim();
        if text.is_empty() {
            errors.push(FieldError::new(
                "revocation_text",
                "copy the patient's written revocation",
            ));
        }
        limit("revocation_text", text, 5000, &mut errors);
        if !errors.is_empty() {
            return Err(StoreError::Invalid(errors));
        }
        let copy = self.seal(REVOCATION_COPY, text)?;
        let mut tx = self.begin().await?;
        let found: Option<(Instant, Option<Instant>)> = sqlx::query_as(
            "SELECT recorded_at, revoked_at FROM consents WHERE id = $1 AND patient_id = $2",
        )
        .bind(consent_id)
        .bind(grant.patient_id())
        .fetch_optional(&mut *tx)
        .await?;
        let Some((recorded_at, revoked_at)) = found else {
            return Err(StoreError::NotFound("consent"));
        };
        if last_changed.is_some_and(|at| at != revoked_at.unwrap_or(recorded_at)) {
            return Err(StoreError::Stale("the consent"));
        }
        if revoked_at.is_some() {
            return Err(StoreError::Conflict(
                "this consent has already been revoked".into(),
            ));
        }
        let now = Instant::now();
        // Conditional, so that of two revocations racing only one is recorded.
        let changed = sqlx::query(
            "UPDATE consents SET revoked_at = $1, revoked_by = $2, revocation_recorded_at = $1,
                 revocation_received_on = $3, revocation_copy = $4
             WHERE id = $5 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(by)
        .bind(crate::Day(written.received_on))
        .bind(copy)
        .bind(consent_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Err(match last_changed {
                Some(_) => StoreError::Stale("the consent"),
                None => StoreError::Conflict("this consent has already been revoked".into()),
            });
        }
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "revoke",
                record_type: "consent",
                record_id: Some(consent_id),
                patient_id: Some(grant.patient_id()),
                detail: match written.event_on {
                    Some(event_on) => format!(
                        "written revocation received {}; revocable since the event of {event_on}",
                        written.received_on
                    ),
                    None => format!("written revocation received {}", written.received_on),
                },
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// One of the patient's consents, as loaded for decisions.
    async fn patient_consent(&self, patient_id: i64, consent_id: i64) -> Result<Consent> {
        self.load_consents(patient_id)
            .await?
            .into_iter()
            .find(|l| l.consent.id.0 == consent_id)
            .map(|l| l.consent)
            .ok_or(StoreError::NotFound("consent"))
    }

    /// Records that the event a consent expires on has happened (§2.31(a)(7)): from the start of
    /// that day the consent covers nothing (audited).
    pub async fn record_expiry_event(
        &self,
        grant: &PatientGrant<can::ManageConsents>,
        consent_id: i64,
        occurred_on: NaiveDate,
    ) -> Result<()> {
        let by = grant.actor().staff_id()?;
        let consent = self.patient_consent(grant.patient_id(), consent_id).await?;
        let zone = self.patient_zone(grant.patient_id()).await?;
        let today = Utc::now().with_timezone(&zone).date_naive();
        if let Err(problem) = validate_expiry_event(&consent, occurred_on, today) {
            return Err(match problem {
                trellis_domain::consent::ExpiryEventProblem::AlreadyRecorded => {
                    StoreError::Conflict(problem.to_string())
                }
                _ => StoreError::invalid("occurred_on", problem.to_string()),
            });
        }
        let at = SiteZone::from(zone).day_start(occurred_on);
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE consents SET expiry_event_at = $1, expiry_event_recorded_by = $2
             WHERE id = $3 AND expiry_event_at IS NULL",
        )
        .bind(Instant(at))
        .bind(by)
        .bind(consent_id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Conflict(
                "the expiry event is already recorded".into(),
            ));
        }
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "expire",
                record_type: "consent",
                record_id: Some(consent_id),
                patient_id: Some(grant.patient_id()),
                detail: format!("expiry event on {occurred_on}"),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The patient a consent belongs to (for API calls addressed by consent id).
    pub async fn consent_patient_id(&self, consent_id: i64) -> Result<i64> {
        sqlx::query_scalar("SELECT patient_id FROM consents WHERE id = $1")
            .bind(consent_id)
            .fetch_optional(&mut *self.read_conn().await?)
            .await?
            .ok_or(StoreError::NotFound("consent"))
    }

    /// The patient a disclosure was about (for API calls addressed by disclosure id).
    pub async fn disclosure_patient_id(&self, disclosure_id: i64) -> Result<i64> {
        sqlx::query_scalar("SELECT patient_id FROM disclosures WHERE id = $1")
            .bind(disclosure_id)
            .fetch_optional(&mut *self.read_conn().await?)
            .await?
            .ok_or(StoreError::NotFound("disclosure"))
    }

    /// Which §2.32 statement accompanies every consented disclosure (Statement 1 unless the
    /// privacy officer chose Statement 2; any older free-text setting counts as Statement 1).
    pub async fn disclosure_notice_form(&self) -> Result<NoticeForm> {
        Ok(self
            .setting(NOTICE_SETTING)
            .await?
            .and_then(|code| code.parse().ok())
            .unwrap_or_default())
    }

    /// The §2.32 statement attached to every consented disclosure, word for word.
    pub async fn disclosure_notice(&self) -> Result<&'static str> {
        Ok(self.disclosure_notice_form().await?.text())
    }

    /// Chooses between the two §2.32 statements (privacy officer or administrator; audited).
    pub async fn set_disclosure_notice(
        &self,
        grant: &Grant<can::ReadAudit>,
        form: NoticeForm,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(NOTICE_SETTING)
        .bind(form.code())
        .execute(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "update",
                record_type: "setting",
                record_id: None,
                patient_id: None,
                detail: format!("{NOTICE_SETTING} = {}", form.code()),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The one way information leaves the program: checks the patient's consents as of now, and
    /// either refuses with the reason or builds the packet (the record as it stands, the notice,
    /// the consent's scope) and records it in the accounting. Both outcomes are audited.
    pub async fn disclose(
        &self,
        grant: &PatientGrant<can::Disclose>,
        input: &DisclosureInput,
    ) -> Result<DisclosureOutcome> {
        self.disclose_with(grant, input, PacketDetail::default())
            .await
    }

    /// [`Store::disclose`], adding to the packet the detail the discloser chose (note text, the
    /// recommendation's wording); the audit row names each choice.
    pub async fn disclose_with(
        &self,
        grant: &PatientGrant<can::Disclose>,
        input: &DisclosureInput,
        detail: PacketDetail,
    ) -> Result<DisclosureOutcome> {
        let by = grant.actor().staff_id()?;
        let patient_id = grant.patient_id();
        let mut errors = Vec::new();
        let directory_entry = match self.disclosure_recipient(input.recipient_id).await {
            Ok(entry) => Some(entry),
            Err(StoreError::Invalid(mut field)) => {
                errors.append(&mut field);
                None
            }
            Err(e) => return Err(e),
        };
        if input.categories.is_empty() {
            errors.push(FieldError::new(
                "categories",
                "choose the information to disclose",
            ));
        }
        if input.purpose == Purpose::Other && input.purpose_detail.trim().is_empty() {
            errors.push(FieldError::new("purpose_detail", "describe the purpose"));
        }
        limit("purpose_detail", &input.purpose_detail, 500, &mut errors);
        // Only their author reads SUD counseling notes, so only their author discloses them.
        if input
            .categories
            .contains(&InformationCategory::CounselingNotes)
            && self.counseling_notes_by(patient_id, by).await?.is_empty()
        {
            errors.push(FieldError::new(
                "categories",
                "SUD counseling notes are disclosed by their author, and you have written none on this patient",
            ));
        }
        let Some(entry) = directory_entry.filter(|_| errors.is_empty()) else {
            return Err(StoreError::Invalid(errors));
        };
        let zone = self.patient_zone(patient_id).await?;
        let now = Utc::now();
        let consents: Vec<Consent> = self
            .load_consents(patient_id)
            .await?
            .into_iter()
            .map(|l| l.consent)
            .collect();
        let request = DisclosureRequest {
            recipient_name: Some(entry.recipient.name.clone()),
            recipient_kind: Some(entry.recipient.kind),
            purpose: input.purpose,
            purpose_detail: input.purpose_detail.trim().to_owned(),
            categories: input.categories.clone(),
        };
        let decision = match check_disclosure(&consents, &request, &now.with_timezone(&zone)) {
            // A consent allows it; a restriction the patient asked for may still refuse it.
            Ok(found) => match self
                .restriction_refusing(
                    patient_id,
                    entry.id,
                    entry.recipient.kind,
                    &input.categories,
                )
                .await?
            {
                Some(restriction_id) => Err(DisclosureRefusal::Restricted { restriction_id }),
                None => Ok(found),
            },
            refused => refused,
        };
        let found = match decision {
            Err(refusal) => {
                audit::record(
                    self,
                    grant.actor(),
                    AuditEvent {
                        action: "disclosure_refused",
                        record_type: "disclosure",
                        record_id: None,
                        patient_id: Some(patient_id),
                        detail: format!(
                            "recipient {}; class {}; purpose {}; categories {}; {}",
                            entry.id,
                            entry.recipient.kind.code(),
                            input.purpose.code(),
                            category_codes(&input.categories),
                            refusal_code(&refusal)
                        ),
                    },
                )
                .await?;
                return Ok(DisclosureOutcome::Refused(refusal));
            }
            Ok(found) => found,
        };
        let recipient = entry.recipient.name.clone();
        let record = self
            .build_and_account(
                grant.actor(),
                Outgoing {
                    patient_id,
                    categories: &input.categories,
                    detail,
                    scope: found.scope_summary,
                    consent_id: Some(found.consent_id.0),
                    authority_id: None,
                    kind: "consent",
                    recipient_id: Some(entry.id),
                    recipient: &recipient,
                    purpose: input.purpose.code(),
                    audit_detail: format!(
                        "consent {}; recipient {}; purpose {}",
                        found.consent_id.0,
                        entry.id,
                        input.purpose.code()
                    ),
                    told: None,
                    emergency: None,
                    review: None,
                },
            )
            .await?;
        Ok(DisclosureOutcome::Made(Box::new(record)))
    }

    /// What every path out shares once it has decided a disclosure may be made: builds the
    /// packet from the record as it stands (with the notice, its version, the authority's scope
    /// and, in an emergency, what was said and the §2.51 facts), seals it into the accounting,
    /// opens any review task and writes the audit row, in one transaction. One function, so no
    /// path can leave something out.
    async fn build_and_account(
        &self,
        actor: &Actor,
        out: Outgoing<'_>,
    ) -> Result<DisclosureRecord> {
        let by = actor.staff_id()?;
        let now = Utc::now();
        let mut sections = self
            .packet_sections(out.patient_id, out.categories, by, out.detail)
            .await?;
        if let Some(told) = out.told {
            sections.push(PacketSection {
                heading: "Told to the medical personnel".into(),
                lines: vec![told],
            });
        }
        let packet = Packet {
            patient_name: self.patient_legal_name(out.patient_id).await?,
            sections,
            notice: self.disclosure_notice().await?.to_owned(),
            consent_scope: out.scope,
            notice_version: NOTICE_VERSION.into(),
            emergency: out.emergency,
        };
        let codes = category_codes(out.categories);
        let mut tx = self.begin().await?;
        let id = self
            .insert_disclosure(
                &mut tx,
                NewDisclosureRow {
                    patient_id: out.patient_id,
                    consent_id: out.consent_id,
                    authority_id: out.authority_id,
                    kind: out.kind,
                    recipient_id: out.recipient_id,
                    purpose: out.purpose,
                    categories: codes.clone(),
                    recipient: out.recipient,
                    packet: &packet,
                    at: Instant(now),
                    by,
                },
            )
            .await?;
        if let Some(task) = &out.review {
            open_task(self, &mut tx, actor, task).await?;
        }
        audit::append(
            &mut tx,
            actor,
            AuditEvent {
                action: "disclose",
                record_type: "disclosure",
                record_id: Some(id),
                patient_id: Some(out.patient_id),
                detail: format!(
                    "{}; categories {codes}{}",
                    out.audit_detail,
                    out.detail.audit_words()
                ),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(DisclosureRecord {
            id,
            patient_id: out.patient_id,
            consent_id: out.consent_id,
            kind: out.kind.into(),
            purpose: out.purpose.into(),
            categories: out.categories.iter().map(|c| c.label().into()).collect(),
            recipient: out.recipient.into(),
            disclosed_at: Instant(now),
            disclosed_by: actor.username.clone(),
            packet,
        })
    }

    async fn insert_disclosure(
        &self,
        tx: &mut Transaction<'static, Any>,
        row: NewDisclosureRow<'_>,
    ) -> Result<i64> {
        let packet = serde_json::to_string(row.packet)
            .map_err(|e| StoreError::Corrupt(format!("packet: {e}")))?;
        Ok(sqlx::query_scalar(
            "INSERT INTO disclosures (patient_id, consent_id, kind, purpose, categories, recipient,
                 packet, disclosed_at, disclosed_by, recipient_id, authority_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
        )
        .bind(row.patient_id)
        .bind(row.consent_id)
        .bind(row.kind)
        .bind(row.purpose)
        .bind(row.categories)
        .bind(self.seal(DISCLOSURE_RECIPIENT, row.recipient)?)
        .bind(self.seal(DISCLOSURE_PACKET, &packet)?)
        .bind(row.at)
        .bind(row.by)
        .bind(row.recipient_id)
        .bind(row.authority_id)
        .fetch_one(&mut **tx)
        .await?)
    }

    fn disclosure_rows(&self, rows: Vec<DisclosureRow>) -> Result<Vec<DisclosureRecord>> {
        rows.into_iter()
            .map(
                |(
                    id,
                    patient_id,
                    consent_id,
                    kind,
                    purpose,
                    categories,
                    recipient,
                    packet,
                    at,
                    by,
                )| {
                    let packet: Packet =
                        serde_json::from_str(&self.open(DISCLOSURE_PACKET, &packet)?)
                            .map_err(|e| StoreError::Corrupt(format!("disclosure {id}: {e}")))?;
                    Ok(DisclosureRecord {
                        id,
                        patient_id,
                        consent_id,
                        kind,
                        purpose,
                        categories: categories
                            .split(',')
                            .filter(|c| !c.is_empty())
                            .map(|c| {
                                c.parse::<InformationCategory>()
                                    .map_or_else(|_| c.to_owned(), |c| c.label().to_owned())
                            })
                            .collect(),
                        recipient: self.open(DISCLOSURE_RECIPIENT, &recipient)?,
                        disclosed_at: at,
                        disclosed_by: by,
                        packet,
                    })
                },
            )
            .collect()
    }

    /// The patient's accounting of disclosures, newest first (audited).
    pub async fn accounting(
        &self,
        grant: &PatientGrant<can::Disclose>,
    ) -> Result<Vec<DisclosureRecord>> {
        let mut reader = self.read_conn().await?;
        let mut tx = sqlx::Connection::begin(&mut *reader).await?;
        audit::record(
            self,
            grant.actor(),
            AuditEvent {
                action: "read",
                record_type: "disclosure",
                record_id: None,
                patient_id: Some(grant.patient_id()),
                detail: "accounting of disclosures".into(),
            },
        )
        .await?;
        let rows: Vec<DisclosureRow> = sqlx::query_as(&format!(
            "{DISCLOSURE_SELECT} WHERE d.patient_id = $1 ORDER BY d.disclosed_at DESC, d.id DESC"
        ))
        .bind(grant.patient_id())
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        self.disclosure_rows(rows)
    }

    /// One disclosure with its packet, for printing (audited).
    pub async fn disclosure(
        &self,
        grant: &PatientGrant<can::Disclose>,
        disclosure_id: i64,
    ) -> Result<DisclosureRecord> {
        let mut reader = self.read_conn().await?;
        let mut tx = sqlx::Connection::begin(&mut *reader).await?;
        let rows: Vec<DisclosureRow> = sqlx::query_as(&format!(
            "{DISCLOSURE_SELECT} WHERE d.id = $1 AND d.patient_id = $2"
        ))
        .bind(disclosure_id)
        .bind(grant.patient_id())
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            return Err(StoreError::NotFound("disclosure"));
        }
        audit::record(
            self,
            grant.actor(),
            AuditEvent {
                action: "read",
                record_type: "disclosure",
                record_id: Some(disclosure_id),
                patient_id: Some(grant.patient_id()),
                detail: String::new(),
            },
        )
        .await?;
        tx.commit().await?;
        self.disclosure_rows(rows)?
            .pop()
            .ok_or(StoreError::NotFound("disclosure"))
    }

    /// How many times one person may open records in an emergency within 24 hours (configured,
    /// default [`DEFAULT_BREAK_GLASS_PER_DAY`]).
    pub async fn break_glass_per_day(&self) -> Result<i64> {
        Ok(self
            .setting(BREAK_GLASS_PER_DAY_SETTING)
            .await?
            .and_then(|m| m.trim().parse::<i64>().ok())
            .filter(|m| (1..=20).contains(m))
            .unwrap_or(DEFAULT_BREAK_GLASS_PER_DAY))
    }

    /// How long emergency access lasts (configured minutes, default 60).
    pub async fn break_glass_duration(&self) -> Result<Duration> {
        let minutes = self
            .setting(BREAK_GLASS_MINUTES_SETTING)
            .await?
            .and_then(|m| m.trim().parse::<i64>().ok())
            .filter(|m| (1..=24 * 60).contains(m))
            .unwrap_or(DEFAULT_BREAK_GLASS_MINUTES);
        Ok(Duration::minutes(minutes))
    }

    /// Opens a patient's record in a bona fide emergency for someone outside its normal scope:
    /// requires the reason and the §2.51 facts as expected, lasts the configured time and gives
    /// the privacy officer a task. Opening is not disclosing: what is actually told to the
    /// medical personnel is recorded when it is, by [`Store::record_emergency_disclosure`].
    /// Returns when access ends.
    pub async fn break_glass(
        &self,
        grant: &Grant<can::BreakGlass>,
        patient_id: i64,
        access: &EmergencyAccess,
    ) -> Result<Instant> {
        let user_id = grant.actor().staff_id()?;
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM patients WHERE id = $1")
            .bind(patient_id)
            .fetch_optional(&mut *self.read_conn().await?)
            .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound("patient"));
        }
        let now = Utc::now();
        let record = EmergencyDisclosure {
            ground: access.ground,
            recipient_name: access.recipient_name.trim().to_owned(),
            recipient_facility: access.recipient_facility.trim().to_owned(),
            disclosed_by: grant.actor().username.clone(),
            disclosed_at: Some(now),
            nature: access.nature.trim().to_owned(),
        };
        let mut errors = Vec::new();
        if access.reason.trim().is_empty() {
            errors.push(FieldError::new(
                "reason",
                "state why the record must be opened now",
            ));
        }
        limit("reason", &access.reason, 2000, &mut errors);
        limit("nature", &access.nature, 2000, &mut errors);
        limit("recipient_name", &access.recipient_name, 300, &mut errors);
        limit(
            "recipient_facility",
            &access.recipient_facility,
            300,
            &mut errors,
        );
        if let Err(problems) = validate_emergency_disclosure(&record) {
            errors.extend(problems.into_iter().map(|p| {
                let field = match p {
                    EmergencyRecordError::RecipientName => "recipient_name",
                    EmergencyRecordError::RecipientFacility => "recipient_facility",
                    EmergencyRecordError::DisclosedBy => "disclosed_by",
                    EmergencyRecordError::DateTime => "disclosed_at",
                    EmergencyRecordError::Nature => "nature",
                };
                FieldError::new(field, p.to_string())
            }));
        }
        if !errors.is_empty() {
            return Err(StoreError::Invalid(errors));
        }
        let allowed = self.break_glass_per_day().await?;
        let used: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM break_glass WHERE user_id = $1 AND started_at > $2",
        )
        .bind(user_id)
        .bind(Instant(now - Duration::hours(24)))
        .fetch_one(&mut *self.read_conn().await?)
        .await?;
        if used >= allowed {
            audit::record(
                self,
                grant.actor(),
                AuditEvent {
                    action: "access_denied",
                    record_type: "patient",
                    record_id: Some(patient_id),
                    patient_id: Some(patient_id),
                    detail: format!("break_glass limit of {allowed} in 24 hours"),
                },
            )
            .await?;
            return Err(StoreError::Conflict(format!(
                "you have opened records in an emergency {used} times in the last 24 hours, the \
                 most allowed; ask the patient's care team or the privacy officer"
            )));
        }
        let expires = Instant(now + self.break_glass_duration().await?);
        let stored = serde_json::to_string(access)
            .map_err(|e| StoreError::Corrupt(format!("emergency access: {e}")))?;
        let mut tx = self.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO break_glass (patient_id, user_id, record, started_at, expires_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(patient_id)
        .bind(user_id)
        .bind(self.seal(BREAK_GLASS_RECORD, &stored)?)
        .bind(Instant(now))
        .bind(expires)
        .fetch_one(&mut *tx)
        .await?;
        open_task(
            self,
            &mut tx,
            grant.actor(),
            &NewTask {
                patient_id: Some(patient_id),
                flag_id: None,
                kind: "break_glass_review",
                title: "Review emergency access to a patient record (42 CFR 2.51)",
                priority: "high",
                assigned_to: None,
                assigned_role: Some(Role::PrivacyOfficer),
                due_on: None,
            },
        )
        .await?;
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "break_glass",
                record_type: "patient",
                record_id: Some(id),
                patient_id: Some(patient_id),
                detail: format!("break_glass until {expires}"),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(expires)
    }

    /// Records a disclosure made in a medical emergency (§2.51(c)), at the moment it is made:
    /// the recipient and their facility, who disclosed (the signed-in person), the date and time
    /// (now), the nature of the emergency, and what was disclosed (the categories, as the record
    /// stands, and what was said). It enters the accounting; the privacy officer gets a task.
    pub async fn record_emergency_disclosure(
        &self,
        grant: &PatientGrant<can::BreakGlass>,
        input: &EmergencyDisclosureInput,
    ) -> Result<DisclosureRecord> {
        let patient_id = grant.patient_id();
        let now = Utc::now();
        let record = EmergencyDisclosure {
            ground: input.ground,
            recipient_name: input.recipient_name.trim().to_owned(),
            recipient_facility: input.recipient_facility.trim().to_owned(),
            disclosed_by: grant.actor().username.clone(),
            disclosed_at: Some(now),
            nature: input.nature.trim().to_owned(),
        };
        let mut errors = Vec::new();
        limit("nature", &input.nature, 2000, &mut errors);
        limit("recipient_name", &input.recipient_name, 300, &mut errors);
        limit(
            "recipient_facility",
            &input.recipient_facility,
            300,
            &mut errors,
        );
        if let Err(problems) = validate_emergency_disclosure(&record) {
            errors.extend(problems.into_iter().filter_map(|p| {
                let field = match p {
                    EmergencyRecordError::RecipientName => "recipient_name",
                    EmergencyRecordError::RecipientFacility => "recipient_facility",
                    EmergencyRecordError::Nature => "nature",
                    // Filled in here, never by the form.
                    EmergencyRecordError::DisclosedBy | EmergencyRecordError::DateTime => {
                        return None
                    }
                };
                Some(FieldError::new(field, p.to_string()))
            }));
        }
        if input.categories.is_empty() && input.information.trim().is_empty() {
            errors.push(FieldError::new(
                "categories",
                "say what was disclosed: choose the information or describe it",
            ));
        }
        limit("information", &input.information, 2000, &mut errors);
        if input
            .categories
            .contains(&InformationCategory::CounselingNotes)
        {
            errors.push(FieldError::new(
                "categories",
                "SUD counseling notes are disclosed only under the patient's consent for them (42 CFR 2.31(b))",
            ));
        }
        if !errors.is_empty() {
            return Err(StoreError::Invalid(errors));
        }
        let recipient = format!(
            "{} ({})",
            input.recipient_name.trim(),
            input.recipient_facility.trim()
        );
        let told = input.information.trim();
        let id = self
            .build_and_account(
                grant.actor(),
                Outgoing {
                    patient_id,
                    categories: &input.categories,
                    detail: PacketDetail::default(),
                    scope: "No consent: medical emergency (42 CFR 2.51).".into(),
                    consent_id: None,
                    authority_id: None,
                    kind: "emergency",
                    // §2.51: the treating medical personnel are recorded as met, not from the
                    // directory.
                    recipient_id: None,
                    recipient: &recipient,
                    purpose: "emergency",
                    audit_detail: "emergency".into(),
                    told: (!told.is_empty()).then(|| told.to_owned()),
                    emergency: Some(record),
                    review: Some(NewTask {
                        patient_id: Some(patient_id),
                        flag_id: None,
                        kind: "emergency_disclosure_review",
                        title: "Review a disclosure made in a medical emergency (42 CFR 2.51)",
                        priority: "high",
                        assigned_to: None,
                        assigned_role: Some(Role::PrivacyOfficer),
                        due_on: None,
                    }),
                },
            )
            .await?
            .id;
        let rows: Vec<DisclosureRow> =
            sqlx::query_as(&format!("{DISCLOSURE_SELECT} WHERE d.id = $1"))
                .bind(id)
                .fetch_all(self.writer())
                .await?;
        self.disclosure_rows(rows)?
            .pop()
            .ok_or(StoreError::NotFound("disclosure"))
    }

    /// Whether the actor holds unexpired emergency access to the patient.
    pub(crate) async fn has_break_glass(&self, user_id: i64, patient_id: i64) -> Result<bool> {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM break_glass WHERE user_id = $1 AND patient_id = $2 AND expires_at > $3
             LIMIT 1",
        )
        .bind(user_id)
        .bind(patient_id)
        .bind(Instant::now())
        .fetch_optional(&mut *self.read_conn().await?)
        .await?;
        Ok(found.is_some())
    }

    /// Disclosures, emergency accesses and revocations between two days (inclusive) on the
    /// calendar of `zone`, the clinic's display time zone.
    pub async fn privacy_report(
        &self,
        grant: &Grant<can::ReadAudit>,
        zone: Tz,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<PrivacyReport> {
        if to < from {
            return Err(StoreError::invalid(
                "to",
                "must not be before the start date",
            ));
        }
        let zone = SiteZone::from(zone);
        let start = Instant(zone.day_start(from));
        let end = Instant(zone.day_end(to));
        let mut reader = self.read_conn().await?;
        let mut tx = sqlx::Connection::begin(&mut *reader).await?;
        audit::record(
            self,
            grant.actor(),
            AuditEvent {
                action: "read",
                record_type: "privacy_report",
                record_id: None,
                patient_id: None,
                detail: format!("{from} to {to}"),
            },
        )
        .await?;
        let disclosures: Vec<DisclosureRow> = sqlx::query_as(&format!(
            "{DISCLOSURE_SELECT} WHERE d.disclosed_at >= $1 AND d.disclosed_at < $2
             ORDER BY d.disclosed_at DESC, d.id DESC"
        ))
        .bind(start)
        .bind(end)
        .fetch_all(&mut *tx)
        .await?;
        let glass: Vec<(i64, i64, String, Instant, Instant, String)> = sqlx::query_as(
            "SELECT b.id, b.patient_id, u.display_name, b.started_at, b.expires_at, b.record
             FROM break_glass b JOIN users u ON u.id = b.user_id
             WHERE b.started_at >= $1 AND b.started_at < $2 ORDER BY b.started_at DESC, b.id DESC",
        )
        .bind(start)
        .bind(end)
        .fetch_all(&mut *tx)
        .await?;
        let revocations: Vec<(i64, i64, Instant, String)> = sqlx::query_as(
            "SELECT c.id, c.patient_id, c.revoked_at, u.display_name
             FROM consents c JOIN users u ON u.id = c.revoked_by
             WHERE c.revoked_at >= $1 AND c.revoked_at < $2 ORDER BY c.revoked_at DESC, c.id DESC",
        )
        .bind(start)
        .bind(end)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let break_glass = glass
            .into_iter()
            .map(
                |(id, patient_id, user_name, started_at, expires_at, record)| {
                    let access: EmergencyAccess =
                        serde_json::from_str(&self.open(BREAK_GLASS_RECORD, &record)?)
                            .map_err(|e| StoreError::Corrupt(format!("break glass {id}: {e}")))?;
                    Ok(BreakGlassEvent {
                        id,
                        patient_id,
                        user_name,
                        started_at,
                        expires_at,
                        access,
                    })
                },
            )
            .collect::<Result<Vec<_>>>()?;
        Ok(PrivacyReport {
            disclosures: self.disclosure_rows(disclosures)?,
            break_glass,
            revocations: revocations
                .into_iter()
                .map(
                    |(consent_id, patient_id, revoked_at, recorded_by)| RevocationEvent {
                        consent_id,
                        patient_id,
                        revoked_at,
                        recorded_by,
                    },
                )
                .collect(),
        })
    }
}

/// A disclosure that may be made, as [`Store::build_and_account`] takes it.
struct Outgoing<'a> {
    patient_id: i64,
    categories: &'a BTreeSet<InformationCategory>,
    detail: PacketDetail,
    /// What authorised it, as the packet tells the recipient.
    scope: String,
    consent_id: Option<i64>,
    authority_id: Option<i64>,
    kind: &'a str,
    recipient_id: Option<i64>,
    recipient: &'a str,
    purpose: &'a str,
    /// The audit row's opening (what authorised it, to whom); categories and detail follow.
    audit_detail: String,
    /// What was told in words, carried as a section after the record's (an emergency).
    told: Option<String>,
    /// The §2.51 facts, for an emergency disclosure.
    emergency: Option<EmergencyDisclosure>,
    /// A task opened with it (the privacy officer's review of an emergency disclosure).
    review: Option<NewTask<'a>>,
}

struct NewDisclosureRow<'a> {
    patient_id: i64,
    consent_id: Option<i64>,
    authority_id: Option<i64>,
    kind: &'a str,
    recipient_id: Option<i64>,
    purpose: &'a str,
    categories: String,
    recipient: &'a str,
    packet: &'a Packet,
    at: Instant,
    by: i64,
}

fn codes(purposes: &BTreeSet<Purpose>) -> String {
    purposes
        .iter()
        .map(|p| p.code())
        .collect::<Vec<_>>()
        .join(",")
}

/// A refusal's kind without its text (the text may name a recipient): for the audit log.
fn refusal_code(refusal: &DisclosureRefusal) -> &'static str {
    match refusal {
        DisclosureRefusal::RecipientNotIdentified => "recipient not identified",
        DisclosureRefusal::NothingRequested => "nothing requested",
        DisclosureRefusal::NoConsentOnFile => "no consent on file",
        DisclosureRefusal::Expired { .. } => "consent expired",
        DisclosureRefusal::Revoked { .. } => "consent revoked",
        DisclosureRefusal::NotYetInEffect { .. } => "consent not yet in effect",
        DisclosureRefusal::IncompleteConsent { .. } => "consent incomplete",
        DisclosureRefusal::DifferentRecipient { .. } => "different recipient",
        DisclosureRefusal::DifferentPurpose { .. } => "different purpose",
        DisclosureRefusal::InformationNotCovered { .. } => "information not covered",
        DisclosureRefusal::ProceedingsAgainstPatient => "proceedings against the patient",
        DisclosureRefusal::BeyondTpo { .. } => "recipient beyond a TPO consent",
        DisclosureRefusal::Restricted { .. } => "restricted by the patient",
    }
}
