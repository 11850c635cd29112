//! Attendance at a session: the status staff mark and the minutes that count as service.

use std::str::FromStr;

use chrono::TimeDelta;
use serde::{Deserialize, Serialize};

use super::hours::{ServiceRecord, ServiceType};
use super::track::SessionOccurrence;
use super::ScheduleError;
use crate::care::UnknownCode;

/// How a patient attended one session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttendanceStatus {
    /// Attended the whole session.
    Present,
    /// Arrived after the start.
    Late,
    /// Left before the end.
    LeftEarly,
    /// Did not attend, with a reason the program accepts.
    AbsentExcused,
    /// Did not attend, without an accepted reason (a no-show).
    AbsentUnexcused,
}

impl AttendanceStatus {
    /// Every status, in the order staff pick them.
    pub const ALL: [AttendanceStatus; 5] = [
        AttendanceStatus::Present,
        AttendanceStatus::Late,
        AttendanceStatus::LeftEarly,
        AttendanceStatus::AbsentExcused,
        AttendanceStatus::AbsentUnexcused,
    ];

    /// The stored code.
    pub fn code(self) -> &'static str {
        match self {
            AttendanceStatus::Present => "present",
            AttendanceStatus::Late => "late",
            AttendanceStatus::LeftEarly => "left_early",
            AttendanceStatus::AbsentExcused => "absent_excused",
            AttendanceStatus::AbsentUnexcused => "absent_unexcused",
        }
    }

    /// The label staff see.
    pub fn label(self) -> &'static str {
        match self {
            AttendanceStatus::Present => "Present",
            AttendanceStatus::Late => "Late",
            AttendanceStatus::LeftEarly => "Left early",
            AttendanceStatus::AbsentExcused => "Absent (excused)",
            AttendanceStatus::AbsentUnexcused => "Absent (unexcused)",
        }
    }

    /// Whether the patient was there for at least part of the session.
    pub fn attended(self) -> bool {
        matches!(
            self,
            AttendanceStatus::Present | AttendanceStatus::Late | AttendanceStatus::LeftEarly
        )
    }
}

impl FromStr for AttendanceStatus {
    type Err = UnknownCode;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AttendanceStatus::ALL
            .into_iter()
            .find(|x| x.code() == s.trim())
            .ok_or_else(|| UnknownCode {
                kind: "attendance status",
                code: s.to_owned(),
            })
    }
}

/// The minutes attended for a check-in roster row, where staff type the minutes a patient was
/// late or left early by (what they see at the door) rather than the minutes attended.
///
/// Only late and left-early rows use the minutes: present and absent rows ignore whatever the
/// box holds, so changing a row's status clears minutes that no longer apply. `None` means the
/// whole session (present) or none (absent), as [`Attendance::record`] takes it.
pub fn minutes_from_missed(
    status: AttendanceStatus,
    session_minutes: u32,
    missed: Option<i64>,
) -> Result<Option<i64>, ScheduleError> {
    match status {
        AttendanceStatus::Late | AttendanceStatus::LeftEarly => {
            let missed = missed.ok_or(ScheduleError::MinutesRequired(status.label()))?;
            if missed < 1 || missed >= i64::from(session_minutes) {
                return Err(ScheduleError::MissedMinutes {
                    missed,
                    session_minutes,
                });
            }
            Ok(Some(i64::from(session_minutes) - missed))
        }
        _ => Ok(None),
    }
}

/// A checked attendance mark: status plus minutes attended, never negative nor longer than the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Attendance {
    status: AttendanceStatus,
    minutes_attended: u32,
    session_minutes: u32,
}

impl Attendance {
    /// Records attendance at a session of `session_minutes`.
    ///
    /// `minutes` is what staff typed, if anything. Present defaults to the whole session. Late and
    /// left-early need the minutes: assuming the full session would overstate billable service.
    /// Absences are zero minutes.
    pub fn record(
        status: AttendanceStatus,
        session_minutes: u32,
        minutes: Option<i64>,
    ) -> Result<Self, ScheduleError> {
        let minutes_attended = match (status, minutes) {
            (_, Some(m)) if m < 0 => return Err(ScheduleError::NegativeMinutes(m)),
            (_, Some(m)) if m > i64::from(session_minutes) => {
                return Err(ScheduleError::MinutesExceedSession {
                    minutes: m,
                    session_minutes,
                })
            }
            (AttendanceStatus::AbsentExcused | AttendanceStatus::AbsentUnexcused, Some(m))
                if m > 0 =>
            {
                return Err(ScheduleError::MinutesForAbsence(m))
            }
            (AttendanceStatus::AbsentExcused | AttendanceStatus::AbsentUnexcused, _) => 0,
            (AttendanceStatus::Present, None) => session_minutes,
            (AttendanceStatus::Late | AttendanceStatus::LeftEarly, None) => {
                return Err(ScheduleError::MinutesRequired(status.label()))
            }
            // In range 0..=session_minutes, checked above.
            (_, Some(m)) => u32::try_from(m).map_err(|_| ScheduleError::OutOfRange)?,
        };
        Ok(Attendance {
            status,
            minutes_attended,
            session_minutes,
        })
    }

    /// Records attendance at a concrete session, taking its real length.
    pub fn at_session(
        session: &SessionOccurrence,
        status: AttendanceStatus,
        minutes: Option<i64>,
    ) -> Result<Self, ScheduleError> {
        Attendance::record(status, session.minutes(), minutes)
    }

    /// The status marked.
    pub fn status(&self) -> AttendanceStatus {
        self.status
    }

    /// Minutes that count as service.
    pub fn minutes_attended(&self) -> u32 {
        self.minutes_attended
    }

    /// Length of the session the mark belongs to.
    pub fn session_minutes(&self) -> u32 {
        self.session_minutes
    }

    /// The service this attendance delivered, for weekly hours; `None` when no minutes were attended.
    ///
    /// A late arrival's minutes are placed at the end of the session and everyone else's at the
    /// start, so that a session crossing midnight credits the right day.
    pub fn service_record(
        &self,
        session: &SessionOccurrence,
        service: ServiceType,
    ) -> Option<ServiceRecord> {
        if self.minutes_attended == 0 {
            return None;
        }
        let start = if self.status == AttendanceStatus::Late {
            // Never before the session's start, even if given a shorter session than recorded.
            session
                .end
                .checked_sub_signed(TimeDelta::minutes(i64::from(self.minutes_attended)))
                .map_or(session.start, |s| s.max(session.start))
        } else {
            session.start
        };
        Some(ServiceRecord {
            start,
            minutes: self.minutes_attended,
            service,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::track::WeeklySlot;
    use crate::schedule::zone::SiteZone;
    use chrono::{NaiveDate, NaiveTime, Weekday};

    fn overnight_session() -> SessionOccurrence {
        let ny = SiteZone::parse("America/New_York").unwrap();
        let slot = WeeklySlot::new(
            Weekday::Fri,
            NaiveTime::from_hms_opt(22, 0, 0).unwrap(),
            NaiveTime::from_hms_opt(1, 0, 0).unwrap(),
        )
        .unwrap();
        let date = NaiveDate::from_ymd_opt(2024, 6, 7).unwrap();
        let (start, end) = slot.instants_on(date, ny).unwrap();
        SessionOccurrence {
            track_id: "late-night".into(),
            local_date: date,
            slot,
            start,
            end,
        }
    }

    #[test]
    fn present_defaults_to_the_whole_session_and_can_be_adjusted() {
        let a = Attendance::record(AttendanceStatus::Present, 180, None).unwrap();
        assert_eq!(a.minutes_attended(), 180);
        let a = Attendance::record(AttendanceStatus::Present, 180, Some(170)).unwrap();
        assert_eq!(a.minutes_attended(), 170);
        assert_eq!(a.session_minutes(), 180);
    }

    #[test]
    fn partial_attendance_is_kept_and_placed_in_the_session() {
        let session = overnight_session();
        let late = Attendance::at_session(&session, AttendanceStatus::Late, Some(90)).unwrap();
        assert_eq!(late.minutes_attended(), 90);
        let record = late.service_record(&session, ServiceType::Group).unwrap();
        // Session 22:00–01:00 EDT = 02:00–05:00 UTC; the late patient's 90 min are 23:30–01:00.
        assert_eq!(record.start.to_rfc3339(), "2024-06-08T03:30:00+00:00");
        let early =
            Attendance::at_session(&session, AttendanceStatus::LeftEarly, Some(45)).unwrap();
        let record = early.service_record(&session, ServiceType::Group).unwrap();
        assert_eq!(record.start, session.start);
        assert_eq!(record.minutes, 45);
    }

    #[test]
    fn absences_are_zero_minutes() {
        let a = Attendance::record(AttendanceStatus::AbsentUnexcused, 180, None).unwrap();
        assert_eq!(a.minutes_attended(), 0);
        assert_eq!(
            a.service_record(&overnight_session(), ServiceType::Group),
            None
        );
        let a = Attendance::record(AttendanceStatus::AbsentExcused, 180, Some(0)).unwrap();
        assert_eq!(a.minutes_attended(), 0);
        assert!(!a.status().attended());
    }

    #[test]
    fn bad_minutes_are_refused_with_clear_messages() {
        let err = Attendance::record(AttendanceStatus::Present, 180, Some(181)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "minutes attended (181) cannot exceed the session length (180 min)"
        );
        let err = Attendance::record(AttendanceStatus::LeftEarly, 180, Some(-5)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "minutes attended cannot be negative (got -5)"
        );
        let err = Attendance::record(AttendanceStatus::Late, 180, None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "give the minutes attended for a patient marked Late: the full session cannot be assumed"
        );
        let err = Attendance::record(AttendanceStatus::AbsentExcused, 180, Some(30)).unwrap_err();
        assert_eq!(err, ScheduleError::MinutesForAbsence(30));
    }

    #[test]
    fn check_in_minutes_count_back_from_the_minutes_missed() {
        use AttendanceStatus::*;
        assert_eq!(minutes_from_missed(Late, 180, Some(15)), Ok(Some(165)));
        assert_eq!(minutes_from_missed(LeftEarly, 180, Some(60)), Ok(Some(120)));
        // Present and absent rows drop minutes typed before the status changed.
        assert_eq!(minutes_from_missed(Present, 180, Some(15)), Ok(None));
        assert_eq!(minutes_from_missed(AbsentExcused, 180, Some(15)), Ok(None));
        assert_eq!(
            minutes_from_missed(Late, 180, None),
            Err(ScheduleError::MinutesRequired("Late"))
        );
        for bad in [0, -5, 180, 400] {
            assert!(matches!(
                minutes_from_missed(Late, 180, Some(bad)),
                Err(ScheduleError::MissedMinutes { .. })
            ));
        }
    }

    #[test]
    fn statuses_round_trip_through_their_codes() {
        for s in AttendanceStatus::ALL {
            assert_eq!(s.code().parse::<AttendanceStatus>(), Ok(s));
        }
        assert!("tardy".parse::<AttendanceStatus>().is_err());
    }
}
