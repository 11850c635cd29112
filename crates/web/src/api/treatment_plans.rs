//! Treatment plans: versions, drafts, revisions, signatures, and overdue reviews.

use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use trellis_domain::patient::FieldError;
use trellis_storage::access::can;
use trellis_storage::treatment_plans::{
    Goal, Intervention, Modality, Objective, ObjectiveStatus, PlanContent, PlanSignatures, Problem,
};

use super::extract::{JsonBody, PathId};
use super::paging::{PageQuery, Paged, Paging};
use super::responses::CreatedAt;
use super::responses::{BadBody, Forbidden, NotFound, Stale, Unauthenticated};
use super::versions::{etag, IfMatch};
use crate::error::{ApiError, ApiErrorBody, ApiFieldError, AppError};
use crate::identity::ApiCaller;
use crate::AppState;

/// The `{id}` (patient) and `{version}` path parameters; malformed ones are a 400.
pub struct PlanPath(pub i64, pub i64);

impl<S: Send + Sync> FromRequestParts<S> for PlanPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<(i64, i64)>::from_request_parts(parts, state)
            .await
            .map(|Path((id, version))| PlanPath(id, version))
            .map_err(|_| ApiError::Request {
                status: StatusCode::BAD_REQUEST,
                code: "bad_request",
                message: "the patient id and version in the path must be whole numbers".into(),
                fields: vec![ApiFieldError {
                    field: "id".into(),
                    message: "must be a whole number".into(),
                }],
            })
    }
}

/// An intervention as sent.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct InterventionBody {
    /// individual_cbt, dbt_skills, group, family_therapy, psychoeducation,
    /// medication_management, peer_support, case_management, motivational_interviewing or
    /// relapse_prevention.
    #[serde(default)]
    #[schema(required = true)]
    pub modality: String,
    /// How often, in words ("weekly").
    #[serde(default)]
    #[schema(required = true)]
    pub frequency: String,
    /// The responsible staff member's id.
    #[serde(default)]
    #[schema(required = true)]
    pub staff_id: i64,
}

/// An objective as sent.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ObjectiveBody {
    /// The measurable objective.
    #[serde(default)]
    #[schema(required = true)]
    pub text: String,
    /// Target date, YYYY-MM-DD.
    #[serde(default)]
    #[schema(required = true, format = Date)]
    pub target_on: String,
    /// open (default), met, not_met or revised.
    #[serde(default)]
    pub status: Option<String>,
    /// At least one intervention.
    #[serde(default)]
    #[schema(required = true)]
    pub interventions: Vec<InterventionBody>,
}

/// A goal as sent.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct GoalBody {
    /// The goal in the patient's own words.
    #[serde(default)]
    #[schema(required = true)]
    pub text: String,
    /// At least one objective.
    #[serde(default)]
    #[schema(required = true)]
    pub objectives: Vec<ObjectiveBody>,
}

/// A problem as sent.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ProblemBody {
    /// The problem.
    #[serde(default)]
    #[schema(required = true)]
    pub text: String,
    /// The diagnosis on the patient's list it comes from (its id), if any.
    #[serde(default)]
    pub diagnosis_id: Option<i64>,
    /// ICD-10-CM code of the diagnosis it comes from (e.g. F10.20), if any, when no
    /// `diagnosis_id` is given: it must be on the patient's diagnosis list.
    #[serde(default)]
    pub diagnosis_code: Option<String>,
    /// The assessment finding it comes from, if any.
    #[serde(default)]
    pub finding: Option<String>,
    /// At least one goal.
    #[serde(default)]
    #[schema(required = true)]
    pub goals: Vec<GoalBody>,
}

/// A plan version's content as sent.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PlanBody {
    /// At least one problem.
    #[serde(default)]
    #[schema(required = true)]
    pub problems: Vec<ProblemBody>,
}

impl PlanBody {
    fn content(self) -> Result<PlanContent, AppError> {
        let mut errors = Vec::new();
        let mut problems = Vec::new();
        for (p, problem) in self.problems.into_iter().enumerate() {
            let mut goals = Vec::new();
            for (g, goal) in problem.goals.into_iter().enumerate() {
                let mut objectives = Vec::new();
                for (o, objective) in goal.objectives.into_iter().enumerate() {
                    let place = format!("Problem {}, goal {}, objective {}", p + 1, g + 1, o + 1);
                    let target_on =
                        NaiveDate::parse_from_str(objective.target_on.trim(), "%Y-%m-%d").ok();
                    if target_on.is_none() {
                        errors.push(FieldError::new(
                            "target_on",
                            format!("{place}: a target date (YYYY-MM-DD) is required"),
                        ));
                    }
                    let status = match objective.status.as_deref() {
                        None | Some("") => Some(ObjectiveStatus::Open),
                        Some(s) => s.parse().ok(),
                    };
                    if status.is_none() {
                        errors.push(FieldError::new(
                            "status",
                            format!("{place}: must be open, met, not_met or revised"),
                        ));
                    }
                    let mut interventions = Vec::new();
                    for (i, intervention) in objective.interventions.into_iter().enumerate() {
                        match intervention.modality.parse::<Modality>() {
                            Ok(modality) => interventions.push(Intervention {
                                modality,
                                frequency: intervention.frequency,
                                staff_id: intervention.staff_id,
                            }),
                            Err(_) => errors.push(FieldError::new(
                                "modality",
                                format!("{place}, intervention {}: unknown modality", i + 1),
                            )),
                        }
                    }
                    if let (Some(target_on), Some(status)) = (target_on, status) {
                        objectives.push(Objective {
                            id: None,
                            text: objective.text,
                            target_on,
                            status,
                            interventions,
                        });
                    }
                }
                goals.push(Goal {
                    text: goal.text,
                    objectives,
                });
            }
            problems.push(Problem {
                text: problem.text,
                diagnosis_code: problem.diagnosis_code,
                diagnosis_id: problem.diagnosis_id,
                finding: problem.finding,
                goals,
            });
        }
        if errors.is_empty() {
            Ok(PlanContent { problems })
        } else {
            Err(AppError::Invalid(errors))
        }
    }
}

/// An intervention.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InterventionOut {
    /// Modality code.
    pub modality: String,
    /// How often.
    pub frequency: String,
    /// Responsible staff member's id.
    pub staff_id: i64,
}

/// An objective, with the id notes link.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ObjectiveOut {
    /// Id (link it from progress notes' objective_ids once the version is signed).
    pub id: Option<i64>,
    /// The measurable objective.
    pub text: String,
    /// Target date.
    pub target_on: NaiveDate,
    /// open, met, not_met or revised.
    pub status: String,
    /// Interventions.
    pub interventions: Vec<InterventionOut>,
}

/// A goal.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GoalOut {
    /// In the patient's own words.
    pub text: String,
    /// Objectives.
    pub objectives: Vec<ObjectiveOut>,
}

/// A problem.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProblemOut {
    /// The problem.
    pub text: String,
    /// ICD-10-CM code, normalised.
    pub diagnosis_code: Option<String>,
    /// The diagnosis on the patient's list it comes from.
    pub diagnosis_id: Option<i64>,
    /// Assessment finding.
    pub finding: Option<String>,
    /// Goals.
    pub goals: Vec<GoalOut>,
}

/// One plan version.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TreatmentPlan {
    /// Row id.
    pub id: i64,
    /// Patient.
    pub patient_id: i64,
    /// Episode it was written in.
    pub episode_id: Option<i64>,
    /// Version number.
    pub version: i64,
    /// Problems → goals → objectives → interventions.
    pub problems: Vec<ProblemOut>,
    /// Who wrote it.
    pub created_by_name: String,
    /// When started.
    pub created_at: DateTime<Utc>,
    /// The patient's typed signature.
    pub patient_signature: Option<String>,
    /// When the patient signed.
    pub patient_signed_at: Option<DateTime<Utc>>,
    /// The clinician's typed signature.
    pub clinician_signature: Option<String>,
    /// The signing clinician's staff id.
    pub clinician_signed_by: Option<i64>,
    /// When signed (a signed version is locked).
    pub clinician_signed_at: Option<DateTime<Utc>>,
    /// When the review is due.
    pub review_due_on: Option<NaiveDate>,
    /// Whether the review date has passed.
    pub review_overdue: bool,
}

fn plan_dto(p: trellis_storage::treatment_plans::TreatmentPlan, today: NaiveDate) -> TreatmentPlan {
    TreatmentPlan {
        review_overdue: p.review_overdue(today),
        id: p.id,
        patient_id: p.patient_id,
        episode_id: p.episode_id,
        version: p.version,
        problems: p
            .content
            .problems
            .into_iter()
            .map(|problem| ProblemOut {
                text: problem.text,
                diagnosis_code: problem.diagnosis_code,
                diagnosis_id: problem.diagnosis_id,
                finding: problem.finding,
                goals: problem
                    .goals
                    .into_iter()
                    .map(|g| GoalOut {
                        text: g.text,
                        objectives: g
                            .objectives
                            .into_iter()
                            .map(|o| ObjectiveOut {
                                id: o.id,
                                text: o.text,
                                target_on: o.target_on,
                                status: o.status.code().into(),
                                interventions: o
                                    .interventions
                                    .into_iter()
                                    .map(|i| InterventionOut {
                                        modality: i.modality.code().into(),
                                        frequency: i.frequency,
                                        staff_id: i.staff_id,
                                    })
                                    .collect(),
                            })
                            .collect(),
                    })
                    .collect(),
            })
            .collect(),
        created_by_name: p.created_by_name,
        created_at: p.created_at.0,
        patient_signature: p.patient_signature,
        patient_signed_at: p.patient_signed_at.map(|s| s.0),
        clinician_signature: p.clinician_signature,
        clinician_signed_by: p.clinician_signed_by,
        clinician_signed_at: p.clinician_signed_at.map(|s| s.0),
        review_due_on: p.review_due_on.map(|d| d.0),
    }
}

/// A version in the history (no clinical text).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PlanVersion {
    /// Row id.
    pub id: i64,
    /// Version number.
    pub version: i64,
    /// Who wrote it.
    pub created_by_name: String,
    /// When started.
    pub created_at: DateTime<Utc>,
    /// When signed; none for the draft.
    pub clinician_signed_at: Option<DateTime<Utc>>,
    /// When its review was due.
    pub review_due_on: Option<NaiveDate>,
}

/// The new version.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedVersion {
    /// Row id.
    pub id: i64,
    /// Version number.
    pub version: i64,
}

/// The patient's plan versions, newest first (the read is audited).
#[utoipa::path(get, path = "/patients/{id}/treatment-plans", tag = "treatment plans",
    params(PageQuery, ("id" = i64, Path, description = "Patient id")),
    responses(
        (status = 200, description = "The versions", body = Vec<PlanVersion>,
            headers(("X-Total-Count" = i64, description = "How many entries the whole list has"))),
        Unauthenticated, Forbidden, NotFound,
    ))]
pub async fn list_versions(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    paging: Paging,
) -> Result<Paged<PlanVersion>, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::ReadClinical>(&caller.actor, id)
        .await?;
    Ok(paging.page(
        state
            .store
            .plan_versions(&grant)
            .await?
            .into_iter()
            .map(|v| PlanVersion {
                id: v.id,
                version: v.version,
                created_by_name: v.created_by_name,
                created_at: v.created_at.0,
                clinician_signed_at: v.clinician_signed_at.map(|s| s.0),
                review_due_on: v.review_due_on.map(|d| d.0),
            })
            .collect(),
    ))
}

/// Writes a new version: version 1, or a revision (the next version, with the content sent)
/// after the latest signed one. 409 while an unsigned draft exists.
#[utoipa::path(post, path = "/patients/{id}/treatment-plans", tag = "treatment plans",
    params(("id" = i64, Path, description = "Patient id")),
    request_body = PlanBody,
    responses(
        (status = 201, description = "Draft version saved", body = CreatedVersion,
            headers(("Location" = String, description = "Where the new record is read: its own URL, or the list it appears in"))),
        (status = 409, description = "An unsigned draft exists: change or sign it", body = ApiErrorBody),
        Unauthenticated, Forbidden, NotFound, BadBody,
    ))]
pub async fn create_version(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    body: JsonBody<PlanBody>,
) -> Result<CreatedAt<CreatedVersion>, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::WriteClinical>(&caller.actor, id)
        .await?;
    let content = body.parse()?.content()?;
    let created = state.store.write_plan(&grant, &content).await?;
    Ok(CreatedAt(
        format!("/api/v1/patients/{id}/treatment-plans/{}", created.version),
        CreatedVersion {
            id: created.id,
            version: created.version,
        },
    ))
}

/// One version (the read is audited). Needs `read_clinical` for the patient. The `ETag` names
/// the version of the draft read: send it back as `If-Match` when saving it.
#[utoipa::path(get, path = "/patients/{id}/treatment-plans/{version}", tag = "treatment plans",
    params(
        ("id" = i64, Path, description = "Patient id"),
        ("version" = i64, Path, description = "Version number"),
    ),
    responses(
        (status = 200, description = "The version", body = TreatmentPlan,
            headers(("ETag" = String, description = "The version of the draft read"))),
        Unauthenticated, Forbidden, NotFound,
    ))]
pub async fn get_version(
    State(state): State<AppState>,
    caller: ApiCaller,
    PlanPath(id, version): PlanPath,
) -> Result<Response, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::ReadClinical>(&caller.actor, id)
        .await?;
    let plan = state.store.plan_version(&grant, version).await?;
    let version = etag(plan.updated_at.0);
    Ok((
        [(header::ETAG, version)],
        Json(plan_dto(plan, state.today())),
    )
        .into_response())
}

/// Replaces an unsigned draft's content; a signed version answers 409 (revise instead). Needs
/// `write_clinical` for the patient. With `If-Match` (the `ETag` of a read) the draft is saved
/// only if nobody changed it since: else 412 and nothing is saved.
#[utoipa::path(put, path = "/patients/{id}/treatment-plans/{version}", tag = "treatment plans",
    params(
        ("id" = i64, Path, description = "Patient id"),
        ("version" = i64, Path, description = "Version number"),
        ("If-Match" = Option<String>, Header, description = "The ETag of the version read"),
    ),
    request_body = PlanBody,
    responses(
        (status = 204, description = "Saved"),
        (status = 409, description = "The version is signed and locked", body = ApiErrorBody),
        Unauthenticated, Forbidden, NotFound, BadBody, Stale,
    ))]
pub async fn update_version(
    State(state): State<AppState>,
    caller: ApiCaller,
    PlanPath(id, version): PlanPath,
    if_match: IfMatch,
    body: JsonBody<PlanBody>,
) -> Result<StatusCode, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::WriteClinical>(&caller.actor, id)
        .await?;
    let content = body.parse()?.content()?;
    let last_changed = if_match.last_changed("the treatment plan version")?;
    state
        .store
        .update_plan_draft_if(&grant, version, &content, last_changed)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The typed signatures.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct SignBody {
    /// The patient's full name as they typed it.
    #[serde(default)]
    #[schema(required = true)]
    pub patient_signature: String,
    /// The clinician's full name as they typed it (the clinician is the caller).
    #[serde(default)]
    #[schema(required = true)]
    pub clinician_signature: String,
}

/// When the signed version's review is due.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Signed {
    /// Review due date (signing date plus the program's review interval).
    pub review_due_on: NaiveDate,
}

/// Signs a draft version (patient and clinician), locking it.
#[utoipa::path(post, path = "/patients/{id}/treatment-plans/{version}/sign", tag = "treatment plans",
    params(
        ("id" = i64, Path, description = "Patient id"),
        ("version" = i64, Path, description = "Version number"),
    ),
    request_body = SignBody,
    responses(
        (status = 200, description = "Signed", body = Signed),
        (status = 409, description = "Already signed", body = ApiErrorBody),
        Unauthenticated, Forbidden, NotFound, BadBody,
    ))]
pub async fn sign_version(
    State(state): State<AppState>,
    caller: ApiCaller,
    PlanPath(id, version): PlanPath,
    body: JsonBody<SignBody>,
) -> Result<Json<Signed>, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::WriteClinical>(&caller.actor, id)
        .await?;
    let body = body.parse()?;
    let due = state
        .store
        .sign_plan(
            &grant,
            version,
            &PlanSignatures {
                patient: body.patient_signature,
                clinician: body.clinician_signature,
            },
            state.today(),
        )
        .await?;
    Ok(Json(Signed { review_due_on: due }))
}

/// A plan overdue for review.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OverdueReview {
    /// Patient.
    pub patient_id: i64,
    /// Their name.
    pub patient_name: String,
    /// The version in force.
    pub version: i64,
    /// When its review was due.
    pub review_due_on: NaiveDate,
}

/// Plans in force whose review is overdue, for patients whose primary counselor is the caller.
#[utoipa::path(get, path = "/treatment-plans/overdue", tag = "treatment plans",
    params(PageQuery),
    responses(
        (status = 200, description = "Overdue reviews", body = Vec<OverdueReview>,
            headers(("X-Total-Count" = i64, description = "How many entries the whole list has"))),
        Unauthenticated, Forbidden,
    ))]
pub async fn overdue_reviews(
    State(state): State<AppState>,
    caller: ApiCaller,
    paging: Paging,
) -> Result<Paged<OverdueReview>, ApiError> {
    let grant = state.store.grant::<can::ReadClinical>(&caller.actor)?;
    Ok(paging.page(
        state
            .store
            .overdue_plan_reviews(&grant, state.today())
            .await?
            .into_iter()
            .map(|r| OverdueReview {
                patient_id: r.patient_id,
                patient_name: r.patient_name,
                version: r.version,
                review_due_on: r.review_due_on.0,
            })
            .collect(),
    ))
}

/// A caseload patient with no signed plan in their open episode.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UnsignedPlan {
    /// Patient.
    pub patient_id: i64,
    /// Their name.
    pub patient_name: String,
    /// When the open episode began.
    pub admitted_on: NaiveDate,
    /// Draft versions waiting for signatures (0: none written).
    pub drafts: i64,
}

/// Patients whose primary counselor is the caller and who have no signed plan since admission,
/// longest-admitted first.
#[utoipa::path(get, path = "/treatment-plans/unsigned", tag = "treatment plans",
    params(PageQuery),
    responses(
        (status = 200, description = "Patients without a signed plan", body = Vec<UnsignedPlan>,
            headers(("X-Total-Count" = i64, description = "How many entries the whole list has"))),
        Unauthenticated, Forbidden,
    ))]
pub async fn unsigned_plans(
    State(state): State<AppState>,
    caller: ApiCaller,
    paging: Paging,
) -> Result<Paged<UnsignedPlan>, ApiError> {
    let grant = state.store.grant::<can::ReadClinical>(&caller.actor)?;
    Ok(paging.page(
        state
            .store
            .unsigned_plans(&grant)
            .await?
            .into_iter()
            .map(|r| UnsignedPlan {
                patient_id: r.patient_id,
                patient_name: r.patient_name,
                admitted_on: r.admitted_on.0,
                drafts: r.drafts,
            })
            .collect(),
    ))
}
