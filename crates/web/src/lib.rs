//! Trellis HTTP layer: the staff web UI (server-rendered HTML) and the JSON API under `/api/v1`.
//!
//! A request passes: request id → security headers, timeout, body limit → identity (session
//! cookie or bearer token) → CSRF guard for state changes → a handler, which turns the identity
//! into a storage grant (the permission check) and calls the store (which writes the audit log).

pub mod api;
mod calendar;
mod error;
mod forms;
mod identity;
mod jobs;
mod ops;
mod pages;
pub mod proxy;
mod view;

pub use error::AppError;
pub use identity::Identity;

use axum::Router;
use chrono::Duration;
use chrono_tz::Tz;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use trellis_storage::Store;

/// Server settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// A session ends after this long without a request (HIPAA automatic logoff).
    pub idle_timeout: Duration,
    /// A session ends this long after login whatever happens.
    pub absolute_lifetime: Duration,
    /// The URL users reach Trellis at; an https URL makes cookies Secure, its origin is the
    /// one state-changing requests must come from, and its host name is the passkeys' relying
    /// party (without one, `localhost`).
    pub public_url: Option<String>,
    /// Whether `/metrics` is served (to administrators' bearer tokens only).
    pub metrics: bool,
    /// The longest an API token lives, whatever expiry it was given.
    pub token_max_lifetime: Duration,
    /// How often this server looks for background jobs; `None` runs no worker (tests).
    pub job_poll: Option<std::time::Duration>,
    /// Reverse proxies whose `X-Forwarded-For` is believed for the client address (throttling
    /// and the audit log); none by default.
    pub trusted_proxies: Vec<proxy::TrustedProxy>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            idle_timeout: Duration::minutes(15),
            absolute_lifetime: Duration::hours(12),
            public_url: None,
            metrics: false,
            token_max_lifetime: Duration::days(trellis_storage::staff::DEFAULT_TOKEN_MAX_DAYS),
            job_poll: None,
            trusted_proxies: Vec::new(),
        }
    }
}

impl Config {
    /// Whether Trellis is reached over https: cookies are Secure and browsers are told to
    /// use https only (HSTS).
    pub fn secure_cookies(&self) -> bool {
        self.public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"))
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// Settings.
    pub config: Arc<Config>,
    /// Time zone for dates shown and "today" (the first site's zone).
    pub timezone: Tz,
    /// The WebAuthn relying party for passkeys (id and origin from the public URL).
    pub passkeys: Arc<webauthn_rs::Webauthn>,
    /// The directors' dashboard counts of patients under their weekly minimum, kept briefly.
    pub(crate) under_minimum_counts: Arc<pages::dashboard::UnderMinimumCounts>,
}

impl AppState {
    /// Builds the state, taking the display time zone from the first site (UTC if none).
    pub async fn new(store: Store, config: Config) -> Result<AppState, AppError> {
        let timezone = store
            .sites()
            .await?
            .first()
            .and_then(|s| s.timezone.parse().ok())
            .unwrap_or(Tz::UTC);
        let passkeys = Arc::new(pages::passkeys::relying_party(
            config.public_url.as_deref(),
        )?);
        Ok(AppState {
            store,
            config: Arc::new(config),
            timezone,
            passkeys,
            under_minimum_counts: Default::default(),
        })
    }

    /// Today's date in the clinic's time zone.
    pub fn today(&self) -> chrono::NaiveDate {
        chrono::Utc::now()
            .with_timezone(&self.timezone)
            .date_naive()
    }
}

/// The whole application: pages, API, health and metrics, with the middleware stack.
pub fn app(state: AppState) -> Router {
    let routes = Router::new()
        .merge(pages::routes())
        .nest("/api/v1", api::routes(&state))
        .merge(ops::routes());
    ops::layers(routes, state.clone()).with_state(state)
}

/// Serves until `shutdown` completes, then lets requests in flight finish. With
/// `config.job_poll` set, this server also works the shared background job queue.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let worker = state
        .config
        .job_poll
        .map(|poll| jobs::spawn_worker(state.store.clone(), poll));
    let served = axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await;
    if let Some(worker) = worker {
        worker.abort();
    }
    served
}
