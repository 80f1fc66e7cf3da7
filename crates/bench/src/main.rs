//! `memdb-bench`: memdb's benchmarks, side by side with the systems users
//! would otherwise pick, reported as ratios measured in the same run.

mod durability;
mod embedded;
mod report;
mod sql;

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
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Embedded(options) => embedded::run(&options),
        Command::Durability(options) => durability::run(&options),
    }
}
