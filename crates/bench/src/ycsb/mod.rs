//! `memdb-bench ycsb`: the YCSB core workloads A–F, as YCSB's
//! `CoreWorkload` and `workloads/workload[a-f]` define them — 1 KB records
//! of ten 100-byte fields, keys `user<fnv64(n)>`, reads of all fields,
//! updates of one field, zipfian / latest / uniform request distributions —
//! against memdb embedded, SQLite, and any PostgreSQL or Redis protocol
//! server.
//!
//! A run loads `--records` records, then runs `--operations` operations
//! spread over `--threads` client threads (one connection each), and
//! reports throughput and latency percentiles per operation type.

mod generator;
mod store;

use std::path::PathBuf;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::latency::Latencies;
use crate::progress;
use crate::results::{self, OpStats, RunResult};
use generator::{InsertCounter, KeyChooser, fnv_hash64};
pub use store::Target;
use store::{FIELD_BYTES, FIELDS, Store, System};

/// Options of `memdb-bench ycsb`.
#[derive(Args)]
pub struct Options {
    /// Core workload: a (50/50 read/update), b (95/5 read/update),
    /// c (read only), d (read latest, 5% insert), e (short scans, 5%
    /// insert), f (50/50 read/read-modify-write).
    #[arg(long, value_enum)]
    pub workload: WorkloadName,
    /// System under test: `embedded` (memdb in this process), `sqlite`
    /// (in memory), `postgres://user@host:port/db` (memdb or PostgreSQL),
    /// `redis://host:port` (memdb or Redis; workloads A–D and F).
    #[arg(long)]
    pub target: String,
    /// Records loaded before the run (YCSB's `recordcount`).
    #[arg(long, default_value_t = 100_000)]
    pub records: u64,
    /// Operations of the run (YCSB's `operationcount`).
    #[arg(long, default_value_t = 100_000)]
    pub operations: u64,
    /// Client threads, one connection each.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Stop the run after this many seconds even if operations remain.
    #[arg(long)]
    pub duration: Option<f64>,
    /// Name of the system in the results (default: detected, e.g.
    /// `memdb (pgwire)` or `postgresql 15.4`).
    #[arg(long)]
    pub label: Option<String>,
    /// Append the result as a JSON line to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Append the result as CSV rows to this file.
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// Request distribution instead of the workload's own (YCSB's
    /// `requestdistribution`).
    #[arg(long, value_enum)]
    pub distribution: Option<Distribution>,
    /// Seed of the random streams (the same seed replays the same keys).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// The six core workloads.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum WorkloadName {
    /// Update heavy: 50% reads, 50% updates, zipfian.
    A,
    /// Read mostly: 95% reads, 5% updates, zipfian.
    B,
    /// Read only, zipfian.
    C,
    /// Read latest: 95% reads, 5% inserts, latest.
    D,
    /// Short ranges: 95% scans of 1–100 records, 5% inserts, zipfian.
    E,
    /// Read-modify-write: 50% reads, 50% read-modify-writes, zipfian.
    F,
}

/// Operation types, in report order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Read,
    Update,
    Insert,
    Scan,
    ReadModifyWrite,
}

const OPS: [Op; 5] = [Op::Read, Op::Update, Op::Insert, Op::Scan, Op::ReadModifyWrite];

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Read => "read",
            Op::Update => "update",
            Op::Insert => "insert",
            Op::Scan => "scan",
            Op::ReadModifyWrite => "read_modify_write",
        }
    }
}

/// Which keys requests go to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Distribution {
    /// Scrambled zipfian: a few hot keys spread over the key space.
    Zipfian,
    /// Skewed towards the most recently inserted keys.
    Latest,
    /// Every key equally likely.
    Uniform,
}

/// A workload's operation mix and request distribution.
struct Workload {
    /// (operation, proportion); proportions sum to 1.
    mix: Vec<(Op, f64)>,
    distribution: Distribution,
    /// Longest scan (YCSB's `maxscanlength`); lengths are uniform in 1..=max.
    max_scan: usize,
}

impl Workload {
    fn with_distribution(name: WorkloadName, distribution: Option<Distribution>) -> Workload {
        let mut workload = Workload::new(name);
        if let Some(d) = distribution {
            workload.distribution = d;
        }
        workload
    }

    fn new(name: WorkloadName) -> Workload {
        let (mix, distribution) = match name {
            WorkloadName::A => (vec![(Op::Read, 0.5), (Op::Update, 0.5)], Distribution::Zipfian),
            WorkloadName::B => (vec![(Op::Read, 0.95), (Op::Update, 0.05)], Distribution::Zipfian),
            WorkloadName::C => (vec![(Op::Read, 1.0)], Distribution::Zipfian),
            WorkloadName::D => (vec![(Op::Read, 0.95), (Op::Insert, 0.05)], Distribution::Latest),
            WorkloadName::E => (vec![(Op::Scan, 0.95), (Op::Insert, 0.05)], Distribution::Zipfian),
            WorkloadName::F => (vec![(Op::Read, 0.5), (Op::ReadModifyWrite, 0.5)], Distribution::Zipfian),
        };
        Workload { mix, distribution, max_scan: 100 }
    }

    fn proportion(&self, op: Op) -> f64 {
        self.mix.iter().filter(|(o, _)| *o == op).map(|(_, p)| p).sum()
    }

    fn choose(&self, rng: &mut SmallRng) -> Op {
        let mut x: f64 = rng.random();
        for (op, p) in &self.mix {
            if x < *p {
                return *op;
            }
            x -= p;
        }
        self.mix.last().map_or(Op::Read, |(op, _)| *op)
    }

    fn chooser(&self, records: u64, operations: u64) -> KeyChooser {
        match self.distribution {
            Distribution::Latest => KeyChooser::latest(records),
            Distribution::Uniform => KeyChooser::Uniform,
            Distribution::Zipfian => {
                // YCSB sizes the key space for the inserts it expects.
                let expected_inserts = (operations as f64 * self.proportion(Op::Insert) * 2.0) as u64;
                KeyChooser::scrambled_zipfian(records + expected_inserts)
            }
        }
    }
}

/// YCSB's key name for key number `n` (hashed, not ordered, inserts).
fn key_name(n: u64) -> String {
    format!("user{}", fnv_hash64(n))
}

/// One field of random printable ASCII, as YCSB's `RandomByteIterator`.
fn random_field(rng: &mut SmallRng) -> String {
    (0..FIELD_BYTES).map(|_| char::from(rng.random_range(b' '..=b'~'))).collect()
}

fn random_record(rng: &mut SmallRng) -> Vec<String> {
    (0..FIELDS).map(|_| random_field(rng)).collect()
}

/// Runs the load and the workload, prints the table, writes the files.
pub fn run(options: &Options) -> Result<()> {
    let threads = options.threads.max(1);
    anyhow::ensure!(options.records > 0, "--records must be at least 1");
    let target = Target::parse(&options.target)?;
    let workload = Workload::with_distribution(options.workload, options.distribution);
    let system = Arc::new(System::create(&target)?);
    if workload.proportion(Op::Scan) > 0.0 && !system.scans() {
        bail!("workload E scans key ranges; {} has no ordered keys (use a SQL target)", options.target);
    }
    let label = match &options.label {
        Some(l) => l.clone(),
        None => system.describe()?,
    };

    load(&system, options.records, threads, options.seed).context("loading")?;
    let result = run_workload(&system, &workload, options, threads, label)?;
    print!("{}", result.table());
    if let Some(path) = &options.json {
        result.append_json(path)?;
    }
    if let Some(path) = &options.csv {
        result.append_csv(path)?;
    }
    let failed: u64 = result.ops.iter().map(|o| o.failed).sum();
    if failed > 0 {
        eprintln!("warning: {failed} operations failed or found no record");
    }
    Ok(())
}

/// Loads records `0..records` in batches of 100, over `threads` connections.
fn load(system: &Arc<System>, records: u64, threads: usize, seed: u64) -> Result<()> {
    const BATCH: u64 = 100;
    let bar = progress::bar(records, "loading records");
    let started = Instant::now();
    let batches = records.div_ceil(BATCH);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads as u64)
            .map(|t| {
                let bar = bar.clone();
                scope.spawn(move || -> Result<()> {
                    let mut store = system.connect()?;
                    let mut batch = t;
                    while batch < batches {
                        let first = batch * BATCH;
                        let last = (first + BATCH).min(records);
                        let mut rng = SmallRng::seed_from_u64(seed.wrapping_mul(0x9E37_79B9) ^ batch);
                        let rows: Vec<(String, Vec<String>)> =
                            (first..last).map(|n| (key_name(n), random_record(&mut rng))).collect();
                        store.load(&rows)?;
                        bar.inc(last - first);
                        batch += threads as u64;
                    }
                    Ok(())
                })
            })
            .collect();
        workers.into_iter().try_for_each(|w| w.join().unwrap_or_else(|_| bail!("a loader thread panicked")))
    })?;
    bar.finish_and_clear();
    eprintln!("loaded {records} records in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// What one thread measured.
struct ThreadTally {
    latencies: Vec<Latencies>,
    failed: Vec<u64>,
    first_error: Option<String>,
}

fn run_workload(
    system: &Arc<System>,
    workload: &Workload,
    options: &Options,
    threads: usize,
    label: String,
) -> Result<RunResult> {
    let operations = options.operations;
    let counter = InsertCounter::new(options.records);
    let barrier = Barrier::new(threads + 1);
    let bar = progress::bar(operations, &format!("workload {:?}", options.workload).to_lowercase());
    let deadline = options.duration.map(Duration::from_secs_f64);
    let (tallies, seconds) = std::thread::scope(|scope| -> Result<(Vec<ThreadTally>, f64)> {
        let workers: Vec<_> = (0..threads as u64)
            .map(|t| {
                let (bar, barrier, counter) = (bar.clone(), &barrier, &counter);
                let share = operations / threads as u64 + u64::from(t < operations % threads as u64);
                scope.spawn(move || -> Result<ThreadTally> {
                    let store = system.connect();
                    barrier.wait();
                    let mut store = store?;
                    let mut rng = SmallRng::seed_from_u64(options.seed.wrapping_mul(7919) ^ (t << 32));
                    let mut chooser = workload.chooser(options.records, operations);
                    let started = Instant::now();
                    let mut tally = ThreadTally {
                        latencies: OPS.iter().map(|_| Latencies::new()).collect(),
                        failed: vec![0; OPS.len()],
                        first_error: None,
                    };
                    let mut consecutive_errors = 0u32;
                    for i in 0..share {
                        if i % 256 == 255 {
                            bar.inc(256);
                            if deadline.is_some_and(|d| started.elapsed() >= d) {
                                break;
                            }
                        }
                        let op = workload.choose(&mut rng);
                        let index = OPS.iter().position(|o| *o == op).unwrap_or(0);
                        let start = Instant::now();
                        let outcome = one_operation(&mut *store, op, workload, &mut chooser, counter, &mut rng);
                        match outcome {
                            Ok(true) => {
                                tally.latencies[index].record(start.elapsed());
                                consecutive_errors = 0;
                            }
                            Ok(false) => tally.failed[index] += 1,
                            Err(e) => {
                                tally.failed[index] += 1;
                                tally.first_error.get_or_insert_with(|| format!("{}: {e:#}", op.name()));
                                consecutive_errors += 1;
                                if consecutive_errors >= 1000 {
                                    bail!("1000 operations in a row failed; the last: {e:#}");
                                }
                            }
                        }
                    }
                    Ok(tally)
                })
            })
            .collect();
        barrier.wait();
        let started = Instant::now();
        let tallies = workers
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|_| bail!("a client thread panicked")))
            .collect::<Result<Vec<_>>>()?;
        Ok((tallies, started.elapsed().as_secs_f64()))
    })?;
    bar.finish_and_clear();

    let mut ops = Vec::new();
    let mut total = 0u64;
    for (i, op) in OPS.iter().enumerate() {
        let mut merged = Latencies::new();
        let mut failed = 0;
        for tally in &tallies {
            merged.merge(&tally.latencies[i]);
            failed += tally.failed[i];
        }
        if merged.count() + failed > 0 {
            total += merged.count();
            ops.push(OpStats::new(op.name(), &merged, failed, seconds));
        }
    }
    for error in tallies.iter().filter_map(|t| t.first_error.as_ref()) {
        eprintln!("error: {error}");
    }
    Ok(RunResult {
        benchmark: "ycsb".into(),
        workload: format!("{:?}", options.workload).to_lowercase(),
        system: label,
        target: options.target.clone(),
        threads,
        scale: options.records,
        seconds,
        throughput: total as f64 / seconds.max(1e-9),
        unit: "ops/s".into(),
        ops,
        finished_at: results::now(),
    })
}

/// Runs one operation; `Ok(false)` when its record was missing.
fn one_operation(
    store: &mut dyn Store,
    op: Op,
    workload: &Workload,
    chooser: &mut KeyChooser,
    counter: &InsertCounter,
    rng: &mut SmallRng,
) -> Result<bool> {
    match op {
        Op::Read => store.read(&key_name(chooser.next(rng, counter.acknowledged()))),
        Op::Update => {
            let key = key_name(chooser.next(rng, counter.acknowledged()));
            let field = rng.random_range(0..FIELDS);
            store.update(&key, field, &random_field(rng))
        }
        Op::Insert => {
            let n = counter.take();
            let outcome = store.insert(&key_name(n), &random_record(rng));
            counter.acknowledge(n);
            outcome.map(|()| true)
        }
        Op::Scan => {
            let start = key_name(chooser.next(rng, counter.acknowledged()));
            let length = rng.random_range(1..=workload.max_scan);
            store.scan(&start, length).map(|n| n > 0)
        }
        Op::ReadModifyWrite => {
            let key = key_name(chooser.next(rng, counter.acknowledged()));
            if !store.read(&key)? {
                return Ok(false);
            }
            let field = rng.random_range(0..FIELDS);
            store.update(&key, field, &random_field(rng))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(workload: WorkloadName, target: &str) -> Options {
        Options {
            workload,
            target: target.into(),
            records: 2000,
            operations: 4000,
            threads: 2,
            duration: None,
            label: None,
            json: None,
            csv: None,
            distribution: None,
            seed: 1,
        }
    }

    #[test]
    fn mixes_sum_to_one_and_choose_in_proportion() {
        for name in
            [WorkloadName::A, WorkloadName::B, WorkloadName::C, WorkloadName::D, WorkloadName::E, WorkloadName::F]
        {
            let w = Workload::new(name);
            let sum: f64 = w.mix.iter().map(|(_, p)| p).sum();
            assert!((sum - 1.0).abs() < 1e-9);
        }
        let w = Workload::new(WorkloadName::B);
        let mut rng = SmallRng::seed_from_u64(1);
        let updates = (0..100_000).filter(|_| w.choose(&mut rng) == Op::Update).count();
        assert!((4000..6000).contains(&updates), "{updates} updates of 100000");
    }

    #[test]
    fn every_workload_runs_embedded_without_failures() {
        for name in
            [WorkloadName::A, WorkloadName::B, WorkloadName::C, WorkloadName::D, WorkloadName::E, WorkloadName::F]
        {
            let o = options(name, "embedded");
            let system = Arc::new(System::create(&Target::Embedded).unwrap());
            load(&system, o.records, 2, 1).unwrap();
            let r = run_workload(&system, &Workload::new(name), &o, 2, "memdb".into()).unwrap();
            let done: u64 = r.ops.iter().map(|op| op.count).sum();
            let failed: u64 = r.ops.iter().map(|op| op.failed).sum();
            assert_eq!(done + failed, 4000, "{name:?}");
            // Concurrent updates of one hot key may conflict under
            // snapshot isolation; nothing else may fail.
            assert!(failed <= done / 100, "{name:?}: {failed} failed");
        }
    }

    #[test]
    fn sqlite_runs_the_same_workloads() {
        for name in [WorkloadName::A, WorkloadName::E] {
            let o = options(name, "sqlite");
            let system = Arc::new(System::create(&Target::Sqlite).unwrap());
            load(&system, o.records, 2, 1).unwrap();
            let workload = Workload::with_distribution(name, Some(Distribution::Uniform));
            let r = run_workload(&system, &workload, &o, 2, "sqlite".into()).unwrap();
            assert_eq!(r.ops.iter().map(|op| op.failed).sum::<u64>(), 0);
            assert_eq!(r.ops.iter().map(|op| op.count).sum::<u64>(), 4000);
        }
    }

    #[test]
    fn inserted_records_are_readable_after_the_run() {
        let o = options(WorkloadName::D, "embedded");
        let system = Arc::new(System::create(&Target::Embedded).unwrap());
        load(&system, o.records, 1, 1).unwrap();
        let r = run_workload(&system, &Workload::new(WorkloadName::D), &o, 2, "memdb".into()).unwrap();
        let inserts = r.ops.iter().find(|op| op.op == "insert").map_or(0, |op| op.count);
        assert!(inserts > 100);
        let mut store = system.connect().unwrap();
        for n in 0..o.records + inserts {
            assert!(store.read(&key_name(n)).unwrap(), "record {n} missing");
        }
    }
}
