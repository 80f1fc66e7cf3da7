//! The write-ahead log: commit records on disk, in commit order.
//!
//! # Files
//!
//! A data directory holds the log in `wal/`, split into *segments* named by
//! the commit timestamp of their first record (`00000000000000000042.wal`,
//! twenty digits so names sort in timestamp order), and checkpoints in
//! `checkpoints/` (see [`crate::checkpoint`]). A segment is only ever
//! appended to; the writer starts a new one when the current one passes
//! `segment_size` (16 MiB by default) and at every start-up. Segments are
//! created zero-filled to their full size (a background thread keeps the
//! next one ready), so appending never changes the file's size or block
//! map and `fdatasync` flushes data only — no file-system journal commit,
//! which would wait for other files' dirty data (a checkpoint being
//! written). A zero length field is therefore where the log ends.
//!
//! ```text
//!   segment = header · frame · frame · …
//!
//!   header (32 bytes)
//!   +----------+---------+----------+----------+--------+---------+
//!   | "MEMDBWAL" | version | reserved | first ts | crc32c | padding |
//!   |  8 bytes   | u32 LE  |  u32     |  u64 LE  | u32 LE |  4      |
//!   +----------+---------+----------+----------+--------+---------+
//!   (the crc covers the 24 bytes before it)
//!
//!   frame
//!   +---------+---------+---------+------+----------------------------+
//!   | len     | crc32c  | version | kind | body                       |
//!   | u32 LE  | u32 LE  | u8 (1)  | u8   | len - 2 bytes              |
//!   +---------+---------+---------+------+----------------------------+
//!   len counts the bytes after the crc field; the crc covers exactly them.
//!
//!   commit frame (kind 1) body
//!   +-----------+----------------+-------------------------------------+
//!   | ts u64 LE | time i64 LE    | postcard(CommitRecord)              |
//!   +-----------+----------------+-------------------------------------+
//!   ts repeats the record's timestamp so readers can skip without
//!   decoding; time is the commit's wall clock (µs since 2000-01-01),
//!   which point-in-time recovery compares against.
//! ```
//!
//! Every frame carries a format version, so a later release can add kinds
//! or change a body and still read old logs; a reader refuses versions it
//! does not know rather than guessing.
//!
//! # Writing
//!
//! `WalLog` implements [`crate::CommitLog`]. `append` runs under the
//! engine's commit lock: it encodes the frame and adds it to an in-memory
//! buffer — no I/O. One writer thread takes the whole buffer, writes it with
//! one `write`, and calls `fdatasync` according to the mode:
//!
//! - `sync`: after every write. Commits wait in `wait_durable` (outside the
//!   commit lock) until the writer reports their timestamp durable; commits
//!   that arrive while one `fdatasync` runs are written and synced together
//!   by the next (group commit).
//! - `async`: commits return at once; the writer wakes every
//!   `flush_interval` (10 ms by default), writes and syncs what accumulated.
//!   A crash of the machine loses at most the last interval; a crash of the
//!   process alone loses only what was not yet written (the same bound).
//!
//! A failed write or sync poisons the log: every later commit fails with
//! [`crate::Error::Io`] rather than being acknowledged without being durable.
//!
//! # Reading and recovery
//!
//! Recovery (see [`crate::durable`]) loads the newest valid checkpoint (its
//! timestamp `C`), then reads segments in name order and applies every
//! commit frame with `ts > C`; timestamps must follow each other without a
//! gap. Reading stops at the first frame that is incomplete or fails its
//! checksum:
//!
//! - If nothing valid follows it — no later frame in the segment parses and
//!   checks out, and it is the last segment — it is a *torn tail*: a write
//!   the crash interrupted, never acknowledged in `sync` mode. The segment is
//!   truncated there with a logged warning, and start-up continues.
//! - Otherwise the log is corrupt in the middle: committed data after the
//!   damage would be lost silently, so start-up refuses with the file and
//!   offset, unless the operator asks to recover up to that point (the
//!   later data is then moved aside to `wal/corrupt-*`, never deleted).
//!
//! # Recycling and archiving
//!
//! After a checkpoint at `C` is installed, segments all of whose records
//! are at or below the *previous* checkpoint's timestamp are removed (two
//! checkpoints are kept, so a damaged newest one still has the log it needs).
//! With `wal_archive_dir` set, each segment is copied there when the writer
//! closes it, and is only removed from `wal/` once its copy exists; backups
//! plus the archive give point-in-time recovery.

mod frame;
mod reader;
mod writer;

pub(crate) use frame::{FRAME_HEADER, FrameRead, encode_frame, read_frame};
pub(crate) use reader::{SegmentFile, list_segments, numbered_files, scan_segment};
pub use writer::SyncMode;
pub(crate) use writer::{WalLog, WalOptions, sync_dir};

/// Magic bytes opening every segment.
pub(crate) const SEGMENT_MAGIC: &[u8; 8] = b"MEMDBWAL";
/// Version of the segment header layout.
pub(crate) const SEGMENT_VERSION: u32 = 1;
/// Size of the segment header.
pub(crate) const SEGMENT_HEADER: usize = 32;
/// Frame kind of a commit record.
pub(crate) const KIND_COMMIT: u8 = 1;

/// The file name of the segment whose first record has timestamp `first`.
pub(crate) fn segment_name(first: crate::Timestamp) -> String {
    format!("{first:020}.wal")
}

/// The segment header for a segment starting at `first`.
pub(crate) fn segment_header(first: crate::Timestamp) -> [u8; SEGMENT_HEADER] {
    let mut header = [0u8; SEGMENT_HEADER];
    header[..8].copy_from_slice(SEGMENT_MAGIC);
    header[8..12].copy_from_slice(&SEGMENT_VERSION.to_le_bytes());
    header[16..24].copy_from_slice(&first.to_le_bytes());
    let crc = crc32c::crc32c(&header[..24]);
    header[24..28].copy_from_slice(&crc.to_le_bytes());
    header
}
