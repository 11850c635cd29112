//! One-to-one appointments (therapy, family, psychiatry, case management, drug screens): their
//! kinds, which service they count as, and which booking conflicts refuse the booking.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::conflicts::{Conflict, ConflictKind};
use super::hours::ServiceType;
use crate::care::UnknownCode;

/// What an appointment is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppointmentKind {
    /// Individual therapy or counselling.
    IndividualTherapy,
    /// A family session.
    FamilySession,
    /// Psychiatric evaluation.
    PsychiatricEvaluation,
    /// Medication management follow-up.
    MedicationManagement,
    /// Case management.
    CaseManagement,
    /// Collecting a drug screen specimen.
    DrugScreen,
}

impl AppointmentKind {
    /// Every kind, in form order.
    pub const ALL: [AppointmentKind; 6] = [
        AppointmentKind::IndividualTherapy,
        AppointmentKind::FamilySession,
        AppointmentKind::PsychiatricEvaluation,
        AppointmentKind::MedicationManagement,
        AppointmentKind::CaseManagement,
        AppointmentKind::DrugScreen,
    ];

    /// The stored code.
    pub fn code(self) -> &'static str {
        match self {
            AppointmentKind::IndividualTherapy => "individual_therapy",
            AppointmentKind::FamilySession => "family_session",
            AppointmentKind::PsychiatricEvaluation => "psychiatric_evaluation",
            AppointmentKind::MedicationManagement => "medication_management",
            AppointmentKind::CaseManagement => "case_management",
            AppointmentKind::DrugScreen => "drug_screen",
        }
    }

    /// The label staff see (also the clinician's calendar summary: it names no diagnosis).
    pub fn label(self) -> &'static str {
        match self {
            AppointmentKind::IndividualTherapy => "Individual therapy",
            AppointmentKind::FamilySession => "Family session",
            AppointmentKind::PsychiatricEvaluation => "Psychiatric evaluation",
            AppointmentKind::MedicationManagement => "Medication management",
            AppointmentKind::CaseManagement => "Case management",
            AppointmentKind::DrugScreen => "Drug screen collection",
        }
    }

    /// The service the attended minutes count as toward weekly hours. A drug screen collection
    /// counts as none: the core IOP services behind the weekly minimum are counselling, group,
    /// family and case management (SAMHSA 2021 Advisory), and a specimen collection is none.
    pub fn service_type(self) -> Option<ServiceType> {
        match self {
            AppointmentKind::IndividualTherapy => Some(ServiceType::Individual),
            AppointmentKind::FamilySession => Some(ServiceType::Family),
            AppointmentKind::PsychiatricEvaluation | AppointmentKind::MedicationManagement => {
                Some(ServiceType::Psychiatry)
            }
            AppointmentKind::CaseManagement => Some(ServiceType::CaseManagement),
            AppointmentKind::DrugScreen => None,
        }
    }
}

impl FromStr for AppointmentKind {
    type Err = UnknownCode;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AppointmentKind::ALL
            .into_iter()
            .find(|x| x.code() == s.trim())
            .ok_or_else(|| UnknownCode {
                kind: "appointment kind",
                code: s.to_owned(),
            })
    }
}

/// Whether a conflict refuses the booking unless staff override it with a reason: the patient,
/// the clinician or the room double-booked. Availability clashes only warn: a patient may choose
/// to leave work early for a session.
pub fn refuses_booking(conflict: &Conflict) -> bool {
    matches!(
        conflict.kind,
        ConflictKind::PatientDoubleBooked { .. }
            | ConflictKind::ClinicianDoubleBooked { .. }
            | ConflictKind::RoomOverCapacity { .. }
            | ConflictKind::UnknownRoom { .. }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_and_map_to_services() {
        for kind in AppointmentKind::ALL {
            assert_eq!(kind.code().parse::<AppointmentKind>(), Ok(kind));
        }
        assert!("therapy".parse::<AppointmentKind>().is_err());
        assert_eq!(
            AppointmentKind::MedicationManagement.service_type(),
            Some(ServiceType::Psychiatry)
        );
        assert_eq!(AppointmentKind::DrugScreen.service_type(), None);
    }

    #[test]
    fn double_bookings_refuse_and_availability_warns() {
        let conflict = |kind| Conflict {
            kind,
            reason: String::new(),
        };
        assert!(refuses_booking(&conflict(
            ConflictKind::PatientDoubleBooked { with: "a-1".into() }
        )));
        assert!(refuses_booking(&conflict(ConflictKind::RoomOverCapacity {
            room_id: "r".into(),
            capacity: 2,
            peak: 3
        })));
        assert!(!refuses_booking(&conflict(
            ConflictKind::OutsidePatientAvailability
        )));
        assert!(!refuses_booking(&conflict(
            ConflictKind::OverlapsPatientObligation {
                label: "Work".into()
            }
        )));
    }
}
