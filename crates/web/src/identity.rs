//! Who is calling: a staff session (cookie) or an API bearer token, resolved once per request;
//! the CSRF guard for state-changing requests; extractors that hand handlers an [`Actor`].

use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use std::net::SocketAddr;
use subtle::ConstantTimeEq;
use trellis_domain::access::Role;
use trellis_storage::access::Actor;
use trellis_storage::staff::{StaffSession, StaffUser};

use crate::error::AppError;
use crate::AppState;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "trellis_session";
/// Name of the portal's session cookie: sent only to `/portal` (its path), read only there.
pub const PORTAL_COOKIE: &str = "trellis_portal";
/// Where the portal's pages live; a portal session is accepted under it alone.
pub const PORTAL_PREFIX: &str = "/portal";
/// Name of the cookie that carries the login form's CSRF token (double submit).
pub const LOGIN_CSRF_COOKIE: &str = "trellis_login_csrf";
/// Form field carrying a CSRF token.
pub const CSRF_FIELD: &str = "csrf_token";
/// Header carrying a CSRF token (scripts and API calls made with a session cookie).
pub const CSRF_HEADER: &str = "x-csrf-token";
const MAX_FORM_BYTES: usize = 1024 * 1024;

/// The caller of this request.
#[derive(Debug, Clone)]
pub enum Identity {
    /// No credentials.
    Anonymous,
    /// A bearer token that is unknown, expired or revoked.
    InvalidToken,
    /// A staff session (possibly still waiting for its second factor).
    Session {
        /// The cookie secret.
        secret: String,
        /// The session.
        session: Box<StaffSession>,
    },
    /// A patient's portal session (only ever on a `/portal` path).
    Portal {
        /// The cookie secret.
        secret: String,
        /// The session (its user's role is `patient`).
        session: Box<StaffSession>,
    },
    /// An API token acting as a user with a role.
    Token {
        /// The token's owner.
        user: Box<StaffUser>,
        /// The role the token carries.
        role: Role,
    },
}

/// Where the request came from, for the audit log.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    /// The client's address: the peer, or behind a trusted proxy the address it forwarded.
    pub ip: String,
    /// Request id.
    pub request_id: Option<String>,
    /// The browser family named by the User-Agent, for one's list of sessions (never the whole
    /// header, which can single a person out).
    pub browser: &'static str,
}

/// The browser family a User-Agent names. Order matters: Edge and Opera also say "Chrome",
/// and Chrome also says "Safari".
pub fn browser_family(user_agent: &str) -> &'static str {
    const FAMILIES: [(&str, &str); 7] = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Chromium/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "command line"),
    ];
    FAMILIES
        .iter()
        .find(|(marker, _)| user_agent.contains(marker))
        .map_or("other", |(_, family)| family)
}

fn client_info(req: &Request, trusted: &[crate::proxy::TrustedProxy]) -> ClientInfo {
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok());
    ClientInfo {
        ip: req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| crate::proxy::real_client(c.0.ip(), forwarded, trusted).to_string())
            .unwrap_or_else(|| "unknown".into()),
        request_id: req
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        browser: browser_family(
            req.headers()
                .get(axum::http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or(""),
        ),
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// Middleware: resolves the caller and stores [`Identity`] and [`ClientInfo`] on the request.
pub async fn resolve_identity(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, AppError> {
    let info = client_info(&req, &state.config.trusted_proxies);
    let in_portal = is_portal_path(req.uri().path());
    let identity = if let Some(token) = bearer(req.headers()) {
        match state
            .store
            .token_actor(token, state.config.token_max_lifetime)
            .await?
        {
            // The API is staff's: a patient's account never acts through a token.
            Some((user, role)) if role != Role::Patient && !in_portal => Identity::Token {
                user: Box::new(user),
                role,
            },
            _ => Identity::InvalidToken,
        }
    } else {
        // The realms never mix: under /portal only the portal cookie counts and only for a
        // patient's account; elsewhere only the staff cookie and only for a staff account.
        let name = if in_portal {
            PORTAL_COOKIE
        } else {
            SESSION_COOKIE
        };
        let jar = CookieJar::from_headers(req.headers());
        match jar.get(name).map(|c| c.value().to_owned()) {
            Some(secret) => match state
                .store
                .session(&secret, state.config.idle_timeout)
                .await?
            {
                Some(session) if in_portal && session.user.role == Role::Patient.code() => {
                    Identity::Portal {
                        secret,
                        session: Box::new(session),
                    }
                }
                Some(session) if !in_portal && session.user.role != Role::Patient.code() => {
                    Identity::Session {
                        secret,
                        session: Box::new(session),
                    }
                }
                _ => Identity::Anonymous,
            },
            None => Identity::Anonymous,
        }
    };
    req.extensions_mut().insert(identity);
    req.extensions_mut().insert(info);
    Ok(next.run(req).await)
}

/// Whether a path is the portal's (`/portal` or below it).
pub fn is_portal_path(path: &str) -> bool {
    path == PORTAL_PREFIX || path.starts_with("/portal/")
}

fn same_origin(headers: &HeaderMap, state: &AppState) -> bool {
    let claimed = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| {
            // Without Origin, fall back to the Referer's origin.
            headers
                .get(header::REFERER)
                .and_then(|v| v.to_str().ok())
                .and_then(|r| {
                    let rest = r.split_once("://")?;
                    let host = rest.1.split('/').next()?;
                    Some(format!("{}://{host}", rest.0))
                })
        });
    let Some(claimed) = claimed else {
        return false;
    };
    match state.config.public_url.as_deref() {
        Some(public) => claimed == public.trim_end_matches('/'),
        None => {
            let host = headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            claimed == format!("http://{host}") || claimed == format!("https://{host}")
        }
    }
}

fn tokens_match(given: &str, expected: &str) -> bool {
    !expected.is_empty() && bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
}

/// Middleware: a state-changing request made with cookies must come from our own origin and
/// carry the session's CSRF token (form field or header). Bearer-token calls carry no cookies
/// and need neither.
pub async fn csrf_guard(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Result<Response, Response> {
    if matches!(
        *req.method(),
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    ) {
        return Ok(next.run(req).await);
    }
    let identity = req
        .extensions()
        .get::<Identity>()
        .cloned()
        .unwrap_or(Identity::Anonymous);
    let is_api = req.uri().path().starts_with("/api/");
    if matches!(identity, Identity::Token { .. } | Identity::InvalidToken) {
        return Ok(next.run(req).await);
    }
    // An API call without credentials has nothing to forge: let it answer 401, not 403.
    if is_api && matches!(identity, Identity::Anonymous) {
        return Ok(next.run(req).await);
    }
    let reject = |is_api: bool| {
        if is_api {
            AppError::Csrf.into_api_response()
        } else {
            AppError::Csrf.into_response()
        }
    };
    if !same_origin(req.headers(), &state) {
        return Err(reject(is_api));
    }
    let expected = match &identity {
        Identity::Session { session, .. } | Identity::Portal { session, .. } => {
            session.csrf_token.clone()
        }
        _ if matches!(
            req.uri().path(),
            "/login" | "/portal/sign-in" | "/portal/welcome"
        ) =>
        {
            CookieJar::from_headers(req.headers())
                .get(LOGIN_CSRF_COOKIE)
                .map(|c| c.value().to_owned())
                .unwrap_or_default()
        }
        // No session: nothing to forge; the handler answers "sign in".
        _ => return Ok(next.run(req).await),
    };
    if let Some(token) = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok()) {
        return if tokens_match(token, &expected) {
            Ok(next.run(req).await)
        } else {
            Err(reject(is_api))
        };
    }
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(reject(is_api));
    }
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
        .await
        .map_err(|_| {
            if is_api {
                AppError::TooLarge.into_api_response()
            } else {
                AppError::TooLarge.into_response()
            }
        })?;
    let token = form_urlencoded::parse(&bytes)
        .find(|(k, _)| k == CSRF_FIELD)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    if !tokens_match(&token, &expected) {
        return Err(reject(is_api));
    }
    Ok(next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await)
}

/// A signed-in staff member on a web page (second factor done).
#[derive(Debug, Clone)]
pub struct Staff {
    /// Who acts, for grants and the audit log.
    pub actor: Actor,
    /// The account.
    pub user: StaffUser,
    /// The session's CSRF token, for forms.
    pub csrf: String,
}

impl FromRequestParts<AppState> for Staff {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        let info = parts
            .extensions
            .get::<ClientInfo>()
            .cloned()
            .unwrap_or_default();
        match parts.extensions.get::<Identity>() {
            Some(Identity::Session { session, .. }) if session.mfa_verified => {
                let role = session
                    .user
                    .role()
                    .map_err(|e| AppError::from(e).into_response())?;
                Ok(Staff {
                    actor: actor(&session.user, role, &info),
                    user: session.user.clone(),
                    csrf: session.csrf_token.clone(),
                })
            }
            Some(Identity::Session { .. }) => Err(Redirect::to("/login/mfa").into_response()),
            _ => Err(Redirect::to("/login").into_response()),
        }
    }
}

/// A signed-in patient on a portal page: their account and the one patient it is bound to.
#[derive(Debug, Clone)]
pub struct PortalPatient {
    /// Who acts (role `patient`), for grants and the audit log.
    pub actor: Actor,
    /// The patient whose account it is.
    pub patient_id: i64,
    /// The session's CSRF token, for forms.
    pub csrf: String,
}

impl FromRequestParts<AppState> for PortalPatient {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let info = parts
            .extensions
            .get::<ClientInfo>()
            .cloned()
            .unwrap_or_default();
        let Some(Identity::Portal { session, .. }) = parts.extensions.get::<Identity>() else {
            return Err(Redirect::to("/portal/sign-in").into_response());
        };
        let patient_id = state
            .store
            .portal_patient(session.user.id)
            .await
            .map_err(|_| Redirect::to("/portal/sign-in").into_response())?;
        Ok(PortalPatient {
            actor: actor(&session.user, Role::Patient, &info),
            patient_id,
            csrf: session.csrf_token.clone(),
        })
    }
}

/// A caller of the JSON API: a bearer token, or a full staff session.
#[derive(Debug, Clone)]
pub struct ApiCaller {
    /// Who acts.
    pub actor: Actor,
}

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        let info = parts
            .extensions
            .get::<ClientInfo>()
            .cloned()
            .unwrap_or_default();
        match parts.extensions.get::<Identity>() {
            Some(Identity::Token { user, role }) => Ok(ApiCaller {
                actor: actor(user, *role, &info),
            }),
            Some(Identity::Session { session, .. }) if session.mfa_verified => {
                let role = session
                    .user
                    .role()
                    .map_err(|e| AppError::from(e).into_api_response())?;
                Ok(ApiCaller {
                    actor: actor(&session.user, role, &info),
                })
            }
            _ => Err(AppError::Unauthenticated.into_api_response()),
        }
    }
}

fn actor(user: &StaffUser, role: Role, info: &ClientInfo) -> Actor {
    Actor {
        user_id: Some(user.id),
        username: user.username.clone(),
        role,
        ip: Some(info.ip.clone()),
        request_id: info.request_id.clone(),
    }
}

/// The portal's session cookie: sent by the browser to `/portal` paths only.
pub fn portal_cookie(value: String, state: &AppState) -> Cookie<'static> {
    let mut c = cookie(PORTAL_COOKIE, value, state);
    c.set_path(PORTAL_PREFIX);
    c
}

/// A cookie with the attributes every Trellis cookie has.
pub fn cookie(name: &'static str, value: String, state: &AppState) -> Cookie<'static> {
    Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.config.secure_cookies())
        .build()
}

#[cfg(test)]
mod tests {
    use super::browser_family;

    #[test]
    fn browser_families_are_told_apart_and_nothing_else_is_kept() {
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
        let edge = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0";
        let safari = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0";
        assert_eq!(browser_family(chrome), "Chrome");
        assert_eq!(browser_family(edge), "Edge");
        assert_eq!(browser_family(safari), "Safari");
        assert_eq!(browser_family(firefox), "Firefox");
        assert_eq!(browser_family(""), "other");
        assert_eq!(browser_family("<script>alert(1)</script>"), "other");
    }
}
