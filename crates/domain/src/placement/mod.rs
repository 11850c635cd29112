//! ASAM placement: recommended level of care from the six dimension ratings, with reasons.
//!
//! Decision support derived from the principles of the ASAM Criteria (3rd edition): it is not
//! the ASAM software and does not reproduce ASAM's decision matrices. Placement is not an
//! average: the highest-risk dimension(s) are matched to the least intensive setting that can
//! safely manage them (see [`rules`] and `docs/clinical-rules/placement.md`). A clinician always records
//! the actual placement, with discrepancy reasons when it differs ([`discrepancy`]).

pub mod diagnosis;
pub mod dimension;
pub mod discrepancy;
pub mod rules;

pub use diagnosis::{
    CuratedDiagnosis, DiagnosisCode, DiagnosisCodeError, DiagnosisGroup, SudDiagnosis,
    CURATED_DIAGNOSES,
};
pub use dimension::{Dimension, DimensionRating, DimensionRatings, Rating, RatingError};
pub use discrepancy::{
    validate_placement_decision, DiscrepancyReason, PlacementDecision, PlacementDecisionError,
};
pub use rules::{
    recommend, weekly_hours, Caution, PlacementContext, Population, Reason, Recommendation, Rule,
    Screened, SuicideScreens, WeeklyHours, RECENT_SCREEN_DAYS,
};
