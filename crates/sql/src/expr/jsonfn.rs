//! JSON functions that rewrite documents: `jsonb_set`, `jsonb_insert`,
//! `jsonb_strip_nulls`, `jsonb_pretty`.

use memdb_engine::Value;
use serde_json::Value as Json;

use crate::error::{Result, SqlError};

/// Where a path step lands in an array of `len` elements: an index, or
/// before the start / past the end when out of range.
enum Slot {
    At(usize),
    Before,
    After,
}

fn array_slot(step: &str, len: usize) -> Result<Slot> {
    let i: i64 = step
        .trim()
        .parse()
        .map_err(|_| SqlError::InvalidParameter(format!("path element is not an integer: \"{step}\"")))?;
    let len_i = i64::try_from(len).unwrap_or(i64::MAX);
    let at = if i < 0 { len_i + i } else { i };
    Ok(if at < 0 {
        Slot::Before
    } else if at >= len_i {
        Slot::After
    } else {
        Slot::At(usize::try_from(at).unwrap_or(0))
    })
}

/// How the last step of the path changes its container.
#[derive(Clone, Copy)]
enum Mode {
    /// `jsonb_set`: replace, or add when `create` (the default).
    Set { create: bool },
    /// `jsonb_insert`: add before (or after) an array slot; add a new key.
    Insert { after: bool },
}

fn apply(doc: &mut Json, path: &[String], new: &Json, mode: Mode) -> Result<()> {
    let Some((step, rest)) = path.split_first() else { return Ok(()) };
    match doc {
        Json::Object(map) => {
            if rest.is_empty() {
                match mode {
                    Mode::Set { create } => {
                        if create || map.contains_key(step) {
                            map.insert(step.clone(), new.clone());
                        }
                    }
                    Mode::Insert { .. } => {
                        if map.contains_key(step) {
                            return Err(SqlError::InvalidParameter("cannot replace existing key".into()));
                        }
                        map.insert(step.clone(), new.clone());
                    }
                }
                Ok(())
            } else {
                match map.get_mut(step) {
                    Some(child) => apply(child, rest, new, mode),
                    None => Ok(()),
                }
            }
        }
        Json::Array(items) => {
            let slot = array_slot(step, items.len())?;
            if rest.is_empty() {
                match (mode, slot) {
                    (Mode::Set { .. }, Slot::At(i)) => items[i] = new.clone(),
                    (Mode::Set { create: true }, Slot::Before) | (Mode::Insert { .. }, Slot::Before) => {
                        items.insert(0, new.clone());
                    }
                    (Mode::Set { create: true }, Slot::After) | (Mode::Insert { .. }, Slot::After) => {
                        items.push(new.clone());
                    }
                    (Mode::Set { create: false }, _) => {}
                    (Mode::Insert { after }, Slot::At(i)) => items.insert(if after { i + 1 } else { i }, new.clone()),
                }
                Ok(())
            } else {
                match slot {
                    Slot::At(i) => apply(&mut items[i], rest, new, mode),
                    _ => Ok(()),
                }
            }
        }
        _ => Err(SqlError::InvalidParameter("cannot set path in scalar".into())),
    }
}

fn path_of(path: &Value) -> Result<Vec<String>> {
    let Value::Array(a) = path else {
        return Err(SqlError::DatatypeMismatch("path must be a text array".into()));
    };
    a.elements
        .iter()
        .map(|e| match e {
            Value::Null => Err(SqlError::InvalidParameter("path element at position 1 is null".into())),
            Value::Text(s) => Ok(s.clone()),
            other => Ok(other.to_string()),
        })
        .collect()
}

/// `jsonb_set(target, path, new_value [, create_if_missing])`
pub(crate) fn set(target: Json, path: &Value, new: Json, create: bool) -> Result<Value> {
    let path = path_of(path)?;
    let mut doc = target;
    apply(&mut doc, &path, &new, Mode::Set { create })?;
    Ok(Value::jsonb_from(doc))
}

/// `jsonb_insert(target, path, new_value [, insert_after])`
pub(crate) fn insert(target: Json, path: &Value, new: Json, after: bool) -> Result<Value> {
    let path = path_of(path)?;
    let mut doc = target;
    apply(&mut doc, &path, &new, Mode::Insert { after })?;
    Ok(Value::jsonb_from(doc))
}

/// `jsonb_strip_nulls`: object fields whose value is null go, at any depth.
pub(crate) fn strip_nulls(doc: Json) -> Json {
    match doc {
        Json::Object(map) => {
            Json::Object(map.into_iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k, strip_nulls(v))).collect())
        }
        Json::Array(items) => Json::Array(items.into_iter().map(strip_nulls).collect()),
        other => other,
    }
}

/// `jsonb_pretty`: four-space indentation, as PostgreSQL prints it.
pub(crate) fn pretty(doc: &Json) -> String {
    use serde::Serialize as _;
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
    match doc.serialize(&mut ser) {
        Ok(()) => String::from_utf8(out).unwrap_or_default(),
        Err(_) => doc.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use memdb_engine::{Array, DataType};

    fn path(steps: &[&str]) -> Value {
        Value::Array(Box::new(Array {
            element_type: DataType::Text,
            elements: steps.iter().map(|s| Value::Text((*s).to_owned())).collect(),
        }))
    }

    fn j(text: &str) -> Json {
        serde_json::from_str(text).unwrap_or(Json::Null)
    }

    #[test]
    fn set_replaces_adds_and_leaves_missing_parents_alone() {
        let doc = j(r#"{"a": {"b": [1, 2, 3]}, "c": 1}"#);
        let out = |p: &[&str], create| set(doc.clone(), &path(p), j("9"), create).map(|v| v.to_string());
        assert_eq!(out(&["a", "b", "1"], true).ok(), Some(r#"{"a": {"b": [1, 9, 3]}, "c": 1}"#.into()));
        assert_eq!(out(&["a", "b", "-1"], true).ok(), Some(r#"{"a": {"b": [1, 2, 9]}, "c": 1}"#.into()));
        assert_eq!(out(&["a", "b", "10"], true).ok(), Some(r#"{"a": {"b": [1, 2, 3, 9]}, "c": 1}"#.into()));
        assert_eq!(out(&["d"], true).ok(), Some(r#"{"a": {"b": [1, 2, 3]}, "c": 1, "d": 9}"#.into()));
        assert_eq!(out(&["d"], false).ok(), Some(r#"{"a": {"b": [1, 2, 3]}, "c": 1}"#.into()));
        assert_eq!(out(&["x", "y"], true).ok(), Some(r#"{"a": {"b": [1, 2, 3]}, "c": 1}"#.into()));
        assert!(out(&["a", "b", "x"], true).is_err());
    }

    #[test]
    fn insert_goes_before_or_after_and_refuses_existing_keys() {
        let doc = j(r#"{"a": [0, 1, 2]}"#);
        let ins = |p: &[&str], after| insert(doc.clone(), &path(p), j(r#""new""#), after).map(|v| v.to_string());
        assert_eq!(ins(&["a", "1"], false).ok(), Some(r#"{"a": [0, "new", 1, 2]}"#.into()));
        assert_eq!(ins(&["a", "1"], true).ok(), Some(r#"{"a": [0, 1, "new", 2]}"#.into()));
        assert!(ins(&["a"], false).is_err());
    }

    #[test]
    fn strip_nulls_and_pretty() {
        assert_eq!(strip_nulls(j(r#"{"a": null, "b": [null, {"c": null}]}"#)), j(r#"{"b": [null, {}]}"#));
        assert_eq!(pretty(&j(r#"{"a": [1]}"#)), "{\n    \"a\": [\n        1\n    ]\n}");
    }
}
