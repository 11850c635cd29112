//! The patient portal (issue 13): patients' own accounts, a realm apart from staff, and what a
//! signed-in patient sees of their own record.
//!
//! A patient's account is a `users` row of role `patient`, so the password hashing, strength
//! policy, lockout and session rules are the staff ones (`staff`), bound to one patient by
//! `portal_accounts`. Staff who treat the patient invite them (a one-time code, stored only as
//! its hash, valid [`INVITATION_HOURS`]), see the account's state and end it. The web layer keeps
//! the realms apart: portal sessions have their own cookie and reach `/portal` alone, staff
//! sessions never reach `/portal`, and role `patient` holds no staff permission.

mod week;

pub use week::{PortalEvent, PortalWeek};

use chrono::Utc;
use serde::Serialize;
use trellis_domain::access::Role;
use trellis_domain::portal::{
    account_state, invitation_expiry, AccountFacts, AccountState, INVITATION_HOURS,
};

use crate::access::{can, Actor, PatientGrant};
use crate::audit::{self, AuditEvent};
use crate::org::unique_violation;
use crate::staff::{
    enrolment_code_hash, hash_password, new_enrolment_code, validate_password, validate_username,
    IP_FAILURE_LIMIT, LOCKOUT_MINUTES,
};
use crate::{Flag, Instant, Result, Store, StoreError};

/// A patient's portal account as staff see it on the chart.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PortalAccount {
    /// The patient.
    pub patient_id: i64,
    /// Where it stands.
    #[serde(skip)]
    pub state: AccountState,
    /// The username the patient chose, once they have.
    pub username: Option<String>,
    /// When the last invitation was made.
    pub invited_at: Option<Instant>,
    /// When the open invitation stops working.
    pub invitation_expires_at: Option<Instant>,
    /// When the patient set their password.
    pub activated_at: Option<Instant>,
    /// When staff ended the account.
    pub revoked_at: Option<Instant>,
    /// The patient's last sign-in.
    pub last_sign_in_at: Option<Instant>,
}

/// An invitation as made: the code is shown once to staff and never stored.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Invitation {
    /// The code to give the patient, in four groups of four.
    pub code: String,
    /// When it stops working.
    pub expires_at: Instant,
}

/// What a patient gives to redeem an invitation.
#[derive(Debug, Clone)]
pub struct Redemption<'a> {
    /// The invitation code.
    pub code: &'a str,
    /// The username they choose.
    pub username: &'a str,
    /// The password they choose.
    pub password: &'a str,
}

type AccountRow = (
    Option<i64>,
    Option<String>,
    Option<Instant>,
    Option<Instant>,
    Option<Instant>,
    Option<Instant>,
    Option<Instant>,
);

impl Store {
    /// The patient's portal account (none yet: state `None`), audited as a read.
    pub async fn portal_account(
        &self,
        grant: &PatientGrant<can::ManagePortalAccounts>,
    ) -> Result<PortalAccount> {
        let patient_id = grant.patient_id();
        let row: Option<AccountRow> = sqlx::query_as(
            "SELECT pa.user_id, u.username, pa.invited_at, pa.invitation_expires_at,
                 pa.activated_at, pa.revoked_at, u.last_login_at
             FROM portal_accounts pa LEFT JOIN users u ON u.id = pa.user_id
             WHERE pa.patient_id = $1",
        )
        .bind(patient_id)
        .fetch_optional(&mut *self.read_conn().await?)
        .await?;
        audit::record(
            self,
            grant.actor(),
            AuditEvent {
                action: "read",
                record_type: "portal_account",
                record_id: Some(patient_id),
                patient_id: Some(patient_id),
                detail: String::new(),
            },
        )
        .await?;
        let Some((user_id, username, invited_at, expires, activated_at, revoked_at, last)) = row
        else {
            return Ok(PortalAccount {
                patient_id,
                state: AccountState::None,
                username: None,
                invited_at: None,
                invitation_expires_at: None,
                activated_at: None,
                revoked_at: None,
                last_sign_in_at: None,
            });
        };
        let state = account_state(
            AccountFacts {
                invitation_expires_at: expires.map(|e| e.0),
                activated: user_id.is_some(),
                revoked: revoked_at.is_some(),
            },
            Utc::now(),
        );
        Ok(PortalAccount {
            patient_id,
            state,
            username,
            invited_at,
            invitation_expires_at: expires,
            activated_at,
            revoked_at,
            last_sign_in_at: last,
        })
    }

    /// Makes a fresh invitation for the patient (replacing any open one), valid
    /// [`INVITATION_HOURS`]. Refused while the patient has an account in use: staff end it first.
    /// Audited (never with the code).
    pub async fn invite_to_portal(
        &self,
        grant: &PatientGrant<can::ManagePortalAccounts>,
    ) -> Result<Invitation> {
        let patient_id = grant.patient_id();
        let by = grant.actor().staff_id()?;
        let code = new_enrolment_code();
        let now = Instant::now();
        let expires_at = Instant(invitation_expiry(now.0));
        let mut tx = self.begin().await?;
        let current: Option<(Option<i64>, Option<Instant>)> =
            sqlx::query_as("SELECT user_id, revoked_at FROM portal_accounts WHERE patient_id = $1")
                .bind(patient_id)
                .fetch_optional(&mut *tx)
                .await?;
        match current {
            Some((Some(_), None)) => {
                return Err(StoreError::Conflict(
                    "the patient already has a portal account; end it before inviting again".into(),
                ))
            }
            Some(_) => {
                sqlx::query(
                    "UPDATE portal_accounts SET invitation_hash = $2, invitation_expires_at = $3,
                         invited_at = $4, invited_by = $5 WHERE patient_id = $1",
                )
                .bind(patient_id)
                .bind(enrolment_code_hash(&code))
                .bind(expires_at)
                .bind(now)
                .bind(by)
                .execute(&mut *tx)
                .await?;
            }
            None => {
                sqlx::query(
                    "INSERT INTO portal_accounts (patient_id, invitation_hash,
                         invitation_expires_at, invited_at, invited_by)
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(patient_id)
                .bind(enrolment_code_hash(&code))
                .bind(expires_at)
                .bind(now)
                .bind(by)
                .execute(&mut *tx)
                .await?;
            }
        }
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "portal_invitation",
                record_type: "portal_account",
                record_id: Some(patient_id),
                patient_id: Some(patient_id),
                detail: format!("valid {INVITATION_HOURS} hours"),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(Invitation { code, expires_at })
    }

    /// Ends the patient's portal account and any open invitation: the account can no longer
    /// sign in and its sessions end at once. Audited. Ending what is already ended (or was never
    /// opened) changes nothing and is no error, so a repeated request is harmless.
    pub async fn end_portal_account(
        &self,
        grant: &PatientGrant<can::ManagePortalAccounts>,
    ) -> Result<()> {
        let patient_id = grant.patient_id();
        let by = grant.actor().staff_id()?;
        let mut tx = self.begin().await?;
        let current: Option<(Option<i64>, Option<Instant>, Option<Instant>)> = sqlx::query_as(
            "SELECT user_id, revoked_at, invitation_expires_at FROM portal_accounts
             WHERE patient_id = $1",
        )
        .bind(patient_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((user_id, revoked_at, invitation)) = current else {
            return Ok(());
        };
        let account_live = user_id.is_some() && revoked_at.is_none();
        if !account_live && invitation.is_none() {
            return Ok(());
        }
        sqlx::query(
            "UPDATE portal_accounts SET invitation_hash = NULL, invitation_expires_at = NULL,
                 revoked_at = $2, revoked_by = $3 WHERE patient_id = $1",
        )
        .bind(patient_id)
        .bind(Instant::now())
        .bind(by)
        .execute(&mut *tx)
        .await?;
        if let Some(user_id) = user_id {
            sqlx::query("UPDATE users SET active = $2 WHERE id = $1")
                .bind(user_id)
                .bind(false)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM staff_sessions WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
        }
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "portal_account_ended",
                record_type: "portal_account",
                record_id: Some(patient_id),
                patient_id: Some(patient_id),
                detail: String::new(),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Redeems an invitation: the patient chooses a username and a password (the staff policy)
    /// and their account opens. A code works once, within its time; a wrong or old code counts
    /// toward the address's sign-in throttle like a wrong password.
    pub async fn redeem_portal_invitation(
        &self,
        redemption: &Redemption<'_>,
        ip: &str,
    ) -> Result<()> {
        let now = Instant::now();
        let window_start = Instant(now.0 - chrono::Duration::minutes(LOCKOUT_MINUTES));
        let recent: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM login_failures WHERE ip = $1 AND at >= $2")
                .bind(ip)
                .bind(window_start)
                .fetch_one(&mut *self.read_conn().await?)
                .await?;
        if recent >= IP_FAILURE_LIMIT {
            return Err(StoreError::invalid(
                "code",
                "cannot be checked now: too many tries from this device. Wait 15 minutes and try again",
            ));
        }
        let hash = enrolment_code_hash(redemption.code);
        let found: Option<(i64, Option<i64>)> = sqlx::query_as(
            "SELECT patient_id, user_id FROM portal_accounts
             WHERE invitation_hash = $1 AND invitation_expires_at > $2",
        )
        .bind(&hash)
        .bind(now)
        .fetch_optional(&mut *self.read_conn().await?)
        .await?;
        let Some((patient_id, existing_user)) = found else {
            self.record_failure(ip, None, now).await?;
            return Err(StoreError::invalid(
                "code",
                "does not work. It may be mistyped or more than 3 days old. Ask your counselor for a new one",
            ));
        };
        let username = redemption.username.trim().to_lowercase();
        validate_username(&username)?;
        validate_password(redemption.password, &[&username])?;
        let password_hash = hash_password(redemption.password.to_owned()).await?;
        let mut tx = self.begin().await?;
        // Taking the invitation is the guard against a second use racing this one.
        let taken = sqlx::query(
            "UPDATE portal_accounts SET invitation_hash = NULL, invitation_expires_at = NULL,
                 activated_at = $3, revoked_at = NULL, revoked_by = NULL
             WHERE patient_id = $1 AND invitation_hash = $2",
        )
        .bind(patient_id)
        .bind(&hash)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if taken != 1 {
            return Err(StoreError::invalid("code", "was just used"));
        }
        let taken_name = "is taken. Try another";
        let user_id = match existing_user {
            Some(user_id) => {
                sqlx::query(
                    "UPDATE users SET username = $2, display_name = $2, password_hash = $3,
                         active = $4, failed_logins = 0, locked_until = NULL WHERE id = $1",
                )
                .bind(user_id)
                .bind(&username)
                .bind(&password_hash)
                .bind(true)
                .execute(&mut *tx)
                .await
                .map_err(|e| username_taken(e, taken_name))?;
                user_id
            }
            None => {
                let user_id: i64 = sqlx::query_scalar(
                    "INSERT INTO users (username, display_name, role, password_hash, active,
                         mfa_enabled, failed_logins, created_at)
                     VALUES ($1, $1, $2, $3, $4, $5, 0, $6) RETURNING id",
                )
                .bind(&username)
                .bind(Role::Patient.code())
                .bind(&password_hash)
                .bind(true)
                .bind(false)
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| username_taken(e, taken_name))?;
                sqlx::query("UPDATE portal_accounts SET user_id = $2 WHERE patient_id = $1")
                    .bind(patient_id)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                user_id
            }
        };
        let actor = Actor {
            user_id: Some(user_id),
            username,
            role: Role::Patient,
            ip: Some(ip.to_owned()),
            request_id: None,
        };
        audit::append(
            &mut tx,
            &actor,
            AuditEvent {
                action: "portal_account_opened",
                record_type: "portal_account",
                record_id: Some(patient_id),
                patient_id: Some(patient_id),
                detail: String::new(),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The patient whose portal account `user_id` is, while it is in use.
    pub async fn portal_patient(&self, user_id: i64) -> Result<i64> {
        let row: Option<(i64, Flag)> = sqlx::query_as(
            "SELECT pa.patient_id, u.active FROM portal_accounts pa
             JOIN users u ON u.id = pa.user_id
             WHERE pa.user_id = $1 AND pa.revoked_at IS NULL",
        )
        .bind(user_id)
        .fetch_optional(&mut *self.read_conn().await?)
        .await?;
        match row {
            Some((patient_id, active)) if active.0 => Ok(patient_id),
            _ => Err(StoreError::Denied("this portal account has ended".into())),
        }
    }
}

/// A taken username is said in the field's own words (a conflict would not name the field).
fn username_taken(e: sqlx::Error, message: &'static str) -> StoreError {
    match unique_violation(e, message) {
        StoreError::Conflict(_) => StoreError::invalid("username", message),
        other => other,
    }
}
