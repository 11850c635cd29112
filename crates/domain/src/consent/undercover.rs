//! Court orders placing an undercover agent or informant in the program (42 CFR 2.67): applied
//! for by a law enforcement or prosecutorial agency to investigate the program's employees or
//! agents, never its patients. Such an order authorises no disclosure of patient records: what
//! the agent learns may be disclosed only to investigate or prosecute the program's employees
//! or agents, and may never be used against a patient (§2.67(d)(3), (e)).

use chrono::{Months, NaiveDate};
use serde::{Deserialize, Serialize};

/// The longest placement an order may allow, from the day the agent is placed (§2.67(d)(2)).
pub const MAX_PLACEMENT_MONTHS: u32 = 12;

/// The limit on what the agent learns, shown with every such order (§2.67(d)(3), (e)).
pub const UNDERCOVER_USE_LIMIT: &str = "The agent or informant may not disclose patient identifying information obtained from the placement except as necessary to investigate or prosecute the program's employees or agents for the suspected criminal activity (42 CFR 2.67(d)(3)). Nothing obtained may be used to investigate or prosecute any patient, or as the basis for an order under 42 CFR 2.65 (42 CFR 2.67(e)). The program discloses no patient records under this order.";

/// An order under §2.67 as the privacy officer read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UndercoverOrder {
    /// The court.
    pub court: String,
    /// The case or docket number.
    pub case_number: String,
    /// The law enforcement or prosecutorial agency that applied (§2.67(a)).
    pub applicant: String,
    /// The day the order was made.
    pub dated_on: Option<NaiveDate>,
    /// The day the agent or informant is placed on the premises (§2.67(d)(2)).
    pub placed_on: Option<NaiveDate>,
    /// The last day of the placement: at most twelve months from `placed_on`.
    pub ends_on: Option<NaiveDate>,
    /// §2.67(b): the program director had notice and a chance to be heard, or the application
    /// said why not (the director is believed involved, or would reveal the placement).
    pub director_notice: bool,
    /// §2.67(c)(1): reason to believe an employee or agent of the program is engaged in
    /// criminal activity.
    pub criminal_activity: bool,
    /// §2.67(c)(2): other ways of obtaining evidence are unavailable or would be ineffective.
    pub other_means_unavailable: bool,
    /// §2.67(c)(3): the public interest outweighs the potential injury to patients, the
    /// patient-provider relationship and the treatment services.
    pub public_interest_outweighs: bool,
    /// §2.67(d)(1): the order specifically authorises the placement.
    pub placement_authorised: bool,
    /// §2.67(d)(3): the order forbids the agent to disclose patient identifying information
    /// beyond investigating or prosecuting the program's employees or agents.
    pub disclosure_limited: bool,
    /// §2.67(d)(4): measures to limit disruption of the program and any breach of
    /// confidentiality (sealing the proceedings, …).
    pub protective_measures: String,
}

/// Why an order under §2.67 cannot be recorded as it stands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UndercoverProblem {
    /// A required field is empty.
    #[error("is required")]
    Missing,
    /// A date is after today.
    #[error("cannot be in the future")]
    InFuture,
    /// §2.67(c): the three good-cause findings.
    #[error("the order must find reason to believe an employee or agent of the program is engaged in criminal activity, that other ways of obtaining evidence are unavailable or ineffective, and that the public interest outweighs the potential injury to patients, the patient-provider relationship and the treatment services (42 CFR 2.67(c))")]
    GoodCauseNotFound,
    /// §2.67(b).
    #[error("the program director must have had notice of the application and a chance to be heard, unless the application said why not (42 CFR 2.67(b))")]
    NoNotice,
    /// §2.67(d)(1).
    #[error("the order must specifically authorise the placement (42 CFR 2.67(d)(1))")]
    PlacementNotAuthorised,
    /// §2.67(d)(3).
    #[error("the order must forbid the agent or informant to disclose patient identifying information except to investigate or prosecute the program's employees or agents (42 CFR 2.67(d)(3))")]
    DisclosureNotLimited,
    /// §2.67(d)(2).
    #[error("the placement may last at most twelve months from the day the agent or informant is placed (42 CFR 2.67(d)(2))")]
    TooLong,
    /// The placement ends before it starts.
    #[error("the placement ends before it starts")]
    PeriodReversed,
}

/// Checks an order under §2.67 as of `today`: its findings, its limits and a placement of at
/// most twelve months. Every problem with its field.
pub fn validate_undercover_order(
    order: &UndercoverOrder,
    today: NaiveDate,
) -> Result<(), Vec<(&'static str, UndercoverProblem)>> {
    let mut problems = Vec::new();
    for (field, text) in [
        ("court", &order.court),
        ("case_number", &order.case_number),
        ("applicant", &order.applicant),
        ("protective_measures", &order.protective_measures),
    ] {
        if text.trim().is_empty() {
            problems.push((field, UndercoverProblem::Missing));
        }
    }
    match order.dated_on {
        None => problems.push(("dated_on", UndercoverProblem::Missing)),
        Some(day) if day > today => problems.push(("dated_on", UndercoverProblem::InFuture)),
        Some(_) => {}
    }
    if !(order.criminal_activity
        && order.other_means_unavailable
        && order.public_interest_outweighs)
    {
        problems.push(("findings", UndercoverProblem::GoodCauseNotFound));
    }
    if !order.director_notice {
        problems.push(("director_notice", UndercoverProblem::NoNotice));
    }
    if !order.placement_authorised {
        problems.push((
            "placement_authorised",
            UndercoverProblem::PlacementNotAuthorised,
        ));
    }
    if !order.disclosure_limited {
        problems.push((
            "disclosure_limited",
            UndercoverProblem::DisclosureNotLimited,
        ));
    }
    match (order.placed_on, order.ends_on) {
        (None, _) => problems.push(("placed_on", UndercoverProblem::Missing)),
        (_, None) => problems.push(("ends_on", UndercoverProblem::Missing)),
        (Some(start), Some(end)) if end < start => {
            problems.push(("ends_on", UndercoverProblem::PeriodReversed))
        }
        (Some(start), Some(end)) if !within_twelve_months(start, end) => {
            problems.push(("ends_on", UndercoverProblem::TooLong))
        }
        _ => {}
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// Whether a placement from `start` to `end` (both days included) lasts at most twelve months.
fn within_twelve_months(start: NaiveDate, end: NaiveDate) -> bool {
    start
        .checked_add_months(Months::new(MAX_PLACEMENT_MONTHS))
        .is_some_and(|limit| end < limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("date")
    }

    fn order() -> UndercoverOrder {
        UndercoverOrder {
            court: "US District Court".into(),
            case_number: "CR-26-0091".into(),
            applicant: "State Attorney General, Medicaid Fraud Unit".into(),
            dated_on: Some(day(2026, 3, 2)),
            placed_on: Some(day(2026, 3, 9)),
            ends_on: Some(day(2027, 3, 8)),
            director_notice: true,
            criminal_activity: true,
            other_means_unavailable: true,
            public_interest_outweighs: true,
            placement_authorised: true,
            disclosure_limited: true,
            protective_measures: "Proceedings sealed".into(),
        }
    }

    fn fields(order: &UndercoverOrder) -> Vec<&'static str> {
        validate_undercover_order(order, day(2026, 3, 10))
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|(f, _)| f)
            .collect()
    }

    #[test]
    fn a_placement_lasts_at_most_twelve_months_2_67_d_2() {
        assert!(fields(&order()).is_empty());
        let too_long = UndercoverOrder {
            ends_on: Some(day(2027, 3, 9)),
            ..order()
        };
        assert_eq!(fields(&too_long), ["ends_on"]);
        let reversed = UndercoverOrder {
            ends_on: Some(day(2026, 3, 1)),
            ..order()
        };
        assert_eq!(fields(&reversed), ["ends_on"]);
    }

    #[test]
    fn an_order_needs_the_findings_notice_and_limits_2_67_b_c_d() {
        let bare = UndercoverOrder {
            court: " ".into(),
            applicant: String::new(),
            dated_on: Some(day(2026, 4, 1)),
            placed_on: None,
            director_notice: false,
            public_interest_outweighs: false,
            placement_authorised: false,
            disclosure_limited: false,
            protective_measures: String::new(),
            ..order()
        };
        assert_eq!(
            fields(&bare),
            [
                "court",
                "applicant",
                "protective_measures",
                "dated_on",
                "findings",
                "director_notice",
                "placement_authorised",
                "disclosure_limited",
                "placed_on"
            ]
        );
    }

    #[test]
    fn the_use_limit_names_the_program_only_and_no_patient_2_67_e() {
        assert!(UNDERCOVER_USE_LIMIT.contains("2.67(d)(3)"));
        assert!(UNDERCOVER_USE_LIMIT.contains("any patient"));
        assert!(UNDERCOVER_USE_LIMIT.contains("2.65"));
    }
}
