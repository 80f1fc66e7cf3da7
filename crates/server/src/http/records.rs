//! Records: rows of a table as JSON objects, addressed by primary key.
//!
//! Every operation is SQL the route builds with parameters and runs through
//! a pooled session (its plan prepared once per session), so a record
//! written here is a row every SQL client sees, checked by the same
//! constraints. The one exception is the hot read by id, which does the
//! primary-key lookup that SQL's plan would do straight on the engine, in
//! a read-only snapshot of its own ([`RecordTable::get_response`]). Typed tables take fields named like their columns, each
//! validated against the column type (422 naming the field); collections
//! keep the whole object as the `doc` document, keyed by its `id`.

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use memdb_engine::{DataType, IsolationLevel, TableSchema, TxnOptions, Value};
use memdb_sql::QueryResult;
use serde::Serialize;
use serde_json::{Map, Value as JsonValue};

use super::AppState;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::json::{JsonOf, from_json, to_json};
use super::listing::{self, Params, SortKey};
use super::sessions::{HttpSession, quote_ident, quote_literal};
use super::tables::{self, create_collection_sql, is_collection};

/// The most fields a listing may sort by.
const MAX_SORT_KEYS: usize = 16;

/// The largest batch of records one request may add.
pub const MAX_BATCH: usize = 10_000;

/// A column as the record routes use it.
#[derive(Debug, Clone)]
struct ColumnInfo {
    name: String,
    quoted: String,
    ty: DataType,
    has_default: bool,
}

/// A table as the record routes see it.
#[derive(Debug)]
pub struct RecordTable {
    name: String,
    quoted: String,
    collection: bool,
    columns: Vec<ColumnInfo>,
    /// The single-column primary key, as an index into `columns`.
    pk: Option<usize>,
    /// The schema this view was made from (to tell when it is stale).
    schema: Option<Arc<TableSchema>>,
    /// `SELECT … WHERE pk = $1`, made once.
    get_sql: String,
}

impl RecordTable {
    /// The record view of a table's schema.
    pub fn new(schema: &Arc<TableSchema>) -> RecordTable {
        let columns: Vec<ColumnInfo> = schema
            .live_columns()
            .map(|(_, c)| ColumnInfo {
                name: c.name.clone(),
                quoted: quote_ident(&c.name),
                ty: c.data_type.clone(),
                has_default: c.default.is_some(),
            })
            .collect();
        let pk = match schema.primary_key_index().map(|i| i.columns.as_slice()) {
            Some([pos]) => schema.columns.get(*pos).and_then(|c| columns.iter().position(|x| x.name == c.name)),
            _ => None,
        };
        RecordTable {
            name: schema.name.clone(),
            quoted: quote_ident(&schema.name),
            collection: is_collection(schema),
            columns,
            pk,
            schema: Some(schema.clone()),
            get_sql: String::new(),
        }
        .with_get_sql()
    }

    fn with_get_sql(mut self) -> RecordTable {
        if let Some(pk) = self.pk.and_then(|i| self.columns.get(i)) {
            self.get_sql =
                format!("SELECT {} FROM {} WHERE {} = $1", self.select_list(&self.quoted), self.quoted, pk.quoted);
        }
        self
    }

    /// Whether this view was made from `schema`.
    fn is_of(&self, schema: &Arc<TableSchema>) -> bool {
        self.schema.as_ref().is_some_and(|s| Arc::ptr_eq(s, schema))
    }

    /// Loads a table (404 when it does not exist); the view is cached
    /// while the table's schema stays the same.
    pub fn load(state: &AppState, name: &str) -> ApiResult<Arc<RecordTable>> {
        let schema = tables::load(state, name)?;
        if let Some(cached) = state.record_tables().read().get(name)
            && cached.is_of(&schema)
        {
            return Ok(cached.clone());
        }
        let table = Arc::new(RecordTable::new(&schema));
        let mut cache = state.record_tables().write();
        if cache.len() >= 1024 {
            cache.clear();
        }
        cache.insert(name.to_owned(), table.clone());
        Ok(table)
    }

    /// Loads a table, creating it as a collection when it does not exist
    /// and the configuration allows. The creation is part of the session's
    /// transaction, if one is open.
    pub fn load_or_create(state: &AppState, session: &mut HttpSession, name: &str) -> ApiResult<Arc<RecordTable>> {
        if state.db().table_schema(name).is_some() {
            return RecordTable::load(state, name);
        }
        if !state.options().auto_create_tables {
            return RecordTable::load(state, name);
        }
        tables::check_name("table", name)?;
        session.session().execute(&create_collection_sql(name))?;
        Ok(Arc::new(RecordTable::collection(name)))
    }

    /// The record view of a collection (the shape [`create_collection_sql`]
    /// makes), for a table created in a transaction not yet committed.
    fn collection(name: &str) -> RecordTable {
        let column = |name: &str, ty: DataType| ColumnInfo {
            name: name.to_owned(),
            quoted: quote_ident(name),
            ty,
            has_default: false,
        };
        RecordTable {
            name: name.to_owned(),
            quoted: quote_ident(name),
            collection: true,
            columns: vec![column("id", DataType::Text), column("doc", DataType::Jsonb)],
            pk: Some(0),
            schema: None,
            get_sql: String::new(),
        }
        .with_get_sql()
    }

    /// The table name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The quoted table name.
    pub fn quoted(&self) -> &str {
        &self.quoted
    }

    /// Whether this is a schemaless collection.
    pub fn is_collection(&self) -> bool {
        self.collection
    }

    fn pk(&self) -> ApiResult<&ColumnInfo> {
        self.pk.and_then(|i| self.columns.get(i)).ok_or_else(|| {
            ApiError::bad_request(format!(
                "table \"{}\" has no single-column primary key to address records by",
                self.name
            ))
        })
    }

    /// The primary key column, if one column.
    pub fn primary_key(&self) -> Option<(&str, &DataType)> {
        self.pk.and_then(|i| self.columns.get(i)).map(|c| (c.quoted.as_str(), &c.ty))
    }

    /// An id from the path as a key value.
    fn id_value(&self, id: &str) -> ApiResult<Value> {
        let pk = self.pk()?;
        Value::parse(id, &pk.ty).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_id",
                format!("\"{id}\" is not an id of table \"{}\": {e}", self.name),
            )
        })
    }

    /// The columns a query selects to build records (`doc` for a
    /// collection), qualified by `alias`.
    pub fn select_list(&self, alias: &str) -> String {
        if self.collection {
            return format!("{alias}.doc");
        }
        self.columns.iter().map(|c| format!("{alias}.{}", c.quoted)).collect::<Vec<_>>().join(", ")
    }

    /// How many columns [`RecordTable::select_list`] yields.
    pub fn select_width(&self) -> usize {
        if self.collection { 1 } else { self.columns.len() }
    }

    /// A record from the values of [`RecordTable::select_list`].
    pub fn record(&self, values: &[Value]) -> JsonValue {
        if self.collection {
            return values.first().map_or(JsonValue::Null, to_json);
        }
        let mut map = Map::with_capacity(self.columns.len());
        for (c, v) in self.columns.iter().zip(values) {
            map.insert(c.name.clone(), to_json(v));
        }
        JsonValue::Object(map)
    }

    fn first_record(&self, result: QueryResult) -> Option<JsonValue> {
        result.rows.first().map(|row| self.record(row))
    }

    /// The SQL expression and type of a field, for filters, sorts and joins.
    pub fn field(&self, alias: &str, name: &str) -> ApiResult<(String, DataType)> {
        if self.collection {
            return Ok((format!("{alias}.doc->{}", quote_literal(name)), DataType::Jsonb));
        }
        self.columns
            .iter()
            .find(|c| c.name == name)
            .map(|c| (format!("{alias}.{}", c.quoted), c.ty.clone()))
            .ok_or_else(|| unknown_field(&self.name, name, StatusCode::BAD_REQUEST))
    }

    /// Adds one record; returns it as stored.
    pub fn insert(&self, s: &mut HttpSession, record: &JsonValue) -> ApiResult<JsonValue> {
        let object = as_object(record)?;
        if self.collection {
            let (id, doc) = collection_doc(object, None)?;
            let sql = format!("INSERT INTO {} (id, doc) VALUES ($1, $2) RETURNING doc", self.quoted);
            let result = s.query(&sql, &[DataType::Text, DataType::Jsonb], &[Value::Text(id), doc])?;
            return self.first_record(result).ok_or_else(|| ApiError::internal("INSERT returned no row"));
        }
        let mut names = Vec::with_capacity(object.len());
        let mut params = Params::default();
        for (key, json) in object {
            let column = self.column(key)?;
            names.push(column.quoted.clone());
            params.push(column.ty.clone(), from_json(json, &column.ty, key)?);
        }
        if let Ok(pk) = self.pk()
            && object.get(&pk.name).is_none_or(|v| v.is_null())
            && !pk.has_default
        {
            let generated = match pk.ty {
                DataType::Text | DataType::Varchar(_) => Value::Text(uuid::Uuid::new_v4().to_string()),
                DataType::Uuid => Value::Uuid(uuid::Uuid::new_v4()),
                _ => {
                    return Err(ApiError::invalid_field(
                        &pk.name,
                        format!("field \"{}\" (the id) is required", pk.name),
                    ));
                }
            };
            if let Some(i) = names.iter().position(|n| n == &pk.quoted) {
                params.values[i] = generated;
            } else {
                names.push(pk.quoted.clone());
                params.push(pk.ty.clone(), generated);
            }
        }
        let sql = if names.is_empty() {
            format!("INSERT INTO {} DEFAULT VALUES RETURNING {}", self.quoted, self.select_list(&self.quoted))
        } else {
            let placeholders: Vec<String> = (1..=names.len()).map(|i| format!("${i}")).collect();
            format!(
                "INSERT INTO {} ({}) VALUES ({}) RETURNING {}",
                self.quoted,
                names.join(", "),
                placeholders.join(", "),
                self.select_list(&self.quoted)
            )
        };
        let result = s.query(&sql, &params.types, &params.values)?;
        self.first_record(result).ok_or_else(|| ApiError::internal("INSERT returned no row"))
    }

    fn column(&self, name: &str) -> ApiResult<&ColumnInfo> {
        self.columns
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| unknown_field(&self.name, name, StatusCode::UNPROCESSABLE_ENTITY))
    }

    fn key_sql(&self) -> ApiResult<(String, DataType)> {
        let pk = self.pk()?;
        Ok((pk.quoted.clone(), pk.ty.clone()))
    }

    /// One record by id, through SQL (`SELECT … WHERE pk = $1`).
    pub fn get(&self, s: &mut HttpSession, id: &str) -> ApiResult<JsonValue> {
        let pk = self.pk()?;
        let value = self.id_value(id)?;
        let result = s.query(&self.get_sql, std::slice::from_ref(&pk.ty), &[value])?;
        self.first_record(result).ok_or_else(|| self.missing(id))
    }

    /// One record by id as a response: the primary-key lookup that
    /// [`RecordTable::get`]'s plan runs, done directly in a read-only
    /// snapshot of its own (what an autocommit SELECT sees), with the row
    /// serialized straight from the stored values. The hot read route;
    /// when the table changed since this view was made it takes the SQL
    /// path instead.
    pub fn get_response(&self, state: &AppState, id: &str) -> ApiResult<Response> {
        let key = self.id_value(id)?;
        let start = Instant::now();
        let mut txn = state.db().begin_with(TxnOptions::read_only(IsolationLevel::ReadCommitted))?;
        if let Some(role) = super::auth::current_role() {
            txn.act_as(&role);
        }
        let table = txn.table(&self.name)?;
        if !self.schema.as_ref().is_some_and(|s| std::ptr::eq(table.schema(), &**s)) {
            drop(txn);
            let record = state.sessions().with(|s| self.get(s, id))?;
            return Ok(Json(record).into_response());
        }
        let row = txn.get(&table, &[key])?;
        txn.commit()?;
        state.metrics().statement_done(&self.get_sql, start.elapsed());
        let row = row.ok_or_else(|| self.missing(id))?;
        Ok(Json(RecordJson { table: self, values: &row.values }).into_response())
    }

    fn missing(&self, id: &str) -> ApiError {
        ApiError::not_found(format!("no record \"{id}\" in table \"{}\"", self.name))
    }

    /// Replaces a record: fields left out go back to their defaults.
    pub fn replace(&self, s: &mut HttpSession, id: &str, record: &JsonValue) -> ApiResult<JsonValue> {
        let object = as_object(record)?;
        let (key, ty) = self.key_sql()?;
        let id_value = self.id_value(id)?;
        if self.collection {
            let (_, doc) = collection_doc(object, Some(id))?;
            return self.set_doc(s, id, doc, id_value);
        }
        for name in object.keys() {
            self.column(name)?;
        }
        let pk = self.pk()?;
        self.check_same_id(object, &pk.name, &pk.ty, &id_value)?;
        let mut params = Params::default();
        let mut sets = Vec::new();
        for column in &self.columns {
            if column.name == pk.name {
                continue;
            }
            let value = match object.get(&column.name) {
                Some(json) => params.push(column.ty.clone(), from_json(json, &column.ty, &column.name)?),
                None if column.has_default => "DEFAULT".into(),
                None => "NULL".into(),
            };
            sets.push(format!("{} = {value}", column.quoted));
        }
        self.update(s, id, sets, params, (key, ty), id_value)
    }

    /// Runs `UPDATE … SET <sets> WHERE key = id RETURNING …` (just reads
    /// the record when there is nothing to set).
    fn update(
        &self,
        s: &mut HttpSession,
        id: &str,
        sets: Vec<String>,
        mut params: Params,
        (key, ty): (String, DataType),
        id_value: Value,
    ) -> ApiResult<JsonValue> {
        if sets.is_empty() {
            return self.get(s, id);
        }
        let p = params.push(ty, id_value);
        let sql = format!(
            "UPDATE {} SET {} WHERE {key} = {p} RETURNING {}",
            self.quoted,
            sets.join(", "),
            self.select_list(&self.quoted)
        );
        let result = s.query(&sql, &params.types, &params.values)?;
        self.first_record(result).ok_or_else(|| self.missing(id))
    }

    /// Stores a collection record's new document.
    fn set_doc(&self, s: &mut HttpSession, id: &str, doc: Value, id_value: Value) -> ApiResult<JsonValue> {
        let sql = format!("UPDATE {} SET doc = $1 WHERE id = $2 RETURNING doc", self.quoted);
        let result = s.query(&sql, &[DataType::Jsonb, DataType::Text], &[doc, id_value])?;
        self.first_record(result).ok_or_else(|| self.missing(id))
    }

    fn check_same_id(&self, object: &Map<String, JsonValue>, pk: &str, ty: &DataType, id: &Value) -> ApiResult<()> {
        if let Some(json) = object.get(pk).filter(|j| !j.is_null()) {
            let given = from_json(json, ty, pk)?;
            if given.to_string() != id.to_string() {
                return Err(ApiError::invalid_field(
                    pk,
                    format!("the body's \"{pk}\" differs from the id in the path"),
                ));
            }
        }
        Ok(())
    }

    /// Merges fields into a record (a JSON merge patch for collections:
    /// `null` removes a field).
    pub fn patch(&self, s: &mut HttpSession, id: &str, patch: &JsonValue) -> ApiResult<JsonValue> {
        let object = as_object(patch)?;
        let (key, ty) = self.key_sql()?;
        let id_value = self.id_value(id)?;
        if self.collection {
            return s.transaction(|s| {
                let sql = format!("SELECT doc FROM {} WHERE id = $1 FOR UPDATE", self.quoted);
                let current = s.query(&sql, &[DataType::Text], std::slice::from_ref(&id_value))?;
                let mut doc = self.first_record(current).ok_or_else(|| self.missing(id))?;
                merge_patch(&mut doc, patch);
                let (_, doc) = collection_doc(as_object(&doc)?, Some(id))?;
                self.set_doc(s, id, doc, id_value)
            });
        }
        let pk = self.pk()?;
        self.check_same_id(object, &pk.name, &pk.ty, &id_value)?;
        let mut params = Params::default();
        let mut sets = Vec::new();
        for (name, json) in object {
            let column = self.column(name)?;
            if column.name == pk.name {
                continue;
            }
            let p = params.push(column.ty.clone(), from_json(json, &column.ty, name)?);
            sets.push(format!("{} = {p}", column.quoted));
        }
        self.update(s, id, sets, params, (key, ty), id_value)
    }

    /// Deletes a record.
    pub fn delete(&self, s: &mut HttpSession, id: &str) -> ApiResult<()> {
        let (key, ty) = self.key_sql()?;
        let value = self.id_value(id)?;
        let sql = format!("DELETE FROM {} WHERE {key} = $1", self.quoted);
        let result = s.query(&sql, &[ty], &[value])?;
        if result.tag == "DELETE 0" {
            return Err(self.missing(id));
        }
        Ok(())
    }

    /// One page of records matching the query's filters.
    pub fn list(&self, s: &mut HttpSession, query: &[(String, String)]) -> ApiResult<RecordPage> {
        let mut params = Params::default();
        let mut conditions = Vec::new();
        let mut sort = None;
        let mut limit = None;
        let mut cursor = None;
        for (name, text) in query {
            match name.as_str() {
                "sort" => sort = Some(text.as_str()),
                "limit" => limit = Some(text.as_str()),
                "cursor" => cursor = Some(text.as_str()),
                _ => conditions.push(self.filter(name, text, &mut params)?),
            }
        }
        let limit = listing::parse_limit(limit)?;
        let mut keys = Vec::new();
        if sort.is_some_and(|s| s.split(',').count() > MAX_SORT_KEYS) {
            return Err(ApiError::bad_request(format!("sort by at most {MAX_SORT_KEYS} fields")));
        }
        for item in sort.unwrap_or("").split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (desc, name) = match item.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, item.strip_prefix('+').unwrap_or(item)),
            };
            let (expr, ty) = self.field(&self.quoted, name)?;
            keys.push(SortKey { expr, ty, desc, name: name.to_owned() });
        }
        let (pk, pk_ty) = self.key_sql()?;
        keys.push(SortKey { expr: format!("{}.{pk}", self.quoted), ty: pk_ty, desc: false, name: "\0pk".into() });
        if let Some(cursor) = cursor {
            let after = listing::decode_cursor(&keys, cursor)?;
            conditions.push(listing::after_condition(&keys, &after, &mut params));
        }
        let key_list = keys.iter().map(|k| k.expr.as_str()).collect::<Vec<_>>().join(", ");
        let sql = format!(
            "SELECT {}, {key_list} FROM {}{}{} ORDER BY {} LIMIT {}",
            self.select_list(&self.quoted),
            self.quoted,
            if conditions.is_empty() { "" } else { " WHERE " },
            conditions.join(" AND "),
            listing::order_by(&keys),
            limit + 1
        );
        let result = s.query(&sql, &params.types, &params.values)?;
        let width = self.select_width();
        let more = result.rows.len() > limit;
        let rows = &result.rows[..result.rows.len().min(limit)];
        let next_cursor = match rows.last() {
            Some(last) if more => Some(listing::encode_cursor(&keys, last.get(width..).unwrap_or_default())),
            _ => None,
        };
        let records = rows.iter().map(|r| self.record(r.get(..width).unwrap_or_default())).collect();
        Ok(RecordPage { records, next_cursor })
    }

    /// A filter `field=value` or `field.op=value` (op: eq, ne, gt, gte, lt,
    /// lte, null).
    fn filter(&self, name: &str, text: &str, params: &mut Params) -> ApiResult<String> {
        let (field, op) = match name.rsplit_once('.') {
            Some((field, op)) if OPERATORS.iter().any(|(o, _)| *o == op) || op == "null" => (field, op),
            _ => (name, "eq"),
        };
        let (expr, ty) = self.field(&self.quoted, field)?;
        if op == "null" {
            return match text {
                "true" => Ok(format!("{expr} IS NULL")),
                "false" => Ok(format!("{expr} IS NOT NULL")),
                _ => Err(ApiError::bad_request(format!("{name} takes true or false"))),
            };
        }
        let value = if self.collection {
            // A filter on a document field compares JSON: `5`, `true` and
            // `"x"` are themselves; anything else is a string.
            Value::jsonb_from(serde_json::from_str(text).unwrap_or_else(|_| JsonValue::String(text.to_owned())))
        } else {
            Value::parse(text, &ty).map_err(|e| {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_filter", format!("filter {name}: {e}"))
                    .with_details(serde_json::json!({ "field": field }))
            })?
        };
        let sql_op = OPERATORS.iter().find(|(o, _)| *o == op).map_or("=", |(_, s)| *s);
        let p = params.push(ty, value);
        Ok(format!("{expr} {sql_op} {p}"))
    }
}

/// Filter operators and their SQL.
const OPERATORS: [(&str, &str); 6] =
    [("eq", "="), ("ne", "<>"), ("gt", ">"), ("gte", ">="), ("lt", "<"), ("lte", "<=")];

/// A record serialized straight from a whole row (every column, in table
/// order), as [`RecordTable::record`] would build it from the same values.
struct RecordJson<'a> {
    table: &'a RecordTable,
    values: &'a [Value],
}

impl Serialize for RecordJson<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        if self.table.collection {
            // A collection's record is its document.
            let doc = self.table.columns.iter().position(|c| c.name == "doc");
            return match doc.and_then(|i| self.values.get(i)) {
                Some(doc) => JsonOf(doc).serialize(serializer),
                None => serializer.serialize_unit(),
            };
        }
        let mut map = serializer.serialize_map(Some(self.table.columns.len()))?;
        for (c, v) in self.table.columns.iter().zip(self.values) {
            map.serialize_entry(&c.name, &JsonOf(v))?;
        }
        map.end()
    }
}

fn unknown_field(table: &str, field: &str, status: StatusCode) -> ApiError {
    ApiError::new(status, "unknown_field", format!("table \"{table}\" has no field \"{field}\""))
        .with_details(serde_json::json!({ "field": field }))
}

fn as_object(record: &JsonValue) -> ApiResult<&Map<String, JsonValue>> {
    record
        .as_object()
        .ok_or_else(|| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", "a record is a JSON object"))
}

/// A collection record's id and document. The id is the `id` field (a
/// string, or a number kept as its text), generated when absent; with
/// `path_id`, the body's id must agree with it.
fn collection_doc(object: &Map<String, JsonValue>, path_id: Option<&str>) -> ApiResult<(String, Value)> {
    let given = match object.get("id") {
        None | Some(JsonValue::Null) => None,
        Some(JsonValue::String(s)) => Some(s.clone()),
        Some(JsonValue::Number(n)) => Some(n.to_string()),
        Some(_) => return Err(ApiError::invalid_field("id", "field \"id\" must be a string or a number")),
    };
    let mut doc = object.clone();
    let id = match (given, path_id) {
        (Some(g), Some(p)) if g != p => {
            return Err(ApiError::invalid_field("id", "the body's \"id\" differs from the id in the path"));
        }
        (Some(g), _) => g,
        (None, Some(p)) => {
            doc.insert("id".into(), JsonValue::String(p.to_owned()));
            p.to_owned()
        }
        (None, None) => {
            let id = uuid::Uuid::new_v4().to_string();
            doc.insert("id".into(), JsonValue::String(id.clone()));
            id
        }
    };
    if id.is_empty() {
        return Err(ApiError::invalid_field("id", "field \"id\" must not be empty"));
    }
    Ok((id, Value::jsonb_from(JsonValue::Object(doc))))
}

/// RFC 7386 JSON merge patch: objects merge recursively, `null` removes.
fn merge_patch(target: &mut JsonValue, patch: &JsonValue) {
    let JsonValue::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = JsonValue::Object(Map::new());
    }
    if let JsonValue::Object(target) = target {
        for (k, v) in patch {
            if v.is_null() {
                target.remove(k);
            } else {
                merge_patch(target.entry(k.clone()).or_insert(JsonValue::Null), v);
            }
        }
    }
}

/// A page of records.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RecordPage {
    /// The records, in the requested order.
    #[schema(value_type = Vec<Object>)]
    pub records: Vec<JsonValue>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// The body of `POST …/records/batch`: the records, or `{records: […]}`.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum Batch {
    /// A bare array of records.
    #[schema(value_type = Vec<Object>)]
    List(Vec<JsonValue>),
    /// An object holding them.
    Wrapped {
        /// The records.
        #[schema(value_type = Vec<Object>)]
        records: Vec<JsonValue>,
    },
}

/// The answer to a batch.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BatchResult {
    /// The records as stored, in order.
    #[schema(value_type = Vec<Object>)]
    pub records: Vec<JsonValue>,
}

/// Runs `f`, again once when it lost a race to create the same table
/// (another request's `CREATE TABLE` committed first: the table now exists).
fn retry_on_create_race<R>(mut f: impl FnMut() -> ApiResult<R>) -> ApiResult<R> {
    match f() {
        Err(e) if e.code == "duplicate_table" => f(),
        other => other,
    }
}

/// Adds a record (creating a collection for an unknown table).
pub fn add_record(state: &AppState, table: &str, record: &JsonValue) -> ApiResult<JsonValue> {
    retry_on_create_race(|| {
        state.sessions().with(|s| {
            let t = RecordTable::load_or_create(state, s, table)?;
            t.insert(s, record)
        })
    })
}

/// Replaces a record.
pub fn replace_record(state: &AppState, table: &str, id: &str, record: &JsonValue) -> ApiResult<JsonValue> {
    let t = RecordTable::load(state, table)?;
    state.sessions().with(|s| t.replace(s, id, record))
}

/// Deletes a record.
pub fn delete_record(state: &AppState, table: &str, id: &str) -> ApiResult<()> {
    let t = RecordTable::load(state, table)?;
    state.sessions().with(|s| t.delete(s, id))
}

/// Adds a record.
#[utoipa::path(post, path = "/api/v1/tables/{table}/records", tag = "records",
    params(("table" = String, Path, description = "Table name (created as a collection when unknown)")),
    request_body(content = Object, description = "The record"),
    responses(
        (status = 201, description = "The stored record", body = Object),
        (status = 404, description = "No such table (automatic creation off)", body = ErrorBody),
        (status = 409, description = "A record with this id exists", body = ErrorBody),
        (status = 422, description = "A field does not fit the schema", body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    ApiPath(table): ApiPath<String>,
    ApiJson(record): ApiJson<JsonValue>,
) -> ApiResult<(StatusCode, Json<JsonValue>)> {
    Ok((StatusCode::CREATED, Json(add_record(&state, &table, &record)?)))
}

/// Lists records: filters `field=value` and `field.op=value` (op: eq, ne,
/// gt, gte, lt, lte, null), `sort=field,-other`, `limit`, `cursor`.
#[utoipa::path(get, path = "/api/v1/tables/{table}/records", tag = "records",
    params(
        ("table" = String, Path, description = "Table name"),
        ("sort" = Option<String>, Query, description = "Comma-separated fields, `-` for descending"),
        ("limit" = Option<usize>, Query, description = "Page size, 1 to 1000 (default 100)"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page")),
    responses((status = 200, body = RecordPage), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    ApiPath(table): ApiPath<String>,
    ApiQuery(query): ApiQuery<Vec<(String, String)>>,
) -> ApiResult<Json<RecordPage>> {
    let t = RecordTable::load(&state, &table)?;
    Ok(Json(state.sessions().with(|s| t.list(s, &query))?))
}

/// Reads a record.
#[utoipa::path(get, path = "/api/v1/tables/{table}/records/{id}", tag = "records",
    params(("table" = String, Path, description = "Table name"), ("id" = String, Path, description = "Record id")),
    responses((status = 200, description = "The record", body = Object), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    ApiPath((table, id)): ApiPath<(String, String)>,
) -> ApiResult<Response> {
    RecordTable::load(&state, &table)?.get_response(&state, &id)
}

/// Replaces a record (fields left out return to their defaults).
#[utoipa::path(put, path = "/api/v1/tables/{table}/records/{id}", tag = "records",
    params(("table" = String, Path, description = "Table name"), ("id" = String, Path, description = "Record id")),
    request_body(content = Object, description = "The new record"),
    responses((status = 200, description = "The record", body = Object), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn replace(
    State(state): State<AppState>,
    ApiPath((table, id)): ApiPath<(String, String)>,
    ApiJson(record): ApiJson<JsonValue>,
) -> ApiResult<Json<JsonValue>> {
    Ok(Json(replace_record(&state, &table, &id, &record)?))
}

/// Merges fields into a record.
#[utoipa::path(patch, path = "/api/v1/tables/{table}/records/{id}", tag = "records",
    params(("table" = String, Path, description = "Table name"), ("id" = String, Path, description = "Record id")),
    request_body(content = Object, description = "The fields to change (`null` clears)"),
    responses((status = 200, description = "The record", body = Object), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn patch(
    State(state): State<AppState>,
    ApiPath((table, id)): ApiPath<(String, String)>,
    ApiJson(fields): ApiJson<JsonValue>,
) -> ApiResult<Json<JsonValue>> {
    let t = RecordTable::load(&state, &table)?;
    Ok(Json(state.sessions().with(|s| t.patch(s, &id, &fields))?))
}

/// Deletes a record.
#[utoipa::path(delete, path = "/api/v1/tables/{table}/records/{id}", tag = "records",
    params(("table" = String, Path, description = "Table name"), ("id" = String, Path, description = "Record id")),
    responses((status = 204, description = "Deleted"), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    ApiPath((table, id)): ApiPath<(String, String)>,
) -> ApiResult<StatusCode> {
    delete_record(&state, &table, &id)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET`/`PUT`/`PATCH`/`DELETE …/records/batch` address the record whose
/// id is `batch`: the path belongs to `POST …/records/batch` (add many),
/// and without these a record of that id could not be reached.
pub fn record_named_batch() -> axum::routing::MethodRouter<AppState> {
    const ID: &str = "batch";
    axum::routing::get(|state: State<AppState>, ApiPath(table): ApiPath<String>| async move {
        get(state, ApiPath((table, ID.to_owned()))).await
    })
    .put(|state: State<AppState>, ApiPath(table): ApiPath<String>, record: ApiJson<JsonValue>| async move {
        replace(state, ApiPath((table, ID.to_owned())), record).await
    })
    .patch(|state: State<AppState>, ApiPath(table): ApiPath<String>, fields: ApiJson<JsonValue>| async move {
        patch(state, ApiPath((table, ID.to_owned())), fields).await
    })
    .delete(|state: State<AppState>, ApiPath(table): ApiPath<String>| async move {
        delete(state, ApiPath((table, ID.to_owned()))).await
    })
}

/// Adds many records in one transaction: all or none.
#[utoipa::path(post, path = "/api/v1/tables/{table}/records/batch", tag = "records",
    params(("table" = String, Path, description = "Table name (created as a collection when unknown)")),
    request_body = Batch,
    responses((status = 201, body = BatchResult), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn batch(
    State(state): State<AppState>,
    ApiPath(table): ApiPath<String>,
    ApiJson(batch): ApiJson<Batch>,
) -> ApiResult<(StatusCode, Json<BatchResult>)> {
    let (Batch::List(records) | Batch::Wrapped { records }) = batch;
    if records.len() > MAX_BATCH {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "batch_too_large",
            format!("a batch holds at most {MAX_BATCH} records, got {}", records.len()),
        ));
    }
    let stored = retry_on_create_race(|| {
        state.sessions().with(|s| {
            s.transaction(|s| {
                let t = RecordTable::load_or_create(&state, s, &table)?;
                records.iter().enumerate().map(|(i, r)| t.insert(s, r).map_err(|e| e.at_index(i))).collect()
            })
        })
    })?;
    Ok((StatusCode::CREATED, Json(BatchResult { records: stored })))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn merge_patch_follows_rfc_7386() {
        let mut doc = json!({"a": 1, "b": {"c": 2, "d": 3}, "e": [1]});
        merge_patch(&mut doc, &json!({"a": null, "b": {"c": 5}, "e": [2], "f": "x"}));
        assert_eq!(doc, json!({"b": {"c": 5, "d": 3}, "e": [2], "f": "x"}));
    }

    #[test]
    fn collection_ids_come_from_the_body_or_are_generated() {
        let (id, _) =
            collection_doc(json!({"id": 7}).as_object().unwrap_or(&Map::new()), None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(id, "7");
        let (id, doc) = collection_doc(&Map::new(), None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(id.len(), 36);
        assert_eq!(to_json(&doc)["id"], json!(id));
        let e = collection_doc(json!({"id": "a"}).as_object().unwrap_or(&Map::new()), Some("b")).err();
        assert_eq!(e.map(|e| e.code), Some("validation_failed"));
    }
}
