//! Checkpoints: the whole database as one MVCC snapshot, in one file.
//!
//! A checkpoint is written from a read-only snapshot at timestamp `C`
//! while writers go on (they only make the snapshot's old versions live a
//! little longer). It records the catalog as of `C` (table definitions with
//! their ids, sequences with their positions, the id counters) and every row
//! visible at `C` *with its row id*, so that log records after `C`, which
//! name row ids, replay on top of it exactly.
//!
//! ```text
//!   file = header · catalog frame · security frame? · rows frame* · end frame
//!
//!   header (32 bytes)
//!   +------------+---------+--------+--------+--------+---------+
//!   | "MEMDBCKP" | version | flags  | ts (C) | crc32c | padding |
//!   |  8 bytes   | u32 LE  | u32 LE | u64 LE | u32 LE |  4      |
//!   +------------+---------+--------+--------+--------+---------+
//!   flags bit 0: frame bodies are lz4-compressed (size-prefixed block)
//!
//!   frames use the log's framing (crate::wal): len · crc32c · version · kind · body
//!   kind 1 catalog: postcard(CheckpointCatalog)
//!   kind 2 rows:    table u32 LE · count u32 LE · (row id u64 LE · len u32 LE · row bytes)*
//!   kind 3 end:     postcard(CheckpointEnd) — counts that must match what was read
//!   kind 4 keys:    postcard(Vec<CheckpointKey>) — key-value entries (version 2)
//!   kind 5 security: postcard(Security) — roles, grants, API keys (version 3;
//!                   absent when there are none)
//! ```
//!
//! Version 1 files (before the keyspace) have no keys frames and no key
//! count in the end frame; they still load.
//!
//! A checkpoint is *valid* only if every frame checks out and the end frame
//! is present and agrees; a crash while writing leaves a `.tmp` file that is
//! ignored. Installation is atomic: write `NAME.tmp`, fsync it, rename it to
//! `NAME.ckpt`, fsync the directory. Rows are loaded straight into fresh
//! storage; indexes are built afterwards, in parallel.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::catalog::{Catalog, CatalogHistory, SequenceEntry, TableEntry};
use crate::database::Shared;
use crate::error::{Error, Result};
use crate::mvcc::{Guard, TXN_BIT, Timestamp, Version, VersionRef};
use crate::progress::{ProgressHandle, ProgressUnit};
use crate::schema::{IndexId, TableId, TableSchema};
use crate::sequence::{SequenceId, SequencePosition, SequenceSchema, SequenceState};
use crate::storage::index::IndexStorage;
use crate::storage::table::TableStorage;
use crate::txn::TxnOptions;
use crate::wal::{FrameRead, encode_frame, read_frame};

const MAGIC: &[u8; 8] = b"MEMDBCKP";
const VERSION: u32 = 3;
const HEADER: usize = 32;
const FLAG_LZ4: u32 = 1;
const KIND_CATALOG: u8 = 1;
const KIND_ROWS: u8 = 2;
const KIND_END: u8 = 3;
const KIND_KEYS: u8 = 4;
const KIND_SECURITY: u8 = 5;
/// Rows frames are cut at about this many bytes; each is written back to
/// disk on its own (`SYNC_EVERY`): small enough that a commit's log write
/// never queues behind much checkpoint data (1 MiB chunks: p99 commit
/// latency 2.0–2.4× during a checkpoint; 64 KiB: 1.45–1.8×).
const ROWS_FRAME_BYTES: usize = 64 << 10;
/// The checkpoint file is written back after about this many bytes.
const SYNC_EVERY: usize = 64 << 10;

#[derive(Serialize, Deserialize)]
struct CheckpointCatalog {
    tables: Vec<TableSchema>,
    sequences: Vec<(SequenceSchema, SequencePosition)>,
    next_table_id: TableId,
    next_index_id: IndexId,
    next_sequence_id: SequenceId,
}

#[derive(Serialize, Deserialize)]
struct CheckpointEnd {
    ts: Timestamp,
    /// Wall-clock time of the snapshot (µs since 2000-01-01).
    time: i64,
    rows: u64,
    row_frames: u64,
    keys: u64,
}

/// The end frame of a version 1 file.
#[derive(Serialize, Deserialize)]
struct CheckpointEndV1 {
    ts: Timestamp,
    time: i64,
    rows: u64,
    row_frames: u64,
}

/// One key-value entry as the snapshot sees it.
#[derive(Serialize, Deserialize)]
struct CheckpointKey {
    key: serde_bytes::ByteBuf,
    value: CheckpointValue,
    created_at: u64,
    updated_at: u64,
    expires_at: u64,
}

#[derive(Serialize, Deserialize)]
enum CheckpointValue {
    String(serde_bytes::ByteBuf),
    List(Vec<serde_bytes::ByteBuf>),
}

/// What a written or loaded checkpoint holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointInfo {
    /// The snapshot's commit timestamp: the checkpoint holds every commit
    /// up to and including it.
    pub ts: Timestamp,
    /// Wall-clock time of the snapshot, µs since 2000-01-01.
    pub time: i64,
    /// Rows written or loaded.
    pub rows: u64,
    /// Size of the file in bytes.
    pub bytes: u64,
    /// Where the file is.
    pub path: PathBuf,
}

/// The file name of the checkpoint at `ts`.
pub(crate) fn file_name(ts: Timestamp) -> String {
    format!("{ts:020}.ckpt")
}

/// Checkpoint files in `dir`, newest first (a missing directory has none).
pub(crate) fn list(dir: &Path) -> Result<Vec<(Timestamp, PathBuf)>> {
    let mut found = crate::wal::numbered_files(dir, ".ckpt")?;
    found.reverse();
    Ok(found)
}

/// Writes a checkpoint of `shared`'s current state into `dir` and installs
/// it atomically. Runs alongside readers and writers.
/// `rate` (bytes per second) paces the writing, so a background checkpoint
/// takes a share of the disk instead of all of it.
pub(crate) fn write(
    shared: &Arc<Shared>,
    dir: &Path,
    compress: bool,
    rate: Option<u64>,
    progress: &ProgressHandle,
) -> Result<CheckpointInfo> {
    // On a thread of its own at low CPU priority: a checkpoint is a long,
    // CPU-heavy scan, and commits must not wait behind it for a core.
    std::thread::scope(|scope| {
        let worker = std::thread::Builder::new().name("memdb-checkpoint-write".into()).spawn_scoped(scope, || {
            lower_priority();
            write_snapshot(shared, dir, compress, rate, progress)
        });
        match worker {
            Ok(handle) => handle.join().map_err(|_| Error::Internal("the checkpoint thread panicked".into()))?,
            Err(e) => Err(Error::Io(format!("cannot start the checkpoint thread: {e}"))),
        }
    })
}

/// Starts and waits for the write-back of `len` bytes at `offset`, without
/// the device cache flush an `fdatasync` sends (the final sync does that
/// once), so commits' log syncs never queue behind it.
fn write_back(file: &File, offset: u64, len: u64) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let flags = libc::SYNC_FILE_RANGE_WAIT_BEFORE | libc::SYNC_FILE_RANGE_WRITE | libc::SYNC_FILE_RANGE_WAIT_AFTER;
        // SAFETY: a system call on an open descriptor, no pointers.
        let rc = unsafe { libc::sync_file_range(file.as_raw_fd(), offset as i64, len as i64, flags) };
        if rc == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (offset, len);
        file.sync_data()
    }
}

/// Makes the calling thread yield the CPU to commits (nice 10; Linux
/// applies it to the thread alone). Best effort.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: plain system calls on the current thread, no pointers.
        let tid = unsafe { libc::gettid() };
        // SAFETY: as above; `tid` is this thread's id.
        unsafe { libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 10) };
    }
}

fn write_snapshot(
    shared: &Arc<Shared>,
    dir: &Path,
    compress: bool,
    rate: Option<u64>,
    progress: &ProgressHandle,
) -> Result<CheckpointInfo> {
    let started = Instant::now();
    let mut written = 0u64;
    let txn = crate::txn::Transaction::begin(shared.clone(), TxnOptions::read_only(Default::default()))?.uncounted();
    let (snapshot, catalog) = txn.snapshot_parts();
    let ts = snapshot.read_ts;
    let time = shared.config.clock.now_micros();
    let path = dir.join(file_name(ts));
    let temp = dir.join(format!("{}.tmp", file_name(ts)));
    let io = |e: std::io::Error| Error::Io(format!("writing checkpoint {}: {e}", temp.display()));
    let file = File::create(&temp).map_err(io)?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut header = [0u8; HEADER];
    header[..8].copy_from_slice(MAGIC);
    header[8..12].copy_from_slice(&VERSION.to_le_bytes());
    header[12..16].copy_from_slice(&(if compress { FLAG_LZ4 } else { 0 }).to_le_bytes());
    header[16..24].copy_from_slice(&ts.to_le_bytes());
    let crc = crc32c::crc32c(&header[..24]);
    header[24..28].copy_from_slice(&crc.to_le_bytes());
    out.write_all(&header).map_err(io)?;

    let meta = CheckpointCatalog {
        tables: catalog.tables().map(|t| (*t.schema).clone()).collect(),
        sequences: catalog.sequences().map(|s| ((*s.schema).clone(), s.state.position())).collect(),
        next_table_id: catalog.next_table_id,
        next_index_id: catalog.next_index_id,
        next_sequence_id: catalog.next_sequence_id,
    };
    let mut frame = Vec::with_capacity(ROWS_FRAME_BYTES + (1 << 16));
    let mut body = Vec::with_capacity(ROWS_FRAME_BYTES + (1 << 16));
    let meta_bytes = postcard::to_stdvec(&meta).map_err(|e| Error::Internal(format!("encoding catalog: {e}")))?;
    emit(&mut out, &mut frame, KIND_CATALOG, &meta_bytes, compress).map_err(io)?;
    // Bytes handed to the file so far (write-back ranges and pacing).
    written += (HEADER + frame.len()) as u64;
    if *catalog.security != crate::security::Security::default() {
        let bytes =
            postcard::to_stdvec(&*catalog.security).map_err(|e| Error::Internal(format!("encoding roles: {e}")))?;
        emit(&mut out, &mut frame, KIND_SECURITY, &bytes, compress).map_err(io)?;
        written += frame.len() as u64;
    }

    // Progress counts row slots and key entries scanned; keys written
    // meanwhile may push the count past the total, so it is capped.
    let total = catalog.tables().map(|t| t.storage.slab.high_water()).sum::<u64>() + shared.kv.keyspace.len() as u64;
    progress.phase("writing the snapshot", total, ProgressUnit::Entries);
    let mut scanned = 0u64;
    let mut rows = 0u64;
    let mut row_frames = 0u64;
    let mut unsynced = 0usize;
    for table in catalog.tables() {
        let storage = &table.storage;
        let mut count = 0u32;
        body.clear();
        body.extend_from_slice(&table.schema.id.to_le_bytes());
        body.extend_from_slice(&0u32.to_le_bytes());
        let guard = Guard::new();
        for row_id in 0..storage.slab.high_water() {
            let Some(cell) = storage.slab.get(row_id) else { continue };
            let Some(version) = snapshot.find(cell, &guard) else { continue };
            body.extend_from_slice(&row_id.to_le_bytes());
            body.extend_from_slice(&(version.data.len() as u32).to_le_bytes());
            body.extend_from_slice(&version.data);
            count += 1;
            if body.len() >= ROWS_FRAME_BYTES {
                body[4..8].copy_from_slice(&count.to_le_bytes());
                emit(&mut out, &mut frame, KIND_ROWS, &body, compress).map_err(io)?;
                unsynced += frame.len();
                written += frame.len() as u64;
                if unsynced >= SYNC_EVERY {
                    // Little dirty data at a time: commits' log writes do
                    // not queue behind hundreds of megabytes of checkpoint.
                    out.flush().map_err(io)?;
                    write_back(out.get_ref(), written - unsynced as u64, unsynced as u64).map_err(io)?;
                    unsynced = 0;
                    if let Some(rate) = rate.filter(|r| *r > 0) {
                        let due = Duration::from_secs_f64(written as f64 / rate as f64);
                        if let Some(ahead) = due.checked_sub(started.elapsed()) {
                            std::thread::sleep(ahead);
                        }
                    }
                }
                rows += u64::from(count);
                row_frames += 1;
                count = 0;
                progress.advance((scanned + row_id).min(total));
                body.truncate(4);
                body.extend_from_slice(&0u32.to_le_bytes());
            }
        }
        if count > 0 {
            body[4..8].copy_from_slice(&count.to_le_bytes());
            emit(&mut out, &mut frame, KIND_ROWS, &body, compress).map_err(io)?;
            rows += u64::from(count);
            row_frames += 1;
        }
        scanned += storage.slab.high_water();
        progress.advance(scanned.min(total));
    }
    let mut keys = 0u64;
    for shard in 0..crate::keyspace::SHARDS {
        let entries = key_entries(&shared.kv.keyspace, shard, ts);
        for chunk in entries.chunks(1024) {
            let bytes = postcard::to_stdvec(chunk).map_err(|e| Error::Internal(format!("encoding keys: {e}")))?;
            emit(&mut out, &mut frame, KIND_KEYS, &bytes, compress).map_err(io)?;
            keys += chunk.len() as u64;
            progress.advance((scanned + keys).min(total));
        }
    }
    progress.advance(total);
    drop(txn);
    let end = CheckpointEnd { ts, time, rows, row_frames, keys };
    let end_bytes = postcard::to_stdvec(&end).map_err(|e| Error::Internal(format!("encoding checkpoint end: {e}")))?;
    emit(&mut out, &mut frame, KIND_END, &end_bytes, compress).map_err(io)?;
    let file = out.into_inner().map_err(|e| io(e.into_error()))?;
    file.sync_all().map_err(io)?;
    let bytes = file.metadata().map_err(io)?.len();
    drop(file);
    std::fs::rename(&temp, &path).map_err(io)?;
    crate::wal::sync_dir(dir)?;
    Ok(CheckpointInfo { ts, time, rows, bytes, path })
}

/// Frames `body` (compressed when asked) and writes it.
fn emit(out: &mut impl Write, frame: &mut Vec<u8>, kind: u8, body: &[u8], compress: bool) -> std::io::Result<()> {
    frame.clear();
    let framed = encode_frame(frame, kind, |f| {
        if compress {
            f.extend_from_slice(&lz4_flex::compress_prepend_size(body));
        } else {
            f.extend_from_slice(body);
        }
        Ok(())
    });
    framed.map_err(|e| std::io::Error::other(e.to_string()))?;
    out.write_all(frame)
}

/// Reads the checkpoint at `path` into `shared`, which must be empty, and
/// publishes it as the state at its timestamp. A damaged file changes
/// nothing and reports what is wrong.
pub(crate) fn load(shared: &Arc<Shared>, path: &Path, progress: &ProgressHandle) -> Result<CheckpointInfo> {
    let started = Instant::now();
    let buf = std::fs::read(path).map_err(|e| Error::Io(format!("cannot read checkpoint {}: {e}", path.display())))?;
    progress.phase("loading the checkpoint", buf.len() as u64, ProgressUnit::Bytes);
    let bad = |what: String| Error::CorruptRecord(format!("checkpoint {}: {what}", path.display()));
    if buf.len() < HEADER
        || &buf[..8] != MAGIC
        || crc32c::crc32c(&buf[..24]) != u32::from_le_bytes([buf[24], buf[25], buf[26], buf[27]])
    {
        return Err(bad("bad header".into()));
    }
    let version = u32::from_le_bytes([buf[8], buf[9], buf[10], buf[11]]);
    if !(1..=VERSION).contains(&version) {
        return Err(bad("unknown format version".into()));
    }
    let compressed = u32::from_le_bytes([buf[12], buf[13], buf[14], buf[15]]) & FLAG_LZ4 != 0;
    let ts = u64::from_le_bytes(buf[16..24].try_into().map_err(|_| bad("bad header".into()))?);

    let mut at = HEADER;
    let next_frame = |at: &mut usize| -> Result<Option<(u8, std::borrow::Cow<'_, [u8]>)>> {
        match read_frame(&buf, *at) {
            FrameRead::End => Ok(None),
            FrameRead::Invalid(why) => Err(bad(format!("{why} at offset {at}"))),
            FrameRead::Frame { kind, body, next } => {
                *at = next;
                let body = if compressed {
                    std::borrow::Cow::Owned(
                        lz4_flex::decompress_size_prepended(body).map_err(|e| bad(format!("decompressing: {e}")))?,
                    )
                } else {
                    std::borrow::Cow::Borrowed(body)
                };
                Ok(Some((kind, body)))
            }
        }
    };
    let Some((KIND_CATALOG, meta)) = next_frame(&mut at)? else {
        return Err(bad("the catalog frame is missing".into()));
    };
    let meta: CheckpointCatalog = postcard::from_bytes(&meta).map_err(|e| bad(format!("catalog: {e}")))?;
    let mut catalog = Catalog::new();
    let mut storages: Vec<(Arc<TableSchema>, Arc<TableStorage>)> = Vec::new();
    for schema in meta.tables {
        let storage = Arc::new(TableStorage::new(
            schema.id,
            schema.physical_types(),
            schema.columns.iter().map(|c| c.missing.clone()).collect(),
        ));
        let schema = Arc::new(schema);
        catalog.put(TableEntry::new(schema.clone(), storage.clone()));
        storages.push((schema, storage));
    }
    for (schema, position) in meta.sequences {
        let state = Arc::new(SequenceState::new(&schema));
        state.reset(position);
        catalog.put_sequence(SequenceEntry { schema: Arc::new(schema), state });
    }
    catalog.next_table_id = catalog.next_table_id.max(meta.next_table_id);
    catalog.next_index_id = catalog.next_index_id.max(meta.next_index_id);
    catalog.next_sequence_id = catalog.next_sequence_id.max(meta.next_sequence_id);

    let mut rows = 0u64;
    let mut row_frames = 0u64;
    let mut keys = 0u64;
    let end = loop {
        let Some((kind, body)) = next_frame(&mut at)? else {
            return Err(bad("the end frame is missing (the checkpoint was not finished)".into()));
        };
        match kind {
            KIND_ROWS => {
                let n = load_rows(&catalog, &body, ts).map_err(|e| bad(e.to_string()))?;
                rows += n;
                row_frames += 1;
            }
            KIND_KEYS => {
                let entries: Vec<CheckpointKey> =
                    postcard::from_bytes(&body).map_err(|e| bad(format!("keys frame: {e}")))?;
                keys += entries.len() as u64;
                load_keys(&shared.kv.keyspace, entries, ts);
            }
            KIND_SECURITY => {
                let security = postcard::from_bytes(&body).map_err(|e| bad(format!("roles frame: {e}")))?;
                catalog.security = Arc::new(security);
            }
            KIND_END if version == 1 => {
                let v1: CheckpointEndV1 = postcard::from_bytes(&body).map_err(|e| bad(format!("end: {e}")))?;
                break CheckpointEnd { ts: v1.ts, time: v1.time, rows: v1.rows, row_frames: v1.row_frames, keys: 0 };
            }
            KIND_END => break postcard::from_bytes::<CheckpointEnd>(&body).map_err(|e| bad(format!("end: {e}")))?,
            other => return Err(bad(format!("unknown frame kind {other}"))),
        }
        progress.advance(at as u64);
    };
    if !matches!(read_frame(&buf, at), FrameRead::End) {
        return Err(bad("data after the end frame".into()));
    }
    progress.advance(buf.len() as u64);
    if end.ts != ts || end.rows != rows || end.row_frames != row_frames || end.keys != keys {
        return Err(bad(format!(
            "the end frame counts {} rows in {} frames and {} keys at {}, the file holds {rows} in {row_frames} and {keys} keys at {ts}",
            end.rows, end.row_frames, end.keys, end.ts
        )));
    }
    drop(buf);
    build_indexes(&storages, progress)?;
    for (_, storage) in &storages {
        // Holes stay unused until recovery has replayed the log, whose
        // inserts may name them (see `reclaim_holes`).
        storage.touch(ts);
    }
    catalog.committed_at = ts;
    let catalog = Arc::new(catalog);
    *shared.catalogs.write() = CatalogHistory::new(catalog.clone());
    shared.current_catalog.store(catalog);
    shared.newest.store(ts, Ordering::Release);
    tracing::info!(
        "loaded checkpoint {} ({rows} rows at commit {ts}) in {:.2} s",
        path.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(CheckpointInfo { ts, time: end.time, rows, bytes: at as u64, path: path.to_owned() })
}

/// Hands the row ids no row uses (holes left by a checkpoint, rows the
/// log deleted) back to each table's free list. Runs once recovery is
/// complete, before anyone writes.
pub(crate) fn reclaim_holes(shared: &Shared) {
    let catalog = shared.current_catalog.load_full();
    for table in catalog.tables() {
        let slab = &table.storage.slab;
        for row_id in 0..slab.high_water() {
            if slab.get(row_id).is_none_or(|cell| cell.is_empty()) {
                slab.free(row_id, 0);
            }
        }
    }
}

/// The entries of one shard as the snapshot at `ts` sees them (copied
/// under the shard's lock, which is held only for the copy).
fn key_entries(keyspace: &crate::keyspace::Keyspace, shard: usize, ts: Timestamp) -> Vec<CheckpointKey> {
    use crate::keyspace::entry::ValueRef;
    let shard = keyspace.shard(shard);
    let mut out = Vec::new();
    for entry in shard.entries() {
        let seen = entry.state_at(ts);
        let meta = seen.meta();
        let value = match seen.view() {
            None => continue,
            Some(ValueRef::Str(s)) => CheckpointValue::String(serde_bytes::ByteBuf::from(s)),
            Some(ValueRef::List(l)) => CheckpointValue::List(l.iter().map(serde_bytes::ByteBuf::from).collect()),
        };
        out.push(CheckpointKey {
            key: serde_bytes::ByteBuf::from(entry.key()),
            value,
            created_at: meta.created_at,
            updated_at: meta.updated_at,
            expires_at: meta.expires_at,
        });
    }
    out
}

/// Installs checkpointed key-value entries, stamped `ts`.
fn load_keys(keyspace: &crate::keyspace::Keyspace, entries: Vec<CheckpointKey>, ts: Timestamp) {
    use crate::keyspace::entry::{State, Value};
    for e in entries {
        let value = match e.value {
            CheckpointValue::String(s) => Value::Str(s.into_vec().into_boxed_slice()),
            CheckpointValue::List(items) => Value::List(items.iter().map(|i| &i[..]).collect()),
        };
        let meta =
            crate::keyspace::Meta { created_at: e.created_at, updated_at: e.updated_at, expires_at: e.expires_at };
        keyspace.restore(&e.key, State { value: Some(value), meta }, ts);
    }
}

/// Installs the rows of one rows frame as versions committed at `ts`.
fn load_rows(catalog: &Catalog, body: &[u8], ts: Timestamp) -> Result<u64> {
    let short = || Error::CorruptRecord("truncated rows frame".into());
    let table = u32::from_le_bytes(body.get(..4).ok_or_else(short)?.try_into().map_err(|_| short())?);
    let count = u32::from_le_bytes(body.get(4..8).ok_or_else(short)?.try_into().map_err(|_| short())?);
    let entry =
        catalog.table_by_id(table).ok_or_else(|| Error::CorruptRecord(format!("rows of unknown table {table}")))?;
    let storage = &entry.storage;
    let mut at = 8;
    let mut bytes = 0i64;
    for _ in 0..count {
        let row_id = u64::from_le_bytes(body.get(at..at + 8).ok_or_else(short)?.try_into().map_err(|_| short())?);
        let len =
            u32::from_le_bytes(body.get(at + 8..at + 12).ok_or_else(short)?.try_into().map_err(|_| short())?) as usize;
        let data = body.get(at + 12..at + 12 + len).ok_or_else(short)?;
        at += 12 + len;
        let cell =
            storage.slab.slot(row_id).ok_or_else(|| Error::CorruptRecord(format!("row id {row_id} out of range")))?;
        storage.slab.reserve(row_id);
        cell.store(Some(VersionRef::new(Version::new(ts, data.into(), None))));
        bytes += len as i64;
    }
    if at != body.len() {
        return Err(Error::CorruptRecord("rows frame longer than its rows".into()));
    }
    storage.account(bytes);
    storage.live_rows.fetch_add(i64::from(count), Ordering::Relaxed);
    Ok(u64::from(count))
}

/// Builds every index of every loaded table, on one thread per core.
fn build_indexes(tables: &[(Arc<TableSchema>, Arc<TableStorage>)], progress: &ProgressHandle) -> Result<()> {
    let mut built: Vec<Vec<Arc<IndexStorage>>> = Vec::with_capacity(tables.len());
    for (schema, _) in tables {
        let types = schema.physical_types();
        built.push(schema.indexes.iter().map(|i| Arc::new(IndexStorage::new(i.clone(), &types))).collect());
    }
    let jobs: Vec<(&Arc<TableStorage>, &Arc<IndexStorage>)> = tables
        .iter()
        .zip(&built)
        .flat_map(|((_, storage), indexes)| indexes.iter().map(move |index| (storage, index)))
        .collect();
    let total: u64 = jobs.iter().map(|(storage, _)| storage.slab.high_water()).sum();
    progress.phase("building indexes", total, ProgressUnit::Entries);
    // Under a lock, so the reported count only grows.
    let done = parking_lot::Mutex::new(0u64);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).min(jobs.len().max(1));
    std::thread::scope(|scope| -> Result<()> {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| -> Result<()> {
                    while let Some((storage, index)) = jobs.get(next.fetch_add(1, Ordering::Relaxed)) {
                        crate::txn::fill_index(storage, index, TXN_BIT)?;
                        let mut done = done.lock();
                        *done += storage.slab.high_water();
                        progress.advance(*done);
                    }
                    Ok(())
                })
            })
            .collect();
        for handle in handles {
            handle.join().map_err(|_| Error::Internal("an index build thread panicked".into()))??;
        }
        Ok(())
    })?;
    for ((_, storage), indexes) in tables.iter().zip(built) {
        storage.set_indexes(indexes);
    }
    Ok(())
}
