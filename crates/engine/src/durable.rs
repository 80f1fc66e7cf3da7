//! A database on disk: opening a data directory (recovery), the background
//! checkpointer, on-demand checkpoints, backups and point-in-time restore.
//!
//! ```text
//!   DATA_DIR/
//!     LOCK                         held (flock) while a process has it open
//!     checkpoints/<ts>.ckpt        the newest two checkpoints (crate::checkpoint)
//!     wal/<first ts>.wal           log segments after the older one (crate::wal)
//! ```
//!
//! Opening runs recovery before anything else can touch the database:
//! 1. load the newest checkpoint that is valid (an unfinished or damaged
//!    one is skipped with a warning, falling back to the one before);
//! 2. replay every log record after its timestamp, in order; a torn tail
//!    is truncated, corruption in the middle stops start-up (module docs of
//!    [`crate::wal`]), unless [`Durability::recover_until_corruption`];
//! 3. start a fresh segment and the writer; only then is the handle
//!    returned, so a server reports ready after recovery.
//!
//! A checkpoint (periodic, after `checkpoint_wal_bytes` of log, or
//! [`crate::Database::checkpoint`]) first flushes the log, so the log always
//! holds every commit after the older retained checkpoint; it then writes
//! the snapshot, keeps two checkpoints and recycles segments.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use serde::{Deserialize, Serialize};

use crate::checkpoint::{self, CheckpointInfo};
use crate::database::{Config, Database, EngineMetrics, Shared};
use crate::error::{Error, Result};
use crate::mvcc::Timestamp;
use crate::progress::{ProgressHandle, ProgressUnit};
use crate::wal::{self, SegmentFile, SyncMode, WalLog, WalOptions};

/// Where and how a database keeps its data on disk.
#[derive(Clone, Debug)]
pub struct Durability {
    /// The data directory (created if missing).
    pub dir: PathBuf,
    /// When commits are acknowledged.
    pub mode: SyncMode,
    /// Time between background checkpoints (`None`: only by log volume
    /// and on demand).
    pub checkpoint_interval: Option<Duration>,
    /// A checkpoint starts once this many bytes of log were written since
    /// the last one.
    pub checkpoint_wal_bytes: u64,
    /// Compress checkpoints with lz4.
    pub compress_checkpoints: bool,
    /// Bytes per second background checkpoints write at most (`None`: as
    /// fast as the disk goes). On-demand checkpoints are not paced.
    pub checkpoint_rate: Option<u64>,
    /// Log segments are closed at about this size.
    pub segment_size: u64,
    /// Closed segments are copied here (point-in-time recovery).
    pub archive_dir: Option<PathBuf>,
    /// On corruption in the middle of the log, recover what precedes it
    /// (moving the rest aside) instead of refusing to start.
    pub recover_until_corruption: bool,
    /// Where recovery reports how far it has got (loading the checkpoint,
    /// building indexes, replaying the log), for a progress bar.
    pub progress: ProgressHandle,
}

impl Durability {
    /// Defaults for `dir`: sync commits, a checkpoint every 5 minutes or
    /// 256 MiB of log, written at most at 64 MiB/s, uncompressed, 16 MiB
    /// segments.
    pub fn new(dir: impl Into<PathBuf>, mode: SyncMode) -> Durability {
        Durability {
            dir: dir.into(),
            mode,
            checkpoint_interval: Some(Duration::from_secs(300)),
            checkpoint_wal_bytes: 256 << 20,
            compress_checkpoints: false,
            checkpoint_rate: Some(32 << 20),
            segment_size: 16 << 20,
            archive_dir: None,
            recover_until_corruption: false,
            progress: ProgressHandle::none(),
        }
    }
}

/// What recovery found, for logs and monitoring.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// The checkpoint loaded (`None`: started from an empty database).
    pub checkpoint: Option<Timestamp>,
    /// Rows loaded from it.
    pub checkpoint_rows: u64,
    /// Log records replayed after it.
    pub replayed: u64,
    /// Bytes of log read.
    pub log_bytes: u64,
    /// The newest commit after recovery.
    pub last_commit: Timestamp,
    /// A torn tail that was cut off: file and offset.
    pub truncated: Option<(PathBuf, u64)>,
    /// How long recovery took.
    pub elapsed: Duration,
}

/// The on-disk side of an open database.
pub(crate) struct DurableState {
    options: Durability,
    wal: Arc<WalLog>,
    /// Serializes checkpoints (background and on demand).
    checkpointing: Mutex<()>,
    /// Log bytes written when the last checkpoint started.
    wal_bytes_at_checkpoint: Mutex<u64>,
    /// Checkpoints completed, their summed and their last duration (µs).
    checkpoints: AtomicU64,
    checkpoint_micros_total: AtomicU64,
    last_checkpoint_micros: AtomicU64,
    /// Tells the checkpointer to stop (shared with it, so waiting for the
    /// next round does not keep this state alive).
    stop: Arc<(Mutex<bool>, Condvar)>,
    pub report: RecoveryReport,
    _lock: File,
}

impl DurableState {
    /// Whether checkpoints (and backups) are compressed.
    pub fn compress_checkpoints(&self) -> bool {
        self.options.compress_checkpoints
    }

    fn checkpoint_dir(&self) -> PathBuf {
        self.options.dir.join("checkpoints")
    }
}

impl Drop for DurableState {
    fn drop(&mut self) {
        *self.stop.0.lock() = true;
        self.stop.1.notify_all();
    }
}

/// Opens (recovering) the database in `options.dir`.
pub(crate) fn open(mut config: Config, options: Durability) -> Result<Database> {
    let started = Instant::now();
    let dir = &options.dir;
    let io = |what: &str, e: std::io::Error| Error::Io(format!("{what} {}: {e}", dir.display()));
    std::fs::create_dir_all(dir.join("wal")).map_err(|e| io("cannot create", e))?;
    std::fs::create_dir_all(dir.join("checkpoints")).map_err(|e| io("cannot create", e))?;
    let lock = File::create(dir.join("LOCK")).map_err(|e| io("cannot create the lock file in", e))?;
    // A database of this process that was just dropped lets go of the lock
    // when its checkpoint thread finishes its round, a moment later: wait
    // up to a second before calling the directory taken.
    let mut attempts = 0;
    while lock.try_lock().is_err() {
        attempts += 1;
        if attempts > 100 {
            return Err(Error::Io(format!("{} is in use by another memdb process", dir.display())));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let wal = Arc::new(WalLog::new(WalOptions {
        dir: dir.join("wal"),
        mode: options.mode,
        segment_size: options.segment_size,
        archive_dir: options.archive_dir.clone(),
        clock: config.clock.clone(),
        blocking: config.blocking,
    }));
    config.commit_log = wal.clone();
    config.durability = None;
    let db = Database::open(config)?;
    let mut report = recover(&db, dir, options.recover_until_corruption, &options.progress)?;
    checkpoint::reclaim_holes(&db.shared);
    wal.start(db.last_commit() + 1)?;
    report.elapsed = started.elapsed();
    tracing::info!(
        "recovered {} in {:.2} s: checkpoint {:?} ({} rows), {} log records replayed ({} bytes), last commit {}",
        dir.display(),
        report.elapsed.as_secs_f64(),
        report.checkpoint,
        report.checkpoint_rows,
        report.replayed,
        report.log_bytes,
        report.last_commit
    );
    let state = Arc::new(DurableState {
        options,
        wal,
        checkpointing: Mutex::new(()),
        wal_bytes_at_checkpoint: Mutex::new(0),
        checkpoints: AtomicU64::new(0),
        checkpoint_micros_total: AtomicU64::new(0),
        last_checkpoint_micros: AtomicU64::new(0),
        stop: Arc::new((Mutex::new(false), Condvar::new())),
        report,
        _lock: lock,
    });
    if db.shared.durable.set(state.clone()).is_err() {
        return Err(Error::Internal("durable state set twice".into()));
    }
    spawn_checkpointer(Arc::downgrade(&db.shared), &state)?;
    Ok(db)
}

/// Steps 1 and 2 of the module docs.
fn recover(db: &Database, dir: &Path, until_corruption: bool, progress: &ProgressHandle) -> Result<RecoveryReport> {
    let mut report = RecoveryReport::default();
    for (ts, path) in checkpoint::list(&dir.join("checkpoints"))? {
        match checkpoint::load(&db.shared, &path, progress) {
            Ok(info) => {
                report.checkpoint = Some(ts);
                report.checkpoint_rows = info.rows;
                break;
            }
            Err(e) => tracing::warn!("skipping checkpoint {}: {e}", path.display()),
        }
    }
    let wal_dir = dir.join("wal");
    let segments = wal::list_segments(&wal_dir)?;
    let outcome = replay(db, &segments, None, &mut report, progress)?;
    if let Some(damage) = outcome {
        let is_last = damage.segment + 1 == segments.len();
        let segment = &segments[damage.segment];
        if is_last && !damage.valid_after {
            tracing::warn!(
                "log {} ends in a torn write at offset {} ({}); truncating it there",
                segment.path.display(),
                damage.offset,
                damage.why
            );
            truncate(&segment.path, damage.offset)?;
            report.truncated = Some((segment.path.clone(), damage.offset));
        } else if until_corruption {
            tracing::warn!(
                "log {} is corrupt at offset {} ({}); recovering up to there and moving the rest to {}",
                segment.path.display(),
                damage.offset,
                damage.why,
                wal_dir.join("corrupt-*").display()
            );
            set_aside(&segments[damage.segment..], damage.offset)?;
            report.truncated = Some((segment.path.clone(), damage.offset));
        } else {
            return Err(Error::CorruptRecord(format!(
                "the log is corrupt in {} at offset {} ({}), and later commits follow it; refusing to start. \
                 Start with --recover-until-corruption to recover the commits before that point \
                 (the rest is kept aside in {})",
                segment.path.display(),
                damage.offset,
                damage.why,
                wal_dir.display()
            )));
        }
    }
    report.last_commit = db.last_commit();
    Ok(report)
}

/// Where replay stopped on damage.
struct Damage {
    segment: usize,
    offset: u64,
    why: String,
    valid_after: bool,
}

/// Where point-in-time recovery stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestoreTarget {
    /// Everything the log holds.
    Latest,
    /// Commits up to and including this commit timestamp (log position).
    Position(Timestamp),
    /// Commits made at or before this wall-clock time (µs since 2000-01-01).
    Time(i64),
}

/// Replay reports progress after about this many bytes of log.
const PROGRESS_BYTES: u64 = 64 << 10;

/// Applies log records after the database's last commit, in order, up to
/// `target`. Returns damage found (the segment index and offset) without
/// acting on it.
fn replay(
    db: &Database,
    segments: &[SegmentFile],
    target: Option<RestoreTarget>,
    report: &mut RecoveryReport,
    progress: &ProgressHandle,
) -> Result<Option<Damage>> {
    let mut last_progress = Instant::now();
    let mut reached_target = false;
    // Segments wholly covered by the checkpoint are skipped.
    let covered = |i: usize| segments.get(i + 1).is_some_and(|next| next.first.saturating_sub(1) <= db.last_commit());
    let file_len = |s: &SegmentFile| std::fs::metadata(&s.path).map_or(0, |m| m.len());
    // Each segment's length is read once: for the total, then for progress.
    let to_read: Vec<(usize, u64)> =
        (0..segments.len()).filter(|&i| !covered(i)).map(|i| (i, file_len(&segments[i]))).collect();
    let total: u64 = to_read.iter().map(|&(_, len)| len).sum();
    progress.phase("replaying the log", total, ProgressUnit::Bytes);
    let mut read_before = 0u64;
    for (i, segment_len) in to_read {
        let segment = &segments[i];
        if covered(i) {
            // Covered by what the segments before it replayed.
            read_before += segment_len;
            continue;
        }
        let after = db.last_commit();
        let mut reported = 0u64;
        let scan = wal::scan_segment(&segment.path, after, |entry| {
            if reached_target {
                return Ok(());
            }
            let within = match target {
                None | Some(RestoreTarget::Latest) => true,
                Some(RestoreTarget::Position(ts)) => entry.record.ts <= ts,
                Some(RestoreTarget::Time(t)) => entry.time <= t,
            };
            if !within {
                reached_target = true;
                return Ok(());
            }
            let expected = db.last_commit() + 1;
            if entry.record.ts != expected {
                return Err(Error::CorruptRecord(format!(
                    "{}: the log jumps from commit {} to {} (a segment is missing)",
                    segment.path.display(),
                    expected - 1,
                    entry.record.ts
                )));
            }
            db.apply(&entry.record)?;
            report.replayed += 1;
            if entry.end >= reported + PROGRESS_BYTES {
                reported = entry.end;
                progress.advance((read_before + entry.end.min(segment_len)).min(total));
            }
            if last_progress.elapsed() >= Duration::from_secs(2) {
                last_progress = Instant::now();
                tracing::info!("recovery: replayed {} log records, at commit {}", report.replayed, entry.record.ts);
            }
            Ok(())
        })?;
        report.log_bytes += scan.valid_len;
        read_before += segment_len;
        progress.advance(read_before.min(total));
        if reached_target {
            return Ok(None);
        }
        if let Some((why, valid_after)) = scan.damage {
            return Ok(Some(Damage { segment: i, offset: scan.valid_len, why: why.to_owned(), valid_after }));
        }
    }
    Ok(None)
}

/// Cuts a segment at `len` (a segment without a whole header is removed).
fn truncate(path: &Path, len: u64) -> Result<()> {
    let io = |e: std::io::Error| Error::Io(format!("cannot truncate {}: {e}", path.display()));
    if len < wal::SEGMENT_HEADER as u64 {
        std::fs::remove_file(path).map_err(io)?;
    } else {
        let file = std::fs::OpenOptions::new().write(true).open(path).map_err(io)?;
        file.set_len(len).map_err(io)?;
        file.sync_all().map_err(io)?;
    }
    if let Some(dir) = path.parent() {
        wal::sync_dir(dir)?;
    }
    Ok(())
}

/// Keeps a corrupt log out of the way: the damaged segment's copy and every
/// later segment move to `corrupt-<name>`, and the damaged one is cut.
fn set_aside(segments: &[SegmentFile], offset: u64) -> Result<()> {
    for (i, segment) in segments.iter().enumerate() {
        let name = segment.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let aside = segment.path.with_file_name(format!("corrupt-{name}"));
        let io = |e: std::io::Error| Error::Io(format!("cannot move {} aside: {e}", segment.path.display()));
        if i == 0 {
            std::fs::copy(&segment.path, &aside).map_err(io)?;
            truncate(&segment.path, offset)?;
        } else {
            std::fs::rename(&segment.path, &aside).map_err(io)?;
        }
    }
    if let Some(dir) = segments.first().and_then(|s| s.path.parent()) {
        wal::sync_dir(dir)?;
    }
    Ok(())
}

/// Runs one checkpoint of an open durable database; counts it, timed from
/// the log flush to the recycling, once it succeeds.
pub(crate) fn checkpoint(shared: &Arc<Shared>, state: &DurableState, paced: bool) -> Result<CheckpointInfo> {
    let _one = state.checkpointing.lock();
    let started = Instant::now();
    *state.wal_bytes_at_checkpoint.lock() = state.wal.bytes_written();
    state.wal.flush()?;
    let dir = state.checkpoint_dir();
    let rate = if paced { state.options.checkpoint_rate } else { None };
    let info = checkpoint::write(shared, &dir, state.options.compress_checkpoints, rate, &ProgressHandle::none())?;
    let existing = checkpoint::list(&dir)?;
    for (_, path) in existing.iter().skip(2) {
        if let Err(e) = std::fs::remove_file(path) {
            tracing::warn!("could not remove old checkpoint {}: {e}", path.display());
        }
    }
    let keep_after = existing.get(1).map_or(info.ts, |(ts, _)| *ts);
    let removed = state.wal.recycle(keep_after)?;
    let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    state.checkpoints.fetch_add(1, Ordering::Relaxed);
    state.checkpoint_micros_total.fetch_add(micros, Ordering::Relaxed);
    state.last_checkpoint_micros.store(micros, Ordering::Relaxed);
    tracing::info!(
        "checkpoint at commit {}: {} rows, {} bytes; {removed} log segments recycled",
        info.ts,
        info.rows,
        info.bytes
    );
    Ok(info)
}

fn spawn_checkpointer(shared: Weak<Shared>, state: &Arc<DurableState>) -> Result<()> {
    let interval = state.options.checkpoint_interval;
    let wal_bytes = state.options.checkpoint_wal_bytes;
    let weak_state = Arc::downgrade(state);
    let signal = state.stop.clone();
    let spawned = std::thread::Builder::new().name("memdb-checkpoint".into()).spawn(move || {
        let mut last = Instant::now();
        loop {
            {
                let (stop, wake) = &*signal;
                let mut stop = stop.lock();
                if *stop {
                    return;
                }
                wake.wait_for(&mut stop, Duration::from_millis(200));
                if *stop {
                    return;
                }
            }
            let (Some(shared), Some(state)) = (shared.upgrade(), weak_state.upgrade()) else { return };
            let by_time = interval.is_some_and(|i| last.elapsed() >= i);
            let by_volume =
                state.wal.bytes_written().saturating_sub(*state.wal_bytes_at_checkpoint.lock()) >= wal_bytes;
            if by_time || by_volume {
                last = Instant::now();
                if let Err(e) = checkpoint(&shared, &state, true) {
                    tracing::error!("background checkpoint failed: {e}");
                }
            }
        }
    });
    spawned.map(|_| ()).map_err(|e| Error::Io(format!("cannot start the checkpoint thread: {e}")))
}

/// What a backup holds (`backup.json` beside the checkpoint file).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupInfo {
    /// The commit timestamp the backup is consistent at.
    pub ts: Timestamp,
    /// Its wall-clock time, µs since 2000-01-01.
    pub time: i64,
    /// Rows in it.
    pub rows: u64,
    /// Size of the checkpoint file.
    pub bytes: u64,
}

/// Writes an online backup of `shared` into `dir` (created; must be empty).
pub(crate) fn backup(
    shared: &Arc<Shared>,
    dir: &Path,
    compress: bool,
    progress: &ProgressHandle,
) -> Result<BackupInfo> {
    let io = |e: std::io::Error| Error::Io(format!("backup directory {}: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(io)?;
    if std::fs::read_dir(dir).map_err(io)?.next().is_some() {
        return Err(Error::Io(format!("backup directory {} is not empty", dir.display())));
    }
    let info = checkpoint::write(shared, dir, compress, None, progress)?;
    let backup = BackupInfo { ts: info.ts, time: info.time, rows: info.rows, bytes: info.bytes };
    let manifest = serde_json::to_vec_pretty(&backup).map_err(|e| Error::Internal(e.to_string()))?;
    std::fs::write(dir.join("backup.json"), manifest).map_err(io)?;
    wal::sync_dir(dir)?;
    Ok(backup)
}

/// What [`restore`] produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestoreReport {
    /// The backup's timestamp.
    pub backup_ts: Timestamp,
    /// Log records applied on top of it.
    pub replayed: u64,
    /// The newest commit of the restored database.
    pub last_commit: Timestamp,
}

/// Restores the backup in `backup_dir` into the empty data directory
/// `data_dir`, replaying archived log segments found in `wal_dirs` up to
/// `target` (point-in-time recovery).
pub fn restore(
    backup_dir: &Path,
    data_dir: &Path,
    wal_dirs: &[PathBuf],
    target: RestoreTarget,
) -> Result<RestoreReport> {
    restore_with_progress(backup_dir, data_dir, wal_dirs, target, &ProgressHandle::none())
}

/// [`restore`], reporting each phase (loading the backup, building
/// indexes, replaying the log, writing the new checkpoint) to `progress`.
pub fn restore_with_progress(
    backup_dir: &Path,
    data_dir: &Path,
    wal_dirs: &[PathBuf],
    target: RestoreTarget,
    progress: &ProgressHandle,
) -> Result<RestoreReport> {
    let (_, ckpt) = checkpoint::list(backup_dir)?
        .into_iter()
        .next()
        .ok_or_else(|| Error::Io(format!("{} holds no backup (no .ckpt file)", backup_dir.display())))?;
    for sub in ["checkpoints", "wal"] {
        let d = data_dir.join(sub);
        if std::fs::read_dir(&d).is_ok_and(|mut entries| entries.next().is_some()) {
            return Err(Error::Io(format!("{} is not empty; restore needs a fresh data directory", d.display())));
        }
    }
    let db = Database::open(Config::memory().with_gc_interval(None))?;
    let loaded = checkpoint::load(&db.shared, &ckpt, progress)?;
    // Segments from every source, one per start timestamp (the longest copy).
    let mut segments: Vec<SegmentFile> = Vec::new();
    for dir in wal_dirs {
        for segment in wal::list_segments(dir)? {
            let len = |s: &SegmentFile| std::fs::metadata(&s.path).map_or(0, |m| m.len());
            match segments.iter_mut().find(|s| s.first == segment.first) {
                Some(existing) if len(existing) >= len(&segment) => {}
                Some(existing) => *existing = segment,
                None => segments.push(segment),
            }
        }
    }
    segments.sort_by_key(|s| s.first);
    let mut report = RecoveryReport::default();
    if let Some(damage) = replay(&db, &segments, Some(target), &mut report, progress)? {
        tracing::warn!(
            "restore stopped at damage in {} at offset {} ({})",
            segments[damage.segment].path.display(),
            damage.offset,
            damage.why
        );
    }
    let io = |e: std::io::Error| Error::Io(format!("cannot create {}: {e}", data_dir.display()));
    std::fs::create_dir_all(data_dir.join("wal")).map_err(io)?;
    std::fs::create_dir_all(data_dir.join("checkpoints")).map_err(io)?;
    checkpoint::write(&db.shared, &data_dir.join("checkpoints"), false, None, progress)?;
    Ok(RestoreReport { backup_ts: loaded.ts, replayed: report.replayed, last_commit: db.last_commit() })
}

/// The durable side of `shared`, if it has one.
pub(crate) fn state_of(shared: &Shared) -> Option<&Arc<DurableState>> {
    shared.durable.get()
}

/// The log of an open durable database (flush on shutdown).
pub(crate) fn flush(state: &DurableState) -> Result<()> {
    state.wal.flush()
}

/// Fills the log and checkpoint counters of `metrics`.
pub(crate) fn fill_metrics(state: &DurableState, metrics: &mut EngineMetrics) {
    metrics.wal_bytes = state.wal.bytes_written();
    metrics.wal_fsyncs = state.wal.syncs();
    metrics.checkpoints = state.checkpoints.load(Ordering::Relaxed);
    metrics.checkpoint_micros_total = state.checkpoint_micros_total.load(Ordering::Relaxed);
    metrics.last_checkpoint_micros = state.last_checkpoint_micros.load(Ordering::Relaxed);
}

/// The recovery report of an open durable database.
pub(crate) fn report(state: &DurableState) -> RecoveryReport {
    state.report.clone()
}
