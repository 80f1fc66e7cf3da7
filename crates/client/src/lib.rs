//! `memdb-client`: an async client for memdb's HTTP API — records, joins,
//! SQL and the key-value store — with typed errors ([`Error`]) and retries
//! of what can be retried ([`RetryPolicy`]).
//!
//! ```no_run
//! use memdb_client::{Client, ListOptions};
//! use serde_json::json;
//!
//! # async fn demo() -> Result<(), memdb_client::Error> {
//! let db = Client::builder("http://127.0.0.1:8080").basic_auth("memdb", "s3cret").build()?;
//! db.sql("CREATE TABLE users (id int PRIMARY KEY, name text, age int)", &[]).await?;
//! db.create_record("users", &json!({"id": 1, "name": "Ada", "age": 36})).await?;
//! let adults = db.list_records("users", &ListOptions::default().filter("age.gte", "18")).await?;
//! let rows = db.sql("SELECT name FROM users WHERE id = $1", &[json!(1)]).await?;
//! db.kv_set("greeting", &json!("hello"), Some(60.0)).await?;
//! # Ok(()) }
//! ```
//!
//! Retries: rate limiting (429, after its `Retry-After`, up to a minute),
//! transactions
//! rolled back by a conflict (409 serialization failure, deadlock), and
//! connections that could not be made are retried for every call; a busy
//! or stopping server (503) and dropped connections are retried only for
//! idempotent calls (GET, PUT, DELETE), so a POST is never applied twice.

mod error;
mod types;

use std::time::Duration;

use reqwest::{Method, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use error::{ApiFailure, Error};
pub use types::{
    Column, JoinKind, JoinPage, KvEntry, KvPage, ListOptions, Popped, RecordPage, SqlResult, StatementResult,
};

/// How failed calls are retried: up to `max_retries` more attempts, waiting
/// `base_delay` doubled each time (with jitter) up to `max_delay`, or what
/// the server's `Retry-After` asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts after the first (0: no retries).
    pub max_retries: u32,
    /// The first wait.
    pub base_delay: Duration,
    /// The longest wait.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { max_retries: 3, base_delay: Duration::from_millis(50), max_delay: Duration::from_secs(2) }
    }
}

impl RetryPolicy {
    /// Never retry.
    pub fn none() -> RetryPolicy {
        RetryPolicy { max_retries: 0, ..RetryPolicy::default() }
    }

    /// The wait before retry number `attempt` (1-based) after `error`.
    fn delay(&self, attempt: u32, error: &Error) -> Duration {
        if let Error::Api(failure) = error
            && let Some(seconds) = failure.retry_after
        {
            return Duration::from_secs(seconds);
        }
        let exponential = self.base_delay.saturating_mul(1 << attempt.saturating_sub(1).min(16));
        let capped = exponential.min(self.max_delay);
        // Full jitter on the upper half: clients that failed together do
        // not come back together.
        let half = capped / 2;
        half + half.mul_f64(rand::random::<f64>())
    }
}

/// The longest `Retry-After` a call waits for; a server asking for more
/// gets its error returned instead.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// How the client proves who it is.
#[derive(Debug, Clone)]
enum Credentials {
    None,
    Basic { user: String, password: String },
    Bearer(String),
}

/// Settings for a [`Client`].
#[derive(Debug)]
pub struct ClientBuilder {
    base: String,
    credentials: Credentials,
    retry: RetryPolicy,
    timeout: Duration,
    ca_pem: Vec<Vec<u8>>,
}

impl ClientBuilder {
    /// Logs in with a user and password (HTTP Basic).
    pub fn basic_auth(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.credentials = Credentials::Basic { user: user.into(), password: password.into() };
        self
    }

    /// Logs in with an API key (`Authorization: Bearer`).
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.credentials = Credentials::Bearer(key.into());
        self
    }

    /// Sets the retry policy ([`RetryPolicy::none`] to turn retries off).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Sets how long one attempt may take (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Trusts this PEM certificate (a server's self-signed certificate or
    /// a private CA) for `https://` URLs, besides the usual roots.
    pub fn ca_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_pem.push(pem.into());
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<Client, Error> {
        let mut base = Url::parse(&self.base).map_err(|e| Error::Config(format!("base URL \"{}\": {e}", self.base)))?;
        if base.cannot_be_a_base() || !matches!(base.scheme(), "http" | "https") {
            return Err(Error::Config(format!("base URL \"{}\" is not an http(s) URL", self.base)));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let mut http = reqwest::Client::builder().timeout(self.timeout).use_rustls_tls();
        for pem in &self.ca_pem {
            let cert =
                reqwest::Certificate::from_pem(pem).map_err(|e| Error::Config(format!("CA certificate: {e}")))?;
            http = http.add_root_certificate(cert);
        }
        let http = http.build().map_err(|e| Error::Config(e.to_string()))?;
        Ok(Client { http, base, credentials: self.credentials, retry: self.retry })
    }
}

/// A connection pool to one memdb server's HTTP API; cheap to clone.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    credentials: Credentials,
    retry: RetryPolicy,
}

impl Client {
    /// Starts building a client for the server at `base_url`
    /// (`http://127.0.0.1:8080`).
    pub fn builder(base_url: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            base: base_url.into(),
            credentials: Credentials::None,
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(30),
            ca_pem: Vec::new(),
        }
    }

    /// A client with the default settings and no credentials.
    pub fn new(base_url: impl Into<String>) -> Result<Client, Error> {
        Client::builder(base_url).build()
    }

    // --- SQL ---

    /// Runs SQL: one statement with `$n` parameters, or several separated
    /// by `;` (one transaction, no parameters).
    pub async fn sql(&self, sql: &str, params: &[Value]) -> Result<SqlResult, Error> {
        let body = types::SqlRequest { sql, params };
        self.call(Method::POST, &["api", "v1", "sql"], &[], Some(&body)).await
    }

    // --- records ---

    /// Adds a record; returns it as stored (with a generated id when the
    /// table makes one). An unknown table becomes a collection when the
    /// server allows it.
    pub async fn create_record(&self, table: &str, record: &Value) -> Result<Value, Error> {
        self.call(Method::POST, &["api", "v1", "tables", table, "records"], &[], Some(record)).await
    }

    /// Adds several records in one transaction (all or none).
    pub async fn create_records(&self, table: &str, records: &[Value]) -> Result<Vec<Value>, Error> {
        #[derive(serde::Deserialize)]
        struct Batch {
            records: Vec<Value>,
        }
        let batch: Batch =
            self.call(Method::POST, &["api", "v1", "tables", table, "records", "batch"], &[], Some(&records)).await?;
        Ok(batch.records)
    }

    /// Reads a record by id ([`Error::is_not_found`] when there is none).
    pub async fn get_record(&self, table: &str, id: &str) -> Result<Value, Error> {
        self.call(Method::GET, &["api", "v1", "tables", table, "records", id], &[], None::<&()>).await
    }

    /// Replaces a record.
    pub async fn replace_record(&self, table: &str, id: &str, record: &Value) -> Result<Value, Error> {
        self.call(Method::PUT, &["api", "v1", "tables", table, "records", id], &[], Some(record)).await
    }

    /// Changes some fields of a record.
    pub async fn update_record(&self, table: &str, id: &str, fields: &Value) -> Result<Value, Error> {
        self.call(Method::PATCH, &["api", "v1", "tables", table, "records", id], &[], Some(fields)).await
    }

    /// Deletes a record.
    pub async fn delete_record(&self, table: &str, id: &str) -> Result<(), Error> {
        self.call_empty(Method::DELETE, &["api", "v1", "tables", table, "records", id], &[]).await
    }

    /// Lists records: filters, order, one page.
    pub async fn list_records(&self, table: &str, options: &ListOptions) -> Result<RecordPage, Error> {
        self.call(Method::GET, &["api", "v1", "tables", table, "records"], &options.query(), None::<&()>).await
    }

    // --- joins ---

    /// Pairs of records of `left` and `right` with equal `key` fields.
    pub async fn join(
        &self,
        left: &str,
        right: &str,
        key: &str,
        kind: JoinKind,
        limit: Option<usize>,
        cursor: Option<&str>,
    ) -> Result<JoinPage, Error> {
        let mut query = vec![("type".to_owned(), if kind == JoinKind::Left { "left" } else { "inner" }.to_owned())];
        if let Some(limit) = limit {
            query.push(("limit".into(), limit.to_string()));
        }
        if let Some(cursor) = cursor {
            query.push(("cursor".into(), cursor.to_owned()));
        }
        self.call(Method::GET, &["api", "v1", "join", left, right, key], &query, None::<&()>).await
    }

    // --- key-value ---

    /// Sets a key to a value (a JSON string is stored as its text, other
    /// JSON as its JSON text), with a time to live in seconds.
    pub async fn kv_set(&self, key: &str, value: &Value, ttl_seconds: Option<f64>) -> Result<KvEntry, Error> {
        let body = types::KvWrite { value, ttl: ttl_seconds };
        self.call(Method::PUT, &["api", "v1", "kv", key], &[], Some(&body)).await
    }

    /// Reads a key ([`Error::is_not_found`] when absent or expired).
    pub async fn kv_get(&self, key: &str) -> Result<KvEntry, Error> {
        self.call(Method::GET, &["api", "v1", "kv", key], &[], None::<&()>).await
    }

    /// Deletes a key.
    pub async fn kv_delete(&self, key: &str) -> Result<(), Error> {
        self.call_empty(Method::DELETE, &["api", "v1", "kv", key], &[]).await
    }

    /// Appends values to the list at a key; returns the list's length.
    pub async fn kv_push(&self, key: &str, values: &[Value]) -> Result<i64, Error> {
        let body = types::KvPush { values };
        let pushed: types::KvPushed =
            self.call(Method::POST, &["api", "v1", "kv", key, "push"], &[], Some(&body)).await?;
        Ok(pushed.length)
    }

    /// Removes and returns the list's last value (`None` when empty or
    /// absent), with its encoding (`utf8`, or `base64` for bytes that are
    /// not UTF-8).
    pub async fn kv_pop(&self, key: &str) -> Result<Option<Popped>, Error> {
        match self.call::<Popped>(Method::POST, &["api", "v1", "kv", key, "pop"], &[], None::<&()>).await {
            Ok(popped) => Ok(Some(popped)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Lists keys starting with `prefix`, one page.
    pub async fn kv_list(&self, prefix: &str, limit: Option<usize>, cursor: Option<&str>) -> Result<KvPage, Error> {
        let mut query = vec![("prefix".to_owned(), prefix.to_owned())];
        if let Some(limit) = limit {
            query.push(("limit".into(), limit.to_string()));
        }
        if let Some(cursor) = cursor {
            query.push(("cursor".into(), cursor.to_owned()));
        }
        self.call(Method::GET, &["api", "v1", "kv"], &query, None::<&()>).await
    }

    // --- plumbing ---

    fn url(&self, segments: &[&str], query: &[(String, String)]) -> Result<Url, Error> {
        // URL paths normalise these away: `get_record("t", "..")` would
        // reach another route.
        if let Some(bad) = segments.iter().find(|s| matches!(**s, "" | "." | "..")) {
            return Err(Error::Config(format!("\"{bad}\" cannot be a table name, record id or key over HTTP")));
        }
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| Error::Config("the base URL cannot take a path".into()))?
            .pop_if_empty()
            .extend(segments);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    /// One call with retries; the answer's JSON body decoded.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(String, String)],
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> Result<T, Error> {
        let response = self.send(method, segments, query, body).await?;
        let bytes = response.bytes().await.map_err(Error::Transport)?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Decode(e.to_string()))
    }

    /// A call whose success has no body (204).
    async fn call_empty(&self, method: Method, segments: &[&str], query: &[(String, String)]) -> Result<(), Error> {
        self.send(method, segments, query, None::<&()>).await.map(drop)
    }

    async fn send(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(String, String)],
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> Result<reqwest::Response, Error> {
        let url = self.url(segments, query)?;
        let body = match body {
            Some(body) => Some(serde_json::to_vec(body).map_err(|e| Error::Decode(e.to_string()))?),
            None => None,
        };
        let idempotent = matches!(method, Method::GET | Method::PUT | Method::DELETE | Method::HEAD);
        let mut attempt = 0;
        loop {
            let mut request = self.http.request(method.clone(), url.clone());
            request = match &self.credentials {
                Credentials::None => request,
                Credentials::Basic { user, password } => request.basic_auth(user, Some(password)),
                Credentials::Bearer(key) => request.bearer_auth(key),
            };
            if let Some(body) = &body {
                request = request.header(reqwest::header::CONTENT_TYPE, "application/json").body(body.clone());
            }
            let error = match request.send().await {
                Ok(response) if response.status().is_success() => return Ok(response),
                // A retried DELETE whose first attempt went through.
                Ok(response) if attempt > 0 && method == Method::DELETE && response.status() == 404 => {
                    return Ok(response);
                }
                Ok(response) => api_error(response).await,
                Err(e) => Error::Transport(e),
            };
            let again = error.is_retryable() && (idempotent || error.certainly_not_applied());
            if !again || attempt >= self.retry.max_retries {
                return Err(error);
            }
            attempt += 1;
            let wait = self.retry.delay(attempt, &error);
            if wait > MAX_RETRY_AFTER {
                // The server asks for longer than a call should hang.
                return Err(error);
            }
            tokio::time::sleep(wait).await;
        }
    }
}

/// The error a non-success answer carries.
async fn api_error(response: reqwest::Response) -> Error {
    let status = response.status();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok());
    let bytes = match response.bytes().await {
        Ok(bytes) => bytes,
        Err(e) => return Error::Transport(e),
    };
    match serde_json::from_slice::<types::ErrorBody>(&bytes) {
        Ok(body) => Error::Api(Box::new(ApiFailure {
            status: status.as_u16(),
            code: body.code,
            message: body.message,
            details: body.details,
            retry_after,
        })),
        Err(_) => Error::Api(Box::new(ApiFailure {
            status: status.as_u16(),
            code: status.canonical_reason().unwrap_or("error").to_ascii_lowercase().replace(' ', "_"),
            message: String::from_utf8_lossy(&bytes).chars().take(500).collect(),
            details: Value::Null,
            retry_after,
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_escaped_segment_by_segment() {
        let client = Client::new("http://127.0.0.1:8080/base").unwrap_or_else(|e| panic!("{e}"));
        let url = client.url(&["api", "v1", "kv", "a/b c?d"], &[("prefix".into(), "x&y".into())]);
        assert_eq!(
            url.map(String::from).ok().as_deref(),
            Some("http://127.0.0.1:8080/base/api/v1/kv/a%2Fb%20c%3Fd?prefix=x%26y")
        );
        assert!(Client::new("ftp://x").is_err());
        assert!(Client::new("not a url").is_err());
        for bad in ["", ".", ".."] {
            assert!(matches!(client.url(&["api", "v1", "kv", bad], &[]), Err(Error::Config(_))), "{bad:?}");
        }
    }

    #[test]
    fn waits_grow_and_respect_retry_after() {
        let policy = RetryPolicy::default();
        let failure = |status, retry_after| {
            Error::Api(Box::new(ApiFailure {
                status,
                code: "x".into(),
                message: String::new(),
                details: Value::Null,
                retry_after,
            }))
        };
        let transport_like = failure(503, None);
        for attempt in 1..6 {
            let wait = policy.delay(attempt, &transport_like);
            assert!(wait <= policy.max_delay, "{wait:?}");
        }
        assert!(policy.delay(4, &transport_like) >= Duration::from_millis(200));
        let limited = failure(429, Some(1));
        assert_eq!(policy.delay(1, &limited), Duration::from_secs(1));
    }
}
