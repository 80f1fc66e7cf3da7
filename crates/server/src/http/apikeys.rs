//! `/api/v1/admin/api-keys`: make, list and revoke API keys (a superuser's
//! right). A key is shown once, when it is made; memdb keeps only its
//! argon2 hash. The same is done in SQL with `CALL
//! memdb_create_api_key(role [, comment [, lifetime]])` and `CALL
//! memdb_drop_api_key(id)`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use memdb_engine::{IsolationLevel, TxnOptions, Value};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath};

/// The body of `POST /api/v1/admin/api-keys`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    /// The role requests with the key act for.
    pub role: String,
    /// What the key is for.
    #[serde(default)]
    pub comment: Option<String>,
    /// How long the key works (`30 days`, `12 hours`; none: until revoked).
    #[serde(default)]
    pub expires_in: Option<String>,
}

/// A key just made: the only time `key` is shown.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedApiKey {
    /// The key's public id.
    pub id: String,
    /// The key to send as `Authorization: Bearer <key>`.
    pub key: String,
    /// The role it acts for.
    pub role: String,
    /// When it stops working, if ever.
    pub expires_at: Option<String>,
}

/// A stored key, without its secret.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApiKeyInfo {
    /// The key's public id.
    pub id: String,
    /// The role it acts for.
    pub role: String,
    /// What it is for.
    pub comment: String,
    /// When it was made.
    pub created_at: String,
    /// When it stops working, if ever.
    pub expires_at: Option<String>,
}

fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn time(micros: i64) -> String {
    Value::TimestampTz(micros).to_string()
}

/// Makes an API key for a role.
#[utoipa::path(post, path = "/api/v1/admin/api-keys", tag = "admin", request_body = NewApiKey,
    responses((status = 201, body = CreatedApiKey), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<NewApiKey>,
) -> ApiResult<(StatusCode, Json<CreatedApiKey>)> {
    let sql = format!(
        "CALL memdb_create_api_key({}, {}, {})",
        literal(&request.role),
        request.comment.as_deref().map_or("NULL".into(), literal),
        request.expires_in.as_deref().map_or("NULL".into(), literal),
    );
    let mut session = state.sessions().fresh();
    // argon2 takes tens of milliseconds: off the async threads.
    let result = tokio::task::spawn_blocking(move || session.session().execute(&sql))
        .await
        .map_err(|e| ApiError::internal(format!("the key task failed: {e}")))??;
    let Some([Value::Text(id), Value::Text(key), Value::Text(role), expires]) =
        result.rows.into_iter().next().and_then(|row| <[Value; 4]>::try_from(row).ok())
    else {
        return Err(ApiError::internal("the new key was not returned"));
    };
    let expires_at = match expires {
        Value::TimestampTz(t) => Some(time(t)),
        _ => None,
    };
    Ok((StatusCode::CREATED, Json(CreatedApiKey { id, key, role, expires_at })))
}

/// Lists the API keys (never their secrets).
#[utoipa::path(get, path = "/api/v1/admin/api-keys", tag = "admin",
    responses((status = 200, body = Vec<ApiKeyInfo>), (status = 403, body = ErrorBody)))]
pub async fn list(State(state): State<AppState>) -> ApiResult<Json<Vec<ApiKeyInfo>>> {
    super::auth::require_superuser(&state, "listing API keys")?;
    let txn = state.db().begin_with(TxnOptions::read_only(IsolationLevel::ReadCommitted))?.uncounted();
    let keys = txn
        .security()
        .api_keys()
        .map(|k| ApiKeyInfo {
            id: k.id.clone(),
            role: k.role.clone(),
            comment: k.comment.clone(),
            created_at: time(k.created_at),
            expires_at: k.expires_at.map(time),
        })
        .collect();
    txn.rollback()?;
    Ok(Json(keys))
}

/// Revokes an API key.
#[utoipa::path(delete, path = "/api/v1/admin/api-keys/{id}", tag = "admin",
    params(("id" = String, Path, description = "The key's id")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke(State(state): State<AppState>, ApiPath(id): ApiPath<String>) -> ApiResult<StatusCode> {
    let mut session = state.sessions().fresh();
    session.session().execute(&format!("CALL memdb_drop_api_key({})", literal(&id)))?;
    Ok(StatusCode::NO_CONTENT)
}
