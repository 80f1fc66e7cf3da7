//! The SQL layer's own sqllogictest files (`crates/sql/tests/slt`), run over
//! pgwire against a real server with a real client (tokio-postgres, simple
//! query protocol), as the SQL tests run them in-process: the answers must
//! not change on the way through the wire.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::TestServer;
use sqllogictest::{DBOutput, DefaultColumnType};
use tokio_postgres::SimpleQueryMessage;

/// One client connection, driven from the runner's synchronous calls.
struct WireDb {
    runtime: Arc<tokio::runtime::Runtime>,
    client: tokio_postgres::Client,
}

/// A client-side error: the server's SQLSTATE and message, or a transport
/// failure.
#[derive(Debug)]
struct WireError(tokio_postgres::Error);

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.as_db_error() {
            Some(db) => write!(f, "{} ({})", db.message(), db.code().code()),
            None => write!(f, "{}", self.0),
        }
    }
}

impl std::error::Error for WireError {}

impl sqllogictest::DB for WireDb {
    type Error = WireError;
    type ColumnType = DefaultColumnType;

    fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, WireError> {
        let messages = self.runtime.block_on(self.client.simple_query(sql)).map_err(WireError)?;
        let mut described = None;
        let mut rows = Vec::new();
        let mut count = 0;
        for m in messages {
            match m {
                SimpleQueryMessage::RowDescription(columns) => described = Some(columns.len()),
                SimpleQueryMessage::Row(row) => {
                    rows.push(
                        (0..row.len())
                            .map(|i| match row.get(i) {
                                None => "NULL".to_owned(),
                                Some("") => "(empty)".to_owned(),
                                Some(v) => v.to_owned(),
                            })
                            .collect(),
                    );
                }
                SimpleQueryMessage::CommandComplete(n) => count = n,
                _ => {}
            }
        }
        Ok(match described {
            Some(width) if width > 0 => DBOutput::Rows { types: vec![DefaultColumnType::Any; width], rows },
            _ => DBOutput::StatementComplete(count),
        })
    }

    fn engine_name(&self) -> &str {
        "memdb"
    }

    fn error_sql_state(err: &WireError) -> Option<String> {
        err.0.code().map(|c| c.code().to_owned())
    }
}

fn slt_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sql/tests/slt");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("the SQL layer's slt directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .collect();
    files.sort();
    files
}

/// Runs one file against a fresh server; each named connection of the
/// file is a connection of its own.
fn run(path: &Path) -> Result<(), String> {
    let server = TestServer::start();
    let conn_str = server.conn_str();
    let runtime = Arc::new(
        tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| format!("runtime: {e}"))?,
    );
    let mut runner = sqllogictest::Runner::new(move || {
        let runtime = runtime.clone();
        let conn_str = conn_str.clone();
        async move {
            let (client, connection) =
                runtime.block_on(tokio_postgres::connect(&conn_str, tokio_postgres::NoTls)).map_err(WireError)?;
            runtime.spawn(async move {
                let _ = connection.await;
            });
            Ok::<_, WireError>(WireDb { runtime, client })
        }
    });
    runner.add_label("memdb");
    runner.add_label("postgresql");
    runner.with_column_validator(|_, _| true);
    runner.run_file(path).map_err(|e| format!("{}: {}", path.display(), e.display(true)))
}

#[test]
fn project_slt_files_over_pgwire() {
    let files = slt_files();
    assert!(!files.is_empty(), "no .slt files found");
    let failures: Vec<String> = files.iter().filter_map(|f| run(f).err()).collect();
    assert!(
        failures.is_empty(),
        "{} of {} files failed over pgwire:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
}
