//! The patient notice (42 CFR 2.22): given on a day, in a version, acknowledged in writing or
//! refused. Admission opens a task when the patient has none on file, and recording the notice
//! completes it.

use chrono::{NaiveDate, Utc};
use serde::Serialize;
use sqlx::{Any, Transaction};
use trellis_domain::access::Role;
use trellis_domain::consent::{NoticeAcknowledgment, PATIENT_NOTICE_VERSION};
use trellis_domain::patient::FieldError;

use crate::access::{can, Actor, PatientGrant};
use crate::audit::{self, AuditEvent};
use crate::tasks::{open_task, NewTask};
use crate::{parse_code, Day, Instant, Result, Store, StoreError};

/// The task kind admission opens when no notice is on file.
pub const NOTICE_TASK_KIND: &str = "patient_notice";

/// A notice given, as recorded.
#[derive(Debug, Clone, Serialize)]
pub struct NoticeRecord {
    /// Id.
    pub id: i64,
    /// The day it was given.
    pub given_on: NaiveDate,
    /// The notice's version.
    pub version: String,
    /// Acknowledged or refused.
    pub acknowledgment: NoticeAcknowledgment,
    /// When it was recorded.
    pub recorded_at: Instant,
    /// Who recorded it.
    pub recorded_by: String,
}

/// Opens the "give the patient notice" task on admission when the patient has none on file,
/// inside the admission's transaction. It goes to the intake coordinators, who do the admission
/// paperwork, so it never crowds a clinician's safety tasks.
pub(crate) async fn task_if_no_notice(
    store: &Store,
    tx: &mut Transaction<'static, Any>,
    actor: &Actor,
    patient_id: i64,
    admitted_on: NaiveDate,
) -> Result<()> {
    let given: Option<i64> =
        sqlx::query_scalar("SELECT id FROM patient_notices WHERE patient_id = $1 LIMIT 1")
            .bind(patient_id)
            .fetch_optional(&mut **tx)
            .await?;
    if given.is_some() {
        return Ok(());
    }
    open_task(
        store,
        tx,
        actor,
        &NewTask {
            patient_id: Some(patient_id),
            flag_id: None,
            kind: NOTICE_TASK_KIND,
            title: "Give the patient the Part 2 notice and record the acknowledgment (42 CFR 2.22)",
            priority: "routine",
            assigned_to: None,
            assigned_role: Some(Role::Intake),
            due_on: Some(Day(admitted_on)),
        },
    )
    .await?;
    Ok(())
}

impl Store {
    /// Records that the patient was given the §2.22 notice, and whether they acknowledged it
    /// (audited); completes the admission's notice task.
    pub async fn record_patient_notice(
        &self,
        grant: &PatientGrant<can::ManageConsents>,
        given_on: Option<NaiveDate>,
        acknowledgment: NoticeAcknowledgment,
    ) -> Result<i64> {
        let by = grant.actor().staff_id()?;
        let patient_id = grant.patient_id();
        let zone = self.patient_zone(patient_id).await?;
        let today = Utc::now().with_timezone(&zone).date_naive();
        let given_on = match given_on {
            None => return Err(StoreError::invalid("given_on", "is required")),
            Some(day) if day > today => {
                return Err(StoreError::Invalid(vec![FieldError::new(
                    "given_on",
                    "cannot be in the future",
                )]))
            }
            Some(day) => day,
        };
        let now = Instant::now();
        let mut tx = self.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO patient_notices (patient_id, given_on, version, acknowledgment,
                 recorded_at, recorded_by)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(patient_id)
        .bind(Day(given_on))
        .bind(PATIENT_NOTICE_VERSION)
        .bind(acknowledgment.code())
        .bind(now)
        .bind(by)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE tasks SET completed_at = $1, completed_by = $2
             WHERE patient_id = $3 AND kind = $4 AND completed_at IS NULL",
        )
        .bind(now)
        .bind(by)
        .bind(patient_id)
        .bind(NOTICE_TASK_KIND)
        .execute(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "create",
                record_type: "patient_notice",
                record_id: Some(id),
                patient_id: Some(patient_id),
                detail: acknowledgment.code().to_owned(),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The notices given to the patient, newest first (audited).
    pub async fn patient_notices(
        &self,
        grant: &PatientGrant<can::ManageConsents>,
    ) -> Result<Vec<NoticeRecord>> {
        let rows: Vec<(i64, Day, String, String, Instant, String)> = sqlx::query_as(
            "SELECT n.id, n.given_on, n.version, n.acknowledgment, n.recorded_at, u.display_name
             FROM patient_notices n JOIN users u ON u.id = n.recorded_by
             WHERE n.patient_id = $1 ORDER BY n.given_on DESC, n.id DESC",
        )
        .bind(grant.patient_id())
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        audit::record(
            self,
            grant.actor(),
            AuditEvent {
                action: "read",
                record_type: "patient_notice",
                record_id: None,
                patient_id: Some(grant.patient_id()),
                detail: format!("{} notices", rows.len()),
            },
        )
        .await?;
        rows.into_iter()
            .map(|(id, given_on, version, ack, recorded_at, recorded_by)| {
                Ok(NoticeRecord {
                    id,
                    given_on: given_on.0,
                    version,
                    acknowledgment: parse_code(&ack, "notice acknowledgment")?,
                    recorded_at,
                    recorded_by,
                })
            })
            .collect()
    }
}
