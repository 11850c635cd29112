//! The recipient directory's classes: what kind of person or organisation a disclosure goes to,
//! as the privacy officer recorded it, and which of them a TPO consent may ever reach.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use super::model::{code_list, RecipientClass};
use crate::care::UnknownCode;

/// The class of a recipient in the directory. Set by the privacy officer, never by the person
/// making a disclosure, because it decides whether a treatment, payment and operations consent
/// can reach the recipient at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecipientKind {
    /// A provider treating the patient (physician, hospital, another program).
    TreatingProvider,
    /// A health plan or other third-party payer.
    HealthPlan,
    /// A contractor helping to operate the program under a qualified service organisation or
    /// business associate agreement.
    ProgramOperations,
    /// Police, probation or parole.
    LawEnforcement,
    /// A court, drug court or court staff.
    Court,
    /// An employer, supervisor or employee assistance program.
    Employer,
    /// A family member, partner or friend.
    FamilyMember,
    /// Anyone else (attorney, school, housing agency); reached only by a consent naming them.
    Other,
}

code_list!(RecipientKind, "recipient class", [
    TreatingProvider => "treating_provider", "Treating provider";
    HealthPlan => "health_plan", "Health plan or third-party payer";
    ProgramOperations => "program_operations", "Program operations contractor (QSO or business associate)";
    LawEnforcement => "law_enforcement", "Law enforcement, probation or parole";
    Court => "court", "Court";
    Employer => "employer", "Employer";
    FamilyMember => "family_member", "Family member or friend";
    Other => "other", "Other";
]);

impl RecipientKind {
    /// The TPO class this recipient belongs to, if any: what a consent naming a class (or the
    /// generic TPO description) must name to cover it.
    pub fn tpo_class(self) -> Option<RecipientClass> {
        match self {
            RecipientKind::TreatingProvider => Some(RecipientClass::TreatingProviders),
            RecipientKind::HealthPlan => Some(RecipientClass::HealthPlans),
            RecipientKind::ProgramOperations => Some(RecipientClass::ProgramOperations),
            _ => None,
        }
    }

    /// Whether a treatment, payment and operations consent may never reach this recipient,
    /// even one naming them: disclosures to law enforcement, courts, employers and family need
    /// the patient's specific written consent for that purpose.
    pub fn beyond_tpo(self) -> bool {
        matches!(
            self,
            RecipientKind::LawEnforcement
                | RecipientKind::Court
                | RecipientKind::Employer
                | RecipientKind::FamilyMember
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_unknown_codes_are_refused() {
        for kind in RecipientKind::ALL {
            assert_eq!(kind.code().parse::<RecipientKind>(), Ok(*kind));
        }
        assert!("probation".parse::<RecipientKind>().is_err());
    }

    #[test]
    fn only_providers_payers_and_operations_are_tpo_classes() {
        let tpo: Vec<RecipientKind> = RecipientKind::ALL
            .iter()
            .copied()
            .filter(|k| k.tpo_class().is_some())
            .collect();
        assert_eq!(
            tpo,
            [
                RecipientKind::TreatingProvider,
                RecipientKind::HealthPlan,
                RecipientKind::ProgramOperations
            ]
        );
        for kind in RecipientKind::ALL {
            assert!(!(kind.beyond_tpo() && kind.tpo_class().is_some()), "{kind}");
        }
    }
}
