//! Medications (MOUD marked as such), their adherence and side effects, and drug screens.
//!
//! A medication carries its coded RxNorm ingredients and its prescriber. Each screen result is
//! assessed by the domain rules against the coded medications active on the collection day and
//! stored with its finding and reason; anything needing a response raises a safety flag (with
//! the primary counselor's task) and, for an MOUD adherence finding or an explained opioid, a
//! review task for the medication's prescriber, all in the same transaction, so a screen can
//! never be stored without them.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use serde::Serialize;
use sqlx::FromRow;
use trellis_domain::access::Role;
use trellis_domain::patient::FieldError;
use trellis_domain::screens::{
    analyte_label, assess, ingredient, panel_position, ActiveMedication, Finding, Reading, Urgency,
};

use crate::access::{can, PatientGrant};
use crate::audit::{self, AuditEvent};
use crate::tasks::{open_task, patient_today, raise_flag, NewTask, Severity};
use crate::{parse_code, Day, Flag, Instant, Result, Store, StoreError};

/// A medication's name and strength, sealed: "Buprenorphine/naloxone 8/2 mg" says what it
/// treats. The route and the MOUD mark stay clear (see docs/security.md).
pub(crate) const NAME_COLUMN: &str = "medications.name";
/// Its dose, sealed.
pub(crate) const DOSE_COLUMN: &str = "medications.dose";
/// How often it is taken, sealed.
pub(crate) const FREQUENCY_COLUMN: &str = "medications.frequency";

/// A coded ingredient (RxNorm), sealed: the code says what the medication is as plainly as its
/// name. Only one patient's list is ever read, so it is opened in Rust.
pub(crate) const INGREDIENT_COLUMN: &str = "medication_ingredients.rxcui";

impl Store {
    /// The coded ingredients of a patient's medications: (medication id, RxNorm code), opened.
    async fn coded_ingredients(
        &self,
        tx: &mut sqlx::AnyConnection,
        patient_id: i64,
    ) -> Result<Vec<(i64, String)>> {
        let sealed: Vec<(i64, String)> = sqlx::query_as(
            "SELECT i.medication_id, i.rxcui FROM medication_ingredients i
             JOIN medications m ON m.id = i.medication_id WHERE m.patient_id = $1",
        )
        .bind(patient_id)
        .fetch_all(&mut *tx)
        .await?;
        sealed
            .into_iter()
            .map(|(id, code)| Ok((id, self.open(INGREDIENT_COLUMN, &code)?)))
            .collect()
    }

    /// Opens a medication's sealed name, dose and frequency.
    pub(crate) fn open_medication(
        &self,
        name: &str,
        dose: &str,
        frequency: &str,
    ) -> Result<(String, String, String)> {
        Ok((
            self.open(NAME_COLUMN, name)?,
            self.open(DOSE_COLUMN, dose)?,
            self.open(FREQUENCY_COLUMN, frequency)?,
        ))
    }
}

/// A screen result's analyte ("fentanyl"), sealed. Whether a positive was expected stays
/// clear: the medical dashboard finds unexpected results in SQL.
pub(crate) const ANALYTE_COLUMN: &str = "drug_screen_results.analyte";
/// Its result ("positive"), sealed.
pub(crate) const RESULT_COLUMN: &str = "drug_screen_results.result";
/// What explains a positive, which may name a medication, sealed.
pub(crate) const EXPECTATION_REASON_COLUMN: &str = "drug_screen_results.expectation_reason";

/// Why a medication was prescribed: clinical text, encrypted at rest.
const REASON_COLUMN: &str = "medications.reason";
/// Why it was stopped.
const STOP_REASON_COLUMN: &str = "medications.stop_reason";
/// An adherence note.
const ADHERENCE_NOTE_COLUMN: &str = "medication_adherence.note";
/// A side effect in the patient's words.
const EFFECT_COLUMN: &str = "medication_side_effects.effect";

/// The flag kind a screen needing a response raises.
pub const SCREEN_FLAG_KIND: &str = "unexpected_drug_screen";

/// The task kind that asks a medication's prescriber to review a screen.
pub const PRESCRIBER_REVIEW_TASK_KIND: &str = "prescriber_screen_review";

/// Longest free text accepted in a medication field.
const MAX_TEXT: usize = 500;

/// Declares a closed set of stored codes with their labels.
macro_rules! coded {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $code:literal, $label:literal;)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vdoc])* $variant),* }

        impl $name {
            /// Every value, in the order forms list them.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The stored code.
            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code),* }
            }

            /// The label staff see.
            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label),* }
            }
        }

        impl std::str::FromStr for $name {
            type Err = ();
            fn from_str(s: &str) -> std::result::Result<Self, ()> {
                $name::ALL.iter().copied().find(|v| v.code() == s.trim()).ok_or(())
            }
        }
    };
}

coded!(
    /// How a medication is taken.
    Route {
        /// By mouth.
        Oral = "oral", "Oral";
        /// Under the tongue.
        Sublingual = "sublingual", "Sublingual";
        /// Inside the cheek.
        Buccal = "buccal", "Buccal";
        /// Intramuscular injection.
        Intramuscular = "intramuscular", "Intramuscular injection";
        /// Subcutaneous injection or implant.
        Subcutaneous = "subcutaneous", "Subcutaneous injection or implant";
        /// Skin patch.
        Transdermal = "transdermal", "Transdermal patch";
        /// Nasal spray.
        Intranasal = "intranasal", "Intranasal";
        /// Inhaled.
        Inhaled = "inhaled", "Inhaled";
        /// Anything else.
        Other = "other", "Other";
    }
);

coded!(
    /// How the patient is taking a medication.
    Adherence {
        /// Taken as prescribed.
        AsPrescribed = "as_prescribed", "Taken as prescribed";
        /// Some doses missed.
        MissedDoses = "missed_doses", "Missed doses";
        /// Not taking it.
        NotTaking = "not_taking", "Not taking";
    }
);

coded!(
    /// How bad a side effect is.
    SideEffectSeverity {
        /// Noticeable, no change needed.
        Mild = "mild", "Mild";
        /// Bothersome; may need a change.
        Moderate = "moderate", "Moderate";
        /// Needs the prescriber now.
        Severe = "severe", "Severe";
    }
);

coded!(
    /// What a drug screen tested.
    Specimen {
        /// Urine.
        Urine = "urine", "Urine";
        /// Oral fluid (saliva).
        OralFluid = "oral_fluid", "Oral fluid";
    }
);

coded!(
    /// Where a drug screen was read.
    Testing {
        /// A cup or strip read in the clinic.
        PointOfCare = "point_of_care", "Point of care";
        /// Sent to a laboratory.
        Lab = "lab", "Laboratory";
    }
);

coded!(
    /// One analyte's result.
    ScreenResult {
        /// Detected.
        Positive = "positive", "Positive";
        /// Not detected.
        Negative = "negative", "Negative";
        /// The specimen or test was unusable for this analyte.
        Invalid = "invalid", "Invalid";
    }
);

/// A medication as listed, with its adherence and side-effect entries.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Medication {
    /// Id.
    pub id: i64,
    /// Name and strength as prescribed, e.g. "Buprenorphine/naloxone 8/2 mg film".
    pub name: String,
    /// Dose.
    pub dose: String,
    /// Route.
    pub route: Route,
    /// Frequency, e.g. "once daily".
    pub frequency: String,
    /// Coded RxNorm ingredients (RXCUI); empty when not coded, and then it explains nothing.
    pub ingredients: Vec<String>,
    /// Prescriber on staff.
    pub prescriber_id: Option<i64>,
    /// Prescriber's name (the staff member's, or as written for an outside prescriber).
    pub prescriber_name: Option<String>,
    /// Started on.
    pub started_on: Day,
    /// Stopped on.
    pub stopped_on: Option<Day>,
    /// Why it was stopped.
    pub stop_reason: Option<String>,
    /// Why it is prescribed.
    pub reason: Option<String>,
    /// A medication for opioid use disorder.
    pub moud: bool,
    /// Dispensed by an opioid treatment program (OTP).
    pub otp_dispensed: bool,
    /// Adherence entries, newest first.
    pub adherence: Vec<AdherenceEntry>,
    /// Side-effect entries, newest first.
    pub side_effects: Vec<SideEffect>,
}

impl Medication {
    /// Whether the medication is taken on `day`.
    pub fn active_on(&self, day: NaiveDate) -> bool {
        self.started_on.0 <= day && self.stopped_on.is_none_or(|s| s.0 >= day)
    }
}

/// How the patient was taking a medication on a day.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AdherenceEntry {
    /// Id.
    pub id: i64,
    /// Noted on.
    pub noted_on: Day,
    /// Status.
    pub status: Adherence,
    /// Note.
    pub note: Option<String>,
    /// Who recorded it.
    pub recorded_by_name: Option<String>,
}

/// A side effect the patient reported.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SideEffect {
    /// Id.
    pub id: i64,
    /// Noted on.
    pub noted_on: Day,
    /// The effect.
    pub effect: String,
    /// Severity.
    pub severity: SideEffectSeverity,
    /// Who recorded it.
    pub recorded_by_name: Option<String>,
}

/// A medication to record.
#[derive(Debug, Clone, Default)]
pub struct NewMedication {
    /// Name and strength.
    pub name: String,
    /// Dose.
    pub dose: String,
    /// Route code.
    pub route: String,
    /// Frequency.
    pub frequency: String,
    /// RxNorm ingredient codes (RXCUI) from the domain's table.
    pub ingredients: Vec<String>,
    /// Prescriber on staff (one of this or `prescriber_name` for a current medication).
    pub prescriber_id: Option<i64>,
    /// Or an outside prescriber's name.
    pub prescriber_name: Option<String>,
    /// Started on.
    pub started_on: Option<NaiveDate>,
    /// Stopped on, for a past medication.
    pub stopped_on: Option<NaiveDate>,
    /// Why it was stopped, for a past medication.
    pub stop_reason: Option<String>,
    /// Why it is prescribed.
    pub reason: Option<String>,
    /// MOUD; `None` takes it from the ingredients (buprenorphine, methadone, naltrexone).
    pub moud: Option<bool>,
    /// Dispensed by an opioid treatment program.
    pub otp_dispensed: bool,
}

/// A drug screen with its results.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DrugScreen {
    /// Id.
    pub id: i64,
    /// The episode it was collected in.
    pub episode_id: Option<i64>,
    /// Collected on.
    pub collected_on: Day,
    /// Specimen.
    pub specimen: Specimen,
    /// Whether collection was observed.
    pub observed: bool,
    /// Point of care or laboratory.
    pub testing: Testing,
    /// Who collected it, as written.
    pub collected_by: Option<String>,
    /// The flag an unexpected positive raised.
    pub flag_id: Option<i64>,
    /// Who recorded it.
    pub recorded_by_name: Option<String>,
    /// When.
    pub recorded_at: Instant,
    /// Results in panel order.
    pub results: Vec<AnalyteResult>,
}

/// One analyte's result, with the classification of a positive.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AnalyteResult {
    /// Panel code, e.g. "fentanyl".
    pub analyte: String,
    /// Result.
    pub result: ScreenResult,
    /// For a positive: whether an active medication explains it.
    pub expected: Option<bool>,
    /// What the result means (expected, review, unexpected, presumptive, or an MOUD adherence
    /// finding); `None` for a plain negative or invalid result.
    pub finding: Option<Finding>,
    /// The medication that explains it or was expected on the specimen.
    pub medication_id: Option<i64>,
    /// Why it was classified so.
    pub reason: Option<String>,
}

/// A drug screen to record.
#[derive(Debug, Clone, Default)]
pub struct NewDrugScreen {
    /// Collected on (not in the future).
    pub collected_on: Option<NaiveDate>,
    /// Specimen code.
    pub specimen: String,
    /// Whether collection was observed.
    pub observed: bool,
    /// Testing code.
    pub testing: String,
    /// Who collected it.
    pub collected_by: Option<String>,
    /// (analyte code, result code) for each analyte tested.
    pub results: Vec<(String, String)>,
}

/// What recording a screen produced.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedScreen {
    /// The screen's id.
    pub id: i64,
    /// The analytes whose positives nothing prescribed explains.
    pub unexpected: Vec<String>,
    /// The flag the screen raised.
    pub flag_id: Option<i64>,
    /// Review tasks opened for prescribers.
    pub review_task_ids: Vec<i64>,
}

/// One result as the step-down and review rules read them.
#[derive(Debug, Clone, FromRow, Serialize, PartialEq)]
pub struct ScreenResultRow {
    /// Screen.
    pub screen_id: i64,
    /// Collected on.
    pub collected_on: Day,
    /// Analyte code.
    pub analyte: String,
    /// "positive", "negative" or "invalid".
    pub result: String,
    /// "expected" or "unexpected" for positives; "missing" for a negative with an MOUD
    /// adherence finding.
    pub expectation: Option<String>,
}

#[derive(FromRow)]
struct MedicationRow {
    id: i64,
    name: String,
    dose: String,
    route: String,
    frequency: String,
    prescriber_id: Option<i64>,
    prescriber_name: Option<String>,
    started_on: Day,
    stopped_on: Option<Day>,
    stop_reason: Option<String>,
    reason: Option<String>,
    #[sqlx(try_from = "Flag")]
    moud: bool,
    #[sqlx(try_from = "Flag")]
    otp_dispensed: bool,
}

#[derive(FromRow)]
struct AdherenceRow {
    id: i64,
    medication_id: i64,
    noted_on: Day,
    status: String,
    note: Option<String>,
    recorded_by_name: Option<String>,
}

#[derive(FromRow)]
struct SideEffectRow {
    id: i64,
    medication_id: i64,
    noted_on: Day,
    effect: String,
    severity: String,
    recorded_by_name: Option<String>,
}

#[derive(FromRow)]
struct ScreenRow {
    id: i64,
    episode_id: Option<i64>,
    collected_on: Day,
    specimen: String,
    #[sqlx(try_from = "Flag")]
    observed: bool,
    testing: String,
    collected_by: Option<String>,
    flag_id: Option<i64>,
    recorded_by_name: Option<String>,
    recorded_at: Instant,
}

#[derive(FromRow)]
struct ResultRow {
    screen_id: i64,
    analyte: String,
    result: String,
    expectation: Option<String>,
    expectation_reason: Option<String>,
    finding: Option<String>,
    medication_id: Option<i64>,
}

#[derive(FromRow)]
struct ActiveRow {
    id: i64,
    name: String,
    #[sqlx(try_from = "Flag")]
    moud: bool,
    prescriber_id: Option<i64>,
}

/// A trimmed optional text: blank is `None`; too long is an error on `field`.
fn optional_text(
    field: &'static str,
    value: &Option<String>,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    let v = value.as_deref().map(str::trim).filter(|v| !v.is_empty())?;
    if v.chars().count() > MAX_TEXT {
        errors.push(FieldError::new(
            field,
            format!("is too long (at most {MAX_TEXT} characters)"),
        ));
    }
    Some(v.to_owned())
}

/// A required trimmed text of at most `max` characters.
fn required_text(
    field: &'static str,
    value: &str,
    max: usize,
    errors: &mut Vec<FieldError>,
) -> String {
    let v = value.trim();
    if v.is_empty() {
        errors.push(FieldError::new(field, "is required"));
    } else if v.chars().count() > max {
        errors.push(FieldError::new(
            field,
            format!("is too long (at most {max} characters)"),
        ));
    }
    v.to_owned()
}

/// A required day that is not after `today`.
fn past_day(
    field: &'static str,
    value: Option<NaiveDate>,
    today: NaiveDate,
    errors: &mut Vec<FieldError>,
) -> Option<NaiveDate> {
    match value {
        None => {
            errors.push(FieldError::new(field, "is required (YYYY-MM-DD)"));
            None
        }
        Some(d) if d > today => {
            errors.push(FieldError::new(field, "cannot be in the future"));
            None
        }
        Some(d) => Some(d),
    }
}

/// The given RxNorm codes, trimmed and deduplicated; an unknown code is an error on
/// `ingredients` naming it.
fn coded_ingredients(codes: &[String], errors: &mut Vec<FieldError>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for code in codes.iter().map(|c| c.trim()).filter(|c| !c.is_empty()) {
        match ingredient(code) {
            Some(i) if !out.iter().any(|c| c == i.rxcui) => out.push(i.rxcui.to_owned()),
            Some(_) => {}
            None => errors.push(FieldError::new(
                "ingredients",
                format!("{code} is not a known RxNorm ingredient code; choose from the list"),
            )),
        }
    }
    out
}

fn sealed_opt(store: &Store, column: &str, text: Option<&str>) -> Result<Option<String>> {
    text.map(|t| store.seal(column, t)).transpose()
}

fn opened_opt(store: &Store, column: &str, text: Option<String>) -> Result<Option<String>> {
    text.map(|t| store.open(column, &t)).transpose()
}

impl Store {
    /// Active prescribers on staff as (id, name), for the prescriber list (no patient data).
    pub async fn prescribers(&self) -> Result<Vec<(i64, String)>> {
        Ok(sqlx::query_as(
            "SELECT id, display_name FROM users WHERE active = $1 AND role = 'prescriber'
             ORDER BY display_name, id",
        )
        .bind(true)
        .fetch_all(&mut *self.read_conn().await?)
        .await?)
    }

    /// Records a medication with its coded ingredients. MOUD is taken from the ingredients
    /// unless the caller says otherwise, and a medication marked MOUD must carry its MOUD
    /// ingredient (so adherence can be judged); only MOUD may be marked as dispensed by an
    /// opioid treatment program. A current medication names its prescriber: one on staff or an
    /// outside prescriber, not both.
    pub async fn record_medication(
        &self,
        grant: &PatientGrant<can::WriteClinical>,
        m: &NewMedication,
        today: NaiveDate,
    ) -> Result<i64> {
        let staff_id = grant.actor().staff_id()?;
        let mut errors = Vec::new();
        let name = required_text("name", &m.name, 200, &mut errors);
        let dose = required_text("dose", &m.dose, 100, &mut errors);
        let frequency = required_text("frequency", &m.frequency, 100, &mut errors);
        let route = m.route.parse::<Route>().ok();
        if route.is_none() {
            errors.push(FieldError::new("route", "choose one of the listed routes"));
        }
        let prescriber_name = optional_text("prescriber_name", &m.prescriber_name, &mut errors);
        let reason = optional_text("reason", &m.reason, &mut errors);
        let stop_reason = optional_text("stop_reason", &m.stop_reason, &mut errors);
        let started_on = past_day("started_on", m.started_on, today, &mut errors);
        if let Some(stopped_on) = m.stopped_on {
            if stopped_on > today {
                errors.push(FieldError::new("stopped_on", "cannot be in the future"));
            } else if started_on.is_some_and(|s| stopped_on < s) {
                errors.push(FieldError::new(
                    "stopped_on",
                    "cannot be before the start date",
                ));
            }
        } else if stop_reason.is_some() {
            errors.push(FieldError::new(
                "stopped_on",
                "is required when a stop reason is given",
            ));
        }
        let ingredients = coded_ingredients(&m.ingredients, &mut errors);
        let has_moud_ingredient = ingredients
            .iter()
            .any(|c| ingredient(c).is_some_and(|i| i.moud));
        let moud = m.moud.unwrap_or(has_moud_ingredient);
        if moud && !has_moud_ingredient && !errors.iter().any(|e| e.field == "ingredients") {
            errors.push(FieldError::new(
                "ingredients",
                "a medication for opioid use disorder needs its ingredient: buprenorphine, \
                 methadone or naltrexone",
            ));
        }
        match (m.prescriber_id, &prescriber_name) {
            (Some(_), Some(_)) => errors.push(FieldError::new(
                "prescriber_name",
                "give either a prescriber on staff or an outside prescriber, not both",
            )),
            (None, None) if m.stopped_on.is_none() => errors.push(FieldError::new(
                "prescriber_name",
                "is required for a current medication: choose a prescriber on staff or write \
                 the outside prescriber's name",
            )),
            _ => {}
        }
        if m.otp_dispensed && !moud {
            errors.push(FieldError::new(
                "otp_dispensed",
                "only a medication for opioid use disorder is dispensed by an opioid treatment program",
            ));
        }
        if let Some(prescriber) = m.prescriber_id {
            let known: Option<i64> =
                sqlx::query_scalar("SELECT id FROM users WHERE id = $1 AND role = 'prescriber'")
                    .bind(prescriber)
                    .fetch_optional(&mut *self.read_conn().await?)
                    .await?;
            if known.is_none() {
                errors.push(FieldError::new(
                    "prescriber_id",
                    "choose a prescriber from the list",
                ));
            }
        }
        let (Some(route), Some(started_on), true) = (route, started_on, errors.is_empty()) else {
            return Err(StoreError::Invalid(errors));
        };
        let mut tx = self.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO medications (patient_id, name, dose, route, frequency, prescriber_id,
                 prescriber_name, started_on, stopped_on, stop_reason, reason, moud,
                 otp_dispensed, recorded_by, recorded_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
             RETURNING id",
        )
        .bind(grant.patient_id())
        .bind(self.seal(NAME_COLUMN, &name)?)
        .bind(self.seal(DOSE_COLUMN, &dose)?)
        .bind(route.code())
        .bind(self.seal(FREQUENCY_COLUMN, &frequency)?)
        .bind(m.prescriber_id)
        .bind(prescriber_name)
        .bind(Day(started_on))
        .bind(m.stopped_on.map(Day))
        .bind(sealed_opt(
            self,
            STOP_REASON_COLUMN,
            stop_reason.as_deref(),
        )?)
        .bind(sealed_opt(self, REASON_COLUMN, reason.as_deref())?)
        .bind(moud)
        .bind(m.otp_dispensed)
        .bind(staff_id)
        .bind(Instant::now())
        .fetch_one(&mut *tx)
        .await?;
        for rxcui in &ingredients {
            sqlx::query(
                "INSERT INTO medication_ingredients (medication_id, rxcui) VALUES ($1, $2)",
            )
            .bind(id)
            .bind(self.seal(INGREDIENT_COLUMN, rxcui)?)
            .execute(&mut *tx)
            .await?;
        }
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "create",
                record_type: "medication",
                record_id: Some(id),
                patient_id: Some(grant.patient_id()),
                detail: format!("ingredients {}", ingredients.join(",")),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The patient's medication's start and stop days, or `NotFound` if it is not theirs.
    async fn medication_span(
        &self,
        grant_patient: i64,
        medication_id: i64,
    ) -> Result<(Day, Option<Day>)> {
        sqlx::query_as(
            "SELECT started_on, stopped_on FROM medications WHERE id = $1 AND patient_id = $2",
        )
        .bind(medication_id)
        .bind(grant_patient)
        .fetch_optional(&mut *self.read_conn().await?)
        .await?
        .ok_or(StoreError::NotFound("medication"))
    }

    /// Stops a medication on a day (not before it started, not in the future), with the reason.
    pub async fn stop_medication(
        &self,
        grant: &PatientGrant<can::WriteClinical>,
        medication_id: i64,
        stopped_on: Option<NaiveDate>,
        reason: &str,
        today: NaiveDate,
    ) -> Result<()> {
        grant.actor().staff_id()?;
        let mut errors = Vec::new();
        let stopped_on = past_day("stopped_on", stopped_on, today, &mut errors);
        let reason = required_text("stop_reason", reason, MAX_TEXT, &mut errors);
        if !errors.is_empty() {
            return Err(StoreError::Invalid(errors));
        }
        let (started_on, already) = self
            .medication_span(grant.patient_id(), medication_id)
            .await?;
        if already.is_some() {
            return Err(StoreError::Conflict(
                "this medication is already stopped".into(),
            ));
        }
        let Some(stopped_on) = stopped_on.filter(|s| *s >= started_on.0) else {
            return Err(StoreError::invalid(
                "stopped_on",
                "cannot be before the start date",
            ));
        };
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE medications SET stopped_on = $2, stop_reason = $3
             WHERE id = $1 AND stopped_on IS NULL",
        )
        .bind(medication_id)
        .bind(Day(stopped_on))
        .bind(self.seal(STOP_REASON_COLUMN, &reason)?)
        .execute(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "update",
                record_type: "medication",
                record_id: Some(medication_id),
                patient_id: Some(grant.patient_id()),
                detail: "stopped".into(),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records how the patient is taking a medication.
    pub async fn record_adherence(
        &self,
        grant: &PatientGrant<can::WriteClinical>,
        medication_id: i64,
        noted_on: Option<NaiveDate>,
        status: &str,
        note: &Option<String>,
        today: NaiveDate,
    ) -> Result<i64> {
        let staff_id = grant.actor().staff_id()?;
        let mut errors = Vec::new();
        let noted_on = past_day("noted_on", noted_on, today, &mut errors);
        let status = status.parse::<Adherence>().ok();
        if status.is_none() {
            errors.push(FieldError::new(
                "status",
                "choose taken as prescribed, missed doses or not taking",
            ));
        }
        let note = optional_text("note", note, &mut errors);
        let (Some(noted_on), Some(status), true) = (noted_on, status, errors.is_empty()) else {
            return Err(StoreError::Invalid(errors));
        };
        self.medication_span(grant.patient_id(), medication_id)
            .await?;
        let mut tx = self.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO medication_adherence (medication_id, noted_on, status, note,
                 recorded_by, recorded_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(medication_id)
        .bind(Day(noted_on))
        .bind(status.code())
        .bind(sealed_opt(self, ADHERENCE_NOTE_COLUMN, note.as_deref())?)
        .bind(staff_id)
        .bind(Instant::now())
        .fetch_one(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "create",
                record_type: "medication_adherence",
                record_id: Some(id),
                patient_id: Some(grant.patient_id()),
                detail: format!("medication {medication_id}"),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Records a side effect the patient reports on a medication.
    pub async fn record_side_effect(
        &self,
        grant: &PatientGrant<can::WriteClinical>,
        medication_id: i64,
        noted_on: Option<NaiveDate>,
        effect: &str,
        severity: &str,
        today: NaiveDate,
    ) -> Result<i64> {
        let staff_id = grant.actor().staff_id()?;
        let mut errors = Vec::new();
        let noted_on = past_day("noted_on", noted_on, today, &mut errors);
        let effect = required_text("effect", effect, MAX_TEXT, &mut errors);
        let severity = severity.parse::<SideEffectSeverity>().ok();
        if severity.is_none() {
            errors.push(FieldError::new(
                "severity",
                "choose mild, moderate or severe",
            ));
        }
        let (Some(noted_on), Some(severity), true) = (noted_on, severity, errors.is_empty()) else {
            return Err(StoreError::Invalid(errors));
        };
        self.medication_span(grant.patient_id(), medication_id)
            .await?;
        let mut tx = self.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO medication_side_effects (medication_id, noted_on, effect, severity,
                 recorded_by, recorded_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(medication_id)
        .bind(Day(noted_on))
        .bind(self.seal(EFFECT_COLUMN, &effect)?)
        .bind(severity.code())
        .bind(staff_id)
        .bind(Instant::now())
        .fetch_one(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "create",
                record_type: "medication_side_effect",
                record_id: Some(id),
                patient_id: Some(grant.patient_id()),
                detail: format!("medication {medication_id}"),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The patient's medications, active first then newest started (audited), with their
    /// adherence and side-effect entries; clinical text decrypted.
    pub async fn medications(
        &self,
        grant: &PatientGrant<can::ReadClinical>,
    ) -> Result<Vec<Medication>> {
        let patient_id = grant.patient_id();
        let mut reader = self.read_conn().await?;
        let mut tx = sqlx::Connection::begin(&mut *reader).await?;
        audit::record(
            self,
            grant.actor(),
            AuditEvent {
                action: "read",
                record_type: "medication",
                record_id: None,
                patient_id: Some(patient_id),
                detail: "medication list".into(),
            },
        )
        .await?;
        let rows: Vec<MedicationRow> = sqlx::query_as(
            "SELECT m.id, m.name, m.dose, m.route, m.frequency, m.prescriber_id,
                 COALESCE(u.display_name, m.prescriber_name) AS prescriber_name, m.started_on,
                 m.stopped_on, m.stop_reason, m.reason, m.moud, m.otp_dispensed
             FROM medications m LEFT JOIN users u ON u.id = m.prescriber_id
             WHERE m.patient_id = $1
             ORDER BY m.stopped_on IS NOT NULL, m.started_on DESC, m.id DESC",
        )
        .bind(patient_id)
        .fetch_all(&mut *tx)
        .await?;
        let adherence: Vec<AdherenceRow> = sqlx::query_as(
            "SELECT a.id, a.medication_id, a.noted_on, a.status, a.note,
                 u.display_name AS recorded_by_name
             FROM medication_adherence a JOIN medications m ON m.id = a.medication_id
             LEFT JOIN users u ON u.id = a.recorded_by
             WHERE m.patient_id = $1 ORDER BY a.noted_on DESC, a.id DESC",
        )
        .bind(patient_id)
        .fetch_all(&mut *tx)
        .await?;
        let coded = self.coded_ingredients(&mut tx, patient_id).await?;
        let effects: Vec<SideEffectRow> = sqlx::query_as(
            "SELECT s.id, s.medication_id, s.noted_on, s.effect, s.severity,
                 u.display_name AS recorded_by_name
             FROM medication_side_effects s JOIN medications m ON m.id = s.medication_id
             LEFT JOIN users u ON u.id = s.recorded_by
             WHERE m.patient_id = $1 ORDER BY s.noted_on DESC, s.id DESC",
        )
        .bind(patient_id)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let (name, dose, frequency) = self.open_medication(&r.name, &r.dose, &r.frequency)?;
            let adherence = adherence
                .iter()
                .filter(|a| a.medication_id == r.id)
                .map(|a| {
                    Ok(AdherenceEntry {
                        id: a.id,
                        noted_on: a.noted_on,
                        status: parse_code(&a.status, "adherence status")?,
                        note: opened_opt(self, ADHERENCE_NOTE_COLUMN, a.note.clone())?,
                        recorded_by_name: a.recorded_by_name.clone(),
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let side_effects = effects
                .iter()
                .filter(|s| s.medication_id == r.id)
                .map(|s| {
                    Ok(SideEffect {
                        id: s.id,
                        noted_on: s.noted_on,
                        effect: self.open(EFFECT_COLUMN, &s.effect)?,
                        severity: parse_code(&s.severity, "side-effect severity")?,
                        recorded_by_name: s.recorded_by_name.clone(),
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            out.push(Medication {
                id: r.id,
                ingredients: ingredients_of(&coded, r.id),
                route: parse_code(&r.route, "route")?,
                name,
                dose,
                frequency,
                prescriber_id: r.prescriber_id,
                prescriber_name: r.prescriber_name,
                started_on: r.started_on,
                stopped_on: r.stopped_on,
                stop_reason: opened_opt(self, STOP_REASON_COLUMN, r.stop_reason)?,
                reason: opened_opt(self, REASON_COLUMN, r.reason)?,
                moud: r.moud,
                otp_dispensed: r.otp_dispensed,
                adherence,
                side_effects,
            });
        }
        Ok(out)
    }

    /// Records a drug screen. Each result is assessed against the coded medications active on
    /// the collection day and stored with its finding and reason; in the same transaction a
    /// screen needing a response raises one safety flag (with its task for the primary
    /// counselor), and each prescriber review opens a task for the medication's prescriber on
    /// staff, or for the prescribers who see the patient when the prescriber is outside.
    pub async fn record_drug_screen(
        &self,
        grant: &PatientGrant<can::WriteClinical>,
        screen: &NewDrugScreen,
        today: NaiveDate,
    ) -> Result<RecordedScreen> {
        let staff_id = grant.actor().staff_id()?;
        let patient_id = grant.patient_id();
        let mut errors = Vec::new();
        let collected_on = past_day("collected_on", screen.collected_on, today, &mut errors);
        let specimen = screen.specimen.parse::<Specimen>().ok();
        if specimen.is_none() {
            errors.push(FieldError::new("specimen", "choose urine or oral fluid"));
        }
        let testing = screen.testing.parse::<Testing>().ok();
        if testing.is_none() {
            errors.push(FieldError::new(
                "testing",
                "choose point of care or laboratory",
            ));
        }
        let collected_by = optional_text("collected_by", &screen.collected_by, &mut errors);
        let mut seen = BTreeSet::new();
        let mut results = Vec::new();
        for (analyte, result) in &screen.results {
            let analyte = analyte.trim().to_lowercase();
            if analyte_label(&analyte).is_none() {
                errors.push(FieldError::new("results", "an analyte is not on the panel"));
                continue;
            }
            if !seen.insert(analyte.clone()) {
                errors.push(FieldError::new(
                    "results",
                    format!("{analyte} is given twice"),
                ));
                continue;
            }
            match result.parse::<ScreenResult>() {
                Ok(r) => results.push((analyte, r)),
                Err(()) => errors.push(FieldError::new(
                    "results",
                    format!("the result for {analyte} must be positive, negative or invalid"),
                )),
            }
        }
        if screen.results.is_empty() {
            errors.push(FieldError::new(
                "results",
                "give the result of at least one analyte",
            ));
        }
        let (Some(collected_on), Some(specimen), Some(testing), true) =
            (collected_on, specimen, testing, errors.is_empty())
        else {
            return Err(StoreError::Invalid(errors));
        };
        let mut tx = self.begin().await?;
        let mut active: Vec<ActiveRow> = sqlx::query_as(
            "SELECT id, name, moud, prescriber_id FROM medications WHERE patient_id = $1
               AND started_on <= $2 AND (stopped_on IS NULL OR stopped_on >= $2) ORDER BY id",
        )
        .bind(patient_id)
        .bind(Day(collected_on))
        .fetch_all(&mut *tx)
        .await?;
        for m in &mut active {
            m.name = self.open(NAME_COLUMN, &m.name)?;
        }
        let coded = self.coded_ingredients(&mut tx, patient_id).await?;
        let episode_id: Option<i64> =
            sqlx::query_scalar("SELECT id FROM episodes WHERE patient_id = $1 AND status = 'open'")
                .bind(patient_id)
                .fetch_optional(&mut *tx)
                .await?;
        let active_ingredients: Vec<Vec<String>> = active
            .iter()
            .map(|m| ingredients_of(&coded, m.id))
            .collect();
        let meds: Vec<ActiveMedication<'_>> = active
            .iter()
            .zip(&active_ingredients)
            .map(|(m, ingredients)| ActiveMedication {
                name: &m.name,
                ingredients,
                moud: m.moud,
            })
            .collect();
        let readings: Vec<(String, Reading)> = results
            .iter()
            .map(|(a, r)| (a.clone(), Reading::from(*r)))
            .collect();
        let assessment = assess(&readings, &meds);
        let flag_id = match (assessment.urgency, assessment.flag_summary(collected_on)) {
            (Some(urgency), Some(summary)) => {
                let severity = match urgency {
                    Urgency::High => Severity::High,
                    Urgency::Moderate => Severity::Moderate,
                };
                Some(
                    raise_flag(
                        self,
                        &mut tx,
                        grant.actor(),
                        patient_id,
                        SCREEN_FLAG_KIND,
                        severity,
                        &summary,
                    )
                    .await?,
                )
            }
            _ => None,
        };
        let mut review_task_ids = Vec::new();
        if !assessment.reviews.is_empty() {
            let due = patient_today(&mut tx, patient_id).await?;
            for review in &assessment.reviews {
                let prescriber = self
                    .staff_prescriber(&mut tx, active[review.medication].prescriber_id)
                    .await?;
                let title = format!(
                    "{} (screen collected {})",
                    review.title,
                    crate::readable_day(collected_on)
                );
                // Kept apart from the flag: the prescriber's review stays open until the
                // prescriber answers it, even after the counselor has responded to the flag.
                let task = NewTask {
                    patient_id: Some(patient_id),
                    flag_id: None,
                    kind: PRESCRIBER_REVIEW_TASK_KIND,
                    title: &title,
                    priority: "high",
                    assigned_to: prescriber,
                    assigned_role: prescriber.is_none().then_some(Role::Prescriber),
                    due_on: Some(due),
                };
                review_task_ids.push(open_task(self, &mut tx, grant.actor(), &task).await?);
            }
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO drug_screens (patient_id, episode_id, collected_on, specimen, observed,
                 testing, collected_by, flag_id, recorded_by, recorded_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        )
        .bind(patient_id)
        .bind(episode_id)
        .bind(Day(collected_on))
        .bind(specimen.code())
        .bind(screen.observed)
        .bind(testing.code())
        .bind(collected_by)
        .bind(flag_id)
        .bind(staff_id)
        .bind(Instant::now())
        .fetch_one(&mut *tx)
        .await?;
        for ((_, result), r) in results.iter().zip(&assessment.results) {
            sqlx::query(
                "INSERT INTO drug_screen_results (screen_id, analyte, result, expectation,
                     expectation_reason, finding, medication_id)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(id)
            .bind(self.seal(ANALYTE_COLUMN, &r.analyte)?)
            .bind(self.seal(RESULT_COLUMN, result.code())?)
            .bind(r.finding.map(Finding::expectation))
            .bind(sealed_opt(
                self,
                EXPECTATION_REASON_COLUMN,
                r.reason.as_deref(),
            )?)
            .bind(r.finding.map(Finding::code))
            .bind(r.medication.map(|i| active[i].id))
            .execute(&mut *tx)
            .await?;
        }
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "create",
                record_type: "drug_screen",
                record_id: Some(id),
                patient_id: Some(patient_id),
                detail: format!("{} results", assessment.results.len()),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(RecordedScreen {
            id,
            unexpected: assessment.unexpected(),
            flag_id,
            review_task_ids,
        })
    }

    /// The patient's drug screens, newest first, with results in panel order (audited).
    pub async fn drug_screens(
        &self,
        grant: &PatientGrant<can::ReadClinical>,
    ) -> Result<Vec<DrugScreen>> {
        let patient_id = grant.patient_id();
        let mut reader = self.read_conn().await?;
        let mut tx = sqlx::Connection::begin(&mut *reader).await?;
        audit::record(
            self,
            grant.actor(),
            AuditEvent {
                action: "read",
                record_type: "drug_screen",
                record_id: None,
                patient_id: Some(patient_id),
                detail: "screen list".into(),
            },
        )
        .await?;
        let screens: Vec<ScreenRow> = sqlx::query_as(
            "SELECT s.id, s.episode_id, s.collected_on, s.specimen, s.observed, s.testing,
                 s.collected_by, s.flag_id, u.display_name AS recorded_by_name, s.recorded_at
             FROM drug_screens s LEFT JOIN users u ON u.id = s.recorded_by
             WHERE s.patient_id = $1 ORDER BY s.collected_on DESC, s.id DESC",
        )
        .bind(patient_id)
        .fetch_all(&mut *tx)
        .await?;
        let mut results: Vec<ResultRow> = sqlx::query_as(
            "SELECT r.screen_id, r.analyte, r.result, r.expectation, r.expectation_reason,
                 r.finding, r.medication_id
             FROM drug_screen_results r JOIN drug_screens s ON s.id = r.screen_id
             WHERE s.patient_id = $1",
        )
        .bind(patient_id)
        .fetch_all(&mut *tx)
        .await?;
        for r in &mut results {
            r.analyte = self.open(ANALYTE_COLUMN, &r.analyte)?;
            r.result = self.open(RESULT_COLUMN, &r.result)?;
            r.expectation_reason =
                opened_opt(self, EXPECTATION_REASON_COLUMN, r.expectation_reason.take())?;
        }
        tx.commit().await?;
        screens
            .into_iter()
            .map(|s| {
                let mut mine = results
                    .iter()
                    .filter(|r| r.screen_id == s.id)
                    .map(|r| {
                        Ok(AnalyteResult {
                            analyte: r.analyte.clone(),
                            result: parse_code(&r.result, "screen result")?,
                            expected: (r.result == "positive")
                                .then(|| r.expectation.as_deref().map(|e| e == "expected"))
                                .flatten(),
                            finding: r
                                .finding
                                .as_deref()
                                .map(|f| {
                                    Finding::from_code(f).ok_or_else(|| {
                                        StoreError::Corrupt(format!("unknown screen finding {f}"))
                                    })
                                })
                                .transpose()?,
                            medication_id: r.medication_id,
                            reason: r.expectation_reason.clone(),
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                mine.sort_by_key(|r| panel_position(&r.analyte));
                Ok(DrugScreen {
                    id: s.id,
                    episode_id: s.episode_id,
                    collected_on: s.collected_on,
                    specimen: parse_code(&s.specimen, "specimen")?,
                    observed: s.observed,
                    testing: parse_code(&s.testing, "testing")?,
                    collected_by: s.collected_by,
                    flag_id: s.flag_id,
                    recorded_by_name: s.recorded_by_name,
                    recorded_at: s.recorded_at,
                    results: mine,
                })
            })
            .collect()
    }

    /// The medication's prescriber when they are an active staff prescriber; `None` sends the
    /// review to the prescriber role, whose task list shows it for patients in their view.
    async fn staff_prescriber(
        &self,
        tx: &mut sqlx::AnyConnection,
        prescriber_id: Option<i64>,
    ) -> Result<Option<i64>> {
        let Some(id) = prescriber_id else {
            return Ok(None);
        };
        Ok(sqlx::query_scalar(
            "SELECT id FROM users WHERE id = $1 AND active = $2 AND role = 'prescriber'",
        )
        .bind(id)
        .bind(true)
        .fetch_optional(&mut *tx)
        .await?)
    }

    /// Every result of the patient's screens collected on or after `since`, oldest first
    /// (audited): what a step-down or review rule reads.
    pub async fn screen_results_since(
        &self,
        grant: &PatientGrant<can::ReadClinical>,
        since: NaiveDate,
    ) -> Result<Vec<ScreenResultRow>> {
        let mut reader = self.read_conn().await?;
        let mut tx = sqlx::Connection::begin(&mut *reader).await?;
        audit::record(
            self,
            grant.actor(),
            AuditEvent {
                action: "read",
                record_type: "drug_screen",
                record_id: None,
                patient_id: Some(grant.patient_id()),
                detail: format!("results since {since}"),
            },
        )
        .await?;
        let mut rows: Vec<ScreenResultRow> = sqlx::query_as(
            "SELECT s.id AS screen_id, s.collected_on, r.analyte, r.result, r.expectation
             FROM drug_screens s JOIN drug_screen_results r ON r.screen_id = s.id
             WHERE s.patient_id = $1 AND s.collected_on >= $2",
        )
        .bind(grant.patient_id())
        .bind(Day(since))
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        for r in &mut rows {
            r.analyte = self.open(ANALYTE_COLUMN, &r.analyte)?;
            r.result = self.open(RESULT_COLUMN, &r.result)?;
        }
        // The analyte is sealed, so the order is made here.
        rows.sort_by(|a, b| {
            (a.collected_on.0, a.screen_id, &a.analyte).cmp(&(
                b.collected_on.0,
                b.screen_id,
                &b.analyte,
            ))
        });
        Ok(rows)
    }
}

/// A medication's coded ingredients, in the domain table's order.
fn ingredients_of(coded: &[(i64, String)], medication_id: i64) -> Vec<String> {
    let mut mine: Vec<String> = coded
        .iter()
        .filter(|(m, _)| *m == medication_id)
        .map(|(_, c)| c.clone())
        .collect();
    mine.sort_by_key(|c| {
        trellis_domain::screens::INGREDIENTS
            .iter()
            .position(|i| i.rxcui == c)
            .unwrap_or(usize::MAX)
    });
    mine
}

impl From<ScreenResult> for Reading {
    fn from(r: ScreenResult) -> Reading {
        match r {
            ScreenResult::Positive => Reading::Positive,
            ScreenResult::Negative => Reading::Negative,
            ScreenResult::Invalid => Reading::Invalid,
        }
    }
}
