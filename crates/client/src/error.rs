//! The client's one error type: what the server refused (its status and
//! `{code, message, details}` body), or why no answer came.

use serde_json::Value;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server answered with an error status.
    #[error("{} {}: {}", .0.status, .0.code, .0.message)]
    Api(Box<ApiFailure>),
    /// The request did not get an answer (connection refused, reset,
    /// timed out).
    #[error("no answer from the server: {0}")]
    Transport(#[source] reqwest::Error),
    /// The answer was not what the API promises.
    #[error("unexpected answer from the server: {0}")]
    Decode(String),
    /// The client was built with settings it cannot use (a bad URL or
    /// certificate).
    #[error("invalid client settings: {0}")]
    Config(String),
}

/// What the server said when it refused a request.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiFailure {
    /// The HTTP status.
    pub status: u16,
    /// The stable error code (`not_found`, `unique_violation`,
    /// `permission_denied`, `rate_limited`, …).
    pub code: String,
    /// What went wrong, for people.
    pub message: String,
    /// Structured context (`sqlstate`, `field`, …), `null` when none.
    pub details: Value,
    /// The `Retry-After` header of a 429, in seconds.
    pub retry_after: Option<u64>,
}

impl Error {
    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api(failure) => Some(failure.status),
            _ => None,
        }
    }

    /// The API's error code, when the server answered.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Api(failure) => Some(&failure.code),
            _ => None,
        }
    }

    /// The SQLSTATE of a SQL error (`details.sqlstate`).
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            Error::Api(failure) => failure.details.get("sqlstate").and_then(Value::as_str),
            _ => None,
        }
    }

    /// Whether the thing asked for does not exist (404).
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// Whether trying again later can succeed: rate limited (429), a
    /// transaction that lost a conflict and was rolled back (409
    /// serialization failure, deadlock, lock not available), the server
    /// busy or stopping (503), or no connection at all.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Api(failure) => match failure.status {
                429 | 503 => true,
                409 => matches!(
                    failure.code.as_str(),
                    "serialization_failure" | "deadlock_detected" | "lock_not_available"
                ),
                _ => false,
            },
            Error::Transport(e) => e.is_connect() || e.is_timeout() || e.is_request(),
            _ => false,
        }
    }

    /// Whether the request certainly changed nothing, so that retrying even
    /// a non-idempotent one (a POST) cannot apply it twice: refused before
    /// running (429), rolled back (the 409 conflicts), or never sent (a
    /// connection that could not be made).
    pub fn certainly_not_applied(&self) -> bool {
        match self {
            Error::Api(failure) if failure.status == 429 => true,
            Error::Api(failure) if failure.status == 409 => self.is_retryable(),
            Error::Transport(e) => e.is_connect(),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, code: &str) -> Error {
        Error::Api(Box::new(ApiFailure {
            status,
            code: code.into(),
            message: String::new(),
            details: serde_json::json!({"sqlstate": "40001"}),
            retry_after: None,
        }))
    }

    #[test]
    fn conflicts_and_limits_are_retryable_other_refusals_are_not() {
        assert!(api(429, "rate_limited").is_retryable());
        assert!(api(409, "serialization_failure").is_retryable());
        assert!(api(503, "timeout").is_retryable());
        assert!(!api(503, "timeout").certainly_not_applied());
        assert!(!api(409, "unique_violation").is_retryable());
        assert!(!api(404, "not_found").is_retryable());
        assert!(!api(400, "syntax_error").is_retryable());
        assert_eq!(api(409, "serialization_failure").sqlstate(), Some("40001"));
    }
}
