//! The benchmark drivers end to end, briefly: `memdb-bench ycsb` and
//! `memdb-bench tpcc` against memdb embedded, over pgwire and over RESP (a
//! real server on loopback ports), and `memdb-bench chart` on what they
//! wrote. Comparisons with PostgreSQL, SQLite and Redis are the scripts'
//! business, not the tests'.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] functions

// The server tests' in-process server on free loopback ports.
#[path = "../../server/tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::Command;

use common::TestServer;

fn pg_url(server: &TestServer) -> String {
    format!("postgres://memdb@{}/memdb", server.addr)
}

/// Runs `memdb-bench` with `args`; returns its standard output, failing the
/// test (with both outputs) when it exits unsuccessfully.
fn bench(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_memdb-bench")).args(args).output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "memdb-bench {args:?} failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
    stdout.into_owned()
}

fn total_rows(csv: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(csv)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_owned).collect::<Vec<_>>())
        .filter(|cells| cells[7] == "total")
        .collect()
}

#[test]
fn ycsb_runs_every_workload_embedded_over_pgwire_and_over_resp() {
    let server = TestServer::start_resp();
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("ycsb.csv");
    let json = dir.path().join("ycsb.jsonl");
    let pg = pg_url(&server);
    let resp = format!("redis://{}", server.resp.unwrap());
    let mut runs = 0;
    for workload in ["a", "b", "c", "d", "e", "f"] {
        for target in ["embedded", pg.as_str(), resp.as_str()] {
            if workload == "e" && target.starts_with("redis") {
                continue;
            }
            let out = bench(&[
                "ycsb",
                "--workload",
                workload,
                "--target",
                target,
                "--records",
                "2000",
                "--operations",
                "3000",
                "--threads",
                "2",
                "--duration",
                "5",
                "--csv",
                csv.to_str().unwrap(),
                "--json",
                json.to_str().unwrap(),
            ]);
            assert!(out.contains("p99.9"), "no latency table:\n{out}");
            runs += 1;
        }
    }
    let totals = total_rows(&csv);
    assert_eq!(totals.len(), runs);
    let systems: Vec<&str> = totals.iter().map(|r| r[2].as_str()).collect();
    assert!(systems.contains(&"memdb (embedded)") && systems.contains(&"memdb (pgwire)"));
    assert!(systems.contains(&"memdb (resp)"));
    for row in &totals {
        let throughput: f64 = row[8].parse().unwrap();
        assert!(throughput > 0.0, "{row:?}");
    }
    // No operation failed: every read found its record.
    let failed: u64 = std::fs::read_to_string(&csv)
        .unwrap()
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').nth(11).and_then(|f| f.parse::<u64>().ok()))
        .sum();
    assert_eq!(failed, 0);
    assert_eq!(std::fs::read_to_string(&json).unwrap().lines().count(), runs);

    let svg = dir.path().join("chart.svg");
    bench(&["chart", "--csv", csv.to_str().unwrap(), "--output", svg.to_str().unwrap()]);
    assert!(std::fs::read_to_string(&svg).unwrap().contains("memdb (pgwire)"));
}

#[test]
fn ycsb_refuses_scans_over_resp_and_unknown_targets() {
    let server = TestServer::start_resp();
    let resp = format!("redis://{}", server.resp.unwrap());
    for (target, message) in [(resp.as_str(), "ordered keys"), ("mysql://x", "unknown target")] {
        let out = Command::new(env!("CARGO_BIN_EXE_memdb-bench"))
            .args(["ycsb", "--workload", "e", "--target", target, "--records", "10", "--operations", "10"])
            .output()
            .unwrap();
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(message), "{stderr}");
    }
}

#[test]
fn tpcc_runs_embedded_and_over_pgwire_and_its_checks_hold() {
    let server = TestServer::start_resp();
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("tpcc.csv");
    let pg = pg_url(&server);
    for (target, pipeline) in [("embedded", false), (pg.as_str(), false), (pg.as_str(), true)] {
        let mut args = vec![
            "tpcc",
            "--warehouses",
            "1",
            "--duration",
            "4",
            "--terminals",
            "2",
            "--target",
            target,
            "--csv",
            csv.to_str().unwrap(),
        ];
        if pipeline {
            args.push("--pipeline");
        }
        let out = bench(&args);
        for condition in 1..=4 {
            assert!(out.contains(&format!("condition {condition} holds")), "{out}");
        }
        assert!(out.contains("new_order") && out.contains("stock_level"), "{out}");
    }
    let totals = total_rows(&csv);
    assert_eq!(totals.len(), 3);
    for row in &totals {
        assert_eq!(row[9], "tpmC");
        assert!(row[8].parse::<f64>().unwrap() > 0.0, "{row:?}");
    }
}
