//! Crash tests: the real `memdb serve` is killed with SIGKILL at random
//! moments while clients write, restarted on the same data directory, and
//! checked.
//!
//! - `sync`: every acknowledged commit is present after every kill (zero
//!   loss), over 20 kills, with background checkpoints and log recycling
//!   running (small segments, short checkpoint interval) and an explicit
//!   CHECKPOINT racing the load in some rounds.
//! - `async`: what is lost was acknowledged within the flush interval (plus
//!   scheduling slack) before the kill.
//! - both: no transaction is ever half there (3 rows or none).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;

use common::{connect, free_port, log_of};

const WRITERS: i64 = 4;

fn start(dir: &std::path::Path, durability: &str, port: u16) -> common::Server {
    common::start(
        dir,
        &["--durability", durability],
        "wal_segment_size = \"128kB\"\ncheckpoint_interval = \"300ms\"\nflush_interval = \"10ms\"\n",
        port,
    )
}

/// What the clients were told was committed, with when.
#[derive(Default)]
struct Acked {
    rows: Vec<(i64, i64, Instant)>,
    transactions: Vec<(i64, i64, Instant)>,
}

/// Writes until the server dies: single-row autocommit INSERTs, and every
/// fifth write a three-row transaction.
async fn writer(port: u16, writer: i64, first_seq: i64, acked: Arc<Mutex<Acked>>) {
    let client = connect(port).await;
    let single = client.prepare("INSERT INTO acked (writer, seq) VALUES ($1, $2)").await.unwrap();
    let part = client.prepare("INSERT INTO tx (writer, seq, part) VALUES ($1, $2, $3)").await.unwrap();
    let mut seq = first_seq;
    loop {
        seq += 1;
        if seq % 5 == 0 {
            let ok = async {
                client.batch_execute("BEGIN").await?;
                for p in 0..3 {
                    client.execute(&part, &[&writer, &seq, &p]).await?;
                }
                client.batch_execute("COMMIT").await
            }
            .await;
            match ok {
                Ok(()) => acked.lock().unwrap().transactions.push((writer, seq, Instant::now())),
                Err(_) => return,
            }
        } else {
            match client.execute(&single, &[&writer, &seq]).await {
                Ok(_) => acked.lock().unwrap().rows.push((writer, seq, Instant::now())),
                Err(_) => return,
            }
        }
    }
}

/// Checks the restarted server against what was acknowledged; returns the
/// acknowledged rows and transactions that are missing, with the time
/// between their acknowledgement and the kill.
async fn missing(port: u16, acked: &Acked, killed_at: Instant) -> Vec<Duration> {
    let client = connect(port).await;
    let present: HashSet<(i64, i64)> = client
        .query("SELECT writer, seq FROM acked", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let mut lost: Vec<Duration> = acked
        .rows
        .iter()
        .filter(|(w, s, _)| !present.contains(&(*w, *s)))
        .map(|(_, _, at)| killed_at.saturating_duration_since(*at))
        .collect();
    let groups: Vec<(i64, i64, i64)> = client
        .query("SELECT writer, seq, count(*) FROM tx GROUP BY writer, seq", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    for (w, s, n) in &groups {
        assert_eq!(*n, 3, "transaction ({w}, {s}) is partly visible: {n} of 3 rows");
    }
    let whole: HashSet<(i64, i64)> = groups.iter().map(|(w, s, _)| (*w, *s)).collect();
    lost.extend(
        acked
            .transactions
            .iter()
            .filter(|(w, s, _)| !whole.contains(&(*w, *s)))
            .map(|(_, _, at)| killed_at.saturating_duration_since(*at)),
    );
    lost
}

/// Runs `kills` rounds of load + SIGKILL + restart + check.
fn crash_rounds(durability: &str, kills: usize, check: impl Fn(usize, &[Duration], usize)) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut server = start(&data, durability, port);
    runtime.block_on(async {
        let client = connect(port).await;
        client
            .batch_execute(
                "CREATE TABLE acked (writer bigint, seq bigint, PRIMARY KEY (writer, seq));
                 CREATE TABLE tx (writer bigint, seq bigint, part int, PRIMARY KEY (writer, seq, part))",
            )
            .await
            .unwrap();
    });
    let mut rng = rand::rng();
    let mut total_acked = 0;
    for round in 0..kills {
        let acked = Arc::new(Mutex::new(Acked::default()));
        let killed_at = runtime.block_on(async {
            let mut tasks = Vec::new();
            for w in 0..WRITERS {
                let first = (round as i64 + 1) * 10_000_000;
                tasks.push(tokio::spawn(writer(port, w, first, acked.clone())));
            }
            if round % 4 == 1 {
                // An explicit checkpoint races the writers.
                let client = connect(port).await;
                tasks.push(tokio::spawn(async move {
                    let _ = client.batch_execute("CHECKPOINT").await;
                }));
            }
            tokio::time::sleep(Duration::from_millis(rng.random_range(150..500))).await;
            server.child.kill().unwrap();
            let killed_at = Instant::now();
            server.child.wait().unwrap();
            for t in tasks {
                let _ = t.await;
            }
            killed_at
        });
        server = start(&data, durability, port);
        let acked = acked.lock().unwrap();
        let lost = runtime.block_on(missing(port, &acked, killed_at));
        let acked_now = acked.rows.len() + acked.transactions.len();
        assert!(acked_now > 0, "round {round}: the load made no progress; log:\n{}", log_of(&data));
        total_acked += acked_now;
        check(round, &lost, acked_now);
    }
    server.child.kill().unwrap();
    let _ = server.child.wait();
    assert!(total_acked > kills * 10, "the load wrote too little to mean anything: {total_acked}");
    let log = log_of(&data);
    assert!(log.contains("checkpoint at commit"), "background checkpoints ran during the test; log:\n{log}");
}

#[test]
fn sync_mode_loses_no_acknowledged_commit_over_20_kills() {
    crash_rounds("sync", 20, |round, lost, acked| {
        assert!(lost.is_empty(), "round {round}: {} of {acked} acknowledged commits lost in sync mode", lost.len());
    });
}

#[test]
fn async_mode_loses_at_most_the_last_flush_interval() {
    // Flush interval 10 ms; the slack covers the writer thread's scheduling
    // on a loaded two-core machine.
    let bound = Duration::from_millis(10 + 250);
    crash_rounds("async", 6, |round, lost, acked| {
        if let Some(oldest) = lost.iter().max() {
            assert!(
                *oldest <= bound,
                "round {round}: a commit acknowledged {oldest:?} before the kill was lost ({} of {acked} lost)",
                lost.len()
            );
        }
    });
}
