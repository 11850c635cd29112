//! Intake assessments and diagnoses. An assessment holds the biopsychosocial history, the six
//! ASAM dimension ratings with their narratives, the level the placement rules recommended at
//! the time (with their reasons and cautions) and the level the clinician chose, with the
//! reasons for any discrepancy. Reassessments are new rows: nothing is overwritten, so the
//! history shows what was recommended and decided each time. Diagnoses are ICD-10-CM codes,
//! checked by the domain's format rules, added and later resolved (never deleted).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sqlx::{Any, FromRow, Transaction};
use trellis_domain::care::LevelOfCare;
use trellis_domain::measures::cssrs::CssrsRisk;
use trellis_domain::measures::Instrument;
use trellis_domain::patient::FieldError;
use trellis_domain::placement::{
    recommend, validate_placement_decision, DiagnosisCode, Dimension, DimensionRating,
    DimensionRatings, DiscrepancyReason, PlacementContext, PlacementDecision,
    PlacementDecisionError, Population, Recommendation, Screened, SudDiagnosis, SuicideScreens,
};

use crate::access::{can, PatientGrant};
use crate::audit::{self, AuditEvent};
use crate::measures::RESPONSES_COLUMN;
use crate::{parse_code, Day, Flag, Instant, Result, Store, StoreError};

/// The history sections are clinical narrative: encrypted at rest.
const SECTIONS_COLUMN: &str = "intake_assessments.sections";
/// Which substances, how and when: encrypted at rest.
const SUBSTANCES_COLUMN: &str = "intake_assessments.substances";
/// The clinician's justification of each rating: encrypted at rest.
const NARRATIVES_COLUMN: &str = "intake_assessments.dimension_narratives";
/// The reasons quote the ratings: encrypted with them.
pub(crate) const RECOMMENDATION_COLUMN: &str = "intake_assessments.recommendation";
/// Free text about the placement decision: encrypted at rest.
const OTHER_COLUMN: &str = "intake_assessments.discrepancy_other";
/// Position of PHQ-9 item 9 (thoughts of death or self-harm) in the stored answers.
const ITEM_9: usize = 8;
/// Free text about the placement decision: encrypted at rest.
const EXPLANATION_COLUMN: &str = "intake_assessments.discrepancy_explanation";

/// The biopsychosocial sections of an intake, in form order: (key, label).
pub const SECTIONS: [(&str, &str); 8] = [
    (
        "presenting_problem",
        "Reason for referral and presenting problem",
    ),
    ("prior_treatment", "Prior treatment"),
    ("mental_health", "Mental health"),
    ("medical", "Medical"),
    ("legal", "Legal"),
    ("living_situation", "Living situation and supports"),
    ("employment", "Employment or school"),
    ("family", "Family"),
];

/// Routes of administration (TEDS ROUTE categories): (code, label).
pub const ROUTES: [(&str, &str); 5] = [
    ("oral", "Oral"),
    ("smoking", "Smoking"),
    ("inhalation", "Inhalation (intranasal)"),
    ("injection", "Injection"),
    ("other", "Other"),
];

/// Frequency of use in the past 30 days (TEDS FREQ categories, finer): (code, label).
pub const FREQUENCIES: [(&str, &str); 5] = [
    ("none_past_month", "No use in the past month"),
    ("1_3_month", "1–3 times in the past month"),
    ("1_2_week", "1–2 times a week"),
    ("3_6_week", "3–6 times a week"),
    ("daily", "Daily"),
];

const MAX_SECTION: usize = 10_000;
const MAX_SHORT: usize = 200;

/// One substance the patient uses or has used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubstanceUse {
    /// The substance in the clinician's words ("Alcohol", "Fentanyl").
    pub substance: String,
    /// Route code from [`ROUTES`].
    pub route: String,
    /// Frequency code from [`FREQUENCIES`].
    pub frequency: String,
    /// Age at first use, in years.
    pub age_first_use: Option<u8>,
    /// The day of last use, if known.
    pub last_use_on: Option<NaiveDate>,
}

/// An intake assessment to record.
#[derive(Debug, Clone)]
pub struct NewAssessment {
    /// The day the assessment was done (not in the future).
    pub assessed_on: NaiveDate,
    /// Narrative per section key of [`SECTIONS`]; unknown keys are refused.
    pub sections: BTreeMap<String, String>,
    /// Substances, most significant first.
    pub substances: Vec<SubstanceUse>,
    /// The six ASAM ratings with narratives.
    pub ratings: DimensionRatings,
}

/// The placement a clinician records against an assessment's recommendation.
#[derive(Debug, Clone, Default)]
pub struct PlacementInput {
    /// The level chosen (required).
    pub actual: Option<LevelOfCare>,
    /// Why it differs from the recommendation.
    pub reasons: Vec<DiscrepancyReason>,
    /// Text for the "other" reason.
    pub other_text: String,
    /// Optional explanation.
    pub explanation: String,
}

/// A recorded placement decision.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Placement {
    /// The level chosen.
    pub actual: LevelOfCare,
    /// Discrepancy reasons (empty when the levels agree).
    pub reasons: Vec<DiscrepancyReason>,
    /// Text for the "other" reason.
    pub other_text: String,
    /// Explanation.
    pub explanation: String,
    /// Who decided.
    pub placed_by_name: Option<String>,
    /// When it was recorded.
    pub placed_at: Instant,
}

/// An intake assessment as stored.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Assessment {
    /// Id.
    pub id: i64,
    /// Patient.
    pub patient_id: i64,
    /// The episode open when it was done.
    pub episode_id: Option<i64>,
    /// The day it was done.
    pub assessed_on: Day,
    /// Adult or adolescent, as used for the recommendation.
    pub population: Population,
    /// Narratives by section key.
    pub sections: BTreeMap<String, String>,
    /// Substances.
    pub substances: Vec<SubstanceUse>,
    /// The six ratings with narratives.
    pub ratings: DimensionRatings,
    /// What the rules recommended at the time, with reasons and cautions.
    pub recommendation: Recommendation,
    /// The clinician's decision, once recorded.
    pub placement: Option<Placement>,
    /// Who recorded it.
    pub recorded_by_name: Option<String>,
    /// When.
    pub recorded_at: Instant,
}

#[derive(FromRow)]
struct AssessmentRow {
    id: i64,
    patient_id: i64,
    episode_id: Option<i64>,
    assessed_on: Day,
    population: String,
    sections: String,
    substances: String,
    d1_rating: i64,
    d2_rating: i64,
    d3_rating: i64,
    d4_rating: i64,
    d5_rating: i64,
    d6_rating: i64,
    dimension_narratives: String,
    recommendation: String,
    actual_level: Option<String>,
    discrepancy_reasons: Option<String>,
    discrepancy_other: Option<String>,
    discrepancy_explanation: Option<String>,
    placed_at: Option<Instant>,
    placed_by_name: Option<String>,
    recorded_by_name: Option<String>,
    recorded_at: Instant,
}

const ASSESSMENT_SELECT: &str = "SELECT a.id, a.patient_id, a.episode_id, a.assessed_on,
    a.population, a.sections, a.substances, a.d1_rating, a.d2_rating, a.d3_rating, a.d4_rating,
    a.d5_rating, a.d6_rating, a.dimension_narratives, a.recommendation, a.actual_level,
    a.discrepancy_reasons, a.discrepancy_other, a.discrepancy_explanation, a.placed_at,
    pu.display_name AS placed_by_name, ru.display_name AS recorded_by_name, a.recorded_at
    FROM intake_assessments a
    LEFT JOIN users pu ON pu.id = a.placed_by
    LEFT JOIN users ru ON ru.id = a.recorded_by";

/// A diagnosis on the patient's list.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Diagnosis {
    /// Id.
    pub id: i64,
    /// Patient.
    pub patient_id: i64,
    /// The ICD-10-CM code.
    pub code: DiagnosisCode,
    /// Its description.
    pub description: String,
    /// Whether it is the primary diagnosis.
    pub primary: bool,
    /// Onset, if known.
    pub onset_on: Option<Day>,
    /// When it was resolved.
    pub resolved_on: Option<Day>,
    /// Who resolved it.
    pub resolved_by_name: Option<String>,
    /// Who recorded it.
    pub recorded_by_name: Option<String>,
    /// When.
    pub recorded_at: Instant,
}

#[derive(FromRow)]
struct DiagnosisRow {
    id: i64,
    patient_id: i64,
    code: String,
    description: String,
    #[sqlx(try_from = "Flag")]
    is_primary: bool,
    onset_on: Option<Day>,
    resolved_on: Option<Day>,
    resolved_by_name: Option<String>,
    recorded_by_name: Option<String>,
    recorded_at: Instant,
}

/// A diagnosis to add.
#[derive(Debug, Clone, Default)]
pub struct NewDiagnosis {
    /// The code as entered (validated and normalised here).
    pub code: String,
    /// Description; blank takes the curated list's wording.
    pub description: String,
    /// Make it the primary diagnosis (the previous primary stops being primary).
    pub primary: bool,
    /// Onset, if known (not in the future).
    pub onset_on: Option<NaiveDate>,
}

/// A diagnosis's code is sealed like its description: "F11.20" says "opioid use disorder" as
/// plainly as the words. Every query that needs codes reads one patient's short list, so they
/// are opened in Rust and no blind index is kept.
pub(crate) const CODE_COLUMN: &str = "patient_diagnoses.code";

/// The diagnosis's wording, sealed.
pub(crate) const DESCRIPTION_COLUMN: &str = "patient_diagnoses.description";

impl Store {
    /// The codes of a patient's diagnoses as stored (sealed), opened and parsed.
    pub(crate) fn open_diagnosis_code(&self, sealed: &str) -> Result<DiagnosisCode> {
        DiagnosisCode::parse(&self.open(CODE_COLUMN, sealed)?)
            .map_err(|_| StoreError::Corrupt("stored diagnosis code".into()))
    }
}

const DIAGNOSIS_SELECT: &str = "SELECT d.id, d.patient_id, d.code, d.description, d.is_primary,
    d.onset_on, d.resolved_on, vu.display_name AS resolved_by_name,
    ru.display_name AS recorded_by_name, d.recorded_at
    FROM patient_diagnoses d
    LEFT JOIN users vu ON vu.id = d.resolved_by
    LEFT JOIN users ru ON ru.id = d.recorded_by";

fn json<T: Serialize>(value: &T, what: &str) -> Result<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn from_json<T: for<'de> Deserialize<'de>>(text: &str, what: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|_| StoreError::Corrupt(format!("{what} is malformed")))
}

fn population_code(population: Population) -> &'static str {
    match population {
        Population::Adult => "adult",
        Population::Adolescent => "adolescent",
    }
}

fn validate_assessment(a: &NewAssessment, today: NaiveDate) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if a.assessed_on > today {
        errors.push(FieldError::new("assessed_on", "cannot be in the future"));
    }
    for (key, text) in &a.sections {
        if !SECTIONS.iter().any(|(k, _)| k == key) {
            errors.push(FieldError::new("sections", "unknown intake section"));
        } else if text.chars().count() > MAX_SECTION {
            errors.push(FieldError::new(
                "sections",
                format!("each section must be at most {MAX_SECTION} characters"),
            ));
        }
    }
    for rating in a.ratings.iter() {
        if rating.narrative.chars().count() > MAX_SECTION {
            errors.push(FieldError::new(
                "ratings",
                format!(
                    "D{} narrative must be at most {MAX_SECTION} characters",
                    rating.dimension.number()
                ),
            ));
        }
    }
    for (i, s) in a.substances.iter().enumerate() {
        let row = i + 1;
        if s.substance.trim().is_empty() {
            errors.push(FieldError::new(
                "substances",
                format!("substance row {row}: name the substance"),
            ));
        }
        if s.substance.chars().count() > MAX_SHORT {
            errors.push(FieldError::new(
                "substances",
                format!("substance row {row}: the name must be at most {MAX_SHORT} characters"),
            ));
        }
        if !ROUTES.iter().any(|(c, _)| *c == s.route) {
            errors.push(FieldError::new(
                "substances",
                format!("substance row {row}: choose a route"),
            ));
        }
        if !FREQUENCIES.iter().any(|(c, _)| *c == s.frequency) {
            errors.push(FieldError::new(
                "substances",
                format!("substance row {row}: choose a frequency"),
            ));
        }
        if s.age_first_use.is_some_and(|age| !(1..=100).contains(&age)) {
            errors.push(FieldError::new(
                "substances",
                format!("substance row {row}: age of first use must be 1 to 100"),
            ));
        }
        if s.last_use_on.is_some_and(|d| d > today) {
            errors.push(FieldError::new(
                "substances",
                format!("substance row {row}: last use cannot be in the future"),
            ));
        }
    }
    errors
}

/// Maps the domain's placement problems to the form fields they concern.
fn placement_errors(errors: Vec<PlacementDecisionError>) -> StoreError {
    StoreError::Invalid(
        errors
            .into_iter()
            .map(|e| {
                let field = match e {
                    PlacementDecisionError::ActualLevelMissing => "actual_level",
                    PlacementDecisionError::OtherTextRequired => "discrepancy_other",
                    _ => "discrepancy_reasons",
                };
                FieldError::new(field, e.to_string())
            })
            .collect(),
    )
}

impl Store {
    fn assessment_from_row(&self, row: AssessmentRow) -> Result<Assessment> {
        let narratives: Vec<String> = from_json(
            &self.open(NARRATIVES_COLUMN, &row.dimension_narratives)?,
            "dimension narratives",
        )?;
        let values = [
            row.d1_rating,
            row.d2_rating,
            row.d3_rating,
            row.d4_rating,
            row.d5_rating,
            row.d6_rating,
        ];
        let ratings = Dimension::ALL
            .into_iter()
            .zip(values)
            .zip(
                narratives
                    .into_iter()
                    .chain(std::iter::repeat(String::new())),
            )
            .map(|((d, v), n)| DimensionRating::new(d, v, n))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let ratings = DimensionRatings::from_ratings(ratings)
            .map_err(|_| StoreError::Corrupt("assessment ratings are incomplete".into()))?;
        let placement = match (row.actual_level, row.placed_at) {
            (Some(level), Some(placed_at)) => Some(Placement {
                actual: parse_code(&level, "level of care")?,
                reasons: row
                    .discrepancy_reasons
                    .as_deref()
                    .unwrap_or("")
                    .split(',')
                    .filter(|c| !c.is_empty())
                    .map(|c| parse_code(c, "discrepancy reason"))
                    .collect::<Result<_>>()?,
                other_text: row
                    .discrepancy_other
                    .as_deref()
                    .map(|t| self.open(OTHER_COLUMN, t))
                    .transpose()?
                    .unwrap_or_default(),
                explanation: row
                    .discrepancy_explanation
                    .as_deref()
                    .map(|t| self.open(EXPLANATION_COLUMN, t))
                    .transpose()?
                    .unwrap_or_default(),
                placed_by_name: row.placed_by_name,
                placed_at,
            }),
            _ => None,
        };
        Ok(Assessment {
            id: row.id,
            patient_id: row.patient_id,
            episode_id: row.episode_id,
            assessed_on: row.assessed_on,
            population: if row.population == "adolescent" {
                Population::Adolescent
            } else {
                Population::Adult
            },
            sections: from_json(
                &self.open(SECTIONS_COLUMN, &row.sections)?,
                "intake sections",
            )?,
            substances: from_json(
                &self.open(SUBSTANCES_COLUMN, &row.substances)?,
                "substance rows",
            )?,
            ratings,
            recommendation: from_json(
                &self.open(RECOMMENDATION_COLUMN, &row.recommendation)?,
                "recommendation",
            )?,
            placement,
            recorded_by_name: row.recorded_by_name,
            recorded_at: row.recorded_at,
        })
    }

    /// Records an intake assessment and the level the placement rules recommend for it. The
    /// recommendation is stored with the assessment, so later rule changes never rewrite what
    /// the clinician was shown. The open episode (if any) and the patient's active substance
    /// use diagnoses give the context: program population (or age) and whether a SUD is
    /// diagnosed.
    pub async fn record_assessment(
        &self,
        grant: &PatientGrant<can::WriteClinical>,
        assessment: &NewAssessment,
        today: NaiveDate,
    ) -> Result<(i64, Recommendation)> {
        let errors = validate_assessment(assessment, today);
        if !errors.is_empty() {
            return Err(StoreError::Invalid(errors));
        }
        let staff_id = grant.actor().staff_id()?;
        let patient_id = grant.patient_id();
        let mut tx = self.begin().await?;
        let episode: Option<(i64, String)> = sqlx::query_as(
            "SELECT e.id, pr.population FROM episodes e JOIN programs pr ON pr.id = e.program_id
             WHERE e.patient_id = $1 AND e.status = 'open'",
        )
        .bind(patient_id)
        .fetch_optional(&mut *tx)
        .await?;
        let born: String = sqlx::query_scalar("SELECT date_of_birth FROM patients WHERE id = $1")
            .bind(patient_id)
            .fetch_one(&mut *tx)
            .await?;
        let born = self.open_date_of_birth(&born)?;
        let population = match &episode {
            Some((_, p)) if p == "adolescent" => Population::Adolescent,
            Some(_) => Population::Adult,
            None => {
                let age = today.years_since(born.0).unwrap_or(0);
                if age < 18 {
                    Population::Adolescent
                } else {
                    Population::Adult
                }
            }
        };
        let codes: Vec<String> = sqlx::query_scalar(
            "SELECT code FROM patient_diagnoses WHERE patient_id = $1 AND resolved_on IS NULL",
        )
        .bind(patient_id)
        .fetch_all(&mut *tx)
        .await?;
        let parsed: Vec<DiagnosisCode> = codes
            .iter()
            .map(|c| self.open_diagnosis_code(c))
            .collect::<Result<_>>()?;
        let suicide_screens = self
            .latest_suicide_screens(&mut tx, patient_id, assessment.assessed_on)
            .await?;
        let recommendation = recommend(
            &assessment.ratings,
            &PlacementContext {
                population,
                sud_diagnosis: SudDiagnosis::of(&parsed),
                suicide_screens,
            },
        );
        let sections: BTreeMap<&String, &str> = assessment
            .sections
            .iter()
            .map(|(k, v)| (k, v.trim()))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        let substances: Vec<SubstanceUse> = assessment
            .substances
            .iter()
            .map(|s| SubstanceUse {
                substance: s.substance.trim().to_owned(),
                ..s.clone()
            })
            .collect();
        let narratives: Vec<&str> = assessment
            .ratings
            .iter()
            .map(|r| r.narrative.trim())
            .collect();
        let rating = |d: Dimension| i64::from(assessment.ratings.rating(d).value());
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO intake_assessments (patient_id, episode_id, assessed_on, population,
                 sections, substances, d1_rating, d2_rating, d3_rating, d4_rating, d5_rating,
                 d6_rating, dimension_narratives, recommended_level, recommendation,
                 recorded_at, recorded_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
             RETURNING id",
        )
        .bind(patient_id)
        .bind(episode.as_ref().map(|(id, _)| *id))
        .bind(Day(assessment.assessed_on))
        .bind(population_code(population))
        .bind(self.seal(SECTIONS_COLUMN, &json(&sections, "sections")?)?)
        .bind(self.seal(SUBSTANCES_COLUMN, &json(&substances, "substances")?)?)
        .bind(rating(Dimension::Withdrawal))
        .bind(rating(Dimension::Biomedical))
        .bind(rating(Dimension::EmotionalBehavioralCognitive))
        .bind(rating(Dimension::ReadinessToChange))
        .bind(rating(Dimension::RelapsePotential))
        .bind(rating(Dimension::RecoveryEnvironment))
        .bind(self.seal(NARRATIVES_COLUMN, &json(&narratives, "narratives")?)?)
        .bind(recommendation.level.code())
        .bind(self.seal(
            RECOMMENDATION_COLUMN,
            &json(&recommendation, "recommendation")?,
        )?)
        .bind(Instant::now())
        .bind(staff_id)
        .fetch_one(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "create",
                record_type: "intake_assessment",
                record_id: Some(id),
                patient_id: Some(patient_id),
                detail: format!("recommended {}", recommendation.level.code()),
            },
        )
        .await?;
        tx.commit().await?;
        Ok((id, recommendation))
    }

    /// The latest C-SSRS and the latest PHQ-9 item 9 given on or before the assessment day, kept
    /// only if recent enough to count for placement. Read inside the assessment's transaction
    /// and grant, so they are covered by its audit row.
    async fn latest_suicide_screens(
        &self,
        tx: &mut Transaction<'static, Any>,
        patient_id: i64,
        assessed_on: NaiveDate,
    ) -> Result<SuicideScreens> {
        let latest = "SELECT administered_on, band_code, responses FROM measure_administrations
             WHERE patient_id = $1 AND instrument = $2 AND administered_on <= $3
             ORDER BY administered_on DESC, id DESC LIMIT 1";
        let cssrs: Option<(Day, String, String)> = sqlx::query_as(latest)
            .bind(patient_id)
            .bind(Instrument::Cssrs.code())
            .bind(Day(assessed_on))
            .fetch_optional(&mut **tx)
            .await?;
        let cssrs = cssrs
            .map(|(on, band, _)| {
                CssrsRisk::from_code(&band)
                    .map(|result| Screened { on: on.0, result })
                    .ok_or_else(|| StoreError::Corrupt("unknown C-SSRS risk level".into()))
            })
            .transpose()?;
        let phq9: Option<(Day, String, String)> = sqlx::query_as(latest)
            .bind(patient_id)
            .bind(Instrument::Phq9.code())
            .bind(Day(assessed_on))
            .fetch_optional(&mut **tx)
            .await?;
        let phq9_item9 = match phq9 {
            Some((on, _, sealed)) => {
                let answers: Vec<Option<u8>> =
                    serde_json::from_str(&self.open(RESPONSES_COLUMN, &sealed)?).map_err(|_| {
                        StoreError::Corrupt("measure answers are not a list".into())
                    })?;
                answers
                    .get(ITEM_9)
                    .copied()
                    .flatten()
                    .map(|result| Screened { on: on.0, result })
            }
            None => None,
        };
        Ok(SuicideScreens::recent(assessed_on, cssrs, phq9_item9))
    }

    /// Records the clinician's placement for an assessment, checked against the recommendation
    /// stored with it (a different level needs a reason; "other" needs text). A placement is
    /// recorded once: a changed decision is a reassessment.
    pub async fn record_placement(
        &self,
        grant: &PatientGrant<can::WriteClinical>,
        assessment_id: i64,
        input: &PlacementInput,
    ) -> Result<()> {
        let staff_id = grant.actor().staff_id()?;
        let mut tx = self.begin().await?;
        let row: Option<(String, Option<String>)> = sqlx::query_as(
            "SELECT recommended_level, actual_level FROM intake_assessments
             WHERE id = $1 AND patient_id = $2",
        )
        .bind(assessment_id)
        .bind(grant.patient_id())
        .fetch_optional(&mut *tx)
        .await?;
        let Some((recommended, actual)) = row else {
            return Err(StoreError::NotFound("assessment"));
        };
        if actual.is_some() {
            return Err(StoreError::Conflict(
                "this assessment's placement is already recorded; record a reassessment to change it"
                    .into(),
            ));
        }
        let mut reasons = input.reasons.clone();
        reasons.sort();
        reasons.dedup();
        let decision = PlacementDecision {
            recommended: parse_code(&recommended, "level of care")?,
            actual: input.actual,
            reasons,
            other_text: input.other_text.trim().to_owned(),
            explanation: input.explanation.trim().to_owned(),
        };
        validate_placement_decision(&decision).map_err(placement_errors)?;
        for (field, text) in [
            ("discrepancy_other", &decision.other_text),
            ("discrepancy_explanation", &decision.explanation),
        ] {
            if text.chars().count() > MAX_SECTION {
                return Err(StoreError::invalid(
                    field,
                    format!("must be at most {MAX_SECTION} characters"),
                ));
            }
        }
        let Some(actual) = decision.actual else {
            return Err(StoreError::invalid(
                "actual_level",
                "the actual level of care is required",
            ));
        };
        // "Not applicable" says nothing once the levels agree, so only real reasons are kept.
        let codes: Vec<&str> = decision
            .reasons
            .iter()
            .filter(|r| **r != DiscrepancyReason::NotApplicable)
            .map(|r| r.code())
            .collect();
        let sealed_optional = |column: &str, text: &str| -> Result<Option<String>> {
            if text.is_empty() {
                Ok(None)
            } else {
                self.seal(column, text).map(Some)
            }
        };
        sqlx::query(
            "UPDATE intake_assessments SET actual_level = $1, discrepancy_reasons = $2,
                 discrepancy_other = $3, discrepancy_explanation = $4, placed_at = $5,
                 placed_by = $6
             WHERE id = $7 AND actual_level IS NULL",
        )
        .bind(actual.code())
        .bind(codes.join(","))
        .bind(sealed_optional(OTHER_COLUMN, &decision.other_text)?)
        .bind(sealed_optional(EXPLANATION_COLUMN, &decision.explanation)?)
        .bind(Instant::now())
        .bind(staff_id)
        .bind(assessment_id)
        .execute(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "update",
                record_type: "intake_assessment",
                record_id: Some(assessment_id),
                patient_id: Some(grant.patient_id()),
                detail: format!("placed {}", actual.code()),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The patient's assessments, newest first (audited).
    pub async fn assessments(
        &self,
        grant: &PatientGrant<can::ReadClinical>,
    ) -> Result<Vec<Assessment>> {
        let mut reader = self.read_conn().await?;
        let mut tx = sqlx::Connection::begin(&mut *reader).await?;
        audit::record(
            self,
            grant.actor(),
            AuditEvent {
                action: "read",
                record_type: "intake_assessment",
                record_id: None,
                patient_id: Some(grant.patient_id()),
                detail: "assessment list".into(),
            },
        )
        .await?;
        let rows: Vec<AssessmentRow> = sqlx::query_as(&format!(
            "{ASSESSMENT_SELECT} WHERE a.patient_id = $1 ORDER BY a.assessed_on DESC, a.id DESC"
        ))
        .bind(grant.patient_id())
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.into_iter()
            .map(|r| self.assessment_from_row(r))
            .collect()
    }

    /// Which patient an assessment belongs to (ids only, for the access check before a grant).
    pub async fn assessment_patient_id(&self, assessment_id: i64) -> Result<i64> {
        sqlx::query_scalar("SELECT patient_id FROM intake_assessments WHERE id = $1")
            .bind(assessment_id)
            .fetch_optional(&mut *self.read_conn().await?)
            .await?
            .ok_or(StoreError::NotFound("assessment"))
    }

    /// The patient's diagnoses: active ones first (primary at the top), then resolved (audited).
    pub async fn diagnoses(
        &self,
        grant: &PatientGrant<can::ReadClinical>,
    ) -> Result<Vec<Diagnosis>> {
        let mut reader = self.read_conn().await?;
        let mut tx = sqlx::Connection::begin(&mut *reader).await?;
        audit::record(
            self,
            grant.actor(),
            AuditEvent {
                action: "read",
                record_type: "diagnosis",
                record_id: None,
                patient_id: Some(grant.patient_id()),
                detail: "diagnosis list".into(),
            },
        )
        .await?;
        let rows: Vec<DiagnosisRow> = sqlx::query_as(&format!(
            "{DIAGNOSIS_SELECT} WHERE d.patient_id = $1
             ORDER BY CASE WHEN d.resolved_on IS NULL THEN 0 ELSE 1 END,
                 CASE WHEN d.is_primary THEN 0 ELSE 1 END, d.recorded_at, d.id"
        ))
        .bind(grant.patient_id())
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.into_iter()
            .map(|r| {
                Ok(Diagnosis {
                    id: r.id,
                    patient_id: r.patient_id,
                    code: self.open_diagnosis_code(&r.code)?,
                    description: self.open(DESCRIPTION_COLUMN, &r.description)?,
                    primary: r.is_primary,
                    onset_on: r.onset_on,
                    resolved_on: r.resolved_on,
                    resolved_by_name: r.resolved_by_name,
                    recorded_by_name: r.recorded_by_name,
                    recorded_at: r.recorded_at,
                })
            })
            .collect()
    }

    /// Adds a diagnosis. The code must be well-formed ICD-10-CM; a code off the curated list
    /// needs a description; a code already active is refused.
    pub async fn add_diagnosis(
        &self,
        grant: &PatientGrant<can::WriteClinical>,
        diagnosis: &NewDiagnosis,
        today: NaiveDate,
    ) -> Result<i64> {
        let mut errors = Vec::new();
        let code = DiagnosisCode::parse(&diagnosis.code)
            .map_err(|e| errors.push(FieldError::new("code", e.to_string())))
            .ok();
        let entered = diagnosis.description.trim();
        let description = match (&code, entered.is_empty()) {
            (_, false) => entered.to_owned(),
            (Some(c), true) => match c.curated() {
                Some(entry) => entry.description.to_owned(),
                None => {
                    errors.push(FieldError::new(
                        "description",
                        "is required for a code not on the list",
                    ));
                    String::new()
                }
            },
            (None, true) => String::new(),
        };
        if description.chars().count() > MAX_SHORT {
            errors.push(FieldError::new(
                "description",
                format!("must be at most {MAX_SHORT} characters"),
            ));
        }
        if diagnosis.onset_on.is_some_and(|d| d > today) {
            errors.push(FieldError::new("onset_on", "cannot be in the future"));
        }
        let (Some(code), true) = (code, errors.is_empty()) else {
            return Err(StoreError::Invalid(errors));
        };
        let staff_id = grant.actor().staff_id()?;
        let patient_id = grant.patient_id();
        let mut tx = self.begin().await?;
        let active: Vec<String> = sqlx::query_scalar(
            "SELECT code FROM patient_diagnoses WHERE patient_id = $1 AND resolved_on IS NULL",
        )
        .bind(patient_id)
        .fetch_all(&mut *tx)
        .await?;
        let mut already = false;
        for sealed in &active {
            already |= self.open_diagnosis_code(sealed)? == code;
        }
        if already {
            return Err(StoreError::invalid(
                "code",
                format!("{code} is already on the active diagnosis list"),
            ));
        }
        // One primary at a time: the new primary takes the mark from the old one.
        if diagnosis.primary {
            sqlx::query(
                "UPDATE patient_diagnoses SET is_primary = $1
                 WHERE patient_id = $2 AND is_primary = $3",
            )
            .bind(false)
            .bind(patient_id)
            .bind(true)
            .execute(&mut *tx)
            .await?;
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO patient_diagnoses (patient_id, code, description, is_primary, onset_on,
                 recorded_at, recorded_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(patient_id)
        .bind(self.seal(CODE_COLUMN, code.as_str())?)
        .bind(self.seal(DESCRIPTION_COLUMN, &description)?)
        .bind(diagnosis.primary)
        .bind(diagnosis.onset_on.map(Day))
        .bind(Instant::now())
        .bind(staff_id)
        .fetch_one(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "create",
                record_type: "diagnosis",
                record_id: Some(id),
                patient_id: Some(patient_id),
                detail: String::new(),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Marks a diagnosis resolved on a day (not in the future, not before its onset). A
    /// resolved diagnosis stays on the list, and is no longer primary.
    pub async fn resolve_diagnosis(
        &self,
        grant: &PatientGrant<can::WriteClinical>,
        diagnosis_id: i64,
        resolved_on: NaiveDate,
        today: NaiveDate,
    ) -> Result<()> {
        if resolved_on > today {
            return Err(StoreError::invalid(
                "resolved_on",
                "cannot be in the future",
            ));
        }
        let staff_id = grant.actor().staff_id()?;
        let mut tx = self.begin().await?;
        let row: Option<(Option<Day>, Option<Day>)> = sqlx::query_as(
            "SELECT onset_on, resolved_on FROM patient_diagnoses WHERE id = $1 AND patient_id = $2",
        )
        .bind(diagnosis_id)
        .bind(grant.patient_id())
        .fetch_optional(&mut *tx)
        .await?;
        let Some((onset, resolved)) = row else {
            return Err(StoreError::NotFound("diagnosis"));
        };
        if resolved.is_some() {
            return Err(StoreError::Conflict(
                "the diagnosis is already resolved".into(),
            ));
        }
        if onset.is_some_and(|o| resolved_on < o.0) {
            return Err(StoreError::invalid(
                "resolved_on",
                "cannot be before the onset",
            ));
        }
        sqlx::query(
            "UPDATE patient_diagnoses SET resolved_on = $1, resolved_at = $2, resolved_by = $3,
                 is_primary = $4
             WHERE id = $5",
        )
        .bind(Day(resolved_on))
        .bind(Instant::now())
        .bind(staff_id)
        .bind(false)
        .bind(diagnosis_id)
        .execute(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "update",
                record_type: "diagnosis",
                record_id: Some(diagnosis_id),
                patient_id: Some(grant.patient_id()),
                detail: "resolved".into(),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Which patient a diagnosis belongs to (ids only, for the access check before a grant).
    pub async fn diagnosis_patient_id(&self, diagnosis_id: i64) -> Result<i64> {
        sqlx::query_scalar("SELECT patient_id FROM patient_diagnoses WHERE id = $1")
            .bind(diagnosis_id)
            .fetch_optional(&mut *self.read_conn().await?)
            .await?
            .ok_or(StoreError::NotFound("diagnosis"))
    }
}
