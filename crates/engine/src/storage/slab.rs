//! The row slab: a lock-free, growable array of version-chain heads.
//!
//! Row ids index a three-level radix tree of fixed-size leaves that are
//! allocated on first use and never move, so a lookup is three dependent
//! loads with no lock. Freed row ids are reused only after every snapshot
//! that could still have reached them through an index has ended (see
//! [`RowSlab::free`]).

use std::collections::VecDeque;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use parking_lot::Mutex;

use crate::mvcc::{Timestamp, VersionCell};
use crate::storage::RowId;

const LEAF_BITS: u32 = 12;
const MID_BITS: u32 = 10;
const TOP_BITS: u32 = 10;
const LEAF: usize = 1 << LEAF_BITS;
const MID: usize = 1 << MID_BITS;
const TOP: usize = 1 << TOP_BITS;

/// The largest row id the slab can address (about four billion rows).
pub(crate) const MAX_ROW_ID: RowId = (1 << (LEAF_BITS + MID_BITS + TOP_BITS)) - 1;

type Leaf = Box<[VersionCell]>;
type Mid = Box<[OnceLock<Leaf>]>;

/// Version-chain heads by row id.
pub(crate) struct RowSlab {
    top: Box<[OnceLock<Mid>]>,
    next: AtomicU64,
    free: Mutex<VecDeque<(Timestamp, RowId)>>,
    free_len: AtomicUsize,
}

impl RowSlab {
    pub fn new() -> RowSlab {
        RowSlab {
            top: (0..TOP).map(|_| OnceLock::new()).collect(),
            next: AtomicU64::new(0),
            free: Mutex::new(VecDeque::new()),
            free_len: AtomicUsize::new(0),
        }
    }

    fn split(id: RowId) -> (usize, usize, usize) {
        let leaf = (id as usize) & (LEAF - 1);
        let mid = ((id >> LEAF_BITS) as usize) & (MID - 1);
        let top = (id >> (LEAF_BITS + MID_BITS)) as usize;
        (top, mid, leaf)
    }

    /// The head slot of a row id that has been handed out, if any.
    pub fn get(&self, id: RowId) -> Option<&VersionCell> {
        let (t, m, l) = Self::split(id);
        self.top.get(t)?.get()?.get(m)?.get()?.get(l)
    }

    /// The head slot of `id`, allocating its leaf if needed. `None` only for
    /// ids beyond [`MAX_ROW_ID`].
    pub fn slot(&self, id: RowId) -> Option<&VersionCell> {
        let (t, m, l) = Self::split(id);
        let mid = self.top.get(t)?.get_or_init(|| (0..MID).map(|_| OnceLock::new()).collect());
        let leaf = mid.get(m)?.get_or_init(|| (0..LEAF).map(|_| VersionCell::empty()).collect());
        leaf.get(l)
    }

    /// Hands out a row id: a freed one that no snapshot can reach any more
    /// (freed before `reusable_before`), else a new one.
    pub fn allocate(&self, reusable_before: Timestamp) -> RowId {
        if self.free_len.load(Ordering::Relaxed) > 0 {
            let mut free = self.free.lock();
            if let Some(&(freed_at, id)) = free.front()
                && freed_at < reusable_before
            {
                free.pop_front();
                self.free_len.store(free.len(), Ordering::Relaxed);
                return id;
            }
        }
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    /// Makes sure future ids are above `id` (replay inserts at given ids).
    pub fn reserve(&self, id: RowId) {
        self.next.fetch_max(id + 1, Ordering::Relaxed);
    }

    /// Returns a row id whose chain was reclaimed; `at` is the newest commit
    /// timestamp when its index entries were removed.
    pub fn free(&self, id: RowId, at: Timestamp) {
        let mut free = self.free.lock();
        free.push_back((at, id));
        self.free_len.store(free.len(), Ordering::Relaxed);
    }

    /// One past the highest row id handed out so far.
    pub fn high_water(&self) -> RowId {
        self.next.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_stable_and_ids_are_reused_only_when_safe() {
        let slab = RowSlab::new();
        let a = slab.allocate(0);
        let b = slab.allocate(0);
        assert_eq!((a, b), (0, 1));
        let v = crate::mvcc::VersionRef::new(crate::mvcc::Version::new(1, Box::new([7]), None));
        slab.slot(5000).unwrap().store(Some(v));
        assert_eq!(slab.get(5000).unwrap().load_full().unwrap().data[0], 7);
        assert!(slab.get(1 << 30).is_none());
        slab.free(a, 10);
        assert_eq!(slab.allocate(10), 2, "not yet reusable");
        assert_eq!(slab.allocate(11), a);
        slab.reserve(100);
        assert_eq!(slab.allocate(0), 101);
        assert!(slab.slot(MAX_ROW_ID + 1).is_none());
    }
}
