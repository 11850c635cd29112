//! The chart's Medications & screens tab: active and past medications (MOUD marked), adherence
//! and side effects, the drug-screen entry form, and screen history with each positive marked
//! expected or unexpected and why. An unexpected positive's flag shows in the chart header.

use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use trellis_domain::patient::FieldError;
use trellis_domain::screens::{analyte_label, ingredient, Finding, INGREDIENTS, PANEL};
use trellis_storage::access::can;
use trellis_storage::medications::{
    Adherence, DrugScreen, Medication, NewDrugScreen, NewMedication, Route, ScreenResult,
    SideEffectSeverity, Specimen, Testing,
};

use super::patients::{chart_data, chart_page};
use super::{labelled, LabelledError};
use crate::error::AppError;
use crate::forms;
use crate::identity::Staff;
use crate::view;
use crate::AppState;

/// One adherence or side-effect entry, ready to show: (date, what, detail, recorded by).
type EntryView = (String, String, String, String);

/// One medication on the tab.
pub struct MedicationView {
    pub(super) id: i64,
    pub(super) name: String,
    pub(super) dose: String,
    pub(super) route: &'static str,
    pub(super) frequency: String,
    pub(super) ingredients: Vec<(&'static str, &'static str)>,
    pub(super) prescriber: String,
    pub(super) started_on: String,
    pub(super) stopped_on: Option<String>,
    pub(super) stop_reason: String,
    pub(super) reason: String,
    pub(super) moud: bool,
    pub(super) otp: bool,
    pub(super) adherence: Vec<EntryView>,
    pub(super) side_effects: Vec<EntryView>,
}

/// One analyte's result in the history.
pub struct ResultView {
    pub(super) label: &'static str,
    pub(super) result: &'static str,
    pub(super) positive: bool,
    pub(super) finding: Option<&'static str>,
    pub(super) finding_class: &'static str,
    pub(super) confirm: bool,
    pub(super) reason: String,
}

/// One screen in the history.
pub struct ScreenView {
    pub(super) collected_on: String,
    pub(super) specimen: &'static str,
    pub(super) observed: bool,
    pub(super) testing: &'static str,
    pub(super) collected_by: String,
    pub(super) recorded_by: String,
    pub(super) flagged: bool,
    pub(super) results: Vec<ResultView>,
}

/// One analyte row of the entry form, with the value posted (if re-shown after an error).
pub struct PanelRow {
    pub(super) code: &'static str,
    pub(super) label: &'static str,
    pub(super) value: String,
}

/// What the Medications & screens tab shows.
pub struct MedicationsTab {
    pub(super) active: Vec<MedicationView>,
    pub(super) past: Vec<MedicationView>,
    pub(super) screens: Vec<ScreenView>,
    pub(super) panel: Vec<PanelRow>,
    pub(super) routes: Vec<(&'static str, &'static str)>,
    pub(super) adherence_options: Vec<(&'static str, &'static str)>,
    pub(super) severities: Vec<(&'static str, &'static str)>,
    pub(super) specimens: Vec<(&'static str, &'static str)>,
    pub(super) testings: Vec<(&'static str, &'static str)>,
    pub(super) prescribers: Vec<(i64, String)>,
    pub(super) ingredient_options: Vec<(&'static str, &'static str)>,
    pub(super) today: String,
    pub(super) errors: Vec<LabelledError>,
}

fn options<T: Copy>(
    all: &[T],
    code: fn(T) -> &'static str,
    label: fn(T) -> &'static str,
) -> Vec<(&'static str, &'static str)> {
    all.iter().map(|v| (code(*v), label(*v))).collect()
}

fn medication_view(m: Medication) -> MedicationView {
    MedicationView {
        id: m.id,
        route: m.route.label(),
        ingredients: m
            .ingredients
            .iter()
            .filter_map(|c| ingredient(c))
            .map(|i| (i.rxcui, i.name))
            .collect(),
        prescriber: m.prescriber_name.unwrap_or_default(),
        started_on: view::day(&m.started_on),
        stopped_on: m.stopped_on.as_ref().map(view::day),
        stop_reason: m.stop_reason.unwrap_or_default(),
        reason: m.reason.unwrap_or_default(),
        moud: m.moud,
        otp: m.otp_dispensed,
        adherence: m
            .adherence
            .into_iter()
            .map(|a| {
                (
                    view::day(&a.noted_on),
                    a.status.label().to_owned(),
                    a.note.unwrap_or_default(),
                    a.recorded_by_name.unwrap_or_default(),
                )
            })
            .collect(),
        side_effects: m
            .side_effects
            .into_iter()
            .map(|s| {
                (
                    view::day(&s.noted_on),
                    s.effect,
                    s.severity.label().to_owned(),
                    s.recorded_by_name.unwrap_or_default(),
                )
            })
            .collect(),
        name: m.name,
        dose: m.dose,
        frequency: m.frequency,
    }
}

fn screen_view(s: DrugScreen) -> ScreenView {
    ScreenView {
        collected_on: view::day(&s.collected_on),
        specimen: s.specimen.label(),
        observed: s.observed,
        testing: s.testing.label(),
        collected_by: s.collected_by.unwrap_or_default(),
        recorded_by: s.recorded_by_name.unwrap_or_default(),
        flagged: s.flag_id.is_some(),
        results: s
            .results
            .into_iter()
            .map(|r| ResultView {
                label: analyte_label(&r.analyte).unwrap_or("unknown analyte"),
                result: r.result.label(),
                positive: r.result == ScreenResult::Positive,
                finding: r.finding.map(Finding::label),
                finding_class: match r.finding {
                    Some(Finding::Expected) => "ok",
                    _ => "flag",
                },
                confirm: r.finding.is_some_and(Finding::needs_confirmation),
                reason: r.reason.unwrap_or_default(),
            })
            .collect(),
    }
}

/// Renders the tab, with a form's errors (422) or without (200).
async fn render(
    state: &AppState,
    staff: &Staff,
    id: i64,
    errors: &[FieldError],
    posted_panel: &[(String, String)],
) -> Result<Response, AppError> {
    let grant = state
        .store
        .patient_grant::<can::ReadClinical>(&staff.actor, id)
        .await?;
    let data = chart_data(state, &staff.actor, id).await?;
    let (active, past): (Vec<Medication>, Vec<Medication>) = state
        .store
        .medications(&grant)
        .await?
        .into_iter()
        .partition(|m| m.stopped_on.is_none());
    let screens = state.store.drug_screens(&grant).await?;
    let prescribers = state.store.prescribers().await?;
    let mut page = chart_page(staff, data, "medications", Vec::new(), None);
    page.medications = Some(MedicationsTab {
        active: active.into_iter().map(medication_view).collect(),
        past: past.into_iter().map(medication_view).collect(),
        screens: screens.into_iter().map(screen_view).collect(),
        panel: PANEL
            .iter()
            .map(|&(code, label)| PanelRow {
                code,
                label,
                value: posted_panel
                    .iter()
                    .find(|(k, _)| k.strip_prefix("result_") == Some(code))
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default(),
            })
            .collect(),
        routes: options(Route::ALL, Route::code, Route::label),
        adherence_options: options(Adherence::ALL, Adherence::code, Adherence::label),
        severities: options(
            SideEffectSeverity::ALL,
            SideEffectSeverity::code,
            SideEffectSeverity::label,
        ),
        specimens: options(Specimen::ALL, Specimen::code, Specimen::label),
        testings: options(Testing::ALL, Testing::code, Testing::label),
        prescribers,
        ingredient_options: INGREDIENTS.iter().map(|i| (i.rxcui, i.name)).collect(),
        today: state.today().format("%Y-%m-%d").to_string(),
        errors: labelled(errors),
    });
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((status, Html(page.render()?)).into_response())
}

/// The chart's Medications & screens tab.
pub async fn tab(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    render(&state, &staff, id, &[], &[]).await
}

/// After a change: back to the tab, or the tab again with the reasons it was refused.
async fn answer(
    state: &AppState,
    staff: &Staff,
    id: i64,
    outcome: Result<(), AppError>,
    posted_panel: &[(String, String)],
) -> Result<Response, AppError> {
    match outcome {
        Ok(()) => Ok(Redirect::to(&format!("/patients/{id}/medications")).into_response()),
        Err(AppError::Invalid(errors)) => render(state, staff, id, &errors, posted_panel).await,
        Err(e) => Err(e),
    }
}

/// The add-medication form.
/// Adds a medication. The form posts one `ingredient` field per ticked ingredient, so it is
/// read as name/value pairs.
pub async fn add(
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
    let optional = |name: &str| Some(field(name)).filter(|v| !v.trim().is_empty());
    let mut errors = Vec::new();
    let prescriber_id = forms::optional_id("prescriber_id", &field("prescriber_id"), &mut errors);
    let started_on = forms::date("started_on", &field("started_on"), &mut errors);
    let stopped_on = if field("stopped_on").trim().is_empty() {
        None
    } else {
        forms::date("stopped_on", &field("stopped_on"), &mut errors)
    };
    let outcome = if errors.is_empty() {
        let medication = NewMedication {
            name: field("name"),
            dose: field("dose"),
            route: field("route"),
            frequency: field("frequency"),
            ingredients: fields
                .iter()
                .filter(|(k, _)| k == "ingredient")
                .map(|(_, v)| v.clone())
                .collect(),
            prescriber_id,
            prescriber_name: optional("prescriber_name"),
            started_on,
            stopped_on,
            stop_reason: optional("stop_reason"),
            reason: optional("reason"),
            moud: match field("moud").as_str() {
                "yes" => Some(true),
                "no" => Some(false),
                _ => None,
            },
            otp_dispensed: !field("otp_dispensed").is_empty(),
        };
        state
            .store
            .record_medication(&grant, &medication, state.today())
            .await
            .map(|_| ())
            .map_err(AppError::from)
    } else {
        Err(AppError::Invalid(errors))
    };
    answer(&state, &staff, id, outcome, &[]).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct StopForm {
    stopped_on: String,
    stop_reason: String,
}

/// Stops a medication.
pub async fn stop(
    State(state): State<AppState>,
    staff: Staff,
    Path((id, medication)): Path<(i64, i64)>,
    Form(form): Form<StopForm>,
) -> Result<Response, AppError> {
    let grant = state
        .store
        .patient_grant::<can::WriteClinical>(&staff.actor, id)
        .await?;
    let mut errors = Vec::new();
    let stopped_on = forms::date("stopped_on", &form.stopped_on, &mut errors);
    let outcome = if errors.is_empty() {
        state
            .store
            .stop_medication(
                &grant,
                medication,
                stopped_on,
                &form.stop_reason,
                state.today(),
            )
            .await
            .map_err(AppError::from)
    } else {
        Err(AppError::Invalid(errors))
    };
    answer(&state, &staff, id, outcome, &[]).await
}

/// The adherence form.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct AdherenceForm {
    noted_on: String,
    status: String,
    note: Option<String>,
}

/// Records adherence to a medication.
pub async fn adherence(
    State(state): State<AppState>,
    staff: Staff,
    Path((id, medication)): Path<(i64, i64)>,
    Form(form): Form<AdherenceForm>,
) -> Result<Response, AppError> {
    let grant = state
        .store
        .patient_grant::<can::WriteClinical>(&staff.actor, id)
        .await?;
    let mut errors = Vec::new();
    let noted_on = forms::date("noted_on", &form.noted_on, &mut errors);
    let outcome = if errors.is_empty() {
        state
            .store
            .record_adherence(
                &grant,
                medication,
                noted_on,
                &form.status,
                &form.note,
                state.today(),
            )
            .await
            .map(|_| ())
            .map_err(AppError::from)
    } else {
        Err(AppError::Invalid(errors))
    };
    answer(&state, &staff, id, outcome, &[]).await
}

/// The side-effect form.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SideEffectForm {
    noted_on: String,
    effect: String,
    severity: String,
}

/// Records a side effect of a medication.
pub async fn side_effect(
    State(state): State<AppState>,
    staff: Staff,
    Path((id, medication)): Path<(i64, i64)>,
    Form(form): Form<SideEffectForm>,
) -> Result<Response, AppError> {
    let grant = state
        .store
        .patient_grant::<can::WriteClinical>(&staff.actor, id)
        .await?;
    let mut errors = Vec::new();
    let noted_on = forms::date("noted_on", &form.noted_on, &mut errors);
    let outcome = if errors.is_empty() {
        state
            .store
            .record_side_effect(
                &grant,
                medication,
                noted_on,
                &form.effect,
                &form.severity,
                state.today(),
            )
            .await
            .map(|_| ())
            .map_err(AppError::from)
    } else {
        Err(AppError::Invalid(errors))
    };
    answer(&state, &staff, id, outcome, &[]).await
}

/// Records a drug screen: `result_<analyte>` fields are positive, negative, invalid, or blank
/// for an analyte not tested.
pub async fn record_screen(
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
    let mut errors = Vec::new();
    let collected_on = forms::date("collected_on", &field("collected_on"), &mut errors);
    let results: Vec<(String, String)> = fields
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("result_")?.to_owned(), v.clone())))
        .filter(|(_, v)| !v.trim().is_empty())
        .collect();
    let outcome = if errors.is_empty() {
        let screen = NewDrugScreen {
            collected_on,
            specimen: field("specimen"),
            observed: field("observed") == "yes",
            testing: field("testing"),
            collected_by: Some(field("collected_by")),
            results,
        };
        state
            .store
            .record_drug_screen(&grant, &screen, state.today())
            .await
            .map(|_| ())
            .map_err(AppError::from)
    } else {
        Err(AppError::Invalid(errors))
    };
    answer(&state, &staff, id, outcome, &fields).await
}
