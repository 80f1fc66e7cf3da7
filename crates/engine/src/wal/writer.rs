//! The log writer: [`WalLog`] buffers frames under the commit lock and one
//! thread writes and syncs them (group commit; see the module docs).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use super::frame::encode_frame;
use super::{KIND_COMMIT, segment_header, segment_name};
use crate::commitlog::{CommitLog, CommitRecord, LogPosition};
use crate::database::{BlockingHook, Clock};
use crate::error::{Error, Result};
use crate::mvcc::Timestamp;

/// When a commit is acknowledged relative to the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncMode {
    /// After its log record is written and synced (`fdatasync`); commits
    /// waiting at the same time share one sync.
    Sync,
    /// At once; the log is written and synced every `flush_interval`, which
    /// bounds what a crash can lose.
    Async {
        /// How often the writer flushes.
        flush_interval: Duration,
    },
}

/// How the writer works.
pub(crate) struct WalOptions {
    /// The `wal/` directory.
    pub dir: PathBuf,
    pub mode: SyncMode,
    /// A segment is closed once it is at least this long.
    pub segment_size: u64,
    /// Where closed segments are copied (point-in-time recovery).
    pub archive_dir: Option<PathBuf>,
    pub clock: Arc<dyn Clock>,
    /// Wraps the wait for durability (an async server's runtime hook).
    pub blocking: Option<BlockingHook>,
}

struct State {
    /// Frames appended but not yet taken by the writer.
    buffer: Vec<u8>,
    /// Timestamp of the last frame appended.
    appended: Timestamp,
    /// Set once a write or sync failed: the log accepts nothing more.
    failed: Option<String>,
    /// The writer is parked waiting for work (sync mode wakes it).
    writer_idle: bool,
    /// Someone waits in [`WalLog::flush`]: write now, whatever the mode.
    flush_requested: bool,
    stop: bool,
    started: bool,
}

struct Inner {
    options: WalOptions,
    state: Mutex<State>,
    wake_writer: Condvar,
    durable_changed: Condvar,
    /// Every commit at or below this timestamp is on disk.
    durable: AtomicU64,
    /// Bytes written since the log was opened.
    written: AtomicU64,
    /// Syncs of segment files since the log was opened.
    syncs: AtomicU64,
    /// First timestamp of the segment being written (never recycled).
    current_segment: AtomicU64,
}

/// The write-ahead log as the engine's [`CommitLog`].
pub(crate) struct WalLog {
    inner: Arc<Inner>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl WalLog {
    /// A log that accepts records once [`WalLog::start`] has run.
    pub fn new(options: WalOptions) -> WalLog {
        WalLog {
            inner: Arc::new(Inner {
                options,
                state: Mutex::new(State {
                    buffer: Vec::with_capacity(1 << 16),
                    appended: 0,
                    failed: None,
                    writer_idle: false,
                    flush_requested: false,
                    stop: false,
                    started: false,
                }),
                wake_writer: Condvar::new(),
                durable_changed: Condvar::new(),
                durable: AtomicU64::new(0),
                written: AtomicU64::new(0),
                syncs: AtomicU64::new(0),
                current_segment: AtomicU64::new(u64::MAX),
            }),
            threads: Mutex::new(Vec::new()),
        }
    }

    /// Opens a fresh segment for commits from `next_ts` on and starts the
    /// writer (and the archiver when an archive directory is set).
    pub fn start(&self, next_ts: Timestamp) -> Result<()> {
        let segment = open_segment(&self.inner, next_ts)?;
        prepare_next(&self.inner.options.dir, self.inner.options.segment_size);
        self.inner.current_segment.store(next_ts, Ordering::Release);
        {
            let mut state = self.inner.state.lock();
            state.appended = next_ts - 1;
            state.started = true;
        }
        self.inner.durable.store(next_ts - 1, Ordering::Release);
        let archiver = match &self.inner.options.archive_dir {
            Some(archive) => {
                std::fs::create_dir_all(archive)
                    .map_err(|e| Error::Io(format!("cannot create archive directory {}: {e}", archive.display())))?;
                let (tx, rx) = std::sync::mpsc::channel::<PathBuf>();
                let archive = archive.clone();
                let handle = spawn("memdb-wal-archive", move || {
                    for segment in rx {
                        if let Err(e) = archive_segment(&segment, &archive) {
                            tracing::error!("archiving {} failed: {e}", segment.display());
                        }
                    }
                })?;
                self.threads.lock().push(handle);
                Some(tx)
            }
            None => None,
        };
        let inner = self.inner.clone();
        let handle = spawn("memdb-wal", move || write_loop(&inner, segment, next_ts, archiver))?;
        self.threads.lock().push(handle);
        Ok(())
    }

    /// Writes and syncs everything appended so far, and waits for it.
    pub fn flush(&self) -> Result<()> {
        let mut state = self.inner.state.lock();
        let target = state.appended;
        while self.inner.durable.load(Ordering::Acquire) < target {
            if let Some(e) = &state.failed {
                return Err(Error::Io(e.clone()));
            }
            if !state.started || state.stop {
                break;
            }
            state.flush_requested = true;
            self.inner.wake_writer.notify_one();
            self.inner.durable_changed.wait_for(&mut state, Duration::from_millis(100));
        }
        Ok(())
    }

    /// Bytes written to the log since it was opened.
    pub fn bytes_written(&self) -> u64 {
        self.inner.written.load(Ordering::Relaxed)
    }

    /// Syncs of segment files since the log was opened: one per batch of
    /// commits written, one per new segment's header.
    pub fn syncs(&self) -> u64 {
        self.inner.syncs.load(Ordering::Relaxed)
    }

    /// Removes segments whose records are all at or below `upto` (never the
    /// one being written; with an archive, only segments already copied).
    pub fn recycle(&self, upto: Timestamp) -> Result<usize> {
        let segments = super::list_segments(&self.inner.options.dir)?;
        let current = self.inner.current_segment.load(Ordering::Acquire);
        let mut removed = 0;
        for pair in segments.windows(2) {
            let (segment, next) = (&pair[0], &pair[1]);
            if segment.first >= current || next.first.saturating_sub(1) > upto {
                break;
            }
            if let Some(archive) = &self.inner.options.archive_dir {
                let name = segment.path.file_name().unwrap_or_default();
                if !archive.join(name).exists() {
                    continue;
                }
            }
            std::fs::remove_file(&segment.path)
                .map_err(|e| Error::Io(format!("cannot remove {}: {e}", segment.path.display())))?;
            removed += 1;
        }
        Ok(removed)
    }

    /// Stops the writer after it flushed everything appended.
    pub fn shutdown(&self) {
        {
            let mut state = self.inner.state.lock();
            state.stop = true;
            self.inner.wake_writer.notify_all();
        }
        for handle in self.threads.lock().drain(..) {
            let _ = handle.join();
        }
    }
}

impl Drop for WalLog {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl CommitLog for WalLog {
    fn wants_records(&self) -> bool {
        true
    }

    fn append(&self, record: CommitRecord) -> Result<LogPosition> {
        let time = self.inner.options.clock.now_micros();
        let mut state = self.inner.state.lock();
        if let Some(e) = &state.failed {
            return Err(Error::Io(format!("the log is unusable after an earlier failure: {e}")));
        }
        if !state.started || state.stop {
            return Err(Error::Io("the log is not accepting commits (starting or shutting down)".into()));
        }
        encode_frame(&mut state.buffer, KIND_COMMIT, |out| {
            out.extend_from_slice(&record.ts.to_le_bytes());
            out.extend_from_slice(&time.to_le_bytes());
            // Written in place: on failure `encode_frame` cuts the buffer
            // back, keeping the frames before this one.
            postcard::to_io(&record, &mut *out)
                .map(|_| ())
                .map_err(|e| Error::Internal(format!("encoding commit record: {e}")))
        })?;
        state.appended = record.ts;
        if state.writer_idle && self.inner.options.mode == SyncMode::Sync {
            state.writer_idle = false;
            self.inner.wake_writer.notify_one();
        }
        Ok(record.ts)
    }

    fn wait_durable(&self, position: LogPosition) -> Result<()> {
        if self.inner.durable.load(Ordering::Acquire) >= position {
            return Ok(());
        }
        if let SyncMode::Async { .. } = self.inner.options.mode {
            return match &self.inner.state.lock().failed {
                Some(e) => Err(Error::Io(e.clone())),
                None => Ok(()),
            };
        }
        let mut outcome = Ok(());
        let mut wait = || outcome = self.wait_for(position);
        match self.inner.options.blocking {
            Some(hook) => hook(&mut wait),
            None => wait(),
        }
        outcome
    }
}

impl WalLog {
    fn wait_for(&self, position: LogPosition) -> Result<()> {
        let mut state = self.inner.state.lock();
        while self.inner.durable.load(Ordering::Acquire) < position {
            if let Some(e) = &state.failed {
                return Err(Error::Io(e.clone()));
            }
            self.inner.durable_changed.wait(&mut state);
        }
        Ok(())
    }
}

/// The segment being written.
struct OpenSegment {
    file: File,
    path: PathBuf,
    len: u64,
}

/// Name of the zero-filled file the preparer keeps ready for the next
/// segment (never matched as a segment: no `.wal` suffix).
const PREPARED: &str = "next-segment.zeroed";

/// Creates the segment for commits from `first` on: the prepared
/// zero-filled file renamed into place when there is one (else one is
/// zero-filled now), header written, file (counted) and directory synced.
/// Because the file already has its full size and its blocks, the writer's
/// `fdatasync`s change no metadata and need no journal commit — they do not
/// wait behind other files' writeback (a checkpoint's, for one).
fn open_segment(inner: &Inner, first: Timestamp) -> Result<OpenSegment> {
    let (dir, size) = (&inner.options.dir, inner.options.segment_size);
    let path = dir.join(segment_name(first));
    let io = |e: std::io::Error| Error::Io(format!("cannot create log segment {}: {e}", path.display()));
    let prepared = dir.join(PREPARED);
    let ready = std::fs::metadata(&prepared).is_ok_and(|m| m.len() >= size);
    if !ready || std::fs::rename(&prepared, &path).is_err() {
        zero_filled(&path, size).map_err(io)?;
    }
    let mut file = OpenOptions::new().write(true).open(&path).map_err(io)?;
    let header = segment_header(first);
    file.write_all(&header).map_err(io)?;
    file.sync_all().map_err(io)?;
    inner.syncs.fetch_add(1, Ordering::Relaxed);
    sync_dir(dir)?;
    Ok(OpenSegment { file, path, len: header.len() as u64 })
}

/// Writes a file of `size` zero bytes and syncs it.
fn zero_filled(path: &Path, size: u64) -> std::io::Result<()> {
    let mut file = OpenOptions::new().create(true).write(true).truncate(true).open(path)?;
    let zeros = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = left.min(zeros.len() as u64) as usize;
        file.write_all(&zeros[..n])?;
        left -= n as u64;
    }
    file.sync_all()
}

/// Prepares the next segment's file in the background (zero-filled under a
/// temporary name, then renamed), so a roll only renames.
fn prepare_next(dir: &Path, size: u64) {
    let dir = dir.to_owned();
    let spawned = std::thread::Builder::new().name("memdb-wal-prepare".into()).spawn(move || {
        let temp = dir.join(format!("{PREPARED}.tmp"));
        let outcome = zero_filled(&temp, size)
            .and_then(|()| std::fs::rename(&temp, dir.join(PREPARED)))
            .map_err(|e| e.to_string())
            .and_then(|()| sync_dir(&dir).map_err(|e| e.to_string()));
        if let Err(e) = outcome {
            tracing::warn!("could not prepare the next log segment in {}: {e}", dir.display());
        }
    });
    if let Err(e) = spawned {
        tracing::warn!("could not start preparing the next log segment: {e}");
    }
}

/// Makes a directory's entries (created, renamed, removed files) durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::Io(format!("cannot sync directory {}: {e}", dir.display())))
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .map_err(|e| Error::Io(format!("cannot start thread {name}: {e}")))
}

/// The writer thread: take the buffer, write it, sync, publish, repeat.
fn write_loop(
    inner: &Inner,
    mut segment: OpenSegment,
    mut next_ts: Timestamp,
    archiver: Option<std::sync::mpsc::Sender<PathBuf>>,
) {
    let mut spare: Vec<u8> = Vec::with_capacity(1 << 16);
    loop {
        let (batch, last, stop) = {
            let mut state = inner.state.lock();
            match inner.options.mode {
                SyncMode::Sync => {
                    while state.buffer.is_empty() && !state.stop && !state.flush_requested {
                        state.writer_idle = true;
                        inner.wake_writer.wait(&mut state);
                    }
                }
                SyncMode::Async { flush_interval } => {
                    if !state.stop && !state.flush_requested {
                        inner.wake_writer.wait_for(&mut state, flush_interval);
                    }
                }
            }
            state.writer_idle = false;
            state.flush_requested = false;
            let batch = std::mem::replace(&mut state.buffer, std::mem::take(&mut spare));
            (batch, state.appended, state.stop)
        };
        if !batch.is_empty() {
            let written = segment.file.write_all(&batch).and_then(|()| segment.file.sync_data());
            if let Err(e) = written {
                let message = format!("writing {} failed: {e}", segment.path.display());
                tracing::error!("{message}; no further commits are accepted");
                inner.state.lock().failed = Some(message);
                inner.durable_changed.notify_all();
                return;
            }
            segment.len += batch.len() as u64;
            inner.written.fetch_add(batch.len() as u64, Ordering::Relaxed);
            inner.syncs.fetch_add(1, Ordering::Relaxed);
            next_ts = last + 1;
        }
        if inner.durable.load(Ordering::Acquire) < last {
            let _guard = inner.state.lock();
            inner.durable.store(last, Ordering::Release);
            inner.durable_changed.notify_all();
        }
        spare = batch;
        spare.clear();
        if stop {
            return;
        }
        if segment.len >= inner.options.segment_size {
            match open_segment(inner, next_ts) {
                Ok(fresh) => {
                    prepare_next(&inner.options.dir, inner.options.segment_size);
                    inner.current_segment.store(next_ts, Ordering::Release);
                    let closed = std::mem::replace(&mut segment, fresh);
                    if let Some(archiver) = &archiver {
                        let _ = archiver.send(closed.path.clone());
                    }
                }
                Err(e) => {
                    // Keep writing the current segment; try again later.
                    tracing::warn!("could not start a new log segment: {e}");
                }
            }
        }
    }
}

/// Copies a closed segment into the archive: temp file, sync, rename,
/// sync directory, so the archive never holds half a segment.
fn archive_segment(segment: &Path, archive: &Path) -> Result<()> {
    let name = segment.file_name().ok_or_else(|| Error::Io(format!("bad segment path {}", segment.display())))?;
    let target = archive.join(name);
    let temp = archive.join(format!("{}.tmp", name.to_string_lossy()));
    let io = |e: std::io::Error| Error::Io(format!("archiving {}: {e}", segment.display()));
    std::fs::copy(segment, &temp).map_err(io)?;
    File::open(&temp).and_then(|f| f.sync_all()).map_err(io)?;
    std::fs::rename(&temp, &target).map_err(io)?;
    sync_dir(archive)
}
