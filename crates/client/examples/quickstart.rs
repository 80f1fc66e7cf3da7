//! A tour of memdb-client against a running server:
//!
//! ```sh
//! cargo run --release -- serve --durability memory-only &
//! cargo run -p memdb-client --example quickstart [http://127.0.0.1:8080]
//! ```
//!
//! With authentication on, set `MEMDB_USER`/`MEMDB_PASSWORD` (or
//! `MEMDB_API_KEY`).

use memdb_client::{Client, JoinKind, ListOptions};
use serde_json::json;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), memdb_client::Error> {
    let base = std::env::args().nth(1).unwrap_or_else(|| "http://127.0.0.1:8080".to_owned());
    let mut builder = Client::builder(base);
    if let Ok(key) = std::env::var("MEMDB_API_KEY") {
        builder = builder.api_key(key);
    } else if let Ok(password) = std::env::var("MEMDB_PASSWORD") {
        builder = builder.basic_auth(std::env::var("MEMDB_USER").unwrap_or_else(|_| "memdb".into()), password);
    }
    let db = builder.build()?;

    // SQL: schema and data; several statements run in one transaction.
    db.sql(
        "DROP TABLE IF EXISTS orders; DROP TABLE IF EXISTS customers;
         CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, city text);
         CREATE TABLE orders (id int PRIMARY KEY, customer_id int, total numeric)",
        &[],
    )
    .await?;

    // Records: JSON objects in and out.
    db.create_records(
        "customers",
        &[json!({"id": 1, "name": "Ada", "city": "London"}), json!({"id": 2, "name": "Linus", "city": "Helsinki"})],
    )
    .await?;
    db.create_record("orders", &json!({"id": 10, "customer_id": 1, "total": "19.90"})).await?;
    let londoners = db.list_records("customers", &ListOptions::default().filter("city", "London")).await?;
    println!("in London: {}", serde_json::to_string(&londoners.records).unwrap_or_default());

    // A typed error: the server's code, status and SQLSTATE.
    match db.create_record("customers", &json!({"id": 1, "name": "again"})).await {
        Err(e) => println!("duplicate refused: {} (status {:?}, sqlstate {:?})", e, e.status(), e.sqlstate()),
        Ok(_) => println!("unexpected: the duplicate was stored"),
    }

    // Joins: customers with their orders (left: customers without any too).
    let page = db.join("customers", "orders", "id", JoinKind::Left, None, None).await?;
    println!("{} pairs", page.results.len());

    // SQL with parameters.
    let result = db.sql("SELECT name FROM customers WHERE id = $1", &[json!(2)]).await?;
    println!("customer 2: {:?}", result.records());

    // The key-value store (the keyspace Redis clients see).
    db.kv_set("greeting", &json!("hello"), Some(60.0)).await?;
    let entry = db.kv_get("greeting").await?;
    println!("greeting = {} (ttl {:?} s)", entry.value, entry.ttl);
    db.kv_push("queue", &[json!("a"), json!("b")]).await?;
    println!("popped {:?}", db.kv_pop("queue").await?.map(|p| p.value));
    Ok(())
}
