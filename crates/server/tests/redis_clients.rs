//! Real Redis clients against the server: `redis-cli` (commands, pipe
//! mode, `--scan`) and `redis-benchmark`. Each test says so and passes
//! vacuously when its client is not installed (`.ci/run` installs them).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use common::TestServer;

/// Whether a program is on the PATH.
fn have(program: &str) -> bool {
    Command::new(program).arg("--version").output().is_ok_and(|o| o.status.success())
}

fn cli(server: &TestServer, args: &[&str]) -> String {
    let port = server.resp.expect("RESP listener").port().to_string();
    let out: Output =
        Command::new("redis-cli").args(["-h", "127.0.0.1", "-p", &port]).args(args).output().expect("run");
    assert!(out.status.success(), "redis-cli {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim_end().to_owned()
}

#[test]
fn redis_cli_runs_commands_pipes_and_scans() {
    if !have("redis-cli") {
        eprintln!("SKIPPED: redis-cli is not installed (apt-get install redis-tools)");
        return;
    }
    let server = TestServer::start_resp();
    assert_eq!(cli(&server, &["PING"]), "PONG");
    assert_eq!(cli(&server, &["SET", "greeting", "hello world", "EX", "100"]), "OK");
    assert_eq!(cli(&server, &["GET", "greeting"]), "hello world");
    assert_eq!(cli(&server, &["TTL", "greeting"]), "100");
    assert_eq!(cli(&server, &["RPUSH", "l", "a", "b", "c"]), "3");
    assert_eq!(cli(&server, &["LRANGE", "l", "0", "-1"]), "a\nb\nc");
    assert!(cli(&server, &["LPUSH", "greeting", "x"]).starts_with("WRONGTYPE"));
    assert!(cli(&server, &["INFO", "keyspace"]).contains("db0:keys=2"));

    // --pipe: a stream of raw protocol, as bulk loaders send it.
    let port = server.resp.unwrap().port().to_string();
    let mut pipe = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port, "--pipe"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let stdin = pipe.stdin.as_mut().unwrap();
        for i in 0..5000 {
            let key = format!("bulk:{i}");
            write!(stdin, "*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n$1\r\nv\r\n", key.len()).unwrap();
        }
    }
    let out = pipe.wait_with_output().unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && report.contains("errors: 0, replies: 5000"), "{report}");
    assert_eq!(cli(&server, &["DBSIZE"]), "5002");
    let scanned = cli(&server, &["--scan", "--pattern", "bulk:*"]);
    assert_eq!(scanned.lines().count(), 5000);
}

#[test]
fn redis_benchmark_completes_without_errors() {
    if !have("redis-benchmark") {
        eprintln!("SKIPPED: redis-benchmark is not installed (apt-get install redis-tools)");
        return;
    }
    let server = TestServer::start_resp();
    let port = server.resp.unwrap().port().to_string();
    let out = Command::new("redis-benchmark")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-t",
            "set,get,incr,lpush,rpush,lpop,rpop,mset",
            "-n",
            "2000",
            "-c",
            "8",
        ])
        .args(["-P", "4", "-r", "100", "--csv"])
        .output()
        .unwrap();
    let csv = String::from_utf8_lossy(&out.stdout);
    let errors = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && !errors.contains("ERR") && !errors.contains("rror"), "{errors}");
    for test in ["SET", "GET", "INCR", "LPUSH", "RPUSH", "LPOP", "RPOP", "MSET (10 keys)"] {
        assert!(csv.contains(&format!("\"{test}\"")), "{test} missing from:\n{csv}");
    }
}
