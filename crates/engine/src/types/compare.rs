//! Equality, hashing and ordering of values, with PostgreSQL's semantics.
//!
//! [`Value::total_cmp`] is the order of `ORDER BY … ASC` and of indexes:
//!
//! * `NULL` sorts after every other value (`NULLS LAST`), and equals
//!   itself here: this is grouping/`DISTINCT` equality, not SQL `=`
//!   (for that, see [`Value::sql_cmp`] and [`Value::sql_eq`]);
//! * numbers compare by exact mathematical value across `smallint`,
//!   `integer`, `bigint`, `real`, `double precision` and `numeric`
//!   (`Int4(1) = Float8(1.0) = Numeric(1.00)`); `NaN` is above every other
//!   number, including `Infinity`, and equals itself; `-0.0 = 0.0`;
//! * `date`, `timestamp` and `timestamptz` compare as instants (the session
//!   zone is UTC), a date being its midnight; infinities match;
//! * text and bytea bytewise (the C collation), booleans `false < true`,
//!   intervals by their 30-day-month span, uuids bytewise, jsonb by
//!   PostgreSQL's jsonb order, json by its text;
//! * arrays element by element (NULL elements last), then shorter first;
//! * values of unrelated types by a fixed rank of their type family, so
//!   the order is total: bool < numbers < text < bytea < date/timestamps <
//!   time < interval < uuid < json < jsonb < arrays < NULL.
//!
//! `Hash` agrees with `Eq`: equal numbers of different types hash alike
//! because they are hashed through one canonical key, [`NumKey`].
//!
//! Exactness note: comparing a float with a numeric is exact here, whereas
//! PostgreSQL's `=` between them converts the numeric to `float8` first.

use std::cmp::Ordering;
use std::hash::{Hash, Hasher};

use rust_decimal::Decimal;

use super::Value;
use super::interval::USECS_PER_DAY;
use super::json;

/// 2^96: no `numeric` reaches this magnitude.
const TWO_POW_96: f64 = 79_228_162_514_264_337_593_543_950_336.0;
/// 2^127: integral floats beyond this do not fit an `i128`.
const TWO_POW_127: f64 = 170_141_183_460_469_231_731_687_303_715_884_105_728.0;

/// The canonical form of a number of any numeric type: numbers that are
/// mathematically equal get equal keys, whatever their type, so the key
/// can be hashed and compared.
#[derive(Clone, Copy, Debug)]
pub(crate) enum NumKey {
    /// `-Infinity`.
    NegInf,
    /// An integral value.
    Int(i128),
    /// A non-integral value that a decimal holds exactly (normalized).
    Dec(Decimal),
    /// A float no decimal or integer can equal (more than 28 binary
    /// fraction digits, or integral beyond 2^127).
    Float(f64),
    /// `Infinity`.
    PosInf,
    /// `NaN`, above everything.
    NaN,
}

/// The exact decimal value of a finite non-integral `f64`, if a decimal
/// with at most 28 fractional digits holds it.
fn exact_decimal(f: f64) -> Option<Decimal> {
    let bits = f.to_bits();
    let neg = bits >> 63 == 1;
    let exp_bits = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1u64 << 52) - 1);
    let (mut m, mut e) = if exp_bits == 0 { (frac, -1074) } else { (frac | (1u64 << 52), exp_bits - 1075) };
    if m == 0 {
        return Some(Decimal::ZERO);
    }
    while m & 1 == 0 && e < 0 {
        m >>= 1;
        e += 1;
    }
    if e >= 0 {
        return None; // integral: handled by the caller
    }
    let k = u32::try_from(-e).ok()?;
    if k > 28 {
        return None;
    }
    let mantissa = i128::from(m).checked_mul(5i128.checked_pow(k)?)?;
    let d = Decimal::try_from_i128_with_scale(if neg { -mantissa } else { mantissa }, k).ok()?;
    Some(d.normalize())
}

impl NumKey {
    /// The key of an `f64`.
    pub(crate) fn from_f64(f: f64) -> NumKey {
        if f.is_nan() {
            NumKey::NaN
        } else if f.is_infinite() {
            if f > 0.0 { NumKey::PosInf } else { NumKey::NegInf }
        } else if f.fract() == 0.0 {
            if f.abs() < TWO_POW_127 { NumKey::Int(f as i128) } else { NumKey::Float(f) }
        } else {
            exact_decimal(f).map_or(NumKey::Float(f), NumKey::Dec)
        }
    }

    /// The key of a decimal.
    pub(crate) fn from_decimal(d: &Decimal) -> NumKey {
        let n = d.normalize();
        if n.scale() == 0 { NumKey::Int(n.mantissa()) } else { NumKey::Dec(n) }
    }

    /// The key of a JSON number.
    pub(crate) fn from_json_number(n: &serde_json::Number) -> NumKey {
        if let Some(i) = n.as_i64() {
            NumKey::Int(i128::from(i))
        } else if let Some(u) = n.as_u64() {
            NumKey::Int(i128::from(u))
        } else {
            NumKey::from_f64(n.as_f64().unwrap_or(f64::NAN))
        }
    }

    /// The key of a numeric value, `None` for other values.
    pub(crate) fn of(v: &Value) -> Option<NumKey> {
        Some(match v {
            Value::Int2(i) => NumKey::Int(i128::from(*i)),
            Value::Int4(i) => NumKey::Int(i128::from(*i)),
            Value::Int8(i) => NumKey::Int(i128::from(*i)),
            Value::Float4(f) => NumKey::from_f64(f64::from(*f)),
            Value::Float8(f) => NumKey::from_f64(*f),
            Value::Numeric(d) => NumKey::from_decimal(d),
            _ => return None,
        })
    }

    fn rank(&self) -> u8 {
        match self {
            NumKey::NegInf => 0,
            NumKey::Int(_) | NumKey::Dec(_) | NumKey::Float(_) => 1,
            NumKey::PosInf => 2,
            NumKey::NaN => 3,
        }
    }
}

/// Compares an integer with a decimal exactly.
fn cmp_int_dec(x: i128, d: &Decimal) -> Ordering {
    match Decimal::try_from_i128_with_scale(x, 0) {
        Ok(xd) => xd.cmp(d),
        Err(_) => x.cmp(&0),
    }
}

/// Compares an integer with a finite float key (non-integral, or beyond
/// 2^127) exactly.
fn cmp_int_f64(x: i128, f: f64) -> Ordering {
    if f.abs() >= TWO_POW_127 {
        return if f > 0.0 { Ordering::Less } else { Ordering::Greater };
    }
    let t = f.trunc();
    x.cmp(&(t as i128)).then(if f > t { Ordering::Less } else { Ordering::Greater })
}

/// Compares two plain decimal strings (`-12.5000`) by value.
fn cmp_decimal_text(a: &str, b: &str) -> Ordering {
    fn parts(s: &str) -> (bool, &str, &str) {
        let (neg, body) = s.strip_prefix('-').map_or((false, s), |r| (true, r));
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        let int = int.trim_start_matches('0');
        let frac = frac.trim_end_matches('0');
        (neg && !(int.is_empty() && frac.is_empty()), int, frac)
    }
    let (an, ai, af) = parts(a);
    let (bn, bi, bf) = parts(b);
    let magnitude = ai.len().cmp(&bi.len()).then_with(|| ai.cmp(bi)).then_with(|| af.cmp(bf));
    match (an, bn) {
        (false, true) => Ordering::Greater,
        (true, false) => Ordering::Less,
        (false, false) => magnitude,
        (true, true) => magnitude.reverse(),
    }
}

/// Compares a finite float key with a decimal exactly.
fn cmp_f64_dec(f: f64, d: &Decimal) -> Ordering {
    if f.abs() >= TWO_POW_96 {
        return if f > 0.0 { Ordering::Greater } else { Ordering::Less };
    }
    // 1074 fractional digits print any f64 exactly.
    cmp_decimal_text(&format!("{f:.1074}"), &d.to_string())
}

impl PartialEq for NumKey {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for NumKey {}

impl PartialOrd for NumKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for NumKey {
    fn cmp(&self, other: &Self) -> Ordering {
        use NumKey::{Dec, Float, Int};
        match (self, other) {
            (Int(a), Int(b)) => a.cmp(b),
            (Int(a), Dec(b)) => cmp_int_dec(*a, b),
            (Dec(a), Int(b)) => cmp_int_dec(*b, a).reverse(),
            (Int(a), Float(b)) => cmp_int_f64(*a, *b),
            (Float(a), Int(b)) => cmp_int_f64(*b, *a).reverse(),
            (Dec(a), Dec(b)) => a.cmp(b),
            (Float(a), Dec(b)) => cmp_f64_dec(*a, b),
            (Dec(a), Float(b)) => cmp_f64_dec(*b, a).reverse(),
            (Float(a), Float(b)) => a.partial_cmp(b).unwrap_or(Ordering::Equal),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl Hash for NumKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            NumKey::NegInf => state.write_u8(0),
            NumKey::Int(i) => {
                state.write_u8(1);
                i.hash(state);
            }
            NumKey::Dec(d) => {
                state.write_u8(2);
                d.mantissa().hash(state);
                d.scale().hash(state);
            }
            NumKey::Float(f) => {
                state.write_u8(3);
                f.to_bits().hash(state);
            }
            NumKey::PosInf => state.write_u8(4),
            NumKey::NaN => state.write_u8(5),
        }
    }
}

/// Compares two floats: `NaN` above everything and equal to itself,
/// `-0.0 = 0.0`.
fn cmp_f64(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

/// A date or timestamp as microseconds since 2000-01-01, infinities at the
/// ends of `i128`.
fn instant_key(v: &Value) -> Option<i128> {
    Some(match v {
        Value::Date(i32::MAX) | Value::Timestamp(i64::MAX) | Value::TimestampTz(i64::MAX) => i128::MAX,
        Value::Date(i32::MIN) | Value::Timestamp(i64::MIN) | Value::TimestampTz(i64::MIN) => i128::MIN,
        Value::Date(d) => i128::from(*d) * i128::from(USECS_PER_DAY),
        Value::Timestamp(t) | Value::TimestampTz(t) => i128::from(*t),
        _ => return None,
    })
}

/// The rank of a value's type family, for ordering unrelated types.
fn family_rank(v: &Value) -> u8 {
    match v {
        Value::Bool(_) => 0,
        Value::Int2(_) | Value::Int4(_) | Value::Int8(_) | Value::Float4(_) | Value::Float8(_) | Value::Numeric(_) => 1,
        Value::Text(_) => 2,
        Value::Bytea(_) => 3,
        Value::Date(_) | Value::Timestamp(_) | Value::TimestampTz(_) => 4,
        Value::Time(_) => 5,
        Value::Interval(_) => 6,
        Value::Uuid(_) => 7,
        Value::Json(_) => 8,
        Value::Jsonb(_) => 9,
        Value::Array(_) => 10,
        Value::Null => 11,
    }
}

/// Hashes a jsonb value consistently with [`json::jsonb_cmp`].
fn hash_jsonb<H: Hasher>(v: &serde_json::Value, state: &mut H) {
    use serde_json::Value as J;
    match v {
        J::Null => state.write_u8(0),
        J::String(s) => {
            state.write_u8(1);
            s.hash(state);
        }
        J::Number(n) => {
            state.write_u8(2);
            NumKey::from_json_number(n).hash(state);
        }
        J::Bool(b) => {
            state.write_u8(3);
            b.hash(state);
        }
        J::Array(items) => {
            state.write_u8(4);
            state.write_usize(items.len());
            for item in items {
                hash_jsonb(item, state);
            }
        }
        J::Object(map) => {
            state.write_u8(5);
            state.write_usize(map.len());
            for (k, item) in map {
                k.hash(state);
                hash_jsonb(item, state);
            }
        }
    }
}

impl Value {
    /// The total order of `ORDER BY … ASC` and of indexes (see the module
    /// documentation): NULLs last, NaN above all numbers, numbers across
    /// types by value, unrelated types by type family.
    pub fn total_cmp(&self, other: &Value) -> Ordering {
        match (self, other) {
            (Value::Null, Value::Null) => Ordering::Equal,
            (Value::Null, _) => Ordering::Greater,
            (_, Value::Null) => Ordering::Less,
            (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
            (Value::Float8(a), Value::Float8(b)) => cmp_f64(*a, *b),
            (Value::Float4(a), Value::Float4(b)) => cmp_f64(f64::from(*a), f64::from(*b)),
            (Value::Numeric(a), Value::Numeric(b)) => a.cmp(b),
            (Value::Text(a), Value::Text(b)) => a.as_bytes().cmp(b.as_bytes()),
            (Value::Bytea(a), Value::Bytea(b)) => a.cmp(b),
            (Value::Time(a), Value::Time(b)) => a.cmp(b),
            (Value::Interval(a), Value::Interval(b)) => a.cmp(b),
            (Value::Uuid(a), Value::Uuid(b)) => a.as_bytes().cmp(b.as_bytes()),
            (Value::Json(a), Value::Json(b)) => a.as_bytes().cmp(b.as_bytes()),
            (Value::Jsonb(a), Value::Jsonb(b)) => json::jsonb_cmp(a, b),
            (Value::Array(a), Value::Array(b)) => a
                .elements
                .iter()
                .zip(&b.elements)
                .map(|(x, y)| x.total_cmp(y))
                .find(|o| o.is_ne())
                .unwrap_or_else(|| a.elements.len().cmp(&b.elements.len())),
            _ => {
                if let (Some(a), Some(b)) = (self.as_i64(), other.as_i64()) {
                    return a.cmp(&b);
                }
                if let (Some(a), Some(b)) = (NumKey::of(self), NumKey::of(other)) {
                    return a.cmp(&b);
                }
                if let (Some(a), Some(b)) = (instant_key(self), instant_key(other)) {
                    return a.cmp(&b);
                }
                family_rank(self).cmp(&family_rank(other))
            }
        }
    }

    /// SQL comparison: `None` (unknown) when either side is `NULL`,
    /// otherwise the order of [`Value::total_cmp`] (in which, as in
    /// PostgreSQL, `NaN = NaN` and arrays compare their NULL elements).
    pub fn sql_cmp(&self, other: &Value) -> Option<Ordering> {
        if self.is_null() || other.is_null() { None } else { Some(self.total_cmp(other)) }
    }

    /// SQL `=`: `None` when either side is `NULL`.
    pub fn sql_eq(&self, other: &Value) -> Option<bool> {
        self.sql_cmp(other).map(Ordering::is_eq)
    }
}

impl PartialEq for Value {
    /// Grouping equality: consistent with [`Value::total_cmp`], so
    /// `NULL == NULL` and `Int4(1) == Numeric(1.0)`.
    fn eq(&self, other: &Self) -> bool {
        self.total_cmp(other) == Ordering::Equal
    }
}

impl Eq for Value {}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Value {
    fn cmp(&self, other: &Self) -> Ordering {
        self.total_cmp(other)
    }
}

impl Hash for Value {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u8(family_rank(self));
        match self {
            Value::Null => {}
            Value::Bool(b) => b.hash(state),
            Value::Text(s) | Value::Json(s) => s.hash(state),
            Value::Bytea(b) => b.hash(state),
            Value::Time(t) => t.hash(state),
            Value::Interval(i) => i.hash(state),
            Value::Uuid(u) => u.hash(state),
            Value::Jsonb(j) => hash_jsonb(j, state),
            Value::Array(a) => {
                state.write_usize(a.elements.len());
                for e in &a.elements {
                    e.hash(state);
                }
            }
            Value::Date(_) | Value::Timestamp(_) | Value::TimestampTz(_) => instant_key(self).hash(state),
            Value::Int2(_)
            | Value::Int4(_)
            | Value::Int8(_)
            | Value::Float4(_)
            | Value::Float8(_)
            | Value::Numeric(_) => {
                NumKey::of(self).hash(state);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::hash_map::DefaultHasher;
    use std::str::FromStr;

    use super::*;
    use crate::types::{Array, DataType, Interval};

    fn h(v: &Value) -> u64 {
        let mut s = DefaultHasher::new();
        v.hash(&mut s);
        s.finish()
    }

    fn dec(s: &str) -> Value {
        Value::Numeric(Decimal::from_str(s).unwrap())
    }

    fn assert_same(a: &Value, b: &Value) {
        assert_eq!(a, b, "{a:?} == {b:?}");
        assert_eq!(h(a), h(b), "hash {a:?} == {b:?}");
    }

    #[test]
    fn numbers_across_types() {
        let ones =
            [Value::Int2(1), Value::Int4(1), Value::Int8(1), Value::Float4(1.0), Value::Float8(1.0), dec("1.000")];
        for a in &ones {
            for b in &ones {
                assert_same(a, b);
            }
        }
        assert_same(&Value::Float8(0.5), &dec("0.50"));
        assert_same(&Value::Float4(0.25), &dec("0.25"));
        assert_same(&Value::Float8(-0.0), &Value::Int4(0));
        assert_same(&Value::Float8(2f64.powi(70)), &dec("1180591620717411303424"));
        assert_ne!(Value::Float8(0.1), dec("0.1"));
        assert!(Value::Float8(0.1) > dec("0.1"));
        assert!(Value::Float8(0.1) < dec("0.1000000000000000055511151232"));
        assert!(Value::Float8(0.1) > dec("0.1000000000000000055511151231"));
        assert_ne!(Value::Float4(0.1), Value::Float8(0.1));
        assert!(Value::Int8(i64::MAX) < Value::Float8(9.3e18));
        assert!(Value::Int8(i64::MAX) > Value::Float8(9.2e18));
        assert!(Value::Int4(2) > Value::Float8(1.5));
        assert!(Value::Int4(-2) < Value::Float8(-1.5));
        assert!(dec("-1.5") < Value::Int4(-1));
        assert!(Value::Float8(1e300) > dec("79228162514264337593543950335"));
        assert!(Value::Float8(-1e300) < Value::Int8(i64::MIN));
    }

    #[test]
    fn float_special_values() {
        let nan = Value::Float8(f64::NAN);
        let inf = Value::Float8(f64::INFINITY);
        assert_same(&nan, &Value::Float4(f32::NAN));
        assert!(nan > inf);
        assert!(inf > Value::Int8(i64::MAX));
        assert!(Value::Float8(f64::NEG_INFINITY) < dec("-79228162514264337593543950335"));
        assert!(nan < Value::Null);
        assert_eq!(nan.sql_eq(&nan), Some(true));
    }

    #[test]
    fn nulls_and_sql_comparison() {
        assert_eq!(Value::Null, Value::Null);
        assert!(Value::Null > Value::Int4(i32::MAX));
        assert!(Value::Null > Value::Text("zzz".into()));
        assert_eq!(Value::Null.sql_cmp(&Value::Int4(1)), None);
        assert_eq!(Value::Int4(1).sql_eq(&Value::Null), None);
        assert_eq!(Value::Int4(1).sql_eq(&Value::Int8(1)), Some(true));
        assert_eq!(Value::Int4(1).sql_cmp(&Value::Int4(2)), Some(Ordering::Less));
    }

    #[test]
    fn other_types() {
        assert!(Value::Text("B".into()) < Value::Text("a".into()));
        assert!(Value::Text("a".into()) < Value::Text("ab".into()));
        assert!(Value::Bool(false) < Value::Bool(true));
        assert!(Value::Bytea(vec![1]) < Value::Bytea(vec![1, 0]));
        assert_same(&Value::Interval(Interval::from_months(1)), &Value::Interval(Interval::from_days(30)));
        assert_same(&Value::Date(1), &Value::Timestamp(USECS_PER_DAY));
        assert_same(&Value::Date(i32::MAX), &Value::TimestampTz(i64::MAX));
        assert!(Value::Date(1) < Value::Timestamp(USECS_PER_DAY + 1));
        assert!(Value::Date(i32::MIN) < Value::Timestamp(-211_813_488_000_000_000));
        assert_same(&Value::Text("x".into()), &Value::Text("x".into()));
        assert_ne!(Value::Text("1".into()), Value::Int4(1));
        assert!(Value::Bool(true) < Value::Int4(0));
        assert!(Value::Int4(0) < Value::Text(String::new()));
        let j = |s: &str| Value::Jsonb(Box::new(json::parse_jsonb(s).unwrap()));
        assert_same(&j("{\"a\": 1.0, \"b\": [1]}"), &j("{\"b\": [1], \"a\": 1}"));
        assert!(j("1") < j("true"));
    }

    #[test]
    fn arrays() {
        let arr = |v: Vec<Value>| Value::Array(Box::new(Array { element_type: DataType::Int4, elements: v }));
        let a = arr(vec![Value::Int4(1), Value::Int4(2)]);
        let b = arr(vec![Value::Int4(1), Value::Int4(2), Value::Int4(0)]);
        let c = arr(vec![Value::Int4(1), Value::Null]);
        assert!(a < b);
        assert!(b < c);
        assert_same(&c, &arr(vec![Value::Int8(1), Value::Null]));
        assert_eq!(c.sql_eq(&c), Some(true));
        assert!(arr(vec![]) < a);
    }

    #[test]
    fn total_order_is_consistent() {
        let values = vec![
            Value::Null,
            Value::Bool(true),
            Value::Int2(-3),
            Value::Int8(7),
            Value::Float4(2.5),
            Value::Float8(f64::NAN),
            Value::Float8(1e-30),
            Value::Float8(f64::NEG_INFINITY),
            dec("2.5"),
            dec("-0.000000000000000000000000001"),
            Value::Text("t".into()),
            Value::Date(3),
            Value::Timestamp(5),
            Value::Interval(Interval::from_days(2)),
            Value::Uuid(uuid::Uuid::nil()),
        ];
        for a in &values {
            for b in &values {
                assert_eq!(a.total_cmp(b), b.total_cmp(a).reverse(), "{a:?} vs {b:?}");
                for c in &values {
                    if a <= b && b <= c {
                        assert!(a <= c, "{a:?} <= {b:?} <= {c:?}");
                    }
                }
                if a == b {
                    assert_eq!(h(a), h(b));
                }
            }
        }
    }
}
