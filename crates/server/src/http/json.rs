//! SQL values as JSON and back, by column type.
//!
//! Output ([`to_json`]): booleans and numbers as JSON booleans and numbers
//! (an exact `numeric` that a double cannot hold, and `NaN`/`Infinity`, as
//! strings), `bytea` as base64, dates and times in ISO 8601 (`timestamptz`
//! in UTC with `Z`), `json`/`jsonb` as the document itself, arrays as
//! arrays, everything else as PostgreSQL's text form.
//!
//! Input ([`from_json`]) is strict about kinds — a string is not an integer
//! — and reads the textual types with PostgreSQL's own input rules, so a
//! date, UUID or `varchar(n)` is checked exactly as SQL checks it. Every
//! refusal names the field.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use memdb_engine::{Array, DataType, Value};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Number, Value as Json};

use super::error::ApiError;

/// A value as JSON.
pub fn to_json(value: &Value) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int2(x) => Json::from(*x),
        Value::Int4(x) => Json::from(*x),
        Value::Int8(x) => Json::from(*x),
        Value::Float4(x) => float(f64::from(*x), value),
        Value::Float8(x) => float(*x, value),
        Value::Numeric(d) => numeric(d),
        Value::Json(s) => serde_json::from_str(s).unwrap_or_else(|_| Json::String(s.clone())),
        Value::Jsonb(j) => (**j).clone(),
        Value::Text(s) => Json::String(s.clone()),
        Value::Bytea(b) => Json::String(BASE64.encode(b)),
        Value::Timestamp(_) => Json::String(value.to_string().replacen(' ', "T", 1)),
        Value::TimestampTz(_) => {
            // UTC is shown as `…+00`; ISO 8601 spells it `Z`.
            let text = value.to_string().replacen(' ', "T", 1);
            Json::String(match text.strip_suffix("+00") {
                Some(base) => format!("{base}Z"),
                None => text,
            })
        }
        Value::Array(a) => Json::Array(a.elements.iter().map(to_json).collect()),
        Value::Date(_) | Value::Time(_) | Value::Interval(_) | Value::Uuid(_) => Json::String(value.to_string()),
    }
}

/// A value serialized as [`to_json`] would render it, without building a
/// `serde_json::Value` first (no copies of text or documents): the hot
/// read paths write responses straight from stored values.
pub struct JsonOf<'a>(pub &'a Value);

impl serde::Serialize for JsonOf<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Int2(x) => serializer.serialize_i16(*x),
            Value::Int4(x) => serializer.serialize_i32(*x),
            Value::Int8(x) => serializer.serialize_i64(*x),
            Value::Text(s) => serializer.serialize_str(s),
            Value::Jsonb(j) => j.serialize(serializer),
            Value::Array(a) => serializer.collect_seq(a.elements.iter().map(JsonOf)),
            other => to_json(other).serialize(serializer),
        }
    }
}

fn float(x: f64, value: &Value) -> Json {
    Number::from_f64(x).map_or_else(|| Json::String(value.to_string()), Json::Number)
}

/// An exact decimal as a JSON number when a double holds it exactly (the
/// common case), else as a string so no digit is lost.
fn numeric(d: &Decimal) -> Json {
    if d.fract().is_zero()
        && let Some(i) = d.to_i64()
    {
        return Json::from(i);
    }
    let text = d.normalize().to_string();
    match text.parse::<f64>() {
        Ok(f) if f.to_string() == text => Number::from_f64(f).map_or(Json::String(text), Json::Number),
        _ => Json::String(text),
    }
}

/// The JSON type name of a value, for error messages.
fn kind(json: &Json) -> &'static str {
    match json {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

/// The API's name for a column type (the `type` of a field in a table
/// schema): `string`, `int`, `float`, `decimal`, `bool`, `time`, `date`,
/// `json`, `bytes`, `uuid`, `array`, or the SQL name for the rest.
pub fn api_type_name(ty: &DataType) -> String {
    match ty {
        DataType::Text | DataType::Varchar(_) | DataType::Char(_) => "string".into(),
        DataType::Int2 | DataType::Int4 | DataType::Int8 => "int".into(),
        DataType::Float4 | DataType::Float8 => "float".into(),
        DataType::Numeric(_) => "decimal".into(),
        DataType::Bool => "bool".into(),
        DataType::Timestamp | DataType::TimestampTz => "time".into(),
        DataType::Date => "date".into(),
        DataType::Json | DataType::Jsonb => "json".into(),
        DataType::Bytea => "bytes".into(),
        DataType::Uuid => "uuid".into(),
        DataType::Array(_) => "array".into(),
        DataType::Time | DataType::Interval => ty.to_string(),
    }
}

/// A JSON value as a value of column type `ty`; `field` names the column
/// in errors.
pub fn from_json(json: &Json, ty: &DataType, field: &str) -> Result<Value, ApiError> {
    if json.is_null() {
        return Ok(Value::Null);
    }
    let wrong =
        || ApiError::invalid_field(field, format!("field \"{field}\" expects {}, got {}", expected(ty), kind(json)));
    let parse = |text: &str| {
        Value::parse(text, ty).map_err(|e| ApiError::invalid_field(field, format!("field \"{field}\": {e}")))
    };
    Ok(match ty {
        DataType::Bool => Value::Bool(json.as_bool().ok_or_else(wrong)?),
        DataType::Int2 | DataType::Int4 | DataType::Int8 => {
            let n = json.as_number().ok_or_else(wrong)?;
            let i = match (n.as_i64(), n.as_f64()) {
                (Some(i), _) => i,
                // 3.0 is an integer written as a float.
                (None, Some(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => f as i64,
                _ => return Err(wrong()),
            };
            let out_of_range =
                || ApiError::invalid_field(field, format!("field \"{field}\": {i} is out of range for {ty}"));
            match ty {
                DataType::Int2 => Value::Int2(i16::try_from(i).map_err(|_| out_of_range())?),
                DataType::Int4 => Value::Int4(i32::try_from(i).map_err(|_| out_of_range())?),
                _ => Value::Int8(i),
            }
        }
        DataType::Float4 | DataType::Float8 | DataType::Numeric(_) => match json {
            // Numbers go through their text so a numeric keeps its digits.
            Json::Number(n) => parse(&n.to_string())?,
            // NaN and ±Infinity, and exact decimals too long for a double.
            Json::String(s) => parse(s)?,
            _ => return Err(wrong()),
        },
        DataType::Text
        | DataType::Varchar(_)
        | DataType::Char(_)
        | DataType::Date
        | DataType::Time
        | DataType::Timestamp
        | DataType::TimestampTz
        | DataType::Interval
        | DataType::Uuid => parse(json.as_str().ok_or_else(wrong)?)?,
        DataType::Bytea => {
            let text = json.as_str().ok_or_else(wrong)?;
            Value::Bytea(
                BASE64
                    .decode(text)
                    .map_err(|e| ApiError::invalid_field(field, format!("field \"{field}\" is not base64: {e}")))?,
            )
        }
        DataType::Json => Value::Json(json.to_string()),
        DataType::Jsonb => Value::jsonb_from(json.clone()),
        DataType::Array(element) => {
            let items = json.as_array().ok_or_else(wrong)?;
            let elements = items.iter().map(|item| from_json(item, element, field)).collect::<Result<Vec<_>, _>>()?;
            Value::Array(Box::new(Array { element_type: (**element).clone(), elements }))
        }
    })
}

/// What a type takes, for error messages.
fn expected(ty: &DataType) -> String {
    match ty {
        DataType::Bool => "a boolean".into(),
        DataType::Int2 | DataType::Int4 | DataType::Int8 => "an integer".into(),
        DataType::Float4 | DataType::Float8 | DataType::Numeric(_) => "a number".into(),
        DataType::Bytea => "a base64 string".into(),
        DataType::Json | DataType::Jsonb => "JSON".into(),
        DataType::Array(element) => format!("an array of {}", expected(element)),
        other => format!("a string ({other})"),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn round_trip(json: Json, ty: DataType) -> Json {
        match from_json(&json, &ty, "f") {
            Ok(v) => to_json(&v),
            Err(e) => panic!("{json} as {ty}: {e}"),
        }
    }

    #[test]
    fn values_round_trip_through_their_types() {
        assert_eq!(round_trip(json!(42), DataType::Int8), json!(42));
        assert_eq!(round_trip(json!(3.0), DataType::Int4), json!(3));
        assert_eq!(round_trip(json!(1.5), DataType::Float8), json!(1.5));
        assert_eq!(round_trip(json!("NaN"), DataType::Float8), json!("NaN"));
        assert_eq!(round_trip(json!(12.25), DataType::Numeric(None)), json!(12.25));
        assert_eq!(
            round_trip(json!("12345678901234567890.5"), DataType::Numeric(None)),
            json!("12345678901234567890.5")
        );
        assert_eq!(round_trip(json!("héllo"), DataType::Text), json!("héllo"));
        assert_eq!(round_trip(json!("aGk="), DataType::Bytea), json!("aGk="));
        assert_eq!(round_trip(json!("2026-11-22"), DataType::Date), json!("2026-11-22"));
        assert_eq!(round_trip(json!("2026-11-22T16:53:52.5Z"), DataType::TimestampTz), json!("2026-11-22T16:53:52.5Z"));
        assert_eq!(round_trip(json!("2026-11-22 16:53:52"), DataType::Timestamp), json!("2026-11-22T16:53:52"));
        assert_eq!(round_trip(json!({"a": [1, null]}), DataType::Jsonb), json!({"a": [1, null]}));
        assert_eq!(round_trip(json!([1, 2, null]), DataType::Array(Box::new(DataType::Int4))), json!([1, 2, null]));
        assert_eq!(round_trip(Json::Null, DataType::Int4), Json::Null);
    }

    #[test]
    fn streamed_values_match_the_built_ones() {
        for (json, ty) in [
            (json!(42), DataType::Int2),
            (json!(42), DataType::Int4),
            (json!(-42), DataType::Int8),
            (json!(1.5), DataType::Float8),
            (json!("Infinity"), DataType::Float4),
            (json!("12345678901234567890.5"), DataType::Numeric(None)),
            (json!("h\u{e9}llo \"q\""), DataType::Text),
            (json!(true), DataType::Bool),
            (json!("aGk="), DataType::Bytea),
            (json!("2026-11-22T16:53:52.5Z"), DataType::TimestampTz),
            (json!({"a": [1, null, {"b": "c"}]}), DataType::Jsonb),
            (json!({"a": 1}), DataType::Json),
            (json!([1, 2, null]), DataType::Array(Box::new(DataType::Int8))),
            (json!(["x", null]), DataType::Array(Box::new(DataType::Text))),
            (Json::Null, DataType::Uuid),
        ] {
            let value = match from_json(&json, &ty, "f") {
                Ok(v) => v,
                Err(e) => panic!("{json} as {ty}: {e}"),
            };
            let streamed = serde_json::to_value(JsonOf(&value)).map_err(|e| e.to_string());
            assert_eq!(streamed, Ok(to_json(&value)), "{json} as {ty}");
        }
    }

    #[test]
    fn wrong_kinds_are_refused_naming_the_field() {
        for (json, ty) in [
            (json!("12"), DataType::Int8),
            (json!(1.5), DataType::Int8),
            (json!(70000), DataType::Int2),
            (json!(true), DataType::Text),
            (json!("x"), DataType::Bool),
            (json!("not-a-date"), DataType::Date),
            (json!("toolong"), DataType::Varchar(Some(3))),
            (json!("%%%"), DataType::Bytea),
            (json!([1, "a"]), DataType::Array(Box::new(DataType::Int4))),
        ] {
            let e = match from_json(&json, &ty, "age") {
                Ok(v) => panic!("{json} as {ty} gave {v:?}"),
                Err(e) => e,
            };
            assert_eq!(e.status, axum::http::StatusCode::UNPROCESSABLE_ENTITY, "{json} as {ty}");
            assert_eq!(e.details["field"], "age");
        }
    }
}
