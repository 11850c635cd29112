//! A Part 2 consent with every §2.31(a) element (2024 rule), its validation and its status.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use super::criminal_justice::CriminalJustice;
use crate::care::UnknownCode;

/// A consent's stored identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ConsentId(pub i64);

impl fmt::Display for ConsentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

// Codes, labels and parsing for the small code lists below, all alike.
macro_rules! code_list {
    ($ty:ident, $kind:literal, [$($variant:ident => $code:literal, $label:literal;)+]) => {
        impl $ty {
            /// Every value, in display order.
            pub const ALL: &[$ty] = &[$($ty::$variant),+];

            /// The stored code.
            pub fn code(self) -> &'static str {
                match self { $($ty::$variant => $code),+ }
            }

            /// The label shown to staff and patients.
            pub fn label(self) -> &'static str {
                match self { $($ty::$variant => $label),+ }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.label())
            }
        }

        impl FromStr for $ty {
            type Err = UnknownCode;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let s = s.trim();
                $ty::ALL
                    .iter()
                    .copied()
                    .find(|v| v.code().eq_ignore_ascii_case(s))
                    .ok_or_else(|| UnknownCode { kind: $kind, code: s.to_owned() })
            }
        }
    };
}
pub(crate) use code_list;

/// A kind of record a consent may cover. SUD counseling notes (§2.11) are a category of their
/// own: a consent that names them may name nothing else (§2.31(b)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InformationCategory {
    /// Name, date of birth, contact details.
    Demographics,
    /// Enrolment, attendance and participation.
    Attendance,
    /// Assessments, including ASAM ratings.
    Assessment,
    /// Diagnoses.
    Diagnoses,
    /// Medications, including medications for addiction treatment.
    Medications,
    /// Drug screen results.
    DrugScreens,
    /// The treatment plan.
    TreatmentPlan,
    /// A summary of progress (not the notes themselves).
    ProgressSummary,
    /// The discharge summary.
    DischargeSummary,
    /// Standardised measure scores (PHQ-9, BAM and the like): dates, totals and bands.
    MeasureScores,
    /// Dates of service, charges and claims.
    BillingAndClaims,
    /// SUD counseling notes (§2.11): the counselor's own notes kept apart from the record.
    CounselingNotes,
}

code_list!(InformationCategory, "information category", [
    Demographics => "demographics", "Demographics";
    Attendance => "attendance", "Attendance and participation";
    Assessment => "assessment", "Assessments";
    Diagnoses => "diagnoses", "Diagnoses";
    Medications => "medications", "Medications";
    DrugScreens => "drug_screens", "Drug screen results";
    TreatmentPlan => "treatment_plan", "Treatment plan";
    ProgressSummary => "progress_summary", "Summary of progress";
    DischargeSummary => "discharge_summary", "Discharge summary";
    MeasureScores => "measure_scores", "Measure scores";
    BillingAndClaims => "billing", "Billing and claims";
    CounselingNotes => "counseling_notes", "SUD counseling notes";
]);

/// Why information may be disclosed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// Treatment.
    Treatment,
    /// Payment.
    Payment,
    /// Health care operations.
    HealthCareOperations,
    /// At the request of the patient.
    PatientRequest,
    /// Use in civil, criminal, administrative or legislative proceedings (court, probation).
    LegalProceedings,
    /// Employment.
    Employment,
    /// Another purpose, described in text.
    Other,
}

code_list!(Purpose, "disclosure purpose", [
    Treatment => "treatment", "Treatment";
    Payment => "payment", "Payment";
    HealthCareOperations => "operations", "Health care operations";
    PatientRequest => "patient_request", "At the request of the patient";
    LegalProceedings => "legal", "Legal proceedings (court, probation)";
    Employment => "employment", "Employment";
    Other => "other", "Other";
]);

impl Purpose {
    /// Whether this is one of treatment, payment and health care operations.
    pub fn is_tpo(self) -> bool {
        matches!(
            self,
            Purpose::Treatment | Purpose::Payment | Purpose::HealthCareOperations
        )
    }
}

/// A class of recipients a consent may name instead of a person (the TPO classes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecipientClass {
    /// The patient's treating providers.
    TreatingProviders,
    /// Health plans and third-party payers.
    HealthPlans,
    /// People helping to operate the program (business associates, QSOs).
    ProgramOperations,
}

code_list!(RecipientClass, "recipient class", [
    TreatingProviders => "treating_providers", "Treating providers";
    HealthPlans => "health_plans", "Health plans and third-party payers";
    ProgramOperations => "program_operations", "People helping to operate this program";
]);

/// The generic recipient description §2.31(a)(4) allows on a TPO consent.
pub const TPO_GENERIC_RECIPIENTS: &str =
    "my treating providers, health plans, third-party payers, \
     and people helping to operate this program";

/// Who may receive the information.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Recipient {
    /// A named person or organisation.
    Named {
        /// The name as written on the consent.
        name: String,
    },
    /// One class of recipients, with the wording used on the consent.
    Class {
        /// The class.
        class: RecipientClass,
        /// How the consent describes it, e.g. "my treating providers at Valley HIE".
        description: String,
    },
    /// The generic TPO description: every [`RecipientClass`]. TPO consents only.
    TpoGeneric {
        /// The wording used, normally [`TPO_GENERIC_RECIPIENTS`].
        description: String,
    },
}

impl Recipient {
    /// The recipient as the consent words it.
    pub fn describe(&self) -> &str {
        match self {
            Recipient::Named { name } => name,
            Recipient::Class { description, .. } | Recipient::TpoGeneric { description } => {
                description
            }
        }
    }
}

/// When the consent stops, if not revoked first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Expiry {
    /// The end of this date, in the program's time zone.
    OnDate {
        /// The last day the consent is in effect.
        date: NaiveDate,
    },
    /// When a described event happens; staff record when it did.
    Event {
        /// The event as written on the consent.
        description: String,
        /// When staff recorded that the event happened.
        occurred_at: Option<DateTime<Utc>>,
    },
    /// At the end of treatment (TPO consents only).
    EndOfTreatment {
        /// When treatment ended, once it has.
        ended_at: Option<DateTime<Utc>>,
    },
    /// No expiry: in effect until revoked (TPO consents only).
    NoExpiry,
}

impl Expiry {
    /// Whether the consent has expired as of `now`.
    pub fn has_passed(&self, now: &DateTime<Tz>) -> bool {
        match self {
            Expiry::OnDate { date } => now.date_naive() > *date,
            Expiry::Event { occurred_at, .. } => occurred_at.is_some_and(|at| at <= now.to_utc()),
            Expiry::EndOfTreatment { ended_at } => ended_at.is_some_and(|at| at <= now.to_utc()),
            Expiry::NoExpiry => false,
        }
    }

    /// Whether this is one of the open-ended forms only a TPO consent may use.
    pub fn is_open_ended(&self) -> bool {
        matches!(self, Expiry::EndOfTreatment { .. } | Expiry::NoExpiry)
    }
}

impl fmt::Display for Expiry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expiry::OnDate { date } => write!(f, "expires at the end of {date}"),
            Expiry::Event {
                description,
                occurred_at: None,
            } => write!(f, "expires when: {description}"),
            Expiry::Event {
                description,
                occurred_at: Some(at),
            } => write!(f, "expired when: {description} ({})", at.date_naive()),
            Expiry::EndOfTreatment { ended_at: None } => {
                f.write_str("expires at the end of treatment")
            }
            Expiry::EndOfTreatment { ended_at: Some(at) } => {
                write!(f, "expired at the end of treatment ({})", at.date_naive())
            }
            Expiry::NoExpiry => f.write_str("does not expire (in effect until revoked)"),
        }
    }
}

/// The signature of the patient or of a person authorised to sign for them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    /// Who signed.
    pub signer_name: String,
    /// The signer's relationship to the patient (guardian, parent…); `None` when the patient signed.
    pub relationship: Option<String>,
    /// When the (possibly electronic) signature was made.
    pub signed_at: DateTime<Utc>,
}

/// A recorded revocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    /// When the revocation took effect.
    pub revoked_at: DateTime<Utc>,
    /// The staff member who recorded it.
    pub recorded_by: String,
}

/// A patient's written consent to disclose Part 2 records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    /// Stored identifier.
    pub id: ConsentId,
    /// (a)(1) The patient's name.
    pub patient_name: String,
    /// (a)(2) Who may make the disclosure: this program, by name.
    pub disclosing_program: String,
    /// (a)(3) What may be disclosed, as categories the system can check.
    pub categories: BTreeSet<InformationCategory>,
    /// (a)(3) Any further description of the information, as written on the form.
    pub information_description: String,
    /// (a)(4) Who may receive it.
    pub recipients: Vec<Recipient>,
    /// (a)(5) Why.
    pub purposes: BTreeSet<Purpose>,
    /// (a)(5) The purpose in words, required when [`Purpose::Other`] is chosen.
    pub other_purpose: String,
    /// (a)(4) For TPO consents: the statement that HIPAA entities may redisclose, except in proceedings against the patient.
    pub redisclosure_statement: String,
    /// (a)(6) The right to revoke in writing, how to do so, and the reliance exception.
    pub revocation_statement: String,
    /// (a)(7) Expiry date, event or condition.
    pub expiry: Option<Expiry>,
    /// (a)(8) Signature.
    pub signature: Option<Signature>,
    /// (a)(9) Date signed.
    pub signed_on: Option<NaiveDate>,
    /// A revocation, once recorded.
    pub revocation: Option<Revocation>,
    /// For a consent to disclose to the criminal justice system that referred the patient: the
    /// elements §2.35 adds (none on any other consent).
    #[serde(default)]
    pub criminal_justice: Option<CriminalJustice>,
}

/// A required consent element, named as on the form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentElement {
    /// (a)(1).
    PatientName,
    /// (a)(2).
    DisclosingProgram,
    /// (a)(3).
    InformationDescription,
    /// (a)(4).
    Recipients,
    /// (a)(4), TPO consents.
    RedisclosureStatement,
    /// (a)(5).
    Purpose,
    /// (a)(5) when the purpose is "other".
    OtherPurposeDescription,
    /// (a)(6).
    RightToRevoke,
    /// (a)(7).
    Expiry,
    /// (a)(7) when the expiry is an event.
    ExpiryEventDescription,
    /// (a)(8).
    Signature,
    /// (a)(8) when someone other than the patient signs.
    SignerRelationship,
    /// (a)(9).
    DateSigned,
}

impl ConsentElement {
    /// The element's name.
    pub fn name(self) -> &'static str {
        match self {
            ConsentElement::PatientName => "patient name",
            ConsentElement::DisclosingProgram => "who may make the disclosure",
            ConsentElement::InformationDescription => "description of the information to be disclosed",
            ConsentElement::Recipients => "recipient(s)",
            ConsentElement::RedisclosureStatement => {
                "statement that records disclosed for TPO may be redisclosed under HIPAA, except in proceedings against the patient"
            }
            ConsentElement::Purpose => "purpose of the disclosure",
            ConsentElement::OtherPurposeDescription => "description of the \"other\" purpose",
            ConsentElement::RightToRevoke => "statement of the right to revoke",
            ConsentElement::Expiry => "expiry date, event or condition",
            ConsentElement::ExpiryEventDescription => "description of the expiry event",
            ConsentElement::Signature => "signature",
            ConsentElement::SignerRelationship => "signer's authority to sign for the patient",
            ConsentElement::DateSigned => "date signed",
        }
    }

    /// Where 42 CFR 2.31 requires it.
    pub fn citation(self) -> &'static str {
        match self {
            ConsentElement::PatientName => "§2.31(a)(1)",
            ConsentElement::DisclosingProgram => "§2.31(a)(2)",
            ConsentElement::InformationDescription => "§2.31(a)(3)",
            ConsentElement::Recipients | ConsentElement::RedisclosureStatement => "§2.31(a)(4)",
            ConsentElement::Purpose | ConsentElement::OtherPurposeDescription => "§2.31(a)(5)",
            ConsentElement::RightToRevoke => "§2.31(a)(6)",
            ConsentElement::Expiry | ConsentElement::ExpiryEventDescription => "§2.31(a)(7)",
            ConsentElement::Signature | ConsentElement::SignerRelationship => "§2.31(a)(8)",
            ConsentElement::DateSigned => "§2.31(a)(9)",
        }
    }
}

impl fmt::Display for ConsentElement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.citation())
    }
}

/// Why a consent is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsentProblem {
    /// A required element is absent or blank.
    #[error("missing: {0}")]
    Missing(ConsentElement),
    /// "End of treatment" or "none" on a consent that is not for TPO.
    #[error("\"end of treatment\" or \"none\" is only acceptable as the expiry of a consent for treatment, payment and health care operations; give a date or an event")]
    OpenExpiryRequiresTpo,
    /// The generic TPO recipient description on a consent that is not for TPO.
    #[error("the generic recipient description is only acceptable on a consent for treatment, payment and health care operations; name the recipient")]
    GenericRecipientRequiresTpo,
    /// A statement is there but lacks something the rule requires it to say.
    #[error("the {} must say {lacks} ({})", .element.name(), .element.citation())]
    StatementLacks {
        /// The statement.
        element: ConsentElement,
        /// What it must say, in words.
        lacks: &'static str,
    },
    /// SUD counseling notes named together with other information (§2.31(b)).
    #[error("a consent for SUD counseling notes may cover nothing else: record a separate consent for the other information (42 CFR 2.31(b))")]
    CounselingNotesCombined,
    /// A consent for SUD counseling notes that does not say treatment does not depend on it.
    #[error("a consent for SUD counseling notes must say that treatment does not depend on signing it (42 CFR 2.31(b); 45 CFR 164.508(b)(4))")]
    CounselingNotesConditioned,
    /// The expiry date falls before the date signed.
    #[error("the consent expires ({expires}) before it was signed ({signed})")]
    ExpiresBeforeSigned {
        /// The expiry date.
        expires: NaiveDate,
        /// The date signed.
        signed: NaiveDate,
    },
}

fn blank(s: &str) -> bool {
    s.trim().is_empty()
}

// What each required statement must say, each point as (what, any of these words). Words, not
// exact phrases: programs word their forms differently, but a statement without any of them
// cannot be saying the thing.
const REVOCATION_POINTS: &[(&str, &[&str])] = &[
    (
        "that the patient may revoke the consent",
        &["revok", "revoc", "withdraw"],
    ),
    ("how: in writing", &["writing", "written"]),
    (
        "the exception for action already taken in reliance on the consent",
        &["reliance", "relied", "already acted", "already been taken"],
    ),
];
const REDISCLOSURE_POINTS: &[(&str, &[&str])] = &[
    (
        "that the records may be redisclosed as HIPAA permits",
        &["hipaa", "45 cfr"],
    ),
    (
        "the exception for proceedings against the patient",
        &["proceeding"],
    ),
];

fn statement_gaps(
    element: ConsentElement,
    text: &str,
    points: &[(&'static str, &[&str])],
    problems: &mut Vec<ConsentProblem>,
) {
    let lower = text.to_lowercase();
    for (lacks, words) in points {
        if !words.iter().any(|w| lower.contains(w)) {
            problems.push(ConsentProblem::StatementLacks { element, lacks });
        }
    }
}

/// Whether one of the consent's statements says that treatment does not depend on signing it
/// (the HIPAA authorisation statement §2.31(b) brings in for counseling notes). Words, as for
/// the other statements: "treatment" with "condition" or "depend".
fn says_treatment_does_not_depend_on_it(consent: &Consent) -> bool {
    [
        &consent.information_description,
        &consent.revocation_statement,
        &consent.redisclosure_statement,
    ]
    .iter()
    .map(|t| t.to_lowercase())
    .any(|t| t.contains("treatment") && (t.contains("condition") || t.contains("depend")))
}

/// The statement Trellis offers on a consent for SUD counseling notes.
pub const COUNSELING_NOTES_STATEMENT: &str = "My treatment, payment, enrollment and eligibility for benefits do not depend on whether I sign this consent.";

/// "End of treatment" for a consent signed on `signed_on`: the first discharge on or after that
/// day. Fixed once reached, so a later readmission never brings the consent back.
pub fn end_of_treatment(
    signed_on: NaiveDate,
    discharges: impl IntoIterator<Item = NaiveDate>,
) -> Option<NaiveDate> {
    discharges.into_iter().filter(|d| *d >= signed_on).min()
}

/// Why a consent's expiry event cannot be recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpiryEventProblem {
    /// The consent does not expire on an event.
    #[error("this consent does not expire on an event")]
    NotAnEvent,
    /// The event is already on file.
    #[error("the expiry event is already recorded")]
    AlreadyRecorded,
    /// A date after today.
    #[error("the event date cannot be in the future")]
    InTheFuture,
    /// A date before the consent was signed.
    #[error("the event date cannot be before the consent was signed ({0})")]
    BeforeSigning(NaiveDate),
}

/// Checks that the expiry event of `consent` may be recorded as having happened on `occurred_on`.
pub fn validate_expiry_event(
    consent: &Consent,
    occurred_on: NaiveDate,
    today: NaiveDate,
) -> Result<(), ExpiryEventProblem> {
    match &consent.expiry {
        Some(Expiry::Event {
            occurred_at: None, ..
        }) => {}
        Some(Expiry::Event { .. }) => return Err(ExpiryEventProblem::AlreadyRecorded),
        _ => return Err(ExpiryEventProblem::NotAnEvent),
    }
    if occurred_on > today {
        return Err(ExpiryEventProblem::InTheFuture);
    }
    match consent.signed_on {
        Some(signed) if occurred_on < signed => Err(ExpiryEventProblem::BeforeSigning(signed)),
        _ => Ok(()),
    }
}

// Names and phrases compared as people write them: case and spacing do not matter.
pub(crate) fn same_text(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        s.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    };
    norm(a) == norm(b)
}

impl Consent {
    /// The last day of a consent that expires on a date within `days` days of `today` (and is
    /// not revoked): the ones to renew or let lapse knowingly.
    pub fn expires_within(&self, today: NaiveDate, days: i64) -> Option<NaiveDate> {
        match (&self.expiry, &self.revocation) {
            (Some(Expiry::OnDate { date }), None)
                if *date >= today && *date <= today + chrono::Duration::days(days) =>
            {
                Some(*date)
            }
            _ => None,
        }
    }

    /// Whether every purpose is treatment, payment or health care operations (a "TPO consent").
    pub fn is_tpo(&self) -> bool {
        !self.purposes.is_empty() && self.purposes.iter().all(|p| p.is_tpo())
    }

    /// Where the consent stands as of `now` (dates are read in `now`'s time zone).
    pub fn status(&self, now: &DateTime<Tz>) -> ConsentStatus {
        if let Some(revocation) = self
            .revocation
            .as_ref()
            .filter(|r| r.revoked_at <= now.to_utc())
        {
            return ConsentStatus::Revoked(revocation.clone());
        }
        if self.expiry.as_ref().is_some_and(|e| e.has_passed(now)) {
            return ConsentStatus::Expired;
        }
        let signed_later = self.signed_on.is_some_and(|d| d > now.date_naive())
            || self
                .signature
                .as_ref()
                .is_some_and(|s| s.signed_at > now.to_utc());
        if signed_later {
            ConsentStatus::Pending
        } else {
            ConsentStatus::Active
        }
    }
}

/// Checks every §2.31(a) element, listing each problem (all at once, for the form).
pub fn validate_consent(consent: &Consent) -> Result<(), Vec<ConsentProblem>> {
    use ConsentElement as E;
    let mut problems = Vec::new();
    let mut missing = |element| problems.push(ConsentProblem::Missing(element));

    if blank(&consent.patient_name) {
        missing(E::PatientName);
    }
    if blank(&consent.disclosing_program) {
        missing(E::DisclosingProgram);
    }
    // Categories are what the disclosure check can verify; free text alone is not enough.
    if consent.categories.is_empty() {
        missing(E::InformationDescription);
    }
    if consent.recipients.is_empty() || consent.recipients.iter().any(|r| blank(r.describe())) {
        missing(E::Recipients);
    }
    if consent.purposes.is_empty() {
        missing(E::Purpose);
    }
    if consent.purposes.contains(&Purpose::Other) && blank(&consent.other_purpose) {
        missing(E::OtherPurposeDescription);
    }
    // Required when a covered entity or business associate receives for TPO; every TPO consent
    // may reach one, so Trellis always asks for it.
    let redisclosure_blank = blank(&consent.redisclosure_statement);
    if consent.is_tpo() && redisclosure_blank {
        missing(E::RedisclosureStatement);
    }
    let revocation_blank = blank(&consent.revocation_statement);
    if revocation_blank {
        missing(E::RightToRevoke);
    }
    match &consent.expiry {
        None => missing(E::Expiry),
        Some(Expiry::Event { description, .. }) if blank(description) => {
            missing(E::ExpiryEventDescription)
        }
        Some(_) => {}
    }
    match &consent.signature {
        None => missing(E::Signature),
        Some(s) if blank(&s.signer_name) => missing(E::Signature),
        Some(s) => {
            // With no patient name we cannot tell, and that gap is already reported.
            let by_someone_else =
                !blank(&consent.patient_name) && !same_text(&s.signer_name, &consent.patient_name);
            if by_someone_else && s.relationship.as_deref().is_none_or(blank) {
                missing(E::SignerRelationship);
            }
        }
    }
    if consent.signed_on.is_none() {
        missing(E::DateSigned);
    }
    // §2.35 replaces (a)(6): its statement says when it becomes revocable (checked there).
    if !revocation_blank && consent.criminal_justice.is_none() {
        statement_gaps(
            E::RightToRevoke,
            &consent.revocation_statement,
            REVOCATION_POINTS,
            &mut problems,
        );
    }
    if consent.is_tpo() && !redisclosure_blank {
        statement_gaps(
            E::RedisclosureStatement,
            &consent.redisclosure_statement,
            REDISCLOSURE_POINTS,
            &mut problems,
        );
    }

    if !consent.is_tpo() {
        if consent.expiry.as_ref().is_some_and(Expiry::is_open_ended) {
            problems.push(ConsentProblem::OpenExpiryRequiresTpo);
        }
        if consent
            .recipients
            .iter()
            .any(|r| matches!(r, Recipient::TpoGeneric { .. }))
        {
            problems.push(ConsentProblem::GenericRecipientRequiresTpo);
        }
    }
    if consent
        .categories
        .contains(&InformationCategory::CounselingNotes)
    {
        if consent.categories.len() > 1 {
            problems.push(ConsentProblem::CounselingNotesCombined);
        }
        if !says_treatment_does_not_depend_on_it(consent) {
            problems.push(ConsentProblem::CounselingNotesConditioned);
        }
    }
    if let (Some(Expiry::OnDate { date }), Some(signed)) = (&consent.expiry, consent.signed_on) {
        if *date < signed {
            problems.push(ConsentProblem::ExpiresBeforeSigned {
                expires: *date,
                signed,
            });
        }
    }

    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// Where a consent stands at an instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ConsentStatus {
    /// Dated or signed after the instant asked about: not yet in effect.
    Pending,
    /// In effect.
    Active,
    /// Past its expiry date or event.
    Expired,
    /// Revoked, with when and by whom it was recorded.
    Revoked(Revocation),
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::TimeZone;
    use chrono_tz::America::New_York;

    /// A complete, valid TPO consent signed on 2025-01-10 by the patient.
    pub(crate) fn tpo_consent(id: i64) -> Consent {
        Consent {
            id: ConsentId(id),
            patient_name: "Alex Rivera".into(),
            disclosing_program: "Trellis Recovery IOP".into(),
            categories: [
                InformationCategory::Demographics,
                InformationCategory::Attendance,
                InformationCategory::Diagnoses,
                InformationCategory::TreatmentPlan,
                InformationCategory::BillingAndClaims,
            ]
            .into(),
            information_description: String::new(),
            recipients: vec![Recipient::TpoGeneric {
                description: TPO_GENERIC_RECIPIENTS.into(),
            }],
            purposes: [
                Purpose::Treatment,
                Purpose::Payment,
                Purpose::HealthCareOperations,
            ]
            .into(),
            other_purpose: String::new(),
            redisclosure_statement: crate::consent::notice::DEFAULT_TPO_REDISCLOSURE_STATEMENT
                .into(),
            revocation_statement: crate::consent::notice::DEFAULT_REVOCATION_STATEMENT.into(),
            expiry: Some(Expiry::NoExpiry),
            signature: Some(Signature {
                signer_name: "Alex Rivera".into(),
                relationship: None,
                signed_at: Utc.with_ymd_and_hms(2025, 1, 10, 15, 0, 0).unwrap(),
            }),
            signed_on: Some(NaiveDate::from_ymd_opt(2025, 1, 10).unwrap()),
            revocation: None,
            criminal_justice: None,
        }
    }

    /// A complete, valid consent to tell a named probation officer about attendance and screens.
    pub(crate) fn probation_consent(id: i64) -> Consent {
        Consent {
            recipients: vec![Recipient::Named {
                name: "Officer Dana Lee, County Probation".into(),
            }],
            purposes: [Purpose::LegalProceedings].into(),
            categories: [
                InformationCategory::Attendance,
                InformationCategory::DrugScreens,
            ]
            .into(),
            redisclosure_statement: String::new(),
            expiry: Some(Expiry::OnDate {
                date: NaiveDate::from_ymd_opt(2025, 6, 30).unwrap(),
            }),
            ..tpo_consent(id)
        }
    }

    pub(crate) fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Tz> {
        New_York.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
    }

    fn problems(consent: &Consent) -> Vec<ConsentProblem> {
        validate_consent(consent).err().unwrap_or_default()
    }

    #[test]
    fn complete_consents_are_valid() {
        assert_eq!(validate_consent(&tpo_consent(1)), Ok(()));
        assert_eq!(validate_consent(&probation_consent(2)), Ok(()));
        assert!(tpo_consent(1).is_tpo());
        assert!(!probation_consent(2).is_tpo());
    }

    #[test]
    fn each_missing_element_is_named() {
        use ConsentElement as E;
        type Breaker = Box<dyn Fn(&mut Consent)>;
        let cases: Vec<(ConsentElement, Breaker)> = vec![
            (E::PatientName, Box::new(|c| c.patient_name = " ".into())),
            (
                E::DisclosingProgram,
                Box::new(|c| c.disclosing_program.clear()),
            ),
            (
                E::InformationDescription,
                Box::new(|c| c.categories.clear()),
            ),
            (E::Recipients, Box::new(|c| c.recipients.clear())),
            (
                E::Recipients,
                Box::new(|c| c.recipients = vec![Recipient::Named { name: "".into() }]),
            ),
            (
                E::RedisclosureStatement,
                Box::new(|c| c.redisclosure_statement.clear()),
            ),
            (
                E::RightToRevoke,
                Box::new(|c| c.revocation_statement = "\n".into()),
            ),
            (E::Expiry, Box::new(|c| c.expiry = None)),
            (
                E::ExpiryEventDescription,
                Box::new(|c| {
                    c.expiry = Some(Expiry::Event {
                        description: "".into(),
                        occurred_at: None,
                    })
                }),
            ),
            (E::Signature, Box::new(|c| c.signature = None)),
            (
                E::SignerRelationship,
                Box::new(|c| {
                    if let Some(s) = c.signature.as_mut() {
                        s.signer_name = "Maria Rivera".into();
                    }
                }),
            ),
            (E::DateSigned, Box::new(|c| c.signed_on = None)),
            (
                E::OtherPurposeDescription,
                Box::new(|c| {
                    c.purposes.insert(Purpose::Other);
                    c.expiry = Some(Expiry::OnDate {
                        date: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
                    });
                    c.recipients = vec![Recipient::Named {
                        name: "Dr Kim".into(),
                    }];
                }),
            ),
        ];
        for (element, break_it) in cases {
            let mut consent = tpo_consent(1);
            break_it(&mut consent);
            assert_eq!(
                problems(&consent),
                vec![ConsentProblem::Missing(element)],
                "{element}"
            );
        }
        // Purpose on its own: a consent with no purpose is not a TPO consent either.
        let mut no_purpose = probation_consent(2);
        no_purpose.purposes.clear();
        assert_eq!(
            problems(&no_purpose),
            vec![ConsentProblem::Missing(E::Purpose)]
        );
    }

    #[test]
    fn an_empty_consent_lists_every_element() {
        let empty = Consent {
            id: ConsentId(9),
            patient_name: String::new(),
            disclosing_program: String::new(),
            categories: BTreeSet::new(),
            information_description: String::new(),
            recipients: vec![],
            purposes: BTreeSet::new(),
            other_purpose: String::new(),
            redisclosure_statement: String::new(),
            revocation_statement: String::new(),
            expiry: None,
            signature: None,
            signed_on: None,
            revocation: None,
            criminal_justice: None,
        };
        let names: Vec<String> = problems(&empty).iter().map(|p| p.to_string()).collect();
        assert_eq!(
            names,
            vec![
                "missing: patient name (§2.31(a)(1))",
                "missing: who may make the disclosure (§2.31(a)(2))",
                "missing: description of the information to be disclosed (§2.31(a)(3))",
                "missing: recipient(s) (§2.31(a)(4))",
                "missing: purpose of the disclosure (§2.31(a)(5))",
                "missing: statement of the right to revoke (§2.31(a)(6))",
                "missing: expiry date, event or condition (§2.31(a)(7))",
                "missing: signature (§2.31(a)(8))",
                "missing: date signed (§2.31(a)(9))",
            ]
        );
    }

    #[test]
    fn open_expiry_and_generic_recipients_are_for_tpo_only() {
        let mut consent = probation_consent(2);
        consent.expiry = Some(Expiry::EndOfTreatment { ended_at: None });
        consent.recipients.push(Recipient::TpoGeneric {
            description: TPO_GENERIC_RECIPIENTS.into(),
        });
        assert_eq!(
            problems(&consent),
            vec![
                ConsentProblem::OpenExpiryRequiresTpo,
                ConsentProblem::GenericRecipientRequiresTpo
            ]
        );
        let mut early = probation_consent(2);
        early.expiry = Some(Expiry::OnDate {
            date: NaiveDate::from_ymd_opt(2025, 1, 9).unwrap(),
        });
        assert_eq!(
            problems(&early),
            vec![ConsentProblem::ExpiresBeforeSigned {
                expires: NaiveDate::from_ymd_opt(2025, 1, 9).unwrap(),
                signed: NaiveDate::from_ymd_opt(2025, 1, 10).unwrap()
            }]
        );
    }

    #[test]
    fn a_representative_with_a_relationship_may_sign() {
        let mut consent = tpo_consent(1);
        consent.signature = Some(Signature {
            signer_name: "Maria Rivera".into(),
            relationship: Some("Parent".into()),
            signed_at: Utc.with_ymd_and_hms(2025, 1, 10, 15, 0, 0).unwrap(),
        });
        assert_eq!(validate_consent(&consent), Ok(()));
        // The patient's own name in other case or spacing is still the patient.
        consent.signature = Some(Signature {
            signer_name: "  alex   RIVERA ".into(),
            relationship: None,
            signed_at: Utc.with_ymd_and_hms(2025, 1, 10, 15, 0, 0).unwrap(),
        });
        assert_eq!(validate_consent(&consent), Ok(()));
    }

    #[test]
    fn status_follows_dates_events_and_revocation() {
        let consent = probation_consent(2); // signed 2025-01-10, expires end of 2025-06-30
        assert_eq!(consent.status(&at(2025, 1, 9, 12)), ConsentStatus::Pending);
        assert_eq!(consent.status(&at(2025, 1, 10, 9)), ConsentStatus::Pending);
        assert_eq!(consent.status(&at(2025, 1, 10, 11)), ConsentStatus::Active);
        assert_eq!(consent.status(&at(2025, 6, 30, 23)), ConsentStatus::Active);
        assert_eq!(consent.status(&at(2025, 7, 1, 0)), ConsentStatus::Expired);

        let mut revoked = tpo_consent(1);
        let revocation = Revocation {
            revoked_at: Utc.with_ymd_and_hms(2025, 3, 1, 14, 0, 0).unwrap(),
            recorded_by: "J. Privacy".into(),
        };
        revoked.revocation = Some(revocation.clone());
        assert_eq!(revoked.status(&at(2025, 3, 1, 8)), ConsentStatus::Active);
        assert_eq!(
            revoked.status(&at(2025, 3, 1, 10)),
            ConsentStatus::Revoked(revocation)
        );

        let mut ended = tpo_consent(1);
        ended.expiry = Some(Expiry::EndOfTreatment {
            ended_at: Some(Utc.with_ymd_and_hms(2025, 4, 1, 12, 0, 0).unwrap()),
        });
        assert_eq!(ended.status(&at(2025, 3, 31, 12)), ConsentStatus::Active);
        assert_eq!(ended.status(&at(2025, 4, 2, 12)), ConsentStatus::Expired);
        let mut open = tpo_consent(1);
        open.expiry = Some(Expiry::Event {
            description: "discharge".into(),
            occurred_at: None,
        });
        assert_eq!(open.status(&at(2030, 1, 1, 12)), ConsentStatus::Active);
    }

    #[test]
    fn statements_must_say_what_the_rule_requires() {
        use ConsentElement as E;
        let mut consent = tpo_consent(1);
        consent.revocation_statement = "I may revoke this consent at any time.".into();
        consent.redisclosure_statement = "My records may be shared.".into();
        let lacks: Vec<(ConsentElement, &str)> = problems(&consent)
            .into_iter()
            .map(|p| match p {
                ConsentProblem::StatementLacks { element, lacks } => (element, lacks),
                other => panic!("unexpected {other}"),
            })
            .collect();
        assert_eq!(
            lacks,
            vec![
                (E::RightToRevoke, "how: in writing"),
                (
                    E::RightToRevoke,
                    "the exception for action already taken in reliance on the consent"
                ),
                (
                    E::RedisclosureStatement,
                    "that the records may be redisclosed as HIPAA permits"
                ),
                (
                    E::RedisclosureStatement,
                    "the exception for proceedings against the patient"
                ),
            ]
        );
        assert_eq!(
            ConsentProblem::StatementLacks {
                element: E::RightToRevoke,
                lacks: "how: in writing"
            }
            .to_string(),
            "the statement of the right to revoke must say how: in writing (§2.31(a)(6))"
        );
        // A consent that is not for TPO needs no redisclosure statement, so none is checked.
        let mut probation = probation_consent(2);
        probation.redisclosure_statement = "anything".into();
        assert_eq!(validate_consent(&probation), Ok(()));
    }

    #[test]
    fn end_of_treatment_is_the_first_discharge_after_signing() {
        let d = |m, day| NaiveDate::from_ymd_opt(2025, m, day).unwrap();
        // Discharged before signing (an earlier episode), then on 3 March, then readmitted and
        // discharged again: the consent ended on 3 March and stays ended.
        assert_eq!(
            end_of_treatment(d(1, 10), [d(1, 2), d(5, 20), d(3, 3)]),
            Some(d(3, 3))
        );
        assert_eq!(end_of_treatment(d(1, 10), [d(1, 10)]), Some(d(1, 10)));
        assert_eq!(end_of_treatment(d(1, 10), [d(1, 2)]), None);
    }

    #[test]
    fn an_expiry_event_is_recorded_once_within_the_consents_life() {
        let d = |m, day| NaiveDate::from_ymd_opt(2025, m, day).unwrap();
        let mut consent = probation_consent(2); // signed 2025-01-10
        assert_eq!(
            validate_expiry_event(&consent, d(2, 1), d(2, 2)),
            Err(ExpiryEventProblem::NotAnEvent)
        );
        consent.expiry = Some(Expiry::Event {
            description: "end of probation".into(),
            occurred_at: None,
        });
        assert_eq!(validate_expiry_event(&consent, d(2, 1), d(2, 2)), Ok(()));
        assert_eq!(
            validate_expiry_event(&consent, d(2, 3), d(2, 2)),
            Err(ExpiryEventProblem::InTheFuture)
        );
        assert_eq!(
            validate_expiry_event(&consent, d(1, 9), d(2, 2)),
            Err(ExpiryEventProblem::BeforeSigning(d(1, 10)))
        );
        consent.expiry = Some(Expiry::Event {
            description: "end of probation".into(),
            occurred_at: Some(Utc.with_ymd_and_hms(2025, 2, 1, 5, 0, 0).unwrap()),
        });
        assert_eq!(
            validate_expiry_event(&consent, d(2, 1), d(2, 2)),
            Err(ExpiryEventProblem::AlreadyRecorded)
        );
    }

    #[test]
    fn consents_expiring_on_a_date_soon_are_found() {
        let d = |m, day| NaiveDate::from_ymd_opt(2025, m, day).unwrap();
        let consent = probation_consent(2); // expires end of 2025-06-30
        assert_eq!(consent.expires_within(d(6, 16), 14), Some(d(6, 30)));
        assert_eq!(consent.expires_within(d(6, 15), 14), None);
        assert_eq!(consent.expires_within(d(7, 1), 14), None);
        assert_eq!(tpo_consent(1).expires_within(d(6, 16), 14), None);
        let mut revoked = probation_consent(2);
        revoked.revocation = Some(Revocation {
            revoked_at: Utc.with_ymd_and_hms(2025, 3, 1, 14, 0, 0).unwrap(),
            recorded_by: "J. Privacy".into(),
        });
        assert_eq!(revoked.expires_within(d(6, 16), 14), None);
    }

    /// A consent to give the counselor's notes to a named psychiatrist, alone.
    fn counseling_notes_consent(id: i64) -> Consent {
        Consent {
            categories: [InformationCategory::CounselingNotes].into(),
            information_description: COUNSELING_NOTES_STATEMENT.into(),
            recipients: vec![Recipient::Named {
                name: "Dr. Sam Ortiz".into(),
            }],
            purposes: [Purpose::Treatment].into(),
            expiry: Some(Expiry::OnDate {
                date: NaiveDate::from_ymd_opt(2025, 6, 30).unwrap(),
            }),
            ..tpo_consent(id)
        }
    }

    #[test]
    fn counseling_notes_need_a_consent_of_their_own() {
        assert_eq!(validate_consent(&counseling_notes_consent(1)), Ok(()));
        let mut combined = counseling_notes_consent(2);
        combined
            .categories
            .insert(InformationCategory::DischargeSummary);
        assert_eq!(
            problems(&combined),
            vec![ConsentProblem::CounselingNotesCombined]
        );
        let mut tpo = tpo_consent(3);
        tpo.categories.insert(InformationCategory::CounselingNotes);
        assert!(problems(&tpo).contains(&ConsentProblem::CounselingNotesCombined));
    }

    #[test]
    fn a_counseling_notes_consent_says_treatment_does_not_depend_on_it() {
        let mut silent = counseling_notes_consent(1);
        silent.information_description = "My counselor's notes.".into();
        assert_eq!(
            problems(&silent),
            vec![ConsentProblem::CounselingNotesConditioned]
        );
        // Other consents are not asked for it.
        assert_eq!(validate_consent(&probation_consent(2)), Ok(()));
    }

    #[test]
    fn codes_round_trip() {
        for c in InformationCategory::ALL {
            assert_eq!(c.code().parse(), Ok(*c));
        }
        for p in Purpose::ALL {
            assert_eq!(p.code().parse(), Ok(*p));
        }
        for r in RecipientClass::ALL {
            assert_eq!(r.code().parse(), Ok(*r));
        }
        assert!("gossip".parse::<Purpose>().is_err());
        assert_eq!(
            Purpose::ALL.iter().filter(|p| p.is_tpo()).count(),
            3,
            "exactly treatment, payment and operations are TPO"
        );
    }
}
