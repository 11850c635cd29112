//! Schemas of the code fields, built from the same lists the handlers parse with, so the
//! document offers exactly the codes the server accepts.

use trellis_domain::access::Role;
use trellis_domain::care::LevelOfCare;
use trellis_domain::consent::collateral::CollateralRelationship;
use trellis_domain::consent::emergency::EmergencyGround;
use trellis_domain::consent::model::InformationCategory;
use trellis_domain::consent::signer::SignerAuthority;
use trellis_domain::measures::Instrument;
use trellis_domain::patient::Sex;
use trellis_domain::placement::DiscrepancyReason;
use trellis_domain::schedule::appointments::AppointmentKind;
use trellis_domain::schedule::attendance::AttendanceStatus;
use trellis_storage::discharge::AftercareKind;
use trellis_storage::medications::{Adherence, SideEffectSeverity};
use trellis_storage::notes::{NoteKind, NoteTemplate};
use trellis_storage::staff::ApprovalKind;
use utoipa::openapi::schema::{Array, ArrayBuilder, Object, ObjectBuilder, Type};

fn one_of(codes: impl IntoIterator<Item = &'static str>) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(codes))
        .build()
}

/// Sex codes.
pub fn sex() -> Object {
    one_of(Sex::ALL.map(Sex::code))
}

/// What a second person approves (role approvals).
pub fn approval_kind() -> Object {
    one_of(ApprovalKind::ALL.map(ApprovalKind::code))
}

/// Role codes.
pub fn role() -> Object {
    one_of(Role::ALL.map(Role::code))
}

/// A list of role codes.
pub fn roles() -> Array {
    ArrayBuilder::new().items(role()).build()
}

/// ASAM levels of care.
pub fn level_of_care() -> Object {
    one_of(LevelOfCare::ALL.map(LevelOfCare::code))
}

/// The ambulatory levels of care, the ones an episode here can be at.
pub fn ambulatory_level() -> Object {
    one_of(
        LevelOfCare::ALL
            .into_iter()
            .filter(|l| l.is_ambulatory())
            .map(LevelOfCare::code),
    )
}

/// A list of Part 2 information categories.
pub fn information_categories() -> Array {
    ArrayBuilder::new()
        .items(one_of(InformationCategory::ALL.iter().map(|c| c.code())))
        .build()
}

/// A list of placement discrepancy reasons.
pub fn discrepancy_reasons() -> Array {
    ArrayBuilder::new()
        .items(one_of(DiscrepancyReason::ALL.map(DiscrepancyReason::code)))
        .build()
}

/// Appointment kinds.
pub fn appointment_kind() -> Object {
    one_of(AppointmentKind::ALL.map(AppointmentKind::code))
}

/// The kinds of note written one at a time (group notes have their own operation).
pub const NOTE_KINDS: [NoteKind; 2] = [NoteKind::Individual, NoteKind::Family];

/// Note kinds.
pub fn note_kind() -> Object {
    one_of(NOTE_KINDS.map(NoteKind::code))
}

/// Note templates.
pub const NOTE_TEMPLATES: [NoteTemplate; 2] = [NoteTemplate::Dap, NoteTemplate::Birp];

/// Note templates.
pub fn note_template() -> Object {
    one_of(NOTE_TEMPLATES.map(NoteTemplate::code))
}

/// Collateral relationships.
pub fn relationship() -> Object {
    one_of(CollateralRelationship::ALL.iter().map(|r| r.code()))
}

/// Who may sign a consent (42 CFR 2.14, 2.15).
pub fn signer_authority() -> Object {
    one_of(SignerAuthority::ALL.iter().map(|a| a.code()))
}

/// The §2.51 grounds, with their codes.
pub const GROUNDS: [(EmergencyGround, &str); 3] = [
    (EmergencyGround::MedicalEmergency, "medical_emergency"),
    (EmergencyGround::DeclaredDisaster, "declared_disaster"),
    (EmergencyGround::FdaProductError, "fda_product_error"),
];

/// Emergency grounds.
pub fn ground() -> Object {
    one_of(GROUNDS.map(|(_, code)| code))
}

/// Aftercare kinds staff may add (the crisis line is on every plan already).
pub fn aftercare_kind() -> Object {
    one_of(
        AftercareKind::ALL
            .iter()
            .filter(|k| **k != AftercareKind::CrisisLine)
            .map(|k| k.code()),
    )
}

/// Attendance marks.
pub fn attendance_status() -> Object {
    one_of(AttendanceStatus::ALL.map(AttendanceStatus::code))
}

/// A confirmation that must be given: `true` is the only value accepted.
pub fn confirmed() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Boolean)
        .enum_values(Some([true]))
        .build()
}

/// Medication adherence codes.
pub fn adherence() -> Object {
    one_of(Adherence::ALL.iter().map(|a| a.code()))
}

/// Side-effect severities.
pub fn side_effect_severity() -> Object {
    one_of(SideEffectSeverity::ALL.iter().map(|s| s.code()))
}

/// Measure instruments.
pub fn instrument() -> Object {
    one_of(Instrument::ALL.map(Instrument::code))
}

/// A patient portal account's state.
pub fn portal_account_state() -> Object {
    one_of(
        trellis_domain::portal::AccountState::ALL.map(trellis_domain::portal::AccountState::code),
    )
}

/// Claim types a payer takes.
pub fn claim_type() -> Object {
    one_of(
        trellis_domain::revenue::payer::ClaimType::ALL
            .iter()
            .map(|c| c.code()),
    )
}

/// What one billed unit is.
pub fn unit_definition() -> Object {
    one_of(
        trellis_domain::revenue::payer::UnitDefinition::ALL
            .iter()
            .map(|u| u.code()),
    )
}

/// The place-of-service codes a site may bill from.
pub fn place_of_service() -> Object {
    one_of(
        trellis_domain::revenue::provider::PLACES_OF_SERVICE
            .iter()
            .map(|(code, _)| *code),
    )
}

/// Which payer a coverage is billed first.
pub fn coverage_rank() -> Object {
    one_of(
        trellis_domain::revenue::coverage::CoverageRank::ALL
            .iter()
            .map(|r| r.code()),
    )
}

/// The patient's relationship to the subscriber.
pub fn subscriber_relationship() -> Object {
    one_of(
        trellis_domain::revenue::coverage::SubscriberRelationship::ALL
            .iter()
            .map(|r| r.code()),
    )
}

/// How eligibility was checked.
pub fn eligibility_method() -> Object {
    one_of(
        trellis_domain::revenue::coverage::EligibilityMethod::ALL
            .iter()
            .map(|m| m.code()),
    )
}

/// What an eligibility check found.
pub fn eligibility_result() -> Object {
    one_of(
        trellis_domain::revenue::coverage::EligibilityResult::ALL
            .iter()
            .map(|r| r.code()),
    )
}
