//! Every route × every role: each JSON API operation and each staff page is called by one
//! staff member in each of the eleven roles, for a patient inside their view and one outside it,
//! and must be allowed or refused exactly as `trellis_domain::access::permits` and the
//! caller's assignments say. Refusals about a patient must leave an access_denied audit row.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use std::collections::BTreeSet;
use std::sync::Arc;
use tokio::task::JoinSet;
use trellis_domain::access::{permits, Permission as P, Role};
use trellis_storage::access::{can, Actor};
use trellis_storage::notes::{AttendeeNote, NewNote, NoteKind, NoteTemplate};
use trellis_storage::tasks::Severity;
use trellis_storage::treatment_plans::{
    Goal, Intervention, Modality, Objective, ObjectiveStatus, PlanContent, PlanSignatures, Problem,
};

/// A one-objective plan for the matrix's patients.
fn matrix_plan(staff_id: i64) -> PlanContent {
    PlanContent {
        problems: vec![Problem {
            text: "matrix problem".into(),
            diagnosis_code: None,
            diagnosis_id: None,
            finding: None,
            goals: vec![Goal {
                text: "matrix goal".into(),
                objectives: vec![Objective {
                    id: None,
                    text: "matrix objective".into(),
                    target_on: today() + chrono::Duration::days(30),
                    status: ObjectiveStatus::Open,
                    interventions: vec![Intervention {
                        modality: Modality::Group,
                        frequency: "weekly".into(),
                        staff_id,
                    }],
                }],
            }],
        }],
    }
}

/// Who may use a route.
#[derive(Debug, Clone, Copy)]
enum Rule {
    /// Anyone, signed in or not.
    Public,
    /// Any signed-in staff member.
    SignedIn,
    /// Roles holding the permission.
    Role(P),
    /// Roles holding the permission, for patients within the caller's assignments.
    Patient(P),
    /// The task's assignee (casey, Dana's primary counselor) or a clinical director.
    TaskAssignee,
    /// Roles holding the permission, on a note about Dana (in every caller's view).
    Note(P),
    /// The note's author: dora wrote the matrix's notes (and is their clinical director).
    NoteAuthor,
    /// A patient signed in to the portal, on their own record alone: every staff session is
    /// sent to the portal's sign-in instead (the realms never mix).
    Portal,
}

/// What an allowed caller gets for the request the matrix sends (an empty body for writes).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Allowed {
    /// 2xx, or 3xx for pages before the redirect is followed.
    Success,
    /// 422: permitted, but the empty body is not a valid request (so nothing changes).
    Invalid,
    /// 409: permitted, but the record's state refuses it (co-signing a note that needs none).
    Conflict,
    /// 404: permitted, but the placeholder id names no record (nothing changes).
    Missing,
    /// 401: the second sign-in step answers only a session still waiting for its second
    /// factor, never one already signed in.
    SecondStepOnly,
    /// 401: a sign-in form sent without a username and password.
    SignInRefused,
}

/// One route: method, path with {patient}, {episode}, {user} or {task} placeholders, rule,
/// outcome.
type Row = (&'static str, &'static str, Rule, Allowed);

#[rustfmt::skip]
const API: &[Row] = &[
    ("GET",  "/me",                           Rule::SignedIn,                      Allowed::Success),
    ("GET",  "/sites",                        Rule::SignedIn,                      Allowed::Success),
    ("GET",  "/programs",                     Rule::SignedIn,                      Allowed::Success),
    ("GET",  "/counselors",                   Rule::SignedIn,                      Allowed::Success),
    ("GET",  "/dashboard",                    Rule::Role(P::ReadDemographics),     Allowed::Success),
    ("GET",  "/patients",                     Rule::Role(P::ReadDemographics),     Allowed::Success),
    ("POST", "/patients",                     Rule::Role(P::EditDemographics),     Allowed::Invalid),
    ("POST", "/patients/search",              Rule::Role(P::ReadDemographics),     Allowed::Success),
    ("GET",  "/patients/{patient}",           Rule::Patient(P::ReadDemographics),  Allowed::Success),
    ("PUT",  "/patients/{patient}",           Rule::Patient(P::EditDemographics),  Allowed::Invalid),
    ("GET",  "/patients/{patient}/episodes",  Rule::Patient(P::ReadEpisodes),      Allowed::Success),
    ("POST", "/patients/{patient}/episodes",  Rule::Patient(P::AdmitEpisode),      Allowed::Invalid),
    ("GET",  "/episodes/{episode}/levels",    Rule::Patient(P::ReadEpisodes),      Allowed::Success),
    ("POST", "/episodes/{episode}/levels",    Rule::Patient(P::ChangeLevelOfCare), Allowed::Invalid),
    ("POST", "/episodes/{episode}/discharge", Rule::Patient(P::DischargeEpisode),  Allowed::Invalid),
    // Discharge summary and aftercare of the open episode; {summary} and {followup} belong to
    // Sam, discharged from the adult program (in every caller's view, as Dana's notes are).
    ("GET",  "/episodes/{episode}/discharge-summary", Rule::Patient(P::ReadClinical), Allowed::Success),
    ("POST", "/episodes/{episode}/discharge-summary", Rule::Patient(P::WriteClinical), Allowed::Conflict),
    ("PUT",  "/discharge-summaries/{summary}", Rule::Note(P::WriteClinical),       Allowed::Success),
    ("POST", "/discharge-summaries/{summary}/sign", Rule::Note(P::WriteClinical),  Allowed::Invalid),
    ("GET",  "/episodes/{episode}/aftercare", Rule::Patient(P::ReadClinical),      Allowed::Success),
    ("POST", "/episodes/{episode}/aftercare", Rule::Patient(P::WriteClinical),     Allowed::Invalid),
    ("GET",  "/episodes/{episode}/follow-ups", Rule::Patient(P::ReadClinical),     Allowed::Success),
    ("POST", "/follow-ups/{followup}/outcome", Rule::Note(P::WriteClinical),       Allowed::Invalid),
    ("GET",  "/reports/follow-up-outcomes",   Rule::Role(P::ReadOutcomes),         Allowed::Success),
    ("GET",  "/users",                        Rule::Role(P::ManageUsers),          Allowed::Success),
    ("POST", "/users",                        Rule::Role(P::ManageUsers),          Allowed::Invalid),
    ("GET",  "/users/{user}",                 Rule::Role(P::ManageUsers),          Allowed::Success),
    ("PUT",  "/users/{user}",                 Rule::Role(P::ManageUsers),          Allowed::Invalid),
    ("PUT",  "/users/{user}/assignments",     Rule::Role(P::ManageUsers),          Allowed::Invalid),
    ("POST", "/users/{user}/unlock",          Rule::Role(P::ManageUsers),          Allowed::Success),
    ("POST", "/users/{user}/password",        Rule::Role(P::ManageUsers),          Allowed::Invalid),
    ("POST", "/users/{user}/enrolment-code",  Rule::Role(P::ManageUsers),          Allowed::Success),
    ("POST", "/users/{user}/second-factors/reset", Rule::Role(P::ManageUsers),     Allowed::Success),
    ("GET",  "/tasks",                        Rule::Role(P::ReadDemographics),     Allowed::Success),
    ("POST", "/tasks/{task}/complete",        Rule::TaskAssignee,                  Allowed::Invalid),
    ("GET",  "/patients/{patient}/flags",     Rule::Patient(P::ReadClinical),      Allowed::Success),
    ("POST", "/patients/{patient}/flags",     Rule::Patient(P::WriteClinical),     Allowed::Invalid),
    ("GET",  "/patients/{patient}/measures",  Rule::Patient(P::ReadClinical),      Allowed::Success),
    ("POST", "/patients/{patient}/measures",  Rule::Patient(P::WriteClinical),     Allowed::Invalid),
    ("GET",  "/patients/{patient}/measures/due", Rule::Patient(P::ReadClinical),   Allowed::Success),
    ("GET",  "/measures/due",                 Rule::Role(P::ReadClinical),         Allowed::Success),
    ("GET",  "/patients/{patient}/portal-account", Rule::Patient(P::ManagePortalAccounts), Allowed::Success),
    ("POST", "/patients/{patient}/portal-account/invitation", Rule::Patient(P::ManagePortalAccounts), Allowed::Success),
    ("POST", "/patients/{patient}/portal-account/end", Rule::Patient(P::ManagePortalAccounts), Allowed::Success),
    ("GET",  "/calendar-feeds",               Rule::Role(P::ReadSchedule),         Allowed::Success),
    ("POST", "/calendar-feeds",               Rule::Role(P::ReadSchedule),         Allowed::Success),
    ("GET",  "/calendar-feeds/{feed_id}",     Rule::Role(P::ReadSchedule),         Allowed::Missing),
    ("POST", "/calendar-feeds/{feed_id}/revoke", Rule::Role(P::ReadSchedule),      Allowed::Missing),
    ("GET",  "/patients/{patient}/calendar-feeds", Rule::Patient(P::ReadSchedule), Allowed::Success),
    ("POST", "/patients/{patient}/calendar-feeds", Rule::Patient(P::ManageSchedule), Allowed::Success),
    ("GET",  "/patients/{patient}/calendar-feeds/{feed}", Rule::Patient(P::ReadSchedule), Allowed::Missing),
    ("POST", "/patients/{patient}/calendar-feeds/{feed}/revoke", Rule::Patient(P::ManageSchedule), Allowed::Missing),
    ("GET",  "/measure-schedules",            Rule::SignedIn,                      Allowed::Success),
    ("PUT",  "/measure-schedules",            Rule::Role(P::ManagePrograms),       Allowed::Invalid),
    ("GET",  "/patients/{patient}/notes",     Rule::Patient(P::ReadClinical),      Allowed::Success),
    ("POST", "/patients/{patient}/notes",     Rule::Patient(P::WriteClinical),     Allowed::Invalid),
    ("GET",  "/patients/{patient}/counseling-notes", Rule::Patient(P::ReadClinical), Allowed::Success),
    ("POST", "/patients/{patient}/counseling-notes", Rule::Patient(P::WriteClinical), Allowed::Invalid),
    ("GET",  "/notes/late",                   Rule::Role(P::ReadClinical),         Allowed::Success),
    ("GET",  "/notes/cosign-queue",           Rule::Role(P::ReadClinical),         Allowed::Success),
    ("GET",  "/notes/{note}",                 Rule::Note(P::ReadClinical),         Allowed::Success),
    // The store checks authorship before the text, so other clinicians are refused first.
    ("PUT",  "/notes/{draft}",                Rule::NoteAuthor,                    Allowed::Invalid),
    ("POST", "/notes/{tosign}/sign",          Rule::NoteAuthor,                    Allowed::Success),
    // Only a clinical director co-signs; dora's own note needs no co-signature.
    ("POST", "/notes/{note}/cosign",          Rule::NoteAuthor,                    Allowed::Conflict),
    ("POST", "/notes/{note}/addenda",         Rule::NoteAuthor,                    Allowed::Invalid),
    ("POST", "/group-notes",                  Rule::Role(P::WriteClinical),        Allowed::Invalid),
    ("POST", "/group-notes/{group}/sign",     Rule::NoteAuthor,                    Allowed::Success),
    ("PUT",  "/users/{user}/requires-cosign", Rule::Role(P::ManageUsers),          Allowed::Invalid),
    ("GET",  "/patients/{patient}/treatment-plans", Rule::Patient(P::ReadClinical), Allowed::Success),
    ("POST", "/patients/{patient}/treatment-plans", Rule::Patient(P::WriteClinical), Allowed::Invalid),
    ("GET",  "/patients/{patient}/treatment-plans/{version}", Rule::Patient(P::ReadClinical), Allowed::Success),
    // Content and signatures are checked before the version's state, so nothing changes.
    ("PUT",  "/patients/{patient}/treatment-plans/{version}", Rule::Patient(P::WriteClinical), Allowed::Invalid),
    ("POST", "/patients/{patient}/treatment-plans/{version}/sign", Rule::Patient(P::WriteClinical), Allowed::Invalid),
    ("GET",  "/treatment-plans/overdue",      Rule::Role(P::ReadClinical),         Allowed::Success),
    ("GET",  "/treatment-plans/unsigned",     Rule::Role(P::ReadClinical),         Allowed::Success),
    ("GET",  "/mfa-policy",                   Rule::Role(P::ManageUsers),          Allowed::Success),
    ("PUT",  "/mfa-policy",                   Rule::Role(P::ManageUsers),          Allowed::Invalid),
    ("GET",  "/audit",                        Rule::Role(P::ReadAudit),            Allowed::Success),
    ("POST", "/audit/verify",                 Rule::Role(P::ReadAudit),            Allowed::Success),
    // Role approvals: administrators and the privacy officer, the roles that read the audit log.
    ("GET",  "/role-approvals",               Rule::Role(P::ReadAudit),            Allowed::Success),
    ("POST", "/role-approvals/{approval}/approve", Rule::Role(P::ReadAudit),       Allowed::Missing),
    ("POST", "/role-approvals/{approval}/refuse", Rule::Role(P::ReadAudit),        Allowed::Missing),
    ("GET",  "/patients/{patient}/medications", Rule::Patient(P::ReadClinical),    Allowed::Success),
    ("POST", "/patients/{patient}/medications", Rule::Patient(P::WriteClinical),   Allowed::Invalid),
    ("POST", "/patients/{patient}/medications/{medication}/stop", Rule::Patient(P::WriteClinical), Allowed::Invalid),
    ("POST", "/patients/{patient}/medications/{medication}/adherence", Rule::Patient(P::WriteClinical), Allowed::Invalid),
    ("POST", "/patients/{patient}/medications/{medication}/side-effects", Rule::Patient(P::WriteClinical), Allowed::Invalid),
    ("GET",  "/patients/{patient}/drug-screens", Rule::Patient(P::ReadClinical),   Allowed::Success),
    ("POST", "/patients/{patient}/drug-screens", Rule::Patient(P::WriteClinical),  Allowed::Invalid),
    ("GET",  "/tracks",                       Rule::Role(P::ReadSchedule),         Allowed::Success),
    ("POST", "/tracks",                       Rule::Role(P::ManagePrograms),       Allowed::Invalid),
    ("GET",  "/rooms",                        Rule::Role(P::ReadSchedule),         Allowed::Success),
    ("POST", "/rooms",                        Rule::Role(P::ManagePrograms),       Allowed::Invalid),
    ("GET",  "/sites/{site}/day-sheet",       Rule::Role(P::ReadSchedule),         Allowed::Success),
    ("GET",  "/sites/{site}/hours-alerts",    Rule::Role(P::ReadSchedule),         Allowed::Success),
    ("POST", "/sessions/{session}/attendance", Rule::Role(P::ManageSchedule),      Allowed::Invalid),
    ("POST", "/patients/{patient}/enrolments", Rule::Patient(P::ManageSchedule),   Allowed::Invalid),
    ("GET",  "/patients/{patient}/schedule",  Rule::Patient(P::ReadSchedule),      Allowed::Success),
    ("GET",  "/patients/{patient}/consents",  Rule::Patient(P::ManageConsents),    Allowed::Success),
    ("POST", "/patients/{patient}/consents",  Rule::Patient(P::ManageConsents),    Allowed::Invalid),
    ("GET",  "/consents/{consent_id}",        Rule::Patient(P::ManageConsents),    Allowed::Success),
    ("POST", "/consents/{consent_id}/revoke", Rule::Patient(P::ManageConsents),    Allowed::Invalid),
    ("POST", "/consents/{consent_id}/expiry-event", Rule::Patient(P::ManageConsents), Allowed::Invalid),
    ("POST", "/patients/{patient}/emergency-disclosures", Rule::Patient(P::BreakGlass), Allowed::Invalid),
    ("POST", "/patients/{patient}/disclosures", Rule::Patient(P::Disclose),        Allowed::Invalid),
    ("POST", "/patients/{patient}/patient-copies", Rule::Patient(P::Disclose), Allowed::Invalid),
    ("GET",  "/patients/{patient}/disclosures", Rule::Patient(P::Disclose),        Allowed::Success),
    ("GET",  "/disclosures/{disclosure_id}",  Rule::Patient(P::Disclose),          Allowed::Success),
    // Emergency access is for patients outside one's view: the role alone decides.
    ("POST", "/patients/{patient}/emergency-access", Rule::Role(P::BreakGlass),    Allowed::Invalid),
    ("GET",  "/privacy-report",               Rule::Role(P::ReadAudit),            Allowed::Success),
    ("GET",  "/patients/{patient}/collaterals", Rule::Patient(P::ManageConsents),  Allowed::Success),
    ("POST", "/patients/{patient}/collaterals", Rule::Patient(P::ManageConsents),  Allowed::Invalid),
    ("PUT",  "/collaterals/{collateral_id}",  Rule::Patient(P::ManageConsents),    Allowed::Invalid),
    ("POST", "/collaterals/{collateral_id}/end", Rule::Patient(P::ManageConsents), Allowed::Invalid),
    ("GET",  "/patients/{patient}/assessments", Rule::Patient(P::ReadClinical),    Allowed::Success),
    ("POST", "/patients/{patient}/assessments", Rule::Patient(P::WriteClinical),   Allowed::Invalid),
    ("POST", "/assessments/{assessment}/placement", Rule::Patient(P::WriteClinical), Allowed::Invalid),
    ("GET",  "/patients/{patient}/diagnoses",  Rule::Patient(P::ReadClinical),     Allowed::Success),
    ("POST", "/patients/{patient}/diagnoses",  Rule::Patient(P::WriteClinical),    Allowed::Invalid),
    ("POST", "/diagnoses/{diagnosis}/resolve", Rule::Patient(P::WriteClinical),    Allowed::Invalid),
    ("GET",  "/diagnosis-codes",              Rule::SignedIn,                      Allowed::Success),
    ("GET",  "/programs/{program}/phases",    Rule::Role(P::ManagePrograms),       Allowed::Success),
    ("PUT",  "/programs/{program}/phases",    Rule::Role(P::ManagePrograms),       Allowed::Invalid),
    ("GET",  "/patients/{patient}/phase",     Rule::Patient(P::ReadClinical),      Allowed::Success),
    ("POST", "/patients/{patient}/phase-decisions", Rule::Patient(P::ChangeLevelOfCare), Allowed::Invalid),
    ("GET",  "/phases/step-down-review",      Rule::Role(P::ReadClinical),         Allowed::Success),
    ("POST", "/patients/{patient}/appointments", Rule::Patient(P::ManageSchedule), Allowed::Invalid),
    ("GET",  "/patients/{patient}/appointments", Rule::Patient(P::ReadSchedule),   Allowed::Success),
    ("POST", "/appointments/{appointment_id}/cancel", Rule::Role(P::ManageSchedule), Allowed::Missing),
    ("POST", "/appointments/{appointment_id}/attendance", Rule::Role(P::ManageSchedule), Allowed::Missing),
    ("GET",  "/patients/{patient}/availability", Rule::Patient(P::ReadSchedule),   Allowed::Success),
    ("POST", "/patients/{patient}/availability", Rule::Patient(P::ManageSchedule), Allowed::Invalid),
    ("GET",  "/sites/{site}/appointments",    Rule::Role(P::ReadSchedule),         Allowed::Success),
    ("GET",  "/openapi.json",                 Rule::Public,                        Allowed::Success),
    ("GET",  "/recipients",                   Rule::Role(P::Disclose),             Allowed::Success),
    ("POST", "/recipients",                   Rule::Role(P::ManageRecipients),     Allowed::Invalid),
    ("GET",  "/recipients/{recipient}",       Rule::Role(P::Disclose),             Allowed::Missing),
    ("PUT",  "/recipients/{recipient}",       Rule::Role(P::ManageRecipients),     Allowed::Invalid),
    ("GET",  "/patients/{patient}/restrictions", Rule::Patient(P::ManageConsents), Allowed::Success),
    ("POST", "/patients/{patient}/restrictions", Rule::Patient(P::ManageConsents), Allowed::Invalid),
    ("GET",  "/restrictions/pending",         Rule::Role(P::DecideRestrictions),   Allowed::Success),
    ("POST", "/restrictions/{restriction_id}/decision", Rule::Patient(P::DecideRestrictions), Allowed::Invalid),
    ("POST", "/restrictions/{restriction_id}/lift", Rule::Patient(P::DecideRestrictions), Allowed::Invalid),
    ("GET",  "/patients/{patient}/patient-notices", Rule::Patient(P::ManageConsents), Allowed::Success),
    ("POST", "/patients/{patient}/patient-notices", Rule::Patient(P::ManageConsents), Allowed::Invalid),
    ("GET",  "/patients/{patient}/date-of-death", Rule::Patient(P::ManageConsents), Allowed::Success),
    ("PUT",  "/patients/{patient}/date-of-death", Rule::Patient(P::ManageConsents), Allowed::Invalid),
    ("GET",  "/sites/{site}/minor-consent",   Rule::Role(P::ManageConsents),       Allowed::Success),
    ("PUT",  "/sites/{site}/minor-consent",   Rule::Role(P::ManagePrograms),       Allowed::Invalid),
    ("GET",  "/breaches",                     Rule::Role(P::KeepBreachRegister),   Allowed::Success),
    ("POST", "/breaches",                     Rule::Role(P::KeepBreachRegister),   Allowed::Invalid),
    ("GET",  "/breaches/{breach_id}",         Rule::Role(P::KeepBreachRegister),   Allowed::Success),
    ("POST", "/breaches/{breach_id}/assessment", Rule::Role(P::KeepBreachRegister), Allowed::Invalid),
    ("GET",  "/breaches/{breach_id}/letters/{patient_id}", Rule::Role(P::KeepBreachRegister), Allowed::Success),
    ("POST", "/court-orders",                 Rule::Role(P::DiscloseWithoutConsent), Allowed::Invalid),
    ("POST", "/agreements",                   Rule::Role(P::DiscloseWithoutConsent), Allowed::Invalid),
    ("GET",  "/disclosure-authorities",       Rule::Role(P::DiscloseWithoutConsent), Allowed::Success),
    ("GET",  "/disclosure-authorities/{authority}", Rule::Role(P::DiscloseWithoutConsent), Allowed::Missing),
    ("POST", "/disclosure-authorities/{authority}/end", Rule::Role(P::DiscloseWithoutConsent), Allowed::Missing),
    ("POST", "/disclosure-authorities/{authority}/corrections", Rule::Role(P::DiscloseWithoutConsent), Allowed::Missing),
    ("POST", "/patients/{patient}/authorised-disclosures", Rule::Patient(P::DiscloseWithoutConsent), Allowed::Invalid),
    ("POST", "/breaches/{breach_id}/letters/{patient_id}", Rule::Role(P::KeepBreachRegister), Allowed::Invalid),
    ("POST", "/breaches/{breach_id}/notices", Rule::Role(P::KeepBreachRegister),   Allowed::Invalid),
    ("POST", "/breaches/{breach_id}/substitute-notices", Rule::Role(P::KeepBreachRegister), Allowed::Invalid),
    ("GET",  "/breach-log",                   Rule::Role(P::KeepBreachRegister),   Allowed::Success),
    ("GET",  "/payers",                       Rule::Role(P::ReadBilling),          Allowed::Success),
    ("POST", "/payers",                       Rule::Role(P::ManageBilling),        Allowed::Invalid),
    ("GET",  "/payers/{payer}",               Rule::Role(P::ReadBilling),          Allowed::Missing),
    ("PUT",  "/payers/{payer}",               Rule::Role(P::ManageBilling),        Allowed::Invalid),
    ("GET",  "/billing-providers",            Rule::Role(P::ReadBilling),          Allowed::Success),
    ("PUT",  "/sites/{site}/billing-provider", Rule::Role(P::ManageBilling),       Allowed::Invalid),
    ("GET",  "/patients/{patient}/coverages", Rule::Patient(P::ReadBilling),       Allowed::Success),
    ("POST", "/patients/{patient}/coverages", Rule::Patient(P::ManageBilling),     Allowed::Invalid),
    ("PUT",  "/patients/{patient}/coverages/{coverage}", Rule::Patient(P::ManageBilling), Allowed::Invalid),
    ("POST", "/patients/{patient}/coverages/{coverage}/eligibility-checks", Rule::Patient(P::ManageBilling), Allowed::Invalid),
];

#[rustfmt::skip]
const PAGES: &[Row] = &[
    ("GET",  "/",                                Rule::SignedIn,                      Allowed::Success),
    ("GET",  "/login",                           Rule::Public,                        Allowed::Success),
    ("POST", "/login",                           Rule::Public,                        Allowed::Success),
    ("POST", "/logout",                          Rule::SignedIn,                      Allowed::Success),
    ("GET",  "/login/mfa",                       Rule::SignedIn,                      Allowed::Success),
    ("POST", "/login/mfa",                       Rule::SignedIn,                      Allowed::Success),
    ("POST", "/login/passkey/start",             Rule::SignedIn,                      Allowed::SecondStepOnly),
    ("POST", "/login/passkey/finish",            Rule::SignedIn,                      Allowed::SecondStepOnly),
    ("GET",  "/account/passkeys",                Rule::SignedIn,                      Allowed::Success),
    ("POST", "/account/passkeys/set-up/start",   Rule::SignedIn,                      Allowed::Success),
    ("POST", "/account/passkeys/set-up/finish",  Rule::SignedIn,                      Allowed::Invalid),
    ("POST", "/account/passkeys/{passkey}/remove", Rule::SignedIn,                    Allowed::Missing),
    ("GET",  "/account/mfa",                     Rule::SignedIn,                      Allowed::Success),
    ("POST", "/account/mfa",                     Rule::SignedIn,                      Allowed::Invalid),
    ("GET",  "/account/password",                Rule::SignedIn,                      Allowed::Success),
    ("POST", "/account/password",                Rule::SignedIn,                      Allowed::Invalid),
    ("POST", "/account/password-strength",       Rule::SignedIn,                      Allowed::Success),
    ("GET",  "/account/sessions",                Rule::SignedIn,                      Allowed::Success),
    ("POST", "/account/sessions/end",            Rule::SignedIn,                      Allowed::Invalid),
    ("POST", "/account/notices/acknowledge",     Rule::SignedIn,                      Allowed::Invalid),
    // Every role lands here; the auditor is sent on to their review (followed: 200).
    ("GET",  "/dashboard",                       Rule::SignedIn,                      Allowed::Success),
    ("GET",  "/patients",                        Rule::Role(P::ReadDemographics),     Allowed::Success),
    ("POST", "/patients",                        Rule::Role(P::EditDemographics),     Allowed::Invalid),
    ("POST", "/patients/search",                 Rule::Role(P::ReadDemographics),     Allowed::Success),
    ("GET",  "/patients/new",                    Rule::Role(P::EditDemographics),     Allowed::Success),
    ("GET",  "/patients/{patient}",              Rule::Patient(P::ReadDemographics),  Allowed::Success),
    ("POST", "/patients/{patient}",              Rule::Patient(P::EditDemographics),  Allowed::Invalid),
    ("GET",  "/patients/{patient}/edit",         Rule::Patient(P::EditDemographics),  Allowed::Success),
    ("GET",  "/patients/{patient}/episodes",     Rule::Patient(P::ReadEpisodes),      Allowed::Success),
    ("POST", "/patients/{patient}/episodes",     Rule::Patient(P::AdmitEpisode),      Allowed::Invalid),
    ("GET",  "/patients/{patient}/episodes/new", Rule::Patient(P::AdmitEpisode),      Allowed::Success),
    // The level and discharge forms show the episode, so they also need ReadEpisodes, which
    // every role allowed to change levels or discharge holds.
    ("GET",  "/episodes/{episode}/level",        Rule::Patient(P::ChangeLevelOfCare), Allowed::Success),
    ("POST", "/episodes/{episode}/level",        Rule::Patient(P::ChangeLevelOfCare), Allowed::Invalid),
    ("GET",  "/episodes/{episode}/discharge",    Rule::Patient(P::DischargeEpisode),  Allowed::Success),
    ("POST", "/episodes/{episode}/discharge",    Rule::Patient(P::DischargeEpisode),  Allowed::Invalid),
    ("GET",  "/episodes/{episode}/discharge-summary", Rule::Patient(P::ReadClinical), Allowed::Success),
    ("POST", "/episodes/{episode}/discharge-summary", Rule::Patient(P::WriteClinical), Allowed::Conflict),
    ("GET",  "/episodes/{closed}/discharge-summary/print", Rule::Note(P::ReadClinical), Allowed::Success),
    ("POST", "/discharge-summaries/{summary}",   Rule::Note(P::WriteClinical),        Allowed::Success),
    ("POST", "/discharge-summaries/{summary}/sign", Rule::Note(P::WriteClinical),     Allowed::Invalid),
    ("POST", "/episodes/{episode}/aftercare",    Rule::Patient(P::WriteClinical),     Allowed::Invalid),
    ("POST", "/follow-ups/{followup}/outcome",   Rule::Note(P::WriteClinical),        Allowed::Invalid),
    ("GET",  "/reports/follow-up-outcomes",      Rule::Role(P::ReadOutcomes),         Allowed::Success),
    ("GET",  "/tasks",                           Rule::Role(P::ReadDemographics),     Allowed::Success),
    // As for the API: the outcome is checked before the assignment.
    ("POST", "/tasks/{task}/complete",           Rule::TaskAssignee,                  Allowed::Invalid),
    ("POST", "/patients/{patient}/flags",        Rule::Patient(P::WriteClinical),     Allowed::Invalid),
    ("GET",  "/patients/{patient}/measures",     Rule::Patient(P::ReadClinical),      Allowed::Success),
    ("POST", "/patients/{patient}/measures",     Rule::Patient(P::WriteClinical),     Allowed::Invalid),
    // Without an instrument the form cannot be drawn: 422 for those allowed to record.
    ("GET",  "/patients/{patient}/measures/new", Rule::Patient(P::WriteClinical),     Allowed::Invalid),
    ("GET",  "/patients/{patient}/notes",        Rule::Patient(P::ReadClinical),      Allowed::Success),
    ("POST", "/patients/{patient}/notes",        Rule::Patient(P::WriteClinical),     Allowed::Invalid),
    ("GET",  "/patients/{patient}/counseling-notes", Rule::Patient(P::ReadClinical), Allowed::Success),
    ("POST", "/patients/{patient}/counseling-notes", Rule::Patient(P::WriteClinical), Allowed::Invalid),
    // The store checks authorship before the text, so other clinicians are refused first.
    ("POST", "/notes/{draft}",                   Rule::NoteAuthor,                    Allowed::Invalid),
    ("POST", "/notes/{tosign}/sign",             Rule::NoteAuthor,                    Allowed::Success),
    ("POST", "/notes/{note}/cosign",             Rule::NoteAuthor,                    Allowed::Conflict),
    ("POST", "/notes/{note}/addenda",            Rule::NoteAuthor,                    Allowed::Invalid),
    ("GET",  "/group-notes",                     Rule::Role(P::WriteClinical),        Allowed::Success),
    ("GET",  "/group-notes/{group}",             Rule::NoteAuthor,                    Allowed::Success),
    ("POST", "/group-notes/{group}/sign",        Rule::NoteAuthor,                    Allowed::Success),
    // No session 999999 exists: allowed callers get 404, others 403 first.
    ("GET",  "/schedule/sessions/{session}/group-note", Rule::Role(P::WriteClinical), Allowed::Missing),
    ("POST", "/schedule/sessions/{session}/group-note", Rule::Role(P::WriteClinical), Allowed::Missing),
    ("GET",  "/patients/{patient}/treatment-plan", Rule::Patient(P::ReadClinical),    Allowed::Success),
    ("POST", "/patients/{patient}/treatment-plan", Rule::Patient(P::WriteClinical),   Allowed::Invalid),
    ("POST", "/patients/{patient}/treatment-plan/revise", Rule::Patient(P::WriteClinical), Allowed::Invalid),
    ("GET",  "/patients/{patient}/treatment-plan/{version}", Rule::Patient(P::ReadClinical), Allowed::Success),
    ("POST", "/patients/{patient}/treatment-plan/{version}", Rule::Patient(P::WriteClinical), Allowed::Invalid),
    ("POST", "/patients/{patient}/treatment-plan/{version}/sign", Rule::Patient(P::WriteClinical), Allowed::Invalid),
    ("GET",  "/patients/{patient}/treatment-plan/{version}/print", Rule::Patient(P::ReadClinical), Allowed::Success),
    ("GET",  "/admin/plan-reviews",              Rule::Role(P::ManagePrograms),       Allowed::Success),
    ("POST", "/admin/plan-reviews",              Rule::Role(P::ManagePrograms),       Allowed::Invalid),
    ("GET",  "/admin/users",                     Rule::Role(P::ManageUsers),          Allowed::Success),
    ("POST", "/admin/users",                     Rule::Role(P::ManageUsers),          Allowed::Invalid),
    ("GET",  "/admin/users/{user}",              Rule::Role(P::ManageUsers),          Allowed::Success),
    ("POST", "/admin/users/{user}",              Rule::Role(P::ManageUsers),          Allowed::Invalid),
    ("POST", "/admin/users/{user}/password",     Rule::Role(P::ManageUsers),          Allowed::Invalid),
    ("POST", "/admin/users/{user}/enrolment-code", Rule::Role(P::ManageUsers),        Allowed::Success),
    ("POST", "/admin/users/{user}/second-factors/reset", Rule::Role(P::ManageUsers),  Allowed::Success),
    ("POST", "/admin/users/{user}/unlock",       Rule::Role(P::ManageUsers),          Allowed::Success),
    ("POST", "/admin/mfa-policy",                Rule::Role(P::ManageUsers),          Allowed::Success),
    ("GET",  "/admin/audit",                     Rule::Role(P::ReadAudit),            Allowed::Success),
    ("POST", "/admin/audit/verify",              Rule::Role(P::ReadAudit),            Allowed::Success),
    ("GET",  "/admin/role-approvals",            Rule::Role(P::ReadAudit),            Allowed::Success),
    ("POST", "/admin/role-approvals/{approval}", Rule::Role(P::ReadAudit),            Allowed::Invalid),
    ("GET",  "/admin/programs",                  Rule::Role(P::ManagePrograms),       Allowed::Success),
    ("POST", "/admin/programs/{program}/measures", Rule::Role(P::ManagePrograms),     Allowed::Invalid),
    // An empty form saves an empty draft (nothing published), so it succeeds.
    ("GET",  "/admin/programs/{program}/public-profile", Rule::Role(P::ManagePrograms), Allowed::Success),
    ("POST", "/admin/programs/{program}/public-profile", Rule::Role(P::ManagePrograms), Allowed::Success),
    // The public pages: the matrix's programs are not published, so a program's page is missing.
    ("GET",  "/find-a-program",                  Rule::Public,                        Allowed::Success),
    ("GET",  "/find-a-program/{program}",        Rule::Public,                        Allowed::Missing),
    // The self-screen: an empty form is not a set of answers.
    ("GET",  "/is-iop-right-for-me",             Rule::Public,                        Allowed::Success),
    ("POST", "/is-iop-right-for-me",             Rule::Public,                        Allowed::Invalid),
    ("GET",  "/patients/{patient}/medications",  Rule::Patient(P::ReadClinical),      Allowed::Success),
    ("POST", "/patients/{patient}/medications",  Rule::Patient(P::WriteClinical),     Allowed::Invalid),
    ("POST", "/patients/{patient}/medications/{medication}/stop", Rule::Patient(P::WriteClinical), Allowed::Invalid),
    ("POST", "/patients/{patient}/medications/{medication}/adherence", Rule::Patient(P::WriteClinical), Allowed::Invalid),
    ("POST", "/patients/{patient}/medications/{medication}/side-effects", Rule::Patient(P::WriteClinical), Allowed::Invalid),
    ("POST", "/patients/{patient}/drug-screens", Rule::Patient(P::WriteClinical),    Allowed::Invalid),
    ("GET",  "/patients/{patient}/schedule",     Rule::Patient(P::ReadSchedule),      Allowed::Success),
    ("POST", "/patients/{patient}/enrolments",   Rule::Patient(P::ManageSchedule),    Allowed::Invalid),
    ("GET",  "/schedule/day-sheet",              Rule::Role(P::ReadSchedule),         Allowed::Success),
    ("GET",  "/schedule/hours",                  Rule::Role(P::ReadSchedule),         Allowed::Success),
    ("POST", "/schedule/sessions/{session}/attendance", Rule::Role(P::ManageSchedule), Allowed::Invalid),
    ("GET",  "/schedule/sessions/{session}/check-in", Rule::Role(P::ReadSchedule),  Allowed::Missing),
    ("POST", "/schedule/sessions/{session}/check-in", Rule::Role(P::ManageSchedule), Allowed::Missing),
    ("GET",  "/schedule/tracks",                 Rule::Role(P::ManagePrograms),       Allowed::Success),
    ("POST", "/schedule/tracks",                 Rule::Role(P::ManagePrograms),       Allowed::Invalid),
    ("POST", "/schedule/rooms",                  Rule::Role(P::ManagePrograms),       Allowed::Invalid),
    ("GET",  "/patients/{patient}/phase",        Rule::Patient(P::ReadClinical),      Allowed::Success),
    ("POST", "/patients/{patient}/phase",        Rule::Patient(P::ChangeLevelOfCare), Allowed::Invalid),
    ("GET",  "/caseload/step-down-review",       Rule::Role(P::ReadClinical),         Allowed::Success),
    ("GET",  "/programs/{program}/phases",       Rule::Role(P::ManagePrograms),       Allowed::Success),
    ("POST", "/programs/{program}/phases",       Rule::Role(P::ManagePrograms),       Allowed::Invalid),
    ("POST", "/patients/{patient}/appointments", Rule::Patient(P::ManageSchedule),    Allowed::Invalid),
    ("POST", "/patients/{patient}/appointments/{appointment}/cancel", Rule::Patient(P::ManageSchedule), Allowed::Missing),
    ("POST", "/patients/{patient}/appointments/{appointment}/attendance", Rule::Patient(P::ManageSchedule), Allowed::Invalid),
    ("POST", "/patients/{patient}/availability", Rule::Patient(P::ManageSchedule),    Allowed::Invalid),
    ("POST", "/patients/{patient}/availability/{window}/delete", Rule::Patient(P::ManageSchedule), Allowed::Missing),
    ("POST", "/patients/{patient}/calendar-feeds", Rule::Patient(P::ManageSchedule),  Allowed::Success),
    ("POST", "/patients/{patient}/calendar-feeds/{feed}/revoke", Rule::Patient(P::ManageSchedule), Allowed::Missing),
    ("GET",  "/schedule/my-day",                 Rule::Role(P::ReadSchedule),         Allowed::Success),
    ("POST", "/schedule/my-day/calendar-feeds",  Rule::Role(P::ReadSchedule),         Allowed::Success),
    ("POST", "/schedule/my-day/calendar-feeds/{feed}/revoke", Rule::Role(P::ReadSchedule), Allowed::Missing),
    ("GET",  "/calendar/{file}",                 Rule::Public,                        Allowed::Missing),
    ("GET",  "/static/app.css",                  Rule::Public,                        Allowed::Success),
    ("GET",  "/static/app.js",                   Rule::Public,                        Allowed::Success),
    ("GET",  "/static/passkeys.js",              Rule::Public,                        Allowed::Success),
    ("GET",  "/static/vendor/htmx-2.0.11.min.js", Rule::Public,                       Allowed::Success),
    // Every role that may disclose may also manage consents, so the tab needs ManageConsents.
    ("GET",  "/patients/{patient}/consents",     Rule::Patient(P::ManageConsents),    Allowed::Success),
    ("POST", "/patients/{patient}/consents",     Rule::Patient(P::ManageConsents),    Allowed::Invalid),
    ("GET",  "/patients/{patient}/consents/{consent}", Rule::Patient(P::ManageConsents), Allowed::Success),
    ("POST", "/patients/{patient}/consents/{consent}/revoke", Rule::Patient(P::ManageConsents), Allowed::Invalid),
    ("POST", "/patients/{patient}/consents/{consent}/expiry-event", Rule::Patient(P::ManageConsents), Allowed::Invalid),
    ("GET",  "/patients/{patient}/emergency-disclosure", Rule::Patient(P::BreakGlass), Allowed::Success),
    ("POST", "/patients/{patient}/emergency-disclosure", Rule::Patient(P::BreakGlass), Allowed::Invalid),
    ("GET",  "/patients/{patient}/disclosures",  Rule::Patient(P::Disclose),          Allowed::Success),
    ("POST", "/patients/{patient}/disclosures",  Rule::Patient(P::Disclose),          Allowed::Invalid),
    ("POST", "/patients/{patient}/patient-copies", Rule::Patient(P::Disclose), Allowed::Invalid),
    ("GET",  "/patients/{patient}/disclosures/{disclosure}", Rule::Patient(P::Disclose), Allowed::Success),
    ("GET",  "/emergency-access",                Rule::Role(P::BreakGlass),           Allowed::Success),
    ("POST", "/emergency-access",                Rule::Role(P::BreakGlass),           Allowed::Invalid),
    ("GET",  "/privacy",                         Rule::Role(P::ReadAudit),            Allowed::Success),
    ("POST", "/privacy/notice",                  Rule::Role(P::ReadAudit),            Allowed::Invalid),
    ("POST", "/patients/{patient}/collaterals",  Rule::Patient(P::ManageConsents),    Allowed::Invalid),
    ("POST", "/patients/{patient}/collaterals/{collateral}", Rule::Patient(P::ManageConsents), Allowed::Invalid),
    ("POST", "/patients/{patient}/collaterals/{collateral}/end", Rule::Patient(P::ManageConsents), Allowed::Invalid),
    ("POST", "/privacy/notice",                  Rule::Role(P::ReadAudit),            Allowed::Invalid),    ("GET",  "/patients/{patient}/assessment",   Rule::Patient(P::ReadClinical),      Allowed::Success),
    ("POST", "/patients/{patient}/assessments",  Rule::Patient(P::WriteClinical),     Allowed::Invalid),
    ("POST", "/assessments/{assessment}/placement", Rule::Patient(P::WriteClinical),  Allowed::Invalid),
    ("POST", "/patients/{patient}/diagnoses",    Rule::Patient(P::WriteClinical),     Allowed::Invalid),
    ("POST", "/diagnoses/{diagnosis}/resolve",   Rule::Patient(P::WriteClinical),     Allowed::Invalid),
    ("GET",  "/schedule/week",                   Rule::Role(P::ReadSchedule),         Allowed::Success),
    ("GET",  "/privacy/recipients",              Rule::Role(P::ManageRecipients),     Allowed::Success),
    ("POST", "/privacy/recipients",              Rule::Role(P::ManageRecipients),     Allowed::Invalid),
    ("POST", "/privacy/recipients/{recipient}",  Rule::Role(P::ManageRecipients),     Allowed::Invalid),
    ("GET",  "/patients/{patient}/privacy",      Rule::Patient(P::ManageConsents),    Allowed::Success),
    ("POST", "/patients/{patient}/restrictions", Rule::Patient(P::ManageConsents),    Allowed::Invalid),
    ("POST", "/patients/{patient}/restrictions/{restriction}/decision", Rule::Patient(P::DecideRestrictions), Allowed::Invalid),
    ("POST", "/patients/{patient}/restrictions/{restriction}/lift", Rule::Patient(P::DecideRestrictions), Allowed::Invalid),
    ("POST", "/patients/{patient}/patient-notices", Rule::Patient(P::ManageConsents), Allowed::Invalid),
    ("POST", "/patients/{patient}/date-of-death", Rule::Patient(P::ManageConsents),   Allowed::Invalid),
    ("GET",  "/privacy/restrictions",            Rule::Role(P::DecideRestrictions),   Allowed::Success),
    ("GET",  "/privacy/minor-consent",           Rule::Role(P::ManagePrograms),       Allowed::Success),
    ("POST", "/privacy/minor-consent/{site}",    Rule::Role(P::ManagePrograms),       Allowed::Invalid),
    ("GET",  "/privacy/breaches",                Rule::Role(P::KeepBreachRegister),   Allowed::Success),
    ("POST", "/privacy/breaches",                Rule::Role(P::KeepBreachRegister),   Allowed::Invalid),
    ("GET",  "/privacy/breaches/log",            Rule::Role(P::KeepBreachRegister),   Allowed::Success),
    ("GET",  "/privacy/breaches/log.csv",        Rule::Role(P::KeepBreachRegister),   Allowed::Success),
    ("GET",  "/privacy/breaches/{breach_id}",    Rule::Role(P::KeepBreachRegister),   Allowed::Success),
    ("POST", "/privacy/breaches/{breach_id}/assessment", Rule::Role(P::KeepBreachRegister), Allowed::Invalid),
    ("GET",  "/privacy/breaches/{breach_id}/letters/{patient_id}", Rule::Role(P::KeepBreachRegister), Allowed::Success),
    ("POST", "/privacy/breaches/{breach_id}/letters/{patient_id}", Rule::Role(P::KeepBreachRegister), Allowed::Invalid),
    ("POST", "/privacy/breaches/{breach_id}/notices", Rule::Role(P::KeepBreachRegister), Allowed::Invalid),
    ("GET",  "/privacy/authorities",             Rule::Role(P::DiscloseWithoutConsent), Allowed::Success),
    ("POST", "/privacy/court-orders",            Rule::Role(P::DiscloseWithoutConsent), Allowed::Invalid),
    ("POST", "/privacy/agreements",              Rule::Role(P::DiscloseWithoutConsent), Allowed::Invalid),
    ("GET",  "/privacy/authorities/{authority}", Rule::Role(P::DiscloseWithoutConsent), Allowed::Missing),
    ("POST", "/privacy/authorities/{authority}/end", Rule::Role(P::DiscloseWithoutConsent), Allowed::Missing),
    ("POST", "/privacy/authorities/{authority}/correction", Rule::Role(P::DiscloseWithoutConsent), Allowed::Missing),
    ("GET",  "/patients/{patient}/authorised-disclosure", Rule::Patient(P::DiscloseWithoutConsent), Allowed::Success),
    ("POST", "/patients/{patient}/authorised-disclosure", Rule::Patient(P::DiscloseWithoutConsent), Allowed::Invalid),
    ("POST", "/privacy/breaches/{breach_id}/substitute-notices", Rule::Role(P::KeepBreachRegister), Allowed::Invalid),
    ("POST", "/privacy/undercover-orders",        Rule::Role(P::DiscloseWithoutConsent), Allowed::Invalid),
    ("GET",  "/portal",                          Rule::Public,                        Allowed::Success),
    ("GET",  "/portal/sign-in",                  Rule::Public,                        Allowed::Success),
    ("POST", "/portal/sign-in",                  Rule::Public,                        Allowed::SignInRefused),
    ("POST", "/portal/sign-out",                 Rule::Public,                        Allowed::Success),
    ("GET",  "/portal/welcome",                  Rule::Public,                        Allowed::Success),
    ("POST", "/portal/welcome",                  Rule::Public,                        Allowed::Invalid),
    ("GET",  "/portal/today",                    Rule::Portal,                        Allowed::Success),
    ("GET",  "/patients/{patient}/portal-account", Rule::Patient(P::ManagePortalAccounts), Allowed::Success),
    ("POST", "/patients/{patient}/portal-account/invitation", Rule::Patient(P::ManagePortalAccounts), Allowed::Success),
    ("POST", "/patients/{patient}/portal-account/end", Rule::Patient(P::ManagePortalAccounts), Allowed::Success),
    ("GET",  "/review",                          Rule::Role(P::ReviewUnderAgreement), Allowed::Success),
    ("GET",  "/billing/payers",                  Rule::Role(P::ReadBilling),          Allowed::Success),
    ("POST", "/billing/payers",                  Rule::Role(P::ManageBilling),        Allowed::Invalid),
    ("POST", "/billing/payers/{payer}",          Rule::Role(P::ManageBilling),        Allowed::Invalid),
    ("GET",  "/billing/providers",               Rule::Role(P::ReadBilling),          Allowed::Success),
    ("POST", "/billing/providers/{site}",        Rule::Role(P::ManageBilling),        Allowed::Invalid),
    ("GET",  "/patients/{patient}/coverage",     Rule::Patient(P::ReadBilling),       Allowed::Success),
    ("POST", "/patients/{patient}/coverages",    Rule::Patient(P::ManageBilling),     Allowed::Invalid),
    ("POST", "/patients/{patient}/coverages/{coverage}", Rule::Patient(P::ManageBilling), Allowed::Invalid),
    ("POST", "/patients/{patient}/coverages/{coverage}/eligibility", Rule::Patient(P::ManageBilling), Allowed::Invalid),
    ("GET",  "/review/patients/{patient}",       Rule::Patient(P::ReviewUnderAgreement), Allowed::Success),
];

/// One staff member per role (casey for the counselor; audrey the auditor, made by
/// [`add_auditor`]).
const CALLERS: [&str; 11] = [
    "ada", "dora", "casey", "priya", "nate", "pete", "ingrid", "fran", "bill", "pat", "audrey",
];

fn role_of(username: &str) -> Role {
    if username == "audrey" {
        return Role::Auditor;
    }
    STAFF
        .iter()
        .find(|(u, _)| *u == username)
        .map(|(_, r)| *r)
        .expect("known user")
}

/// An auditor under a §2.53 agreement in force, bound to the adult program (Dana's): Dana is
/// in her view, Lee is not, and no permission but review is hers.
async fn add_auditor(s: &mut TestServer) {
    use trellis_domain::consent::{AuditBody, InformationCategory, RecipientKind, Terms};
    let privacy = actor(&s.users, "pat", Role::PrivacyOfficer);
    let directory = s
        .store
        .grant::<can::ManageRecipients>(&privacy)
        .expect("grant");
    let body = s
        .store
        .add_recipient(
            &directory,
            &trellis_storage::recipients::NewRecipient {
                name: "State Licensing Unit".into(),
                kind: RecipientKind::Other,
                contact: "Fax 555-201-0000".into(),
            },
        )
        .await
        .expect("recipient");
    let authorities = s
        .store
        .grant::<can::DiscloseWithoutConsent>(&privacy)
        .expect("grant");
    let agreement = s
        .store
        .record_authority(
            &authorities,
            None,
            &trellis_storage::confidentiality::authorities::NewAuthority {
                terms: Terms::AuditEvaluation {
                    body: AuditBody::GovernmentAgency,
                    body_name: "State Department of Health".into(),
                    scope: "Annual licensing review of charts".into(),
                },
                recipient_id: Some(body),
                categories: [InformationCategory::Attendance].into(),
                dated_on: Some(today() - chrono::Duration::days(2)),
                starts_on: Some(today() - chrono::Duration::days(1)),
                ends_on: Some(today() + chrono::Duration::days(30)),
                recipient_bound: true,
            },
        )
        .await
        .expect("agreement");
    let users = s
        .store
        .grant::<can::ManageUsers>(&Actor::system("test"))
        .expect("grant");
    let id = s
        .store
        .create_auditor(
            &users,
            &trellis_storage::staff::NewStaff {
                username: "audrey".into(),
                display_name: "audrey (Auditor)".into(),
                email: None,
                role: Role::Auditor,
                password: PASSWORD.into(),
            },
            Some(agreement),
            Some(s.program_id),
        )
        .await
        .expect("auditor");
    assert!(s.store.staff_user(id).await.expect("user").active);
    s.users.insert("audrey", id);
    s.store
        .set_mfa_required(&Actor::system("test"), Role::Auditor, false)
        .await
        .expect("policy");
}

/// Whether the caller's view includes the patient of the co-occurring program: roles that see
/// everyone, and the site-wide assignments `common::start` gives intake, front desk and billing.
/// Casey, priya, nate and pete are assigned to the adult program only.
fn sees_other_program(username: &str) -> bool {
    role_of(username).sees_all_patients() || matches!(username, "ingrid" | "fran" | "bill")
}

/// Which patient a request is about.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Target {
    /// Dana Reyes, in the adult program: within every caller's view.
    InView,
    /// Lee Park, in the co-occurring program: outside the adult program's staff's view.
    OtherProgram,
}

/// The ids the placeholders stand for.
struct Ids {
    patient: i64,
    episode: i64,
    other_patient: i64,
    other_episode: i64,
    user: i64,
    task: i64,
    site: i64,
    /// A consent and a disclosure under it, for each patient.
    part2: [(i64, i64); 2],
    /// A collateral contact of each patient.
    collateral: [i64; 2],
    note: i64,
    draft: i64,
    tosign: i64,
    group: i64,
    /// An unplaced assessment and an active diagnosis, for each patient.
    assessment: [(i64, i64); 2],
    /// A pending restriction request of each patient, and an incident naming both.
    restriction: [i64; 2],
    breach: i64,
    /// The adult program; both programs have phases, so the phase reads succeed.
    program: i64,
    /// Sam's discharged episode, its draft summary and its 30-day follow-up task.
    closed: i64,
    summary: i64,
    followup: i64,
}

/// Records a TPO consent and one disclosure under it, as the clinical director.
async fn consent_and_disclosure(s: &TestServer, patient: i64) -> (i64, i64) {
    use trellis_domain::consent::{
        Expiry, InformationCategory, Purpose, Recipient, RecipientClass, RecipientKind,
    };
    use trellis_storage::confidentiality::{DisclosureInput, DisclosureOutcome, NewConsent};
    let dora = actor(&s.users, "dora", Role::ClinicalDirector);
    let grant = s
        .store
        .patient_grant::<can::ManageConsents>(&dora, patient)
        .await
        .expect("grant");
    let consent = s
        .store
        .record_consent(
            &grant,
            &NewConsent {
                disclosing_program: "Adult SUD IOP".into(),
                categories: [InformationCategory::Demographics].into(),
                information_description: String::new(),
                recipients: vec![Recipient::Class {
                    class: RecipientClass::HealthPlans,
                    description: "Health plans".into(),
                }],
                purposes: [Purpose::Payment].into(),
                other_purpose: String::new(),
                redisclosure_statement:
                    "May be redisclosed as HIPAA permits, except in proceedings against me.".into(),
                revocation_statement: "Revocable in writing, except where already relied on."
                    .into(),
                expiry: Some(Expiry::NoExpiry),
                signer_name: "Patient".into(),
                signer_relationship: Some("self".into()),
                signer_authority: Some(trellis_domain::consent::SignerAuthority::Patient),
                minor_also_signed: false,
                court_document: String::new(),
                signed_on: Some(today()),
                collateral_id: None,
                criminal_justice: None,
            },
        )
        .await
        .expect("consent");
    let grant = s
        .store
        .patient_grant::<can::Disclose>(&dora, patient)
        .await
        .expect("grant");
    let outcome = s
        .store
        .disclose(
            &grant,
            &DisclosureInput {
                recipient_id: Some(
                    s.recipient("Valley Health Plan", RecipientKind::HealthPlan)
                        .await,
                ),
                purpose: Purpose::Payment,
                purpose_detail: String::new(),
                categories: [InformationCategory::Demographics].into(),
            },
        )
        .await
        .expect("disclose");
    match outcome {
        DisclosureOutcome::Made(d) => (consent, d.id),
        DisclosureOutcome::Refused(r) => panic!("refused: {r}"),
    }
}

/// A pending restriction request of each patient (recorded by the clinical director) and an
/// incident in the breach register naming both (recorded by the privacy officer).
async fn privacy_records(s: &TestServer) -> ([i64; 2], i64) {
    use trellis_storage::privacy::breaches::{IncidentText, NewIncident};
    use trellis_storage::privacy::restrictions::NewRestriction;
    let dora = actor(&s.users, "dora", Role::ClinicalDirector);
    let mut restrictions = [0; 2];
    for (slot, patient) in restrictions
        .iter_mut()
        .zip([s.patient_id, s.other_patient_id])
    {
        let grant = s
            .store
            .patient_grant::<can::ManageConsents>(&dora, patient)
            .await
            .expect("grant");
        *slot = s
            .store
            .record_restriction(
                &grant,
                &NewRestriction {
                    what: "Nothing to my employer".into(),
                    requested_on: Some(today()),
                    ..NewRestriction::default()
                },
            )
            .await
            .expect("restriction");
    }
    let pat = actor(&s.users, "pat", Role::PrivacyOfficer);
    let grant = s
        .store
        .grant::<can::KeepBreachRegister>(&pat)
        .expect("grant");
    let breach = s
        .store
        .record_incident(
            &grant,
            &NewIncident {
                discovered_on: Some(today()),
                occurred_on: None,
                text: IncidentText {
                    what_happened: "A day sheet was faxed to the wrong number".into(),
                    information_involved: "Names and group times".into(),
                    steps_for_patients: "Nothing is needed".into(),
                    what_we_are_doing: "Fax numbers are now checked twice".into(),
                    contact: "Call 555-0100".into(),
                },
                patients_affected: 2,
                most_in_one_state: 2,
                patient_ids: vec![s.patient_id, s.other_patient_id],
            },
        )
        .await
        .expect("incident");
    (restrictions, breach)
}

/// A collateral contact of the patient, added by the clinical director.
async fn collateral_of(s: &TestServer, patient: i64) -> i64 {
    use trellis_domain::consent::CollateralRelationship;
    use trellis_storage::collaterals::NewCollateral;
    let dora = actor(&s.users, "dora", Role::ClinicalDirector);
    let grant = s
        .store
        .patient_grant::<can::ManageConsents>(&dora, patient)
        .await
        .expect("grant");
    s.store
        .add_collateral(
            &grant,
            &NewCollateral {
                relationship: CollateralRelationship::Sponsor,
                name: "Robin Hale".into(),
                organisation: String::new(),
                phone: String::new(),
                email: String::new(),
                notes: String::new(),
            },
        )
        .await
        .expect("collateral")
}

/// Records an intake assessment (not yet placed) and a diagnosis, as the clinical director.
async fn assessment_and_diagnosis(s: &TestServer, patient: i64) -> (i64, i64) {
    use trellis_domain::placement::{Dimension, DimensionRating, DimensionRatings};
    use trellis_storage::assessments::{NewAssessment, NewDiagnosis};
    let dora = actor(&s.users, "dora", Role::ClinicalDirector);
    let grant = s
        .store
        .patient_grant::<can::WriteClinical>(&dora, patient)
        .await
        .expect("grant");
    let ratings = DimensionRatings::from_ratings(
        Dimension::ALL.map(|d| DimensionRating::new(d, 2, "matrix").expect("rating")),
    )
    .expect("ratings");
    let (assessment, _) = s
        .store
        .record_assessment(
            &grant,
            &NewAssessment {
                assessed_on: today(),
                sections: Default::default(),
                substances: Vec::new(),
                ratings,
            },
            today(),
        )
        .await
        .expect("assessment");
    let diagnosis = s
        .store
        .add_diagnosis(
            &grant,
            &NewDiagnosis {
                code: "F10.20".into(),
                primary: true,
                ..NewDiagnosis::default()
            },
            today(),
        )
        .await
        .expect("diagnosis");
    (assessment, diagnosis)
}

/// Sam, admitted to the adult program under casey and discharged by dora: the episode, its
/// draft summary and its 30-day follow-up task.
async fn discharged(s: &TestServer) -> (i64, i64, i64) {
    use trellis_domain::care::DischargeReason;
    let dora = actor(&s.users, "dora", Role::ClinicalDirector);
    let intake = actor(&s.users, "ingrid", Role::Intake);
    let (patient, episode) = admitted(
        &s.store,
        &intake,
        s.site_id,
        s.program_id,
        s.users["casey"],
        "Sam",
        "Okafor",
    )
    .await;
    let grant = s
        .store
        .patient_grant::<can::DischargeEpisode>(&dora, patient)
        .await
        .expect("grant");
    s.store
        .discharge(
            &grant,
            episode,
            today(),
            DischargeReason::TreatmentCompleted,
            None,
            today(),
        )
        .await
        .expect("discharge");
    let write = s
        .store
        .patient_grant::<can::WriteClinical>(&dora, patient)
        .await
        .expect("grant");
    let summary = s
        .store
        .generate_discharge_summary(&write, episode)
        .await
        .expect("summary");
    let read = s
        .store
        .patient_grant::<can::ReadClinical>(&dora, patient)
        .await
        .expect("grant");
    let followup = s
        .store
        .follow_ups(&read, episode)
        .await
        .expect("follow-ups")[0]
        .task_id;
    (episode, summary, followup)
}

impl Ids {
    async fn of(s: &TestServer) -> Ids {
        let dora = actor(&s.users, "dora", Role::ClinicalDirector);
        let grant = s
            .store
            .patient_grant::<can::ReadEpisodes>(&dora, s.other_patient_id)
            .await
            .expect("grant");
        let other_episode = s.store.episodes(&grant).await.expect("episodes")[0].id;
        // A flag on Dana opens a task for casey, her primary counselor.
        let flag = s
            .store
            .patient_grant::<can::WriteClinical>(&dora, s.patient_id)
            .await
            .expect("grant");
        s.store
            .raise_manual_flag(&flag, Severity::Moderate, "Missed two sessions")
            .await
            .expect("flag");
        let casey = actor(&s.users, "casey", Role::Counselor);
        let task = s
            .store
            .my_tasks(
                &s.store
                    .grant::<can::ReadDemographics>(&casey)
                    .expect("grant"),
            )
            .await
            .expect("tasks")[0]
            .id;
        // Dora's notes on Dana: one signed, one draft to keep, one draft to sign, one group.
        let write = s
            .store
            .patient_grant::<can::WriteClinical>(&dora, s.patient_id)
            .await
            .expect("grant");
        let sections = |text: &str| -> std::collections::BTreeMap<String, String> {
            ["data", "assessment", "plan"]
                .into_iter()
                .map(|k| (k.to_owned(), text.to_owned()))
                .collect()
        };
        let new_note = NewNote {
            kind: NoteKind::Individual,
            template: NoteTemplate::Dap,
            session_on: today(),
            sections: sections("matrix note"),
            objective_ids: Vec::new(),
            service: None,
        };
        let mut notes = Vec::new();
        for _ in 0..3 {
            notes.push(
                s.store
                    .write_note(&write, &new_note, today())
                    .await
                    .expect("note"),
            );
        }
        s.store.sign_note(&write, notes[0]).await.expect("sign");
        // The group note is written from a session Dana attended, as dora (a clinical
        // director may write any session's note).
        let (session, _) = evening_group(s, "dora").await;
        let fran = actor(&s.users, "fran", Role::FrontDesk);
        s.store
            .record_attendance(
                &s.store
                    .patient_grant::<can::ManageSchedule>(&fran, s.patient_id)
                    .await
                    .expect("grant"),
                session,
                trellis_domain::schedule::attendance::AttendanceStatus::Present,
                None,
            )
            .await
            .expect("present");
        let group = s
            .store
            .write_session_group_note(
                &s.store.grant::<can::WriteClinical>(&dora).expect("grant"),
                session,
                "matrix group",
                &[(
                    write.clone(),
                    AttendeeNote {
                        sections: sections("attendee"),
                        objective_ids: Vec::new(),
                    },
                )],
                false,
                today(),
            )
            .await
            .expect("group note");
        // A signed treatment plan (version 1) for both patients.
        for patient in [s.patient_id, s.other_patient_id] {
            let grant = s
                .store
                .patient_grant::<can::WriteClinical>(&dora, patient)
                .await
                .expect("grant");
            s.store
                .write_plan(&grant, &matrix_plan(s.users["dora"]))
                .await
                .expect("plan");
            s.store
                .sign_plan(
                    &grant,
                    1,
                    &PlanSignatures {
                        patient: "Patient".into(),
                        clinician: "Dora".into(),
                    },
                    today(),
                )
                .await
                .expect("sign plan");
        }
        let programs = s.store.grant::<can::ManagePrograms>(&dora).expect("grant");
        for program in [s.program_id, s.other_program_id] {
            s.store
                .set_phase_settings(
                    &programs,
                    program,
                    &[trellis_storage::phases::NewPhase {
                        name: "Phase 1".into(),
                        days_per_week: 3,
                        weekly_minutes: 540,
                    }],
                    &Default::default(),
                )
                .await
                .expect("phases");
        }
        let (closed, summary, followup) = discharged(s).await;
        let (restriction, breach) = privacy_records(s).await;
        Ids {
            restriction,
            breach,
            program: s.program_id,
            closed,
            summary,
            followup,
            note: notes[0],
            draft: notes[1],
            tosign: notes[2],
            group,
            patient: s.patient_id,
            episode: s.episode_id,
            other_patient: s.other_patient_id,
            other_episode,
            // Olive: a colleague whose account the administrator's calls may touch harmlessly.
            user: s.users["olive"],
            task,
            site: s.site_id,
            part2: [
                consent_and_disclosure(s, s.patient_id).await,
                consent_and_disclosure(s, s.other_patient_id).await,
            ],
            collateral: [
                collateral_of(s, s.patient_id).await,
                collateral_of(s, s.other_patient_id).await,
            ],
            assessment: [
                assessment_and_diagnosis(s, s.patient_id).await,
                assessment_and_diagnosis(s, s.other_patient_id).await,
            ],
        }
    }

    fn path(&self, template: &str, target: Target) -> String {
        let (patient, episode, (consent, disclosure), collateral) = match target {
            Target::InView => (
                self.patient,
                self.episode,
                self.part2[0],
                self.collateral[0],
            ),
            Target::OtherProgram => (
                self.other_patient,
                self.other_episode,
                self.part2[1],
                self.collateral[1],
            ),
        };
        let (assessment, diagnosis) = match target {
            Target::InView => self.assessment[0],
            Target::OtherProgram => self.assessment[1],
        };
        let restriction = match target {
            Target::InView => self.restriction[0],
            Target::OtherProgram => self.restriction[1],
        };
        template
            .replace("{patient}", &patient.to_string())
            .replace("{episode}", &episode.to_string())
            .replace("{user}", &self.user.to_string())
            .replace("{task}", &self.task.to_string())
            .replace("{site}", &self.site.to_string())
            // No session has this id, and the empty body is refused before it is looked up.
            .replace("{session}", "999999")
            // The empty body is refused before the medication is looked up.
            .replace("{medication}", "1")
            .replace("{consent}", &consent.to_string())
            .replace("{disclosure}", &disclosure.to_string())
            .replace("{consent_id}", &consent.to_string())
            .replace("{disclosure_id}", &disclosure.to_string())
            .replace("{collateral}", &collateral.to_string())
            .replace("{collateral_id}", &collateral.to_string())
            .replace("{note}", &self.note.to_string())
            .replace("{draft}", &self.draft.to_string())
            .replace("{tosign}", &self.tosign.to_string())
            .replace("{group}", &self.group.to_string())
            .replace("{assessment}", &assessment.to_string())
            .replace("{diagnosis}", &diagnosis.to_string())
            .replace("{version}", "1")
            // No proposal has this id: approvers get 404 (or 422 for the empty form).
            .replace("{approval}", "999999")
            .replace("{program}", &self.program.to_string())
            .replace("{closed}", &self.closed.to_string())
            .replace("{summary}", &self.summary.to_string())
            .replace("{followup}", &self.followup.to_string())
            // No appointment, window or feed 0 exists: allowed callers get 404, others 403 first.
            .replace("{appointment}", "0")
            .replace("{appointment_id}", "0")
            .replace("{window}", "0")
            .replace("{feed}", "0")
            // No passkey 0 exists: its owner's removal answers 404.
            .replace("{passkey}", "0")
            .replace("{feed_id}", "0")
            .replace("{file}", "cal_unknown.ics")
            // No directory entry has this id: readers get 404, the privacy officer 422 first.
            .replace("{recipient}", "999999")
            // No payer or coverage has this id: readers get 404, billing 422 first (the empty
            // body is refused before the record is looked up).
            .replace("{payer}", "999999")
            .replace("{coverage}", "999999")
            // No court order or agreement has this id: the privacy officer gets 404.
            .replace("{authority}", "999999")
            .replace("{restriction}", &restriction.to_string())
            .replace("{restriction_id}", &restriction.to_string())
            .replace("{breach_id}", &self.breach.to_string())
            .replace("{patient_id}", &patient.to_string())
    }

    fn patient(&self, target: Target) -> i64 {
        match target {
            Target::InView => self.patient,
            Target::OtherProgram => self.other_patient,
        }
    }
}

fn targets(rule: Rule) -> &'static [Target] {
    match rule {
        Rule::Patient(_) => &[Target::InView, Target::OtherProgram],
        _ => &[Target::InView],
    }
}

fn allowed(username: &str, rule: Rule, target: Target) -> bool {
    let role = role_of(username);
    match rule {
        Rule::Public | Rule::SignedIn => true,
        Rule::Portal => false,
        Rule::TaskAssignee => matches!(username, "casey" | "dora"),
        Rule::Note(p) => permits(role, p),
        Rule::NoteAuthor => username == "dora",
        Rule::Role(p) => permits(role, p),
        Rule::Patient(p) => {
            permits(role, p) && (target == Target::InView || sees_other_program(username))
        }
    }
}

/// The mismatch, if the status is not what the rule says.
fn check(
    username: &str,
    (method, template, rule, outcome): Row,
    target: Target,
    status: StatusCode,
) -> Option<String> {
    let expected_ok = match (allowed(username, rule, target), outcome) {
        (false, _) => status == StatusCode::FORBIDDEN,
        (true, Allowed::Success) => status.is_success() || status.is_redirection(),
        (true, Allowed::Invalid) => status == StatusCode::UNPROCESSABLE_ENTITY,
        (true, Allowed::Conflict) => status == StatusCode::CONFLICT,
        (true, Allowed::Missing) => status == StatusCode::NOT_FOUND,
        (true, Allowed::SecondStepOnly | Allowed::SignInRefused) => {
            status == StatusCode::UNAUTHORIZED
        }
    };
    (!expected_ok).then(|| {
        format!(
            "{username} ({}) {method} {template} [{target:?}]: got {status}, expected {}",
            role_of(username).code(),
            if allowed(username, rule, target) {
                format!("{outcome:?}")
            } else {
                "403".into()
            }
        )
    })
}

fn method(name: &str) -> Method {
    Method::from_bytes(name.as_bytes()).expect("method")
}

/// Runs one caller's part of the API matrix; returns the mismatches.
async fn api_as(s: Arc<TestServer>, ids: Arc<Ids>, username: &'static str) -> Vec<String> {
    let token = s.token(username).await;
    let client = reqwest::Client::new();
    let mut problems = Vec::new();
    for row in API {
        let (m, template, rule, _) = *row;
        for target in targets(rule) {
            let mut req = client
                .request(
                    method(m),
                    format!("{}/api/v1{}", s.base, ids.path(template, *target)),
                )
                .bearer_auth(&token);
            if m != "GET" {
                req = req.json(&serde_json::json!({}));
            }
            let res = req.send().await.expect("send");
            let status = res.status();
            let body: serde_json::Value = res.json().await.unwrap_or_default();
            if status == StatusCode::FORBIDDEN && body["error"]["code"] != "forbidden" {
                problems.push(format!(
                    "{username} {m} {template}: 403 without code forbidden"
                ));
            }
            problems.extend(check(username, *row, *target, status));
            if let (Rule::Patient(p), false) = (rule, allowed(username, rule, *target)) {
                let denied = s
                    .audit_for(ids.patient(*target))
                    .await
                    .into_iter()
                    .any(|r| {
                        r.username == username
                            && r.action == "access_denied"
                            && r.detail == format!("{p:?}")
                    });
                if !denied {
                    problems.push(format!(
                        "{username} {m} {template} [{target:?}]: no access_denied audit row"
                    ));
                }
            }
        }
    }
    problems
}

/// Runs one caller's part of the page matrix; returns the mismatches.
async fn pages_as(s: Arc<TestServer>, ids: Arc<Ids>, username: &'static str) -> Vec<String> {
    let browser = s.browser(username).await;
    let mut problems = Vec::new();
    let mut denied_patients = BTreeSet::new();
    for row in PAGES {
        let (m, template, rule, _) = *row;
        for target in targets(rule) {
            let path = ids.path(template, *target);
            if let Rule::Portal = rule {
                // A staff session is no portal session: the page sends it to sign in.
                let res = browser.get(&path).await;
                if res.url().path() != "/portal/sign-in" {
                    problems.push(format!(
                        "{username} GET {template}: reached {} ({}), not the portal's sign-in",
                        res.url().path(),
                        res.status()
                    ));
                }
                continue;
            }
            let status = match (m, template) {
                // The portal's own forms carry the token of the form the browser was shown.
                ("POST", "/portal/sign-in" | "/portal/welcome") => {
                    portal_form_post(&s.base, template).await
                }
                // Signing in and out replace or end the session: use a session of their own.
                ("POST", "/login") => {
                    let fresh = s.browser(username).await;
                    fresh
                        .post("/login", &[("username", username), ("password", PASSWORD)])
                        .await
                        .status()
                }
                ("POST", "/logout") => s.browser(username).await.post(&path, &[]).await.status(),
                // The passkey ceremonies take JSON from the page's script, not a form.
                ("POST", t) if t.starts_with("/login/passkey/") || t.contains("/set-up/") => {
                    browser
                        .client
                        .post(format!("{}{path}", browser.base))
                        .header("Origin", &browser.base)
                        .header("X-CSRF-Token", &browser.csrf)
                        .json(&serde_json::json!({}))
                        .send()
                        .await
                        .expect("post")
                        .status()
                }
                ("POST", _) => browser.post(&path, &[]).await.status(),
                _ => browser.get(&path).await.status(),
            };
            problems.extend(check(username, *row, *target, status));
            if let (Rule::Patient(_), false) = (rule, allowed(username, rule, *target)) {
                denied_patients.insert(ids.patient(*target));
            }
        }
    }
    for patient in denied_patients {
        let audited = s
            .audit_for(patient)
            .await
            .into_iter()
            .any(|r| r.username == username && r.action == "access_denied");
        if !audited {
            problems.push(format!(
                "{username}: page refusals about patient {patient} left no access_denied row"
            ));
        }
    }
    problems
}

/// Posts an empty portal form (sign-in or sign-up) the way a browser does: with the token of
/// the form it was shown, from a browser holding no session.
async fn portal_form_post(base: &str, path: &str) -> StatusCode {
    let client = client();
    let page = client
        .get(format!("{base}{path}"))
        .send()
        .await
        .expect("form")
        .text()
        .await
        .expect("text");
    client
        .post(format!("{base}{path}"))
        .header("Origin", base)
        .form(&[("csrf_token", csrf_in(&page))])
        .send()
        .await
        .expect("post")
        .status()
}

async fn run<F, Fut>(each: F)
where
    F: Fn(Arc<TestServer>, Arc<Ids>, &'static str) -> Fut,
    Fut: std::future::Future<Output = Vec<String>> + Send + 'static,
{
    let mut s = start().await;
    add_auditor(&mut s).await;
    let s = Arc::new(s);
    let ids = Arc::new(Ids::of(&s).await);
    let mut callers = JoinSet::new();
    for username in CALLERS {
        callers.spawn(each(s.clone(), ids.clone(), username));
    }
    let mut problems = Vec::new();
    while let Some(found) = callers.join_next().await {
        problems.extend(found.expect("caller task"));
    }
    problems.sort();
    assert!(
        problems.is_empty(),
        "{} mismatches:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[tokio::test]
async fn every_api_route_for_every_role() {
    run(api_as).await;
}

#[tokio::test]
async fn every_page_route_for_every_role() {
    run(pages_as).await;
}

#[tokio::test]
async fn counselor_is_refused_a_patient_outside_their_programs_with_an_audit_row() {
    let s = start().await;
    let ids = Ids::of(&s).await;
    let token = s.token("casey").await;
    let client = reqwest::Client::new();
    for path in [
        format!("/patients/{}", ids.other_patient),
        format!("/patients/{}/episodes", ids.other_patient),
        format!("/episodes/{}/levels", ids.other_episode),
    ] {
        let res = client
            .get(format!("{}/api/v1{path}", s.base))
            .bearer_auth(&token)
            .send()
            .await
            .expect("send");
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path}");
        let body: serde_json::Value = res.json().await.expect("json");
        assert_eq!(body["error"]["code"], "forbidden");
        assert_eq!(
            body["error"]["message"],
            "this patient is outside your assigned programs"
        );
    }
    let denials: Vec<String> = s
        .audit_for(ids.other_patient)
        .await
        .into_iter()
        .filter(|r| r.username == "casey" && r.action == "access_denied")
        .map(|r| r.detail)
        .collect();
    assert_eq!(
        denials,
        ["ReadEpisodes", "ReadEpisodes", "ReadDemographics"]
    );
    let page = s
        .browser("casey")
        .await
        .get(&format!("/patients/{}", ids.other_patient))
        .await;
    assert_eq!(page.status(), StatusCode::FORBIDDEN);
}

fn normalised(template: &str) -> String {
    [
        "{patient}",
        "{episode}",
        "{user}",
        "{task}",
        "{site}",
        "{session}",
        "{note}",
        "{draft}",
        "{tosign}",
        "{group}",
        "{program}",
        "{consent_id}",
        "{disclosure_id}",
        "{collateral_id}",
        "{assessment}",
        "{diagnosis}",
        "{closed}",
        "{summary}",
        "{followup}",
        "{appointment_id}",
        "{feed_id}",
        "{approval}",
        "{recipient}",
        "{payer}",
        "{authority}",
        "{restriction_id}",
        "{breach_id}",
    ]
    .iter()
    .fold(template.to_owned(), |path, p| path.replace(p, "{id}"))
}

#[test]
fn the_api_matrix_covers_every_api_route() {
    let matrix: BTreeSet<(String, String)> = API
        .iter()
        .map(|(m, p, _, _)| (m.to_lowercase(), normalised(p)))
        .collect();
    let routed: BTreeSet<(String, String)> = trellis_web::api::ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    let missing: Vec<_> = routed.difference(&matrix).collect();
    let stale: Vec<_> = matrix.difference(&routed).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "add these API routes to API: {missing:?}; remove these, no longer routed: {stale:?}"
    );
}

/// The page routes as declared in pages/mod.rs (the page router is private to the crate, so
/// its declaration is read as text: a new page fails this test until the matrix covers it).
fn declared_page_routes() -> BTreeSet<(String, String)> {
    let source = include_str!("../src/pages/mod.rs");
    let start = source.find("pub fn routes()").expect("routes()");
    let body = &source[start..];
    let body = &body[..body.find("\n}\n").expect("end of routes()")];
    let mut routes = BTreeSet::new();
    for declaration in body.split(".route(").skip(1) {
        let path = declaration.split('"').nth(1).expect("path literal");
        for method in ["get", "post", "put", "patch", "delete"] {
            // `get(` as a call, not the tail of a longer name such as `target(`.
            let calls = declaration
                .match_indices(&format!("{method}("))
                .any(|(i, _)| {
                    let before = declaration.as_bytes().get(i.wrapping_sub(1));
                    before.is_none_or(|b| !b.is_ascii_alphanumeric() && *b != b'_')
                });
            if calls {
                routes.insert((method.to_owned(), path.to_owned()));
            }
        }
    }
    routes
}

#[test]
fn the_page_matrix_covers_every_page_route() {
    let matrix: BTreeSet<(String, String)> = PAGES
        .iter()
        .map(|(m, p, _, _)| (m.to_lowercase(), normalised(p)))
        .collect();
    let declared = declared_page_routes();
    assert!(declared.len() > 20, "parsed the page routes: {declared:?}");
    let missing: Vec<_> = declared.difference(&matrix).collect();
    let stale: Vec<_> = matrix.difference(&declared).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "add these page routes to PAGES: {missing:?}; remove these, no longer routed: {stale:?}"
    );
}

/// The rule the OpenAPI document states for an operation (`x-permission`), in the matrix's
/// terms: the scope and the permission code.
fn documented_rule(document: &serde_json::Value, method: &str, path: &str) -> (String, String) {
    let x = &document["paths"][path][method]["x-permission"];
    (
        x["scope"].as_str().unwrap_or("missing").to_owned(),
        x["permission"].as_str().unwrap_or("").to_owned(),
    )
}

#[test]
fn the_document_states_the_rule_the_matrix_verifies_for_every_operation() {
    let document = serde_json::to_value(trellis_web::api::openapi()).expect("document");
    let code = |p: P| {
        serde_json::to_value(p)
            .expect("code")
            .as_str()
            .expect("str")
            .to_owned()
    };
    for op in trellis_web::api::OPERATIONS {
        let (_, _, rule, _) = API
            .iter()
            .find(|(m, p, _, _)| {
                m.to_lowercase() == op.method && normalised(p) == normalised(op.path)
            })
            .unwrap_or_else(|| panic!("{} {} is not in the matrix", op.method, op.path));
        let expected = match *rule {
            Rule::Public => ("public".to_owned(), String::new()),
            Rule::SignedIn => ("signed_in".to_owned(), String::new()),
            Rule::Role(p) => ("organisation".to_owned(), code(p)),
            Rule::Patient(p) | Rule::Note(p) => ("patient".to_owned(), code(p)),
            Rule::TaskAssignee => ("task_assignee".to_owned(), String::new()),
            Rule::NoteAuthor => ("note_author".to_owned(), String::new()),
            Rule::Portal => ("portal".to_owned(), String::new()),
        };
        assert_eq!(
            documented_rule(&document, op.method, op.path),
            expected,
            "{} {}: the document must state the rule the matrix verifies",
            op.method,
            op.path
        );
        let documented_roles: Vec<&str> = document["paths"][op.path][op.method]["x-permission"]
            ["roles"]
            .as_array()
            .expect("roles")
            .iter()
            .filter_map(|r| r.as_str())
            .collect();
        let permitted: Vec<&str> = match *rule {
            Rule::Role(p) | Rule::Patient(p) | Rule::Note(p) => Role::ALL
                .iter()
                .filter(|r| permits(**r, p))
                .map(|r| r.code())
                .collect(),
            _ => Vec::new(),
        };
        assert_eq!(documented_roles, permitted, "{} {}", op.method, op.path);
    }
}

/// Dana, invited by casey and signed up, signed in to the portal: the session's secret (as the
/// browser holds it in its portal cookie) and its CSRF token.
async fn portal_session(s: &TestServer) -> (String, String) {
    let casey = actor(&s.users, "casey", Role::Counselor);
    let grant = s
        .store
        .patient_grant::<can::ManagePortalAccounts>(&casey, s.patient_id)
        .await
        .expect("grant");
    let code = s.store.invite_to_portal(&grant).await.expect("invite").code;
    s.store
        .redeem_portal_invitation(
            &trellis_storage::portal::Redemption {
                code: &code,
                username: "dana",
                password: PASSWORD,
            },
            "127.0.0.1",
        )
        .await
        .expect("redeem");
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let page = client
        .get(format!("{}/portal/sign-in", s.base))
        .send()
        .await
        .expect("form")
        .text()
        .await
        .expect("text");
    let res = client
        .post(format!("{}/portal/sign-in", s.base))
        .header("Origin", &s.base)
        .form(&[
            ("csrf_token", csrf_in(&page).as_str()),
            ("username", "dana"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .expect("sign in");
    assert_eq!(res.headers()["location"], "/portal/today");
    let secret = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("trellis_portal="))
        .and_then(|c| c.split(';').next())
        .expect("portal cookie")
        .to_owned();
    let today = client
        .get(format!("{}/portal/today", s.base))
        .send()
        .await
        .expect("today")
        .text()
        .await
        .expect("text");
    (secret, csrf_in(&today))
}

#[tokio::test]
async fn a_patient_signed_in_to_the_portal_reaches_the_portal_and_no_staff_route() {
    let s = start().await;
    let ids = Ids::of(&s).await;
    let (secret, csrf) = portal_session(&s).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let mut problems = Vec::new();
    for (m, template, rule, _) in PAGES {
        if matches!(rule, Rule::Public) {
            continue;
        }
        for target in targets(*rule) {
            let path = ids.path(template, *target);
            let portal = matches!(rule, Rule::Portal);
            // The portal cookie as the browser sends it, and the same secret offered as a staff
            // session cookie, which must count for nothing.
            let cookie = if portal {
                format!("trellis_portal={secret}")
            } else {
                format!("trellis_session={secret}; trellis_portal={secret}")
            };
            let mut req = client
                .request(method(m), format!("{}{path}", s.base))
                .header("Cookie", cookie)
                .header("Origin", &s.base);
            // The passkey ceremonies take JSON from the page's script, not a form.
            let json = template.starts_with("/login/passkey/") || template.contains("/set-up/");
            if json {
                req = req
                    .header("X-CSRF-Token", &csrf)
                    .json(&serde_json::json!({}));
            } else if *m != "GET" {
                req = req.form(&[("csrf_token", csrf.as_str())]);
            }
            let res = req.send().await.expect("send");
            let status = res.status();
            let location = res
                .headers()
                .get("location")
                .and_then(|l| l.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let ok = if portal {
                status == StatusCode::OK
            } else if *template == "/logout" {
                // Signing out of a staff session the caller does not have ends nothing: the
                // staff sign-in form, and the portal session stands (checked below).
                status == StatusCode::OK
                    && res
                        .text()
                        .await
                        .expect("text")
                        .contains("action=\"/login\"")
            } else {
                status == StatusCode::UNAUTHORIZED
                    || status == StatusCode::FORBIDDEN
                    || (status.is_redirection() && location.starts_with("/login"))
            };
            if !ok {
                problems.push(format!("patient {m} {template}: {status} {location}"));
            }
        }
    }
    let still = client
        .get(format!("{}/portal/today", s.base))
        .header("Cookie", format!("trellis_portal={secret}"))
        .send()
        .await
        .expect("today");
    assert_eq!(
        still.status(),
        StatusCode::OK,
        "the portal session outlives it all"
    );
    for (m, template, rule, _) in API {
        if matches!(rule, Rule::Public) {
            continue;
        }
        for target in targets(*rule) {
            let url = format!("{}/api/v1{}", s.base, ids.path(template, *target));
            for by_cookie in [false, true] {
                let mut req = client.request(method(m), &url);
                req = if by_cookie {
                    req.header("Cookie", format!("trellis_session={secret}"))
                        .header("Origin", &s.base)
                        .header("X-CSRF-Token", &csrf)
                } else {
                    req.bearer_auth(&secret)
                };
                if *m != "GET" {
                    req = req.json(&serde_json::json!({}));
                }
                let status = req.send().await.expect("send").status();
                if status != StatusCode::UNAUTHORIZED {
                    problems.push(format!(
                        "patient {m} /api/v1{template} (cookie {by_cookie}): {status}"
                    ));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} mismatches:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
