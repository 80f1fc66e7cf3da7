//! The value layer takes any raw representation without panicking: random
//! values (extreme integers for dates, times, timestamps and intervals,
//! NaN and infinite floats, 96-bit numerics, odd strings, raw jsonb,
//! mistyped arrays) go through `Display`, text input, `cast`, `coerce_to`,
//! comparison, hashing and the date/time functions, and random or mutated
//! strings go through every type's text input. Failures must be typed
//! errors with a SQLSTATE; a valid value read back from its own text must
//! equal itself.
//!
//! `PROPTEST_CASES` raises the case count (default kept small so the debug
//! suite stays fast).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cmp::Ordering;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use memdb_engine::types::datetime;
use memdb_engine::{Array, DataType, Interval, NumericTypmod, Value};
use proptest::prelude::*;
use rust_decimal::Decimal;

const USECS_PER_DAY: i64 = 86_400_000_000;
/// First and one-past-last valid date (days since 2000-01-01).
const DATE_MIN: i32 = -2_451_545;
const DATE_END: i32 = 2_147_483_494 - 2_451_545;
/// First date whose midnight is past the timestamp range.
const DATE_TS_END: i32 = 109_203_528 - 2_451_545;
/// First and one-past-last valid timestamp.
const TS_MIN: i64 = -211_813_488_000_000_000;
const TS_END: i64 = 9_223_371_331_200_000_000;

fn config(default_cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(default_cases);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

fn scalar_type() -> impl Strategy<Value = DataType> {
    let typmod = |precision, scale| Just(DataType::Numeric(Some(NumericTypmod { precision, scale })));
    prop_oneof![
        Just(DataType::Bool),
        Just(DataType::Int2),
        Just(DataType::Int4),
        Just(DataType::Int8),
        Just(DataType::Float4),
        Just(DataType::Float8),
        Just(DataType::Numeric(None)),
        typmod(5, 2),
        typmod(1, 0),
        typmod(28, 28),
        typmod(0, 0),
        typmod(3, 40),
        typmod(u32::MAX, u32::MAX),
        Just(DataType::Text),
        Just(DataType::Varchar(None)),
        Just(DataType::Varchar(Some(0))),
        Just(DataType::Varchar(Some(3))),
        Just(DataType::Varchar(Some(u32::MAX))),
        Just(DataType::Char(0)),
        Just(DataType::Char(2)),
        Just(DataType::Char(u32::MAX)),
        Just(DataType::Bytea),
        Just(DataType::Date),
        Just(DataType::Time),
        Just(DataType::Timestamp),
        Just(DataType::TimestampTz),
        Just(DataType::Interval),
        Just(DataType::Uuid),
        Just(DataType::Json),
        Just(DataType::Jsonb),
    ]
}

fn data_type() -> impl Strategy<Value = DataType> {
    prop_oneof![
        6 => scalar_type(),
        2 => scalar_type().prop_map(|t| DataType::Array(Box::new(t))),
        1 => scalar_type().prop_map(|t| DataType::Array(Box::new(DataType::Array(Box::new(t))))),
    ]
}

fn int64() -> impl Strategy<Value = i64> {
    prop_oneof![any::<i64>(), Just(i64::MIN), Just(i64::MAX), Just(i64::MIN + 1), Just(i64::MAX - 1), -1000i64..1000]
}

fn int32() -> impl Strategy<Value = i32> {
    prop_oneof![any::<i32>(), Just(i32::MIN), Just(i32::MAX), Just(i32::MIN + 1), Just(i32::MAX - 1), -1000i32..1000]
}

fn date() -> impl Strategy<Value = i32> {
    prop_oneof![
        int32(),
        DATE_MIN - 3..DATE_MIN + 3,
        DATE_END - 3..DATE_END + 3,
        DATE_TS_END - 3..DATE_TS_END + 3,
        -1_000_000i32..1_000_000,
    ]
}

fn timestamp() -> impl Strategy<Value = i64> {
    prop_oneof![
        int64(),
        TS_MIN - 3..TS_MIN + 3,
        TS_END - 3..TS_END + 3,
        -100_000_000_000_000_000i64..100_000_000_000_000_000,
        (-2_000_000i64..2_000_000).prop_map(|d| d * USECS_PER_DAY),
    ]
}

fn time() -> impl Strategy<Value = i64> {
    prop_oneof![int64(), 0..=USECS_PER_DAY, Just(-1), Just(USECS_PER_DAY + 1)]
}

fn interval() -> impl Strategy<Value = Interval> {
    (int32(), int32(), prop_oneof![int64(), -USECS_PER_DAY..USECS_PER_DAY])
        .prop_map(|(months, days, micros)| Interval { months, days, micros })
}

fn float8() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(-0.0),
        Just(f64::MAX),
        Just(f64::MIN_POSITIVE),
        Just(5e-324),
        Just(9_223_372_036_854_775_808.0), // 2^63
        Just(9_223_372_036_854_774_784.0), // the float below 2^63
        Just(-9_223_372_036_854_775_808.0),
        -1e6f64..1e6,
    ]
}

fn float4() -> impl Strategy<Value = f32> {
    prop_oneof![any::<f32>(), Just(f32::NAN), Just(f32::INFINITY), Just(f32::MAX), Just(1e-45), -1e4f32..1e4]
}

fn numeric() -> impl Strategy<Value = Decimal> {
    prop_oneof![
        (any::<u32>(), any::<u32>(), any::<u32>(), any::<bool>(), 0u32..=28)
            .prop_map(|(lo, mid, hi, neg, scale)| Decimal::from_parts(lo, mid, hi, neg, scale)),
        (int64(), 0u32..=28).prop_map(|(m, s)| Decimal::new(m, s)),
        Just(Decimal::MAX),
        Just(Decimal::MIN),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,12}",
        "[ {}\",\\\\a-z0-9NUL]{0,10}",
        Just("NULL".to_owned()),
        Just(String::new()),
        Just("  ".to_owned()),
        Just("é\u{0}x".to_owned()),
    ]
}

fn json() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value as J;
    let leaf = prop_oneof![
        Just(J::Null),
        any::<bool>().prop_map(J::Bool),
        any::<i64>().prop_map(J::from),
        any::<u64>().prop_map(J::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f).map(J::Number)),
        ".{0,6}".prop_map(J::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(J::Array),
            proptest::collection::vec(("[a-c]{0,3}", inner), 0..4).prop_map(|kv| J::Object(kv.into_iter().collect())),
        ]
    })
}

fn json_text() -> impl Strategy<Value = String> {
    prop_oneof![
        json().prop_map(|j| j.to_string()),
        Just("[1, 2".to_owned()),
        Just("1e-9223372036854775808".to_owned()),
        Just("-1e99999999999999999999".to_owned()),
        Just("\"\\u0000\"".to_owned()),
        ".{0,6}",
    ]
}

fn scalar_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        1 => any::<i16>().prop_map(Value::Int2),
        1 => int32().prop_map(Value::Int4),
        1 => int64().prop_map(Value::Int8),
        1 => float4().prop_map(Value::Float4),
        1 => float8().prop_map(Value::Float8),
        1 => numeric().prop_map(Value::Numeric),
        1 => text().prop_map(Value::Text),
        1 => proptest::collection::vec(any::<u8>(), 0..8).prop_map(Value::Bytea),
        // The date/time types have the most raw values that are invalid.
        3 => date().prop_map(Value::Date),
        2 => time().prop_map(Value::Time),
        3 => timestamp().prop_map(Value::Timestamp),
        2 => timestamp().prop_map(Value::TimestampTz),
        3 => interval().prop_map(Value::Interval),
        1 => any::<u128>().prop_map(|u| Value::Uuid(uuid::Uuid::from_u128(u))),
        1 => json_text().prop_map(Value::Json),
        // Normalized like parsed jsonb, and raw as an embedded caller may build it.
        1 => json().prop_map(Value::jsonb_from),
        1 => json().prop_map(|j| Value::Jsonb(Box::new(j))),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        8 => scalar_value(),
        // Arrays with a random element type and random elements.
        1 => (data_type(), proptest::collection::vec(scalar_value(), 0..4))
            .prop_map(|(element_type, elements)| Value::Array(Box::new(Array { element_type, elements }))),
        // Arrays whose elements have the element type (these round-trip).
        1 => proptest::collection::vec(scalar_value(), 0..4).prop_map(|elements| {
            let element_type = elements.iter().find_map(Value::data_type).unwrap_or(DataType::Int4);
            let elements = elements
                .into_iter()
                .map(|e| if e.data_type().is_none_or(|t| t == element_type) { e } else { Value::Null })
                .collect();
            Value::Array(Box::new(Array { element_type, elements }))
        }),
        // Nested arrays, which no text input produces.
        1 => proptest::collection::vec(scalar_value(), 0..3).prop_map(|elements| {
            let inner = Value::Array(Box::new(Array { element_type: DataType::Text, elements }));
            Value::Array(Box::new(Array {
                element_type: DataType::Array(Box::new(DataType::Text)),
                elements: vec![inner, Value::Null],
            }))
        }),
    ]
}

/// Text likely to hit the corners of the parsers.
fn fuzz_text() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        Just("-"),
        Just("+"),
        Just(":"),
        Just("."),
        Just(" "),
        Just(","),
        Just("{"),
        Just("}"),
        Just("\""),
        Just("\\"),
        Just("\\x"),
        Just("e"),
        Just("E-"),
        Just("9223372036854775808"),
        Just("99999999999999999999999999999999999999999"),
        Just("2147483648"),
        Just("170141183460469231731687303715884105727"),
        Just("9223372036854775807"),
        Just("e-9223372036854775808"),
        Just("24"),
        Just("60"),
        Just("0"),
        Just("1"),
        Just("2024"),
        Just("-01-02"),
        Just("13:45:00.9999995"),
        Just("bc"),
        Just("ad"),
        Just("pm"),
        Just("infinity"),
        Just("-infinity"),
        Just("epoch"),
        Just("allballs"),
        Just("today"),
        Just("years"),
        Just("mons"),
        Just("days"),
        Just("hours"),
        Just("us"),
        Just("millennium"),
        Just("ago"),
        Just("@"),
        Just("P"),
        Just("T"),
        Just("Y"),
        Just("M"),
        Just("NaN"),
        Just("inf"),
        Just("null"),
        Just("NULL"),
        Just("true"),
        Just("[1,"),
        Just("{\"a\":"),
        Just("\\u0000"),
        Just("\\ud800"),
        Just("é"),
        Just("\u{0}"),
        Just("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
    ];
    prop_oneof![proptest::collection::vec(pieces, 0..8).prop_map(|p| p.concat()), ".{0,16}", "[0-9:.+ -]{0,20}",]
}

/// A mutation of `s`: a character replaced, removed, inserted or doubled.
fn mutate(s: &str, at: usize, op: u8, c: char) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    let i = if chars.is_empty() { 0 } else { at % chars.len() };
    match op % 4 {
        0 if !chars.is_empty() => chars[i] = c,
        1 if !chars.is_empty() => {
            chars.remove(i);
        }
        2 => chars.insert(i, c),
        _ => {
            let tail: Vec<char> = chars[i..].to_vec();
            chars.extend(tail);
        }
    }
    chars.into_iter().collect()
}

fn check<T>(result: Result<T, memdb_engine::Error>) -> Option<T> {
    match result {
        Ok(v) => Some(v),
        Err(e) => {
            assert_eq!(e.sqlstate().len(), 5, "{e:?} has a SQLSTATE");
            assert!(!e.to_string().is_empty(), "{e:?} has a message");
            None
        }
    }
}

fn hash_of(v: &Value) -> u64 {
    let mut h = DefaultHasher::new();
    v.hash(&mut h);
    h.finish()
}

/// Whether a value must read back from its text as itself: a value of its
/// own type within PostgreSQL's range (infinities included).
fn round_trips(v: &Value) -> bool {
    match v {
        Value::Date(d) => datetime::date_to_ymd(*d).is_none() || (DATE_MIN..DATE_END).contains(d),
        Value::Time(t) => (0..=USECS_PER_DAY).contains(t),
        Value::Timestamp(t) | Value::TimestampTz(t) => {
            !datetime::timestamp_is_finite(*t) || (TS_MIN..TS_END).contains(t)
        }
        // Only valid JSON text is a json value.
        Value::Json(s) => Value::parse(s, &DataType::Json).is_ok(),
        // Only normalized jsonb without NUL characters (which jsonb text cannot hold).
        Value::Jsonb(j) => {
            !j.to_string().contains("\\u0000") && format!("{:?}", Value::jsonb_from((**j).clone())) == format!("{v:?}")
        }
        Value::Array(a) => {
            !matches!(a.element_type, DataType::Array(_))
                && a.elements.iter().all(|e| e.data_type().is_none_or(|t| t == a.element_type) && round_trips(e))
        }
        _ => true,
    }
}

/// The date/time functions on raw values must not panic either.
fn exercise_datetime(v: &Value, w: &Value) {
    use memdb_engine::types::datetime as dt;
    for field in ["year", "month", "epoch", "julian", "week", "isoyear", "dow", "century", "millennium", "decade"] {
        check(dt::extract(field, v));
        check(dt::date_part(field, v));
        check(dt::date_trunc(field, v));
    }
    for field in ["second", "milliseconds", "hour", "quarter", "day", "doy", "timezone"] {
        check(dt::extract(field, v));
        check(dt::date_part(field, v));
        check(dt::date_trunc(field, v));
    }
    match (v, w) {
        (Value::Timestamp(t) | Value::TimestampTz(t), Value::Interval(i)) => {
            check(dt::timestamp_add_interval(*t, i));
            check(dt::timestamp_sub_interval(*t, i));
            let _ = dt::timestamp_to_chrono(*t);
            let _ = dt::timestamp_to_parts(*t);
            check(dt::timestamp_to_date_checked(*t));
            let _ = dt::format_timestamptz(*t);
        }
        (Value::Timestamp(a), Value::Timestamp(b) | Value::TimestampTz(b)) => {
            check(dt::timestamp_sub_timestamp(*a, *b));
        }
        (Value::Date(d), Value::Interval(i)) => {
            check(dt::date_add_interval(*d, i));
            let _ = dt::date_to_chrono(*d);
            let _ = dt::date_to_ymd(*d);
        }
        (Value::Date(d), Value::Time(t)) => {
            check(dt::date_add_time(*d, *t));
        }
        (Value::Date(a), Value::Date(b)) => {
            check(dt::date_sub_date(*a, *b));
            check(dt::date_add_days(*a, i64::from(*b)));
        }
        (Value::Date(a), Value::Int8(n)) => {
            check(dt::date_add_days(*a, *n));
        }
        (Value::Time(a), Value::Time(b)) => {
            let _ = dt::time_sub_time(*a, *b).to_string();
            let _ = dt::time_to_chrono(*a);
        }
        (Value::Time(t), Value::Interval(i)) => {
            let _ = dt::time_add_interval(*t, i);
        }
        (Value::Interval(a), Value::Interval(b)) => {
            check(a.checked_add(b));
            check(a.checked_sub(b));
            check(a.checked_neg());
            check(a.justify_hours());
            check(a.justify_days());
            let _ = a.span_micros();
        }
        (Value::Interval(a), Value::Float8(f)) => {
            check(a.checked_mul_f64(*f));
            check(a.checked_div_f64(*f));
        }
        (Value::Interval(a), Value::Int4(n)) => {
            check(a.checked_mul_f64(f64::from(*n)));
            check(a.checked_div_f64(f64::from(*n)));
        }
        _ => {}
    }
}

proptest! {
    #![proptest_config(config(if cfg!(debug_assertions) { 512 } else { 4096 }))]

    #[test]
    fn values_through_every_type(v in value(), w in value(), ty in data_type()) {
        // Output, and input of the output.
        let text = v.to_string();
        let _ = format!("{v:?}");
        check(Value::parse(&text, &ty));
        if let Some(own) = v.data_type()
            && round_trips(&v)
        {
            let back = check(Value::parse(&text, &own));
            let back = back.unwrap_or_else(|| panic!("{v:?} reads back from {text:?} as {own}"));
            prop_assert_eq!(back.total_cmp(&v), Ordering::Equal, "{:?} read back from {:?} as {:?}", v, text, back);
        }

        // Casts; a cast result prints and compares like any value.
        for mode in [true, false] {
            let r = if mode { v.cast(&ty) } else { v.clone().coerce_to(&ty) };
            if let Some(out) = check(r) {
                let _ = out.to_string();
                let _ = hash_of(&out);
                let _ = out.total_cmp(&v);
                check(out.cast(&DataType::Text));
            }
        }

        // Comparison and hashing: a total order consistent with hashing.
        let ab = v.total_cmp(&w);
        prop_assert_eq!(ab, w.total_cmp(&v).reverse(), "{:?} vs {:?}", v, w);
        prop_assert_eq!(v.total_cmp(&v), Ordering::Equal);
        if ab.is_eq() {
            prop_assert_eq!(hash_of(&v), hash_of(&w), "{:?} == {:?} hash alike", v, w);
        }
        let sql = v.sql_cmp(&w);
        prop_assert_eq!(sql.is_none(), v.is_null() || w.is_null());
        let _ = v.sql_eq(&w);

        exercise_datetime(&v, &w);
        exercise_datetime(&w, &v);
    }

    #[test]
    fn random_text_into_every_type(s in fuzz_text(), ty in data_type()) {
        if let Some(v) = check(Value::parse(&s, &ty)) {
            // What was read prints, and (being valid) reads back as itself.
            let text = v.to_string();
            let _ = hash_of(&v);
            if let Some(own) = v.data_type()
                && round_trips(&v)
            {
                let back = check(Value::parse(&text, &own)).unwrap_or_else(|| panic!("{s:?} -> {text:?} as {own}"));
                prop_assert_eq!(back.total_cmp(&v), Ordering::Equal, "{:?} -> {:?} -> {:?}", s, text, back);
            }
        }
        check(Value::Text(s.clone()).coerce_to(&ty));
        check(Value::Json(s.clone()).cast(&ty));
    }

    #[test]
    fn mutated_output_into_every_type(v in value(), ty in data_type(), at in any::<usize>(), op in any::<u8>(), c in prop_oneof![Just('-'), Just(':'), Just('.'), Just(' '), Just('9'), Just('{'), Just('"'), Just('\\'), any::<char>()]) {
        let text = mutate(&v.to_string(), at, op, c);
        check(Value::parse(&text, &ty));
        if let Some(own) = v.data_type()
            && let Some(back) = check(Value::parse(&text, &own))
        {
            let _ = back.to_string();
            let _ = back.total_cmp(&v);
        }
    }
}

#[test]
fn extreme_raw_values_print_and_convert() {
    let values = [
        Value::Date(i32::MIN),
        Value::Date(i32::MIN + 1),
        Value::Date(i32::MAX - 1),
        Value::Date(DATE_MIN - 1),
        Value::Timestamp(i64::MIN + 1),
        Value::Timestamp(i64::MAX - 1),
        Value::TimestampTz(TS_MIN - 1),
        Value::Time(i64::MIN),
        Value::Time(-1),
        Value::Time(i64::MAX),
        Value::Interval(Interval { months: i32::MIN, days: i32::MIN, micros: i64::MIN }),
        Value::Interval(Interval { months: i32::MAX, days: i32::MAX, micros: i64::MAX }),
    ];
    let types = [DataType::Date, DataType::Time, DataType::Timestamp, DataType::TimestampTz, DataType::Interval];
    for v in &values {
        assert!(!v.to_string().is_empty());
        for ty in &types {
            check(v.cast(ty));
            check(v.clone().coerce_to(ty));
            check(Value::parse(&v.to_string(), ty));
        }
    }
    assert_eq!(Value::Date(i32::MIN + 1).cast(&DataType::Timestamp).unwrap_err().sqlstate(), "22008");
    assert_eq!(Value::Timestamp(i64::MIN + 1).cast(&DataType::Date).unwrap_err().sqlstate(), "22008");
    assert_eq!(Value::Time(-1).to_string(), "-00:00:00.000001");
    assert_eq!(Value::Time(25 * 3_600_000_000).to_string(), "25:00:00");
    assert_eq!(
        Value::Interval(Interval { months: i32::MIN, days: i32::MIN, micros: i64::MIN }).to_string(),
        "-178956970 years -8 mons -2147483648 days -2562047788:00:54.775808"
    );
    // A date before 4714-11-24 BC prints as its proleptic Gregorian date.
    assert_eq!(Value::Date(DATE_MIN - 1).to_string(), "4714-11-23 BC");
}
