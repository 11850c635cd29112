//! 42 CFR Part 2 pages: the chart's Consents tab (record, print, revoke; disclose through the one
//! consent-checked path; collateral contacts and what each may receive now), the disclosure packet, the patient's accounting of disclosures,
//! emergency (break-the-glass) access and the privacy officer's page.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{Duration, NaiveDate};
use serde::Deserialize;
use std::collections::BTreeSet;
use trellis_domain::access::{permits, Permission};
use trellis_domain::consent::{
    criminal_justice::revocation_statement, AuthorityKind, CollateralRelationship, CriminalJustice,
    CriminalJusticeCondition, EmergencyGround, Expiry, InformationCategory, Purpose, Recipient,
    RecipientClass, Revocability, SignerAuthority, COUNSELING_NOTES_STATEMENT,
    DEFAULT_REVOCATION_STATEMENT, DEFAULT_TPO_REDISCLOSURE_STATEMENT, TPO_GENERIC_RECIPIENTS,
};
use trellis_domain::patient::FieldError;
use trellis_storage::access::{can, Actor};
use trellis_storage::collaterals::{CollateralRecord, NewCollateral};
use trellis_storage::confidentiality::{
    ConsentRecord, DisclosureInput, DisclosureOutcome, DisclosureRecord, EmergencyAccess,
    EmergencyDisclosureInput, NewConsent, PacketDetail, PrivacyReport, WrittenRevocation,
    PATIENT_ACCESS_KIND,
};
use trellis_storage::patients::{mrn, parse_mrn};
use trellis_storage::recipients::RecipientRecord;
use trellis_storage::StoreError;

use super::patients::ChartHeader;
use super::{labelled, ChartTabs, LabelledError, Layout};
use crate::api::confidentiality::{parse_criminal_justice, CriminalJusticeBody};
use crate::error::AppError;
use crate::forms;
use crate::identity::Staff;
use crate::view;
use crate::AppState;

/// Form posts with repeated keys (checkbox groups), read as name/value pairs.
type Pairs = Vec<(String, String)>;

fn one(pairs: &Pairs, key: &str) -> String {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_default()
}

fn all(pairs: &Pairs, key: &str) -> Vec<String> {
    pairs
        .iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .collect()
}

fn codes<T: std::str::FromStr + Ord>(
    pairs: &Pairs,
    key: &'static str,
    errors: &mut Vec<FieldError>,
) -> BTreeSet<T> {
    let mut out = BTreeSet::new();
    for v in all(pairs, key) {
        match v.parse() {
            Ok(c) => {
                out.insert(c);
            }
            Err(_) => errors.push(FieldError::new(key, "unknown choice")),
        }
    }
    out
}

/// A consent on the chart, ready to show.
pub struct ConsentView {
    id: i64,
    state: &'static str,
    recipients: String,
    purposes: String,
    categories: String,
    expiry: String,
    signed: String,
    revoked: Option<String>,
    /// The consent expires on an event not yet recorded (the form to record it is shown).
    awaits_event: bool,
    written_revocation: Option<String>,
    /// On a §2.35 consent: what it adds, in words.
    criminal_justice: Option<String>,
    /// On a §2.35 consent revocable after an event: the event (its day is asked on revoking).
    revocable_event: Option<String>,
}

fn consent_view(r: &ConsentRecord, state: &AppState) -> ConsentView {
    let c = &r.consent;
    ConsentView {
        id: r.id,
        state: r.state,
        recipients: c
            .recipients
            .iter()
            .map(|r| r.describe().to_owned())
            .collect::<Vec<_>>()
            .join("; "),
        purposes: c
            .purposes
            .iter()
            .map(|p| p.label())
            .collect::<Vec<_>>()
            .join(", "),
        categories: c
            .categories
            .iter()
            .map(|p| p.label())
            .collect::<Vec<_>>()
            .join(", "),
        expiry: c
            .expiry
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        signed: match &c.signature {
            Some(s) => format!(
                "{}{}{} at {}",
                s.signer_name,
                s.relationship
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default(),
                r.signer
                    .as_ref()
                    .map(|a| format!(", signing as: {}", a.authority.label()))
                    .unwrap_or_default(),
                view::local_time(&s.signed_at.into(), state.timezone)
            ),
            None => String::new(),
        },
        revoked: c.revocation.as_ref().map(|rv| {
            format!(
                "{} by {}",
                view::local_time(&rv.revoked_at.into(), state.timezone),
                rv.recorded_by
            )
        }),
        awaits_event: matches!(
            c.expiry,
            Some(Expiry::Event {
                occurred_at: None,
                ..
            })
        ),
        written_revocation: r
            .written_revocation
            .as_ref()
            .map(|w| format!("received {}: {}", w.received_on, w.text)),
        criminal_justice: c.criminal_justice.as_ref().map(|cj| {
            format!(
                "42 CFR 2.35: {}. Monitoring: {}. In effect: {}.{}",
                cj.condition.label(),
                cj.monitoring_duty,
                cj.duration_statement,
                cj.revocable
                    .as_ref()
                    .map(|r| format!(" It {r}."))
                    .unwrap_or_default()
            )
        }),
        revocable_event: match c
            .criminal_justice
            .as_ref()
            .and_then(|cj| cj.revocable.as_ref())
        {
            Some(Revocability::Event { description }) => Some(description.clone()),
            _ => None,
        },
    }
}

/// A disclosure in the accounting, ready to show.
pub struct DisclosureView {
    id: i64,
    when: String,
    recipient: String,
    purpose: String,
    categories: String,
    consent: String,
    by: String,
}

fn disclosure_view(d: &DisclosureRecord, state: &AppState) -> DisclosureView {
    DisclosureView {
        id: d.id,
        when: view::local_time(&d.disclosed_at, state.timezone),
        recipient: d.recipient.clone(),
        purpose: match (
            d.purpose.parse::<Purpose>(),
            d.kind.parse::<AuthorityKind>(),
        ) {
            (Ok(p), _) => p.label().to_owned(),
            (_, Ok(k)) => k.label().to_owned(),
            _ => "Medical emergency (42 CFR 2.51)".into(),
        },
        categories: d.categories.join(", "),
        consent: match d.consent_id {
            Some(c) => format!("Consent #{c}"),
            None if d.kind == PATIENT_ACCESS_KIND => {
                "No consent needed: the patient's own access (42 CFR 2.23)".into()
            }
            None => match d.kind.parse::<AuthorityKind>() {
                Ok(k) => format!("No consent needed: {}", k.label()),
                Err(_) => "No consent: medical emergency".into(),
            },
        },
        by: d.disclosed_by.clone(),
    }
}

#[derive(Template)]
#[template(path = "consents.html")]
struct ConsentsPage {
    layout: Layout,
    tabs: ChartTabs,
    patient_id: i64,
    header: ChartHeader,
    consents: Vec<ConsentView>,
    can_manage: bool,
    can_disclose: bool,
    categories: Vec<(&'static str, &'static str)>,
    purposes: Vec<(&'static str, &'static str)>,
    classes: Vec<(&'static str, &'static str)>,
    /// Who may sign (42 CFR 2.14, 2.15): (code, label).
    signers: Vec<(&'static str, &'static str)>,
    /// What a §2.35 referral is a condition of: (code, label).
    cj_conditions: Vec<(&'static str, &'static str)>,
    /// Current recipient directory entries a disclosure may go to: (id, "name · class").
    recipients: Vec<(String, String)>,
    can_manage_recipients: bool,
    can_disclose_without_consent: bool,
    form: Pairs,
    errors: Vec<LabelledError>,
    refusal: Option<String>,
    today: String,
    default_program: String,
    tpo_recipients: &'static str,
    redisclosure: &'static str,
    revocation: &'static str,
    counseling_notes_statement: &'static str,
    collaterals: Vec<CollateralView>,
    relationships: Vec<(&'static str, &'static str)>,
    /// The patient's rights in one line (notice, restrictions), for roles that manage consents.
    rights: Option<super::privacy::rights::RightsSummary>,
}

/// What a collateral contact may receive under one consent, ready to show.
pub struct AllowanceView {
    categories: String,
    purpose: String,
    consent_id: i64,
    expiry: String,
}

/// A collateral contact on the Consents tab.
pub struct CollateralView {
    id: i64,
    relationship: &'static str,
    relationship_code: &'static str,
    name: String,
    organisation: String,
    phone: String,
    email: String,
    notes: String,
    label: String,
    ended_on: Option<String>,
    may_receive: Vec<AllowanceView>,
}

fn collateral_view(c: &CollateralRecord) -> CollateralView {
    CollateralView {
        id: c.id,
        relationship: c.contact.relationship.label(),
        relationship_code: c.contact.relationship.code(),
        name: c.contact.name.clone(),
        organisation: c.contact.organisation.clone(),
        phone: c.contact.phone.clone(),
        email: c.contact.email.clone(),
        notes: c.contact.notes.clone(),
        label: c.recipient_label(),
        ended_on: c.ended_on.as_ref().map(view::day),
        may_receive: c
            .may_receive
            .iter()
            .map(|a| AllowanceView {
                categories: a
                    .categories
                    .iter()
                    .map(|c| c.label())
                    .collect::<Vec<_>>()
                    .join(", "),
                purpose: match a.purpose {
                    Purpose::Other => format!("Other: {}", a.purpose_detail),
                    p => p.label().to_owned(),
                },
                consent_id: a.consent_id.0,
                expiry: a
                    .expiry
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
            })
            .collect(),
    }
}

impl ConsentsPage {
    /// Whether the consent form is shown for the first time (so it takes its defaults).
    fn fresh(&self) -> bool {
        !self.form.iter().any(|(k, _)| k == "disclosing_program")
    }

    /// Whether the form whose fields start with `prefix` was sent back or pre-filled, so it
    /// opens instead of waiting to be asked for.
    fn filled(&self, prefix: &str) -> bool {
        self.form.iter().any(|(k, _)| k.starts_with(prefix))
    }

    fn value(&self, key: &str) -> String {
        one(&self.form, key)
    }

    fn checked(&self, key: &str, value: &str) -> bool {
        self.form.iter().any(|(k, v)| k == key && v == value)
    }

    fn error(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }
}

pub(crate) async fn patient_heading(
    state: &AppState,
    actor: &Actor,
    patient_id: i64,
) -> Result<String, AppError> {
    let grant = state
        .store
        .patient_grant::<can::ReadDemographics>(actor, patient_id)
        .await?;
    Ok(state.store.patient(&grant).await?.display_name())
}

async fn consents_page(
    state: &AppState,
    staff: &Staff,
    patient_id: i64,
    form: Pairs,
    errors: &[FieldError],
    refusal: Option<String>,
) -> Result<ConsentsPage, AppError> {
    let role = staff.actor.role;
    let can_manage = permits(role, Permission::ManageConsents);
    let can_disclose = permits(role, Permission::Disclose);
    if !can_manage && !can_disclose {
        // Ask for the grant so the refusal is audited and answered the usual way.
        state
            .store
            .patient_grant::<can::ManageConsents>(&staff.actor, patient_id)
            .await?;
    }
    let header = super::patients::chart_data(state, &staff.actor, patient_id)
        .await?
        .header;
    let recipients = if can_disclose {
        directory_choices(state, &staff.actor).await?
    } else {
        Vec::new()
    };
    let rights = if can_manage {
        Some(super::privacy::rights::summary(state, &staff.actor, patient_id).await?)
    } else {
        None
    };
    let (records, collaterals) = if can_manage {
        let grant = state
            .store
            .patient_grant::<can::ManageConsents>(&staff.actor, patient_id)
            .await?;
        (
            state.store.consents(&grant).await?,
            state.store.collaterals(&grant).await?,
        )
    } else {
        let grant = state
            .store
            .patient_grant::<can::Disclose>(&staff.actor, patient_id)
            .await?;
        (
            state.store.consents_for_disclosure(&grant).await?,
            Vec::new(),
        )
    };
    Ok(ConsentsPage {
        layout: Layout::new(staff, "patients"),
        tabs: ChartTabs::new(staff.actor.role, patient_id, "consents"),
        patient_id,
        header,
        consents: records.iter().map(|r| consent_view(r, state)).collect(),
        can_manage,
        can_disclose,
        categories: InformationCategory::ALL
            .iter()
            .map(|c| (c.code(), c.label()))
            .collect(),
        purposes: Purpose::ALL.iter().map(|c| (c.code(), c.label())).collect(),
        classes: RecipientClass::ALL
            .iter()
            .map(|c| (c.code(), c.label()))
            .collect(),
        signers: SignerAuthority::ALL
            .iter()
            .map(|a| (a.code(), a.label()))
            .collect(),
        cj_conditions: CriminalJusticeCondition::ALL
            .iter()
            .map(|c| (c.code(), c.label()))
            .collect(),
        recipients,
        can_manage_recipients: permits(role, Permission::ManageRecipients),
        can_disclose_without_consent: permits(role, Permission::DiscloseWithoutConsent),
        form,
        errors: labelled(errors),
        refusal,
        today: state.today().to_string(),
        default_program: "Trellis IOP".into(),
        tpo_recipients: TPO_GENERIC_RECIPIENTS,
        redisclosure: DEFAULT_TPO_REDISCLOSURE_STATEMENT,
        revocation: DEFAULT_REVOCATION_STATEMENT,
        counseling_notes_statement: COUNSELING_NOTES_STATEMENT,
        collaterals: collaterals.iter().map(collateral_view).collect(),
        relationships: CollateralRelationship::ALL
            .iter()
            .map(|r| (r.code(), r.label()))
            .collect(),
        rights,
    })
}

/// The directory entries a disclosure may go to, as (id, "name · class") choices.
async fn directory_choices(
    state: &AppState,
    actor: &Actor,
) -> Result<Vec<(String, String)>, AppError> {
    let grant = state.store.grant::<can::Disclose>(actor)?;
    Ok(state
        .store
        .recipients(&grant)
        .await?
        .into_iter()
        .filter(RecipientRecord::is_current)
        .map(|r| {
            (
                r.id.to_string(),
                format!("{} · {}", r.recipient.name, r.recipient.kind.label()),
            )
        })
        .collect())
}

// The directory entry a collateral's consent wording names, if the privacy officer listed them.
async fn directory_entry_named(
    state: &AppState,
    actor: &Actor,
    name: &str,
) -> Result<Option<i64>, AppError> {
    if !permits(actor.role, Permission::Disclose) {
        return Ok(None);
    }
    let norm = |s: &str| {
        s.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    };
    let grant = state.store.grant::<can::Disclose>(actor)?;
    Ok(state
        .store
        .recipients(&grant)
        .await?
        .into_iter()
        .find(|r| r.is_current() && norm(&r.recipient.name) == norm(name))
        .map(|r| r.id))
}

fn render(page: ConsentsPage, status: StatusCode) -> Result<Response, AppError> {
    Ok((status, Html(page.render()?)).into_response())
}

/// The "disclose to this contact" shortcut (which contact, and which of their allowances), or
/// the information a print page sends out through the disclosure form.
#[derive(Debug, Deserialize)]
pub struct DiscloseTo {
    to_collateral: Option<i64>,
    allowance: Option<usize>,
    information: Option<String>,
}

/// The chart's Consents tab; with `to_collateral` the disclosure form is pre-filled with what
/// that contact may receive (the check still runs when it is sent).
pub async fn consents_tab(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Query(to): Query<DiscloseTo>,
) -> Result<Response, AppError> {
    let mut form = Vec::new();
    // A print page's "copy for someone outside the program": the information is chosen, the
    // recipient and purpose are not, and the check runs when it is sent.
    if let Some(category) = to
        .information
        .as_deref()
        .and_then(|c| c.parse::<InformationCategory>().ok())
    {
        form.push(("d_categories".to_owned(), category.code().to_owned()));
    }
    if let Some(collateral) = to.to_collateral {
        let grant = state
            .store
            .patient_grant::<can::ManageConsents>(&staff.actor, id)
            .await?;
        let contacts = state.store.collaterals(&grant).await?;
        let contact = contacts
            .iter()
            .find(|c| c.id == collateral)
            .ok_or(AppError::NotFound("collateral contact"))?;
        let allowance = contact.may_receive.get(to.allowance.unwrap_or(0));
        if let Some(a) = allowance {
            form.push(("d_purpose".to_owned(), a.purpose.code().to_owned()));
            form.push(("d_purpose_detail".to_owned(), a.purpose_detail.clone()));
            form.extend(
                a.categories
                    .iter()
                    .map(|c| ("d_categories".to_owned(), c.code().to_owned())),
            );
        }
        // The disclosure goes to the directory entry the consent names; if the privacy officer
        // has not listed them yet, the form says so instead of taking a typed name.
        let named = allowance.map_or_else(|| contact.recipient_label(), |a| a.recipient.clone());
        match directory_entry_named(&state, &staff.actor, &named).await? {
            Some(entry) => form.push(("d_recipient_id".to_owned(), entry.to_string())),
            None => form.push(("d_not_in_directory".to_owned(), named)),
        }
    }
    let page = consents_page(&state, &staff, id, form, &[], None).await?;
    render(page, StatusCode::OK)
}

/// Reads the collateral contact form.
fn parse_collateral(pairs: &Pairs, errors: &mut Vec<FieldError>) -> Option<NewCollateral> {
    let relationship = forms::code::<CollateralRelationship>(
        "relationship",
        &one(pairs, "relationship"),
        "choose the relationship",
        errors,
    )?;
    Some(NewCollateral {
        relationship,
        name: one(pairs, "name"),
        organisation: one(pairs, "organisation"),
        phone: one(pairs, "phone"),
        email: one(pairs, "email"),
        notes: one(pairs, "notes"),
    })
}

/// Links a collateral contact to the patient.
pub async fn add_collateral(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Form(pairs): Form<Pairs>,
) -> Result<Response, AppError> {
    let grant = state
        .store
        .patient_grant::<can::ManageConsents>(&staff.actor, id)
        .await?;
    let mut errors = Vec::new();
    if let Some(new) = parse_collateral(&pairs, &mut errors) {
        match state.store.add_collateral(&grant, &new).await {
            Ok(_) => {
                return Ok(
                    Redirect::to(&format!("/patients/{id}/consents#collaterals-h")).into_response(),
                )
            }
            Err(StoreError::Invalid(e)) => errors = e,
            Err(e) => return Err(e.into()),
        }
    }
    // Keep the contact form's fields apart from the consent form's on re-render.
    let form = pairs
        .into_iter()
        .map(|(k, v)| (format!("c_{k}"), v))
        .collect();
    let errors: Vec<FieldError> = errors
        .into_iter()
        .map(|e| FieldError::new(collateral_field(e.field), e.message))
        .collect();
    let page = consents_page(&state, &staff, id, form, &errors, None).await?;
    render(page, StatusCode::UNPROCESSABLE_ENTITY)
}

fn collateral_field(field: &str) -> &'static str {
    match field {
        "relationship" => "c_relationship",
        "organisation" => "c_organisation",
        "phone" => "c_phone",
        "email" => "c_email",
        "notes" => "c_notes",
        _ => "c_name",
    }
}

/// Corrects a collateral contact's details.
pub async fn update_collateral(
    State(state): State<AppState>,
    staff: Staff,
    Path((id, collateral)): Path<(i64, i64)>,
    Form(pairs): Form<Pairs>,
) -> Result<Response, AppError> {
    let grant = state
        .store
        .patient_grant::<can::ManageConsents>(&staff.actor, id)
        .await?;
    let mut errors = Vec::new();
    let Some(new) = parse_collateral(&pairs, &mut errors) else {
        return Err(AppError::Invalid(errors));
    };
    state
        .store
        .update_collateral(&grant, collateral, &new)
        .await?;
    Ok(Redirect::to(&format!("/patients/{id}/consents#collaterals-h")).into_response())
}

/// End-date form.
#[derive(Debug, Deserialize)]
pub struct EndForm {
    #[serde(default)]
    ended_on: String,
}

/// End-dates a collateral contact: kept on file, may receive nothing more.
pub async fn end_collateral(
    State(state): State<AppState>,
    staff: Staff,
    Path((id, collateral)): Path<(i64, i64)>,
    Form(form): Form<EndForm>,
) -> Result<Response, AppError> {
    let grant = state
        .store
        .patient_grant::<can::ManageConsents>(&staff.actor, id)
        .await?;
    let mut errors = Vec::new();
    let Some(on) = forms::date("ended_on", &form.ended_on, &mut errors) else {
        return Err(AppError::Invalid(errors));
    };
    state.store.end_collateral(&grant, collateral, on).await?;
    Ok(Redirect::to(&format!("/patients/{id}/consents#collaterals-h")).into_response())
}

/// Reads the consent form into what the store records (domain checks happen in the store).
pub fn parse_consent(pairs: &Pairs, errors: &mut Vec<FieldError>) -> NewConsent {
    let categories = codes(pairs, "categories", errors);
    let purposes: BTreeSet<Purpose> = codes(pairs, "purposes", errors);
    let recipients = match one(pairs, "recipient_kind").as_str() {
        "tpo" => vec![Recipient::TpoGeneric {
            description: TPO_GENERIC_RECIPIENTS.into(),
        }],
        "class" => match one(pairs, "recipient_class").parse::<RecipientClass>() {
            Ok(class) => vec![Recipient::Class {
                class,
                description: class.label().into(),
            }],
            Err(_) => {
                errors.push(FieldError::new("recipient_class", "choose a class"));
                Vec::new()
            }
        },
        _ => {
            let name = one(pairs, "recipient_name");
            if name.is_empty() {
                Vec::new()
            } else {
                vec![Recipient::Named { name }]
            }
        }
    };
    let expiry = match one(pairs, "expiry_kind").as_str() {
        "date" => forms::date("expiry_date", &one(pairs, "expiry_date"), errors)
            .map(|date| Expiry::OnDate { date }),
        "event" => Some(Expiry::Event {
            description: one(pairs, "expiry_event"),
            occurred_at: None,
        }),
        "end_of_treatment" => Some(Expiry::EndOfTreatment { ended_at: None }),
        "none" => Some(Expiry::NoExpiry),
        _ => None,
    };
    let relationship = one(pairs, "signer_relationship");
    let signer_authority = match one(pairs, "signer_authority").as_str() {
        "" => None,
        code => forms::code("signer_authority", code, "choose who signs", errors),
    };
    let collateral = one(pairs, "collateral_id");
    let collateral_id = if collateral.is_empty() {
        None
    } else {
        let id = collateral.parse::<i64>().ok();
        if id.is_none() {
            errors.push(FieldError::new("collateral_id", "unknown contact"));
        }
        id
    };
    NewConsent {
        disclosing_program: one(pairs, "disclosing_program"),
        categories,
        information_description: one(pairs, "information_description"),
        recipients,
        purposes,
        other_purpose: one(pairs, "other_purpose"),
        redisclosure_statement: one(pairs, "redisclosure_statement"),
        revocation_statement: {
            let statement = one(pairs, "revocation_statement");
            let offered = statement.is_empty() || statement == DEFAULT_REVOCATION_STATEMENT;
            match criminal_justice(pairs, &mut Vec::new()).and_then(|cj| cj.revocable) {
                Some(revocable) if offered => revocation_statement(&revocable),
                _ => statement,
            }
        },
        expiry,
        signer_name: one(pairs, "signer_name"),
        signer_relationship: (!relationship.is_empty()).then_some(relationship),
        signer_authority,
        minor_also_signed: one(pairs, "minor_also_signed") == "yes",
        court_document: one(pairs, "court_document"),
        signed_on: forms::date("signed_on", &one(pairs, "signed_on"), errors),
        collateral_id,
        criminal_justice: criminal_justice(pairs, errors),
    }
}

/// Reads the §2.35 part of the consent form, when it is ticked. Left as offered (or blank), the
/// right-to-revoke statement becomes the §2.35(c) one for the day or event given.
fn criminal_justice(pairs: &Pairs, errors: &mut Vec<FieldError>) -> Option<CriminalJustice> {
    if one(pairs, "criminal_justice") != "yes" {
        return None;
    }
    let body = CriminalJusticeBody {
        condition: one(pairs, "cj_condition"),
        monitoring_duty: one(pairs, "monitoring_duty"),
        duration_statement: one(pairs, "duration_statement"),
        revocable_on: Some(one(pairs, "revocable_on")),
        revocable_event: Some(one(pairs, "revocable_event")),
        no_later_than_final_disposition: one(pairs, "no_later_than_final_disposition") == "yes",
    };
    parse_criminal_justice(&body, errors)
}

/// Records a signed consent.
pub async fn record_consent(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Form(pairs): Form<Pairs>,
) -> Result<Response, AppError> {
    let grant = state
        .store
        .patient_grant::<can::ManageConsents>(&staff.actor, id)
        .await?;
    let mut errors = Vec::new();
    let mut new = parse_consent(&pairs, &mut errors);
    // Naming a contact with no recipient text: the contact's name becomes the consent's wording.
    if let (Some(collateral), true) = (new.collateral_id, new.recipients.is_empty()) {
        if one(&pairs, "recipient_kind") != "class" && one(&pairs, "recipient_kind") != "tpo" {
            let contacts = state.store.collaterals(&grant).await?;
            if let Some(c) = contacts.iter().find(|c| c.id == collateral) {
                new.recipients = vec![Recipient::Named {
                    name: c.recipient_label(),
                }];
            }
        }
    }
    if errors.is_empty() {
        match state.store.record_consent(&grant, &new).await {
            Ok(_) => return Ok(Redirect::to(&format!("/patients/{id}/consents")).into_response()),
            Err(StoreError::Invalid(e)) => errors = e,
            Err(e) => return Err(e.into()),
        }
    }
    let page = consents_page(&state, &staff, id, pairs, &errors, None).await?;
    render(page, StatusCode::UNPROCESSABLE_ENTITY)
}

#[derive(Template)]
#[template(path = "consent_print.html")]
struct ConsentPrintPage {
    layout: Layout,
    patient_id: i64,
    record: ConsentRecord,
    view: ConsentView,
}

/// A consent laid out for printing, with every §2.31 element.
pub async fn print_consent(
    State(state): State<AppState>,
    staff: Staff,
    Path((id, consent_id)): Path<(i64, i64)>,
) -> Result<Response, AppError> {
    let grant = state
        .store
        .patient_grant::<can::ManageConsents>(&staff.actor, id)
        .await?;
    let record = state
        .store
        .consents(&grant)
        .await?
        .into_iter()
        .find(|r| r.id == consent_id)
        .ok_or(AppError::NotFound("consent"))?;
    let page = ConsentPrintPage {
        layout: Layout::new(&staff, "patients"),
        patient_id: id,
        view: consent_view(&record, &state),
        record,
    };
    Ok(Html(page.render()?).into_response())
}

/// Revocation form: the patient must have revoked in writing (§2.31(a)(6)), and the writing is
/// kept.
#[derive(Debug, Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    in_writing: String,
    #[serde(default)]
    received_on: String,
    #[serde(default)]
    revocation_text: String,
    /// For a §2.35 consent revocable after an event: the day it happened.
    #[serde(default)]
    event_on: String,
}

/// Records the patient's revocation of a consent.
pub async fn revoke_consent(
    State(state): State<AppState>,
    staff: Staff,
    Path((id, consent_id)): Path<(i64, i64)>,
    Form(form): Form<RevokeForm>,
) -> Result<Response, AppError> {
    let grant = state
        .store
        .patient_grant::<can::ManageConsents>(&staff.actor, id)
        .await?;
    let mut errors = Vec::new();
    if form.in_writing != "yes" {
        errors.push(FieldError::new(
            "in_writing",
            "confirm that the patient revoked the consent in writing",
        ));
    }
    let received_on = forms::date("received_on", &form.received_on, &mut errors);
    let event_on = if form.event_on.trim().is_empty() {
        None
    } else {
        forms::date("event_on", form.event_on.trim(), &mut errors)
    };
    let Some(received_on) = received_on.filter(|_| errors.is_empty()) else {
        return Err(AppError::Invalid(errors));
    };
    let written = WrittenRevocation {
        received_on,
        text: form.revocation_text,
        event_on,
    };
    state
        .store
        .revoke_consent(&grant, consent_id, &written)
        .await?;
    Ok(Redirect::to(&format!("/patients/{id}/consents")).into_response())
}

/// Expiry-event form: the day the event the consent expires on happened.
#[derive(Debug, Deserialize)]
pub struct ExpiryEventForm {
    #[serde(default)]
    occurred_on: String,
}

/// Records that a consent's expiry event has happened (§2.31(a)(7)).
pub async fn record_expiry_event(
    State(state): State<AppState>,
    staff: Staff,
    Path((id, consent_id)): Path<(i64, i64)>,
    Form(form): Form<ExpiryEventForm>,
) -> Result<Response, AppError> {
    let grant = state
        .store
        .patient_grant::<can::ManageConsents>(&staff.actor, id)
        .await?;
    let mut errors = Vec::new();
    let Some(on) = forms::date("occurred_on", &form.occurred_on, &mut errors) else {
        return Err(AppError::Invalid(errors));
    };
    state
        .store
        .record_expiry_event(&grant, consent_id, on)
        .await?;
    Ok(Redirect::to(&format!("/patients/{id}/consents")).into_response())
}

/// Reads the disclosure form.
pub fn parse_disclosure(pairs: &Pairs, errors: &mut Vec<FieldError>) -> Option<DisclosureInput> {
    let purpose = match one(pairs, "purpose").parse::<Purpose>() {
        Ok(p) => Some(p),
        Err(_) => {
            errors.push(FieldError::new("purpose", "choose a purpose"));
            None
        }
    };
    let recipient = one(pairs, "recipient_id");
    let recipient_id = if recipient.is_empty() {
        None
    } else {
        match recipient.parse::<i64>() {
            Ok(id) => Some(id),
            Err(_) => {
                errors.push(FieldError::new(
                    "recipient_id",
                    "choose a recipient from the directory",
                ));
                None
            }
        }
    };
    let categories = codes(pairs, "categories", errors);
    purpose.map(|purpose| DisclosureInput {
        recipient_id,
        purpose,
        purpose_detail: one(pairs, "purpose_detail"),
        categories,
    })
}

/// The one disclosure path from the UI: refused with the reason, or the packet.
pub async fn disclose(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Form(pairs): Form<Pairs>,
) -> Result<Response, AppError> {
    let grant = state
        .store
        .patient_grant::<can::Disclose>(&staff.actor, id)
        .await?;
    let mut errors = Vec::new();
    let mut refusal = None;
    if let Some(input) = parse_disclosure(&pairs, &mut errors).filter(|_| errors.is_empty()) {
        let detail = PacketDetail {
            note_text: one(&pairs, "note_text") == "yes",
            recommendation_wording: one(&pairs, "recommendation_wording") == "yes",
        };
        match state.store.disclose_with(&grant, &input, detail).await {
            Ok(DisclosureOutcome::Made(d)) => {
                return Ok(
                    Redirect::to(&format!("/patients/{id}/disclosures/{}", d.id)).into_response(),
                )
            }
            Ok(DisclosureOutcome::Refused(r)) => refusal = Some(r.to_string()),
            Err(StoreError::Invalid(e)) => errors = e,
            Err(e) => return Err(e.into()),
        }
    }
    // Keep the consent form's fields apart from the disclosure form's on re-render.
    let form = pairs
        .into_iter()
        .map(|(k, v)| (format!("d_{k}"), v))
        .collect();
    let errors: Vec<FieldError> = errors
        .into_iter()
        .map(|e| FieldError::new(disclosure_field(e.field), e.message))
        .collect();
    let page = consents_page(&state, &staff, id, form, &errors, refusal).await?;
    render(page, StatusCode::UNPROCESSABLE_ENTITY)
}

/// A copy of the record for the patient (right of access): no consent, but the same path, so
/// it is in the accounting.
pub async fn copy_for_patient(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Form(pairs): Form<Pairs>,
) -> Result<Response, AppError> {
    let grant = state
        .store
        .patient_grant::<can::Disclose>(&staff.actor, id)
        .await?;
    let mut errors = Vec::new();
    let categories = codes(&pairs, "categories", &mut errors);
    if errors.is_empty() {
        match state.store.copy_for_patient(&grant, &categories).await {
            Ok(d) => {
                return Ok(
                    Redirect::to(&format!("/patients/{id}/disclosures/{}", d.id)).into_response(),
                )
            }
            Err(StoreError::Invalid(e)) => errors = e,
            Err(e) => return Err(e.into()),
        }
    }
    let errors: Vec<FieldError> = errors
        .into_iter()
        .map(|e| FieldError::new("p_categories", e.message))
        .collect();
    let page = consents_page(&state, &staff, id, Vec::new(), &errors, None).await?;
    render(page, StatusCode::UNPROCESSABLE_ENTITY)
}

fn disclosure_field(field: &str) -> &'static str {
    match field {
        "recipient_id" => "d_recipient_id",
        "purpose" => "d_purpose",
        "purpose_detail" => "d_purpose_detail",
        _ => "d_categories",
    }
}

#[derive(Template)]
#[template(path = "disclosure_packet.html")]
struct PacketPage {
    layout: Layout,
    patient_id: i64,
    d: DisclosureRecord,
    v: DisclosureView,
}

/// The disclosure packet, for printing and sending.
pub async fn packet(
    State(state): State<AppState>,
    staff: Staff,
    Path((id, disclosure_id)): Path<(i64, i64)>,
) -> Result<Response, AppError> {
    let grant = state
        .store
        .patient_grant::<can::Disclose>(&staff.actor, id)
        .await?;
    let d = state.store.disclosure(&grant, disclosure_id).await?;
    let page = PacketPage {
        layout: Layout::new(&staff, "patients"),
        patient_id: id,
        v: disclosure_view(&d, &state),
        d,
    };
    Ok(Html(page.render()?).into_response())
}

#[derive(Template)]
#[template(path = "accounting.html")]
struct AccountingPage {
    layout: Layout,
    patient_id: i64,
    name: String,
    mrn: String,
    rows: Vec<DisclosureView>,
}

/// The patient's accounting of disclosures (printable).
pub async fn accounting(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let grant = state
        .store
        .patient_grant::<can::Disclose>(&staff.actor, id)
        .await?;
    let name = patient_heading(&state, &staff.actor, id).await?;
    let rows = state.store.accounting(&grant).await?;
    let page = AccountingPage {
        layout: Layout::new(&staff, "patients"),
        patient_id: id,
        name,
        mrn: mrn(id),
        rows: rows.iter().map(|d| disclosure_view(d, &state)).collect(),
    };
    Ok(Html(page.render()?).into_response())
}

#[derive(Template)]
#[template(path = "emergency.html")]
struct EmergencyPage {
    layout: Layout,
    form: Pairs,
    errors: Vec<LabelledError>,
    minutes: i64,
}

impl EmergencyPage {
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

async fn emergency_page(
    state: &AppState,
    staff: &Staff,
    form: Pairs,
    errors: &[FieldError],
) -> Result<String, AppError> {
    state.store.grant::<can::BreakGlass>(&staff.actor)?;
    Ok(EmergencyPage {
        layout: Layout::new(staff, "emergency"),
        form,
        errors: labelled(errors),
        minutes: state.store.break_glass_duration().await?.num_minutes(),
    }
    .render()?)
}

/// The emergency-access form.
pub async fn emergency_form(
    State(state): State<AppState>,
    staff: Staff,
) -> Result<Response, AppError> {
    Ok(Html(emergency_page(&state, &staff, Vec::new(), &[]).await?).into_response())
}

/// Reads the emergency-access form.
pub fn parse_emergency(pairs: &Pairs, errors: &mut Vec<FieldError>) -> EmergencyAccess {
    let ground = match one(pairs, "ground").as_str() {
        "declared_disaster" => EmergencyGround::DeclaredDisaster,
        "fda_product_error" => EmergencyGround::FdaProductError,
        "medical_emergency" => EmergencyGround::MedicalEmergency,
        _ => {
            errors.push(FieldError::new("ground", "choose the kind of emergency"));
            EmergencyGround::MedicalEmergency
        }
    };
    EmergencyAccess {
        ground,
        reason: one(pairs, "reason"),
        recipient_name: one(pairs, "recipient_name"),
        recipient_facility: one(pairs, "recipient_facility"),
        nature: one(pairs, "nature"),
    }
}

/// Opens a record in an emergency: the MRN, the reason and the §2.51 facts.
pub async fn break_glass(
    State(state): State<AppState>,
    staff: Staff,
    Form(pairs): Form<Pairs>,
) -> Result<Response, AppError> {
    let grant = state.store.grant::<can::BreakGlass>(&staff.actor)?;
    let mut errors = Vec::new();
    let patient = parse_mrn(&one(&pairs, "mrn"));
    if patient.is_none() {
        errors.push(FieldError::new(
            "mrn",
            "enter the medical record number, e.g. TR000042",
        ));
    }
    let access = parse_emergency(&pairs, &mut errors);
    if let (Some(patient), true) = (patient, errors.is_empty()) {
        match state.store.break_glass(&grant, patient, &access).await {
            // Straight to the form for recording what is then disclosed, which links the chart.
            Ok(_) => {
                return Ok(
                    Redirect::to(&format!("/patients/{patient}/emergency-disclosure"))
                        .into_response(),
                )
            }
            Err(StoreError::Invalid(e)) => errors = e,
            Err(StoreError::NotFound(_)) => {
                errors = vec![FieldError::new("mrn", "no patient has this record number")]
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok((
        StatusCode::UNPROCESSABLE_ENTITY,
        Html(emergency_page(&state, &staff, pairs, &errors).await?),
    )
        .into_response())
}

#[derive(Template)]
#[template(path = "emergency_disclosure.html")]
struct EmergencyDisclosurePage {
    layout: Layout,
    patient_id: i64,
    name: String,
    mrn: String,
    form: Pairs,
    errors: Vec<LabelledError>,
    categories: Vec<(&'static str, &'static str)>,
    recorded: Option<i64>,
}

impl EmergencyDisclosurePage {
    fn value(&self, key: &str) -> String {
        one(&self.form, key)
    }

    fn checked(&self, code: &str) -> bool {
        self.form
            .iter()
            .any(|(k, v)| k == "categories" && v == code)
    }

    fn error(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }
}

async fn emergency_disclosure_page(
    state: &AppState,
    staff: &Staff,
    patient_id: i64,
    form: Pairs,
    errors: &[FieldError],
    recorded: Option<i64>,
) -> Result<String, AppError> {
    Ok(EmergencyDisclosurePage {
        layout: Layout::new(staff, "emergency"),
        patient_id,
        name: patient_heading(state, &staff.actor, patient_id).await?,
        mrn: mrn(patient_id),
        form,
        errors: labelled(errors),
        categories: InformationCategory::ALL
            .iter()
            .map(|c| (c.code(), c.label()))
            .collect(),
        recorded,
    }
    .render()?)
}

/// The form for recording a disclosure made in a medical emergency.
pub async fn emergency_disclosure_form(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    state
        .store
        .patient_grant::<can::BreakGlass>(&staff.actor, id)
        .await?;
    Ok(
        Html(emergency_disclosure_page(&state, &staff, id, Vec::new(), &[], None).await?)
            .into_response(),
    )
}

/// Records a disclosure made in a medical emergency, at the moment it is made (§2.51(c)).
pub async fn record_emergency_disclosure(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Form(pairs): Form<Pairs>,
) -> Result<Response, AppError> {
    let grant = state
        .store
        .patient_grant::<can::BreakGlass>(&staff.actor, id)
        .await?;
    let mut errors = Vec::new();
    let facts = parse_emergency(&pairs, &mut errors);
    let categories = codes(&pairs, "categories", &mut errors);
    if errors.is_empty() {
        let input = EmergencyDisclosureInput {
            ground: facts.ground,
            recipient_name: facts.recipient_name,
            recipient_facility: facts.recipient_facility,
            nature: facts.nature,
            categories,
            information: one(&pairs, "information"),
        };
        match state
            .store
            .record_emergency_disclosure(&grant, &input)
            .await
        {
            Ok(made) => {
                let page =
                    emergency_disclosure_page(&state, &staff, id, Vec::new(), &[], Some(made.id))
                        .await?;
                return Ok(Html(page).into_response());
            }
            Err(StoreError::Invalid(e)) => errors = e,
            Err(e) => return Err(e.into()),
        }
    }
    Ok((
        StatusCode::UNPROCESSABLE_ENTITY,
        Html(emergency_disclosure_page(&state, &staff, id, pairs, &errors, None).await?),
    )
        .into_response())
}

/// Privacy page query.
#[derive(Debug, Deserialize)]
pub struct PeriodQuery {
    from: Option<String>,
    to: Option<String>,
}

#[derive(Template)]
#[template(path = "privacy.html")]
struct PrivacyPage {
    layout: Layout,
    from: String,
    to: String,
    report: PrivacyReport,
    disclosures: Vec<(i64, DisclosureView)>,
    tz: chrono_tz::Tz,
    notice: trellis_domain::consent::NoticeForm,
    notice_forms: &'static [trellis_domain::consent::NoticeForm],
    notice_version: &'static str,
    /// Whether the directory link is shown: only the privacy officer keeps it (others get 403).
    manages_recipients: bool,
    errors: Vec<LabelledError>,
}

impl PrivacyPage {
    fn time(&self, at: &trellis_storage::Instant) -> String {
        view::local_time(at, self.tz)
    }

    fn mrn(&self, id: &i64) -> String {
        mrn(*id)
    }
}

async fn privacy_page(
    state: &AppState,
    staff: &Staff,
    from: NaiveDate,
    to: NaiveDate,
    errors: Vec<FieldError>,
) -> Result<PrivacyPage, AppError> {
    let grant = state.store.grant::<can::ReadAudit>(&staff.actor)?;
    let report = state
        .store
        .privacy_report(&grant, state.timezone, from, to)
        .await?;
    Ok(PrivacyPage {
        layout: Layout::new(staff, "privacy"),
        from: from.to_string(),
        to: to.to_string(),
        disclosures: report
            .disclosures
            .iter()
            .map(|d| (d.patient_id, disclosure_view(d, state)))
            .collect(),
        report,
        tz: state.timezone,
        notice: state.store.disclosure_notice_form().await?,
        notice_forms: trellis_domain::consent::NoticeForm::ALL,
        notice_version: trellis_domain::consent::NOTICE_VERSION,
        manages_recipients: permits(staff.actor.role, Permission::ManageRecipients),
        errors: labelled(&errors),
    })
}

/// The privacy officer's page: disclosures, emergency accesses and revocations by date.
pub async fn privacy(
    State(state): State<AppState>,
    staff: Staff,
    Query(q): Query<PeriodQuery>,
) -> Result<Response, AppError> {
    let today = state.today();
    let mut errors = Vec::new();
    let from = match q.from.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => forms::date("from", s, &mut errors),
        None => Some(today - Duration::days(30)),
    };
    let to = match q.to.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => forms::date("to", s, &mut errors),
        None => Some(today),
    };
    match (from, to) {
        (Some(from), Some(to)) if errors.is_empty() => Ok(Html(
            privacy_page(&state, &staff, from, to, errors)
                .await?
                .render()?,
        )
        .into_response()),
        _ => Err(AppError::Invalid(errors)),
    }
}

/// Notice form: which of the two §2.32 statements.
#[derive(Debug, Deserialize)]
pub struct NoticeForm {
    #[serde(default)]
    notice: String,
}

/// Chooses the §2.32 statement attached to disclosures (one of the rule's two, nothing else).
pub async fn set_notice(
    State(state): State<AppState>,
    staff: Staff,
    Form(form): Form<NoticeForm>,
) -> Result<Response, AppError> {
    let grant = state.store.grant::<can::ReadAudit>(&staff.actor)?;
    let saved = match form.notice.parse() {
        Ok(chosen) => state.store.set_disclosure_notice(&grant, chosen).await,
        Err(_) => Err(StoreError::invalid(
            "notice",
            "choose Statement 1 or Statement 2 of 42 CFR 2.32",
        )),
    };
    match saved {
        Ok(()) => Ok(Redirect::to("/privacy").into_response()),
        Err(StoreError::Invalid(errors)) => {
            let today = state.today();
            let page =
                privacy_page(&state, &staff, today - Duration::days(30), today, errors).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.render()?)).into_response())
        }
        Err(e) => Err(e.into()),
    }
}
