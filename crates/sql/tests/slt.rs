//! Runs the project's own sqllogictest files (`tests/slt/*.slt`) with the
//! `sqllogictest` crate, in-process: one fresh database per file, one
//! session per named connection (so files can test concurrent
//! transactions). Values are printed as PostgreSQL's text format prints
//! them; `NULL` is `NULL` and the empty string `(empty)`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;

use memdb_engine::{Config, Database, Value};
use memdb_sql::{Session, SqlError};
use sqllogictest::{DBOutput, DefaultColumnType};

struct Memdb {
    session: Session,
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Text(s) if s.is_empty() => "(empty)".into(),
        other => other.to_string(),
    }
}

impl sqllogictest::DB for Memdb {
    type Error = SqlError;
    type ColumnType = DefaultColumnType;

    fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, SqlError> {
        let result = self.session.execute(sql)?;
        if result.columns.is_empty() {
            let count = result.tag.rsplit(' ').next().and_then(|n| n.parse().ok()).unwrap_or(0);
            return Ok(DBOutput::StatementComplete(count));
        }
        Ok(DBOutput::Rows {
            types: vec![DefaultColumnType::Any; result.columns.len()],
            rows: result.rows.iter().map(|r| r.iter().map(text).collect()).collect(),
        })
    }

    fn engine_name(&self) -> &str {
        "memdb"
    }

    fn error_sql_state(err: &SqlError) -> Option<String> {
        Some(err.sqlstate().to_owned())
    }
}

fn run(path: &Path) {
    let db = Arc::new(Database::open(Config::memory()).unwrap());
    let mut runner = sqllogictest::Runner::new(move || {
        let db = db.clone();
        async move { Ok::<_, SqlError>(Memdb { session: Session::new(db, "memdb") }) }
    });
    runner.add_label("memdb");
    runner.add_label("postgresql");
    runner.with_column_validator(|_, _| true);
    if let Err(e) = runner.run_file(path) {
        panic!("{}: {}", path.display(), e.display(true));
    }
}

#[test]
fn project_slt_files() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/slt");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .slt files in {}", dir.display());
    let mut failures = Vec::new();
    for file in &files {
        if let Err(panic) = std::panic::catch_unwind(|| run(file)) {
            let message = panic.downcast_ref::<String>().cloned().unwrap_or_else(|| "panic".into());
            failures.push(message);
        }
    }
    assert!(failures.is_empty(), "{} of {} files failed:\n{}", failures.len(), files.len(), failures.join("\n\n"));
}
