//! Payers and billing-provider settings over JSON. They hold no patient's record; every change
//! is audited by the store.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use trellis_domain::patient::FieldError;
use trellis_domain::revenue::payer::{validate_payer, ClaimType, PayerTerms, UnitDefinition};
use trellis_domain::revenue::provider::BillingProvider;
use trellis_storage::access::can;
use trellis_storage::revenue::payers::{PayerRecord, ProviderRecord};
use utoipa::openapi::schema::Object;

use crate::api::contract::{against_record, when};
use crate::api::episodes::Created;
use crate::api::extract::{JsonBody, PathId};
use crate::api::paging::{PageQuery, Paged, Paging};
use crate::api::responses::{BadBody, CreatedAt, Forbidden, NotFound, Unauthenticated};
use crate::error::{ApiError, ApiErrorBody, AppError};
use crate::forms;
use crate::identity::ApiCaller;
use crate::AppState;

/// A payer and its terms.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PayerView {
    /// Id, what a coverage's `payer_id` names.
    pub id: i64,
    /// The plan's name.
    pub name: String,
    /// The payer id claims are sent to.
    pub payer_code: String,
    /// professional (837P) or institutional (837I).
    #[schema(schema_with = crate::api::codes::claim_type)]
    pub claim_type: String,
    /// HCPCS code paid for SUD IOP.
    pub sud_procedure: String,
    /// HCPCS code paid for mental-health IOP.
    pub mh_procedure: String,
    /// Revenue code for SUD IOP on institutional claims.
    pub sud_revenue_code: Option<String>,
    /// Revenue code for mental-health IOP on institutional claims.
    pub mh_revenue_code: Option<String>,
    /// What one unit is.
    #[schema(schema_with = crate::api::codes::unit_definition)]
    pub unit: String,
    /// The per-diem rate in cents.
    pub rate_cents: i64,
    /// Minutes of service (breaks excluded) a billable day needs.
    pub minimum_minutes: i64,
    /// Whether days are billable only under an active prior authorisation.
    pub needs_prior_authorisation: bool,
    /// Days after the service within which a claim must reach the payer.
    pub timely_filing_days: i64,
    /// When it was retired, if it was.
    pub retired_at: Option<DateTime<Utc>>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
    /// Who last changed it.
    pub updated_by: String,
}

fn payer_dto(p: PayerRecord) -> PayerView {
    let t = p.terms;
    PayerView {
        id: p.id,
        name: t.name,
        payer_code: t.payer_code,
        claim_type: t.claim_type.code().to_owned(),
        sud_procedure: t.sud_procedure,
        mh_procedure: t.mh_procedure,
        sud_revenue_code: t.sud_revenue_code,
        mh_revenue_code: t.mh_revenue_code,
        unit: t.unit.code().to_owned(),
        rate_cents: t.rate_cents,
        minimum_minutes: t.minimum_minutes,
        needs_prior_authorisation: t.needs_prior_authorisation,
        timely_filing_days: t.timely_filing_days,
        retired_at: p.retired_at.map(|at| at.0),
        updated_at: p.updated_at.0,
        updated_by: p.updated_by,
    }
}

/// A payer to add, or its changed terms.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PayerBody {
    /// The plan's name (at most 200 characters).
    #[serde(default)]
    #[schema(required = true, max_length = 200)]
    pub name: String,
    /// The payer id claims are sent to: 2 to 80 letters, digits or dashes; unique among
    /// current payers (409 otherwise).
    #[serde(default)]
    #[schema(required = true, pattern = "^[A-Za-z0-9-]{2,80}$")]
    pub payer_code: String,
    /// professional (837P) or institutional (837I).
    #[serde(default)]
    #[schema(required = true, schema_with = crate::api::codes::claim_type)]
    pub claim_type: String,
    /// HCPCS code paid for SUD IOP (H0015 for most).
    #[serde(default)]
    #[schema(required = true, pattern = "^[A-Z0-9][0-9]{4}$")]
    pub sud_procedure: String,
    /// HCPCS code paid for mental-health IOP (S9480 for most).
    #[serde(default)]
    #[schema(required = true, pattern = "^[A-Z0-9][0-9]{4}$")]
    pub mh_procedure: String,
    /// Revenue code for SUD IOP (0906); required for institutional claims.
    #[serde(default)]
    #[schema(pattern = "^0[0-9]{3}$")]
    pub sud_revenue_code: Option<String>,
    /// Revenue code for mental-health IOP (0905); required for institutional claims.
    #[serde(default)]
    #[schema(pattern = "^0[0-9]{3}$")]
    pub mh_revenue_code: Option<String>,
    /// per_day, per_half_day or per_hour.
    #[serde(default)]
    #[schema(required = true, schema_with = crate::api::codes::unit_definition)]
    pub unit: String,
    /// The per-diem rate in cents, 1 to 10,000,000.
    #[serde(default)]
    #[schema(required = true, minimum = 1, maximum = 10_000_000)]
    pub rate_cents: i64,
    /// Minutes of service a billable day needs (180 for H0015), 1 to 720.
    #[serde(default)]
    #[schema(required = true, minimum = 1, maximum = 720)]
    pub minimum_minutes: i64,
    /// Whether days are billable only under an active prior authorisation.
    #[serde(default)]
    #[schema(required = true)]
    pub needs_prior_authorisation: bool,
    /// Timely filing limit in days, 1 to 730.
    #[serde(default)]
    #[schema(required = true, minimum = 1, maximum = 730)]
    pub timely_filing_days: i64,
    /// On a change: true retires the payer (no new coverages name it; cannot be undone).
    #[serde(default)]
    pub retired: bool,
}

/// Institutional claims carry revenue codes, so both are required for them.
pub fn payer_rules(object: &mut Object) {
    let code = serde_json::json!({ "type": "string" });
    when(
        object,
        serde_json::json!({ "required": ["claim_type"],
            "properties": { "claim_type": { "const": "institutional" } } }),
        serde_json::json!({ "required": ["sud_revenue_code", "mh_revenue_code"],
            "properties": { "sud_revenue_code": code, "mh_revenue_code": code } }),
    );
}

fn parse_payer(b: PayerBody) -> Result<(PayerTerms, bool), AppError> {
    let mut errors: Vec<FieldError> = Vec::new();
    let claim_type = forms::code::<ClaimType>(
        "claim_type",
        &b.claim_type,
        "must be professional or institutional",
        &mut errors,
    );
    let unit = forms::code::<UnitDefinition>(
        "unit",
        &b.unit,
        "must be per_day, per_half_day or per_hour",
        &mut errors,
    );
    let (Some(claim_type), Some(unit)) = (claim_type, unit) else {
        return Err(AppError::Invalid(errors));
    };
    let terms = PayerTerms {
        name: b.name,
        payer_code: b.payer_code,
        claim_type,
        sud_procedure: b.sud_procedure,
        mh_procedure: b.mh_procedure,
        sud_revenue_code: b.sud_revenue_code,
        mh_revenue_code: b.mh_revenue_code,
        unit,
        rate_cents: b.rate_cents,
        minimum_minutes: b.minimum_minutes,
        needs_prior_authorisation: b.needs_prior_authorisation,
        timely_filing_days: b.timely_filing_days,
    };
    let errors = validate_payer(&terms);
    if errors.is_empty() {
        Ok((terms, b.retired))
    } else {
        Err(AppError::Invalid(errors))
    }
}

/// Every payer, current ones first, by name.
#[utoipa::path(get, path = "/payers", tag = "revenue",
    params(PageQuery),
    responses(
        (status = 200, description = "Every payer", body = Vec<PayerView>,
            headers(("X-Total-Count" = i64, description = "How many payers the whole list has"))),
        Unauthenticated, Forbidden,
    ))]
pub async fn list_payers(
    State(state): State<AppState>,
    caller: ApiCaller,
    paging: Paging,
) -> Result<Paged<PayerView>, ApiError> {
    let grant = state.store.grant::<can::ReadBilling>(&caller.actor)?;
    let rows = state.store.payers(&grant).await?;
    Ok(paging.page(rows.into_iter().map(payer_dto).collect()))
}

/// One payer.
#[utoipa::path(get, path = "/payers/{id}", tag = "revenue",
    params(("id" = i64, Path, description = "Payer id")),
    responses(
        (status = 200, description = "The payer", body = PayerView),
        Unauthenticated, Forbidden, NotFound,
    ))]
pub async fn get_payer(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
) -> Result<Json<PayerView>, ApiError> {
    let grant = state.store.grant::<can::ReadBilling>(&caller.actor)?;
    Ok(Json(payer_dto(state.store.payer(&grant, id).await?)))
}

/// Adds a payer with its terms (audited).
#[utoipa::path(post, path = "/payers", tag = "revenue",
    request_body = PayerBody,
    responses(
        (status = 201, description = "Added", body = Created,
            headers(("Location" = String, description = "Where the new record is read: its own URL, or the list it appears in"))),
        (status = 409, description = "Another current payer has this payer id (conflict)", body = ApiErrorBody),
        Unauthenticated, Forbidden, BadBody,
    ))]
pub async fn add_payer(
    State(state): State<AppState>,
    caller: ApiCaller,
    body: JsonBody<PayerBody>,
) -> Result<CreatedAt<Created>, ApiError> {
    let grant = state.store.grant::<can::ManageBilling>(&caller.actor)?;
    let (terms, _) = parse_payer(body.parse()?)?;
    let id = state
        .store
        .add_payer(&grant, &terms)
        .await
        .map_err(against_record(&["payer_code"]))?;
    Ok(CreatedAt(format!("/api/v1/payers/{id}"), Created { id }))
}

/// Changes a payer's terms, or retires it (audited).
#[utoipa::path(put, path = "/payers/{id}", tag = "revenue",
    params(("id" = i64, Path, description = "Payer id")),
    request_body = PayerBody,
    responses(
        (status = 204, description = "Saved"),
        (status = 409, description = "The payer was retired, or another current payer has this payer id (conflict)", body = ApiErrorBody),
        Unauthenticated, Forbidden, NotFound, BadBody,
    ))]
pub async fn update_payer(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    body: JsonBody<PayerBody>,
) -> Result<StatusCode, ApiError> {
    let grant = state.store.grant::<can::ManageBilling>(&caller.actor)?;
    let (terms, retire) = parse_payer(body.parse()?)?;
    state
        .store
        .update_payer(&grant, id, &terms, retire)
        .await
        .map_err(against_record(&["payer_code"]))?;
    Ok(StatusCode::NO_CONTENT)
}

/// A site's billing-provider settings.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BillingProviderBody {
    /// The organisation's legal name (at most 200 characters).
    #[serde(default)]
    #[schema(required = true, max_length = 200)]
    pub legal_name: String,
    /// The organisation's NPI: ten digits, the last the Luhn check digit over the prefix 80840.
    #[serde(default)]
    #[schema(required = true, pattern = "^[0-9]{10}$")]
    pub npi: String,
    /// Employer identification number, nine digits (a dash after the second is accepted).
    #[serde(default)]
    #[schema(required = true, pattern = "^[0-9]{2}-?[0-9]{7}$")]
    pub tax_id: String,
    /// Health Care Provider Taxonomy code, e.g. 261QR0405X.
    #[serde(default)]
    #[schema(required = true, pattern = "^[0-9]{3}[0-9A-Z]{6}X$")]
    pub taxonomy: String,
    /// Street address (at most 200 characters).
    #[serde(default)]
    #[schema(required = true, max_length = 200)]
    pub address_line: String,
    /// City (at most 100 characters).
    #[serde(default)]
    #[schema(required = true, max_length = 100)]
    pub city: String,
    /// Two-letter state code.
    #[serde(default)]
    #[schema(required = true, pattern = "^[A-Z]{2}$")]
    pub state: String,
    /// ZIP code, five or nine digits.
    #[serde(default)]
    #[schema(required = true, pattern = "^[0-9]{5}(-?[0-9]{4})?$")]
    pub zip: String,
    /// Place-of-service code.
    #[serde(default)]
    #[schema(required = true, schema_with = crate::api::codes::place_of_service)]
    pub place_of_service: String,
}

/// A site's billing-provider settings as saved.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BillingProviderView {
    /// The site.
    pub site_id: i64,
    /// The settings.
    pub provider: BillingProviderBody,
    /// When they were last changed.
    pub updated_at: DateTime<Utc>,
    /// Who last changed them.
    pub updated_by: String,
}

fn provider_dto(p: ProviderRecord) -> BillingProviderView {
    let b = p.provider;
    BillingProviderView {
        site_id: p.site_id,
        provider: BillingProviderBody {
            legal_name: b.legal_name,
            npi: b.npi,
            tax_id: b.tax_id,
            taxonomy: b.taxonomy,
            address_line: b.address_line,
            city: b.city,
            state: b.state,
            zip: b.zip,
            place_of_service: b.place_of_service,
        },
        updated_at: p.updated_at.0,
        updated_by: p.updated_by,
    }
}

/// Every site's billing-provider settings that have been entered.
#[utoipa::path(get, path = "/billing-providers", tag = "revenue",
    params(PageQuery),
    responses(
        (status = 200, description = "The settings of each site that has them", body = Vec<BillingProviderView>,
            headers(("X-Total-Count" = i64, description = "How many sites have settings"))),
        Unauthenticated, Forbidden,
    ))]
pub async fn list_billing_providers(
    State(state): State<AppState>,
    caller: ApiCaller,
    paging: Paging,
) -> Result<Paged<BillingProviderView>, ApiError> {
    let grant = state.store.grant::<can::ReadBilling>(&caller.actor)?;
    let rows = state.store.billing_providers(&grant).await?;
    Ok(paging.page(rows.into_iter().map(provider_dto).collect()))
}

/// Saves a site's billing-provider settings, replacing what was there (audited). The NPI's
/// check digit is checked (422 `npi` when it does not match).
#[utoipa::path(put, path = "/sites/{id}/billing-provider", tag = "revenue",
    params(("id" = i64, Path, description = "Site id")),
    request_body = BillingProviderBody,
    responses(
        (status = 204, description = "Saved"),
        Unauthenticated, Forbidden, NotFound, BadBody,
    ))]
pub async fn set_billing_provider(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    body: JsonBody<BillingProviderBody>,
) -> Result<StatusCode, ApiError> {
    let grant = state.store.grant::<can::ManageBilling>(&caller.actor)?;
    let b = body.parse()?;
    let provider = BillingProvider {
        legal_name: b.legal_name,
        npi: b.npi,
        tax_id: b.tax_id,
        taxonomy: b.taxonomy,
        address_line: b.address_line,
        city: b.city,
        state: b.state,
        zip: b.zip,
        place_of_service: b.place_of_service,
    };
    // Checked before the site is looked up, so a refusal never depends on what is stored.
    trellis_domain::revenue::provider::validate_provider(&provider).map_err(AppError::Invalid)?;
    state
        .store
        .set_billing_provider(&grant, id, &provider)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
