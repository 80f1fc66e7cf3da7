//! The key-value store over HTTP: the same keyspace RESP serves, through
//! the engine's [`memdb_engine::Kv`] handle.
//!
//! Values are byte strings, as in Redis: a JSON string is stored as its
//! UTF-8 bytes (so `redis-cli GET` sees the text), any other JSON value as
//! its JSON text. A value reads back as a string, or — when its bytes are
//! not UTF-8 — as base64 with `"encoding": "base64"`. Lists hold such
//! strings. Every answer carries the key's kind, its remaining `ttl` in
//! seconds (`null`: none), and its creation and update times.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD as BASE64, URL_SAFE_NO_PAD};
use memdb_engine::{KvCommand, KvInfo, KvKind, KvReply, KvValue, SetCondition, SetExpiry};
use serde::{Deserialize, Serialize};
use serde_json::Value as JsonValue;

use super::AppState;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::listing;

/// The longest key (Redis allows 512 MB; an URL path does not).
const MAX_KEY: usize = 4096;

/// A key's value and metadata.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KvEntry {
    /// The key.
    pub key: String,
    /// `string` or `list`.
    pub kind: &'static str,
    /// The string, or the list's elements.
    pub value: JsonValue,
    /// `utf8`, or `base64` when the value's bytes are not UTF-8.
    pub encoding: &'static str,
    /// Seconds until the key expires; `null` when it does not.
    pub ttl: Option<f64>,
    /// When the key expires (RFC 3339), if it does.
    pub expires_at: Option<String>,
    /// When the key was created (RFC 3339).
    pub created_at: String,
    /// When its value last changed (RFC 3339).
    pub updated_at: String,
}

/// The body of `PUT` and `PATCH /api/v1/kv/{key}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KvWrite {
    /// The value: a string is stored as is, other JSON as its text.
    pub value: JsonValue,
    /// Seconds to live (fractions allowed); without it, `PUT` clears the
    /// TTL (or applies `default_ttl`) and `PATCH` keeps it.
    #[serde(default)]
    pub ttl: Option<f64>,
}

/// The body of `POST /api/v1/kv/{key}/push`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KvPush {
    /// Values appended at the end, in order.
    pub values: Vec<JsonValue>,
}

/// The answer to a push.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KvPushed {
    /// The key.
    pub key: String,
    /// The list's length after the push.
    pub length: i64,
}

/// The answer to a pop.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KvPopped {
    /// The key.
    pub key: String,
    /// The removed last element.
    pub value: JsonValue,
    /// `utf8` or `base64`.
    pub encoding: &'static str,
}

/// A page of keys.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KvPage {
    /// The keys, in byte order, with their values.
    pub keys: Vec<KvEntry>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// Query parameters of a listing.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct KvListQuery {
    /// Only keys starting with this.
    pub prefix: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 1000 (default 100).
    pub limit: Option<String>,
}

fn check_key(key: &str) -> ApiResult<()> {
    if key.len() > MAX_KEY {
        return Err(ApiError::bad_request(format!("a key is at most {MAX_KEY} bytes")));
    }
    Ok(())
}

/// The bytes stored for a JSON value.
fn value_bytes(value: &JsonValue) -> Vec<u8> {
    match value {
        JsonValue::String(s) => s.as_bytes().to_vec(),
        other => other.to_string().into_bytes(),
    }
}

/// Bytes as a JSON string and its encoding.
fn bytes_json(bytes: &[u8]) -> (JsonValue, &'static str) {
    match std::str::from_utf8(bytes) {
        Ok(s) => (JsonValue::String(s.to_owned()), "utf8"),
        Err(_) => (JsonValue::String(BASE64.encode(bytes)), "base64"),
    }
}

/// Milliseconds since the Unix epoch as RFC 3339.
fn rfc3339(ms: u64) -> String {
    let secs = i64::try_from(ms / 1000).unwrap_or(i64::MAX);
    let nanos = u32::try_from((ms % 1000) * 1_000_000).unwrap_or(0);
    chrono::DateTime::from_timestamp(secs, nanos)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

fn entry(info: KvInfo, now_ms: u64) -> KvEntry {
    let (value, encoding) = match &info.value {
        KvValue::String(bytes) => bytes_json(bytes),
        KvValue::List(items) => {
            let utf8 = items.iter().all(|i| std::str::from_utf8(i).is_ok());
            let values = items
                .iter()
                .map(|i| if utf8 { bytes_json(i).0 } else { JsonValue::String(BASE64.encode(i)) })
                .collect();
            (JsonValue::Array(values), if utf8 { "utf8" } else { "base64" })
        }
    };
    let expires = info.meta.expires_at;
    KvEntry {
        key: String::from_utf8_lossy(&info.key).into_owned(),
        kind: match info.kind {
            KvKind::String => "string",
            KvKind::List => "list",
        },
        value,
        encoding,
        ttl: (expires != 0).then(|| expires.saturating_sub(now_ms) as f64 / 1000.0),
        expires_at: (expires != 0).then(|| rfc3339(expires)),
        created_at: rfc3339(info.meta.created_at),
        updated_at: rfc3339(info.meta.updated_at),
    }
}

fn expiry(state: &AppState, ttl: Option<f64>, otherwise: SetExpiry) -> ApiResult<SetExpiry> {
    match ttl {
        None => Ok(otherwise),
        Some(t) if t.is_finite() && t > 0.0 && t < 1.0e10 => {
            Ok(SetExpiry::At(state.db().kv().now_ms().saturating_add((t * 1000.0).ceil() as u64)))
        }
        Some(_) => Err(ApiError::invalid_field("ttl", "ttl is a positive number of seconds")),
    }
}

fn not_found(key: &str) -> ApiError {
    ApiError::not_found(format!("no key \"{key}\""))
}

/// Reads a key with its metadata.
fn read(state: &AppState, key: &str) -> ApiResult<KvEntry> {
    let kv = state.db().kv();
    match kv.exec(KvCommand::Info { key: key.as_bytes().to_vec() })? {
        KvReply::Info(info) => Ok(entry(*info, kv.now_ms())),
        _ => Err(not_found(key)),
    }
}

/// Reads a key.
#[utoipa::path(get, path = "/api/v1/kv/{key}", tag = "kv",
    params(("key" = String, Path, description = "The key")),
    responses((status = 200, body = KvEntry), (status = 404, body = ErrorBody)))]
pub async fn get(State(state): State<AppState>, ApiPath(key): ApiPath<String>) -> ApiResult<Json<KvEntry>> {
    super::auth::require_kv(&state, false)?;
    check_key(&key)?;
    Ok(Json(read(&state, &key)?))
}

/// Sets a string value, replacing what the key held.
#[utoipa::path(put, path = "/api/v1/kv/{key}", tag = "kv",
    params(("key" = String, Path, description = "The key")), request_body = KvWrite,
    responses((status = 200, body = KvEntry), (status = 422, body = ErrorBody), (status = 507, body = ErrorBody)))]
pub async fn put(
    State(state): State<AppState>,
    ApiPath(key): ApiPath<String>,
    ApiJson(body): ApiJson<KvWrite>,
) -> ApiResult<Json<KvEntry>> {
    super::auth::require_kv(&state, true)?;
    check_key(&key)?;
    let expiry = expiry(&state, body.ttl, SetExpiry::Clear)?;
    state.db().kv().exec(KvCommand::Set {
        key: key.as_bytes().to_vec(),
        value: value_bytes(&body.value),
        condition: SetCondition::Always,
        expiry,
        get: false,
    })?;
    Ok(Json(read(&state, &key)?))
}

/// Updates the string of an existing key (404 when absent), keeping its
/// TTL unless `ttl` is given.
#[utoipa::path(patch, path = "/api/v1/kv/{key}", tag = "kv",
    params(("key" = String, Path, description = "The key")), request_body = KvWrite,
    responses((status = 200, body = KvEntry), (status = 404, body = ErrorBody),
        (status = 409, description = "The key holds a list", body = ErrorBody)))]
pub async fn patch(
    State(state): State<AppState>,
    ApiPath(key): ApiPath<String>,
    ApiJson(body): ApiJson<KvWrite>,
) -> ApiResult<Json<KvEntry>> {
    super::auth::require_kv(&state, true)?;
    check_key(&key)?;
    let expiry = expiry(&state, body.ttl, SetExpiry::Keep)?;
    let reply = state.db().kv().exec(KvCommand::Update {
        key: key.as_bytes().to_vec(),
        value: value_bytes(&body.value),
        expiry,
    })?;
    if reply == KvReply::Int(0) {
        return Err(not_found(&key));
    }
    Ok(Json(read(&state, &key)?))
}

/// Deletes a key.
#[utoipa::path(delete, path = "/api/v1/kv/{key}", tag = "kv",
    params(("key" = String, Path, description = "The key")),
    responses((status = 204, description = "Deleted"), (status = 404, body = ErrorBody)))]
pub async fn delete(State(state): State<AppState>, ApiPath(key): ApiPath<String>) -> ApiResult<StatusCode> {
    super::auth::require_kv(&state, true)?;
    check_key(&key)?;
    match state.db().kv().exec(KvCommand::Delete { keys: vec![key.as_bytes().to_vec()] })? {
        KvReply::Int(0) => Err(not_found(&key)),
        _ => Ok(StatusCode::NO_CONTENT),
    }
}

/// Appends values to the list at a key (created when absent).
#[utoipa::path(post, path = "/api/v1/kv/{key}/push", tag = "kv",
    params(("key" = String, Path, description = "The key")), request_body = KvPush,
    responses((status = 200, body = KvPushed), (status = 409, description = "The key holds a string", body = ErrorBody)))]
pub async fn push(
    State(state): State<AppState>,
    ApiPath(key): ApiPath<String>,
    ApiJson(body): ApiJson<KvPush>,
) -> ApiResult<Json<KvPushed>> {
    super::auth::require_kv(&state, true)?;
    check_key(&key)?;
    if body.values.is_empty() {
        return Err(ApiError::invalid_field("values", "push at least one value"));
    }
    let values = body.values.iter().map(value_bytes).collect();
    let reply = state.db().kv().exec(KvCommand::Push {
        key: key.as_bytes().to_vec(),
        front: false,
        values,
        only_if_exists: false,
    })?;
    match reply {
        KvReply::Int(length) => Ok(Json(KvPushed { key, length })),
        other => Err(ApiError::internal(format!("unexpected push reply {other:?}"))),
    }
}

/// Removes and returns the last element of the list at a key.
#[utoipa::path(post, path = "/api/v1/kv/{key}/pop", tag = "kv",
    params(("key" = String, Path, description = "The key")),
    responses((status = 200, body = KvPopped), (status = 404, description = "No such key, or an empty list", body = ErrorBody),
        (status = 409, description = "The key holds a string", body = ErrorBody)))]
pub async fn pop(State(state): State<AppState>, ApiPath(key): ApiPath<String>) -> ApiResult<Json<KvPopped>> {
    super::auth::require_kv(&state, true)?;
    check_key(&key)?;
    match state.db().kv().exec(KvCommand::Pop { key: key.as_bytes().to_vec(), front: false, count: None })? {
        KvReply::Bytes(bytes) => {
            let (value, encoding) = bytes_json(&bytes);
            Ok(Json(KvPopped { key, value, encoding }))
        }
        _ => Err(not_found(&key)),
    }
}

/// Lists keys in byte order, with their values.
#[utoipa::path(get, path = "/api/v1/kv", tag = "kv", params(KvListQuery),
    responses((status = 200, body = KvPage), (status = 400, body = ErrorBody)))]
pub async fn list(State(state): State<AppState>, ApiQuery(query): ApiQuery<KvListQuery>) -> ApiResult<Json<KvPage>> {
    super::auth::require_kv(&state, false)?;
    let limit = listing::parse_limit(query.limit.as_deref())?;
    let after =
        match &query.cursor {
            Some(c) => Some(URL_SAFE_NO_PAD.decode(c.trim()).map_err(|_| {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_cursor", "invalid cursor: not base64url")
            })?),
            None => None,
        };
    let kv = state.db().kv();
    let reply =
        kv.exec(KvCommand::List { prefix: query.prefix.unwrap_or_default().into_bytes(), after, limit: limit + 1 })?;
    let KvReply::Listing(mut page) = reply else {
        return Err(ApiError::internal("unexpected listing reply"));
    };
    let more = page.len() > limit;
    page.truncate(limit);
    let next_cursor = match page.last() {
        Some(last) if more => Some(URL_SAFE_NO_PAD.encode(&last.key)),
        _ => None,
    };
    let now = kv.now_ms();
    Ok(Json(KvPage { keys: page.into_iter().map(|i| entry(i, now)).collect(), next_cursor }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_stored_raw_and_other_json_as_text() {
        assert_eq!(value_bytes(&JsonValue::String("hi".into())), b"hi");
        assert_eq!(value_bytes(&serde_json::json!({"a": 1})), br#"{"a":1}"#);
        assert_eq!(bytes_json(b"hi"), (JsonValue::String("hi".into()), "utf8"));
        assert_eq!(bytes_json(&[0xff, 0]).1, "base64");
    }

    #[test]
    fn times_are_rfc3339_in_utc() {
        assert_eq!(rfc3339(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
    }
}
