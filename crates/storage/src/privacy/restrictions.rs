//! Restriction requests (42 CFR 2.26): recorded as the patient made them, decided by the
//! privacy officer, and honoured by the disclosure path: an agreed restriction, or a self-pay
//! restriction to a health plan from the moment it is asked for, refuses the disclosures it
//! covers. What the patient asked and a refusal's reason are sealed.

use chrono::{NaiveDate, Utc};
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};
use trellis_domain::consent::{
    blocking_restriction, validate_decision, validate_lift, validate_restriction,
    InformationCategory, Lift, LiftGround, RecipientKind, Restriction, RestrictionDecision,
    RestrictionProblem,
};
use trellis_domain::patient::FieldError;

use super::{category_codes, parse_categories};
use crate::access::{can, Grant, PatientGrant};
use crate::audit::{self, AuditEvent};
use crate::confidentiality::limit;
use crate::{parse_code, Day, Flag, Instant, Result, Store, StoreError};

const DETAILS: &str = "restriction_requests.details";
const REASON: &str = "restriction_requests.decision_reason";
const LIFT_REASON: &str = "restriction_requests.lift_reason";

/// A restriction request as the patient made it.
#[derive(Debug, Clone, Default)]
pub struct NewRestriction {
    /// What the patient asked, in their words.
    pub what: String,
    /// The day they asked.
    pub requested_on: Option<NaiveDate>,
    /// The directory entry it names, if it names one recipient.
    pub recipient_id: Option<i64>,
    /// The class it names, if it names a class instead.
    pub recipient_kind: Option<RecipientKind>,
    /// The information it covers (empty: all of it).
    pub categories: BTreeSet<InformationCategory>,
    /// Services paid in full out of pocket, kept from the named health plan (§2.26(a)(6)).
    pub self_pay: bool,
}

/// A restriction request on file.
#[derive(Debug, Clone, Serialize)]
pub struct RestrictionRecord {
    /// Id.
    pub id: i64,
    /// The patient.
    pub patient_id: i64,
    /// What the patient asked, in their words.
    pub what: String,
    /// The day they asked.
    pub requested_on: NaiveDate,
    /// The named recipient's name, when it names one.
    pub recipient_name: Option<String>,
    /// Scope and decision, as the domain rules read them.
    pub restriction: Restriction,
    /// Whether it blocks disclosures now.
    pub in_force: bool,
    /// The reason given for a refusal.
    pub reason: Option<String>,
    /// When it was recorded.
    pub recorded_at: Instant,
    /// Who recorded it.
    pub recorded_by: String,
    /// When it was decided.
    pub decided_at: Option<Instant>,
    /// Who decided it.
    pub decided_by: Option<String>,
    /// Why it was ended, once it was.
    pub lift_reason: Option<String>,
    /// When its end was recorded.
    pub lifted_at: Option<Instant>,
    /// Who recorded it.
    pub lifted_by: Option<String>,
}

const SELECT: &str = "SELECT r.id, r.patient_id, r.recipient_id, r.recipient_kind, r.categories,
    r.self_pay, r.details, r.requested_on, r.recorded_at, ru.display_name, r.decision,
    r.decision_reason, r.decided_at, du.display_name
    FROM restriction_requests r JOIN users ru ON ru.id = r.recorded_by
    LEFT JOIN users du ON du.id = r.decided_by";

/// A restriction's end, read apart (the main row is at the driver's tuple limit): ground, day,
/// sealed reason, when and by whom it was recorded.
type LiftRow = (String, Day, Option<String>, Option<Instant>, Option<String>);

type Row = (
    i64,
    i64,
    Option<i64>,
    Option<String>,
    String,
    Flag,
    String,
    Day,
    Instant,
    String,
    String,
    Option<String>,
    Option<Instant>,
    Option<String>,
);

impl Store {
    fn restriction_record(&self, row: Row) -> Result<RestrictionRecord> {
        let (id, patient_id, recipient_id, kind, categories, self_pay, details, requested_on) =
            (row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7);
        let restriction = Restriction {
            recipient_id,
            recipient_kind: kind
                .as_deref()
                .map(|k| parse_code(k, "recipient class"))
                .transpose()?,
            categories: parse_categories(&categories)?,
            self_pay: self_pay.0,
            decision: parse_code(&row.10, "restriction decision")?,
            lifted: None,
        };
        Ok(RestrictionRecord {
            id,
            patient_id,
            what: self.open(DETAILS, &details)?,
            requested_on: requested_on.0,
            recipient_name: None,
            in_force: restriction.in_force(),
            restriction,
            reason: row.11.map(|r| self.open(REASON, &r)).transpose()?,
            recorded_at: row.8,
            recorded_by: row.9,
            decided_at: row.12,
            decided_by: row.13,
            lift_reason: None,
            lifted_at: None,
            lifted_by: None,
        })
    }

    /// The restrictions `filter` selects (on alias `r`, one `$1`), newest first, with their
    /// ends and recipients: three queries however many there are.
    async fn restriction_rows(&self, filter: &str, bind: i64) -> Result<Vec<RestrictionRecord>> {
        let rows: Vec<Row> = sqlx::query_as(&format!("{SELECT} WHERE {filter} ORDER BY r.id DESC"))
            .bind(bind)
            .fetch_all(&mut *self.read_conn().await?)
            .await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let lifts: HashMap<i64, LiftRow> = sqlx::query_as::<
            _,
            (
                i64,
                String,
                Day,
                Option<String>,
                Option<Instant>,
                Option<String>,
            ),
        >(&format!(
            "SELECT r.id, r.lift_ground, r.lifted_on, r.lift_reason, r.lifted_at, lu.display_name
                 FROM restriction_requests r LEFT JOIN users lu ON lu.id = r.lifted_by
                 WHERE ({filter}) AND r.lift_ground IS NOT NULL AND r.lifted_on IS NOT NULL"
        ))
        .bind(bind)
        .fetch_all(&mut *self.read_conn().await?)
        .await?
        .into_iter()
        .map(|(id, ground, on, reason, at, by)| (id, (ground, on, reason, at, by)))
        .collect();
        let names: HashMap<i64, String> = self
            .recipients_among(
                &format!("SELECT r.recipient_id FROM restriction_requests r WHERE {filter}"),
                bind,
            )
            .await?
            .into_iter()
            .map(|r| (r.id, r.recipient.name))
            .collect();
        let mut records = Vec::with_capacity(rows.len());
        for row in rows {
            let mut record = self.restriction_record(row)?;
            if let Some((ground, on, reason, at, by)) = lifts.get(&record.id).cloned() {
                record.restriction.lifted = Some(Lift {
                    ground: parse_code(&ground, "lift ground")?,
                    on: on.0,
                });
                record.in_force = record.restriction.in_force();
                record.lift_reason = reason.map(|r| self.open(LIFT_REASON, &r)).transpose()?;
                record.lifted_at = at;
                record.lifted_by = by;
            }
            if let Some(id) = record.restriction.recipient_id {
                record.recipient_name = Some(
                    names
                        .get(&id)
                        .cloned()
                        .ok_or(StoreError::NotFound("recipient"))?,
                );
            }
            records.push(record);
        }
        Ok(records)
    }

    /// Records a patient's request to restrict disclosures (audited). A self-pay restriction
    /// must name a health plan from the directory, and binds at once.
    pub async fn record_restriction(
        &self,
        grant: &PatientGrant<can::ManageConsents>,
        new: &NewRestriction,
    ) -> Result<i64> {
        let by = grant.actor().staff_id()?;
        let patient_id = grant.patient_id();
        let mut errors = Vec::new();
        let what = new.what.trim();
        if what.is_empty() {
            errors.push(FieldError::new(
                "what",
                "say what the patient asked to restrict",
            ));
        }
        limit("what", what, 2000, &mut errors);
        let zone = self.patient_zone(patient_id).await?;
        let today = Utc::now().with_timezone(&zone).date_naive();
        match new.requested_on {
            None => errors.push(FieldError::new("requested_on", "is required")),
            Some(day) if day > today => {
                errors.push(FieldError::new("requested_on", "cannot be in the future"))
            }
            Some(_) => {}
        }
        if new.recipient_id.is_some() && new.recipient_kind.is_some() {
            errors.push(FieldError::new(
                "recipient_kind",
                "name one recipient or a class, not both",
            ));
        }
        let named_kind = match new.recipient_id {
            Some(id) => match self.recipient(id).await {
                Ok(r) if r.is_current() => Some(r.recipient.kind),
                Ok(_) | Err(StoreError::NotFound(_)) => {
                    errors.push(FieldError::new(
                        "recipient_id",
                        "choose a current recipient from the directory",
                    ));
                    None
                }
                Err(e) => return Err(e),
            },
            None => None,
        };
        if new.recipient_id.is_none() || named_kind.is_some() {
            if let Err(problem) = validate_restriction(new.self_pay, named_kind) {
                errors.push(FieldError::new("recipient_id", problem.to_string()));
            }
        }
        if !errors.is_empty() {
            return Err(StoreError::Invalid(errors));
        }
        let mut tx = self.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO restriction_requests (patient_id, recipient_id, recipient_kind,
                 categories, self_pay, details, requested_on, recorded_at, recorded_by, decision)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending') RETURNING id",
        )
        .bind(patient_id)
        .bind(new.recipient_id)
        .bind(new.recipient_kind.map(|k| k.code()))
        .bind(category_codes(&new.categories))
        .bind(new.self_pay)
        .bind(self.seal(DETAILS, what)?)
        .bind(new.requested_on.map(Day))
        .bind(Instant::now())
        .bind(by)
        .fetch_one(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "create",
                record_type: "restriction_request",
                record_id: Some(id),
                patient_id: Some(patient_id),
                detail: format!(
                    "self_pay {}; recipient {}; class {}; categories {}",
                    new.self_pay,
                    new.recipient_id.map_or("-".into(), |r| r.to_string()),
                    new.recipient_kind.map_or("-", |k| k.code()),
                    category_codes(&new.categories)
                ),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The patient's restriction requests, newest first (audited).
    pub async fn restrictions(
        &self,
        grant: &PatientGrant<can::ManageConsents>,
    ) -> Result<Vec<RestrictionRecord>> {
        let records = self
            .restriction_rows("r.patient_id = $1", grant.patient_id())
            .await?;
        audit::record(
            self,
            grant.actor(),
            AuditEvent {
                action: "read",
                record_type: "restriction_request",
                record_id: None,
                patient_id: Some(grant.patient_id()),
                detail: format!("{} requests", records.len()),
            },
        )
        .await?;
        Ok(records)
    }

    /// Every request still waiting for the privacy officer, oldest first (audited, naming each
    /// patient shown).
    pub async fn pending_restrictions(
        &self,
        grant: &Grant<can::DecideRestrictions>,
    ) -> Result<Vec<RestrictionRecord>> {
        let mut records = self
            .restriction_rows("r.decision = 'pending' AND r.id > $1", 0)
            .await?;
        records.reverse();
        let shown: Vec<i64> = records.iter().map(|r| r.patient_id).collect();
        audit::record_shown(
            self,
            grant.actor(),
            AuditEvent {
                action: "search",
                record_type: "restriction_request",
                record_id: None,
                patient_id: None,
                detail: format!("pending; {} shown", records.len()),
            },
            &shown,
        )
        .await?;
        Ok(records)
    }

    /// The patient a restriction request belongs to, for the permission check.
    pub async fn restriction_patient_id(&self, id: i64) -> Result<i64> {
        sqlx::query_scalar("SELECT patient_id FROM restriction_requests WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *self.read_conn().await?)
            .await?
            .ok_or(StoreError::NotFound("restriction request"))
    }

    /// The privacy officer agrees to or refuses a request (audited). A refusal gives its reason;
    /// a self-pay restriction cannot be refused.
    pub async fn decide_restriction(
        &self,
        grant: &PatientGrant<can::DecideRestrictions>,
        id: i64,
        decision: RestrictionDecision,
        reason: &str,
    ) -> Result<()> {
        let by = grant.actor().staff_id()?;
        let record = self
            .restriction_rows("r.id = $1", id)
            .await?
            .into_iter()
            .find(|r| r.patient_id == grant.patient_id())
            .ok_or(StoreError::NotFound("restriction request"))?;
        let reason = reason.trim();
        let mut errors = Vec::new();
        limit("reason", reason, 2000, &mut errors);
        if !errors.is_empty() {
            return Err(StoreError::Invalid(errors));
        }
        match validate_decision(&record.restriction, decision, reason) {
            Ok(()) => {}
            Err(p @ RestrictionProblem::AlreadyDecided) => {
                return Err(StoreError::Conflict(p.to_string()))
            }
            Err(p @ RestrictionProblem::RefusalNeedsReason) => {
                return Err(StoreError::invalid("reason", p.to_string()))
            }
            Err(p) => return Err(StoreError::invalid("decision", p.to_string())),
        }
        let sealed = if reason.is_empty() {
            None
        } else {
            Some(self.seal(REASON, reason)?)
        };
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE restriction_requests SET decision = $1, decision_reason = $2, decided_at = $3,
                 decided_by = $4
             WHERE id = $5 AND decision = 'pending'",
        )
        .bind(decision.code())
        .bind(sealed)
        .bind(Instant::now())
        .bind(by)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "decide",
                record_type: "restriction_request",
                record_id: Some(id),
                patient_id: Some(grant.patient_id()),
                detail: decision.code().to_owned(),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Ends a restriction (§2.26 with 45 CFR 164.522(a)(2)), audited: with the patient's
    /// agreement it frees everything; by the program alone, telling the patient on `on`, it still
    /// covers what was created before then, and never a self-pay restriction to a health plan.
    pub async fn lift_restriction(
        &self,
        grant: &PatientGrant<can::DecideRestrictions>,
        id: i64,
        ground: Option<LiftGround>,
        on: Option<NaiveDate>,
        reason: &str,
    ) -> Result<()> {
        let by = grant.actor().staff_id()?;
        let record = self
            .restriction_rows("r.id = $1", id)
            .await?
            .into_iter()
            .find(|r| r.patient_id == grant.patient_id())
            .ok_or(StoreError::NotFound("restriction request"))?;
        let reason = reason.trim();
        let mut errors = Vec::new();
        limit("reason", reason, 2000, &mut errors);
        if ground.is_none() {
            errors.push(FieldError::new(
                "ground",
                "choose whether the patient agreed or the program told the patient",
            ));
        }
        if on.is_none() {
            errors.push(FieldError::new("lifted_on", "is required"));
        }
        let (Some(ground), Some(on)) = (ground, on) else {
            return Err(StoreError::Invalid(errors));
        };
        if !errors.is_empty() {
            return Err(StoreError::Invalid(errors));
        }
        let zone = self.patient_zone(grant.patient_id()).await?;
        let today = Utc::now().with_timezone(&zone).date_naive();
        match validate_lift(
            &record.restriction,
            record.requested_on,
            ground,
            on,
            today,
            reason,
        ) {
            Ok(()) => {}
            Err(p @ RestrictionProblem::AlreadyLifted) => {
                return Err(StoreError::Conflict(p.to_string()))
            }
            Err(
                p @ (RestrictionProblem::LiftInFuture | RestrictionProblem::LiftBeforeRequest(_)),
            ) => return Err(StoreError::invalid("lifted_on", p.to_string())),
            Err(p @ RestrictionProblem::LiftNeedsReason) => {
                return Err(StoreError::invalid("reason", p.to_string()))
            }
            Err(p) => return Err(StoreError::invalid("ground", p.to_string())),
        }
        let sealed = if reason.is_empty() {
            None
        } else {
            Some(self.seal(LIFT_REASON, reason)?)
        };
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE restriction_requests SET lift_ground = $1, lifted_on = $2, lift_reason = $3,
                 lifted_at = $4, lifted_by = $5
             WHERE id = $6 AND lift_ground IS NULL",
        )
        .bind(ground.code())
        .bind(Day(on))
        .bind(sealed)
        .bind(Instant::now())
        .bind(by)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(
                RestrictionProblem::AlreadyLifted.to_string(),
            ));
        }
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "lift",
                record_type: "restriction_request",
                record_id: Some(id),
                patient_id: Some(grant.patient_id()),
                detail: format!("{}; {on}", ground.code()),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The restriction in force that refuses this disclosure, if any: the disclosure path's
    /// hook (no audit row of its own; the refusal is audited by the caller).
    pub(crate) async fn restriction_refusing(
        &self,
        patient_id: i64,
        recipient_id: i64,
        recipient_kind: RecipientKind,
        categories: &BTreeSet<InformationCategory>,
    ) -> Result<Option<i64>> {
        let records = self
            .restriction_rows("r.patient_id = $1 AND r.decision <> 'refused'", patient_id)
            .await?;
        let found = blocking_restriction(
            records.iter().map(|r| &r.restriction),
            recipient_id,
            recipient_kind,
            categories,
        );
        Ok(found.and_then(|hit| {
            records
                .iter()
                .find(|r| std::ptr::eq(&r.restriction, hit))
                .map(|r| r.id)
        }))
    }
}
