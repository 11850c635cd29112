//! Weekly service hours against the level-of-care minimum, and per-day per-diem eligibility.
//!
//! Minutes are credited to local calendar days in the site's zone; a service that runs past local
//! midnight is split between the two days (and, on a Sunday night, the two weeks) by clock time.
//! Weeks start on Monday. Because days are calendar dates, a DST week with a 23- or 25-hour day is
//! still one week. Services are minute-granular: seconds on a start time are ignored.

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveTime, TimeDelta, Timelike, Utc};
use serde::{Deserialize, Serialize};

use super::track::minutes_of;
use super::zone::SiteZone;
use super::ScheduleError;
use crate::care::{LevelOfCare, UnknownCode};

/// The kind of service a record of attended minutes represents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceType {
    /// Group therapy or group counselling.
    Group,
    /// Individual therapy.
    Individual,
    /// Family therapy or family education.
    Family,
    /// Psychiatric evaluation or medication management.
    Psychiatry,
    /// Case management.
    CaseManagement,
    /// Psychoeducation and life skills.
    Psychoeducation,
    /// Peer support.
    PeerSupport,
}

impl ServiceType {
    /// Every service type, in form order.
    pub const ALL: [ServiceType; 7] = [
        ServiceType::Group,
        ServiceType::Individual,
        ServiceType::Family,
        ServiceType::Psychiatry,
        ServiceType::CaseManagement,
        ServiceType::Psychoeducation,
        ServiceType::PeerSupport,
    ];

    /// The stored code.
    pub fn code(self) -> &'static str {
        match self {
            ServiceType::Group => "group",
            ServiceType::Individual => "individual",
            ServiceType::Family => "family",
            ServiceType::Psychiatry => "psychiatry",
            ServiceType::CaseManagement => "case_management",
            ServiceType::Psychoeducation => "psychoeducation",
            ServiceType::PeerSupport => "peer_support",
        }
    }

    /// The label staff see.
    pub fn label(self) -> &'static str {
        match self {
            ServiceType::Group => "Group therapy",
            ServiceType::Individual => "Individual therapy",
            ServiceType::Family => "Family therapy",
            ServiceType::Psychiatry => "Psychiatry",
            ServiceType::CaseManagement => "Case management",
            ServiceType::Psychoeducation => "Psychoeducation",
            ServiceType::PeerSupport => "Peer support",
        }
    }

    /// Position in [`ServiceType::ALL`], for the per-service tallies.
    fn index(self) -> usize {
        self as usize
    }
}

impl FromStr for ServiceType {
    type Err = UnknownCode;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ServiceType::ALL
            .into_iter()
            .find(|x| x.code() == s.trim())
            .ok_or_else(|| UnknownCode {
                kind: "service type",
                code: s.to_owned(),
            })
    }
}

/// Minutes of one attended service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceRecord {
    /// When the attended minutes began.
    pub start: DateTime<Utc>,
    /// Minutes attended.
    pub minutes: u32,
    /// What kind of service.
    pub service: ServiceType,
}

/// Service minutes on one local day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DayHours {
    /// Local date.
    pub date: NaiveDate,
    /// All service minutes that day.
    pub minutes: u32,
    by_service: [u32; ServiceType::ALL.len()],
}

impl DayHours {
    /// Minutes of one service type that day.
    pub fn minutes_of(&self, service: ServiceType) -> u32 {
        self.by_service[service.index()]
    }
}

/// Service minutes in one local Monday-to-Sunday week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct WeekHours {
    /// The Monday the week starts on.
    pub week_start: NaiveDate,
    /// All service minutes that week.
    pub minutes: u32,
}

/// A patient's service minutes by local day and week, in date order (only days with service).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceHours {
    /// Days with any service.
    pub days: Vec<DayHours>,
    /// Weeks with any service.
    pub weeks: Vec<WeekHours>,
}

/// The Monday of the local week containing `date`.
pub fn week_start(date: NaiveDate) -> Result<NaiveDate, ScheduleError> {
    date.checked_sub_days(Days::new(u64::from(date.weekday().num_days_from_monday())))
        .ok_or(ScheduleError::OutOfRange)
}

/// Totals attended service minutes per local day and week in the site's zone.
pub fn service_hours(
    records: &[ServiceRecord],
    zone: SiteZone,
) -> Result<ServiceHours, ScheduleError> {
    let mut days: BTreeMap<NaiveDate, [u32; ServiceType::ALL.len()]> = BTreeMap::new();
    for record in records {
        let mut at = record
            .start
            .with_second(0)
            .and_then(|t| t.with_nanosecond(0))
            .ok_or(ScheduleError::OutOfRange)?;
        let mut left = record.minutes;
        while left > 0 {
            let date = zone.local_date(at);
            // Most services end the day they start: one offset look-up settles it.
            let last_minute = at
                .checked_add_signed(TimeDelta::minutes(i64::from(left) - 1))
                .ok_or(ScheduleError::OutOfRange)?;
            if zone.local_date(last_minute) == date {
                add(&mut days, date, record.service, left);
                break;
            }
            let next_day = date.succ_opt().ok_or(ScheduleError::OutOfRange)?;
            let midnight = zone.resolve(next_day.and_time(NaiveTime::MIN))?;
            // At least one minute per step so odd historical offsets cannot stall the loop.
            let chunk = left.min(minutes_of(midnight - at).max(1));
            add(&mut days, date, record.service, chunk);
            left -= chunk;
            at = midnight;
        }
    }
    let mut weeks: BTreeMap<NaiveDate, u32> = BTreeMap::new();
    let days: Vec<DayHours> = days
        .into_iter()
        .map(|(date, by_service)| DayHours {
            date,
            minutes: by_service.iter().fold(0u32, |a, m| a.saturating_add(*m)),
            by_service,
        })
        .collect();
    for day in &days {
        let week = weeks.entry(week_start(day.date)?).or_default();
        *week = week.saturating_add(day.minutes);
    }
    Ok(ServiceHours {
        days,
        weeks: weeks
            .into_iter()
            .map(|(week_start, minutes)| WeekHours {
                week_start,
                minutes,
            })
            .collect(),
    })
}

/// Adds minutes to a day's tally; saturating, since absurd input must not panic.
fn add(
    days: &mut BTreeMap<NaiveDate, [u32; ServiceType::ALL.len()]>,
    date: NaiveDate,
    service: ServiceType,
    minutes: u32,
) {
    let tally = &mut days.entry(date).or_default()[service.index()];
    *tally = tally.saturating_add(minutes);
}

/// Whose minimum applies: ASAM sets lower weekly hours for adolescents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Population {
    /// Adults.
    Adult,
    /// Adolescents.
    Adolescent,
}

/// Where a week's hours stand against the level of care.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HoursStatus {
    /// Below the weekly minimum.
    UnderMinimum,
    /// At or above the minimum and below the ceiling.
    Within,
    /// At or over the ceiling (the next level's floor).
    AtOrOverCeiling,
}

impl HoursStatus {
    /// The label staff see.
    pub fn label(self) -> &'static str {
        match self {
            HoursStatus::UnderMinimum => "Under minimum",
            HoursStatus::Within => "Within range",
            HoursStatus::AtOrOverCeiling => "At or over ceiling",
        }
    }
}

/// The weekly range and per-diem threshold a program holds patients to, in minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoursPolicy {
    /// Weekly minimum (ASAM 2.1: 540 adults, 360 adolescents).
    pub weekly_minimum_minutes: u32,
    /// Weekly ceiling, exclusive (ASAM 2.1: below 20 h = 1200); `None` for no ceiling.
    pub weekly_ceiling_minutes: Option<u32>,
    /// Service a day needs to be billed per diem (H0015: 3 h = 180).
    pub per_diem_minimum_minutes: u32,
}

impl HoursPolicy {
    /// The H0015 daily threshold: at least 3 hours of service that day.
    pub const PER_DIEM_MINIMUM_MINUTES: u32 = 180;

    /// A checked policy: the ceiling, if any, must be above the minimum.
    pub fn new(
        weekly_minimum_minutes: u32,
        weekly_ceiling_minutes: Option<u32>,
        per_diem_minimum_minutes: u32,
    ) -> Result<Self, ScheduleError> {
        if let Some(ceiling) = weekly_ceiling_minutes {
            if ceiling <= weekly_minimum_minutes {
                return Err(ScheduleError::InvalidSetting(format!(
                    "the weekly ceiling ({ceiling} min) must be above the minimum ({weekly_minimum_minutes} min)"
                )));
            }
        }
        Ok(HoursPolicy {
            weekly_minimum_minutes,
            weekly_ceiling_minutes,
            per_diem_minimum_minutes,
        })
    }

    /// The ASAM weekly range for a level of care; `None` where ASAM sets no hours (residential, OTP).
    pub fn for_level(level: LevelOfCare, population: Population) -> Option<Self> {
        let iop_floor = match population {
            Population::Adult => 9 * 60,
            Population::Adolescent => 6 * 60,
        };
        let php_floor = 20 * 60;
        let (minimum, ceiling) = match level {
            LevelOfCare::Outpatient => (0, Some(iop_floor)),
            LevelOfCare::IntensiveOutpatient => (iop_floor, Some(php_floor)),
            LevelOfCare::PartialHospitalization => (php_floor, None),
            _ => return None,
        };
        Some(HoursPolicy {
            weekly_minimum_minutes: minimum,
            weekly_ceiling_minutes: ceiling,
            per_diem_minimum_minutes: Self::PER_DIEM_MINIMUM_MINUTES,
        })
    }

    /// Where a week with `minutes` of service stands.
    pub fn classify(&self, minutes: u32) -> HoursStatus {
        match self.weekly_ceiling_minutes {
            _ if minutes < self.weekly_minimum_minutes => HoursStatus::UnderMinimum,
            Some(ceiling) if minutes >= ceiling => HoursStatus::AtOrOverCeiling,
            _ => HoursStatus::Within,
        }
    }

    /// Whether a day with `minutes` of service can be billed per diem.
    pub fn per_diem_eligible(&self, minutes: u32) -> bool {
        minutes >= self.per_diem_minimum_minutes
    }
}

/// A program setting that asks for fewer weekly hours than ASAM's floor for the level of care.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BelowAsamFloor {
    /// The minutes the setting asks for.
    pub weekly_minutes: u32,
    /// ASAM's weekly minimum for the level and population (2.1: 540 adults, 360 adolescents).
    pub floor_minutes: u32,
}

/// Whether `weekly_minutes` falls below ASAM's floor for `level` (REFERENCE §2.1; Mee-Lee et al.
/// 2013 via the SAMHSA 2021 IOP advisory). A program may choose this, for a taper phase say, but
/// patients in it then receive level 1 intensity, so staff are told rather than refused.
pub fn below_asam_floor(
    level: LevelOfCare,
    population: Population,
    weekly_minutes: u32,
) -> Option<BelowAsamFloor> {
    let floor_minutes = HoursPolicy::for_level(level, population)?.weekly_minimum_minutes;
    (weekly_minutes < floor_minutes).then_some(BelowAsamFloor {
        weekly_minutes,
        floor_minutes,
    })
}

/// One week's hours judged against a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct WeekAssessment {
    /// The Monday the week starts on.
    pub week_start: NaiveDate,
    /// Service minutes that week.
    pub minutes: u32,
    /// Where that stands.
    pub status: HoursStatus,
}

/// One day's per-diem billing eligibility.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DayEligibility {
    /// Local date.
    pub date: NaiveDate,
    /// Service minutes that day.
    pub minutes: u32,
    /// Whether the day reaches the per-diem threshold.
    pub per_diem_eligible: bool,
}

impl ServiceHours {
    /// Service minutes in the week starting on Monday `week_start` (0 if none).
    pub fn week_minutes(&self, week_start: NaiveDate) -> u32 {
        self.weeks
            .binary_search_by_key(&week_start, |w| w.week_start)
            .ok()
            .and_then(|i| self.weeks.get(i))
            .map_or(0, |w| w.minutes)
    }

    /// `count` consecutive weeks from the week containing `first`, including weeks with no service.
    pub fn assess_weeks(
        &self,
        policy: &HoursPolicy,
        first: NaiveDate,
        count: u32,
    ) -> Result<Vec<WeekAssessment>, ScheduleError> {
        let monday = week_start(first)?;
        (0..count)
            .map(|i| {
                let week_start = monday
                    .checked_add_days(Days::new(7 * u64::from(i)))
                    .ok_or(ScheduleError::OutOfRange)?;
                let minutes = self.week_minutes(week_start);
                Ok(WeekAssessment {
                    week_start,
                    minutes,
                    status: policy.classify(minutes),
                })
            })
            .collect()
    }

    /// Per-diem eligibility of every day with service.
    pub fn per_diem_days(&self, policy: &HoursPolicy) -> Vec<DayEligibility> {
        self.days
            .iter()
            .map(|d| DayEligibility {
                date: d.date,
                minutes: d.minutes,
                per_diem_eligible: policy.per_diem_eligible(d.minutes),
            })
            .collect()
    }
}

/// Where one week of an episode (or phase) stands on its weekly hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WeekStanding {
    /// The week began before care did: not judged (a part week would always look short).
    NotInCare,
    /// The current week: judged only once it has ended.
    InProgress,
    /// A whole week in care, judged against the policy.
    Judged(HoursStatus),
}

impl WeekStanding {
    /// The label staff see.
    pub fn label(self) -> &'static str {
        match self {
            WeekStanding::NotInCare => "Before admission",
            WeekStanding::InProgress => "This week, so far",
            WeekStanding::Judged(status) => status.label(),
        }
    }

    /// Whether the week counts as under the minimum.
    pub fn is_under(self) -> bool {
        self == WeekStanding::Judged(HoursStatus::UnderMinimum)
    }
}

/// One week of care with its minutes and standing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CareWeek {
    /// The Monday the week starts on.
    pub week_start: NaiveDate,
    /// Service minutes that week (so far, for the current week).
    pub minutes: u32,
    /// Where it stands.
    pub standing: WeekStanding,
    /// The weekly range the week is held to (the level of care in force that week); `None`
    /// before any level was in force.
    pub policy: Option<HoursPolicy>,
}

/// Which value of a dated history governs the week starting on Monday `week_start`: the one in
/// force on most of the week's seven days; on a tie, the later one (the newer decision). Each
/// entry is in force from its day until the next entry's day; days before the first entry have
/// none. `history` is sorted by day; of entries on the same day the last one counts.
pub fn in_force_for_week<T: Copy>(history: &[(NaiveDate, T)], week_start: NaiveDate) -> Option<T> {
    // Days of the week each entry is in force, by entry index.
    let mut days = BTreeMap::<usize, u32>::new();
    for offset in 0..7 {
        let Some(day) = week_start.checked_add_days(Days::new(offset)) else {
            break;
        };
        let in_force = history.partition_point(|(from, _)| *from <= day);
        if let Some(index) = in_force.checked_sub(1) {
            *days.entry(index).or_default() += 1;
        }
    }
    // `max_by_key` keeps the last of equal maxima, and the map iterates oldest entry first.
    days.into_iter()
        .max_by_key(|(_, n)| *n)
        .and_then(|(index, _)| history.get(index))
        .map(|(_, value)| *value)
}

/// The weekly range a patient is held to over time: one policy per level of care in force,
/// from the day it took effect (admission, then each step up or down).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PolicyHistory {
    spells: Vec<(NaiveDate, HoursPolicy)>,
}

impl PolicyHistory {
    /// A history from `(effective day, policy)` entries in any order (entries on the same day
    /// keep their order: the last one counts).
    pub fn new(mut spells: Vec<(NaiveDate, HoursPolicy)>) -> Self {
        spells.sort_by_key(|(from, _)| *from);
        PolicyHistory { spells }
    }

    /// One policy for all time (a phase's own minimum, say).
    pub fn constant(policy: HoursPolicy) -> Self {
        PolicyHistory {
            spells: vec![(NaiveDate::MIN, policy)],
        }
    }

    /// The policy in force on `day`.
    pub fn on(&self, day: NaiveDate) -> Option<HoursPolicy> {
        let in_force = self.spells.partition_point(|(from, _)| *from <= day);
        in_force
            .checked_sub(1)
            .and_then(|i| self.spells.get(i))
            .map(|(_, p)| *p)
    }

    /// The policy that judges the week starting on Monday `week_start`: the one in force on
    /// most of its days ([`in_force_for_week`]).
    pub fn for_week(&self, week_start: NaiveDate) -> Option<HoursPolicy> {
        in_force_for_week(&self.spells, week_start)
    }
}

/// The one rule every page judges weekly hours by: the `count` weeks ending with the week of
/// `today`, where a week is judged only when it is whole and in care, i.e. it starts on or
/// after `since` (admission, or the start of a phase) and has ended before `today`'s week, and
/// each week against the policy of the level of care in force that week
/// ([`PolicyHistory::for_week`]), not today's.
pub fn care_weeks(
    hours: &ServiceHours,
    policies: &PolicyHistory,
    since: NaiveDate,
    today: NaiveDate,
    count: u32,
) -> Result<Vec<CareWeek>, ScheduleError> {
    let this_week = week_start(today)?;
    let first = this_week
        .checked_sub_days(Days::new(7 * u64::from(count.saturating_sub(1))))
        .ok_or(ScheduleError::OutOfRange)?;
    (0..count)
        .map(|i| {
            let week_start = first
                .checked_add_days(Days::new(7 * u64::from(i)))
                .ok_or(ScheduleError::OutOfRange)?;
            let minutes = hours.week_minutes(week_start);
            let policy = policies.for_week(week_start);
            let standing = match policy {
                _ if week_start == this_week => WeekStanding::InProgress,
                _ if week_start < since => WeekStanding::NotInCare,
                Some(policy) => WeekStanding::Judged(policy.classify(minutes)),
                None => WeekStanding::NotInCare,
            };
            Ok(CareWeek {
                week_start,
                minutes,
                standing,
                policy,
            })
        })
        .collect()
}

/// Every whole week in care from `since` to last week, as [`care_weeks`] judges them, oldest
/// first.
pub fn whole_weeks_since(
    hours: &ServiceHours,
    policies: &PolicyHistory,
    since: NaiveDate,
    today: NaiveDate,
) -> Result<Vec<HoursStatus>, ScheduleError> {
    let weeks = (week_start(today)? - week_start(since)?).num_days() / 7 + 1;
    let count = u32::try_from(weeks.max(1)).map_err(|_| ScheduleError::OutOfRange)?;
    Ok(care_weeks(hours, policies, since, today, count)?
        .into_iter()
        .filter_map(|w| match w.standing {
            WeekStanding::Judged(status) => Some(status),
            _ => None,
        })
        .collect())
}

/// Whole weeks in a row under the minimum, counting back from last week.
pub fn weeks_under_minimum(weeks: &[CareWeek]) -> usize {
    weeks
        .iter()
        .rev()
        .filter(|w| w.standing != WeekStanding::InProgress)
        .take_while(|w| w.standing.is_under())
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ny() -> SiteZone {
        SiteZone::parse("America/New_York").unwrap()
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn rec(utc: &str, minutes: u32, service: ServiceType) -> ServiceRecord {
        ServiceRecord {
            start: chrono::NaiveDateTime::parse_from_str(utc, "%Y-%m-%d %H:%M")
                .unwrap()
                .and_utc(),
            minutes,
            service,
        }
    }

    fn day_minutes(h: &ServiceHours) -> Vec<(NaiveDate, u32)> {
        h.days.iter().map(|d| (d.date, d.minutes)).collect()
    }

    #[test]
    fn midnight_crossing_splits_between_days_and_weeks() {
        // Sunday 2024-06-09 22:30 EDT (02:30 UTC Monday) for 180 min: 90 on Sunday, 90 on Monday.
        let h = service_hours(&[rec("2024-06-10 02:30", 180, ServiceType::Group)], ny()).unwrap();
        assert_eq!(
            day_minutes(&h),
            vec![(d(2024, 6, 9), 90), (d(2024, 6, 10), 90)]
        );
        assert_eq!(
            h.weeks,
            vec![
                WeekHours {
                    week_start: d(2024, 6, 3),
                    minutes: 90
                },
                WeekHours {
                    week_start: d(2024, 6, 10),
                    minutes: 90
                },
            ]
        );
    }

    #[test]
    fn spring_forward_week_is_one_week_and_the_short_night_splits_by_clock() {
        // Sat 2024-03-09 23:00 EST (04:00 UTC Sun) for 180 real minutes: 60 on Saturday, then
        // Sunday 00:00 EST to 03:00 EDT is 120 real minutes.
        let records = [
            rec("2024-03-04 23:00", 180, ServiceType::Group), // Mon 18:00 EST
            rec("2024-03-10 04:00", 180, ServiceType::Group),
            rec("2024-03-10 22:00", 60, ServiceType::Individual), // Sun 18:00 EDT
        ];
        let h = service_hours(&records, ny()).unwrap();
        assert_eq!(
            day_minutes(&h),
            vec![
                (d(2024, 3, 4), 180),
                (d(2024, 3, 9), 60),
                (d(2024, 3, 10), 180)
            ]
        );
        assert_eq!(h.days[2].minutes_of(ServiceType::Individual), 60);
        assert_eq!(h.days[2].minutes_of(ServiceType::Group), 120);
        assert_eq!(h.weeks.len(), 1);
        assert_eq!(h.week_minutes(d(2024, 3, 4)), 420);
    }

    #[test]
    fn fall_back_week_credits_the_long_night_by_clock() {
        // Sat 2024-11-02 23:00 EDT (03:00 UTC Sun) for 240 real minutes, ending 02:00 EST:
        // 60 on Saturday, 180 on Sunday (00:00 EDT → 02:00 EST is three real hours).
        let h = service_hours(&[rec("2024-11-03 03:00", 240, ServiceType::Group)], ny()).unwrap();
        assert_eq!(
            day_minutes(&h),
            vec![(d(2024, 11, 2), 60), (d(2024, 11, 3), 180)]
        );
        assert_eq!(h.week_minutes(d(2024, 10, 28)), 240);
    }

    #[test]
    fn weeks_are_judged_against_the_asam_range() {
        let adult =
            HoursPolicy::for_level(LevelOfCare::IntensiveOutpatient, Population::Adult).unwrap();
        assert_eq!(adult.classify(539), HoursStatus::UnderMinimum);
        assert_eq!(adult.classify(540), HoursStatus::Within);
        assert_eq!(adult.classify(1199), HoursStatus::Within);
        assert_eq!(adult.classify(1200), HoursStatus::AtOrOverCeiling);
        let teen = HoursPolicy::for_level(LevelOfCare::IntensiveOutpatient, Population::Adolescent)
            .unwrap();
        assert_eq!(teen.classify(360), HoursStatus::Within);
        assert_eq!(teen.classify(359), HoursStatus::UnderMinimum);
        let php =
            HoursPolicy::for_level(LevelOfCare::PartialHospitalization, Population::Adult).unwrap();
        assert_eq!(php.classify(3000), HoursStatus::Within);
        assert_eq!(
            HoursPolicy::for_level(LevelOfCare::ResidentialHighIntensity, Population::Adult),
            None
        );

        // Three 3-hour groups in the first week, nothing in the second.
        let records = [
            rec("2024-06-03 22:00", 180, ServiceType::Group),
            rec("2024-06-05 22:00", 180, ServiceType::Group),
            rec("2024-06-06 22:00", 179, ServiceType::Group),
        ];
        let h = service_hours(&records, ny()).unwrap();
        let weeks = h.assess_weeks(&adult, d(2024, 6, 5), 2).unwrap();
        assert_eq!(
            weeks,
            vec![
                WeekAssessment {
                    week_start: d(2024, 6, 3),
                    minutes: 539,
                    status: HoursStatus::UnderMinimum
                },
                WeekAssessment {
                    week_start: d(2024, 6, 10),
                    minutes: 0,
                    status: HoursStatus::UnderMinimum
                },
            ]
        );
    }

    #[test]
    fn per_diem_needs_three_hours_that_day() {
        let records = [
            rec("2024-06-03 22:00", 120, ServiceType::Group), // Mon 18:00–20:00 EDT
            rec("2024-06-04 00:00", 60, ServiceType::Individual), // Mon 20:00–21:00 EDT
            rec("2024-06-05 22:00", 179, ServiceType::Group),
            rec("2024-06-07 02:00", 180, ServiceType::Group), // Thu 22:00 → Fri 01:00
        ];
        let h = service_hours(&records, ny()).unwrap();
        let policy =
            HoursPolicy::for_level(LevelOfCare::IntensiveOutpatient, Population::Adult).unwrap();
        let flags: Vec<_> = h
            .per_diem_days(&policy)
            .into_iter()
            .map(|d| (d.date, d.minutes, d.per_diem_eligible))
            .collect();
        assert_eq!(
            flags,
            vec![
                (d(2024, 6, 3), 180, true),
                (d(2024, 6, 5), 179, false),
                (d(2024, 6, 6), 120, false),
                (d(2024, 6, 7), 60, false),
            ]
        );
        let lenient = HoursPolicy::new(540, Some(1200), 120).unwrap();
        assert!(lenient.per_diem_eligible(120));
    }

    #[test]
    fn seconds_on_a_start_are_ignored() {
        let mut r = rec("2024-06-03 22:00", 30, ServiceType::Group);
        r.start += chrono::TimeDelta::seconds(42);
        let h = service_hours(&[r], ny()).unwrap();
        assert_eq!(day_minutes(&h), vec![(d(2024, 6, 3), 30)]);
    }

    #[test]
    fn inconsistent_policy_is_refused() {
        let err = HoursPolicy::new(540, Some(540), 180).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid setting: the weekly ceiling (540 min) must be above the minimum (540 min)"
        );
        assert_eq!("group".parse::<ServiceType>(), Ok(ServiceType::Group));
        assert!("yoga".parse::<ServiceType>().is_err());
    }

    #[test]
    fn settings_below_the_asam_floor_are_told_apart() {
        let iop = LevelOfCare::IntensiveOutpatient;
        assert_eq!(
            below_asam_floor(iop, Population::Adult, 6 * 60),
            Some(BelowAsamFloor {
                weekly_minutes: 360,
                floor_minutes: 540
            })
        );
        assert_eq!(below_asam_floor(iop, Population::Adult, 540), None);
        assert_eq!(below_asam_floor(iop, Population::Adolescent, 360), None);
        assert!(below_asam_floor(iop, Population::Adolescent, 359).is_some());
        assert!(
            below_asam_floor(LevelOfCare::PartialHospitalization, Population::Adult, 1199)
                .is_some()
        );
        // Outpatient has no floor, and residential levels set no hours here.
        assert_eq!(
            below_asam_floor(LevelOfCare::Outpatient, Population::Adult, 0),
            None
        );
    }

    #[test]
    fn weeks_before_admission_and_the_current_week_are_not_judged() {
        // Admitted Wednesday 2026-11-18, today Monday 2026-12-07, no service at all.
        let hours = service_hours(&[], ny()).unwrap();
        let policy =
            HoursPolicy::for_level(LevelOfCare::IntensiveOutpatient, Population::Adult).unwrap();
        let policy = PolicyHistory::constant(policy);
        let weeks = care_weeks(&hours, &policy, d(2026, 11, 18), d(2026, 12, 7), 6).unwrap();
        let standings: Vec<WeekStanding> = weeks.iter().map(|w| w.standing).collect();
        let under = WeekStanding::Judged(HoursStatus::UnderMinimum);
        assert_eq!(
            standings,
            vec![
                WeekStanding::NotInCare,
                WeekStanding::NotInCare,
                WeekStanding::NotInCare,
                under,
                under,
                WeekStanding::InProgress
            ]
        );
        assert_eq!(weeks_under_minimum(&weeks), 2);
        assert_eq!(
            whole_weeks_since(&hours, &policy, d(2026, 11, 18), d(2026, 12, 7)).unwrap(),
            vec![HoursStatus::UnderMinimum, HoursStatus::UnderMinimum]
        );
    }

    #[test]
    fn a_week_within_range_ends_the_run_under_the_minimum() {
        let policy = PolicyHistory::constant(HoursPolicy::new(60, None, 180).unwrap());
        let monday_morning = ny()
            .resolve(d(2026, 11, 30).and_hms_opt(10, 0, 0).unwrap())
            .unwrap();
        let hours = service_hours(
            &[ServiceRecord {
                start: monday_morning,
                minutes: 90,
                service: ServiceType::Group,
            }],
            ny(),
        )
        .unwrap();
        let weeks = care_weeks(&hours, &policy, d(2026, 11, 16), d(2026, 12, 9), 4).unwrap();
        assert_eq!(weeks_under_minimum(&weeks), 0, "last week met the minimum");
        assert_eq!(weeks[2].standing, WeekStanding::Judged(HoursStatus::Within));
    }

    fn iop() -> HoursPolicy {
        HoursPolicy::for_level(LevelOfCare::IntensiveOutpatient, Population::Adult).unwrap()
    }

    fn op() -> HoursPolicy {
        HoursPolicy::for_level(LevelOfCare::Outpatient, Population::Adult).unwrap()
    }

    #[test]
    fn a_week_that_spans_a_change_goes_by_the_level_in_force_on_most_days() {
        use LevelOfCare::*;
        let monday = d(2026, 11, 30);
        // Stepped down on Thursday: IOP Monday to Wednesday (3 days), outpatient after (4).
        let thursday = [
            (d(2026, 11, 2), IntensiveOutpatient),
            (d(2026, 12, 3), Outpatient),
        ];
        assert_eq!(in_force_for_week(&thursday, monday), Some(Outpatient));
        // Stepped down on Friday: four days of IOP.
        let friday = [
            (d(2026, 11, 2), IntensiveOutpatient),
            (d(2026, 12, 4), Outpatient),
        ];
        assert_eq!(
            in_force_for_week(&friday, monday),
            Some(IntensiveOutpatient)
        );
        // Three levels in one week, 3 / 3 / 1 days: the tie goes to the later decision.
        let three = [
            (d(2026, 11, 2), IntensiveOutpatient),
            (d(2026, 12, 3), PartialHospitalization),
            (d(2026, 12, 6), Outpatient),
        ];
        assert_eq!(
            in_force_for_week(&three, monday),
            Some(PartialHospitalization)
        );
        // Two entries on one day: the last one recorded counts.
        let same_day = [
            (d(2026, 11, 30), IntensiveOutpatient),
            (d(2026, 11, 30), Outpatient),
        ];
        assert_eq!(in_force_for_week(&same_day, monday), Some(Outpatient));
        // Admitted on Sunday: the one day in care decides; before any entry there is none.
        let sunday = [(d(2026, 12, 6), IntensiveOutpatient)];
        assert_eq!(
            in_force_for_week(&sunday, monday),
            Some(IntensiveOutpatient)
        );
        assert_eq!(in_force_for_week(&sunday, d(2026, 11, 23)), None);
        assert_eq!(in_force_for_week::<LevelOfCare>(&[], monday), None);
    }

    /// Six hours every week (Monday 10:00), from the week of 2026-11-02 to today's.
    fn six_hours_a_week() -> ServiceHours {
        let records: Vec<ServiceRecord> = (0..6)
            .map(|w| ServiceRecord {
                start: ny()
                    .resolve(
                        (d(2026, 11, 2) + Days::new(7 * w))
                            .and_hms_opt(10, 0, 0)
                            .unwrap(),
                    )
                    .unwrap(),
                minutes: 360,
                service: ServiceType::Group,
            })
            .collect();
        service_hours(&records, ny()).unwrap()
    }

    #[test]
    fn past_weeks_are_judged_by_the_level_in_force_then_not_today() {
        let hours = six_hours_a_week();
        let today = d(2026, 12, 7);
        // IOP from 2026-11-02, stepped down to outpatient on Tuesday 2026-11-24: six hours
        // were short of IOP's nine before, and within outpatient's range after.
        let history = PolicyHistory::new(vec![(d(2026, 11, 24), op()), (d(2026, 11, 2), iop())]);
        let weeks = care_weeks(&hours, &history, d(2026, 11, 2), today, 6).unwrap();
        let standings: Vec<WeekStanding> = weeks.iter().map(|w| w.standing).collect();
        let under = WeekStanding::Judged(HoursStatus::UnderMinimum);
        let within = WeekStanding::Judged(HoursStatus::Within);
        assert_eq!(
            standings,
            vec![
                under,
                under,
                under,
                within,
                within,
                WeekStanding::InProgress
            ]
        );
        assert_eq!(weeks[2].policy, Some(iop()));
        assert_eq!(weeks[3].policy, Some(op()));
        assert_eq!(
            weeks[5].policy,
            Some(op()),
            "this week's range is today's level"
        );
        // The run under the minimum ended with the step-down.
        assert_eq!(weeks_under_minimum(&weeks), 0);
        assert_eq!(
            whole_weeks_since(&hours, &history, d(2026, 11, 2), today).unwrap(),
            vec![
                HoursStatus::UnderMinimum,
                HoursStatus::UnderMinimum,
                HoursStatus::UnderMinimum,
                HoursStatus::Within,
                HoursStatus::Within
            ]
        );
        // Stepped up instead: the outpatient weeks were fine, the IOP ones short.
        let up = PolicyHistory::new(vec![(d(2026, 11, 2), op()), (d(2026, 11, 24), iop())]);
        let weeks = care_weeks(&hours, &up, d(2026, 11, 2), today, 6).unwrap();
        assert_eq!(weeks_under_minimum(&weeks), 2);
        assert_eq!(weeks[2].standing, within);
        assert_eq!(up.on(d(2026, 11, 23)), Some(op()));
        assert_eq!(up.on(d(2026, 11, 24)), Some(iop()));
        assert_eq!(up.on(d(2026, 11, 1)), None);
    }
}
