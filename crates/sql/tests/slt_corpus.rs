//! Scores the public sqllogictest corpus (`../shared/slt`) in-process,
//! the way `../shared/tools/run-slt.sh` scores a server: records are
//! evaluated as `postgresql`, values rendered by the type letters of each
//! query (I, R, T) as SQLite's harness renders them, sorted per the sort
//! mode, hashed past the hash threshold, then compared.
//!
//! `cargo test -p memdb-sql --release --test slt_corpus -- --nocapture`
//! prints per-file counts. `MEMDB_SLT_FILES` (comma-separated paths
//! relative to the corpus root) restricts the run; `MEMDB_SLT_VERBOSE=1`
//! prints the first failures of each file. The test fails if the pass rate
//! falls below the floor recorded here, so a regression is caught.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod slt_harness;

use std::path::{Path, PathBuf};

use slt_harness::{FileScore, run_file};

/// The minimum share of records that must pass (a regression guard; the
/// measured figure is in the crate README).
const PASS_FLOOR: f64 = 0.97;

fn corpus_root() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/slt");
    root.is_dir().then_some(root)
}

fn files(root: &Path) -> Vec<PathBuf> {
    if let Ok(list) = std::env::var("MEMDB_SLT_FILES") {
        return list.split(',').filter(|s| !s.is_empty()).map(|f| root.join(f)).collect();
    }
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "test") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn public_corpus() {
    let Some(root) = corpus_root() else {
        eprintln!("skipping: ../shared/slt not found");
        return;
    };
    let verbose = std::env::var("MEMDB_SLT_VERBOSE").is_ok();
    let mut total = FileScore::default();
    for file in files(&root) {
        let score = run_file(&file, verbose);
        println!(
            "{:<50} passed {:>6} failed {:>6} skipped {:>6}  ({:.1}s)",
            file.strip_prefix(&root).unwrap_or(&file).display(),
            score.passed,
            score.failed,
            score.skipped,
            score.seconds
        );
        total.add(&score);
    }
    let rate = total.passed as f64 / (total.passed + total.failed).max(1) as f64;
    println!("TOTAL passed {} failed {} skipped {} ({:.2}%)", total.passed, total.failed, total.skipped, rate * 100.0);
    assert!(rate >= PASS_FLOOR, "pass rate {:.2}% fell below the floor {:.2}%", rate * 100.0, PASS_FLOOR * 100.0);
}
