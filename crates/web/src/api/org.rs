//! Who is calling, the organisation's sites, programs and counselors, and the dashboard.

use axum::extract::State;
use axum::Json;
use chrono::NaiveDate;
use serde::Serialize;
use trellis_domain::access::{permits, Permission};
use trellis_storage::access::can;
use trellis_storage::episodes::CaseloadEntry;
use trellis_storage::patients::mrn;
use utoipa::ToSchema;

use super::paging::{PageQuery, Paged, Paging};
use super::responses::Unauthenticated;
use super::tasks::{task_list, Task};
use crate::error::{ApiError, AppError};
use crate::identity::ApiCaller;
use crate::AppState;

/// The caller: their account and the role and permissions in force for this request.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// Staff account id.
    pub user_id: i64,
    /// Login name.
    pub username: String,
    /// Name shown to colleagues.
    pub display_name: String,
    /// Role code in force (a token carries its own role).
    pub role: String,
    /// The role's label.
    pub role_label: String,
    /// Permission codes the role holds, e.g. `read_demographics`.
    pub permissions: Vec<String>,
}

/// A permission's stable code: the snake_case name it serialises to.
fn permission_code(p: Permission) -> String {
    serde_json::to_value(p)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Who is calling.
#[utoipa::path(get, path = "/me", tag = "account",
    responses(
        (status = 200, description = "The caller", body = Me),
        Unauthenticated,
    ))]
pub async fn me(State(state): State<AppState>, caller: ApiCaller) -> Result<Json<Me>, ApiError> {
    let actor = caller.actor;
    let user_id = actor.user_id.ok_or(AppError::Unauthenticated)?;
    let user = state.store.staff_user(user_id).await?;
    Ok(Json(Me {
        user_id,
        username: user.username,
        display_name: user.display_name,
        role: actor.role.code().to_owned(),
        role_label: actor.role.label().to_owned(),
        permissions: Permission::ALL
            .into_iter()
            .filter(|p| permits(actor.role, *p))
            .map(permission_code)
            .collect(),
    }))
}

/// A clinic site.
#[derive(Debug, Serialize, ToSchema)]
pub struct Site {
    /// Id.
    pub id: i64,
    /// Short code, e.g. "DTN".
    pub code: String,
    /// Name.
    pub name: String,
    /// IANA time zone.
    pub timezone: String,
    /// Street address.
    pub address: Option<String>,
    /// Main phone.
    pub phone: Option<String>,
}

/// The organisation's sites (reference data: any signed-in caller).
#[utoipa::path(get, path = "/sites", tag = "organisation",
    params(PageQuery),
    responses(
        (status = 200, description = "Every site, by name", body = Vec<Site>,
            headers(("X-Total-Count" = i64, description = "How many entries the whole list has"))),
        Unauthenticated,
    ))]
pub async fn list_sites(
    State(state): State<AppState>,
    _caller: ApiCaller,
    paging: Paging,
) -> Result<Paged<Site>, ApiError> {
    let sites = state.store.sites().await?;
    Ok(paging.page(
        sites
            .into_iter()
            .map(|s| Site {
                id: s.id,
                code: s.code,
                name: s.name,
                timezone: s.timezone,
                address: s.address,
                phone: s.phone,
            })
            .collect(),
    ))
}

/// A treatment program at a site.
#[derive(Debug, Serialize, ToSchema)]
pub struct Program {
    /// Id.
    pub id: i64,
    /// Site.
    pub site_id: i64,
    /// Site name.
    pub site_name: String,
    /// Name.
    pub name: String,
    /// Population served: adult, adolescent or co_occurring.
    pub population: String,
    /// ASAM level code of the program, e.g. "2.1".
    pub level_of_care: String,
    /// Weekly service hours a patient must receive.
    pub weekly_minimum_hours: f64,
    /// Group size cap.
    pub max_group_size: i64,
    /// Whether it admits patients.
    pub active: bool,
}

/// The organisation's programs (reference data: any signed-in caller).
#[utoipa::path(get, path = "/programs", tag = "organisation",
    params(PageQuery),
    responses(
        (status = 200, description = "Every program, by site and name", body = Vec<Program>,
            headers(("X-Total-Count" = i64, description = "How many entries the whole list has"))),
        Unauthenticated,
    ))]
pub async fn list_programs(
    State(state): State<AppState>,
    _caller: ApiCaller,
    paging: Paging,
) -> Result<Paged<Program>, ApiError> {
    let programs = state.store.programs().await?;
    Ok(paging.page(
        programs
            .into_iter()
            .map(|p| Program {
                id: p.id,
                site_id: p.site_id,
                site_name: p.site_name,
                name: p.name,
                population: p.population,
                level_of_care: p.level_of_care,
                weekly_minimum_hours: p.weekly_minimum_hours,
                max_group_size: p.max_group_size,
                active: p.active,
            })
            .collect(),
    ))
}

/// A staff member who can be a primary counselor.
#[derive(Debug, Serialize, ToSchema)]
pub struct Counselor {
    /// Staff account id (use as `primary_counselor_id`).
    pub id: i64,
    /// Name shown to colleagues.
    pub name: String,
}

/// Active counselors and clinical directors, for the primary-counselor choice.
#[utoipa::path(get, path = "/counselors", tag = "organisation",
    params(PageQuery),
    responses(
        (status = 200, description = "Active counselors and clinical directors, by name", body = Vec<Counselor>,
            headers(("X-Total-Count" = i64, description = "How many entries the whole list has"))),
        Unauthenticated,
    ))]
pub async fn list_counselors(
    State(state): State<AppState>,
    _caller: ApiCaller,
    paging: Paging,
) -> Result<Paged<Counselor>, ApiError> {
    let counselors = state.store.counselors().await?;
    Ok(paging.page(
        counselors
            .into_iter()
            .map(|u| Counselor {
                id: u.id,
                name: u.display_name,
            })
            .collect(),
    ))
}

/// A caseload or admissions row.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseEntry {
    /// Patient id.
    pub patient_id: i64,
    /// Medical record number.
    pub mrn: String,
    /// Name to address the patient by.
    pub patient_name: String,
    /// Pronouns.
    pub pronouns: Option<String>,
    /// Episode id.
    pub episode_id: i64,
    /// Program name.
    pub program_name: String,
    /// Current ASAM level code.
    pub current_level: String,
    /// Admission date.
    pub admitted_on: NaiveDate,
    /// Open safety flags.
    pub open_flags: i64,
}

fn case_entries(entries: Vec<CaseloadEntry>) -> Vec<CaseEntry> {
    entries
        .into_iter()
        .map(|e| CaseEntry {
            patient_id: e.patient_id,
            mrn: mrn(e.patient_id),
            patient_name: e.patient_name,
            pronouns: e.pronouns,
            episode_id: e.episode_id,
            program_name: e.program_name,
            current_level: e.current_level,
            admitted_on: e.admitted_on.0,
            open_flags: e.open_flags,
        })
        .collect()
}

/// What the dashboard shows.
#[derive(Debug, Serialize, ToSchema)]
pub struct Dashboard {
    /// Today in the clinic's time zone.
    pub today: NaiveDate,
    /// Open episodes whose primary counselor is the caller; null for roles without a caseload.
    pub caseload: Option<Vec<CaseEntry>>,
    /// Admissions today within the caller's view.
    pub admissions: Vec<CaseEntry>,
    /// Open tasks for the caller and their role.
    pub tasks: Vec<Task>,
}

/// My caseload, today's admissions and my open tasks, as the dashboard page shows them.
#[utoipa::path(get, path = "/dashboard", tag = "patients",
    responses(
        (status = 200, description = "The dashboard", body = Dashboard),
        Unauthenticated,
    ))]
pub async fn dashboard(
    State(state): State<AppState>,
    caller: ApiCaller,
) -> Result<Json<Dashboard>, ApiError> {
    let actor = caller.actor;
    let today = state.today();
    // Only counselors and clinical directors carry a caseload, as on the page.
    let caseload = match state.store.grant::<can::ReadEpisodes>(&actor) {
        Ok(grant) if matches!(actor.role.code(), "counselor" | "clinical_director") => {
            Some(case_entries(state.store.caseload(&grant).await?))
        }
        _ => None,
    };
    let grant = state.store.grant::<can::ReadDemographics>(&actor)?;
    let admissions = case_entries(state.store.admissions_on(&grant, today).await?);
    let tasks = task_list(state.store.my_tasks(&grant).await?);
    Ok(Json(Dashboard {
        today,
        caseload,
        admissions,
        tasks,
    }))
}
