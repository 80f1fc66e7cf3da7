//! Who an HTTP request acts for: `Authorization: Basic` (a role's name and
//! password) or `Authorization: Bearer` (an API key), checked by the shared
//! [`crate::auth::Authenticator`].
//!
//! With authentication on, a request without credentials gets 401 (with
//! `WWW-Authenticate`), except the probes and the API docs; a request whose
//! role lacks a privilege gets 403. Without it, requests are trusted and
//! unrestricted, but credentials that are sent are still checked and then
//! limit the request to that role.
//!
//! The role is carried to the handlers in a task-local, so the SQL sessions
//! (records, joins, SQL), the direct record reads and the key-value routes
//! all act for it without each handler passing it along.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;

use super::error::{ApiError, ApiResult};
use super::{AppState, ClientAddr, DOCS_PATH, OPENAPI_PATH};
use crate::auth::Authenticator;

tokio::task_local! {
    /// The role the current request acts for (`None`: unrestricted).
    static ROLE: Option<Arc<str>>;
}

/// The role the current request acts for (`None`: unrestricted).
pub fn current_role() -> Option<Arc<str>> {
    ROLE.try_with(Clone::clone).ok().flatten()
}

/// The middleware: checks the credentials and runs the request as their role.
pub(super) async fn authenticate(
    State(auth): State<Option<Arc<Authenticator>>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(auth) = auth else {
        return next.run(request).await;
    };
    let path = request.uri().path();
    let open = matches!(path, "/health" | "/ready") || path.starts_with(DOCS_PATH) || path == OPENAPI_PATH;
    let peer = request
        .extensions()
        .get::<ConnectInfo<ClientAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |ConnectInfo(ClientAddr(addr))| addr.ip());
    let role = match request.headers().get(AUTHORIZATION) {
        None if open || !auth.enabled() => None,
        None => return unauthorized("authentication required: send Authorization: Basic or Bearer"),
        Some(value) => match credentials(value) {
            Some(Credentials::Basic { user, password }) => match auth.check_password(peer, &user, &password).await {
                Ok(role) => Some(role),
                Err(_) => return unauthorized("invalid user name or password"),
            },
            Some(Credentials::Bearer(key)) => match auth.check_api_key(peer, &key).await {
                Ok(role) => Some(role),
                Err(_) => return unauthorized("invalid, expired or revoked API key"),
            },
            None => return unauthorized("malformed Authorization header: use Basic or Bearer"),
        },
    };
    ROLE.scope(role.map(Arc::from), next.run(request)).await
}

/// Credentials as sent.
enum Credentials {
    Basic { user: String, password: String },
    Bearer(String),
}

fn credentials(value: &HeaderValue) -> Option<Credentials> {
    let text = value.to_str().ok()?.trim();
    let (scheme, rest) = text.split_once(' ')?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD.decode(rest).ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (user, password) = decoded.split_once(':')?;
        Some(Credentials::Basic { user: user.to_owned(), password: password.to_owned() })
    } else if scheme.eq_ignore_ascii_case("bearer") && !rest.is_empty() {
        Some(Credentials::Bearer(rest.to_owned()))
    } else {
        None
    }
}

fn unauthorized(message: &str) -> Response {
    let mut response = ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message).into_response();
    response.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"memdb\", Bearer"));
    response
}

/// Refuses (403) a request whose role may not read (or, with `write`,
/// change) the key-value store.
pub fn require_kv(state: &AppState, write: bool) -> ApiResult<()> {
    let (Some(role), Some(auth)) = (current_role(), state.options().auth.as_ref()) else { return Ok(()) };
    let access = auth.access(&role);
    let allowed = if write { access.can_write_kv() } else { access.can_read_kv() };
    if allowed {
        Ok(())
    } else {
        let what = if write { "change" } else { "read" };
        Err(forbidden(format!("permission denied: role {role} may not {what} keys")))
    }
}

/// Refuses (403) a request whose role is not a superuser.
pub fn require_superuser(state: &AppState, what: &str) -> ApiResult<()> {
    let (Some(role), Some(auth)) = (current_role(), state.options().auth.as_ref()) else { return Ok(()) };
    if auth.access(&role).is_superuser() {
        Ok(())
    } else {
        Err(forbidden(format!("permission denied: {what} needs a superuser")))
    }
}

fn forbidden(message: String) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "permission_denied", message)
}
