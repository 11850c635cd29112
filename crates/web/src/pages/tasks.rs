//! Tasks: the safety-flag follow-ups and other work assigned to a person or their role, and the
//! clinician's manual flag.

use askama::Template;
use axum::extract::{Form, Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use trellis_storage::access::can;
use trellis_storage::tasks::{Severity, Task};
use trellis_storage::StoreError;

use super::Layout;
use crate::error::AppError;
use crate::identity::Staff;
use crate::view;
use crate::AppState;

/// A task, ready to show.
pub struct TaskView {
    pub(super) id: i64,
    pub(super) title: String,
    pub(super) priority: String,
    pub(super) patient: Option<(i64, String)>,
    pub(super) opened: String,
    pub(super) due: Option<String>,
    pub(super) assignee: String,
    /// A follow-up after discharge, answered with its outcome rather than free text.
    pub(super) follow_up: bool,
    /// Past its due day, whatever its priority (a routine follow-up call can be overdue).
    pub(super) overdue: bool,
}

/// Tasks as the page shows them.
pub fn task_views(tasks: Vec<Task>, state: &AppState) -> Vec<TaskView> {
    let today = state.today();
    tasks
        .into_iter()
        .map(|t| TaskView {
            id: t.id,
            patient: t.patient_id.zip(t.patient_name),
            opened: view::local_time(&t.created_at, state.timezone),
            due: t.due_on.as_ref().map(view::day),
            assignee: match (&t.assigned_to, &t.assigned_role) {
                (Some(_), _) => "assigned to you".to_owned(),
                (None, Some(role)) => format!(
                    "for every {}",
                    role.parse::<trellis_domain::access::Role>()
                        .map(|r| r.label())
                        .unwrap_or("staff member")
                        .to_lowercase()
                ),
                (None, None) => String::new(),
            },
            follow_up: t.kind == trellis_storage::discharge::FOLLOW_UP_TASK_KIND,
            overdue: t.due_on.is_some_and(|d| d.0 < today),
            title: t.title,
            priority: t.priority,
        })
        .collect()
}

#[derive(Template)]
#[template(path = "tasks.html")]
struct TasksPage {
    layout: Layout,
    tasks: Vec<TaskView>,
    notice: Option<String>,
    error: Option<String>,
}

async fn render(
    state: &AppState,
    staff: &Staff,
    notice: Option<String>,
    error: Option<String>,
) -> Result<String, AppError> {
    let grant = state.store.grant::<can::ReadDemographics>(&staff.actor)?;
    let tasks = task_views(state.store.my_tasks(&grant).await?, state);
    Ok(TasksPage {
        layout: Layout::new(staff, "tasks"),
        tasks,
        notice,
        error,
    }
    .render()?)
}

/// Open tasks for the signed-in person and their role.
pub async fn list(State(state): State<AppState>, staff: Staff) -> Result<Response, AppError> {
    Ok(Html(render(&state, &staff, None, None).await?).into_response())
}

/// Completion form.
#[derive(Deserialize)]
pub struct CompleteForm {
    #[serde(default)]
    outcome: String,
}

/// Records what was done; a flag's task resolves the flag.
pub async fn complete(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Form(form): Form<CompleteForm>,
) -> Result<Response, AppError> {
    match state
        .store
        .complete_task(&staff.actor, id, &form.outcome)
        .await
    {
        Ok(()) => Ok(Html(
            render(
                &state,
                &staff,
                Some("Done. The response is recorded.".into()),
                None,
            )
            .await?,
        )
        .into_response()),
        Err(StoreError::Invalid(e)) => {
            let message = e.first().map(|f| f.message.clone()).unwrap_or_default();
            let html = render(&state, &staff, None, Some(format!("Not saved: {message}."))).await?;
            Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, Html(html)).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// Manual flag form.
#[derive(Deserialize)]
pub struct FlagForm {
    #[serde(default)]
    severity: String,
    #[serde(default)]
    summary: String,
}

/// Raises a clinician's flag on the chart, with its tasks.
pub async fn raise_flag(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Form(form): Form<FlagForm>,
) -> Result<Response, AppError> {
    let grant = state
        .store
        .patient_grant::<can::WriteClinical>(&staff.actor, id)
        .await?;
    let severity = match form.severity.as_str() {
        "high" => Severity::High,
        "moderate" => Severity::Moderate,
        _ => {
            return Err(AppError::Invalid(vec![
                trellis_domain::patient::FieldError::new("severity", "choose moderate or high"),
            ]))
        }
    };
    state
        .store
        .raise_manual_flag(&grant, severity, &form.summary)
        .await?;
    Ok(Redirect::to(&format!("/patients/{id}")).into_response())
}
