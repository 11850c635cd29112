//! What a clinical note documents for billing: the service delivered (a fixed list of service
//! codes) and when it started and ended. Billing counts service time from these, so every note
//! carries them, and a group member's time follows their attendance (a late arrival's note
//! starts when they arrived).

use std::str::FromStr;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::care::UnknownCode;
use crate::schedule::attendance::AttendanceStatus;

/// The longest service one note documents; anything longer is a typing slip (a crisis that
/// runs longer is documented in more than one note).
pub const MAX_SERVICE_MINUTES: i64 = 12 * 60;

/// The service a note documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceCode {
    /// One-to-one therapy or counselling.
    Individual,
    /// Group therapy or counselling.
    Group,
    /// Family therapy or family education.
    Family,
    /// Case management (benefits, housing, referrals, coordination).
    CaseManagement,
    /// Crisis intervention.
    Crisis,
    /// Medication management by a prescriber or nurse.
    MedicationManagement,
}

impl ServiceCode {
    /// Every service code, in form order.
    pub const ALL: [ServiceCode; 6] = [
        ServiceCode::Individual,
        ServiceCode::Group,
        ServiceCode::Family,
        ServiceCode::CaseManagement,
        ServiceCode::Crisis,
        ServiceCode::MedicationManagement,
    ];

    /// The codes a note written on one patient's chart may carry (group notes are written
    /// from the group's session).
    pub const INDIVIDUAL_NOTES: [ServiceCode; 5] = [
        ServiceCode::Individual,
        ServiceCode::Family,
        ServiceCode::CaseManagement,
        ServiceCode::Crisis,
        ServiceCode::MedicationManagement,
    ];

    /// The stored code.
    pub fn code(self) -> &'static str {
        match self {
            ServiceCode::Individual => "individual",
            ServiceCode::Group => "group",
            ServiceCode::Family => "family",
            ServiceCode::CaseManagement => "case_management",
            ServiceCode::Crisis => "crisis",
            ServiceCode::MedicationManagement => "medication_management",
        }
    }

    /// The label staff see.
    pub fn label(self) -> &'static str {
        match self {
            ServiceCode::Individual => "Individual therapy",
            ServiceCode::Group => "Group therapy",
            ServiceCode::Family => "Family therapy",
            ServiceCode::CaseManagement => "Case management",
            ServiceCode::Crisis => "Crisis intervention",
            ServiceCode::MedicationManagement => "Medication management",
        }
    }
}

impl FromStr for ServiceCode {
    type Err = UnknownCode;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ServiceCode::ALL
            .into_iter()
            .find(|c| c.code() == s.trim())
            .ok_or_else(|| UnknownCode {
                kind: "service code",
                code: s.to_owned(),
            })
    }
}

/// Why a note's service time was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ServiceTimeError {
    /// The end is not after the start.
    #[error("the end time must be after the start time")]
    EndNotAfterStart,
    /// Longer than [`MAX_SERVICE_MINUTES`].
    #[error("a note documents at most {MAX_SERVICE_MINUTES} minutes of service")]
    TooLong,
}

/// When a documented service started and ended, and how long it took.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ServiceTime {
    /// Start.
    pub started_at: DateTime<Utc>,
    /// End.
    pub ended_at: DateTime<Utc>,
    /// Minutes between them.
    pub minutes: u32,
}

impl ServiceTime {
    /// A service from `started_at` to `ended_at`: the end after the start, at most
    /// [`MAX_SERVICE_MINUTES`] later.
    pub fn new(
        started_at: DateTime<Utc>,
        ended_at: DateTime<Utc>,
    ) -> Result<ServiceTime, ServiceTimeError> {
        let minutes = (ended_at - started_at).num_minutes();
        if ended_at <= started_at || minutes < 1 {
            return Err(ServiceTimeError::EndNotAfterStart);
        }
        if minutes > MAX_SERVICE_MINUTES {
            return Err(ServiceTimeError::TooLong);
        }
        Ok(ServiceTime {
            started_at,
            ended_at,
            minutes: u32::try_from(minutes).map_err(|_| ServiceTimeError::TooLong)?,
        })
    }

    /// A group member's part of a session from their attendance: none if absent; a late
    /// arrival's minutes sit at the end of the session, everyone else's from its start.
    pub fn of_member(
        session_start: DateTime<Utc>,
        session_end: DateTime<Utc>,
        status: AttendanceStatus,
        minutes_attended: u32,
    ) -> Option<ServiceTime> {
        if !status.attended() || minutes_attended == 0 {
            return None;
        }
        let length = TimeDelta::minutes(i64::from(minutes_attended));
        let (start, end) = if status == AttendanceStatus::Late {
            (session_end - length, session_end)
        } else {
            (session_start, session_start + length)
        };
        ServiceTime::new(start.max(session_start), end.min(session_end)).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 7, h, m, 0).unwrap()
    }

    #[test]
    fn codes_round_trip_and_unknown_codes_are_refused() {
        for c in ServiceCode::ALL {
            assert_eq!(c.code().parse::<ServiceCode>(), Ok(c));
        }
        assert!("therapy".parse::<ServiceCode>().is_err());
        assert!(!ServiceCode::INDIVIDUAL_NOTES.contains(&ServiceCode::Group));
    }

    #[test]
    fn service_time_needs_an_end_after_the_start_within_twelve_hours() {
        let t = ServiceTime::new(at(18, 0), at(18, 50)).unwrap();
        assert_eq!(t.minutes, 50);
        assert_eq!(
            ServiceTime::new(at(18, 0), at(18, 0)),
            Err(ServiceTimeError::EndNotAfterStart)
        );
        assert_eq!(
            ServiceTime::new(at(18, 0), at(17, 0)),
            Err(ServiceTimeError::EndNotAfterStart)
        );
        assert_eq!(
            ServiceTime::new(at(6, 0), at(18, 1)),
            Err(ServiceTimeError::TooLong)
        );
    }

    #[test]
    fn a_members_time_follows_their_attendance() {
        let (start, end) = (at(18, 0), at(21, 0));
        let whole = ServiceTime::of_member(start, end, AttendanceStatus::Present, 180).unwrap();
        assert_eq!(
            (whole.started_at, whole.ended_at, whole.minutes),
            (start, end, 180)
        );
        let late = ServiceTime::of_member(start, end, AttendanceStatus::Late, 165).unwrap();
        assert_eq!((late.started_at, late.minutes), (at(18, 15), 165));
        let early = ServiceTime::of_member(start, end, AttendanceStatus::LeftEarly, 120).unwrap();
        assert_eq!((early.ended_at, early.minutes), (at(20, 0), 120));
        assert_eq!(
            ServiceTime::of_member(start, end, AttendanceStatus::AbsentExcused, 0),
            None
        );
    }
}
