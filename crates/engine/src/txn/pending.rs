//! Deferred entries of non-unique ordered indexes.
//!
//! Other transactions cannot see a transaction's uncommitted rows, so they
//! do not need its entries in non-unique secondary indexes until it commits
//! (unique indexes and the primary key are different: they arbitrate
//! between concurrent writers, so their entries go in at once). A writer
//! therefore collects such entries and adds them in key order — sorted
//! inserts touch each tree node once instead of once per entry, and large
//! batches are split across two threads — before it commits, and before it
//! reads through an index itself. Each entry is tagged with the number of
//! writes made before it, so undoing writes (savepoints, failed statements)
//! drops exactly their entries.

use std::sync::Arc;

use crate::storage::index::{IndexStorage, PendingEntry};

/// Batches at least this large are inserted by two threads.
const PARALLEL_AT: usize = 32 * 1024;

/// Entry keys for one index, each tagged with the writes made before it.
type Tagged = Vec<(usize, PendingEntry)>;

/// Entries waiting to be added, per index.
#[derive(Default)]
pub(crate) struct PendingEntries {
    lists: Vec<(Arc<IndexStorage>, Tagged)>,
    count: usize,
}

impl PendingEntries {
    /// Queues `key` for `index`, made before write number `tag`.
    pub fn push(&mut self, index: &Arc<IndexStorage>, tag: usize, key: PendingEntry) {
        let list = match self.lists.iter().position(|(i, _)| Arc::ptr_eq(i, index)) {
            Some(pos) => &mut self.lists[pos].1,
            None => {
                self.lists.push((index.clone(), Vec::new()));
                let last = self.lists.len() - 1;
                &mut self.lists[last].1
            }
        };
        list.push((tag, key));
        self.count += 1;
    }

    /// Drops the entries of writes number `tag` and later.
    pub fn truncate(&mut self, tag: usize) {
        if self.count == 0 {
            return;
        }
        self.count = 0;
        for (_, list) in &mut self.lists {
            let keep = list.partition_point(|(t, _)| *t < tag);
            list.truncate(keep);
            self.count += list.len();
        }
    }

    /// Adds every queued entry to its index.
    pub fn flush(&mut self) {
        if self.count == 0 {
            return;
        }
        let parallel = self.count >= PARALLEL_AT && std::thread::available_parallelism().is_ok_and(|n| n.get() > 1);
        for (index, list) in self.lists.drain(..) {
            let mut keys: Vec<PendingEntry> = list.into_iter().map(|(_, key)| key).collect();
            keys.sort_unstable();
            if parallel && keys.len() >= PARALLEL_AT {
                let (low, high) = keys.split_at(keys.len() / 2);
                std::thread::scope(|scope| {
                    let index = &index;
                    scope.spawn(move || high.iter().for_each(|k| index.insert_pending(k)));
                    low.iter().for_each(|k| index.insert_pending(k));
                });
            } else {
                keys.iter().for_each(|k| index.insert_pending(k));
            }
        }
        self.count = 0;
    }
}
