//! Intake assessments with the recommended and actual level of care, and diagnoses.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use trellis_domain::patient::FieldError;
use trellis_domain::placement::{
    DiagnosisGroup, Dimension, DiscrepancyReason, Population, Recommendation, CURATED_DIAGNOSES,
};
use trellis_storage::access::can;
use trellis_storage::assessments::{self, NewAssessment, NewDiagnosis, SubstanceUse};

use super::contract::when;
use super::extract::{JsonBody, PathId};
use super::paging::{PageQuery, Paged, Paging};
use super::responses::CreatedAt;
use super::responses::{BadBody, BadQuery, Forbidden, NotFound, Unauthenticated};
use crate::error::{ApiError, ApiErrorBody, AppError};
use crate::identity::ApiCaller;
use crate::pages::assessments::{parse_placement, parse_ratings};
use crate::AppState;
use utoipa::openapi::schema::Object;

/// One substance the patient uses or has used.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Substance {
    /// The substance in the clinician's words.
    #[serde(default)]
    #[schema(required = true)]
    pub substance: String,
    /// Route: oral, smoking, inhalation, injection or other.
    #[serde(default)]
    #[schema(required = true)]
    pub route: String,
    /// Frequency in the past 30 days: none_past_month, 1_3_month, 1_2_week, 3_6_week or daily.
    #[serde(default)]
    #[schema(required = true)]
    pub frequency: String,
    /// Age at first use, in years.
    pub age_first_use: Option<u8>,
    /// The day of last use.
    pub last_use_on: Option<NaiveDate>,
}

/// One ASAM dimension's rating.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DimensionRatingBody {
    /// d1 … d6.
    pub dimension: String,
    /// The 0–4 risk rating.
    pub rating: i64,
    /// The clinician's justification.
    #[serde(default)]
    pub narrative: String,
}

/// A rule that fired.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReasonBody {
    /// Rule id as in docs/clinical-rules/placement.md (e.g. D2-2, SR, LOW-NIC).
    pub rule: String,
    /// The minimum level this rule calls for.
    pub minimum_level: String,
    /// Whether this rule set the recommended level.
    pub decisive: bool,
    /// The reason as one sentence.
    pub text: String,
}

/// The level the placement rules recommend, with why.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RecommendationBody {
    /// ASAM level code (e.g. 2.1).
    pub level: String,
    /// The level's name.
    pub level_name: String,
    /// Weekly service hours the level means, for ambulatory levels.
    pub weekly_hours: Option<String>,
    /// Each rule that fired, most intensive first.
    pub reasons: Vec<ReasonBody>,
    /// Points to act on or confirm (imminent danger, current suicide risk from a recent
    /// C-SSRS or PHQ-9 item 9, no qualifying SUD diagnosis).
    pub cautions: Vec<String>,
}

fn recommendation(r: &Recommendation) -> RecommendationBody {
    RecommendationBody {
        level: r.level.code().to_owned(),
        level_name: r.level.name().to_owned(),
        weekly_hours: r.weekly_hours.map(|h| h.to_string()),
        reasons: r
            .reasons
            .iter()
            .map(|reason| ReasonBody {
                rule: reason.rule.id().to_owned(),
                minimum_level: reason.minimum_level.code().to_owned(),
                decisive: reason.decisive,
                text: reason.text.clone(),
            })
            .collect(),
        cautions: r.cautions.iter().map(|c| c.message()).collect(),
    }
}

/// The clinician's placement.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PlacementBody {
    /// ASAM level code chosen.
    pub actual_level: String,
    /// Discrepancy reason codes.
    pub discrepancy_reasons: Vec<String>,
    /// Text for the "other" reason.
    pub discrepancy_other: String,
    /// Explanation.
    pub discrepancy_explanation: String,
    /// Who decided.
    pub placed_by: Option<String>,
    /// When it was recorded.
    pub placed_at: DateTime<Utc>,
}

/// An intake assessment.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AssessmentBody {
    /// Id.
    pub id: i64,
    /// The episode open when it was done.
    pub episode_id: Option<i64>,
    /// The day it was done.
    pub assessed_on: NaiveDate,
    /// adult or adolescent.
    pub population: String,
    /// Narrative by section: presenting_problem, prior_treatment, mental_health, medical,
    /// legal, living_situation, employment, family.
    pub sections: BTreeMap<String, String>,
    /// Substances.
    pub substances: Vec<Substance>,
    /// The six ratings, d1 to d6.
    pub ratings: Vec<DimensionRatingBody>,
    /// What the rules recommended at the time.
    pub recommendation: RecommendationBody,
    /// The clinician's decision, once recorded.
    pub placement: Option<PlacementBody>,
    /// Who recorded it.
    pub recorded_by: Option<String>,
    /// When.
    pub recorded_at: DateTime<Utc>,
}

fn assessment(a: assessments::Assessment) -> AssessmentBody {
    AssessmentBody {
        id: a.id,
        episode_id: a.episode_id,
        assessed_on: a.assessed_on.0,
        population: match a.population {
            Population::Adult => "adult",
            Population::Adolescent => "adolescent",
        }
        .to_owned(),
        sections: a.sections,
        substances: a
            .substances
            .into_iter()
            .map(|s| Substance {
                substance: s.substance,
                route: s.route,
                frequency: s.frequency,
                age_first_use: s.age_first_use,
                last_use_on: s.last_use_on,
            })
            .collect(),
        ratings: a
            .ratings
            .iter()
            .map(|r| DimensionRatingBody {
                dimension: r.dimension.code().to_owned(),
                rating: i64::from(r.rating.value()),
                narrative: r.narrative.clone(),
            })
            .collect(),
        recommendation: recommendation(&a.recommendation),
        placement: a.placement.map(|p| PlacementBody {
            actual_level: p.actual.code().to_owned(),
            discrepancy_reasons: p.reasons.iter().map(|r| r.code().to_owned()).collect(),
            discrepancy_other: p.other_text,
            discrepancy_explanation: p.explanation,
            placed_by: p.placed_by_name,
            placed_at: p.placed_at.0,
        }),
        recorded_by: a.recorded_by_name,
        recorded_at: a.recorded_at.0,
    }
}

/// The patient's intake assessments, newest first, each with the recommendation made at the
/// time and the placement recorded (the read is audited).
#[utoipa::path(get, path = "/patients/{id}/assessments", tag = "assessments",
    params(PageQuery, ("id" = i64, Path, description = "Patient id")),
    responses(
        (status = 200, description = "The assessments", body = Vec<AssessmentBody>,
            headers(("X-Total-Count" = i64, description = "How many entries the whole list has"))),
        Unauthenticated, Forbidden, NotFound,
    ))]
pub async fn list_assessments(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    paging: Paging,
) -> Result<Paged<AssessmentBody>, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::ReadClinical>(&caller.actor, id)
        .await?;
    let list = state.store.assessments(&grant).await?;
    Ok(paging.page(list.into_iter().map(assessment).collect()))
}

/// An intake assessment to record.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewAssessmentBody {
    /// The day it was done (not in the future).
    pub assessed_on: Option<NaiveDate>,
    /// Narrative by section key (see the assessment's `sections`).
    #[serde(default)]
    pub sections: BTreeMap<String, String>,
    /// Substances.
    #[serde(default)]
    pub substances: Vec<Substance>,
    /// All six dimensions, each rated 0–4.
    #[serde(default)]
    #[schema(required = true)]
    pub ratings: Vec<DimensionRatingBody>,
}

/// A recorded assessment and its recommendation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RecordedAssessment {
    /// Id; record the placement at /assessments/{id}/placement.
    pub id: i64,
    /// The recommended level with its reasons and cautions.
    pub recommendation: RecommendationBody,
}

/// Records an intake assessment (or a reassessment: a new record, history is kept) and
/// answers the recommended level of care with the reasons that led to it. The patient's active
/// diagnoses (nicotine alone does not qualify) and the latest C-SSRS and PHQ-9 item 9 from the
/// 30 days up to the assessment day also count (docs/clinical-rules/placement.md). A rating outside
/// 0–4, a missing or repeated dimension, or a bad substance row answers 422 naming it.
#[utoipa::path(post, path = "/patients/{id}/assessments", tag = "assessments",
    params(("id" = i64, Path, description = "Patient id")),
    request_body = NewAssessmentBody,
    responses(
        (status = 201, description = "Recorded, with the recommendation", body = RecordedAssessment,
            headers(("Location" = String, description = "Where the new record is read: its own URL, or the list it appears in"))),
        Unauthenticated, Forbidden, NotFound, BadBody,
    ))]
pub async fn record_assessment(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    body: JsonBody<NewAssessmentBody>,
) -> Result<CreatedAt<RecordedAssessment>, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::WriteClinical>(&caller.actor, id)
        .await?;
    let body = body.parse()?;
    let mut errors = Vec::new();
    if body.assessed_on.is_none() {
        errors.push(FieldError::new("assessed_on", "is required (YYYY-MM-DD)"));
    }
    let mut values: BTreeMap<String, String> = BTreeMap::new();
    for r in &body.ratings {
        match r.dimension.parse::<Dimension>() {
            Ok(d) => {
                if values.contains_key(d.code()) {
                    errors.push(FieldError::new(
                        "ratings",
                        format!("{d}: rated more than once"),
                    ));
                }
                values.insert(d.code().to_owned(), r.rating.to_string());
                values.insert(format!("{}_narrative", d.code()), r.narrative.clone());
            }
            Err(e) => errors.push(FieldError::new("ratings", e.to_string())),
        }
    }
    let ratings = parse_ratings(|k| values.get(k).cloned().unwrap_or_default(), &mut errors);
    let (Some(assessed_on), Some(ratings), true) = (body.assessed_on, ratings, errors.is_empty())
    else {
        return Err(AppError::Invalid(errors).into());
    };
    let (assessment_id, rec) = state
        .store
        .record_assessment(
            &grant,
            &NewAssessment {
                assessed_on,
                sections: body.sections,
                substances: body
                    .substances
                    .into_iter()
                    .map(|s| SubstanceUse {
                        substance: s.substance,
                        route: s.route,
                        frequency: s.frequency,
                        age_first_use: s.age_first_use,
                        last_use_on: s.last_use_on,
                    })
                    .collect(),
                ratings,
            },
            state.today(),
        )
        .await?;
    Ok(CreatedAt(
        format!("/api/v1/patients/{id}/assessments"),
        RecordedAssessment {
            id: assessment_id,
            recommendation: recommendation(&rec),
        },
    ))
}

/// The placement decision.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PlacementRequest {
    /// ASAM level code the patient is placed at (e.g. 2.1).
    #[serde(default)]
    #[schema(required = true, schema_with = super::codes::level_of_care)]
    pub actual_level: String,
    /// Discrepancy reason codes: at least one besides not_applicable when the level differs
    /// from the recommendation as stored, none besides not_applicable when it agrees.
    #[serde(default)]
    #[schema(schema_with = super::codes::discrepancy_reasons)]
    pub discrepancy_reasons: Vec<String>,
    /// Text for "other" (required with it), at most 10000 characters.
    #[serde(default)]
    #[schema(max_length = 10000)]
    pub discrepancy_other: String,
    /// Optional explanation, at most 10000 characters.
    #[serde(default)]
    #[schema(max_length = 10000)]
    pub discrepancy_explanation: String,
}

/// The reason "other" needs its text.
pub fn placement_rules(object: &mut Object) {
    when(
        object,
        json!({
            "required": ["discrepancy_reasons"],
            "properties": { "discrepancy_reasons": { "contains": { "const": DiscrepancyReason::Other.code() } } },
        }),
        json!({
            "required": ["discrepancy_other"],
            "properties": { "discrepancy_other": { "pattern": "\\S" } },
        }),
    );
}

/// Records the actual level of care for an assessment. A level other than the recommended
/// one needs at least one discrepancy reason, and "other" needs text (422 naming the field).
/// A placement is recorded once (409 after that; record a reassessment instead).
#[utoipa::path(post, path = "/assessments/{id}/placement", tag = "assessments",
    params(("id" = i64, Path, description = "Assessment id")),
    request_body = PlacementRequest,
    responses(
        (status = 204, description = "Recorded"),
        (status = 409, description = "The placement is already recorded, or the discrepancy \
            reasons do not fit the recommendation as stored", body = ApiErrorBody),
        Unauthenticated, Forbidden, NotFound, BadBody,
    ))]
pub async fn record_placement(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    body: JsonBody<PlacementRequest>,
) -> Result<StatusCode, ApiError> {
    let patient = state.store.assessment_patient_id(id).await?;
    let grant = state
        .store
        .patient_grant::<can::WriteClinical>(&caller.actor, patient)
        .await?;
    let body = body.parse()?;
    let mut errors = Vec::new();
    let input = parse_placement(
        &body.actual_level,
        &body.discrepancy_reasons,
        &body.discrepancy_other,
        &body.discrepancy_explanation,
        &mut errors,
    );
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors).into());
    }
    state
        .store
        .record_placement(&grant, id, &input)
        .await
        .map_err(super::contract::against_record(&["discrepancy_reasons"]))?;
    Ok(StatusCode::NO_CONTENT)
}

/// A diagnosis on the patient's list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DiagnosisBody {
    /// Id.
    pub id: i64,
    /// ICD-10-CM code, normalised (F10.20).
    pub code: String,
    /// Description.
    pub description: String,
    /// Whether it is the primary diagnosis.
    pub primary: bool,
    /// Onset.
    pub onset_on: Option<NaiveDate>,
    /// When it was resolved (null while active).
    pub resolved_on: Option<NaiveDate>,
    /// Who recorded it.
    pub recorded_by: Option<String>,
    /// When.
    pub recorded_at: DateTime<Utc>,
}

/// The patient's diagnoses, active first with the primary at the top (the read is audited).
#[utoipa::path(get, path = "/patients/{id}/diagnoses", tag = "assessments",
    params(PageQuery, ("id" = i64, Path, description = "Patient id")),
    responses(
        (status = 200, description = "The diagnoses", body = Vec<DiagnosisBody>,
            headers(("X-Total-Count" = i64, description = "How many entries the whole list has"))),
        Unauthenticated, Forbidden, NotFound,
    ))]
pub async fn list_diagnoses(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    paging: Paging,
) -> Result<Paged<DiagnosisBody>, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::ReadClinical>(&caller.actor, id)
        .await?;
    let list = state.store.diagnoses(&grant).await?;
    Ok(paging.page(
        list.into_iter()
            .map(|d| DiagnosisBody {
                id: d.id,
                code: d.code.to_string(),
                description: d.description,
                primary: d.primary,
                onset_on: d.onset_on.map(|o| o.0),
                resolved_on: d.resolved_on.map(|r| r.0),
                recorded_by: d.recorded_by_name,
                recorded_at: d.recorded_at.0,
            })
            .collect(),
    ))
}

/// A diagnosis to add.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"code": "F10.20", "primary": true, "onset_on": "2024-06-01"}))]
pub struct NewDiagnosisBody {
    /// ICD-10-CM code; case, spaces and the dot are forgiven (f1020 is F10.20).
    #[serde(default)]
    #[schema(required = true)]
    pub code: String,
    /// Description; omit for a code on the curated list, required otherwise.
    #[serde(default)]
    pub description: String,
    /// Make it the primary diagnosis (the previous primary stops being primary).
    #[serde(default)]
    pub primary: bool,
    /// Onset (not in the future).
    pub onset_on: Option<NaiveDate>,
}

/// The new diagnosis's id.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedDiagnosis {
    /// Id.
    pub id: i64,
}

/// Adds a diagnosis. A malformed code answers 422 saying what is wrong with it; a code
/// already active is refused.
#[utoipa::path(post, path = "/patients/{id}/diagnoses", tag = "assessments",
    params(("id" = i64, Path, description = "Patient id")),
    request_body = NewDiagnosisBody,
    responses(
        (status = 201, description = "Added", body = CreatedDiagnosis,
            headers(("Location" = String, description = "Where the new record is read: its own URL, or the list it appears in"))),
        Unauthenticated, Forbidden, NotFound, BadBody,
    ))]
pub async fn add_diagnosis(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    body: JsonBody<NewDiagnosisBody>,
) -> Result<CreatedAt<CreatedDiagnosis>, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::WriteClinical>(&caller.actor, id)
        .await?;
    let body = body.parse()?;
    let diagnosis_id = state
        .store
        .add_diagnosis(
            &grant,
            &NewDiagnosis {
                code: body.code,
                description: body.description,
                primary: body.primary,
                onset_on: body.onset_on,
            },
            state.today(),
        )
        .await?;
    Ok(CreatedAt(
        format!("/api/v1/patients/{id}/diagnoses"),
        CreatedDiagnosis { id: diagnosis_id },
    ))
}

/// When a diagnosis was resolved.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ResolveDiagnosisBody {
    /// The day (not in the future, not before onset).
    #[schema(value_type = NaiveDate, required = true)]
    pub resolved_on: Option<NaiveDate>,
}

/// Marks a diagnosis resolved; it stays on the list.
#[utoipa::path(post, path = "/diagnoses/{id}/resolve", tag = "assessments",
    params(("id" = i64, Path, description = "Diagnosis id")),
    request_body = ResolveDiagnosisBody,
    responses(
        (status = 204, description = "Resolved"),
        (status = 409, description = "Already resolved (conflict)", body = ApiErrorBody),
        Unauthenticated, Forbidden, NotFound, BadBody,
    ))]
pub async fn resolve_diagnosis(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    body: JsonBody<ResolveDiagnosisBody>,
) -> Result<StatusCode, ApiError> {
    let patient = state.store.diagnosis_patient_id(id).await?;
    let grant = state
        .store
        .patient_grant::<can::WriteClinical>(&caller.actor, patient)
        .await?;
    let body = body.parse()?;
    let Some(resolved_on) = body.resolved_on else {
        return Err(AppError::Invalid(vec![FieldError::new(
            "resolved_on",
            "is required (YYYY-MM-DD)",
        )])
        .into());
    };
    state
        .store
        .resolve_diagnosis(&grant, id, resolved_on, state.today())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A code on the curated pick list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CuratedCode {
    /// ICD-10-CM code.
    pub code: String,
    /// Description.
    pub description: String,
    /// substance_use (F10–F19) or co_occurring.
    pub group: String,
}

/// The curated pick list: the F10–F19 substance use codes and common co-occurring codes
/// (no patient data). Any other well-formed code may be entered with a description.
#[utoipa::path(get, path = "/diagnosis-codes", tag = "assessments",
    params(PageQuery),
    responses(
        (status = 200, description = "The pick list", body = Vec<CuratedCode>,
            headers(("X-Total-Count" = i64, description = "How many entries the whole list has"))),
        Unauthenticated, BadQuery,
    ))]
pub async fn curated_codes(_caller: ApiCaller, paging: Paging) -> Paged<CuratedCode> {
    paging.page(
        CURATED_DIAGNOSES
            .iter()
            .map(|d| CuratedCode {
                code: d.code.to_owned(),
                description: d.description.to_owned(),
                group: match d.group {
                    DiagnosisGroup::SubstanceUse => "substance_use",
                    DiagnosisGroup::CoOccurring => "co_occurring",
                }
                .to_owned(),
            })
            .collect(),
    )
}
