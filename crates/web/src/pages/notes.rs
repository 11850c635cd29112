//! The chart's Notes tab: progress notes (DAP or BIRP) with their service code and time,
//! signing, addenda and co-signature. Group notes are written from their session
//! (`pages/group_notes.rs`).

use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::TimeZone;
use serde::Deserialize;
use std::collections::BTreeMap;
use trellis_domain::access::{permits, Permission, Role};
use trellis_domain::documentation::{ServiceCode, ServiceTime};
use trellis_domain::patient::FieldError;
use trellis_storage::access::can;
use trellis_storage::notes::{NewNote, Note, NoteKind, NoteService, NoteTemplate};
use trellis_storage::treatment_plans::SignedObjective;
use trellis_storage::StoreError;

use super::patients::{chart_data, ChartHeader};
use super::{labelled, ChartTabs, LabelledError, Layout};
use crate::error::AppError;
use crate::forms;
use crate::identity::Staff;
use crate::view;
use crate::AppState;

/// One section of a note, ready to show.
pub struct SectionView {
    label: &'static str,
    text: String,
}

/// One addendum, ready to show.
pub struct AddendumView {
    written_at: String,
    author: String,
    body: String,
}

/// One note on the Notes tab.
pub struct NoteView {
    id: i64,
    heading: String,
    group_title: Option<String>,
    group_shared_text: Option<String>,
    author: String,
    status: String,
    draft: bool,
    can_edit: bool,
    can_sign: bool,
    can_cosign: bool,
    can_add_addendum: bool,
    sections: Vec<SectionView>,
    /// (key, label, text) for the draft's edit form.
    fields: Vec<(&'static str, &'static str, String)>,
    addenda: Vec<AddendumView>,
    /// The treatment-plan objectives the note addresses, as text.
    objectives: Vec<String>,
    /// Service code, start and end, duration ("Individual therapy · 14:00–14:50 · 50 min").
    service: String,
}

/// A template's new-note form: (code, label, sections as (key, label)).
type TemplateForm = (
    &'static str,
    &'static str,
    Vec<(&'static str, &'static str)>,
);

#[derive(Template)]
#[template(path = "notes.html")]
struct NotesPage {
    layout: Layout,
    header: ChartHeader,
    tabs: ChartTabs,
    can_write: bool,
    notes: Vec<NoteView>,
    templates: Vec<TemplateForm>,
    today: String,
    errors: Vec<LabelledError>,
    notice: Option<String>,
    /// The objectives of the plan in force, as (id, text), to link a new note to.
    objectives: Vec<(i64, String)>,
    /// Service codes a chart note may carry: (code, label).
    service_codes: Vec<(&'static str, &'static str)>,
}

/// An objective's text as notes show it: the objective, its version and its target date.
fn objective_label(o: &SignedObjective) -> String {
    format!(
        "{} (plan version {}, target {})",
        o.text,
        o.version,
        view::date(o.target_on)
    )
}

/// The objective ids ticked on a form: fields named `<prefix><id>`.
fn ticked_objectives(form: &BTreeMap<String, String>, prefix: &str) -> Vec<i64> {
    form.keys()
        .filter_map(|k| k.strip_prefix(prefix).and_then(|id| id.parse().ok()))
        .collect()
}

fn note_view(state: &AppState, staff: &Staff, n: Note, objectives: &[SignedObjective]) -> NoteView {
    let me = staff.actor.user_id;
    let role = staff.actor.role;
    let template = n.template();
    let label_of = |key: &str| -> &'static str {
        template
            .and_then(|t| {
                t.sections()
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map(|(_, l)| *l)
            })
            .unwrap_or("Section")
    };
    let kind = n
        .kind
        .parse::<NoteKind>()
        .map(NoteKind::label)
        .unwrap_or("Session");
    let draft = n.is_draft();
    let mine = Some(n.author_id) == me;
    let status = if draft {
        "Draft".to_owned()
    } else if let (Some(at), Some(by)) = (&n.cosigned_at, &n.cosigned_by_name) {
        format!(
            "Signed {}; co-signed by {by} {}",
            n.signed_at
                .as_ref()
                .map(|s| view::local_time(s, state.timezone))
                .unwrap_or_default(),
            view::local_time(at, state.timezone)
        )
    } else {
        format!(
            "Signed {}{}",
            n.signed_at
                .as_ref()
                .map(|s| view::local_time(s, state.timezone))
                .unwrap_or_default(),
            if n.needs_cosign {
                " · awaiting co-signature"
            } else {
                ""
            }
        )
    };
    let service_label = n
        .service_code
        .as_deref()
        .and_then(|c| c.parse::<ServiceCode>().ok())
        .map_or("Service not recorded", ServiceCode::label);
    let service = match (&n.started_at, &n.ended_at, n.duration_minutes) {
        (Some(s), Some(e), Some(d)) => format!(
            "{service_label} · {}–{} · {d} min",
            s.0.with_timezone(&state.timezone).format("%H:%M"),
            e.0.with_timezone(&state.timezone).format("%H:%M")
        ),
        _ => format!("{service_label} · time not recorded"),
    };
    NoteView {
        service,
        objectives: n
            .objective_ids
            .iter()
            .map(|id| {
                objectives
                    .iter()
                    .find(|o| o.id == *id)
                    .map_or_else(|| format!("Objective #{id}"), objective_label)
            })
            .collect(),
        id: n.id,
        heading: format!(
            "{kind} · {} · {}",
            view::day(&n.session_on),
            template.map(NoteTemplate::label).unwrap_or("")
        ),
        group_title: n.group_title.clone(),
        group_shared_text: n.group_shared_text.clone(),
        author: n.author_name.clone(),
        status,
        draft,
        can_edit: draft && mine && n.group_note_id.is_none(),
        can_sign: draft && mine && n.group_note_id.is_none(),
        can_cosign: !draft
            && n.needs_cosign
            && n.cosigned_at.is_none()
            && role == Role::ClinicalDirector,
        can_add_addendum: !draft && (mine || role == Role::ClinicalDirector),
        fields: n
            .sections
            .iter()
            .map(|(k, t)| {
                let label = label_of(k);
                let key = template
                    .and_then(|tp| tp.sections().iter().find(|(s, _)| s == k).map(|(s, _)| *s))
                    .unwrap_or("section");
                (key, label, t.clone())
            })
            .collect(),
        sections: n
            .sections
            .iter()
            .map(|(k, t)| SectionView {
                label: label_of(k),
                text: t.clone(),
            })
            .collect(),
        addenda: n
            .addenda
            .iter()
            .map(|a| AddendumView {
                written_at: view::local_time(&a.written_at, state.timezone),
                author: a.written_by_name.clone(),
                body: a.body.clone(),
            })
            .collect(),
    }
}

async fn render(
    state: &AppState,
    staff: &Staff,
    patient_id: i64,
    errors: &[FieldError],
    notice: Option<String>,
) -> Result<String, AppError> {
    let data = chart_data(state, &staff.actor, patient_id).await?;
    let grant = state
        .store
        .patient_grant::<can::ReadClinical>(&staff.actor, patient_id)
        .await?;
    let objectives = state.store.signed_objectives(&grant).await?;
    let notes = state
        .store
        .notes(&grant)
        .await?
        .into_iter()
        .map(|n| note_view(state, staff, n, &objectives))
        .collect();
    let role = staff.actor.role;
    Ok(NotesPage {
        layout: Layout::new(staff, "patients"),
        tabs: ChartTabs::new(role, data.header.id, "notes"),
        header: data.header,
        can_write: permits(role, Permission::WriteClinical),
        notes,
        templates: [NoteTemplate::Dap, NoteTemplate::Birp]
            .into_iter()
            .map(|t| (t.code(), t.label(), t.sections().to_vec()))
            .collect(),
        today: state.today().to_string(),
        errors: labelled(errors),
        notice,
        objectives: objectives
            .iter()
            .filter(|o| o.in_force)
            .map(|o| (o.id, objective_label(o)))
            .collect(),
        service_codes: ServiceCode::INDIVIDUAL_NOTES
            .iter()
            .map(|c| (c.code(), c.label()))
            .collect(),
    }
    .render()?)
}

/// The Notes tab.
pub async fn tab(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    Ok(Html(render(&state, &staff, id, &[], None).await?).into_response())
}

/// Re-renders the tab with the input's problems (422), or passes other errors on.
async fn rejected(
    state: &AppState,
    staff: &Staff,
    patient_id: i64,
    error: AppError,
) -> Result<Response, AppError> {
    match error {
        AppError::Invalid(fields) => {
            let html = render(state, staff, patient_id, &fields, None).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(html)).into_response())
        }
        other => Err(other),
    }
}

/// A new note as posted: service code, template, date, start and end time and the template's
/// sections.
#[derive(Deserialize)]
pub struct NoteForm {
    #[serde(default)]
    service_code: String,
    #[serde(default)]
    template: String,
    #[serde(default)]
    session_on: String,
    #[serde(default)]
    started: String,
    #[serde(default)]
    ended: String,
    #[serde(flatten)]
    sections: BTreeMap<String, String>,
}

/// Only the template's section keys count as sections (the form also carries the CSRF token).
fn section_fields(
    template: NoteTemplate,
    all: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    template
        .sections()
        .iter()
        .map(|(k, _)| ((*k).to_owned(), all.get(*k).cloned().unwrap_or_default()))
        .collect()
}

/// Starts a draft note.
pub async fn create(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Form(form): Form<NoteForm>,
) -> Result<Response, AppError> {
    let grant = state
        .store
        .patient_grant::<can::WriteClinical>(&staff.actor, id)
        .await?;
    let mut errors = Vec::new();
    let service_code = forms::code::<ServiceCode>(
        "service_code",
        &form.service_code,
        "choose the service this note documents",
        &mut errors,
    )
    .filter(|c| {
        let fits = ServiceCode::INDIVIDUAL_NOTES.contains(c);
        if !fits {
            errors.push(FieldError::new(
                "service_code",
                "group notes are written from the group's session",
            ));
        }
        fits
    });
    let template = forms::code::<NoteTemplate>(
        "template",
        &form.template,
        "choose DAP or BIRP",
        &mut errors,
    );
    let session_on = forms::date("session_on", &form.session_on, &mut errors);
    let started = forms::time("started", &form.started, &mut errors);
    let ended = forms::time("ended", &form.ended, &mut errors);
    let (Some(code), Some(template), Some(session_on), Some(started), Some(ended), true) = (
        service_code,
        template,
        session_on,
        started,
        ended,
        errors.is_empty(),
    ) else {
        return rejected(&state, &staff, id, AppError::Invalid(errors)).await;
    };
    let instant = |t: chrono::NaiveTime| {
        state
            .timezone
            .from_local_datetime(&session_on.and_time(t))
            .earliest()
            .map(|at| at.with_timezone(&chrono::Utc))
    };
    let time = match (instant(started), instant(ended)) {
        (Some(s), Some(e)) => ServiceTime::new(s, e)
            .map_err(|e| AppError::Invalid(vec![FieldError::new("ended", e.to_string())])),
        _ => Err(AppError::Invalid(vec![FieldError::new(
            "started",
            "is not a time that exists on that day",
        )])),
    };
    let time = match time {
        Ok(t) => t,
        Err(e) => return rejected(&state, &staff, id, e).await,
    };
    let note = NewNote {
        kind: if code == ServiceCode::Family {
            NoteKind::Family
        } else {
            NoteKind::Individual
        },
        service: Some(NoteService { code, time }),
        template,
        session_on,
        sections: section_fields(template, &form.sections),
        objective_ids: ticked_objectives(&form.sections, "objective_"),
    };
    match state.store.write_note(&grant, &note, state.today()).await {
        Ok(_) => Ok(Redirect::to(&format!("/patients/{id}/notes")).into_response()),
        Err(e) => rejected(&state, &staff, id, e.into()).await,
    }
}

/// A draft's new text.
#[derive(Deserialize)]
pub struct EditForm {
    #[serde(flatten)]
    sections: BTreeMap<String, String>,
}

/// Saves a draft's sections.
pub async fn update(
    State(state): State<AppState>,
    staff: Staff,
    Path(note_id): Path<i64>,
    Form(form): Form<EditForm>,
) -> Result<Response, AppError> {
    let patient = state.store.note_patient_id(note_id).await?;
    let grant = state
        .store
        .patient_grant::<can::WriteClinical>(&staff.actor, patient)
        .await?;
    let mut sections = form.sections;
    sections.remove("csrf_token");
    match state.store.update_note(&grant, note_id, &sections).await {
        Ok(()) => Ok(Redirect::to(&format!("/patients/{patient}/notes")).into_response()),
        Err(e) => rejected(&state, &staff, patient, e.into()).await,
    }
}

/// Signs the author's draft.
pub async fn sign(
    State(state): State<AppState>,
    staff: Staff,
    Path(note_id): Path<i64>,
) -> Result<Response, AppError> {
    let patient = state.store.note_patient_id(note_id).await?;
    let grant = state
        .store
        .patient_grant::<can::WriteClinical>(&staff.actor, patient)
        .await?;
    state.store.sign_note(&grant, note_id).await?;
    Ok(Redirect::to(&format!("/patients/{patient}/notes")).into_response())
}

/// A clinical director's co-signature.
pub async fn cosign(
    State(state): State<AppState>,
    staff: Staff,
    Path(note_id): Path<i64>,
) -> Result<Response, AppError> {
    let patient = state.store.note_patient_id(note_id).await?;
    let grant = state
        .store
        .patient_grant::<can::WriteClinical>(&staff.actor, patient)
        .await?;
    state.store.cosign_note(&grant, note_id).await?;
    Ok(Redirect::to(&format!("/patients/{patient}/notes")).into_response())
}

/// An addendum as posted.
#[derive(Deserialize)]
pub struct AddendumForm {
    #[serde(default)]
    body: String,
}

/// Adds a dated addendum to a signed note.
pub async fn addendum(
    State(state): State<AppState>,
    staff: Staff,
    Path(note_id): Path<i64>,
    Form(form): Form<AddendumForm>,
) -> Result<Response, AppError> {
    let patient = state.store.note_patient_id(note_id).await?;
    let grant = state
        .store
        .patient_grant::<can::WriteClinical>(&staff.actor, patient)
        .await?;
    match state.store.add_addendum(&grant, note_id, &form.body).await {
        Ok(_) => Ok(Redirect::to(&format!("/patients/{patient}/notes")).into_response()),
        Err(StoreError::Invalid(fields)) => {
            rejected(&state, &staff, patient, AppError::Invalid(fields)).await
        }
        Err(e) => Err(e.into()),
    }
}
