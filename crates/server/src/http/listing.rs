//! Pages of rows: filters, sort keys and keyset cursors, as SQL.
//!
//! A page is `ORDER BY k1, …, kn LIMIT limit + 1` (the extra row tells
//! whether another page follows). The cursor is the last row's sort-key
//! values (the primary key always last, so keys are unique), encoded as
//! base64url JSON together with the sort it belongs to; the next page
//! starts strictly after it with the lexicographic condition
//! `k1 > v1 OR (k1 = v1 AND k2 > v2) OR …`, with NULLs placed as
//! PostgreSQL orders them (last ascending, first descending). Unlike an
//! offset, a keyset cursor neither skips nor repeats rows when others are
//! inserted or deleted between pages, and costs the same on page 1000 as on
//! page 1.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use memdb_engine::{DataType, Value};
use serde_json::{Value as Json, json};

use super::error::{ApiError, ApiResult};
use super::json::{from_json, to_json};

/// The default page size.
pub const DEFAULT_LIMIT: usize = 100;
/// The largest page size.
pub const MAX_LIMIT: usize = 1000;

/// Parameters of a statement being built: `$1`, `$2`, … with their types.
#[derive(Debug, Default)]
pub struct Params {
    /// The declared types.
    pub types: Vec<DataType>,
    /// The values.
    pub values: Vec<Value>,
}

impl Params {
    /// Adds a parameter and returns its placeholder.
    pub fn push(&mut self, ty: DataType, value: Value) -> String {
        self.types.push(ty);
        self.values.push(value);
        format!("${}", self.values.len())
    }
}

/// One sort key: a SQL expression over the query's rows.
#[derive(Clone, Debug)]
pub struct SortKey {
    /// The expression (a column or `doc->'field'`).
    pub expr: String,
    /// Its type (for reading a cursor back).
    pub ty: DataType,
    /// Descending.
    pub desc: bool,
    /// The name the client used (for the cursor's sort signature).
    pub name: String,
}

/// The page size from a `limit` parameter.
pub fn parse_limit(text: Option<&str>) -> ApiResult<usize> {
    match text {
        None => Ok(DEFAULT_LIMIT),
        Some(t) => match t.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            _ => Err(ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "invalid_limit",
                format!("limit must be an integer from 1 to {MAX_LIMIT}, got {t:?}"),
            )),
        },
    }
}

fn signature(keys: &[SortKey]) -> String {
    keys.iter().map(|k| format!("{}{}", if k.desc { "-" } else { "" }, k.name)).collect::<Vec<_>>().join(",")
}

fn bad_cursor(why: &str) -> ApiError {
    ApiError::new(axum::http::StatusCode::BAD_REQUEST, "invalid_cursor", format!("invalid cursor: {why}"))
}

/// The cursor that continues after a row whose sort keys are `values`.
pub fn encode_cursor(keys: &[SortKey], values: &[Value]) -> String {
    let body = json!({ "s": signature(keys), "v": values.iter().map(to_json).collect::<Vec<_>>() });
    URL_SAFE_NO_PAD.encode(body.to_string())
}

/// Reads a cursor back into sort-key values; refuses one made for another
/// sort or tampered with.
pub fn decode_cursor(keys: &[SortKey], cursor: &str) -> ApiResult<Vec<Value>> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor.trim()).map_err(|_| bad_cursor("not base64url"))?;
    let body: Json = serde_json::from_slice(&bytes).map_err(|_| bad_cursor("not a cursor"))?;
    if body.get("s").and_then(Json::as_str) != Some(signature(keys).as_str()) {
        return Err(bad_cursor("it belongs to another sort order"));
    }
    let values = body.get("v").and_then(Json::as_array).ok_or_else(|| bad_cursor("not a cursor"))?;
    if values.len() != keys.len() {
        return Err(bad_cursor("wrong number of values"));
    }
    keys.iter()
        .zip(values)
        .map(|(k, v)| from_json(v, &k.ty, &k.name).map_err(|_| bad_cursor("values do not fit the sort keys")))
        .collect()
}

/// The condition selecting rows strictly after `values` in the order of
/// `keys`.
pub fn after_condition(keys: &[SortKey], values: &[Value], params: &mut Params) -> String {
    let mut alternatives = Vec::new();
    let mut equal_so_far: Vec<String> = Vec::new();
    let last = keys.len().min(values.len()).saturating_sub(1);
    for (i, (key, value)) in keys.iter().zip(values).enumerate() {
        let after = match (value.is_null(), key.desc) {
            // NULLs come last ascending: nothing non-null follows a NULL.
            (true, false) => None,
            (true, true) => Some(format!("{} IS NOT NULL", key.expr)),
            (false, false) => {
                let p = params.push(key.ty.clone(), value.clone());
                Some(format!("({} > {p} OR {} IS NULL)", key.expr, key.expr))
            }
            (false, true) => {
                let p = params.push(key.ty.clone(), value.clone());
                Some(format!("{} < {p}", key.expr))
            }
        };
        if let Some(after) = after {
            let mut terms = equal_so_far.clone();
            terms.push(after);
            alternatives.push(format!("({})", terms.join(" AND ")));
        }
        if i == last {
            break;
        }
        equal_so_far.push(if value.is_null() {
            format!("{} IS NULL", key.expr)
        } else {
            let p = params.push(key.ty.clone(), value.clone());
            format!("{} = {p}", key.expr)
        });
    }
    if alternatives.is_empty() { "false".into() } else { format!("({})", alternatives.join(" OR ")) }
}

/// The `ORDER BY` list of the keys.
pub fn order_by(keys: &[SortKey]) -> String {
    keys.iter().map(|k| format!("{}{}", k.expr, if k.desc { " DESC" } else { "" })).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Vec<SortKey> {
        vec![
            SortKey { expr: "a".into(), ty: DataType::Int8, desc: true, name: "a".into() },
            SortKey { expr: "id".into(), ty: DataType::Text, desc: false, name: "id".into() },
        ]
    }

    #[test]
    fn cursors_round_trip_and_refuse_other_sorts() {
        let values = vec![Value::Int8(5), Value::Text("x".into())];
        let cursor = encode_cursor(&keys(), &values);
        let back = decode_cursor(&keys(), &cursor).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back.iter().map(ToString::to_string).collect::<Vec<_>>(), vec!["5", "x"]);
        let mut other = keys();
        other[0].desc = false;
        assert_eq!(decode_cursor(&other, &cursor).err().map(|e| e.code), Some("invalid_cursor"));
        assert_eq!(decode_cursor(&keys(), "!!!").err().map(|e| e.code), Some("invalid_cursor"));
    }

    #[test]
    fn the_after_condition_places_nulls_as_postgres_orders_them() {
        let mut params = Params::default();
        let sql = after_condition(&keys(), &[Value::Null, Value::Text("x".into())], &mut params);
        assert_eq!(sql, "((a IS NOT NULL) OR (a IS NULL AND (id > $1 OR id IS NULL)))");
        let mut params = Params::default();
        let sql = after_condition(&keys(), &[Value::Int8(3), Value::Text("x".into())], &mut params);
        assert_eq!(sql, "((a < $1) OR (a = $2 AND (id > $3 OR id IS NULL)))");
        assert_eq!(params.values.len(), 3);
    }
}
