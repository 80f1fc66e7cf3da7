//! Reading segments: listing them, and scanning one into commit entries
//! while telling a torn tail from corruption in the middle.

use std::path::{Path, PathBuf};

use super::frame::{FrameRead, read_frame};
use super::{KIND_COMMIT, SEGMENT_HEADER, SEGMENT_MAGIC, SEGMENT_VERSION};
use crate::commitlog::CommitRecord;
use crate::error::{Error, Result};
use crate::mvcc::Timestamp;

/// A segment file and the timestamp its name says it starts at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SegmentFile {
    pub first: Timestamp,
    pub path: PathBuf,
}

/// The segments in `dir`, in timestamp order (a missing directory has none).
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<SegmentFile>> {
    let found = numbered_files(dir, ".wal")?;
    Ok(found.into_iter().map(|(first, path)| SegmentFile { first, path }).collect())
}

/// Files in `dir` named `<20-digit timestamp><suffix>` (log segments,
/// checkpoints), in timestamp order; a missing directory has none.
pub(crate) fn numbered_files(dir: &Path, suffix: &str) -> Result<Vec<(Timestamp, PathBuf)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::Io(format!("cannot list {}: {e}", dir.display()))),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::Io(format!("cannot list {}: {e}", dir.display())))?;
        let name = entry.file_name();
        let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(suffix)) else { continue };
        if stem.len() != 20 {
            continue;
        }
        if let Ok(ts) = stem.parse::<Timestamp>() {
            found.push((ts, entry.path()));
        }
    }
    found.sort_by_key(|(ts, _)| *ts);
    Ok(found)
}

/// One commit read back from the log.
#[derive(Debug)]
pub(crate) struct LogEntry {
    /// The commit's wall-clock time (µs since 2000-01-01).
    pub time: i64,
    /// The record.
    pub record: CommitRecord,
    /// The offset just past its frame in the segment (progress reports).
    pub end: u64,
}

/// The outcome of scanning one segment.
#[derive(Debug)]
pub(crate) struct SegmentScan {
    /// Byte length of the valid prefix (header and whole frames).
    pub valid_len: u64,
    /// Set when the segment has damage at `valid_len`: why, and whether a
    /// valid frame follows the damage (corruption in the middle) or not (a
    /// torn tail).
    pub damage: Option<(&'static str, bool)>,
}

/// Reads one segment, calling `each` for every commit frame with
/// `ts > after` (frames at or below are skipped without decoding).
pub(crate) fn scan_segment(
    path: &Path,
    after: Timestamp,
    mut each: impl FnMut(LogEntry) -> Result<()>,
) -> Result<SegmentScan> {
    let buf = std::fs::read(path).map_err(|e| Error::Io(format!("cannot read {}: {e}", path.display())))?;
    if buf.len() < SEGMENT_HEADER {
        // Created but its header never fully written: nothing in it.
        return Ok(SegmentScan { valid_len: 0, damage: Some(("incomplete segment header", false)) });
    }
    let header_ok = &buf[..8] == SEGMENT_MAGIC
        && u32::from_le_bytes([buf[8], buf[9], buf[10], buf[11]]) == SEGMENT_VERSION
        && crc32c::crc32c(&buf[..24]) == u32::from_le_bytes([buf[24], buf[25], buf[26], buf[27]]);
    if !header_ok {
        return Ok(SegmentScan { valid_len: 0, damage: Some(("bad segment header", frame_follows(&buf, 0))) });
    }
    let mut at = SEGMENT_HEADER;
    loop {
        // Segments are zero-filled in advance: a zero length is where the
        // writer stopped. Anything but zeros after it was being written when
        // the crash came (or is damage, if a valid frame follows).
        if buf.get(at..at + 4).is_some_and(|len| len == [0, 0, 0, 0]) {
            let rest = &buf[at..];
            if rest.iter().all(|&b| b == 0) {
                return Ok(SegmentScan { valid_len: at as u64, damage: None });
            }
            return Ok(SegmentScan {
                valid_len: at as u64,
                damage: Some(("unexpected bytes after the end of the log", frame_follows(&buf, at + 1))),
            });
        }
        match read_frame(&buf, at) {
            FrameRead::End => return Ok(SegmentScan { valid_len: at as u64, damage: None }),
            FrameRead::Invalid(why) => {
                return Ok(SegmentScan { valid_len: at as u64, damage: Some((why, frame_follows(&buf, at + 1))) });
            }
            FrameRead::Frame { kind, body, next } => {
                if kind != KIND_COMMIT {
                    return Err(Error::CorruptRecord(format!(
                        "{} at offset {at}: unknown frame kind {kind}",
                        path.display()
                    )));
                }
                let Some((ts, time, payload)) = split_commit(body) else {
                    return Ok(SegmentScan { valid_len: at as u64, damage: Some(("short commit frame", true)) });
                };
                if ts > after {
                    let record = CommitRecord::decode(payload)
                        .map_err(|e| Error::CorruptRecord(format!("{} at offset {at}: {e}", path.display())))?;
                    if record.ts != ts {
                        return Err(Error::CorruptRecord(format!(
                            "{} at offset {at}: frame says timestamp {ts}, record says {}",
                            path.display(),
                            record.ts
                        )));
                    }
                    each(LogEntry { time, record, end: next as u64 })?;
                }
                at = next;
            }
        }
    }
}

/// Splits a commit body into timestamp, time and record bytes.
pub(crate) fn split_commit(body: &[u8]) -> Option<(Timestamp, i64, &[u8])> {
    let ts = u64::from_le_bytes(body.get(..8)?.try_into().ok()?);
    let time = i64::from_le_bytes(body.get(8..16)?.try_into().ok()?);
    Some((ts, time, body.get(16..)?))
}

/// Whether a valid frame starts anywhere at or after `from`: damage followed
/// by good data is corruption, not a torn tail. Only offsets whose version
/// and kind bytes look right are checksummed, so the scan is cheap.
fn frame_follows(buf: &[u8], from: usize) -> bool {
    let mut at = from;
    while at + super::FRAME_HEADER + 2 <= buf.len() {
        let looks_like_frame = buf[at + super::FRAME_HEADER] == super::frame::FRAME_VERSION
            && buf[at + super::FRAME_HEADER + 1] == KIND_COMMIT;
        if looks_like_frame && matches!(read_frame(buf, at), FrameRead::Frame { .. }) {
            return true;
        }
        at += 1;
    }
    false
}
