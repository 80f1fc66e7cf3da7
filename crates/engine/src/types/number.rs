//! Text input and output of the numeric types, as PostgreSQL does them.
//!
//! * integers: optional surrounding whitespace and sign, decimal digits
//!   only; overflow is `value "…" is out of range for type integer`;
//! * floats: `NaN`, `Infinity`, `-Infinity`, `inf`, exponents; a value
//!   that rounds to infinity or to zero is out of range. Output is the
//!   shortest text that reads back to the same value (PostgreSQL 12+ with
//!   `extra_float_digits = 1`), in exponent form outside 1e-4 ≤ |x| < 1e15
//!   (1e6 for `real`): `1e+20`, `1.5e-05`, `123456789012345`;
//! * numeric: exact decimal via `rust_decimal` (28 significant digits);
//!   the scale written is kept (`1.50` stays `1.50`). `NaN` and `Infinity`
//!   have no representation and are rejected.

use rust_decimal::{Decimal, RoundingStrategy};

use crate::error::{Error, Result};

/// `invalid input syntax for type <ty>: "<input>"`.
pub(crate) fn syntax_error(ty: &str, input: &str) -> Error {
    Error::InvalidTextRepresentation { type_name: ty.to_owned(), input: input.to_owned() }
}

/// Trims the whitespace PostgreSQL's number inputs skip.
fn trim_ws(s: &str) -> &str {
    let is_ws = |b: &u8| b.is_ascii_whitespace() || *b == 0x0b;
    let bytes = s.as_bytes();
    let start = bytes.iter().position(|b| !is_ws(b)).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|b| !is_ws(b)).map_or(start, |last| last + 1);
    // ASCII positions are always character boundaries.
    s.get(start..end).unwrap_or_default()
}

/// Parses an integer of type `ty` (`smallint`, `integer`, `bigint`) whose
/// range is `min..=max`.
pub(crate) fn parse_int(input: &str, ty: &str, min: i64, max: i64) -> Result<i64> {
    let s = trim_ws(input);
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(syntax_error(ty, input));
    }
    let out_of_range = || Error::NumericOverflow(format!("value \"{input}\" is out of range for type {ty}"));
    let mut magnitude: u64 = 0;
    for b in digits.bytes() {
        magnitude =
            magnitude.checked_mul(10).and_then(|m| m.checked_add(u64::from(b - b'0'))).ok_or_else(out_of_range)?;
    }
    let v = if neg { -i128::from(magnitude) } else { i128::from(magnitude) };
    if v < i128::from(min) || v > i128::from(max) {
        return Err(out_of_range());
    }
    Ok(v as i64)
}

/// Whether `s` is a plain decimal float literal: `[+-]digits[.digits][e[+-]digits]`
/// with at least one digit in the mantissa.
fn is_decimal_literal(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let mut mantissa_digits = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
        mantissa_digits += 1;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
            mantissa_digits += 1;
        }
    }
    if mantissa_digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    i == b.len()
}

/// The special float spellings PostgreSQL accepts, case-insensitively.
fn special_float(s: &str) -> Option<f64> {
    match s.to_ascii_lowercase().as_str() {
        "nan" => Some(f64::NAN),
        "infinity" | "+infinity" | "inf" | "+inf" => Some(f64::INFINITY),
        "-infinity" | "-inf" => Some(f64::NEG_INFINITY),
        _ => None,
    }
}

/// Whether the mantissa of a decimal literal has a non-zero digit.
fn has_nonzero_mantissa(s: &str) -> bool {
    s.bytes().take_while(|&b| b != b'e' && b != b'E').any(|b| (b'1'..=b'9').contains(&b))
}

/// Parses `double precision` text.
pub(crate) fn parse_f64(input: &str) -> Result<f64> {
    const TY: &str = "double precision";
    let s = trim_ws(input);
    if let Some(v) = special_float(s) {
        return Ok(v);
    }
    if !is_decimal_literal(s) {
        return Err(syntax_error(TY, input));
    }
    let v: f64 = s.parse().map_err(|_| syntax_error(TY, input))?;
    if v.is_infinite() || (v == 0.0 && has_nonzero_mantissa(s)) {
        return Err(Error::NumericOverflow(format!("\"{input}\" is out of range for type {TY}")));
    }
    Ok(v)
}

/// Parses `real` text.
pub(crate) fn parse_f32(input: &str) -> Result<f32> {
    const TY: &str = "real";
    let s = trim_ws(input);
    if let Some(v) = special_float(s) {
        return Ok(v as f32);
    }
    if !is_decimal_literal(s) {
        return Err(syntax_error(TY, input));
    }
    let v: f32 = s.parse().map_err(|_| syntax_error(TY, input))?;
    if v.is_infinite() || (v == 0.0 && has_nonzero_mantissa(s)) {
        return Err(Error::NumericOverflow(format!("\"{input}\" is out of range for type {TY}")));
    }
    Ok(v)
}

/// Formats shortest round-trip digits `digits` (no sign, no leading zeros)
/// with decimal exponent `exp` (of the first digit) the way PostgreSQL's
/// `float8out`/`float4out` do; `max_fixed_exp` is 15 for `double
/// precision`, 6 for `real`.
fn format_shortest(neg: bool, digits: &str, exp: i32, max_fixed_exp: i32) -> String {
    let mut out = String::with_capacity(digits.len() + 8);
    if neg {
        out.push('-');
    }
    let n = digits.len() as i32;
    if exp < -4 || exp >= max_fixed_exp {
        out.push_str(&digits[..1]);
        if n > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", exp.unsigned_abs()));
    } else if exp < 0 {
        out.push_str("0.");
        for _ in 0..(-exp - 1) {
            out.push('0');
        }
        out.push_str(digits);
    } else if n <= exp + 1 {
        out.push_str(digits);
        for _ in 0..(exp + 1 - n) {
            out.push('0');
        }
    } else {
        let point = (exp + 1) as usize;
        out.push_str(&digits[..point]);
        out.push('.');
        out.push_str(&digits[point..]);
    }
    out
}

/// Splits Rust's `{:e}` rendering (`-1.5e20`) into sign, digits (trailing
/// zeros removed) and the decimal exponent of the first digit.
fn split_exp(rendered: &str) -> (bool, String, i32) {
    let (neg, body) = match rendered.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, rendered),
    };
    let (mantissa, exp) = body.split_once('e').unwrap_or((body, "0"));
    let mut digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    while digits.len() > 1 && digits.ends_with('0') {
        digits.pop();
    }
    (neg, digits, exp.parse().unwrap_or(0))
}

/// A finite non-zero float as `m * 2^e`, with whether the gap to the next
/// smaller float is half the gap above (at a power of two).
#[derive(Clone, Copy)]
struct Binary {
    m: u64,
    e: i32,
    lower_closer: bool,
}

impl Binary {
    fn of_f64(v: f64) -> Binary {
        let bits = v.to_bits();
        let exp_bits = ((bits >> 52) & 0x7ff) as i32;
        let frac = bits & ((1 << 52) - 1);
        if exp_bits == 0 {
            Binary { m: frac, e: -1074, lower_closer: false }
        } else {
            Binary { m: frac | 1 << 52, e: exp_bits - 1075, lower_closer: frac == 0 && exp_bits > 1 }
        }
    }

    fn of_f32(v: f32) -> Binary {
        let bits = v.to_bits();
        let exp_bits = ((bits >> 23) & 0xff) as i32;
        let frac = u64::from(bits & ((1 << 23) - 1));
        if exp_bits == 0 {
            Binary { m: frac, e: -149, lower_closer: false }
        } else {
            Binary { m: frac | 1 << 23, e: exp_bits - 150, lower_closer: frac == 0 && exp_bits > 1 }
        }
    }

    /// Whether the decimal `digits * 10^(exp - len + 1)` is exactly the
    /// midpoint between this float and a neighbour. PostgreSQL's Ryu is
    /// built without `STRICTLY_SHORTEST`, so such a candidate is refused
    /// even where round-half-even would read it back correctly.
    fn is_midpoint(&self, digits: &str, exp: i32) -> bool {
        let Ok(d) = digits.parse::<u64>() else {
            return false;
        };
        if d == 0 {
            return false;
        }
        let q = exp - (digits.len() as i32 - 1);
        // The decimal as an odd integer times a power of two, if it is one.
        let (mut c, mut k): (u128, i32) = if q >= 0 {
            if q > 23 {
                return false; // 5^q alone exceeds any midpoint numerator
            }
            (u128::from(d) * 5u128.pow(q as u32), q)
        } else {
            let a = q.unsigned_abs();
            if a > 27 {
                return false;
            }
            let p = 5u128.pow(a);
            if u128::from(d) % p != 0 {
                return false;
            }
            (u128::from(d) / p, q)
        };
        let tz = c.trailing_zeros();
        c >>= tz;
        k += tz as i32;
        let m = u128::from(self.m);
        let high = (2 * m + 1, self.e - 1);
        let low = if self.lower_closer { (4 * m - 1, self.e - 2) } else { (2 * m - 1, self.e - 1) };
        (c, k) == high || (c, k) == low
    }
}

/// The shortest digits that PostgreSQL's Ryu prints for a float:
/// Rust's shortest round-trip digits, lengthened when they sit exactly on
/// a rounding boundary. `render(p)` renders with `p` significant digits
/// (`None`: shortest).
fn pg_shortest(bin: Binary, max_digits: usize, render: impl Fn(Option<usize>) -> String) -> (bool, String, i32) {
    let shortest = split_exp(&render(None));
    if !bin.is_midpoint(&shortest.1, shortest.2) {
        return shortest;
    }
    for p in shortest.1.len() + 1..=max_digits {
        let candidate = split_exp(&render(Some(p)));
        if !bin.is_midpoint(&candidate.1, candidate.2) {
            return candidate;
        }
    }
    split_exp(&render(Some(max_digits)))
}

/// PostgreSQL's text output of a `double precision`.
pub(crate) fn format_f64(v: f64) -> String {
    if v.is_nan() {
        return "NaN".to_owned();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    let (neg, digits, exp) = if v == 0.0 {
        split_exp(&format!("{v:e}"))
    } else {
        pg_shortest(Binary::of_f64(v), 17, |p| match p {
            None => format!("{v:e}"),
            Some(p) => format!("{:.*e}", p - 1, v),
        })
    };
    format_shortest(neg, &digits, exp, 15)
}

/// PostgreSQL's text output of a `real`.
pub(crate) fn format_f32(v: f32) -> String {
    if v.is_nan() {
        return "NaN".to_owned();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    let (neg, digits, exp) = if v == 0.0 {
        split_exp(&format!("{v:e}"))
    } else {
        pg_shortest(Binary::of_f32(v), 9, |p| match p {
            None => format!("{v:e}"),
            Some(p) => format!("{:.*e}", p - 1, v),
        })
    };
    format_shortest(neg, &digits, exp, 6)
}

/// The largest scale (digits after the point) memdb's numeric keeps.
pub(crate) const MAX_NUMERIC_SCALE: u32 = 28;

/// `value overflows numeric format`.
pub(crate) fn numeric_overflow() -> Error {
    Error::NumericOverflow("value overflows numeric format".to_owned())
}

/// Builds a decimal from its digits (sign, integer digits, fraction digits,
/// power of ten), keeping the scale written, rounding half away from zero
/// beyond 28 fractional digits. `None` when the value does not fit.
pub(crate) fn decimal_from_parts(neg: bool, int_digits: &str, frac_digits: &str, exp: i64) -> Option<Decimal> {
    let mut mantissa: String = format!("{int_digits}{frac_digits}");
    let mut scale = i64::try_from(frac_digits.len()).ok()?.checked_sub(exp)?;
    if scale < 0 {
        if -scale > 40 {
            // Leading zeros aside, this many digits can never fit.
            return mantissa.bytes().all(|b| b == b'0').then_some(Decimal::ZERO);
        }
        mantissa.extend(std::iter::repeat_n('0', usize::try_from(-scale).ok()?));
        scale = 0;
    }
    let mut round_up = false;
    if scale > i64::from(MAX_NUMERIC_SCALE) {
        let drop = usize::try_from(scale - i64::from(MAX_NUMERIC_SCALE)).ok()?;
        if drop >= mantissa.len() {
            // Only zeros survive; round on the first dropped digit.
            let first_dropped = if drop == mantissa.len() { mantissa.as_bytes().first().copied() } else { None };
            round_up = first_dropped.is_some_and(|d| d >= b'5');
            mantissa.clear();
        } else {
            let keep = mantissa.len() - drop;
            round_up = mantissa.as_bytes()[keep] >= b'5';
            mantissa.truncate(keep);
        }
        scale = i64::from(MAX_NUMERIC_SCALE);
    }
    let trimmed = mantissa.trim_start_matches('0');
    if trimmed.len() > 38 {
        return None;
    }
    let mut m: i128 = if trimmed.is_empty() { 0 } else { trimmed.parse().ok()? };
    if round_up {
        m += 1;
    }
    if neg {
        m = -m;
    }
    let mut d = Decimal::try_from_i128_with_scale(m, u32::try_from(scale).ok()?).ok()?;
    if d.is_zero() {
        d.set_sign_positive(true);
    }
    Some(d)
}

/// Parses `numeric` text: `12.50`, `-1e3`, ` .5 `. `NaN` and `Infinity`
/// are rejected with an explicit error.
pub(crate) fn parse_numeric(input: &str) -> Result<Decimal> {
    const TY: &str = "numeric";
    let s = trim_ws(input);
    if special_float(s).is_some() {
        return Err(Error::InvalidParameter(format!(
            "cannot represent \"{s}\" as numeric: memdb's numeric has no NaN or Infinity"
        )));
    }
    if !is_decimal_literal(s) {
        return Err(syntax_error(TY, input));
    }
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (mantissa, exp) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], body[i + 1..].parse::<i64>().map_err(|_| numeric_overflow())?),
        None => (body, 0),
    };
    let (int_digits, frac_digits) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    decimal_from_parts(neg, int_digits, frac_digits, exp).ok_or_else(numeric_overflow)
}

/// Applies `numeric(precision, scale)`: rounds half away from zero to
/// `scale` digits, shows exactly `scale` digits, and fails with
/// `numeric field overflow` when the integer part needs more than
/// `precision - scale` digits.
pub(crate) fn apply_numeric_typmod(d: Decimal, precision: u32, scale: u32) -> Result<Decimal> {
    let scale = scale.min(MAX_NUMERIC_SCALE);
    let mut r = d.round_dp_with_strategy(scale, RoundingStrategy::MidpointAwayFromZero);
    if !r.is_zero() {
        let int_digits = precision.saturating_sub(scale);
        let limit = 10i128.checked_pow(int_digits).and_then(|p| Decimal::try_from_i128_with_scale(p, 0).ok());
        if let Some(limit) = limit
            && r.abs() >= limit
        {
            return Err(Error::NumericOverflow("numeric field overflow".to_owned()));
        }
    } else {
        r.set_sign_positive(true);
    }
    r.rescale(scale);
    Ok(r)
}

/// PostgreSQL's text output of a `numeric`: the digits with the stored
/// scale, never a negative zero.
pub(crate) fn format_numeric(d: &Decimal) -> String {
    if d.is_zero() && d.is_sign_negative() {
        let mut z = *d;
        z.set_sign_positive(true);
        return z.to_string();
    }
    d.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers() {
        assert_eq!(parse_int("  +12  ", "integer", i32::MIN.into(), i32::MAX.into()).unwrap(), 12);
        assert_eq!(parse_int("-2147483648", "integer", i32::MIN.into(), i32::MAX.into()).unwrap(), -2147483648);
        assert_eq!(
            parse_int("99999", "smallint", i16::MIN.into(), i16::MAX.into()).unwrap_err().to_string(),
            "value \"99999\" is out of range for type smallint"
        );
        assert_eq!(
            parse_int("abc", "integer", 0, 1).unwrap_err().to_string(),
            "invalid input syntax for type integer: \"abc\""
        );
        for bad in ["", " ", "+", "1.0", "1e3", "1 2", "0x10"] {
            assert!(parse_int(bad, "bigint", i64::MIN, i64::MAX).is_err(), "{bad:?}");
        }
        assert_eq!(parse_int("-9223372036854775808", "bigint", i64::MIN, i64::MAX).unwrap(), i64::MIN);
        assert!(parse_int("9223372036854775808", "bigint", i64::MIN, i64::MAX).is_err());
        assert!(parse_int("99999999999999999999999999", "bigint", i64::MIN, i64::MAX).is_err());
    }

    #[test]
    fn float_input() {
        assert_eq!(parse_f64(" 1.5e3 ").unwrap(), 1500.0);
        assert_eq!(parse_f64(".5").unwrap(), 0.5);
        assert_eq!(parse_f64("5.").unwrap(), 5.0);
        assert!(parse_f64("NaN").unwrap().is_nan());
        assert_eq!(parse_f64("-Infinity").unwrap(), f64::NEG_INFINITY);
        assert_eq!(parse_f64("inf").unwrap(), f64::INFINITY);
        assert_eq!(parse_f64("1e400").unwrap_err().to_string(), "\"1e400\" is out of range for type double precision");
        assert!(parse_f64("1e-400").is_err());
        assert_eq!(parse_f64("0e-400").unwrap(), 0.0);
        assert!(parse_f64("4.9e-324").is_ok());
        assert!(parse_f32("1e40").is_err());
        assert!(parse_f32("1e-50").is_err());
        for bad in ["", "e5", "1e", "abc", "1.2.3", "infinite", "0x10"] {
            assert!(parse_f64(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn float_output_matches_postgres() {
        let cases: [(f64, &str); 14] = [
            (1e20, "1e+20"),
            (1e15, "1e+15"),
            (123456789012345.0, "123456789012345"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (-0.0, "-0"),
            (0.0, "0"),
            (1.5e300, "1.5e+300"),
            (0.1, "0.1"),
            (1.0 / 3.0, "0.3333333333333333"),
            (100.0, "100"),
            (-2.5, "-2.5"),
            (5e-324, "5e-324"),
            (f64::NAN, "NaN"),
        ];
        for (v, want) in cases {
            assert_eq!(format_f64(v), want);
        }
        assert_eq!(format_f64(f64::NEG_INFINITY), "-Infinity");
        assert_eq!(format_f32(1e6), "1e+06");
        assert_eq!(format_f32(123456.0), "123456");
        assert_eq!(format_f32(0.1), "0.1");
        assert_eq!(format_f32(3.4028235e38), "3.4028235e+38");
        assert_eq!(format_f32(16777216.0), "1.6777216e+07");
        // Candidates exactly on a rounding boundary are refused, as by
        // PostgreSQL's Ryu (built without STRICTLY_SHORTEST).
        assert_eq!(format_f64(1e23), "9.999999999999999e+22");
        assert_eq!(format_f32(68233136.0), "6.8233136e+07");
        assert_eq!(format_f32(8.589973e9), "8.589974e+09");
        assert_eq!(format_f64(9007199254740993.0), "9.007199254740992e+15");
        assert_eq!(format_f64(1e22), "1e+22");
        assert_eq!(format_f64(f64::MIN_POSITIVE), "2.2250738585072014e-308");
        assert_eq!(format_f64(f64::MAX), "1.7976931348623157e+308");
        assert_eq!(format_f32(f32::MIN_POSITIVE), "1.1754944e-38");
        assert_eq!(format_f32(1e-45), "1e-45");
    }

    #[test]
    fn float_output_round_trips() {
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let d = f64::from_bits(state);
            if d.is_finite() {
                assert_eq!(parse_f64(&format_f64(d)).unwrap().to_bits(), d.to_bits(), "{d:e}");
            }
            let f = f32::from_bits(state as u32);
            if f.is_finite() {
                assert_eq!(parse_f32(&format_f32(f)).unwrap().to_bits(), f.to_bits(), "{f:e}");
            }
        }
    }

    #[test]
    fn numeric_input_and_typmod() {
        let n = |s: &str| parse_numeric(s).unwrap().to_string();
        assert_eq!(n("1.50"), "1.50");
        assert_eq!(n(" -12 "), "-12");
        assert_eq!(n("1e2"), "100");
        assert_eq!(n("1.5e-3"), "0.0015");
        assert_eq!(n("2.50e1"), "25.0");
        assert_eq!(n(".5"), "0.5");
        assert_eq!(n("-0.0"), "0.0");
        assert_eq!(n("0.00000000000000000000000000000015"), "0.0000000000000000000000000000");
        assert_eq!(n("1.00000000000000000000000000005"), "1.0000000000000000000000000001");
        assert!(parse_numeric("NaN").unwrap_err().to_string().contains("NaN"));
        assert!(parse_numeric("1e100").is_err());
        assert_eq!(n("0e-9223372036854775807"), "0.0000000000000000000000000000");
        assert!(parse_numeric("1e9223372036854775807").is_err());
        assert!(parse_numeric("x").is_err());
        let t = |s: &str, p, sc| apply_numeric_typmod(parse_numeric(s).unwrap(), p, sc);
        assert_eq!(t("12.345", 4, 2).unwrap().to_string(), "12.35");
        assert_eq!(t("12.3", 4, 2).unwrap().to_string(), "12.30");
        assert_eq!(t("-0.001", 4, 2).unwrap().to_string(), "0.00");
        assert_eq!(t("2.5", 1, 0).unwrap().to_string(), "3");
        assert_eq!(t("123.45", 4, 2).unwrap_err().to_string(), "numeric field overflow");
        assert_eq!(t("99.995", 4, 2).unwrap_err().to_string(), "numeric field overflow");
        assert_eq!(format_numeric(&parse_numeric("-0").unwrap()), "0");
    }
}

/// Writes `n` in decimal at the end of `buf` and returns the digits, without
/// allocating (protocol replies and command tags format integers on every
/// row or statement).
pub fn format_u64(n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    let mut n = n;
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[i..]
}

/// [`format_u64`] for a signed integer (at most 19 digits and the sign).
pub fn format_i64(v: i64, buf: &mut [u8; 20]) -> &[u8] {
    let mut start = buf.len() - format_u64(v.unsigned_abs(), buf).len();
    if v < 0 {
        start -= 1;
        buf[start] = b'-';
    }
    &buf[start..]
}

#[cfg(test)]
mod decimal_tests {
    use super::*;

    #[test]
    fn integers_format_as_display_does() {
        for v in [0, 7, -7, 10, -100, i64::MAX, i64::MIN] {
            assert_eq!(format_i64(v, &mut [0u8; 20]), v.to_string().as_bytes());
        }
        assert_eq!(format_u64(u64::MAX, &mut [0u8; 20]), u64::MAX.to_string().as_bytes());
    }
}
