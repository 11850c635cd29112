//! Passkeys (WebAuthn) as a second factor: the credentials a person set up, the ceremony that
//! waits on a session, set-up under the same rule as a first authenticator app, sign-in failures
//! counted toward the same lockout as wrong codes, removal by the holder and reset by an
//! administrator. The WebAuthn checks themselves are the web layer's (the `webauthn-rs` crate);
//! this module keeps their records and decides what each outcome does to the account.

use chrono::Duration;
use serde::Serialize;
use sqlx::FromRow;

use super::notices::{notify, CredentialChange};
use super::{
    end_session_and_half_sessions, enrolment_code_matches, secret_hash, EnrolmentOutcome,
    SecondFactorAttempt, SecondFactorOutcome, SetUpFailure,
};
use crate::access::Actor;
use crate::audit::{self, AuditEvent};
use crate::org::unique_violation;
use crate::{parse_code, Flag, Instant, Result, Store, StoreError};

/// How long a started set-up or sign-in waits for the authenticator's answer.
pub const PASSKEY_CEREMONY_MINUTES: i64 = 5;
/// The longest name a passkey may be given.
pub const MAX_PASSKEY_NAME_LEN: usize = 60;

/// Which WebAuthn ceremony is waiting on a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ceremony {
    /// Setting up a new passkey.
    SetUp,
    /// Signing in with a passkey after the password.
    SignIn,
}

impl Ceremony {
    fn code(self) -> &'static str {
        match self {
            Ceremony::SetUp => "set_up",
            Ceremony::SignIn => "sign_in",
        }
    }
}

/// A passkey as its holder sees it listed (never the credential record).
#[derive(Debug, Clone, FromRow, Serialize, PartialEq)]
pub struct PasskeyInfo {
    /// Id.
    pub id: i64,
    /// The name its holder gave it ("work laptop").
    pub name: String,
    /// When it was set up.
    pub created_at: Instant,
    /// When it last signed in.
    pub last_used_at: Option<Instant>,
}

/// A passkey's credential record, for a ceremony.
#[derive(Debug, Clone, FromRow, PartialEq)]
pub struct PasskeyCredential {
    /// Id.
    pub id: i64,
    /// The credential id, base64url.
    pub credential_id: String,
    /// The WebAuthn library's record (public key, counter), JSON.
    pub credential: String,
}

/// A passkey the authenticator has just made, checked against its set-up ceremony.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPasskey {
    /// The credential id, base64url.
    pub credential_id: String,
    /// The name its holder gives it.
    pub name: String,
    /// The WebAuthn library's record, JSON.
    pub credential: String,
}

/// A passkey that answered a sign-in correctly, with its record as updated (the counter).
#[derive(Debug, Clone, PartialEq)]
pub struct PasskeyUse {
    /// The credential id, base64url.
    pub credential_id: String,
    /// The record with its new signature counter, JSON.
    pub credential: String,
}

/// A passkey's name as kept: trimmed, "Passkey" when left blank, at most
/// [`MAX_PASSKEY_NAME_LEN`] characters.
pub fn passkey_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.chars().count() > MAX_PASSKEY_NAME_LEN {
        return Err(StoreError::invalid(
            "name",
            format!("must be at most {MAX_PASSKEY_NAME_LEN} characters"),
        ));
    }
    Ok(if name.is_empty() { "Passkey" } else { name }.to_owned())
}

#[derive(FromRow)]
struct Account {
    username: String,
    role: String,
    failed_logins: i64,
    locked_until: Option<Instant>,
    #[sqlx(try_from = "Flag")]
    mfa_enabled: bool,
    enrolment_code_hash: Option<String>,
    enrolment_code_expires_at: Option<Instant>,
}

impl Account {
    fn actor(&self, user_id: i64, ip: &str) -> Result<Actor> {
        Ok(Actor {
            user_id: Some(user_id),
            username: self.username.clone(),
            role: parse_code(&self.role, "role")?,
            ip: Some(ip.to_owned()),
            request_id: None,
        })
    }
}

const ACCOUNT_SELECT: &str = "SELECT username, role, failed_logins, locked_until, mfa_enabled,
    enrolment_code_hash, enrolment_code_expires_at FROM users WHERE id = $1";

impl Store {
    /// A person's passkeys, oldest first.
    pub async fn passkeys(&self, user_id: i64) -> Result<Vec<PasskeyInfo>> {
        Ok(sqlx::query_as(
            "SELECT id, name, created_at, last_used_at FROM passkeys WHERE user_id = $1 ORDER BY id",
        )
        .bind(user_id)
        .fetch_all(&mut *self.read_conn().await?)
        .await?)
    }

    /// The credential records of a person's passkeys, for a ceremony.
    pub async fn passkey_credentials(&self, user_id: i64) -> Result<Vec<PasskeyCredential>> {
        Ok(sqlx::query_as(
            "SELECT id, credential_id, credential FROM passkeys WHERE user_id = $1 ORDER BY id",
        )
        .bind(user_id)
        .fetch_all(self.writer())
        .await?)
    }

    /// Keeps a started ceremony's state on the session, replacing any earlier one.
    pub async fn begin_passkey_ceremony(
        &self,
        session_secret: &str,
        ceremony: Ceremony,
        state: &str,
    ) -> Result<()> {
        let kept = sqlx::query(
            "UPDATE staff_sessions SET passkey_ceremony = $2, passkey_ceremony_kind = $3,
                 passkey_ceremony_at = $4
             WHERE id_hash = $1",
        )
        .bind(secret_hash(session_secret))
        .bind(state)
        .bind(ceremony.code())
        .bind(Instant::now())
        .execute(self.writer())
        .await?
        .rows_affected();
        if kept == 0 {
            return Err(StoreError::NotFound("session"));
        }
        Ok(())
    }

    /// Takes the session's waiting ceremony of this kind: once only (a second take, or one
    /// racing it, finds nothing, so an answer cannot be replayed), and only within
    /// [`PASSKEY_CEREMONY_MINUTES`]. Any ceremony waiting is discarded either way.
    pub async fn take_passkey_ceremony(
        &self,
        session_secret: &str,
        ceremony: Ceremony,
    ) -> Result<Option<String>> {
        let id_hash = secret_hash(session_secret);
        let row: Option<(Option<String>, Option<String>, Option<Instant>)> = sqlx::query_as(
            "SELECT passkey_ceremony, passkey_ceremony_kind, passkey_ceremony_at
             FROM staff_sessions WHERE id_hash = $1",
        )
        .bind(&id_hash)
        .fetch_optional(self.writer())
        .await?;
        let Some((Some(state), Some(kind), Some(at))) = row else {
            return Ok(None);
        };
        // Cleared only if still the same state: of two concurrent takes, one wins.
        let taken = sqlx::query(
            "UPDATE staff_sessions SET passkey_ceremony = NULL, passkey_ceremony_kind = NULL,
                 passkey_ceremony_at = NULL
             WHERE id_hash = $1 AND passkey_ceremony = $2",
        )
        .bind(&id_hash)
        .bind(&state)
        .execute(self.writer())
        .await?
        .rows_affected();
        let open = Instant::now().0 - at.0 < Duration::minutes(PASSKEY_CEREMONY_MINUTES);
        Ok((taken == 1 && open && kind == ceremony.code()).then_some(state))
    }

    /// Records a passkey set up by the session's holder. `verified` is the new passkey, or why
    /// the authenticator's answer was refused. The account's first second factor needs the
    /// administrator's one-time `enrolment_code` (a password alone cannot set one up), used up on
    /// success; a further one needs a session fully signed in with a second factor. A refusal is
    /// audited (never a code) and counts toward the lockout, at which this session ends; on
    /// success the change is audited and every other session of the account ends.
    pub async fn confirm_passkey_enrolment(
        &self,
        session_secret: &str,
        user_id: i64,
        verified: std::result::Result<NewPasskey, String>,
        enrolment_code: &str,
        ip: &str,
    ) -> Result<EnrolmentOutcome> {
        let now = Instant::now();
        let session_hash = secret_hash(session_secret);
        let mut tx = self.begin().await?;
        let account: Account = sqlx::query_as(ACCOUNT_SELECT)
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound("user"))?;
        let actor = account.actor(user_id, ip)?;
        let session_verified: Flag = sqlx::query_scalar(
            "SELECT mfa_verified FROM staff_sessions WHERE id_hash = $1 AND user_id = $2",
        )
        .bind(&session_hash)
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound("session"))?;
        if account.mfa_enabled && !session_verified.0 {
            return Err(StoreError::Denied(
                "sign in with your second factor before adding another".into(),
            ));
        }
        if let Some(until) = account.locked_until.filter(|u| *u > now) {
            end_session_and_half_sessions(&mut tx, user_id, &session_hash).await?;
            tx.commit().await?;
            return Ok(EnrolmentOutcome::Locked(until));
        }
        let code_ok = account.mfa_enabled
            || enrolment_code_matches(
                account.enrolment_code_hash.as_deref(),
                account.enrolment_code_expires_at,
                enrolment_code,
                now,
            );
        let new = match (verified, code_ok) {
            (Ok(new), true) => new,
            (verified, code_ok) => {
                let (outcome, reason) = match verified {
                    Err(reason) if code_ok => {
                        (EnrolmentOutcome::Wrong, format!("set-up: passkey {reason}"))
                    }
                    _ => (
                        EnrolmentOutcome::EnrolmentCodeWrong,
                        "set-up: enrolment code missing, wrong, used or expired".to_owned(),
                    ),
                };
                let attempt = SetUpFailure {
                    actor: &actor,
                    failures: account.failed_logins,
                    ip,
                    now,
                    session_hash: &session_hash,
                };
                return attempt.refuse(tx, &reason, outcome).await;
            }
        };
        let name = passkey_name(&new.name)?;
        let passkey_id: i64 = sqlx::query_scalar(
            "INSERT INTO passkeys (user_id, credential_id, name, credential, created_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(user_id)
        .bind(&new.credential_id)
        .bind(&name)
        .bind(&new.credential)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| unique_violation(e, "this passkey is already set up"))?;
        sqlx::query(
            "UPDATE users SET mfa_enabled = $2, enrolment_code_hash = NULL,
                 enrolment_code_expires_at = NULL, failed_logins = 0, locked_until = NULL,
                 last_login_at = $3
             WHERE id = $1",
        )
        .bind(user_id)
        .bind(true)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE staff_sessions SET mfa_verified = $2 WHERE id_hash = $1")
            .bind(&session_hash)
            .bind(true)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM staff_sessions WHERE user_id = $1 AND id_hash <> $2")
            .bind(user_id)
            .bind(&session_hash)
            .execute(&mut *tx)
            .await?;
        audit::append(
            &mut tx,
            &actor,
            AuditEvent {
                action: if account.mfa_enabled {
                    "passkey_added"
                } else {
                    "mfa_enrolled"
                },
                record_type: "passkey",
                record_id: Some(passkey_id),
                patient_id: None,
                detail: if account.mfa_enabled {
                    "a further passkey, by the account holder signed in with a second factor; other sessions ended"
                } else {
                    "a passkey, by the account holder with an administrator's enrolment code; other sessions ended"
                }
                .into(),
            },
        )
        .await?;
        notify(
            &mut tx,
            &actor,
            user_id,
            if account.mfa_enabled {
                CredentialChange::PasskeyAdded
            } else {
                CredentialChange::SecondFactorEnrolled
            },
        )
        .await?;
        tx.commit().await?;
        Ok(EnrolmentOutcome::Enrolled)
    }

    /// Completes a sign-in with a passkey. `verified` is the passkey that answered the session's
    /// challenge (with its updated counter), or why its answer was refused (wrong challenge,
    /// unknown credential, a counter that went back, replayed). A refusal is audited like a wrong
    /// code (never the answer) and counts toward the same lockout; at the lockout the
    /// half-signed-in sessions end.
    pub async fn passkey_second_factor(
        &self,
        session_secret: &str,
        user_id: i64,
        verified: std::result::Result<PasskeyUse, String>,
        ip: &str,
    ) -> Result<SecondFactorOutcome> {
        let mut attempt = match SecondFactorAttempt::open(self, user_id, ip).await? {
            Ok(attempt) => attempt,
            Err(locked) => return Ok(locked),
        };
        let result = match verified {
            Ok(used) => {
                let updated = sqlx::query(
                    "UPDATE passkeys SET credential = $3, last_used_at = $4
                     WHERE user_id = $1 AND credential_id = $2",
                )
                .bind(user_id)
                .bind(&used.credential_id)
                .bind(&used.credential)
                .bind(attempt.now)
                .execute(&mut *attempt.tx)
                .await?
                .rows_affected();
                if updated == 1 {
                    Ok("second factor: passkey")
                } else {
                    // Removed or reset while the ceremony was open.
                    Err("passkey: no longer set up".to_owned())
                }
            }
            Err(reason) => Err(format!("passkey: {reason}")),
        };
        attempt.settle(session_secret, ip, result).await
    }

    /// Removes one of the actor's own passkeys. The last second factor of an account is not
    /// removed this way (the holder adds another first, or an administrator resets them all).
    /// Audited.
    pub async fn remove_passkey(&self, actor: &Actor, passkey_id: i64) -> Result<()> {
        let user_id = actor.user_id.ok_or(StoreError::NotFound("passkey"))?;
        let mut tx = self.begin().await?;
        let name: String =
            sqlx::query_scalar("SELECT name FROM passkeys WHERE id = $1 AND user_id = $2")
                .bind(passkey_id)
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StoreError::NotFound("passkey"))?;
        let (passkeys, app): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM passkeys WHERE user_id = $1),
                    (SELECT COUNT(*) FROM users WHERE id = $1 AND mfa_secret IS NOT NULL)",
        )
        .bind(user_id)
        .fetch_one(&mut *tx)
        .await?;
        if passkeys + app <= 1 {
            return Err(StoreError::Conflict(format!(
                "passkey \"{name}\" is your only second factor: add another passkey or an authenticator app first"
            )));
        }
        sqlx::query("DELETE FROM passkeys WHERE id = $1")
            .bind(passkey_id)
            .execute(&mut *tx)
            .await?;
        audit::append(
            &mut tx,
            actor,
            AuditEvent {
                action: "passkey_removed",
                record_type: "passkey",
                record_id: Some(passkey_id),
                patient_id: None,
                detail: "by the account holder".into(),
            },
        )
        .await?;
        notify(&mut tx, actor, user_id, CredentialChange::PasskeyRemoved).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Removes every second factor of an account (its authenticator app and passkeys) and ends its
/// sessions, for a person who lost them, once a second person has approved
/// (`Store::decide_role_approval`); they set up a new one with an enrolment code. Answers how many
/// passkeys went.
pub(super) async fn remove_second_factors(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    user_id: i64,
) -> Result<u64> {
    let removed = sqlx::query("DELETE FROM passkeys WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    sqlx::query(
        "UPDATE users SET mfa_secret = NULL, mfa_enabled = $2, mfa_pending_secret = NULL,
             mfa_pending_at = NULL
         WHERE id = $1",
    )
    .bind(user_id)
    .bind(false)
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM staff_sessions WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    Ok(removed)
}
