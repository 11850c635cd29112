//! The site's time zone and the one rule for turning a wall-clock time into an instant.
//!
//! Daylight-saving transitions make some local times not exist (spring forward) and others happen
//! twice (fall back). Trellis resolves them the way iCalendar (RFC 5545 §3.3.5) does, so that
//! calendar feeds and the schedule agree:
//! - a local time inside a spring-forward gap is read with the UTC offset in force *before* the gap,
//!   which moves it forward by the gap's length (02:30 on the New York spring-forward day becomes
//!   03:30 EDT);
//! - a local time that happens twice at fall-back is the *first* occurrence, i.e. the earlier
//!   (daylight) offset (01:30 on the New York fall-back day is 01:30 EDT, 05:30 UTC).
//!
//! That rule suits recurring patterns and day boundaries. A one-off time typed by staff (an
//! appointment) goes through [`SiteZone::resolve_exact`] instead, which refuses both cases with a
//! message naming the date and the change, so nothing is moved without anyone seeing it.

use std::fmt;
use std::str::FromStr;

use chrono::{
    DateTime, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeDelta, TimeZone, Utc,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::ScheduleError;

/// A site's IANA time zone, e.g. "America/New_York".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SiteZone(Tz);

impl SiteZone {
    /// Looks a zone up by its IANA name.
    pub fn parse(name: &str) -> Result<Self, ScheduleError> {
        Tz::from_str(name.trim())
            .map(SiteZone)
            .map_err(|_| ScheduleError::UnknownZone(name.to_owned()))
    }

    /// The IANA name.
    pub fn name(self) -> &'static str {
        self.0.name()
    }

    /// The underlying chrono-tz zone.
    pub fn tz(self) -> Tz {
        self.0
    }

    /// The local wall-clock time of an instant.
    pub fn local(self, instant: DateTime<Utc>) -> NaiveDateTime {
        instant.with_timezone(&self.0).naive_local()
    }

    /// The local calendar date of an instant.
    pub fn local_date(self, instant: DateTime<Utc>) -> NaiveDate {
        self.local(instant).date()
    }

    /// The instant of a local wall-clock time, resolving DST gaps and overlaps as the module says.
    pub fn resolve(self, local: NaiveDateTime) -> Result<DateTime<Utc>, ScheduleError> {
        if let Some(instant) = self.0.from_local_datetime(&local).earliest() {
            // `earliest` is the single answer, or the first occurrence during a fall-back overlap.
            return Ok(instant.with_timezone(&Utc));
        }
        // In a gap: use the offset in force a day earlier in UTC terms. That instant is before the
        // transition (offsets are under 24 h) and after the previous one, because tzdb never puts
        // two transitions within a day of each other.
        let before = local
            .checked_sub_signed(TimeDelta::days(1))
            .ok_or(ScheduleError::OutOfRange)?;
        let offset = self.0.offset_from_utc_datetime(&before).fix();
        let utc = local
            .checked_sub_signed(TimeDelta::seconds(i64::from(offset.local_minus_utc())))
            .ok_or(ScheduleError::OutOfRange)?;
        Ok(Utc.from_utc_datetime(&utc))
    }

    /// The instant of a local time typed for a single booking: refused if the clocks skip it
    /// (spring forward) or pass it twice (fall back). Refusing the repeated hour rather than
    /// asking which of the two is meant keeps the form simple; the clinic is closed at that hour.
    pub fn resolve_exact(self, local: NaiveDateTime) -> Result<DateTime<Utc>, ScheduleError> {
        let exists = |at: NaiveDateTime| self.0.from_local_datetime(&at);
        match exists(local) {
            LocalResult::Single(instant) => Ok(instant.with_timezone(&Utc)),
            LocalResult::None => {
                let (from, to) = self.span_around(local, |r| matches!(r, LocalResult::None));
                Err(ScheduleError::LocalTimeSkipped {
                    time: local.time(),
                    date: local.date(),
                    zone: self.name(),
                    from: from.time(),
                    to: to.time(),
                })
            }
            LocalResult::Ambiguous(..) => {
                let (first, after) =
                    self.span_around(local, |r| matches!(r, LocalResult::Ambiguous(..)));
                Err(ScheduleError::LocalTimeRepeated {
                    time: local.time(),
                    date: local.date(),
                    zone: self.name(),
                    from: after.time(),
                    to: first.time(),
                })
            }
        }
    }

    /// The first minute of the run of wall-clock minutes around `local` for which `inside` holds,
    /// and the first minute after it. DST gaps and overlaps are whole minutes and under a day.
    fn span_around(
        self,
        local: NaiveDateTime,
        inside: impl Fn(LocalResult<DateTime<Tz>>) -> bool,
    ) -> (NaiveDateTime, NaiveDateTime) {
        let minute = TimeDelta::minutes(1);
        let check = |at: NaiveDateTime| inside(self.0.from_local_datetime(&at));
        let mut first = local;
        while let Some(earlier) = first.checked_sub_signed(minute) {
            if !check(earlier) || local - earlier > TimeDelta::days(1) {
                break;
            }
            first = earlier;
        }
        let mut after = local;
        while let Some(later) = after.checked_add_signed(minute) {
            after = later;
            if !check(later) || later - local > TimeDelta::days(1) {
                break;
            }
        }
        (first, after)
    }

    /// The instant a calendar day begins at the site: local midnight, resolved as above; the
    /// first instant there is for a day beyond chrono's range.
    pub fn day_start(self, day: NaiveDate) -> DateTime<Utc> {
        self.resolve(day.and_time(NaiveTime::MIN))
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    /// The instant a calendar day ends at the site (the next day's start), for half-open ranges.
    pub fn day_end(self, day: NaiveDate) -> DateTime<Utc> {
        day.succ_opt()
            .map_or(DateTime::<Utc>::MAX_UTC, |next| self.day_start(next))
    }
}

impl From<Tz> for SiteZone {
    fn from(zone: Tz) -> Self {
        SiteZone(zone)
    }
}

impl FromStr for SiteZone {
    type Err = ScheduleError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SiteZone::parse(s)
    }
}

impl TryFrom<String> for SiteZone {
    type Error = ScheduleError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        SiteZone::parse(&s)
    }
}

impl From<SiteZone> for String {
    fn from(zone: SiteZone) -> Self {
        zone.name().to_owned()
    }
}

impl fmt::Display for SiteZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        at(s).and_utc()
    }

    #[test]
    fn unknown_zone_is_a_clear_error() {
        let err = SiteZone::parse("America/Gotham").unwrap_err();
        assert_eq!(err, ScheduleError::UnknownZone("America/Gotham".into()));
        assert_eq!(
            err.to_string(),
            "unknown time zone \"America/Gotham\": use an IANA name such as \"America/New_York\""
        );
        assert!("".parse::<SiteZone>().is_err());
        assert_eq!(
            "America/New_York".parse::<SiteZone>().unwrap().name(),
            "America/New_York"
        );
    }

    #[test]
    fn a_site_day_runs_from_local_midnight_to_local_midnight() {
        let ny = SiteZone::from(chrono_tz::America::New_York);
        let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        // In November New York is UTC-5, so its 27th begins at 05:00 UTC and ends at 05:00 on the 28th.
        assert_eq!(ny.day_start(day("2026-11-27")), utc("2026-11-27 05:00"));
        assert_eq!(ny.day_end(day("2026-11-27")), utc("2026-11-28 05:00"));
        // The spring-forward day is 23 hours long.
        assert_eq!(
            ny.day_end(day("2024-03-10")) - ny.day_start(day("2024-03-10")),
            TimeDelta::hours(23)
        );
        // Santiago springs forward at midnight: the day begins at the first instant there is.
        let santiago = SiteZone::parse("America/Santiago").unwrap();
        assert_eq!(
            santiago.day_start(day("2024-09-08")),
            utc("2024-09-08 04:00")
        );
    }

    #[test]
    fn spring_forward_gap_moves_forward_by_the_gap() {
        let ny = SiteZone::parse("America/New_York").unwrap();
        // 2024-03-10 02:30 does not exist in New York; it is read with EST (-5): 07:30 UTC = 03:30 EDT.
        assert_eq!(
            ny.resolve(at("2024-03-10 02:30")),
            Ok(utc("2024-03-10 07:30"))
        );
        assert_eq!(
            ny.resolve(at("2024-03-10 02:00")),
            Ok(utc("2024-03-10 07:00"))
        );
        assert_eq!(
            ny.resolve(at("2024-03-10 01:59")),
            Ok(utc("2024-03-10 06:59"))
        );
        assert_eq!(
            ny.resolve(at("2024-03-10 03:00")),
            Ok(utc("2024-03-10 07:00"))
        );
    }

    #[test]
    fn fall_back_overlap_takes_the_first_occurrence() {
        let ny = SiteZone::parse("America/New_York").unwrap();
        // 2024-11-03 01:30 happens twice; the first is EDT (-4) = 05:30 UTC.
        assert_eq!(
            ny.resolve(at("2024-11-03 01:30")),
            Ok(utc("2024-11-03 05:30"))
        );
        assert_eq!(
            ny.resolve(at("2024-11-03 02:00")),
            Ok(utc("2024-11-03 07:00"))
        );
    }

    #[test]
    fn a_booked_time_the_clocks_skip_is_refused_naming_the_change() {
        let ny = SiteZone::parse("America/New_York").unwrap();
        let err = ny.resolve_exact(at("2026-03-08 02:30")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "02:30 does not exist on 8 Mar 2026 in America/New_York: clocks go forward from 02:00 \
             to 03:00"
        );
        assert!(ny.resolve_exact(at("2026-03-08 02:00")).is_err());
        assert_eq!(
            ny.resolve_exact(at("2026-03-08 01:59")),
            Ok(utc("2026-03-08 06:59"))
        );
        assert_eq!(
            ny.resolve_exact(at("2026-03-08 03:00")),
            Ok(utc("2026-03-08 07:00"))
        );
    }

    #[test]
    fn a_booked_time_that_happens_twice_is_refused_naming_the_change() {
        let ny = SiteZone::parse("America/New_York").unwrap();
        let err = ny.resolve_exact(at("2026-11-01 01:30")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "01:30 happens twice on 1 Nov 2026 in America/New_York: clocks go back from 02:00 to \
             01:00; choose a time before 01:00 or from 02:00 on"
        );
        assert!(ny.resolve_exact(at("2026-11-01 01:00")).is_err());
        assert_eq!(
            ny.resolve_exact(at("2026-11-01 00:59")),
            Ok(utc("2026-11-01 04:59"))
        );
        // 02:00 happens once, in EST.
        assert_eq!(
            ny.resolve_exact(at("2026-11-01 02:00")),
            Ok(utc("2026-11-01 07:00"))
        );
        // An ordinary day is untouched.
        assert_eq!(
            ny.resolve_exact(at("2026-11-02 01:30")),
            Ok(utc("2026-11-02 06:30"))
        );
    }

    #[test]
    fn zone_converts_to_and_from_its_name() {
        let ny = SiteZone::parse("America/New_York").unwrap();
        assert_eq!(String::from(ny), "America/New_York");
        assert_eq!(
            SiteZone::try_from("Europe/Berlin".to_owned())
                .unwrap()
                .to_string(),
            "Europe/Berlin"
        );
    }
}
