//! The chart's Measures tab (administrations over time, change since baseline, what is due) and
//! the form that records a measure, rendered from the domain's description of the instrument.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::Duration;
use serde::Deserialize;
use trellis_domain::measures::{change_since_baseline, how_change_is_judged, Asked, Instrument};
use trellis_domain::patient::FieldError;
use trellis_storage::access::can;
use trellis_storage::measures::{DueMeasure, Measure, NewMeasure};
use trellis_storage::StoreError;

use super::patients::{chart_data, chart_page};
use super::trends::trend_charts;
use super::{labelled, LabelledError, Layout};
use crate::error::AppError;
use crate::forms;
use crate::identity::Staff;
use crate::view;
use crate::AppState;

/// How far ahead the due lists look.
pub const DUE_HORIZON_DAYS: i64 = 7;

/// One administration on the Measures tab.
pub struct MeasureView {
    pub(super) instrument: &'static str,
    pub(super) administered_on: String,
    pub(super) total: String,
    pub(super) subscales: String,
    pub(super) band: String,
    pub(super) safety: Option<String>,
    pub(super) recorded_by: String,
}

/// Change since the first administration in the episode, for instruments with a total.
pub struct ChangeView {
    pub(super) measure: Instrument,
    pub(super) instrument: &'static str,
    pub(super) baseline: u16,
    pub(super) current: u16,
    pub(super) points: i32,
    pub(super) summary: String,
}

/// A measure due or overdue.
pub struct DueView {
    pub(super) patient_id: i64,
    pub(super) instrument: &'static str,
    pub(super) code: &'static str,
    pub(super) due_on: String,
    pub(super) overdue: bool,
    pub(super) last_given: String,
}

/// What the Measures tab shows.
pub struct MeasuresTab {
    pub(super) rows: Vec<MeasureView>,
    pub(super) changes: Vec<ChangeView>,
    /// How change is judged on each instrument in `changes`, with sources.
    pub(super) change_notes: Vec<String>,
    pub(super) due: Vec<DueView>,
    pub(super) instruments: Vec<(&'static str, &'static str)>,
    pub(super) trends: Vec<String>,
}

fn measure_view(m: &Measure) -> MeasureView {
    MeasureView {
        instrument: m.instrument.name(),
        administered_on: view::day(&m.administered_on),
        total: m.total.map_or_else(|| "—".into(), |t| t.to_string()),
        subscales: m
            .subscales
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", "),
        band: m.band_label.clone(),
        safety: m.safety_level.clone(),
        recorded_by: m.recorded_by_name.clone().unwrap_or_default(),
    }
}

/// Change from the first to the latest administration of each instrument with a total, within
/// the latest episode the patient has measures in.
fn changes(measures: &[Measure]) -> Vec<ChangeView> {
    let episode = measures.last().and_then(|m| m.episode_id);
    let mut out = Vec::new();
    for instrument in Instrument::ALL {
        let series: Vec<u16> = measures
            .iter()
            .filter(|m| m.instrument == instrument && m.episode_id == episode)
            .filter_map(|m| m.total)
            .collect();
        let (Some(&baseline), Some(&current), true) =
            (series.first(), series.last(), series.len() > 1)
        else {
            continue;
        };
        let Ok(c) = change_since_baseline(instrument, baseline, current) else {
            continue;
        };
        let findings = c.findings();
        let summary = if findings.is_empty() {
            "change in points only: no change rule for this measure".to_owned()
        } else {
            findings.join("; ")
        };
        out.push(ChangeView {
            measure: instrument,
            instrument: instrument.name(),
            baseline,
            current,
            points: c.points,
            summary,
        });
    }
    out
}

/// Due measures as shown on the dashboard and the Measures tab.
pub fn due_views(due: Vec<DueMeasure>) -> Vec<DueView> {
    due.into_iter()
        .map(|d| DueView {
            patient_id: d.patient_id,
            instrument: d.instrument.name(),
            code: d.instrument.code(),
            due_on: view::day(&d.due_on),
            overdue: d.overdue,
            last_given: d
                .last_given
                .as_ref()
                .map_or_else(|| "never in this episode".into(), view::day),
        })
        .collect()
}

/// The chart's Measures tab.
pub async fn tab(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let grant = state
        .store
        .patient_grant::<can::ReadClinical>(&staff.actor, id)
        .await?;
    let data = chart_data(&state, &staff.actor, id).await?;
    let measures = state.store.measures(&grant).await?;
    let today = state.today();
    let due = state
        .store
        .patient_measures_due(&grant, today, today + Duration::days(DUE_HORIZON_DAYS))
        .await?;
    let mut page = chart_page(&staff, data, "measures", Vec::new(), None);
    let changes = changes(&measures);
    let change_notes = changes
        .iter()
        .filter_map(|c| how_change_is_judged(c.measure))
        .collect();
    page.measures = Some(MeasuresTab {
        rows: measures.iter().rev().map(measure_view).collect(),
        changes,
        change_notes,
        trends: trend_charts(&measures)?,
        due: due_views(due),
        instruments: Instrument::ALL
            .iter()
            .map(|i| (i.code(), i.full_name()))
            .collect(),
    });
    Ok(Html(page.render()?).into_response())
}

/// One answer option on the form.
pub struct OptionView {
    value: u8,
    label: &'static str,
    checked: bool,
}

/// One item on the form.
pub struct ItemView {
    index: usize,
    id: &'static str,
    label: &'static str,
    options: Vec<OptionView>,
    condition: Option<String>,
    not_asked_checked: bool,
}

#[derive(Template)]
#[template(path = "measure_form.html")]
struct MeasureFormPage {
    layout: Layout,
    patient_id: i64,
    patient_name: String,
    instrument_code: &'static str,
    instrument_name: &'static str,
    look_back: &'static str,
    administered_on: String,
    items: Vec<ItemView>,
    errors: Vec<LabelledError>,
}

fn item_views(instrument: Instrument, answers: &[Option<u8>]) -> Vec<ItemView> {
    let form = instrument.form();
    form.items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let answer = answers.get(index).copied().flatten();
            let condition = match item.asked {
                Asked::Always => None,
                Asked::Optional => Some("Optional".to_owned()),
                Asked::OnlyIf {
                    item: opener,
                    answer: opening,
                } => form.items.get(opener).map(|o| {
                    format!(
                        "Ask only if item {} is “{}”",
                        o.id,
                        o.answer_label(opening).unwrap_or("?")
                    )
                }),
            };
            ItemView {
                index,
                id: item.id,
                label: item.label,
                options: item
                    .options
                    .iter()
                    .map(|o| OptionView {
                        value: o.value,
                        label: o.label,
                        checked: answer == Some(o.value),
                    })
                    .collect(),
                not_asked_checked: answer.is_none(),
                condition,
            }
        })
        .collect()
}

async fn render_form(
    state: &AppState,
    staff: &Staff,
    patient_id: i64,
    instrument: Instrument,
    administered_on: String,
    answers: &[Option<u8>],
    errors: &[FieldError],
) -> Result<Response, AppError> {
    let data = chart_data(state, &staff.actor, patient_id).await?;
    let page = MeasureFormPage {
        layout: Layout::new(staff, "patients"),
        patient_id,
        patient_name: data.header_name(),
        instrument_code: instrument.code(),
        instrument_name: instrument.full_name(),
        look_back: instrument.form().look_back,
        administered_on,
        items: item_views(instrument, answers),
        errors: labelled(errors),
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((status, Html(page.render()?)).into_response())
}

/// Which instrument to record.
#[derive(Deserialize)]
pub struct NewQuery {
    /// Instrument code.
    #[serde(default)]
    instrument: String,
}

/// The form for one instrument.
pub async fn new_form(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Query(q): Query<NewQuery>,
) -> Result<Response, AppError> {
    state
        .store
        .patient_grant::<can::WriteClinical>(&staff.actor, id)
        .await?;
    let instrument = q
        .instrument
        .parse::<Instrument>()
        .map_err(|e| AppError::Invalid(vec![FieldError::new("instrument", e.to_string())]))?;
    let today = state.today().format("%Y-%m-%d").to_string();
    render_form(&state, &staff, id, instrument, today, &[], &[]).await
}

/// Reads the posted answers (`item_0`…) in form order; a blank or absent item is "not asked".
fn posted_answers(
    instrument: Instrument,
    fields: &[(String, String)],
    errors: &mut Vec<FieldError>,
) -> Vec<Option<u8>> {
    (0..instrument.form().items.len())
        .map(|i| {
            let name = format!("item_{i}");
            match fields
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.trim())
            {
                None | Some("") => None,
                Some(v) => match v.parse::<u8>() {
                    Ok(n) => Some(n),
                    Err(_) => {
                        errors.push(FieldError::new(
                            "responses",
                            "answers must be whole numbers",
                        ));
                        None
                    }
                },
            }
        })
        .collect()
}

/// Scores and records a measure; invalid answers re-render the form with 422 and the reason.
pub async fn record(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let grant = state
        .store
        .patient_grant::<can::WriteClinical>(&staff.actor, id)
        .await?;
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let instrument = field("instrument")
        .parse::<Instrument>()
        .map_err(|e| AppError::Invalid(vec![FieldError::new("instrument", e.to_string())]))?;
    let mut errors = Vec::new();
    let day_text = field("administered_on");
    let administered_on = forms::date("administered_on", &day_text, &mut errors);
    let answers = posted_answers(instrument, &fields, &mut errors);
    if let (Some(administered_on), true) = (administered_on, errors.is_empty()) {
        let measure = NewMeasure {
            instrument,
            administered_on,
            answers: answers.clone(),
        };
        match state
            .store
            .record_measure(&grant, &measure, state.today())
            .await
        {
            Ok(_) => return Ok(Redirect::to(&format!("/patients/{id}/measures")).into_response()),
            Err(StoreError::Invalid(e)) => errors = e,
            Err(e) => return Err(e.into()),
        }
    }
    render_form(&state, &staff, id, instrument, day_text, &answers, &errors).await
}
