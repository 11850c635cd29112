//! Administration: staff accounts, roles, assignments, MFA policy, and the audit log search.

use askama::Template;
use axum::extract::{Path, Query, RawForm, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{Duration, NaiveDate, TimeZone};
use serde::Deserialize;
use trellis_domain::access::Role;
use trellis_domain::patient::FieldError;
use trellis_storage::access::can;
use trellis_storage::audit::{AuditPage, AuditQuery};
use trellis_storage::patients::{mrn, parse_mrn};
use trellis_storage::staff::{
    ApprovalKind, Decision, EnrolmentCode, EnrolmentIssue, NewStaff, RoleChange,
    ENROLMENT_CODE_HOURS,
};
use trellis_storage::{Instant, StoreError};

use super::{labelled, LabelledError, Layout};
use crate::error::AppError;
use crate::identity::Staff;
use crate::view;
use crate::AppState;

/// A staff row.
pub struct UserRow {
    id: i64,
    name: String,
    username: String,
    role: &'static str,
    status: &'static str,
    mfa: &'static str,
    last_login: String,
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    layout: Layout,
    users: Vec<UserRow>,
    roles: Vec<(&'static str, &'static str)>,
    mfa_policy: Vec<(&'static str, &'static str, bool)>,
    notice: Option<String>,
    errors: Vec<LabelledError>,
    form_username: String,
    form_display_name: String,
    form_authority_id: String,
    /// Programs an auditor account may be bound to: (id, name).
    programs: Vec<(i64, String)>,
}

fn roles() -> Vec<(&'static str, &'static str)> {
    Role::ALL.iter().map(|r| (r.code(), r.label())).collect()
}

async fn users_page(
    state: &AppState,
    staff: &Staff,
    notice: Option<String>,
    errors: &[FieldError],
    form: (String, String, String),
) -> Result<UsersPage, AppError> {
    let now = Instant::now();
    let users = state
        .store
        .staff()
        .await?
        .into_iter()
        .map(|u| UserRow {
            id: u.id,
            role: u.role().map(|r| r.label()).unwrap_or("unknown"),
            status: if !u.active {
                "Inactive"
            } else if u.locked_until.is_some_and(|l| l > now) {
                "Locked"
            } else {
                "Active"
            },
            mfa: if u.mfa_enabled { "On" } else { "Off" },
            last_login: u
                .last_login_at
                .map(|t| view::local_time(&t, state.timezone))
                .unwrap_or_else(|| "Never".into()),
            name: u.display_name,
            username: u.username,
        })
        .collect();
    let mut mfa_policy = Vec::new();
    for role in Role::ALL {
        mfa_policy.push((
            role.code(),
            role.label(),
            state.store.mfa_required(role).await?,
        ));
    }
    Ok(UsersPage {
        layout: Layout::new(staff, "users"),
        users,
        roles: roles(),
        mfa_policy,
        notice,
        errors: labelled(errors),
        form_username: form.0,
        form_display_name: form.1,
        form_authority_id: form.2,
        programs: state
            .store
            .programs()
            .await?
            .into_iter()
            .map(|p| (p.id, p.name))
            .collect(),
    })
}

/// The staff list with the add-account form.
pub async fn users(State(state): State<AppState>, staff: Staff) -> Result<Response, AppError> {
    state.store.grant::<can::ManageUsers>(&staff.actor)?;
    let page = users_page(&state, &staff, None, &[], Default::default()).await?;
    Ok(Html(page.render()?).into_response())
}

/// New account fields.
#[derive(Deserialize)]
pub struct NewUserForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    display_name: String,
    email: Option<String>,
    #[serde(default)]
    role: String,
    #[serde(default)]
    password: String,
    /// An auditor's agreement.
    #[serde(default)]
    authority_id: String,
    /// An auditor's program (blank: every program).
    #[serde(default)]
    program_id: String,
}

/// Creates an account; an auditor's is bound to its agreement and program.
pub async fn create_user(
    State(state): State<AppState>,
    staff: Staff,
    axum::extract::Form(form): axum::extract::Form<NewUserForm>,
) -> Result<Response, AppError> {
    let grant = state.store.grant::<can::ManageUsers>(&staff.actor)?;
    let errors = match form.role.parse::<Role>() {
        Err(_) => vec![FieldError::new("role", "choose a role")],
        Ok(role) => {
            let new = NewStaff {
                username: form.username.clone(),
                display_name: form.display_name.clone(),
                email: form.email.clone(),
                role,
                password: form.password.clone(),
            };
            let created = if role == Role::Auditor {
                let program_id = match form.program_id.trim() {
                    "" => Ok(None),
                    p => p.parse().map(Some),
                };
                match (form.authority_id.trim().parse().ok(), program_id) {
                    (agreement, Ok(program)) => {
                        state
                            .store
                            .create_auditor(&grant, &new, agreement, program)
                            .await
                    }
                    (_, Err(_)) => Err(StoreError::invalid("program_id", "choose a program")),
                }
            } else {
                state.store.create_staff(&grant, &new).await
            };
            match created {
                Ok(id) => return Ok(Redirect::to(&format!("/admin/users/{id}")).into_response()),
                Err(StoreError::Invalid(e)) => e,
                Err(StoreError::Conflict(m)) => vec![FieldError::new("username", m)],
                Err(e) => return Err(e.into()),
            }
        }
    };
    let page = users_page(
        &state,
        &staff,
        None,
        &errors,
        (form.username, form.display_name, form.authority_id),
    )
    .await?;
    Ok((
        axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        Html(page.render()?),
    )
        .into_response())
}

#[derive(Template)]
#[template(path = "user_edit.html")]
struct UserPage {
    layout: Layout,
    id: i64,
    name: String,
    username: String,
    role: String,
    active: bool,
    locked: bool,
    /// Whether the account has a second factor (else an enrolment code can be issued).
    mfa_enabled: bool,
    /// A code just issued, shown this once.
    enrolment_code: Option<EnrolmentCode>,
    /// How long an enrolment code works.
    hours: i64,
    roles: Vec<(&'static str, &'static str)>,
    choices: Vec<(String, String, bool)>,
    /// A role proposed for this account and waiting for a second person: its label.
    awaiting: Option<&'static str>,
    /// Who requested the removal of this account's second factors, still waiting for a second
    /// person.
    reset_requested_by: Option<String>,
    /// Whether the page shows the viewer's own account (whose factors they never reset).
    own: bool,
    /// Whether the enrolment code takes a second person (the account's role requires a second
    /// factor, or reads clinical text or discloses).
    enrolment_needs_two: bool,
    /// Who requested this account's enrolment code, still waiting for a second person.
    enrolment_requested_by: Option<String>,
    notice: Option<String>,
    errors: Vec<LabelledError>,
}

async fn user_page(
    state: &AppState,
    staff: &Staff,
    id: i64,
    notice: Option<String>,
    errors: &[FieldError],
) -> Result<UserPage, AppError> {
    let user = state.store.staff_user(id).await?;
    let assigned = state.store.assignments(id).await?;
    let is_assigned = |site: i64, program: Option<i64>| {
        assigned
            .iter()
            .any(|a| a.site_id == site && a.program_id == program)
    };
    let mut choices = Vec::new();
    for site in state.store.sites().await? {
        choices.push((
            format!("{}:", site.id),
            format!("{} — whole site", site.name),
            is_assigned(site.id, None),
        ));
    }
    for program in state.store.programs().await? {
        choices.push((
            format!("{}:{}", program.site_id, program.id),
            format!("{} — {}", program.site_name, program.name),
            is_assigned(program.site_id, Some(program.id)),
        ));
    }
    let awaiting = state
        .store
        .role_awaiting_approval(id)
        .await?
        .and_then(|a| a.role.parse::<Role>().ok())
        .map(Role::label);
    let reset_requested_by = state
        .store
        .second_factor_reset_awaiting_approval(id)
        .await?
        .map(|a| a.proposed_by_name);
    let enrolment_requested_by = state
        .store
        .enrolment_code_awaiting_approval(id)
        .await?
        .map(|a| a.proposed_by_name);
    let enrolment_needs_two = state
        .store
        .enrolment_code_needs_second_person(&staff.actor, &user)
        .await?;
    Ok(UserPage {
        enrolment_needs_two,
        enrolment_requested_by,
        layout: Layout::new(staff, "users"),
        awaiting,
        reset_requested_by,
        own: staff.actor.user_id == Some(id),
        id,
        locked: user.locked_until.is_some_and(|l| l > Instant::now()),
        mfa_enabled: user.mfa_enabled,
        enrolment_code: None,
        hours: ENROLMENT_CODE_HOURS,
        name: user.display_name,
        username: user.username,
        role: user.role,
        active: user.active,
        roles: roles(),
        choices,
        notice,
        errors: labelled(errors),
    })
}

/// One account: role, active, assignments, password, unlock.
pub async fn user(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    state.store.grant::<can::ManageUsers>(&staff.actor)?;
    Ok(Html(user_page(&state, &staff, id, None, &[]).await?.render()?).into_response())
}

/// Saves an account's name, role, active flag and assignments. The form repeats
/// `assignment=site:program` for every ticked box, so it is parsed by hand.
pub async fn update_user(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    RawForm(body): RawForm,
) -> Result<Response, AppError> {
    let grant = state.store.grant::<can::ManageUsers>(&staff.actor)?;
    let mut display_name = String::new();
    let mut role = String::new();
    let mut active = false;
    let mut assignments = Vec::new();
    let mut errors = Vec::new();
    for (key, value) in form_urlencoded::parse(&body) {
        match key.as_ref() {
            "display_name" => display_name = value.into_owned(),
            "role" => role = value.into_owned(),
            "active" => active = true,
            "assignment" => match value.split_once(':').map(|(s, p)| (s.parse::<i64>(), p)) {
                Some((Ok(site), "")) => assignments.push((site, None)),
                Some((Ok(site), program)) => match program.parse::<i64>() {
                    Ok(p) => assignments.push((site, Some(p))),
                    Err(_) => errors.push(FieldError::new("assignments", "unknown program")),
                },
                _ => errors.push(FieldError::new("assignments", "unknown site")),
            },
            _ => {}
        }
    }
    let role = match role.parse::<Role>() {
        Ok(r) => Some(r),
        Err(_) => {
            errors.push(FieldError::new("role", "choose a role"));
            None
        }
    };
    if let (Some(role), true) = (role, errors.is_empty()) {
        let result = async {
            let change = state
                .store
                .update_staff(&grant, id, &display_name, role, active)
                .await?;
            state
                .store
                .set_assignments(&grant, id, &assignments)
                .await?;
            Ok::<_, StoreError>(change)
        }
        .await;
        match result {
            Ok(change) => {
                let notice = match change {
                    RoleChange::Applied => "Saved. The person's open sessions were ended (and, if the role or active status changed, their API tokens revoked) so the change applies at once.".to_owned(),
                    RoleChange::AwaitingApproval(_) => format!("Saved, except the role: {} reads clinical records or discloses them, so a second administrator or the privacy officer must approve it (Role approvals). Until then the account keeps its current role.", role.label()),
                };
                let page = user_page(&state, &staff, id, Some(notice), &[]).await?;
                return Ok(Html(page.render()?).into_response());
            }
            Err(StoreError::Invalid(e)) => errors = e,
            Err(StoreError::Conflict(m)) => errors = vec![FieldError::new("role", m)],
            Err(e) => return Err(e.into()),
        }
    }
    let page = user_page(&state, &staff, id, None, &errors).await?;
    Ok((
        axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        Html(page.render()?),
    )
        .into_response())
}

/// New password field.
#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    password: String,
}

/// Sets a password chosen by an administrator.
pub async fn set_password(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    axum::extract::Form(form): axum::extract::Form<PasswordForm>,
) -> Result<Response, AppError> {
    state.store.grant::<can::ManageUsers>(&staff.actor)?;
    let (notice, errors) = match state
        .store
        .set_password(&staff.actor, id, &form.password)
        .await
    {
        Ok(()) => (
            Some("Password set. The person's sessions were ended and API tokens revoked. Share the password with them in a secure way.".to_owned()),
            Vec::new(),
        ),
        Err(StoreError::Invalid(e)) => (None, e),
        Err(e) => return Err(e.into()),
    };
    let status = if errors.is_empty() {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((
        status,
        Html(
            user_page(&state, &staff, id, notice, &errors)
                .await?
                .render()?,
        ),
    )
        .into_response())
}

/// Issues a one-time enrolment code with which the person sets up their first second factor,
/// shown on the page this once; for an account whose code takes two people, requests it (the
/// approver on Role approvals is shown the code).
pub async fn enrolment_code(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let grant = state.store.grant::<can::ManageUsers>(&staff.actor)?;
    let (code, notice, errors) = match state.store.request_enrolment_code(&grant, id).await {
        Ok(EnrolmentIssue::Issued(code)) => (Some(code), None, Vec::new()),
        Ok(EnrolmentIssue::AwaitingApproval(_)) => (
            None,
            Some("Enrolment code requested: another administrator or the privacy officer approves it on Role approvals and is shown the code to hand to the person.".to_owned()),
            Vec::new(),
        ),
        Err(StoreError::Conflict(m)) => (None, None, vec![FieldError::new("enrolment_code", m)]),
        Err(e) => return Err(e.into()),
    };
    let status = if errors.is_empty() {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::CONFLICT
    };
    let mut page = user_page(&state, &staff, id, notice, &errors).await?;
    page.enrolment_code = code;
    Ok((status, Html(page.render()?)).into_response())
}

/// Requests the removal of every second factor of an account (authenticator app and passkeys)
/// for a person who lost them; another administrator or the privacy officer approves it on
/// Role approvals. A refusal by the store (one's own account) is re-shown on the page.
pub async fn reset_second_factors(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let grant = state.store.grant::<can::ManageUsers>(&staff.actor)?;
    match state.store.request_second_factor_reset(&grant, id).await {
        Ok(_) => {
            let notice = "Removal of two-step verification requested: nothing is removed until another administrator or the privacy officer approves it on Role approvals.";
            Ok(Html(
                user_page(&state, &staff, id, Some(notice.into()), &[])
                    .await?
                    .render()?,
            )
            .into_response())
        }
        Err(StoreError::Conflict(m)) => {
            let errors = [FieldError::new("second_factors", m)];
            let page = user_page(&state, &staff, id, None, &errors).await?;
            Ok((axum::http::StatusCode::CONFLICT, Html(page.render()?)).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// Lifts a lockout.
pub async fn unlock(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let grant = state.store.grant::<can::ManageUsers>(&staff.actor)?;
    state.store.unlock_staff(&grant, id).await?;
    Ok(Html(
        user_page(&state, &staff, id, Some("Unlocked.".into()), &[])
            .await?
            .render()?,
    )
    .into_response())
}

/// Saves which roles must use MFA (the form repeats `role=` per ticked box).
pub async fn mfa_policy(
    State(state): State<AppState>,
    staff: Staff,
    RawForm(body): RawForm,
) -> Result<Response, AppError> {
    state.store.grant::<can::ManageUsers>(&staff.actor)?;
    let ticked: Vec<String> = form_urlencoded::parse(&body)
        .filter(|(k, _)| k == "role")
        .map(|(_, v)| v.into_owned())
        .collect();
    let mut waiting = Vec::new();
    for role in Role::ALL {
        let change = state
            .store
            .set_mfa_required(&staff.actor, role, ticked.iter().any(|t| t == role.code()))
            .await?;
        if let RoleChange::AwaitingApproval(_) = change {
            waiting.push(role.label());
        }
    }
    let notice = if waiting.is_empty() {
        "Two-step verification policy saved.".to_owned()
    } else {
        format!(
            "Two-step verification policy saved, except switching it off for {}: that takes a second administrator or the privacy officer (Role approvals). Until then it stays required.",
            waiting.join(", ")
        )
    };
    let page = users_page(&state, &staff, Some(notice), &[], Default::default()).await?;
    Ok(Html(page.render()?).into_response())
}

/// An audit row, ready to show.
pub struct AuditView {
    id: i64,
    at: String,
    username: String,
    role: String,
    action: String,
    record: String,
    patient: Option<(i64, String)>,
    ip: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditLogPage {
    layout: Layout,
    patient: String,
    username: String,
    from: String,
    to: String,
    action: String,
    actions: &'static [(&'static str, &'static str)],
    error: Option<String>,
    verification: Option<(bool, String)>,
    rows: Vec<AuditView>,
    timezone: String,
    /// The query string of the next (older) page, when there may be one.
    older: Option<String>,
    /// Whether this is a later page (so a link back to the newest is useful).
    paged: bool,
}

/// Rows on one page of the audit log.
const AUDIT_PAGE: usize = 100;

/// Audit search filters (no patient names: patients are found by MRN).
#[derive(Deserialize, Default)]
pub struct AuditFilters {
    #[serde(default)]
    patient: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    /// One action only ("read", "create", ...); blank for all.
    #[serde(default)]
    action: String,
    /// The page: rows older than this row number.
    #[serde(default)]
    before: String,
}

fn day_start(state: &AppState, day: NaiveDate) -> Option<Instant> {
    let local = day.and_hms_opt(0, 0, 0)?;
    state
        .timezone
        .from_local_datetime(&local)
        .earliest()
        .map(|t| Instant(t.with_timezone(&chrono::Utc)))
}

async fn audit_page(
    state: &AppState,
    staff: &Staff,
    filters: AuditFilters,
    verification: Option<(bool, String)>,
) -> Result<AuditLogPage, AppError> {
    let grant = state.store.grant::<can::ReadAudit>(&staff.actor)?;
    let mut error = None;
    let patient_id = match filters.patient.trim() {
        "" => None,
        p => match parse_mrn(p) {
            Some(id) => Some(id),
            None => {
                error = Some("Patient must be an MRN such as TR000123".to_owned());
                None
            }
        },
    };
    let parse_day = |s: &str, error: &mut Option<String>| -> Option<NaiveDate> {
        if s.trim().is_empty() {
            return None;
        }
        NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
            .map_err(|_| *error = Some("Dates must be YYYY-MM-DD".to_owned()))
            .ok()
    };
    let from = parse_day(&filters.from, &mut error).and_then(|d| day_start(state, d));
    let until =
        parse_day(&filters.to, &mut error).and_then(|d| day_start(state, d + Duration::days(1)));
    let action = filters.action.trim().to_owned();
    if !action.is_empty() && !view::AUDIT_ACTIONS.iter().any(|(code, _)| *code == action) {
        error = Some("Choose an action from the list".to_owned());
    }
    let before = match filters.before.trim() {
        "" => None,
        b => match b.parse::<i64>() {
            Ok(id) if id > 0 => Some(id),
            _ => {
                error = Some("The page asked for is not a row number".to_owned());
                None
            }
        },
    };
    let rows = if error.is_none() {
        state
            .store
            .search_audit_page(
                &grant,
                &AuditQuery {
                    patient_id,
                    username: Some(filters.username.trim().to_lowercase())
                        .filter(|u| !u.is_empty()),
                    from,
                    until,
                    limit: i64::try_from(AUDIT_PAGE).unwrap_or(100),
                },
                &AuditPage {
                    action: Some(action.clone()).filter(|a| !a.is_empty()),
                    before,
                },
            )
            .await?
    } else {
        Vec::new()
    };
    let older = match rows.last() {
        Some(last) if rows.len() == AUDIT_PAGE => serde_urlencoded::to_string([
            ("patient", filters.patient.trim()),
            ("username", filters.username.trim()),
            ("from", filters.from.trim()),
            ("to", filters.to.trim()),
            ("action", action.as_str()),
            ("before", &last.id.to_string()),
        ])
        .ok(),
        _ => None,
    };
    Ok(AuditLogPage {
        layout: Layout::new(staff, "audit"),
        rows: rows
            .into_iter()
            .map(|r| AuditView {
                id: r.id,
                at: view::local_time(&r.at, state.timezone),
                username: r.username,
                role: view::role(&r.role),
                action: view::audit_action(&r.action),
                record: match r.record_id {
                    Some(id) => format!("{} {id}", view::record_kind(&r.record_type)),
                    None => view::record_kind(&r.record_type),
                },
                patient: r.patient_id.map(|p| (p, mrn(p))),
                ip: r.ip.unwrap_or_default(),
                detail: with_patients_named(
                    view::audit_detail(&r.detail),
                    r.patient_id,
                    &r.patients,
                ),
            })
            .collect(),
        patient: filters.patient,
        username: filters.username,
        from: filters.from,
        to: filters.to,
        action,
        actions: view::AUDIT_ACTIONS,
        error,
        verification,
        timezone: state.timezone.name().to_owned(),
        older,
        paged: before.is_some(),
    })
}

/// A row about several patients (a list, a page) shows their MRNs after its detail.
fn with_patients_named(detail: String, patient_id: Option<i64>, patients: &[i64]) -> String {
    const SHOWN: usize = 20;
    if patient_id.is_some() || patients.is_empty() {
        return detail;
    }
    let mut named: Vec<String> = patients.iter().take(SHOWN).map(|p| mrn(*p)).collect();
    if patients.len() > SHOWN {
        named.push(format!("and {} more", patients.len() - SHOWN));
    }
    let sep = if detail.is_empty() { "" } else { " · " };
    format!("{detail}{sep}patients {}", named.join(", "))
}

/// Searches the audit log by patient, staff member and dates.
pub async fn audit(
    State(state): State<AppState>,
    staff: Staff,
    Query(filters): Query<AuditFilters>,
) -> Result<Response, AppError> {
    Ok(Html(audit_page(&state, &staff, filters, None).await?.render()?).into_response())
}

/// Recomputes the hash chain and shows the result.
pub async fn verify(State(state): State<AppState>, staff: Staff) -> Result<Response, AppError> {
    state.store.grant::<can::ReadAudit>(&staff.actor)?;
    let v = state.store.verify_audit().await?;
    let message = if v.is_intact() {
        format!(
            "The chain is intact: {} entries, head {}.",
            v.rows, v.head_hash
        )
    } else {
        format!("The chain is broken: {}", v.problems.join("; "))
    };
    let page = audit_page(
        &state,
        &staff,
        AuditFilters::default(),
        Some((v.is_intact(), message)),
    )
    .await?;
    Ok(Html(page.render()?).into_response())
}

/// A proposed role on the approvals page.
pub struct ApprovalRow {
    id: i64,
    name: String,
    username: String,
    /// What is asked, in words.
    request: String,
    /// Whether it concerns a role's policy, not one account (the person is the requester).
    policy: bool,
    new_account: bool,
    proposed_by: String,
    proposed_at: String,
    /// Whether the viewer proposed it (and so may not decide it).
    own: bool,
}

#[derive(Template)]
#[template(path = "role_approvals.html")]
struct RoleApprovalsPage {
    layout: Layout,
    approvals: Vec<ApprovalRow>,
    /// An enrolment code just issued to the viewer: (name, username, code), shown this once.
    issued: Option<(String, String, EnrolmentCode)>,
    /// How long an enrolment code works.
    hours: i64,
    notice: Option<String>,
    error: Option<String>,
}

async fn role_approvals_page(
    state: &AppState,
    staff: &Staff,
    notice: Option<String>,
    error: Option<String>,
) -> Result<RoleApprovalsPage, AppError> {
    let approvals = state
        .store
        .role_approvals(&staff.actor)
        .await?
        .into_iter()
        .map(|a| {
            let role = a
                .role
                .parse::<Role>()
                .map(Role::label)
                .unwrap_or("unknown role");
            ApprovalRow {
            id: a.id,
            own: staff.actor.user_id == Some(a.proposed_by)
                || staff.actor.user_id == Some(a.user_id),
            name: a.display_name,
            username: a.username,
            request: match a.kind {
                ApprovalKind::Role => format!("Role {role}"),
                ApprovalKind::SecondFactorReset => {
                    format!("Remove two-step verification (role {role})")
                }
                ApprovalKind::EnrolmentCode => format!(
                    "Issue an enrolment code (role {role}): you will be shown it, to hand to the person yourself"
                ),
                ApprovalKind::MfaPolicyOff => {
                    format!("Stop requiring two-step verification for every {role}")
                }
            },
            policy: a.kind == ApprovalKind::MfaPolicyOff,
            new_account: a.activates,
            proposed_by: a.proposed_by_name,
            proposed_at: view::local_time(&a.proposed_at, state.timezone),
        }})
        .collect();
    Ok(RoleApprovalsPage {
        layout: Layout::new(staff, "users"),
        approvals,
        issued: None,
        hours: ENROLMENT_CODE_HOURS,
        notice,
        error,
    })
}

/// Clinical and disclosing roles waiting for a second person (administrators, privacy officer).
pub async fn role_approvals(
    State(state): State<AppState>,
    staff: Staff,
) -> Result<Response, AppError> {
    Ok(Html(
        role_approvals_page(&state, &staff, None, None)
            .await?
            .render()?,
    )
    .into_response())
}

/// Approve or refuse.
#[derive(Deserialize)]
pub struct DecisionForm {
    #[serde(default)]
    decision: String,
}

/// Approves or refuses a proposed role or second-factor reset; a refusal by the store (own
/// proposal) is re-shown.
pub async fn decide_role(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    axum::extract::Form(form): axum::extract::Form<DecisionForm>,
) -> Result<Response, AppError> {
    // Who may decide is checked before the form, so other roles get 403 whatever they send.
    let request = state
        .store
        .role_approvals(&staff.actor)
        .await?
        .into_iter()
        .find(|a| a.id == id);
    let kind = request.as_ref().map(|a| a.kind);
    let approve = match form.decision.as_str() {
        "approve" => true,
        "refuse" => false,
        _ => {
            let page = role_approvals_page(
                &state,
                &staff,
                None,
                Some("Choose Approve or Refuse.".into()),
            )
            .await?;
            return Ok((
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                Html(page.render()?),
            )
                .into_response());
        }
    };
    match state
        .store
        .decide_role_approval(&staff.actor, id, approve)
        .await
    {
        Ok(decision) => {
            let notice = match (kind, approve) {
                (Some(ApprovalKind::SecondFactorReset), true) => "Approved: the person's authenticator app and passkeys are removed and their sessions ended. Issue an enrolment code from their account page so they can set up a new one.",
                (Some(ApprovalKind::SecondFactorReset), false) => "Refused: the account keeps its second factors.",
                (Some(ApprovalKind::EnrolmentCode), true) => "Approved: the enrolment code is below, shown only now.",
                (Some(ApprovalKind::EnrolmentCode), false) => "Refused: no enrolment code is issued.",
                (Some(ApprovalKind::MfaPolicyOff), true) => "Approved: two-step verification is no longer required for that role.",
                (Some(ApprovalKind::MfaPolicyOff), false) => "Refused: two-step verification stays required for that role.",
                (_, true) => "Approved: the role is given and the person's open sessions ended.",
                (_, false) => "Refused: the account keeps its role.",
            };
            let mut page = role_approvals_page(&state, &staff, Some(notice.into()), None).await?;
            if let (Decision::EnrolmentCodeIssued(code), Some(a)) = (decision, request) {
                page.issued = Some((a.display_name, a.username, code));
            }
            Ok(Html(page.render()?).into_response())
        }
        Err(StoreError::Conflict(message)) => {
            let page = role_approvals_page(&state, &staff, None, Some(message)).await?;
            Ok((axum::http::StatusCode::CONFLICT, Html(page.render()?)).into_response())
        }
        Err(e) => Err(e.into()),
    }
}
