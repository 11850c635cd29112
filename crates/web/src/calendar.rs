//! iCalendar (RFC 5545) text for calendar feeds, written with the `ics` crate.
//!
//! Events carry the site's wall-clock time with `TZID` and the calendar holds a `VTIMEZONE` built
//! from the zone's real transitions (chrono-tz), so a phone shows a 6 pm group at 6 pm on both
//! sides of a daylight-saving change. Group sessions are written as expanded single events rather
//! than an `RRULE` with `EXDATE`s: sessions are already materialised without closures and
//! cancellations, one-off sessions need no `RDATE`, and a client re-fetching the feed drops a
//! cancelled event simply because it is no longer there. A time in the second pass through a
//! fall-back hour is written in UTC, because a `TZID` reading of it means the first pass.

use chrono::{DateTime, Offset, TimeDelta, TimeZone, Utc};
use chrono_tz::{OffsetComponents, Tz};
use ics::parameters::TzIDParam;
use ics::properties::{DtEnd, DtStart, Location, Method, Name, Summary, TzName};
use ics::{escape_text, Daylight, Event, ICalendar, Standard, TimeZone as VTimeZone};
use trellis_domain::schedule::zone::SiteZone;
use trellis_storage::appointments::FeedContent;

/// How far back and ahead a feed reaches, from now.
pub const FEED_PAST_DAYS: i64 = 60;
/// How far ahead a feed reaches.
pub const FEED_AHEAD_DAYS: i64 = 180;

/// The feed as iCalendar text.
pub fn render(feed: &FeedContent, now: DateTime<Utc>) -> String {
    let tz = feed.zone.tz();
    let tzid = feed.zone.name();
    let mut calendar = ICalendar::new("2.0", "-//Trellis//Calendar feed//EN");
    calendar.push(Method::new("PUBLISH"));
    calendar.push(Name::new(escape_text(feed.name.clone())));
    calendar.push(ics::components::Property::new(
        "X-WR-CALNAME",
        escape_text(feed.name.clone()),
    ));
    calendar.push(ics::components::Property::new("X-WR-TIMEZONE", tzid));
    let (first, last) = match (feed.events.first(), feed.events.last()) {
        (Some(f), Some(l)) => (f.starts_at.0, l.ends_at.0),
        _ => (now, now),
    };
    calendar.add_timezone(vtimezone(tz, first, last));
    let stamp = now.format("%Y%m%dT%H%M%SZ").to_string();
    for e in &feed.events {
        let mut event = Event::new(format!("{}-{}@trellis", e.uid, feed.feed_id), stamp.clone());
        let (start, start_tzid) = date_time(feed.zone, e.starts_at.0);
        let mut start = DtStart::new(start);
        if start_tzid {
            start.add(TzIDParam::new(tzid));
        }
        let (end, end_tzid) = date_time(feed.zone, e.ends_at.0);
        let mut end = DtEnd::new(end);
        if end_tzid {
            end.add(TzIDParam::new(tzid));
        }
        event.push(start);
        event.push(end);
        event.push(Summary::new(escape_text(e.summary.clone())));
        if let Some(place) = &e.location {
            event.push(Location::new(escape_text(place.clone())));
        }
        calendar.add_event(event);
    }
    calendar.to_string()
}

/// An instant as an iCalendar DATE-TIME and whether it takes the TZID: local wall-clock time when
/// a reader gets the same instant back from it, and UTC form (`Z`) for the second pass through a
/// fall-back hour, which RFC 5545 §3.3.5 reads as the first and would end an event before it starts.
fn date_time(zone: SiteZone, at: DateTime<Utc>) -> (String, bool) {
    let local = zone.local(at);
    if zone.resolve(local) == Ok(at) {
        (local.format("%Y%m%dT%H%M%S").to_string(), true)
    } else {
        (at.format("%Y%m%dT%H%M%SZ").to_string(), false)
    }
}

/// Seconds east of UTC as "+HHMM"/"-HHMM".
fn offset_text(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let minutes = seconds.unsigned_abs() / 60;
    format!("{sign}{:02}{:02}", minutes / 60, minutes % 60)
}

fn total_offset(tz: Tz, at: DateTime<Utc>) -> i32 {
    tz.offset_from_utc_datetime(&at.naive_utc())
        .fix()
        .local_minus_utc()
}

/// A `VTIMEZONE` with one observance per transition from a year before `first` to `last`, so every
/// event has the observance in force at its time (RFC 5545 §3.6.5).
fn vtimezone(tz: Tz, first: DateTime<Utc>, last: DateTime<Utc>) -> VTimeZone<'static> {
    let mut transitions = Vec::new();
    let mut at = first - TimeDelta::days(400);
    let step = TimeDelta::hours(6);
    while at < last {
        let next = at + step;
        if total_offset(tz, at) != total_offset(tz, next) {
            // Narrow to the second the offset changes.
            let (mut lo, mut hi) = (at, next);
            while hi - lo > TimeDelta::seconds(1) {
                let mid = lo + (hi - lo) / 2;
                if total_offset(tz, mid) == total_offset(tz, lo) {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            transitions.push(hi);
        }
        at = next;
    }
    let observance = |start: DateTime<Utc>, from: i32| {
        let offset = tz.offset_from_utc_datetime(&start.naive_utc());
        let to = offset.fix().local_minus_utc();
        // DTSTART is the wall-clock time the change happens at, read with the old offset.
        let local = (start + TimeDelta::seconds(i64::from(from)))
            .naive_utc()
            .format("%Y%m%dT%H%M%S")
            .to_string();
        let name = start.with_timezone(&tz).format("%Z").to_string();
        (
            offset.dst_offset() != TimeDelta::zero(),
            local,
            offset_text(from),
            offset_text(to),
            name,
        )
    };
    let mut observances = Vec::new();
    if transitions.is_empty() {
        let now = total_offset(tz, first);
        let (dst, _, from, to, name) = observance(first, now);
        observances.push((dst, "19700101T000000".to_owned(), from, to, name));
    }
    for t in transitions {
        let before = total_offset(tz, t - TimeDelta::seconds(1));
        observances.push(observance(t, before));
    }
    let mut zone: Option<VTimeZone<'static>> = None;
    for (dst, start, from, to, name) in observances {
        if dst {
            let mut d = Daylight::new(start, from, to);
            d.push(TzName::new(name));
            match zone.as_mut() {
                Some(z) => z.add_daylight(d),
                None => zone = Some(VTimeZone::daylight(tz.name(), d)),
            }
        } else {
            let mut s = Standard::new(start, from, to);
            s.push(TzName::new(name));
            match zone.as_mut() {
                Some(z) => z.add_standard(s),
                None => zone = Some(VTimeZone::standard(tz.name(), s)),
            }
        }
    }
    zone.unwrap_or_else(|| {
        VTimeZone::standard(
            tz.name(),
            Standard::new("19700101T000000", "+0000", "+0000"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDateTime;
    use trellis_storage::appointments::FeedEvent;
    use trellis_storage::Instant;

    fn ny_local(s: &str) -> DateTime<Utc> {
        SiteZone::parse("America/New_York")
            .unwrap()
            .resolve(NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap())
            .unwrap()
    }

    /// The property's value and its TZID parameter.
    fn prop(
        event: &ical::parser::ical::component::IcalEvent,
        name: &str,
    ) -> (String, Option<String>) {
        let p = event
            .properties
            .iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("{name} missing"));
        let tzid = p.params.as_ref().and_then(|ps| {
            ps.iter()
                .find(|(k, _)| k == "TZID")
                .and_then(|(_, v)| v.first().cloned())
        });
        (p.value.clone().unwrap_or_default(), tzid)
    }

    /// Parses "+HHMM"/"-HHMM" into seconds.
    fn offset_seconds(s: &str) -> i64 {
        let sign = if s.starts_with('-') { -1 } else { 1 };
        let h: i64 = s[1..3].parse().unwrap();
        let m: i64 = s[3..5].parse().unwrap();
        sign * (h * 3600 + m * 60)
    }

    #[test]
    fn feed_parses_with_right_local_times_across_the_new_york_fall_back() {
        // A Monday 18:00 group before and after 2026-11-01 (EDT → EST), and an appointment on the
        // change day itself.
        let event = |uid: &str, start: &str, end: &str, summary: &str| FeedEvent {
            uid: uid.into(),
            starts_at: Instant(ny_local(start)),
            ends_at: Instant(ny_local(end)),
            summary: summary.into(),
            location: Some("Group room 1 · Downtown".into()),
        };
        let feed = FeedContent {
            feed_id: 7,
            name: "Trellis · Casey".into(),
            zone: SiteZone::parse("America/New_York").unwrap(),
            events: vec![
                event(
                    "session-1",
                    "2026-10-26 18:00",
                    "2026-10-26 21:00",
                    "Group session",
                ),
                event(
                    "appointment-2",
                    "2026-11-01 10:00",
                    "2026-11-01 10:50",
                    "Individual therapy",
                ),
                event(
                    "session-3",
                    "2026-11-02 18:00",
                    "2026-11-02 21:00",
                    "Group session",
                ),
            ],
        };
        let text = render(&feed, ny_local("2026-10-20 09:00"));
        let reader = ical::IcalParser::new(text.as_bytes());
        let calendars: Vec<_> = reader.collect::<Result<_, _>>().expect("the feed parses");
        assert_eq!(calendars.len(), 1);
        let cal = &calendars[0];
        assert_eq!(cal.timezones.len(), 1);
        // Observances: (start local, offset to), to find the one in force for each event.
        let mut observances: Vec<(NaiveDateTime, i64)> = cal.timezones[0]
            .transitions
            .iter()
            .map(|t| {
                let get = |n: &str| {
                    t.properties
                        .iter()
                        .find(|p| p.name == n)
                        .and_then(|p| p.value.clone())
                        .unwrap()
                };
                (
                    NaiveDateTime::parse_from_str(&get("DTSTART"), "%Y%m%dT%H%M%S").unwrap(),
                    offset_seconds(&get("TZOFFSETTO")),
                )
            })
            .collect();
        observances.sort();
        assert!(observances
            .iter()
            .any(|(at, off)| at.to_string() == "2026-11-01 02:00:00" && *off == -5 * 3600));
        let mut seen = Vec::new();
        for (event, expected) in cal.events.iter().zip(&feed.events) {
            let (start, tzid) = prop(event, "DTSTART");
            assert_eq!(tzid.as_deref(), Some("America/New_York"));
            let local = NaiveDateTime::parse_from_str(&start, "%Y%m%dT%H%M%S").unwrap();
            // The offset in force is the latest observance starting at or before the local time.
            let offset = observances
                .iter()
                .rev()
                .find(|(at, _)| *at <= local)
                .map(|(_, off)| *off)
                .expect("an observance covers the event");
            let utc = (local - TimeDelta::seconds(offset)).and_utc();
            assert_eq!(utc, expected.starts_at.0, "{start}");
            let (summary, _) = prop(event, "SUMMARY");
            seen.push((local.format("%Y-%m-%d %H:%M").to_string(), summary));
        }
        assert_eq!(
            seen,
            vec![
                ("2026-10-26 18:00".to_owned(), "Group session".to_owned()),
                (
                    "2026-11-01 10:00".to_owned(),
                    "Individual therapy".to_owned()
                ),
                ("2026-11-02 18:00".to_owned(), "Group session".to_owned()),
            ]
        );
        // 18:00 local is 22:00 UTC in October and 23:00 UTC in November.
        assert_eq!(feed.events[0].starts_at.0.format("%H").to_string(), "22");
        assert_eq!(feed.events[2].starts_at.0.format("%H").to_string(), "23");
    }

    #[test]
    fn an_event_ending_in_the_repeated_hour_ends_after_it_starts() {
        // 01:30 EDT (05:30 UTC) to 01:20 EST (06:20 UTC): by the wall clock the end is earlier.
        let start = utc_at("2026-11-01 05:30");
        let end = utc_at("2026-11-01 06:20");
        let feed = FeedContent {
            feed_id: 3,
            name: "Appointments".into(),
            zone: SiteZone::parse("America/New_York").unwrap(),
            events: vec![FeedEvent {
                uid: "appointment-9".into(),
                starts_at: Instant(start),
                ends_at: Instant(end),
                summary: "Individual therapy".into(),
                location: None,
            }],
        };
        let text = render(&feed, start);
        let cal = ical::IcalParser::new(text.as_bytes())
            .next()
            .expect("a calendar")
            .expect("the feed parses");
        let event = &cal.events[0];
        let (dtstart, start_tzid) = prop(event, "DTSTART");
        let (dtend, end_tzid) = prop(event, "DTEND");
        // The first pass keeps the wall-clock form; the second pass is written in UTC.
        assert_eq!(
            (dtstart.as_str(), start_tzid.as_deref()),
            ("20261101T013000", Some("America/New_York"))
        );
        assert_eq!((dtend.as_str(), end_tzid), ("20261101T062000Z", None));
        let read_start = feed
            .zone
            .resolve(NaiveDateTime::parse_from_str(&dtstart, "%Y%m%dT%H%M%S").unwrap())
            .unwrap();
        let read_end = NaiveDateTime::parse_from_str(&dtend, "%Y%m%dT%H%M%SZ")
            .unwrap()
            .and_utc();
        assert_eq!((read_start, read_end), (start, end));
        assert!(read_end > read_start);
    }

    fn utc_at(s: &str) -> DateTime<Utc> {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M")
            .unwrap()
            .and_utc()
    }

    #[test]
    fn a_zone_without_daylight_saving_gets_one_standard_observance() {
        let feed = FeedContent {
            feed_id: 1,
            name: "Appointments".into(),
            zone: SiteZone::parse("America/Phoenix").unwrap(),
            events: vec![],
        };
        let text = render(&feed, Utc::now());
        assert!(text.contains("BEGIN:STANDARD"));
        assert!(text.contains("TZOFFSETTO:-0700"));
        assert!(!text.contains("BEGIN:DAYLIGHT"));
        assert!(!text.contains("BEGIN:VEVENT"));
    }
}
