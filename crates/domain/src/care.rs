//! Levels of care (ASAM 3rd edition numbering), episode states and TEDS discharge reasons.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// An ASAM level of care (3rd edition numbering, still used by most payers and states).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum LevelOfCare {
    /// 0.5 Early intervention.
    EarlyIntervention,
    /// 1 Outpatient services (< 9 h/week adults, < 6 h/week adolescents).
    Outpatient,
    /// 1-OTP Opioid treatment program.
    OpioidTreatmentProgram,
    /// 2.1 Intensive outpatient (≥ 9 h/week adults, ≥ 6 adolescents, < 20).
    IntensiveOutpatient,
    /// 2.5 Partial hospitalization (≥ 20 h/week).
    PartialHospitalization,
    /// 3.1 Clinically managed low-intensity residential.
    ResidentialLowIntensity,
    /// 3.3 Clinically managed population-specific high-intensity residential.
    ResidentialPopulationSpecific,
    /// 3.5 Clinically managed high-intensity residential.
    ResidentialHighIntensity,
    /// 3.7 Medically monitored intensive inpatient.
    MedicallyMonitoredInpatient,
    /// 4 Medically managed intensive inpatient.
    MedicallyManagedInpatient,
}

impl LevelOfCare {
    /// Every level, from least to most intensive.
    pub const ALL: [LevelOfCare; 10] = [
        LevelOfCare::EarlyIntervention,
        LevelOfCare::Outpatient,
        LevelOfCare::OpioidTreatmentProgram,
        LevelOfCare::IntensiveOutpatient,
        LevelOfCare::PartialHospitalization,
        LevelOfCare::ResidentialLowIntensity,
        LevelOfCare::ResidentialPopulationSpecific,
        LevelOfCare::ResidentialHighIntensity,
        LevelOfCare::MedicallyMonitoredInpatient,
        LevelOfCare::MedicallyManagedInpatient,
    ];

    /// The ASAM code as written on forms and claims ("2.1").
    pub fn code(self) -> &'static str {
        match self {
            LevelOfCare::EarlyIntervention => "0.5",
            LevelOfCare::Outpatient => "1",
            LevelOfCare::OpioidTreatmentProgram => "1-OTP",
            LevelOfCare::IntensiveOutpatient => "2.1",
            LevelOfCare::PartialHospitalization => "2.5",
            LevelOfCare::ResidentialLowIntensity => "3.1",
            LevelOfCare::ResidentialPopulationSpecific => "3.3",
            LevelOfCare::ResidentialHighIntensity => "3.5",
            LevelOfCare::MedicallyMonitoredInpatient => "3.7",
            LevelOfCare::MedicallyManagedInpatient => "4",
        }
    }

    /// The level's name in the clinic's words.
    pub fn name(self) -> &'static str {
        match self {
            LevelOfCare::EarlyIntervention => "Early intervention",
            LevelOfCare::Outpatient => "Outpatient",
            LevelOfCare::OpioidTreatmentProgram => "Opioid treatment program",
            LevelOfCare::IntensiveOutpatient => "Intensive outpatient (IOP)",
            LevelOfCare::PartialHospitalization => "Partial hospitalization (PHP)",
            LevelOfCare::ResidentialLowIntensity => "Clinically managed low-intensity residential",
            LevelOfCare::ResidentialPopulationSpecific => {
                "Clinically managed population-specific high-intensity residential"
            }
            LevelOfCare::ResidentialHighIntensity => {
                "Clinically managed high-intensity residential"
            }
            LevelOfCare::MedicallyMonitoredInpatient => "Medically monitored intensive inpatient",
            LevelOfCare::MedicallyManagedInpatient => "Medically managed intensive inpatient",
        }
    }

    /// Relative intensity used to tell a step up from a step down (OTP ranks with outpatient).
    pub fn intensity(self) -> u8 {
        match self {
            LevelOfCare::EarlyIntervention => 0,
            LevelOfCare::Outpatient | LevelOfCare::OpioidTreatmentProgram => 1,
            LevelOfCare::IntensiveOutpatient => 2,
            LevelOfCare::PartialHospitalization => 3,
            LevelOfCare::ResidentialLowIntensity => 4,
            LevelOfCare::ResidentialPopulationSpecific => 5,
            LevelOfCare::ResidentialHighIntensity => 6,
            LevelOfCare::MedicallyMonitoredInpatient => 7,
            LevelOfCare::MedicallyManagedInpatient => 8,
        }
    }

    /// Whether the level is delivered while the patient lives at home (non-residential).
    pub fn is_ambulatory(self) -> bool {
        self.intensity() <= 3
    }
}

impl fmt::Display for LevelOfCare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code(), self.name())
    }
}

/// A value that is not one of the known codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} code {code:?}")]
pub struct UnknownCode {
    /// What kind of code was expected ("level of care").
    pub kind: &'static str,
    /// The rejected input.
    pub code: String,
}

impl FromStr for LevelOfCare {
    type Err = UnknownCode;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        LevelOfCare::ALL
            .into_iter()
            .find(|l| l.code().eq_ignore_ascii_case(s) || (s == "1.0" && l.code() == "1"))
            .ok_or_else(|| UnknownCode {
                kind: "level of care",
                code: s.to_owned(),
            })
    }
}

/// Where an episode of care stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EpisodeStatus {
    /// Admission scheduled, not yet started.
    Pending,
    /// In treatment.
    Active,
    /// Ended, with a discharge reason.
    Discharged,
}

impl EpisodeStatus {
    /// The stored code.
    pub fn code(self) -> &'static str {
        match self {
            EpisodeStatus::Pending => "pending",
            EpisodeStatus::Active => "active",
            EpisodeStatus::Discharged => "discharged",
        }
    }

    /// The label staff see.
    pub fn label(self) -> &'static str {
        match self {
            EpisodeStatus::Pending => "Admission pending",
            EpisodeStatus::Active => "Active",
            EpisodeStatus::Discharged => "Discharged",
        }
    }
}

impl FromStr for EpisodeStatus {
    type Err = UnknownCode;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pending" => Ok(EpisodeStatus::Pending),
            "active" => Ok(EpisodeStatus::Active),
            "discharged" => Ok(EpisodeStatus::Discharged),
            other => Err(UnknownCode {
                kind: "episode status",
                code: other.to_owned(),
            }),
        }
    }
}

/// Why an episode ended, as the TEDS discharge REASON codes 1–7.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DischargeReason {
    /// 1 Treatment completed.
    TreatmentCompleted,
    /// 2 Dropped out of treatment (left against professional advice).
    DroppedOut,
    /// 3 Terminated by facility.
    TerminatedByFacility,
    /// 4 Transferred to another treatment program or facility.
    Transferred,
    /// 5 Incarcerated.
    Incarcerated,
    /// 6 Death.
    Death,
    /// 7 Other.
    Other,
}

impl DischargeReason {
    /// Every reason in TEDS code order.
    pub const ALL: [DischargeReason; 7] = [
        DischargeReason::TreatmentCompleted,
        DischargeReason::DroppedOut,
        DischargeReason::TerminatedByFacility,
        DischargeReason::Transferred,
        DischargeReason::Incarcerated,
        DischargeReason::Death,
        DischargeReason::Other,
    ];

    /// The TEDS REASON code (1–7).
    pub fn teds_code(self) -> u8 {
        match self {
            DischargeReason::TreatmentCompleted => 1,
            DischargeReason::DroppedOut => 2,
            DischargeReason::TerminatedByFacility => 3,
            DischargeReason::Transferred => 4,
            DischargeReason::Incarcerated => 5,
            DischargeReason::Death => 6,
            DischargeReason::Other => 7,
        }
    }

    /// The label staff see.
    pub fn label(self) -> &'static str {
        match self {
            DischargeReason::TreatmentCompleted => "Treatment completed",
            DischargeReason::DroppedOut => "Dropped out (left against professional advice)",
            DischargeReason::TerminatedByFacility => "Terminated by facility",
            DischargeReason::Transferred => "Transferred to another program or facility",
            DischargeReason::Incarcerated => "Incarcerated",
            DischargeReason::Death => "Death",
            DischargeReason::Other => "Other",
        }
    }

    /// Looks a reason up by its TEDS code.
    pub fn from_teds_code(code: i64) -> Result<Self, UnknownCode> {
        DischargeReason::ALL
            .into_iter()
            .find(|r| i64::from(r.teds_code()) == code)
            .ok_or_else(|| UnknownCode {
                kind: "TEDS discharge reason",
                code: code.to_string(),
            })
    }

    /// SAMHSA reports often count completed and transferred together as positive endings.
    pub fn is_positive_ending(self) -> bool {
        matches!(
            self,
            DischargeReason::TreatmentCompleted | DischargeReason::Transferred
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_round_trip_through_their_codes() {
        for level in LevelOfCare::ALL {
            assert_eq!(level.code().parse::<LevelOfCare>(), Ok(level));
        }
        assert_eq!("1.0".parse(), Ok(LevelOfCare::Outpatient));
        assert!("2.2".parse::<LevelOfCare>().is_err());
    }

    #[test]
    fn iop_sits_between_outpatient_and_php() {
        let iop = LevelOfCare::IntensiveOutpatient;
        assert!(LevelOfCare::Outpatient.intensity() < iop.intensity());
        assert!(iop.intensity() < LevelOfCare::PartialHospitalization.intensity());
        assert!(LevelOfCare::PartialHospitalization.is_ambulatory());
        assert!(!LevelOfCare::ResidentialLowIntensity.is_ambulatory());
    }

    #[test]
    fn teds_reasons_are_codes_one_to_seven() {
        let codes: Vec<u8> = DischargeReason::ALL.iter().map(|r| r.teds_code()).collect();
        assert_eq!(codes, vec![1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(
            DischargeReason::from_teds_code(4),
            Ok(DischargeReason::Transferred)
        );
        assert!(DischargeReason::from_teds_code(0).is_err());
        assert!(DischargeReason::from_teds_code(8).is_err());
        assert!(DischargeReason::Transferred.is_positive_ending());
        assert!(!DischargeReason::DroppedOut.is_positive_ending());
    }
}
