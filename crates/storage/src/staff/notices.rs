//! Credential notices (ASVS 2.2.3, 2.5.x): every change to a person's credentials, by anyone
//! (an administrator, the command line, or a session of their own that may not be theirs), is
//! recorded for them. They see it at their next sign-in and on their Security page until they
//! acknowledge it. Trellis has no email sender, so this is how the person hears of it.

use serde::Serialize;
use sqlx::{Any, FromRow, Transaction};

use crate::access::Actor;
use crate::audit::{self, AuditEvent};
use crate::{Instant, Result, Store, StoreError};

/// What changed on the account.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CredentialChange {
    /// Someone else set a new password.
    PasswordSet,
    /// The password was changed from one of the person's own sessions.
    PasswordChanged,
    /// A first second factor was set up (authenticator app or passkey).
    SecondFactorEnrolled,
    /// The authenticator app was replaced.
    AuthenticatorReplaced,
    /// Every second factor was removed (two administrators).
    SecondFactorsRemoved,
    /// A passkey was added.
    PasskeyAdded,
    /// A passkey was removed.
    PasskeyRemoved,
    /// An enrolment code was issued for the account.
    EnrolmentCodeIssued,
    /// The account's role changed.
    RoleChanged,
}

impl CredentialChange {
    /// Every change, in a fixed order.
    pub const ALL: [CredentialChange; 9] = [
        CredentialChange::PasswordSet,
        CredentialChange::PasswordChanged,
        CredentialChange::SecondFactorEnrolled,
        CredentialChange::AuthenticatorReplaced,
        CredentialChange::SecondFactorsRemoved,
        CredentialChange::PasskeyAdded,
        CredentialChange::PasskeyRemoved,
        CredentialChange::EnrolmentCodeIssued,
        CredentialChange::RoleChanged,
    ];

    /// The stored code.
    pub fn code(self) -> &'static str {
        match self {
            CredentialChange::PasswordSet => "password_set",
            CredentialChange::PasswordChanged => "password_changed",
            CredentialChange::SecondFactorEnrolled => "second_factor_enrolled",
            CredentialChange::AuthenticatorReplaced => "authenticator_replaced",
            CredentialChange::SecondFactorsRemoved => "second_factors_removed",
            CredentialChange::PasskeyAdded => "passkey_added",
            CredentialChange::PasskeyRemoved => "passkey_removed",
            CredentialChange::EnrolmentCodeIssued => "enrolment_code_issued",
            CredentialChange::RoleChanged => "role_changed",
        }
    }

    /// What the person is told.
    pub fn label(self) -> &'static str {
        match self {
            CredentialChange::PasswordSet => "Your password was set by an administrator",
            CredentialChange::PasswordChanged => "Your password was changed",
            CredentialChange::SecondFactorEnrolled => "Two-step verification was set up",
            CredentialChange::AuthenticatorReplaced => "Your authenticator app was replaced",
            CredentialChange::SecondFactorsRemoved => {
                "Your two-step verification (authenticator app and passkeys) was removed"
            }
            CredentialChange::PasskeyAdded => "A passkey was added",
            CredentialChange::PasskeyRemoved => "A passkey was removed",
            CredentialChange::EnrolmentCodeIssued => {
                "An enrolment code for setting up two-step verification was issued"
            }
            CredentialChange::RoleChanged => "Your role was changed",
        }
    }
}

impl TryFrom<String> for CredentialChange {
    type Error = String;

    fn try_from(code: String) -> std::result::Result<Self, String> {
        CredentialChange::ALL
            .into_iter()
            .find(|c| c.code() == code)
            .ok_or_else(|| format!("unknown credential change {code:?}"))
    }
}

/// A change to one's credentials not yet acknowledged.
#[derive(Debug, Clone, FromRow, Serialize, PartialEq)]
pub struct CredentialNotice {
    /// Id.
    pub id: i64,
    /// What changed.
    #[sqlx(try_from = "String")]
    pub change: CredentialChange,
    /// Who changed it: a name, or none for the command line.
    pub changed_by_name: Option<String>,
    /// Whether the person changed it themselves (from one of their sessions).
    pub changed_by: Option<i64>,
    /// When.
    pub at: Instant,
}

/// Records a change to `user_id`'s credentials made by `actor`, in the caller's transaction.
pub(crate) async fn notify(
    tx: &mut Transaction<'static, Any>,
    actor: &Actor,
    user_id: i64,
    change: CredentialChange,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO credential_notices (user_id, change, changed_by, at) VALUES ($1, $2, $3, $4)",
    )
    .bind(user_id)
    .bind(change.code())
    .bind(actor.user_id)
    .bind(Instant::now())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Store {
    /// The changes to a person's credentials they have not acknowledged, newest first (at most
    /// 100: each is one change, and a person acknowledges them all at once).
    pub async fn credential_notices(&self, user_id: i64) -> Result<Vec<CredentialNotice>> {
        Ok(sqlx::query_as(
            "SELECT n.id, n.change, u.display_name AS changed_by_name, n.changed_by, n.at
             FROM credential_notices n LEFT JOIN users u ON u.id = n.changed_by
             WHERE n.user_id = $1 AND n.acknowledged_at IS NULL
             ORDER BY n.at DESC, n.id DESC LIMIT 100",
        )
        .bind(user_id)
        .fetch_all(&mut *self.read_conn().await?)
        .await?)
    }

    /// The signed-in person acknowledges every notice shown to them up to `up_to` (the newest
    /// id they saw), so one that arrived since stays. Audited as `acknowledge_notices`.
    pub async fn acknowledge_credential_notices(&self, actor: &Actor, up_to: i64) -> Result<u64> {
        let user_id = actor.staff_id()?;
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE credential_notices SET acknowledged_at = $3
             WHERE user_id = $1 AND id <= $2 AND acknowledged_at IS NULL",
        )
        .bind(user_id)
        .bind(up_to)
        .bind(Instant::now())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if done == 0 {
            return Err(StoreError::NotFound("credential notice"));
        }
        audit::append(
            &mut tx,
            actor,
            AuditEvent {
                action: "acknowledge_notices",
                record_type: "user",
                record_id: Some(user_id),
                patient_id: None,
                detail: format!("{done} credential notice(s)"),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(done)
    }
}
