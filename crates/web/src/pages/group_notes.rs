//! Group notes from a session: started from the day sheet or My day, the roster taken from the
//! session's check-in (absent members get no note, late ones show their minutes), the shared
//! part once and each member's own part with the objectives of their signed plan. The author
//! saves a draft or saves and signs in one step. Past group notes are links to their page.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono_tz::Tz;
use serde::Deserialize;
use trellis_domain::documentation::{ServiceCode, ServiceTime};
use trellis_domain::schedule::attendance::AttendanceStatus;
use trellis_storage::access::can;
use trellis_storage::group_notes::SessionForNote;
use trellis_storage::notes::{AttendeeNote, NoteTemplate, MAX_SECTION_CHARS};

use super::{Layout, RowError};
use crate::error::AppError;
use crate::identity::Staff;
use crate::view;
use crate::AppState;

/// One section box of a member's part.
pub struct SectionBox {
    id: String,
    name: String,
    label: &'static str,
    value: String,
    error: String,
}

/// One attending member's part of the note.
pub struct MemberPart {
    patient_id: i64,
    name: String,
    attendance: String,
    tone: &'static str,
    sections: Vec<SectionBox>,
    /// (field name, text, ticked) for each objective of their signed plan in force.
    objectives: Vec<(String, String, bool)>,
}

#[derive(Template)]
#[template(path = "group_note_form.html")]
struct GroupNoteForm {
    layout: Layout,
    session_id: i64,
    heading: String,
    day: String,
    place: String,
    service: &'static str,
    shared_text: String,
    shared_error: String,
    members: Vec<MemberPart>,
    /// (name, why no note) for members who get none.
    no_note: Vec<(String, &'static str)>,
    check_in_href: String,
    errors: Vec<RowError>,
}

fn hhmm(at: chrono::DateTime<chrono::Utc>, tz: Tz) -> String {
    at.with_timezone(&tz).format("%H:%M").to_string()
}

async fn render_form(
    state: &AppState,
    staff: &Staff,
    data: SessionForNote,
    typed: &BTreeMap<String, String>,
    errors: Vec<RowError>,
) -> Result<String, AppError> {
    let session = &data.session;
    let track = state.store.track(session.track_id).await?;
    let tz: Tz = track.timezone.parse().unwrap_or(state.timezone);
    let mut members = Vec::new();
    let mut no_note = Vec::new();
    for line in &data.members {
        let status = match line.status {
            Some(s) if s.attended() => s,
            Some(_) => {
                no_note.push((line.patient_name.clone(), "absent: no note"));
                continue;
            }
            None => {
                no_note.push((line.patient_name.clone(), "not checked in: no note"));
                continue;
            }
        };
        let minutes = u32::try_from(line.minutes_attended.unwrap_or(0)).unwrap_or(0);
        let time = ServiceTime::of_member(session.starts_at.0, session.ends_at.0, status, minutes);
        let attendance = match time {
            Some(t) => format!(
                "{}: {} of {} min, {}–{}",
                status.label(),
                t.minutes,
                session.minutes,
                hhmm(t.started_at, tz),
                hhmm(t.ended_at, tz)
            ),
            None => status.label().to_owned(),
        };
        let read = state
            .store
            .patient_grant::<can::ReadClinical>(&staff.actor, line.patient_id)
            .await?;
        let objectives = state
            .store
            .signed_objectives(&read)
            .await?
            .into_iter()
            .filter(|o| o.in_force)
            .map(|o| {
                let name = format!("p{}_objective_{}", line.patient_id, o.id);
                let ticked = typed.contains_key(&name);
                (
                    name,
                    format!("{} (target {})", o.text, view::date(o.target_on)),
                    ticked,
                )
            })
            .collect();
        let sections = NoteTemplate::Dap
            .sections()
            .iter()
            .map(|(key, label)| {
                let id = format!("p{}_{key}", line.patient_id);
                SectionBox {
                    error: errors
                        .iter()
                        .find(|e| e.anchor == id)
                        .map(|e| e.message.clone())
                        .unwrap_or_default(),
                    value: typed.get(&id).cloned().unwrap_or_default(),
                    name: id.clone(),
                    id,
                    label,
                }
            })
            .collect();
        members.push(MemberPart {
            patient_id: line.patient_id,
            name: line.patient_name.clone(),
            attendance,
            tone: if status == AttendanceStatus::Present {
                "ok"
            } else {
                "warn"
            },
            sections,
            objectives,
        });
    }
    Ok(GroupNoteForm {
        layout: Layout::new(staff, "groups"),
        session_id: session.id,
        heading: format!("{} group", session.track_name),
        day: session.local_date.0.format("%A %b %-d, %Y").to_string(),
        place: format!(
            "{}–{} · {}",
            hhmm(session.starts_at.0, tz),
            session.ends_at.0.with_timezone(&tz).format("%H:%M %Z"),
            if session.telehealth {
                "Telehealth".to_owned()
            } else {
                session.room_name.clone().unwrap_or_default()
            }
        ),
        service: ServiceCode::Group.label(),
        shared_text: typed.get("shared_text").cloned().unwrap_or_default(),
        shared_error: errors
            .iter()
            .find(|e| e.anchor == "shared_text")
            .map(|e| e.message.clone())
            .unwrap_or_default(),
        members,
        no_note,
        check_in_href: format!(
            "/schedule/day-sheet?site={}&date={}#session{}",
            track.site_id,
            session.local_date.0.format("%Y-%m-%d"),
            session.id
        ),
        errors,
    }
    .render()?)
}

/// The group note form of a session (or its note, once written).
pub async fn form(
    State(state): State<AppState>,
    staff: Staff,
    Path(session_id): Path<i64>,
) -> Result<Response, AppError> {
    let grant = state.store.grant::<can::WriteClinical>(&staff.actor)?;
    let data = state.store.session_for_note(&grant, session_id).await?;
    if let Some(id) = data.group_note_id {
        return Ok(Redirect::to(&format!("/group-notes/{id}")).into_response());
    }
    let html = render_form(&state, &staff, data, &BTreeMap::new(), Vec::new()).await?;
    Ok(Html(html).into_response())
}

/// Checks one text box: required, within the length limit.
fn check_text(
    typed: &BTreeMap<String, String>,
    anchor: String,
    label: String,
    errors: &mut Vec<RowError>,
) -> String {
    let text = typed
        .get(&anchor)
        .map(|t| t.trim())
        .unwrap_or("")
        .to_owned();
    if text.is_empty() {
        errors.push(RowError::new(anchor, label, "is required"));
    } else if text.chars().count() > MAX_SECTION_CHARS {
        errors.push(RowError::new(
            anchor,
            label,
            format!("must be at most {MAX_SECTION_CHARS} characters"),
        ));
    }
    text
}

/// Writes the session's group note: `shared_text`, each attending member's `p<id>_data`,
/// `p<id>_assessment`, `p<id>_plan` and `p<id>_objective_<objective id>` boxes, and
/// `action=sign` to sign it in the same step (anything else saves a draft).
pub async fn create(
    State(state): State<AppState>,
    staff: Staff,
    Path(session_id): Path<i64>,
    Form(typed): Form<BTreeMap<String, String>>,
) -> Result<Response, AppError> {
    let grant = state.store.grant::<can::WriteClinical>(&staff.actor)?;
    let data = state.store.session_for_note(&grant, session_id).await?;
    if let Some(id) = data.group_note_id {
        return Err(AppError::Conflict(format!(
            "this session already has a group note (group note {id})"
        )));
    }
    let mut errors = Vec::new();
    let shared = check_text(
        &typed,
        "shared_text".into(),
        "What the group did".into(),
        &mut errors,
    );
    let mut attendees = Vec::new();
    for line in data
        .members
        .iter()
        .filter(|l| l.status.is_some_and(AttendanceStatus::attended))
    {
        let mut sections = BTreeMap::new();
        for (key, label) in NoteTemplate::Dap.sections() {
            let text = check_text(
                &typed,
                format!("p{}_{key}", line.patient_id),
                format!("{}: {label}", line.patient_name),
                &mut errors,
            );
            sections.insert((*key).to_owned(), text);
        }
        let prefix = format!("p{}_objective_", line.patient_id);
        let objective_ids = typed
            .keys()
            .filter_map(|k| k.strip_prefix(&prefix).and_then(|id| id.parse().ok()))
            .collect();
        let patient = state
            .store
            .patient_grant::<can::WriteClinical>(&staff.actor, line.patient_id)
            .await?;
        attendees.push((
            patient,
            AttendeeNote {
                sections,
                objective_ids,
            },
        ));
    }
    if attendees.is_empty() {
        errors.push(RowError::new(
            "attendees".into(),
            "Attendance".into(),
            "no one is checked in as attending this session: check the group in first",
        ));
    }
    if !errors.is_empty() {
        let html = render_form(&state, &staff, data, &typed, errors).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(html)).into_response());
    }
    let sign = typed.get("action").is_some_and(|a| a == "sign");
    let id = state
        .store
        .write_session_group_note(&grant, session_id, &shared, &attendees, sign, state.today())
        .await?;
    let saved = if sign { "signed" } else { "draft" };
    Ok(Redirect::to(&format!("/group-notes/{id}?saved={saved}")).into_response())
}

/// A member's note on the group note page.
pub struct MemberLine {
    href: String,
    name: String,
    time: String,
}

#[derive(Template)]
#[template(path = "group_note_view.html")]
struct GroupNoteViewPage {
    layout: Layout,
    id: i64,
    title: String,
    day: String,
    author: String,
    status: String,
    signed: bool,
    can_sign: bool,
    shared_text: String,
    members: Vec<MemberLine>,
}

/// What the page says after a save (no patient data in the query).
#[derive(Deserialize, Default)]
pub struct SavedQuery {
    #[serde(default)]
    saved: Option<String>,
}

/// One group note: the shared part and a link to each member's note.
pub async fn view(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Query(query): Query<SavedQuery>,
) -> Result<Response, AppError> {
    let grant = state.store.grant::<can::ReadClinical>(&staff.actor)?;
    let note = state.store.group_note(&grant, id).await?;
    // Times read in the session's site's zone, as the day sheet shows them.
    let tz = match note.session_id {
        Some(session_id) => {
            let session = state.store.group_session(session_id).await?;
            let track = state.store.track(session.track_id).await?;
            track.timezone.parse().unwrap_or(state.timezone)
        }
        None => state.timezone,
    };
    let mut layout = Layout::new(&staff, "groups");
    let count = note.members.len();
    layout.notice = match query.saved.as_deref() {
        Some("signed") => Some(format!(
            "Group note saved and signed: {count} member notes."
        )),
        Some("draft") => Some(format!(
            "Group note saved as a draft: {count} member notes."
        )),
        Some("sign") => Some(format!("Group note signed: {count} member notes.")),
        _ => None,
    };
    let signed = note.signed_at.is_some();
    Ok(Html(
        GroupNoteViewPage {
            layout,
            id: note.id,
            day: view::day(&note.session_on),
            author: note.author_name.clone(),
            status: note.signed_at.as_ref().map_or_else(
                || "Draft".to_owned(),
                |at| format!("Signed {}", view::local_time(at, tz)),
            ),
            signed,
            can_sign: !signed && staff.actor.user_id == Some(note.author_id),
            title: note.title,
            shared_text: note.shared_text,
            members: note
                .members
                .into_iter()
                .map(|m| MemberLine {
                    href: format!("/patients/{}/notes#note{}", m.patient_id, m.note_id),
                    name: m.patient_name,
                    time: match (m.started_at, m.ended_at, m.duration_minutes) {
                        (Some(s), Some(e), Some(d)) => format!(
                            "{}–{} · {d} min",
                            s.0.with_timezone(&tz).format("%H:%M"),
                            e.0.with_timezone(&tz).format("%H:%M")
                        ),
                        _ => "Time not recorded".to_owned(),
                    },
                })
                .collect(),
        }
        .render()?,
    )
    .into_response())
}

#[derive(Template)]
#[template(path = "group_notes.html")]
struct GroupNotesPage {
    layout: Layout,
    /// (id, title, day, members, signed)
    groups: Vec<(i64, String, String, i64, bool)>,
}

/// The author's group notes, newest first, each a link to its page.
pub async fn list(State(state): State<AppState>, staff: Staff) -> Result<Response, AppError> {
    let grant = state.store.grant::<can::WriteClinical>(&staff.actor)?;
    let groups = state
        .store
        .my_group_notes(&grant)
        .await?
        .into_iter()
        .map(|g| {
            (
                g.id,
                g.title,
                view::day(&g.session_on),
                g.attendees,
                g.signed_at.is_some(),
            )
        })
        .collect();
    Ok(Html(
        GroupNotesPage {
            layout: Layout::new(&staff, "groups"),
            groups,
        }
        .render()?,
    )
    .into_response())
}

/// Signs a drafted group note and every member's note with it.
pub async fn sign(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let grant = state.store.grant::<can::WriteClinical>(&staff.actor)?;
    state.store.sign_group_note(&grant, id).await?;
    Ok(Redirect::to(&format!("/group-notes/{id}?saved=sign")).into_response())
}
