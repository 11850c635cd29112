//! Phases: the chart's Phase tab (current phase, the step-down and step-up recommendations with
//! each criterion, the decision form and history), a program's phase settings, and the
//! counselor's "ready for step-down review" list.

use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{Datelike, Duration, NaiveDate};
use serde::Deserialize;
use trellis_domain::access::{permits, Permission};
use trellis_domain::patient::FieldError;
use trellis_domain::schedule::phases::{Destination, Direction, Recommended};
use trellis_storage::access::can;
use trellis_storage::phases::{
    CheckStatus, CheckView, NewPhase, NewPhaseDecision, PhaseDecisionKind, PhaseRecommendation,
    PhaseReview, PhaseRules, PhaseSettings,
};
use trellis_storage::StoreError;

use super::patients::{chart_data, chart_page};
use super::{labelled, LabelledError, Layout};
use crate::error::AppError;
use crate::forms;
use crate::identity::Staff;
use crate::view;
use crate::AppState;

/// One criterion as the tab shows it.
pub struct CheckRow {
    pub(super) label: String,
    pub(super) mark: &'static str,
    pub(super) class: &'static str,
    pub(super) reason: String,
}

/// A recommendation as the tab shows it.
pub struct RecommendationView {
    pub(super) recommended: bool,
    pub(super) destination: String,
    /// Set when the step leaves the program's phases (a level-of-care change).
    pub(super) leaves_phases: bool,
    pub(super) checks: Vec<CheckRow>,
}

/// One decision in the history.
pub struct DecisionRow {
    pub(super) effective_on: String,
    pub(super) decision: &'static str,
    pub(super) phase: String,
    pub(super) track: String,
    pub(super) reason: String,
    pub(super) decided_by: String,
    pub(super) summary: String,
    pub(super) checks: Vec<CheckRow>,
}

/// The decision form's values, kept on a refusal.
#[derive(Debug, Default, Deserialize)]
pub struct DecisionForm {
    #[serde(default)]
    pub(super) decision: String,
    #[serde(default)]
    pub(super) effective_on: String,
    #[serde(default)]
    pub(super) track_id: String,
    #[serde(default)]
    pub(super) reason: String,
}

/// What the chart's Phase tab shows.
pub struct PhaseTab {
    pub(super) episode_id: i64,
    pub(super) current: String,
    pub(super) requirement: String,
    pub(super) since: String,
    pub(super) weeks: u32,
    pub(super) phases: Vec<(String, String, bool)>,
    /// The one recommendation: step down, stay or step up, as a badge (text, class).
    pub(super) verdict: (&'static str, &'static str),
    /// What the clinician reads first.
    pub(super) summary: String,
    /// Checks switched off in the program's settings.
    pub(super) switched_off: Vec<String>,
    /// Step-down criteria, then step-up signs: (heading start, checks).
    pub(super) recommendations: Vec<(&'static str, RecommendationView)>,
    /// Decision choices: (code, label).
    pub(super) choices: Vec<(&'static str, String)>,
    pub(super) tracks: Vec<(i64, String)>,
    pub(super) can_decide: bool,
    pub(super) can_move_track: bool,
    pub(super) form: DecisionForm,
    pub(super) errors: Vec<LabelledError>,
    pub(super) history: Vec<DecisionRow>,
}

fn check_row(c: &CheckView) -> CheckRow {
    let (mark, class) = match c.status {
        CheckStatus::Met => ("✓ met", "ok"),
        CheckStatus::NotMet => ("✗ not met", "flag"),
        CheckStatus::NotRecorded => ("not recorded", ""),
        CheckStatus::SwitchedOff => ("switched off", "warn"),
    };
    CheckRow {
        label: c.label.clone(),
        mark,
        class,
        reason: c.reason.clone(),
    }
}

fn destination(d: &Destination) -> String {
    match d {
        Destination::Phase { name, .. } => name.clone(),
        Destination::Level { level } => format!("level of care {}", view::level(level.code())),
    }
}

fn recommendation_view(r: &PhaseRecommendation) -> RecommendationView {
    let step_up = r.direction == Direction::StepUp;
    RecommendationView {
        recommended: r.recommended,
        destination: destination(&r.destination),
        leaves_phases: matches!(r.destination, Destination::Level { .. }),
        checks: r
            .checks
            .iter()
            .map(|c| {
                let mut row = check_row(c);
                // A step-up sign that is "met" is a concern, and one not met is reassuring.
                if step_up {
                    (row.mark, row.class) = match c.status {
                        CheckStatus::Met => ("concern", "flag"),
                        CheckStatus::NotMet => ("no concern", "ok"),
                        CheckStatus::NotRecorded | CheckStatus::SwitchedOff => {
                            (row.mark, row.class)
                        }
                    };
                }
                row
            })
            .collect(),
    }
}

fn hours(minutes: i64) -> String {
    let h = minutes as f64 / 60.0;
    if minutes % 60 == 0 {
        format!("{h:.0} h")
    } else {
        format!("{h:.1} h")
    }
}

/// The Monday after `today`: a phase change usually starts with a new week.
fn next_monday(today: NaiveDate) -> NaiveDate {
    today + Duration::days(7 - i64::from(today.weekday().num_days_from_monday()))
}

async fn phase_tab(
    state: &AppState,
    staff: &Staff,
    review: PhaseReview,
    form: DecisionForm,
    errors: &[FieldError],
) -> Result<PhaseTab, AppError> {
    let role = staff.actor.role;
    let index = review
        .phases
        .iter()
        .position(|p| p.id == review.current.id)
        .unwrap_or(0);
    let mut choices = Vec::new();
    if let Some(next) = review.phases.get(index + 1) {
        choices.push(("step_down", format!("Promote to {} (step down)", next.name)));
    }
    if let Some(previous) = index.checked_sub(1).and_then(|i| review.phases.get(i)) {
        choices.push(("step_up", format!("Step up to {}", previous.name)));
    }
    choices.push(("stay", format!("Stay in {}", review.current.name)));
    let program_id = review.current.program_id;
    let can_move_track = permits(role, Permission::ManageSchedule);
    let tracks = if can_move_track {
        state
            .store
            .tracks()
            .await?
            .into_iter()
            .filter(|t| t.program_id == program_id)
            .map(|t| {
                (
                    t.id,
                    format!(
                        "{} ({} of {} places taken)",
                        t.name, t.enrolled, t.max_group_size
                    ),
                )
            })
            .collect()
    } else {
        Vec::new()
    };
    let form = DecisionForm {
        effective_on: if form.effective_on.is_empty() {
            next_monday(state.today()).to_string()
        } else {
            form.effective_on
        },
        ..form
    };
    Ok(PhaseTab {
        episode_id: review.episode_id,
        current: review.current.name.clone(),
        requirement: format!(
            "{} days and {} a week",
            review.current.days_per_week,
            hours(review.current.weekly_minutes)
        ),
        since: view::day(&review.since),
        weeks: review.weeks_in_phase,
        phases: review
            .phases
            .iter()
            .map(|p| {
                (
                    p.name.clone(),
                    format!(
                        "{} days, {} a week",
                        p.days_per_week,
                        hours(p.weekly_minutes)
                    ),
                    p.id == review.current.id,
                )
            })
            .collect(),
        verdict: match review.recommended {
            Recommended::StepDown => ("Step down recommended", "ok"),
            Recommended::Stay => ("Stay recommended", ""),
            Recommended::StepUp => ("Consider a step up", "flag"),
        },
        summary: review.summary.clone(),
        switched_off: review.switched_off.clone(),
        recommendations: vec![
            (
                "Criteria for a step down to ",
                recommendation_view(&review.step_down),
            ),
            (
                "Signs for a step up to ",
                recommendation_view(&review.step_up),
            ),
        ],
        choices,
        tracks,
        can_decide: permits(role, Permission::ChangeLevelOfCare),
        can_move_track,
        form,
        errors: labelled(errors),
        history: review
            .history
            .iter()
            .map(|h| DecisionRow {
                effective_on: view::day(&h.effective_on),
                decision: h.decision.label(),
                phase: h.phase_name.clone(),
                track: h.track_name.clone().unwrap_or_else(|| "—".into()),
                reason: if h.reason.is_empty() {
                    "—".into()
                } else {
                    h.reason.clone()
                },
                decided_by: h.decided_by_name.clone(),
                summary: h.recommendation.summary.clone(),
                checks: h.recommendation.checks.iter().map(check_row).collect(),
            })
            .collect(),
    })
}

async fn render_tab(
    state: &AppState,
    staff: &Staff,
    id: i64,
    form: DecisionForm,
    errors: &[FieldError],
) -> Result<String, AppError> {
    let grant = state
        .store
        .patient_grant::<can::ReadClinical>(&staff.actor, id)
        .await?;
    let review = state.store.phase_review(&grant, state.today()).await?;
    let data = chart_data(state, &staff.actor, id).await?;
    let mut page = chart_page(staff, data, "phase", Vec::new(), None);
    page.phase = Some(match review {
        Some(review) => Some(phase_tab(state, staff, review, form, errors).await?),
        None => None,
    });
    Ok(page.render()?)
}

/// The chart's Phase tab.
pub async fn tab(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    Ok(Html(render_tab(&state, &staff, id, DecisionForm::default(), &[]).await?).into_response())
}

/// Records the clinician's phase decision; re-shows the tab with 422 and the problems if refused.
pub async fn decide(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Form(form): Form<DecisionForm>,
) -> Result<Response, AppError> {
    let grant = state
        .store
        .patient_grant::<can::ChangeLevelOfCare>(&staff.actor, id)
        .await?;
    let mut errors = Vec::new();
    let decision = forms::code::<PhaseDecisionKind>(
        "decision",
        &form.decision,
        "choose promote, step up or stay",
        &mut errors,
    );
    let effective_on = forms::date("effective_on", &form.effective_on, &mut errors);
    let track_id = forms::optional_id("track_id", &form.track_id, &mut errors);
    let schedule = match track_id {
        Some(_) => Some(
            state
                .store
                .patient_grant::<can::ManageSchedule>(&staff.actor, id)
                .await?,
        ),
        None => None,
    };
    let outcome = match (decision, effective_on, errors.is_empty()) {
        (Some(decision), Some(effective_on), true) => {
            state
                .store
                .decide_phase(
                    &grant,
                    schedule.as_ref(),
                    &NewPhaseDecision {
                        decision,
                        phase_id: None,
                        effective_on,
                        track_id,
                        reason: form.reason.clone(),
                    },
                    state.today(),
                )
                .await
        }
        _ => Err(StoreError::Invalid(errors)),
    };
    let errors = match outcome {
        Ok(_) => return Ok(Redirect::to(&format!("/patients/{id}/phase")).into_response()),
        Err(StoreError::Invalid(errors)) => errors,
        Err(StoreError::Conflict(message)) => vec![FieldError::new("decision", message)],
        Err(e) => return Err(e.into()),
    };
    Ok((
        StatusCode::UNPROCESSABLE_ENTITY,
        Html(render_tab(&state, &staff, id, form, &errors).await?),
    )
        .into_response())
}

/// A patient ready for a step-down review, as listed.
pub struct CandidateRow {
    patient_id: i64,
    name: String,
    phase: String,
    weeks: u32,
    destination: String,
    to_check: String,
}

#[derive(Template)]
#[template(path = "step_down_review.html")]
struct ReviewPage {
    layout: Layout,
    rows: Vec<CandidateRow>,
}

/// Patients on the counselor's caseload whose recorded step-down criteria are all met.
pub async fn review_list(
    State(state): State<AppState>,
    staff: Staff,
) -> Result<Response, AppError> {
    let grant = state.store.grant::<can::ReadClinical>(&staff.actor)?;
    let rows = state
        .store
        .step_down_candidates(&grant, state.today())
        .await?
        .into_iter()
        .map(|c| CandidateRow {
            patient_id: c.patient_id,
            name: c.patient_name,
            phase: c.phase_name,
            weeks: c.weeks_in_phase,
            destination: destination(&c.destination),
            to_check: if c.not_recorded.is_empty() {
                "—".into()
            } else {
                c.not_recorded.join(", ")
            },
        })
        .collect();
    let page = ReviewPage {
        layout: Layout::new(&staff, "dashboard"),
        rows,
    };
    Ok(Html(page.render()?).into_response())
}

/// The program settings form, as the browser sends it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SettingsForm {
    #[serde(default)]
    phases: String,
    #[serde(default)]
    min_weeks_in_phase: String,
    #[serde(default)]
    min_attendance_percent: String,
    #[serde(default)]
    negative_screens: String,
    #[serde(default)]
    objectives_met: String,
    excused_count_as_missed: Option<String>,
    #[serde(default)]
    weeks_under_minimum: String,
    #[serde(default)]
    positive_screens: String,
    #[serde(default)]
    screen_window: String,
    #[serde(default)]
    outreach_after_unexcused: String,
    outreach_excused_breaks_run: Option<String>,
}

impl SettingsForm {
    fn from_settings(s: &PhaseSettings) -> SettingsForm {
        let r = &s.rules;
        let on = |b: bool| b.then(|| "on".to_owned());
        SettingsForm {
            phases: s
                .phases
                .iter()
                .map(|p| {
                    format!(
                        "{} | {} | {}",
                        p.name,
                        p.days_per_week,
                        hours(p.weekly_minutes).trim_end_matches(" h")
                    )
                })
                .collect::<Vec<_>>()
                .join("\n"),
            min_weeks_in_phase: r.min_weeks_in_phase.to_string(),
            min_attendance_percent: r.min_attendance_percent.to_string(),
            negative_screens: r.negative_screens.to_string(),
            objectives_met: r.objectives_met.to_string(),
            excused_count_as_missed: on(r.excused_count_as_missed),
            weeks_under_minimum: r.weeks_under_minimum.to_string(),
            positive_screens: r.positive_screens.to_string(),
            screen_window: r.screen_window.to_string(),
            outreach_after_unexcused: r.outreach_after_unexcused.to_string(),
            outreach_excused_breaks_run: on(r.outreach_excused_breaks_run),
        }
    }

    fn parse(&self, errors: &mut Vec<FieldError>) -> (Vec<NewPhase>, PhaseRules) {
        let mut number = |field: &'static str, value: &str| -> u32 {
            value.trim().parse().unwrap_or_else(|_| {
                errors.push(FieldError::new(field, "must be a whole number"));
                0
            })
        };
        let rules = PhaseRules {
            min_weeks_in_phase: number("min_weeks_in_phase", &self.min_weeks_in_phase),
            min_attendance_percent: number("min_attendance_percent", &self.min_attendance_percent),
            negative_screens: number("negative_screens", &self.negative_screens),
            objectives_met: number("objectives_met", &self.objectives_met),
            excused_count_as_missed: self.excused_count_as_missed.is_some(),
            weeks_under_minimum: number("weeks_under_minimum", &self.weeks_under_minimum),
            positive_screens: number("positive_screens", &self.positive_screens),
            screen_window: number("screen_window", &self.screen_window),
            outreach_after_unexcused: number(
                "outreach_after_unexcused",
                &self.outreach_after_unexcused,
            ),
            outreach_excused_breaks_run: self.outreach_excused_breaks_run.is_some(),
        };
        (parse_phases(&self.phases, errors), rules)
    }
}

/// Parses "Name | days a week | hours a week" lines.
pub fn parse_phases(text: &str, errors: &mut Vec<FieldError>) -> Vec<NewPhase> {
    let mut phases = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let parts: Vec<&str> = line.split('|').map(str::trim).collect();
        let parsed = match parts.as_slice() {
            [name, days, hours] => days
                .parse::<u8>()
                .ok()
                .zip(
                    hours
                        .parse::<f64>()
                        .ok()
                        .filter(|h| (0.0..=168.0).contains(h)),
                )
                .map(|(days, hours)| NewPhase {
                    name: (*name).to_owned(),
                    days_per_week: days,
                    weekly_minutes: (hours * 60.0).round() as u32,
                }),
            _ => None,
        };
        match parsed {
            Some(p) => phases.push(p),
            None => {
                errors.push(FieldError::new(
                    "phases",
                    format!("{line:?} is not like \"Phase 2 | 3 | 9\""),
                ));
                return Vec::new();
            }
        }
    }
    phases
}

#[derive(Template)]
#[template(path = "program_phases.html")]
struct SettingsPage {
    layout: Layout,
    program_id: i64,
    program: String,
    form: SettingsForm,
    errors: Vec<LabelledError>,
    saved: bool,
    /// Phases below ASAM's weekly floor for the program's level.
    warnings: Vec<String>,
}

async fn settings_page(
    state: &AppState,
    staff: &Staff,
    program_id: i64,
    form: Option<SettingsForm>,
    errors: &[FieldError],
    saved: bool,
) -> Result<String, AppError> {
    let program = state.store.program(program_id).await?;
    let stored = state.store.phase_settings(program_id).await?;
    let form = form.unwrap_or_else(|| SettingsForm::from_settings(&stored));
    Ok(SettingsPage {
        layout: Layout::new(staff, "tracks"),
        program_id,
        program: program.name,
        form,
        errors: labelled(errors),
        saved,
        warnings: stored.warnings,
    }
    .render()?)
}

/// A program's phases and promotion, step-up and outreach settings.
pub async fn settings(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    state.store.grant::<can::ManagePrograms>(&staff.actor)?;
    Ok(Html(settings_page(&state, &staff, id, None, &[], false).await?).into_response())
}

/// Saves a program's phase settings; re-shows the form with 422 and the problems if refused.
pub async fn save_settings(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Form(form): Form<SettingsForm>,
) -> Result<Response, AppError> {
    let grant = state.store.grant::<can::ManagePrograms>(&staff.actor)?;
    let mut errors = Vec::new();
    let (phases, rules) = form.parse(&mut errors);
    let outcome = if errors.is_empty() {
        state
            .store
            .set_phase_settings(&grant, id, &phases, &rules)
            .await
            .map(|_| ())
    } else {
        Err(StoreError::Invalid(errors))
    };
    let errors = match outcome {
        Ok(()) => {
            return Ok(
                Html(settings_page(&state, &staff, id, None, &[], true).await?).into_response(),
            )
        }
        Err(StoreError::Invalid(errors)) => errors,
        Err(StoreError::Conflict(message)) => vec![FieldError::new("phases", message)],
        Err(e) => return Err(e.into()),
    };
    Ok((
        StatusCode::UNPROCESSABLE_ENTITY,
        Html(settings_page(&state, &staff, id, Some(form), &errors, false).await?),
    )
        .into_response())
}
