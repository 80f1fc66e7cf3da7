//! Ending transactions: savepoints, commit, rollback.
//!
//! Commit, under the database's commit lock:
//!
//! 1. DDL: check that nobody else changed the schema since this
//!    transaction's DDL began, re-validate constraints on tables written
//!    since they were validated.
//! 2. Check that the tables this transaction wrote still have the definition
//!    it wrote them with (a concurrent ALTER/DROP wins).
//! 3. SERIALIZABLE: check that no transaction that committed after this
//!    snapshot wrote a row or a key range this transaction read.
//! 4. Take the next commit timestamp, hand the commit record to the log.
//! 5. Stamp every version written: `begin`/`end` markers become the
//!    timestamp; install the new catalog.
//! 6. Publish the timestamp as the newest readable one.
//!
//! Then, outside the lock, wake waiters and wait for the log's durability.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::commitlog::{CommitRecord, LogOp};
use crate::error::{Error, Result};
use crate::gc::GcCandidate;
use crate::key::Key;
use crate::mvcc::{INFINITY, Timestamp, Version, VersionRef};
use crate::schema::{IndexId, TableId};
use crate::storage::RowId;
use crate::storage::table::TableStorage;
use crate::txn::{DdlUndo, IsolationLevel, Savepoint, State, Transaction, Write};

/// A written row with the index entry keys of its old and new versions.
pub(crate) type WrittenRow = (TableId, RowId, Vec<(IndexId, Key)>);

/// What one commit wrote, kept while SERIALIZABLE transactions are open so
/// they can validate their reads against it.
pub(crate) struct WriteSummary {
    pub ts: Timestamp,
    /// Rows written, with the index keys of their old and new versions.
    pub rows: Vec<WrittenRow>,
    /// Tables whose schema changed or that were truncated or dropped.
    pub tables: Vec<TableId>,
}

/// What a successful commit reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommitInfo {
    /// The commit timestamp, or `None` for a transaction that wrote nothing.
    pub ts: Option<Timestamp>,
}

impl Transaction {
    /// Sets a savepoint. A later savepoint with the same name hides this one
    /// until it is released, as in PostgreSQL.
    pub fn savepoint(&mut self, name: &str) -> Result<()> {
        self.check_active()?;
        self.savepoints.push(Savepoint {
            name: name.to_owned(),
            writes: self.writes.len(),
            reads: (self.reads.rows.len(), self.reads.ranges.len()),
            catalog: self.catalog.clone(),
            ddl: self.ddl.as_ref().map(|d| (d.ops.len(), d.undo.len(), d.validated.len())),
        });
        Ok(())
    }

    /// Undoes everything since the savepoint (which stays set) and makes a
    /// failed transaction usable again.
    pub fn rollback_to_savepoint(&mut self, name: &str) -> Result<()> {
        if self.state == State::Ended {
            return Err(Error::TxnNotActive);
        }
        let pos = self
            .savepoints
            .iter()
            .rposition(|s| s.name == name)
            .ok_or_else(|| Error::NoSuchSavepoint(name.to_owned()))?;
        self.savepoints.truncate(pos + 1);
        let (writes, reads, catalog, ddl) = {
            let sp = &self.savepoints[pos];
            (sp.writes, sp.reads, sp.catalog.clone(), sp.ddl)
        };
        self.undo_to(writes, ddl);
        self.reads.rows.truncate(reads.0);
        self.reads.ranges.truncate(reads.1);
        self.catalog = catalog;
        self.state = State::Active;
        Ok(())
    }

    /// Forgets a savepoint (and the ones after it), keeping the changes.
    pub fn release_savepoint(&mut self, name: &str) -> Result<()> {
        self.check_active()?;
        let pos = self
            .savepoints
            .iter()
            .rposition(|s| s.name == name)
            .ok_or_else(|| Error::NoSuchSavepoint(name.to_owned()))?;
        self.savepoints.truncate(pos);
        Ok(())
    }

    /// Undoes writes after `writes` and DDL after `ddl`, newest first.
    pub(crate) fn undo_to(&mut self, writes: usize, ddl: Option<(usize, usize, usize)>) {
        self.pending.truncate(writes);
        while self.writes.len() > writes {
            let Some(write) = self.writes.pop() else { break };
            self.undo_write(write);
        }
        match (ddl, self.ddl.as_mut()) {
            (Some((ops, undo, validated)), Some(state)) => {
                state.ops.truncate(ops);
                state.validated.truncate(validated);
                let undone: Vec<DdlUndo> = state.undo.drain(undo..).rev().collect();
                undone.into_iter().for_each(undo_ddl);
            }
            (None, Some(_)) => {
                if let Some(state) = self.ddl.take() {
                    let _ = self.shared.ddl_owner.compare_exchange(self.id, 0, Ordering::SeqCst, Ordering::SeqCst);
                    state.undo.into_iter().rev().for_each(undo_ddl);
                    self.catalog = state.base;
                }
            }
            _ => {}
        }
    }

    fn undo_write(&mut self, write: Write) {
        let newest = self.shared.newest.load(Ordering::Acquire);
        match write {
            Write::Insert { table, row_id, new } => {
                let storage = self.tables[table].clone();
                if let Some(slot) = storage.slab.get(row_id) {
                    let prev = new.prev.load_full();
                    let emptied = prev.is_none();
                    slot.store(prev);
                    unindex_undone(&storage, &new, row_id);
                    if emptied {
                        storage.slab.free(row_id, newest);
                    }
                }
            }
            Write::Update { table, row_id, new, old } => {
                let storage = self.tables[table].clone();
                if let Some(slot) = storage.slab.get(row_id) {
                    slot.store(Some(old.clone()));
                }
                old.end.store(INFINITY, Ordering::Release);
                unindex_undone(&storage, &new, row_id);
            }
            Write::Delete { old, .. } => old.end.store(INFINITY, Ordering::Release),
        }
    }

    /// Commits. On error the transaction is rolled back.
    pub fn commit(mut self) -> Result<CommitInfo> {
        match self.state {
            State::Active => {}
            State::Failed => {
                self.rollback_in_place();
                return Err(Error::TxnNotActive);
            }
            State::Ended => return Err(Error::TxnNotActive),
        }
        if !self.has_writes() {
            self.finish(true);
            return Ok(CommitInfo { ts: None });
        }
        // Outside the commit lock: the entries are invisible until the
        // versions they point to are stamped.
        self.flush_pending();
        let shared = self.shared.clone();
        let lock = shared.commit_lock.lock();
        if let Err(e) = self.validate() {
            drop(lock);
            self.rollback_in_place();
            return Err(e);
        }
        let ts = shared.newest.load(Ordering::Acquire) + 1;
        let position = if shared.config.commit_log.wants_records() {
            let record = match self.build_record(ts) {
                Ok(record) => record,
                Err(e) => {
                    drop(lock);
                    self.rollback_in_place();
                    return Err(e);
                }
            };
            match shared.config.commit_log.append(record) {
                Ok(p) => Some(p),
                Err(e) => {
                    drop(lock);
                    self.rollback_in_place();
                    return Err(e);
                }
            }
        } else {
            None
        };
        self.stamp(ts);
        if let Some(ddl) = self.ddl.take() {
            // Indexes dropped by this transaction stop being maintained.
            for (_, op) in &ddl.ops {
                if let LogOp::AlterTable(schema) = op
                    && let Some(entry) = self.catalog.table_by_id(schema.id)
                {
                    for index in entry.storage.indexes().iter() {
                        if !entry.schema.indexes.iter().any(|i| i.id == index.schema.id) {
                            let _gate = entry.storage.gate.write();
                            entry.storage.detach_index(index.schema.id);
                        }
                    }
                }
            }
            let mut catalog = (*self.catalog).clone();
            catalog.committed_at = ts;
            let catalog = Arc::new(catalog);
            shared.catalogs.write().push(catalog.clone());
            shared.current_catalog.store(catalog);
            let _ = shared.ddl_owner.compare_exchange(self.id, 0, Ordering::SeqCst, Ordering::SeqCst);
            drop(ddl); // releases the DDL lock
        }
        shared.newest.store(ts, Ordering::Release);
        drop(lock);
        self.finish(true);
        if let Some(position) = position {
            shared.config.commit_log.wait_durable(position)?;
        }
        Ok(CommitInfo { ts: Some(ts) })
    }

    /// Rolls back.
    pub fn rollback(mut self) -> Result<()> {
        if self.state == State::Ended {
            return Err(Error::TxnNotActive);
        }
        self.rollback_in_place();
        Ok(())
    }

    pub(crate) fn rollback_in_place(&mut self) {
        self.undo_to(0, None);
        self.finish(false);
    }

    /// Releases the snapshot and wakes waiters; counts the commit or the
    /// rollback (once: an ended transaction returns at once).
    fn finish(&mut self, committed: bool) {
        if self.state == State::Ended {
            return;
        }
        self.state = State::Ended;
        if self.counted {
            let counter = if committed { &self.shared.commits } else { &self.shared.aborts };
            counter.fetch_add(1, Ordering::Relaxed);
        }
        self.release_row_locks();
        if self.id != 0 {
            self.shared.waits.writer_ended(self.id);
        }
        if self.options.isolation == IsolationLevel::Serializable {
            self.shared.serializable_active.fetch_sub(1, Ordering::SeqCst);
        }
        self.shared.active.release(self.slot);
        if self.ddl.take().is_some() {
            let _ = self.shared.ddl_owner.compare_exchange(self.id, 0, Ordering::SeqCst, Ordering::SeqCst);
        }
    }

    /// Steps 1–3 of the module docs. Runs under the commit lock.
    fn validate(&mut self) -> Result<()> {
        let current = self.shared.current_catalog.load_full();
        if let Some(ddl) = &self.ddl {
            if current.committed_at != ddl.base.committed_at {
                return Err(Error::SerializationFailure("concurrent schema change".into()));
            }
            // Rows committed to a rewritten table after it was read would be
            // lost with its old storage.
            if ddl.rewritten.iter().any(|(storage, at)| storage.last_commit.load(Ordering::Acquire) > *at) {
                return Err(Error::SerializationFailure(
                    "could not serialize access due to concurrent update (table rewritten by ALTER TABLE)".into(),
                ));
            }
            let validated = ddl.validated.clone();
            for (table, at) in validated {
                let Some(entry) = self.catalog.table_by_id(table) else { continue };
                if entry.storage.last_commit.load(Ordering::Acquire) > at {
                    crate::txn::ddl::validate_existing_rows(self, table)?;
                }
            }
        }
        // With DDL of its own, the transaction checked at its first schema
        // change that its catalog was the newest, and held the DDL lock since.
        let tables = if self.ddl.is_some() { &[][..] } else { &self.tables[..] };
        for (i, storage) in tables.iter().enumerate() {
            let written = self.writes.iter().any(|w| write_table(w) == i);
            if !written {
                continue;
            }
            let mine = self.catalog.table_by_id(storage.id);
            let theirs = current.table_by_id(storage.id);
            let same = match (mine, theirs) {
                (Some(a), Some(b)) => Arc::ptr_eq(&a.storage, &b.storage) && Arc::ptr_eq(&a.schema, &b.schema),
                (Some(_), None) => self.ddl.is_some(), // created by this transaction
                _ => false,
            };
            let ours = self.ddl.is_some() && mine.is_some();
            if !same && !ours {
                return Err(Error::SerializationFailure(format!(
                    "concurrent change to the definition of table {}",
                    storage.id
                )));
            }
        }
        if self.options.isolation == IsolationLevel::Serializable {
            self.validate_reads()?;
        }
        Ok(())
    }

    fn validate_reads(&self) -> Result<()> {
        let recent = self.shared.recent_writes.lock();
        for summary in recent.iter().filter(|s| s.ts > self.snapshot.read_ts) {
            for table in &summary.tables {
                if self.reads.rows.iter().any(|(t, _)| t == table)
                    || self.reads.ranges.iter().any(|r| r.table == *table)
                {
                    return Err(Error::SerializationFailure(
                        "read/write dependencies among transactions (schema change)".into(),
                    ));
                }
            }
            for (table, row_id, keys) in &summary.rows {
                let conflict = self.reads.rows.iter().any(|r| r == &(*table, *row_id))
                    || self.reads.ranges.iter().any(|range| {
                        range.table == *table
                            && match range.index {
                                None => true,
                                Some(index) => keys.iter().any(|(i, k)| *i == index && range.contains(k)),
                            }
                    });
                if conflict {
                    return Err(Error::SerializationFailure("read/write dependencies among transactions".into()));
                }
            }
        }
        Ok(())
    }

    fn build_record(&self, ts: Timestamp) -> Result<CommitRecord> {
        let ddl: &[(usize, LogOp)] = self.ddl.as_ref().map_or(&[], |d| &d.ops);
        let mut ddl = ddl.iter().peekable();
        let mut ops = Vec::with_capacity(self.writes.len() + ddl.len());
        for (i, write) in self.writes.iter().enumerate() {
            while let Some((_, op)) = ddl.next_if(|(at, _)| *at <= i) {
                ops.push(op.clone());
            }
            ops.push(match write {
                Write::Insert { table, row_id, new } => {
                    LogOp::Insert { table: self.tables[*table].id, row_id: *row_id, data: new.data.to_vec() }
                }
                Write::Update { table, row_id, new, .. } => {
                    LogOp::Update { table: self.tables[*table].id, row_id: *row_id, data: new.data.to_vec() }
                }
                Write::Delete { table, row_id, .. } => LogOp::Delete { table: self.tables[*table].id, row_id: *row_id },
            });
        }
        ops.extend(ddl.map(|(_, op)| op.clone()));
        ops.extend(self.sequences.iter().map(|&(id, position, set)| LogOp::SequencePosition { id, position, set }));
        Ok(CommitRecord { ts, ops })
    }

    /// Step 5: turn markers into the commit timestamp.
    fn stamp(&mut self, ts: Timestamp) {
        let keep_summary = self.shared.serializable_active.load(Ordering::SeqCst) > 0;
        let mut summary_rows = Vec::new();
        let mut garbage = Vec::new();
        let mut live_delta = vec![0i64; self.tables.len()];
        let mut bytes_delta = vec![0i64; self.tables.len()];
        for write in &self.writes {
            match write {
                Write::Insert { table, new, .. } => {
                    new.begin.store(ts, Ordering::Release);
                    live_delta[*table] += 1;
                    bytes_delta[*table] += new.data.len() as i64;
                }
                Write::Update { table, row_id, new, old } => {
                    new.begin.store(ts, Ordering::Release);
                    old.end.store(ts, Ordering::Release);
                    bytes_delta[*table] += new.data.len() as i64;
                    garbage.push(GcCandidate { table: self.tables[*table].id, row_id: *row_id, ts });
                }
                Write::Delete { table, row_id, old } => {
                    old.end.store(ts, Ordering::Release);
                    live_delta[*table] -= 1;
                    garbage.push(GcCandidate { table: self.tables[*table].id, row_id: *row_id, ts });
                }
            }
            if keep_summary {
                summary_rows.push(self.summarize(write));
            }
        }
        for ((storage, rows), bytes) in self.tables.iter().zip(live_delta).zip(bytes_delta) {
            storage.touch(ts);
            storage.live_rows.fetch_add(rows, Ordering::Relaxed);
            storage.account(bytes);
        }
        if !garbage.is_empty() {
            self.shared.gc_queue.lock().extend(garbage);
        }
        if keep_summary {
            let tables = self
                .ddl
                .as_ref()
                .map(|d| d.ops.iter().filter_map(|(_, op)| ddl_table(op)).collect())
                .unwrap_or_default();
            let mut recent = self.shared.recent_writes.lock();
            recent.push_back(Arc::new(WriteSummary { ts, rows: summary_rows, tables }));
        }
    }

    fn summarize(&self, write: &Write) -> WrittenRow {
        let (table, row_id, versions): (usize, RowId, Vec<&VersionRef>) = match write {
            Write::Insert { table, row_id, new } => (*table, *row_id, vec![new]),
            Write::Update { table, row_id, new, old } => (*table, *row_id, vec![new, old]),
            Write::Delete { table, row_id, old } => (*table, *row_id, vec![old]),
        };
        let storage = &self.tables[table];
        let mut keys = Vec::new();
        for version in versions {
            if let Ok(values) = storage.decode(version) {
                for index in storage.indexes().iter() {
                    let key = index.key_values(&values);
                    let entry =
                        if index.schema.primary { Key::encode(&key) } else { Key::encode_with_row_id(&key, row_id) };
                    keys.push((index.schema.id, entry));
                }
            }
        }
        (storage.id, row_id, keys)
    }
}

fn write_table(write: &Write) -> usize {
    match write {
        Write::Insert { table, .. } | Write::Update { table, .. } | Write::Delete { table, .. } => *table,
    }
}

fn ddl_table(op: &LogOp) -> Option<TableId> {
    match op {
        LogOp::AlterTable(schema) => Some(schema.id),
        LogOp::DropTable(id) | LogOp::Truncate(id) => Some(*id),
        _ => None,
    }
}

/// Removes the index entries of an undone version, keeping keys that the
/// versions still in the chain use.
fn unindex_undone(storage: &TableStorage, undone: &Version, row_id: RowId) {
    let Ok(values) = storage.decode(undone) else { return };
    let mut keep = Vec::new();
    let mut cur = storage.head(row_id);
    while let Some(v) = cur {
        if let Ok(vals) = storage.decode(&v) {
            keep.push(vals);
        }
        cur = v.prev.load_full();
    }
    storage.unindex_version(&values, row_id, &keep);
}

fn undo_ddl(undo: DdlUndo) {
    match undo {
        DdlUndo::DetachIndex { storage, index } => {
            let _gate = storage.gate.write();
            storage.detach_index(index);
        }
        DdlUndo::RestoreLayout { storage, types, missing } => storage.set_layout(types, missing),
    }
}
