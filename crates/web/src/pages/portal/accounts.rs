//! The staff side of the portal, on the patient's chart: the account's state, an invitation
//! (its code shown once, here, and never again) and ending the account.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono_tz::Tz;
use serde::Deserialize;
use trellis_domain::portal::{AccountState, INVITATION_HOURS};
use trellis_storage::access::can;
use trellis_storage::portal::{Invitation, PortalAccount};
use trellis_storage::Instant;

use crate::error::AppError;
use crate::identity::Staff;
use crate::pages::patients::{chart_data, ChartHeader};
use crate::pages::{ChartTabs, Layout};
use crate::AppState;

/// A moment as staff read it: "Dec 7, 2026 6:05 PM EST".
pub(crate) fn moment(at: &Instant, tz: Tz) -> String {
    let local = at.0.with_timezone(&tz);
    format!(
        "{} {}",
        trellis_domain::readable_day(local.date_naive()),
        local.format("%-I:%M %p %Z")
    )
}

/// The account's facts, worded for the page.
pub struct AccountView {
    state: &'static str,
    username: Option<String>,
    invited_at: Option<String>,
    invitation_expires_at: Option<String>,
    activated_at: Option<String>,
    revoked_at: Option<String>,
    last_sign_in_at: Option<String>,
    may_invite: bool,
    may_end: bool,
}

fn account_view(a: &PortalAccount, tz: Tz) -> AccountView {
    let at = |i: &Option<Instant>| i.as_ref().map(|i| moment(i, tz));
    AccountView {
        state: a.state.label(),
        username: a.username.clone(),
        invited_at: at(&a.invited_at),
        invitation_expires_at: at(&a.invitation_expires_at),
        activated_at: at(&a.activated_at),
        revoked_at: at(&a.revoked_at),
        last_sign_in_at: at(&a.last_sign_in_at),
        may_invite: a.state != AccountState::Active,
        may_end: matches!(a.state, AccountState::Active | AccountState::Invited),
    }
}

/// A fresh invitation, shown once.
pub struct InvitationView {
    code: String,
    expires_at: String,
}

#[derive(Template)]
#[template(path = "portal_account.html")]
struct AccountPage {
    layout: Layout,
    header: ChartHeader,
    tabs: ChartTabs,
    account: AccountView,
    invitation: Option<InvitationView>,
    hours: i64,
}

async fn render(
    state: &AppState,
    staff: &Staff,
    patient_id: i64,
    invitation: Option<Invitation>,
    notice: Option<&str>,
) -> Result<String, AppError> {
    let data = chart_data(state, &staff.actor, patient_id).await?;
    let grant = state
        .store
        .patient_grant::<can::ManagePortalAccounts>(&staff.actor, patient_id)
        .await?;
    let account = state.store.portal_account(&grant).await?;
    let tz = state.timezone;
    let mut layout = Layout::new(staff, "patients");
    layout.notice = notice.map(str::to_owned);
    Ok(AccountPage {
        layout,
        tabs: ChartTabs::new(staff.actor.role, patient_id, "portal"),
        header: data.header,
        account: account_view(&account, tz),
        invitation: invitation.map(|i| InvitationView {
            code: i.code,
            expires_at: moment(&i.expires_at, tz),
        }),
        hours: INVITATION_HOURS,
    }
    .render()?)
}

/// Whether the page follows an ending (to confirm it).
#[derive(Deserialize)]
pub struct Done {
    ended: Option<u8>,
}

/// The patient's portal account: its state, and the invitation and ending forms.
pub async fn page(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Query(done): Query<Done>,
) -> Result<Response, AppError> {
    let notice = done
        .ended
        .map(|_| "Portal account ended. The patient is signed out and cannot sign in.");
    Ok(Html(render(&state, &staff, id, None, notice).await?).into_response())
}

/// Makes an invitation and shows its code this once (never by redirect: the code must not
/// travel in a URL).
pub async fn invite(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let grant = state
        .store
        .patient_grant::<can::ManagePortalAccounts>(&staff.actor, id)
        .await?;
    match state.store.invite_to_portal(&grant).await {
        Ok(invitation) => Ok(Html(
            render(
                &state,
                &staff,
                id,
                Some(invitation),
                Some("Invitation made. Give the patient the code below."),
            )
            .await?,
        )
        .into_response()),
        Err(trellis_storage::StoreError::Conflict(why)) => {
            let html = render(&state, &staff, id, None, Some(&why)).await?;
            Ok((StatusCode::CONFLICT, Html(html)).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// Ends the account (and any open invitation); the patient's sessions end at once.
pub async fn end(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let grant = state
        .store
        .patient_grant::<can::ManagePortalAccounts>(&staff.actor, id)
        .await?;
    state.store.end_portal_account(&grant).await?;
    Ok(Redirect::to(&format!("/patients/{id}/portal-account?ended=1")).into_response())
}
