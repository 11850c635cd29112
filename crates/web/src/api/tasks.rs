//! Safety flags on the chart and the tasks that answer them.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use trellis_domain::patient::FieldError;
use trellis_storage::access::can;
use trellis_storage::tasks::{self, Severity};

use super::episodes::Created;
use super::extract::{JsonBody, PathId};
use super::paging::{PageQuery, Paged, Paging};
use super::responses::CreatedAt;
use super::responses::{BadBody, Forbidden, NotFound, Unauthenticated};
use crate::error::{ApiError, ApiErrorBody, AppError};
use crate::identity::ApiCaller;
use crate::AppState;

/// An open task.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Task {
    /// Id.
    pub id: i64,
    /// Patient, if the task is about one.
    pub patient_id: Option<i64>,
    /// The patient's name to address them by.
    pub patient_name: Option<String>,
    /// The flag the task answers, if any.
    pub flag_id: Option<i64>,
    /// Kind, e.g. safety_flag.
    pub kind: String,
    /// What to do.
    pub title: String,
    /// routine, high or urgent.
    pub priority: String,
    /// Assigned person (staff id).
    pub assigned_to: Option<i64>,
    /// Or every staff member in this role.
    pub assigned_role: Option<String>,
    /// Due date.
    pub due_on: Option<NaiveDate>,
    /// Opened at.
    pub created_at: DateTime<Utc>,
}

/// Tasks as the API shows them.
pub fn task_list(tasks: Vec<tasks::Task>) -> Vec<Task> {
    tasks
        .into_iter()
        .map(|t| Task {
            id: t.id,
            patient_id: t.patient_id,
            patient_name: t.patient_name,
            flag_id: t.flag_id,
            kind: t.kind,
            title: t.title,
            priority: t.priority,
            assigned_to: t.assigned_to,
            assigned_role: t.assigned_role,
            due_on: t.due_on.map(|d| d.0),
            created_at: t.created_at.0,
        })
        .collect()
}

/// Open tasks for the caller and their role, for patients in their view, most urgent first.
#[utoipa::path(get, path = "/tasks", tag = "tasks",
    params(PageQuery),
    responses(
        (status = 200, description = "The open tasks", body = Vec<Task>,
            headers(("X-Total-Count" = i64, description = "How many entries the whole list has"))),
        Unauthenticated,
    ))]
pub async fn list_tasks(
    State(state): State<AppState>,
    caller: ApiCaller,
    paging: Paging,
) -> Result<Paged<Task>, ApiError> {
    let grant = state.store.grant::<can::ReadDemographics>(&caller.actor)?;
    Ok(paging.page(task_list(state.store.my_tasks(&grant).await?)))
}

/// What was done about a task.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct TaskOutcome {
    /// What was done, at most 2000 characters (encrypted at rest).
    #[serde(default)]
    #[schema(required = true, max_length = 2000)]
    pub outcome: String,
}

/// Records what was done. Only the task's assignee, someone in its role, or a clinical director
/// may; completing a flag's task resolves the flag and its other tasks.
#[utoipa::path(post, path = "/tasks/{id}/complete", tag = "tasks",
    params(("id" = i64, Path, description = "Task id")),
    request_body = TaskOutcome,
    responses(
        (status = 204, description = "Done"),
        (status = 409, description = "The task is already done (conflict)", body = ApiErrorBody),
        Unauthenticated, Forbidden, NotFound, BadBody,
    ))]
pub async fn complete_task(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    body: JsonBody<TaskOutcome>,
) -> Result<StatusCode, ApiError> {
    // The store checks who may complete the task, as it does for the page.
    let done = body.parse()?;
    state
        .store
        .complete_task(&caller.actor, id, &done.outcome)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An open flag on the chart header.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Flag {
    /// Id.
    pub id: i64,
    /// Kind, e.g. suicide_risk, unexpected_screen, manual.
    pub kind: String,
    /// moderate or high.
    pub severity: String,
    /// One line for the chart header.
    pub summary: String,
    /// Raised at.
    pub raised_at: DateTime<Utc>,
}

/// The patient's open flags, most severe first (the read is audited).
#[utoipa::path(get, path = "/patients/{id}/flags", tag = "tasks",
    params(PageQuery, ("id" = i64, Path, description = "Patient id")),
    responses(
        (status = 200, description = "The open flags", body = Vec<Flag>,
            headers(("X-Total-Count" = i64, description = "How many entries the whole list has"))),
        Unauthenticated, Forbidden, NotFound,
    ))]
pub async fn list_flags(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    paging: Paging,
) -> Result<Paged<Flag>, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::ReadClinical>(&caller.actor, id)
        .await?;
    let flags = state.store.open_flags(&grant).await?;
    Ok(paging.page(
        flags
            .into_iter()
            .map(|f| Flag {
                id: f.id,
                kind: f.kind,
                severity: f.severity,
                summary: f.summary,
                raised_at: f.raised_at.0,
            })
            .collect(),
    ))
}

/// A clinician's flag.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewFlag {
    /// moderate (respond soon) or high (respond today; the clinical directors are told).
    #[serde(default)]
    #[schema(required = true)]
    pub severity: String,
    /// The concern, shown on the chart header and in the task; at most 200 characters.
    #[serde(default)]
    #[schema(required = true)]
    pub summary: String,
}

/// Raises a flag on the chart; a task goes to the primary counselor (and, for high risk, the
/// clinical directors).
#[utoipa::path(post, path = "/patients/{id}/flags", tag = "tasks",
    params(("id" = i64, Path, description = "Patient id")),
    request_body = NewFlag,
    responses(
        (status = 201, description = "Raised", body = Created,
            headers(("Location" = String, description = "Where the new record is read: its own URL, or the list it appears in"))),
        Unauthenticated, Forbidden, NotFound, BadBody,
    ))]
pub async fn raise_flag(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    body: JsonBody<NewFlag>,
) -> Result<CreatedAt<Created>, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::WriteClinical>(&caller.actor, id)
        .await?;
    let flag = body.parse()?;
    let mut errors = Vec::new();
    let severity = match flag.severity.as_str() {
        "moderate" => Some(Severity::Moderate),
        "high" => Some(Severity::High),
        _ => {
            errors.push(FieldError::new("severity", "must be moderate or high"));
            None
        }
    };
    if flag.summary.trim().is_empty() {
        errors.push(FieldError::new("summary", "is required"));
    }
    let (Some(severity), true) = (severity, errors.is_empty()) else {
        return Err(AppError::Invalid(errors).into());
    };
    let flag_id = state
        .store
        .raise_manual_flag(&grant, severity, &flag.summary)
        .await?;
    Ok(CreatedAt(
        format!("/api/v1/patients/{id}/flags"),
        Created { id: flag_id },
    ))
}
