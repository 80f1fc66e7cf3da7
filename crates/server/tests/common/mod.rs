//! A memdb server on a free loopback port, in its own runtime, for the
//! integration tests; stopped when dropped.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread::JoinHandle;

use memdb_server::Config;
use tokio::sync::oneshot;

/// A running server.
pub struct TestServer {
    /// Where it listens for PostgreSQL clients.
    pub addr: SocketAddr,
    /// Where it listens for Redis clients (when on).
    pub resp: Option<SocketAddr>,
    /// Where it listens for HTTP (when on).
    pub http: Option<SocketAddr>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Starts a memory-only server with two worker threads (like the CI
    /// machine's two cores).
    pub fn start() -> TestServer {
        Self::start_with(Config {
            pg_listen: "127.0.0.1:0".into(),
            resp_listen: "off".into(),
            http_listen: "off".into(),
            durability: memdb_server::Durability::MemoryOnly,
            ..Config::default()
        })
    }

    /// Starts a memory-only server with the HTTP listener on a free port.
    pub fn start_http() -> TestServer {
        Self::start_with(Self::http_config())
    }

    /// The configuration `start_http` uses (to change before starting).
    pub fn http_config() -> Config {
        Config {
            pg_listen: "127.0.0.1:0".into(),
            resp_listen: "127.0.0.1:0".into(),
            http_listen: "127.0.0.1:0".into(),
            durability: memdb_server::Durability::MemoryOnly,
            ..Config::default()
        }
    }

    /// The base URL of the HTTP listener.
    pub fn url(&self, path: &str) -> String {
        let addr = self.http.expect("the HTTP listener is off");
        format!("http://{addr}{path}")
    }

    /// Starts a memory-only server with the Redis listener on a free port.
    pub fn start_resp() -> TestServer {
        Self::start_with(Self::resp_config())
    }

    /// The configuration `start_resp` uses (to change before starting).
    pub fn resp_config() -> Config {
        Config {
            pg_listen: "127.0.0.1:0".into(),
            resp_listen: "127.0.0.1:0".into(),
            http_listen: "off".into(),
            durability: memdb_server::Durability::MemoryOnly,
            ..Config::default()
        }
    }

    /// Starts a server with a configuration.
    pub fn start_with(config: Config) -> TestServer {
        let (addr_tx, addr_rx) = mpsc::channel();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime =
                tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
            let db = memdb_server::open_database(&config).expect("database");
            runtime.block_on(async {
                let shutdown = async {
                    let _ = stop_rx.await;
                };
                memdb_server::serve(&config, db, shutdown, |at| {
                    let _ = addr_tx.send(at);
                })
                .await
                .expect("serve");
            });
        });
        let at = addr_rx.recv().expect("server address");
        TestServer { addr: at.pg, resp: at.resp, http: at.http, stop: Some(stop_tx), thread: Some(thread) }
    }

    /// A libpq-style connection string for user `memdb`.
    pub fn conn_str(&self) -> String {
        format!("host={} port={} user=memdb dbname=memdb", self.addr.ip(), self.addr.port())
    }

    /// Connects a tokio-postgres client (the connection task is spawned).
    pub async fn connect(&self) -> tokio_postgres::Client {
        let (client, connection) =
            tokio_postgres::connect(&self.conn_str(), tokio_postgres::NoTls).await.expect("connect");
        tokio::spawn(async move {
            let _ = connection.await;
        });
        client
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The SQLSTATE of a tokio-postgres error.
pub fn sqlstate(e: &tokio_postgres::Error) -> String {
    e.code().map(|c| c.code().to_owned()).unwrap_or_else(|| format!("no SQLSTATE: {e}"))
}
