//! Substitute notice of a breach (45 CFR 164.404(d)(2), applied by 42 CFR 2.16): when a
//! patient's contact details are missing or out of date so the letter cannot reach them, the
//! program tells them another way, and from 10 such patients publicly (the website's home page
//! for 90 days, or major print or broadcast media) with a toll-free number. The rule is the
//! domain's (`trellis_domain::consent::validate_substitute_notice`).

use chrono::NaiveDate;
use serde::Serialize;
use std::collections::BTreeSet;
use trellis_domain::consent::{
    substitute_notice_ends, validate_substitute_notice, BreachConclusion, SubstituteMethod,
    SubstituteProblem,
};
use trellis_domain::patient::FieldError;

use super::breaches::{complete_task, everyone_told, latest_today};
use crate::access::{can, Grant};
use crate::audit::{self, AuditEvent};
use crate::confidentiality::limit;
use crate::{parse_code, Day, Instant, Result, Store, StoreError};

const DETAILS: &str = "breach_substitute_notices.details";

/// A substitute notice as the privacy officer records it.
#[derive(Debug, Clone, Default)]
pub struct NewSubstituteNotice {
    /// The day it was given (posted, published, telephoned…).
    pub given_on: Option<NaiveDate>,
    /// How.
    pub method: Option<SubstituteMethod>,
    /// How many patients it is for: those the letters could not reach.
    pub patients_unreachable: i64,
    /// The incident's named patients it is for (their letters could not be sent).
    pub patient_ids: Vec<i64>,
    /// The toll-free number patients call (required from 10 patients).
    pub toll_free_number: String,
    /// Where it was posted or published, or what was said.
    pub details: String,
}

/// A substitute notice on file.
#[derive(Debug, Clone, Serialize)]
pub struct SubstituteNoticeRecord {
    /// Id.
    pub id: i64,
    /// The day it was given.
    pub given_on: NaiveDate,
    /// How.
    pub method: SubstituteMethod,
    /// How many patients it is for.
    pub patients_unreachable: i64,
    /// The toll-free number, if one was given.
    pub toll_free_number: Option<String>,
    /// Where it was posted or published, or what was said.
    pub details: String,
    /// For a public notice: the last day the posting stays up and the number stays active.
    pub keep_until: Option<NaiveDate>,
    /// When it was recorded.
    pub recorded_at: Instant,
    /// By whom.
    pub recorded_by: String,
}

fn problem_field(problem: &SubstituteProblem) -> &'static str {
    match problem {
        SubstituteProblem::NoPatients | SubstituteProblem::MorePatientsThanAffected { .. } => {
            "patients_unreachable"
        }
        SubstituteProblem::PublicNoticeRequired => "method",
        SubstituteProblem::TollFreeNumberRequired => "toll_free_number",
    }
}

impl Store {
    /// The incident's substitute notices, oldest first.
    pub(super) async fn substitute_notices(
        &self,
        breach_id: i64,
    ) -> Result<Vec<SubstituteNoticeRecord>> {
        type Row = (
            i64,
            Day,
            String,
            i64,
            Option<String>,
            String,
            Instant,
            String,
        );
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT n.id, n.given_on, n.method, n.patients_unreachable, n.toll_free_number,
                    n.details, n.recorded_at, u.display_name
             FROM breach_substitute_notices n JOIN users u ON u.id = n.recorded_by
             WHERE n.breach_id = $1 ORDER BY n.given_on, n.id",
        )
        .bind(breach_id)
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        rows.into_iter()
            .map(|(id, on, method, count, number, details, at, by)| {
                let method: SubstituteMethod = parse_code(&method, "substitute notice method")?;
                Ok(SubstituteNoticeRecord {
                    id,
                    given_on: on.0,
                    method,
                    patients_unreachable: count,
                    toll_free_number: number,
                    details: self.open(DETAILS, &details)?,
                    keep_until: method.is_public().then(|| substitute_notice_ends(on.0)),
                    recorded_at: at,
                    recorded_by: by,
                })
            })
            .collect()
    }

    /// Records a substitute notice for patients the letters could not reach (audited under each
    /// named patient); once everyone is told, by letter or this notice, the incident's task is
    /// completed.
    pub async fn record_substitute_notice(
        &self,
        grant: &Grant<can::KeepBreachRegister>,
        id: i64,
        new: &NewSubstituteNotice,
    ) -> Result<i64> {
        let by = grant.actor().staff_id()?;
        let record = self
            .incident_rows("b.id = $1", id)
            .await?
            .into_iter()
            .next()
            .ok_or(StoreError::NotFound("breach incident"))?;
        if record.conclusion() == Some(BreachConclusion::LowProbability) {
            return Err(StoreError::Conflict(
                "this incident was assessed as a low probability of compromise: no notice is due"
                    .into(),
            ));
        }
        let mut errors = Vec::new();
        match new.given_on {
            None => errors.push(FieldError::new("given_on", "is required")),
            Some(d) if d > latest_today() => {
                errors.push(FieldError::new("given_on", "cannot be in the future"))
            }
            Some(d) if d < record.discovered_on => errors.push(FieldError::new(
                "given_on",
                "cannot be before the incident was discovered",
            )),
            Some(_) => {}
        }
        let details = new.details.trim();
        if details.is_empty() {
            errors.push(FieldError::new(
                "details",
                "say where it was posted or published, or what was said",
            ));
        }
        limit("details", details, 4000, &mut errors);
        let number = new.toll_free_number.trim();
        limit("toll_free_number", number, 40, &mut errors);
        match new.method {
            None => errors.push(FieldError::new("method", "is required")),
            Some(method) => {
                if let Err(problem) = validate_substitute_notice(
                    new.patients_unreachable,
                    record.patients_affected,
                    method,
                    number,
                ) {
                    errors.push(FieldError::new(
                        problem_field(&problem),
                        problem.to_string(),
                    ));
                }
            }
        }
        let named: BTreeSet<i64> = new.patient_ids.iter().copied().collect();
        for patient in &named {
            match record.patients.iter().find(|p| p.patient_id == *patient) {
                None => errors.push(FieldError::new(
                    "patient_ids",
                    format!(
                        "patient {} is not named on this incident",
                        crate::patients::mrn(*patient)
                    ),
                )),
                Some(p) if p.letter_sent_on.is_some() || p.substitute_notice_id.is_some() => errors
                    .push(FieldError::new(
                        "patient_ids",
                        format!(
                            "patient {} has been told already",
                            crate::patients::mrn(*patient)
                        ),
                    )),
                Some(_) => {}
            }
        }
        if named.len() as i64 > new.patients_unreachable {
            errors.push(FieldError::new(
                "patient_ids",
                "more patients named than the notice is for",
            ));
        }
        let (Some(given_on), Some(method), true) = (new.given_on, new.method, errors.is_empty())
        else {
            return Err(StoreError::Invalid(errors));
        };
        let now = Instant::now();
        let mut tx = self.begin().await?;
        let notice: i64 = sqlx::query_scalar(
            "INSERT INTO breach_substitute_notices (breach_id, given_on, method,
                 patients_unreachable, toll_free_number, details, recorded_at, recorded_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(id)
        .bind(Day(given_on))
        .bind(method.code())
        .bind(new.patients_unreachable)
        .bind((!number.is_empty()).then_some(number))
        .bind(self.seal(DETAILS, details)?)
        .bind(now)
        .bind(by)
        .fetch_one(&mut *tx)
        .await?;
        for patient in &named {
            sqlx::query(
                "UPDATE breach_patients SET substitute_notice_id = $1
                 WHERE breach_id = $2 AND patient_id = $3",
            )
            .bind(notice)
            .bind(id)
            .bind(*patient)
            .execute(&mut *tx)
            .await?;
            audit::append(
                &mut tx,
                grant.actor(),
                AuditEvent {
                    action: "substitute_notice",
                    record_type: "breach_patient",
                    record_id: Some(id),
                    patient_id: Some(*patient),
                    detail: format!("notice {notice}"),
                },
            )
            .await?;
        }
        let mut patients = record.patients.clone();
        for p in patients.iter_mut() {
            if named.contains(&p.patient_id) {
                p.substitute_notice_id = Some(notice);
            }
        }
        let mut notices = record.substitute_notices.clone();
        notices.push(SubstituteNoticeRecord {
            id: notice,
            given_on,
            method,
            patients_unreachable: new.patients_unreachable,
            toll_free_number: None,
            details: String::new(),
            keep_until: None,
            recorded_at: now,
            recorded_by: String::new(),
        });
        if everyone_told(&patients, &notices, record.patients_affected) {
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
                action: "substitute_notice",
                record_type: "breach_incident",
                record_id: Some(id),
                patient_id: None,
                detail: format!(
                    "notice {notice}; {}; {} patients",
                    method.code(),
                    new.patients_unreachable
                ),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(notice)
    }
}
