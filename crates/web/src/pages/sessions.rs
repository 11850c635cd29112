//! The person's own sessions and credential notices (ASVS 3.3.4, 2.2.3, 2.5.x): which sessions
//! are open on their account (started, last seen, address, browser family) with a way to end one
//! or all the others after re-entering their password, and the changes to their credentials
//! they have not acknowledged. Linked from the Security page; a sign-in comes here while
//! notices wait.

use askama::Template;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Extension;
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;
use trellis_storage::staff::{EndSessionsOutcome, SessionsToEnd};
use trellis_storage::StoreError;

use super::auth::{render_login, LOCKED};
use super::{Layout, RowError};
use crate::error::AppError;
use crate::identity::{cookie, ClientInfo, Identity, Staff, SESSION_COOKIE};
use crate::view;
use crate::AppState;

/// An open session as listed.
pub struct SessionRow {
    handle: String,
    started: String,
    last_seen: String,
    ip: String,
    browser: String,
    current: bool,
    /// Whether the second factor was given (else it waits at the second step).
    verified: bool,
}

/// A credential notice as listed.
pub struct NoticeRow {
    what: &'static str,
    by: String,
    at: String,
}

#[derive(Template)]
#[template(path = "account_sessions.html")]
struct SessionsPage {
    layout: Layout,
    notices: Vec<NoticeRow>,
    /// The newest notice shown: acknowledging stops there, so a later one stays.
    newest_notice: Option<i64>,
    sessions: Vec<SessionRow>,
    errors: Vec<RowError>,
}

async fn page(
    state: &AppState,
    staff: &Staff,
    secret: &str,
    notice: Option<String>,
    errors: Vec<RowError>,
) -> Result<SessionsPage, AppError> {
    let user_id = staff.user.id;
    let listed = state.store.credential_notices(user_id).await?;
    let newest_notice = listed.iter().map(|n| n.id).max();
    let notices = listed
        .into_iter()
        .map(|n| NoticeRow {
            what: n.change.label(),
            by: match (n.changed_by, n.changed_by_name) {
                (Some(id), _) if id == user_id => "you (one of your sessions)".into(),
                (_, Some(name)) => name,
                _ => "the server's command line".into(),
            },
            at: view::local_time(&n.at, state.timezone),
        })
        .collect();
    let sessions = state
        .store
        .own_sessions(secret, user_id)
        .await?
        .into_iter()
        .map(|s| SessionRow {
            started: view::local_time(&s.created_at, state.timezone),
            last_seen: view::local_time(&s.last_seen_at, state.timezone),
            ip: s.ip.unwrap_or_else(|| "unknown".into()),
            browser: s.browser.unwrap_or_else(|| "unknown".into()),
            current: s.current,
            verified: s.mfa_verified,
            handle: s.handle,
        })
        .collect();
    let mut layout = Layout::new(staff, "account");
    layout.notice = notice;
    Ok(SessionsPage {
        layout,
        notices,
        newest_notice,
        sessions,
        errors,
    })
}

fn session_secret(identity: &Identity) -> Option<&str> {
    match identity {
        Identity::Session { secret, .. } => Some(secret.as_str()),
        _ => None,
    }
}

/// The person's sessions and credential notices.
pub async fn show(
    State(state): State<AppState>,
    staff: Staff,
    Extension(identity): Extension<Identity>,
) -> Result<Response, AppError> {
    let Some(secret) = session_secret(&identity) else {
        return Ok(Redirect::to("/login").into_response());
    };
    Ok(Html(
        page(&state, &staff, secret, None, Vec::new())
            .await?
            .render()?,
    )
    .into_response())
}

/// Ending sessions: which (a session's handle, or `others`) and the password again.
#[derive(Deserialize)]
pub struct EndForm {
    #[serde(default)]
    session: String,
    #[serde(default)]
    password: String,
}

/// Ends one of the person's sessions, or all the others, once their password is given again
/// (a wrong one counts toward the lockout, at which this session ends too).
pub async fn end(
    State(state): State<AppState>,
    staff: Staff,
    Extension(identity): Extension<Identity>,
    Extension(info): Extension<ClientInfo>,
    jar: CookieJar,
    Form(form): Form<EndForm>,
) -> Result<Response, AppError> {
    let Some(secret) = session_secret(&identity) else {
        return Ok(Redirect::to("/login").into_response());
    };
    let field = |message: &str| {
        vec![RowError::new(
            "password".into(),
            "Your sessions: password".into(),
            message,
        )]
    };
    let refused = |errors: Vec<RowError>| async {
        let page = page(&state, &staff, secret, None, errors).await?;
        Ok::<_, AppError>((StatusCode::UNPROCESSABLE_ENTITY, Html(page.render()?)).into_response())
    };
    let which = match form.session.as_str() {
        "others" => SessionsToEnd::AllOthers,
        "" => {
            return refused(vec![RowError::new(
                "sessions".into(),
                "Your sessions: session".into(),
                "choose a session to end",
            )])
            .await
        }
        handle => SessionsToEnd::One(handle.to_owned()),
    };
    if form.password.is_empty() {
        return refused(field("is required to end sessions")).await;
    }
    let ending_this = which == SessionsToEnd::One(trellis_storage::staff::session_handle(secret));
    match state
        .store
        .end_own_sessions(&staff.actor, secret, &form.password, &which, &info.ip)
        .await
    {
        Ok(EndSessionsOutcome::Ended(_)) if ending_this => {
            let jar = jar.remove(cookie(SESSION_COOKIE, String::new(), &state));
            Ok((jar, Redirect::to("/login")).into_response())
        }
        Ok(EndSessionsOutcome::Ended(n)) => {
            let notice = match which {
                SessionsToEnd::AllOthers => format!("Signed out of {n} other session(s)."),
                SessionsToEnd::One(_) => "That session is signed out.".to_owned(),
            };
            let page = page(&state, &staff, secret, Some(notice), Vec::new()).await?;
            Ok(Html(page.render()?).into_response())
        }
        Ok(EndSessionsOutcome::WrongPassword) => refused(field("is not right")).await,
        Ok(EndSessionsOutcome::Locked(_)) => {
            let jar = jar.remove(cookie(SESSION_COOKIE, String::new(), &state));
            let username = staff.user.username.clone();
            render_login(jar, &state, username, Some(LOCKED.into()), None)
        }
        Err(StoreError::NotFound(_)) => {
            refused(vec![RowError::new(
                "sessions".into(),
                "Your sessions: session".into(),
                "is no longer open (it ended or expired)",
            )])
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// Acknowledging notices: the newest one the person saw.
#[derive(Deserialize)]
pub struct AcknowledgeForm {
    #[serde(default)]
    up_to: String,
}

/// Acknowledges the credential notices shown (up to the newest one on the page).
pub async fn acknowledge(
    State(state): State<AppState>,
    staff: Staff,
    Extension(identity): Extension<Identity>,
    Form(form): Form<AcknowledgeForm>,
) -> Result<Response, AppError> {
    let Some(secret) = session_secret(&identity) else {
        return Ok(Redirect::to("/login").into_response());
    };
    let error = |message: &str| {
        vec![RowError::new(
            "notices".into(),
            "Changes to your account".into(),
            message,
        )]
    };
    let Ok(up_to) = form.up_to.trim().parse::<i64>() else {
        let page = page(
            &state,
            &staff,
            secret,
            None,
            error("choose the notices to acknowledge"),
        )
        .await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.render()?)).into_response());
    };
    match state
        .store
        .acknowledge_credential_notices(&staff.actor, up_to)
        .await
    {
        Ok(_) => {
            let notice = Some("Acknowledged.".to_owned());
            let page = page(&state, &staff, secret, notice, Vec::new()).await?;
            Ok(Html(page.render()?).into_response())
        }
        Err(StoreError::NotFound(_)) => {
            let page = page(
                &state,
                &staff,
                secret,
                None,
                error("nothing left to acknowledge"),
            )
            .await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.render()?)).into_response())
        }
        Err(e) => Err(e.into()),
    }
}
