//! Errors mapped once to HTTP: JSON with a stable code under /api, an HTML page elsewhere.
//! Users see a clear message; the log sees the cause; patient data appears in neither.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use trellis_domain::patient::FieldError;
use trellis_storage::StoreError;

/// An error a handler returns.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Not logged in.
    #[error("please sign in")]
    Unauthenticated,
    /// Logged in but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// No such record.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Bad input, per field.
    #[error("some fields need attention")]
    Invalid(Vec<FieldError>),
    /// Conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// A conditional write (If-Match) found the record changed since the caller read it.
    #[error("{0} changed since you read it; read it again and reapply your change")]
    Stale(&'static str),
    /// The request body is larger than Trellis accepts.
    #[error("the request is too large")]
    TooLarge,
    /// Trellis is overloaded for a moment (no database connection came free in time): the
    /// request did nothing and may be sent again.
    #[error("Trellis is busy; nothing was changed, please try again in a moment")]
    Busy(String),
    /// CSRF check failed.
    #[error("this form has expired or did not come from Trellis; reload the page and try again")]
    Csrf,
    /// Anything else: logged, never shown.
    #[error("something went wrong on our side; the error was logged")]
    Internal(String),
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => AppError::NotFound(what),
            StoreError::Denied(why) => AppError::Forbidden(why),
            StoreError::Invalid(fields) => AppError::Invalid(fields),
            StoreError::Conflict(why) => AppError::Conflict(why),
            StoreError::Stale(what) => AppError::Stale(what),
            other if other.is_busy() => AppError::Busy(other.to_string()),
            other => AppError::Internal(other.to_string()),
        }
    }
}

/// Seconds a client should wait before retrying a request refused as busy.
const BUSY_RETRY_AFTER_SECONDS: &str = "2";

impl From<askama::Error> for AppError {
    fn from(e: askama::Error) -> Self {
        AppError::Internal(format!("template: {e}"))
    }
}

impl AppError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Unauthenticated => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) | AppError::Csrf => StatusCode::FORBIDDEN,
            AppError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::Stale(_) => StatusCode::PRECONDITION_FAILED,
            AppError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Unauthenticated => "unauthenticated",
            AppError::Forbidden(_) => "forbidden",
            AppError::NotFound(_) => "not_found",
            AppError::Invalid(_) => "validation_failed",
            AppError::Conflict(_) => "conflict",
            AppError::Stale(_) => "precondition_failed",
            AppError::Csrf => "csrf_failed",
            AppError::TooLarge => "payload_too_large",
            AppError::Busy(_) => "busy",
            AppError::Internal(_) => "internal",
        }
    }

    fn log(&self) {
        match self {
            AppError::Internal(cause) => tracing::error!(%cause, "request failed"),
            AppError::Busy(cause) => tracing::warn!(%cause, "request refused: busy"),
            _ => {}
        }
    }

    /// Adds `Retry-After` to a busy refusal (RFC 9110 §10.2.3), so clients and proxies back off.
    fn with_retry_after(&self, mut response: Response) -> Response {
        if matches!(self, AppError::Busy(_)) {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static(BUSY_RETRY_AFTER_SECONDS),
            );
        }
        response
    }

    /// The error as an API response.
    pub fn into_api_response(self) -> Response {
        self.log();
        let fields = match &self {
            AppError::Invalid(f) => f.iter().map(ApiFieldError::from).collect(),
            _ => Vec::new(),
        };
        let challenge = matches!(self, AppError::Unauthenticated);
        let mut response = self.with_retry_after(
            ApiErrorBody::new(self.code(), self.to_string(), fields)
                .into_response_with(self.status()),
        );
        if challenge {
            // RFC 6750: a 401 names the scheme the client should use.
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

/// An error from a JSON API handler, answered as JSON with a stable code.
#[derive(Debug)]
pub enum ApiError {
    /// An error shared with the pages.
    App(AppError),
    /// A request the API could not read (body, path or query string), or a method the path
    /// does not declare.
    Request {
        /// The HTTP status.
        status: StatusCode,
        /// The stable code.
        code: &'static str,
        /// A sentence for people.
        message: String,
        /// The fields at fault, if known.
        fields: Vec<ApiFieldError>,
    },
}

impl ApiError {
    /// A request-level error that names no field.
    pub fn request(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError::Request {
            status,
            code,
            message: message.into(),
            fields: Vec::new(),
        }
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        ApiError::App(e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::App(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::App(e) => e.into_api_response(),
            ApiError::Request {
                status,
                code,
                message,
                fields,
            } => ApiErrorBody::new(code, message, fields).into_response_with(status),
        }
    }
}

/// The JSON error envelope.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApiErrorBody {
    /// The error.
    pub error: ApiErrorDetail,
}

impl ApiErrorBody {
    /// An envelope with a stable code, a sentence and any per-field problems.
    pub fn new(code: &str, message: impl Into<String>, fields: Vec<ApiFieldError>) -> Self {
        ApiErrorBody {
            error: ApiErrorDetail {
                code: code.to_owned(),
                message: message.into(),
                fields,
            },
        }
    }

    /// The envelope as a response with the given status.
    pub fn into_response_with(self, status: StatusCode) -> Response {
        (status, Json(self)).into_response()
    }
}

/// One API error.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApiErrorDetail {
    /// Stable code: bad_request, unauthenticated, forbidden, not_found, method_not_allowed,
    /// conflict, possible_duplicate, precondition_failed, idempotency_key_reused,
    /// payload_too_large, unsupported_media_type, validation_failed, csrf_failed, busy (503,
    /// with Retry-After: nothing was done, send it again), internal.
    pub code: String,
    /// A sentence for people.
    pub message: String,
    /// Per-field problems for validation_failed (empty otherwise).
    pub fields: Vec<ApiFieldError>,
}

/// One field's problem. The field may be a path into the body, e.g. `[0].site_id`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApiFieldError {
    /// Field name.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl From<&FieldError> for ApiFieldError {
    fn from(e: &FieldError) -> Self {
        ApiFieldError {
            field: e.field.to_owned(),
            message: e.message.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: String,
    fields: Vec<FieldError>,
}

/// The heading of an error page: what happened, in words rather than a status code.
fn friendly_title(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "That link is not valid",
        StatusCode::FORBIDDEN => "Not allowed",
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::METHOD_NOT_ALLOWED => "That page cannot be opened this way",
        StatusCode::CONFLICT => "This change cannot be made now",
        StatusCode::PAYLOAD_TOO_LARGE => "That is too large",
        StatusCode::UNPROCESSABLE_ENTITY => "Some fields need attention",
        StatusCode::SERVICE_UNAVAILABLE => "Trellis is busy",
        s if s.is_server_error() => "Something went wrong",
        _ => "That did not work",
    }
}

fn error_page(status: StatusCode, message: String, fields: Vec<FieldError>) -> Response {
    let page = ErrorPage {
        title: friendly_title(status),
        message,
        fields,
    };
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(_) => (status, "error").into_response(),
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        self.log();
        if matches!(self, AppError::Unauthenticated) {
            return axum::response::Redirect::to("/login").into_response();
        }
        let status = self.status();
        let message = self.to_string();
        let busy = matches!(self, AppError::Busy(_));
        let fields = match self {
            AppError::Invalid(f) => f,
            _ => Vec::new(),
        };
        let page = error_page(status, message, fields);
        if busy {
            AppError::Busy(String::new()).with_retry_after(page)
        } else {
            page
        }
    }
}

/// Turns the framework's plain-text refusals of page requests (an id in the path that is not a
/// number, a form that cannot be read, a method the page does not take) into the same HTML
/// error page as every other error. The API keeps its JSON errors.
pub async fn friendly_pages(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let is_page = !req.uri().path().starts_with("/api/");
    let response = next.run(req).await;
    let status = response.status();
    let plain = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.starts_with("text/plain"));
    if !is_page || !status.is_client_error() || !plain {
        return response;
    }
    let message = match status {
        StatusCode::BAD_REQUEST | StatusCode::NOT_FOUND => {
            "The address does not name a record Trellis knows. Check the link, or find the record from the patient list."
        }
        StatusCode::METHOD_NOT_ALLOWED => "This address takes a form, not a visit. Go back and use the page's button.",
        _ => "Trellis could not read that request. Go back, reload the page and try again.",
    };
    error_page(status, message.to_owned(), Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pool_timeout_is_busy_503_with_retry_after_on_pages_and_api() {
        let busy = || AppError::from(StoreError::Database(sqlx_pool_timed_out()));
        assert!(matches!(busy(), AppError::Busy(_)));
        for response in [busy().into_api_response(), busy().into_response()] {
            assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(
                response.headers().get(axum::http::header::RETRY_AFTER),
                Some(&axum::http::HeaderValue::from_static("2"))
            );
        }
        let other = AppError::from(StoreError::Corrupt("x".into()));
        assert_eq!(other.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(other
            .into_api_response()
            .headers()
            .get(axum::http::header::RETRY_AFTER)
            .is_none());
    }

    fn sqlx_pool_timed_out() -> trellis_storage::DatabaseError {
        trellis_storage::DatabaseError::PoolTimedOut
    }
}
