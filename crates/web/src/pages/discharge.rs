//! The discharge page of an episode: the summary (generated from the record, edited, signed),
//! the aftercare plan, and the 30/60/90-day follow-ups with their outcomes; the printable
//! summary; and the follow-up outcome report.

use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::collections::BTreeMap;
use trellis_domain::access::{permits, Permission};
use trellis_domain::patient::FieldError;
use trellis_storage::access::can;
use trellis_storage::discharge::{
    AftercareItem, AftercareKind, ContactResult, DischargeSummary, FollowUp, FollowUpOutcome,
    NewAftercareItem, OutcomeCounts, RecoveryStatus,
};
use trellis_storage::episodes::Episode;

use super::patients::{chart_data, ChartHeader};
use super::{labelled, ChartTabs, LabelledError, Layout};
use crate::error::AppError;
use crate::forms;
use crate::identity::Staff;
use crate::view;
use crate::AppState;

/// A summary as the page shows it.
pub struct SummaryView {
    id: i64,
    draft: bool,
    status: String,
    /// (key, label, text).
    sections: Vec<(String, String, String)>,
}

/// A follow-up as the page shows it.
pub struct FollowUpView {
    task_id: i64,
    days_after: i64,
    due_on: String,
    assigned_to: String,
    /// "Reached; In recovery", once recorded.
    outcome: Option<String>,
    note: Option<String>,
    recorded: Option<String>,
    overdue: bool,
}

#[derive(Template)]
#[template(path = "discharge.html")]
struct DischargePage {
    layout: Layout,
    header: ChartHeader,
    tabs: ChartTabs,
    episode_id: i64,
    program: String,
    admitted_on: String,
    discharged_on: Option<String>,
    reason: String,
    can_write: bool,
    can_discharge: bool,
    summary: Option<SummaryView>,
    aftercare: Vec<String>,
    kinds: Vec<(&'static str, &'static str, &'static str)>,
    follow_ups: Vec<FollowUpView>,
    contacts: Vec<(&'static str, &'static str)>,
    statuses: Vec<(&'static str, &'static str)>,
    errors: Vec<LabelledError>,
}

#[derive(Template)]
#[template(path = "discharge_print.html")]
struct PrintPage {
    layout: Layout,
    patient_id: i64,
    episode_id: i64,
    name: String,
    mrn: String,
    dob: String,
    summary: SummaryView,
    aftercare: Vec<String>,
    follow_ups: Vec<FollowUpView>,
}

#[derive(Template)]
#[template(path = "follow_up_outcomes.html")]
struct OutcomesPage {
    layout: Layout,
    rows: Vec<OutcomeCounts>,
}

fn summary_view(state: &AppState, s: DischargeSummary) -> SummaryView {
    let status = match (&s.signed_at, &s.signed_by_name) {
        (Some(at), by) => format!(
            "Signed {} by {}",
            view::local_time(at, state.timezone),
            by.as_deref().unwrap_or("unknown")
        ),
        (None, _) => "Draft".to_owned(),
    };
    SummaryView {
        id: s.id,
        draft: s.is_draft(),
        status,
        sections: s
            .sections
            .into_iter()
            .map(|x| (x.key, x.label, x.text))
            .collect(),
    }
}

fn follow_up_view(state: &AppState, f: FollowUp) -> FollowUpView {
    FollowUpView {
        task_id: f.task_id,
        days_after: f.days_after,
        due_on: view::day(&f.due_on),
        assigned_to: f
            .assigned_to_name
            .unwrap_or_else(|| "clinical directors".into()),
        outcome: f
            .contact_result
            .zip(f.recovery_status)
            .map(|(c, s)| format!("{}; {}", c.label(), s.label())),
        note: f.note,
        recorded: f.recorded_at.as_ref().map(|at| {
            format!(
                "{} by {}",
                view::local_time(at, state.timezone),
                f.recorded_by_name.as_deref().unwrap_or("unknown")
            )
        }),
        overdue: f.recorded_at.is_none() && f.due_on.0 < state.today(),
    }
}

fn aftercare_lines(plan: &[AftercareItem]) -> Vec<String> {
    plan.iter().map(AftercareItem::describe).collect()
}

/// The episode, read through the chart's episode list (so the read is audited there).
async fn episode(
    state: &AppState,
    staff: &Staff,
    patient_id: i64,
    episode_id: i64,
) -> Result<Episode, AppError> {
    let grant = state
        .store
        .patient_grant::<can::ReadEpisodes>(&staff.actor, patient_id)
        .await?;
    state
        .store
        .episodes(&grant)
        .await?
        .into_iter()
        .find(|e| e.id == episode_id)
        .ok_or(AppError::NotFound("episode"))
}

async fn render(
    state: &AppState,
    staff: &Staff,
    episode_id: i64,
    errors: &[FieldError],
) -> Result<String, AppError> {
    let patient_id = state.store.episode_patient_id(episode_id).await?;
    let read = state
        .store
        .patient_grant::<can::ReadClinical>(&staff.actor, patient_id)
        .await?;
    let data = chart_data(state, &staff.actor, patient_id).await?;
    let e = episode(state, staff, patient_id, episode_id).await?;
    let summary = state.store.discharge_summary(&read, episode_id).await?;
    let plan = state.store.aftercare_plan(&read, episode_id).await?;
    let follow_ups = state.store.follow_ups(&read, episode_id).await?;
    let role = staff.actor.role;
    Ok(DischargePage {
        layout: Layout::new(staff, "patients"),
        tabs: ChartTabs::new(role, patient_id, "episodes"),
        header: data.header,
        episode_id,
        program: e.program_name.clone(),
        admitted_on: view::day(&e.admitted_on),
        discharged_on: e.discharged_on.as_ref().map(view::day),
        reason: view::discharge_reason(e.discharge_reason),
        can_write: permits(role, Permission::WriteClinical),
        can_discharge: e.is_open() && permits(role, Permission::DischargeEpisode),
        summary: summary.map(|s| summary_view(state, s)),
        aftercare: aftercare_lines(&plan),
        kinds: AftercareKind::ALL
            .iter()
            .filter(|k| **k != AftercareKind::CrisisLine)
            .map(|k| (k.code(), k.label(), k.detail_prompt().0))
            .collect(),
        follow_ups: follow_ups
            .into_iter()
            .map(|f| follow_up_view(state, f))
            .collect(),
        contacts: ContactResult::ALL
            .iter()
            .map(|c| (c.code(), c.label()))
            .collect(),
        statuses: RecoveryStatus::ALL
            .iter()
            .map(|s| (s.code(), s.label()))
            .collect(),
        errors: labelled(errors),
    }
    .render()?)
}

/// Re-renders the page with the input's problems (422), or passes other errors on.
async fn rejected(
    state: &AppState,
    staff: &Staff,
    episode_id: i64,
    error: AppError,
) -> Result<Response, AppError> {
    match error {
        AppError::Invalid(fields) => {
            let html = render(state, staff, episode_id, &fields).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(html)).into_response())
        }
        other => Err(other),
    }
}

fn back(episode_id: i64) -> Response {
    Redirect::to(&format!("/episodes/{episode_id}/discharge-summary")).into_response()
}

/// The discharge page.
pub async fn page(
    State(state): State<AppState>,
    staff: Staff,
    Path(episode_id): Path<i64>,
) -> Result<Response, AppError> {
    Ok(Html(render(&state, &staff, episode_id, &[]).await?).into_response())
}

/// Generates the draft summary from the record.
pub async fn generate(
    State(state): State<AppState>,
    staff: Staff,
    Path(episode_id): Path<i64>,
) -> Result<Response, AppError> {
    let patient_id = state.store.episode_patient_id(episode_id).await?;
    let grant = state
        .store
        .patient_grant::<can::WriteClinical>(&staff.actor, patient_id)
        .await?;
    state
        .store
        .generate_discharge_summary(&grant, episode_id)
        .await?;
    Ok(back(episode_id))
}

/// A draft's edited sections (the form also carries the CSRF token, dropped here).
#[derive(Deserialize)]
pub struct SectionsForm {
    #[serde(flatten)]
    sections: BTreeMap<String, String>,
}

/// Saves the draft's sections.
pub async fn update(
    State(state): State<AppState>,
    staff: Staff,
    Path(summary_id): Path<i64>,
    Form(form): Form<SectionsForm>,
) -> Result<Response, AppError> {
    let (patient_id, episode_id) = state.store.discharge_summary_owner(summary_id).await?;
    let grant = state
        .store
        .patient_grant::<can::WriteClinical>(&staff.actor, patient_id)
        .await?;
    let mut sections = form.sections;
    sections.remove("csrf_token");
    match state
        .store
        .update_discharge_summary(&grant, summary_id, &sections)
        .await
    {
        Ok(()) => Ok(back(episode_id)),
        Err(e) => rejected(&state, &staff, episode_id, e.into()).await,
    }
}

/// Signs the summary, locking it.
pub async fn sign(
    State(state): State<AppState>,
    staff: Staff,
    Path(summary_id): Path<i64>,
) -> Result<Response, AppError> {
    let (patient_id, episode_id) = state.store.discharge_summary_owner(summary_id).await?;
    let grant = state
        .store
        .patient_grant::<can::WriteClinical>(&staff.actor, patient_id)
        .await?;
    match state.store.sign_discharge_summary(&grant, summary_id).await {
        Ok(()) => Ok(back(episode_id)),
        Err(e) => rejected(&state, &staff, episode_id, e.into()).await,
    }
}

/// The printable summary with the aftercare plan and follow-up dates.
pub async fn print(
    State(state): State<AppState>,
    staff: Staff,
    Path(episode_id): Path<i64>,
) -> Result<Response, AppError> {
    let patient_id = state.store.episode_patient_id(episode_id).await?;
    let read = state
        .store
        .patient_grant::<can::ReadClinical>(&staff.actor, patient_id)
        .await?;
    let demographics = state
        .store
        .patient_grant::<can::ReadDemographics>(&staff.actor, patient_id)
        .await?;
    let patient = state.store.patient(&demographics).await?;
    let summary = state
        .store
        .discharge_summary(&read, episode_id)
        .await?
        .ok_or(AppError::NotFound("discharge summary"))?;
    let plan = state.store.aftercare_plan(&read, episode_id).await?;
    let follow_ups = state.store.follow_ups(&read, episode_id).await?;
    Ok(Html(
        PrintPage {
            layout: Layout::new(&staff, "patients"),
            patient_id,
            episode_id,
            name: format!("{} {}", patient.legal_first_name, patient.legal_last_name),
            mrn: trellis_storage::patients::mrn(patient_id),
            dob: view::day(&patient.date_of_birth),
            summary: summary_view(&state, summary),
            aftercare: aftercare_lines(&plan),
            follow_ups: follow_ups
                .into_iter()
                .map(|f| follow_up_view(&state, f))
                .collect(),
        }
        .render()?,
    )
    .into_response())
}

/// An aftercare line as posted.
#[derive(Deserialize)]
pub struct AftercareForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    detail: String,
    #[serde(default)]
    contact: String,
    #[serde(default)]
    scheduled_on: String,
}

/// Parses an aftercare line (shared with the API).
pub(crate) fn parse_aftercare(
    kind: &str,
    detail: &str,
    contact: &str,
    scheduled_on: &str,
) -> Result<NewAftercareItem, AppError> {
    let mut errors = Vec::new();
    let kind = forms::code::<AftercareKind>("kind", kind, "choose what to add", &mut errors);
    let scheduled_on = if scheduled_on.trim().is_empty() {
        None
    } else {
        forms::date("scheduled_on", scheduled_on, &mut errors)
    };
    match (kind, errors.is_empty()) {
        (Some(kind), true) => Ok(NewAftercareItem {
            kind,
            detail: detail.to_owned(),
            contact: contact.to_owned(),
            scheduled_on,
        }),
        _ => Err(AppError::Invalid(errors)),
    }
}

/// Adds a line to the aftercare plan.
pub async fn add_aftercare(
    State(state): State<AppState>,
    staff: Staff,
    Path(episode_id): Path<i64>,
    Form(form): Form<AftercareForm>,
) -> Result<Response, AppError> {
    let patient_id = state.store.episode_patient_id(episode_id).await?;
    let grant = state
        .store
        .patient_grant::<can::WriteClinical>(&staff.actor, patient_id)
        .await?;
    let item = match parse_aftercare(&form.kind, &form.detail, &form.contact, &form.scheduled_on) {
        Ok(item) => item,
        Err(e) => return rejected(&state, &staff, episode_id, e).await,
    };
    match state
        .store
        .add_aftercare_item(&grant, episode_id, &item, state.today())
        .await
    {
        Ok(_) => Ok(back(episode_id)),
        Err(e) => rejected(&state, &staff, episode_id, e.into()).await,
    }
}

/// A follow-up outcome as posted.
#[derive(Deserialize)]
pub struct OutcomeForm {
    #[serde(default)]
    contact_result: String,
    #[serde(default)]
    recovery_status: String,
    #[serde(default)]
    note: String,
    /// "tasks" to go back to the task list.
    #[serde(default)]
    return_to: String,
}

/// Parses a follow-up outcome (shared with the API); the store checks what is missing.
pub(crate) fn parse_outcome(contact: &str, status: &str, note: &str) -> FollowUpOutcome {
    FollowUpOutcome {
        contact: contact.trim().parse().ok(),
        status: status.trim().parse().ok(),
        note: note.to_owned(),
    }
}

/// Records what a follow-up call found, completing its task.
pub async fn record_follow_up(
    State(state): State<AppState>,
    staff: Staff,
    Path(task_id): Path<i64>,
    Form(form): Form<OutcomeForm>,
) -> Result<Response, AppError> {
    let (patient_id, episode_id) = state.store.follow_up_owner(task_id).await?;
    let grant = state
        .store
        .patient_grant::<can::WriteClinical>(&staff.actor, patient_id)
        .await?;
    let outcome = parse_outcome(&form.contact_result, &form.recovery_status, &form.note);
    match state
        .store
        .record_follow_up(&grant, task_id, &outcome, state.today())
        .await
    {
        Ok(()) if form.return_to == "tasks" => Ok(Redirect::to("/tasks").into_response()),
        Ok(()) => Ok(back(episode_id)),
        Err(e) => rejected(&state, &staff, episode_id, e.into()).await,
    }
}

/// Follow-up outcomes across the organisation.
pub async fn outcomes(State(state): State<AppState>, staff: Staff) -> Result<Response, AppError> {
    let grant = state.store.grant::<can::ReadOutcomes>(&staff.actor)?;
    let rows = state
        .store
        .follow_up_outcomes(&grant, state.today())
        .await?;
    Ok(Html(
        OutcomesPage {
            layout: Layout::new(&staff, "reports"),
            rows,
        }
        .render()?,
    )
    .into_response())
}
