//! Operations routes: `/health` (the process answers), `/ready` (recovery
//! is done), `/metrics` (Prometheus), and the admin routes that take a
//! backup or a checkpoint.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::ApiJson;
use super::{AppState, Probes};

/// A probe's answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProbeStatus {
    /// `ok`, `ready` or `recovering`.
    pub status: &'static str,
}

fn ready_answer(probes: &Probes) -> (StatusCode, Json<ProbeStatus>) {
    if probes.is_ready() {
        (StatusCode::OK, Json(ProbeStatus { status: "ready" }))
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, Json(ProbeStatus { status: "recovering" }))
    }
}

/// Liveness: 200 whenever the server answers.
#[utoipa::path(get, path = "/health", tag = "ops", responses((status = 200, body = ProbeStatus)))]
pub async fn health() -> Json<ProbeStatus> {
    Json(ProbeStatus { status: "ok" })
}

/// Readiness: 200 once recovery is done, 503 before.
#[utoipa::path(get, path = "/ready", tag = "ops",
    responses((status = 200, body = ProbeStatus), (status = 503, body = ProbeStatus)))]
pub async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    ready_answer(state.probes())
}

/// Metrics in the Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "ops",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let text = state.metrics().render(state.db());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text)
}

/// The body of `POST /api/v1/admin/backup`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupRequest {
    /// A directory on the server that does not exist yet or is empty.
    pub dir: String,
}

/// What a backup holds.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BackupDone {
    /// Where it was written.
    pub dir: String,
    /// The commit it is consistent at.
    pub commit: u64,
    /// Rows written.
    pub rows: u64,
}

/// Takes an online backup (the database stays open for reads and writes).
#[utoipa::path(post, path = "/api/v1/admin/backup", tag = "admin", request_body = BackupRequest,
    responses((status = 200, body = BackupDone), (status = 400, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn backup(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<BackupRequest>,
) -> ApiResult<Json<BackupDone>> {
    super::auth::require_superuser(&state, "a backup")?;
    if request.dir.trim().is_empty() {
        return Err(ApiError::invalid_field("dir", "give a directory"));
    }
    let db = state.db().clone();
    let dir = std::path::PathBuf::from(&request.dir);
    let info = tokio::task::spawn_blocking(move || db.backup(&dir))
        .await
        .map_err(|e| ApiError::internal(format!("the backup task failed: {e}")))?
        .map_err(|e| match e {
            memdb_engine::Error::Io(message) | memdb_engine::Error::InvalidParameter(message) => {
                ApiError::bad_request(format!("backup failed: {message}"))
            }
            other => ApiError::from(other),
        })?;
    Ok(Json(BackupDone { dir: request.dir, commit: info.ts, rows: info.rows }))
}

/// What a checkpoint wrote.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CheckpointDone {
    /// Whether one was written (memory-only databases have none).
    pub written: bool,
}

/// Writes a checkpoint now.
#[utoipa::path(post, path = "/api/v1/admin/checkpoint", tag = "admin",
    responses((status = 200, body = CheckpointDone), (status = 503, body = ErrorBody)))]
pub async fn checkpoint(State(state): State<AppState>) -> ApiResult<Json<CheckpointDone>> {
    super::auth::require_superuser(&state, "a checkpoint")?;
    let db = state.db().clone();
    let info = tokio::task::spawn_blocking(move || db.checkpoint())
        .await
        .map_err(|e| ApiError::internal(format!("the checkpoint task failed: {e}")))??;
    Ok(Json(CheckpointDone { written: info.is_some() }))
}

/// The router of the separate probe port.
pub fn probe_router(probes: Arc<Probes>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(|State(p): State<Arc<Probes>>| async move { ready_answer(&p) }))
        .with_state(probes)
}
