//! The row formats of `COPY`: PostgreSQL's `text` and `csv`.
//!
//! `COPY … FROM STDIN` data arrives in chunks that split records anywhere
//! (the wire protocol's CopyData messages carry no record boundaries), so
//! [`CopyDecoder`] keeps the unfinished tail and hands out each complete
//! record as a slice of fields (`None` for NULL). `COPY … TO STDOUT` writes
//! one record per row with [`encode_row`].
//!
//! - text: fields split by the delimiter (tab), `\N` is NULL, backslash
//!   escapes (`\t`, `\n`, `\\`, octal `\NNN`, hex `\xHH`, …), a line `\.`
//!   ends the data.
//! - csv: fields split by the delimiter (`,`), quoted with `"` (doubled
//!   inside, newlines allowed), an unquoted empty field is NULL, an optional
//!   header line is skipped.

use memdb_engine::Value;
use sqlparser::ast;

use crate::error::{Result, SqlError};

/// Rewrites COPY's boolean options into the spelling the parser takes:
/// PostgreSQL accepts `FREEZE on`, `HEADER true`, `FREEZE 0`, …, the parser
/// only `FREEZE` and `FREEZE FALSE`. Other statements pass unchanged.
pub(crate) fn normalize_boolean_options(sql: &str) -> std::borrow::Cow<'_, str> {
    static OPTION: std::sync::LazyLock<Option<regex::Regex>> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"(?i)\b(freeze|header)\s+(on|true|1|off|false|0)\b").ok());
    let is_copy = sql.trim_start().get(..4).is_some_and(|w| w.eq_ignore_ascii_case("copy"));
    match (is_copy, OPTION.as_ref()) {
        (true, Some(re)) => re.replace_all(sql, |c: &regex::Captures<'_>| {
            let on = matches!(c[2].to_ascii_lowercase().as_str(), "on" | "true" | "1");
            if on { c[1].to_owned() } else { format!("{} false", &c[1]) }
        }),
        _ => std::borrow::Cow::Borrowed(sql),
    }
}

/// Which COPY format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CopyFormat {
    /// PostgreSQL's default tab-separated text format.
    Text,
    /// Comma-separated values.
    Csv,
}

/// The options of one COPY statement.
#[derive(Clone, Debug)]
pub(crate) struct CopyOptions {
    pub format: CopyFormat,
    pub delimiter: u8,
    pub null: String,
    pub header: bool,
    pub quote: u8,
    pub escape: u8,
}

fn bad_copy(message: impl Into<String>) -> SqlError {
    SqlError::DataException { code: "22P04", message: message.into() }
}

fn single_byte(c: char, what: &str) -> Result<u8> {
    u8::try_from(c)
        .ok()
        .filter(|b| b.is_ascii() && *b != b'\r' && *b != b'\n')
        .ok_or_else(|| SqlError::InvalidParameter(format!("COPY {what} must be a single one-byte character")))
}

impl CopyOptions {
    /// Reads `WITH (FORMAT csv, DELIMITER ',', NULL '', HEADER, …)` and the
    /// pre-9.0 spellings (`CSV`, `DELIMITER AS`, `NULL AS`, `HEADER`).
    pub(crate) fn from_ast(options: &[ast::CopyOption], legacy: &[ast::CopyLegacyOption]) -> Result<CopyOptions> {
        let mut format = CopyFormat::Text;
        let mut delimiter = None;
        let mut null = None;
        let mut header = false;
        let mut quote = None;
        let mut escape = None;
        for o in options {
            match o {
                ast::CopyOption::Format(name) => {
                    format = match name.value.to_ascii_lowercase().as_str() {
                        "text" => CopyFormat::Text,
                        "csv" => CopyFormat::Csv,
                        "binary" => {
                            return Err(SqlError::FeatureNotSupported("COPY in binary format".into()));
                        }
                        other => {
                            return Err(SqlError::InvalidParameter(format!("COPY format \"{other}\" not recognized")));
                        }
                    }
                }
                ast::CopyOption::Freeze(_) | ast::CopyOption::Encoding(_) => {}
                ast::CopyOption::Delimiter(c) => delimiter = Some(single_byte(*c, "delimiter")?),
                ast::CopyOption::Null(s) => null = Some(s.clone()),
                ast::CopyOption::Header(h) => header = *h,
                ast::CopyOption::Quote(c) => quote = Some(single_byte(*c, "quote")?),
                ast::CopyOption::Escape(c) => escape = Some(single_byte(*c, "escape")?),
                other => return Err(SqlError::FeatureNotSupported(format!("COPY option {other}"))),
            }
        }
        for o in legacy {
            match o {
                ast::CopyLegacyOption::Binary => {
                    return Err(SqlError::FeatureNotSupported("COPY in binary format".into()));
                }
                ast::CopyLegacyOption::Delimiter(c) => delimiter = Some(single_byte(*c, "delimiter")?),
                ast::CopyLegacyOption::Null(s) => null = Some(s.clone()),
                ast::CopyLegacyOption::Header => header = true,
                ast::CopyLegacyOption::Csv(csv) => {
                    format = CopyFormat::Csv;
                    for c in csv {
                        match c {
                            ast::CopyLegacyCsvOption::Header => header = true,
                            ast::CopyLegacyCsvOption::Quote(q) => quote = Some(single_byte(*q, "quote")?),
                            ast::CopyLegacyCsvOption::Escape(e) => escape = Some(single_byte(*e, "escape")?),
                            other => return Err(SqlError::FeatureNotSupported(format!("COPY option {other}"))),
                        }
                    }
                }
                other => return Err(SqlError::FeatureNotSupported(format!("COPY option {other}"))),
            }
        }
        let (default_delimiter, default_null) = match format {
            CopyFormat::Text => (b'\t', "\\N"),
            CopyFormat::Csv => (b',', ""),
        };
        if format == CopyFormat::Text && (quote.is_some() || escape.is_some()) {
            return Err(SqlError::InvalidParameter("COPY quote and escape are available only in CSV mode".into()));
        }
        let quote = quote.unwrap_or(b'"');
        Ok(CopyOptions {
            format,
            delimiter: delimiter.unwrap_or(default_delimiter),
            null: null.unwrap_or_else(|| default_null.to_owned()),
            header,
            quote,
            escape: escape.unwrap_or(quote),
        })
    }
}

/// Splits incoming COPY data into records.
pub(crate) struct CopyDecoder {
    options: CopyOptions,
    /// Bytes received but not yet part of a complete record.
    pending: Vec<u8>,
    /// The CSV header line is still to be skipped.
    skip_header: bool,
    /// `\.` was seen: everything after it is ignored.
    ended: bool,
    /// Line number of the next record (for error messages).
    pub line: u64,
    /// Unescaped field text of the current record, and where each field
    /// lies in it (`None` for NULL).
    scratch: String,
    spans: Vec<Option<(usize, usize)>>,
    /// The field list handed to the caller, kept for its allocation.
    fields: Vec<Option<&'static str>>,
}

impl CopyDecoder {
    pub(crate) fn new(options: CopyOptions) -> CopyDecoder {
        let skip_header = options.header;
        CopyDecoder {
            options,
            pending: Vec::new(),
            skip_header,
            ended: false,
            line: 1,
            scratch: String::new(),
            spans: Vec::new(),
            fields: Vec::new(),
        }
    }

    /// Feeds a chunk; calls `record` for each record it completes.
    pub(crate) fn feed(&mut self, data: &[u8], record: &mut dyn FnMut(&[Option<&str>]) -> Result<()>) -> Result<()> {
        if self.ended {
            return Ok(());
        }
        if self.pending.is_empty() {
            // The usual case: records arrive whole; only a torn tail is kept.
            let consumed = self.consume(data, record)?;
            if !self.ended {
                self.pending.extend_from_slice(&data[consumed..]);
            }
            return Ok(());
        }
        self.pending.extend_from_slice(data);
        let mut pending = std::mem::take(&mut self.pending);
        let result = self.consume(&pending, record);
        if let Ok(consumed) = result
            && !self.ended
        {
            pending.drain(..consumed);
            self.pending = pending;
        }
        result.map(|_| ())
    }

    /// Decodes the complete records at the start of `data`; returns how
    /// many bytes they took.
    fn consume(&mut self, data: &[u8], record: &mut dyn FnMut(&[Option<&str>]) -> Result<()>) -> Result<usize> {
        let mut start = 0;
        while let Some(len) = self.record_end(&data[start..]) {
            let line = &data[start..start + len];
            start += len + 1;
            self.line(line, record)?;
            if self.ended {
                break;
            }
        }
        Ok(start)
    }

    /// The end of the data: a last record without a newline counts.
    pub(crate) fn finish(&mut self, record: &mut dyn FnMut(&[Option<&str>]) -> Result<()>) -> Result<()> {
        if self.ended || self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        if self.options.format == CopyFormat::Csv
            && self.record_end(&pending).is_none()
            && open_quote(&pending, &self.options)
        {
            return Err(bad_copy("unterminated CSV quoted field"));
        }
        self.line(&pending, record)
    }

    /// Length of the first complete record in `data` (up to its newline).
    fn record_end(&self, data: &[u8]) -> Option<usize> {
        match self.options.format {
            CopyFormat::Text => data.iter().position(|&b| b == b'\n'),
            CopyFormat::Csv => {
                let mut quoted = false;
                let mut i = 0;
                while i < data.len() {
                    let b = data[i];
                    if quoted {
                        if b == self.options.escape
                            && b != self.options.quote
                            && data.get(i + 1) == Some(&self.options.quote)
                        {
                            i += 1;
                        } else if b == self.options.quote {
                            quoted = false;
                        }
                    } else if b == self.options.quote {
                        quoted = true;
                    } else if b == b'\n' {
                        return Some(i);
                    }
                    i += 1;
                }
                None
            }
        }
    }

    fn line(&mut self, raw: &[u8], record: &mut dyn FnMut(&[Option<&str>]) -> Result<()>) -> Result<()> {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let line_no = self.line;
        self.line += 1;
        if raw == b"\\." {
            self.ended = true;
            return Ok(());
        }
        if self.skip_header {
            self.skip_header = false;
            return Ok(());
        }
        let text = std::str::from_utf8(raw).map_err(|_| SqlError::DataException {
            code: "22021",
            message: format!("invalid byte sequence for encoding \"UTF8\" in COPY data, line {line_no}"),
        })?;
        // The field list's allocation is reused from line to line.
        let mut fields: Vec<Option<&str>> = reuse(std::mem::take(&mut self.fields));
        if self.options.format == CopyFormat::Text && self.options.delimiter.is_ascii() && !raw.contains(&b'\\') {
            // Nothing to unescape: fields are slices of the line itself.
            split_plain(text, &self.options, &mut fields);
        } else {
            self.scratch.clear();
            self.spans.clear();
            match self.options.format {
                CopyFormat::Text => split_text(text, &self.options, &mut self.scratch, &mut self.spans)?,
                CopyFormat::Csv => split_csv(text, &self.options, &mut self.scratch, &mut self.spans)?,
            }
            fields.extend(self.spans.iter().map(|s| s.and_then(|(a, b)| self.scratch.get(a..b))));
        }
        let result = record(&fields);
        self.fields = reuse(fields);
        result
    }
}

/// An emptied vector of field slices with its allocation kept, for
/// slices of another lifetime (the collect runs in place).
fn reuse<'b>(mut fields: Vec<Option<&str>>) -> Vec<Option<&'b str>> {
    fields.clear();
    fields.into_iter().map(|_| None).collect()
}

/// A text-format line without backslashes into fields: split at the
/// (ASCII) delimiter, the NULL marker as `None`.
fn split_plain<'a>(line: &'a str, options: &CopyOptions, fields: &mut Vec<Option<&'a str>>) {
    let mut start = 0;
    for end in memchr::memchr_iter(options.delimiter, line.as_bytes()).chain(std::iter::once(line.len())) {
        let field = line.get(start..end).unwrap_or_default();
        fields.push(if field == options.null { None } else { Some(field) });
        start = end + 1;
    }
}

fn open_quote(data: &[u8], options: &CopyOptions) -> bool {
    data.iter().filter(|&&b| b == options.quote).count() % 2 == 1
}

/// One text-format line into fields.
fn split_text(
    line: &str,
    options: &CopyOptions,
    out: &mut String,
    spans: &mut Vec<Option<(usize, usize)>>,
) -> Result<()> {
    for raw in line.split(options.delimiter as char) {
        if raw == options.null {
            spans.push(None);
            continue;
        }
        let start = out.len();
        if !raw.contains('\\') {
            out.push_str(raw);
        } else {
            unescape_text(raw, out)?;
        }
        spans.push(Some((start, out.len())));
    }
    Ok(())
}

fn unescape_text(raw: &str, out: &mut String) -> Result<()> {
    let bytes = raw.as_bytes();
    let mut decoded: Vec<u8> = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b != b'\\' || i + 1 >= bytes.len() {
            decoded.push(b);
            i += 1;
            continue;
        }
        let c = bytes[i + 1];
        i += 2;
        match c {
            b'b' => decoded.push(8),
            b'f' => decoded.push(12),
            b'n' => decoded.push(b'\n'),
            b'r' => decoded.push(b'\r'),
            b't' => decoded.push(b'\t'),
            b'v' => decoded.push(11),
            b'0'..=b'7' => {
                let mut v = u32::from(c - b'0');
                for _ in 0..2 {
                    match bytes.get(i) {
                        Some(d @ b'0'..=b'7') => {
                            v = v * 8 + u32::from(d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                decoded.push((v & 0xff) as u8);
            }
            b'x' => {
                let mut v = 0u32;
                let mut digits = 0;
                while digits < 2 {
                    match bytes.get(i).and_then(|d| (*d as char).to_digit(16)) {
                        Some(d) => {
                            v = v * 16 + d;
                            i += 1;
                            digits += 1;
                        }
                        None => break,
                    }
                }
                if digits == 0 {
                    decoded.push(b'x');
                } else {
                    decoded.push(v as u8);
                }
            }
            other => decoded.push(other),
        }
    }
    let s = String::from_utf8(decoded).map_err(|_| SqlError::DataException {
        code: "22021",
        message: "invalid byte sequence for encoding \"UTF8\" in COPY data".into(),
    })?;
    out.push_str(&s);
    Ok(())
}

/// One CSV record into fields.
fn split_csv(
    line: &str,
    options: &CopyOptions,
    out: &mut String,
    spans: &mut Vec<Option<(usize, usize)>>,
) -> Result<()> {
    let bytes = line.as_bytes();
    let (delim, quote, escape) = (options.delimiter, options.quote, options.escape);
    let mut i = 0;
    loop {
        let start = out.len();
        let mut was_quoted = false;
        let mut field = Vec::new();
        while i < bytes.len() && bytes[i] != delim {
            if bytes[i] == quote {
                was_quoted = true;
                i += 1;
                loop {
                    match bytes.get(i) {
                        None => return Err(bad_copy("unterminated CSV quoted field")),
                        Some(&b)
                            if b == escape
                                && (bytes.get(i + 1) == Some(&quote)
                                    || (escape != quote && bytes.get(i + 1) == Some(&escape))) =>
                        {
                            field.push(bytes[i + 1]);
                            i += 2;
                        }
                        Some(&b) if b == quote => {
                            i += 1;
                            break;
                        }
                        Some(&b) => {
                            field.push(b);
                            i += 1;
                        }
                    }
                }
            } else {
                field.push(bytes[i]);
                i += 1;
            }
        }
        let text = String::from_utf8(field).map_err(|_| SqlError::DataException {
            code: "22021",
            message: "invalid byte sequence in CSV field".into(),
        })?;
        if !was_quoted && text == options.null {
            spans.push(None);
        } else {
            out.push_str(&text);
            spans.push(Some((start, out.len())));
        }
        if i >= bytes.len() {
            break;
        }
        i += 1; // the delimiter
    }
    Ok(())
}

/// Appends one row in COPY output format, newline included.
pub(crate) fn encode_row(options: &CopyOptions, row: &[Value], out: &mut Vec<u8>) {
    for (i, v) in row.iter().enumerate() {
        if i > 0 {
            out.push(options.delimiter);
        }
        if v.is_null() {
            out.extend_from_slice(options.null.as_bytes());
            continue;
        }
        let text = v.to_string();
        encode_field(options, &text, out);
    }
    out.push(b'\n');
}

/// Appends a header line of column names (CSV `HEADER`).
pub(crate) fn encode_header(options: &CopyOptions, names: &[&str], out: &mut Vec<u8>) {
    for (i, n) in names.iter().enumerate() {
        if i > 0 {
            out.push(options.delimiter);
        }
        encode_field(options, n, out);
    }
    out.push(b'\n');
}

fn encode_field(options: &CopyOptions, text: &str, out: &mut Vec<u8>) {
    match options.format {
        CopyFormat::Text => {
            for &b in text.as_bytes() {
                match b {
                    b'\\' => out.extend_from_slice(b"\\\\"),
                    b'\n' => out.extend_from_slice(b"\\n"),
                    b'\r' => out.extend_from_slice(b"\\r"),
                    b'\t' if options.delimiter == b'\t' => out.extend_from_slice(b"\\t"),
                    b if b == options.delimiter => {
                        out.push(b'\\');
                        out.push(b);
                    }
                    b => out.push(b),
                }
            }
        }
        CopyFormat::Csv => {
            let needs_quotes = text.is_empty() && options.null.is_empty()
                || text == options.null
                || text.bytes().any(|b| b == options.delimiter || b == options.quote || b == b'\n' || b == b'\r')
                || text == "\\.";
            if !needs_quotes {
                out.extend_from_slice(text.as_bytes());
                return;
            }
            out.push(options.quote);
            for &b in text.as_bytes() {
                if b == options.quote || b == options.escape {
                    out.push(options.escape);
                }
                out.push(b);
            }
            out.push(options.quote);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(format: CopyFormat) -> CopyOptions {
        let (delimiter, null) = match format {
            CopyFormat::Text => (b'\t', "\\N".to_owned()),
            CopyFormat::Csv => (b',', String::new()),
        };
        CopyOptions { format, delimiter, null, header: false, quote: b'"', escape: b'"' }
    }

    fn decode(options: CopyOptions, chunks: &[&[u8]]) -> Result<Vec<Vec<Option<String>>>> {
        let mut d = CopyDecoder::new(options);
        let mut rows = Vec::new();
        let mut push = |f: &[Option<&str>]| {
            rows.push(f.iter().map(|x| x.map(str::to_owned)).collect());
            Ok(())
        };
        for c in chunks {
            d.feed(c, &mut push)?;
        }
        d.finish(&mut push)?;
        Ok(rows)
    }

    #[test]
    fn text_records_split_across_chunks() {
        let rows = decode(options(CopyFormat::Text), &[b"1\tab", b"c\t\\N\n2\t\\tx\\\\y\t\n", b"3\tlast\t"]).unwrap();
        assert_eq!(
            rows,
            vec![
                vec![Some("1".into()), Some("abc".into()), None],
                vec![Some("2".into()), Some("\tx\\y".into()), Some(String::new())],
                vec![Some("3".into()), Some("last".into()), Some(String::new())],
            ]
        );
    }

    #[test]
    fn text_lines_with_and_without_escapes_split_alike() {
        let mut o = options(CopyFormat::Text);
        o.delimiter = b'|';
        o.null = "nil".into();
        // Lines 1 and 3 take the no-backslash path, line 2 the unescaping one.
        let rows = decode(o, &[b"1|nil||plain x\n2|nil||\\xe2\\x82\\xac \\\\\n|nil\n"]).unwrap();
        assert_eq!(
            rows,
            vec![
                vec![Some("1".into()), None, Some(String::new()), Some("plain x".into())],
                vec![Some("2".into()), None, Some(String::new()), Some("\u{20ac} \\".into())],
                vec![Some(String::new()), None],
            ]
        );
    }

    #[test]
    fn text_end_marker_stops_the_data() {
        let rows = decode(options(CopyFormat::Text), &[b"1\n\\.\n2\n"]).unwrap();
        assert_eq!(rows, vec![vec![Some("1".into())]]);
    }

    #[test]
    fn csv_quotes_nulls_and_embedded_newlines() {
        let mut o = options(CopyFormat::Csv);
        o.header = true;
        let rows = decode(o, &[b"a,b,c\n1,\"x,\"\"y\"\"\",\n2,\"multi\nline\",\"\"\r\n"]).unwrap();
        assert_eq!(
            rows,
            vec![
                vec![Some("1".into()), Some("x,\"y\"".into()), None],
                vec![Some("2".into()), Some("multi\nline".into()), Some(String::new())],
            ]
        );
    }

    #[test]
    fn csv_unterminated_quote_is_an_error() {
        assert!(decode(options(CopyFormat::Csv), &[b"1,\"open"]).is_err());
    }

    #[test]
    fn boolean_options_are_normalized() {
        assert_eq!(normalize_boolean_options("copy t from stdin with (freeze on)"), "copy t from stdin with (freeze)");
        assert_eq!(normalize_boolean_options("COPY t TO STDOUT (HEADER off)"), "COPY t TO STDOUT (HEADER false)");
        assert_eq!(normalize_boolean_options("select 'freeze on'"), "select 'freeze on'");
    }

    #[test]
    fn encoding_round_trips() {
        for format in [CopyFormat::Text, CopyFormat::Csv] {
            let o = options(format);
            let row =
                vec![Value::Int4(1), Value::Text("a\tb,\"c\"\nd\\".into()), Value::Null, Value::Text(String::new())];
            let mut out = Vec::new();
            encode_row(&o, &row, &mut out);
            let back = decode(o, &[&out]).unwrap();
            assert_eq!(
                back,
                vec![vec![Some("1".into()), Some("a\tb,\"c\"\nd\\".into()), None, Some(String::new())]],
                "{format:?}: {}",
                String::from_utf8_lossy(&out)
            );
        }
    }
}
