//! The record reader and scorer for SQLite-style sqllogictest files, shared
//! by the corpus test. Records are read as `../shared/tools/slt_tool.py`
//! reads them; values are rendered as its harness mode renders them.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use md5::{Digest, Md5};
use memdb_engine::{Config, Database, Value};
use memdb_sql::Session;

/// Counts for one file (or a total).
#[derive(Default, Debug, Clone)]
pub struct FileScore {
    pub passed: u64,
    pub failed: u64,
    pub skipped: u64,
    pub seconds: f64,
}

impl FileScore {
    pub fn add(&mut self, other: &FileScore) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.skipped += other.skipped;
        self.seconds += other.seconds;
    }
}

enum Record {
    Statement { ok: bool, sql: String },
    Query { types: String, sort: String, sql: String, expected: Vec<String>, error: bool },
    HashThreshold(usize),
    Halt,
}

const LABEL: &str = "postgresql";

fn skipped(conds: &[(String, String)]) -> bool {
    conds.iter().any(|(c, l)| (c == "skipif" && l == LABEL) || (c == "onlyif" && l != LABEL))
}

/// Reads records, dropping those that do not run for `postgresql`;
/// returns them and how many were skipped.
fn read(text: &str) -> (Vec<Record>, u64) {
    let text = text.replace("\r\n", "\n");
    let lines: Vec<&str> = text.split('\n').collect();
    let mut out = Vec::new();
    let mut conds: Vec<(String, String)> = Vec::new();
    let mut skipped_count = 0;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        i += 1;
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.is_empty() || line.starts_with('#') {
            continue;
        }
        match words[0] {
            "skipif" | "onlyif" => {
                conds.push((words[0].to_owned(), words.get(1).unwrap_or(&"").to_string()));
                continue;
            }
            "hash-threshold" => {
                out.push(Record::HashThreshold(words.get(1).and_then(|n| n.parse().ok()).unwrap_or(0)));
                conds.clear();
                continue;
            }
            "halt" => {
                if !skipped(&conds) {
                    out.push(Record::Halt);
                }
                conds.clear();
                continue;
            }
            "statement" | "query" => {}
            _ => {
                conds.clear();
                continue;
            }
        }
        let mut body = Vec::new();
        while i < lines.len() && !lines[i].trim().is_empty() {
            if !lines[i].starts_with('#') {
                body.push(lines[i]);
            }
            i += 1;
        }
        let (sql, res): (Vec<&str>, Vec<&str>) = match body.iter().position(|l| *l == "----") {
            Some(k) => (body[..k].to_vec(), body[k + 1..].to_vec()),
            None => (body.clone(), Vec::new()),
        };
        let skip = skipped(&conds);
        conds.clear();
        if skip {
            skipped_count += 1;
            continue;
        }
        let sql = sql.join("\n").trim().to_owned();
        if words[0] == "statement" {
            out.push(Record::Statement { ok: words.get(1) != Some(&"error"), sql });
        } else if words.get(1) == Some(&"error") {
            out.push(Record::Query {
                types: String::new(),
                sort: String::new(),
                sql,
                expected: Vec::new(),
                error: true,
            });
        } else {
            out.push(Record::Query {
                types: words.get(1).unwrap_or(&"").to_string(),
                sort: words.get(2).unwrap_or(&"nosort").to_string(),
                sql,
                expected: res.iter().map(|s| s.to_string()).collect(),
                error: false,
            });
        }
    }
    (out, skipped_count)
}

/// A value as PostgreSQL's text output would carry it.
fn text(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Bool(b) => if *b { "t" } else { "f" }.into(),
        other => other.to_string(),
    }
}

/// SQLite's harness rendering of a text value for a type letter.
pub fn render(v: &str, t: char) -> String {
    if v == "NULL" {
        return v.to_owned();
    }
    match t {
        'I' => {
            if let Ok(n) = v.parse::<i128>() {
                return n.to_string();
            }
            match v {
                "t" | "true" => return "1".into(),
                "f" | "false" => return "0".into(),
                _ => {}
            }
            if let Ok(f) = v.parse::<f64>()
                && f.is_finite()
            {
                return format!("{}", f.trunc() as i128);
            }
            let digits: String = v
                .trim_start()
                .chars()
                .enumerate()
                .take_while(|(i, c)| c.is_ascii_digit() || (*i == 0 && (*c == '-' || *c == '+')))
                .map(|(_, c)| c)
                .collect();
            digits.parse::<i128>().map(|n| n.to_string()).unwrap_or_else(|_| "0".into())
        }
        'R' => match v {
            "t" | "true" => "1.000".into(),
            "f" | "false" => "0.000".into(),
            _ => match v.parse::<f64>() {
                Ok(f) => format!("{f:.3}"),
                Err(_) => "0.000".into(),
            },
        },
        _ => {
            if v.is_empty() {
                return "(empty)".into();
            }
            v.chars().map(|c| if (c as u32) < 32 || (c as u32) > 126 { '@' } else { c }).collect()
        }
    }
}

fn md5_values(values: &[String]) -> String {
    let mut h = Md5::new();
    for v in values {
        h.update(v.as_bytes());
        h.update(b"\n");
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn norm(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Runs one file on a fresh database and scores it.
pub fn run_file(path: &Path, verbose: bool) -> FileScore {
    let started = Instant::now();
    let bytes = std::fs::read(path).unwrap_or_default();
    let (records, skipped) = read(&String::from_utf8_lossy(&bytes));
    let db = Arc::new(Database::open(Config::memory().with_gc_interval(None)).expect("open"));
    let mut session = Session::new(db.clone(), "slt");
    let mut score = FileScore { skipped, ..Default::default() };
    let mut threshold = 8;
    let mut shown = 0;
    let mut n = 0;
    for record in records {
        n += 1;
        if n % 5000 == 0 {
            db.gc();
        }
        let (ok, sql, detail) = match record {
            Record::HashThreshold(t) => {
                threshold = t;
                continue;
            }
            Record::Halt => break,
            Record::Statement { ok, sql } => {
                let r = session.execute(&sql);
                let pass = r.is_ok() == ok;
                let detail = match &r {
                    Err(e) => format!("error: {e}"),
                    Ok(_) => "succeeded".into(),
                };
                (pass, sql, detail)
            }
            Record::Query { error: true, sql, .. } => {
                let r = session.execute(&sql);
                (r.is_err(), sql, "expected an error".into())
            }
            Record::Query { types, sort, sql, expected, .. } => match session.execute(&sql) {
                Err(e) => (false, sql, format!("error: {e}")),
                Ok(result) => {
                    let letters: Vec<char> = types.chars().collect();
                    let mut rows: Vec<Vec<String>> = result
                        .rows
                        .iter()
                        .map(|r| {
                            r.iter()
                                .enumerate()
                                .map(|(i, v)| render(&text(v), *letters.get(i).unwrap_or(&'T')))
                                .collect()
                        })
                        .collect();
                    let width_ok = rows.iter().all(|r| r.len() == letters.len().max(1));
                    if sort == "rowsort" {
                        rows.sort();
                    }
                    let mut values: Vec<String> = rows.into_iter().flatten().collect();
                    if sort == "valuesort" {
                        values.sort();
                    }
                    let shown_values = if threshold > 0 && values.len() > threshold {
                        vec![format!("{} values hashing to {}", values.len(), md5_values(&values))]
                    } else {
                        values
                    };
                    let expected: Vec<String> = expected.iter().map(|e| norm(e)).collect();
                    let actual: Vec<String> = shown_values.iter().map(|a| norm(a)).collect();
                    let pass = width_ok && expected == actual;
                    (pass, sql, format!("got {:?}", actual.iter().take(12).collect::<Vec<_>>()))
                }
            },
        };
        if ok {
            score.passed += 1;
        } else {
            score.failed += 1;
            if verbose && shown < 8 {
                shown += 1;
                eprintln!("FAIL {}: {}\n   {}", path.display(), sql.replace('\n', " "), detail);
            }
        }
    }
    score.seconds = started.elapsed().as_secs_f64();
    score
}
