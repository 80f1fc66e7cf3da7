//! Reads: point lookups by primary key or row id, and scans.

use std::ops::Bound;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::key::Key;
use crate::mvcc::Guard;
use crate::schema::{IndexId, TableId};
use crate::security::Privileges;
use crate::storage::RowId;
use crate::storage::index::{FIRST_SCAN_BATCH, IndexStorage, SCAN_BATCH};
use crate::storage::table::TableStorage;
use crate::txn::{IsolationLevel, Row, Table, Transaction};
use crate::types::{DataType, Value};

/// What a scan covers.
#[derive(Clone, Debug)]
pub enum ScanRange {
    /// Every row, in row-id order.
    Full,
    /// Rows whose key in the named ordered index lies within the bounds, in
    /// key order. Bounds may give a prefix of a composite key: a lower bound
    /// `Included([a])` on index `(a, b)` starts at the first `(a, _)`, an
    /// upper bound `Included([a])` ends after the last one.
    Index {
        /// Index name (the primary key's name for primary-key ranges).
        index: String,
        /// Lower bound on the key values.
        lower: Bound<Vec<Value>>,
        /// Upper bound on the key values.
        upper: Bound<Vec<Value>>,
    },
}

impl ScanRange {
    /// Rows whose index key equals `key` exactly (or starts with it).
    pub fn index_eq(index: &str, key: Vec<Value>) -> ScanRange {
        ScanRange::Index { index: index.to_owned(), lower: Bound::Included(key.clone()), upper: Bound::Included(key) }
    }
}

/// A range read, remembered for SERIALIZABLE validation.
#[derive(Clone, Debug)]
pub(crate) struct ReadRange {
    pub table: TableId,
    /// `None`: the whole table.
    pub index: Option<IndexId>,
    pub lower: Bound<Key>,
    pub upper: Bound<Key>,
}

impl ReadRange {
    /// Whether an entry key of the index lies within the range.
    pub fn contains(&self, key: &Key) -> bool {
        let lower_ok = match &self.lower {
            Bound::Included(k) => key >= k,
            Bound::Excluded(k) => key > k,
            Bound::Unbounded => true,
        };
        let upper_ok = match &self.upper {
            Bound::Included(k) => key <= k,
            Bound::Excluded(k) => key < k,
            Bound::Unbounded => true,
        };
        lower_ok && upper_ok
    }
}

/// Encoded bounds for a prefix range over an index.
fn encode_bounds(lower: &Bound<Vec<Value>>, upper: &Bound<Vec<Value>>) -> (Bound<Key>, Bound<Key>) {
    let successor = |k: Key| k.prefix_successor().map_or(Bound::Unbounded, Bound::Excluded);
    let lower = match lower {
        Bound::Included(v) => Bound::Included(Key::encode(v)),
        Bound::Excluded(v) => match successor(Key::encode(v)) {
            Bound::Excluded(k) => Bound::Included(k),
            other => other,
        },
        Bound::Unbounded => Bound::Unbounded,
    };
    let upper = match upper {
        Bound::Included(v) => successor(Key::encode(v)),
        Bound::Excluded(v) => Bound::Excluded(Key::encode(v)),
        Bound::Unbounded => Bound::Unbounded,
    };
    (lower, upper)
}

impl Transaction {
    pub(super) fn remember_row(&mut self, table: &Table, row_id: RowId) {
        if self.options.isolation == IsolationLevel::Serializable {
            self.reads.rows.push((table.id(), row_id));
        }
    }

    pub(super) fn remember_range(&mut self, range: ReadRange) {
        if self.options.isolation == IsolationLevel::Serializable {
            self.reads.ranges.push(range);
        }
    }

    /// Reads a row by primary key (values in key column order).
    pub fn get(&mut self, table: &Table, key: &[Value]) -> Result<Option<Row>> {
        self.check_active()?;
        self.check_privilege(table, Privileges::SELECT)?;
        let pk = table
            .primary
            .as_ref()
            .ok_or_else(|| Error::InvalidParameter(format!("table \"{}\" has no primary key", table.name())))?;
        let key = coerce_key(table, pk, key)?;
        if key.len() != pk.schema.columns.len() {
            return Err(Error::InvalidParameter(format!(
                "primary key of \"{}\" has {} columns",
                table.name(),
                pk.schema.columns.len()
            )));
        }
        if self.options.isolation == IsolationLevel::Serializable {
            let encoded = Key::encode(&key);
            self.remember_range(ReadRange {
                table: table.id(),
                index: Some(pk.schema.id),
                lower: Bound::Included(encoded.clone()),
                upper: Bound::Included(encoded),
            });
        }
        let Some(row_id) = pk.lookup_exact(&key) else { return Ok(None) };
        let Some(physical) = read_visible(self, table.storage(), row_id)? else { return Ok(None) };
        // A new key makes a new row, so a row's versions share its key; only
        // rows changed while the primary key was being added can differ.
        if pk.schema.columns.iter().zip(&key).any(|(&c, k)| physical.get(c) != Some(k)) {
            return Ok(None);
        }
        self.remember_row(table, row_id);
        Ok(Some(Row { id: row_id, values: table.logical_from(physical) }))
    }

    /// Reads a row by row id.
    pub fn get_by_id(&mut self, table: &Table, row_id: RowId) -> Result<Option<Row>> {
        self.check_privilege(table, Privileges::SELECT)?;
        self.read_by_id(table, row_id)
    }

    /// [`Transaction::get_by_id`] without the privilege check (the row a
    /// write just made).
    pub(crate) fn read_by_id(&mut self, table: &Table, row_id: RowId) -> Result<Option<Row>> {
        self.check_active()?;
        self.remember_row(table, row_id);
        match read_visible(self, table.storage(), row_id)? {
            Some(physical) => Ok(Some(Row { id: row_id, values: table.logical_from(physical) })),
            None => Ok(None),
        }
    }

    /// Reads the row an index entry points to, if the version this
    /// transaction sees still has the entry's key.
    fn read_through_index(
        &mut self,
        table: &Table,
        index: &IndexStorage,
        row_id: RowId,
        search: &Key,
        search_len: usize,
    ) -> Result<Option<Row>> {
        let Some(physical) = read_visible(self, table.storage(), row_id)? else { return Ok(None) };
        // The search key may be a prefix of the index's columns.
        let mut key = index.key_values(&physical);
        key.truncate(search_len);
        if Key::encode(&key) != *search {
            return Ok(None);
        }
        self.remember_row(table, row_id);
        Ok(Some(Row { id: row_id, values: table.logical_from(physical) }))
    }

    /// Rows with the given key in any index (hash or ordered), by index name.
    pub fn index_lookup(&mut self, table: &Table, index: &str, key: &[Value]) -> Result<Vec<Row>> {
        self.check_active()?;
        self.check_privilege(table, Privileges::SELECT)?;
        self.flush_pending();
        let index = find_index(table, index)?;
        let key = coerce_key(table, &index, key)?;
        let encoded = Key::encode(&key);
        self.remember_range(ReadRange {
            table: table.id(),
            index: Some(index.schema.id),
            lower: Bound::Included(encoded.clone()),
            upper: encoded.prefix_successor().map_or(Bound::Unbounded, Bound::Excluded),
        });
        let mut rows = Vec::new();
        for row_id in index.lookup(&key) {
            if let Some(row) = self.read_through_index(table, &index, row_id, &encoded, key.len())? {
                rows.push(row);
            }
        }
        Ok(rows)
    }

    /// Scans rows in a range, forwards or (with `reverse`) backwards.
    pub fn scan(&mut self, table: &Table, range: ScanRange, reverse: bool) -> Result<Scan<'_>> {
        let cursor = self.open_scan(table, range, reverse)?;
        Ok(Scan { txn: self, cursor, buffer: Vec::new(), position: 0 })
    }

    /// Opens a scan as an owned cursor that borrows nothing, so a caller
    /// can keep several open (a query's joins and subqueries) and still
    /// write through the transaction between fetches. Rows come from
    /// [`Transaction::fetch`].
    pub fn open_scan(&mut self, table: &Table, range: ScanRange, reverse: bool) -> Result<ScanCursor> {
        self.check_active()?;
        self.check_privilege(table, Privileges::SELECT)?;
        let cursor = match range {
            ScanRange::Full => {
                self.remember_range(ReadRange {
                    table: table.id(),
                    index: None,
                    lower: Bound::Unbounded,
                    upper: Bound::Unbounded,
                });
                let high = table.storage().slab.high_water();
                Cursor::Rows { next: if reverse { high } else { 0 }, high }
            }
            ScanRange::Index { index, lower, upper } => {
                self.flush_pending();
                let index = find_index(table, &index)?;
                if !index.is_ordered() {
                    return Err(Error::InvalidParameter(format!(
                        "index \"{}\" is a hash index and cannot scan ranges",
                        index.schema.name
                    )));
                }
                let coerce = |b: Bound<Vec<Value>>| -> Result<Bound<Vec<Value>>> {
                    Ok(match b {
                        Bound::Included(v) => Bound::Included(coerce_key(table, &index, &v)?),
                        Bound::Excluded(v) => Bound::Excluded(coerce_key(table, &index, &v)?),
                        Bound::Unbounded => Bound::Unbounded,
                    })
                };
                let (lower, upper) = encode_bounds(&coerce(lower)?, &coerce(upper)?);
                self.remember_range(ReadRange {
                    table: table.id(),
                    index: Some(index.schema.id),
                    lower: lower.clone(),
                    upper: upper.clone(),
                });
                Cursor::Index { index, lower, upper }
            }
        };
        Ok(ScanCursor { table: table.clone(), cursor, reverse, done: false, wanted: None, batch: FIRST_SCAN_BATCH })
    }

    /// Appends the next batch of a cursor's rows to `out`; returns `false`
    /// once the cursor is exhausted (nothing more will be appended).
    pub fn fetch(&self, cursor: &mut ScanCursor, out: &mut Vec<Row>) -> Result<bool> {
        self.check_active()?;
        while !cursor.done {
            let before = out.len();
            cursor.refill(self, out)?;
            if out.len() > before {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Replaces `out`'s rows with the next batch of a cursor's rows,
    /// reusing their buffers; returns `false` once the cursor is exhausted
    /// (`out` is then empty). The rows are the same as [`Transaction::fetch`]'s.
    pub fn fetch_batch(&self, cursor: &mut ScanCursor, out: &mut RowBatch) -> Result<bool> {
        self.check_active()?;
        out.clear();
        while !cursor.done {
            cursor.refill_batch(self, out)?;
            if !out.is_empty() {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// Looks an index of the table up by name.
pub(super) fn find_index(table: &Table, name: &str) -> Result<Arc<IndexStorage>> {
    let schema =
        table.schema().index(name).ok_or_else(|| Error::UndefinedObject { kind: "index", name: name.to_owned() })?;
    table
        .storage()
        .index(schema.id)
        .ok_or_else(|| Error::SerializationFailure(format!("index \"{name}\" was dropped by a concurrent transaction")))
}

/// Coerces key values (a prefix of the index's columns) to the column types.
fn coerce_key(table: &Table, index: &IndexStorage, key: &[Value]) -> Result<Vec<Value>> {
    let mut out = Vec::with_capacity(key.len());
    coerce_key_into(table, index, key, &mut out)?;
    Ok(out)
}

/// [`coerce_key`] into a reused vector (cleared first).
pub(super) fn coerce_key_into(table: &Table, index: &IndexStorage, key: &[Value], out: &mut Vec<Value>) -> Result<()> {
    out.clear();
    if key.len() > index.schema.columns.len() {
        return Err(Error::InvalidParameter(format!(
            "index \"{}\" has {} columns but {} key values were given",
            index.schema.name,
            index.schema.columns.len(),
            key.len()
        )));
    }
    let integer = |v: &Value| matches!(v, Value::Int2(_) | Value::Int4(_) | Value::Int8(_));
    for (v, &c) in key.iter().zip(&index.schema.columns) {
        out.push(match table.schema().columns.get(c) {
            // Keys encode every integer type alike (as i64), so an integer
            // of another width keys as it is: a `bigint` parameter beyond
            // an `integer` column's range finds nothing, or bounds a range
            // past every row, as in PostgreSQL, instead of failing a cast.
            Some(col) if integer(v) && matches!(col.data_type, DataType::Int2 | DataType::Int4 | DataType::Int8) => {
                v.clone()
            }
            Some(col) => v.clone().coerce_to(&col.data_type)?,
            None => return Err(Error::Internal("index column out of range".into())),
        });
    }
    Ok(())
}

/// The values (physical order) of the version of a row that `txn` sees.
fn read_visible(txn: &Transaction, storage: &TableStorage, row_id: RowId) -> Result<Option<Vec<Value>>> {
    read_visible_selected(txn, storage, row_id, None)
}

/// Like `read_visible`, materializing only the `wanted` physical columns.
fn read_visible_selected(
    txn: &Transaction,
    storage: &TableStorage,
    row_id: RowId,
    wanted: Option<&[bool]>,
) -> Result<Option<Vec<Value>>> {
    let Some(slot) = storage.slab.get(row_id) else { return Ok(None) };
    txn.snapshot.with_visible(slot, |v| decode_with(storage, v, wanted)).transpose()
}

/// Reads the stamps of each chain's newest version, so that their cache
/// misses overlap (the loads are independent and nothing branches on
/// them) before the visibility checks walk the chains one by one.
pub(super) fn warm_heads<'s>(heads: impl Iterator<Item = &'s crate::mvcc::VersionCell>, guard: &Guard) {
    let mut sum = 0u64;
    for head in heads {
        sum ^= head.peek(guard).map_or(0, crate::mvcc::Version::begin);
    }
    std::hint::black_box(sum);
}

/// Reads the first byte of each version's row data, so that the cache
/// misses of a batch overlap before the rows are decoded one by one.
pub(super) fn warm<'v>(versions: impl Iterator<Item = &'v crate::mvcc::Version>) {
    let mut sum = 0u8;
    for v in versions {
        sum ^= v.data.first().copied().unwrap_or(0);
    }
    std::hint::black_box(sum);
}

fn decode_with(storage: &TableStorage, version: &crate::mvcc::Version, wanted: Option<&[bool]>) -> Result<Vec<Value>> {
    match wanted {
        Some(w) => storage.decode_selected(version, w),
        None => storage.decode(version),
    }
}

#[derive(Clone)]
enum Cursor {
    /// Row ids `next..high` (forward) or `..next` (reverse).
    Rows {
        next: RowId,
        high: RowId,
    },
    Index {
        index: Arc<IndexStorage>,
        lower: Bound<Key>,
        upper: Bound<Key>,
    },
}

/// An open scan that borrows nothing: where it is and what is left.
#[derive(Clone)]
pub struct ScanCursor {
    table: Table,
    cursor: Cursor,
    reverse: bool,
    done: bool,
    /// Physical columns to materialize (`None`: all).
    wanted: Option<Vec<bool>>,
    /// Entries or row ids the next refill takes (grows to `SCAN_BATCH`).
    batch: usize,
}

impl std::fmt::Debug for ScanCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScanCursor").field("table", &self.table.name()).field("done", &self.done).finish()
    }
}

impl ScanCursor {
    /// Restricts the rows this cursor returns to the given logical columns:
    /// the others come back as NULL without being decoded. (An index
    /// cursor always decodes its key columns, which it needs to check
    /// entries.)
    pub fn project(&mut self, logical: &[usize]) {
        let physical_len = self.table.schema().columns.len();
        let mut wanted = vec![false; physical_len];
        for &l in logical {
            if let Some(&p) = self.table.live.get(l) {
                wanted[p] = true;
            }
        }
        if let Cursor::Index { index, .. } = &self.cursor {
            for &p in &index.schema.columns {
                if let Some(w) = wanted.get_mut(p) {
                    *w = true;
                }
            }
        }
        self.wanted = Some(wanted);
    }

    /// The number of row ids a forward full-table cursor has still to
    /// visit (`None` for index and reverse cursors): what a caller weighs
    /// before splitting it.
    pub fn rows_left(&self) -> Option<u64> {
        match self.cursor {
            Cursor::Rows { next, high } if !self.reverse && !self.done => Some(high.saturating_sub(next)),
            _ => None,
        }
    }

    /// Splits a forward full-table cursor into `parts` cursors over
    /// consecutive ranges of its remaining row ids, for several threads
    /// to scan one table: read in order and concatenated, they return
    /// exactly the rows this cursor would. `None` for index and reverse
    /// cursors.
    pub fn split(&self, parts: usize) -> Option<Vec<ScanCursor>> {
        let (next, high) = match self.cursor {
            Cursor::Rows { next, high } if !self.reverse && !self.done && parts > 1 => (next, high),
            _ => return None,
        };
        let span = high.saturating_sub(next);
        let parts = parts as u64;
        Some(
            (0..parts)
                .map(|i| ScanCursor {
                    table: self.table.clone(),
                    cursor: Cursor::Rows { next: next + span * i / parts, high: next + span * (i + 1) / parts },
                    reverse: false,
                    done: false,
                    wanted: self.wanted.clone(),
                    batch: self.batch,
                })
                .collect(),
        )
    }

    /// Whether the caller wants no column at all (`count(*)`): rows are
    /// then only checked for visibility, their data never read.
    fn wants_nothing(&self) -> bool {
        self.wanted.as_deref().is_some_and(|w| !w.contains(&true)) && matches!(self.cursor, Cursor::Rows { .. })
    }

    /// The visible versions of the next batch of row ids or index entries
    /// (with the entry, for an index), valid while `guard` lives. The index
    /// comes back too, to check entries against the rows.
    fn next_visible<'g>(&mut self, txn: &Transaction, guard: &'g Guard) -> Visible<'g> {
        let storage = self.table.storage().clone();
        let size = self.batch;
        self.batch = (size * 4).min(SCAN_BATCH);
        // In passes: every row's visible version, then (by the caller) the
        // row data, then the decoding. Each pass does little per row, so
        // the cache misses of many rows are in flight at once instead of
        // one after another.
        let visible = |id: RowId| storage.slab.get(id).and_then(|slot| txn.snapshot.find(slot, guard));
        let visible = match &mut self.cursor {
            Cursor::Rows { next, high } => {
                let ids = if self.reverse {
                    let from = next.saturating_sub(size as u64);
                    let ids: Vec<RowId> = (from..*next).rev().collect();
                    *next = from;
                    ids
                } else {
                    let to = (*next + size as u64).min(*high);
                    let ids: Vec<RowId> = (*next..to).collect();
                    *next = to;
                    ids
                };
                if ids.is_empty() {
                    self.done = true;
                }
                let cells: Vec<_> = ids.into_iter().filter_map(|id| storage.slab.get(id).map(|c| (id, c))).collect();
                warm_heads(cells.iter().map(|&(_, cell)| cell), guard);
                let found = cells
                    .into_iter()
                    .filter_map(|(id, cell)| txn.snapshot.find(cell, guard).map(|v| (None, id, v)))
                    .collect();
                Visible { index: None, found }
            }
            Cursor::Index { index, lower, upper } => {
                let batch = index.range_batch(lower, upper, self.reverse, size);
                if batch.len() < size {
                    self.done = true;
                }
                if let Some((last, _)) = batch.last() {
                    if self.reverse {
                        *upper = Bound::Excluded(last.clone());
                    } else {
                        *lower = Bound::Excluded(last.clone());
                    }
                }
                let found =
                    batch.into_iter().filter_map(|(entry, id)| visible(id).map(|v| (Some(entry), id, v))).collect();
                Visible { index: Some(index.clone()), found }
            }
        };
        if !self.wants_nothing() {
            warm(visible.found.iter().map(|(_, _, v)| *v));
        }
        visible
    }

    /// Fetches the next batch of index entries or row ids into `out`.
    fn refill(&mut self, txn: &Transaction, out: &mut Vec<Row>) -> Result<()> {
        let storage = self.table.storage().clone();
        let nothing = self.wants_nothing();
        let guard = Guard::new();
        let Visible { index, found } = self.next_visible(txn, &guard);
        for (entry, id, version) in found {
            if nothing {
                out.push(Row { id, values: vec![Value::Null; self.table.live.len()] });
                continue;
            }
            let physical = decode_with(&storage, version, self.wanted.as_deref())?;
            if let (Some(index), Some(entry)) = (&index, &entry)
                && !index.entry_matches(entry, &physical, id)
            {
                continue;
            }
            out.push(Row { id, values: self.table.logical_from(physical) });
        }
        Ok(())
    }

    /// Like [`ScanCursor::refill`], decoding into the reused rows of `out`.
    fn refill_batch(&mut self, txn: &Transaction, out: &mut RowBatch) -> Result<()> {
        let layout = self.table.storage().layout();
        let nothing = self.wants_nothing();
        let guard = Guard::new();
        let Visible { index, found } = self.next_visible(txn, &guard);
        for (entry, id, version) in found {
            if out.rows.len() == out.len {
                out.rows.push(Vec::new());
            }
            let row = &mut out.rows[out.len];
            if nothing {
                // Rows of this cursor are only ever all-NULL.
                if row.len() != self.table.live.len() {
                    row.clear();
                    row.resize_with(self.table.live.len(), || Value::Null);
                }
            } else {
                decode_version_into(version, &layout, self.wanted.as_deref(), row)?;
                if let (Some(index), Some(entry)) = (&index, &entry)
                    && !index.entry_matches(entry, row, id)
                {
                    continue;
                }
                if self.table.live.len() != row.len() {
                    *row = self.table.to_logical(row);
                }
            }
            out.ids.push(id);
            out.len += 1;
        }
        Ok(())
    }
}

/// Decodes a version's `wanted` columns (all: `None`) into `row`, in
/// physical order, reusing its buffers; columns added after the version
/// was written get their defaults from the table's `layout`.
pub(super) fn decode_version_into(
    version: &crate::mvcc::Version,
    layout: &(Vec<DataType>, Vec<Value>),
    wanted: Option<&[bool]>,
    row: &mut Vec<Value>,
) -> Result<()> {
    let (types, missing) = layout;
    let present = crate::row::decode_into(&version.data, types, wanted, row)?;
    for (i, slot) in row.iter_mut().enumerate().skip(present) {
        if wanted.is_none_or(|w| w.get(i).copied().unwrap_or(false)) {
            *slot = missing.get(i).cloned().unwrap_or(Value::Null);
        }
    }
    Ok(())
}

/// The visible versions one refill found.
struct Visible<'g> {
    index: Option<Arc<IndexStorage>>,
    found: Vec<(Option<Key>, RowId, &'g crate::mvcc::Version)>,
}

/// A batch of scanned rows whose buffers are kept from one fetch to the
/// next ([`Transaction::fetch_batch`]): each fetch overwrites the rows in
/// place, reusing their vectors and text buffers, so a long scan allocates
/// nothing per row. For consumers that read each row once and keep
/// nothing of it (aggregates, the probe side of a hash join).
#[derive(Debug, Default)]
pub struct RowBatch {
    pub(super) ids: Vec<RowId>,
    pub(super) rows: Vec<Vec<Value>>,
    pub(super) len: usize,
}

impl RowBatch {
    /// An empty batch.
    pub fn new() -> RowBatch {
        RowBatch::default()
    }

    /// Rows in the batch.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the batch holds no rows.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The rows (values of the live columns, in order) with their ids.
    pub fn iter(&self) -> impl Iterator<Item = (RowId, &[Value])> {
        self.ids.iter().copied().zip(self.rows[..self.len].iter().map(Vec::as_slice))
    }

    pub(super) fn clear(&mut self) {
        self.ids.clear();
        self.len = 0;
    }
}

/// An iterator over the rows of a scan, fetched in batches.
pub struct Scan<'t> {
    txn: &'t Transaction,
    cursor: ScanCursor,
    buffer: Vec<Row>,
    position: usize,
}

impl Iterator for Scan<'_> {
    type Item = Result<Row>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.position == self.buffer.len() {
            self.buffer.clear();
            self.position = 0;
            match self.txn.fetch(&mut self.cursor, &mut self.buffer) {
                Ok(true) => {}
                Ok(false) => return None,
                Err(e) => {
                    self.cursor.done = true;
                    return Some(Err(e));
                }
            }
        }
        let row = std::mem::replace(&mut self.buffer[self.position], Row { id: 0, values: Vec::new() });
        self.position += 1;
        Some(Ok(row))
    }
}
