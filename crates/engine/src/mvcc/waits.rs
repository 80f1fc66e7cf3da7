//! Waiting for another transaction's row lock, with deadlock detection.
//!
//! A writer that finds a row claimed by another running transaction waits
//! until that transaction ends (as PostgreSQL does), then re-examines the
//! row. Each transaction id carries the index of its slot in the active set
//! (`id = sequence << SLOT_BITS | slot`), and each slot has a signal: the id
//! of the writer running in it, a waiter count and a condition variable. A
//! writer announces itself with one store and ends with one store and one
//! load; only when someone waits does it take the slot's lock to wake them.
//!
//! Before it sleeps a waiter records the edge `waiter → holder`; if the
//! holder's own chain of waits leads back to the waiter, the waiter fails
//! with a deadlock error instead (SQLSTATE 40P01), so exactly one member of
//! the cycle — the last to close it — gives way.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::error::{Error, Result};
use crate::mvcc::TxnId;

/// Bits of a transaction id that hold its slot.
pub(crate) const SLOT_BITS: u32 = 13;
/// The most transactions that can be open at once.
pub(crate) const MAX_SLOTS: usize = 1 << SLOT_BITS;

/// The slot of a transaction id.
pub(crate) fn slot_of(txn: TxnId) -> usize {
    (txn & (MAX_SLOTS as u64 - 1)) as usize
}

#[derive(Default)]
struct Signal {
    running: AtomicU64,
    waiters: AtomicUsize,
    lock: Mutex<()>,
    cond: Condvar,
}

/// Running writers and who waits for whom.
pub(crate) struct WaitGraph {
    signals: Box<[Signal]>,
    waits_for: Mutex<HashMap<TxnId, TxnId>>,
    blocking: Option<crate::database::BlockingHook>,
}

impl WaitGraph {
    pub fn new(slots: usize, blocking: Option<crate::database::BlockingHook>) -> WaitGraph {
        WaitGraph {
            signals: (0..slots.clamp(1, MAX_SLOTS)).map(|_| Signal::default()).collect(),
            waits_for: Mutex::new(HashMap::new()),
            blocking,
        }
    }

    fn signal(&self, txn: TxnId) -> Option<&Signal> {
        self.signals.get(slot_of(txn))
    }

    /// Called once by a transaction before it claims its first row.
    pub fn register_writer(&self, txn: TxnId) {
        if let Some(s) = self.signal(txn) {
            s.running.store(txn, Ordering::SeqCst);
        }
    }

    /// Called when a registered writer commits or aborts: wakes its waiters.
    pub fn writer_ended(&self, txn: TxnId) {
        let Some(s) = self.signal(txn) else { return };
        s.running.store(0, Ordering::SeqCst);
        if s.waiters.load(Ordering::SeqCst) > 0 {
            let _guard = s.lock.lock();
            s.cond.notify_all();
        }
    }

    /// Blocks `waiter` until `holder` ends, failing on a deadlock or when
    /// `timeout` passes.
    pub fn wait_for(&self, waiter: TxnId, holder: TxnId, timeout: Option<Duration>) -> Result<()> {
        let Some(s) = self.signal(holder) else { return Ok(()) };
        if s.running.load(Ordering::SeqCst) != holder {
            return Ok(()); // already ended
        }
        {
            let mut edges = self.waits_for.lock();
            let mut cur = holder;
            while let Some(&next) = edges.get(&cur) {
                if next == waiter {
                    return Err(Error::Deadlock(format!(
                        "transaction {waiter} waits for transaction {holder}, which waits for transaction {waiter}"
                    )));
                }
                cur = next;
            }
            edges.insert(waiter, holder);
        }
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut result = Ok(());
        let mut wait = || {
            let mut guard = s.lock.lock();
            s.waiters.fetch_add(1, Ordering::SeqCst);
            while s.running.load(Ordering::SeqCst) == holder {
                match deadline {
                    Some(deadline) => {
                        if s.cond.wait_until(&mut guard, deadline).timed_out()
                            && s.running.load(Ordering::SeqCst) == holder
                        {
                            result = Err(Error::LockTimeout);
                            break;
                        }
                    }
                    None => s.cond.wait(&mut guard),
                }
            }
            s.waiters.fetch_sub(1, Ordering::SeqCst);
        };
        match self.blocking {
            Some(hook) => hook(&mut wait),
            None => wait(),
        }
        self.waits_for.lock().remove(&waiter);
        result
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::thread;

    use super::*;

    fn id(seq: u64, slot: u64) -> TxnId {
        (seq << SLOT_BITS) | slot
    }

    #[test]
    fn waiters_wake_when_the_holder_ends() {
        let graph = Arc::new(WaitGraph::new(16, None));
        let holder = id(1, 1);
        graph.register_writer(holder);
        let g = graph.clone();
        let waiter = thread::spawn(move || g.wait_for(id(2, 2), holder, None));
        thread::sleep(Duration::from_millis(20));
        graph.writer_ended(holder);
        assert_eq!(waiter.join().unwrap(), Ok(()));
        assert_eq!(graph.wait_for(id(3, 3), holder, None), Ok(()), "ended holders do not block");
    }

    #[test]
    fn a_cycle_is_a_deadlock_and_timeouts_expire() {
        let graph = Arc::new(WaitGraph::new(16, None));
        let (a, b) = (id(1, 1), id(2, 2));
        graph.register_writer(a);
        graph.register_writer(b);
        let g = graph.clone();
        let first = thread::spawn(move || g.wait_for(a, b, Some(Duration::from_secs(5))));
        thread::sleep(Duration::from_millis(20));
        assert!(matches!(graph.wait_for(b, a, None), Err(Error::Deadlock(_))));
        graph.writer_ended(b);
        assert_eq!(first.join().unwrap(), Ok(()));
        assert_eq!(graph.wait_for(id(5, 5), a, Some(Duration::from_millis(10))), Err(Error::LockTimeout));
    }
}
