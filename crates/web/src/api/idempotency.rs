//! `Idempotency-Key` on the POSTs that create clinical records (those marked `idempotent` in
//! the `operations!` list): a retry with the same key and body gets the first answer again
//! (marked `Idempotent-Replayed: true`) and records nothing; the same key with another body or
//! record is refused with 409: the key is already bound to another request, a state of the
//! server no schema can express (as a request is refused while the first is still answered). A layer around the handler, so every such operation behaves
//! alike and the handlers stay as they are.

use axum::body::{to_bytes, Body};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use trellis_storage::idempotency::Claim;

use crate::error::{ApiError, ApiFieldError, AppError};
use crate::identity::ApiCaller;
use crate::AppState;

/// The request header.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// Marks an answer repeated from the first request with the key.
pub const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");
/// The longest key accepted.
pub const MAX_KEY_LEN: usize = 255;
/// The largest body read to fingerprint it (the server's own body limit).
const MAX_BODY: usize = 2 * 1024 * 1024;

/// The request's idempotency key, if it sent one: 1–255 visible ASCII characters (a UUID is
/// typical).
struct IdempotencyKey(Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(&IDEMPOTENCY_KEY) else {
            return Ok(IdempotencyKey(None));
        };
        match value.to_str() {
            Ok(key)
                if (1..=MAX_KEY_LEN).contains(&key.len())
                    && key.bytes().all(|b| b.is_ascii_graphic()) =>
            {
                Ok(IdempotencyKey(Some(key.to_owned())))
            }
            _ => Err(ApiError::Request {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: "validation_failed",
                message: "some fields need attention".into(),
                fields: vec![ApiFieldError {
                    field: "Idempotency-Key".into(),
                    message: format!(
                        "must be 1 to {MAX_KEY_LEN} visible ASCII characters, e.g. a UUID"
                    ),
                }],
            }),
        }
    }
}

/// Middleware: runs the handler at most once per caller, key and request (method, path and
/// body); without a key the request simply goes on.
pub async fn replay(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match replay_or_run(&state, request, next).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn replay_or_run(
    state: &AppState,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let (mut parts, body) = request.into_parts();
    let IdempotencyKey(key) = IdempotencyKey::from_request_parts(&mut parts, state).await?;
    let caller = ApiCaller::from_request_parts(&mut parts, state).await;
    let (Some(key), Ok(caller)) = (key, caller) else {
        // No key, or no caller: the handler answers (an unauthenticated request with its 401).
        return Ok(next.run(Request::from_parts(parts, body)).await);
    };
    let bytes = to_bytes(body, MAX_BODY).await.map_err(|_| {
        ApiError::request(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the request body is too large",
        )
    })?;
    let fingerprint = {
        let mut digest = Sha256::new();
        digest.update(parts.method.as_str().as_bytes());
        digest.update([0]);
        digest.update(parts.uri.path().as_bytes());
        digest.update([0]);
        digest.update(&bytes);
        hex::encode(digest.finalize())
    };
    let actor = &caller.actor;
    match state.store.claim_key(actor, &key, &fingerprint).await? {
        Claim::Fresh => {}
        Claim::Replay {
            status,
            location,
            body,
        } => return Ok(replayed(status, location, body)),
        Claim::Mismatch => {
            return Err(ApiError::request(
                StatusCode::CONFLICT,
                "idempotency_key_reused",
                "this Idempotency-Key was already used for a different request; use a new key \
                 for a new record",
            ))
        }
        Claim::InProgress => {
            return Err(AppError::Conflict(
                "the first request with this Idempotency-Key is still being answered; retry \
                 shortly"
                    .into(),
            )
            .into())
        }
    }
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    if !response.status().is_success() {
        // Nothing was recorded: free the key for the corrected retry.
        state.store.release_key(actor, &key).await?;
        return Ok(response);
    }
    let (answer, body) = response.into_parts();
    let body = to_bytes(body, usize::MAX)
        .await
        .map_err(|e| AppError::Internal(format!("idempotent answer: {e}")))?;
    let location = answer
        .headers
        .get(header::LOCATION)
        .and_then(|l| l.to_str().ok());
    // The record exists whatever happens here: answer it, and leave the key claimed (a retry
    // then hears 409 rather than recording twice).
    if let Err(e) = state
        .store
        .settle_key(
            actor,
            &key,
            answer.status.as_u16(),
            location,
            &String::from_utf8_lossy(&body),
        )
        .await
    {
        tracing::error!(cause = %e, "idempotency key not settled");
    }
    Ok(Response::from_parts(answer, Body::from(body)))
}

/// The first answer again.
fn replayed(status: u16, location: Option<String>, body: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::CREATED);
    let mut response = if body.is_empty() {
        status.into_response()
    } else {
        (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
    };
    let headers = response.headers_mut();
    if let Some(location) = location.and_then(|l| HeaderValue::try_from(l).ok()) {
        headers.insert(header::LOCATION, location);
    }
    headers.insert(REPLAYED, HeaderValue::from_static("true"));
    response
}
