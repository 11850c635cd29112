//! Check-in: a session's roster as one form. Everyone is present by default and one "Save
//! all" records the lot; a row changed to late or left early takes the minutes missed. With
//! htmx the roster is swapped in place and the live region confirms; without JavaScript the
//! form posts and redirects back to the same place with the same confirmation.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono_tz::Tz;
use serde::Deserialize;
use trellis_domain::access::{permits, Permission};
use trellis_domain::schedule::attendance::{minutes_from_missed, AttendanceStatus};
use trellis_storage::access::can;
use trellis_storage::group_notes::SessionNoteLink;
use trellis_storage::schedule::{GroupSession, SheetLine};

use super::{is_htmx, Layout, RowError};
use crate::error::AppError;
use crate::identity::Staff;
use crate::AppState;

/// One member's row on the roster form.
pub struct RosterRow {
    pub(crate) patient_id: i64,
    pub(crate) name: String,
    /// The status chosen on the form (present when nothing is marked yet).
    pub(crate) status: &'static str,
    /// Minutes late or left early, as shown in the box.
    pub(crate) missed: String,
    /// What is recorded now, for the badge.
    pub(crate) marked: &'static str,
    /// Badge tone for what is recorded.
    pub(crate) tone: &'static str,
    /// Minutes attended as recorded ("165 min"), or nothing.
    pub(crate) attended: String,
    /// This row's problem, if the last save was refused.
    pub(crate) error: String,
}

/// A link from a session to its group note.
pub struct NoteLink {
    pub(crate) href: String,
    pub(crate) label: &'static str,
}

/// A session's check-in roster, as the day sheet and the check-in page show it.
pub struct RosterView {
    pub(crate) id: i64,
    pub(crate) heading: String,
    pub(crate) place: String,
    pub(crate) topic: Option<String>,
    pub(crate) materials: Option<String>,
    pub(crate) rows: Vec<RosterRow>,
    pub(crate) errors: Vec<RowError>,
    pub(crate) summary: String,
    pub(crate) note: Option<NoteLink>,
}

impl RosterView {
    /// The session's heading: track, times.
    pub fn heading(&self) -> &str {
        &self.heading
    }

    /// What is recorded, as a sentence.
    pub fn summary(&self) -> &str {
        &self.summary
    }
}

/// Status choices on a roster row: (code, label).
pub const CHOICES: [(&str, &str); 5] = [
    ("present", "Present"),
    ("late", "Late"),
    ("left_early", "Left early"),
    ("absent_excused", "Absent (excused)"),
    ("absent_unexcused", "Absent (unexcused)"),
];

fn tone(status: Option<AttendanceStatus>) -> &'static str {
    match status {
        None => "",
        Some(AttendanceStatus::Present) => "ok",
        Some(AttendanceStatus::Late | AttendanceStatus::LeftEarly) => "warn",
        Some(_) => "flag",
    }
}

/// "11 present, 1 late" for what is recorded, or that nothing is yet.
fn summary(lines: &[SheetLine]) -> String {
    let marked = lines.iter().filter(|l| l.status.is_some()).count();
    if marked == 0 {
        return "Not checked in yet.".into();
    }
    let count = |pred: fn(AttendanceStatus) -> bool| {
        lines.iter().filter(|l| l.status.is_some_and(pred)).count()
    };
    let mut parts = vec![format!(
        "{} present",
        count(|s| s == AttendanceStatus::Present)
    )];
    let late = count(|s| s == AttendanceStatus::Late);
    if late > 0 {
        parts.push(format!("{late} late"));
    }
    let early = count(|s| s == AttendanceStatus::LeftEarly);
    if early > 0 {
        parts.push(format!("{early} left early"));
    }
    parts.push(format!("{} absent", count(|s| !s.attended())));
    if marked < lines.len() {
        parts.push(format!("{} not checked in", lines.len() - marked));
    }
    parts.join(", ") + "."
}

/// The roster view of a session; `typed` holds what was submitted when a save was refused.
pub fn roster_view(
    session: &GroupSession,
    lines: &[SheetLine],
    tz: Tz,
    link: Option<&SessionNoteLink>,
    staff: &Staff,
    typed: Option<(&BTreeMap<String, String>, Vec<RowError>)>,
) -> RosterView {
    let (form, errors) = match typed {
        Some((f, e)) => (Some(f), e),
        None => (None, Vec::new()),
    };
    let rows = lines
        .iter()
        .map(|l| {
            let minutes_missed = match (l.status, l.minutes_attended) {
                (Some(AttendanceStatus::Late | AttendanceStatus::LeftEarly), Some(m)) => {
                    (session.minutes - m).to_string()
                }
                _ => String::new(),
            };
            let (status, missed) = match form {
                Some(f) => {
                    let typed = f
                        .get(&format!("status_{}", l.patient_id))
                        .map(String::as_str)
                        .unwrap_or("");
                    (
                        CHOICES
                            .iter()
                            .find(|(c, _)| *c == typed)
                            .map_or("present", |(c, _)| c),
                        f.get(&format!("missed_{}", l.patient_id))
                            .cloned()
                            .unwrap_or_default(),
                    )
                }
                None => (
                    l.status.map_or("present", AttendanceStatus::code),
                    minutes_missed,
                ),
            };
            let anchor = format!("st-{}-{}", session.id, l.patient_id);
            let minutes_anchor = format!("mn-{}-{}", session.id, l.patient_id);
            RosterRow {
                patient_id: l.patient_id,
                name: l.patient_name.clone(),
                status,
                missed,
                marked: l.status.map_or("Not checked in", AttendanceStatus::label),
                tone: tone(l.status),
                attended: l
                    .minutes_attended
                    .map(|m| format!("{m} of {} min", session.minutes))
                    .unwrap_or_default(),
                error: errors
                    .iter()
                    .filter(|e| e.anchor == anchor || e.anchor == minutes_anchor)
                    .map(|e| e.message.clone())
                    .collect::<Vec<_>>()
                    .join("; "),
            }
        })
        .collect();
    let note = link.and_then(|k| match k.group_note_id {
        Some(id) => Some(NoteLink {
            href: format!("/group-notes/{id}"),
            label: "Open the group note",
        }),
        None if k.writable_by(&staff.actor) => Some(NoteLink {
            href: format!("/schedule/sessions/{}/group-note", session.id),
            label: "Write the group note",
        }),
        None => None,
    });
    RosterView {
        id: session.id,
        heading: format!(
            "{} group · {}–{}",
            session.track_name,
            session.starts_at.0.with_timezone(&tz).format("%H:%M"),
            session.ends_at.0.with_timezone(&tz).format("%H:%M %Z")
        ),
        place: format!(
            "{} · {} min",
            if session.telehealth {
                "Telehealth".to_owned()
            } else {
                session.room_name.clone().unwrap_or_default()
            },
            session.minutes
        ),
        topic: session.topic_title.clone(),
        materials: session.topic_materials.clone().filter(|m| !m.is_empty()),
        rows,
        errors,
        summary: summary(lines),
        note,
    }
}

/// The roster alone, swapped in place by htmx, with the confirmation for the live region.
#[derive(Template)]
#[template(path = "_roster_fragment.html")]
struct RosterFragment {
    s: RosterView,
    csrf: String,
    site_id: i64,
    date: String,
    can_mark: bool,
    kiosk: bool,
    choices: [(&'static str, &'static str); 5],
    confirmation: Option<String>,
}

/// One session's check-in page (the kiosk mode is this page with `?kiosk=1`).
#[derive(Template)]
#[template(path = "check_in.html")]
struct CheckInPage {
    layout: Layout,
    s: RosterView,
    csrf: String,
    site_id: i64,
    date: String,
    can_mark: bool,
    kiosk: bool,
    choices: [(&'static str, &'static str); 5],
}

/// Where the check-in page or save came from and goes back to (no patient data).
#[derive(Deserialize, Default)]
pub struct CheckInQuery {
    #[serde(default)]
    kiosk: Option<String>,
    #[serde(default)]
    saved: Option<String>,
}

async fn site_of(state: &AppState, session: &GroupSession) -> Result<(i64, Tz), AppError> {
    let site = state.store.track(session.track_id).await?;
    let tz = site.timezone.parse().unwrap_or(state.timezone);
    Ok((site.site_id, tz))
}

/// The check-in page of one session: the day sheet's roster alone, large on a tablet in kiosk
/// mode.
pub async fn page(
    State(state): State<AppState>,
    staff: Staff,
    Path(session_id): Path<i64>,
    Query(query): Query<CheckInQuery>,
) -> Result<Response, AppError> {
    let grant = state.store.grant::<can::ReadSchedule>(&staff.actor)?;
    let (session, lines) = state.store.session_roster(&grant, session_id).await?;
    let (site_id, tz) = site_of(&state, &session).await?;
    let links = state
        .store
        .session_note_links(&grant, &[session_id])
        .await?;
    let s = roster_view(&session, &lines, tz, links.get(&session_id), &staff, None);
    let mut layout = Layout::new(&staff, "schedule");
    if query.saved.is_some() {
        layout.notice = Some(format!("Check-in saved: {}", s.summary));
    }
    Ok(Html(
        CheckInPage {
            layout,
            csrf: staff.csrf.clone(),
            site_id,
            date: session.local_date.0.format("%Y-%m-%d").to_string(),
            can_mark: permits(staff.actor.role, Permission::ManageSchedule),
            kiosk: query.kiosk.is_some_and(|k| k == "1"),
            choices: CHOICES,
            s,
        }
        .render()?,
    )
    .into_response())
}

/// Saves a whole roster: every row's status, and minutes missed for late and left-early rows.
/// Nothing is saved unless every row is valid; unchanged rows are not rewritten.
pub async fn save(
    State(state): State<AppState>,
    staff: Staff,
    headers: HeaderMap,
    Path(session_id): Path<i64>,
    Form(form): Form<BTreeMap<String, String>>,
) -> Result<Response, AppError> {
    state.store.grant::<can::ManageSchedule>(&staff.actor)?;
    let read = state.store.grant::<can::ReadSchedule>(&staff.actor)?;
    let (session, lines) = state.store.session_roster(&read, session_id).await?;
    let session_minutes = u32::try_from(session.minutes).unwrap_or(0);
    let kiosk = form.get("kiosk").is_some_and(|k| k == "1");
    let mut errors = Vec::new();
    let mut marks = Vec::new();
    for l in &lines {
        let status_anchor = format!("st-{}-{}", session.id, l.patient_id);
        let minutes_anchor = format!("mn-{}-{}", session.id, l.patient_id);
        let typed = form
            .get(&format!("status_{}", l.patient_id))
            .map(String::as_str)
            .unwrap_or("");
        let Ok(status) = typed.parse::<AttendanceStatus>() else {
            errors.push(RowError::new(
                status_anchor,
                format!("{}: status", l.patient_name),
                "choose present, late, left early or absent",
            ));
            continue;
        };
        let raw = form
            .get(&format!("missed_{}", l.patient_id))
            .map(|m| m.trim())
            .unwrap_or("");
        let missed = if raw.is_empty()
            || !matches!(status, AttendanceStatus::Late | AttendanceStatus::LeftEarly)
        {
            None
        } else if let Ok(m) = raw.parse::<i64>() {
            Some(m)
        } else {
            errors.push(RowError::new(
                minutes_anchor,
                format!("{}: minutes late or left early", l.patient_name),
                "must be a whole number of minutes",
            ));
            continue;
        };
        match minutes_from_missed(status, session_minutes, missed) {
            Ok(minutes) => marks.push((l, status, minutes)),
            Err(e) => errors.push(RowError::new(
                minutes_anchor,
                format!("{}: minutes late or left early", l.patient_name),
                e.to_string(),
            )),
        }
    }
    let (site_id, tz) = site_of(&state, &session).await?;
    let date = session.local_date.0.format("%Y-%m-%d").to_string();
    if !errors.is_empty() {
        let count = errors.len();
        let message = format!(
            "Check-in not saved: {count} {} to fix.",
            if count == 1 { "row" } else { "rows" }
        );
        let links = state.store.session_note_links(&read, &[session_id]).await?;
        let s = roster_view(
            &session,
            &lines,
            tz,
            links.get(&session_id),
            &staff,
            Some((&form, errors)),
        );
        let html = if is_htmx(&headers) {
            RosterFragment {
                s,
                csrf: staff.csrf.clone(),
                site_id,
                date,
                can_mark: true,
                kiosk,
                choices: CHOICES,
                confirmation: Some(message),
            }
            .render()?
        } else {
            // Without JavaScript the session's check-in page comes back with the problems.
            let mut layout = Layout::new(&staff, "schedule");
            layout.notice = Some(message);
            CheckInPage {
                layout,
                s,
                csrf: staff.csrf.clone(),
                site_id,
                date,
                can_mark: true,
                kiosk,
                choices: CHOICES,
            }
            .render()?
        };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(html)).into_response());
    }
    for (line, status, minutes) in marks {
        let unchanged =
            line.status == Some(status) && (minutes.is_none() || line.minutes_attended == minutes);
        if unchanged {
            continue;
        }
        let grant = state
            .store
            .patient_grant::<can::ManageSchedule>(&staff.actor, line.patient_id)
            .await?;
        state
            .store
            .record_attendance(&grant, session_id, status, minutes)
            .await?;
    }
    if is_htmx(&headers) {
        let (session, lines) = state.store.session_roster(&read, session_id).await?;
        let links = state.store.session_note_links(&read, &[session_id]).await?;
        let s = roster_view(&session, &lines, tz, links.get(&session_id), &staff, None);
        let confirmation = Some(format!("Check-in saved for {}: {}", s.heading, s.summary));
        let html = RosterFragment {
            s,
            csrf: staff.csrf.clone(),
            site_id,
            date,
            can_mark: true,
            kiosk,
            choices: CHOICES,
            confirmation,
        }
        .render()?;
        return Ok(Html(html).into_response());
    }
    let to = if kiosk {
        format!("/schedule/sessions/{session_id}/check-in?kiosk=1&saved=1")
    } else {
        format!(
            "/schedule/day-sheet?site={site_id}&date={date}&saved={session_id}#session{session_id}"
        )
    };
    Ok(Redirect::to(&to).into_response())
}
