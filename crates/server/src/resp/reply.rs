//! Writing replies in RESP2 or RESP3 (chosen per connection by HELLO).
//!
//! RESP3 differs where the types differ: null is `_`, maps are `%`,
//! doubles `,`. Everything else is the same bytes in both.

use bytes::{BufMut, BytesMut};
use memdb_engine::{KvReply, KvValue};

/// Protocol version of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    /// RESP2 (the default).
    V2,
    /// RESP3 (after `HELLO 3`).
    V3,
}

/// A reply being written into the connection's output buffer.
pub struct Out<'a> {
    /// The connection's output buffer.
    pub buf: &'a mut BytesMut,
    /// The connection's protocol version.
    pub proto: Proto,
}

impl Out<'_> {
    /// `+text`.
    pub fn simple(&mut self, text: &str) {
        self.buf.reserve(text.len() + 3);
        self.buf.put_u8(b'+');
        self.buf.put_slice(text.as_bytes());
        self.buf.put_slice(b"\r\n");
    }

    /// `+OK`.
    pub fn ok(&mut self) {
        self.buf.put_slice(b"+OK\r\n");
    }

    /// `-message` (the message starts with its code: `ERR`, `WRONGTYPE`…).
    /// Line breaks in it would end the reply early, so they become spaces.
    pub fn error(&mut self, message: &str) {
        self.buf.put_u8(b'-');
        for &b in message.as_bytes() {
            self.buf.put_u8(if b == b'\r' || b == b'\n' { b' ' } else { b });
        }
        self.buf.put_slice(b"\r\n");
    }

    /// `:n`.
    pub fn int(&mut self, n: i64) {
        self.buf.put_u8(b':');
        self.buf.put_slice(itoa(n).as_bytes());
        self.buf.put_slice(b"\r\n");
    }

    /// `$len` + bytes.
    pub fn bulk(&mut self, bytes: &[u8]) {
        self.buf.reserve(bytes.len() + 16);
        self.buf.put_u8(b'$');
        self.buf.put_slice(itoa(bytes.len() as i64).as_bytes());
        self.buf.put_slice(b"\r\n");
        self.buf.put_slice(bytes);
        self.buf.put_slice(b"\r\n");
    }

    /// The null bulk string.
    pub fn nil(&mut self) {
        self.buf.put_slice(if self.proto == Proto::V3 { b"_\r\n" } else { b"$-1\r\n" });
    }

    /// The null array.
    pub fn nil_array(&mut self) {
        self.buf.put_slice(if self.proto == Proto::V3 { b"_\r\n" } else { b"*-1\r\n" });
    }

    /// `*n` (elements follow).
    pub fn array(&mut self, n: usize) {
        self.buf.put_u8(b'*');
        self.buf.put_slice(itoa(n as i64).as_bytes());
        self.buf.put_slice(b"\r\n");
    }

    /// A map header of `n` pairs: `%n` in RESP3, `*2n` in RESP2.
    pub fn map(&mut self, n: usize) {
        if self.proto == Proto::V3 {
            self.buf.put_u8(b'%');
            self.buf.put_slice(itoa(n as i64).as_bytes());
            self.buf.put_slice(b"\r\n");
        } else {
            self.array(n * 2);
        }
    }

    /// An engine reply.
    pub fn kv(&mut self, reply: &KvReply) {
        match reply {
            KvReply::Ok => self.ok(),
            KvReply::Nil => self.nil(),
            KvReply::NilArray => self.nil_array(),
            KvReply::Int(n) => self.int(*n),
            KvReply::Bytes(b) => self.bulk(b),
            KvReply::Status(s) => self.simple(s),
            KvReply::Array(items) => {
                self.array(items.len());
                items.iter().for_each(|i| self.kv(i));
            }
            KvReply::Scan { cursor, keys } => {
                self.array(2);
                self.bulk(cursor.to_string().as_bytes());
                self.array(keys.len());
                keys.iter().for_each(|k| self.bulk(k));
            }
            KvReply::Info(info) => match &info.value {
                KvValue::String(s) => self.bulk(s),
                KvValue::List(items) => {
                    self.array(items.len());
                    items.iter().for_each(|i| self.bulk(i));
                }
            },
            KvReply::Listing(items) => {
                self.array(items.len());
                items.iter().for_each(|i| self.bulk(&i.key));
            }
        }
    }
}

/// Decimal text of an integer, formatted on the stack (replies are hot).
pub struct Itoa {
    buf: [u8; 20],
    start: usize,
}

impl Itoa {
    /// The digits.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[self.start..]
    }
}

/// Formats `n` in decimal.
pub fn itoa(n: i64) -> Itoa {
    let mut buf = [0u8; 20];
    let start = buf.len() - memdb_engine::types::format_i64(n, &mut buf).len();
    Itoa { buf, start }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(proto: Proto, f: impl FnOnce(&mut Out<'_>)) -> String {
        let mut buf = BytesMut::new();
        f(&mut Out { buf: &mut buf, proto });
        String::from_utf8(buf.to_vec()).unwrap()
    }

    #[test]
    fn nulls_and_maps_follow_the_protocol() {
        assert_eq!(render(Proto::V2, |o| o.nil()), "$-1\r\n");
        assert_eq!(render(Proto::V3, |o| o.nil()), "_\r\n");
        assert_eq!(render(Proto::V2, |o| o.nil_array()), "*-1\r\n");
        assert_eq!(render(Proto::V2, |o| o.map(2)), "*4\r\n");
        assert_eq!(render(Proto::V3, |o| o.map(2)), "%2\r\n");
        assert_eq!(render(Proto::V2, |o| o.error("ERR a\r\nb")), "-ERR a  b\r\n");
        assert_eq!(render(Proto::V2, |o| o.int(i64::MIN)), ":-9223372036854775808\r\n");
        assert_eq!(render(Proto::V2, |o| o.int(0)), ":0\r\n");
        let scan = KvReply::Scan { cursor: 7, keys: vec![b"k".to_vec()] };
        assert_eq!(render(Proto::V2, |o| o.kv(&scan)), "*2\r\n$1\r\n7\r\n*1\r\n$1\r\nk\r\n");
    }
}
