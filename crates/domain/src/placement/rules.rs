//! The placement rule table: which ratings call for which minimum level of care, and why.
//!
//! This is decision support derived from the ASAM Criteria's principles, not the ASAM software
//! and not ASAM's own decision matrices. Each rule names the least intensive level that can
//! safely manage one risk; the recommendation is the most intensive of those minimums, so the
//! highest-risk dimension decides and ratings are never averaged. A clinician records the actual
//! placement (see [`super::discrepancy`]). `docs/clinical-rules/placement.md` lists the same
//! table for clinicians, with the source of each rule; a test keeps the two in step.
//!
//! Two facts from outside the ratings also count: a recent suicide-risk screen (C-SSRS, PHQ-9
//! item 9) and which substance use disorder is diagnosed (nicotine alone does not qualify).

use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};
use std::fmt;

use super::diagnosis::SudDiagnosis;
use super::dimension::{Dimension, DimensionRatings, Rating};
use crate::care::LevelOfCare;
use crate::measures::cssrs::CssrsRisk;

/// A screen counts for placement when given within this many days before the assessment: the
/// C-SSRS screener asks about the past month (Q1–Q5), so an older screen no longer covers now.
pub const RECENT_SCREEN_DAYS: i64 = 30;

/// Which ASAM criteria set applies: the levels are the same, the hour thresholds differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Population {
    /// Adult criteria.
    Adult,
    /// Adolescent criteria.
    Adolescent,
}

/// A screening result and the day it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Screened<T> {
    /// The day the screen was given.
    pub on: NaiveDate,
    /// Its result.
    pub result: T,
}

/// The suicide-risk screens recent enough to count for a placement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SuicideScreens {
    /// The latest C-SSRS screener risk level.
    pub cssrs: Option<Screened<CssrsRisk>>,
    /// The latest PHQ-9 item 9 answer (0–3).
    pub phq9_item9: Option<Screened<u8>>,
}

impl SuicideScreens {
    /// Keeps each latest screen only if it was given in the [`RECENT_SCREEN_DAYS`] up to and
    /// including the assessment day (a screen after the assessment was not known then).
    pub fn recent(
        assessed_on: NaiveDate,
        latest_cssrs: Option<Screened<CssrsRisk>>,
        latest_phq9_item9: Option<Screened<u8>>,
    ) -> SuicideScreens {
        let window = |on: NaiveDate| {
            on <= assessed_on && on >= assessed_on - Duration::days(RECENT_SCREEN_DAYS)
        };
        SuicideScreens {
            cssrs: latest_cssrs.filter(|s| window(s.on)),
            phq9_item9: latest_phq9_item9.filter(|s| window(s.on)),
        }
    }
}

/// Facts outside the six ratings that change the recommendation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlacementContext {
    /// Adult or adolescent criteria.
    pub population: Population,
    /// Which substance use disorder diagnoses (ICD-10-CM F10–F19) are recorded.
    pub sud_diagnosis: SudDiagnosis,
    /// Suicide-risk screens from the 30 days before the assessment.
    pub suicide_screens: SuicideScreens,
}

/// One row of the rule table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// D1-4: withdrawal needing hospital care.
    WithdrawalImminent,
    /// D1-3: withdrawal needing 24-hour nursing.
    WithdrawalSignificant,
    /// D1-2: withdrawal manageable with on-site monitoring.
    WithdrawalModerate,
    /// D2-4: medical condition needing hospital care.
    BiomedicalImminent,
    /// D2-3: medical condition needing 24-hour monitoring.
    BiomedicalSignificant,
    /// D2-2: medical condition needing coordination.
    BiomedicalModerate,
    /// D3-4: psychiatric imminent danger.
    PsychiatricImminent,
    /// D3-3: psychiatric stabilisation.
    PsychiatricSignificant,
    /// D3-2: psychiatric monitoring.
    PsychiatricModerate,
    /// D4-2: low readiness to change.
    ReadinessLow,
    /// D5-4: uncontrolled use with imminent danger.
    RelapseImminent,
    /// D5-3: continued use likely without near-daily structure.
    RelapseSignificant,
    /// D5-2: needs several sessions a week.
    RelapseModerate,
    /// D6-4: dangerous living environment.
    EnvironmentDangerous,
    /// D6-3: unsupportive living environment.
    EnvironmentUnsupportive,
    /// D6-2: limited support at home.
    EnvironmentLimited,
    /// D5+D6: high relapse risk in an unsupportive environment.
    RelapseInUnsupportiveEnvironment,
    /// D4+D5: opposition to treatment with high relapse risk.
    OppositionWithRelapse,
    /// MULTI: three or more dimensions at 3 or above.
    MultipleSignificant,
    /// SR: a recent C-SSRS screen at high risk.
    CurrentSuicideRisk,
    /// LOW: all dimensions 0–1 with a diagnosis.
    LowRiskWithDiagnosis,
    /// LOW-NODX: all dimensions 0–1, no diagnosis.
    LowRiskWithoutDiagnosis,
    /// LOW-NIC: all dimensions 0–1, nicotine the only SUD diagnosis.
    LowRiskNicotineOnly,
}

impl Rule {
    /// Every rule, in table order.
    pub const ALL: [Rule; 23] = [
        Rule::WithdrawalImminent,
        Rule::WithdrawalSignificant,
        Rule::WithdrawalModerate,
        Rule::BiomedicalImminent,
        Rule::BiomedicalSignificant,
        Rule::BiomedicalModerate,
        Rule::PsychiatricImminent,
        Rule::PsychiatricSignificant,
        Rule::PsychiatricModerate,
        Rule::ReadinessLow,
        Rule::RelapseImminent,
        Rule::RelapseSignificant,
        Rule::RelapseModerate,
        Rule::EnvironmentDangerous,
        Rule::EnvironmentUnsupportive,
        Rule::EnvironmentLimited,
        Rule::RelapseInUnsupportiveEnvironment,
        Rule::OppositionWithRelapse,
        Rule::MultipleSignificant,
        Rule::CurrentSuicideRisk,
        Rule::LowRiskWithDiagnosis,
        Rule::LowRiskWithoutDiagnosis,
        Rule::LowRiskNicotineOnly,
    ];

    /// The short identifier shown to clinicians and used in docs/clinical-rules/placement.md.
    pub fn id(self) -> &'static str {
        match self {
            Rule::WithdrawalImminent => "D1-4",
            Rule::WithdrawalSignificant => "D1-3",
            Rule::WithdrawalModerate => "D1-2",
            Rule::BiomedicalImminent => "D2-4",
            Rule::BiomedicalSignificant => "D2-3",
            Rule::BiomedicalModerate => "D2-2",
            Rule::PsychiatricImminent => "D3-4",
            Rule::PsychiatricSignificant => "D3-3",
            Rule::PsychiatricModerate => "D3-2",
            Rule::ReadinessLow => "D4-2",
            Rule::RelapseImminent => "D5-4",
            Rule::RelapseSignificant => "D5-3",
            Rule::RelapseModerate => "D5-2",
            Rule::EnvironmentDangerous => "D6-4",
            Rule::EnvironmentUnsupportive => "D6-3",
            Rule::EnvironmentLimited => "D6-2",
            Rule::RelapseInUnsupportiveEnvironment => "D5+D6",
            Rule::OppositionWithRelapse => "D4+D5",
            Rule::MultipleSignificant => "MULTI",
            Rule::CurrentSuicideRisk => "SR",
            Rule::LowRiskWithDiagnosis => "LOW",
            Rule::LowRiskWithoutDiagnosis => "LOW-NODX",
            Rule::LowRiskNicotineOnly => "LOW-NIC",
        }
    }

    /// When the rule fires, in the table's notation.
    pub fn condition(self) -> &'static str {
        match self {
            Rule::WithdrawalImminent => "D1 = 4",
            Rule::WithdrawalSignificant => "D1 = 3",
            Rule::WithdrawalModerate => "D1 = 2",
            Rule::BiomedicalImminent => "D2 = 4",
            Rule::BiomedicalSignificant => "D2 = 3",
            Rule::BiomedicalModerate => "D2 = 2",
            Rule::PsychiatricImminent => "D3 = 4",
            Rule::PsychiatricSignificant => "D3 = 3",
            Rule::PsychiatricModerate => "D3 = 2",
            Rule::ReadinessLow => "D4 ≥ 2",
            Rule::RelapseImminent => "D5 = 4",
            Rule::RelapseSignificant => "D5 = 3",
            Rule::RelapseModerate => "D5 = 2",
            Rule::EnvironmentDangerous => "D6 = 4",
            Rule::EnvironmentUnsupportive => "D6 = 3",
            Rule::EnvironmentLimited => "D6 = 2",
            Rule::RelapseInUnsupportiveEnvironment => "D5 ≥ 3 and D6 ≥ 3",
            Rule::OppositionWithRelapse => "D4 = 4 and D5 ≥ 3",
            Rule::MultipleSignificant => "three or more dimensions ≥ 3",
            Rule::CurrentSuicideRisk => "C-SSRS high risk in the 30 days before the assessment",
            Rule::LowRiskWithDiagnosis => "all six ≤ 1, SUD diagnosis other than nicotine",
            Rule::LowRiskWithoutDiagnosis => "all six ≤ 1, no SUD diagnosis",
            Rule::LowRiskNicotineOnly => "all six ≤ 1, nicotine (F17) the only SUD diagnosis",
        }
    }

    /// The least intensive level that can safely manage what the rule detects.
    pub fn minimum_level(self) -> LevelOfCare {
        match self {
            Rule::WithdrawalImminent | Rule::BiomedicalImminent | Rule::PsychiatricImminent => {
                LevelOfCare::MedicallyManagedInpatient
            }
            Rule::WithdrawalSignificant | Rule::BiomedicalSignificant => {
                LevelOfCare::MedicallyMonitoredInpatient
            }
            Rule::RelapseImminent
            | Rule::RelapseInUnsupportiveEnvironment
            | Rule::OppositionWithRelapse
            | Rule::MultipleSignificant => LevelOfCare::ResidentialHighIntensity,
            Rule::EnvironmentDangerous => LevelOfCare::ResidentialLowIntensity,
            Rule::PsychiatricSignificant
            | Rule::CurrentSuicideRisk
            | Rule::RelapseSignificant
            | Rule::EnvironmentUnsupportive => LevelOfCare::PartialHospitalization,
            Rule::WithdrawalModerate
            | Rule::BiomedicalModerate
            | Rule::PsychiatricModerate
            | Rule::ReadinessLow
            | Rule::RelapseModerate
            | Rule::EnvironmentLimited => LevelOfCare::IntensiveOutpatient,
            Rule::LowRiskWithDiagnosis => LevelOfCare::Outpatient,
            Rule::LowRiskWithoutDiagnosis | Rule::LowRiskNicotineOnly => {
                LevelOfCare::EarlyIntervention
            }
        }
    }

    /// Why that level, in plain clinical English.
    pub fn rationale(self) -> &'static str {
        match self {
            Rule::WithdrawalImminent => {
                "severe withdrawal, or a risk of it, that needs medically managed withdrawal \
                 management with daily physician care in a hospital setting"
            }
            Rule::WithdrawalSignificant => {
                "significant withdrawal risk that needs medically monitored withdrawal management \
                 with 24-hour nursing and a physician available"
            }
            Rule::WithdrawalModerate => {
                "moderate withdrawal risk that an outpatient program can manage only with on-site \
                 withdrawal monitoring; arrange ambulatory withdrawal management alongside \
                 treatment, or step up if it is not available"
            }
            Rule::BiomedicalImminent => {
                "a medical condition that needs hospital-level care with daily physician involvement"
            }
            Rule::BiomedicalSignificant => {
                "a medical condition that needs 24-hour medical monitoring, beyond what an \
                 outpatient program can provide"
            }
            Rule::BiomedicalModerate => {
                "a medical condition that needs monitoring and coordination with the patient's \
                 physician during structured treatment"
            }
            Rule::PsychiatricImminent => {
                "imminent danger from psychiatric symptoms (to self or others, or unable to care \
                 for self); needs immediate psychiatric evaluation and medically managed care"
            }
            Rule::PsychiatricSignificant => {
                "significant emotional, behavioral or cognitive symptoms that need daily structure \
                 and psychiatric stabilisation; choose a higher level if the patient cannot be kept \
                 safe in a day program"
            }
            Rule::PsychiatricModerate => {
                "moderate emotional, behavioral or cognitive symptoms that need regular monitoring \
                 within a structured program with psychiatric support"
            }
            Rule::ReadinessLow => {
                "ambivalence or low readiness that needs structured programming with motivational \
                 work; low readiness alone does not call for a more restrictive setting"
            }
            Rule::RelapseImminent => {
                "unable to control use despite serious consequences, with imminent danger; needs \
                 24-hour structured treatment"
            }
            Rule::RelapseSignificant => {
                "continued use is likely without near-daily structure and monitoring"
            }
            Rule::RelapseModerate => {
                "some relapse-prevention skills, but needs several structured sessions a week to \
                 stay in recovery"
            }
            Rule::EnvironmentDangerous => {
                "the living environment is dangerous to recovery or safety; needs a safe 24-hour \
                 living setting with treatment"
            }
            Rule::EnvironmentUnsupportive => {
                "the living environment does not support recovery; needs relief from it for much \
                 of the day (IOP 2.1 can be enough if a supportive living arrangement such as a \
                 recovery residence is in place: record that as a discrepancy, reason Environment)"
            }
            Rule::EnvironmentLimited => {
                "the living environment offers limited support; needs structured treatment while \
                 recovery supports are built"
            }
            Rule::RelapseInUnsupportiveEnvironment => {
                "high relapse risk in an environment that does not support recovery; outpatient \
                 care cannot provide the 24-hour structure needed"
            }
            Rule::OppositionWithRelapse => {
                "opposition to treatment together with high relapse risk; needs a 24-hour \
                 structured setting"
            }
            Rule::MultipleSignificant => {
                "significant risk in three or more dimensions; the combined risk exceeds what a \
                 day program can manage safely"
            }
            Rule::LowRiskWithDiagnosis => {
                "no more than mild risk in any dimension, with a substance use disorder diagnosis; \
                 outpatient services are enough"
            }
            Rule::CurrentSuicideRisk => {
                "current suicide risk (Columbia triage: intent or plan in the past month, or \
                 suicidal behaviour in the past 3 months); treated as at least significant \
                 risk in D3, and a same-day safety evaluation comes before any outpatient \
                 placement"
            }
            Rule::LowRiskWithoutDiagnosis => {
                "no more than mild risk in any dimension and no substance use disorder diagnosis; \
                 early intervention at most"
            }
            Rule::LowRiskNicotineOnly => {
                "no more than mild risk in any dimension, and nicotine dependence (F17) is the \
                 only substance use disorder diagnosis: it does not on its own call for an SUD \
                 level of care; offer tobacco treatment (counselling and medication); early \
                 intervention at most"
            }
        }
    }

    // The single-dimension row for a rating, if any (ratings 0–1 have none on their own).
    fn for_rating(dimension: Dimension, rating: Rating) -> Option<Rule> {
        use Dimension as D;
        let rule = match (dimension, rating.value()) {
            (D::Withdrawal, 4) => Rule::WithdrawalImminent,
            (D::Withdrawal, 3) => Rule::WithdrawalSignificant,
            (D::Withdrawal, 2) => Rule::WithdrawalModerate,
            (D::Biomedical, 4) => Rule::BiomedicalImminent,
            (D::Biomedical, 3) => Rule::BiomedicalSignificant,
            (D::Biomedical, 2) => Rule::BiomedicalModerate,
            (D::EmotionalBehavioralCognitive, 4) => Rule::PsychiatricImminent,
            (D::EmotionalBehavioralCognitive, 3) => Rule::PsychiatricSignificant,
            (D::EmotionalBehavioralCognitive, 2) => Rule::PsychiatricModerate,
            (D::ReadinessToChange, 2..) => Rule::ReadinessLow,
            (D::RelapsePotential, 4) => Rule::RelapseImminent,
            (D::RelapsePotential, 3) => Rule::RelapseSignificant,
            (D::RelapsePotential, 2) => Rule::RelapseModerate,
            (D::RecoveryEnvironment, 4) => Rule::EnvironmentDangerous,
            (D::RecoveryEnvironment, 3) => Rule::EnvironmentUnsupportive,
            (D::RecoveryEnvironment, 2) => Rule::EnvironmentLimited,
            _ => return None,
        };
        Some(rule)
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// One rule that fired, with the ratings that triggered it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    /// The rule.
    pub rule: Rule,
    /// The dimensions and ratings that triggered it (all six for the low-risk rules).
    pub ratings: Vec<(Dimension, Rating)>,
    /// The minimum level this rule calls for.
    pub minimum_level: LevelOfCare,
    /// Whether this rule set the recommended level (others are shown for the full picture).
    pub decisive: bool,
    /// The reason as one sentence for the clinician.
    pub text: String,
}

impl Reason {
    fn new(fired: Fired, recommended: LevelOfCare) -> Reason {
        let Fired {
            rule,
            ratings,
            screen,
        } = fired;
        let minimum_level = rule.minimum_level();
        let low_risk = matches!(
            rule,
            Rule::LowRiskWithDiagnosis | Rule::LowRiskWithoutDiagnosis | Rule::LowRiskNicotineOnly
        );
        let trigger = if let Some(on) = screen {
            let rated: Vec<String> = ratings
                .iter()
                .map(|(d, r)| format!("{d} rated {r}"))
                .collect();
            format!("C-SSRS high risk on {on} ({})", rated.join(", "))
        } else if low_risk {
            "All six dimensions rated 0–1".to_owned()
        } else {
            let parts: Vec<String> = ratings
                .iter()
                .map(|(d, r)| format!("{d} rated {r}"))
                .collect();
            match parts.split_last() {
                Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
                _ => parts.concat(),
            }
        };
        let text = format!(
            "{trigger}: {}. Minimum level {minimum_level} (rule {}).",
            rule.rationale(),
            rule.id()
        );
        Reason {
            rule,
            ratings,
            minimum_level,
            decisive: minimum_level == recommended,
            text,
        }
    }
}

/// A rule that fired, before the recommended level is known.
struct Fired {
    rule: Rule,
    ratings: Vec<(Dimension, Rating)>,
    /// The day of the screen that fired it, for rules on screens rather than ratings.
    screen: Option<NaiveDate>,
}

impl Fired {
    fn on_ratings(rule: Rule, ratings: Vec<(Dimension, Rating)>) -> Fired {
        Fired {
            rule,
            ratings,
            screen: None,
        }
    }
}

/// Something the clinician must act on or confirm, beside the level itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Caution {
    /// A rating of 4 means imminent danger: act now, do not wait for an intake slot.
    ImminentDanger(Vec<Dimension>),
    /// Levels above 0.5 presuppose a substance use disorder diagnosis.
    NoSudDiagnosis,
    /// Levels above 0.5 presuppose an SUD diagnosis other than nicotine alone.
    NicotineOnlyDiagnosis,
    /// A recent C-SSRS at high risk: same-day safety evaluation before any outpatient level.
    CurrentSuicideRisk {
        /// The day of the screen.
        screened_on: NaiveDate,
        /// The D3 rating the clinician gave.
        d3: Rating,
    },
    /// A recent C-SSRS at moderate risk: clinician review and referral.
    ModerateSuicideRisk {
        /// The day of the screen.
        screened_on: NaiveDate,
    },
    /// A recent PHQ-9 with item 9 (thoughts of death or self-harm) above "Not at all".
    SuicidalThoughtsReported {
        /// The day of the PHQ-9.
        screened_on: NaiveDate,
    },
}

impl Caution {
    /// The caution as shown to the clinician.
    pub fn message(&self) -> String {
        match self {
            Caution::ImminentDanger(dimensions) => format!(
                "Imminent danger rated in {}: arrange immediate evaluation or transfer; do not \
                 wait for a scheduled intake.",
                dimensions
                    .iter()
                    .map(|d| format!("D{}", d.number()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Caution::NoSudDiagnosis => "No substance use disorder diagnosis is recorded, yet the \
                 ratings call for more than early intervention: confirm the diagnosis, or refer \
                 for mental health or medical care that matches the same risks."
                .to_owned(),
            Caution::NicotineOnlyDiagnosis => "Nicotine dependence (F17) is the only substance \
                 use disorder diagnosis recorded, and it does not on its own call for an SUD level \
                 of care, yet the ratings call for more than early intervention: confirm another \
                 substance use disorder diagnosis, or refer for mental health or medical care that \
                 matches the same risks; offer tobacco treatment either way."
                .to_owned(),
            Caution::CurrentSuicideRisk { screened_on, d3 } => {
                let review = if d3.value() < 3 {
                    format!(
                        " D3 is rated {d3}: review it, since the screen means at least 3 \
                         (significant)."
                    )
                } else {
                    String::new()
                };
                format!(
                    "Current suicide risk: the C-SSRS on {screened_on} was high risk. Arrange a \
                     same-day safety evaluation before placement in an outpatient level; rate D3 \
                     at 4 if the patient cannot be kept safe.{review}"
                )
            }
            Caution::ModerateSuicideRisk { screened_on } => format!(
                "The C-SSRS on {screened_on} was moderate risk: clinician review, behavioural \
                 health referral and safety precautions as needed before placement."
            ),
            Caution::SuicidalThoughtsReported { screened_on } => format!(
                "PHQ-9 item 9 (thoughts of death or self-harm) was endorsed on {screened_on}: \
                 evaluate suicide risk (e.g. C-SSRS) before placement, whatever the total."
            ),
        }
    }
}

/// Weekly hours of clinical service that define an ambulatory level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeeklyHours {
    /// The minimum, if the level has one.
    pub at_least: Option<u8>,
    /// The level ends below this many hours, if it has a ceiling.
    pub fewer_than: Option<u8>,
}

impl fmt::Display for WeeklyHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.at_least, self.fewer_than) {
            (Some(min), Some(max)) => write!(f, "{min} to fewer than {max} hours a week"),
            (Some(min), None) => write!(f, "at least {min} hours a week"),
            (None, Some(max)) => write!(f, "fewer than {max} hours a week"),
            (None, None) => f.write_str("no set hours"),
        }
    }
}

/// Weekly clinical hours for the ambulatory levels 1, 2.1 and 2.5 (REFERENCE §2.1).
pub fn weekly_hours(level: LevelOfCare, population: Population) -> Option<WeeklyHours> {
    // Adolescents' IOP floor is 6 hours, adults' 9 (SAMHSA 2021 Advisory, citing ASAM).
    let iop_floor = match population {
        Population::Adult => 9,
        Population::Adolescent => 6,
    };
    match level {
        LevelOfCare::Outpatient => Some(WeeklyHours {
            at_least: None,
            fewer_than: Some(iop_floor),
        }),
        LevelOfCare::IntensiveOutpatient => Some(WeeklyHours {
            at_least: Some(iop_floor),
            fewer_than: Some(20),
        }),
        LevelOfCare::PartialHospitalization => Some(WeeklyHours {
            at_least: Some(20),
            fewer_than: None,
        }),
        _ => None,
    }
}

/// The recommended level with every rule that fired, most intensive first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recommendation {
    /// The least intensive level that safely manages the highest-risk dimension(s).
    pub level: LevelOfCare,
    /// Service hours that level means for this population, for ambulatory levels.
    pub weekly_hours: Option<WeeklyHours>,
    /// Each rule that fired; `decisive` marks those that set the level.
    pub reasons: Vec<Reason>,
    /// Points the clinician must act on or confirm.
    pub cautions: Vec<Caution>,
}

/// Recommends a level of care from a complete ASAM rating set.
///
/// Decision support only, derived from ASAM principles (not the ASAM software): every rule that
/// fires sets a minimum level and the most intensive minimum wins, never an average. The
/// clinician records the actual placement and any discrepancy reason.
pub fn recommend(ratings: &DimensionRatings, context: &PlacementContext) -> Recommendation {
    let rating = |d: Dimension| ratings.rating(d);
    let at_least = |d: Dimension, value: u8| rating(d).value() >= value;
    let rated = |ds: &[Dimension]| -> Vec<(Dimension, Rating)> {
        ds.iter().map(|&d| (d, rating(d))).collect()
    };

    let mut fired: Vec<Fired> = Dimension::ALL
        .into_iter()
        .filter_map(|d| {
            Rule::for_rating(d, rating(d)).map(|rule| Fired::on_ratings(rule, rated(&[d])))
        })
        .collect();

    // Combinations: risks that an ambulatory setting could hold one at a time but not together.
    let (d4, d5, d6) = (
        Dimension::ReadinessToChange,
        Dimension::RelapsePotential,
        Dimension::RecoveryEnvironment,
    );
    if at_least(d5, 3) && at_least(d6, 3) {
        fired.push(Fired::on_ratings(
            Rule::RelapseInUnsupportiveEnvironment,
            rated(&[d5, d6]),
        ));
    }
    if at_least(d4, 4) && at_least(d5, 3) {
        fired.push(Fired::on_ratings(
            Rule::OppositionWithRelapse,
            rated(&[d4, d5]),
        ));
    }
    let significant: Vec<Dimension> = Dimension::ALL
        .into_iter()
        .filter(|&d| at_least(d, 3))
        .collect();
    if significant.len() >= 3 {
        fired.push(Fired::on_ratings(
            Rule::MultipleSignificant,
            rated(&significant),
        ));
    }
    // Columbia triage: high risk needs immediate evaluation, so it is never left to the D3
    // rating alone; it sets the level a D3 rating of 3 would.
    let d3 = Dimension::EmotionalBehavioralCognitive;
    let screens = context.suicide_screens;
    let high_risk_screen = screens
        .cssrs
        .filter(|s| s.result == CssrsRisk::High)
        .map(|s| s.on);
    if let Some(on) = high_risk_screen {
        fired.push(Fired {
            rule: Rule::CurrentSuicideRisk,
            ratings: rated(&[d3]),
            screen: Some(on),
        });
    }

    if fired.is_empty() {
        // Nothing above 1 anywhere: the diagnosis decides between outpatient and early intervention.
        let rule = match context.sud_diagnosis {
            SudDiagnosis::Qualifying => Rule::LowRiskWithDiagnosis,
            SudDiagnosis::NicotineOnly => Rule::LowRiskNicotineOnly,
            SudDiagnosis::None => Rule::LowRiskWithoutDiagnosis,
        };
        fired.push(Fired::on_ratings(rule, rated(&Dimension::ALL)));
    }

    // The rules never produce 1-OTP, so intensity order is a total order here.
    let level = fired
        .iter()
        .map(|f| f.rule.minimum_level())
        .max_by_key(|level| level.intensity())
        .unwrap_or(LevelOfCare::EarlyIntervention);

    let mut reasons: Vec<Reason> = fired.into_iter().map(|f| Reason::new(f, level)).collect();
    // Stable sort keeps table order among rules of equal intensity.
    reasons.sort_by_key(|r| std::cmp::Reverse(r.minimum_level.intensity()));

    let mut cautions = Vec::new();
    let imminent: Vec<Dimension> = Dimension::ALL
        .into_iter()
        .filter(|&d| rating(d) == Rating::SEVERE)
        .collect();
    if !imminent.is_empty() {
        cautions.push(Caution::ImminentDanger(imminent));
    }
    if let Some(screened_on) = high_risk_screen {
        cautions.push(Caution::CurrentSuicideRisk {
            screened_on,
            d3: rating(d3),
        });
    }
    if let Some(s) = screens.cssrs.filter(|s| s.result == CssrsRisk::Moderate) {
        cautions.push(Caution::ModerateSuicideRisk { screened_on: s.on });
    }
    if let Some(s) = screens.phq9_item9.filter(|s| s.result >= 1) {
        cautions.push(Caution::SuicidalThoughtsReported { screened_on: s.on });
    }
    if level != LevelOfCare::EarlyIntervention {
        match context.sud_diagnosis {
            SudDiagnosis::Qualifying => {}
            SudDiagnosis::NicotineOnly => cautions.push(Caution::NicotineOnlyDiagnosis),
            SudDiagnosis::None => cautions.push(Caution::NoSudDiagnosis),
        }
    }

    Recommendation {
        level,
        weekly_hours: weekly_hours(level, context.population),
        reasons,
        cautions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::placement::dimension::DimensionRating;

    const NO_SCREENS: SuicideScreens = SuicideScreens {
        cssrs: None,
        phq9_item9: None,
    };

    const ADULT: PlacementContext = PlacementContext {
        population: Population::Adult,
        sud_diagnosis: SudDiagnosis::Qualifying,
        suicide_screens: NO_SCREENS,
    };

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    fn screened_cssrs(risk: CssrsRisk) -> PlacementContext {
        PlacementContext {
            suicide_screens: SuicideScreens {
                cssrs: Some(Screened {
                    on: day(20),
                    result: risk,
                }),
                phq9_item9: None,
            },
            ..ADULT
        }
    }

    fn ratings(values: [i64; 6]) -> DimensionRatings {
        DimensionRatings::from_ratings(
            Dimension::ALL
                .into_iter()
                .zip(values)
                .map(|(d, v)| DimensionRating::new(d, v, "narrative").unwrap()),
        )
        .unwrap()
    }

    fn decisive_rules(rec: &Recommendation) -> Vec<&'static str> {
        rec.reasons
            .iter()
            .filter(|r| r.decisive)
            .map(|r| r.rule.id())
            .collect()
    }

    #[test]
    fn all_zero_with_diagnosis_is_outpatient() {
        let rec = recommend(&ratings([0; 6]), &ADULT);
        assert_eq!(rec.level, LevelOfCare::Outpatient);
        assert_eq!(decisive_rules(&rec), vec!["LOW"]);
        assert_eq!(rec.reasons[0].ratings.len(), 6);
        assert!(rec.reasons[0]
            .text
            .starts_with("All six dimensions rated 0–1"));
        assert!(rec.cautions.is_empty());
    }

    #[test]
    fn all_low_without_diagnosis_is_early_intervention() {
        let context = PlacementContext {
            sud_diagnosis: SudDiagnosis::None,
            ..ADULT
        };
        let rec = recommend(&ratings([0, 1, 1, 0, 1, 0]), &context);
        assert_eq!(rec.level, LevelOfCare::EarlyIntervention);
        assert_eq!(decisive_rules(&rec), vec!["LOW-NODX"]);
        assert_eq!(rec.weekly_hours, None);
        assert!(rec.cautions.is_empty());
    }

    #[test]
    fn mostly_twos_is_iop_not_an_average() {
        let rec = recommend(&ratings([1, 2, 2, 2, 2, 1]), &ADULT);
        assert_eq!(rec.level, LevelOfCare::IntensiveOutpatient);
        assert_eq!(decisive_rules(&rec), vec!["D2-2", "D3-2", "D4-2", "D5-2"]);
        assert_eq!(
            rec.weekly_hours,
            Some(WeeklyHours {
                at_least: Some(9),
                fewer_than: Some(20)
            })
        );
        // An average of 1.67 would round to 2 or 1; the rules do not average.
        let one_high = recommend(&ratings([0, 0, 0, 0, 0, 3]), &ADULT);
        assert_eq!(one_high.level, LevelOfCare::PartialHospitalization);
    }

    #[test]
    fn severe_withdrawal_is_medically_managed_inpatient() {
        let rec = recommend(&ratings([4, 1, 1, 2, 2, 1]), &ADULT);
        assert_eq!(rec.level, LevelOfCare::MedicallyManagedInpatient);
        assert_eq!(decisive_rules(&rec), vec!["D1-4"]);
        let first = &rec.reasons[0];
        assert_eq!(first.ratings, vec![(Dimension::Withdrawal, Rating::SEVERE)]);
        assert!(first
            .text
            .contains("D1 Acute intoxication and/or withdrawal potential rated 4"));
        assert!(first.text.contains("rule D1-4"));
        // The IOP-level rules still show, marked as not decisive.
        assert!(rec
            .reasons
            .iter()
            .any(|r| r.rule.id() == "D5-2" && !r.decisive));
        assert_eq!(
            rec.cautions,
            vec![Caution::ImminentDanger(vec![Dimension::Withdrawal])]
        );
        assert_eq!(rec.weekly_hours, None);

        let d1_3 = recommend(&ratings([3, 0, 0, 0, 0, 0]), &ADULT);
        assert_eq!(d1_3.level, LevelOfCare::MedicallyMonitoredInpatient);
        let d1_2 = recommend(&ratings([2, 0, 0, 0, 0, 0]), &ADULT);
        assert_eq!(d1_2.level, LevelOfCare::IntensiveOutpatient);
        assert!(d1_2.reasons[0].text.contains("withdrawal monitoring"));
    }

    #[test]
    fn biomedical_rules() {
        let d2 = |v| recommend(&ratings([0, v, 0, 0, 0, 0]), &ADULT).level;
        assert_eq!(d2(4), LevelOfCare::MedicallyManagedInpatient);
        assert_eq!(d2(3), LevelOfCare::MedicallyMonitoredInpatient);
        assert_eq!(d2(2), LevelOfCare::IntensiveOutpatient);
        assert_eq!(d2(1), LevelOfCare::Outpatient);
    }

    #[test]
    fn psychiatric_imminent_danger_is_level_four() {
        let rec = recommend(&ratings([0, 0, 4, 1, 1, 1]), &ADULT);
        assert_eq!(rec.level, LevelOfCare::MedicallyManagedInpatient);
        assert_eq!(decisive_rules(&rec), vec!["D3-4"]);
        assert_eq!(
            rec.cautions,
            vec![Caution::ImminentDanger(vec![
                Dimension::EmotionalBehavioralCognitive
            ])]
        );
        assert!(rec.cautions[0].message().contains("D3"));

        let d3_3 = recommend(&ratings([0, 0, 3, 1, 1, 1]), &ADULT);
        assert_eq!(d3_3.level, LevelOfCare::PartialHospitalization);
        assert_eq!(decisive_rules(&d3_3), vec!["D3-3"]);
    }

    #[test]
    fn relapse_and_environment_together_are_residential() {
        let rec = recommend(&ratings([1, 1, 2, 2, 3, 3]), &ADULT);
        assert_eq!(rec.level, LevelOfCare::ResidentialHighIntensity);
        assert_eq!(decisive_rules(&rec), vec!["D5+D6"]);
        let combo = &rec.reasons[0];
        assert_eq!(
            combo.ratings,
            vec![
                (Dimension::RelapsePotential, Rating::SIGNIFICANT),
                (Dimension::RecoveryEnvironment, Rating::SIGNIFICANT)
            ]
        );
        assert!(combo
            .text
            .contains(" and D6 Recovery/living environment rated 3"));
        assert!(rec.cautions.is_empty());
    }

    #[test]
    fn relapse_or_environment_alone_is_php() {
        let d5 = recommend(&ratings([1, 1, 1, 2, 3, 2]), &ADULT);
        assert_eq!(d5.level, LevelOfCare::PartialHospitalization);
        assert_eq!(decisive_rules(&d5), vec!["D5-3"]);
        let d6 = recommend(&ratings([1, 1, 1, 1, 2, 3]), &ADULT);
        assert_eq!(d6.level, LevelOfCare::PartialHospitalization);
        assert_eq!(decisive_rules(&d6), vec!["D6-3"]);
        assert!(d6.reasons[0].text.contains("recovery residence"));
        assert_eq!(
            d6.weekly_hours,
            Some(WeeklyHours {
                at_least: Some(20),
                fewer_than: None
            })
        );
    }

    #[test]
    fn rating_four_in_relapse_or_environment() {
        let d5 = recommend(&ratings([0, 0, 0, 1, 4, 1]), &ADULT);
        assert_eq!(d5.level, LevelOfCare::ResidentialHighIntensity);
        let d6 = recommend(&ratings([0, 0, 0, 1, 1, 4]), &ADULT);
        assert_eq!(d6.level, LevelOfCare::ResidentialLowIntensity);
        assert_eq!(decisive_rules(&d6), vec!["D6-4"]);
    }

    #[test]
    fn low_readiness_alone_stays_ambulatory() {
        let rec = recommend(&ratings([0, 0, 0, 4, 1, 1]), &ADULT);
        assert_eq!(rec.level, LevelOfCare::IntensiveOutpatient);
        assert_eq!(decisive_rules(&rec), vec!["D4-2"]);
        let opposed = recommend(&ratings([0, 0, 0, 4, 3, 1]), &ADULT);
        assert_eq!(opposed.level, LevelOfCare::ResidentialHighIntensity);
        assert_eq!(decisive_rules(&opposed), vec!["D4+D5"]);
    }

    #[test]
    fn three_significant_dimensions_are_residential() {
        let rec = recommend(&ratings([0, 0, 3, 3, 3, 2]), &ADULT);
        assert_eq!(rec.level, LevelOfCare::ResidentialHighIntensity);
        assert_eq!(decisive_rules(&rec), vec!["MULTI"]);
        assert_eq!(rec.reasons[0].ratings.len(), 3);
        assert!(rec.reasons[0].text.contains(
            "complications rated 3 (significant), D4 Readiness to change rated 3 (significant) and D5 Relapse"
        ));
        let all = recommend(&ratings([3; 6]), &ADULT);
        let multi = all
            .reasons
            .iter()
            .find(|r| r.rule == Rule::MultipleSignificant);
        assert!(multi.is_some_and(|r| r.text.starts_with("D1 Acute") && r.ratings.len() == 6));
        let two = recommend(&ratings([0, 0, 3, 2, 3, 2]), &ADULT);
        assert_eq!(two.level, LevelOfCare::PartialHospitalization);
    }

    #[test]
    fn adolescent_uses_adolescent_hours() {
        let adolescent = PlacementContext {
            population: Population::Adolescent,
            ..ADULT
        };
        let values = [1, 0, 2, 2, 2, 2];
        let rec = recommend(&ratings(values), &adolescent);
        assert_eq!(rec.level, LevelOfCare::IntensiveOutpatient);
        assert_eq!(
            rec.weekly_hours,
            Some(WeeklyHours {
                at_least: Some(6),
                fewer_than: Some(20)
            })
        );
        assert_eq!(
            rec.weekly_hours.map(|h| h.to_string()),
            Some("6 to fewer than 20 hours a week".to_owned())
        );
        // Same ratings, same level for an adult; only the hours differ.
        let adult = recommend(&ratings(values), &ADULT);
        assert_eq!(adult.level, rec.level);
        assert_eq!(adult.weekly_hours.and_then(|h| h.at_least), Some(9));
        let low = recommend(&ratings([0; 6]), &adolescent);
        assert_eq!(
            low.weekly_hours,
            Some(WeeklyHours {
                at_least: None,
                fewer_than: Some(6)
            })
        );
    }

    #[test]
    fn higher_level_without_diagnosis_is_flagged() {
        let context = PlacementContext {
            sud_diagnosis: SudDiagnosis::None,
            ..ADULT
        };
        let rec = recommend(&ratings([0, 0, 3, 1, 1, 1]), &context);
        assert_eq!(rec.level, LevelOfCare::PartialHospitalization);
        assert_eq!(rec.cautions, vec![Caution::NoSudDiagnosis]);
    }

    #[test]
    fn high_suicide_risk_screen_sets_partial_hospital_and_a_same_day_caution() {
        // All ratings low: without the screen this would be outpatient (rule LOW).
        let rec = recommend(
            &ratings([0, 0, 1, 0, 1, 0]),
            &screened_cssrs(CssrsRisk::High),
        );
        assert_eq!(rec.level, LevelOfCare::PartialHospitalization);
        assert_eq!(decisive_rules(&rec), vec!["SR"]);
        assert!(rec.reasons[0].text.starts_with(
            "C-SSRS high risk on 2026-11-20 (D3 Emotional, behavioral or cognitive conditions and \
             complications rated 1 (mild)): current suicide risk"
        ));
        assert!(!rec
            .reasons
            .iter()
            .any(|r| r.rule == Rule::LowRiskWithDiagnosis));
        assert_eq!(
            rec.cautions,
            vec![Caution::CurrentSuicideRisk {
                screened_on: day(20),
                d3: Rating::MILD
            }]
        );
        let message = rec.cautions[0].message();
        assert!(message.contains("same-day safety evaluation before placement in an outpatient"));
        assert!(message.contains("D3 is rated 1 (mild): review it"));
        // Already rated significant: no request to review D3, level unchanged.
        let d3_3 = recommend(
            &ratings([0, 0, 3, 0, 1, 0]),
            &screened_cssrs(CssrsRisk::High),
        );
        assert_eq!(d3_3.level, LevelOfCare::PartialHospitalization);
        assert!(!d3_3.cautions[0].message().contains("review it"));
        // Higher-level rules still win.
        let d3_4 = recommend(
            &ratings([0, 0, 4, 0, 1, 0]),
            &screened_cssrs(CssrsRisk::High),
        );
        assert_eq!(d3_4.level, LevelOfCare::MedicallyManagedInpatient);
        assert!(d3_4
            .reasons
            .iter()
            .any(|r| r.rule == Rule::CurrentSuicideRisk && !r.decisive));
    }

    #[test]
    fn moderate_and_low_screens_caution_without_changing_the_level() {
        let values = [0, 0, 1, 0, 1, 0];
        let moderate = recommend(&ratings(values), &screened_cssrs(CssrsRisk::Moderate));
        assert_eq!(moderate.level, LevelOfCare::Outpatient);
        assert_eq!(
            moderate.cautions,
            vec![Caution::ModerateSuicideRisk {
                screened_on: day(20)
            }]
        );
        for risk in [CssrsRisk::Low, CssrsRisk::NoRisk] {
            let rec = recommend(&ratings(values), &screened_cssrs(risk));
            assert_eq!(rec, recommend(&ratings(values), &ADULT), "{risk:?}");
        }
    }

    #[test]
    fn phq9_item9_endorsed_adds_a_caution() {
        let item9 = |answer| PlacementContext {
            suicide_screens: SuicideScreens {
                cssrs: None,
                phq9_item9: Some(Screened {
                    on: day(18),
                    result: answer,
                }),
            },
            ..ADULT
        };
        let rec = recommend(&ratings([0, 0, 2, 0, 1, 0]), &item9(1));
        assert_eq!(rec.level, LevelOfCare::IntensiveOutpatient);
        assert_eq!(
            rec.cautions,
            vec![Caution::SuicidalThoughtsReported {
                screened_on: day(18)
            }]
        );
        assert!(rec.cautions[0]
            .message()
            .contains("evaluate suicide risk (e.g. C-SSRS) before placement"));
        assert!(recommend(&ratings([0, 0, 2, 0, 1, 0]), &item9(0))
            .cautions
            .is_empty());
    }

    #[test]
    fn only_screens_from_the_30_days_up_to_the_assessment_count() {
        let assessed = day(30);
        let cssrs = |on| {
            Some(Screened {
                on,
                result: CssrsRisk::High,
            })
        };
        let item9 = |on| Some(Screened { on, result: 2 });
        let kept =
            SuicideScreens::recent(assessed, cssrs(day(1) - Duration::days(1)), item9(day(30)));
        assert_eq!(kept.cssrs.map(|s| s.on), Some(day(1) - Duration::days(1)));
        assert_eq!(kept.phq9_item9.map(|s| s.on), Some(day(30)));
        let old = assessed - Duration::days(RECENT_SCREEN_DAYS + 1);
        let after = assessed + Duration::days(1);
        assert_eq!(
            SuicideScreens::recent(assessed, cssrs(old), item9(after)),
            SuicideScreens::default()
        );
    }

    #[test]
    fn nicotine_alone_is_early_intervention_with_a_reason() {
        let nicotine = PlacementContext {
            sud_diagnosis: SudDiagnosis::NicotineOnly,
            ..ADULT
        };
        let rec = recommend(&ratings([0, 1, 1, 0, 1, 0]), &nicotine);
        assert_eq!(rec.level, LevelOfCare::EarlyIntervention);
        assert_eq!(decisive_rules(&rec), vec!["LOW-NIC"]);
        assert!(rec.reasons[0]
            .text
            .contains("nicotine dependence (F17) is the only substance use disorder diagnosis"));
        assert!(rec.cautions.is_empty());
        // Higher ratings: the level follows them, and the clinician is told why it is doubtful.
        let higher = recommend(&ratings([0, 0, 2, 2, 2, 1]), &nicotine);
        assert_eq!(higher.level, LevelOfCare::IntensiveOutpatient);
        assert_eq!(higher.cautions, vec![Caution::NicotineOnlyDiagnosis]);
        assert!(higher.cautions[0]
            .message()
            .starts_with("Nicotine dependence (F17) is the only substance use disorder"));
    }

    #[test]
    fn every_rule_is_documented() {
        let doc = include_str!("../../../../docs/clinical-rules/placement.md");
        for rule in Rule::ALL {
            let row = format!(
                "| {} | {} | {} ",
                rule.id(),
                rule.condition(),
                rule.minimum_level().code()
            );
            assert!(
                doc.contains(&row),
                "docs/clinical-rules/placement.md lacks the row {row:?}"
            );
        }
    }

    #[test]
    fn every_rule_fires_somewhere_and_more_risk_never_lowers_the_level() {
        let mut seen = std::collections::HashSet::new();
        let with_diagnosis = |sud_diagnosis| PlacementContext {
            sud_diagnosis,
            ..ADULT
        };
        for context in [
            ADULT,
            with_diagnosis(SudDiagnosis::None),
            with_diagnosis(SudDiagnosis::NicotineOnly),
            screened_cssrs(CssrsRisk::High),
            screened_cssrs(CssrsRisk::Moderate),
        ] {
            // All 5^6 rating sets.
            for n in 0..5i64.pow(6) {
                let values: [i64; 6] = std::array::from_fn(|i| n / 5i64.pow(i as u32) % 5);
                let rec = recommend(&ratings(values), &context);
                seen.extend(rec.reasons.iter().map(|r| r.rule));
                assert!(rec.reasons.iter().any(|r| r.decisive));
                for i in 0..6 {
                    if values[i] < 4 {
                        let mut higher = values;
                        higher[i] += 1;
                        let up = recommend(&ratings(higher), &context);
                        assert!(
                            up.level.intensity() >= rec.level.intensity(),
                            "{values:?} -> {higher:?} lowered the level"
                        );
                    }
                }
            }
        }
        assert_eq!(seen.len(), Rule::ALL.len());
    }
}
