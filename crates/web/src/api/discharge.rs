//! Discharge summary, aftercare plan, 30/60/90-day follow-ups and their outcome report.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use trellis_storage::access::can;
use trellis_storage::discharge::{AftercareItem, DischargeSummary, FollowUp, OutcomeCounts};

use super::episodes::Created;
use super::extract::{JsonBody, PathId};
use super::paging::{PageQuery, Paged, Paging};
use super::responses::CreatedAt;
use super::responses::{BadBody, Forbidden, NotFound, Unauthenticated};
use crate::error::{ApiError, ApiErrorBody};
use crate::identity::ApiCaller;
use crate::pages::{parse_aftercare, parse_outcome};
use crate::AppState;

/// One section of a discharge summary.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SummarySection {
    /// stay, levels, attendance, curriculum, measures, plan_progress, medications, referrals,
    /// course or recommendations.
    pub key: String,
    /// Its heading.
    pub label: String,
    /// Its text.
    pub text: String,
}

/// A discharge summary: generated from the record, edited while a draft, locked once signed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Summary {
    /// Id.
    pub id: i64,
    /// Episode.
    pub episode_id: i64,
    /// Patient.
    pub patient_id: i64,
    /// Sections in print order.
    pub sections: Vec<SummarySection>,
    /// When drafted.
    pub generated_at: DateTime<Utc>,
    /// Last edit.
    pub updated_at: DateTime<Utc>,
    /// When signed.
    pub signed_at: Option<DateTime<Utc>>,
    /// Who signed.
    pub signed_by_name: Option<String>,
}

fn summary_dto(s: DischargeSummary) -> Summary {
    Summary {
        id: s.id,
        episode_id: s.episode_id,
        patient_id: s.patient_id,
        sections: s
            .sections
            .into_iter()
            .map(|x| SummarySection {
                key: x.key,
                label: x.label,
                text: x.text,
            })
            .collect(),
        generated_at: s.generated_at.0,
        updated_at: s.updated_at.0,
        signed_at: s.signed_at.map(|t| t.0),
        signed_by_name: s.signed_by_name,
    }
}

/// One line of an aftercare plan.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Aftercare {
    /// Id (absent for the 988 crisis line every plan carries).
    pub id: Option<i64>,
    /// step_down, mutual_help, alumni_group, sober_living, psychiatry, primary_care, referral,
    /// other or crisis_line_988.
    pub kind: String,
    /// Provider, meeting, residence or description.
    pub detail: Option<String>,
    /// Contact.
    pub contact: Option<String>,
    /// First appointment.
    pub scheduled_on: Option<NaiveDate>,
}

fn aftercare_dto(a: AftercareItem) -> Aftercare {
    Aftercare {
        id: a.id,
        kind: a.kind.code().to_owned(),
        detail: a.detail,
        contact: a.contact,
        scheduled_on: a.scheduled_on.map(|d| d.0),
    }
}

/// A follow-up call after discharge and, once recorded, its outcome.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FollowUpCall {
    /// The outreach task (record the outcome with its id).
    pub task_id: i64,
    /// 30, 60 or 90.
    pub days_after: i64,
    /// Due date.
    pub due_on: NaiveDate,
    /// Assigned to.
    pub assigned_to_name: Option<String>,
    /// reached or not_reached.
    pub contact_result: Option<String>,
    /// in_recovery, returned_to_use, readmitted or unknown.
    pub recovery_status: Option<String>,
    /// Note.
    pub note: Option<String>,
    /// When recorded.
    pub recorded_at: Option<DateTime<Utc>>,
}

fn follow_up_dto(f: FollowUp) -> FollowUpCall {
    FollowUpCall {
        task_id: f.task_id,
        days_after: f.days_after,
        due_on: f.due_on.0,
        assigned_to_name: f.assigned_to_name,
        contact_result: f.contact_result.map(|c| c.code().to_owned()),
        recovery_status: f.recovery_status.map(|s| s.code().to_owned()),
        note: f.note,
        recorded_at: f.recorded_at.map(|t| t.0),
    }
}

/// Counts for the 30-, 60- or 90-day follow-up.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OutcomeRow {
    /// 30, 60 or 90.
    pub days_after: i64,
    /// Scheduled.
    pub scheduled: i64,
    /// Still open.
    pub open: i64,
    /// Open and past due.
    pub overdue: i64,
    /// Reached.
    pub reached: i64,
    /// Not reached.
    pub not_reached: i64,
    /// In recovery.
    pub in_recovery: i64,
    /// Returned to use.
    pub returned_to_use: i64,
    /// Readmitted.
    pub readmitted: i64,
    /// Unknown.
    pub unknown: i64,
}

fn outcome_dto(r: OutcomeCounts) -> OutcomeRow {
    OutcomeRow {
        days_after: r.days_after,
        scheduled: r.scheduled,
        open: r.open,
        overdue: r.overdue,
        reached: r.reached,
        not_reached: r.not_reached,
        in_recovery: r.in_recovery,
        returned_to_use: r.returned_to_use,
        readmitted: r.readmitted,
        unknown: r.unknown,
    }
}

/// The episode's discharge summary, or null before it is drafted (the read is audited).
#[utoipa::path(get, path = "/episodes/{id}/discharge-summary", tag = "discharge",
    params(("id" = i64, Path, description = "Episode id")),
    responses(
        (status = 200, description = "The summary, or null", body = Option<Summary>),
        Unauthenticated, Forbidden, NotFound,
    ))]
pub async fn get_summary(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
) -> Result<Json<Option<Summary>>, ApiError> {
    let patient = state.store.episode_patient_id(id).await?;
    let grant = state
        .store
        .patient_grant::<can::ReadClinical>(&caller.actor, patient)
        .await?;
    let summary = state.store.discharge_summary(&grant, id).await?;
    Ok(Json(summary.map(summary_dto)))
}

/// Drafts the summary of a discharged episode from the record.
#[utoipa::path(post, path = "/episodes/{id}/discharge-summary", tag = "discharge",
    params(("id" = i64, Path, description = "Episode id")),
    responses(
        (status = 201, description = "Draft generated", body = Created,
            headers(("Location" = String, description = "Where the new record is read: its own URL, or the list it appears in"))),
        (status = 409, description = "The episode is open, or already has a summary", body = ApiErrorBody),
        Unauthenticated, Forbidden, NotFound,
    ))]
pub async fn generate_summary(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
) -> Result<CreatedAt<Created>, ApiError> {
    let patient = state.store.episode_patient_id(id).await?;
    let grant = state
        .store
        .patient_grant::<can::WriteClinical>(&caller.actor, patient)
        .await?;
    let episode = id;
    let id = state.store.generate_discharge_summary(&grant, id).await?;
    Ok(CreatedAt(
        format!("/api/v1/episodes/{episode}/discharge-summary"),
        Created { id },
    ))
}

/// Section text to save, by key; keys left out keep their text.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct SummarySections {
    /// Section text by key.
    #[serde(default)]
    #[schema(required = true)]
    pub sections: BTreeMap<String, String>,
}

/// Saves a draft summary's sections (a signed summary answers 409).
#[utoipa::path(put, path = "/discharge-summaries/{id}", tag = "discharge",
    params(("id" = i64, Path, description = "Summary id")),
    request_body = SummarySections,
    responses(
        (status = 204, description = "Saved"),
        (status = 409, description = "The summary is signed", body = ApiErrorBody),
        Unauthenticated, Forbidden, NotFound, BadBody,
    ))]
pub async fn update_summary(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    body: JsonBody<SummarySections>,
) -> Result<StatusCode, ApiError> {
    let (patient, _) = state.store.discharge_summary_owner(id).await?;
    let grant = state
        .store
        .patient_grant::<can::WriteClinical>(&caller.actor, patient)
        .await?;
    let sections = body.parse()?.sections;
    state
        .store
        .update_discharge_summary(&grant, id, &sections)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Signs the summary, locking it; the course of treatment must be written.
#[utoipa::path(post, path = "/discharge-summaries/{id}/sign", tag = "discharge",
    params(("id" = i64, Path, description = "Summary id")),
    responses(
        (status = 204, description = "Signed"),
        (status = 409, description = "Already signed", body = ApiErrorBody),
        (status = 422, description = "The course of treatment is empty (validation_failed)", body = ApiErrorBody),
        Unauthenticated, Forbidden, NotFound,
    ))]
pub async fn sign_summary(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    let (patient, _) = state.store.discharge_summary_owner(id).await?;
    let grant = state
        .store
        .patient_grant::<can::WriteClinical>(&caller.actor, patient)
        .await?;
    state.store.sign_discharge_summary(&grant, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The episode's aftercare plan, the 988 crisis line first (the read is audited).
#[utoipa::path(get, path = "/episodes/{id}/aftercare", tag = "discharge",
    params(PageQuery, ("id" = i64, Path, description = "Episode id")),
    responses(
        (status = 200, description = "The plan", body = Vec<Aftercare>,
            headers(("X-Total-Count" = i64, description = "How many entries the whole list has"))),
        Unauthenticated, Forbidden, NotFound,
    ))]
pub async fn aftercare_plan(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    paging: Paging,
) -> Result<Paged<Aftercare>, ApiError> {
    let patient = state.store.episode_patient_id(id).await?;
    let grant = state
        .store
        .patient_grant::<can::ReadClinical>(&caller.actor, patient)
        .await?;
    Ok(paging.page(
        state
            .store
            .aftercare_plan(&grant, id)
            .await?
            .into_iter()
            .map(aftercare_dto)
            .collect(),
    ))
}

/// A line to add to an aftercare plan.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewAftercare {
    /// step_down, mutual_help, alumni_group, sober_living, psychiatry, primary_care, referral
    /// or other.
    #[serde(default)]
    #[schema(required = true, schema_with = super::codes::aftercare_kind)]
    pub kind: String,
    /// Provider (step-down, psychiatry), meetings (mutual help), residence (sober living),
    /// service (referral) or description (other): required for those.
    #[serde(default)]
    pub detail: String,
    /// Phone or address (required for a referral).
    #[serde(default)]
    pub contact: String,
    /// First appointment, YYYY-MM-DD.
    #[serde(default)]
    #[schema(format = Date)]
    pub scheduled_on: String,
}

/// Adds a line to the episode's aftercare plan.
#[utoipa::path(post, path = "/episodes/{id}/aftercare", tag = "discharge",
    params(("id" = i64, Path, description = "Episode id")),
    request_body = NewAftercare,
    responses(
        (status = 201, description = "Added", body = Created,
            headers(("Location" = String, description = "Where the new record is read: its own URL, or the list it appears in"))),
        Unauthenticated, Forbidden, NotFound, BadBody,
    ))]
pub async fn add_aftercare(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    body: JsonBody<NewAftercare>,
) -> Result<CreatedAt<Created>, ApiError> {
    let patient = state.store.episode_patient_id(id).await?;
    let grant = state
        .store
        .patient_grant::<can::WriteClinical>(&caller.actor, patient)
        .await?;
    let new = body.parse()?;
    let item = parse_aftercare(&new.kind, &new.detail, &new.contact, &new.scheduled_on)?;
    let created = state
        .store
        .add_aftercare_item(&grant, id, &item, state.today())
        .await?;
    Ok(CreatedAt(
        format!("/api/v1/episodes/{id}/aftercare"),
        Created { id: created },
    ))
}

/// The episode's 30/60/90-day follow-up calls (the read is audited).
#[utoipa::path(get, path = "/episodes/{id}/follow-ups", tag = "discharge",
    params(PageQuery, ("id" = i64, Path, description = "Episode id")),
    responses(
        (status = 200, description = "The follow-ups", body = Vec<FollowUpCall>,
            headers(("X-Total-Count" = i64, description = "How many entries the whole list has"))),
        Unauthenticated, Forbidden, NotFound,
    ))]
pub async fn list_follow_ups(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    paging: Paging,
) -> Result<Paged<FollowUpCall>, ApiError> {
    let patient = state.store.episode_patient_id(id).await?;
    let grant = state
        .store
        .patient_grant::<can::ReadClinical>(&caller.actor, patient)
        .await?;
    Ok(paging.page(
        state
            .store
            .follow_ups(&grant, id)
            .await?
            .into_iter()
            .map(follow_up_dto)
            .collect(),
    ))
}

/// What a follow-up call found.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct FollowUpResult {
    /// reached or not_reached.
    #[serde(default)]
    #[schema(required = true)]
    pub contact_result: String,
    /// in_recovery, returned_to_use, readmitted or unknown (unknown or readmitted when not reached).
    #[serde(default)]
    #[schema(required = true)]
    pub recovery_status: String,
    /// Note.
    #[serde(default)]
    pub note: String,
}

/// Records a follow-up's outcome, completing its task.
#[utoipa::path(post, path = "/follow-ups/{id}/outcome", tag = "discharge",
    params(("id" = i64, Path, description = "The follow-up's task id")),
    request_body = FollowUpResult,
    responses(
        (status = 204, description = "Recorded; the task is done"),
        (status = 409, description = "Already recorded", body = ApiErrorBody),
        Unauthenticated, Forbidden, NotFound, BadBody,
    ))]
pub async fn record_follow_up(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    body: JsonBody<FollowUpResult>,
) -> Result<StatusCode, ApiError> {
    let (patient, _) = state.store.follow_up_owner(id).await?;
    let grant = state
        .store
        .patient_grant::<can::WriteClinical>(&caller.actor, patient)
        .await?;
    let result = body.parse()?;
    let outcome = parse_outcome(
        &result.contact_result,
        &result.recovery_status,
        &result.note,
    );
    state
        .store
        .record_follow_up(&grant, id, &outcome, state.today())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Follow-up outcomes across the organisation, per 30/60/90-day call (aggregate counts).
#[utoipa::path(get, path = "/reports/follow-up-outcomes", tag = "discharge",
    params(PageQuery),
    responses(
        (status = 200, description = "Counts", body = Vec<OutcomeRow>,
            headers(("X-Total-Count" = i64, description = "How many entries the whole list has"))),
        Unauthenticated, Forbidden,
    ))]
pub async fn outcome_report(
    State(state): State<AppState>,
    caller: ApiCaller,
    paging: Paging,
) -> Result<Paged<OutcomeRow>, ApiError> {
    let grant = state.store.grant::<can::ReadOutcomes>(&caller.actor)?;
    Ok(paging.page(
        state
            .store
            .follow_up_outcomes(&grant, state.today())
            .await?
            .into_iter()
            .map(outcome_dto)
            .collect(),
    ))
}
