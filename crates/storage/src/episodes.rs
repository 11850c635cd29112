//! Episodes of care: admission, level-of-care changes (each with date, reason and who decided),
//! discharge with a TEDS reason. A patient may have many episodes over the years, one open at a time.

use chrono::{Duration, NaiveDate};
use serde::Serialize;
use sqlx::FromRow;
use trellis_domain::care::{DischargeReason, EpisodeStatus, LevelOfCare};

use crate::access::{can, patient_scope_sql, Grant, PatientGrant};
use crate::audit::{self, AuditEvent};
use crate::{parse_code, Day, Flag, Instant, Result, Store, StoreError};

/// An episode of care as shown on the chart.
#[derive(Debug, Clone, FromRow, Serialize, PartialEq)]
pub struct Episode {
    /// Id.
    pub id: i64,
    /// Patient.
    pub patient_id: i64,
    /// Program.
    pub program_id: i64,
    /// Program name.
    pub program_name: String,
    /// Site.
    pub site_id: i64,
    /// Site name.
    pub site_name: String,
    /// "open" or "discharged".
    pub status: String,
    /// Admission date.
    pub admitted_on: Day,
    /// Who referred the patient.
    pub referral_source: String,
    /// Primary counselor.
    pub primary_counselor_id: Option<i64>,
    /// Primary counselor's name.
    pub primary_counselor_name: Option<String>,
    /// Current ASAM level code.
    pub current_level: String,
    /// Discharge date.
    pub discharged_on: Option<Day>,
    /// TEDS discharge reason code.
    pub discharge_reason: Option<i64>,
    /// Discharge note (administrative, not clinical narrative).
    pub discharge_note: Option<String>,
}

impl Episode {
    /// Where the episode stands on a given day.
    pub fn status_on(&self, today: NaiveDate) -> EpisodeStatus {
        if self.status == "discharged" {
            EpisodeStatus::Discharged
        } else if self.admitted_on.0 > today {
            EpisodeStatus::Pending
        } else {
            EpisodeStatus::Active
        }
    }

    /// The current level of care.
    pub fn level(&self) -> Result<LevelOfCare> {
        parse_code(&self.current_level, "level of care")
    }

    /// The discharge reason, if discharged.
    pub fn reason(&self) -> Option<DischargeReason> {
        self.discharge_reason
            .and_then(|c| DischargeReason::from_teds_code(c).ok())
    }

    /// Whether the episode is still open.
    pub fn is_open(&self) -> bool {
        self.status == "open"
    }
}

/// One entry of the level-of-care history.
#[derive(Debug, Clone, FromRow, Serialize, PartialEq)]
pub struct LevelChange {
    /// Id.
    pub id: i64,
    /// Episode.
    pub episode_id: i64,
    /// ASAM level code.
    pub level: String,
    /// From when.
    pub effective_on: Day,
    /// Why: the clinician's reasoning, clinical text. `None` unless read with a clinical grant.
    pub reason: Option<String>,
    /// Who decided (staff id).
    pub decided_by: i64,
    /// Who decided (name).
    pub decided_by_name: String,
    /// When it was recorded.
    pub recorded_at: Instant,
}

/// An admission to record.
#[derive(Debug, Clone)]
pub struct Admission {
    /// Program admitted to.
    pub program_id: i64,
    /// Admission date (a future date makes the episode pending).
    pub admitted_on: NaiveDate,
    /// Who referred the patient.
    pub referral_source: String,
    /// Primary counselor.
    pub primary_counselor_id: Option<i64>,
    /// Initial level of care.
    pub level: LevelOfCare,
    /// Why this level (e.g. "ASAM assessment: dimensions 3 and 5 at 2").
    pub reason: String,
}

/// Level-of-care reasons are clinical judgement: encrypted at rest.
const REASON_COLUMN: &str = "level_of_care_changes.reason";
/// Discharge notes may carry clinical detail: encrypted at rest.
const NOTE_COLUMN: &str = "episodes.discharge_note";

/// Standard referral sources (TEDS PSOURCE categories, in the clinic's words).
pub const REFERRAL_SOURCES: [&str; 8] = [
    "Self or family",
    "Alcohol/drug use care provider",
    "Other health care provider",
    "School",
    "Employer or EAP",
    "Other community referral",
    "Court or criminal justice",
    "Step-down from higher level of care",
];

const EPISODE_SELECT: &str = "SELECT e.id, e.patient_id, e.program_id, pr.name AS program_name,
    e.site_id, s.name AS site_name, e.status, e.admitted_on, e.referral_source,
    e.primary_counselor_id, u.display_name AS primary_counselor_name, e.current_level,
    e.discharged_on, e.discharge_reason, e.discharge_note
    FROM episodes e
    JOIN programs pr ON pr.id = e.program_id
    JOIN sites s ON s.id = e.site_id
    LEFT JOIN users u ON u.id = e.primary_counselor_id";

/// Trellis runs outpatient programs: residential or inpatient care is a transfer (discharge with
/// TEDS reason 4), not a level within the episode.
fn ambulatory(level: LevelOfCare) -> Result<()> {
    if level.is_ambulatory() {
        Ok(())
    } else {
        Err(StoreError::invalid(
            "level",
            format!(
                "{} is residential or inpatient care: discharge with the reason \"Transferred\" instead",
                level.code()
            ),
        ))
    }
}

fn required_text(field: &'static str, value: &str, max: usize) -> Result<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(StoreError::invalid(field, "is required"));
    }
    if v.chars().count() > max {
        return Err(StoreError::invalid(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(v.to_owned())
}

impl Store {
    /// The patient's episodes, newest first (audited).
    pub async fn episodes(&self, grant: &PatientGrant<can::ReadEpisodes>) -> Result<Vec<Episode>> {
        let mut reader = self.read_conn().await?;
        let mut tx = sqlx::Connection::begin(&mut *reader).await?;
        audit::record(
            self,
            grant.actor(),
            AuditEvent {
                action: "read",
                record_type: "episode",
                record_id: None,
                patient_id: Some(grant.patient_id()),
                detail: "episode list".into(),
            },
        )
        .await?;
        let mut rows: Vec<Episode> = sqlx::query_as(&format!(
            "{EPISODE_SELECT} WHERE e.patient_id = $1 ORDER BY e.admitted_on DESC, e.id DESC"
        ))
        .bind(grant.patient_id())
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        for row in &mut rows {
            row.discharge_note = row
                .discharge_note
                .as_deref()
                .map(|n| self.open(NOTE_COLUMN, n))
                .transpose()?;
        }
        Ok(rows)
    }

    /// The level-of-care history of one of the patient's episodes, oldest first (audited).
    ///
    /// The reasons are clinicians' free text (minimum necessary): they are read and decrypted only
    /// when the caller also holds a clinical grant for the patient; otherwise `reason` is `None`.
    pub async fn level_history(
        &self,
        grant: &PatientGrant<can::ReadEpisodes>,
        clinical: Option<&PatientGrant<can::ReadClinical>>,
        episode_id: i64,
    ) -> Result<Vec<LevelChange>> {
        let with_reasons = clinical.is_some_and(|c| c.patient_id() == grant.patient_id());
        let mut reader = self.read_conn().await?;
        let mut tx = sqlx::Connection::begin(&mut *reader).await?;
        audit::record(
            self,
            grant.actor(),
            AuditEvent {
                action: "read",
                record_type: "level_of_care_history",
                record_id: Some(episode_id),
                patient_id: Some(grant.patient_id()),
                detail: if with_reasons {
                    "with reasons".into()
                } else {
                    String::new()
                },
            },
        )
        .await?;
        let mut rows: Vec<LevelChange> = sqlx::query_as(
            "SELECT c.id, c.episode_id, c.level, c.effective_on,
                 CASE WHEN $3 = 1 THEN c.reason END AS reason, c.decided_by,
                 u.display_name AS decided_by_name, c.recorded_at
             FROM level_of_care_changes c
             JOIN episodes e ON e.id = c.episode_id
             JOIN users u ON u.id = c.decided_by
             WHERE c.episode_id = $1 AND e.patient_id = $2
             ORDER BY c.effective_on, c.id",
        )
        .bind(episode_id)
        .bind(grant.patient_id())
        .bind(i64::from(with_reasons))
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        for row in &mut rows {
            row.reason = row
                .reason
                .as_deref()
                .map(|r| self.open(REASON_COLUMN, r))
                .transpose()?;
        }
        Ok(rows)
    }

    /// Which patient an episode belongs to (ids only, for the access check before a grant).
    pub async fn episode_patient_id(&self, episode_id: i64) -> Result<i64> {
        sqlx::query_scalar("SELECT patient_id FROM episodes WHERE id = $1")
            .bind(episode_id)
            .fetch_optional(&mut *self.read_conn().await?)
            .await?
            .ok_or(StoreError::NotFound("episode"))
    }

    /// Admits the patient: opens an episode with its initial level of care.
    pub async fn admit(
        &self,
        grant: &PatientGrant<can::AdmitEpisode>,
        admission: &Admission,
        today: NaiveDate,
    ) -> Result<i64> {
        let staff_id = grant.actor().staff_id()?;
        ambulatory(admission.level)?;
        let referral = required_text("referral_source", &admission.referral_source, 200)?;
        let reason = required_text("reason", &admission.reason, 1000)?;
        if admission.admitted_on < today - Duration::days(366) {
            return Err(StoreError::invalid(
                "admitted_on",
                "cannot be more than a year ago",
            ));
        }
        if admission.admitted_on > today + Duration::days(90) {
            return Err(StoreError::invalid(
                "admitted_on",
                "cannot be more than 90 days ahead",
            ));
        }
        let program = self
            .program(admission.program_id)
            .await
            .map_err(|_| StoreError::invalid("program_id", "is not a known program"))?;
        if !program.active {
            return Err(StoreError::invalid(
                "program_id",
                "this program is not admitting",
            ));
        }
        if let Some(counselor) = admission.primary_counselor_id {
            let role: Option<(String, Flag)> =
                sqlx::query_as("SELECT role, active FROM users WHERE id = $1")
                    .bind(counselor)
                    .fetch_optional(&mut *self.read_conn().await?)
                    .await?;
            match role {
                Some((role, Flag(true)))
                    if matches!(role.as_str(), "counselor" | "clinical_director") => {}
                _ => {
                    return Err(StoreError::invalid(
                        "primary_counselor_id",
                        "must be an active counselor or clinical director",
                    ))
                }
            }
        }
        let mut tx = self.begin().await?;
        let open: Option<i64> =
            sqlx::query_scalar("SELECT id FROM episodes WHERE patient_id = $1 AND status = 'open'")
                .bind(grant.patient_id())
                .fetch_optional(&mut *tx)
                .await?;
        if open.is_some() {
            return Err(StoreError::Conflict(
                "the patient already has an open episode; discharge it before a new admission"
                    .into(),
            ));
        }
        let now = Instant::now();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO episodes (patient_id, program_id, site_id, status, admitted_on,
                 referral_source, primary_counselor_id, current_level, created_at, created_by)
             VALUES ($1, $2, $3, 'open', $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(grant.patient_id())
        .bind(program.id)
        .bind(program.site_id)
        .bind(Day(admission.admitted_on))
        .bind(&referral)
        .bind(admission.primary_counselor_id)
        .bind(admission.level.code())
        .bind(now)
        .bind(staff_id)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO level_of_care_changes (episode_id, level, effective_on, reason, decided_by,
                 recorded_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(admission.level.code())
        .bind(Day(admission.admitted_on))
        .bind(self.seal(REASON_COLUMN, &reason)?)
        .bind(staff_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "admit",
                record_type: "episode",
                record_id: Some(id),
                patient_id: Some(grant.patient_id()),
                detail: format!("program {} level {}", program.id, admission.level.code()),
            },
        )
        .await?;
        crate::privacy::notices::task_if_no_notice(
            self,
            &mut tx,
            grant.actor(),
            grant.patient_id(),
            admission.admitted_on,
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn open_episode(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        patient_id: i64,
        episode_id: i64,
    ) -> Result<Episode> {
        let episode: Episode = sqlx::query_as(&format!(
            "{EPISODE_SELECT} WHERE e.id = $1 AND e.patient_id = $2"
        ))
        .bind(episode_id)
        .bind(patient_id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(StoreError::NotFound("episode"))?;
        if !episode.is_open() {
            return Err(StoreError::Conflict(
                "this episode is discharged and can no longer change".into(),
            ));
        }
        Ok(episode)
    }

    /// Records a change of level of care from a date, with the reason and who decided.
    pub async fn change_level(
        &self,
        grant: &PatientGrant<can::ChangeLevelOfCare>,
        episode_id: i64,
        level: LevelOfCare,
        effective_on: NaiveDate,
        reason: &str,
        today: NaiveDate,
    ) -> Result<()> {
        let staff_id = grant.actor().staff_id()?;
        ambulatory(level)?;
        let reason = required_text("reason", reason, 1000)?;
        let mut tx = self.begin().await?;
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "change_level",
                record_type: "episode",
                record_id: Some(episode_id),
                patient_id: Some(grant.patient_id()),
                detail: format!("to {}", level.code()),
            },
        )
        .await?;
        let episode = self
            .open_episode(&mut tx, grant.patient_id(), episode_id)
            .await?;
        if episode.current_level == level.code() {
            return Err(StoreError::invalid(
                "level",
                format!("the episode is already at level {}", level.code()),
            ));
        }
        let last: Option<Day> = sqlx::query_scalar(
            "SELECT MAX(effective_on) FROM level_of_care_changes WHERE episode_id = $1",
        )
        .bind(episode_id)
        .fetch_one(&mut *tx)
        .await?;
        let earliest = last.map_or(episode.admitted_on.0, |d| d.0);
        if effective_on < earliest {
            return Err(StoreError::invalid(
                "effective_on",
                format!("cannot be before the last change or admission ({earliest})"),
            ));
        }
        if effective_on > today + Duration::days(30) {
            return Err(StoreError::invalid(
                "effective_on",
                "cannot be more than 30 days ahead",
            ));
        }
        let now = Instant::now();
        sqlx::query(
            "INSERT INTO level_of_care_changes (episode_id, level, effective_on, reason, decided_by,
                 recorded_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(episode_id)
        .bind(level.code())
        .bind(Day(effective_on))
        .bind(self.seal(REASON_COLUMN, &reason)?)
        .bind(staff_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE episodes SET current_level = $2 WHERE id = $1")
            .bind(episode_id)
            .bind(level.code())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Discharges an open episode with a TEDS reason.
    pub async fn discharge(
        &self,
        grant: &PatientGrant<can::DischargeEpisode>,
        episode_id: i64,
        discharged_on: NaiveDate,
        reason: DischargeReason,
        note: Option<&str>,
        today: NaiveDate,
    ) -> Result<()> {
        let note = note.map(str::trim).filter(|n| !n.is_empty());
        if note.is_some_and(|n| n.chars().count() > 2000) {
            return Err(StoreError::invalid(
                "note",
                "must be at most 2000 characters",
            ));
        }
        let mut tx = self.begin().await?;
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "discharge",
                record_type: "episode",
                record_id: Some(episode_id),
                patient_id: Some(grant.patient_id()),
                detail: format!("TEDS reason {}", reason.teds_code()),
            },
        )
        .await?;
        let episode = self
            .open_episode(&mut tx, grant.patient_id(), episode_id)
            .await?;
        if discharged_on < episode.admitted_on.0 {
            return Err(StoreError::invalid(
                "discharged_on",
                "cannot be before the admission date",
            ));
        }
        if discharged_on > today {
            return Err(StoreError::invalid(
                "discharged_on",
                "cannot be in the future",
            ));
        }
        // The record must read in order: no discharge before a level of care already in effect.
        // A change scheduled for later does not hold a discharge back; it simply never starts.
        let last_change: Option<Day> = sqlx::query_scalar(
            "SELECT MAX(effective_on) FROM level_of_care_changes
             WHERE episode_id = $1 AND effective_on <= $2",
        )
        .bind(episode_id)
        .bind(Day(today))
        .fetch_one(&mut *tx)
        .await?;
        if let Some(last) = last_change.filter(|last| discharged_on < last.0) {
            return Err(StoreError::invalid(
                "discharged_on",
                format!(
                    "cannot be before the last level-of-care change, effective {}",
                    last.0
                ),
            ));
        }
        sqlx::query(
            "UPDATE episodes SET status = 'discharged', discharged_on = $2, discharge_reason = $3,
                 discharge_note = $4
             WHERE id = $1",
        )
        .bind(episode_id)
        .bind(Day(discharged_on))
        .bind(i64::from(reason.teds_code()))
        .bind(note.map(|n| self.seal(NOTE_COLUMN, n)).transpose()?)
        .execute(&mut *tx)
        .await?;
        // Outreach after discharge is part of the discharge, so its tasks cannot be forgotten.
        if reason != DischargeReason::Death {
            crate::discharge::schedule_follow_ups(
                self,
                &mut tx,
                grant.actor(),
                &episode,
                discharged_on,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Open episodes whose primary counselor is the actor: "my caseload" (audited as one list).
    pub async fn caseload(&self, grant: &Grant<can::ReadEpisodes>) -> Result<Vec<CaseloadEntry>> {
        let actor = grant.actor();
        let mut reader = self.read_conn().await?;
        let mut tx = sqlx::Connection::begin(&mut *reader).await?;
        let mut rows: Vec<CaseloadEntry> = sqlx::query_as(&format!(
            "{CASELOAD_SELECT} WHERE e.status = 'open' AND e.primary_counselor_id = $1"
        ))
        .bind(actor.user_id.unwrap_or(0))
        .fetch_all(&mut *tx)
        .await?;
        // Sorted by name after decrypting: one counselor's caseload is a few dozen rows.
        let names = self.fill_patient_names(&mut tx, &mut rows).await?;
        rows.sort_by_cached_key(|r| names.order(r.patient_id));
        let shown: Vec<i64> = rows.iter().map(|r| r.patient_id).collect();
        audit::record_shown(
            self,
            actor,
            AuditEvent {
                action: "search",
                record_type: "caseload",
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

    /// Admissions on a day within the actor's view (audited as one list).
    pub async fn admissions_on(
        &self,
        grant: &Grant<can::ReadDemographics>,
        day: NaiveDate,
    ) -> Result<Vec<CaseloadEntry>> {
        let actor = grant.actor();
        let mut reader = self.read_conn().await?;
        let mut tx = sqlx::Connection::begin(&mut *reader).await?;
        let mut rows: Vec<CaseloadEntry> = sqlx::query_as(&format!(
            "{CASELOAD_SELECT} WHERE e.admitted_on = $2 AND {scope}",
            scope = patient_scope_sql(actor.role, "$1")
        ))
        .bind(actor.user_id.unwrap_or(0))
        .bind(Day(day))
        .fetch_all(&mut *tx)
        .await?;
        // One day's admissions: few enough to sort by name after decrypting.
        let names = self.fill_patient_names(&mut tx, &mut rows).await?;
        rows.sort_by_cached_key(|r| names.order(r.patient_id));
        let shown: Vec<i64> = rows.iter().map(|r| r.patient_id).collect();
        audit::record_shown(
            self,
            actor,
            AuditEvent {
                action: "search",
                record_type: "admissions",
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
}

/// A row of a caseload or admissions list.
#[derive(Debug, Clone, FromRow, Serialize, PartialEq)]
pub struct CaseloadEntry {
    /// Patient.
    pub patient_id: i64,
    /// Display name (preferred or legal first name, and last name).
    pub patient_name: String,
    /// Pronouns.
    pub pronouns: Option<String>,
    /// Episode.
    pub episode_id: i64,
    /// Program.
    pub program_name: String,
    /// Current level code.
    pub current_level: String,
    /// Admission date.
    pub admitted_on: Day,
    /// Open safety flags.
    pub open_flags: i64,
}

crate::patients::names_patient!(CaseloadEntry);

const CASELOAD_SELECT: &str = "SELECT p.id AS patient_id,
    CAST('' AS TEXT) AS patient_name,
    p.pronouns, e.id AS episode_id, pr.name AS program_name, e.current_level, e.admitted_on,
    (SELECT COUNT(*) FROM patient_flags f WHERE f.patient_id = p.id AND f.resolved_at IS NULL) AS open_flags
    FROM episodes e
    JOIN patients p ON p.id = e.patient_id
    JOIN programs pr ON pr.id = e.program_id";
