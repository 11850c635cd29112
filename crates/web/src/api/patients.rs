//! Patients: the list and search, registration with duplicate detection, demographics.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use trellis_domain::patient::{age_on, validate_registration, FieldError};
use trellis_storage::access::{can, Grant};
use trellis_storage::patients::{self, mrn, PatientQuery, RegisterOutcome};

use super::extract::{ApiQuery, JsonBody, PathId};
use super::responses::{BadBody, BadQuery, Forbidden, NotFound, Stale, Unauthenticated};
use super::versions::{etag, IfMatch};
use crate::error::{ApiError, ApiErrorDetail, AppError};
use crate::forms::RegistrationForm;
use crate::identity::ApiCaller;
use crate::AppState;

const DEFAULT_LIMIT: i64 = 50;
// One more row than this is fetched to tell whether there is a next page; the store caps at 500.
const MAX_LIMIT: i64 = 200;
const MAX_SEARCH_TEXT: usize = 100;

/// A row of the patient list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PatientSummary {
    /// Id.
    pub id: i64,
    /// Medical record number.
    pub mrn: String,
    /// Name to address the patient by (preferred or legal first name, and last name).
    pub name: String,
    /// Legal first name.
    pub legal_first_name: String,
    /// Legal last name.
    pub legal_last_name: String,
    /// Preferred name.
    pub preferred_name: Option<String>,
    /// Pronouns.
    pub pronouns: Option<String>,
    /// Date of birth.
    pub date_of_birth: NaiveDate,
    /// registered, admission_pending, in_treatment or discharged (latest episode, today).
    pub status: String,
    /// Latest episode's program.
    pub program_name: Option<String>,
    /// Latest episode's current ASAM level code. Absent for front desk (minimum necessary).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_level: Option<String>,
    /// Latest episode's primary counselor. Absent for front desk (minimum necessary).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counselor_name: Option<String>,
    /// Open safety flags. Only for roles that read clinical content (counselor, clinical
    /// director, prescriber, nurse, peer specialist); absent for the others.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open_flags: Option<i64>,
}

fn summaries(rows: Vec<patients::PatientSummary>, today: NaiveDate) -> Vec<PatientSummary> {
    rows.into_iter()
        .map(|r| {
            // The same reading of the latest episode as the patient list page.
            let status = match (r.episode_status.as_deref(), r.admitted_on) {
                (Some("discharged"), _) => "discharged",
                (Some(_), Some(d)) if d.0 > today => "admission_pending",
                (Some(_), _) => "in_treatment",
                (None, _) => "registered",
            };
            let first = r
                .preferred_name
                .clone()
                .filter(|p| !p.trim().is_empty())
                .unwrap_or_else(|| r.legal_first_name.clone());
            PatientSummary {
                id: r.id,
                mrn: mrn(r.id),
                name: format!("{first} {}", r.legal_last_name),
                legal_first_name: r.legal_first_name,
                legal_last_name: r.legal_last_name,
                preferred_name: r.preferred_name,
                pronouns: r.pronouns,
                date_of_birth: r.date_of_birth.0,
                status: status.to_owned(),
                program_name: r.program_name,
                current_level: r.current_level,
                counselor_name: r.counselor_name,
                open_flags: r.open_flags,
            }
        })
        .collect()
}

/// One page of patients.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PatientPage {
    /// The patients, by last and first name.
    pub patients: Vec<PatientSummary>,
    /// Page size used.
    pub limit: i64,
    /// Rows skipped.
    pub offset: i64,
    /// Whether another page follows.
    pub has_more: bool,
}

/// Paging of the patient list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// Rows to skip (default 0).
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

fn paging(limit: Option<i64>, offset: Option<i64>, errors: &mut Vec<FieldError>) -> (i64, i64) {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        errors.push(FieldError::new(
            "limit",
            format!("must be between 1 and {MAX_LIMIT}"),
        ));
    }
    let offset = offset.unwrap_or(0);
    if offset < 0 {
        errors.push(FieldError::new("offset", "must be 0 or more"));
    }
    (limit, offset)
}

async fn page(
    state: &AppState,
    grant: &Grant<can::ReadDemographics>,
    text: Option<String>,
    open_only: bool,
    (limit, offset): (i64, i64),
) -> Result<PatientPage, ApiError> {
    let mut rows = state
        .store
        .search_patients(
            grant,
            &PatientQuery {
                text,
                open_only,
                limit: limit + 1,
                offset,
            },
        )
        .await?;
    let has_more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    Ok(PatientPage {
        patients: summaries(rows, state.today()),
        limit,
        offset,
        has_more,
    })
}

/// Patients in the caller's view, a page at a time.
#[utoipa::path(get, path = "/patients", tag = "patients",
    params(PageQuery),
    responses(
        (status = 200, description = "A page of patients", body = PatientPage),
        Unauthenticated, BadQuery,
    ))]
pub async fn list_patients(
    State(state): State<AppState>,
    caller: ApiCaller,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<PatientPage>, ApiError> {
    let grant = state.store.grant::<can::ReadDemographics>(&caller.actor)?;
    let mut errors = Vec::new();
    let paging = paging(q.limit, q.offset, &mut errors);
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors).into());
    }
    Ok(Json(page(&state, &grant, None, false, paging).await?))
}

/// Patient search. A POST, so that names never appear in URLs or logs.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PatientSearch {
    /// Name ("first last", "last, first" or a prefix of either), MRN or date of birth
    /// (YYYY-MM-DD); empty lists everyone in view. At most 100 characters.
    #[serde(default)]
    #[schema(max_length = 100)]
    pub text: String,
    /// Only patients with an open episode.
    #[serde(default)]
    pub open_only: bool,
    /// Page size, 1–200 (default 50).
    #[schema(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// Rows to skip (default 0).
    #[schema(minimum = 0)]
    pub offset: Option<i64>,
}

/// Searches the patients in the caller's view.
#[utoipa::path(post, path = "/patients/search", tag = "patients",
    request_body = PatientSearch,
    responses(
        (status = 200, description = "A page of matching patients", body = PatientPage),
        Unauthenticated, Forbidden, BadBody,
    ))]
pub async fn search_patients(
    State(state): State<AppState>,
    caller: ApiCaller,
    body: JsonBody<PatientSearch>,
) -> Result<Json<PatientPage>, ApiError> {
    let grant = state.store.grant::<can::ReadDemographics>(&caller.actor)?;
    let search = body.parse()?;
    let mut errors = Vec::new();
    let text = search.text.trim().to_owned();
    if text.chars().count() > MAX_SEARCH_TEXT {
        errors.push(FieldError::new(
            "text",
            format!("must be at most {MAX_SEARCH_TEXT} characters"),
        ));
    }
    let paging = paging(search.limit, search.offset, &mut errors);
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors).into());
    }
    Ok(Json(
        page(&state, &grant, Some(text), search.open_only, paging).await?,
    ))
}

/// A patient's demographic fields, as registered or changed.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PatientFields {
    /// Legal first name.
    #[serde(default)]
    #[schema(required = true)]
    pub legal_first_name: String,
    /// Legal last name.
    #[serde(default)]
    #[schema(required = true)]
    pub legal_last_name: String,
    /// Name the patient goes by, if different.
    pub preferred_name: Option<String>,
    /// Date of birth, YYYY-MM-DD.
    #[serde(default)]
    #[schema(required = true, format = Date)]
    pub date_of_birth: String,
    /// Sex recorded at birth: female, male, intersex or unknown.
    #[serde(default)]
    #[schema(required = true, schema_with = super::codes::sex)]
    pub sex: String,
    /// Gender identity in the patient's words.
    pub gender_identity: Option<String>,
    /// Pronouns, e.g. "she/her".
    pub pronouns: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    /// Email address.
    pub email: Option<String>,
    /// Postal address, one line.
    pub address: Option<String>,
    /// Emergency contact's name.
    pub emergency_contact_name: Option<String>,
    /// Emergency contact's phone.
    pub emergency_contact_phone: Option<String>,
    /// Emergency contact's relationship to the patient.
    pub emergency_contact_relationship: Option<String>,
    /// Preferred language.
    pub preferred_language: Option<String>,
}

impl PatientFields {
    /// The registration, or every problem with it at once (format and rules).
    fn registration(
        self,
        today: NaiveDate,
        mut errors: Vec<FieldError>,
    ) -> Result<trellis_domain::patient::Registration, ApiError> {
        let form = RegistrationForm {
            legal_first_name: self.legal_first_name,
            legal_last_name: self.legal_last_name,
            preferred_name: self.preferred_name,
            date_of_birth: self.date_of_birth,
            sex: self.sex,
            gender_identity: self.gender_identity,
            pronouns: self.pronouns,
            phone: self.phone,
            email: self.email,
            address: self.address,
            emergency_contact_name: self.emergency_contact_name,
            emergency_contact_phone: self.emergency_contact_phone,
            emergency_contact_relationship: self.emergency_contact_relationship,
            preferred_language: self.preferred_language,
        };
        let (registration, format_errors) = form.parse();
        errors.extend(format_errors);
        // The store checks these rules too; checking here as well reports every problem in
        // one answer instead of one round trip per kind of problem.
        for e in validate_registration(&registration, today) {
            if !errors.iter().any(|known| known.field == e.field) {
                errors.push(e);
            }
        }
        if errors.is_empty() {
            Ok(registration)
        } else {
            Err(AppError::Invalid(errors).into())
        }
    }
}

/// A registration: the site, the demographic fields of [`PatientFields`], and the
/// confirmation that possible duplicates were checked.
// The fields are repeated rather than flattened from `PatientFields`: serde loses the field
// name of a type error inside a flattened struct, and errors must name their field.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"site_id": 1, "legal_first_name": "Dana", "legal_last_name": "Example", "preferred_name": "Dee", "date_of_birth": "1988-04-12", "sex": "female", "pronouns": "she/her", "phone": "555-0142", "preferred_language": "English"}))]
pub struct NewPatient {
    /// Site registering the patient (see GET /sites).
    #[schema(value_type = i64, required = true)]
    pub site_id: Option<i64>,
    /// Register even though possible duplicates were reported (after checking them).
    #[serde(default)]
    pub confirm_new: bool,
    /// Legal first name.
    #[serde(default)]
    #[schema(required = true)]
    pub legal_first_name: String,
    /// Legal last name.
    #[serde(default)]
    #[schema(required = true)]
    pub legal_last_name: String,
    /// Name the patient goes by, if different.
    pub preferred_name: Option<String>,
    /// Date of birth, YYYY-MM-DD.
    #[serde(default)]
    #[schema(required = true, format = Date)]
    pub date_of_birth: String,
    /// Sex recorded at birth: female, male, intersex or unknown.
    #[serde(default)]
    #[schema(required = true, schema_with = super::codes::sex)]
    pub sex: String,
    /// Gender identity in the patient's words.
    pub gender_identity: Option<String>,
    /// Pronouns, e.g. "she/her".
    pub pronouns: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    /// Email address.
    pub email: Option<String>,
    /// Postal address, one line.
    pub address: Option<String>,
    /// Emergency contact's name.
    pub emergency_contact_name: Option<String>,
    /// Emergency contact's phone.
    pub emergency_contact_phone: Option<String>,
    /// Emergency contact's relationship to the patient.
    pub emergency_contact_relationship: Option<String>,
    /// Preferred language.
    pub preferred_language: Option<String>,
}

impl NewPatient {
    /// The demographic fields.
    fn fields(self) -> PatientFields {
        PatientFields {
            legal_first_name: self.legal_first_name,
            legal_last_name: self.legal_last_name,
            preferred_name: self.preferred_name,
            date_of_birth: self.date_of_birth,
            sex: self.sex,
            gender_identity: self.gender_identity,
            pronouns: self.pronouns,
            phone: self.phone,
            email: self.email,
            address: self.address,
            emergency_contact_name: self.emergency_contact_name,
            emergency_contact_phone: self.emergency_contact_phone,
            emergency_contact_relationship: self.emergency_contact_relationship,
            preferred_language: self.preferred_language,
        }
    }
}

/// A patient just registered.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PatientCreated {
    /// Id.
    pub id: i64,
    /// Medical record number.
    pub mrn: String,
}

/// An existing patient who may be the person being registered.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DuplicateCandidate {
    /// Existing patient's id.
    pub patient_id: i64,
    /// Their medical record number.
    pub mrn: String,
    /// Their legal name.
    pub name: String,
    /// Their date of birth.
    pub date_of_birth: NaiveDate,
}

/// Nothing was registered: these existing patients may be the same person. Open the existing
/// chart, or send the registration again with `confirm_new: true`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PossibleDuplicate {
    /// The error, with code possible_duplicate.
    pub error: ApiErrorDetail,
    /// The possible matches.
    pub candidates: Vec<DuplicateCandidate>,
}

/// Registers a patient, unless they may already be known.
#[utoipa::path(post, path = "/patients", tag = "patients",
    request_body = NewPatient,
    responses(
        (status = 201, description = "Registered", body = PatientCreated,
            headers(("Location" = String, description = "The new patient's URL"))),
        (status = 409, description = "Possible duplicates, or a site that does not exist; nothing \
            was registered", body = PossibleDuplicate),
        Unauthenticated, Forbidden, BadBody,
    ))]
pub async fn register_patient(
    State(state): State<AppState>,
    caller: ApiCaller,
    body: JsonBody<NewPatient>,
) -> Result<Response, ApiError> {
    let grant = state.store.grant::<can::EditDemographics>(&caller.actor)?;
    let new = body.parse()?;
    let today = state.today();
    let mut errors = Vec::new();
    if new.site_id.is_none() {
        errors.push(FieldError::new("site_id", "is required"));
    }
    let (site_id, confirm_new) = (new.site_id.unwrap_or_default(), new.confirm_new);
    let registration = new.fields().registration(today, errors)?;
    let outcome = state
        .store
        .register_patient(&grant, site_id, &registration, today, confirm_new)
        .await
        .map_err(super::contract::against_record(&["site_id"]))?;
    Ok(match outcome {
        RegisterOutcome::Created(id) => (
            StatusCode::CREATED,
            [(header::LOCATION, format!("/api/v1/patients/{id}"))],
            Json(PatientCreated { id, mrn: mrn(id) }),
        )
            .into_response(),
        RegisterOutcome::PossibleDuplicates(found) => {
            let body = PossibleDuplicate {
                error: ApiErrorDetail {
                    code: "possible_duplicate".into(),
                    message: "this may be a patient Trellis already knows; nothing was registered"
                        .into(),
                    fields: Vec::new(),
                },
                candidates: found
                    .into_iter()
                    .map(|c| DuplicateCandidate {
                        patient_id: c.patient_id,
                        mrn: c.mrn,
                        name: c.name,
                        date_of_birth: c.date_of_birth.0,
                    })
                    .collect(),
            };
            (StatusCode::CONFLICT, Json(body)).into_response()
        }
    })
}

/// A patient's demographic record.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Patient {
    /// Id.
    pub id: i64,
    /// Medical record number.
    pub mrn: String,
    /// Registration site.
    pub site_id: i64,
    /// Name to address the patient by.
    pub display_name: String,
    /// Legal first name.
    pub legal_first_name: String,
    /// Legal last name.
    pub legal_last_name: String,
    /// Preferred name.
    pub preferred_name: Option<String>,
    /// Date of birth.
    pub date_of_birth: NaiveDate,
    /// Age today.
    pub age: i32,
    /// Sex recorded at birth.
    #[schema(schema_with = super::codes::sex)]
    pub sex: String,
    /// Gender identity.
    pub gender_identity: Option<String>,
    /// Pronouns.
    pub pronouns: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Address.
    pub address: Option<String>,
    /// Emergency contact's name.
    pub emergency_contact_name: Option<String>,
    /// Emergency contact's phone.
    pub emergency_contact_phone: Option<String>,
    /// Emergency contact's relationship.
    pub emergency_contact_relationship: Option<String>,
    /// Preferred language.
    pub preferred_language: Option<String>,
    /// Registered at.
    pub created_at: DateTime<Utc>,
    /// Last changed at.
    pub updated_at: DateTime<Utc>,
}

/// One patient's demographics (the read is audited). Needs `read_demographics` for the patient.
/// The `ETag` names the version read: send it back as `If-Match` when changing them.
#[utoipa::path(get, path = "/patients/{id}", tag = "patients",
    params(("id" = i64, Path, description = "Patient id")),
    responses(
        (status = 200, description = "The patient", body = Patient,
            headers(("ETag" = String, description = "The version of the demographics read"))),
        Unauthenticated, Forbidden, NotFound,
    ))]
pub async fn get_patient(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
) -> Result<Response, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::ReadDemographics>(&caller.actor, id)
        .await?;
    let p = state.store.patient(&grant).await?;
    let version = etag(p.updated_at.0);
    let patient = Json(Patient {
        id: p.id,
        mrn: mrn(p.id),
        site_id: p.site_id,
        display_name: p.display_name(),
        age: age_on(p.date_of_birth.0, state.today()),
        legal_first_name: p.legal_first_name,
        legal_last_name: p.legal_last_name,
        preferred_name: p.preferred_name,
        date_of_birth: p.date_of_birth.0,
        sex: p.sex,
        gender_identity: p.gender_identity,
        pronouns: p.pronouns,
        phone: p.phone,
        email: p.email,
        address: p.address,
        emergency_contact_name: p.emergency_contact_name,
        emergency_contact_phone: p.emergency_contact_phone,
        emergency_contact_relationship: p.emergency_contact_relationship,
        preferred_language: p.preferred_language,
        created_at: p.created_at.0,
        updated_at: p.updated_at.0,
    });
    Ok(([(header::ETAG, version)], patient).into_response())
}

/// Replaces a patient's demographics (every field; omitted optional fields are cleared). Needs
/// `edit_demographics` for the patient. With `If-Match` (the `ETag` of a read) the change is
/// made only if nobody changed them since: else 412 and nothing is saved.
#[utoipa::path(put, path = "/patients/{id}", tag = "patients",
    params(("id" = i64, Path, description = "Patient id"),
        ("If-Match" = Option<String>, Header, description = "The ETag of the version read")),
    request_body = PatientFields,
    responses(
        (status = 204, description = "Saved"),
        Unauthenticated, Forbidden, NotFound, BadBody, Stale,
    ))]
pub async fn update_patient(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    if_match: IfMatch,
    body: JsonBody<PatientFields>,
) -> Result<StatusCode, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::EditDemographics>(&caller.actor, id)
        .await?;
    let today = state.today();
    let registration = body.parse()?.registration(today, Vec::new())?;
    let last_changed = if_match.last_changed("the patient's demographics")?;
    state
        .store
        .update_patient_if(&grant, &registration, today, last_changed)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
