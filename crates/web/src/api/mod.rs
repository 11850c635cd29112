//! The JSON API under /api/v1: every staff UI action, for scripts and integrations.
//!
//! Handlers mirror the pages: the caller (a bearer token, or a full session plus the
//! X-CSRF-Token header for state changes) becomes a storage grant, then the same store
//! function the page uses does the work and writes the audit log. Request bodies are parsed
//! after the permission check. Errors are JSON with a stable code.
//! The OpenAPI document is generated from the handlers' annotations and kept in
//! docs/openapi.json by a snapshot test.

mod admin;
mod appointments;
mod assessments;
mod calendar_feeds;
mod codes;
mod confidentiality;
mod discharge;
mod episodes;
mod extract;
mod idempotency;
mod measures;
mod medications;
mod notes;
mod org;
mod paging;
mod patients;
mod phases;
mod recipients;
mod responses;
mod schedule;
mod tasks;
mod treatment_plans;
mod versions;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Router;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::{ApiError, AppError};
use crate::AppState;
use paging::PagingRefusals;

/// Declares each operation once: the router, [`ROUTES`] and the OpenAPI document's paths all
/// come from this list, so none of them can miss an operation.
macro_rules! operations {
    ($($method:ident $path:literal => $($handler:ident)::+;)*) => {
        /// Every operation as (method, path below /api/v1), as the router declares them.
        pub const ROUTES: &[(&str, &str)] = &[$((stringify!($method), $path)),*];

        /// The API routes; a method a path does not declare answers 405 with a JSON error.
        pub fn routes() -> Router<AppState> {
            Router::new()
                $(.route($path, axum::routing::$method($($handler)::+)))*
                .method_not_allowed_fallback(method_not_allowed)
        }

        #[derive(OpenApi)]
        #[openapi(
            info(
                title = "Trellis API",
                description = "The staff actions of Trellis as JSON. Authenticate with \
                    `Authorization: Bearer <token>` (tokens are issued with the command line), \
                    or with a signed-in session cookie plus the `X-CSRF-Token` header for state \
                    changes. Every read and write of patient data is checked against the \
                    caller's role and assignments and recorded in the audit log. Errors are \
                    `{\"error\": {\"code\", \"message\", \"fields\"}}` with a stable `code`; \
                    a method a path does not declare answers 405 (`method_not_allowed`).",
                license(name = "AGPL-3.0-or-later"),
            ),
            servers((url = "/api/v1")),
            components(schemas(crate::error::ApiErrorBody)),
            paths($($($handler)::+),*),
            modifiers(&Security, &PagingRefusals),
            security(("bearer" = []), ("session" = [])),
            tags(
                (name = "account", description = "The caller"),
                (name = "organisation", description = "Sites, programs and counselors"),
                (name = "patients", description = "The patient list, registration and demographics"),
                (name = "episodes", description = "Admission, level of care and discharge"),
                (name = "phases", description = "Program phases, step-down / step-up recommendations and decisions"),
                (name = "discharge", description = "Discharge summary, aftercare plan, 30/60/90-day follow-ups and their outcomes"),
                (name = "measures", description = "Standard measures (PHQ-9, GAD-7, BAM, C-SSRS…), their scores and schedules"),
                (name = "medications", description = "Medications (MOUD marked), adherence, side effects and drug screens"),
                (name = "schedule", description = "Tracks, rooms, day sheets, attendance, group enrolment and weekly service hours"),
                (name = "notes", description = "Progress notes, group notes, addenda and co-signature"),
                (name = "assessments", description = "Intake assessments, ASAM ratings, recommended and actual level of care, and diagnoses"),
                (name = "treatment plans", description = "Treatment plan versions, revisions, signatures and review dates"),
                (name = "tasks", description = "Safety flags on the chart and the tasks that answer them"),
                (name = "staff", description = "Staff accounts, assignments and the MFA policy (administrators)"),
                (name = "audit", description = "The audit log (administrators and privacy officers)"),
                (name = "confidentiality", description = "42 CFR Part 2: consents, consent-checked disclosures, the accounting of disclosures, emergency access, the privacy report and collateral contacts"),
                (name = "meta", description = "This document"),
            ),
        )]
        struct ApiDoc;
    };
}

operations! {
    get "/me" => org::me;
    get "/sites" => org::list_sites;
    get "/programs" => org::list_programs;
    get "/counselors" => org::list_counselors;
    get "/dashboard" => org::dashboard;
    get "/patients" => patients::list_patients;
    post "/patients" => patients::register_patient;
    post "/patients/search" => patients::search_patients;
    get "/patients/{id}" => patients::get_patient;
    put "/patients/{id}" => patients::update_patient;
    get "/patients/{id}/episodes" => episodes::list_episodes;
    post "/patients/{id}/episodes" => episodes::admit_patient;
    get "/episodes/{id}/levels" => episodes::level_history;
    post "/episodes/{id}/levels" => episodes::change_level;
    post "/episodes/{id}/discharge" => episodes::discharge_episode;
    get "/episodes/{id}/discharge-summary" => discharge::get_summary;
    post "/episodes/{id}/discharge-summary" => discharge::generate_summary;
    put "/discharge-summaries/{id}" => discharge::update_summary;
    post "/discharge-summaries/{id}/sign" => discharge::sign_summary;
    get "/episodes/{id}/aftercare" => discharge::aftercare_plan;
    post "/episodes/{id}/aftercare" => discharge::add_aftercare;
    get "/episodes/{id}/follow-ups" => discharge::list_follow_ups;
    post "/follow-ups/{id}/outcome" => discharge::record_follow_up;
    get "/reports/follow-up-outcomes" => discharge::outcome_report;
    get "/users" => admin::list_users;
    post "/users" => admin::create_user;
    get "/users/{id}" => admin::get_user;
    put "/users/{id}" => admin::update_user;
    put "/users/{id}/assignments" => admin::set_assignments;
    post "/users/{id}/unlock" => admin::unlock_user;
    post "/users/{id}/password" => admin::set_password;
    get "/role-approvals" => admin::role_approvals;
    post "/role-approvals/{id}/approve" => admin::approve_role;
    post "/role-approvals/{id}/refuse" => admin::refuse_role;
    get "/patients/{id}/measures" => measures::list_measures;
    post "/patients/{id}/measures" => measures::record_measure;
    get "/patients/{id}/measures/due" => measures::patient_due;
    get "/measures/due" => measures::caseload_due;
    get "/measure-schedules" => measures::list_schedules;
    put "/measure-schedules" => measures::set_schedule;
    get "/patients/{id}/medications" => medications::list_medications;
    post "/patients/{id}/medications" => medications::add_medication;
    post "/patients/{id}/medications/{medication}/stop" => medications::stop_medication;
    post "/patients/{id}/medications/{medication}/adherence" => medications::record_adherence;
    post "/patients/{id}/medications/{medication}/side-effects" => medications::record_side_effect;
    get "/patients/{id}/drug-screens" => medications::list_screens;
    post "/patients/{id}/drug-screens" => medications::record_screen;
    get "/tracks" => schedule::list_tracks;
    post "/tracks" => schedule::create_track;
    get "/rooms" => schedule::list_rooms;
    post "/rooms" => schedule::create_room;
    get "/sites/{id}/day-sheet" => schedule::day_sheet;
    get "/sites/{id}/hours-alerts" => schedule::hours_alerts;
    post "/sessions/{id}/attendance" => schedule::record_attendance;
    post "/patients/{id}/enrolments" => schedule::enrol;
    get "/patients/{id}/schedule" => schedule::patient_schedule;
    get "/programs/{id}/phases" => phases::get_settings;
    put "/programs/{id}/phases" => phases::set_settings;
    get "/patients/{id}/phase" => phases::get_phase;
    post "/patients/{id}/phase-decisions" => phases::decide;
    get "/phases/step-down-review" => phases::step_down_review;
    post "/patients/{id}/appointments" => appointments::book_appointment;
    get "/patients/{id}/appointments" => appointments::list_appointments;
    post "/appointments/{id}/cancel" => appointments::cancel_appointment;
    post "/appointments/{id}/attendance" => appointments::record_appointment_attendance;
    get "/patients/{id}/availability" => appointments::list_availability;
    post "/patients/{id}/availability" => appointments::add_availability;
    get "/sites/{id}/appointments" => appointments::site_appointments;
    get "/calendar-feeds" => calendar_feeds::list_own_feeds;
    post "/calendar-feeds" => calendar_feeds::create_own_feed;
    get "/calendar-feeds/{id}" => calendar_feeds::get_own_feed;
    post "/calendar-feeds/{id}/revoke" => calendar_feeds::revoke_own_feed;
    get "/patients/{id}/calendar-feeds" => calendar_feeds::list_patient_feeds;
    post "/patients/{id}/calendar-feeds" => calendar_feeds::create_patient_feed;
    get "/patients/{id}/calendar-feeds/{feed}" => calendar_feeds::get_patient_feed;
    post "/patients/{id}/calendar-feeds/{feed}/revoke" => calendar_feeds::revoke_patient_feed;
    get "/tasks" => tasks::list_tasks;
    post "/tasks/{id}/complete" => tasks::complete_task;
    get "/patients/{id}/flags" => tasks::list_flags;
    post "/patients/{id}/flags" => tasks::raise_flag;
    get "/patients/{id}/notes" => notes::list_notes;
    post "/patients/{id}/notes" => notes::create_note;
    get "/notes/late" => notes::late_notes;
    get "/notes/cosign-queue" => notes::cosign_queue;
    get "/notes/{id}" => notes::get_note;
    put "/notes/{id}" => notes::update_note;
    post "/notes/{id}/sign" => notes::sign_note;
    post "/notes/{id}/cosign" => notes::cosign_note;
    post "/notes/{id}/addenda" => notes::add_addendum;
    post "/group-notes" => notes::create_group_note;
    post "/group-notes/{id}/sign" => notes::sign_group_note;
    put "/users/{id}/requires-cosign" => notes::set_requires_cosign;
    get "/patients/{id}/treatment-plans" => treatment_plans::list_versions;
    post "/patients/{id}/treatment-plans" => treatment_plans::create_version;
    get "/patients/{id}/treatment-plans/{version}" => treatment_plans::get_version;
    put "/patients/{id}/treatment-plans/{version}" => treatment_plans::update_version;
    post "/patients/{id}/treatment-plans/{version}/sign" => treatment_plans::sign_version;
    get "/treatment-plans/overdue" => treatment_plans::overdue_reviews;
    get "/treatment-plans/unsigned" => treatment_plans::unsigned_plans;
    get "/mfa-policy" => admin::get_mfa_policy;
    put "/mfa-policy" => admin::set_mfa_policy;
    get "/audit" => admin::search_audit;
    post "/audit/verify" => admin::verify_audit;
    get "/patients/{id}/consents" => confidentiality::list_consents;
    post "/patients/{id}/consents" => confidentiality::record_consent;
    get "/consents/{id}" => confidentiality::get_consent;
    post "/consents/{id}/revoke" => confidentiality::revoke_consent;
    post "/consents/{id}/expiry-event" => confidentiality::record_expiry_event;
    post "/patients/{id}/disclosures" => confidentiality::disclose;
    get "/patients/{id}/disclosures" => confidentiality::accounting;
    get "/disclosures/{id}" => confidentiality::get_disclosure;
    post "/patients/{id}/emergency-access" => confidentiality::break_glass;
    post "/patients/{id}/emergency-disclosures" => confidentiality::record_emergency_disclosure;
    get "/privacy-report" => confidentiality::privacy_report;
    get "/patients/{id}/collaterals" => confidentiality::list_collaterals;
    post "/patients/{id}/collaterals" => confidentiality::add_collateral;
    put "/collaterals/{id}" => confidentiality::update_collateral;
    post "/collaterals/{id}/end" => confidentiality::end_collateral;
    get "/patients/{id}/assessments" => assessments::list_assessments;
    post "/patients/{id}/assessments" => assessments::record_assessment;
    post "/assessments/{id}/placement" => assessments::record_placement;
    get "/patients/{id}/diagnoses" => assessments::list_diagnoses;
    post "/patients/{id}/diagnoses" => assessments::add_diagnosis;
    post "/diagnoses/{id}/resolve" => assessments::resolve_diagnosis;
    get "/diagnosis-codes" => assessments::curated_codes;
    get "/recipients" => recipients::list_recipients;
    post "/recipients" => recipients::add_recipient;
    get "/recipients/{id}" => recipients::get_recipient;
    put "/recipients/{id}" => recipients::update_recipient;
    get "/openapi.json" => openapi_document;
}

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API token (trl_…) acting as its owner with its role",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::identity::SESSION_COOKIE,
                "A signed-in staff session; state changes also need the X-CSRF-Token header",
            ))),
        );
    }
}

/// The OpenAPI 3.1 document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The OpenAPI document as pretty-printed JSON ending in a newline, as kept in
/// docs/openapi.json.
pub fn openapi_json() -> Result<String, serde_json::Error> {
    let mut json = openapi().to_pretty_json()?;
    json.push('\n');
    Ok(json)
}

/// This API's OpenAPI 3.1 document (no credentials needed: it holds no patient data).
#[utoipa::path(get, path = "/openapi.json", tag = "meta", security(()),
    responses(
        (status = 200, description = "The OpenAPI document", content_type = "application/json", body = Object),
    ))]
async fn openapi_document() -> Result<Response, ApiError> {
    let json = openapi_json().map_err(|e| AppError::Internal(format!("openapi: {e}")))?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        json,
    )
        .into_response())
}

async fn method_not_allowed() -> ApiError {
    ApiError::request(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this path does not accept that method; see the Allow header",
    )
}
