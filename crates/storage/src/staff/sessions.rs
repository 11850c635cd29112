//! One's own sessions (ASVS 3.3.4): a person lists the sessions open on their account (when
//! started, last seen, from which address and browser family) and ends any one, or all but the
//! one they use, after re-entering their password. A wrong password counts toward the lockout
//! like any other, so a stolen session cannot guess it here.

use serde::Serialize;
use sqlx::FromRow;

use super::{count_credential_failure, end_session_and_half_sessions, secret_hash};
use super::{verify_password, CredentialFailure};
use crate::access::Actor;
use crate::audit::{self, AuditEvent};
use crate::{Flag, Instant, Result, Store, StoreError};

/// A session open on the person's account.
#[derive(Debug, Clone, FromRow, Serialize, PartialEq)]
pub struct OwnSession {
    /// The session's handle: the stored hash of its cookie, which cannot be used to sign in.
    pub handle: String,
    /// When it was opened.
    pub created_at: Instant,
    /// When it was last used (to the minute).
    pub last_seen_at: Instant,
    /// The client address it was opened from.
    pub ip: Option<String>,
    /// Browser family (Firefox, Chrome, ...), if known.
    pub browser: Option<String>,
    /// Whether the second factor was given.
    #[sqlx(try_from = "Flag")]
    pub mfa_verified: bool,
    /// Whether it is the session asking.
    #[sqlx(skip)]
    pub current: bool,
}

/// Which sessions to end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionsToEnd {
    /// One, by its handle.
    One(String),
    /// Every session but the one asking.
    AllOthers,
}

/// What ending sessions did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndSessionsOutcome {
    /// Ended this many.
    Ended(u64),
    /// The password was wrong (counted toward the lockout).
    WrongPassword,
    /// The account is locked (this session ended too).
    Locked(Instant),
}

/// The handle of the session whose cookie is `secret`, as [`OwnSession::handle`] shows it.
pub fn session_handle(secret: &str) -> String {
    secret_hash(secret)
}

impl Store {
    /// The sessions open on the account of the session `session_secret`, newest first (a
    /// person has a handful; expired ones are left out).
    pub async fn own_sessions(
        &self,
        session_secret: &str,
        user_id: i64,
    ) -> Result<Vec<OwnSession>> {
        let current = secret_hash(session_secret);
        let mut sessions: Vec<OwnSession> = sqlx::query_as(
            "SELECT id_hash AS handle, created_at, last_seen_at, ip, browser, mfa_verified
             FROM staff_sessions WHERE user_id = $1 AND expires_at > $2
             ORDER BY created_at DESC, id_hash LIMIT 200",
        )
        .bind(user_id)
        .bind(Instant::now())
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        for s in &mut sessions {
            s.current = s.handle == current;
        }
        Ok(sessions)
    }

    /// Ends one of the person's own sessions, or all but the one asking, once their password
    /// is given again. Audited (`end_own_sessions`, or `end_sessions_failed` for a wrong
    /// password, which counts toward the lockout; at the lockout this session ends too).
    pub async fn end_own_sessions(
        &self,
        actor: &Actor,
        session_secret: &str,
        password: &str,
        which: &SessionsToEnd,
        ip: &str,
    ) -> Result<EndSessionsOutcome> {
        let user_id = actor.staff_id()?;
        let now = Instant::now();
        let row: Option<(String, i64, Option<Instant>)> = sqlx::query_as(
            "SELECT password_hash, failed_logins, locked_until FROM users WHERE id = $1",
        )
        .bind(user_id)
        .fetch_optional(&mut *self.read_conn().await?)
        .await?;
        let (hash, failures, locked_until) = row.ok_or(StoreError::NotFound("user"))?;
        let current = secret_hash(session_secret);
        if let Some(until) = locked_until.filter(|u| *u > now) {
            let mut tx = self.begin().await?;
            end_session_and_half_sessions(&mut tx, user_id, &current).await?;
            tx.commit().await?;
            return Ok(EndSessionsOutcome::Locked(until));
        }
        if !verify_password(password.to_owned(), hash).await {
            let mut tx = self.begin().await?;
            let failure = CredentialFailure {
                action: "end_sessions_failed",
                record_type: "user",
                record_id: Some(user_id),
                reason: "wrong password",
            };
            let lock =
                count_credential_failure(&mut tx, actor, failures, ip, now, &failure).await?;
            if lock.is_some() {
                end_session_and_half_sessions(&mut tx, user_id, &current).await?;
            }
            tx.commit().await?;
            return Ok(match lock {
                Some(until) => EndSessionsOutcome::Locked(until),
                None => EndSessionsOutcome::WrongPassword,
            });
        }
        let mut tx = self.begin().await?;
        let (ended, detail) = match which {
            SessionsToEnd::One(handle) => {
                let ended =
                    sqlx::query("DELETE FROM staff_sessions WHERE user_id = $1 AND id_hash = $2")
                        .bind(user_id)
                        .bind(handle)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                if ended == 0 {
                    return Err(StoreError::NotFound("session"));
                }
                let which = if *handle == current {
                    "this session"
                } else {
                    "one other session"
                };
                (ended, format!("{which} ended by the account holder"))
            }
            SessionsToEnd::AllOthers => {
                let ended =
                    sqlx::query("DELETE FROM staff_sessions WHERE user_id = $1 AND id_hash <> $2")
                        .bind(user_id)
                        .bind(&current)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                (
                    ended,
                    format!("{ended} other session(s) ended by the account holder"),
                )
            }
        };
        audit::append(
            &mut tx,
            actor,
            AuditEvent {
                action: "end_own_sessions",
                record_type: "user",
                record_id: Some(user_id),
                patient_id: None,
                detail,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(EndSessionsOutcome::Ended(ended))
    }
}
