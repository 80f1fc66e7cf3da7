//! Joins over HTTP: the records of two tables whose `key` fields are
//! equal, each result carrying both records under their table names.
//!
//! The route builds one SQL join (`a JOIN b ON a.key = b.key`), so the SQL
//! engine plans it — a hash join on the key — and pages it with the
//! keyset cursor of [`super::listing`] over both primary keys. Keys of
//! different types (or a typed column against a collection's document
//! field) are compared as text; two collections compare their documents'
//! fields as JSON.

use axum::Json;
use axum::extract::State;
use memdb_engine::DataType;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as JsonValue};

use super::AppState;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{ApiPath, ApiQuery};
use super::listing::{self, Params, SortKey};
use super::records::RecordTable;

/// The kind of join.
#[derive(Clone, Copy, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JoinType {
    /// Only pairs that match.
    #[default]
    Inner,
    /// Every record of the first table, with `null` when nothing matches.
    Left,
}

/// Query parameters of a join.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct JoinQuery {
    /// `inner` (default) or `left`.
    #[serde(rename = "type")]
    #[param(value_type = Option<String>)]
    pub kind: Option<JoinType>,
    /// Page size, 1 to 1000 (default 100).
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A page of joined pairs.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct JoinPage {
    /// One object per pair: `{table1: record, table2: record|null}`.
    #[schema(value_type = Vec<Object>)]
    pub results: Vec<JsonValue>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// The key expression of each side, comparable with each other.
fn key_expressions(left: &RecordTable, right: &RecordTable, key: &str) -> ApiResult<(String, String)> {
    let (a, a_ty) = left.field("a", key)?;
    let (b, b_ty) = right.field("b", key)?;
    Ok(match (left.is_collection(), right.is_collection()) {
        (true, true) => (a, b),
        _ if a_ty == b_ty => (a, b),
        // Text on both sides: a document field as its text (`->>`), a
        // column cast.
        _ => (as_text(left, "a", key, &a, &a_ty), as_text(right, "b", key, &b, &b_ty)),
    })
}

fn as_text(table: &RecordTable, alias: &str, key: &str, expr: &str, ty: &DataType) -> String {
    if table.is_collection() {
        format!("{alias}.doc->>{}", super::sessions::quote_literal(key))
    } else if *ty == DataType::Text {
        expr.to_owned()
    } else {
        format!("CAST({expr} AS text)")
    }
}

/// Runs a join page.
pub fn join(state: &AppState, t1: &str, t2: &str, key: &str, query: &JoinQuery) -> ApiResult<JoinPage> {
    let left = RecordTable::load(state, t1)?;
    let right = RecordTable::load(state, t2)?;
    let (ka, kb) = key_expressions(&left, &right, key)?;
    let no_key =
        |t: &RecordTable| ApiError::bad_request(format!("table \"{}\" has no single-column primary key", t.name()));
    let (pa, pa_ty) = left.primary_key().ok_or_else(|| no_key(&left))?;
    let (pb, pb_ty) = right.primary_key().ok_or_else(|| no_key(&right))?;
    let keys = vec![
        SortKey { expr: format!("a.{pa}"), ty: pa_ty.clone(), desc: false, name: "a".into() },
        SortKey { expr: format!("b.{pb}"), ty: pb_ty.clone(), desc: false, name: "b".into() },
    ];
    let limit = listing::parse_limit(query.limit.as_deref())?;
    let mut params = Params::default();
    let filter = match &query.cursor {
        Some(cursor) => {
            let after = listing::decode_cursor(&keys, cursor)?;
            format!(" WHERE {}", listing::after_condition(&keys, &after, &mut params))
        }
        None => String::new(),
    };
    let join = match query.kind.unwrap_or_default() {
        JoinType::Inner => "JOIN",
        JoinType::Left => "LEFT JOIN",
    };
    let sql = format!(
        "SELECT {}, {}, a.{pa}, b.{pb} FROM {} a {join} {} b ON {ka} = {kb}{filter} ORDER BY {} LIMIT {}",
        left.select_list("a"),
        right.select_list("b"),
        left.quoted(),
        right.quoted(),
        listing::order_by(&keys),
        limit + 1
    );
    let result = state.sessions().with(|s| s.query(&sql, &params.types, &params.values))?;
    let (wa, wb) = (left.select_width(), right.select_width());
    let more = result.rows.len() > limit;
    let rows = &result.rows[..result.rows.len().min(limit)];
    let right_name = if t1 == t2 { format!("{t2}_2") } else { t2.to_owned() };
    let results = rows
        .iter()
        .map(|row| {
            let a = left.record(row.get(..wa).unwrap_or_default());
            let b_values = row.get(wa..wa + wb).unwrap_or_default();
            // A left join's missing side: its key is NULL.
            let b = match row.get(wa + wb + 1) {
                Some(v) if v.is_null() => JsonValue::Null,
                _ => right.record(b_values),
            };
            let mut pair = Map::new();
            pair.insert(t1.to_owned(), a);
            pair.insert(right_name.clone(), b);
            JsonValue::Object(pair)
        })
        .collect();
    let next_cursor = match rows.last() {
        Some(last) if more => Some(listing::encode_cursor(&keys, last.get(wa + wb..).unwrap_or_default())),
        _ => None,
    };
    Ok(JoinPage { results, next_cursor })
}

/// Joins two tables on equal `key` fields.
#[utoipa::path(get, path = "/api/v1/join/{table1}/{table2}/{key}", tag = "join",
    params(
        ("table1" = String, Path, description = "First table"),
        ("table2" = String, Path, description = "Second table"),
        ("key" = String, Path, description = "The field both tables are matched on"),
        JoinQuery),
    responses((status = 200, body = JoinPage), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn join_route(
    State(state): State<AppState>,
    ApiPath((t1, t2, key)): ApiPath<(String, String, String)>,
    ApiQuery(query): ApiQuery<JoinQuery>,
) -> ApiResult<Json<JoinPage>> {
    Ok(Json(join(&state, &t1, &t2, &key, &query)?))
}
