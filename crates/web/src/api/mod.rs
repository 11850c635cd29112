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
pub(crate) mod confidentiality;
mod contract;
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
mod portal;
pub(crate) mod privacy;
mod recipients;
mod responses;
mod revenue;
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
use contract::Contract;
use paging::PagingRefusals;
use trellis_storage::access::{can, Capability};

/// Who may call an operation, as the `operations!` list writes it.
macro_rules! access {
    (public) => {
        contract::Access::Public
    };
    (signed_in) => {
        contract::Access::SignedIn
    };
    (task_assignee) => {
        contract::Access::TaskAssignee
    };
    (note_author) => {
        contract::Access::NoteAuthor
    };
    (role($capability:ident)) => {
        contract::Access::Role(<can::$capability as Capability>::PERMISSION)
    };
    (patient($capability:ident)) => {
        contract::Access::Patient(<can::$capability as Capability>::PERMISSION)
    };
}

/// Whether an operation is marked `idempotent`.
macro_rules! is_idempotent {
    () => {
        false
    };
    (idempotent) => {
        true
    };
}

/// The method router of one operation: an idempotent one answers a retried request from its
/// `Idempotency-Key` (see `idempotency::replay`).
macro_rules! method_router {
    ($state:ident, $method:ident, $handler:path) => {
        axum::routing::$method($handler)
    };
    ($state:ident, $method:ident, $handler:path, idempotent) => {
        axum::routing::$method($handler).layer(axum::middleware::from_fn_with_state(
            $state.clone(),
            idempotency::replay,
        ))
    };
}

/// Declares each operation once with who may call it: the router, [`ROUTES`], [`OPERATIONS`]
/// and the OpenAPI document's paths all come from this list, so none of them can miss an
/// operation.
macro_rules! operations {
    ($($method:ident $path:literal => $($handler:ident)::+,
        $who:ident $(($capability:ident))? $(, $idempotent:ident)?;)*) => {
        /// Every operation as (method, path below /api/v1), as the router declares them.
        pub const ROUTES: &[(&str, &str)] = &[$((stringify!($method), $path)),*];

        /// Every operation with who may call it and whether it takes an `Idempotency-Key`.
        pub const OPERATIONS: &[contract::Operation] = &[$(contract::Operation {
            method: stringify!($method),
            path: $path,
            access: access!($who $(($capability))?),
            idempotent: is_idempotent!($($idempotent)?),
        }),*];

        /// The API routes; a method a path does not declare answers 405 with a JSON error.
        pub fn routes(state: &AppState) -> Router<AppState> {
            Router::new()
                $(.route($path, method_router!(state, $method, $($handler)::+ $(, $idempotent)?)))*
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
            modifiers(&Security, &PagingRefusals, &Contract),
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
                (name = "portal", description = "Patients' portal accounts: invitations and ending access (the portal itself is the patient's pages under /portal)"),
                (name = "tasks", description = "Safety flags on the chart and the tasks that answer them"),
                (name = "staff", description = "Staff accounts, assignments and the MFA policy (administrators)"),
                (name = "audit", description = "The audit log (administrators and privacy officers)"),
                (name = "confidentiality", description = "42 CFR Part 2: consents, consent-checked disclosures, the accounting of disclosures, emergency access, the privacy report and collateral contacts; patient rights (restriction requests, the patient notice), who may sign, and the breach register"),
                (name = "revenue", description = "Payers and their terms, each site's billing-provider settings, and patients' coverages with their eligibility checks (billing; no clinical text)"),
                (name = "meta", description = "This document"),
            ),
        )]
        struct ApiDoc;
    };
}

operations! {
    get "/me" => org::me, signed_in;
    get "/sites" => org::list_sites, signed_in;
    get "/programs" => org::list_programs, signed_in;
    get "/counselors" => org::list_counselors, signed_in;
    get "/dashboard" => org::dashboard, role(ReadDemographics);
    get "/patients" => patients::list_patients, role(ReadDemographics);
    post "/patients" => patients::register_patient, role(EditDemographics), idempotent;
    post "/patients/search" => patients::search_patients, role(ReadDemographics);
    get "/patients/{id}" => patients::get_patient, patient(ReadDemographics);
    put "/patients/{id}" => patients::update_patient, patient(EditDemographics);
    get "/patients/{id}/episodes" => episodes::list_episodes, patient(ReadEpisodes);
    post "/patients/{id}/episodes" => episodes::admit_patient, patient(AdmitEpisode), idempotent;
    get "/episodes/{id}/levels" => episodes::level_history, patient(ReadEpisodes);
    post "/episodes/{id}/levels" => episodes::change_level, patient(ChangeLevelOfCare), idempotent;
    post "/episodes/{id}/discharge" => episodes::discharge_episode, patient(DischargeEpisode), idempotent;
    get "/episodes/{id}/discharge-summary" => discharge::get_summary, patient(ReadClinical);
    post "/episodes/{id}/discharge-summary" => discharge::generate_summary, patient(WriteClinical), idempotent;
    put "/discharge-summaries/{id}" => discharge::update_summary, patient(WriteClinical);
    post "/discharge-summaries/{id}/sign" => discharge::sign_summary, patient(WriteClinical);
    get "/episodes/{id}/aftercare" => discharge::aftercare_plan, patient(ReadClinical);
    post "/episodes/{id}/aftercare" => discharge::add_aftercare, patient(WriteClinical), idempotent;
    get "/episodes/{id}/follow-ups" => discharge::list_follow_ups, patient(ReadClinical);
    post "/follow-ups/{id}/outcome" => discharge::record_follow_up, patient(WriteClinical), idempotent;
    get "/reports/follow-up-outcomes" => discharge::outcome_report, role(ReadOutcomes);
    get "/users" => admin::list_users, role(ManageUsers);
    post "/users" => admin::create_user, role(ManageUsers);
    get "/users/{id}" => admin::get_user, role(ManageUsers);
    put "/users/{id}" => admin::update_user, role(ManageUsers);
    put "/users/{id}/assignments" => admin::set_assignments, role(ManageUsers);
    post "/users/{id}/unlock" => admin::unlock_user, role(ManageUsers);
    post "/users/{id}/password" => admin::set_password, role(ManageUsers);
    post "/users/{id}/enrolment-code" => admin::issue_enrolment_code, role(ManageUsers);
    post "/users/{id}/second-factors/reset" => admin::reset_second_factors, role(ManageUsers);
    get "/role-approvals" => admin::role_approvals, role(ReadAudit);
    post "/role-approvals/{id}/approve" => admin::approve_role, role(ReadAudit);
    post "/role-approvals/{id}/refuse" => admin::refuse_role, role(ReadAudit);
    get "/patients/{id}/measures" => measures::list_measures, patient(ReadClinical);
    post "/patients/{id}/measures" => measures::record_measure, patient(WriteClinical), idempotent;
    get "/patients/{id}/measures/due" => measures::patient_due, patient(ReadClinical);
    get "/measures/due" => measures::caseload_due, role(ReadClinical);
    get "/measure-schedules" => measures::list_schedules, signed_in;
    put "/measure-schedules" => measures::set_schedule, role(ManagePrograms);
    get "/patients/{id}/medications" => medications::list_medications, patient(ReadClinical);
    post "/patients/{id}/medications" => medications::add_medication, patient(WriteClinical), idempotent;
    post "/patients/{id}/medications/{medication}/stop" => medications::stop_medication, patient(WriteClinical);
    post "/patients/{id}/medications/{medication}/adherence" => medications::record_adherence, patient(WriteClinical), idempotent;
    post "/patients/{id}/medications/{medication}/side-effects" => medications::record_side_effect, patient(WriteClinical), idempotent;
    get "/patients/{id}/drug-screens" => medications::list_screens, patient(ReadClinical);
    post "/patients/{id}/drug-screens" => medications::record_screen, patient(WriteClinical), idempotent;
    get "/tracks" => schedule::list_tracks, role(ReadSchedule);
    post "/tracks" => schedule::create_track, role(ManagePrograms);
    get "/rooms" => schedule::list_rooms, role(ReadSchedule);
    post "/rooms" => schedule::create_room, role(ManagePrograms);
    get "/sites/{id}/day-sheet" => schedule::day_sheet, role(ReadSchedule);
    get "/sites/{id}/hours-alerts" => schedule::hours_alerts, role(ReadSchedule);
    post "/sessions/{id}/attendance" => schedule::record_attendance, role(ManageSchedule);
    post "/patients/{id}/enrolments" => schedule::enrol, patient(ManageSchedule), idempotent;
    get "/patients/{id}/schedule" => schedule::patient_schedule, patient(ReadSchedule);
    get "/programs/{id}/phases" => phases::get_settings, role(ManagePrograms);
    put "/programs/{id}/phases" => phases::set_settings, role(ManagePrograms);
    get "/patients/{id}/phase" => phases::get_phase, patient(ReadClinical);
    post "/patients/{id}/phase-decisions" => phases::decide, patient(ChangeLevelOfCare), idempotent;
    get "/phases/step-down-review" => phases::step_down_review, role(ReadClinical);
    post "/patients/{id}/appointments" => appointments::book_appointment, patient(ManageSchedule), idempotent;
    get "/patients/{id}/appointments" => appointments::list_appointments, patient(ReadSchedule);
    post "/appointments/{id}/cancel" => appointments::cancel_appointment, role(ManageSchedule);
    post "/appointments/{id}/attendance" => appointments::record_appointment_attendance, role(ManageSchedule);
    get "/patients/{id}/availability" => appointments::list_availability, patient(ReadSchedule);
    post "/patients/{id}/availability" => appointments::add_availability, patient(ManageSchedule), idempotent;
    get "/sites/{id}/appointments" => appointments::site_appointments, role(ReadSchedule);
    get "/patients/{id}/portal-account" => portal::get_account, patient(ManagePortalAccounts);
    post "/patients/{id}/portal-account/invitation" => portal::invite, patient(ManagePortalAccounts);
    post "/patients/{id}/portal-account/end" => portal::end, patient(ManagePortalAccounts);
    get "/calendar-feeds" => calendar_feeds::list_own_feeds, role(ReadSchedule);
    post "/calendar-feeds" => calendar_feeds::create_own_feed, role(ReadSchedule);
    get "/calendar-feeds/{id}" => calendar_feeds::get_own_feed, role(ReadSchedule);
    post "/calendar-feeds/{id}/revoke" => calendar_feeds::revoke_own_feed, role(ReadSchedule);
    get "/patients/{id}/calendar-feeds" => calendar_feeds::list_patient_feeds, patient(ReadSchedule);
    post "/patients/{id}/calendar-feeds" => calendar_feeds::create_patient_feed, patient(ManageSchedule);
    get "/patients/{id}/calendar-feeds/{feed}" => calendar_feeds::get_patient_feed, patient(ReadSchedule);
    post "/patients/{id}/calendar-feeds/{feed}/revoke" => calendar_feeds::revoke_patient_feed, patient(ManageSchedule);
    get "/tasks" => tasks::list_tasks, role(ReadDemographics);
    post "/tasks/{id}/complete" => tasks::complete_task, task_assignee;
    get "/patients/{id}/flags" => tasks::list_flags, patient(ReadClinical);
    post "/patients/{id}/flags" => tasks::raise_flag, patient(WriteClinical), idempotent;
    get "/patients/{id}/notes" => notes::list_notes, patient(ReadClinical);
    post "/patients/{id}/notes" => notes::create_note, patient(WriteClinical), idempotent;
    get "/patients/{id}/counseling-notes" => notes::list_counseling_notes, patient(ReadClinical);
    post "/patients/{id}/counseling-notes" => notes::create_counseling_note, patient(WriteClinical), idempotent;
    get "/notes/late" => notes::late_notes, role(ReadClinical);
    get "/notes/cosign-queue" => notes::cosign_queue, role(ReadClinical);
    get "/notes/{id}" => notes::get_note, patient(ReadClinical);
    put "/notes/{id}" => notes::update_note, note_author;
    post "/notes/{id}/sign" => notes::sign_note, note_author;
    post "/notes/{id}/cosign" => notes::cosign_note, note_author;
    post "/notes/{id}/addenda" => notes::add_addendum, note_author, idempotent;
    post "/group-notes" => notes::create_group_note, role(WriteClinical), idempotent;
    post "/group-notes/{id}/sign" => notes::sign_group_note, note_author;
    put "/users/{id}/requires-cosign" => notes::set_requires_cosign, role(ManageUsers);
    get "/patients/{id}/treatment-plans" => treatment_plans::list_versions, patient(ReadClinical);
    post "/patients/{id}/treatment-plans" => treatment_plans::create_version, patient(WriteClinical), idempotent;
    get "/patients/{id}/treatment-plans/{version}" => treatment_plans::get_version, patient(ReadClinical);
    put "/patients/{id}/treatment-plans/{version}" => treatment_plans::update_version, patient(WriteClinical);
    post "/patients/{id}/treatment-plans/{version}/sign" => treatment_plans::sign_version, patient(WriteClinical);
    get "/treatment-plans/overdue" => treatment_plans::overdue_reviews, role(ReadClinical);
    get "/treatment-plans/unsigned" => treatment_plans::unsigned_plans, role(ReadClinical);
    get "/mfa-policy" => admin::get_mfa_policy, role(ManageUsers);
    put "/mfa-policy" => admin::set_mfa_policy, role(ManageUsers);
    get "/audit" => admin::search_audit, role(ReadAudit);
    post "/audit/verify" => admin::verify_audit, role(ReadAudit);
    get "/patients/{id}/consents" => confidentiality::list_consents, patient(ManageConsents);
    post "/patients/{id}/consents" => confidentiality::record_consent, patient(ManageConsents), idempotent;
    get "/consents/{id}" => confidentiality::get_consent, patient(ManageConsents);
    post "/consents/{id}/revoke" => confidentiality::revoke_consent, patient(ManageConsents);
    post "/consents/{id}/expiry-event" => confidentiality::record_expiry_event, patient(ManageConsents);
    post "/patients/{id}/disclosures" => confidentiality::disclose, patient(Disclose), idempotent;
    get "/patients/{id}/disclosures" => confidentiality::accounting, patient(Disclose);
    post "/patients/{id}/patient-copies" => confidentiality::copy_for_patient, patient(Disclose), idempotent;
    get "/disclosures/{id}" => confidentiality::get_disclosure, patient(Disclose);
    post "/patients/{id}/emergency-access" => confidentiality::break_glass, role(BreakGlass), idempotent;
    post "/patients/{id}/emergency-disclosures" => confidentiality::record_emergency_disclosure, patient(BreakGlass), idempotent;
    get "/privacy-report" => confidentiality::privacy_report, role(ReadAudit);
    get "/patients/{id}/collaterals" => confidentiality::list_collaterals, patient(ManageConsents);
    post "/patients/{id}/collaterals" => confidentiality::add_collateral, patient(ManageConsents), idempotent;
    put "/collaterals/{id}" => confidentiality::update_collateral, patient(ManageConsents);
    post "/collaterals/{id}/end" => confidentiality::end_collateral, patient(ManageConsents);
    get "/patients/{id}/assessments" => assessments::list_assessments, patient(ReadClinical);
    post "/patients/{id}/assessments" => assessments::record_assessment, patient(WriteClinical), idempotent;
    post "/assessments/{id}/placement" => assessments::record_placement, patient(WriteClinical), idempotent;
    get "/patients/{id}/diagnoses" => assessments::list_diagnoses, patient(ReadClinical);
    post "/patients/{id}/diagnoses" => assessments::add_diagnosis, patient(WriteClinical), idempotent;
    post "/diagnoses/{id}/resolve" => assessments::resolve_diagnosis, patient(WriteClinical);
    get "/diagnosis-codes" => assessments::curated_codes, signed_in;
    get "/recipients" => recipients::list_recipients, role(Disclose);
    post "/recipients" => recipients::add_recipient, role(ManageRecipients);
    get "/recipients/{id}" => recipients::get_recipient, role(Disclose);
    put "/recipients/{id}" => recipients::update_recipient, role(ManageRecipients);
    get "/patients/{id}/restrictions" => privacy::restrictions::list_restrictions, patient(ManageConsents);
    post "/patients/{id}/restrictions" => privacy::restrictions::record_restriction, patient(ManageConsents), idempotent;
    get "/restrictions/pending" => privacy::restrictions::pending_restrictions, role(DecideRestrictions);
    post "/restrictions/{id}/decision" => privacy::restrictions::decide_restriction, patient(DecideRestrictions);
    post "/restrictions/{id}/lift" => privacy::restrictions::lift_restriction, patient(DecideRestrictions);
    get "/patients/{id}/patient-notices" => privacy::restrictions::list_patient_notices, patient(ManageConsents);
    post "/patients/{id}/patient-notices" => privacy::restrictions::record_patient_notice, patient(ManageConsents), idempotent;
    get "/patients/{id}/date-of-death" => privacy::restrictions::get_date_of_death, patient(ManageConsents);
    put "/patients/{id}/date-of-death" => privacy::restrictions::record_date_of_death, patient(ManageConsents);
    get "/sites/{id}/minor-consent" => privacy::restrictions::get_minor_consent, role(ManageConsents);
    put "/sites/{id}/minor-consent" => privacy::restrictions::set_minor_consent, role(ManagePrograms);
    get "/breaches" => privacy::breaches::list_breaches, role(KeepBreachRegister);
    post "/breaches" => privacy::breaches::record_breach, role(KeepBreachRegister), idempotent;
    get "/breaches/{id}" => privacy::breaches::get_breach, role(KeepBreachRegister);
    post "/breaches/{id}/assessment" => privacy::breaches::assess_breach, role(KeepBreachRegister);
    get "/breaches/{id}/letters/{patient_id}" => privacy::breaches::breach_letter, role(KeepBreachRegister);
    post "/breaches/{id}/letters/{patient_id}" => privacy::breaches::record_breach_letter, role(KeepBreachRegister);
    post "/breaches/{id}/notices" => privacy::breaches::record_breach_notices, role(KeepBreachRegister);
    post "/breaches/{id}/substitute-notices" => privacy::breaches::record_substitute_notice, role(KeepBreachRegister);
    get "/breach-log" => privacy::breaches::annual_log, role(KeepBreachRegister);
    post "/court-orders" => privacy::authorities::record_court_order, role(DiscloseWithoutConsent), idempotent;
    post "/agreements" => privacy::authorities::record_agreement, role(DiscloseWithoutConsent), idempotent;
    get "/disclosure-authorities" => privacy::authorities::list_authorities, role(DiscloseWithoutConsent);
    get "/disclosure-authorities/{id}" => privacy::authorities::get_authority, role(DiscloseWithoutConsent);
    post "/disclosure-authorities/{id}/end" => privacy::authorities::end_authority, role(DiscloseWithoutConsent);
    post "/disclosure-authorities/{id}/corrections" => privacy::authorities::correct_authority, role(DiscloseWithoutConsent);
    post "/patients/{id}/authorised-disclosures" => privacy::authorities::disclose_under_authority, patient(DiscloseWithoutConsent), idempotent;
    get "/payers" => revenue::payers::list_payers, role(ReadBilling);
    post "/payers" => revenue::payers::add_payer, role(ManageBilling);
    get "/payers/{id}" => revenue::payers::get_payer, role(ReadBilling);
    put "/payers/{id}" => revenue::payers::update_payer, role(ManageBilling);
    get "/billing-providers" => revenue::payers::list_billing_providers, role(ReadBilling);
    put "/sites/{id}/billing-provider" => revenue::payers::set_billing_provider, role(ManageBilling);
    get "/patients/{id}/coverages" => revenue::coverages::list_coverages, patient(ReadBilling);
    post "/patients/{id}/coverages" => revenue::coverages::add_coverage, patient(ManageBilling), idempotent;
    put "/patients/{id}/coverages/{coverage}" => revenue::coverages::update_coverage, patient(ManageBilling);
    post "/patients/{id}/coverages/{coverage}/eligibility-checks" => revenue::coverages::record_eligibility_check, patient(ManageBilling), idempotent;
    get "/openapi.json" => openapi_document, public;
}

/// Rules between the fields of request bodies, by schema name (see `contract::when`).
const BODY_RULES: &[contract::BodyRule] = &[
    ("AttendanceBody", schedule::attendance_rules),
    ("AppointmentAttendanceBody", schedule::attendance_rules),
    ("NewTrackBody", schedule::track_rules),
    ("PhaseRulesBody", phases::screen_rules),
    ("PlacementRequest", assessments::placement_rules),
    (
        "EmergencyDisclosureBody",
        confidentiality::emergency_disclosure_rules,
    ),
    (
        "MinorConsentView",
        privacy::restrictions::minor_consent_rules,
    ),
    ("PatientCopyBody", confidentiality::no_counseling_notes),
    ("CourtOrderBody", privacy::authorities::court_order_rules),
    ("AgreementBody", privacy::authorities::agreement_rules),
    ("NewConsentBody", confidentiality::signer_rules),
    ("PayerBody", revenue::payers::payer_rules),
    ("CoverageBody", revenue::coverages::coverage_rules),
    (
        "SubstituteNoticeBody",
        privacy::breaches::substitute_notice_rules,
    ),
];

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
