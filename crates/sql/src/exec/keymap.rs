//! A hash map keyed by one value, with integral numbers kept apart as
//! plain `i64` keys: hashing and comparing an `i64` is a multiply and a
//! compare, where a [`Value`] key goes through the canonical numeric key
//! that makes `2::int4`, `2::int8`, `2.0::float8` and `2.00::numeric` equal.
//!
//! Equality is exactly [`Value`]'s: every number equal to an integer in
//! `i64` range is stored under that integer (so equal numbers of different
//! types still meet), everything else under the value itself. The two
//! halves cannot hold equal keys, so a lookup needs to look in one only.

use rustc_hash::FxHashMap as HashMap;

use memdb_engine::Value;
use rust_decimal::prelude::ToPrimitive;

/// 2^63 as an `f64`: the first float beyond `i64`'s range.
const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;

/// The integer a numeric value equals, if it equals one in `i64` range.
pub(crate) fn integral(v: &Value) -> Option<i64> {
    match v {
        Value::Int8(i) => Some(*i),
        Value::Int4(i) => Some(i64::from(*i)),
        Value::Int2(i) => Some(i64::from(*i)),
        Value::Float8(f) => float_integral(*f),
        Value::Float4(f) => float_integral(f64::from(*f)),
        Value::Numeric(d) if d.fract().is_zero() => d.to_i64(),
        _ => None,
    }
}

#[allow(clippy::cast_possible_truncation)]
fn float_integral(f: f64) -> Option<i64> {
    (f.fract() == 0.0 && (-TWO_POW_63..TWO_POW_63).contains(&f)).then_some(f as i64)
}

/// A map from one value to `T`, with [`Value`]'s equality.
#[derive(Debug)]
pub(crate) struct KeyMap<T> {
    ints: HashMap<i64, T>,
    others: HashMap<Value, T>,
}

impl<T> Default for KeyMap<T> {
    fn default() -> Self {
        KeyMap { ints: HashMap::default(), others: HashMap::default() }
    }
}

impl<T> KeyMap<T> {
    /// The entry stored under a value equal to `key`.
    pub(crate) fn get(&self, key: &Value) -> Option<&T> {
        match integral(key) {
            Some(i) => self.ints.get(&i),
            None => self.others.get(key),
        }
    }

    /// Stores `value` under `key`, returning what was stored under an equal
    /// key before.
    pub(crate) fn insert(&mut self, key: &Value, value: T) -> Option<T> {
        match integral(key) {
            Some(i) => self.ints.insert(i, value),
            None => self.others.insert(key.clone(), value),
        }
    }
}

/// Slot of a [`DenseKeys`] that holds no entry.
const EMPTY: u32 = u32::MAX;

/// A [`KeyMap<usize>`] whose keys are all integers in a narrow range, kept
/// as an array indexed by `key - min`: a lookup is a subtraction and one
/// load from an array small enough to stay in cache, where a hash lookup
/// costs hashing and, in a large table, a cache miss. Hash joins switch to
/// it after building when their keys allow (ids, mostly).
#[derive(Debug)]
pub(crate) struct DenseKeys {
    min: i64,
    slots: Vec<u32>,
}

impl KeyMap<usize> {
    /// The map as a [`DenseKeys`], when every key is an integer and the
    /// keys' range is at most four slots per key (and every entry fits a
    /// `u32`).
    pub(crate) fn to_dense(&self) -> Option<DenseKeys> {
        if !self.others.is_empty() || self.ints.is_empty() {
            return None;
        }
        let min = *self.ints.keys().min()?;
        let max = *self.ints.keys().max()?;
        let span = usize::try_from(max.checked_sub(min)?).ok()?.checked_add(1)?;
        if span > self.ints.len().saturating_mul(4).max(1024) {
            return None;
        }
        let mut slots = vec![EMPTY; span];
        for (&key, &entry) in &self.ints {
            let slot = usize::try_from(key - min).ok()?;
            slots[slot] = u32::try_from(entry).ok().filter(|&e| e != EMPTY)?;
        }
        Some(DenseKeys { min, slots })
    }
}

impl DenseKeys {
    /// The entry stored under a value equal to `key` (see [`KeyMap::get`]).
    pub(crate) fn get(&self, key: &Value) -> Option<usize> {
        let slot = usize::try_from(integral(key)?.checked_sub(self.min)?).ok()?;
        match self.slots.get(slot) {
            Some(&e) if e != EMPTY => Some(e as usize),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;

    #[test]
    fn equal_numbers_of_any_type_share_an_entry() {
        let mut m = KeyMap::default();
        assert_eq!(m.insert(&Value::Int4(2), 'a'), None);
        assert_eq!(m.insert(&Value::Int8(2), 'b'), Some('a'));
        assert_eq!(m.get(&Value::Float8(2.0)), Some(&'b'));
        assert_eq!(m.get(&Value::Numeric(Decimal::new(200, 2))), Some(&'b'));
        assert_eq!(m.get(&Value::Int2(2)), Some(&'b'));
        assert_eq!(m.get(&Value::Float8(2.5)), None);
        assert_eq!(m.ints.len() + m.others.len(), 1);
    }

    #[test]
    fn other_values_keep_value_equality() {
        let mut m = KeyMap::default();
        m.insert(&Value::Numeric(Decimal::new(25, 1)), 1);
        m.insert(&Value::Text("x".into()), 2);
        m.insert(&Value::Float8(f64::NAN), 3);
        m.insert(&Value::Float8(1e300), 4);
        assert_eq!(m.get(&Value::Float8(2.5)), Some(&1));
        assert_eq!(m.get(&Value::Text("x".into())), Some(&2));
        assert_eq!(m.get(&Value::Float8(f64::NAN)), Some(&3));
        assert_eq!(m.get(&Value::Float8(1e300)), Some(&4));
        assert_eq!(m.get(&Value::Int8(i64::MAX)), None);
        assert_eq!(m.others.len(), 4);
        assert!(m.to_dense().is_none(), "not all keys are integers");
    }

    #[test]
    fn dense_keys_answer_as_the_map_does() {
        let mut m = KeyMap::default();
        for k in [-5i64, 0, 3, 40] {
            m.insert(&Value::Int8(k), usize::try_from(k + 5).unwrap_or(0));
        }
        let dense = m.to_dense().expect("narrow integer keys");
        for probe in [
            Value::Int8(-5),
            Value::Int4(0),
            Value::Int2(3),
            Value::Float8(40.0),
            Value::Numeric(Decimal::new(400, 1)),
            Value::Int8(1),
            Value::Int8(41),
            Value::Int8(-6),
            Value::Int8(i64::MIN),
            Value::Int8(i64::MAX),
            Value::Float8(3.5),
            Value::Text("3".into()),
        ] {
            assert_eq!(dense.get(&probe), m.get(&probe).copied(), "{probe:?}");
        }
        let mut wide = KeyMap::default();
        wide.insert(&Value::Int8(0), 0);
        wide.insert(&Value::Int8(1 << 40), 1);
        assert!(wide.to_dense().is_none(), "range too wide for the keys");
        let mut extreme = KeyMap::default();
        extreme.insert(&Value::Int8(i64::MIN), 0);
        extreme.insert(&Value::Int8(i64::MAX), 1);
        assert!(extreme.to_dense().is_none());
    }

    #[test]
    fn integral_stays_in_range() {
        assert_eq!(integral(&Value::Float8(-9_223_372_036_854_775_808.0)), Some(i64::MIN));
        assert_eq!(integral(&Value::Float8(9_223_372_036_854_775_808.0)), None);
        assert_eq!(integral(&Value::Float8(f64::INFINITY)), None);
        assert_eq!(integral(&Value::Numeric(Decimal::new(-70, 1))), Some(-7));
        assert_eq!(integral(&Value::Null), None);
    }
}
