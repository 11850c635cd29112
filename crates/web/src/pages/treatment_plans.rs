//! The chart's Treatment plan tab: the plan in force, the draft form (fixed blank rows, no
//! script), signing by patient and clinician, revisions, every old version viewable, the
//! patient's printable copy, and the program review intervals for administrators.

use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use std::collections::BTreeMap;
use trellis_domain::access::{permits, Permission};
use trellis_domain::patient::FieldError;
use trellis_storage::access::can;
use trellis_storage::treatment_plans::{
    Goal, Intervention, Modality, Objective, ObjectiveStatus, PlanContent, PlanSignatures, Problem,
    TreatmentPlan,
};

use super::patients::{chart_data, ChartHeader};
use super::{labelled, ChartTabs, LabelledError, Layout};
use crate::error::AppError;
use crate::identity::Staff;
use crate::view;
use crate::AppState;

/// The most rows of any one level a posted form is read for.
const MAX_ROWS: usize = 20;

/// A plan version ready to show.
pub struct PlanView {
    version: i64,
    signed: bool,
    problems: Vec<ProblemView>,
    written: String,
    patient_signed: Option<String>,
    clinician_signed: Option<String>,
    review_due: Option<String>,
    overdue: bool,
}

/// A problem ready to show.
pub struct ProblemView {
    text: String,
    source: Option<String>,
    goals: Vec<GoalView>,
}

/// A goal ready to show.
pub struct GoalView {
    text: String,
    objectives: Vec<ObjectiveView>,
}

/// An objective ready to show.
pub struct ObjectiveView {
    text: String,
    target: String,
    status: &'static str,
    interventions: Vec<String>,
}

fn plan_view(state: &AppState, staff_names: &BTreeMap<i64, String>, p: &TreatmentPlan) -> PlanView {
    let when = |i: &Option<trellis_storage::Instant>| {
        i.as_ref()
            .map(|t| view::local_time(t, state.timezone))
            .unwrap_or_default()
    };
    PlanView {
        version: p.version,
        signed: p.is_signed(),
        written: format!(
            "Written by {} {}",
            p.created_by_name,
            view::local_time(&p.created_at, state.timezone)
        ),
        patient_signed: p
            .patient_signature
            .as_ref()
            .map(|s| format!("{s}, {}", when(&p.patient_signed_at))),
        clinician_signed: p
            .clinician_signature
            .as_ref()
            .map(|s| format!("{s}, {}", when(&p.clinician_signed_at))),
        review_due: p.review_due_on.as_ref().map(view::day),
        overdue: p.review_overdue(state.today()),
        problems: p
            .content
            .problems
            .iter()
            .map(|problem| ProblemView {
                text: problem.text.clone(),
                source: match (diagnosis_source(problem), &problem.finding) {
                    (Some(d), Some(f)) => Some(format!("{d}; finding: {f}")),
                    (Some(d), None) => Some(d),
                    (None, Some(f)) => Some(format!("Assessment finding: {f}")),
                    (None, None) => None,
                },
                goals: problem
                    .goals
                    .iter()
                    .map(|g| GoalView {
                        text: g.text.clone(),
                        objectives: g
                            .objectives
                            .iter()
                            .map(|o| ObjectiveView {
                                text: o.text.clone(),
                                target: view::date(o.target_on),
                                status: o.status.label(),
                                interventions: o
                                    .interventions
                                    .iter()
                                    .map(|i| {
                                        format!(
                                            "{}, {} — {}",
                                            i.modality.label(),
                                            i.frequency,
                                            staff_names
                                                .get(&i.staff_id)
                                                .map(String::as_str)
                                                .unwrap_or("former staff member")
                                        )
                                    })
                                    .collect(),
                            })
                            .collect(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// One intervention row of the draft form.
pub struct InterventionRow {
    name: String,
    modality: String,
    frequency: String,
    staff: String,
}

/// One objective row of the draft form.
pub struct ObjectiveRow {
    name: String,
    label: String,
    text: String,
    target: String,
    status: String,
    interventions: Vec<InterventionRow>,
}

/// One goal row of the draft form.
pub struct GoalRow {
    name: String,
    label: String,
    text: String,
    objectives: Vec<ObjectiveRow>,
}

/// One problem row of the draft form.
pub struct ProblemRow {
    name: String,
    label: String,
    text: String,
    /// The chosen diagnosis's id ("" for none).
    diagnosis: String,
    finding: String,
    goals: Vec<GoalRow>,
}

/// Where a problem comes from, if a diagnosis: its code, and a warning when an old version
/// names a code that is not on the patient's list (it cannot be linked to a row).
fn diagnosis_source(problem: &trellis_storage::treatment_plans::Problem) -> Option<String> {
    let code = problem.diagnosis_code.as_ref()?;
    Some(match problem.diagnosis_id {
        Some(_) => format!("Diagnosis {code}"),
        None => format!("Diagnosis {code} (not on the patient's diagnosis list)"),
    })
}

/// The field values of a plan, named as the draft form names them ("p0.g0.o1.target").
fn content_values(content: &PlanContent) -> BTreeMap<String, String> {
    let mut v = BTreeMap::new();
    for (p, problem) in content.problems.iter().enumerate() {
        v.insert(format!("p{p}.text"), problem.text.clone());
        v.insert(
            format!("p{p}.diagnosis"),
            problem
                .diagnosis_id
                .map(|d| d.to_string())
                .unwrap_or_default(),
        );
        v.insert(
            format!("p{p}.finding"),
            problem.finding.clone().unwrap_or_default(),
        );
        for (g, goal) in problem.goals.iter().enumerate() {
            v.insert(format!("p{p}.g{g}.text"), goal.text.clone());
            for (o, objective) in goal.objectives.iter().enumerate() {
                let name = format!("p{p}.g{g}.o{o}");
                v.insert(format!("{name}.text"), objective.text.clone());
                v.insert(format!("{name}.target"), objective.target_on.to_string());
                v.insert(format!("{name}.status"), objective.status.code().into());
                for (i, intervention) in objective.interventions.iter().enumerate() {
                    let name = format!("{name}.i{i}");
                    v.insert(
                        format!("{name}.modality"),
                        intervention.modality.code().into(),
                    );
                    v.insert(format!("{name}.frequency"), intervention.frequency.clone());
                    v.insert(format!("{name}.staff"), intervention.staff_id.to_string());
                }
            }
        }
    }
    v
}

/// Whether any field under `prefix` (e.g. "p0.g1.") has a value; a status or responsible
/// staff member alone does not count, since the form preselects them.
fn used(values: &BTreeMap<String, String>, prefix: &str) -> bool {
    values
        .range(prefix.to_owned()..)
        .take_while(|(k, _)| k.starts_with(prefix))
        .any(|(k, v)| !v.trim().is_empty() && !k.ends_with(".status") && !k.ends_with(".staff"))
}

/// How many rows of one level are in use: one past the highest used index.
fn used_rows(values: &BTreeMap<String, String>, parent: &str, letter: char) -> usize {
    (0..MAX_ROWS)
        .rev()
        .find(|i| used(values, &format!("{parent}{letter}{i}.")))
        .map_or(0, |i| i + 1)
}

fn get(values: &BTreeMap<String, String>, key: &str) -> String {
    values.get(key).cloned().unwrap_or_default()
}

/// The draft form's rows: those in use plus blank ones to add to at each level.
fn form_rows(values: &BTreeMap<String, String>, me: i64) -> Vec<ProblemRow> {
    let problems = (used_rows(values, "", 'p') + 1).max(2);
    (0..problems)
        .map(|p| {
            let pn = format!("p{p}");
            let used_goals = used_rows(values, &format!("{pn}."), 'g');
            // A problem in use gets a blank goal to add to, as objectives and interventions do.
            let goals = if used_goals > 0 { used_goals + 1 } else { 1 };
            ProblemRow {
                label: format!("Problem {}", p + 1),
                text: get(values, &format!("{pn}.text")),
                diagnosis: get(values, &format!("{pn}.diagnosis")),
                finding: get(values, &format!("{pn}.finding")),
                goals: (0..goals)
                    .map(|g| {
                        let gn = format!("{pn}.g{g}");
                        let used_objectives = used_rows(values, &format!("{gn}."), 'o');
                        let objectives = match used_objectives {
                            // The extra blank goal needs one objective row to start with.
                            0 if g > 0 && g == used_goals => 1,
                            0 => 2,
                            n => n + 1,
                        };
                        GoalRow {
                            label: format!("Problem {}, goal {}", p + 1, g + 1),
                            text: get(values, &format!("{gn}.text")),
                            objectives: (0..objectives)
                                .map(|o| {
                                    let on = format!("{gn}.o{o}");
                                    let interventions =
                                        used_rows(values, &format!("{on}."), 'i') + 1;
                                    ObjectiveRow {
                                        label: format!(
                                            "Problem {}, goal {}, objective {}",
                                            p + 1,
                                            g + 1,
                                            o + 1
                                        ),
                                        text: get(values, &format!("{on}.text")),
                                        target: get(values, &format!("{on}.target")),
                                        status: get(values, &format!("{on}.status")),
                                        interventions: (0..interventions)
                                            .map(|i| {
                                                let name = format!("{on}.i{i}");
                                                let staff = get(values, &format!("{name}.staff"));
                                                InterventionRow {
                                                    modality: get(
                                                        values,
                                                        &format!("{name}.modality"),
                                                    ),
                                                    frequency: get(
                                                        values,
                                                        &format!("{name}.frequency"),
                                                    ),
                                                    staff: if staff.is_empty() {
                                                        me.to_string()
                                                    } else {
                                                        staff
                                                    },
                                                    name,
                                                }
                                            })
                                            .collect(),
                                        name: on,
                                    }
                                })
                                .collect(),
                            name: gn,
                        }
                    })
                    .collect(),
                name: pn,
            }
        })
        .collect()
}

/// Reads the posted draft form into plan content; blank rows are skipped. Problems a person
/// can fix without the store (dates, choices from lists) are reported here.
pub fn parse_form(values: &BTreeMap<String, String>) -> Result<PlanContent, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut problems = Vec::new();
    for p in 0..MAX_ROWS {
        let pn = format!("p{p}");
        if !used(values, &format!("{pn}.")) {
            continue;
        }
        let mut goals = Vec::new();
        for g in 0..MAX_ROWS {
            let gn = format!("{pn}.g{g}");
            if !used(values, &format!("{gn}.")) {
                continue;
            }
            let mut objectives = Vec::new();
            for o in 0..MAX_ROWS {
                let on = format!("{gn}.o{o}");
                if !used(values, &format!("{on}.")) {
                    continue;
                }
                let place = format!("Problem {}, goal {}, objective {}", p + 1, g + 1, o + 1);
                let target = get(values, &format!("{on}.target"));
                let target_on = match target.trim() {
                    "" => {
                        errors.push(FieldError::new(
                            "target_on",
                            format!("{place}: enter a target date"),
                        ));
                        None
                    }
                    t => match NaiveDate::parse_from_str(t, "%Y-%m-%d") {
                        Ok(d) => Some(d),
                        Err(_) => {
                            errors.push(FieldError::new(
                                "target_on",
                                format!("{place}: the target date must be YYYY-MM-DD"),
                            ));
                            None
                        }
                    },
                };
                let status = match get(values, &format!("{on}.status")).trim() {
                    "" => ObjectiveStatus::Open,
                    s => s.parse().unwrap_or_else(|_| {
                        errors.push(FieldError::new(
                            "status",
                            format!("{place}: choose a status from the list"),
                        ));
                        ObjectiveStatus::Open
                    }),
                };
                let mut interventions = Vec::new();
                for i in 0..MAX_ROWS {
                    let name = format!("{on}.i{i}");
                    // The responsible staff member is preselected, so it alone is not use.
                    let modality = get(values, &format!("{name}.modality"));
                    let frequency = get(values, &format!("{name}.frequency"));
                    if modality.trim().is_empty() && frequency.trim().is_empty() {
                        continue;
                    }
                    let place = format!("{place}, intervention {}", i + 1);
                    let modality = modality.parse::<Modality>().ok();
                    if modality.is_none() {
                        errors.push(FieldError::new(
                            "modality",
                            format!("{place}: choose a modality from the list"),
                        ));
                    }
                    let staff_id = get(values, &format!("{name}.staff")).trim().parse().ok();
                    if staff_id.is_none() {
                        errors.push(FieldError::new(
                            "staff_id",
                            format!("{place}: choose who is responsible"),
                        ));
                    }
                    if let (Some(modality), Some(staff_id)) = (modality, staff_id) {
                        interventions.push(Intervention {
                            modality,
                            frequency,
                            staff_id,
                        });
                    }
                }
                if let Some(target_on) = target_on {
                    objectives.push(Objective {
                        id: None,
                        text: get(values, &format!("{on}.text")),
                        target_on,
                        status,
                        interventions,
                    });
                }
            }
            goals.push(Goal {
                text: get(values, &format!("{gn}.text")),
                objectives,
            });
        }
        let diagnosis = get(values, &format!("{pn}.diagnosis"));
        let diagnosis_id = match diagnosis.trim() {
            "" => None,
            d => {
                let id = d.parse().ok();
                if id.is_none() {
                    errors.push(FieldError::new(
                        "diagnosis_id",
                        format!(
                            "Problem {}: choose a diagnosis from the patient's list",
                            p + 1
                        ),
                    ));
                }
                id
            }
        };
        let finding = get(values, &format!("{pn}.finding"));
        problems.push(Problem {
            text: get(values, &format!("{pn}.text")),
            // The code comes from the patient's list when the store links the diagnosis.
            diagnosis_code: None,
            diagnosis_id,
            finding: (!finding.trim().is_empty()).then_some(finding),
            goals,
        });
    }
    if errors.is_empty() {
        Ok(PlanContent { problems })
    } else {
        Err(errors)
    }
}

/// One row of the version history.
pub struct VersionRow {
    version: i64,
    written: String,
    signed: String,
    review_due: String,
}

#[derive(Template)]
#[template(path = "treatment_plan.html")]
struct PlanPage {
    layout: Layout,
    header: ChartHeader,
    tabs: ChartTabs,
    can_write: bool,
    current: Option<PlanView>,
    draft: Option<PlanView>,
    /// The form's rows (the draft's, or blank for a first plan).
    rows: Vec<ProblemRow>,
    modalities: Vec<(&'static str, &'static str)>,
    statuses: Vec<(&'static str, &'static str)>,
    staff: Vec<(String, String)>,
    /// The patient's diagnoses a problem may come from: (id, "F10.20 Alcohol dependence…").
    diagnoses: Vec<(String, String)>,
    versions: Vec<VersionRow>,
    errors: Vec<LabelledError>,
    sign_values: (String, String),
}

#[derive(Template)]
#[template(path = "treatment_plan_version.html")]
struct VersionPage {
    layout: Layout,
    patient_id: i64,
    patient_name: String,
    plan: PlanView,
    print: bool,
    latest: i64,
}

async fn staff_names(state: &AppState) -> Result<BTreeMap<i64, String>, AppError> {
    Ok(state
        .store
        .plan_staff()
        .await?
        .into_iter()
        .map(|s| (s.id, s.display_name))
        .collect())
}

/// What the tab re-shows after a refused post: the posted values and the problems.
#[derive(Default)]
struct Posted {
    values: Option<BTreeMap<String, String>>,
    errors: Vec<FieldError>,
    sign: (String, String),
}

async fn render(
    state: &AppState,
    staff: &Staff,
    patient_id: i64,
    posted: Posted,
) -> Result<String, AppError> {
    let data = chart_data(state, &staff.actor, patient_id).await?;
    let grant = state
        .store
        .patient_grant::<can::ReadClinical>(&staff.actor, patient_id)
        .await?;
    let versions = state.store.plan_versions(&grant).await?;
    let names = staff_names(state).await?;
    let diagnoses = state
        .store
        .diagnoses(&grant)
        .await?
        .into_iter()
        .map(|d| {
            let resolved = if d.resolved_on.is_some() {
                " (resolved)"
            } else {
                ""
            };
            (
                d.id.to_string(),
                format!("{} {}{resolved}", d.code, d.description),
            )
        })
        .collect();
    let current = state.store.current_plan(&grant).await?;
    let draft = match versions.first() {
        Some(v) if v.clinician_signed_at.is_none() => {
            Some(state.store.plan_version(&grant, v.version).await?)
        }
        _ => None,
    };
    let me = staff.actor.user_id.unwrap_or(0);
    let values = posted.values.unwrap_or_else(|| {
        draft
            .as_ref()
            .map(|d| content_values(&d.content))
            .unwrap_or_default()
    });
    let role = staff.actor.role;
    Ok(PlanPage {
        layout: Layout::new(staff, "patients"),
        tabs: ChartTabs::new(role, data.header.id, "treatment-plan"),
        header: data.header,
        can_write: permits(role, Permission::WriteClinical),
        current: current.as_ref().map(|p| plan_view(state, &names, p)),
        draft: draft.as_ref().map(|p| plan_view(state, &names, p)),
        rows: form_rows(&values, me),
        modalities: Modality::ALL
            .iter()
            .map(|m| (m.code(), m.label()))
            .collect(),
        statuses: ObjectiveStatus::ALL
            .iter()
            .map(|s| (s.code(), s.label()))
            .collect(),
        staff: names
            .into_iter()
            .map(|(id, name)| (id.to_string(), name))
            .collect(),
        diagnoses,
        versions: versions
            .iter()
            .map(|v| VersionRow {
                version: v.version,
                written: format!(
                    "{} · {}",
                    v.created_by_name,
                    view::local_time(&v.created_at, state.timezone)
                ),
                signed: v
                    .clinician_signed_at
                    .as_ref()
                    .map_or_else(|| "Draft".into(), |s| view::local_time(s, state.timezone)),
                review_due: v.review_due_on.as_ref().map(view::day).unwrap_or_default(),
            })
            .collect(),
        errors: labelled(&posted.errors),
        sign_values: posted.sign,
    }
    .render()?)
}

async fn rejected(
    state: &AppState,
    staff: &Staff,
    patient_id: i64,
    error: AppError,
    mut posted: Posted,
) -> Result<Response, AppError> {
    match error {
        AppError::Invalid(fields) => {
            posted.errors = fields;
            let html = render(state, staff, patient_id, posted).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(html)).into_response())
        }
        other => Err(other),
    }
}

fn back(patient_id: i64) -> Response {
    Redirect::to(&format!("/patients/{patient_id}/treatment-plan")).into_response()
}

/// The Treatment plan tab.
pub async fn tab(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    Ok(Html(render(&state, &staff, id, Posted::default()).await?).into_response())
}

/// Writes a new version from the draft form (the first plan).
pub async fn create(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Form(form): Form<BTreeMap<String, String>>,
) -> Result<Response, AppError> {
    let grant = state
        .store
        .patient_grant::<can::WriteClinical>(&staff.actor, id)
        .await?;
    let outcome = match parse_form(&form) {
        Ok(content) => state
            .store
            .write_plan(&grant, &content)
            .await
            .map(|_| ())
            .map_err(AppError::from),
        Err(errors) => Err(AppError::Invalid(errors)),
    };
    match outcome {
        Ok(()) => Ok(back(id)),
        Err(e) => {
            let posted = Posted {
                values: Some(form),
                ..Posted::default()
            };
            rejected(&state, &staff, id, e, posted).await
        }
    }
}

/// Saves a draft version from the draft form.
pub async fn save(
    State(state): State<AppState>,
    staff: Staff,
    Path((id, version)): Path<(i64, i64)>,
    Form(form): Form<BTreeMap<String, String>>,
) -> Result<Response, AppError> {
    let grant = state
        .store
        .patient_grant::<can::WriteClinical>(&staff.actor, id)
        .await?;
    let outcome = match parse_form(&form) {
        Ok(content) => state
            .store
            .update_plan_draft(&grant, version, &content)
            .await
            .map_err(AppError::from),
        Err(errors) => Err(AppError::Invalid(errors)),
    };
    match outcome {
        Ok(()) => Ok(back(id)),
        Err(e) => {
            let posted = Posted {
                values: Some(form),
                ..Posted::default()
            };
            rejected(&state, &staff, id, e, posted).await
        }
    }
}

/// Signs a draft version with the patient's and the clinician's typed names.
pub async fn sign(
    State(state): State<AppState>,
    staff: Staff,
    Path((id, version)): Path<(i64, i64)>,
    Form(form): Form<BTreeMap<String, String>>,
) -> Result<Response, AppError> {
    let grant = state
        .store
        .patient_grant::<can::WriteClinical>(&staff.actor, id)
        .await?;
    let signatures = PlanSignatures {
        patient: get(&form, "patient_signature"),
        clinician: get(&form, "clinician_signature"),
    };
    match state
        .store
        .sign_plan(&grant, version, &signatures, state.today())
        .await
    {
        Ok(_) => Ok(back(id)),
        Err(e) => {
            let posted = Posted {
                sign: (signatures.patient, signatures.clinician),
                ..Posted::default()
            };
            rejected(&state, &staff, id, e.into(), posted).await
        }
    }
}

/// Starts a revision: a draft copying the signed version named in the form.
pub async fn revise(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Form(form): Form<BTreeMap<String, String>>,
) -> Result<Response, AppError> {
    let grant = state
        .store
        .patient_grant::<can::WriteClinical>(&staff.actor, id)
        .await?;
    let Ok(version) = get(&form, "version").trim().parse::<i64>() else {
        let errors = vec![FieldError::new("version", "name the version to revise")];
        return rejected(
            &state,
            &staff,
            id,
            AppError::Invalid(errors),
            Posted::default(),
        )
        .await;
    };
    state.store.revise_plan(&grant, version).await?;
    Ok(back(id))
}

async fn version_page(
    state: &AppState,
    staff: &Staff,
    id: i64,
    version: i64,
    print: bool,
) -> Result<Response, AppError> {
    let grant = state
        .store
        .patient_grant::<can::ReadClinical>(&staff.actor, id)
        .await?;
    let plan = state.store.plan_version(&grant, version).await?;
    let latest = state
        .store
        .plan_versions(&grant)
        .await?
        .first()
        .map_or(version, |v| v.version);
    let data = chart_data(state, &staff.actor, id).await?;
    let names = staff_names(state).await?;
    Ok(Html(
        VersionPage {
            layout: Layout::new(staff, "patients"),
            patient_id: id,
            patient_name: data.header_name(),
            plan: plan_view(state, &names, &plan),
            print,
            latest,
        }
        .render()?,
    )
    .into_response())
}

/// One version, read-only (old versions stay viewable).
pub async fn version(
    State(state): State<AppState>,
    staff: Staff,
    Path((id, version)): Path<(i64, i64)>,
) -> Result<Response, AppError> {
    version_page(&state, &staff, id, version, false).await
}

/// One version laid out for printing: an internal copy (a copy that leaves is a disclosure).
pub async fn print(
    State(state): State<AppState>,
    staff: Staff,
    Path((id, version)): Path<(i64, i64)>,
) -> Result<Response, AppError> {
    version_page(&state, &staff, id, version, true).await
}

#[derive(Template)]
#[template(path = "plan_reviews.html")]
struct ReviewIntervalsPage {
    layout: Layout,
    programs: Vec<(i64, String, i64)>,
    errors: Vec<LabelledError>,
}

async fn intervals_page(
    state: &AppState,
    staff: &Staff,
    errors: &[FieldError],
) -> Result<String, AppError> {
    Ok(ReviewIntervalsPage {
        layout: Layout::new(staff, "tracks"),
        programs: state.store.plan_review_intervals().await?,
        errors: labelled(errors),
    }
    .render()?)
}

/// Each program's treatment-plan review interval (administrators and clinical directors).
pub async fn review_intervals(
    State(state): State<AppState>,
    staff: Staff,
) -> Result<Response, AppError> {
    state.store.grant::<can::ManagePrograms>(&staff.actor)?;
    Ok(Html(intervals_page(&state, &staff, &[]).await?).into_response())
}

/// Sets one program's review interval: `program_id` and `days`.
pub async fn set_review_interval(
    State(state): State<AppState>,
    staff: Staff,
    Form(form): Form<BTreeMap<String, String>>,
) -> Result<Response, AppError> {
    let grant = state.store.grant::<can::ManagePrograms>(&staff.actor)?;
    let mut errors = Vec::new();
    let program = crate::forms::id("program_id", &get(&form, "program_id"), &mut errors);
    let days = get(&form, "days").trim().parse::<i64>().ok();
    if days.is_none() {
        errors.push(FieldError::new(
            "plan_review_days",
            "enter a number of days",
        ));
    }
    let outcome = match (program, days, errors.is_empty()) {
        (Some(program), Some(days), true) => state
            .store
            .set_plan_review_days(&grant, program, days)
            .await
            .map_err(AppError::from),
        _ => Err(AppError::Invalid(errors)),
    };
    match outcome {
        Ok(()) => Ok(Redirect::to("/admin/plan-reviews").into_response()),
        Err(AppError::Invalid(fields)) => {
            let html = intervals_page(&state, &staff, &fields).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(html)).into_response())
        }
        Err(e) => Err(e),
    }
}
