//! Tables over HTTP: create one from a JSON schema, describe, list, drop.
//!
//! A table created here is an ordinary SQL table (queryable over pgwire
//! and `/api/v1/sql`): each field becomes a column of the mapped type
//! (`string` → `text`, `int` → `bigint`, `float` → `double precision`,
//! `decimal` → `numeric`, `bool` → `boolean`, `time` → `timestamptz`,
//! `date` → `date`, `json`/`map` → `jsonb`, `bytes` → `bytea`, `uuid` →
//! `uuid`, `array` → `<items>[]`), `required` is `NOT NULL`, `unique` a
//! unique constraint, `default` the column default. The primary key is
//! the `primary_key` field (default `id`); an `id` the schema leaves out
//! is added as a generated `bigint` identity, as is an integer key without
//! a default, so records posted without an id get one.
//!
//! A *collection* is the schemaless form: `(id text PRIMARY KEY, doc jsonb
//! NOT NULL)`, made when a record is posted to a table that does not exist.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use memdb_engine::{DataType, IndexKind, TableSchema};
use serde::{Deserialize, Serialize};
use serde_json::Value as JsonValue;

use super::AppState;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath};
use super::json::{api_type_name, from_json};
use super::sessions::{quote_ident, quote_literal};

/// The longest table or field name (PostgreSQL's identifier limit).
const MAX_NAME: usize = 63;

/// A field type of a table schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    /// `text`
    String,
    /// `bigint`
    Int,
    /// `double precision`
    Float,
    /// `numeric` (exact)
    Decimal,
    /// `boolean`
    Bool,
    /// `timestamptz` (ISO 8601 in JSON)
    Time,
    /// `date`
    Date,
    /// `jsonb`: any JSON document.
    Json,
    /// `jsonb` holding an object.
    Map,
    /// `bytea` (base64 in JSON)
    Bytes,
    /// `uuid`
    Uuid,
    /// An array of `items`.
    Array,
}

impl FieldType {
    fn sql(self, items: Option<FieldType>, field: &str) -> ApiResult<String> {
        Ok(match self {
            FieldType::String => "text".into(),
            FieldType::Int => "bigint".into(),
            FieldType::Float => "double precision".into(),
            FieldType::Decimal => "numeric".into(),
            FieldType::Bool => "boolean".into(),
            FieldType::Time => "timestamptz".into(),
            FieldType::Date => "date".into(),
            FieldType::Json | FieldType::Map => "jsonb".into(),
            FieldType::Bytes => "bytea".into(),
            FieldType::Uuid => "uuid".into(),
            FieldType::Array => match items.unwrap_or(FieldType::String) {
                FieldType::Array => {
                    return Err(ApiError::invalid_field(
                        field,
                        format!("field \"{field}\": arrays of arrays are not supported"),
                    ));
                }
                inner => format!("{}[]", inner.sql(None, field)?),
            },
        })
    }
}

/// A field of a new table.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    /// The field (column) name.
    pub name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub kind: FieldType,
    /// The element type of an `array` field (default `string`).
    #[serde(default)]
    pub items: Option<FieldType>,
    /// Whether every record must have it (`NOT NULL`).
    #[serde(default)]
    pub required: bool,
    /// Whether no two records may share a value.
    #[serde(default)]
    pub unique: bool,
    /// The value a record without the field gets.
    #[serde(default)]
    pub default: Option<JsonValue>,
}

/// An index of a new table.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IndexSpec {
    /// The indexed fields, in key order.
    pub fields: Vec<String>,
    /// Whether the key must be unique.
    #[serde(default)]
    pub unique: bool,
    /// `btree` (default: equality, ranges and order) or `hash` (equality).
    #[serde(default)]
    pub kind: Option<IndexKindName>,
    /// The index name (default `<table>_<fields>_idx`).
    #[serde(default)]
    pub name: Option<String>,
}

/// An index organization.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum IndexKindName {
    /// Ordered.
    Btree,
    /// Hashed.
    Hash,
}

/// The body of `POST /api/v1/tables`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTable {
    /// The table name.
    pub name: String,
    /// The fields, in column order.
    pub fields: Vec<FieldSpec>,
    /// The primary key field (default `id`, added as a generated integer
    /// when `fields` has none).
    #[serde(default)]
    pub primary_key: Option<String>,
    /// Secondary indexes.
    #[serde(default)]
    pub indexes: Vec<IndexSpec>,
}

/// A field of a described table.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FieldInfo {
    /// The column name.
    pub name: String,
    /// The API type (`string`, `int`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// The SQL type.
    pub sql_type: String,
    /// Whether it is `NOT NULL`.
    pub required: bool,
    /// Whether a unique index covers it alone.
    pub unique: bool,
    /// Whether it is the primary key.
    pub primary_key: bool,
    /// The default expression, as SQL.
    pub default: Option<String>,
}

/// An index of a described table.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IndexInfo {
    /// The index name.
    pub name: String,
    /// The indexed fields.
    pub fields: Vec<String>,
    /// Whether the key is unique.
    pub unique: bool,
    /// Whether it is the primary key.
    pub primary: bool,
    /// `btree` or `hash`.
    pub kind: IndexKindName,
}

/// A table's description.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TableInfo {
    /// The table name.
    pub name: String,
    /// `table` (typed) or `collection` (schemaless id + document).
    pub kind: &'static str,
    /// The primary key field, if the key is one column.
    pub primary_key: Option<String>,
    /// The fields, in column order.
    pub fields: Vec<FieldInfo>,
    /// The indexes.
    pub indexes: Vec<IndexInfo>,
    /// Approximate live rows.
    pub rows: u64,
}

/// The body of `GET /api/v1/tables`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TableList {
    /// Every table, by name.
    pub tables: Vec<TableInfo>,
}

/// Checks a table or field name.
pub fn check_name(what: &str, name: &str) -> ApiResult<()> {
    if name.is_empty() || name.len() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(ApiError::bad_request(format!(
            "invalid {what} name {name:?}: 1 to {MAX_NAME} bytes without control characters"
        ))
        .with_details(serde_json::json!({ "field": what })));
    }
    Ok(())
}

/// Whether a table has the collection shape `(id text PK, doc jsonb)`.
pub fn is_collection(schema: &TableSchema) -> bool {
    let columns: Vec<_> = schema.live_columns().collect();
    let pk = schema.primary_key_index().map(|i| i.columns.as_slice());
    matches!(columns.as_slice(), [(i, id), (_, doc)]
        if id.name == "id" && id.data_type == DataType::Text && doc.name == "doc"
            && doc.data_type == DataType::Jsonb && pk == Some(&[*i][..]))
}

/// The SQL that makes a collection.
pub fn create_collection_sql(name: &str) -> String {
    format!("CREATE TABLE IF NOT EXISTS {} (id text PRIMARY KEY, doc jsonb NOT NULL)", quote_ident(name))
}

/// Describes a table.
pub fn describe(schema: &TableSchema, rows: u64) -> TableInfo {
    let names: Vec<String> = schema.columns.iter().map(|c| c.name.clone()).collect();
    let pk = schema.primary_key_index().map(|i| i.columns.clone()).unwrap_or_default();
    let fields = schema
        .live_columns()
        .map(|(pos, c)| FieldInfo {
            name: c.name.clone(),
            kind: api_type_name(&c.data_type),
            sql_type: c.data_type.to_string(),
            required: !c.nullable,
            unique: schema.indexes.iter().any(|i| i.unique && i.columns == [pos]),
            primary_key: pk == [pos],
            default: c.default.as_ref().map(|d| d.to_sql(&names)),
        })
        .collect();
    let indexes = schema
        .indexes
        .iter()
        .map(|i| IndexInfo {
            name: i.name.clone(),
            fields: i.columns.iter().filter_map(|c| names.get(*c).cloned()).collect(),
            unique: i.unique,
            primary: i.primary,
            kind: match i.kind {
                IndexKind::BTree => IndexKindName::Btree,
                IndexKind::Hash => IndexKindName::Hash,
            },
        })
        .collect();
    TableInfo {
        name: schema.name.clone(),
        kind: if is_collection(schema) { "collection" } else { "table" },
        primary_key: match pk.as_slice() {
            [one] => names.get(*one).cloned(),
            _ => None,
        },
        fields,
        indexes,
        rows,
    }
}

/// The statements that create a table from its JSON schema.
fn create_statements(spec: &CreateTable) -> ApiResult<Vec<String>> {
    check_name("table", &spec.name)?;
    let pk = spec.primary_key.clone().unwrap_or_else(|| "id".into());
    let mut columns = Vec::new();
    let mut seen = std::collections::HashSet::new();
    if !spec.fields.iter().any(|f| f.name == pk) {
        if spec.primary_key.is_some() {
            return Err(ApiError::invalid_field(&pk, format!("primary key \"{pk}\" is not among the fields")));
        }
        columns.push(format!("{} bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", quote_ident(&pk)));
    }
    for field in &spec.fields {
        check_name("field", &field.name)?;
        if !seen.insert(field.name.as_str()) {
            return Err(ApiError::invalid_field(&field.name, format!("field \"{}\" appears twice", field.name)));
        }
        if field.items.is_some() && field.kind != FieldType::Array {
            return Err(ApiError::invalid_field(&field.name, "`items` applies to array fields only"));
        }
        let sql_type = field.kind.sql(field.items, &field.name)?;
        let mut column = format!("{} {sql_type}", quote_ident(&field.name));
        let is_pk = field.name == pk;
        match &field.default {
            Some(default) if !default.is_null() => {
                let ty = column_type(field)?;
                let value = from_json(default, &ty, &field.name)?;
                let text = match &value {
                    memdb_engine::Value::Jsonb(j) => j.to_string(),
                    other => other.to_string(),
                };
                column.push_str(&format!(" DEFAULT {}::{sql_type}", quote_literal(&text)));
            }
            _ if is_pk && field.kind == FieldType::Int => column.push_str(" GENERATED BY DEFAULT AS IDENTITY"),
            _ => {}
        }
        if is_pk {
            column.push_str(" PRIMARY KEY");
        } else {
            if field.required {
                column.push_str(" NOT NULL");
            }
            if field.unique {
                column.push_str(" UNIQUE");
            }
        }
        columns.push(column);
    }
    let mut statements = vec![format!("CREATE TABLE {} ({})", quote_ident(&spec.name), columns.join(", "))];
    for index in &spec.indexes {
        if index.fields.is_empty() {
            return Err(ApiError::invalid_field("indexes", "an index needs at least one field"));
        }
        for f in &index.fields {
            if !spec.fields.iter().any(|x| &x.name == f) && f != &pk {
                return Err(ApiError::invalid_field(f, format!("index field \"{f}\" is not among the fields")));
            }
        }
        let name = match &index.name {
            Some(n) => {
                check_name("index", n)?;
                n.clone()
            }
            None => format!("{}_{}_idx", spec.name, index.fields.join("_")),
        };
        let using = match index.kind {
            Some(IndexKindName::Hash) => " USING hash",
            _ => "",
        };
        let fields: Vec<String> = index.fields.iter().map(|f| quote_ident(f)).collect();
        statements.push(format!(
            "CREATE {}INDEX {} ON {}{using} ({})",
            if index.unique { "UNIQUE " } else { "" },
            quote_ident(&name),
            quote_ident(&spec.name),
            fields.join(", ")
        ));
    }
    Ok(statements)
}

/// The engine type of a field spec.
fn column_type(field: &FieldSpec) -> ApiResult<DataType> {
    let scalar = |t: FieldType| match t {
        FieldType::String => DataType::Text,
        FieldType::Int => DataType::Int8,
        FieldType::Float => DataType::Float8,
        FieldType::Decimal => DataType::Numeric(None),
        FieldType::Bool => DataType::Bool,
        FieldType::Time => DataType::TimestampTz,
        FieldType::Date => DataType::Date,
        FieldType::Json | FieldType::Map => DataType::Jsonb,
        FieldType::Bytes => DataType::Bytea,
        FieldType::Uuid => DataType::Uuid,
        FieldType::Array => DataType::Array(Box::new(DataType::Text)),
    };
    Ok(match field.kind {
        FieldType::Array => DataType::Array(Box::new(scalar(field.items.unwrap_or(FieldType::String)))),
        other => scalar(other),
    })
}

/// The current schema of a table, or 404.
pub fn load(state: &AppState, name: &str) -> ApiResult<Arc<TableSchema>> {
    state.db().table_schema(name).ok_or_else(|| {
        ApiError::new(StatusCode::NOT_FOUND, "undefined_table", format!("table \"{name}\" does not exist"))
    })
}

fn rows_of(state: &AppState, name: &str) -> u64 {
    state.db().table_row_counts().into_iter().find(|(n, _)| n == name).map_or(0, |(_, r)| r)
}

/// Lists the tables.
#[utoipa::path(get, path = "/api/v1/tables", tag = "tables",
    responses((status = 200, description = "Every table", body = TableList)))]
pub async fn list_tables(State(state): State<AppState>) -> ApiResult<Json<TableList>> {
    let counts: std::collections::HashMap<String, u64> = state.db().table_row_counts().into_iter().collect();
    let mut tables: Vec<TableInfo> =
        state.db().schemas().iter().map(|s| describe(s, counts.get(&s.name).copied().unwrap_or(0))).collect();
    tables.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Json(TableList { tables }))
}

/// Creates a table from a JSON schema.
#[utoipa::path(post, path = "/api/v1/tables", tag = "tables", request_body = CreateTable,
    responses(
        (status = 201, description = "Created", body = TableInfo),
        (status = 409, description = "The table exists", body = ErrorBody),
        (status = 422, description = "The schema is invalid", body = ErrorBody)))]
pub async fn create_table(
    State(state): State<AppState>,
    ApiJson(spec): ApiJson<CreateTable>,
) -> ApiResult<(StatusCode, Json<TableInfo>)> {
    let statements = create_statements(&spec)?;
    state.sessions().with(|s| {
        s.transaction(|s| {
            for sql in &statements {
                s.session().execute(sql)?;
            }
            Ok(())
        })
    })?;
    let schema = load(&state, &spec.name)?;
    Ok((StatusCode::CREATED, Json(describe(&schema, 0))))
}

/// Describes one table.
#[utoipa::path(get, path = "/api/v1/tables/{table}", tag = "tables",
    params(("table" = String, Path, description = "Table name")),
    responses((status = 200, body = TableInfo), (status = 404, body = ErrorBody)))]
pub async fn get_table(State(state): State<AppState>, ApiPath(table): ApiPath<String>) -> ApiResult<Json<TableInfo>> {
    let schema = load(&state, &table)?;
    Ok(Json(describe(&schema, rows_of(&state, &table))))
}

/// Drops a table and its records.
#[utoipa::path(delete, path = "/api/v1/tables/{table}", tag = "tables",
    params(("table" = String, Path, description = "Table name")),
    responses((status = 204, description = "Dropped"), (status = 404, body = ErrorBody),
        (status = 409, description = "Other objects depend on it", body = ErrorBody)))]
pub async fn delete_table(State(state): State<AppState>, ApiPath(table): ApiPath<String>) -> ApiResult<StatusCode> {
    load(&state, &table)?;
    state.sessions().with(|s| s.session().execute(&format!("DROP TABLE {}", quote_ident(&table))))?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: serde_json::Value) -> CreateTable {
        serde_json::from_value(json).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn schemas_become_create_table_statements() {
        let sql = create_statements(&spec(serde_json::json!({
            "name": "users",
            "fields": [
                {"name": "email", "type": "string", "required": true, "unique": true},
                {"name": "age", "type": "int", "default": 0},
                {"name": "tags", "type": "array", "items": "string"}
            ],
            "indexes": [{"fields": ["age"]}]
        })))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            sql[0],
            "CREATE TABLE \"users\" (\"id\" bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, \
             \"email\" text NOT NULL UNIQUE, \"age\" bigint DEFAULT '0'::bigint, \"tags\" text[])"
        );
        assert_eq!(sql[1], "CREATE INDEX \"users_age_idx\" ON \"users\" (\"age\")");
    }

    #[test]
    fn bad_schemas_name_the_field() {
        for (body, field) in [
            (serde_json::json!({"name": "t", "fields": [{"name": "a", "type": "int", "default": "x"}]}), "a"),
            (
                serde_json::json!({"name": "t", "fields": [{"name": "a", "type": "int"}, {"name": "a", "type": "int"}]}),
                "a",
            ),
            (serde_json::json!({"name": "t", "fields": [], "primary_key": "k"}), "k"),
            (serde_json::json!({"name": "t", "fields": [], "indexes": [{"fields": ["zz"]}]}), "zz"),
        ] {
            match create_statements(&spec(body)) {
                Ok(sql) => panic!("accepted: {sql:?}"),
                Err(e) => assert_eq!(e.details["field"], field),
            }
        }
    }
}
