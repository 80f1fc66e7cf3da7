//! POSIX regular expressions: the `~` operators and the `regexp_*`
//! functions, through the `regex` crate (whose syntax covers the POSIX
//! extended expressions in common use), with compiled patterns cached per
//! thread so a pattern applied to every row is compiled once.

use std::cell::RefCell;
use std::sync::Arc;

use memdb_engine::{Array, DataType, Value};
use regex::Regex;

use crate::error::{Result, SqlError, data_exception};

/// How many compiled patterns each thread keeps.
const CACHE_SIZE: usize = 32;

thread_local! {
    static CACHE: RefCell<Vec<(String, Options, Arc<Regex>)>> = const { RefCell::new(Vec::new()) };
}

/// How a pattern matches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Options {
    /// `~*`, flag `i`.
    pub case_insensitive: bool,
    /// Flag `n`: `.` and bracket expressions do not match a newline, `^`
    /// and `$` match at line ends. Without it (PostgreSQL's default) `.`
    /// matches a newline too.
    pub newline_sensitive: bool,
}

/// The compiled pattern, from the cache when it was compiled recently.
pub(crate) fn compile(pattern: &str, options: Options) -> Result<Arc<Regex>> {
    let hit = CACHE.with(|c| {
        let mut c = c.borrow_mut();
        let at = c.iter().position(|(p, o, _)| p == pattern && *o == options)?;
        // Move to the front: the least recently used entry falls off the end.
        let entry = c.remove(at);
        let re = entry.2.clone();
        c.insert(0, entry);
        Some(re)
    });
    if let Some(re) = hit {
        return Ok(re);
    }
    let re = Arc::new(
        regex::RegexBuilder::new(pattern)
            .case_insensitive(options.case_insensitive)
            .dot_matches_new_line(!options.newline_sensitive)
            .multi_line(options.newline_sensitive)
            .size_limit(1 << 20)
            .build()
            .map_err(|e| data_exception("2201B", format!("invalid regular expression: {e}")))?,
    );
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        c.insert(0, (pattern.to_owned(), options, re.clone()));
        c.truncate(CACHE_SIZE);
    });
    Ok(re)
}

/// Whether `text` matches `pattern` somewhere (`~`, `~*`).
pub(crate) fn is_match(text: &str, pattern: &str, case_insensitive: bool) -> Result<bool> {
    Ok(compile(pattern, Options { case_insensitive, newline_sensitive: false })?.is_match(text))
}

/// The flags of a `regexp_*` call.
struct Flags {
    global: bool,
    options: Options,
}

fn flags(text: Option<&str>, function: &str, global_allowed: bool) -> Result<Flags> {
    let mut f = Flags { global: false, options: Options::default() };
    for c in text.unwrap_or("").chars() {
        match c {
            'g' if global_allowed => f.global = true,
            'i' => f.options.case_insensitive = true,
            'c' => f.options.case_insensitive = false,
            'n' | 'm' => f.options.newline_sensitive = true,
            's' => f.options.newline_sensitive = false,
            // Partial newline sensitivity and syntax flags memdb's matcher
            // does not distinguish: accepted so portable calls work.
            'p' | 'w' | 'x' | 't' => {}
            'g' => {
                return Err(SqlError::InvalidParameter(format!("{function}() does not support the \"global\" option")));
            }
            other => return Err(SqlError::InvalidParameter(format!("invalid regular expression option: \"{other}\""))),
        }
    }
    Ok(f)
}

fn text_array(items: impl IntoIterator<Item = Value>) -> Value {
    Value::Array(Box::new(Array { element_type: DataType::Text, elements: items.into_iter().collect() }))
}

/// `regexp_replace(source, pattern, replacement [, flags])`: `\1`…`\9` in
/// the replacement insert a group, `\&` the whole match, `\\` a backslash.
pub(crate) fn replace(source: &str, pattern: &str, replacement: &str, flag_text: Option<&str>) -> Result<String> {
    let f = flags(flag_text, "regexp_replace", true)?;
    let re = compile(pattern, f.options)?;
    let mut out = String::with_capacity(source.len());
    let mut last = 0;
    for caps in re.captures_iter(source) {
        let Some(whole) = caps.get(0) else { continue };
        out.push_str(&source[last..whole.start()]);
        let mut chars = replacement.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.peek().copied() {
                Some(d @ '1'..='9') => {
                    chars.next();
                    let group = d as usize - '0' as usize;
                    if let Some(m) = caps.get(group) {
                        out.push_str(m.as_str());
                    }
                }
                Some('&') => {
                    chars.next();
                    out.push_str(whole.as_str());
                }
                Some('\\') => {
                    chars.next();
                    out.push('\\');
                }
                _ => out.push('\\'),
            }
        }
        last = whole.end();
        if !f.global {
            break;
        }
    }
    out.push_str(&source[last..]);
    Ok(out)
}

/// `regexp_match(source, pattern [, flags])`: the first match's groups (or
/// the whole match when the pattern has none) as `text[]`, NULL when it
/// does not match.
pub(crate) fn first_match(source: &str, pattern: &str, flag_text: Option<&str>) -> Result<Value> {
    let f = flags(flag_text, "regexp_match", false)?;
    let re = compile(pattern, f.options)?;
    Ok(re.captures(source).map_or(Value::Null, |caps| groups(&caps)))
}

/// Every match's groups (`regexp_matches` with the `g` flag; the first
/// match only without it).
pub(crate) fn all_matches(source: &str, pattern: &str, flag_text: Option<&str>) -> Result<Vec<Value>> {
    let f = flags(flag_text, "regexp_matches", true)?;
    let re = compile(pattern, f.options)?;
    let mut out = Vec::new();
    for caps in re.captures_iter(source) {
        out.push(groups(&caps));
        if !f.global {
            break;
        }
    }
    Ok(out)
}

fn groups(caps: &regex::Captures<'_>) -> Value {
    if caps.len() == 1 {
        return text_array(caps.get(0).map(|m| Value::Text(m.as_str().to_owned())));
    }
    text_array((1..caps.len()).map(|i| caps.get(i).map_or(Value::Null, |m| Value::Text(m.as_str().to_owned()))))
}

/// `regexp_split_to_array` / `regexp_split_to_table`: the pieces between
/// matches; an empty match splits between characters.
pub(crate) fn split(source: &str, pattern: &str, flag_text: Option<&str>) -> Result<Vec<Value>> {
    let f = flags(flag_text, "regexp_split_to_array", false)?;
    let re = compile(pattern, f.options)?;
    let mut out = Vec::new();
    let mut start = 0;
    for m in re.find_iter(source) {
        if m.start() == m.end() {
            // An empty match: split after each character, never at the ends.
            if m.start() == 0 || m.start() >= source.len() {
                continue;
            }
        }
        if m.end() == 0 {
            continue;
        }
        out.push(Value::Text(source[start..m.start()].to_owned()));
        start = m.end();
    }
    out.push(Value::Text(source[start..].to_owned()));
    Ok(out)
}

/// `regexp_split_to_array`
pub(crate) fn split_to_array(source: &str, pattern: &str, flag_text: Option<&str>) -> Result<Value> {
    Ok(text_array(split(source, pattern, flag_text)?))
}

/// `regexp_count(source, pattern [, start [, flags]])`
pub(crate) fn count(source: &str, pattern: &str, start: i64, flag_text: Option<&str>) -> Result<Value> {
    let f = flags(flag_text, "regexp_count", false)?;
    if start < 1 {
        return Err(SqlError::InvalidParameter(format!("invalid value for parameter \"start\": {start}")));
    }
    let re = compile(pattern, f.options)?;
    let from = source.char_indices().nth(usize::try_from(start - 1).unwrap_or(usize::MAX)).map(|(i, _)| i);
    let n = from.map_or(0, |i| re.find_iter(&source[i..]).count());
    Ok(Value::Int4(i32::try_from(n).unwrap_or(i32::MAX)))
}

/// `regexp_like(source, pattern [, flags])`
pub(crate) fn like(source: &str, pattern: &str, flag_text: Option<&str>) -> Result<Value> {
    let f = flags(flag_text, "regexp_like", false)?;
    Ok(Value::Bool(compile(pattern, f.options)?.is_match(source)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(v: &[Value]) -> Vec<String> {
        v.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn replace_follows_postgres_back_references_and_flags() {
        assert_eq!(replace("foobarbaz", "b..", "X", None).ok(), Some("fooXbaz".into()));
        assert_eq!(replace("foobarbaz", "b..", "X", Some("g")).ok(), Some("fooXX".into()));
        assert_eq!(replace("foobarbaz", "b(.)(.)", "[\\2\\1\\&]", Some("g")).ok(), Some("foo[rabar][zabaz]".into()));
        assert_eq!(replace("ABC", "b", "x", Some("i")).ok(), Some("AxC".into()));
        assert!(replace("a", "(", "x", None).is_err());
        assert!(replace("a", "a", "x", Some("q")).is_err());
        // `.` matches a newline unless the `n` flag asks for lines.
        assert_eq!(replace("a\nb", "a.b", "X", None).ok(), Some("X".into()));
        assert_eq!(replace("a\nb", "^b", "X", Some("n")).ok(), Some("a\nX".into()));
        assert_eq!(replace("a\nb", "^b", "X", None).ok(), Some("a\nb".into()));
    }

    #[test]
    fn split_matches_postgres_on_empty_and_edge_matches() {
        assert_eq!(texts(&split("a,b,,c", ",", None).unwrap_or_default()), ["a", "b", "", "c"]);
        assert_eq!(texts(&split("abc", "", None).unwrap_or_default()), ["a", "b", "c"]);
        assert_eq!(texts(&split("hello world", "\\s+", None).unwrap_or_default()), ["hello", "world"]);
        assert_eq!(texts(&split(",a,", ",", None).unwrap_or_default()), ["", "a", ""]);
    }

    #[test]
    fn matches_return_groups_or_the_whole_match() {
        assert_eq!(first_match("foobar", "o(b)(a)", None).ok().map(|v| v.to_string()), Some("{b,a}".into()));
        assert_eq!(first_match("foobar", "ob", None).ok().map(|v| v.to_string()), Some("{ob}".into()));
        assert_eq!(first_match("foobar", "x", None).ok(), Some(Value::Null));
        assert_eq!(all_matches("a1b22c333", "\\d+", Some("g")).map(|v| v.len()).ok(), Some(3));
        assert!(first_match("a", "a", Some("g")).is_err());
    }
}
