//! Per-client rate limits and connection limits on pgwire and RESP,
//! against the real server: a statement or command over the limit is
//! refused in the protocol's terms (SQLSTATE 53400, `-ERR … retry in`) and
//! the connection stays usable; a connection past `max_connections` gets
//! 53300 / `-ERR max number of clients reached`. (HTTP's 429 is in
//! http.rs.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn pg(server: &TestServer) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(&server.conn_str(), tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

async fn resp_exchange(stream: &mut tokio::net::TcpStream, request: &[u8], replies: usize) -> String {
    stream.write_all(request).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while got.iter().filter(|b| **b == b'\n').count() < replies {
        match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => got.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pgwire_statements_over_the_rate_are_refused_with_53400() {
    let mut config = TestServer::resp_config();
    config.pg_rate_limit = "2".into();
    config.pg_rate_burst = 3;
    let server = TestServer::start_with(config);
    let client = pg(&server).await.unwrap();
    // The startup queries of tokio-postgres are none; three statements fit
    // the burst, the fourth does not.
    for _ in 0..3 {
        client.simple_query("SELECT 1").await.unwrap();
    }
    let e = client.simple_query("SELECT 1").await.unwrap_err();
    assert_eq!(common::sqlstate(&e), "53400", "{e}");
    let message = e.as_db_error().map(|d| d.message().to_owned()).unwrap_or_default();
    assert!(message.contains("retry in 1 s"), "{message}");
    // Extended protocol too, and the connection stays usable.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let n: i32 = client.query_one("SELECT $1::int", &[&7i32]).await.unwrap().get(0);
    assert_eq!(n, 7);

    // A refusal inside a transaction block fails the block, as any error.
    tokio::time::sleep(Duration::from_millis(1600)).await;
    client.batch_execute("BEGIN").await.unwrap();
    let mut refused = None;
    for _ in 0..5 {
        if let Err(e) = client.simple_query("SELECT 1").await {
            refused = Some(e);
            break;
        }
    }
    assert_eq!(refused.map(|e| common::sqlstate(&e)).as_deref(), Some("53400"));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let e = client.simple_query("SELECT 1").await.unwrap_err();
    assert_eq!(common::sqlstate(&e), "25P02", "{e}");
    client.batch_execute("ROLLBACK").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resp_commands_over_the_rate_get_an_error_in_order() {
    let mut config = TestServer::resp_config();
    config.resp_rate_limit = "1".into();
    config.resp_rate_burst = 2;
    let server = TestServer::start_with(config);
    let mut stream = tokio::net::TcpStream::connect(server.resp.unwrap()).await.unwrap();
    let pipeline = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\n";
    let got = resp_exchange(&mut stream, pipeline, 4).await;
    assert_eq!(got, "+OK\r\n$1\r\nv\r\n-ERR rate limit exceeded for this client; retry in 1 s\r\n");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(resp_exchange(&mut stream, b"*1\r\n$4\r\nPING\r\n", 1).await, "+PONG\r\n");

    // A refusal inside MULTI spoils the transaction; MULTI and EXEC are
    // never refused, so the client is not left inside it.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let transaction = b"MULTI\r\nSET a 1\r\nSET b 2\r\nINCR c\r\nEXEC\r\nGET a\r\n";
    let got = resp_exchange(&mut stream, transaction, 6).await;
    assert_eq!(
        got,
        "+OK\r\n+QUEUED\r\n+QUEUED\r\n-ERR rate limit exceeded for this client; retry in 1 s\r\n\
         -EXECABORT Transaction discarded because of previous errors.\r\n\
         -ERR rate limit exceeded for this client; retry in 1 s\r\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_max_connections_get_the_protocols_error() {
    let mut config = TestServer::resp_config();
    config.max_connections = 2;
    let server = TestServer::start_with(config);
    let first = pg(&server).await.unwrap();
    let second = pg(&server).await.unwrap();
    let e = pg(&server).await.map(|_| ()).unwrap_err();
    assert_eq!(common::sqlstate(&e), "53300", "{e}");
    drop((first, second));

    let mut a = tokio::net::TcpStream::connect(server.resp.unwrap()).await.unwrap();
    let mut b = tokio::net::TcpStream::connect(server.resp.unwrap()).await.unwrap();
    assert_eq!(resp_exchange(&mut a, b"PING\r\n", 1).await, "+PONG\r\n");
    assert_eq!(resp_exchange(&mut b, b"PING\r\n", 1).await, "+PONG\r\n");
    let mut c = tokio::net::TcpStream::connect(server.resp.unwrap()).await.unwrap();
    assert_eq!(resp_exchange(&mut c, b"PING\r\n", 1).await, "-ERR max number of clients reached\r\n");
}
