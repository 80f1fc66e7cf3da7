//! `json` and `jsonb`: validation, normalization, output and ordering.
//!
//! `json` keeps the input text exactly as written once it is known to be
//! valid JSON. `jsonb` is parsed into a `serde_json::Value` and normalized
//! the way PostgreSQL's binary format is:
//!
//! * object keys are ordered shorter first, then bytewise, and a key given
//!   twice keeps its last value;
//! * numbers lose their exponent (`1e2` is `100`); integral values that fit
//!   64 bits are kept as integers, others as `f64` (see the deviation note
//!   in [`parse_jsonb`]);
//! * `\u0000` is rejected, as PostgreSQL's text cannot hold it.
//!
//! Output follows PostgreSQL's `jsonb_out`: `{"a": 1, "b": [1, 2]}`.
//! Ordering follows PostgreSQL's btree order for jsonb:
//! `Object > Array > Boolean > Number > String > Null`, containers by size
//! first, then element by element (object members in storage order, keys
//! compared bytewise). PostgreSQL's quirk that a top-level `[]` sorts below
//! scalars is not reproduced.

use std::cmp::Ordering;
use std::fmt;

use serde_json::{Map, Number, Value as Json};

use crate::error::{Error, Result};

/// Deepest nesting accepted, so the recursive parser, printer and
/// comparison cannot exhaust the stack.
const MAX_DEPTH: usize = 1000;

/// `invalid input syntax for type json`.
fn invalid(input: &str) -> Error {
    Error::InvalidTextRepresentation { type_name: "json".to_owned(), input: input.to_owned() }
}

/// The error for a parse failure.
fn bad(e: Bad, input: &str) -> Error {
    match e {
        Bad::Syntax => invalid(input),
        Bad::NulEscape => Error::InvalidParameter("unsupported Unicode escape sequence".to_owned()),
    }
}

/// A small JSON parser that keeps the text of numbers, which `serde_json`
/// without `arbitrary_precision` would turn into `f64` too early.
struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
    /// Build values (jsonb) or only validate (json).
    build: bool,
}

/// A parse failure: bad syntax, or a `\u0000` escape jsonb cannot hold.
enum Bad {
    Syntax,
    NulEscape,
}

type Parsed<T> = std::result::Result<T, Bad>;

impl Parser<'_> {
    fn ws(&mut self) {
        while self.pos < self.s.len() && matches!(self.s[self.pos], b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn eat(&mut self, b: u8) -> Parsed<()> {
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(Bad::Syntax)
        }
    }

    fn literal(&mut self, word: &[u8]) -> Parsed<()> {
        if self.s[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(Bad::Syntax)
        }
    }

    fn value(&mut self, depth: usize) -> Parsed<Json> {
        if depth > MAX_DEPTH {
            return Err(Bad::Syntax);
        }
        self.ws();
        match self.peek().ok_or(Bad::Syntax)? {
            b'{' => self.object(depth),
            b'[' => self.array(depth),
            b'"' => Ok(Json::String(self.string()?)),
            b't' => self.literal(b"true").map(|()| Json::Bool(true)),
            b'f' => self.literal(b"false").map(|()| Json::Bool(false)),
            b'n' => self.literal(b"null").map(|()| Json::Null),
            _ => self.number(),
        }
    }

    fn object(&mut self, depth: usize) -> Parsed<Json> {
        self.eat(b'{')?;
        let mut pairs: Vec<(String, Json)> = Vec::new();
        self.ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Json::Object(Map::new()));
        }
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return Err(Bad::Syntax);
            }
            let key = self.string()?;
            self.ws();
            self.eat(b':')?;
            let v = self.value(depth + 1)?;
            if self.build {
                pairs.push((key, v));
            }
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                _ => return Err(Bad::Syntax),
            }
        }
        Ok(Json::Object(normalize_pairs(pairs)))
    }

    fn array(&mut self, depth: usize) -> Parsed<Json> {
        self.eat(b'[')?;
        let mut items = Vec::new();
        self.ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Json::Array(items));
        }
        loop {
            let v = self.value(depth + 1)?;
            if self.build {
                items.push(v);
            }
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    break;
                }
                _ => return Err(Bad::Syntax),
            }
        }
        Ok(Json::Array(items))
    }

    fn hex4(&mut self) -> Parsed<u32> {
        let digits = self.s.get(self.pos..self.pos + 4).ok_or(Bad::Syntax)?;
        let text = std::str::from_utf8(digits).map_err(|_| Bad::Syntax)?;
        if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Bad::Syntax);
        }
        self.pos += 4;
        u32::from_str_radix(text, 16).map_err(|_| Bad::Syntax)
    }

    fn string(&mut self) -> Parsed<String> {
        self.eat(b'"')?;
        let mut out = String::new();
        let mut run_start = self.pos;
        loop {
            let b = self.peek().ok_or(Bad::Syntax)?;
            match b {
                b'"' => {
                    if self.build {
                        out.push_str(std::str::from_utf8(&self.s[run_start..self.pos]).map_err(|_| Bad::Syntax)?);
                    }
                    self.pos += 1;
                    return Ok(out);
                }
                b'\\' => {
                    if self.build {
                        out.push_str(std::str::from_utf8(&self.s[run_start..self.pos]).map_err(|_| Bad::Syntax)?);
                    }
                    self.pos += 1;
                    let esc = self.peek().ok_or(Bad::Syntax)?;
                    self.pos += 1;
                    let c = match esc {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => return Err(Bad::Syntax),
                    };
                    if self.build {
                        out.push(c);
                    }
                    run_start = self.pos;
                }
                0..=0x1f => return Err(Bad::Syntax),
                _ => self.pos += 1,
            }
        }
    }

    /// The character of a `\uXXXX` escape (and its low surrogate). Only
    /// checked when building jsonb: json keeps the escape as text.
    fn unicode_escape(&mut self) -> Parsed<char> {
        let hi = self.hex4()?;
        if !self.build {
            return Ok('?');
        }
        let code = if (0xD800..0xDC00).contains(&hi) {
            self.literal(b"\\u")?;
            let lo = self.hex4()?;
            if !(0xDC00..0xE000).contains(&lo) {
                return Err(Bad::Syntax);
            }
            0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
        } else {
            hi
        };
        if code == 0 {
            return Err(Bad::NulEscape);
        }
        char::from_u32(code).ok_or(Bad::Syntax)
    }

    fn number(&mut self) -> Parsed<Json> {
        let s = self.s;
        let mut i = self.pos;
        let neg = s.get(i) == Some(&b'-');
        if neg {
            i += 1;
        }
        let int_start = i;
        match s.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                while s.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
            }
            _ => return Err(Bad::Syntax),
        }
        let int_end = i;
        let mut frac = (i, i);
        if s.get(i) == Some(&b'.') {
            i += 1;
            let f0 = i;
            while s.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            if i == f0 {
                return Err(Bad::Syntax);
            }
            frac = (f0, i);
        }
        let mut exp: i64 = 0;
        if matches!(s.get(i), Some(b'e' | b'E')) {
            i += 1;
            let e0 = i;
            if matches!(s.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            let d0 = i;
            while s.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            if i == d0 {
                return Err(Bad::Syntax);
            }
            let text = std::str::from_utf8(&s[e0..i]).map_err(|_| Bad::Syntax)?;
            // Clamped so that the scale arithmetic below cannot overflow;
            // such exponents give 0 or an out-of-range number either way.
            const EXP_LIMIT: i64 = i64::MAX / 2;
            exp = text
                .parse::<i64>()
                .unwrap_or(if text.starts_with('-') { -EXP_LIMIT } else { EXP_LIMIT })
                .clamp(-EXP_LIMIT, EXP_LIMIT);
        }
        self.pos = i;
        if !self.build {
            return Ok(Json::Null);
        }
        let int_digits = std::str::from_utf8(&s[int_start..int_end]).map_err(|_| Bad::Syntax)?;
        let frac_digits = std::str::from_utf8(&s[frac.0..frac.1]).map_err(|_| Bad::Syntax)?;
        number_value(neg, int_digits, frac_digits, exp).ok_or(Bad::Syntax)
    }
}

/// A jsonb number from its parts: an integer when the value has no
/// fractional digits left after applying the exponent and fits 64 bits,
/// else the nearest `f64`.
fn number_value(neg: bool, int_digits: &str, frac_digits: &str, exp: i64) -> Option<Json> {
    let scale = i64::try_from(frac_digits.len()).ok()?.checked_sub(exp)?;
    if scale <= 0 && -scale < 20 {
        let mut digits = format!("{int_digits}{frac_digits}");
        digits.extend(std::iter::repeat_n('0', usize::try_from(-scale).ok()?));
        let magnitude: Option<u64> =
            digits.trim_start_matches('0').parse().ok().or_else(|| digits.bytes().all(|b| b == b'0').then_some(0));
        if let Some(m) = magnitude {
            if !neg {
                return Some(Json::Number(Number::from(m)));
            }
            if let Ok(v) = i64::try_from(-i128::from(m)) {
                return Some(Json::Number(Number::from(v)));
            }
        }
    }
    let sign = if neg { "-" } else { "" };
    let text = format!("{sign}{int_digits}.{}e{exp}", if frac_digits.is_empty() { "0" } else { frac_digits });
    let f: f64 = text.parse().ok()?;
    Number::from_f64(f).filter(|_| f.is_finite()).map(Json::Number)
}

/// Orders object members as jsonb stores them: shorter keys first, then
/// bytewise; a repeated key keeps its last value.
fn normalize_pairs(mut pairs: Vec<(String, Json)>) -> Map<String, Json> {
    // A stable sort keeps duplicates in input order; keep the last of each.
    pairs.sort_by(|a, b| key_cmp(&a.0, &b.0));
    let mut map = Map::new();
    let mut iter = pairs.into_iter().peekable();
    while let Some((k, v)) = iter.next() {
        if iter.peek().is_some_and(|(next, _)| *next == k) {
            continue;
        }
        map.insert(k, v);
    }
    map
}

/// jsonb's key order: length first, then bytes.
fn key_cmp(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.as_bytes().cmp(b.as_bytes()))
}

/// Checks that `input` is valid JSON (the `json` type keeps it verbatim).
pub(crate) fn validate_json(input: &str) -> Result<()> {
    let mut p = Parser { s: input.as_bytes(), pos: 0, build: false };
    p.value(0).map_err(|e| bad(e, input))?;
    p.ws();
    if p.pos != input.len() {
        return Err(invalid(input));
    }
    Ok(())
}

/// Parses `jsonb` text into its normalized form.
///
/// Deviation from PostgreSQL: numbers are held by `serde_json::Number`
/// (64-bit integers or `f64`), so a fractional number keeps 17 significant
/// digits and loses trailing zeros (`1.50` prints `1.5`), and integers
/// beyond 64 bits are rounded.
pub(crate) fn parse_jsonb(input: &str) -> Result<Json> {
    let mut p = Parser { s: input.as_bytes(), pos: 0, build: true };
    let v = p.value(0).map_err(|e| bad(e, input))?;
    p.ws();
    if p.pos != input.len() {
        return Err(invalid(input));
    }
    Ok(v)
}

impl super::Value {
    /// A `jsonb` value from a `serde_json::Value` built elsewhere (for
    /// example by `jsonb_build_object`), normalized like parsed jsonb: keys
    /// ordered shorter first, then bytewise.
    pub fn jsonb_from(v: Json) -> super::Value {
        super::Value::Jsonb(Box::new(normalize(v)))
    }
}

/// Normalizes a `serde_json::Value` into jsonb form (key order).
fn normalize(v: Json) -> Json {
    match v {
        Json::Object(map) => {
            let pairs = map.into_iter().map(|(k, v)| (k, normalize(v))).collect();
            Json::Object(normalize_pairs(pairs))
        }
        Json::Array(items) => Json::Array(items.into_iter().map(normalize).collect()),
        other => other,
    }
}

/// Writes a string with PostgreSQL's JSON escaping.
fn write_string(f: &mut impl fmt::Write, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\u{8}' => f.write_str("\\b")?,
            '\u{c}' => f.write_str("\\f")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            c if (c as u32) < 0x20 => write!(f, "\\u{:04x}", c as u32)?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

/// Writes a number as PostgreSQL's numeric output would: plain digits, no
/// exponent (`1e20` is `100000000000000000000`).
fn write_number(f: &mut impl fmt::Write, n: &Number) -> fmt::Result {
    if n.is_i64() || n.is_u64() {
        return write!(f, "{n}");
    }
    let Some(v) = n.as_f64() else {
        return write!(f, "{n}");
    };
    let rendered = format!("{v:e}");
    let (neg, body) = match rendered.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, rendered.as_str()),
    };
    let (mantissa, exp) = body.split_once('e').unwrap_or((body, "0"));
    let exp: i64 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let n_digits = digits.len() as i64;
    if neg && v != 0.0 {
        f.write_char('-')?;
    }
    if exp < 0 {
        f.write_str("0.")?;
        for _ in 0..(-exp - 1) {
            f.write_char('0')?;
        }
        f.write_str(&digits)
    } else if n_digits <= exp + 1 {
        f.write_str(&digits)?;
        for _ in 0..(exp + 1 - n_digits) {
            f.write_char('0')?;
        }
        // An integral f64 below 2^64 came from text with a fraction (`1.0`);
        // integers that fit were stored as integers.
        if v.abs() < 18_446_744_073_709_551_616.0 { f.write_str(".0") } else { Ok(()) }
    } else {
        let point = usize::try_from(exp + 1).unwrap_or(0);
        f.write_str(&digits[..point])?;
        f.write_char('.')?;
        f.write_str(&digits[point..])
    }
}

/// Writes a jsonb value as PostgreSQL prints it: `{"a": 1, "b": [1, 2]}`.
pub(crate) fn write_jsonb(f: &mut impl fmt::Write, v: &Json) -> fmt::Result {
    match v {
        Json::Null => f.write_str("null"),
        Json::Bool(b) => f.write_str(if *b { "true" } else { "false" }),
        Json::Number(n) => write_number(f, n),
        Json::String(s) => write_string(f, s),
        Json::Array(items) => {
            f.write_char('[')?;
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write_jsonb(f, item)?;
            }
            f.write_char(']')
        }
        Json::Object(map) => {
            f.write_char('{')?;
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write_string(f, k)?;
                f.write_str(": ")?;
                write_jsonb(f, item)?;
            }
            f.write_char('}')
        }
    }
}

/// A jsonb value as text.
pub(crate) fn jsonb_to_string(v: &Json) -> String {
    let mut s = String::new();
    // Writing to a String cannot fail.
    let _ = write_jsonb(&mut s, v);
    s
}

/// The rank of a jsonb value's kind in PostgreSQL's order.
fn kind_rank(v: &Json) -> u8 {
    match v {
        Json::Null => 0,
        Json::String(_) => 1,
        Json::Number(_) => 2,
        Json::Bool(_) => 3,
        Json::Array(_) => 4,
        Json::Object(_) => 5,
    }
}

/// Compares two jsonb numbers by value.
pub(crate) fn number_cmp(a: &Number, b: &Number) -> Ordering {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return x.cmp(&y);
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return x.cmp(&y);
    }
    let key = |n: &Number| super::compare::NumKey::from_json_number(n);
    key(a).cmp(&key(b))
}

/// PostgreSQL's jsonb ordering (a total order).
pub(crate) fn jsonb_cmp(a: &Json, b: &Json) -> Ordering {
    match (a, b) {
        (Json::Null, Json::Null) => Ordering::Equal,
        (Json::String(x), Json::String(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Json::Number(x), Json::Number(y)) => number_cmp(x, y),
        (Json::Bool(x), Json::Bool(y)) => x.cmp(y),
        (Json::Array(x), Json::Array(y)) => x
            .len()
            .cmp(&y.len())
            .then_with(|| x.iter().zip(y).map(|(p, q)| jsonb_cmp(p, q)).find(|o| o.is_ne()).unwrap_or(Ordering::Equal)),
        (Json::Object(x), Json::Object(y)) => x.len().cmp(&y.len()).then_with(|| {
            x.iter()
                .zip(y)
                .map(|((ka, va), (kb, vb))| ka.as_bytes().cmp(kb.as_bytes()).then_with(|| jsonb_cmp(va, vb)))
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal)
        }),
        _ => kind_rank(a).cmp(&kind_rank(b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(s: &str) -> String {
        jsonb_to_string(&parse_jsonb(s).unwrap())
    }

    #[test]
    fn jsonb_normalization_and_output() {
        assert_eq!(
            show(r#"{"bb":1,"a":2,"a":3, "c": [1, 1.0, 1e20, 0.1e-7]}"#),
            r#"{"a": 3, "c": [1, 1.0, 100000000000000000000, 0.00000001], "bb": 1}"#
        );
        assert_eq!(show("1e2"), "100");
        assert_eq!(show("-0"), "0");
        assert_eq!(show("1.5"), "1.5");
        assert_eq!(show("-2.5e-3"), "-0.0025");
        assert_eq!(show(r#""\u00e9\n\"\\\/""#), "\"é\\n\\\"\\\\/\"");
        assert_eq!(show(r#""\ud83d\ude00""#), "\"😀\"");
        assert_eq!(show(" [ ] "), "[]");
        assert_eq!(show("{}"), "{}");
        assert_eq!(show("\"\\u001f\""), "\"\\u001f\"");
        assert_eq!(show("[true, false, null]"), "[true, false, null]");
        assert_eq!(show("18446744073709551615"), "18446744073709551615");
        assert_eq!(show("-9223372036854775808"), "-9223372036854775808");
    }

    #[test]
    fn invalid_inputs() {
        for bad in [
            "",
            "{",
            "[1,]",
            "{\"a\" 1}",
            "01",
            "1.",
            ".5",
            "+1",
            "tru",
            "\"\\x\"",
            "\"a\nb\"",
            "[1] 2",
            "{1:2}",
            "\"\\u0000\"",
            "\"\\ud800\"",
            "NaN",
            "1e999",
            "1e9223372036854775807",
            "1e99999999999999999999",
        ] {
            assert!(parse_jsonb(bad).is_err(), "{bad:?}");
        }
        // Exponents at and past i64's range: the scale arithmetic must not overflow.
        assert_eq!(show("1e-9223372036854775808"), "0.0");
        assert_eq!(show("-1.5e-99999999999999999999"), "0.0");
        assert!(validate_json("\"\\u0000\"").is_ok());
        assert!(validate_json(" {\"a\":1, \"a\":2} ").is_ok());
        assert!(validate_json("1e999").is_ok());
        assert!(validate_json("[1,]").is_err());
        let deep = "[".repeat(2000) + &"]".repeat(2000);
        assert!(parse_jsonb(&deep).is_err());
        assert!(validate_json(&deep).is_err());
        assert_eq!(parse_jsonb("x").unwrap_err().to_string(), "invalid input syntax for type json: \"x\"");
    }

    #[test]
    fn ordering_like_postgres() {
        let j = |s: &str| parse_jsonb(s).unwrap();
        let order = [
            "null",
            "\"a\"",
            "\"b\"",
            "-1",
            "1",
            "1.5",
            "false",
            "true",
            "[]",
            "[3]",
            "[1, 2]",
            "{}",
            "{\"aa\": 1}",
            "{\"b\": 1}",
        ];
        for w in order.windows(2) {
            assert_eq!(jsonb_cmp(&j(w[0]), &j(w[1])), Ordering::Less, "{} < {}", w[0], w[1]);
        }
        assert_eq!(jsonb_cmp(&j("1"), &j("1.0")), Ordering::Equal);
        assert_eq!(jsonb_cmp(&j("{\"a\":1,\"b\":2}"), &j("{\"b\":2,\"a\":1}")), Ordering::Equal);
        let built = serde_json::json!({"bb": 1, "a": {"zz": 1, "y": 2}});
        assert_eq!(super::super::Value::jsonb_from(built).to_string(), r#"{"a": {"y": 2, "zz": 1}, "bb": 1}"#);
    }
}
