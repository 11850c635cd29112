//! Program operations pages: the front desk's day sheet with check-in, the weekly-hours alert
//! list, and the program admin's tracks and rooms.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{NaiveDate, NaiveTime, Weekday};
use serde::Deserialize;
use trellis_domain::access::{permits, Permission};
use trellis_domain::patient::FieldError;
use trellis_domain::schedule::attendance::AttendanceStatus;
use trellis_domain::schedule::hours::{week_start, WeekStanding};
use trellis_domain::schedule::track::WeeklySlot;
use trellis_storage::access::can;
use trellis_storage::org::Site;
use trellis_storage::schedule::{NewRoom, NewTrack};
use trellis_storage::StoreError;

use super::check_in::{roster_view, RosterView, CHOICES};
use super::{labelled, LabelledError, Layout};
use crate::error::AppError;
use crate::forms;
use crate::identity::Staff;
use crate::AppState;

/// Which site and day a schedule page shows (no patient data in these parameters).
#[derive(Deserialize, Default)]
pub struct SheetQuery {
    #[serde(default)]
    site: Option<i64>,
    #[serde(default)]
    date: Option<String>,
    /// The session whose check-in was just saved, to confirm it.
    #[serde(default)]
    saved: Option<i64>,
}

#[derive(Template)]
#[template(path = "day_sheet.html")]
struct DaySheetPage {
    layout: Layout,
    sites: Vec<Site>,
    site_id: i64,
    date: String,
    date_label: String,
    sessions: Vec<RosterView>,
    statuses: Vec<(&'static str, &'static str)>,
    can_mark: bool,
    csrf: String,
    kiosk: bool,
    choices: [(&'static str, &'static str); 5],
    error: Option<String>,
    appointments: Vec<super::appointments::AppointmentView>,
}

/// The site asked for, or the first.
async fn pick_site(state: &AppState, asked: Option<i64>) -> Result<(Vec<Site>, Site), AppError> {
    let sites = state.store.sites().await?;
    let site = match asked {
        Some(id) => sites.iter().find(|s| s.id == id).cloned(),
        None => sites.first().cloned(),
    }
    .ok_or(AppError::NotFound("site"))?;
    Ok((sites, site))
}

fn pick_date(state: &AppState, asked: &Option<String>) -> Result<NaiveDate, AppError> {
    match asked.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        None => Ok(state.today()),
        Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| {
            AppError::Invalid(vec![FieldError::new("date", "must be a date (YYYY-MM-DD)")])
        }),
    }
}

async fn render_sheet(
    state: &AppState,
    staff: &Staff,
    query: &SheetQuery,
    error: Option<String>,
) -> Result<String, AppError> {
    let grant = state.store.grant::<can::ReadSchedule>(&staff.actor)?;
    let (sites, site) = pick_site(state, query.site).await?;
    let date = pick_date(state, &query.date)?;
    let tz: chrono_tz::Tz = site.timezone.parse().unwrap_or(state.timezone);
    let sheet = state.store.day_sheet(&grant, site.id, date).await?;
    let ids: Vec<i64> = sheet.iter().map(|s| s.session.id).collect();
    let links = state.store.session_note_links(&grant, &ids).await?;
    let sessions: Vec<RosterView> = sheet
        .iter()
        .map(|s| {
            roster_view(
                &s.session,
                &s.roster,
                tz,
                links.get(&s.session.id),
                staff,
                None,
            )
        })
        .collect();
    let mut layout = Layout::new(staff, "schedule");
    if let Some(saved) = query.saved {
        layout.notice = sheet
            .iter()
            .zip(&sessions)
            .find(|(s, _)| s.session.id == saved)
            .map(|(_, v)| format!("Check-in saved for {}: {}", v.heading(), v.summary()));
    }
    Ok(DaySheetPage {
        layout,
        csrf: staff.csrf.clone(),
        kiosk: false,
        choices: CHOICES,
        site_id: site.id,
        sites,
        date: date.format("%Y-%m-%d").to_string(),
        date_label: date.format("%A %b %-d, %Y").to_string(),
        sessions,
        statuses: AttendanceStatus::ALL
            .iter()
            .map(|s| (s.code(), s.label()))
            .collect(),
        can_mark: permits(staff.actor.role, Permission::ManageSchedule),
        error,
        appointments: super::appointments::day_sheet_appointments(state, staff, site.id, date)
            .await?,
    }
    .render()?)
}

/// The day sheet of a site: the day's group sessions with their enrolled patients.
pub async fn day_sheet(
    State(state): State<AppState>,
    staff: Staff,
    Query(query): Query<SheetQuery>,
) -> Result<Response, AppError> {
    Ok(Html(render_sheet(&state, &staff, &query, None).await?).into_response())
}

/// A check-in mark from the day sheet.
#[derive(Deserialize)]
pub struct MarkForm {
    #[serde(default)]
    patient_id: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    minutes: String,
    #[serde(default)]
    site: Option<i64>,
    #[serde(default)]
    date: Option<String>,
}

/// Parses the minutes box: blank means "default from the session".
fn minutes_field(value: &str, errors: &mut Vec<FieldError>) -> Option<i64> {
    let v = value.trim();
    if v.is_empty() {
        return None;
    }
    match v.parse::<i64>() {
        Ok(m) => Some(m),
        Err(_) => {
            errors.push(FieldError::new(
                "minutes",
                "must be a whole number of minutes",
            ));
            None
        }
    }
}

/// Records a patient's attendance at a session (front desk check-in), back to the sheet.
pub async fn mark(
    State(state): State<AppState>,
    staff: Staff,
    Path(session_id): Path<i64>,
    Form(form): Form<MarkForm>,
) -> Result<Response, AppError> {
    state.store.grant::<can::ManageSchedule>(&staff.actor)?;
    let query = SheetQuery {
        site: form.site,
        date: form.date.clone(),
        saved: None,
    };
    let mut errors = Vec::new();
    let patient_id = forms::id("patient_id", &form.patient_id, &mut errors);
    let status: Option<AttendanceStatus> = forms::code(
        "status",
        &form.status,
        "choose present, late, left early or an absence",
        &mut errors,
    );
    let minutes = minutes_field(&form.minutes, &mut errors);
    let result = match (patient_id, status, errors.is_empty()) {
        (Some(patient_id), Some(status), true) => {
            let grant = state
                .store
                .patient_grant::<can::ManageSchedule>(&staff.actor, patient_id)
                .await?;
            state
                .store
                .record_attendance(&grant, session_id, status, minutes)
                .await
                .map(|_| ())
        }
        _ => Err(StoreError::Invalid(errors)),
    };
    match result {
        Ok(()) => {
            let mut to = format!("/schedule/day-sheet?date={}", form.date.unwrap_or_default());
            if let Some(site) = form.site {
                to.push_str(&format!("&site={site}"));
            }
            Ok(Redirect::to(&to).into_response())
        }
        Err(StoreError::Invalid(e)) => {
            let message = e
                .iter()
                .map(|f| f.message.clone())
                .collect::<Vec<_>>()
                .join("; ");
            let html = render_sheet(
                &state,
                &staff,
                &query,
                Some(format!("Not saved: {message}.")),
            )
            .await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(html)).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// A patient on the hours alert list.
pub struct AlertView {
    patient_id: i64,
    name: String,
    program: String,
    hours: String,
    minimum: String,
    status: String,
    under: bool,
}

#[derive(Template)]
#[template(path = "hours_alerts.html")]
struct HoursPage {
    layout: Layout,
    sites: Vec<Site>,
    site_id: i64,
    week: String,
    week_label: String,
    /// The week shown is this week, not yet over.
    in_progress: bool,
    alerts: Vec<AlertView>,
}

/// How many weeks of hours the Schedule tab lists (the overview reads at least as many).
pub const WEEKS_SHOWN: u32 = 6;

/// Hours shown as "7.5 h".
pub fn hours(minutes: u32) -> String {
    let h = f64::from(minutes) / 60.0;
    if minutes.is_multiple_of(60) {
        format!("{h:.0} h")
    } else {
        format!("{h:.1} h")
    }
}

/// Patients under their program's weekly minimum, or at or over the ceiling, this week.
pub async fn hours_alerts(
    State(state): State<AppState>,
    staff: Staff,
    Query(query): Query<SheetQuery>,
) -> Result<Response, AppError> {
    let grant = state.store.grant::<can::ReadSchedule>(&staff.actor)?;
    let (sites, site) = pick_site(&state, query.site).await?;
    let date = pick_date(&state, &query.date)?;
    let monday = week_start(date)
        .map_err(|e| AppError::Invalid(vec![FieldError::new("date", e.to_string())]))?;
    // The week in progress is not judged yet (the Schedule tab's "this week, so far").
    let in_progress = week_start(state.today()).is_ok_and(|m| m == monday);
    let alerts = state
        .store
        .hours_alerts(&grant, site.id, monday)
        .await?
        .into_iter()
        .map(|a| AlertView {
            patient_id: a.patient_id,
            name: a.patient_name,
            program: a.program_name,
            hours: hours(a.minutes),
            minimum: hours(a.minimum_minutes),
            status: if in_progress {
                format!("{}, so far", a.status.label())
            } else {
                a.status.label().to_owned()
            },
            under: a.status == trellis_domain::schedule::hours::HoursStatus::UnderMinimum,
        })
        .collect();
    Ok(Html(
        HoursPage {
            layout: Layout::new(&staff, "schedule"),
            site_id: site.id,
            sites,
            week: monday.format("%Y-%m-%d").to_string(),
            week_label: monday.format("%b %-d, %Y").to_string(),
            in_progress,
            alerts,
        }
        .render()?,
    )
    .into_response())
}

/// A track as the admin page lists it.
pub struct TrackView {
    name: String,
    program: String,
    place: String,
    slots: String,
    enrolled: String,
    topics: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "tracks.html")]
struct TracksPage {
    layout: Layout,
    tracks: Vec<TrackView>,
    rooms: Vec<(String, String, i64)>,
    room_options: Vec<(i64, String)>,
    programs: Vec<(i64, String)>,
    sites: Vec<Site>,
    track_form: TrackForm,
    room_form: RoomForm,
    errors: Vec<LabelledError>,
}

/// The new-track form, as typed.
#[derive(Deserialize, Default, Clone)]
pub struct TrackForm {
    #[serde(default)]
    program_id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    room_id: String,
    #[serde(default)]
    starts_on: String,
    #[serde(default)]
    slots: String,
    #[serde(default)]
    topics: String,
}

/// The new-room form, as typed.
#[derive(Deserialize, Default, Clone)]
pub struct RoomForm {
    #[serde(default)]
    site_id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    capacity: String,
}

async fn render_tracks(
    state: &AppState,
    staff: &Staff,
    track_form: TrackForm,
    room_form: RoomForm,
    errors: &[FieldError],
) -> Result<String, AppError> {
    state.store.grant::<can::ManagePrograms>(&staff.actor)?;
    let sites = state.store.sites().await?;
    let site_name = |id: i64| {
        sites
            .iter()
            .find(|s| s.id == id)
            .map(|s| s.name.clone())
            .unwrap_or_default()
    };
    let rooms = state.store.rooms().await?;
    let tracks = state
        .store
        .tracks()
        .await?
        .into_iter()
        .map(|t| TrackView {
            place: if t.telehealth {
                "Telehealth".into()
            } else {
                t.room_name.clone().unwrap_or_default()
            },
            slots: t
                .slots
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            enrolled: format!("{} of {}", t.enrolled, t.max_group_size),
            topics: t
                .topics
                .iter()
                .map(|x| (x.title.clone(), x.materials.clone()))
                .collect(),
            name: t.name,
            program: t.program_name,
        })
        .collect();
    Ok(TracksPage {
        layout: Layout::new(staff, "tracks"),
        tracks,
        room_options: rooms
            .iter()
            .map(|r| (r.id, format!("{} · {}", r.name, site_name(r.site_id))))
            .collect(),
        rooms: rooms
            .iter()
            .map(|r| (r.name.clone(), site_name(r.site_id), r.capacity))
            .collect(),
        programs: state
            .store
            .programs()
            .await?
            .into_iter()
            .map(|p| (p.id, format!("{} · {}", p.name, p.site_name)))
            .collect(),
        sites,
        track_form,
        room_form,
        errors: labelled(errors),
    }
    .render()?)
}

/// Tracks and rooms (program admins).
pub async fn tracks(State(state): State<AppState>, staff: Staff) -> Result<Response, AppError> {
    Ok(Html(
        render_tracks(
            &state,
            &staff,
            TrackForm::default(),
            RoomForm::default(),
            &[],
        )
        .await?,
    )
    .into_response())
}

/// Parses "Mon 18:00-21:00" lines into weekly slots.
pub fn parse_slots(text: &str, errors: &mut Vec<FieldError>) -> Vec<WeeklySlot> {
    let mut slots = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let parsed = line.split_once(' ').and_then(|(day, times)| {
            let weekday: Weekday = day.trim().parse().ok()?;
            let (start, end) = times.trim().split_once(['-', '–'])?;
            let start = NaiveTime::parse_from_str(start.trim(), "%H:%M").ok()?;
            let end = NaiveTime::parse_from_str(end.trim(), "%H:%M").ok()?;
            WeeklySlot::new(weekday, start, end).ok()
        });
        match parsed {
            Some(slot) => slots.push(slot),
            None => {
                errors.push(FieldError::new(
                    "slots",
                    format!("{line:?} is not like \"Mon 18:00-21:00\""),
                ));
                return Vec::new();
            }
        }
    }
    slots
}

/// Parses "Title | materials" lines into curriculum topics.
pub fn parse_topics(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| match l.split_once('|') {
            Some((title, materials)) => (title.trim().to_owned(), materials.trim().to_owned()),
            None => (l.to_owned(), String::new()),
        })
        .collect()
}

/// Creates a track.
pub async fn create_track(
    State(state): State<AppState>,
    staff: Staff,
    Form(form): Form<TrackForm>,
) -> Result<Response, AppError> {
    let grant = state.store.grant::<can::ManagePrograms>(&staff.actor)?;
    let mut errors = Vec::new();
    let program_id = forms::id("program_id", &form.program_id, &mut errors);
    let telehealth = form.room_id.trim() == "telehealth";
    let room_id = if telehealth {
        None
    } else {
        forms::optional_id("room_id", &form.room_id, &mut errors)
    };
    let starts_on = forms::date("starts_on", &form.starts_on, &mut errors);
    let slots = parse_slots(&form.slots, &mut errors);
    let result = match (program_id, starts_on, errors.is_empty()) {
        (Some(program_id), Some(starts_on), true) => state
            .store
            .create_track(
                &grant,
                NewTrack {
                    program_id,
                    name: form.name.clone(),
                    room_id,
                    telehealth,
                    starts_on,
                    slots,
                    topics: parse_topics(&form.topics),
                },
            )
            .await
            .map(|_| ()),
        _ => Err(StoreError::Invalid(errors)),
    };
    match result {
        Ok(()) => Ok(Redirect::to("/schedule/tracks").into_response()),
        Err(StoreError::Invalid(e)) => {
            let html = render_tracks(&state, &staff, form, RoomForm::default(), &e).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(html)).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// Adds a room.
pub async fn create_room(
    State(state): State<AppState>,
    staff: Staff,
    Form(form): Form<RoomForm>,
) -> Result<Response, AppError> {
    let grant = state.store.grant::<can::ManagePrograms>(&staff.actor)?;
    let mut errors = Vec::new();
    let site_id = forms::id("site_id", &form.site_id, &mut errors);
    let capacity = form.capacity.trim().parse::<i64>().ok();
    if capacity.is_none() {
        errors.push(FieldError::new("capacity", "must be a whole number"));
    }
    let result = match (site_id, capacity, errors.is_empty()) {
        (Some(site_id), Some(capacity), true) => state
            .store
            .create_room(
                &grant,
                NewRoom {
                    site_id,
                    name: form.name.clone(),
                    capacity,
                },
            )
            .await
            .map(|_| ()),
        _ => Err(StoreError::Invalid(errors)),
    };
    match result {
        Ok(()) => Ok(Redirect::to("/schedule/tracks").into_response()),
        Err(StoreError::Invalid(e)) => {
            let html = render_tracks(&state, &staff, TrackForm::default(), form, &e).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(html)).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// The chart's "Schedule & attendance" tab.
pub struct ScheduleTab {
    /// Current and past track enrolments: (track · program, from, until).
    pub(super) enrolments: Vec<(String, String, String)>,
    /// Tracks a patient may be enrolled in: (id, label).
    pub(super) tracks: Vec<(i64, String)>,
    /// Whether the viewer may enrol.
    pub(super) can_enrol: bool,
    /// The program's weekly minimum, shown.
    pub(super) minimum: String,
    /// Weeks, newest first: (week of, hours, status label, under minimum, the minimum of the
    /// level of care in force that week).
    pub(super) weeks: Vec<(String, String, &'static str, bool, String)>,
    /// Days with service: (day, hours, per-diem eligible).
    pub(super) days: Vec<(String, String, bool)>,
    /// Attendance marks: (session, track, status, minutes).
    pub(super) attendance: Vec<(String, String, String, String)>,
    /// Curriculum coverage: (track, attended, missing, sessions to complete).
    pub(super) coverage: Vec<(String, Vec<String>, Vec<String>, u64)>,
    /// An enrolment error to show.
    pub(super) error: Option<String>,
    /// Appointments, availability and calendar feeds.
    pub(super) appointments: super::appointments::AppointmentsSection,
}

/// Builds the schedule tab for a patient.
pub async fn schedule_tab(
    state: &AppState,
    staff: &Staff,
    patient_id: i64,
    error: Option<String>,
) -> Result<ScheduleTab, AppError> {
    let grant = state
        .store
        .patient_grant::<can::ReadSchedule>(&staff.actor, patient_id)
        .await?;
    let clinical = state
        .store
        .patient_grant_if_role::<can::ReadClinical>(&staff.actor, patient_id)
        .await?;
    let schedule = state
        .store
        .patient_schedule(&grant, clinical.as_ref(), state.today(), WEEKS_SHOWN)
        .await?;
    let tz = state.timezone;
    // Only those who enrol need the choice of tracks.
    let can_enrol = permits(staff.actor.role, Permission::ManageSchedule);
    Ok(ScheduleTab {
        enrolments: schedule
            .enrolments
            .iter()
            .map(|e| {
                (
                    format!("{} · {}", e.track_name, e.program_name),
                    crate::view::day(&e.enrolled_on),
                    e.ended_on
                        .as_ref()
                        .map(crate::view::day)
                        .unwrap_or_else(|| "now".into()),
                )
            })
            .collect(),
        tracks: if can_enrol {
            state
                .store
                .patient_site_tracks(&grant)
                .await?
                .into_iter()
                .map(|t| {
                    (
                        t.id,
                        format!(
                            "{} · {} ({} of {} places taken)",
                            t.name, t.program_name, t.enrolled, t.max_group_size
                        ),
                    )
                })
                .collect()
        } else {
            Vec::new()
        },
        can_enrol,
        minimum: match &schedule.policy {
            // Stepped down to outpatient: no minimum, only the level's ceiling.
            Some(p) if p.weekly_minimum_minutes == 0 => match p.weekly_ceiling_minutes {
                Some(c) => format!("none at this level of care (under {})", hours(c)),
                None => "none at this level of care".into(),
            },
            Some(p) => hours(p.weekly_minimum_minutes),
            None => "none (no open episode at a level with weekly hours)".into(),
        },
        weeks: schedule
            .weeks
            .iter()
            .rev()
            .map(|w| {
                (
                    w.week_start.format("%b %-d").to_string(),
                    hours(w.minutes),
                    w.standing.label(),
                    w.standing.is_under(),
                    match (w.standing, w.policy) {
                        (WeekStanding::NotInCare, _) | (_, None) => "—".into(),
                        (_, Some(p)) if p.weekly_minimum_minutes == 0 => "none".into(),
                        (_, Some(p)) => hours(p.weekly_minimum_minutes),
                    },
                )
            })
            .collect(),
        days: schedule
            .days
            .iter()
            .map(|d| {
                (
                    d.date.format("%a %b %-d").to_string(),
                    hours(d.minutes),
                    d.per_diem_eligible,
                )
            })
            .collect(),
        attendance: schedule
            .attendance
            .iter()
            .take(30)
            .map(|a| {
                (
                    crate::view::local_time(&a.starts_at, tz),
                    a.track_name.clone(),
                    a.status
                        .parse::<AttendanceStatus>()
                        .map(|s| s.label().to_owned())
                        .unwrap_or_else(|_| a.status.clone()),
                    format!("{} of {}", a.minutes_attended, a.session_minutes),
                )
            })
            .collect(),
        // Empty for roles that do not read clinical text: the storage layer gave none.
        coverage: schedule
            .coverage
            .unwrap_or_default()
            .into_iter()
            .map(|c| (c.track_name, c.attended, c.missing, c.sessions_to_complete))
            .collect(),
        error,
        appointments: super::appointments::section(state, staff, patient_id).await?,
    })
}

/// The enrolment form on the chart.
#[derive(Deserialize)]
pub struct EnrolForm {
    #[serde(default)]
    track_id: String,
    #[serde(default)]
    enrolled_on: String,
}

/// Parses the enrolment form and enrols the patient; the error message, if any, for the tab.
pub async fn enrol_from_form(
    state: &AppState,
    staff: &Staff,
    patient_id: i64,
    form: &EnrolForm,
) -> Result<Option<String>, AppError> {
    let grant = state
        .store
        .patient_grant::<can::ManageSchedule>(&staff.actor, patient_id)
        .await?;
    let mut errors = Vec::new();
    let track_id = forms::id("track_id", &form.track_id, &mut errors);
    let enrolled_on = forms::date("enrolled_on", &form.enrolled_on, &mut errors);
    let result = match (track_id, enrolled_on, errors.is_empty()) {
        (Some(track_id), Some(day), true) => {
            state.store.enrol(&grant, track_id, day).await.map(|_| ())
        }
        _ => Err(StoreError::Invalid(errors)),
    };
    match result {
        Ok(()) => Ok(None),
        Err(StoreError::Invalid(e)) => Ok(Some(
            e.iter()
                .map(|f| f.message.clone())
                .collect::<Vec<_>>()
                .join("; "),
        )),
        Err(StoreError::Conflict(message)) => Ok(Some(message)),
        Err(e) => Err(e.into()),
    }
}
