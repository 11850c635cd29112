//! Sign-in, sign-out, the second factor (TOTP) and its enrolment.

use askama::Template;
use axum::extract::{Form, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Extension;
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, Secret, TOTP};

use crate::error::AppError;
use crate::identity::{cookie, ClientInfo, Identity, LOGIN_CSRF_COOKIE, SESSION_COOKIE};
use crate::AppState;
use trellis_storage::access::Actor;
use trellis_storage::staff::{random_secret, LoginOutcome, SecondFactorOutcome, StaffUser};

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

/// The TOTP time step (30 s) a code belongs to, if it is right for now or the step either side
/// (clock drift); none for a wrong or malformed code. The latest matching step is taken, so a
/// replayed code is refused by the store's "no step at or before the last one" rule.
fn code_step(secret: &str, code: &str) -> Result<Option<i64>, AppError> {
    let code = code.trim();
    if code.len() != 6 || !code.chars().all(|c| c.is_ascii_digit()) {
        return Ok(None);
    }
    let totp = totp(secret)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| AppError::Internal(format!("clock error: {e}")))?
        .as_secs();
    let current = now / totp.step;
    for step in [current + 1, current, current.saturating_sub(1)] {
        let expected = totp.generate(step * totp.step);
        if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) {
            return Ok(i64::try_from(step).ok());
        }
    }
    Ok(None)
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

/// Checks the second factor and completes the sign-in. Wrong and replayed codes count toward
/// the account's lockout; at the lockout the half-signed-in session ends and sign-in starts over.
pub async fn mfa_verify(
    State(state): State<AppState>,
    Extension(identity): Extension<Identity>,
    Extension(info): Extension<ClientInfo>,
    jar: CookieJar,
    Form(form): Form<CodeForm>,
) -> Result<Response, AppError> {
    let Some((secret, user, csrf)) = partial_session(&identity) else {
        return Ok(Redirect::to("/login").into_response());
    };
    let stored = state.store.mfa_secret(user.id).await?;
    let step = match &stored {
        Some(s) if user.mfa_enabled => code_step(s, &form.code)?,
        _ => None,
    };
    let outcome = state
        .store
        .second_factor(secret, user.id, step, &info.ip)
        .await?;
    let message = match outcome {
        SecondFactorOutcome::Verified => return Ok(Redirect::to("/dashboard").into_response()),
        SecondFactorOutcome::Wrong => {
            "That code is not right, or was already used. Codes change every 30 seconds; wait for the next one."
        }
        SecondFactorOutcome::Locked(_) => {
            let jar = jar.remove(cookie(SESSION_COOKIE, String::new(), &state));
            return render_login(
                jar,
                &state,
                user.username.clone(),
                Some("This account is locked for 15 minutes after repeated failed sign-ins. An administrator can unlock it sooner.".into()),
                None,
            );
        }
    };
    let page = MfaPage {
        csrf: csrf.clone(),
        action: "/login/mfa",
        message: Some(message.into()),
        notice: None,
        enrolment: None,
        show_form: true,
    };
    Ok(Html(page.render()?).into_response())
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
    let step = code_step(&secret, &form.code)?;
    if user.mfa_enabled || step.is_none() {
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
        .set_mfa_secret_from_step(&actor, user.id, Some(&secret), true, step)
        .await?;
    state
        .store
        .mark_session_mfa_verified(session_secret, user.id)
        .await?;
    Ok(Redirect::to("/dashboard").into_response())
}
