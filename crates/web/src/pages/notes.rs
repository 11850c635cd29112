//! The chart's Notes tab: progress notes (DAP or BIRP), signing, addenda and co-signature,
//! and the group note form (shared part once, each attendee's part, one note per chart).

use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::collections::BTreeMap;
use trellis_domain::access::{permits, Permission, Role};
use trellis_domain::patient::FieldError;
use trellis_storage::access::can;
use trellis_storage::notes::{AttendeeNote, NewGroupNote, NewNote, Note, NoteKind, NoteTemplate};
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
}

/// An objective's text as notes show it: the objective, its version and its target date.
fn objective_label(o: &SignedObjective) -> String {
    format!(
        "{} (plan version {}, target {})",
        o.text,
        o.version,
        o.target_on.format("%-d %b %Y")
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
    NoteView {
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

/// A new note as posted: kind, template, date and the template's sections.
#[derive(Deserialize)]
pub struct NoteForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    template: String,
    #[serde(default)]
    session_on: String,
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
    let kind = forms::code::<NoteKind>(
        "kind",
        &form.kind,
        "choose individual or family",
        &mut errors,
    );
    let template = forms::code::<NoteTemplate>(
        "template",
        &form.template,
        "choose DAP or BIRP",
        &mut errors,
    );
    let session_on = forms::date("session_on", &form.session_on, &mut errors);
    let (Some(kind), Some(template), Some(session_on), true) =
        (kind, template, session_on, errors.is_empty())
    else {
        return rejected(&state, &staff, id, AppError::Invalid(errors)).await;
    };
    let note = NewNote {
        kind,
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

/// One patient the facilitator may choose as an attendee.
pub struct AttendeeChoice {
    id: i64,
    name: String,
    /// The objectives of their plan in force, as (id, text).
    objectives: Vec<(i64, String)>,
}

#[derive(Template)]
#[template(path = "group_note.html")]
struct GroupNotePage {
    layout: Layout,
    patients: Vec<AttendeeChoice>,
    sections: Vec<(&'static str, &'static str)>,
    today: String,
    errors: Vec<LabelledError>,
    values: BTreeMap<String, String>,
    groups: Vec<(i64, String, String, i64, bool)>,
}

impl GroupNotePage {
    fn value(&self, key: &str) -> &str {
        self.values.get(key).map(String::as_str).unwrap_or("")
    }

    fn checked(&self, patient: &i64) -> bool {
        self.values.contains_key(&format!("attend_{patient}"))
    }

    fn field(&self, patient: &i64, key: &str) -> &str {
        self.value(&format!("p{patient}_{key}"))
    }

    fn objective_checked(&self, patient: &i64, objective: &i64) -> bool {
        self.values
            .contains_key(&format!("p{patient}_objective_{objective}"))
    }
}

async fn group_page(
    state: &AppState,
    staff: &Staff,
    errors: &[FieldError],
    values: BTreeMap<String, String>,
) -> Result<String, AppError> {
    let grant = state.store.grant::<can::ReadEpisodes>(&staff.actor)?;
    let write = state.store.grant::<can::WriteClinical>(&staff.actor)?;
    let mut patients = Vec::new();
    for c in state.store.caseload(&grant).await? {
        let read = state
            .store
            .patient_grant::<can::ReadClinical>(&staff.actor, c.patient_id)
            .await?;
        let objectives = state
            .store
            .signed_objectives(&read)
            .await?
            .iter()
            .filter(|o| o.in_force)
            .map(|o| (o.id, objective_label(o)))
            .collect();
        patients.push(AttendeeChoice {
            id: c.patient_id,
            name: c.patient_name,
            objectives,
        });
    }
    let groups = state
        .store
        .my_group_notes(&write)
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
    Ok(GroupNotePage {
        layout: Layout::new(staff, "groups"),
        patients,
        sections: NoteTemplate::Dap.sections().to_vec(),
        today: state.today().to_string(),
        errors: labelled(errors),
        values,
        groups,
    }
    .render()?)
}

/// The group note form: the facilitator's patients as possible attendees, and their group notes.
pub async fn group_form(State(state): State<AppState>, staff: Staff) -> Result<Response, AppError> {
    Ok(Html(group_page(&state, &staff, &[], BTreeMap::new()).await?).into_response())
}

/// Writes a group note (DAP): `title`, `session_on`, `shared_text`, and for each attendee
/// `attend_<id>` plus `p<id>_data`, `p<id>_assessment`, `p<id>_plan` and a
/// `p<id>_objective_<objective id>` for each of their plan objectives the session addressed.
pub async fn group_create(
    State(state): State<AppState>,
    staff: Staff,
    Form(form): Form<BTreeMap<String, String>>,
) -> Result<Response, AppError> {
    state.store.grant::<can::WriteClinical>(&staff.actor)?;
    let mut errors = Vec::new();
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    let session_on = forms::date("session_on", &get("session_on"), &mut errors);
    let mut attendees = Vec::new();
    for key in form.keys() {
        let Some(id) = key
            .strip_prefix("attend_")
            .and_then(|s| s.parse::<i64>().ok())
        else {
            continue;
        };
        let grant = state
            .store
            .patient_grant::<can::WriteClinical>(&staff.actor, id)
            .await?;
        let sections = NoteTemplate::Dap
            .sections()
            .iter()
            .map(|(k, _)| ((*k).to_owned(), get(&format!("p{id}_{k}"))))
            .collect();
        attendees.push((
            grant,
            AttendeeNote {
                sections,
                objective_ids: ticked_objectives(&form, &format!("p{id}_objective_")),
            },
        ));
    }
    let outcome = match session_on {
        Some(session_on) if errors.is_empty() => state
            .store
            .write_group_note(
                &NewGroupNote {
                    title: get("title"),
                    session_on,
                    template: NoteTemplate::Dap,
                    shared_text: get("shared_text"),
                },
                &attendees,
                state.today(),
            )
            .await
            .map_err(AppError::from),
        _ => Err(AppError::Invalid(errors)),
    };
    match outcome {
        Ok(_) => Ok(Redirect::to("/group-notes").into_response()),
        Err(AppError::Invalid(fields)) => {
            let html = group_page(&state, &staff, &fields, form).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(html)).into_response())
        }
        Err(e) => Err(e),
    }
}

/// Signs a group note and every attendee's note with it.
pub async fn group_sign(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let grant = state.store.grant::<can::WriteClinical>(&staff.actor)?;
    state.store.sign_group_note(&grant, id).await?;
    Ok(Redirect::to("/group-notes").into_response())
}
