//! Staff accounts, passwords (Argon2id), login throttling and lockout, server-side sessions,
//! API tokens, second factors (authenticator apps here, passkeys in `passkeys`), role policies
//! and site/program assignments.

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use chrono::Duration;
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{Any, FromRow, Transaction};
use std::sync::OnceLock;
use subtle::ConstantTimeEq;
use trellis_domain::access::Role;

use crate::access::{can, Actor, Grant};
use crate::audit::{self, AuditEvent};
use crate::org::unique_violation;
use crate::{parse_code, Flag, Instant, Result, Store, StoreError};

mod approvals;
mod notices;
mod passkeys;
mod passwords;
mod sessions;
pub use approvals::{ApprovalKind, Decision, EnrolmentIssue, RoleApproval, RoleChange};
use notices::notify;
pub use notices::{CredentialChange, CredentialNotice};
pub use passkeys::{
    passkey_name, Ceremony, NewPasskey, PasskeyCredential, PasskeyInfo, PasskeyUse,
    MAX_PASSKEY_NAME_LEN, PASSKEY_CEREMONY_MINUTES,
};
pub use passwords::{
    password_strength, validate_password, Strength, MAX_PASSWORD_LEN, MIN_PASSWORD_LEN,
    MIN_STRENGTH,
};
pub use sessions::{session_handle, EndSessionsOutcome, OwnSession, SessionsToEnd};

/// Failures before a lock: of the second factor (the account), or of the password from one
/// client address (that account from that address only).
pub const LOCKOUT_THRESHOLD: i64 = 5;
/// Password failures on one account, from any address within the window, after which every
/// attempt on it waits [`BACKOFF_STEP_MS`] longer per further failure (capped), instead of a lock.
pub const BACKOFF_AFTER: i64 = 5;
/// Delay added per password failure beyond [`BACKOFF_AFTER`].
pub const BACKOFF_STEP_MS: u64 = 500;
/// Longest delay before an answer on an account under attack.
pub const BACKOFF_MAX_MS: u64 = 8_000;
/// How long a lockout lasts.
pub const LOCKOUT_MINUTES: i64 = 15;
/// Failed logins from one address within the window before it is throttled.
pub const IP_FAILURE_LIMIT: i64 = 20;
/// Longest an API token may live, unless the deployment sets another maximum.
pub const DEFAULT_TOKEN_MAX_DAYS: i64 = 90;
/// How long an authenticator being set up waits for its confirming code before it is discarded.
pub const MFA_ENROLMENT_MINUTES: i64 = 10;
/// How long an administrator's enrolment code stays usable.
pub const ENROLMENT_CODE_HOURS: i64 = 72;

/// A staff account as listed for administrators.
#[derive(Debug, Clone, FromRow, Serialize, PartialEq)]
pub struct StaffUser {
    /// Id.
    pub id: i64,
    /// Login name.
    pub username: String,
    /// Name shown to colleagues.
    pub display_name: String,
    /// Work email.
    pub email: Option<String>,
    /// Role code.
    pub role: String,
    /// Whether the account can log in.
    #[sqlx(try_from = "Flag")]
    pub active: bool,
    /// Whether a second factor (authenticator app or passkey) is set up.
    #[sqlx(try_from = "Flag")]
    pub mfa_enabled: bool,
    /// Locked until, after repeated failures.
    pub locked_until: Option<Instant>,
    /// Last successful login.
    pub last_login_at: Option<Instant>,
}

impl StaffUser {
    /// The account's role.
    pub fn role(&self) -> Result<Role> {
        parse_code(&self.role, "role")
    }
}

/// A site or program the staff member works in.
#[derive(Debug, Clone, FromRow, Serialize, PartialEq)]
pub struct Assignment {
    /// Site.
    pub site_id: i64,
    /// Site name.
    pub site_name: String,
    /// Program, or none for the whole site.
    pub program_id: Option<i64>,
    /// Program name.
    pub program_name: Option<String>,
}

/// A new staff account.
#[derive(Debug, Clone)]
pub struct NewStaff {
    /// Login name: 3–32 of a–z, 0–9, dot, dash, underscore.
    pub username: String,
    /// Name shown to colleagues.
    pub display_name: String,
    /// Work email.
    pub email: Option<String>,
    /// Role.
    pub role: Role,
    /// Initial password.
    pub password: String,
}

/// The outcome of a login attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum LoginOutcome {
    /// Password right; the account needs no second factor.
    Success(StaffUser),
    /// Password right; a TOTP code is needed next.
    NeedsMfa(StaffUser),
    /// Password right, but the role requires MFA and the account has none: enrol first.
    NeedsMfaEnrolment(StaffUser),
    /// Unknown user or wrong password, whether or not the account is locked (indistinguishable
    /// on purpose: a lockout is told only to whoever gives the right password).
    Invalid,
    /// Right password, but the account is locked (second-factor failures) or this address has
    /// failed too often on it: locked until the instant.
    Locked(Instant),
    /// Too many failures from this address.
    Throttled,
}

/// What became of a second-factor code.
#[derive(Debug, Clone, PartialEq)]
pub enum SecondFactorOutcome {
    /// The code was right and fresh: the session is fully signed in.
    Verified,
    /// Wrong, or already used: try again.
    Wrong,
    /// Too many failures: the account is locked until the instant and the half-signed-in
    /// session has ended.
    Locked(Instant),
}

/// What became of confirming an authenticator being set up (or replacing one).
#[derive(Debug, Clone, PartialEq)]
pub enum EnrolmentOutcome {
    /// Confirmed: the new authenticator is the account's second factor, this session is fully
    /// signed in and every other session of the account has ended.
    Enrolled,
    /// The code from the new authenticator was wrong.
    Wrong,
    /// The account has no second factor yet and the administrator's enrolment code was
    /// missing, wrong, already used or expired.
    EnrolmentCodeWrong,
    /// The account already has a second factor and the code from it was wrong or already used.
    CurrentCodeWrong,
    /// No set-up is waiting, or it was not confirmed within [`MFA_ENROLMENT_MINUTES`].
    Expired,
    /// Too many failures: the account is locked until the instant and this session has ended.
    Locked(Instant),
}

/// What became of a self-service password change.
#[derive(Debug, Clone, PartialEq)]
pub enum PasswordChangeOutcome {
    /// Changed: other sessions ended and API tokens revoked; this session stays.
    Changed,
    /// The current password was wrong (counted toward the lockout).
    WrongCurrent,
    /// Too many failures: the account is locked until the instant and this session has ended.
    Locked(Instant),
}

/// A live staff session.
#[derive(Debug, Clone, PartialEq)]
pub struct StaffSession {
    /// The account.
    pub user: StaffUser,
    /// The session's CSRF token.
    pub csrf_token: String,
    /// Whether the second factor was given (or not needed).
    pub mfa_verified: bool,
}

/// An API token as listed (never the secret).
#[derive(Debug, Clone, FromRow, Serialize, PartialEq)]
pub struct ApiTokenInfo {
    /// Id.
    pub id: i64,
    /// Owner.
    pub user_id: i64,
    /// Label.
    pub name: String,
    /// Role it acts with.
    pub role: String,
    /// Created at.
    pub created_at: Instant,
    /// Expires at.
    pub expires_at: Option<Instant>,
    /// Revoked at.
    pub revoked_at: Option<Instant>,
}

/// A failed credential (a second-factor code, a current password) as the audit log names it.
struct CredentialFailure<'a> {
    action: &'static str,
    record_type: &'static str,
    record_id: Option<i64>,
    reason: &'a str,
}

/// Counts one more failed credential toward the account lockout inside the caller's
/// transaction: the account's count (reset when this failure locks it), the address for
/// throttling, and an audit row with the reason, never the credential. Returns the lock's end
/// when this failure locks the account.
async fn count_credential_failure(
    tx: &mut Transaction<'static, Any>,
    actor: &Actor,
    failures_before: i64,
    ip: &str,
    now: Instant,
    failure: &CredentialFailure<'_>,
) -> Result<Option<Instant>> {
    let user_id = actor.user_id.ok_or(StoreError::NotFound("user"))?;
    let failures = failures_before + 1;
    let lock = (failures >= LOCKOUT_THRESHOLD)
        .then(|| Instant(now.0 + Duration::minutes(LOCKOUT_MINUTES)));
    sqlx::query("UPDATE users SET failed_logins = $2, locked_until = $3 WHERE id = $1")
        .bind(user_id)
        .bind(if lock.is_some() { 0 } else { failures })
        .bind(lock)
        .execute(&mut **tx)
        .await?;
    sqlx::query("INSERT INTO login_failures (ip, at) VALUES ($1, $2)")
        .bind(ip)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    audit::append(
        tx,
        actor,
        AuditEvent {
            action: failure.action,
            record_type: failure.record_type,
            record_id: failure.record_id,
            patient_id: None,
            detail: match lock {
                Some(_) => format!(
                    "{}; account locked for {LOCKOUT_MINUTES} minutes",
                    failure.reason
                ),
                None => failure.reason.to_owned(),
            },
        },
    )
    .await?;
    Ok(lock)
}

/// A refused set-up of a second factor (a wrong code, a refused passkey, a missing or wrong
/// enrolment code): one path for the authenticator app and passkeys.
struct SetUpFailure<'a> {
    actor: &'a Actor,
    failures: i64,
    ip: &'a str,
    now: Instant,
    session_hash: &'a str,
}

impl SetUpFailure<'_> {
    /// Audits the refusal (the reason, never the answer) and counts it toward the lockout in
    /// the caller's transaction, then commits. At the lockout any set-up waiting is discarded
    /// and this session and the account's half-signed-in ones end; otherwise answers `outcome`.
    async fn refuse(
        self,
        mut tx: Transaction<'static, Any>,
        reason: &str,
        outcome: EnrolmentOutcome,
    ) -> Result<EnrolmentOutcome> {
        let user_id = self.actor.staff_id()?;
        let failure = CredentialFailure {
            action: "mfa_failed",
            record_type: "session",
            record_id: None,
            reason,
        };
        let lock = count_credential_failure(
            &mut tx,
            self.actor,
            self.failures,
            self.ip,
            self.now,
            &failure,
        )
        .await?;
        if lock.is_some() {
            clear_pending_enrolment(&mut tx, user_id).await?;
            end_session_and_half_sessions(&mut tx, user_id, self.session_hash).await?;
        }
        tx.commit().await?;
        Ok(lock.map_or(outcome, EnrolmentOutcome::Locked))
    }
}

/// A sign-in's second-factor attempt in its transaction: one path for the authenticator app's
/// codes and passkeys, so both are locked, counted, audited and completed alike.
struct SecondFactorAttempt {
    tx: Transaction<'static, Any>,
    actor: Actor,
    failures: i64,
    now: Instant,
}

impl SecondFactorAttempt {
    /// Opens an attempt for the account, or answers `Locked` (ending its half-signed-in
    /// sessions) while the account is locked, whatever the answer would have been.
    async fn open(
        store: &Store,
        user_id: i64,
        ip: &str,
    ) -> Result<std::result::Result<Self, SecondFactorOutcome>> {
        let now = Instant::now();
        let mut tx = store.begin().await?;
        let row: Option<(String, String, i64, Option<Instant>)> = sqlx::query_as(
            "SELECT username, role, failed_logins, locked_until FROM users WHERE id = $1",
        )
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await?;
        let (username, role, failures, locked_until) = row.ok_or(StoreError::NotFound("user"))?;
        if let Some(until) = locked_until.filter(|u| *u > now) {
            end_half_sessions(&mut tx, user_id).await?;
            tx.commit().await?;
            return Ok(Err(SecondFactorOutcome::Locked(until)));
        }
        let actor = Actor {
            user_id: Some(user_id),
            username,
            role: parse_code(&role, "role")?,
            ip: Some(ip.to_owned()),
            request_id: None,
        };
        Ok(Ok(SecondFactorAttempt {
            tx,
            actor,
            failures,
            now,
        }))
    }

    /// Settles the attempt. Accepted (with the login's audit detail): the session is signed in,
    /// the account's failures cleared and the login audited; a session gone meanwhile drops the
    /// transaction, so nothing the caller wrote (a code's step, a passkey's counter) is kept.
    /// Refused (with the reason, never the answer): audited and counted toward the lockout, at
    /// which the half-signed-in sessions end.
    async fn settle(
        mut self,
        session_secret: &str,
        ip: &str,
        result: std::result::Result<&str, String>,
    ) -> Result<SecondFactorOutcome> {
        let user_id = self.actor.staff_id()?;
        let reason = match result {
            Ok(detail) => {
                let session = sqlx::query(
                    "UPDATE staff_sessions SET mfa_verified = $2 WHERE id_hash = $1 AND user_id = $3",
                )
                .bind(secret_hash(session_secret))
                .bind(true)
                .bind(user_id)
                .execute(&mut *self.tx)
                .await?
                .rows_affected();
                if session == 0 {
                    return Err(StoreError::NotFound("session"));
                }
                sqlx::query(
                    "UPDATE users SET failed_logins = 0, locked_until = NULL, last_login_at = $2
                     WHERE id = $1",
                )
                .bind(user_id)
                .bind(self.now)
                .execute(&mut *self.tx)
                .await?;
                audit::append(
                    &mut self.tx,
                    &self.actor,
                    AuditEvent {
                        action: "login",
                        record_type: "session",
                        record_id: None,
                        patient_id: None,
                        detail: detail.into(),
                    },
                )
                .await?;
                self.tx.commit().await?;
                return Ok(SecondFactorOutcome::Verified);
            }
            Err(reason) => reason,
        };
        let failure = CredentialFailure {
            action: "mfa_failed",
            record_type: "session",
            record_id: None,
            reason: &reason,
        };
        let lock = count_credential_failure(
            &mut self.tx,
            &self.actor,
            self.failures,
            ip,
            self.now,
            &failure,
        )
        .await?;
        if lock.is_some() {
            end_half_sessions(&mut self.tx, user_id).await?;
        }
        self.tx.commit().await?;
        Ok(match lock {
            Some(until) => SecondFactorOutcome::Locked(until),
            None => SecondFactorOutcome::Wrong,
        })
    }
}

/// Ends a user's sessions that are still waiting for their second factor.
async fn end_half_sessions(tx: &mut Transaction<'static, Any>, user_id: i64) -> Result<()> {
    sqlx::query("DELETE FROM staff_sessions WHERE user_id = $1 AND mfa_verified = $2")
        .bind(user_id)
        .bind(false)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Ends one session of a user and any of theirs still waiting for a second factor.
async fn end_session_and_half_sessions(
    tx: &mut Transaction<'static, Any>,
    user_id: i64,
    session_hash: &str,
) -> Result<()> {
    sqlx::query("DELETE FROM staff_sessions WHERE user_id = $1 AND id_hash = $2")
        .bind(user_id)
        .bind(session_hash)
        .execute(&mut **tx)
        .await?;
    end_half_sessions(tx, user_id).await
}

/// Discards an authenticator set-up that was not confirmed.
async fn clear_pending_enrolment(tx: &mut Transaction<'static, Any>, user_id: i64) -> Result<()> {
    sqlx::query("UPDATE users SET mfa_pending_secret = NULL, mfa_pending_at = NULL WHERE id = $1")
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Whether a set-up started at `at` may still be confirmed.
fn enrolment_open(at: Instant) -> bool {
    Instant::now().0 - at.0 < Duration::minutes(MFA_ENROLMENT_MINUTES)
}

/// Revokes every live API token of a user.
async fn revoke_tokens_of(tx: &mut Transaction<'static, Any>, user_id: i64) -> Result<()> {
    sqlx::query("UPDATE api_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL")
        .bind(user_id)
        .bind(Instant::now())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A session row with its user, as [`Store::session`] reads them together.
#[derive(FromRow)]
struct SessionRow {
    csrf_token: String,
    mfa_verified: Flag,
    last_seen_at: Instant,
    expires_at: Instant,
    #[sqlx(flatten)]
    user: StaffUser,
}

const USER_SELECT: &str = "SELECT id, username, display_name, email, role, active, mfa_enabled,
    locked_until, last_login_at FROM users";

/// SHA-256 in hex: secrets (session ids, API tokens) are stored only as hashes, so a copy of
/// the database cannot be used to log in.
pub(crate) fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A one-time enrolment code as issued: shown once to the administrator, stored only hashed.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EnrolmentCode {
    /// The code to hand to the person, in four groups of four.
    pub code: String,
    /// When it stops working.
    pub expires_at: Instant,
}

/// Crockford's base32: no I, L, O or U, so a code read aloud or copied by hand survives.
const CODE_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A fresh enrolment code: 16 characters of 5 bits each (80 bits) from the OS generator.
pub(crate) fn new_enrolment_code() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let chars: Vec<char> = bytes
        .iter()
        .map(|b| char::from(CODE_ALPHABET[usize::from(b & 31)]))
        .collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// The hash an enrolment code is kept as: case, spaces and dashes do not matter, and the
/// letters Crockford reads as digits (O, I, L) are read so.
pub(crate) fn enrolment_code_hash(code: &str) -> String {
    let normal: String = code
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            other => other,
        })
        .collect();
    secret_hash(&normal)
}

/// Whether a given enrolment code is the one issued and still within its time.
fn enrolment_code_matches(
    stored_hash: Option<&str>,
    expires_at: Option<Instant>,
    given: &str,
    now: Instant,
) -> bool {
    let given = enrolment_code_hash(given);
    expires_at.is_some_and(|e| e > now)
        && stored_hash.is_some_and(|h| bool::from(h.as_bytes().ct_eq(given.as_bytes())))
}

/// Refuses an enrolment code for an account that already has a second factor.
fn refuse_if_enrolled(user: &StaffUser) -> Result<()> {
    if user.mfa_enabled {
        return Err(StoreError::Conflict(
            "this account already has a second factor; its holder replaces it from their Security page"
                .into(),
        ));
    }
    Ok(())
}

/// Makes a fresh enrolment code for the account (replacing any earlier one), audited as
/// `mfa_enrolment_code_issued` (never with the code) and told to the account's holder.
async fn store_enrolment_code(
    tx: &mut Transaction<'static, Any>,
    actor: &Actor,
    user_id: i64,
    how: &str,
) -> Result<EnrolmentCode> {
    let code = new_enrolment_code();
    let expires_at = Instant(Instant::now().0 + Duration::hours(ENROLMENT_CODE_HOURS));
    sqlx::query(
        "UPDATE users SET enrolment_code_hash = $2, enrolment_code_expires_at = $3 WHERE id = $1",
    )
    .bind(user_id)
    .bind(enrolment_code_hash(&code))
    .bind(expires_at)
    .execute(&mut **tx)
    .await?;
    audit::append(
        tx,
        actor,
        AuditEvent {
            action: "mfa_enrolment_code_issued",
            record_type: "user",
            record_id: Some(user_id),
            patient_id: None,
            detail: format!("valid {ENROLMENT_CODE_HOURS} hours{how}"),
        },
    )
    .await?;
    notify(tx, actor, user_id, CredentialChange::EnrolmentCodeIssued).await?;
    Ok(EnrolmentCode { code, expires_at })
}

/// Stores whether a role must use MFA, audited as `set_mfa_policy`.
async fn apply_mfa_policy(
    tx: &mut Transaction<'static, Any>,
    actor: &Actor,
    role: Role,
    required: bool,
    how: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO role_policies (role, mfa_required) VALUES ($1, $2)
         ON CONFLICT (role) DO UPDATE SET mfa_required = excluded.mfa_required",
    )
    .bind(role.code())
    .bind(required)
    .execute(&mut **tx)
    .await?;
    audit::append(
        tx,
        actor,
        AuditEvent {
            action: "set_mfa_policy",
            record_type: "role",
            record_id: None,
            patient_id: None,
            detail: format!("{} required {required}{how}", role.code()),
        },
    )
    .await
}

/// A fresh random secret: 32 bytes from the OS generator, hex.
pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn argon2() -> Argon2<'static> {
    Argon2::default()
}

/// Hashes a password with Argon2id on a blocking thread (it is deliberately slow).
pub async fn hash_password(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| StoreError::Config(format!("password hashing failed: {e}")))
    })
    .await
    .map_err(|e| StoreError::Config(format!("password hashing task failed: {e}")))?
}

/// Checks a password against a stored hash on a blocking thread.
pub async fn verify_password(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|parsed| {
                argon2()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// A real hash of a random password, checked for unknown users so that the answer takes as
/// long as for a known one.
async fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if let Some(h) = DUMMY.get() {
        return h;
    }
    let h = hash_password(random_secret()).await.unwrap_or_default();
    DUMMY.get_or_init(|| h)
}

pub(crate) fn validate_username(username: &str) -> Result<()> {
    let ok = (3..=32).contains(&username.len())
        && username
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(StoreError::invalid(
            "username",
            "must be 3–32 characters of a–z, 0–9, dot, dash or underscore",
        ))
    }
}

impl Store {
    /// Creates a staff account. One for a clinical or disclosing role, made by a person (not the
    /// command line), stays inactive until a second person approves the role (see `approvals`).
    pub async fn create_staff(
        &self,
        grant: &Grant<can::ManageUsers>,
        new: &NewStaff,
    ) -> Result<i64> {
        if new.role == Role::Auditor {
            // An auditor account without its agreement would have nothing to review.
            return Err(StoreError::invalid(
                "role",
                "an auditor account is created with its audit or evaluation agreement",
            ));
        }
        let mut tx = self.begin().await?;
        let id = self.create_staff_in(&mut tx, grant, new).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Inserts the account (and, when it takes two people, the proposal) in `tx`.
    pub(crate) async fn create_staff_in(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        grant: &Grant<can::ManageUsers>,
        new: &NewStaff,
    ) -> Result<i64> {
        if new.role == Role::Patient {
            // A patient's account is made by the patient redeeming an invitation (`portal`).
            return Err(StoreError::invalid(
                "role",
                "a patient's portal account is made from their chart's invitation",
            ));
        }
        let username = new.username.trim().to_lowercase();
        validate_username(&username)?;
        let display_name = new.display_name.trim();
        if display_name.is_empty() || display_name.chars().count() > 100 {
            return Err(StoreError::invalid(
                "display_name",
                "is required (at most 100 characters)",
            ));
        }
        validate_password(
            &new.password,
            &[&username, display_name, new.email.as_deref().unwrap_or("")],
        )?;
        let hash = hash_password(new.password.clone()).await?;
        let two_person = approvals::needs_second_person(grant.actor(), None, new.role);
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO users (username, display_name, email, role, password_hash, active,
                 mfa_enabled, failed_logins, created_at, password_set_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $9) RETURNING id",
        )
        .bind(&username)
        .bind(display_name)
        .bind(
            new.email
                .as_deref()
                .map(str::trim)
                .filter(|e| !e.is_empty()),
        )
        .bind(new.role.code())
        .bind(&hash)
        .bind(!two_person)
        .bind(false)
        .bind(Instant::now())
        .bind(grant.actor().user_id)
        .fetch_one(&mut **tx)
        .await
        .map_err(|e| unique_violation(e, "this username is taken"))?;
        audit::append(
            tx,
            grant.actor(),
            AuditEvent {
                action: "create",
                record_type: "user",
                record_id: Some(id),
                patient_id: None,
                detail: format!("role {}", new.role.code()),
            },
        )
        .await?;
        if two_person {
            approvals::propose(tx, grant.actor(), id, new.role, true).await?;
        }
        Ok(id)
    }

    /// Changes an account's name, role and active flag; deactivating ends its sessions. A change
    /// to a clinical or disclosing role made by a person is only proposed: the account keeps its
    /// role until a second person approves (`RoleChange::AwaitingApproval`).
    pub async fn update_staff(
        &self,
        grant: &Grant<can::ManageUsers>,
        user_id: i64,
        display_name: &str,
        role: Role,
        active: bool,
    ) -> Result<RoleChange> {
        let display_name = display_name.trim();
        if display_name.is_empty() || display_name.chars().count() > 100 {
            return Err(StoreError::invalid(
                "display_name",
                "is required (at most 100 characters)",
            ));
        }
        if grant.actor().user_id == Some(user_id) && (!active || role != Role::Admin) {
            return Err(StoreError::Conflict(
                "you cannot remove your own administrator access".into(),
            ));
        }
        let mut tx = self.begin().await?;
        let before: Option<(String, Flag)> =
            sqlx::query_as("SELECT role, active FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some((old_role, was_active)) = before else {
            return Err(StoreError::NotFound("user"));
        };
        if active && !was_active.0 && approvals::awaits_activation(&mut tx, user_id).await? {
            return Err(StoreError::Conflict(
                "this account waits for a second person to approve its role before it can be \
                 activated"
                    .into(),
            ));
        }
        let requested = role;
        let current: Role = parse_code(&old_role, "role")?;
        if (role == Role::Patient) != (current == Role::Patient) {
            // The realms never mix: a patient's account is ended from their chart.
            return Err(StoreError::invalid(
                "role",
                "a patient's portal account is not a staff account",
            ));
        }
        if role == Role::Auditor && current != Role::Auditor {
            return Err(StoreError::Conflict(
                "an auditor account is created with its audit or evaluation agreement; this \
                 account cannot become one"
                    .into(),
            ));
        }
        let proposed = approvals::needs_second_person(grant.actor(), Some(current), role);
        // A proposed role is not given yet: the account keeps the one it has.
        let role = if proposed { current } else { role };
        let changed =
            sqlx::query("UPDATE users SET display_name = $2, role = $3, active = $4 WHERE id = $1")
                .bind(user_id)
                .bind(display_name)
                .bind(role.code())
                .bind(active)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if changed == 0 {
            return Err(StoreError::NotFound("user"));
        }
        // A role change or deactivation takes effect at once, not at the next login.
        sqlx::query("DELETE FROM staff_sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        // Tokens were issued for the role and status the account had: a change revokes them.
        if old_role != role.code() || was_active.0 != active {
            revoke_tokens_of(&mut tx, user_id).await?;
        }
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "update",
                record_type: "user",
                record_id: Some(user_id),
                patient_id: None,
                detail: format!("role {} active {active}", role.code()),
            },
        )
        .await?;
        if old_role != role.code() {
            notify(
                &mut tx,
                grant.actor(),
                user_id,
                CredentialChange::RoleChanged,
            )
            .await?;
        }
        let outcome = if proposed {
            RoleChange::AwaitingApproval(
                approvals::propose(&mut tx, grant.actor(), user_id, requested, false).await?,
            )
        } else {
            RoleChange::Applied
        };
        tx.commit().await?;
        Ok(outcome)
    }

    /// Sets a new password (and clears any lockout). The account's sessions end and its API
    /// tokens are revoked: whoever held the old password may have made them.
    pub async fn set_password(&self, actor: &Actor, user_id: i64, password: &str) -> Result<()> {
        let user = self.staff_user(user_id).await?;
        validate_password(
            password,
            &[
                &user.username,
                &user.display_name,
                user.email.as_deref().unwrap_or(""),
            ],
        )?;
        let hash = hash_password(password.to_owned()).await?;
        let mut tx = self.begin().await?;
        // An enrolment code handed over before this password was chosen is dropped: the person
        // who approved it must never also hold the password (see `approvals`).
        let changed = sqlx::query(
            "UPDATE users SET password_hash = $2, failed_logins = 0, locked_until = NULL,
                 password_set_by = $3, enrolment_code_hash = NULL, enrolment_code_expires_at = NULL
             WHERE id = $1",
        )
        .bind(user_id)
        .bind(&hash)
        .bind(actor.user_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Err(StoreError::NotFound("user"));
        }
        sqlx::query("DELETE FROM staff_sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        revoke_tokens_of(&mut tx, user_id).await?;
        audit::append(
            &mut tx,
            actor,
            AuditEvent {
                action: "set_password",
                record_type: "user",
                record_id: Some(user_id),
                patient_id: None,
                detail: String::new(),
            },
        )
        .await?;
        notify(&mut tx, actor, user_id, CredentialChange::PasswordSet).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Lifts a lockout.
    pub async fn unlock_staff(&self, grant: &Grant<can::ManageUsers>, user_id: i64) -> Result<()> {
        self.staff_user(user_id).await?;
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM login_failures WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "unlock",
                record_type: "user",
                record_id: Some(user_id),
                patient_id: None,
                detail: String::new(),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Issues a one-time code with which the account's holder sets up their first second
    /// factor, valid for [`ENROLMENT_CODE_HOURS`]; a new code replaces any earlier one. Refused
    /// for an account that already has one (it is replaced only with a code from it), and for an
    /// account whose code takes two people when a person (not the command line) asks: use
    /// [`Store::request_enrolment_code`]. Audited, never with the code.
    pub async fn issue_enrolment_code(
        &self,
        grant: &Grant<can::ManageUsers>,
        user_id: i64,
    ) -> Result<EnrolmentCode> {
        let user = self.staff_user(user_id).await?;
        refuse_if_enrolled(&user)?;
        if self
            .enrolment_code_needs_second_person(grant.actor(), &user)
            .await?
        {
            return Err(StoreError::Conflict(
                "this account's role requires two-step verification: its enrolment code is requested here and issued by another administrator or the privacy officer on Role approvals".into(),
            ));
        }
        let mut tx = self.begin().await?;
        let code = store_enrolment_code(&mut tx, grant.actor(), user_id, "").await?;
        tx.commit().await?;
        Ok(code)
    }

    /// Every staff account, by name.
    pub async fn staff(&self) -> Result<Vec<StaffUser>> {
        Ok(sqlx::query_as(&format!(
            "{USER_SELECT} WHERE role <> 'patient' ORDER BY display_name, id"
        ))
        .fetch_all(&mut *self.read_conn().await?)
        .await?)
    }

    /// One staff account.
    pub async fn staff_user(&self, user_id: i64) -> Result<StaffUser> {
        sqlx::query_as(&format!("{USER_SELECT} WHERE id = $1"))
            .bind(user_id)
            .fetch_optional(&mut *self.read_conn().await?)
            .await?
            .ok_or(StoreError::NotFound("user"))
    }

    /// One staff account by username.
    pub async fn staff_by_username(&self, username: &str) -> Result<StaffUser> {
        sqlx::query_as(&format!("{USER_SELECT} WHERE username = $1"))
            .bind(username.trim().to_lowercase())
            .fetch_optional(&mut *self.read_conn().await?)
            .await?
            .ok_or(StoreError::NotFound("user"))
    }

    /// Active counselors and clinical directors, for the primary-counselor choice.
    pub async fn counselors(&self) -> Result<Vec<StaffUser>> {
        Ok(sqlx::query_as(&format!(
            "{USER_SELECT} WHERE active = $1 AND role IN ('counselor', 'clinical_director') ORDER BY display_name, id"
        ))
        .bind(true)
        .fetch_all(&mut *self.read_conn().await?)
        .await?)
    }

    /// The sites and programs a staff member is assigned to.
    pub async fn assignments(&self, user_id: i64) -> Result<Vec<Assignment>> {
        Ok(sqlx::query_as(
            "SELECT a.site_id, s.name AS site_name, a.program_id, pr.name AS program_name
             FROM staff_assignments a JOIN sites s ON s.id = a.site_id
             LEFT JOIN programs pr ON pr.id = a.program_id
             WHERE a.user_id = $1 ORDER BY s.name, pr.name, pr.id",
        )
        .bind(user_id)
        .fetch_all(&mut *self.read_conn().await?)
        .await?)
    }

    /// Replaces a staff member's assignments: (site, program or none for the whole site).
    pub async fn set_assignments(
        &self,
        grant: &Grant<can::ManageUsers>,
        user_id: i64,
        assignments: &[(i64, Option<i64>)],
    ) -> Result<()> {
        self.staff_user(user_id).await?;
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM staff_assignments WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        for (site_id, program_id) in assignments {
            if let Some(program_id) = program_id {
                let site: Option<i64> =
                    sqlx::query_scalar("SELECT site_id FROM programs WHERE id = $1")
                        .bind(program_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                if site != Some(*site_id) {
                    return Err(StoreError::invalid(
                        "assignments",
                        "a program must belong to its site",
                    ));
                }
            }
            sqlx::query(
                "INSERT INTO staff_assignments (user_id, site_id, program_id) VALUES ($1, $2, $3)",
            )
            .bind(user_id)
            .bind(site_id)
            .bind(program_id)
            .execute(&mut *tx)
            .await
            .map_err(|e| match e {
                sqlx::Error::Database(ref db) if db.is_foreign_key_violation() => {
                    StoreError::invalid("assignments", "unknown site or program")
                }
                other => unique_violation(other, "duplicate assignment"),
            })?;
        }
        // Scope changes take effect at once: end the account's sessions.
        sqlx::query("DELETE FROM staff_sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "set_assignments",
                record_type: "user",
                record_id: Some(user_id),
                patient_id: None,
                detail: format!("{} assignments", assignments.len()),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Whether a role must use MFA: the administrator's setting, or by default every role that
    /// reads clinical text or administers (`Role::requires_mfa_by_default`).
    pub async fn mfa_required(&self, role: Role) -> Result<bool> {
        Ok(
            sqlx::query_scalar::<_, Flag>("SELECT mfa_required FROM role_policies WHERE role = $1")
                .bind(role.code())
                .fetch_optional(&mut *self.read_conn().await?)
                .await?
                .map_or(role.requires_mfa_by_default(), bool::from),
        )
    }

    /// Sets whether a role must use MFA. Switching it on is one person's; switching it off,
    /// when a person (not the command line) asks, waits for another administrator or the
    /// privacy officer (`RoleChange::AwaitingApproval`), since without it one administrator who
    /// sets a password could sign in as anyone of that role.
    pub async fn set_mfa_required(
        &self,
        actor: &Actor,
        role: Role,
        required: bool,
    ) -> Result<RoleChange> {
        if !required && actor.user_id.is_some() && self.mfa_required(role).await? {
            return approvals::request_mfa_policy_off(self, actor, role).await;
        }
        let mut tx = self.begin().await?;
        if required {
            approvals::supersede_mfa_policy_off(&mut tx, actor, role).await?;
        }
        apply_mfa_policy(&mut tx, actor, role, required, "").await?;
        tx.commit().await?;
        Ok(RoleChange::Applied)
    }

    /// Checks a username and password from a client address (the real client's, behind a trusted
    /// proxy), applying the address throttle, the per-account-and-address lock and the
    /// per-account backoff.
    ///
    /// Password failures never lock the account for everyone: five from one address pause that
    /// account for that address only, and failures from many addresses slow every answer on the
    /// account (at most [`BACKOFF_MAX_MS`]) rather than refuse its owner. Unknown accounts, wrong
    /// passwords and wrong passwords on locked accounts get the same answer.
    pub async fn login(&self, username: &str, password: &str, ip: &str) -> Result<LoginOutcome> {
        let now = Instant::now();
        let window_start = Instant(now.0 - Duration::minutes(LOCKOUT_MINUTES));
        let recent: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM login_failures WHERE ip = $1 AND at >= $2")
                .bind(ip)
                .bind(window_start)
                .fetch_one(&mut *self.read_conn().await?)
                .await?;
        if recent >= IP_FAILURE_LIMIT {
            return Ok(LoginOutcome::Throttled);
        }
        let row: Option<(i64, String, Flag, Option<Instant>)> = sqlx::query_as(
            "SELECT id, password_hash, active, locked_until FROM users WHERE username = $1",
        )
        .bind(username.trim().to_lowercase())
        .fetch_optional(&mut *self.read_conn().await?)
        .await?;
        let Some((user_id, hash, active, locked_until)) = row else {
            verify_password(password.to_owned(), dummy_hash().await.to_owned()).await;
            self.record_failure(ip, None, now).await?;
            return Ok(LoginOutcome::Invalid);
        };
        let (from_here, everywhere): (i64, i64) = sqlx::query_as(
            "SELECT COALESCE(SUM(CASE WHEN ip = $2 THEN 1 ELSE 0 END), 0), COUNT(*)
             FROM login_failures WHERE user_id = $1 AND at >= $3",
        )
        .bind(user_id)
        .bind(ip)
        .bind(window_start)
        .fetch_one(&mut *self.read_conn().await?)
        .await?;
        if everywhere >= BACKOFF_AFTER {
            let steps = u64::try_from(everywhere - BACKOFF_AFTER + 1).unwrap_or(u64::MAX);
            let delay = steps.saturating_mul(BACKOFF_STEP_MS).min(BACKOFF_MAX_MS);
            tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
        }
        if !verify_password(password.to_owned(), hash).await || !active.0 {
            self.record_failure(ip, Some(user_id), now).await?;
            return Ok(LoginOutcome::Invalid);
        }
        if let Some(until) = locked_until.filter(|u| *u > now) {
            return Ok(LoginOutcome::Locked(until));
        }
        if from_here >= LOCKOUT_THRESHOLD {
            let first: Option<Instant> = sqlx::query_scalar(
                "SELECT MIN(at) FROM login_failures WHERE user_id = $1 AND ip = $2 AND at >= $3",
            )
            .bind(user_id)
            .bind(ip)
            .bind(window_start)
            .fetch_one(&mut *self.read_conn().await?)
            .await?;
            let until = first.map_or(now, |f| Instant(f.0 + Duration::minutes(LOCKOUT_MINUTES)));
            return Ok(LoginOutcome::Locked(until));
        }
        // The password is right: this address's guesses at it are over (the second factor's
        // count, on the account, is not touched here).
        sqlx::query("DELETE FROM login_failures WHERE user_id = $1 AND ip = $2")
            .bind(user_id)
            .bind(ip)
            .execute(self.writer())
            .await?;
        let user = self.staff_user(user_id).await?;
        if user.mfa_enabled {
            // The second factor's failure count stands until it is given: otherwise a password
            // holder could re-enter the password between guesses at the code and never lock.
            return Ok(LoginOutcome::NeedsMfa(user));
        }
        if self.mfa_required(user.role()?).await? {
            // As above: the count stands until the authenticator set-up is confirmed.
            return Ok(LoginOutcome::NeedsMfaEnrolment(user));
        }
        sqlx::query("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1")
            .bind(user_id)
            .execute(self.writer())
            .await?;
        Ok(LoginOutcome::Success(user))
    }

    /// Completes a sign-in with the second factor. `code_step` is the TOTP time step the code
    /// matched, or none for a wrong code. A step at or before the last one accepted is a replay
    /// and fails like a wrong code. Each failure is audited (never the code) and counts toward
    /// the account's lockout; at the lockout the half-signed-in sessions end.
    pub async fn second_factor(
        &self,
        session_secret: &str,
        user_id: i64,
        code_step: Option<i64>,
        ip: &str,
    ) -> Result<SecondFactorOutcome> {
        let mut attempt = match SecondFactorAttempt::open(self, user_id, ip).await? {
            Ok(attempt) => attempt,
            Err(locked) => return Ok(locked),
        };
        let accepted = match code_step {
            Some(step) => {
                sqlx::query(
                    "UPDATE users SET mfa_last_step = $2
                     WHERE id = $1 AND (mfa_last_step IS NULL OR mfa_last_step < $2)",
                )
                .bind(user_id)
                .bind(step)
                .execute(&mut *attempt.tx)
                .await?
                .rows_affected()
                    == 1
            }
            None => false,
        };
        let result = match (accepted, code_step) {
            (true, _) => Ok("second factor"),
            (false, Some(_)) => Err("code already used".to_owned()),
            (false, None) => Err("wrong code".to_owned()),
        };
        attempt.settle(session_secret, ip, result).await
    }

    pub(crate) async fn record_failure(
        &self,
        ip: &str,
        user_id: Option<i64>,
        now: Instant,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("INSERT INTO login_failures (ip, user_id, at) VALUES ($1, $2, $3)")
            .bind(ip)
            .bind(user_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let actor = Actor {
            user_id,
            username: "anonymous".into(),
            role: Role::FrontDesk,
            ip: Some(ip.to_owned()),
            request_id: None,
        };
        audit::append(
            &mut tx,
            &actor,
            AuditEvent {
                action: "login_failed",
                record_type: "session",
                record_id: None,
                patient_id: None,
                detail: String::new(),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Opens a session; returns the cookie secret (stored only hashed) and the CSRF token.
    pub async fn create_session(
        &self,
        user: &StaffUser,
        mfa_verified: bool,
        ip: &str,
        browser: &str,
        lifetime: Duration,
    ) -> Result<(String, String)> {
        let secret = random_secret();
        let csrf = random_secret();
        let now = Instant::now();
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO staff_sessions (id_hash, user_id, csrf_token, mfa_verified, created_at,
                 last_seen_at, expires_at, ip, browser)
             VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8)",
        )
        .bind(secret_hash(&secret))
        .bind(user.id)
        .bind(&csrf)
        .bind(mfa_verified)
        .bind(now)
        .bind(Instant(now.0 + lifetime))
        .bind(ip)
        .bind(browser)
        .execute(&mut *tx)
        .await?;
        if mfa_verified {
            sqlx::query("UPDATE users SET last_login_at = $2 WHERE id = $1")
                .bind(user.id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        let actor = Actor {
            user_id: Some(user.id),
            username: user.username.clone(),
            role: user.role()?,
            ip: Some(ip.to_owned()),
            request_id: None,
        };
        audit::append(
            &mut tx,
            &actor,
            AuditEvent {
                action: if mfa_verified {
                    "login"
                } else {
                    "login_password_ok"
                },
                record_type: "session",
                record_id: None,
                patient_id: None,
                detail: String::new(),
            },
        )
        .await?;
        tx.commit().await?;
        Ok((secret, csrf))
    }

    /// Finds a live session; ends it if idle too long or past its absolute lifetime.
    pub async fn session(&self, secret: &str, idle: Duration) -> Result<Option<StaffSession>> {
        let id_hash = secret_hash(secret);
        // The session and its user in one query: every signed-in request starts here.
        let row: Option<SessionRow> = sqlx::query_as(
            "SELECT s.csrf_token, s.mfa_verified, s.last_seen_at, s.expires_at,
                 u.id, u.username, u.display_name, u.email, u.role, u.active, u.mfa_enabled,
                 u.locked_until, u.last_login_at
             FROM staff_sessions s JOIN users u ON u.id = s.user_id
             WHERE s.id_hash = $1",
        )
        .bind(&id_hash)
        .fetch_optional(&mut *self.read_conn().await?)
        .await?;
        let Some(SessionRow {
            csrf_token,
            mfa_verified,
            last_seen_at: last_seen,
            expires_at: expires,
            user,
        }) = row
        else {
            return Ok(None);
        };
        let now = Instant::now();
        if now >= expires || now.0 - last_seen.0 >= idle {
            self.end_session(secret).await?;
            return Ok(None);
        }
        // Touch at most once a minute: a write per request would serialise readers on SQLite.
        if now.0 - last_seen.0 >= Duration::seconds(60) {
            sqlx::query("UPDATE staff_sessions SET last_seen_at = $2 WHERE id_hash = $1")
                .bind(&id_hash)
                .bind(now)
                .execute(self.writer())
                .await?;
        }
        if !user.active {
            return Ok(None);
        }
        Ok(Some(StaffSession {
            user,
            csrf_token,
            mfa_verified: mfa_verified.0,
        }))
    }

    /// Marks a session's second factor as given.
    pub async fn mark_session_mfa_verified(&self, secret: &str, user_id: i64) -> Result<()> {
        sqlx::query("UPDATE staff_sessions SET mfa_verified = $2 WHERE id_hash = $1")
            .bind(secret_hash(secret))
            .bind(true)
            .execute(self.writer())
            .await?;
        sqlx::query("UPDATE users SET last_login_at = $2 WHERE id = $1")
            .bind(user_id)
            .bind(Instant::now())
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// Ends a session.
    pub async fn end_session(&self, secret: &str) -> Result<()> {
        sqlx::query("DELETE FROM staff_sessions WHERE id_hash = $1")
            .bind(secret_hash(secret))
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// Stores a TOTP secret for the user (enabled once a code from it is confirmed).
    pub async fn set_mfa_secret(
        &self,
        actor: &Actor,
        user_id: i64,
        secret: Option<&str>,
        enabled: bool,
    ) -> Result<()> {
        self.set_mfa_secret_from_step(actor, user_id, secret, enabled, None)
            .await
    }

    /// As [`Store::set_mfa_secret`], also recording the time step of the code that confirmed
    /// the secret, so that code cannot be used again to sign in.
    pub async fn set_mfa_secret_from_step(
        &self,
        actor: &Actor,
        user_id: i64,
        secret: Option<&str>,
        enabled: bool,
        confirmed_step: Option<i64>,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE users SET mfa_secret = $2, mfa_enabled = $3, mfa_last_step = $4 WHERE id = $1",
        )
        .bind(user_id)
        .bind(secret)
        .bind(enabled)
        .bind(confirmed_step)
        .execute(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            actor,
            AuditEvent {
                action: if enabled {
                    "mfa_enabled"
                } else {
                    "mfa_changed"
                },
                record_type: "user",
                record_id: Some(user_id),
                patient_id: None,
                detail: String::new(),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The user's TOTP secret, if any.
    pub async fn mfa_secret(&self, user_id: i64) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar::<_, Option<String>>("SELECT mfa_secret FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_optional(&mut *self.read_conn().await?)
                .await?
                .flatten(),
        )
    }

    /// Starts setting up an authenticator: the secret waits, apart from any authenticator in
    /// use, for a confirming code within [`MFA_ENROLMENT_MINUTES`].
    pub async fn start_mfa_enrolment(&self, user_id: i64, secret: &str) -> Result<()> {
        sqlx::query("UPDATE users SET mfa_pending_secret = $2, mfa_pending_at = $3 WHERE id = $1")
            .bind(user_id)
            .bind(secret)
            .bind(Instant::now())
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// The secret of the authenticator being set up, unless its window has passed.
    pub async fn pending_mfa_secret(&self, user_id: i64) -> Result<Option<String>> {
        let row: Option<(Option<String>, Option<Instant>)> =
            sqlx::query_as("SELECT mfa_pending_secret, mfa_pending_at FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_optional(&mut *self.read_conn().await?)
                .await?;
        Ok(match row {
            Some((Some(secret), Some(at))) if enrolment_open(at) => Some(secret),
            _ => None,
        })
    }

    /// Confirms the authenticator being set up. `new_step` is the time step the code from the
    /// new authenticator matched (none if wrong); `current_step` the step the code from the
    /// authenticator in use matched, needed only when the account already has one (a stolen
    /// session alone cannot swap it); `enrolment_code` the administrator's one-time code,
    /// needed only when it has none (a password alone cannot enrol one), used up on success. A failure is audited like a failed sign-in (never a code
    /// or secret) and counts toward the lockout, at which this session ends. On success the
    /// change is audited and every other session of the account ends.
    pub async fn confirm_mfa_enrolment(
        &self,
        session_secret: &str,
        user_id: i64,
        new_step: Option<i64>,
        current_step: Option<i64>,
        enrolment_code: &str,
        ip: &str,
    ) -> Result<EnrolmentOutcome> {
        #[derive(FromRow)]
        struct Row {
            username: String,
            role: String,
            failed_logins: i64,
            locked_until: Option<Instant>,
            #[sqlx(try_from = "Flag")]
            mfa_enabled: bool,
            mfa_secret: Option<String>,
            mfa_last_step: Option<i64>,
            mfa_pending_secret: Option<String>,
            mfa_pending_at: Option<Instant>,
            enrolment_code_hash: Option<String>,
            enrolment_code_expires_at: Option<Instant>,
        }
        let now = Instant::now();
        let mut tx = self.begin().await?;
        let row: Row = sqlx::query_as(
            "SELECT username, role, failed_logins, locked_until, mfa_enabled, mfa_secret,
                 mfa_last_step, mfa_pending_secret, mfa_pending_at, enrolment_code_hash,
                 enrolment_code_expires_at FROM users WHERE id = $1",
        )
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound("user"))?;
        let actor = Actor {
            user_id: Some(user_id),
            username: row.username,
            role: parse_code(&row.role, "role")?,
            ip: Some(ip.to_owned()),
            request_id: None,
        };
        let session_hash = secret_hash(session_secret);
        if let Some(until) = row.locked_until.filter(|u| *u > now) {
            end_session_and_half_sessions(&mut tx, user_id, &session_hash).await?;
            tx.commit().await?;
            return Ok(EnrolmentOutcome::Locked(until));
        }
        let pending = match (row.mfa_pending_secret, row.mfa_pending_at) {
            (Some(secret), Some(at)) if enrolment_open(at) => secret,
            _ => {
                clear_pending_enrolment(&mut tx, user_id).await?;
                tx.commit().await?;
                return Ok(EnrolmentOutcome::Expired);
            }
        };
        let last = row.mfa_last_step;
        // An account whose only second factors are passkeys adds an app from a session signed
        // in with one of them: there is no current app to give a code from.
        let passkeys_only = row.mfa_enabled && row.mfa_secret.is_none() && {
            let verified: Option<Flag> = sqlx::query_scalar(
                "SELECT mfa_verified FROM staff_sessions WHERE id_hash = $1 AND user_id = $2",
            )
            .bind(&session_hash)
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?;
            verified.is_some_and(|v| v.0)
        };
        let current_ok = !row.mfa_enabled
            || passkeys_only
            || current_step.is_some_and(|c| last.is_none_or(|l| c > l));
        let code_ok = row.mfa_enabled
            || enrolment_code_matches(
                row.enrolment_code_hash.as_deref(),
                row.enrolment_code_expires_at,
                enrolment_code,
                now,
            );
        let failure = match (code_ok, current_ok, new_step) {
            (false, _, _) => Some((
                EnrolmentOutcome::EnrolmentCodeWrong,
                "set-up: enrolment code missing, wrong, used or expired",
            )),
            (_, false, _) => Some((
                EnrolmentOutcome::CurrentCodeWrong,
                "set-up: current code wrong or already used",
            )),
            (_, true, None) => Some((EnrolmentOutcome::Wrong, "set-up: wrong code")),
            (_, true, Some(_)) => None,
        };
        if let Some((outcome, reason)) = failure {
            let attempt = SetUpFailure {
                actor: &actor,
                failures: row.failed_logins,
                ip,
                now,
                session_hash: &session_hash,
            };
            return attempt.refuse(tx, reason, outcome).await;
        }
        // Steps are wall-clock time steps, so the latest one seen covers both authenticators.
        let step = [new_step, current_step, last].into_iter().flatten().max();
        sqlx::query(
            "UPDATE users SET mfa_secret = $2, mfa_enabled = $3, mfa_last_step = $4,
                 mfa_pending_secret = NULL, mfa_pending_at = NULL, enrolment_code_hash = NULL,
                 enrolment_code_expires_at = NULL, failed_logins = 0, locked_until = NULL,
                 last_login_at = $5
             WHERE id = $1",
        )
        .bind(user_id)
        .bind(&pending)
        .bind(true)
        .bind(step)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let kept = sqlx::query(
            "UPDATE staff_sessions SET mfa_verified = $3 WHERE id_hash = $1 AND user_id = $2",
        )
        .bind(&session_hash)
        .bind(user_id)
        .bind(true)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if kept == 0 {
            // Dropping the transaction leaves the account as it was.
            return Err(StoreError::NotFound("session"));
        }
        sqlx::query("DELETE FROM staff_sessions WHERE user_id = $1 AND id_hash <> $2")
            .bind(user_id)
            .bind(&session_hash)
            .execute(&mut *tx)
            .await?;
        audit::append(
            &mut tx,
            &actor,
            AuditEvent {
                action: if row.mfa_enabled {
                    "mfa_replaced"
                } else {
                    "mfa_enrolled"
                },
                record_type: "user",
                record_id: Some(user_id),
                patient_id: None,
                detail: if row.mfa_enabled {
                    "by the account holder; other sessions ended"
                } else {
                    "by the account holder with an administrator's enrolment code; other sessions ended"
                }
                .into(),
            },
        )
        .await?;
        notify(
            &mut tx,
            &actor,
            user_id,
            if row.mfa_enabled {
                CredentialChange::AuthenticatorReplaced
            } else {
                CredentialChange::SecondFactorEnrolled
            },
        )
        .await?;
        tx.commit().await?;
        Ok(EnrolmentOutcome::Enrolled)
    }

    /// Changes the signed-in user's own password. The current password is checked first; a
    /// wrong one is audited and counts toward the lockout, at which this session ends. The new
    /// one must pass [`validate_password`]. On success the account's other sessions end and
    /// its API tokens are revoked (as an administrator's reset does), this session stays.
    pub async fn change_own_password(
        &self,
        session_secret: &str,
        user_id: i64,
        current: &str,
        new: &str,
        ip: &str,
    ) -> Result<PasswordChangeOutcome> {
        let now = Instant::now();
        let row: Option<(String, i64, Option<Instant>)> = sqlx::query_as(
            "SELECT password_hash, failed_logins, locked_until FROM users WHERE id = $1",
        )
        .bind(user_id)
        .fetch_optional(&mut *self.read_conn().await?)
        .await?;
        let (hash, failures, locked_until) = row.ok_or(StoreError::NotFound("user"))?;
        let user = self.staff_user(user_id).await?;
        let actor = Actor {
            user_id: Some(user_id),
            username: user.username.clone(),
            role: user.role()?,
            ip: Some(ip.to_owned()),
            request_id: None,
        };
        let session_hash = secret_hash(session_secret);
        if let Some(until) = locked_until.filter(|u| *u > now) {
            let mut tx = self.begin().await?;
            end_session_and_half_sessions(&mut tx, user_id, &session_hash).await?;
            tx.commit().await?;
            return Ok(PasswordChangeOutcome::Locked(until));
        }
        if !verify_password(current.to_owned(), hash).await {
            let mut tx = self.begin().await?;
            let failure = CredentialFailure {
                action: "password_change_failed",
                record_type: "user",
                record_id: Some(user_id),
                reason: "wrong current password",
            };
            let lock =
                count_credential_failure(&mut tx, &actor, failures, ip, now, &failure).await?;
            if lock.is_some() {
                end_session_and_half_sessions(&mut tx, user_id, &session_hash).await?;
            }
            tx.commit().await?;
            return Ok(match lock {
                Some(until) => PasswordChangeOutcome::Locked(until),
                None => PasswordChangeOutcome::WrongCurrent,
            });
        }
        validate_password(
            new,
            &[
                &user.username,
                &user.display_name,
                user.email.as_deref().unwrap_or(""),
            ],
        )?;
        let new_hash = hash_password(new.to_owned()).await?;
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE users SET password_hash = $2, failed_logins = 0, locked_until = NULL,
                 password_set_by = $1
             WHERE id = $1",
        )
        .bind(user_id)
        .bind(&new_hash)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM staff_sessions WHERE user_id = $1 AND id_hash <> $2")
            .bind(user_id)
            .bind(&session_hash)
            .execute(&mut *tx)
            .await?;
        revoke_tokens_of(&mut tx, user_id).await?;
        audit::append(
            &mut tx,
            &actor,
            AuditEvent {
                action: "change_password",
                record_type: "user",
                record_id: Some(user_id),
                patient_id: None,
                detail: "by the account holder; other sessions ended, API tokens revoked".into(),
            },
        )
        .await?;
        notify(&mut tx, &actor, user_id, CredentialChange::PasswordChanged).await?;
        tx.commit().await?;
        Ok(PasswordChangeOutcome::Changed)
    }

    /// Creates an API token for a user; returns the secret, shown once. A token carries exactly
    /// its owner's role (never another, which could grant what the owner lacks) and expires
    /// within `max_lifetime` (at its end if no earlier expiry is asked for).
    pub async fn create_token(
        &self,
        actor: &Actor,
        user_id: i64,
        name: &str,
        role: Role,
        expires_at: Option<Instant>,
        max_lifetime: Duration,
    ) -> Result<String> {
        let user = self.staff_user(user_id).await?;
        if user.role()? == Role::Patient {
            // The API is staff's; a patient's account acts only through the portal.
            return Err(StoreError::invalid(
                "user",
                "is a patient's portal account; API tokens are for staff",
            ));
        }
        if user.role()? != role {
            return Err(StoreError::invalid(
                "role",
                format!(
                    "a token carries its owner's role ({}), no other",
                    user.role()?.code()
                ),
            ));
        }
        if !user.active {
            return Err(StoreError::invalid("user", "is deactivated"));
        }
        let now = Instant::now();
        let latest = Instant(now.0 + max_lifetime);
        let expires_at = expires_at.unwrap_or(latest);
        if expires_at <= now || expires_at > latest {
            return Err(StoreError::invalid(
                "expires_at",
                format!("must be within the next {} days", max_lifetime.num_days()),
            ));
        }
        let name = name.trim();
        if name.is_empty() || name.len() > 100 {
            return Err(StoreError::invalid(
                "name",
                "is required (at most 100 characters)",
            ));
        }
        let secret = format!("trl_{}", random_secret());
        let mut tx = self.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO api_tokens (user_id, name, token_hash, role, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(user_id)
        .bind(name)
        .bind(secret_hash(&secret))
        .bind(role.code())
        .bind(now)
        .bind(expires_at)
        .fetch_one(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            actor,
            AuditEvent {
                action: "create",
                record_type: "api_token",
                record_id: Some(id),
                patient_id: None,
                detail: format!("for user {user_id} role {}", role.code()),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(secret)
    }

    /// Revokes an API token.
    pub async fn revoke_token(&self, actor: &Actor, token_id: i64) -> Result<()> {
        let mut tx = self.begin().await?;
        let changed = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(token_id)
        .bind(Instant::now())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Err(StoreError::NotFound("api token"));
        }
        audit::append(
            &mut tx,
            actor,
            AuditEvent {
                action: "revoke",
                record_type: "api_token",
                record_id: Some(token_id),
                patient_id: None,
                detail: String::new(),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// API tokens, newest first.
    pub async fn tokens(&self) -> Result<Vec<ApiTokenInfo>> {
        Ok(sqlx::query_as(
            "SELECT id, user_id, name, role, created_at, expires_at, revoked_at FROM api_tokens ORDER BY id DESC",
        )
        .fetch_all(&mut *self.read_conn().await?)
        .await?)
    }

    /// The account and role a live bearer token acts as. A token is refused when revoked,
    /// expired, older than `max_lifetime` (tokens made before expiry was required), or when
    /// its role is no longer its owner's, or its owner is deactivated: the token can never act
    /// with more than the person has now. Scope (sites, programs) is read from the owner's
    /// assignments at each use.
    pub async fn token_actor(
        &self,
        secret: &str,
        max_lifetime: Duration,
    ) -> Result<Option<(StaffUser, Role)>> {
        #[derive(FromRow)]
        struct TokenRow {
            user_id: i64,
            role: String,
            created_at: Instant,
            expires_at: Option<Instant>,
            revoked_at: Option<Instant>,
        }
        let row: Option<TokenRow> = sqlx::query_as(
            "SELECT user_id, role, created_at, expires_at, revoked_at FROM api_tokens
             WHERE token_hash = $1",
        )
        .bind(secret_hash(secret))
        .fetch_optional(&mut *self.read_conn().await?)
        .await?;
        let Some(token) = row else {
            return Ok(None);
        };
        let now = Instant::now();
        let expired = token.expires_at.is_some_and(|e| e <= now)
            || now.0 >= token.created_at.0 + max_lifetime;
        if token.revoked_at.is_some() || expired {
            return Ok(None);
        }
        let user = self.staff_user(token.user_id).await?;
        if !user.active || user.role != token.role {
            return Ok(None);
        }
        let role = user.role()?;
        Ok(Some((user, role)))
    }
}
