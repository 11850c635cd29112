//! The patient portal's staff side as JSON: a patient's account state, an invitation (its code
//! shown once) and ending the account, as the chart's Portal tab does. The portal itself is
//! the patient's pages under /portal, never this API.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Serialize;
use trellis_storage::access::can;
use trellis_storage::portal::PortalAccount;

use super::extract::PathId;
use super::responses::{CreatedAt, Forbidden, NotFound, Unauthenticated};
use crate::error::ApiError;
use crate::identity::ApiCaller;
use crate::AppState;

/// A patient's portal account.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PortalAccountBody {
    /// The patient.
    pub patient_id: i64,
    /// Where it stands: `none` (never invited), `invited` (the code works until
    /// `invitation_expires_at`), `invitation_expired` (ran out unused), `active`, `revoked`.
    #[schema(schema_with = super::codes::portal_account_state)]
    pub state: String,
    /// The username the patient chose, once they have.
    pub username: Option<String>,
    /// When the last invitation was made.
    pub invited_at: Option<DateTime<Utc>>,
    /// When the open invitation stops working.
    pub invitation_expires_at: Option<DateTime<Utc>>,
    /// When the patient set their password.
    pub activated_at: Option<DateTime<Utc>>,
    /// When staff ended the account.
    pub revoked_at: Option<DateTime<Utc>>,
    /// The patient's last sign-in.
    pub last_sign_in_at: Option<DateTime<Utc>>,
}

fn account_body(a: PortalAccount) -> PortalAccountBody {
    PortalAccountBody {
        patient_id: a.patient_id,
        state: a.state.code().to_owned(),
        username: a.username,
        invited_at: a.invited_at.map(|i| i.0),
        invitation_expires_at: a.invitation_expires_at.map(|i| i.0),
        activated_at: a.activated_at.map(|i| i.0),
        revoked_at: a.revoked_at.map(|i| i.0),
        last_sign_in_at: a.last_sign_in_at.map(|i| i.0),
    }
}

/// An invitation just made.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InvitationBody {
    /// The one-time code for the patient, shown this once and stored only as a hash. The
    /// patient types it at /portal/welcome.
    pub code: String,
    /// When it stops working (72 hours after it is made).
    pub expires_at: DateTime<Utc>,
}

/// The patient's portal account. Needs `manage_portal_accounts` for the patient.
#[utoipa::path(get, path = "/patients/{id}/portal-account", tag = "portal",
    params(("id" = i64, Path, description = "Patient id")),
    responses(
        (status = 200, description = "The account (state `none` when never invited)", body = PortalAccountBody),
        Unauthenticated, Forbidden, NotFound,
    ))]
pub async fn get_account(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
) -> Result<Json<PortalAccountBody>, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::ManagePortalAccounts>(&caller.actor, id)
        .await?;
    Ok(Json(account_body(
        state.store.portal_account(&grant).await?,
    )))
}

/// Makes an invitation (replacing any open one), valid 72 hours. Needs
/// `manage_portal_accounts` for the patient; refused with 409 while the patient has an account
/// in use (end it first).
#[utoipa::path(post, path = "/patients/{id}/portal-account/invitation", tag = "portal",
    params(("id" = i64, Path, description = "Patient id")),
    responses(
        (status = 201, description = "Made; the code is shown this once", body = InvitationBody,
            headers(("Location" = String, description = "The patient's portal account"))),
        (status = 409, description = "The patient already has a portal account in use (conflict)"),
        Unauthenticated, Forbidden, NotFound,
    ))]
pub async fn invite(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
) -> Result<CreatedAt<InvitationBody>, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::ManagePortalAccounts>(&caller.actor, id)
        .await?;
    let invitation = state.store.invite_to_portal(&grant).await?;
    Ok(CreatedAt(
        format!("/api/v1/patients/{id}/portal-account"),
        InvitationBody {
            code: invitation.code,
            expires_at: invitation.expires_at.0,
        },
    ))
}

/// Ends the patient's portal account and any open invitation; the patient's sessions end at
/// once. Needs `manage_portal_accounts` for the patient. Ending what is already ended (or was
/// never opened) changes nothing and answers 204 too.
#[utoipa::path(post, path = "/patients/{id}/portal-account/end", tag = "portal",
    params(("id" = i64, Path, description = "Patient id")),
    responses(
        (status = 204, description = "Ended (or nothing was open)"),
        Unauthenticated, Forbidden, NotFound,
    ))]
pub async fn end(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    let grant = state
        .store
        .patient_grant::<can::ManagePortalAccounts>(&caller.actor, id)
        .await?;
    state.store.end_portal_account(&grant).await?;
    Ok(StatusCode::NO_CONTENT)
}
