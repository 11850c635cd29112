//! Passkeys (WebAuthn) as a second factor: the relying party, the set-up and sign-in
//! ceremonies (JSON endpoints the page's script calls; `static/passkeys.js`), and the page where
//! a person lists and removes their passkeys. The cryptographic checks are `webauthn-rs`'s;
//! the store keeps the ceremony on the session and decides what each outcome does.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Json};
use axum_extra::extract::cookie::CookieJar;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;
use webauthn_rs::prelude::{
    Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Url, Uuid, Webauthn, WebauthnBuilder, WebauthnError,
};

use crate::error::AppError;
use crate::identity::{cookie, ClientInfo, Identity, SESSION_COOKIE};
use crate::pages::Layout;
use crate::view;
use crate::AppState;
use trellis_storage::staff::{
    passkey_name, Ceremony, EnrolmentOutcome, NewPasskey, PasskeyInfo, PasskeyUse,
    SecondFactorOutcome, StaffSession, MAX_PASSKEY_NAME_LEN,
};
use trellis_storage::StoreError;

/// The WebAuthn relying party. Its id is the public URL's host name and its origin the public
/// URL. WebAuthn refuses IP addresses, so without a public URL, or with one on an IP address, it
/// is `localhost` on any port: a demo's passkeys work at `http://localhost:8080/`.
pub fn relying_party(public_url: Option<&str>) -> Result<Webauthn, AppError> {
    let named = public_url
        .and_then(|u| Url::parse(u).ok())
        .and_then(|u| Some((u.domain()?.to_owned(), u)));
    let (rp_id, origin, any_port) = match named {
        Some((host, url)) => (host, url, false),
        None => (
            "localhost".to_owned(),
            Url::parse("http://localhost:8080")
                .map_err(|e| AppError::Internal(format!("passkey origin: {e}")))?,
            true,
        ),
    };
    WebauthnBuilder::new(&rp_id, &origin)
        .map_err(|e| AppError::Internal(format!("passkey relying party: {e}")))?
        .rp_name("Trellis")
        .allow_any_port(any_port)
        .build()
        .map_err(|e| AppError::Internal(format!("passkey relying party: {e}")))
}

/// Why the authenticator's answer was refused, for the audit log (never the answer itself).
fn refusal(error: &WebauthnError) -> String {
    match error {
        WebauthnError::MismatchedChallenge => "answered another challenge".into(),
        WebauthnError::CredentialNotFound => "unknown credential".into(),
        WebauthnError::CredentialPossibleCompromise => {
            "signature counter went back (possible clone)".into()
        }
        WebauthnError::InvalidRPOrigin => "from another origin".into(),
        WebauthnError::UserNotVerified => "user not verified".into(),
        other => format!("not verified ({other:?})"),
    }
}

/// A JSON answer to the page's script: what to tell the person, and where to go next.
fn answer(status: StatusCode, message: &str, redirect: Option<&str>) -> Response {
    (
        status,
        Json(json!({ "message": message, "redirect": redirect })),
    )
        .into_response()
}

/// The session of someone who may manage passkeys: fully signed in, or signed in with the
/// password on an account with no second factor yet (setting up the first one).
fn holder(identity: &Identity) -> Option<(&String, &StaffSession)> {
    match identity {
        Identity::Session { secret, session }
            if session.mfa_verified || !session.user.mfa_enabled =>
        {
            Some((secret, session))
        }
        _ => None,
    }
}

/// A half-signed-in session waiting for its second factor.
fn waiting(identity: &Identity) -> Option<(&String, &StaffSession)> {
    match identity {
        Identity::Session { secret, session } if !session.mfa_verified => Some((secret, session)),
        _ => None,
    }
}

/// The WebAuthn user handle: a fixed id per account that names nobody.
fn user_handle(user_id: i64) -> Uuid {
    Uuid::from_u64_pair(
        0x7472_656c_6c69_7321,
        u64::try_from(user_id).unwrap_or_default(),
    )
}

/// What a ceremony is called in errors and the audit log.
fn ceremony_name(ceremony: Ceremony) -> &'static str {
    match ceremony {
        Ceremony::SetUp => "set-up",
        Ceremony::SignIn => "sign-in",
    }
}

/// The answer to a ceremony's request from a session that may not make it.
fn sign_in_first(message: &str) -> Response {
    answer(StatusCode::UNAUTHORIZED, message, Some("/login"))
}

/// The answer at the lockout: the session's cookie goes, and the person starts again.
fn locked_out(state: &AppState, jar: CookieJar) -> Response {
    let jar = jar.remove(cookie(SESSION_COOKIE, String::new(), state));
    (
        jar,
        answer(StatusCode::FORBIDDEN, super::auth::LOCKED, Some("/login")),
    )
        .into_response()
}

/// Starts a ceremony: keeps what the library needs to check the answer on the session, and
/// sends the challenge to the page's script.
async fn begin_ceremony(
    state: &AppState,
    secret: &str,
    ceremony: Ceremony,
    challenge: impl Serialize,
    kept: &impl Serialize,
) -> Result<Response, AppError> {
    let name = ceremony_name(ceremony);
    let kept = serde_json::to_string(kept)
        .map_err(|e| AppError::Internal(format!("passkey {name} state: {e}")))?;
    state
        .store
        .begin_passkey_ceremony(secret, ceremony, &kept)
        .await?;
    Ok(Json(challenge).into_response())
}

/// Takes the session's ceremony (once, whatever follows) and reads the authenticator's answer:
/// both for the library to check, or why there is nothing to check, which the store audits and
/// counts as a refusal.
async fn take_ceremony<K: DeserializeOwned, A: DeserializeOwned>(
    state: &AppState,
    secret: &str,
    ceremony: Ceremony,
    answer: serde_json::Value,
) -> Result<Result<(K, A), String>, AppError> {
    let name = ceremony_name(ceremony);
    let Some(kept) = state.store.take_passkey_ceremony(secret, ceremony).await? else {
        return Ok(Err(format!(
            "{name} not started, expired or already answered"
        )));
    };
    let kept: K = serde_json::from_str(&kept)
        .map_err(|e| AppError::Internal(format!("passkey {name} state: {e}")))?;
    Ok(serde_json::from_value::<A>(answer)
        .map(|answer| (kept, answer))
        .map_err(|_| "answer malformed".to_owned()))
}

struct Row {
    id: i64,
    name: String,
    created: String,
    last_used: String,
}

/// The passkeys card (`_passkeys.html`), in either frame.
struct PasskeysCard {
    csrf: String,
    rows: Vec<Row>,
    /// No second factor yet: the administrator's enrolment code is asked for.
    first: bool,
    /// Fully signed in: links to the account's other settings.
    signed_in: bool,
    message: Option<String>,
    notice: Option<String>,
    max_name: usize,
}

/// The page once signed in: the main menu's frame, its confirmation in the live region.
#[derive(Template)]
#[template(path = "passkeys.html")]
struct PasskeysPage {
    layout: Layout,
    card: PasskeysCard,
}

/// The page while the first second factor is set up during sign-in: no menu yet.
#[derive(Template)]
#[template(path = "passkeys_setup.html")]
struct PasskeysSetUpPage {
    card: PasskeysCard,
}

fn page(
    state: &AppState,
    session: &StaffSession,
    passkeys: Vec<PasskeyInfo>,
    message: Option<String>,
    notice: Option<String>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let rows = passkeys
        .into_iter()
        .map(|p| Row {
            id: p.id,
            name: p.name,
            created: view::local_time(&p.created_at, state.timezone),
            last_used: p.last_used_at.map_or_else(
                || "never".to_owned(),
                |at| view::local_time(&at, state.timezone),
            ),
        })
        .collect();
    let mut card = PasskeysCard {
        csrf: session.csrf_token.clone(),
        rows,
        first: !session.user.mfa_enabled,
        signed_in: session.mfa_verified,
        message,
        notice,
        max_name: MAX_PASSKEY_NAME_LEN,
    };
    let html = if session.mfa_verified {
        let mut layout = Layout::of(&session.user, session.user.role()?, &card.csrf, "account");
        layout.notice = card.notice.take();
        PasskeysPage { layout, card }.render()?
    } else {
        PasskeysSetUpPage { card }.render()?
    };
    Ok((status, Html(html)).into_response())
}

/// `?added=1` after a set-up: the page confirms it.
#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    added: Option<String>,
}

/// The person's passkeys, with the set-up form (the first needs an enrolment code).
pub async fn list(
    State(state): State<AppState>,
    Extension(identity): Extension<Identity>,
    Query(query): Query<ListQuery>,
) -> Result<Response, AppError> {
    let Some((_, session)) = holder(&identity) else {
        return Ok(Redirect::to("/login").into_response());
    };
    let passkeys = state.store.passkeys(session.user.id).await?;
    let notice = query
        .added
        .map(|_| "Your passkey is set up. Your other sessions have been signed out.".to_owned());
    page(&state, session, passkeys, None, notice, StatusCode::OK)
}

/// Removes one of the person's own passkeys (never their last second factor).
pub async fn remove(
    State(state): State<AppState>,
    Extension(identity): Extension<Identity>,
    Extension(info): Extension<ClientInfo>,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let Some((_, session)) = holder(&identity).filter(|(_, s)| s.mfa_verified) else {
        return Ok(Redirect::to("/login").into_response());
    };
    let actor = trellis_storage::access::Actor {
        user_id: Some(session.user.id),
        username: session.user.username.clone(),
        role: session.user.role()?,
        ip: Some(info.ip.clone()),
        request_id: info.request_id.clone(),
    };
    let (message, notice, status) = match state.store.remove_passkey(&actor, id).await {
        Ok(()) => (
            None,
            Some("The passkey is removed.".to_owned()),
            StatusCode::OK,
        ),
        Err(StoreError::Conflict(m)) => (Some(m), None, StatusCode::CONFLICT),
        Err(StoreError::NotFound(_)) => (
            Some(format!("Passkey {id}: not one of yours.")),
            None,
            StatusCode::NOT_FOUND,
        ),
        Err(other) => return Err(other.into()),
    };
    let passkeys = state.store.passkeys(session.user.id).await?;
    page(&state, session, passkeys, message, notice, status)
}

/// What the page's script sends to start a set-up.
#[derive(Deserialize)]
pub struct SetUpStart {
    #[serde(default)]
    name: String,
}

/// Starts setting up a passkey: the challenge for `navigator.credentials.create`, kept on the
/// session. The person's passkeys are excluded, so one authenticator is not set up twice.
pub async fn set_up_start(
    State(state): State<AppState>,
    Extension(identity): Extension<Identity>,
    Json(body): Json<SetUpStart>,
) -> Result<Response, AppError> {
    let Some((secret, session)) = holder(&identity) else {
        return Ok(sign_in_first("Sign in first."));
    };
    if let Err(StoreError::Invalid(problems)) = passkey_name(&body.name) {
        let message = problems
            .first()
            .map(|p| format!("Passkey name: {}.", p.message))
            .unwrap_or_default();
        return Ok(answer(StatusCode::UNPROCESSABLE_ENTITY, &message, None));
    }
    let user = &session.user;
    let existing = state
        .store
        .passkey_credentials(user.id)
        .await?
        .into_iter()
        .filter_map(|c| URL_SAFE_NO_PAD.decode(c.credential_id).ok())
        .collect::<Vec<_>>();
    let (challenge, registration) = state
        .passkeys
        .start_passkey_registration(
            user_handle(user.id),
            &user.username,
            &user.display_name,
            Some(existing),
        )
        .map_err(|e| AppError::Internal(format!("passkey set-up: {e}")))?;
    begin_ceremony(&state, secret, Ceremony::SetUp, challenge, &registration).await
}

/// The authenticator's answer to a set-up, with the passkey's name and (for the first second
/// factor) the administrator's enrolment code.
#[derive(Deserialize)]
pub struct SetUpFinish {
    #[serde(default)]
    name: String,
    #[serde(default)]
    enrolment_code: String,
    #[serde(default)]
    credential: serde_json::Value,
}

/// Checks the authenticator's answer against the session's set-up and records the passkey.
/// A refused answer and a wrong enrolment code are audited and count toward the lockout.
pub async fn set_up_finish(
    State(state): State<AppState>,
    Extension(identity): Extension<Identity>,
    Extension(info): Extension<ClientInfo>,
    jar: CookieJar,
    Json(body): Json<SetUpFinish>,
) -> Result<Response, AppError> {
    let Some((secret, session)) = holder(&identity) else {
        return Ok(sign_in_first("Sign in first."));
    };
    let user = &session.user;
    let verified = match take_ceremony::<PasskeyRegistration, RegisterPublicKeyCredential>(
        &state,
        secret,
        Ceremony::SetUp,
        body.credential,
    )
    .await?
    {
        Err(reason) => Err(reason),
        Ok((registration, credential)) => state
            .passkeys
            .finish_passkey_registration(&credential, &registration)
            .map_err(|e| refusal(&e))
            .and_then(|passkey| {
                let record = serde_json::to_string(&passkey)
                    .map_err(|e| format!("record unreadable: {e}"))?;
                Ok(NewPasskey {
                    credential_id: URL_SAFE_NO_PAD.encode(passkey.cred_id()),
                    name: body.name.clone(),
                    credential: record,
                })
            }),
    };
    let outcome = state
        .store
        .confirm_passkey_enrolment(secret, user.id, verified, &body.enrolment_code, &info.ip)
        .await;
    let (status, message, redirect) = match outcome {
        Ok(EnrolmentOutcome::Enrolled) => (
            StatusCode::OK,
            "Your passkey is set up. Your other sessions have been signed out.",
            Some("/account/passkeys?added=1"),
        ),
        Ok(EnrolmentOutcome::EnrolmentCodeWrong) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "Enrolment code: not right, already used or expired. Ask an administrator for a new one.",
            None,
        ),
        Ok(EnrolmentOutcome::Locked(_)) => return Ok(locked_out(&state, jar)),
        Ok(_) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "The passkey could not be set up (the request expired or the authenticator's answer was not accepted). Try again.",
            None,
        ),
        Err(StoreError::Conflict(m)) => {
            return Ok(answer(StatusCode::CONFLICT, &m, None));
        }
        Err(StoreError::Invalid(problems)) => {
            let message = problems
                .first()
                .map(|p| format!("Passkey name: {}.", p.message))
                .unwrap_or_default();
            return Ok(answer(StatusCode::UNPROCESSABLE_ENTITY, &message, None));
        }
        Err(StoreError::Denied(m)) => return Ok(answer(StatusCode::FORBIDDEN, &m, None)),
        Err(other) => return Err(other.into()),
    };
    Ok(answer(status, message, redirect))
}

/// Starts a sign-in with a passkey after the password: the challenge for
/// `navigator.credentials.get`, allowing only this account's passkeys, kept on the session.
pub async fn sign_in_start(
    State(state): State<AppState>,
    Extension(identity): Extension<Identity>,
) -> Result<Response, AppError> {
    let Some((secret, session)) = waiting(&identity) else {
        return Ok(sign_in_first("Sign in with your password first."));
    };
    let passkeys = stored_passkeys(&state, session.user.id).await?;
    if passkeys.is_empty() {
        return Ok(answer(
            StatusCode::CONFLICT,
            "This account has no passkey; use the code from your authenticator app.",
            None,
        ));
    }
    let keys: Vec<Passkey> = passkeys.into_iter().map(|(_, p)| p).collect();
    let (challenge, authentication) = state
        .passkeys
        .start_passkey_authentication(&keys)
        .map_err(|e| AppError::Internal(format!("passkey sign-in: {e}")))?;
    begin_ceremony(&state, secret, Ceremony::SignIn, challenge, &authentication).await
}

/// A person's passkeys with their credential ids, as the library reads them.
async fn stored_passkeys(
    state: &AppState,
    user_id: i64,
) -> Result<Vec<(String, Passkey)>, AppError> {
    state
        .store
        .passkey_credentials(user_id)
        .await?
        .into_iter()
        .map(|c| {
            serde_json::from_str(&c.credential)
                .map(|p| (c.credential_id, p))
                .map_err(|e| AppError::Internal(format!("stored passkey {} unreadable: {e}", c.id)))
        })
        .collect()
}

/// The authenticator's answer to a sign-in.
#[derive(Deserialize)]
pub struct SignInFinish {
    #[serde(default)]
    credential: serde_json::Value,
}

/// Checks the authenticator's answer against the session's sign-in challenge and completes the
/// sign-in. A refused answer (another challenge, an unknown credential, a counter that went
/// back, one already used) is audited and counts toward the lockout like a wrong code.
pub async fn sign_in_finish(
    State(state): State<AppState>,
    Extension(identity): Extension<Identity>,
    Extension(info): Extension<ClientInfo>,
    jar: CookieJar,
    Json(body): Json<SignInFinish>,
) -> Result<Response, AppError> {
    let Some((secret, session)) = waiting(&identity) else {
        return Ok(sign_in_first("Sign in with your password first."));
    };
    let user_id = session.user.id;
    let verified = match take_ceremony::<PasskeyAuthentication, PublicKeyCredential>(
        &state,
        secret,
        Ceremony::SignIn,
        body.credential,
    )
    .await?
    {
        Err(reason) => Err(reason),
        Ok((authentication, credential)) => match state
            .passkeys
            .finish_passkey_authentication(&credential, &authentication)
        {
            Err(e) => Err(refusal(&e)),
            Ok(result) => {
                let id = URL_SAFE_NO_PAD.encode(result.cred_id());
                let mut stored = stored_passkeys(&state, user_id).await?;
                match stored.iter_mut().find(|(cid, _)| *cid == id) {
                    None => Err("unknown credential".to_owned()),
                    Some((_, passkey)) => {
                        passkey.update_credential(&result);
                        let record = serde_json::to_string(&*passkey)
                            .map_err(|e| AppError::Internal(format!("passkey record: {e}")))?;
                        Ok(PasskeyUse {
                            credential_id: id,
                            credential: record,
                        })
                    }
                }
            }
        },
    };
    let outcome = state
        .store
        .passkey_second_factor(secret, user_id, verified, &info.ip)
        .await;
    match outcome {
        Ok(SecondFactorOutcome::Verified) => Ok(answer(
            StatusCode::OK,
            "Signed in.",
            Some(super::auth::after_sign_in(&state, user_id).await?),
        )),
        Ok(SecondFactorOutcome::Wrong) => Ok(answer(
            StatusCode::UNPROCESSABLE_ENTITY,
            "The passkey was not accepted. Try again, or use the code from your authenticator app.",
            None,
        )),
        Ok(SecondFactorOutcome::Locked(_)) => Ok(locked_out(&state, jar)),
        Err(other) => Err(other.into()),
    }
}
