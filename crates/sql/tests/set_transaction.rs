//! `SET TRANSACTION ISOLATION LEVEL` and `SET SESSION CHARACTERISTICS`
//! change what the next reads see, not only what SHOW says.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use memdb_engine::{Config, Database, Value};
use memdb_sql::Session;

fn count(s: &mut Session) -> Value {
    s.execute("SELECT count(*) FROM t").unwrap().rows[0][0].clone()
}

#[test]
fn set_transaction_isolation_takes_effect_before_the_first_query() {
    let db = Arc::new(Database::open(Config::memory()).unwrap());
    let mut a = Session::new(db.clone(), "a");
    let mut b = Session::new(db, "b");
    a.execute("CREATE TABLE t (x int)").unwrap();
    a.execute("INSERT INTO t VALUES (1)").unwrap();

    // Repeatable read set in the block: a concurrent commit stays unseen.
    a.execute("BEGIN").unwrap();
    a.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ").unwrap();
    assert_eq!(count(&mut a), Value::Int8(1));
    b.execute("INSERT INTO t VALUES (2)").unwrap();
    assert_eq!(count(&mut a), Value::Int8(1));
    a.execute("COMMIT").unwrap();

    // Read committed (the default) sees it at the next statement.
    a.execute("BEGIN").unwrap();
    assert_eq!(count(&mut a), Value::Int8(2));
    b.execute("INSERT INTO t VALUES (3)").unwrap();
    assert_eq!(count(&mut a), Value::Int8(3));
    a.execute("COMMIT").unwrap();

    // The session's default, as SQLAlchemy and JDBC set it.
    a.execute("SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL REPEATABLE READ").unwrap();
    a.execute("BEGIN").unwrap();
    assert_eq!(count(&mut a), Value::Int8(3));
    b.execute("INSERT INTO t VALUES (4)").unwrap();
    assert_eq!(count(&mut a), Value::Int8(3));
    a.execute("COMMIT").unwrap();
    assert_eq!(count(&mut a), Value::Int8(4));
}

/// A transaction opened by a statement that takes no snapshot (SET in a
/// multi-statement query that then BEGINs a block) still gives its first
/// query a fresh READ COMMITTED snapshot.
#[test]
fn a_block_begun_after_a_set_in_the_same_query_sees_later_commits() {
    let db = Arc::new(Database::open(Config::memory()).unwrap());
    let mut a = Session::new(db.clone(), "a");
    let mut b = Session::new(db, "b");
    a.execute("CREATE TABLE t (x int)").unwrap();
    assert!(a.run("SET application_name = 'a'; BEGIN").into_iter().all(|r| r.is_ok()));
    b.execute("INSERT INTO t VALUES (1)").unwrap();
    assert_eq!(count(&mut a), Value::Int8(1));
    a.execute("COMMIT").unwrap();
}
