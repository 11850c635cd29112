//! The breach register (42 CFR 2.16(b) with 45 CFR 164.400–414): an incident with the patients
//! it touched, the four-factor risk assessment and its conclusion, the 60-day clock from
//! discovery (a task for the privacy officer due on the last day), the letters to patients,
//! the media and HHS notices, and the year's log of breaches under 500 for HHS.
//!
//! The description and the letter's parts are sealed: they may describe clinical facts. Dates,
//! counts, factor weights and the conclusion stay in clear so the clock and the log are queries.

use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use trellis_domain::access::Role;
use trellis_domain::consent::{
    draft_letter, hhs_notice_with_patients, in_annual_log, media_notice_required,
    notification_deadline, notification_overdue, validate_conclusion, BreachConclusion,
    LetterFacts, RiskAssessment,
};
use trellis_domain::patient::FieldError;

use crate::access::{can, Grant};
use crate::audit::{self, AuditEvent};
use crate::confidentiality::limit;
use crate::tasks::{open_task, NewTask};
use crate::{parse_code, Day, Instant, Result, Store, StoreError};

const DETAILS: &str = "breach_incidents.details";
const NOTES: &str = "breach_incidents.assessment_notes";

/// What happened, in the words the letters to patients are drafted from (§164.404(c)).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct IncidentText {
    /// A brief description of what happened.
    pub what_happened: String,
    /// The kinds of information involved.
    pub information_involved: String,
    /// What patients should do to protect themselves.
    pub steps_for_patients: String,
    /// What the program is doing to investigate, mitigate and prevent it.
    pub what_we_are_doing: String,
    /// How patients reach the program about it.
    pub contact: String,
}

/// An incident as the privacy officer records it.
#[derive(Debug, Clone, Default)]
pub struct NewIncident {
    /// The first day the program knew (or by reasonable diligence would have known).
    pub discovered_on: Option<NaiveDate>,
    /// When it happened, if known.
    pub occurred_on: Option<NaiveDate>,
    /// The description the letters are drafted from.
    pub text: IncidentText,
    /// How many patients it touched.
    pub patients_affected: i64,
    /// The most of them living in any one State (media notice above 500).
    pub most_in_one_state: i64,
    /// The patients it touched, as far as they are known.
    pub patient_ids: Vec<i64>,
}

/// The privacy officer's assessment.
#[derive(Debug, Clone)]
pub struct NewAssessment {
    /// The four factors.
    pub factors: RiskAssessment,
    /// Why each factor weighs as it does.
    pub notes: String,
    /// The conclusion.
    pub conclusion: BreachConclusion,
}

/// An assessment on file.
#[derive(Debug, Clone, Serialize)]
pub struct AssessmentRecord {
    /// The four factors.
    pub factors: RiskAssessment,
    /// The notes.
    pub notes: String,
    /// The conclusion.
    pub conclusion: BreachConclusion,
    /// When it was made.
    pub assessed_at: Instant,
    /// By whom.
    pub assessed_by: String,
}

/// A patient the incident touched and their letter.
#[derive(Debug, Clone, Serialize)]
pub struct AffectedPatient {
    /// The patient.
    pub patient_id: i64,
    /// Their name, for the letter.
    pub name: String,
    /// The day their letter was sent.
    pub letter_sent_on: Option<NaiveDate>,
    /// The letter could not reach them: they were told by this substitute notice.
    pub substitute_notice_id: Option<i64>,
}

/// An incident in the register.
#[derive(Debug, Clone, Serialize)]
pub struct IncidentRecord {
    /// Id.
    pub id: i64,
    /// Discovery.
    pub discovered_on: NaiveDate,
    /// When it happened, if known.
    pub occurred_on: Option<NaiveDate>,
    /// The description.
    pub text: IncidentText,
    /// How many patients.
    pub patients_affected: i64,
    /// The most in one State.
    pub most_in_one_state: i64,
    /// The assessment, once made.
    pub assessment: Option<AssessmentRecord>,
    /// The last day to tell patients (60 days after discovery).
    pub deadline: NaiveDate,
    /// Whether every patient has been told: by letter, or by substitute notice when the letter
    /// could not reach them.
    pub letters_complete: bool,
    /// Substitute notices for patients the letters could not reach (§164.404(d)(2)).
    pub substitute_notices: Vec<super::substitute_notices::SubstituteNoticeRecord>,
    /// Whether telling patients is overdue today.
    pub overdue: bool,
    /// Whether prominent media must be told (more than 500 in one State).
    pub media_notice_required: bool,
    /// Whether HHS is told with the patients (500 or more) rather than in the annual log.
    pub hhs_with_patients: bool,
    /// When the media were told.
    pub media_notified_on: Option<NaiveDate>,
    /// When HHS was told.
    pub hhs_notified_on: Option<NaiveDate>,
    /// The patients named, with their letters.
    pub patients: Vec<AffectedPatient>,
    /// When it was recorded.
    pub recorded_at: Instant,
    /// By whom.
    pub recorded_by: String,
}

impl IncidentRecord {
    /// The conclusion, if assessed.
    pub fn conclusion(&self) -> Option<BreachConclusion> {
        self.assessment.as_ref().map(|a| a.conclusion)
    }
}

fn text_fields(text: &IncidentText, errors: &mut Vec<FieldError>) -> IncidentText {
    let t = IncidentText {
        what_happened: text.what_happened.trim().to_owned(),
        information_involved: text.information_involved.trim().to_owned(),
        steps_for_patients: text.steps_for_patients.trim().to_owned(),
        what_we_are_doing: text.what_we_are_doing.trim().to_owned(),
        contact: text.contact.trim().to_owned(),
    };
    for (field, value) in [
        ("what_happened", &t.what_happened),
        ("information_involved", &t.information_involved),
        ("steps_for_patients", &t.steps_for_patients),
        ("what_we_are_doing", &t.what_we_are_doing),
        ("contact", &t.contact),
    ] {
        if value.is_empty() {
            errors.push(FieldError::new(field, "is required"));
        }
        limit(field, value, 4000, errors);
    }
    t
}

#[derive(sqlx::FromRow)]
struct IncidentRow {
    id: i64,
    discovered_on: Day,
    occurred_on: Option<Day>,
    details: String,
    patients_affected: i64,
    most_in_one_state: i64,
    nature_risk: Option<String>,
    recipient_risk: Option<String>,
    acquired_risk: Option<String>,
    mitigation_risk: Option<String>,
    assessment_notes: Option<String>,
    conclusion: Option<String>,
    assessed_at: Option<Instant>,
    assessed_by: Option<String>,
    media_notified_on: Option<Day>,
    hhs_notified_on: Option<Day>,
    recorded_at: Instant,
    recorded_by: String,
}

const SELECT: &str = "SELECT b.id, b.discovered_on, b.occurred_on, b.details,
    b.patients_affected, b.most_in_one_state, b.nature_risk, b.recipient_risk, b.acquired_risk,
    b.mitigation_risk, b.assessment_notes, b.conclusion, b.assessed_at,
    au.display_name AS assessed_by, b.media_notified_on, b.hhs_notified_on, b.recorded_at,
    ru.display_name AS recorded_by
    FROM breach_incidents b JOIN users ru ON ru.id = b.recorded_by
    LEFT JOIN users au ON au.id = b.assessed_by";

pub(super) fn today() -> NaiveDate {
    Utc::now().date_naive()
}

/// The latest date it is anywhere on Earth now (UTC+14): a day the register is told of is "in
/// the future" only after that, so an organisation in any time zone can record its own today
/// (UTC's date refused a Sydney morning's today).
pub(super) fn latest_today() -> NaiveDate {
    (Utc::now() + chrono::Duration::hours(14)).date_naive()
}

impl Store {
    pub(super) async fn incident_rows(
        &self,
        filter: &str,
        bind: i64,
    ) -> Result<Vec<IncidentRecord>> {
        let rows: Vec<IncidentRow> = sqlx::query_as(&format!(
            "{SELECT} WHERE {filter} ORDER BY b.discovered_on DESC, b.id DESC"
        ))
        .bind(bind)
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(self.incident_record(row).await?);
        }
        Ok(out)
    }

    async fn incident_record(&self, row: IncidentRow) -> Result<IncidentRecord> {
        let id = row.id;
        let text: IncidentText = serde_json::from_str(&self.open(DETAILS, &row.details)?)
            .map_err(|e| StoreError::Corrupt(format!("breach {id}: {e}")))?;
        let factor = |v: &Option<String>| -> Result<_> {
            v.as_deref().map(|c| parse_code(c, "risk")).transpose()
        };
        let assessment = match (
            factor(&row.nature_risk)?,
            factor(&row.recipient_risk)?,
            factor(&row.acquired_risk)?,
            factor(&row.mitigation_risk)?,
            row.conclusion.as_deref(),
            row.assessed_at,
        ) {
            (Some(n), Some(r), Some(a), Some(m), Some(conclusion), Some(at)) => {
                Some(AssessmentRecord {
                    factors: RiskAssessment {
                        nature_and_extent: n,
                        unauthorized_recipient: r,
                        acquired_or_viewed: a,
                        mitigation: m,
                    },
                    notes: row
                        .assessment_notes
                        .as_deref()
                        .map(|n| self.open(NOTES, n))
                        .transpose()?
                        .unwrap_or_default(),
                    conclusion: parse_code(conclusion, "breach conclusion")?,
                    assessed_at: at,
                    assessed_by: row.assessed_by.clone().unwrap_or_default(),
                })
            }
            _ => None,
        };
        let mut patients: Vec<(i64, Option<Day>, Option<i64>)> = sqlx::query_as(
            "SELECT patient_id, letter_sent_on, substitute_notice_id FROM breach_patients
             WHERE breach_id = $1",
        )
        .bind(id)
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        // Names are sealed at rest: decrypted for the rows shown, then sorted.
        let names = self
            .listed_names(&mut *self.read_conn().await?, patients.iter().map(|p| p.0))
            .await?;
        patients.sort_by_cached_key(|p| names.order(p.0));
        let patients: Vec<AffectedPatient> = patients
            .into_iter()
            .map(|(patient_id, sent, substitute)| AffectedPatient {
                patient_id,
                name: names.display(patient_id),
                letter_sent_on: sent.map(|d| d.0),
                substitute_notice_id: substitute,
            })
            .collect();
        let substitute_notices = self.substitute_notices(id).await?;
        let letters_complete = everyone_told(&patients, &substitute_notices, row.patients_affected);
        let discovered_on = row.discovered_on.0;
        let conclusion = assessment.as_ref().map(|a| a.conclusion);
        Ok(IncidentRecord {
            id,
            discovered_on,
            occurred_on: row.occurred_on.map(|d| d.0),
            text,
            patients_affected: row.patients_affected,
            most_in_one_state: row.most_in_one_state,
            deadline: notification_deadline(discovered_on),
            overdue: notification_overdue(discovered_on, conclusion, letters_complete, today()),
            media_notice_required: media_notice_required(row.most_in_one_state),
            hhs_with_patients: hhs_notice_with_patients(row.patients_affected),
            assessment,
            letters_complete,
            substitute_notices,
            media_notified_on: row.media_notified_on.map(|d| d.0),
            hhs_notified_on: row.hhs_notified_on.map(|d| d.0),
            patients,
            recorded_at: row.recorded_at,
            recorded_by: row.recorded_by,
        })
    }

    /// Records an incident with the patients it touched (audited under each of them) and opens
    /// the privacy officer's task, due on the 60th day after discovery.
    pub async fn record_incident(
        &self,
        grant: &Grant<can::KeepBreachRegister>,
        new: &NewIncident,
    ) -> Result<i64> {
        let by = grant.actor().staff_id()?;
        let mut errors = Vec::new();
        let text = text_fields(&new.text, &mut errors);
        match new.discovered_on {
            None => errors.push(FieldError::new("discovered_on", "is required")),
            Some(d) if d > latest_today() => {
                errors.push(FieldError::new("discovered_on", "cannot be in the future"))
            }
            Some(_) => {}
        }
        if let (Some(occurred), Some(discovered)) = (new.occurred_on, new.discovered_on) {
            if occurred > discovered {
                errors.push(FieldError::new(
                    "occurred_on",
                    "cannot be after the discovery date",
                ));
            }
        }
        let patient_ids: BTreeSet<i64> = new.patient_ids.iter().copied().collect();
        for id in &patient_ids {
            let found: Option<i64> = sqlx::query_scalar("SELECT id FROM patients WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *self.read_conn().await?)
                .await?;
            if found.is_none() {
                errors.push(FieldError::new(
                    "patient_ids",
                    format!("patient {} is not on file", crate::patients::mrn(*id)),
                ));
            }
        }
        if !(1..=10_000_000).contains(&new.patients_affected) {
            errors.push(FieldError::new(
                "patients_affected",
                "must be between 1 and 10,000,000",
            ));
        } else if (patient_ids.len() as i64) > new.patients_affected {
            errors.push(FieldError::new(
                "patients_affected",
                "is fewer than the patients named",
            ));
        }
        if !(0..=new.patients_affected.max(0)).contains(&new.most_in_one_state) {
            errors.push(FieldError::new(
                "most_in_one_state",
                "must be between 0 and the number of patients affected",
            ));
        }
        let Some(discovered_on) = new.discovered_on.filter(|_| errors.is_empty()) else {
            return Err(StoreError::Invalid(errors));
        };
        let json = serde_json::to_string(&text)
            .map_err(|e| StoreError::Corrupt(format!("breach: {e}")))?;
        let deadline = notification_deadline(discovered_on);
        let mut tx = self.begin().await?;
        let task = open_task(
            self,
            &mut tx,
            grant.actor(),
            &NewTask {
                patient_id: None,
                flag_id: None,
                kind: "breach_notification",
                title: "Assess a privacy incident and notify the patients within 60 days (45 CFR 164.404)",
                priority: "high",
                assigned_to: None,
                assigned_role: Some(Role::PrivacyOfficer),
                due_on: Some(Day(deadline)),
            },
        )
        .await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO breach_incidents (discovered_on, occurred_on, details, patients_affected,
                 most_in_one_state, task_id, recorded_at, recorded_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(Day(discovered_on))
        .bind(new.occurred_on.map(Day))
        .bind(self.seal(DETAILS, &json)?)
        .bind(new.patients_affected)
        .bind(new.most_in_one_state)
        .bind(task)
        .bind(Instant::now())
        .bind(by)
        .fetch_one(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "create",
                record_type: "breach_incident",
                record_id: Some(id),
                patient_id: None,
                detail: format!(
                    "affected {}; named {}",
                    new.patients_affected,
                    patient_ids.len()
                ),
            },
        )
        .await?;
        for patient_id in &patient_ids {
            sqlx::query("INSERT INTO breach_patients (breach_id, patient_id) VALUES ($1, $2)")
                .bind(id)
                .bind(patient_id)
                .execute(&mut *tx)
                .await?;
            audit::append(
                &mut tx,
                grant.actor(),
                AuditEvent {
                    action: "create",
                    record_type: "breach_patient",
                    record_id: Some(id),
                    patient_id: Some(*patient_id),
                    detail: String::new(),
                },
            )
            .await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    /// The register, newest discovery first (audited, naming every patient shown).
    pub async fn incidents(
        &self,
        grant: &Grant<can::KeepBreachRegister>,
    ) -> Result<Vec<IncidentRecord>> {
        let records = self.incident_rows("b.id > $1", 0).await?;
        self.audit_incidents(grant, &records, "register").await?;
        Ok(records)
    }

    /// One incident (audited under each patient it names).
    pub async fn incident(
        &self,
        grant: &Grant<can::KeepBreachRegister>,
        id: i64,
    ) -> Result<IncidentRecord> {
        let record = self
            .incident_rows("b.id = $1", id)
            .await?
            .into_iter()
            .next()
            .ok_or(StoreError::NotFound("breach incident"))?;
        self.audit_incidents(grant, std::slice::from_ref(&record), "incident")
            .await?;
        Ok(record)
    }

    /// The year's breaches of fewer than 500 patients, for the log submitted to HHS within 60
    /// days of the year's end (§164.408(c)); audited.
    pub async fn annual_breach_log(
        &self,
        grant: &Grant<can::KeepBreachRegister>,
        year: i32,
    ) -> Result<Vec<IncidentRecord>> {
        let mut records: Vec<IncidentRecord> = self
            .incident_rows("b.conclusion = 'breach' AND b.id > $1", 0)
            .await?
            .into_iter()
            .filter(|r| in_annual_log(r.discovered_on, r.conclusion(), r.patients_affected, year))
            .collect();
        records.reverse();
        self.audit_incidents(grant, &records, "annual log").await?;
        Ok(records)
    }

    async fn audit_incidents(
        &self,
        grant: &Grant<can::KeepBreachRegister>,
        records: &[IncidentRecord],
        what: &str,
    ) -> Result<()> {
        let shown: Vec<i64> = records
            .iter()
            .flat_map(|r| r.patients.iter().map(|p| p.patient_id))
            .collect();
        audit::record_shown(
            self,
            grant.actor(),
            AuditEvent {
                action: "read",
                record_type: "breach_incident",
                record_id: (records.len() == 1).then(|| records[0].id),
                patient_id: None,
                detail: format!("{what}; {} incidents", records.len()),
            },
            &shown,
        )
        .await
    }

    /// Records the four-factor assessment and its conclusion (audited). "Low probability" needs
    /// every factor low; it closes the incident's task, as nobody is to be notified.
    pub async fn assess_incident(
        &self,
        grant: &Grant<can::KeepBreachRegister>,
        id: i64,
        assessment: &NewAssessment,
    ) -> Result<()> {
        let by = grant.actor().staff_id()?;
        let notes = assessment.notes.trim();
        let mut errors = Vec::new();
        if notes.is_empty() {
            errors.push(FieldError::new(
                "notes",
                "say why each factor weighs as it does",
            ));
        }
        limit("notes", notes, 4000, &mut errors);
        if let Err(problem) = validate_conclusion(&assessment.factors, assessment.conclusion) {
            errors.push(FieldError::new("conclusion", problem.to_string()));
        }
        if !errors.is_empty() {
            return Err(StoreError::Invalid(errors));
        }
        let task: Option<Option<i64>> =
            sqlx::query_scalar("SELECT task_id FROM breach_incidents WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *self.read_conn().await?)
                .await?;
        let task = task.ok_or(StoreError::NotFound("breach incident"))?;
        let f = &assessment.factors;
        let now = Instant::now();
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE breach_incidents SET nature_risk = $1, recipient_risk = $2, acquired_risk = $3,
                 mitigation_risk = $4, assessment_notes = $5, conclusion = $6, assessed_at = $7,
                 assessed_by = $8
             WHERE id = $9",
        )
        .bind(f.nature_and_extent.code())
        .bind(f.unauthorized_recipient.code())
        .bind(f.acquired_or_viewed.code())
        .bind(f.mitigation.code())
        .bind(self.seal(NOTES, notes)?)
        .bind(assessment.conclusion.code())
        .bind(now)
        .bind(by)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if assessment.conclusion == BreachConclusion::LowProbability {
            complete_task(&mut tx, task, now, by).await?;
        }
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "assess",
                record_type: "breach_incident",
                record_id: Some(id),
                patient_id: None,
                detail: format!(
                    "{} {} {} {}; {}",
                    f.nature_and_extent.code(),
                    f.unauthorized_recipient.code(),
                    f.acquired_or_viewed.code(),
                    f.mitigation.code(),
                    assessment.conclusion.code()
                ),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The letter to one patient the incident names, drafted from the incident (audited under
    /// the patient).
    pub async fn breach_letter(
        &self,
        grant: &Grant<can::KeepBreachRegister>,
        id: i64,
        patient_id: i64,
    ) -> Result<String> {
        let record = self.incident(grant, id).await?;
        let patient = record
            .patients
            .iter()
            .find(|p| p.patient_id == patient_id)
            .ok_or(StoreError::NotFound("patient on this incident"))?;
        let program: String = sqlx::query_scalar(
            "SELECT s.name FROM patients p JOIN sites s ON s.id = p.site_id WHERE p.id = $1",
        )
        .bind(patient_id)
        .fetch_one(&mut *self.read_conn().await?)
        .await?;
        Ok(draft_letter(&LetterFacts {
            program: &program,
            patient_name: &patient.name,
            occurred_on: record.occurred_on,
            discovered_on: record.discovered_on,
            what_happened: &record.text.what_happened,
            information_involved: &record.text.information_involved,
            steps_for_patients: &record.text.steps_for_patients,
            what_we_are_doing: &record.text.what_we_are_doing,
            contact: &record.text.contact,
        }))
    }

    /// Records that a patient's letter went out on a day (audited); the incident's task is
    /// completed once every patient has theirs.
    pub async fn record_breach_letter(
        &self,
        grant: &Grant<can::KeepBreachRegister>,
        id: i64,
        patient_id: i64,
        sent_on: Option<NaiveDate>,
    ) -> Result<()> {
        let by = grant.actor().staff_id()?;
        let record = self
            .incident_rows("b.id = $1", id)
            .await?
            .into_iter()
            .next()
            .ok_or(StoreError::NotFound("breach incident"))?;
        if !record.patients.iter().any(|p| p.patient_id == patient_id) {
            return Err(StoreError::NotFound("patient on this incident"));
        }
        if record.conclusion() == Some(BreachConclusion::LowProbability) {
            return Err(StoreError::Conflict(
                "this incident was assessed as a low probability of compromise: no letters are due"
                    .into(),
            ));
        }
        let sent_on = match sent_on {
            None => return Err(StoreError::invalid("sent_on", "is required")),
            Some(d) if d > latest_today() => {
                return Err(StoreError::invalid("sent_on", "cannot be in the future"))
            }
            Some(d) if d < record.discovered_on => {
                return Err(StoreError::invalid(
                    "sent_on",
                    "cannot be before the incident was discovered",
                ))
            }
            Some(d) => d,
        };
        let now = Instant::now();
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE breach_patients SET letter_sent_on = $1, letter_sent_by = $2
             WHERE breach_id = $3 AND patient_id = $4",
        )
        .bind(Day(sent_on))
        .bind(by)
        .bind(id)
        .bind(patient_id)
        .execute(&mut *tx)
        .await?;
        let mut patients = record.patients.clone();
        for p in patients.iter_mut().filter(|p| p.patient_id == patient_id) {
            p.letter_sent_on = Some(sent_on);
        }
        if everyone_told(
            &patients,
            &record.substitute_notices,
            record.patients_affected,
        ) {
            let task: Option<i64> =
                sqlx::query_scalar("SELECT task_id FROM breach_incidents WHERE id = $1")
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await?;
            complete_task(&mut tx, task, now, by).await?;
        }
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "letter_sent",
                record_type: "breach_patient",
                record_id: Some(id),
                patient_id: Some(patient_id),
                detail: String::new(),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records when the media (more than 500 in a State) and HHS were told (audited).
    pub async fn record_breach_notices(
        &self,
        grant: &Grant<can::KeepBreachRegister>,
        id: i64,
        media_notified_on: Option<NaiveDate>,
        hhs_notified_on: Option<NaiveDate>,
    ) -> Result<()> {
        grant.actor().staff_id()?;
        let record = self
            .incident_rows("b.id = $1", id)
            .await?
            .into_iter()
            .next()
            .ok_or(StoreError::NotFound("breach incident"))?;
        let mut errors = Vec::new();
        for (field, day) in [
            ("media_notified_on", media_notified_on),
            ("hhs_notified_on", hhs_notified_on),
        ] {
            match day {
                Some(d) if d > latest_today() => {
                    errors.push(FieldError::new(field, "cannot be in the future"))
                }
                Some(d) if d < record.discovered_on => errors.push(FieldError::new(
                    field,
                    "cannot be before the incident was discovered",
                )),
                _ => {}
            }
        }
        if media_notified_on.is_some() && !record.media_notice_required {
            errors.push(FieldError::new(
                "media_notified_on",
                "media notice is for breaches of more than 500 residents of one State",
            ));
        }
        if media_notified_on.is_none() && hhs_notified_on.is_none() {
            errors.push(FieldError::new("hhs_notified_on", "give at least one date"));
        }
        if !errors.is_empty() {
            return Err(StoreError::Invalid(errors));
        }
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE breach_incidents SET
                 media_notified_on = COALESCE($1, media_notified_on),
                 hhs_notified_on = COALESCE($2, hhs_notified_on)
             WHERE id = $3",
        )
        .bind(media_notified_on.map(Day))
        .bind(hhs_notified_on.map(Day))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "notices",
                record_type: "breach_incident",
                record_id: Some(id),
                patient_id: None,
                detail: format!(
                    "media {}; hhs {}",
                    media_notified_on.is_some(),
                    hhs_notified_on.is_some()
                ),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Whether every patient the incident touched has been told: each named patient by letter or
/// substitute notice, and as many as it touched counted, the unnamed ones by substitute notice.
pub(super) fn everyone_told(
    patients: &[AffectedPatient],
    notices: &[super::substitute_notices::SubstituteNoticeRecord],
    patients_affected: i64,
) -> bool {
    let named_by_notice = patients
        .iter()
        .filter(|p| p.substitute_notice_id.is_some())
        .count() as i64;
    let unnamed_by_notice =
        (notices.iter().map(|n| n.patients_unreachable).sum::<i64>() - named_by_notice).max(0);
    let told = patients.len() as i64 + unnamed_by_notice;
    told > 0
        && patients
            .iter()
            .all(|p| p.letter_sent_on.is_some() || p.substitute_notice_id.is_some())
        && told >= patients_affected
}

pub(super) async fn complete_task(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    task: Option<i64>,
    at: Instant,
    by: i64,
) -> Result<()> {
    if let Some(task) = task {
        sqlx::query(
            "UPDATE tasks SET completed_at = $1, completed_by = $2
             WHERE id = $3 AND completed_at IS NULL",
        )
        .bind(at)
        .bind(by)
        .bind(task)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
