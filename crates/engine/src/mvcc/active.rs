//! The set of active snapshots, for garbage collection.
//!
//! Each transaction occupies one slot holding its read timestamp while it
//! runs. The oldest timestamp in any slot is the *watermark*: a version that
//! ended at or before it is invisible to every snapshot, present and future,
//! and can be reclaimed. Slots are plain atomics, so beginning a transaction
//! takes no lock. A transaction first marks its slot `PENDING`, then reads
//! the newest commit timestamp, then stores it; the collector retries while
//! it sees a pending slot, so it never computes a watermark above a snapshot
//! that is being taken.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crate::error::{Error, Result};
use crate::mvcc::Timestamp;

const FREE: u64 = 0;
const PENDING: u64 = u64::MAX;

/// Slots of active snapshots.
pub(crate) struct ActiveSet {
    slots: Box<[AtomicU64]>,
    next_hint: AtomicUsize,
    /// Slots taken or being taken: counted up before a snapshot reads the
    /// newest timestamp, so a writer that sees 0 after publishing knows no
    /// snapshot older than its commit exists.
    registered: AtomicUsize,
}

impl ActiveSet {
    pub fn new(capacity: usize) -> ActiveSet {
        ActiveSet {
            slots: (0..capacity.max(1)).map(|_| AtomicU64::new(FREE)).collect(),
            next_hint: AtomicUsize::new(0),
            registered: AtomicUsize::new(0),
        }
    }

    /// Registers a snapshot at the current newest commit timestamp (read from
    /// `newest`) and returns its slot and read timestamp.
    pub fn register(&self, newest: &AtomicU64) -> Result<(usize, Timestamp)> {
        let n = self.slots.len();
        // Spread transactions over the slots so neighbours rarely share a line.
        let start = self.next_hint.fetch_add(7, Ordering::Relaxed) % n;
        self.registered.fetch_add(1, Ordering::SeqCst);
        for i in 0..n {
            let slot = (start + i) % n;
            if self.slots[slot].compare_exchange(FREE, PENDING, Ordering::SeqCst, Ordering::Relaxed).is_ok() {
                let ts = newest.load(Ordering::SeqCst);
                self.slots[slot].store(ts + 1, Ordering::SeqCst);
                return Ok((slot, ts));
            }
        }
        self.registered.fetch_sub(1, Ordering::SeqCst);
        Err(Error::TooManyTransactions)
    }

    /// Moves a registered snapshot forward (READ COMMITTED takes a new
    /// snapshot per statement).
    pub fn refresh(&self, slot: usize, newest: &AtomicU64) -> Timestamp {
        self.slots[slot].store(PENDING, Ordering::SeqCst);
        let ts = newest.load(Ordering::SeqCst);
        self.slots[slot].store(ts + 1, Ordering::SeqCst);
        ts
    }

    /// Frees a slot.
    pub fn release(&self, slot: usize) {
        self.slots[slot].store(FREE, Ordering::Release);
        self.registered.fetch_sub(1, Ordering::SeqCst);
    }

    /// Whether any snapshot is registered or being registered. A commit
    /// that published its timestamp and then sees `false` knows every later
    /// snapshot reads at or after it.
    pub fn any(&self) -> bool {
        self.registered.load(Ordering::SeqCst) != 0
    }

    /// The oldest read timestamp of any active snapshot, or `newest` when
    /// there is none. Versions that ended at or before it are garbage.
    pub fn watermark(&self, newest: &AtomicU64) -> Timestamp {
        'retry: loop {
            let mut min = newest.load(Ordering::SeqCst);
            for slot in self.slots.iter() {
                match slot.load(Ordering::SeqCst) {
                    FREE => {}
                    PENDING => {
                        std::hint::spin_loop();
                        continue 'retry;
                    }
                    stored => min = min.min(stored - 1),
                }
            }
            return min;
        }
    }

    /// How many snapshots are registered.
    pub fn len(&self) -> usize {
        self.slots.iter().filter(|s| s.load(Ordering::Relaxed) != FREE).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watermark_is_the_oldest_snapshot() {
        let newest = AtomicU64::new(5);
        let set = ActiveSet::new(4);
        let (a, ts) = set.register(&newest).unwrap();
        assert_eq!(ts, 5);
        newest.store(9, Ordering::SeqCst);
        let (b, _) = set.register(&newest).unwrap();
        assert_eq!(set.watermark(&newest), 5);
        set.release(a);
        assert_eq!(set.watermark(&newest), 9);
        set.release(b);
        assert_eq!(set.len(), 0);
        for _ in 0..4 {
            set.register(&newest).unwrap();
        }
        assert_eq!(set.register(&newest), Err(Error::TooManyTransactions));
    }
}
