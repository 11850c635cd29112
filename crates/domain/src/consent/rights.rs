//! The patient's rights under 42 CFR Part 2 (2024 rule): requests to restrict disclosures
//! (§2.26) and the patient notice (§2.22).
//!
//! A restriction the privacy officer agreed to, and a self-pay restriction to a health plan
//! (§2.26(a)(6), applying 45 CFR 164.522(a)(1)(vi): the program must agree when the patient paid
//! in full out of pocket), block the disclosures they cover. The consent check runs first; a
//! covered restriction then refuses what a consent alone would allow.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use super::directory::RecipientKind;
use super::model::{code_list, InformationCategory};
use crate::care::UnknownCode;

/// The privacy officer's answer to a restriction request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RestrictionDecision {
    /// Recorded, not yet decided.
    Pending,
    /// Agreed: the program is bound by it.
    Agreed,
    /// Refused, with the reason given to the patient.
    Refused,
}

code_list!(RestrictionDecision, "restriction decision", [
    Pending => "pending", "Waiting for the privacy officer";
    Agreed => "agreed", "Agreed";
    Refused => "refused", "Refused";
]);

/// A restriction request as the patient made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Restriction {
    /// The directory entry it names, if it names one recipient.
    pub recipient_id: Option<i64>,
    /// The class it names, if it names a class (neither: every recipient).
    pub recipient_kind: Option<RecipientKind>,
    /// The information it covers (empty: all of it).
    pub categories: BTreeSet<InformationCategory>,
    /// The patient paid in full out of pocket and asks that the health plan not be told.
    pub self_pay: bool,
    /// Where the privacy officer's decision stands.
    pub decision: RestrictionDecision,
}

/// Why a restriction request or decision cannot be recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestrictionProblem {
    /// A self-pay restriction names the health plan it keeps the information from.
    #[error("a self-pay restriction names the health plan it keeps the information from")]
    SelfPayNeedsHealthPlan,
    /// §2.26(a)(6): the program must agree to a self-pay restriction.
    #[error("a restriction on disclosure to a health plan of services paid in full out of pocket cannot be refused (42 CFR 2.26(a)(6))")]
    SelfPayCannotBeRefused,
    /// The patient is told why a request was refused.
    #[error("give the reason for refusing")]
    RefusalNeedsReason,
    /// A decision is made once.
    #[error("this request was already decided")]
    AlreadyDecided,
    /// Deciding means agreeing or refusing.
    #[error("choose agreed or refused")]
    NoDecision,
}

/// Checks a new request: a self-pay restriction must name one recipient of the health-plan
/// class (`named_kind` is the class of the directory entry it names, if any).
pub fn validate_restriction(
    self_pay: bool,
    named_kind: Option<RecipientKind>,
) -> Result<(), RestrictionProblem> {
    if self_pay && named_kind != Some(RecipientKind::HealthPlan) {
        return Err(RestrictionProblem::SelfPayNeedsHealthPlan);
    }
    Ok(())
}

/// Checks the privacy officer's decision on a request (§2.26(a)): once, agreed or refused, a
/// refusal with its reason, and never a refusal of a self-pay restriction.
pub fn validate_decision(
    restriction: &Restriction,
    decision: RestrictionDecision,
    reason: &str,
) -> Result<(), RestrictionProblem> {
    if restriction.decision != RestrictionDecision::Pending {
        return Err(RestrictionProblem::AlreadyDecided);
    }
    match decision {
        RestrictionDecision::Pending => Err(RestrictionProblem::NoDecision),
        RestrictionDecision::Refused if restriction.self_pay => {
            Err(RestrictionProblem::SelfPayCannotBeRefused)
        }
        RestrictionDecision::Refused if reason.trim().is_empty() => {
            Err(RestrictionProblem::RefusalNeedsReason)
        }
        _ => Ok(()),
    }
}

impl Restriction {
    /// Whether it binds the program now: once agreed, and a self-pay restriction from the moment
    /// it is asked for, since it cannot be refused.
    pub fn in_force(&self) -> bool {
        self.decision == RestrictionDecision::Agreed
            || (self.self_pay && self.decision == RestrictionDecision::Pending)
    }

    /// Whether it covers a disclosure of any of `categories` to this recipient.
    pub fn covers(
        &self,
        recipient_id: i64,
        recipient_kind: RecipientKind,
        categories: &BTreeSet<InformationCategory>,
    ) -> bool {
        let recipient = match (self.recipient_id, self.recipient_kind) {
            (Some(id), _) => id == recipient_id,
            (None, Some(kind)) => kind == recipient_kind,
            (None, None) => true,
        };
        let information = self.categories.is_empty() || !self.categories.is_disjoint(categories);
        recipient && information
    }
}

/// The first restriction in force that covers the disclosure, if any (§2.26(a)(4): a program
/// that agreed to a restriction may not disclose in violation of it).
pub fn blocking_restriction<'a, I>(
    restrictions: I,
    recipient_id: i64,
    recipient_kind: RecipientKind,
    categories: &BTreeSet<InformationCategory>,
) -> Option<&'a Restriction>
where
    I: IntoIterator<Item = &'a Restriction>,
{
    restrictions
        .into_iter()
        .find(|r| r.in_force() && r.covers(recipient_id, recipient_kind, categories))
}

/// The version of the §2.22 patient notice Trellis ships; a notice given is stamped with it.
pub const PATIENT_NOTICE_VERSION: &str = "Notice of Privacy Practices, 42 CFR 2.22 (2024 rule)";

/// What happened when the patient was given the §2.22 notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeAcknowledgment {
    /// The patient signed that they received it.
    Acknowledged,
    /// The patient was given it and refused to sign (the good-faith effort is what is recorded).
    RefusedToSign,
}

code_list!(NoticeAcknowledgment, "notice acknowledgment", [
    Acknowledged => "acknowledged", "Acknowledged in writing";
    RefusedToSign => "refused_to_sign", "Given; the patient refused to sign";
]);

#[cfg(test)]
mod tests {
    use super::*;
    use InformationCategory as C;

    fn restriction(self_pay: bool, decision: RestrictionDecision) -> Restriction {
        Restriction {
            recipient_id: Some(7),
            recipient_kind: None,
            categories: [C::Diagnoses].into(),
            self_pay,
            decision,
        }
    }

    #[test]
    fn self_pay_restriction_names_a_health_plan_and_cannot_be_refused() {
        // §2.26(a)(6) with 45 CFR 164.522(a)(1)(vi).
        assert_eq!(
            validate_restriction(true, Some(RecipientKind::Employer)),
            Err(RestrictionProblem::SelfPayNeedsHealthPlan)
        );
        assert_eq!(
            validate_restriction(true, None),
            Err(RestrictionProblem::SelfPayNeedsHealthPlan)
        );
        assert_eq!(
            validate_restriction(true, Some(RecipientKind::HealthPlan)),
            Ok(())
        );
        assert_eq!(validate_restriction(false, None), Ok(()));
        let pending = restriction(true, RestrictionDecision::Pending);
        assert_eq!(
            validate_decision(&pending, RestrictionDecision::Refused, "we bill everything"),
            Err(RestrictionProblem::SelfPayCannotBeRefused)
        );
        assert_eq!(
            validate_decision(&pending, RestrictionDecision::Agreed, ""),
            Ok(())
        );
        // It binds from the request, before anyone decides.
        assert!(pending.in_force());
    }

    #[test]
    fn an_ordinary_request_binds_only_once_agreed_and_a_refusal_gives_its_reason() {
        // §2.26(a)(1)-(4): the program need not agree; once it agrees it is bound.
        let pending = restriction(false, RestrictionDecision::Pending);
        assert!(!pending.in_force());
        assert_eq!(
            validate_decision(&pending, RestrictionDecision::Refused, "  "),
            Err(RestrictionProblem::RefusalNeedsReason)
        );
        assert_eq!(
            validate_decision(&pending, RestrictionDecision::Pending, ""),
            Err(RestrictionProblem::NoDecision)
        );
        assert_eq!(
            validate_decision(&pending, RestrictionDecision::Refused, "needed for care"),
            Ok(())
        );
        let agreed = restriction(false, RestrictionDecision::Agreed);
        assert!(agreed.in_force());
        assert_eq!(
            validate_decision(&agreed, RestrictionDecision::Refused, "changed mind"),
            Err(RestrictionProblem::AlreadyDecided)
        );
        assert!(!restriction(false, RestrictionDecision::Refused).in_force());
    }

    #[test]
    fn a_restriction_blocks_only_the_recipient_and_information_it_covers() {
        let agreed = restriction(false, RestrictionDecision::Agreed);
        let all = [agreed.clone()];
        let dx: BTreeSet<_> = [C::Diagnoses, C::Attendance].into();
        let attendance: BTreeSet<_> = [C::Attendance].into();
        assert_eq!(
            blocking_restriction(&all, 7, RecipientKind::HealthPlan, &dx),
            Some(&agreed)
        );
        assert_eq!(
            blocking_restriction(&all, 7, RecipientKind::HealthPlan, &attendance),
            None
        );
        assert_eq!(
            blocking_restriction(&all, 8, RecipientKind::HealthPlan, &dx),
            None
        );
        let employers = Restriction {
            recipient_id: None,
            recipient_kind: Some(RecipientKind::Employer),
            categories: BTreeSet::new(),
            self_pay: false,
            decision: RestrictionDecision::Agreed,
        };
        assert!(employers.covers(3, RecipientKind::Employer, &attendance));
        assert!(!employers.covers(3, RecipientKind::TreatingProvider, &attendance));
    }

    #[test]
    fn codes_round_trip() {
        for d in RestrictionDecision::ALL {
            assert_eq!(d.code().parse::<RestrictionDecision>(), Ok(*d));
        }
        for a in NoticeAcknowledgment::ALL {
            assert_eq!(a.code().parse::<NoticeAcknowledgment>(), Ok(*a));
        }
        assert!("maybe".parse::<RestrictionDecision>().is_err());
    }
}
