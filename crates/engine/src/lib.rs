//! memdb's storage engine: typed rows in memory, MVCC transactions,
//! indexes, and the commit-log seam.
//!
//! # Life of a write
//!
//! 1. [`Database::begin`] registers a snapshot: the newest commit timestamp.
//! 2. [`Transaction::insert`] coerces the values to the column types, checks
//!    NOT NULL and CHECK, encodes the row compactly (`row`), and installs a
//!    new version stamped with the transaction's marker at a row id in the
//!    table's slab (`storage::slab`); index entries point at the row id
//!    (`storage::index`, keys encoded by `key`). UNIQUE and FOREIGN KEY
//!    constraints are checked against the newest state of the other rows.
//! 3. Other transactions do not see the marker-stamped version; a writer
//!    that wants the same row waits for this one (`mvcc` module docs).
//! 4. [`Transaction::commit`] validates (schema, SERIALIZABLE reads), takes
//!    the next timestamp, hands one [`CommitRecord`] to the [`CommitLog`],
//!    stamps the versions and publishes the timestamp. Readers switch from
//!    the old versions to the new ones atomically.
//! 5. Replaced versions are queued for the garbage collector (`gc`), which
//!    unlinks them once no snapshot can see them.
//!
//! With a data directory ([`Config::with_durability`]), the commit log is
//! the write-ahead log ([`wal`]): step 4 buffers the record, and in `sync`
//! mode the commit returns once the log writer has synced it, together with
//! the records of the commits that arrived meanwhile. Checkpoints
//! ([`checkpoint`]) write MVCC snapshots in the background; opening the
//! directory loads the newest one and replays the log after it
//! ([`durable`]).
//!
//! # Example
//!
//! ```
//! use memdb_engine::{Column, Config, DataType, Database, TableSchema, Value};
//!
//! let db = Database::open(Config::memory())?;
//! let mut txn = db.begin()?;
//! txn.create_table(
//!     TableSchema::new("accounts")
//!         .column(Column::new("id", DataType::Int8).not_null())
//!         .column(Column::new("balance", DataType::Int8).default(Value::Int8(0)))
//!         .primary_key(["id"]),
//! )?;
//! let accounts = txn.table("accounts")?;
//! txn.insert(&accounts, vec![Value::Int8(1), Value::Int8(100)])?;
//! txn.commit()?;
//!
//! let mut txn = db.begin()?;
//! let accounts = txn.table("accounts")?;
//! let row = txn.get(&accounts, &[Value::Int8(1)])?.expect("row 1 exists");
//! txn.update(&accounts, row.id, vec![Value::Int8(1), Value::Int8(90)])?;
//! txn.commit()?;
//! # Ok::<(), memdb_engine::Error>(())
//! ```

mod catalog;
pub mod checkpoint;
pub mod commitlog;
mod database;
pub mod durable;
mod error;
pub mod expr;
mod gc;
pub mod key;
pub mod keyspace;
mod kv;
mod mvcc;
mod progress;
pub mod row;
mod schema;
pub mod security;
pub mod sequence;
pub mod stats;
mod storage;
mod txn;
pub mod types;
pub mod wal;

pub use checkpoint::CheckpointInfo;
pub use commitlog::{CommitLog, CommitRecord, LogOp, MemoryLog, NoLog};
pub use database::{
    BlockingHook, Clock, Config, Database, DatabaseStats, EngineMetrics, ManualClock, PG_EPOCH_OFFSET_MICROS,
    SystemClock, resident_memory,
};
pub use durable::{
    BackupInfo, Durability, RecoveryReport, RestoreReport, RestoreTarget, restore, restore_with_progress,
};
pub use error::{Error, ErrorFields, Result};
pub use expr::Expr;
pub use gc::GcStats;
pub use keyspace::command::{ExpireCondition, KvValue};
pub use keyspace::{Eviction, KvCommand, KvInfo, KvKind, KvOp, KvReply, Meta as KvMeta, SetCondition, SetExpiry};
pub use kv::{Kv, KvConfig, PushListener, Watches};
pub use mvcc::{Timestamp, TxnId};
pub use progress::{Progress, ProgressHandle, ProgressUnit};
pub use schema::{
    CheckConstraint, Column, ConstraintSpec, FkAction, ForeignKey, IndexId, IndexKind, IndexSchema, TableId,
    TableSchema,
};
pub use sequence::{SequenceId, SequencePosition, SequenceSchema};
pub use stats::{ColumnStatistics, Statistics};
pub use storage::RowId;
pub use txn::{
    AlterTable, CommitInfo, IndexProbe, IndexSpec, IsolationLevel, LockMode, LockWait, Row, RowBatch, Scan, ScanCursor,
    ScanRange, Table, Transaction, TxnOptions,
};
pub use types::{Array, DataType, Interval, NumericTypmod, Value};
pub use wal::SyncMode;
