//! Program settings for the clinical director and administrator: which standard measures each
//! program gives and how often (a measure is first due at admission, then every N days).

use askama::Template;
use axum::extract::{Path, RawForm, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use trellis_domain::measures::Instrument;
use trellis_domain::patient::FieldError;
use trellis_storage::access::can;
use trellis_storage::org::Program;

use super::{labelled, LabelledError, Layout};
use crate::error::AppError;
use crate::identity::Staff;
use crate::AppState;

/// One instrument's row in a program's measure schedule.
pub struct ScheduleRow {
    code: &'static str,
    name: &'static str,
    every_days: String,
}

/// A program with its measure schedule.
pub struct ProgramView {
    id: i64,
    name: String,
    site: String,
    level: String,
    weekly_minimum_hours: f64,
    max_group_size: i64,
    schedule: Vec<ScheduleRow>,
}

#[derive(Template)]
#[template(path = "programs.html")]
struct ProgramsPage {
    layout: Layout,
    programs: Vec<ProgramView>,
    saved: Option<String>,
    errors: Vec<LabelledError>,
}

/// The programs page.
pub async fn list(State(state): State<AppState>, staff: Staff) -> Result<Response, AppError> {
    state.store.grant::<can::ManagePrograms>(&staff.actor)?;
    render(&state, &staff, None, Vec::new()).await
}

/// Saves one program's measure schedule (`every_<code>` = days between administrations; blank
/// stops giving the measure). Every value is checked before any is saved.
pub async fn save_measures(
    State(state): State<AppState>,
    staff: Staff,
    Path(program_id): Path<i64>,
    RawForm(body): RawForm,
) -> Result<Response, AppError> {
    let grant = state.store.grant::<can::ManagePrograms>(&staff.actor)?;
    let program = state.store.program(program_id).await?;
    let posted: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let mut wanted = Vec::new();
    let mut errors = Vec::new();
    for instrument in Instrument::ALL {
        let key = format!("every_{}", instrument.code());
        // The page always sends every instrument: a missing one is a broken form, not "stop".
        let Some(text) = posted
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.trim())
        else {
            errors.push(FieldError {
                field: "measure_schedule",
                message: format!(
                    "{} is missing from the form; reload the page",
                    instrument.name()
                ),
            });
            continue;
        };
        match parse_days(text) {
            Ok(days) => wanted.push((instrument, days)),
            Err(message) => errors.push(FieldError {
                field: "measure_schedule",
                message: format!("{}: {message}", instrument.name()),
            }),
        }
    }
    if !errors.is_empty() {
        return render(&state, &staff, None, errors).await;
    }
    for (instrument, days) in wanted {
        state
            .store
            .set_measure_schedule(&grant, program_id, instrument, days)
            .await?;
    }
    let saved = format!("Measure schedule saved for {}.", program.name);
    render(&state, &staff, Some(saved), Vec::new()).await
}

/// Days between administrations from the form: blank means not scheduled.
fn parse_days(text: &str) -> Result<Option<i64>, &'static str> {
    if text.is_empty() {
        return Ok(None);
    }
    match text.parse::<i64>() {
        Ok(days) if (1..=365).contains(&days) => Ok(Some(days)),
        _ => Err("enter a whole number of days from 1 to 365, or leave it blank"),
    }
}

async fn render(
    state: &AppState,
    staff: &Staff,
    saved: Option<String>,
    errors: Vec<FieldError>,
) -> Result<Response, AppError> {
    let programs = state.store.programs().await?;
    let schedules = state.store.measure_schedules().await?;
    let view = |p: Program| ProgramView {
        schedule: Instrument::ALL
            .iter()
            .map(|i| ScheduleRow {
                code: i.code(),
                name: i.full_name(),
                every_days: schedules
                    .iter()
                    .find(|s| s.program_id == p.id && s.instrument == i.code())
                    .map(|s| s.every_days.to_string())
                    .unwrap_or_default(),
            })
            .collect(),
        level: p
            .level()
            .map(|l| l.name().to_owned())
            .unwrap_or_else(|_| p.level_of_care.clone()),
        id: p.id,
        name: p.name,
        site: p.site_name,
        weekly_minimum_hours: p.weekly_minimum_hours,
        max_group_size: p.max_group_size,
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = ProgramsPage {
        layout: Layout::new(staff, "programs"),
        programs: programs.into_iter().map(view).collect(),
        saved,
        errors: labelled(&errors),
    };
    Ok((status, Html(page.render()?)).into_response())
}

#[cfg(test)]
mod tests {
    use super::parse_days;

    #[test]
    fn days_between_administrations_are_checked() {
        assert_eq!(parse_days(""), Ok(None));
        assert_eq!(parse_days("14"), Ok(Some(14)));
        assert_eq!(parse_days("1"), Ok(Some(1)));
        assert_eq!(parse_days("365"), Ok(Some(365)));
        assert!(parse_days("0").is_err());
        assert!(parse_days("366").is_err());
        assert!(parse_days("two weeks").is_err());
        assert!(parse_days("-7").is_err());
    }
}
