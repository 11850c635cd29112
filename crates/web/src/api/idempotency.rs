//! `Idempotency-Key` on the POSTs that create clinical records: a retry with the same key and
//! body gets the first answer again (marked `Idempotent-Replayed: true`) and records nothing;
//! the same key with another body or record is refused with 422.

use std::future::Future;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use trellis_storage::idempotency::Claim;

use super::responses::CreatedAt;
use crate::error::{ApiError, ApiFieldError, AppError};
use crate::identity::ApiCaller;
use crate::AppState;

/// The request header.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// Marks an answer repeated from the first request with the key.
pub const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");
/// The longest key accepted.
pub const MAX_KEY_LEN: usize = 255;

/// The request's idempotency key, if it sent one: 1–255 visible ASCII characters (a UUID is
/// typical).
pub struct IdempotencyKey(Option<String>);

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

/// Runs `work` (which creates the record) at most once per key and fingerprint; without a key
/// it simply runs.
pub async fn once<T: Serialize>(
    state: &AppState,
    caller: &ApiCaller,
    IdempotencyKey(key): IdempotencyKey,
    fingerprint: String,
    work: impl Future<Output = Result<CreatedAt<T>, ApiError>>,
) -> Result<Response, ApiError> {
    let Some(key) = key else {
        return Ok(work.await?.into_response());
    };
    let actor = &caller.actor;
    match state.store.claim_key(actor, &key, &fingerprint).await? {
        Claim::Fresh => {}
        Claim::Replay { location, body } => {
            let mut response = (
                StatusCode::CREATED,
                [(header::CONTENT_TYPE, "application/json")],
                body,
            )
                .into_response();
            let headers = response.headers_mut();
            if let Some(location) = location.and_then(|l| HeaderValue::try_from(l).ok()) {
                headers.insert(header::LOCATION, location);
            }
            headers.insert(REPLAYED, HeaderValue::from_static("true"));
            return Ok(response);
        }
        Claim::Mismatch => {
            return Err(ApiError::request(
                StatusCode::UNPROCESSABLE_ENTITY,
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
    match work.await {
        Ok(CreatedAt(location, created)) => {
            let body = serde_json::to_string(&created)
                .map_err(|e| AppError::Internal(format!("idempotent answer: {e}")))?;
            // The record exists whatever happens here: answer it, and leave the key claimed
            // (a retry then hears 409 rather than recording twice).
            if let Err(e) = state
                .store
                .settle_key(actor, &key, Some(&location), &body)
                .await
            {
                tracing::error!(cause = %e, "idempotency key not settled");
            }
            Ok(CreatedAt(location, created).into_response())
        }
        Err(e) => {
            state.store.release_key(actor, &key).await?;
            Err(e)
        }
    }
}
