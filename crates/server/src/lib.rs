//! memdb's network front ends over the SQL layer: the PostgreSQL wire
//! protocol ([`pg`]), the Redis protocol ([`resp`]) and the HTTP REST API
//! ([`http`]), configured by [`Config`] and run by [`serve`].
//!
//! The engine and SQL layers are synchronous; this crate is the async
//! (tokio) edge. Each connection owns one [`memdb_sql::Session`]; a
//! statement runs on the connection's task, and a wait for another
//! transaction's row lock goes through the engine's blocking hook
//! ([`blocking_hook`]), so the runtime keeps serving other connections.

pub mod auth;
pub mod client;
pub mod config;
mod fdlimit;
pub mod http;
pub mod metrics;
pub mod pg;
pub mod ratelimit;
pub mod resp;
pub mod tls;

use std::future::Future;
use std::sync::Arc;

pub use config::{Config, DEFAULT_PG_LISTEN, Durability};
use memdb_engine::{Database, SyncMode};

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A listener could not bind its address.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// The configuration is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The database could not be opened.
    #[error("cannot open the database: {0}")]
    Engine(#[from] memdb_engine::Error),
}

/// The engine's blocking hook for a tokio server: a thread that is about
/// to block hands its other tasks to the runtime first.
pub fn blocking_hook(wait: &mut dyn FnMut()) {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(wait),
        _ => wait(),
    }
}

/// Opens the database a configuration describes: memory-only, or the data
/// directory with recovery (which finishes before this returns).
pub fn open_database(config: &Config) -> Result<Arc<Database>, ServerError> {
    open_database_with_progress(config, memdb_engine::ProgressHandle::none())
}

/// [`open_database`], reporting recovery's phases (loading the checkpoint,
/// building indexes, replaying the log) to `progress`.
pub fn open_database_with_progress(
    config: &Config,
    progress: memdb_engine::ProgressHandle,
) -> Result<Arc<Database>, ServerError> {
    let mut engine = memdb_engine::Config::memory().with_blocking_hook(blocking_hook).with_kv(kv_config(config)?);
    if let Some(max) = &config.max_memory {
        engine = engine.with_max_memory(Some(config::parse_size(max)?));
    }
    let mode = match config.durability {
        Durability::MemoryOnly => return Ok(Arc::new(Database::open(engine)?)),
        Durability::Sync => SyncMode::Sync,
        Durability::Async => SyncMode::Async { flush_interval: config::parse_duration(&config.flush_interval)? },
    };
    let mut durability = memdb_engine::Durability::new(&config.data_dir, mode);
    durability.checkpoint_interval = Some(config::parse_duration(&config.checkpoint_interval)?);
    durability.checkpoint_wal_bytes = config::parse_size(&config.checkpoint_wal_size)?;
    durability.compress_checkpoints = match config.checkpoint_compression.as_str() {
        "none" => false,
        "lz4" => true,
        other => {
            return Err(ServerError::Config(format!("unknown checkpoint_compression \"{other}\" (none or lz4)")));
        }
    };
    durability.checkpoint_rate = Some(config::parse_size(&config.checkpoint_rate)?).filter(|r| *r > 0);
    durability.segment_size = config::parse_size(&config.wal_segment_size)?.max(64 << 10);
    durability.archive_dir.clone_from(&config.wal_archive_dir);
    durability.recover_until_corruption = config.recover_until_corruption;
    durability.progress = progress;
    tracing::info!(durability = %config.durability, "opening {}", config.data_dir.display());
    Ok(Arc::new(Database::open(engine.with_durability(durability))?))
}

/// Accepts connections on `listener` until `shutdown` completes, running
/// `serve` for each on its own task; then stops accepting and closes the
/// open connections. `protocol` names the front end in log messages.
pub(crate) async fn accept_loop<F, Fut>(
    listener: &tokio::net::TcpListener,
    (metrics, protocol): (Arc<metrics::ServerMetrics>, metrics::Protocol),
    stopping: Stopping,
    overdue: impl FnOnce(),
    serve: F,
) where
    F: Fn(tokio::net::TcpStream, std::net::SocketAddr, Stopping) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut connections = tokio::task::JoinSet::new();
    let mut until_stopping = stopping.clone();
    loop {
        tokio::select! {
            _ = until_stopping.wait() => break,
            accepted = listener.accept() => match accepted {
                Ok((socket, peer)) => {
                    let open = metrics.connection(protocol);
                    let connection = serve(socket, peer, stopping.clone());
                    connections.spawn(async move {
                        connection.await;
                        drop(open);
                    });
                }
                Err(e) => {
                    // Out of file descriptors and the like: wait a moment
                    // rather than spin.
                    tracing::warn!("accepting a {protocol:?} connection failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    // Connections close themselves once idle; give busy ones the grace
    // period to finish, then cancel what still runs and close the rest.
    // (Dropping the set, when the drain is aborted, aborts what is left.)
    let mut draining = tokio::spawn(async move { while connections.join_next().await.is_some() {} });
    if tokio::time::timeout(stopping.grace, &mut draining).await.is_err() {
        tracing::warn!("{protocol:?} connections still busy after the shutdown grace period: cancelling them");
        overdue();
        if tokio::time::timeout(std::time::Duration::from_secs(2), &mut draining).await.is_err() {
            draining.abort();
        }
    }
}

/// The server's stop signal as connections see it: once set, a connection
/// finishes the request it is running and closes at its next idle moment;
/// after `grace` the accept loop cancels what still runs.
#[derive(Clone, Debug)]
pub struct Stopping {
    signal: tokio::sync::watch::Receiver<bool>,
    /// How long busy connections get before they are cancelled.
    pub grace: std::time::Duration,
}

impl Stopping {
    /// Whether the server is stopping.
    pub fn is_set(&self) -> bool {
        *self.signal.borrow()
    }

    /// Completes once the server is stopping.
    pub async fn wait(&mut self) {
        let _ = self.signal.wait_for(|s| *s).await;
    }
}

/// The key-value settings of a configuration.
pub fn kv_config(config: &Config) -> Result<memdb_engine::KvConfig, ServerError> {
    let default_ttl = match config.default_ttl.as_deref() {
        None | Some("") | Some("0") | Some("none") => None,
        Some(ttl) => Some(config::parse_duration(ttl)?),
    };
    let cleanup = config::parse_duration(&config.cleanup_interval)?;
    let eviction = config.eviction.parse().map_err(ServerError::Config)?;
    Ok(memdb_engine::KvConfig { default_ttl, cleanup_interval: Some(cleanup).filter(|d| !d.is_zero()), eviction })
}

/// Whether a listen setting turns the listener off.
fn is_off(addr: &str) -> bool {
    matches!(addr.trim(), "" | "off" | "none")
}

/// Where the listeners of a running server accept connections.
#[derive(Clone, Copy, Debug)]
pub struct Listening {
    /// The PostgreSQL protocol listener.
    pub pg: std::net::SocketAddr,
    /// The Redis protocol listener, if on.
    pub resp: Option<std::net::SocketAddr>,
    /// The HTTP REST listener, if on.
    pub http: Option<std::net::SocketAddr>,
    /// The separate health-probe listener, if on.
    pub health: Option<std::net::SocketAddr>,
}

/// The HTTP settings of a configuration.
pub fn http_options(config: &Config) -> Result<http::HttpOptions, ServerError> {
    http_options_with(config, config.tls()?)
}

/// [`http_options`] with TLS already loaded.
fn http_options_with(config: &Config, tls: Option<tls::Tls>) -> Result<http::HttpOptions, ServerError> {
    Ok(http::HttpOptions {
        auto_create_tables: config.auto_create_tables,
        max_body: usize::try_from(config::parse_size(&config.http_max_body)?).unwrap_or(usize::MAX),
        request_timeout: config::parse_duration(&config.http_request_timeout)?,
        rate_limit: config.http_rate_limit()?,
        auth: None,
        tls,
    })
}

async fn bind(addr: &str) -> Result<tokio::net::TcpListener, ServerError> {
    tokio::net::TcpListener::bind(addr).await.map_err(|source| ServerError::Bind { addr: addr.to_owned(), source })
}

fn local_addr(listener: &tokio::net::TcpListener, addr: &str) -> Result<std::net::SocketAddr, ServerError> {
    listener.local_addr().map_err(|source| ServerError::Bind { addr: addr.to_owned(), source })
}

/// Runs every configured listener over an open database until `shutdown`
/// completes. `ready` is called with the listeners' addresses once every
/// one accepts.
pub async fn serve(
    config: &Config,
    db: Arc<Database>,
    shutdown: impl Future<Output = ()>,
    ready: impl FnOnce(Listening),
) -> Result<(), ServerError> {
    serve_opening(config, async move { Ok(db) }, shutdown, ready).await
}

/// Like [`serve`], but opens the database itself: the health listener
/// (`health_listen`) answers first, `/ready` saying 503 until `open` —
/// recovery — finishes; then every other listener binds.
pub async fn serve_opening(
    config: &Config,
    open: impl Future<Output = Result<Arc<Database>, ServerError>>,
    shutdown: impl Future<Output = ()>,
    ready: impl FnOnce(Listening),
) -> Result<(), ServerError> {
    // The TLS files are read once, here, and checked before anything binds.
    config.validate_settings()?;
    // The PostgreSQL and Redis front ends each take up to max_connections.
    fdlimit::raise_for(config.max_connections.saturating_mul(2));
    let tls = config.tls()?;
    let probes = http::Probes::new();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let until_stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let mut tasks = Vec::new();
    let health = if is_off(&config.health_listen) {
        None
    } else {
        let listener = bind(&config.health_listen).await?;
        let addr = local_addr(&listener, &config.health_listen)?;
        tasks.push(tokio::spawn(http::serve_probes(listener, probes.clone(), until_stopped(stopped.clone()))));
        Some(addr)
    };
    let db = match open.await {
        Ok(db) => db,
        Err(e) => {
            let _ = stop.send(true);
            return Err(e);
        }
    };
    probes.set_ready();
    let metrics = Arc::new(metrics::ServerMetrics::default());
    metrics.set_slow_statement_threshold(config.slow_statement_threshold()?);
    let auth = Arc::new(auth::Authenticator::new(db.clone(), &config.superuser, config.superuser_password.as_deref())?);
    if tls.is_some() {
        tracing::info!(required = config.tls_required, "TLS on for every front end");
    }
    let pg = pg::PgServer::bind(
        &config.pg_listen,
        db.clone(),
        config.max_connections,
        metrics.clone(),
        auth.clone(),
        tls.clone(),
        config.pg_rate_limit()?,
    )
    .await
    .map_err(|source| ServerError::Bind { addr: config.pg_listen.clone(), source })?;
    let addr = pg.local_addr().map_err(|source| ServerError::Bind { addr: config.pg_listen.clone(), source })?;
    // Redis clients get worker threads of their own (see `resp_threads`);
    // the listener is made on them, so accepts do not wait on the others.
    let mut resp_runtime = OwnRuntime(None);
    let resp = if is_off(&config.resp_listen) {
        None
    } else {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.resp_worker_threads())
            .thread_name("memdb-resp")
            .enable_all()
            .build()
            .map_err(|e| ServerError::Config(format!("cannot start the Redis front end's threads: {e}")))?;
        let handle = runtime.handle().clone();
        resp_runtime.0 = Some(runtime);
        let options = resp::RespOptions {
            password: config.resp_password.clone().filter(|p| !p.is_empty()),
            max_connections: config.max_connections,
            max_memory: match &config.max_memory {
                Some(m) => config::parse_size(m)?,
                None => 0,
            },
            eviction: config.eviction.parse().map_err(ServerError::Config)?,
            durable: config.durability != Durability::MemoryOnly,
            auth: Some(auth.clone()),
            tls: tls.clone(),
            rate_limit: config.resp_rate_limit()?,
        };
        let listen = config.resp_listen.clone();
        let bound = handle.spawn({
            let db = db.clone();
            async move { resp::RespServer::bind(&listen, db, options).await }
        });
        let bind_failed = |source| ServerError::Bind { addr: config.resp_listen.clone(), source };
        let server = bound.await.map_err(|e| bind_failed(std::io::Error::other(e)))?.map_err(bind_failed)?;
        Some((server, handle))
    };
    let resp_addr = match &resp {
        Some((server, _)) => {
            Some(server.local_addr().map_err(|source| ServerError::Bind { addr: config.resp_listen.clone(), source })?)
        }
        None => None,
    };
    let http = if is_off(&config.http_listen) {
        None
    } else {
        let listener = bind(&config.http_listen).await?;
        let addr = local_addr(&listener, &config.http_listen)?;
        let mut options = http_options_with(config, tls.clone())?;
        options.auth = Some(auth.clone());
        let state = http::AppState::new(db.clone(), options, metrics.clone(), probes.clone());
        Some((listener, addr, state))
    };
    ready(Listening { pg: addr, resp: resp_addr, http: http.as_ref().map(|h| h.1), health });
    let grace = config::parse_duration(&config.shutdown_grace_period)?;
    let stopping = Stopping { signal: stopped.clone(), grace };
    if let Some((listener, _, state)) = http {
        tasks.push(tokio::spawn(http::serve(listener, state, until_stopped(stopped.clone()))));
    }
    if let Some((server, handle)) = resp {
        tasks.push(handle.spawn(server.run(stopping.clone(), metrics.clone())));
    }
    tasks.push(tokio::spawn(pg.run(stopping)));
    shutdown.await;
    tracing::info!("stopping: no new connections; open ones close when idle (grace period {grace:?})");
    let _ = stop.send(true);
    // HTTP requests in flight get the same grace period (the protocol
    // listeners enforce theirs themselves).
    let deadline = tokio::time::Instant::now() + grace + std::time::Duration::from_secs(3);
    for mut task in tasks {
        if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
            task.abort();
        }
    }
    // Whatever still runs there (a command inside its engine call) gets a
    // moment to finish before the caller flushes the log.
    if let Some(runtime) = resp_runtime.0.take() {
        let _ = tokio::task::spawn_blocking(move || runtime.shutdown_timeout(std::time::Duration::from_secs(5))).await;
    }
    Ok(())
}

/// A runtime of a front end's own. On an early return it is dropped inside
/// the main runtime, where a blocking shutdown is not allowed, so it shuts
/// down in the background; the normal end waits for it instead.
struct OwnRuntime(Option<tokio::runtime::Runtime>);

impl Drop for OwnRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}
