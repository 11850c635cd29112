//! Tracks and their recurring sessions: "Evening track Mon/Wed/Thu 18:00–21:00 America/New_York".
//!
//! A track's weekly pattern is kept in the site's wall-clock time so that a 6 pm group stays at
//! 6 pm local all year; each occurrence is turned into UTC instants with the zone rule in
//! [`super::zone`]. A slot whose end time is not after its start time runs past midnight into the
//! next day. Holidays and one-off cancellations are matched against the date the session *starts*.
//!
//! On a daylight-saving night a session is never dropped and never ends before it starts:
//! - a start the clocks skip (02:30 on a spring-forward day) is shifted forward by the gap
//!   (03:30 daylight time), the RFC 5545 reading calendar clients also use, so the feed and the
//!   day sheet show the same time; its end is the slot's own end, or the planned length after
//!   the shifted start when the whole slot lies in the gap;
//! - a start or end that happens twice (01:30 on a fall-back day) is the first occurrence.
//!
//! Tracks meet in the afternoon and evening, so this only matters for an overnight pattern; the
//! tests below pin each case. One-off bookings are stricter (see [`super::zone::SiteZone::resolve_exact`]).

use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeDelta, Utc, Weekday};
use serde::{Deserialize, Serialize};

use super::zone::SiteZone;
use super::ScheduleError;

/// A recurring weekly time: a weekday plus local start and end clock times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct WeeklySlot {
    /// The day the slot starts on.
    pub weekday: Weekday,
    /// Local start time.
    pub start: NaiveTime,
    /// Local end time; before `start` means the slot ends the next day.
    pub end: NaiveTime,
}

impl WeeklySlot {
    /// A checked slot; start and end must differ.
    pub fn new(weekday: Weekday, start: NaiveTime, end: NaiveTime) -> Result<Self, ScheduleError> {
        let slot = WeeklySlot {
            weekday,
            start,
            end,
        };
        slot.check()?;
        Ok(slot)
    }

    /// Fields are public (and deserialisable), so every use re-checks.
    fn check(&self) -> Result<(), ScheduleError> {
        if self.start == self.end {
            return Err(ScheduleError::EmptySlot(self.to_string()));
        }
        Ok(())
    }

    /// Whether the slot runs past local midnight into the next day.
    pub fn crosses_midnight(&self) -> bool {
        self.end < self.start
    }

    /// The slot's length on an ordinary day (no DST change), in minutes.
    pub fn planned_minutes(&self) -> u32 {
        let mut length = self.end - self.start;
        if self.crosses_midnight() {
            length += TimeDelta::days(1);
        }
        minutes_of(length)
    }

    /// The UTC instants of this slot when it starts on local `date` (whatever weekday that is).
    ///
    /// Each end is resolved by the zone rule. Only a slot lying wholly inside a spring-forward gap
    /// would come out empty; it then keeps its planned length from the shifted start.
    pub fn instants_on(
        &self,
        date: NaiveDate,
        zone: SiteZone,
    ) -> Result<(DateTime<Utc>, DateTime<Utc>), ScheduleError> {
        self.check()?;
        let end_date = if self.crosses_midnight() {
            date.succ_opt().ok_or(ScheduleError::OutOfRange)?
        } else {
            date
        };
        let start = zone.resolve(date.and_time(self.start))?;
        let mut end = zone.resolve(end_date.and_time(self.end))?;
        if end <= start {
            end = start
                .checked_add_signed(TimeDelta::minutes(i64::from(self.planned_minutes())))
                .ok_or(ScheduleError::OutOfRange)?;
        }
        Ok((start, end))
    }
}

impl fmt::Display for WeeklySlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}–{}",
            self.weekday,
            self.start.format("%H:%M"),
            self.end.format("%H:%M")
        )
    }
}

/// A track: a named weekly pattern of group sessions at one site (e.g. the evening track).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Track {
    /// Stable identifier.
    pub id: String,
    /// Name staff see ("Evening track").
    pub name: String,
    /// The site's time zone, in which the slots are given.
    pub zone: SiteZone,
    /// The weekly pattern.
    pub slots: Vec<WeeklySlot>,
    /// One-off cancellations of this track (local start dates).
    pub cancelled: Vec<NaiveDate>,
}

/// One concrete session of a track.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionOccurrence {
    /// The track it belongs to.
    pub track_id: String,
    /// Local date the session starts on.
    pub local_date: NaiveDate,
    /// The weekly slot it comes from.
    pub slot: WeeklySlot,
    /// Start instant.
    pub start: DateTime<Utc>,
    /// End instant.
    pub end: DateTime<Utc>,
}

impl SessionOccurrence {
    /// The session's real length in minutes (a DST change inside it makes it an hour shorter or longer).
    pub fn minutes(&self) -> u32 {
        minutes_of(self.end - self.start)
    }
}

/// Every session of `track` starting on a local date in `from..=to`, in time order, less holidays
/// and the track's cancellations.
pub fn expand_sessions(
    track: &Track,
    from: NaiveDate,
    to: NaiveDate,
    holidays: &[NaiveDate],
) -> Result<Vec<SessionOccurrence>, ScheduleError> {
    if to < from {
        return Err(ScheduleError::DateRangeReversed { from, to });
    }
    let mut sessions = Vec::new();
    for date in from.iter_days().take_while(|d| *d <= to) {
        if holidays.contains(&date) || track.cancelled.contains(&date) {
            continue;
        }
        for slot in track.slots.iter().filter(|s| s.weekday == date.weekday()) {
            let (start, end) = slot.instants_on(date, track.zone)?;
            sessions.push(SessionOccurrence {
                track_id: track.id.clone(),
                local_date: date,
                slot: *slot,
                start,
                end,
            });
        }
    }
    sessions.sort_by_key(|s| s.start);
    Ok(sessions)
}

/// Whole minutes in a non-negative span (negative spans count as zero).
pub(crate) fn minutes_of(span: TimeDelta) -> u32 {
    u32::try_from(span.num_minutes().max(0)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M")
            .unwrap()
            .and_utc()
    }

    fn ny() -> SiteZone {
        SiteZone::parse("America/New_York").unwrap()
    }

    fn evening_track() -> Track {
        Track {
            id: "evening".into(),
            name: "Evening track".into(),
            zone: ny(),
            slots: [Weekday::Mon, Weekday::Wed, Weekday::Thu]
                .into_iter()
                .map(|w| WeeklySlot::new(w, t(18, 0), t(21, 0)).unwrap())
                .collect(),
            cancelled: vec![],
        }
    }

    fn local_starts(sessions: &[SessionOccurrence], zone: SiteZone) -> Vec<String> {
        sessions
            .iter()
            .map(|s| zone.local(s.start).format("%a %m-%d %H:%M").to_string())
            .collect()
    }

    #[test]
    fn evening_group_stays_at_six_pm_across_spring_forward() {
        // DST starts Sunday 2024-03-10 in New York.
        let sessions =
            expand_sessions(&evening_track(), d(2024, 3, 4), d(2024, 3, 14), &[]).unwrap();
        let starts: Vec<_> = sessions.iter().map(|s| s.start).collect();
        assert_eq!(
            starts,
            vec![
                utc("2024-03-04 23:00"), // EST, UTC-5
                utc("2024-03-06 23:00"),
                utc("2024-03-07 23:00"),
                utc("2024-03-11 22:00"), // EDT, UTC-4
                utc("2024-03-13 22:00"),
                utc("2024-03-14 22:00"),
            ]
        );
        assert_eq!(
            local_starts(&sessions, ny()),
            vec![
                "Mon 03-04 18:00",
                "Wed 03-06 18:00",
                "Thu 03-07 18:00",
                "Mon 03-11 18:00",
                "Wed 03-13 18:00",
                "Thu 03-14 18:00"
            ]
        );
        assert!(sessions.iter().all(|s| s.minutes() == 180));
    }

    #[test]
    fn evening_group_stays_at_six_pm_across_fall_back() {
        // DST ends Sunday 2024-11-03 in New York.
        let sessions =
            expand_sessions(&evening_track(), d(2024, 10, 30), d(2024, 11, 6), &[]).unwrap();
        let spans: Vec<_> = sessions.iter().map(|s| (s.start, s.end)).collect();
        assert_eq!(
            spans,
            vec![
                (utc("2024-10-30 22:00"), utc("2024-10-31 01:00")), // EDT
                (utc("2024-10-31 22:00"), utc("2024-11-01 01:00")),
                (utc("2024-11-04 23:00"), utc("2024-11-05 02:00")), // EST
                (utc("2024-11-06 23:00"), utc("2024-11-07 02:00")),
            ]
        );
        assert_eq!(sessions[2].local_date, d(2024, 11, 4));
    }

    #[test]
    fn holidays_and_cancellations_are_skipped() {
        let mut track = evening_track();
        track.cancelled = vec![d(2024, 3, 6)];
        let sessions =
            expand_sessions(&track, d(2024, 3, 4), d(2024, 3, 10), &[d(2024, 3, 7)]).unwrap();
        let dates: Vec<_> = sessions.iter().map(|s| s.local_date).collect();
        assert_eq!(dates, vec![d(2024, 3, 4)]);
    }

    #[test]
    fn session_crossing_midnight_ends_next_day() {
        let slot = WeeklySlot::new(Weekday::Fri, t(22, 0), t(1, 0)).unwrap();
        assert!(slot.crosses_midnight());
        assert_eq!(slot.planned_minutes(), 180);
        let track = Track {
            slots: vec![slot],
            ..evening_track()
        };
        let sessions = expand_sessions(&track, d(2024, 6, 7), d(2024, 6, 7), &[]).unwrap();
        assert_eq!(sessions.len(), 1);
        assert_eq!(sessions[0].local_date, d(2024, 6, 7));
        assert_eq!(sessions[0].start, utc("2024-06-08 02:00"));
        assert_eq!(sessions[0].end, utc("2024-06-08 05:00"));
        assert_eq!(sessions[0].minutes(), 180);
    }

    #[test]
    fn overnight_sessions_on_dst_nights_follow_the_wall_clock() {
        let spring = WeeklySlot::new(Weekday::Sat, t(23, 0), t(3, 0)).unwrap();
        // 23:00 EST → 03:00 EDT is three real hours.
        assert_eq!(
            spring.instants_on(d(2024, 3, 9), ny()),
            Ok((utc("2024-03-10 04:00"), utc("2024-03-10 07:00")))
        );
        let fall = WeeklySlot::new(Weekday::Sat, t(23, 0), t(2, 0)).unwrap();
        // 23:00 EDT → 02:00 EST is four real hours.
        assert_eq!(
            fall.instants_on(d(2024, 11, 2), ny()),
            Ok((utc("2024-11-03 03:00"), utc("2024-11-03 07:00")))
        );
    }

    #[test]
    fn slot_inside_the_spring_forward_gap_keeps_its_length() {
        let slot = WeeklySlot::new(Weekday::Sun, t(2, 0), t(3, 0)).unwrap();
        // 02:00 does not exist; it becomes 03:00 EDT and the hour runs to 04:00 EDT.
        assert_eq!(
            slot.instants_on(d(2024, 3, 10), ny()),
            Ok((utc("2024-03-10 07:00"), utc("2024-03-10 08:00")))
        );
    }

    #[test]
    fn bad_slots_and_ranges_are_refused() {
        let err = WeeklySlot::new(Weekday::Mon, t(18, 0), t(18, 0)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "a session or window cannot start and end at the same time (Mon 18:00–18:00)"
        );
        let err = expand_sessions(&evening_track(), d(2024, 3, 8), d(2024, 3, 4), &[]).unwrap_err();
        assert_eq!(
            err,
            ScheduleError::DateRangeReversed {
                from: d(2024, 3, 8),
                to: d(2024, 3, 4)
            }
        );
        let mut track = evening_track();
        track.slots[0].end = track.slots[0].start;
        assert!(matches!(
            expand_sessions(&track, d(2024, 3, 4), d(2024, 3, 4), &[]),
            Err(ScheduleError::EmptySlot(_))
        ));
    }
}
