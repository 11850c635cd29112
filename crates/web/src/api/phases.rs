//! Phases: a program's phases and settings, a patient's phase with the step-down and step-up
//! recommendations, the clinician's decision, and the caseload ready for step-down review.

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use trellis_domain::patient::FieldError;
use trellis_domain::schedule::phases::{Destination, Recommended};
use trellis_storage::access::can;
use trellis_storage::phases::{
    self, CheckStatus, NewPhase, NewPhaseDecision, PhaseDecisionKind, PhaseRules, PhaseSettings,
};
use trellis_storage::StoreError;
use utoipa::openapi::schema::Object;

use super::contract::when;
use super::episodes::Created;
use super::extract::{JsonBody, PathId};
use super::paging::{PageQuery, Paged, Paging};
use super::responses::CreatedAt;
use super::responses::{BadBody, Forbidden, NotFound, Unauthenticated};
use crate::error::{ApiError, ApiErrorBody, AppError};
use crate::forms;
use crate::identity::ApiCaller;
use crate::AppState;

/// One phase of a program.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PhaseBody {
    /// Id (ignored on input: phases are matched by position).
    #[serde(default)]
    pub id: Option<i64>,
    /// Name staff see (1–80 characters).
    #[serde(default)]
    #[schema(required = true, pattern = "\\S", max_length = 80)]
    pub name: String,
    /// Treatment days required per week, 1–7.
    #[serde(default)]
    #[schema(required = true, minimum = 1, maximum = 7)]
    pub days_per_week: i64,
    /// Service minutes required per week (at most the 10080 minutes of a week).
    #[serde(default)]
    #[schema(minimum = 0, maximum = 10080)]
    pub weekly_minutes: i64,
}

/// Promotion, step-up and absence-outreach settings. A number set to 0 switches that check off
/// (the recommendation then names it). The safety checks are not settings: an open safety flag,
/// an unanswered safety task, a step-up sign or recent weeks under the phase's hours always block
/// a step down, and an open high-severity flag is always a step-up sign.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PhaseRulesBody {
    /// Minimum whole weeks in the current phase before a step down (0–52).
    #[schema(maximum = 52)]
    pub min_weeks_in_phase: u32,
    /// Minimum attendance rate in the phase, in percent (0–100).
    #[schema(maximum = 100)]
    pub min_attendance_percent: u32,
    /// How many of the latest drug screens must all be negative (0–20).
    #[schema(maximum = 20)]
    pub negative_screens: u32,
    /// Minimum treatment-plan objectives met (0–50).
    #[schema(maximum = 50)]
    pub objectives_met: u32,
    /// Whether excused absences count as missed sessions.
    pub excused_count_as_missed: bool,
    /// Consecutive weeks under the phase's weekly minutes that suggest a step up (0–12; 0 disables).
    #[schema(maximum = 12)]
    pub weeks_under_minimum: u32,
    /// Positive or invalid screens among the latest `screen_window` that suggest a step up
    /// (0 disables; at most `screen_window`).
    #[schema(maximum = 20)]
    pub positive_screens: u32,
    /// How many of the latest screens the step-up check looks at (0–20).
    #[schema(maximum = 20)]
    pub screen_window: u32,
    /// Unexcused absences in a row that open an outreach task for the counselor (1–10).
    #[schema(minimum = 1, maximum = 10)]
    pub outreach_after_unexcused: u32,
    /// Whether an excused absence ends a run of unexcused ones.
    pub outreach_excused_breaks_run: bool,
}

/// The screens counted as a step-up sign cannot be more than the screens looked at: one rule
/// per window size, as JSON Schema cannot compare two fields.
pub fn screen_rules(object: &mut Object) {
    for window in 0..=MAX_SCREEN_WINDOW {
        when(
            object,
            json!({ "properties": { "screen_window": { "const": window } } }),
            json!({ "properties": { "positive_screens": { "maximum": window } } }),
        );
    }
}

/// The largest `screen_window`.
const MAX_SCREEN_WINDOW: u32 = 20;

impl From<PhaseRules> for PhaseRulesBody {
    fn from(r: PhaseRules) -> Self {
        PhaseRulesBody {
            min_weeks_in_phase: r.min_weeks_in_phase,
            min_attendance_percent: r.min_attendance_percent,
            negative_screens: r.negative_screens,
            objectives_met: r.objectives_met,
            excused_count_as_missed: r.excused_count_as_missed,
            weeks_under_minimum: r.weeks_under_minimum,
            positive_screens: r.positive_screens,
            screen_window: r.screen_window,
            outreach_after_unexcused: r.outreach_after_unexcused,
            outreach_excused_breaks_run: r.outreach_excused_breaks_run,
        }
    }
}

impl From<PhaseRulesBody> for PhaseRules {
    fn from(r: PhaseRulesBody) -> Self {
        PhaseRules {
            min_weeks_in_phase: r.min_weeks_in_phase,
            min_attendance_percent: r.min_attendance_percent,
            negative_screens: r.negative_screens,
            objectives_met: r.objectives_met,
            excused_count_as_missed: r.excused_count_as_missed,
            weeks_under_minimum: r.weeks_under_minimum,
            positive_screens: r.positive_screens,
            screen_window: r.screen_window,
            outreach_after_unexcused: r.outreach_after_unexcused,
            outreach_excused_breaks_run: r.outreach_excused_breaks_run,
        }
    }
}

/// A program's phases and settings.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PhaseSettingsBody {
    /// Program.
    pub program_id: i64,
    /// Phases, most intensive first; patients start in the first.
    pub phases: Vec<PhaseBody>,
    /// Settings (the defaults until set).
    pub rules: PhaseRulesBody,
    /// Phases that ask for fewer weekly hours than ASAM's floor for the program's level (saved,
    /// but staff are told).
    pub warnings: Vec<String>,
}

fn settings_body(s: PhaseSettings) -> PhaseSettingsBody {
    PhaseSettingsBody {
        program_id: s.program_id,
        phases: s
            .phases
            .into_iter()
            .map(|p| PhaseBody {
                id: Some(p.id),
                name: p.name,
                days_per_week: p.days_per_week,
                weekly_minutes: p.weekly_minutes,
            })
            .collect(),
        rules: s.rules.into(),
        warnings: s.warnings,
    }
}

/// A program's phases and promotion, step-up and outreach settings (program admins).
#[utoipa::path(get, path = "/programs/{id}/phases", tag = "phases",
    params(("id" = i64, Path, description = "Program id")),
    responses((status = 200, description = "Phases and settings", body = PhaseSettingsBody),
        Unauthenticated, Forbidden, NotFound))]
pub async fn get_settings(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
) -> Result<Json<PhaseSettingsBody>, ApiError> {
    state.store.grant::<can::ManagePrograms>(&caller.actor)?;
    Ok(Json(settings_body(state.store.phase_settings(id).await?)))
}

/// New phases and settings.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PhaseSettingsInput {
    /// Phases, most intensive first (matched to the stored ones by position; one in patients'
    /// history cannot be removed).
    #[serde(default)]
    pub phases: Vec<PhaseBody>,
    /// Settings.
    pub rules: PhaseRulesBody,
}

/// Sets a program's phases and settings (program admins).
#[utoipa::path(put, path = "/programs/{id}/phases", tag = "phases",
    params(("id" = i64, Path, description = "Program id")),
    request_body = PhaseSettingsInput,
    responses((status = 200, description = "Saved", body = PhaseSettingsBody),
        (status = 409, description = "A phase to remove is in patients' history", body = ApiErrorBody),
        Unauthenticated, Forbidden, NotFound, BadBody))]
pub async fn set_settings(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    body: JsonBody<PhaseSettingsInput>,
) -> Result<Json<PhaseSettingsBody>, ApiError> {
    let grant = state.store.grant::<can::ManagePrograms>(&caller.actor)?;
    let input = body.parse()?;
    let mut errors = Vec::new();
    let phases: Vec<NewPhase> = input
        .phases
        .into_iter()
        .enumerate()
        .filter_map(|(i, p)| {
            match (
                u8::try_from(p.days_per_week),
                u32::try_from(p.weekly_minutes),
            ) {
                (Ok(days_per_week), Ok(weekly_minutes)) => Some(NewPhase {
                    name: p.name,
                    days_per_week,
                    weekly_minutes,
                }),
                _ => {
                    errors.push(FieldError::new(
                        "phases",
                        format!("phase {}: days and minutes must be positive numbers", i + 1),
                    ));
                    None
                }
            }
        })
        .collect();
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors).into());
    }
    let saved = state
        .store
        .set_phase_settings(&grant, id, &phases, &input.rules.into())
        .await
        .map_err(|e| match e {
            StoreError::Invalid(errors) => StoreError::Invalid(
                errors
                    .into_iter()
                    .map(|e| FieldError {
                        field: rules_field(e.field),
                        message: e.message,
                    })
                    .collect(),
            ),
            other => other,
        })?;
    Ok(Json(settings_body(saved)))
}

/// A rule's field as the body sends it, inside `rules`.
fn rules_field(field: &'static str) -> &'static str {
    match field {
        "min_weeks_in_phase" => "rules.min_weeks_in_phase",
        "min_attendance_percent" => "rules.min_attendance_percent",
        "negative_screens" => "rules.negative_screens",
        "objectives_met" => "rules.objectives_met",
        "weeks_under_minimum" => "rules.weeks_under_minimum",
        "screen_window" => "rules.screen_window",
        "positive_screens" => "rules.positive_screens",
        "outreach_after_unexcused" => "rules.outreach_after_unexcused",
        other => other,
    }
}

/// How a criterion stands.
#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatusCode {
    /// Met (for a step-up sign: the concern is present).
    Met,
    /// Not met (for a step-up sign: no concern).
    NotMet,
    /// Trellis holds no data for it; never counted as met.
    NotRecorded,
    /// Switched off in the program's settings.
    SwitchedOff,
}

/// What the rules recommend: exactly one of the three.
#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecommendedCode {
    /// Every step-down criterion and safety check is met.
    StepDown,
    /// Neither a step down nor a step up.
    Stay,
    /// A sign that more intensive care is needed.
    StepUp,
}

/// One criterion the recommendation checked.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CriterionBody {
    /// Criterion code, e.g. attendance_rate.
    pub criterion: String,
    /// Label staff see.
    pub label: String,
    /// How it stands.
    pub status: CheckStatusCode,
    /// The figures behind it.
    pub reason: String,
}

/// One side of the phase review: the step-down criteria or the step-up signs.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PhaseStepBody {
    /// step_down or step_up.
    pub direction: String,
    /// Whether the rules recommend the step; the clinician decides.
    pub recommended: bool,
    /// phase, or level when the step leaves the program's phases (a level-of-care change).
    pub destination_kind: String,
    /// The destination phase's id, for a phase.
    pub destination_phase_id: Option<i64>,
    /// The destination phase's name, or the ASAM level code.
    pub destination: String,
    /// Each criterion.
    pub criteria: Vec<CriterionBody>,
    /// One sentence for the clinician.
    pub summary: String,
}

/// One decision in the phase history.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PhaseDecisionBody {
    /// Id.
    pub id: i64,
    /// step_down, step_up or stay.
    pub decision: String,
    /// The phase from the effective date.
    pub phase_id: i64,
    /// Its name.
    pub phase_name: String,
    /// From this date.
    pub effective_on: NaiveDate,
    /// The track moved to, if any.
    pub track_name: Option<String>,
    /// Why.
    pub reason: String,
    /// What the recommendation said when the decision was made.
    pub recommendation_summary: String,
    /// Each criterion then.
    pub criteria: Vec<CriterionBody>,
    /// Who decided.
    pub decided_by: String,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
}

/// A patient's phase, the recommendations and the history.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PhaseReviewBody {
    /// The open episode.
    pub episode_id: i64,
    /// The program's phases, most intensive first.
    pub phases: Vec<PhaseBody>,
    /// The current phase's id.
    pub current_phase_id: i64,
    /// In it since.
    pub since: NaiveDate,
    /// Whole weeks in it.
    pub weeks_in_phase: u32,
    /// What the rules recommend (one decision: the two sides below never both say recommended).
    pub recommended: RecommendedCode,
    /// What the clinician reads first: the recommendation and what blocks or suggests it.
    pub summary: String,
    /// Labels of the checks switched off in the program's settings.
    pub switched_off: Vec<String>,
    /// The step-down criteria, safety checks included.
    pub step_down: PhaseStepBody,
    /// The step-up signs.
    pub step_up: PhaseStepBody,
    /// Decisions, newest first.
    pub history: Vec<PhaseDecisionBody>,
}

fn status_code(s: CheckStatus) -> CheckStatusCode {
    match s {
        CheckStatus::Met => CheckStatusCode::Met,
        CheckStatus::NotMet => CheckStatusCode::NotMet,
        CheckStatus::NotRecorded => CheckStatusCode::NotRecorded,
        CheckStatus::SwitchedOff => CheckStatusCode::SwitchedOff,
    }
}

fn criteria(checks: &[phases::CheckView]) -> Vec<CriterionBody> {
    checks
        .iter()
        .map(|c| CriterionBody {
            criterion: serde_json::to_value(c.criterion)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            label: c.label.clone(),
            status: status_code(c.status),
            reason: c.reason.clone(),
        })
        .collect()
}

fn recommendation(r: &phases::PhaseRecommendation, phases: &[PhaseBody]) -> PhaseStepBody {
    let (kind, phase_id, destination) = match &r.destination {
        Destination::Phase { index, name } => {
            ("phase", phases.get(*index).and_then(|p| p.id), name.clone())
        }
        Destination::Level { level } => ("level", None, level.code().to_owned()),
    };
    PhaseStepBody {
        direction: match r.direction {
            trellis_domain::schedule::phases::Direction::StepDown => "step_down",
            trellis_domain::schedule::phases::Direction::StepUp => "step_up",
        }
        .to_owned(),
        recommended: r.recommended,
        destination_kind: kind.to_owned(),
        destination_phase_id: phase_id,
        destination,
        criteria: criteria(&r.checks),
        summary: r.summary.clone(),
    }
}

/// The patient's phase with both recommendations, each criterion met, not met or not recorded,
/// and the decision history (the read is audited). 404 when no phases apply (no open episode,
/// or the program has none).
#[utoipa::path(get, path = "/patients/{id}/phase", tag = "phases",
    params(("id" = i64, Path, description = "Patient id")),
    responses((status = 200, description = "Phase and recommendations", body = PhaseReviewBody),
        Unauthenticated, Forbidden, NotFound))]
pub async fn get_phase(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
) -> Result<Json<PhaseReviewBody>, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::ReadClinical>(&caller.actor, id)
        .await?;
    let review = state
        .store
        .phase_review(&grant, state.today())
        .await?
        .ok_or(StoreError::NotFound("phase plan"))?;
    let phases: Vec<PhaseBody> = review
        .phases
        .iter()
        .map(|p| PhaseBody {
            id: Some(p.id),
            name: p.name.clone(),
            days_per_week: p.days_per_week,
            weekly_minutes: p.weekly_minutes,
        })
        .collect();
    Ok(Json(PhaseReviewBody {
        episode_id: review.episode_id,
        current_phase_id: review.current.id,
        since: review.since.0,
        weeks_in_phase: review.weeks_in_phase,
        recommended: match review.recommended {
            Recommended::StepDown => RecommendedCode::StepDown,
            Recommended::Stay => RecommendedCode::Stay,
            Recommended::StepUp => RecommendedCode::StepUp,
        },
        summary: review.summary.clone(),
        switched_off: review.switched_off.clone(),
        step_down: recommendation(&review.step_down, &phases),
        step_up: recommendation(&review.step_up, &phases),
        history: review
            .history
            .iter()
            .map(|h| PhaseDecisionBody {
                id: h.id,
                decision: h.decision.code().to_owned(),
                phase_id: h.phase_id,
                phase_name: h.phase_name.clone(),
                effective_on: h.effective_on.0,
                track_name: h.track_name.clone(),
                reason: h.reason.clone(),
                recommendation_summary: h.recommendation.summary.clone(),
                criteria: criteria(&h.recommendation.checks),
                decided_by: h.decided_by_name.clone(),
                recorded_at: h.recorded_at.0,
            })
            .collect(),
        phases,
    }))
}

/// A phase decision.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PhaseDecisionInput {
    /// step_down (promote to the next phase), step_up (back to the previous) or stay.
    #[serde(default)]
    #[schema(required = true)]
    pub decision: String,
    /// The phase the decision leads to; optional, checked to be the adjacent one (phases are
    /// not skipped).
    pub phase_id: Option<i64>,
    /// From when, YYYY-MM-DD (not before the current phase began, at most 30 days ahead).
    #[serde(default)]
    #[schema(required = true, format = Date)]
    pub effective_on: String,
    /// A track to move to from that date (the current one ends the day before); needs the
    /// right to manage the schedule.
    pub track_id: Option<i64>,
    /// Why; required for a step up or a stay.
    #[serde(default)]
    pub reason: String,
}

/// Records the clinician's phase decision with a snapshot of the recommendation. Leaving the
/// program's phases (e.g. a step up to PHP) is a level-of-care change: POST /episodes/{id}/levels.
#[utoipa::path(post, path = "/patients/{id}/phase-decisions", tag = "phases",
    params(("id" = i64, Path, description = "Patient id")),
    request_body = PhaseDecisionInput,
    responses((status = 201, description = "Recorded", body = Created,
            headers(("Location" = String, description = "Where the new record is read: its own URL, or the list it appears in"))),
        (status = 409, description = "No open episode in a program with phases, or the new track is full", body = ApiErrorBody),
        Unauthenticated, Forbidden, NotFound, BadBody))]
pub async fn decide(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    body: JsonBody<PhaseDecisionInput>,
) -> Result<CreatedAt<Created>, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::ChangeLevelOfCare>(&caller.actor, id)
        .await?;
    let input = body.parse()?;
    let mut errors = Vec::new();
    let decision = forms::code::<PhaseDecisionKind>(
        "decision",
        &input.decision,
        "must be step_down, step_up or stay",
        &mut errors,
    );
    let effective_on = forms::date("effective_on", &input.effective_on, &mut errors);
    let (Some(decision), Some(effective_on), true) = (decision, effective_on, errors.is_empty())
    else {
        return Err(AppError::Invalid(errors).into());
    };
    let schedule = match input.track_id {
        Some(_) => Some(
            state
                .store
                .patient_grant::<can::ManageSchedule>(&caller.actor, id)
                .await?,
        ),
        None => None,
    };
    let created = state
        .store
        .decide_phase(
            &grant,
            schedule.as_ref(),
            &NewPhaseDecision {
                decision,
                phase_id: input.phase_id,
                effective_on,
                track_id: input.track_id,
                reason: input.reason,
            },
            state.today(),
        )
        .await?;
    Ok(CreatedAt(
        format!("/api/v1/patients/{id}/phase"),
        Created { id: created },
    ))
}

/// A patient on the caller's caseload ready for a step-down review.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StepDownCandidateBody {
    /// Patient.
    pub patient_id: i64,
    /// Display name.
    pub patient_name: String,
    /// Current phase.
    pub phase_name: String,
    /// Weeks in it.
    pub weeks_in_phase: u32,
    /// Where a step down goes (a phase name, or an ASAM level code).
    pub destination: String,
    /// Criteria Trellis holds no data for, for the clinician to check.
    pub not_recorded: Vec<String>,
}

/// Patients on the caller's caseload (primary counselor) whose recorded step-down criteria are
/// all met (the list is audited).
#[utoipa::path(get, path = "/phases/step-down-review", tag = "phases",
    params(PageQuery),
    responses((status = 200, description = "Ready for review", body = Vec<StepDownCandidateBody>,
            headers(("X-Total-Count" = i64, description = "How many entries the whole list has"))),
        Unauthenticated, Forbidden))]
pub async fn step_down_review(
    State(state): State<AppState>,
    caller: ApiCaller,
    paging: Paging,
) -> Result<Paged<StepDownCandidateBody>, ApiError> {
    let grant = state.store.grant::<can::ReadClinical>(&caller.actor)?;
    let rows = state
        .store
        .step_down_candidates(&grant, state.today())
        .await?;
    Ok(paging.page(
        rows.into_iter()
            .map(|c| StepDownCandidateBody {
                patient_id: c.patient_id,
                patient_name: c.patient_name,
                phase_name: c.phase_name,
                weeks_in_phase: c.weeks_in_phase,
                destination: match c.destination {
                    Destination::Phase { name, .. } => name,
                    Destination::Level { level } => level.code().to_owned(),
                },
                not_recorded: c.not_recorded,
            })
            .collect(),
    ))
}
