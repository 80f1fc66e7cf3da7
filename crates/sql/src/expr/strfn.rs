//! String functions beyond the basic ones: hashing (`md5`, `sha256`),
//! binary encodings (`encode`, `decode`), `translate`, `overlay`, quoting
//! and `format`.

use base64::Engine as _;
use memdb_engine::{DataType, Value};

use crate::error::{Result, SqlError, data_exception};

/// The bytes a hashing or encoding function works on: bytea as is, any
/// other value as its text.
fn bytes_of(v: &Value) -> Vec<u8> {
    match v {
        Value::Bytea(b) => b.clone(),
        Value::Text(s) => s.as_bytes().to_vec(),
        other => other.to_string().into_bytes(),
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// `md5(text|bytea)`: the digest as 32 hex digits.
pub(crate) fn md5(v: &Value) -> Value {
    use md5::Digest as _;
    Value::Text(hex(&md5::Md5::digest(bytes_of(v))))
}

/// `sha224`/`sha256`/`sha384`/`sha512(bytea)`, by digest size in bits.
pub(crate) fn sha(bits: u32, v: &Value) -> Value {
    use sha2::Digest as _;
    let data = bytes_of(v);
    Value::Bytea(match bits {
        224 => sha2::Sha224::digest(&data).to_vec(),
        384 => sha2::Sha384::digest(&data).to_vec(),
        512 => sha2::Sha512::digest(&data).to_vec(),
        _ => sha2::Sha256::digest(&data).to_vec(),
    })
}

fn unknown_encoding(format: &str) -> SqlError {
    SqlError::InvalidParameter(format!("unrecognized encoding: \"{format}\""))
}

/// `encode(bytea, 'hex' | 'base64' | 'escape')`
pub(crate) fn encode(v: &Value, format: &str) -> Result<Value> {
    let data = bytes_of(v);
    Ok(Value::Text(match format.to_ascii_lowercase().as_str() {
        "hex" => hex(&data),
        "base64" => {
            // PostgreSQL breaks base64 output into lines of 76 characters.
            let flat = base64::engine::general_purpose::STANDARD.encode(&data);
            let lines: Vec<&str> =
                flat.as_bytes().chunks(76).map(|c| std::str::from_utf8(c).unwrap_or_default()).collect();
            lines.join("\n")
        }
        "escape" => {
            let mut out = String::new();
            for &b in &data {
                match b {
                    b'\\' => out.push_str("\\\\"),
                    0 | 0x80..=0xff => out.push_str(&format!("\\{b:03o}")),
                    b => out.push(char::from(b)),
                }
            }
            out
        }
        _ => return Err(unknown_encoding(format)),
    }))
}

/// `decode(text, 'hex' | 'base64' | 'escape')`: hex and escape text are
/// read as bytea input is (`\x…` hex, `\\` and `\ooo` escapes).
pub(crate) fn decode(text: &str, format: &str) -> Result<Value> {
    match format.to_ascii_lowercase().as_str() {
        "hex" => Ok(Value::parse(&format!("\\x{text}"), &DataType::Bytea)?),
        "base64" => {
            let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
            base64::engine::general_purpose::STANDARD
                .decode(compact)
                .map(Value::Bytea)
                .map_err(|_| data_exception("22023", "invalid base64 data for decode"))
        }
        "escape" if text.starts_with("\\x") => Err(data_exception("22P02", "invalid input syntax for type bytea")),
        "escape" => Ok(Value::parse(text, &DataType::Bytea)?),
        _ => Err(unknown_encoding(format)),
    }
}

/// `translate(s, from, to)`: each character of `from` in `s` becomes the
/// one at the same place in `to`, or goes when `to` is shorter.
pub(crate) fn translate(s: &str, from: &str, to: &str) -> String {
    let from: Vec<char> = from.chars().collect();
    let to: Vec<char> = to.chars().collect();
    s.chars()
        .filter_map(|c| match from.iter().position(|f| *f == c) {
            Some(i) => to.get(i).copied(),
            None => Some(c),
        })
        .collect()
}

/// `overlay(s placing r from start [for count])`
pub(crate) fn overlay(s: &str, replacement: &str, start: i64, count: Option<i64>) -> Result<String> {
    if start < 1 {
        return Err(data_exception("22011", "negative substring length not allowed"));
    }
    let chars: Vec<char> = s.chars().collect();
    let count = count.unwrap_or_else(|| i64::try_from(replacement.chars().count()).unwrap_or(i64::MAX));
    if count < 0 {
        return Err(data_exception("22011", "negative substring length not allowed"));
    }
    let head = usize::try_from(start - 1).unwrap_or(usize::MAX).min(chars.len());
    let tail = usize::try_from(start.saturating_sub(1).saturating_add(count)).unwrap_or(usize::MAX).min(chars.len());
    let mut out: String = chars[..head].iter().collect();
    out.push_str(replacement);
    out.extend(&chars[tail..]);
    Ok(out)
}

/// A value as a quoted SQL literal (`quote_literal`, `format('%L')`).
pub(crate) fn quote_literal(v: &Value) -> String {
    let text = match v {
        Value::Text(s) => s.clone(),
        other => other.to_string(),
    };
    if text.contains('\\') {
        format!("E'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
    } else {
        format!("'{}'", text.replace('\'', "''"))
    }
}

/// `format(formatstr, args…)`: `%s` (text; NULL as empty), `%I` (quoted
/// identifier), `%L` (quoted literal; NULL as `NULL`) and `%%`, with an
/// optional argument position (`%2$s`) and width (`%-10s`, `%*s`).
pub(crate) fn format(template: &str, args: &[Value]) -> Result<String> {
    let bad = |m: &str| SqlError::InvalidParameter(m.to_owned());
    let mut out = String::with_capacity(template.len());
    let mut chars = template.chars().peekable();
    let mut next_arg = 0usize;
    let number = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>| -> Option<usize> {
        let mut n: Option<usize> = None;
        while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
            chars.next();
            n = Some(n.unwrap_or(0).saturating_mul(10).saturating_add(d as usize));
        }
        n
    };
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'%') {
            chars.next();
            out.push('%');
            continue;
        }
        // %[position$][flags][width]type
        let mut position = None;
        let mut left = false;
        let mut width: Option<usize> = None;
        if let Some(n) = number(&mut chars) {
            if chars.peek() == Some(&'$') {
                chars.next();
                if n == 0 {
                    return Err(bad("format specifies argument 0, but arguments are numbered from 1"));
                }
                position = Some(n - 1);
            } else {
                width = Some(n);
            }
        }
        if width.is_none() {
            if chars.peek() == Some(&'-') {
                chars.next();
                left = true;
            }
            if chars.peek() == Some(&'*') {
                chars.next();
                let w = args.get(next_arg).ok_or_else(|| bad("too few arguments for format()"))?;
                next_arg += 1;
                let w = w.as_i64().unwrap_or(0);
                left |= w < 0;
                width = Some(usize::try_from(w.unsigned_abs()).unwrap_or(usize::MAX));
            } else {
                width = number(&mut chars);
            }
        }
        let kind = chars.next().ok_or_else(|| bad("unterminated format() type specifier"))?;
        let index = position.unwrap_or(next_arg);
        next_arg = index + 1;
        let arg = args.get(index).ok_or_else(|| bad("too few arguments for format()"))?;
        let text = match kind {
            's' => match arg {
                Value::Null => String::new(),
                Value::Text(s) => s.clone(),
                other => other.to_string(),
            },
            'I' => match arg {
                Value::Null => {
                    return Err(data_exception("22004", "null values cannot be formatted as an SQL identifier"));
                }
                Value::Text(s) => crate::system::quote(s),
                other => crate::system::quote(&other.to_string()),
            },
            'L' => match arg {
                Value::Null => "NULL".to_owned(),
                other => quote_literal(other),
            },
            other => return Err(bad(&format!("unrecognized format() type specifier \"{other}\""))),
        };
        let len = text.chars().count();
        let pad = " ".repeat(width.unwrap_or(0).saturating_sub(len).min(1 << 20));
        if left {
            out.push_str(&text);
            out.push_str(&pad);
        } else {
            out.push_str(&pad);
            out.push_str(&text);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_match_known_values() {
        assert_eq!(md5(&Value::Text("abc".into())).to_string(), "900150983cd24fb0d6963f7d28e17f72");
        let Value::Bytea(d) = sha(256, &Value::Bytea(b"abc".to_vec())) else { panic!("not bytea") };
        assert_eq!(hex(&d), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn encodings_round_trip() {
        let data = Value::Bytea(vec![0, 1, b'a', b'\\', 255]);
        for f in ["hex", "base64", "escape"] {
            let Ok(Value::Text(t)) = encode(&data, f) else { panic!("encode {f}") };
            assert_eq!(decode(&t, f).ok(), Some(data.clone()), "{f}: {t}");
        }
        assert!(decode("abc", "hex").is_err());
        assert!(encode(&data, "rot13").is_err());
    }

    #[test]
    fn format_handles_positions_widths_and_quoting() {
        let args = [Value::Text("it's".into()), Value::Null, Value::Int4(7)];
        assert_eq!(format("%s|%s|%s", &args).ok(), Some("it's||7".into()));
        assert_eq!(format("%L %L", &args).ok(), Some("'it''s' NULL".into()));
        assert_eq!(format("%3$s %1$I", &args).ok(), Some("7 \"it's\"".into()));
        assert_eq!(format("[%5s][%-5s]", &[Value::Int4(1), Value::Int4(2)]).ok(), Some("[    1][2    ]".into()));
        assert_eq!(format("100%%", &[]).ok(), Some("100%".into()));
        assert!(format("%s %s", &[Value::Int4(1)]).is_err());
        assert!(format("%x", &[Value::Int4(1)]).is_err());
    }

    #[test]
    fn translate_and_overlay() {
        assert_eq!(translate("12345", "143", "ax"), "a2x5");
        assert_eq!(overlay("Txxxxas", "hom", 2, Some(4)).ok(), Some("Thomas".into()));
        assert_eq!(overlay("abc", "XY", 2, None).ok(), Some("aXY".into()));
    }
}
