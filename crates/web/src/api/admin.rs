//! Administration: staff accounts, roles, assignments, the MFA policy, and the audit log.

use axum::extract::State;
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use trellis_domain::access::Role;
use trellis_domain::patient::FieldError;
use trellis_storage::access::can;
use trellis_storage::audit::{AuditPage, AuditQuery};
use trellis_storage::staff::{
    validate_password, ApprovalKind, Decision, EnrolmentIssue, NewStaff, RoleApproval, RoleChange,
    StaffUser,
};
use trellis_storage::{Instant, StoreError};

use super::episodes::Created;
use super::extract::{ApiQuery, JsonBody, PathId};
use super::paging::{PageQuery, Paged, Paging};
use super::responses::{BadBody, BadQuery, Forbidden, NotFound, Unauthenticated};
use crate::error::{ApiError, ApiErrorBody, AppError};
use crate::identity::ApiCaller;
use crate::AppState;

const ROLE_MESSAGE: &str = "must be one of admin, clinical_director, counselor, prescriber, \
    nurse, peer_specialist, intake, front_desk, billing, privacy_officer, auditor";

/// A staff account.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct User {
    /// Id.
    pub id: i64,
    /// Login name.
    pub username: String,
    /// Name shown to colleagues.
    pub display_name: String,
    /// Work email.
    pub email: Option<String>,
    /// Role code.
    pub role: String,
    /// Whether the account can sign in.
    pub active: bool,
    /// Whether the account is locked after repeated failed sign-ins.
    pub locked: bool,
    /// Locked until.
    pub locked_until: Option<DateTime<Utc>>,
    /// Whether two-step verification is on.
    pub mfa_enabled: bool,
    /// Last successful sign-in.
    pub last_login_at: Option<DateTime<Utc>>,
}

impl From<StaffUser> for User {
    fn from(u: StaffUser) -> Self {
        let now = Instant::now();
        User {
            locked: u.locked_until.is_some_and(|l| l > now),
            id: u.id,
            username: u.username,
            display_name: u.display_name,
            email: u.email,
            role: u.role,
            active: u.active,
            locked_until: u.locked_until.map(|t| t.0),
            mfa_enabled: u.mfa_enabled,
            last_login_at: u.last_login_at.map(|t| t.0),
        }
    }
}

/// Every staff account, by name.
#[utoipa::path(get, path = "/users", tag = "staff",
    params(PageQuery),
    responses(
        (status = 200, description = "The accounts", body = Vec<User>,
            headers(("X-Total-Count" = i64, description = "How many entries the whole list has"))),
        Unauthenticated, Forbidden,
    ))]
pub async fn list_users(
    State(state): State<AppState>,
    caller: ApiCaller,
    paging: Paging,
) -> Result<Paged<User>, ApiError> {
    state.store.grant::<can::ManageUsers>(&caller.actor)?;
    let users = state.store.staff().await?;
    Ok(paging.page(users.into_iter().map(User::from).collect()))
}

/// A site, or one program at it, a staff member works in.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Assignment {
    /// Site.
    pub site_id: i64,
    /// Site name.
    pub site_name: String,
    /// Program, or null for the whole site.
    pub program_id: Option<i64>,
    /// Program name.
    pub program_name: Option<String>,
}

/// A staff account with its assignments.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserDetail {
    /// The account.
    #[serde(flatten)]
    pub user: User,
    /// Where the person works; their patient view follows from these.
    pub assignments: Vec<Assignment>,
}

/// One staff account and its assignments.
#[utoipa::path(get, path = "/users/{id}", tag = "staff",
    params(("id" = i64, Path, description = "Staff account id")),
    responses(
        (status = 200, description = "The account", body = UserDetail),
        Unauthenticated, Forbidden, NotFound,
    ))]
pub async fn get_user(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
) -> Result<Json<UserDetail>, ApiError> {
    state.store.grant::<can::ManageUsers>(&caller.actor)?;
    let user = state.store.staff_user(id).await?;
    let assignments = state.store.assignments(id).await?;
    Ok(Json(UserDetail {
        user: user.into(),
        assignments: assignments
            .into_iter()
            .map(|a| Assignment {
                site_id: a.site_id,
                site_name: a.site_name,
                program_id: a.program_id,
                program_name: a.program_name,
            })
            .collect(),
    }))
}

/// A new staff account.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewUser {
    /// Login name: 3–32 of a–z, 0–9, dot, dash, underscore.
    #[serde(default)]
    #[schema(required = true)]
    pub username: String,
    /// Name shown to colleagues.
    #[serde(default)]
    #[schema(required = true)]
    pub display_name: String,
    /// Work email.
    pub email: Option<String>,
    /// Role code.
    #[serde(default)]
    #[schema(required = true, schema_with = super::codes::role)]
    pub role: String,
    /// Initial password: 12 to 1024 characters, not on or close to the list of common and
    /// breached passwords, and zxcvbn strength 3 or more (the person's username, name and email
    /// count as guessable); share it with the person securely.
    #[serde(default)]
    #[schema(required = true, min_length = 12, max_length = 1024)]
    pub password: String,
    /// For role auditor (and required then): the audit or evaluation agreement (42 CFR 2.53,
    /// a disclosure authority of kind audit_evaluation, not ended) the auditor reviews under.
    pub authority_id: Option<i64>,
    /// For role auditor: the program whose patients they review (none: every program).
    pub program_id: Option<i64>,
}

fn role(value: &str, errors: &mut Vec<FieldError>) -> Option<Role> {
    let role = value.parse::<Role>().ok();
    if role.is_none() {
        errors.push(FieldError::new("role", ROLE_MESSAGE));
    }
    role
}

fn display_name(value: &str, errors: &mut Vec<FieldError>) {
    if value.trim().is_empty() {
        errors.push(FieldError::new("display_name", "is required"));
    }
}

/// Creates a staff account. One for a clinical or disclosing role (clinical director,
/// counselor, prescriber, nurse, peer specialist, privacy officer, auditor) is created inactive:
/// it becomes active when a second administrator or the privacy officer approves the role
/// (see /role-approvals). An auditor's account is bound to its audit or evaluation agreement
/// (authority_id) and, optionally, one program (program_id).
#[utoipa::path(post, path = "/users", tag = "staff",
    request_body = NewUser,
    responses(
        (status = 201, description = "Created", body = Created,
            headers(("Location" = String, description = "The new account's URL"))),
        (status = 409, description = "The username is taken (conflict)", body = ApiErrorBody),
        Unauthenticated, Forbidden, BadBody,
    ))]
pub async fn create_user(
    State(state): State<AppState>,
    caller: ApiCaller,
    body: JsonBody<NewUser>,
) -> Result<impl IntoResponse, ApiError> {
    let grant = state.store.grant::<can::ManageUsers>(&caller.actor)?;
    let new = body.parse()?;
    let mut errors = Vec::new();
    let role = role(&new.role, &mut errors);
    // The store checks these too, one at a time; checking here reports them together.
    display_name(&new.display_name, &mut errors);
    if let Err(StoreError::Invalid(e)) = validate_password(
        &new.password,
        &[
            &new.username,
            &new.display_name,
            new.email.as_deref().unwrap_or(""),
        ],
    ) {
        errors.extend(e);
    }
    let (Some(role), true) = (role, errors.is_empty()) else {
        return Err(AppError::Invalid(errors).into());
    };
    let staff = NewStaff {
        username: new.username,
        display_name: new.display_name,
        email: new.email,
        role,
        password: new.password,
    };
    let id = if role == Role::Auditor {
        state
            .store
            .create_auditor(&grant, &staff, new.authority_id, new.program_id)
            .await?
    } else {
        state.store.create_staff(&grant, &staff).await?
    };
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/api/v1/users/{id}"))],
        Json(Created { id }),
    ))
}

/// An account's name, role and active flag.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct UserUpdate {
    /// Name shown to colleagues.
    #[serde(default)]
    #[schema(required = true)]
    pub display_name: String,
    /// Role code.
    #[serde(default)]
    #[schema(required = true, schema_with = super::codes::role)]
    pub role: String,
    /// Whether the account can sign in.
    #[schema(value_type = bool, required = true)]
    pub active: Option<bool>,
}

/// A role change or second-factor reset waiting for a second person.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApprovalPending {
    /// The proposal to approve or refuse (POST /role-approvals/{id}/approve or /refuse).
    pub approval_id: i64,
}

/// Changes an account's name, role and active flag; the person's sessions end at once, and a
/// change of role or active flag revokes their API tokens. A change to a clinical or
/// disclosing role is only proposed (202): the account keeps its role until a second
/// administrator or the privacy officer approves it.
#[utoipa::path(put, path = "/users/{id}", tag = "staff",
    params(("id" = i64, Path, description = "Staff account id")),
    request_body = UserUpdate,
    responses(
        (status = 204, description = "Saved"),
        (status = 202, description = "Saved, except the role: it waits for a second person's approval", body = ApprovalPending),
        (status = 409, description = "Would remove the caller's own administrator access, activate an account whose role waits for approval, or make an existing account an auditor (auditors are created with their agreement) (conflict)", body = ApiErrorBody),
        Unauthenticated, Forbidden, NotFound, BadBody,
    ))]
pub async fn update_user(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    body: JsonBody<UserUpdate>,
) -> Result<Response, ApiError> {
    let grant = state.store.grant::<can::ManageUsers>(&caller.actor)?;
    let update = body.parse()?;
    let mut errors = Vec::new();
    display_name(&update.display_name, &mut errors);
    let role = role(&update.role, &mut errors);
    if update.active.is_none() {
        errors.push(FieldError::new("active", "is required"));
    }
    let (Some(role), Some(active), true) = (role, update.active, errors.is_empty()) else {
        return Err(AppError::Invalid(errors).into());
    };
    match state
        .store
        .update_staff(&grant, id, &update.display_name, role, active)
        .await?
    {
        RoleChange::Applied => Ok(StatusCode::NO_CONTENT.into_response()),
        RoleChange::AwaitingApproval(approval_id) => {
            Ok((StatusCode::ACCEPTED, Json(ApprovalPending { approval_id })).into_response())
        }
    }
}

/// A role, or the removal of an account's second factors, waiting for a second person's approval.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RoleApprovalBody {
    /// Id.
    pub id: i64,
    /// What is to be approved: a role, or removing every second factor of the account.
    #[schema(value_type = String, schema_with = super::codes::approval_kind)]
    pub kind: ApprovalKind,
    /// The account.
    pub user_id: i64,
    /// Its username.
    pub username: String,
    /// Its name.
    pub display_name: String,
    /// The role proposed; for a second-factor reset, the account's role when it was requested.
    pub role: String,
    /// Whether the account was created for this role (inactive until approved).
    pub new_account: bool,
    /// Who proposed it (staff id).
    pub proposed_by: i64,
    /// Their name.
    pub proposed_by_name: String,
    /// When.
    pub proposed_at: DateTime<Utc>,
}

fn approval_body(a: RoleApproval) -> RoleApprovalBody {
    RoleApprovalBody {
        id: a.id,
        kind: a.kind,
        user_id: a.user_id,
        username: a.username,
        display_name: a.display_name,
        role: a.role,
        new_account: a.activates,
        proposed_by: a.proposed_by,
        proposed_by_name: a.proposed_by_name,
        proposed_at: a.proposed_at.0,
    }
}

/// Clinical and disclosing roles, and removals of accounts' second factors, waiting for a second
/// person, oldest first (administrators and the privacy officer).
#[utoipa::path(get, path = "/role-approvals", tag = "staff",
    params(PageQuery),
    responses(
        (status = 200, description = "Open proposals", body = Vec<RoleApprovalBody>,
            headers(("X-Total-Count" = i64, description = "How many entries the whole list has"))),
        Unauthenticated, Forbidden,
    ))]
pub async fn role_approvals(
    State(state): State<AppState>,
    caller: ApiCaller,
    paging: Paging,
) -> Result<Paged<RoleApprovalBody>, ApiError> {
    let list = state.store.role_approvals(&caller.actor).await?;
    Ok(paging.page(list.into_iter().map(approval_body).collect()))
}

async fn decide(
    state: &AppState,
    caller: &ApiCaller,
    id: i64,
    approve: bool,
) -> Result<Response, ApiError> {
    match state
        .store
        .decide_role_approval(&caller.actor, id, approve)
        .await?
    {
        Decision::Decided => Ok(StatusCode::NO_CONTENT.into_response()),
        Decision::EnrolmentCodeIssued(issued) => Ok(Json(EnrolmentCodeBody {
            code: issued.code,
            expires_at: issued.expires_at.0,
        })
        .into_response()),
    }
}

/// Approves a proposed role: given at once (the account's sessions end, its tokens are
/// revoked), and an account created for it becomes active. Approving a second-factor reset
/// removes the account's authenticator app and passkeys and ends its sessions. Approving an
/// enrolment code issues it to the approver (200, the code shown only in this answer), never to
/// whoever set the account's current password. Approving `mfa_policy_off` stops requiring a
/// second factor for the role. Not by whoever proposed it, nor by the account's holder.
#[utoipa::path(post, path = "/role-approvals/{id}/approve", tag = "staff",
    params(("id" = i64, Path, description = "Proposal id")),
    responses(
        (status = 200, description = "An enrolment code approved and issued: shown only in this answer, for the approver to hand over", body = EnrolmentCodeBody),
        (status = 204, description = "Approved"),
        (status = 409, description = "The caller proposed it, would receive it, or set the account's password (enrolment code); or the account already has a second factor (conflict)", body = ApiErrorBody),
        Unauthenticated, Forbidden, NotFound,
    ))]
pub async fn approve_role(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
) -> Result<Response, ApiError> {
    decide(&state, &caller, id, true).await
}

/// Refuses a proposed role (the account keeps its role; a new one stays inactive) or a
/// second-factor reset (the account keeps its second factors).
#[utoipa::path(post, path = "/role-approvals/{id}/refuse", tag = "staff",
    params(("id" = i64, Path, description = "Proposal id")),
    responses(
        (status = 204, description = "Refused"),
        (status = 409, description = "The caller proposed it or would receive it (conflict)", body = ApiErrorBody),
        Unauthenticated, Forbidden, NotFound,
    ))]
pub async fn refuse_role(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
) -> Result<Response, ApiError> {
    decide(&state, &caller, id, false).await
}

/// A site, or one program at it, to assign.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct AssignmentInput {
    /// Site.
    pub site_id: i64,
    /// Program at that site, or null for the whole site.
    pub program_id: Option<i64>,
}

/// Replaces an account's assignments (which patients the person sees); their sessions end. The
/// list is a set: an entry given twice counts once.
#[utoipa::path(put, path = "/users/{id}/assignments", tag = "staff",
    params(("id" = i64, Path, description = "Staff account id")),
    request_body = Vec<AssignmentInput>,
    responses(
        (status = 204, description = "Saved"),
        (status = 409, description = "A site or program named does not exist, or a program is not \
            at the site given with it", body = ApiErrorBody),
        Unauthenticated, Forbidden, NotFound, BadBody,
    ))]
pub async fn set_assignments(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    body: JsonBody<Vec<AssignmentInput>>,
) -> Result<StatusCode, ApiError> {
    let grant = state.store.grant::<can::ManageUsers>(&caller.actor)?;
    // The store would report an unknown account as an unknown site; say what is missing.
    state.store.staff_user(id).await?;
    // A set: naming the same site and program twice means it once (the store would refuse the
    // repeat as a conflict).
    let assignments: Vec<(i64, Option<i64>)> = body
        .parse()?
        .into_iter()
        .map(|a| (a.site_id, a.program_id))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    state
        .store
        .set_assignments(&grant, id, &assignments)
        .await
        .map_err(super::contract::against_record(&["assignments"]))?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lifts a lockout.
#[utoipa::path(post, path = "/users/{id}/unlock", tag = "staff",
    params(("id" = i64, Path, description = "Staff account id")),
    responses(
        (status = 204, description = "Unlocked"),
        Unauthenticated, Forbidden, NotFound,
    ))]
pub async fn unlock_user(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    let grant = state.store.grant::<can::ManageUsers>(&caller.actor)?;
    // The store unlocks (and audits) any id; only existing accounts are unlocked here.
    state.store.staff_user(id).await?;
    state.store.unlock_staff(&grant, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Requests the removal of every second factor of another account (authenticator app and
/// passkeys) for a person who lost them. Nothing is removed yet: another administrator or the
/// privacy officer approves it (POST /role-approvals/{id}/approve), which removes them and ends
/// the person's sessions; then issue an enrolment code. An open request is answered with its id.
/// Never for the caller's own account. Audited.
#[utoipa::path(post, path = "/users/{id}/second-factors/reset", tag = "staff",
    params(("id" = i64, Path, description = "Staff account id")),
    responses(
        (status = 202, description = "Requested: waits for a second person's approval", body = ApprovalPending),
        (status = 409, description = "The caller's own account (conflict)", body = ApiErrorBody),
        Unauthenticated, Forbidden, NotFound,
    ))]
pub async fn reset_second_factors(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
) -> Result<Response, ApiError> {
    let grant = state.store.grant::<can::ManageUsers>(&caller.actor)?;
    let approval_id = state.store.request_second_factor_reset(&grant, id).await?;
    Ok((StatusCode::ACCEPTED, Json(ApprovalPending { approval_id })).into_response())
}

/// A one-time enrolment code, shown this once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EnrolmentCodeBody {
    /// The code to hand to the person (16 characters in groups of four); stored only hashed.
    pub code: String,
    /// When it stops working (72 hours after issue).
    pub expires_at: DateTime<Utc>,
}

/// Issues a one-time code with which the person sets up their first second factor at sign-in
/// (a password alone cannot); it replaces any earlier code and is audited, never with the code.
/// For an account whose role requires a second factor (or reads clinical text or discloses) the
/// code takes two people: this requests it (202), and another administrator or the privacy
/// officer approves it (POST /role-approvals/{id}/approve), whose answer carries the code.
#[utoipa::path(post, path = "/users/{id}/enrolment-code", tag = "staff",
    params(("id" = i64, Path, description = "Staff account id")),
    responses(
        (status = 200, description = "Issued; the code is shown only in this answer", body = EnrolmentCodeBody),
        (status = 202, description = "Requested: waits for a second person, who is shown the code", body = ApprovalPending),
        (status = 409, description = "The account already has a second factor (conflict)", body = ApiErrorBody),
        Unauthenticated, Forbidden, NotFound,
    ))]
pub async fn issue_enrolment_code(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
) -> Result<Response, ApiError> {
    let grant = state.store.grant::<can::ManageUsers>(&caller.actor)?;
    match state.store.request_enrolment_code(&grant, id).await? {
        EnrolmentIssue::Issued(issued) => Ok(Json(EnrolmentCodeBody {
            code: issued.code,
            expires_at: issued.expires_at.0,
        })
        .into_response()),
        EnrolmentIssue::AwaitingApproval(approval_id) => {
            Ok((StatusCode::ACCEPTED, Json(ApprovalPending { approval_id })).into_response())
        }
    }
}

/// A password chosen by an administrator.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewPassword {
    /// 12 to 1024 characters, not on or close to the list of common and breached passwords,
    /// and zxcvbn strength 3 or more (the person's username, name and email count as guessable).
    #[serde(default)]
    #[schema(required = true, min_length = 12, max_length = 1024)]
    pub password: String,
}

/// Sets an account's password and clears any lockout; the person's sessions end and their API
/// tokens are revoked.
#[utoipa::path(post, path = "/users/{id}/password", tag = "staff",
    params(("id" = i64, Path, description = "Staff account id")),
    request_body = NewPassword,
    responses(
        (status = 204, description = "Set; the account's sessions end and its API tokens are revoked"),
        Unauthenticated, Forbidden, NotFound, BadBody,
    ))]
pub async fn set_password(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    body: JsonBody<NewPassword>,
) -> Result<StatusCode, ApiError> {
    state.store.grant::<can::ManageUsers>(&caller.actor)?;
    let new = body.parse()?;
    state
        .store
        .set_password(&caller.actor, id, &new.password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Whether one role must use two-step verification.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RolePolicy {
    /// Role code.
    pub role: String,
    /// Role label.
    pub label: String,
    /// Whether the role must use two-step verification.
    pub mfa_required: bool,
}

/// Which roles must use two-step verification.
#[utoipa::path(get, path = "/mfa-policy", tag = "staff",
    params(PageQuery),
    responses(
        (status = 200, description = "Every role's policy", body = Vec<RolePolicy>,
            headers(("X-Total-Count" = i64, description = "How many entries the whole list has"))),
        Unauthenticated, Forbidden,
    ))]
pub async fn get_mfa_policy(
    State(state): State<AppState>,
    caller: ApiCaller,
    paging: Paging,
) -> Result<Paged<RolePolicy>, ApiError> {
    state.store.grant::<can::ManageUsers>(&caller.actor)?;
    let mut policy = Vec::new();
    for role in Role::ALL {
        policy.push(RolePolicy {
            role: role.code().to_owned(),
            label: role.label().to_owned(),
            mfa_required: state.store.mfa_required(role).await?,
        });
    }
    Ok(paging.page(policy))
}

/// The roles that must use two-step verification; every other role need not.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct MfaPolicy {
    /// Role codes.
    #[schema(schema_with = super::codes::roles, required = true)]
    pub mfa_required: Option<Vec<String>>,
}

/// Switching two-step verification off for roles, waiting for a second person.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PolicyPending {
    /// One request per role still required (POST /role-approvals/{id}/approve or /refuse).
    pub approval_ids: Vec<i64>,
}

/// Sets which roles must use two-step verification. Requiring it is done at once; no longer
/// requiring it for a role that requires it waits for another administrator or the privacy
/// officer (202, one request per such role; until approved the role stays required).
#[utoipa::path(put, path = "/mfa-policy", tag = "staff",
    request_body = MfaPolicy,
    responses(
        (status = 202, description = "Saved, except the roles to be no longer required: those wait for a second person", body = PolicyPending),
        (status = 204, description = "Saved"),
        Unauthenticated, Forbidden, BadBody,
    ))]
pub async fn set_mfa_policy(
    State(state): State<AppState>,
    caller: ApiCaller,
    body: JsonBody<MfaPolicy>,
) -> Result<Response, ApiError> {
    state.store.grant::<can::ManageUsers>(&caller.actor)?;
    let Some(codes) = body.parse()?.mfa_required else {
        return Err(AppError::Invalid(vec![FieldError::new("mfa_required", "is required")]).into());
    };
    let mut required = Vec::new();
    for code in &codes {
        match code.parse::<Role>() {
            Ok(role) => required.push(role),
            Err(_) => {
                return Err(
                    AppError::Invalid(vec![FieldError::new("mfa_required", ROLE_MESSAGE)]).into(),
                )
            }
        }
    }
    let mut approval_ids = Vec::new();
    for role in Role::ALL {
        if let RoleChange::AwaitingApproval(id) = state
            .store
            .set_mfa_required(&caller.actor, role, required.contains(&role))
            .await?
        {
            approval_ids.push(id);
        }
    }
    if approval_ids.is_empty() {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Ok((StatusCode::ACCEPTED, Json(PolicyPending { approval_ids })).into_response())
    }
}

/// Audit log filters. Patients are given by id: names never go into URLs.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditFilters {
    /// Only rows about this patient.
    pub patient_id: Option<i64>,
    /// Only rows by this username.
    pub username: Option<String>,
    /// From this instant, inclusive (RFC 3339, e.g. 2026-11-27T00:00:00Z; encode "+" as %2B).
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// Until this instant, exclusive (RFC 3339).
    #[param(format = DateTime)]
    pub to: Option<String>,
    /// At most this many rows, newest first: 1–1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// Only rows older than this row id: the next page, from the last answer's
    /// `X-Next-Before` (the log only grows, so pages are keyed by row, never by offset).
    #[param(minimum = 1)]
    pub before: Option<i64>,
}

/// One audit log row.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// Position in the chain, from 1.
    pub id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// Staff account, if any.
    pub user_id: Option<i64>,
    /// Username at the time.
    pub username: String,
    /// Role in force.
    pub role: String,
    /// What was done: read, create, update, search, access_denied, …
    pub action: String,
    /// Kind of record.
    pub record_type: String,
    /// Record id.
    pub record_id: Option<i64>,
    /// Patient the record belongs to, when the row is about one patient.
    pub patient_id: Option<i64>,
    /// Every patient the row names (each patient a list showed, each patient a page read).
    pub patients: Vec<i64>,
    /// Client address.
    pub ip: Option<String>,
    /// Request id, to find the request in the server log.
    pub request_id: Option<String>,
    /// Non-identifying detail.
    pub detail: String,
    /// The previous row's hash.
    pub prev_hash: String,
    /// This row's hash.
    pub hash: String,
}

fn instant(
    field: &'static str,
    value: Option<&str>,
    errors: &mut Vec<FieldError>,
) -> Option<Instant> {
    // An empty value is refused like any other non-instant: omit the filter instead.
    let value = value.map(str::trim)?;
    match Instant::parse(value) {
        Ok(t) => Some(t),
        Err(_) => {
            errors.push(FieldError::new(
                field,
                "must be an RFC 3339 instant such as 2026-11-27T09:00:00Z",
            ));
            None
        }
    }
}

/// Searches the audit log, newest first (the search is itself audited).
#[utoipa::path(get, path = "/audit", tag = "audit",
    params(AuditFilters),
    responses(
        (status = 200, description = "Matching rows, newest first. Pages are keyed by row id, \
            not counted: the log holds millions of rows and only grows.", body = Vec<AuditEntry>,
            headers(
                ("X-Has-More" = bool, description = "Whether older matching rows follow this page"),
                ("X-Next-Before" = Option<i64>, description = "Send as `before` for the next page \
                    (present when `X-Has-More` is true)"),
            )),
        Unauthenticated, Forbidden, BadQuery,
    ))]
pub async fn search_audit(
    State(state): State<AppState>,
    caller: ApiCaller,
    ApiQuery(filters): ApiQuery<AuditFilters>,
) -> Result<Response, ApiError> {
    let grant = state.store.grant::<can::ReadAudit>(&caller.actor)?;
    let mut errors = Vec::new();
    let from = instant("from", filters.from.as_deref(), &mut errors);
    let until = instant("to", filters.to.as_deref(), &mut errors);
    let limit = filters.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        errors.push(FieldError::new("limit", "must be between 1 and 1000"));
    }
    if filters.before.is_some_and(|b| b < 1) {
        errors.push(FieldError::new("before", "must be a row id of 1 or more"));
    }
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors).into());
    }
    // One row beyond the page says whether another page follows, without counting the log.
    let mut rows = state
        .store
        .search_audit_page(
            &grant,
            &AuditQuery {
                patient_id: filters.patient_id,
                username: filters
                    .username
                    .map(|u| u.trim().to_lowercase())
                    .filter(|u| !u.is_empty()),
                from,
                until,
                limit: limit + 1,
            },
            &AuditPage {
                action: None,
                before: filters.before,
            },
        )
        .await?;
    let has_more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    let next_before = rows.last().map(|r| r.id).filter(|_| has_more);
    let mut response = Json(
        rows.into_iter()
            .map(|r| AuditEntry {
                id: r.id,
                at: r.at.0,
                user_id: r.user_id,
                username: r.username,
                role: r.role,
                action: r.action,
                record_type: r.record_type,
                record_id: r.record_id,
                patient_id: r.patient_id,
                patients: r.patients,
                ip: r.ip,
                request_id: r.request_id,
                detail: r.detail,
                prev_hash: r.prev_hash,
                hash: r.hash,
            })
            .collect::<Vec<_>>(),
    )
    .into_response();
    let headers = response.headers_mut();
    headers.insert(
        HAS_MORE,
        HeaderValue::from_static(if has_more { "true" } else { "false" }),
    );
    if let Some(id) = next_before {
        headers.insert(NEXT_BEFORE, HeaderValue::from(id));
    }
    Ok(response)
}

/// Whether older audit rows follow the page.
const HAS_MORE: HeaderName = HeaderName::from_static("x-has-more");
/// The `before` of the next audit page.
const NEXT_BEFORE: HeaderName = HeaderName::from_static("x-next-before");

/// The result of recomputing the audit log's hash chain.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Verification {
    /// Whether the chain is intact.
    pub intact: bool,
    /// Rows checked.
    pub rows: i64,
    /// The last row's hash: record it elsewhere to detect a rewrite of the whole chain.
    pub head_hash: String,
    /// Problems, each naming the row.
    pub problems: Vec<String>,
}

/// Recomputes the audit log's hash chain.
#[utoipa::path(post, path = "/audit/verify", tag = "audit",
    responses(
        (status = 200, description = "What the check found", body = Verification),
        Unauthenticated, Forbidden,
    ))]
pub async fn verify_audit(
    State(state): State<AppState>,
    caller: ApiCaller,
) -> Result<Json<Verification>, ApiError> {
    state.store.grant::<can::ReadAudit>(&caller.actor)?;
    let v = state.store.verify_audit().await?;
    Ok(Json(Verification {
        intact: v.is_intact(),
        rows: v.rows,
        head_hash: v.head_hash,
        problems: v.problems,
    }))
}
