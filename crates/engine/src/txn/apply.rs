//! Replay of commit records (recovery, replication).
//!
//! A record is applied as one unit under the commit lock: its versions are
//! stamped directly with the record's timestamp, at the row ids the record
//! names, and the timestamp is published at the end, so readers see the
//! whole record or none of it.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::catalog::{SequenceEntry, TableEntry};
use crate::commitlog::{CommitRecord, LogOp};
use crate::database::Shared;
use crate::error::{Error, Result};
use crate::gc::GcCandidate;
use crate::mvcc::{INFINITY, TXN_BIT, Version, VersionRef};
use crate::schema::{TableId, TableSchema};
use crate::sequence::SequenceState;
use crate::storage::index::IndexStorage;
use crate::storage::table::TableStorage;
use crate::txn::ddl::{fill_index, fresh_storage};

pub(crate) fn apply(shared: &Arc<Shared>, record: &CommitRecord) -> Result<()> {
    let _lock = shared.commit_lock.lock();
    let ts = record.ts;
    let newest = shared.newest.load(Ordering::Acquire);
    if ts != newest + 1 {
        return Err(Error::CorruptRecord(format!("record at {ts} does not follow the last commit {newest}")));
    }
    // Only records with schema changes need a new catalog version.
    let current = shared.current_catalog.load_full();
    let mut catalog = std::borrow::Cow::Borrowed(&*current);
    check_record(&catalog, record)?;
    let mut catalog_changed = false;
    let mut garbage = Vec::new();
    let kv_ops: Vec<&crate::keyspace::KvOp> =
        record.ops.iter().filter_map(|op| if let LogOp::Kv(op) = op { Some(op) } else { None }).collect();
    let storage_of = |catalog: &crate::catalog::Catalog, id| -> Result<Arc<TableStorage>> {
        catalog
            .table_by_id(id)
            .map(|e| e.storage.clone())
            .ok_or_else(|| Error::CorruptRecord(format!("record at {ts} names unknown table {id}")))
    };
    for op in &record.ops {
        match op {
            LogOp::Kv(_) => {}
            LogOp::Security(security) => {
                catalog.to_mut().security = Arc::new(security.clone());
                catalog_changed = true;
            }
            LogOp::CreateTable(schema) => {
                catalog.to_mut().put(TableEntry::new(Arc::new(schema.clone()), fresh_storage(schema)));
                catalog_changed = true;
            }
            LogOp::AlterTable(schema) => {
                let storage = storage_of(&catalog, schema.id)?;
                reconcile(&storage, schema)?;
                catalog.to_mut().put(TableEntry::new(Arc::new(schema.clone()), storage));
                catalog_changed = true;
            }
            LogOp::DropTable(id) => {
                catalog.to_mut().remove(*id);
                catalog_changed = true;
            }
            LogOp::Truncate(id) => {
                let entry = catalog
                    .table_by_id(*id)
                    .cloned()
                    .ok_or_else(|| Error::CorruptRecord(format!("truncate of unknown table {id}")))?;
                catalog.to_mut().put(TableEntry::new(entry.schema.clone(), fresh_storage(&entry.schema)));
                catalog_changed = true;
            }
            LogOp::CreateSequence(schema) => {
                let state = Arc::new(SequenceState::new(schema));
                catalog.to_mut().put_sequence(SequenceEntry { schema: Arc::new(schema.clone()), state });
                catalog_changed = true;
            }
            LogOp::DropSequence(id) => {
                catalog.to_mut().remove_sequence(*id);
                catalog_changed = true;
            }
            LogOp::SequencePosition { id, position, set } => {
                let entry = catalog
                    .sequence_by_id(*id)
                    .ok_or_else(|| Error::CorruptRecord(format!("record at {ts} names unknown sequence {id}")))?;
                if *set {
                    entry.state.reset(*position);
                } else {
                    entry.state.advance_to(&entry.schema, *position);
                }
            }
            LogOp::Insert { table, row_id, data } => {
                let storage = storage_of(&catalog, *table)?;
                storage.slab.reserve(*row_id);
                let slot = storage
                    .slab
                    .slot(*row_id)
                    .ok_or_else(|| Error::CorruptRecord(format!("row id {row_id} out of range")))?;
                let prev = slot.load_full().filter(|h| h.end() != INFINITY);
                let version = VersionRef::new(Version::new(ts, data.clone().into_boxed_slice(), prev));
                let values = storage.decode(&version)?;
                storage.account(data.len() as i64);
                slot.store(Some(version));
                storage.index_replayed_version(&values, *row_id);
                storage.live_rows.fetch_add(1, Ordering::Relaxed);
                storage.touch(ts);
            }
            LogOp::Update { table, row_id, data } => {
                let storage = storage_of(&catalog, *table)?;
                let head = storage
                    .head(*row_id)
                    .filter(|h| h.end() == INFINITY)
                    .ok_or_else(|| Error::CorruptRecord(format!("update of missing row {row_id} in table {table}")))?;
                head.end.store(ts, Ordering::Release);
                let version = VersionRef::new(Version::new(ts, data.clone().into_boxed_slice(), Some(head)));
                let values = storage.decode(&version)?;
                storage.account(data.len() as i64);
                if let Some(slot) = storage.slab.get(*row_id) {
                    slot.store(Some(version));
                }
                storage.index_replayed_version(&values, *row_id);
                storage.touch(ts);
                garbage.push(GcCandidate { table: *table, row_id: *row_id, ts });
            }
            LogOp::Delete { table, row_id } => {
                let storage = storage_of(&catalog, *table)?;
                let head = storage
                    .head(*row_id)
                    .filter(|h| h.end() == INFINITY)
                    .ok_or_else(|| Error::CorruptRecord(format!("delete of missing row {row_id} in table {table}")))?;
                head.end.store(ts, Ordering::Release);
                storage.live_rows.fetch_sub(1, Ordering::Relaxed);
                storage.touch(ts);
                garbage.push(GcCandidate { table: *table, row_id: *row_id, ts });
            }
        }
    }
    if catalog_changed {
        let mut catalog = catalog.into_owned();
        catalog.committed_at = ts;
        let catalog = Arc::new(catalog);
        shared.catalogs.write().push(catalog.clone());
        shared.current_catalog.store(catalog);
    }
    shared.gc_queue.lock().extend(garbage);
    if !kv_ops.is_empty() {
        crate::kv::replay(&shared.kv.keyspace, ts, &kv_ops)?;
    }
    shared.newest.store(ts, Ordering::Release);
    shared.next_txn.fetch_max(1, Ordering::Relaxed);
    Ok(())
}

/// Checks a whole record against the current state before any of it is
/// applied, so a bad record changes nothing: tables exist where ops name
/// them, rows decode, updated and deleted rows are live.
fn check_record(catalog: &crate::catalog::Catalog, record: &CommitRecord) -> Result<()> {
    let ts = record.ts;
    let corrupt = |what: String| Error::CorruptRecord(format!("record at {ts}: {what}"));
    // Tables as of each op (None: dropped) and rows changed earlier in the record.
    let mut tables: HashMap<TableId, Option<Arc<TableSchema>>> = HashMap::new();
    let mut truncated: HashSet<TableId> = HashSet::new();
    let mut rows: HashMap<(TableId, u64), bool> = HashMap::new();
    // Sequences created (true) or dropped (false) earlier in the record.
    let mut sequences: HashMap<crate::sequence::SequenceId, bool> = HashMap::new();
    let schema_of = |tables: &HashMap<TableId, Option<Arc<TableSchema>>>, id: TableId| -> Result<Arc<TableSchema>> {
        match tables.get(&id) {
            Some(Some(schema)) => Ok(schema.clone()),
            Some(None) => Err(corrupt(format!("table {id} is used after it was dropped"))),
            None => {
                catalog.table_by_id(id).map(|e| e.schema.clone()).ok_or_else(|| corrupt(format!("unknown table {id}")))
            }
        }
    };
    let live =
        |rows: &HashMap<(TableId, u64), bool>, truncated: &HashSet<TableId>, table: TableId, row_id: u64| match rows
            .get(&(table, row_id))
        {
            Some(&alive) => alive,
            None if truncated.contains(&table) => false,
            None => {
                catalog.table_by_id(table).and_then(|e| e.storage.head(row_id)).is_some_and(|h| h.end() == INFINITY)
            }
        };
    for op in &record.ops {
        match op {
            // Checked as they are applied: one that does not fit rolls the
            // record's key-value changes back.
            LogOp::Kv(_) | LogOp::Security(_) => {}
            LogOp::CreateTable(schema) => {
                if matches!(tables.get(&schema.id), Some(Some(_))) || catalog.table_by_id(schema.id).is_some() {
                    return Err(corrupt(format!("table {} created twice", schema.id)));
                }
                tables.insert(schema.id, Some(Arc::new(schema.clone())));
            }
            LogOp::AlterTable(schema) => {
                schema_of(&tables, schema.id)?;
                tables.insert(schema.id, Some(Arc::new(schema.clone())));
            }
            LogOp::DropTable(id) => {
                schema_of(&tables, *id)?;
                tables.insert(*id, None);
            }
            LogOp::Truncate(id) => {
                schema_of(&tables, *id)?;
                truncated.insert(*id);
                rows.retain(|(t, _), _| t != id);
            }
            LogOp::Insert { table, row_id, data } | LogOp::Update { table, row_id, data } => {
                let schema = schema_of(&tables, *table)?;
                crate::row::decode(data, &schema.physical_types())?;
                let is_update = matches!(op, LogOp::Update { .. });
                if is_update != live(&rows, &truncated, *table, *row_id) {
                    let what = if is_update { "update of a missing" } else { "insert over a live" };
                    return Err(corrupt(format!("{what} row {row_id} in table {table}")));
                }
                if *row_id > crate::storage::slab::MAX_ROW_ID {
                    return Err(corrupt(format!("row id {row_id} out of range")));
                }
                rows.insert((*table, *row_id), true);
            }
            LogOp::CreateSequence(schema) => {
                if sequences.get(&schema.id).copied().unwrap_or(catalog.sequence_by_id(schema.id).is_some()) {
                    return Err(corrupt(format!("sequence {} created twice", schema.id)));
                }
                sequences.insert(schema.id, true);
            }
            LogOp::DropSequence(id) | LogOp::SequencePosition { id, .. } => {
                if !sequences.get(id).copied().unwrap_or(catalog.sequence_by_id(*id).is_some()) {
                    return Err(corrupt(format!("unknown sequence {id}")));
                }
                if matches!(op, LogOp::DropSequence(_)) {
                    sequences.insert(*id, false);
                }
            }
            LogOp::Delete { table, row_id } => {
                schema_of(&tables, *table)?;
                if !live(&rows, &truncated, *table, *row_id) {
                    return Err(corrupt(format!("delete of missing row {row_id} in table {table}")));
                }
                rows.insert((*table, *row_id), false);
            }
        }
    }
    Ok(())
}

/// Makes a table's physical storage match a new definition: layout,
/// new indexes built, dropped indexes detached.
pub(crate) fn reconcile(storage: &Arc<TableStorage>, schema: &TableSchema) -> Result<()> {
    storage.set_layout(schema.physical_types(), schema.columns.iter().map(|c| c.missing.clone()).collect());
    let existing = storage.indexes();
    for index in &schema.indexes {
        if !existing.iter().any(|i| i.schema.id == index.id) {
            let built = Arc::new(IndexStorage::new(index.clone(), &schema.physical_types()));
            {
                let _gate = storage.gate.write();
                storage.attach_index(built.clone());
            }
            fill_index(storage, &built, TXN_BIT)?;
        }
    }
    for index in existing.iter() {
        if !schema.indexes.iter().any(|i| i.id == index.schema.id) {
            let _gate = storage.gate.write();
            storage.detach_index(index.schema.id);
        }
    }
    Ok(())
}
