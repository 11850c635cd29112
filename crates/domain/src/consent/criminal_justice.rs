//! §2.35: disclosures to the people in the criminal justice system who made the patient's
//! participation in the program a condition of the disposition of criminal proceedings, or of
//! parole or other release from custody.
//!
//! The consent meets §2.31 except its (a)(6) right to revoke at any time, which §2.35(c)
//! replaces: it states how long it lasts (§2.35(b)) and becomes revocable only after a stated
//! time or an ascertainable event no later than the final disposition (§2.35(c)). Recipients are
//! the individuals who need the information to monitor the patient's progress (§2.35(a)(1)), and
//! they may use and redisclose it only for their official duties with regard to that release or
//! action (§2.35(d)).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use super::model::{code_list, Consent, InformationCategory, Recipient};
use crate::care::UnknownCode;

/// What the criminal justice system made participation a condition of (§2.35(a)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CriminalJusticeCondition {
    /// The disposition of criminal proceedings against the patient (diversion, sentence…).
    Disposition,
    /// Parole or other release from custody (probation, pretrial release…).
    Release,
}

code_list!(CriminalJusticeCondition, "criminal justice condition", [
    Disposition => "disposition", "A condition of the disposition of criminal proceedings";
    Release => "release", "A condition of parole or other release from custody";
]);

/// When a §2.35 consent becomes revocable (§2.35(c)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Revocability {
    /// From this day.
    OnDate {
        /// The first day a written revocation takes effect.
        date: NaiveDate,
    },
    /// Once this ascertainable event has happened (for instance the final disposition).
    Event {
        /// The event as the consent words it.
        description: String,
    },
}

impl fmt::Display for Revocability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Revocability::OnDate { date } => write!(f, "may not be revoked before {date}"),
            Revocability::Event { description } => {
                write!(f, "may not be revoked until {}", description.trim())
            }
        }
    }
}

/// The elements §2.35 adds to a consent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CriminalJustice {
    /// What participation is a condition of.
    pub condition: CriminalJusticeCondition,
    /// §2.35(a)(1): the recipients' duty to monitor the patient's progress, in words (e.g. "the
    /// probation officer supervising the patient's probation in case 24-CR-118").
    pub monitoring_duty: String,
    /// §2.35(b): the period the consent remains in effect, and why it is reasonable (the length
    /// of treatment, the proceeding, when its final disposition is expected).
    pub duration_statement: String,
    /// §2.35(c): when it becomes revocable.
    pub revocable: Option<Revocability>,
    /// §2.35(c): the staff member confirmed that time or event is no later than the final
    /// disposition of the release or action the consent was given for.
    pub no_later_than_final_disposition: bool,
}

/// The §2.35(d) limit on use and redisclosure, which goes with every packet under such a consent.
pub const CRIMINAL_JUSTICE_REDISCLOSURE: &str = "The recipient may use and redisclose this \
    information only to carry out their official duties with regard to the patient's \
    conditional release or other action in connection with which the consent was given \
    (42 CFR 2.35(d)).";

/// The revocation statement Trellis offers on a §2.35 consent, given when it becomes revocable.
pub fn revocation_statement(revocable: &Revocability) -> String {
    let when = match revocable {
        Revocability::OnDate { date } => format!("before {date}"),
        Revocability::Event { description } => format!("until {}", description.trim()),
    };
    format!(
        "I understand that I may not revoke this consent {when} (42 CFR 2.35(c)). After that I \
         may revoke it in writing, except to the extent the program has already acted in \
         reliance on it."
    )
}

/// Why a §2.35 consent cannot be recorded, each problem with its form field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CriminalJusticeProblem {
    /// A required element is empty.
    #[error("is required on a criminal justice consent (42 CFR 2.35)")]
    Missing,
    /// §2.35(a)(1): individuals, by name, not classes.
    #[error("name each person in the criminal justice system who needs the information to monitor the patient's progress; a class of recipients is not enough (42 CFR 2.35(a)(1))")]
    RecipientsNotNamed,
    /// Not a TPO consent.
    #[error("a criminal justice consent is not for treatment, payment or health care operations: choose its own purpose")]
    TpoPurpose,
    /// §2.31(b).
    #[error("SUD counseling notes need a consent of their own (42 CFR 2.31(b))")]
    CounselingNotes,
    /// §2.35(c): revocable no later than the final disposition.
    #[error(
        "confirm that this time or event is no later than the final disposition (42 CFR 2.35(c))"
    )]
    AfterFinalDisposition,
    /// A revocable-from day before the day signed.
    #[error("cannot be before the consent was signed ({0})")]
    RevocableBeforeSigned(NaiveDate),
    /// The revocation statement does not say when the consent becomes revocable.
    #[error("must say when the consent becomes revocable ({0}), as 42 CFR 2.35(c) requires")]
    StatementLacksRevocability(String),
}

/// Checks the elements §2.35 adds, on a consent that carries them.
pub fn validate_criminal_justice(
    consent: &Consent,
    cj: &CriminalJustice,
) -> Vec<(&'static str, CriminalJusticeProblem)> {
    use CriminalJusticeProblem as P;
    let mut problems = Vec::new();
    if cj.monitoring_duty.trim().is_empty() {
        problems.push(("monitoring_duty", P::Missing));
    }
    if cj.duration_statement.trim().is_empty() {
        problems.push(("duration_statement", P::Missing));
    }
    if consent
        .recipients
        .iter()
        .any(|r| !matches!(r, Recipient::Named { .. }))
    {
        problems.push(("recipients", P::RecipientsNotNamed));
    }
    if consent.purposes.iter().any(|p| p.is_tpo()) {
        problems.push(("purposes", P::TpoPurpose));
    }
    if consent
        .categories
        .contains(&InformationCategory::CounselingNotes)
    {
        problems.push(("categories", P::CounselingNotes));
    }
    match &cj.revocable {
        None => problems.push(("revocable", P::Missing)),
        Some(Revocability::Event { description }) if description.trim().is_empty() => {
            problems.push(("revocable_event", P::Missing))
        }
        Some(revocable) => {
            if let (Revocability::OnDate { date }, Some(signed)) = (revocable, consent.signed_on) {
                if *date < signed {
                    problems.push(("revocable_on", P::RevocableBeforeSigned(signed)));
                }
            }
            if !cj.no_later_than_final_disposition {
                problems.push(("no_later_than_final_disposition", P::AfterFinalDisposition));
            }
            if !says_when_revocable(&consent.revocation_statement, revocable) {
                problems.push((
                    "revocation_statement",
                    P::StatementLacksRevocability(revocable.to_string()),
                ));
            }
        }
    }
    problems
}

/// Whether the statement names the day, or the event, from which the consent is revocable.
fn says_when_revocable(statement: &str, revocable: &Revocability) -> bool {
    let lower = statement.to_lowercase();
    match revocable {
        Revocability::OnDate { date } => lower.contains(&date.to_string()),
        Revocability::Event { description } => {
            lower.contains(description.trim().to_lowercase().as_str())
        }
    }
}

/// Why a written revocation of a §2.35 consent does not take effect yet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotYetRevocable {
    /// Received before the day it becomes revocable.
    #[error("this criminal justice consent may not be revoked before {0} (42 CFR 2.35(c))")]
    BeforeDate(NaiveDate),
    /// The event has not been confirmed.
    #[error("this criminal justice consent may not be revoked until {0} (42 CFR 2.35(c)): confirm the day it happened")]
    EventNotConfirmed(String),
    /// The event is said to have happened after the revocation was received.
    #[error("the revocation was received before {0} happened, so it does not take effect (42 CFR 2.35(c))")]
    ReceivedBeforeEvent(String),
}

/// Whether a written revocation received on `received_on` takes effect (§2.35(c)); for an
/// event, `event_on` is the day staff confirm it happened. Other consents: always.
pub fn check_revocable(
    consent: &Consent,
    received_on: NaiveDate,
    event_on: Option<NaiveDate>,
) -> Result<(), NotYetRevocable> {
    let Some(revocable) = consent
        .criminal_justice
        .as_ref()
        .and_then(|cj| cj.revocable.as_ref())
    else {
        return Ok(());
    };
    match revocable {
        Revocability::OnDate { date } if received_on < *date => {
            Err(NotYetRevocable::BeforeDate(*date))
        }
        Revocability::OnDate { .. } => Ok(()),
        Revocability::Event { description } => match event_on {
            None => Err(NotYetRevocable::EventNotConfirmed(description.clone())),
            Some(day) if day > received_on => {
                Err(NotYetRevocable::ReceivedBeforeEvent(description.clone()))
            }
            Some(_) => Ok(()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consent::model::tests::probation_consent;
    use crate::consent::model::{validate_consent, Purpose, RecipientClass};

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    /// The probation consent made a §2.35 one: revocable from 1 March 2025.
    pub(crate) fn cj_consent() -> Consent {
        let revocable = Revocability::OnDate {
            date: day(2025, 3, 1),
        };
        let mut consent = probation_consent(9);
        consent.revocation_statement = revocation_statement(&revocable);
        consent.criminal_justice = Some(CriminalJustice {
            condition: CriminalJusticeCondition::Release,
            monitoring_duty: "Supervising the patient's probation, case 24-CR-118".into(),
            duration_statement: "Until 30 June 2025, the end of the expected treatment and of \
                                 the probation term"
                .into(),
            revocable: Some(revocable),
            no_later_than_final_disposition: true,
        });
        consent
    }

    fn fields(consent: &Consent) -> Vec<&'static str> {
        validate_criminal_justice(consent, consent.criminal_justice.as_ref().unwrap())
            .into_iter()
            .map(|(f, _)| f)
            .collect()
    }

    #[test]
    fn a_criminal_justice_consent_states_duration_and_when_it_becomes_revocable_2_35_b_c() {
        let consent = cj_consent();
        assert_eq!(validate_consent(&consent), Ok(()));
        assert!(fields(&consent).is_empty());

        let mut vague = cj_consent();
        let cj = vague.criminal_justice.as_mut().unwrap();
        cj.duration_statement = " ".into();
        cj.monitoring_duty.clear();
        cj.no_later_than_final_disposition = false;
        assert_eq!(
            fields(&vague),
            [
                "monitoring_duty",
                "duration_statement",
                "no_later_than_final_disposition"
            ]
        );

        // The ordinary "revoke at any time" statement does not say when it becomes revocable.
        let mut ordinary = cj_consent();
        ordinary.revocation_statement = crate::consent::DEFAULT_REVOCATION_STATEMENT.into();
        assert_eq!(fields(&ordinary), ["revocation_statement"]);

        let mut early = cj_consent();
        early.criminal_justice.as_mut().unwrap().revocable = Some(Revocability::OnDate {
            date: day(2025, 1, 1),
        });
        early.revocation_statement = revocation_statement(&Revocability::OnDate {
            date: day(2025, 1, 1),
        });
        assert_eq!(fields(&early), ["revocable_on"]);

        let mut event = cj_consent();
        let final_disposition = Revocability::Event {
            description: "the final disposition of case 24-CR-118".into(),
        };
        event.revocation_statement = revocation_statement(&final_disposition);
        event.criminal_justice.as_mut().unwrap().revocable = Some(final_disposition);
        assert!(fields(&event).is_empty());
        event.criminal_justice.as_mut().unwrap().revocable = Some(Revocability::Event {
            description: "".into(),
        });
        assert_eq!(fields(&event), ["revocable_event"]);
    }

    #[test]
    fn only_named_monitors_and_no_tpo_purpose_or_counseling_notes_2_35_a() {
        let mut class = cj_consent();
        class.recipients = vec![Recipient::Class {
            class: RecipientClass::TreatingProviders,
            description: "the courts".into(),
        }];
        class.purposes = [Purpose::Treatment].into();
        class
            .categories
            .insert(InformationCategory::CounselingNotes);
        assert_eq!(fields(&class), ["recipients", "purposes", "categories"]);
    }

    #[test]
    fn a_revocation_takes_effect_only_once_the_consent_is_revocable_2_35_c() {
        let consent = cj_consent();
        assert_eq!(
            check_revocable(&consent, day(2025, 2, 28), None),
            Err(NotYetRevocable::BeforeDate(day(2025, 3, 1)))
        );
        assert_eq!(check_revocable(&consent, day(2025, 3, 1), None), Ok(()));

        let mut event = cj_consent();
        event.criminal_justice.as_mut().unwrap().revocable = Some(Revocability::Event {
            description: "the final disposition".into(),
        });
        assert!(matches!(
            check_revocable(&event, day(2025, 4, 1), None),
            Err(NotYetRevocable::EventNotConfirmed(_))
        ));
        assert!(matches!(
            check_revocable(&event, day(2025, 4, 1), Some(day(2025, 4, 2))),
            Err(NotYetRevocable::ReceivedBeforeEvent(_))
        ));
        assert_eq!(
            check_revocable(&event, day(2025, 4, 1), Some(day(2025, 3, 20))),
            Ok(())
        );
        // Any other consent is revocable whenever the written revocation arrives.
        assert_eq!(
            check_revocable(&probation_consent(2), day(2025, 1, 11), None),
            Ok(())
        );
    }

    #[test]
    fn codes_round_trip() {
        for c in CriminalJusticeCondition::ALL {
            assert_eq!(c.code().parse::<CriminalJusticeCondition>(), Ok(*c));
        }
    }
}
