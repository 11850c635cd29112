//! The patient's rights under 42 CFR Part 2 (2024 rule): requests to restrict disclosures
//! (§2.26) and the patient notice (§2.22).
//!
//! A restriction the privacy officer agreed to, and a self-pay restriction to a health plan
//! (§2.26(a)(6), applying 45 CFR 164.522(a)(1)(vi): the program must agree when the patient paid
//! in full out of pocket), block the disclosures they cover. The consent check runs first; a
//! covered restriction then refuses what a consent alone would allow.

use chrono::NaiveDate;
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
    /// Its end, once recorded (45 CFR 164.522(a)(2), which §2.26 applies).
    #[serde(default)]
    pub lifted: Option<Lift>,
}

/// Who ended an agreed restriction (45 CFR 164.522(a)(2)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LiftGround {
    /// The patient asked for or agreed to the end, in writing or orally (documented here):
    /// it ends for all information (§164.522(a)(2)(i)–(ii)).
    PatientAgreed,
    /// The program ended it and told the patient: it still covers what was created or received
    /// before they were told (§164.522(a)(2)(iii)).
    ProgramTold,
}

code_list!(LiftGround, "lift ground", [
    PatientAgreed => "patient_agreed", "The patient asked for or agreed to the end";
    ProgramTold => "program_told", "The program ended it and told the patient";
]);

/// The end of a restriction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lift {
    /// Who ended it.
    pub ground: LiftGround,
    /// The day the patient asked or agreed, or was told.
    pub on: NaiveDate,
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
    /// Only a restriction that binds the program can be ended.
    #[error("only a restriction that binds the program (agreed, or self-pay) can be ended")]
    NotBinding,
    /// Ended once.
    #[error("this restriction was already ended")]
    AlreadyLifted,
    /// 45 CFR 164.522(a)(2)(iii)(A): the program alone cannot end a self-pay restriction.
    #[error("a self-pay restriction to a health plan cannot be ended by the program alone: only if the patient asks for or agrees to the end (45 CFR 164.522(a)(2)(iii)(A))")]
    SelfPayNotByProgram,
    /// The day the patient asked, agreed or was told is not in the future.
    #[error("cannot be in the future")]
    LiftInFuture,
    /// Nor before the patient asked for the restriction.
    #[error("cannot be before the request ({0})")]
    LiftBeforeRequest(NaiveDate),
    /// The program says why it ends a restriction.
    #[error("give the reason (it is what the patient was told)")]
    LiftNeedsReason,
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

/// Checks ending a restriction (§2.26 with 45 CFR 164.522(a)(2)) on `on`, the day the patient
/// asked for or agreed to the end or was told of it, as of `today`. The program may end one on
/// its own, telling the patient, but never a self-pay restriction to a health plan.
pub fn validate_lift(
    restriction: &Restriction,
    requested_on: NaiveDate,
    ground: LiftGround,
    on: NaiveDate,
    today: NaiveDate,
    reason: &str,
) -> Result<(), RestrictionProblem> {
    if restriction.lifted.is_some() {
        return Err(RestrictionProblem::AlreadyLifted);
    }
    if !restriction.binds() {
        return Err(RestrictionProblem::NotBinding);
    }
    if restriction.self_pay && ground == LiftGround::ProgramTold {
        return Err(RestrictionProblem::SelfPayNotByProgram);
    }
    if on > today {
        return Err(RestrictionProblem::LiftInFuture);
    }
    if on < requested_on {
        return Err(RestrictionProblem::LiftBeforeRequest(requested_on));
    }
    if ground == LiftGround::ProgramTold && reason.trim().is_empty() {
        return Err(RestrictionProblem::LiftNeedsReason);
    }
    Ok(())
}

impl Restriction {
    /// Whether it binds the program, ignoring any end: once agreed, and a self-pay restriction
    /// from the moment it is asked for, since it cannot be refused.
    fn binds(&self) -> bool {
        self.decision == RestrictionDecision::Agreed
            || (self.self_pay && self.decision == RestrictionDecision::Pending)
    }

    /// Whether it refuses the disclosures it covers now. Ended with the patient's agreement, it
    /// refuses nothing. Ended by the program alone, it still covers the information created or
    /// received before the patient was told (§164.522(a)(2)(iii)(B)); a packet carries the
    /// record as it stands, old and new together, so it keeps refusing what it covers.
    pub fn in_force(&self) -> bool {
        match &self.lifted {
            Some(Lift {
                ground: LiftGround::PatientAgreed,
                ..
            }) => false,
            _ => self.binds(),
        }
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
            lifted: None,
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
            lifted: None,
        };
        assert!(employers.covers(3, RecipientKind::Employer, &attendance));
        assert!(!employers.covers(3, RecipientKind::TreatingProvider, &attendance));
    }

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    #[test]
    fn the_program_may_end_a_restriction_telling_the_patient_but_not_a_self_pay_one() {
        // §2.26 with 45 CFR 164.522(a)(2).
        let agreed = restriction(false, RestrictionDecision::Agreed);
        let lift = |r: &Restriction, ground, on, reason| {
            validate_lift(r, day(2), ground, on, day(20), reason)
        };
        assert_eq!(
            lift(&agreed, LiftGround::ProgramTold, day(10), "  "),
            Err(RestrictionProblem::LiftNeedsReason)
        );
        assert_eq!(
            lift(
                &agreed,
                LiftGround::ProgramTold,
                day(21),
                "no longer workable"
            ),
            Err(RestrictionProblem::LiftInFuture)
        );
        assert_eq!(
            lift(
                &agreed,
                LiftGround::ProgramTold,
                day(1),
                "no longer workable"
            ),
            Err(RestrictionProblem::LiftBeforeRequest(day(2)))
        );
        assert_eq!(
            lift(
                &agreed,
                LiftGround::ProgramTold,
                day(10),
                "no longer workable"
            ),
            Ok(())
        );
        let self_pay = restriction(true, RestrictionDecision::Agreed);
        assert_eq!(
            lift(
                &self_pay,
                LiftGround::ProgramTold,
                day(10),
                "we bill everything"
            ),
            Err(RestrictionProblem::SelfPayNotByProgram)
        );
        assert_eq!(
            lift(&self_pay, LiftGround::PatientAgreed, day(10), ""),
            Ok(())
        );
        assert_eq!(
            lift(
                &restriction(false, RestrictionDecision::Pending),
                LiftGround::PatientAgreed,
                day(10),
                ""
            ),
            Err(RestrictionProblem::NotBinding)
        );
        let mut ended = agreed.clone();
        ended.lifted = Some(Lift {
            ground: LiftGround::PatientAgreed,
            on: day(10),
        });
        assert_eq!(
            lift(&ended, LiftGround::PatientAgreed, day(11), ""),
            Err(RestrictionProblem::AlreadyLifted)
        );
    }

    #[test]
    fn an_end_the_patient_agreed_to_frees_everything_one_the_program_made_alone_does_not() {
        let dx: BTreeSet<_> = [C::Diagnoses].into();
        let mut by_patient = restriction(false, RestrictionDecision::Agreed);
        by_patient.lifted = Some(Lift {
            ground: LiftGround::PatientAgreed,
            on: day(10),
        });
        assert!(!by_patient.in_force());
        assert_eq!(
            blocking_restriction([&by_patient], 7, RecipientKind::HealthPlan, &dx),
            None
        );
        // Ended by the program: what was created before the patient was told stays restricted,
        // and every packet carries it.
        let mut by_program = restriction(false, RestrictionDecision::Agreed);
        by_program.lifted = Some(Lift {
            ground: LiftGround::ProgramTold,
            on: day(10),
        });
        assert!(by_program.in_force());
        assert_eq!(
            blocking_restriction([&by_program], 7, RecipientKind::HealthPlan, &dx),
            Some(&by_program)
        );
    }

    #[test]
    fn codes_round_trip() {
        for g in LiftGround::ALL {
            assert_eq!(g.code().parse::<LiftGround>(), Ok(*g));
        }
        for d in RestrictionDecision::ALL {
            assert_eq!(d.code().parse::<RestrictionDecision>(), Ok(*d));
        }
        for a in NoticeAcknowledgment::ALL {
            assert_eq!(a.code().parse::<NoticeAcknowledgment>(), Ok(*a));
        }
        assert!("maybe".parse::<RestrictionDecision>().is_err());
    }
}
