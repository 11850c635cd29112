//! Appointment pages: booking from the chart with conflict warnings and the override path, the
//! patient's availability, check-in, the clinician's day, and calendar feed links.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{NaiveTime, TimeDelta, Utc, Weekday};
use chrono_tz::Tz;
use serde::Deserialize;
use trellis_domain::access::{permits, Permission};
use trellis_domain::patient::FieldError;
use trellis_domain::schedule::appointments::{refuses_booking, AppointmentKind};
use trellis_domain::schedule::attendance::AttendanceStatus;
use trellis_domain::schedule::conflicts::Conflict;
use trellis_domain::schedule::track::WeeklySlot;
use trellis_domain::schedule::zone::SiteZone;
use trellis_storage::access::can;
use trellis_storage::appointments::{
    Appointment, BookingOutcome, CalendarFeed, NewAppointment, AVAILABILITY_LABELS,
};
use trellis_storage::{Instant, StoreError};

use super::Layout;
use crate::error::AppError;
use crate::forms;
use crate::identity::Staff;
use crate::AppState;

/// The booking form as typed (the page and the API share its parsing).
#[derive(Deserialize, Default, Clone)]
pub struct BookingForm {
    #[serde(default)]
    pub(crate) kind: String,
    #[serde(default)]
    pub(crate) clinician_id: String,
    /// A room id, or "telehealth".
    #[serde(default)]
    pub(crate) room: String,
    #[serde(default)]
    pub(crate) date: String,
    #[serde(default)]
    pub(crate) start: String,
    #[serde(default)]
    pub(crate) end: String,
    #[serde(default)]
    pub(crate) occupants: String,
    #[serde(default)]
    pub(crate) override_reason: String,
}

fn time_field(field: &'static str, value: &str, errors: &mut Vec<FieldError>) -> Option<NaiveTime> {
    match NaiveTime::parse_from_str(value.trim(), "%H:%M") {
        Ok(t) => Some(t),
        Err(_) => {
            errors.push(FieldError::new(field, "must be a time (HH:MM)"));
            None
        }
    }
}

impl BookingForm {
    /// The appointment asked for, or every problem with the input.
    pub(crate) fn parse(&self) -> Result<NewAppointment, Vec<FieldError>> {
        let mut errors = Vec::new();
        let kind: Option<AppointmentKind> = forms::code(
            "kind",
            &self.kind,
            "choose individual therapy, family session, psychiatric evaluation, medication \
             management, case management or drug screen",
            &mut errors,
        );
        let clinician_id = forms::id("clinician_id", &self.clinician_id, &mut errors);
        let (room_id, telehealth) = match self.room.trim() {
            "telehealth" => (None, true),
            room => (forms::id("room_id", room, &mut errors), false),
        };
        let date = forms::date("date", &self.date, &mut errors);
        let start = time_field("start", &self.start, &mut errors);
        let end = time_field("end", &self.end, &mut errors);
        let minutes = match (start, end) {
            (Some(s), Some(e)) if e <= s => {
                errors.push(FieldError::new(
                    "end",
                    "must be after the start (appointments end the day they start)",
                ));
                None
            }
            (Some(s), Some(e)) => Some((e - s).num_minutes()),
            _ => None,
        };
        let occupants = match self.occupants.trim() {
            "" => None,
            n => match n.parse::<i64>() {
                Ok(n) => Some(n),
                Err(_) => {
                    errors.push(FieldError::new("occupants", "must be a whole number"));
                    None
                }
            },
        };
        match (kind, clinician_id, date, start, minutes, errors.is_empty()) {
            (Some(kind), Some(clinician_id), Some(date), Some(start), Some(minutes), true) => {
                Ok(NewAppointment {
                    kind,
                    clinician_id,
                    room_id,
                    telehealth,
                    date,
                    start,
                    minutes,
                    occupants,
                    override_reason: forms::text(&Some(self.override_reason.clone())),
                })
            }
            _ => Err(errors),
        }
    }
}

/// An appointment as the chart and day sheets list it.
pub struct AppointmentView {
    pub(super) id: i64,
    pub(super) patient_id: i64,
    pub(super) patient: String,
    pub(super) kind: String,
    pub(super) when: String,
    pub(super) clinician: String,
    pub(super) place: String,
    pub(super) booked: bool,
    pub(super) attendance: String,
    pub(super) attendance_code: String,
    pub(super) minutes: String,
    pub(super) override_reason: Option<String>,
}

fn view_of(a: Appointment, tz: Tz) -> AppointmentView {
    let start = a.starts_at.0.with_timezone(&tz);
    let end = a.ends_at.0.with_timezone(&tz);
    AppointmentView {
        id: a.id,
        patient_id: a.patient_id,
        patient: a.patient_name.clone(),
        kind: a
            .kind()
            .map(|k| k.label().to_owned())
            .unwrap_or_else(|_| a.kind.clone()),
        when: format!(
            "{}–{}",
            start.format("%a %b %-d %H:%M"),
            end.format("%H:%M %Z")
        ),
        clinician: a.clinician_name.clone(),
        place: if a.telehealth {
            "Telehealth".into()
        } else {
            a.room_name.clone().unwrap_or_default()
        },
        booked: a.status == "booked",
        attendance: match (&a.status[..], a.attendance_status.as_deref()) {
            ("cancelled", _) => "Cancelled".into(),
            (_, Some(code)) => code
                .parse::<AttendanceStatus>()
                .map(|s| s.label().to_owned())
                .unwrap_or_else(|_| code.to_owned()),
            (_, None) => "Not marked".into(),
        },
        attendance_code: a.attendance_status.clone().unwrap_or_default(),
        minutes: a
            .minutes_attended
            .map(|m| m.to_string())
            .unwrap_or_default(),
        override_reason: a.override_reason,
    }
}

/// A site's zone, or the server's.
async fn zone_of_site(state: &AppState, site_id: i64) -> Tz {
    match state.store.site(site_id).await {
        Ok(site) => site.timezone.parse().unwrap_or(state.timezone),
        Err(_) => state.timezone,
    }
}

/// The appointments part of the chart's schedule tab.
pub struct AppointmentsSection {
    pub(super) appointments: Vec<AppointmentView>,
    pub(super) can_book: bool,
    pub(super) kinds: Vec<(&'static str, &'static str)>,
    pub(super) clinicians: Vec<(i64, String)>,
    pub(super) rooms: Vec<(i64, String)>,
    pub(super) statuses: Vec<(&'static str, &'static str)>,
    pub(super) form: BookingForm,
    /// Conflicts of the last attempt: (reason, refuses the booking).
    pub(super) conflicts: Vec<(String, bool)>,
    /// Whether the last attempt was refused (the override field is then required).
    pub(super) refused: bool,
    pub(super) notice: Option<String>,
    pub(super) errors: Vec<String>,
    /// Availability windows: (id, label, "Mon 09:00–17:00").
    pub(super) availability: Vec<(i64, String, String)>,
    pub(super) labels: Vec<(&'static str, &'static str)>,
    /// Calendar feeds: (id, created, revoked, last fetched).
    pub(super) feeds: Vec<(i64, String, bool, String)>,
    /// A feed URL just created, shown once.
    pub(super) new_feed_url: Option<String>,
}

impl AppointmentsSection {
    /// The kind chosen in the form, for `selected`.
    pub(super) fn chose(&self, field: &str, value: &str) -> bool {
        let typed = match field {
            "kind" => &self.form.kind,
            "clinician_id" => &self.form.clinician_id,
            "room" => &self.form.room,
            _ => return false,
        };
        typed == value
    }
}

fn feed_rows(feeds: Vec<CalendarFeed>, tz: Tz) -> Vec<(i64, String, bool, String)> {
    feeds
        .into_iter()
        .map(|f| {
            (
                f.id,
                crate::view::local_time(&f.created_at, tz),
                f.revoked_at.is_some(),
                f.last_fetched_at
                    .map(|t| crate::view::local_time(&t, tz))
                    .unwrap_or_else(|| "never".into()),
            )
        })
        .collect()
}

/// Builds the appointments section for a patient's chart.
pub async fn section(
    state: &AppState,
    staff: &Staff,
    patient_id: i64,
) -> Result<AppointmentsSection, AppError> {
    let grant = state
        .store
        .patient_grant::<can::ReadSchedule>(&staff.actor, patient_id)
        .await?;
    let tz = state.timezone;
    let appointments = state
        .store
        .patient_appointments(&grant)
        .await?
        .into_iter()
        .map(|a| view_of(a, tz))
        .collect();
    let availability = state
        .store
        .availability(&grant)
        .await?
        .into_iter()
        .map(|w| {
            let label = AVAILABILITY_LABELS
                .iter()
                .find(|(c, _)| *c == w.label)
                .map(|(_, l)| (*l).to_owned())
                .unwrap_or(w.label);
            (w.id, label, w.slot.to_string())
        })
        .collect();
    let feeds = feed_rows(state.store.patient_feeds(&grant).await?, tz);
    Ok(AppointmentsSection {
        appointments,
        can_book: permits(staff.actor.role, Permission::ManageSchedule),
        kinds: AppointmentKind::ALL
            .iter()
            .map(|k| (k.code(), k.label()))
            .collect(),
        clinicians: state.store.clinicians().await?,
        rooms: state
            .store
            .rooms()
            .await?
            .into_iter()
            .map(|r| (r.id, format!("{} (seats {})", r.name, r.capacity)))
            .collect(),
        statuses: AttendanceStatus::ALL
            .iter()
            .map(|s| (s.code(), s.label()))
            .collect(),
        form: BookingForm::default(),
        conflicts: Vec::new(),
        refused: false,
        notice: None,
        errors: Vec::new(),
        availability,
        labels: AVAILABILITY_LABELS.to_vec(),
        feeds,
        new_feed_url: None,
    })
}

/// Renders the chart's schedule tab with a changed appointments section.
async fn chart_with(
    state: &AppState,
    staff: &Staff,
    patient_id: i64,
    status: StatusCode,
    change: impl FnOnce(&mut AppointmentsSection),
) -> Result<Response, AppError> {
    let mut tab = super::schedule::schedule_tab(state, staff, patient_id, None).await?;
    change(&mut tab.appointments);
    let data = super::patients::chart_data(state, &staff.actor, patient_id).await?;
    let mut page = super::patients::chart_page(staff, data, "schedule", Vec::new(), None);
    page.schedule = Some(tab);
    Ok((status, Html(page.render()?)).into_response())
}

fn conflict_rows(conflicts: &[Conflict]) -> Vec<(String, bool)> {
    conflicts
        .iter()
        .map(|c| (c.reason.clone(), refuses_booking(c)))
        .collect()
}

/// Books an appointment from the chart. Refused double-bookings re-show the form with the
/// conflicts and an override reason box; warnings are shown with the booking.
pub async fn book(
    State(state): State<AppState>,
    staff: Staff,
    Path(patient_id): Path<i64>,
    Form(form): Form<BookingForm>,
) -> Result<Response, AppError> {
    let grant = state
        .store
        .patient_grant::<can::ManageSchedule>(&staff.actor, patient_id)
        .await?;
    let new = match form.parse() {
        Ok(new) => new,
        Err(errors) => {
            return chart_with(
                &state,
                &staff,
                patient_id,
                StatusCode::UNPROCESSABLE_ENTITY,
                |s| {
                    s.errors = errors.iter().map(|e| e.message.clone()).collect();
                    s.form = form;
                },
            )
            .await
        }
    };
    match state.store.book_appointment(&grant, &new).await {
        Ok(BookingOutcome::Booked { warnings, .. }) if warnings.is_empty() => Ok(Redirect::to(
            &format!("/patients/{patient_id}/schedule#appointments"),
        )
        .into_response()),
        Ok(BookingOutcome::Booked { warnings, .. }) => {
            chart_with(&state, &staff, patient_id, StatusCode::OK, |s| {
                s.notice = Some("Booked, with these warnings:".into());
                s.conflicts = conflict_rows(&warnings);
            })
            .await
        }
        Ok(BookingOutcome::Refused { conflicts }) => {
            chart_with(&state, &staff, patient_id, StatusCode::CONFLICT, |s| {
                s.refused = true;
                s.conflicts = conflict_rows(&conflicts);
                s.form = form;
            })
            .await
        }
        Err(StoreError::Invalid(errors)) => {
            chart_with(
                &state,
                &staff,
                patient_id,
                StatusCode::UNPROCESSABLE_ENTITY,
                |s| {
                    s.errors = errors.iter().map(|e| e.message.clone()).collect();
                    s.form = form;
                },
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// Cancels an appointment from the chart.
pub async fn cancel(
    State(state): State<AppState>,
    staff: Staff,
    Path((patient_id, id)): Path<(i64, i64)>,
) -> Result<Response, AppError> {
    let grant = state
        .store
        .patient_grant::<can::ManageSchedule>(&staff.actor, patient_id)
        .await?;
    state.store.cancel_appointment(&grant, id).await?;
    Ok(Redirect::to(&format!("/patients/{patient_id}/schedule#appointments")).into_response())
}

/// A check-in for an appointment, from the chart or a day sheet.
#[derive(Deserialize)]
pub struct CheckInForm {
    #[serde(default)]
    status: String,
    #[serde(default)]
    minutes: String,
    /// Where to go back to: "day_sheet", "my_day" or the chart.
    #[serde(default)]
    back: String,
    #[serde(default)]
    site: Option<i64>,
    #[serde(default)]
    date: Option<String>,
}

/// Marks attendance at an appointment.
pub async fn check_in(
    State(state): State<AppState>,
    staff: Staff,
    Path((patient_id, id)): Path<(i64, i64)>,
    Form(form): Form<CheckInForm>,
) -> Result<Response, AppError> {
    let grant = state
        .store
        .patient_grant::<can::ManageSchedule>(&staff.actor, patient_id)
        .await?;
    let mut errors = Vec::new();
    let status: Option<AttendanceStatus> = forms::code(
        "status",
        &form.status,
        "choose present, late, left early or an absence",
        &mut errors,
    );
    let minutes = match form.minutes.trim() {
        "" => None,
        m => match m.parse::<i64>() {
            Ok(m) => Some(m),
            Err(_) => {
                errors.push(FieldError::new(
                    "minutes",
                    "must be a whole number of minutes",
                ));
                None
            }
        },
    };
    let Some(status) = status.filter(|_| errors.is_empty()) else {
        return Err(AppError::Invalid(errors));
    };
    state
        .store
        .record_appointment_attendance(&grant, id, status, minutes)
        .await?;
    let date = form.date.unwrap_or_default();
    let to = match form.back.as_str() {
        "day_sheet" => format!(
            "/schedule/day-sheet?date={date}{}",
            form.site.map(|s| format!("&site={s}")).unwrap_or_default()
        ),
        "my_day" => format!("/schedule/my-day?date={date}"),
        _ => format!("/patients/{patient_id}/schedule#appointments"),
    };
    Ok(Redirect::to(&to).into_response())
}

/// A new availability window.
#[derive(Deserialize)]
pub struct AvailabilityForm {
    #[serde(default)]
    label: String,
    #[serde(default)]
    weekday: String,
    #[serde(default)]
    start: String,
    #[serde(default)]
    end: String,
}

/// The slot typed in an availability form.
pub(crate) fn parse_window(
    weekday: &str,
    start: &str,
    end: &str,
) -> Result<WeeklySlot, Vec<FieldError>> {
    let mut errors = Vec::new();
    let day = weekday.trim().parse::<Weekday>().ok();
    if day.is_none() {
        errors.push(FieldError::new("weekday", "choose a day of the week"));
    }
    let start = time_field("start", start, &mut errors);
    let end = time_field("end", end, &mut errors);
    match (day, start, end) {
        (Some(d), Some(s), Some(e)) if errors.is_empty() => {
            WeeklySlot::new(d, s, e).map_err(|e| vec![FieldError::new("end", e.to_string())])
        }
        _ => Err(errors),
    }
}

/// Adds a window to the patient's availability.
pub async fn add_availability(
    State(state): State<AppState>,
    staff: Staff,
    Path(patient_id): Path<i64>,
    Form(form): Form<AvailabilityForm>,
) -> Result<Response, AppError> {
    let grant = state
        .store
        .patient_grant::<can::ManageSchedule>(&staff.actor, patient_id)
        .await?;
    let result = match parse_window(&form.weekday, &form.start, &form.end) {
        Ok(slot) => state
            .store
            .add_availability(&grant, &form.label, slot)
            .await
            .map(|_| ()),
        Err(errors) => Err(StoreError::Invalid(errors)),
    };
    match result {
        Ok(()) => Ok(
            Redirect::to(&format!("/patients/{patient_id}/schedule#availability")).into_response(),
        ),
        Err(StoreError::Invalid(errors)) => {
            chart_with(
                &state,
                &staff,
                patient_id,
                StatusCode::UNPROCESSABLE_ENTITY,
                |s| {
                    s.errors = errors.iter().map(|e| e.message.clone()).collect();
                },
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// Removes an availability window.
pub async fn remove_availability(
    State(state): State<AppState>,
    staff: Staff,
    Path((patient_id, id)): Path<(i64, i64)>,
) -> Result<Response, AppError> {
    let grant = state
        .store
        .patient_grant::<can::ManageSchedule>(&staff.actor, patient_id)
        .await?;
    state.store.remove_availability(&grant, id).await?;
    Ok(Redirect::to(&format!("/patients/{patient_id}/schedule#availability")).into_response())
}

/// The feed URL for a secret (the secret is the only credential; it is never logged).
fn feed_url(secret: &str) -> String {
    format!("/calendar/{secret}.ics")
}

/// Creates a calendar feed of the patient's appointments; the URL is shown once.
pub async fn create_patient_feed(
    State(state): State<AppState>,
    staff: Staff,
    Path(patient_id): Path<i64>,
) -> Result<Response, AppError> {
    let grant = state
        .store
        .patient_grant::<can::ManageSchedule>(&staff.actor, patient_id)
        .await?;
    let secret = state.store.create_patient_feed(&grant).await?.secret;
    chart_with(&state, &staff, patient_id, StatusCode::OK, |s| {
        s.new_feed_url = Some(feed_url(&secret));
    })
    .await
}

/// Revokes a patient's calendar feed.
pub async fn revoke_patient_feed(
    State(state): State<AppState>,
    staff: Staff,
    Path((patient_id, id)): Path<(i64, i64)>,
) -> Result<Response, AppError> {
    let grant = state
        .store
        .patient_grant::<can::ManageSchedule>(&staff.actor, patient_id)
        .await?;
    state.store.revoke_patient_feed(&grant, id).await?;
    Ok(Redirect::to(&format!("/patients/{patient_id}/schedule#calendar")).into_response())
}

/// Which clinician and day the "my day" page shows.
#[derive(Deserialize, Default)]
pub struct DayQuery {
    #[serde(default)]
    clinician: Option<i64>,
    #[serde(default)]
    date: Option<String>,
}

/// A group session on the clinician's day.
pub struct FacilitatedView {
    id: i64,
    track: String,
    when: String,
    place: String,
    /// Link to the session's group note (write it, or open it once written).
    note: Option<(String, &'static str)>,
}

#[derive(Template)]
#[template(path = "clinician_day.html")]
struct ClinicianDayPage {
    layout: Layout,
    clinicians: Vec<(i64, String)>,
    clinician_id: i64,
    own: bool,
    date: String,
    date_label: String,
    appointments: Vec<AppointmentView>,
    sessions: Vec<FacilitatedView>,
    statuses: Vec<(&'static str, &'static str)>,
    can_mark: bool,
    feeds: Vec<(i64, String, bool, String)>,
    new_feed_url: Option<String>,
}

async fn render_day(
    state: &AppState,
    staff: &Staff,
    query: &DayQuery,
    new_feed_url: Option<String>,
) -> Result<String, AppError> {
    let grant = state.store.grant::<can::ReadSchedule>(&staff.actor)?;
    let own_id = staff.actor.staff_id()?;
    let clinician_id = query.clinician.unwrap_or(own_id);
    let date = match query
        .date
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
    {
        None => state.today(),
        Some(d) => {
            let mut errors = Vec::new();
            forms::date("date", d, &mut errors).ok_or(AppError::Invalid(errors))?
        }
    };
    let zone =
        SiteZone::parse(state.timezone.name()).map_err(|e| AppError::Internal(e.to_string()))?;
    let tz = state.timezone;
    let day = state
        .store
        .clinician_day(&grant, clinician_id, date, zone)
        .await?;
    let own = clinician_id == own_id;
    let ids: Vec<i64> = day.sessions.iter().map(|s| s.id).collect();
    let links = state.store.session_note_links(&grant, &ids).await?;
    let feeds = if own {
        feed_rows(state.store.clinician_feeds(&grant).await?, tz)
    } else {
        Vec::new()
    };
    let mut clinicians = state.store.clinicians().await?;
    if !clinicians.iter().any(|(id, _)| *id == own_id) {
        clinicians.insert(0, (own_id, staff.user.display_name.clone()));
    }
    Ok(ClinicianDayPage {
        layout: Layout::new(staff, "schedule"),
        clinicians,
        clinician_id,
        own,
        date: date.format("%Y-%m-%d").to_string(),
        date_label: date.format("%A %b %-d, %Y").to_string(),
        appointments: day
            .appointments
            .into_iter()
            .map(|a| view_of(a, tz))
            .collect(),
        sessions: day
            .sessions
            .into_iter()
            .map(|s| FacilitatedView {
                id: s.id,
                note: links.get(&s.id).and_then(|l| match l.group_note_id {
                    Some(g) => Some((format!("/group-notes/{g}"), "Open the group note")),
                    None if l.writable_by(&staff.actor) => Some((
                        format!("/schedule/sessions/{}/group-note", s.id),
                        "Write the group note",
                    )),
                    None => None,
                }),
                track: s.track_name,
                when: format!(
                    "{}–{}",
                    s.starts_at.0.with_timezone(&tz).format("%H:%M"),
                    s.ends_at.0.with_timezone(&tz).format("%H:%M %Z")
                ),
                place: if s.telehealth {
                    "Telehealth".into()
                } else {
                    s.room_name.unwrap_or_default()
                },
            })
            .collect(),
        statuses: AttendanceStatus::ALL
            .iter()
            .map(|s| (s.code(), s.label()))
            .collect(),
        can_mark: permits(staff.actor.role, Permission::ManageSchedule),
        feeds,
        new_feed_url,
    }
    .render()?)
}

/// A clinician's day: their appointments and the groups they facilitate (their own by default).
pub async fn my_day(
    State(state): State<AppState>,
    staff: Staff,
    Query(query): Query<DayQuery>,
) -> Result<Response, AppError> {
    Ok(Html(render_day(&state, &staff, &query, None).await?).into_response())
}

/// Creates a feed of the signed-in clinician's own calendar; the URL is shown once.
pub async fn create_own_feed(
    State(state): State<AppState>,
    staff: Staff,
) -> Result<Response, AppError> {
    let grant = state.store.grant::<can::ReadSchedule>(&staff.actor)?;
    let secret = state.store.create_clinician_feed(&grant).await?.secret;
    let html = render_day(
        &state,
        &staff,
        &DayQuery::default(),
        Some(feed_url(&secret)),
    )
    .await?;
    Ok(Html(html).into_response())
}

/// Revokes one of the signed-in clinician's feeds.
pub async fn revoke_own_feed(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let grant = state.store.grant::<can::ReadSchedule>(&staff.actor)?;
    state.store.revoke_clinician_feed(&grant, id).await?;
    Ok(Redirect::to("/schedule/my-day").into_response())
}

/// Appointments on the site day sheet.
pub async fn day_sheet_appointments(
    state: &AppState,
    staff: &Staff,
    site_id: i64,
    date: chrono::NaiveDate,
) -> Result<Vec<AppointmentView>, AppError> {
    let grant = state.store.grant::<can::ReadSchedule>(&staff.actor)?;
    let tz = zone_of_site(state, site_id).await;
    Ok(state
        .store
        .site_appointments(&grant, site_id, date)
        .await?
        .into_iter()
        .map(|a| view_of(a, tz))
        .collect())
}

/// A calendar feed by its secret token: iCalendar text, no sign-in (calendar apps cannot sign
/// in). Unknown or revoked tokens are 404; the fetch is audited as the feed.
pub async fn feed(
    State(state): State<AppState>,
    Path(file): Path<String>,
) -> Result<Response, AppError> {
    let secret = file.strip_suffix(".ics").unwrap_or(&file);
    let now = Utc::now();
    let content = state
        .store
        .calendar_feed(
            secret,
            Instant(now - TimeDelta::days(crate::calendar::FEED_PAST_DAYS)),
            Instant(now + TimeDelta::days(crate::calendar::FEED_AHEAD_DAYS)),
        )
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/calendar; charset=utf-8"),
            (header::CACHE_CONTROL, "private, no-store"),
        ],
        crate::calendar::render(&content, now),
    )
        .into_response())
}
