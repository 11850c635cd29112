//! The patient portal's account rules: how long an invitation lasts and what state an account
//! is in, in the words staff and the patient read.

use chrono::{DateTime, Duration, Utc};

/// How long an invitation code works after staff make it.
pub const INVITATION_HOURS: i64 = 72;

/// Where a patient's portal account stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountState {
    /// Never invited, or invited and the invitation ran out before it was used.
    None,
    /// Invited; the code works until it runs out.
    Invited,
    /// The invitation ran out unused.
    InvitationExpired,
    /// The patient set a password and may sign in.
    Active,
    /// Staff ended the account; the patient can no longer sign in.
    Revoked,
}

impl AccountState {
    /// The state as staff read it on the chart.
    pub fn label(self) -> &'static str {
        match self {
            AccountState::None => "Not invited",
            AccountState::Invited => "Invited, not yet signed up",
            AccountState::InvitationExpired => "Invitation ran out unused",
            AccountState::Active => "Active",
            AccountState::Revoked => "Ended by staff",
        }
    }

    /// The stored code, for the API.
    pub fn code(self) -> &'static str {
        match self {
            AccountState::None => "none",
            AccountState::Invited => "invited",
            AccountState::InvitationExpired => "invitation_expired",
            AccountState::Active => "active",
            AccountState::Revoked => "revoked",
        }
    }

    /// Every state, in the order the API lists them.
    pub const ALL: [AccountState; 5] = [
        AccountState::None,
        AccountState::Invited,
        AccountState::InvitationExpired,
        AccountState::Active,
        AccountState::Revoked,
    ];
}

/// What is on file for a patient's portal account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AccountFacts {
    /// When the last invitation stops working, if one is open (unused).
    pub invitation_expires_at: Option<DateTime<Utc>>,
    /// Whether the patient has set a password (an account exists).
    pub activated: bool,
    /// Whether staff ended the account (or the invitation) since.
    pub revoked: bool,
}

/// The account's state at `now`. An open invitation after a revocation counts as a fresh
/// invitation: staff may invite again after ending an account.
pub fn account_state(facts: AccountFacts, now: DateTime<Utc>) -> AccountState {
    match facts.invitation_expires_at {
        Some(expires) if expires > now => AccountState::Invited,
        Some(_) if !facts.activated || facts.revoked => AccountState::InvitationExpired,
        _ if facts.revoked => AccountState::Revoked,
        _ if facts.activated => AccountState::Active,
        _ => AccountState::None,
    }
}

/// When an invitation made at `made_at` stops working.
pub fn invitation_expiry(made_at: DateTime<Utc>) -> DateTime<Utc> {
    made_at + Duration::hours(INVITATION_HOURS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 7, h, 0, 0)
            .single()
            .expect("time")
    }

    #[test]
    fn an_invitation_lasts_seventy_two_hours() {
        let made = at(9);
        let expires = invitation_expiry(made);
        assert_eq!(expires - made, Duration::hours(72));
        let facts = AccountFacts {
            invitation_expires_at: Some(expires),
            ..AccountFacts::default()
        };
        assert_eq!(
            account_state(facts, made + Duration::hours(71)),
            AccountState::Invited
        );
        assert_eq!(
            account_state(facts, made + Duration::hours(72)),
            AccountState::InvitationExpired
        );
    }

    #[test]
    fn an_account_is_active_until_staff_end_it_and_may_be_invited_again() {
        let active = AccountFacts {
            activated: true,
            ..AccountFacts::default()
        };
        assert_eq!(account_state(active, at(9)), AccountState::Active);
        let revoked = AccountFacts {
            revoked: true,
            ..active
        };
        assert_eq!(account_state(revoked, at(9)), AccountState::Revoked);
        let again = AccountFacts {
            invitation_expires_at: Some(at(12)),
            ..revoked
        };
        assert_eq!(account_state(again, at(10)), AccountState::Invited);
        assert_eq!(
            account_state(again, at(13)),
            AccountState::InvitationExpired
        );
        assert_eq!(
            account_state(AccountFacts::default(), at(9)),
            AccountState::None
        );
    }
}
