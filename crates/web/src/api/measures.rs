//! Standard measures: record (scored by the domain rules), list, and what is due.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use trellis_domain::measures::{FormItem, Instrument};
use trellis_domain::patient::FieldError;
use trellis_storage::access::can;
use trellis_storage::measures::{self, NewMeasure};
use trellis_storage::StoreError;

use super::extract::{JsonBody, PathId};
use super::paging::{PageQuery, Paged, Paging};
use super::responses::CreatedAt;
use super::responses::{BadBody, Forbidden, NotFound, Unauthenticated};
use crate::error::{ApiError, AppError};
use crate::identity::ApiCaller;
use crate::pages::DUE_HORIZON_DAYS;
use crate::AppState;

/// One administration of a measure.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Measure {
    /// Id.
    pub id: i64,
    /// The episode it was given in.
    pub episode_id: Option<i64>,
    /// Instrument code: phq9, gad7, audit, auditc, dast10, pcl5, cssrs or bam.
    pub instrument: String,
    /// The day it was given.
    pub administered_on: NaiveDate,
    /// The answers in form order (null where an item was not asked).
    pub answers: Vec<Option<u8>>,
    /// Total, for instruments that have one.
    pub total: Option<u16>,
    /// Subscales (BAM use, risk, protective; PCL-5 clusters…).
    pub subscales: BTreeMap<String, u16>,
    /// Severity band code.
    pub band: String,
    /// Severity band in words.
    pub band_label: String,
    /// moderate or high when the answers carried a safety signal.
    pub safety_level: Option<String>,
    /// The flag the signal raised.
    pub flag_id: Option<i64>,
    /// Recorded at.
    pub recorded_at: DateTime<Utc>,
}

fn measure(m: measures::Measure) -> Measure {
    Measure {
        id: m.id,
        episode_id: m.episode_id,
        instrument: m.instrument.code().to_owned(),
        administered_on: m.administered_on.0,
        answers: m.answers,
        total: m.total,
        subscales: m.subscales,
        band: m.band_code,
        band_label: m.band_label,
        safety_level: m.safety_level,
        flag_id: m.flag_id,
        recorded_at: m.recorded_at.0,
    }
}

/// The patient's measures, oldest first (the read is audited).
#[utoipa::path(get, path = "/patients/{id}/measures", tag = "measures",
    params(PageQuery, ("id" = i64, Path, description = "Patient id")),
    responses(
        (status = 200, description = "The measures", body = Vec<Measure>,
            headers(("X-Total-Count" = i64, description = "How many entries the whole list has"))),
        Unauthenticated, Forbidden, NotFound,
    ))]
pub async fn list_measures(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    paging: Paging,
) -> Result<Paged<Measure>, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::ReadClinical>(&caller.actor, id)
        .await?;
    let list = state.store.measures(&grant).await?;
    Ok(paging.page(list.into_iter().map(measure).collect()))
}

/// A measure to record.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"instrument": "phq9", "administered_on": "2026-11-30", "answers": [1, 2, 1, 1, 0, 1, 1, 0, 0]}))]
pub struct NewMeasureBody {
    /// Instrument code: phq9, gad7, audit, auditc, dast10, pcl5, cssrs or bam.
    #[serde(default)]
    #[schema(required = true)]
    pub instrument: String,
    /// The day it was given (not in the future).
    #[schema(value_type = NaiveDate, required = true)]
    pub administered_on: Option<NaiveDate>,
    /// The answers in form order, each the option's value (e.g. 0–3 for each PHQ-9 item); null
    /// for an item not asked.
    #[serde(default)]
    #[schema(required = true)]
    pub answers: Vec<Option<i64>>,
}

/// The score of a recorded measure.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RecordedMeasure {
    /// Id.
    pub id: i64,
    /// Total, for instruments that have one.
    pub total: Option<u16>,
    /// Subscales.
    pub subscales: BTreeMap<String, u16>,
    /// Severity band code.
    pub band: String,
    /// Severity band in words.
    pub band_label: String,
    /// The flag raised by a safety signal (PHQ-9 item 9, C-SSRS moderate or high).
    pub flag_id: Option<i64>,
}

/// Scores and records a measure. Wrong item counts, answers out of range and skip-logic
/// violations answer 422 with a message naming the item; nothing is stored. A safety signal
/// raises a flag on the chart and tasks for the primary counselor (and the clinical directors
/// for high risk).
#[utoipa::path(post, path = "/patients/{id}/measures", tag = "measures",
    params(("id" = i64, Path, description = "Patient id")),
    request_body = NewMeasureBody,
    responses(
        (status = 201, description = "Recorded, with its score", body = RecordedMeasure,
            headers(("Location" = String, description = "Where the new record is read: its own URL, or the list it appears in"))),
        Unauthenticated, Forbidden, NotFound, BadBody,
    ))]
pub async fn record_measure(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    body: JsonBody<NewMeasureBody>,
) -> Result<CreatedAt<RecordedMeasure>, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::WriteClinical>(&caller.actor, id)
        .await?;
    let body = body.parse()?;
    let mut errors = Vec::new();
    let instrument = body
        .instrument
        .parse::<Instrument>()
        .map_err(|e| errors.push(FieldError::new("instrument", e.to_string())))
        .ok();
    if body.administered_on.is_none() {
        errors.push(FieldError::new(
            "administered_on",
            "is required (YYYY-MM-DD)",
        ));
    }
    let answers = instrument.map(|i| answers(i, &body.answers, &mut errors));
    let (Some(instrument), Some(administered_on), Some(answers), true) =
        (instrument, body.administered_on, answers, errors.is_empty())
    else {
        return Err(AppError::Invalid(errors).into());
    };
    let recorded = state
        .store
        .record_measure(
            &grant,
            &NewMeasure {
                instrument,
                administered_on,
                answers,
            },
            state.today(),
        )
        .await
        .map_err(|e| match e {
            // The store names the scored set "responses"; the body calls it "answers".
            StoreError::Invalid(fields) => AppError::Invalid(
                fields
                    .into_iter()
                    .map(|f| match f.field {
                        "responses" => FieldError::new("answers", f.message),
                        _ => f,
                    })
                    .collect(),
            ),
            other => other.into(),
        })?;
    Ok(CreatedAt(
        format!("/api/v1/patients/{id}/measures"),
        RecordedMeasure {
            id: recorded.id,
            total: recorded.score.total(),
            subscales: recorded.score.subscales().clone(),
            band: recorded.score.band().code.clone(),
            band_label: recorded.score.band().label.clone(),
            flag_id: recorded.flag_id,
        },
    ))
}

/// The answers as the scoring takes them; each value the item does not offer is an error on
/// `answers` naming the item as printed on the form and saying what it allows.
fn answers(
    instrument: Instrument,
    sent: &[Option<i64>],
    errors: &mut Vec<FieldError>,
) -> Vec<Option<u8>> {
    let items = instrument.form().items;
    sent.iter()
        .enumerate()
        .map(|(i, value)| {
            let value = (*value)?;
            match (u8::try_from(value), items.get(i)) {
                (Ok(v), Some(item)) if item.allows(v) => Some(v),
                // Too many answers: the scoring reports the count.
                (Ok(v), None) => Some(v),
                (_, Some(item)) => {
                    errors.push(FieldError::new(
                        "answers",
                        format!("item {} {}", item.id, allowed_in_words(item)),
                    ));
                    None
                }
                (Err(_), None) => {
                    errors.push(FieldError::new(
                        "answers",
                        format!("has more than the {} items of the form", items.len()),
                    ));
                    None
                }
            }
        })
        .collect()
}

/// "must be between 0 and 3", or "must be 0, 2 or 4".
fn allowed_in_words(item: &FormItem) -> String {
    let values: Vec<u8> = item.options.iter().map(|o| o.value).collect();
    let contiguous = values.windows(2).all(|w| w[1] == w[0] + 1);
    match values.as_slice() {
        [first, .., last] if contiguous => format!("must be between {first} and {last}"),
        _ => format!("must be {}", item.allowed_values()),
    }
}

/// A measure due or overdue.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DueMeasure {
    /// Patient.
    pub patient_id: i64,
    /// The patient's name to address them by.
    pub patient_name: String,
    /// Instrument code.
    pub instrument: String,
    /// Last given in this episode.
    pub last_given: Option<NaiveDate>,
    /// Due on.
    pub due_on: NaiveDate,
    /// Whether the due date has passed.
    pub overdue: bool,
}

fn due(list: Vec<measures::DueMeasure>) -> Vec<DueMeasure> {
    list.into_iter()
        .map(|d| DueMeasure {
            patient_id: d.patient_id,
            patient_name: d.patient_name,
            instrument: d.instrument.code().to_owned(),
            last_given: d.last_given.map(|g| g.0),
            due_on: d.due_on.0,
            overdue: d.overdue,
        })
        .collect()
}

/// Measures due within a week (or overdue) for the patient's open episode, by the program's
/// schedule.
#[utoipa::path(get, path = "/patients/{id}/measures/due", tag = "measures",
    params(PageQuery, ("id" = i64, Path, description = "Patient id")),
    responses(
        (status = 200, description = "Due and overdue measures, soonest first", body = Vec<DueMeasure>,
            headers(("X-Total-Count" = i64, description = "How many entries the whole list has"))),
        Unauthenticated, Forbidden, NotFound,
    ))]
pub async fn patient_due(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    paging: Paging,
) -> Result<Paged<DueMeasure>, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::ReadClinical>(&caller.actor, id)
        .await?;
    let today = state.today();
    let list = state
        .store
        .patient_measures_due(&grant, today, today + Duration::days(DUE_HORIZON_DAYS))
        .await?;
    Ok(paging.page(due(list)))
}

/// Measures due within a week (or overdue) across the caller's caseload.
#[utoipa::path(get, path = "/measures/due", tag = "measures",
    params(PageQuery),
    responses(
        (status = 200, description = "Due and overdue measures, soonest first", body = Vec<DueMeasure>,
            headers(("X-Total-Count" = i64, description = "How many entries the whole list has"))),
        Unauthenticated, Forbidden,
    ))]
pub async fn caseload_due(
    State(state): State<AppState>,
    caller: ApiCaller,
    paging: Paging,
) -> Result<Paged<DueMeasure>, ApiError> {
    let grant = state.store.grant::<can::ReadClinical>(&caller.actor)?;
    let today = state.today();
    let list = state
        .store
        .caseload_measures_due(&grant, today, today + Duration::days(DUE_HORIZON_DAYS))
        .await?;
    Ok(paging.page(due(list)))
}

/// A measure a program gives, and how often.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MeasureSchedule {
    /// Program.
    #[serde(default)]
    #[schema(required = true)]
    pub program_id: i64,
    /// Instrument code.
    #[serde(default)]
    #[schema(required = true, schema_with = super::codes::instrument)]
    pub instrument: String,
    /// Days between administrations, 1–365 (null stops giving it, when setting).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 365)]
    pub every_days: Option<i64>,
}

/// Every program's measure schedule.
#[utoipa::path(get, path = "/measure-schedules", tag = "measures",
    params(PageQuery),
    responses(
        (status = 200, description = "The schedules", body = Vec<MeasureSchedule>,
            headers(("X-Total-Count" = i64, description = "How many entries the whole list has"))),
        Unauthenticated,
    ))]
pub async fn list_schedules(
    State(state): State<AppState>,
    // Program configuration holds no patient data: being signed in is enough.
    _caller: ApiCaller,
    paging: Paging,
) -> Result<Paged<MeasureSchedule>, ApiError> {
    let list = state.store.measure_schedules().await?;
    Ok(paging.page(
        list.into_iter()
            .map(|s| MeasureSchedule {
                program_id: s.program_id,
                instrument: s.instrument,
                every_days: Some(s.every_days),
            })
            .collect(),
    ))
}

/// Sets how often a program gives a measure (administrators).
#[utoipa::path(put, path = "/measure-schedules", tag = "measures",
    request_body = MeasureSchedule,
    responses(
        (status = 204, description = "Saved"),
        Unauthenticated, Forbidden, NotFound, BadBody,
    ))]
pub async fn set_schedule(
    State(state): State<AppState>,
    caller: ApiCaller,
    body: JsonBody<MeasureSchedule>,
) -> Result<StatusCode, ApiError> {
    let grant = state.store.grant::<can::ManagePrograms>(&caller.actor)?;
    let body = body.parse()?;
    let instrument = body
        .instrument
        .parse::<Instrument>()
        .map_err(|e| AppError::Invalid(vec![FieldError::new("instrument", e.to_string())]))?;
    // An unknown program is a missing record, not a database failure.
    state.store.program(body.program_id).await?;
    state
        .store
        .set_measure_schedule(&grant, body.program_id, instrument, body.every_days)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
