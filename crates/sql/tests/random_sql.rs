//! Random and mutated SQL never panics the SQL layer: every input gives a
//! result or an error with a SQLSTATE, and the session stays usable.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use memdb_engine::{Config, Database};
use memdb_sql::Session;
use proptest::prelude::*;

const SEED_STATEMENTS: &[&str] = &[
    "SELECT a, b FROM t WHERE a > 1 ORDER BY b DESC LIMIT 3",
    "SELECT count(*), sum(b), avg(a) FROM t GROUP BY c HAVING count(*) > 0",
    "SELECT * FROM t JOIN u ON t.a = u.x LEFT JOIN t AS t2 ON t2.b = u.y",
    "SELECT a FROM t WHERE a IN (SELECT x FROM u WHERE y = t.b) AND EXISTS (SELECT 1 FROM u)",
    "INSERT INTO t VALUES (1, 2, 'x'), (3, NULL, 'y') ON CONFLICT DO NOTHING",
    "UPDATE t SET b = b * 2 + a WHERE c LIKE 'x%' RETURNING *",
    "DELETE FROM t WHERE a BETWEEN 1 AND 10",
    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT * FROM r",
    "SELECT CASE WHEN a > 1 THEN 'big' ELSE 'small' END, coalesce(b, 0), nullif(a, 2) FROM t",
    "SELECT a, row_number() OVER (PARTITION BY c ORDER BY b) FROM t",
    "SELECT CAST(b AS text) || c, -a, a % 3, a / 2 FROM t UNION SELECT 'z', 1, 2, 3 FROM u",
    "SELECT '{\"k\": [1, 2]}'::jsonb -> 'k' ->> 0, now() - interval '1 day', date '2024-02-29' + 1",
];

const TOKENS: &[&str] = &[
    "SELECT",
    "FROM",
    "WHERE",
    "t",
    "u",
    "a",
    "b",
    "c",
    "x",
    "y",
    "(",
    ")",
    ",",
    "*",
    "+",
    "-",
    "/",
    "%",
    "=",
    "<",
    ">",
    "AND",
    "OR",
    "NOT",
    "NULL",
    "1",
    "0",
    "-2147483648",
    "9223372036854775807",
    "1e308",
    "'s'",
    "''",
    "GROUP BY",
    "ORDER BY",
    "LIMIT",
    "JOIN",
    "ON",
    "IN",
    "EXISTS",
    "CASE",
    "WHEN",
    "THEN",
    "END",
    "::int",
    "::text",
    "count(*)",
    "sum(",
    "UNION",
    "INSERT INTO t VALUES",
    "UPDATE t SET a =",
    "DELETE FROM",
    "BEGIN",
    "COMMIT",
    "ROLLBACK",
    ";",
    "$1",
    "OVER (",
    "PARTITION BY",
    "WITH",
    "AS",
    "DISTINCT",
    "HAVING",
    "IS",
    "BETWEEN",
    "LIKE",
    "ARRAY[",
    "]",
];

fn session() -> Session {
    let db = Arc::new(Database::open(Config::memory()).unwrap());
    let mut s = Session::new(db, "fuzz");
    s.execute("CREATE TABLE t (a int PRIMARY KEY, b int, c text)").unwrap();
    s.execute("CREATE TABLE u (x int, y int)").unwrap();
    s.execute("INSERT INTO t VALUES (1, 10, 'x1'), (2, NULL, 'y2'), (3, 30, NULL)").unwrap();
    s.execute("INSERT INTO u VALUES (1, 10), (2, 20), (NULL, NULL)").unwrap();
    s
}

/// Runs the input and checks the session still answers afterwards.
fn survives(session: &mut Session, sql: &str) {
    for r in session.run(sql) {
        if let Err(e) = r {
            assert_eq!(e.sqlstate().len(), 5, "{e}");
        }
    }
    session.execute("ROLLBACK").unwrap();
    assert_eq!(session.execute("SELECT 1").unwrap().rows.len(), 1);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn random_token_sequences(tokens in prop::collection::vec(prop::sample::select(TOKENS), 1..30)) {
        let mut s = session();
        survives(&mut s, &tokens.join(" "));
    }

    #[test]
    fn mutated_statements(seed in prop::sample::select(SEED_STATEMENTS), cut in 0usize..200, insert in prop::sample::select(TOKENS), pos in 0usize..200) {
        let mut s = session();
        let mut sql: String = seed.to_owned();
        let cut = cut.min(sql.len());
        if sql.is_char_boundary(cut) {
            sql.truncate(cut.max(1).min(sql.len()));
        }
        let pos = pos.min(sql.len());
        if sql.is_char_boundary(pos) {
            sql.insert_str(pos, &format!(" {insert} "));
        }
        survives(&mut s, &sql);
        survives(&mut s, seed);
    }
}

#[test]
fn seed_statements_run() {
    let mut s = session();
    for sql in SEED_STATEMENTS {
        s.execute(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

/// Deeply nested statements (parentheses, subqueries, CASE, NOT) either run
/// or fail with 54001 on an ordinary 2 MB thread stack; never a crash.
#[test]
fn deep_nesting_runs_or_is_refused_on_a_small_stack() {
    type Shape = fn(usize) -> String;
    let shapes: [(&str, Shape); 5] = [
        ("parentheses", |n| format!("SELECT {}a{} FROM t", "(".repeat(n), ")".repeat(n))),
        ("arithmetic", |n| format!("SELECT {}1{} FROM t", "(1 + ".repeat(n), ")".repeat(n))),
        ("case", |n| format!("SELECT {}0{} FROM t", "CASE WHEN a > 1 THEN ".repeat(n), " ELSE 1 END".repeat(n))),
        ("subqueries", |n| format!("SELECT {}1{}", "(SELECT ".repeat(n), ")".repeat(n))),
        ("boolean", |n| format!("SELECT a FROM t WHERE {}a > 0{}", "NOT (a < 0 OR ".repeat(n), ")".repeat(n))),
    ];
    for (name, shape) in shapes {
        let depths: &[usize] = if name == "subqueries" { &[50, 63, 64, 100, 400, 3000] } else { &[50, 200, 600, 3000] };
        for &depth in depths {
            let sql = shape(depth);
            let outcome = std::thread::Builder::new()
                .stack_size(2 << 20)
                .spawn(move || {
                    let mut s = session();
                    let outcome = s.execute(&sql).map(|_| ()).map_err(|e| e.sqlstate().to_owned());
                    assert_eq!(s.execute("SELECT 1").unwrap().rows.len(), 1);
                    outcome
                })
                .unwrap()
                .join()
                .unwrap_or_else(|_| panic!("{name} at depth {depth} panicked"));
            if let Err(code) = &outcome {
                assert!(code == "54001" || code == "42601", "{name} at depth {depth}: {code}");
            }
            let supported = if name == "subqueries" { 63 } else { 200 }; // 63 + the outer query
            if depth <= supported {
                assert_eq!(outcome, Ok(()), "{name} at depth {depth}");
            } else if name == "subqueries" {
                assert!(outcome.is_err(), "{name} at depth {depth}");
            }
        }
    }
}
