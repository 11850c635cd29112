//! The breach register over JSON (privacy officer only): incidents, the four-factor assessment,
//! letters to patients, media and HHS notices, and the year's log for HHS.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use trellis_domain::consent::{BreachConclusion, FactorRisk, RiskAssessment, SubstituteMethod};
use trellis_domain::patient::FieldError;
use trellis_storage::access::can;
use trellis_storage::privacy::breaches::{
    IncidentRecord, IncidentText, NewAssessment, NewIncident,
};
use trellis_storage::privacy::substitute_notices::NewSubstituteNotice;
use utoipa::openapi::schema::{Object, ObjectBuilder, Type};

use super::super::episodes::Created;
use super::super::extract::{ApiQuery, JsonBody, PathId, PathIds};
use super::super::paging::{PageQuery, Paged, Paging};
use super::super::responses::{BadBody, BadQuery, CreatedAt, Forbidden, NotFound, Unauthenticated};
use super::optional_date;
use crate::error::{ApiError, ApiErrorBody, AppError};
use crate::forms;
use crate::identity::ApiCaller;
use crate::AppState;

fn one_of(codes: impl IntoIterator<Item = &'static str>) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(codes))
        .build()
}

fn risk_schema() -> Object {
    one_of(FactorRisk::ALL.iter().map(|r| r.code()))
}

fn conclusion_schema() -> Object {
    one_of(BreachConclusion::ALL.iter().map(|c| c.code()))
}

/// The four factors of 45 CFR 164.402(2) and the conclusion.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AssessmentView {
    /// (i) Nature and extent of the information: low or high.
    pub nature_and_extent: String,
    /// (ii) The unauthorized person: low or high.
    pub unauthorized_recipient: String,
    /// (iii) Whether it was actually acquired or viewed: low or high.
    pub acquired_or_viewed: String,
    /// (iv) The extent the risk was mitigated: low or high.
    pub mitigation: String,
    /// Why each factor weighs as it does.
    pub notes: String,
    /// low_probability (not a breach) or breach.
    pub conclusion: String,
    /// When it was made.
    pub assessed_at: DateTime<Utc>,
    /// By whom.
    pub assessed_by: String,
}

/// A patient an incident touched.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AffectedPatientView {
    /// The patient.
    pub patient_id: i64,
    /// Their name, as the letter addresses them.
    pub name: String,
    /// The day their letter was sent, once it was.
    pub letter_sent_on: Option<NaiveDate>,
    /// The substitute notice that told them when the letter could not reach them.
    pub substitute_notice_id: Option<i64>,
}

/// A substitute notice for patients the letters could not reach (45 CFR 164.404(d)(2)).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SubstituteNoticeView {
    /// Id.
    pub id: i64,
    /// The day it was given.
    pub given_on: NaiveDate,
    /// How: alternative_written, telephone, other_means, website_posting or major_media.
    pub method: String,
    /// How many patients it is for.
    pub patients_unreachable: i64,
    /// The toll-free number, if one was given.
    pub toll_free_number: Option<String>,
    /// Where it was posted or published, or what was said.
    pub details: String,
    /// For a website posting or media notice: the posting stays up and the number active until.
    pub keep_until: Option<NaiveDate>,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
    /// By whom.
    pub recorded_by: String,
}

/// An incident in the breach register.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Incident {
    /// Id.
    pub id: i64,
    /// The day it was discovered.
    pub discovered_on: NaiveDate,
    /// The day it happened, if known.
    pub occurred_on: Option<NaiveDate>,
    /// A brief description of what happened.
    pub what_happened: String,
    /// The kinds of information involved.
    pub information_involved: String,
    /// What patients should do.
    pub steps_for_patients: String,
    /// What the program is doing.
    pub what_we_are_doing: String,
    /// How patients reach the program.
    pub contact: String,
    /// How many patients it touched.
    pub patients_affected: i64,
    /// The most living in one State.
    pub most_in_one_state: i64,
    /// The assessment, once made.
    pub assessment: Option<AssessmentView>,
    /// The last day to notify patients: 60 days after discovery.
    pub deadline: NaiveDate,
    /// Whether notifying patients is overdue.
    pub overdue: bool,
    /// Whether every patient has been told: by letter, or by substitute notice.
    pub letters_complete: bool,
    /// Substitute notices for patients the letters could not reach.
    pub substitute_notices: Vec<SubstituteNoticeView>,
    /// Whether prominent media must be told (more than 500 residents of one State).
    pub media_notice_required: bool,
    /// Whether HHS is told with the patients (500 or more) rather than in the annual log.
    pub hhs_with_patients: bool,
    /// When the media were told.
    pub media_notified_on: Option<NaiveDate>,
    /// When HHS was told.
    pub hhs_notified_on: Option<NaiveDate>,
    /// The patients named, with their letters.
    pub patients: Vec<AffectedPatientView>,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
    /// By whom.
    pub recorded_by: String,
}

fn dto(r: IncidentRecord) -> Incident {
    Incident {
        id: r.id,
        discovered_on: r.discovered_on,
        occurred_on: r.occurred_on,
        what_happened: r.text.what_happened,
        information_involved: r.text.information_involved,
        steps_for_patients: r.text.steps_for_patients,
        what_we_are_doing: r.text.what_we_are_doing,
        contact: r.text.contact,
        patients_affected: r.patients_affected,
        most_in_one_state: r.most_in_one_state,
        assessment: r.assessment.map(|a| AssessmentView {
            nature_and_extent: a.factors.nature_and_extent.code().into(),
            unauthorized_recipient: a.factors.unauthorized_recipient.code().into(),
            acquired_or_viewed: a.factors.acquired_or_viewed.code().into(),
            mitigation: a.factors.mitigation.code().into(),
            notes: a.notes,
            conclusion: a.conclusion.code().into(),
            assessed_at: a.assessed_at.0,
            assessed_by: a.assessed_by,
        }),
        deadline: r.deadline,
        overdue: r.overdue,
        letters_complete: r.letters_complete,
        substitute_notices: r
            .substitute_notices
            .into_iter()
            .map(|n| SubstituteNoticeView {
                id: n.id,
                given_on: n.given_on,
                method: n.method.code().into(),
                patients_unreachable: n.patients_unreachable,
                toll_free_number: n.toll_free_number,
                details: n.details,
                keep_until: n.keep_until,
                recorded_at: n.recorded_at.0,
                recorded_by: n.recorded_by,
            })
            .collect(),
        media_notice_required: r.media_notice_required,
        hhs_with_patients: r.hhs_with_patients,
        media_notified_on: r.media_notified_on,
        hhs_notified_on: r.hhs_notified_on,
        patients: r
            .patients
            .into_iter()
            .map(|p| AffectedPatientView {
                patient_id: p.patient_id,
                name: p.name,
                letter_sent_on: p.letter_sent_on,
                substitute_notice_id: p.substitute_notice_id,
            })
            .collect(),
        recorded_at: r.recorded_at.0,
        recorded_by: r.recorded_by,
    }
}

/// A new incident.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct IncidentBody {
    /// YYYY-MM-DD: the first day the program knew (or would have known with reasonable
    /// diligence); not in the future. The 60 days run from it.
    #[serde(default)]
    #[schema(required = true, format = Date)]
    pub discovered_on: String,
    /// YYYY-MM-DD, if known: not after discovery.
    #[serde(default)]
    #[schema(format = Date)]
    pub occurred_on: String,
    /// A brief description of what happened (at most 4000 characters).
    #[serde(default)]
    #[schema(required = true, max_length = 4000)]
    pub what_happened: String,
    /// The kinds of information involved (at most 4000 characters).
    #[serde(default)]
    #[schema(required = true, max_length = 4000)]
    pub information_involved: String,
    /// What patients should do to protect themselves (at most 4000 characters).
    #[serde(default)]
    #[schema(required = true, max_length = 4000)]
    pub steps_for_patients: String,
    /// What the program is doing (at most 4000 characters).
    #[serde(default)]
    #[schema(required = true, max_length = 4000)]
    pub what_we_are_doing: String,
    /// How patients reach the program: toll-free number, email, website or postal address (at
    /// most 4000 characters).
    #[serde(default)]
    #[schema(required = true, max_length = 4000)]
    pub contact: String,
    /// How many patients it touched (at least the patients named).
    #[serde(default)]
    #[schema(required = true, minimum = 1, maximum = 10000000)]
    pub patients_affected: i64,
    /// The most of them living in one State (0 up to patients_affected).
    #[serde(default)]
    #[schema(minimum = 0)]
    pub most_in_one_state: i64,
    /// The patients it touched, as far as known.
    #[serde(default)]
    pub patient_ids: Vec<i64>,
}

/// Parses an incident's dates; the store checks the rest.
pub(crate) fn parse_incident(b: IncidentBody, errors: &mut Vec<FieldError>) -> NewIncident {
    NewIncident {
        discovered_on: forms::date("discovered_on", &b.discovered_on, errors),
        occurred_on: optional_date("occurred_on", &b.occurred_on, errors),
        text: IncidentText {
            what_happened: b.what_happened,
            information_involved: b.information_involved,
            steps_for_patients: b.steps_for_patients,
            what_we_are_doing: b.what_we_are_doing,
            contact: b.contact,
        },
        patients_affected: b.patients_affected,
        most_in_one_state: b.most_in_one_state,
        patient_ids: b.patient_ids,
    }
}

/// The breach register, newest discovery first (audited).
#[utoipa::path(get, path = "/breaches", tag = "confidentiality",
    params(PageQuery),
    responses(
        (status = 200, description = "Newest discovery first", body = Vec<Incident>,
            headers(("X-Total-Count" = i64, description = "How many entries the whole list has"))),
        Unauthenticated, Forbidden,
    ))]
pub async fn list_breaches(
    State(state): State<AppState>,
    caller: ApiCaller,
    paging: Paging,
) -> Result<Paged<Incident>, ApiError> {
    let grant = state
        .store
        .grant::<can::KeepBreachRegister>(&caller.actor)?;
    let rows = state.store.incidents(&grant).await?;
    Ok(paging.page(rows.into_iter().map(dto).collect()))
}

/// Records an incident (audited under each patient named) and opens the privacy officer's
/// task, due 60 days after discovery.
#[utoipa::path(post, path = "/breaches", tag = "confidentiality",
    request_body = IncidentBody,
    responses(
        (status = 201, description = "Recorded", body = Created,
            headers(("Location" = String, description = "Where the new record is read: its own URL, or the list it appears in"))),
        Unauthenticated, Forbidden, BadBody,
    ))]
pub async fn record_breach(
    State(state): State<AppState>,
    caller: ApiCaller,
    body: JsonBody<IncidentBody>,
) -> Result<CreatedAt<Created>, ApiError> {
    let grant = state
        .store
        .grant::<can::KeepBreachRegister>(&caller.actor)?;
    let mut errors = Vec::new();
    let new = parse_incident(body.parse()?, &mut errors);
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors).into());
    }
    let id = state.store.record_incident(&grant, &new).await?;
    Ok(CreatedAt(format!("/api/v1/breaches/{id}"), Created { id }))
}

/// One incident (audited).
#[utoipa::path(get, path = "/breaches/{id}", tag = "confidentiality",
    params(("id" = i64, Path, description = "Incident id")),
    responses(
        (status = 200, description = "The incident", body = Incident),
        Unauthenticated, Forbidden, NotFound,
    ))]
pub async fn get_breach(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
) -> Result<Json<Incident>, ApiError> {
    let grant = state
        .store
        .grant::<can::KeepBreachRegister>(&caller.actor)?;
    Ok(Json(dto(state.store.incident(&grant, id).await?)))
}

/// The privacy officer's assessment.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct BreachAssessmentBody {
    /// (i) Nature and extent of the information, identifiers, likelihood of re-identification.
    #[serde(default)]
    #[schema(required = true, schema_with = risk_schema)]
    pub nature_and_extent: String,
    /// (ii) The unauthorized person who used it or received it.
    #[serde(default)]
    #[schema(required = true, schema_with = risk_schema)]
    pub unauthorized_recipient: String,
    /// (iii) Whether it was actually acquired or viewed.
    #[serde(default)]
    #[schema(required = true, schema_with = risk_schema)]
    pub acquired_or_viewed: String,
    /// (iv) The extent the risk was mitigated.
    #[serde(default)]
    #[schema(required = true, schema_with = risk_schema)]
    pub mitigation: String,
    /// Why each factor weighs as it does (at most 4000 characters).
    #[serde(default)]
    #[schema(required = true, max_length = 4000)]
    pub notes: String,
    /// low_probability (only when all four factors are low) or breach.
    #[serde(default)]
    #[schema(required = true, schema_with = conclusion_schema)]
    pub conclusion: String,
}

/// Parses an assessment's four factor codes (in the order of 164.402(2)), notes and conclusion.
pub(crate) fn parse_assessment_fields(
    factors: [&str; 4],
    notes: &str,
    conclusion: &str,
    errors: &mut Vec<FieldError>,
) -> Option<NewAssessment> {
    let fields = [
        "nature_and_extent",
        "unauthorized_recipient",
        "acquired_or_viewed",
        "mitigation",
    ];
    let weighed: Vec<Option<FactorRisk>> = fields
        .iter()
        .zip(factors)
        .map(|(field, value)| forms::code::<FactorRisk>(field, value, "choose low or high", errors))
        .collect();
    let conclusion = forms::code::<BreachConclusion>(
        "conclusion",
        conclusion,
        "must be low_probability or breach",
        errors,
    );
    Some(NewAssessment {
        factors: RiskAssessment {
            nature_and_extent: weighed[0]?,
            unauthorized_recipient: weighed[1]?,
            acquired_or_viewed: weighed[2]?,
            mitigation: weighed[3]?,
        },
        notes: notes.to_owned(),
        conclusion: conclusion?,
    })
}

/// Records the four-factor assessment (45 CFR 164.402(2)) and its conclusion (audited).
#[utoipa::path(post, path = "/breaches/{id}/assessment", tag = "confidentiality",
    params(("id" = i64, Path, description = "Incident id")),
    request_body = BreachAssessmentBody,
    responses(
        (status = 204, description = "Recorded"),
        Unauthenticated, Forbidden, NotFound, BadBody,
    ))]
pub async fn assess_breach(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    body: JsonBody<BreachAssessmentBody>,
) -> Result<StatusCode, ApiError> {
    let grant = state
        .store
        .grant::<can::KeepBreachRegister>(&caller.actor)?;
    let body = body.parse()?;
    let mut errors = Vec::new();
    let assessment = parse_assessment_fields(
        [
            &body.nature_and_extent,
            &body.unauthorized_recipient,
            &body.acquired_or_viewed,
            &body.mitigation,
        ],
        &body.notes,
        &body.conclusion,
        &mut errors,
    );
    let (Some(assessment), true) = (assessment, errors.is_empty()) else {
        return Err(AppError::Invalid(errors).into());
    };
    state.store.assess_incident(&grant, id, &assessment).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A patient's letter, drafted from the incident.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BreachLetter {
    /// The letter's text, with the five parts of 45 CFR 164.404(c).
    pub text: String,
}

/// The letter to one patient the incident names, drafted from it (audited under the patient).
#[utoipa::path(get, path = "/breaches/{id}/letters/{patient_id}", tag = "confidentiality",
    params(("id" = i64, Path, description = "Incident id"),
        ("patient_id" = i64, Path, description = "Patient id")),
    responses(
        (status = 200, description = "The draft", body = BreachLetter),
        Unauthenticated, Forbidden, NotFound,
    ))]
pub async fn breach_letter(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathIds(id, patient): PathIds,
) -> Result<Json<BreachLetter>, ApiError> {
    let grant = state
        .store
        .grant::<can::KeepBreachRegister>(&caller.actor)?;
    let text = state.store.breach_letter(&grant, id, patient).await?;
    Ok(Json(BreachLetter { text }))
}

/// The day a letter went out.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct LetterSentBody {
    /// YYYY-MM-DD: not before discovery, not in the future.
    #[serde(default)]
    #[schema(required = true, format = Date)]
    pub sent_on: String,
}

/// Records that a patient's letter was sent (audited); the incident's task is completed once
/// every patient has theirs.
#[utoipa::path(post, path = "/breaches/{id}/letters/{patient_id}", tag = "confidentiality",
    params(("id" = i64, Path, description = "Incident id"),
        ("patient_id" = i64, Path, description = "Patient id")),
    request_body = LetterSentBody,
    responses(
        (status = 204, description = "Recorded"),
        (status = 409, description = "Assessed as a low probability of compromise: no letters are due (conflict)", body = ApiErrorBody),
        Unauthenticated, Forbidden, NotFound, BadBody,
    ))]
pub async fn record_breach_letter(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathIds(id, patient): PathIds,
    body: JsonBody<LetterSentBody>,
) -> Result<StatusCode, ApiError> {
    let grant = state
        .store
        .grant::<can::KeepBreachRegister>(&caller.actor)?;
    let mut errors = Vec::new();
    let Some(sent_on) = forms::date("sent_on", &body.parse()?.sent_on, &mut errors) else {
        return Err(AppError::Invalid(errors).into());
    };
    state
        .store
        .record_breach_letter(&grant, id, patient, Some(sent_on))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// When the media and HHS were told.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct NoticesBody {
    /// YYYY-MM-DD, only for breaches of more than 500 residents of one State.
    #[serde(default)]
    #[schema(format = Date)]
    pub media_notified_on: String,
    /// YYYY-MM-DD.
    #[serde(default)]
    #[schema(format = Date)]
    pub hhs_notified_on: String,
}

/// Records when the media and HHS were told (audited); at least one date.
#[utoipa::path(post, path = "/breaches/{id}/notices", tag = "confidentiality",
    params(("id" = i64, Path, description = "Incident id")),
    request_body = NoticesBody,
    responses(
        (status = 204, description = "Recorded"),
        Unauthenticated, Forbidden, NotFound, BadBody,
    ))]
pub async fn record_breach_notices(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    body: JsonBody<NoticesBody>,
) -> Result<StatusCode, ApiError> {
    let grant = state
        .store
        .grant::<can::KeepBreachRegister>(&caller.actor)?;
    let body = body.parse()?;
    let mut errors = Vec::new();
    let media = optional_date("media_notified_on", &body.media_notified_on, &mut errors);
    let hhs = optional_date("hhs_notified_on", &body.hhs_notified_on, &mut errors);
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors).into());
    }
    state
        .store
        .record_breach_notices(&grant, id, media, hhs)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

fn substitute_method_schema() -> Object {
    one_of(SubstituteMethod::ALL.iter().map(|m| m.code()))
}

/// A substitute notice, for patients whose contact details were missing or out of date.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct SubstituteNoticeBody {
    /// YYYY-MM-DD, not in the future nor before discovery.
    #[serde(default)]
    #[schema(required = true, format = Date)]
    pub given_on: String,
    /// How the patients were told: from 10 patients website_posting or major_media.
    #[serde(default)]
    #[schema(required = true, schema_with = substitute_method_schema)]
    pub method: String,
    /// How many patients the letters could not reach (no more than the incident touched).
    #[schema(required = true, minimum = 1)]
    pub patients_unreachable: Option<i64>,
    /// The incident's named patients it is for (whose letters were not sent).
    #[serde(default)]
    pub patient_ids: Vec<i64>,
    /// The toll-free number, active for 90 days (required from 10 patients).
    #[serde(default)]
    #[schema(max_length = 40)]
    pub toll_free_number: String,
    /// Where it was posted or published, or what was said.
    #[serde(default)]
    #[schema(required = true, min_length = 1, max_length = 4000, pattern = "\\S")]
    pub details: String,
}

/// From 10 patients the notice is public, with a toll-free number (§164.404(d)(2)(ii)).
pub fn substitute_notice_rules(object: &mut Object) {
    super::super::contract::when(
        object,
        serde_json::json!({
            "required": ["patients_unreachable"],
            "properties": { "patients_unreachable": { "minimum": 10 } },
        }),
        serde_json::json!({
            "required": ["toll_free_number"],
            "properties": {
                "method": { "enum": ["website_posting", "major_media"] },
                "toll_free_number": { "pattern": "\\S" },
            },
        }),
    );
}

/// Records a substitute notice for patients the letters could not reach (audited); once every
/// patient is told, by letter or substitute notice, the incident's task is completed.
#[utoipa::path(post, path = "/breaches/{id}/substitute-notices", tag = "confidentiality",
    params(("id" = i64, Path, description = "Incident id")),
    request_body = SubstituteNoticeBody,
    responses(
        (status = 201, description = "Recorded", body = Created,
            headers(("Location" = String, description = "The incident it belongs to"))),
        (status = 409, description = "The incident was assessed as a low probability of \
            compromise: no notice is due", body = ApiErrorBody),
        Unauthenticated, Forbidden, NotFound, BadBody,
    ))]
pub async fn record_substitute_notice(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    body: JsonBody<SubstituteNoticeBody>,
) -> Result<CreatedAt<Created>, ApiError> {
    let grant = state
        .store
        .grant::<can::KeepBreachRegister>(&caller.actor)?;
    let body = body.parse()?;
    let mut errors = Vec::new();
    let given_on = forms::date("given_on", &body.given_on, &mut errors);
    let method = forms::code::<SubstituteMethod>(
        "method",
        &body.method,
        "must be alternative_written, telephone, other_means, website_posting or major_media",
        &mut errors,
    );
    if body.patients_unreachable.is_none() {
        errors.push(FieldError::new("patients_unreachable", "is required"));
    }
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors).into());
    }
    let notice = state
        .store
        .record_substitute_notice(
            &grant,
            id,
            &NewSubstituteNotice {
                given_on,
                method,
                patients_unreachable: body.patients_unreachable.unwrap_or_default(),
                patient_ids: body.patient_ids,
                toll_free_number: body.toll_free_number,
                details: body.details,
            },
        )
        .await
        .map_err(super::super::contract::against_record(&[
            "patients_unreachable",
            "patient_ids",
            "given_on",
        ]))?;
    Ok(CreatedAt(
        format!("/api/v1/breaches/{id}"),
        Created { id: notice },
    ))
}

/// The year of an annual log.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct YearQuery {
    /// The calendar year (2000 to 2100); this year when absent.
    #[param(minimum = 2000, maximum = 2100)]
    pub year: Option<i32>,
}

/// Checks a log's year.
pub(crate) fn check_year(year: i32) -> Result<i32, AppError> {
    if (2000..=2100).contains(&year) {
        Ok(year)
    } else {
        Err(AppError::Invalid(vec![FieldError::new(
            "year",
            "must be between 2000 and 2100",
        )]))
    }
}

/// The year's breaches of fewer than 500 patients, for the log submitted to HHS within 60 days
/// of the year's end (45 CFR 164.408(c)); oldest first (audited).
#[utoipa::path(get, path = "/breach-log", tag = "confidentiality",
    params(YearQuery, PageQuery),
    responses(
        (status = 200, description = "Oldest discovery first", body = Vec<Incident>,
            headers(("X-Total-Count" = i64, description = "How many entries the whole list has"))),
        Unauthenticated, Forbidden, BadQuery,
    ))]
pub async fn annual_log(
    State(state): State<AppState>,
    caller: ApiCaller,
    ApiQuery(q): ApiQuery<YearQuery>,
    paging: Paging,
) -> Result<Paged<Incident>, ApiError> {
    let grant = state
        .store
        .grant::<can::KeepBreachRegister>(&caller.actor)?;
    let year = check_year(
        q.year
            .unwrap_or_else(|| chrono::Datelike::year(&Utc::now())),
    )?;
    let rows = state.store.annual_breach_log(&grant, year).await?;
    Ok(paging.page(rows.into_iter().map(dto).collect()))
}
