//! Repeated equality lookups in one index: the inner side of an index
//! nested-loop join, which looks up the rows matching each outer row's key.
//!
//! [`Transaction::index_lookup`] answers one key; a probe resolves the
//! index once, then answers key after key into a reused [`RowBatch`],
//! decoding only the columns the caller reads.

use std::ops::Bound;
use std::sync::Arc;

use super::read::ReadRange;
use super::read::{coerce_key_into, decode_version_into, find_index};
use crate::error::Result;
use crate::key::Key;
use crate::mvcc::Guard;
use crate::security::Privileges;
use crate::storage::RowId;
use crate::storage::index::IndexStorage;
use crate::txn::{RowBatch, Table, Transaction};
use crate::types::Value;

/// An index opened for repeated equality lookups ([`Transaction::probe`]).
pub struct IndexProbe {
    table: Table,
    index: Arc<IndexStorage>,
    /// Physical columns to decode (`None`: all): the ones asked for and
    /// the index's own, which every row is checked against.
    wanted: Option<Vec<bool>>,
    /// The current key, coerced to the column types.
    key: Vec<Value>,
    /// Row ids of the current key's entries.
    ids: Vec<RowId>,
}

impl std::fmt::Debug for IndexProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexProbe").field("table", &self.table.name()).field("index", &self.index.schema.name).finish()
    }
}

impl Transaction {
    /// Opens the named index of `table` for [`Transaction::probe`]. With
    /// `columns` (logical positions), rows come back with only those
    /// columns (and the index's) decoded, the others NULL.
    pub fn open_probe(&mut self, table: &Table, index: &str, columns: Option<&[usize]>) -> Result<IndexProbe> {
        self.check_active()?;
        self.check_privilege(table, Privileges::SELECT)?;
        let index = find_index(table, index)?;
        let wanted = columns.map(|logical| {
            let mut wanted = vec![false; table.schema().columns.len()];
            for p in logical.iter().filter_map(|&l| table.live.get(l)).chain(&index.schema.columns) {
                if let Some(w) = wanted.get_mut(*p) {
                    *w = true;
                }
            }
            wanted
        });
        Ok(IndexProbe { table: table.clone(), index, wanted, key: Vec::new(), ids: Vec::new() })
    }

    /// Replaces `out`'s rows with the visible rows whose key in the probe's
    /// index equals `key` (a prefix of the index's columns), as
    /// [`Transaction::index_lookup`] finds them.
    pub fn probe(&mut self, probe: &mut IndexProbe, key: &[Value], out: &mut RowBatch) -> Result<()> {
        self.check_active()?;
        self.flush_pending();
        out.clear();
        let IndexProbe { table, index, wanted, key: coerced, ids } = probe;
        coerce_key_into(table, index, key, coerced)?;
        // Integer keys compare as integers; others by their encoding,
        // which is what the index orders and matches by.
        let encoded = coerced.iter().any(|v| v.as_i64().is_none()).then(|| Key::encode(coerced));
        if self.options.isolation == super::IsolationLevel::Serializable {
            let encoded = Key::encode(coerced);
            self.remember_range(ReadRange {
                table: table.id(),
                index: Some(index.schema.id),
                lower: Bound::Included(encoded.clone()),
                upper: encoded.prefix_successor().map_or(Bound::Unbounded, Bound::Excluded),
            });
        }
        index.lookup_into(coerced, ids);
        let storage = table.storage();
        let layout = storage.layout();
        let guard = Guard::new();
        for &id in ids.iter() {
            let Some(version) = storage.slab.get(id).and_then(|slot| self.snapshot.find(slot, &guard)) else {
                continue;
            };
            if out.rows.len() == out.len {
                out.rows.push(Vec::new());
            }
            let row = &mut out.rows[out.len];
            decode_version_into(version, &layout, wanted.as_deref(), row)?;
            // The entry may be another version's, with another key.
            let matches = match &encoded {
                None => index
                    .schema
                    .columns
                    .iter()
                    .zip(coerced.iter())
                    .all(|(&c, k)| row.get(c).and_then(Value::as_i64) == k.as_i64()),
                Some(search) => {
                    let mut found = index.key_values(row);
                    found.truncate(coerced.len());
                    Key::encode(&found) == *search
                }
            };
            if !matches {
                continue;
            }
            self.remember_row(table, id);
            if table.live.len() != row.len() {
                *row = table.to_logical(row);
            }
            out.ids.push(id);
            out.len += 1;
        }
        Ok(())
    }
}
