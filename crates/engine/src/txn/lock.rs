//! Row locks without a change: `SELECT … FOR UPDATE` and `FOR SHARE`.
//!
//! A writer's lock on a row is the marker it leaves in the head version's
//! `end` (see `write`). A row locked without being changed has no new
//! version, so its lock lives in a side table of the database, keyed by
//! `(table, row id)`: one exclusive holder (FOR UPDATE) or any number of
//! sharers (FOR SHARE). Locks are held until the transaction ends.
//!
//! Lockers and writers exclude each other with the same two-step handshake
//! the foreign-key checks use: each first announces itself (a writer claims
//! the head, a locker registers in the table) and only then looks for the
//! other; whoever comes second sees the first and waits for its transaction
//! to end. Writers consult the table only while some lock is held anywhere,
//! so plain writes pay one atomic load for the feature. Waits go through
//! the same wait graph as row writes, so lock cycles are deadlocks (40P01).

use std::sync::atomic::Ordering;

use crate::error::{Error, Result};
use crate::mvcc::{INFINITY, TxnId, is_marker, marker_txn};
use crate::schema::TableId;
use crate::storage::RowId;
use crate::txn::write::still_head;
use crate::txn::{IsolationLevel, Row, Table, Transaction};

/// The strength of a row lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockMode {
    /// `FOR UPDATE` / `FOR NO KEY UPDATE`: excludes writers and other lockers.
    Update,
    /// `FOR SHARE` / `FOR KEY SHARE`: excludes writers and `Update` lockers.
    Share,
}

/// What to do when the row is locked by another transaction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LockWait {
    /// Wait for the other transaction to end (with deadlock detection).
    #[default]
    Wait,
    /// Fail at once with `LockNotAvailable` (SQLSTATE 55P03), `NOWAIT`.
    NoWait,
    /// Leave the row out, `SKIP LOCKED`.
    SkipLocked,
}

/// The holders of one row's lock.
#[derive(Clone, Debug, Default)]
pub(crate) struct RowLock {
    exclusive: TxnId,
    shared: Vec<TxnId>,
}

impl RowLock {
    /// Another transaction holding the lock in a way that conflicts with a
    /// writer or with `mode` (`None`: a writer).
    fn conflict(&self, me: TxnId, mode: Option<LockMode>) -> Option<TxnId> {
        if self.exclusive != 0 && self.exclusive != me {
            return Some(self.exclusive);
        }
        match mode {
            Some(LockMode::Share) => None,
            _ => self.shared.iter().copied().find(|&t| t != me),
        }
    }

    fn is_empty(&self) -> bool {
        self.exclusive == 0 && self.shared.is_empty()
    }
}

impl Transaction {
    /// Locks a row and returns its current values (`None` if the row is
    /// gone, or locked and `wait` is `SkipLocked`). Under snapshot isolation
    /// and SERIALIZABLE a row changed since the snapshot is a serialization
    /// failure; under READ COMMITTED the newest version is returned, as
    /// PostgreSQL does.
    pub fn lock_row(&mut self, table: &Table, row_id: RowId, mode: LockMode, wait: LockWait) -> Result<Option<Row>> {
        self.check_writable("SELECT FOR UPDATE")?;
        self.check_privilege(table, crate::security::Privileges::UPDATE)?;
        self.ensure_id();
        let own = self.snapshot.own;
        let snapshot_only = self.options.isolation != IsolationLevel::ReadCommitted;
        let key = (table.id(), row_id);
        loop {
            let Some(head) = table.storage().head(row_id) else { return Ok(None) };
            let (begin, end) = (head.begin(), head.end());
            let writer = [begin, end].into_iter().find(|&s| is_marker(s) && s != own);
            if let Some(writer) = writer {
                match wait {
                    LockWait::Wait => {
                        self.wait_for_holder(marker_txn(writer))?;
                        continue;
                    }
                    LockWait::NoWait => return Err(not_available(table)),
                    LockWait::SkipLocked => return Ok(None),
                }
            }
            if end == own {
                return Ok(None); // deleted by this transaction
            }
            if end != INFINITY {
                if !still_head(table, row_id, &head) {
                    continue;
                }
                if snapshot_only && end > self.snapshot.read_ts {
                    return Err(Error::SerializationFailure("concurrent delete".into()));
                }
                return Ok(None);
            }
            if snapshot_only && begin != own && begin > self.snapshot.read_ts {
                return Err(Error::SerializationFailure("concurrent update".into()));
            }
            if let Some(holder) = self.register_lock(key, mode) {
                match wait {
                    LockWait::Wait => {
                        self.wait_for_holder(holder)?;
                        continue;
                    }
                    LockWait::NoWait => return Err(not_available(table)),
                    LockWait::SkipLocked => return Ok(None),
                }
            }
            // Registered; a writer that claimed the row meanwhile is seen now.
            if !still_head(table, row_id, &head) || is_marker(head.end()) && head.end() != own {
                continue;
            }
            let values = table.storage().decode(&head)?;
            return Ok(Some(Row { id: row_id, values: table.logical_from(values) }));
        }
    }

    /// Adds this transaction to a row's lock; returns a conflicting holder
    /// instead if there is one.
    fn register_lock(&mut self, key: (TableId, RowId), mode: LockMode) -> Option<TxnId> {
        let me = self.id;
        let shared = &self.shared;
        let mut entry = shared.row_locks.entry_sync(key).or_default();
        let lock = entry.get_mut();
        if let Some(holder) = lock.conflict(me, Some(mode)) {
            if lock.is_empty() {
                let _ = entry.remove();
            }
            return Some(holder);
        }
        let new = match mode {
            LockMode::Update if lock.exclusive != me => {
                lock.exclusive = me;
                true
            }
            LockMode::Share if lock.exclusive != me && !lock.shared.contains(&me) => {
                lock.shared.push(me);
                true
            }
            _ => false,
        };
        drop(entry);
        if new {
            shared.row_locks_held.fetch_add(1, Ordering::SeqCst);
            self.row_locks.push(key);
        }
        None
    }

    /// A lock holder that a writer of the row must wait for, if any.
    pub(crate) fn lock_conflict(&self, table: &Table, row_id: RowId) -> Option<TxnId> {
        if self.shared.row_locks_held.load(Ordering::SeqCst) == 0 {
            return None;
        }
        self.shared.row_locks.read_sync(&(table.id(), row_id), |_, lock| lock.conflict(self.id, None)).flatten()
    }

    /// Waits for another transaction to end.
    pub(crate) fn wait_for_holder(&mut self, holder: TxnId) -> Result<()> {
        self.ensure_id();
        self.shared.waits.wait_for(self.id, holder, self.shared.config.lock_timeout)
    }

    /// Releases every row lock (at the end of the transaction).
    pub(crate) fn release_row_locks(&mut self) {
        let me = self.id;
        for key in self.row_locks.drain(..) {
            let _ = self.shared.row_locks.remove_if_sync(&key, |lock| {
                if lock.exclusive == me {
                    lock.exclusive = 0;
                }
                lock.shared.retain(|&t| t != me);
                lock.is_empty()
            });
            self.shared.row_locks_held.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

fn not_available(table: &Table) -> Error {
    Error::LockNotAvailable(format!("could not obtain lock on row in relation \"{}\"", table.name()))
}
