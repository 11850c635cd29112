//! Calendar feeds: provisioning and revoking the secret iCalendar URLs of a clinician's own
//! calendar and of a patient's appointments, as the schedule pages do.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Serialize;
use trellis_storage::access::can;
use trellis_storage::appointments::{CalendarFeed, IssuedFeed};

use super::extract::{PathId, PathIds};
use super::paging::{PageQuery, Paged, Paging};
use super::responses::{Forbidden, NotFound, Unauthenticated};
use crate::error::ApiError;
use crate::identity::ApiCaller;
use crate::AppState;

/// A calendar feed as listed (its secret URL is shown only when it is made).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CalendarFeedBody {
    /// Id.
    pub id: i64,
    /// The clinician whose calendar it is (a clinician's own feed).
    pub clinician_id: Option<i64>,
    /// The patient whose appointments it holds (a patient's feed).
    pub patient_id: Option<i64>,
    /// Made at.
    pub created_at: DateTime<Utc>,
    /// Revoked at; a revoked feed answers 404 to calendar apps.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Last fetched by a calendar app.
    pub last_fetched_at: Option<DateTime<Utc>>,
}

fn feed_body(f: CalendarFeed) -> CalendarFeedBody {
    CalendarFeedBody {
        id: f.id,
        clinician_id: f.clinician_id,
        patient_id: f.patient_id,
        created_at: f.created_at.0,
        revoked_at: f.revoked_at.map(|r| r.0),
        last_fetched_at: f.last_fetched_at.map(|l| l.0),
    }
}

/// A feed just made.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IssuedFeedBody {
    /// Id (to revoke it by).
    pub id: i64,
    /// The feed's secret URL, shown this once: anyone holding it can read the calendar, so give
    /// it only to the calendar app. Absolute when the server knows its public URL.
    pub url: String,
}

fn issued(state: &AppState, feed: IssuedFeed, list: &str) -> Response {
    let path = format!("/calendar/{}.ics", feed.secret);
    let url = match state.config.public_url.as_deref() {
        Some(base) => format!("{}{path}", base.trim_end_matches('/')),
        None => path,
    };
    (
        StatusCode::CREATED,
        [(header::LOCATION, format!("/api/v1{list}/{}", feed.id))],
        Json(IssuedFeedBody { id: feed.id, url }),
    )
        .into_response()
}

fn one(list: Vec<CalendarFeed>, id: i64) -> Result<Json<CalendarFeedBody>, ApiError> {
    list.into_iter()
        .find(|f| f.id == id)
        .map(|f| Json(feed_body(f)))
        .ok_or_else(|| crate::error::AppError::NotFound("calendar feed").into())
}

/// The caller's own calendar feeds, newest first. Needs `read_schedule`.
#[utoipa::path(get, path = "/calendar-feeds", tag = "schedule",
    params(PageQuery),
    responses(
        (status = 200, description = "The caller's feeds", body = Vec<CalendarFeedBody>,
            headers(("X-Total-Count" = i64, description = "How many entries the whole list has"))),
        Unauthenticated, Forbidden,
    ))]
pub async fn list_own_feeds(
    State(state): State<AppState>,
    caller: ApiCaller,
    paging: Paging,
) -> Result<Paged<CalendarFeedBody>, ApiError> {
    let grant = state.store.grant::<can::ReadSchedule>(&caller.actor)?;
    let list = state.store.clinician_feeds(&grant).await?;
    Ok(paging.page(list.into_iter().map(feed_body).collect()))
}

/// Makes a feed of the caller's own calendar (appointments and the groups they facilitate).
/// Needs `read_schedule`.
#[utoipa::path(post, path = "/calendar-feeds", tag = "schedule",
    responses(
        (status = 201, description = "Made; the URL is shown this once", body = IssuedFeedBody,
            headers(("Location" = String, description = "The feed's record under /api/v1"))),
        Unauthenticated, Forbidden,
    ))]
pub async fn create_own_feed(
    State(state): State<AppState>,
    caller: ApiCaller,
) -> Result<Response, ApiError> {
    let grant = state.store.grant::<can::ReadSchedule>(&caller.actor)?;
    let feed = state.store.create_clinician_feed(&grant).await?;
    Ok(issued(&state, feed, "/calendar-feeds"))
}

/// One of the caller's own calendar feeds. Needs `read_schedule`.
#[utoipa::path(get, path = "/calendar-feeds/{id}", tag = "schedule",
    params(("id" = i64, Path, description = "Feed id")),
    responses(
        (status = 200, description = "The feed", body = CalendarFeedBody),
        Unauthenticated, Forbidden, NotFound,
    ))]
pub async fn get_own_feed(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
) -> Result<Json<CalendarFeedBody>, ApiError> {
    let grant = state.store.grant::<can::ReadSchedule>(&caller.actor)?;
    one(state.store.clinician_feeds(&grant).await?, id)
}

/// Revokes one of the caller's own feeds: calendar apps holding its URL get nothing more.
/// Needs `read_schedule`; an already revoked feed answers 404.
#[utoipa::path(post, path = "/calendar-feeds/{id}/revoke", tag = "schedule",
    params(("id" = i64, Path, description = "Feed id")),
    responses(
        (status = 204, description = "Revoked"),
        Unauthenticated, Forbidden, NotFound,
    ))]
pub async fn revoke_own_feed(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    let grant = state.store.grant::<can::ReadSchedule>(&caller.actor)?;
    state.store.revoke_clinician_feed(&grant, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The patient's calendar feeds, newest first. Needs `read_schedule` for the patient.
#[utoipa::path(get, path = "/patients/{id}/calendar-feeds", tag = "schedule",
    params(PageQuery, ("id" = i64, Path, description = "Patient id")),
    responses(
        (status = 200, description = "The patient's feeds", body = Vec<CalendarFeedBody>,
            headers(("X-Total-Count" = i64, description = "How many entries the whole list has"))),
        Unauthenticated, Forbidden, NotFound,
    ))]
pub async fn list_patient_feeds(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    paging: Paging,
) -> Result<Paged<CalendarFeedBody>, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::ReadSchedule>(&caller.actor, id)
        .await?;
    let list = state.store.patient_feeds(&grant).await?;
    Ok(paging.page(list.into_iter().map(feed_body).collect()))
}

/// Makes a feed of the patient's appointments and groups, for the patient's own phone (events
/// say only the kind of service). Needs `manage_schedule` for the patient.
#[utoipa::path(post, path = "/patients/{id}/calendar-feeds", tag = "schedule",
    params(("id" = i64, Path, description = "Patient id")),
    responses(
        (status = 201, description = "Made; the URL is shown this once", body = IssuedFeedBody,
            headers(("Location" = String, description = "The feed's record under /api/v1"))),
        Unauthenticated, Forbidden, NotFound,
    ))]
pub async fn create_patient_feed(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
) -> Result<Response, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::ManageSchedule>(&caller.actor, id)
        .await?;
    let feed = state.store.create_patient_feed(&grant).await?;
    Ok(issued(
        &state,
        feed,
        &format!("/patients/{id}/calendar-feeds"),
    ))
}

/// One of the patient's calendar feeds. Needs `read_schedule` for the patient.
#[utoipa::path(get, path = "/patients/{id}/calendar-feeds/{feed}", tag = "schedule",
    params(("id" = i64, Path, description = "Patient id"),
        ("feed" = i64, Path, description = "Feed id")),
    responses(
        (status = 200, description = "The feed", body = CalendarFeedBody),
        Unauthenticated, Forbidden, NotFound,
    ))]
pub async fn get_patient_feed(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathIds(id, feed): PathIds,
) -> Result<Json<CalendarFeedBody>, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::ReadSchedule>(&caller.actor, id)
        .await?;
    one(state.store.patient_feeds(&grant).await?, feed)
}

/// Revokes one of the patient's feeds. Needs `manage_schedule` for the patient; an already
/// revoked feed answers 404.
#[utoipa::path(post, path = "/patients/{id}/calendar-feeds/{feed}/revoke", tag = "schedule",
    params(("id" = i64, Path, description = "Patient id"),
        ("feed" = i64, Path, description = "Feed id")),
    responses(
        (status = 204, description = "Revoked"),
        Unauthenticated, Forbidden, NotFound,
    ))]
pub async fn revoke_patient_feed(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathIds(id, feed): PathIds,
) -> Result<StatusCode, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::ManageSchedule>(&caller.actor, id)
        .await?;
    state.store.revoke_patient_feed(&grant, feed).await?;
    Ok(StatusCode::NO_CONTENT)
}
