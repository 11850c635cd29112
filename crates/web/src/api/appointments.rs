//! Appointments: booking with conflict checks, cancelling, check-in, the patient's availability
//! and a site's appointments on a day.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use trellis_domain::patient::FieldError;
use trellis_domain::schedule::appointments::refuses_booking;
use trellis_domain::schedule::attendance::AttendanceStatus;
use trellis_storage::access::can;
use trellis_storage::appointments::{Appointment, BookingOutcome};

use super::episodes::Created;
use super::extract::{ApiQuery, JsonBody, PathId};
use super::paging::{PageQuery, Paged, Paging};
use super::responses::CreatedAt;
use super::responses::{BadBody, BadQuery, Forbidden, NotFound, Stale, Unauthenticated};
use super::versions::{etag, IfMatch};
use crate::error::{ApiError, ApiErrorBody, AppError};
use crate::forms;
use crate::identity::ApiCaller;
use crate::pages::appointments::{parse_window, BookingForm};
use crate::AppState;

/// An appointment to book, in the site's local time.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"kind": "individual_therapy", "clinician_id": 3, "date": "2026-12-14", "start": "10:00", "end": "10:50", "room_id": 1, "telehealth": false}))]
pub struct BookingBody {
    /// individual_therapy, family_session, psychiatric_evaluation, medication_management,
    /// case_management or drug_screen.
    #[serde(default)]
    #[schema(required = true, schema_with = super::codes::appointment_kind)]
    pub kind: String,
    /// The clinician (a staff member with a clinical role).
    pub clinician_id: i64,
    /// The room; omit for telehealth.
    pub room_id: Option<i64>,
    /// Held by telehealth (then no room).
    #[serde(default)]
    pub telehealth: bool,
    /// Local date (YYYY-MM-DD).
    #[serde(default)]
    #[schema(required = true, format = Date)]
    pub date: String,
    /// Local start (HH:MM). Refused (422) if the clocks skip it or pass it twice that day at a
    /// daylight-saving change.
    #[serde(default)]
    #[schema(required = true, pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub start: String,
    /// Local end (HH:MM), after the start the same day; refused like the start on a
    /// daylight-saving change. The booked length is the real time between the two.
    #[serde(default)]
    #[schema(required = true, pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub end: String,
    /// People in the room; two if omitted (four for a family session).
    pub occupants: Option<i64>,
    /// Why to book despite a double-booking; required only then.
    pub override_reason: Option<String>,
}

/// One conflict found.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConflictBody {
    /// patient_double_booked, clinician_double_booked, room_over_capacity, unknown_room,
    /// outside_patient_availability or overlaps_patient_obligation.
    pub kind: String,
    /// Why, in words (ids and site times, no patient details).
    pub reason: String,
    /// Whether it refuses the booking without an override reason.
    pub refuses_booking: bool,
}

/// What a booking came to: booked with warnings (201), or refused with the conflicts (409).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BookingResult {
    /// The appointment, when booked.
    pub id: Option<i64>,
    /// Whether it was booked.
    pub booked: bool,
    /// Every conflict found.
    pub conflicts: Vec<ConflictBody>,
}

fn conflict_bodies(
    conflicts: &[trellis_domain::schedule::conflicts::Conflict],
) -> Vec<ConflictBody> {
    conflicts
        .iter()
        .map(|c| ConflictBody {
            kind: serde_json::to_value(&c.kind)
                .ok()
                .and_then(|v| v.get("kind").and_then(|k| k.as_str()).map(str::to_owned))
                .unwrap_or_default(),
            reason: c.reason.clone(),
            refuses_booking: refuses_booking(c),
        })
        .collect()
}

/// Books an appointment after checking the patient's groups, appointments and availability, the
/// clinician's calendar and the room's capacity. Double-bookings are refused (409) unless an
/// override reason is given; availability clashes come back as warnings.
#[utoipa::path(post, path = "/patients/{id}/appointments", tag = "schedule",
    params(("id" = i64, Path, description = "Patient id")),
    request_body = BookingBody,
    responses((status = 201, description = "Booked (with any warnings)", body = BookingResult,
            headers(("Location" = String, description = "Where the new record is read: its own URL, or the list it appears in"))),
        (status = 409, description = "Refused: a double-booking needs an override reason", body = BookingResult),
        Unauthenticated, Forbidden, NotFound, BadBody))]
pub async fn book_appointment(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    body: JsonBody<BookingBody>,
) -> Result<Response, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::ManageSchedule>(&caller.actor, id)
        .await?;
    let b = body.parse()?;
    let mut errors = Vec::new();
    let room = match (b.room_id, b.telehealth) {
        (Some(_), true) => {
            errors.push(FieldError::new(
                "room_id",
                "choose a room or telehealth, not both",
            ));
            String::new()
        }
        (Some(room), false) => room.to_string(),
        (None, true) => "telehealth".into(),
        (None, false) => String::new(),
    };
    let form = BookingForm {
        kind: b.kind,
        clinician_id: b.clinician_id.to_string(),
        room,
        date: b.date,
        start: b.start,
        end: b.end,
        occupants: b.occupants.map(|n| n.to_string()).unwrap_or_default(),
        override_reason: b.override_reason.unwrap_or_default(),
    };
    let new = match form.parse() {
        Ok(new) if errors.is_empty() => new,
        Ok(_) => return Err(AppError::Invalid(errors).into()),
        Err(mut e) => {
            errors.append(&mut e);
            return Err(AppError::Invalid(errors).into());
        }
    };
    Ok(match state.store.book_appointment(&grant, &new).await? {
        BookingOutcome::Booked {
            id: booked,
            warnings,
        } => CreatedAt(
            format!("/api/v1/patients/{id}/appointments"),
            BookingResult {
                id: Some(booked),
                booked: true,
                conflicts: conflict_bodies(&warnings),
            },
        )
        .into_response(),
        BookingOutcome::Refused { conflicts } => (
            StatusCode::CONFLICT,
            Json(BookingResult {
                id: None,
                booked: false,
                conflicts: conflict_bodies(&conflicts),
            }),
        )
            .into_response(),
    })
}

/// An appointment.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AppointmentBody {
    /// Id.
    pub id: i64,
    /// Patient.
    pub patient_id: i64,
    /// Kind code.
    pub kind: String,
    /// Clinician.
    pub clinician_id: i64,
    /// Room.
    pub room_id: Option<i64>,
    /// Telehealth.
    pub telehealth: bool,
    /// Start.
    pub starts_at: DateTime<Utc>,
    /// End.
    pub ends_at: DateTime<Utc>,
    /// booked or cancelled.
    pub status: String,
    /// Why it was booked despite a double-booking.
    pub override_reason: Option<String>,
    /// Attendance marked, if any.
    pub attendance_status: Option<String>,
    /// Minutes attended, if marked.
    pub minutes_attended: Option<i64>,
    /// The version read: send it as `If-Match` when cancelling or marking attendance, so that
    /// a change made by someone else since is not overwritten (412).
    pub etag: String,
}

fn body_of(a: Appointment) -> AppointmentBody {
    AppointmentBody {
        id: a.id,
        patient_id: a.patient_id,
        kind: a.kind,
        clinician_id: a.clinician_id,
        room_id: a.room_id,
        telehealth: a.telehealth,
        starts_at: a.starts_at.0,
        ends_at: a.ends_at.0,
        status: a.status,
        override_reason: a.override_reason,
        attendance_status: a.attendance_status,
        minutes_attended: a.minutes_attended,
        etag: etag(a.last_changed.0)
            .to_str()
            .unwrap_or_default()
            .to_owned(),
    }
}

/// The patient's appointments, newest first.
#[utoipa::path(get, path = "/patients/{id}/appointments", tag = "schedule",
    params(PageQuery, ("id" = i64, Path, description = "Patient id")),
    responses((status = 200, description = "Appointments", body = Vec<AppointmentBody>,
            headers(("X-Total-Count" = i64, description = "How many entries the whole list has"))),
        Unauthenticated, Forbidden, NotFound))]
pub async fn list_appointments(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    paging: Paging,
) -> Result<Paged<AppointmentBody>, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::ReadSchedule>(&caller.actor, id)
        .await?;
    Ok(paging.page(
        state
            .store
            .patient_appointments(&grant)
            .await?
            .into_iter()
            .map(body_of)
            .collect(),
    ))
}

/// Cancels a booked appointment (refused once attendance is marked). With `If-Match` (its
/// `etag` as listed) it is cancelled only if nobody changed it since: else 412.
#[utoipa::path(post, path = "/appointments/{id}/cancel", tag = "schedule",
    params(("id" = i64, Path, description = "Appointment id"),
        ("If-Match" = Option<String>, Header, description = "The appointment's etag as read")),
    responses((status = 204, description = "Cancelled"),
        (status = 409, description = "Already cancelled, or attendance marked", body = ApiErrorBody),
        Unauthenticated, Forbidden, NotFound, Stale))]
pub async fn cancel_appointment(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    if_match: IfMatch,
) -> Result<StatusCode, ApiError> {
    state.store.grant::<can::ManageSchedule>(&caller.actor)?;
    let patient_id = state.store.appointment_patient(id).await?;
    let grant = state
        .store
        .patient_grant::<can::ManageSchedule>(&caller.actor, patient_id)
        .await?;
    let last_changed = if_match.last_changed("the appointment")?;
    state
        .store
        .cancel_appointment_if(&grant, id, last_changed)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An attendance mark for an appointment.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct AppointmentAttendanceBody {
    /// present, late, left_early, absent_excused or absent_unexcused.
    #[serde(default)]
    #[schema(required = true, schema_with = super::codes::attendance_status)]
    pub status: String,
    /// Minutes attended, at most the appointment's length; defaults to the whole appointment
    /// when present, required when late or left early, none (or 0) when absent.
    #[schema(minimum = 0, maximum = 1440)]
    pub minutes_attended: Option<i64>,
}

/// Marks attendance at an appointment (check-in); attended minutes count toward weekly hours.
/// A new mark replaces the last; with `If-Match` (its `etag` as listed) only if nobody changed
/// it since: else 412.
#[utoipa::path(post, path = "/appointments/{id}/attendance", tag = "schedule",
    params(("id" = i64, Path, description = "Appointment id"),
        ("If-Match" = Option<String>, Header, description = "The appointment's etag as read")),
    request_body = AppointmentAttendanceBody,
    responses((status = 204, description = "Recorded"),
        (status = 409, description = "The appointment was cancelled, or the minutes exceed its \
            length", body = ApiErrorBody),
        Unauthenticated, Forbidden, NotFound, BadBody, Stale))]
pub async fn record_appointment_attendance(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    if_match: IfMatch,
    body: JsonBody<AppointmentAttendanceBody>,
) -> Result<StatusCode, ApiError> {
    state.store.grant::<can::ManageSchedule>(&caller.actor)?;
    let patient_id = state.store.appointment_patient(id).await?;
    let grant = state
        .store
        .patient_grant::<can::ManageSchedule>(&caller.actor, patient_id)
        .await?;
    let b = body.parse()?;
    let mut errors = Vec::new();
    let Some(status) = forms::code::<AttendanceStatus>(
        "status",
        &b.status,
        "choose present, late, left_early, absent_excused or absent_unexcused",
        &mut errors,
    ) else {
        return Err(AppError::Invalid(errors).into());
    };
    super::schedule::check_mark(status, b.minutes_attended)?;
    let last_changed = if_match.last_changed("the appointment")?;
    state
        .store
        .record_appointment_attendance_if(&grant, id, status, b.minutes_attended, last_changed)
        .await
        .map_err(super::contract::against_record(&["minutes_attended"]))?;
    Ok(StatusCode::NO_CONTENT)
}

/// A weekly window of the patient's availability.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AvailabilityBody {
    /// Id (ignored when adding).
    #[serde(default)]
    pub id: i64,
    /// work, school or available.
    #[serde(default)]
    pub label: String,
    /// Mon, Tue, … Sun.
    #[serde(default)]
    pub weekday: String,
    /// Local start (HH:MM).
    #[serde(default)]
    pub start: String,
    /// Local end (HH:MM); before the start means it runs past midnight.
    #[serde(default)]
    pub end: String,
}

/// The patient's weekly availability and obligations.
#[utoipa::path(get, path = "/patients/{id}/availability", tag = "schedule",
    params(PageQuery, ("id" = i64, Path, description = "Patient id")),
    responses((status = 200, description = "Windows", body = Vec<AvailabilityBody>,
            headers(("X-Total-Count" = i64, description = "How many entries the whole list has"))),
        Unauthenticated, Forbidden, NotFound))]
pub async fn list_availability(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    paging: Paging,
) -> Result<Paged<AvailabilityBody>, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::ReadSchedule>(&caller.actor, id)
        .await?;
    Ok(paging.page(
        state
            .store
            .availability(&grant)
            .await?
            .into_iter()
            .map(|w| AvailabilityBody {
                id: w.id,
                label: w.label,
                weekday: w.slot.weekday.to_string(),
                start: w.slot.start.format("%H:%M").to_string(),
                end: w.slot.end.format("%H:%M").to_string(),
            })
            .collect(),
    ))
}

/// Adds a weekly window: work or school hours, or when the patient can attend.
#[utoipa::path(post, path = "/patients/{id}/availability", tag = "schedule",
    params(("id" = i64, Path, description = "Patient id")),
    request_body = AvailabilityBody,
    responses((status = 201, description = "Added", body = Created,
            headers(("Location" = String, description = "Where the new record is read: its own URL, or the list it appears in"))),
        Unauthenticated, Forbidden, NotFound, BadBody))]
pub async fn add_availability(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    body: JsonBody<AvailabilityBody>,
) -> Result<CreatedAt<Created>, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::ManageSchedule>(&caller.actor, id)
        .await?;
    let b = body.parse()?;
    let slot = parse_window(&b.weekday, &b.start, &b.end).map_err(AppError::Invalid)?;
    let created = state.store.add_availability(&grant, &b.label, slot).await?;
    Ok(CreatedAt(
        format!("/api/v1/patients/{id}/availability"),
        Created { id: created },
    ))
}

/// Which day.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AppointmentDayQuery {
    /// Local date (YYYY-MM-DD); today if omitted.
    pub date: Option<NaiveDate>,
}

/// A site's booked appointments on a day (of the patients the caller may see).
#[utoipa::path(get, path = "/sites/{id}/appointments", tag = "schedule",
    params(PageQuery, ("id" = i64, Path, description = "Site id"), AppointmentDayQuery),
    responses((status = 200, description = "Appointments", body = Vec<AppointmentBody>,
            headers(("X-Total-Count" = i64, description = "How many entries the whole list has"))),
        Unauthenticated, Forbidden, NotFound, BadQuery))]
pub async fn site_appointments(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(site_id): PathId,
    ApiQuery(q): ApiQuery<AppointmentDayQuery>,
    paging: Paging,
) -> Result<Paged<AppointmentBody>, ApiError> {
    let grant = state.store.grant::<can::ReadSchedule>(&caller.actor)?;
    let date = q.date.unwrap_or_else(|| state.today());
    state.store.site(site_id).await?;
    Ok(paging.page(
        state
            .store
            .site_appointments(&grant, site_id, date)
            .await?
            .into_iter()
            .map(body_of)
            .collect(),
    ))
}
