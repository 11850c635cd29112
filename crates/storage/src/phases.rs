//! Phases inside a program and the step-down / step-up decision.
//!
//! A program's phases (most intensive first) and its promotion, step-up and outreach settings
//! are stored here; the rules that recommend are `trellis_domain::schedule::phases`. The
//! recommendation shows every criterion as met, not met or not recorded; the clinician decides,
//! and the decision keeps a snapshot of what the recommendation said at the time. A phase change
//! may move the patient to another track from its effective date (the old enrolment ends the day
//! before). Leaving the program's phases (e.g. a step up to PHP) is a level-of-care change and
//! goes through `Store::change_level`, not here.

use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};
use sqlx::FromRow;
use std::num::NonZeroUsize;
use trellis_domain::care::LevelOfCare;
use trellis_domain::schedule::absences::OutreachRule;
use trellis_domain::schedule::attendance::AttendanceStatus;
use trellis_domain::schedule::hours::{
    below_asam_floor, service_hours, whole_weeks_since, HoursPolicy, HoursStatus, PolicyHistory,
    Population, ServiceRecord,
};
pub use trellis_domain::schedule::phases::CheckStatus;
use trellis_domain::schedule::phases::{
    Criterion, Destination, Direction, Phase, PhasePlan, PhaseProgress, PromotionCriteria,
    Recommendation, Recommended, ScreenResult, StepCase, StepUpTriggers,
};
use trellis_domain::schedule::zone::SiteZone;

use crate::access::{can, Grant, PatientGrant};
use crate::audit::{self, AuditEvent};
use crate::org::Program;
use crate::schedule::enrol_in_track;
use crate::{parse_code, Day, Flag, Instant, Result, Store, StoreError};

/// The decision's reason may carry clinical detail: encrypted at rest.
const REASON_COLUMN: &str = "episode_phases.reason";
/// What the recommendation said at decision time (flags, figures): encrypted at rest.
const SNAPSHOT_COLUMN: &str = "episode_phases.recommendation";
/// How far ahead a phase change may be dated (as for a level-of-care change).
const MAX_DAYS_AHEAD: i64 = 30;

/// One phase of a program, as stored.
#[derive(Debug, Clone, FromRow, Serialize, Deserialize, PartialEq)]
pub struct ProgramPhase {
    /// Id.
    pub id: i64,
    /// Program.
    pub program_id: i64,
    /// Order, 0 = most intensive.
    pub position: i64,
    /// Name staff see ("Phase 2").
    pub name: String,
    /// Treatment days required per week.
    pub days_per_week: i64,
    /// Service minutes required per week.
    pub weekly_minutes: i64,
}

/// A phase to set on a program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPhase {
    /// Name staff see.
    pub name: String,
    /// Treatment days required per week (1–7).
    pub days_per_week: u8,
    /// Service minutes required per week.
    pub weekly_minutes: u32,
}

/// A program's promotion, step-up and absence-outreach settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseRules {
    /// Minimum whole weeks in the current phase before a step down.
    pub min_weeks_in_phase: u32,
    /// Minimum attendance rate in the phase, in percent.
    pub min_attendance_percent: u32,
    /// How many of the latest drug screens must all be negative.
    pub negative_screens: u32,
    /// Minimum treatment-plan objectives met.
    pub objectives_met: u32,
    /// Whether excused absences count as missed sessions.
    pub excused_count_as_missed: bool,
    /// Consecutive weeks under the phase's weekly minutes that suggest a step up (0 disables).
    pub weeks_under_minimum: u32,
    /// Positive or invalid screens among the latest `screen_window` that suggest a step up (0 disables).
    pub positive_screens: u32,
    /// How many of the latest screens the step-up check looks at.
    pub screen_window: u32,
    /// Unexcused absences in a row that open an outreach task for the counselor.
    pub outreach_after_unexcused: u32,
    /// Whether an excused absence ends a run of unexcused ones.
    pub outreach_excused_breaks_run: bool,
}

impl Default for PhaseRules {
    fn default() -> Self {
        let c = PromotionCriteria::default();
        let t = StepUpTriggers::default();
        let o = OutreachRule::default();
        PhaseRules {
            min_weeks_in_phase: c.min_weeks_in_phase,
            min_attendance_percent: c.min_attendance_percent,
            negative_screens: c.negative_screens as u32,
            objectives_met: c.objectives_met,
            excused_count_as_missed: c.excused_count_as_missed,
            weeks_under_minimum: t.weeks_under_minimum as u32,
            positive_screens: t.positive_screens as u32,
            screen_window: t.screen_window as u32,
            outreach_after_unexcused: o.consecutive_unexcused.get() as u32,
            outreach_excused_breaks_run: o.excused_breaks_run,
        }
    }
}

impl PhaseRules {
    /// The domain's promotion criteria.
    pub fn criteria(&self) -> PromotionCriteria {
        PromotionCriteria {
            min_weeks_in_phase: self.min_weeks_in_phase,
            min_attendance_percent: self.min_attendance_percent,
            negative_screens: self.negative_screens as usize,
            objectives_met: self.objectives_met,
            excused_count_as_missed: self.excused_count_as_missed,
        }
    }

    /// The domain's step-up triggers.
    pub fn triggers(&self) -> StepUpTriggers {
        StepUpTriggers {
            weeks_under_minimum: self.weeks_under_minimum as usize,
            positive_screens: self.positive_screens as usize,
            screen_window: self.screen_window as usize,
        }
    }

    /// The domain's outreach rule.
    pub fn outreach(&self) -> OutreachRule {
        OutreachRule {
            consecutive_unexcused: NonZeroUsize::new(self.outreach_after_unexcused as usize)
                .unwrap_or(OutreachRule::default().consecutive_unexcused),
            excused_breaks_run: self.outreach_excused_breaks_run,
        }
    }

    /// Problems with the settings, each naming its field.
    fn check(&self) -> Result<()> {
        let mut errors = Vec::new();
        let mut bad = |field: &'static str, message: &str| {
            errors.push(trellis_domain::patient::FieldError::new(field, message))
        };
        if self.min_weeks_in_phase > 52 {
            bad("min_weeks_in_phase", "must be 0 to 52");
        }
        if self.min_attendance_percent > 100 {
            bad("min_attendance_percent", "must be 0 to 100");
        }
        if self.negative_screens > 20 {
            bad("negative_screens", "must be 0 to 20");
        }
        if self.objectives_met > 50 {
            bad("objectives_met", "must be 0 to 50");
        }
        if self.weeks_under_minimum > 12 {
            bad("weeks_under_minimum", "must be 0 to 12");
        }
        if self.screen_window > 20 {
            bad("screen_window", "must be 0 to 20");
        }
        if self.positive_screens > self.screen_window {
            bad(
                "positive_screens",
                "cannot be more than the screens looked at (screen_window)",
            );
        }
        if !(1..=10).contains(&self.outreach_after_unexcused) {
            bad("outreach_after_unexcused", "must be 1 to 10");
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(StoreError::Invalid(errors))
        }
    }
}

#[derive(FromRow)]
struct RulesRow {
    min_weeks_in_phase: i64,
    min_attendance_percent: i64,
    negative_screens: i64,
    objectives_met: i64,
    #[sqlx(try_from = "Flag")]
    excused_count_as_missed: bool,
    weeks_under_minimum: i64,
    positive_screens: i64,
    screen_window: i64,
    outreach_after_unexcused: i64,
    #[sqlx(try_from = "Flag")]
    outreach_excused_breaks_run: bool,
}

fn small(n: i64) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

impl From<RulesRow> for PhaseRules {
    fn from(r: RulesRow) -> Self {
        PhaseRules {
            min_weeks_in_phase: small(r.min_weeks_in_phase),
            min_attendance_percent: small(r.min_attendance_percent),
            negative_screens: small(r.negative_screens),
            objectives_met: small(r.objectives_met),
            excused_count_as_missed: r.excused_count_as_missed,
            weeks_under_minimum: small(r.weeks_under_minimum),
            positive_screens: small(r.positive_screens),
            screen_window: small(r.screen_window),
            outreach_after_unexcused: small(r.outreach_after_unexcused),
            outreach_excused_breaks_run: r.outreach_excused_breaks_run,
        }
    }
}

const RULES_SELECT: &str = "SELECT min_weeks_in_phase, min_attendance_percent, negative_screens,
    objectives_met, excused_count_as_missed, weeks_under_minimum, positive_screens,
    screen_window, outreach_after_unexcused, outreach_excused_breaks_run FROM program_phase_rules WHERE program_id = $1";

/// A program's phases and settings.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PhaseSettings {
    /// Program.
    pub program_id: i64,
    /// Phases, most intensive first (empty: the program has no phases).
    pub phases: Vec<ProgramPhase>,
    /// Promotion, step-up and outreach settings (the defaults until set).
    pub rules: PhaseRules,
    /// Phases that ask for fewer weekly hours than ASAM's floor for the program's level.
    pub warnings: Vec<String>,
}

/// One criterion as shown and as kept with a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckView {
    /// Criterion code (e.g. attendance_rate).
    pub criterion: Criterion,
    /// Label staff see.
    pub label: String,
    /// Met, not met or not recorded.
    pub status: CheckStatus,
    /// The figures behind it.
    pub reason: String,
}

/// One side of the review (step-down criteria or step-up signs), as staff see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhaseRecommendation {
    /// Step down or up.
    pub direction: Direction,
    /// Whether the review recommends this step (never both sides; never on unrecorded data).
    pub recommended: bool,
    /// Where the step would go; a level of care means leaving the program's phases.
    pub destination: Destination,
    /// Each criterion.
    pub checks: Vec<CheckView>,
    /// One sentence for the clinician.
    pub summary: String,
}

impl PhaseRecommendation {
    /// For a step down: whether no recorded criterion is unmet (not-recorded ones still to check).
    pub fn ready_for_review(&self) -> bool {
        self.checks.iter().all(|c| c.status != CheckStatus::NotMet)
    }
}

/// What the recommendation said when the clinician decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecommendationSnapshot {
    /// The summary shown.
    pub summary: String,
    /// Each criterion shown.
    pub checks: Vec<CheckView>,
}

/// A clinician's phase decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhaseDecisionKind {
    /// Promotion to the next, less intensive phase.
    StepDown,
    /// Back to the previous, more intensive phase.
    StepUp,
    /// Reviewed; stays in the current phase.
    Stay,
}

impl PhaseDecisionKind {
    /// The stored code.
    pub fn code(self) -> &'static str {
        match self {
            PhaseDecisionKind::StepDown => "step_down",
            PhaseDecisionKind::StepUp => "step_up",
            PhaseDecisionKind::Stay => "stay",
        }
    }

    /// The label staff see.
    pub fn label(self) -> &'static str {
        match self {
            PhaseDecisionKind::StepDown => "Promoted (step down)",
            PhaseDecisionKind::StepUp => "Stepped up",
            PhaseDecisionKind::Stay => "Reviewed, stays",
        }
    }
}

impl std::str::FromStr for PhaseDecisionKind {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "step_down" => Ok(PhaseDecisionKind::StepDown),
            "step_up" => Ok(PhaseDecisionKind::StepUp),
            "stay" => Ok(PhaseDecisionKind::Stay),
            _ => Err("choose step_down, step_up or stay".into()),
        }
    }
}

/// One decision in an episode's phase history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhaseDecision {
    /// Id.
    pub id: i64,
    /// Episode.
    pub episode_id: i64,
    /// The phase from the effective date.
    pub phase_id: i64,
    /// Its name.
    pub phase_name: String,
    /// Step down, step up or stay.
    pub decision: PhaseDecisionKind,
    /// From this date.
    pub effective_on: Day,
    /// The track the patient moved to, if any.
    pub track_name: Option<String>,
    /// Why (may be empty for a step down).
    pub reason: String,
    /// What the recommendation said at the time.
    pub recommendation: RecommendationSnapshot,
    /// Who decided.
    pub decided_by_name: String,
    /// When it was recorded.
    pub recorded_at: Instant,
}

#[derive(FromRow)]
struct DecisionRow {
    id: i64,
    episode_id: i64,
    phase_id: i64,
    phase_name: String,
    decision: String,
    effective_on: Day,
    track_name: Option<String>,
    reason: String,
    recommendation: String,
    decided_by_name: String,
    recorded_at: Instant,
}

/// The chart's phase section: where the patient is and what the rules recommend.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhaseReview {
    /// The open episode.
    pub episode_id: i64,
    /// Its program's phases.
    pub phases: Vec<ProgramPhase>,
    /// The current phase.
    pub current: ProgramPhase,
    /// In it since.
    pub since: Day,
    /// Whole weeks in it.
    pub weeks_in_phase: u32,
    /// What the rules recommend: step down, stay or step up (one decision, never two).
    pub recommended: Recommended,
    /// What the clinician reads first: the recommendation and what blocks or suggests it.
    pub summary: String,
    /// Checks switched off in the program's settings.
    pub switched_off: Vec<String>,
    /// The step-down criteria, safety checks included.
    pub step_down: PhaseRecommendation,
    /// The step-up signs.
    pub step_up: PhaseRecommendation,
    /// Decisions, newest first.
    pub history: Vec<PhaseDecision>,
}

/// A patient on the actor's caseload whose recorded step-down criteria are all met.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepDownCandidate {
    /// Patient.
    pub patient_id: i64,
    /// Display name.
    pub patient_name: String,
    /// Current phase name.
    pub phase_name: String,
    /// Weeks in it.
    pub weeks_in_phase: u32,
    /// Where a step down goes.
    pub destination: Destination,
    /// Criteria the clinician must check outside Trellis (not recorded).
    pub not_recorded: Vec<String>,
}

/// A phase decision to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPhaseDecision {
    /// Step down, step up or stay.
    pub decision: PhaseDecisionKind,
    /// The phase the decision leads to, if given (must be the adjacent one; checked).
    pub phase_id: Option<i64>,
    /// From this date.
    pub effective_on: NaiveDate,
    /// A new track from that date (the current one ends the day before).
    pub track_id: Option<i64>,
    /// Why; required for a step up and a stay.
    pub reason: String,
}

#[derive(FromRow)]
struct EpisodeRow {
    id: i64,
    program_id: i64,
    admitted_on: Day,
}

/// Where the episode stands in its phases.
struct Standing {
    episode: EpisodeRow,
    phases: Vec<ProgramPhase>,
    index: usize,
    since: NaiveDate,
}

/// What the rules recommend, as the chart and the decision snapshot show it.
struct ReviewOutcome {
    recommended: Recommended,
    summary: String,
    switched_off: Vec<String>,
    step_down: PhaseRecommendation,
    step_up: PhaseRecommendation,
}

/// Drug screens collected since `since`, oldest first, one result per screen: positive when any
/// analyte is an unexpected positive (a prescribed medication explains an expected one), invalid
/// when any analyte is invalid, otherwise negative. `None` when no screen was collected since.
async fn drug_screens_for_phase_review(
    store: &Store,
    tx: &mut sqlx::AnyConnection,
    patient_id: i64,
    since: NaiveDate,
) -> Result<Option<Vec<ScreenResult>>> {
    let rows: Vec<(i64, String, Option<String>)> = sqlx::query_as(
        "SELECT s.id, r.result, r.expectation
         FROM drug_screens s JOIN drug_screen_results r ON r.screen_id = s.id
         WHERE s.patient_id = $1 AND s.collected_on >= $2
         ORDER BY s.collected_on, s.id",
    )
    .bind(patient_id)
    .bind(Day(since))
    .fetch_all(&mut *tx)
    .await?;
    let mut screens: Vec<(i64, ScreenResult)> = Vec::new();
    for (screen, result, expectation) in rows {
        let result = store.open(crate::medications::RESULT_COLUMN, &result)?;
        let this = match (result.as_str(), expectation.as_deref()) {
            // A negative with an MOUD adherence finding ("missing") is never negative.
            ("positive", Some("expected")) | ("negative", None) => ScreenResult::Negative,
            ("positive", _) => ScreenResult::Positive,
            _ => ScreenResult::Invalid,
        };
        match screens.last_mut() {
            Some((id, worst)) if *id == screen => *worst = worse(*worst, this),
            _ => screens.push((screen, this)),
        }
    }
    Ok((!screens.is_empty()).then(|| screens.into_iter().map(|(_, r)| r).collect()))
}

/// The more concerning of two analyte results on one screen.
fn worse(a: ScreenResult, b: ScreenResult) -> ScreenResult {
    use ScreenResult::{Invalid, Negative, Positive};
    match (a, b) {
        (Positive, _) | (_, Positive) => Positive,
        (Invalid, _) | (_, Invalid) => Invalid,
        (Negative, Negative) => Negative,
    }
}

/// Objectives marked met on the episode's latest signed treatment plan; `None` when the episode
/// has no signed plan (the criterion then shows as not recorded, never as met).
async fn plan_objectives_met_for_phase_review(
    tx: &mut sqlx::AnyConnection,
    episode_id: i64,
) -> Result<Option<u32>> {
    let statuses: Vec<String> = sqlx::query_scalar(
        "SELECT o.status FROM plan_objectives o
         JOIN treatment_plans t ON t.id = o.plan_id
         WHERE t.id = (SELECT id FROM treatment_plans
             WHERE episode_id = $1 AND clinician_signed_at IS NOT NULL
             ORDER BY version DESC LIMIT 1)",
    )
    .bind(episode_id)
    .fetch_all(&mut *tx)
    .await?;
    let signed: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM treatment_plans WHERE episode_id = $1 AND clinician_signed_at IS NOT NULL
         LIMIT 1",
    )
    .bind(episode_id)
    .fetch_optional(&mut *tx)
    .await?;
    Ok(signed.map(|_| {
        statuses
            .iter()
            .filter(|s| *s == crate::treatment_plans::ObjectiveStatus::Met.code())
            .count() as u32
    }))
}

/// The phase's whole weeks judged by the rule and the minutes the Schedule tab uses (every
/// attended service, groups and appointments, credited to the site's local days), against the
/// phase's weekly hours.
async fn phase_weekly_hours(
    tx: &mut sqlx::AnyConnection,
    patient_id: i64,
    standing: &Standing,
    today: NaiveDate,
) -> Result<Vec<HoursStatus>> {
    let zone_name: String = sqlx::query_scalar(
        "SELECT s.timezone FROM episodes e JOIN sites s ON s.id = e.site_id WHERE e.id = $1",
    )
    .bind(standing.episode.id)
    .fetch_one(&mut *tx)
    .await?;
    let zone = SiteZone::parse(&zone_name).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    // A day either side, so services crossing local midnight are counted; the domain then
    // assigns every minute to its local day.
    let from =
        Instant(standing.since.and_time(chrono::NaiveTime::MIN).and_utc() - Duration::days(1));
    let to = Instant(today.and_time(chrono::NaiveTime::MIN).and_utc() + Duration::days(2));
    let rows: Vec<(Instant, i64, String)> = sqlx::query_as(
        "SELECT service_start, minutes_attended, service_type FROM attendance
         WHERE patient_id = $1 AND minutes_attended > 0 AND service_start >= $2
           AND service_start < $3",
    )
    .bind(patient_id)
    .bind(from)
    .bind(to)
    .fetch_all(&mut *tx)
    .await?;
    let mut records = rows
        .into_iter()
        .map(|(start, minutes, service)| {
            Ok(ServiceRecord {
                start: start.0,
                minutes: u32::try_from(minutes).unwrap_or(0),
                service: parse_code(&service, "service type")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    records.extend(
        crate::appointments::patient_appointment_records_in(tx, patient_id, from, to).await?,
    );
    let hours = service_hours(&records, zone).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let required = u32::try_from(standing.phases[standing.index].weekly_minutes).unwrap_or(0);
    let policy = HoursPolicy {
        weekly_minimum_minutes: required,
        weekly_ceiling_minutes: None,
        per_diem_minimum_minutes: HoursPolicy::PER_DIEM_MINIMUM_MINUTES,
    };
    whole_weeks_since(
        &hours,
        &PolicyHistory::constant(policy),
        standing.since,
        today,
    )
    .map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Gathers everything the phase rules judge, in one place: weeks in phase, attendance and
/// weekly minutes since the phase began, drug screens, treatment-plan objectives, open safety
/// flags (moderate or high) and unanswered safety tasks.
async fn gather_phase_progress(
    store: &Store,
    tx: &mut sqlx::AnyConnection,
    patient_id: i64,
    standing: &Standing,
    today: NaiveDate,
) -> Result<PhaseProgress> {
    let since = standing.since;
    let weeks_in_phase = u32::try_from((today - since).num_days().max(0) / 7).unwrap_or(0);
    let statuses: Vec<String> = sqlx::query_scalar(
        "SELECT a.status FROM attendance a
         JOIN group_sessions gs ON gs.id = a.session_id
         WHERE a.patient_id = $1 AND gs.local_date >= $2 AND gs.local_date <= $3
         ORDER BY gs.starts_at",
    )
    .bind(patient_id)
    .bind(Day(since))
    .bind(Day(today))
    .fetch_all(&mut *tx)
    .await?;
    let attendance = statuses
        .iter()
        .map(|s| parse_code::<AttendanceStatus>(s, "attendance status"))
        .collect::<Result<Vec<_>>>()?;
    let weekly_hours = phase_weekly_hours(tx, patient_id, standing, today).await?;
    // Every open flag counts (moderate and high), and every safety task without a response: a
    // flag's own tasks and the prescriber's review of a screen (a missing MOUD, an explained
    // opioid), which stays open after the counselor answers the flag.
    let (open_flags, open_high_flags): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN severity = 'high' THEN 1 ELSE 0 END), 0)
         FROM patient_flags WHERE patient_id = $1 AND resolved_at IS NULL",
    )
    .bind(patient_id)
    .fetch_one(&mut *tx)
    .await?;
    let open_safety_tasks: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM tasks WHERE patient_id = $1 AND completed_at IS NULL
         AND (kind = 'safety_flag' OR kind = $2 OR flag_id IS NOT NULL)",
    )
    .bind(patient_id)
    .bind(crate::medications::PRESCRIBER_REVIEW_TASK_KIND)
    .fetch_one(&mut *tx)
    .await?;
    let screens = drug_screens_for_phase_review(store, tx, patient_id, since).await?;
    let objectives = plan_objectives_met_for_phase_review(tx, standing.episode.id).await?;
    let count = |n: i64| u32::try_from(n).unwrap_or(u32::MAX);
    Ok(PhaseProgress {
        phase: standing.index,
        weeks_in_phase,
        attendance,
        screens,
        objectives_met: objectives,
        open_flags: count(open_flags),
        open_high_flags: count(open_high_flags),
        open_safety_tasks: count(open_safety_tasks),
        weekly_hours,
    })
}

/// One side of the review as staff see it.
fn side_view(case: StepCase) -> PhaseRecommendation {
    PhaseRecommendation {
        direction: case.direction,
        recommended: case.recommended,
        destination: case.destination,
        checks: case
            .checks
            .into_iter()
            .map(|c| CheckView {
                criterion: c.criterion,
                label: c.criterion.label().to_owned(),
                status: c.status,
                reason: c.reason,
            })
            .collect(),
        summary: case.summary,
    }
}

/// The review as staff see it: one recommendation and both sides' checks.
fn review_view(r: Recommendation) -> ReviewOutcome {
    ReviewOutcome {
        recommended: r.recommended,
        summary: r.summary,
        switched_off: r
            .switched_off
            .iter()
            .map(|c| c.label().to_owned())
            .collect(),
        step_down: side_view(r.step_down),
        step_up: side_view(r.step_up),
    }
}

/// A warning for each phase below ASAM's weekly floor for the program's level and population.
fn floor_warnings(program: &Program, phases: &[ProgramPhase]) -> Result<Vec<String>> {
    let level = program.level()?;
    let population = if program.population == "adolescent" {
        Population::Adolescent
    } else {
        Population::Adult
    };
    Ok(phases
        .iter()
        .filter_map(|p| {
            let minutes = u32::try_from(p.weekly_minutes).unwrap_or(0);
            below_asam_floor(level, population, minutes).map(|b| {
                format!(
                    "Phase \"{}\" asks for {} a week, below ASAM's floor of {} for level {level} \
                     ({}): patients in it receive a lower level's intensity, and the weeks count \
                     as under the level's minimum.",
                    p.name,
                    hours_text(b.weekly_minutes),
                    hours_text(b.floor_minutes),
                    if population == Population::Adolescent {
                        "adolescents"
                    } else {
                        "adults"
                    }
                )
            })
        })
        .collect())
}

fn hours_text(minutes: u32) -> String {
    if minutes.is_multiple_of(60) {
        format!("{} h", minutes / 60)
    } else {
        format!("{:.1} h", f64::from(minutes) / 60.0)
    }
}

fn plan_of(phases: &[ProgramPhase]) -> Result<PhasePlan> {
    PhasePlan::new(
        phases
            .iter()
            .map(|p| Phase {
                name: p.name.clone(),
                days_per_week: u8::try_from(p.days_per_week).unwrap_or(0),
                weekly_minutes: u32::try_from(p.weekly_minutes).unwrap_or(0),
            })
            .collect(),
        LevelOfCare::Outpatient,
        LevelOfCare::PartialHospitalization,
    )
    .map_err(|e| StoreError::Corrupt(e.to_string()))
}

async fn rules_in(tx: &mut sqlx::AnyConnection, program_id: i64) -> Result<PhaseRules> {
    let row: Option<RulesRow> = sqlx::query_as(RULES_SELECT)
        .bind(program_id)
        .fetch_optional(&mut *tx)
        .await?;
    Ok(row.map(PhaseRules::from).unwrap_or_default())
}

async fn phases_in(tx: &mut sqlx::AnyConnection, program_id: i64) -> Result<Vec<ProgramPhase>> {
    Ok(sqlx::query_as(
        "SELECT id, program_id, position, name, days_per_week, weekly_minutes
         FROM program_phases WHERE program_id = $1 ORDER BY position",
    )
    .bind(program_id)
    .fetch_all(&mut *tx)
    .await?)
}

/// The program's outreach rule for a patient's open episode (the default without one).
pub(crate) async fn outreach_rule_for_patient(
    tx: &mut sqlx::AnyConnection,
    patient_id: i64,
) -> Result<OutreachRule> {
    let program: Option<i64> = sqlx::query_scalar(
        "SELECT program_id FROM episodes WHERE patient_id = $1 AND status = 'open'",
    )
    .bind(patient_id)
    .fetch_optional(&mut *tx)
    .await?;
    Ok(match program {
        Some(program_id) => rules_in(tx, program_id).await?.outreach(),
        None => OutreachRule::default(),
    })
}

/// The patient's open episode and where it stands in its program's phases; `None` when there is
/// no open episode or its program has no phases.
async fn standing(tx: &mut sqlx::AnyConnection, patient_id: i64) -> Result<Option<Standing>> {
    let episode: Option<EpisodeRow> = sqlx::query_as(
        "SELECT id, program_id, admitted_on FROM episodes WHERE patient_id = $1 AND status = 'open'",
    )
    .bind(patient_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(episode) = episode else {
        return Ok(None);
    };
    let phases = phases_in(tx, episode.program_id).await?;
    if phases.is_empty() {
        return Ok(None);
    }
    // The latest change of phase; a stay is a review, not a change, so it does not restart the clock.
    let last: Option<(i64, Day)> = sqlx::query_as(
        "SELECT phase_id, effective_on FROM episode_phases
         WHERE episode_id = $1 AND decision <> 'stay'
         ORDER BY effective_on DESC, id DESC LIMIT 1",
    )
    .bind(episode.id)
    .fetch_optional(&mut *tx)
    .await?;
    let (index, since) = match last {
        Some((phase_id, since)) => (
            phases
                .iter()
                .position(|p| p.id == phase_id)
                .ok_or_else(|| StoreError::Corrupt("phase of another program".into()))?,
            since.0,
        ),
        None => (0, episode.admitted_on.0),
    };
    Ok(Some(Standing {
        episode,
        phases,
        index,
        since,
    }))
}

/// The name of the patient's current phase and the day it began (the chart overview's line).
pub(crate) async fn current_phase_in(
    tx: &mut sqlx::AnyConnection,
    patient_id: i64,
) -> Result<Option<(String, Day)>> {
    Ok(standing(tx, patient_id).await?.and_then(|s| {
        s.phases
            .get(s.index)
            .map(|p| (p.name.clone(), Day(s.since)))
    }))
}

impl Store {
    fn decision_from_row(&self, row: DecisionRow) -> Result<PhaseDecision> {
        let snapshot: RecommendationSnapshot =
            serde_json::from_str(&self.open(SNAPSHOT_COLUMN, &row.recommendation)?)
                .map_err(|_| StoreError::Corrupt("phase recommendation snapshot".into()))?;
        Ok(PhaseDecision {
            id: row.id,
            episode_id: row.episode_id,
            phase_id: row.phase_id,
            phase_name: row.phase_name,
            decision: parse_code(&row.decision, "phase decision")?,
            effective_on: row.effective_on,
            track_name: row.track_name,
            reason: self.open(REASON_COLUMN, &row.reason)?,
            recommendation: snapshot,
            decided_by_name: row.decided_by_name,
            recorded_at: row.recorded_at,
        })
    }

    /// A program's phases and settings (settings are the defaults until set).
    pub async fn phase_settings(&self, program_id: i64) -> Result<PhaseSettings> {
        let program = self.program(program_id).await?;
        let mut tx = self.begin().await?;
        let phases = phases_in(&mut tx, program_id).await?;
        let rules = rules_in(&mut tx, program_id).await?;
        tx.commit().await?;
        Ok(PhaseSettings {
            program_id,
            warnings: floor_warnings(&program, &phases)?,
            phases,
            rules,
        })
    }

    /// Sets a program's phases (in order, most intensive first) and settings. Phases are matched
    /// by position, so renaming keeps history; a phase that patients have been in cannot be
    /// removed.
    pub async fn set_phase_settings(
        &self,
        grant: &Grant<can::ManagePrograms>,
        program_id: i64,
        phases: &[NewPhase],
        rules: &PhaseRules,
    ) -> Result<PhaseSettings> {
        let program = self.program(program_id).await?;
        rules.check()?;
        let mut errors = Vec::new();
        for (i, p) in phases.iter().enumerate() {
            if p.name.trim().is_empty() || p.name.chars().count() > 80 {
                errors.push(trellis_domain::patient::FieldError::new(
                    "phases",
                    format!("phase {}: the name must be 1 to 80 characters", i + 1),
                ));
            }
            if p.weekly_minutes > 7 * 24 * 60 {
                errors.push(trellis_domain::patient::FieldError::new(
                    "phases",
                    format!("phase {}: more minutes than a week holds", i + 1),
                ));
            }
        }
        if !errors.is_empty() {
            return Err(StoreError::Invalid(errors));
        }
        if !phases.is_empty() {
            PhasePlan::new(
                phases
                    .iter()
                    .map(|p| Phase {
                        name: p.name.trim().to_owned(),
                        days_per_week: p.days_per_week,
                        weekly_minutes: p.weekly_minutes,
                    })
                    .collect(),
                LevelOfCare::Outpatient,
                LevelOfCare::PartialHospitalization,
            )
            .map_err(|e| StoreError::invalid("phases", e.to_string()))?;
        }
        let mut tx = self.begin().await?;
        let existing = phases_in(&mut tx, program_id).await?;
        for gone in existing.iter().skip(phases.len()) {
            let used: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM episode_phases WHERE phase_id = $1")
                    .bind(gone.id)
                    .fetch_one(&mut *tx)
                    .await?;
            if used > 0 {
                return Err(StoreError::Conflict(format!(
                    "phase {:?} is in patients' history and cannot be removed; rename it instead",
                    gone.name
                )));
            }
            sqlx::query("DELETE FROM program_phases WHERE id = $1")
                .bind(gone.id)
                .execute(&mut *tx)
                .await?;
        }
        for (position, p) in phases.iter().enumerate() {
            let position = position as i64;
            if existing.iter().any(|e| e.position == position) {
                sqlx::query(
                    "UPDATE program_phases SET name = $3, days_per_week = $4, weekly_minutes = $5
                     WHERE program_id = $1 AND position = $2",
                )
                .bind(program_id)
                .bind(position)
                .bind(p.name.trim())
                .bind(i64::from(p.days_per_week))
                .bind(i64::from(p.weekly_minutes))
                .execute(&mut *tx)
                .await?;
            } else {
                sqlx::query(
                    "INSERT INTO program_phases (program_id, position, name, days_per_week,
                         weekly_minutes) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(program_id)
                .bind(position)
                .bind(p.name.trim())
                .bind(i64::from(p.days_per_week))
                .bind(i64::from(p.weekly_minutes))
                .execute(&mut *tx)
                .await?;
            }
        }
        sqlx::query("DELETE FROM program_phase_rules WHERE program_id = $1")
            .bind(program_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO program_phase_rules (program_id, min_weeks_in_phase,
                 min_attendance_percent, negative_screens, objectives_met,
                 excused_count_as_missed, weeks_under_minimum, positive_screens, screen_window,
                 outreach_after_unexcused, outreach_excused_breaks_run, updated_at, updated_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(program_id)
        .bind(i64::from(rules.min_weeks_in_phase))
        .bind(i64::from(rules.min_attendance_percent))
        .bind(i64::from(rules.negative_screens))
        .bind(i64::from(rules.objectives_met))
        .bind(rules.excused_count_as_missed)
        .bind(i64::from(rules.weeks_under_minimum))
        .bind(i64::from(rules.positive_screens))
        .bind(i64::from(rules.screen_window))
        .bind(i64::from(rules.outreach_after_unexcused))
        .bind(rules.outreach_excused_breaks_run)
        .bind(Instant::now())
        .bind(grant.actor().user_id)
        .execute(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "set_phases",
                record_type: "program",
                record_id: Some(program_id),
                patient_id: None,
                detail: format!("{} phases", phases.len()),
            },
        )
        .await?;
        let phases = phases_in(&mut tx, program_id).await?;
        tx.commit().await?;
        Ok(PhaseSettings {
            program_id,
            warnings: floor_warnings(&program, &phases)?,
            phases,
            rules: *rules,
        })
    }

    async fn review_in(
        &self,
        tx: &mut sqlx::AnyConnection,
        patient_id: i64,
        today: NaiveDate,
    ) -> Result<Option<(Standing, ReviewOutcome)>> {
        let Some(standing) = standing(tx, patient_id).await? else {
            return Ok(None);
        };
        let rules = rules_in(tx, standing.episode.program_id).await?;
        let progress = gather_phase_progress(self, tx, patient_id, &standing, today).await?;
        let recommendation = plan_of(&standing.phases)?
            .recommend(&progress, &rules.criteria(), &rules.triggers())
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(Some((standing, review_view(recommendation))))
    }

    /// The patient's phase, the step-down and step-up recommendations and the decision history
    /// (audited); `None` without an open episode in a program with phases.
    pub async fn phase_review(
        &self,
        grant: &PatientGrant<can::ReadClinical>,
        today: NaiveDate,
    ) -> Result<Option<PhaseReview>> {
        let patient_id = grant.patient_id();
        let mut reader = self.read_conn().await?;
        let mut tx = sqlx::Connection::begin(&mut *reader).await?;
        let Some((standing, outcome)) = self.review_in(&mut tx, patient_id, today).await? else {
            tx.commit().await?;
            return Ok(None);
        };
        let rows: Vec<DecisionRow> = sqlx::query_as(
            "SELECT ep.id, ep.episode_id, ep.phase_id, ph.name AS phase_name, ep.decision,
                 ep.effective_on, t.name AS track_name, ep.reason, ep.recommendation,
                 u.display_name AS decided_by_name, ep.recorded_at
             FROM episode_phases ep JOIN program_phases ph ON ph.id = ep.phase_id
             JOIN users u ON u.id = ep.decided_by LEFT JOIN tracks t ON t.id = ep.track_id
             WHERE ep.episode_id = $1 ORDER BY ep.effective_on DESC, ep.id DESC",
        )
        .bind(standing.episode.id)
        .fetch_all(&mut *tx)
        .await?;
        audit::record(
            self,
            grant.actor(),
            AuditEvent {
                action: "read",
                record_type: "phase_review",
                record_id: Some(standing.episode.id),
                patient_id: Some(patient_id),
                detail: String::new(),
            },
        )
        .await?;
        tx.commit().await?;
        let history = rows
            .into_iter()
            .map(|r| self.decision_from_row(r))
            .collect::<Result<Vec<_>>>()?;
        let weeks_in_phase =
            u32::try_from((today - standing.since).num_days().max(0) / 7).unwrap_or(0);
        Ok(Some(PhaseReview {
            episode_id: standing.episode.id,
            current: standing.phases[standing.index].clone(),
            phases: standing.phases,
            since: Day(standing.since),
            weeks_in_phase,
            recommended: outcome.recommended,
            summary: outcome.summary,
            switched_off: outcome.switched_off,
            step_down: outcome.step_down,
            step_up: outcome.step_up,
            history,
        }))
    }

    /// Records a clinician's phase decision. A step down goes to the next phase and a step up to
    /// the previous one (phases are not skipped); leaving the program's phases is a level-of-care
    /// change. With a track, the patient's current tracks in the program end the day before the
    /// effective date and the new one starts on it, in the same transaction; that needs
    /// `schedule`, the right to manage the patient's schedule.
    pub async fn decide_phase(
        &self,
        grant: &PatientGrant<can::ChangeLevelOfCare>,
        schedule: Option<&PatientGrant<can::ManageSchedule>>,
        decision: &NewPhaseDecision,
        today: NaiveDate,
    ) -> Result<i64> {
        let staff_id = grant.actor().staff_id()?;
        let patient_id = grant.patient_id();
        let reason = decision.reason.trim();
        if reason.chars().count() > 2000 {
            return Err(StoreError::invalid("reason", "at most 2000 characters"));
        }
        if reason.is_empty() && decision.decision != PhaseDecisionKind::StepDown {
            return Err(StoreError::invalid(
                "reason",
                "is required: say why the patient steps up or stays",
            ));
        }
        if decision.effective_on > today + Duration::days(MAX_DAYS_AHEAD) {
            return Err(StoreError::invalid(
                "effective_on",
                format!("cannot be more than {MAX_DAYS_AHEAD} days ahead"),
            ));
        }
        let track = match decision.track_id {
            Some(track_id) => {
                if schedule.is_none_or(|s| s.patient_id() != patient_id) {
                    return Err(StoreError::Denied(
                        "changing the patient's track needs the right to manage the schedule"
                            .into(),
                    ));
                }
                Some(
                    self.track(track_id)
                        .await
                        .map_err(|_| StoreError::invalid("track_id", "choose a track"))?,
                )
            }
            None => None,
        };
        let mut tx = self.begin().await?;
        let Some((standing, outcome)) = self.review_in(&mut tx, patient_id, today).await? else {
            return Err(StoreError::Conflict(
                "the patient has no open episode in a program with phases".into(),
            ));
        };
        if decision.effective_on < standing.since {
            return Err(StoreError::invalid(
                "effective_on",
                format!(
                    "cannot be before the current phase began ({})",
                    standing.since
                ),
            ));
        }
        let target_index = match decision.decision {
            PhaseDecisionKind::StepDown => Some(standing.index + 1),
            PhaseDecisionKind::StepUp => standing.index.checked_sub(1),
            PhaseDecisionKind::Stay => Some(standing.index),
        };
        let target = match target_index.and_then(|i| standing.phases.get(i)) {
            Some(p) => p.clone(),
            None => {
                return Err(StoreError::invalid(
                    "decision",
                    if decision.decision == PhaseDecisionKind::StepUp {
                        "the patient is in the most intensive phase; a step up to partial                          hospitalization is a level-of-care change (Episodes tab)"
                    } else {
                        "the patient is in the last phase; stepping down from it is a                          level-of-care change or discharge (Episodes tab)"
                    },
                ))
            }
        };
        if let Some(phase_id) = decision.phase_id {
            match standing.phases.iter().find(|p| p.id == phase_id) {
                None => {
                    return Err(StoreError::invalid(
                        "phase_id",
                        "not a phase of the patient's program",
                    ))
                }
                Some(p) if p.id != target.id => {
                    return Err(StoreError::invalid(
                        "phase_id",
                        format!(
                            "phases are not skipped: a {} from {:?} goes to {:?}",
                            decision.decision.code().replace('_', " "),
                            standing.phases[standing.index].name,
                            target.name
                        ),
                    ))
                }
                Some(_) => {}
            }
        }
        // The snapshot keeps the one recommendation and both sides' checks as they stood.
        let snapshot = serde_json::to_string(&RecommendationSnapshot {
            summary: outcome.summary.clone(),
            checks: outcome
                .step_down
                .checks
                .iter()
                .chain(&outcome.step_up.checks)
                .cloned()
                .collect(),
        })
        .map_err(|e| StoreError::Corrupt(format!("snapshot: {e}")))?;
        if let Some(info) = &track {
            // The old groups end the day before; one starting on or after that day never began.
            let day_before = decision.effective_on - Duration::days(1);
            sqlx::query(
                "DELETE FROM track_enrolments WHERE patient_id = $1 AND ended_on IS NULL
                 AND enrolled_on >= $2
                 AND track_id IN (SELECT id FROM tracks WHERE program_id = $3)",
            )
            .bind(patient_id)
            .bind(Day(decision.effective_on))
            .bind(standing.episode.program_id)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE track_enrolments SET ended_on = $2 WHERE patient_id = $1
                 AND ended_on IS NULL
                 AND track_id IN (SELECT id FROM tracks WHERE program_id = $3)",
            )
            .bind(patient_id)
            .bind(Day(day_before))
            .bind(standing.episode.program_id)
            .execute(&mut *tx)
            .await?;
            enrol_in_track(
                &mut tx,
                grant.actor(),
                patient_id,
                info,
                decision.effective_on,
            )
            .await?;
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO episode_phases (episode_id, phase_id, decision, effective_on, track_id,
                 reason, recommendation, decided_by, recorded_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(standing.episode.id)
        .bind(target.id)
        .bind(decision.decision.code())
        .bind(Day(decision.effective_on))
        .bind(track.as_ref().map(|t| t.id))
        .bind(self.seal(REASON_COLUMN, reason)?)
        .bind(self.seal(SNAPSHOT_COLUMN, &snapshot)?)
        .bind(staff_id)
        .bind(Instant::now())
        .fetch_one(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            grant.actor(),
            AuditEvent {
                action: "phase_decision",
                record_type: "episode",
                record_id: Some(standing.episode.id),
                patient_id: Some(patient_id),
                detail: format!("{} to phase {}", decision.decision.code(), target.id),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Patients on the actor's caseload (primary counselor) whose recorded step-down criteria are
    /// all met: ready for a step-down review (audited as one list).
    pub async fn step_down_candidates(
        &self,
        grant: &Grant<can::ReadClinical>,
        today: NaiveDate,
    ) -> Result<Vec<StepDownCandidate>> {
        let actor = grant.actor();
        let mut reader = self.read_conn().await?;
        let mut tx = sqlx::Connection::begin(&mut *reader).await?;
        let patients: Vec<(i64, String)> = sqlx::query_as(
            "SELECT p.id, CAST('' AS TEXT)
             FROM episodes e JOIN patients p ON p.id = e.patient_id
             WHERE e.status = 'open' AND e.primary_counselor_id = $1
             AND EXISTS (SELECT 1 FROM program_phases ph WHERE ph.program_id = e.program_id)",
        )
        .bind(actor.user_id.unwrap_or(0))
        .fetch_all(&mut *tx)
        .await?;
        // One counselor's caseload, sorted by name once decrypted.
        let names = self
            .listed_names(&mut tx, patients.iter().map(|p| p.0))
            .await?;
        let mut patients: Vec<(i64, String)> = patients
            .into_iter()
            .map(|(id, _)| (id, names.display(id)))
            .collect();
        patients.sort_by_cached_key(|p| names.order(p.0));
        let mut out = Vec::new();
        for (patient_id, patient_name) in patients {
            let Some((standing, outcome)) = self.review_in(&mut tx, patient_id, today).await?
            else {
                continue;
            };
            let down = &outcome.step_down;
            if !down.ready_for_review() {
                continue;
            }
            out.push(StepDownCandidate {
                patient_id,
                patient_name,
                phase_name: standing.phases[standing.index].name.clone(),
                weeks_in_phase: u32::try_from((today - standing.since).num_days().max(0) / 7)
                    .unwrap_or(0),
                destination: down.destination.clone(),
                not_recorded: down
                    .checks
                    .iter()
                    .filter(|c| c.status == CheckStatus::NotRecorded)
                    .map(|c| c.label.clone())
                    .collect(),
            });
        }
        let shown: Vec<i64> = out
            .iter()
            .map(|r: &StepDownCandidate| r.patient_id)
            .collect();
        audit::record_shown(
            self,
            actor,
            AuditEvent {
                action: "search",
                record_type: "step_down_review",
                record_id: None,
                patient_id: None,
                detail: format!("{} results", out.len()),
            },
            &shown,
        )
        .await?;
        tx.commit().await?;
        Ok(out)
    }
}
