//! Sign-in, sign-out, the second factor (TOTP) and its enrolment.

use askama::Template;
use axum::extract::{Form, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Extension;
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;
use totp_rs::{Algorithm, Secret, TOTP};

use crate::error::AppError;
use crate::identity::{cookie, ClientInfo, Identity, LOGIN_CSRF_COOKIE, SESSION_COOKIE};
use crate::AppState;
use trellis_storage::access::Actor;
use trellis_storage::staff::{random_secret, LoginOutcome, StaffUser};

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    csrf: String,
    username: String,
    message: Option<String>,
    notice: Option<String>,
}

/// The start page: the dashboard when signed in, else the sign-in form.
pub async fn home(Extension(identity): Extension<Identity>) -> Redirect {
    match identity {
        Identity::Session { .. } => Redirect::to("/dashboard"),
        _ => Redirect::to("/login"),
    }
}

fn render_login(
    jar: CookieJar,
    state: &AppState,
    username: String,
    message: Option<String>,
    notice: Option<String>,
) -> Result<Response, AppError> {
    let csrf = random_secret();
    let jar = jar.add(cookie(LOGIN_CSRF_COOKIE, csrf.clone(), state));
    let page = LoginPage {
        csrf,
        username,
        message,
        notice,
    };
    Ok((jar, Html(page.render()?)).into_response())
}

/// The sign-in form.
pub async fn login_page(
    State(state): State<AppState>,
    jar: CookieJar,
) -> Result<Response, AppError> {
    render_login(jar, &state, String::new(), None, None)
}

/// Sign-in form fields.
#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

/// Checks the password; opens a session (a new id every time) or shows why not.
pub async fn login(
    State(state): State<AppState>,
    Extension(info): Extension<ClientInfo>,
    jar: CookieJar,
    Form(form): Form<LoginForm>,
) -> Result<Response, AppError> {
    let outcome = state
        .store
        .login(&form.username, &form.password, &info.ip)
        .await?;
    let (user, verified, next) = match outcome {
        LoginOutcome::Success(user) => (user, true, "/dashboard"),
        LoginOutcome::NeedsMfa(user) => (user, false, "/login/mfa"),
        LoginOutcome::NeedsMfaEnrolment(user) => (user, false, "/account/mfa"),
        LoginOutcome::Invalid => {
            return render_login(jar, &state, form.username, Some("Wrong username or password.".into()), None)
        }
        LoginOutcome::Locked(_) => {
            return render_login(
                jar,
                &state,
                form.username,
                Some("This account is locked for 15 minutes after repeated failed sign-ins. An administrator can unlock it sooner.".into()),
                None,
            )
        }
        LoginOutcome::Throttled => {
            return render_login(
                jar,
                &state,
                form.username,
                Some("Too many failed sign-ins from this device. Wait 15 minutes and try again.".into()),
                None,
            )
        }
    };
    // Any session cookie the browser already had is dropped: a fresh id on every login.
    if let Some(old) = jar.get(SESSION_COOKIE) {
        state.store.end_session(old.value()).await?;
    }
    let (secret, _) = state
        .store
        .create_session(&user, verified, &info.ip, state.config.absolute_lifetime)
        .await?;
    let jar = jar
        .remove(cookie(LOGIN_CSRF_COOKIE, String::new(), &state))
        .add(cookie(SESSION_COOKIE, secret, &state));
    Ok((jar, Redirect::to(next)).into_response())
}

/// Ends the session.
pub async fn logout(
    State(state): State<AppState>,
    Extension(identity): Extension<Identity>,
    jar: CookieJar,
) -> Result<Response, AppError> {
    if let Identity::Session { secret, session } = identity {
        state.store.end_session(&secret).await?;
        let actor = Actor {
            user_id: Some(session.user.id),
            username: session.user.username.clone(),
            role: session.user.role()?,
            ip: None,
            request_id: None,
        };
        state
            .store
            .record(
                &actor,
                trellis_storage::audit::AuditEvent {
                    action: "logout",
                    record_type: "session",
                    record_id: None,
                    patient_id: None,
                    detail: String::new(),
                },
            )
            .await?;
    }
    let jar = jar.remove(cookie(SESSION_COOKIE, String::new(), &state));
    render_login(
        jar,
        &state,
        String::new(),
        None,
        Some("You are signed out.".into()),
    )
}

/// The enrolment details shown while setting up an authenticator.
pub struct Enrolment {
    secret: String,
    qr_svg: String,
}

#[derive(Template)]
#[template(path = "mfa.html")]
struct MfaPage {
    csrf: String,
    action: &'static str,
    message: Option<String>,
    notice: Option<String>,
    enrolment: Option<Enrolment>,
    show_form: bool,
}

/// Code form fields.
#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
}

fn totp(secret_base32: &str) -> Result<TOTP, AppError> {
    let bytes = Secret::Encoded(secret_base32.to_owned())
        .to_bytes()
        .map_err(|e| AppError::Internal(format!("stored MFA secret unreadable: {e:?}")))?;
    TOTP::new(Algorithm::SHA1, 6, 1, 30, bytes)
        .map_err(|e| AppError::Internal(format!("MFA secret unusable: {e}")))
}

fn code_ok(secret: &str, code: &str) -> Result<bool, AppError> {
    let code = code.trim();
    if code.len() != 6 || !code.chars().all(|c| c.is_ascii_digit()) {
        return Ok(false);
    }
    totp(secret)?
        .check_current(code)
        .map_err(|e| AppError::Internal(format!("clock error: {e}")))
}

fn partial_session(identity: &Identity) -> Option<(&String, &StaffUser, &String)> {
    match identity {
        Identity::Session { secret, session } => Some((secret, &session.user, &session.csrf_token)),
        _ => None,
    }
}

/// Asks for the second factor after a correct password.
pub async fn mfa_page(Extension(identity): Extension<Identity>) -> Result<Response, AppError> {
    let Some((_, _, csrf)) = partial_session(&identity) else {
        return Ok(Redirect::to("/login").into_response());
    };
    let page = MfaPage {
        csrf: csrf.clone(),
        action: "/login/mfa",
        message: None,
        notice: None,
        enrolment: None,
        show_form: true,
    };
    Ok(Html(page.render()?).into_response())
}

/// Checks the second factor and completes the sign-in.
pub async fn mfa_verify(
    State(state): State<AppState>,
    Extension(identity): Extension<Identity>,
    Form(form): Form<CodeForm>,
) -> Result<Response, AppError> {
    let Some((secret, user, csrf)) = partial_session(&identity) else {
        return Ok(Redirect::to("/login").into_response());
    };
    let stored = state.store.mfa_secret(user.id).await?;
    let ok = match &stored {
        Some(s) if user.mfa_enabled => code_ok(s, &form.code)?,
        _ => false,
    };
    if !ok {
        let page = MfaPage {
            csrf: csrf.clone(),
            action: "/login/mfa",
            message: Some(
                "That code is not right. Codes change every 30 seconds; try the current one."
                    .into(),
            ),
            notice: None,
            enrolment: None,
            show_form: true,
        };
        return Ok(Html(page.render()?).into_response());
    }
    state
        .store
        .mark_session_mfa_verified(secret, user.id)
        .await?;
    Ok(Redirect::to("/dashboard").into_response())
}

fn enrolment(user: &StaffUser, secret: &str) -> Result<Enrolment, AppError> {
    let uri = format!(
        "otpauth://totp/Trellis:{}?secret={secret}&issuer=Trellis&algorithm=SHA1&digits=6&period=30",
        user.username
    );
    let qr = qrcode::QrCode::new(uri.as_bytes())
        .map_err(|e| AppError::Internal(format!("QR code: {e}")))?
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .build();
    Ok(Enrolment {
        secret: secret.to_owned(),
        qr_svg: qr,
    })
}

/// Shows the authenticator set-up (also reached straight after sign-in when the role requires MFA).
pub async fn enrol_page(
    State(state): State<AppState>,
    Extension(identity): Extension<Identity>,
) -> Result<Response, AppError> {
    let Some((_, user, csrf)) = partial_session(&identity) else {
        return Ok(Redirect::to("/login").into_response());
    };
    if user.mfa_enabled {
        let page = MfaPage {
            csrf: csrf.clone(),
            action: "/account/mfa",
            message: None,
            notice: Some("Two-step verification is on for your account.".into()),
            enrolment: None,
            show_form: false,
        };
        return Ok(Html(page.render()?).into_response());
    }
    // A new secret each visit until one is confirmed; it is only stored, not enabled, here.
    let mut raw = [0u8; 20];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut raw);
    let secret = Secret::Raw(raw.to_vec()).to_encoded().to_string();
    let actor = Actor {
        user_id: Some(user.id),
        username: user.username.clone(),
        role: user.role()?,
        ip: None,
        request_id: None,
    };
    state
        .store
        .set_mfa_secret(&actor, user.id, Some(&secret), false)
        .await?;
    let page = MfaPage {
        csrf: csrf.clone(),
        action: "/account/mfa",
        message: None,
        notice: None,
        enrolment: Some(enrolment(user, &secret)?),
        show_form: true,
    };
    Ok(Html(page.render()?).into_response())
}

/// Confirms the authenticator with a code and turns MFA on.
pub async fn enrol(
    State(state): State<AppState>,
    Extension(identity): Extension<Identity>,
    Form(form): Form<CodeForm>,
) -> Result<Response, AppError> {
    let Some((session_secret, user, csrf)) = partial_session(&identity) else {
        return Ok(Redirect::to("/login").into_response());
    };
    let Some(secret) = state.store.mfa_secret(user.id).await? else {
        return Ok(Redirect::to("/account/mfa").into_response());
    };
    if user.mfa_enabled || !code_ok(&secret, &form.code)? {
        let page = MfaPage {
            csrf: csrf.clone(),
            action: "/account/mfa",
            message: Some(
                "That code is not right. Check the app shows Trellis and enter its current code."
                    .into(),
            ),
            notice: None,
            enrolment: Some(enrolment(user, &secret)?),
            show_form: !user.mfa_enabled,
        };
        return Ok(Html(page.render()?).into_response());
    }
    let actor = Actor {
        user_id: Some(user.id),
        username: user.username.clone(),
        role: user.role()?,
        ip: None,
        request_id: None,
    };
    state
        .store
        .set_mfa_secret(&actor, user.id, Some(&secret), true)
        .await?;
    state
        .store
        .mark_session_mfa_verified(session_secret, user.id)
        .await?;
    Ok(Redirect::to("/dashboard").into_response())
}
