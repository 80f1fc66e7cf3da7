//! EXPLAIN shows the chosen plan; EXPLAIN ANALYZE adds per-operator actuals.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use memdb_engine::{Config, Database, Value};
use memdb_sql::Session;

fn plan_text(session: &mut Session, sql: &str) -> String {
    let r = session.execute(sql).unwrap();
    r.rows
        .iter()
        .map(|row| match &row[0] {
            Value::Text(s) => s.clone(),
            other => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn plans_use_indexes_hash_joins_and_top_k() {
    let db = Arc::new(Database::open(Config::memory()).unwrap());
    let mut s = Session::new(db, "t");
    s.execute("CREATE TABLE t (a int PRIMARY KEY, b int, c text)").unwrap();
    s.execute("CREATE INDEX t_b ON t (b)").unwrap();
    s.execute("INSERT INTO t SELECT g, g % 100, 'x' || g FROM generate_series(1, 2000) AS g").unwrap();
    s.execute("CREATE TABLE u (x int, y int)").unwrap();
    s.execute("INSERT INTO u SELECT g, g FROM generate_series(1, 50) AS g").unwrap();

    let point = plan_text(&mut s, "EXPLAIN SELECT c FROM t WHERE a = 7");
    assert!(point.contains("Index Scan using t_pkey"), "{point}");
    let range = plan_text(&mut s, "EXPLAIN SELECT c FROM t WHERE b BETWEEN 3 AND 5");
    assert!(range.contains("Index Scan using t_b"), "{range}");
    let join = plan_text(&mut s, "EXPLAIN SELECT count(*) FROM t JOIN u ON t.a = u.x");
    assert!(join.contains("Hash Join"), "{join}");
    let topk = plan_text(&mut s, "EXPLAIN SELECT a FROM t ORDER BY c DESC LIMIT 5");
    assert!(topk.contains("Top-N Sort (limit 5)"), "{topk}");

    let analyzed = plan_text(&mut s, "EXPLAIN ANALYZE SELECT count(*) FROM t JOIN u ON t.a = u.x WHERE t.b < 10");
    assert!(analyzed.contains("actual time="), "{analyzed}");
    assert!(analyzed.contains("Hash Join") && analyzed.contains("rows=50 loops=1"), "{analyzed}");
    assert!(analyzed.contains("Execution Time"), "{analyzed}");
    // The query's result is the same as without EXPLAIN.
    let r = s.execute("SELECT count(*) FROM t JOIN u ON t.a = u.x WHERE t.b < 10").unwrap();
    assert_eq!(r.rows, vec![vec![Value::Int8(9)]]);
}
