//! Recording the actual placement against the recommendation, with discrepancy reasons.
//!
//! The reason list follows one county's ASAM level-of-care form (REFERENCE §2.4); states vary,
//! but every list seen has these entries. A discrepancy is a clinical override: Trellis asks why,
//! it never blocks the clinician's choice.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use crate::care::{LevelOfCare, UnknownCode};

/// Why the actual level differs from the recommended one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiscrepancyReason {
    /// Actual equals recommended.
    NotApplicable,
    /// The recommended service is not available.
    ServiceNotAvailable,
    /// The provider judged another level more appropriate.
    ProviderJudgement,
    /// The patient preferred another level.
    PatientPreference,
    /// Transportation barriers.
    Transportation,
    /// Accessibility barriers.
    Accessibility,
    /// Financial barriers.
    Financial,
    /// The patient preferred to wait for the recommended level.
    PreferredToWait,
    /// Language or cultural factors.
    LanguageCultural,
    /// The living environment.
    Environment,
    /// Mental health needs.
    MentalHealth,
    /// Physical health needs.
    PhysicalHealth,
    /// Court or probation ordered.
    CourtOrdered,
    /// Other; the decision must carry explanatory text.
    Other,
}

impl DiscrepancyReason {
    /// Every reason in form order.
    pub const ALL: [DiscrepancyReason; 14] = [
        DiscrepancyReason::NotApplicable,
        DiscrepancyReason::ServiceNotAvailable,
        DiscrepancyReason::ProviderJudgement,
        DiscrepancyReason::PatientPreference,
        DiscrepancyReason::Transportation,
        DiscrepancyReason::Accessibility,
        DiscrepancyReason::Financial,
        DiscrepancyReason::PreferredToWait,
        DiscrepancyReason::LanguageCultural,
        DiscrepancyReason::Environment,
        DiscrepancyReason::MentalHealth,
        DiscrepancyReason::PhysicalHealth,
        DiscrepancyReason::CourtOrdered,
        DiscrepancyReason::Other,
    ];

    /// The stored code.
    pub fn code(self) -> &'static str {
        match self {
            DiscrepancyReason::NotApplicable => "not_applicable",
            DiscrepancyReason::ServiceNotAvailable => "service_not_available",
            DiscrepancyReason::ProviderJudgement => "provider_judgement",
            DiscrepancyReason::PatientPreference => "patient_preference",
            DiscrepancyReason::Transportation => "transportation",
            DiscrepancyReason::Accessibility => "accessibility",
            DiscrepancyReason::Financial => "financial",
            DiscrepancyReason::PreferredToWait => "preferred_to_wait",
            DiscrepancyReason::LanguageCultural => "language_cultural",
            DiscrepancyReason::Environment => "environment",
            DiscrepancyReason::MentalHealth => "mental_health",
            DiscrepancyReason::PhysicalHealth => "physical_health",
            DiscrepancyReason::CourtOrdered => "court_ordered",
            DiscrepancyReason::Other => "other",
        }
    }

    /// The label staff see.
    pub fn label(self) -> &'static str {
        match self {
            DiscrepancyReason::NotApplicable => "Not applicable",
            DiscrepancyReason::ServiceNotAvailable => "Service not available",
            DiscrepancyReason::ProviderJudgement => "Provider judgment",
            DiscrepancyReason::PatientPreference => "Patient preference",
            DiscrepancyReason::Transportation => "Transportation",
            DiscrepancyReason::Accessibility => "Accessibility",
            DiscrepancyReason::Financial => "Financial",
            DiscrepancyReason::PreferredToWait => "Preferred to wait",
            DiscrepancyReason::LanguageCultural => "Language or cultural factors",
            DiscrepancyReason::Environment => "Environment",
            DiscrepancyReason::MentalHealth => "Mental health",
            DiscrepancyReason::PhysicalHealth => "Physical health",
            DiscrepancyReason::CourtOrdered => "Court or probation ordered",
            DiscrepancyReason::Other => "Other",
        }
    }
}

impl fmt::Display for DiscrepancyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl FromStr for DiscrepancyReason {
    type Err = UnknownCode;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        DiscrepancyReason::ALL
            .into_iter()
            .find(|r| r.code().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownCode {
                kind: "placement discrepancy reason",
                code: s.to_owned(),
            })
    }
}

/// The placement a clinician records after seeing the recommendation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlacementDecision {
    /// What the rules recommended.
    pub recommended: LevelOfCare,
    /// The level the patient is actually placed in; required.
    pub actual: Option<LevelOfCare>,
    /// Why they differ (empty or "not applicable" when they do not).
    pub reasons: Vec<DiscrepancyReason>,
    /// Text for the "other" reason.
    pub other_text: String,
    /// Free-text explanation of the discrepancy (optional).
    pub explanation: String,
}

/// What is wrong with a recorded placement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlacementDecisionError {
    /// No actual level was chosen.
    #[error("the actual level of care is required")]
    ActualLevelMissing,
    /// Levels differ but no reason was given.
    #[error("the actual level ({actual}) differs from the recommended level ({recommended}): give at least one reason for the discrepancy")]
    DiscrepancyReasonRequired {
        /// The recommended level.
        recommended: LevelOfCare,
        /// The level chosen.
        actual: LevelOfCare,
    },
    /// Levels differ yet "not applicable" was ticked.
    #[error(
        "\"Not applicable\" cannot be chosen when the actual level differs from the recommendation"
    )]
    NotApplicableWithDiscrepancy,
    /// Levels agree yet discrepancy reasons were given.
    #[error("the actual level matches the recommendation, so no discrepancy reason applies (remove: {})", list(.0))]
    ReasonsWithoutDiscrepancy(Vec<DiscrepancyReason>),
    /// "Other" was chosen without text.
    #[error("describe the \"Other\" reason")]
    OtherTextRequired,
}

fn list(reasons: &[DiscrepancyReason]) -> String {
    reasons
        .iter()
        .map(|r| r.label())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Checks a recorded placement, returning every problem at once.
pub fn validate_placement_decision(
    decision: &PlacementDecision,
) -> Result<(), Vec<PlacementDecisionError>> {
    let mut errors = Vec::new();
    let substantive: Vec<DiscrepancyReason> = decision
        .reasons
        .iter()
        .copied()
        .filter(|r| *r != DiscrepancyReason::NotApplicable)
        .collect();
    match decision.actual {
        None => errors.push(PlacementDecisionError::ActualLevelMissing),
        Some(actual) if actual == decision.recommended => {
            if !substantive.is_empty() {
                errors.push(PlacementDecisionError::ReasonsWithoutDiscrepancy(
                    substantive.clone(),
                ));
            }
        }
        Some(actual) => {
            if decision.reasons.contains(&DiscrepancyReason::NotApplicable) {
                errors.push(PlacementDecisionError::NotApplicableWithDiscrepancy);
            }
            if substantive.is_empty() {
                errors.push(PlacementDecisionError::DiscrepancyReasonRequired {
                    recommended: decision.recommended,
                    actual,
                });
            }
        }
    }
    // Checked whatever the levels, so a half-filled "other" is never stored silently.
    if substantive.contains(&DiscrepancyReason::Other) && decision.other_text.trim().is_empty() {
        errors.push(PlacementDecisionError::OtherTextRequired);
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use LevelOfCare::{IntensiveOutpatient as Iop, PartialHospitalization as Php};

    fn decision(
        actual: Option<LevelOfCare>,
        reasons: &[DiscrepancyReason],
        other_text: &str,
    ) -> PlacementDecision {
        PlacementDecision {
            recommended: Php,
            actual,
            reasons: reasons.to_vec(),
            other_text: other_text.to_owned(),
            explanation: String::new(),
        }
    }

    #[test]
    fn reasons_round_trip_through_codes() {
        for reason in DiscrepancyReason::ALL {
            assert_eq!(reason.code().parse(), Ok(reason));
        }
        assert_eq!(
            " Court_Ordered ".parse(),
            Ok(DiscrepancyReason::CourtOrdered)
        );
        let err = "bored".parse::<DiscrepancyReason>().unwrap_err();
        assert_eq!(err.code, "bored");
        assert_eq!(
            DiscrepancyReason::ProviderJudgement.label(),
            "Provider judgment"
        );
    }

    #[test]
    fn matching_levels_need_no_reason() {
        assert_eq!(
            validate_placement_decision(&decision(Some(Php), &[], "")),
            Ok(())
        );
        assert_eq!(
            validate_placement_decision(&decision(
                Some(Php),
                &[DiscrepancyReason::NotApplicable],
                ""
            )),
            Ok(())
        );
        assert_eq!(
            validate_placement_decision(&decision(Some(Php), &[DiscrepancyReason::Financial], "")),
            Err(vec![PlacementDecisionError::ReasonsWithoutDiscrepancy(
                vec![DiscrepancyReason::Financial]
            )])
        );
    }

    #[test]
    fn a_discrepancy_needs_a_reason() {
        assert_eq!(
            validate_placement_decision(&decision(Some(Iop), &[], "")),
            Err(vec![PlacementDecisionError::DiscrepancyReasonRequired {
                recommended: Php,
                actual: Iop
            }])
        );
        assert_eq!(
            validate_placement_decision(&decision(
                Some(Iop),
                &[DiscrepancyReason::NotApplicable],
                ""
            )),
            Err(vec![
                PlacementDecisionError::NotApplicableWithDiscrepancy,
                PlacementDecisionError::DiscrepancyReasonRequired {
                    recommended: Php,
                    actual: Iop
                }
            ])
        );
        assert_eq!(
            validate_placement_decision(&decision(
                Some(Iop),
                &[
                    DiscrepancyReason::Transportation,
                    DiscrepancyReason::PatientPreference
                ],
                ""
            )),
            Ok(())
        );
    }

    #[test]
    fn other_needs_text() {
        assert_eq!(
            validate_placement_decision(&decision(Some(Iop), &[DiscrepancyReason::Other], "  ")),
            Err(vec![PlacementDecisionError::OtherTextRequired])
        );
        assert_eq!(
            validate_placement_decision(&decision(
                Some(Iop),
                &[DiscrepancyReason::Other],
                "Childcare only available in the evening"
            )),
            Ok(())
        );
    }

    #[test]
    fn actual_level_is_required() {
        assert_eq!(
            validate_placement_decision(&decision(None, &[], "")),
            Err(vec![PlacementDecisionError::ActualLevelMissing])
        );
        let message = PlacementDecisionError::DiscrepancyReasonRequired {
            recommended: Php,
            actual: Iop,
        }
        .to_string();
        assert!(message.contains("2.1 Intensive outpatient (IOP)"));
        assert!(message.contains("2.5 Partial hospitalization"));
    }
}
