//! memdb-client against the real server (in this process, on free
//! loopback ports): records, joins, SQL and KV with a password; typed
//! errors; API keys; retries through rate limiting and conflicts, and
//! none where a retry could apply a write twice.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::mpsc;
use std::time::{Duration, Instant};

use memdb_client::{Client, Error, JoinKind, ListOptions, RetryPolicy};
use memdb_server::Config;
use serde_json::json;

const PASSWORD: &str = "client-pw";

/// A server running on its own thread until dropped.
struct Server {
    base: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    fn start(change: impl FnOnce(&mut Config)) -> Server {
        let mut config = Config {
            pg_listen: "127.0.0.1:0".into(),
            resp_listen: "off".into(),
            http_listen: "127.0.0.1:0".into(),
            durability: memdb_server::Durability::MemoryOnly,
            superuser_password: Some(PASSWORD.into()),
            ..Config::default()
        };
        change(&mut config);
        let (addr_tx, addr_rx) = mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            let db = memdb_server::open_database(&config).unwrap();
            runtime.block_on(async {
                let shutdown = async {
                    let _ = stopped.await;
                };
                memdb_server::serve(&config, db, shutdown, |at| {
                    let _ = addr_tx.send(at.http);
                })
                .await
                .unwrap();
            });
        });
        let http = addr_rx.recv().unwrap().unwrap();
        Server { base: format!("http://{http}"), stop: Some(stop), thread: Some(thread) }
    }

    fn client(&self) -> Client {
        Client::builder(&self.base).basic_auth("memdb", PASSWORD).build().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_joins_sql_and_kv() {
    let server = Server::start(|_| {});
    let db = server.client();
    let created = db
        .sql("CREATE TABLE users (id int PRIMARY KEY, name text NOT NULL, age int); CREATE TABLE pets (id int PRIMARY KEY, owner int, kind text)", &[])
        .await
        .unwrap();
    assert_eq!(created.results.as_ref().map(Vec::len), Some(2));

    let stored = db.create_record("users", &json!({"id": 1, "name": "Ada", "age": 36})).await.unwrap();
    assert_eq!(stored["name"], "Ada");
    let batch = db
        .create_records(
            "users",
            &[json!({"id": 2, "name": "Bo", "age": 12}), json!({"id": 3, "name": "Cy", "age": 70})],
        )
        .await
        .unwrap();
    assert_eq!(batch.len(), 2);
    db.create_record("pets", &json!({"id": 1, "owner": 1, "kind": "cat"})).await.unwrap();

    let adults = db.list_records("users", &ListOptions::default().filter("age.gte", "18").sort("-age")).await.unwrap();
    let names: Vec<&str> = adults.records.iter().filter_map(|r| r["name"].as_str()).collect();
    assert_eq!(names, ["Cy", "Ada"]);
    let first = db.list_records("users", &ListOptions::default().sort("id").limit(2)).await.unwrap();
    let cursor = first.next_cursor.clone().expect("a second page");
    let second = db.list_records("users", &ListOptions::default().sort("id").limit(2).cursor(cursor)).await.unwrap();
    assert_eq!(second.records.len(), 1);
    assert_eq!(second.next_cursor, None);

    let updated = db.update_record("users", "2", &json!({"age": 13})).await.unwrap();
    assert_eq!(updated["age"], 13);
    db.delete_record("users", "3").await.unwrap();
    let gone = db.get_record("users", "3").await.unwrap_err();
    assert!(gone.is_not_found(), "{gone}");

    let pairs = db.join("users", "pets", "id", JoinKind::Left, None, None).await.unwrap();
    assert_eq!(pairs.results.len(), 2);
    let inner = db.join("users", "pets", "id", JoinKind::Inner, None, None).await.unwrap();
    assert_eq!(inner.results.len(), 1);

    let rows = db.sql("SELECT name, age FROM users WHERE id = $1", &[json!(2)]).await.unwrap();
    assert_eq!(rows.columns.iter().map(|c| c.data_type.as_str()).collect::<Vec<_>>(), ["text", "integer"]);
    assert_eq!(rows.records()[0]["name"], "Bo");

    // Keys with characters that need escaping in a path.
    let entry = db.kv_set("greeting/en us", &json!("hello"), Some(60.0)).await.unwrap();
    assert_eq!(entry.key, "greeting/en us");
    let read = db.kv_get("greeting/en us").await.unwrap();
    assert_eq!(read.value, "hello");
    assert!(read.ttl.is_some_and(|t| t > 50.0 && t <= 60.0));
    assert_eq!(db.kv_push("queue", &[json!("a"), json!("b")]).await.unwrap(), 2);
    assert_eq!(db.kv_pop("queue").await.unwrap().map(|p| p.value), Some(json!("b")));
    assert_eq!(db.kv_pop("queue").await.unwrap().map(|p| (p.value, p.encoding)), Some((json!("a"), "utf8".into())));
    assert_eq!(db.kv_pop("queue").await.unwrap(), None);
    let page = db.kv_list("greeting", None, None).await.unwrap();
    assert_eq!(page.keys.len(), 1);
    db.kv_delete("greeting/en us").await.unwrap();
    assert!(db.kv_get("greeting/en us").await.unwrap_err().is_not_found());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_typed_and_credentials_checked() {
    let server = Server::start(|_| {});
    let db = server.client();
    db.sql("CREATE TABLE t (id int PRIMARY KEY)", &[]).await.unwrap();
    db.create_record("t", &json!({"id": 1})).await.unwrap();

    let duplicate = db.create_record("t", &json!({"id": 1})).await.unwrap_err();
    assert_eq!(duplicate.status(), Some(409));
    assert_eq!(duplicate.sqlstate(), Some("23505"), "{duplicate}");
    assert!(!duplicate.is_retryable());

    let syntax = db.sql("SELEC 1", &[]).await.unwrap_err();
    assert_eq!((syntax.status(), syntax.sqlstate()), (Some(400), Some("42601")), "{syntax}");

    let anonymous = Client::new(&server.base).unwrap().sql("SELECT 1", &[]).await.unwrap_err();
    assert_eq!(anonymous.status(), Some(401));
    let wrong = Client::builder(&server.base).basic_auth("memdb", "nope").build().unwrap();
    assert_eq!(wrong.sql("SELECT 1", &[]).await.unwrap_err().status(), Some(401));

    // An API key bound to a read-only role reads but cannot write.
    db.sql("CREATE ROLE reporting LOGIN IN ROLE pg_read_all_data", &[]).await.unwrap();
    let made = db.sql("CALL memdb_create_api_key('reporting')", &[]).await.unwrap();
    let key = made.records()[0]["key"].as_str().unwrap().to_owned();
    let reporting = Client::builder(&server.base).api_key(key).build().unwrap();
    assert_eq!(reporting.get_record("t", "1").await.unwrap()["id"], 1);
    let denied = reporting.create_record("t", &json!({"id": 2})).await.unwrap_err();
    assert_eq!((denied.status(), denied.code()), (Some(403), Some("permission_denied")), "{denied}");

    let nowhere = Client::builder("http://127.0.0.1:1").retry(RetryPolicy::none()).build().unwrap();
    let refused = nowhere.kv_get("k").await.unwrap_err();
    assert!(matches!(refused, Error::Transport(_)), "{refused}");
    assert!(refused.is_retryable() && refused.certainly_not_applied());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limited_calls_are_retried_after_retry_after() {
    let server = Server::start(|c| {
        c.http_rate_limit = "1".into();
        c.http_rate_burst = 1;
    });
    let patient = server.client();
    let impatient =
        Client::builder(&server.base).basic_auth("memdb", PASSWORD).retry(RetryPolicy::none()).build().unwrap();
    patient.kv_set("k", &json!("v"), None).await.unwrap();
    // The bucket is empty: without retries the next call is refused ...
    let limited = impatient.kv_get("k").await.unwrap_err();
    assert_eq!(limited.status(), Some(429));
    assert!(limited.is_retryable() && limited.certainly_not_applied());
    // ... with them it waits for Retry-After and succeeds, even a POST.
    let started = Instant::now();
    assert_eq!(patient.kv_push("list", &[json!(1)]).await.unwrap(), 1);
    assert!(started.elapsed() >= Duration::from_millis(500), "{:?}", started.elapsed());
}
