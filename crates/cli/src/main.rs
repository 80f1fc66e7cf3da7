//! `memdb`: the server binary.
//!
//! `memdb serve` starts the PostgreSQL wire protocol listener (default
//! `127.0.0.1:5432`) over a database kept in memory and, by default, made
//! durable in `./memdb-data` (write-ahead log + checkpoints); settings come
//! from defaults, then `--config FILE` (TOML), then `MEMDB_*` environment
//! variables, then flags, and `memdb config` prints them. `memdb backup`
//! takes an online backup, `memdb restore` turns one (plus archived log)
//! into a data directory, to a point in time if asked. `memdb sql` is the
//! SQL shell ([`shell`]).

mod progress;
mod shell;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
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
    Serve(Box<ServeArgs>),
    /// Print the configuration `serve` would run with (defaults, then the
    /// file, the environment and the flags) as TOML, checked, and exit.
    Config(Box<ServeArgs>),
    /// Take an online backup, consistent at one commit, of a running server
    /// (or of a data directory no server uses).
    Backup(BackupArgs),
    /// Restore a backup into a new data directory, replaying archived log
    /// up to a point in time.
    Restore(RestoreArgs),
    /// An interactive SQL shell (psql-like), connected to a server or
    /// embedded on a data directory; -c and -f run statements and exit.
    Sql(SqlArgs),
}

#[derive(clap::Args)]
struct SqlArgs {
    /// The server: a URL (postgres://user:password@host:port/db?sslmode=…)
    /// or key=value pairs ("host=… port=… user=…") [default:
    /// postgres://127.0.0.1:5432, user $PGUSER or memdb, password
    /// $PGPASSWORD or $MEMDB_PASSWORD].
    #[arg(value_name = "URL", conflicts_with_all = ["data_dir", "memory"])]
    url: Option<String>,
    /// Open this data directory in this process instead of connecting (no
    /// server may be using it).
    #[arg(long, value_name = "DIR", conflicts_with = "memory")]
    data_dir: Option<PathBuf>,
    /// A scratch database in this process's memory.
    #[arg(long)]
    memory: bool,
    /// Run SQL (or one backslash command) and exit; repeatable, runs in
    /// order with -f.
    #[arg(short = 'c', long = "command", value_name = "SQL")]
    command: Vec<String>,
    /// Run the statements in FILE (`-`: standard input) and exit;
    /// repeatable.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    file: Vec<PathBuf>,
    /// After a failed statement in -c/-f/piped input, go on (the exit code
    /// is still 3).
    #[arg(long)]
    continue_on_error: bool,
    /// Print rows only: no header, footer or command tags.
    #[arg(short = 't', long)]
    tuples_only: bool,
    /// Unaligned output: values separated by `|`.
    #[arg(short = 'A', long)]
    no_align: bool,
    /// CA certificate (PEM) to verify the server's TLS certificate with;
    /// TLS is used when given (unless sslmode=disable).
    #[arg(long, value_name = "FILE", env = "PGSSLROOTCERT")]
    ca_cert: Option<PathBuf>,
}

#[derive(clap::Args)]
struct BackupArgs {
    /// Directory to write the backup into (created; must be empty). For a
    /// running server it is written by the server, on its machine.
    #[arg(long, value_name = "DIR")]
    output: PathBuf,
    /// The running server's PostgreSQL address [default: 127.0.0.1:5432].
    #[arg(long, value_name = "ADDR", conflicts_with = "data_dir")]
    pg_listen: Option<String>,
    /// Back up this data directory directly (no server may be using it).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

#[derive(clap::Args)]
struct RestoreArgs {
    /// The backup directory (`memdb backup --output`).
    #[arg(long, value_name = "DIR")]
    backup: PathBuf,
    /// The data directory to create (must not hold data).
    #[arg(long, value_name = "DIR")]
    data_dir: PathBuf,
    /// Directories with log segments to replay after the backup: the
    /// `wal_archive_dir`, and the old data directory's `wal/` (repeatable).
    #[arg(long = "wal-archive", value_name = "DIR")]
    wal_archive: Vec<PathBuf>,
    /// Stop after the last commit made at or before this time
    /// ("2026-11-22 12:00:00" UTC, or RFC 3339 with an offset).
    #[arg(long, value_name = "TIME", conflicts_with = "until_position")]
    until_time: Option<String>,
    /// Stop after this commit number (the log position in memdb's logs).
    #[arg(long, value_name = "N")]
    until_position: Option<u64>,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// PostgreSQL protocol listen address [default: 127.0.0.1:5432].
    #[arg(long, value_name = "ADDR")]
    pg_listen: Option<String>,
    /// Directory for durable data [default: ./memdb-data].
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// memory-only, async or sync [default: sync].
    #[arg(long, value_name = "MODE")]
    durability: Option<Durability>,
    /// async mode: how often the log is written and synced [default: 10ms].
    #[arg(long, value_name = "DURATION")]
    flush_interval: Option<String>,
    /// Time between background checkpoints [default: 5min].
    #[arg(long, value_name = "DURATION")]
    checkpoint_interval: Option<String>,
    /// Copy closed log segments here, for point-in-time recovery.
    #[arg(long, value_name = "DIR")]
    wal_archive_dir: Option<PathBuf>,
    /// Memory the data may use (e.g. 8GB); writes beyond fail with 53200.
    #[arg(long, value_name = "SIZE")]
    max_memory: Option<String>,
    /// On corruption in the middle of the log, recover the commits before
    /// it (the rest is kept aside) instead of refusing to start.
    #[arg(long)]
    recover_until_corruption: bool,
    /// Redis protocol listen address, or `off` [default: 127.0.0.1:6379].
    #[arg(long, value_name = "ADDR")]
    resp_listen: Option<String>,
    /// Worker threads serving Redis clients [default: half the cores, at
    /// least one].
    #[arg(long, value_name = "N")]
    resp_threads: Option<usize>,
    /// HTTP REST listen address, or `off` [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    http_listen: Option<String>,
    /// HTTP requests per second per client address, or off [default: off].
    #[arg(long, value_name = "N")]
    http_rate_limit: Option<String>,
    /// A separate address answering only /health and /ready (up during
    /// recovery), or `off` [default: off].
    #[arg(long, value_name = "ADDR")]
    health_listen: Option<String>,
    /// Password Redis clients must AUTH with [default: none].
    #[arg(long, value_name = "PASSWORD", env = "MEMDB_RESP_PASSWORD", hide_env_values = true)]
    resp_password: Option<String>,
    /// TTL for keys written without one, e.g. 1h [default: none].
    #[arg(long, value_name = "DURATION")]
    default_ttl: Option<String>,
    /// How often expired keys are swept [default: 100ms].
    #[arg(long, value_name = "DURATION")]
    cleanup_interval: Option<String>,
    /// At max-memory: noeviction, allkeys-lru or volatile-ttl [default: noeviction].
    #[arg(long, value_name = "POLICY")]
    eviction: Option<String>,
    /// Most client connections at once [default: 2000].
    #[arg(long, value_name = "N")]
    max_connections: Option<usize>,
    /// PEM certificate chain: turns TLS on for every front end [default: none].
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM) [default: none].
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// With TLS: whether plaintext connections are refused [default: true].
    #[arg(long, value_name = "BOOL")]
    tls_required: Option<bool>,
    /// A TOML configuration file; `MEMDB_*` variables override it, flags
    /// override both.
    #[arg(long, value_name = "FILE", env = "MEMDB_CONFIG")]
    config: Option<PathBuf>,
    /// error, warn, info, debug or trace [default: info].
    #[arg(long, value_name = "LEVEL")]
    log_level: Option<String>,
    /// text or json [default: text].
    #[arg(long, value_name = "FORMAT")]
    log_format: Option<String>,
    /// Log statements slower than this, e.g. 500ms, or off [default: off].
    #[arg(long, value_name = "DURATION")]
    slow_statement_threshold: Option<String>,
    /// On SIGTERM/Ctrl-C, how long running requests may take to finish
    /// before they are cancelled [default: 10s].
    #[arg(long, value_name = "DURATION")]
    shutdown_grace_period: Option<String>,
    /// Worker threads of the PostgreSQL and HTTP front ends [default: one
    /// per core]; Redis clients have their own (`--resp-threads`).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
}

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let result = match cli.command {
        Command::Sql(args) => {
            let steps = sql_steps(&args, matches.subcommand_matches("sql"));
            return ExitCode::from(sql_shell(args, steps) as u8);
        }
        Command::Serve(args) => effective_config(*args).and_then(|(config, threads, ignored)| {
            init_logging(&config.log_level, &config.log_format);
            for name in ignored {
                tracing::warn!("{name} names no setting; ignored");
            }
            serve(config, threads)
        }),
        Command::Config(args) => effective_config(*args).and_then(|(config, _, ignored)| {
            for name in ignored {
                eprintln!("memdb: {name} names no setting; ignored");
            }
            print!("{}", config.to_toml()?);
            Ok(())
        }),
        Command::Backup(args) => {
            init_logging("info", "text");
            backup(args)
        }
        Command::Restore(args) => {
            init_logging("info", "text");
            restore(args)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Logging may not be set up yet (a bad configuration).
            eprintln!("memdb: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The -c and -f arguments in the order they were given.
fn sql_steps(args: &SqlArgs, matches: Option<&clap::ArgMatches>) -> Vec<shell::Step> {
    let indices =
        |id: &str| -> Vec<usize> { matches.and_then(|m| m.indices_of(id)).map(|i| i.collect()).unwrap_or_default() };
    let mut steps: Vec<(usize, shell::Step)> = Vec::new();
    for (i, sql) in args.command.iter().enumerate() {
        let at = indices("command").get(i).copied().unwrap_or(i);
        steps.push((at, shell::Step::Command(sql.clone())));
    }
    for (i, file) in args.file.iter().enumerate() {
        let at = indices("file").get(i).copied().unwrap_or(usize::MAX / 2 + i);
        steps.push((at, shell::Step::File(file.clone())));
    }
    steps.sort_by_key(|(at, _)| *at);
    steps.into_iter().map(|(_, step)| step).collect()
}

/// `memdb sql`: opens or connects, then runs the steps or the terminal.
fn sql_shell(args: SqlArgs, steps: Vec<shell::Step>) -> shell::ExitStatus {
    use shell::ExitStatus;
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("memdb: cannot start: {e}");
            return ExitStatus::Fatal;
        }
    };
    let options = shell::ShellOptions {
        continue_on_error: args.continue_on_error,
        tuples_only: args.tuples_only,
        unaligned: args.no_align,
    };
    runtime.block_on(async move {
        let backend = if args.memory || args.data_dir.is_some() {
            let config = match &args.data_dir {
                Some(dir) => Config { data_dir: dir.clone(), durability: Durability::Sync, ..Config::default() },
                None => Config { durability: Durability::MemoryOnly, ..Config::default() },
            };
            let description = match &args.data_dir {
                Some(dir) => format!("on the data directory {} (embedded)", dir.display()),
                None => "on a scratch in-memory database (embedded)".to_owned(),
            };
            let bars = std::sync::Arc::new(progress::PhaseBars::new(std::time::Duration::from_millis(500), false));
            let handle = bars.handle();
            let opened =
                tokio::task::spawn_blocking(move || memdb_server::open_database_with_progress(&config, handle)).await;
            bars.finish();
            match opened {
                Ok(Ok(db)) => shell::backend::Backend::embedded(db, description),
                Ok(Err(e)) => {
                    eprintln!("memdb: {e}");
                    return ExitStatus::Connection;
                }
                Err(e) => {
                    eprintln!("memdb: opening the database failed: {e}");
                    return ExitStatus::Connection;
                }
            }
        } else {
            let tls = match &args.ca_cert {
                Some(path) => match client_tls(path) {
                    Ok(tls) => Some(tls),
                    Err(e) => {
                        eprintln!("memdb: {e}");
                        return ExitStatus::Fatal;
                    }
                },
                None => None,
            };
            let url = args.url.clone().unwrap_or_else(|| "postgres://127.0.0.1:5432".to_owned());
            match shell::backend::Backend::connect(&url, tls).await {
                Ok(backend) => backend,
                Err(failure) => {
                    eprintln!("memdb: {}", failure.message);
                    return ExitStatus::Connection;
                }
            }
        };
        let shell = shell::Shell::new(backend, options);
        if steps.is_empty() { shell.run_interactive().await } else { shell.run_steps(&steps).await }
    })
}

/// A TLS client trusting the CA certificates in a PEM file.
fn client_tls(path: &std::path::Path) -> Result<rustls::ClientConfig, String> {
    use rustls::pki_types::pem::PemObject;
    let pem = std::fs::read(path).map_err(|e| format!("--ca-cert {}: {e}", path.display()))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| format!("--ca-cert {}: {e}", path.display()))?;
        roots.add(cert).map_err(|e| format!("--ca-cert {}: {e}", path.display()))?;
    }
    if roots.is_empty() {
        return Err(format!("--ca-cert {}: no PEM certificate in it", path.display()));
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// Logs to stderr at `level` (`MEMDB_LOG`, a full filter such as
/// `memdb=debug,info`, overrides it), as text or one JSON object per line.
fn init_logging(level: &str, format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("MEMDB_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    // Through the progress module, so a log line never lands on a bar.
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(|| progress::LogWriter);
    if format == "json" {
        logs.json().init();
    } else {
        logs.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).init();
    }
}

/// What `serve` runs with: the configuration, the worker thread count (a
/// flag only) and the `MEMDB_` variables that named no setting.
type Effective = (Config, Option<usize>, Vec<String>);

/// The configuration: defaults, then the file, then `MEMDB_*` variables,
/// then flags; checked.
fn effective_config(args: ServeArgs) -> Result<Effective, memdb_server::ServerError> {
    let mut config = match &args.config {
        Some(path) => Config::from_file(path)?,
        None => Config::default(),
    };
    let ignored = config.apply_env(std::env::vars())?;
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
    if let Some(v) = args.flush_interval {
        config.flush_interval = v;
    }
    if let Some(v) = args.checkpoint_interval {
        config.checkpoint_interval = v;
    }
    if let Some(v) = args.wal_archive_dir {
        config.wal_archive_dir = Some(v);
    }
    if let Some(v) = args.max_memory {
        config.max_memory = Some(v);
    }
    if let Some(v) = args.resp_listen {
        config.resp_listen = v;
    }
    if let Some(v) = args.resp_threads {
        config.resp_threads = Some(v.max(1));
    }
    if let Some(v) = args.http_listen {
        config.http_listen = v;
    }
    if let Some(v) = args.http_rate_limit {
        config.http_rate_limit = v;
    }
    if let Some(v) = args.health_listen {
        config.health_listen = v;
    }
    if let Some(v) = args.resp_password {
        config.resp_password = Some(v);
    }
    if let Some(v) = args.default_ttl {
        config.default_ttl = Some(v);
    }
    if let Some(v) = args.cleanup_interval {
        config.cleanup_interval = v;
    }
    if let Some(v) = args.eviction {
        config.eviction = v;
    }
    if let Some(v) = args.tls_cert {
        config.tls_cert = Some(v);
    }
    if let Some(v) = args.tls_key {
        config.tls_key = Some(v);
    }
    if let Some(v) = args.tls_required {
        config.tls_required = v;
    }
    if args.recover_until_corruption {
        config.recover_until_corruption = true;
    }
    if let Some(v) = args.log_level {
        config.log_level = v;
    }
    if let Some(v) = args.log_format {
        config.log_format = v;
    }
    if let Some(v) = args.slow_statement_threshold {
        config.slow_statement_threshold = v;
    }
    if let Some(v) = args.shutdown_grace_period {
        config.shutdown_grace_period = v;
    }
    config.validate()?;
    Ok((config, args.threads, ignored))
}

fn serve(config: Config, threads: Option<usize>) -> Result<(), memdb_server::ServerError> {
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    // Deep statements (long operator chains, deeply nested documents)
    // recurse; generous stacks keep them from overflowing. The memory is
    // only reserved, not committed, until used.
    runtime.enable_all().thread_stack_size(64 << 20);
    if let Some(n) = threads {
        runtime.worker_threads(n.max(1));
    }
    let runtime = runtime.build().map_err(|e| memdb_server::ServerError::Config(format!("cannot start: {e}")))?;
    let opened = std::sync::Arc::new(std::sync::OnceLock::new());
    let open = {
        let config = config.clone();
        let opened = opened.clone();
        async move {
            let db = tokio::task::spawn_blocking(move || memdb_server::open_database(&config))
                .await
                .map_err(|e| memdb_server::ServerError::Config(format!("opening the database failed: {e}")))??;
            let _ = opened.set(db.clone());
            Ok(db)
        }
    };
    runtime.block_on(async {
        memdb_server::serve_opening(&config, open, shutdown_signal(), |at| {
            tracing::info!(durability = %config.durability, "memdb {} listening for PostgreSQL clients on {}", env!("CARGO_PKG_VERSION"), at.pg);
            if let Some(resp) = at.resp {
                tracing::info!("listening for Redis clients on {resp}");
            }
            if let Some(http) = at.http {
                tracing::info!("listening for HTTP on {http} (docs at http://{http}/api/v1/docs)");
            }
            if let Some(health) = at.health {
                tracing::info!("health probes on {health}");
            }
        })
        .await
    })?;
    let Some(flush_at_exit) = opened.get() else { return Ok(()) };
    flush_at_exit.flush()?;
    tracing::info!("memdb stopped");
    Ok(())
}

fn backup(args: BackupArgs) -> Result<(), memdb_server::ServerError> {
    let output = std::path::absolute(&args.output)
        .map_err(|e| memdb_server::ServerError::Config(format!("bad output directory: {e}")))?;
    let info = match args.data_dir {
        Some(dir) => {
            let mut config = Config { data_dir: dir, ..Config::default() };
            config.durability = Durability::Sync;
            let bars = std::sync::Arc::new(progress::PhaseBars::new(std::time::Duration::ZERO, true));
            let db = memdb_server::open_database_with_progress(&config, bars.handle())?;
            let info = db.backup_with_progress(&output, &bars.handle())?;
            bars.finish();
            format!("{} rows at commit {}", info.rows, info.ts)
        }
        None => {
            let addr = args.pg_listen.unwrap_or_else(|| memdb_server::DEFAULT_PG_LISTEN.to_owned());
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| memdb_server::ServerError::Config(format!("cannot start: {e}")))?;
            let spinner = progress::Spinner::now(&format!("the server at {addr} is writing the backup"));
            runtime.block_on(memdb_server::client::backup_over_pg(&addr, &output))?;
            drop(spinner);
            format!("written by the server at {addr}")
        }
    };
    tracing::info!("backup in {}: {info}", output.display());
    Ok(())
}

fn restore(args: RestoreArgs) -> Result<(), memdb_server::ServerError> {
    let target = match (args.until_time, args.until_position) {
        (Some(time), _) => memdb_engine::RestoreTarget::Time(parse_time(&time)?),
        (None, Some(n)) => memdb_engine::RestoreTarget::Position(n),
        (None, None) => memdb_engine::RestoreTarget::Latest,
    };
    let bars = std::sync::Arc::new(progress::PhaseBars::new(std::time::Duration::ZERO, true));
    let report =
        memdb_engine::restore_with_progress(&args.backup, &args.data_dir, &args.wal_archive, target, &bars.handle())?;
    bars.finish();
    tracing::info!(
        "restored {} into {}: backup at commit {}, {} log records replayed, last commit {}",
        args.backup.display(),
        args.data_dir.display(),
        report.backup_ts,
        report.replayed,
        report.last_commit
    );
    Ok(())
}

/// A wall-clock time as µs since 2000-01-01 UTC (the commit log's clock).
fn parse_time(text: &str) -> Result<i64, memdb_server::ServerError> {
    let bad = || memdb_server::ServerError::Config(format!("bad time \"{text}\" (e.g. 2026-11-22 12:00:00)"));
    let utc = chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&chrono::Utc))
        .or_else(|_| {
            ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d"]
                .iter()
                .find_map(|f| {
                    chrono::NaiveDateTime::parse_from_str(text, f).ok().or_else(|| {
                        chrono::NaiveDate::parse_from_str(text, f).ok().and_then(|d| d.and_hms_opt(0, 0, 0))
                    })
                })
                .map(|n| n.and_utc())
                .ok_or(())
        })
        .map_err(|()| bad())?;
    Ok(utc.timestamp_micros() - memdb_engine::PG_EPOCH_OFFSET_MICROS)
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
