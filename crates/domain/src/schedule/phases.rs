//! Phases inside the program and the step-down / step-up recommendation.
//!
//! Programs taper: e.g. five sessions a week in the first phase, three in a later one. These
//! functions only *recommend*, each criterion with its own met / not-met status and reason; the
//! clinician decides and records the decision. Every threshold is a program setting: TIP 47 names
//! no phase durations and no promotion criteria.

use serde::{Deserialize, Serialize};

use super::attendance::AttendanceStatus;
use super::hours::HoursStatus;
use super::ScheduleError;
use crate::care::LevelOfCare;

/// One phase of the program and what it asks of the patient each week.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phase {
    /// Name staff see ("Early recovery").
    pub name: String,
    /// Treatment days required per week.
    pub days_per_week: u8,
    /// Service minutes required per week.
    pub weekly_minutes: u32,
}

impl Phase {
    /// Whether a week with these treatment days and minutes meets the phase's requirement.
    pub fn week_met(&self, days_attended: u8, minutes: u32) -> bool {
        days_attended >= self.days_per_week && minutes >= self.weekly_minutes
    }
}

/// The program's phases, most intensive first, and where patients go beyond either end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PhasePlan {
    phases: Vec<Phase>,
    below: LevelOfCare,
    above: LevelOfCare,
}

/// A drug screen's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScreenResult {
    /// No substance detected.
    Negative,
    /// A substance detected (not explained by a prescription).
    Positive,
    /// Dilute, adulterated, refused or not testable; never counts as negative.
    Invalid,
}

/// What the patient's record shows for the current phase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseProgress {
    /// Index of the current phase in the plan.
    pub phase: usize,
    /// Whole weeks in the current phase.
    pub weeks_in_phase: u32,
    /// Attendance at each scheduled session in the phase.
    pub attendance: Vec<AttendanceStatus>,
    /// Drug screens, oldest first.
    pub screens: Vec<ScreenResult>,
    /// Treatment-plan objectives marked met.
    pub objectives_met: u32,
    /// Whether a high-risk flag (e.g. suicide risk, overdose) is open.
    pub open_high_risk_flag: bool,
    /// Weekly hours status, oldest first.
    pub weekly_hours: Vec<HoursStatus>,
}

/// When a patient is ready to step down a phase (program settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionCriteria {
    /// Minimum whole weeks in the current phase.
    pub min_weeks_in_phase: u32,
    /// Minimum attendance rate, in percent.
    pub min_attendance_percent: u32,
    /// How many of the latest screens must all be negative.
    pub negative_screens: usize,
    /// Minimum treatment-plan objectives met.
    pub objectives_met: u32,
    /// Whether an open high-risk flag blocks a step down.
    pub no_open_high_risk_flag: bool,
    /// Whether excused absences count as missed sessions (by default they leave the rate alone).
    pub excused_count_as_missed: bool,
}

impl Default for PromotionCriteria {
    fn default() -> Self {
        PromotionCriteria {
            min_weeks_in_phase: 4,
            min_attendance_percent: 80,
            negative_screens: 2,
            objectives_met: 1,
            no_open_high_risk_flag: true,
            excused_count_as_missed: false,
        }
    }
}

/// What suggests a patient needs more intensive care (program settings); any one is enough.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepUpTriggers {
    /// Consecutive latest weeks under the weekly minimum (0 disables).
    pub weeks_under_minimum: usize,
    /// Positive or invalid screens among the latest `screen_window` (0 disables).
    pub positive_screens: usize,
    /// How many of the latest screens to look at.
    pub screen_window: usize,
    /// Whether an open high-risk flag triggers.
    pub high_risk_flag: bool,
}

impl Default for StepUpTriggers {
    fn default() -> Self {
        StepUpTriggers {
            weeks_under_minimum: 2,
            positive_screens: 2,
            screen_window: 3,
            high_risk_flag: true,
        }
    }
}

/// A single rule the recommendation checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Criterion {
    /// Long enough in the phase.
    WeeksInPhase,
    /// Attending enough sessions.
    AttendanceRate,
    /// Latest screens negative.
    NegativeScreens,
    /// Enough objectives met.
    ObjectivesMet,
    /// No open high-risk flag.
    NoHighRiskFlag,
    /// Under the weekly minimum hours for consecutive weeks.
    UnderMinimumHours,
    /// Recent positive or invalid screens.
    PositiveScreens,
    /// An open high-risk flag.
    HighRiskFlag,
}

impl Criterion {
    /// The label staff see.
    pub fn label(self) -> &'static str {
        match self {
            Criterion::WeeksInPhase => "weeks in phase",
            Criterion::AttendanceRate => "attendance rate",
            Criterion::NegativeScreens => "negative drug screens",
            Criterion::ObjectivesMet => "treatment-plan objectives met",
            Criterion::NoHighRiskFlag => "no open high-risk flag",
            Criterion::UnderMinimumHours => "under minimum weekly hours",
            Criterion::PositiveScreens => "positive drug screens",
            Criterion::HighRiskFlag => "open high-risk flag",
        }
    }
}

/// One criterion's outcome and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CriterionCheck {
    /// Which criterion.
    pub criterion: Criterion,
    /// Whether it is met.
    pub met: bool,
    /// The numbers behind it.
    pub reason: String,
}

/// Which way the recommendation looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// To a less intensive phase or level.
    StepDown,
    /// To a more intensive phase or level.
    StepUp,
}

/// Where a step would take the patient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Destination {
    /// Another phase of this program.
    Phase {
        /// Index in the plan.
        index: usize,
        /// The phase's name.
        name: String,
    },
    /// Out of the program, to another level of care.
    Level {
        /// The level.
        level: LevelOfCare,
    },
}

/// A recommendation for the clinician, with every criterion checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recommendation {
    /// Step down or up.
    pub direction: Direction,
    /// Whether the rules recommend the step.
    pub recommended: bool,
    /// Where the step would go.
    pub destination: Destination,
    /// Each criterion's outcome.
    pub checks: Vec<CriterionCheck>,
    /// One sentence for the clinician.
    pub summary: String,
}

impl PhasePlan {
    /// A checked plan: at least one phase, 1–7 days a week each; `below` and `above` are the levels
    /// of care past the last and before the first phase (e.g. outpatient and PHP).
    pub fn new(
        phases: Vec<Phase>,
        below: LevelOfCare,
        above: LevelOfCare,
    ) -> Result<Self, ScheduleError> {
        if phases.is_empty() {
            return Err(ScheduleError::InvalidSetting(
                "a program needs at least one phase".into(),
            ));
        }
        if let Some(p) = phases.iter().find(|p| !(1..=7).contains(&p.days_per_week)) {
            return Err(ScheduleError::InvalidSetting(format!(
                "phase {:?} asks for {} days a week; it must be 1 to 7",
                p.name, p.days_per_week
            )));
        }
        Ok(PhasePlan {
            phases,
            below,
            above,
        })
    }

    /// The phases, most intensive first.
    pub fn phases(&self) -> &[Phase] {
        &self.phases
    }

    fn check_phase(&self, progress: &PhaseProgress) -> Result<(), ScheduleError> {
        if progress.phase >= self.phases.len() {
            return Err(ScheduleError::InvalidSetting(format!(
                "phase {} is not in a plan of {} phases",
                progress.phase,
                self.phases.len()
            )));
        }
        Ok(())
    }

    fn destination(&self, index: Option<usize>, level: LevelOfCare) -> Destination {
        match index.and_then(|i| self.phases.get(i).map(|p| (i, p))) {
            Some((index, p)) => Destination::Phase {
                index,
                name: p.name.clone(),
            },
            None => Destination::Level { level },
        }
    }

    /// Whether the patient meets every promotion criterion for the next phase (or the level below).
    pub fn recommend_step_down(
        &self,
        progress: &PhaseProgress,
        criteria: &PromotionCriteria,
    ) -> Result<Recommendation, ScheduleError> {
        self.check_phase(progress)?;
        let mut checks = vec![
            CriterionCheck {
                criterion: Criterion::WeeksInPhase,
                met: progress.weeks_in_phase >= criteria.min_weeks_in_phase,
                reason: format!(
                    "{} weeks in phase (needs at least {})",
                    progress.weeks_in_phase, criteria.min_weeks_in_phase
                ),
            },
            attendance_check(&progress.attendance, criteria),
            negative_screens_check(&progress.screens, criteria.negative_screens),
            CriterionCheck {
                criterion: Criterion::ObjectivesMet,
                met: progress.objectives_met >= criteria.objectives_met,
                reason: format!(
                    "{} objectives met (needs at least {})",
                    progress.objectives_met, criteria.objectives_met
                ),
            },
        ];
        if criteria.no_open_high_risk_flag {
            checks.push(CriterionCheck {
                criterion: Criterion::NoHighRiskFlag,
                met: !progress.open_high_risk_flag,
                reason: if progress.open_high_risk_flag {
                    "a high-risk flag is open".into()
                } else {
                    "no open high-risk flag".into()
                },
            });
        }
        let destination = self.destination(progress.phase.checked_add(1), self.below);
        let unmet: Vec<&str> = checks
            .iter()
            .filter(|c| !c.met)
            .map(|c| c.criterion.label())
            .collect();
        let recommended = unmet.is_empty();
        let summary = if recommended {
            format!(
                "Step down to {} recommended: all {} criteria met. The clinician decides.",
                describe(&destination),
                checks.len()
            )
        } else {
            format!(
                "Step down to {} not recommended yet: {} of {} criteria not met ({}).",
                describe(&destination),
                unmet.len(),
                checks.len(),
                unmet.join(", ")
            )
        };
        Ok(Recommendation {
            direction: Direction::StepDown,
            recommended,
            destination,
            checks,
            summary,
        })
    }

    /// Whether anything suggests the previous phase (or the level above) is needed.
    pub fn recommend_step_up(
        &self,
        progress: &PhaseProgress,
        triggers: &StepUpTriggers,
    ) -> Result<Recommendation, ScheduleError> {
        self.check_phase(progress)?;
        let mut checks = Vec::new();
        if triggers.weeks_under_minimum > 0 {
            let running = progress
                .weekly_hours
                .iter()
                .rev()
                .take_while(|s| **s == HoursStatus::UnderMinimum)
                .count();
            checks.push(CriterionCheck {
                criterion: Criterion::UnderMinimumHours,
                met: running >= triggers.weeks_under_minimum,
                reason: format!(
                    "under the weekly minimum {running} weeks running (concern at {})",
                    triggers.weeks_under_minimum
                ),
            });
        }
        if triggers.positive_screens > 0 {
            let recent = last(&progress.screens, triggers.screen_window);
            let positive = recent
                .iter()
                .filter(|s| **s != ScreenResult::Negative)
                .count();
            checks.push(CriterionCheck {
                criterion: Criterion::PositiveScreens,
                met: positive >= triggers.positive_screens,
                reason: format!(
                    "{positive} positive or invalid of the last {} screens (concern at {})",
                    recent.len(),
                    triggers.positive_screens
                ),
            });
        }
        if triggers.high_risk_flag {
            checks.push(CriterionCheck {
                criterion: Criterion::HighRiskFlag,
                met: progress.open_high_risk_flag,
                reason: if progress.open_high_risk_flag {
                    "a high-risk flag is open".into()
                } else {
                    "no open high-risk flag".into()
                },
            });
        }
        let destination = self.destination(progress.phase.checked_sub(1), self.above);
        let hit: Vec<&str> = checks
            .iter()
            .filter(|c| c.met)
            .map(|c| c.criterion.label())
            .collect();
        let recommended = !hit.is_empty();
        let summary = if recommended {
            format!(
                "Consider a step up to {}: {}. The clinician decides.",
                describe(&destination),
                hit.join(", ")
            )
        } else {
            "No sign that more intensive care is needed.".to_owned()
        };
        Ok(Recommendation {
            direction: Direction::StepUp,
            recommended,
            destination,
            checks,
            summary,
        })
    }
}

/// Attended sessions over counted sessions, against the minimum percentage.
fn attendance_check(
    attendance: &[AttendanceStatus],
    criteria: &PromotionCriteria,
) -> CriterionCheck {
    let attended = attendance.iter().filter(|s| s.attended()).count();
    let counted = attendance
        .iter()
        .filter(|s| criteria.excused_count_as_missed || **s != AttendanceStatus::AbsentExcused)
        .count();
    let (met, reason) = if counted == 0 {
        (false, "no sessions to judge attendance by".to_owned())
    } else {
        // Integer comparison so that exactly 80 % meets an 80 % bar.
        let met = attended * 100 >= criteria.min_attendance_percent as usize * counted;
        (
            met,
            format!(
                "attended {attended} of {counted} sessions ({}%; needs at least {}%)",
                attended * 100 / counted,
                criteria.min_attendance_percent
            ),
        )
    };
    CriterionCheck {
        criterion: Criterion::AttendanceRate,
        met,
        reason,
    }
}

/// The latest `k` screens must all be negative; too few screens is not met.
fn negative_screens_check(screens: &[ScreenResult], k: usize) -> CriterionCheck {
    let recent = last(screens, k);
    let (met, reason) = if recent.len() < k {
        (
            false,
            format!(
                "{} screens on record (needs the last {k} negative)",
                screens.len()
            ),
        )
    } else if recent.iter().all(|s| *s == ScreenResult::Negative) {
        (true, format!("the last {k} screens are negative"))
    } else {
        let bad = recent
            .iter()
            .filter(|s| **s != ScreenResult::Negative)
            .count();
        (
            false,
            format!("{bad} of the last {k} screens not negative (needs all {k})"),
        )
    };
    CriterionCheck {
        criterion: Criterion::NegativeScreens,
        met,
        reason,
    }
}

/// The last `n` items (all of them if fewer).
fn last<T>(items: &[T], n: usize) -> &[T] {
    &items[items.len().saturating_sub(n)..]
}

fn describe(destination: &Destination) -> String {
    match destination {
        Destination::Phase { name, .. } => format!("phase \"{name}\""),
        Destination::Level { level } => format!("level {level}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AttendanceStatus::*;
    use ScreenResult::*;

    fn plan() -> PhasePlan {
        PhasePlan::new(
            vec![
                Phase {
                    name: "Engagement".into(),
                    days_per_week: 5,
                    weekly_minutes: 15 * 60,
                },
                Phase {
                    name: "Early recovery".into(),
                    days_per_week: 3,
                    weekly_minutes: 9 * 60,
                },
            ],
            LevelOfCare::Outpatient,
            LevelOfCare::PartialHospitalization,
        )
        .unwrap()
    }

    fn ready() -> PhaseProgress {
        PhaseProgress {
            phase: 0,
            weeks_in_phase: 4,
            // 8 attended of 10 counted (the excused absence is not counted): exactly 80 %.
            attendance: vec![
                Present,
                Present,
                Late,
                Present,
                LeftEarly,
                Present,
                AbsentExcused,
                Present,
                AbsentUnexcused,
                Present,
                AbsentUnexcused,
            ],
            screens: vec![Positive, Negative, Negative],
            objectives_met: 1,
            open_high_risk_flag: false,
            weekly_hours: vec![HoursStatus::UnderMinimum, HoursStatus::Within],
        }
    }

    #[test]
    fn step_down_recommended_when_every_criterion_is_met() {
        let r = plan()
            .recommend_step_down(&ready(), &PromotionCriteria::default())
            .unwrap();
        assert!(r.recommended);
        assert_eq!(
            r.destination,
            Destination::Phase {
                index: 1,
                name: "Early recovery".into()
            }
        );
        let reasons: Vec<_> = r
            .checks
            .iter()
            .map(|c| (c.met, c.reason.as_str()))
            .collect();
        assert_eq!(
            reasons,
            vec![
                (true, "4 weeks in phase (needs at least 4)"),
                (true, "attended 8 of 10 sessions (80%; needs at least 80%)"),
                (true, "the last 2 screens are negative"),
                (true, "1 objectives met (needs at least 1)"),
                (true, "no open high-risk flag"),
            ]
        );
        assert_eq!(
            r.summary,
            "Step down to phase \"Early recovery\" recommended: all 5 criteria met. The clinician decides."
        );
    }

    #[test]
    fn step_down_not_recommended_lists_what_is_missing() {
        let mut p = ready();
        p.weeks_in_phase = 3;
        p.screens = vec![Negative, Invalid];
        p.open_high_risk_flag = true;
        let r = plan()
            .recommend_step_down(&p, &PromotionCriteria::default())
            .unwrap();
        assert!(!r.recommended);
        let met: Vec<_> = r.checks.iter().map(|c| (c.criterion, c.met)).collect();
        assert_eq!(
            met,
            vec![
                (Criterion::WeeksInPhase, false),
                (Criterion::AttendanceRate, true),
                (Criterion::NegativeScreens, false),
                (Criterion::ObjectivesMet, true),
                (Criterion::NoHighRiskFlag, false),
            ]
        );
        assert_eq!(
            r.checks[2].reason,
            "1 of the last 2 screens not negative (needs all 2)"
        );
        assert_eq!(
            r.summary,
            "Step down to phase \"Early recovery\" not recommended yet: 3 of 5 criteria not met \
             (weeks in phase, negative drug screens, no open high-risk flag)."
        );
    }

    #[test]
    fn attendance_and_screens_at_the_edges() {
        let strict = PromotionCriteria {
            excused_count_as_missed: true,
            ..PromotionCriteria::default()
        };
        let r = plan().recommend_step_down(&ready(), &strict).unwrap();
        // 8 of 11 = 72 %.
        assert!(!r.checks[1].met);
        assert_eq!(
            r.checks[1].reason,
            "attended 8 of 11 sessions (72%; needs at least 80%)"
        );
        let mut p = ready();
        p.attendance.clear();
        p.screens = vec![Negative];
        let r = plan()
            .recommend_step_down(&p, &PromotionCriteria::default())
            .unwrap();
        assert_eq!(r.checks[1].reason, "no sessions to judge attendance by");
        assert_eq!(
            r.checks[2].reason,
            "1 screens on record (needs the last 2 negative)"
        );
        assert!(!r.checks[2].met);
    }

    #[test]
    fn last_phase_steps_down_to_the_level_below() {
        let mut p = ready();
        p.phase = 1;
        let r = plan()
            .recommend_step_down(&p, &PromotionCriteria::default())
            .unwrap();
        assert_eq!(
            r.destination,
            Destination::Level {
                level: LevelOfCare::Outpatient
            }
        );
        assert!(r
            .summary
            .starts_with("Step down to level 1 Outpatient recommended"));
    }

    #[test]
    fn step_up_on_two_weeks_under_minimum() {
        let mut p = ready();
        p.phase = 1;
        p.weekly_hours = vec![
            HoursStatus::Within,
            HoursStatus::UnderMinimum,
            HoursStatus::UnderMinimum,
        ];
        let r = plan()
            .recommend_step_up(&p, &StepUpTriggers::default())
            .unwrap();
        assert!(r.recommended);
        assert_eq!(
            r.destination,
            Destination::Phase {
                index: 0,
                name: "Engagement".into()
            }
        );
        let reasons: Vec<_> = r
            .checks
            .iter()
            .map(|c| (c.met, c.reason.as_str()))
            .collect();
        assert_eq!(
            reasons,
            vec![
                (
                    true,
                    "under the weekly minimum 2 weeks running (concern at 2)"
                ),
                (
                    false,
                    "1 positive or invalid of the last 3 screens (concern at 2)"
                ),
                (false, "no open high-risk flag"),
            ]
        );
        assert_eq!(
            r.summary,
            "Consider a step up to phase \"Engagement\": under minimum weekly hours. The clinician decides."
        );
    }

    #[test]
    fn step_up_from_the_first_phase_goes_to_the_level_above() {
        let mut p = ready();
        p.screens = vec![Negative, Positive, Positive];
        p.open_high_risk_flag = true;
        let r = plan()
            .recommend_step_up(&p, &StepUpTriggers::default())
            .unwrap();
        assert!(r.recommended);
        assert_eq!(
            r.destination,
            Destination::Level {
                level: LevelOfCare::PartialHospitalization
            }
        );
        assert_eq!(
            r.summary,
            "Consider a step up to level 2.5 Partial hospitalization (PHP): positive drug screens, \
             open high-risk flag. The clinician decides."
        );
        let calm = plan()
            .recommend_step_up(&ready(), &StepUpTriggers::default())
            .unwrap();
        assert!(!calm.recommended);
        assert_eq!(calm.summary, "No sign that more intensive care is needed.");
    }

    #[test]
    fn phase_requirements_and_bad_plans() {
        let program = plan();
        let early = &program.phases()[1];
        assert!(early.week_met(3, 540));
        assert!(!early.week_met(2, 600));
        assert!(!early.week_met(3, 539));
        let err = PhasePlan::new(
            vec![],
            LevelOfCare::Outpatient,
            LevelOfCare::PartialHospitalization,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid setting: a program needs at least one phase"
        );
        let bad = Phase {
            name: "Daily".into(),
            days_per_week: 8,
            weekly_minutes: 600,
        };
        assert!(PhasePlan::new(
            vec![bad],
            LevelOfCare::Outpatient,
            LevelOfCare::PartialHospitalization
        )
        .is_err());
        let mut p = ready();
        p.phase = 2;
        assert_eq!(
            plan()
                .recommend_step_down(&p, &PromotionCriteria::default())
                .unwrap_err()
                .to_string(),
            "invalid setting: phase 2 is not in a plan of 2 phases"
        );
    }
}
