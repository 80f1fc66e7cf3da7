//! Casts between types: explicit (`CAST(x AS t)`, `x::t`) and assignment
//! (storing a value into a column), with PostgreSQL's rules and errors.
//!
//! | from → to | rule |
//! |---|---|
//! | integer → narrower integer | range check: `smallint out of range`, `integer out of range` |
//! | float → integer | round half to even (`rint`), range check |
//! | numeric → integer | round half away from zero, range check |
//! | float → numeric | via 15 (`real`: 6) significant digits, as PostgreSQL; NaN/Infinity rejected |
//! | numeric → float | correctly rounded |
//! | `double precision` → `real` | `value out of range: overflow` / `underflow` |
//! | any → `numeric(p,s)` | round to `s` digits, `numeric field overflow` past `p` |
//! | `boolean` ↔ `integer` | explicit only (`1::boolean`, `true::int`) |
//! | any → text types | the text output (`true` for booleans); `varchar(n)`/`char(n)` truncate when explicit, fail with `value too long` on assignment unless only spaces are cut |
//! | text → any | the type's text input |
//! | date ↔ timestamp ↔ timestamptz, → time, interval ↔ time | calendar conversions |
//! | json ↔ jsonb; jsonb → boolean and numbers | explicit casts from jsonb need a matching JSON kind |
//! | array → array | element by element |
//!
//! Anything else is `cannot cast type x to y` (explicit) or `column is of
//! type x but expression is of type y` (assignment).

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};

use super::text::{check_char_length, fit_string};
use super::{Array, DataType, Interval, Value, datetime, json, number};
use crate::error::{Error, Result};

/// Explicit cast or assignment cast.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Explicit,
    Assignment,
}

/// The integer target types with their range and name.
fn int_range(ty: &DataType) -> Option<(i64, i64, &'static str)> {
    match ty {
        DataType::Int2 => Some((i16::MIN.into(), i16::MAX.into(), "smallint")),
        DataType::Int4 => Some((i32::MIN.into(), i32::MAX.into(), "integer")),
        DataType::Int8 => Some((i64::MIN, i64::MAX, "bigint")),
        _ => None,
    }
}

/// An integer as a value of integer type `ty`, or `<type> out of range`.
fn int_value(v: i128, ty: &DataType) -> Result<Value> {
    let (min, max, name) = int_range(ty).ok_or_else(|| crate::error::internal("not an integer type"))?;
    if v < i128::from(min) || v > i128::from(max) {
        return Err(Error::NumericOverflow(format!("{name} out of range")));
    }
    Ok(match ty {
        DataType::Int2 => Value::Int2(v as i16),
        DataType::Int4 => Value::Int4(v as i32),
        _ => Value::Int8(v as i64),
    })
}

/// A float as an integer of type `ty`: rounded half to even, range checked.
fn float_to_int(f: f64, ty: &DataType) -> Result<Value> {
    let r = f.round_ties_even();
    // -2^63 ≤ r < 2^63 covers every integer type; NaN fails the test.
    if !(-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&r) {
        let name = int_range(ty).map_or("bigint", |(_, _, n)| n);
        return Err(Error::NumericOverflow(format!("{name} out of range")));
    }
    int_value(r as i128, ty)
}

/// A decimal as an integer of type `ty`: rounded half away from zero.
fn decimal_to_int(d: &Decimal, ty: &DataType) -> Result<Value> {
    let r = d.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
    match r.to_i128() {
        Some(v) => int_value(v, ty),
        None => int_value(i128::MAX, ty),
    }
}

/// A float as numeric, the way PostgreSQL does it: printed with `digits`
/// significant digits (`%.*g`), then read as numeric.
fn float_to_decimal(f: f64, digits: usize) -> Result<Decimal> {
    if !f.is_finite() {
        let what = if f.is_nan() { "NaN" } else { "infinity" };
        return Err(Error::InvalidParameter(format!(
            "cannot convert {what} to numeric: memdb's numeric has no NaN or Infinity"
        )));
    }
    let rendered = format!("{:.*e}", digits.saturating_sub(1), f);
    let (neg, body) = rendered.strip_prefix('-').map_or((false, rendered.as_str()), |r| (true, r));
    let (mantissa, exp) = body.split_once('e').unwrap_or((body, "0"));
    let exp: i64 = exp.parse().unwrap_or(0);
    let (int_digits, frac_digits) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    number::decimal_from_parts(neg, int_digits, frac_digits.trim_end_matches('0'), exp)
        .ok_or_else(number::numeric_overflow)
}

/// A decimal as `f64`, correctly rounded.
fn decimal_to_f64(d: &Decimal) -> f64 {
    d.to_string().parse().unwrap_or(f64::NAN)
}

/// A `double precision` narrowed to `real`.
fn f64_to_f32(f: f64) -> Result<f32> {
    let r = f as f32;
    if r.is_infinite() && !f.is_infinite() {
        return Err(Error::NumericOverflow("value out of range: overflow".to_owned()));
    }
    if r == 0.0 && f != 0.0 {
        return Err(Error::NumericOverflow("value out of range: underflow".to_owned()));
    }
    Ok(r)
}

/// Whether a value belongs to the numeric family.
fn is_number(v: &Value) -> bool {
    matches!(
        v,
        Value::Int2(_) | Value::Int4(_) | Value::Int8(_) | Value::Float4(_) | Value::Float8(_) | Value::Numeric(_)
    )
}

/// Converts a number to another numeric type (`to` is one of them).
fn convert_number(v: &Value, to: &DataType) -> Result<Value> {
    Ok(match to {
        DataType::Int2 | DataType::Int4 | DataType::Int8 => match v {
            Value::Float4(f) => float_to_int(f64::from(*f), to)?,
            Value::Float8(f) => float_to_int(*f, to)?,
            Value::Numeric(d) => decimal_to_int(d, to)?,
            other => int_value(i128::from(other.as_i64().unwrap_or_default()), to)?,
        },
        DataType::Float8 => Value::Float8(match v {
            Value::Float4(f) => f64::from(*f),
            Value::Float8(f) => *f,
            Value::Numeric(d) => decimal_to_f64(d),
            other => other.as_i64().unwrap_or_default() as f64,
        }),
        DataType::Float4 => Value::Float4(match v {
            Value::Float4(f) => *f,
            Value::Float8(f) => f64_to_f32(*f)?,
            Value::Numeric(d) => d.to_string().parse().unwrap_or(f32::NAN),
            other => other.as_i64().unwrap_or_default() as f32,
        }),
        DataType::Numeric(typmod) => {
            let d = match v {
                Value::Float4(f) => float_to_decimal(f64::from(*f), 6)?,
                Value::Float8(f) => float_to_decimal(*f, 15)?,
                Value::Numeric(d) => *d,
                other => Decimal::from(other.as_i64().unwrap_or_default()),
            };
            match typmod {
                Some(m) => Value::Numeric(number::apply_numeric_typmod(d, m.precision, m.scale)?),
                None => Value::Numeric(d),
            }
        }
        _ => return Err(crate::error::internal("not a numeric type")),
    })
}

/// PostgreSQL's name for a jsonb value's kind, as in its cast errors.
fn jsonb_kind(j: &serde_json::Value) -> &'static str {
    match j {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Number(_) => "numeric",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

/// `jsonb::boolean` and `jsonb::<number type>`.
fn cast_jsonb_scalar(j: &serde_json::Value, to: &DataType) -> Result<Value> {
    let mismatch = || Error::InvalidParameter(format!("cannot cast jsonb {} to type {to}", jsonb_kind(j)));
    match (j, to) {
        (serde_json::Value::Bool(b), DataType::Bool) => Ok(Value::Bool(*b)),
        (serde_json::Value::Number(n), _) if !matches!(to, DataType::Bool) => {
            let as_numeric = match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => Decimal::from(i),
                (None, Some(u)) => Decimal::from(u),
                (None, None) => number::parse_numeric(&json::jsonb_to_string(j))?,
            };
            convert_number(&Value::Numeric(as_numeric), to)
        }
        _ => Err(mismatch()),
    }
}

/// Fits text into `varchar(n)`/`char(n)`: explicit casts cut silently,
/// assignment fails unless only spaces are cut. `char(n)` pads to `n`.
fn fit_text(s: String, to: &DataType, mode: Mode) -> Result<Value> {
    let (max, pad) = match to {
        DataType::Varchar(Some(n)) => (*n, false),
        DataType::Char(n) => (*n, true),
        _ => return Ok(Value::Text(s)),
    };
    if mode == Mode::Assignment {
        return fit_string(s, max, pad, to).map(Value::Text);
    }
    check_char_length(max, pad)?;
    let max = usize::try_from(max).unwrap_or(usize::MAX);
    let mut out: String = match s.char_indices().nth(max) {
        Some((cut, _)) => s[..cut].to_owned(),
        None => s,
    };
    if pad {
        let len = out.chars().count();
        out.extend(std::iter::repeat_n(' ', max.saturating_sub(len)));
    }
    Ok(Value::Text(out))
}

impl Value {
    /// An explicit cast, `CAST(self AS to)`, with PostgreSQL's semantics
    /// (see the module documentation). `NULL` casts to `NULL`.
    pub fn cast(&self, to: &DataType) -> Result<Value> {
        self.convert(to, Mode::Explicit)
    }

    /// The assignment cast applied when `self` is stored into a column of
    /// type `ty`: like [`Value::cast`], except that an overlong string for
    /// `varchar(n)`/`char(n)` is an error (`value too long for type
    /// character varying(n)`) unless only trailing spaces are cut, and
    /// casts PostgreSQL allows only explicitly (boolean ↔ integer, jsonb
    /// to scalars) are a datatype mismatch. Text is parsed for any column
    /// type, since that is how untyped literals arrive.
    pub fn coerce_to(self, ty: &DataType) -> Result<Value> {
        // Fast path: already the column's type, with nothing to enforce.
        let trivially_fits = matches!(
            (&self, ty),
            (Value::Null, _)
                | (Value::Bool(_), DataType::Bool)
                | (Value::Int2(_), DataType::Int2)
                | (Value::Int4(_), DataType::Int4)
                | (Value::Int8(_), DataType::Int8)
                | (Value::Float4(_), DataType::Float4)
                | (Value::Float8(_), DataType::Float8)
                | (Value::Numeric(_), DataType::Numeric(None))
                | (Value::Text(_), DataType::Text | DataType::Varchar(None))
                | (Value::Bytea(_), DataType::Bytea)
                | (Value::Date(_), DataType::Date)
                | (Value::Time(_), DataType::Time)
                | (Value::Timestamp(_), DataType::Timestamp)
                | (Value::TimestampTz(_), DataType::TimestampTz)
                | (Value::Interval(_), DataType::Interval)
                | (Value::Uuid(_), DataType::Uuid)
                | (Value::Json(_), DataType::Json)
                | (Value::Jsonb(_), DataType::Jsonb)
        );
        if trivially_fits {
            return Ok(self);
        }
        self.convert(ty, Mode::Assignment)
    }

    /// The error for a cast that does not exist in `mode`.
    fn no_cast(&self, to: &DataType, mode: Mode) -> Error {
        let from = self.data_type().map_or_else(|| "unknown".to_owned(), |t| t.to_string());
        match mode {
            Mode::Explicit => Error::CannotCast { from, to: to.to_string() },
            Mode::Assignment => {
                Error::DatatypeMismatch(format!("column is of type {to} but expression is of type {from}"))
            }
        }
    }

    fn convert(&self, to: &DataType, mode: Mode) -> Result<Value> {
        if self.is_null() {
            return Ok(Value::Null);
        }
        // Text input: untyped literals and explicit casts from text.
        if let Value::Text(s) = self {
            return match to {
                DataType::Text | DataType::Varchar(_) | DataType::Char(_) => fit_text(s.clone(), to, mode),
                _ => Value::parse(s, to),
            };
        }
        match to {
            DataType::Text | DataType::Varchar(_) | DataType::Char(_) => {
                let text = match self {
                    Value::Bool(b) => (if *b { "true" } else { "false" }).to_owned(),
                    other => other.to_string(),
                };
                fit_text(text, to, mode)
            }
            DataType::Int2
            | DataType::Int4
            | DataType::Int8
            | DataType::Float4
            | DataType::Float8
            | DataType::Numeric(_) => match self {
                v if is_number(v) => convert_number(v, to),
                Value::Bool(b) if mode == Mode::Explicit && *to == DataType::Int4 => Ok(Value::Int4(i32::from(*b))),
                Value::Jsonb(j) if mode == Mode::Explicit => cast_jsonb_scalar(j, to),
                _ => Err(self.no_cast(to, mode)),
            },
            DataType::Bool => match self {
                Value::Bool(b) => Ok(Value::Bool(*b)),
                Value::Int4(i) if mode == Mode::Explicit => Ok(Value::Bool(*i != 0)),
                Value::Jsonb(j) if mode == Mode::Explicit => cast_jsonb_scalar(j, to),
                _ => Err(self.no_cast(to, mode)),
            },
            DataType::Date => match self {
                Value::Date(d) => Ok(Value::Date(*d)),
                Value::Timestamp(t) | Value::TimestampTz(t) => {
                    Ok(Value::Date(datetime::timestamp_to_date_checked(*t)?))
                }
                _ => Err(self.no_cast(to, mode)),
            },
            DataType::Timestamp | DataType::TimestampTz => {
                let ts = match self {
                    Value::Date(d) => datetime::date_to_timestamp(*d)?,
                    Value::Timestamp(t) | Value::TimestampTz(t) => *t,
                    _ => return Err(self.no_cast(to, mode)),
                };
                Ok(if *to == DataType::Timestamp { Value::Timestamp(ts) } else { Value::TimestampTz(ts) })
            }
            DataType::Time => match self {
                Value::Time(t) => Ok(Value::Time(*t)),
                // PostgreSQL gives NULL for the time of an infinite timestamp.
                Value::Timestamp(t) | Value::TimestampTz(t) => {
                    // Checks the range as the date cast does.
                    datetime::timestamp_to_date_checked(*t)?;
                    Ok(datetime::timestamp_to_time(*t).map_or(Value::Null, Value::Time))
                }
                Value::Interval(i) => Ok(Value::Time(datetime::time_add_interval(0, &Interval::from_micros(i.micros)))),
                _ => Err(self.no_cast(to, mode)),
            },
            DataType::Interval => match self {
                Value::Interval(i) => Ok(Value::Interval(*i)),
                Value::Time(t) => Ok(Value::Interval(Interval::from_micros(*t))),
                _ => Err(self.no_cast(to, mode)),
            },
            DataType::Json => match self {
                Value::Json(s) => Ok(Value::Json(s.clone())),
                Value::Jsonb(j) => Ok(Value::Json(json::jsonb_to_string(j))),
                _ => Err(self.no_cast(to, mode)),
            },
            DataType::Jsonb => match self {
                Value::Jsonb(j) => Ok(Value::Jsonb(j.clone())),
                Value::Json(s) => Ok(Value::Jsonb(Box::new(json::parse_jsonb(s)?))),
                _ => Err(self.no_cast(to, mode)),
            },
            DataType::Bytea => match self {
                Value::Bytea(b) => Ok(Value::Bytea(b.clone())),
                _ => Err(self.no_cast(to, mode)),
            },
            DataType::Uuid => match self {
                Value::Uuid(u) => Ok(Value::Uuid(*u)),
                _ => Err(self.no_cast(to, mode)),
            },
            DataType::Array(elem) => match self {
                Value::Array(a) => {
                    let elements = a.elements.iter().map(|e| e.convert(elem, mode)).collect::<Result<Vec<_>>>()?;
                    Ok(Value::Array(Box::new(Array { element_type: (**elem).clone(), elements })))
                }
                _ => Err(self.no_cast(to, mode)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;
    use crate::types::NumericTypmod;

    fn num(s: &str) -> Value {
        Value::Numeric(Decimal::from_str(s).unwrap())
    }
    fn numeric(p: u32, s: u32) -> DataType {
        DataType::Numeric(Some(NumericTypmod { precision: p, scale: s }))
    }
    fn cast(v: Value, to: DataType) -> String {
        v.cast(&to).unwrap().to_string()
    }
    fn cast_err(v: Value, to: DataType) -> String {
        v.cast(&to).unwrap_err().to_string()
    }

    #[test]
    fn integer_casts() {
        assert_eq!(cast(Value::Int8(5), DataType::Int2), "5");
        assert_eq!(cast_err(Value::Int4(99999), DataType::Int2), "smallint out of range");
        assert_eq!(cast_err(Value::Int8(1 << 40), DataType::Int4), "integer out of range");
        assert_eq!(cast(Value::Float8(2.5), DataType::Int4), "2");
        assert_eq!(cast(Value::Float8(3.5), DataType::Int4), "4");
        assert_eq!(cast(Value::Float8(-2.5), DataType::Int8), "-2");
        assert_eq!(cast(Value::Float4(2.5), DataType::Int2), "2");
        assert_eq!(cast_err(Value::Float8(f64::NAN), DataType::Int4), "integer out of range");
        assert_eq!(cast_err(Value::Float8(1e19), DataType::Int8), "bigint out of range");
        assert_eq!(cast_err(Value::Float8(f64::INFINITY), DataType::Int2), "smallint out of range");
        assert_eq!(cast(num("2.5"), DataType::Int4), "3");
        assert_eq!(cast(num("-2.5"), DataType::Int4), "-3");
        assert_eq!(cast(num("2.4999"), DataType::Int4), "2");
        assert_eq!(cast_err(num("32767.5"), DataType::Int2), "smallint out of range");
        assert_eq!(cast_err(num("99999999999999999999"), DataType::Int8), "bigint out of range");
    }

    #[test]
    fn float_and_numeric_casts() {
        assert_eq!(cast(Value::Float8(1.0 / 3.0), DataType::Numeric(None)), "0.333333333333333");
        assert_eq!(cast(Value::Float4(0.1), DataType::Numeric(None)), "0.1");
        assert_eq!(cast(Value::Float8(0.1), DataType::Numeric(None)), "0.1");
        assert_eq!(cast(Value::Float8(1e20), DataType::Numeric(None)), "100000000000000000000");
        assert_eq!(cast(Value::Float8(-1.5e-10), DataType::Numeric(None)), "-0.00000000015");
        assert!(cast_err(Value::Float8(f64::NAN), DataType::Numeric(None)).contains("NaN"));
        assert!(Value::Float8(f64::INFINITY).cast(&DataType::Numeric(None)).is_err());
        assert_eq!(cast(num("0.1"), DataType::Float8), "0.1");
        assert_eq!(cast(num("1.5"), DataType::Float4), "1.5");
        assert_eq!(cast(Value::Int8(16_777_217), DataType::Float4), "1.6777216e+07");
        assert_eq!(cast(Value::Int4(7), DataType::Float8), "7");
        assert_eq!(cast_err(Value::Float8(1e300), DataType::Float4), "value out of range: overflow");
        assert_eq!(cast_err(Value::Float8(1e-300), DataType::Float4), "value out of range: underflow");
        assert_eq!(cast(Value::Float8(f64::NAN), DataType::Float4), "NaN");
        assert_eq!(cast(num("12.345"), numeric(4, 2)), "12.35");
        assert_eq!(cast(Value::Int4(1), numeric(5, 2)), "1.00");
        assert_eq!(cast_err(Value::Int4(12345), numeric(4, 2)), "numeric field overflow");
        assert_eq!(cast_err(Value::Float8(1e300), numeric(5, 1)), "value overflows numeric format");
        assert_eq!(cast(Value::Int2(3), DataType::Numeric(None)), "3");
    }

    #[test]
    fn text_casts() {
        assert_eq!(cast(Value::Bool(true), DataType::Text), "true");
        assert_eq!(cast(Value::Text("abc ".into()), DataType::Varchar(Some(2))), "ab");
        assert_eq!(cast(Value::Text("abc".into()), DataType::Char(5)), "abc  ");
        assert_eq!(cast(Value::Text("abcdef".into()), DataType::Char(2)), "ab");
        assert_eq!(cast(Value::Int4(12345), DataType::Varchar(Some(3))), "123");
        assert_eq!(cast(Value::Float8(1e20), DataType::Text), "1e+20");
        assert_eq!(cast(Value::Text(" 42 ".into()), DataType::Int4), "42");
        assert_eq!(
            cast_err(Value::Text("abc".into()), DataType::Int4),
            "invalid input syntax for type integer: \"abc\""
        );
        assert_eq!(cast(Value::Text("12.345".into()), numeric(4, 2)), "12.35");
        assert_eq!(cast(Value::Text("{1,2}".into()), DataType::Array(Box::new(DataType::Int4))), "{1,2}");
        assert_eq!(cast(Value::Bytea(vec![10]), DataType::Text), "\\x0a");
        assert_eq!(cast(Value::Text("\\x0a".into()), DataType::Bytea), "\\x0a");
    }

    #[test]
    fn bool_casts() {
        assert_eq!(cast(Value::Int4(1), DataType::Bool), "t");
        assert_eq!(cast(Value::Int4(0), DataType::Bool), "f");
        assert_eq!(cast(Value::Bool(true), DataType::Int4), "1");
        assert_eq!(cast_err(Value::Int8(1), DataType::Bool), "cannot cast type bigint to boolean");
        assert_eq!(cast_err(Value::Bool(true), DataType::Int8), "cannot cast type boolean to bigint");
        assert_eq!(cast(Value::Text("yes".into()), DataType::Bool), "t");
    }

    #[test]
    fn datetime_casts() {
        let ts = Value::parse("2024-01-02 13:45:00", &DataType::Timestamp).unwrap();
        assert_eq!(cast(ts.clone(), DataType::Date), "2024-01-02");
        assert_eq!(cast(ts.clone(), DataType::TimestampTz), "2024-01-02 13:45:00+00");
        assert_eq!(cast(ts.clone(), DataType::Time), "13:45:00");
        let d = Value::parse("2024-01-02", &DataType::Date).unwrap();
        assert_eq!(cast(d, DataType::Timestamp), "2024-01-02 00:00:00");
        assert_eq!(cast(Value::Date(i32::MAX), DataType::TimestampTz), "infinity");
        assert_eq!(cast(Value::Timestamp(i64::MIN), DataType::Date), "-infinity");
        let iv = Value::parse("1 day 25:30:00", &DataType::Interval).unwrap();
        assert_eq!(cast(iv, DataType::Time), "01:30:00");
        assert_eq!(cast(Value::Time(3_600_000_000), DataType::Interval), "01:00:00");
        assert_eq!(cast_err(Value::Date(0), DataType::Time), "cannot cast type date to time without time zone");
        assert!(Value::Date(i32::MAX - 1).cast(&DataType::Timestamp).is_err());
        assert!(Value::TimestampTz(i64::MAX).cast(&DataType::Time).unwrap().is_null());
        // Raw values outside the ranges: errors, never overflow.
        for raw in [i32::MIN + 1, -2_451_546] {
            let err = Value::Date(raw).coerce_to(&DataType::Timestamp).unwrap_err();
            assert_eq!(err.to_string(), "date out of range for timestamp");
            assert_eq!(err.sqlstate(), "22008");
        }
        for raw in [i64::MIN + 1, i64::MAX - 1] {
            assert_eq!(cast_err(Value::Timestamp(raw), DataType::Date), "timestamp out of range");
            assert_eq!(cast_err(Value::TimestampTz(raw), DataType::Time), "timestamp out of range");
        }
    }

    #[test]
    fn json_casts() {
        let jb = Value::parse("{\"b\":1,\"a\":2}", &DataType::Jsonb).unwrap();
        assert_eq!(cast(jb.clone(), DataType::Json), "{\"a\": 2, \"b\": 1}");
        assert_eq!(cast(jb.clone(), DataType::Text), "{\"a\": 2, \"b\": 1}");
        assert_eq!(cast(Value::Json("{\"b\":1,\"a\":2}".into()), DataType::Jsonb), "{\"a\": 2, \"b\": 1}");
        assert_eq!(cast(Value::parse("1.5", &DataType::Jsonb).unwrap(), DataType::Int4), "2");
        assert_eq!(cast(Value::parse("12.5", &DataType::Jsonb).unwrap(), DataType::Numeric(None)), "12.5");
        assert_eq!(cast(Value::parse("true", &DataType::Jsonb).unwrap(), DataType::Bool), "t");
        assert_eq!(
            cast_err(Value::parse("\"a\"", &DataType::Jsonb).unwrap(), DataType::Int4),
            "cannot cast jsonb string to type integer"
        );
        assert_eq!(
            cast_err(Value::parse("null", &DataType::Jsonb).unwrap(), DataType::Int4),
            "cannot cast jsonb null to type integer"
        );
        assert_eq!(cast_err(Value::Json("1".into()), DataType::Int4), "cannot cast type json to integer");
    }

    #[test]
    fn arrays_and_nulls() {
        let arr = Value::parse("{1.5,2.5,NULL}", &DataType::Array(Box::new(DataType::Float8))).unwrap();
        assert_eq!(cast(arr.clone(), DataType::Array(Box::new(DataType::Int4))), "{2,2,NULL}");
        assert_eq!(cast(arr, DataType::Text), "{1.5,2.5,NULL}");
        assert!(Value::Null.cast(&DataType::Uuid).unwrap().is_null());
        assert_eq!(cast_err(Value::Uuid(uuid::Uuid::nil()), DataType::Int4), "cannot cast type uuid to integer");
    }

    #[test]
    fn assignment_coercion() {
        let vc3 = DataType::Varchar(Some(3));
        assert_eq!(
            Value::Int4(12345).coerce_to(&vc3).unwrap_err().to_string(),
            "value too long for type character varying(3)"
        );
        assert_eq!(Value::Text("ab   ".into()).coerce_to(&vc3).unwrap().to_string(), "ab ");
        assert_eq!(Value::Text("abc".into()).coerce_to(&DataType::Char(5)).unwrap().to_string(), "abc  ");
        assert_eq!(
            Value::Text("abcdef".into()).coerce_to(&DataType::Char(5)).unwrap_err().to_string(),
            "value too long for type character(5)"
        );
        assert_eq!(Value::Bool(true).coerce_to(&DataType::Text).unwrap().to_string(), "true");
        assert_eq!(Value::Float8(2.5).coerce_to(&DataType::Int4).unwrap().to_string(), "2");
        assert_eq!(num("2.5").coerce_to(&DataType::Int4).unwrap().to_string(), "3");
        assert_eq!(Value::Int8(1).coerce_to(&DataType::Float4).unwrap().to_string(), "1");
        assert_eq!(Value::Int4(70000).coerce_to(&DataType::Int2).unwrap_err().to_string(), "smallint out of range");
        assert_eq!(
            Value::Bool(true).coerce_to(&DataType::Int4).unwrap_err().to_string(),
            "column is of type integer but expression is of type boolean"
        );
        assert!(Value::Int4(1).coerce_to(&DataType::Bool).is_err());
        assert!(Value::parse("1", &DataType::Jsonb).unwrap().coerce_to(&DataType::Int4).is_err());
        assert_eq!(Value::Text("42".into()).coerce_to(&DataType::Int8).unwrap(), Value::Int8(42));
        assert_eq!(Value::Text("t".into()).coerce_to(&DataType::Bool).unwrap(), Value::Bool(true));
        assert_eq!(Value::Int4(5).coerce_to(&numeric(3, 1)).unwrap().to_string(), "5.0");
        assert_eq!(Value::Int4(5).coerce_to(&DataType::Int4).unwrap(), Value::Int4(5));
        assert!(Value::Null.coerce_to(&DataType::Int4).unwrap().is_null());
        let ts = Value::parse("2024-01-02 13:45", &DataType::TimestampTz).unwrap();
        assert_eq!(ts.coerce_to(&DataType::Date).unwrap().to_string(), "2024-01-02");
        let arr = Value::parse("{a,bcde}", &DataType::Array(Box::new(DataType::Text))).unwrap();
        assert!(arr.coerce_to(&DataType::Array(Box::new(DataType::Varchar(Some(3))))).is_err());
        // char(n) beyond PostgreSQL's limit would pad gigabytes.
        for v in [Value::Text("a".into()), Value::Int4(1)] {
            assert_eq!(
                v.cast(&DataType::Char(u32::MAX)).unwrap_err().to_string(),
                "length for type character cannot exceed 10485760"
            );
            assert!(v.coerce_to(&DataType::Char(u32::MAX)).is_err());
        }
    }
}
