//! Helpers shared by the `memdb` binary's tests: starting the real server.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // test helpers

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio_postgres::{Client, NoTls};

/// A running server, killed when dropped.
pub struct Server {
    /// The process.
    pub child: Child,
}

impl Drop for Server {
    /// A failing test must not leave a server running.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nobody listens on (yet).
pub fn free_port() -> u16 {
    // Tests of one binary run in parallel: never hand out a port twice
    // (the system may offer a just-released port again before its server
    // has bound it).
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap();
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// Starts `memdb serve` on `dir` with extra flags and a configuration
/// file holding `config`; returns once the port accepts connections.
pub fn start(dir: &Path, flags: &[&str], config: &str, port: u16) -> Server {
    let config_path = dir.with_extension("toml");
    std::fs::write(&config_path, config).unwrap();
    let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.with_extension("log")).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_memdb"))
        .args(["serve", "--pg-listen", &format!("127.0.0.1:{port}"), "--threads", "2"])
        .args(flags)
        .args(if flags.contains(&"--resp-listen") { &[][..] } else { &["--resp-listen", "off"][..] })
        .args(if flags.contains(&"--http-listen") { &[][..] } else { &["--http-listen", "off"][..] })
        .arg("--data-dir")
        .arg(dir)
        .arg("--config")
        .arg(&config_path)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("memdb starts");
    let deadline = Instant::now() + Duration::from_secs(120);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the server did not come up; log:\n{}", log_of(dir));
        std::thread::sleep(Duration::from_millis(20));
    }
    Server { child }
}

/// What the server started on `dir` logged.
pub fn log_of(dir: &Path) -> String {
    std::fs::read_to_string(dir.with_extension("log")).unwrap_or_default()
}

/// Connects to the server on `port`.
pub async fn connect(port: u16) -> Client {
    let (client, connection) =
        tokio_postgres::connect(&format!("host=127.0.0.1 port={port} user=crash"), NoTls).await.expect("connects");
    tokio::spawn(connection);
    client
}
