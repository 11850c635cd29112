//! Program operations: tracks and rooms, day sheets, attendance, group enrolment and weekly hours.

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use trellis_domain::patient::FieldError;
use trellis_domain::schedule::attendance::{Attendance, AttendanceStatus};
use trellis_storage::access::can;
use trellis_storage::schedule::{NewRoom, NewTrack};
use utoipa::openapi::schema::Object;

use super::contract::{against_record, when};
use super::episodes::Created;
use super::extract::{ApiQuery, JsonBody, PathId};
use super::paging::{PageQuery, Paged, Paging};
use super::responses::CreatedAt;
use super::responses::{BadBody, BadQuery, Forbidden, NotFound, Unauthenticated};
use crate::error::{ApiError, ApiErrorBody, AppError};
use crate::forms;
use crate::identity::ApiCaller;
use crate::pages::schedule::parse_slots;
use crate::AppState;

/// A curriculum topic.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TopicBody {
    /// Title.
    #[schema(pattern = "\\S")]
    pub title: String,
    /// Materials the facilitator uses.
    #[serde(default)]
    pub materials: String,
}

/// A track with its weekly pattern and curriculum.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TrackBody {
    /// Id.
    pub id: i64,
    /// Program.
    pub program_id: i64,
    /// Name.
    pub name: String,
    /// Room, if held in one.
    pub room_id: Option<i64>,
    /// Held by telehealth.
    pub telehealth: bool,
    /// Weekly sessions in the site's local time, e.g. "Mon 18:00–21:00".
    pub slots: Vec<String>,
    /// Curriculum in teaching order.
    pub topics: Vec<TopicBody>,
    /// Patients enrolled now.
    pub enrolled: i64,
    /// Group size cap.
    pub max_group_size: i64,
}

/// Every track.
#[utoipa::path(get, path = "/tracks", tag = "schedule",
    params(PageQuery),
    responses((status = 200, description = "Tracks", body = Vec<TrackBody>,
            headers(("X-Total-Count" = i64, description = "How many entries the whole list has"))), Unauthenticated, Forbidden))]
pub async fn list_tracks(
    State(state): State<AppState>,
    caller: ApiCaller,
    paging: Paging,
) -> Result<Paged<TrackBody>, ApiError> {
    state.store.grant::<can::ReadSchedule>(&caller.actor)?;
    Ok(paging.page(
        state
            .store
            .tracks()
            .await?
            .into_iter()
            .map(|t| TrackBody {
                id: t.id,
                program_id: t.program_id,
                name: t.name,
                room_id: t.room_id,
                telehealth: t.telehealth,
                slots: t.slots.iter().map(ToString::to_string).collect(),
                topics: t
                    .topics
                    .into_iter()
                    .map(|x| TopicBody {
                        title: x.title,
                        materials: x.materials,
                    })
                    .collect(),
                enrolled: t.enrolled,
                max_group_size: t.max_group_size,
            })
            .collect(),
    ))
}

/// A new track.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewTrackBody {
    /// Program.
    pub program_id: i64,
    /// Name, e.g. "Evening" (at most 100 characters).
    #[serde(default)]
    #[schema(required = true, max_length = 100)]
    pub name: String,
    /// Room, at the program's site (required unless held by telehealth).
    pub room_id: Option<i64>,
    /// Held by telehealth.
    #[serde(default)]
    pub telehealth: bool,
    /// First day of the curriculum cycle (YYYY-MM-DD).
    #[serde(default)]
    #[schema(required = true, format = Date)]
    pub starts_on: String,
    /// Weekly sessions in the site's local time, e.g. "Mon 18:00-21:00" (at least one).
    #[serde(default)]
    #[schema(required = true, min_items = 1)]
    pub slots: Vec<String>,
    /// Curriculum in teaching order.
    #[serde(default)]
    pub topics: Vec<TopicBody>,
}

/// A track not held by telehealth needs a room.
pub fn track_rules(object: &mut Object) {
    when(
        object,
        json!({ "not": { "required": ["telehealth"], "properties": { "telehealth": { "const": true } } } }),
        json!({ "required": ["room_id"], "properties": { "room_id": { "type": "integer" } } }),
    );
}

/// Creates a track (program admins).
#[utoipa::path(post, path = "/tracks", tag = "schedule", request_body = NewTrackBody,
    responses((status = 201, description = "Created", body = Created,
            headers(("Location" = String, description = "Where the new record is read: its own URL, or the list it appears in"))),
        (status = 409, description = "The program already has a track with this name, or the \
            program or room named does not exist (or the room is at another site)", body = ApiErrorBody),
        Unauthenticated, Forbidden, BadBody))]
pub async fn create_track(
    State(state): State<AppState>,
    caller: ApiCaller,
    body: JsonBody<NewTrackBody>,
) -> Result<CreatedAt<Created>, ApiError> {
    let grant = state.store.grant::<can::ManagePrograms>(&caller.actor)?;
    let new = body.parse()?;
    let mut errors = Vec::new();
    let starts_on = forms::date("starts_on", &new.starts_on, &mut errors);
    let slots = parse_slots(&new.slots.join("\n"), &mut errors);
    let (Some(starts_on), true) = (starts_on, errors.is_empty()) else {
        return Err(AppError::Invalid(errors).into());
    };
    let topics = new
        .topics
        .into_iter()
        .map(|t| (t.title, t.materials))
        .collect();
    let id = state
        .store
        .create_track(
            &grant,
            NewTrack {
                program_id: new.program_id,
                name: new.name,
                room_id: new.room_id,
                telehealth: new.telehealth,
                starts_on,
                slots,
                topics,
            },
        )
        .await
        .map_err(against_record(&["program_id", "room_id"]))?;
    Ok(CreatedAt("/api/v1/tracks".to_owned(), Created { id }))
}

/// A room.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RoomBody {
    /// Id.
    pub id: i64,
    /// Site.
    pub site_id: i64,
    /// Name.
    pub name: String,
    /// Seats.
    pub capacity: i64,
}

/// Every room.
#[utoipa::path(get, path = "/rooms", tag = "schedule",
    params(PageQuery),
    responses((status = 200, description = "Rooms", body = Vec<RoomBody>,
            headers(("X-Total-Count" = i64, description = "How many entries the whole list has"))), Unauthenticated, Forbidden))]
pub async fn list_rooms(
    State(state): State<AppState>,
    caller: ApiCaller,
    paging: Paging,
) -> Result<Paged<RoomBody>, ApiError> {
    state.store.grant::<can::ReadSchedule>(&caller.actor)?;
    Ok(paging.page(
        state
            .store
            .rooms()
            .await?
            .into_iter()
            .map(|r| RoomBody {
                id: r.id,
                site_id: r.site_id,
                name: r.name,
                capacity: r.capacity,
            })
            .collect(),
    ))
}

/// A new room.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewRoomBody {
    /// Site.
    pub site_id: i64,
    /// Name (at most 100 characters).
    #[serde(default)]
    #[schema(required = true, max_length = 100)]
    pub name: String,
    /// Seats, 1–200.
    #[schema(minimum = 1, maximum = 200)]
    pub capacity: i64,
}

/// Adds a room (program admins).
#[utoipa::path(post, path = "/rooms", tag = "schedule", request_body = NewRoomBody,
    responses((status = 201, description = "Created", body = Created,
            headers(("Location" = String, description = "Where the new record is read: its own URL, or the list it appears in"))),
        (status = 409, description = "The site already has a room with this name, or the site \
            does not exist", body = ApiErrorBody),
        Unauthenticated, Forbidden, BadBody))]
pub async fn create_room(
    State(state): State<AppState>,
    caller: ApiCaller,
    body: JsonBody<NewRoomBody>,
) -> Result<CreatedAt<Created>, ApiError> {
    let grant = state.store.grant::<can::ManagePrograms>(&caller.actor)?;
    let new = body.parse()?;
    let id = state
        .store
        .create_room(
            &grant,
            NewRoom {
                site_id: new.site_id,
                name: new.name,
                capacity: new.capacity,
            },
        )
        .await
        .map_err(against_record(&["site_id"]))?;
    Ok(CreatedAt("/api/v1/rooms".to_owned(), Created { id }))
}

/// Which day.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DayQuery {
    /// Local date (YYYY-MM-DD); today if omitted.
    pub date: Option<NaiveDate>,
}

fn day_of(state: &AppState, q: &DayQuery) -> Result<NaiveDate, ApiError> {
    Ok(q.date.unwrap_or_else(|| state.today()))
}

/// A patient's line on the day sheet.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SheetLineBody {
    /// Patient.
    pub patient_id: i64,
    /// Name to address them by.
    pub patient_name: String,
    /// Status marked, if any: present, late, left_early, absent_excused, absent_unexcused.
    pub status: Option<String>,
    /// Minutes attended, if marked.
    pub minutes_attended: Option<i64>,
}

/// A group session on the day sheet.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SheetSessionBody {
    /// Session id.
    pub id: i64,
    /// Track.
    pub track_id: i64,
    /// Track name.
    pub track_name: String,
    /// Start.
    pub starts_at: DateTime<Utc>,
    /// End.
    pub ends_at: DateTime<Utc>,
    /// Length in minutes.
    pub minutes: i64,
    /// Topic taught.
    pub topic: Option<String>,
    /// The topic's materials.
    pub materials: Option<String>,
    /// Enrolled patients.
    pub roster: Vec<SheetLineBody>,
}

/// A site's group sessions on a day with their enrolled patients (sessions are generated from the
/// track patterns as needed).
#[utoipa::path(get, path = "/sites/{id}/day-sheet", tag = "schedule",
    params(PageQuery, ("id" = i64, Path, description = "Site id"), DayQuery),
    responses((status = 200, description = "The day sheet", body = Vec<SheetSessionBody>,
            headers(("X-Total-Count" = i64, description = "How many entries the whole list has"))),
        Unauthenticated, Forbidden, NotFound, BadQuery))]
pub async fn day_sheet(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(site_id): PathId,
    ApiQuery(q): ApiQuery<DayQuery>,
    paging: Paging,
) -> Result<Paged<SheetSessionBody>, ApiError> {
    let grant = state.store.grant::<can::ReadSchedule>(&caller.actor)?;
    let date = day_of(&state, &q)?;
    state.store.site(site_id).await?;
    let sheet = state.store.day_sheet(&grant, site_id, date).await?;
    Ok(paging.page(
        sheet
            .into_iter()
            .map(|s| SheetSessionBody {
                id: s.session.id,
                track_id: s.session.track_id,
                track_name: s.session.track_name,
                starts_at: s.session.starts_at.0,
                ends_at: s.session.ends_at.0,
                minutes: s.session.minutes,
                topic: s.session.topic_title,
                materials: s.session.topic_materials,
                roster: s
                    .roster
                    .into_iter()
                    .map(|l| SheetLineBody {
                        patient_id: l.patient_id,
                        patient_name: l.patient_name,
                        status: l.status.map(|s| s.code().to_owned()),
                        minutes_attended: l.minutes_attended,
                    })
                    .collect(),
            })
            .collect(),
    ))
}

/// An attendance mark.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"patient_id": 12, "status": "late", "minutes_attended": 150}))]
pub struct AttendanceBody {
    /// Patient.
    pub patient_id: i64,
    /// present, late, left_early, absent_excused or absent_unexcused.
    #[serde(default)]
    #[schema(required = true, schema_with = super::codes::attendance_status)]
    pub status: String,
    /// Minutes attended, at most the session's length; defaults to the whole session when
    /// present, required when late or left early, none (or 0) when absent.
    #[schema(minimum = 0, maximum = 1440)]
    pub minutes_attended: Option<i64>,
}

/// The longest mark: a session or appointment lies within a day.
const MAX_MARK_MINUTES: u32 = 24 * 60;

/// Checks what an attendance mark says on its own (a part attendance needs its minutes, an
/// absence has none, minutes are 0 to a day), so that a refusal by the store after it is about
/// the stored session or appointment (longer than it lasts): a conflict, not bad input.
pub fn check_mark(status: AttendanceStatus, minutes: Option<i64>) -> Result<(), ApiError> {
    Attendance::record(status, MAX_MARK_MINUTES, minutes)
        .map(|_| ())
        .map_err(|e| {
            AppError::Invalid(vec![FieldError::new("minutes_attended", e.to_string())]).into()
        })
}

/// The rules between an attendance mark's status and minutes (a session's or an
/// appointment's), from the domain's statuses: a part attendance (late, left early) needs the
/// minutes, since assuming the whole session would overstate service; an absence has none.
pub fn attendance_rules(object: &mut Object) {
    let codes = |part: bool| {
        AttendanceStatus::ALL
            .into_iter()
            .filter(|s| s.attended() == part && *s != AttendanceStatus::Present)
            .map(AttendanceStatus::code)
            .collect::<Vec<_>>()
    };
    when(
        object,
        json!({ "properties": { "status": { "enum": codes(true) } } }),
        json!({
            "required": ["minutes_attended"],
            "properties": { "minutes_attended": { "type": "integer" } },
        }),
    );
    when(
        object,
        json!({ "properties": { "status": { "enum": codes(false) } } }),
        json!({ "properties": { "minutes_attended": { "maximum": 0 } } }),
    );
}

/// What a mark set off.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AttendanceResult {
    /// The outreach task opened because this mark completed a run of unexcused absences.
    pub outreach_task_id: Option<i64>,
}

/// Marks a patient's attendance at a group session (check-in).
#[utoipa::path(post, path = "/sessions/{id}/attendance", tag = "schedule",
    params(("id" = i64, Path, description = "Session id")),
    request_body = AttendanceBody,
    responses((status = 200, description = "Recorded", body = AttendanceResult),
        (status = 409, description = "The mark does not fit the stored session: more minutes than it \
            lasts, or a patient not enrolled in the group that day", body = ApiErrorBody),
        Unauthenticated, Forbidden, NotFound, BadBody))]
pub async fn record_attendance(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(session_id): PathId,
    body: JsonBody<AttendanceBody>,
) -> Result<Json<AttendanceResult>, ApiError> {
    state.store.grant::<can::ManageSchedule>(&caller.actor)?;
    let mark = body.parse()?;
    let grant = state
        .store
        .patient_grant::<can::ManageSchedule>(&caller.actor, mark.patient_id)
        .await?;
    let status: AttendanceStatus = mark.status.parse().map_err(|_| {
        AppError::Invalid(vec![FieldError::new(
            "status",
            "use present, late, left_early, absent_excused or absent_unexcused",
        )])
    })?;
    check_mark(status, mark.minutes_attended)?;
    let outcome = state
        .store
        .record_attendance(&grant, session_id, status, mark.minutes_attended)
        .await
        .map_err(against_record(&["minutes_attended", "patient_id"]))?;
    Ok(Json(AttendanceResult {
        outreach_task_id: outcome.outreach_task_id,
    }))
}

/// A group enrolment.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct EnrolmentBody {
    /// Track.
    pub track_id: i64,
    /// From (YYYY-MM-DD).
    #[serde(default)]
    #[schema(required = true, format = Date)]
    pub enrolled_on: String,
}

/// Enrols a patient in a track, within the program's group size cap.
#[utoipa::path(post, path = "/patients/{id}/enrolments", tag = "schedule",
    params(("id" = i64, Path, description = "Patient id")),
    request_body = EnrolmentBody,
    responses((status = 201, description = "Enrolled", body = Created,
            headers(("Location" = String, description = "Where the new record is read: its own URL, or the list it appears in"))),
        (status = 409, description = "The group is full or the patient is already in it", body = ApiErrorBody),
        Unauthenticated, Forbidden, NotFound, BadBody))]
pub async fn enrol(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    body: JsonBody<EnrolmentBody>,
) -> Result<CreatedAt<Created>, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::ManageSchedule>(&caller.actor, id)
        .await?;
    let new = body.parse()?;
    let mut errors = Vec::new();
    let Some(day) = forms::date("enrolled_on", &new.enrolled_on, &mut errors) else {
        return Err(AppError::Invalid(errors).into());
    };
    let created = state.store.enrol(&grant, new.track_id, day).await?;
    Ok(CreatedAt(
        format!("/api/v1/patients/{id}/schedule"),
        Created { id: created },
    ))
}

/// One week's service hours.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WeekBody {
    /// Monday of the week.
    pub week_start: NaiveDate,
    /// Minutes attended.
    pub minutes: u32,
    /// under_minimum, within or at_or_over_ceiling for a whole week in care; before_admission
    /// or in_progress (this week) for weeks that are not judged.
    pub status: String,
    /// The weekly minimum in minutes of the level of care in force that week (0 at a level
    /// without one); absent for a week before any level was in force.
    pub minimum_minutes: Option<u32>,
}

/// One day's service.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DayBody {
    /// Local date.
    pub date: NaiveDate,
    /// Minutes attended.
    pub minutes: u32,
    /// Whether the day reaches 3 hours (per diem).
    pub per_diem_eligible: bool,
}

/// Curriculum coverage in one track.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CoverageBody {
    /// Track.
    pub track_name: String,
    /// Topics attended.
    pub attended: Vec<String>,
    /// Topics still missing.
    pub missing: Vec<String>,
}

/// A patient's schedule: weekly hours, per-diem days and curriculum coverage.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PatientScheduleBody {
    /// Today's weekly minimum in minutes (the level of care in force now), if the patient has
    /// an open episode at a level with weekly hours; each week carries its own.
    pub weekly_minimum_minutes: Option<u32>,
    /// The last six weeks, oldest first.
    pub weeks: Vec<WeekBody>,
    /// Days with service, newest first.
    pub days: Vec<DayBody>,
    /// Curriculum coverage per current enrolment. Clinical: present only for clinical roles.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coverage: Option<Vec<CoverageBody>>,
}

fn status_code(s: trellis_domain::schedule::hours::WeekStanding) -> String {
    use trellis_domain::schedule::hours::{HoursStatus as H, WeekStanding as W};
    match s {
        W::NotInCare => "before_admission",
        W::InProgress => "in_progress",
        W::Judged(H::UnderMinimum) => "under_minimum",
        W::Judged(H::Within) => "within",
        W::Judged(H::AtOrOverCeiling) => "at_or_over_ceiling",
    }
    .to_owned()
}

/// A patient's weekly service hours against the program minimum, per-diem days and curriculum.
#[utoipa::path(get, path = "/patients/{id}/schedule", tag = "schedule",
    params(("id" = i64, Path, description = "Patient id")),
    responses((status = 200, description = "The schedule", body = PatientScheduleBody),
        Unauthenticated, Forbidden, NotFound))]
pub async fn patient_schedule(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
) -> Result<Json<PatientScheduleBody>, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::ReadSchedule>(&caller.actor, id)
        .await?;
    let clinical = state
        .store
        .patient_grant_if_role::<can::ReadClinical>(&caller.actor, id)
        .await?;
    let s = state
        .store
        .patient_schedule(&grant, clinical.as_ref(), state.today(), 6)
        .await?;
    Ok(Json(PatientScheduleBody {
        weekly_minimum_minutes: s.policy.map(|p| p.weekly_minimum_minutes),
        weeks: s
            .weeks
            .iter()
            .map(|w| WeekBody {
                week_start: w.week_start,
                minutes: w.minutes,
                status: status_code(w.standing),
                minimum_minutes: w.policy.map(|p| p.weekly_minimum_minutes),
            })
            .collect(),
        days: s
            .days
            .iter()
            .map(|d| DayBody {
                date: d.date,
                minutes: d.minutes,
                per_diem_eligible: d.per_diem_eligible,
            })
            .collect(),
        coverage: s.coverage.map(|coverage| {
            coverage
                .into_iter()
                .map(|c| CoverageBody {
                    track_name: c.track_name,
                    attended: c.attended,
                    missing: c.missing,
                })
                .collect()
        }),
    }))
}

/// A patient whose hours are out of range this week.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HoursAlertBody {
    /// Patient.
    pub patient_id: i64,
    /// Name.
    pub patient_name: String,
    /// Program.
    pub program_name: String,
    /// Minutes this week.
    pub minutes: u32,
    /// Program minimum in minutes.
    pub minimum_minutes: u32,
    /// under_minimum or at_or_over_ceiling.
    pub status: String,
}

/// Patients at a site under the weekly minimum, or at or over the ceiling, in the week of `date`.
#[utoipa::path(get, path = "/sites/{id}/hours-alerts", tag = "schedule",
    params(PageQuery, ("id" = i64, Path, description = "Site id"), DayQuery),
    responses((status = 200, description = "The alert list", body = Vec<HoursAlertBody>,
            headers(("X-Total-Count" = i64, description = "How many entries the whole list has"))),
        Unauthenticated, Forbidden, NotFound, BadQuery))]
pub async fn hours_alerts(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(site_id): PathId,
    ApiQuery(q): ApiQuery<DayQuery>,
    paging: Paging,
) -> Result<Paged<HoursAlertBody>, ApiError> {
    let grant = state.store.grant::<can::ReadSchedule>(&caller.actor)?;
    let date = day_of(&state, &q)?;
    let alerts = state.store.hours_alerts(&grant, site_id, date).await?;
    Ok(paging.page(
        alerts
            .into_iter()
            .map(|a| HoursAlertBody {
                patient_id: a.patient_id,
                patient_name: a.patient_name,
                program_name: a.program_name,
                minutes: a.minutes,
                minimum_minutes: a.minimum_minutes,
                status: status_code(trellis_domain::schedule::hours::WeekStanding::Judged(
                    a.status,
                )),
            })
            .collect(),
    ))
}
