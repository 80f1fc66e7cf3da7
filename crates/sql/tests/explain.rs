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
    // 50 probes of t's primary key cost less than reading t's 2000 rows.
    let join = plan_text(&mut s, "EXPLAIN SELECT count(*) FROM t JOIN u ON t.a = u.x");
    assert!(join.contains("Nested Loop") && join.contains("Index Scan using t_pkey"), "{join}");
    // No index takes the key: a hash join.
    let join = plan_text(&mut s, "EXPLAIN SELECT count(*) FROM t JOIN u ON t.c = 'x' || u.x");
    assert!(join.contains("Hash Join"), "{join}");
    let topk = plan_text(&mut s, "EXPLAIN SELECT a FROM t ORDER BY c DESC LIMIT 5");
    assert!(topk.contains("Top-N Sort (limit 5)"), "{topk}");

    let analyzed = plan_text(&mut s, "EXPLAIN ANALYZE SELECT count(*) FROM t JOIN u ON t.a = u.x WHERE t.b < 10");
    assert!(analyzed.contains("actual time="), "{analyzed}");
    // The inner index scan ran once per row of u; the join found 9 rows.
    assert!(analyzed.contains("Nested Loop  (") && analyzed.contains("rows=9 loops=1"), "{analyzed}");
    assert!(analyzed.contains("Index Scan using t_pkey") && analyzed.contains("loops=50"), "{analyzed}");
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

#[test]
fn order_by_reads_an_index_in_order_instead_of_sorting() {
    let db = Arc::new(Database::open(Config::memory()).unwrap());
    let mut s = Session::new(db, "t");
    s.execute("CREATE TABLE q (w int, d int, o int, v int, PRIMARY KEY (w, d, o))").unwrap();
    s.execute("CREATE INDEX q_v ON q (v)").unwrap();
    s.execute(
        "INSERT INTO q SELECT w, d, o, CASE WHEN o % 7 = 0 THEN NULL ELSE (o * 37) % 101 END \
         FROM generate_series(1, 3) AS w, generate_series(1, 4) AS d, generate_series(1, 300) AS o",
    )
    .unwrap();
    // Keys moved and rows removed, inside an open transaction too.
    s.execute("UPDATE q SET v = v + 500 WHERE o % 11 = 0").unwrap();
    s.execute("DELETE FROM q WHERE o % 13 = 0").unwrap();
    s.execute("BEGIN").unwrap();
    s.execute("UPDATE q SET v = 1000 - v WHERE o % 17 = 0").unwrap();
    s.execute("DELETE FROM q WHERE w = 2 AND d = 3 AND o < 5").unwrap();

    // Each query, and the same order asked through expressions no index
    // takes (so sorted by the Sort operator).
    let cases = [
        (
            "SELECT o FROM q WHERE w = 2 AND d = 3 ORDER BY o LIMIT 1",
            "SELECT o FROM q WHERE w = 2 AND d = 3 ORDER BY o + 0 LIMIT 1",
            "Index Scan using q_pkey",
        ),
        (
            "SELECT o, v FROM q WHERE w = 1 AND d = 2 ORDER BY o DESC LIMIT 5 OFFSET 2",
            "SELECT o, v FROM q WHERE w = 1 AND d = 2 ORDER BY o + 0 DESC LIMIT 5 OFFSET 2",
            "Index Scan Backward using q_pkey",
        ),
        (
            "SELECT w, d, o FROM q WHERE w = 3 ORDER BY d DESC, o DESC",
            "SELECT w, d, o FROM q WHERE w = 3 ORDER BY d + 0 DESC, o + 0 DESC",
            "Index Scan Backward using q_pkey",
        ),
        (
            "SELECT w, d, o FROM q WHERE w = 1 AND o > 290 ORDER BY w, d, o",
            "SELECT w, d, o FROM q WHERE w = 1 AND o > 290 ORDER BY w + 0, d + 0, o + 0",
            "Index Scan using q_pkey",
        ),
        (
            "SELECT w, d, o, v FROM q ORDER BY v, w, d, o LIMIT 40",
            "SELECT w, d, o, v FROM q ORDER BY v + 0, w, d, o LIMIT 40",
            "Top-N Sort",
        ),
        ("SELECT v FROM q ORDER BY v LIMIT 30", "SELECT v FROM q ORDER BY v + 0 LIMIT 30", "Index Scan using q_v"),
        (
            "SELECT v FROM q WHERE v > 50 ORDER BY v DESC LIMIT 30",
            "SELECT v FROM q WHERE v > 50 ORDER BY v + 0 DESC LIMIT 30",
            "Index Scan Backward using q_v",
        ),
        // NULLs first in descending order, as the reversed index has them.
        (
            "SELECT v FROM q ORDER BY v DESC LIMIT 30",
            "SELECT v FROM q ORDER BY v + 0 DESC LIMIT 30",
            "Index Scan Backward using q_v",
        ),
        // Against the index's NULL placement: sorted.
        (
            "SELECT v FROM q ORDER BY v NULLS FIRST LIMIT 30",
            "SELECT v FROM q ORDER BY v + 0 NULLS FIRST LIMIT 30",
            "Sort",
        ),
        (
            "SELECT v FROM q ORDER BY v DESC NULLS LAST LIMIT 30",
            "SELECT v FROM q ORDER BY v + 0 DESC NULLS LAST LIMIT 30",
            "Sort",
        ),
        // Mixed directions: sorted.
        (
            "SELECT d, o FROM q WHERE w = 1 ORDER BY d, o DESC",
            "SELECT d, o FROM q WHERE w = 1 ORDER BY d + 0, o + 0 DESC",
            "Sort",
        ),
    ];
    for (query, sorted, expected) in cases {
        let plan = plan_text(&mut s, &format!("EXPLAIN {query}"));
        assert!(plan.contains(expected), "{query}:\n{plan}");
        if expected.contains("Index Scan") {
            assert!(!plan.contains("Sort"), "{query}:\n{plan}");
        }
        let got = s.execute(query).unwrap().rows;
        assert!(!got.is_empty(), "{query}");
        assert_eq!(got, s.execute(sorted).unwrap().rows, "{query}");
    }
    s.execute("COMMIT").unwrap();
}

/// Comparisons an index range already guarantees leave the scan's filter
/// (no per-row re-check); the ones it does not (a column past the bound,
/// a second bound on the same side, another type) stay, and every
/// answer matches a full scan's.
#[test]
fn terms_an_index_range_guarantees_leave_the_filter() {
    let db = Arc::new(Database::open(Config::memory()).unwrap());
    let mut s = Session::new(db, "t");
    s.execute("CREATE TABLE r (id int PRIMARY KEY, a int, b int, f float8)").unwrap();
    s.execute("CREATE INDEX r_ab ON r (a, b)").unwrap();
    s.execute("INSERT INTO r SELECT g, g % 10, g % 7, g / 3.0 FROM generate_series(1, 700) AS g").unwrap();
    s.execute("CREATE TABLE plain (id int, a int, b int, f float8)").unwrap();
    s.execute("INSERT INTO plain SELECT * FROM r").unwrap();

    let between = plan_text(&mut s, "EXPLAIN SELECT f FROM r WHERE id BETWEEN 5 AND 104");
    assert!(between.contains("Index Scan using r_pkey") && !between.contains("Filter"), "{between}");
    let prefix = plan_text(&mut s, "EXPLAIN SELECT id FROM r WHERE a = 3 AND b > 2 AND b <= 5");
    assert!(prefix.contains("Index Scan using r_ab") && !prefix.contains("Filter"), "{prefix}");
    let past = plan_text(&mut s, "EXPLAIN SELECT id FROM r WHERE a >= 3 AND b >= 5");
    assert!(past.contains("Filter"), "b is not ordered within a range of a: {past}");

    for filter in [
        "id BETWEEN 5 AND 104",
        "id > 5 AND id < 9",
        "id >= 690",
        "id > 10 AND id > 600",
        "a = 3 AND b > 2 AND b <= 5",
        "a = 3 AND b >= 2",
        "a > 8",
        "a >= 3 AND b >= 5",
        "a = 3 AND b = 4",
        "a <= 1 AND b < 3",
        "a = 2 AND b > 3 AND f < 100",
        "id >= 5 AND id <= 5",
        "id < 3.5",
    ] {
        let sorted = |s: &mut Session, table: &str| {
            let mut rows = s.execute(&format!("SELECT id FROM {table} WHERE {filter}")).unwrap().rows;
            rows.sort();
            rows
        };
        let indexed = sorted(&mut s, "r");
        let scanned = sorted(&mut s, "plain");
        assert!(!scanned.is_empty(), "{filter} selects something");
        assert_eq!(indexed, scanned, "{filter}");
    }
}

/// `EXPLAIN [ANALYZE] EXECUTE name(arguments)` explains a prepared
/// statement with those arguments, as PostgreSQL does.
#[test]
fn explain_execute_explains_the_prepared_statement() {
    let db = Arc::new(Database::open(Config::memory()).unwrap());
    let mut s = Session::new(db, "t");
    s.execute("CREATE TABLE e (id bigint PRIMARY KEY, v text)").unwrap();
    s.execute("INSERT INTO e SELECT g, 'v' || g FROM generate_series(1, 300) AS g").unwrap();
    s.execute("PREPARE pick(bigint, bigint) AS SELECT v FROM e WHERE id BETWEEN $1 AND $2").unwrap();
    let plan = plan_text(&mut s, "EXPLAIN EXECUTE pick(10, 19)");
    assert!(plan.contains("Index Scan using e_pkey"), "{plan}");
    let analyzed = plan_text(&mut s, "EXPLAIN ANALYZE EXECUTE pick(10, 19)");
    assert!(analyzed.contains("rows=10 loops=1"), "{analyzed}");
    let err = s.execute("EXPLAIN EXECUTE nothing(1)").unwrap_err();
    assert_eq!(err.sqlstate(), "26000", "{err}");
}

#[test]
fn explain_analyze_runs_insert_update_and_delete() {
    let db = Arc::new(Database::open(Config::memory()).unwrap());
    let mut s = Session::new(db, "t");
    s.execute("CREATE TABLE m (id int PRIMARY KEY, v int)").unwrap();
    let count = |s: &mut Session| s.execute("SELECT count(*) FROM m").unwrap().rows[0][0].clone();

    // Plain EXPLAIN shows the statement's node and changes nothing.
    let plan = plan_text(&mut s, "EXPLAIN INSERT INTO m VALUES (1, 1)");
    assert!(plan.starts_with("Insert on m  (cost="), "{plan}");
    assert!(plan.contains("\n  ->  Values Scan"), "{plan}");
    assert_eq!(count(&mut s), Value::Int8(0));

    // EXPLAIN ANALYZE runs it, with the source's actual rows.
    let plan = plan_text(&mut s, "EXPLAIN ANALYZE INSERT INTO m SELECT g, g FROM generate_series(1, 10) g");
    assert!(plan.starts_with("Insert on m") && plan.contains("actual time="), "{plan}");
    assert!(plan.contains("rows=10 loops=1"), "{plan}");
    assert_eq!(count(&mut s), Value::Int8(10));
    let plan = plan_text(&mut s, "EXPLAIN (ANALYZE, COSTS OFF) UPDATE m SET v = v + 1 WHERE id <= 3");
    assert!(plan.starts_with("Update on m (actual time="), "{plan}");
    let sum = s.execute("SELECT sum(v) FROM m").unwrap().rows[0][0].clone();
    assert_eq!(sum, Value::Int8(58));
    plan_text(&mut s, "EXPLAIN ANALYZE DELETE FROM m WHERE v > 5");
    assert_eq!(count(&mut s), Value::Int8(5));

    // Inside a block, a rollback undoes it as it undoes the statement.
    s.execute("BEGIN").unwrap();
    plan_text(&mut s, "EXPLAIN ANALYZE DELETE FROM m");
    assert_eq!(count(&mut s), Value::Int8(0));
    s.execute("ROLLBACK").unwrap();
    assert_eq!(count(&mut s), Value::Int8(5));

    // A read-only block refuses it in the statement's words.
    s.execute("BEGIN READ ONLY").unwrap();
    let err = s.execute("EXPLAIN ANALYZE DELETE FROM m").unwrap_err();
    assert_eq!(err.sqlstate(), "25006");
    assert!(err.to_string().contains("DELETE"), "{err}");
    s.execute("ROLLBACK").unwrap();
}

#[test]
fn explain_format_json_is_postgresql_s_document() {
    let db = Arc::new(Database::open(Config::memory()).unwrap());
    let mut s = Session::new(db, "t");
    s.execute("CREATE TABLE j (id int PRIMARY KEY, v int)").unwrap();
    s.execute("INSERT INTO j SELECT g, g % 7 FROM generate_series(1, 100) g").unwrap();
    let doc = |s: &mut Session, sql: &str| -> serde_json::Value {
        let r = s.execute(sql).unwrap();
        assert_eq!(r.rows.len(), 1);
        match &r.rows[0][0] {
            Value::Text(t) | Value::Json(t) => serde_json::from_str(t).unwrap(),
            other => panic!("not a document: {other:?}"),
        }
    };
    let plan = doc(&mut s, "EXPLAIN (FORMAT JSON) SELECT v, count(*) FROM j WHERE v > 2 GROUP BY v ORDER BY v");
    let root = &plan[0]["Plan"];
    assert_eq!(root["Node Type"], "Sort", "{plan}");
    assert_eq!(root["Sort Key"][0], "j.v", "{plan}");
    let agg = &root["Plans"][0];
    assert_eq!(agg["Node Type"], "Aggregate");
    assert_eq!(agg["Strategy"], "Hashed");
    let scan = &agg["Plans"][0];
    assert_eq!(scan["Node Type"], "Seq Scan");
    assert_eq!(scan["Relation Name"], "j");
    assert_eq!(scan["Filter"], "(v > 2)");
    assert!(scan["Total Cost"].is_number() && scan["Plan Rows"].is_number());

    let analyzed = doc(&mut s, "EXPLAIN (ANALYZE, FORMAT JSON) SELECT * FROM j WHERE id = 5");
    assert_eq!(analyzed[0]["Plan"]["Node Type"], "Index Scan");
    assert_eq!(analyzed[0]["Plan"]["Index Name"], "j_pkey");
    assert_eq!(analyzed[0]["Plan"]["Actual Rows"], 1);
    assert!(analyzed[0]["Execution Time"].is_number());

    let modify = doc(&mut s, "EXPLAIN (ANALYZE, FORMAT JSON) DELETE FROM j WHERE v = 0");
    assert_eq!(modify[0]["Plan"]["Node Type"], "ModifyTable");
    assert_eq!(modify[0]["Plan"]["Operation"], "Delete");
    assert_eq!(modify[0]["Plan"]["Plans"][0]["Parent Relationship"], "Outer");
    assert_eq!(s.execute("SELECT count(*) FROM j").unwrap().rows[0][0], Value::Int8(86));

    assert_eq!(s.execute("EXPLAIN (FORMAT YAML) SELECT 1").unwrap_err().sqlstate(), "0A000");
}
