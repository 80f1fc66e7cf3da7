//! Repeated equality lookups in one index: the inner side of an index
//! nested-loop join, which looks up the rows matching each outer row's key.
//!
//! [`Transaction::index_lookup`] answers one key; a probe resolves the
//! index once, then answers key after key into a reused [`RowBatch`],
//! decoding only the columns the caller reads.

use std::ops::Bound;
use std::sync::Arc;

use super::read::ReadRange;
use super::read::{coerce_key_into, decode_version_into, find_index, warm, warm_heads};
use crate::error::Result;
use crate::key::Key;
use crate::mvcc::Guard;
use crate::security::Privileges;
use crate::storage::RowId;
use crate::storage::index::{IndexStorage, LookupHint};
use crate::txn::{RowBatch, Table, Transaction};
use crate::types::Value;

/// An index opened for repeated equality lookups ([`Transaction::probe`]).
/// A clone is an independent probe of the same index (one per thread of a
/// parallel scan).
#[derive(Clone)]
pub struct IndexProbe {
    table: Table,
    index: Arc<IndexStorage>,
    /// Physical columns to decode (`None`: all): the ones asked for and
    /// the index's own, which every row is checked against.
    wanted: Option<Vec<bool>>,
    /// The current keys, coerced to the column types.
    keys: Vec<Vec<Value>>,
    /// Row ids of the current keys' entries.
    found: Vec<RowId>,
    hint: LookupHint,
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
        // Entries this transaction deferred go in now, so that probes that
        // cannot add them ([`Transaction::probe_shared`]) find them too.
        self.flush_pending();
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
        Ok(IndexProbe {
            table: table.clone(),
            index,
            wanted,
            keys: Vec::new(),
            found: Vec::new(),
            hint: LookupHint::default(),
        })
    }

    /// Replaces `out`'s rows with the visible rows whose key in the probe's
    /// index equals one of `keys` (each a prefix of the index's columns),
    /// as [`Transaction::index_lookup`] finds them: the rows of `keys[0]`
    /// first, then those of `keys[1]`, and so on. `owners` gets, for each
    /// row, the position of its key in `keys`.
    ///
    /// Many keys at once, in passes (index lookups, then the rows' chain
    /// heads, then their visible versions, then their data), so the cache
    /// misses of different keys overlap instead of following each other.
    pub fn probe(
        &mut self,
        probe: &mut IndexProbe,
        keys: &[Vec<Value>],
        out: &mut RowBatch,
        owners: &mut Vec<usize>,
    ) -> Result<()> {
        self.check_active()?;
        self.flush_pending();
        self.probe_rows(probe, keys, out, owners)?;
        if self.options.isolation == super::IsolationLevel::Serializable {
            for key in &probe.keys[..keys.len()] {
                let encoded = Key::encode(key);
                self.remember_range(ReadRange {
                    table: probe.table.id(),
                    index: Some(probe.index.schema.id),
                    lower: Bound::Included(encoded.clone()),
                    upper: encoded.prefix_successor().map_or(Bound::Unbounded, Bound::Excluded),
                });
            }
            for &id in &out.ids {
                self.remember_row(&probe.table, id);
            }
        }
        Ok(())
    }

    /// [`Transaction::probe`] through a shared reference, for the threads
    /// of a parallel scan. A SERIALIZABLE transaction must record what it
    /// reads, which needs the transaction itself: it fails there.
    pub fn probe_shared(
        &self,
        probe: &mut IndexProbe,
        keys: &[Vec<Value>],
        out: &mut RowBatch,
        owners: &mut Vec<usize>,
    ) -> Result<()> {
        self.check_active()?;
        if self.options.isolation == super::IsolationLevel::Serializable {
            return Err(crate::error::Error::Internal(
                "a SERIALIZABLE transaction cannot probe from another thread".into(),
            ));
        }
        self.probe_rows(probe, keys, out, owners)
    }

    /// The lookups of [`Transaction::probe`], recording nothing.
    fn probe_rows(
        &self,
        probe: &mut IndexProbe,
        keys: &[Vec<Value>],
        out: &mut RowBatch,
        owners: &mut Vec<usize>,
    ) -> Result<()> {
        out.clear();
        owners.clear();
        let IndexProbe { table, index, wanted, keys: coerced, found, hint } = probe;
        coerced.resize_with(keys.len(), Vec::new);
        found.clear();
        for (key, slot) in keys.iter().zip(coerced.iter_mut()) {
            coerce_key_into(table, index, key, slot)?;
        }
        index.lookup_many(&coerced[..keys.len()], found, owners, hint);
        let storage = table.storage();
        let layout = storage.layout();
        let guard = Guard::new();
        let cells: Vec<_> = found.iter().map(|&id| storage.slab.get(id)).collect();
        warm_heads(cells.iter().flatten().copied(), &guard);
        let visible: Vec<_> = cells.iter().map(|cell| cell.and_then(|cell| self.snapshot.find(cell, &guard))).collect();
        warm(visible.iter().flatten().copied());
        let mut kept = 0;
        for ((&id, version), i) in found.iter().zip(&visible).zip(0..) {
            let Some(version) = version else { continue };
            let owner = owners[i];
            let key = &coerced[owner];
            if out.rows.len() == out.len {
                out.rows.push(Vec::new());
            }
            let row = &mut out.rows[out.len];
            decode_version_into(version, &layout, wanted.as_deref(), row)?;
            // The entry may be another version's, with another key.
            if !key_matches(index, row, key) {
                continue;
            }
            if table.live.len() != row.len() {
                *row = table.to_logical(row);
            }
            out.ids.push(id);
            out.len += 1;
            owners[kept] = owner;
            kept += 1;
        }
        owners.truncate(kept);
        Ok(())
    }
}

/// Whether a row (physical order) has `key` as its key (or key prefix) in
/// `index`. Integers compare as integers; other values by their encoding,
/// which is what the index orders and matches by.
fn key_matches(index: &IndexStorage, row: &[Value], key: &[Value]) -> bool {
    let columns = &index.schema.columns;
    if key.iter().all(|k| k.as_i64().is_some()) {
        return columns.iter().zip(key).all(|(&c, k)| row.get(c).and_then(Value::as_i64) == k.as_i64());
    }
    let mut found = index.key_values(row);
    found.truncate(key.len());
    Key::encode(&found) == Key::encode(key)
}
