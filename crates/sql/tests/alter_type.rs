//! ALTER COLUMN … TYPE rewrites a table from the rows its transaction
//! reads: a row another transaction commits after that read must never be
//! lost with the old storage (the ALTER fails to commit instead).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use memdb_engine::{Config, Database, Value};
use memdb_sql::Session;

#[test]
fn a_row_committed_after_the_rewrite_read_is_never_lost() {
    let db = Arc::new(Database::open(Config::memory()).unwrap());
    let mut a = Session::new(db.clone(), "a");
    let mut b = Session::new(db, "b");
    a.execute("CREATE TABLE rr (id int PRIMARY KEY, v int)").unwrap();
    a.execute("INSERT INTO rr VALUES (1, 1)").unwrap();

    a.execute("BEGIN ISOLATION LEVEL REPEATABLE READ").unwrap();
    a.execute("SELECT count(*) FROM rr").unwrap();
    b.execute("INSERT INTO rr VALUES (2, 2)").unwrap();
    // A's snapshot does not see row 2; rewriting from it would drop it.
    let altered = a.execute("ALTER TABLE rr ALTER COLUMN v TYPE bigint").and_then(|_| a.execute("COMMIT"));
    let err = altered.expect_err("the rewrite must not commit over a newer row");
    assert_eq!(err.sqlstate(), "40001", "{err}");
    let _ = a.execute("ROLLBACK");
    let rows = b.execute("SELECT id FROM rr ORDER BY id").unwrap().rows;
    assert_eq!(rows, vec![vec![Value::Int4(1)], vec![Value::Int4(2)]]);

    // Without a concurrent commit the rewrite goes through.
    a.execute("ALTER TABLE rr ALTER COLUMN v TYPE bigint").unwrap();
    let rows = b.execute("SELECT sum(v) FROM rr").unwrap().rows;
    assert_eq!(rows, vec![vec![Value::Numeric(3.into())]]);
}
