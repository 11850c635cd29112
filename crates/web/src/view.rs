//! Small display helpers shared by templates: local times, levels of care, labels.

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
    d.0.format("%b %-d, %Y").to_string()
}

/// A level-of-care code with its name, e.g. "2.1 Intensive outpatient (IOP)".
pub fn level(code: &str) -> String {
    code.parse::<LevelOfCare>()
        .map(|l| l.to_string())
        .unwrap_or_else(|_| code.to_owned())
}

/// A TEDS discharge reason code with its label.
pub fn discharge_reason(code: Option<i64>) -> String {
    code.and_then(|c| DischargeReason::from_teds_code(c).ok())
        .map(|r| format!("{} (TEDS {})", r.label(), r.teds_code()))
        .unwrap_or_default()
}
