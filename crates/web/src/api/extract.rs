//! Extractors whose failures are JSON errors with a stable code, never axum's plain-text
//! rejections, and whose messages never repeat the submitted values (they may be patient data).

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::marker::PhantomData;

use crate::error::{ApiError, ApiFieldError};

/// A JSON request body, read but not yet parsed: handlers parse it after the permission check,
/// so that a caller without the permission learns nothing from validation messages.
pub struct JsonBody<T> {
    bytes: Bytes,
    is_json: bool,
    _body: PhantomData<fn() -> T>,
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .is_some_and(|v| v == "application/json" || v.ends_with("+json"))
}

impl<S: Send + Sync, T> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = is_json(req.headers());
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(body_rejection)?;
        Ok(JsonBody {
            bytes,
            is_json,
            _body: PhantomData,
        })
    }
}

impl<T: DeserializeOwned> JsonBody<T> {
    /// The body as `T`, or a 4xx naming the field at fault.
    pub fn parse(self) -> Result<T, ApiError> {
        if !self.is_json {
            return Err(ApiError::request(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with Content-Type: application/json",
            ));
        }
        Json::<T>::from_bytes(&whole_numbers(self.bytes))
            .map(|Json(value)| value)
            .map_err(json_rejection)
    }
}

/// JSON Schema counts a number with a zero fraction (`2.0`) as an integer, as the document's
/// `integer` fields promise; serde does not, so such numbers are written as integers before the
/// body is read. Anything else, including a body that is not JSON, is left as sent.
fn whole_numbers(bytes: Bytes) -> Bytes {
    let Ok(mut value) = serde_json::from_slice::<Value>(&bytes) else {
        return bytes;
    };
    if !integral(&mut value) {
        return bytes;
    }
    serde_json::to_vec(&value).map_or(bytes, Bytes::from)
}

/// Rewrites whole floating-point numbers within the i64 range as integers; true if any was.
fn integral(value: &mut Value) -> bool {
    match value {
        Value::Number(n) if n.is_f64() => match n.as_f64() {
            // 2^63 is exact as a float; values below it in magnitude fit an i64.
            Some(f) if f.fract() == 0.0 && f >= -(2f64.powi(63)) && f < 2f64.powi(63) => {
                *value = Value::from(f as i64);
                true
            }
            _ => false,
        },
        Value::Array(items) => items.iter_mut().fold(false, |any, v| integral(v) | any),
        Value::Object(fields) => fields.values_mut().fold(false, |any, v| integral(v) | any),
        _ => false,
    }
}

fn body_rejection(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::request(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the request body is too large",
        )
    } else {
        ApiError::request(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "the request body could not be read",
        )
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::JsonDataError(e) => {
            invalid("the body does not match the operation's schema", detail(&e))
        }
        JsonRejection::BytesRejection(e) => body_rejection(e),
        // Syntax errors, and anything axum adds later: the JSON itself is unreadable.
        _ => ApiError::request(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "the body is not valid JSON",
        ),
    }
}

/// What a rejection wraps: for body and query errors, serde_path_to_error's "path: problem",
/// which is what names the field.
fn detail(rejection: &dyn std::error::Error) -> String {
    rejection
        .source()
        .map(ToString::to_string)
        .unwrap_or_default()
}

/// A 422 naming the field a deserialisation problem is about.
fn invalid(summary: &str, detail: String) -> ApiError {
    let (field, message) = field_problem(&detail);
    match field {
        Some(field) => ApiError::Request {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "validation_failed",
            message: "some fields need attention".into(),
            fields: vec![ApiFieldError { field, message }],
        },
        None => ApiError::request(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            format!("{summary}: {message}"),
        ),
    }
}

/// Splits serde_path_to_error's "path: problem at line L column C" into the field (if any)
/// and a message that keeps what was expected but drops the value that was sent.
fn field_problem(detail: &str) -> (Option<String>, String) {
    let (path, problem) = match detail.split_once(": ") {
        Some((path, problem)) if !path.contains(' ') && !path.contains('?') => {
            (Some(path), problem)
        }
        _ => (None, detail),
    };
    let problem = problem.split(" at line ").next().unwrap_or(problem);
    if let Some(name) = problem
        .strip_prefix("missing field `")
        .and_then(|rest| rest.strip_suffix('`'))
    {
        let field = match path {
            Some(p) => format!("{p}.{name}"),
            None => name.to_owned(),
        };
        return (Some(field), "is required".into());
    }
    let message = match problem.rsplit_once("expected ") {
        Some((_, expected)) => format!("must be {}", friendly(expected)),
        None if problem.contains("integer") || problem.contains("digit") => {
            "must be a whole number".into()
        }
        None if problem.contains("`true` or `false`") => "must be true or false".into(),
        None => "is not valid".into(),
    };
    (path.map(str::to_owned), message)
}

/// serde's names for expected types, in words.
fn friendly(expected: &str) -> String {
    match expected {
        "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" | "isize" | "usize"
        | "an integer" => "a whole number".into(),
        "a boolean" => "true or false".into(),
        "a sequence" => "a list".into(),
        "a map" => "an object".into(),
        other if other.starts_with("struct ") => "an object".into(),
        other => other.to_owned(),
    }
}

/// The `{id}` path parameter; a malformed one (e.g. `/patients/abc`) is a 400 naming it.
pub struct PathId(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<i64>::from_request_parts(parts, state)
            .await
            .map(|Path(id)| PathId(id))
            .map_err(|_| ApiError::Request {
                status: StatusCode::BAD_REQUEST,
                code: "bad_request",
                message: "the id in the path must be a whole number".into(),
                fields: vec![ApiFieldError {
                    field: "id".into(),
                    message: "must be a whole number".into(),
                }],
            })
    }
}

/// Two id path parameters (e.g. `/patients/{id}/calendar-feeds/{feed}`); malformed ones are a
/// 400.
pub struct PathIds(pub i64, pub i64);

impl<S: Send + Sync> FromRequestParts<S> for PathIds {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<(i64, i64)>::from_request_parts(parts, state)
            .await
            .map(|Path((first, second))| PathIds(first, second))
            .map_err(|_| ApiError::Request {
                status: StatusCode::BAD_REQUEST,
                code: "bad_request",
                message: "the ids in the path must be whole numbers".into(),
                fields: vec![ApiFieldError {
                    field: "id".into(),
                    message: "must be a whole number".into(),
                }],
            })
    }
}

/// A query string; a malformed parameter is a 422 naming it.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| ApiQuery(value))
            .map_err(|rejection| match rejection {
                QueryRejection::FailedToDeserializeQueryString(e) => {
                    invalid("the query string is not valid", detail(&e))
                }
                _ => ApiError::request(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    "the query string could not be read",
                ),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_written_with_a_fraction_are_integers() {
        let sent =
            Bytes::from_static(br#"{"a": 2.0, "b": [1.5, -3.0], "c": {"d": 1e3}, "e": "2.0"}"#);
        let read: Value = serde_json::from_slice(&whole_numbers(sent)).expect("json");
        assert_eq!(read["a"], Value::from(2));
        assert_eq!(read["b"][0], Value::from(1.5));
        assert_eq!(read["b"][1], Value::from(-3));
        assert_eq!(read["c"]["d"], Value::from(1000));
        assert_eq!(read["e"], Value::from("2.0"));
        let not_json = Bytes::from_static(b"{not json");
        assert_eq!(whole_numbers(not_json.clone()), not_json);
    }

    #[test]
    fn problems_name_the_field_without_repeating_the_value() {
        assert_eq!(
            field_problem(
                "site_id: invalid type: string \"Dana\", expected i64 at line 1 column 9"
            ),
            (Some("site_id".into()), "must be a whole number".into())
        );
        assert_eq!(
            field_problem("missing field `program_id` at line 1 column 2"),
            (Some("program_id".into()), "is required".into())
        );
        assert_eq!(
            field_problem("[1]: missing field `site_id` at line 1 column 30"),
            (Some("[1].site_id".into()), "is required".into())
        );
        assert_eq!(
            field_problem("invalid type: map, expected a sequence at line 1 column 0"),
            (None, "must be a list".into())
        );
        assert_eq!(
            field_problem("limit: invalid digit found in string"),
            (Some("limit".into()), "must be a whole number".into())
        );
    }
}
