//! The auditor's sign-in (42 CFR 2.53): an account bound to one audit or evaluation agreement
//! reviews, on screen and read-only, what that agreement covers: its program's patients, its
//! information categories, within its period and only until it ends. Each review is audited
//! like a staff read and kept for the privacy officer, who sees it on the agreement's page.

use chrono::{NaiveDate, Utc};
use serde::Serialize;
use std::collections::BTreeSet;
use trellis_domain::access::Role;
use trellis_domain::consent::{
    check_authorised, AuthorisedRequest, AuthorityKind, AuthorityRefusal, InformationCategory,
    Terms,
};

use super::authorities::AuthorityRecord;
use super::{category_codes, PacketDetail, PacketSection};
use crate::access::{can, Actor, Grant, PatientGrant};
use crate::audit::{self, AuditEvent};
use crate::staff::NewStaff;
use crate::{Instant, Result, Store, StoreError};

/// What an auditor may review, and whether they may review it now.
#[derive(Debug, Clone)]
pub struct AuditorScope {
    /// The agreement.
    pub authority_id: i64,
    /// Who the audit or evaluation is for.
    pub body_name: String,
    /// What it covers, in the agreement's words.
    pub scope: String,
    /// The information it allows.
    pub categories: BTreeSet<InformationCategory>,
    /// Its first day.
    pub starts_on: Option<NaiveDate>,
    /// Its last day.
    pub ends_on: Option<NaiveDate>,
    /// The program whose patients it covers (none: every program).
    pub program: Option<String>,
    /// Why nothing may be reviewed now (ended early, outside its period), if so.
    pub refusal: Option<AuthorityRefusal>,
}

/// One patient's record as the auditor reviews it: only the agreement's categories.
#[derive(Debug, Clone, Serialize)]
pub struct AuditorReview {
    /// The patient.
    pub patient_id: i64,
    /// The record, category by category, as it stands.
    pub sections: Vec<PacketSection>,
}

/// An auditor account bound to an agreement.
#[derive(Debug, Clone, Serialize)]
pub struct AuditorAccount {
    /// The account.
    pub user_id: i64,
    /// Its username.
    pub username: String,
    /// The person's name.
    pub display_name: String,
    /// Whether it may sign in (inactive until the second person approves).
    pub active: bool,
    /// The program it covers (none: every program).
    pub program: Option<String>,
}

/// One review an auditor made under an agreement (ids and dates only).
#[derive(Debug, Clone, Serialize)]
pub struct AuditorRead {
    /// The review's id.
    pub id: i64,
    /// The auditor's username.
    pub username: String,
    /// Whose record.
    pub patient_id: i64,
    /// What was shown, as category codes.
    pub categories: Vec<String>,
    /// When.
    pub reviewed_at: Instant,
}

impl Store {
    /// Creates an auditor account bound to audit or evaluation agreement `authority_id` and, if
    /// given, one program. Like every role that reads patient records it stays inactive until a
    /// second person approves (`staff::approvals`).
    pub async fn create_auditor(
        &self,
        grant: &Grant<can::ManageUsers>,
        new: &NewStaff,
        authority_id: Option<i64>,
        program_id: Option<i64>,
    ) -> Result<i64> {
        if new.role != Role::Auditor {
            return Err(StoreError::invalid(
                "role",
                "only an auditor account is bound to an agreement",
            ));
        }
        let Some(authority_id) = authority_id else {
            return Err(StoreError::invalid(
                "authority_id",
                "give the number of the audit or evaluation agreement",
            ));
        };
        let row: Option<(String, Option<Instant>, crate::Day)> = sqlx::query_as(
            "SELECT kind, ended_at, ends_on FROM disclosure_authorities WHERE id = $1",
        )
        .bind(authority_id)
        .fetch_optional(&mut *self.read_conn().await?)
        .await?;
        match row {
            Some((kind, ended_at, ends_on))
                if kind == AuthorityKind::AuditEvaluation.code()
                    && ended_at.is_none()
                    && ends_on.0 >= Utc::now().date_naive() => {}
            Some((kind, _, _)) if kind == AuthorityKind::AuditEvaluation.code() => {
                return Err(StoreError::invalid(
                    "authority_id",
                    "this audit or evaluation agreement has ended",
                ))
            }
            _ => {
                return Err(StoreError::invalid(
                    "authority_id",
                    "is not an audit or evaluation agreement (42 CFR 2.53) on file",
                ))
            }
        }
        if let Some(program_id) = program_id {
            let found: Option<i64> = sqlx::query_scalar("SELECT id FROM programs WHERE id = $1")
                .bind(program_id)
                .fetch_optional(&mut *self.read_conn().await?)
                .await?;
            if found.is_none() {
                return Err(StoreError::invalid("program_id", "is not a program"));
            }
        }
        // None when the command line sets up the account.
        let by = grant.actor().user_id;
        let mut tx = self.begin().await?;
        let id = self.create_staff_in(&mut tx, grant, new).await?;
        sqlx::query(
            "INSERT INTO auditor_accounts (user_id, authority_id, program_id, bound_at, bound_by)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(authority_id)
        .bind(program_id)
        .bind(Instant::now())
        .bind(by)
        .execute(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "create",
                record_type: "auditor_account",
                record_id: Some(id),
                patient_id: None,
                detail: format!("bound to audit_evaluation {authority_id}"),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The agreement the signed-in auditor is bound to, and whether it lets them review now.
    pub async fn auditor_scope(
        &self,
        grant: &Grant<can::ReviewUnderAgreement>,
    ) -> Result<AuditorScope> {
        let user_id = grant.actor().staff_id()?;
        let row: Option<(i64, Option<String>)> = sqlx::query_as(
            "SELECT aa.authority_id, pr.name FROM auditor_accounts aa
             LEFT JOIN programs pr ON pr.id = aa.program_id WHERE aa.user_id = $1",
        )
        .bind(user_id)
        .fetch_optional(&mut *self.read_conn().await?)
        .await?;
        let Some((authority_id, program)) = row else {
            return Err(StoreError::Denied(
                "this account is bound to no audit or evaluation agreement".into(),
            ));
        };
        let record = self.authority_on_file(authority_id).await?;
        Ok(scope_of(&record, program))
    }

    /// The patients the auditor's agreement covers (medical record numbers only), by id, `limit`
    /// from `offset`; audited. Refused once the agreement has ended or outside its period.
    pub async fn auditor_patients(
        &self,
        grant: &Grant<can::ReviewUnderAgreement>,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<i64>> {
        let scope = self.auditor_scope(grant).await?;
        self.refuse_outside(grant.actor(), &scope, None).await?;
        let ids: Vec<i64> = sqlx::query_scalar(&format!(
            "SELECT p.id FROM patients p WHERE {} ORDER BY p.id LIMIT $2 OFFSET $3",
            crate::access::patient_set_scope_sql(Role::Auditor, "$1")
        ))
        .bind(grant.actor().staff_id()?)
        .bind(limit)
        .bind(offset)
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        audit::record(
            self,
            grant.actor(),
            AuditEvent {
                action: "read",
                record_type: "auditor_review",
                record_id: Some(scope.authority_id),
                patient_id: None,
                detail: format!(
                    "audit_evaluation {}; {} patients listed",
                    scope.authority_id,
                    ids.len()
                ),
            },
        )
        .await?;
        Ok(ids)
    }

    /// One patient's record within the agreement's categories, as it stands, for the auditor to
    /// review on screen. The grant proves the patient is within the agreement's program; the
    /// agreement must be in effect at this moment. Kept for the privacy officer and audited.
    pub async fn auditor_review(
        &self,
        grant: &PatientGrant<can::ReviewUnderAgreement>,
    ) -> Result<AuditorReview> {
        let actor = grant.actor();
        let patient_id = grant.patient_id();
        let by = actor.staff_id()?;
        let scope = self
            .auditor_scope(&self.grant::<can::ReviewUnderAgreement>(actor)?)
            .await?;
        self.refuse_outside(actor, &scope, Some(patient_id)).await?;
        let sections = self
            .packet_sections(patient_id, &scope.categories, by, PacketDetail::default())
            .await?;
        let codes = category_codes(&scope.categories);
        let mut tx = self.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO auditor_reviews (authority_id, user_id, patient_id, categories, reviewed_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(scope.authority_id)
        .bind(by)
        .bind(patient_id)
        .bind(&codes)
        .bind(Instant::now())
        .fetch_one(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            actor,
            AuditEvent {
                action: "read",
                record_type: "auditor_review",
                record_id: Some(id),
                patient_id: Some(patient_id),
                detail: format!(
                    "audit_evaluation {}; categories {codes}",
                    scope.authority_id
                ),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(AuditorReview {
            patient_id,
            sections,
        })
    }

    /// Refuses (audited) when the agreement does not let the auditor review now.
    async fn refuse_outside(
        &self,
        actor: &Actor,
        scope: &AuditorScope,
        patient_id: Option<i64>,
    ) -> Result<()> {
        let Some(refusal) = &scope.refusal else {
            return Ok(());
        };
        audit::record(
            self,
            actor,
            AuditEvent {
                action: "access_denied",
                record_type: "auditor_review",
                record_id: Some(scope.authority_id),
                patient_id,
                detail: format!(
                    "audit_evaluation {}; {}",
                    scope.authority_id,
                    refusal.code()
                ),
            },
        )
        .await?;
        Err(StoreError::Denied(refusal.to_string()))
    }

    /// The auditor accounts bound to agreement `authority_id`, for the privacy officer.
    pub async fn auditor_accounts(
        &self,
        _grant: &Grant<can::DiscloseWithoutConsent>,
        authority_id: i64,
    ) -> Result<Vec<AuditorAccount>> {
        let rows: Vec<(i64, String, String, crate::Flag, Option<String>)> = sqlx::query_as(
            "SELECT u.id, u.username, u.display_name, u.active, pr.name
             FROM auditor_accounts aa JOIN users u ON u.id = aa.user_id
             LEFT JOIN programs pr ON pr.id = aa.program_id
             WHERE aa.authority_id = $1 ORDER BY u.id",
        )
        .bind(authority_id)
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(user_id, username, display_name, active, program)| AuditorAccount {
                    user_id,
                    username,
                    display_name,
                    active: active.0,
                    program,
                },
            )
            .collect())
    }

    /// The reviews auditors made under agreement `authority_id`, newest first, `limit` from
    /// `offset` (audited: the list names patients by id).
    pub async fn auditor_reads(
        &self,
        grant: &Grant<can::DiscloseWithoutConsent>,
        authority_id: i64,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<AuditorRead>> {
        let rows: Vec<(i64, String, i64, String, Instant)> = sqlx::query_as(
            "SELECT r.id, u.username, r.patient_id, r.categories, r.reviewed_at
             FROM auditor_reviews r JOIN users u ON u.id = r.user_id
             WHERE r.authority_id = $1 ORDER BY r.id DESC LIMIT $2 OFFSET $3",
        )
        .bind(authority_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        audit::record(
            self,
            grant.actor(),
            AuditEvent {
                action: "read",
                record_type: "auditor_review",
                record_id: None,
                patient_id: None,
                detail: format!(
                    "audit_evaluation {authority_id}; {} reviews listed",
                    rows.len()
                ),
            },
        )
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(id, username, patient_id, codes, reviewed_at)| AuditorRead {
                    id,
                    username,
                    patient_id,
                    categories: codes
                        .split(',')
                        .filter(|c| !c.is_empty())
                        .map(str::to_owned)
                        .collect(),
                    reviewed_at,
                },
            )
            .collect())
    }
}

/// The auditor's scope from the agreement on file, checked as of now: the whole agreement's
/// information, to its recipient, today (UTC, as agreements have no patient's site).
fn scope_of(record: &AuthorityRecord, program: Option<String>) -> AuditorScope {
    let a = &record.authority;
    let now = Utc::now();
    let (body_name, scope) = match &a.terms {
        Terms::AuditEvaluation {
            body_name, scope, ..
        } => (body_name.clone(), scope.clone()),
        _ => (String::new(), String::new()),
    };
    let refusal = if a.kind() == AuthorityKind::AuditEvaluation {
        check_authorised(
            a,
            &AuthorisedRequest {
                recipient_id: a.recipient_id,
                categories: a.categories.clone(),
                on: now.date_naive(),
                at: now,
                patient_named: true,
            },
        )
        .err()
    } else {
        Some(AuthorityRefusal::NothingRequested)
    };
    AuditorScope {
        authority_id: record.id,
        body_name,
        scope,
        categories: a.categories.clone(),
        starts_on: a.starts_on,
        ends_on: a.ends_on,
        program,
        refusal,
    }
}
