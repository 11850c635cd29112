//! Small display helpers shared by templates: local times, levels of care, labels.

use chrono::NaiveDate;
use chrono_tz::Tz;
use trellis_domain::care::{DischargeReason, LevelOfCare};
use trellis_storage::{Day, Instant};

/// An instant in the clinic's time zone, e.g. "2026-11-27 11:24 EST".
pub fn local_time(at: &Instant, tz: Tz) -> String {
    at.0.with_timezone(&tz)
        .format("%Y-%m-%d %H:%M %Z")
        .to_string()
}

/// A calendar day, e.g. "Nov 27, 2026".
pub fn day(d: &Day) -> String {
    date(d.0)
}

/// A date as every page writes days, e.g. "Nov 27, 2026".
pub fn date(d: NaiveDate) -> String {
    trellis_storage::readable_day(d)
}

/// A level-of-care code with its name, e.g. "2.1 Intensive outpatient (IOP)".
pub fn level(code: &str) -> String {
    code.parse::<LevelOfCare>()
        .map(|l| l.to_string())
        .unwrap_or_else(|_| code.to_owned())
}

/// A TEDS discharge reason code as staff read it (the code itself is for the state report,
/// not the page).
pub fn discharge_reason(code: Option<i64>) -> String {
    code.and_then(|c| DischargeReason::from_teds_code(c).ok())
        .map(|r| r.label().to_owned())
        .unwrap_or_default()
}

/// A role code as staff read it, e.g. "clinical_director" → "Clinical director".
pub fn role(code: &str) -> String {
    code.parse::<trellis_domain::access::Role>()
        .map(|r| r.label().to_owned())
        .unwrap_or_else(|_| words(code))
}

/// The actions the audit page filters by, with what staff call them.
pub const AUDIT_ACTIONS: &[(&str, &str)] = &[
    ("read", "Viewed"),
    ("search", "Searched"),
    ("create", "Created"),
    ("update", "Changed"),
    ("sign", "Signed"),
    ("cosign", "Co-signed"),
    ("delete", "Deleted"),
    ("revoke", "Revoked"),
    ("cancel", "Cancelled"),
    ("admit", "Admitted"),
    ("discharge", "Discharged"),
    ("change_level", "Changed level of care"),
    ("disclose", "Disclosed"),
    ("disclosure_refused", "Disclosure refused"),
    ("break_glass", "Emergency access"),
    ("access_denied", "Access refused"),
    ("login", "Signed in"),
    ("logout", "Signed out"),
    ("login_failed", "Sign-in failed"),
    ("mfa_failed", "Second factor failed"),
    ("record_attendance", "Recorded attendance"),
    ("raise_flag", "Raised a flag"),
    ("set_password", "Set a password"),
    ("change_password", "Changed own password"),
    ("set_assignments", "Changed assignments"),
    ("propose_role", "Proposed a role"),
    ("request_mfa_reset", "Asked to remove two-step verification"),
    ("mfa_reset", "Removed two-step verification"),
    (
        "refuse_mfa_reset",
        "Refused to remove two-step verification",
    ),
    ("request_enrolment_code", "Asked for an enrolment code"),
    ("mfa_enrolment_code_issued", "Issued an enrolment code"),
    (
        "request_mfa_policy_off",
        "Asked to stop requiring two-step verification",
    ),
    ("end_own_sessions", "Signed out own sessions"),
    ("phase_decision", "Decided a phase"),
];

/// An audit action as staff read it, e.g. "read" → "Viewed".
pub fn audit_action(code: &str) -> String {
    AUDIT_ACTIONS
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, label)| (*label).to_owned())
        .unwrap_or_else(|| words(code))
}

/// A kind of record as staff read it, e.g. "progress_note" → "Progress note".
pub fn record_kind(code: &str) -> String {
    match code {
        "intake_assessment" => "Intake assessment".to_owned(),
        "patient_list" => "Patient list".to_owned(),
        "site_week" => "Week schedule".to_owned(),
        "staff_sessions" => "Staff sign-in sessions".to_owned(),
        "api_token" => "API token".to_owned(),
        "user" => "Staff account".to_owned(),
        _ => words(code),
    }
}

/// An audit row's detail as staff read it: the code writes codes into it ("patient_flags",
/// "absent_unexcused"), which read as words ("patient flags").
pub fn audit_detail(detail: &str) -> String {
    detail.replace('_', " ")
}

/// A snake_case code in words with a capital, the fallback for codes without a label.
fn words(code: &str) -> String {
    let spaced = code.replace('_', " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_as_words() {
        assert_eq!(role("clinical_director"), "Clinical director");
        assert_eq!(role("peer_specialist"), "Peer support specialist");
        assert_eq!(audit_action("read"), "Viewed");
        assert_eq!(audit_action("key_chain"), "Key chain");
        assert_eq!(record_kind("progress_note"), "Progress note");
        assert_eq!(record_kind("user"), "Staff account");
        assert_eq!(discharge_reason(Some(1)), "Treatment completed");
        assert_eq!(audit_detail("read patient_flags"), "read patient flags");
    }
}
