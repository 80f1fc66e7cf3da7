//! The PostgreSQL protocol against a real server on loopback, driven by
//! tokio-postgres (extended protocol, binary values, pipelining, COPY,
//! cancel) and by raw bytes (garbage, oversized and truncated messages).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{TestServer, sqlstate};
use futures::{SinkExt, TryStreamExt};
use rust_decimal::Decimal;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_postgres::SimpleQueryMessage;
use tokio_postgres::types::Type;

#[tokio::test]
async fn simple_queries_return_rows_tags_and_errors() {
    let server = TestServer::start();
    let client = server.connect().await;
    let messages = client
        .simple_query("CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'a'), (2, NULL); SELECT * FROM t ORDER BY id")
        .await
        .unwrap();
    let mut rows = Vec::new();
    let mut tags = Vec::new();
    for m in messages {
        match m {
            SimpleQueryMessage::Row(r) => rows.push((r.get(0).map(str::to_owned), r.get(1).map(str::to_owned))),
            SimpleQueryMessage::CommandComplete(n) => tags.push(n),
            _ => {}
        }
    }
    assert_eq!(rows, vec![(Some("1".into()), Some("a".into())), (Some("2".into()), None)]);
    assert_eq!(tags, vec![0, 2, 2]);

    let err = client.simple_query("SELEC 1").await.unwrap_err();
    assert_eq!(sqlstate(&err), "42601");
    let err = client.simple_query("SELECT * FROM missing").await.unwrap_err();
    assert_eq!(sqlstate(&err), "42P01");
    let err = client.simple_query("INSERT INTO t VALUES (1, 'dup')").await.unwrap_err();
    assert_eq!(sqlstate(&err), "23505");
    // The connection is still usable after errors.
    assert_eq!(client.simple_query("SELECT 1").await.unwrap().len(), 3);
    assert!(client.simple_query("").await.is_ok());
}

#[tokio::test]
async fn binary_parameters_and_results_round_trip() {
    let server = TestServer::start();
    let client = server.connect().await;
    client
        .batch_execute(
            "CREATE TABLE v (i2 smallint, i4 int, i8 bigint, f4 real, f8 float8, n numeric(10,2), b bool, \
             t text, vc varchar(10), c char(4), by bytea, d date, ts timestamp, tz timestamptz, u uuid, j jsonb, a int[])",
        )
        .await
        .unwrap();
    let ts = chrono::NaiveDate::from_ymd_opt(2024, 2, 29).unwrap().and_hms_micro_opt(13, 14, 15, 123_456).unwrap();
    let tz = ts.and_utc();
    let u = uuid::Uuid::from_u128(0x1234_5678_9abc_def0_1234_5678_9abc_def0);
    let j = serde_json::json!({"k": [1, 2, {"x": null}]});
    let n = Decimal::new(12345, 2);
    let inserted = client
        .execute(
            "INSERT INTO v VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
            &[
                &7i16,
                &-42i32,
                &(1i64 << 40),
                &1.5f32,
                &-2.25f64,
                &n,
                &true,
                &"héllo",
                &"short",
                &"ab",
                &vec![0u8, 255, 7],
                &ts.date(),
                &ts,
                &tz,
                &u,
                &j,
                &vec![Some(1i32), None, Some(3)],
            ],
        )
        .await
        .unwrap();
    assert_eq!(inserted, 1);
    let row = client.query_one("SELECT * FROM v", &[]).await.unwrap();
    assert_eq!(row.get::<_, i16>(0), 7);
    assert_eq!(row.get::<_, i32>(1), -42);
    assert_eq!(row.get::<_, i64>(2), 1 << 40);
    assert_eq!(row.get::<_, f32>(3), 1.5);
    assert_eq!(row.get::<_, f64>(4), -2.25);
    assert_eq!(row.get::<_, Decimal>(5), n);
    assert!(row.get::<_, bool>(6));
    assert_eq!(row.get::<_, &str>(7), "héllo");
    assert_eq!(row.get::<_, &str>(8), "short");
    assert_eq!(row.get::<_, &str>(9), "ab  ");
    assert_eq!(row.get::<_, Vec<u8>>(10), vec![0, 255, 7]);
    assert_eq!(row.get::<_, chrono::NaiveDate>(11), ts.date());
    assert_eq!(row.get::<_, chrono::NaiveDateTime>(12), ts);
    assert_eq!(row.get::<_, chrono::DateTime<chrono::Utc>>(13), tz);
    assert_eq!(row.get::<_, uuid::Uuid>(14), u);
    assert_eq!(row.get::<_, serde_json::Value>(15), j);
    assert_eq!(row.get::<_, Vec<Option<i32>>>(16), vec![Some(1), None, Some(3)]);
    let columns: Vec<Type> = row.columns().iter().map(|c| c.type_().clone()).collect();
    assert_eq!(columns[0], Type::INT2);
    assert_eq!(columns[5], Type::NUMERIC);
    assert_eq!(columns[9], Type::BPCHAR);
    assert_eq!(columns[16], Type::INT4_ARRAY);
}

#[tokio::test]
async fn parameter_types_are_inferred_from_context() {
    let server = TestServer::start();
    let client = server.connect().await;
    client.batch_execute("CREATE TABLE acc (id int PRIMARY KEY, bal int, name char(8), at timestamp)").await.unwrap();
    let stmt = client.prepare("INSERT INTO acc VALUES ($1, $2, $3, $4)").await.unwrap();
    assert_eq!(stmt.params(), &[Type::INT4, Type::INT4, Type::BPCHAR, Type::TIMESTAMP]);
    let update = client.prepare("UPDATE acc SET bal = bal + $1 WHERE id = $2").await.unwrap();
    assert_eq!(update.params(), &[Type::INT4, Type::INT4]);
    let cast = client.prepare("SELECT $1::bigint * 2").await.unwrap();
    assert_eq!(cast.params(), &[Type::INT8]);
    assert_eq!(cast.columns()[0].type_(), &Type::INT8);
    let now = chrono::Utc::now().naive_utc();
    client.execute(&stmt, &[&1i32, &100i32, &"bob", &now]).await.unwrap();
    assert_eq!(client.execute(&update, &[&-30i32, &1i32]).await.unwrap(), 1);
    let row = client.query_one("SELECT bal, name FROM acc WHERE id = $1", &[&1i32]).await.unwrap();
    assert_eq!(row.get::<_, i32>(0), 70);
    assert_eq!(row.get::<_, &str>(1), "bob     ");
    assert_eq!(client.query_one(&cast, &[&21i64]).await.unwrap().get::<_, i64>(0), 42);
}

#[tokio::test]
async fn transaction_blocks_and_failed_state() {
    let server = TestServer::start();
    let client = server.connect().await;
    client.batch_execute("CREATE TABLE k (id int PRIMARY KEY)").await.unwrap();
    client.batch_execute("BEGIN; INSERT INTO k VALUES (1)").await.unwrap();
    let err = client.batch_execute("INSERT INTO k VALUES (1)").await.unwrap_err();
    assert_eq!(sqlstate(&err), "23505");
    // The fields drivers read to tell which constraint failed.
    let db = err.as_db_error().unwrap();
    assert_eq!(db.detail(), Some("Key (id)=(1) already exists."));
    assert_eq!((db.schema(), db.table(), db.constraint()), (Some("public"), Some("k"), Some("k_pkey")));
    let err = client.batch_execute("SELECT 1").await.unwrap_err();
    assert_eq!(sqlstate(&err), "25P02");
    client.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(client.query_one("SELECT count(*) FROM k", &[]).await.unwrap().get::<_, i64>(0), 0);

    let mut client = client;
    let tx = client.transaction().await.unwrap();
    tx.execute("INSERT INTO k VALUES ($1)", &[&5i32]).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(client.query_one("SELECT id FROM k", &[]).await.unwrap().get::<_, i32>(0), 5);
}

#[tokio::test]
async fn portals_suspend_at_max_rows() {
    let server = TestServer::start();
    let mut client = server.connect().await;
    let tx = client.transaction().await.unwrap();
    let stmt = tx.prepare("SELECT g FROM generate_series(1, 10) AS g").await.unwrap();
    let portal = tx.bind(&stmt, &[]).await.unwrap();
    let mut seen = Vec::new();
    loop {
        let rows = tx.query_portal(&portal, 4).await.unwrap();
        if rows.is_empty() {
            break;
        }
        seen.extend(rows.iter().map(|r| r.get::<_, i32>(0)));
    }
    assert_eq!(seen, (1..=10).collect::<Vec<_>>());
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn pipelined_queries_answer_in_order() {
    let server = TestServer::start();
    let client = server.connect().await;
    let stmt = client.prepare("SELECT $1::int + 1").await.unwrap();
    let inputs: Vec<i32> = (0..200).collect();
    let params: Vec<[&(dyn tokio_postgres::types::ToSql + Sync); 1]> = inputs.iter().map(|i| [i as _]).collect();
    let futures: Vec<_> = params.iter().map(|p| client.query_one(&stmt, p)).collect();
    let results = futures::future::join_all(futures).await;
    for (i, r) in results.into_iter().enumerate() {
        assert_eq!(r.unwrap().get::<_, i32>(0), i as i32 + 1);
    }
}

#[tokio::test]
async fn copy_in_and_out() {
    let server = TestServer::start();
    let client = server.connect().await;
    client.batch_execute("CREATE TABLE c (id int PRIMARY KEY, name text, note text DEFAULT 'd')").await.unwrap();
    let sink = client.copy_in("COPY c (id, name) FROM STDIN").await.unwrap();
    futures::pin_mut!(sink);
    sink.send(bytes::Bytes::from_static(b"1\tone\n2\t\\N\n3\tth")).await.unwrap();
    sink.send(bytes::Bytes::from_static(b"ree\n")).await.unwrap();
    assert_eq!(sink.finish().await.unwrap(), 3);

    let out = client.copy_out("COPY c TO STDOUT WITH (FORMAT csv, HEADER)").await.unwrap();
    let chunks: Vec<bytes::Bytes> = out.try_collect().await.unwrap();
    let text: String = chunks.iter().map(|c| String::from_utf8_lossy(c).into_owned()).collect();
    assert_eq!(text, "id,name,note\n1,one,d\n2,,d\n3,three,d\n");

    // A bad row rolls the whole load back.
    let sink = client.copy_in("COPY c FROM STDIN").await.unwrap();
    futures::pin_mut!(sink);
    let _ = sink.send(bytes::Bytes::from_static(b"4\tfour\tx\nnot-a-number\tfive\tx\n")).await;
    let err = sink.finish().await.unwrap_err();
    assert_eq!(sqlstate(&err), "22P02");
    assert_eq!(client.query_one("SELECT count(*) FROM c", &[]).await.unwrap().get::<_, i64>(0), 3);
}

#[tokio::test]
async fn copy_in_of_many_messages_loads_all_or_nothing() {
    let server = TestServer::start();
    let client = server.connect().await;
    client.batch_execute("CREATE TABLE many (id int PRIMARY KEY, v text)").await.unwrap();
    let sink = client.copy_in("COPY many FROM STDIN").await.unwrap();
    futures::pin_mut!(sink);
    for i in 0..20_000 {
        sink.feed(bytes::Bytes::from(format!("{i}\tv{i}\n"))).await.unwrap();
    }
    assert_eq!(sink.finish().await.unwrap(), 20_000);
    let row = client.query_one("SELECT count(*), sum(id)::bigint, max(v) FROM many", &[]).await.unwrap();
    assert_eq!((row.get::<_, i64>(0), row.get::<_, i64>(1)), (20_000, 199_990_000));
    assert_eq!(row.get::<_, String>(2), "v9999");

    // A bad row deep inside a burst of messages: none of the burst stays,
    // and the connection goes on.
    let sink = client.copy_in("COPY many FROM STDIN").await.unwrap();
    futures::pin_mut!(sink);
    for i in 20_000..40_000 {
        let line = if i == 31_234 { "oops\tx\n".to_owned() } else { format!("{i}\tv{i}\n") };
        if sink.feed(bytes::Bytes::from(line)).await.is_err() {
            break;
        }
    }
    let err = sink.finish().await.unwrap_err();
    assert_eq!(sqlstate(&err), "22P02");
    assert_eq!(client.query_one("SELECT count(*) FROM many", &[]).await.unwrap().get::<_, i64>(0), 20_000);
}

#[tokio::test]
async fn cancel_and_statement_timeout_stop_a_running_query() {
    let server = TestServer::start();
    let client = server.connect().await;
    let slow =
        "SELECT count(*) FROM generate_series(1, 3000) a, generate_series(1, 3000) b, generate_series(1, 3000) c";
    let token = client.cancel_token();
    // A cancel that arrives before the statement starts is lost (as on
    // PostgreSQL), so keep cancelling until the statement ends.
    let (done_tx, mut done_rx) = tokio::sync::oneshot::channel::<()>();
    let canceller = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if done_rx.try_recv().is_ok() {
                break;
            }
            token.cancel_query(tokio_postgres::NoTls).await.unwrap();
        }
    });
    let err = client.simple_query(slow).await.unwrap_err();
    assert_eq!(sqlstate(&err), "57014");
    done_tx.send(()).unwrap();
    canceller.await.unwrap();

    client.batch_execute("SET statement_timeout = 100").await.unwrap();
    let started = std::time::Instant::now();
    let err = client.simple_query(slow).await.unwrap_err();
    assert_eq!(sqlstate(&err), "57014");
    assert!(started.elapsed() < Duration::from_secs(30));
    client.batch_execute("SET statement_timeout = 0").await.unwrap();
    assert_eq!(client.query_one("SELECT 1::int", &[]).await.unwrap().get::<_, i32>(0), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_sleep_waits_without_stalling_others_and_can_be_stopped() {
    let server = TestServer::start();
    let client = server.connect().await;
    let started = std::time::Instant::now();
    let rows = client.simple_query("SELECT pg_sleep(0.2)").await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(200));
    let values: Vec<Option<&str>> = rows
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => Some(r.get(0)),
            _ => None,
        })
        .collect();
    assert_eq!(values, [None], "one row, its value void");
    // Sleepers on both workers: another connection is still answered.
    let mut sleepers = Vec::new();
    for _ in 0..3 {
        let c = server.connect().await;
        sleepers.push(tokio::spawn(async move { c.simple_query("SELECT pg_sleep(1)").await.map(drop) }));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let other = server.connect().await;
    let asked = std::time::Instant::now();
    assert_eq!(other.query_one("SELECT 2::int", &[]).await.unwrap().get::<_, i32>(0), 2);
    assert!(asked.elapsed() < Duration::from_millis(500), "answered after {:?}", asked.elapsed());
    for s in sleepers {
        s.await.unwrap().unwrap();
    }
    // statement_timeout stops a long sleep.
    client.batch_execute("SET statement_timeout = 100").await.unwrap();
    let started = std::time::Instant::now();
    let err = client.simple_query("SELECT pg_sleep(30)").await.unwrap_err();
    assert_eq!(sqlstate(&err), "57014");
    assert!(started.elapsed() < Duration::from_secs(5));
    // Nothing to wait for: at once.
    let started = std::time::Instant::now();
    client.simple_query("SELECT pg_sleep(-1), pg_sleep(NULL), pg_sleep(0)").await.unwrap();
    assert!(started.elapsed() < Duration::from_millis(100));
    let err = client.simple_query("SELECT pg_sleep('soon')").await.unwrap_err();
    assert_eq!(sqlstate(&err), "22P02");
}

#[tokio::test]
async fn lock_waits_do_not_stall_other_connections_and_deadlocks_are_detected() {
    let server = TestServer::start();
    let a = server.connect().await;
    let b = server.connect().await;
    let c = server.connect().await;
    a.batch_execute("CREATE TABLE r (id int PRIMARY KEY, v int); INSERT INTO r VALUES (1, 0), (2, 0)").await.unwrap();
    a.batch_execute("BEGIN; UPDATE r SET v = v + 1 WHERE id = 1").await.unwrap();
    let waiter = tokio::spawn(async move {
        b.batch_execute("UPDATE r SET v = v + 10 WHERE id = 1").await.unwrap();
        b
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    // With two worker threads and one blocked in a lock wait, others still run.
    for _ in 0..20 {
        c.query_one("SELECT 1::int", &[]).await.unwrap();
    }
    a.batch_execute("COMMIT").await.unwrap();
    let b = waiter.await.unwrap();
    assert_eq!(c.query_one("SELECT v FROM r WHERE id = 1", &[]).await.unwrap().get::<_, i32>(0), 11);

    // A lock cycle: exactly one side gets 40P01.
    a.batch_execute("BEGIN; UPDATE r SET v = 0 WHERE id = 1").await.unwrap();
    b.batch_execute("BEGIN; UPDATE r SET v = 0 WHERE id = 2").await.unwrap();
    let a_side = tokio::spawn(async move {
        let r = a.batch_execute("UPDATE r SET v = 1 WHERE id = 2").await;
        (a, r)
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let b_result = b.batch_execute("UPDATE r SET v = 2 WHERE id = 1").await;
    if b_result.is_err() {
        b.batch_execute("ROLLBACK").await.unwrap();
    }
    let (a, a_result) = a_side.await.unwrap();
    let codes: Vec<String> = [&a_result, &b_result].iter().filter_map(|r| r.as_ref().err()).map(sqlstate).collect();
    assert_eq!(codes, vec!["40P01".to_owned()]);
    let _ = a.batch_execute("ROLLBACK").await;
    let _ = b.batch_execute("ROLLBACK").await;
}

#[tokio::test]
async fn many_connections_are_held_at_once() {
    let server = TestServer::start();
    let mut clients = Vec::new();
    for _ in 0..1000 {
        clients.push(server.connect().await);
    }
    let results = futures::future::join_all(clients.iter().map(|c| c.query_one("SELECT 1::int", &[]))).await;
    assert!(results.iter().all(|r| r.is_ok()));
}

/// Reads until the peer closes (or 5 s pass) and returns what came.
async fn read_all(stream: &mut tokio::net::TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return out,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
}

fn startup_message() -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&196608i32.to_be_bytes());
    for s in ["user", "memdb", "database", "memdb", ""] {
        body.extend_from_slice(s.as_bytes());
        body.push(0);
    }
    let mut msg = ((body.len() + 4) as i32).to_be_bytes().to_vec();
    msg.extend(body);
    msg
}

#[tokio::test]
async fn garbage_and_oversized_messages_get_an_error_and_the_server_stays_up() {
    let server = TestServer::start();
    // Garbage before startup.
    let mut s = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    s.write_all(b"\x00\x00\x00\x08garbage!!!!!!!").await.unwrap();
    let _ = read_all(&mut s).await;

    // An unknown message type after startup: ErrorResponse, then close.
    let mut s = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    s.write_all(&startup_message()).await.unwrap();
    s.write_all(b"\xff\x00\x00\x00\x04").await.unwrap();
    let reply = read_all(&mut s).await;
    assert!(reply.windows(5).any(|w| w == b"08P01"), "{}", String::from_utf8_lossy(&reply));

    // A length beyond any limit.
    let mut s = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    s.write_all(&startup_message()).await.unwrap();
    s.write_all(b"Q\x7f\xff\xff\xff").await.unwrap();
    let reply = read_all(&mut s).await;
    assert!(reply.windows(5).any(|w| w == b"08P01"), "{}", String::from_utf8_lossy(&reply));

    // A message cut short, then the client disappears.
    let mut s = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    s.write_all(&startup_message()).await.unwrap();
    s.write_all(b"Q\x00\x00\x01\x00SELECT").await.unwrap();
    drop(s);

    let client = server.connect().await;
    assert_eq!(client.query_one("SELECT 2::int", &[]).await.unwrap().get::<_, i32>(0), 2);
}

#[tokio::test]
async fn server_parameters_are_reported() {
    let server = TestServer::start();
    let client = server.connect().await;
    let row = client.query_one("SHOW server_version", &[]).await.unwrap();
    assert!(row.get::<_, &str>(0).starts_with("15"));
    let messages = client.simple_query("SET application_name = 'tests'; SHOW application_name").await.unwrap();
    let shown: Vec<String> = messages
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => r.get(0).map(str::to_owned),
            _ => None,
        })
        .collect();
    assert_eq!(shown, vec!["tests".to_owned()]);
}

#[tokio::test]
async fn idle_in_transaction_timeout_closes_the_connection() {
    let server = TestServer::start();
    let client = server.connect().await;
    client.batch_execute("SET idle_in_transaction_session_timeout = 100; BEGIN").await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(client.query_one("SELECT 1::int", &[]).await.is_err());
    let other = server.connect().await;
    assert_eq!(other.query_one("SELECT 1::int", &[]).await.unwrap().get::<_, i32>(0), 1);
}

/// One frontend message: type byte, length, body.
fn frontend(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut msg = vec![kind];
    msg.extend_from_slice(&((body.len() + 4) as i32).to_be_bytes());
    msg.extend_from_slice(body);
    msg
}

/// Parse, Bind and Execute of `sql` on the unnamed statement and portal.
fn parse_bind_execute(sql: &str) -> Vec<u8> {
    let mut parse = b"\0".to_vec();
    parse.extend_from_slice(sql.as_bytes());
    parse.extend_from_slice(b"\0\0\0");
    let mut out = frontend(b'P', &parse);
    out.extend(frontend(b'B', b"\0\0\0\0\0\0\0\0"));
    out.extend(frontend(b'E', b"\0\0\0\0\0"));
    out
}

/// One statement as its own extended-protocol group (Parse, Bind,
/// Execute, Sync).
fn sync_group(sql: &str) -> Vec<u8> {
    let mut group = parse_bind_execute(sql);
    group.extend(frontend(b'S', b""));
    group
}

/// A raw connection with a transaction block open.
async fn started_in_block(server: &TestServer) -> tokio::net::TcpStream {
    let mut s = startup(server).await;
    s.write_all(&query("BEGIN")).await.unwrap();
    messages_until(&mut s, b'Z').await;
    s
}

/// Reads backend messages until one of type `until` arrives; returns the
/// types of all of them.
async fn read_until(stream: &mut tokio::net::TcpStream, until: u8) -> Vec<u8> {
    messages_until(stream, until).await.into_iter().map(|(kind, _)| kind).collect()
}

#[tokio::test]
async fn a_pipeline_is_answered_whole_even_when_half_a_message_follows_it() {
    // Replies to pipelined Sync groups are held back while the next message
    // is already buffered; they must still go out before the server waits
    // for the rest of a message that has only half arrived.
    let server = TestServer::start();
    // Inside a block, where replies to Sync groups may wait.
    let mut s = started_in_block(&server).await;
    let mut batch = Vec::new();
    for n in 1..=3 {
        batch.extend(sync_group(&format!("SELECT {n}")));
    }
    let next = query("SELECT 4");
    batch.extend_from_slice(&next[..next.len() / 2]);
    s.write_all(&batch).await.unwrap();
    for n in 1..=3 {
        let replies = messages_until(&mut s, b'Z').await;
        let rows: Vec<String> = replies
            .iter()
            .filter(|(k, _)| *k == b'D')
            .map(|(_, b)| String::from_utf8_lossy(&b[6..]).into_owned())
            .collect();
        assert_eq!(rows, [n.to_string()], "{replies:?}");
    }
    s.write_all(&next[next.len() / 2..]).await.unwrap();
    let last = messages_until(&mut s, b'Z').await;
    assert!(last.iter().any(|(k, b)| *k == b'D' && b.ends_with(b"4")), "{last:?}");
}

#[tokio::test]
async fn a_commit_is_acknowledged_while_the_next_pipelined_statement_waits_for_a_lock() {
    let server = TestServer::start();
    let holder = server.connect().await;
    holder.batch_execute("CREATE TABLE lk (id int PRIMARY KEY, v int); INSERT INTO lk VALUES (1, 0)").await.unwrap();
    holder.batch_execute("BEGIN; UPDATE lk SET v = 1 WHERE id = 1").await.unwrap();
    let mut s = started_in_block(&server).await;
    s.write_all(&[sync_group("COMMIT"), sync_group("UPDATE lk SET v = 2 WHERE id = 1")].concat()).await.unwrap();
    // The COMMIT's reply comes while the UPDATE behind it waits.
    let committed = messages_until(&mut s, b'Z').await;
    assert!(committed.iter().any(|(k, b)| *k == b'C' && b.starts_with(b"COMMIT")), "{committed:?}");
    holder.batch_execute("COMMIT").await.unwrap();
    let updated = messages_until(&mut s, b'Z').await;
    assert!(updated.iter().any(|(k, b)| *k == b'C' && b.starts_with(b"UPDATE 1")), "{updated:?}");
}

#[tokio::test]
async fn executes_between_syncs_commit_together_and_an_error_rolls_them_all_back() {
    let server = TestServer::start();
    let observer = server.connect().await;
    observer.batch_execute("CREATE TABLE t (id int PRIMARY KEY)").await.unwrap();
    let count = || async { observer.query_one("SELECT count(*) FROM t", &[]).await.unwrap().get::<_, i64>(0) };

    let mut s = startup(&server).await;

    // Two inserts, then Flush: both ran, neither is visible before Sync.
    let mut batch = parse_bind_execute("INSERT INTO t VALUES (1)");
    batch.extend(parse_bind_execute("INSERT INTO t VALUES (2)"));
    batch.extend(frontend(b'H', b""));
    s.write_all(&batch).await.unwrap();
    let replies = read_until(&mut s, b'C').await;
    assert!(!replies.contains(&b'E'), "{replies:?}");
    read_until(&mut s, b'C').await;
    assert_eq!(count().await, 0, "uncommitted before Sync");
    s.write_all(&frontend(b'S', b"")).await.unwrap();
    let replies = read_until(&mut s, b'Z').await;
    assert!(!replies.contains(&b'E'), "{replies:?}");
    assert_eq!(count().await, 2, "committed at Sync");

    // An error in the middle: the insert before it is rolled back too,
    // the one after is skipped, and the connection is idle again.
    let mut batch = parse_bind_execute("INSERT INTO t VALUES (3)");
    batch.extend(parse_bind_execute("INSERT INTO t VALUES (1)"));
    batch.extend(parse_bind_execute("INSERT INTO t VALUES (4)"));
    batch.extend(frontend(b'S', b""));
    s.write_all(&batch).await.unwrap();
    let replies = read_until(&mut s, b'Z').await;
    assert_eq!(replies.iter().filter(|&&k| k == b'E').count(), 1, "{replies:?}");
    assert_eq!(count().await, 2, "the whole batch rolled back");

    // BEGIN inside a batch makes the statements before it part of the
    // block, which stays open past Sync until COMMIT.
    let mut batch = parse_bind_execute("INSERT INTO t VALUES (5)");
    batch.extend(parse_bind_execute("BEGIN"));
    batch.extend(parse_bind_execute("INSERT INTO t VALUES (6)"));
    batch.extend(frontend(b'S', b""));
    s.write_all(&batch).await.unwrap();
    read_until(&mut s, b'Z').await;
    assert_eq!(count().await, 2, "still in the block");
    s.write_all(&[parse_bind_execute("COMMIT"), frontend(b'S', b"")].concat()).await.unwrap();
    read_until(&mut s, b'Z').await;
    assert_eq!(count().await, 4);

    // A multi-statement simple query is one implicit transaction too.
    let err = observer.batch_execute("INSERT INTO t VALUES (7); INSERT INTO t VALUES (1)").await.unwrap_err();
    assert_eq!(sqlstate(&err), "23505");
    assert_eq!(count().await, 4);
    observer.batch_execute("INSERT INTO t VALUES (7); INSERT INTO t VALUES (8)").await.unwrap();
    assert_eq!(count().await, 6);
}

/// `CREATE TABLE … AS` answers a bare `SELECT n` (no row description), as
/// PostgreSQL does, so psql prints the tag and drivers read a row count;
/// a query with no columns is still a row set.
#[tokio::test]
async fn create_table_as_answers_a_bare_select_tag() {
    let server = TestServer::start();
    let client = server.connect().await;
    let messages =
        client.simple_query("CREATE TABLE ctas AS SELECT g AS id FROM generate_series(1, 3) AS g").await.unwrap();
    assert!(matches!(messages.as_slice(), [SimpleQueryMessage::CommandComplete(3)]), "{messages:?}");
    let copied = client.execute("CREATE TABLE ctas2 AS SELECT id FROM ctas WHERE id > 1", &[]).await.unwrap();
    assert_eq!(copied, 2);
    let no_columns = client.simple_query("SELECT FROM ctas").await.unwrap();
    assert!(matches!(no_columns.first(), Some(SimpleQueryMessage::RowDescription(_))), "{no_columns:?}");
    assert!(matches!(no_columns.last(), Some(SimpleQueryMessage::CommandComplete(3))), "{no_columns:?}");
}

/// Reads backend messages until one of type `until` arrives; returns each
/// message's type and body.
async fn messages_until(stream: &mut tokio::net::TcpStream, until: u8) -> Vec<(u8, Vec<u8>)> {
    let mut messages = Vec::new();
    loop {
        let mut head = [0u8; 5];
        tokio::time::timeout(Duration::from_secs(10), stream.read_exact(&mut head)).await.unwrap().unwrap();
        let len = i32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        let mut body = vec![0u8; len - 4];
        stream.read_exact(&mut body).await.unwrap();
        messages.push((head[0], body));
        if head[0] == until {
            return messages;
        }
    }
}

/// A message shown for comparison: `N WARNING 25P01 there is no …` for a
/// notice (severity, SQLSTATE, message), `C TAG` for a completion, the
/// type letter for anything else.
fn show(kind: u8, body: &[u8]) -> String {
    match kind {
        b'N' | b'E' => {
            let field = |code: u8| {
                body.split(|&b| b == 0)
                    .find(|f| f.first() == Some(&code))
                    .map(|f| String::from_utf8_lossy(&f[1..]).into_owned())
                    .unwrap_or_default()
            };
            assert_eq!(field(b'S'), field(b'V'), "localized and plain severity");
            format!("{} {} {} {}", kind as char, field(b'S'), field(b'C'), field(b'M'))
        }
        b'C' => format!("C {}", String::from_utf8_lossy(body.strip_suffix(b"\0").unwrap_or(body))),
        other => (other as char).to_string(),
    }
}

async fn startup(server: &TestServer) -> tokio::net::TcpStream {
    let mut s = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    s.write_all(&startup_message()).await.unwrap();
    read_until(&mut s, b'Z').await;
    s
}

fn query(sql: &str) -> Vec<u8> {
    let mut body = sql.as_bytes().to_vec();
    body.push(0);
    frontend(b'Q', &body)
}

#[tokio::test]
async fn notices_come_before_the_completion_of_the_statement_that_raised_them() {
    let server = TestServer::start();
    let mut s = startup(&server).await;
    s.write_all(&query(
        "DROP TABLE IF EXISTS nope; CREATE TABLE t (a int); CREATE TABLE IF NOT EXISTS t (a int); \
         ALTER TABLE t ADD COLUMN IF NOT EXISTS a int; ALTER TABLE t DROP COLUMN IF EXISTS b; COMMIT",
    ))
    .await
    .unwrap();
    let shown: Vec<String> = messages_until(&mut s, b'Z').await.iter().map(|(k, b)| show(*k, b)).collect();
    assert_eq!(
        shown,
        [
            "N NOTICE 00000 table \"nope\" does not exist, skipping",
            "C DROP TABLE",
            "C CREATE TABLE",
            "N NOTICE 42P07 relation \"t\" already exists, skipping",
            "C CREATE TABLE",
            "N NOTICE 42701 column \"a\" of relation \"t\" already exists, skipping",
            "C ALTER TABLE",
            "N NOTICE 00000 column \"b\" of relation \"t\" does not exist, skipping",
            "C ALTER TABLE",
            "N WARNING 25P01 there is no transaction in progress",
            "C COMMIT",
            "Z",
        ]
    );
    // BEGIN inside a block warns and goes on; so does ROLLBACK outside one.
    s.write_all(&query("BEGIN")).await.unwrap();
    messages_until(&mut s, b'Z').await;
    let mut batch = parse_bind_execute("BEGIN");
    batch.extend(frontend(b'S', b""));
    s.write_all(&batch).await.unwrap();
    let shown: Vec<String> = messages_until(&mut s, b'Z').await.iter().map(|(k, b)| show(*k, b)).collect();
    assert_eq!(shown, ["1", "2", "N WARNING 25001 there is already a transaction in progress", "C BEGIN", "Z"]);
    s.write_all(&query("ROLLBACK; ROLLBACK; DROP INDEX IF EXISTS i; DROP SEQUENCE IF EXISTS q")).await.unwrap();
    let shown: Vec<String> = messages_until(&mut s, b'Z').await.iter().map(|(k, b)| show(*k, b)).collect();
    assert_eq!(
        shown,
        [
            "C ROLLBACK",
            "N WARNING 25P01 there is no transaction in progress",
            "C ROLLBACK",
            "N NOTICE 00000 index \"i\" does not exist, skipping",
            "C DROP INDEX",
            "N NOTICE 00000 sequence \"q\" does not exist, skipping",
            "C DROP SEQUENCE",
            "Z",
        ]
    );
}

#[tokio::test]
async fn copy_to_stdout_counts_rows_not_lines() {
    let server = TestServer::start();
    let client = server.connect().await;
    client
        .batch_execute("CREATE TABLE t (id int, note text); INSERT INTO t VALUES (1, 'two\nlines'), (2, 'x')")
        .await
        .unwrap();
    let mut s = startup(&server).await;
    for sql in [
        "COPY t TO STDOUT WITH (FORMAT csv, HEADER)",
        "COPY t TO STDOUT",
        "COPY (SELECT * FROM t) TO STDOUT WITH (FORMAT csv)",
    ] {
        s.write_all(&query(sql)).await.unwrap();
        let messages = messages_until(&mut s, b'Z').await;
        let tags: Vec<String> = messages.iter().filter(|(k, _)| *k == b'C').map(|(k, b)| show(*k, b)).collect();
        assert_eq!(tags, ["C COPY 2"], "{sql}");
        let mut batch = parse_bind_execute(sql);
        batch.extend(frontend(b'S', b""));
        s.write_all(&batch).await.unwrap();
        let messages = messages_until(&mut s, b'Z').await;
        let tags: Vec<String> = messages.iter().filter(|(k, _)| *k == b'C').map(|(k, b)| show(*k, b)).collect();
        assert_eq!(tags, ["C COPY 2"], "{sql}, extended");
    }
}

/// The ParameterStatus messages among `messages`, as name → value.
fn parameter_statuses(messages: &[(u8, Vec<u8>)]) -> std::collections::BTreeMap<String, String> {
    messages
        .iter()
        .filter(|(k, _)| *k == b'S')
        .filter_map(|(_, body)| {
            let mut parts = body.split(|&b| b == 0).map(|p| String::from_utf8_lossy(p).into_owned());
            Some((parts.next()?, parts.next()?))
        })
        .collect()
}

#[tokio::test]
async fn startup_reports_parameters_and_replies_carry_the_status_and_exact_tags() {
    let server = TestServer::start();
    let mut s = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let mut body = 196608i32.to_be_bytes().to_vec();
    for part in ["user", "memdb", "database", "memdb", "application_name", "raw-test", ""] {
        body.extend_from_slice(part.as_bytes());
        body.push(0);
    }
    let mut startup = ((body.len() + 4) as i32).to_be_bytes().to_vec();
    startup.extend(body);
    s.write_all(&startup).await.unwrap();
    let messages = messages_until(&mut s, b'Z').await;
    let reported = parameter_statuses(&messages);
    for (name, value) in [
        ("server_encoding", "UTF8"),
        ("client_encoding", "UTF8"),
        ("DateStyle", "ISO, MDY"),
        ("IntervalStyle", "postgres"),
        ("integer_datetimes", "on"),
        ("standard_conforming_strings", "on"),
        ("application_name", "raw-test"),
    ] {
        assert_eq!(reported.get(name).map(String::as_str), Some(value), "{name} in {reported:?}");
    }
    assert!(reported.get("server_version").is_some_and(|v| v.starts_with("15")), "{reported:?}");
    assert!(reported.get("TimeZone").is_some_and(|v| !v.is_empty()), "{reported:?}");
    assert_eq!(messages.last().map(|(_, b)| b.as_slice()), Some(&b"I"[..]), "idle after startup");

    // Each statement's tag as PostgreSQL words it, and ReadyForQuery's
    // status: idle, in a block, in a failed block.
    let mut exchange = async |sql: &str| {
        s.write_all(&query(sql)).await.unwrap();
        let messages = messages_until(&mut s, b'Z').await;
        let status = messages.last().map(|(_, b)| b[0] as char).unwrap_or('?');
        let shown: Vec<String> =
            messages.iter().filter(|(k, _)| matches!(k, b'C' | b'E')).map(|(k, b)| show(*k, b)).collect();
        (shown, status, parameter_statuses(&messages))
    };
    let (tags, status, _) = exchange("CREATE TABLE t (id int PRIMARY KEY, v text)").await;
    assert_eq!((tags, status), (vec!["C CREATE TABLE".to_owned()], 'I'));
    let (tags, status, _) =
        exchange("BEGIN; INSERT INTO t VALUES (1, 'a'), (2, 'b'); UPDATE t SET v = 'c' WHERE id = 1").await;
    assert_eq!((tags, status), (vec!["C BEGIN".to_owned(), "C INSERT 0 2".to_owned(), "C UPDATE 1".to_owned()], 'T'));
    let (tags, status, _) = exchange("SELECT * FROM t; DELETE FROM t WHERE id = 2").await;
    assert_eq!((tags, status), (vec!["C SELECT 2".to_owned(), "C DELETE 1".to_owned()], 'T'));
    let (tags, status, _) = exchange("SELECT 1/0").await;
    assert_eq!((tags, status), (vec!["E ERROR 22012 division by zero".to_owned()], 'E'));
    let (tags, status, _) = exchange("COMMIT").await;
    assert_eq!((tags, status), (vec!["C ROLLBACK".to_owned()], 'I'), "COMMIT of a failed block rolls back");
    let (tags, status, reported) = exchange("SET application_name = 'renamed'").await;
    assert_eq!((tags, status), (vec!["C SET".to_owned()], 'I'));
    assert_eq!(reported.get("application_name").map(String::as_str), Some("renamed"), "reported again after SET");
    let (tags, _, _) = exchange("SELECT count(*) FROM t").await;
    assert_eq!(tags, ["C SELECT 1"]);
}

/// Reads messages until the server closes the connection; returns them.
async fn messages_until_closed(stream: &mut tokio::net::TcpStream) -> Vec<(u8, Vec<u8>)> {
    let mut messages = Vec::new();
    loop {
        let mut head = [0u8; 5];
        match tokio::time::timeout(Duration::from_secs(10), stream.read_exact(&mut head)).await {
            Ok(Ok(_)) => {}
            Ok(Err(_)) => return messages,
            Err(_) => panic!("the server kept the connection open: {messages:?}"),
        }
        let len = i32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        let mut body = vec![0u8; len - 4];
        stream.read_exact(&mut body).await.unwrap();
        messages.push((head[0], body));
    }
}

#[tokio::test]
async fn idle_timeouts_end_the_session_with_their_sqlstate() {
    let server = TestServer::start();
    for (setup, expected) in [
        ("SET idle_in_transaction_session_timeout = 100; BEGIN", "E FATAL 25P03"),
        ("SET idle_session_timeout = 100", "E FATAL 57P05"),
    ] {
        let mut s = startup(&server).await;
        s.write_all(&query(setup)).await.unwrap();
        messages_until(&mut s, b'Z').await;
        let messages = messages_until_closed(&mut s).await;
        let shown: Vec<String> = messages.iter().map(|(k, b)| show(*k, b)).collect();
        assert!(shown.len() == 1 && shown[0].starts_with(expected), "{setup}: {shown:?}");
    }
}

#[tokio::test]
async fn named_statements_and_suspended_portals_end_as_postgres_ends_them() {
    let server = TestServer::start();
    let client = server.connect().await;
    client.batch_execute("CREATE TABLE t (id int PRIMARY KEY)").await.unwrap();
    let mut s = startup(&server).await;
    let parse = |name: &str, sql: &str| {
        let mut body = name.as_bytes().to_vec();
        body.push(0);
        body.extend_from_slice(sql.as_bytes());
        body.extend_from_slice(b"\0\0\0");
        frontend(b'P', &body)
    };
    // A named statement parsed again is replaced (see on_parse), closed,
    // parsed again; the unnamed one is replaced by each Parse.
    let mut batch = parse("s1", "SELECT 1");
    batch.extend(parse("s1", "SELECT 2"));
    batch.extend(frontend(b'C', b"Ss1\0"));
    batch.extend(parse("s1", "SELECT 3"));
    batch.extend(parse("", "SELECT 4"));
    batch.extend(parse("", "SELECT 5"));
    batch.extend(frontend(b'S', b""));
    s.write_all(&batch).await.unwrap();
    let shown: Vec<String> = messages_until(&mut s, b'Z').await.iter().map(|(k, b)| show(*k, b)).collect();
    assert_eq!(shown, ["1", "1", "3", "1", "1", "1", "Z"]);
    // INSERT … RETURNING fetched two rows at a time ends with its own verb
    // and the rows of the last fetch, as PostgreSQL's tag does; a SELECT
    // likewise.
    let mut batch = frontend(b'Q', b"BEGIN\0");
    batch.extend(parse("", "INSERT INTO t SELECT g FROM generate_series(1, 5) AS g RETURNING id"));
    batch.extend(frontend(b'B', b"\0\0\0\0\0\0\0\0"));
    for _ in 0..3 {
        batch.extend(frontend(b'E', b"\0\0\0\0\x02"));
    }
    batch.extend(frontend(b'S', b""));
    s.write_all(&batch).await.unwrap();
    messages_until(&mut s, b'Z').await;
    let shown: Vec<String> = messages_until(&mut s, b'Z').await.iter().map(|(k, b)| show(*k, b)).collect();
    assert_eq!(shown, ["1", "2", "D", "D", "s", "D", "D", "s", "D", "C INSERT 0 1", "Z"]);
    let mut batch = frontend(b'Q', b"BEGIN\0");
    batch.extend(parse("", "UPDATE t SET id = id + 10 RETURNING id"));
    batch.extend(frontend(b'B', b"\0\0\0\0\0\0\0\0"));
    batch.extend(frontend(b'E', b"\0\0\0\0\x03"));
    batch.extend(frontend(b'E', b"\0\0\0\0\x03"));
    batch.extend(parse("", "SELECT id FROM t"));
    batch.extend(frontend(b'B', b"\0\0\0\0\0\0\0\0"));
    batch.extend(frontend(b'E', b"\0\0\0\0\x04"));
    batch.extend(frontend(b'E', b"\0\0\0\0\x04"));
    batch.extend(frontend(b'S', b""));
    s.write_all(&batch).await.unwrap();
    messages_until(&mut s, b'Z').await;
    let shown: Vec<String> = messages_until(&mut s, b'Z').await.iter().map(|(k, b)| show(*k, b)).collect();
    assert_eq!(
        shown,
        [
            "1",
            "2",
            "D",
            "D",
            "D",
            "s",
            "D",
            "D",
            "C UPDATE 2",
            "1",
            "2",
            "D",
            "D",
            "D",
            "D",
            "s",
            "D",
            "C SELECT 1",
            "Z"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_stop_reading_or_send_slowly_do_not_hold_up_others() {
    let server = TestServer::start();
    // One client asks for ~40 MB of rows and never reads them: the server
    // blocks writing to that one socket only.
    let mut reader = startup(&server).await;
    reader.write_all(&query("SELECT repeat('x', 1000) FROM generate_series(1, 40000)")).await.unwrap();
    // Another sends half a message and stalls.
    let mut trickler = startup(&server).await;
    trickler.write_all(b"Q\0\0\x01\0SELECT").await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    for _ in 0..3 {
        let client = tokio::time::timeout(Duration::from_secs(5), server.connect()).await.expect("connect in time");
        let row = tokio::time::timeout(Duration::from_secs(5), client.query_one("SELECT 7::int", &[]))
            .await
            .expect("answered in time")
            .unwrap();
        assert_eq!(row.get::<_, i32>(0), 7);
    }
    // The slow reader still gets every row once it reads.
    let messages = messages_until(&mut reader, b'Z').await;
    assert_eq!(messages.iter().filter(|(k, _)| *k == b'D').count(), 40000);
    drop(trickler);
}

/// The rows of a simple query, each as text fields.
async fn text_rows(client: &tokio_postgres::Client, sql: &str) -> Vec<Vec<Option<String>>> {
    client
        .simple_query(sql)
        .await
        .unwrap()
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some((0..r.len()).map(|i| r.get(i).map(str::to_owned)).collect()),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_aggregates_match_one_thread_and_stop_on_cancel() {
    let server = TestServer::start();
    let client = server.connect().await;
    client
        .batch_execute(
            "CREATE TABLE pa (id int, g int, x numeric(10,2), s text); \
             INSERT INTO pa SELECT i, i % 7, i / 4.0, 's' || (i % 1000) FROM generate_series(1, 120000) i; \
             CREATE TABLE pb (id int PRIMARY KEY, w int); \
             INSERT INTO pb SELECT i, i * 2 FROM generate_series(0, 6) i",
        )
        .await
        .unwrap();
    let queries = [
        "SELECT g, count(*), sum(x), avg(id), min(s), max(s) FROM pa GROUP BY g",
        "SELECT count(*), sum(pb.w), string_agg(pa.s, ',') FILTER (WHERE pa.id % 30000 = 0) \
         FROM pa JOIN pb ON pb.id = pa.g WHERE pa.x > 100",
    ];
    for q in queries {
        client.batch_execute("SET max_parallel_workers_per_gather = 0").await.unwrap();
        let serial = text_rows(&client, q).await;
        client.batch_execute("RESET max_parallel_workers_per_gather").await.unwrap();
        // Two connections at once: the thread budget is shared.
        let other = server.connect().await;
        let (a, b) = tokio::join!(text_rows(&client, q), text_rows(&other, q));
        assert_eq!(serial, a, "{q}");
        assert_eq!(serial, b, "{q}");
    }
    // statement_timeout stops every thread of a parallel statement.
    client.batch_execute("SET statement_timeout = 50").await.unwrap();
    let started = std::time::Instant::now();
    let slow = "SELECT g, sum(length(repeat(s, 2000))) FROM pa GROUP BY g";
    let err = client.simple_query(slow).await.unwrap_err();
    assert_eq!(sqlstate(&err), "57014");
    assert!(started.elapsed() < Duration::from_secs(10));
    client.batch_execute("SET statement_timeout = 0").await.unwrap();
    // An error on one thread is the statement's error.
    let err = client.simple_query("SELECT sum(1 / (id - 90000)) FROM pa").await.unwrap_err();
    assert_eq!(sqlstate(&err), "22012");
}
