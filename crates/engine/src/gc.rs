//! Garbage collection of versions no snapshot can see.
//!
//! Every commit that replaced or deleted rows queues them as candidates,
//! tagged with its timestamp; there is no scan of the whole database. The
//! collector takes the *watermark* (the oldest active snapshot) and, for each
//! candidate committed at or before it, cuts the row's chain below the
//! version the watermark sees. If that version is itself deleted as of the
//! watermark, the whole row goes: its index entries are removed and its row
//! id returns to the table's free list. Index entries of cut versions are
//! removed unless a surviving version has the same key. Catalog versions
//! older than the watermark's, and SERIALIZABLE write summaries no open
//! snapshot needs, are dropped too; dropped tables and truncated storage are
//! freed when the last catalog version naming them goes.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::database::Shared;
use crate::mvcc::{Timestamp, VersionRef, is_marker};
use crate::schema::TableId;
use crate::storage::RowId;
use crate::storage::table::TableStorage;

/// A row whose chain may hold garbage once its commit is old enough.
#[derive(Clone, Copy, Debug)]
pub(crate) struct GcCandidate {
    pub table: TableId,
    pub row_id: RowId,
    pub ts: Timestamp,
}

/// What one collection pass reclaimed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GcStats {
    /// The watermark the pass used.
    pub watermark: Timestamp,
    /// Old versions unlinked from their chains.
    pub versions: u64,
    /// Rows removed entirely (deleted before the watermark).
    pub rows: u64,
}

/// Runs one collection pass.
pub(crate) fn collect(shared: &Arc<Shared>) -> GcStats {
    let _only_one = shared.gc_lock.lock();
    let watermark = shared.active.watermark(&shared.newest);
    let mut stats = GcStats { watermark, ..GcStats::default() };
    let due: Vec<GcCandidate> = {
        let mut queue = shared.gc_queue.lock();
        let n = queue.iter().take_while(|c| c.ts <= watermark).count();
        queue.drain(..n).collect()
    };
    // A row updated many times since the last pass is pruned once.
    let rows: std::collections::BTreeSet<(TableId, RowId)> = due.iter().map(|c| (c.table, c.row_id)).collect();
    let catalog = shared.current_catalog.load_full();
    for (table, row_id) in rows {
        let Some(entry) = catalog.table_by_id(table) else { continue };
        prune(&entry.storage, row_id, watermark, shared.newest.load(Ordering::Acquire), &mut stats);
    }
    shared.kv.keyspace.collect(watermark);
    shared.catalogs.write().trim(watermark);
    shared.recent_writes.lock().retain(|s| s.ts > watermark);
    shared.reuse_before.store(watermark, Ordering::Release);
    stats
}

/// Cuts one row's chain (see the module docs).
fn prune(storage: &TableStorage, row_id: RowId, watermark: Timestamp, newest: Timestamp, stats: &mut GcStats) {
    let Some(slot) = storage.slab.get(row_id) else { return };
    let Some(head) = slot.load_full() else { return };
    // Find the first committed version at or before the watermark.
    let mut newer: Option<VersionRef> = None;
    let mut cur = Some(head.clone());
    while let Some(v) = cur.clone() {
        let begin = v.begin();
        if !is_marker(begin) && begin <= watermark {
            break;
        }
        newer = Some(v.clone());
        cur = v.prev.load_full();
    }
    let Some(anchor) = cur else { return };
    let end = anchor.end();
    let dead = !is_marker(end) && end <= watermark;
    let cut = if dead {
        match &newer {
            Some(n) => n.prev.swap(None),
            None => {
                // The whole row is garbage, unless a writer just revived it.
                if !slot.compare_and_swap(Some(&head), None) {
                    return;
                }
                stats.rows += 1;
                Some(head)
            }
        }
    } else {
        anchor.prev.swap(None)
    };
    if cut.is_none() {
        return;
    }
    // Remove index entries of the unlinked versions not shared with survivors.
    let mut keep = Vec::new();
    let mut survivor = slot.load_full();
    while let Some(v) = survivor {
        if let Ok(values) = storage.decode(&v) {
            keep.push(values);
        }
        survivor = v.prev.load_full();
    }
    let mut gone = cut;
    while let Some(v) = gone {
        if let Ok(values) = storage.decode(&v) {
            storage.unindex_version(&values, row_id, &keep);
        }
        storage.account(-(v.data.len() as i64));
        stats.versions += 1;
        gone = v.prev.load_full();
    }
    if slot.is_empty() {
        storage.slab.free(row_id, newest);
    }
}
