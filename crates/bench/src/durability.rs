//! The durability issue's embedded figures: recovery speed, and commit
//! latency while a checkpoint runs.
//!
//! Data: `rows` rows of (id BIGINT primary key, k BIGINT, payload TEXT of
//! 180 bytes) — about 200 bytes of row data each, so 1M rows ≈ 200 MB.
//!
//! - `recovery`: load the rows, checkpoint, then write `wal_mb` MB of log
//!   (single-column updates in batches), close, and time the reopen
//!   (checkpoint load + index build + log replay). Reported in seconds and
//!   rows/s (checkpoint rows + replayed row changes per second).
//! - `checkpoint_latency`: `writers` threads commit single-row updates in
//!   `sync` mode for `seconds` (8), first with no checkpoint, then while
//!   checkpoints of the whole table run back to back; p50/p99 commit
//!   latency of each phase, and the ratio of the p99s.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use memdb_engine::{Column, Config, DataType, Database, Durability, SyncMode, TableSchema, Value};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Options of `memdb-bench durability`.
#[derive(Args)]
pub struct Options {
    /// Rows in the table.
    #[arg(long, default_value_t = 1_000_000)]
    rows: u64,
    /// Megabytes of log written after the checkpoint (recovery figure).
    #[arg(long, default_value_t = 100)]
    wal_mb: u64,
    /// Writer threads (checkpoint latency figure).
    #[arg(long, default_value_t = 4)]
    writers: usize,
    /// Seconds per phase (checkpoint latency figure); long enough for a
    /// paced checkpoint of the table to run through.
    #[arg(long, default_value_t = 8)]
    seconds: u64,
    /// Where the data directories go (the disk being measured).
    #[arg(long, default_value = "/tmp")]
    dir: PathBuf,
    /// Run only these figures (recovery, checkpoint_latency); all by default.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
}

impl Options {
    fn wants(&self, figure: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| o == figure)
    }
}

fn durability(dir: &Path, mode: SyncMode) -> Durability {
    let mut d = Durability::new(dir, mode);
    d.checkpoint_interval = None;
    d.checkpoint_wal_bytes = u64::MAX;
    d
}

fn open(dir: &Path, mode: SyncMode) -> Result<Database> {
    Database::open(Config::memory().with_durability(durability(dir, mode))).context("opening the data directory")
}

fn payload(rng: &mut SmallRng) -> Value {
    let s: String = (0..180).map(|_| char::from(b'a' + rng.random_range(0..26u8))).collect();
    Value::Text(s)
}

/// Creates and fills the table, 10,000 rows per transaction.
fn load(db: &Database, rows: u64) -> Result<()> {
    let mut txn = db.begin()?;
    txn.create_table(
        TableSchema::new("t")
            .column(Column::new("id", DataType::Int8).not_null())
            .column(Column::new("k", DataType::Int8))
            .column(Column::new("payload", DataType::Text))
            .primary_key(["id"]),
    )?;
    txn.commit()?;
    let mut rng = SmallRng::seed_from_u64(1);
    let mut id = 0;
    while id < rows {
        let mut txn = db.begin()?;
        let t = txn.table("t")?;
        for _ in 0..10_000.min(rows - id) {
            txn.insert(&t, vec![Value::Int8(id as i64), Value::Int8(0), payload(&mut rng)])?;
            id += 1;
        }
        txn.commit()?;
    }
    Ok(())
}

/// Updates random rows in transactions of 100 until `bytes` of log exist
/// past the segments' zero-filled reserve (recovery reports the exact
/// amount it read).
fn write_log(db: &Database, rows: u64, bytes: u64, wal_dir: &Path) -> Result<u64> {
    let mut rng = SmallRng::seed_from_u64(2);
    let mut changes = 0;
    let start = dir_bytes(wal_dir);
    while dir_bytes(wal_dir).saturating_sub(start) < bytes + (24 << 20) {
        for _ in 0..100 {
            let mut txn = db.begin()?;
            let t = txn.table("t")?;
            for _ in 0..100 {
                let id = rng.random_range(0..rows) as i64;
                let row = txn.get(&t, &[Value::Int8(id)])?.context("row exists")?;
                txn.update(&t, row.id, vec![Value::Int8(id), Value::Int8(changes as i64), payload(&mut rng)])?;
                changes += 1;
            }
            txn.commit()?;
        }
    }
    Ok(changes)
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok()?.metadata().ok()).map(|m| m.len()).sum())
        .unwrap_or(0)
}

fn recovery(options: &Options) -> Result<()> {
    let dir = tempfile::Builder::new().prefix("memdb-recovery").tempdir_in(&options.dir)?;
    let data = dir.path().join("data");
    let db = open(&data, SyncMode::Async { flush_interval: Duration::from_millis(10) })?;
    let started = Instant::now();
    load(&db, options.rows)?;
    let loaded = started.elapsed();
    let info = db.checkpoint()?.context("durable")?;
    let changes = write_log(&db, options.rows, options.wal_mb << 20, &data.join("wal"))?;
    db.flush()?;
    drop(db);
    // The page cache holds the files either way; drop it when allowed so
    // the figure includes reading them from disk.
    let _ = std::process::Command::new("sh").args(["-c", "sync; echo 3 > /proc/sys/vm/drop_caches"]).status();
    let started = Instant::now();
    let db = open(&data, SyncMode::Sync)?;
    let elapsed = started.elapsed().as_secs_f64();
    let report = db.recovery_report().context("durable")?;
    println!(
        "recovery: {} rows ({:.0} MB checkpoint) + {} log records ({:.0} MB, {changes} row changes) in {elapsed:.2} s \
         = {:.0} rows/s (load took {:.1} s)",
        info.rows,
        info.bytes as f64 / 1e6,
        report.replayed,
        report.log_bytes as f64 / 1e6,
        (info.rows + changes) as f64 / elapsed,
        loaded.as_secs_f64()
    );
    println!("recovery target: <= 2 s -> {}", if elapsed <= 2.0 { "met" } else { "missed" });
    Ok(())
}

/// Commit latencies (µs) of `writers` threads updating random rows for
/// `seconds`.
fn commit_latencies(db: &Database, rows: u64, writers: usize, seconds: u64) -> Result<Vec<u64>> {
    let stop = Arc::new(AtomicBool::new(false));
    let handles: Vec<_> = (0..writers)
        .map(|w| {
            let db = db.clone();
            let stop = stop.clone();
            std::thread::spawn(move || -> Result<Vec<u64>> {
                let mut rng = SmallRng::seed_from_u64(10 + w as u64);
                let mut out = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    let id = rng.random_range(0..rows) as i64;
                    let value = payload(&mut rng);
                    let outcome = (|| -> memdb_engine::Result<bool> {
                        let mut txn = db.begin()?;
                        let t = txn.table("t")?;
                        let Some(row) = txn.get(&t, &[Value::Int8(id)])? else { return Ok(false) };
                        txn.update(&t, row.id, vec![Value::Int8(id), Value::Int8(1), value])?;
                        txn.commit().map(|_| true)
                    })();
                    match outcome {
                        Ok(true) => out.push(started.elapsed().as_micros() as u64),
                        Ok(false) => {}
                        // Two writers picked the same row: not a commit to time.
                        Err(e) if e.sqlstate() == "40001" => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                Ok(out)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.join().map_err(|_| anyhow::anyhow!("writer panicked"))??);
    }
    all.sort_unstable();
    Ok(all)
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn checkpoint_latency(options: &Options) -> Result<()> {
    let dir = tempfile::Builder::new().prefix("memdb-ckpt-latency").tempdir_in(&options.dir)?;
    let data = dir.path().join("data");
    let db = open(&data, SyncMode::Sync)?;
    load(&db, options.rows)?;
    db.checkpoint()?;
    let quiet = commit_latencies(&db, options.rows, options.writers, options.seconds)?;
    let running = Arc::new(AtomicBool::new(true));
    let checkpointer = {
        let db = db.clone();
        let running = running.clone();
        std::thread::spawn(move || -> Result<u64> {
            let mut n = 0;
            while running.load(Ordering::Relaxed) {
                db.checkpoint_paced()?;
                n += 1;
            }
            Ok(n)
        })
    };
    // Let the first checkpoint start before measuring.
    std::thread::sleep(Duration::from_millis(50));
    let during = commit_latencies(&db, options.rows, options.writers, options.seconds)?;
    running.store(false, Ordering::Relaxed);
    let checkpoints = checkpointer.join().map_err(|_| anyhow::anyhow!("checkpointer panicked"))??;
    let (p50a, p99a) = (percentile(&quiet, 0.5), percentile(&quiet, 0.99));
    let (p50b, p99b) = (percentile(&during, 0.5), percentile(&during, 0.99));
    println!(
        "commit latency, sync mode, {} writers, {} rows: without checkpoint p50 {p50a} µs p99 {p99a} µs ({} commits); \
         during {checkpoints} checkpoints p50 {p50b} µs p99 {p99b} µs ({} commits); p99 ratio {:.2} (target <= 2)",
        options.writers,
        options.rows,
        quiet.len(),
        during.len(),
        p99b as f64 / p99a.max(1) as f64
    );
    Ok(())
}

/// Runs the figures asked for.
pub fn run(options: &Options) -> Result<()> {
    if options.wants("recovery") {
        recovery(options)?;
    }
    if options.wants("checkpoint_latency") {
        checkpoint_latency(options)?;
    }
    Ok(())
}
