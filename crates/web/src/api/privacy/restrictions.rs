//! Restriction requests, the patient notice, the date of death and the minor-consent rule.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use trellis_domain::consent::{
    InformationCategory, LiftGround, MinorConsentRule, NoticeAcknowledgment, RecipientKind,
    RestrictionDecision,
};
use trellis_domain::patient::FieldError;
use trellis_storage::access::can;
use trellis_storage::privacy::notices::NoticeRecord;
use trellis_storage::privacy::restrictions::{NewRestriction, RestrictionRecord};
use utoipa::openapi::schema::{Object, ObjectBuilder, Type};

use super::super::episodes::Created;
use super::super::extract::{JsonBody, PathId};
use super::super::paging::{PageQuery, Paged, Paging};
use super::super::responses::{BadBody, CreatedAt, Forbidden, NotFound, Unauthenticated};
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

fn recipient_class_schema() -> Object {
    one_of(RecipientKind::ALL.iter().map(|k| k.code()))
}

fn category_schema() -> Object {
    one_of(InformationCategory::ALL.iter().map(|c| c.code()))
}

fn decision_schema() -> Object {
    one_of(["agreed", "refused"])
}

fn acknowledgment_schema() -> Object {
    one_of(NoticeAcknowledgment::ALL.iter().map(|a| a.code()))
}

/// A restriction request and where it stands.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RestrictionView {
    /// Id.
    pub id: i64,
    /// The patient.
    pub patient_id: i64,
    /// What the patient asked, in their words.
    pub what: String,
    /// The day they asked.
    pub requested_on: NaiveDate,
    /// The directory entry it names, if any.
    pub recipient_id: Option<i64>,
    /// That entry's name.
    pub recipient_name: Option<String>,
    /// The recipient class it names, if any (neither: every recipient).
    pub recipient_class: Option<String>,
    /// Information category codes it covers (empty: all information).
    pub categories: Vec<String>,
    /// Services paid in full out of pocket, kept from the named health plan.
    pub self_pay: bool,
    /// pending, agreed or refused.
    pub decision: String,
    /// Whether it refuses the disclosures it covers now (agreed, or self-pay from the request).
    pub in_force: bool,
    /// The reason given for a refusal.
    pub reason: Option<String>,
    /// When it was recorded, and by whom.
    pub recorded_at: DateTime<Utc>,
    /// Who recorded it.
    pub recorded_by: String,
    /// When it was decided.
    pub decided_at: Option<DateTime<Utc>>,
    /// Who decided it.
    pub decided_by: Option<String>,
    /// How it was ended, once it was: patient_agreed or program_told (null while in force).
    pub lift_ground: Option<String>,
    /// The day the patient asked, agreed or was told.
    pub lifted_on: Option<NaiveDate>,
    /// What the patient was told.
    pub lift_reason: Option<String>,
    /// When the end was recorded.
    pub lifted_at: Option<DateTime<Utc>>,
    /// Who recorded it.
    pub lifted_by: Option<String>,
}

fn restriction_dto(r: RestrictionRecord) -> RestrictionView {
    RestrictionView {
        id: r.id,
        patient_id: r.patient_id,
        what: r.what,
        requested_on: r.requested_on,
        recipient_id: r.restriction.recipient_id,
        recipient_name: r.recipient_name,
        recipient_class: r.restriction.recipient_kind.map(|k| k.code().to_owned()),
        categories: r
            .restriction
            .categories
            .iter()
            .map(|c| c.code().to_owned())
            .collect(),
        self_pay: r.restriction.self_pay,
        decision: r.restriction.decision.code().to_owned(),
        in_force: r.in_force,
        reason: r.reason,
        recorded_at: r.recorded_at.0,
        recorded_by: r.recorded_by,
        decided_at: r.decided_at.map(|at| at.0),
        decided_by: r.decided_by,
        lift_ground: r
            .restriction
            .lifted
            .as_ref()
            .map(|l| l.ground.code().to_owned()),
        lifted_on: r.restriction.lifted.as_ref().map(|l| l.on),
        lift_reason: r.lift_reason,
        lifted_at: r.lifted_at.map(|at| at.0),
        lifted_by: r.lifted_by,
    }
}

/// A patient's request to restrict disclosures.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct RestrictionBody {
    /// What the patient asked, in their words (at most 2000 characters).
    #[serde(default)]
    #[schema(required = true, max_length = 2000)]
    pub what: String,
    /// YYYY-MM-DD, not in the future.
    #[serde(default)]
    #[schema(required = true, format = Date)]
    pub requested_on: String,
    /// The directory entry it names (required, a health plan, for a self-pay restriction).
    #[serde(default)]
    pub recipient_id: Option<i64>,
    /// The recipient class it names instead of one entry; neither means every recipient.
    #[serde(default)]
    #[schema(schema_with = recipient_class_schema)]
    pub recipient_class: Option<String>,
    /// Information category codes it covers; empty covers all information.
    #[serde(default)]
    #[schema(schema_with = category_list_schema)]
    pub categories: Vec<String>,
    /// The patient paid in full out of pocket and asks that the health plan not be told
    /// (§2.26(a)(6)): binds at once and cannot be refused.
    #[serde(default)]
    pub self_pay: bool,
}

fn category_list_schema() -> utoipa::openapi::schema::Array {
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(category_schema())
        .build()
}

/// Parses a restriction request's codes and date; the store checks the rest.
pub(crate) fn parse_restriction(
    b: RestrictionBody,
    errors: &mut Vec<FieldError>,
) -> NewRestriction {
    let requested_on = forms::date("requested_on", &b.requested_on, errors);
    let recipient_kind = b.recipient_class.as_deref().and_then(|c| {
        if c.trim().is_empty() {
            None
        } else {
            forms::code::<RecipientKind>(
                "recipient_class",
                c,
                "must be one of the directory's recipient classes",
                errors,
            )
        }
    });
    let categories = b
        .categories
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
    NewRestriction {
        what: b.what,
        requested_on,
        recipient_id: b.recipient_id,
        recipient_kind,
        categories,
        self_pay: b.self_pay,
    }
}

/// The patient's restriction requests, newest first (audited).
#[utoipa::path(get, path = "/patients/{id}/restrictions", tag = "confidentiality",
    params(PageQuery, ("id" = i64, Path, description = "Patient id")),
    responses(
        (status = 200, description = "Newest first", body = Vec<RestrictionView>,
            headers(("X-Total-Count" = i64, description = "How many entries the whole list has"))),
        Unauthenticated, Forbidden, NotFound,
    ))]
pub async fn list_restrictions(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    paging: Paging,
) -> Result<Paged<RestrictionView>, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::ManageConsents>(&caller.actor, id)
        .await?;
    let rows = state.store.restrictions(&grant).await?;
    Ok(paging.page(rows.into_iter().map(restriction_dto).collect()))
}

/// Records a patient's request to restrict disclosures (§2.26); the privacy officer decides
/// it. A self-pay restriction names a health plan from the directory and binds at once.
#[utoipa::path(post, path = "/patients/{id}/restrictions", tag = "confidentiality",
    params(("id" = i64, Path, description = "Patient id")),
    request_body = RestrictionBody,
    responses(
        (status = 201, description = "Recorded, waiting for the privacy officer", body = Created,
            headers(("Location" = String, description = "Where the new record is read: its own URL, or the list it appears in"))),
        Unauthenticated, Forbidden, NotFound, BadBody,
    ))]
pub async fn record_restriction(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    body: JsonBody<RestrictionBody>,
) -> Result<CreatedAt<Created>, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::ManageConsents>(&caller.actor, id)
        .await?;
    let mut errors = Vec::new();
    let new = parse_restriction(body.parse()?, &mut errors);
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors).into());
    }
    let rid = state.store.record_restriction(&grant, &new).await?;
    Ok(CreatedAt(
        format!("/api/v1/patients/{id}/restrictions"),
        Created { id: rid },
    ))
}

/// The privacy officer's decision on a restriction request.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct DecisionBody {
    /// agreed or refused.
    #[serde(default)]
    #[schema(required = true, schema_with = decision_schema)]
    pub decision: String,
    /// Why, for a refusal (required then; at most 2000 characters).
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub reason: String,
}

/// Parses a decision code: agreed or refused.
pub(crate) fn parse_decision(
    code: &str,
    errors: &mut Vec<FieldError>,
) -> Option<RestrictionDecision> {
    match code.trim().parse::<RestrictionDecision>() {
        Ok(d) if d != RestrictionDecision::Pending => Some(d),
        _ => {
            errors.push(FieldError::new("decision", "must be agreed or refused"));
            None
        }
    }
}

/// The privacy officer agrees to or refuses a request (audited). A refusal needs its reason; a
/// self-pay restriction to a health plan cannot be refused.
#[utoipa::path(post, path = "/restrictions/{id}/decision", tag = "confidentiality",
    params(("id" = i64, Path, description = "Restriction request id")),
    request_body = DecisionBody,
    responses(
        (status = 204, description = "Decided"),
        (status = 409, description = "Already decided (conflict)", body = ApiErrorBody),
        Unauthenticated, Forbidden, NotFound, BadBody,
    ))]
pub async fn decide_restriction(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    body: JsonBody<DecisionBody>,
) -> Result<StatusCode, ApiError> {
    let patient = state.store.restriction_patient_id(id).await?;
    let grant = state
        .store
        .patient_grant::<can::DecideRestrictions>(&caller.actor, patient)
        .await?;
    let body = body.parse()?;
    let mut errors = Vec::new();
    let Some(decision) = parse_decision(&body.decision, &mut errors) else {
        return Err(AppError::Invalid(errors).into());
    };
    state
        .store
        .decide_restriction(&grant, id, decision, &body.reason)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

fn lift_ground_schema() -> Object {
    one_of(LiftGround::ALL.iter().map(|g| g.code()))
}

/// The end of an agreed restriction (§2.26 with 45 CFR 164.522(a)(2)).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct LiftBody {
    /// patient_agreed (the patient asked for or agreed to the end: it ends for everything) or
    /// program_told (the program ended it and told the patient: it still covers what was
    /// created before; never for a self-pay restriction to a health plan).
    #[serde(default)]
    #[schema(required = true, schema_with = lift_ground_schema)]
    pub ground: String,
    /// The day the patient asked, agreed or was told (YYYY-MM-DD; not in the future, not before
    /// the request).
    #[serde(default)]
    #[schema(required = true, format = Date)]
    pub lifted_on: String,
    /// What the patient was told (required for program_told; at most 2000 characters).
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub reason: String,
}

/// Parses the end of a restriction: its ground and day (the store checks the rest).
pub(crate) fn parse_lift(
    ground: &str,
    lifted_on: &str,
    errors: &mut Vec<FieldError>,
) -> (Option<LiftGround>, Option<NaiveDate>) {
    let ground = forms::code::<LiftGround>(
        "ground",
        ground.trim(),
        "must be patient_agreed or program_told",
        errors,
    );
    let on = if lifted_on.trim().is_empty() {
        errors.push(FieldError::new("lifted_on", "is required"));
        None
    } else {
        forms::date("lifted_on", lifted_on.trim(), errors)
    };
    (ground, on)
}

/// Ends an agreed restriction (audited). With the patient's agreement it refuses nothing
/// more; ended by the program, telling the patient, it still refuses the disclosures it covers,
/// since they would carry information created before the patient was told; a self-pay
/// restriction to a health plan is never ended by the program alone.
#[utoipa::path(post, path = "/restrictions/{id}/lift", tag = "confidentiality",
    params(("id" = i64, Path, description = "Restriction request id")),
    request_body = LiftBody,
    responses(
        (status = 204, description = "Ended"),
        (status = 409, description = "Already ended (conflict)", body = ApiErrorBody),
        Unauthenticated, Forbidden, NotFound, BadBody,
    ))]
pub async fn lift_restriction(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    body: JsonBody<LiftBody>,
) -> Result<StatusCode, ApiError> {
    let patient = state.store.restriction_patient_id(id).await?;
    let grant = state
        .store
        .patient_grant::<can::DecideRestrictions>(&caller.actor, patient)
        .await?;
    let body = body.parse()?;
    let mut errors = Vec::new();
    let (ground, on) = parse_lift(&body.ground, &body.lifted_on, &mut errors);
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors).into());
    }
    state
        .store
        .lift_restriction(&grant, id, ground, on, &body.reason)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every request waiting for the privacy officer, oldest first (audited).
#[utoipa::path(get, path = "/restrictions/pending", tag = "confidentiality",
    params(PageQuery),
    responses(
        (status = 200, description = "Oldest first", body = Vec<RestrictionView>,
            headers(("X-Total-Count" = i64, description = "How many entries the whole list has"))),
        Unauthenticated, Forbidden,
    ))]
pub async fn pending_restrictions(
    State(state): State<AppState>,
    caller: ApiCaller,
    paging: Paging,
) -> Result<Paged<RestrictionView>, ApiError> {
    let grant = state
        .store
        .grant::<can::DecideRestrictions>(&caller.actor)?;
    let rows = state.store.pending_restrictions(&grant).await?;
    Ok(paging.page(rows.into_iter().map(restriction_dto).collect()))
}

/// A §2.22 notice given to the patient.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PatientNoticeView {
    /// Id.
    pub id: i64,
    /// The day it was given.
    pub given_on: NaiveDate,
    /// The notice's version.
    pub version: String,
    /// acknowledged or refused_to_sign.
    pub acknowledgment: String,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
    /// Who recorded it.
    pub recorded_by: String,
}

fn notice_dto(n: NoticeRecord) -> PatientNoticeView {
    PatientNoticeView {
        id: n.id,
        given_on: n.given_on,
        version: n.version,
        acknowledgment: n.acknowledgment.code().to_owned(),
        recorded_at: n.recorded_at.0,
        recorded_by: n.recorded_by,
    }
}

/// The notices given to the patient, newest first (audited).
#[utoipa::path(get, path = "/patients/{id}/patient-notices", tag = "confidentiality",
    params(PageQuery, ("id" = i64, Path, description = "Patient id")),
    responses(
        (status = 200, description = "Newest first", body = Vec<PatientNoticeView>,
            headers(("X-Total-Count" = i64, description = "How many entries the whole list has"))),
        Unauthenticated, Forbidden, NotFound,
    ))]
pub async fn list_patient_notices(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    paging: Paging,
) -> Result<Paged<PatientNoticeView>, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::ManageConsents>(&caller.actor, id)
        .await?;
    let rows = state.store.patient_notices(&grant).await?;
    Ok(paging.page(rows.into_iter().map(notice_dto).collect()))
}

/// The patient notice given.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct PatientNoticeBody {
    /// YYYY-MM-DD, not in the future.
    #[serde(default)]
    #[schema(required = true, format = Date)]
    pub given_on: String,
    /// acknowledged, or refused_to_sign.
    #[serde(default)]
    #[schema(required = true, schema_with = acknowledgment_schema)]
    pub acknowledgment: String,
}

/// Records that the patient was given the §2.22 notice in Trellis's current version, and whether
/// they acknowledged it (audited); completes the admission's notice task.
#[utoipa::path(post, path = "/patients/{id}/patient-notices", tag = "confidentiality",
    params(("id" = i64, Path, description = "Patient id")),
    request_body = PatientNoticeBody,
    responses(
        (status = 201, description = "Recorded", body = Created,
            headers(("Location" = String, description = "Where the new record is read: its own URL, or the list it appears in"))),
        Unauthenticated, Forbidden, NotFound, BadBody,
    ))]
pub async fn record_patient_notice(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    body: JsonBody<PatientNoticeBody>,
) -> Result<CreatedAt<Created>, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::ManageConsents>(&caller.actor, id)
        .await?;
    let body = body.parse()?;
    let mut errors = Vec::new();
    let given_on = forms::date("given_on", &body.given_on, &mut errors);
    let ack = forms::code::<NoticeAcknowledgment>(
        "acknowledgment",
        &body.acknowledgment,
        "must be acknowledged or refused_to_sign",
        &mut errors,
    );
    let (Some(given_on), Some(ack), true) = (given_on, ack, errors.is_empty()) else {
        return Err(AppError::Invalid(errors).into());
    };
    let nid = state
        .store
        .record_patient_notice(&grant, Some(given_on), ack)
        .await?;
    Ok(CreatedAt(
        format!("/api/v1/patients/{id}/patient-notices"),
        Created { id: nid },
    ))
}

/// The patient's recorded date of death.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DateOfDeathView {
    /// YYYY-MM-DD, or null when none is recorded.
    pub date_of_death: Option<NaiveDate>,
    /// Who recorded it.
    pub recorded_by: Option<String>,
    /// When.
    pub recorded_at: Option<DateTime<Utc>>,
}

/// The patient's date of death, if recorded (audited).
#[utoipa::path(get, path = "/patients/{id}/date-of-death", tag = "confidentiality",
    params(("id" = i64, Path, description = "Patient id")),
    responses(
        (status = 200, description = "The date, or nulls", body = DateOfDeathView),
        Unauthenticated, Forbidden, NotFound,
    ))]
pub async fn get_date_of_death(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
) -> Result<Json<DateOfDeathView>, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::ManageConsents>(&caller.actor, id)
        .await?;
    let found = state.store.date_of_death(&grant).await?;
    Ok(Json(DateOfDeathView {
        date_of_death: found.as_ref().map(|d| d.date_of_death),
        recorded_by: found.as_ref().map(|d| d.recorded_by.clone()),
        recorded_at: found.map(|d| d.recorded_at.0),
    }))
}

/// A date of death to record.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct DateOfDeathBody {
    /// YYYY-MM-DD: not in the future, not before the date of birth.
    #[serde(default)]
    #[schema(required = true, format = Date)]
    pub date_of_death: String,
}

/// Records the patient's date of death with who recorded it (audited): from then on only an
/// executor, administrator or next of kin may sign a consent for them (§2.15(b)).
#[utoipa::path(put, path = "/patients/{id}/date-of-death", tag = "confidentiality",
    params(("id" = i64, Path, description = "Patient id")),
    request_body = DateOfDeathBody,
    responses(
        (status = 204, description = "Recorded"),
        Unauthenticated, Forbidden, NotFound, BadBody,
    ))]
pub async fn record_date_of_death(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    body: JsonBody<DateOfDeathBody>,
) -> Result<StatusCode, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::ManageConsents>(&caller.actor, id)
        .await?;
    let mut errors = Vec::new();
    let Some(day) = forms::date("date_of_death", &body.parse()?.date_of_death, &mut errors) else {
        return Err(AppError::Invalid(errors).into());
    };
    state.store.record_date_of_death(&grant, Some(day)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A site's minor-consent rule, as the state's law reads (§2.14).
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MinorConsentView {
    /// The age of majority (16 to 21).
    #[schema(minimum = 16, maximum = 21)]
    pub age_of_majority: i32,
    /// The youngest age at which a minor may consent alone to SUD treatment (10 up to the age
    /// of majority), or null when a parent or guardian always co-signs.
    #[schema(minimum = 10, maximum = 20)]
    pub minor_may_consent_alone_from: Option<i32>,
}

/// States the rule between the two ages: a minor consents alone from an age below majority.
pub fn minor_consent_rules(object: &mut utoipa::openapi::schema::Object) {
    for majority in 16..=21 {
        super::super::contract::when(
            object,
            serde_json::json!({ "properties": { "age_of_majority": { "const": majority } } }),
            serde_json::json!({ "properties": {
                "minor_may_consent_alone_from": { "maximum": majority - 1 }
            } }),
        );
    }
}

/// The site's minor-consent rule (the cautious default when the site has set none).
#[utoipa::path(get, path = "/sites/{id}/minor-consent", tag = "confidentiality",
    params(("id" = i64, Path, description = "Site id")),
    responses(
        (status = 200, description = "The rule", body = MinorConsentView),
        Unauthenticated, Forbidden, NotFound,
    ))]
pub async fn get_minor_consent(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
) -> Result<Json<MinorConsentView>, ApiError> {
    state.store.grant::<can::ManageConsents>(&caller.actor)?;
    let rule = state.store.minor_consent_rule(id).await?;
    Ok(Json(MinorConsentView {
        age_of_majority: rule.age_of_majority,
        minor_may_consent_alone_from: rule.minor_may_consent_alone_from,
    }))
}

/// Sets the site's minor-consent rule (audited).
#[utoipa::path(put, path = "/sites/{id}/minor-consent", tag = "confidentiality",
    params(("id" = i64, Path, description = "Site id")),
    request_body = MinorConsentView,
    responses(
        (status = 204, description = "Saved"),
        Unauthenticated, Forbidden, NotFound, BadBody,
    ))]
pub async fn set_minor_consent(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    body: JsonBody<MinorConsentView>,
) -> Result<StatusCode, ApiError> {
    let grant = state.store.grant::<can::ManagePrograms>(&caller.actor)?;
    let body = body.parse()?;
    state
        .store
        .set_minor_consent_rule(
            &grant,
            id,
            &MinorConsentRule {
                age_of_majority: body.age_of_majority,
                minor_may_consent_alone_from: body.minor_may_consent_alone_from,
            },
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
