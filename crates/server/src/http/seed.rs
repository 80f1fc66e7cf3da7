//! The seed service's routes, kept exactly as scripts know them:
//! `POST /add_record/{table}`, `PUT /update_record/{table}/{record_id}`,
//! `DELETE /delete_record/{table}/{record_id}`, `GET /join/{table1}/{table2}/{key}`.
//! They behave as their `/api/v1` counterparts (add, replace, delete, join).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::Value as JsonValue;

use super::AppState;
use super::error::{ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::join::{JoinPage, JoinQuery};
use super::records;

/// Adds a record (its `id` field, or a generated one); creates the table
/// as a collection when it does not exist.
#[utoipa::path(post, path = "/add_record/{table}", tag = "seed",
    params(("table" = String, Path, description = "Table name")),
    request_body(content = Object, description = "The record"),
    responses((status = 201, description = "The stored record", body = Object), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn add_record(
    State(state): State<AppState>,
    ApiPath(table): ApiPath<String>,
    ApiJson(record): ApiJson<JsonValue>,
) -> ApiResult<(StatusCode, Json<JsonValue>)> {
    Ok((StatusCode::CREATED, Json(records::add_record(&state, &table, &record)?)))
}

/// Replaces a record.
#[utoipa::path(put, path = "/update_record/{table}/{record_id}", tag = "seed",
    params(("table" = String, Path, description = "Table name"), ("record_id" = String, Path, description = "Record id")),
    request_body(content = Object, description = "The new record"),
    responses((status = 200, description = "The record", body = Object), (status = 404, body = ErrorBody)))]
pub async fn update_record(
    State(state): State<AppState>,
    ApiPath((table, id)): ApiPath<(String, String)>,
    ApiJson(record): ApiJson<JsonValue>,
) -> ApiResult<Json<JsonValue>> {
    Ok(Json(records::replace_record(&state, &table, &id, &record)?))
}

/// Deletes a record.
#[utoipa::path(delete, path = "/delete_record/{table}/{record_id}", tag = "seed",
    params(("table" = String, Path, description = "Table name"), ("record_id" = String, Path, description = "Record id")),
    responses((status = 204, description = "Deleted"), (status = 404, body = ErrorBody)))]
pub async fn delete_record(
    State(state): State<AppState>,
    ApiPath((table, id)): ApiPath<(String, String)>,
) -> ApiResult<StatusCode> {
    records::delete_record(&state, &table, &id)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Joins two tables on equal `key` fields.
#[utoipa::path(get, path = "/join/{table1}/{table2}/{key}", tag = "seed",
    params(
        ("table1" = String, Path, description = "First table"),
        ("table2" = String, Path, description = "Second table"),
        ("key" = String, Path, description = "The field both tables are matched on"),
        JoinQuery),
    responses((status = 200, body = JoinPage), (status = 404, body = ErrorBody)))]
pub async fn join(
    State(state): State<AppState>,
    ApiPath((t1, t2, key)): ApiPath<(String, String, String)>,
    ApiQuery(query): ApiQuery<JoinQuery>,
) -> ApiResult<Json<JoinPage>> {
    Ok(Json(super::join::join(&state, &t1, &t2, &key, &query)?))
}
