//! The values of an uncorrelated `x IN (subquery)`, hashed once per
//! statement so that each row's test is one lookup.

use memdb_engine::Value;

use super::Row;
use super::keymap::KeyMap;

/// The values of an uncorrelated `IN (subquery)`, hashed, so that each
/// row's test is one lookup instead of a pass over every value.
pub(crate) struct InSet {
    keys: KeyMap<()>,
    /// The values' kind: a probe of another kind compares across types,
    /// which only the linear search does.
    family: ValueFamily,
    has_null: bool,
}

/// Kinds of values whose SQL equality is [`Value`]'s own (what the hash
/// set uses); integers and numeric compare as one kind, each float type
/// only with itself (a float meeting another number type is cast first).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ValueFamily {
    /// Integers and numeric.
    Exact,
    Float4,
    Float8,
    Text,
    Bool,
    Date,
    Uuid,
}

impl ValueFamily {
    fn of(v: &Value) -> Option<ValueFamily> {
        Some(match v {
            Value::Int2(_) | Value::Int4(_) | Value::Int8(_) | Value::Numeric(_) => ValueFamily::Exact,
            Value::Float4(f) if f.is_finite() => ValueFamily::Float4,
            Value::Float8(f) if f.is_finite() => ValueFamily::Float8,
            Value::Text(_) => ValueFamily::Text,
            Value::Bool(_) => ValueFamily::Bool,
            Value::Date(_) => ValueFamily::Date,
            Value::Uuid(_) => ValueFamily::Uuid,
            _ => return None,
        })
    }
}

impl InSet {
    /// Fewer values than this are searched linearly.
    const MIN_VALUES: usize = 16;

    /// The set of `rows`' first values; `None` when a linear search must
    /// decide (few values, or of kinds hashing cannot compare).
    pub(super) fn build(rows: &[Row]) -> Option<InSet> {
        if rows.len() < Self::MIN_VALUES {
            return None;
        }
        let mut keys = KeyMap::default();
        let mut family = None;
        let mut has_null = false;
        for row in rows {
            let v = row.first().unwrap_or(&Value::Null);
            if v.is_null() {
                has_null = true;
                continue;
            }
            let f = ValueFamily::of(v)?;
            if *family.get_or_insert(f) != f {
                return None;
            }
            keys.insert(v, ());
        }
        Some(InSet { keys, family: family?, has_null })
    }

    /// `probe IN (values)` with SQL's NULL rules; `None` when the probe is
    /// of another kind than the values (the linear search decides).
    pub(crate) fn contains(&self, probe: &Value) -> Option<Value> {
        if probe.is_null() {
            return Some(Value::Null);
        }
        if ValueFamily::of(probe)? != self.family {
            return None;
        }
        Some(if self.keys.get(probe).is_some() {
            Value::Bool(true)
        } else if self.has_null {
            Value::Null
        } else {
            Value::Bool(false)
        })
    }
}
