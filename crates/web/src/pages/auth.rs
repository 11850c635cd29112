//! Sign-in, sign-out, the second factor (TOTP here, passkeys in `passkeys`) and its
//! enrolment, and changing one's own password.

use askama::Template;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Extension;
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, Secret, TOTP};

use crate::error::AppError;
use crate::identity::{cookie, ClientInfo, Identity, LOGIN_CSRF_COOKIE, SESSION_COOKIE};
use crate::AppState;
use trellis_domain::access::Role;
use trellis_storage::access::Actor;
use trellis_storage::staff::{
    random_secret, EnrolmentOutcome, LoginOutcome, PasswordChangeOutcome, SecondFactorOutcome,
    StaffSession, StaffUser, MFA_ENROLMENT_MINUTES,
};
use trellis_storage::StoreError;

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

pub(crate) fn render_login(
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
        // The realms never mix: a patient's account opens no staff session.
        LoginOutcome::Success(user) if user.role == Role::Patient.code() => {
            return render_login(
                jar,
                &state,
                form.username,
                Some("This sign-in is for staff. Patients sign in at the portal: /portal.".into()),
                None,
            )
        }
        LoginOutcome::Success(user) => (user, true, "/dashboard"),
        LoginOutcome::NeedsMfa(user) => (user, false, "/login/mfa"),
        LoginOutcome::NeedsMfaEnrolment(user) => (user, false, "/account/mfa"),
        LoginOutcome::Invalid => {
            return render_login(
                jar,
                &state,
                form.username,
                Some("Wrong username or password.".into()),
                None,
            )
        }
        LoginOutcome::Locked(_) => {
            return render_login(
                jar,
                &state,
                form.username,
                // Only whoever gave the right password learns of the lock (item 6: identical
                // answers for unknown and locked accounts otherwise).
                Some("This account is locked for up to 15 minutes after repeated failed sign-ins (from this device, or of the second factor). An administrator can unlock it sooner.".into()),
                None,
            );
        }
        LoginOutcome::Throttled => {
            return render_login(
                jar,
                &state,
                form.username,
                Some(
                    "Too many failed sign-ins from this device. Wait 15 minutes and try again."
                        .into(),
                ),
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
        .create_session(
            &user,
            verified,
            &info.ip,
            info.browser,
            state.config.absolute_lifetime,
        )
        .await?;
    let next = if verified {
        after_sign_in(&state, user.id).await?
    } else {
        next
    };
    let jar = jar
        .remove(cookie(LOGIN_CSRF_COOKIE, String::new(), &state))
        .add(cookie(SESSION_COOKIE, secret, &state));
    Ok((jar, Redirect::to(next)).into_response())
}

/// Where a completed sign-in goes: the person's account notices when a credential of theirs
/// changed since they last looked (ASVS 2.2.3), else the dashboard.
pub(crate) async fn after_sign_in(
    state: &AppState,
    user_id: i64,
) -> Result<&'static str, AppError> {
    Ok(
        if state.store.credential_notices(user_id).await?.is_empty() {
            "/dashboard"
        } else {
            "/account/sessions"
        },
    )
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
    /// Replacing an authenticator: a code from the one in use is asked for too.
    replacing: bool,
    /// Setting up the first one: the administrator's enrolment code is asked for too.
    first: bool,
    /// A fully signed-in user: links to the account's other settings.
    signed_in: bool,
    /// The account has an authenticator app (not only passkeys).
    has_app: bool,
    /// Signing in: the account has passkeys, so the passkey button is offered.
    passkey_sign_in: bool,
}

/// Code form fields.
#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
    /// When replacing an authenticator: a code from the one in use.
    #[serde(default)]
    current_code: String,
    /// When setting up the first one: the one-time code an administrator issued.
    #[serde(default)]
    enrolment_code: String,
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
    any_session(identity).map(|(secret, session)| (secret, &session.user, &session.csrf_token))
}

fn any_session(identity: &Identity) -> Option<(&String, &StaffSession)> {
    match identity {
        Identity::Session { secret, session } => Some((secret, session)),
        _ => None,
    }
}

pub(crate) const LOCKED: &str = "This account is locked for 15 minutes after repeated failed sign-ins. An administrator can unlock it sooner.";

/// The sign-in's second step: the code form when the account has an authenticator app, the
/// passkey button when it has passkeys.
async fn second_step_page(
    state: &AppState,
    user: &StaffUser,
    csrf: &str,
    message: Option<String>,
) -> Result<Response, AppError> {
    let has_app = state.store.mfa_secret(user.id).await?.is_some();
    let passkey_sign_in = !state.store.passkeys(user.id).await?.is_empty();
    let page = MfaPage {
        csrf: csrf.to_owned(),
        action: "/login/mfa",
        message,
        notice: None,
        enrolment: None,
        show_form: has_app || !passkey_sign_in,
        replacing: false,
        first: false,
        signed_in: false,
        has_app,
        passkey_sign_in,
    };
    Ok(Html(page.render()?).into_response())
}

/// Asks for the second factor after a correct password.
pub async fn mfa_page(
    State(state): State<AppState>,
    Extension(identity): Extension<Identity>,
) -> Result<Response, AppError> {
    let Some((_, user, csrf)) = partial_session(&identity) else {
        return Ok(Redirect::to("/login").into_response());
    };
    second_step_page(&state, user, csrf, None).await
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
        SecondFactorOutcome::Verified => {
            return Ok(Redirect::to(after_sign_in(&state, user.id).await?).into_response())
        }
        SecondFactorOutcome::Wrong => {
            "That code is not right, or was already used. Codes change every 30 seconds; wait for the next one."
        }
        SecondFactorOutcome::Locked(_) => {
            let jar = jar.remove(cookie(SESSION_COOKIE, String::new(), &state));
            return render_login(
                jar,
                &state,
                user.username.clone(),
                Some(LOCKED.into()),
                None,
            );
        }
    };
    second_step_page(&state, user, csrf, Some(message.into())).await
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

/// `?replace=1` on the set-up page: set up a new authenticator in place of the one in use.
#[derive(Deserialize)]
pub struct EnrolQuery {
    #[serde(default)]
    replace: Option<String>,
}

/// Starts a set-up with a fresh secret (waiting, not in use, until a code confirms it) and
/// shows it with the code form.
async fn start_enrolment(
    state: &AppState,
    session: &StaffSession,
    message: Option<String>,
) -> Result<Response, AppError> {
    let mut raw = [0u8; 20];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut raw);
    let secret = Secret::Raw(raw.to_vec()).to_encoded().to_string();
    state
        .store
        .start_mfa_enrolment(session.user.id, &secret)
        .await?;
    let status = if message.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let has_app = state.store.mfa_secret(session.user.id).await?.is_some();
    enrolment_page(session, &secret, message, status, has_app)
}

fn enrolment_page(
    session: &StaffSession,
    secret: &str,
    message: Option<String>,
    status: StatusCode,
    has_app: bool,
) -> Result<Response, AppError> {
    let page = MfaPage {
        csrf: session.csrf_token.clone(),
        action: "/account/mfa",
        message,
        notice: Some(format!(
            "Confirm within {MFA_ENROLMENT_MINUTES} minutes; after that this key is discarded."
        )),
        enrolment: Some(enrolment(&session.user, secret)?),
        show_form: true,
        // An account with only passkeys adds an app without a code from one.
        replacing: session.user.mfa_enabled && has_app,
        first: !session.user.mfa_enabled,
        signed_in: session.mfa_verified,
        has_app,
        passkey_sign_in: false,
    };
    Ok((status, Html(page.render()?)).into_response())
}

/// Shows the authenticator set-up (also reached straight after sign-in when the role requires
/// MFA); the first one is confirmed only with an administrator's one-time enrolment code. An
/// account that already has one sees its status, and may replace it once fully signed in, with
/// a code from the one in use.
pub async fn enrol_page(
    State(state): State<AppState>,
    Extension(identity): Extension<Identity>,
    Query(query): Query<EnrolQuery>,
) -> Result<Response, AppError> {
    let Some((_, session)) = any_session(&identity) else {
        return Ok(Redirect::to("/login").into_response());
    };
    if session.user.mfa_enabled {
        if !session.mfa_verified {
            return Ok(Redirect::to("/login/mfa").into_response());
        }
        if query.replace.is_none() {
            let page = MfaPage {
                csrf: session.csrf_token.clone(),
                action: "/account/mfa",
                message: None,
                notice: Some("Two-step verification is on for your account.".into()),
                enrolment: None,
                show_form: false,
                replacing: false,
                first: false,
                signed_in: true,
                has_app: state.store.mfa_secret(session.user.id).await?.is_some(),
                passkey_sign_in: false,
            };
            return Ok(Html(page.render()?).into_response());
        }
    }
    start_enrolment(&state, session, None).await
}

/// Confirms the authenticator being set up with a code from it (and, when replacing, a code
/// from the one in use). Wrong codes are audited and count toward the lockout; an unconfirmed
/// set-up expires; success ends the account's other sessions.
pub async fn enrol(
    State(state): State<AppState>,
    Extension(identity): Extension<Identity>,
    Extension(info): Extension<ClientInfo>,
    jar: CookieJar,
    Form(form): Form<CodeForm>,
) -> Result<Response, AppError> {
    let Some((session_secret, session)) = any_session(&identity) else {
        return Ok(Redirect::to("/login").into_response());
    };
    let user = &session.user;
    if user.mfa_enabled && !session.mfa_verified {
        return Ok(Redirect::to("/login/mfa").into_response());
    }
    let pending = state.store.pending_mfa_secret(user.id).await?;
    let new_step = match &pending {
        Some(secret) => code_step(secret, &form.code)?,
        None => None,
    };
    let current_step = match state.store.mfa_secret(user.id).await? {
        Some(secret) if user.mfa_enabled => code_step(&secret, &form.current_code)?,
        _ => None,
    };
    let outcome = state
        .store
        .confirm_mfa_enrolment(
            session_secret,
            user.id,
            new_step,
            current_step,
            &form.enrolment_code,
            &info.ip,
        )
        .await?;
    let message = match outcome {
        EnrolmentOutcome::Enrolled => {
            let page = MfaPage {
                csrf: session.csrf_token.clone(),
                action: "/account/mfa",
                message: None,
                notice: Some(
                    "Two-step verification is set up with your new authenticator. Your other sessions have been signed out."
                        .into(),
                ),
                enrolment: None,
                show_form: false,
                replacing: false,
                first: false,
                signed_in: true,
                has_app: true,
                passkey_sign_in: false,
            };
            return Ok(Html(page.render()?).into_response());
        }
        EnrolmentOutcome::Locked(_) => {
            let jar = jar.remove(cookie(SESSION_COOKIE, String::new(), &state));
            return render_login(jar, &state, user.username.clone(), Some(LOCKED.into()), None);
        }
        EnrolmentOutcome::Expired => {
            return start_enrolment(
                &state,
                session,
                Some(format!(
                    "The set-up was not confirmed within {MFA_ENROLMENT_MINUTES} minutes, so that key was discarded. Scan this new one."
                )),
            )
            .await;
        }
        EnrolmentOutcome::Wrong => {
            "New authenticator code: not right. Check the app shows Trellis and enter its current code."
        }
        EnrolmentOutcome::EnrolmentCodeWrong => {
            "Enrolment code: not right, already used or expired. Ask an administrator for a new one."
        }
        EnrolmentOutcome::CurrentCodeWrong => {
            "Code from your current authenticator: not right, or already used. Wait for its next code."
        }
    };
    match pending {
        Some(secret) => enrolment_page(
            session,
            &secret,
            Some(message.into()),
            StatusCode::UNPROCESSABLE_ENTITY,
            state.store.mfa_secret(user.id).await?.is_some(),
        ),
        // Another tab started a set-up meanwhile: offer a key that is current.
        None => start_enrolment(&state, session, Some(message.into())).await,
    }
}

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage {
    csrf: String,
    errors: Vec<(&'static str, String)>,
    notice: Option<String>,
}

impl PasswordPage {
    fn error_for(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }
}

fn password_page(
    session: &StaffSession,
    errors: Vec<(&'static str, String)>,
    notice: Option<String>,
) -> Result<Response, AppError> {
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = PasswordPage {
        csrf: session.csrf_token.clone(),
        errors,
        notice,
    };
    Ok((status, Html(page.render()?)).into_response())
}

fn signed_in(identity: &Identity) -> Option<(&String, &StaffSession)> {
    any_session(identity).filter(|(_, s)| s.mfa_verified)
}

/// The form for changing one's own password.
pub async fn password_form(Extension(identity): Extension<Identity>) -> Result<Response, AppError> {
    let Some((_, session)) = signed_in(&identity) else {
        return Ok(Redirect::to("/login").into_response());
    };
    password_page(session, Vec::new(), None)
}

/// Password change fields.
#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    confirm_password: String,
}

/// Changes one's own password: the current one is checked (a wrong one counts toward the
/// lockout), the new one must pass the password rule; other sessions end, API tokens are
/// revoked, this session stays.
pub async fn change_password(
    State(state): State<AppState>,
    Extension(identity): Extension<Identity>,
    Extension(info): Extension<ClientInfo>,
    jar: CookieJar,
    Form(form): Form<PasswordForm>,
) -> Result<Response, AppError> {
    let Some((secret, session)) = signed_in(&identity) else {
        return Ok(Redirect::to("/login").into_response());
    };
    let mut errors = Vec::new();
    if form.current_password.is_empty() {
        errors.push(("current_password", "is required".to_owned()));
    }
    if form.new_password.is_empty() {
        errors.push(("new_password", "is required".to_owned()));
    } else if form.new_password != form.confirm_password {
        errors.push((
            "confirm_password",
            "does not match the new password".to_owned(),
        ));
    }
    if !errors.is_empty() {
        return password_page(session, errors, None);
    }
    let outcome = state
        .store
        .change_own_password(
            secret,
            session.user.id,
            &form.current_password,
            &form.new_password,
            &info.ip,
        )
        .await;
    match outcome {
        Ok(PasswordChangeOutcome::Changed) => password_page(
            session,
            Vec::new(),
            Some("Your password is changed. Your other sessions have been signed out and your API tokens revoked.".into()),
        ),
        Ok(PasswordChangeOutcome::WrongCurrent) => password_page(
            session,
            vec![("current_password", "is not right".to_owned())],
            None,
        ),
        Ok(PasswordChangeOutcome::Locked(_)) => {
            let jar = jar.remove(cookie(SESSION_COOKIE, String::new(), &state));
            render_login(jar, &state, session.user.username.clone(), Some(LOCKED.into()), None)
        }
        Err(StoreError::Invalid(problems)) => password_page(
            session,
            problems
                .into_iter()
                .map(|p| match p.field {
                    "password" => ("new_password", p.message),
                    other => (other, p.message),
                })
                .collect(),
            None,
        ),
        Err(other) => Err(other.into()),
    }
}

/// The strength meter's fields: the password being typed, under whichever name its form uses,
/// and what the form says of the account it is for.
#[derive(Deserialize)]
pub struct StrengthForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    display_name: String,
}

#[derive(Template)]
#[template(path = "_password_strength.html")]
struct StrengthMeter {
    /// Nothing typed yet: the meter stays empty.
    empty: bool,
    score: u8,
    label: &'static str,
    problem: Option<String>,
}

/// The strength meter beside password fields (ASVS 2.1.8): zxcvbn's estimate, the same one the
/// server applies when the password is set, for a signed-in session. The password is neither
/// kept, audited nor logged (request logs carry the route only); without JavaScript the rule
/// is still applied on saving.
pub async fn password_strength(
    Extension(identity): Extension<Identity>,
    Form(form): Form<StrengthForm>,
) -> Result<Response, AppError> {
    let Some((_, session)) = any_session(&identity) else {
        return Ok(StatusCode::FORBIDDEN.into_response());
    };
    let password = if form.new_password.is_empty() {
        form.password
    } else {
        form.new_password
    };
    let user = &session.user;
    let about = [
        user.username.as_str(),
        user.display_name.as_str(),
        user.email.as_deref().unwrap_or(""),
        form.username.as_str(),
        form.display_name.as_str(),
    ];
    let strength = trellis_storage::staff::password_strength(&password, &about);
    let meter = StrengthMeter {
        empty: password.is_empty(),
        score: strength.score,
        label: match (strength.acceptable, strength.score) {
            (false, _) => "too weak",
            (true, 3) => "good",
            (true, _) => "strong",
        },
        problem: strength.problem,
    };
    Ok(Html(meter.render()?).into_response())
}
