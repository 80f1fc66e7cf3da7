//! The commit-log seam: what a commit produces and what replay consumes.
//!
//! Every committing transaction that changed anything produces exactly one
//! [`CommitRecord`]: its commit timestamp and the logical changes in the
//! order they were made — schema changes as whole new table definitions,
//! row changes as `(table, row id, encoded row)`. Row ids are part of the
//! record so that [`crate::Database::apply`] reproduces the exact same
//! state on another copy (recovery now, Raft followers later): applying the
//! same records in the same order is deterministic.
//!
//! A [`CommitLog`] decides when a commit is acknowledged. `append` runs
//! under the commit lock, in commit order, and must only enqueue;
//! `wait_durable` runs after the lock is released, so many commits can share
//! one flush (group commit). [`NoLog`] is memory-only; [`MemoryLog`] keeps
//! the records in memory (tests, and later the replication buffer).

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::mvcc::Timestamp;
use crate::schema::{TableId, TableSchema};
use crate::sequence::{SequenceId, SequencePosition, SequenceSchema};
use crate::storage::RowId;

/// One logical change inside a commit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum LogOp {
    /// A table was created with this definition (ids included).
    CreateTable(TableSchema),
    /// A table's definition changed (columns, indexes, constraints, name).
    AlterTable(TableSchema),
    /// A table was dropped.
    DropTable(TableId),
    /// A row was inserted at `row_id`.
    Insert {
        /// Table.
        table: TableId,
        /// Row id.
        row_id: RowId,
        /// Encoded row (see `crate::row`).
        #[serde(with = "serde_bytes")]
        data: Vec<u8>,
    },
    /// A row got a new version.
    Update {
        /// Table.
        table: TableId,
        /// Row id.
        row_id: RowId,
        /// Encoded new row.
        #[serde(with = "serde_bytes")]
        data: Vec<u8>,
    },
    /// A row was deleted.
    Delete {
        /// Table.
        table: TableId,
        /// Row id.
        row_id: RowId,
    },
    /// All rows of a table were removed (TRUNCATE).
    Truncate(TableId),
    /// A sequence was created.
    CreateSequence(SequenceSchema),
    /// A sequence was dropped.
    DropSequence(SequenceId),
    /// A sequence reached this position (`nextval`: replay keeps the
    /// furthest position) or was set to it (`setval`, `set` true).
    SequencePosition {
        /// The sequence.
        id: SequenceId,
        /// Its position.
        position: SequencePosition,
        /// Whether the position was set rather than reached.
        set: bool,
    },
    /// A key-value change.
    Kv(crate::keyspace::KvOp),
    /// Roles, grants or API keys changed: their whole new state.
    Security(crate::security::Security),
}

/// Everything one transaction committed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CommitRecord {
    /// The commit timestamp (records are produced in timestamp order).
    pub ts: Timestamp,
    /// The changes, in the order they were made.
    pub ops: Vec<LogOp>,
}

impl CommitRecord {
    /// Serializes the record (postcard: compact and stable).
    pub fn encode(&self) -> Result<Vec<u8>> {
        postcard::to_stdvec(self).map_err(|e| Error::Internal(format!("encoding commit record: {e}")))
    }

    /// Deserializes a record produced by [`CommitRecord::encode`].
    pub fn decode(bytes: &[u8]) -> Result<CommitRecord> {
        postcard::from_bytes(bytes).map_err(|e| Error::CorruptRecord(e.to_string()))
    }
}

/// A position in the commit log, returned by `append`.
pub type LogPosition = u64;

/// Where commit records go, and when a commit may be acknowledged.
pub trait CommitLog: Send + Sync {
    /// Whether records are wanted at all (memory-only says no, and commits
    /// then skip building them).
    fn wants_records(&self) -> bool;

    /// Enqueues a record. Called under the commit lock, in commit order;
    /// must not block on I/O.
    fn append(&self, record: CommitRecord) -> Result<LogPosition>;

    /// Blocks until the record at `position` is as durable as the log
    /// promises. Called after the commit lock is released.
    fn wait_durable(&self, position: LogPosition) -> Result<()>;
}

/// Memory-only: nothing is written anywhere.
#[derive(Debug, Default)]
pub struct NoLog;

impl CommitLog for NoLog {
    fn wants_records(&self) -> bool {
        false
    }

    fn append(&self, _record: CommitRecord) -> Result<LogPosition> {
        Ok(0)
    }

    fn wait_durable(&self, _position: LogPosition) -> Result<()> {
        Ok(())
    }
}

/// Keeps every record in memory, in commit order.
#[derive(Debug, Default)]
pub struct MemoryLog {
    records: Mutex<Vec<CommitRecord>>,
}

impl MemoryLog {
    /// A copy of the records so far.
    pub fn records(&self) -> Vec<CommitRecord> {
        self.records.lock().clone()
    }
}

impl CommitLog for MemoryLog {
    fn wants_records(&self) -> bool {
        true
    }

    fn append(&self, record: CommitRecord) -> Result<LogPosition> {
        let mut records = self.records.lock();
        records.push(record);
        Ok(records.len() as LogPosition)
    }

    fn wait_durable(&self, _position: LogPosition) -> Result<()> {
        Ok(())
    }
}
