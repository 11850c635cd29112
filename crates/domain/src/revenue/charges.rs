//! Which days of service become charges: the per-diem rule an IOP payer applies to each day,
//! with every reason a day does not qualify. Pure: storage gathers the inputs, pages show the
//! verdicts.
//!
//! A day is billable when the patient had coverage that day, a consent in force covers its
//! payer (42 CFR Part 2: a claim discloses SUD records), the services of the day add up to the
//! payer's minimum minutes (H0015: at least 3 hours; breaks, the gaps between services, are not
//! service time, and overlapping services count once), each service that day has a signed note,
//! and, where the payer needs prior authorisation, the day falls within an active authorisation
//! that still has days left. Days used are counted here, from the billable days, in date order.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

/// One service delivered on a day (a group, an individual session), from its note.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Service {
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub ended_at: DateTime<Utc>,
    /// Whether its note is signed.
    pub signed: bool,
}

/// A day on which the patient received services.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceDay {
    /// The day, in the site's time zone.
    pub day: NaiveDate,
    /// The services of the day.
    pub services: Vec<Service>,
    /// A service attended that day with no note written yet.
    pub undocumented: usize,
}

/// The payer a day would be billed to, as far as this rule needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PayerRule {
    /// Minutes of service a billable day needs.
    pub minimum_minutes: i64,
    /// Whether the day must fall under an active authorisation.
    pub needs_prior_authorisation: bool,
}

/// The coverage in force on a day: the payer's rule, and whether a consent in force that day
/// covers disclosing to that payer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayCoverage {
    /// The payer's rule.
    pub rule: PayerRule,
    /// Whether a consent covers this payer on the day.
    pub consent_covers_payer: bool,
}

/// A prior authorisation: its dates and the days (units) approved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Authorisation {
    /// Id, to say which one a day used.
    pub id: i64,
    /// First day covered.
    pub starts_on: NaiveDate,
    /// Last day covered.
    pub ends_on: NaiveDate,
    /// Days approved.
    pub days_approved: i64,
    /// Whether it is active (not denied, withdrawn or pending).
    pub active: bool,
}

/// Why a day is not billable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum NotBillable {
    /// No coverage in force that day.
    NoCoverage,
    /// No consent in force covers disclosing to the payer.
    NoConsent,
    /// Fewer minutes of service than the payer's minimum.
    ShortDay {
        /// Minutes of service that day (breaks excluded).
        minutes: i64,
        /// The payer's minimum.
        needed: i64,
    },
    /// Services with an unsigned note, or no note at all.
    UnsignedNote {
        /// How many.
        services: usize,
    },
    /// The payer needs prior authorisation and no active one covers the day.
    NoAuthorisation,
    /// The authorisation covering the day has used all its approved days.
    AuthorisationUsedUp {
        /// Which authorisation.
        authorisation: i64,
    },
}

impl NotBillable {
    /// The reason as billing reads it.
    pub fn describe(self) -> String {
        match self {
            NotBillable::NoCoverage => "No coverage in force".into(),
            NotBillable::NoConsent => "No consent covers disclosing to the payer".into(),
            NotBillable::ShortDay { minutes, needed } => {
                format!("Short day: {minutes} of {needed} minutes of service")
            }
            NotBillable::UnsignedNote { services: 1 } => "1 service without a signed note".into(),
            NotBillable::UnsignedNote { services } => {
                format!("{services} services without a signed note")
            }
            NotBillable::NoAuthorisation => "No active authorisation covers the day".into(),
            NotBillable::AuthorisationUsedUp { .. } => {
                "The authorisation's approved days are used up".into()
            }
        }
    }
}

/// What the rule found for one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayVerdict {
    /// The day.
    pub day: NaiveDate,
    /// Minutes of service (overlaps counted once, breaks excluded).
    pub minutes: i64,
    /// The authorisation the day counts against, if billable under one.
    pub authorisation: Option<i64>,
    /// Every reason it is not billable; empty when it is.
    pub reasons: Vec<NotBillable>,
}

impl DayVerdict {
    /// Whether the day becomes a charge.
    pub fn billable(&self) -> bool {
        self.reasons.is_empty()
    }
}

/// Minutes of service in `services`, overlaps counted once: the gaps between services (breaks)
/// are not service time.
pub fn service_minutes(services: &[Service]) -> i64 {
    let mut spans: Vec<(DateTime<Utc>, DateTime<Utc>)> = services
        .iter()
        .filter(|s| s.ended_at > s.started_at)
        .map(|s| (s.started_at, s.ended_at))
        .collect();
    spans.sort();
    let mut total = 0;
    let mut current: Option<(DateTime<Utc>, DateTime<Utc>)> = None;
    for (start, end) in spans {
        current = match current {
            Some((s, e)) if start <= e => Some((s, e.max(end))),
            Some((s, e)) => {
                total += (e - s).num_minutes();
                Some((start, end))
            }
            None => Some((start, end)),
        };
    }
    if let Some((s, e)) = current {
        total += (e - s).num_minutes();
    }
    total
}

/// The verdict on each day, in date order. `coverage` gives the coverage in force on a day;
/// `authorisations` are the patient's for that payer. Days used are counted from the billable
/// days before each one, so a day past the approved count is refused, never typed.
pub fn judge_days(
    days: &[ServiceDay],
    coverage: impl Fn(NaiveDate) -> Option<DayCoverage>,
    authorisations: &[Authorisation],
) -> Vec<DayVerdict> {
    let mut ordered: Vec<&ServiceDay> = days.iter().collect();
    ordered.sort_by_key(|d| d.day);
    let mut used: Vec<(i64, i64)> = authorisations.iter().map(|a| (a.id, 0)).collect();
    let mut verdicts = Vec::with_capacity(ordered.len());
    for d in ordered {
        let minutes = service_minutes(&d.services);
        let mut reasons = Vec::new();
        let cover = coverage(d.day);
        match cover {
            None => reasons.push(NotBillable::NoCoverage),
            Some(c) => {
                if !c.consent_covers_payer {
                    reasons.push(NotBillable::NoConsent);
                }
                if minutes < c.rule.minimum_minutes {
                    reasons.push(NotBillable::ShortDay {
                        minutes,
                        needed: c.rule.minimum_minutes,
                    });
                }
            }
        }
        let unsigned = d.services.iter().filter(|s| !s.signed).count() + d.undocumented;
        if unsigned > 0 {
            reasons.push(NotBillable::UnsignedNote { services: unsigned });
        }
        let mut counted = None;
        if cover.is_some_and(|c| c.rule.needs_prior_authorisation) {
            let covering: Vec<&Authorisation> = authorisations
                .iter()
                .filter(|a| a.active && a.starts_on <= d.day && d.day <= a.ends_on)
                .collect();
            let open = covering.iter().find(|a| {
                used.iter()
                    .any(|(id, n)| *id == a.id && *n < a.days_approved)
            });
            match (covering.first(), open) {
                (None, _) => reasons.push(NotBillable::NoAuthorisation),
                (Some(a), None) => reasons.push(NotBillable::AuthorisationUsedUp {
                    authorisation: a.id,
                }),
                (_, Some(a)) => counted = Some(a.id),
            }
        }
        let billable = reasons.is_empty();
        if billable {
            if let Some(id) = counted {
                if let Some(entry) = used.iter_mut().find(|(a, _)| *a == id) {
                    entry.1 += 1;
                }
            }
        }
        verdicts.push(DayVerdict {
            day: d.day,
            minutes,
            authorisation: if billable { counted } else { None },
            reasons,
        });
    }
    verdicts
}

/// Days used of each authorisation: the billable days counted against it.
pub fn days_used(verdicts: &[DayVerdict], authorisation: i64) -> i64 {
    let n = verdicts
        .iter()
        .filter(|v| v.billable() && v.authorisation == Some(authorisation))
        .count();
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, d).expect("day")
    }

    fn at(d: u32, h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, d, h, m, 0).unwrap()
    }

    /// A day with one signed service of `minutes` from 17:00.
    fn served(d: u32, minutes: i64) -> ServiceDay {
        ServiceDay {
            day: day(d),
            services: vec![Service {
                started_at: at(d, 17, 0),
                ended_at: at(d, 17, 0) + Duration::minutes(minutes),
                signed: true,
            }],
            undocumented: 0,
        }
    }

    const H0015: PayerRule = PayerRule {
        minimum_minutes: 180,
        needs_prior_authorisation: false,
    };

    fn covered(rule: PayerRule) -> impl Fn(NaiveDate) -> Option<DayCoverage> {
        move |_| {
            Some(DayCoverage {
                rule,
                consent_covers_payer: true,
            })
        }
    }

    #[test]
    fn the_three_hour_rule_bills_180_minutes_and_not_179() {
        let v = judge_days(&[served(1, 179), served(2, 180)], covered(H0015), &[]);
        assert_eq!(
            v[0].reasons,
            [NotBillable::ShortDay {
                minutes: 179,
                needed: 180
            }]
        );
        assert!(v[1].billable());
        assert_eq!(
            v[0].reasons[0].describe(),
            "Short day: 179 of 180 minutes of service"
        );
    }

    #[test]
    fn breaks_are_not_service_time_and_overlaps_count_once() {
        // 17:00-18:30 group, a 15-minute break, 18:45-20:15 group, and an individual session
        // 18:00-18:30 inside the first: 180 minutes of service over 195 on the clock.
        let services = vec![
            Service {
                started_at: at(3, 17, 0),
                ended_at: at(3, 18, 30),
                signed: true,
            },
            Service {
                started_at: at(3, 18, 45),
                ended_at: at(3, 20, 15),
                signed: true,
            },
            Service {
                started_at: at(3, 18, 0),
                ended_at: at(3, 18, 30),
                signed: true,
            },
        ];
        assert_eq!(service_minutes(&services), 180);
        let mut short = services.clone();
        short[1].ended_at = at(3, 20, 14);
        assert_eq!(service_minutes(&short), 179);
    }

    #[test]
    fn a_day_with_an_unsigned_or_missing_note_is_not_billable() {
        let mut d = served(4, 200);
        d.services[0].signed = false;
        d.undocumented = 1;
        let v = judge_days(&[d], covered(H0015), &[]);
        assert_eq!(v[0].reasons, [NotBillable::UnsignedNote { services: 2 }]);
    }

    #[test]
    fn no_coverage_and_no_consent_are_reasons_of_their_own() {
        let v = judge_days(&[served(5, 200)], |_| None, &[]);
        assert_eq!(v[0].reasons, [NotBillable::NoCoverage]);
        let v = judge_days(
            &[served(5, 120)],
            |_| {
                Some(DayCoverage {
                    rule: H0015,
                    consent_covers_payer: false,
                })
            },
            &[],
        );
        assert_eq!(
            v[0].reasons,
            [
                NotBillable::NoConsent,
                NotBillable::ShortDay {
                    minutes: 120,
                    needed: 180
                }
            ]
        );
    }

    #[test]
    fn days_outside_the_authorisation_and_past_its_approved_days_are_refused() {
        let rule = PayerRule {
            minimum_minutes: 180,
            needs_prior_authorisation: true,
        };
        let auth = Authorisation {
            id: 7,
            starts_on: day(2),
            ends_on: day(10),
            days_approved: 2,
            active: true,
        };
        // Day 1 is before it; 2 and 3 use its two days; a short day 4 uses none; 5 is past them;
        // day 11 is after it.
        let days = [
            served(1, 180),
            served(2, 180),
            served(3, 180),
            served(4, 100),
            served(5, 180),
            served(11, 180),
        ];
        let v = judge_days(&days, covered(rule), &[auth]);
        assert_eq!(v[0].reasons, [NotBillable::NoAuthorisation]);
        assert!(v[1].billable() && v[2].billable());
        assert_eq!(v[1].authorisation, Some(7));
        assert!(!v[3].billable());
        assert_eq!(
            v[4].reasons,
            [NotBillable::AuthorisationUsedUp { authorisation: 7 }]
        );
        assert_eq!(v[5].reasons, [NotBillable::NoAuthorisation]);
        assert_eq!(days_used(&v, 7), 2);
        // An inactive authorisation covers nothing.
        let pending = Authorisation {
            active: false,
            ..auth
        };
        let v = judge_days(&[served(2, 180)], covered(rule), &[pending]);
        assert_eq!(v[0].reasons, [NotBillable::NoAuthorisation]);
    }
}
