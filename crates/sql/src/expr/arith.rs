//! Arithmetic and comparison on values, with PostgreSQL's result types and
//! errors: integer overflow is an error in the operand's width, integer
//! division truncates, numeric division picks PostgreSQL's result scale,
//! division by zero is SQLSTATE 22012, and date/time arithmetic follows the
//! operators PostgreSQL defines.

use std::cmp::Ordering;

use memdb_engine::types::datetime;
use memdb_engine::{DataType, Value};
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use rust_decimal::{Decimal, MathematicalOps};

use super::BinOp;
use crate::error::{Result, SqlError, data_exception};

fn division_by_zero() -> SqlError {
    SqlError::Engine(memdb_engine::Error::DivisionByZero)
}

fn out_of_range(ty: &str) -> SqlError {
    data_exception("22003", format!("{ty} out of range"))
}

fn undefined_operator(op: BinOp, a: &Value, b: &Value) -> SqlError {
    let name = |v: &Value| v.data_type().map_or_else(|| "unknown".to_owned(), |t| t.to_string());
    SqlError::UndefinedFunction(format!("operator does not exist: {} {} {}", name(a), op.symbol(), name(b)))
}

/// Integer width rank: 0 smallint, 1 integer, 2 bigint.
fn int_rank(v: &Value) -> Option<u8> {
    match v {
        Value::Int2(_) => Some(0),
        Value::Int4(_) => Some(1),
        Value::Int8(_) => Some(2),
        _ => None,
    }
}

fn int_value(v: i64, rank: u8) -> Result<Value> {
    Ok(match rank {
        0 => Value::Int2(i16::try_from(v).map_err(|_| out_of_range("smallint"))?),
        1 => Value::Int4(i32::try_from(v).map_err(|_| out_of_range("integer"))?),
        _ => Value::Int8(v),
    })
}

fn rank_name(rank: u8) -> &'static str {
    ["smallint", "integer", "bigint"][usize::from(rank.min(2))]
}

/// The value as f64 if it is a number.
pub(crate) fn to_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Int2(x) => Some(f64::from(*x)),
        Value::Int4(x) => Some(f64::from(*x)),
        Value::Int8(x) => Some(*x as f64),
        Value::Float4(x) => Some(f64::from(*x)),
        Value::Float8(x) => Some(*x),
        Value::Numeric(d) => d.to_f64(),
        _ => None,
    }
}

/// The value as an exact decimal if it is an integer or numeric.
pub(crate) fn to_decimal(v: &Value) -> Option<Decimal> {
    match v {
        Value::Int2(x) => Some(Decimal::from(*x)),
        Value::Int4(x) => Some(Decimal::from(*x)),
        Value::Int8(x) => Some(Decimal::from(*x)),
        Value::Numeric(d) => Some(*d),
        _ => None,
    }
}

fn is_float(v: &Value) -> bool {
    matches!(v, Value::Float4(_) | Value::Float8(_))
}

fn float_result(r: f64, a: f64, b: f64, single: bool) -> Result<Value> {
    if r.is_infinite() && a.is_finite() && b.is_finite() {
        return Err(data_exception("22003", "value out of range: overflow"));
    }
    if single {
        #[allow(clippy::cast_possible_truncation)]
        let r32 = r as f32;
        if r32.is_infinite() && r.is_finite() {
            return Err(data_exception("22003", "value out of range: overflow"));
        }
        Ok(Value::Float4(r32))
    } else {
        Ok(Value::Float8(r))
    }
}

/// Applies an arithmetic operator (`+ - * / % ^ || & | # << >>`).
pub(crate) fn arith(op: BinOp, a: &Value, b: &Value) -> Result<Value> {
    if a.is_null() || b.is_null() {
        return Ok(Value::Null);
    }
    if op == BinOp::Concat {
        return concat(a, b);
    }
    if let (Some(ra), Some(rb)) = (int_rank(a), int_rank(b)) {
        let rank = ra.max(rb);
        let (x, y) = (a.as_i64().unwrap_or(0), b.as_i64().unwrap_or(0));
        let r = match op {
            BinOp::Add => x.checked_add(y),
            BinOp::Sub => x.checked_sub(y),
            BinOp::Mul => x.checked_mul(y),
            BinOp::Div | BinOp::Rem if y == 0 => return Err(division_by_zero()),
            BinOp::Div => x.checked_div(y),
            BinOp::Rem => Some(x.checked_rem(y).unwrap_or(0)),
            BinOp::BitAnd => Some(x & y),
            BinOp::BitOr => Some(x | y),
            BinOp::BitXor => Some(x ^ y),
            BinOp::ShiftLeft => Some(shift(x, y, rank, true)),
            BinOp::ShiftRight => Some(shift(x, y, rank, false)),
            BinOp::Pow => {
                let r = (x as f64).powf(y as f64);
                // 0 ^ negative is 2201F before it is an overflow.
                pow_check(Value::Null, x as f64, y as f64)?;
                return float_result(r, x as f64, y as f64, false);
            }
            _ => return Err(undefined_operator(op, a, b)),
        };
        return int_value(r.ok_or_else(|| out_of_range(rank_name(rank)))?, rank);
    }
    match (a, b) {
        _ if (is_float(a) || is_float(b)) && to_f64(a).is_some() && to_f64(b).is_some() => {
            let (x, y) = (to_f64(a).unwrap_or(0.0), to_f64(b).unwrap_or(0.0));
            let single = matches!((a, b), (Value::Float4(_), Value::Float4(_)));
            let r = match op {
                BinOp::Add => x + y,
                BinOp::Sub => x - y,
                BinOp::Mul => x * y,
                BinOp::Div if y == 0.0 => return Err(division_by_zero()),
                BinOp::Div => x / y,
                BinOp::Rem => return Err(undefined_operator(op, a, b)),
                BinOp::Pow => return pow_check(Value::Float8(x.powf(y)), x, y),
                _ => return Err(undefined_operator(op, a, b)),
            };
            float_result(r, x, y, single)
        }
        _ if to_decimal(a).is_some() && to_decimal(b).is_some() => {
            let (x, y) = (to_decimal(a).unwrap_or_default(), to_decimal(b).unwrap_or_default());
            numeric_op(op, x, y)
                .map_err(|e| if matches!(e, SqlError::UndefinedFunction(_)) { undefined_operator(op, a, b) } else { e })
        }
        _ => datetime_op(op, a, b),
    }
}

fn pow_check(v: Value, x: f64, y: f64) -> Result<Value> {
    if x == 0.0 && y < 0.0 {
        return Err(data_exception("2201F", "zero raised to a negative power is undefined"));
    }
    if x < 0.0 && y.fract() != 0.0 {
        return Err(data_exception("2201F", "a negative number raised to a non-integer power yields a complex result"));
    }
    Ok(v)
}

fn shift(x: i64, y: i64, rank: u8, left: bool) -> i64 {
    let bits = [16, 32, 64][usize::from(rank.min(2))];
    let n = u32::try_from(y.rem_euclid(bits)).unwrap_or(0);
    let r = if left { x.wrapping_shl(n) } else { x.wrapping_shr(n) };
    match rank {
        0 => i64::from(r as i16),
        1 => i64::from(r as i32),
        _ => r,
    }
}

/// Numeric arithmetic, with PostgreSQL's division scale.
fn numeric_op(op: BinOp, x: Decimal, y: Decimal) -> Result<Value> {
    let overflow = || data_exception("22003", "value overflows numeric format");
    let r = match op {
        BinOp::Add => x.checked_add(y),
        BinOp::Sub => x.checked_sub(y),
        BinOp::Mul => x.checked_mul(y),
        BinOp::Div | BinOp::Rem if y.is_zero() => return Err(division_by_zero()),
        BinOp::Div => return numeric_div(x, y).map(Value::Numeric),
        BinOp::Rem => x.checked_rem(y),
        BinOp::Pow => {
            let (fx, fy) = (x.to_f64().unwrap_or(0.0), y.to_f64().unwrap_or(0.0));
            pow_check(Value::Null, fx, fy)?;
            if y.fract().is_zero() && y.abs() < Decimal::from(1000) {
                y.to_i64().and_then(|n| x.checked_powi(n)).map(|d| d.normalize())
            } else {
                Decimal::from_f64(fx.powf(fy))
            }
        }
        _ => return Err(SqlError::UndefinedFunction(String::new())),
    };
    r.map(Value::Numeric).ok_or_else(overflow)
}

/// Numeric division rounded to the scale PostgreSQL chooses
/// (`select_div_scale`: at least 16 significant digits, at least the
/// operands' scales).
pub(crate) fn numeric_div(x: Decimal, y: Decimal) -> Result<Decimal> {
    if y.is_zero() {
        return Err(division_by_zero());
    }
    let q = x.checked_div(y).ok_or_else(|| data_exception("22003", "value overflows numeric format"))?;
    let (w1, f1) = base10000_weight(x);
    let (w2, f2) = base10000_weight(y);
    let mut qweight = w1 - w2;
    if f1 <= f2 {
        qweight -= 1;
    }
    let rscale = (16 - qweight * 4).max(i64::from(x.scale())).max(i64::from(y.scale())).clamp(0, 28);
    let scale = u32::try_from(rscale).unwrap_or(28);
    let mut r = q.round_dp_with_strategy(scale, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    r.rescale(scale);
    Ok(r)
}

/// PostgreSQL's base-10000 weight of a decimal and its first base-10000 digit.
fn base10000_weight(d: Decimal) -> (i64, u64) {
    let d = d.abs();
    if d.is_zero() {
        return (0, 0);
    }
    // Position of the most significant decimal digit relative to the point.
    let mantissa = d.mantissa().unsigned_abs();
    let digits = i64::try_from(mantissa.to_string().len()).unwrap_or(1);
    let exp10 = digits - 1 - i64::from(d.scale()); // value = m.xxx × 10^exp10
    let weight = exp10.div_euclid(4);
    // The first base-10000 digit: the value's digits in [10^(4w), 10^(4w+4)).
    let shifted = d / Decimal::from_i128_with_scale(1, 0) * pow10(-(weight * 4));
    (weight, shifted.trunc().to_u64().unwrap_or(0))
}

fn pow10(e: i64) -> Decimal {
    if e >= 0 {
        Decimal::from_i128_with_scale(10i128.pow(u32::try_from(e.min(28)).unwrap_or(0)), 0)
    } else {
        Decimal::from_i128_with_scale(1, u32::try_from((-e).min(28)).unwrap_or(0))
    }
}

fn concat(a: &Value, b: &Value) -> Result<Value> {
    match (a, b) {
        (Value::Array(x), Value::Array(y)) => {
            let mut out = (**x).clone();
            out.elements.extend(y.elements.iter().cloned());
            Ok(Value::Array(Box::new(out)))
        }
        (Value::Array(x), v) => {
            let mut out = (**x).clone();
            out.elements.push(v.cast(&x.element_type)?);
            Ok(Value::Array(Box::new(out)))
        }
        (v, Value::Array(y)) => {
            let mut out = (**y).clone();
            out.elements.insert(0, v.cast(&y.element_type)?);
            Ok(Value::Array(Box::new(out)))
        }
        (Value::Jsonb(x), Value::Jsonb(y)) => Ok(super::func::jsonb_concat(x, y)),
        (Value::Bytea(x), Value::Bytea(y)) => {
            let mut out = x.clone();
            out.extend_from_slice(y);
            Ok(Value::Bytea(out))
        }
        _ => Ok(Value::Text(format!("{a}{b}"))),
    }
}

fn datetime_op(op: BinOp, a: &Value, b: &Value) -> Result<Value> {
    let e = |r: memdb_engine::Result<Value>| r.map_err(SqlError::from);
    match (op, a, b) {
        (BinOp::Add, Value::Date(d), v) | (BinOp::Add, v, Value::Date(d)) if v.as_i64().is_some() => {
            e(datetime::date_add_days(*d, v.as_i64().unwrap_or(0)).map(Value::Date))
        }
        (BinOp::Sub, Value::Date(d), v) if v.as_i64().is_some() => {
            let n = v.as_i64().unwrap_or(0).checked_neg().ok_or_else(|| out_of_range("date"))?;
            e(datetime::date_add_days(*d, n).map(Value::Date))
        }
        (BinOp::Sub, Value::Date(x), Value::Date(y)) => e(datetime::date_sub_date(*x, *y).map(Value::Int4)),
        (BinOp::Add, Value::Date(d), Value::Interval(i)) | (BinOp::Add, Value::Interval(i), Value::Date(d)) => {
            e(datetime::date_add_interval(*d, i).map(Value::Timestamp))
        }
        (BinOp::Sub, Value::Date(d), Value::Interval(i)) => {
            let neg = i.checked_neg()?;
            e(datetime::date_add_interval(*d, &neg).map(Value::Timestamp))
        }
        (BinOp::Add, Value::Date(d), Value::Time(t)) | (BinOp::Add, Value::Time(t), Value::Date(d)) => {
            e(datetime::date_add_time(*d, *t).map(Value::Timestamp))
        }
        (BinOp::Add, Value::Timestamp(t), Value::Interval(i))
        | (BinOp::Add, Value::Interval(i), Value::Timestamp(t)) => {
            e(datetime::timestamp_add_interval(*t, i).map(Value::Timestamp))
        }
        (BinOp::Sub, Value::Timestamp(t), Value::Interval(i)) => {
            e(datetime::timestamp_sub_interval(*t, i).map(Value::Timestamp))
        }
        (BinOp::Add, Value::TimestampTz(t), Value::Interval(i))
        | (BinOp::Add, Value::Interval(i), Value::TimestampTz(t)) => {
            e(datetime::timestamp_add_interval(*t, i).map(Value::TimestampTz))
        }
        (BinOp::Sub, Value::TimestampTz(t), Value::Interval(i)) => {
            e(datetime::timestamp_sub_interval(*t, i).map(Value::TimestampTz))
        }
        (BinOp::Sub, Value::Timestamp(x), Value::Timestamp(y))
        | (BinOp::Sub, Value::TimestampTz(x), Value::TimestampTz(y)) => {
            e(datetime::timestamp_sub_timestamp(*x, *y).map(Value::Interval))
        }
        (BinOp::Sub, Value::Time(x), Value::Time(y)) => Ok(Value::Interval(datetime::time_sub_time(*x, *y))),
        (BinOp::Add, Value::Time(t), Value::Interval(i)) | (BinOp::Add, Value::Interval(i), Value::Time(t)) => {
            Ok(Value::Time(datetime::time_add_interval(*t, i)))
        }
        (BinOp::Sub, Value::Time(t), Value::Interval(i)) => {
            Ok(Value::Time(datetime::time_add_interval(*t, &i.checked_neg()?)))
        }
        (BinOp::Add, Value::Interval(x), Value::Interval(y)) => Ok(Value::Interval(x.checked_add(y)?)),
        (BinOp::Sub, Value::Interval(x), Value::Interval(y)) => Ok(Value::Interval(x.checked_sub(y)?)),
        (BinOp::Mul, Value::Interval(i), v) | (BinOp::Mul, v, Value::Interval(i)) if to_f64(v).is_some() => {
            Ok(Value::Interval(i.checked_mul_f64(to_f64(v).unwrap_or(0.0))?))
        }
        (BinOp::Div, Value::Interval(i), v) if to_f64(v).is_some() => {
            let f = to_f64(v).unwrap_or(0.0);
            if f == 0.0 {
                return Err(division_by_zero());
            }
            Ok(Value::Interval(i.checked_div_f64(f)?))
        }
        _ => Err(undefined_operator(op, a, b)),
    }
}

/// Negates a number or interval.
pub(crate) fn negate(v: &Value) -> Result<Value> {
    Ok(match v {
        Value::Null => Value::Null,
        Value::Int2(x) => Value::Int2(x.checked_neg().ok_or_else(|| out_of_range("smallint"))?),
        Value::Int4(x) => Value::Int4(x.checked_neg().ok_or_else(|| out_of_range("integer"))?),
        Value::Int8(x) => Value::Int8(x.checked_neg().ok_or_else(|| out_of_range("bigint"))?),
        Value::Float4(x) => Value::Float4(-x),
        Value::Float8(x) => Value::Float8(-x),
        Value::Numeric(d) => Value::Numeric(-d),
        Value::Interval(i) => Value::Interval(i.checked_neg()?),
        other => {
            let ty = other.data_type().map_or_else(|| "unknown".to_owned(), |t| t.to_string());
            return Err(SqlError::UndefinedFunction(format!("operator does not exist: - {ty}")));
        }
    })
}

/// Compares two non-null values for a comparison operator; `None` when
/// either is NULL.
pub(crate) fn compare_values(op: BinOp, a: &Value, b: &Value) -> Option<bool> {
    let ord = a.sql_cmp(b)?;
    Some(match op {
        BinOp::Eq => ord == Ordering::Equal,
        BinOp::NotEq => ord != Ordering::Equal,
        BinOp::Lt => ord == Ordering::Less,
        BinOp::LtEq => ord != Ordering::Greater,
        BinOp::Gt => ord == Ordering::Greater,
        BinOp::GtEq => ord != Ordering::Less,
        _ => return None,
    })
}

/// The result type of an arithmetic operator on operand types, or `None`
/// when PostgreSQL has no such operator.
pub(crate) fn result_type(op: BinOp, a: &DataType, b: &DataType) -> Option<DataType> {
    use DataType as T;
    let int_rank = |t: &T| match t {
        T::Int2 => Some(0u8),
        T::Int4 => Some(1),
        T::Int8 => Some(2),
        _ => None,
    };
    let numeric_like = |t: &T| int_rank(t).is_some() || matches!(t, T::Numeric(_));
    let float = |t: &T| matches!(t, T::Float4 | T::Float8);
    if op == BinOp::Concat {
        return Some(match (a, b) {
            (T::Array(e), _) | (_, T::Array(e)) => T::Array(e.clone()),
            (T::Jsonb, T::Jsonb) => T::Jsonb,
            (T::Bytea, T::Bytea) => T::Bytea,
            _ => T::Text,
        });
    }
    if let (Some(x), Some(y)) = (int_rank(a), int_rank(b)) {
        if op == BinOp::Pow {
            return Some(T::Float8);
        }
        return Some([T::Int2, T::Int4, T::Int8][usize::from(x.max(y))].clone());
    }
    let bitwise = matches!(op, BinOp::BitAnd | BinOp::BitOr | BinOp::BitXor | BinOp::ShiftLeft | BinOp::ShiftRight);
    if (float(a) || float(b)) && (float(a) || numeric_like(a)) && (float(b) || numeric_like(b)) {
        if bitwise || op == BinOp::Rem {
            return None;
        }
        return Some(if matches!((a, b), (T::Float4, T::Float4)) { T::Float4 } else { T::Float8 });
    }
    if numeric_like(a) && numeric_like(b) {
        return if bitwise { None } else { Some(T::Numeric(None)) };
    }
    let int = |t: &T| int_rank(t).is_some();
    let num = |t: &T| numeric_like(t) || float(t);
    Some(match (op, a, b) {
        (BinOp::Add, T::Date, t) | (BinOp::Add, t, T::Date) if int(t) => T::Date,
        (BinOp::Sub, T::Date, t) if int(t) => T::Date,
        (BinOp::Sub, T::Date, T::Date) => T::Int4,
        (BinOp::Add | BinOp::Sub, T::Date, T::Interval) | (BinOp::Add, T::Interval, T::Date) => T::Timestamp,
        (BinOp::Add, T::Date, T::Time) | (BinOp::Add, T::Time, T::Date) => T::Timestamp,
        (BinOp::Add | BinOp::Sub, T::Timestamp, T::Interval) | (BinOp::Add, T::Interval, T::Timestamp) => T::Timestamp,
        (BinOp::Add | BinOp::Sub, T::TimestampTz, T::Interval) | (BinOp::Add, T::Interval, T::TimestampTz) => {
            T::TimestampTz
        }
        (BinOp::Sub, T::Timestamp, T::Timestamp) | (BinOp::Sub, T::TimestampTz, T::TimestampTz) => T::Interval,
        (BinOp::Sub, T::Time, T::Time) => T::Interval,
        (BinOp::Add | BinOp::Sub, T::Time, T::Interval) | (BinOp::Add, T::Interval, T::Time) => T::Time,
        (BinOp::Add | BinOp::Sub, T::Interval, T::Interval) => T::Interval,
        (BinOp::Mul, T::Interval, t) | (BinOp::Mul, t, T::Interval) if num(t) => T::Interval,
        (BinOp::Div, T::Interval, t) if num(t) => T::Interval,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn numeric_division_uses_postgres_scale() {
        assert_eq!(numeric_div(num("10"), num("3")).unwrap().to_string(), "3.3333333333333333");
        assert_eq!(numeric_div(num("1"), num("3")).unwrap().to_string(), "0.33333333333333333333");
        assert_eq!(numeric_div(num("100000"), num("3")).unwrap().to_string(), "33333.333333333333");
        assert_eq!(numeric_div(num("3"), num("2")).unwrap().to_string(), "1.5000000000000000");
    }

    #[test]
    fn integer_arithmetic_keeps_width_and_checks_overflow() {
        assert!(matches!(arith(BinOp::Div, &Value::Int4(7), &Value::Int4(2)).unwrap(), Value::Int4(3)));
        assert!(matches!(arith(BinOp::Div, &Value::Int4(-7), &Value::Int4(2)).unwrap(), Value::Int4(-3)));
        assert!(arith(BinOp::Add, &Value::Int4(i32::MAX), &Value::Int4(1)).is_err());
        assert!(matches!(arith(BinOp::Add, &Value::Int4(i32::MAX), &Value::Int8(1)).unwrap(), Value::Int8(_)));
        assert_eq!(arith(BinOp::Div, &Value::Int4(1), &Value::Int4(0)).unwrap_err().sqlstate(), "22012");
        assert_eq!(arith(BinOp::Rem, &Value::Int4(i32::MIN), &Value::Int4(-1)).unwrap(), Value::Int4(0));
    }
}
