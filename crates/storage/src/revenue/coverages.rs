//! A patient's coverages and the eligibility checks made on them. The subscriber's name and
//! the card's ids are sealed; every read and change is audited under the patient.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use trellis_domain::patient::FieldError;
use trellis_domain::revenue::coverage::{
    validate_coverage, CoverageRank, CoverageTerms, EligibilityMethod, EligibilityResult,
};

use crate::access::{can, PatientGrant};
use crate::audit::{self, AuditEvent};
use crate::{parse_code, Day, Instant, Result, Store, StoreError};

const COVERAGE_DETAILS: &str = "coverages.details";
const ELIGIBILITY_REFERENCE: &str = "eligibility_checks.reference";

/// A coverage on file, with the payer's name and the checks made on it, newest first.
#[derive(Debug, Clone, Serialize)]
pub struct CoverageRecord {
    /// Id.
    pub id: i64,
    /// The coverage as last saved.
    pub terms: CoverageTerms,
    /// The payer's name (none for self-pay).
    pub payer_name: Option<String>,
    /// Eligibility checks, newest first.
    pub checks: Vec<EligibilityCheck>,
    /// When it was last changed.
    pub updated_at: Instant,
    /// Who last changed it.
    pub updated_by: String,
}

/// An eligibility check as recorded.
#[derive(Debug, Clone, Serialize)]
pub struct EligibilityCheck {
    /// Id.
    pub id: i64,
    /// The day it was checked.
    pub checked_on: NaiveDate,
    /// How.
    pub method: EligibilityMethod,
    /// What it found.
    pub result: EligibilityResult,
    /// The payer's reference number or the name of whom billing spoke to.
    pub reference: String,
    /// Who recorded it.
    pub checked_by: String,
}

/// An eligibility check to record.
#[derive(Debug, Clone, Deserialize)]
pub struct NewEligibilityCheck {
    /// The day it was checked (not in the future).
    pub checked_on: NaiveDate,
    /// How.
    pub method: EligibilityMethod,
    /// What it found.
    pub result: EligibilityResult,
    /// The payer's reference number, if any (at most 200 characters).
    pub reference: String,
}

/// The sealed part of a coverage.
#[derive(Serialize, Deserialize)]
struct Details {
    subscriber_name: String,
    member_id: String,
    group_number: String,
}

type CoverageRow = (
    i64,
    String,
    Option<i64>,
    String,
    String,
    Day,
    Option<Day>,
    Option<String>,
    Instant,
    String,
);

type CheckRow = (i64, i64, Day, String, String, Option<String>, String);

fn cleaned(t: &CoverageTerms) -> Result<CoverageTerms> {
    let self_pay = t.rank == CoverageRank::SelfPay;
    let clean = CoverageTerms {
        subscriber_name: t
            .subscriber_name
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
        member_id: t.member_id.trim().to_uppercase(),
        group_number: t.group_number.trim().to_uppercase(),
        ..t.clone()
    };
    let errors = validate_coverage(&clean);
    if !errors.is_empty() {
        return Err(StoreError::Invalid(errors));
    }
    // Self-pay carries no card; a subscriber is kept only when it is someone else.
    Ok(CoverageTerms {
        member_id: if self_pay {
            String::new()
        } else {
            clean.member_id.clone()
        },
        group_number: if self_pay {
            String::new()
        } else {
            clean.group_number.clone()
        },
        subscriber_name: if self_pay
            || clean.relationship == trellis_domain::revenue::coverage::SubscriberRelationship::Own
        {
            String::new()
        } else {
            clean.subscriber_name.clone()
        },
        ..clean
    })
}

impl Store {
    /// The patient's coverages, each with its eligibility checks (audited as one read).
    pub async fn coverages(
        &self,
        grant: &PatientGrant<can::ReadBilling>,
    ) -> Result<Vec<CoverageRecord>> {
        let patient = grant.patient_id();
        let rows: Vec<CoverageRow> = sqlx::query_as(
            "SELECT c.id, c.coverage_rank, c.payer_id, c.relationship, c.details,
                    c.effective_from, c.effective_to, py.name, c.updated_at, u.username
             FROM coverages c JOIN users u ON u.id = c.updated_by
             LEFT JOIN payers py ON py.id = c.payer_id
             WHERE c.patient_id = $1
             ORDER BY c.effective_from DESC, c.id DESC",
        )
        .bind(patient)
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        let checks: Vec<CheckRow> = sqlx::query_as(
            "SELECT e.id, e.coverage_id, e.checked_on, e.method, e.result, e.reference,
                    u.username
             FROM eligibility_checks e JOIN users u ON u.id = e.created_by
             WHERE e.patient_id = $1
             ORDER BY e.checked_on DESC, e.id DESC",
        )
        .bind(patient)
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        let mut records = Vec::with_capacity(rows.len());
        for row in rows {
            records.push(self.coverage_record(row)?);
        }
        for (id, coverage_id, checked_on, method, result, reference, by) in checks {
            let reference = match reference {
                Some(r) => self.open(ELIGIBILITY_REFERENCE, &r)?,
                None => String::new(),
            };
            let check = EligibilityCheck {
                id,
                checked_on: checked_on.0,
                method: parse_code(&method, "eligibility method")?,
                result: parse_code(&result, "eligibility result")?,
                reference,
                checked_by: by,
            };
            if let Some(c) = records.iter_mut().find(|c| c.id == coverage_id) {
                c.checks.push(check);
            }
        }
        records.sort_by_key(|c| (c.terms.rank, std::cmp::Reverse(c.terms.effective_from)));
        audit::record(
            self,
            grant.actor(),
            AuditEvent {
                action: "read",
                record_type: "coverages",
                record_id: None,
                patient_id: Some(patient),
                detail: format!("{} coverages", records.len()),
            },
        )
        .await?;
        Ok(records)
    }

    fn coverage_record(&self, row: CoverageRow) -> Result<CoverageRecord> {
        let (id, rank, payer_id, relationship, details, from, to, payer_name, at, by) = row;
        let details: Details = serde_json::from_str(&self.open(COVERAGE_DETAILS, &details)?)
            .map_err(|e| StoreError::Corrupt(format!("coverage {id}: {e}")))?;
        Ok(CoverageRecord {
            id,
            terms: CoverageTerms {
                rank: parse_code(&rank, "coverage rank")?,
                payer_id,
                relationship: parse_code(&relationship, "relationship")?,
                subscriber_name: details.subscriber_name,
                member_id: details.member_id,
                group_number: details.group_number,
                effective_from: from.0,
                effective_to: to.map(|d| d.0),
            },
            payer_name,
            checks: Vec::new(),
            updated_at: at,
            updated_by: by,
        })
    }

    /// A current payer for a coverage, or the field error naming why it cannot be used.
    async fn coverage_payer(&self, payer_id: Option<i64>) -> Result<()> {
        let Some(id) = payer_id else {
            return Ok(());
        };
        match self.payer_by_id(id).await {
            Ok(p) if p.retired_at.is_none() => Ok(()),
            Ok(_) => Err(StoreError::invalid(
                "payer_id",
                "this payer was retired; choose another",
            )),
            Err(StoreError::NotFound(_)) => {
                Err(StoreError::invalid("payer_id", "is not a payer on file"))
            }
            Err(e) => Err(e),
        }
    }

    fn seal_coverage(&self, t: &CoverageTerms) -> Result<String> {
        let json = serde_json::to_string(&Details {
            subscriber_name: t.subscriber_name.clone(),
            member_id: t.member_id.clone(),
            group_number: t.group_number.clone(),
        })
        .map_err(|e| StoreError::Corrupt(format!("coverage: {e}")))?;
        self.seal(COVERAGE_DETAILS, &json)
    }

    /// Adds a coverage to the patient's record (audited).
    pub async fn add_coverage(
        &self,
        grant: &PatientGrant<can::ManageBilling>,
        terms: &CoverageTerms,
    ) -> Result<i64> {
        let by = grant.actor().staff_id()?;
        let t = cleaned(terms)?;
        self.coverage_payer(t.payer_id).await?;
        let sealed = self.seal_coverage(&t)?;
        let now = Instant::now();
        let mut tx = self.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO coverages (patient_id, coverage_rank, payer_id, relationship, details,
                 effective_from, effective_to, created_at, created_by, updated_at, updated_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $8, $9) RETURNING id",
        )
        .bind(grant.patient_id())
        .bind(t.rank.code())
        .bind(t.payer_id)
        .bind(t.relationship.code())
        .bind(sealed)
        .bind(Day(t.effective_from))
        .bind(t.effective_to.map(Day))
        .bind(now)
        .bind(by)
        .fetch_one(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "create",
                record_type: "coverage",
                record_id: Some(id),
                patient_id: Some(grant.patient_id()),
                detail: format!("{} payer {}", t.rank.code(), opt(t.payer_id)),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Corrects one of the patient's coverages, or ends it by giving its last day (audited).
    pub async fn update_coverage(
        &self,
        grant: &PatientGrant<can::ManageBilling>,
        coverage_id: i64,
        terms: &CoverageTerms,
    ) -> Result<()> {
        let by = grant.actor().staff_id()?;
        let t = cleaned(terms)?;
        self.patients_coverage(grant.patient_id(), coverage_id)
            .await?;
        self.coverage_payer(t.payer_id).await?;
        let sealed = self.seal_coverage(&t)?;
        let now = Instant::now();
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE coverages SET coverage_rank = $1, payer_id = $2, relationship = $3,
                 details = $4, effective_from = $5, effective_to = $6, updated_at = $7,
                 updated_by = $8
             WHERE id = $9 AND patient_id = $10",
        )
        .bind(t.rank.code())
        .bind(t.payer_id)
        .bind(t.relationship.code())
        .bind(sealed)
        .bind(Day(t.effective_from))
        .bind(t.effective_to.map(Day))
        .bind(now)
        .bind(by)
        .bind(coverage_id)
        .bind(grant.patient_id())
        .execute(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "update",
                record_type: "coverage",
                record_id: Some(coverage_id),
                patient_id: Some(grant.patient_id()),
                detail: format!("{} payer {}", t.rank.code(), opt(t.payer_id)),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    // The coverage must be this patient's: an id from another chart is "not found".
    async fn patients_coverage(&self, patient_id: i64, coverage_id: i64) -> Result<()> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT id FROM coverages WHERE id = $1 AND patient_id = $2")
                .bind(coverage_id)
                .bind(patient_id)
                .fetch_optional(&mut *self.read_conn().await?)
                .await?;
        found.map(|_| ()).ok_or(StoreError::NotFound("coverage"))
    }

    /// Records an eligibility check on one of the patient's coverages (audited).
    pub async fn record_eligibility_check(
        &self,
        grant: &PatientGrant<can::ManageBilling>,
        coverage_id: i64,
        check: &NewEligibilityCheck,
        today: NaiveDate,
    ) -> Result<i64> {
        let by = grant.actor().staff_id()?;
        let reference = check.reference.trim();
        let mut errors = Vec::new();
        if check.checked_on > today {
            errors.push(FieldError::new("checked_on", "cannot be in the future"));
        }
        if reference.chars().count() > 200 {
            errors.push(FieldError::new(
                "reference",
                "must be at most 200 characters",
            ));
        }
        if !errors.is_empty() {
            return Err(StoreError::Invalid(errors));
        }
        self.patients_coverage(grant.patient_id(), coverage_id)
            .await?;
        let sealed = if reference.is_empty() {
            None
        } else {
            Some(self.seal(ELIGIBILITY_REFERENCE, reference)?)
        };
        let now = Instant::now();
        let mut tx = self.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO eligibility_checks (coverage_id, patient_id, checked_on, method, result,
                 reference, created_at, created_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(coverage_id)
        .bind(grant.patient_id())
        .bind(Day(check.checked_on))
        .bind(check.method.code())
        .bind(check.result.code())
        .bind(sealed)
        .bind(now)
        .bind(by)
        .fetch_one(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "create",
                record_type: "eligibility_check",
                record_id: Some(id),
                patient_id: Some(grant.patient_id()),
                detail: format!("coverage {coverage_id}: {}", check.result.code()),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }
}

fn opt(id: Option<i64>) -> String {
    id.map_or_else(|| "none".to_owned(), |i| i.to_string())
}
