//! The week view of a site's schedule: Monday to Sunday in the site's local time, each day's
//! group sessions and booked appointments, each day linking to its day sheet.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Response};
use chrono::{Days, NaiveDate};
use chrono_tz::Tz;
use serde::Deserialize;
use trellis_domain::patient::FieldError;
use trellis_domain::schedule::hours::week_start;
use trellis_storage::access::can;
use trellis_storage::org::Site;
use trellis_storage::week::SiteWeek;

use super::Layout;
use crate::error::AppError;
use crate::identity::Staff;
use crate::AppState;

/// Which site and week to show: any day of the week (no patient data in these parameters).
#[derive(Deserialize, Default)]
pub struct WeekQuery {
    #[serde(default)]
    site: Option<i64>,
    #[serde(default)]
    date: Option<String>,
}

/// One entry of a day: a session or an appointment, in local time.
struct WeekEntry {
    time: String,
    what: String,
    place: String,
    /// The patient's chart schedule, for an appointment.
    patient: Option<(i64, String)>,
}

/// One day of the week with its entries in start order.
struct WeekDay {
    date: String,
    label: String,
    today: bool,
    entries: Vec<WeekEntry>,
}

#[derive(Template)]
#[template(path = "week.html")]
struct WeekPage {
    layout: Layout,
    sites: Vec<Site>,
    site_id: i64,
    date: String,
    heading: String,
    previous: String,
    next: String,
    days: Vec<WeekDay>,
}

fn parse_day(asked: Option<&str>, today: NaiveDate) -> Result<NaiveDate, AppError> {
    match asked.map(str::trim).filter(|d| !d.is_empty()) {
        None => Ok(today),
        Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| {
            AppError::Invalid(vec![FieldError::new("date", "must be a date (YYYY-MM-DD)")])
        }),
    }
}

fn shift(day: NaiveDate, days: i64) -> Result<NaiveDate, AppError> {
    let moved = if days >= 0 {
        day.checked_add_days(Days::new(days.unsigned_abs()))
    } else {
        day.checked_sub_days(Days::new(days.unsigned_abs()))
    };
    moved.ok_or_else(|| AppError::Invalid(vec![FieldError::new("date", "is out of range")]))
}

/// Lays the week's sessions and appointments out by local day, in start order.
fn lay_out(week: &SiteWeek, tz: Tz, today: NaiveDate) -> Result<Vec<WeekDay>, AppError> {
    let mut days = Vec::with_capacity(7);
    for offset in 0..7 {
        let date = shift(week.monday, offset)?;
        let mut timed: Vec<(chrono::DateTime<chrono::Utc>, WeekEntry)> = Vec::new();
        for s in week.sessions.iter().filter(|s| s.local_date.0 == date) {
            let topic = s
                .topic_title
                .as_deref()
                .map(|t| format!(": {t}"))
                .unwrap_or_default();
            timed.push((
                s.starts_at.0,
                WeekEntry {
                    time: span(s.starts_at.0, s.ends_at.0, tz),
                    what: format!("Group · {}{topic}", s.track_name),
                    place: place(s.telehealth, s.room_name.as_deref()),
                    patient: None,
                },
            ));
        }
        for a in week.appointments.iter().filter(|a| a.local_date.0 == date) {
            let kind = a
                .kind()
                .map(|k| k.label().to_owned())
                .unwrap_or_else(|_| a.kind.clone());
            timed.push((
                a.starts_at.0,
                WeekEntry {
                    time: span(a.starts_at.0, a.ends_at.0, tz),
                    what: format!("{kind} with {}", a.clinician_name),
                    place: place(a.telehealth, a.room_name.as_deref()),
                    patient: Some((a.patient_id, a.patient_name.clone())),
                },
            ));
        }
        timed.sort_by_key(|(at, _)| *at);
        days.push(WeekDay {
            date: date.format("%Y-%m-%d").to_string(),
            label: date.format("%A %b %-d").to_string(),
            today: date == today,
            entries: timed.into_iter().map(|(_, e)| e).collect(),
        });
    }
    Ok(days)
}

fn span(from: chrono::DateTime<chrono::Utc>, to: chrono::DateTime<chrono::Utc>, tz: Tz) -> String {
    format!(
        "{}–{}",
        from.with_timezone(&tz).format("%H:%M"),
        to.with_timezone(&tz).format("%H:%M")
    )
}

fn place(telehealth: bool, room: Option<&str>) -> String {
    if telehealth {
        "Telehealth".into()
    } else {
        room.unwrap_or_default().to_owned()
    }
}

/// The week view of a site's schedule.
pub async fn page(
    State(state): State<AppState>,
    staff: Staff,
    Query(query): Query<WeekQuery>,
) -> Result<Response, AppError> {
    let grant = state.store.grant::<can::ReadSchedule>(&staff.actor)?;
    let sites = state.store.sites().await?;
    let site = match query.site {
        Some(id) => sites.iter().find(|s| s.id == id).cloned(),
        None => sites.first().cloned(),
    }
    .ok_or(AppError::NotFound("site"))?;
    let tz: Tz = site.timezone.parse().unwrap_or(state.timezone);
    let today = chrono::Utc::now().with_timezone(&tz).date_naive();
    let asked = parse_day(query.date.as_deref(), today)?;
    let monday = week_start(asked)
        .map_err(|_| AppError::Invalid(vec![FieldError::new("date", "is out of range")]))?;
    let sunday = shift(monday, 6)?;
    let week = state.store.site_week(&grant, site.id, monday).await?;
    let days = lay_out(&week, tz, today)?;
    Ok(Html(
        WeekPage {
            layout: Layout::new(&staff, "week"),
            site_id: site.id,
            heading: format!(
                "Week of {} – {} · {}",
                monday.format("%b %-d"),
                sunday.format("%b %-d, %Y"),
                site.name
            ),
            sites,
            date: monday.format("%Y-%m-%d").to_string(),
            previous: shift(monday, -7)?.format("%Y-%m-%d").to_string(),
            next: shift(monday, 7)?.format("%Y-%m-%d").to_string(),
            days,
        }
        .render()?,
    )
    .into_response())
}
