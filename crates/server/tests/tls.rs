//! TLS on all three front ends, against the real server with a
//! certificate made for the test: tokio-postgres over rustls (verifying
//! the server's certificate, SCRAM inside the tunnel), psql with
//! sslmode=verify-full when installed, RESP through a rustls client (and
//! redis-cli --tls when installed), HTTPS through reqwest; plaintext is
//! refused in each protocol's terms when TLS is required and served when it
//! is optional; bad certificate settings stop the server with the key named.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use common::TestServer;
use memdb_server::Config;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PASSWORD: &str = "tls-pw";

/// A self-signed certificate for `localhost` and 127.0.0.1, written as PEM
/// files into a directory that lives as long as the value.
struct Certificate {
    dir: tempfile::TempDir,
    der: CertificateDer<'static>,
}

impl Certificate {
    fn new() -> Certificate {
        let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("server.crt"), made.cert.pem()).unwrap();
        std::fs::write(dir.path().join("server.key"), made.signing_key.serialize_pem()).unwrap();
        Certificate { dir, der: made.cert.der().clone() }
    }

    fn cert_path(&self) -> PathBuf {
        self.dir.path().join("server.crt")
    }

    fn key_path(&self) -> PathBuf {
        self.dir.path().join("server.key")
    }

    /// A rustls client that trusts only this certificate.
    fn client_config(&self) -> rustls::ClientConfig {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.der.clone()).unwrap();
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth()
    }
}

fn config(cert: &Certificate, required: bool) -> Config {
    let mut config = TestServer::http_config();
    config.superuser_password = Some(PASSWORD.into());
    config.tls_cert = Some(cert.cert_path());
    config.tls_key = Some(cert.key_path());
    config.tls_required = required;
    config
}

fn pg_config(server: &TestServer) -> tokio_postgres::Config {
    let mut config = tokio_postgres::Config::new();
    config.host("localhost").port(server.addr.port()).user("memdb").password(PASSWORD).dbname("memdb");
    config.connect_timeout(std::time::Duration::from_secs(10));
    config
}

async fn pg_tls(server: &TestServer, cert: &Certificate) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let mut config = pg_config(server);
    config.ssl_mode(tokio_postgres::config::SslMode::Require);
    let tls = tokio_postgres_rustls::MakeRustlsConnect::new(cert.client_config());
    let (client, connection) = config.connect(tls).await?;
    tokio::spawn(connection);
    Ok(client)
}

async fn pg_plain(server: &TestServer) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let mut config = pg_config(server);
    config.ssl_mode(tokio_postgres::config::SslMode::Disable);
    let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

/// One RESP exchange over TLS: sends `request`, returns what came back
/// (read until `expect_lines` lines arrived).
async fn resp_tls(server: &TestServer, cert: &Certificate, request: &[u8], expect_lines: usize) -> String {
    let connector = tokio_rustls::TlsConnector::from(Arc::new(cert.client_config()));
    let tcp = tokio::net::TcpStream::connect(server.resp.unwrap()).await.unwrap();
    let mut tls = connector.connect(ServerName::try_from("localhost").unwrap(), tcp).await.unwrap();
    tls.write_all(request).await.unwrap();
    tls.flush().await.unwrap();
    read_lines(&mut tls, expect_lines).await
}

async fn read_lines(stream: &mut (impl tokio::io::AsyncRead + Unpin), lines: usize) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while got.iter().filter(|b| **b == b'\n').count() < lines {
        let read = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read(&mut buf)).await;
        match read {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

fn https_client(cert: &Certificate) -> reqwest::Client {
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_der(&cert.der).unwrap())
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pgwire_negotiates_tls_and_refuses_plaintext_when_required() {
    let cert = Certificate::new();
    let server = TestServer::start_with(config(&cert, true));
    let client = pg_tls(&server, &cert).await.expect("TLS connection with a verified certificate");
    client
        .batch_execute("CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'secret')")
        .await
        .unwrap();
    let v: String = client.query_one("SELECT v FROM t WHERE id = $1", &[&1i32]).await.unwrap().get(0);
    assert_eq!(v, "secret");

    let e = pg_plain(&server).await.map(|_| ()).expect_err("plaintext refused");
    assert_eq!(common::sqlstate(&e), "28000", "{e}");
    let message = e.as_db_error().map(|d| d.message().to_owned()).unwrap_or_default();
    assert!(message.contains("sslmode=require"), "{message}");

    // A wrong password inside the tunnel is still the usual refusal.
    let mut wrong = pg_config(&server);
    wrong.password("nope").ssl_mode(tokio_postgres::config::SslMode::Require);
    let e = wrong.connect(tokio_postgres_rustls::MakeRustlsConnect::new(cert.client_config())).await.err().unwrap();
    assert_eq!(common::sqlstate(&e), "28P01", "{e}");

    // A client that does not trust the certificate gives up in the handshake.
    let other = Certificate::new();
    let mut untrusted = pg_config(&server);
    untrusted.ssl_mode(tokio_postgres::config::SslMode::Require);
    let e = untrusted.connect(tokio_postgres_rustls::MakeRustlsConnect::new(other.client_config())).await.err();
    assert!(e.is_some(), "an unknown certificate must not be accepted");

    // The server still serves after all of that.
    let again = pg_tls(&server, &cert).await.unwrap();
    let n: i64 = again.query_one("SELECT count(*) FROM t", &[]).await.unwrap().get(0);
    assert_eq!(n, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_connects_with_sslmode_verify_full() {
    if std::process::Command::new("psql").arg("--version").output().is_err() {
        eprintln!("SKIPPED: psql is not installed");
        return;
    }
    let cert = Certificate::new();
    let server = TestServer::start_with(config(&cert, true));
    let port = server.addr.port().to_string();
    let cert_path = cert.cert_path();
    let psql = move |sslmode: &str| {
        std::process::Command::new("psql")
            .args(["-h", "localhost", "-p", &port, "-U", "memdb", "-d", "memdb", "-X", "-A", "-t"])
            .args(["-c", "SELECT 40 + 2", "-c", "\\conninfo"])
            .env("PGPASSWORD", PASSWORD)
            .env("PGSSLMODE", sslmode)
            .env("PGSSLROOTCERT", &cert_path)
            .env("PGCONNECT_TIMEOUT", "10")
            .output()
            .expect("psql runs")
    };
    let out = tokio::task::spawn_blocking(move || (psql("verify-full"), psql("disable"))).await.unwrap();
    let (secure, plain) = out;
    let stdout = String::from_utf8_lossy(&secure.stdout);
    assert!(secure.status.success(), "{stdout} {}", String::from_utf8_lossy(&secure.stderr));
    assert!(stdout.contains("42"), "{stdout}");
    assert!(stdout.contains("SSL connection"), "psql reports the encryption: {stdout}");
    assert!(!plain.status.success());
    let stderr = String::from_utf8_lossy(&plain.stderr);
    assert!(stderr.contains("sslmode=require"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resp_over_tls_and_plaintext_refused() {
    let cert = Certificate::new();
    let server = TestServer::start_with(config(&cert, true));
    let auth = format!("*3\r\n$4\r\nAUTH\r\n$5\r\nmemdb\r\n${}\r\n{PASSWORD}\r\n", PASSWORD.len());
    let request = format!("{auth}*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\nv1\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
    let got = resp_tls(&server, &cert, request.as_bytes(), 4).await;
    assert_eq!(got, "+OK\r\n+OK\r\n$2\r\nv1\r\n");
    // Without AUTH: NOAUTH, through the tunnel.
    let got = resp_tls(&server, &cert, b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", 1).await;
    assert!(got.starts_with("-NOAUTH"), "{got}");

    let mut plain = tokio::net::TcpStream::connect(server.resp.unwrap()).await.unwrap();
    plain.write_all(b"*1\r\n$4\r\nPING\r\n").await.unwrap();
    let got = read_lines(&mut plain, 1).await;
    assert_eq!(got, "-ERR this port accepts only TLS connections\r\n");

    if std::process::Command::new("redis-cli").arg("--version").output().is_err() {
        eprintln!("SKIPPED (redis-cli part): redis-cli is not installed");
        return;
    }
    let port = server.resp.unwrap().port().to_string();
    let cert_path = cert.cert_path();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("redis-cli")
            .args(["--tls", "--cacert"])
            .arg(cert_path)
            .args(["-h", "localhost", "-p", &port, "--user", "memdb", "--pass", PASSWORD, "--no-auth-warning"])
            .args(["GET", "k"])
            .output()
            .expect("redis-cli runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("not supported") || stderr.contains("Unrecognized option") {
        eprintln!("SKIPPED (redis-cli part): this redis-cli has no TLS: {stderr}");
        return;
    }
    assert_eq!(stdout.trim(), "v1", "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_serves_and_plain_http_is_told_to_use_https() {
    let cert = Certificate::new();
    let server = TestServer::start_with(config(&cert, true));
    let port = server.http.unwrap().port();
    let client = https_client(&cert);
    let health = client.get(format!("https://localhost:{port}/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let put = client
        .put(format!("https://localhost:{port}/api/v1/kv/greeting"))
        .basic_auth("memdb", Some(PASSWORD))
        .json(&serde_json::json!({"value": "hello"}))
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success(), "{}", put.text().await.unwrap_or_default());
    let get = client
        .get(format!("https://localhost:{port}/api/v1/kv/greeting"))
        .basic_auth("memdb", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 200);
    let body: serde_json::Value = get.json().await.unwrap();
    assert_eq!(body["value"], "hello", "{body}");
    // Without credentials: 401, over TLS as well.
    let anonymous = client.get(format!("https://localhost:{port}/api/v1/kv/greeting")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);

    let plain = reqwest::get(format!("http://127.0.0.1:{port}/health")).await.unwrap();
    assert_eq!(plain.status(), 400);
    let body: serde_json::Value = plain.json().await.unwrap();
    assert_eq!(body["code"], "tls_required", "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn optional_tls_serves_both_on_every_port() {
    let cert = Certificate::new();
    let server = TestServer::start_with(config(&cert, false));
    let secure = pg_tls(&server, &cert).await.unwrap();
    let plain = pg_plain(&server).await.unwrap();
    for client in [&secure, &plain] {
        let n: i32 = client.query_one("SELECT 7", &[]).await.unwrap().get(0);
        assert_eq!(n, 7);
    }
    let got = resp_tls(&server, &cert, b"*1\r\n$4\r\nPING\r\n", 1).await;
    assert_eq!(got, "-NOAUTH Authentication required.\r\n");
    let mut tcp = tokio::net::TcpStream::connect(server.resp.unwrap()).await.unwrap();
    tcp.write_all(b"*1\r\n$4\r\nPING\r\n").await.unwrap();
    assert_eq!(read_lines(&mut tcp, 1).await, "-NOAUTH Authentication required.\r\n");

    let port = server.http.unwrap().port();
    let secure = https_client(&cert).get(format!("https://localhost:{port}/health")).send().await.unwrap();
    let plain = reqwest::get(format!("http://127.0.0.1:{port}/health")).await.unwrap();
    assert_eq!((secure.status().as_u16(), plain.status().as_u16()), (200, 200));
}

#[test]
fn bad_certificate_settings_name_the_key() {
    let cert = Certificate::new();
    let mut only_cert = TestServer::http_config();
    only_cert.tls_cert = Some(cert.cert_path());
    let e = only_cert.validate().unwrap_err().to_string();
    assert!(e.contains("tls_key"), "{e}");

    let mut missing = config(&cert, true);
    missing.tls_cert = Some(cert.dir.path().join("nope.crt"));
    let e = missing.validate().unwrap_err().to_string();
    assert!(e.contains("tls_cert") && e.contains("nope.crt"), "{e}");

    let garbage = cert.dir.path().join("garbage.key");
    std::fs::write(&garbage, "not a key").unwrap();
    let mut bad_key = config(&cert, true);
    bad_key.tls_key = Some(garbage);
    let e = bad_key.validate().unwrap_err().to_string();
    assert!(e.contains("tls_key"), "{e}");

    // A key that belongs to another certificate.
    let other = Certificate::new();
    let mut mismatched = config(&cert, true);
    mismatched.tls_key = Some(other.key_path());
    let e = mismatched.validate().unwrap_err().to_string();
    assert!(e.contains("tls_key"), "{e}");

    assert!(config(&cert, true).validate().is_ok());
}
