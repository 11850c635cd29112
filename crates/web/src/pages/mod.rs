//! Server-rendered staff pages. Handlers are thin: parse the form, get a grant, call the store,
//! render a template. Every template is checked at compile time (askama).

mod admin;
mod auth;
mod confidentiality;
mod measures;
mod notes;
mod patients;
pub(crate) mod schedule;
mod tasks;

pub use measures::DUE_HORIZON_DAYS;

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use trellis_domain::access::{permits, Permission};
use trellis_domain::patient::FieldError;

use crate::identity::Staff;
use crate::AppState;

/// The staff page routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(auth::home))
        .route("/login", get(auth::login_page).post(auth::login))
        .route("/logout", post(auth::logout))
        .route("/login/mfa", get(auth::mfa_page).post(auth::mfa_verify))
        .route("/account/mfa", get(auth::enrol_page).post(auth::enrol))
        .route("/dashboard", get(patients::dashboard))
        .route("/patients", get(patients::list).post(patients::register))
        .route("/patients/search", post(patients::search))
        .route("/patients/new", get(patients::new_form))
        .route(
            "/patients/{id}",
            get(patients::chart).post(patients::update),
        )
        .route("/patients/{id}/edit", get(patients::edit_form))
        .route(
            "/patients/{id}/episodes",
            get(patients::episodes_tab).post(patients::admit),
        )
        .route("/patients/{id}/episodes/new", get(patients::admit_form))
        .route(
            "/episodes/{id}/level",
            get(patients::level_form).post(patients::change_level),
        )
        .route(
            "/episodes/{id}/discharge",
            get(patients::discharge_form).post(patients::discharge),
        )
        .route(
            "/patients/{id}/measures",
            get(measures::tab).post(measures::record),
        )
        .route("/patients/{id}/measures/new", get(measures::new_form))
        .route("/patients/{id}/schedule", get(patients::schedule_tab))
        .route("/patients/{id}/enrolments", post(patients::enrol))
        .route("/schedule/day-sheet", get(schedule::day_sheet))
        .route("/schedule/sessions/{id}/attendance", post(schedule::mark))
        .route("/schedule/hours", get(schedule::hours_alerts))
        .route(
            "/schedule/tracks",
            get(schedule::tracks).post(schedule::create_track),
        )
        .route("/schedule/rooms", post(schedule::create_room))
        .route(
            "/patients/{id}/consents",
            get(confidentiality::consents_tab).post(confidentiality::record_consent),
        )
        .route(
            "/patients/{id}/consents/{consent}",
            get(confidentiality::print_consent),
        )
        .route(
            "/patients/{id}/consents/{consent}/revoke",
            post(confidentiality::revoke_consent),
        )
        .route(
            "/patients/{id}/disclosures",
            get(confidentiality::accounting).post(confidentiality::disclose),
        )
        .route(
            "/patients/{id}/disclosures/{disclosure}",
            get(confidentiality::packet),
        )
        .route(
            "/emergency-access",
            get(confidentiality::emergency_form).post(confidentiality::break_glass),
        )
        .route("/privacy", get(confidentiality::privacy))
        .route("/privacy/notice", post(confidentiality::set_notice))
        .route("/patients/{id}/notes", get(notes::tab).post(notes::create))
        .route("/notes/{id}", post(notes::update))
        .route("/notes/{id}/sign", post(notes::sign))
        .route("/notes/{id}/cosign", post(notes::cosign))
        .route("/notes/{id}/addenda", post(notes::addendum))
        .route(
            "/group-notes",
            get(notes::group_form).post(notes::group_create),
        )
        .route("/group-notes/{id}/sign", post(notes::group_sign))
        .route("/tasks", get(tasks::list))
        .route("/tasks/{id}/complete", post(tasks::complete))
        .route("/patients/{id}/flags", post(tasks::raise_flag))
        .route("/admin/users", get(admin::users).post(admin::create_user))
        .route(
            "/admin/users/{id}",
            get(admin::user).post(admin::update_user),
        )
        .route("/admin/users/{id}/password", post(admin::set_password))
        .route("/admin/users/{id}/unlock", post(admin::unlock))
        .route("/admin/mfa-policy", post(admin::mfa_policy))
        .route("/admin/audit", get(admin::audit))
        .route("/admin/audit/verify", post(admin::verify))
        .route("/static/app.css", get(stylesheet))
}

async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../static/app.css"),
    )
}

/// What the page frame needs: who is signed in and which menu entries they may use.
pub struct Layout {
    /// Signed-in person's name.
    pub user_name: String,
    /// Their role's label.
    pub role_label: &'static str,
    /// CSRF token for forms.
    pub csrf: String,
    /// Whether to show Staff.
    pub can_manage_users: bool,
    /// Whether to show Audit log.
    pub can_read_audit: bool,
    /// Whether to show Schedule (day sheet, weekly hours).
    pub can_read_schedule: bool,
    /// Whether to show Tracks.
    pub can_manage_programs: bool,
    /// Whether to show Emergency access.
    pub can_break_glass: bool,
    /// Whether to show Group notes.
    pub can_write_clinical: bool,
    /// Current section, for aria-current.
    pub section: &'static str,
}

impl Layout {
    /// The frame for a signed-in staff member.
    pub fn new(staff: &Staff, section: &'static str) -> Layout {
        let role = staff.actor.role;
        Layout {
            user_name: staff.user.display_name.clone(),
            role_label: role.label(),
            csrf: staff.csrf.clone(),
            can_manage_users: permits(role, Permission::ManageUsers),
            can_read_audit: permits(role, Permission::ReadAudit),
            can_read_schedule: permits(role, Permission::ReadSchedule),
            can_manage_programs: permits(role, Permission::ManagePrograms),
            can_break_glass: permits(role, Permission::BreakGlass),
            can_write_clinical: permits(role, Permission::WriteClinical),
            section,
        }
    }
}

/// A field error with the human label of its field, for error summaries.
pub struct LabelledError {
    /// Field name (the input's id).
    pub field: &'static str,
    /// Field label.
    pub label: String,
    /// Problem.
    pub message: String,
}

/// Labels field errors for a summary at the top of a form.
pub fn labelled(errors: &[FieldError]) -> Vec<LabelledError> {
    errors
        .iter()
        .map(|e| LabelledError {
            field: e.field,
            label: field_label(e.field),
            message: e.message.clone(),
        })
        .collect()
}

fn field_label(field: &str) -> String {
    let label = field.replace('_', " ").replace(" id", "");
    let mut chars = label.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
