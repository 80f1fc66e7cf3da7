//! `memdb-bench`: memdb's benchmarks, side by side with the systems users
//! would otherwise pick, reported as ratios measured in the same run.

mod chart;
mod durability;
mod embedded;
mod latency;
mod progress;
mod report;
mod results;
mod sql;
mod tpcc;
mod wire;
mod ycsb;

use clap::{Parser, Subcommand};

/// mimalloc: faster than glibc's allocator for the engine's many small
/// allocations, and it returns memory to the system more readily.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Command-line interface.
#[derive(Parser)]
#[command(name = "memdb-bench", about = "memdb benchmarks against SQLite, PostgreSQL and Redis")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The engine's figures, embedded, against SQLite in-memory (rusqlite,
    /// prepared statements, same data, same run).
    Embedded(embedded::Options),
    /// The durability figures: recovery speed from checkpoint + log, and
    /// commit latency while a checkpoint runs.
    Durability(durability::Options),
    /// YCSB core workloads A–F against memdb embedded, SQLite, or any
    /// PostgreSQL or Redis protocol server.
    Ycsb(ycsb::Options),
    /// TPC-C (schema, loader, the five transactions with the standard mix,
    /// consistency checks) embedded or over the PostgreSQL protocol.
    Tpcc(tpcc::Options),
    /// Draws throughput by workload and system from accumulated CSV
    /// results as an SVG chart.
    Chart(chart::Options),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Embedded(options) => embedded::run(&options),
        Command::Durability(options) => durability::run(&options),
        Command::Ycsb(options) => ycsb::run(&options),
        Command::Tpcc(options) => tpcc::run(&options),
        Command::Chart(options) => chart::run(&options),
    }
}
