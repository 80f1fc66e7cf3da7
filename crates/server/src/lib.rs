//! memdb's network front ends over the SQL layer: the PostgreSQL wire
//! protocol ([`pg`]), configured by [`Config`] and run by [`serve`].
//!
//! The engine and SQL layers are synchronous; this crate is the async
//! (tokio) edge. Each connection owns one [`memdb_sql::Session`]; a
//! statement runs on the connection's task, and a wait for another
//! transaction's row lock goes through the engine's blocking hook
//! ([`blocking_hook`]), so the runtime keeps serving other connections.

pub mod config;
pub mod pg;

use std::future::Future;
use std::sync::Arc;

pub use config::{Config, Durability};
use memdb_engine::Database;

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

/// Opens the database a configuration describes.
pub fn open_database(config: &Config) -> Result<Arc<Database>, ServerError> {
    if config.durability != Durability::MemoryOnly {
        return Err(ServerError::Config(format!(
            "durability {} is not available yet; use --durability memory-only",
            config.durability
        )));
    }
    let engine = memdb_engine::Config::memory().with_blocking_hook(blocking_hook);
    Ok(Arc::new(Database::open(engine)?))
}

/// Runs every configured listener until `shutdown` completes. `ready` is
/// called with the PostgreSQL listener's address once it accepts.
pub async fn serve(
    config: &Config,
    db: Arc<Database>,
    shutdown: impl Future<Output = ()>,
    ready: impl FnOnce(std::net::SocketAddr),
) -> Result<(), ServerError> {
    let pg = pg::PgServer::bind(&config.pg_listen, db, config.max_connections)
        .await
        .map_err(|source| ServerError::Bind { addr: config.pg_listen.clone(), source })?;
    let addr = pg.local_addr().map_err(|source| ServerError::Bind { addr: config.pg_listen.clone(), source })?;
    ready(addr);
    pg.run(shutdown).await;
    Ok(())
}
