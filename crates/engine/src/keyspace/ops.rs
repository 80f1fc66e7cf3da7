//! The key-value changes that go through the commit log, and how one
//! changes an entry.
//!
//! A [`KvOp`] is physical enough to replay deterministically: values are
//! given, times are absolute (milliseconds since the Unix epoch), list
//! positions are resolved, and an expiry is a logged `Delete`. Replaying
//! the same ops on the same state gives the same state, byte for byte.

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use crate::error::{Error, Result};
use crate::keyspace::entry::{Entry, List, Meta, State, UndoAction, Value};
use crate::mvcc::Timestamp;

/// One logged key-value change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum KvOp {
    /// The key holds this string from now on (created if absent; an
    /// existing key keeps its creation time).
    Put {
        /// The key.
        #[serde(with = "serde_bytes")]
        key: Vec<u8>,
        /// The string.
        #[serde(with = "serde_bytes")]
        value: Vec<u8>,
        /// Expiry time (ms since the Unix epoch; 0: none).
        expires_at: u64,
        /// Time of the change.
        at: u64,
    },
    /// The key is removed (also how expiry is logged).
    Delete {
        /// The key.
        #[serde(with = "serde_bytes")]
        key: Vec<u8>,
    },
    /// The key's expiry time changes (0: never expires).
    Expire {
        /// The key.
        #[serde(with = "serde_bytes")]
        key: Vec<u8>,
        /// New expiry time.
        expires_at: u64,
    },
    /// Elements are pushed at one end of a list (created if absent).
    Push {
        /// The key.
        #[serde(with = "serde_bytes")]
        key: Vec<u8>,
        /// At the front (left) rather than the back.
        front: bool,
        /// Elements in push order.
        values: Vec<ByteBuf>,
        /// Time of the change.
        at: u64,
    },
    /// Elements are removed from one end of a list (the key goes when the
    /// list empties).
    Pop {
        /// The key.
        #[serde(with = "serde_bytes")]
        key: Vec<u8>,
        /// From the front (left) rather than the back.
        front: bool,
        /// How many.
        count: u64,
        /// Time of the change.
        at: u64,
    },
    /// The element at `index` is replaced.
    ListSet {
        /// The key.
        #[serde(with = "serde_bytes")]
        key: Vec<u8>,
        /// Position from the front.
        index: u64,
        /// The new element.
        #[serde(with = "serde_bytes")]
        value: Vec<u8>,
        /// Time of the change.
        at: u64,
    },
    /// A new element is inserted so that it ends at `index`.
    ListInsert {
        /// The key.
        #[serde(with = "serde_bytes")]
        key: Vec<u8>,
        /// Position from the front.
        index: u64,
        /// The element.
        #[serde(with = "serde_bytes")]
        value: Vec<u8>,
        /// Time of the change.
        at: u64,
    },
    /// The elements at these ascending positions are removed.
    ListRemove {
        /// The key.
        #[serde(with = "serde_bytes")]
        key: Vec<u8>,
        /// Positions from the front, ascending.
        indexes: Vec<u64>,
        /// Time of the change.
        at: u64,
    },
    /// Only the elements in `start..end` are kept.
    ListTrim {
        /// The key.
        #[serde(with = "serde_bytes")]
        key: Vec<u8>,
        /// First position kept.
        start: u64,
        /// First position dropped after the kept range.
        end: u64,
        /// Time of the change.
        at: u64,
    },
    /// The value and metadata of `from` move to `to` (replacing it).
    Rename {
        /// Source key.
        #[serde(with = "serde_bytes")]
        from: Vec<u8>,
        /// Destination key.
        #[serde(with = "serde_bytes")]
        to: Vec<u8>,
    },
    /// Every key is removed.
    Flush,
}

impl KvOp {
    /// The key the op changes (`None`: several).
    pub fn key(&self) -> Option<&[u8]> {
        match self {
            KvOp::Put { key, .. }
            | KvOp::Delete { key }
            | KvOp::Expire { key, .. }
            | KvOp::Push { key, .. }
            | KvOp::Pop { key, .. }
            | KvOp::ListSet { key, .. }
            | KvOp::ListInsert { key, .. }
            | KvOp::ListRemove { key, .. }
            | KvOp::ListTrim { key, .. } => Some(key),
            KvOp::Rename { .. } | KvOp::Flush => None,
        }
    }
}

fn corrupt(what: &str) -> Error {
    Error::CorruptRecord(format!("key-value change does not fit the key's state: {what}"))
}

/// Applies a single-key op to the key's entry at commit timestamp `ts`,
/// recording undo. Fails (changing nothing) when the op does not fit the
/// entry, which only a corrupt log can cause.
pub(crate) fn apply_to_entry(entry: &mut Entry, op: &KvOp, ts: Timestamp) -> Result<()> {
    let (stamp, meta) = (entry.stamp(), entry.meta());
    match op {
        KvOp::Put { value, expires_at, at, .. } => {
            let created_at = if entry.is_absent() { *at } else { meta.created_at };
            let old = entry.replace_with_string(value, Meta { created_at, updated_at: *at, expires_at: *expires_at });
            entry.push_undo(stamp, meta, UndoAction::Restore(old.value));
        }
        KvOp::Delete { .. } => {
            let old = entry.take_state();
            entry.push_undo(stamp, meta, UndoAction::Restore(old.value));
        }
        KvOp::Expire { expires_at, .. } => {
            if entry.is_absent() {
                return Err(corrupt("expiry of an absent key"));
            }
            entry.set_expires(*expires_at);
            entry.push_undo(stamp, meta, UndoAction::Meta);
        }
        KvOp::Push { front, values, at, .. } => {
            let items = values.iter().map(|v| v.as_slice());
            if entry.is_absent() {
                let list: List = if *front { items.rev().collect() } else { items.collect() };
                entry.put_state(State {
                    value: Some(Value::List(list)),
                    meta: Meta { created_at: *at, updated_at: *at, expires_at: 0 },
                });
                entry.push_undo(stamp, meta, UndoAction::Restore(None));
            } else {
                let list = entry.list_mut().ok_or_else(|| corrupt("push onto a string"))?;
                if *front {
                    items.for_each(|i| list.push_front(i));
                } else {
                    items.for_each(|i| list.push_back(i));
                }
                entry.set_updated(*at);
                let n = values.len();
                entry.push_undo(stamp, meta, if *front { UndoAction::PopFront(n) } else { UndoAction::PopBack(n) });
            }
        }
        KvOp::Pop { front, count, at, .. } => {
            let list = entry.list_mut().ok_or_else(|| corrupt("pop from a non-list"))?;
            let n = usize::try_from(*count).unwrap_or(usize::MAX).min(list.len());
            if n == list.len() {
                let old = entry.take_state();
                entry.push_undo(stamp, meta, UndoAction::Restore(old.value));
            } else {
                let action = if *front {
                    UndoAction::PushFront((0..n).filter_map(|_| list.pop_front()).collect())
                } else {
                    let mut popped: Vec<Box<[u8]>> = (0..n).filter_map(|_| list.pop_back()).collect();
                    popped.reverse();
                    UndoAction::PushBack(popped)
                };
                entry.set_updated(*at);
                entry.push_undo(stamp, meta, action);
            }
        }
        KvOp::ListSet { index, value, at, .. } => {
            let list = entry.list_mut().ok_or_else(|| corrupt("set in a non-list"))?;
            let old = usize::try_from(*index).ok().and_then(|i| list.set(i, value)).ok_or_else(|| corrupt("index"))?;
            entry.set_updated(*at);
            entry.push_undo(stamp, meta, UndoAction::SetAt(*index as usize, old));
        }
        KvOp::ListInsert { index, value, at, .. } => {
            let list = entry.list_mut().ok_or_else(|| corrupt("insert into a non-list"))?;
            let i = usize::try_from(*index).ok().filter(|&i| i <= list.len()).ok_or_else(|| corrupt("index"))?;
            list.insert(i, value);
            entry.set_updated(*at);
            entry.push_undo(stamp, meta, UndoAction::RemoveAt(i));
        }
        KvOp::ListRemove { indexes, at, .. } => {
            let list = entry.list_mut().ok_or_else(|| corrupt("remove from a non-list"))?;
            let len = list.len() as u64;
            if indexes.windows(2).any(|w| w[0] >= w[1]) || indexes.last().is_some_and(|&i| i >= len) {
                return Err(corrupt("positions"));
            }
            let mut removed = Vec::with_capacity(indexes.len());
            for &i in indexes.iter().rev() {
                if let Some(item) = list.remove(i as usize) {
                    removed.push((i as usize, item));
                }
            }
            removed.reverse();
            finish_list_change(entry, stamp, meta, *at, UndoAction::InsertAt(removed));
        }
        KvOp::ListTrim { start, end, at, .. } => {
            let list = entry.list_mut().ok_or_else(|| corrupt("trim of a non-list"))?;
            let len = list.len();
            let end = usize::try_from(*end).unwrap_or(usize::MAX).min(len);
            let start = usize::try_from(*start).unwrap_or(usize::MAX).min(end);
            let mut back: Vec<Box<[u8]>> = (end..len).filter_map(|_| list.pop_back()).collect();
            back.reverse();
            let front: Vec<Box<[u8]>> = (0..start).filter_map(|_| list.pop_front()).collect();
            let mut removed: Vec<(usize, Box<[u8]>)> = front.into_iter().enumerate().collect();
            removed.extend(back.into_iter().enumerate().map(|(i, v)| (end + i, v)));
            finish_list_change(entry, stamp, meta, *at, UndoAction::InsertAt(removed));
        }
        KvOp::Rename { .. } | KvOp::Flush => return Err(corrupt("multi-key op applied to one key")),
    }
    entry.set_stamp(ts);
    Ok(())
}

/// After removing elements: an emptied list removes the key.
fn finish_list_change(entry: &mut Entry, stamp: Timestamp, meta: Meta, at: u64, undo: UndoAction) {
    if entry.list_mut().is_some_and(|l| l.is_empty()) {
        entry.take_state();
    } else {
        entry.set_updated(at);
    }
    entry.push_undo(stamp, meta, undo);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::entry::ValueRef;

    fn list(e: &Entry) -> Vec<String> {
        match e.view() {
            Some(ValueRef::List(l)) => l.iter().map(|v| String::from_utf8_lossy(v).into_owned()).collect(),
            _ => vec![],
        }
    }

    fn push(key: &str, front: bool, vals: &[&str]) -> KvOp {
        KvOp::Push { key: key.into(), front, values: vals.iter().map(|v| ByteBuf::from(v.as_bytes())).collect(), at: 1 }
    }

    #[test]
    fn every_op_rolls_back_exactly() {
        let mut e = Entry::new(b"l");
        let ops = vec![
            push("l", false, &["a", "b", "c", "d", "e"]),
            push("l", true, &["x", "y"]),
            KvOp::Pop { key: "l".into(), front: true, count: 1, at: 2 },
            KvOp::ListSet { key: "l".into(), index: 1, value: b"z".to_vec(), at: 3 },
            KvOp::ListInsert { key: "l".into(), index: 2, value: b"i".to_vec(), at: 3 },
            KvOp::ListRemove { key: "l".into(), indexes: vec![0, 3], at: 4 },
            KvOp::ListTrim { key: "l".into(), start: 1, end: 3, at: 5 },
            KvOp::Expire { key: "l".into(), expires_at: 99 },
            KvOp::Pop { key: "l".into(), front: false, count: 10, at: 6 },
            KvOp::Put { key: "l".into(), value: b"s".to_vec(), expires_at: 0, at: 7 },
            KvOp::Delete { key: "l".into() },
        ];
        let mut states = vec![list(&e)];
        for (ts, op) in ops.iter().enumerate() {
            apply_to_entry(&mut e, op, ts as u64 + 1).unwrap();
            states.push(list(&e));
        }
        assert_eq!(states[2], ["y", "x", "a", "b", "c", "d", "e"]);
        assert_eq!(states[4], ["x", "z", "b", "c", "d", "e"]);
        assert_eq!(states[6], ["z", "i", "c", "d", "e"]);
        assert_eq!(states[7], ["i", "c"]);
        assert!(e.is_absent());
        for expected in states.iter().rev().skip(1) {
            assert!(e.roll_back_one());
            assert_eq!(&list(&e), expected);
        }
        assert!(e.is_absent());
    }

    #[test]
    fn ops_that_do_not_fit_fail_without_change() {
        let mut e = Entry::new(b"k");
        apply_to_entry(&mut e, &KvOp::Put { key: "k".into(), value: b"v".to_vec(), expires_at: 0, at: 1 }, 1).unwrap();
        assert!(apply_to_entry(&mut e, &push("k", true, &["a"]), 2).is_err());
        assert!(matches!(e.view(), Some(ValueRef::Str(b"v"))));
        assert_eq!(e.stamp(), 1);
    }
}
