//! Phases inside the program and the step-down / step-up recommendation.
//!
//! Programs taper: e.g. five sessions a week in the first phase, three in a later one. The rules
//! only *recommend*, each criterion with its own status and reason; the clinician decides and
//! records the decision. One function, [`PhasePlan::recommend`], decides the direction (step down,
//! stay or step up), so the two can never disagree. The progress thresholds are program settings
//! (TIP 47 names no phase durations and no promotion criteria), but the safety checks are not:
//! an open safety flag of moderate or high severity, an unanswered safety task, any step-up sign,
//! or the latest weeks under the phase's weekly hours always block a step down. A setting that
//! switches a check off is named in the summary. docs/clinical-rules/phases.md has the sources.

use serde::{Deserialize, Serialize};

use super::attendance::AttendanceStatus;
use super::hours::HoursStatus;
use super::ScheduleError;
use crate::care::LevelOfCare;

/// How many of the latest whole weeks in the phase must meet its weekly hours before a step down.
pub const STEP_DOWN_HOURS_WEEKS: usize = 2;

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
    /// A substance detected that no coded prescription explains.
    Positive,
    /// Dilute, adulterated, refused or not testable, or a MOUD adherence finding (the medication
    /// not detected, or its parent drug without the metabolite); never counts as negative.
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
    /// Drug screens in the phase, oldest first; `None` when Trellis holds none.
    pub screens: Option<Vec<ScreenResult>>,
    /// Treatment-plan objectives marked met; `None` without a signed plan.
    pub objectives_met: Option<u32>,
    /// Open safety flags of any severity (moderate or high).
    pub open_flags: u32,
    /// How many of those are high severity (e.g. suicide risk, overdose risk).
    pub open_high_flags: u32,
    /// Safety tasks still unanswered (a flag's response not yet recorded).
    pub open_safety_tasks: u32,
    /// Weekly hours status of each whole week in the phase, oldest first.
    pub weekly_hours: Vec<HoursStatus>,
}

/// When a patient is ready to step down a phase (program settings; 0 switches a check off).
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
            excused_count_as_missed: false,
        }
    }
}

/// What suggests a patient needs more intensive care (program settings; 0 switches a sign off).
/// An open high-severity flag is always a sign and is not a setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepUpTriggers {
    /// Consecutive latest weeks under the weekly minimum.
    pub weeks_under_minimum: usize,
    /// Positive or invalid screens among the latest `screen_window`.
    pub positive_screens: usize,
    /// How many of the latest screens to look at.
    pub screen_window: usize,
}

impl Default for StepUpTriggers {
    fn default() -> Self {
        StepUpTriggers {
            weeks_under_minimum: 2,
            positive_screens: 2,
            screen_window: 3,
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
    /// Safety: the latest whole weeks meet the phase's weekly hours.
    WeeklyHoursMet,
    /// Safety: no open flag of moderate or high severity (code kept from when only high counted).
    NoHighRiskFlag,
    /// Safety: no unanswered safety task.
    NoOpenSafetyTask,
    /// Safety: no sign that more intensive care is needed.
    NoStepUpSign,
    /// Under the weekly minimum hours for consecutive weeks.
    UnderMinimumHours,
    /// Recent positive or invalid screens.
    PositiveScreens,
    /// An open high-severity flag.
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
            Criterion::WeeklyHoursMet => "weekly hours met",
            Criterion::NoHighRiskFlag => "no open safety flag",
            Criterion::NoOpenSafetyTask => "no unanswered safety task",
            Criterion::NoStepUpSign => "no step-up sign",
            Criterion::UnderMinimumHours => "under minimum weekly hours",
            Criterion::PositiveScreens => "positive drug screens",
            Criterion::HighRiskFlag => "open high-severity flag",
        }
    }

    /// Whether this is a safety check that no program setting can switch off.
    pub fn is_safety(self) -> bool {
        matches!(
            self,
            Criterion::WeeklyHoursMet
                | Criterion::NoHighRiskFlag
                | Criterion::NoOpenSafetyTask
                | Criterion::NoStepUpSign
                | Criterion::HighRiskFlag
        )
    }
}

/// How a criterion stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// Met (for a step-up sign: the concern is present).
    Met,
    /// Not met (for a step-up sign: no concern).
    NotMet,
    /// Trellis holds no data for it; the clinician checks it elsewhere.
    NotRecorded,
    /// Switched off in the program's settings; named in the summary.
    SwitchedOff,
}

/// One criterion's outcome and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CriterionCheck {
    /// Which criterion.
    pub criterion: Criterion,
    /// How it stands.
    pub status: CheckStatus,
    /// The numbers behind it.
    pub reason: String,
}

impl CriterionCheck {
    fn new(criterion: Criterion, met: bool, reason: impl Into<String>) -> Self {
        CriterionCheck {
            criterion,
            status: if met {
                CheckStatus::Met
            } else {
                CheckStatus::NotMet
            },
            reason: reason.into(),
        }
    }

    fn switched_off(criterion: Criterion) -> Self {
        CriterionCheck {
            criterion,
            status: CheckStatus::SwitchedOff,
            reason: "switched off in the program's settings".into(),
        }
    }

    fn not_recorded(criterion: Criterion, reason: &str) -> Self {
        CriterionCheck {
            criterion,
            status: CheckStatus::NotRecorded,
            reason: reason.into(),
        }
    }
}

/// Which side of the review a set of checks belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// To a less intensive phase or level.
    StepDown,
    /// To a more intensive phase or level.
    StepUp,
}

/// What the rules recommend: exactly one of three.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Recommended {
    /// Every step-down criterion and safety check is met.
    StepDown,
    /// Neither a step down nor a step up.
    Stay,
    /// A sign that more intensive care is needed.
    StepUp,
}

impl Recommended {
    /// The code used in the API.
    pub fn code(self) -> &'static str {
        match self {
            Recommended::StepDown => "step_down",
            Recommended::Stay => "stay",
            Recommended::StepUp => "step_up",
        }
    }
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

/// The checks on one side of the review: the criteria for a step down, or the signs for a step up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepCase {
    /// Step down or up.
    pub direction: Direction,
    /// Whether the review recommends this step (the same answer as [`Recommendation::recommended`]).
    pub recommended: bool,
    /// Where the step would go.
    pub destination: Destination,
    /// Each criterion's outcome.
    pub checks: Vec<CriterionCheck>,
    /// One sentence about this side.
    pub summary: String,
}

/// The review's one recommendation, with both sides' checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recommendation {
    /// Step down, stay or step up.
    pub recommended: Recommended,
    /// The step-down criteria, safety checks included.
    pub step_down: StepCase,
    /// The step-up signs.
    pub step_up: StepCase,
    /// Checks switched off in the program's settings.
    pub switched_off: Vec<Criterion>,
    /// What the clinician reads first.
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

    fn destination(&self, index: Option<usize>, level: LevelOfCare) -> Destination {
        match index.and_then(|i| self.phases.get(i).map(|p| (i, p))) {
            Some((index, p)) => Destination::Phase {
                index,
                name: p.name.clone(),
            },
            None => Destination::Level { level },
        }
    }

    /// Reviews the patient's progress and recommends one of step down, stay or step up.
    ///
    /// Any step-up sign means step up. Otherwise a step down needs every recorded criterion met
    /// and nothing unrecorded, and the safety checks cannot be switched off. Anything else: stay.
    pub fn recommend(
        &self,
        progress: &PhaseProgress,
        criteria: &PromotionCriteria,
        triggers: &StepUpTriggers,
    ) -> Result<Recommendation, ScheduleError> {
        if progress.phase >= self.phases.len() {
            return Err(ScheduleError::InvalidSetting(format!(
                "phase {} is not in a plan of {} phases",
                progress.phase,
                self.phases.len()
            )));
        }
        let up_checks = step_up_signs(progress, triggers);
        let signs: Vec<&str> = labels_with(&up_checks, CheckStatus::Met);
        let mut down_checks = progress_criteria(progress, criteria);
        down_checks.extend(safety_checks(progress, &signs));
        let unmet = labels_with(&down_checks, CheckStatus::NotMet);
        let not_recorded = labels_with(&down_checks, CheckStatus::NotRecorded);
        let recommended = if !signs.is_empty() {
            Recommended::StepUp
        } else if unmet.is_empty() && not_recorded.is_empty() {
            Recommended::StepDown
        } else {
            Recommended::Stay
        };
        let down_to = self.destination(progress.phase.checked_add(1), self.below);
        let up_to = self.destination(progress.phase.checked_sub(1), self.above);
        let switched_off: Vec<Criterion> = down_checks
            .iter()
            .chain(&up_checks)
            .filter(|c| c.status == CheckStatus::SwitchedOff)
            .map(|c| c.criterion)
            .collect();
        let (safety_blocks, other_unmet): (Vec<&CriterionCheck>, Vec<&CriterionCheck>) =
            down_checks
                .iter()
                .filter(|c| c.status == CheckStatus::NotMet)
                .partition(|c| c.criterion.is_safety());
        let names = |checks: &[&CriterionCheck]| -> String {
            let labels: Vec<&str> = checks.iter().map(|c| c.criterion.label()).collect();
            labels.join(", ")
        };
        let down_summary = if unmet.is_empty() && not_recorded.is_empty() {
            format!(
                "Every criterion for a step down to {} is met, the safety checks included.",
                describe(&down_to)
            )
        } else {
            let mut parts = Vec::new();
            if !unmet.is_empty() {
                parts.push(format!("not met: {}", unmet.join(", ")));
            }
            if !not_recorded.is_empty() {
                parts.push(format!(
                    "not recorded in Trellis, for the clinician to check: {}",
                    not_recorded.join(", ")
                ));
            }
            format!(
                "A step down to {} is not recommended yet ({}).",
                describe(&down_to),
                parts.join("; ")
            )
        };
        let up_summary = if signs.is_empty() {
            let unrecorded = labels_with(&up_checks, CheckStatus::NotRecorded);
            if unrecorded.is_empty() {
                "No recorded sign that more intensive care is needed.".to_owned()
            } else {
                format!(
                    "No recorded sign that more intensive care is needed; not recorded in \
                     Trellis, for the clinician to check: {}.",
                    unrecorded.join(", ")
                )
            }
        } else {
            format!(
                "Signs that more intensive care is needed: {}.",
                signs.join(", ")
            )
        };
        let mut summary = match recommended {
            Recommended::StepUp => format!(
                "Consider a step up to {}: {}. A step down is blocked.",
                describe(&up_to),
                signs.join(", ")
            ),
            Recommended::StepDown => format!(
                "Step down to {} recommended: all {} criteria met, the safety checks included.",
                describe(&down_to),
                down_checks
                    .iter()
                    .filter(|c| c.status == CheckStatus::Met)
                    .count()
            ),
            Recommended::Stay => {
                let mut text = if safety_blocks.is_empty() {
                    "Stay in the current phase.".to_owned()
                } else {
                    format!(
                        "Stay in the current phase: a safety check blocks a step down (not met: \
                         {}).",
                        names(&safety_blocks)
                    )
                };
                if !other_unmet.is_empty() {
                    let lead = if safety_blocks.is_empty() {
                        "Not met"
                    } else {
                        "Also not met"
                    };
                    text.push_str(&format!(" {lead}: {}.", names(&other_unmet)));
                }
                if !not_recorded.is_empty() {
                    text.push_str(&format!(
                        " Not recorded in Trellis, for the clinician to check: {}.",
                        not_recorded.join(", ")
                    ));
                }
                text
            }
        };
        if !switched_off.is_empty() {
            let names: Vec<&str> = switched_off.iter().map(|c| c.label()).collect();
            summary.push_str(&format!(
                " Not checked, switched off in the program's settings: {}.",
                names.join(", ")
            ));
        }
        summary.push_str(" The clinician decides.");
        Ok(Recommendation {
            recommended,
            step_down: StepCase {
                direction: Direction::StepDown,
                recommended: recommended == Recommended::StepDown,
                destination: down_to,
                checks: down_checks,
                summary: down_summary,
            },
            step_up: StepCase {
                direction: Direction::StepUp,
                recommended: recommended == Recommended::StepUp,
                destination: up_to,
                checks: up_checks,
                summary: up_summary,
            },
            switched_off,
            summary,
        })
    }
}

fn labels_with(checks: &[CriterionCheck], status: CheckStatus) -> Vec<&'static str> {
    checks
        .iter()
        .filter(|c| c.status == status)
        .map(|c| c.criterion.label())
        .collect()
}

/// The program's progress criteria for a step down; a threshold of 0 switches one off.
fn progress_criteria(
    progress: &PhaseProgress,
    criteria: &PromotionCriteria,
) -> Vec<CriterionCheck> {
    let weeks = if criteria.min_weeks_in_phase == 0 {
        CriterionCheck::switched_off(Criterion::WeeksInPhase)
    } else {
        CriterionCheck::new(
            Criterion::WeeksInPhase,
            progress.weeks_in_phase >= criteria.min_weeks_in_phase,
            format!(
                "{} weeks in phase (needs at least {})",
                progress.weeks_in_phase, criteria.min_weeks_in_phase
            ),
        )
    };
    let attendance = if criteria.min_attendance_percent == 0 {
        CriterionCheck::switched_off(Criterion::AttendanceRate)
    } else {
        attendance_check(&progress.attendance, criteria)
    };
    let screens = match (&progress.screens, criteria.negative_screens) {
        (_, 0) => CriterionCheck::switched_off(Criterion::NegativeScreens),
        (None, _) => CriterionCheck::not_recorded(
            Criterion::NegativeScreens,
            "no drug screens recorded in Trellis; check the screen log",
        ),
        (Some(screens), k) => negative_screens_check(screens, k),
    };
    let objectives = match (progress.objectives_met, criteria.objectives_met) {
        (_, 0) => CriterionCheck::switched_off(Criterion::ObjectivesMet),
        (None, _) => CriterionCheck::not_recorded(
            Criterion::ObjectivesMet,
            "no signed treatment plan in Trellis; check the plan",
        ),
        (Some(met), needed) => CriterionCheck::new(
            Criterion::ObjectivesMet,
            met >= needed,
            format!("{met} objectives met (needs at least {needed})"),
        ),
    };
    vec![weeks, attendance, screens, objectives]
}

/// The checks no setting can switch off: each one not met blocks a step down.
fn safety_checks(progress: &PhaseProgress, signs: &[&str]) -> Vec<CriterionCheck> {
    let recent = last(&progress.weekly_hours, STEP_DOWN_HOURS_WEEKS);
    let under = recent
        .iter()
        .filter(|s| **s == HoursStatus::UnderMinimum)
        .count();
    let hours = if recent.is_empty() {
        CriterionCheck::new(
            Criterion::WeeklyHoursMet,
            false,
            "no whole week in the phase yet to judge the weekly hours by",
        )
    } else {
        CriterionCheck::new(
            Criterion::WeeklyHoursMet,
            under == 0,
            format!(
                "{under} of the last {} whole weeks under the phase's weekly hours (needs none)",
                recent.len()
            ),
        )
    };
    let flags = CriterionCheck::new(
        Criterion::NoHighRiskFlag,
        progress.open_flags == 0,
        match (progress.open_flags, progress.open_high_flags) {
            (0, _) => "no open safety flag".to_owned(),
            (n, 0) => format!("{n} safety flag(s) open, moderate severity"),
            (n, h) => format!("{n} safety flag(s) open, {h} of them high severity"),
        },
    );
    let tasks = CriterionCheck::new(
        Criterion::NoOpenSafetyTask,
        progress.open_safety_tasks == 0,
        match progress.open_safety_tasks {
            0 => "no unanswered safety task".to_owned(),
            n => format!("{n} safety task(s) without a recorded response"),
        },
    );
    let no_sign = CriterionCheck::new(
        Criterion::NoStepUpSign,
        signs.is_empty(),
        if signs.is_empty() {
            "no sign that more intensive care is needed".to_owned()
        } else {
            format!("step-up sign: {}", signs.join(", "))
        },
    );
    vec![hours, flags, tasks, no_sign]
}

/// The signs that more intensive care may be needed.
fn step_up_signs(progress: &PhaseProgress, triggers: &StepUpTriggers) -> Vec<CriterionCheck> {
    let hours = if triggers.weeks_under_minimum == 0 {
        CriterionCheck::switched_off(Criterion::UnderMinimumHours)
    } else {
        let running = progress
            .weekly_hours
            .iter()
            .rev()
            .take_while(|s| **s == HoursStatus::UnderMinimum)
            .count();
        CriterionCheck::new(
            Criterion::UnderMinimumHours,
            running >= triggers.weeks_under_minimum,
            format!(
                "under the weekly minimum {running} weeks running (concern at {})",
                triggers.weeks_under_minimum
            ),
        )
    };
    let screens = match (&progress.screens, triggers.positive_screens) {
        (_, 0) => CriterionCheck::switched_off(Criterion::PositiveScreens),
        (None, _) => CriterionCheck::not_recorded(
            Criterion::PositiveScreens,
            "no drug screens recorded in Trellis; check the screen log",
        ),
        (Some(screens), needed) => {
            let recent = last(screens, triggers.screen_window);
            let positive = recent
                .iter()
                .filter(|s| **s != ScreenResult::Negative)
                .count();
            CriterionCheck::new(
                Criterion::PositiveScreens,
                positive >= needed,
                format!(
                    "{positive} positive or invalid of the last {} screens (concern at {needed})",
                    recent.len()
                ),
            )
        }
    };
    let flag = CriterionCheck::new(
        Criterion::HighRiskFlag,
        progress.open_high_flags > 0,
        match progress.open_high_flags {
            0 => "no open high-severity flag".to_owned(),
            n => format!("{n} high-severity flag(s) open"),
        },
    );
    vec![hours, screens, flag]
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
    if counted == 0 {
        return CriterionCheck::new(
            Criterion::AttendanceRate,
            false,
            "no sessions to judge attendance by",
        );
    }
    // Integer comparison so that exactly 80 % meets an 80 % bar.
    CriterionCheck::new(
        Criterion::AttendanceRate,
        attended * 100 >= criteria.min_attendance_percent as usize * counted,
        format!(
            "attended {attended} of {counted} sessions ({}%; needs at least {}%)",
            attended * 100 / counted,
            criteria.min_attendance_percent
        ),
    )
}

/// The latest `k` screens must all be negative; too few screens is not met.
fn negative_screens_check(screens: &[ScreenResult], k: usize) -> CriterionCheck {
    let recent = last(screens, k);
    if recent.len() < k {
        return CriterionCheck::new(
            Criterion::NegativeScreens,
            false,
            format!(
                "{} screens on record (needs the last {k} negative)",
                screens.len()
            ),
        );
    }
    let bad = recent
        .iter()
        .filter(|s| **s != ScreenResult::Negative)
        .count();
    if bad == 0 {
        CriterionCheck::new(
            Criterion::NegativeScreens,
            true,
            format!("the last {k} screens are negative"),
        )
    } else {
        CriterionCheck::new(
            Criterion::NegativeScreens,
            false,
            format!("{bad} of the last {k} screens not negative (needs all {k})"),
        )
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
            screens: Some(vec![Positive, Negative, Negative]),
            objectives_met: Some(1),
            open_flags: 0,
            open_high_flags: 0,
            open_safety_tasks: 0,
            weekly_hours: vec![
                HoursStatus::UnderMinimum,
                HoursStatus::Within,
                HoursStatus::Within,
            ],
        }
    }

    fn review(p: &PhaseProgress) -> Recommendation {
        plan()
            .recommend(p, &PromotionCriteria::default(), &StepUpTriggers::default())
            .unwrap()
    }

    fn statuses(case: &StepCase) -> Vec<(Criterion, CheckStatus)> {
        case.checks
            .iter()
            .map(|c| (c.criterion, c.status))
            .collect()
    }

    #[test]
    fn step_down_recommended_when_every_criterion_and_safety_check_is_met() {
        let r = review(&ready());
        assert_eq!(r.recommended, Recommended::StepDown);
        assert!(r.step_down.recommended && !r.step_up.recommended);
        assert_eq!(
            r.step_down.destination,
            Destination::Phase {
                index: 1,
                name: "Early recovery".into()
            }
        );
        let reasons: Vec<_> = r
            .step_down
            .checks
            .iter()
            .map(|c| (c.status, c.reason.as_str()))
            .collect();
        use CheckStatus::Met;
        assert_eq!(
            reasons,
            vec![
                (Met, "4 weeks in phase (needs at least 4)"),
                (Met, "attended 8 of 10 sessions (80%; needs at least 80%)"),
                (Met, "the last 2 screens are negative"),
                (Met, "1 objectives met (needs at least 1)"),
                (
                    Met,
                    "0 of the last 2 whole weeks under the phase's weekly hours (needs none)"
                ),
                (Met, "no open safety flag"),
                (Met, "no unanswered safety task"),
                (Met, "no sign that more intensive care is needed"),
            ]
        );
        assert_eq!(
            r.summary,
            "Step down to phase \"Early recovery\" recommended: all 8 criteria met, the safety \
             checks included. The clinician decides."
        );
    }

    #[test]
    fn an_open_high_flag_blocks_a_step_down_whatever_the_settings() {
        // The first error: the "open high-risk flag" criterion was an optional box.
        // There is no box now, and with every step-up sign switched off the flag still counts.
        let mut p = ready();
        p.open_flags = 1;
        p.open_high_flags = 1;
        p.open_safety_tasks = 1;
        let quiet = StepUpTriggers {
            weeks_under_minimum: 0,
            positive_screens: 0,
            screen_window: 0,
        };
        let r = plan()
            .recommend(&p, &PromotionCriteria::default(), &quiet)
            .unwrap();
        assert_eq!(r.recommended, Recommended::StepUp);
        assert!(!r.step_down.recommended);
        assert!(statuses(&r.step_down).contains(&(Criterion::NoHighRiskFlag, CheckStatus::NotMet)));
        assert_eq!(
            r.summary,
            "Consider a step up to level 2.5 Partial hospitalization (PHP): open high-severity \
             flag. A step down is blocked. Not checked, switched off in the program's settings: \
             under minimum weekly hours, positive drug screens. The clinician decides."
        );
    }

    #[test]
    fn a_moderate_flag_or_an_unanswered_safety_task_blocks_a_step_down() {
        let mut p = ready();
        p.open_flags = 1;
        let r = review(&p);
        assert_eq!(r.recommended, Recommended::Stay);
        assert!(!r.step_down.recommended && !r.step_up.recommended);
        assert_eq!(
            r.step_down.checks[5].reason,
            "1 safety flag(s) open, moderate severity"
        );
        assert!(r.summary.starts_with(
            "Stay in the current phase: a safety check blocks a step down (not met: no open \
             safety flag)."
        ));
        let mut p = ready();
        p.open_safety_tasks = 2;
        let r = review(&p);
        assert_eq!(r.recommended, Recommended::Stay);
        assert_eq!(
            r.step_down.checks[6].reason,
            "2 safety task(s) without a recorded response"
        );
    }

    #[test]
    fn the_two_recommendations_can_never_both_be_made() {
        // The second error: every step-down criterion met and two weeks under the
        // minimum used to show "step down recommended" and "consider step up" together.
        let mut p = ready();
        p.weekly_hours = vec![HoursStatus::UnderMinimum, HoursStatus::UnderMinimum];
        let r = review(&p);
        assert_eq!(r.recommended, Recommended::StepUp);
        assert!(!r.step_down.recommended && r.step_up.recommended);
        assert!(statuses(&r.step_down).contains(&(Criterion::NoStepUpSign, CheckStatus::NotMet)));
        // Over many combinations: exactly one direction, and the sides agree with it.
        for flags in 0..2u32 {
            for tasks in 0..2u32 {
                for hours in [HoursStatus::UnderMinimum, HoursStatus::Within] {
                    for screens in [vec![Negative, Negative], vec![Positive, Positive], vec![]] {
                        for weeks in [0, 4] {
                            let p = PhaseProgress {
                                open_flags: flags,
                                open_high_flags: flags,
                                open_safety_tasks: tasks,
                                weekly_hours: vec![HoursStatus::Within, hours],
                                screens: Some(screens.clone()),
                                weeks_in_phase: weeks,
                                ..ready()
                            };
                            let r = review(&p);
                            assert!(!(r.step_down.recommended && r.step_up.recommended));
                            assert_eq!(
                                r.step_down.recommended,
                                r.recommended == Recommended::StepDown
                            );
                            assert_eq!(r.step_up.recommended, r.recommended == Recommended::StepUp);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn weeks_under_the_hours_minimum_block_a_step_down_even_with_the_sign_switched_off() {
        let mut p = ready();
        p.weekly_hours = vec![HoursStatus::Within, HoursStatus::UnderMinimum];
        let no_hours_sign = StepUpTriggers {
            weeks_under_minimum: 0,
            ..StepUpTriggers::default()
        };
        let r = plan()
            .recommend(&p, &PromotionCriteria::default(), &no_hours_sign)
            .unwrap();
        assert_eq!(r.recommended, Recommended::Stay);
        assert_eq!(
            r.step_down.checks[4].reason,
            "1 of the last 2 whole weeks under the phase's weekly hours (needs none)"
        );
        assert_eq!(r.switched_off, vec![Criterion::UnderMinimumHours]);
        assert!(r
            .summary
            .contains("a safety check blocks a step down (not met: weekly hours met)"));
        assert!(r.summary.contains(
            "Not checked, switched off in the program's settings: under minimum weekly hours."
        ));
        // No whole week yet: nothing to judge the hours by, so no step down.
        p.weekly_hours.clear();
        assert_eq!(review(&p).recommended, Recommended::Stay);
    }

    #[test]
    fn a_switched_off_check_is_named_not_passed_silently() {
        let lax = PromotionCriteria {
            negative_screens: 0,
            objectives_met: 0,
            ..PromotionCriteria::default()
        };
        let mut p = ready();
        p.screens = None;
        p.objectives_met = None;
        let r = plan()
            .recommend(&p, &lax, &StepUpTriggers::default())
            .unwrap();
        assert_eq!(
            statuses(&r.step_down)[2..4],
            [
                (Criterion::NegativeScreens, CheckStatus::SwitchedOff),
                (Criterion::ObjectivesMet, CheckStatus::SwitchedOff),
            ]
        );
        // Screens are still unrecorded for the step-up side, and the summary says so.
        assert_eq!(r.recommended, Recommended::StepDown);
        assert!(r.summary.ends_with(
            "Not checked, switched off in the program's settings: negative drug screens, \
             treatment-plan objectives met. The clinician decides."
        ));
        assert!(r.step_up.summary.contains("not recorded in Trellis"));
    }

    #[test]
    fn unrecorded_data_never_recommends_a_step_down() {
        let mut p = ready();
        p.screens = None;
        let r = review(&p);
        assert_eq!(r.recommended, Recommended::Stay);
        assert_eq!(
            r.step_down.summary,
            "A step down to phase \"Early recovery\" is not recommended yet (not recorded in \
             Trellis, for the clinician to check: negative drug screens)."
        );
        p.objectives_met = None;
        assert_eq!(
            statuses(&review(&p).step_down)[3],
            (Criterion::ObjectivesMet, CheckStatus::NotRecorded)
        );
    }

    #[test]
    fn step_down_not_recommended_lists_what_is_missing() {
        let mut p = ready();
        p.weeks_in_phase = 3;
        p.screens = Some(vec![Negative, Invalid]);
        let r = review(&p);
        assert_eq!(r.recommended, Recommended::Stay);
        assert_eq!(
            r.step_down.checks[2].reason,
            "1 of the last 2 screens not negative (needs all 2)"
        );
        assert_eq!(
            r.summary,
            "Stay in the current phase. Not met: weeks in phase, negative drug screens. The \
             clinician decides."
        );
        p.open_flags = 1;
        p.screens = None;
        assert_eq!(
            review(&p).summary,
            "Stay in the current phase: a safety check blocks a step down (not met: no open \
             safety flag). Also not met: weeks in phase. Not recorded in Trellis, for the \
             clinician to check: negative drug screens. The clinician decides."
        );
    }

    #[test]
    fn attendance_and_screens_at_the_edges() {
        let strict = PromotionCriteria {
            excused_count_as_missed: true,
            ..PromotionCriteria::default()
        };
        let r = plan()
            .recommend(&ready(), &strict, &StepUpTriggers::default())
            .unwrap();
        // 8 of 11 = 72 %.
        assert_eq!(r.step_down.checks[1].status, CheckStatus::NotMet);
        assert_eq!(
            r.step_down.checks[1].reason,
            "attended 8 of 11 sessions (72%; needs at least 80%)"
        );
        let mut p = ready();
        p.attendance.clear();
        p.screens = Some(vec![Negative]);
        let r = review(&p);
        assert_eq!(
            r.step_down.checks[1].reason,
            "no sessions to judge attendance by"
        );
        assert_eq!(
            r.step_down.checks[2].reason,
            "1 screens on record (needs the last 2 negative)"
        );
        assert_eq!(r.step_down.checks[2].status, CheckStatus::NotMet);
    }

    #[test]
    fn last_phase_steps_down_to_the_level_below() {
        let mut p = ready();
        p.phase = 1;
        let r = review(&p);
        assert_eq!(
            r.step_down.destination,
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
        let r = review(&p);
        assert_eq!(r.recommended, Recommended::StepUp);
        assert_eq!(
            r.step_up.destination,
            Destination::Phase {
                index: 0,
                name: "Engagement".into()
            }
        );
        let reasons: Vec<_> = r
            .step_up
            .checks
            .iter()
            .map(|c| (c.status, c.reason.as_str()))
            .collect();
        assert_eq!(
            reasons,
            vec![
                (
                    CheckStatus::Met,
                    "under the weekly minimum 2 weeks running (concern at 2)"
                ),
                (
                    CheckStatus::NotMet,
                    "1 positive or invalid of the last 3 screens (concern at 2)"
                ),
                (CheckStatus::NotMet, "no open high-severity flag"),
            ]
        );
        assert_eq!(
            r.summary,
            "Consider a step up to phase \"Engagement\": under minimum weekly hours. A step down \
             is blocked. The clinician decides."
        );
    }

    #[test]
    fn step_up_from_the_first_phase_goes_to_the_level_above() {
        let mut p = ready();
        p.screens = Some(vec![Negative, Positive, Positive]);
        p.open_flags = 1;
        p.open_high_flags = 1;
        let r = review(&p);
        assert_eq!(r.recommended, Recommended::StepUp);
        assert_eq!(
            r.step_up.destination,
            Destination::Level {
                level: LevelOfCare::PartialHospitalization
            }
        );
        assert_eq!(
            r.step_up.summary,
            "Signs that more intensive care is needed: positive drug screens, open high-severity \
             flag."
        );
        let calm = review(&ready());
        assert_eq!(
            calm.step_up.summary,
            "No recorded sign that more intensive care is needed."
        );
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
                .recommend(
                    &p,
                    &PromotionCriteria::default(),
                    &StepUpTriggers::default()
                )
                .unwrap_err()
                .to_string(),
            "invalid setting: phase 2 is not in a plan of 2 phases"
        );
    }
}
