//! A program's public profile: the services it offers, when its tracks meet (morning, evening,
//! weekend, read from the tracks themselves) and the checks on what staff publish.

use chrono::{Datelike, NaiveDate, NaiveTime, Weekday};

use crate::care::UnknownCode;
use crate::patient::FieldError;
use crate::schedule::track::WeeklySlot;

/// A service a program offers, as people searching for treatment name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    /// Individual counseling.
    Individual,
    /// Group therapy.
    Group,
    /// Family sessions.
    Family,
    /// Medication for addiction treatment (buprenorphine, naltrexone, methadone referral).
    Medication,
    /// Care for co-occurring mental health conditions.
    CoOccurring,
}

impl Service {
    /// Every service, in the order pages list them.
    pub const ALL: [Service; 5] = [
        Service::Individual,
        Service::Group,
        Service::Family,
        Service::Medication,
        Service::CoOccurring,
    ];

    /// The stored code.
    pub fn code(self) -> &'static str {
        match self {
            Service::Individual => "individual",
            Service::Group => "group",
            Service::Family => "family",
            Service::Medication => "medication",
            Service::CoOccurring => "co_occurring",
        }
    }

    /// The label visitors read.
    pub fn label(self) -> &'static str {
        match self {
            Service::Individual => "Individual counseling",
            Service::Group => "Group therapy",
            Service::Family => "Family sessions",
            Service::Medication => "Medication for addiction treatment",
            Service::CoOccurring => "Care for co-occurring mental health conditions",
        }
    }

    /// The service with this code.
    pub fn from_code(code: &str) -> Result<Service, UnknownCode> {
        Service::ALL
            .into_iter()
            .find(|s| s.code() == code)
            .ok_or_else(|| UnknownCode {
                kind: "service",
                code: code.to_owned(),
            })
    }
}

/// When in the week a program's groups meet, as a visitor fitting it around work asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeOfWeek {
    /// A weekday group starting before noon.
    Morning,
    /// A weekday group starting from noon until before 5 pm.
    Afternoon,
    /// A weekday group starting at 5 pm or later: after a working day.
    Evening,
    /// A group on Saturday or Sunday.
    Weekend,
}

impl TimeOfWeek {
    /// Every time of the week, in order.
    pub const ALL: [TimeOfWeek; 4] = [
        TimeOfWeek::Morning,
        TimeOfWeek::Afternoon,
        TimeOfWeek::Evening,
        TimeOfWeek::Weekend,
    ];

    /// The code in the finder's query.
    pub fn code(self) -> &'static str {
        match self {
            TimeOfWeek::Morning => "morning",
            TimeOfWeek::Afternoon => "afternoon",
            TimeOfWeek::Evening => "evening",
            TimeOfWeek::Weekend => "weekend",
        }
    }

    /// The label visitors read.
    pub fn label(self) -> &'static str {
        match self {
            TimeOfWeek::Morning => "Weekday mornings",
            TimeOfWeek::Afternoon => "Weekday afternoons",
            TimeOfWeek::Evening => "Weekday evenings (from 5 pm)",
            TimeOfWeek::Weekend => "Weekends",
        }
    }

    /// The time of week with this code.
    pub fn from_code(code: &str) -> Result<TimeOfWeek, UnknownCode> {
        TimeOfWeek::ALL
            .into_iter()
            .find(|t| t.code() == code)
            .ok_or_else(|| UnknownCode {
                kind: "time of week",
                code: code.to_owned(),
            })
    }

    /// When a slot meets, by its local start: the weekend wins over the clock.
    pub fn of(slot: &WeeklySlot) -> TimeOfWeek {
        let noon = NaiveTime::from_hms_opt(12, 0, 0).unwrap_or(NaiveTime::MIN);
        let five_pm = NaiveTime::from_hms_opt(17, 0, 0).unwrap_or(NaiveTime::MIN);
        if matches!(slot.weekday, Weekday::Sat | Weekday::Sun) {
            TimeOfWeek::Weekend
        } else if slot.start < noon {
            TimeOfWeek::Morning
        } else if slot.start < five_pm {
            TimeOfWeek::Afternoon
        } else {
            TimeOfWeek::Evening
        }
    }
}

/// The times of week any of `slots` meets, each once, in order.
pub fn times_of_week(slots: &[WeeklySlot]) -> Vec<TimeOfWeek> {
    TimeOfWeek::ALL
        .into_iter()
        .filter(|t| slots.iter().any(|s| TimeOfWeek::of(s) == *t))
        .collect()
}

/// The services in a stored list of codes (space-separated); unknown codes are refused.
pub fn parse_services(codes: &str) -> Result<Vec<Service>, UnknownCode> {
    let mut services: Vec<Service> = codes
        .split_ascii_whitespace()
        .map(Service::from_code)
        .collect::<Result<_, _>>()?;
    services.sort_by_key(|s| Service::ALL.iter().position(|a| a == s));
    services.dedup();
    Ok(services)
}

/// A list typed one entry per line or separated by commas ("Medicaid, Aetna"), trimmed, blank
/// entries dropped, duplicates (ignoring case) dropped.
pub fn split_list(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for item in text.split([',', '\n']).map(str::trim) {
        if !item.is_empty() && !out.iter().any(|o| o.eq_ignore_ascii_case(item)) {
            out.push(item.to_owned());
        }
    }
    out
}

/// Longest free text a profile field takes (a sentence or two; the summary takes more).
pub const SHORT_TEXT: usize = 200;
/// Longest summary.
pub const SUMMARY_TEXT: usize = 1500;

/// What staff publish about a program, as typed, before it is checked.
#[derive(Debug, Clone, Default)]
pub struct ProfileInput {
    /// A few sentences on who the program is for.
    pub summary: String,
    /// ZIP code where the program meets (for the finder).
    pub zip: String,
    /// Services offered.
    pub services: Vec<Service>,
    /// Languages groups are held in, comma-separated.
    pub languages: String,
    /// Insurance accepted, comma-separated.
    pub insurance: String,
    /// Accrediting body, e.g. "CARF" or "The Joint Commission"; blank if none.
    pub accreditation: String,
    /// Accreditation number.
    pub accreditation_number: String,
    /// Accreditation expiry.
    pub accreditation_expires: Option<NaiveDate>,
    /// Licensing authority, e.g. "Pennsylvania DDAP".
    pub licence: String,
    /// Licence number.
    pub licence_number: String,
    /// Licence expiry.
    pub licence_expires: Option<NaiveDate>,
    /// Intake phone.
    pub intake_phone: String,
    /// Intake hours, e.g. "Mon–Fri 8 am–8 pm".
    pub intake_hours: String,
    /// Whether the profile is shown to the public.
    pub published: bool,
}

/// Checks a profile: a published one needs a summary, a known ZIP, at least one service and an
/// intake phone, since a visitor can do nothing with a page that lacks them; a credential's
/// number and expiry go with its name; an expired credential is not published as current.
pub fn check_profile(p: &ProfileInput, today: NaiveDate) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut err = |field: &'static str, message: &str| {
        errors.push(FieldError {
            field,
            message: message.to_owned(),
        })
    };
    for (field, value, max) in [
        ("summary", &p.summary, SUMMARY_TEXT),
        ("languages", &p.languages, SHORT_TEXT),
        ("insurance", &p.insurance, SUMMARY_TEXT),
        ("accreditation", &p.accreditation, SHORT_TEXT),
        ("accreditation_number", &p.accreditation_number, SHORT_TEXT),
        ("licence", &p.licence, SHORT_TEXT),
        ("licence_number", &p.licence_number, SHORT_TEXT),
        ("intake_phone", &p.intake_phone, 40),
        ("intake_hours", &p.intake_hours, SHORT_TEXT),
    ] {
        if value.chars().count() > max {
            err(field, &format!("keep it to {max} characters"));
        }
    }
    if !p.zip.trim().is_empty() {
        if let Err(e) = super::places::zip_centroid(&p.zip) {
            err("zip", &e.to_string());
        }
    }
    let phone_digits = p.intake_phone.chars().filter(char::is_ascii_digit).count();
    if !p.intake_phone.trim().is_empty()
        && (!(7..=15).contains(&phone_digits)
            || !p
                .intake_phone
                .chars()
                .all(|c| c.is_ascii_digit() || " ()+-.".contains(c)))
    {
        err(
            "intake_phone",
            "enter a phone number of digits, spaces, brackets and dashes, such as (555) 201-4400",
        );
    }
    for (name_field, name, number_field, number, expires_field, expires) in [
        (
            "accreditation",
            &p.accreditation,
            "accreditation_number",
            &p.accreditation_number,
            "accreditation_expires",
            p.accreditation_expires,
        ),
        (
            "licence",
            &p.licence,
            "licence_number",
            &p.licence_number,
            "licence_expires",
            p.licence_expires,
        ),
    ] {
        let named = !name.trim().is_empty();
        if !named && (!number.trim().is_empty() || expires.is_some()) {
            err(
                name_field,
                "name who issued it, or clear its number and expiry",
            );
        }
        if named && number.trim().is_empty() {
            err(number_field, "is required with the name of who issued it");
        }
        if named && expires.is_none() {
            err(expires_field, "is required with the name of who issued it");
        }
        if p.published && expires.is_some_and(|d| d < today) {
            err(
                expires_field,
                "has passed: renew it before publishing, or remove it",
            );
        }
    }
    if p.published {
        if p.summary.trim().is_empty() {
            err("summary", "is required to publish");
        }
        if p.zip.trim().is_empty() {
            err(
                "zip",
                "is required to publish, so visitors can find the program",
            );
        }
        if p.services.is_empty() {
            err("services", "choose at least one to publish");
        }
        if p.intake_phone.trim().is_empty() {
            err("intake_phone", "is required to publish");
        }
    }
    errors
}

/// Whether a credential expiring on `expires` should be flagged to staff as due for renewal:
/// within 90 days of `today`.
pub fn renewal_due(expires: NaiveDate, today: NaiveDate) -> bool {
    expires.num_days_from_ce() - today.num_days_from_ce() <= 90
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).expect("time")
    }

    fn slot(day: Weekday, start: NaiveTime) -> WeeklySlot {
        WeeklySlot::new(day, start, at(23, 0)).expect("slot")
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("day")
    }

    #[test]
    fn slots_are_morning_afternoon_evening_or_weekend_by_their_start() {
        assert_eq!(
            TimeOfWeek::of(&slot(Weekday::Mon, at(9, 0))),
            TimeOfWeek::Morning
        );
        assert_eq!(
            TimeOfWeek::of(&slot(Weekday::Mon, at(11, 59))),
            TimeOfWeek::Morning
        );
        assert_eq!(
            TimeOfWeek::of(&slot(Weekday::Tue, at(12, 0))),
            TimeOfWeek::Afternoon
        );
        assert_eq!(
            TimeOfWeek::of(&slot(Weekday::Wed, at(16, 59))),
            TimeOfWeek::Afternoon
        );
        assert_eq!(
            TimeOfWeek::of(&slot(Weekday::Thu, at(17, 0))),
            TimeOfWeek::Evening
        );
        assert_eq!(
            TimeOfWeek::of(&slot(Weekday::Fri, at(18, 30))),
            TimeOfWeek::Evening
        );
        assert_eq!(
            TimeOfWeek::of(&slot(Weekday::Sat, at(18, 0))),
            TimeOfWeek::Weekend
        );
        assert_eq!(
            TimeOfWeek::of(&slot(Weekday::Sun, at(9, 0))),
            TimeOfWeek::Weekend
        );
        let times = times_of_week(&[
            slot(Weekday::Sat, at(9, 0)),
            slot(Weekday::Mon, at(18, 0)),
            slot(Weekday::Tue, at(18, 0)),
        ]);
        assert_eq!(times, vec![TimeOfWeek::Evening, TimeOfWeek::Weekend]);
        assert!(times_of_week(&[]).is_empty());
    }

    #[test]
    fn services_and_lists_are_read_as_staff_type_them() {
        assert_eq!(
            parse_services("medication group group"),
            Ok(vec![Service::Group, Service::Medication])
        );
        assert!(parse_services("massage").is_err());
        for s in Service::ALL {
            assert_eq!(Service::from_code(s.code()), Ok(s));
        }
        assert_eq!(
            split_list(" Medicaid, Aetna\nmedicaid,, Blue Cross "),
            vec!["Medicaid", "Aetna", "Blue Cross"]
        );
    }

    fn published() -> ProfileInput {
        ProfileInput {
            summary: "Adults in early recovery.".into(),
            zip: "19106".into(),
            services: vec![Service::Group],
            intake_phone: "(555) 201-4400".into(),
            published: true,
            ..ProfileInput::default()
        }
    }

    #[test]
    fn a_published_profile_needs_what_a_visitor_acts_on() {
        let today = day(2026, 12, 7);
        assert!(check_profile(&published(), today).is_empty());
        let fields = |p: &ProfileInput| -> Vec<&'static str> {
            check_profile(p, today).iter().map(|e| e.field).collect()
        };
        let empty = ProfileInput {
            published: true,
            ..ProfileInput::default()
        };
        assert_eq!(
            fields(&empty),
            vec!["summary", "zip", "services", "intake_phone"]
        );
        // A draft may be saved half-filled.
        assert!(fields(&ProfileInput::default()).is_empty());
        let bad = ProfileInput {
            zip: "00000".into(),
            intake_phone: "call us".into(),
            summary: "x".repeat(SUMMARY_TEXT + 1),
            ..published()
        };
        assert_eq!(fields(&bad), vec!["summary", "zip", "intake_phone"]);
    }

    #[test]
    fn credentials_come_with_number_and_expiry_and_are_not_published_expired() {
        let today = day(2026, 12, 7);
        let fields = |p: &ProfileInput| -> Vec<&'static str> {
            check_profile(p, today).iter().map(|e| e.field).collect()
        };
        let carf = ProfileInput {
            accreditation: "CARF".into(),
            accreditation_number: "1234567".into(),
            accreditation_expires: Some(day(2027, 6, 30)),
            ..published()
        };
        assert!(fields(&carf).is_empty());
        let lapsed = ProfileInput {
            accreditation_expires: Some(day(2026, 12, 6)),
            ..carf.clone()
        };
        assert_eq!(fields(&lapsed), vec!["accreditation_expires"]);
        let draft_lapsed = ProfileInput {
            published: false,
            ..lapsed
        };
        assert!(fields(&draft_lapsed).is_empty());
        let unnamed = ProfileInput {
            licence_number: "SUD-88".into(),
            ..published()
        };
        assert_eq!(fields(&unnamed), vec!["licence"]);
        let no_number = ProfileInput {
            licence: "Pennsylvania DDAP".into(),
            ..published()
        };
        assert_eq!(
            fields(&no_number),
            vec!["licence_number", "licence_expires"]
        );
        assert!(renewal_due(day(2027, 3, 7), today));
        assert!(!renewal_due(day(2027, 3, 8), today));
    }
}
