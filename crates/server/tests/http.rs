//! The HTTP REST front end over real HTTP (reqwest) against the real
//! server: every route (the seed's included), pagination edges,
//! validation errors, bad input, concurrent writers, and that what HTTP
//! writes is what pgwire and RESP read.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::TestServer;
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

struct Api {
    server: TestServer,
    client: Client,
}

impl Api {
    fn start() -> Api {
        Api::with(TestServer::http_config())
    }

    fn with(config: memdb_server::Config) -> Api {
        Api { server: TestServer::start_with(config), client: Client::new() }
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = self.client.request(method, self.server.url(path));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        let value =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        (status, value)
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PUT, path, Some(body)).await
    }

    async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PATCH, path, Some(body)).await
    }

    async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, None).await
    }

    /// Every page of a listing, following `next_cursor`.
    async fn all_pages(&self, path: &str, items: &str) -> (Vec<Value>, usize) {
        let mut out = Vec::new();
        let mut pages = 0;
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut cursor: Option<String> = None;
        loop {
            let url = match &cursor {
                Some(c) => format!("{path}{sep}cursor={c}"),
                None => path.to_owned(),
            };
            let (status, body) = self.get(&url).await;
            assert_eq!(status, StatusCode::OK, "{url}: {body}");
            pages += 1;
            out.extend(body[items].as_array().unwrap().iter().cloned());
            match body["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => return (out, pages),
            }
        }
    }
}

fn users_schema() -> Value {
    json!({
        "name": "users",
        "fields": [
            {"name": "name", "type": "string", "required": true},
            {"name": "email", "type": "string", "unique": true},
            {"name": "age", "type": "int"},
            {"name": "score", "type": "float", "default": 1.5},
            {"name": "team", "type": "string"},
            {"name": "active", "type": "bool"},
            {"name": "joined", "type": "time"},
            {"name": "tags", "type": "array", "items": "string"},
            {"name": "profile", "type": "map"},
            {"name": "avatar", "type": "bytes"}
        ],
        "indexes": [{"fields": ["team"]}, {"fields": ["age"], "kind": "btree"}]
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_ready_metrics_openapi_and_docs() {
    let api = Api::start();
    assert_eq!(api.get("/health").await, (StatusCode::OK, json!({"status": "ok"})));
    assert_eq!(api.get("/ready").await, (StatusCode::OK, json!({"status": "ready"})));
    let (status, doc) = api.get("/api/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/tables/{table}/records",
        "/api/v1/tables/{table}/records/{id}",
        "/api/v1/tables/{table}/records/batch",
        "/api/v1/kv/{key}",
        "/api/v1/sql",
        "/api/v1/join/{table1}/{table2}/{key}",
        "/add_record/{table}",
        "/update_record/{table}/{record_id}",
        "/delete_record/{table}/{record_id}",
        "/join/{table1}/{table2}/{key}",
        "/health",
        "/metrics",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} missing from the OpenAPI document");
    }
    let page = api.client.get(api.server.url("/api/v1/docs/")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui-bundle.js"), "{html}");
    assert!(!html.contains("https://"), "the docs page must not load from the network: {html}");
    let bundle = api.client.get(api.server.url("/api/v1/docs/swagger-ui-bundle.js")).send().await.unwrap();
    assert_eq!(bundle.status(), StatusCode::OK);
    let init = api.client.get(api.server.url("/api/v1/docs/swagger-initializer.js")).send().await.unwrap();
    assert!(init.text().await.unwrap().contains("/api/v1/openapi.json"));

    api.put("/api/v1/kv/k", json!({"value": "v"})).await;
    api.post("/api/v1/tables/things/records", json!({"id": "a"})).await;
    let metrics = api.client.get(api.server.url("/metrics")).send().await.unwrap().text().await.unwrap();
    for series in [
        "memdb_commits_total ",
        "memdb_aborts_total ",
        "memdb_memory_used_bytes ",
        "memdb_table_rows{table=\"things\"} 1",
        "memdb_keyspace_keys 1",
        "memdb_connections{protocol=\"http\"} ",
        "memdb_http_request_duration_seconds_bucket{le=\"+Inf\"} ",
        "memdb_wal_fsyncs_total 0",
        "memdb_keys_expired_total ",
        "memdb_checkpoint_duration_seconds_count ",
    ] {
        assert!(metrics.contains(series), "{series} missing from:\n{metrics}");
    }
    assert!(!metrics.contains("memdb_statement_duration_seconds_count 0\n"), "statements are timed:\n{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_value_routes() {
    let api = Api::start();
    let (status, body) = api.put("/api/v1/kv/greeting", json!({"value": "hello", "ttl": 100})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["value"], "hello");
    assert_eq!(body["kind"], "string");
    assert!(body["ttl"].as_f64().unwrap() > 99.0);
    assert!(body["created_at"].as_str().unwrap().ends_with('Z'));
    let (_, body) = api.get("/api/v1/kv/greeting").await;
    assert_eq!(body["value"], "hello");
    // PATCH keeps the TTL, PUT without one clears it.
    let (status, body) = api.patch("/api/v1/kv/greeting", json!({"value": {"n": 1}})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["value"], "{\"n\":1}");
    assert!(body["ttl"].as_f64().is_some());
    let (_, body) = api.put("/api/v1/kv/greeting", json!({"value": 5})).await;
    assert_eq!(body["value"], "5");
    assert!(body["ttl"].is_null());
    assert_eq!(api.patch("/api/v1/kv/absent", json!({"value": 1})).await.0, StatusCode::NOT_FOUND);
    // Lists.
    let (status, body) = api.post("/api/v1/kv/queue/push", json!({"values": ["a", "b", "c"]})).await;
    assert_eq!((status, body["length"].clone()), (StatusCode::OK, json!(3)));
    let (_, body) = api.post("/api/v1/kv/queue/pop", json!({})).await;
    assert_eq!(body["value"], "c");
    let (_, body) = api.get("/api/v1/kv/queue").await;
    assert_eq!((body["kind"].clone(), body["value"].clone()), (json!("list"), json!(["a", "b"])));
    let (status, body) = api.post("/api/v1/kv/greeting/push", json!({"values": ["x"]})).await;
    assert_eq!((status, body["code"].clone()), (StatusCode::CONFLICT, json!("wrong_type")));
    let (status, body) = api.patch("/api/v1/kv/queue", json!({"value": "x"})).await;
    assert_eq!((status, body["code"].clone()), (StatusCode::CONFLICT, json!("wrong_type")));
    assert_eq!(api.post("/api/v1/kv/nothing/pop", json!({})).await.0, StatusCode::NOT_FOUND);
    assert_eq!(api.post("/api/v1/kv/queue/push", json!({"values": []})).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    // Delete.
    assert_eq!(api.delete("/api/v1/kv/greeting").await.0, StatusCode::NO_CONTENT);
    assert_eq!(api.delete("/api/v1/kv/greeting").await.0, StatusCode::NOT_FOUND);
    assert_eq!(api.get("/api/v1/kv/greeting").await.0, StatusCode::NOT_FOUND);
    // Bad TTLs and bodies.
    for body in
        [json!({"value": 1, "ttl": -1}), json!({"value": 1, "ttl": 0}), json!({"ttl": 1}), json!({"value": 1, "x": 2})]
    {
        let (status, _) = api.put("/api/v1/kv/bad", body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    }
    // A key with a slash, percent-encoded.
    assert_eq!(api.put("/api/v1/kv/a%2Fb", json!({"value": "slash"})).await.0, StatusCode::OK);
    assert_eq!(api.get("/api/v1/kv/a%2Fb").await.1["key"], "a/b");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_listing_pages_by_prefix_and_keys_expire() {
    let api = Api::start();
    for i in 0..25 {
        api.put(&format!("/api/v1/kv/user:{i:02}"), json!({"value": i})).await;
    }
    api.put("/api/v1/kv/other", json!({"value": "x"})).await;
    let (keys, pages) = api.all_pages("/api/v1/kv?prefix=user:&limit=10", "keys").await;
    assert_eq!(pages, 3);
    let names: Vec<_> = keys.iter().map(|k| k["key"].as_str().unwrap().to_owned()).collect();
    let expected: Vec<_> = (0..25).map(|i| format!("user:{i:02}")).collect();
    assert_eq!(names, expected);
    // A page size equal to the count: one page, no cursor.
    let (_, pages) = api.all_pages("/api/v1/kv?prefix=user:&limit=25", "keys").await;
    assert_eq!(pages, 1);
    let (_, body) = api.get("/api/v1/kv?prefix=nothing").await;
    assert_eq!(body, json!({"keys": [], "next_cursor": null}));
    for bad in [
        "/api/v1/kv?limit=0",
        "/api/v1/kv?limit=1001",
        "/api/v1/kv?limit=x",
        "/api/v1/kv?cursor=%25%25",
        "/api/v1/kv?what=1",
    ] {
        assert_eq!(api.get(bad).await.0, StatusCode::BAD_REQUEST, "{bad}");
    }
    api.put("/api/v1/kv/short", json!({"value": "x", "ttl": 0.2})).await;
    assert_eq!(api.get("/api/v1/kv/short").await.0, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(api.get("/api/v1/kv/short").await.0, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_keys_are_the_keys_redis_clients_see() {
    let api = Api::start();
    let addr = api.server.resp.expect("RESP listener");
    let client = redis::Client::open(format!("redis://{addr}/")).unwrap();
    let mut con = client.get_multiplexed_async_connection().await.unwrap();
    api.put("/api/v1/kv/shared", json!({"value": "from http"})).await;
    let v: String = redis::cmd("GET").arg("shared").query_async(&mut con).await.unwrap();
    assert_eq!(v, "from http");
    let _: () = redis::cmd("RPUSH").arg("list").arg("x").arg("y").query_async(&mut con).await.unwrap();
    let _: () = redis::cmd("SET").arg("bin").arg(&[0xffu8, 0x00][..]).query_async(&mut con).await.unwrap();
    let (_, body) = api.get("/api/v1/kv/list").await;
    assert_eq!(body["value"], json!(["x", "y"]));
    let (_, body) = api.get("/api/v1/kv/bin").await;
    assert_eq!((body["encoding"].clone(), body["value"].clone()), (json!("base64"), json!("/wA=")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_are_created_described_and_dropped() {
    let api = Api::start();
    let (status, body) = api.post("/api/v1/tables", users_schema()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["kind"], "table");
    assert_eq!(body["primary_key"], "id");
    let fields: Vec<_> = body["fields"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(
        fields,
        ["id", "name", "email", "age", "score", "team", "active", "joined", "tags", "profile", "avatar"]
    );
    assert_eq!(body["fields"][1]["required"], true);
    assert_eq!(body["fields"][2]["unique"], true);
    assert_eq!(body["fields"][8]["sql_type"], "text[]");
    assert_eq!(body["indexes"].as_array().unwrap().len(), 4, "{body}");
    let (status, body) = api.post("/api/v1/tables", users_schema()).await;
    assert_eq!((status, body["code"].clone()), (StatusCode::CONFLICT, json!("duplicate_table")));
    for bad in [
        json!({"name": "t", "fields": [{"name": "a", "type": "nope"}]}),
        json!({"name": "t", "fields": [{"name": "a"}]}),
        json!({"name": "t", "fields": [{"name": "a", "type": "int", "default": "x"}]}),
        json!({"name": "t", "fields": [], "extra": 1}),
        json!({"name": "", "fields": []}),
    ] {
        let (status, body) = api.post("/api/v1/tables", bad.clone()).await;
        assert!(
            status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::BAD_REQUEST,
            "{bad}: {status} {body}"
        );
        assert!(body["code"].is_string(), "{body}");
    }
    let (status, body) = api.get("/api/v1/tables").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["tables"].as_array().unwrap().len(), 1);
    assert_eq!(api.get("/api/v1/tables/users").await.1["name"], "users");
    assert_eq!(api.get("/api/v1/tables/nope").await.0, StatusCode::NOT_FOUND);
    // The table is SQL's: pgwire sees it.
    let pg = api.server.connect().await;
    pg.execute("INSERT INTO users (name) VALUES ('from sql')", &[]).await.unwrap();
    let (_, body) = api.get("/api/v1/tables/users/records").await;
    assert_eq!(body["records"][0]["name"], "from sql");
    assert_eq!(body["records"][0]["score"], 1.5);
    assert_eq!(api.delete("/api/v1/tables/users").await.0, StatusCode::NO_CONTENT);
    assert_eq!(api.delete("/api/v1/tables/users").await.0, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_records_validate_and_round_trip() {
    let api = Api::start();
    api.post("/api/v1/tables", users_schema()).await;
    let record = json!({
        "name": "Ada", "email": "ada@example.com", "age": 36, "team": "core", "active": true,
        "joined": "2026-01-02T03:04:05.5Z", "tags": ["math", "engines"], "profile": {"lang": "en"},
        "avatar": "AAEC"
    });
    let (status, stored) = api.post("/api/v1/tables/users/records", record.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{stored}");
    let id = stored["id"].as_i64().unwrap();
    for (k, v) in record.as_object().unwrap() {
        assert_eq!(&stored[k], v, "{k}");
    }
    assert_eq!(stored["score"], 1.5, "the default applies");
    assert_eq!(api.get(&format!("/api/v1/tables/users/records/{id}")).await.1, stored);
    // Reads follow schema changes made through SQL.
    for (sql, field, value) in [
        ("ALTER TABLE users ADD COLUMN extra int DEFAULT 7", "extra", json!(7)),
        ("ALTER TABLE users DROP COLUMN extra", "extra", Value::Null),
    ] {
        let (status, body) = api.post("/api/v1/sql", json!({"sql": sql})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = api.get(&format!("/api/v1/tables/users/records/{id}")).await;
        assert_eq!((status, body[field].clone(), body["name"].clone()), (StatusCode::OK, value, json!("Ada")));
    }
    // Validation names the field.
    for (bad, field, code) in [
        (json!({"name": "x", "age": "old"}), "age", "validation_failed"),
        (json!({"name": "x", "joined": "not a time"}), "joined", "validation_failed"),
        (json!({"name": "x", "tags": [1]}), "tags", "validation_failed"),
        (json!({"name": "x", "avatar": "***"}), "avatar", "validation_failed"),
        (json!({"name": "x", "nickname": "y"}), "nickname", "unknown_field"),
        (json!({"age": 3}), "name", "not_null_violation"),
    ] {
        let (status, body) = api.post("/api/v1/tables/users/records", bad.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
        assert_eq!(
            (body["code"].as_str().unwrap(), body["details"]["field"].as_str().unwrap()),
            (code, field),
            "{body}"
        );
    }
    let (status, body) = api.post("/api/v1/tables/users/records", json!(["not", "an", "object"])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // Duplicates: the id and a unique field.
    let (status, body) = api.post("/api/v1/tables/users/records", json!({"id": id, "name": "again"})).await;
    assert_eq!((status, body["code"].clone()), (StatusCode::CONFLICT, json!("unique_violation")));
    assert_eq!(body["details"]["sqlstate"], "23505");
    let (status, _) = api.post("/api/v1/tables/users/records", json!({"name": "b", "email": "ada@example.com"})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    // PUT replaces (left-out fields back to defaults / NULL), PATCH merges.
    let path = format!("/api/v1/tables/users/records/{id}");
    let (status, body) = api.put(&path, json!({"name": "Ada L.", "age": 37})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["name"].clone(), body["age"].clone(), body["team"].clone()),
        (json!("Ada L."), json!(37), Value::Null)
    );
    assert_eq!(body["score"], 1.5);
    let (_, body) = api.patch(&path, json!({"team": "db", "score": 9.25})).await;
    assert_eq!(
        (body["name"].clone(), body["team"].clone(), body["score"].clone()),
        (json!("Ada L."), json!("db"), json!(9.25))
    );
    let (status, body) = api.patch(&path, json!({"id": id + 1})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = api.put(&path, json!({"age": 1})).await;
    assert_eq!((status, body["details"]["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("name")));
    // Missing records and bad ids.
    assert_eq!(api.get("/api/v1/tables/users/records/999").await.0, StatusCode::NOT_FOUND);
    assert_eq!(api.put("/api/v1/tables/users/records/999", json!({"name": "x"})).await.0, StatusCode::NOT_FOUND);
    assert_eq!(api.patch("/api/v1/tables/users/records/999", json!({"name": "x"})).await.0, StatusCode::NOT_FOUND);
    assert_eq!(api.delete("/api/v1/tables/users/records/999").await.0, StatusCode::NOT_FOUND);
    let (status, body) = api.get("/api/v1/tables/users/records/abc").await;
    assert_eq!((status, body["code"].clone()), (StatusCode::BAD_REQUEST, json!("invalid_id")));
    assert_eq!(api.get("/api/v1/tables/nope/records/1").await.0, StatusCode::NOT_FOUND);
    assert_eq!(api.delete(&path).await.0, StatusCode::NO_CONTENT);
    assert_eq!(api.get(&path).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_filters_sorts_and_pages_without_gaps() {
    let api = Api::start();
    api.post("/api/v1/tables", users_schema()).await;
    let mut batch = Vec::new();
    for i in 0..53 {
        // Ages repeat and some are missing, so pages split ties and NULLs.
        let age = if i % 10 == 0 { Value::Null } else { json!(i % 7) };
        batch.push(json!({"name": format!("u{i}"), "age": age, "team": if i % 2 == 0 { "even" } else { "odd" }}));
    }
    let (status, body) = api.post("/api/v1/tables/users/records/batch", json!({"records": batch})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["records"].as_array().unwrap().len(), 53);
    for (sort, limit) in [("", 10), ("age", 7), ("-age", 5), ("-age,name", 53), ("team,-age", 1), ("name", 100)] {
        let (records, pages) =
            api.all_pages(&format!("/api/v1/tables/users/records?sort={sort}&limit={limit}"), "records").await;
        assert_eq!(records.len(), 53, "sort {sort} limit {limit}");
        assert_eq!(pages, 53usize.div_ceil(limit).max(1), "sort {sort} limit {limit}");
        let mut ids: Vec<_> = records.iter().map(|r| r["id"].as_i64().unwrap()).collect();
        // The order is the sort's, NULLs last ascending and first descending.
        if sort == "age" {
            let ages: Vec<_> = records.iter().map(|r| r["age"].as_i64().unwrap_or(i64::MAX)).collect();
            assert!(ages.windows(2).all(|w| w[0] <= w[1]), "{ages:?}");
        }
        if sort == "-age" {
            let ages: Vec<_> = records.iter().map(|r| r["age"].as_i64().unwrap_or(i64::MAX)).collect();
            assert!(ages.windows(2).all(|w| w[0] >= w[1]), "{ages:?}");
        }
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 53, "no record twice, none missing (sort {sort})");
    }
    let (_, body) = api.get("/api/v1/tables/users/records?team=odd&age.gte=3&age.lt=5&limit=1000").await;
    let records = body["records"].as_array().unwrap();
    assert!(!records.is_empty());
    assert!(records.iter().all(|r| r["team"] == "odd" && (3..5).contains(&r["age"].as_i64().unwrap())));
    let (_, body) = api.get("/api/v1/tables/users/records?age.null=true").await;
    assert_eq!(body["records"].as_array().unwrap().len(), 6);
    let (_, body) = api.get("/api/v1/tables/users/records?age.ne=1&age.null=false&limit=1000").await;
    assert!(body["records"].as_array().unwrap().iter().all(|r| r["age"] != 1 && !r["age"].is_null()));
    // An empty table lists nothing.
    api.post("/api/v1/tables", json!({"name": "empty", "fields": []})).await;
    assert_eq!(api.get("/api/v1/tables/empty/records").await.1, json!({"records": [], "next_cursor": null}));
    // Bad listings.
    let (_, first) = api.get("/api/v1/tables/users/records?sort=age&limit=2").await;
    let cursor = first["next_cursor"].as_str().unwrap();
    for bad in [
        format!("/api/v1/tables/users/records?sort=-age&cursor={cursor}"),
        "/api/v1/tables/users/records?cursor=garbage".to_owned(),
        "/api/v1/tables/users/records?limit=0".to_owned(),
        "/api/v1/tables/users/records?sort=nope".to_owned(),
        "/api/v1/tables/users/records?nope=1".to_owned(),
        "/api/v1/tables/users/records?age=old".to_owned(),
        "/api/v1/tables/users/records?age.null=maybe".to_owned(),
        format!("/api/v1/tables/users/records?sort={}", vec!["age"; 17].join(",")),
    ] {
        let (status, body) = api.get(&bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_are_all_or_nothing() {
    let api = Api::start();
    api.post("/api/v1/tables", users_schema()).await;
    let (status, body) = api
        .post("/api/v1/tables/users/records/batch", json!([{"name": "a"}, {"name": "b"}, {"name": "c", "age": "x"}]))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["details"]["index"], 2);
    assert_eq!(body["details"]["field"], "age");
    let (_, body) = api.get("/api/v1/tables/users/records").await;
    assert_eq!(body["records"], json!([]), "nothing half-written");
    let (status, body) =
        api.post("/api/v1/tables/users/records/batch", json!([{"id": 1, "name": "a"}, {"id": 1, "name": "b"}])).await;
    assert_eq!((status, body["details"]["index"].clone()), (StatusCode::CONFLICT, json!(1)));
    assert_eq!(api.get("/api/v1/tables/users/records").await.1["records"], json!([]));
    // A batch into a new table makes a collection, all at once.
    let (status, body) = api.post("/api/v1/tables/events/records/batch", json!([{"id": "e1"}, {"id": "e2"}])).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(api.get("/api/v1/tables/events").await.1["rows"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collections_and_the_seed_routes() {
    let api = Api::start();
    let (status, body) =
        api.post("/add_record/notes", json!({"id": "n1", "text": "hi", "meta": {"a": 1, "b": 2}})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["id"], "n1");
    let (status, generated) = api.post("/add_record/notes", json!({"text": "no id"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let gid = generated["id"].as_str().unwrap().to_owned();
    assert_eq!(gid.len(), 36, "a generated UUID: {generated}");
    let (status, body) = api.post("/add_record/notes", json!({"id": 7, "text": "numeric id"})).await;
    assert_eq!((status, body["id"].clone()), (StatusCode::CREATED, json!(7)));
    assert_eq!(api.get("/api/v1/tables/notes/records/7").await.1["text"], "numeric id");
    assert_eq!(api.post("/add_record/notes", json!({"id": "n1"})).await.0, StatusCode::CONFLICT);
    assert_eq!(api.get("/api/v1/tables/notes").await.1["kind"], "collection");
    // update_record replaces; PATCH merges (RFC 7386: null removes).
    let (status, body) =
        api.put("/update_record/notes/n1", json!({"text": "replaced", "meta": {"a": 1, "b": 2}})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"id": "n1", "meta": {"a": 1, "b": 2}, "text": "replaced"}));
    let (_, body) =
        api.patch("/api/v1/tables/notes/records/n1", json!({"meta": {"b": null, "c": 3}, "tag": "x"})).await;
    assert_eq!(body, json!({"id": "n1", "tag": "x", "meta": {"a": 1, "c": 3}, "text": "replaced"}));
    assert_eq!(api.put("/update_record/notes/zzz", json!({"text": "x"})).await.0, StatusCode::NOT_FOUND);
    assert_eq!(api.put("/update_record/notes/n1", json!({"id": "other"})).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    // Filters on document fields compare JSON.
    let (_, body) = api.get("/api/v1/tables/notes/records?text=replaced").await;
    assert_eq!(body["records"].as_array().unwrap().len(), 1);
    let (_, body) = api.get("/api/v1/tables/notes/records?sort=-text").await;
    assert_eq!(body["records"][0]["text"], "replaced");
    // Queryable from SQL over pgwire.
    let pg = api.server.connect().await;
    let row = pg.query_one("SELECT doc->>'text' FROM notes WHERE id = $1", &[&gid]).await.unwrap();
    assert_eq!(row.get::<_, String>(0), "no id");
    assert_eq!(api.delete(&format!("/delete_record/notes/{gid}")).await.0, StatusCode::NO_CONTENT);
    assert_eq!(api.delete(&format!("/delete_record/notes/{gid}")).await.0, StatusCode::NOT_FOUND);
    assert_eq!(api.delete("/delete_record/nosuch/1").await.0, StatusCode::NOT_FOUND);
    // A record whose id is "batch" is reachable beside the batch route.
    let path = "/api/v1/tables/notes/records/batch";
    assert_eq!(api.get(path).await.0, StatusCode::NOT_FOUND);
    assert_eq!(api.post("/add_record/notes", json!({"id": "batch", "text": "b"})).await.0, StatusCode::CREATED);
    assert_eq!(api.get(path).await.1, json!({"id": "batch", "text": "b"}));
    assert_eq!(api.patch(path, json!({"more": 1})).await.1, json!({"id": "batch", "text": "b", "more": 1}));
    assert_eq!(api.put(path, json!({"text": "c"})).await.1, json!({"id": "batch", "text": "c"}));
    assert_eq!(api.delete(path).await.0, StatusCode::NO_CONTENT);
    assert_eq!(api.get(path).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_past_their_rate_limit_get_429_with_retry_after() {
    let mut config = TestServer::http_config();
    config.http_rate_limit = "1".into();
    config.http_rate_burst = 5;
    let api = Api::with(config);
    for _ in 0..5 {
        assert_eq!(api.get("/api/v1/tables").await.0, StatusCode::OK);
    }
    let resp = api.client.get(api.server.url("/api/v1/tables")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    assert_eq!(resp.json::<Value>().await.unwrap()["code"], "rate_limited");
    // Probes are never limited.
    assert_eq!(api.get("/health").await.0, StatusCode::OK);
    // The bucket refills.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(api.get("/api/v1/tables").await.0, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automatic_tables_can_be_turned_off() {
    let mut config = TestServer::http_config();
    config.auto_create_tables = false;
    let api = Api::with(config);
    let (status, body) = api.post("/add_record/notes", json!({"id": "n1"})).await;
    assert_eq!((status, body["code"].clone()), (StatusCode::NOT_FOUND, json!("undefined_table")));
    assert_eq!(api.post("/api/v1/tables/notes/records", json!({})).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joins_pair_records_with_equal_keys() {
    let api = Api::start();
    api.post(
        "/api/v1/tables",
        json!({"name": "teams", "fields": [{"name": "code", "type": "string"}, {"name": "title", "type": "string"}]}),
    )
    .await;
    for (code, title) in [("core", "Core"), ("web", "Web"), ("ops", "Ops")] {
        api.post("/api/v1/tables/teams/records", json!({"code": code, "title": title})).await;
    }
    for i in 0..10 {
        let code = ["core", "web", "nobody"][i % 3];
        api.post("/add_record/people", json!({"id": format!("p{i}"), "code": code})).await;
    }
    // Typed table against a collection (compared as text).
    let (status, body) = api.get("/api/v1/join/people/teams/code").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), 7, "{body}");
    assert!(results.iter().all(|r| r["people"]["code"] == r["teams"]["code"]));
    // Left join keeps the unmatched, with null.
    let (all, pages) = api.all_pages("/join/people/teams/code?type=left&limit=3", "results").await;
    assert_eq!((all.len(), pages), (10, 4));
    assert_eq!(all.iter().filter(|r| r["teams"].is_null()).count(), 3);
    let (all, _) = api.all_pages("/join/teams/people/code?type=left&limit=2", "results").await;
    assert_eq!(all.len(), 8, "ops has no people: {all:?}");
    // Two collections compare JSON; a table with itself names the sides apart.
    api.post("/add_record/badges", json!({"id": "b1", "code": "core"})).await;
    let (_, body) = api.get("/api/v1/join/badges/people/code").await;
    assert_eq!(body["results"].as_array().unwrap().len(), 4);
    let (_, body) = api.get("/api/v1/join/teams/teams/code").await;
    assert_eq!(body["results"][0]["teams"], body["results"][0]["teams_2"]);
    // Errors.
    assert_eq!(api.get("/api/v1/join/teams/nope/code").await.0, StatusCode::NOT_FOUND);
    assert_eq!(api.get("/api/v1/join/teams/people/nofield").await.0, StatusCode::BAD_REQUEST);
    assert_eq!(api.get("/api/v1/join/teams/people/code?type=outer").await.0, StatusCode::BAD_REQUEST);
    assert_eq!(api.get("/api/v1/join/teams/people/code?cursor=xyz").await.0, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_over_http() {
    let api = Api::start();
    let (status, body) = api
        .post("/api/v1/sql", json!({"sql": "CREATE TABLE t (id int PRIMARY KEY, v text, at date); INSERT INTO t VALUES (1, 'a', '2024-01-02'), (2, NULL, NULL); SELECT * FROM t ORDER BY id"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["command"], "SELECT 2");
    assert_eq!(
        body["columns"],
        json!([{"name": "id", "type": "integer"}, {"name": "v", "type": "text"}, {"name": "at", "type": "date"}])
    );
    assert_eq!(body["rows"], json!([[1, "a", "2024-01-02"], [2, null, null]]));
    assert_eq!(body["results"].as_array().unwrap().len(), 3);
    let (_, body) = api
        .post("/api/v1/sql", json!({"sql": "SELECT v, $2::int + 1 AS n FROM t WHERE id = $1", "params": [1, "41"]}))
        .await;
    assert_eq!(body["rows"], json!([["a", 42]]));
    assert!(body.get("results").is_none());
    // Several statements are one transaction.
    let (status, body) = api
        .post(
            "/api/v1/sql",
            json!({"sql": "INSERT INTO t VALUES (3, 'c', NULL); INSERT INTO t VALUES (1, 'dup', NULL)"}),
        )
        .await;
    assert_eq!(
        (status, body["details"]["sqlstate"].clone(), body["details"]["statement"].clone()),
        (StatusCode::CONFLICT, json!("23505"), json!(1))
    );
    assert_eq!(api.post("/api/v1/sql", json!({"sql": "SELECT count(*) FROM t"})).await.1["rows"], json!([[2]]));
    for (sql, code, sqlstate) in [
        ("SELEC 1", "syntax_error", "42601"),
        ("SELECT * FROM nope", "undefined_table", "42P01"),
        ("SELECT 1/0", "division_by_zero", "22012"),
        ("SELECT nope FROM t", "undefined_column", "42703"),
    ] {
        let (status, body) = api.post("/api/v1/sql", json!({"sql": sql})).await;
        assert!(status.is_client_error(), "{sql}: {status}");
        assert_eq!(
            (body["code"].as_str().unwrap(), body["details"]["sqlstate"].as_str().unwrap()),
            (code, sqlstate),
            "{sql}"
        );
    }
    for sql in ["BEGIN", "COMMIT", "SELECT 1; ROLLBACK", "COPY t FROM STDIN"] {
        assert_eq!(api.post("/api/v1/sql", json!({"sql": sql})).await.0, StatusCode::BAD_REQUEST, "{sql}");
    }
    assert_eq!(
        api.post("/api/v1/sql", json!({"sql": "SELECT $1::int", "params": ["x"]})).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        api.post("/api/v1/sql", json!({"sql": "SELECT $1::int", "params": [1, 2]})).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(api.post("/api/v1/sql", json!({"sql": ""})).await.0, StatusCode::BAD_REQUEST);
    // The session a request used comes back clean: nothing left open, no
    // setting, prepared statement or temporary table carried over.
    assert_eq!(api.post("/api/v1/sql", json!({"sql": "SELECT count(*) FROM t"})).await.1["rows"], json!([[2]]));
    let (status, body) =
        api.post("/api/v1/sql", json!({"sql": "SET application_name = 'leak'; PREPARE p AS SELECT 1"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(api.post("/api/v1/sql", json!({"sql": "SHOW application_name"})).await.1["rows"], json!([[""]]));
    assert_eq!(api.post("/api/v1/sql", json!({"sql": "EXECUTE p"})).await.0, StatusCode::BAD_REQUEST);
    for sql in
        ["SET statement_timeout = 0", "SET SESSION statement_timeout TO 0", "RESET statement_timeout", "RESET ALL"]
    {
        assert_eq!(api.post("/api/v1/sql", json!({"sql": sql})).await.0, StatusCode::BAD_REQUEST, "{sql}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_json_errors() {
    let mut config = TestServer::http_config();
    config.http_max_body = "64KB".into();
    let api = Api::with(config);
    let url = api.server.url("/api/v1/tables/t/records");
    let send = |body: &'static str, content_type: &'static str| {
        let client = api.client.clone();
        let url = url.clone();
        async move {
            let resp = client.post(url).header("content-type", content_type).body(body).send().await.unwrap();
            let status = resp.status();
            let body: Value = resp.json().await.unwrap();
            (status, body)
        }
    };
    let (status, body) = send("{\"a\":", "application/json").await;
    assert_eq!((status, body["code"].clone()), (StatusCode::BAD_REQUEST, json!("malformed_json")));
    let (status, body) = send("{}", "text/plain").await;
    assert_eq!((status, body["code"].clone()), (StatusCode::UNSUPPORTED_MEDIA_TYPE, json!("unsupported_media_type")));
    let big = format!("{{\"x\":\"{}\"}}", "a".repeat(100_000));
    let resp = api.client.post(&url).header("content-type", "application/json").body(big).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(resp.json::<Value>().await.unwrap()["code"], "body_too_large");
    let resp = api
        .client
        .post(&url)
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body("not gzip at all")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(resp.json::<Value>().await.unwrap()["code"], "unreadable_body");
    assert_eq!(api.get("/api/v1/tables").await.1["tables"], json!([]), "nothing written");
    let (status, body) = api.get("/api/v1/tables/%FF").await;
    assert_eq!((status, body["code"].clone()), (StatusCode::BAD_REQUEST, json!("invalid_path")));
    let (status, body) = api.get("/no/such/route").await;
    assert_eq!((status, body["code"].clone()), (StatusCode::NOT_FOUND, json!("not_found")));
    let (status, body) = api.call(Method::PATCH, "/api/v1/tables", None).await;
    assert_eq!((status, body["code"].clone()), (StatusCode::METHOD_NOT_ALLOWED, json!("method_not_allowed")));
    // Request ids: echoed when given, made when not.
    let resp = api.client.get(api.server.url("/health")).header("x-request-id", "abc-123").send().await.unwrap();
    assert_eq!(resp.headers()["x-request-id"], "abc-123");
    let resp = api.client.get(api.server.url("/health")).send().await.unwrap();
    let made = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let resp = api.client.get(api.server.url("/health")).send().await.unwrap();
    assert!(!made.is_empty());
    assert_ne!(resp.headers()["x-request-id"].to_str().unwrap(), made, "each request gets its own id");
    // gzip when asked for.
    let raw = Client::builder().no_gzip().build().unwrap();
    for i in 0..50 {
        api.put(&format!("/api/v1/kv/key{i}"), json!({"value": "some value to compress"})).await;
    }
    let resp = raw.get(api.server.url("/api/v1/kv")).header("accept-encoding", "gzip").send().await.unwrap();
    assert_eq!(resp.headers()["content-encoding"], "gzip");
    // Small bodies are not worth compressing.
    let resp = raw.get(api.server.url("/api/v1/kv/key1")).header("accept-encoding", "gzip").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers().get("content-encoding").is_none());
    assert_eq!(resp.json::<Value>().await.unwrap()["value"], "some value to compress");
    // A gzipped request body is read.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, json!({"value": "zipped"}).to_string().as_bytes()).unwrap();
    let resp = raw
        .put(api.server.url("/api/v1/kv/zipped"))
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(gz.finish().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(api.get("/api/v1/kv/zipped").await.1["value"], "zipped");
    // The server still answers.
    assert_eq!(api.get("/health").await.0, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_on_one_table() {
    let api = std::sync::Arc::new(Api::start());
    api.post(
        "/api/v1/tables",
        json!({"name": "hits", "fields": [{"name": "worker", "type": "int"}, {"name": "n", "type": "int"}]}),
    )
    .await;
    let mut tasks = Vec::new();
    for w in 0..8 {
        let api = api.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..40 {
                let (status, body) = api.post("/api/v1/tables/hits/records", json!({"worker": w, "n": n})).await;
                assert_eq!(status, StatusCode::CREATED, "{body}");
            }
            // And some collection writers racing to create the same table.
            for n in 0..10 {
                let (status, body) = api.post("/add_record/race", json!({"id": format!("{w}-{n}")})).await;
                assert_eq!(status, StatusCode::CREATED, "{body}");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let (records, _) = api.all_pages("/api/v1/tables/hits/records?limit=1000", "records").await;
    assert_eq!(records.len(), 320);
    let mut ids: Vec<_> = records.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 320);
    let (records, _) = api.all_pages("/api/v1/tables/race/records?limit=1000", "records").await;
    assert_eq!(records.len(), 80);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_backup_and_checkpoint() {
    let api = Api::start();
    api.post("/add_record/notes", json!({"id": "n1"})).await;
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("backup");
    let (status, body) = api.post("/api/v1/admin/backup", json!({"dir": target.to_str().unwrap()})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["rows"], 1);
    assert!(target.read_dir().unwrap().next().is_some());
    let (status, body) = api.post("/api/v1/admin/backup", json!({"dir": target.to_str().unwrap()})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a non-empty directory is refused: {body}");
    let (status, body) = api.post("/api/v1/admin/checkpoint", json!({})).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"written": false})), "memory-only: nothing to write");
}

#[test]
fn the_health_port_answers_while_the_database_opens() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let health = free.local_addr().unwrap();
    drop(free);
    let mut config = TestServer::http_config();
    config.health_listen = health.to_string();
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (at_tx, at_rx) = std::sync::mpsc::channel();
    let server = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(async {
            // Recovery that takes until the test says so.
            let open = async {
                let _ = released.await;
                memdb_server::open_database(&config)
            };
            memdb_server::serve_opening(&config, open, async { drop(stopped.await) }, |at| at_tx.send(at).unwrap())
                .await
                .unwrap();
        });
    });
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = Client::new();
        let get = |path: &'static str| {
            let client = client.clone();
            async move {
                for _ in 0..100 {
                    if let Ok(resp) = client.get(format!("http://{health}{path}")).send().await {
                        return (resp.status(), resp.json::<Value>().await.unwrap());
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                panic!("the health port never answered");
            }
        };
        assert_eq!(get("/health").await, (StatusCode::OK, json!({"status": "ok"})));
        assert_eq!(get("/ready").await, (StatusCode::SERVICE_UNAVAILABLE, json!({"status": "recovering"})));
        release.send(()).unwrap();
        let at = tokio::task::spawn_blocking(move || at_rx.recv().unwrap()).await.unwrap();
        assert_eq!(at.health, Some(health));
        assert_eq!(get("/ready").await, (StatusCode::OK, json!({"status": "ready"})));
        let main = client.get(format!("http://{}/ready", at.http.unwrap())).send().await.unwrap();
        assert_eq!(main.status(), StatusCode::OK);
    });
    stop.send(()).unwrap();
    server.join().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_past_its_timeout_is_stopped() {
    let mut config = TestServer::http_config();
    config.http_request_timeout = "200ms".into();
    let api = Api::with(config);
    let started = std::time::Instant::now();
    let (status, body) =
        api.post("/api/v1/sql", json!({"sql": "SELECT count(*) FROM generate_series(1, 1000000000) a"})).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["details"]["sqlstate"], "57014");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(api.post("/api/v1/sql", json!({"sql": "SELECT 1"})).await.0, StatusCode::OK);
}
