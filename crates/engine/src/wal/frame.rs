//! Frames: the length-prefixed, checksummed unit of log and checkpoint
//! files (layout in the [`crate::wal`] module docs).

use crate::error::{Error, Result};

/// Bytes before a frame's body: length and checksum.
pub(crate) const FRAME_HEADER: usize = 8;
/// The frame format version this build writes and reads.
pub(crate) const FRAME_VERSION: u8 = 1;

/// Appends one frame of `kind` to `out`; `body` writes the body. On error
/// `out` is left as it was.
pub(crate) fn encode_frame(out: &mut Vec<u8>, kind: u8, body: impl FnOnce(&mut Vec<u8>) -> Result<()>) -> Result<()> {
    let start = out.len();
    out.extend_from_slice(&[0; FRAME_HEADER]);
    out.push(FRAME_VERSION);
    out.push(kind);
    if let Err(e) = body(out) {
        out.truncate(start);
        return Err(e);
    }
    let len = out.len() - start - FRAME_HEADER;
    let Ok(len32) = u32::try_from(len) else {
        out.truncate(start);
        return Err(Error::Io(format!("a record of {len} bytes is larger than the log's 4 GiB frame limit")));
    };
    let crc = crc32c::crc32c(&out[start + FRAME_HEADER..]);
    out[start..start + 4].copy_from_slice(&len32.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    Ok(())
}

/// What [`read_frame`] found at an offset.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum FrameRead<'a> {
    /// A whole, checked frame; the next one starts at `next`.
    Frame {
        /// The frame kind.
        kind: u8,
        /// The body (after version and kind).
        body: &'a [u8],
        /// Offset of the following frame.
        next: usize,
    },
    /// The buffer ends exactly here.
    End,
    /// Not a valid frame: why.
    Invalid(&'static str),
}

/// Reads the frame starting at `at`.
pub(crate) fn read_frame(buf: &[u8], at: usize) -> FrameRead<'_> {
    let rest = match buf.get(at..) {
        Some(rest) if !rest.is_empty() => rest,
        _ => return FrameRead::End,
    };
    if rest.len() < FRAME_HEADER {
        return FrameRead::Invalid("incomplete frame header");
    }
    let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
    let crc = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
    if len < 2 {
        return FrameRead::Invalid("frame length too small");
    }
    let Some(content) = rest.get(FRAME_HEADER..FRAME_HEADER + len) else {
        return FrameRead::Invalid("frame extends past the end of the file");
    };
    if crc32c::crc32c(content) != crc {
        return FrameRead::Invalid("checksum mismatch");
    }
    if content[0] != FRAME_VERSION {
        return FrameRead::Invalid("unknown frame format version");
    }
    FrameRead::Frame { kind: content[1], body: &content[2..], next: at + FRAME_HEADER + len }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_reject_damage() {
        let mut buf = Vec::new();
        encode_frame(&mut buf, 1, |out| {
            out.extend_from_slice(b"hello");
            Ok(())
        })
        .unwrap();
        encode_frame(&mut buf, 2, |out| {
            out.extend_from_slice(b"world!");
            Ok(())
        })
        .unwrap();
        let FrameRead::Frame { kind, body, next } = read_frame(&buf, 0) else { panic!("first frame") };
        assert_eq!((kind, body), (1, &b"hello"[..]));
        let FrameRead::Frame { kind, body, next } = read_frame(&buf, next) else { panic!("second frame") };
        assert_eq!((kind, body), (2, &b"world!"[..]));
        assert_eq!(read_frame(&buf, next), FrameRead::End);

        let mut torn = buf.clone();
        torn.truncate(buf.len() - 1);
        assert!(matches!(read_frame(&torn, 15), FrameRead::Invalid(_)));
        let mut flipped = buf.clone();
        flipped[10] ^= 0x40;
        assert_eq!(read_frame(&flipped, 0), FrameRead::Invalid("checksum mismatch"));
    }

    #[test]
    fn failed_bodies_leave_the_buffer_unchanged() {
        let mut buf = vec![7u8];
        let failed = encode_frame(&mut buf, 1, |out| {
            out.extend_from_slice(b"partial");
            Err(Error::Internal("no".into()))
        });
        assert!(failed.is_err());
        assert_eq!(buf, vec![7u8]);
    }
}
