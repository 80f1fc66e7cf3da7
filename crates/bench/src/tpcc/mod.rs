//! `memdb-bench tpcc`: TPC-C's schema, initial population, the five
//! transactions with the standard mix and keying, and consistency
//! conditions 1–4, against memdb embedded or any PostgreSQL-protocol
//! server (memdb or PostgreSQL).
//!
//! Terminals run back to back, without the spec's keying and think times
//! (as HammerDB and BenchBase do by default), each bound to a home
//! warehouse. tpmC is New-Order transactions committed per minute of the
//! measured interval — a figure for comparing systems on this machine, not
//! an audited TPC-C result.

mod check;
mod client;
mod load;
mod random;
mod txns;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use memdb_engine::{Config, Database};
use rand::SeedableRng;
use rand::rngs::SmallRng;

use crate::latency::Latencies;
use crate::progress;
use crate::results::{self, OpStats, RunResult};
use client::{EmbeddedConnection, SqlConnection, WireConnection};
use random::Constants;
use txns::{KINDS, Kind, Outcome, Terminal};

/// Options of `memdb-bench tpcc`.
#[derive(Args)]
pub struct Options {
    /// Warehouses (scale factor).
    #[arg(long, default_value_t = 1)]
    pub warehouses: i64,
    /// Length of the measured run, seconds.
    #[arg(long, default_value_t = 60.0)]
    pub duration: f64,
    /// System under test: `embedded` (memdb in this process) or
    /// `postgres://user@host:port/db` (memdb or PostgreSQL).
    #[arg(long, default_value = "embedded")]
    pub target: String,
    /// Terminals (client connections); terminal t's home warehouse is
    /// t mod warehouses + 1.
    #[arg(long, default_value_t = 8)]
    pub terminals: usize,
    /// Seconds run before the measured interval (not counted).
    #[arg(long, default_value_t = 0.0)]
    pub warmup: f64,
    /// Connections that load the data in parallel.
    #[arg(long, default_value_t = 4)]
    pub load_threads: usize,
    /// Keep the data of an earlier run instead of loading afresh.
    #[arg(long)]
    pub no_load: bool,
    /// Name of the system in the results (default: detected).
    #[arg(long)]
    pub label: Option<String>,
    /// Append the result as a JSON line to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Append the result as CSV rows to this file.
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// Seed of the random streams.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Over the wire, send a transaction's independent statements together
    /// (pipelined: all written before the first reply is read, one round
    /// trip for the lot, as JDBC batches and libpq pipelines do) instead of
    /// one round trip per statement. The SQL and its order are the same
    /// either way (New-Order reads all its items, then all its stock rows,
    /// then writes — an order that differs from runs before 2026-11-25,
    /// which read and wrote line by line).
    #[arg(long)]
    pub pipeline: bool,
}

/// Opens connections to the system under test.
enum System {
    Embedded(Arc<Database>),
    /// A server's URL; whether statements are pipelined.
    Wire(String, bool),
}

impl System {
    fn open(target: &str, pipelined: bool) -> Result<System> {
        if target == "embedded" {
            Ok(System::Embedded(Arc::new(Database::open(Config::memory())?)))
        } else if target.starts_with("postgres://") || target.starts_with("postgresql://") {
            Ok(System::Wire(target.to_owned(), pipelined))
        } else {
            bail!("unknown target {target:?}: expected embedded or postgres://…")
        }
    }

    fn connect(&self) -> Result<Box<dyn SqlConnection>> {
        Ok(match self {
            System::Embedded(db) => Box::new(EmbeddedConnection::new(db.clone())),
            System::Wire(url, pipelined) => Box::new(WireConnection::connect(url, *pipelined)?),
        })
    }

    fn describe(&self) -> Result<String> {
        let System::Wire(..) = self else { return Ok("memdb (embedded)".into()) };
        let version = self.connect()?.query_text("SELECT version()")?;
        let text = version.first().and_then(|r| r.first()).and_then(|c| c.text().ok()).unwrap_or("");
        let name = if text.contains("memdb") {
            "memdb (pgwire)".to_owned()
        } else {
            format!("postgresql {}", text.split_whitespace().nth(1).unwrap_or(""))
        };
        Ok(match self {
            System::Wire(_, true) => format!("{name} pipelined"),
            _ => name,
        })
    }
}

/// Runs load, measured interval and checks; prints and writes the results.
pub fn run(options: &Options) -> Result<()> {
    anyhow::ensure!(options.warehouses >= 1, "--warehouses must be at least 1");
    anyhow::ensure!(options.duration > 0.0, "--duration must be positive");
    let system = System::open(&options.target, options.pipeline)?;
    let label = match &options.label {
        Some(l) => l.clone(),
        None => system.describe()?,
    };
    let mut seeds = SmallRng::seed_from_u64(options.seed);
    let load_constants = Constants::for_load(&mut seeds);
    if options.no_load {
        eprintln!("using the data already loaded");
    } else {
        load(&system, options, &load_constants)?;
    }
    let constants = Constants::for_run(load_constants, &mut seeds);
    let result = measure(&system, options, constants, label)?;
    print!("{}", result.table());

    eprintln!("checking consistency conditions 1-4");
    let conditions = check::check(&mut *system.connect()?)?;
    let mut broken = 0;
    for c in &conditions {
        if c.violations.is_empty() {
            println!("  condition {} holds ({}; {} checked)", c.number, c.description, c.checked);
        } else {
            broken += 1;
            println!("  CONDITION {} FAILS ({}): {} violations", c.number, c.description, c.violations.len());
            for v in c.violations.iter().take(10) {
                println!("    {v}");
            }
        }
    }
    if let Some(path) = &options.json {
        result.append_json(path)?;
    }
    if let Some(path) = &options.csv {
        result.append_csv(path)?;
    }
    if broken > 0 {
        bail!("{broken} of the 4 TPC-C consistency conditions do not hold");
    }
    Ok(())
}

fn load(system: &System, options: &Options, constants: &Constants) -> Result<()> {
    let started = Instant::now();
    load::create_schema(&mut *system.connect()?)?;
    let total = load::ITEMS as u64 + options.warehouses as u64 * load::ROWS_PER_WAREHOUSE;
    let bar = progress::bar(total, "loading rows");
    // Task 0 loads the items; task w loads warehouse w.
    let next = AtomicUsize::new(0);
    let tasks = options.warehouses as usize + 1;
    let workers = options.load_threads.clamp(1, tasks);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                let (bar, next) = (&bar, &next);
                scope.spawn(move || -> Result<()> {
                    let mut conn = system.connect()?;
                    loop {
                        let task = next.fetch_add(1, Ordering::Relaxed);
                        if task >= tasks {
                            return Ok(());
                        }
                        if task == 0 {
                            load::load_items(&mut *conn, options.seed, bar)?;
                        } else {
                            load::load_warehouse(&mut *conn, task as i64, constants, options.seed, bar)?;
                        }
                    }
                })
            })
            .collect();
        handles.into_iter().try_for_each(|h| h.join().unwrap_or_else(|_| bail!("a loader thread panicked")))
    })?;
    bar.set_message("building indexes");
    load::create_indexes(&mut *system.connect()?)?;
    let rows = bar.position();
    bar.finish_and_clear();
    eprintln!("loaded {} warehouses ({rows} rows) in {:.1} s", options.warehouses, started.elapsed().as_secs_f64());
    Ok(())
}

/// One terminal's tally over the measured interval.
#[derive(Default)]
struct Tally {
    latencies: Vec<Latencies>,
    rolled_back: Vec<u64>,
    failed: Vec<u64>,
    retries: u64,
    first_error: Option<String>,
}

fn measure(system: &System, options: &Options, constants: Constants, label: String) -> Result<RunResult> {
    let terminals = options.terminals.max(1);
    let warmup = Duration::from_secs_f64(options.warmup.max(0.0));
    let duration = Duration::from_secs_f64(options.duration);
    let barrier = Barrier::new(terminals + 1);
    let stop = AtomicBool::new(false);
    let (tallies, seconds) = std::thread::scope(|scope| -> Result<(Vec<Tally>, f64)> {
        let handles: Vec<_> = (0..terminals)
            .map(|t| {
                let (barrier, stop) = (&barrier, &stop);
                let home = (t as i64 % options.warehouses) + 1;
                let seed = options.seed.wrapping_mul(31) ^ ((t as u64) << 20);
                scope.spawn(move || -> Result<Tally> {
                    let terminal = system
                        .connect()
                        .and_then(|conn| Terminal::new(conn, home, options.warehouses, constants, seed));
                    barrier.wait();
                    let mut terminal = terminal?;
                    let started = Instant::now();
                    let mut tally = Tally {
                        latencies: KINDS.iter().map(|_| Latencies::new()).collect(),
                        rolled_back: vec![0; KINDS.len()],
                        failed: vec![0; KINDS.len()],
                        ..Tally::default()
                    };
                    let mut consecutive_errors = 0;
                    while !stop.load(Ordering::Relaxed) {
                        let kind = terminal.draw();
                        let index = KINDS.iter().position(|k| *k == kind).unwrap_or(0);
                        let start = Instant::now();
                        let executed = terminal.run(kind);
                        let counted = started.elapsed() >= warmup;
                        match executed {
                            Ok(done) => {
                                consecutive_errors = 0;
                                if counted {
                                    tally.retries += u64::from(done.retries);
                                    match done.outcome {
                                        Outcome::Committed => tally.latencies[index].record(start.elapsed()),
                                        Outcome::RolledBack => tally.rolled_back[index] += 1,
                                    }
                                }
                            }
                            Err(e) => {
                                tally.failed[index] += u64::from(counted);
                                tally.first_error.get_or_insert_with(|| format!("{e:#}"));
                                consecutive_errors += 1;
                                if consecutive_errors >= 100 {
                                    bail!("100 transactions in a row failed; the last: {e:#}");
                                }
                            }
                        }
                    }
                    Ok(tally)
                })
            })
            .collect();
        barrier.wait();
        let bar = progress::timed((warmup + duration).as_secs(), "running tpc-c");
        let started = Instant::now();
        while started.elapsed() < warmup + duration && !handles.iter().any(|h| h.is_finished()) {
            std::thread::sleep(Duration::from_millis(100));
            bar.set_position(started.elapsed().as_secs());
        }
        stop.store(true, Ordering::Relaxed);
        bar.finish_and_clear();
        let seconds = (started.elapsed().saturating_sub(warmup)).as_secs_f64();
        let tallies = handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| bail!("a terminal thread panicked")))
            .collect::<Result<Vec<_>>>()
            .context("running the terminals")?;
        Ok((tallies, seconds))
    })?;

    let mut ops = Vec::new();
    let mut new_orders = 0;
    for (i, kind) in KINDS.iter().enumerate() {
        let mut merged = Latencies::new();
        let mut failed = 0;
        for t in &tallies {
            merged.merge(&t.latencies[i]);
            failed += t.failed[i] + t.rolled_back[i];
        }
        if *kind == Kind::NewOrder {
            new_orders = merged.count();
        }
        ops.push(OpStats::new(kind.name(), &merged, failed, seconds));
    }
    let retries: u64 = tallies.iter().map(|t| t.retries).sum();
    let rolled_back: u64 = tallies.iter().map(|t| t.rolled_back.iter().sum::<u64>()).sum();
    let errors: u64 = tallies.iter().map(|t| t.failed.iter().sum::<u64>()).sum();
    eprintln!(
        "{rolled_back} New-Orders rolled back by the spec's 1% rule; {retries} retries after conflicts; {errors} errors"
    );
    for error in tallies.iter().filter_map(|t| t.first_error.as_ref()) {
        eprintln!("error: {error}");
    }
    Ok(RunResult {
        benchmark: "tpcc".into(),
        workload: "tpcc".into(),
        system: label,
        target: options.target.clone(),
        threads: terminals,
        scale: options.warehouses as u64,
        seconds,
        throughput: new_orders as f64 * 60.0 / seconds.max(1e-9),
        unit: "tpmC".into(),
        ops,
        finished_at: results::now(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_embedded_run_commits_every_kind_and_stays_consistent() {
        let options = Options {
            warehouses: 1,
            duration: 3.0,
            target: "embedded".into(),
            terminals: 2,
            warmup: 0.0,
            load_threads: 2,
            no_load: false,
            label: None,
            json: None,
            csv: None,
            seed: 1,
            pipeline: false,
        };
        let system = System::open("embedded", false).unwrap();
        let mut seeds = SmallRng::seed_from_u64(1);
        let constants = Constants::for_load(&mut seeds);
        load(&system, &options, &constants).unwrap();
        let conditions = check::check(&mut *system.connect().unwrap()).unwrap();
        assert!(conditions.iter().all(|c| c.violations.is_empty()), "inconsistent after load");
        let result = measure(&system, &options, Constants::for_run(constants, &mut seeds), "memdb".into()).unwrap();
        for op in &result.ops {
            assert!(op.count > 0, "no {} committed", op.op);
        }
        let conditions = check::check(&mut *system.connect().unwrap()).unwrap();
        for c in &conditions {
            assert!(c.violations.is_empty(), "condition {}: {:?}", c.number, c.violations);
        }
    }

    #[test]
    fn checks_catch_a_broken_district() {
        let system = System::open("embedded", false).unwrap();
        let mut conn = system.connect().unwrap();
        load::create_schema(&mut *conn).unwrap();
        conn.batch(
            "INSERT INTO warehouse (w_id, w_ytd) VALUES (1, 100.00);
             INSERT INTO district (d_id, d_w_id, d_ytd, d_next_o_id) VALUES (1, 1, 60.00, 3), (2, 1, 30.00, 1);
             INSERT INTO orders (o_id, o_d_id, o_w_id, o_ol_cnt) VALUES (1, 1, 1, 2), (2, 1, 1, 1);
             INSERT INTO new_order VALUES (1, 1, 1);
             INSERT INTO order_line (ol_o_id, ol_d_id, ol_w_id, ol_number) VALUES (1, 1, 1, 1), (1, 1, 1, 2), (2, 1, 1, 1)",
        )
        .unwrap();
        let conditions = check::check(&mut *conn).unwrap();
        let broken: Vec<u8> = conditions.iter().filter(|c| !c.violations.is_empty()).map(|c| c.number).collect();
        // W_YTD 100 vs 90; max(no_o_id) 1 vs d_next_o_id - 1 = 2; sums agree; counts agree.
        assert_eq!(broken, vec![1, 2]);
    }
}
