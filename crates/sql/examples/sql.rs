//! Runs SQL against an in-memory memdb and prints the results, as a quick
//! way to try the SQL layer before the server exists.
//!
//! ```sh
//! cargo run --release -p memdb-sql --example sql -- "CREATE TABLE t (a int); INSERT INTO t VALUES (1), (2); SELECT sum(a) FROM t"
//! echo "SELECT 1 + 1" | cargo run --release -p memdb-sql --example sql
//! ```
//!
//! Arguments are run in order, as one session; without arguments, standard
//! input is read and run statement by statement (`;`-separated).

use std::io::Read;
use std::sync::Arc;

use memdb_engine::{Config, Database};
use memdb_sql::{QueryResult, Session};

fn print(result: &QueryResult) {
    if result.columns.is_empty() {
        println!("{}", result.tag);
        return;
    }
    let cells: Vec<Vec<String>> = result
        .rows
        .iter()
        .map(|r| r.iter().map(|v| if v.is_null() { String::new() } else { v.to_string() }).collect())
        .collect();
    let mut widths: Vec<usize> = result.columns.iter().map(|c| c.name.chars().count()).collect();
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line =
        |values: Vec<&str>| values.iter().zip(&widths).map(|(v, w)| format!(" {v:<w$} ")).collect::<Vec<_>>().join("|");
    println!("{}", line(result.columns.iter().map(|c| c.name.as_str()).collect()));
    println!("{}", widths.iter().map(|w| "-".repeat(w + 2)).collect::<Vec<_>>().join("+"));
    for row in &cells {
        println!("{}", line(row.iter().map(String::as_str).collect()));
    }
    println!("({} row{})", cells.len(), if cells.len() == 1 { "" } else { "s" });
}

fn main() -> std::process::ExitCode {
    let mut inputs: Vec<String> = std::env::args().skip(1).collect();
    if inputs.is_empty() {
        let mut text = String::new();
        if std::io::stdin().read_to_string(&mut text).is_err() {
            eprintln!("could not read standard input");
            return std::process::ExitCode::FAILURE;
        }
        inputs.push(text);
    }
    let db = match Database::open(Config::memory()) {
        Ok(db) => Arc::new(db),
        Err(e) => {
            eprintln!("{e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let mut session = Session::new(db, "memdb");
    let mut failed = false;
    for input in inputs {
        for result in session.run(&input) {
            match result {
                Ok(r) => print(&r),
                Err(e) => {
                    eprintln!("ERROR: {e} (SQLSTATE {})", e.sqlstate());
                    failed = true;
                }
            }
        }
    }
    if failed { std::process::ExitCode::FAILURE } else { std::process::ExitCode::SUCCESS }
}
