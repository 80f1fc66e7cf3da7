//! The Redis protocol (RESP2 and RESP3) front end over the engine's
//! keyspace, so redis-cli, redis-benchmark and Redis client libraries work
//! unmodified.
//!
//! - [`parse`]: requests (arrays of bulk strings, inline lines), with
//!   limits checked before allocating.
//! - [`reply`]: replies in RESP2 or RESP3.
//! - [`table`]: known commands, their arity and key positions.
//! - [`commands`]: data commands → engine [`memdb_engine::KvCommand`]s.
//! - [`connection`]: one client: pipelining, AUTH, HELLO, MULTI/EXEC/WATCH,
//!   blocking pops, and the connection and server commands.
//!
//! A connection reads what the socket has, runs every complete request in
//! it, and writes all the replies at once, so a pipeline of N commands
//! costs one read and one write. Each data command is one engine
//! transaction (MULTI/EXEC: one for the block); a blocked BLPOP waits on a
//! per-key notification that pushes fire after they commit.

pub mod commands;
pub mod connection;
pub mod parse;
pub mod reply;
pub mod table;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Instant;

use memdb_engine::{Database, Eviction, Kv};
use parking_lot::Mutex;
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// Default RESP listen address.
pub const DEFAULT_RESP_LISTEN: &str = "127.0.0.1:6379";

/// Settings of the RESP front end.
#[derive(Clone, Debug, Default)]
pub struct RespOptions {
    /// Password clients must give with AUTH (`None`: no AUTH needed).
    pub password: Option<String>,
    /// Most connections at once.
    pub max_connections: usize,
    /// `max_memory` in bytes, as CONFIG GET maxmemory reports it (0: none).
    pub max_memory: u64,
    /// The eviction policy, for CONFIG GET and INFO.
    pub eviction: Eviction,
    /// Whether commits are written to disk (CONFIG GET appendonly).
    pub durable: bool,
    /// Logins by role (`AUTH user password`); with authentication on,
    /// every connection must log in, and a role's privileges decide which
    /// commands it may run.
    pub auth: Option<Arc<crate::auth::Authenticator>>,
    /// TLS, when a certificate is configured (`redis-cli --tls`).
    pub tls: Option<crate::tls::Tls>,
    /// Commands per client address (`None`: unlimited).
    pub rate_limit: Option<crate::ratelimit::RateLimit>,
}

/// Wakes connections blocked in BLPOP/BRPOP when a key gets elements.
#[derive(Default)]
pub struct Waiters {
    by_key: Mutex<HashMap<Vec<u8>, Weak<Notify>>>,
}

impl Waiters {
    /// The notification a waiter on `key` listens to.
    pub fn get(&self, key: &[u8]) -> Arc<Notify> {
        let mut map = self.by_key.lock();
        if let Some(n) = map.get(key).and_then(Weak::upgrade) {
            return n;
        }
        if map.len() >= 1024 {
            map.retain(|_, w| w.strong_count() > 0);
        }
        let notify = Arc::new(Notify::new());
        map.insert(key.to_vec(), Arc::downgrade(&notify));
        notify
    }

    /// Wakes everyone waiting on `key`.
    pub fn wake(&self, key: &[u8]) {
        let notify = {
            let mut map = self.by_key.lock();
            match map.get(key).map(Weak::upgrade) {
                Some(Some(n)) => Some(n),
                Some(None) => {
                    map.remove(key);
                    None
                }
                None => None,
            }
        };
        if let Some(n) = notify {
            n.notify_waiters();
        }
    }
}

/// State shared by the RESP connections of one server.
pub struct Shared {
    /// The database.
    pub db: Arc<Database>,
    /// Its keyspace.
    pub kv: Kv,
    /// Per-client command buckets, when `rate_limit` is set.
    pub limiter: Option<crate::ratelimit::Limiter>,
    /// Settings.
    pub options: RespOptions,
    /// Blocked pops.
    pub waiters: Arc<Waiters>,
    /// Client ids (CLIENT ID).
    pub next_id: AtomicU64,
    /// Open connections.
    pub connected: AtomicUsize,
    /// Connections accepted since start.
    pub connections_total: AtomicU64,
    /// Commands run since start.
    pub commands_total: AtomicU64,
    /// When the server started (INFO uptime).
    pub started: Instant,
    /// The address clients connect to (CONFIG GET port/bind, INFO).
    pub addr: Mutex<Option<SocketAddr>>,
}

/// A bound RESP listener.
pub struct RespServer {
    listener: TcpListener,
    shared: Arc<Shared>,
}

impl RespServer {
    /// Binds `addr` (port 0 picks a free port) over `db`'s keyspace.
    pub async fn bind(addr: &str, db: Arc<Database>, options: RespOptions) -> std::io::Result<RespServer> {
        let listener = TcpListener::bind(addr).await?;
        let kv = db.kv();
        let waiters = Arc::new(Waiters::default());
        let weak = Arc::downgrade(&waiters);
        let listener_set = kv.set_push_listener(Box::new(move |key| {
            if let Some(w) = weak.upgrade() {
                w.wake(key);
            }
        }));
        if listener_set.is_err() {
            // Another front end registered first; blocked pops still see
            // pushes through their periodic re-check.
            tracing::debug!("push notifications already taken; blocking pops poll");
        }
        let shared = Arc::new(Shared {
            limiter: options.rate_limit.map(crate::ratelimit::Limiter::new),
            db,
            kv,
            options,
            waiters,
            next_id: AtomicU64::new(1),
            connected: AtomicUsize::new(0),
            connections_total: AtomicU64::new(0),
            commands_total: AtomicU64::new(0),
            started: Instant::now(),
            addr: Mutex::new(listener.local_addr().ok()),
        });
        Ok(RespServer { listener, shared })
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts connections until the server stops; then stops accepting and
    /// closes each connection once it has answered what it was sent (after
    /// the grace period, whatever still runs, such as a blocking pop).
    pub async fn run(self, stopping: crate::Stopping, metrics: Arc<crate::metrics::ServerMetrics>) {
        let shared = self.shared;
        let protocol = (metrics, crate::metrics::Protocol::Resp);
        crate::accept_loop(
            &self.listener,
            protocol,
            stopping,
            || {},
            |socket, peer, stopping| {
                let _ = socket.set_nodelay(true);
                shared.connections_total.fetch_add(1, Ordering::Relaxed);
                let shared = shared.clone();
                async move {
                    let tls = shared.options.tls.as_ref().map(|t| (t.resp_acceptor(), t.required));
                    match crate::tls::accept(tls.as_ref().map(|(a, required)| (a, *required)), socket).await {
                        Some(crate::tls::Accepted::Stream(stream)) => {
                            connection::serve(stream, peer, shared, stopping).await
                        }
                        Some(crate::tls::Accepted::PlaintextRefused(socket)) => {
                            let answer = b"-ERR this port accepts only TLS connections\r\n";
                            crate::tls::refuse_plaintext(socket, answer).await;
                        }
                        None => {}
                    }
                }
            },
        )
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waiters_wake_and_forget() {
        let waiters = Waiters::default();
        let n = waiters.get(b"k");
        {
            let notified = n.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            waiters.wake(b"k");
            notified.await;
        }
        drop(n);
        waiters.wake(b"k");
        assert!(waiters.by_key.lock().is_empty(), "a key nobody waits on is dropped");
    }
}
