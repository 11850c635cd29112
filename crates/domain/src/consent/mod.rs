//! 42 CFR Part 2 consent decisions: does a consent cover this disclosure, now?
//!
//! Follows the 2024 final rule (89 FR 12472): the §2.31(a) consent elements, single consents for
//! treatment, payment and health care operations (TPO), the §2.32 notice and scope statement that
//! accompany a disclosure, and the §2.51 medical-emergency record. Pure functions: storage, audit
//! and the actual sending live elsewhere, and every decision takes the current instant explicitly.

pub mod authority;
pub mod breach;
pub mod collateral;
pub mod criminal_justice;
pub mod directory;
pub mod disclosure;
pub mod emergency;
pub mod model;
pub mod notice;
pub mod rights;
pub mod signer;
pub mod undercover;

pub use authority::{
    check_authorised, validate_authority, validate_correction, validate_early_end, AuditBody,
    AuthorisedRequest, Authority, AuthorityChangeProblem, AuthorityKind, AuthorityProblem,
    AuthorityRefusal, BoardDetermination, CommunicationsGround, CourtDocument, CourtOrder,
    OrderPurpose, Terms,
};
pub use breach::{
    annual_log_due, draft_letter, hhs_notice_with_patients, in_annual_log, media_notice_required,
    notification_deadline, notification_overdue, substitute_notice_ends, validate_conclusion,
    validate_substitute_notice, BreachConclusion, BreachProblem, FactorRisk, LetterFacts,
    RiskAssessment, SubstituteMethod, SubstituteProblem,
};
pub use collateral::{may_receive, CollateralAllowance, CollateralRelationship};
pub use criminal_justice::{
    check_revocable, validate_criminal_justice, CriminalJustice, CriminalJusticeCondition,
    CriminalJusticeProblem, NotYetRevocable, Revocability, CRIMINAL_JUSTICE_REDISCLOSURE,
};
pub use directory::RecipientKind;
pub use disclosure::{
    check_disclosure, scope_summary, ConsentMatch, DisclosureRefusal, DisclosureRequest,
};
pub use emergency::{
    validate_emergency_disclosure, EmergencyDisclosure, EmergencyGround, EmergencyRecordError,
};
pub use model::{
    end_of_treatment, validate_consent, validate_expiry_event, Consent, ConsentElement, ConsentId,
    ConsentProblem, ConsentStatus, Expiry, ExpiryEventProblem, InformationCategory, Purpose,
    Recipient, RecipientClass, Revocation, Signature, COUNSELING_NOTES_STATEMENT,
    TPO_GENERIC_RECIPIENTS,
};
pub use notice::{
    NoticeForm, DEFAULT_REVOCATION_STATEMENT, DEFAULT_TPO_REDISCLOSURE_STATEMENT,
    NOTICE_STATEMENT_1, NOTICE_STATEMENT_2, NOTICE_VERSION,
};
pub use rights::{
    blocking_restriction, validate_decision, validate_lift, validate_restriction, Lift, LiftGround,
    NoticeAcknowledgment, Restriction, RestrictionDecision, RestrictionProblem,
    PATIENT_NOTICE_VERSION,
};
pub use signer::{
    check_signer, MinorConsentRule, PatientFacts, SignerAuthority, SignerProblem, Signing,
};
pub use undercover::{
    validate_undercover_order, UndercoverOrder, UndercoverProblem, MAX_PLACEMENT_MONTHS,
    UNDERCOVER_USE_LIMIT,
};
