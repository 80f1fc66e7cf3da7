//! The compact in-memory row format.
//!
//! A stored row is one heap allocation holding its values back to back; the
//! column types come from the table schema, so the row carries no type tags:
//!
//! ```text
//!   row    := ncols:varint  nulls:[u8; ceil(ncols/8)]  field*      (one per non-NULL column)
//!   field  := bool u8 | int2 i16 | int4 i32 | date i32 | float4 f32
//!           | int8 i64 | float8 f64 | time/timestamp/timestamptz i64     (little-endian)
//!           | numeric [u8;16] (rust_decimal's serialized form)
//!           | interval months:i32 days:i32 micros:i64 | uuid [u8;16]
//!           | text/varchar/char/json/bytea/jsonb  len:varint bytes
//!           | array  len:varint (count:varint nulls field*)
//! ```
//!
//! A row may hold fewer columns than its table has now: columns added by
//! `ALTER TABLE ... ADD COLUMN` after the row was written are filled in from
//! the schema's recorded default when the row is decoded. Decoding checks
//! every length and never panics on corrupt input.

use rust_decimal::Decimal;

use crate::error::{Error, Result};
use crate::types::{Array, DataType, Interval, Value};

/// An encoded row.
pub type RowData = Box<[u8]>;

/// Encodes `values` (already coerced to `types`) into the compact format.
pub fn encode(values: &[Value], types: &[DataType]) -> Result<RowData> {
    if values.len() != types.len() {
        return Err(Error::Internal(format!("row has {} values for {} columns", values.len(), types.len())));
    }
    // Sized up front: one allocation, no growth, no shrink.
    let mut buf = Vec::with_capacity(size_hint(values));
    encode_into(&mut buf, values, types)?;
    Ok(buf.into_boxed_slice())
}

/// The encoded size of a row of scalar values (exact for them; arrays and
/// jsonb are estimated and may grow the buffer).
fn size_hint(values: &[Value]) -> usize {
    let varint = |n: usize| {
        if n < 0x80 {
            1
        } else if n < 0x4000 {
            2
        } else {
            9
        }
    };
    let mut size = varint(values.len()) + values.len().div_ceil(8);
    for value in values {
        size += match value {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Int2(_) => 2,
            Value::Int4(_) | Value::Float4(_) | Value::Date(_) => 4,
            Value::Int8(_) | Value::Float8(_) | Value::Time(_) | Value::Timestamp(_) | Value::TimestampTz(_) => 8,
            Value::Numeric(_) | Value::Interval(_) | Value::Uuid(_) => 16,
            Value::Text(s) | Value::Json(s) => varint(s.len()) + s.len(),
            Value::Bytea(b) => varint(b.len()) + b.len(),
            Value::Jsonb(_) | Value::Array(_) => 32,
        };
    }
    size
}

fn encode_into(buf: &mut Vec<u8>, values: &[Value], types: &[DataType]) -> Result<()> {
    put_varint(buf, values.len() as u64);
    let bitmap_at = buf.len();
    buf.resize(bitmap_at + values.len().div_ceil(8), 0);
    for (i, (value, ty)) in values.iter().zip(types).enumerate() {
        if value.is_null() {
            buf[bitmap_at + i / 8] |= 1 << (i % 8);
        } else {
            encode_field(buf, value, ty)?;
        }
    }
    Ok(())
}

fn encode_field(buf: &mut Vec<u8>, value: &Value, ty: &DataType) -> Result<()> {
    match (value, ty) {
        (Value::Bool(v), DataType::Bool) => buf.push(u8::from(*v)),
        (Value::Int2(v), DataType::Int2) => buf.extend_from_slice(&v.to_le_bytes()),
        (Value::Int4(v), DataType::Int4) => buf.extend_from_slice(&v.to_le_bytes()),
        (Value::Int8(v), DataType::Int8) => buf.extend_from_slice(&v.to_le_bytes()),
        (Value::Float4(v), DataType::Float4) => buf.extend_from_slice(&v.to_le_bytes()),
        (Value::Float8(v), DataType::Float8) => buf.extend_from_slice(&v.to_le_bytes()),
        (Value::Numeric(d), DataType::Numeric(_)) => buf.extend_from_slice(&d.serialize()),
        (Value::Text(s), DataType::Text | DataType::Varchar(_) | DataType::Char(_))
        | (Value::Json(s), DataType::Json) => put_bytes(buf, s.as_bytes()),
        (Value::Bytea(b), DataType::Bytea) => put_bytes(buf, b),
        (Value::Date(d), DataType::Date) => buf.extend_from_slice(&d.to_le_bytes()),
        (Value::Time(t), DataType::Time)
        | (Value::Timestamp(t), DataType::Timestamp)
        | (Value::TimestampTz(t), DataType::TimestampTz) => buf.extend_from_slice(&t.to_le_bytes()),
        (Value::Interval(iv), DataType::Interval) => {
            buf.extend_from_slice(&iv.months.to_le_bytes());
            buf.extend_from_slice(&iv.days.to_le_bytes());
            buf.extend_from_slice(&iv.micros.to_le_bytes());
        }
        (Value::Uuid(u), DataType::Uuid) => buf.extend_from_slice(u.as_bytes()),
        (Value::Jsonb(j), DataType::Jsonb) => put_bytes(buf, j.to_string().as_bytes()),
        (Value::Array(a), DataType::Array(elem)) => {
            let mut inner = Vec::new();
            let types = vec![(**elem).clone(); a.elements.len()];
            encode_into(&mut inner, &a.elements, &types)?;
            put_bytes(buf, &inner);
        }
        (value, ty) => {
            return Err(Error::DatatypeMismatch(format!("value {value:?} does not match column type {ty}")));
        }
    }
    Ok(())
}

/// Encodes a row straight from the text form of its values (COPY's input;
/// `None` is NULL), exactly as [`encode`] would encode the values parsed
/// from that text and assigned to columns of `types`. Integers and strings
/// that need no trimming are written without building a [`Value`]; other
/// fields are parsed and assigned through one. `allow_null(i)` is asked
/// about each NULL once every field has parsed (it fails for a NOT NULL
/// column), so a bad value is reported before a missing one, as in
/// PostgreSQL, which parses a whole line before checking constraints.
pub fn encode_text(
    fields: &[Option<&str>],
    types: &[DataType],
    allow_null: &dyn Fn(usize) -> Result<()>,
) -> Result<RowData> {
    if fields.len() != types.len() {
        return Err(Error::Internal(format!("row has {} fields for {} columns", fields.len(), types.len())));
    }
    let mut size = 9 + fields.len().div_ceil(8);
    for (field, ty) in fields.iter().zip(types) {
        size += match (field, ty) {
            (None, _) => 0,
            (Some(text), DataType::Char(n)) => 9 + text.len().max(*n as usize),
            (Some(text), _) => 9 + text.len(),
        };
    }
    let mut buf = Vec::with_capacity(size);
    put_varint(&mut buf, fields.len() as u64);
    let bitmap_at = buf.len();
    buf.resize(bitmap_at + fields.len().div_ceil(8), 0);
    for (i, (field, ty)) in fields.iter().zip(types).enumerate() {
        match field {
            None => buf[bitmap_at + i / 8] |= 1 << (i % 8),
            Some(text) => encode_text_field(&mut buf, text, ty)?,
        }
    }
    for (i, _) in fields.iter().enumerate().filter(|(_, f)| f.is_none()) {
        allow_null(i)?;
    }
    Ok(buf.into_boxed_slice())
}

/// One non-NULL field of [`encode_text`].
fn encode_text_field(buf: &mut Vec<u8>, text: &str, ty: &DataType) -> Result<()> {
    use crate::types::number::parse_int;
    use crate::types::text::check_char_length;
    match ty {
        DataType::Int2 => {
            let v = parse_int(text, "smallint", i16::MIN.into(), i16::MAX.into())? as i16;
            buf.extend_from_slice(&v.to_le_bytes());
        }
        DataType::Int4 => {
            let v = parse_int(text, "integer", i32::MIN.into(), i32::MAX.into())? as i32;
            buf.extend_from_slice(&v.to_le_bytes());
        }
        DataType::Int8 => buf.extend_from_slice(&parse_int(text, "bigint", i64::MIN, i64::MAX)?.to_le_bytes()),
        DataType::Text | DataType::Varchar(None) => put_bytes(buf, text.as_bytes()),
        // ASCII within the length: nothing to trim or count, only padding.
        DataType::Varchar(Some(n)) | DataType::Char(n) if text.is_ascii() && text.len() <= *n as usize => {
            let pad = matches!(ty, DataType::Char(_));
            check_char_length(*n, pad)?;
            let len = if pad { *n as usize } else { text.len() };
            put_varint(buf, len as u64);
            buf.extend_from_slice(text.as_bytes());
            buf.resize(buf.len() + (len - text.len()), b' ');
        }
        ty => encode_field(buf, &Value::parse(text, ty)?.coerce_to(ty)?, ty)?,
    }
    Ok(())
}

/// Decodes every column of an encoded row. Returns as many values as the
/// row holds (possibly fewer than `types` after an ADD COLUMN).
pub fn decode(data: &[u8], types: &[DataType]) -> Result<Vec<Value>> {
    let (mut reader, ncols, bitmap) = header(data, types)?;
    let mut values = Vec::with_capacity(types.len());
    for (i, ty) in types.iter().take(ncols).enumerate() {
        if bitmap[i / 8] & (1 << (i % 8)) != 0 {
            values.push(Value::Null);
        } else {
            values.push(reader.field(ty)?);
        }
    }
    Ok(values)
}

/// Decodes the columns whose `wanted` flag is set; the others (and columns
/// past `wanted`'s end) read as NULL without being materialized, so a scan
/// that needs two columns of ten pays for two.
pub fn decode_selected(data: &[u8], types: &[DataType], wanted: &[bool]) -> Result<Vec<Value>> {
    let (mut reader, ncols, bitmap) = header(data, types)?;
    let mut values = Vec::with_capacity(types.len());
    let last = wanted.iter().rposition(|w| *w).map_or(0, |i| i + 1).min(ncols);
    for (i, ty) in types.iter().take(last).enumerate() {
        if bitmap[i / 8] & (1 << (i % 8)) != 0 {
            values.push(Value::Null);
        } else if wanted.get(i).copied().unwrap_or(false) {
            values.push(reader.field(ty)?);
        } else {
            reader.skip_field(ty)?;
            values.push(Value::Null);
        }
    }
    values.resize_with(ncols, || Value::Null);
    Ok(values)
}

/// Decodes into `out`, reusing its vectors and text buffers: a scan that
/// keeps its row buffers between batches allocates nothing per row once
/// they are warm. `out` ends with one value per column of `types`; columns
/// not `wanted` (`None`: all are) and columns the row predates are NULL.
/// Returns how many columns the row holds (those past it predate the row).
pub fn decode_into(data: &[u8], types: &[DataType], wanted: Option<&[bool]>, out: &mut Vec<Value>) -> Result<usize> {
    out.resize_with(types.len(), || Value::Null);
    let (mut reader, ncols, bitmap) = header(data, types)?;
    let is_wanted = |i: usize| wanted.is_none_or(|w| w.get(i).copied().unwrap_or(false));
    let last = match wanted {
        None => ncols,
        Some(w) => w.iter().rposition(|w| *w).map_or(0, |i| i + 1).min(ncols),
    };
    for (i, (ty, slot)) in types.iter().zip(out.iter_mut()).enumerate() {
        if i >= last {
            if !slot.is_null() {
                *slot = Value::Null;
            }
        } else if bitmap[i / 8] & (1 << (i % 8)) != 0 {
            *slot = Value::Null;
        } else if is_wanted(i) {
            reader.field_into(ty, slot)?;
        } else {
            reader.skip_field(ty)?;
            *slot = Value::Null;
        }
    }
    Ok(ncols)
}

/// Decodes one column without materializing the others; `None` when the row
/// predates the column (see the module docs).
pub fn decode_column(data: &[u8], types: &[DataType], column: usize) -> Result<Option<Value>> {
    let (mut reader, ncols, bitmap) = header(data, types)?;
    if column >= ncols {
        return Ok(None);
    }
    let is_null = |i: usize| bitmap[i / 8] & (1 << (i % 8)) != 0;
    for (i, ty) in types.iter().take(column).enumerate() {
        if !is_null(i) {
            reader.skip_field(ty)?;
        }
    }
    if is_null(column) {
        return Ok(Some(Value::Null));
    }
    reader.field(&types[column]).map(Some)
}

/// Reads a row's column count and NULL bitmap; the reader is left at the
/// first field.
fn header<'a>(data: &'a [u8], types: &[DataType]) -> Result<(Reader<'a>, usize, &'a [u8])> {
    let mut reader = Reader { data, pos: 0 };
    let ncols = reader.varint()? as usize;
    if ncols > types.len() {
        return Err(corrupt("row has more columns than its table"));
    }
    let bitmap = reader.take(ncols.div_ceil(8))?;
    Ok((reader, ncols, bitmap))
}

fn corrupt(what: &str) -> Error {
    Error::CorruptRecord(format!("row data: {what}"))
}

fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

fn put_bytes(buf: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(buf, bytes.len() as u64);
    buf.extend_from_slice(bytes);
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len()).ok_or_else(|| corrupt("truncated"))?;
        let bytes = &self.data[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn varint(&mut self) -> Result<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.take(1)?[0];
            value |= u64::from(byte & 0x7F) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(corrupt("varint too long"))
    }

    fn bytes(&mut self) -> Result<&'a [u8]> {
        let len = usize::try_from(self.varint()?).map_err(|_| corrupt("length"))?;
        self.take(len)
    }

    fn str(&mut self) -> Result<&'a str> {
        // Rows are read far more often than written. SIMD validation wins
        // from about 128 bytes; below, its tail handling costs more than
        // the standard library's word-at-a-time ASCII path (10 against
        // 6.5 ns for 100 ASCII bytes on the reference machine).
        let bytes = self.bytes()?;
        let text =
            if bytes.len() < 128 { std::str::from_utf8(bytes).ok() } else { simdutf8::basic::from_utf8(bytes).ok() };
        text.ok_or_else(|| corrupt("invalid UTF-8"))
    }

    fn string(&mut self) -> Result<String> {
        self.str().map(str::to_owned)
    }

    fn fixed_width(ty: &DataType) -> Option<usize> {
        Some(match ty {
            DataType::Bool => 1,
            DataType::Int2 => 2,
            DataType::Int4 | DataType::Float4 | DataType::Date => 4,
            DataType::Int8 | DataType::Float8 | DataType::Time | DataType::Timestamp | DataType::TimestampTz => 8,
            DataType::Numeric(_) | DataType::Interval | DataType::Uuid => 16,
            _ => return None,
        })
    }

    fn skip_field(&mut self, ty: &DataType) -> Result<()> {
        match Self::fixed_width(ty) {
            Some(n) => self.take(n).map(|_| ()),
            None => self.bytes().map(|_| ()),
        }
    }

    /// Like [`Reader::field`], overwriting `slot` and keeping its text
    /// buffer when it already holds text.
    fn field_into(&mut self, ty: &DataType, slot: &mut Value) -> Result<()> {
        match (ty, &mut *slot) {
            (DataType::Text | DataType::Varchar(_) | DataType::Char(_), Value::Text(s))
            | (DataType::Json, Value::Json(s)) => {
                let text = self.str()?;
                s.clear();
                s.push_str(text);
            }
            _ => *slot = self.field(ty)?,
        }
        Ok(())
    }

    fn field(&mut self, ty: &DataType) -> Result<Value> {
        Ok(match ty {
            DataType::Bool => Value::Bool(self.take(1)?[0] != 0),
            DataType::Int2 => Value::Int2(i16::from_le_bytes(self.array()?)),
            DataType::Int4 => Value::Int4(i32::from_le_bytes(self.array()?)),
            DataType::Int8 => Value::Int8(i64::from_le_bytes(self.array()?)),
            DataType::Float4 => Value::Float4(f32::from_le_bytes(self.array()?)),
            DataType::Float8 => Value::Float8(f64::from_le_bytes(self.array()?)),
            DataType::Numeric(_) => Value::Numeric(Decimal::deserialize(self.array()?)),
            DataType::Text | DataType::Varchar(_) | DataType::Char(_) => Value::Text(self.string()?),
            DataType::Json => Value::Json(self.string()?),
            DataType::Bytea => Value::Bytea(self.bytes()?.to_vec()),
            DataType::Date => Value::Date(i32::from_le_bytes(self.array()?)),
            DataType::Time => Value::Time(i64::from_le_bytes(self.array()?)),
            DataType::Timestamp => Value::Timestamp(i64::from_le_bytes(self.array()?)),
            DataType::TimestampTz => Value::TimestampTz(i64::from_le_bytes(self.array()?)),
            DataType::Interval => Value::Interval(Interval {
                months: i32::from_le_bytes(self.array()?),
                days: i32::from_le_bytes(self.array()?),
                micros: i64::from_le_bytes(self.array()?),
            }),
            DataType::Uuid => Value::Uuid(uuid::Uuid::from_bytes(self.array()?)),
            DataType::Jsonb => {
                // Stored documents may nest deeper than serde_json's default
                // limit of 128 (memdb accepts 1000 levels): lift it, or a
                // value that was accepted could not be read back.
                let mut de = serde_json::Deserializer::from_slice(self.bytes()?);
                de.disable_recursion_limit();
                let json = serde::Deserialize::deserialize(&mut de).map_err(|_| corrupt("invalid jsonb"))?;
                Value::Jsonb(Box::new(json))
            }
            DataType::Array(elem) => {
                let inner = self.bytes()?;
                let mut reader = Reader { data: inner, pos: 0 };
                let count = usize::try_from(reader.varint()?).map_err(|_| corrupt("array length"))?;
                if count > inner.len() * 8 {
                    return Err(corrupt("array length"));
                }
                let bitmap = reader.take(count.div_ceil(8))?;
                let mut elements = Vec::with_capacity(count);
                for i in 0..count {
                    if bitmap[i / 8] & (1 << (i % 8)) != 0 {
                        elements.push(Value::Null);
                    } else {
                        elements.push(reader.field(elem)?);
                    }
                }
                Value::Array(Box::new(Array { element_type: (**elem).clone(), elements }))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (Vec<Value>, Vec<DataType>) {
        let types = vec![
            DataType::Int8,
            DataType::Int4,
            DataType::Text,
            DataType::Bool,
            DataType::Float8,
            DataType::Numeric(None),
            DataType::Bytea,
            DataType::Interval,
            DataType::Array(Box::new(DataType::Int4)),
            DataType::Jsonb,
        ];
        let values = vec![
            Value::Int8(-42),
            Value::Null,
            Value::from("héllo"),
            Value::Bool(true),
            Value::Float8(2.5),
            Value::Numeric(Decimal::new(12345, 2)),
            Value::Bytea(vec![0, 1, 255]),
            Value::Interval(Interval { months: 1, days: -2, micros: 3 }),
            Value::Array(Box::new(Array { element_type: DataType::Int4, elements: vec![Value::Int4(1), Value::Null] })),
            Value::Jsonb(Box::new(serde_json::json!({"a": [1, 2]}))),
        ];
        (values, types)
    }

    #[test]
    fn decoding_into_reused_buffers_matches_a_fresh_decode() {
        let (values, types) = sample();
        let data = encode(&values, &types).unwrap();
        let mut wanted = vec![false; types.len()];
        wanted[2] = true;
        wanted[5] = true;
        // A buffer left over from another row: wrong length, text in a
        // column that is now NULL or not wanted, text to be overwritten.
        let mut out = vec![Value::from("old text that is longer"); 3];
        assert_eq!(decode_into(&data, &types, Some(&wanted), &mut out).unwrap(), types.len());
        assert_eq!(out, decode_selected(&data, &types, &wanted).unwrap());
        assert_eq!(decode_into(&data, &types, None, &mut out).unwrap(), types.len());
        assert_eq!(out, values);
        // A row written before the last column existed.
        let short = encode(&values[..4], &types[..4]).unwrap();
        out.push(Value::from("stale"));
        assert_eq!(decode_into(&short, &types, None, &mut out).unwrap(), 4);
        assert_eq!(out.len(), types.len());
        assert_eq!(&out[..4], &values[..4]);
        assert!(out[4..].iter().all(Value::is_null));
        assert!(decode_into(&data[..data.len() - 1], &types, None, &mut out).is_err(), "truncated");
    }

    #[test]
    fn round_trips_every_column() {
        let (values, types) = sample();
        let data = encode(&values, &types).unwrap();
        let decoded = decode(&data, &types).unwrap();
        assert_eq!(format!("{decoded:?}"), format!("{values:?}"));
        for (i, v) in values.iter().enumerate() {
            let one = decode_column(&data, &types, i).unwrap().unwrap();
            assert_eq!(format!("{one:?}"), format!("{v:?}"));
        }
    }

    #[test]
    fn deeply_nested_documents_read_back() {
        // Deeper than serde_json's default limit of 128.
        let text = format!("{}{}", "[".repeat(900), "]".repeat(900));
        let json: serde_json::Value = {
            let mut de = serde_json::Deserializer::from_str(&text);
            de.disable_recursion_limit();
            serde::Deserialize::deserialize(&mut de).unwrap()
        };
        let values = vec![Value::Jsonb(Box::new(json))];
        let types = vec![DataType::Jsonb];
        let decoded = decode(&encode(&values, &types).unwrap(), &types).unwrap();
        assert_eq!(format!("{decoded:?}"), format!("{values:?}"));
    }

    #[test]
    fn size_hint_is_exact_for_scalars() {
        let values = vec![Value::Int8(1), Value::Null, Value::from("x".repeat(200).as_str()), Value::Bool(true)];
        let types = vec![DataType::Int8, DataType::Int4, DataType::Text, DataType::Bool];
        assert_eq!(encode(&values, &types).unwrap().len(), size_hint(&values));
    }

    #[test]
    fn short_rows_report_missing_columns() {
        let (values, types) = sample();
        let data = encode(&values[..2], &types[..2]).unwrap();
        assert_eq!(decode(&data, &types).unwrap().len(), 2);
        assert!(decode_column(&data, &types, 5).unwrap().is_none());
    }

    #[test]
    fn corrupt_rows_are_errors_not_panics() {
        let (values, types) = sample();
        let data = encode(&values, &types).unwrap();
        for cut in 0..data.len() {
            let _ = decode(&data[..cut], &types);
        }
        let mut flipped = data.to_vec();
        for i in 0..flipped.len() {
            flipped[i] ^= 0xA5;
            let _ = decode(&flipped, &types);
            flipped[i] ^= 0xA5;
        }
        assert!(encode(&[Value::from("x")], &[DataType::Int4]).is_err());
    }

    /// `encode_text` against the long way round: parse each field, assign
    /// it to the column's type, check NOT NULL, encode. Same bytes, or the
    /// same error.
    fn encode_parsed(fields: &[Option<&str>], types: &[DataType], not_null: &[bool]) -> Result<RowData> {
        let mut values = Vec::new();
        for (f, ty) in fields.iter().zip(types) {
            values.push(match f {
                None => Value::Null,
                Some(text) => Value::parse(text, ty)?,
            });
        }
        let mut assigned = Vec::new();
        for (i, (v, ty)) in values.into_iter().zip(types).enumerate() {
            let v = v.coerce_to(ty)?;
            if v.is_null() && not_null[i] {
                return Err(Error::NotNullViolation { table: "t".into(), column: format!("c{i}") });
            }
            assigned.push(v);
        }
        encode(&assigned, types)
    }

    /// A field for a column: mostly text of the column's kind, sometimes
    /// another kind's (a parse or length error), sometimes NULL.
    fn field(good: &'static str) -> impl proptest::strategy::Strategy<Value = Option<String>> {
        use proptest::strategy::Strategy;
        let junk = "(x|1\\.5|-99999999999999999999|[a-z ]{0,10}|é{1,3})";
        proptest::option::weighted(0.9, proptest::prop_oneof![8 => good.prop_map(|s| s), 1 => junk.prop_map(|s| s)])
    }

    proptest::proptest! {
        #[test]
        fn text_fields_encode_as_their_parsed_values(
            fields in (
                field(" ?[+-]?[0-9]{1,5} ?"),
                field("[+-]?[0-9]{1,10}"),
                field("[+-]?[0-9]{1,19}"),
                field("[a-zé ]{0,12}"),
                field("[a-z]{0,5} {0,2}"),
                field("[a-zé]{0,8} {0,3}"),
                field("-?[0-9]{1,8}(\\.[0-9]{1,4})?"),
                field("(t|f|true|no|on)"),
                field("20[0-9]{2}-0[1-9]-[0-2][1-9]"),
            ),
            not_null in proptest::collection::vec(proptest::bool::weighted(0.3), 9),
        ) {
            let fields = [fields.0, fields.1, fields.2, fields.3, fields.4, fields.5, fields.6, fields.7, fields.8];
            let types = [
                DataType::Int2,
                DataType::Int4,
                DataType::Int8,
                DataType::Text,
                DataType::Varchar(Some(5)),
                DataType::Char(8),
                DataType::Numeric(None),
                DataType::Bool,
                DataType::Date,
            ];
            let fields: Vec<Option<&str>> = fields.iter().map(|f| f.as_deref()).collect();
            let allow_null = |i: usize| {
                if not_null[i] {
                    Err(Error::NotNullViolation { table: "t".into(), column: format!("c{i}") })
                } else {
                    Ok(())
                }
            };
            let direct = encode_text(&fields, &types, &allow_null);
            let parsed = encode_parsed(&fields, &types, &not_null);
            proptest::prop_assert_eq!(direct, parsed);
        }
    }

    #[test]
    fn text_fields_pad_char_and_reject_overlong_varchar() {
        let types = [DataType::Char(4), DataType::Varchar(Some(2)), DataType::Int4];
        let data = encode_text(&[Some("ab"), Some("x "), Some(" 7 ")], &types, &|_| Ok(())).unwrap();
        assert_eq!(decode(&data, &types).unwrap(), vec![Value::from("ab  "), Value::from("x "), Value::Int4(7)]);
        let err = encode_text(&[Some("ab"), Some("xyz"), None], &types, &|_| Ok(())).unwrap_err();
        assert!(matches!(err, Error::StringTooLong(_)), "{err:?}");
        let err = encode_text(&[None, Some("x"), Some("99999999999")], &types, &|i| {
            Err(Error::NotNullViolation { table: "t".into(), column: i.to_string() })
        })
        .unwrap_err();
        assert!(matches!(err, Error::NumericOverflow(_)), "a bad value is reported before a NULL: {err:?}");
    }
}
