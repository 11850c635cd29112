//! The staff form for a program's public profile (`/admin/programs/{id}/public-profile`):
//! administrators and clinical directors (ManagePrograms) write what the public pages show.
//! Saves in place with htmx; without JavaScript it redirects back with a confirmation.

use askama::Template;
use axum::extract::{Path, Query, RawForm, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use trellis_domain::frontdoor::profile::{renewal_due, ProfileInput, Service};
use trellis_domain::patient::FieldError;
use trellis_storage::access::can;
use trellis_storage::frontdoor::profiles::ProgramProfile;
use trellis_storage::StoreError;

use super::track_times;
use crate::error::AppError;
use crate::identity::Staff;
use crate::pages::{is_htmx, labelled, LabelledError, Layout};
use crate::AppState;

/// The form's values as typed (dates as the ISO text date inputs need).
#[derive(Default)]
pub(crate) struct ProfileForm {
    published: bool,
    summary: String,
    zip: String,
    services: Vec<(&'static str, &'static str, bool)>,
    languages: String,
    insurance: String,
    accreditation: String,
    accreditation_number: String,
    accreditation_expires: String,
    licence: String,
    licence_number: String,
    licence_expires: String,
    intake_phone: String,
    intake_hours: String,
}

impl ProfileForm {
    fn of(input: &ProfileInput) -> ProfileForm {
        let iso = |d: Option<chrono::NaiveDate>| {
            d.map(|d| d.format("%Y-%m-%d").to_string())
                .unwrap_or_default()
        };
        ProfileForm {
            published: input.published,
            summary: input.summary.clone(),
            zip: input.zip.clone(),
            services: Service::ALL
                .iter()
                .map(|s| (s.code(), s.label(), input.services.contains(s)))
                .collect(),
            languages: input.languages.clone(),
            insurance: input.insurance.clone(),
            accreditation: input.accreditation.clone(),
            accreditation_number: input.accreditation_number.clone(),
            accreditation_expires: iso(input.accreditation_expires),
            licence: input.licence.clone(),
            licence_number: input.licence_number.clone(),
            licence_expires: iso(input.licence_expires),
            intake_phone: input.intake_phone.clone(),
            intake_hours: input.intake_hours.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "frontdoor/profile_edit.html")]
struct ProfilePage {
    layout: Layout,
    program_id: i64,
    program_name: String,
    site_name: String,
    tracks: Vec<String>,
    renewals: Vec<String>,
    form: ProfileForm,
    errors: Vec<LabelledError>,
}

#[derive(Template)]
#[template(path = "frontdoor/_profile_fragment.html")]
struct ProfileFragment {
    layout: Layout,
    program_id: i64,
    program_name: String,
    form: ProfileForm,
    errors: Vec<LabelledError>,
    confirmation: Option<String>,
}

/// Whether the page was reached right after a save without JavaScript.
#[derive(Debug, Deserialize)]
pub struct Saved {
    saved: Option<u8>,
}

fn page(
    staff: &Staff,
    profile: &ProgramProfile,
    form: ProfileForm,
    errors: &[FieldError],
    today: chrono::NaiveDate,
) -> ProfilePage {
    let mut renewals = Vec::new();
    for (name, expires) in [
        (
            &profile.input.accreditation,
            profile.input.accreditation_expires,
        ),
        (&profile.input.licence, profile.input.licence_expires),
    ] {
        if let Some(d) = expires.filter(|d| renewal_due(*d, today)) {
            renewals.push(format!(
                "{name} expires {}: renew it, or it cannot stay published",
                crate::view::date(d)
            ));
        }
    }
    ProfilePage {
        layout: Layout::new(staff, "programs"),
        program_id: profile.program_id,
        program_name: profile.program_name.clone(),
        site_name: profile.site_name.clone(),
        tracks: profile
            .tracks
            .iter()
            .map(|t| format!("{}: {}", t.name, track_times(t).join("; ")))
            .collect(),
        renewals,
        form,
        errors: labelled(errors),
    }
}

/// The form with the profile as saved.
pub async fn edit(
    State(state): State<AppState>,
    staff: Staff,
    Path(program_id): Path<i64>,
    Query(q): Query<Saved>,
) -> Result<Response, AppError> {
    let grant = state.store.grant::<can::ManagePrograms>(&staff.actor)?;
    let profile = state.store.program_profile(&grant, program_id).await?;
    let mut p = page(
        &staff,
        &profile,
        ProfileForm::of(&profile.input),
        &[],
        state.today(),
    );
    if q.saved.is_some() {
        p.layout.notice = Some(format!(
            "Public profile saved for {}.",
            profile.program_name
        ));
    }
    Ok(Html(p.render()?).into_response())
}

/// Reads the posted form (checkboxes repeat `services`), keeping what was typed for a redisplay.
fn read(body: &[u8]) -> (ProfileInput, ProfileForm, Vec<FieldError>) {
    let posted: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
    let get = |key: &str| {
        posted
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let mut errors = Vec::new();
    let mut services = Vec::new();
    for (_, code) in posted.iter().filter(|(k, _)| k == "services") {
        match Service::from_code(code) {
            Ok(s) if !services.contains(&s) => services.push(s),
            Ok(_) => {}
            Err(_) => errors.push(FieldError::new(
                "services",
                "choose from the listed services",
            )),
        }
    }
    let mut optional_date = |field: &'static str, text: &str| {
        if text.trim().is_empty() {
            None
        } else {
            crate::forms::date(field, text, &mut errors)
        }
    };
    let accreditation_expires =
        optional_date("accreditation_expires", &get("accreditation_expires"));
    let licence_expires = optional_date("licence_expires", &get("licence_expires"));
    let input = ProfileInput {
        summary: get("summary"),
        zip: get("zip"),
        services,
        languages: get("languages"),
        insurance: get("insurance"),
        accreditation: get("accreditation"),
        accreditation_number: get("accreditation_number"),
        accreditation_expires,
        licence: get("licence"),
        licence_number: get("licence_number"),
        licence_expires,
        intake_phone: get("intake_phone"),
        intake_hours: get("intake_hours"),
        published: get("published") == "yes",
    };
    let mut form = ProfileForm::of(&input);
    form.accreditation_expires = get("accreditation_expires");
    form.licence_expires = get("licence_expires");
    (input, form, errors)
}

/// Saves the profile; refused input answers 422 with the form as typed and the reasons.
pub async fn save(
    State(state): State<AppState>,
    staff: Staff,
    Path(program_id): Path<i64>,
    headers: HeaderMap,
    RawForm(body): RawForm,
) -> Result<Response, AppError> {
    let grant = state.store.grant::<can::ManagePrograms>(&staff.actor)?;
    let profile = state.store.program_profile(&grant, program_id).await?;
    let (input, form, mut errors) = read(&body);
    if errors.is_empty() {
        match state
            .store
            .save_program_profile(&grant, program_id, &input, state.today())
            .await
        {
            Ok(()) => {}
            Err(StoreError::Invalid(fields)) => errors = fields,
            Err(e) => return Err(e.into()),
        }
    }
    let htmx = is_htmx(&headers);
    if errors.is_empty() {
        if !htmx {
            return Ok(Redirect::to(&format!(
                "/admin/programs/{program_id}/public-profile?saved=1"
            ))
            .into_response());
        }
        let saved = state.store.program_profile(&grant, program_id).await?;
        let fragment = ProfileFragment {
            layout: Layout::new(&staff, "programs"),
            program_id,
            program_name: saved.program_name.clone(),
            form: ProfileForm::of(&saved.input),
            errors: Vec::new(),
            confirmation: Some(format!("Public profile saved for {}.", saved.program_name)),
        };
        return Ok(Html(fragment.render()?).into_response());
    }
    let status = StatusCode::UNPROCESSABLE_ENTITY;
    if htmx {
        let fragment = ProfileFragment {
            layout: Layout::new(&staff, "programs"),
            program_id,
            program_name: profile.program_name.clone(),
            form,
            errors: labelled(&errors),
            confirmation: None,
        };
        return Ok((status, Html(fragment.render()?)).into_response());
    }
    let p = page(&staff, &profile, form, &errors, state.today());
    Ok((status, Html(p.render()?)).into_response())
}
