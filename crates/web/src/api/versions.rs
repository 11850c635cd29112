//! Optimistic concurrency for records several people edit: a read answers an `ETag` naming the
//! version read, and a write carrying `If-Match` with it is refused with 412 if the record has
//! changed since. The version is the record's last-changed instant, in microseconds.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue};
use chrono::{DateTime, Utc};
use std::convert::Infallible;
use trellis_storage::Instant;

use crate::error::AppError;

/// The `ETag` value of a record last changed at `changed`.
pub fn etag(changed: DateTime<Utc>) -> HeaderValue {
    // Digits in quotes are always a valid header value; the fallback is never reached.
    HeaderValue::from_str(&format!("\"{}\"", changed.timestamp_micros()))
        .unwrap_or_else(|_| HeaderValue::from_static("\"0\""))
}

/// The request's `If-Match` header, if any.
pub struct IfMatch(Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(IfMatch(
            parts
                .headers
                .get(header::IF_MATCH)
                .map(|v| v.to_str().unwrap_or_default().trim().to_owned()),
        ))
    }
}

/// What a conditional write must find.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// No `If-Match` (or `*`): write whatever the current version.
    Any,
    /// The version the caller read.
    Version(Instant),
    /// An `If-Match` that names no version this server issued: it cannot match.
    Never,
}

impl IfMatch {
    /// The last-changed instant a write must find (`None`: any), or 412 naming `what` when the
    /// header can match no version.
    pub fn last_changed(&self, what: &'static str) -> Result<Option<Instant>, AppError> {
        match self.precondition() {
            Precondition::Any => Ok(None),
            Precondition::Version(at) => Ok(Some(at)),
            Precondition::Never => Err(AppError::Stale(what)),
        }
    }

    /// The precondition the header states.
    pub fn precondition(&self) -> Precondition {
        let Some(value) = self.0.as_deref() else {
            return Precondition::Any;
        };
        if value == "*" {
            return Precondition::Any;
        }
        value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .and_then(|v| v.parse::<i64>().ok())
            .and_then(DateTime::from_timestamp_micros)
            .map_or(Precondition::Never, |at| Precondition::Version(Instant(at)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn if_match(value: Option<&str>) -> Precondition {
        IfMatch(value.map(str::to_owned)).precondition()
    }

    #[test]
    fn the_etag_read_is_the_version_matched() {
        let at = DateTime::from_timestamp_micros(1_796_000_000_123_456).expect("instant");
        let tag = etag(at);
        let sent = tag.to_str().expect("ascii");
        assert_eq!(sent, "\"1796000000123456\"");
        assert_eq!(if_match(Some(sent)), Precondition::Version(Instant(at)));
    }

    #[test]
    fn absent_or_star_matches_anything_and_garbage_matches_nothing() {
        assert_eq!(if_match(None), Precondition::Any);
        assert_eq!(if_match(Some("*")), Precondition::Any);
        assert_eq!(if_match(Some("W/\"12\"")), Precondition::Never);
        assert_eq!(if_match(Some("\"abc\"")), Precondition::Never);
        assert_eq!(if_match(Some("12")), Precondition::Never);
    }
}
