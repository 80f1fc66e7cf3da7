//! Reading requests: RESP arrays of bulk strings, as every client sends,
//! and inline commands (a line of words), as telnet users type.
//!
//! The parser works on the connection's read buffer and either returns a
//! whole request and how many bytes it used, asks for more bytes, or fails
//! with a protocol error (the connection then gets `-ERR Protocol error:
//! …` and is closed, as Redis does). Declared lengths are checked against
//! limits before anything is allocated for them, so a client claiming a
//! 100 GB argument costs nothing.

/// Most arguments in one request (Redis: 1024 * 1024 * 1024; memdb keeps
/// it to what a real client sends).
pub const MAX_ARGS: usize = 1024 * 1024;
/// Largest argument (Redis's `proto-max-bulk-len` default).
pub const MAX_BULK: usize = 512 * 1024 * 1024;
/// Longest inline command line.
pub const MAX_INLINE: usize = 64 * 1024;

/// A protocol error: the message after `-ERR Protocol error: `.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub String);

/// What one parse attempt found.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// A request and the bytes it took.
    Request(Vec<Vec<u8>>, usize),
    /// An empty inline line (ignored) and its length.
    Empty(usize),
    /// More bytes are needed.
    Incomplete,
}

/// Parses requests from the front of a connection's read buffer.
///
/// A request that is not all there yet is remembered where it stopped
/// (the arguments read so far and where the next one starts), so each
/// byte is looked at once however many reads a large request takes;
/// starting over at every read would make a slow request of a million
/// arguments quadratic. The buffer's front must not move while a request
/// is pending: the connection consumes bytes only for whole requests.
#[derive(Default)]
pub struct Parser {
    pending: Option<PendingArray>,
    /// Redis's limits for a client that has not authenticated yet: at most
    /// [`UNAUTHENTICATED_ARGS`] arguments of at most
    /// [`UNAUTHENTICATED_BULK`] bytes, so a stranger cannot make the server
    /// hold much for a request it will refuse.
    unauthenticated: bool,
}

/// Most arguments in a request from a client that has not authenticated.
pub const UNAUTHENTICATED_ARGS: usize = 10;
/// Largest argument from a client that has not authenticated.
pub const UNAUTHENTICATED_BULK: usize = 16 * 1024;

/// An array request read in part.
struct PendingArray {
    /// Arguments still to read.
    remaining: usize,
    args: Vec<Vec<u8>>,
    /// Where the next argument starts in the buffer.
    at: usize,
}

impl Parser {
    /// Applies the limits for a client that has not authenticated, or lifts
    /// them once it has.
    pub fn set_authenticated(&mut self, authenticated: bool) {
        self.unauthenticated = !authenticated;
    }

    /// Parses the request at the start of `buf` (which holds at least the
    /// bytes it held at the previous call, while that one was incomplete).
    pub fn parse(&mut self, buf: &[u8]) -> Result<Parsed, ProtocolError> {
        if self.pending.is_some() {
            return self.parse_array(buf);
        }
        match buf.first() {
            None => Ok(Parsed::Incomplete),
            Some(b'*') => self.parse_array(buf),
            Some(_) => parse_inline(buf),
        }
    }

    fn parse_array(&mut self, buf: &[u8]) -> Result<Parsed, ProtocolError> {
        let mut pending = match self.pending.take() {
            Some(pending) => pending,
            None => {
                let Some((header, at)) = line(buf, 1, 32)? else { return Ok(Parsed::Incomplete) };
                let count = number(header).ok_or_else(|| ProtocolError("invalid multibulk length".into()))?;
                if count <= 0 {
                    // `*0` and `*-1` are empty requests; Redis skips them.
                    return Ok(Parsed::Empty(at));
                }
                if count as usize > MAX_ARGS {
                    return Err(ProtocolError("invalid multibulk length".into()));
                }
                if self.unauthenticated && count as usize > UNAUTHENTICATED_ARGS {
                    return Err(ProtocolError("unauthenticated multibulk length".into()));
                }
                let remaining = count as usize;
                PendingArray { remaining, args: Vec::with_capacity(remaining.min(1024)), at }
            }
        };
        let max_bulk = if self.unauthenticated { UNAUTHENTICATED_BULK } else { MAX_BULK };
        while pending.remaining > 0 {
            match bulk(buf, pending.at, max_bulk)? {
                Some((start, end)) => {
                    pending.args.push(buf[start..end].to_vec());
                    pending.at = end + 2;
                    pending.remaining -= 1;
                }
                None => {
                    self.pending = Some(pending);
                    return Ok(Parsed::Incomplete);
                }
            }
        }
        Ok(Parsed::Request(pending.args, pending.at))
    }
}

/// The bulk string at `at`: where its bytes start and end, or `None` when
/// it is not all in the buffer yet.
fn bulk(buf: &[u8], at: usize, max_bulk: usize) -> Result<Option<(usize, usize)>, ProtocolError> {
    match buf.get(at) {
        None => return Ok(None),
        Some(b'$') => {}
        Some(&other) => {
            return Err(ProtocolError(format!("expected '$', got '{}'", char::from(other).escape_default())));
        }
    }
    let Some((header, start)) = line(buf, at + 1, 32)? else { return Ok(None) };
    let len = number(header).filter(|n| *n >= 0 && *n as usize <= MAX_BULK);
    let len = len.ok_or_else(|| ProtocolError("invalid bulk length".into()))? as usize;
    if len > max_bulk {
        return Err(ProtocolError("unauthenticated bulk length".into()));
    }
    let end = start + len;
    if buf.len() < end + 2 {
        return Ok(None);
    }
    if &buf[end..end + 2] != b"\r\n" {
        return Err(ProtocolError("invalid bulk length".into()));
    }
    Ok(Some((start, end)))
}

/// Finds the `\r\n`-terminated line at `from`: (line, position after it).
fn line(buf: &[u8], from: usize, limit: usize) -> Result<Option<(&[u8], usize)>, ProtocolError> {
    let window = &buf[from..buf.len().min(from + limit + 2)];
    match window.windows(2).position(|w| w == b"\r\n") {
        Some(end) => Ok(Some((&window[..end], from + end + 2))),
        None if window.len() >= limit + 2 => Err(ProtocolError("too big count or bulk header".into())),
        None => Ok(None),
    }
}

/// A non-negative decimal as Redis reads lengths (`-1` allowed where
/// `allow_negative`).
fn number(digits: &[u8]) -> Option<i64> {
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    let (neg, digits) = match digits.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, digits),
    };
    if digits.is_empty() {
        return None;
    }
    let mut n: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(i64::from(d - b'0'))?;
    }
    Some(if neg { -n } else { n })
}

fn parse_inline(buf: &[u8]) -> Result<Parsed, ProtocolError> {
    let Some(end) = buf.iter().take(MAX_INLINE + 1).position(|&b| b == b'\n') else {
        return if buf.len() > MAX_INLINE {
            Err(ProtocolError("too big inline request".into()))
        } else {
            Ok(Parsed::Incomplete)
        };
    };
    let text = buf[..end].strip_suffix(b"\r").unwrap_or(&buf[..end]);
    let args = split_inline(text)?;
    Ok(if args.is_empty() { Parsed::Empty(end + 1) } else { Parsed::Request(args, end + 1) })
}

/// Splits an inline line into words: whitespace separates, double quotes
/// (with `\n`, `\t`, `\"`, `\\` and `\xHH` escapes) and single quotes group.
fn split_inline(text: &[u8]) -> Result<Vec<Vec<u8>>, ProtocolError> {
    let unbalanced = || ProtocolError("unbalanced quotes in request".into());
    let mut args = Vec::new();
    let mut i = 0;
    while i < text.len() {
        if text[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let mut word = Vec::new();
        match text[i] {
            b'"' => {
                i += 1;
                loop {
                    match text.get(i) {
                        None => return Err(unbalanced()),
                        Some(b'"') => {
                            i += 1;
                            break;
                        }
                        Some(b'\\') => {
                            let escaped = *text.get(i + 1).ok_or_else(unbalanced)?;
                            let hex = text
                                .get(i + 2..i + 4)
                                .and_then(|h| std::str::from_utf8(h).ok())
                                .and_then(|h| u8::from_str_radix(h, 16).ok());
                            match (escaped, hex) {
                                (b'x', Some(byte)) => {
                                    word.push(byte);
                                    i += 4;
                                    continue;
                                }
                                (b'n', _) => word.push(b'\n'),
                                (b'r', _) => word.push(b'\r'),
                                (b't', _) => word.push(b'\t'),
                                (b'a', _) => word.push(7),
                                (b'b', _) => word.push(8),
                                (other, _) => word.push(other),
                            }
                            i += 2;
                        }
                        Some(&c) => {
                            word.push(c);
                            i += 1;
                        }
                    }
                }
            }
            b'\'' => {
                i += 1;
                loop {
                    match text.get(i) {
                        None => return Err(unbalanced()),
                        Some(b'\'') => {
                            i += 1;
                            break;
                        }
                        Some(b'\\') if text.get(i + 1) == Some(&b'\'') => {
                            word.push(b'\'');
                            i += 2;
                        }
                        Some(&c) => {
                            word.push(c);
                            i += 1;
                        }
                    }
                }
            }
            _ => {
                while i < text.len() && !text[i].is_ascii_whitespace() {
                    word.push(text[i]);
                    i += 1;
                }
            }
        }
        if i < text.len() && !text[i].is_ascii_whitespace() {
            // A closing quote must be followed by a space, as in Redis.
            return Err(unbalanced());
        }
        args.push(word);
    }
    Ok(args)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(buf: &[u8]) -> Result<Parsed, ProtocolError> {
        Parser::default().parse(buf)
    }

    fn req(args: &[&str], used: usize) -> Parsed {
        Parsed::Request(args.iter().map(|a| a.as_bytes().to_vec()).collect(), used)
    }

    #[test]
    fn arrays_parse_whole_or_wait() {
        let full = b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\n";
        assert_eq!(parse(full).unwrap(), req(&["GET", "k"], 20));
        for cut in 1..20 {
            assert_eq!(parse(&full[..cut]).unwrap(), Parsed::Incomplete, "cut at {cut}");
        }
        assert_eq!(parse(b"*0\r\n").unwrap(), Parsed::Empty(4));
        assert_eq!(parse(b"*1\r\n$0\r\n\r\n").unwrap(), req(&[""], 10));
    }

    #[test]
    fn a_request_read_in_pieces_resumes_where_it_stopped() {
        let full = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n*1\r\n$4\r\nPING\r\n";
        let whole = 31;
        for step in 1..=7 {
            let mut parser = Parser::default();
            let mut got = None;
            let mut len = 0;
            while got.is_none() {
                len = (len + step).min(full.len());
                match parser.parse(&full[..len]).unwrap() {
                    Parsed::Incomplete => assert!(len < whole, "step {step}: complete at {len}"),
                    done => got = Some(done),
                }
            }
            assert_eq!(got, Some(req(&["SET", "k", "hello"], whole)), "step {step}");
            // The parser starts afresh after a whole request.
            assert_eq!(parser.parse(&full[whole..]).unwrap(), req(&["PING"], 14));
        }
        // A request of many arguments sent a few bytes at a time: each
        // argument is taken once, when it is complete.
        let mut many = b"*20000\r\n".to_vec();
        (0..20000).for_each(|_| many.extend_from_slice(b"$1\r\nx\r\n"));
        let mut parser = Parser::default();
        for end in (1..many.len()).step_by(3) {
            assert_eq!(parser.parse(&many[..end]).unwrap(), Parsed::Incomplete);
        }
        match parser.parse(&many).unwrap() {
            Parsed::Request(args, used) => assert_eq!((args.len(), used), (20000, many.len())),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn clients_that_have_not_authenticated_get_redis_limits() {
        let mut parser = Parser::default();
        parser.set_authenticated(false);
        assert_eq!(parser.parse(b"*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n").unwrap(), req(&["AUTH", "pw"], 22));
        let err = parser.parse(b"*11\r\n").unwrap_err();
        assert_eq!(err.0, "unauthenticated multibulk length");
        let mut big = b"*2\r\n$4\r\nAUTH\r\n$16385\r\n".to_vec();
        big.extend(vec![b'x'; 16385]);
        assert_eq!(parser.parse(&big).unwrap_err().0, "unauthenticated bulk length");
        parser.set_authenticated(true);
        assert!(matches!(parser.parse(&big), Ok(Parsed::Incomplete)), "allowed once authenticated");
    }

    #[test]
    fn bad_lengths_are_protocol_errors_without_allocating() {
        assert!(parse(b"*x\r\n").is_err());
        assert!(parse(b"*99999999999\r\n").is_err());
        assert!(parse(b"*1\r\n$99999999999\r\n").is_err());
        assert!(parse(b"*1\r\n$-5\r\n").is_err());
        assert!(parse(b"*1\r\n:5\r\n").is_err());
        assert!(parse(b"*1\r\n$3\r\nabcXY").is_err(), "bulk not followed by CRLF");
        // A huge but legal declared length just waits for the bytes.
        assert_eq!(parse(b"*1\r\n$536870912\r\nab").unwrap(), Parsed::Incomplete);
        assert!(parse(&[b'*'; 100]).is_err(), "an endless header");
    }

    #[test]
    fn inline_commands_split_like_redis() {
        assert_eq!(parse(b"PING\r\n").unwrap(), req(&["PING"], 6));
        assert_eq!(parse(b"set k \"a b\\x41\"\n").unwrap(), req(&["set", "k", "a bA"], 16));
        assert_eq!(parse(b"set 'it\\'s' v\r\n").unwrap(), req(&["set", "it's", "v"], 15));
        assert_eq!(parse(b"   \r\n").unwrap(), Parsed::Empty(5));
        assert!(parse(b"set \"k v\n").is_err());
        assert!(parse(b"get \"k\"x\n").is_err());
        assert_eq!(parse(b"PIN").unwrap(), Parsed::Incomplete);
        assert!(parse(&vec![b'a'; MAX_INLINE + 10]).is_err());
    }
}
