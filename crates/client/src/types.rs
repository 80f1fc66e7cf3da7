//! The API's request and response bodies as Rust types.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A result column of a SQL statement.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Column {
    /// The column name.
    pub name: String,
    /// Its SQL type (`integer`, `text`, …).
    #[serde(rename = "type")]
    pub data_type: String,
}

/// One statement's result.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct StatementResult {
    /// The command tag (`SELECT 2`, `INSERT 0 1`, `CREATE TABLE`, …).
    pub command: String,
    /// The result columns (empty for statements without rows).
    #[serde(default)]
    pub columns: Vec<Column>,
    /// The rows, each in column order.
    #[serde(default)]
    pub rows: Vec<Vec<Value>>,
}

/// The answer to `POST /api/v1/sql`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SqlResult {
    /// The last statement's command tag.
    pub command: String,
    /// The last statement's columns.
    #[serde(default)]
    pub columns: Vec<Column>,
    /// The last statement's rows.
    #[serde(default)]
    pub rows: Vec<Vec<Value>>,
    /// Every statement's result, when the request had several.
    #[serde(default)]
    pub results: Option<Vec<StatementResult>>,
}

impl SqlResult {
    /// The last statement's rows as objects keyed by column name.
    pub fn records(&self) -> Vec<serde_json::Map<String, Value>> {
        self.rows
            .iter()
            .map(|row| self.columns.iter().map(|c| c.name.clone()).zip(row.iter().cloned()).collect())
            .collect()
    }
}

#[derive(Serialize)]
pub(crate) struct SqlRequest<'a> {
    pub sql: &'a str,
    pub params: &'a [Value],
}

/// A page of records.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RecordPage {
    /// The records.
    pub records: Vec<Value>,
    /// Pass to [`ListOptions::cursor`] for the next page; `None` on the last.
    pub next_cursor: Option<String>,
}

/// A page of joined pairs: `{table1: record, table2: record|null}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct JoinPage {
    /// The pairs.
    pub results: Vec<Value>,
    /// The next page's cursor; `None` on the last.
    pub next_cursor: Option<String>,
}

/// Which records a join returns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum JoinKind {
    /// Pairs that match.
    #[default]
    Inner,
    /// Every record of the first table, with `null` when nothing matches.
    Left,
}

/// Filters, order and paging of a record listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// `(field, value)` for equality, or `("field.op", value)` with op one
    /// of eq, ne, gt, gte, lt, lte, null.
    pub filters: Vec<(String, String)>,
    /// Comma-separated fields, `-` for descending.
    pub sort: Option<String>,
    /// Page size, 1 to 1000 (server default 100).
    pub limit: Option<usize>,
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
}

impl ListOptions {
    /// Adds a filter (`"age.gte", "18"`).
    pub fn filter(mut self, field: impl Into<String>, value: impl Into<String>) -> Self {
        self.filters.push((field.into(), value.into()));
        self
    }

    /// Sets the order (`"-created,name"`).
    pub fn sort(mut self, sort: impl Into<String>) -> Self {
        self.sort = Some(sort.into());
        self
    }

    /// Sets the page size.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Continues after a page.
    pub fn cursor(mut self, cursor: impl Into<String>) -> Self {
        self.cursor = Some(cursor.into());
        self
    }

    pub(crate) fn query(&self) -> Vec<(String, String)> {
        let mut query = self.filters.clone();
        if let Some(sort) = &self.sort {
            query.push(("sort".into(), sort.clone()));
        }
        if let Some(limit) = self.limit {
            query.push(("limit".into(), limit.to_string()));
        }
        if let Some(cursor) = &self.cursor {
            query.push(("cursor".into(), cursor.clone()));
        }
        query
    }
}

/// A key of the key-value store with its value.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct KvEntry {
    /// The key.
    pub key: String,
    /// `string` or `list`.
    pub kind: String,
    /// The value: a string (text or base64), or an array for a list.
    pub value: Value,
    /// `utf8`, or `base64` when the bytes are not UTF-8.
    pub encoding: String,
    /// Seconds left to live, if it expires.
    pub ttl: Option<f64>,
    /// When it expires (RFC 3339), if it does.
    pub expires_at: Option<String>,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// When its value last changed (RFC 3339).
    pub updated_at: String,
}

#[derive(Serialize)]
pub(crate) struct KvWrite<'a> {
    pub value: &'a Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<f64>,
}

#[derive(Serialize)]
pub(crate) struct KvPush<'a> {
    pub values: &'a [Value],
}

#[derive(Deserialize)]
pub(crate) struct KvPushed {
    pub length: i64,
}

/// A value popped from a list.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Popped {
    /// The value: text, or base64 (see `encoding`).
    pub value: Value,
    /// `utf8`, or `base64` when the bytes are not UTF-8.
    pub encoding: String,
}

/// A page of keys.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct KvPage {
    /// The keys, in byte order, with their values.
    pub keys: Vec<KvEntry>,
    /// The next page's cursor; `None` on the last.
    pub next_cursor: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct ErrorBody {
    pub code: String,
    pub message: String,
    #[serde(default)]
    pub details: Value,
}
