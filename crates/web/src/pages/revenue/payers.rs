//! The billing settings pages: payers with their terms (`/billing/payers`) and each site's
//! billing-provider settings (`/billing/providers`). Billing changes them (audited by the
//! store); the clinical director and administrators read them.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use trellis_domain::access::{permits, Permission};
use trellis_domain::patient::FieldError;
use trellis_domain::revenue::payer::{format_rate, ClaimType, UnitDefinition};
use trellis_domain::revenue::provider::{place_of_service, PLACES_OF_SERVICE};
use trellis_storage::access::can;
use trellis_storage::StoreError;

use super::{parse_payer, PayerForm, ProviderForm};
use crate::error::AppError;
use crate::identity::Staff;
use crate::pages::{labelled, LabelledError, Layout};
use crate::AppState;

/// One payer, ready to show and change.
pub struct PayerView {
    id: i64,
    name: String,
    payer_code: String,
    claim_type: &'static str,
    sud: String,
    mh: String,
    unit: &'static str,
    rate: String,
    minimum_minutes: i64,
    needs_auth: bool,
    timely_filing_days: i64,
    current: bool,
    /// The change form's id prefix ("p3_").
    prefix: String,
    /// Whether its change form opens (a refused change of this payer).
    open: bool,
    form: PayerForm,
}

#[derive(Template)]
#[template(path = "revenue/payers.html")]
struct PayersPage {
    layout: Layout,
    can_manage: bool,
    payers: Vec<PayerView>,
    claim_types: Vec<(&'static str, &'static str)>,
    units: Vec<(&'static str, &'static str)>,
    form: PayerForm,
    errors: Vec<LabelledError>,
    /// The payer whose change was refused (its form opens with the errors), if any.
    failed: Option<i64>,
}

/// Which record was just saved, for the confirmation (an id in the URL, never a name).
#[derive(Debug, Deserialize)]
pub struct Saved {
    saved: Option<i64>,
}

fn with_revenue(code: &str, revenue: &Option<String>) -> String {
    match revenue {
        Some(r) => format!("{code} (revenue code {r})"),
        None => code.to_owned(),
    }
}

async fn payers_page(
    state: &AppState,
    staff: &Staff,
    form: PayerForm,
    errors: &[FieldError],
    failed: Option<(i64, PayerForm)>,
) -> Result<PayersPage, AppError> {
    let grant = state.store.grant::<can::ReadBilling>(&staff.actor)?;
    let payers = state.store.payers(&grant).await?;
    Ok(PayersPage {
        layout: Layout::new(staff, "billing"),
        can_manage: permits(staff.actor.role, Permission::ManageBilling),
        payers: payers
            .into_iter()
            .map(|p| {
                let t = &p.terms;
                let form = match &failed {
                    Some((id, f)) if *id == p.id => f.clone(),
                    _ => PayerForm::of(t),
                };
                PayerView {
                    id: p.id,
                    name: t.name.clone(),
                    payer_code: t.payer_code.clone(),
                    claim_type: t.claim_type.label(),
                    sud: with_revenue(&t.sud_procedure, &t.sud_revenue_code),
                    mh: with_revenue(&t.mh_procedure, &t.mh_revenue_code),
                    unit: t.unit.label(),
                    rate: format_rate(t.rate_cents),
                    minimum_minutes: t.minimum_minutes,
                    needs_auth: t.needs_prior_authorisation,
                    timely_filing_days: t.timely_filing_days,
                    current: p.retired_at.is_none(),
                    prefix: format!("p{}_", p.id),
                    open: matches!(&failed, Some((id, _)) if *id == p.id),
                    form,
                }
            })
            .collect(),
        claim_types: ClaimType::ALL
            .iter()
            .map(|c| (c.code(), c.label()))
            .collect(),
        units: UnitDefinition::ALL
            .iter()
            .map(|u| (u.code(), u.label()))
            .collect(),
        form,
        errors: labelled(errors),
        failed: failed.map(|(id, _)| id),
    })
}

/// The payers, with the form to add one (billing).
pub async fn list(
    State(state): State<AppState>,
    staff: Staff,
    Query(q): Query<Saved>,
) -> Result<Response, AppError> {
    let mut p = payers_page(&state, &staff, PayerForm::blank(), &[], None).await?;
    if let Some(saved) = q.saved {
        p.layout.notice = Some(format!("Payer #{saved} saved."));
    }
    Ok(Html(p.render()?).into_response())
}

fn invalid(e: StoreError) -> AppError {
    match e {
        StoreError::Invalid(errors) => AppError::Invalid(errors),
        e => e.into(),
    }
}

/// Adds a payer.
pub async fn add(
    State(state): State<AppState>,
    staff: Staff,
    Form(form): Form<PayerForm>,
) -> Result<Response, AppError> {
    let grant = state.store.grant::<can::ManageBilling>(&staff.actor)?;
    let result = match parse_payer(&form) {
        Ok(terms) => state.store.add_payer(&grant, &terms).await.map_err(invalid),
        Err(e) => Err(e),
    };
    match result {
        Ok(id) => {
            Ok(Redirect::to(&format!("/billing/payers?saved={id}#payer{id}")).into_response())
        }
        Err(AppError::Invalid(errors)) => {
            let p = payers_page(&state, &staff, form, &errors, None).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(p.render()?)).into_response())
        }
        Err(e) => Err(e),
    }
}

/// Changes a payer's terms, or retires it.
pub async fn update(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Form(form): Form<PayerForm>,
) -> Result<Response, AppError> {
    let grant = state.store.grant::<can::ManageBilling>(&staff.actor)?;
    let result = match parse_payer(&form) {
        Ok(terms) => state
            .store
            .update_payer(&grant, id, &terms, form.retire.is_some())
            .await
            .map_err(invalid),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => {
            Ok(Redirect::to(&format!("/billing/payers?saved={id}#payer{id}")).into_response())
        }
        Err(AppError::Invalid(errors)) => {
            let p = payers_page(
                &state,
                &staff,
                PayerForm::blank(),
                &errors,
                Some((id, form)),
            )
            .await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(p.render()?)).into_response())
        }
        Err(e) => Err(e),
    }
}

/// One site's settings, ready to show and change.
pub struct SiteProviderView {
    site_id: i64,
    site_name: String,
    entered: bool,
    place: String,
    updated: String,
    form: ProviderForm,
    errors: Vec<LabelledError>,
}

#[derive(Template)]
#[template(path = "revenue/providers.html")]
struct ProvidersPage {
    layout: Layout,
    can_manage: bool,
    sites: Vec<SiteProviderView>,
    places: Vec<(&'static str, &'static str)>,
}

async fn providers_page(
    state: &AppState,
    staff: &Staff,
    failed: Option<(i64, ProviderForm, &[FieldError])>,
) -> Result<ProvidersPage, AppError> {
    let grant = state.store.grant::<can::ReadBilling>(&staff.actor)?;
    let saved = state.store.billing_providers(&grant).await?;
    let sites = state.store.sites().await?;
    Ok(ProvidersPage {
        layout: Layout::new(staff, "billing"),
        can_manage: permits(staff.actor.role, Permission::ManageBilling),
        sites: sites
            .into_iter()
            .map(|site| {
                let on_file = saved.iter().find(|p| p.site_id == site.id);
                let (form, errors) = match &failed {
                    Some((id, f, errors)) if *id == site.id => (f.clone(), labelled(errors)),
                    _ => (
                        on_file
                            .map(|p| ProviderForm::of(&p.provider))
                            .unwrap_or_else(|| ProviderForm {
                                place_of_service: "57".into(),
                                ..ProviderForm::default()
                            }),
                        Vec::new(),
                    ),
                };
                SiteProviderView {
                    site_id: site.id,
                    site_name: site.name,
                    entered: on_file.is_some(),
                    place: on_file
                        .and_then(|p| place_of_service(&p.provider.place_of_service))
                        .map(|label| {
                            format!(
                                "{label} ({})",
                                on_file.map_or("", |p| p.provider.place_of_service.as_str())
                            )
                        })
                        .unwrap_or_default(),
                    updated: on_file
                        .map(|p| {
                            format!(
                                "{} by {}",
                                crate::view::local_time(&p.updated_at, state.timezone),
                                p.updated_by
                            )
                        })
                        .unwrap_or_default(),
                    form,
                    errors,
                }
            })
            .collect(),
        places: PLACES_OF_SERVICE.to_vec(),
    })
}

/// Each site's billing-provider settings.
pub async fn providers(
    State(state): State<AppState>,
    staff: Staff,
    Query(q): Query<Saved>,
) -> Result<Response, AppError> {
    let mut p = providers_page(&state, &staff, None).await?;
    if q.saved.is_some() {
        p.layout.notice = Some("Billing-provider settings saved.".into());
    }
    Ok(Html(p.render()?).into_response())
}

/// Saves one site's billing-provider settings.
pub async fn set_provider(
    State(state): State<AppState>,
    staff: Staff,
    Path(site): Path<i64>,
    Form(form): Form<ProviderForm>,
) -> Result<Response, AppError> {
    let grant = state.store.grant::<can::ManageBilling>(&staff.actor)?;
    match state
        .store
        .set_billing_provider(&grant, site, &form.provider())
        .await
    {
        Ok(()) => Ok(
            Redirect::to(&format!("/billing/providers?saved={site}#site{site}")).into_response(),
        ),
        Err(StoreError::Invalid(errors)) => {
            let p = providers_page(&state, &staff, Some((site, form, errors.as_slice()))).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(p.render()?)).into_response())
        }
        Err(e) => Err(e.into()),
    }
}
