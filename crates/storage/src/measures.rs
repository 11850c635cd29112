//! Standard measures (PHQ-9, GAD-7, BAM, C-SSRS…): each administration is scored by the domain
//! rules and stored with its answers, total, subscales and band. A safety signal in the score
//! raises a flag with its tasks in the same transaction, so it can never be stored without one.
//! Programs give measures on a schedule; the due list follows from the last administration.

use std::collections::{BTreeMap, HashMap};

use chrono::{Duration, NaiveDate};
use serde::Serialize;
use sqlx::FromRow;
use trellis_domain::measures::{
    self, Instrument, MeasureScore, Responses, SafetyLevel, ScoringOptions, Sex,
};

use crate::access::{can, Grant, PatientGrant};
use crate::audit::{self, AuditEvent};
use crate::tasks::{raise_flag, Severity};
use crate::{Day, Instant, Result, Store, StoreError};

/// Item answers can reveal suicidal thinking or drug use: encrypted at rest.
pub(crate) const RESPONSES_COLUMN: &str = "measure_administrations.responses";

/// The flag kind a measure's safety signal raises.
pub const SAFETY_FLAG_KIND: &str = "suicide_risk";

/// One administration of a measure, as stored and scored.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Measure {
    /// Id.
    pub id: i64,
    /// Patient.
    pub patient_id: i64,
    /// The episode it was given in, if one was open.
    pub episode_id: Option<i64>,
    /// Instrument.
    pub instrument: Instrument,
    /// The day it was given.
    pub administered_on: Day,
    /// The answers in form order (`None` where an item was not asked or skipped).
    pub answers: Vec<Option<u8>>,
    /// Total score, for instruments that have one.
    pub total: Option<u16>,
    /// Subscales (e.g. BAM use, risk, protective).
    pub subscales: BTreeMap<String, u16>,
    /// Severity band code.
    pub band_code: String,
    /// Severity band in words.
    pub band_label: String,
    /// "moderate" or "high" when the answers carried a safety signal.
    pub safety_level: Option<String>,
    /// The flag it raised.
    pub flag_id: Option<i64>,
    /// Who recorded it.
    pub recorded_by_name: Option<String>,
    /// When it was recorded.
    pub recorded_at: Instant,
}

#[derive(FromRow)]
struct MeasureRow {
    id: i64,
    patient_id: i64,
    episode_id: Option<i64>,
    instrument: String,
    administered_on: Day,
    responses: String,
    total: Option<i64>,
    subscales: String,
    band_code: String,
    band_label: String,
    safety_level: Option<String>,
    flag_id: Option<i64>,
    recorded_by_name: Option<String>,
    recorded_at: Instant,
}

/// A measure to record.
#[derive(Debug, Clone)]
pub struct NewMeasure {
    /// Instrument.
    pub instrument: Instrument,
    /// The day it was given (not in the future).
    pub administered_on: NaiveDate,
    /// The answers in form order.
    pub answers: Vec<Option<u8>>,
}

/// What recording a measure produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    /// The administration's id.
    pub id: i64,
    /// The score.
    pub score: MeasureScore,
    /// The flag raised by its safety signal, if any.
    pub flag_id: Option<i64>,
}

/// A measure a program gives, and how often.
#[derive(Debug, Clone, FromRow, Serialize, PartialEq)]
pub struct MeasureSchedule {
    /// Program.
    pub program_id: i64,
    /// Instrument code.
    pub instrument: String,
    /// Days between administrations.
    pub every_days: i64,
}

/// A measure due (or overdue) for a patient.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DueMeasure {
    /// Patient.
    pub patient_id: i64,
    /// The patient's display name.
    pub patient_name: String,
    /// Instrument.
    pub instrument: Instrument,
    /// Last given, if ever in this episode.
    pub last_given: Option<Day>,
    /// Due on.
    pub due_on: Day,
    /// Whether the due date has passed.
    pub overdue: bool,
}

crate::patients::names_patient!(DueMeasure);

const MEASURE_SELECT: &str = "SELECT m.id, m.patient_id, m.episode_id, m.instrument,
    m.administered_on, m.responses, m.total, m.subscales, m.band_code, m.band_label,
    m.safety_level, m.flag_id, u.display_name AS recorded_by_name, m.recorded_at
    FROM measure_administrations m LEFT JOIN users u ON u.id = m.recorded_by";

fn sex_for_scoring(code: &str) -> Option<Sex> {
    match code {
        "male" => Some(Sex::Male),
        "female" => Some(Sex::Female),
        _ => None,
    }
}

impl Store {
    fn measure_from_row(&self, row: MeasureRow) -> Result<Measure> {
        let instrument: Instrument = row
            .instrument
            .parse()
            .map_err(|_| StoreError::Corrupt("unknown instrument code".into()))?;
        let answers: Vec<Option<u8>> =
            serde_json::from_str(&self.open(RESPONSES_COLUMN, &row.responses)?)
                .map_err(|_| StoreError::Corrupt("measure answers are not a list".into()))?;
        let subscales: BTreeMap<String, u16> = serde_json::from_str(&row.subscales)
            .map_err(|_| StoreError::Corrupt("measure subscales are not a map".into()))?;
        Ok(Measure {
            id: row.id,
            patient_id: row.patient_id,
            episode_id: row.episode_id,
            instrument,
            administered_on: row.administered_on,
            answers,
            total: row.total.and_then(|t| u16::try_from(t).ok()),
            subscales,
            band_code: row.band_code,
            band_label: row.band_label,
            safety_level: row.safety_level,
            flag_id: row.flag_id,
            recorded_by_name: row.recorded_by_name,
            recorded_at: row.recorded_at,
        })
    }

    /// Scores and records a measure. Invalid answers are refused with the domain's message
    /// (naming the item at fault) and nothing is stored; a safety signal raises a flag and its
    /// tasks in the same transaction.
    pub async fn record_measure(
        &self,
        grant: &PatientGrant<can::WriteClinical>,
        measure: &NewMeasure,
        today: NaiveDate,
    ) -> Result<Recorded> {
        if measure.administered_on > today {
            return Err(StoreError::invalid(
                "administered_on",
                "cannot be in the future",
            ));
        }
        let patient_id = grant.patient_id();
        let sex: String = sqlx::query_scalar("SELECT sex FROM patients WHERE id = $1")
            .bind(patient_id)
            .fetch_one(&mut *self.read_conn().await?)
            .await?;
        let mut responses = Responses::new(measure.answers.clone());
        responses.sex = sex_for_scoring(&sex);
        let score = measures::score(measure.instrument, &responses, &ScoringOptions::default())
            .map_err(|e| StoreError::invalid("responses", e.to_string()))?;
        let sealed = self.seal(
            RESPONSES_COLUMN,
            &serde_json::to_string(&measure.answers)
                .map_err(|e| StoreError::Corrupt(format!("answers: {e}")))?,
        )?;
        let subscales = serde_json::to_string(score.subscales())
            .map_err(|e| StoreError::Corrupt(format!("subscales: {e}")))?;
        let mut tx = self.begin().await?;
        let episode_id: Option<i64> =
            sqlx::query_scalar("SELECT id FROM episodes WHERE patient_id = $1 AND status = 'open'")
                .bind(patient_id)
                .fetch_optional(&mut *tx)
                .await?;
        let signal = score.safety_signal().cloned();
        let flag_id = match &signal {
            Some(signal) => {
                let severity = match signal.level {
                    SafetyLevel::High => Severity::High,
                    SafetyLevel::Moderate => Severity::Moderate,
                };
                Some(
                    raise_flag(
                        self,
                        &mut tx,
                        grant.actor(),
                        patient_id,
                        SAFETY_FLAG_KIND,
                        severity,
                        &signal.reason,
                    )
                    .await?,
                )
            }
            None => None,
        };
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO measure_administrations (patient_id, episode_id, instrument,
                 administered_on, responses, total, subscales, band_code, band_label,
                 safety_level, flag_id, recorded_at, recorded_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
        )
        .bind(patient_id)
        .bind(episode_id)
        .bind(measure.instrument.code())
        .bind(Day(measure.administered_on))
        .bind(sealed)
        .bind(score.total().map(i64::from))
        .bind(subscales)
        .bind(score.band().code.clone())
        .bind(score.band().label.clone())
        .bind(signal.as_ref().map(|s| match s.level {
            SafetyLevel::High => "high",
            SafetyLevel::Moderate => "moderate",
        }))
        .bind(flag_id)
        .bind(Instant::now())
        .bind(grant.actor().user_id)
        .fetch_one(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "create",
                record_type: "measure",
                record_id: Some(id),
                patient_id: Some(patient_id),
                detail: measure.instrument.code().to_owned(),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(Recorded { id, score, flag_id })
    }

    /// The patient's measures, oldest first (audited).
    pub async fn measures(&self, grant: &PatientGrant<can::ReadClinical>) -> Result<Vec<Measure>> {
        let mut reader = self.read_conn().await?;
        let mut tx = sqlx::Connection::begin(&mut *reader).await?;
        audit::record(
            self,
            grant.actor(),
            AuditEvent {
                action: "read",
                record_type: "measure",
                record_id: None,
                patient_id: Some(grant.patient_id()),
                detail: "measure list".into(),
            },
        )
        .await?;
        let rows: Vec<MeasureRow> = sqlx::query_as(&format!(
            "{MEASURE_SELECT} WHERE m.patient_id = $1 ORDER BY m.administered_on, m.id"
        ))
        .bind(grant.patient_id())
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.into_iter().map(|r| self.measure_from_row(r)).collect()
    }

    /// Every program's measure schedule (no patient data).
    pub async fn measure_schedules(&self) -> Result<Vec<MeasureSchedule>> {
        Ok(sqlx::query_as(
            "SELECT program_id, instrument, every_days FROM program_measure_schedules
             ORDER BY program_id, instrument",
        )
        .fetch_all(&mut *self.read_conn().await?)
        .await?)
    }

    /// Sets how often a program gives a measure (`None` stops giving it). Program
    /// configuration, not patient data.
    pub async fn set_measure_schedule(
        &self,
        grant: &Grant<can::ManagePrograms>,
        program_id: i64,
        instrument: Instrument,
        every_days: Option<i64>,
    ) -> Result<()> {
        if let Some(days) = every_days {
            if !(1..=365).contains(&days) {
                return Err(StoreError::invalid(
                    "every_days",
                    "must be between 1 and 365 days",
                ));
            }
        }
        let mut tx = self.begin().await?;
        sqlx::query(
            "DELETE FROM program_measure_schedules WHERE program_id = $1 AND instrument = $2",
        )
        .bind(program_id)
        .bind(instrument.code())
        .execute(&mut *tx)
        .await?;
        if let Some(days) = every_days {
            sqlx::query(
                "INSERT INTO program_measure_schedules (program_id, instrument, every_days)
                 VALUES ($1, $2, $3)",
            )
            .bind(program_id)
            .bind(instrument.code())
            .bind(days)
            .execute(&mut *tx)
            .await?;
        }
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "update",
                record_type: "measure_schedule",
                record_id: Some(program_id),
                patient_id: None,
                detail: instrument.code().to_owned(),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Measures due by `horizon` for the actor's caseload (open episodes where they are the
    /// primary counselor), soonest first. Audited as one list.
    pub async fn caseload_measures_due(
        &self,
        grant: &Grant<can::ReadClinical>,
        today: NaiveDate,
        horizon: NaiveDate,
    ) -> Result<Vec<DueMeasure>> {
        let actor = grant.actor();
        let mut reader = self.read_conn().await?;
        let mut tx = sqlx::Connection::begin(&mut *reader).await?;
        let due = due_list(
            self,
            &mut tx,
            "e.primary_counselor_id = $1",
            actor.user_id.unwrap_or(0),
            today,
            horizon,
        )
        .await?;
        let shown: Vec<i64> = due.iter().map(|r| r.patient_id).collect();
        audit::record_shown(
            self,
            actor,
            AuditEvent {
                action: "search",
                record_type: "measures_due",
                record_id: None,
                patient_id: None,
                detail: format!("{} results", due.len()),
            },
            &shown,
        )
        .await?;
        tx.commit().await?;
        Ok(due)
    }

    /// Measures due by `horizon` in one patient's open episode (audited).
    pub async fn patient_measures_due(
        &self,
        grant: &PatientGrant<can::ReadClinical>,
        today: NaiveDate,
        horizon: NaiveDate,
    ) -> Result<Vec<DueMeasure>> {
        let mut reader = self.read_conn().await?;
        let mut tx = sqlx::Connection::begin(&mut *reader).await?;
        let due = due_list(
            self,
            &mut tx,
            "p.id = $1",
            grant.patient_id(),
            today,
            horizon,
        )
        .await?;
        audit::record(
            self,
            grant.actor(),
            AuditEvent {
                action: "read",
                record_type: "measures_due",
                record_id: None,
                patient_id: Some(grant.patient_id()),
                detail: format!("{} due", due.len()),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(due)
    }
}

/// Due measures for open episodes matching `filter` (SQL over `e` and `p` with one parameter,
/// `$1`): the last administration in the episode plus the program's interval, or the admission
/// date when never given.
async fn due_list(
    store: &Store,
    tx: &mut sqlx::AnyConnection,
    filter: &str,
    param: i64,
    today: NaiveDate,
    horizon: NaiveDate,
) -> Result<Vec<DueMeasure>> {
    let rows: Vec<(i64, String, i64, Day, String, i64)> = sqlx::query_as(&format!(
        "SELECT p.id,
             CAST('' AS TEXT),
             e.id, e.admitted_on, s.instrument, s.every_days
         FROM episodes e
         JOIN patients p ON p.id = e.patient_id
         JOIN program_measure_schedules s ON s.program_id = e.program_id
         WHERE e.status = 'open' AND {filter}"
    ))
    .bind(param)
    .fetch_all(&mut *tx)
    .await?;
    let given: Vec<(i64, String, Day)> = sqlx::query_as(&format!(
        "SELECT m.episode_id, m.instrument, MAX(m.administered_on)
         FROM measure_administrations m
         JOIN episodes e ON e.id = m.episode_id
         JOIN patients p ON p.id = e.patient_id
         WHERE e.status = 'open' AND {filter}
         GROUP BY m.episode_id, m.instrument"
    ))
    .bind(param)
    .fetch_all(&mut *tx)
    .await?;
    let last: HashMap<(i64, String), Day> = given
        .into_iter()
        .map(|(episode, instrument, day)| ((episode, instrument), day))
        .collect();
    let mut due = Vec::new();
    for (patient_id, patient_name, episode_id, admitted_on, code, every_days) in rows {
        let Ok(instrument) = code.parse::<Instrument>() else {
            continue;
        };
        let last_given = last.get(&(episode_id, code)).copied();
        let due_on = match last_given {
            Some(day) => day.0 + Duration::days(every_days),
            None => admitted_on.0,
        };
        if due_on <= horizon {
            due.push(DueMeasure {
                patient_id,
                patient_name,
                instrument,
                last_given,
                due_on: Day(due_on),
                overdue: due_on < today,
            });
        }
    }
    store.fill_patient_names(tx, &mut due).await?;
    due.sort_by(|a, b| {
        (a.due_on.0, &a.patient_name, a.instrument).cmp(&(
            b.due_on.0,
            &b.patient_name,
            b.instrument,
        ))
    });
    Ok(due)
}
