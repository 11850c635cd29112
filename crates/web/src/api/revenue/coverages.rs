//! A patient's coverages and their eligibility checks over JSON. Every read and change is
//! audited under the patient by the store.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use trellis_domain::patient::FieldError;
use trellis_domain::revenue::coverage::{
    validate_coverage, CoverageRank, CoverageTerms, EligibilityMethod, EligibilityResult,
    SubscriberRelationship,
};
use trellis_storage::access::can;
use trellis_storage::revenue::coverages::{CoverageRecord, NewEligibilityCheck};
use utoipa::openapi::schema::Object;

use crate::api::contract::{against_record, when};
use crate::api::episodes::Created;
use crate::api::extract::{JsonBody, PathId, PathIds};
use crate::api::paging::{PageQuery, Paged, Paging};
use crate::api::responses::{BadBody, CreatedAt, Forbidden, NotFound, Unauthenticated};
use crate::error::{ApiError, ApiErrorBody, AppError};
use crate::forms;
use crate::identity::ApiCaller;
use crate::AppState;

/// An eligibility check as recorded.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EligibilityCheckView {
    /// Id.
    pub id: i64,
    /// The day it was checked.
    pub checked_on: NaiveDate,
    /// How it was checked.
    #[schema(schema_with = crate::api::codes::eligibility_method)]
    pub method: String,
    /// What it found.
    #[schema(schema_with = crate::api::codes::eligibility_result)]
    pub result: String,
    /// The payer's reference number or whom billing spoke to.
    pub reference: String,
    /// Who recorded it.
    pub checked_by: String,
}

/// A coverage with its eligibility checks, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CoverageView {
    /// Id.
    pub id: i64,
    /// primary, secondary or self_pay.
    #[schema(schema_with = crate::api::codes::coverage_rank)]
    pub rank: String,
    /// The payer (none for self-pay).
    pub payer_id: Option<i64>,
    /// The payer's name (none for self-pay).
    pub payer_name: Option<String>,
    /// The patient's relationship to the subscriber.
    #[schema(schema_with = crate::api::codes::subscriber_relationship)]
    pub relationship: String,
    /// The subscriber's name when it is not the patient (empty otherwise).
    pub subscriber_name: String,
    /// The member id on the card (empty for self-pay).
    pub member_id: String,
    /// The group number on the card (may be empty).
    pub group_number: String,
    /// First day in force.
    pub effective_from: NaiveDate,
    /// Last day in force, if it ends.
    pub effective_to: Option<NaiveDate>,
    /// Eligibility checks, newest first.
    pub checks: Vec<EligibilityCheckView>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
    /// Who last changed it.
    pub updated_by: String,
}

fn dto(c: CoverageRecord) -> CoverageView {
    let t = c.terms;
    CoverageView {
        id: c.id,
        rank: t.rank.code().to_owned(),
        payer_id: t.payer_id,
        payer_name: c.payer_name,
        relationship: t.relationship.code().to_owned(),
        subscriber_name: t.subscriber_name,
        member_id: t.member_id,
        group_number: t.group_number,
        effective_from: t.effective_from,
        effective_to: t.effective_to,
        checks: c
            .checks
            .into_iter()
            .map(|e| EligibilityCheckView {
                id: e.id,
                checked_on: e.checked_on,
                method: e.method.code().to_owned(),
                result: e.result.code().to_owned(),
                reference: e.reference,
                checked_by: e.checked_by,
            })
            .collect(),
        updated_at: c.updated_at.0,
        updated_by: c.updated_by,
    }
}

/// A coverage to add, or its corrected terms.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CoverageBody {
    /// primary, secondary or self_pay.
    #[serde(default)]
    #[schema(required = true, schema_with = crate::api::codes::coverage_rank)]
    pub rank: String,
    /// The payer (a current one, 409 otherwise); required unless self-pay, absent for self-pay.
    #[serde(default)]
    #[schema(minimum = 1)]
    pub payer_id: Option<i64>,
    /// The patient's relationship to the subscriber.
    #[serde(default)]
    #[schema(required = true, schema_with = crate::api::codes::subscriber_relationship)]
    pub relationship: String,
    /// The subscriber's name; required when the relationship is not `self` (unless self-pay).
    #[serde(default)]
    #[schema(max_length = 200)]
    pub subscriber_name: String,
    /// The member id on the card: letters, digits or dashes; required unless self-pay.
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z0-9-]{0,80}$")]
    pub member_id: String,
    /// The group number on the card, if any.
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z0-9-]{0,80}$")]
    pub group_number: String,
    /// YYYY-MM-DD, first day in force.
    #[serde(default)]
    #[schema(required = true, format = Date)]
    pub effective_from: String,
    /// YYYY-MM-DD, last day in force (on or after the first), if it ends.
    #[serde(default)]
    #[schema(format = Date)]
    pub effective_to: Option<String>,
}

/// Self-pay names no plan; a plan needs its member id; a dependant needs the subscriber's name.
pub fn coverage_rules(object: &mut Object) {
    let self_pay = serde_json::json!({ "required": ["rank"],
        "properties": { "rank": { "const": "self_pay" } } });
    when(
        object,
        self_pay.clone(),
        serde_json::json!({ "properties": { "payer_id": { "type": "null" } } }),
    );
    when(
        object,
        serde_json::json!({ "not": self_pay.clone() }),
        serde_json::json!({ "required": ["payer_id", "member_id"],
            "properties": { "payer_id": { "type": "integer" },
                "member_id": { "minLength": 1 } } }),
    );
    when(
        object,
        serde_json::json!({ "allOf": [{ "not": self_pay }, { "required": ["relationship"],
            "properties": { "relationship": { "not": { "const": "self" } } } }] }),
        serde_json::json!({ "required": ["subscriber_name"],
            "properties": { "subscriber_name": { "pattern": "\\S" } } }),
    );
}

fn parse_coverage(b: CoverageBody) -> Result<CoverageTerms, AppError> {
    let mut errors: Vec<FieldError> = Vec::new();
    let rank = forms::code::<CoverageRank>(
        "rank",
        &b.rank,
        "must be primary, secondary or self_pay",
        &mut errors,
    );
    let relationship = forms::code::<SubscriberRelationship>(
        "relationship",
        &b.relationship,
        "must be self, spouse, child or other",
        &mut errors,
    );
    let from = forms::date("effective_from", &b.effective_from, &mut errors);
    let to = match b.effective_to.as_deref().map(str::trim) {
        Some(to) if !to.is_empty() => forms::date("effective_to", to, &mut errors),
        _ => None,
    };
    let (Some(rank), Some(relationship), Some(effective_from)) = (rank, relationship, from) else {
        return Err(AppError::Invalid(errors));
    };
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors));
    }
    let terms = CoverageTerms {
        rank,
        payer_id: b.payer_id,
        relationship,
        subscriber_name: b.subscriber_name,
        member_id: b.member_id,
        group_number: b.group_number,
        effective_from,
        effective_to: to,
    };
    let errors = validate_coverage(&terms);
    if errors.is_empty() {
        Ok(terms)
    } else {
        Err(AppError::Invalid(errors))
    }
}

/// The patient's coverages, each with its eligibility checks (audited).
#[utoipa::path(get, path = "/patients/{id}/coverages", tag = "revenue",
    params(("id" = i64, Path, description = "Patient id"), PageQuery),
    responses(
        (status = 200, description = "The patient's coverages", body = Vec<CoverageView>,
            headers(("X-Total-Count" = i64, description = "How many coverages the patient has"))),
        Unauthenticated, Forbidden, NotFound,
    ))]
pub async fn list_coverages(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    paging: Paging,
) -> Result<Paged<CoverageView>, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::ReadBilling>(&caller.actor, id)
        .await?;
    let rows = state.store.coverages(&grant).await?;
    Ok(paging.page(rows.into_iter().map(dto).collect()))
}

/// Adds a coverage to the patient's record (audited).
#[utoipa::path(post, path = "/patients/{id}/coverages", tag = "revenue",
    params(("id" = i64, Path, description = "Patient id")),
    request_body = CoverageBody,
    responses(
        (status = 201, description = "Added", body = Created,
            headers(("Location" = String, description = "Where the new record is read: its own URL, or the list it appears in"))),
        (status = 409, description = "The payer is not on file or was retired (conflict)", body = ApiErrorBody),
        Unauthenticated, Forbidden, NotFound, BadBody,
    ))]
pub async fn add_coverage(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    body: JsonBody<CoverageBody>,
) -> Result<CreatedAt<Created>, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::ManageBilling>(&caller.actor, id)
        .await?;
    let terms = parse_coverage(body.parse()?)?;
    let coverage = state
        .store
        .add_coverage(&grant, &terms)
        .await
        .map_err(against_record(&["payer_id"]))?;
    Ok(CreatedAt(
        format!("/api/v1/patients/{id}/coverages"),
        Created { id: coverage },
    ))
}

/// Corrects one of the patient's coverages, or ends it by giving its last day (audited).
#[utoipa::path(put, path = "/patients/{id}/coverages/{coverage}", tag = "revenue",
    params(("id" = i64, Path, description = "Patient id"),
        ("coverage" = i64, Path, description = "Coverage id")),
    request_body = CoverageBody,
    responses(
        (status = 204, description = "Saved"),
        (status = 409, description = "The payer is not on file or was retired (conflict)", body = ApiErrorBody),
        Unauthenticated, Forbidden, NotFound, BadBody,
    ))]
pub async fn update_coverage(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathIds(id, coverage): PathIds,
    body: JsonBody<CoverageBody>,
) -> Result<StatusCode, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::ManageBilling>(&caller.actor, id)
        .await?;
    let terms = parse_coverage(body.parse()?)?;
    state
        .store
        .update_coverage(&grant, coverage, &terms)
        .await
        .map_err(against_record(&["payer_id"]))?;
    Ok(StatusCode::NO_CONTENT)
}

/// An eligibility check to record.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct EligibilityCheckBody {
    /// YYYY-MM-DD, the day it was checked (not in the future).
    #[serde(default)]
    #[schema(required = true, format = Date)]
    pub checked_on: String,
    /// How it was checked.
    #[serde(default)]
    #[schema(required = true, schema_with = crate::api::codes::eligibility_method)]
    pub method: String,
    /// What it found.
    #[serde(default)]
    #[schema(required = true, schema_with = crate::api::codes::eligibility_result)]
    pub result: String,
    /// The payer's reference number or whom billing spoke to (at most 200 characters).
    #[serde(default)]
    #[schema(max_length = 200)]
    pub reference: String,
}

/// Records an eligibility check on one of the patient's coverages (audited).
#[utoipa::path(post, path = "/patients/{id}/coverages/{coverage}/eligibility-checks", tag = "revenue",
    params(("id" = i64, Path, description = "Patient id"),
        ("coverage" = i64, Path, description = "Coverage id")),
    request_body = EligibilityCheckBody,
    responses(
        (status = 201, description = "Recorded", body = Created,
            headers(("Location" = String, description = "Where the new record is read: its own URL, or the list it appears in"))),
        Unauthenticated, Forbidden, NotFound, BadBody,
    ))]
pub async fn record_eligibility_check(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathIds(id, coverage): PathIds,
    body: JsonBody<EligibilityCheckBody>,
) -> Result<CreatedAt<Created>, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::ManageBilling>(&caller.actor, id)
        .await?;
    let b = body.parse()?;
    let mut errors = Vec::new();
    let checked_on = forms::date("checked_on", &b.checked_on, &mut errors);
    let method = forms::code::<EligibilityMethod>(
        "method",
        &b.method,
        "must be portal, phone or x12_271",
        &mut errors,
    );
    let result = forms::code::<EligibilityResult>(
        "result",
        &b.result,
        "must be active, inactive or not_confirmed",
        &mut errors,
    );
    let (Some(checked_on), Some(method), Some(result)) = (checked_on, method, result) else {
        return Err(AppError::Invalid(errors).into());
    };
    let check = state
        .store
        .record_eligibility_check(
            &grant,
            coverage,
            &NewEligibilityCheck {
                checked_on,
                method,
                result,
                reference: b.reference,
            },
            state.today(),
        )
        .await?;
    Ok(CreatedAt(
        format!("/api/v1/patients/{id}/coverages"),
        Created { id: check },
    ))
}
