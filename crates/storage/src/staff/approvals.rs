//! Two-person rule (issue 11, item 8): a role that reads clinical text or discloses
//! (`Role::grant_needs_second_approval`) is given only when a second person agrees. One
//! administrator proposes it (creating the account, or changing its role); another administrator
//! or the privacy officer approves or refuses. Until then a new account stays inactive and an
//! existing one keeps its old role. The command line, acting as the system for whoever runs the
//! server, is not held to it (it sets up the first accounts).
//!
//! Removing an account's second factors (for a person who lost them) takes two people the same
//! way: one administrator requests it for another account, never their own; another
//! administrator or the privacy officer approves, and only then are the factors removed.
//!
//! So does taking over an account that has no second factor yet: for an account whose role
//! requires one (or reads clinical text or discloses), an administrator *requests* its enrolment
//! code and the second person who approves is the one shown the code, to hand over. Setting the
//! password is still one administrator's, but the password alone no longer gets in, the code
//! and the password are never in one pair of hands (the approver may not be whoever set the
//! current password, and a new password drops a code already issued), and switching the
//! second-factor requirement off for a role takes two people too. All wait in
//! `role_approvals`, told apart by their `kind`.

use serde::Serialize;
use sqlx::{Any, FromRow, Transaction};
use trellis_domain::access::Role;

use super::notices::{notify, CredentialChange};
use super::passkeys::remove_second_factors;
use super::{
    apply_mfa_policy, refuse_if_enrolled, revoke_tokens_of, store_enrolment_code, EnrolmentCode,
    StaffUser,
};
use crate::access::{can, Actor, Grant};
use crate::audit::{self, AuditEvent};
use crate::{parse_code, Flag, Instant, Result, Store, StoreError};

/// What a second person is asked to approve.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalKind {
    /// Giving the account a clinical or disclosing role.
    Role,
    /// Removing every second factor of the account (authenticator app and passkeys).
    SecondFactorReset,
    /// Issuing an enrolment code for the account (shown to whoever approves).
    EnrolmentCode,
    /// Switching the second-factor requirement off for a role; the account is the requester's.
    MfaPolicyOff,
}

impl ApprovalKind {
    /// Every kind, in the order the API lists them.
    pub const ALL: [ApprovalKind; 4] = [
        ApprovalKind::Role,
        ApprovalKind::SecondFactorReset,
        ApprovalKind::EnrolmentCode,
        ApprovalKind::MfaPolicyOff,
    ];

    /// The stored code.
    pub fn code(self) -> &'static str {
        match self {
            ApprovalKind::Role => "role",
            ApprovalKind::SecondFactorReset => "second_factor_reset",
            ApprovalKind::EnrolmentCode => "enrolment_code",
            ApprovalKind::MfaPolicyOff => "mfa_policy_off",
        }
    }
}

impl TryFrom<String> for ApprovalKind {
    type Error = String;

    fn try_from(code: String) -> std::result::Result<Self, String> {
        ApprovalKind::ALL
            .into_iter()
            .find(|k| k.code() == code)
            .ok_or_else(|| format!("unknown approval kind {code:?}"))
    }
}

/// A role, or the removal of an account's second factors, waiting for a second person.
#[derive(Debug, Clone, FromRow, Serialize, PartialEq)]
pub struct RoleApproval {
    /// Id.
    pub id: i64,
    /// What is to be approved.
    #[sqlx(try_from = "String")]
    pub kind: ApprovalKind,
    /// The account.
    pub user_id: i64,
    /// Its username.
    pub username: String,
    /// Its name.
    pub display_name: String,
    /// The role proposed (code); for a second-factor reset, the account's role when requested.
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

/// What deciding a request did.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Approved or refused; nothing to show.
    Decided,
    /// An enrolment code was issued: shown to the approver this once, to hand to the person.
    EnrolmentCodeIssued(EnrolmentCode),
}

/// What asking for an enrolment code did.
#[derive(Debug, Clone, PartialEq)]
pub enum EnrolmentIssue {
    /// Issued at once (the account's role needs no second person): shown this once.
    Issued(EnrolmentCode),
    /// Requested: another administrator or the privacy officer approves and is shown the code
    /// (approval id).
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
         WHERE user_id = $1 AND outcome IS NULL AND kind = $4",
    )
    .bind(user_id)
    .bind(proposed_by)
    .bind(now)
    .bind(ApprovalKind::Role.code())
    .execute(&mut **tx)
    .await?;
    let id = insert(
        tx,
        ApprovalKind::Role,
        user_id,
        role,
        activates,
        proposed_by,
    )
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

async fn insert(
    tx: &mut Transaction<'static, Any>,
    kind: ApprovalKind,
    user_id: i64,
    role: Role,
    activates: bool,
    proposed_by: i64,
) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO role_approvals (kind, user_id, role, activates, proposed_by, proposed_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(kind.code())
    .bind(user_id)
    .bind(role.code())
    .bind(activates)
    .bind(proposed_by)
    .bind(Instant::now())
    .fetch_one(&mut **tx)
    .await?)
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

/// The open request of a kind for an account, if any.
async fn open_request_for(
    tx: &mut Transaction<'static, Any>,
    kind: ApprovalKind,
    user_id: i64,
) -> Result<Option<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM role_approvals WHERE user_id = $1 AND outcome IS NULL AND kind = $2",
    )
    .bind(user_id)
    .bind(kind.code())
    .fetch_optional(&mut **tx)
    .await?)
}

/// Asks a second person to switch the second-factor requirement off for `role` (an open
/// request for it is answered with its id). Audited as `request_mfa_policy_off`.
pub(super) async fn request_mfa_policy_off(
    store: &Store,
    actor: &Actor,
    role: Role,
) -> Result<RoleChange> {
    let requester = actor.staff_id()?;
    let mut tx = store.begin().await?;
    let open: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM role_approvals WHERE role = $1 AND outcome IS NULL AND kind = $2
         ORDER BY id LIMIT 1",
    )
    .bind(role.code())
    .bind(ApprovalKind::MfaPolicyOff.code())
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(id) = open {
        return Ok(RoleChange::AwaitingApproval(id));
    }
    let id = insert(
        &mut tx,
        ApprovalKind::MfaPolicyOff,
        requester,
        role,
        false,
        requester,
    )
    .await?;
    audit::append(
        &mut tx,
        actor,
        AuditEvent {
            action: "request_mfa_policy_off",
            record_type: "role",
            record_id: None,
            patient_id: None,
            detail: format!("{} required false awaits a second approval", role.code()),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(RoleChange::AwaitingApproval(id))
}

/// Withdraws open requests to switch the requirement off for `role` once it is switched on
/// again: approving one later would undo a decision taken since.
pub(super) async fn supersede_mfa_policy_off(
    tx: &mut Transaction<'static, Any>,
    actor: &Actor,
    role: Role,
) -> Result<()> {
    sqlx::query(
        "UPDATE role_approvals SET outcome = 'superseded', decided_by = $3, decided_at = $4
         WHERE outcome IS NULL AND kind = $1 AND role = $2",
    )
    .bind(ApprovalKind::MfaPolicyOff.code())
    .bind(role.code())
    .bind(actor.user_id)
    .bind(Instant::now())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

const APPROVAL_SELECT: &str = "SELECT a.id, a.kind, a.user_id, u.username, u.display_name, a.role,
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
    /// Roles and second-factor resets waiting for a second person, oldest first
    /// (administrators and the privacy officer).
    pub async fn role_approvals(&self, actor: &Actor) -> Result<Vec<RoleApproval>> {
        may_approve(actor)?;
        Ok(sqlx::query_as(&format!(
            "{APPROVAL_SELECT} WHERE a.outcome IS NULL ORDER BY a.proposed_at, a.id"
        ))
        .fetch_all(&mut *self.read_conn().await?)
        .await?)
    }

    /// The open proposal of a role for an account, if any.
    pub async fn role_awaiting_approval(&self, user_id: i64) -> Result<Option<RoleApproval>> {
        self.awaiting_approval(user_id, ApprovalKind::Role).await
    }

    /// The open request to remove an account's second factors, if any.
    pub async fn second_factor_reset_awaiting_approval(
        &self,
        user_id: i64,
    ) -> Result<Option<RoleApproval>> {
        self.awaiting_approval(user_id, ApprovalKind::SecondFactorReset)
            .await
    }

    async fn awaiting_approval(
        &self,
        user_id: i64,
        kind: ApprovalKind,
    ) -> Result<Option<RoleApproval>> {
        Ok(sqlx::query_as(&format!(
            "{APPROVAL_SELECT} WHERE a.outcome IS NULL AND a.user_id = $1 AND a.kind = $2"
        ))
        .bind(user_id)
        .bind(kind.code())
        .fetch_optional(&mut *self.read_conn().await?)
        .await?)
    }

    /// Requests the removal of every second factor of another account (for a person who lost
    /// them): nothing is removed until another administrator or the privacy officer approves
    /// (`decide_role_approval`). An administrator never requests it for their own account. An
    /// open request for the account is answered with its id rather than a second one. Audited
    /// as `request_mfa_reset`.
    pub async fn request_second_factor_reset(
        &self,
        grant: &Grant<can::ManageUsers>,
        user_id: i64,
    ) -> Result<i64> {
        let actor = grant.actor();
        let requester = actor.staff_id()?;
        let user = self.staff_user(user_id).await?;
        if requester == user_id {
            return Err(StoreError::Conflict(
                "your own second factors are replaced from your Security page, not reset by an administrator".into(),
            ));
        }
        let role: Role = parse_code(&user.role, "role")?;
        let mut tx = self.begin().await?;
        if let Some(id) =
            open_request_for(&mut tx, ApprovalKind::SecondFactorReset, user_id).await?
        {
            return Ok(id);
        }
        let id = insert(
            &mut tx,
            ApprovalKind::SecondFactorReset,
            user_id,
            role,
            false,
            requester,
        )
        .await?;
        audit::append(
            &mut tx,
            actor,
            AuditEvent {
                action: "request_mfa_reset",
                record_type: "user",
                record_id: Some(user_id),
                patient_id: None,
                detail: "removal of every second factor awaits a second approval".into(),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Whether an enrolment code for `user` takes two people when `actor` asks: a person (the
    /// command line sets up the first accounts alone) asking for an account whose role requires
    /// a second factor, or reads clinical text or discloses.
    pub async fn enrolment_code_needs_second_person(
        &self,
        actor: &Actor,
        user: &StaffUser,
    ) -> Result<bool> {
        if actor.user_id.is_none() {
            return Ok(false);
        }
        let role: Role = parse_code(&user.role, "role")?;
        Ok(role.grant_needs_second_approval() || self.mfa_required(role).await?)
    }

    /// Asks for an enrolment code for an account without a second factor: issued at once when
    /// one person may ([`Store::enrolment_code_needs_second_person`]), else requested (an open
    /// request is answered with its id) for another administrator or the privacy officer to
    /// approve, who is then shown the code. Audited (`request_enrolment_code`).
    pub async fn request_enrolment_code(
        &self,
        grant: &Grant<can::ManageUsers>,
        user_id: i64,
    ) -> Result<EnrolmentIssue> {
        let actor = grant.actor();
        let user = self.staff_user(user_id).await?;
        refuse_if_enrolled(&user)?;
        if !self
            .enrolment_code_needs_second_person(actor, &user)
            .await?
        {
            return Ok(EnrolmentIssue::Issued(
                self.issue_enrolment_code(grant, user_id).await?,
            ));
        }
        let role: Role = parse_code(&user.role, "role")?;
        let requester = actor.staff_id()?;
        let mut tx = self.begin().await?;
        if let Some(id) = open_request_for(&mut tx, ApprovalKind::EnrolmentCode, user_id).await? {
            return Ok(EnrolmentIssue::AwaitingApproval(id));
        }
        let id = insert(
            &mut tx,
            ApprovalKind::EnrolmentCode,
            user_id,
            role,
            false,
            requester,
        )
        .await?;
        audit::append(
            &mut tx,
            actor,
            AuditEvent {
                action: "request_enrolment_code",
                record_type: "user",
                record_id: Some(user_id),
                patient_id: None,
                detail: "an enrolment code awaits a second approval".into(),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(EnrolmentIssue::AwaitingApproval(id))
    }

    /// The open request for an account's enrolment code, if any.
    pub async fn enrolment_code_awaiting_approval(
        &self,
        user_id: i64,
    ) -> Result<Option<RoleApproval>> {
        self.awaiting_approval(user_id, ApprovalKind::EnrolmentCode)
            .await
    }

    /// Approves or refuses a proposed role, second-factor reset, enrolment code or switching
    /// off of the second-factor requirement. The approver must be an administrator or the
    /// privacy officer, and neither the proposer nor the account itself. Approving a role gives
    /// it at once (ending the account's sessions and revoking its tokens, as any role change
    /// does) and activates an account created for it; approving a reset removes the account's
    /// authenticator app and passkeys and ends its sessions; approving an enrolment code issues
    /// it to the approver (never to whoever set the account's current password); approving the
    /// policy switches the requirement off.
    pub async fn decide_role_approval(
        &self,
        actor: &Actor,
        approval_id: i64,
        approve: bool,
    ) -> Result<Decision> {
        let approver = may_approve(actor)?;
        let mut tx = self.begin().await?;
        let row: Option<(String, i64, String, Flag, i64)> = sqlx::query_as(
            "SELECT kind, user_id, role, activates, proposed_by FROM role_approvals
             WHERE id = $1 AND outcome IS NULL",
        )
        .bind(approval_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((kind, user_id, role, activates, proposed_by)) = row else {
            return Err(StoreError::NotFound("role approval"));
        };
        let kind = ApprovalKind::try_from(kind).map_err(StoreError::Corrupt)?;
        let role: Role = parse_code(&role, "role")?;
        if approver == proposed_by || approver == user_id {
            return Err(StoreError::Conflict(match kind {
                ApprovalKind::Role => {
                    "a second person must decide: not whoever proposed the role, nor its holder"
                }
                ApprovalKind::SecondFactorReset => {
                    "a second person must decide: not whoever requested the reset, nor the account's holder"
                }
                ApprovalKind::EnrolmentCode => {
                    "a second person must decide: not whoever requested the enrolment code, nor the account's holder"
                }
                ApprovalKind::MfaPolicyOff => {
                    "a second person must decide: not whoever asked to switch two-step verification off"
                }
            }
            .into()));
        }
        if kind == ApprovalKind::EnrolmentCode && approve {
            let password_set_by: Option<i64> =
                sqlx::query_scalar("SELECT password_set_by FROM users WHERE id = $1")
                    .bind(user_id)
                    .fetch_one(&mut *tx)
                    .await?;
            if password_set_by == Some(approver) {
                return Err(StoreError::Conflict(
                    "you set this account's password, so another person must issue its enrolment code: the password and the code are never in one person's hands".into(),
                ));
            }
            refuse_if_enrolled(&self.staff_user(user_id).await?)?;
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
        let decision = match kind {
            ApprovalKind::SecondFactorReset => {
                let detail = if approve {
                    let removed = remove_second_factors(&mut tx, user_id).await?;
                    notify(
                        &mut tx,
                        actor,
                        user_id,
                        CredentialChange::SecondFactorsRemoved,
                    )
                    .await?;
                    format!(
                        "requested by user {proposed_by}; authenticator app and {removed} passkey(s) removed; sessions ended"
                    )
                } else {
                    format!("requested by user {proposed_by}; second factors kept")
                };
                let action = if approve {
                    "mfa_reset"
                } else {
                    "refuse_mfa_reset"
                };
                decided(&mut tx, actor, action, "user", Some(user_id), detail).await?;
                Decision::Decided
            }
            ApprovalKind::EnrolmentCode if approve => {
                let how = format!("; requested by user {proposed_by}, issued to the approver");
                let code = store_enrolment_code(&mut tx, actor, user_id, &how).await?;
                Decision::EnrolmentCodeIssued(code)
            }
            ApprovalKind::EnrolmentCode => {
                let detail = format!("requested by user {proposed_by}");
                let action = "refuse_enrolment_code";
                decided(&mut tx, actor, action, "user", Some(user_id), detail).await?;
                Decision::Decided
            }
            ApprovalKind::MfaPolicyOff if approve => {
                let how = format!("; requested by user {proposed_by}");
                apply_mfa_policy(&mut tx, actor, role, false, &how).await?;
                Decision::Decided
            }
            ApprovalKind::MfaPolicyOff => {
                let detail = format!(
                    "{} stays required; requested by user {proposed_by}",
                    role.code()
                );
                decided(
                    &mut tx,
                    actor,
                    "refuse_mfa_policy_off",
                    "role",
                    None,
                    detail,
                )
                .await?;
                Decision::Decided
            }
            ApprovalKind::Role => {
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
                    } else {
                        notify(&mut tx, actor, user_id, CredentialChange::RoleChanged).await?;
                    }
                    sqlx::query("DELETE FROM staff_sessions WHERE user_id = $1")
                        .bind(user_id)
                        .execute(&mut *tx)
                        .await?;
                    revoke_tokens_of(&mut tx, user_id).await?;
                }
                let action = if approve {
                    "approve_role"
                } else {
                    "refuse_role"
                };
                let detail = format!("role {} proposed by user {proposed_by}", role.code());
                decided(&mut tx, actor, action, "user", Some(user_id), detail).await?;
                Decision::Decided
            }
        };
        tx.commit().await?;
        Ok(decision)
    }
}

/// Audits a decision.
async fn decided(
    tx: &mut Transaction<'static, Any>,
    actor: &Actor,
    action: &'static str,
    record_type: &'static str,
    record_id: Option<i64>,
    detail: String,
) -> Result<()> {
    audit::append(
        tx,
        actor,
        AuditEvent {
            action,
            record_type,
            record_id,
            patient_id: None,
            detail,
        },
    )
    .await
}
