//! Order-preserving ("memcomparable") encoding of index keys.
//!
//! Every index is an ordered map from an encoded [`Key`] to a row id. Keys are
//! compared as plain byte strings, so the encoding must preserve the
//! PostgreSQL order of the values it encodes:
//!
//! ```text
//!   value      := 0x01 payload      (non-NULL)
//!               | 0x02              (NULL: after every value, as NULLS LAST)
//!   integer    := i64 big-endian with the sign bit flipped   (int2/int4/int8 alike)
//!   float      := f64 bits; negative: all bits flipped, else sign bit flipped;
//!                 -0.0 is 0.0 and every NaN is one NaN above +Infinity
//!   numeric    := 0x02 for zero | 0x03 exp digits 0x00 (positive)
//!               | 0x01 !(exp digits 0x00) (negative: the positive form inverted)
//!   text/bytes := bytes with 0x00 escaped as 0x00 0xFF, ended by 0x00 0x00
//!   array      := value* 0x00
//! ```
//!
//! A composite key is the concatenation of its column encodings; a
//! non-unique index appends the row id (8 bytes big-endian) to make each
//! entry distinct. Keys up to 30 bytes are stored inline without allocation,
//! which covers integer keys with their row id and short text keys (a
//! 25-character name, YCSB's `user…` keys): comparing two inline keys
//! touches no other memory, where a heap key costs a pointer chase (a cache
//! miss) at every step of a tree descent.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

use rust_decimal::Decimal;

use crate::types::{Interval, Value};

/// Bytes a key can hold without a heap allocation.
const INLINE: usize = 30;

/// An encoded index key: compares bytewise in the order of the values it
/// encodes.
#[derive(Clone)]
pub struct Key(Repr);

#[derive(Clone)]
enum Repr {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<[u8]>),
}

impl Key {
    /// Wraps already-encoded bytes.
    pub fn from_bytes(bytes: &[u8]) -> Key {
        if bytes.len() <= INLINE {
            let mut buf = [0u8; INLINE];
            buf[..bytes.len()].copy_from_slice(bytes);
            Key(Repr::Inline { len: bytes.len() as u8, bytes: buf })
        } else {
            Key(Repr::Heap(bytes.into()))
        }
    }

    /// Encodes a sequence of values as one composite key.
    pub fn encode(values: &[Value]) -> Key {
        with_buffer(|buf| {
            for value in values {
                encode_value(buf, value);
            }
            Key::from_bytes(buf)
        })
    }

    /// Encodes values followed by a row id (the entry of a non-unique index).
    pub fn encode_with_row_id(values: &[Value], row_id: u64) -> Key {
        with_buffer(|buf| {
            for value in values {
                encode_value(buf, value);
            }
            buf.extend_from_slice(&row_id.to_be_bytes());
            Key::from_bytes(buf)
        })
    }

    /// The first sixteen bytes, zero-padded, as a big-endian number: keys
    /// whose prefixes differ compare like their prefixes. Sixteen bytes
    /// cover an integer key with its row id.
    fn prefix(&self) -> u128 {
        let bytes: &[u8] = match &self.0 {
            Repr::Inline { bytes, .. } => bytes,
            Repr::Heap(b) => b,
        };
        // A fixed-size load for the usual case; a variable-length copy
        // would be a `memmove` call on every comparison of the tree descent.
        match bytes.first_chunk::<16>() {
            Some(head) => u128::from_be_bytes(*head),
            None => {
                let mut p = [0u8; 16];
                p[..bytes.len()].copy_from_slice(bytes);
                u128::from_be_bytes(p)
            }
        }
    }

    /// The encoded bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Repr::Heap(b) => b,
        }
    }

    /// The smallest key strictly greater than every key that starts with
    /// `self` (for prefix scans), or `None` if there is none.
    pub fn prefix_successor(&self) -> Option<Key> {
        let mut bytes = self.as_bytes().to_vec();
        while let Some(last) = bytes.pop() {
            if last < 0xFF {
                bytes.push(last + 1);
                return Some(Key::from_bytes(&bytes));
            }
        }
        None
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}
impl Eq for Key {}
impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Key {
    fn cmp(&self, other: &Self) -> Ordering {
        // Inline keys are zero-padded, so differing prefixes decide at once;
        // equal prefixes (which may hide a length difference) fall back to
        // the bytes.
        match self.prefix().cmp(&other.prefix()) {
            Ordering::Equal => match (&self.0, &other.0) {
                // Short keys that agree on sixteen zero-padded bytes differ
                // at most in length.
                (Repr::Inline { len: a, .. }, Repr::Inline { len: b, .. }) if *a <= 16 && *b <= 16 => a.cmp(b),
                _ => self.as_bytes().cmp(other.as_bytes()),
            },
            unequal => unequal,
        }
    }
}
impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}
impl Borrow<[u8]> for Key {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}
impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key(")?;
        for b in self.as_bytes() {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}

/// Runs `f` with an empty per-thread scratch buffer (no allocation per key).
fn with_buffer<R>(f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    thread_local! {
        static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    BUFFER.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            buf.clear();
            f(&mut buf)
        }
        // Re-entered (a value's encoding never encodes keys, but be safe).
        Err(_) => f(&mut Vec::with_capacity(32)),
    })
}

/// Appends the order-preserving encoding of one value to `buf`.
pub fn encode_value(buf: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => buf.push(0x02),
        other => {
            buf.push(0x01);
            encode_payload(buf, other);
        }
    }
}

fn encode_payload(buf: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => {}
        Value::Bool(b) => buf.push(u8::from(*b)),
        Value::Int2(v) => encode_i64(buf, i64::from(*v)),
        Value::Int4(v) => encode_i64(buf, i64::from(*v)),
        Value::Int8(v) => encode_i64(buf, *v),
        Value::Float4(v) => encode_f64(buf, f64::from(*v)),
        Value::Float8(v) => encode_f64(buf, *v),
        Value::Numeric(d) => encode_decimal(buf, *d),
        Value::Text(s) | Value::Json(s) => encode_bytes(buf, s.as_bytes()),
        Value::Bytea(b) => encode_bytes(buf, b),
        Value::Date(d) => encode_i64(buf, i64::from(*d)),
        Value::Time(t) | Value::Timestamp(t) | Value::TimestampTz(t) => encode_i64(buf, *t),
        Value::Interval(iv) => encode_interval(buf, iv),
        Value::Uuid(u) => buf.extend_from_slice(u.as_bytes()),
        Value::Jsonb(j) => encode_bytes(buf, j.to_string().as_bytes()),
        Value::Array(a) => {
            for element in &a.elements {
                encode_value(buf, element);
            }
            buf.push(0x00);
        }
    }
}

fn encode_i64(buf: &mut Vec<u8>, v: i64) {
    buf.extend_from_slice(&((v as u64) ^ (1 << 63)).to_be_bytes());
}

fn encode_f64(buf: &mut Vec<u8>, v: f64) {
    let v = if v == 0.0 {
        0.0
    } else if v.is_nan() {
        f64::NAN
    } else {
        v
    };
    let bits = v.to_bits();
    let ordered = if bits >> 63 == 1 { !bits } else { bits ^ (1 << 63) };
    buf.extend_from_slice(&ordered.to_be_bytes());
}

fn encode_bytes(buf: &mut Vec<u8>, bytes: &[u8]) {
    for &b in bytes {
        buf.push(b);
        if b == 0 {
            buf.push(0xFF);
        }
    }
    buf.extend_from_slice(&[0x00, 0x00]);
}

fn encode_interval(buf: &mut Vec<u8>, iv: &Interval) {
    // PostgreSQL compares intervals by their span with 30-day months.
    const DAY: i128 = 86_400_000_000;
    let span = i128::from(iv.months) * 30 * DAY + i128::from(iv.days) * DAY + i128::from(iv.micros);
    buf.extend_from_slice(&((span as u128) ^ (1 << 127)).to_be_bytes());
}

/// Numeric: sign class, then for non-zero values the decimal exponent and
/// the significant digits, inverted for negative numbers.
fn encode_decimal(buf: &mut Vec<u8>, d: Decimal) {
    let d = d.normalize();
    if d.is_zero() {
        buf.push(0x02);
        return;
    }
    let mantissa = d.mantissa().unsigned_abs();
    let digits = mantissa.to_string();
    // value = 0.d1d2d3... * 10^exp
    let exp = digits.len() as i32 - d.scale() as i32;
    let mut body = Vec::with_capacity(digits.len() + 3);
    body.extend_from_slice(&((exp as u16) ^ 0x8000).to_be_bytes());
    body.extend(digits.bytes().map(|c| c - b'0' + 1));
    body.push(0x00);
    if d.is_sign_negative() {
        buf.push(0x01);
        buf.extend(body.iter().map(|b| !b));
    } else {
        buf.push(0x03);
        buf.extend_from_slice(&body);
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn ordered(values: &[Value]) {
        for pair in values.windows(2) {
            let (a, b) = (Key::encode(&pair[..1]), Key::encode(&pair[1..]));
            assert!(a < b, "{:?} should sort before {:?}", pair[0], pair[1]);
        }
    }

    #[test]
    fn keys_stay_four_words_and_short_text_keys_stay_inline() {
        assert_eq!(std::mem::size_of::<Key>(), 32);
        let ycsb = Key::encode(&[Value::from("user6284781860667377211")]);
        assert!(matches!(ycsb.0, Repr::Inline { .. }), "{} bytes", ycsb.as_bytes().len());
    }

    #[test]
    fn prefixes_of_long_and_short_keys_compare_like_their_bytes() {
        let texts = ["", "a", "ab", "abcdefghijklmno", "abcdefghijklmnop", "abcdefghijklmnopq", &"z".repeat(40)];
        let keys: Vec<Key> = texts.iter().map(|t| Key::from_bytes(t.as_bytes())).collect();
        for a in &keys {
            for b in &keys {
                assert_eq!(a.cmp(b), a.as_bytes().cmp(b.as_bytes()));
            }
        }
    }

    #[test]
    fn integers_floats_and_nulls_keep_their_order() {
        ordered(&[Value::Int8(i64::MIN), Value::Int4(-5), Value::Int2(0), Value::Int8(7), Value::Null]);
        ordered(&[
            Value::Float8(f64::NEG_INFINITY),
            Value::Float8(-1.5),
            Value::Float8(0.0),
            Value::Float8(2.25),
            Value::Float8(f64::INFINITY),
            Value::Float8(f64::NAN),
            Value::Null,
        ]);
        assert_eq!(Key::encode(&[Value::Float8(-0.0)]), Key::encode(&[Value::Float8(0.0)]));
    }

    #[test]
    fn numerics_keep_their_order() {
        let nums: Vec<Value> = ["-1000", "-12.5", "-12", "-1", "-0.5", "0", "0.001", "0.5", "1", "1.5", "12", "100"]
            .iter()
            .map(|s| Value::Numeric(Decimal::from_str(s).unwrap()))
            .collect();
        ordered(&nums);
        let a = Key::encode(&[Value::Numeric(Decimal::from_str("1.50").unwrap())]);
        let b = Key::encode(&[Value::Numeric(Decimal::from_str("1.5").unwrap())]);
        assert_eq!(a, b);
    }

    #[test]
    fn text_with_zero_bytes_and_prefixes_keeps_its_order() {
        ordered(&[
            Value::from(""),
            Value::from("a"),
            Value::from("a\0"),
            Value::from("a\0b"),
            Value::from("ab"),
            Value::from("b"),
        ]);
        // Composite: ("a", 2) < ("ab", 1)
        let k1 = Key::encode(&[Value::from("a"), Value::Int4(2)]);
        let k2 = Key::encode(&[Value::from("ab"), Value::Int4(1)]);
        assert!(k1 < k2);
    }

    #[test]
    fn fast_comparison_agrees_with_byte_order() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..20_000 {
            let mut make = || {
                // Inline (up to 30 bytes) and heap keys, compared with each other.
                let len = rng.random_range(0..48);
                (0..len).map(|_| [0u8, 1, 0xFF, 7][rng.random_range(0..4)]).collect::<Vec<u8>>()
            };
            let (a, b) = (make(), make());
            assert_eq!(Key::from_bytes(&a).cmp(&Key::from_bytes(&b)), a.cmp(&b), "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn short_keys_stay_inline_and_long_keys_work() {
        let k = Key::encode_with_row_id(&[Value::Int8(42)], 7);
        assert!(matches!(k.0, Repr::Inline { .. }));
        let long = Key::encode(&[Value::from("x".repeat(100).as_str())]);
        assert!(matches!(long.0, Repr::Heap(_)));
        assert!(k.prefix_successor().unwrap() > k);
    }
}
