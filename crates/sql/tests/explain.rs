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

#[test]
fn a_selective_outer_side_probes_the_inner_index_per_row() {
    let db = Arc::new(Database::open(Config::memory()).unwrap());
    let mut s = Session::new(db, "t");
    s.execute("CREATE TABLE line (w int, o int, n int, item int, PRIMARY KEY (w, o, n))").unwrap();
    s.execute("CREATE TABLE stock (w int, item int, qty int, PRIMARY KEY (w, item))").unwrap();
    s.execute("INSERT INTO stock SELECT w, i, i % 20 FROM generate_series(1, 2) AS w, generate_series(1, 5000) AS i")
        .unwrap();
    // Items of order o: 7o, 7o+1, 7o+2 (some past the catalogue), one NULL.
    s.execute(
        "INSERT INTO line SELECT 1, o, n, CASE WHEN n = 4 THEN NULL ELSE 7 * o + n END \
         FROM generate_series(1, 1000) AS o, generate_series(1, 4) AS n",
    )
    .unwrap();

    let inner = "SELECT count(DISTINCT s.item) FROM line l, stock s \
                 WHERE l.w = 1 AND l.o < 900 AND l.o >= 880 AND s.w = 1 AND s.item = l.item AND s.qty < 10";
    let plan = plan_text(&mut s, &format!("EXPLAIN {inner}"));
    assert!(plan.contains("Nested Loop") && plan.contains("Index Scan using stock_pkey"), "{plan}");
    assert!(!plan.contains("Hash Join"), "{plan}");
    // The same answer as counting in a way that cannot use the index join.
    let expected: i64 = (880..900)
        .flat_map(|o| (1..=3).map(move |n| 7 * o + n))
        .filter(|item| *item <= 5000 && item % 20 < 10)
        .collect::<std::collections::BTreeSet<_>>()
        .len() as i64;
    assert_eq!(s.execute(inner).unwrap().rows, vec![vec![Value::Int8(expected)]]);

    // LEFT JOIN keeps unmatched and NULL-keyed outer rows.
    let left = "SELECT l.n, s.qty FROM line l LEFT JOIN stock s ON s.w = 1 AND s.item = l.item \
                WHERE l.w = 1 AND l.o = 714 ORDER BY l.n";
    let plan = plan_text(&mut s, &format!("EXPLAIN {left}"));
    assert!(plan.contains("Index Scan using stock_pkey"), "{plan}");
    let rows = s.execute(left).unwrap().rows;
    // Items 4999 and 5000 exist, 5001 does not, the fourth is NULL.
    assert_eq!(
        rows,
        vec![
            vec![Value::Int4(1), Value::Int4(4999 % 20)],
            vec![Value::Int4(2), Value::Int4(0)],
            vec![Value::Int4(3), Value::Null],
            vec![Value::Int4(4), Value::Null],
        ]
    );

    // A join whose outer side is a whole table still hashes.
    let plan = plan_text(&mut s, "EXPLAIN SELECT count(*) FROM line l JOIN stock s ON s.w = l.w AND s.item = l.item");
    assert!(plan.contains("Hash Join"), "{plan}");
}
