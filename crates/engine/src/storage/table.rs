//! A table's physical storage: its row slab and its indexes.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use arc_swap::{ArcSwap, ArcSwapOption};
use parking_lot::RwLock;

use crate::error::Result;
use crate::mvcc::{Timestamp, Version, VersionRef};
use crate::row;
use crate::schema::{IndexId, TableId};
use crate::stats::TableStatistics;
use crate::storage::RowId;
use crate::storage::index::IndexStorage;
use crate::storage::slab::RowSlab;
use crate::types::{DataType, Value};

/// Rows and indexes of one table, shared by every transaction.
pub(crate) struct TableStorage {
    pub id: TableId,
    pub slab: RowSlab,
    indexes: ArcSwap<Vec<Arc<IndexStorage>>>,
    /// Row writers hold it shared while they add a version and its index
    /// entries; an index build holds it exclusively while it registers the
    /// new index, so every version is either seen by the build or indexed by
    /// its writer.
    pub gate: RwLock<()>,
    /// Physical column types (only ever appended to) and the values rows
    /// written before a column existed read as.
    layout: ArcSwap<(Vec<DataType>, Vec<Value>)>,
    /// Commit timestamp of the newest commit that wrote this table.
    pub last_commit: AtomicU64,
    /// Approximate count of live rows (committed inserts minus deletes).
    pub live_rows: AtomicI64,
    /// Approximate bytes of row data held, all versions.
    pub data_bytes: AtomicI64,
    /// What the newest `ANALYZE` learned (see `stats`).
    pub statistics: ArcSwapOption<TableStatistics>,
}

impl TableStorage {
    pub fn new(id: TableId, types: Vec<DataType>, missing: Vec<Value>) -> TableStorage {
        TableStorage {
            id,
            slab: RowSlab::new(),
            indexes: ArcSwap::from_pointee(Vec::new()),
            gate: RwLock::new(()),
            layout: ArcSwap::from_pointee((types, missing)),
            last_commit: AtomicU64::new(0),
            live_rows: AtomicI64::new(0),
            data_bytes: AtomicI64::new(0),
            statistics: ArcSwapOption::empty(),
        }
    }

    /// The newest version of a row (committed or not), if the row exists.
    pub fn head(&self, row_id: RowId) -> Option<VersionRef> {
        self.slab.get(row_id)?.load_full()
    }

    /// All indexes.
    pub fn indexes(&self) -> Arc<Vec<Arc<IndexStorage>>> {
        self.indexes.load_full()
    }

    /// An index by id.
    pub fn index(&self, id: IndexId) -> Option<Arc<IndexStorage>> {
        self.indexes.load().iter().find(|i| i.schema.id == id).cloned()
    }

    /// Registers an index; callers hold `gate` exclusively and fill it after.
    pub fn attach_index(&self, index: Arc<IndexStorage>) {
        let mut list = Vec::clone(&self.indexes.load());
        list.retain(|i| i.schema.id != index.schema.id);
        list.push(index);
        self.indexes.store(Arc::new(list));
    }

    /// Unregisters an index.
    pub fn detach_index(&self, id: IndexId) {
        let mut list = Vec::clone(&self.indexes.load());
        list.retain(|i| i.schema.id != id);
        self.indexes.store(Arc::new(list));
    }

    /// Replaces the index list wholesale (schema changes and replay).
    pub fn set_indexes(&self, list: Vec<Arc<IndexStorage>>) {
        self.indexes.store(Arc::new(list));
    }

    /// Physical column types and missing-column values.
    pub fn layout(&self) -> Arc<(Vec<DataType>, Vec<Value>)> {
        self.layout.load_full()
    }

    /// Records the physical layout (after ADD COLUMN, or to undo one).
    pub fn set_layout(&self, types: Vec<DataType>, missing: Vec<Value>) {
        self.layout.store(Arc::new((types, missing)));
    }

    /// Encodes a physical row. A row may hold fewer columns than the
    /// layout: a writer whose schema predates an ADD COLUMN writes rows
    /// without it, and they read the column's missing value.
    pub fn encode(&self, values: &[Value]) -> Result<row::RowData> {
        let layout = self.layout.load();
        let types = layout.0.get(..values.len()).ok_or_else(|| {
            crate::error::Error::Internal(format!("row has {} values for {} columns", values.len(), layout.0.len()))
        })?;
        row::encode(values, types)
    }

    /// Decodes a version into physical column order; columns the row
    /// predates read as their recorded missing value.
    pub fn decode(&self, version: &Version) -> Result<Vec<Value>> {
        let layout = self.layout.load();
        let (types, missing) = &**layout;
        let mut values = row::decode(&version.data, types)?;
        for i in values.len()..types.len() {
            values.push(missing.get(i).cloned().unwrap_or(Value::Null));
        }
        Ok(values)
    }

    /// How many physical columns rows have now.
    pub fn column_count(&self) -> usize {
        self.layout.load().0.len()
    }

    /// Like [`TableStorage::decode`], materializing only the physical
    /// columns flagged in `wanted` (the others read as NULL).
    pub fn decode_selected(&self, version: &Version, wanted: &[bool]) -> Result<Vec<Value>> {
        let layout = self.layout.load();
        let (types, missing) = &**layout;
        let mut values = row::decode_selected(&version.data, types, wanted)?;
        for i in values.len()..types.len() {
            values.push(if wanted.get(i).copied().unwrap_or(false) {
                missing.get(i).cloned().unwrap_or(Value::Null)
            } else {
                Value::Null
            });
        }
        Ok(values)
    }

    /// The values of the physical `columns` of a version, in that order
    /// (an index key), without decoding the rest of the row.
    pub fn decode_key(&self, version: &Version, columns: &[usize]) -> Result<Vec<Value>> {
        let layout = self.layout.load();
        let (types, missing) = &**layout;
        columns
            .iter()
            .map(|&c| {
                Ok(match row::decode_column(&version.data, types, c)? {
                    Some(value) => value,
                    // The row predates the column.
                    None => missing.get(c).cloned().unwrap_or(Value::Null),
                })
            })
            .collect()
    }

    /// Adds index entries of a replayed version; a primary-key entry still
    /// held by a dead row (not yet collected here) moves to this row.
    pub fn index_replayed_version(&self, values: &[Value], row_id: RowId) {
        for index in self.indexes.load().iter() {
            let key = index.key_values(values);
            if let Err(holder) = index.insert(&key, row_id) {
                index.remove(&key, holder);
                let _ = index.insert(&key, row_id);
            }
        }
    }

    /// Removes the entries of `values` from every index, except keys still
    /// used by one of the `keep` versions of the same row.
    pub fn unindex_version(&self, values: &[Value], row_id: RowId, keep: &[Vec<Value>]) {
        for index in self.indexes.load().iter() {
            let key = index.key_values(values);
            if keep.iter().any(|other| index.key_values(other) == key) {
                continue;
            }
            index.remove(&key, row_id);
        }
    }

    /// Accounts for row data added (positive) or freed (negative).
    pub fn account(&self, bytes: i64) {
        self.data_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Records a commit that wrote this table.
    pub fn touch(&self, ts: Timestamp) {
        self.last_commit.fetch_max(ts, Ordering::AcqRel);
    }
}
