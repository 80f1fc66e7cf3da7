//! The PostgreSQL wire protocol front end (the `pgwire` crate's codec and
//! handler traits over memdb's SQL sessions).
//!
//! - [`connection`]: per-connection state, startup (trust authentication),
//!   cancel requests, COPY data, and the message loop.
//! - [`query`]: the simple and extended query protocols.
//! - [`types`]: type OIDs and the text/binary encodings of values.
//! - [`error`]: SQL errors as ErrorResponse fields.

pub mod connection;
pub mod error;
pub mod query;
pub mod types;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use memdb_engine::Database;
use tokio::net::TcpListener;

pub use connection::Shared;

/// A bound PostgreSQL listener.
pub struct PgServer {
    listener: TcpListener,
    shared: Arc<Shared>,
}

impl PgServer {
    /// Binds `addr` (port 0 picks a free port) for sessions over `db`,
    /// counting into `metrics`.
    pub async fn bind(
        addr: &str,
        db: Arc<Database>,
        max_connections: usize,
        metrics: Arc<crate::metrics::ServerMetrics>,
    ) -> std::io::Result<PgServer> {
        let listener = TcpListener::bind(addr).await?;
        Ok(PgServer { listener, shared: Arc::new(Shared::new(db, max_connections, metrics)) })
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts connections until `shutdown` completes; then stops
    /// accepting and closes the open connections (their open transactions
    /// roll back; committed data is untouched).
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let shared = self.shared;
        let metrics = shared.metrics.clone();
        crate::accept_loop(&self.listener, (metrics, crate::metrics::Protocol::Pg), shutdown, |socket, _peer| {
            connection::serve_connection(socket, shared.clone())
        })
        .await;
    }
}
