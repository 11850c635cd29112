//! The chart's Assessment tab: the biopsychosocial intake with the six ASAM ratings, the level
//! the placement rules recommend (with their reasons and cautions), the clinician's placement
//! with discrepancy reasons, the assessment history, and the diagnosis list.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use trellis_domain::access::{permits, Permission};
use trellis_domain::care::LevelOfCare;
use trellis_domain::patient::FieldError;
use trellis_domain::placement::{
    DiagnosisGroup, Dimension, DimensionRating, DimensionRatings, DiscrepancyReason,
    Recommendation, CURATED_DIAGNOSES,
};
use trellis_storage::access::can;
use trellis_storage::assessments::{
    Assessment, NewAssessment, NewDiagnosis, PlacementInput, SubstanceUse, FREQUENCIES, ROUTES,
    SECTIONS,
};

use super::patients::{chart_data, ChartHeader};
use super::{labelled, ChartTabs, LabelledError, Layout};
use crate::error::AppError;
use crate::forms;
use crate::identity::Staff;
use crate::view;
use crate::AppState;

/// Blank substance rows on the form (enough without JavaScript; a reassessment adds more).
const SUBSTANCE_ROWS: usize = 4;

/// Form posts with repeated keys (checkbox groups), read as name/value pairs.
type Pairs = Vec<(String, String)>;

fn one(pairs: &Pairs, key: &str) -> String {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_default()
}

/// One substance row of the intake form.
pub struct SubstanceRowView {
    n: usize,
    substance: String,
    route: String,
    frequency: String,
    age_first_use: String,
    last_use_on: String,
}

/// One dimension of the intake form.
pub struct DimensionField {
    code: &'static str,
    number: u8,
    title: &'static str,
    value: String,
    narrative: String,
}

/// The intake form's fields, blank or as last posted.
pub struct IntakeForm {
    assessed_on: String,
    sections: Vec<(&'static str, &'static str, String)>,
    substances: Vec<SubstanceRowView>,
    dimensions: Vec<DimensionField>,
}

impl IntakeForm {
    fn new(values: &HashMap<String, String>, today: &str) -> IntakeForm {
        let get = |k: &str| values.get(k).cloned().unwrap_or_default();
        IntakeForm {
            assessed_on: values
                .get("assessed_on")
                .cloned()
                .unwrap_or_else(|| today.to_owned()),
            sections: SECTIONS.iter().map(|(k, l)| (*k, *l, get(k))).collect(),
            substances: (1..=SUBSTANCE_ROWS)
                .map(|n| SubstanceRowView {
                    n,
                    substance: get(&format!("substance_{n}")),
                    route: get(&format!("route_{n}")),
                    frequency: get(&format!("frequency_{n}")),
                    age_first_use: get(&format!("age_first_use_{n}")),
                    last_use_on: get(&format!("last_use_on_{n}")),
                })
                .collect(),
            dimensions: Dimension::ALL
                .into_iter()
                .map(|d| DimensionField {
                    code: d.code(),
                    number: d.number(),
                    title: d.title(),
                    value: get(d.code()),
                    narrative: get(&format!("{}_narrative", d.code())),
                })
                .collect(),
        }
    }
}

/// A rule that fired, ready to show.
pub struct ReasonView {
    text: String,
    decisive: bool,
}

/// A recorded placement, ready to show.
pub struct PlacementView {
    level: String,
    matches: bool,
    reasons: Vec<String>,
    other_text: String,
    explanation: String,
    placed_by: String,
    placed_at: String,
}

/// What the episode needs after a placement: a link to the existing workflow.
pub struct EpisodeLink {
    href: String,
    label: String,
}

/// One assessment on the tab.
pub struct AssessmentView {
    id: i64,
    assessed_on: String,
    population: &'static str,
    recorded_by: String,
    recommended_code: String,
    recommended: String,
    weekly_hours: Option<String>,
    reasons: Vec<ReasonView>,
    cautions: Vec<String>,
    ratings: Vec<(u8, &'static str, String, String)>,
    sections: Vec<(&'static str, String)>,
    substances: Vec<(String, String, String, String, String)>,
    placement: Option<PlacementView>,
    episode_link: Option<EpisodeLink>,
}

/// One diagnosis on the tab.
pub struct DiagnosisView {
    id: i64,
    code: String,
    description: String,
    primary: bool,
    onset_on: String,
    resolved: Option<String>,
    recorded_by: String,
}

#[derive(Template)]
#[template(path = "assessment.html")]
struct AssessmentPage {
    layout: Layout,
    header: ChartHeader,
    tabs: ChartTabs,
    can_write: bool,
    assessments: Vec<AssessmentView>,
    diagnoses: Vec<DiagnosisView>,
    form: IntakeForm,
    open_form: bool,
    routes: Vec<(&'static str, &'static str)>,
    frequencies: Vec<(&'static str, &'static str)>,
    levels: Vec<(&'static str, String)>,
    discrepancy_reasons: Vec<(&'static str, &'static str)>,
    curated: Vec<(&'static str, &'static str, &'static str)>,
    rating_values: [&'static str; 5],
    today: String,
    errors: Vec<LabelledError>,
    error_heading: &'static str,
}

fn recommendation_views(r: &Recommendation) -> (Vec<ReasonView>, Vec<String>) {
    (
        r.reasons
            .iter()
            .map(|reason| ReasonView {
                text: reason.text.clone(),
                decisive: reason.decisive,
            })
            .collect(),
        r.cautions.iter().map(|c| c.message()).collect(),
    )
}

fn assessment_view(
    state: &AppState,
    a: Assessment,
    open_episode: Option<(i64, LevelOfCare)>,
    patient_id: i64,
    staff_may: (bool, bool),
) -> AssessmentView {
    let (can_change_level, can_admit) = staff_may;
    let (reasons, cautions) = recommendation_views(&a.recommendation);
    let recommended = a.recommendation.level;
    let placement = a.placement.as_ref().map(|p| PlacementView {
        level: p.actual.to_string(),
        matches: p.actual == recommended,
        reasons: p.reasons.iter().map(|r| r.label().to_owned()).collect(),
        other_text: p.other_text.clone(),
        explanation: p.explanation.clone(),
        placed_by: p.placed_by_name.clone().unwrap_or_default(),
        placed_at: view::local_time(&p.placed_at, state.timezone),
    });
    // Placement is recorded here; moving the episode stays in the episode workflows.
    let episode_link = a.placement.as_ref().and_then(|p| match open_episode {
        Some((episode, level)) if level != p.actual && can_change_level => Some(EpisodeLink {
            href: format!("/episodes/{episode}/level"),
            label: format!(
                "The open episode is at {}: change its level of care",
                level.code()
            ),
        }),
        None if can_admit && p.actual.is_ambulatory() => Some(EpisodeLink {
            href: format!("/patients/{patient_id}/episodes/new"),
            label: "No open episode: admit to a program".to_owned(),
        }),
        _ => None,
    });
    let route_label = |code: &str| {
        ROUTES
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, l)| (*l).to_owned())
            .unwrap_or_default()
    };
    let frequency_label = |code: &str| {
        FREQUENCIES
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, l)| (*l).to_owned())
            .unwrap_or_default()
    };
    AssessmentView {
        id: a.id,
        assessed_on: view::day(&a.assessed_on),
        population: match a.population {
            trellis_domain::placement::Population::Adult => "adult",
            trellis_domain::placement::Population::Adolescent => "adolescent",
        },
        recorded_by: a.recorded_by_name.clone().unwrap_or_default(),
        recommended_code: recommended.code().to_owned(),
        recommended: recommended.to_string(),
        weekly_hours: a.recommendation.weekly_hours.map(|h| h.to_string()),
        reasons,
        cautions,
        ratings: a
            .ratings
            .iter()
            .map(|r| {
                (
                    r.dimension.number(),
                    r.dimension.title(),
                    r.rating.to_string(),
                    r.narrative.clone(),
                )
            })
            .collect(),
        sections: SECTIONS
            .iter()
            .filter_map(|(k, l)| a.sections.get(*k).map(|t| (*l, t.clone())))
            .collect(),
        substances: a
            .substances
            .iter()
            .map(|s| {
                (
                    s.substance.clone(),
                    route_label(&s.route),
                    frequency_label(&s.frequency),
                    s.age_first_use.map(|a| a.to_string()).unwrap_or_default(),
                    s.last_use_on.map(|d| d.to_string()).unwrap_or_default(),
                )
            })
            .collect(),
        placement,
        episode_link,
    }
}

async fn render(
    state: &AppState,
    staff: &Staff,
    patient_id: i64,
    posted: Option<&Pairs>,
    errors: &[FieldError],
    error_heading: &'static str,
) -> Result<String, AppError> {
    let data = chart_data(state, &staff.actor, patient_id).await?;
    let grant = state
        .store
        .patient_grant::<can::ReadClinical>(&staff.actor, patient_id)
        .await?;
    let role = staff.actor.role;
    let open_episode = if permits(role, Permission::ReadEpisodes) {
        let episodes = state
            .store
            .episodes(
                &state
                    .store
                    .patient_grant::<can::ReadEpisodes>(&staff.actor, patient_id)
                    .await?,
            )
            .await?;
        episodes
            .iter()
            .find(|e| e.is_open())
            .map(|e| e.level().map(|l| (e.id, l)))
            .transpose()?
    } else {
        None
    };
    let may = (
        permits(role, Permission::ChangeLevelOfCare),
        permits(role, Permission::AdmitEpisode),
    );
    let assessments: Vec<AssessmentView> = state
        .store
        .assessments(&grant)
        .await?
        .into_iter()
        .map(|a| assessment_view(state, a, open_episode, patient_id, may))
        .collect();
    let diagnoses = state
        .store
        .diagnoses(&grant)
        .await?
        .into_iter()
        .map(|d| DiagnosisView {
            id: d.id,
            code: d.code.to_string(),
            description: d.description,
            primary: d.primary,
            onset_on: d.onset_on.as_ref().map(view::day).unwrap_or_default(),
            resolved: d.resolved_on.as_ref().map(view::day),
            recorded_by: d.recorded_by_name.unwrap_or_default(),
        })
        .collect();
    let today = state.today().to_string();
    let values: HashMap<String, String> = posted
        .map(|p| p.iter().cloned().collect())
        .unwrap_or_default();
    Ok(AssessmentPage {
        layout: Layout::new(staff, "patients"),
        tabs: ChartTabs::new(role, data.header.id, "assessment"),
        header: data.header,
        can_write: permits(role, Permission::WriteClinical),
        open_form: posted.is_some() || assessments.is_empty(),
        assessments,
        diagnoses,
        form: IntakeForm::new(&values, &today),
        routes: ROUTES.to_vec(),
        frequencies: FREQUENCIES.to_vec(),
        levels: LevelOfCare::ALL
            .into_iter()
            .map(|l| (l.code(), l.to_string()))
            .collect(),
        discrepancy_reasons: DiscrepancyReason::ALL
            .into_iter()
            .filter(|r| *r != DiscrepancyReason::NotApplicable)
            .map(|r| (r.code(), r.label()))
            .collect(),
        curated: CURATED_DIAGNOSES
            .iter()
            .map(|d| {
                (
                    d.code,
                    d.description,
                    match d.group {
                        DiagnosisGroup::SubstanceUse => "Substance use",
                        DiagnosisGroup::CoOccurring => "Co-occurring",
                    },
                )
            })
            .collect(),
        rating_values: ["0", "1", "2", "3", "4"],
        today,
        errors: labelled(errors),
        error_heading,
    }
    .render()?)
}

/// The Assessment tab.
pub async fn tab(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    Ok(Html(render(&state, &staff, id, None, &[], "").await?).into_response())
}

/// Re-renders the tab with the input's problems (422), or passes other errors on.
async fn rejected(
    state: &AppState,
    staff: &Staff,
    patient_id: i64,
    posted: Option<&Pairs>,
    heading: &'static str,
    error: AppError,
) -> Result<Response, AppError> {
    match error {
        AppError::Invalid(fields) => {
            let html = render(state, staff, patient_id, posted, &fields, heading).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(html)).into_response())
        }
        other => Err(other),
    }
}

/// Reads the six ratings as posted (fields "d1".."d6" and "d1_narrative"…), naming each
/// dimension that is missing or out of range.
pub fn parse_ratings(
    value: impl Fn(&str) -> String,
    errors: &mut Vec<FieldError>,
) -> Option<DimensionRatings> {
    let mut ratings = Vec::new();
    for d in Dimension::ALL {
        let raw = value(d.code());
        let narrative = value(&format!("{}_narrative", d.code()));
        if raw.trim().is_empty() {
            errors.push(FieldError::new(
                d.code(),
                format!("{d}: choose a rating from 0 to 4"),
            ));
            continue;
        }
        match raw.trim().parse::<i64>() {
            Ok(n) => match DimensionRating::new(d, n, narrative) {
                Ok(r) => ratings.push(r),
                Err(e) => errors.push(FieldError::new(d.code(), e.to_string())),
            },
            Err(_) => errors.push(FieldError::new(
                d.code(),
                format!("{d}: the rating must be a whole number from 0 to 4"),
            )),
        }
    }
    if ratings.len() == Dimension::ALL.len() {
        DimensionRatings::from_ratings(ratings).ok()
    } else {
        None
    }
}

fn parse_substances(pairs: &Pairs, errors: &mut Vec<FieldError>) -> Vec<SubstanceUse> {
    let mut rows = Vec::new();
    for n in 1..=SUBSTANCE_ROWS {
        let get = |k: &str| one(pairs, &format!("{k}_{n}"));
        let fields = [
            get("substance"),
            get("route"),
            get("frequency"),
            get("age_first_use"),
            get("last_use_on"),
        ];
        // A row left blank is not a substance.
        if fields.iter().all(String::is_empty) {
            continue;
        }
        let [substance, route, frequency, age, last] = fields;
        let age_first_use = if age.is_empty() {
            None
        } else {
            match age.parse::<u8>() {
                Ok(a) => Some(a),
                Err(_) => {
                    errors.push(FieldError::new(
                        "substances",
                        format!("substance row {n}: age of first use must be a whole number"),
                    ));
                    None
                }
            }
        };
        let last_use_on = if last.is_empty() {
            None
        } else {
            match chrono::NaiveDate::parse_from_str(&last, "%Y-%m-%d") {
                Ok(d) => Some(d),
                Err(_) => {
                    errors.push(FieldError::new(
                        "substances",
                        format!("substance row {n}: last use must be a date (YYYY-MM-DD)"),
                    ));
                    None
                }
            }
        };
        rows.push(SubstanceUse {
            substance,
            route,
            frequency,
            age_first_use,
            last_use_on,
        });
    }
    rows
}

/// Records an intake assessment; the tab then shows its recommendation and placement form.
pub async fn create(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Form(pairs): Form<Pairs>,
) -> Result<Response, AppError> {
    let grant = state
        .store
        .patient_grant::<can::WriteClinical>(&staff.actor, id)
        .await?;
    const HEADING: &str = "The assessment was not saved";
    let mut errors = Vec::new();
    let assessed_on = forms::date("assessed_on", &one(&pairs, "assessed_on"), &mut errors);
    let ratings = parse_ratings(|k| one(&pairs, k), &mut errors);
    let substances = parse_substances(&pairs, &mut errors);
    let (Some(assessed_on), Some(ratings), true) = (assessed_on, ratings, errors.is_empty()) else {
        return rejected(
            &state,
            &staff,
            id,
            Some(&pairs),
            HEADING,
            AppError::Invalid(errors),
        )
        .await;
    };
    let assessment = NewAssessment {
        assessed_on,
        sections: SECTIONS
            .iter()
            .map(|(k, _)| ((*k).to_owned(), one(&pairs, k)))
            .collect(),
        substances,
        ratings,
    };
    match state
        .store
        .record_assessment(&grant, &assessment, state.today())
        .await
    {
        Ok((assessment_id, _)) => Ok(Redirect::to(&format!(
            "/patients/{id}/assessment#assessment-{assessment_id}"
        ))
        .into_response()),
        Err(e) => rejected(&state, &staff, id, Some(&pairs), HEADING, e.into()).await,
    }
}

/// Reads a placement as posted (or sent as JSON): level code, reason codes, texts.
pub fn parse_placement(
    actual_level: &str,
    reasons: &[String],
    other_text: &str,
    explanation: &str,
    errors: &mut Vec<FieldError>,
) -> PlacementInput {
    let actual = if actual_level.trim().is_empty() {
        None
    } else {
        forms::code::<LevelOfCare>(
            "actual_level",
            actual_level,
            "choose one of the listed levels of care",
            errors,
        )
    };
    let mut parsed = Vec::new();
    for code in reasons {
        match code.parse::<DiscrepancyReason>() {
            Ok(r) => parsed.push(r),
            Err(e) => errors.push(FieldError::new("discrepancy_reasons", e.to_string())),
        }
    }
    PlacementInput {
        actual,
        reasons: parsed,
        other_text: other_text.to_owned(),
        explanation: explanation.to_owned(),
    }
}

/// Records the clinician's placement for an assessment.
pub async fn place(
    State(state): State<AppState>,
    staff: Staff,
    Path(assessment_id): Path<i64>,
    Form(pairs): Form<Pairs>,
) -> Result<Response, AppError> {
    let patient = state.store.assessment_patient_id(assessment_id).await?;
    let grant = state
        .store
        .patient_grant::<can::WriteClinical>(&staff.actor, patient)
        .await?;
    const HEADING: &str = "The placement was not recorded";
    let mut errors = Vec::new();
    let reasons: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "discrepancy_reasons")
        .map(|(_, v)| v.clone())
        .collect();
    let input = parse_placement(
        &one(&pairs, "actual_level"),
        &reasons,
        &one(&pairs, "discrepancy_other"),
        &one(&pairs, "discrepancy_explanation"),
        &mut errors,
    );
    if !errors.is_empty() {
        return rejected(
            &state,
            &staff,
            patient,
            None,
            HEADING,
            AppError::Invalid(errors),
        )
        .await;
    }
    match state
        .store
        .record_placement(&grant, assessment_id, &input)
        .await
    {
        Ok(()) => Ok(Redirect::to(&format!(
            "/patients/{patient}/assessment#assessment-{assessment_id}"
        ))
        .into_response()),
        Err(e) => rejected(&state, &staff, patient, None, HEADING, e.into()).await,
    }
}

/// Adds a diagnosis (picked from the list or entered by code).
pub async fn add_diagnosis(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Form(pairs): Form<Pairs>,
) -> Result<Response, AppError> {
    let grant = state
        .store
        .patient_grant::<can::WriteClinical>(&staff.actor, id)
        .await?;
    const HEADING: &str = "The diagnosis was not added";
    let mut errors = Vec::new();
    let onset = one(&pairs, "onset_on");
    let onset_on = if onset.is_empty() {
        None
    } else {
        forms::date("onset_on", &onset, &mut errors)
    };
    if !errors.is_empty() {
        return rejected(&state, &staff, id, None, HEADING, AppError::Invalid(errors)).await;
    }
    let diagnosis = NewDiagnosis {
        code: one(&pairs, "code"),
        description: one(&pairs, "description"),
        primary: one(&pairs, "primary") == "yes",
        onset_on,
    };
    match state
        .store
        .add_diagnosis(&grant, &diagnosis, state.today())
        .await
    {
        Ok(_) => Ok(Redirect::to(&format!("/patients/{id}/assessment#diagnoses")).into_response()),
        Err(e) => rejected(&state, &staff, id, None, HEADING, e.into()).await,
    }
}

/// Marks a diagnosis resolved.
pub async fn resolve_diagnosis(
    State(state): State<AppState>,
    staff: Staff,
    Path(diagnosis_id): Path<i64>,
    Form(pairs): Form<Pairs>,
) -> Result<Response, AppError> {
    let patient = state.store.diagnosis_patient_id(diagnosis_id).await?;
    let grant = state
        .store
        .patient_grant::<can::WriteClinical>(&staff.actor, patient)
        .await?;
    const HEADING: &str = "The diagnosis was not resolved";
    let mut errors = Vec::new();
    let Some(resolved_on) = forms::date("resolved_on", &one(&pairs, "resolved_on"), &mut errors)
    else {
        return rejected(
            &state,
            &staff,
            patient,
            None,
            HEADING,
            AppError::Invalid(errors),
        )
        .await;
    };
    match state
        .store
        .resolve_diagnosis(&grant, diagnosis_id, resolved_on, state.today())
        .await
    {
        Ok(()) => {
            Ok(Redirect::to(&format!("/patients/{patient}/assessment#diagnoses")).into_response())
        }
        Err(e) => rejected(&state, &staff, patient, None, HEADING, e.into()).await,
    }
}
