//! Waiting for another transaction's row lock, with deadlock detection.
//!
//! A writer that finds a row claimed by another running transaction waits
//! until that transaction ends (as PostgreSQL does), then re-examines the
//! row. Before it sleeps it records the edge `waiter → holder`; if the
//! holder's own chain of waits leads back to the waiter, the waiter fails
//! with a deadlock error instead (SQLSTATE 40P01), so exactly one member of
//! the cycle — the last to close it — gives way.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::error::{Error, Result};
use crate::mvcc::TxnId;

/// The signal a writing transaction raises when it ends.
#[derive(Default)]
struct Done {
    ended: Mutex<bool>,
    cond: Condvar,
}

/// Running writers and who waits for whom.
#[derive(Default)]
pub(crate) struct WaitGraph {
    writers: Mutex<HashMap<TxnId, Arc<Done>>>,
    waits_for: Mutex<HashMap<TxnId, TxnId>>,
}

impl WaitGraph {
    /// Called once by a transaction before it claims its first row.
    pub fn register_writer(&self, txn: TxnId) {
        self.writers.lock().insert(txn, Arc::new(Done::default()));
    }

    /// Called when a registered writer commits or aborts: wakes its waiters.
    pub fn writer_ended(&self, txn: TxnId) {
        let done = self.writers.lock().remove(&txn);
        if let Some(done) = done {
            *done.ended.lock() = true;
            done.cond.notify_all();
        }
    }

    /// Blocks `waiter` until `holder` ends, failing on a deadlock or when
    /// `timeout` passes.
    pub fn wait_for(&self, waiter: TxnId, holder: TxnId, timeout: Option<Duration>) -> Result<()> {
        let Some(done) = self.writers.lock().get(&holder).cloned() else {
            return Ok(()); // already ended
        };
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
        let mut ended = done.ended.lock();
        let mut result = Ok(());
        while !*ended {
            match deadline {
                Some(deadline) => {
                    if done.cond.wait_until(&mut ended, deadline).timed_out() && !*ended {
                        result = Err(Error::LockTimeout);
                        break;
                    }
                }
                None => done.cond.wait(&mut ended),
            }
        }
        drop(ended);
        self.waits_for.lock().remove(&waiter);
        result
    }
}

#[cfg(test)]
mod tests {
    use std::thread;

    use super::*;

    #[test]
    fn waiters_wake_when_the_holder_ends() {
        let graph = Arc::new(WaitGraph::default());
        graph.register_writer(1);
        let g = graph.clone();
        let waiter = thread::spawn(move || g.wait_for(2, 1, None));
        thread::sleep(Duration::from_millis(20));
        graph.writer_ended(1);
        assert_eq!(waiter.join().unwrap(), Ok(()));
        assert_eq!(graph.wait_for(3, 1, None), Ok(()), "ended holders do not block");
    }

    #[test]
    fn a_cycle_is_a_deadlock_and_timeouts_expire() {
        let graph = Arc::new(WaitGraph::default());
        graph.register_writer(1);
        graph.register_writer(2);
        let g = graph.clone();
        let first = thread::spawn(move || g.wait_for(1, 2, Some(Duration::from_secs(5))));
        thread::sleep(Duration::from_millis(20));
        assert!(matches!(graph.wait_for(2, 1, None), Err(Error::Deadlock(_))));
        graph.writer_ended(2);
        assert_eq!(first.join().unwrap(), Ok(()));
        assert_eq!(graph.wait_for(5, 1, Some(Duration::from_millis(10))), Err(Error::LockTimeout));
    }
}
