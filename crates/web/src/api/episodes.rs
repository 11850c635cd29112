//! Episodes of care: admission, level-of-care changes and their history, discharge.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use trellis_domain::care::{DischargeReason, LevelOfCare};
use trellis_domain::patient::FieldError;
use trellis_storage::access::can;
use trellis_storage::episodes::Admission;

use super::extract::{JsonBody, PathId};
use super::paging::{PageQuery, Paged, Paging};
use super::responses::CreatedAt;
use super::responses::{BadBody, Forbidden, NotFound, Unauthenticated};
use crate::error::{ApiError, ApiErrorBody, AppError};
use crate::forms;
use crate::identity::ApiCaller;
use crate::AppState;

/// An episode of care.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Episode {
    /// Id.
    pub id: i64,
    /// Patient.
    pub patient_id: i64,
    /// Program.
    pub program_id: i64,
    /// Program name.
    pub program_name: String,
    /// Site.
    pub site_id: i64,
    /// Site name.
    pub site_name: String,
    /// Where it stands today: pending, active or discharged.
    pub status: String,
    /// Admission date.
    pub admitted_on: NaiveDate,
    /// Who referred the patient.
    pub referral_source: String,
    /// Primary counselor's staff id.
    pub primary_counselor_id: Option<i64>,
    /// Primary counselor's name.
    pub primary_counselor_name: Option<String>,
    /// Current ASAM level code, e.g. "2.1".
    pub current_level: String,
    /// Discharge date.
    pub discharged_on: Option<NaiveDate>,
    /// TEDS discharge reason code, 1–7.
    pub discharge_reason: Option<i64>,
    /// Administrative discharge note.
    pub discharge_note: Option<String>,
}

/// The patient's episodes, newest first (the read is audited).
#[utoipa::path(get, path = "/patients/{id}/episodes", tag = "episodes",
    params(PageQuery, ("id" = i64, Path, description = "Patient id")),
    responses(
        (status = 200, description = "The episodes", body = Vec<Episode>,
            headers(("X-Total-Count" = i64, description = "How many entries the whole list has"))),
        Unauthenticated, Forbidden, NotFound,
    ))]
pub async fn list_episodes(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    paging: Paging,
) -> Result<Paged<Episode>, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::ReadEpisodes>(&caller.actor, id)
        .await?;
    let today = state.today();
    let episodes = state.store.episodes(&grant).await?;
    Ok(paging.page(
        episodes
            .into_iter()
            .map(|e| Episode {
                status: e.status_on(today).code().to_owned(),
                id: e.id,
                patient_id: e.patient_id,
                program_id: e.program_id,
                program_name: e.program_name,
                site_id: e.site_id,
                site_name: e.site_name,
                admitted_on: e.admitted_on.0,
                referral_source: e.referral_source,
                primary_counselor_id: e.primary_counselor_id,
                primary_counselor_name: e.primary_counselor_name,
                current_level: e.current_level,
                discharged_on: e.discharged_on.map(|d| d.0),
                discharge_reason: e.discharge_reason,
                discharge_note: e.discharge_note,
            })
            .collect(),
    ))
}

/// An admission.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"program_id": 1, "admitted_on": "2026-11-02", "level": "2.1", "referral_source": "Self-referred", "reason": "Alcohol use disorder; ASAM dimensions support IOP", "primary_counselor_id": 3}))]
pub struct NewEpisode {
    /// Program admitted to (see GET /programs).
    #[schema(value_type = i64, required = true)]
    pub program_id: Option<i64>,
    /// Admission date, YYYY-MM-DD (a future date makes the episode pending).
    #[serde(default)]
    #[schema(required = true, format = Date)]
    pub admitted_on: String,
    /// Who referred the patient, e.g. "Self or family" (at most 200 characters).
    #[serde(default)]
    #[schema(required = true, max_length = 200)]
    pub referral_source: String,
    /// Primary counselor (see GET /counselors).
    pub primary_counselor_id: Option<i64>,
    /// Initial ASAM level code, e.g. "2.1".
    #[serde(default)]
    #[schema(required = true, schema_with = super::codes::ambulatory_level)]
    pub level: String,
    /// Why this level of care, e.g. the ASAM assessment's findings (at most 1000 characters).
    #[serde(default)]
    #[schema(required = true, max_length = 1000)]
    pub reason: String,
}

/// Something just created, by id.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Created {
    /// Id.
    pub id: i64,
}

fn required(field: &'static str, value: &str, errors: &mut Vec<FieldError>) {
    if value.trim().is_empty() {
        errors.push(FieldError::new(field, "is required"));
    }
}

fn level(value: &str, errors: &mut Vec<FieldError>) -> Option<LevelOfCare> {
    forms::code::<LevelOfCare>(
        "level",
        value,
        "must be an ASAM level code such as 2.1",
        errors,
    )
}

/// Admits the patient: opens an episode with its initial level of care.
#[utoipa::path(post, path = "/patients/{id}/episodes", tag = "episodes",
    params(("id" = i64, Path, description = "Patient id")),
    request_body = NewEpisode,
    responses(
        (status = 201, description = "Admitted", body = Created,
            headers(("Location" = String, description = "Where the new record is read: its own URL, or the list it appears in"))),
        (status = 409, description = "The patient already has an open episode (conflict)", body = ApiErrorBody),
        Unauthenticated, Forbidden, NotFound, BadBody,
    ))]
pub async fn admit_patient(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    body: JsonBody<NewEpisode>,
) -> Result<CreatedAt<Created>, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::AdmitEpisode>(&caller.actor, id)
        .await?;
    let new = body.parse()?;
    let mut errors = Vec::new();
    if new.program_id.is_none() {
        errors.push(FieldError::new("program_id", "is required"));
    }
    let admitted_on = forms::date("admitted_on", &new.admitted_on, &mut errors);
    required("referral_source", &new.referral_source, &mut errors);
    let level = level(&new.level, &mut errors);
    required("reason", &new.reason, &mut errors);
    let (Some(program_id), Some(admitted_on), Some(level), true) =
        (new.program_id, admitted_on, level, errors.is_empty())
    else {
        return Err(AppError::Invalid(errors).into());
    };
    let admission = Admission {
        program_id,
        admitted_on,
        referral_source: new.referral_source,
        primary_counselor_id: new.primary_counselor_id,
        level,
        reason: new.reason,
    };
    let episode = state.store.admit(&grant, &admission, state.today()).await?;
    Ok(CreatedAt(
        format!("/api/v1/patients/{id}/episodes"),
        Created { id: episode },
    ))
}

/// One entry of the level-of-care history.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LevelChange {
    /// Id.
    pub id: i64,
    /// Episode.
    pub episode_id: i64,
    /// ASAM level code.
    pub level: String,
    /// From when.
    pub effective_on: NaiveDate,
    /// Why: the clinician's reasoning. Clinical text, present only for clinical roles
    /// (counselor, clinical director, prescriber, nurse, peer specialist).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Who decided (staff id).
    pub decided_by: i64,
    /// Who decided (name).
    pub decided_by_name: String,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
}

/// The episode's level-of-care history, oldest first (the read is audited). The reasons are
/// clinical text: other roles get the levels, dates and deciders without them.
#[utoipa::path(get, path = "/episodes/{id}/levels", tag = "episodes",
    params(PageQuery, ("id" = i64, Path, description = "Episode id")),
    responses(
        (status = 200, description = "The history, starting with the admission level", body = Vec<LevelChange>,
            headers(("X-Total-Count" = i64, description = "How many entries the whole list has"))),
        Unauthenticated, Forbidden, NotFound,
    ))]
pub async fn level_history(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(episode_id): PathId,
    paging: Paging,
) -> Result<Paged<LevelChange>, ApiError> {
    let patient_id = state.store.episode_patient_id(episode_id).await?;
    let grant = state
        .store
        .patient_grant::<can::ReadEpisodes>(&caller.actor, patient_id)
        .await?;
    let clinical = state
        .store
        .patient_grant_if_role::<can::ReadClinical>(&caller.actor, patient_id)
        .await?;
    let history = state
        .store
        .level_history(&grant, clinical.as_ref(), episode_id)
        .await?;
    Ok(paging.page(
        history
            .into_iter()
            .map(|h| LevelChange {
                id: h.id,
                episode_id: h.episode_id,
                level: h.level,
                effective_on: h.effective_on.0,
                reason: h.reason,
                decided_by: h.decided_by,
                decided_by_name: h.decided_by_name,
                recorded_at: h.recorded_at.0,
            })
            .collect(),
    ))
}

/// A change of level of care.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewLevel {
    /// New ASAM level code, e.g. "2.5" (not the episode's current level).
    #[serde(default)]
    #[schema(required = true, schema_with = super::codes::ambulatory_level)]
    pub level: String,
    /// From when, YYYY-MM-DD (not before the last change, at most 30 days ahead).
    #[serde(default)]
    #[schema(required = true, format = Date)]
    pub effective_on: String,
    /// The clinical reason and who agreed.
    #[serde(default)]
    #[schema(required = true)]
    pub reason: String,
}

/// The level change recorded.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LevelRecorded {
    /// Episode.
    pub episode_id: i64,
    /// New ASAM level code.
    pub level: String,
    /// From when.
    pub effective_on: NaiveDate,
}

/// Records a change of level of care, with the date, the reason and the caller as decider.
#[utoipa::path(post, path = "/episodes/{id}/levels", tag = "episodes",
    params(("id" = i64, Path, description = "Episode id")),
    request_body = NewLevel,
    responses(
        (status = 201, description = "Recorded", body = LevelRecorded,
            headers(("Location" = String, description = "Where the new record is read: its own URL, or the list it appears in"))),
        (status = 409, description = "The episode is discharged (conflict)", body = ApiErrorBody),
        Unauthenticated, Forbidden, NotFound, BadBody,
    ))]
pub async fn change_level(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(episode_id): PathId,
    body: JsonBody<NewLevel>,
) -> Result<CreatedAt<LevelRecorded>, ApiError> {
    let patient_id = state.store.episode_patient_id(episode_id).await?;
    let grant = state
        .store
        .patient_grant::<can::ChangeLevelOfCare>(&caller.actor, patient_id)
        .await?;
    let new = body.parse()?;
    let mut errors = Vec::new();
    let level = level(&new.level, &mut errors);
    let effective_on = forms::date("effective_on", &new.effective_on, &mut errors);
    required("reason", &new.reason, &mut errors);
    let (Some(level), Some(effective_on), true) = (level, effective_on, errors.is_empty()) else {
        return Err(AppError::Invalid(errors).into());
    };
    state
        .store
        .change_level(
            &grant,
            episode_id,
            level,
            effective_on,
            &new.reason,
            state.today(),
        )
        .await?;
    Ok(CreatedAt(
        format!("/api/v1/episodes/{episode_id}/levels"),
        LevelRecorded {
            episode_id,
            level: level.code().to_owned(),
            effective_on,
        },
    ))
}

/// A discharge.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Discharge {
    /// Discharge date, YYYY-MM-DD (not before admission, not in the future).
    #[serde(default)]
    #[schema(required = true, format = Date)]
    pub discharged_on: String,
    /// TEDS discharge reason code: 1 completed, 2 dropped out, 3 terminated by facility,
    /// 4 transferred, 5 incarcerated, 6 death, 7 other.
    #[schema(value_type = i64, required = true, minimum = 1, maximum = 7)]
    pub reason: Option<i64>,
    /// Administrative note (the clinical discharge summary is written separately).
    pub note: Option<String>,
}

/// Discharges an open episode.
#[utoipa::path(post, path = "/episodes/{id}/discharge", tag = "episodes",
    params(("id" = i64, Path, description = "Episode id")),
    request_body = Discharge,
    responses(
        (status = 204, description = "Discharged"),
        (status = 409, description = "The episode is already discharged (conflict)", body = ApiErrorBody),
        Unauthenticated, Forbidden, NotFound, BadBody,
    ))]
pub async fn discharge_episode(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(episode_id): PathId,
    body: JsonBody<Discharge>,
) -> Result<StatusCode, ApiError> {
    let patient_id = state.store.episode_patient_id(episode_id).await?;
    let grant = state
        .store
        .patient_grant::<can::DischargeEpisode>(&caller.actor, patient_id)
        .await?;
    let d = body.parse()?;
    let mut errors = Vec::new();
    let discharged_on = forms::date("discharged_on", &d.discharged_on, &mut errors);
    let reason = match d.reason.map(DischargeReason::from_teds_code) {
        Some(Ok(reason)) => Some(reason),
        Some(Err(_)) => {
            errors.push(FieldError::new(
                "reason",
                "must be a TEDS discharge reason code from 1 to 7",
            ));
            None
        }
        None => {
            errors.push(FieldError::new("reason", "is required"));
            None
        }
    };
    let (Some(discharged_on), Some(reason), true) = (discharged_on, reason, errors.is_empty())
    else {
        return Err(AppError::Invalid(errors).into());
    };
    state
        .store
        .discharge(
            &grant,
            episode_id,
            discharged_on,
            reason,
            d.note.as_deref(),
            state.today(),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
