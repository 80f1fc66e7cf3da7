//! The Go example in `examples/go` (database/sql with lib/pq, a standard
//! driver) against the real server. Skips, saying so, without Go or lib/pq
//! (Debian: golang-go, golang-github-lib-pq-dev; `.ci/run` installs them).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;

const GOPATH: &str = "/usr/share/gocode";

#[test]
fn the_go_example_runs_against_the_server() {
    let has_go = Command::new("go").arg("version").output().is_ok_and(|o| o.status.success());
    if !has_go || !Path::new(GOPATH).join("src/github.com/lib/pq").is_dir() {
        eprintln!("SKIPPED: Go or lib/pq is not installed (apt-get install golang-go golang-github-lib-pq-dev)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let _server = common::start(&dir.path().join("data"), &["--durability", "memory-only"], "", port);
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/go/main.go");
    let output = Command::new("go")
        .arg("run")
        .arg(&example)
        .arg(format!("postgres://memdb@127.0.0.1:{port}/memdb?sslmode=disable"))
        .env("GO111MODULE", "off")
        .env("GOPATH", GOPATH)
        .env("GOCACHE", dir.path().join("gocache"))
        .env("GOFLAGS", "")
        .output()
        .expect("go runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(stdout.trim(), "item 2 is two");
}
