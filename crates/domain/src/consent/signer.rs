//! Who may sign a Part 2 consent (42 CFR 2.14 minors, 2.15 patients lacking capacity and
//! deceased patients), under the state's minor-consent rule as each site configures it.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use super::model::code_list;
use crate::care::UnknownCode;
use crate::patient::age_on;

/// On what authority the person signing a consent signs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignerAuthority {
    /// The patient themself (a minor too, where state law lets the minor consent alone).
    Patient,
    /// A parent or guardian of a minor, where state law requires one (§2.14(c)).
    ParentOrGuardian,
    /// A guardian or personal representative of a patient a court found to lack capacity
    /// (§2.15(a)).
    PersonalRepresentative,
    /// The executor or administrator of a deceased patient's estate (§2.15(b)(2)).
    ExecutorOrAdministrator,
    /// The spouse or a responsible family member of a deceased patient when there is no executor
    /// or administrator (§2.15(b)(2)).
    NextOfKin,
}

code_list!(SignerAuthority, "signer authority", [
    Patient => "patient", "The patient";
    ParentOrGuardian => "parent_or_guardian", "Parent or guardian of a minor";
    PersonalRepresentative => "personal_representative", "Guardian or personal representative (patient lacks capacity)";
    ExecutorOrAdministrator => "executor_or_administrator", "Executor or administrator (patient deceased)";
    NextOfKin => "next_of_kin", "Spouse or family member (patient deceased, no executor)";
]);

/// The state's minor-consent rule, as configured for a site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MinorConsentRule {
    /// The age of majority (18 in most states).
    pub age_of_majority: i32,
    /// The youngest age at which state law lets a minor apply for SUD treatment alone; `None`
    /// when state law always requires a parent or guardian.
    pub minor_may_consent_alone_from: Option<i32>,
}

impl Default for MinorConsentRule {
    /// The cautious reading until the site says otherwise: majority at 18, a parent or guardian
    /// always co-signs for a minor.
    fn default() -> Self {
        MinorConsentRule {
            age_of_majority: 18,
            minor_may_consent_alone_from: None,
        }
    }
}

impl MinorConsentRule {
    /// Checks a site's rule: majority between 16 and 21, and a minor's own consent from an age
    /// between 10 and the age of majority.
    pub fn validate(&self) -> Result<(), &'static str> {
        if !(16..=21).contains(&self.age_of_majority) {
            return Err("the age of majority must be between 16 and 21");
        }
        match self.minor_may_consent_alone_from {
            Some(age) if !(10..self.age_of_majority).contains(&age) => {
                Err("the age a minor may consent alone must be at least 10 and below the age of majority")
            }
            _ => Ok(()),
        }
    }
}

/// What is known about the patient when the consent is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatientFacts {
    /// Date of birth.
    pub date_of_birth: NaiveDate,
    /// Date of death, when recorded.
    pub date_of_death: Option<NaiveDate>,
}

/// Who signed, as recorded on the consent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signing {
    /// The signer's authority.
    pub authority: SignerAuthority,
    /// The day it was signed.
    pub signed_on: NaiveDate,
    /// For a parent or guardian: the minor signed too (§2.14(c) requires both).
    pub minor_also_signed: bool,
    /// For a personal representative: the court order or document appointing them.
    pub court_document: String,
}

/// Why this person may not sign this consent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignerProblem {
    /// §2.14(b): where state law lets the minor consent alone, only the minor may consent.
    #[error("state law lets a minor of {age} consent alone to SUD treatment, so only the minor may sign (42 CFR 2.14(b))")]
    MinorMustSignAlone {
        /// The patient's age on the day of signing.
        age: i32,
    },
    /// §2.14(c): where state law requires a parent's consent, both must sign.
    #[error("the patient is a minor ({age}) and state law requires a parent or guardian: both the minor and a parent or guardian sign (42 CFR 2.14(c))")]
    ParentAndMinorMustSign {
        /// The patient's age on the day of signing.
        age: i32,
    },
    /// A parent signs only for a minor.
    #[error("the patient was an adult when this was signed; a parent or guardian signs only for a minor")]
    NotAMinor,
    /// §2.15(a): the appointment is part of the record.
    #[error(
        "note the court order or document appointing the personal representative (42 CFR 2.15(a))"
    )]
    CourtDocumentMissing,
    /// §2.15(b): only an executor, administrator or next of kin signs for a deceased patient.
    #[error("the patient died on {died_on}; only an executor, administrator or next of kin may sign (42 CFR 2.15(b))")]
    PatientDeceased {
        /// The recorded date of death.
        died_on: NaiveDate,
    },
    /// §2.15(b) applies only once the death is on record.
    #[error("record the patient's date of death before an executor, administrator or next of kin signs (42 CFR 2.15(b))")]
    DeathNotRecorded,
    /// Nobody signs before they are born or a consent dated in the future.
    #[error("the signing date is before the patient's date of birth")]
    SignedBeforeBirth,
}

/// Whether this signing is valid for this patient under the site's minor-consent rule.
pub fn check_signer(
    patient: &PatientFacts,
    rule: &MinorConsentRule,
    signing: &Signing,
) -> Result<(), SignerProblem> {
    use SignerAuthority as A;
    if signing.signed_on < patient.date_of_birth {
        return Err(SignerProblem::SignedBeforeBirth);
    }
    let deceased = patient
        .date_of_death
        .filter(|died| *died <= signing.signed_on);
    if matches!(signing.authority, A::ExecutorOrAdministrator | A::NextOfKin) {
        return match deceased {
            Some(_) => Ok(()),
            None => Err(SignerProblem::DeathNotRecorded),
        };
    }
    if let Some(died_on) = deceased {
        return Err(SignerProblem::PatientDeceased { died_on });
    }
    if signing.authority == A::PersonalRepresentative {
        return if signing.court_document.trim().is_empty() {
            Err(SignerProblem::CourtDocumentMissing)
        } else {
            Ok(())
        };
    }
    let age = age_on(patient.date_of_birth, signing.signed_on);
    let minor = age < rule.age_of_majority;
    let alone = rule
        .minor_may_consent_alone_from
        .is_some_and(|from| age >= from);
    match signing.authority {
        A::Patient if minor && !alone => Err(SignerProblem::ParentAndMinorMustSign { age }),
        A::Patient => Ok(()),
        A::ParentOrGuardian if !minor => Err(SignerProblem::NotAMinor),
        A::ParentOrGuardian if alone => Err(SignerProblem::MinorMustSignAlone { age }),
        A::ParentOrGuardian if !signing.minor_also_signed => {
            Err(SignerProblem::ParentAndMinorMustSign { age })
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    fn signing(authority: SignerAuthority) -> Signing {
        Signing {
            authority,
            signed_on: day("2026-12-07"),
            minor_also_signed: false,
            court_document: String::new(),
        }
    }

    /// Fifteen on the signing day.
    fn fifteen() -> PatientFacts {
        PatientFacts {
            date_of_birth: day("2011-06-01"),
            date_of_death: None,
        }
    }

    #[test]
    fn a_minor_the_state_lets_consent_alone_signs_alone() {
        // §2.14(b): e.g. a state where a minor of 12 may apply for SUD treatment alone.
        let rule = MinorConsentRule {
            age_of_majority: 18,
            minor_may_consent_alone_from: Some(12),
        };
        assert_eq!(
            check_signer(&fifteen(), &rule, &signing(SignerAuthority::Patient)),
            Ok(())
        );
        let mut parent = signing(SignerAuthority::ParentOrGuardian);
        parent.minor_also_signed = true;
        assert_eq!(
            check_signer(&fifteen(), &rule, &parent),
            Err(SignerProblem::MinorMustSignAlone { age: 15 })
        );
        // Below the state's age the parent co-signs.
        let sixteen_rule = MinorConsentRule {
            minor_may_consent_alone_from: Some(16),
            ..rule
        };
        assert_eq!(check_signer(&fifteen(), &sixteen_rule, &parent), Ok(()));
    }

    #[test]
    fn where_the_state_requires_a_parent_minor_and_parent_both_sign() {
        // §2.14(c).
        let rule = MinorConsentRule::default();
        assert_eq!(
            check_signer(&fifteen(), &rule, &signing(SignerAuthority::Patient)),
            Err(SignerProblem::ParentAndMinorMustSign { age: 15 })
        );
        let mut parent = signing(SignerAuthority::ParentOrGuardian);
        assert_eq!(
            check_signer(&fifteen(), &rule, &parent),
            Err(SignerProblem::ParentAndMinorMustSign { age: 15 })
        );
        parent.minor_also_signed = true;
        assert_eq!(check_signer(&fifteen(), &rule, &parent), Ok(()));
        let adult = PatientFacts {
            date_of_birth: day("1990-01-01"),
            date_of_death: None,
        };
        assert_eq!(
            check_signer(&adult, &rule, &parent),
            Err(SignerProblem::NotAMinor)
        );
        assert_eq!(
            check_signer(&adult, &rule, &signing(SignerAuthority::Patient)),
            Ok(())
        );
    }

    #[test]
    fn a_personal_representative_notes_the_court_document() {
        // §2.15(a).
        let adult = PatientFacts {
            date_of_birth: day("1960-03-03"),
            date_of_death: None,
        };
        let mut rep = signing(SignerAuthority::PersonalRepresentative);
        let rule = MinorConsentRule::default();
        assert_eq!(
            check_signer(&adult, &rule, &rep),
            Err(SignerProblem::CourtDocumentMissing)
        );
        rep.court_document = "Guardianship order, County Probate Court 2025-GD-118".into();
        assert_eq!(check_signer(&adult, &rule, &rep), Ok(()));
    }

    #[test]
    fn only_an_executor_or_next_of_kin_signs_for_a_deceased_patient() {
        // §2.15(b): needs the date of death on record.
        let rule = MinorConsentRule::default();
        let mut patient = PatientFacts {
            date_of_birth: day("1970-05-05"),
            date_of_death: None,
        };
        let executor = signing(SignerAuthority::ExecutorOrAdministrator);
        assert_eq!(
            check_signer(&patient, &rule, &executor),
            Err(SignerProblem::DeathNotRecorded)
        );
        patient.date_of_death = Some(day("2026-11-30"));
        assert_eq!(check_signer(&patient, &rule, &executor), Ok(()));
        assert_eq!(
            check_signer(&patient, &rule, &signing(SignerAuthority::NextOfKin)),
            Ok(())
        );
        assert_eq!(
            check_signer(&patient, &rule, &signing(SignerAuthority::Patient)),
            Err(SignerProblem::PatientDeceased {
                died_on: day("2026-11-30")
            })
        );
        // A consent the patient signed before dying was theirs to sign.
        let mut earlier = signing(SignerAuthority::Patient);
        earlier.signed_on = day("2026-11-01");
        assert_eq!(check_signer(&patient, &rule, &earlier), Ok(()));
    }

    #[test]
    fn a_sites_rule_is_checked() {
        assert_eq!(MinorConsentRule::default().validate(), Ok(()));
        let bad = MinorConsentRule {
            age_of_majority: 18,
            minor_may_consent_alone_from: Some(18),
        };
        assert!(bad.validate().is_err());
        assert!(MinorConsentRule {
            age_of_majority: 30,
            minor_may_consent_alone_from: None
        }
        .validate()
        .is_err());
    }

    #[test]
    fn codes_round_trip() {
        for a in SignerAuthority::ALL {
            assert_eq!(a.code().parse::<SignerAuthority>(), Ok(*a));
        }
    }
}
