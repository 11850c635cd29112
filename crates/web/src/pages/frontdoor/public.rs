//! The public pages: the finder (`/find-a-program`) and each published program's page
//! (`/find-a-program/{id}`). No sign-in, no cookie, no patient data: they read only what
//! programs publish, so they write no audit row. The ZIP code a visitor types travels in the
//! query string, which the request log never records (docs/ARCHITECTURE.md, ops layers).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use trellis_domain::frontdoor::finder::{find, Listing, Search, DISTANCES};
use trellis_domain::frontdoor::places::zip_centroid;
use trellis_domain::frontdoor::profile::{Service, TimeOfWeek};
use trellis_storage::frontdoor::profiles::ProgramProfile;

use super::track_times;
use crate::error::AppError;
use crate::AppState;

/// A program as the finder's results and its page show it.
pub(crate) struct ProgramCard {
    id: i64,
    name: String,
    site: String,
    address: Option<String>,
    map_url: Option<String>,
    miles: Option<String>,
    summary: String,
    times: Vec<&'static str>,
    tracks: Vec<TrackLine>,
    services: Vec<&'static str>,
    languages: Vec<String>,
    insurance: Vec<String>,
    credentials: Vec<String>,
    intake_phone: String,
    phone_link: String,
    intake_hours: String,
}

/// A track's name and its times.
pub(crate) struct TrackLine {
    name: String,
    telehealth: bool,
    times: Vec<String>,
}

/// A plain link to the address on OpenStreetMap: no embed, no script, nothing loaded until the
/// visitor follows it.
fn map_url(address: &str, zip: &str) -> String {
    let query = format!("{address}, {zip}");
    format!(
        "https://www.openstreetmap.org/search?query={}",
        form_urlencoded::byte_serialize(query.as_bytes()).collect::<String>()
    )
}

fn card(p: &ProgramProfile, miles: Option<f64>) -> ProgramCard {
    let input = &p.input;
    let mut credentials = Vec::new();
    for (name, number, expires) in [
        (
            &input.accreditation,
            &input.accreditation_number,
            input.accreditation_expires,
        ),
        (&input.licence, &input.licence_number, input.licence_expires),
    ] {
        if !name.is_empty() {
            let until = expires
                .map(|d| format!(", valid until {}", crate::view::date(d)))
                .unwrap_or_default();
            credentials.push(format!("{name} no. {number}{until}"));
        }
    }
    ProgramCard {
        id: p.program_id,
        name: p.program_name.clone(),
        site: p.site_name.clone(),
        map_url: p.site_address.as_deref().map(|a| map_url(a, &input.zip)),
        address: p.site_address.clone(),
        miles: miles.map(|m| {
            if m < 0.95 {
                "under 1 mile away".to_owned()
            } else {
                format!("{m:.0} miles away")
            }
        }),
        summary: input.summary.clone(),
        times: p.times().iter().map(|t| t.label()).collect(),
        tracks: p
            .tracks
            .iter()
            .map(|t| TrackLine {
                name: t.name.clone(),
                telehealth: t.telehealth,
                times: track_times(t),
            })
            .collect(),
        services: input.services.iter().map(|s| s.label()).collect(),
        languages: p.languages(),
        insurance: p.insurance(),
        credentials,
        phone_link: input
            .intake_phone
            .chars()
            .filter(|c| c.is_ascii_digit() || *c == '+')
            .collect(),
        intake_phone: input.intake_phone.clone(),
        intake_hours: input.intake_hours.clone(),
    }
}

/// The finder's query: every field optional, each checked.
#[derive(Debug, Default, Deserialize)]
pub struct FinderQuery {
    #[serde(default)]
    zip: String,
    #[serde(default)]
    miles: String,
    #[serde(default)]
    when: String,
    #[serde(default)]
    insurance: String,
    #[serde(default)]
    service: String,
}

#[derive(Template)]
#[template(path = "frontdoor/finder.html")]
struct FinderPage {
    query: FinderQuery,
    searched: bool,
    error: Option<String>,
    error_field: &'static str,
    results: Vec<ProgramCard>,
    distances: Vec<(String, bool)>,
    times: Vec<(&'static str, &'static str, bool)>,
    services: Vec<(&'static str, &'static str, bool)>,
    insurers: Vec<(String, bool)>,
}

/// The finder: published programs by distance from a ZIP code, time of week, insurance and
/// service. Bad input answers 422 with the form and the reason beside the field.
pub async fn finder(
    State(state): State<AppState>,
    Query(query): Query<FinderQuery>,
) -> Result<Response, AppError> {
    let programs = state.store.published_programs().await?;
    let mut search = Search::default();
    let mut error = None;
    if !query.zip.trim().is_empty() {
        match zip_centroid(&query.zip) {
            Ok(place) => search.from = Some(place),
            Err(e) => error = Some(("zip", format!("ZIP code: {e}"))),
        }
    }
    if !query.miles.is_empty() {
        match query.miles.parse::<u32>() {
            Ok(m) if DISTANCES.contains(&m) => search.within_miles = Some(f64::from(m)),
            _ => {
                error = Some((
                    "miles",
                    "Distance: choose one of the listed distances".into(),
                ))
            }
        }
    }
    if !query.when.is_empty() {
        match TimeOfWeek::from_code(&query.when) {
            Ok(t) => search.time = Some(t),
            Err(_) => error = Some(("when", "When: choose one of the listed times".into())),
        }
    }
    if !query.service.is_empty() {
        match Service::from_code(&query.service) {
            Ok(s) => search.service = Some(s),
            Err(_) => {
                error = Some((
                    "service",
                    "Service: choose one of the listed services".into(),
                ))
            }
        }
    }
    let mut insurers: Vec<String> = Vec::new();
    for p in &programs {
        for i in p.insurance() {
            if !insurers.iter().any(|x| x.eq_ignore_ascii_case(&i)) {
                insurers.push(i);
            }
        }
    }
    insurers.sort_by_key(|i| i.to_lowercase());
    if !query.insurance.is_empty() {
        if insurers
            .iter()
            .any(|i| i.eq_ignore_ascii_case(&query.insurance))
        {
            search.insurance = Some(query.insurance.clone());
        } else {
            error = Some((
                "insurance",
                "Insurance: choose one of the listed plans".into(),
            ));
        }
    }
    let searched = [
        &query.zip,
        &query.miles,
        &query.when,
        &query.insurance,
        &query.service,
    ]
    .iter()
    .any(|v| !v.trim().is_empty());
    let results = if error.is_some() {
        Vec::new()
    } else {
        let listings: Vec<Listing> = programs
            .iter()
            .map(|p| Listing {
                place: zip_centroid(&p.input.zip).ok(),
                times: p.times(),
                services: p.input.services.clone(),
                insurance: p.insurance(),
            })
            .collect();
        find(&listings, &search)
            .into_iter()
            .map(|(i, miles)| card(&programs[i], miles))
            .collect()
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = FinderPage {
        distances: DISTANCES
            .iter()
            .map(|d| (d.to_string(), query.miles == d.to_string()))
            .collect(),
        times: TimeOfWeek::ALL
            .iter()
            .map(|t| (t.code(), t.label(), query.when == t.code()))
            .collect(),
        services: Service::ALL
            .iter()
            .map(|s| (s.code(), s.label(), query.service == s.code()))
            .collect(),
        insurers: insurers
            .into_iter()
            .map(|i| {
                let chosen = i.eq_ignore_ascii_case(&query.insurance);
                (i, chosen)
            })
            .collect(),
        query,
        searched,
        error_field: error.as_ref().map(|(f, _)| *f).unwrap_or_default(),
        error: error.map(|(_, m)| m),
        results,
    };
    Ok((status, Html(page.render()?)).into_response())
}

#[derive(Template)]
#[template(path = "frontdoor/program.html")]
struct ProgramPage {
    p: ProgramCard,
}

/// One published program's page; an unpublished or unknown one is not found.
pub async fn program(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let profile = state.store.published_program(id).await?;
    let page = ProgramPage {
        p: card(&profile, None),
    };
    Ok(Html(page.render()?).into_response())
}
