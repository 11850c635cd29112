//! Breach notification for Part 2 records (42 CFR 2.16(b), applying HIPAA's breach
//! notification rule, 45 CFR 164.400–414): the four-factor risk assessment, the 60-day clock,
//! who must be told, and the annual log of small breaches for HHS.

use chrono::{Datelike, Duration, NaiveDate};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use super::model::code_list;
use crate::care::UnknownCode;

/// Calendar days from discovery within which patients must be told (§164.404(b)).
pub const NOTIFICATION_DAYS: i64 = 60;

/// How one factor of the §164.402(2) assessment weighs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FactorRisk {
    /// This factor points to a low probability that the information was compromised.
    Low,
    /// This factor does not.
    High,
}

code_list!(FactorRisk, "risk", [
    Low => "low", "Low";
    High => "high", "Not low";
]);

/// The four factors of §164.402(2), each weighed by the privacy officer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskAssessment {
    /// (i) The nature and extent of the information, including identifiers and the likelihood
    /// of re-identification.
    pub nature_and_extent: FactorRisk,
    /// (ii) The unauthorized person who used it or to whom it was disclosed.
    pub unauthorized_recipient: FactorRisk,
    /// (iii) Whether the information was actually acquired or viewed.
    pub acquired_or_viewed: FactorRisk,
    /// (iv) The extent to which the risk has been mitigated.
    pub mitigation: FactorRisk,
}

impl RiskAssessment {
    /// Whether every factor points to a low probability of compromise.
    pub fn all_low(&self) -> bool {
        [
            self.nature_and_extent,
            self.unauthorized_recipient,
            self.acquired_or_viewed,
            self.mitigation,
        ]
        .iter()
        .all(|f| *f == FactorRisk::Low)
    }
}

/// What the privacy officer concluded from the assessment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreachConclusion {
    /// The assessment demonstrates a low probability that the information was compromised:
    /// not a breach, nobody is notified (the assessment is kept).
    LowProbability,
    /// A breach: patients are notified, and HHS (and the media when required).
    Breach,
}

code_list!(BreachConclusion, "breach conclusion", [
    LowProbability => "low_probability", "Low probability of compromise (not a breach)";
    Breach => "breach", "Breach: notify";
]);

/// Why a conclusion cannot stand.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BreachProblem {
    /// §164.402(2): an impermissible disclosure is presumed a breach unless the assessment
    /// demonstrates a low probability of compromise, so every factor must weigh low.
    #[error("a breach is presumed unless all four factors show a low probability of compromise (45 CFR 164.402(2))")]
    PresumedBreach,
    /// Discovery cannot be after today.
    #[error("the discovery date is in the future")]
    DiscoveredInFuture,
    /// The count of patients affected is at least the patients named.
    #[error("fewer patients affected than patients named")]
    CountBelowNamed,
}

/// Checks a conclusion against the assessment (the privacy officer decides; Trellis refuses a
/// "low probability" that the factors do not show).
pub fn validate_conclusion(
    assessment: &RiskAssessment,
    conclusion: BreachConclusion,
) -> Result<(), BreachProblem> {
    if conclusion == BreachConclusion::LowProbability && !assessment.all_low() {
        return Err(BreachProblem::PresumedBreach);
    }
    Ok(())
}

/// The last day patients may be told: 60 calendar days after discovery (§164.404(b)); a breach
/// is discovered on the first day it is known, or by reasonable diligence would have been
/// known, to the program (§164.404(a)(2)).
pub fn notification_deadline(discovered_on: NaiveDate) -> NaiveDate {
    discovered_on + Duration::days(NOTIFICATION_DAYS)
}

/// Whether notifying patients is overdue on `today`: a breach (or one not yet assessed, since a
/// breach is presumed) whose letters have not all gone by the deadline.
pub fn notification_overdue(
    discovered_on: NaiveDate,
    conclusion: Option<BreachConclusion>,
    letters_complete: bool,
    today: NaiveDate,
) -> bool {
    conclusion != Some(BreachConclusion::LowProbability)
        && !letters_complete
        && today > notification_deadline(discovered_on)
}

/// Whether prominent media outlets must be told: more than 500 residents of one State or
/// jurisdiction (§164.406(a)).
pub fn media_notice_required(most_residents_of_one_state: i64) -> bool {
    most_residents_of_one_state > 500
}

/// Whether HHS is told at the same time as the patients (500 or more affected,
/// §164.408(b)); smaller breaches go in the annual log instead (§164.408(c)).
pub fn hhs_notice_with_patients(patients_affected: i64) -> bool {
    patients_affected >= 500
}

/// The last day to submit the log of a year's breaches of fewer than 500 patients: 60 days
/// after the end of the calendar year (§164.408(c)).
pub fn annual_log_due(year: i32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(year, 12, 31).map(|d| d + Duration::days(NOTIFICATION_DAYS))
}

/// Whether a breach discovered on `discovered_on` belongs in `year`'s annual log.
pub fn in_annual_log(
    discovered_on: NaiveDate,
    conclusion: Option<BreachConclusion>,
    patients_affected: i64,
    year: i32,
) -> bool {
    discovered_on.year() == year
        && conclusion == Some(BreachConclusion::Breach)
        && !hhs_notice_with_patients(patients_affected)
}

/// What a breach letter is drafted from: the incident as the privacy officer described it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LetterFacts<'a> {
    /// The program writing (the patient's site).
    pub program: &'a str,
    /// The patient written to.
    pub patient_name: &'a str,
    /// When the breach happened, if known.
    pub occurred_on: Option<NaiveDate>,
    /// When it was discovered.
    pub discovered_on: NaiveDate,
    /// A brief description of what happened.
    pub what_happened: &'a str,
    /// The kinds of information involved (names, dates of birth, diagnoses...).
    pub information_involved: &'a str,
    /// What the patient should do to protect themself.
    pub steps_for_patients: &'a str,
    /// What the program is doing to investigate, mitigate and prevent it.
    pub what_we_are_doing: &'a str,
    /// How to reach the program (toll-free number, email, website or postal address).
    pub contact: &'a str,
}

/// The patient's letter, drafted in plain language with the five parts §164.404(c)(1) requires;
/// the privacy officer reviews it before it is sent.
pub fn draft_letter(f: &LetterFacts<'_>) -> String {
    let what = f.what_happened.trim().trim_end_matches('.');
    let when = match f.occurred_on {
        Some(day) => format!(
            "On {}, {what}. We discovered this on {}.",
            day.format("%B %-d, %Y"),
            f.discovered_on.format("%B %-d, %Y")
        ),
        None => {
            let mut chars = what.chars();
            let what: String = match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect(),
                None => String::new(),
            };
            format!(
                "{what}. We discovered this on {}.",
                f.discovered_on.format("%B %-d, %Y")
            )
        }
    };
    format!(
        "Dear {name},\n\n\
         We are writing to tell you about a breach of your health information held by {program}.\n\n\
         What happened\n{when}\n\n\
         What information was involved\n{info}\n\n\
         What you can do\n{steps}\n\n\
         What we are doing\n{doing}\n\n\
         How to reach us\n{contact}\n\n\
         Sincerely,\n{program}\n",
        name = f.patient_name.trim(),
        program = f.program.trim(),
        info = f.information_involved.trim(),
        steps = f.steps_for_patients.trim(),
        doing = f.what_we_are_doing.trim(),
        contact = f.contact.trim(),
    )
}

/// Patients without usable contact details from this many on, substitute notice is a website
/// posting or major media with a toll-free number (§164.404(d)(2)(ii)).
pub const SUBSTITUTE_NOTICE_WIDE_FROM: i64 = 10;
/// Days a substitute notice stays posted and its toll-free number stays active
/// (§164.404(d)(2)(ii)).
pub const SUBSTITUTE_NOTICE_DAYS: i64 = 90;

/// How patients whose contact details are missing or out of date were told (§164.404(d)(2)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubstituteMethod {
    /// Another form of written notice (fewer than 10 patients).
    AlternativeWritten,
    /// By telephone (fewer than 10 patients).
    Telephone,
    /// Other means reasonably calculated to reach them (fewer than 10 patients).
    OtherMeans,
    /// A conspicuous posting on the home page of the program's website for 90 days.
    WebsitePosting,
    /// A conspicuous notice in major print or broadcast media where the patients likely live.
    MajorMedia,
}

code_list!(SubstituteMethod, "substitute notice method", [
    AlternativeWritten => "alternative_written", "Another form of written notice";
    Telephone => "telephone", "Telephone";
    OtherMeans => "other_means", "Other means";
    WebsitePosting => "website_posting", "Posting on the website's home page for 90 days";
    MajorMedia => "major_media", "Notice in major print or broadcast media";
]);

impl SubstituteMethod {
    /// Whether this method reaches the public, as §164.404(d)(2)(ii) requires from 10 patients.
    pub fn is_public(self) -> bool {
        matches!(
            self,
            SubstituteMethod::WebsitePosting | SubstituteMethod::MajorMedia
        )
    }
}

/// Why a substitute notice cannot be recorded as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubstituteProblem {
    /// It is for at least one patient who could not be reached.
    #[error("say how many patients could not be reached by letter (at least 1)")]
    NoPatients,
    /// It is for no more patients than the incident touched.
    #[error("more patients than the incident touched ({affected})")]
    MorePatientsThanAffected {
        /// The incident's count.
        affected: i64,
    },
    /// §164.404(d)(2)(ii)(A).
    #[error("for 10 or more patients the substitute notice is a posting on the website's home page for 90 days or a notice in major print or broadcast media (45 CFR 164.404(d)(2)(ii))")]
    PublicNoticeRequired,
    /// §164.404(d)(2)(ii)(B).
    #[error("for 10 or more patients the notice gives a toll-free number, active for 90 days, where patients can learn whether they are affected (45 CFR 164.404(d)(2)(ii)(B))")]
    TollFreeNumberRequired,
}

/// Checks a substitute notice for `unreachable` patients of an incident that touched `affected`:
/// below 10 any means reasonably calculated to reach them; from 10 a website posting or major
/// media, with a toll-free number (§164.404(d)(2)).
pub fn validate_substitute_notice(
    unreachable: i64,
    affected: i64,
    method: SubstituteMethod,
    toll_free_number: &str,
) -> Result<(), SubstituteProblem> {
    if unreachable < 1 {
        return Err(SubstituteProblem::NoPatients);
    }
    if unreachable > affected {
        return Err(SubstituteProblem::MorePatientsThanAffected { affected });
    }
    if unreachable >= SUBSTITUTE_NOTICE_WIDE_FROM {
        if !method.is_public() {
            return Err(SubstituteProblem::PublicNoticeRequired);
        }
        if toll_free_number.trim().is_empty() {
            return Err(SubstituteProblem::TollFreeNumberRequired);
        }
    }
    Ok(())
}

/// The last day a website posting must stay up and the toll-free number stay active.
pub fn substitute_notice_ends(given_on: NaiveDate) -> NaiveDate {
    given_on + Duration::days(SUBSTITUTE_NOTICE_DAYS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use FactorRisk::{High, Low};

    fn day(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    #[test]
    fn low_probability_needs_all_four_factors_low() {
        // §164.402(2)(i)-(iv).
        let mut a = RiskAssessment {
            nature_and_extent: Low,
            unauthorized_recipient: Low,
            acquired_or_viewed: Low,
            mitigation: Low,
        };
        assert_eq!(
            validate_conclusion(&a, BreachConclusion::LowProbability),
            Ok(())
        );
        a.acquired_or_viewed = High;
        assert_eq!(
            validate_conclusion(&a, BreachConclusion::LowProbability),
            Err(BreachProblem::PresumedBreach)
        );
        assert_eq!(validate_conclusion(&a, BreachConclusion::Breach), Ok(()));
    }

    #[test]
    fn patients_are_told_within_sixty_calendar_days_of_discovery() {
        // §164.404(b): discovered 1 March, no later than 30 April.
        assert_eq!(notification_deadline(day("2026-03-01")), day("2026-04-30"));
        let found = day("2026-03-01");
        assert!(!notification_overdue(found, None, false, day("2026-04-30")));
        assert!(notification_overdue(found, None, false, day("2026-05-01")));
        assert!(notification_overdue(
            found,
            Some(BreachConclusion::Breach),
            false,
            day("2026-05-01")
        ));
        assert!(!notification_overdue(
            found,
            Some(BreachConclusion::Breach),
            true,
            day("2026-05-01")
        ));
        assert!(!notification_overdue(
            found,
            Some(BreachConclusion::LowProbability),
            false,
            day("2026-05-01")
        ));
    }

    #[test]
    fn the_letter_has_the_five_parts_the_rule_requires() {
        // §164.404(c)(1)(A)-(E).
        let facts = LetterFacts {
            program: "Riverside IOP",
            patient_name: "Dana Reyes",
            occurred_on: Some(day("2026-03-01")),
            discovered_on: day("2026-03-03"),
            what_happened: "a laptop holding a day sheet was stolen from a staff car",
            information_involved: "Names, dates of birth and group times",
            steps_for_patients: "Watch for calls claiming to be from the clinic",
            what_we_are_doing: "The laptop's account was disabled and the police told",
            contact: "Call 1-800-555-0100 or write to 1 River St",
        };
        let letter = draft_letter(&facts);
        assert!(letter.starts_with("Dear Dana Reyes,"));
        let undated = draft_letter(&LetterFacts {
            occurred_on: None,
            what_happened: "a fax went to the wrong number.",
            ..facts.clone()
        });
        assert!(undated.contains("What happened\nA fax went to the wrong number. We discovered"));
        assert!(letter.contains("On March 1, 2026, a laptop holding a day sheet was stolen"));
        assert!(letter.contains("We discovered this on March 3, 2026."));
        for part in [
            "What information was involved\nNames, dates of birth",
            "What you can do\nWatch for calls",
            "What we are doing\nThe laptop's account",
            "How to reach us\nCall 1-800-555-0100",
        ] {
            assert!(letter.contains(part), "{part}");
        }
    }

    #[test]
    fn media_over_500_in_a_state_hhs_at_once_from_500() {
        // §164.406(a) "more than 500 residents"; §164.408(b) "500 or more individuals".
        assert!(!media_notice_required(500));
        assert!(media_notice_required(501));
        assert!(!hhs_notice_with_patients(499));
        assert!(hhs_notice_with_patients(500));
    }

    #[test]
    fn the_annual_log_holds_the_years_small_breaches_and_is_due_60_days_after() {
        // §164.408(c): 60 days after the end of 2026 is 1 March 2027; in a leap year 29 February.
        assert_eq!(annual_log_due(2026), Some(day("2027-03-01")));
        assert_eq!(annual_log_due(2027), Some(day("2028-02-29")));
        let d = day("2026-06-10");
        assert!(in_annual_log(d, Some(BreachConclusion::Breach), 3, 2026));
        assert!(!in_annual_log(d, Some(BreachConclusion::Breach), 3, 2025));
        assert!(!in_annual_log(d, Some(BreachConclusion::Breach), 700, 2026));
        assert!(!in_annual_log(
            d,
            Some(BreachConclusion::LowProbability),
            3,
            2026
        ));
        assert!(!in_annual_log(d, None, 3, 2026));
    }

    #[test]
    fn substitute_notice_from_ten_patients_is_public_with_a_toll_free_number() {
        // §164.404(d)(2)(i): fewer than 10, any means reasonably calculated to reach them.
        assert_eq!(
            validate_substitute_notice(3, 40, SubstituteMethod::Telephone, ""),
            Ok(())
        );
        // §164.404(d)(2)(ii): 10 or more, website or major media, with a toll-free number.
        assert_eq!(
            validate_substitute_notice(
                10,
                40,
                SubstituteMethod::AlternativeWritten,
                "1-800-555-0100"
            ),
            Err(SubstituteProblem::PublicNoticeRequired)
        );
        assert_eq!(
            validate_substitute_notice(10, 40, SubstituteMethod::WebsitePosting, " "),
            Err(SubstituteProblem::TollFreeNumberRequired)
        );
        assert_eq!(
            validate_substitute_notice(10, 40, SubstituteMethod::MajorMedia, "1-800-555-0100"),
            Ok(())
        );
        assert_eq!(
            validate_substitute_notice(0, 40, SubstituteMethod::Telephone, ""),
            Err(SubstituteProblem::NoPatients)
        );
        assert_eq!(
            validate_substitute_notice(41, 40, SubstituteMethod::MajorMedia, "1-800-555-0100"),
            Err(SubstituteProblem::MorePatientsThanAffected { affected: 40 })
        );
        let posted = NaiveDate::from_ymd_opt(2026, 3, 1).expect("date");
        assert_eq!(
            substitute_notice_ends(posted),
            NaiveDate::from_ymd_opt(2026, 5, 30).expect("date")
        );
    }
}
