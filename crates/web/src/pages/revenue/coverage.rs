//! The chart's Coverage tab: the patient's coverages (primary, secondary, self-pay) with the
//! subscriber and the card's ids, and the eligibility checks recorded on each. Billing keeps
//! them; the clinical director and administrators read them. Every read is audited by the store.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use serde::Deserialize;
use trellis_domain::access::{permits, Permission};
use trellis_domain::patient::FieldError;
use trellis_domain::revenue::coverage::{
    CoverageRank, CoverageTerms, EligibilityMethod, EligibilityResult, SubscriberRelationship,
};
use trellis_storage::access::can;
use trellis_storage::revenue::coverages::NewEligibilityCheck;

use crate::error::AppError;
use crate::forms;
use crate::identity::Staff;
use crate::pages::patients::{chart_data, ChartHeader};
use crate::pages::{labelled, ChartTabs, LabelledError, Layout};
use crate::view;
use crate::AppState;

/// The coverage form as posted.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CoverageForm {
    #[serde(default)]
    rank: String,
    #[serde(default)]
    payer_id: String,
    #[serde(default)]
    relationship: String,
    #[serde(default)]
    subscriber_name: String,
    #[serde(default)]
    member_id: String,
    #[serde(default)]
    group_number: String,
    #[serde(default)]
    effective_from: String,
    #[serde(default)]
    effective_to: String,
}

impl CoverageForm {
    fn of(t: &CoverageTerms) -> CoverageForm {
        CoverageForm {
            rank: t.rank.code().into(),
            payer_id: t.payer_id.map(|p| p.to_string()).unwrap_or_default(),
            relationship: t.relationship.code().into(),
            subscriber_name: t.subscriber_name.clone(),
            member_id: t.member_id.clone(),
            group_number: t.group_number.clone(),
            effective_from: t.effective_from.to_string(),
            effective_to: t.effective_to.map(|d| d.to_string()).unwrap_or_default(),
        }
    }
}

/// The coverage's terms, or every problem with the form.
fn parse_coverage(f: &CoverageForm) -> Result<CoverageTerms, AppError> {
    let mut errors = Vec::new();
    let rank = forms::code::<CoverageRank>(
        "rank",
        &f.rank,
        "choose primary, secondary or self-pay",
        &mut errors,
    );
    let payer_id = forms::optional_id("payer_id", &f.payer_id, &mut errors);
    let relationship = forms::code::<SubscriberRelationship>(
        "relationship",
        &f.relationship,
        "choose the patient's relationship to the subscriber",
        &mut errors,
    );
    let from = forms::date("effective_from", &f.effective_from, &mut errors);
    let to = if f.effective_to.trim().is_empty() {
        None
    } else {
        forms::date("effective_to", &f.effective_to, &mut errors)
    };
    match (rank, relationship, from) {
        (Some(rank), Some(relationship), Some(effective_from)) if errors.is_empty() => {
            Ok(CoverageTerms {
                rank,
                payer_id,
                relationship,
                subscriber_name: f.subscriber_name.clone(),
                member_id: f.member_id.clone(),
                group_number: f.group_number.clone(),
                effective_from,
                effective_to: to,
            })
        }
        _ => Err(AppError::Invalid(errors)),
    }
}

/// The eligibility form as posted.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct EligibilityForm {
    #[serde(default)]
    checked_on: String,
    #[serde(default)]
    method: String,
    #[serde(default)]
    result: String,
    #[serde(default)]
    reference: String,
}

fn parse_check(f: &EligibilityForm) -> Result<NewEligibilityCheck, AppError> {
    let mut errors = Vec::new();
    let checked_on = forms::date("checked_on", &f.checked_on, &mut errors);
    let method = forms::code::<EligibilityMethod>(
        "method",
        &f.method,
        "choose how eligibility was checked",
        &mut errors,
    );
    let result = forms::code::<EligibilityResult>(
        "result",
        &f.result,
        "choose what the check found",
        &mut errors,
    );
    match (checked_on, method, result) {
        (Some(checked_on), Some(method), Some(result)) => Ok(NewEligibilityCheck {
            checked_on,
            method,
            result,
            reference: f.reference.clone(),
        }),
        _ => Err(AppError::Invalid(errors)),
    }
}

/// An eligibility check, ready to show.
pub struct CheckView {
    checked_on: String,
    method: &'static str,
    result: &'static str,
    tone: &'static str,
    reference: String,
    checked_by: String,
}

/// One coverage, ready to show and change.
pub struct CoverageView {
    id: i64,
    rank: &'static str,
    payer: String,
    subscriber: String,
    member_id: String,
    group_number: String,
    dates: String,
    in_force: bool,
    checks: Vec<CheckView>,
    /// Where a refused check or change of this coverage comes back ("e3", "c3").
    eplace: String,
    cplace: String,
    /// The change form's id prefix ("c3_").
    cprefix: String,
    form: CoverageForm,
}

#[derive(Template)]
#[template(path = "revenue/coverage.html")]
struct CoveragePage {
    layout: Layout,
    header: ChartHeader,
    tabs: ChartTabs,
    can_manage: bool,
    coverages: Vec<CoverageView>,
    payers: Vec<(i64, String)>,
    ranks: Vec<(&'static str, &'static str)>,
    relationships: Vec<(&'static str, &'static str)>,
    methods: Vec<(&'static str, &'static str)>,
    results: Vec<(&'static str, &'static str)>,
    today: String,
    form: CoverageForm,
    /// Where the refused form was: "new", "c<id>" (a change) or "e<id>" (a check).
    failed: String,
    errors: Vec<LabelledError>,
    eligibility: EligibilityForm,
}

fn dates(from: NaiveDate, to: Option<NaiveDate>) -> String {
    match to {
        Some(to) => format!("{} to {}", view::date(from), view::date(to)),
        None => format!("from {}", view::date(from)),
    }
}

/// What went wrong where, when a form comes back refused.
struct Refused<'a> {
    place: String,
    errors: &'a [FieldError],
    coverage: Option<CoverageForm>,
    eligibility: Option<EligibilityForm>,
}

async fn render(
    state: &AppState,
    staff: &Staff,
    patient_id: i64,
    refused: Option<Refused<'_>>,
    notice: Option<String>,
) -> Result<String, AppError> {
    let data = chart_data(state, &staff.actor, patient_id).await?;
    let grant = state
        .store
        .patient_grant::<can::ReadBilling>(&staff.actor, patient_id)
        .await?;
    let coverages = state.store.coverages(&grant).await?;
    let billing = state.store.grant::<can::ReadBilling>(&staff.actor)?;
    let payers = state.store.payers(&billing).await?;
    let today = state.today();
    let (place, errors, new_form, eligibility) = match refused {
        Some(r) => (r.place, r.errors.to_vec(), r.coverage, r.eligibility),
        None => (String::new(), Vec::new(), None, None),
    };
    let coverages = coverages
        .into_iter()
        .map(|c| {
            let t = &c.terms;
            let form = match (&new_form, place == format!("c{}", c.id)) {
                (Some(f), true) => f.clone(),
                _ => CoverageForm::of(t),
            };
            CoverageView {
                id: c.id,
                rank: t.rank.label(),
                payer: c
                    .payer_name
                    .clone()
                    .unwrap_or_else(|| "Self-pay".to_owned()),
                subscriber: if t.rank == CoverageRank::SelfPay {
                    String::new()
                } else if t.relationship == SubscriberRelationship::Own {
                    "The patient".to_owned()
                } else {
                    format!("{} ({})", t.subscriber_name, t.relationship.label())
                },
                member_id: t.member_id.clone(),
                group_number: t.group_number.clone(),
                dates: dates(t.effective_from, t.effective_to),
                in_force: t.in_force_on(today),
                checks: c
                    .checks
                    .iter()
                    .map(|e| CheckView {
                        checked_on: view::date(e.checked_on),
                        method: e.method.label(),
                        result: e.result.label(),
                        tone: match e.result {
                            EligibilityResult::Active => "ok",
                            EligibilityResult::Inactive => "flag",
                            EligibilityResult::NotConfirmed => "warn",
                        },
                        reference: e.reference.clone(),
                        checked_by: e.checked_by.clone(),
                    })
                    .collect(),
                eplace: format!("e{}", c.id),
                cplace: format!("c{}", c.id),
                cprefix: format!("c{}_", c.id),
                form,
            }
        })
        .collect();
    let role = staff.actor.role;
    let form = match (&new_form, place.as_str()) {
        (Some(f), "new") => f.clone(),
        _ => CoverageForm {
            rank: "primary".into(),
            relationship: "self".into(),
            effective_from: today.to_string(),
            ..CoverageForm::default()
        },
    };
    let mut layout = Layout::new(staff, "patients");
    layout.notice = notice;
    Ok(CoveragePage {
        layout,
        tabs: ChartTabs::new(role, data.header.id, "coverage"),
        header: data.header,
        can_manage: permits(role, Permission::ManageBilling),
        coverages,
        payers: payers
            .into_iter()
            .filter(|p| p.retired_at.is_none())
            .map(|p| (p.id, p.terms.name))
            .collect(),
        ranks: CoverageRank::ALL
            .iter()
            .map(|r| (r.code(), r.label()))
            .collect(),
        relationships: SubscriberRelationship::ALL
            .iter()
            .map(|r| (r.code(), r.label()))
            .collect(),
        methods: EligibilityMethod::ALL
            .iter()
            .map(|m| (m.code(), m.label()))
            .collect(),
        results: EligibilityResult::ALL
            .iter()
            .map(|r| (r.code(), r.label()))
            .collect(),
        today: today.to_string(),
        form,
        failed: place,
        errors: labelled(&errors),
        eligibility: eligibility.unwrap_or_else(|| EligibilityForm {
            checked_on: today.to_string(),
            ..EligibilityForm::default()
        }),
    }
    .render()?)
}

/// Whether the page follows a save (to confirm it).
#[derive(Deserialize)]
pub struct Saved {
    saved: Option<String>,
}

/// The patient's coverages and the eligibility checks on them.
pub async fn tab(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Query(saved): Query<Saved>,
) -> Result<Response, AppError> {
    let notice = saved.saved.map(|what| {
        if what == "check" {
            "Eligibility check recorded.".to_owned()
        } else {
            "Coverage saved.".to_owned()
        }
    });
    Ok(Html(render(&state, &staff, id, None, notice).await?).into_response())
}

async fn answer(
    state: &AppState,
    staff: &Staff,
    id: i64,
    result: Result<&str, AppError>,
    refused: impl FnOnce(&[FieldError]) -> Refused<'_>,
) -> Result<Response, AppError> {
    match result {
        Ok(what) => {
            Ok(Redirect::to(&format!("/patients/{id}/coverage?saved={what}")).into_response())
        }
        Err(AppError::Invalid(errors)) => {
            let html = render(state, staff, id, Some(refused(&errors)), None).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(html)).into_response())
        }
        Err(e) => Err(e),
    }
}

/// Adds a coverage.
pub async fn add(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Form(form): Form<CoverageForm>,
) -> Result<Response, AppError> {
    let grant = state
        .store
        .patient_grant::<can::ManageBilling>(&staff.actor, id)
        .await?;
    let result = match parse_coverage(&form) {
        Ok(terms) => state
            .store
            .add_coverage(&grant, &terms)
            .await
            .map(|_| "coverage")
            .map_err(AppError::from),
        Err(e) => Err(e),
    };
    answer(&state, &staff, id, result, |errors| Refused {
        place: "new".into(),
        errors,
        coverage: Some(form),
        eligibility: None,
    })
    .await
}

/// Corrects a coverage, or ends it.
pub async fn update(
    State(state): State<AppState>,
    staff: Staff,
    Path((id, coverage)): Path<(i64, i64)>,
    Form(form): Form<CoverageForm>,
) -> Result<Response, AppError> {
    let grant = state
        .store
        .patient_grant::<can::ManageBilling>(&staff.actor, id)
        .await?;
    let result = match parse_coverage(&form) {
        Ok(terms) => state
            .store
            .update_coverage(&grant, coverage, &terms)
            .await
            .map(|()| "coverage")
            .map_err(AppError::from),
        Err(e) => Err(e),
    };
    answer(&state, &staff, id, result, |errors| Refused {
        place: format!("c{coverage}"),
        errors,
        coverage: Some(form),
        eligibility: None,
    })
    .await
}

/// Records an eligibility check on a coverage.
pub async fn check(
    State(state): State<AppState>,
    staff: Staff,
    Path((id, coverage)): Path<(i64, i64)>,
    Form(form): Form<EligibilityForm>,
) -> Result<Response, AppError> {
    let grant = state
        .store
        .patient_grant::<can::ManageBilling>(&staff.actor, id)
        .await?;
    let result = match parse_check(&form) {
        Ok(check) => state
            .store
            .record_eligibility_check(&grant, coverage, &check, state.today())
            .await
            .map(|_| "check")
            .map_err(AppError::from),
        Err(e) => Err(e),
    };
    answer(&state, &staff, id, result, |errors| Refused {
        place: format!("e{coverage}"),
        errors,
        coverage: None,
        eligibility: Some(form),
    })
    .await
}
