//! The chart overview's own reads: what is coming up for a patient, their weekly hours by the
//! Schedule tab's rule, their active medications and last scores, and their open tasks. Each is
//! one query (or a fixed few), never one per row, and audited like the tab it summarises; the
//! overview asks for each only with the grant of the role that may see it.

use chrono::{Days, NaiveDate, TimeDelta, Utc};
use serde::Serialize;
use sqlx::FromRow;
use trellis_domain::measures::Instrument;
use trellis_domain::schedule::hours::{CareWeek, HoursPolicy, ServiceRecord, ServiceType};

use crate::access::{can, PatientGrant};
use crate::audit::{self, AuditEvent};
use crate::schedule::judge_weeks;
use crate::tasks::{Task, TASK_SELECT};
use crate::{Day, Flag, Instant, Result, Store, StoreError};

/// A group session or booked appointment still to come.
#[derive(Debug, Clone, PartialEq, Serialize, FromRow)]
pub struct UpcomingService {
    /// When it starts.
    pub starts_at: Instant,
    /// Its local date at the site.
    pub local_date: Day,
    /// How long it is planned to last.
    pub minutes: i64,
    /// The track's name, or the appointment kind's code.
    pub what: String,
    /// "group" for a group session, "appointment" for an appointment.
    pub source: String,
}

impl UpcomingService {
    /// Whether it is a group session of one of the patient's tracks.
    pub fn is_group(&self) -> bool {
        self.source == "group"
    }
}

/// The weeks of service hours the overview shows, judged as the Schedule tab judges them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatientHours {
    /// The weekly range in force today (the level of care now), if the patient has an open
    /// episode at a level with weekly hours; each past week carries its own.
    pub policy: Option<HoursPolicy>,
    /// The weeks up to this one, oldest first.
    pub weeks: Vec<CareWeek>,
}

/// An active medication as the overview lists it (no reason, adherence or side effects).
#[derive(Debug, Clone, PartialEq, Serialize, FromRow)]
pub struct ActiveMedication {
    /// Name and strength.
    pub name: String,
    /// Dose.
    pub dose: String,
    /// How often.
    pub frequency: String,
    /// Whether it treats opioid or alcohol use disorder.
    #[sqlx(try_from = "Flag")]
    pub moud: bool,
}

/// The latest score on one instrument with the one before it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LatestScore {
    /// Instrument.
    pub instrument: Instrument,
    /// When the latest was given.
    pub administered_on: Day,
    /// Its total, for instruments with one.
    pub total: Option<u16>,
    /// Its severity band in words.
    pub band_label: String,
    /// The total given before it, if any.
    pub previous_total: Option<u16>,
}

#[derive(FromRow)]
struct ScoreRow {
    instrument: String,
    administered_on: Day,
    total: Option<i64>,
    band_label: String,
}

impl Store {
    /// Group sessions of the patient's tracks (enrolled that day, not yet marked) and booked
    /// appointments from now until the end of `until`, soonest first. The days' sessions are
    /// materialised first, as the day sheet does, so the list matches it.
    pub async fn upcoming_services(
        &self,
        grant: &PatientGrant<can::ReadSchedule>,
        today: NaiveDate,
        until: NaiveDate,
    ) -> Result<Vec<UpcomingService>> {
        let patient_id = grant.patient_id();
        let site: Option<i64> = sqlx::query_scalar(
            "SELECT site_id FROM episodes WHERE patient_id = $1 AND status = 'open'",
        )
        .bind(patient_id)
        .fetch_optional(&mut *self.read_conn().await?)
        .await?;
        if let Some(site_id) = site {
            let read = self.grant::<can::ReadSchedule>(grant.actor())?;
            self.materialise_sessions(&read, site_id, today, until)
                .await?;
        }
        let rows: Vec<UpcomingService> = sqlx::query_as(
            "SELECT gs.starts_at, gs.local_date, gs.minutes, t.name AS what, 'group' AS source
             FROM group_sessions gs JOIN tracks t ON t.id = gs.track_id
             JOIN track_enrolments te ON te.track_id = gs.track_id AND te.patient_id = $1
                 AND te.enrolled_on <= gs.local_date
                 AND (te.ended_on IS NULL OR te.ended_on >= gs.local_date)
             WHERE gs.starts_at >= $2 AND gs.local_date <= $3
               AND NOT EXISTS (SELECT 1 FROM attendance a
                               WHERE a.session_id = gs.id AND a.patient_id = $1)
             UNION ALL
             SELECT a.starts_at, a.local_date, a.minutes, a.kind AS what, 'appointment' AS source
             FROM appointments a
             WHERE a.patient_id = $1 AND a.status = 'booked' AND a.attendance_status IS NULL
               AND a.starts_at >= $2 AND a.local_date <= $3
             ORDER BY 1",
        )
        .bind(patient_id)
        .bind(Instant::now())
        .bind(Day(until))
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        audit::record(
            self,
            grant.actor(),
            AuditEvent {
                action: "read",
                record_type: "upcoming_services",
                record_id: Some(patient_id),
                patient_id: Some(patient_id),
                detail: String::new(),
            },
        )
        .await?;
        Ok(rows)
    }

    /// The patient's service hours for at least `weeks` weeks up to this one and every week
    /// since admission (so runs under the minimum count as the Phase tab counts them), by the
    /// same reads and the same rule as the Schedule tab (`Store::patient_schedule`).
    pub async fn patient_hours(
        &self,
        grant: &PatientGrant<can::ReadSchedule>,
        today: NaiveDate,
        weeks: u32,
    ) -> Result<PatientHours> {
        let patient_id = grant.patient_id();
        let setting = self.hours_setting(patient_id).await?;
        let in_care_since = setting.in_care_since;
        let policy = setting.policy_on(today)?;
        let in_care = if in_care_since < today {
            (today - in_care_since).num_days() / 7 + 2
        } else {
            0
        };
        // Two years at most: a longer run changes nothing the overview says.
        let weeks = weeks.max(u32::try_from(in_care.min(104)).unwrap_or(104));
        // A day before the first week, so services crossing local midnight are counted.
        let from = today
            .checked_sub_days(Days::new(7 * u64::from(weeks) + 7))
            .ok_or_else(|| StoreError::invalid("weeks", "out of range"))?;
        let from = Instant(from.and_time(chrono::NaiveTime::MIN).and_utc());
        let to = Instant(Utc::now() + TimeDelta::days(366));
        let group: Vec<(Instant, i64)> = sqlx::query_as(
            "SELECT gs.starts_at, a.minutes_attended
             FROM attendance a JOIN group_sessions gs ON gs.id = a.session_id
             WHERE a.patient_id = $1 AND a.minutes_attended > 0 AND gs.starts_at >= $2",
        )
        .bind(patient_id)
        .bind(from)
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        let mut records: Vec<ServiceRecord> = group
            .into_iter()
            .map(|(start, minutes)| ServiceRecord {
                start: start.0,
                minutes: u32::try_from(minutes).unwrap_or(0),
                service: ServiceType::Group,
            })
            .collect();
        records.extend(
            crate::appointments::appointment_service_records(self, patient_id, from, to)
                .await?
                .into_iter()
                .map(|(_, r)| r),
        );
        let (_, judged) = judge_weeks(&records, &setting, today, weeks)?;
        audit::record(
            self,
            grant.actor(),
            AuditEvent {
                action: "read",
                record_type: "patient_hours",
                record_id: Some(patient_id),
                patient_id: Some(patient_id),
                detail: String::new(),
            },
        )
        .await?;
        Ok(PatientHours {
            policy,
            weeks: judged,
        })
    }

    /// The patient's medications not stopped, newest first (audited).
    pub async fn active_medications(
        &self,
        grant: &PatientGrant<can::ReadClinical>,
    ) -> Result<Vec<ActiveMedication>> {
        let patient_id = grant.patient_id();
        let mut rows: Vec<ActiveMedication> = sqlx::query_as(
            "SELECT name, dose, frequency, moud FROM medications
             WHERE patient_id = $1 AND stopped_on IS NULL ORDER BY started_on DESC, id DESC",
        )
        .bind(patient_id)
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        for m in &mut rows {
            (m.name, m.dose, m.frequency) = self.open_medication(&m.name, &m.dose, &m.frequency)?;
        }
        audit::record(
            self,
            grant.actor(),
            AuditEvent {
                action: "read",
                record_type: "medication",
                record_id: None,
                patient_id: Some(patient_id),
                detail: "active medications".into(),
            },
        )
        .await?;
        Ok(rows)
    }

    /// The latest score on each instrument the patient was given, with the one before it
    /// (audited; totals and bands only, not the answers).
    pub async fn latest_scores(
        &self,
        grant: &PatientGrant<can::ReadClinical>,
    ) -> Result<Vec<LatestScore>> {
        let patient_id = grant.patient_id();
        let rows: Vec<ScoreRow> = sqlx::query_as(
            "SELECT instrument, administered_on, total, band_label FROM measure_administrations
             WHERE patient_id = $1 ORDER BY administered_on DESC, id DESC",
        )
        .bind(patient_id)
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        audit::record(
            self,
            grant.actor(),
            AuditEvent {
                action: "read",
                record_type: "measure",
                record_id: None,
                patient_id: Some(patient_id),
                detail: "latest scores".into(),
            },
        )
        .await?;
        let mut out: Vec<LatestScore> = Vec::new();
        for row in rows {
            let instrument: Instrument = row
                .instrument
                .parse()
                .map_err(|_| StoreError::Corrupt("unknown instrument code".into()))?;
            let total = row.total.and_then(|t| u16::try_from(t).ok());
            match out.iter_mut().find(|s| s.instrument == instrument) {
                // Newest first: the first row seen is the latest, the second the one before.
                Some(latest) => {
                    if latest.previous_total.is_none() {
                        latest.previous_total = total;
                    }
                }
                None => out.push(LatestScore {
                    instrument,
                    administered_on: row.administered_on,
                    total,
                    band_label: row.band_label,
                    previous_total: None,
                }),
            }
        }
        Ok(out)
    }

    /// The name of the patient's current phase and the day it began, by the Phase tab's rule;
    /// `None` without an open episode in a program with phases (audited).
    pub async fn current_phase(
        &self,
        grant: &PatientGrant<can::ReadClinical>,
    ) -> Result<Option<(String, Day)>> {
        let patient_id = grant.patient_id();
        let mut reader = self.read_conn().await?;
        let mut tx = sqlx::Connection::begin(&mut *reader).await?;
        let phase = crate::phases::current_phase_in(&mut tx, patient_id).await?;
        tx.commit().await?;
        audit::record(
            self,
            grant.actor(),
            AuditEvent {
                action: "read",
                record_type: "phase",
                record_id: None,
                patient_id: Some(patient_id),
                detail: "current phase".into(),
            },
        )
        .await?;
        Ok(phase)
    }

    /// The patient's open tasks, soonest due first (audited).
    pub async fn open_patient_tasks(
        &self,
        grant: &PatientGrant<can::ReadClinical>,
    ) -> Result<Vec<Task>> {
        let patient_id = grant.patient_id();
        let mut rows: Vec<Task> = sqlx::query_as(&format!(
            "{TASK_SELECT} WHERE t.patient_id = $1 AND t.completed_at IS NULL
             ORDER BY t.due_on IS NULL, t.due_on, t.id"
        ))
        .bind(patient_id)
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        self.fill_patient_names(&mut *self.read_conn().await?, &mut rows)
            .await?;
        self.open_task_titles(&mut rows)?;
        audit::record(
            self,
            grant.actor(),
            AuditEvent {
                action: "read",
                record_type: "task",
                record_id: None,
                patient_id: Some(patient_id),
                detail: "open tasks".into(),
            },
        )
        .await?;
        Ok(rows)
    }
}
