//! Users, roles and logins across the three front ends, against the real
//! server with a superuser password set: SCRAM and MD5 over pgwire
//! (tokio-postgres, and psql when installed), AUTH/NOAUTH/NOPERM over RESP
//! (the redis crate), Basic and Bearer API keys over HTTP (reqwest); a
//! read-only role cannot write through any of them; wrong passwords,
//! unknown users, bad keys and brute force get clean refusals.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::TestServer;
use reqwest::StatusCode;
use serde_json::{Value, json};

const ROOT_PASSWORD: &str = "r00t-pw";

fn secured() -> TestServer {
    let mut config = TestServer::http_config();
    config.superuser_password = Some(ROOT_PASSWORD.into());
    TestServer::start_with(config)
}

async fn pg(server: &TestServer, user: &str, password: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let conn = format!(
        "host=127.0.0.1 port={} user={user} password={password} dbname=memdb connect_timeout=10",
        server.addr.port()
    );
    let (client, connection) = tokio_postgres::connect(&conn, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

fn code(e: &tokio_postgres::Error) -> String {
    e.code().map(|c| c.code().to_owned()).unwrap_or_else(|| format!("no sqlstate: {e}"))
}

/// A superuser session that creates the roles the tests use.
async fn setup(server: &TestServer) -> tokio_postgres::Client {
    let root = pg(server, "memdb", ROOT_PASSWORD).await.unwrap();
    root.batch_execute(
        "CREATE TABLE items (id int PRIMARY KEY, name text);
         INSERT INTO items VALUES (1, 'one');
         CREATE USER reader PASSWORD 'read-pw' IN ROLE pg_read_all_data;
         CREATE USER writer PASSWORD 'write-pw';
         GRANT pg_read_all_data, pg_write_all_data TO writer;
         CREATE USER nobody PASSWORD 'nobody-pw';
         SET password_encryption = 'md5';
         CREATE USER legacy PASSWORD 'md5-pw';
         GRANT SELECT ON items TO legacy;",
    )
    .await
    .unwrap();
    root
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pgwire_logins_and_privileges() {
    let server = secured();
    let root = setup(&server).await;
    let me: String = root.query_one("SELECT current_user", &[]).await.unwrap().get(0);
    assert_eq!(me, "memdb");

    // SCRAM for the SCRAM verifiers, MD5 for the md5 one.
    let reader = pg(&server, "reader", "read-pw").await.unwrap();
    let legacy = pg(&server, "legacy", "md5-pw").await.unwrap();
    let n: i64 = legacy.query_one("SELECT count(*) FROM items", &[]).await.unwrap().get(0);
    assert_eq!(n, 1);

    // Wrong password and unknown user: the same refusal.
    for (user, password) in [("reader", "wrong"), ("ghost", "read-pw"), ("legacy", "wrong"), ("memdb", "")] {
        let e = pg(&server, user, password).await.map(|_| ()).expect_err("refused");
        assert_eq!(code(&e), "28P01", "{user}: {e}");
        let message = e.as_db_error().map(|d| d.message().to_owned()).unwrap_or_default();
        assert_eq!(message, format!("password authentication failed for user \"{user}\""));
    }

    // Reads only.
    let n: i64 = reader.query_one("SELECT count(*) FROM items", &[]).await.unwrap().get(0);
    assert_eq!(n, 1);
    for sql in
        ["INSERT INTO items VALUES (2, 'two')", "UPDATE items SET name = 'x'", "DELETE FROM items", "DROP TABLE items"]
    {
        let e = reader.batch_execute(sql).await.map(|_| ()).expect_err("refused");
        assert_eq!(code(&e), "42501", "{sql}: {e}");
    }
    let e = legacy.batch_execute("INSERT INTO items VALUES (3, 'x')").await.map(|_| ()).expect_err("refused");
    assert_eq!(code(&e), "42501");

    // No privileges at all.
    let nobody = pg(&server, "nobody", "nobody-pw").await.unwrap();
    let e = nobody.query("SELECT * FROM items", &[]).await.map(|_| ()).expect_err("refused");
    assert_eq!(code(&e), "42501");
    assert_eq!(e.as_db_error().map(|d| d.message()), Some("permission denied for table items"));

    // A grant reaches an open session at its next transaction.
    root.batch_execute("GRANT SELECT ON items TO nobody").await.unwrap();
    assert_eq!(nobody.query("SELECT * FROM items", &[]).await.unwrap().len(), 1);

    // A role that may not log in, and one past VALID UNTIL.
    root.batch_execute(
        "CREATE ROLE team PASSWORD 'team-pw'; CREATE USER old PASSWORD 'old-pw' VALID UNTIL '2001-01-01'",
    )
    .await
    .unwrap();
    assert_eq!(code(&pg(&server, "team", "team-pw").await.map(|_| ()).expect_err("refused")), "28P01");
    assert_eq!(code(&pg(&server, "old", "old-pw").await.map(|_| ()).expect_err("refused")), "28P01");

    // Password changes take effect for new logins.
    root.batch_execute("ALTER USER reader PASSWORD 'new-pw'").await.unwrap();
    assert!(pg(&server, "reader", "read-pw").await.is_err());
    pg(&server, "reader", "new-pw").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_logs_in_with_scram() {
    let Ok(version) = std::process::Command::new("psql").arg("--version").output() else {
        eprintln!("SKIPPED: psql is not installed");
        return;
    };
    assert!(version.status.success());
    let server = secured();
    let port = server.addr.port().to_string();
    let run = |password: &'static str| {
        let port = port.clone();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new("psql")
                .args(["-h", "127.0.0.1", "-p", &port, "-U", "memdb", "-d", "memdb", "-Atc", "SELECT current_user"])
                .env("PGPASSWORD", password)
                .env("PGCONNECT_TIMEOUT", "10")
                .output()
                .unwrap()
        })
    };
    let ok = run(ROOT_PASSWORD).await.unwrap();
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    assert_eq!(String::from_utf8_lossy(&ok.stdout).trim(), "memdb");
    let bad = run("nope").await.unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("password authentication failed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resp_needs_auth_and_checks_privileges() {
    let server = secured();
    let _root = setup(&server).await;
    let url = format!("redis://{}/", server.resp.unwrap());
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();

    let err = redis::cmd("GET").arg("k").query_async::<Option<String>>(&mut conn).await.unwrap_err();
    assert_eq!(err.code(), Some("NOAUTH"), "{err}");
    let err = redis::cmd("AUTH").arg("wrong").query_async::<String>(&mut conn).await.unwrap_err();
    assert!(err.to_string().contains("WRONGPASS"), "{err}");
    let err = redis::cmd("AUTH").arg("ghost").arg("x").query_async::<String>(&mut conn).await.unwrap_err();
    assert!(err.to_string().contains("WRONGPASS"), "{err}");

    // AUTH password logs in as the superuser.
    let ok: String = redis::cmd("AUTH").arg(ROOT_PASSWORD).query_async(&mut conn).await.unwrap();
    assert_eq!(ok, "OK");
    let _: () = redis::cmd("SET").arg("k").arg("v").query_async(&mut conn).await.unwrap();

    // A reader may read, not write.
    let mut reader = client.get_multiplexed_async_connection().await.unwrap();
    let _: String = redis::cmd("AUTH").arg("reader").arg("read-pw").query_async(&mut reader).await.unwrap();
    let v: Option<String> = redis::cmd("GET").arg("k").query_async(&mut reader).await.unwrap();
    assert_eq!(v.as_deref(), Some("v"));
    let err = redis::cmd("SET").arg("k").arg("w").query_async::<()>(&mut reader).await.unwrap_err();
    assert_eq!(err.code(), Some("NOPERM"), "{err}");
    let err = redis::cmd("DEL").arg("k").query_async::<i64>(&mut reader).await.unwrap_err();
    assert_eq!(err.code(), Some("NOPERM"), "{err}");

    // Pipelined writes are refused one by one too.
    let results: Vec<redis::RedisResult<String>> = {
        let mut pipe = redis::pipe();
        pipe.cmd("SET").arg("a").arg("1").cmd("GET").arg("k");
        match pipe.query_async::<Vec<redis::Value>>(&mut reader).await {
            Ok(_) => panic!("a pipelined write by a reader went through"),
            Err(e) => vec![Err(e)],
        }
    };
    assert!(format!("{:?}", results[0].as_ref().unwrap_err()).contains("NoPerm"), "{:?}", results[0]);

    // A writer may write; no role may run admin commands unless superuser.
    let mut writer = client.get_multiplexed_async_connection().await.unwrap();
    let _: String = redis::cmd("AUTH").arg("writer").arg("write-pw").query_async(&mut writer).await.unwrap();
    let _: () = redis::cmd("SET").arg("k").arg("w").query_async(&mut writer).await.unwrap();
    let err = redis::cmd("CONFIG").arg("GET").arg("port").query_async::<redis::Value>(&mut writer).await.unwrap_err();
    assert_eq!(err.code(), Some("NOPERM"), "{err}");

    // A role without key privileges.
    let mut nobody = client.get_multiplexed_async_connection().await.unwrap();
    let _: String = redis::cmd("AUTH").arg("nobody").arg("nobody-pw").query_async(&mut nobody).await.unwrap();
    let err = redis::cmd("GET").arg("k").query_async::<Option<String>>(&mut nobody).await.unwrap_err();
    assert_eq!(err.code(), Some("NOPERM"), "{err}");
}

async fn http(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    auth: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut req = client.request(method, url);
    if let Some(auth) = auth {
        req = req.header("authorization", auth);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req.send().await.unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    let text = resp.text().await.unwrap();
    (status, headers, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_basic_bearer_and_permissions() {
    use reqwest::Method;
    let server = secured();
    let _root = setup(&server).await;
    let c = reqwest::Client::new();
    let root = basic("memdb", ROOT_PASSWORD);
    let reader = basic("reader", "read-pw");

    // Without credentials: 401 with a challenge; probes and docs stay open.
    let (status, headers, body) = http(&c, Method::GET, server.url("/api/v1/tables/items/records/1"), None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(headers.get("www-authenticate").unwrap().to_str().unwrap().contains("Basic"));
    assert_eq!(body["code"], "unauthorized");
    assert_eq!(http(&c, Method::GET, server.url("/health"), None, None).await.0, StatusCode::OK);
    assert_eq!(http(&c, Method::GET, server.url("/api/v1/openapi.json"), None, None).await.0, StatusCode::OK);

    // Bad credentials of every kind.
    for bad in
        [basic("memdb", "wrong"), basic("ghost", "x"), "Basic !!!".into(), "Token abc".into(), "Bearer nope".into()]
    {
        let (status, _, _) = http(&c, Method::GET, server.url("/api/v1/kv/k"), Some(&bad), None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{bad}");
    }

    // The superuser may do anything; a reader reads but gets 403 on writes.
    let (status, _, _) =
        http(&c, Method::PUT, server.url("/api/v1/kv/k"), Some(&root), Some(json!({"value": "v"}))).await;
    assert!(status.is_success(), "{status}");
    let (status, _, body) = http(&c, Method::GET, server.url("/api/v1/kv/k"), Some(&reader), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, body) =
        http(&c, Method::GET, server.url("/api/v1/tables/items/records/1"), Some(&reader), None).await;
    assert_eq!((status, body["name"].clone()), (StatusCode::OK, json!("one")));
    let writes = [
        (Method::PUT, "/api/v1/kv/k", Some(json!({"value": "w"}))),
        (Method::DELETE, "/api/v1/kv/k", None),
        (Method::POST, "/api/v1/tables/items/records", Some(json!({"id": 5, "name": "five"}))),
        (Method::DELETE, "/api/v1/tables/items/records/1", None),
        (Method::POST, "/api/v1/sql", Some(json!({"sql": "INSERT INTO items VALUES (6, 'six')"}))),
        (Method::DELETE, "/api/v1/tables/items", None),
        (Method::POST, "/api/v1/admin/checkpoint", None),
        (Method::POST, "/api/v1/admin/api-keys", Some(json!({"role": "reader"}))),
    ];
    for (method, path, body) in writes {
        let (status, _, answer) = http(&c, method.clone(), server.url(path), Some(&reader), body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {answer}");
    }

    // API keys: made by the superuser, shown once, bound to a role.
    let (status, _, made) = http(
        &c,
        Method::POST,
        server.url("/api/v1/admin/api-keys"),
        Some(&root),
        Some(json!({"role": "reader", "comment": "dashboards", "expires_in": "1 day"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let key = made["key"].as_str().unwrap().to_owned();
    let bearer = format!("Bearer {key}");
    let (status, _, _) = http(&c, Method::GET, server.url("/api/v1/kv/k"), Some(&bearer), None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) =
        http(&c, Method::PUT, server.url("/api/v1/kv/k"), Some(&bearer), Some(json!({"value": "x"}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, list) = http(&c, Method::GET, server.url("/api/v1/admin/api-keys"), Some(&root), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list[0]["id"], made["id"]);
    assert!(!list.to_string().contains(&key), "listings never show a key");
    // A tampered key and a revoked one are refused.
    // The last character changed (to one it is not: a key may end in `x`).
    let last = if key.ends_with('x') { 'y' } else { 'x' };
    let tampered = format!("Bearer {}{last}", &key[..key.len() - 1]);
    assert_eq!(
        http(&c, Method::GET, server.url("/api/v1/kv/k"), Some(&tampered), None).await.0,
        StatusCode::UNAUTHORIZED
    );
    let id = made["id"].as_str().unwrap();
    let (status, _, _) =
        http(&c, Method::DELETE, server.url(&format!("/api/v1/admin/api-keys/{id}")), Some(&root), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        http(&c, Method::GET, server.url("/api/v1/kv/k"), Some(&bearer), None).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, _, _) =
        http(&c, Method::DELETE, server.url(&format!("/api/v1/admin/api-keys/{id}")), Some(&root), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) =
        http(&c, Method::POST, server.url("/api/v1/admin/api-keys"), Some(&root), Some(json!({"role": "ghost"}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failures_slow_down_and_success_resets() {
    let server = secured();
    let client = redis::Client::open(format!("redis://{}/", server.resp.unwrap()).as_str()).unwrap();
    let config = redis::AsyncConnectionConfig::new().set_response_timeout(Some(Duration::from_secs(30)));
    let mut conn = client.get_multiplexed_async_connection_with_config(&config).await.unwrap();
    let mut last = Duration::ZERO;
    for _ in 0..6 {
        let started = Instant::now();
        let err = redis::cmd("AUTH").arg("guess").query_async::<String>(&mut conn).await.unwrap_err();
        assert!(
            err.to_string().contains("WRONGPASS") || err.to_string().contains("invalid username-password"),
            "{err}"
        );
        last = started.elapsed();
    }
    // The sixth failure in a row waits (250 ms, then doubling); pgwire from
    // the same address is held back as well.
    assert!(last >= Duration::from_millis(400), "{last:?}");
    let started = Instant::now();
    assert!(pg(&server, "memdb", "guess").await.is_err());
    assert!(started.elapsed() >= Duration::from_millis(400));
    let ok: String = redis::cmd("AUTH").arg(ROOT_PASSWORD).query_async(&mut conn).await.unwrap();
    assert_eq!(ok, "OK");
    let started = Instant::now();
    let _ = redis::cmd("AUTH").arg("guess").query_async::<String>(&mut conn).await;
    assert!(started.elapsed() < Duration::from_millis(400), "a success forgets the failures");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trusted_loopback_connections_act_as_the_role_they_name() {
    // No password: trust, but a stored role's privileges still apply.
    let server = TestServer::start_http();
    let conn = |user: &str| format!("host=127.0.0.1 port={} user={user} dbname=memdb", server.addr.port());
    let (admin, c) = tokio_postgres::connect(&conn("anyone"), tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(c);
    admin.batch_execute("CREATE TABLE t (a int); CREATE ROLE viewer LOGIN IN ROLE pg_read_all_data").await.unwrap();
    let (viewer, c) = tokio_postgres::connect(&conn("viewer"), tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(c);
    viewer.query("SELECT * FROM t", &[]).await.unwrap();
    let e = viewer.batch_execute("INSERT INTO t VALUES (1)").await.unwrap_err();
    assert_eq!(code(&e), "42501");
}

#[test]
fn a_public_listener_needs_a_password() {
    let mut config = memdb_server::Config { http_listen: "0.0.0.0:8080".into(), ..Default::default() };
    let e = config.validate().unwrap_err().to_string();
    assert!(e.contains("http_listen") && e.contains("MEMDB_PASSWORD"), "{e}");
    config.superuser_password = Some("x".into());
    config.validate().unwrap();
    for loopback in ["127.0.0.1:1", "localhost:1", "[::1]:1"] {
        let config = memdb_server::Config { pg_listen: loopback.into(), ..Default::default() };
        config.validate().unwrap();
    }
}
