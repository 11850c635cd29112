//! 42 CFR Part 2 over JSON: consents, the one consent-checked disclosure path, the accounting
//! of disclosures, emergency (break-the-glass) access, the privacy report and collateral
//! contacts. Every handler calls the same store function as the Consents & disclosures tab.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use trellis_domain::consent::{
    CollateralAllowance, CollateralRelationship, CriminalJustice, CriminalJusticeCondition,
    EmergencyGround, Expiry, InformationCategory, Purpose, Recipient, RecipientClass, Revocability,
    SignerAuthority, TPO_GENERIC_RECIPIENTS,
};
use trellis_domain::patient::FieldError;
use trellis_storage::access::can;
use trellis_storage::collaterals::{CollateralRecord, NewCollateral};
use trellis_storage::confidentiality::{
    ConsentRecord, DisclosureInput, DisclosureOutcome, DisclosureRecord, EmergencyAccess,
    EmergencyDisclosureInput, NewConsent, PacketDetail, WrittenRevocation,
};

use super::episodes::Created;
use super::extract::{ApiQuery, JsonBody, PathId};
use super::paging::{PageQuery, Paged, Paging};
use super::responses::CreatedAt;
use super::responses::{BadBody, BadQuery, Forbidden, NotFound, Stale, Unauthenticated};
use super::versions::{etag, IfMatch};
use crate::error::{ApiError, ApiErrorBody, ApiErrorDetail, AppError};
use crate::forms;
use crate::identity::ApiCaller;
use crate::AppState;

/// A consent's recipient.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConsentRecipient {
    /// named, class or tpo (the generic treatment, payment and operations description).
    pub kind: String,
    /// The recipient as the consent words it.
    pub description: String,
    /// The class code, for a class recipient.
    pub class: Option<String>,
}

/// A consent with every §2.31(a) element and its state now.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConsentView {
    /// Id.
    pub id: i64,
    /// active, expired, revoked or pending (signed for a later date).
    pub state: String,
    /// (a)(1) The patient's name.
    pub patient_name: String,
    /// (a)(2) Who may disclose.
    pub disclosing_program: String,
    /// (a)(3) Information category codes.
    pub categories: Vec<String>,
    /// (a)(3) Further description of the information.
    pub information_description: String,
    /// (a)(4) Recipients.
    pub recipients: Vec<ConsentRecipient>,
    /// (a)(5) Purpose codes.
    pub purposes: Vec<String>,
    /// (a)(5) The purpose in words, for "other".
    pub other_purpose: String,
    /// (a)(4) HIPAA redisclosure statement (TPO consents).
    pub redisclosure_statement: String,
    /// (a)(6) Right to revoke and how.
    pub revocation_statement: String,
    /// (a)(7) Expiry, in words.
    pub expiry: String,
    /// (a)(8) Who signed.
    pub signer_name: Option<String>,
    /// (a)(8) Their relationship to the patient when not the patient.
    pub signer_relationship: Option<String>,
    /// On what authority they signed (42 CFR 2.14, 2.15); empty on consents recorded before
    /// Trellis asked.
    pub signer_authority: Option<String>,
    /// A parent or guardian signed with the minor.
    pub minor_also_signed: bool,
    /// The document appointing a personal representative.
    pub court_document: Option<String>,
    /// (a)(8) When the electronic signature was made.
    pub signed_at: Option<DateTime<Utc>>,
    /// (a)(9) Date signed.
    pub signed_on: Option<NaiveDate>,
    /// When a revocation took effect.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Who recorded the revocation.
    pub revoked_by: Option<String>,
    /// The day the patient's written revocation was received.
    pub revocation_received_on: Option<NaiveDate>,
    /// The written revocation's text, as kept.
    pub revocation_text: Option<String>,
    /// The scope statement sent with disclosures made under it.
    pub scope: String,
    /// The collateral contact it names, if linked to one.
    pub collateral_id: Option<i64>,
    /// The 42 CFR 2.35 elements, on a criminal justice consent (revocable_on or
    /// revocable_event says when it becomes revocable).
    pub criminal_justice: Option<CriminalJusticeBody>,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
    /// Who recorded it.
    pub recorded_by: String,
    /// The printable form (a staff page).
    pub print_url: String,
}

fn consent_view(patient_id: i64, r: ConsentRecord) -> ConsentView {
    let c = r.consent;
    ConsentView {
        id: r.id,
        state: r.state.into(),
        patient_name: c.patient_name,
        disclosing_program: c.disclosing_program,
        categories: c.categories.iter().map(|c| c.code().to_owned()).collect(),
        information_description: c.information_description,
        recipients: c
            .recipients
            .iter()
            .map(|rc| match rc {
                Recipient::Named { name } => ConsentRecipient {
                    kind: "named".into(),
                    description: name.clone(),
                    class: None,
                },
                Recipient::Class { class, description } => ConsentRecipient {
                    kind: "class".into(),
                    description: description.clone(),
                    class: Some(class.code().into()),
                },
                Recipient::TpoGeneric { description } => ConsentRecipient {
                    kind: "tpo".into(),
                    description: description.clone(),
                    class: None,
                },
            })
            .collect(),
        purposes: c.purposes.iter().map(|p| p.code().to_owned()).collect(),
        other_purpose: c.other_purpose,
        redisclosure_statement: c.redisclosure_statement,
        revocation_statement: c.revocation_statement,
        expiry: c
            .expiry
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        signer_name: c.signature.as_ref().map(|s| s.signer_name.clone()),
        signer_relationship: c.signature.as_ref().and_then(|s| s.relationship.clone()),
        signer_authority: r.signer.as_ref().map(|s| s.authority.code().to_owned()),
        minor_also_signed: r.signer.as_ref().is_some_and(|s| s.minor_also_signed),
        court_document: r.signer.and_then(|s| s.court_document),
        signed_at: c.signature.as_ref().map(|s| s.signed_at),
        signed_on: c.signed_on,
        revoked_at: c.revocation.as_ref().map(|rv| rv.revoked_at),
        revoked_by: c.revocation.map(|rv| rv.recorded_by),
        revocation_received_on: r.written_revocation.as_ref().map(|w| w.received_on),
        revocation_text: r.written_revocation.map(|w| w.text),
        scope: r.scope,
        collateral_id: r.collateral_id,
        criminal_justice: c.criminal_justice.map(|cj| CriminalJusticeBody {
            condition: cj.condition.code().to_owned(),
            monitoring_duty: cj.monitoring_duty,
            duration_statement: cj.duration_statement,
            revocable_on: match &cj.revocable {
                Some(Revocability::OnDate { date }) => Some(date.to_string()),
                _ => None,
            },
            revocable_event: match cj.revocable {
                Some(Revocability::Event { description }) => Some(description),
                _ => None,
            },
            no_later_than_final_disposition: cj.no_later_than_final_disposition,
        }),
        recorded_at: r.recorded_at.0,
        recorded_by: r.recorded_by,
        print_url: format!("/patients/{patient_id}/consents/{}", r.id),
    }
}

/// The patient's consents, newest first, each with its state now (the read is audited).
#[utoipa::path(get, path = "/patients/{id}/consents", tag = "confidentiality",
    params(PageQuery, ("id" = i64, Path, description = "Patient id")),
    responses(
        (status = 200, description = "The consents", body = Vec<ConsentView>,
            headers(("X-Total-Count" = i64, description = "How many entries the whole list has"))),
        Unauthenticated, Forbidden, NotFound,
    ))]
pub async fn list_consents(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    paging: Paging,
) -> Result<Paged<ConsentView>, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::ManageConsents>(&caller.actor, id)
        .await?;
    let records = state.store.consents(&grant).await?;
    Ok(paging.page(records.into_iter().map(|r| consent_view(id, r)).collect()))
}

/// A signed consent with every §2.31(a) element, as on the consent form.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewConsentBody {
    /// (a)(2) Who may disclose: this program, by name.
    #[serde(default)]
    #[schema(required = true)]
    pub disclosing_program: String,
    /// (a)(3) Information category codes: demographics, attendance, assessment, diagnoses,
    /// medications, drug_screens, treatment_plan, progress_summary, discharge_summary,
    /// measure_scores, billing, counseling_notes.
    #[serde(default)]
    #[schema(required = true, schema_with = super::codes::information_categories)]
    pub categories: Vec<String>,
    /// (a)(3) Further description of the information.
    #[serde(default)]
    pub information_description: String,
    /// (a)(4) named, class or tpo.
    #[serde(default)]
    #[schema(required = true)]
    pub recipient_kind: String,
    /// The recipient's name, for named (the legal record; defaults to the linked collateral
    /// contact's name and organisation).
    #[serde(default)]
    pub recipient_name: String,
    /// The class code, for class: treating_providers, health_plans, program_operations.
    #[serde(default)]
    pub recipient_class: String,
    /// A collateral contact of the patient this consent names.
    pub collateral_id: Option<i64>,
    /// For a consent to disclose to the criminal justice system that made treatment a
    /// condition of a disposition or release (42 CFR 2.35): its extra elements. Then every
    /// recipient is named, no purpose is TPO, and the revocation statement says when it
    /// becomes revocable.
    #[serde(default)]
    pub criminal_justice: Option<CriminalJusticeBody>,
    /// (a)(5) Purpose codes: treatment, payment, operations, patient_request, legal,
    /// employment, other.
    #[serde(default)]
    #[schema(required = true)]
    pub purposes: Vec<String>,
    /// (a)(5) The purpose in words, when "other".
    #[serde(default)]
    pub other_purpose: String,
    /// (a)(4) HIPAA redisclosure statement (required on TPO consents).
    #[serde(default)]
    pub redisclosure_statement: String,
    /// (a)(6) Right to revoke and how.
    #[serde(default)]
    #[schema(required = true)]
    pub revocation_statement: String,
    /// (a)(7) date, event, end_of_treatment (TPO only) or none (TPO only).
    #[serde(default)]
    #[schema(required = true)]
    pub expiry_kind: String,
    /// The last day in effect, YYYY-MM-DD, for date.
    #[serde(default)]
    #[schema(format = Date)]
    pub expiry_date: String,
    /// The event, for event.
    #[serde(default)]
    pub expiry_event: String,
    /// (a)(8) The signer's typed full name (the electronic signature; the time is recorded).
    #[serde(default)]
    #[schema(required = true)]
    pub signer_name: String,
    /// (a)(8) Relationship to the patient, when someone else signs.
    #[serde(default)]
    pub signer_relationship: String,
    /// On what authority the signer signs (42 CFR 2.14, 2.15): the patient (a minor too, where
    /// the site's rule lets the minor consent alone), a parent or guardian of a minor, a
    /// personal representative, or for a patient whose date of death is recorded an executor or
    /// administrator or next of kin.
    #[serde(default)]
    #[schema(required = true, schema_with = super::codes::signer_authority)]
    pub signer_authority: String,
    /// For parent_or_guardian: the minor signed too (must be true: 42 CFR 2.14(c) needs both).
    #[serde(default)]
    pub minor_also_signed: bool,
    /// For personal_representative: the court order or document appointing them.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub court_document: String,
    /// (a)(9) Date signed, YYYY-MM-DD, not in the future.
    #[serde(default)]
    #[schema(required = true, format = Date)]
    pub signed_on: String,
}

fn code_set<T: std::str::FromStr + Ord>(
    field: &'static str,
    values: &[String],
    errors: &mut Vec<FieldError>,
) -> BTreeSet<T> {
    let mut out = BTreeSet::new();
    for v in values {
        match v.trim().parse() {
            Ok(c) => {
                out.insert(c);
            }
            Err(_) => errors.push(FieldError::new(field, "unknown code")),
        }
    }
    out
}

/// Records a signed consent after checking every §2.31(a) element (the same checks as the form).
#[utoipa::path(post, path = "/patients/{id}/consents", tag = "confidentiality",
    params(("id" = i64, Path, description = "Patient id")),
    request_body = NewConsentBody,
    responses(
        (status = 201, description = "Recorded", body = Created,
            headers(("Location" = String, description = "Where the new record is read: its own URL, or the list it appears in"))),
        (status = 409, description = "The signer may not sign for this patient as the record \
            stands (their age under the site's minor-consent rule, or the recorded date of \
            death); the field is signer_authority", body = ApiErrorBody),
        Unauthenticated, Forbidden, NotFound, BadBody,
    ))]
pub async fn record_consent(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    body: JsonBody<NewConsentBody>,
) -> Result<CreatedAt<Created>, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::ManageConsents>(&caller.actor, id)
        .await?;
    let b = body.parse()?;
    let mut errors = Vec::new();
    let categories = code_set("categories", &b.categories, &mut errors);
    let purposes = code_set("purposes", &b.purposes, &mut errors);
    let mut recipient_name = b.recipient_name.trim().to_owned();
    if recipient_name.is_empty() && b.recipient_kind.trim() == "named" {
        if let Some(collateral) = b.collateral_id {
            let contacts = state.store.collaterals(&grant).await?;
            if let Some(c) = contacts.iter().find(|c| c.id == collateral) {
                recipient_name = c.recipient_label();
            }
        }
    }
    let recipients = match b.recipient_kind.trim() {
        "tpo" => vec![Recipient::TpoGeneric {
            description: TPO_GENERIC_RECIPIENTS.into(),
        }],
        "class" => forms::code::<RecipientClass>(
            "recipient_class",
            &b.recipient_class,
            "must be treating_providers, health_plans or program_operations",
            &mut errors,
        )
        .map(|class| Recipient::Class {
            class,
            description: class.label().into(),
        })
        .into_iter()
        .collect(),
        "named" if recipient_name.is_empty() => Vec::new(),
        "named" => vec![Recipient::Named {
            name: recipient_name,
        }],
        _ => {
            errors.push(FieldError::new(
                "recipient_kind",
                "must be named, class or tpo",
            ));
            Vec::new()
        }
    };
    let expiry = match b.expiry_kind.trim() {
        "date" => forms::date("expiry_date", &b.expiry_date, &mut errors)
            .map(|date| Expiry::OnDate { date }),
        "event" => Some(Expiry::Event {
            description: b.expiry_event.trim().to_owned(),
            occurred_at: None,
        }),
        "end_of_treatment" => Some(Expiry::EndOfTreatment { ended_at: None }),
        "none" => Some(Expiry::NoExpiry),
        "" => None,
        _ => {
            errors.push(FieldError::new(
                "expiry_kind",
                "must be date, event, end_of_treatment or none",
            ));
            None
        }
    };
    let signed_on = forms::date("signed_on", &b.signed_on, &mut errors);
    // Named here when missing, so the store's refusals of this field are the record's (409).
    let signer_authority = forms::code::<SignerAuthority>(
        "signer_authority",
        &b.signer_authority,
        "must be patient, parent_or_guardian, personal_representative, \
         executor_or_administrator or next_of_kin",
        &mut errors,
    );
    let new = NewConsent {
        disclosing_program: b.disclosing_program,
        categories,
        information_description: b.information_description,
        recipients,
        purposes,
        other_purpose: b.other_purpose,
        redisclosure_statement: b.redisclosure_statement,
        revocation_statement: b.revocation_statement,
        expiry,
        signer_name: b.signer_name,
        signer_relationship: Some(b.signer_relationship.trim().to_owned())
            .filter(|r| !r.is_empty()),
        signer_authority,
        minor_also_signed: b.minor_also_signed,
        court_document: b.court_document,
        signed_on,
        collateral_id: b.collateral_id,
        criminal_justice: b
            .criminal_justice
            .as_ref()
            .and_then(|cj| parse_criminal_justice(cj, &mut errors)),
    };
    // As on the form: unreadable fields first, then the store names every missing element.
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors).into());
    }
    let consent = state
        .store
        .record_consent(&grant, &new)
        .await
        .map_err(super::contract::against_record(&["signer_authority"]))?;
    Ok(CreatedAt(
        format!("/api/v1/consents/{consent}"),
        Created { id: consent },
    ))
}

/// One consent laid out with every element, for printing (the read is audited). Its `ETag`
/// names the version read, for a revocation's `If-Match`.
#[utoipa::path(get, path = "/consents/{id}", tag = "confidentiality",
    params(("id" = i64, Path, description = "Consent id")),
    responses(
        (status = 200, description = "The consent", body = ConsentView,
            headers(("ETag" = String, description = "The version read, for If-Match"))),
        Unauthenticated, Forbidden, NotFound,
    ))]
pub async fn get_consent(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
) -> Result<Response, ApiError> {
    let patient = state.store.consent_patient_id(id).await?;
    let grant = state
        .store
        .patient_grant::<can::ManageConsents>(&caller.actor, patient)
        .await?;
    let record = state
        .store
        .consents(&grant)
        .await?
        .into_iter()
        .find(|r| r.id == id)
        .ok_or(AppError::NotFound("consent"))?;
    let version = etag(record.last_changed().0);
    Ok((
        [(header::ETAG, version)],
        Json(consent_view(patient, record)),
    )
        .into_response())
}

fn condition_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(CriminalJusticeCondition::ALL.iter().map(|c| c.code())))
        .build()
}

/// The elements 42 CFR 2.35 adds to a consent.
#[derive(Debug, Default, Deserialize, Serialize, utoipa::ToSchema)]
pub struct CriminalJusticeBody {
    /// disposition (of criminal proceedings) or release (parole or other release from custody).
    #[serde(default)]
    #[schema(required = true, schema_with = condition_schema)]
    pub condition: String,
    /// §2.35(a)(1): the recipients' duty to monitor the patient's progress (1–1000 characters).
    #[serde(default)]
    #[schema(required = true, min_length = 1, max_length = 1000)]
    pub monitoring_duty: String,
    /// §2.35(b): how long it remains in effect and why that is reasonable (1–1000 characters).
    #[serde(default)]
    #[schema(required = true, min_length = 1, max_length = 1000)]
    pub duration_statement: String,
    /// §2.35(c): the first day it may be revoked (YYYY-MM-DD, not before signing); or give
    /// revocable_event.
    #[serde(default)]
    #[schema(format = Date)]
    pub revocable_on: Option<String>,
    /// §2.35(c): the ascertainable event after which it may be revoked (e.g. the final
    /// disposition; at most 300 characters); or give revocable_on.
    #[serde(default)]
    #[schema(max_length = 300)]
    pub revocable_event: Option<String>,
    /// Must be true: that day or event is no later than the final disposition (§2.35(c)).
    #[serde(default)]
    #[schema(required = true)]
    pub no_later_than_final_disposition: bool,
}

/// Reads the §2.35 elements (the domain checks them with the rest of the consent).
pub(crate) fn parse_criminal_justice(
    b: &CriminalJusticeBody,
    errors: &mut Vec<FieldError>,
) -> Option<CriminalJustice> {
    let condition = forms::code::<CriminalJusticeCondition>(
        "condition",
        b.condition.trim(),
        "must be disposition or release",
        errors,
    );
    let on = b.revocable_on.as_deref().map(str::trim).unwrap_or("");
    let event = b.revocable_event.as_deref().map(str::trim).unwrap_or("");
    let revocable = match (on.is_empty(), event.is_empty()) {
        (false, true) => {
            forms::date("revocable_on", on, errors).map(|date| Revocability::OnDate { date })
        }
        (true, false) => Some(Revocability::Event {
            description: event.to_owned(),
        }),
        (false, false) => {
            errors.push(FieldError::new(
                "revocable_on",
                "give a day or an event, not both",
            ));
            None
        }
        // Named missing by the domain, with the rest.
        (true, true) => None,
    };
    Some(CriminalJustice {
        condition: condition?,
        monitoring_duty: b.monitoring_duty.clone(),
        duration_statement: b.duration_statement.clone(),
        revocable,
        no_later_than_final_disposition: b.no_later_than_final_disposition,
    })
}

/// The patient's written revocation (§2.31(a)(6)), kept with the consent.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct RevokeBody {
    /// Must be true: the patient revoked the consent in writing.
    #[schema(required = true, schema_with = super::codes::confirmed)]
    pub in_writing: Option<bool>,
    /// The day the program received the written revocation, YYYY-MM-DD (not in the future, not
    /// before the consent was signed).
    #[serde(default)]
    #[schema(required = true, format = Date)]
    pub received_on: String,
    /// The text of the written revocation (1–5000 characters).
    #[serde(default)]
    #[schema(required = true, min_length = 1, max_length = 5000)]
    pub revocation_text: String,
    /// For a 42 CFR 2.35 consent revocable after an event: the day it happened (required then;
    /// not in the future, not after received_on).
    #[serde(default)]
    #[schema(format = Date)]
    pub event_on: Option<String>,
}

/// Records the patient's written revocation: the consent covers no disclosure from now on. With
/// `If-Match` (the `ETag` of a read) it is recorded only if the consent has not changed since:
/// else 412 and nothing is recorded.
#[utoipa::path(post, path = "/consents/{id}/revoke", tag = "confidentiality",
    params(("id" = i64, Path, description = "Consent id"),
        ("If-Match" = Option<String>, Header, description = "The ETag of the version read")),
    request_body = RevokeBody,
    responses(
        (status = 204, description = "Revoked"),
        (status = 409, description = "Already revoked", body = ApiErrorBody),
        Unauthenticated, Forbidden, NotFound, BadBody, Stale,
    ))]
pub async fn revoke_consent(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    if_match: IfMatch,
    body: JsonBody<RevokeBody>,
) -> Result<StatusCode, ApiError> {
    let patient = state.store.consent_patient_id(id).await?;
    let grant = state
        .store
        .patient_grant::<can::ManageConsents>(&caller.actor, patient)
        .await?;
    let body = body.parse()?;
    let mut errors = Vec::new();
    if body.in_writing != Some(true) {
        errors.push(FieldError::new(
            "in_writing",
            "confirm that the patient revoked the consent in writing",
        ));
    }
    let received_on = forms::date("received_on", &body.received_on, &mut errors);
    let event_on = match body.event_on.as_deref().map(str::trim) {
        Some(day) if !day.is_empty() => forms::date("event_on", day, &mut errors),
        _ => None,
    };
    let Some(received_on) = received_on.filter(|_| errors.is_empty()) else {
        return Err(AppError::Invalid(errors).into());
    };
    let written = WrittenRevocation {
        received_on,
        text: body.revocation_text,
        event_on,
    };
    let last_changed = if_match.last_changed("the consent")?;
    state
        .store
        .revoke_consent_if(&grant, id, &written, last_changed)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The day a consent's expiry event happened.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ExpiryEventBody {
    /// YYYY-MM-DD: not in the future, not before the consent was signed. The consent covers
    /// nothing from the start of that day.
    #[serde(default)]
    #[schema(required = true, format = Date)]
    pub occurred_on: String,
}

/// Records that the event a consent expires on has happened (§2.31(a)(7)).
#[utoipa::path(post, path = "/consents/{id}/expiry-event", tag = "confidentiality",
    params(("id" = i64, Path, description = "Consent id")),
    request_body = ExpiryEventBody,
    responses(
        (status = 204, description = "Recorded: the consent is expired from that day"),
        (status = 409, description = "The event is already recorded", body = ApiErrorBody),
        Unauthenticated, Forbidden, NotFound, BadBody,
    ))]
pub async fn record_expiry_event(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    body: JsonBody<ExpiryEventBody>,
) -> Result<StatusCode, ApiError> {
    let patient = state.store.consent_patient_id(id).await?;
    let grant = state
        .store
        .patient_grant::<can::ManageConsents>(&caller.actor, patient)
        .await?;
    let mut errors = Vec::new();
    let Some(on) = forms::date("occurred_on", &body.parse()?.occurred_on, &mut errors) else {
        return Err(AppError::Invalid(errors).into());
    };
    state.store.record_expiry_event(&grant, id, on).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One section of a disclosure packet.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PacketSection {
    /// The information category.
    pub heading: String,
    /// The record's lines, as disclosed.
    pub lines: Vec<String>,
}

/// The four §2.51 facts of an emergency disclosure.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EmergencyFacts {
    /// medical_emergency, declared_disaster or fda_product_error.
    pub ground: String,
    /// Medical personnel who received the information.
    pub recipient_name: String,
    /// Their facility.
    pub recipient_facility: String,
    /// Who disclosed.
    pub disclosed_by: String,
    /// When.
    pub disclosed_at: Option<DateTime<Utc>>,
    /// The nature of the emergency.
    pub nature: String,
}

/// What was sent: the record, the §2.32 notice and the consent's scope.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Packet {
    /// Patient name.
    pub patient_name: String,
    /// The record, by category.
    pub sections: Vec<PacketSection>,
    /// The §2.32 statement chosen at the time, word for word.
    pub notice: String,
    /// The rule text the notice reproduces (empty on packets made before it was stamped).
    pub notice_version: String,
    /// A clear explanation of the consent's scope.
    pub consent_scope: String,
    /// For an emergency disclosure.
    pub emergency: Option<EmergencyFacts>,
}

/// One entry of the accounting of disclosures, with its packet.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Disclosure {
    /// Id.
    pub id: i64,
    /// Patient.
    pub patient_id: i64,
    /// The consent it was made under (none for an emergency).
    pub consent_id: Option<i64>,
    /// consent or emergency.
    pub kind: String,
    /// Purpose code, or emergency.
    pub purpose: String,
    /// Category labels.
    pub categories: Vec<String>,
    /// To whom.
    pub recipient: String,
    /// When.
    pub disclosed_at: DateTime<Utc>,
    /// By whom.
    pub disclosed_by: String,
    /// What was sent.
    pub packet: Packet,
}

fn ground_code(ground: EmergencyGround) -> String {
    serde_json::to_value(ground)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

pub(crate) fn disclosure_dto(d: DisclosureRecord) -> Disclosure {
    let p = d.packet;
    Disclosure {
        id: d.id,
        patient_id: d.patient_id,
        consent_id: d.consent_id,
        kind: d.kind,
        purpose: d.purpose,
        categories: d.categories,
        recipient: d.recipient,
        disclosed_at: d.disclosed_at.0,
        disclosed_by: d.disclosed_by,
        packet: Packet {
            patient_name: p.patient_name,
            sections: p
                .sections
                .into_iter()
                .map(|s| PacketSection {
                    heading: s.heading,
                    lines: s.lines,
                })
                .collect(),
            notice: p.notice,
            notice_version: p.notice_version,
            consent_scope: p.consent_scope,
            emergency: p.emergency.map(|e| EmergencyFacts {
                ground: ground_code(e.ground),
                recipient_name: e.recipient_name,
                recipient_facility: e.recipient_facility,
                disclosed_by: e.disclosed_by,
                disclosed_at: e.disclosed_at,
                nature: e.nature,
            }),
        },
    }
}

/// A proposed disclosure.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct DisclosureBody {
    /// The recipient: an entry of the recipient directory (`GET /recipients`), whose class the
    /// privacy officer set. A class cannot be given here.
    #[schema(required = true)]
    pub recipient_id: Option<i64>,
    /// Purpose code: treatment, payment, operations, patient_request, legal, employment, other.
    #[serde(default)]
    #[schema(required = true)]
    pub purpose: String,
    /// The purpose in words, when "other".
    #[serde(default)]
    pub purpose_detail: String,
    /// Information category codes to send.
    #[serde(default)]
    #[schema(required = true, schema_with = super::codes::information_categories)]
    pub categories: Vec<String>,
    /// With progress_summary: add the text of each signed progress note (otherwise only their
    /// dates, services and minutes leave).
    #[serde(default)]
    pub include_note_text: bool,
    /// With assessment: add the placement rules' reasons for the recommended level (otherwise
    /// only the ratings and levels leave).
    #[serde(default)]
    pub include_recommendation_wording: bool,
}

/// At least one information category.
fn patient_copy_categories() -> utoipa::openapi::schema::Array {
    let mut categories = super::codes::information_categories();
    categories.min_items = Some(1);
    categories
}

/// A copy of the record for the patient.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PatientCopyBody {
    /// Information category codes to copy, at least one (not counseling_notes).
    #[serde(default)]
    #[schema(required = true, schema_with = patient_copy_categories)]
    pub categories: Vec<String>,
}

/// Makes a copy of the chosen information for the patient (right of access: 42 CFR 2.23, 45 CFR
/// 164.524). No consent is needed; the copy leaves by the same path as every other, with the
/// notice, and is in the accounting (`kind` patient_access). SUD counseling notes are refused.
#[utoipa::path(post, path = "/patients/{id}/patient-copies", tag = "confidentiality",
    params(("id" = i64, Path, description = "Patient id")),
    request_body = PatientCopyBody,
    responses(
        (status = 201, description = "Copied and recorded in the accounting", body = Disclosure,
            headers(("Location" = String, description = "Where the new record is read: its own URL, or the list it appears in"))),
        Unauthenticated, Forbidden, NotFound, BadBody,
    ))]
pub async fn copy_for_patient(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    body: JsonBody<PatientCopyBody>,
) -> Result<Response, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::Disclose>(&caller.actor, id)
        .await?;
    let b = body.parse()?;
    let mut errors = Vec::new();
    let categories: BTreeSet<InformationCategory> =
        code_set("categories", &b.categories, &mut errors);
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors).into());
    }
    let d = state.store.copy_for_patient(&grant, &categories).await?;
    let location = format!("/api/v1/disclosures/{}", d.id);
    Ok(CreatedAt(location, disclosure_dto(d)).into_response())
}

/// A refused disclosure: nothing was sent, and the refusal is in the audit log.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DisclosureRefused {
    /// code disclosure_refused, the reason in words.
    pub error: ApiErrorDetail,
    /// Stable reason: no_consent_on_file, consent_expired, consent_revoked,
    /// consent_not_yet_in_effect, consent_incomplete, different_recipient, different_purpose,
    /// information_not_covered, proceedings_against_patient, recipient_beyond_tpo,
    /// restricted_by_patient, recipient_not_identified, nothing_requested.
    pub reason: String,
}

/// Discloses through the one consent-checked path: a consent in effect must cover this
/// recipient, purpose and information now. On success the packet carries the §2.32 notice and
/// the consent's scope and is in the accounting; a refusal names its reason. Both are audited.
#[utoipa::path(post, path = "/patients/{id}/disclosures", tag = "confidentiality",
    params(("id" = i64, Path, description = "Patient id")),
    request_body = DisclosureBody,
    responses(
        (status = 201, description = "Disclosed and recorded in the accounting", body = Disclosure,
            headers(("Location" = String, description = "Where the new record is read: its own URL, or the list it appears in"))),
        (status = 409, description = "Refused: no consent covers it (disclosure_refused, with the reason)", body = DisclosureRefused),
        Unauthenticated, Forbidden, NotFound, BadBody,
    ))]
pub async fn disclose(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    body: JsonBody<DisclosureBody>,
) -> Result<Response, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::Disclose>(&caller.actor, id)
        .await?;
    let b = body.parse()?;
    let mut errors = Vec::new();
    let purpose = forms::code::<Purpose>(
        "purpose",
        &b.purpose,
        "must be treatment, payment, operations, patient_request, legal, employment or other",
        &mut errors,
    );
    let categories: BTreeSet<InformationCategory> =
        code_set("categories", &b.categories, &mut errors);
    let (Some(purpose), true) = (purpose, errors.is_empty()) else {
        return Err(AppError::Invalid(errors).into());
    };
    let input = DisclosureInput {
        recipient_id: b.recipient_id,
        purpose,
        purpose_detail: b.purpose_detail,
        categories,
    };
    let detail = PacketDetail {
        note_text: b.include_note_text,
        recommendation_wording: b.include_recommendation_wording,
    };
    match state.store.disclose_with(&grant, &input, detail).await? {
        DisclosureOutcome::Made(d) => {
            let location = format!("/api/v1/disclosures/{}", d.id);
            Ok(CreatedAt(location, disclosure_dto(*d)).into_response())
        }
        DisclosureOutcome::Refused(refusal) => Ok((
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

/// The patient's accounting of disclosures, newest first (the read is audited).
#[utoipa::path(get, path = "/patients/{id}/disclosures", tag = "confidentiality",
    params(PageQuery, ("id" = i64, Path, description = "Patient id")),
    responses(
        (status = 200, description = "Every disclosure, consented and emergency", body = Vec<Disclosure>,
            headers(("X-Total-Count" = i64, description = "How many entries the whole list has"))),
        Unauthenticated, Forbidden, NotFound,
    ))]
pub async fn accounting(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    paging: Paging,
) -> Result<Paged<Disclosure>, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::Disclose>(&caller.actor, id)
        .await?;
    let rows = state.store.accounting(&grant).await?;
    Ok(paging.page(rows.into_iter().map(disclosure_dto).collect()))
}

/// One disclosure with its packet (the read is audited).
#[utoipa::path(get, path = "/disclosures/{id}", tag = "confidentiality",
    params(("id" = i64, Path, description = "Disclosure id")),
    responses(
        (status = 200, description = "The disclosure", body = Disclosure),
        Unauthenticated, Forbidden, NotFound,
    ))]
pub async fn get_disclosure(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
) -> Result<Json<Disclosure>, ApiError> {
    let patient = state.store.disclosure_patient_id(id).await?;
    let grant = state
        .store
        .patient_grant::<can::Disclose>(&caller.actor, patient)
        .await?;
    Ok(Json(disclosure_dto(
        state.store.disclosure(&grant, id).await?,
    )))
}

/// Emergency access: the reason and the §2.51 facts.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct EmergencyBody {
    /// medical_emergency, declared_disaster or fda_product_error.
    #[serde(default)]
    #[schema(required = true, schema_with = super::codes::ground)]
    pub ground: String,
    /// Why the record must be opened now.
    #[serde(default)]
    #[schema(required = true)]
    pub reason: String,
    /// Medical personnel receiving the information.
    #[serde(default)]
    #[schema(required = true)]
    pub recipient_name: String,
    /// Their facility.
    #[serde(default)]
    #[schema(required = true)]
    pub recipient_facility: String,
    /// The nature of the emergency.
    #[serde(default)]
    #[schema(required = true)]
    pub nature: String,
}

/// Until when emergency access lasts.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EmergencyGranted {
    /// Access ends at this instant.
    pub expires_at: DateTime<Utc>,
}

/// Opens a patient's record in a bona fide emergency (break-the-glass): time-limited, audited,
/// and the privacy officer gets a task. What is then told to medical personnel is recorded, when
/// it is told, with `POST /patients/{id}/emergency-disclosures`.
#[utoipa::path(post, path = "/patients/{id}/emergency-access", tag = "confidentiality",
    params(("id" = i64, Path, description = "Patient id")),
    request_body = EmergencyBody,
    responses(
        (status = 201, description = "Access granted until expires_at", body = EmergencyGranted,
            headers(("Location" = String, description = "Where the new record is read: its own URL, or the list it appears in"))),
        Unauthenticated, Forbidden, NotFound, BadBody,
    ))]
pub async fn break_glass(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    body: JsonBody<EmergencyBody>,
) -> Result<CreatedAt<EmergencyGranted>, ApiError> {
    let grant = state.store.grant::<can::BreakGlass>(&caller.actor)?;
    let b = body.parse()?;
    let ground = match b.ground.trim() {
        "medical_emergency" => EmergencyGround::MedicalEmergency,
        "declared_disaster" => EmergencyGround::DeclaredDisaster,
        "fda_product_error" => EmergencyGround::FdaProductError,
        _ => {
            return Err(AppError::Invalid(vec![FieldError::new(
                "ground",
                "must be medical_emergency, declared_disaster or fda_product_error",
            )])
            .into())
        }
    };
    let expires = state
        .store
        .break_glass(
            &grant,
            id,
            &EmergencyAccess {
                ground,
                reason: b.reason,
                recipient_name: b.recipient_name,
                recipient_facility: b.recipient_facility,
                nature: b.nature,
            },
        )
        .await?;
    Ok(CreatedAt(
        format!("/api/v1/patients/{id}"),
        EmergencyGranted {
            expires_at: expires.0,
        },
    ))
}

fn emergency_ground(code: &str, errors: &mut Vec<FieldError>) -> Option<EmergencyGround> {
    match code.trim() {
        "medical_emergency" => Some(EmergencyGround::MedicalEmergency),
        "declared_disaster" => Some(EmergencyGround::DeclaredDisaster),
        "fda_product_error" => Some(EmergencyGround::FdaProductError),
        _ => {
            errors.push(FieldError::new(
                "ground",
                "must be medical_emergency, declared_disaster or fda_product_error",
            ));
            None
        }
    }
}

/// A disclosure made in a medical emergency, as it is made (§2.51(c)).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct EmergencyDisclosureBody {
    /// medical_emergency, declared_disaster or fda_product_error.
    #[serde(default)]
    #[schema(required = true, schema_with = super::codes::ground)]
    pub ground: String,
    /// Medical personnel receiving the information (1–300 characters).
    #[serde(default)]
    #[schema(required = true, min_length = 1, max_length = 300)]
    pub recipient_name: String,
    /// Their facility (1–300 characters).
    #[serde(default)]
    #[schema(required = true, min_length = 1, max_length = 300)]
    pub recipient_facility: String,
    /// The nature of the emergency: why it was disclosed (1–2000 characters).
    #[serde(default)]
    #[schema(required = true, min_length = 1, max_length = 2000)]
    pub nature: String,
    /// Information category codes disclosed (the record as it stands goes into the packet).
    /// At least one category or `information` is required.
    #[serde(default)]
    #[schema(schema_with = super::codes::information_categories)]
    pub categories: Vec<String>,
    /// What was said, in words (at most 2000 characters).
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub information: String,
}

/// An emergency disclosure says what was disclosed: a category, or the information in words.
pub fn emergency_disclosure_rules(object: &mut utoipa::openapi::schema::Object) {
    no_counseling_notes(object);
    super::contract::when(
        object,
        serde_json::json!({ "not": {
            "required": ["categories"],
            "properties": { "categories": { "minItems": 1 } },
        } }),
        serde_json::json!({
            "required": ["information"],
            "properties": { "information": { "pattern": "\\S" } },
        }),
    );
}

/// Who signs (42 CFR 2.14(c), 2.15(a)): a parent or guardian signs with the minor, and a
/// personal representative's appointing document is noted.
pub fn signer_rules(object: &mut utoipa::openapi::schema::Object) {
    super::contract::when(
        object,
        serde_json::json!({
            "required": ["signer_authority"],
            "properties": { "signer_authority": { "const": "parent_or_guardian" } },
        }),
        serde_json::json!({
            "required": ["minor_also_signed"],
            "properties": { "minor_also_signed": { "const": true } },
        }),
    );
    super::contract::when(
        object,
        serde_json::json!({
            "required": ["signer_authority"],
            "properties": { "signer_authority": { "const": "personal_representative" } },
        }),
        serde_json::json!({
            "required": ["court_document"],
            "properties": { "court_document": { "pattern": "\\S" } },
        }),
    );
}

/// SUD counseling notes leave only under their own consent (42 CFR 2.31(b)): never in an
/// emergency disclosure or the patient's copy. `if: {}` always holds, so `then` always applies.
pub fn no_counseling_notes(object: &mut utoipa::openapi::schema::Object) {
    super::contract::when(
        object,
        serde_json::json!({}),
        serde_json::json!({ "properties": { "categories": {
            "items": { "not": { "const": "counseling_notes" } }
        } } }),
    );
}

/// Records a disclosure made in a medical emergency at the moment it is made: to whom, by whom
/// (the caller), when (now), why and what. It enters the accounting and the privacy officer
/// gets a task. The caller must have the patient in scope, normally or by emergency access.
#[utoipa::path(post, path = "/patients/{id}/emergency-disclosures", tag = "confidentiality",
    params(("id" = i64, Path, description = "Patient id")),
    request_body = EmergencyDisclosureBody,
    responses(
        (status = 201, description = "Recorded in the accounting", body = Disclosure,
            headers(("Location" = String, description = "Where the new record is read: its own URL, or the list it appears in"))),
        Unauthenticated, Forbidden, NotFound, BadBody,
    ))]
pub async fn record_emergency_disclosure(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    body: JsonBody<EmergencyDisclosureBody>,
) -> Result<CreatedAt<Disclosure>, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::BreakGlass>(&caller.actor, id)
        .await?;
    let b = body.parse()?;
    let mut errors = Vec::new();
    let ground = emergency_ground(&b.ground, &mut errors);
    let categories: BTreeSet<InformationCategory> =
        code_set("categories", &b.categories, &mut errors);
    let (Some(ground), true) = (ground, errors.is_empty()) else {
        return Err(AppError::Invalid(errors).into());
    };
    let made = state
        .store
        .record_emergency_disclosure(
            &grant,
            &EmergencyDisclosureInput {
                ground,
                recipient_name: b.recipient_name,
                recipient_facility: b.recipient_facility,
                nature: b.nature,
                categories,
                information: b.information,
            },
        )
        .await?;
    Ok(CreatedAt(
        format!("/api/v1/disclosures/{}", made.id),
        disclosure_dto(made),
    ))
}

/// The period of a privacy report.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PrivacyPeriod {
    /// First day, YYYY-MM-DD (default 30 days ago).
    pub from: Option<NaiveDate>,
    /// Last day, YYYY-MM-DD, inclusive (default today).
    pub to: Option<NaiveDate>,
}

/// One emergency access.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BreakGlassEvent {
    /// Id.
    pub id: i64,
    /// Patient.
    pub patient_id: i64,
    /// Who opened the record.
    pub user_name: String,
    /// When.
    pub started_at: DateTime<Utc>,
    /// Until when.
    pub expires_at: DateTime<Utc>,
    /// The ground.
    pub ground: String,
    /// The stated reason.
    pub reason: String,
    /// Recipient and facility.
    pub recipient: String,
    /// Nature of the emergency.
    pub nature: String,
}

/// One consent revocation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RevocationEvent {
    /// Consent.
    pub consent_id: i64,
    /// Patient.
    pub patient_id: i64,
    /// When it took effect.
    pub revoked_at: DateTime<Utc>,
    /// Who recorded it.
    pub recorded_by: String,
}

/// The privacy officer's view of a period.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PrivacyReport {
    /// Disclosures made.
    pub disclosures: Vec<Disclosure>,
    /// Emergency accesses.
    pub break_glass: Vec<BreakGlassEvent>,
    /// Consent revocations.
    pub revocations: Vec<RevocationEvent>,
}

/// Disclosures, emergency accesses and consent revocations by date (privacy officers and
/// administrators; the read is audited).
#[utoipa::path(get, path = "/privacy-report", tag = "confidentiality",
    params(PrivacyPeriod),
    responses(
        (status = 200, description = "The report", body = PrivacyReport),
        Unauthenticated, Forbidden, BadQuery,
    ))]
pub async fn privacy_report(
    State(state): State<AppState>,
    caller: ApiCaller,
    ApiQuery(period): ApiQuery<PrivacyPeriod>,
) -> Result<Json<PrivacyReport>, ApiError> {
    let grant = state.store.grant::<can::ReadAudit>(&caller.actor)?;
    let today = state.today();
    let from = period.from.unwrap_or(today - Duration::days(30));
    let to = period.to.unwrap_or(today);
    let report = state
        .store
        .privacy_report(&grant, state.timezone, from, to)
        .await?;
    Ok(Json(PrivacyReport {
        disclosures: report.disclosures.into_iter().map(disclosure_dto).collect(),
        break_glass: report
            .break_glass
            .into_iter()
            .map(|b| BreakGlassEvent {
                id: b.id,
                patient_id: b.patient_id,
                user_name: b.user_name,
                started_at: b.started_at.0,
                expires_at: b.expires_at.0,
                ground: ground_code(b.access.ground),
                reason: b.access.reason,
                recipient: format!(
                    "{} ({})",
                    b.access.recipient_name, b.access.recipient_facility
                ),
                nature: b.access.nature,
            })
            .collect(),
        revocations: report
            .revocations
            .into_iter()
            .map(|r| RevocationEvent {
                consent_id: r.consent_id,
                patient_id: r.patient_id,
                revoked_at: r.revoked_at.0,
                recorded_by: r.recorded_by,
            })
            .collect(),
    }))
}

/// What a collateral contact may receive under one consent, for one purpose.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Allowance {
    /// The consent that allows it.
    pub consent_id: i64,
    /// Address the disclosure to this name (the consent's wording).
    pub recipient: String,
    /// Purpose code.
    pub purpose: String,
    /// The purpose in words, for "other".
    pub purpose_detail: String,
    /// Information category codes.
    pub categories: Vec<String>,
    /// When the consent stops, in words.
    pub expiry: String,
}

fn allowance(a: CollateralAllowance) -> Allowance {
    Allowance {
        consent_id: a.consent_id.0,
        recipient: a.recipient,
        purpose: a.purpose.code().into(),
        purpose_detail: a.purpose_detail,
        categories: a.categories.iter().map(|c| c.code().to_owned()).collect(),
        expiry: a.expiry.map(|e| e.to_string()).unwrap_or_default(),
    }
}

/// A collateral contact and what they may receive now.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Collateral {
    /// Id.
    pub id: i64,
    /// Patient.
    pub patient_id: i64,
    /// Relationship code.
    pub relationship: String,
    /// Name.
    pub name: String,
    /// Organisation.
    pub organisation: String,
    /// Phone.
    pub phone: String,
    /// Email.
    pub email: String,
    /// Notes.
    pub notes: String,
    /// Where a future portal login attaches (always null for now).
    pub portal_account_id: Option<i64>,
    /// When added.
    pub added_at: DateTime<Utc>,
    /// Who added them.
    pub added_by: String,
    /// The last day they were a contact, once end-dated.
    pub ended_on: Option<NaiveDate>,
    /// Consents linked to this contact.
    pub linked_consents: Vec<i64>,
    /// What they may receive now, from the consents in effect (empty once end-dated).
    pub may_receive: Vec<Allowance>,
}

fn collateral_dto(c: CollateralRecord) -> Collateral {
    Collateral {
        id: c.id,
        patient_id: c.patient_id,
        relationship: c.contact.relationship.code().into(),
        name: c.contact.name,
        organisation: c.contact.organisation,
        phone: c.contact.phone,
        email: c.contact.email,
        notes: c.contact.notes,
        portal_account_id: c.portal_account_id,
        added_at: c.added_at.0,
        added_by: c.added_by,
        ended_on: c.ended_on.map(|d| d.0),
        linked_consents: c.linked_consents,
        may_receive: c.may_receive.into_iter().map(allowance).collect(),
    }
}

/// The patient's collateral contacts with what each may receive now (the read is audited).
#[utoipa::path(get, path = "/patients/{id}/collaterals", tag = "confidentiality",
    params(PageQuery, ("id" = i64, Path, description = "Patient id")),
    responses(
        (status = 200, description = "Current contacts first", body = Vec<Collateral>,
            headers(("X-Total-Count" = i64, description = "How many entries the whole list has"))),
        Unauthenticated, Forbidden, NotFound,
    ))]
pub async fn list_collaterals(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    paging: Paging,
) -> Result<Paged<Collateral>, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::ManageConsents>(&caller.actor, id)
        .await?;
    let rows = state.store.collaterals(&grant).await?;
    Ok(paging.page(rows.into_iter().map(collateral_dto).collect()))
}

/// A collateral contact's details.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CollateralBody {
    /// spouse, parent, family, friend, sponsor, probation_officer, court, employer, attorney
    /// or other.
    #[serde(default)]
    #[schema(required = true, schema_with = super::codes::relationship)]
    pub relationship: String,
    /// Name.
    #[serde(default)]
    #[schema(required = true)]
    pub name: String,
    /// Organisation (court, employer…).
    #[serde(default)]
    pub organisation: String,
    /// Phone.
    #[serde(default)]
    pub phone: String,
    /// Email.
    #[serde(default)]
    pub email: String,
    /// Notes.
    #[serde(default)]
    pub notes: String,
}

const RELATIONSHIPS: &str = "must be spouse, parent, family, friend, sponsor, \
    probation_officer, court, employer, attorney or other";

fn new_collateral(b: CollateralBody) -> Result<NewCollateral, ApiError> {
    let mut errors = Vec::new();
    let relationship = forms::code::<CollateralRelationship>(
        "relationship",
        &b.relationship,
        RELATIONSHIPS,
        &mut errors,
    );
    let Some(relationship) = relationship else {
        return Err(AppError::Invalid(errors).into());
    };
    Ok(NewCollateral {
        relationship,
        name: b.name,
        organisation: b.organisation,
        phone: b.phone,
        email: b.email,
        notes: b.notes,
    })
}

/// Links a collateral contact to the patient.
#[utoipa::path(post, path = "/patients/{id}/collaterals", tag = "confidentiality",
    params(("id" = i64, Path, description = "Patient id")),
    request_body = CollateralBody,
    responses(
        (status = 201, description = "Added", body = Created,
            headers(("Location" = String, description = "Where the new record is read: its own URL, or the list it appears in"))),
        Unauthenticated, Forbidden, NotFound, BadBody,
    ))]
pub async fn add_collateral(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    body: JsonBody<CollateralBody>,
) -> Result<CreatedAt<Created>, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::ManageConsents>(&caller.actor, id)
        .await?;
    let new = new_collateral(body.parse()?)?;
    let created = state.store.add_collateral(&grant, &new).await?;
    Ok(CreatedAt(
        format!("/api/v1/patients/{id}/collaterals"),
        Created { id: created },
    ))
}

/// Corrects a current collateral contact (an end-dated one answers 409).
#[utoipa::path(put, path = "/collaterals/{id}", tag = "confidentiality",
    params(("id" = i64, Path, description = "Collateral contact id")),
    request_body = CollateralBody,
    responses(
        (status = 204, description = "Saved"),
        (status = 409, description = "The contact has been end-dated", body = ApiErrorBody),
        Unauthenticated, Forbidden, NotFound, BadBody,
    ))]
pub async fn update_collateral(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    body: JsonBody<CollateralBody>,
) -> Result<StatusCode, ApiError> {
    let patient = state.store.collateral_patient_id(id).await?;
    let grant = state
        .store
        .patient_grant::<can::ManageConsents>(&caller.actor, patient)
        .await?;
    let new = new_collateral(body.parse()?)?;
    state.store.update_collateral(&grant, id, &new).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// When a collateral contact stopped being one.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct EndCollateralBody {
    /// The last day, YYYY-MM-DD (today or earlier).
    #[serde(default)]
    #[schema(required = true, format = Date)]
    pub ended_on: String,
}

/// End-dates a collateral contact: kept in the record, may receive nothing more.
#[utoipa::path(post, path = "/collaterals/{id}/end", tag = "confidentiality",
    params(("id" = i64, Path, description = "Collateral contact id")),
    request_body = EndCollateralBody,
    responses(
        (status = 204, description = "End-dated"),
        (status = 409, description = "Already end-dated", body = ApiErrorBody),
        Unauthenticated, Forbidden, NotFound, BadBody,
    ))]
pub async fn end_collateral(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    body: JsonBody<EndCollateralBody>,
) -> Result<StatusCode, ApiError> {
    let patient = state.store.collateral_patient_id(id).await?;
    let grant = state
        .store
        .patient_grant::<can::ManageConsents>(&caller.actor, patient)
        .await?;
    let mut errors = Vec::new();
    let Some(on) = forms::date("ended_on", &body.parse()?.ended_on, &mut errors) else {
        return Err(AppError::Invalid(errors).into());
    };
    state.store.end_collateral(&grant, id, on).await?;
    Ok(StatusCode::NO_CONTENT)
}
