//! The breach register pages (privacy officer only): the register with its 60-day clock and
//! overdue badges, an incident's four-factor assessment, letters and notices, the printable
//! letter to each patient, and the year's log for HHS (print and CSV).

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use trellis_domain::consent::{annual_log_due, BreachConclusion, FactorRisk, SubstituteMethod};
use trellis_domain::patient::FieldError;
use trellis_storage::access::can;
use trellis_storage::patients::{mrn, parse_mrn};
use trellis_storage::privacy::breaches::{IncidentRecord, IncidentText, NewIncident};
use trellis_storage::privacy::substitute_notices::NewSubstituteNotice;

use super::super::{labelled, LabelledError, Layout};
use super::{one, optional_date, Pairs};
use crate::api::privacy::breaches::{check_year, parse_assessment_fields};
use crate::error::AppError;
use crate::forms;
use crate::identity::Staff;
use crate::view;
use crate::AppState;

/// An assessment as shown: each factor with its weight, the notes, the conclusion, who and when.
type AssessmentShown = (
    Vec<(&'static str, &'static str)>,
    String,
    &'static str,
    String,
);

/// An incident in the register, ready to show.
pub struct IncidentRow {
    id: i64,
    discovered_on: String,
    occurred_on: String,
    deadline: String,
    overdue: bool,
    status: &'static str,
    tone: &'static str,
    patients_affected: i64,
    most_in_one_state: i64,
    media_notice_required: bool,
    hhs_with_patients: bool,
    media_notified_on: String,
    hhs_notified_on: String,
    text: IncidentText,
    assessment: Option<AssessmentShown>,
    /// (id, record number, name, letter sent on, told by substitute notice).
    patients: Vec<(i64, String, String, String, bool)>,
    letters_complete: bool,
    breach: bool,
    substitute_notices: Vec<SubstituteShown>,
}

/// A substitute notice as the incident page lists it.
pub struct SubstituteShown {
    given_on: String,
    method: &'static str,
    patients: i64,
    toll_free_number: String,
    details: String,
    keep_until: String,
    recorded_by: String,
}

fn row(r: &IncidentRecord) -> IncidentRow {
    let conclusion = r.conclusion();
    let (status, tone) = match conclusion {
        _ if r.overdue => ("Overdue", "flag"),
        Some(BreachConclusion::LowProbability) => ("Not a breach", "ok"),
        Some(BreachConclusion::Breach) if r.letters_complete => ("Patients notified", "ok"),
        Some(BreachConclusion::Breach) => ("Breach: notify patients", "warn"),
        None => ("To assess", "warn"),
    };
    IncidentRow {
        id: r.id,
        discovered_on: view::date(r.discovered_on),
        occurred_on: r.occurred_on.map_or("unknown".into(), view::date),
        deadline: view::date(r.deadline),
        overdue: r.overdue,
        status,
        tone,
        patients_affected: r.patients_affected,
        most_in_one_state: r.most_in_one_state,
        media_notice_required: r.media_notice_required,
        hhs_with_patients: r.hhs_with_patients,
        media_notified_on: r.media_notified_on.map_or(String::new(), view::date),
        hhs_notified_on: r.hhs_notified_on.map_or(String::new(), view::date),
        text: r.text.clone(),
        assessment: r.assessment.as_ref().map(|a| {
            (
                vec![
                    (
                        "Nature and extent of the information",
                        a.factors.nature_and_extent.label(),
                    ),
                    (
                        "The unauthorized person",
                        a.factors.unauthorized_recipient.label(),
                    ),
                    (
                        "Actually acquired or viewed",
                        a.factors.acquired_or_viewed.label(),
                    ),
                    ("Extent mitigated", a.factors.mitigation.label()),
                ],
                a.notes.clone(),
                a.conclusion.label(),
                format!(
                    "{} by {}",
                    view::date(a.assessed_at.0.date_naive()),
                    a.assessed_by
                ),
            )
        }),
        patients: r
            .patients
            .iter()
            .map(|p| {
                (
                    p.patient_id,
                    mrn(p.patient_id),
                    p.name.clone(),
                    p.letter_sent_on.map_or(String::new(), view::date),
                    p.substitute_notice_id.is_some(),
                )
            })
            .collect(),
        letters_complete: r.letters_complete,
        breach: conclusion == Some(BreachConclusion::Breach),
        substitute_notices: r
            .substitute_notices
            .iter()
            .map(|n| SubstituteShown {
                given_on: view::date(n.given_on),
                method: n.method.label(),
                patients: n.patients_unreachable,
                toll_free_number: n.toll_free_number.clone().unwrap_or_default(),
                details: n.details.clone(),
                keep_until: n.keep_until.map_or(String::new(), view::date),
                recorded_by: n.recorded_by.clone(),
            })
            .collect(),
    }
}

#[derive(Template)]
#[template(path = "privacy/breaches.html")]
struct RegisterPage {
    layout: Layout,
    incidents: Vec<IncidentRow>,
    form: Pairs,
    errors: Vec<LabelledError>,
    today: String,
    year: i32,
}

impl RegisterPage {
    fn value(&self, key: &str) -> String {
        one(&self.form, key)
    }
}

async fn register_page(
    state: &AppState,
    staff: &Staff,
    form: Pairs,
    errors: &[FieldError],
) -> Result<RegisterPage, AppError> {
    let grant = state.store.grant::<can::KeepBreachRegister>(&staff.actor)?;
    let incidents = state.store.incidents(&grant).await?;
    let today = state.today();
    Ok(RegisterPage {
        layout: Layout::new(staff, "privacy"),
        incidents: incidents.iter().map(row).collect(),
        form,
        errors: labelled(errors),
        today: today.to_string(),
        year: chrono::Datelike::year(&today),
    })
}

/// An id in the URL after a save (never a name).
#[derive(Debug, Deserialize)]
pub struct Saved {
    saved: Option<String>,
}

/// The register with the form to record an incident.
pub async fn register(
    State(state): State<AppState>,
    staff: Staff,
    Query(q): Query<Saved>,
) -> Result<Response, AppError> {
    let mut p = register_page(&state, &staff, Vec::new(), &[]).await?;
    if let Some(id) = q.saved {
        p.layout.notice = Some(format!(
            "Incident #{id} recorded; a task is due on its 60th day."
        ));
    }
    Ok(Html(p.render()?).into_response())
}

/// Reads the incident form: patients by medical record number, comma or space separated.
fn parse_incident(form: &Pairs, errors: &mut Vec<FieldError>) -> NewIncident {
    let number = |field: &'static str, errors: &mut Vec<FieldError>| {
        let v = one(form, field);
        if v.is_empty() {
            return 0;
        }
        v.parse::<i64>().unwrap_or_else(|_| {
            errors.push(FieldError::new(field, "must be a whole number"));
            0
        })
    };
    let mut patient_ids = Vec::new();
    for part in one(form, "patients")
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|p| !p.is_empty())
    {
        match parse_mrn(part) {
            Some(id) => patient_ids.push(id),
            None => errors.push(FieldError::new(
                "patients",
                "list medical record numbers (TR000042), separated by commas",
            )),
        }
    }
    NewIncident {
        discovered_on: forms::date("discovered_on", &one(form, "discovered_on"), errors),
        occurred_on: optional_date(form, "occurred_on", errors),
        text: IncidentText {
            what_happened: one(form, "what_happened"),
            information_involved: one(form, "information_involved"),
            steps_for_patients: one(form, "steps_for_patients"),
            what_we_are_doing: one(form, "what_we_are_doing"),
            contact: one(form, "contact"),
        },
        patients_affected: number("patients_affected", errors),
        most_in_one_state: number("most_in_one_state", errors),
        patient_ids,
    }
}

/// Records an incident.
pub async fn record(
    State(state): State<AppState>,
    staff: Staff,
    Form(form): Form<Pairs>,
) -> Result<Response, AppError> {
    let grant = state.store.grant::<can::KeepBreachRegister>(&staff.actor)?;
    let mut errors = Vec::new();
    let new = parse_incident(&form, &mut errors);
    let result = if errors.is_empty() {
        state
            .store
            .record_incident(&grant, &new)
            .await
            .map_err(AppError::from)
    } else {
        Err(AppError::Invalid(errors))
    };
    match result {
        Ok(id) => {
            Ok(Redirect::to(&format!("/privacy/breaches/{id}?saved=recorded")).into_response())
        }
        Err(AppError::Invalid(errors)) => {
            let p = register_page(&state, &staff, form, &errors).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(p.render()?)).into_response())
        }
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "privacy/breach.html")]
struct IncidentPage {
    layout: Layout,
    i: IncidentRow,
    factors: [(&'static str, &'static str); 4],
    risks: Vec<(&'static str, &'static str)>,
    conclusions: Vec<(&'static str, &'static str)>,
    methods: Vec<(&'static str, &'static str)>,
    form: Pairs,
    errors: Vec<LabelledError>,
    today: String,
}

impl IncidentPage {
    fn value(&self, key: &str) -> String {
        one(&self.form, key)
    }

    fn error(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }
}

async fn incident_page(
    state: &AppState,
    staff: &Staff,
    id: i64,
    form: Pairs,
    errors: &[FieldError],
) -> Result<IncidentPage, AppError> {
    let grant = state.store.grant::<can::KeepBreachRegister>(&staff.actor)?;
    let record = state.store.incident(&grant, id).await?;
    Ok(IncidentPage {
        layout: Layout::new(staff, "privacy"),
        i: row(&record),
        factors: [
            (
                "nature_and_extent",
                "Nature and extent of the information (identifiers, likelihood of re-identification)",
            ),
            (
                "unauthorized_recipient",
                "The unauthorized person who used or received it",
            ),
            (
                "acquired_or_viewed",
                "Whether it was actually acquired or viewed",
            ),
            ("mitigation", "The extent to which the risk was mitigated"),
        ],
        risks: FactorRisk::ALL.iter().map(|r| (r.code(), r.label())).collect(),
        conclusions: BreachConclusion::ALL
            .iter()
            .map(|c| (c.code(), c.label()))
            .collect(),
        methods: SubstituteMethod::ALL
            .iter()
            .map(|m| (m.code(), m.label()))
            .collect(),
        form,
        errors: labelled(errors),
        today: state.today().to_string(),
    })
}

/// One incident: assessment, letters, notices.
pub async fn incident(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Query(q): Query<Saved>,
) -> Result<Response, AppError> {
    let mut p = incident_page(&state, &staff, id, Vec::new(), &[]).await?;
    p.layout.notice = match q.saved.as_deref() {
        Some("recorded") => Some(format!(
            "Incident #{id} recorded; a task is due on its 60th day."
        )),
        Some("assessed") => Some("Assessment recorded.".into()),
        Some("letter") => Some("Letter recorded as sent.".into()),
        Some("notices") => Some("Notices recorded.".into()),
        Some("substitute") => Some("Substitute notice recorded.".into()),
        _ => None,
    };
    Ok(Html(p.render()?).into_response())
}

async fn answer(
    state: &AppState,
    staff: &Staff,
    id: i64,
    result: Result<&'static str, AppError>,
) -> Result<Response, AppError> {
    answer_with(state, staff, id, result, Vec::new()).await
}

/// [`answer`], sending the form back with its errors.
async fn answer_with(
    state: &AppState,
    staff: &Staff,
    id: i64,
    result: Result<&'static str, AppError>,
    form: Pairs,
) -> Result<Response, AppError> {
    match result {
        Ok(saved) => Ok(
            Redirect::to(&format!("/privacy/breaches/{id}?saved={saved}#{saved}")).into_response(),
        ),
        Err(AppError::Invalid(errors)) => {
            let p = incident_page(state, staff, id, form, &errors).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(p.render()?)).into_response())
        }
        Err(e) => Err(e),
    }
}

/// Records the four-factor assessment.
pub async fn assess(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Form(form): Form<Pairs>,
) -> Result<Response, AppError> {
    let grant = state.store.grant::<can::KeepBreachRegister>(&staff.actor)?;
    let mut errors = Vec::new();
    let assessment = parse_assessment_fields(
        [
            &one(&form, "nature_and_extent"),
            &one(&form, "unauthorized_recipient"),
            &one(&form, "acquired_or_viewed"),
            &one(&form, "mitigation"),
        ],
        &one(&form, "notes"),
        &one(&form, "conclusion"),
        &mut errors,
    );
    let result = match assessment {
        Some(a) if errors.is_empty() => state
            .store
            .assess_incident(&grant, id, &a)
            .await
            .map(|()| "assessed")
            .map_err(AppError::from),
        _ => Err(AppError::Invalid(errors)),
    };
    answer(&state, &staff, id, result).await
}

/// Records that a patient's letter was sent.
pub async fn letter_sent(
    State(state): State<AppState>,
    staff: Staff,
    Path((id, patient)): Path<(i64, i64)>,
    Form(form): Form<Pairs>,
) -> Result<Response, AppError> {
    let grant = state.store.grant::<can::KeepBreachRegister>(&staff.actor)?;
    let mut errors = Vec::new();
    let sent_on = forms::date("sent_on", &one(&form, "sent_on"), &mut errors);
    let result = match sent_on {
        Some(d) => state
            .store
            .record_breach_letter(&grant, id, patient, Some(d))
            .await
            .map(|()| "letter")
            .map_err(AppError::from),
        None => Err(AppError::Invalid(errors)),
    };
    answer(&state, &staff, id, result).await
}

/// Records the media and HHS notice dates.
pub async fn notices(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Form(form): Form<Pairs>,
) -> Result<Response, AppError> {
    let grant = state.store.grant::<can::KeepBreachRegister>(&staff.actor)?;
    let mut errors = Vec::new();
    let media = optional_date(&form, "media_notified_on", &mut errors);
    let hhs = optional_date(&form, "hhs_notified_on", &mut errors);
    let result = if errors.is_empty() {
        state
            .store
            .record_breach_notices(&grant, id, media, hhs)
            .await
            .map(|()| "notices")
            .map_err(AppError::from)
    } else {
        Err(AppError::Invalid(errors))
    };
    answer(&state, &staff, id, result).await
}

/// Records a substitute notice for patients the letters could not reach (§164.404(d)(2)).
pub async fn substitute_notice(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Form(form): Form<Pairs>,
) -> Result<Response, AppError> {
    let grant = state.store.grant::<can::KeepBreachRegister>(&staff.actor)?;
    let mut errors = Vec::new();
    let given_on = forms::date("given_on", &one(&form, "given_on"), &mut errors);
    let method = forms::code::<SubstituteMethod>(
        "method",
        &one(&form, "method"),
        "choose how the patients were told",
        &mut errors,
    );
    let patients_unreachable = match one(&form, "patients_unreachable").parse::<i64>() {
        Ok(n) => n,
        Err(_) => {
            errors.push(FieldError::new(
                "patients_unreachable",
                "give the number of patients the letters could not reach",
            ));
            0
        }
    };
    let mut patient_ids = Vec::new();
    for (_, v) in form.iter().filter(|(k, _)| k == "patient_ids") {
        match v.parse::<i64>() {
            Ok(p) => patient_ids.push(p),
            Err(_) => errors.push(FieldError::new("patient_ids", "unknown patient")),
        }
    }
    let result = if errors.is_empty() {
        state
            .store
            .record_substitute_notice(
                &grant,
                id,
                &NewSubstituteNotice {
                    given_on,
                    method,
                    patients_unreachable,
                    patient_ids,
                    toll_free_number: one(&form, "toll_free_number"),
                    details: one(&form, "details"),
                },
            )
            .await
            .map(|_| "substitute")
            .map_err(AppError::from)
    } else {
        Err(AppError::Invalid(errors))
    };
    answer_with(&state, &staff, id, result, form).await
}

#[derive(Template)]
#[template(path = "privacy/breach_letter.html")]
struct LetterPage {
    layout: Layout,
    id: i64,
    patient_mrn: String,
    text: String,
}

/// The letter to one patient, drafted from the incident, to print.
pub async fn letter(
    State(state): State<AppState>,
    staff: Staff,
    Path((id, patient)): Path<(i64, i64)>,
) -> Result<Response, AppError> {
    let grant = state.store.grant::<can::KeepBreachRegister>(&staff.actor)?;
    let text = state.store.breach_letter(&grant, id, patient).await?;
    let p = LetterPage {
        layout: Layout::new(&staff, "privacy"),
        id,
        patient_mrn: mrn(patient),
        text,
    };
    Ok(Html(p.render()?).into_response())
}

/// The year of an annual log.
#[derive(Debug, Deserialize)]
pub struct Year {
    year: Option<String>,
}

#[derive(Template)]
#[template(path = "privacy/breach_log.html")]
struct LogPage {
    layout: Layout,
    year: i32,
    due: String,
    incidents: Vec<IncidentRow>,
}

fn year_of(state: &AppState, q: &Year) -> Result<i32, AppError> {
    match q.year.as_deref().map(str::trim) {
        None | Some("") => Ok(chrono::Datelike::year(&state.today())),
        Some(y) => match y.parse::<i32>() {
            Ok(y) => check_year(y),
            Err(_) => Err(AppError::Invalid(vec![FieldError::new(
                "year",
                "must be a year such as 2026",
            )])),
        },
    }
}

/// The year's breaches under 500, printable, for the HHS log (45 CFR 164.408(c)).
pub async fn log(
    State(state): State<AppState>,
    staff: Staff,
    Query(q): Query<Year>,
) -> Result<Response, AppError> {
    let grant = state.store.grant::<can::KeepBreachRegister>(&staff.actor)?;
    let year = year_of(&state, &q)?;
    let incidents = state.store.annual_breach_log(&grant, year).await?;
    let p = LogPage {
        layout: Layout::new(&staff, "privacy"),
        year,
        due: annual_log_due(year).map_or(String::new(), view::date),
        incidents: incidents.iter().map(row).collect(),
    };
    Ok(Html(p.render()?).into_response())
}

/// A CSV field, quoted, with quotes doubled and formula-starting text neutralised.
fn csv_field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    format!("\"{}\"", value.replace('"', "\"\""))
}

/// The same log as CSV.
pub async fn log_csv(
    State(state): State<AppState>,
    staff: Staff,
    Query(q): Query<Year>,
) -> Result<Response, AppError> {
    let grant = state.store.grant::<can::KeepBreachRegister>(&staff.actor)?;
    let year = year_of(&state, &q)?;
    let incidents = state.store.annual_breach_log(&grant, year).await?;
    let mut csv = String::from(
        "incident,occurred_on,discovered_on,patients_affected,what_happened,information_involved,\
         letters_sent_by,what_we_are_doing\r\n",
    );
    for r in &incidents {
        let last_letter = r
            .patients
            .iter()
            .filter_map(|p| p.letter_sent_on)
            .max()
            .map_or(String::new(), |d| d.to_string());
        let fields = [
            r.id.to_string(),
            r.occurred_on.map_or(String::new(), |d| d.to_string()),
            r.discovered_on.to_string(),
            r.patients_affected.to_string(),
            r.text.what_happened.clone(),
            r.text.information_involved.clone(),
            last_letter,
            r.text.what_we_are_doing.clone(),
        ];
        csv.push_str(
            &fields
                .iter()
                .map(|f| csv_field(f))
                .collect::<Vec<_>>()
                .join(","),
        );
        csv.push_str("\r\n");
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"breach-log-{year}.csv\""),
            ),
        ],
        csv,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn csv_fields_are_quoted_and_cannot_start_a_formula() {
        assert_eq!(csv_field("a \"b\", c"), "\"a \"\"b\"\", c\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "\"'=HYPERLINK(1)\"");
    }
}
