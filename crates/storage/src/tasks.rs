//! Safety flags and tasks. A safety signal is never silently lost: raising a flag opens tasks
//! (for the primary counselor, and the clinical directors when the risk is high) that stay open
//! until someone records the response; completing the flag's task resolves the flag.

use serde::Serialize;
use sqlx::{Any, FromRow, Transaction};
use trellis_domain::access::Role;
use trellis_domain::schedule::zone::SiteZone;

use crate::access::{can, Actor, Grant, PatientGrant};
use crate::audit::{self, AuditEvent};
use crate::{parse_code, Day, Instant, Result, Store, StoreError};

/// How urgent a flag is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Needs attention soon (e.g. C-SSRS moderate, an unexpected drug screen).
    Moderate,
    /// Needs attention today; the clinical directors are told too.
    High,
}

impl Severity {
    /// The stored code.
    pub fn code(self) -> &'static str {
        match self {
            Severity::Moderate => "moderate",
            Severity::High => "high",
        }
    }

    fn priority(self) -> &'static str {
        match self {
            Severity::Moderate => "high",
            Severity::High => "urgent",
        }
    }
}

/// A task as listed.
#[derive(Debug, Clone, FromRow, Serialize, PartialEq)]
pub struct Task {
    /// Id.
    pub id: i64,
    /// Patient, if the task is about one.
    pub patient_id: Option<i64>,
    /// The patient's display name.
    pub patient_name: Option<String>,
    /// The flag the task answers, if any.
    pub flag_id: Option<i64>,
    /// Kind, e.g. "safety_flag", "outreach", "privacy_review".
    pub kind: String,
    /// What to do.
    pub title: String,
    /// "routine", "high" or "urgent".
    pub priority: String,
    /// Assigned person.
    pub assigned_to: Option<i64>,
    /// Or assigned role.
    pub assigned_role: Option<String>,
    /// Due date.
    pub due_on: Option<Day>,
    /// Opened at.
    pub created_at: Instant,
    /// Done at.
    pub completed_at: Option<Instant>,
    /// What was done.
    pub outcome: Option<String>,
}

/// A task to open.
#[derive(Debug, Clone)]
pub struct NewTask<'a> {
    /// Patient, if any.
    pub patient_id: Option<i64>,
    /// The flag it answers, if any.
    pub flag_id: Option<i64>,
    /// Kind.
    pub kind: &'a str,
    /// What to do (no more patient detail than the assignee needs).
    pub title: &'a str,
    /// "routine", "high" or "urgent".
    pub priority: &'a str,
    /// A person.
    pub assigned_to: Option<i64>,
    /// Or everyone in a role.
    pub assigned_role: Option<Role>,
    /// Due date.
    pub due_on: Option<Day>,
}

impl crate::patients::NamesPatient for Task {
    fn named_patient(&self) -> Option<i64> {
        self.patient_id
    }
    fn set_patient_name(&mut self, name: String) {
        self.patient_name = Some(name);
    }
}

pub(crate) const TASK_SELECT: &str = "SELECT t.id, t.patient_id,
    CAST(NULL AS TEXT) AS patient_name,
    t.flag_id, t.kind, t.title, t.priority, t.assigned_to, t.assigned_role, t.due_on, t.created_at,
    t.completed_at, t.outcome
    FROM tasks t LEFT JOIN patients p ON p.id = t.patient_id";

/// What completing a task may record; outcomes are clinical text, encrypted at rest.
const OUTCOME_COLUMN: &str = "tasks.outcome";

/// A task's title names what happened ("Respond to flag: positive fentanyl screen"), so it is
/// sealed like clinical text.
pub(crate) const TITLE_COLUMN: &str = "tasks.title";

/// A flag's summary is the clinical reason for it, sealed like clinical text.
pub(crate) const SUMMARY_COLUMN: &str = "patient_flags.summary";

impl Store {
    /// Decrypts the titles of the tasks about to be shown (only those: lists page in SQL first).
    pub(crate) fn open_task_titles(&self, tasks: &mut [Task]) -> Result<()> {
        for task in tasks {
            task.title = self.open(TITLE_COLUMN, &task.title)?;
        }
        Ok(())
    }
}

/// Opens a task inside the caller's transaction (audited); its title is sealed.
pub(crate) async fn open_task(
    store: &Store,
    tx: &mut Transaction<'static, Any>,
    actor: &Actor,
    task: &NewTask<'_>,
) -> Result<i64> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO tasks (patient_id, flag_id, kind, title, priority, assigned_to, assigned_role,
             due_on, created_at, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(task.patient_id)
    .bind(task.flag_id)
    .bind(task.kind)
    .bind(store.seal(TITLE_COLUMN, task.title)?)
    .bind(task.priority)
    .bind(task.assigned_to)
    .bind(task.assigned_role.map(Role::code))
    .bind(task.due_on)
    .bind(Instant::now())
    .bind(actor.user_id)
    .fetch_one(&mut **tx)
    .await?;
    audit::append(
        tx,
        actor,
        AuditEvent {
            action: "create",
            record_type: "task",
            record_id: Some(id),
            patient_id: task.patient_id,
            detail: task.kind.to_owned(),
        },
    )
    .await?;
    Ok(id)
}

/// Raises a flag on the chart and opens its tasks, inside the caller's transaction: one for the
/// primary counselor of the open episode (the clinical directors if there is none) and, for high
/// risk, one for the clinical directors as well. Returns the flag id.
pub(crate) async fn raise_flag(
    store: &Store,
    tx: &mut Transaction<'static, Any>,
    actor: &Actor,
    patient_id: i64,
    kind: &str,
    severity: Severity,
    summary: &str,
) -> Result<i64> {
    let flag_id: i64 = sqlx::query_scalar(
        "INSERT INTO patient_flags (patient_id, kind, severity, summary, raised_at, raised_by)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(patient_id)
    .bind(kind)
    .bind(severity.code())
    .bind(store.seal(SUMMARY_COLUMN, summary)?)
    .bind(Instant::now())
    .bind(actor.user_id)
    .fetch_one(&mut **tx)
    .await?;
    audit::append(
        tx,
        actor,
        AuditEvent {
            action: "raise_flag",
            record_type: "patient_flag",
            record_id: Some(flag_id),
            patient_id: Some(patient_id),
            detail: format!("{kind} {}", severity.code()),
        },
    )
    .await?;
    let counselor: Option<Option<i64>> = sqlx::query_scalar(
        "SELECT primary_counselor_id FROM episodes WHERE patient_id = $1 AND status = 'open'",
    )
    .bind(patient_id)
    .fetch_optional(&mut **tx)
    .await?;
    let title = format!("Respond to flag: {summary}");
    let today = patient_today(tx, patient_id).await?;
    let base = NewTask {
        patient_id: Some(patient_id),
        flag_id: Some(flag_id),
        kind: "safety_flag",
        title: &title,
        priority: severity.priority(),
        assigned_to: None,
        assigned_role: None,
        due_on: Some(today),
    };
    match counselor.flatten() {
        Some(counselor) => {
            open_task(
                store,
                tx,
                actor,
                &NewTask {
                    assigned_to: Some(counselor),
                    ..base.clone()
                },
            )
            .await?;
            if severity == Severity::High {
                open_task(
                    store,
                    tx,
                    actor,
                    &NewTask {
                        assigned_role: Some(Role::ClinicalDirector),
                        ..base
                    },
                )
                .await?;
            }
        }
        None => {
            open_task(
                store,
                tx,
                actor,
                &NewTask {
                    assigned_role: Some(Role::ClinicalDirector),
                    ..base
                },
            )
            .await?;
        }
    }
    Ok(flag_id)
}

impl Store {
    /// A clinician's manual flag on a patient, with its tasks.
    pub async fn raise_manual_flag(
        &self,
        grant: &PatientGrant<can::WriteClinical>,
        severity: Severity,
        summary: &str,
    ) -> Result<i64> {
        let summary = summary.trim();
        if summary.is_empty() || summary.chars().count() > 200 {
            return Err(StoreError::invalid(
                "summary",
                "is required (at most 200 characters)",
            ));
        }
        let mut tx = self.begin().await?;
        let id = raise_flag(
            self,
            &mut tx,
            grant.actor(),
            grant.patient_id(),
            "manual",
            severity,
            summary,
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Open tasks for the actor: assigned to them or to their role, for patients in their view.
    pub async fn my_tasks(&self, grant: &Grant<can::ReadDemographics>) -> Result<Vec<Task>> {
        let actor = grant.actor();
        let scope = crate::access::patient_scope_sql(actor.role, "$1");
        let mut reader = self.read_conn().await?;
        let mut tx = sqlx::Connection::begin(&mut *reader).await?;
        let mut rows: Vec<Task> = sqlx::query_as(&format!(
            "{TASK_SELECT} WHERE t.completed_at IS NULL
               AND (t.assigned_to = $1 OR t.assigned_role = $2)
               AND (t.patient_id IS NULL OR {scope})
             ORDER BY t.priority = 'urgent' DESC, t.priority = 'high' DESC, t.due_on, t.id"
        ))
        .bind(actor.user_id.unwrap_or(0))
        .bind(actor.role.code())
        .fetch_all(&mut *tx)
        .await?;
        self.fill_patient_names(&mut tx, &mut rows).await?;
        self.open_task_titles(&mut rows)?;
        let shown: Vec<i64> = rows.iter().filter_map(|r| r.patient_id).collect();
        audit::record_shown(
            self,
            actor,
            AuditEvent {
                action: "search",
                record_type: "task",
                record_id: None,
                patient_id: None,
                detail: format!("{} results", rows.len()),
            },
            &shown,
        )
        .await?;
        tx.commit().await?;
        Ok(rows)
    }

    /// A patient's tasks, open first (audited); outcomes decrypted.
    pub async fn patient_tasks(
        &self,
        grant: &PatientGrant<can::ReadClinical>,
    ) -> Result<Vec<Task>> {
        let mut reader = self.read_conn().await?;
        let mut tx = sqlx::Connection::begin(&mut *reader).await?;
        audit::record(
            self,
            grant.actor(),
            AuditEvent {
                action: "read",
                record_type: "task",
                record_id: None,
                patient_id: Some(grant.patient_id()),
                detail: String::new(),
            },
        )
        .await?;
        let mut rows: Vec<Task> = sqlx::query_as(&format!(
            "{TASK_SELECT} WHERE t.patient_id = $1 ORDER BY t.completed_at IS NOT NULL, t.id DESC"
        ))
        .bind(grant.patient_id())
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        self.fill_patient_names(&mut *self.read_conn().await?, &mut rows)
            .await?;
        self.open_task_titles(&mut rows)?;
        for row in &mut rows {
            row.outcome = row
                .outcome
                .as_deref()
                .map(|o| self.open(OUTCOME_COLUMN, o))
                .transpose()?;
        }
        Ok(rows)
    }

    /// Completes a task with what was done. Only its assignee, someone in its role, or a
    /// clinical director may; completing a flag's task resolves the flag.
    pub async fn complete_task(&self, actor: &Actor, task_id: i64, outcome: &str) -> Result<()> {
        #[derive(FromRow)]
        struct TaskState {
            kind: String,
            patient_id: Option<i64>,
            flag_id: Option<i64>,
            assigned_to: Option<i64>,
            assigned_role: Option<String>,
            completed_at: Option<Instant>,
        }
        let task: TaskState = sqlx::query_as(
            "SELECT kind, patient_id, flag_id, assigned_to, assigned_role, completed_at FROM tasks WHERE id = $1",
        )
        .bind(task_id)
        .fetch_optional(&mut *self.read_conn().await?)
        .await?
        .ok_or(StoreError::NotFound("task"))?;
        // Who may comes before what they wrote: a caller without the right learns nothing more.
        if let Some(patient_id) = task.patient_id {
            self.patient_grant::<can::ReadDemographics>(actor, patient_id)
                .await?;
        }
        let allowed = (task.assigned_to.is_some() && task.assigned_to == actor.user_id)
            || task.assigned_role.as_deref() == Some(actor.role.code())
            || actor.role == Role::ClinicalDirector;
        if !allowed {
            return Err(StoreError::Denied(
                "this task is assigned to someone else".into(),
            ));
        }
        if task.completed_at.is_some() {
            return Err(StoreError::Conflict("this task is already done".into()));
        }
        if task.kind == crate::discharge::FOLLOW_UP_TASK_KIND {
            // Its outcome feeds outcome reporting, so it is recorded on the follow-up form.
            return Err(StoreError::Conflict(
                "record this follow-up's outcome on the patient's discharge page".into(),
            ));
        }
        let outcome = outcome.trim();
        if outcome.is_empty() || outcome.chars().count() > 2000 {
            return Err(StoreError::invalid(
                "outcome",
                "say what was done (at most 2000 characters)",
            ));
        }
        let (patient_id, flag_id) = (task.patient_id, task.flag_id);
        let now = Instant::now();
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE tasks SET completed_at = $2, completed_by = $3, outcome = $4 WHERE id = $1",
        )
        .bind(task_id)
        .bind(now)
        .bind(actor.user_id)
        .bind(self.seal(OUTCOME_COLUMN, outcome)?)
        .execute(&mut *tx)
        .await?;
        if let Some(flag_id) = flag_id {
            // The response is recorded once: the flag closes, and so do its sibling tasks.
            sqlx::query(
                "UPDATE patient_flags SET resolved_at = $2, resolved_by = $3, resolution = $4
                 WHERE id = $1 AND resolved_at IS NULL",
            )
            .bind(flag_id)
            .bind(now)
            .bind(actor.user_id)
            .bind(format!("task {task_id}"))
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE tasks SET completed_at = $2, completed_by = $3, outcome = $4
                 WHERE flag_id = $1 AND completed_at IS NULL",
            )
            .bind(flag_id)
            .bind(now)
            .bind(actor.user_id)
            .bind(self.seal(OUTCOME_COLUMN, &format!("Answered in task {task_id}"))?)
            .execute(&mut *tx)
            .await?;
        }
        audit::append(
            &mut tx,
            actor,
            AuditEvent {
                action: "complete",
                record_type: "task",
                record_id: Some(task_id),
                patient_id,
                detail: flag_id
                    .map(|f| format!("resolves flag {f}"))
                    .unwrap_or_default(),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Today on the calendar of the patient's site, so a task raised in the evening is due today
/// there, not on tomorrow's UTC date.
pub(crate) async fn patient_today(tx: &mut Transaction<'_, Any>, patient_id: i64) -> Result<Day> {
    let zone: String = sqlx::query_scalar(
        "SELECT s.timezone FROM patients p JOIN sites s ON s.id = p.site_id WHERE p.id = $1",
    )
    .bind(patient_id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(StoreError::NotFound("patient"))?;
    let zone: chrono_tz::Tz = parse_code(&zone, "time zone")?;
    Ok(Day(SiteZone::from(zone).local_date(chrono::Utc::now())))
}
