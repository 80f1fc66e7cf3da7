//! PostgreSQL type OIDs and the wire encodings of values.
//!
//! memdb's [`DataType`]s map onto PostgreSQL's built-in types one to one,
//! and the engine keeps dates, times, timestamps and intervals in
//! PostgreSQL's own units (days and microseconds since 2000-01-01), so the
//! binary format is mostly a byte-order copy. Text format is the engine's
//! PostgreSQL text output ([`Value`]'s `Display`).

use bytes::{BufMut, BytesMut};
use memdb_engine::types::format_i64;
use memdb_engine::{Array, DataType, Interval, Value};
use pgwire::api::Type;
use pgwire::messages::data::FieldDescription;
use postgres_types::{FromSql, ToSql};
use rust_decimal::Decimal;

/// The PostgreSQL type of a memdb type (the catalog's mapping, so the
/// wire and `pg_type`/`pg_attribute` agree).
pub fn pg_type(ty: &DataType) -> Type {
    u32::try_from(memdb_sql::type_oid(ty)).ok().and_then(Type::from_oid).unwrap_or(Type::TEXT)
}

/// How a client-declared parameter type (a Parse message's OID) is taken.
#[derive(Clone, Debug, PartialEq)]
pub enum ParamType {
    /// Unspecified (OID 0) or `unknown`: the statement's context decides.
    Infer,
    /// A type memdb has.
    Known(DataType),
    /// PostgreSQL's one-byte `"char"` (OID 18): only the first character
    /// of the value counts, as on PostgreSQL.
    OneByteChar,
}

/// Reads a Parse message's parameter type OID.
pub fn param_type(oid: u32) -> ParamType {
    let Some(ty) = Type::from_oid(oid) else { return ParamType::Infer };
    if ty == Type::CHAR {
        return ParamType::OneByteChar;
    }
    match from_pg_type(&ty) {
        Some(t) => ParamType::Known(t),
        None => ParamType::Infer,
    }
}

/// The memdb type of a PostgreSQL type, where there is one.
fn from_pg_type(ty: &Type) -> Option<DataType> {
    Some(match *ty {
        Type::BOOL => DataType::Bool,
        Type::INT2 => DataType::Int2,
        Type::INT4 => DataType::Int4,
        Type::INT8 => DataType::Int8,
        Type::FLOAT4 => DataType::Float4,
        Type::FLOAT8 => DataType::Float8,
        Type::NUMERIC => DataType::Numeric(None),
        Type::TEXT | Type::NAME | Type::BPCHAR => DataType::Text,
        Type::VARCHAR => DataType::Varchar(None),
        Type::BYTEA => DataType::Bytea,
        Type::DATE => DataType::Date,
        Type::TIME => DataType::Time,
        Type::TIMESTAMP => DataType::Timestamp,
        Type::TIMESTAMPTZ => DataType::TimestampTz,
        Type::INTERVAL => DataType::Interval,
        Type::UUID => DataType::Uuid,
        Type::JSON => DataType::Json,
        Type::JSONB => DataType::Jsonb,
        Type::OID | Type::REGCLASS | Type::REGTYPE | Type::REGPROC => DataType::Int8,
        _ => match ty.kind() {
            postgres_types::Kind::Array(elem) => DataType::Array(Box::new(from_pg_type(elem)?)),
            _ => return None,
        },
    })
}

/// A RowDescription field for a result column.
pub fn field_description(name: &str, ty: &DataType, binary: bool) -> FieldDescription {
    FieldDescription::new(
        name.to_owned(),
        0,
        0,
        pg_type(ty).oid(),
        memdb_sql::type_length(ty),
        memdb_sql::type_modifier(ty),
        i16::from(binary),
    )
}

/// Appends a value's text format (no length prefix).
pub fn write_text(value: &Value, out: &mut BytesMut) {
    use std::fmt::Write;
    match value {
        Value::Text(s) | Value::Json(s) => out.put_slice(s.as_bytes()),
        Value::Int4(v) => out.put_slice(format_i64(*v as i64, &mut [0u8; 20])),
        Value::Int8(v) => out.put_slice(format_i64(*v, &mut [0u8; 20])),
        Value::Int2(v) => out.put_slice(format_i64(*v as i64, &mut [0u8; 20])),
        Value::Bool(b) => out.put_u8(if *b { b't' } else { b'f' }),
        other => {
            let mut s = String::new();
            // Writing into a String cannot fail.
            let _ = write!(s, "{other}");
            out.put_slice(s.as_bytes());
        }
    }
}

/// Appends a value's binary format (no length prefix); an error only for
/// values too large for the format.
pub fn write_binary(value: &Value, out: &mut BytesMut) -> Result<(), String> {
    match value {
        Value::Null => {}
        Value::Bool(b) => out.put_u8(u8::from(*b)),
        Value::Int2(v) => out.put_i16(*v),
        Value::Int4(v) => out.put_i32(*v),
        Value::Int8(v) => out.put_i64(*v),
        Value::Float4(v) => out.put_f32(*v),
        Value::Float8(v) => out.put_f64(*v),
        Value::Numeric(d) => {
            d.to_sql(&Type::NUMERIC, out).map_err(|e| format!("numeric {d}: {e}"))?;
        }
        Value::Text(s) | Value::Json(s) => out.put_slice(s.as_bytes()),
        Value::Bytea(b) => out.put_slice(b),
        Value::Date(d) => out.put_i32(*d),
        Value::Time(t) | Value::Timestamp(t) | Value::TimestampTz(t) => out.put_i64(*t),
        Value::Interval(i) => {
            out.put_i64(i.micros);
            out.put_i32(i.days);
            out.put_i32(i.months);
        }
        Value::Uuid(u) => out.put_slice(u.as_bytes()),
        Value::Jsonb(_) => {
            out.put_u8(1);
            write_text(value, out);
        }
        Value::Array(a) => write_binary_array(a, out)?,
    }
    Ok(())
}

fn write_binary_array(a: &Array, out: &mut BytesMut) -> Result<(), String> {
    let elem = pg_type(&a.element_type);
    let has_null = a.elements.iter().any(Value::is_null);
    if a.elements.is_empty() {
        out.put_i32(0);
        out.put_i32(0);
        out.put_u32(elem.oid());
        return Ok(());
    }
    out.put_i32(1);
    out.put_i32(i32::from(has_null));
    out.put_u32(elem.oid());
    out.put_i32(i32::try_from(a.elements.len()).map_err(|_| "array too large".to_owned())?);
    out.put_i32(1);
    for e in &a.elements {
        if e.is_null() {
            out.put_i32(-1);
            continue;
        }
        let at = out.len();
        out.put_i32(0);
        write_binary(e, out)?;
        let len = i32::try_from(out.len() - at - 4).map_err(|_| "array element too large".to_owned())?;
        out[at..at + 4].copy_from_slice(&len.to_be_bytes());
    }
    Ok(())
}

/// Decodes a parameter sent in binary format.
pub fn read_binary(raw: &[u8], ty: &DataType) -> Result<Value, String> {
    fn fixed<const N: usize>(raw: &[u8], what: &str) -> Result<[u8; N], String> {
        raw.try_into().map_err(|_| format!("insufficient data left in message for a binary {what} parameter"))
    }
    Ok(match ty {
        DataType::Bool => Value::Bool(fixed::<1>(raw, "boolean")?[0] != 0),
        DataType::Int2 => Value::Int2(i16::from_be_bytes(fixed(raw, "smallint")?)),
        DataType::Int4 => match raw.len() {
            8 => int_param(i64::from_be_bytes(fixed(raw, "integer")?), ty)?,
            2 => Value::Int4(i16::from_be_bytes(fixed(raw, "integer")?).into()),
            _ => Value::Int4(i32::from_be_bytes(fixed(raw, "integer")?)),
        },
        DataType::Int8 => match raw.len() {
            4 => Value::Int8(i32::from_be_bytes(fixed(raw, "bigint")?).into()),
            2 => Value::Int8(i16::from_be_bytes(fixed(raw, "bigint")?).into()),
            _ => Value::Int8(i64::from_be_bytes(fixed(raw, "bigint")?)),
        },
        DataType::Float4 => Value::Float4(f32::from_be_bytes(fixed(raw, "real")?)),
        DataType::Float8 => Value::Float8(f64::from_be_bytes(fixed(raw, "double precision")?)),
        DataType::Numeric(_) => {
            let d = Decimal::from_sql(&Type::NUMERIC, raw).map_err(|e| format!("invalid binary numeric: {e}"))?;
            Value::Numeric(d).cast(ty).map_err(|e| e.to_string())?
        }
        DataType::Text | DataType::Varchar(_) | DataType::Char(_) | DataType::Json => {
            let s = std::str::from_utf8(raw).map_err(|_| "invalid byte sequence for encoding \"UTF8\"".to_owned())?;
            Value::parse(s, ty).map_err(|e| e.to_string())?
        }
        DataType::Jsonb => {
            let body = match raw.split_first() {
                Some((1, rest)) => rest,
                _ => return Err("unsupported jsonb version number".into()),
            };
            let s = std::str::from_utf8(body).map_err(|_| "invalid byte sequence for encoding \"UTF8\"".to_owned())?;
            Value::parse(s, ty).map_err(|e| e.to_string())?
        }
        DataType::Bytea => Value::Bytea(raw.to_vec()),
        DataType::Date => Value::Date(i32::from_be_bytes(fixed(raw, "date")?)),
        DataType::Time => Value::Time(i64::from_be_bytes(fixed(raw, "time")?)),
        DataType::Timestamp => Value::Timestamp(i64::from_be_bytes(fixed(raw, "timestamp")?)),
        DataType::TimestampTz => Value::TimestampTz(i64::from_be_bytes(fixed(raw, "timestamptz")?)),
        DataType::Interval => {
            let b: [u8; 16] = fixed(raw, "interval")?;
            let mut micros = [0u8; 8];
            micros.copy_from_slice(&b[..8]);
            let mut days = [0u8; 4];
            days.copy_from_slice(&b[8..12]);
            let mut months = [0u8; 4];
            months.copy_from_slice(&b[12..]);
            Value::Interval(Interval {
                months: i32::from_be_bytes(months),
                days: i32::from_be_bytes(days),
                micros: i64::from_be_bytes(micros),
            })
        }
        DataType::Uuid => Value::Uuid(uuid::Uuid::from_bytes(fixed(raw, "uuid")?)),
        DataType::Array(elem) => read_binary_array(raw, elem)?,
    })
}

fn int_param(v: i64, ty: &DataType) -> Result<Value, String> {
    Value::Int8(v).cast(ty).map_err(|e| e.to_string())
}

fn read_binary_array(raw: &[u8], elem: &DataType) -> Result<Value, String> {
    let mut cursor = Cursor { raw, pos: 0 };
    let ndim = cursor.i32()?;
    let _flags = cursor.i32()?;
    let _elem_oid = cursor.i32()?;
    let mut elements = Vec::new();
    if ndim > 1 {
        return Err("multidimensional arrays are not supported".into());
    }
    if ndim == 1 {
        let len = cursor.i32()?;
        let _lower_bound = cursor.i32()?;
        for _ in 0..len.max(0) {
            let n = cursor.i32()?;
            if n < 0 {
                elements.push(Value::Null);
            } else {
                elements.push(read_binary(cursor.bytes(n as usize)?, elem)?);
            }
        }
    }
    Ok(Value::Array(Box::new(Array { element_type: elem.clone(), elements })))
}

/// Reads big-endian fields of a binary value.
struct Cursor<'a> {
    raw: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn bytes(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.pos.checked_add(n).ok_or("array element too large")?;
        let b = self.raw.get(self.pos..end).ok_or("insufficient data left in message for a binary array")?;
        self.pos = end;
        Ok(b)
    }

    fn i32(&mut self) -> Result<i32, String> {
        let b = self.bytes(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(v: Value, ty: DataType) {
        let mut out = BytesMut::new();
        write_binary(&v, &mut out).unwrap();
        assert_eq!(read_binary(&out, &ty).unwrap(), v, "{ty}");
    }

    #[test]
    fn binary_values_round_trip() {
        round_trip(Value::Int4(-42), DataType::Int4);
        round_trip(Value::Int8(1 << 40), DataType::Int8);
        round_trip(Value::Float8(1.5), DataType::Float8);
        round_trip(Value::Bool(true), DataType::Bool);
        round_trip(Value::Numeric(Decimal::new(-12345, 3)), DataType::Numeric(None));
        round_trip(Value::Text("héllo".into()), DataType::Text);
        round_trip(Value::Date(-3), DataType::Date);
        round_trip(Value::Timestamp(1_234_567), DataType::Timestamp);
        round_trip(Value::Interval(Interval { months: 1, days: 2, micros: 3 }), DataType::Interval);
        round_trip(
            Value::Array(Box::new(Array { element_type: DataType::Int4, elements: vec![Value::Int4(1), Value::Null] })),
            DataType::Array(Box::new(DataType::Int4)),
        );
    }

    #[test]
    fn short_binary_input_is_an_error() {
        assert!(read_binary(&[0, 1], &DataType::Int8).is_ok());
        assert!(read_binary(&[0, 1, 2], &DataType::Int4).is_err());
        assert!(read_binary(&[0, 0, 0, 1, 0], &DataType::Array(Box::new(DataType::Int4))).is_err());
    }

    #[test]
    fn integers_format_like_display() {
        for v in [0i64, 7, -7, i64::MIN, i64::MAX] {
            assert_eq!(format_i64(v, &mut [0u8; 20]), v.to_string().as_bytes());
        }
    }
}
