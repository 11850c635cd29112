//! Disclosures without consent over JSON: court orders (42 CFR 2.61–2.67), qualified service
//! organisation, audit or evaluation and research agreements (§§2.11, 2.53, 2.52), and
//! disclosures made under them. The same store functions as the privacy officer's pages.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use trellis_domain::consent::{
    AuditBody, AuthorityKind, AuthorityProblem, BoardDetermination, CommunicationsGround,
    CourtDocument, CourtOrder, InformationCategory, OrderPurpose, Terms,
};
use trellis_domain::patient::FieldError;
use trellis_storage::access::can;
use trellis_storage::confidentiality::authorities::{
    AccessUnderAuthority, AuthorisedDisclosureInput, AuthorisedOutcome, AuthorityRecord,
    NewAuthority,
};
use utoipa::openapi::schema::{Array, ArrayBuilder, Object, ObjectBuilder, Type};

use super::super::confidentiality::{disclosure_dto, Disclosure, DisclosureRefused};
use super::super::contract::{against_record, when};
use super::super::episodes::Created;
use super::super::extract::{JsonBody, PathId};
use super::super::paging::{PageQuery, Paged, Paging};
use super::super::responses::{BadBody, CreatedAt, Forbidden, NotFound, Unauthenticated};
use crate::error::{ApiError, ApiErrorBody, AppError};
use crate::forms;
use crate::identity::ApiCaller;
use crate::AppState;

/// Fields whose refusal depends on what is stored (the directory, the patient, the order on
/// file), not on how the request is written.
const STORED: &[&str] = &["recipient_id", "patient_id", "authority_id"];

fn one_of(codes: impl IntoIterator<Item = &'static str>) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(codes))
        .build()
}

fn order_document_schema() -> Object {
    one_of([CourtDocument::Order.code()])
}

fn order_purpose_schema() -> Object {
    one_of(OrderPurpose::ALL.iter().map(|p| p.code()))
}

fn ground_schema() -> Object {
    one_of(CommunicationsGround::ALL.iter().map(|g| g.code()))
}

fn agreement_kind_schema() -> Object {
    one_of(
        AuthorityKind::ALL
            .iter()
            .filter(|k| **k != AuthorityKind::CourtOrder)
            .map(|k| k.code()),
    )
}

fn audit_body_schema() -> Object {
    one_of(AuditBody::ALL.iter().map(|b| b.code()))
}

fn determination_schema() -> Object {
    one_of(BoardDetermination::ALL.iter().map(|d| d.code()))
}

/// At least one category, never SUD counseling notes (they need a consent of their own).
fn authority_categories() -> Array {
    let mut categories = ArrayBuilder::new()
        .items(one_of(
            InformationCategory::ALL
                .iter()
                .filter(|c| **c != InformationCategory::CounselingNotes)
                .map(|c| c.code()),
        ))
        .build();
    categories.min_items = Some(1);
    categories
}

/// A court order about one patient, with the findings and limits the rule requires.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct CourtOrderBody {
    /// The patient the order is about.
    #[schema(required = true)]
    pub patient_id: Option<i64>,
    /// `order`. A subpoena alone never authorises disclosure (42 CFR 2.61) and is refused.
    #[serde(default)]
    #[schema(required = true, schema_with = order_document_schema)]
    pub document: String,
    /// The court (at most 1000 characters).
    #[serde(default)]
    #[schema(required = true, max_length = 1000)]
    pub court: String,
    /// The case or docket number (at most 1000 characters).
    #[serde(default)]
    #[schema(required = true, max_length = 1000)]
    pub case_number: String,
    /// Why it was ordered: §2.64, §2.65 (against the patient) or §2.66 (the program).
    #[serde(default)]
    #[schema(required = true, schema_with = order_purpose_schema)]
    pub purpose: String,
    /// §2.64(d)(1): other ways of obtaining the information are unavailable or ineffective
    /// (must be true).
    #[serde(default)]
    #[schema(required = true)]
    pub other_means_unavailable: bool,
    /// §2.64(d)(2): the public interest outweighs the injury to the patient, the relationship
    /// and the treatment services (must be true).
    #[serde(default)]
    #[schema(required = true)]
    pub public_interest_outweighs: bool,
    /// §2.65(d)(1): an extremely serious crime (true for an order against the patient).
    #[serde(default)]
    pub extremely_serious_crime: bool,
    /// §2.65(d)(2): information of substantial value is reasonably likely (true for an order
    /// against the patient).
    #[serde(default)]
    pub substantial_value: bool,
    /// §2.65(d)(5): the program could be represented by independent counsel (true for an order
    /// against the patient).
    #[serde(default)]
    pub program_heard: bool,
    /// §2.63(a): the ground on which it reaches confidential communications (required when the
    /// categories include assessments; extremely_serious_crime only for an order against the
    /// patient).
    #[serde(default)]
    #[schema(schema_with = ground_schema)]
    pub communications_ground: Option<String>,
    /// §2.64(e)(3): the protective measures ordered (at most 1000 characters).
    #[serde(default)]
    #[schema(required = true, max_length = 1000)]
    pub protective_measures: String,
    /// §2.64(e)(2): the directory entry the information may go to.
    #[schema(required = true)]
    pub recipient_id: Option<i64>,
    /// §2.64(e)(1): only these information categories.
    #[serde(default)]
    #[schema(required = true, schema_with = authority_categories)]
    pub categories: Vec<String>,
    /// The day the order was made (YYYY-MM-DD, not in the future).
    #[serde(default)]
    #[schema(required = true, format = Date)]
    pub dated_on: String,
    /// First day disclosures may be made under it.
    #[serde(default)]
    #[schema(required = true, format = Date)]
    pub starts_on: String,
    /// Last day (not before starts_on).
    #[serde(default)]
    #[schema(required = true, format = Date)]
    pub ends_on: String,
}

/// An agreement that lets the program disclose without consent: a QSO agreement, an audit or
/// evaluation agreement, or research approved or waived by a board.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct AgreementBody {
    /// qualified_service, audit_evaluation or research.
    #[serde(default)]
    #[schema(required = true, schema_with = agreement_kind_schema)]
    pub kind: String,
    /// The directory entry (for a QSO, of the program-operations class).
    #[schema(required = true)]
    pub recipient_id: Option<i64>,
    /// The information it allows.
    #[serde(default)]
    #[schema(required = true, schema_with = authority_categories)]
    pub categories: Vec<String>,
    /// The day it was signed (YYYY-MM-DD, not in the future).
    #[serde(default)]
    #[schema(required = true, format = Date)]
    pub dated_on: String,
    /// First day disclosures may be made under it.
    #[serde(default)]
    #[schema(required = true, format = Date)]
    pub starts_on: String,
    /// Last day (not before starts_on).
    #[serde(default)]
    #[schema(required = true, format = Date)]
    pub ends_on: String,
    /// The recipient's written undertaking (must be true): a QSO is bound by Part 2 and will
    /// resist judicial efforts to obtain the records; an auditor or researcher will not
    /// redisclose except as §2.53 or §2.52 allows.
    #[serde(default)]
    #[schema(required = true)]
    pub recipient_bound: bool,
    /// QSO: the services it provides (required then; at most 1000 characters).
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub services: String,
    /// Audit: who the auditor acts for (required then).
    #[serde(default)]
    #[schema(schema_with = audit_body_schema)]
    pub body: Option<String>,
    /// Audit: that body's name (required then; at most 1000 characters).
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub body_name: String,
    /// Audit: what it covers (required then; at most 1000 characters).
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub scope: String,
    /// Research: the IRB or privacy board (required then; at most 1000 characters).
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub board: String,
    /// Research: the day the board decided (required then; not in the future).
    #[serde(default)]
    #[schema(format = Date)]
    pub decided_on: Option<String>,
    /// Research: the protocol's number or title (required then; at most 1000 characters).
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub protocol: String,
    /// Research: approval or waiver (required then).
    #[serde(default)]
    #[schema(schema_with = determination_schema)]
    pub determination: Option<String>,
}

/// The findings every order needs, the stricter ones of §2.65, and the §2.63 grounds.
pub fn court_order_rules(object: &mut Object) {
    let yes = serde_json::json!({ "const": true });
    when(
        object,
        serde_json::json!({}),
        serde_json::json!({ "properties": {
            "other_means_unavailable": yes, "public_interest_outweighs": yes,
        } }),
    );
    when(
        object,
        serde_json::json!({ "required": ["purpose"],
            "properties": { "purpose": { "const": "criminal_case_against_patient" } } }),
        serde_json::json!({
            "required": ["extremely_serious_crime", "substantial_value", "program_heard"],
            "properties": {
                "extremely_serious_crime": yes, "substantial_value": yes, "program_heard": yes,
            },
        }),
    );
    when(
        object,
        serde_json::json!({ "required": ["categories"],
            "properties": { "categories": { "contains": { "const": "assessment" } } } }),
        serde_json::json!({ "required": ["communications_ground"],
            "properties": { "communications_ground": { "type": "string" } } }),
    );
    when(
        object,
        serde_json::json!({ "required": ["communications_ground"],
            "properties": { "communications_ground": { "const": "extremely_serious_crime" } } }),
        serde_json::json!({ "required": ["purpose"],
            "properties": { "purpose": { "const": "criminal_case_against_patient" } } }),
    );
}

/// The undertaking every agreement needs, and each kind's own fields.
pub fn agreement_rules(object: &mut Object) {
    let text = serde_json::json!({ "type": "string", "pattern": "\\S" });
    when(
        object,
        serde_json::json!({}),
        serde_json::json!({ "properties": { "recipient_bound": { "const": true } } }),
    );
    for (kind, fields) in [
        ("qualified_service", vec!["services"]),
        ("audit_evaluation", vec!["body", "body_name", "scope"]),
        (
            "research",
            vec!["board", "decided_on", "protocol", "determination"],
        ),
    ] {
        let properties: serde_json::Map<String, serde_json::Value> = fields
            .iter()
            .map(|f| ((*f).to_owned(), text.clone()))
            .collect();
        when(
            object,
            serde_json::json!({ "required": ["kind"], "properties": { "kind": { "const": kind } } }),
            serde_json::json!({ "required": fields, "properties": properties }),
        );
    }
}

/// A form's or body's fields, read the same way by the pages and the API.
pub(crate) trait Fields {
    /// A text field, trimmed ("" when absent).
    fn text(&self, key: &str) -> String;
    /// A yes/no field.
    fn flag(&self, key: &str) -> bool;
}

fn required_code<T: std::str::FromStr>(
    fields: &dyn Fields,
    key: &'static str,
    message: &str,
    errors: &mut Vec<FieldError>,
) -> Option<T> {
    forms::code::<T>(key, &fields.text(key), message, errors)
}

fn date_field(
    fields: &dyn Fields,
    key: &'static str,
    errors: &mut Vec<FieldError>,
) -> Option<NaiveDate> {
    let value = fields.text(key);
    if value.is_empty() {
        errors.push(FieldError::new(key, "is required"));
        None
    } else {
        forms::date(key, &value, errors)
    }
}

/// Reads a court order's or agreement's fields into what the store records (the store and the
/// domain check the rest).
pub(crate) fn parse_authority(
    kind: AuthorityKind,
    fields: &dyn Fields,
    categories: &[String],
    recipient_id: Option<i64>,
    errors: &mut Vec<FieldError>,
) -> Option<NewAuthority> {
    let terms = match kind {
        AuthorityKind::CourtOrder => {
            let ground = fields.text("communications_ground");
            let communications_ground = if ground.is_empty() {
                None
            } else {
                forms::code::<CommunicationsGround>(
                    "communications_ground",
                    &ground,
                    "must be one of the grounds of 42 CFR 2.63(a)",
                    errors,
                )
            };
            let document = required_code::<CourtDocument>(
                fields,
                "document",
                "must be order (a subpoena alone never authorises disclosure, 42 CFR 2.61)",
                errors,
            );
            // Said first and by itself: no finding turns a subpoena into an authority.
            if document == Some(CourtDocument::Subpoena) {
                errors.push(FieldError::new(
                    "document",
                    AuthorityProblem::SubpoenaAlone.to_string(),
                ));
            }
            let purpose = required_code::<OrderPurpose>(
                fields,
                "purpose",
                "choose why the court ordered it (42 CFR 2.64, 2.65 or 2.66)",
                errors,
            );
            Terms::CourtOrder(CourtOrder {
                document: document?,
                court: fields.text("court"),
                case_number: fields.text("case_number"),
                purpose: purpose?,
                other_means_unavailable: fields.flag("other_means_unavailable"),
                public_interest_outweighs: fields.flag("public_interest_outweighs"),
                extremely_serious_crime: fields.flag("extremely_serious_crime"),
                substantial_value: fields.flag("substantial_value"),
                program_heard: fields.flag("program_heard"),
                communications_ground,
                protective_measures: fields.text("protective_measures"),
            })
        }
        AuthorityKind::QualifiedService => Terms::QualifiedService {
            services: fields.text("services"),
        },
        AuthorityKind::AuditEvaluation => Terms::AuditEvaluation {
            body: required_code::<AuditBody>(
                fields,
                "body",
                "choose who the auditor or evaluator acts for",
                errors,
            )?,
            body_name: fields.text("body_name"),
            scope: fields.text("scope"),
        },
        AuthorityKind::Research => {
            let decided = fields.text("decided_on");
            let decided_on = if decided.is_empty() {
                None
            } else {
                forms::date("decided_on", &decided, errors)
            };
            Terms::Research {
                board: fields.text("board"),
                decided_on,
                protocol: fields.text("protocol"),
                determination: required_code::<BoardDetermination>(
                    fields,
                    "determination",
                    "choose approval or waiver",
                    errors,
                )?,
            }
        }
    };
    let categories: BTreeSet<InformationCategory> = categories
        .iter()
        .filter_map(|c| {
            forms::code::<InformationCategory>(
                "categories",
                c,
                "must be information category codes",
                errors,
            )
        })
        .collect();
    let dated_on = date_field(fields, "dated_on", errors);
    let starts_on = date_field(fields, "starts_on", errors);
    let ends_on = date_field(fields, "ends_on", errors);
    Some(NewAuthority {
        terms,
        recipient_id,
        categories,
        dated_on,
        starts_on,
        ends_on,
        recipient_bound: fields.flag("recipient_bound"),
    })
}

impl Fields for CourtOrderBody {
    fn text(&self, key: &str) -> String {
        match key {
            "document" => &self.document,
            "court" => &self.court,
            "case_number" => &self.case_number,
            "purpose" => &self.purpose,
            "communications_ground" => self.communications_ground.as_deref().unwrap_or(""),
            "protective_measures" => &self.protective_measures,
            "dated_on" => &self.dated_on,
            "starts_on" => &self.starts_on,
            "ends_on" => &self.ends_on,
            _ => "",
        }
        .trim()
        .to_owned()
    }

    fn flag(&self, key: &str) -> bool {
        match key {
            "other_means_unavailable" => self.other_means_unavailable,
            "public_interest_outweighs" => self.public_interest_outweighs,
            "extremely_serious_crime" => self.extremely_serious_crime,
            "substantial_value" => self.substantial_value,
            "program_heard" => self.program_heard,
            _ => false,
        }
    }
}

impl Fields for AgreementBody {
    fn text(&self, key: &str) -> String {
        match key {
            "services" => &self.services,
            "body" => self.body.as_deref().unwrap_or(""),
            "body_name" => &self.body_name,
            "scope" => &self.scope,
            "board" => &self.board,
            "decided_on" => self.decided_on.as_deref().unwrap_or(""),
            "protocol" => &self.protocol,
            "determination" => self.determination.as_deref().unwrap_or(""),
            "dated_on" => &self.dated_on,
            "starts_on" => &self.starts_on,
            "ends_on" => &self.ends_on,
            _ => "",
        }
        .trim()
        .to_owned()
    }

    fn flag(&self, key: &str) -> bool {
        key == "recipient_bound" && self.recipient_bound
    }
}

/// A court order or agreement on file.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuthorityView {
    /// Id.
    pub id: i64,
    /// court_order, qualified_service, audit_evaluation or research.
    pub kind: String,
    /// The patient a court order is about (none for agreements).
    pub patient_id: Option<i64>,
    /// The directory entry information may go to.
    pub recipient_id: i64,
    /// Its name.
    pub recipient_name: String,
    /// Information category codes it allows.
    pub categories: Vec<String>,
    /// The day the order was made or the agreement signed.
    pub dated_on: Option<NaiveDate>,
    /// First day of its period.
    pub starts_on: Option<NaiveDate>,
    /// Last day of its period.
    pub ends_on: Option<NaiveDate>,
    /// Whether today is within the period and it has not been ended.
    pub in_effect: bool,
    /// When it was ended early, if it was: it authorises nothing after.
    pub ended_at: Option<DateTime<Utc>>,
    /// Its corrections and early end, oldest first (on the one-record view; empty in lists).
    pub changes: Vec<AuthorityChangeView>,
    /// What goes with each packet in place of a consent's scope: the court and findings, or
    /// the agreement's terms.
    pub scope_summary: String,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
    /// Who recorded it.
    pub recorded_by: String,
}

/// A correction or early end, with why.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuthorityChangeView {
    /// correction or end.
    pub change: String,
    /// Why.
    pub reason: String,
    /// When.
    pub changed_at: DateTime<Utc>,
    /// By whom.
    pub changed_by: String,
}

/// One disclosure made under an order or agreement (ids and dates only).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AccessView {
    /// The disclosure (`GET /disclosures/{id}`).
    pub disclosure_id: i64,
    /// Whose records.
    pub patient_id: i64,
    /// When.
    pub disclosed_at: DateTime<Utc>,
    /// By whom.
    pub disclosed_by: String,
    /// Information category codes.
    pub categories: Vec<String>,
}

/// An order or agreement with every disclosure made under it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuthorityDetail {
    /// The order or agreement.
    pub authority: AuthorityView,
    /// The recipient's access under it, newest first.
    pub disclosures: Vec<AccessView>,
}

pub(crate) fn authority_dto(r: AuthorityRecord) -> AuthorityView {
    AuthorityView {
        id: r.id,
        kind: r.authority.kind().code().to_owned(),
        patient_id: r.patient_id,
        recipient_id: r.authority.recipient_id,
        scope_summary: r.authority.scope_summary(&r.recipient_name),
        recipient_name: r.recipient_name,
        categories: r
            .authority
            .categories
            .iter()
            .map(|c| c.code().to_owned())
            .collect(),
        dated_on: r.authority.dated_on,
        starts_on: r.authority.starts_on,
        ends_on: r.authority.ends_on,
        in_effect: r.in_effect,
        ended_at: r.authority.ended_at,
        changes: r
            .changes
            .into_iter()
            .map(|c| AuthorityChangeView {
                change: c.change,
                reason: c.reason,
                changed_at: c.changed_at.0,
                changed_by: c.changed_by,
            })
            .collect(),
        recorded_at: r.recorded_at.0,
        recorded_by: r.recorded_by,
    }
}

fn access_dto(a: AccessUnderAuthority) -> AccessView {
    AccessView {
        disclosure_id: a.disclosure_id,
        patient_id: a.patient_id,
        disclosed_at: a.disclosed_at.0,
        disclosed_by: a.disclosed_by,
        categories: a.categories,
    }
}

/// Records a court order about one patient after checking the findings of §§2.64–2.66, the
/// §2.63 grounds for confidential communications, and its limits (recipient, information,
/// period). A subpoena alone is refused (§2.61).
#[utoipa::path(post, path = "/court-orders", tag = "confidentiality",
    request_body = CourtOrderBody,
    responses(
        (status = 201, description = "Recorded", body = Created,
            headers(("Location" = String, description = "Where the new record is read: its own URL, or the list it appears in"))),
        (status = 409, description = "The patient or recipient is not on file (conflict)", body = ApiErrorBody),
        Unauthenticated, Forbidden, NotFound, BadBody,
    ))]
pub async fn record_court_order(
    State(state): State<AppState>,
    caller: ApiCaller,
    body: JsonBody<CourtOrderBody>,
) -> Result<CreatedAt<Created>, ApiError> {
    let grant = state
        .store
        .grant::<can::DiscloseWithoutConsent>(&caller.actor)?;
    let b = body.parse()?;
    let Some(patient_id) = b.patient_id else {
        return Err(AppError::Invalid(vec![FieldError::new("patient_id", "is required")]).into());
    };
    let patient = state
        .store
        .patient_grant::<can::DiscloseWithoutConsent>(&caller.actor, patient_id)
        .await?;
    let mut errors = Vec::new();
    let new = parse_authority(
        AuthorityKind::CourtOrder,
        &b,
        &b.categories,
        b.recipient_id,
        &mut errors,
    );
    let (Some(new), true) = (new, errors.is_empty()) else {
        return Err(AppError::Invalid(errors).into());
    };
    let id = state
        .store
        .record_authority(&grant, Some(&patient), &new)
        .await
        .map_err(against_record(STORED))?;
    Ok(CreatedAt(
        format!("/api/v1/disclosure-authorities/{id}"),
        Created { id },
    ))
}

/// Records a qualified service organisation, audit or evaluation, or research agreement, with
/// what the rule requires of each and the recipient's written undertaking.
#[utoipa::path(post, path = "/agreements", tag = "confidentiality",
    request_body = AgreementBody,
    responses(
        (status = 201, description = "Recorded", body = Created,
            headers(("Location" = String, description = "Where the new record is read: its own URL, or the list it appears in"))),
        (status = 409, description = "The recipient is not on file or not of the class the agreement needs (conflict)", body = ApiErrorBody),
        Unauthenticated, Forbidden, BadBody,
    ))]
pub async fn record_agreement(
    State(state): State<AppState>,
    caller: ApiCaller,
    body: JsonBody<AgreementBody>,
) -> Result<CreatedAt<Created>, ApiError> {
    let grant = state
        .store
        .grant::<can::DiscloseWithoutConsent>(&caller.actor)?;
    let b = body.parse()?;
    let mut errors = Vec::new();
    let kind = forms::code::<AuthorityKind>(
        "kind",
        &b.kind,
        "must be qualified_service, audit_evaluation or research",
        &mut errors,
    )
    .filter(|k| *k != AuthorityKind::CourtOrder);
    let Some(kind) = kind else {
        if errors.is_empty() {
            errors.push(FieldError::new(
                "kind",
                "must be qualified_service, audit_evaluation or research",
            ));
        }
        return Err(AppError::Invalid(errors).into());
    };
    let new = parse_authority(kind, &b, &b.categories, b.recipient_id, &mut errors);
    let (Some(new), true) = (new, errors.is_empty()) else {
        return Err(AppError::Invalid(errors).into());
    };
    let id = state
        .store
        .record_authority(&grant, None, &new)
        .await
        .map_err(against_record(STORED))?;
    Ok(CreatedAt(
        format!("/api/v1/disclosure-authorities/{id}"),
        Created { id },
    ))
}

/// Every court order and agreement, newest first (audited).
#[utoipa::path(get, path = "/disclosure-authorities", tag = "confidentiality",
    params(PageQuery),
    responses(
        (status = 200, description = "Newest first", body = Vec<AuthorityView>,
            headers(("X-Total-Count" = i64, description = "How many entries the whole list has"))),
        Unauthenticated, Forbidden,
    ))]
pub async fn list_authorities(
    State(state): State<AppState>,
    caller: ApiCaller,
    paging: Paging,
) -> Result<Paged<AuthorityView>, ApiError> {
    let grant = state
        .store
        .grant::<can::DiscloseWithoutConsent>(&caller.actor)?;
    let rows = state.store.authorities(&grant).await?;
    Ok(paging.page(rows.into_iter().map(authority_dto).collect()))
}

/// One order or agreement with every disclosure made under it: the auditor's, researcher's or
/// contractor's access, for the privacy officer (audited).
#[utoipa::path(get, path = "/disclosure-authorities/{id}", tag = "confidentiality",
    params(("id" = i64, Path, description = "Court order or agreement id")),
    responses(
        (status = 200, description = "The order or agreement and the disclosures under it", body = AuthorityDetail),
        Unauthenticated, Forbidden, NotFound,
    ))]
pub async fn get_authority(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
) -> Result<Json<AuthorityDetail>, ApiError> {
    let grant = state
        .store
        .grant::<can::DiscloseWithoutConsent>(&caller.actor)?;
    let (record, access) = state.store.authority(&grant, id).await?;
    Ok(Json(AuthorityDetail {
        authority: authority_dto(record),
        disclosures: access.into_iter().map(access_dto).collect(),
    }))
}

/// Why an order or agreement is ended early.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct EndAuthorityBody {
    /// Why (the court vacated the order, the agreement was terminated…); kept, sealed (at most
    /// 1000 characters).
    #[serde(default)]
    #[schema(required = true, min_length = 1, max_length = 1000)]
    pub reason: String,
}

/// Ends a court order or agreement before its last day, from now: it authorises nothing after
/// (disclosures under it are refused with `authority_ended`). The reason is kept (audited).
#[utoipa::path(post, path = "/disclosure-authorities/{id}/end", tag = "confidentiality",
    params(("id" = i64, Path, description = "Court order or agreement id")),
    request_body = EndAuthorityBody,
    responses(
        (status = 200, description = "Ended", body = AuthorityDetail),
        Unauthenticated, Forbidden, NotFound, BadBody,
    ))]
pub async fn end_authority(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    body: JsonBody<EndAuthorityBody>,
) -> Result<Json<AuthorityDetail>, ApiError> {
    let grant = state
        .store
        .grant::<can::DiscloseWithoutConsent>(&caller.actor)?;
    state.store.authority_kind(id).await?;
    let b = body.parse()?;
    state.store.end_authority(&grant, id, &b.reason).await?;
    let (record, access) = state.store.authority(&grant, id).await?;
    Ok(Json(AuthorityDetail {
        authority: authority_dto(record),
        disclosures: access.into_iter().map(access_dto).collect(),
    }))
}

/// A correction of an order or agreement: the whole record as it should read, and why.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct CorrectionBody {
    /// Why it is corrected (a misread date, a missed category…); kept, sealed, with the record
    /// as it stood (at most 1000 characters).
    #[serde(default)]
    #[schema(required = true, min_length = 1, max_length = 1000)]
    pub reason: String,
    /// For a court order: the order as it should read (its patient_id must stay the same).
    #[serde(default)]
    pub court_order: Option<CourtOrderBody>,
    /// For an agreement: the agreement as it should read (its kind must stay the same).
    #[serde(default)]
    pub agreement: Option<AgreementBody>,
}

/// Corrects a court order or agreement that is not ended: checked like a new one, same kind
/// and patient; the record as it stood and the reason are kept (audited). Disclosures already
/// made keep their packets.
#[utoipa::path(post, path = "/disclosure-authorities/{id}/corrections", tag = "confidentiality",
    params(("id" = i64, Path, description = "Court order or agreement id")),
    request_body = CorrectionBody,
    responses(
        (status = 200, description = "Corrected", body = AuthorityDetail),
        (status = 409, description = "The recipient is not on file or not of the class needed (conflict)", body = ApiErrorBody),
        Unauthenticated, Forbidden, NotFound, BadBody,
    ))]
pub async fn correct_authority(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    body: JsonBody<CorrectionBody>,
) -> Result<Json<AuthorityDetail>, ApiError> {
    let grant = state
        .store
        .grant::<can::DiscloseWithoutConsent>(&caller.actor)?;
    let (kind, patient_id) = state.store.authority_kind(id).await?;
    let b = body.parse()?;
    let mut errors = Vec::new();
    let new = match (kind, &b.court_order, &b.agreement) {
        (AuthorityKind::CourtOrder, Some(order), _) => {
            if order.patient_id != patient_id {
                errors.push(FieldError::new(
                    "court_order.patient_id",
                    "a correction keeps the order's patient; record a new order instead",
                ));
            }
            parse_authority(
                kind,
                order,
                &order.categories,
                order.recipient_id,
                &mut errors,
            )
        }
        (AuthorityKind::CourtOrder, None, _) => {
            errors.push(FieldError::new(
                "court_order",
                "give the court order as it should read",
            ));
            None
        }
        (_, _, Some(agreement)) => {
            if agreement.kind.trim() != kind.code() {
                errors.push(FieldError::new(
                    "agreement.kind",
                    format!(
                        "a correction keeps the kind ({}); record a new agreement instead",
                        kind.code()
                    ),
                ));
            }
            parse_authority(
                kind,
                agreement,
                &agreement.categories,
                agreement.recipient_id,
                &mut errors,
            )
        }
        (_, _, None) => {
            errors.push(FieldError::new(
                "agreement",
                "give the agreement as it should read",
            ));
            None
        }
    };
    let (Some(new), true) = (new, errors.is_empty()) else {
        return Err(AppError::Invalid(errors).into());
    };
    state
        .store
        .correct_authority(&grant, id, &new, &b.reason)
        .await
        .map_err(against_record(STORED))?;
    let (record, access) = state.store.authority(&grant, id).await?;
    Ok(Json(AuthorityDetail {
        authority: authority_dto(record),
        disclosures: access.into_iter().map(access_dto).collect(),
    }))
}

/// A disclosure under a court order or agreement.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct AuthorisedDisclosureBody {
    /// The court order or agreement (`GET /disclosure-authorities`).
    #[schema(required = true)]
    pub authority_id: Option<i64>,
    /// Information category codes to send (never counseling_notes).
    #[serde(default)]
    #[schema(required = true, schema_with = authority_categories)]
    pub categories: Vec<String>,
}

/// Discloses without consent under a court order (about this patient) or an agreement, to its
/// recipient, only the information it lists and only within its period; the packet carries the
/// §2.32 notice and the order's or agreement's terms and is in the accounting (`kind` the
/// authority's kind). A refusal names its reason. Both are audited.
#[utoipa::path(post, path = "/patients/{id}/authorised-disclosures", tag = "confidentiality",
    params(("id" = i64, Path, description = "Patient id")),
    request_body = AuthorisedDisclosureBody,
    responses(
        (status = 201, description = "Disclosed and recorded in the accounting", body = Disclosure,
            headers(("Location" = String, description = "Where the new record is read: its own URL, or the list it appears in"))),
        (status = 409, description = "Refused: outside the order or agreement (disclosure_refused, with the reason: subpoena_alone, different_recipient, information_not_covered, outside_period, different_patient, authority_ended), or it is not on file (conflict)", body = DisclosureRefused),
        Unauthenticated, Forbidden, NotFound, BadBody,
    ))]
pub async fn disclose_under_authority(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    body: JsonBody<AuthorisedDisclosureBody>,
) -> Result<Response, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::DiscloseWithoutConsent>(&caller.actor, id)
        .await?;
    let b = body.parse()?;
    let mut errors = Vec::new();
    if b.authority_id.is_none() {
        errors.push(FieldError::new("authority_id", "is required"));
    }
    if b.categories.is_empty() {
        errors.push(FieldError::new(
            "categories",
            "choose the information to disclose",
        ));
    }
    let categories = b
        .categories
        .iter()
        .filter_map(|c| {
            forms::code::<InformationCategory>(
                "categories",
                c,
                "must be information category codes",
                &mut errors,
            )
        })
        .collect();
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors).into());
    }
    let input = AuthorisedDisclosureInput {
        authority_id: b.authority_id,
        categories,
    };
    match state
        .store
        .disclose_under_authority(&grant, &input)
        .await
        .map_err(against_record(STORED))?
    {
        AuthorisedOutcome::Made(d) => {
            let location = format!("/api/v1/disclosures/{}", d.id);
            Ok(CreatedAt(location, disclosure_dto(*d)).into_response())
        }
        AuthorisedOutcome::Refused(refusal) => Ok((
            StatusCode::CONFLICT,
            Json(DisclosureRefused {
                error: ApiErrorBody::new("disclosure_refused", refusal.to_string(), Vec::new())
                    .error,
                reason: refusal.code().into(),
            }),
        )
            .into_response()),
    }
}
