//! Medications (coded RxNorm ingredients, prescriber, MOUD marked), adherence, side effects and
//! drug screens. A screen needing a response raises a safety flag and a task for the primary
//! counselor; an MOUD adherence finding or an explained opioid positive also opens a review
//! task for the medication's prescriber.

use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use trellis_domain::screens::{ingredient, Finding, INGREDIENTS};
use trellis_storage::access::can;
use trellis_storage::medications::{self, NewDrugScreen, NewMedication};

use super::episodes::Created;
use super::extract::{ApiQuery, JsonBody, PathId};
use super::paging::{PageQuery, Paged, Paging};
use super::responses::CreatedAt;
use super::responses::{BadBody, BadQuery, Forbidden, NotFound, Unauthenticated};
use crate::error::{ApiError, ApiFieldError};
use crate::identity::ApiCaller;
use crate::AppState;

/// The `{id}` (patient) and `{medication}` path parameters; malformed ones are a 400.
pub struct MedicationPath(i64, i64);

impl<S: Send + Sync> FromRequestParts<S> for MedicationPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<(i64, i64)>::from_request_parts(parts, state)
            .await
            .map(|Path((patient, medication))| MedicationPath(patient, medication))
            .map_err(|_| ApiError::Request {
                status: StatusCode::BAD_REQUEST,
                code: "bad_request",
                message: "the ids in the path must be whole numbers".into(),
                fields: vec![ApiFieldError {
                    field: "id".into(),
                    message: "must be a whole number".into(),
                }],
            })
    }
}

/// How the patient was taking a medication on a day.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AdherenceEntry {
    /// Id.
    pub id: i64,
    /// Noted on.
    pub noted_on: NaiveDate,
    /// as_prescribed, missed_doses or not_taking.
    pub status: String,
    /// Note.
    pub note: Option<String>,
}

/// A side effect the patient reported.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SideEffect {
    /// Id.
    pub id: i64,
    /// Noted on.
    pub noted_on: NaiveDate,
    /// The effect.
    pub effect: String,
    /// mild, moderate or severe.
    pub severity: String,
}

/// An RxNorm ingredient code (RXCUI) from Trellis's table; any other code is refused (422 on
/// `ingredients`).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IngredientCode(pub String);

impl utoipa::PartialSchema for IngredientCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some(format!(
                "RxNorm ingredient code (RXCUI): {}",
                INGREDIENTS
                    .iter()
                    .map(|i| format!("{} {}", i.rxcui, i.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            )))
            .enum_values(Some(INGREDIENTS.iter().map(|i| i.rxcui)))
            .into()
    }
}

impl utoipa::ToSchema for IngredientCode {}

/// A coded ingredient of a medication.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CodedIngredient {
    /// RxNorm ingredient code (RXCUI).
    #[schema(inline)]
    pub rxcui: IngredientCode,
    /// Ingredient name.
    pub name: String,
}

/// A medication with its adherence and side-effect entries.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Medication {
    /// Id.
    pub id: i64,
    /// Name and strength.
    pub name: String,
    /// Dose.
    pub dose: String,
    /// Route code (oral, sublingual, buccal, intramuscular, subcutaneous, transdermal,
    /// intranasal, inhaled, other).
    pub route: String,
    /// Frequency.
    pub frequency: String,
    /// Coded RxNorm ingredients; empty when not coded, and then it explains no screen result.
    pub ingredients: Vec<CodedIngredient>,
    /// Prescriber on staff.
    pub prescriber_id: Option<i64>,
    /// Prescriber's name.
    pub prescriber_name: Option<String>,
    /// Started on.
    pub started_on: NaiveDate,
    /// Stopped on.
    pub stopped_on: Option<NaiveDate>,
    /// Why it was stopped.
    pub stop_reason: Option<String>,
    /// Why it is prescribed.
    pub reason: Option<String>,
    /// A medication for opioid use disorder.
    pub moud: bool,
    /// Dispensed by an opioid treatment program.
    pub otp_dispensed: bool,
    /// Adherence entries, newest first.
    pub adherence: Vec<AdherenceEntry>,
    /// Side effects, newest first.
    pub side_effects: Vec<SideEffect>,
}

fn medication(m: medications::Medication) -> Medication {
    Medication {
        id: m.id,
        name: m.name,
        dose: m.dose,
        route: m.route.code().to_owned(),
        frequency: m.frequency,
        ingredients: m
            .ingredients
            .into_iter()
            .map(|c| CodedIngredient {
                name: ingredient(&c).map_or("unknown", |i| i.name).to_owned(),
                rxcui: IngredientCode(c),
            })
            .collect(),
        prescriber_id: m.prescriber_id,
        prescriber_name: m.prescriber_name,
        started_on: m.started_on.0,
        stopped_on: m.stopped_on.map(|d| d.0),
        stop_reason: m.stop_reason,
        reason: m.reason,
        moud: m.moud,
        otp_dispensed: m.otp_dispensed,
        adherence: m
            .adherence
            .into_iter()
            .map(|a| AdherenceEntry {
                id: a.id,
                noted_on: a.noted_on.0,
                status: a.status.code().to_owned(),
                note: a.note,
            })
            .collect(),
        side_effects: m
            .side_effects
            .into_iter()
            .map(|s| SideEffect {
                id: s.id,
                noted_on: s.noted_on.0,
                effect: s.effect,
                severity: s.severity.code().to_owned(),
            })
            .collect(),
    }
}

/// The patient's medications, current first (the read is audited).
#[utoipa::path(get, path = "/patients/{id}/medications", tag = "medications",
    params(PageQuery, ("id" = i64, Path, description = "Patient id")),
    responses(
        (status = 200, description = "The medications", body = Vec<Medication>,
            headers(("X-Total-Count" = i64, description = "How many entries the whole list has"))),
        Unauthenticated, Forbidden, NotFound,
    ))]
pub async fn list_medications(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    paging: Paging,
) -> Result<Paged<Medication>, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::ReadClinical>(&caller.actor, id)
        .await?;
    let list = state.store.medications(&grant).await?;
    Ok(paging.page(list.into_iter().map(medication).collect()))
}

/// A medication to record.
#[derive(Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
#[schema(example = json!({"name": "Naltrexone", "dose": "50 mg", "route": "oral", "frequency": "once daily", "started_on": "2026-11-03", "ingredients": ["7243"], "moud": true, "prescriber_name": "Dr. A. Outside, MD"}))]
pub struct NewMedicationBody {
    /// Name and strength, e.g. "Buprenorphine/naloxone 8/2 mg film".
    #[schema(required = true)]
    pub name: String,
    /// Dose.
    #[schema(required = true)]
    pub dose: String,
    /// Route code.
    #[schema(required = true)]
    pub route: String,
    /// Frequency.
    #[schema(required = true)]
    pub frequency: String,
    /// Its RxNorm ingredients (e.g. ["1819", "7242"] for buprenorphine/naloxone). Only coded
    /// ingredients explain a screen result; leave empty for a medication not in the list.
    #[schema(inline)]
    pub ingredients: Vec<IngredientCode>,
    /// A prescriber on staff (a user with the prescriber role). A current medication (no
    /// `stopped_on`) needs this or `prescriber_name`, not both.
    pub prescriber_id: Option<i64>,
    /// Or an outside prescriber's name.
    pub prescriber_name: Option<String>,
    /// Started on (not in the future).
    #[schema(required = true)]
    pub started_on: Option<NaiveDate>,
    /// Stopped on, for a past medication (not before it started).
    pub stopped_on: Option<NaiveDate>,
    /// Why it was stopped.
    pub stop_reason: Option<String>,
    /// Why it is prescribed.
    pub reason: Option<String>,
    /// MOUD; omitted or null takes it from the ingredients (buprenorphine, methadone,
    /// naltrexone). true needs one of those ingredients.
    pub moud: Option<bool>,
    /// Dispensed by an opioid treatment program (MOUD only).
    pub otp_dispensed: bool,
}

/// Records a medication with its coded ingredients and prescriber. MOUD is taken from the
/// ingredients (buprenorphine, methadone, naltrexone) unless `moud` says otherwise. An unknown
/// ingredient code, a current medication without a prescriber, or both prescriber fields are a
/// 422 naming the field.
#[utoipa::path(post, path = "/patients/{id}/medications", tag = "medications",
    params(("id" = i64, Path, description = "Patient id")),
    request_body = NewMedicationBody,
    responses(
        (status = 201, description = "Recorded", body = Created,
            headers(("Location" = String, description = "Where the new record is read: its own URL, or the list it appears in"))),
        Unauthenticated, Forbidden, NotFound, BadBody,
    ))]
pub async fn add_medication(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    body: JsonBody<NewMedicationBody>,
) -> Result<CreatedAt<Created>, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::WriteClinical>(&caller.actor, id)
        .await?;
    let b = body.parse()?;
    let new = NewMedication {
        name: b.name,
        dose: b.dose,
        route: b.route,
        frequency: b.frequency,
        ingredients: b.ingredients.into_iter().map(|c| c.0).collect(),
        prescriber_id: b.prescriber_id,
        prescriber_name: b.prescriber_name,
        started_on: b.started_on,
        stopped_on: b.stopped_on,
        stop_reason: b.stop_reason,
        reason: b.reason,
        moud: b.moud,
        otp_dispensed: b.otp_dispensed,
    };
    let id = state
        .store
        .record_medication(&grant, &new, state.today())
        .await?;
    Ok(CreatedAt(
        format!("/api/v1/patients/{id}/medications"),
        Created { id },
    ))
}

/// Stopping a medication.
#[derive(Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct StopMedicationBody {
    /// Stopped on (not before it started, not in the future).
    #[schema(required = true)]
    pub stopped_on: Option<NaiveDate>,
    /// Why.
    #[schema(required = true)]
    pub stop_reason: String,
}

/// Stops a medication.
#[utoipa::path(post, path = "/patients/{id}/medications/{medication}/stop", tag = "medications",
    params(("id" = i64, Path, description = "Patient id"),
        ("medication" = i64, Path, description = "Medication id")),
    request_body = StopMedicationBody,
    responses(
        (status = 204, description = "Stopped"),
        (status = 409, description = "Already stopped (conflict)", body = crate::error::ApiErrorBody),
        Unauthenticated, Forbidden, NotFound, BadBody,
    ))]
pub async fn stop_medication(
    State(state): State<AppState>,
    caller: ApiCaller,
    MedicationPath(id, medication): MedicationPath,
    body: JsonBody<StopMedicationBody>,
) -> Result<StatusCode, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::WriteClinical>(&caller.actor, id)
        .await?;
    let b = body.parse()?;
    state
        .store
        .stop_medication(
            &grant,
            medication,
            b.stopped_on,
            &b.stop_reason,
            state.today(),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An adherence entry to record.
#[derive(Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct AdherenceBody {
    /// Noted on (not in the future).
    #[schema(required = true)]
    pub noted_on: Option<NaiveDate>,
    /// as_prescribed, missed_doses or not_taking.
    #[schema(required = true, schema_with = super::codes::adherence)]
    pub status: String,
    /// Note.
    pub note: Option<String>,
}

/// Records how the patient is taking a medication.
#[utoipa::path(post, path = "/patients/{id}/medications/{medication}/adherence", tag = "medications",
    params(("id" = i64, Path, description = "Patient id"),
        ("medication" = i64, Path, description = "Medication id")),
    request_body = AdherenceBody,
    responses(
        (status = 201, description = "Recorded", body = Created,
            headers(("Location" = String, description = "Where the new record is read: its own URL, or the list it appears in"))),
        Unauthenticated, Forbidden, NotFound, BadBody,
    ))]
pub async fn record_adherence(
    State(state): State<AppState>,
    caller: ApiCaller,
    MedicationPath(id, medication): MedicationPath,
    body: JsonBody<AdherenceBody>,
) -> Result<CreatedAt<Created>, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::WriteClinical>(&caller.actor, id)
        .await?;
    let b = body.parse()?;
    let created = state
        .store
        .record_adherence(
            &grant,
            medication,
            b.noted_on,
            &b.status,
            &b.note,
            state.today(),
        )
        .await?;
    Ok(CreatedAt(
        format!("/api/v1/patients/{id}/medications"),
        Created { id: created },
    ))
}

/// A side effect to record.
#[derive(Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct SideEffectBody {
    /// Noted on (not in the future).
    #[schema(required = true)]
    pub noted_on: Option<NaiveDate>,
    /// The effect.
    #[schema(required = true)]
    pub effect: String,
    /// mild, moderate or severe.
    #[schema(required = true, schema_with = super::codes::side_effect_severity)]
    pub severity: String,
}

/// Records a side effect the patient reports.
#[utoipa::path(post, path = "/patients/{id}/medications/{medication}/side-effects", tag = "medications",
    params(("id" = i64, Path, description = "Patient id"),
        ("medication" = i64, Path, description = "Medication id")),
    request_body = SideEffectBody,
    responses(
        (status = 201, description = "Recorded", body = Created,
            headers(("Location" = String, description = "Where the new record is read: its own URL, or the list it appears in"))),
        Unauthenticated, Forbidden, NotFound, BadBody,
    ))]
pub async fn record_side_effect(
    State(state): State<AppState>,
    caller: ApiCaller,
    MedicationPath(id, medication): MedicationPath,
    body: JsonBody<SideEffectBody>,
) -> Result<CreatedAt<Created>, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::WriteClinical>(&caller.actor, id)
        .await?;
    let b = body.parse()?;
    let created = state
        .store
        .record_side_effect(
            &grant,
            medication,
            b.noted_on,
            &b.effect,
            &b.severity,
            state.today(),
        )
        .await?;
    Ok(CreatedAt(
        format!("/api/v1/patients/{id}/medications"),
        Created { id: created },
    ))
}

/// What an analyte's result means.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScreenFinding {
    /// Explained by a coded prescription.
    Expected,
    /// An explained opioid: the prescriber reviews and confirms.
    Review,
    /// Nothing prescribed explains it.
    Unexpected,
    /// Unexpected, with a known cross-reactant: presumptive, confirm.
    Presumptive,
    /// An active MOUD expected but not detected.
    NotDetected,
    /// The MOUD's parent drug without its metabolite.
    NoMetabolite,
}

impl From<Finding> for ScreenFinding {
    fn from(f: Finding) -> Self {
        match f {
            Finding::Expected => ScreenFinding::Expected,
            Finding::Review => ScreenFinding::Review,
            Finding::Unexpected => ScreenFinding::Unexpected,
            Finding::Presumptive => ScreenFinding::Presumptive,
            Finding::NotDetected => ScreenFinding::NotDetected,
            Finding::NoMetabolite => ScreenFinding::NoMetabolite,
        }
    }
}

/// One analyte's result.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AnalyteResult {
    /// Panel code: amphetamines, methamphetamine, barbiturates, benzodiazepines,
    /// buprenorphine, norbuprenorphine, cocaine, fentanyl, mdma, methadone, eddp,
    /// methylphenidate, opiates, 6mam (heroin), oxycodone, pcp, thc, tramadol, xylazine or etg
    /// (alcohol).
    pub analyte: String,
    /// positive, negative or invalid.
    pub result: String,
    /// For a positive: whether a coded medication active on the collection day explains it.
    #[serde(default)]
    pub expected: Option<bool>,
    /// What the result means: expected, review (an explained opioid: the prescriber reviews
    /// and confirms), unexpected, presumptive (unexpected, with a known cross-reactant),
    /// not_detected (an active MOUD expected but not detected) or no_metabolite (the MOUD's
    /// parent drug without its metabolite); null for a plain negative or invalid result.
    #[serde(default)]
    pub finding: Option<ScreenFinding>,
    /// Whether the result should be confirmed by LC-MS/MS before it changes care.
    #[serde(default)]
    pub confirm: bool,
    /// The medication that explains it or was expected on the specimen.
    #[serde(default)]
    pub medication_id: Option<i64>,
    /// Why it was classified so.
    #[serde(default)]
    pub reason: Option<String>,
}

/// A drug screen with its results.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DrugScreen {
    /// Id.
    pub id: i64,
    /// The episode it was collected in.
    pub episode_id: Option<i64>,
    /// Collected on.
    pub collected_on: NaiveDate,
    /// urine or oral_fluid.
    pub specimen: String,
    /// Whether collection was observed.
    pub observed: bool,
    /// point_of_care or lab.
    pub testing: String,
    /// Who collected it.
    pub collected_by: Option<String>,
    /// The flag its unexpected positives raised.
    pub flag_id: Option<i64>,
    /// Recorded at.
    pub recorded_at: DateTime<Utc>,
    /// Results in panel order (analytes not tested are absent).
    pub results: Vec<AnalyteResult>,
}

/// Which screens to list.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct ScreensQuery {
    /// Only screens collected on or after this day.
    pub since: Option<NaiveDate>,
}

/// The patient's drug screens, newest first (the read is audited).
#[utoipa::path(get, path = "/patients/{id}/drug-screens", tag = "medications",
    params(PageQuery, ("id" = i64, Path, description = "Patient id"), ScreensQuery),
    responses(
        (status = 200, description = "The screens", body = Vec<DrugScreen>,
            headers(("X-Total-Count" = i64, description = "How many entries the whole list has"))),
        Unauthenticated, Forbidden, NotFound, BadQuery,
    ))]
pub async fn list_screens(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    ApiQuery(q): ApiQuery<ScreensQuery>,
    paging: Paging,
) -> Result<Paged<DrugScreen>, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::ReadClinical>(&caller.actor, id)
        .await?;
    let list = state.store.drug_screens(&grant).await?;
    Ok(paging.page(
        list.into_iter()
            .filter(|s| q.since.is_none_or(|since| s.collected_on.0 >= since))
            .map(|s| DrugScreen {
                id: s.id,
                episode_id: s.episode_id,
                collected_on: s.collected_on.0,
                specimen: s.specimen.code().to_owned(),
                observed: s.observed,
                testing: s.testing.code().to_owned(),
                collected_by: s.collected_by,
                flag_id: s.flag_id,
                recorded_at: s.recorded_at.0,
                results: s
                    .results
                    .into_iter()
                    .map(|r| AnalyteResult {
                        analyte: r.analyte,
                        result: r.result.code().to_owned(),
                        expected: r.expected,
                        finding: r.finding.map(ScreenFinding::from),
                        confirm: r.finding.is_some_and(Finding::needs_confirmation),
                        medication_id: r.medication_id,
                        reason: r.reason,
                    })
                    .collect(),
            })
            .collect(),
    ))
}

/// One analyte's result to record.
#[derive(Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct NewAnalyteResult {
    /// Panel code (see the screen's results).
    #[schema(required = true)]
    pub analyte: String,
    /// positive, negative or invalid.
    #[schema(required = true)]
    pub result: String,
}

/// A drug screen to record.
#[derive(Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct NewDrugScreenBody {
    /// Collected on (not in the future).
    #[schema(required = true)]
    pub collected_on: Option<NaiveDate>,
    /// urine or oral_fluid.
    #[schema(required = true)]
    pub specimen: String,
    /// Whether collection was observed.
    pub observed: bool,
    /// point_of_care or lab.
    #[schema(required = true)]
    pub testing: String,
    /// Who collected it.
    pub collected_by: Option<String>,
    /// The analytes tested (at least one); leave out those not tested.
    #[schema(required = true)]
    pub results: Vec<NewAnalyteResult>,
}

/// What recording a screen produced.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RecordedScreen {
    /// Id.
    pub id: i64,
    /// Analytes whose positives no active medication explains.
    pub unexpected: Vec<String>,
    /// The safety flag the screen raised (with a task for the primary counselor).
    pub flag_id: Option<i64>,
    /// Review tasks opened for the medications' prescribers (MOUD adherence findings and
    /// explained opioid positives).
    pub review_task_ids: Vec<i64>,
}

/// Records a drug screen. Each result is assessed against the coded medications active on the
/// collection day: unexpected positives, MOUD adherence findings and explained opioid positives
/// raise a safety flag on the chart and a task for the primary counselor that stays open until
/// someone records the response; adherence findings and explained opioids also open a review
/// task for the medication's prescriber (the prescribers who see the patient when the
/// prescriber is outside).
#[utoipa::path(post, path = "/patients/{id}/drug-screens", tag = "medications",
    params(("id" = i64, Path, description = "Patient id")),
    request_body = NewDrugScreenBody,
    responses(
        (status = 201, description = "Recorded and classified", body = RecordedScreen,
            headers(("Location" = String, description = "Where the new record is read: its own URL, or the list it appears in"))),
        Unauthenticated, Forbidden, NotFound, BadBody,
    ))]
pub async fn record_screen(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    body: JsonBody<NewDrugScreenBody>,
) -> Result<CreatedAt<RecordedScreen>, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::WriteClinical>(&caller.actor, id)
        .await?;
    let b = body.parse()?;
    let screen = NewDrugScreen {
        collected_on: b.collected_on,
        specimen: b.specimen,
        observed: b.observed,
        testing: b.testing,
        collected_by: b.collected_by,
        results: b
            .results
            .into_iter()
            .map(|r| (r.analyte, r.result))
            .collect(),
    };
    let recorded = state
        .store
        .record_drug_screen(&grant, &screen, state.today())
        .await?;
    Ok(CreatedAt(
        format!("/api/v1/patients/{id}/drug-screens"),
        RecordedScreen {
            id: recorded.id,
            unexpected: recorded.unexpected,
            flag_id: recorded.flag_id,
            review_task_ids: recorded.review_task_ids,
        },
    ))
}
