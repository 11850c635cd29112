//! The patient portal's pages (issue 13), phone first: signing up from an invitation, signing
//! in and out, and today and the week. Every page carries crisis help (988, 911, the clinic).
//! Words are plain, for about a 6th-grade reader. The staff side (inviting, ending an
//! account) is `accounts`.

pub(crate) mod accounts;

use askama::Template;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Extension;
use axum_extra::extract::cookie::CookieJar;
use chrono::{Duration, NaiveDate, TimeZone};
use chrono_tz::Tz;
use serde::Deserialize;
use trellis_domain::access::Role;
use trellis_domain::patient::FieldError;
use trellis_storage::access::can;
use trellis_storage::audit::AuditEvent;
use trellis_storage::portal::Redemption;
use trellis_storage::staff::{random_secret, LoginOutcome};
use trellis_storage::Instant;

use crate::error::AppError;
use crate::identity::{
    cookie, portal_cookie, ClientInfo, Identity, PortalPatient, LOGIN_CSRF_COOKIE, PORTAL_COOKIE,
};
use crate::AppState;

/// How many days "the week" shows, today included.
const WEEK_DAYS: i64 = 7;

/// What every portal page shows around its content.
pub struct PortalFrame {
    /// CSRF token for forms (the sign-in token before a session).
    pub csrf: String,
    /// Whether a patient is signed in (the menu and sign-out show).
    pub signed_in: bool,
    /// The clinic's phone number, for the crisis box.
    pub clinic_phone: Option<String>,
    /// The current page, for aria-current.
    pub section: &'static str,
}

/// The clinic's number for pages without a signed-in patient: the first site's.
async fn first_clinic_phone(state: &AppState) -> Result<Option<String>, AppError> {
    Ok(state.store.sites().await?.into_iter().find_map(|s| s.phone))
}

/// A problem with a form field, in the portal's words.
pub struct PortalError {
    /// The input's id.
    pub field: &'static str,
    /// What is wrong, as a sentence.
    pub message: String,
}

/// Each problem as a sentence that names its field, the way the store words messages
/// ("must be at least 12 characters" after the field's name).
fn portal_errors(errors: &[FieldError]) -> Vec<PortalError> {
    errors
        .iter()
        .map(|e| {
            let label = match e.field {
                "code" => "Your code",
                "username" => "Username",
                "password" => "Password",
                "password_again" => "The second password",
                _ => "This",
            };
            let message = e.message.trim_end_matches('.');
            PortalError {
                field: e.field,
                message: format!("{label} {message}."),
            }
        })
        .collect()
}

#[derive(Template)]
#[template(path = "portal/sign_in.html")]
struct SignInPage {
    frame: PortalFrame,
    username: String,
    message: Option<String>,
    notice: Option<&'static str>,
}

async fn render_sign_in(
    state: &AppState,
    jar: CookieJar,
    username: String,
    message: Option<String>,
    notice: Option<&'static str>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let csrf = random_secret();
    let jar = jar.add(cookie(LOGIN_CSRF_COOKIE, csrf.clone(), state));
    let page = SignInPage {
        frame: PortalFrame {
            csrf,
            signed_in: false,
            clinic_phone: first_clinic_phone(state).await?,
            section: "sign-in",
        },
        username,
        message,
        notice,
    };
    Ok((status, jar, Html(page.render()?)).into_response())
}

/// `/portal`: today's page when signed in, else the sign-in form.
pub async fn home(Extension(identity): Extension<Identity>) -> Redirect {
    match identity {
        Identity::Portal { .. } => Redirect::to("/portal/today"),
        _ => Redirect::to("/portal/sign-in"),
    }
}

/// The portal's sign-in form.
pub async fn sign_in_page(
    State(state): State<AppState>,
    jar: CookieJar,
) -> Result<Response, AppError> {
    render_sign_in(&state, jar, String::new(), None, None, StatusCode::OK).await
}

/// Sign-in form fields.
#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

/// Checks the password with the staff rules (throttle, lockout, backoff) and opens a portal
/// session; a staff account is answered as a wrong password here, as a patient's is at `/login`.
pub async fn sign_in(
    State(state): State<AppState>,
    Extension(info): Extension<ClientInfo>,
    jar: CookieJar,
    Form(form): Form<SignInForm>,
) -> Result<Response, AppError> {
    let outcome = state
        .store
        .login(&form.username, &form.password, &info.ip)
        .await?;
    let refuse = |message: &str| Some(message.to_owned());
    let message = match outcome {
        LoginOutcome::Success(user) if user.role == Role::Patient.code() => {
            if let Some(old) = jar.get(PORTAL_COOKIE) {
                state.store.end_session(old.value()).await?;
            }
            let (secret, _) = state
                .store
                .create_session(
                    &user,
                    true,
                    &info.ip,
                    info.browser,
                    state.config.absolute_lifetime,
                )
                .await?;
            let jar = jar
                .remove(cookie(LOGIN_CSRF_COOKIE, String::new(), &state))
                .add(portal_cookie(secret, &state));
            return Ok((jar, Redirect::to("/portal/today")).into_response());
        }
        LoginOutcome::Locked(_) => refuse(
            "Your account is paused for up to 15 minutes after too many tries. Wait, then try again, or call the clinic.",
        ),
        LoginOutcome::Throttled => {
            refuse("Too many tries from this phone or computer. Wait 15 minutes and try again.")
        }
        _ => refuse("That username or password is not right. Try again."),
    };
    render_sign_in(
        &state,
        jar,
        form.username,
        message,
        None,
        StatusCode::UNAUTHORIZED,
    )
    .await
}

/// Ends the portal session.
pub async fn sign_out(
    State(state): State<AppState>,
    Extension(identity): Extension<Identity>,
    Extension(info): Extension<ClientInfo>,
    jar: CookieJar,
) -> Result<Response, AppError> {
    if let Identity::Portal { secret, session } = identity {
        state.store.end_session(&secret).await?;
        let actor = trellis_storage::access::Actor {
            user_id: Some(session.user.id),
            username: session.user.username.clone(),
            role: Role::Patient,
            ip: Some(info.ip.clone()),
            request_id: info.request_id.clone(),
        };
        state
            .store
            .record(
                &actor,
                AuditEvent {
                    action: "logout",
                    record_type: "session",
                    record_id: None,
                    patient_id: None,
                    detail: String::new(),
                },
            )
            .await?;
    }
    let jar = jar.remove(portal_cookie(String::new(), &state));
    render_sign_in(
        &state,
        jar,
        String::new(),
        None,
        Some("You are signed out."),
        StatusCode::OK,
    )
    .await
}

#[derive(Template)]
#[template(path = "portal/welcome.html")]
struct WelcomePage {
    frame: PortalFrame,
    code: String,
    username: String,
    errors: Vec<PortalError>,
}

async fn render_welcome(
    state: &AppState,
    jar: CookieJar,
    code: String,
    username: String,
    errors: &[FieldError],
    status: StatusCode,
) -> Result<Response, AppError> {
    let csrf = random_secret();
    let jar = jar.add(cookie(LOGIN_CSRF_COOKIE, csrf.clone(), state));
    let page = WelcomePage {
        frame: PortalFrame {
            csrf,
            signed_in: false,
            clinic_phone: first_clinic_phone(state).await?,
            section: "welcome",
        },
        code,
        username,
        errors: portal_errors(errors),
    };
    Ok((status, jar, Html(page.render()?)).into_response())
}

/// The sign-up form for a patient holding an invitation code.
pub async fn welcome_page(
    State(state): State<AppState>,
    jar: CookieJar,
) -> Result<Response, AppError> {
    render_welcome(
        &state,
        jar,
        String::new(),
        String::new(),
        &[],
        StatusCode::OK,
    )
    .await
}

/// Sign-up form fields.
#[derive(Deserialize)]
pub struct WelcomeForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_again: String,
}

/// Redeems the invitation and sends the patient to sign in with what they chose.
pub async fn welcome(
    State(state): State<AppState>,
    Extension(info): Extension<ClientInfo>,
    jar: CookieJar,
    Form(form): Form<WelcomeForm>,
) -> Result<Response, AppError> {
    let mut errors = Vec::new();
    if form.code.trim().is_empty() {
        errors.push(FieldError::new(
            "code",
            "is missing. Type the code from your counselor",
        ));
    }
    if form.password != form.password_again {
        errors.push(FieldError::new(
            "password_again",
            "is not the same as the first one",
        ));
    }
    let result = if errors.is_empty() {
        state
            .store
            .redeem_portal_invitation(
                &Redemption {
                    code: &form.code,
                    username: &form.username,
                    password: &form.password,
                },
                &info.ip,
            )
            .await
            .map_err(AppError::from)
    } else {
        Err(AppError::Invalid(errors))
    };
    match result {
        Ok(()) => {
            render_sign_in(
                &state,
                jar,
                form.username.trim().to_lowercase(),
                None,
                Some("Your account is ready. Sign in with your new password."),
                StatusCode::OK,
            )
            .await
        }
        Err(AppError::Invalid(fields)) => {
            render_welcome(
                &state,
                jar,
                form.code,
                form.username,
                &fields,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e),
    }
}

/// One group or appointment as the patient reads it.
pub struct EventView {
    time: String,
    what: String,
    place: String,
    group: bool,
}

/// One day of the week with what is on it.
pub struct DayView {
    heading: String,
    today: bool,
    events: Vec<EventView>,
}

#[derive(Template)]
#[template(path = "portal/today.html")]
struct TodayPage {
    frame: PortalFrame,
    days: Vec<DayView>,
}

/// "6:00 PM".
fn clock(at: &Instant, tz: Tz) -> String {
    at.0.with_timezone(&tz).format("%-I:%M %p").to_string()
}

/// Midnight starting `day` in `tz`, as an instant (the earliest if the clock jumps).
fn start_of(day: NaiveDate, tz: Tz) -> Instant {
    let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    Instant(
        tz.from_local_datetime(&midnight)
            .earliest()
            .map_or_else(|| midnight.and_utc(), |t| t.with_timezone(&chrono::Utc)),
    )
}

/// Today and the next six days: the patient's groups and appointments.
pub async fn today(
    State(state): State<AppState>,
    patient: PortalPatient,
) -> Result<Response, AppError> {
    let grant = state
        .store
        .patient_grant::<can::UsePortal>(&patient.actor, patient.patient_id)
        .await?;
    let tz = state.timezone;
    let first = chrono::Utc::now().with_timezone(&tz).date_naive();
    let from = start_of(first, tz);
    let to = start_of(first + Duration::days(WEEK_DAYS), tz);
    let week = state.store.portal_week(&grant, from, to).await?;
    let tz: Tz = week.timezone.parse().unwrap_or(tz);
    let days = (0..WEEK_DAYS)
        .map(|n| {
            let day = first + Duration::days(n);
            let events = week
                .events
                .iter()
                .filter(|e| e.starts_at.0.with_timezone(&tz).date_naive() == day)
                .map(|e| EventView {
                    time: format!("{} to {}", clock(&e.starts_at, tz), clock(&e.ends_at, tz)),
                    what: e.what.clone(),
                    place: e.place.clone(),
                    group: e.group,
                })
                .collect();
            DayView {
                heading: match n {
                    0 => format!("Today, {}", day.format("%A, %b %-d")),
                    1 => format!("Tomorrow, {}", day.format("%A, %b %-d")),
                    _ => day.format("%A, %b %-d").to_string(),
                },
                today: n == 0,
                events,
            }
        })
        .collect();
    let page = TodayPage {
        frame: PortalFrame {
            csrf: patient.csrf,
            signed_in: true,
            clinic_phone: week.clinic_phone,
            section: "today",
        },
        days,
    };
    Ok(Html(page.render()?).into_response())
}
