//! Values and data types with PostgreSQL semantics.
//!
//! [`DataType`] is a column's declared type (with its modifiers: `varchar(n)`,
//! `numeric(p,s)`, array element type). [`Value`] is one datum of any type,
//! or `NULL`. The submodules give the PostgreSQL behaviour:
//!
//! * `compare`: equality, hashing and the total sort order (NULLs last,
//!   `NaN` above every other float, as PostgreSQL sorts them);
//! * `text`: the text input and output formats (`'2024-01-02'::date`,
//!   `'{1,2}'::int[]`, `1 day 02:00:00`, `\x0a0b`, ...);
//! * `cast`: explicit and assignment casts between types, with the errors
//!   PostgreSQL gives (overflow, invalid input, value too long);
//! * `datetime`, `interval`: calendar arithmetic on PostgreSQL's epoch
//!   (2000-01-01) in microseconds.
//!
//! Values are owned and self-describing; rows are stored compactly (see
//! [`crate::row`]) and decoded into values on demand.

mod array;
mod cast;
mod compare;
pub mod datetime;
mod interval;
mod json;
pub(crate) mod number;
pub(crate) mod text;

use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

pub use interval::Interval;
pub use number::{format_i64, format_u64};

/// A column's declared type, with its type modifiers.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DataType {
    /// `boolean`
    Bool,
    /// `smallint` (int2)
    Int2,
    /// `integer` (int4)
    Int4,
    /// `bigint` (int8)
    Int8,
    /// `real` (float4)
    Float4,
    /// `double precision` (float8)
    Float8,
    /// `numeric` / `numeric(p)` / `numeric(p,s)`: exact decimal.
    Numeric(Option<NumericTypmod>),
    /// `text`
    Text,
    /// `varchar` / `varchar(n)`: at most `n` characters.
    Varchar(Option<u32>),
    /// `char(n)` (bpchar): blank-padded to exactly `n` characters.
    Char(u32),
    /// `bytea`
    Bytea,
    /// `date`
    Date,
    /// `time` (without time zone)
    Time,
    /// `timestamp` (without time zone)
    Timestamp,
    /// `timestamptz`: an instant, shown in the session time zone (UTC here).
    TimestampTz,
    /// `interval`
    Interval,
    /// `uuid`
    Uuid,
    /// `json`: the input text, validated and kept as written.
    Json,
    /// `jsonb`: parsed and normalized JSON.
    Jsonb,
    /// `T[]`: a one-dimensional array of the element type.
    Array(Box<DataType>),
}

/// The precision and scale of `numeric(p,s)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NumericTypmod {
    /// Total significant digits, 1..=28 (memdb's exact decimal holds 28).
    pub precision: u32,
    /// Digits after the decimal point, 0..=precision.
    pub scale: u32,
}

/// One datum: a value of some [`DataType`], or SQL `NULL`.
///
/// Dates and times count from PostgreSQL's epoch, 2000-01-01 00:00:00:
/// `Date` in days, `Time` in microseconds since midnight, `Timestamp` and
/// `TimestampTz` in microseconds (`TimestampTz` is UTC).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Value {
    /// SQL `NULL`.
    Null,
    /// `boolean`
    Bool(bool),
    /// `smallint`
    Int2(i16),
    /// `integer`
    Int4(i32),
    /// `bigint`
    Int8(i64),
    /// `real`
    Float4(f32),
    /// `double precision`
    Float8(f64),
    /// `numeric`
    Numeric(Decimal),
    /// `text`, `varchar`, `char(n)` (already padded)
    Text(String),
    /// `bytea`
    Bytea(Vec<u8>),
    /// `date`: days since 2000-01-01.
    Date(i32),
    /// `time`: microseconds since midnight.
    Time(i64),
    /// `timestamp`: microseconds since 2000-01-01 00:00:00.
    Timestamp(i64),
    /// `timestamptz`: microseconds since 2000-01-01 00:00:00 UTC.
    TimestampTz(i64),
    /// `interval`
    Interval(Interval),
    /// `uuid`
    Uuid(uuid::Uuid),
    /// `json`: the validated input text.
    Json(String),
    /// `jsonb`: normalized JSON (keys sorted as PostgreSQL sorts them,
    /// duplicates resolved to the last).
    #[serde(with = "jsonb_text")]
    Jsonb(Box<serde_json::Value>),
    /// An array: element type and elements (NULL elements allowed).
    Array(Box<Array>),
}

/// A one-dimensional array value.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Array {
    /// The element type.
    pub element_type: DataType,
    /// The elements, in order; NULL elements are `Value::Null`.
    pub elements: Vec<Value>,
}

impl Value {
    /// Whether this is SQL `NULL`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The value's own type, `None` for `NULL` (which has every type).
    /// Modifiers are not tracked by values: a `varchar(5)` value reports
    /// `Text`, a `numeric(10,2)` value `Numeric(None)`.
    pub fn data_type(&self) -> Option<DataType> {
        Some(match self {
            Value::Null => return None,
            Value::Bool(_) => DataType::Bool,
            Value::Int2(_) => DataType::Int2,
            Value::Int4(_) => DataType::Int4,
            Value::Int8(_) => DataType::Int8,
            Value::Float4(_) => DataType::Float4,
            Value::Float8(_) => DataType::Float8,
            Value::Numeric(_) => DataType::Numeric(None),
            Value::Text(_) => DataType::Text,
            Value::Bytea(_) => DataType::Bytea,
            Value::Date(_) => DataType::Date,
            Value::Time(_) => DataType::Time,
            Value::Timestamp(_) => DataType::Timestamp,
            Value::TimestampTz(_) => DataType::TimestampTz,
            Value::Interval(_) => DataType::Interval,
            Value::Uuid(_) => DataType::Uuid,
            Value::Json(_) => DataType::Json,
            Value::Jsonb(_) => DataType::Jsonb,
            Value::Array(a) => DataType::Array(Box::new(a.element_type.clone())),
        })
    }

    /// The value as an `i64` if it is one of the integer types.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int2(v) => Some(i64::from(*v)),
            Value::Int4(v) => Some(i64::from(*v)),
            Value::Int8(v) => Some(*v),
            _ => None,
        }
    }

    /// The value as a `&str` if it is text-like (`text`, `varchar`, `char`, `json`).
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(s) | Value::Json(s) => Some(s),
            _ => None,
        }
    }

    /// The value as a `bool` if it is a boolean.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
impl From<i16> for Value {
    fn from(v: i16) -> Self {
        Value::Int2(v)
    }
}
impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Value::Int4(v)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int8(v)
    }
}
impl From<f32> for Value {
    fn from(v: f32) -> Self {
        Value::Float4(v)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float8(v)
    }
}
impl From<Decimal> for Value {
    fn from(v: Decimal) -> Self {
        Value::Numeric(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}
impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::Bytea(v)
    }
}
impl From<uuid::Uuid> for Value {
    fn from(v: uuid::Uuid) -> Self {
        Value::Uuid(v)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

impl fmt::Display for DataType {
    /// PostgreSQL's name for the type, as `format_type` prints it
    /// (`integer`, `character varying(10)`, `numeric(10,2)`, `text[]`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataType::Bool => f.write_str("boolean"),
            DataType::Int2 => f.write_str("smallint"),
            DataType::Int4 => f.write_str("integer"),
            DataType::Int8 => f.write_str("bigint"),
            DataType::Float4 => f.write_str("real"),
            DataType::Float8 => f.write_str("double precision"),
            DataType::Numeric(None) => f.write_str("numeric"),
            DataType::Numeric(Some(m)) => write!(f, "numeric({},{})", m.precision, m.scale),
            DataType::Text => f.write_str("text"),
            DataType::Varchar(None) => f.write_str("character varying"),
            DataType::Varchar(Some(n)) => write!(f, "character varying({n})"),
            DataType::Char(n) => write!(f, "character({n})"),
            DataType::Bytea => f.write_str("bytea"),
            DataType::Date => f.write_str("date"),
            DataType::Time => f.write_str("time without time zone"),
            DataType::Timestamp => f.write_str("timestamp without time zone"),
            DataType::TimestampTz => f.write_str("timestamp with time zone"),
            DataType::Interval => f.write_str("interval"),
            DataType::Uuid => f.write_str("uuid"),
            DataType::Json => f.write_str("json"),
            DataType::Jsonb => f.write_str("jsonb"),
            DataType::Array(elem) => write!(f, "{elem}[]"),
        }
    }
}

/// jsonb in commit records and checkpoints: as its text, because the
/// record format (postcard) is not self-describing.
mod jsonb_text {
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    #[allow(clippy::borrowed_box)] // the field's type, as serde hands it over
    pub fn serialize<S: Serializer>(value: &Box<serde_json::Value>, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&value.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Box<serde_json::Value>, D::Error> {
        let text = String::deserialize(deserializer)?;
        serde_json::from_str(&text).map(Box::new).map_err(D::Error::custom)
    }
}
