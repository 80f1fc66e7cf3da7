//! The database handle: configuration, shared state, and replay.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use arc_swap::ArcSwap;
use parking_lot::{Mutex, RwLock};

use crate::catalog::{Catalog, CatalogHistory};
use crate::checkpoint::CheckpointInfo;
use crate::commitlog::{CommitLog, CommitRecord, NoLog};
use crate::durable::{BackupInfo, Durability, DurableState, RecoveryReport};
use crate::error::Result;
use crate::gc::{self, GcCandidate, GcStats};
use crate::mvcc::{ActiveSet, MAX_SLOTS, Timestamp, WaitGraph};
use crate::schema::TableSchema;
use crate::txn::{RowLock, Transaction, TxnOptions, WriteSummary};

/// Where time comes from: wall-clock in production, a hand-driven clock in
/// tests (TTLs, `now()` defaults).
pub trait Clock: Send + Sync {
    /// Microseconds since 2000-01-01 00:00:00 UTC (PostgreSQL's epoch).
    fn now_micros(&self) -> i64;
}

/// Microseconds between the Unix epoch and PostgreSQL's epoch (2000-01-01).
pub const PG_EPOCH_OFFSET_MICROS: i64 = 946_684_800_000_000;

/// The system's real-time clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_micros(&self) -> i64 {
        let since_unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        since_unix - PG_EPOCH_OFFSET_MICROS
    }
}

/// A clock that moves only when told to.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock stopped at `micros` since 2000-01-01.
    pub fn new(micros: i64) -> ManualClock {
        ManualClock(AtomicI64::new(micros))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        self.0.fetch_add(i64::try_from(by.as_micros()).unwrap_or(i64::MAX), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_micros(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// How to open a database.
#[derive(Clone)]
pub struct Config {
    /// Where commit records go ([`NoLog`]: memory-only, the default).
    pub commit_log: Arc<dyn CommitLog>,
    /// How many transactions may be open at once (at most 8192).
    pub max_transactions: usize,
    /// How long a writer waits for another's row lock before failing
    /// (`None`: wait until it ends or a deadlock is found).
    pub lock_timeout: Option<Duration>,
    /// How often a background thread reclaims old versions (`None`: only
    /// when [`Database::gc`] is called).
    pub gc_interval: Option<Duration>,
    /// The clock for `now()` and timestamps.
    pub clock: Arc<dyn Clock>,
    /// Runs a wait that blocks the thread (a row-lock wait). An async
    /// server passes its runtime's "this task blocks now" hook (tokio's
    /// `block_in_place`), so the runtime moves other connections off the
    /// blocked thread; `None` just blocks.
    pub blocking: Option<BlockingHook>,
    /// Most memory the process may use before writes (INSERT, UPDATE)
    /// fail with SQLSTATE 53200; reads and deletes go on (`None`: no limit).
    pub max_memory: Option<u64>,
    /// Measures the memory in use (default: the process's resident set).
    pub memory_probe: fn() -> u64,
    /// Keep the data on disk (`None`: memory-only). Opening then recovers
    /// what the directory holds; `commit_log` is replaced by its log.
    pub durability: Option<Durability>,
    /// Key-value settings: default TTL, expiry sweeps, eviction.
    pub kv: crate::kv::KvConfig,
}

/// See [`Config::blocking`]: calls the closure, which blocks.
pub type BlockingHook = fn(&mut dyn FnMut());

impl Default for Config {
    fn default() -> Self {
        Config {
            commit_log: Arc::new(NoLog),
            max_transactions: 4096,
            lock_timeout: None,
            gc_interval: Some(Duration::from_millis(100)),
            clock: Arc::new(SystemClock),
            blocking: None,
            max_memory: None,
            memory_probe: resident_memory,
            durability: None,
            kv: crate::kv::KvConfig::default(),
        }
    }
}

impl Config {
    /// Memory-only defaults.
    pub fn memory() -> Config {
        Config::default()
    }

    /// Sets the commit log.
    pub fn with_commit_log(mut self, log: Arc<dyn CommitLog>) -> Config {
        self.commit_log = log;
        self
    }

    /// Sets the clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Config {
        self.clock = clock;
        self
    }

    /// Sets the background collection interval (`None` disables it).
    pub fn with_gc_interval(mut self, interval: Option<Duration>) -> Config {
        self.gc_interval = interval;
        self
    }

    /// Sets the hook that wraps thread-blocking waits.
    pub fn with_blocking_hook(mut self, hook: BlockingHook) -> Config {
        self.blocking = Some(hook);
        self
    }

    /// Keeps the database in a data directory (see [`Durability`]).
    pub fn with_durability(mut self, durability: Durability) -> Config {
        self.durability = Some(durability);
        self
    }

    /// Sets the memory limit (see [`Config::max_memory`]).
    pub fn with_max_memory(mut self, max: Option<u64>) -> Config {
        self.max_memory = max;
        self
    }

    /// Sets how memory use is measured.
    pub fn with_memory_probe(mut self, probe: fn() -> u64) -> Config {
        self.memory_probe = probe;
        self
    }

    /// Sets the key-value settings.
    pub fn with_kv(mut self, kv: crate::kv::KvConfig) -> Config {
        self.kv = kv;
        self
    }

    /// Sets the lock timeout.
    pub fn with_lock_timeout(mut self, timeout: Option<Duration>) -> Config {
        self.lock_timeout = timeout;
        self
    }
}

/// State shared by every transaction of one database.
pub(crate) struct Shared {
    pub config: Config,
    /// The newest commit timestamp whose effects are readable.
    pub newest: AtomicU64,
    pub next_txn: AtomicU64,
    pub active: ActiveSet,
    pub waits: WaitGraph,
    /// Serializes commits: timestamp assignment, stamping, logging.
    pub commit_lock: Mutex<()>,
    pub catalogs: RwLock<CatalogHistory>,
    pub current_catalog: ArcSwap<Catalog>,
    /// Held by a transaction from its first DDL statement until it ends.
    pub ddl_lock: Arc<Mutex<()>>,
    /// The id of the transaction holding `ddl_lock` (0: none), so waiting
    /// for it joins deadlock detection.
    pub ddl_owner: AtomicU64,
    /// Open SERIALIZABLE transactions; while any exist, commits keep a
    /// summary of what they wrote for validation.
    pub serializable_active: AtomicUsize,
    pub recent_writes: Mutex<VecDeque<Arc<WriteSummary>>>,
    /// Row locks taken without a change (`txn::lock`), and how many are held.
    pub row_locks: scc::HashMap<(crate::schema::TableId, crate::storage::RowId), RowLock>,
    pub row_locks_held: AtomicUsize,
    pub gc_queue: Mutex<VecDeque<GcCandidate>>,
    pub gc_lock: Mutex<()>,
    /// Row ids freed before this timestamp may be reused.
    pub reuse_before: AtomicU64,
    /// The data directory side, for durable databases.
    pub durable: OnceLock<Arc<DurableState>>,
    /// Memory in use at the last measurement, and whether it is past
    /// `max_memory` (refreshed by the collector thread).
    pub memory_used: AtomicU64,
    pub memory_exceeded: std::sync::atomic::AtomicBool,
    /// The key-value keyspace.
    pub kv: crate::kv::KvState,
    pub kv_config: crate::kv::KvConfig,
    /// Transactions and key-value batches committed, and rolled back, since
    /// opening (see [`EngineMetrics`]).
    pub commits: AtomicU64,
    pub aborts: AtomicU64,
    /// Roles' resolved privileges for the newest security catalog.
    pub access_cache: crate::security::AccessCache,
    /// Bumped by every `ANALYZE`: plans made before it may be worse than
    /// the statistics now allow.
    pub statistics_epoch: AtomicU64,
}

impl Shared {
    /// Measures memory use and updates the limit flag.
    pub fn refresh_memory(&self) {
        let Some(max) = self.config.max_memory else { return };
        let used = (self.config.memory_probe)();
        self.memory_used.store(used, Ordering::Relaxed);
        self.memory_exceeded.store(used > max, Ordering::Relaxed);
    }

    /// Fails when the memory limit is reached (checked before writes that
    /// add data).
    pub fn check_memory(&self) -> Result<()> {
        if !self.memory_exceeded.load(Ordering::Relaxed) {
            return Ok(());
        }
        let mb = |b: u64| b / (1 << 20);
        Err(crate::Error::OutOfMemory(format!(
            "memdb uses {} MB, over its max_memory of {} MB; delete data or raise the limit",
            mb(self.memory_used.load(Ordering::Relaxed)),
            mb(self.config.max_memory.unwrap_or(0))
        )))
    }
}

/// The process's resident memory in bytes (Linux `/proc/self/statm`;
/// 0 where unavailable, which disables the limit).
pub fn resident_memory() -> u64 {
    let Ok(statm) = std::fs::read_to_string("/proc/self/statm") else { return 0 };
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    pages * 4096
}

impl Shared {
    /// The catalog version a snapshot at `ts` sees.
    pub fn catalog_as_of(&self, ts: Timestamp) -> Arc<Catalog> {
        let current = self.current_catalog.load_full();
        if current.committed_at <= ts {
            return current;
        }
        self.catalogs.read().as_of(ts).unwrap_or(current)
    }
}

/// An open database. Cheap to clone; all clones share the same data.
#[derive(Clone)]
pub struct Database {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database").field("last_commit", &self.last_commit()).finish()
    }
}

impl Database {
    /// Opens an empty in-memory database.
    ///
    /// ```
    /// use memdb_engine::{Config, Database};
    /// let db = Database::open(Config::memory()).unwrap();
    /// assert!(db.begin().unwrap().table_names().is_empty());
    /// ```
    pub fn open(mut config: Config) -> Result<Database> {
        if let Some(durability) = config.durability.take() {
            return crate::durable::open(config, durability);
        }
        let catalog = Arc::new(Catalog::new());
        let gc_interval = config.gc_interval;
        let max_transactions = config.max_transactions.clamp(1, MAX_SLOTS);
        let blocking = config.blocking;
        let kv_config = config.kv.clone();
        let shared = Arc::new(Shared {
            config,
            newest: AtomicU64::new(0),
            next_txn: AtomicU64::new(1),
            active: ActiveSet::new(max_transactions),
            waits: WaitGraph::new(max_transactions, blocking),
            commit_lock: Mutex::new(()),
            catalogs: RwLock::new(CatalogHistory::new(catalog.clone())),
            current_catalog: ArcSwap::new(catalog),
            ddl_lock: Arc::new(Mutex::new(())),
            ddl_owner: AtomicU64::new(0),
            serializable_active: AtomicUsize::new(0),
            recent_writes: Mutex::new(VecDeque::new()),
            row_locks: scc::HashMap::new(),
            row_locks_held: AtomicUsize::new(0),
            gc_queue: Mutex::new(VecDeque::new()),
            gc_lock: Mutex::new(()),
            reuse_before: AtomicU64::new(0),
            durable: OnceLock::new(),
            memory_used: AtomicU64::new(0),
            memory_exceeded: std::sync::atomic::AtomicBool::new(false),
            kv: crate::kv::KvState::default(),
            kv_config,
            commits: AtomicU64::new(0),
            aborts: AtomicU64::new(0),
            access_cache: Default::default(),
            statistics_epoch: AtomicU64::new(0),
        });
        shared.refresh_memory();
        if let Some(interval) = gc_interval {
            spawn_collector(Arc::downgrade(&shared), interval);
        }
        if let Some(interval) = shared.kv_config.cleanup_interval {
            crate::kv::spawn_sweeper(Arc::downgrade(&shared), interval);
        }
        Ok(Database { shared })
    }

    /// Begins a read-write transaction with snapshot isolation.
    pub fn begin(&self) -> Result<Transaction> {
        Transaction::begin(self.shared.clone(), TxnOptions::default())
    }

    /// Begins a transaction with the given options.
    pub fn begin_with(&self, options: TxnOptions) -> Result<Transaction> {
        Transaction::begin(self.shared.clone(), options)
    }

    /// The key-value keyspace.
    pub fn kv(&self) -> crate::kv::Kv {
        crate::kv::Kv { shared: self.shared.clone() }
    }

    /// Reclaims versions that no snapshot can see any more, now.
    pub fn gc(&self) -> GcStats {
        gc::collect(&self.shared)
    }

    /// Replays one commit record (recovery, replication). Records must be
    /// applied in timestamp order, on a database nobody else writes to.
    pub fn apply(&self, record: &CommitRecord) -> Result<()> {
        crate::txn::apply(&self.shared, record)
    }

    /// Writes a checkpoint now, at full speed, and recycles the log it makes
    /// unnecessary. `None` for a memory-only database, which has nothing to
    /// checkpoint.
    pub fn checkpoint(&self) -> Result<Option<CheckpointInfo>> {
        match crate::durable::state_of(&self.shared) {
            Some(state) => crate::durable::checkpoint(&self.shared, state, false).map(Some),
            None => Ok(None),
        }
    }

    /// A checkpoint as the background checkpointer writes it: paced to
    /// [`Durability::checkpoint_rate`] so that commits keep their latency.
    pub fn checkpoint_paced(&self) -> Result<Option<CheckpointInfo>> {
        match crate::durable::state_of(&self.shared) {
            Some(state) => crate::durable::checkpoint(&self.shared, state, true).map(Some),
            None => Ok(None),
        }
    }

    /// Writes an online backup, consistent at one commit, into `dir`
    /// (created; must be empty). Works for memory-only databases too.
    /// `memdb restore` (or [`crate::restore`]) turns it into a data directory.
    pub fn backup(&self, dir: &std::path::Path) -> Result<BackupInfo> {
        self.backup_with_progress(dir, &crate::progress::ProgressHandle::none())
    }

    /// [`Database::backup`], reporting how many rows and keys of the
    /// snapshot are written to `progress`.
    pub fn backup_with_progress(
        &self,
        dir: &std::path::Path,
        progress: &crate::progress::ProgressHandle,
    ) -> Result<BackupInfo> {
        let compress = crate::durable::state_of(&self.shared).is_some_and(|s| s.compress_checkpoints());
        crate::durable::backup(&self.shared, dir, compress, progress)
    }

    /// Writes and syncs every commit so far (a no-op when memory-only).
    /// Call before a planned shutdown in `async` mode; dropping the last
    /// handle does it too.
    pub fn flush(&self) -> Result<()> {
        match crate::durable::state_of(&self.shared) {
            Some(state) => crate::durable::flush(state),
            None => Ok(()),
        }
    }

    /// What recovery did when this database was opened (`None`: memory-only).
    pub fn recovery_report(&self) -> Option<RecoveryReport> {
        crate::durable::state_of(&self.shared).map(|s| crate::durable::report(s))
    }

    /// Measures memory use now (the collector does it every interval).
    pub fn refresh_memory(&self) {
        self.shared.refresh_memory();
    }

    /// Whether commits are kept on disk.
    pub fn is_durable(&self) -> bool {
        self.shared.durable.get().is_some()
    }

    /// The hook that wraps thread-blocking waits ([`Config::blocking`]).
    pub fn blocking_hook(&self) -> Option<BlockingHook> {
        self.shared.config.blocking
    }

    /// The newest commit timestamp.
    pub fn last_commit(&self) -> Timestamp {
        self.shared.newest.load(Ordering::Acquire)
    }

    /// The commit that last changed the schema: a plan made against the
    /// catalog at this version is still valid while it stays the same
    /// (what [`crate::Transaction::schema_version`] says of a transaction's view).
    pub fn schema_version(&self) -> Timestamp {
        self.shared.current_catalog.load().committed_at
    }

    /// How many times `ANALYZE` has replaced statistics: with
    /// [`Database::schema_version`], what a cached plan was made against.
    pub fn statistics_epoch(&self) -> u64 {
        self.shared.statistics_epoch.load(Ordering::Acquire)
    }

    /// Current definitions of all tables.
    pub fn schemas(&self) -> Vec<Arc<TableSchema>> {
        self.shared.current_catalog.load().tables().map(|t| t.schema.clone()).collect()
    }

    /// The current definition of one table, if it exists.
    pub fn table_schema(&self, name: &str) -> Option<Arc<TableSchema>> {
        self.shared.current_catalog.load().table(name).ok().map(|t| t.schema.clone())
    }

    /// Approximate live rows of every table (committed inserts minus
    /// deletes), by table name, for monitoring.
    pub fn table_row_counts(&self) -> Vec<(String, u64)> {
        let catalog = self.shared.current_catalog.load();
        catalog
            .tables()
            .map(|t| (t.schema.name.clone(), t.storage.live_rows.load(Ordering::Relaxed).max(0) as u64))
            .collect()
    }

    /// Statistics about the database's memory and versions.
    pub fn stats(&self) -> DatabaseStats {
        let catalog = self.shared.current_catalog.load();
        let mut stats = DatabaseStats {
            active_transactions: self.shared.active.len(),
            catalog_versions: self.shared.catalogs.read().len(),
            pending_gc: self.shared.gc_queue.lock().len(),
            ..DatabaseStats::default()
        };
        for table in catalog.tables() {
            stats.tables += 1;
            stats.live_rows += table.storage.live_rows.load(Ordering::Relaxed).max(0) as u64;
            stats.row_bytes += table.storage.data_bytes.load(Ordering::Relaxed).max(0) as u64;
        }
        stats
    }

    /// Counters since the database opened, for monitoring (each read on its
    /// own, so under load the fields may be from slightly different instants).
    pub fn metrics(&self) -> EngineMetrics {
        let (keys_expired, keys_evicted) = self.kv().expired_and_evicted();
        let mut metrics = EngineMetrics {
            commits: self.shared.commits.load(Ordering::Relaxed),
            aborts: self.shared.aborts.load(Ordering::Relaxed),
            keys_expired,
            keys_evicted,
            ..EngineMetrics::default()
        };
        if let Some(state) = crate::durable::state_of(&self.shared) {
            crate::durable::fill_metrics(state, &mut metrics);
        }
        metrics
    }
}

/// Monitoring counters of a database since it opened ([`Database::metrics`]).
/// All only grow; the durable ones stay 0 for a memory-only database.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EngineMetrics {
    /// Transactions committed: SQL/table transactions, read-only ones
    /// included (as PostgreSQL's `xact_commit`), and key-value batches that
    /// changed data (commands, expiry sweeps, evictions).
    pub commits: u64,
    /// Transactions rolled back: explicitly, by dropping them uncommitted,
    /// or because their commit failed (serialization failure, the log
    /// refusing the record); also key-value batches the log refused and
    /// MULTI/EXEC batches dropped because a watched key changed.
    pub aborts: u64,
    /// Bytes written to the write-ahead log.
    pub wal_bytes: u64,
    /// Syncs (`fdatasync`/`fsync`) of log segment files: one per batch of
    /// commits written, plus one per new segment's header.
    pub wal_fsyncs: u64,
    /// Checkpoints completed (background and on demand; not backups).
    pub checkpoints: u64,
    /// Summed durations of those checkpoints, in microseconds.
    pub checkpoint_micros_total: u64,
    /// Duration of the last checkpoint, in microseconds.
    pub last_checkpoint_micros: u64,
    /// Keys deleted because their TTL passed.
    pub keys_expired: u64,
    /// Keys evicted to stay under `max_memory`.
    pub keys_evicted: u64,
}

/// A summary of the database's state, for monitoring and tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DatabaseStats {
    /// Tables in the newest catalog.
    pub tables: usize,
    /// Live rows across tables (approximate under concurrency).
    pub live_rows: u64,
    /// Bytes of encoded row data, all versions.
    pub row_bytes: u64,
    /// Transactions currently open.
    pub active_transactions: usize,
    /// Catalog versions retained for old snapshots.
    pub catalog_versions: usize,
    /// Row chains waiting for garbage collection.
    pub pending_gc: usize,
}

fn spawn_collector(shared: Weak<Shared>, interval: Duration) {
    let spawned = std::thread::Builder::new().name("memdb-gc".into()).spawn(move || {
        loop {
            std::thread::sleep(interval);
            let Some(shared) = shared.upgrade() else { return };
            gc::collect(&shared);
            shared.refresh_memory();
        }
    });
    if let Err(e) = spawned {
        // Without the thread, collection still happens on explicit calls.
        eprintln!("memdb: could not start the garbage collector thread: {e}");
    }
}
