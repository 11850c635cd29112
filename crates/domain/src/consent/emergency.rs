//! The record a disclosure without consent in a medical emergency needs (42 CFR 2.51).
//!
//! §2.51 requires the program to write down, immediately, four facts in the patient's record.
//! Trellis makes them a required form and refuses the record until all four are there.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Which §2.51 ground the disclosure rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmergencyGround {
    /// A bona fide medical emergency in which prior written consent cannot be obtained.
    MedicalEmergency,
    /// A bona fide emergency while the program is closed during a declared state of emergency.
    DeclaredDisaster,
    /// Information to FDA medical personnel about a product error.
    FdaProductError,
}

/// The documentation of one emergency disclosure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmergencyDisclosure {
    /// The §2.51 ground.
    pub ground: EmergencyGround,
    /// Fact 1: the recipient's name.
    pub recipient_name: String,
    /// Fact 1: the medical facility the recipient is affiliated with.
    pub recipient_facility: String,
    /// Fact 2: who made the disclosure.
    pub disclosed_by: String,
    /// Fact 3: date and time of the disclosure.
    pub disclosed_at: Option<DateTime<Utc>>,
    /// Fact 4: the nature of the emergency (or of the error, for FDA).
    pub nature: String,
}

/// A §2.51 fact that is missing or blank.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EmergencyRecordError {
    /// Fact 1, name.
    #[error("the recipient's name is required")]
    RecipientName,
    /// Fact 1, facility.
    #[error("the recipient's medical facility is required")]
    RecipientFacility,
    /// Fact 2.
    #[error("the name of the person who made the disclosure is required")]
    DisclosedBy,
    /// Fact 3.
    #[error("the date and time of the disclosure are required")]
    DateTime,
    /// Fact 4.
    #[error("the nature of the emergency (or of the product error) is required")]
    Nature,
}

/// Checks that all four §2.51 facts are present and non-blank, listing each gap.
pub fn validate_emergency_disclosure(
    record: &EmergencyDisclosure,
) -> Result<(), Vec<EmergencyRecordError>> {
    let blank = |s: &str| s.trim().is_empty();
    let checks = [
        (
            blank(&record.recipient_name),
            EmergencyRecordError::RecipientName,
        ),
        (
            blank(&record.recipient_facility),
            EmergencyRecordError::RecipientFacility,
        ),
        (
            blank(&record.disclosed_by),
            EmergencyRecordError::DisclosedBy,
        ),
        (
            record.disclosed_at.is_none(),
            EmergencyRecordError::DateTime,
        ),
        (blank(&record.nature), EmergencyRecordError::Nature),
    ];
    let errors: Vec<EmergencyRecordError> = checks
        .into_iter()
        .filter_map(|(missing, error)| missing.then_some(error))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn complete() -> EmergencyDisclosure {
        EmergencyDisclosure {
            ground: EmergencyGround::MedicalEmergency,
            recipient_name: "Dr Priya Shah".into(),
            recipient_facility: "St. Mary's Emergency Department".into(),
            disclosed_by: "Nurse Tom Baker".into(),
            disclosed_at: Some(Utc.with_ymd_and_hms(2025, 3, 15, 22, 40, 0).unwrap()),
            nature: "Unresponsive after suspected overdose; current medications requested".into(),
        }
    }

    #[test]
    fn a_complete_record_is_accepted() {
        assert_eq!(validate_emergency_disclosure(&complete()), Ok(()));
    }

    #[test]
    fn each_missing_fact_is_reported() {
        type Breaker = fn(&mut EmergencyDisclosure);
        let cases: [(Breaker, EmergencyRecordError); 5] = [
            (
                |r| r.recipient_name.clear(),
                EmergencyRecordError::RecipientName,
            ),
            (
                |r| r.recipient_facility = "  ".into(),
                EmergencyRecordError::RecipientFacility,
            ),
            (
                |r| r.disclosed_by.clear(),
                EmergencyRecordError::DisclosedBy,
            ),
            (|r| r.disclosed_at = None, EmergencyRecordError::DateTime),
            (|r| r.nature = "\t".into(), EmergencyRecordError::Nature),
        ];
        for (break_it, expected) in cases {
            let mut record = complete();
            break_it(&mut record);
            assert_eq!(validate_emergency_disclosure(&record), Err(vec![expected]));
        }
        let empty = EmergencyDisclosure {
            ground: EmergencyGround::FdaProductError,
            recipient_name: String::new(),
            recipient_facility: String::new(),
            disclosed_by: String::new(),
            disclosed_at: None,
            nature: String::new(),
        };
        assert_eq!(
            validate_emergency_disclosure(&empty).map_err(|e| e.len()),
            Err(5)
        );
    }
}
