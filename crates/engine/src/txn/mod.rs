//! Transactions: the engine's whole data API.
//!
//! A [`Transaction`] reads one snapshot (refreshed per statement under READ
//! COMMITTED), writes by adding versions it owns, and at commit turns its
//! marker into a commit timestamp. Its parts:
//!
//! * `read`: point reads and scans (full, primary key, index; both ways);
//! * `write`: insert, update, delete with NOT NULL / CHECK / UNIQUE checks,
//!   and row-lock waits;
//! * `foreign`: FOREIGN KEY checks and ON DELETE / ON UPDATE actions;
//! * `ddl`: CREATE / ALTER / DROP of tables and indexes, TRUNCATE;
//! * `end`: savepoints, commit (with SERIALIZABLE validation), rollback;
//! * `apply`: replay of commit records.

mod analyze;
mod apply;
mod ddl;
mod end;
mod foreign;
mod lock;
mod pending;
mod probe;
mod read;
mod security;
mod sequence;
mod write;
mod writes;

use std::sync::Arc;

use parking_lot::ArcMutexGuard;
use parking_lot::RawMutex;

use crate::catalog::{Catalog, TableEntry};
use crate::commitlog::LogOp;
use crate::database::Shared;
use crate::error::{Error, Result};
use crate::mvcc::{Snapshot, TXN_BIT, Timestamp, TxnId, VersionRef, marker};
use crate::schema::{Column, IndexId, TableId, TableSchema};
use crate::storage::RowId;
use crate::storage::index::IndexStorage;
use crate::storage::table::TableStorage;
use crate::types::Value;

pub(crate) use apply::apply;
pub(crate) use ddl::fill_index;
pub use ddl::{AlterTable, IndexSpec};
pub use end::CommitInfo;
pub(crate) use end::WriteSummary;
pub(crate) use lock::RowLock;
pub use lock::{LockMode, LockWait};
pub use probe::IndexProbe;
pub use read::{RowBatch, Scan, ScanCursor, ScanRange};

/// Isolation levels, named as PostgreSQL names them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IsolationLevel {
    /// Each statement sees the data committed before it began; a row changed
    /// concurrently is re-read and the change applied to its newest version.
    ReadCommitted,
    /// The whole transaction sees one snapshot; writing a row that changed
    /// after the snapshot fails (first committer wins). PostgreSQL's
    /// REPEATABLE READ.
    #[default]
    Snapshot,
    /// Snapshot isolation plus validation at commit that nothing this
    /// transaction read was changed by a transaction that committed after
    /// its snapshot, which rules out write skew.
    Serializable,
}

/// How a transaction begins.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TxnOptions {
    /// Isolation level.
    pub isolation: IsolationLevel,
    /// Reject every write.
    pub read_only: bool,
}

impl TxnOptions {
    /// Options with the given isolation level.
    pub fn isolation(isolation: IsolationLevel) -> TxnOptions {
        TxnOptions { isolation, read_only: false }
    }

    /// Read-only options with the given isolation level.
    pub fn read_only(isolation: IsolationLevel) -> TxnOptions {
        TxnOptions { isolation, read_only: true }
    }
}

impl PartialEq for Table {
    /// Handles are equal when they name the same table with the same definition.
    fn eq(&self, other: &Table) -> bool {
        self.id() == other.id() && self.schema() == other.schema()
    }
}

/// A handle on a table as the transaction sees it: definition and storage.
#[derive(Clone)]
pub struct Table {
    pub(crate) entry: TableEntry,
    /// Physical positions of the live columns, in logical order.
    pub(crate) live: Arc<[usize]>,
    /// The primary key index, looked up once per handle.
    pub(crate) primary: Option<Arc<IndexStorage>>,
}

impl Table {
    fn new(entry: &TableEntry) -> Table {
        // The primary key this transaction's schema has (the storage may
        // also carry one that an uncommitted ALTER TABLE is building).
        let primary = entry.schema.primary_key_index().and_then(|pk| entry.storage.index(pk.id));
        Table { entry: entry.clone(), live: entry.live.clone(), primary }
    }

    /// The table's definition.
    pub fn schema(&self) -> &TableSchema {
        &self.entry.schema
    }

    /// The table's name.
    pub fn name(&self) -> &str {
        &self.entry.schema.name
    }

    /// The table's id.
    pub fn id(&self) -> TableId {
        self.entry.schema.id
    }

    /// The live columns in logical order (what rows contain).
    pub fn columns(&self) -> Vec<&Column> {
        self.live.iter().filter_map(|&i| self.entry.schema.columns.get(i)).collect()
    }

    /// Logical position of a column by name.
    pub fn column_position(&self, name: &str) -> Result<usize> {
        self.live
            .iter()
            .position(|&i| self.entry.schema.columns.get(i).is_some_and(|c| c.name == name))
            .ok_or_else(|| Error::UndefinedColumn { table: self.name().to_owned(), column: name.to_owned() })
    }

    /// Approximate number of live rows.
    pub fn approx_rows(&self) -> u64 {
        self.entry.storage.live_rows.load(std::sync::atomic::Ordering::Relaxed).max(0) as u64
    }

    pub(crate) fn storage(&self) -> &Arc<TableStorage> {
        &self.entry.storage
    }

    /// Physical row → logical row.
    pub(crate) fn to_logical(&self, physical: &[Value]) -> Vec<Value> {
        self.live.iter().map(|&i| physical.get(i).cloned().unwrap_or(Value::Null)).collect()
    }

    /// Physical row → logical row, reusing the vector when no column was
    /// ever dropped.
    pub(crate) fn logical_from(&self, physical: Vec<Value>) -> Vec<Value> {
        if self.live.len() == physical.len() { physical } else { self.to_logical(&physical) }
    }

    /// Fails unless `given` values make a whole row (one per live column).
    pub(crate) fn check_width(&self, given: usize) -> Result<()> {
        if given != self.live.len() {
            return Err(Error::InvalidParameter(format!(
                "table \"{}\" has {} columns but {} values were given",
                self.name(),
                self.live.len(),
                given
            )));
        }
        Ok(())
    }

    /// Logical row → physical row (dropped columns NULL).
    pub(crate) fn to_physical(&self, logical: Vec<Value>) -> Result<Vec<Value>> {
        self.check_width(logical.len())?;
        if self.live.len() == self.entry.schema.columns.len() {
            return Ok(logical);
        }
        let mut physical = vec![Value::Null; self.entry.schema.columns.len()];
        for (value, &pos) in logical.into_iter().zip(self.live.iter()) {
            physical[pos] = value;
        }
        Ok(physical)
    }
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table").field("id", &self.id()).field("name", &self.name()).finish()
    }
}

impl std::fmt::Debug for Transaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transaction")
            .field("id", &self.id)
            .field("read_ts", &self.snapshot.read_ts)
            .field("options", &self.options)
            .field("state", &self.state)
            .finish()
    }
}

/// A row read from a table: its id and its values in logical column order.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The row's id (stable for the row's life; use it to update/delete).
    pub id: RowId,
    /// Values of the live columns, in order.
    pub values: Vec<Value>,
}

/// One change made by the transaction, in order, for commit and undo.
pub(crate) enum Write {
    Insert { table: usize, row_id: RowId, new: VersionRef },
    Update { table: usize, row_id: RowId, new: VersionRef, old: VersionRef },
    Delete { table: usize, row_id: RowId, old: VersionRef },
}

/// What SERIALIZABLE validation checks at commit.
#[derive(Default)]
pub(crate) struct ReadSet {
    pub rows: Vec<(TableId, RowId)>,
    /// (table, index or None for the whole table, lower, upper) of scans.
    pub ranges: Vec<read::ReadRange>,
}

/// A physical side effect of DDL to undo on rollback.
pub(crate) enum DdlUndo {
    DetachIndex { storage: Arc<TableStorage>, index: IndexId },
    RestoreLayout { storage: Arc<TableStorage>, types: Vec<crate::types::DataType>, missing: Vec<Value> },
}

/// DDL state of a transaction that changed the schema.
pub(crate) struct DdlState {
    _guard: ArcMutexGuard<RawMutex, ()>,
    /// The catalog version the DDL started from.
    pub base: Arc<Catalog>,
    /// Schema changes, each with the number of data writes made before it.
    pub ops: Vec<(usize, LogOp)>,
    pub undo: Vec<DdlUndo>,
    /// Tables whose existing rows were validated at this timestamp (NOT
    /// NULL, CHECK, UNIQUE added); rechecked at commit if written since.
    pub validated: Vec<(TableId, Timestamp)>,
    /// Storages this transaction replaced with rows it read at the
    /// timestamp (ALTER COLUMN TYPE): a commit to one after that would be
    /// lost, so it fails this transaction's commit instead.
    pub rewritten: Vec<(Arc<crate::storage::table::TableStorage>, Timestamp)>,
}

/// Where a savepoint was taken.
pub(crate) struct Savepoint {
    pub name: String,
    pub writes: usize,
    pub reads: (usize, usize),
    pub catalog: Arc<Catalog>,
    pub ddl: Option<(usize, usize, usize)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Active,
    /// An error aborted the transaction: only rollback is possible.
    Failed,
    Ended,
}

/// A transaction. Dropping it without commit rolls it back.
pub struct Transaction {
    shared: Arc<Shared>,
    options: TxnOptions,
    id: TxnId,
    slot: usize,
    snapshot: Snapshot,
    catalog: Arc<Catalog>,
    ddl: Option<DdlState>,
    tables: Vec<Arc<TableStorage>>,
    writes: writes::WriteList,
    /// Rows locked without a change (released at the end).
    row_locks: Vec<(TableId, RowId)>,
    /// Sequence positions reached or set, for the commit record.
    sequences: Vec<(crate::sequence::SequenceId, crate::sequence::SequencePosition, bool)>,
    /// Index entries added at commit or before this transaction's own index
    /// reads.
    pending: pending::PendingEntries,
    reads: ReadSet,
    savepoints: Vec<Savepoint>,
    state: State,
    now: i64,
    /// Whether the next [`Transaction::begin_statement`] keeps the snapshot
    /// and timestamp the transaction began with (see
    /// [`Transaction::statement_starts_now`]).
    fresh: bool,
    /// Statements begun ([`Transaction::begin_statement`]) so far.
    statements: u64,
    /// Whether ending it counts in [`crate::EngineMetrics`] (not for the
    /// engine's own snapshot holders).
    counted: bool,
    /// The role it acts for, resolved (`None`: unrestricted).
    access: Option<Arc<crate::security::Access>>,
}

impl Transaction {
    pub(crate) fn begin(shared: Arc<Shared>, options: TxnOptions) -> Result<Transaction> {
        let (slot, read_ts) = shared.active.register(&shared.newest)?;
        let catalog = shared.catalog_as_of(read_ts);
        if options.isolation == IsolationLevel::Serializable {
            shared.serializable_active.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        let now = shared.config.clock.now_micros();
        Ok(Transaction {
            shared,
            options,
            id: 0,
            slot,
            snapshot: Snapshot { read_ts, own: TXN_BIT },
            catalog,
            ddl: None,
            tables: Vec::new(),
            writes: writes::WriteList::default(),
            pending: pending::PendingEntries::default(),
            row_locks: Vec::new(),
            sequences: Vec::new(),
            reads: ReadSet::default(),
            savepoints: Vec::new(),
            state: State::Active,
            now,
            fresh: false,
            statements: 0,
            counted: true,
            access: None,
        })
    }

    /// Marks a transaction that is bookkeeping rather than client work (a
    /// checkpoint's or a multi-key read's snapshot, a statement being
    /// described), which the commit and abort counters skip.
    pub fn uncounted(mut self) -> Transaction {
        self.counted = false;
        self
    }

    /// The snapshot and catalog the transaction reads (checkpoints).
    pub(crate) fn snapshot_parts(&self) -> (crate::mvcc::Snapshot, Arc<Catalog>) {
        (self.snapshot, self.catalog.clone())
    }

    /// The database the transaction runs in.
    pub(crate) fn shared_handle(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    /// The transaction's id (0 until it first writes).
    pub fn id(&self) -> TxnId {
        self.id
    }

    /// Runs a thread-blocking wait (a sleep) through the database's
    /// blocking hook ([`crate::Config::with_blocking_hook`]), so that it
    /// does not hold up other work scheduled on the same thread.
    pub fn run_blocking(&self, wait: &mut dyn FnMut()) {
        match self.shared.config.blocking {
            Some(hook) => hook(wait),
            None => wait(),
        }
    }

    /// The commit timestamp whose effects this transaction's snapshot sees.
    pub fn read_ts(&self) -> Timestamp {
        self.snapshot.read_ts
    }

    /// The options the transaction began with.
    pub fn options(&self) -> TxnOptions {
        self.options
    }

    /// Whether the transaction has written anything (data or schema).
    pub fn has_writes(&self) -> bool {
        !self.writes.is_empty() || self.ddl.is_some() || !self.sequences.is_empty()
    }

    /// The statement timestamp used by `now()` defaults, in µs since 2000-01-01.
    pub fn now(&self) -> i64 {
        self.now
    }

    /// Whether a statement has begun in the transaction (SET TRANSACTION
    /// ISOLATION LEVEL is refused after one, as in PostgreSQL).
    pub fn has_begun_statements(&self) -> bool {
        self.statements > 0
    }

    /// Whether a savepoint is open.
    pub fn has_savepoints(&self) -> bool {
        !self.savepoints.is_empty()
    }

    /// Makes the transaction read-only (or read-write again): later writes
    /// are refused (`SET TRANSACTION READ ONLY`).
    pub fn set_read_only(&mut self, read_only: bool) {
        self.options.read_only = read_only;
    }

    /// Marks a transaction whose first statement starts as it begins (an
    /// autocommit statement): that statement's [`Transaction::begin_statement`]
    /// keeps the snapshot and timestamp just taken instead of taking them
    /// again, as in PostgreSQL, where a transaction's first statement has
    /// the transaction's timestamp. Saves a clock read and a snapshot per
    /// autocommit statement.
    pub fn statement_starts_now(mut self) -> Transaction {
        self.fresh = true;
        self
    }

    /// Starts a new statement: READ COMMITTED takes a fresh snapshot, and
    /// the statement timestamp moves to the clock's current time.
    pub fn begin_statement(&mut self) -> Result<()> {
        self.check_active()?;
        self.statements += 1;
        if std::mem::take(&mut self.fresh) {
            return Ok(());
        }
        self.now = self.shared.config.clock.now_micros();
        if self.options.isolation == IsolationLevel::ReadCommitted {
            self.snapshot.read_ts = self.shared.active.refresh(self.slot, &self.shared.newest);
            if self.ddl.is_none() {
                let catalog = self.shared.catalog_as_of(self.snapshot.read_ts);
                let changed = catalog.committed_at != self.catalog.committed_at;
                self.catalog = catalog;
                if changed {
                    self.refresh_access();
                }
            }
        }
        Ok(())
    }

    /// The version of the schema this transaction sees (the commit
    /// timestamp that installed it), or `None` while the transaction has
    /// uncommitted DDL of its own. Plans bound at one version stay valid
    /// for any transaction that reports the same version.
    pub fn schema_version(&self) -> Option<Timestamp> {
        if self.ddl.is_some() { None } else { Some(self.catalog.committed_at) }
    }

    /// A table by name, as this transaction sees the schema.
    pub fn table(&self, name: &str) -> Result<Table> {
        self.catalog.table(name).map(Table::new)
    }

    /// The names of all tables this transaction sees.
    pub fn table_names(&self) -> Vec<String> {
        self.catalog.tables().map(|t| t.schema.name.clone()).collect()
    }

    /// Every table this transaction sees.
    pub fn tables(&self) -> Vec<Table> {
        self.catalog.tables().map(Table::new).collect()
    }

    fn check_active(&self) -> Result<()> {
        match self.state {
            State::Active => Ok(()),
            State::Failed | State::Ended => Err(Error::TxnNotActive),
        }
    }

    fn check_writable(&self, what: &str) -> Result<()> {
        self.check_active()?;
        if self.options.read_only {
            return Err(Error::ReadOnly(what.to_owned()));
        }
        Ok(())
    }

    /// Assigns the transaction id and marker on the first write.
    fn ensure_id(&mut self) {
        if self.id == 0 {
            let seq = self.shared.next_txn.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.id = (seq << crate::mvcc::SLOT_BITS) | self.slot as u64;
            self.snapshot.own = marker(self.id);
            self.shared.waits.register_writer(self.id);
        }
    }

    /// Index of a table's storage in `self.tables`, adding it if new.
    fn table_slot(&mut self, storage: &Arc<TableStorage>) -> usize {
        if let Some(i) = self.tables.iter().rposition(|t| Arc::ptr_eq(t, storage)) {
            return i;
        }
        self.tables.push(storage.clone());
        self.tables.len() - 1
    }

    /// Runs a write operation; a failure aborts the transaction (it must be
    /// rolled back, or rolled back to a savepoint), as in PostgreSQL.
    fn guarded<T>(&mut self, op: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        self.check_active()?;
        let mark = self.mark();
        let result = op(self);
        if let Err(e) = &result {
            // Undo the failed statement's partial effects right away so no
            // half-done change stays visible to this transaction.
            self.undo_to(mark.0, mark.1);
            if !matches!(e, Error::TxnNotActive) {
                self.state = State::Failed;
            }
        }
        result
    }

    fn mark(&self) -> (usize, Option<(usize, usize, usize)>) {
        (self.writes.len(), self.ddl.as_ref().map(|d| (d.ops.len(), d.undo.len(), d.validated.len())))
    }

    /// Adds deferred index entries (before reading through an index).
    pub(crate) fn flush_pending(&mut self) {
        self.pending.flush();
    }

    /// Whether the transaction failed and needs a rollback.
    pub fn is_failed(&self) -> bool {
        self.state == State::Failed
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        if self.state != State::Ended {
            self.rollback_in_place();
        }
    }
}
