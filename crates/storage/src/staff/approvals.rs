//! Two-person rule (issue 11, item 8): a role that reads clinical text or discloses
//! (`Role::grant_needs_second_approval`) is given only when a second person agrees. One
//! administrator proposes it (creating the account, or changing its role); another administrator
//! or the privacy officer approves or refuses. Until then a new account stays inactive and an
//! existing one keeps its old role. The command line, acting as the system for whoever runs the
//! server, is not held to it (it sets up the first accounts).

use serde::Serialize;
use sqlx::{Any, FromRow, Transaction};
use trellis_domain::access::Role;

use super::revoke_tokens_of;
use crate::access::Actor;
use crate::audit::{self, AuditEvent};
use crate::{parse_code, Flag, Instant, Result, Store, StoreError};

/// A role waiting for a second person.
#[derive(Debug, Clone, FromRow, Serialize, PartialEq)]
pub struct RoleApproval {
    /// Id.
    pub id: i64,
    /// The account.
    pub user_id: i64,
    /// Its username.
    pub username: String,
    /// Its name.
    pub display_name: String,
    /// The role proposed (code).
    pub role: String,
    /// Whether the account was created for this role (and is inactive until approval).
    #[sqlx(try_from = "Flag")]
    pub activates: bool,
    /// Who proposed it.
    pub proposed_by: i64,
    /// Their name.
    pub proposed_by_name: String,
    /// When.
    pub proposed_at: Instant,
}

/// What a change of role did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleChange {
    /// Done.
    Applied,
    /// Proposed: waiting for a second administrator or the privacy officer (approval id).
    AwaitingApproval(i64),
}

/// Whether the actor giving `role` (to a new account, or one that had `from`) must wait for a
/// second person.
pub(super) fn needs_second_person(actor: &Actor, from: Option<Role>, role: Role) -> bool {
    actor.user_id.is_some()
        && match from {
            None => role.grant_needs_second_approval(),
            Some(from) => from.change_needs_second_approval(role),
        }
}

/// Records a proposal (replacing any open one for the account), audited as `propose_role`.
pub(super) async fn propose(
    tx: &mut Transaction<'static, Any>,
    actor: &Actor,
    user_id: i64,
    role: Role,
    activates: bool,
) -> Result<i64> {
    let proposed_by = actor.staff_id()?;
    let now = Instant::now();
    sqlx::query(
        "UPDATE role_approvals SET outcome = 'superseded', decided_by = $2, decided_at = $3
         WHERE user_id = $1 AND outcome IS NULL",
    )
    .bind(user_id)
    .bind(proposed_by)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO role_approvals (user_id, role, activates, proposed_by, proposed_at)
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(user_id)
    .bind(role.code())
    .bind(activates)
    .bind(proposed_by)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    audit::append(
        tx,
        actor,
        AuditEvent {
            action: "propose_role",
            record_type: "user",
            record_id: Some(user_id),
            patient_id: None,
            detail: format!("role {} awaits a second approval", role.code()),
        },
    )
    .await?;
    Ok(id)
}

/// Whether the account was created for a role still waiting for approval.
pub(super) async fn awaits_activation(
    tx: &mut Transaction<'static, Any>,
    user_id: i64,
) -> Result<bool> {
    let open: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM role_approvals WHERE user_id = $1 AND outcome IS NULL AND activates = $2",
    )
    .bind(user_id)
    .bind(true)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(open.is_some())
}

const APPROVAL_SELECT: &str = "SELECT a.id, a.user_id, u.username, u.display_name, a.role,
    a.activates, a.proposed_by, p.display_name AS proposed_by_name, a.proposed_at
    FROM role_approvals a JOIN users u ON u.id = a.user_id JOIN users p ON p.id = a.proposed_by";

fn may_approve(actor: &Actor) -> Result<i64> {
    if !actor.role.approves_roles() {
        return Err(StoreError::Denied(format!(
            "the {} role may not approve roles",
            actor.role.code()
        )));
    }
    actor.staff_id()
}

impl Store {
    /// Roles waiting for a second person, oldest first (administrators and the privacy officer).
    pub async fn role_approvals(&self, actor: &Actor) -> Result<Vec<RoleApproval>> {
        may_approve(actor)?;
        Ok(sqlx::query_as(&format!(
            "{APPROVAL_SELECT} WHERE a.outcome IS NULL ORDER BY a.proposed_at, a.id"
        ))
        .fetch_all(self.reader())
        .await?)
    }

    /// The open proposal for an account, if any.
    pub async fn role_awaiting_approval(&self, user_id: i64) -> Result<Option<RoleApproval>> {
        Ok(sqlx::query_as(&format!(
            "{APPROVAL_SELECT} WHERE a.outcome IS NULL AND a.user_id = $1"
        ))
        .bind(user_id)
        .fetch_optional(self.reader())
        .await?)
    }

    /// Approves or refuses a proposed role. The approver must be an administrator or the
    /// privacy officer, and neither the proposer nor the account itself. Approving gives the
    /// role at once (ending the account's sessions and revoking its tokens, as any role change
    /// does) and activates an account created for it.
    pub async fn decide_role_approval(
        &self,
        actor: &Actor,
        approval_id: i64,
        approve: bool,
    ) -> Result<()> {
        let approver = may_approve(actor)?;
        let mut tx = self.begin().await?;
        let row: Option<(i64, String, Flag, i64)> = sqlx::query_as(
            "SELECT user_id, role, activates, proposed_by FROM role_approvals
             WHERE id = $1 AND outcome IS NULL",
        )
        .bind(approval_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((user_id, role, activates, proposed_by)) = row else {
            return Err(StoreError::NotFound("role approval"));
        };
        let role: Role = parse_code(&role, "role")?;
        if approver == proposed_by || approver == user_id {
            return Err(StoreError::Conflict(
                "a second person must decide: not whoever proposed the role, nor its holder".into(),
            ));
        }
        let now = Instant::now();
        sqlx::query(
            "UPDATE role_approvals SET outcome = $2, decided_by = $3, decided_at = $4 WHERE id = $1",
        )
        .bind(approval_id)
        .bind(if approve { "approved" } else { "refused" })
        .bind(approver)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if approve {
            sqlx::query("UPDATE users SET role = $2 WHERE id = $1")
                .bind(user_id)
                .bind(role.code())
                .execute(&mut *tx)
                .await?;
            if activates.0 {
                sqlx::query("UPDATE users SET active = $2 WHERE id = $1")
                    .bind(user_id)
                    .bind(true)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query("DELETE FROM staff_sessions WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            revoke_tokens_of(&mut tx, user_id).await?;
        }
        audit::append(
            &mut tx,
            actor,
            AuditEvent {
                action: if approve {
                    "approve_role"
                } else {
                    "refuse_role"
                },
                record_type: "user",
                record_id: Some(user_id),
                patient_id: None,
                detail: format!("role {} proposed by user {proposed_by}", role.code()),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
