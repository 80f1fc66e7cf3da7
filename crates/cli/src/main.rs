//! `memdb`: the server binary.
//!
//! `memdb serve` starts the PostgreSQL wire protocol listener (default
//! `127.0.0.1:5432`) over an in-memory database; settings come from
//! defaults, then `--config FILE` (TOML), then flags.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use memdb_server::{Config, Durability};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// memdb: an in-memory SQL database that speaks the PostgreSQL protocol.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server until Ctrl-C or SIGTERM.
    Serve(ServeArgs),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// PostgreSQL protocol listen address [default: 127.0.0.1:5432].
    #[arg(long, value_name = "ADDR")]
    pg_listen: Option<String>,
    /// Directory for durable data [default: ./memdb-data].
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// memory-only, async or sync [default: memory-only].
    #[arg(long, value_name = "MODE")]
    durability: Option<Durability>,
    /// Most client connections at once [default: 2000].
    #[arg(long, value_name = "N")]
    max_connections: Option<usize>,
    /// A TOML configuration file (flags override it).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Worker threads [default: one per core].
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MEMDB_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: ServeArgs) -> Result<(), memdb_server::ServerError> {
    let mut config = match &args.config {
        Some(path) => Config::from_file(path)?,
        None => Config::default(),
    };
    if let Some(v) = args.pg_listen {
        config.pg_listen = v;
    }
    if let Some(v) = args.data_dir {
        config.data_dir = v;
    }
    if let Some(v) = args.durability {
        config.durability = v;
    }
    if let Some(v) = args.max_connections {
        config.max_connections = v;
    }
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all();
    if let Some(n) = args.threads {
        runtime.worker_threads(n.max(1));
    }
    let runtime = runtime.build().map_err(|e| memdb_server::ServerError::Config(format!("cannot start: {e}")))?;
    let db = memdb_server::open_database(&config)?;
    runtime.block_on(async {
        memdb_server::serve(&config, db, shutdown_signal(), |addr| {
            tracing::info!(durability = %config.durability, "memdb {} listening for PostgreSQL clients on {addr}", env!("CARGO_PKG_VERSION"));
        })
        .await
    })?;
    tracing::info!("memdb stopped");
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
