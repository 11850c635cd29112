//! Operations: request ids, security headers, limits and timeouts, request logs without patient
//! data, Prometheus metrics (off by default; administrators only), and the health check.

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Duration;
use tower::ServiceBuilder;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use trellis_domain::access::Role;
use trellis_storage::audit::RequestAudit;

use crate::error::AppError;
use crate::identity::{csrf_guard, resolve_identity, Identity};
use crate::AppState;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// The client's own request id, echoed back for its logs but never trusted or stored.
const CLIENT_REQUEST_ID: HeaderName = HeaderName::from_static("x-client-request-id");
const BODY_LIMIT: usize = 2 * 1024 * 1024;
/// HSTS for a year, subdomains included (OWASP ASVS 14.4.5); sent only when the public URL is
/// https, since over plain http it would lock browsers out of a server that has no TLS.
const HSTS: &str = "max-age=31536000; includeSubDomains";
const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
    form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

#[derive(Clone, Copy)]
struct RandomRequestId;

impl MakeRequestId for RandomRequestId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let id = &trellis_storage::staff::random_secret()[..16];
        HeaderValue::from_str(id).ok().map(RequestId::new)
    }
}

/// Health, metrics and fallbacks.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_page))
}

/// Wraps the routes in the middleware stack (listed from the outside in).
pub fn layers(routes: Router<AppState>, state: AppState) -> Router<AppState> {
    let header = |name: HeaderName, value: &'static str| {
        SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
    };
    let hsts = state
        .config
        .secure_cookies()
        .then(|| header(header::STRICT_TRANSPORT_SECURITY, HSTS));
    routes
        .fallback(not_found)
        .layer(middleware::from_fn(crate::error::friendly_pages))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn_with_state(state.clone(), csrf_guard))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            resolve_identity,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            record_metrics,
        ))
        .layer(middleware::from_fn_with_state(state, audit_request))
        .layer(
            ServiceBuilder::new()
                .layer(middleware::from_fn(set_aside_client_request_id))
                .layer(SetRequestIdLayer::new(REQUEST_ID, RandomRequestId))
                .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
                    // Route templates ("/patients/{id}") and ids only: no query strings.
                    let route = req
                        .extensions()
                        .get::<MatchedPath>()
                        .map(|m| m.as_str().to_owned())
                        .unwrap_or_default();
                    let id = req
                        .headers()
                        .get(REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    tracing::info_span!("request", method = %req.method(), route, request_id = id)
                }))
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .option_layer(hsts)
                .layer(header(header::CONTENT_SECURITY_POLICY, CSP))
                .layer(header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                .layer(header(header::X_FRAME_OPTIONS, "DENY"))
                .layer(header(header::REFERRER_POLICY, "same-origin"))
                .layer(header(header::CACHE_CONTROL, "no-store"))
                .layer(header(
                    HeaderName::from_static("permissions-policy"),
                    "camera=(), microphone=(), geolocation=()",
                ))
                .layer(TimeoutLayer::with_status_code(
                    StatusCode::REQUEST_TIMEOUT,
                    Duration::from_secs(30),
                )),
        )
}

/// Moves a client's `x-request-id` aside so the id in logs and the audit log is always made by
/// the server; the client's (if short and printable) comes back as `x-client-request-id`.
async fn set_aside_client_request_id(mut req: Request, next: Next) -> Response {
    let theirs = req.headers_mut().remove(REQUEST_ID).filter(|v| {
        v.len() <= 64
            && v.to_str()
                .is_ok_and(|s| s.chars().all(|c| c.is_ascii_graphic()))
    });
    let mut response = next.run(req).await;
    if let Some(theirs) = theirs {
        response.headers_mut().insert(CLIENT_REQUEST_ID, theirs);
    }
    response
}

/// Gathers the request's audited reads and writes them (one row per action) before the response
/// leaves; a response whose reads could not be audited is replaced by an error, so no data read
/// goes out unaudited. The request's reads share one pooled connection, given back before the
/// audit row is waited for.
async fn audit_request(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let api = req.uri().path().starts_with("/api/");
    let audit = RequestAudit::new();
    let response = audit
        .scope(state.store.reading_one_connection(next.run(req)))
        .await;
    match audit.flush(&state.store).await {
        Ok(_) => response,
        Err(e) if api => AppError::from(e).into_api_response(),
        Err(e) => AppError::from(e).into_response(),
    }
}

async fn not_found(req: Request) -> Response {
    if req.uri().path().starts_with("/api/") {
        AppError::NotFound("route").into_api_response()
    } else {
        AppError::NotFound("page").into_response()
    }
}

async fn healthz(State(state): State<AppState>) -> Response {
    if state.store.ping().await {
        Json(serde_json::json!({"status": "ok", "database": "ok"})).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"status": "unavailable", "database": "unreachable"})),
        )
            .into_response()
    }
}

fn prometheus() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| PrometheusBuilder::new().install_recorder().ok())
        .as_ref()
}

async fn record_metrics(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if !state.config.metrics {
        return next.run(req).await;
    }
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let started = std::time::Instant::now();
    let response = next.run(req).await;
    if prometheus().is_some() {
        let status = response.status().as_u16().to_string();
        metrics::counter!("trellis_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
            .increment(1);
        metrics::histogram!("trellis_http_request_duration_seconds", "method" => method, "route" => route)
            .record(started.elapsed().as_secs_f64());
    }
    response
}

async fn metrics_page(State(state): State<AppState>, req: Request<Body>) -> Response {
    if !state.config.metrics {
        return AppError::NotFound("route").into_api_response();
    }
    let admin = match req.extensions().get::<Identity>() {
        Some(Identity::Token { role, .. }) => *role == Role::Admin,
        Some(Identity::Session { session, .. }) => {
            session.mfa_verified && session.user.role().is_ok_and(|r| r == Role::Admin)
        }
        _ => false,
    };
    if !admin {
        return AppError::Forbidden("metrics are for administrators".into()).into_api_response();
    }
    match prometheus() {
        Some(handle) => (
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            handle.render(),
        )
            .into_response(),
        None => AppError::Internal("metrics recorder unavailable".into()).into_api_response(),
    }
}
