//! Program operations rules: recurring sessions, weekly service hours, conflicts, curriculum, phases.
//!
//! Everything here is a plain function over plain values: no clock, no database, no I/O. Times that
//! the clinic thinks of as wall-clock times (a track's "Monday 18:00", a patient's work hours) are
//! kept as local times with the site's IANA zone; concrete instants are UTC.

pub mod absences;
pub mod appointments;
pub mod attendance;
pub mod conflicts;
pub mod curriculum;
pub mod hours;
pub mod phases;
pub mod track;
pub mod zone;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};

/// Why a schedule rule refused its input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The site time zone is not an IANA zone name known to the time-zone database.
    #[error("unknown time zone {0:?}: use an IANA name such as \"America/New_York\"")]
    UnknownZone(String),
    /// A weekly slot or window starts and ends at the same clock time.
    #[error("a session or window cannot start and end at the same time ({0})")]
    EmptySlot(String),
    /// A date range whose last day is before its first.
    #[error("the date range ends ({to}) before it starts ({from})")]
    DateRangeReversed {
        /// First day asked for.
        from: NaiveDate,
        /// Last day asked for.
        to: NaiveDate,
    },
    /// A date or time too far from the present for the calendar arithmetic.
    #[error("date or time out of the supported range")]
    OutOfRange,
    /// An appointment or booking whose end is not after its start.
    #[error("the end ({end}) must be after the start ({start})")]
    EndNotAfterStart {
        /// Given start.
        start: DateTime<Utc>,
        /// Given end.
        end: DateTime<Utc>,
    },
    /// Minutes attended below zero.
    #[error("minutes attended cannot be negative (got {0})")]
    NegativeMinutes(i64),
    /// Minutes attended longer than the session.
    #[error(
        "minutes attended ({minutes}) cannot exceed the session length ({session_minutes} min)"
    )]
    MinutesExceedSession {
        /// Minutes given.
        minutes: i64,
        /// Length of the session in minutes.
        session_minutes: u32,
    },
    /// A late arrival or early departure recorded without the minutes actually attended.
    #[error(
        "give the minutes attended for a patient marked {0}: the full session cannot be assumed"
    )]
    MinutesRequired(&'static str),
    /// Minutes late or left early that leave nothing, or less than nothing, of the session.
    #[error("minutes late or left early must be between 1 and {} (the session is {session_minutes} min)", session_minutes.saturating_sub(1))]
    MissedMinutes {
        /// Minutes given.
        missed: i64,
        /// Length of the session in minutes.
        session_minutes: u32,
    },
    /// Minutes attended recorded against an absence.
    #[error("an absent patient cannot have minutes attended (got {0})")]
    MinutesForAbsence(i64),
    /// A configuration value that makes the rule meaningless.
    #[error("invalid setting: {0}")]
    InvalidSetting(String),
    /// A local time inside a spring-forward gap: the clocks skip it that day.
    #[error(
        "{} does not exist on {} in {zone}: clocks go forward from {} to {}",
        time.format("%H:%M"), date.format("%-d %b %Y"), from.format("%H:%M"), to.format("%H:%M")
    )]
    LocalTimeSkipped {
        /// The time asked for.
        time: NaiveTime,
        /// The local date.
        date: NaiveDate,
        /// The site's IANA zone name.
        zone: &'static str,
        /// Wall-clock time the clocks jump from.
        from: NaiveTime,
        /// Wall-clock time the clocks jump to.
        to: NaiveTime,
    },
    /// A local time inside a fall-back overlap: it happens twice that day.
    #[error(
        "{} happens twice on {} in {zone}: clocks go back from {} to {}; choose a time before {} \
         or from {} on",
        time.format("%H:%M"), date.format("%-d %b %Y"), from.format("%H:%M"), to.format("%H:%M"),
        to.format("%H:%M"), from.format("%H:%M")
    )]
    LocalTimeRepeated {
        /// The time asked for.
        time: NaiveTime,
        /// The local date.
        date: NaiveDate,
        /// The site's IANA zone name.
        zone: &'static str,
        /// Wall-clock time the clocks go back from.
        from: NaiveTime,
        /// Wall-clock time the clocks go back to.
        to: NaiveTime,
    },
}
