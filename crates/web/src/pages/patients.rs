//! Dashboard, patient list and search, registration, the chart, and the episode forms
//! (admit, change level of care, discharge).

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use trellis_domain::access::{permits, Permission};
use trellis_domain::care::{DischargeReason, EpisodeStatus, LevelOfCare};
use trellis_domain::patient::{age_on, FieldError, Sex};
use trellis_storage::access::{can, Actor};
use trellis_storage::episodes::{Admission, Episode, REFERRAL_SOURCES};
use trellis_storage::patients::{mrn, DuplicateCandidate, Patient, PatientQuery, RegisterOutcome};
use trellis_storage::StoreError;

use super::{labelled, ChartTabs, LabelledError, Layout};
use crate::error::AppError;
use crate::forms::{self, RegistrationForm};
use crate::identity::Staff;
use crate::view;
use crate::AppState;

const PAGE_SIZE: i64 = 50;

/// A patient list row, ready to show.
pub struct PatientRow {
    id: i64,
    name: String,
    pronouns: Option<String>,
    mrn: String,
    dob: String,
    program: String,
    level: String,
    status: String,
    counselor: String,
    flags: i64,
}

#[derive(Template)]
#[template(path = "patients.html")]
struct PatientsPage {
    layout: Layout,
    query: String,
    open_only: bool,
    heading: String,
    rows: Vec<PatientRow>,
    /// Level and counselor columns: only for roles that read episodes (not front desk).
    shows_care: bool,
    can_register: bool,
    show_pager: bool,
    page: i64,
    has_next: bool,
}

fn patient_rows(
    rows: Vec<trellis_storage::patients::PatientSummary>,
    today: chrono::NaiveDate,
) -> Vec<PatientRow> {
    rows.into_iter()
        .map(|r| {
            let status = match (r.episode_status.as_deref(), r.admitted_on) {
                (Some("discharged"), _) => "Discharged".to_owned(),
                (Some(_), Some(d)) if d.0 > today => pending_status(d.0, today),
                (Some(_), _) => "In treatment".to_owned(),
                (None, _) => "Registered".to_owned(),
            };
            let first = r
                .preferred_name
                .clone()
                .unwrap_or_else(|| r.legal_first_name.clone());
            PatientRow {
                id: r.id,
                name: format!("{first} {}", r.legal_last_name),
                pronouns: r.pronouns,
                mrn: mrn(r.id),
                dob: view::day(&r.date_of_birth),
                program: r.program_name.unwrap_or_default(),
                level: r
                    .current_level
                    .as_deref()
                    .map(view::level)
                    .unwrap_or_default(),
                status,
                counselor: r.counselor_name.unwrap_or_default(),
                flags: r.open_flags.unwrap_or_default(),
            }
        })
        .collect()
}

/// List query: the page number only (search terms travel in POST bodies, never in URLs).
#[derive(Deserialize)]
pub struct ListQuery {
    page: Option<i64>,
}

/// Patients in the caller's view, in treatment first, a page at a time.
pub async fn list(
    State(state): State<AppState>,
    staff: Staff,
    Query(q): Query<ListQuery>,
) -> Result<Response, AppError> {
    let page = q.page.unwrap_or(1).max(1);
    let grant = state.store.grant::<can::ReadDemographics>(&staff.actor)?;
    let mut rows = state
        .store
        .search_patients(
            &grant,
            &PatientQuery {
                text: None,
                open_only: false,
                limit: PAGE_SIZE + 1,
                offset: (page - 1) * PAGE_SIZE,
            },
        )
        .await?;
    let has_next = rows.len() as i64 > PAGE_SIZE;
    rows.truncate(PAGE_SIZE as usize);
    let page_view = PatientsPage {
        layout: Layout::new(&staff, "patients"),
        query: String::new(),
        open_only: false,
        heading: format!("All patients you can see, page {page}"),
        rows: patient_rows(rows, state.today()),
        shows_care: permits(staff.actor.role, Permission::ReadEpisodes),
        can_register: permits(staff.actor.role, Permission::EditDemographics),
        show_pager: true,
        page,
        has_next,
    };
    Ok(Html(page_view.render()?).into_response())
}

/// Search form fields.
#[derive(Deserialize)]
pub struct SearchForm {
    #[serde(default)]
    q: String,
    open_only: Option<String>,
}

/// Patient search (POST so that names never appear in URLs, logs or browser history).
pub async fn search(
    State(state): State<AppState>,
    staff: Staff,
    Form(form): Form<SearchForm>,
) -> Result<Response, AppError> {
    let grant = state.store.grant::<can::ReadDemographics>(&staff.actor)?;
    let query = form.q.trim().chars().take(100).collect::<String>();
    let rows = state
        .store
        .search_patients(
            &grant,
            &PatientQuery {
                text: Some(query.clone()),
                open_only: form.open_only.is_some(),
                limit: 200,
                offset: 0,
            },
        )
        .await?;
    let page = PatientsPage {
        layout: Layout::new(&staff, "patients"),
        heading: format!(
            "{} patient{} found",
            rows.len(),
            if rows.len() == 1 { "" } else { "s" }
        ),
        query,
        open_only: form.open_only.is_some(),
        rows: patient_rows(rows, state.today()),
        shows_care: permits(staff.actor.role, Permission::ReadEpisodes),
        can_register: permits(staff.actor.role, Permission::EditDemographics),
        show_pager: false,
        page: 1,
        has_next: false,
    };
    Ok(Html(page.render()?).into_response())
}

#[derive(Template)]
#[template(path = "patient_form.html")]
struct PatientFormPage {
    layout: Layout,
    heading: String,
    action: String,
    submit_label: &'static str,
    cancel_url: String,
    show_site: bool,
    sites: Vec<(i64, String)>,
    site_id: i64,
    form: RegistrationForm,
    errors: Vec<LabelledError>,
    duplicates: Vec<DuplicateCandidate>,
    sexes: Vec<(&'static str, &'static str)>,
}

impl PatientFormPage {
    fn error(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }

    fn opt<'a>(&self, value: &'a Option<String>) -> &'a str {
        value.as_deref().unwrap_or("")
    }
}

fn sexes() -> Vec<(&'static str, &'static str)> {
    Sex::ALL.iter().map(|s| (s.code(), s.label())).collect()
}

async fn home_site(state: &AppState, staff: &Staff) -> Result<i64, AppError> {
    let assigned = state.store.assignments(staff.user.id).await?;
    if let Some(a) = assigned.first() {
        return Ok(a.site_id);
    }
    Ok(state
        .store
        .sites()
        .await?
        .first()
        .map(|s| s.id)
        .unwrap_or(0))
}

/// The registration form.
pub async fn new_form(State(state): State<AppState>, staff: Staff) -> Result<Response, AppError> {
    state.store.grant::<can::EditDemographics>(&staff.actor)?;
    let sites = state
        .store
        .sites()
        .await?
        .into_iter()
        .map(|s| (s.id, s.name))
        .collect();
    let page = PatientFormPage {
        layout: Layout::new(&staff, "patients"),
        heading: "Register a patient".into(),
        action: "/patients".into(),
        submit_label: "Register",
        cancel_url: "/patients".into(),
        show_site: true,
        sites,
        site_id: home_site(&state, &staff).await?,
        form: RegistrationForm::default(),
        errors: Vec::new(),
        duplicates: Vec::new(),
        sexes: sexes(),
    };
    Ok(Html(page.render()?).into_response())
}

/// Registration form fields.
#[derive(Deserialize)]
pub struct RegisterForm {
    #[serde(flatten)]
    registration: RegistrationForm,
    #[serde(default)]
    site_id: String,
    confirm_new: Option<String>,
}

/// Registers a patient, or shows the form again with problems or possible duplicates.
pub async fn register(
    State(state): State<AppState>,
    staff: Staff,
    Form(form): Form<RegisterForm>,
) -> Result<Response, AppError> {
    let grant = state.store.grant::<can::EditDemographics>(&staff.actor)?;
    let (registration, mut errors) = form.registration.parse();
    let site_id = forms::id("site_id", &form.site_id, &mut errors);
    let outcome = match (site_id, errors.is_empty()) {
        (Some(site_id), true) => {
            match state
                .store
                .register_patient(
                    &grant,
                    site_id,
                    &registration,
                    state.today(),
                    form.confirm_new.is_some(),
                )
                .await
            {
                Ok(outcome) => Some(outcome),
                Err(StoreError::Invalid(e)) => {
                    errors = e;
                    None
                }
                Err(e) => return Err(e.into()),
            }
        }
        _ => None,
    };
    let duplicates = match outcome {
        Some(RegisterOutcome::Created(id)) => {
            return Ok(Redirect::to(&format!("/patients/{id}")).into_response())
        }
        Some(RegisterOutcome::PossibleDuplicates(d)) => d,
        None => Vec::new(),
    };
    let sites = state
        .store
        .sites()
        .await?
        .into_iter()
        .map(|s| (s.id, s.name))
        .collect();
    let status = if errors.is_empty() {
        axum::http::StatusCode::CONFLICT
    } else {
        axum::http::StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = PatientFormPage {
        layout: Layout::new(&staff, "patients"),
        heading: "Register a patient".into(),
        action: "/patients".into(),
        submit_label: "Register",
        cancel_url: "/patients".into(),
        show_site: true,
        sites,
        site_id: site_id.unwrap_or(0),
        form: form.registration,
        errors: labelled(&errors),
        duplicates,
        sexes: sexes(),
    };
    Ok((status, Html(page.render()?)).into_response())
}

/// A chart header flag.
pub struct FlagView {
    pub(super) summary: String,
}

/// The chart header.
pub struct ChartHeader {
    /// Patient id.
    pub(crate) id: i64,
    /// Display name.
    pub(crate) name: String,
    pub(super) legal_name: Option<String>,
    pub(super) pronouns: Option<String>,
    pub(super) mrn: String,
    pub(super) age: i32,
    pub(super) program: Option<String>,
    pub(super) level: Option<String>,
    pub(super) counselor: Option<String>,
    pub(super) status: String,
    /// Whether the role reads flags (the count shows, even when none are open).
    pub(super) shows_flags: bool,
    pub(super) flags: Vec<FlagView>,
}

/// One level-of-care history row.
pub struct HistoryView {
    effective_on: String,
    level: String,
    /// Clinical text: `None` for roles that do not read it.
    reason: Option<String>,
    decided_by: String,
    recorded_at: String,
}

/// One episode on the Episodes tab.
pub struct EpisodeView {
    id: i64,
    program: String,
    site: String,
    status: String,
    admitted_on: String,
    referral_source: String,
    counselor: String,
    level: String,
    discharged_on: Option<String>,
    discharge_reason: String,
    discharge_note: Option<String>,
    open: bool,
    history: Vec<HistoryView>,
}

#[derive(Template)]
#[template(path = "chart.html")]
pub(super) struct ChartPage {
    layout: Layout,
    header: ChartHeader,
    tab: &'static str,
    tabs: ChartTabs,
    notice: Option<String>,
    demographics: Vec<(&'static str, String)>,
    contacts: Vec<(&'static str, String)>,
    episodes: Vec<EpisodeView>,
    has_open: bool,
    can_edit: bool,
    can_read_clinical: bool,
    can_write_clinical: bool,
    can_admit: bool,
    can_change_level: bool,
    can_discharge: bool,
    pub(super) measures: Option<super::measures::MeasuresTab>,
    pub(super) schedule: Option<super::schedule::ScheduleTab>,
    pub(super) medications: Option<super::medications::MedicationsTab>,
    /// The Phase tab; the inner `None` when no phases apply.
    pub(super) phase: Option<Option<super::phases::PhaseTab>>,
    /// The overview tab's summary.
    overview: Option<super::chart_overview::OverviewTab>,
}

pub(crate) struct ChartData {
    patient: Patient,
    episodes: Vec<Episode>,
    pub(crate) header: ChartHeader,
}

impl ChartData {
    /// The patient's name as the chart header shows it.
    pub(super) fn header_name(&self) -> String {
        self.header.name.clone()
    }
}

pub(crate) async fn chart_data(
    state: &AppState,
    actor: &Actor,
    patient_id: i64,
) -> Result<ChartData, AppError> {
    let read = state
        .store
        .patient_grant::<can::ReadDemographics>(actor, patient_id)
        .await?;
    let patient = state.store.patient(&read).await?;
    // Roles without the permission are not asked: asking would audit a refusal on every view.
    let episodes = if permits(actor.role, Permission::ReadEpisodes) {
        let grant = state
            .store
            .patient_grant::<can::ReadEpisodes>(actor, patient_id)
            .await?;
        state.store.episodes(&grant).await?
    } else {
        Vec::new()
    };
    let flags = if permits(actor.role, Permission::ReadClinical) {
        let grant = state
            .store
            .patient_grant::<can::ReadClinical>(actor, patient_id)
            .await?;
        state.store.open_flags(&grant).await?
    } else {
        Vec::new()
    };
    let today = state.today();
    let current = episodes.iter().find(|e| e.is_open()).or(episodes.first());
    let legal = format!("{} {}", patient.legal_first_name, patient.legal_last_name);
    let display = patient.display_name();
    let header = ChartHeader {
        id: patient.id,
        legal_name: (legal != display).then_some(legal),
        name: display,
        pronouns: patient.pronouns.clone(),
        mrn: mrn(patient.id),
        age: age_on(patient.date_of_birth.0, today),
        program: current.map(|e| e.program_name.clone()),
        level: current
            .filter(|e| e.is_open())
            .map(|e| view::level(&e.current_level)),
        counselor: current.and_then(|e| e.primary_counselor_name.clone()),
        status: match current {
            Some(e) => episode_status(e, today),
            None if permits(actor.role, Permission::ReadEpisodes) => {
                "Registered, not admitted".into()
            }
            None => "Registered".into(),
        },
        shows_flags: permits(actor.role, Permission::ReadClinical),
        flags: flags
            .into_iter()
            .map(|f| FlagView { summary: f.summary })
            .collect(),
    };
    Ok(ChartData {
        patient,
        episodes,
        header,
    })
}

/// "Admission pending, admits in 3 days": a future admission says when it starts.
fn pending_status(admitted_on: chrono::NaiveDate, today: chrono::NaiveDate) -> String {
    format!(
        "{}, {}",
        EpisodeStatus::Pending.label(),
        super::dashboard::cards::admits_in(admitted_on, today)
    )
}

/// Where an episode stands today, in words.
fn episode_status(e: &Episode, today: chrono::NaiveDate) -> String {
    match e.status_on(today) {
        EpisodeStatus::Pending => pending_status(e.admitted_on.0, today),
        other => other.label().to_owned(),
    }
}

fn or_dash(value: &Option<String>) -> String {
    value.clone().unwrap_or_else(|| "—".into())
}

pub(super) fn chart_page(
    staff: &Staff,
    data: ChartData,
    tab: &'static str,
    episodes: Vec<EpisodeView>,
    notice: Option<String>,
) -> ChartPage {
    let p = &data.patient;
    let role = staff.actor.role;
    let sex = p
        .sex
        .parse::<Sex>()
        .map(|s| s.label().to_owned())
        .unwrap_or_else(|_| p.sex.clone());
    ChartPage {
        layout: Layout::new(staff, "patients"),
        tab,
        tabs: ChartTabs::new(role, p.id, tab),
        notice,
        demographics: vec![
            (
                "Legal name",
                format!("{} {}", p.legal_first_name, p.legal_last_name),
            ),
            ("Preferred name", or_dash(&p.preferred_name)),
            ("Date of birth", view::day(&p.date_of_birth)),
            ("Sex recorded at birth", sex),
            ("Gender identity", or_dash(&p.gender_identity)),
            ("Pronouns", or_dash(&p.pronouns)),
            ("Preferred language", or_dash(&p.preferred_language)),
        ],
        contacts: vec![
            ("Phone", or_dash(&p.phone)),
            ("Email", or_dash(&p.email)),
            ("Address", or_dash(&p.address)),
            ("Emergency contact", or_dash(&p.emergency_contact_name)),
            ("Their phone", or_dash(&p.emergency_contact_phone)),
            ("Relationship", or_dash(&p.emergency_contact_relationship)),
        ],
        has_open: data.episodes.iter().any(Episode::is_open),
        episodes,
        header: data.header,
        can_edit: permits(role, Permission::EditDemographics),
        can_read_clinical: permits(role, Permission::ReadClinical),
        can_write_clinical: permits(role, Permission::WriteClinical),
        can_admit: permits(role, Permission::AdmitEpisode),
        can_change_level: permits(role, Permission::ChangeLevelOfCare),
        can_discharge: permits(role, Permission::DischargeEpisode),
        measures: None,
        schedule: None,
        medications: None,
        phase: None,
        overview: None,
    }
}

/// The chart's schedule and attendance tab: enrolments, weekly hours, per-diem days, attendance
/// and curriculum coverage.
pub async fn schedule_tab(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    // The schedule grant first, so a refusal is audited against the permission asked for.
    let tab = super::schedule::schedule_tab(&state, &staff, id, None).await?;
    let data = chart_data(&state, &staff.actor, id).await?;
    let mut page = chart_page(&staff, data, "schedule", Vec::new(), None);
    page.schedule = Some(tab);
    Ok(Html(page.render()?).into_response())
}

/// Enrols the patient in a track from the chart; re-shows the tab with 422 when refused.
pub async fn enrol(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Form(form): Form<super::schedule::EnrolForm>,
) -> Result<Response, AppError> {
    match super::schedule::enrol_from_form(&state, &staff, id, &form).await? {
        None => Ok(Redirect::to(&format!("/patients/{id}/schedule")).into_response()),
        Some(message) => {
            let data = chart_data(&state, &staff.actor, id).await?;
            let tab = super::schedule::schedule_tab(
                &state,
                &staff,
                id,
                Some(format!("Not enrolled: {message}.")),
            )
            .await?;
            let mut page = chart_page(&staff, data, "schedule", Vec::new(), None);
            page.schedule = Some(tab);
            Ok((
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                Html(page.render()?),
            )
                .into_response())
        }
    }
}

/// The chart's overview tab.
pub async fn chart(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let data = chart_data(&state, &staff.actor, id).await?;
    let today = state.today();
    let care = data
        .episodes
        .iter()
        .find(|e| e.is_open())
        .map(|e| {
            let mut facts = vec![
                ("Level of care", view::level(&e.current_level)),
                ("Site", e.site_name.clone()),
            ];
            facts.push(match e.status_on(today) {
                EpisodeStatus::Pending => ("Admission", episode_status(e, today)),
                _ => (
                    "In care since",
                    format!(
                        "{} ({} weeks)",
                        view::day(&e.admitted_on),
                        (today - e.admitted_on.0).num_days() / 7
                    ),
                ),
            });
            facts
        })
        .unwrap_or_default();
    let overview = super::chart_overview::overview(&state, &staff, id, care).await?;
    let mut page = chart_page(&staff, data, "overview", Vec::new(), None);
    page.overview = Some(overview);
    Ok(Html(page.render()?).into_response())
}

/// The chart's episodes tab, with each episode's level-of-care history.
pub async fn episodes_tab(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let data = chart_data(&state, &staff.actor, id).await?;
    let grant = state
        .store
        .patient_grant::<can::ReadEpisodes>(&staff.actor, id)
        .await?;
    let clinical = state
        .store
        .patient_grant_if_role::<can::ReadClinical>(&staff.actor, id)
        .await?;
    let today = state.today();
    let mut views = Vec::new();
    for e in &data.episodes {
        let history = state
            .store
            .level_history(&grant, clinical.as_ref(), e.id)
            .await?
            .into_iter()
            .map(|h| HistoryView {
                effective_on: view::day(&h.effective_on),
                level: view::level(&h.level),
                reason: h.reason,
                decided_by: h.decided_by_name,
                recorded_at: view::local_time(&h.recorded_at, state.timezone),
            })
            .collect();
        views.push(EpisodeView {
            id: e.id,
            program: e.program_name.clone(),
            site: e.site_name.clone(),
            status: episode_status(e, today),
            admitted_on: view::day(&e.admitted_on),
            referral_source: e.referral_source.clone(),
            counselor: e
                .primary_counselor_name
                .clone()
                .unwrap_or_else(|| "Not assigned".into()),
            level: view::level(&e.current_level),
            discharged_on: e.discharged_on.as_ref().map(view::day),
            discharge_reason: view::discharge_reason(e.discharge_reason),
            discharge_note: e.discharge_note.clone(),
            open: e.is_open(),
            history,
        });
    }
    Ok(Html(chart_page(&staff, data, "episodes", views, None).render()?).into_response())
}

/// The demographics edit form.
pub async fn edit_form(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    state
        .store
        .patient_grant::<can::EditDemographics>(&staff.actor, id)
        .await?;
    let read = state
        .store
        .patient_grant::<can::ReadDemographics>(&staff.actor, id)
        .await?;
    let patient = state.store.patient(&read).await?;
    let page = PatientFormPage {
        layout: Layout::new(&staff, "patients"),
        heading: format!("Edit {}", patient.display_name()),
        action: format!("/patients/{id}"),
        submit_label: "Save changes",
        cancel_url: format!("/patients/{id}"),
        show_site: false,
        sites: Vec::new(),
        site_id: patient.site_id,
        form: RegistrationForm::from_registration(&patient.registration()),
        errors: Vec::new(),
        duplicates: Vec::new(),
        sexes: sexes(),
    };
    Ok(Html(page.render()?).into_response())
}

/// Saves demographics.
pub async fn update(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Form(form): Form<RegistrationForm>,
) -> Result<Response, AppError> {
    let grant = state
        .store
        .patient_grant::<can::EditDemographics>(&staff.actor, id)
        .await?;
    let (registration, mut errors) = form.parse();
    if errors.is_empty() {
        match state
            .store
            .update_patient(&grant, &registration, state.today())
            .await
        {
            Ok(()) => return Ok(Redirect::to(&format!("/patients/{id}")).into_response()),
            Err(StoreError::Invalid(e)) => errors = e,
            Err(e) => return Err(e.into()),
        }
    }
    let page = PatientFormPage {
        layout: Layout::new(&staff, "patients"),
        heading: "Edit demographics".into(),
        action: format!("/patients/{id}"),
        submit_label: "Save changes",
        cancel_url: format!("/patients/{id}"),
        show_site: false,
        sites: Vec::new(),
        site_id: 0,
        form,
        errors: labelled(&errors),
        duplicates: Vec::new(),
        sexes: sexes(),
    };
    Ok((
        axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        Html(page.render()?),
    )
        .into_response())
}

/// One input of an episode form.
pub struct FieldView {
    name: &'static str,
    label: &'static str,
    hint: &'static str,
    kind: &'static str,
    value: String,
    required: bool,
    options: Vec<(String, String)>,
    list: &'static str,
    error: Option<String>,
}

impl FieldView {
    fn new(
        name: &'static str,
        label: &'static str,
        kind: &'static str,
        value: String,
    ) -> FieldView {
        FieldView {
            name,
            label,
            hint: "",
            kind,
            value,
            required: true,
            options: Vec::new(),
            list: "",
            error: None,
        }
    }

    fn select(
        name: &'static str,
        label: &'static str,
        value: String,
        options: Vec<(String, String)>,
    ) -> FieldView {
        FieldView {
            options,
            ..FieldView::new(name, label, "select", value)
        }
    }
}

#[derive(Template)]
#[template(path = "episode_form.html")]
struct EpisodeFormPage {
    layout: Layout,
    heading: String,
    patient_name: String,
    context: String,
    action: String,
    submit_label: &'static str,
    cancel_url: String,
    fields: Vec<FieldView>,
    errors: Vec<LabelledError>,
    referral_sources: Vec<&'static str>,
}

/// What differs between the episode forms (admit, change level, discharge).
struct EpisodeFormSpec {
    heading: &'static str,
    action: String,
    submit_label: &'static str,
    cancel_url: String,
    with_referrals: bool,
}

/// Renders an episode form, with 422 and the problems marked when there are errors.
fn render_episode_form(
    staff: &Staff,
    spec: EpisodeFormSpec,
    patient_name: String,
    context: String,
    fields: Vec<FieldView>,
    errors: &[FieldError],
) -> Result<Response, AppError> {
    let page = EpisodeFormPage {
        layout: Layout::new(staff, "patients"),
        heading: spec.heading.into(),
        patient_name,
        context,
        action: spec.action,
        submit_label: spec.submit_label,
        cancel_url: spec.cancel_url,
        fields: with_errors(fields, errors),
        errors: labelled(errors),
        referral_sources: if spec.with_referrals {
            REFERRAL_SOURCES.to_vec()
        } else {
            Vec::new()
        },
    };
    let status = if errors.is_empty() {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((status, Html(page.render()?)).into_response())
}

fn with_errors(mut fields: Vec<FieldView>, errors: &[FieldError]) -> Vec<FieldView> {
    for f in &mut fields {
        f.error = errors
            .iter()
            .find(|e| e.field == f.name)
            .map(|e| e.message.clone());
    }
    fields
}

fn level_options(include_blank: bool) -> Vec<(String, String)> {
    let mut options: Vec<(String, String)> = LevelOfCare::ALL
        .iter()
        .filter(|l| l.is_ambulatory())
        .map(|l| (l.code().to_owned(), l.to_string()))
        .collect();
    if include_blank {
        options.insert(0, (String::new(), "Choose…".into()));
    }
    options
}

/// Admission form fields.
#[derive(Deserialize, Default)]
pub struct AdmitForm {
    #[serde(default)]
    program_id: String,
    #[serde(default)]
    admitted_on: String,
    #[serde(default)]
    referral_source: String,
    #[serde(default)]
    primary_counselor_id: String,
    #[serde(default)]
    level: String,
    #[serde(default)]
    reason: String,
}

async fn admit_fields(state: &AppState, form: &AdmitForm) -> Result<Vec<FieldView>, AppError> {
    let mut programs: Vec<(String, String)> = state
        .store
        .programs()
        .await?
        .into_iter()
        .filter(|p| p.active)
        .map(|p| {
            (
                p.id.to_string(),
                format!("{} · {} ({})", p.name, p.site_name, p.level_of_care),
            )
        })
        .collect();
    programs.insert(0, (String::new(), "Choose…".into()));
    let mut counselors: Vec<(String, String)> = state
        .store
        .counselors()
        .await?
        .into_iter()
        .map(|u| (u.id.to_string(), u.display_name))
        .collect();
    counselors.insert(0, (String::new(), "Not yet assigned".into()));
    let mut referral = FieldView::new(
        "referral_source",
        "Referral source",
        "text",
        form.referral_source.clone(),
    );
    referral.list = "referral_sources";
    referral.hint = "pick one or type";
    let mut counselor = FieldView::select(
        "primary_counselor_id",
        "Primary counselor",
        form.primary_counselor_id.clone(),
        counselors,
    );
    counselor.required = false;
    let mut reason = FieldView::new(
        "reason",
        "Why this level of care",
        "textarea",
        form.reason.clone(),
    );
    reason.hint = "e.g. the ASAM assessment's findings";
    Ok(vec![
        FieldView::select("program_id", "Program", form.program_id.clone(), programs),
        FieldView::new(
            "admitted_on",
            "Admission date",
            "date",
            form.admitted_on.clone(),
        ),
        referral,
        counselor,
        FieldView::select(
            "level",
            "Initial level of care",
            form.level.clone(),
            level_options(true),
        ),
        reason,
    ])
}

async fn patient_name(state: &AppState, actor: &Actor, id: i64) -> Result<String, AppError> {
    let read = state
        .store
        .patient_grant::<can::ReadDemographics>(actor, id)
        .await?;
    Ok(state.store.patient(&read).await?.display_name())
}

/// The admission form.
pub async fn admit_form(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    state
        .store
        .patient_grant::<can::AdmitEpisode>(&staff.actor, id)
        .await?;
    let form = AdmitForm {
        admitted_on: state.today().to_string(),
        level: LevelOfCare::IntensiveOutpatient.code().into(),
        ..AdmitForm::default()
    };
    render_episode_form(
        &staff,
        EpisodeFormSpec {
            heading: "Admit to a program",
            action: format!("/patients/{id}/episodes"),
            submit_label: "Admit",
            cancel_url: format!("/patients/{id}/episodes"),
            with_referrals: true,
        },
        patient_name(&state, &staff.actor, id).await?,
        mrn(id),
        admit_fields(&state, &form).await?,
        &[],
    )
}

/// Opens an episode.
pub async fn admit(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Form(form): Form<AdmitForm>,
) -> Result<Response, AppError> {
    let grant = state
        .store
        .patient_grant::<can::AdmitEpisode>(&staff.actor, id)
        .await?;
    let mut errors = Vec::new();
    let program_id = forms::id("program_id", &form.program_id, &mut errors);
    let admitted_on = forms::date("admitted_on", &form.admitted_on, &mut errors);
    let counselor = forms::optional_id(
        "primary_counselor_id",
        &form.primary_counselor_id,
        &mut errors,
    );
    let level =
        forms::code::<LevelOfCare>("level", &form.level, "choose a level of care", &mut errors);
    if let (Some(program_id), Some(admitted_on), Some(level), true) =
        (program_id, admitted_on, level, errors.is_empty())
    {
        let admission = Admission {
            program_id,
            admitted_on,
            referral_source: form.referral_source.clone(),
            primary_counselor_id: counselor,
            level,
            reason: form.reason.clone(),
        };
        match state.store.admit(&grant, &admission, state.today()).await {
            Ok(_) => return Ok(Redirect::to(&format!("/patients/{id}/episodes")).into_response()),
            Err(StoreError::Invalid(e)) => errors = e,
            Err(StoreError::Conflict(m)) => errors = vec![FieldError::new("program_id", m)],
            Err(e) => return Err(e.into()),
        }
    }
    render_episode_form(
        &staff,
        EpisodeFormSpec {
            heading: "Admit to a program",
            action: format!("/patients/{id}/episodes"),
            submit_label: "Admit",
            cancel_url: format!("/patients/{id}/episodes"),
            with_referrals: true,
        },
        patient_name(&state, &staff.actor, id).await?,
        mrn(id),
        admit_fields(&state, &form).await?,
        &errors,
    )
}

/// Level change form fields.
#[derive(Deserialize, Default)]
pub struct LevelForm {
    #[serde(default)]
    level: String,
    #[serde(default)]
    effective_on: String,
    #[serde(default)]
    reason: String,
}

fn level_fields(form: &LevelForm) -> Vec<FieldView> {
    let mut reason = FieldView::new("reason", "Reason", "textarea", form.reason.clone());
    reason.hint = "the clinical reason and who agreed, e.g. met phase goals; patient preference";
    vec![
        FieldView::select(
            "level",
            "New level of care",
            form.level.clone(),
            level_options(true),
        ),
        FieldView::new("effective_on", "From", "date", form.effective_on.clone()),
        reason,
    ]
}

async fn episode_context(
    state: &AppState,
    actor: &Actor,
    episode_id: i64,
) -> Result<(i64, String, String), AppError> {
    let patient_id = state.store.episode_patient_id(episode_id).await?;
    let grant = state
        .store
        .patient_grant::<can::ReadEpisodes>(actor, patient_id)
        .await?;
    let episode = state
        .store
        .episodes(&grant)
        .await?
        .into_iter()
        .find(|e| e.id == episode_id)
        .ok_or(AppError::NotFound("episode"))?;
    let context = format!(
        "{} · now {}",
        episode.program_name,
        view::level(&episode.current_level)
    );
    Ok((
        patient_id,
        patient_name(state, actor, patient_id).await?,
        context,
    ))
}

/// The level-of-care change form.
pub async fn level_form(
    State(state): State<AppState>,
    staff: Staff,
    Path(episode_id): Path<i64>,
) -> Result<Response, AppError> {
    // The permission first: a caller who may not act reads nothing about the episode.
    let patient_id = state.store.episode_patient_id(episode_id).await?;
    state
        .store
        .patient_grant::<can::ChangeLevelOfCare>(&staff.actor, patient_id)
        .await?;
    let (_, name, context) = episode_context(&state, &staff.actor, episode_id).await?;
    let form = LevelForm {
        effective_on: state.today().to_string(),
        ..LevelForm::default()
    };
    render_episode_form(
        &staff,
        EpisodeFormSpec {
            heading: "Change level of care",
            action: format!("/episodes/{episode_id}/level"),
            submit_label: "Record the change",
            cancel_url: format!("/patients/{patient_id}/episodes"),
            with_referrals: false,
        },
        name,
        context,
        level_fields(&form),
        &[],
    )
}

/// Records a level-of-care change.
pub async fn change_level(
    State(state): State<AppState>,
    staff: Staff,
    Path(episode_id): Path<i64>,
    Form(form): Form<LevelForm>,
) -> Result<Response, AppError> {
    let patient_id = state.store.episode_patient_id(episode_id).await?;
    let grant = state
        .store
        .patient_grant::<can::ChangeLevelOfCare>(&staff.actor, patient_id)
        .await?;
    let mut errors = Vec::new();
    let level =
        forms::code::<LevelOfCare>("level", &form.level, "choose a level of care", &mut errors);
    let effective_on = forms::date("effective_on", &form.effective_on, &mut errors);
    if let (Some(level), Some(effective_on), true) = (level, effective_on, errors.is_empty()) {
        match state
            .store
            .change_level(
                &grant,
                episode_id,
                level,
                effective_on,
                &form.reason,
                state.today(),
            )
            .await
        {
            Ok(()) => {
                return Ok(Redirect::to(&format!("/patients/{patient_id}/episodes")).into_response())
            }
            Err(StoreError::Invalid(e)) => errors = e,
            Err(e) => return Err(e.into()),
        }
    }
    let (_, name, context) = episode_context(&state, &staff.actor, episode_id).await?;
    render_episode_form(
        &staff,
        EpisodeFormSpec {
            heading: "Change level of care",
            action: format!("/episodes/{episode_id}/level"),
            submit_label: "Record the change",
            cancel_url: format!("/patients/{patient_id}/episodes"),
            with_referrals: false,
        },
        name,
        context,
        level_fields(&form),
        &errors,
    )
}

/// Discharge form fields.
#[derive(Deserialize, Default)]
pub struct DischargeForm {
    #[serde(default)]
    discharged_on: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    note: String,
}

fn discharge_fields(form: &DischargeForm) -> Vec<FieldView> {
    let mut reasons: Vec<(String, String)> = DischargeReason::ALL
        .iter()
        .map(|r| (r.teds_code().to_string(), r.label().to_owned()))
        .collect();
    reasons.insert(0, (String::new(), "Choose…".into()));
    let mut note = FieldView::new("note", "Note", "textarea", form.note.clone());
    note.required = false;
    note.hint = "optional; administrative (the clinical discharge summary is written separately)";
    vec![
        FieldView::new(
            "discharged_on",
            "Discharge date",
            "date",
            form.discharged_on.clone(),
        ),
        FieldView::select("reason", "Reason", form.reason.clone(), reasons),
        note,
    ]
}

/// The discharge form.
pub async fn discharge_form(
    State(state): State<AppState>,
    staff: Staff,
    Path(episode_id): Path<i64>,
) -> Result<Response, AppError> {
    // The permission first: a caller who may not act reads nothing about the episode.
    let patient_id = state.store.episode_patient_id(episode_id).await?;
    state
        .store
        .patient_grant::<can::DischargeEpisode>(&staff.actor, patient_id)
        .await?;
    let (_, name, context) = episode_context(&state, &staff.actor, episode_id).await?;
    let form = DischargeForm {
        discharged_on: state.today().to_string(),
        ..DischargeForm::default()
    };
    render_episode_form(
        &staff,
        EpisodeFormSpec {
            heading: "Discharge",
            action: format!("/episodes/{episode_id}/discharge"),
            submit_label: "Discharge",
            cancel_url: format!("/patients/{patient_id}/episodes"),
            with_referrals: false,
        },
        name,
        context,
        discharge_fields(&form),
        &[],
    )
}

/// Discharges the episode.
pub async fn discharge(
    State(state): State<AppState>,
    staff: Staff,
    Path(episode_id): Path<i64>,
    Form(form): Form<DischargeForm>,
) -> Result<Response, AppError> {
    let patient_id = state.store.episode_patient_id(episode_id).await?;
    let grant = state
        .store
        .patient_grant::<can::DischargeEpisode>(&staff.actor, patient_id)
        .await?;
    let mut errors = Vec::new();
    let discharged_on = forms::date("discharged_on", &form.discharged_on, &mut errors);
    let reason = form
        .reason
        .trim()
        .parse::<i64>()
        .ok()
        .and_then(|c| DischargeReason::from_teds_code(c).ok());
    if reason.is_none() {
        errors.push(FieldError::new("reason", "choose a discharge reason"));
    }
    if let (Some(on), Some(reason), true) = (discharged_on, reason, errors.is_empty()) {
        match state
            .store
            .discharge(
                &grant,
                episode_id,
                on,
                reason,
                Some(form.note.as_str()),
                state.today(),
            )
            .await
        {
            // Next come the summary, aftercare plan and follow-ups on the discharge page.
            Ok(()) => {
                return Ok(
                    Redirect::to(&format!("/episodes/{episode_id}/discharge-summary"))
                        .into_response(),
                )
            }
            Err(StoreError::Invalid(e)) => errors = e,
            Err(e) => return Err(e.into()),
        }
    }
    let (_, name, context) = episode_context(&state, &staff.actor, episode_id).await?;
    render_episode_form(
        &staff,
        EpisodeFormSpec {
            heading: "Discharge",
            action: format!("/episodes/{episode_id}/discharge"),
            submit_label: "Discharge",
            cancel_url: format!("/patients/{patient_id}/episodes"),
            with_referrals: false,
        },
        name,
        context,
        discharge_fields(&form),
        &errors,
    )
}
