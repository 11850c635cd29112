//! Weekly service hours for a whole census: 1,000 patients × 12 weeks of attendance.
//!
//! The data are generated here, deterministically, from the program's own rules: each patient is
//! on one of four tracks (one crossing midnight), has a weekly individual session and a fortnightly
//! psychiatry visit, and attends with a realistic mix of present, late, left-early and absent
//! marks. The 12 weeks include the New York spring-forward week. Only the hours computation, the
//! weekly assessment and the per-diem flags are timed.

use chrono::{NaiveDate, NaiveTime, TimeDelta, Weekday};
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use trellis_domain::care::LevelOfCare;
use trellis_domain::schedule::attendance::{Attendance, AttendanceStatus};
use trellis_domain::schedule::hours::{
    service_hours, HoursPolicy, HoursStatus, Population, ServiceRecord, ServiceType,
};
use trellis_domain::schedule::track::{expand_sessions, SessionOccurrence, Track, WeeklySlot};
use trellis_domain::schedule::zone::SiteZone;

const PATIENTS: usize = 1_000;
const WEEKS: u32 = 12;

/// A small xorshift generator so the data are the same on every run without a rand dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn time(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).expect("valid clock time")
}

fn track(zone: SiteZone, id: &str, days: &[Weekday], start: NaiveTime, end: NaiveTime) -> Track {
    Track {
        id: id.into(),
        name: id.into(),
        zone,
        slots: days
            .iter()
            .map(|d| WeeklySlot::new(*d, start, end).expect("valid slot"))
            .collect(),
        cancelled: vec![],
    }
}

/// One patient's attended service over the 12 weeks.
fn patient_records(
    rng: &mut Rng,
    tracks: &[Vec<SessionOccurrence>],
    individual: &[SessionOccurrence],
) -> Vec<ServiceRecord> {
    let sessions = &tracks[rng.below(tracks.len() as u64) as usize];
    let mut records = Vec::with_capacity(sessions.len() + individual.len());
    let mut mark = |rng: &mut Rng, session: &SessionOccurrence, service: ServiceType| {
        let length = session.minutes();
        let third = u64::from(length / 3);
        let (status, minutes) = match rng.below(100) {
            0..=79 => (AttendanceStatus::Present, None),
            80..=86 => (
                AttendanceStatus::Late,
                Some(i64::from(length) - 1 - rng.below(third) as i64),
            ),
            87..=91 => (
                AttendanceStatus::LeftEarly,
                Some(i64::from(length) / 2 + rng.below(third) as i64),
            ),
            92..=95 => (AttendanceStatus::AbsentExcused, None),
            _ => (AttendanceStatus::AbsentUnexcused, None),
        };
        let attendance = Attendance::at_session(session, status, minutes).expect("valid minutes");
        records.extend(attendance.service_record(session, service));
    };
    for s in sessions {
        mark(rng, s, ServiceType::Group);
    }
    // The weekly individual session, with a fortnightly psychiatry visit straight after it.
    for (week, s) in individual.iter().enumerate() {
        mark(rng, s, ServiceType::Individual);
        if week % 2 == 0 {
            let psychiatry = SessionOccurrence {
                start: s.end,
                end: s.end + TimeDelta::minutes(30),
                ..s.clone()
            };
            mark(rng, &psychiatry, ServiceType::Psychiatry);
        }
    }
    records
}

fn census() -> (SiteZone, Vec<Vec<ServiceRecord>>) {
    let zone = SiteZone::parse("America/New_York").expect("known zone");
    let from = NaiveDate::from_ymd_opt(2024, 2, 19).expect("valid date");
    let to = from + TimeDelta::days(i64::from(WEEKS) * 7 - 1);
    let holidays = [NaiveDate::from_ymd_opt(2024, 5, 27).expect("valid date")];
    use Weekday::*;
    let tracks: Vec<Vec<SessionOccurrence>> = [
        track(
            zone,
            "morning",
            &[Mon, Tue, Wed, Thu, Fri],
            time(9, 0),
            time(12, 0),
        ),
        track(zone, "evening", &[Mon, Wed, Thu], time(18, 0), time(21, 0)),
        track(zone, "weekend", &[Sat, Sun], time(10, 0), time(14, 30)),
        track(zone, "late", &[Tue, Thu, Sat], time(22, 0), time(1, 0)),
    ]
    .iter()
    .map(|t| expand_sessions(t, from, to, &holidays).expect("valid range"))
    .collect();
    let individual = expand_sessions(
        &track(zone, "individual", &[Tue], time(16, 0), time(17, 0)),
        from,
        to,
        &holidays,
    )
    .expect("valid range");
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let patients = (0..PATIENTS)
        .map(|_| patient_records(&mut rng, &tracks, &individual))
        .collect();
    (zone, patients)
}

fn bench(c: &mut Criterion) {
    let (zone, patients) = census();
    let policy = HoursPolicy::for_level(LevelOfCare::IntensiveOutpatient, Population::Adult)
        .expect("IOP has an hours range");
    let first_week = NaiveDate::from_ymd_opt(2024, 2, 19).expect("valid date");
    let records: usize = patients.iter().map(Vec::len).sum();
    c.bench_function(
        &format!("weekly hours, {PATIENTS} patients x {WEEKS} weeks ({records} service records)"),
        |b| {
            b.iter(|| {
                let mut under = 0usize;
                let mut billable = 0usize;
                for records in &patients {
                    let hours = service_hours(black_box(records), zone).expect("in range");
                    let weeks = hours
                        .assess_weeks(&policy, first_week, WEEKS)
                        .expect("in range");
                    under += weeks
                        .iter()
                        .filter(|w| w.status == HoursStatus::UnderMinimum)
                        .count();
                    billable += hours
                        .per_diem_days(&policy)
                        .iter()
                        .filter(|d| d.per_diem_eligible)
                        .count();
                }
                black_box((under, billable))
            })
        },
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
