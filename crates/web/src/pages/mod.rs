//! Server-rendered staff pages. Handlers are thin: parse the form, get a grant, call the store,
//! render a template. Every template is checked at compile time (askama).

mod admin;
pub(crate) mod appointments;
pub(crate) mod assessments;
mod auth;
mod chart_overview;
mod check_in;
mod confidentiality;
mod counseling_notes;
pub(crate) mod dashboard;
mod discharge;
mod frontdoor;
mod group_notes;
mod measures;
mod medications;
mod notes;
pub(crate) mod passkeys;
mod patients;
mod phases;
pub(crate) mod portal;
mod privacy;
mod programs;
mod recipients;
mod revenue;
mod review;
pub(crate) mod schedule;
mod sessions;
mod tasks;
mod treatment_plans;
mod trends;
mod week;

pub(crate) use discharge::{parse_aftercare, parse_outcome};
pub use measures::DUE_HORIZON_DAYS;

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use trellis_domain::access::{permits, Permission, Role};
use trellis_domain::patient::FieldError;

use crate::identity::Staff;
use crate::AppState;
use trellis_storage::staff::StaffUser;

/// The staff page routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(auth::home))
        .route("/login", get(auth::login_page).post(auth::login))
        .route("/logout", post(auth::logout))
        .route("/login/mfa", get(auth::mfa_page).post(auth::mfa_verify))
        .route("/account/mfa", get(auth::enrol_page).post(auth::enrol))
        .route("/account/passkeys", get(passkeys::list))
        .route("/account/passkeys/{passkey}/remove", post(passkeys::remove))
        .route(
            "/account/passkeys/set-up/start",
            post(passkeys::set_up_start),
        )
        .route(
            "/account/passkeys/set-up/finish",
            post(passkeys::set_up_finish),
        )
        .route("/login/passkey/start", post(passkeys::sign_in_start))
        .route("/login/passkey/finish", post(passkeys::sign_in_finish))
        .route(
            "/account/password",
            get(auth::password_form).post(auth::change_password),
        )
        .route("/account/password-strength", post(auth::password_strength))
        .route("/account/sessions", get(sessions::show))
        .route("/account/sessions/end", post(sessions::end))
        .route("/account/notices/acknowledge", post(sessions::acknowledge))
        .route("/dashboard", get(dashboard::dashboard))
        .route("/portal", get(portal::home))
        .route(
            "/portal/sign-in",
            get(portal::sign_in_page).post(portal::sign_in),
        )
        .route("/portal/sign-out", post(portal::sign_out))
        .route(
            "/portal/welcome",
            get(portal::welcome_page).post(portal::welcome),
        )
        .route("/portal/today", get(portal::today))
        .route("/patients/{id}/portal-account", get(portal::accounts::page))
        .route(
            "/patients/{id}/portal-account/invitation",
            post(portal::accounts::invite),
        )
        .route(
            "/patients/{id}/portal-account/end",
            post(portal::accounts::end),
        )
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
        .route(
            "/patients/{id}/medications",
            get(medications::tab).post(medications::add),
        )
        .route(
            "/patients/{id}/medications/{medication}/stop",
            post(medications::stop),
        )
        .route(
            "/patients/{id}/medications/{medication}/adherence",
            post(medications::adherence),
        )
        .route(
            "/patients/{id}/medications/{medication}/side-effects",
            post(medications::side_effect),
        )
        .route(
            "/patients/{id}/drug-screens",
            post(medications::record_screen),
        )
        .route(
            "/patients/{id}/phase",
            get(phases::tab).post(phases::decide),
        )
        .route("/caseload/step-down-review", get(phases::review_list))
        .route(
            "/programs/{id}/phases",
            get(phases::settings).post(phases::save_settings),
        )
        .route(
            "/episodes/{id}/discharge-summary",
            get(discharge::page).post(discharge::generate),
        )
        .route(
            "/episodes/{id}/discharge-summary/print",
            get(discharge::print),
        )
        .route("/discharge-summaries/{id}", post(discharge::update))
        .route("/discharge-summaries/{id}/sign", post(discharge::sign))
        .route("/episodes/{id}/aftercare", post(discharge::add_aftercare))
        .route(
            "/follow-ups/{id}/outcome",
            post(discharge::record_follow_up),
        )
        .route("/reports/follow-up-outcomes", get(discharge::outcomes))
        .route("/patients/{id}/schedule", get(patients::schedule_tab))
        .route("/patients/{id}/enrolments", post(patients::enrol))
        .route("/patients/{id}/appointments", post(appointments::book))
        .route(
            "/patients/{id}/appointments/{appointment}/cancel",
            post(appointments::cancel),
        )
        .route(
            "/patients/{id}/appointments/{appointment}/attendance",
            post(appointments::check_in),
        )
        .route(
            "/patients/{id}/availability",
            post(appointments::add_availability),
        )
        .route(
            "/patients/{id}/availability/{window}/delete",
            post(appointments::remove_availability),
        )
        .route(
            "/patients/{id}/calendar-feeds",
            post(appointments::create_patient_feed),
        )
        .route(
            "/patients/{id}/calendar-feeds/{feed}/revoke",
            post(appointments::revoke_patient_feed),
        )
        .route("/schedule/my-day", get(appointments::my_day))
        .route(
            "/schedule/my-day/calendar-feeds",
            post(appointments::create_own_feed),
        )
        .route(
            "/schedule/my-day/calendar-feeds/{feed}/revoke",
            post(appointments::revoke_own_feed),
        )
        .route("/calendar/{file}", get(appointments::feed))
        .route("/schedule/day-sheet", get(schedule::day_sheet))
        .route("/schedule/week", get(week::page))
        .route("/schedule/sessions/{id}/attendance", post(schedule::mark))
        .route(
            "/schedule/sessions/{id}/check-in",
            get(check_in::page).post(check_in::save),
        )
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
            "/patients/{id}/consents/{consent}/expiry-event",
            post(confidentiality::record_expiry_event),
        )
        .route(
            "/patients/{id}/emergency-disclosure",
            get(confidentiality::emergency_disclosure_form)
                .post(confidentiality::record_emergency_disclosure),
        )
        .route(
            "/patients/{id}/collaterals",
            post(confidentiality::add_collateral),
        )
        .route(
            "/patients/{id}/collaterals/{collateral}",
            post(confidentiality::update_collateral),
        )
        .route(
            "/patients/{id}/collaterals/{collateral}/end",
            post(confidentiality::end_collateral),
        )
        .route(
            "/patients/{id}/disclosures",
            get(confidentiality::accounting).post(confidentiality::disclose),
        )
        .route(
            "/patients/{id}/patient-copies",
            post(confidentiality::copy_for_patient),
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
        .route(
            "/privacy/recipients",
            get(recipients::list).post(recipients::add),
        )
        .route("/privacy/recipients/{id}", post(recipients::update))
        .route("/patients/{id}/privacy", get(privacy::rights::page))
        .route(
            "/patients/{id}/restrictions",
            post(privacy::rights::record_restriction),
        )
        .route(
            "/patients/{id}/restrictions/{restriction}/decision",
            post(privacy::rights::decide),
        )
        .route(
            "/patients/{id}/restrictions/{restriction}/lift",
            post(privacy::rights::lift),
        )
        .route(
            "/patients/{id}/patient-notices",
            post(privacy::rights::record_notice),
        )
        .route(
            "/patients/{id}/date-of-death",
            post(privacy::rights::record_death),
        )
        .route("/privacy/restrictions", get(privacy::rights::queue))
        .route("/privacy/authorities", get(privacy::authorities::register))
        .route(
            "/privacy/undercover-orders",
            post(privacy::authorities::record_undercover),
        )
        .route("/review", get(review::scope))
        .route("/review/patients/{id}", get(review::patient))
        .route(
            "/privacy/court-orders",
            post(privacy::authorities::record_court_order),
        )
        .route(
            "/privacy/agreements",
            post(privacy::authorities::record_agreement),
        )
        .route(
            "/privacy/authorities/{id}",
            get(privacy::authorities::authority),
        )
        .route(
            "/privacy/authorities/{id}/end",
            post(privacy::authorities::end),
        )
        .route(
            "/privacy/authorities/{id}/correction",
            post(privacy::authorities::correct),
        )
        .route(
            "/patients/{id}/authorised-disclosure",
            get(privacy::authorities::disclose_form).post(privacy::authorities::disclose),
        )
        .route(
            "/privacy/minor-consent",
            get(privacy::rights::minor_consent),
        )
        .route(
            "/privacy/minor-consent/{id}",
            post(privacy::rights::set_minor_consent),
        )
        .route(
            "/privacy/breaches",
            get(privacy::breaches::register).post(privacy::breaches::record),
        )
        .route("/privacy/breaches/log", get(privacy::breaches::log))
        .route("/privacy/breaches/log.csv", get(privacy::breaches::log_csv))
        .route("/privacy/breaches/{id}", get(privacy::breaches::incident))
        .route(
            "/privacy/breaches/{id}/assessment",
            post(privacy::breaches::assess),
        )
        .route(
            "/privacy/breaches/{id}/letters/{patient_id}",
            get(privacy::breaches::letter).post(privacy::breaches::letter_sent),
        )
        .route(
            "/privacy/breaches/{id}/notices",
            post(privacy::breaches::notices),
        )
        .route(
            "/privacy/breaches/{id}/substitute-notices",
            post(privacy::breaches::substitute_notice),
        )
        .route("/patients/{id}/notes", get(notes::tab).post(notes::create))
        .route(
            "/patients/{id}/counseling-notes",
            get(counseling_notes::page).post(counseling_notes::create),
        )
        .route("/notes/{id}", post(notes::update))
        .route("/notes/{id}/sign", post(notes::sign))
        .route("/notes/{id}/cosign", post(notes::cosign))
        .route("/notes/{id}/addenda", post(notes::addendum))
        .route("/group-notes", get(group_notes::list))
        .route("/group-notes/{id}", get(group_notes::view))
        .route("/group-notes/{id}/sign", post(group_notes::sign))
        .route(
            "/schedule/sessions/{id}/group-note",
            get(group_notes::form).post(group_notes::create),
        )
        .route(
            "/patients/{id}/treatment-plan",
            get(treatment_plans::tab).post(treatment_plans::create),
        )
        .route(
            "/patients/{id}/treatment-plan/revise",
            post(treatment_plans::revise),
        )
        .route(
            "/patients/{id}/treatment-plan/{version}",
            get(treatment_plans::version).post(treatment_plans::save),
        )
        .route(
            "/patients/{id}/treatment-plan/{version}/sign",
            post(treatment_plans::sign),
        )
        .route(
            "/patients/{id}/treatment-plan/{version}/print",
            get(treatment_plans::print),
        )
        .route(
            "/admin/plan-reviews",
            get(treatment_plans::review_intervals).post(treatment_plans::set_review_interval),
        )
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
        .route(
            "/admin/users/{id}/second-factors/reset",
            post(admin::reset_second_factors),
        )
        .route(
            "/admin/users/{id}/enrolment-code",
            post(admin::enrolment_code),
        )
        .route("/admin/mfa-policy", post(admin::mfa_policy))
        .route("/admin/role-approvals", get(admin::role_approvals))
        .route("/admin/role-approvals/{id}", post(admin::decide_role))
        .route("/admin/audit", get(admin::audit))
        .route("/admin/programs", get(programs::list))
        .route(
            "/admin/programs/{id}/public-profile",
            get(frontdoor::profiles::edit).post(frontdoor::profiles::save),
        )
        .route("/find-a-program", get(frontdoor::public::finder))
        .route("/find-a-program/{id}", get(frontdoor::public::program))
        .route(
            "/is-iop-right-for-me",
            get(frontdoor::self_screen::form).post(frontdoor::self_screen::answer),
        )
        .route(
            "/admin/programs/{id}/measures",
            post(programs::save_measures),
        )
        .route("/admin/audit/verify", post(admin::verify))
        .route("/patients/{id}/assessment", get(assessments::tab))
        .route("/patients/{id}/assessments", post(assessments::create))
        .route("/assessments/{id}/placement", post(assessments::place))
        .route("/patients/{id}/diagnoses", post(assessments::add_diagnosis))
        .route(
            "/diagnoses/{id}/resolve",
            post(assessments::resolve_diagnosis),
        )
        .route(
            "/billing/payers",
            get(revenue::payers::list).post(revenue::payers::add),
        )
        .route("/billing/payers/{id}", post(revenue::payers::update))
        .route("/billing/providers", get(revenue::payers::providers))
        .route(
            "/billing/providers/{id}",
            post(revenue::payers::set_provider),
        )
        .route("/patients/{id}/coverage", get(revenue::coverage::tab))
        .route("/patients/{id}/coverages", post(revenue::coverage::add))
        .route(
            "/patients/{id}/coverages/{coverage}",
            post(revenue::coverage::update),
        )
        .route(
            "/patients/{id}/coverages/{coverage}/eligibility",
            post(revenue::coverage::check),
        )
        .route("/static/app.css", get(stylesheet))
        .route("/static/app.js", get(script))
        .route("/static/passkeys.js", get(passkeys_script))
        .route("/static/vendor/htmx-2.0.11.min.js", get(htmx))
}

/// The vendored htmx: the version is in its path, so it may be cached for good.
async fn htmx() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        include_str!("../../static/vendor/htmx-2.0.11.min.js"),
    )
}

async fn script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../static/app.js"),
    )
}

/// The passkey ceremonies' script (`navigator.credentials`), served from our origin for the CSP.
async fn passkeys_script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../static/passkeys.js"),
    )
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
    /// Whether to show Outcomes.
    pub can_read_outcomes: bool,
    /// Whether to show Billing (payers, providers).
    pub can_read_billing: bool,
    /// Whether to show the patient search in the header.
    pub can_search_patients: bool,
    /// Whether this is an auditor, whose menu is their agreement's review alone (42 CFR 2.53).
    pub can_review: bool,
    /// Current section, for aria-current.
    pub section: &'static str,
    /// A confirmation for the page's live region (after a save without JavaScript).
    pub notice: Option<String>,
}

impl Layout {
    /// The frame for a signed-in staff member.
    pub fn new(staff: &Staff, section: &'static str) -> Layout {
        Layout::of(&staff.user, staff.actor.role, &staff.csrf, section)
    }

    /// The frame for `user` acting as `role`, with the session's CSRF token.
    pub fn of(user: &StaffUser, role: Role, csrf: &str, section: &'static str) -> Layout {
        Layout {
            user_name: user.display_name.clone(),
            role_label: role.label(),
            csrf: csrf.to_owned(),
            can_manage_users: permits(role, Permission::ManageUsers),
            can_read_audit: permits(role, Permission::ReadAudit),
            can_read_schedule: permits(role, Permission::ReadSchedule),
            can_manage_programs: permits(role, Permission::ManagePrograms),
            can_break_glass: permits(role, Permission::BreakGlass),
            can_write_clinical: permits(role, Permission::WriteClinical),
            can_read_outcomes: permits(role, Permission::ReadOutcomes),
            can_read_billing: permits(role, Permission::ReadBilling),
            can_search_patients: permits(role, Permission::ReadDemographics),
            can_review: permits(role, Permission::ReviewUnderAgreement),
            section,
            notice: None,
        }
    }
}

/// The chart's tab bar, the same on every chart page: which tabs the role may open and which
/// one is current.
pub struct ChartTabs {
    /// The patient whose chart it is.
    pub patient_id: i64,
    /// The current tab's path segment ("overview" for the chart's front page).
    pub current: &'static str,
    /// Episodes & level of care.
    pub can_read_episodes: bool,
    /// Measures, phase, plan, notes, medications, assessment.
    pub can_read_clinical: bool,
    /// Schedule & attendance.
    pub can_read_schedule: bool,
    /// Consents & disclosures.
    pub can_see_consents: bool,
    /// The patient's portal account.
    pub can_manage_portal: bool,
    /// Coverage and eligibility.
    pub can_read_billing: bool,
}

impl ChartTabs {
    /// The tab bar for `role` on `patient_id`'s chart, with `current` marked.
    pub fn new(role: Role, patient_id: i64, current: &'static str) -> ChartTabs {
        ChartTabs {
            patient_id,
            current,
            can_read_episodes: permits(role, Permission::ReadEpisodes),
            can_read_clinical: permits(role, Permission::ReadClinical),
            can_read_schedule: permits(role, Permission::ReadSchedule),
            can_see_consents: permits(role, Permission::ManageConsents)
                || permits(role, Permission::Disclose),
            can_manage_portal: permits(role, Permission::ManagePortalAccounts),
            can_read_billing: permits(role, Permission::ReadBilling),
        }
    }
}

/// Whether a request came from htmx (which then gets a fragment, not a redirect).
pub fn is_htmx(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get("hx-request")
        .is_some_and(|v| v.as_bytes() == b"true")
}

/// A problem with one row of a multi-row form: the anchor of the input it is about, a label
/// naming the record and field ("Alex Rivera: minutes late"), and the message.
#[derive(Debug, Clone)]
pub struct RowError {
    /// The id of the input (the summary links to it).
    pub anchor: String,
    /// Record and field.
    pub label: String,
    /// What is wrong.
    pub message: String,
}

impl RowError {
    /// A problem with the input `anchor`.
    pub fn new(anchor: String, label: String, message: impl Into<String>) -> RowError {
        RowError {
            anchor,
            label,
            message: message.into(),
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
