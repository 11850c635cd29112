//! The auditor's pages (42 CFR 2.53): what their agreement lets them review, the patients it
//! covers, and one patient's record within its information, on screen only. There is no print
//! view, download or packet here: the review happens on the program's premises (§2.53(a)).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use trellis_storage::access::can;
use trellis_storage::confidentiality::auditors::AuditorScope;
use trellis_storage::confidentiality::PacketSection;
use trellis_storage::patients::mrn;

use super::Layout;
use crate::error::AppError;
use crate::identity::Staff;
use crate::AppState;

/// Patients listed per page.
const PER_PAGE: i64 = 50;

/// What the agreement covers, ready to show.
pub struct ScopeView {
    authority_id: i64,
    body_name: String,
    scope: String,
    categories: String,
    period: String,
    program: String,
    /// Why nothing may be reviewed now, in words (empty when it may).
    refusal: String,
}

fn scope_view(s: &AuditorScope) -> ScopeView {
    let day = |d: Option<chrono::NaiveDate>| d.map_or_else(String::new, crate::view::date);
    ScopeView {
        authority_id: s.authority_id,
        body_name: s.body_name.clone(),
        scope: s.scope.clone(),
        categories: s
            .categories
            .iter()
            .map(|c| c.label())
            .collect::<Vec<_>>()
            .join(", "),
        period: format!("{} to {}", day(s.starts_on), day(s.ends_on)),
        program: s
            .program
            .clone()
            .unwrap_or_else(|| "Every program".to_owned()),
        refusal: s
            .refusal
            .as_ref()
            .map_or_else(String::new, |r| r.to_string()),
    }
}

#[derive(Template)]
#[template(path = "review/scope.html")]
struct ScopePage {
    layout: Layout,
    s: ScopeView,
    /// (patient id, medical record number).
    patients: Vec<(i64, String)>,
    page: i64,
    more: bool,
}

/// Which page of the patient list.
#[derive(Debug, Deserialize)]
pub struct PageParam {
    page: Option<i64>,
}

/// The auditor's start page: the agreement, what they may and may not do, and its patients.
pub async fn scope(
    State(state): State<AppState>,
    staff: Staff,
    Query(q): Query<PageParam>,
) -> Result<Response, AppError> {
    let grant = state
        .store
        .grant::<can::ReviewUnderAgreement>(&staff.actor)?;
    let scope = state.store.auditor_scope(&grant).await?;
    let page = q.page.unwrap_or(1).clamp(1, 10_000);
    let patients = if scope.refusal.is_none() {
        state
            .store
            .auditor_patients(&grant, PER_PAGE + 1, (page - 1) * PER_PAGE)
            .await?
    } else {
        Vec::new()
    };
    let more = patients.len() as i64 > PER_PAGE;
    let p = ScopePage {
        layout: Layout::new(&staff, "review"),
        s: scope_view(&scope),
        patients: patients
            .into_iter()
            .take(PER_PAGE as usize)
            .map(|id| (id, mrn(id)))
            .collect(),
        page,
        more,
    };
    Ok(Html(p.render()?).into_response())
}

#[derive(Template)]
#[template(path = "review/patient.html")]
struct PatientPage {
    layout: Layout,
    s: ScopeView,
    mrn: String,
    sections: Vec<PacketSection>,
}

/// One patient's record within the agreement's information (audited, listed for the privacy
/// officer). Refused for a patient outside the agreement's program or once it has ended.
pub async fn patient(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let grant = state
        .store
        .patient_grant::<can::ReviewUnderAgreement>(&staff.actor, id)
        .await?;
    let scope = state
        .store
        .auditor_scope(
            &state
                .store
                .grant::<can::ReviewUnderAgreement>(&staff.actor)?,
        )
        .await?;
    let review = state.store.auditor_review(&grant).await?;
    let p = PatientPage {
        layout: Layout::new(&staff, "review"),
        s: scope_view(&scope),
        mrn: mrn(review.patient_id),
        sections: review.sections,
    };
    Ok(Html(p.render()?).into_response())
}
