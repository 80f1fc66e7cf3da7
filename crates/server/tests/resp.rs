//! The Redis protocol front end, driven by the `redis` client crate and by
//! raw sockets: every command family, pipelining, MULTI/EXEC with WATCH,
//! blocking pops, AUTH, RESP3, errors in Redis's words, malformed input,
//! and expiry across a restart in sync mode.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use common::TestServer;
use redis::aio::MultiplexedConnection;
use redis::{RedisResult, Value, cmd};

async fn connect(server: &TestServer) -> MultiplexedConnection {
    let addr = server.resp.expect("RESP listener");
    let client = redis::Client::open(format!("redis://{addr}/")).unwrap();
    client.get_multiplexed_async_connection().await.unwrap()
}

async fn q<T: redis::FromRedisValue>(con: &mut MultiplexedConnection, args: &[&str]) -> RedisResult<T> {
    let mut c = cmd(args[0]);
    for a in &args[1..] {
        c.arg(*a);
    }
    c.query_async(con).await
}

/// The server's error text for a command (code and message).
async fn err(con: &mut MultiplexedConnection, args: &[&str]) -> String {
    match q::<Value>(con, args).await {
        Ok(v) => panic!("{args:?} succeeded: {v:?}"),
        Err(e) => format!("{} {}", e.code().unwrap_or("?"), e.detail().unwrap_or("")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn string_commands() {
    let server = TestServer::start_resp();
    let mut c = connect(&server).await;
    assert_eq!(q::<String>(&mut c, &["PING"]).await.unwrap(), "PONG");
    assert_eq!(q::<String>(&mut c, &["ECHO", "hi"]).await.unwrap(), "hi");
    assert_eq!(q::<String>(&mut c, &["SET", "k", "v"]).await.unwrap(), "OK");
    assert_eq!(q::<String>(&mut c, &["GET", "k"]).await.unwrap(), "v");
    assert_eq!(q::<Option<String>>(&mut c, &["GET", "missing"]).await.unwrap(), None);
    assert_eq!(q::<Option<String>>(&mut c, &["SET", "k", "w", "NX"]).await.unwrap(), None);
    assert_eq!(q::<String>(&mut c, &["SET", "k", "w", "XX", "GET"]).await.unwrap(), "v");
    assert_eq!(q::<i64>(&mut c, &["SETNX", "k", "x"]).await.unwrap(), 0);
    assert_eq!(q::<i64>(&mut c, &["SETNX", "k2", "x"]).await.unwrap(), 1);
    assert_eq!(q::<String>(&mut c, &["GETSET", "k2", "y"]).await.unwrap(), "x");
    assert_eq!(q::<String>(&mut c, &["GETDEL", "k2"]).await.unwrap(), "y");
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "k", "k2", "k"]).await.unwrap(), 2);
    assert_eq!(q::<String>(&mut c, &["MSET", "a", "1", "b", "2"]).await.unwrap(), "OK");
    let got: Vec<Option<String>> = q(&mut c, &["MGET", "a", "nope", "b"]).await.unwrap();
    assert_eq!(got, vec![Some("1".into()), None, Some("2".into())]);
    assert_eq!(q::<i64>(&mut c, &["MSETNX", "a", "9", "z", "9"]).await.unwrap(), 0);
    assert_eq!(q::<i64>(&mut c, &["INCR", "a"]).await.unwrap(), 2);
    assert_eq!(q::<i64>(&mut c, &["INCRBY", "a", "10"]).await.unwrap(), 12);
    assert_eq!(q::<i64>(&mut c, &["DECR", "a"]).await.unwrap(), 11);
    assert_eq!(q::<i64>(&mut c, &["DECRBY", "a", "20"]).await.unwrap(), -9);
    assert_eq!(q::<i64>(&mut c, &["APPEND", "b", "xy"]).await.unwrap(), 3);
    assert_eq!(q::<i64>(&mut c, &["STRLEN", "b"]).await.unwrap(), 3);
    assert_eq!(q::<String>(&mut c, &["TYPE", "b"]).await.unwrap(), "string");
    assert_eq!(q::<String>(&mut c, &["TYPE", "nope"]).await.unwrap(), "none");
    assert_eq!(q::<i64>(&mut c, &["DEL", "a", "b", "nope"]).await.unwrap(), 2);
    assert_eq!(q::<i64>(&mut c, &["UNLINK", "k"]).await.unwrap(), 1);
    // Binary-safe keys and values.
    let mut set = cmd("SET");
    set.arg(&b"bin\x00\xff"[..]).arg(&b"\r\n\x00"[..]);
    let () = set.query_async(&mut c).await.unwrap();
    let value: Vec<u8> = cmd("GET").arg(&b"bin\x00\xff"[..]).query_async(&mut c).await.unwrap();
    assert_eq!(value, b"\r\n\x00");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_commands() {
    let server = TestServer::start_resp();
    let mut c = connect(&server).await;
    assert_eq!(q::<String>(&mut c, &["SET", "k", "v", "EX", "100"]).await.unwrap(), "OK");
    assert_eq!(q::<i64>(&mut c, &["TTL", "k"]).await.unwrap(), 100);
    let pttl: i64 = q(&mut c, &["PTTL", "k"]).await.unwrap();
    assert!((99_000..=100_000).contains(&pttl));
    assert_eq!(q::<i64>(&mut c, &["TTL", "nope"]).await.unwrap(), -2);
    assert_eq!(q::<i64>(&mut c, &["PERSIST", "k"]).await.unwrap(), 1);
    assert_eq!(q::<i64>(&mut c, &["TTL", "k"]).await.unwrap(), -1);
    assert_eq!(q::<i64>(&mut c, &["EXPIRE", "k", "50", "XX"]).await.unwrap(), 0);
    assert_eq!(q::<i64>(&mut c, &["EXPIRE", "k", "50", "NX"]).await.unwrap(), 1);
    assert_eq!(q::<i64>(&mut c, &["PEXPIRE", "k", "60000", "GT"]).await.unwrap(), 1);
    assert_eq!(q::<i64>(&mut c, &["TTL", "k"]).await.unwrap(), 60);
    let at = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 1000;
    assert_eq!(q::<i64>(&mut c, &["EXPIREAT", "k", &at.to_string()]).await.unwrap(), 1);
    assert_eq!(q::<i64>(&mut c, &["EXPIRETIME", "k"]).await.unwrap(), at as i64);
    assert_eq!(q::<i64>(&mut c, &["PEXPIREAT", "k", &(at * 1000).to_string()]).await.unwrap(), 1);
    assert_eq!(q::<String>(&mut c, &["SETEX", "s", "10", "v"]).await.unwrap(), "OK");
    assert_eq!(q::<String>(&mut c, &["PSETEX", "p", "120", "v"]).await.unwrap(), "OK");
    assert_eq!(q::<String>(&mut c, &["GETEX", "s", "PERSIST"]).await.unwrap(), "v");
    assert_eq!(q::<i64>(&mut c, &["TTL", "s"]).await.unwrap(), -1);
    assert_eq!(q::<String>(&mut c, &["SET", "kt", "v", "PX", "100000"]).await.unwrap(), "OK");
    assert_eq!(q::<String>(&mut c, &["SET", "kt", "w", "KEEPTTL"]).await.unwrap(), "OK");
    assert!(q::<i64>(&mut c, &["TTL", "kt"]).await.unwrap() > 90);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(q::<Option<String>>(&mut c, &["GET", "p"]).await.unwrap(), None, "expired after 120 ms");
    assert_eq!(q::<i64>(&mut c, &["EXPIRE", "s", "-1"]).await.unwrap(), 1);
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "s"]).await.unwrap(), 0, "a past deadline deletes");
    assert!(err(&mut c, &["SET", "x", "v", "EX", "0"]).await.contains("invalid expire time in 'set' command"));
    assert!(err(&mut c, &["SETEX", "x", "-5", "v"]).await.contains("invalid expire time in 'setex' command"));
    // Absolute deadlines, and GETEX setting a TTL each way.
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    let at = now_ms / 1000 + 500;
    assert_eq!(q::<String>(&mut c, &["SET", "ea", "v", "EXAT", &at.to_string()]).await.unwrap(), "OK");
    assert_eq!(q::<i64>(&mut c, &["EXPIRETIME", "ea"]).await.unwrap(), at as i64);
    let pat = now_ms + 700_000;
    assert_eq!(q::<String>(&mut c, &["SET", "pa", "v", "PXAT", &pat.to_string()]).await.unwrap(), "OK");
    assert_eq!(q::<i64>(&mut c, &["PEXPIRETIME", "pa"]).await.unwrap(), pat as i64);
    assert_eq!(q::<String>(&mut c, &["SET", "gx", "v"]).await.unwrap(), "OK");
    assert_eq!(q::<String>(&mut c, &["GETEX", "gx", "EX", "300"]).await.unwrap(), "v");
    assert!((299..=300).contains(&q::<i64>(&mut c, &["TTL", "gx"]).await.unwrap()));
    assert_eq!(q::<String>(&mut c, &["GETEX", "gx", "PX", "400000"]).await.unwrap(), "v");
    assert!((399..=400).contains(&q::<i64>(&mut c, &["TTL", "gx"]).await.unwrap()));
    assert_eq!(q::<String>(&mut c, &["GETEX", "gx", "EXAT", &at.to_string()]).await.unwrap(), "v");
    assert_eq!(q::<i64>(&mut c, &["EXPIRETIME", "gx"]).await.unwrap(), at as i64);
    assert_eq!(q::<String>(&mut c, &["GETEX", "gx", "PXAT", &pat.to_string()]).await.unwrap(), "v");
    assert_eq!(q::<i64>(&mut c, &["PEXPIRETIME", "gx"]).await.unwrap(), pat as i64);
    assert_eq!(q::<String>(&mut c, &["GETEX", "gx"]).await.unwrap(), "v", "no option keeps the TTL");
    assert_eq!(q::<i64>(&mut c, &["PEXPIRETIME", "gx"]).await.unwrap(), pat as i64);
    assert_eq!(q::<String>(&mut c, &["GETEX", "gx", "PXAT", "1"]).await.unwrap(), "v", "a past deadline deletes");
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "gx"]).await.unwrap(), 0);
    assert_eq!(q::<Option<String>>(&mut c, &["GETEX", "gx", "EX", "5"]).await.unwrap(), None);
    assert!(err(&mut c, &["GETEX", "ea", "EX", "5", "PX", "5"]).await.contains("syntax error"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_commands() {
    let server = TestServer::start_resp();
    let mut c = connect(&server).await;
    assert_eq!(q::<i64>(&mut c, &["RPUSH", "l", "a", "b", "c"]).await.unwrap(), 3);
    assert_eq!(q::<i64>(&mut c, &["LPUSH", "l", "x", "y"]).await.unwrap(), 5);
    assert_eq!(q::<Vec<String>>(&mut c, &["LRANGE", "l", "0", "-1"]).await.unwrap(), ["y", "x", "a", "b", "c"]);
    assert_eq!(q::<i64>(&mut c, &["LPUSHX", "nope", "a"]).await.unwrap(), 0);
    assert_eq!(q::<i64>(&mut c, &["RPUSHX", "l", "d"]).await.unwrap(), 6);
    assert_eq!(q::<String>(&mut c, &["LPOP", "l"]).await.unwrap(), "y");
    assert_eq!(q::<Vec<String>>(&mut c, &["RPOP", "l", "2"]).await.unwrap(), ["d", "c"]);
    assert_eq!(q::<i64>(&mut c, &["LLEN", "l"]).await.unwrap(), 3);
    assert_eq!(q::<String>(&mut c, &["LINDEX", "l", "-1"]).await.unwrap(), "b");
    assert_eq!(q::<Option<String>>(&mut c, &["LINDEX", "l", "10"]).await.unwrap(), None);
    assert_eq!(q::<String>(&mut c, &["LSET", "l", "0", "X"]).await.unwrap(), "OK");
    assert_eq!(q::<i64>(&mut c, &["LINSERT", "l", "AFTER", "a", "a2"]).await.unwrap(), 4);
    assert_eq!(q::<i64>(&mut c, &["LINSERT", "l", "BEFORE", "zz", "q"]).await.unwrap(), -1);
    assert_eq!(q::<i64>(&mut c, &["RPUSH", "l", "a"]).await.unwrap(), 5);
    assert_eq!(q::<i64>(&mut c, &["LPOS", "l", "a"]).await.unwrap(), 1);
    assert_eq!(q::<Vec<i64>>(&mut c, &["LPOS", "l", "a", "COUNT", "0"]).await.unwrap(), [1, 4]);
    assert_eq!(q::<i64>(&mut c, &["LPOS", "l", "a", "RANK", "-1"]).await.unwrap(), 4);
    assert_eq!(q::<i64>(&mut c, &["LREM", "l", "0", "a"]).await.unwrap(), 2);
    assert_eq!(q::<Vec<String>>(&mut c, &["LRANGE", "l", "0", "-1"]).await.unwrap(), ["X", "a2", "b"]);
    assert_eq!(q::<String>(&mut c, &["LTRIM", "l", "1", "-1"]).await.unwrap(), "OK");
    assert_eq!(q::<Vec<String>>(&mut c, &["LRANGE", "l", "0", "-1"]).await.unwrap(), ["a2", "b"]);
    assert!(err(&mut c, &["LSET", "l", "9", "v"]).await.contains("index out of range"));
    assert!(err(&mut c, &["LSET", "nope", "0", "v"]).await.contains("no such key"));
    assert_eq!(q::<Option<Vec<String>>>(&mut c, &["LPOP", "nope", "2"]).await.unwrap(), None);
    assert_eq!(q::<Vec<String>>(&mut c, &["RPOP", "l", "5"]).await.unwrap(), ["b", "a2"]);
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "l"]).await.unwrap(), 0, "an emptied list is gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyspace_commands() {
    let server = TestServer::start_resp();
    let mut c = connect(&server).await;
    for i in 0..250 {
        let _: () = q(&mut c, &["SET", &format!("user:{i}"), "v"]).await.unwrap();
    }
    let _: i64 = q(&mut c, &["RPUSH", "queue", "a"]).await.unwrap();
    assert_eq!(q::<i64>(&mut c, &["DBSIZE"]).await.unwrap(), 251);
    let mut keys: Vec<String> = q(&mut c, &["KEYS", "user:1?"]).await.unwrap();
    keys.sort();
    assert_eq!(keys.len(), 10);
    let mut cursor = "0".to_owned();
    let mut seen = std::collections::HashSet::new();
    loop {
        let (next, batch): (String, Vec<String>) =
            q(&mut c, &["SCAN", &cursor, "MATCH", "user:*", "COUNT", "20"]).await.unwrap();
        seen.extend(batch);
        cursor = next;
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 250);
    let (_, lists): (String, Vec<String>) = q(&mut c, &["SCAN", "0", "TYPE", "list", "COUNT", "1000"]).await.unwrap();
    assert_eq!(lists, ["queue"]);
    let (_, hashes): (String, Vec<String>) = q(&mut c, &["SCAN", "0", "TYPE", "hash"]).await.unwrap();
    assert!(hashes.is_empty());
    assert!(err(&mut c, &["SCAN", "abc"]).await.contains("invalid cursor"));
    assert_eq!(q::<String>(&mut c, &["RENAME", "queue", "q2"]).await.unwrap(), "OK");
    assert_eq!(q::<i64>(&mut c, &["RENAMENX", "q2", "user:1"]).await.unwrap(), 0);
    assert!(err(&mut c, &["RENAME", "nope", "x"]).await.contains("no such key"));
    let random: String = q(&mut c, &["RANDOMKEY"]).await.unwrap();
    assert!(random.starts_with("user:") || random == "q2");
    assert_eq!(q::<String>(&mut c, &["FLUSHDB"]).await.unwrap(), "OK");
    assert_eq!(q::<i64>(&mut c, &["DBSIZE"]).await.unwrap(), 0);
    assert_eq!(q::<Option<String>>(&mut c, &["RANDOMKEY"]).await.unwrap(), None);
    assert_eq!(q::<String>(&mut c, &["FLUSHALL", "ASYNC"]).await.unwrap(), "OK");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelines_keep_order() {
    let server = TestServer::start_resp();
    let mut c = connect(&server).await;
    let mut pipe = redis::pipe();
    for i in 0..2000 {
        pipe.cmd("RPUSH").arg("p").arg(i);
    }
    pipe.cmd("LLEN").arg("p");
    let replies: Vec<i64> = pipe.query_async(&mut c).await.unwrap();
    assert_eq!(replies.len(), 2001);
    assert!(replies[..2000].iter().enumerate().all(|(i, n)| *n == i as i64 + 1));
    assert_eq!(replies[2000], 2000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_exec_and_watch() {
    let server = TestServer::start_resp();
    let mut a = connect(&server).await;
    let mut b = connect(&server).await;
    let _: () = q(&mut a, &["SET", "balance", "10"]).await.unwrap();
    let (x, y): (i64, i64) = redis::pipe()
        .atomic()
        .cmd("INCR")
        .arg("balance")
        .cmd("INCRBY")
        .arg("balance")
        .arg(5)
        .query_async(&mut a)
        .await
        .unwrap();
    assert_eq!((x, y), (11, 16));
    // A watched key changed by another client: EXEC returns nil.
    let _: () = q(&mut a, &["WATCH", "balance"]).await.unwrap();
    let _: i64 = q(&mut b, &["INCR", "balance"]).await.unwrap();
    let _: () = q(&mut a, &["MULTI"]).await.unwrap();
    assert_eq!(q::<String>(&mut a, &["SET", "balance", "0"]).await.unwrap(), "QUEUED");
    let exec: Value = q(&mut a, &["EXEC"]).await.unwrap();
    assert_eq!(exec, Value::Nil);
    assert_eq!(q::<i64>(&mut a, &["GET", "balance"]).await.unwrap(), 17);
    // Unchanged watched key: EXEC runs; a command failing at EXEC time
    // gets its error in the reply array and the others still apply.
    let mut raw = std::net::TcpStream::connect(server.resp.unwrap()).unwrap();
    assert_eq!(roundtrip(&mut raw, b"WATCH balance\r\nMULTI\r\n"), "+OK\r\n+OK\r\n");
    assert_eq!(
        roundtrip(&mut raw, b"DECRBY balance 7\r\nLPUSH balance x\r\nPING\r\n"),
        "+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n"
    );
    let exec = roundtrip(&mut raw, b"EXEC\r\n");
    assert_eq!(exec, "*3\r\n:10\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n+PONG\r\n");
    // A command rejected while queuing aborts the whole block.
    let _: () = q(&mut a, &["MULTI"]).await.unwrap();
    let _: String = q(&mut a, &["SET", "balance", "1"]).await.unwrap();
    assert!(err(&mut a, &["INCRBY", "balance"]).await.contains("wrong number of arguments"));
    assert!(err(&mut a, &["EXEC"]).await.contains("EXECABORT"));
    assert_eq!(q::<i64>(&mut a, &["GET", "balance"]).await.unwrap(), 10);
    assert!(err(&mut a, &["EXEC"]).await.contains("EXEC without MULTI"));
    assert!(err(&mut a, &["DISCARD"]).await.contains("DISCARD without MULTI"));
    let _: () = q(&mut a, &["MULTI"]).await.unwrap();
    assert!(err(&mut a, &["MULTI"]).await.contains("nested"));
    assert!(err(&mut a, &["WATCH", "x"]).await.contains("WATCH inside MULTI"));
    assert_eq!(q::<String>(&mut a, &["DISCARD"]).await.unwrap(), "OK");
    // UNWATCH forgets the watched keys: a change to them no longer aborts.
    let _: () = q(&mut a, &["WATCH", "balance"]).await.unwrap();
    let _: i64 = q(&mut b, &["INCR", "balance"]).await.unwrap();
    assert_eq!(q::<String>(&mut a, &["UNWATCH"]).await.unwrap(), "OK");
    let _: () = q(&mut a, &["MULTI"]).await.unwrap();
    assert_eq!(q::<String>(&mut a, &["INCR", "balance"]).await.unwrap(), "QUEUED");
    assert_eq!(q::<Vec<i64>>(&mut a, &["EXEC"]).await.unwrap(), vec![12]);
    // A blocking pop queued in MULTI does not block: it pops what is there
    // and answers [key, element], or nil.
    let _: i64 = q(&mut a, &["RPUSH", "q2", "x"]).await.unwrap();
    let mut raw = std::net::TcpStream::connect(server.resp.unwrap()).unwrap();
    assert_eq!(roundtrip(&mut raw, b"MULTI\r\n"), "+OK\r\n");
    assert_eq!(roundtrip(&mut raw, b"BLPOP q1 q2 5\r\nBRPOP q1 0\r\n"), "+QUEUED\r\n+QUEUED\r\n");
    assert_eq!(roundtrip(&mut raw, b"EXEC\r\n"), "*2\r\n*2\r\n$2\r\nq2\r\n$1\r\nx\r\n*-1\r\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_pops_wait_for_pushes() {
    let server = TestServer::start_resp();
    let mut waiter = connect(&server).await;
    let mut pusher = connect(&server).await;
    let started = Instant::now();
    let none: Option<(String, String)> = q(&mut waiter, &["BLPOP", "jobs", "0.2"]).await.unwrap();
    assert_eq!(none, None);
    assert!(started.elapsed() >= Duration::from_millis(190), "waited its timeout");
    let blocked = tokio::spawn(async move {
        let started = Instant::now();
        let got: (String, String) = q(&mut waiter, &["BRPOP", "other", "jobs", "5"]).await.unwrap();
        (got, started.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let _: i64 = q(&mut pusher, &["LPUSH", "jobs", "j1"]).await.unwrap();
    let ((key, value), waited) = blocked.await.unwrap();
    assert_eq!((key.as_str(), value.as_str()), ("jobs", "j1"));
    assert!(waited < Duration::from_secs(2), "woken by the push, not the timeout ({waited:?})");
    let _: i64 = q(&mut pusher, &["RPUSH", "ready", "r"]).await.unwrap();
    let got: (String, String) = q(&mut pusher, &["BLPOP", "ready", "0"]).await.unwrap();
    assert_eq!(got.1, "r");
    assert!(err(&mut pusher, &["BLPOP", "k", "abc"]).await.contains("timeout is not a float"));
    assert!(err(&mut pusher, &["BLPOP", "k", "-1"]).await.contains("timeout is negative"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_use_redis_words() {
    let server = TestServer::start_resp();
    let mut c = connect(&server).await;
    let _: i64 = q(&mut c, &["RPUSH", "list", "a"]).await.unwrap();
    let _: () = q(&mut c, &["SET", "str", "abc"]).await.unwrap();
    assert_eq!(
        err(&mut c, &["GET", "list"]).await,
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
    assert!(err(&mut c, &["LPUSH", "str", "x"]).await.starts_with("WRONGTYPE"));
    assert_eq!(err(&mut c, &["INCR", "str"]).await, "ERR value is not an integer or out of range");
    assert_eq!(err(&mut c, &["INCRBY", "str", "1.5"]).await, "ERR value is not an integer or out of range");
    let _: () = q(&mut c, &["SET", "max", "9223372036854775807"]).await.unwrap();
    assert_eq!(err(&mut c, &["INCR", "max"]).await, "ERR increment or decrement would overflow");
    assert_eq!(err(&mut c, &["SET", "k", "v", "NX", "XX"]).await, "ERR syntax error");
    assert_eq!(err(&mut c, &["GET"]).await, "ERR wrong number of arguments for 'get' command");
    let unknown = err(&mut c, &["HSET", "h", "f", "v"]).await;
    assert_eq!(unknown, "ERR unknown command 'HSET', with args beginning with: 'h' 'f' 'v' ");
    assert_eq!(err(&mut c, &["SELECT", "1"]).await, "ERR DB index is out of range");
    assert_eq!(q::<String>(&mut c, &["SELECT", "0"]).await.unwrap(), "OK");
    assert!(err(&mut c, &["AUTH", "pw"]).await.contains("without any password configured"));
    assert_eq!(q::<i64>(&mut c, &["GET", "max"]).await.unwrap(), i64::MAX, "errors leave the data alone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_is_required_when_a_password_is_set() {
    let mut config = TestServer::resp_config();
    config.resp_password = Some("s3cret".into());
    let server = TestServer::start_with(config);
    let addr = server.resp.unwrap();
    let mut raw = std::net::TcpStream::connect(addr).unwrap();
    assert_eq!(roundtrip(&mut raw, b"GET k\r\n"), "-NOAUTH Authentication required.\r\n");
    assert_eq!(
        roundtrip(&mut raw, b"AUTH nope\r\n"),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(
        roundtrip(&mut raw, b"AUTH other s3cret\r\n"),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(roundtrip(&mut raw, b"AUTH default s3cret\r\n"), "+OK\r\n");
    assert_eq!(roundtrip(&mut raw, b"GET k\r\n"), "$-1\r\n");
    // The client crate authenticates from the URL.
    let client = redis::Client::open(format!("redis://:s3cret@{addr}/")).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    assert_eq!(q::<String>(&mut c, &["PING"]).await.unwrap(), "PONG");
}

/// Sends bytes, returns what the server answers within a moment.
fn roundtrip(stream: &mut std::net::TcpStream, bytes: &[u8]) -> String {
    stream.write_all(bytes).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    let n = stream.read(&mut buf).unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// Whether the server closed the connection (within five seconds),
/// skipping whatever it still sends before it does.
fn closed(stream: &mut std::net::TcpStream) -> bool {
    closed_after(stream).0
}

/// Whether the server closed the connection, and what it sent first.
fn closed_after(stream: &mut std::net::TcpStream) -> (bool, Vec<u8>) {
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return (true, got),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                return (false, got);
            }
            // Reset: closed with input still unread.
            Err(_) => return (true, got),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_pipeline_in_one_packet_gets_every_reply() {
    let server = TestServer::start_resp();
    let mut raw = std::net::TcpStream::connect(server.resp.unwrap()).unwrap();
    // Many more requests than the server takes from its buffer at a time,
    // all in one write; the client then waits for every reply.
    let n = 5000;
    let mut requests = b"PING\r\n".repeat(n);
    requests.extend_from_slice(&b"*2\r\n$4\r\nINCR\r\n$1\r\nc\r\n".repeat(n));
    raw.write_all(&requests).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut expected = b"+PONG\r\n".repeat(n);
    for i in 1..=n {
        expected.extend_from_slice(format!(":{i}\r\n").as_bytes());
    }
    let mut got = vec![0u8; expected.len()];
    raw.read_exact(&mut got).expect("every reply within 10 s");
    assert!(got == expected, "replies out of order or wrong");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resp3_and_connection_commands() {
    let server = TestServer::start_resp();
    let addr = server.resp.unwrap();
    let mut raw = std::net::TcpStream::connect(addr).unwrap();
    let hello = roundtrip(&mut raw, b"HELLO 3 SETNAME app\r\n");
    assert!(hello.starts_with("%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n"), "{hello}");
    assert_eq!(roundtrip(&mut raw, b"GET nope\r\n"), "_\r\n", "RESP3 null");
    assert_eq!(roundtrip(&mut raw, b"CLIENT GETNAME\r\n"), "$3\r\napp\r\n");
    assert!(roundtrip(&mut raw, b"CONFIG GET maxmemory*\r\n").starts_with("%2\r\n"));
    assert_eq!(roundtrip(&mut raw, b"HELLO 4\r\n"), "-NOPROTO unsupported protocol version\r\n");
    assert_eq!(roundtrip(&mut raw, b"HELLO 2\r\n").get(..3), Some("*14"));
    assert_eq!(roundtrip(&mut raw, b"GET nope\r\n"), "$-1\r\n");
    assert!(roundtrip(&mut raw, b"CLIENT ID\r\n").starts_with(':'));
    assert_eq!(roundtrip(&mut raw, b"CLIENT SETINFO LIB-NAME redis-py\r\n"), "+OK\r\n");
    assert_eq!(roundtrip(&mut raw, b"CLIENT SETNAME worker-1\r\n"), "+OK\r\n");
    assert_eq!(roundtrip(&mut raw, b"CLIENT GETNAME\r\n"), "$8\r\nworker-1\r\n");
    assert_eq!(roundtrip(&mut raw, b"CLIENT SETNAME \"\"\r\n"), "+OK\r\n", "an empty name clears it");
    assert_eq!(roundtrip(&mut raw, b"CLIENT GETNAME\r\n"), "$-1\r\n");
    assert_eq!(roundtrip(&mut raw, b"COMMAND DOCS GET\r\n"), "*0\r\n", "no docs: redis-cli goes without hints");
    assert!(roundtrip(&mut raw, b"CLIENT SETNAME \"a b\"\r\n").starts_with("-ERR Client names cannot contain spaces"));
    let count = roundtrip(&mut raw, b"COMMAND COUNT\r\n");
    assert!(count.starts_with(':') && count.trim_start_matches(':').trim().parse::<i64>().unwrap() > 60);
    let info = roundtrip(&mut raw, b"INFO keyspace\r\n");
    assert!(info.contains("# Keyspace"));
    let info = roundtrip(&mut raw, b"INFO\r\n");
    for section in ["# Server", "# Clients", "# Memory", "# Stats", "# Keyspace"] {
        assert!(info.contains(section), "{section} in {info}");
    }
    assert_eq!(roundtrip(&mut raw, b"QUIT\r\n"), "+OK\r\n");
    assert!(closed(&mut raw));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_input_gets_an_error_and_a_closed_connection() {
    let server = TestServer::start_resp();
    let addr = server.resp.unwrap();
    let cases: &[(&[u8], &str)] = &[
        (b"*abc\r\n", "-ERR Protocol error: invalid multibulk length"),
        (b"*2\r\n$3\r\nGET\r\n:1\r\n", "-ERR Protocol error: expected '$', got ':'"),
        (b"*1\r\n$99999999999\r\n", "-ERR Protocol error: invalid bulk length"),
        (b"*1\r\n$-3\r\n", "-ERR Protocol error: invalid bulk length"),
        (b"*1\r\n$3\r\nGETXX", "-ERR Protocol error: invalid bulk length"),
        (b"*99999999999\r\n", "-ERR Protocol error: invalid multibulk length"),
        (b"SET \"unterminated\r\n", "-ERR Protocol error: unbalanced quotes in request"),
    ];
    for (bytes, expected) in cases {
        let mut raw = std::net::TcpStream::connect(addr).unwrap();
        let reply = roundtrip(&mut raw, bytes);
        assert!(reply.starts_with(expected), "{bytes:?} got {reply:?}");
        assert!(closed(&mut raw), "{bytes:?} leaves the connection open");
    }
    // Binary garbage.
    let mut raw = std::net::TcpStream::connect(addr).unwrap();
    let garbage: Vec<u8> = (0..200_000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8 | 1).collect();
    let _ = raw.write_all(&garbage);
    let (closed, reply) = closed_after(&mut raw);
    assert!(closed, "binary garbage leaves the connection open");
    // The error may be lost to the reset that unread input causes.
    assert!(reply.is_empty() || reply.starts_with(b"-ERR Protocol error: "), "{:?}", String::from_utf8_lossy(&reply));
    // A huge but legal declared bulk that never arrives costs nothing and
    // does not stop the server.
    let mut hold = std::net::TcpStream::connect(addr).unwrap();
    hold.write_all(b"*2\r\n$3\r\nGET\r\n$536870912\r\nabc").unwrap();
    let mut c = connect(&server).await;
    assert_eq!(q::<String>(&mut c, &["PING"]).await.unwrap(), "PONG");
    assert_eq!(q::<String>(&mut c, &["SET", "still", "here"]).await.unwrap(), "OK");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_survives_a_restart_in_sync_mode() {
    let dir = tempfile::tempdir().unwrap();
    let config = || {
        let mut config = TestServer::resp_config();
        config.durability = memdb_server::Durability::Sync;
        config.data_dir = dir.path().to_owned();
        config
    };
    {
        let server = TestServer::start_with(config());
        let mut c = connect(&server).await;
        let _: () = q(&mut c, &["SET", "long", "v", "EX", "1000"]).await.unwrap();
        let _: () = q(&mut c, &["SET", "short", "v", "PX", "300"]).await.unwrap();
        let _: i64 = q(&mut c, &["RPUSH", "list", "a", "b"]).await.unwrap();
        let _: i64 = q(&mut c, &["EXPIRE", "list", "1000"]).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    let server = TestServer::start_with(config());
    let mut c = connect(&server).await;
    let ttl: i64 = q(&mut c, &["TTL", "long"]).await.unwrap();
    assert!((990..=1000).contains(&ttl), "TTL kept: {ttl}");
    assert!(q::<i64>(&mut c, &["TTL", "list"]).await.unwrap() > 990);
    assert_eq!(q::<Vec<String>>(&mut c, &["LRANGE", "list", "0", "-1"]).await.unwrap(), ["a", "b"]);
    assert_eq!(q::<Option<String>>(&mut c, &["GET", "short"]).await.unwrap(), None, "expired while down");
    // The sweeper deletes it (through the log) shortly after start.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(q::<i64>(&mut c, &["DBSIZE"]).await.unwrap(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_max_memory_writes_that_add_data_get_redis_oom_reply() {
    // Any process is over a 1 MB limit: noeviction refuses what adds data.
    let config = memdb_server::config::Config { max_memory: Some("1MB".into()), ..TestServer::resp_config() };
    let server = TestServer::start_with(config);
    let mut c = connect(&server).await;
    for command in [&["SET", "k", "v"][..], &["RPUSH", "l", "a"], &["INCR", "n"], &["APPEND", "k", "x"]] {
        assert_eq!(
            err(&mut c, command).await,
            "OOM command not allowed when used memory > 'maxmemory'.",
            "{command:?}"
        );
    }
    // Reads, deletes and commands that do not add data still run.
    assert_eq!(q::<Option<String>>(&mut c, &["GET", "k"]).await.unwrap(), None);
    assert_eq!(q::<i64>(&mut c, &["DEL", "k"]).await.unwrap(), 0);
    assert_eq!(q::<String>(&mut c, &["PING"]).await.unwrap(), "PONG");
    let info: String = q(&mut c, &["INFO", "memory"]).await.unwrap();
    assert!(info.contains("maxmemory:1048576") && info.contains("maxmemory_policy:noeviction"), "{info}");
}
