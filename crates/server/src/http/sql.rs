//! `POST /api/v1/sql`: SQL text (and parameters) in, typed JSON out.
//!
//! One statement runs on its own (autocommit); several `;`-separated
//! statements run in one transaction that commits when all succeed and
//! rolls back at the first error. An HTTP request is the transaction, so
//! transaction control statements (`BEGIN`, `COMMIT`, …) are refused, as
//! is `COPY` (use pgwire for bulk loads).

use axum::Json;
use axum::extract::State;
use memdb_engine::{DataType, Value};
use memdb_sql::{QueryResult, Session, Statement};
use serde::{Deserialize, Serialize};
use serde_json::{Value as JsonValue, json};

use super::AppState;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::ApiJson;
use super::json::{from_json, to_json};

/// The body of `POST /api/v1/sql`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SqlRequest {
    /// One statement, or several separated by `;` (run in one transaction).
    pub sql: String,
    /// Values of `$1`, `$2`, … (one statement only). A string is read as
    /// the parameter type's text form, so `"2024-01-01"` fits a date.
    #[serde(default)]
    pub params: Vec<JsonValue>,
}

/// A result column.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SqlColumn {
    /// The column name.
    pub name: String,
    /// Its SQL type.
    #[serde(rename = "type")]
    pub data_type: String,
}

/// One statement's result.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StatementResult {
    /// The command tag (`SELECT 2`, `INSERT 0 1`, `CREATE TABLE`, …).
    pub command: String,
    /// The result columns (empty without rows).
    pub columns: Vec<SqlColumn>,
    /// The rows, each an array in column order.
    pub rows: Vec<Vec<JsonValue>>,
}

/// The answer: the last statement's result, and every statement's when
/// there were several.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SqlResponse {
    /// The last statement's command tag.
    pub command: String,
    /// The last statement's columns.
    pub columns: Vec<SqlColumn>,
    /// The last statement's rows.
    pub rows: Vec<Vec<JsonValue>>,
    /// Every statement's result, when the request had several.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub results: Option<Vec<StatementResult>>,
}

fn statement_result(result: QueryResult) -> StatementResult {
    StatementResult {
        command: result.tag,
        columns: result
            .columns
            .iter()
            .map(|c| SqlColumn { name: c.name.clone(), data_type: c.data_type.to_string() })
            .collect(),
        rows: result.rows.iter().map(|row| row.iter().map(to_json).collect()).collect(),
    }
}

/// A parameter value for a parameter of type `ty`.
fn param_value(json: &JsonValue, ty: &DataType, index: usize) -> ApiResult<Value> {
    let name = format!("${}", index + 1);
    match (json, ty) {
        (JsonValue::String(s), ty) if !matches!(ty, DataType::Json | DataType::Jsonb | DataType::Bytea) => {
            Value::parse(s, ty).map_err(|e| ApiError::invalid_field(&name, format!("parameter {name}: {e}")))
        }
        (JsonValue::Number(n), DataType::Text | DataType::Varchar(_)) => Ok(Value::Text(n.to_string())),
        (JsonValue::Bool(b), DataType::Text | DataType::Varchar(_)) => Ok(Value::Text(b.to_string())),
        _ => from_json(json, ty, &name),
    }
}

fn refuse(stmt: &Statement) -> ApiResult<()> {
    match stmt {
        Statement::StartTransaction { .. }
        | Statement::Commit { .. }
        | Statement::Rollback { .. }
        | Statement::Savepoint { .. }
        | Statement::ReleaseSavepoint { .. } => Err(ApiError::bad_request(
            "transaction control is not available over HTTP: each request is one transaction",
        )),
        Statement::Copy { .. } => {
            Err(ApiError::bad_request("COPY is not available over HTTP; use the PostgreSQL protocol"))
        }
        // The request timeout bounds every statement; a request may not
        // lift it.
        stmt if changes_statement_timeout(stmt) => {
            Err(ApiError::bad_request("statement_timeout is set by the server's http_request_timeout over HTTP"))
        }
        _ => Ok(()),
    }
}

/// Whether a statement is `SET`/`RESET` of `statement_timeout` (or `RESET ALL`).
fn changes_statement_timeout(stmt: &Statement) -> bool {
    let text = stmt.to_string().to_ascii_lowercase();
    (text.starts_with("set ") || text.starts_with("reset "))
        && (text.contains("statement_timeout") || text.trim_end_matches(';').trim() == "reset all")
}

fn at_statement(e: impl Into<ApiError>, index: usize) -> ApiError {
    let mut e = e.into();
    match &mut e.details {
        JsonValue::Object(map) => {
            map.insert("statement".into(), json!(index));
        }
        other => *other = json!({ "statement": index }),
    }
    e
}

/// Runs the request on a session.
fn run(session: &mut Session, request: &SqlRequest) -> ApiResult<Vec<StatementResult>> {
    let statements = memdb_sql::parse(&request.sql)?;
    for stmt in &statements {
        refuse(stmt)?;
    }
    match statements.as_slice() {
        [] => Err(ApiError::bad_request("no statement")),
        [_] if request.params.is_empty() => {
            let result = session.execute(&request.sql)?;
            Ok(vec![statement_result(result)])
        }
        [_] => {
            let mut prepared = session.prepare_described(&request.sql, Vec::new())?;
            let types = prepared.parameter_types();
            if types.len() != request.params.len() {
                return Err(ApiError::bad_request(format!(
                    "the statement takes {} parameters, the request gives {}",
                    types.len(),
                    request.params.len()
                )));
            }
            let values = request
                .params
                .iter()
                .zip(&types)
                .enumerate()
                .map(|(i, (json, ty))| param_value(json, ty, i))
                .collect::<ApiResult<Vec<_>>>()?;
            Ok(vec![statement_result(session.execute_prepared(&mut prepared, &values)?)])
        }
        _ if !request.params.is_empty() => Err(ApiError::bad_request("params need a single statement")),
        many => {
            session.execute("BEGIN")?;
            let mut results = Vec::with_capacity(many.len());
            for (i, stmt) in many.iter().enumerate() {
                match session.execute_statement(stmt, &[]) {
                    Ok(r) => results.push(statement_result(r)),
                    Err(e) => {
                        session.execute("ROLLBACK").map_err(ApiError::from)?;
                        return Err(at_statement(e, i));
                    }
                }
            }
            session.execute("COMMIT")?;
            Ok(results)
        }
    }
}

/// Runs SQL.
#[utoipa::path(post, path = "/api/v1/sql", tag = "sql", request_body = SqlRequest,
    responses(
        (status = 200, body = SqlResponse),
        (status = 400, description = "The SQL failed (details.sqlstate says why)", body = ErrorBody),
        (status = 409, description = "A conflict (unique violation, serialization failure)", body = ErrorBody)))]
pub async fn sql(State(state): State<AppState>, ApiJson(request): ApiJson<SqlRequest>) -> ApiResult<Json<SqlResponse>> {
    // A session of its own: what a request SETs, PREPAREs or creates as
    // temporary dies with it instead of reaching the next request.
    let mut s = state.sessions().fresh();
    let start = std::time::Instant::now();
    let results = run(s.session(), &request);
    s.observe(&request.sql, start);
    let results = results?;
    let last = results.last().cloned().ok_or_else(|| ApiError::bad_request("no statement"))?;
    let earlier = (results.len() > 1).then_some(results);
    Ok(Json(SqlResponse { command: last.command, columns: last.columns, rows: last.rows, results: earlier }))
}
