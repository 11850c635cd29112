//! The job queue: background work that must run exactly once however many servers share the
//! database. A job is a row; a server claims the oldest due one under a lease (PostgreSQL's
//! `FOR UPDATE SKIP LOCKED` lets servers claim different jobs without waiting on each other;
//! SQLite's single writer does the same by serialising), runs it, and marks it done. A job whose
//! lease ran out (its server died) is claimed again; a failing one is retried with back-off.

mod consent_expiry;
mod housekeeping;

pub use consent_expiry::{CONSENT_EXPIRY, EXPIRY_NOTICE_DAYS};
pub use housekeeping::HOUSEKEEPING;

use chrono::Duration;
use sqlx::FromRow;

use crate::{Engine, Instant, Result, Store, StoreError};

/// How long a claimed job is held before another server may take it over.
pub const LEASE: Duration = Duration::minutes(5);
/// Attempts before a failing job is given up (status `failed`).
pub const MAX_ATTEMPTS: i64 = 5;

/// A job to schedule.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// What to do (one of the kinds [`Store::run_job`] knows).
    pub kind: String,
    /// Scheduling the same key again (from any server) adds nothing.
    pub unique_key: Option<String>,
    /// Kind-specific input (JSON); never patient data.
    pub payload: String,
    /// Not before.
    pub run_at: Instant,
}

/// A claimed job.
#[derive(Debug, Clone, FromRow, PartialEq, Eq)]
pub struct Job {
    /// Id.
    pub id: i64,
    /// Kind.
    pub kind: String,
    /// Input.
    pub payload: String,
    /// Attempts so far, this one included.
    pub attempts: i64,
}

impl Store {
    /// Schedules a job; returns false if one with the same unique key already exists.
    pub async fn schedule_job(&self, job: &NewJob) -> Result<bool> {
        if job.kind.trim().is_empty() {
            return Err(StoreError::invalid("kind", "a job needs a kind"));
        }
        let done = sqlx::query(
            "INSERT INTO jobs (kind, unique_key, payload, run_at, status, attempts, created_at)
             VALUES ($1, $2, $3, $4, 'queued', 0, $5)
             ON CONFLICT (unique_key) DO NOTHING",
        )
        .bind(&job.kind)
        .bind(&job.unique_key)
        .bind(&job.payload)
        .bind(job.run_at)
        .bind(Instant::now())
        .execute(self.writer())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Claims the oldest due job for `worker` (queued, or running under a lapsed lease).
    pub async fn claim_job(&self, worker: &str) -> Result<Option<Job>> {
        let now = Instant::now();
        let lock = match self.engine() {
            Engine::Postgres => "FOR UPDATE SKIP LOCKED",
            Engine::Sqlite => "",
        };
        let sql = format!(
            "UPDATE jobs SET status = 'running', locked_by = $1, locked_until = $2,
                 attempts = attempts + 1
             WHERE id = (SELECT id FROM jobs
                         WHERE (status = 'queued' AND run_at <= $3)
                            OR (status = 'running' AND locked_until < $3)
                         ORDER BY run_at, id LIMIT 1 {lock})
             RETURNING id, kind, payload, attempts"
        );
        Ok(sqlx::query_as(&sql)
            .bind(worker)
            .bind(Instant(now.0 + LEASE))
            .bind(now)
            .fetch_optional(self.writer())
            .await?)
    }

    /// Marks a claimed job done with a short, non-identifying result. False if the lease was
    /// lost (another server took the job over).
    pub async fn finish_job(&self, job: &Job, worker: &str, result: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE jobs SET status = 'done', finished_at = $3, result = $4, locked_until = NULL
             WHERE id = $1 AND locked_by = $2 AND status = 'running'",
        )
        .bind(job.id)
        .bind(worker)
        .bind(Instant::now())
        .bind(result)
        .execute(self.writer())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records a failed attempt: retried later with back-off, or given up after
    /// [`MAX_ATTEMPTS`].
    pub async fn fail_job(&self, job: &Job, worker: &str, error: &str) -> Result<()> {
        let give_up = job.attempts >= MAX_ATTEMPTS;
        let retry_at = Instant(Instant::now().0 + Duration::seconds(30 * job.attempts.pow(2)));
        sqlx::query(
            "UPDATE jobs SET status = $3, run_at = $4, result = $5, locked_until = NULL
             WHERE id = $1 AND locked_by = $2 AND status = 'running'",
        )
        .bind(job.id)
        .bind(worker)
        .bind(if give_up { "failed" } else { "queued" })
        .bind(retry_at)
        .bind(error)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// Runs a claimed job's work and returns its result text.
    pub async fn run_job(&self, job: &Job) -> Result<String> {
        match job.kind.as_str() {
            HOUSEKEEPING => self.housekeeping().await,
            CONSENT_EXPIRY => self.consent_expiry_check().await,
            other => Err(StoreError::Conflict(format!("unknown job kind {other:?}"))),
        }
    }

    /// Claims and runs one due job; returns whether there was one.
    pub async fn work_one(&self, worker: &str) -> Result<bool> {
        let Some(job) = self.claim_job(worker).await? else {
            return Ok(false);
        };
        match self.run_job(&job).await {
            Ok(result) => {
                if !self.finish_job(&job, worker, &result).await? {
                    tracing::warn!(job = job.id, "job lease lapsed before it finished");
                }
            }
            Err(e) => {
                tracing::error!(job = job.id, kind = %job.kind, error = %e, "job failed");
                self.fail_job(&job, worker, &e.to_string()).await?;
            }
        }
        Ok(true)
    }

    /// Schedules the recurring jobs due now (idempotent: every server may call it).
    pub async fn schedule_recurring(&self) -> Result<()> {
        let now = Instant::now();
        // One housekeeping run per clock hour, whichever server schedules it first.
        let hour = now.0.format("%Y-%m-%dT%H").to_string();
        self.schedule_job(&NewJob {
            kind: HOUSEKEEPING.into(),
            unique_key: Some(format!("{HOUSEKEEPING}:{hour}")),
            payload: "{}".into(),
            run_at: now,
        })
        .await?;
        // One consent-expiry check per UTC day, likewise.
        let day = now.0.format("%Y-%m-%d").to_string();
        self.schedule_job(&NewJob {
            kind: CONSENT_EXPIRY.into(),
            unique_key: Some(format!("{CONSENT_EXPIRY}:{day}")),
            payload: "{}".into(),
            run_at: now,
        })
        .await?;
        Ok(())
    }

    /// Jobs by status, for monitoring: (status, count).
    pub async fn job_counts(&self) -> Result<Vec<(String, i64)>> {
        Ok(
            sqlx::query_as("SELECT status, COUNT(*) FROM jobs GROUP BY status ORDER BY status")
                .fetch_all(&mut *self.read_conn().await?)
                .await?,
        )
    }
}
