//! SUD counseling notes (42 CFR 2.11): the signed-in clinician's own notes on a patient, on a
//! page of their own reached from the Notes tab. Nobody else's notes are ever listed.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use trellis_domain::access::{permits, Permission};
use trellis_domain::patient::FieldError;
use trellis_storage::access::can;
use trellis_storage::counseling_notes::NewCounselingNote;

use super::patients::{chart_data, ChartHeader};
use super::{labelled, ChartTabs, LabelledError, Layout};
use crate::error::AppError;
use crate::forms;
use crate::identity::Staff;
use crate::view;
use crate::AppState;

/// One of the clinician's counseling notes, ready to show.
pub struct CounselingNoteView {
    id: i64,
    session_on: String,
    written_at: String,
    text: String,
}

#[derive(Template)]
#[template(path = "counseling_notes.html")]
struct CounselingNotesPage {
    layout: Layout,
    header: ChartHeader,
    tabs: ChartTabs,
    can_write: bool,
    notes: Vec<CounselingNoteView>,
    today: String,
    errors: Vec<LabelledError>,
    notice: Option<&'static str>,
}

async fn render(
    state: &AppState,
    staff: &Staff,
    patient_id: i64,
    errors: &[FieldError],
    notice: Option<&'static str>,
) -> Result<String, AppError> {
    let data = chart_data(state, &staff.actor, patient_id).await?;
    let grant = state
        .store
        .patient_grant::<can::ReadClinical>(&staff.actor, patient_id)
        .await?;
    let notes = state
        .store
        .my_counseling_notes(&grant)
        .await?
        .into_iter()
        .map(|n| CounselingNoteView {
            id: n.id,
            session_on: view::day(&n.session_on.into()),
            written_at: view::local_time(&n.written_at, state.timezone),
            text: n.text,
        })
        .collect();
    let role = staff.actor.role;
    Ok(CounselingNotesPage {
        layout: Layout::new(staff, "patients"),
        tabs: ChartTabs::new(role, data.header.id, "notes"),
        header: data.header,
        can_write: permits(role, Permission::WriteClinical),
        notes,
        today: state.today().to_string(),
        errors: labelled(errors),
        notice,
    }
    .render()?)
}

/// Whether the page follows a save (to confirm it).
#[derive(Deserialize)]
pub struct Saved {
    saved: Option<u8>,
}

/// The clinician's own counseling notes on the patient, and the form to write one.
pub async fn page(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Query(saved): Query<Saved>,
) -> Result<Response, AppError> {
    let notice = saved
        .saved
        .map(|_| "Counseling note saved. Only you can read it.");
    Ok(Html(render(&state, &staff, id, &[], notice).await?).into_response())
}

/// A counseling note as posted.
#[derive(Deserialize)]
pub struct CounselingNoteForm {
    #[serde(default)]
    session_on: String,
    #[serde(default)]
    text: String,
}

/// Writes a counseling note; its author is its only reader.
pub async fn create(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Form(form): Form<CounselingNoteForm>,
) -> Result<Response, AppError> {
    let grant = state
        .store
        .patient_grant::<can::WriteClinical>(&staff.actor, id)
        .await?;
    let mut errors = Vec::new();
    let session_on = forms::date("session_on", &form.session_on, &mut errors);
    let result = match session_on.filter(|_| errors.is_empty()) {
        Some(session_on) => state
            .store
            .write_counseling_note(
                &grant,
                &NewCounselingNote {
                    session_on,
                    text: form.text,
                },
                state.today(),
            )
            .await
            .map_err(AppError::from),
        None => Err(AppError::Invalid(errors)),
    };
    match result {
        Ok(_) => {
            Ok(Redirect::to(&format!("/patients/{id}/counseling-notes?saved=1")).into_response())
        }
        Err(AppError::Invalid(fields)) => {
            let html = render(&state, &staff, id, &fields, None).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(html)).into_response())
        }
        Err(e) => Err(e),
    }
}
