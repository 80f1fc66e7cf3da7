//! Multi-version concurrency control: versions, snapshots, the set of
//! active transactions, and waiting for row locks.
//!
//! Every row is a chain of [`Version`]s, newest first. A version carries two
//! stamps, `begin` and `end`, each either a commit timestamp or the *marker*
//! of the transaction that is writing it (`TXN_BIT | txn id`):
//!
//! ```text
//!   head ─► [begin=T7  end=∞ ]  uncommitted update by txn 7 (invisible to others)
//!             │ prev
//!             ▼
//!           [begin=40  end=T7]  committed at 40, being replaced by txn 7
//!             │ prev
//!             ▼
//!           [begin=12  end=40]  visible only to snapshots in 12..40
//! ```
//!
//! A snapshot with read timestamp `r` (and, in a writing transaction, its own
//! marker) sees a version when `begin` is its own marker or a timestamp
//! `<= r`, and `end` is neither its own marker nor a timestamp `<= r`. The
//! marker in `end` doubles as the row's write lock: a writer claims the head
//! by swapping `end` from ∞ to its marker, so writers to different rows never
//! touch shared state and readers never wait. Commit stamps the writer's
//! versions with the commit timestamp under the commit lock and only then
//! publishes that timestamp as the newest readable one, so a snapshot never
//! sees half a commit.

mod active;
mod waits;

use std::sync::atomic::{AtomicU64, Ordering};

pub(crate) use scc::Guard;
use scc::{AtomicShared, Shared, Tag};

use crate::row::RowData;

pub(crate) use active::ActiveSet;
pub(crate) use waits::{MAX_SLOTS, SLOT_BITS, WaitGraph};

/// A commit timestamp: commits are numbered 1, 2, 3, … in commit order.
pub type Timestamp = u64;
/// A transaction id, unique for the life of the database process.
pub type TxnId = u64;

/// `end` of a version nobody has replaced or deleted.
pub(crate) const INFINITY: u64 = u64::MAX;
/// Set in a stamp that holds a transaction marker instead of a timestamp.
pub(crate) const TXN_BIT: u64 = 1 << 63;

/// The marker a writing transaction leaves in the stamps it owns.
pub(crate) fn marker(txn: TxnId) -> u64 {
    TXN_BIT | txn
}

/// Whether a stamp is an (uncommitted) transaction marker.
pub(crate) fn is_marker(stamp: u64) -> bool {
    stamp != INFINITY && stamp & TXN_BIT != 0
}

/// The transaction id inside a marker.
pub(crate) fn marker_txn(stamp: u64) -> TxnId {
    stamp & !TXN_BIT
}

/// A counted reference to a version. Versions are reclaimed through
/// epochs (`scc`'s `sdd`), so readers walk chains under a [`Guard`] without
/// touching reference counts.
pub(crate) type VersionRef = Shared<Version>;

/// Whether two references name the same version.
pub(crate) fn same(a: &Version, b: &Version) -> bool {
    std::ptr::eq(a, b)
}

/// An atomic, nullable pointer to a version: a chain head in the slab, or
/// a version's link to the one it replaced.
pub(crate) struct VersionCell(AtomicShared<Version>);

impl VersionCell {
    /// A cell holding `initial`.
    pub fn new(initial: Option<VersionRef>) -> VersionCell {
        VersionCell(initial.map_or_else(AtomicShared::null, AtomicShared::from))
    }

    /// An empty cell.
    pub fn empty() -> VersionCell {
        VersionCell(AtomicShared::null())
    }

    /// The version in the cell, counted.
    pub fn load_full(&self) -> Option<VersionRef> {
        let guard = Guard::new();
        self.0.get_shared(Ordering::Acquire, &guard)
    }

    /// The version in the cell, uncounted, valid while `guard` lives.
    pub fn peek<'g>(&self, guard: &'g Guard) -> Option<&'g Version> {
        self.0.load(Ordering::Acquire, guard).as_ref()
    }

    /// Whether the cell is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_null(Ordering::Acquire)
    }

    /// Replaces the content.
    pub fn store(&self, new: Option<VersionRef>) {
        drop(self.0.swap((new, Tag::None), Ordering::AcqRel));
    }

    /// Replaces the content, returning the old one.
    pub fn swap(&self, new: Option<VersionRef>) -> Option<VersionRef> {
        self.0.swap((new, Tag::None), Ordering::AcqRel).0
    }

    /// Replaces `current` with `new` if the cell still holds `current`.
    pub fn compare_and_swap(&self, current: Option<&Version>, new: Option<VersionRef>) -> bool {
        let guard = Guard::new();
        let ptr = self.0.load(Ordering::Acquire, &guard);
        let matches = match (ptr.as_ref(), current) {
            (Some(a), Some(b)) => same(a, b),
            (None, None) => true,
            _ => false,
        };
        matches && self.0.compare_exchange(ptr, (new, Tag::None), Ordering::AcqRel, Ordering::Acquire, &guard).is_ok()
    }
}

/// One version of a row.
pub(crate) struct Version {
    pub begin: AtomicU64,
    pub end: AtomicU64,
    pub data: RowData,
    pub prev: VersionCell,
}

impl Version {
    pub fn new(begin: u64, data: RowData, prev: Option<VersionRef>) -> Version {
        Version { begin: AtomicU64::new(begin), end: AtomicU64::new(INFINITY), data, prev: VersionCell::new(prev) }
    }

    pub fn begin(&self) -> u64 {
        self.begin.load(Ordering::Acquire)
    }

    pub fn end(&self) -> u64 {
        self.end.load(Ordering::Acquire)
    }
}

/// What a transaction can see: its read timestamp and its own marker
/// (`TXN_BIT` alone for transactions that never write).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Snapshot {
    pub read_ts: Timestamp,
    pub own: u64,
}

impl Snapshot {
    fn begun(&self, begin: u64) -> bool {
        if begin & TXN_BIT != 0 { begin == self.own } else { begin <= self.read_ts }
    }

    fn ended(&self, end: u64) -> bool {
        if end == INFINITY {
            false
        } else if end & TXN_BIT != 0 {
            end == self.own
        } else {
            end <= self.read_ts
        }
    }

    /// Whether the snapshot sees this version.
    #[cfg(test)]
    pub fn sees(&self, v: &Version) -> bool {
        self.begun(v.begin()) && !self.ended(v.end())
    }

    /// Runs `f` on the version of a chain this snapshot sees, without
    /// counting a reference (the read path).
    pub fn with_visible<R>(&self, head: &VersionCell, f: impl FnOnce(&Version) -> R) -> Option<R> {
        let guard = Guard::new();
        self.find(head, &guard).map(f)
    }

    /// The version of a chain this snapshot sees, valid while `guard` lives.
    pub fn find<'g>(&self, head: &VersionCell, guard: &'g Guard) -> Option<&'g Version> {
        let mut cur = head.peek(guard);
        while let Some(v) = cur {
            let begin = v.begin();
            if self.begun(begin) {
                if !self.ended(v.end()) {
                    return Some(v);
                }
                if begin & TXN_BIT == 0 {
                    return None;
                }
            }
            cur = v.prev.0.load(Ordering::Acquire, guard).as_ref();
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(begin: u64, end: u64) -> VersionRef {
        let v = Version::new(begin, Box::new([]), None);
        v.end.store(end, Ordering::Release);
        VersionRef::new(v)
    }

    #[test]
    fn visibility_follows_the_stamps() {
        let snap = Snapshot { read_ts: 10, own: marker(3) };
        assert!(snap.sees(&version(5, INFINITY)));
        assert!(!snap.sees(&version(11, INFINITY)), "committed after the snapshot");
        assert!(!snap.sees(&version(5, 9)), "deleted before the snapshot");
        assert!(snap.sees(&version(5, 11)), "deleted after the snapshot");
        assert!(snap.sees(&version(marker(3), INFINITY)), "own insert");
        assert!(!snap.sees(&version(marker(4), INFINITY)), "another's insert");
        assert!(snap.sees(&version(5, marker(4))), "another's pending delete");
        assert!(!snap.sees(&version(5, marker(3))), "own delete");
    }

    #[test]
    fn chains_resolve_to_the_version_of_the_snapshot() {
        let old = version(2, 8);
        let new = VersionRef::new(Version::new(8, Box::new([1]), Some(old.clone())));
        let head = VersionCell::new(Some(new.clone()));
        let seen = |read_ts| Snapshot { read_ts, own: TXN_BIT }.with_visible(&head, |v| v as *const Version);
        assert_eq!(seen(5), Some(&*old as *const Version));
        assert_eq!(seen(9), Some(&*new as *const Version));
        assert_eq!(seen(1), None);
    }
}
