//! PostgreSQL's text input and output for every type.
//!
//! [`Value::parse`] is the type's input function (what `'…'::type` and an
//! untyped literal stored into a column go through); `Display` is the
//! output function (what psql shows and the wire protocol's text format
//! sends). The number formats live in `number`, arrays in `array`, JSON in
//! `json`, dates and times in `datetime`, intervals in `interval`.

use std::fmt;

use super::{DataType, Interval, Value, array, datetime, json, number};
use crate::error::{Error, Result};

/// Parses PostgreSQL's boolean spellings: any unambiguous prefix of
/// `true`, `false`, `yes`, `no`, and `on`, `off`, `1`, `0`, ignoring case
/// and surrounding whitespace.
fn parse_bool(input: &str) -> Result<bool> {
    let s = input.trim_matches(|c: char| c.is_ascii_whitespace()).to_ascii_lowercase();
    let prefix_of = |word: &str, min: usize| s.len() >= min && word.starts_with(s.as_str());
    if prefix_of("true", 1) || prefix_of("yes", 1) || prefix_of("on", 2) || s == "1" {
        Ok(true)
    } else if prefix_of("false", 1) || prefix_of("no", 1) || prefix_of("off", 2) || s == "0" {
        Ok(false)
    } else {
        Err(number::syntax_error("boolean", input))
    }
}

/// The value of one hexadecimal digit.
fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Parses `bytea` text: hex format `\x0a0b` (whitespace allowed between
/// byte pairs) or escape format (`\\` and `\ooo` octal escapes).
fn parse_bytea(input: &str) -> Result<Vec<u8>> {
    let b = input.as_bytes();
    if let Some(hex) = input.strip_prefix("\\x") {
        let digits = hex.as_bytes();
        let mut out = Vec::with_capacity(digits.len() / 2);
        let mut i = 0;
        while i < digits.len() {
            let c = digits[i];
            if matches!(c, b' ' | b'\n' | b'\t' | b'\r') {
                i += 1;
                continue;
            }
            let bad_digit = |at: usize| {
                let shown = hex.get(at..).and_then(|r| r.chars().next()).unwrap_or('?');
                Error::InvalidParameter(format!("invalid hexadecimal digit: \"{shown}\""))
            };
            let hi = hex_value(c).ok_or_else(|| bad_digit(i))?;
            let Some(&c2) = digits.get(i + 1) else {
                return Err(Error::InvalidParameter("invalid hexadecimal data: odd number of digits".to_owned()));
            };
            let lo = hex_value(c2).ok_or_else(|| bad_digit(i + 1))?;
            out.push(hi << 4 | lo);
            i += 2;
        }
        return Ok(out);
    }
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
        } else if b.get(i + 1) == Some(&b'\\') {
            out.push(b'\\');
            i += 2;
        } else if let (Some(d1 @ b'0'..=b'3'), Some(d2 @ b'0'..=b'7'), Some(d3 @ b'0'..=b'7')) =
            (b.get(i + 1).copied(), b.get(i + 2).copied(), b.get(i + 3).copied())
        {
            out.push((d1 - b'0') << 6 | (d2 - b'0') << 3 | (d3 - b'0'));
            i += 4;
        } else {
            return Err(number::syntax_error("bytea", input));
        }
    }
    Ok(out)
}

/// Parses `uuid` text as PostgreSQL's `uuid_in`: 32 hex digits, optionally
/// in braces, with an optional hyphen after any group of four digits.
fn parse_uuid(input: &str) -> Result<uuid::Uuid> {
    let err = || number::syntax_error("uuid", input);
    let s = input.as_bytes();
    let mut i = 0;
    let braces = s.first() == Some(&b'{');
    if braces {
        i += 1;
    }
    let mut bytes = [0u8; 16];
    for (n, byte) in bytes.iter_mut().enumerate() {
        let hi = s.get(i).copied().and_then(hex_value).ok_or_else(err)?;
        let lo = s.get(i + 1).copied().and_then(hex_value).ok_or_else(err)?;
        *byte = hi << 4 | lo;
        i += 2;
        if s.get(i) == Some(&b'-') && n % 2 == 1 && n < 15 {
            i += 1;
        }
    }
    if braces {
        if s.get(i) != Some(&b'}') {
            return Err(err());
        }
        i += 1;
    }
    if i != s.len() {
        return Err(err());
    }
    Ok(uuid::Uuid::from_bytes(bytes))
}

/// PostgreSQL's largest length modifier for `char(n)`/`varchar(n)`.
pub(crate) const MAX_CHAR_LENGTH: u32 = 10_485_760;

/// Fails for a `char(n)` whose `n` PostgreSQL would not accept, so that
/// padding a value to `n` characters cannot exhaust memory.
pub(crate) fn check_char_length(max: u32, pad: bool) -> Result<()> {
    if pad && max > MAX_CHAR_LENGTH {
        return Err(Error::InvalidParameter(format!("length for type character cannot exceed {MAX_CHAR_LENGTH}")));
    }
    Ok(())
}

/// Checks a string against `varchar(n)`/`char(n)` (`ty`, named only in
/// the error) the way the input function and assignment do: too many
/// characters is an error unless the excess is all spaces, which is
/// trimmed. Returns the value padded for `char(n)`; a value that already
/// fits is returned as it is, without copying.
pub(crate) fn fit_string(mut s: String, max: u32, pad: bool, ty: &DataType) -> Result<String> {
    check_char_length(max, pad)?;
    let max = usize::try_from(max).unwrap_or(usize::MAX);
    // ASCII (the common case) counts characters as bytes.
    let len = if s.is_ascii() {
        if s.len() > max {
            if s.as_bytes()[max..].iter().any(|&b| b != b' ') {
                return Err(Error::StringTooLong(ty.to_string()));
            }
            s.truncate(max);
        }
        s.len()
    } else {
        match s.char_indices().nth(max) {
            None => s.chars().count(),
            Some((cut, _)) => {
                if s[cut..].chars().any(|c| c != ' ') {
                    return Err(Error::StringTooLong(ty.to_string()));
                }
                s.truncate(cut);
                max
            }
        }
    };
    if pad && len < max {
        const SPACES: &str = "                                                                ";
        let mut missing = max - len;
        s.reserve(missing);
        while missing > 0 {
            let n = missing.min(SPACES.len());
            s.push_str(&SPACES[..n]);
            missing -= n;
        }
    }
    Ok(s)
}

impl Value {
    /// Parses PostgreSQL text input for a value of type `ty`, as
    /// `'input'::ty` does: `t`/`yes`/`on` for booleans, integers with
    /// whitespace and sign, `NaN`/`Infinity` for floats, ISO dates and
    /// times, interval and array literals, `\x` hex for bytea, validated
    /// JSON. `varchar(n)` and `char(n)` reject overlong input (excess
    /// spaces excepted), `numeric(p,s)` rounds to its scale and checks its
    /// precision.
    pub fn parse(input: &str, ty: &DataType) -> Result<Value> {
        Ok(match ty {
            DataType::Bool => Value::Bool(parse_bool(input)?),
            DataType::Int2 => {
                Value::Int2(number::parse_int(input, "smallint", i16::MIN.into(), i16::MAX.into())? as i16)
            }
            DataType::Int4 => {
                Value::Int4(number::parse_int(input, "integer", i32::MIN.into(), i32::MAX.into())? as i32)
            }
            DataType::Int8 => Value::Int8(number::parse_int(input, "bigint", i64::MIN, i64::MAX)?),
            DataType::Float4 => Value::Float4(number::parse_f32(input)?),
            DataType::Float8 => Value::Float8(number::parse_f64(input)?),
            DataType::Numeric(typmod) => {
                let d = number::parse_numeric(input)?;
                match typmod {
                    Some(m) => Value::Numeric(number::apply_numeric_typmod(d, m.precision, m.scale)?),
                    None => Value::Numeric(d),
                }
            }
            DataType::Text | DataType::Varchar(None) => Value::Text(input.to_owned()),
            DataType::Varchar(Some(n)) => Value::Text(fit_string(input.to_owned(), *n, false, ty)?),
            DataType::Char(n) => Value::Text(fit_string(input.to_owned(), *n, true, ty)?),
            DataType::Bytea => Value::Bytea(parse_bytea(input)?),
            DataType::Date => Value::Date(datetime::parse_date(input)?),
            DataType::Time => Value::Time(datetime::parse_time(input)?),
            DataType::Timestamp => Value::Timestamp(datetime::parse_timestamp(input)?),
            DataType::TimestampTz => Value::TimestampTz(datetime::parse_timestamptz(input)?),
            DataType::Interval => Value::Interval(Interval::parse(input)?),
            DataType::Uuid => Value::Uuid(parse_uuid(input)?),
            DataType::Json => {
                json::validate_json(input)?;
                Value::Json(input.to_owned())
            }
            DataType::Jsonb => Value::Jsonb(Box::new(json::parse_jsonb(input)?)),
            DataType::Array(elem) => array::parse_array(input, elem)?,
        })
    }
}

impl fmt::Display for Value {
    /// PostgreSQL's text output: `t`/`f`, shortest round-trip floats
    /// (`1e+20`, `NaN`), numerics with their scale, `\x…` bytea, ISO dates
    /// and times, `postgres`-style intervals, `{…}` arrays, jsonb with
    /// `": "` and `", "` separators; `NULL` for SQL NULL.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("NULL"),
            Value::Bool(b) => f.write_str(if *b { "t" } else { "f" }),
            Value::Int2(v) => write!(f, "{v}"),
            Value::Int4(v) => write!(f, "{v}"),
            Value::Int8(v) => write!(f, "{v}"),
            Value::Float4(v) => f.write_str(&number::format_f32(*v)),
            Value::Float8(v) => f.write_str(&number::format_f64(*v)),
            Value::Numeric(d) => f.write_str(&number::format_numeric(d)),
            Value::Text(s) | Value::Json(s) => f.write_str(s),
            Value::Bytea(bytes) => {
                f.write_str("\\x")?;
                for b in bytes {
                    write!(f, "{b:02x}")?;
                }
                Ok(())
            }
            Value::Date(d) => datetime::write_date(f, *d),
            Value::Time(t) => datetime::write_time(f, *t),
            Value::Timestamp(t) => datetime::write_timestamp(f, *t, false),
            Value::TimestampTz(t) => datetime::write_timestamp(f, *t, true),
            Value::Interval(i) => write!(f, "{i}"),
            Value::Uuid(u) => write!(f, "{}", u.hyphenated()),
            Value::Jsonb(j) => json::write_jsonb(f, j),
            Value::Array(a) => array::write_array(f, a),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::NumericTypmod;

    fn round_trip(input: &str, ty: DataType) -> String {
        Value::parse(input, &ty).unwrap().to_string()
    }

    #[test]
    fn booleans() {
        for t in ["t", "TRUE", " yes ", "y", "on", "1", "tr", "ON"] {
            assert_eq!(round_trip(t, DataType::Bool), "t", "{t:?}");
        }
        for f in ["f", "False", "no", "n", "off", "of", "0", " FALSE\n"] {
            assert_eq!(round_trip(f, DataType::Bool), "f", "{f:?}");
        }
        for bad in ["o", "", "2", "truee", "yess", "ye s"] {
            assert!(Value::parse(bad, &DataType::Bool).is_err(), "{bad:?}");
        }
        assert_eq!(
            Value::parse("x", &DataType::Bool).unwrap_err().to_string(),
            "invalid input syntax for type boolean: \"x\""
        );
    }

    #[test]
    fn numbers() {
        assert_eq!(round_trip(" -12 ", DataType::Int2), "-12");
        assert_eq!(
            Value::parse("99999", &DataType::Int2).unwrap_err().to_string(),
            "value \"99999\" is out of range for type smallint"
        );
        assert_eq!(round_trip("1e20", DataType::Float8), "1e+20");
        assert_eq!(round_trip("1e6", DataType::Float4), "1e+06");
        assert_eq!(round_trip("-inf", DataType::Float8), "-Infinity");
        assert_eq!(round_trip("1.50", DataType::Numeric(None)), "1.50");
        let typmod = DataType::Numeric(Some(NumericTypmod { precision: 4, scale: 2 }));
        assert_eq!(round_trip("12.345", typmod.clone()), "12.35");
        assert_eq!(Value::parse("123.4", &typmod).unwrap_err().to_string(), "numeric field overflow");
    }

    #[test]
    fn strings() {
        assert_eq!(round_trip("abc", DataType::Text), "abc");
        assert_eq!(round_trip("ab  ", DataType::Varchar(Some(2))), "ab");
        assert_eq!(round_trip("ab", DataType::Char(4)), "ab  ");
        assert_eq!(round_trip("ab   ", DataType::Char(3)), "ab ");
        assert_eq!(
            Value::parse("abc", &DataType::Varchar(Some(2))).unwrap_err().to_string(),
            "value too long for type character varying(2)"
        );
        assert_eq!(
            Value::parse("abc", &DataType::Char(2)).unwrap_err().to_string(),
            "value too long for type character(2)"
        );
        assert_eq!(round_trip("éé", DataType::Varchar(Some(2))), "éé");
    }

    #[test]
    fn bytea() {
        assert_eq!(round_trip("abc", DataType::Bytea), "\\x616263");
        assert_eq!(round_trip("\\x0A0b", DataType::Bytea), "\\x0a0b");
        assert_eq!(round_trip("\\x 0a 0b", DataType::Bytea), "\\x0a0b");
        assert_eq!(round_trip("a\\\\b\\001", DataType::Bytea), "\\x615c6201");
        assert_eq!(round_trip("", DataType::Bytea), "\\x");
        assert_eq!(
            Value::parse("\\x0", &DataType::Bytea).unwrap_err().to_string(),
            "invalid hexadecimal data: odd number of digits"
        );
        assert_eq!(
            Value::parse("\\x0z", &DataType::Bytea).unwrap_err().to_string(),
            "invalid hexadecimal digit: \"z\""
        );
        assert!(Value::parse("a\\b", &DataType::Bytea).is_err());
        assert!(Value::parse("\\400", &DataType::Bytea).is_err());
    }

    #[test]
    fn uuids() {
        let want = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11";
        for input in [
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
            "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}",
            "a0eebc999c0b4ef8bb6d6bb9bd380a11",
            "a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11",
            "{a0eebc99-9c0b4ef8-bb6d6bb9-bd380a11}",
        ] {
            assert_eq!(round_trip(input, DataType::Uuid), want, "{input}");
        }
        for bad in [
            "",
            "a0eebc99",
            " a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}",
            "a0e-ebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            "a0eebc999c0b4ef8bb6d6bb9bd380a11-",
        ] {
            assert!(Value::parse(bad, &DataType::Uuid).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn dates_times_intervals() {
        assert_eq!(round_trip("2024-01-02", DataType::Date), "2024-01-02");
        assert_eq!(round_trip("13:45", DataType::Time), "13:45:00");
        assert_eq!(round_trip("2024-01-02 13:45:00.5", DataType::Timestamp), "2024-01-02 13:45:00.5");
        assert_eq!(round_trip("2024-01-02 13:45:00+02", DataType::TimestampTz), "2024-01-02 11:45:00+00");
        assert_eq!(round_trip("1 day -2 hours", DataType::Interval), "1 day -02:00:00");
    }

    #[test]
    fn json_types() {
        assert_eq!(round_trip(" {\"b\":1, \"a\":2} ", DataType::Json), " {\"b\":1, \"a\":2} ");
        assert_eq!(round_trip(" {\"b\":1, \"a\":[2,3]} ", DataType::Jsonb), "{\"a\": [2, 3], \"b\": 1}");
        assert!(Value::parse("{", &DataType::Json).is_err());
        assert!(Value::parse("{", &DataType::Jsonb).is_err());
    }

    #[test]
    fn arrays_and_null() {
        assert_eq!(round_trip("{1,NULL,3}", DataType::Array(Box::new(DataType::Int8))), "{1,NULL,3}");
        assert_eq!(Value::Null.to_string(), "NULL");
        assert_eq!(Value::Bool(true).to_string(), "t");
    }
}
