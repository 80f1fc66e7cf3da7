//! The PostgreSQL wire protocol front end (the `pgwire` crate's codec and
//! handler traits over memdb's SQL sessions).
//!
//! - [`connection`]: per-connection state, TLS negotiation, startup
//!   (trust, SCRAM or MD5), cancel requests, COPY data, and the message
//!   loop.
//! - [`query`]: the simple and extended query protocols.
//! - [`types`]: type OIDs and the text/binary encodings of values.
//! - [`error`]: SQL errors as ErrorResponse fields.

pub mod connection;
pub mod error;
pub mod query;
pub mod types;

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
    /// counting into `metrics`, offering TLS when `tls` is given and limiting
    /// each client's statements to `rate_limit`.
    pub async fn bind(
        addr: &str,
        db: Arc<Database>,
        max_connections: usize,
        metrics: Arc<crate::metrics::ServerMetrics>,
        auth: Arc<crate::auth::Authenticator>,
        tls: Option<crate::tls::Tls>,
        rate_limit: Option<crate::ratelimit::RateLimit>,
    ) -> std::io::Result<PgServer> {
        let listener = TcpListener::bind(addr).await?;
        let shared = Shared::new(db, max_connections, metrics, auth, tls, rate_limit);
        Ok(PgServer { listener, shared: Arc::new(shared) })
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts connections until the server stops; then stops accepting,
    /// lets each connection finish what it is running (idle ones get FATAL
    /// 57P01 and close), cancels the statements still running after the
    /// grace period and closes the rest (their open transactions roll
    /// back; committed data is untouched).
    pub async fn run(self, stopping: crate::Stopping) {
        let shared = self.shared;
        let metrics = shared.metrics.clone();
        let overdue = {
            let shared = shared.clone();
            move || shared.cancel_all()
        };
        crate::accept_loop(
            &self.listener,
            (metrics, crate::metrics::Protocol::Pg),
            stopping,
            overdue,
            |socket, peer, stopping| connection::serve_connection(socket, peer, shared.clone(), stopping),
        )
        .await;
    }
}
