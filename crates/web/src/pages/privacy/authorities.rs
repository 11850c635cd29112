//! Disclosures without consent, for the privacy officer: the register of court orders and
//! QSO, audit and research agreements with the forms to record them, each one's page with the
//! disclosures made under it, and the form that discloses a patient's records under one.

use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use trellis_domain::consent::{
    AuditBody, AuthorityKind, BoardDetermination, CommunicationsGround, InformationCategory,
    OrderPurpose, UndercoverOrder, UNDERCOVER_USE_LIMIT,
};
use trellis_domain::patient::FieldError;
use trellis_storage::access::can;
use trellis_storage::confidentiality::authorities::{
    AuthorisedDisclosureInput, AuthorisedOutcome, AuthorityRecord, NewAuthority,
};
use trellis_storage::patients::{mrn, parse_mrn};
use trellis_storage::StoreError;

use super::super::confidentiality::patient_heading;
use super::super::{labelled, LabelledError, Layout};
use super::{all, one, Pairs};
use crate::api::privacy::authorities::{parse_authority, Fields};
use crate::error::AppError;
use crate::forms;
use crate::identity::Staff;
use crate::AppState;

impl Fields for Pairs {
    fn text(&self, key: &str) -> String {
        one(self, key)
    }

    fn flag(&self, key: &str) -> bool {
        !one(self, key).is_empty()
    }
}

/// An order or agreement, ready to show.
pub struct AuthorityRow {
    id: i64,
    kind: &'static str,
    patient: String,
    recipient: String,
    categories: String,
    period: String,
    in_effect: bool,
    summary: String,
    recorded: String,
}

fn row(r: &AuthorityRecord) -> AuthorityRow {
    let a = &r.authority;
    let day = |d: Option<chrono::NaiveDate>| d.map_or_else(String::new, crate::view::date);
    AuthorityRow {
        id: r.id,
        kind: a.kind().label(),
        patient: r.patient_id.map_or_else(String::new, mrn),
        recipient: r.recipient_name.clone(),
        categories: a
            .categories
            .iter()
            .map(|c| c.label())
            .collect::<Vec<_>>()
            .join(", "),
        period: format!("{} to {}", day(a.starts_on), day(a.ends_on)),
        in_effect: r.in_effect,
        summary: a.scope_summary(&r.recipient_name),
        recorded: format!(
            "{} by {}",
            crate::view::date(r.recorded_at.0.date_naive()),
            r.recorded_by
        ),
    }
}

/// An order placing an undercover agent or informant, ready to show.
pub struct PlacementRow {
    id: i64,
    court: String,
    applicant: String,
    period: String,
    running: bool,
    measures: String,
    recorded: String,
}

type Choices = Vec<(&'static str, &'static str)>;

fn choices<T: Copy>(
    all: &[T],
    code: fn(T) -> &'static str,
    label: fn(T) -> &'static str,
) -> Choices {
    all.iter().map(|v| (code(*v), label(*v))).collect()
}

fn category_choices() -> Choices {
    InformationCategory::ALL
        .iter()
        .filter(|c| **c != InformationCategory::CounselingNotes)
        .map(|c| (c.code(), c.label()))
        .collect()
}

#[derive(Template)]
#[template(path = "privacy/authorities.html")]
struct RegisterPage {
    layout: Layout,
    rows: Vec<AuthorityRow>,
    recipients: Vec<(String, String)>,
    categories: Choices,
    purposes: Choices,
    grounds: Choices,
    agreement_kinds: Choices,
    audit_bodies: Choices,
    determinations: Choices,
    /// Orders placing an undercover agent or informant (§2.67).
    placements: Vec<PlacementRow>,
    /// What the agent may do with what they learn, shown with the orders.
    use_limit: &'static str,
    /// Which form was sent ("court_order", "agreement" or "undercover"), to show its values
    /// and errors.
    sent: &'static str,
    form: Pairs,
    errors: Vec<LabelledError>,
}

impl RegisterPage {
    fn value(&self, form: &str, key: &str) -> String {
        if self.sent == form {
            one(&self.form, key)
        } else {
            String::new()
        }
    }

    fn checked(&self, form: &str, key: &str, code: &str) -> bool {
        self.sent == form && all(&self.form, key).iter().any(|v| v == code)
    }

    fn error(&self, form: &str, field: &str) -> Option<&str> {
        if self.sent != form {
            return None;
        }
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }
}

async fn register_page(
    state: &AppState,
    staff: &Staff,
    sent: &'static str,
    form: Pairs,
    errors: &[FieldError],
) -> Result<RegisterPage, AppError> {
    let grant = state
        .store
        .grant::<can::DiscloseWithoutConsent>(&staff.actor)?;
    let rows = state.store.authorities(&grant).await?;
    let directory = state.store.grant::<can::Disclose>(&staff.actor)?;
    let recipients = state
        .store
        .recipients(&directory)
        .await?
        .into_iter()
        .filter(|r| r.is_current())
        .map(|r| {
            (
                r.id.to_string(),
                format!("{} · {}", r.recipient.name, r.recipient.kind.label()),
            )
        })
        .collect();
    let placements = state
        .store
        .undercover_orders(&grant)
        .await?
        .into_iter()
        .map(|p| {
            let day = |d: Option<chrono::NaiveDate>| d.map_or_else(String::new, crate::view::date);
            PlacementRow {
                id: p.id,
                court: format!("{}, case {}", p.order.court, p.order.case_number),
                applicant: p.order.applicant,
                period: format!("{} to {}", day(p.order.placed_on), day(p.order.ends_on)),
                running: p.running,
                measures: p.order.protective_measures,
                recorded: format!(
                    "{} by {}",
                    crate::view::date(p.recorded_at.0.date_naive()),
                    p.recorded_by
                ),
            }
        })
        .collect();
    Ok(RegisterPage {
        layout: Layout::new(staff, "privacy"),
        rows: rows.iter().map(row).collect(),
        placements,
        use_limit: UNDERCOVER_USE_LIMIT,
        recipients,
        categories: category_choices(),
        purposes: choices(OrderPurpose::ALL, OrderPurpose::code, OrderPurpose::label),
        grounds: choices(
            CommunicationsGround::ALL,
            CommunicationsGround::code,
            CommunicationsGround::label,
        ),
        agreement_kinds: AuthorityKind::ALL
            .iter()
            .filter(|k| **k != AuthorityKind::CourtOrder)
            .map(|k| (k.code(), k.label()))
            .collect(),
        audit_bodies: choices(AuditBody::ALL, AuditBody::code, AuditBody::label),
        determinations: choices(
            BoardDetermination::ALL,
            BoardDetermination::code,
            BoardDetermination::label,
        ),
        sent,
        form,
        errors: labelled(errors),
    })
}

/// The register of court orders and agreements, with the forms to record them.
pub async fn register(State(state): State<AppState>, staff: Staff) -> Result<Response, AppError> {
    let p = register_page(&state, &staff, "", Vec::new(), &[]).await?;
    Ok(Html(p.render()?).into_response())
}

fn recipient_id(form: &Pairs) -> Option<i64> {
    one(form, "recipient_id").parse().ok()
}

async fn saved_or_refused(
    state: &AppState,
    staff: &Staff,
    sent: &'static str,
    form: Pairs,
    result: Result<i64, AppError>,
) -> Result<Response, AppError> {
    match result {
        Ok(id) => {
            Ok(Redirect::to(&format!("/privacy/authorities/{id}?saved=recorded")).into_response())
        }
        Err(AppError::Invalid(errors)) => {
            let p = register_page(state, staff, sent, form, &errors).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(p.render()?)).into_response())
        }
        Err(e) => Err(e),
    }
}

fn invalid(e: StoreError) -> AppError {
    match e {
        StoreError::Invalid(errors) => AppError::Invalid(errors),
        e => e.into(),
    }
}

/// Records a court order about one patient (by medical record number).
pub async fn record_court_order(
    State(state): State<AppState>,
    staff: Staff,
    Form(form): Form<Pairs>,
) -> Result<Response, AppError> {
    let grant = state
        .store
        .grant::<can::DiscloseWithoutConsent>(&staff.actor)?;
    let mut errors = Vec::new();
    let patient_id = parse_mrn(&one(&form, "patient"));
    if patient_id.is_none() {
        errors.push(FieldError::new(
            "patient",
            "give the patient's medical record number (TR000042)",
        ));
    }
    let new = parse_authority(
        AuthorityKind::CourtOrder,
        &form,
        &all(&form, "categories"),
        recipient_id(&form),
        &mut errors,
    );
    let result = match (patient_id, new, errors.is_empty()) {
        (Some(pid), Some(new), true) => {
            match state
                .store
                .patient_grant::<can::DiscloseWithoutConsent>(&staff.actor, pid)
                .await
            {
                Ok(patient) => state
                    .store
                    .record_authority(&grant, Some(&patient), &new)
                    .await
                    .map_err(invalid),
                Err(StoreError::NotFound(_)) => Err(AppError::Invalid(vec![FieldError::new(
                    "patient",
                    "no patient has this medical record number",
                )])),
                Err(e) => Err(e.into()),
            }
        }
        _ => Err(AppError::Invalid(errors)),
    };
    saved_or_refused(&state, &staff, "court_order", form, result).await
}

/// Records a QSO, audit or evaluation, or research agreement.
pub async fn record_agreement(
    State(state): State<AppState>,
    staff: Staff,
    Form(form): Form<Pairs>,
) -> Result<Response, AppError> {
    let grant = state
        .store
        .grant::<can::DiscloseWithoutConsent>(&staff.actor)?;
    let mut errors = Vec::new();
    let kind = one(&form, "kind")
        .parse::<AuthorityKind>()
        .ok()
        .filter(|k| *k != AuthorityKind::CourtOrder);
    let result = match kind {
        None => Err(AppError::Invalid(vec![FieldError::new(
            "kind",
            "choose the kind of agreement",
        )])),
        Some(kind) => {
            let new = parse_authority(
                kind,
                &form,
                &all(&form, "categories"),
                recipient_id(&form),
                &mut errors,
            );
            match (new, errors.is_empty()) {
                (Some(new), true) => state
                    .store
                    .record_authority(&grant, None, &new)
                    .await
                    .map_err(invalid),
                _ => Err(AppError::Invalid(errors)),
            }
        }
    };
    saved_or_refused(&state, &staff, "agreement", form, result).await
}

/// Records an order placing an undercover agent or informant (§2.67).
pub async fn record_undercover(
    State(state): State<AppState>,
    staff: Staff,
    Form(form): Form<Pairs>,
) -> Result<Response, AppError> {
    let grant = state
        .store
        .grant::<can::DiscloseWithoutConsent>(&staff.actor)?;
    let mut errors = Vec::new();
    let date =
        |key: &'static str, errors: &mut Vec<FieldError>| super::optional_date(&form, key, errors);
    let order = UndercoverOrder {
        court: one(&form, "court"),
        case_number: one(&form, "case_number"),
        applicant: one(&form, "applicant"),
        dated_on: date("dated_on", &mut errors),
        placed_on: date("placed_on", &mut errors),
        ends_on: date("ends_on", &mut errors),
        director_notice: form.flag("director_notice"),
        criminal_activity: form.flag("criminal_activity"),
        other_means_unavailable: form.flag("other_means_unavailable"),
        public_interest_outweighs: form.flag("public_interest_outweighs"),
        placement_authorised: form.flag("placement_authorised"),
        disclosure_limited: form.flag("disclosure_limited"),
        protective_measures: one(&form, "protective_measures"),
    };
    let result = if errors.is_empty() {
        state
            .store
            .record_undercover_order(&grant, &order)
            .await
            .map_err(invalid)
    } else {
        Err(AppError::Invalid(errors))
    };
    match result {
        Ok(id) => {
            let mut p = register_page(&state, &staff, "", Vec::new(), &[]).await?;
            p.layout.notice = Some(format!("Placement order #{id} recorded (42 CFR 2.67)."));
            Ok(Html(p.render()?).into_response())
        }
        Err(AppError::Invalid(errors)) => {
            let p = register_page(&state, &staff, "undercover", form, &errors).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(p.render()?)).into_response())
        }
        Err(e) => Err(e),
    }
}

/// One disclosure made under an order or agreement, as the privacy officer reviews it.
pub struct AccessRow {
    disclosure_id: i64,
    patient_id: i64,
    mrn: String,
    when: String,
    by: String,
    categories: String,
}

#[derive(Template)]
#[template(path = "privacy/authority.html")]
struct AuthorityPage {
    layout: Layout,
    a: AuthorityRow,
    access: Vec<AccessRow>,
    /// Neither ended nor past its last day: it may be corrected or ended.
    can_change: bool,
    /// When it was ended early, in words.
    ended: String,
    /// Its corrections and early end: what, why, when and by whom.
    changes: Vec<(&'static str, String, String)>,
    categories: Choices,
    /// The categories it allows now (codes), for the correction form.
    current: Vec<&'static str>,
    starts_on: String,
    ends_on: String,
    errors: Vec<LabelledError>,
    /// An audit or evaluation agreement: its auditor accounts and their reviews are shown.
    is_audit: bool,
    /// Auditor accounts bound to it: username, name, status, program.
    auditors: Vec<(String, String, &'static str, String)>,
    /// The auditors' reviews, newest first, one page.
    reads: Vec<ReadRow>,
    reads_page: i64,
    reads_more: bool,
    auditor_label: &'static str,
}

/// One record an auditor reviewed under the agreement.
pub struct ReadRow {
    id: i64,
    username: String,
    mrn: String,
    when: String,
    categories: String,
}

/// Auditor reviews listed per page.
const READS_PER_PAGE: i64 = 50;

impl AuthorityPage {
    fn allows(&self, code: &str) -> bool {
        self.current.contains(&code)
    }
}

/// Category codes as the labels staff read.
fn labels(codes: &[String]) -> String {
    codes
        .iter()
        .map(|c| {
            c.parse::<InformationCategory>()
                .map_or_else(|_| c.clone(), |c| c.label().to_owned())
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Set after a save, for the confirmation (no names in the URL).
#[derive(Debug, serde::Deserialize)]
pub struct Saved {
    saved: Option<String>,
    reads_page: Option<i64>,
}

async fn authority_page(
    state: &AppState,
    staff: &Staff,
    id: i64,
    errors: &[FieldError],
    reads_page: i64,
) -> Result<(AuthorityPage, AuthorityRecord), AppError> {
    let grant = state
        .store
        .grant::<can::DiscloseWithoutConsent>(&staff.actor)?;
    let (record, access) = state.store.authority(&grant, id).await?;
    let a = &record.authority;
    let is_audit = a.kind() == AuthorityKind::AuditEvaluation;
    let (auditors, mut reads) = if is_audit {
        (
            state.store.auditor_accounts(&grant, id).await?,
            state
                .store
                .auditor_reads(
                    &grant,
                    id,
                    READS_PER_PAGE + 1,
                    (reads_page - 1) * READS_PER_PAGE,
                )
                .await?,
        )
    } else {
        (Vec::new(), Vec::new())
    };
    let reads_more = reads.len() as i64 > READS_PER_PAGE;
    reads.truncate(READS_PER_PAGE as usize);
    let day = |d: Option<chrono::NaiveDate>| d.map_or_else(String::new, |d| d.to_string());
    let page = AuthorityPage {
        layout: Layout::new(staff, "privacy"),
        a: row(&record),
        can_change: a.ended_at.is_none() && a.ends_on.is_some_and(|end| end >= state.today()),
        ended: a.ended_at.map_or_else(String::new, |at| {
            crate::view::local_time(&trellis_storage::Instant(at), state.timezone)
        }),
        changes: record
            .changes
            .iter()
            .map(|c| {
                (
                    if c.change == "end" {
                        "Ended early"
                    } else {
                        "Corrected"
                    },
                    c.reason.clone(),
                    format!(
                        "{} by {}",
                        crate::view::local_time(&c.changed_at, state.timezone),
                        c.changed_by
                    ),
                )
            })
            .collect(),
        categories: category_choices(),
        current: a.categories.iter().map(|c| c.code()).collect(),
        starts_on: day(a.starts_on),
        ends_on: day(a.ends_on),
        errors: labelled(errors),
        is_audit,
        auditors: auditors
            .into_iter()
            .map(|u| {
                (
                    u.username,
                    u.display_name,
                    if u.active {
                        "active"
                    } else {
                        "inactive (awaiting approval or switched off)"
                    },
                    u.program.unwrap_or_else(|| "Every program".to_owned()),
                )
            })
            .collect(),
        reads: reads
            .into_iter()
            .map(|r| ReadRow {
                id: r.id,
                username: r.username,
                mrn: mrn(r.patient_id),
                when: crate::view::local_time(&r.reviewed_at, state.timezone),
                categories: labels(&r.categories),
            })
            .collect(),
        reads_page,
        reads_more,
        auditor_label: trellis_domain::access::Role::Auditor.label(),
        access: access
            .into_iter()
            .map(|x| AccessRow {
                disclosure_id: x.disclosure_id,
                patient_id: x.patient_id,
                mrn: mrn(x.patient_id),
                when: crate::view::local_time(&x.disclosed_at, state.timezone),
                by: x.disclosed_by,
                categories: labels(&x.categories),
            })
            .collect(),
    };
    Ok((page, record))
}

/// One order or agreement with the disclosures made under it, its corrections and end.
pub async fn authority(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    axum::extract::Query(q): axum::extract::Query<Saved>,
) -> Result<Response, AppError> {
    let reads_page = q.reads_page.unwrap_or(1).clamp(1, 10_000);
    let (mut page, record) = authority_page(&state, &staff, id, &[], reads_page).await?;
    let kind = record.authority.kind().label();
    page.layout.notice = match q.saved.as_deref() {
        Some("ended") => Some(format!(
            "{kind} #{id} ended: it authorises nothing from now."
        )),
        Some("corrected") => Some(format!("{kind} #{id} corrected.")),
        Some(_) => Some(format!("{kind} #{id} recorded.")),
        None => None,
    };
    Ok(Html(page.render()?).into_response())
}

async fn changed_or_refused(
    state: &AppState,
    staff: &Staff,
    id: i64,
    saved: &str,
    result: Result<(), AppError>,
) -> Result<Response, AppError> {
    match result {
        Ok(()) => {
            Ok(Redirect::to(&format!("/privacy/authorities/{id}?saved={saved}")).into_response())
        }
        Err(AppError::Invalid(errors)) => {
            let (page, _) = authority_page(state, staff, id, &errors, 1).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.render()?)).into_response())
        }
        Err(e) => Err(e),
    }
}

/// Ends an order or agreement early, with the reason (the court vacated it…).
pub async fn end(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Form(form): Form<Pairs>,
) -> Result<Response, AppError> {
    let grant = state
        .store
        .grant::<can::DiscloseWithoutConsent>(&staff.actor)?;
    state.store.authority_kind(id).await?;
    let result = state
        .store
        .end_authority(&grant, id, &one(&form, "reason"))
        .await
        .map_err(invalid);
    changed_or_refused(&state, &staff, id, "ended", result).await
}

/// Corrects an order's or agreement's limits (information and period), with the reason; the
/// rest of its terms are corrected over the API.
pub async fn correct(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Form(form): Form<Pairs>,
) -> Result<Response, AppError> {
    let grant = state
        .store
        .grant::<can::DiscloseWithoutConsent>(&staff.actor)?;
    let (_, record) = authority_page(&state, &staff, id, &[], 1).await?;
    let mut errors = Vec::new();
    let categories = all(&form, "categories")
        .iter()
        .filter_map(|c| {
            forms::code::<InformationCategory>(
                "categories",
                c,
                "must be information categories",
                &mut errors,
            )
        })
        .collect();
    let mut date = |key: &'static str| {
        let value = one(&form, key);
        if value.is_empty() {
            errors.push(FieldError::new(key, "is required"));
            None
        } else {
            forms::date(key, &value, &mut errors)
        }
    };
    let (starts_on, ends_on) = (date("starts_on"), date("ends_on"));
    let result = if errors.is_empty() {
        let a = &record.authority;
        let new = NewAuthority {
            terms: a.terms.clone(),
            recipient_id: Some(a.recipient_id),
            categories,
            dated_on: a.dated_on,
            starts_on,
            ends_on,
            recipient_bound: a.recipient_bound,
        };
        state
            .store
            .correct_authority(&grant, id, &new, &one(&form, "reason"))
            .await
            .map_err(invalid)
    } else {
        Err(AppError::Invalid(errors))
    };
    changed_or_refused(&state, &staff, id, "corrected", result).await
}

#[derive(Template)]
#[template(path = "privacy/authorised_disclosure.html")]
struct DisclosePage {
    layout: Layout,
    patient_id: i64,
    name: String,
    mrn: String,
    rows: Vec<AuthorityRow>,
    categories: Choices,
    form: Pairs,
    errors: Vec<LabelledError>,
    refusal: Option<String>,
}

impl DisclosePage {
    fn chosen(&self, id: &i64) -> bool {
        one(&self.form, "authority_id") == id.to_string()
    }

    fn checked(&self, code: &str) -> bool {
        all(&self.form, "categories").iter().any(|v| v == code)
    }
}

async fn disclose_page(
    state: &AppState,
    staff: &Staff,
    patient_id: i64,
    form: Pairs,
    errors: &[FieldError],
    refusal: Option<String>,
) -> Result<String, AppError> {
    let grant = state
        .store
        .patient_grant::<can::DiscloseWithoutConsent>(&staff.actor, patient_id)
        .await?;
    let rows = state.store.authorities_for_patient(&grant).await?;
    Ok(DisclosePage {
        layout: Layout::new(staff, "privacy"),
        patient_id,
        name: patient_heading(state, &staff.actor, patient_id).await?,
        mrn: mrn(patient_id),
        rows: rows.iter().map(row).collect(),
        categories: category_choices(),
        form,
        errors: labelled(errors),
        refusal,
    }
    .render()?)
}

/// The form to disclose under a court order about this patient or an agreement.
pub async fn disclose_form(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    Ok(Html(disclose_page(&state, &staff, id, Vec::new(), &[], None).await?).into_response())
}

/// Discloses under the chosen order or agreement; an allowed disclosure opens its packet, a
/// refusal is shown with its reason.
pub async fn disclose(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Form(form): Form<Pairs>,
) -> Result<Response, AppError> {
    let grant = state
        .store
        .patient_grant::<can::DiscloseWithoutConsent>(&staff.actor, id)
        .await?;
    let mut errors = Vec::new();
    let mut categories = std::collections::BTreeSet::new();
    for c in all(&form, "categories") {
        match c.parse::<InformationCategory>() {
            Ok(c) => {
                categories.insert(c);
            }
            Err(_) => errors.push(FieldError::new("categories", "unknown choice")),
        }
    }
    let mut refusal = None;
    if errors.is_empty() {
        let input = AuthorisedDisclosureInput {
            authority_id: one(&form, "authority_id").parse().ok(),
            categories,
        };
        match state.store.disclose_under_authority(&grant, &input).await {
            Ok(AuthorisedOutcome::Made(d)) => {
                return Ok(
                    Redirect::to(&format!("/patients/{id}/disclosures/{}", d.id)).into_response(),
                )
            }
            Ok(AuthorisedOutcome::Refused(r)) => refusal = Some(r.to_string()),
            Err(StoreError::Invalid(e)) => errors = e,
            Err(e) => return Err(e.into()),
        }
    }
    let status = if refusal.is_some() {
        StatusCode::CONFLICT
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((
        status,
        Html(disclose_page(&state, &staff, id, form, &errors, refusal).await?),
    )
        .into_response())
}
