//! Graceful shutdown of the real binary: SIGTERM under load lets running
//! statements finish, tells idle clients why they are disconnected, exits
//! 0, and loses nothing that was acknowledged.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn sigterm(server: &common::Server) {
    let status = std::process::Command::new("kill").args(["-TERM", &server.child.id().to_string()]).status().unwrap();
    assert!(status.success());
}

/// Waits for the server process to end by itself (30 s at most).
async fn exit_status(server: &mut common::Server, since: Instant, data: &std::path::Path) -> std::process::ExitStatus {
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            return status;
        }
        assert!(since.elapsed() < Duration::from_secs(30), "still running; log:\n{}", common::log_of(data));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_under_load_finishes_running_work_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = common::free_port();
    let flags = ["--durability", "sync", "--shutdown-grace-period", "5s"];
    let mut server = common::start(&data, &flags, "", port);
    let setup = common::connect(port).await;
    setup.batch_execute("CREATE TABLE t (writer int, seq int, PRIMARY KEY (writer, seq))").await.unwrap();

    let acked = Arc::new(Mutex::new(Vec::new()));
    let mut writers = Vec::new();
    for w in 0..4 {
        let (acked, client) = (acked.clone(), common::connect(port).await);
        writers.push(tokio::spawn(async move {
            for seq in 0.. {
                if client.execute("INSERT INTO t VALUES ($1, $2)", &[&w, &seq]).await.is_err() {
                    break;
                }
                acked.lock().unwrap().push((w, seq));
            }
        }));
    }
    let idle = common::connect(port).await;
    let sleeper = common::connect(port).await;
    let sleeping = tokio::spawn(async move { sleeper.simple_query("SELECT pg_sleep(1.5)").await.map(drop) });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stopped_at = Instant::now();
    sigterm(&server);

    // The running statement finishes and is answered.
    sleeping.await.unwrap().expect("a statement running at SIGTERM completes");
    for w in writers {
        w.await.unwrap();
    }
    // The idle client was told why it lost its connection.
    let err = idle.simple_query("SELECT 1").await.unwrap_err();
    assert!(err.is_closed() || err.code().is_some_and(|c| c.code() == "57P01"), "{err}");
    // The process ends by itself, successfully.
    let status = exit_status(&mut server, stopped_at, &data).await;
    assert!(status.success(), "exit {status}; log:\n{}", common::log_of(&data));
    assert!(stopped_at.elapsed() < Duration::from_secs(5), "took {:?}", stopped_at.elapsed());
    let log = common::log_of(&data);
    assert!(log.contains("memdb stopped"), "{log}");

    // Everything acknowledged is there after a restart.
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    assert!(acked.len() > 10, "the writers wrote ({} rows)", acked.len());
    drop(server);
    let _server = common::start(&data, &flags, "", port);
    let client = common::connect(port).await;
    let rows = client.query("SELECT writer, seq FROM t", &[]).await.unwrap();
    let stored: std::collections::HashSet<(i32, i32)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    let missing: Vec<_> = acked.iter().filter(|k| !stored.contains(k)).collect();
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_still_running_after_the_grace_period_is_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = common::free_port();
    let mut server =
        common::start(&data, &["--durability", "memory-only", "--shutdown-grace-period", "500ms"], "", port);
    let sleeper = common::connect(port).await;
    let sleeping = tokio::spawn(async move { sleeper.simple_query("SELECT pg_sleep(60)").await.map(drop) });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stopped_at = Instant::now();
    sigterm(&server);
    let err = sleeping.await.unwrap().expect_err("cancelled");
    assert!(err.is_closed() || err.code().is_some_and(|c| c.code() == "57014"), "{err}");
    let status = exit_status(&mut server, stopped_at, &data).await;
    assert!(status.success(), "exit {status}");
    assert!(stopped_at.elapsed() < Duration::from_secs(5), "took {:?}", stopped_at.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_shuts_down_cleanly_and_keeps_what_was_committed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = common::free_port();
    let mut server = common::start(&data, &["--durability", "sync"], "", port);
    let client = common::connect(port).await;
    client.batch_execute("CREATE TABLE kept (id int PRIMARY KEY); INSERT INTO kept VALUES (1), (2)").await.unwrap();
    drop(client);
    // Ctrl-C in a terminal is SIGINT to the process.
    let stopped_at = Instant::now();
    let status = std::process::Command::new("kill").args(["-INT", &server.child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let status = exit_status(&mut server, stopped_at, &data).await;
    assert!(status.success(), "exit {status}; log:\n{}", common::log_of(&data));
    assert!(common::log_of(&data).contains("memdb stopped"), "log:\n{}", common::log_of(&data));
    let mut server = common::start(&data, &["--durability", "sync"], "", port);
    let client = common::connect(port).await;
    let row = client.query_one("SELECT count(*) FROM kept", &[]).await.unwrap();
    assert_eq!(row.get::<_, i64>(0), 2);
    drop(client);
    let _ = server.child.kill();
}
