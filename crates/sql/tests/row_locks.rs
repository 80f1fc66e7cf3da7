//! Locking clauses across two sessions: `FOR UPDATE OF t` locks only the
//! rows of `t`, and the lock strengths the parser lacks (`FOR NO KEY
//! UPDATE`, `FOR KEY SHARE`) lock as `FOR UPDATE` / `FOR SHARE`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use memdb_engine::{Config, Database};
use memdb_sql::Session;

fn sessions() -> (Session, Session) {
    let db = Arc::new(Database::open(Config::memory()).unwrap());
    let mut a = Session::new(db.clone(), "a");
    for sql in [
        "CREATE TABLE parent (id int PRIMARY KEY, v int)",
        "CREATE TABLE child (id int PRIMARY KEY, p int, w int)",
        "INSERT INTO parent VALUES (1, 1), (2, 2)",
        "INSERT INTO child VALUES (10, 1, 0), (11, 2, 0)",
    ] {
        a.execute(sql).unwrap();
    }
    (a, Session::new(db, "b"))
}

/// The SQLSTATE of `sql` in `s`, or "ok".
fn outcome(s: &mut Session, sql: &str) -> String {
    match s.execute(sql) {
        Ok(_) => "ok".into(),
        Err(e) => e.sqlstate().to_owned(),
    }
}

#[test]
fn for_update_of_locks_only_the_named_relation() {
    let (mut a, mut b) = sessions();
    a.execute("BEGIN").unwrap();
    let rows = a.execute("SELECT parent.id FROM parent JOIN child c ON c.p = parent.id FOR UPDATE OF parent").unwrap();
    assert_eq!(rows.rows.len(), 2);
    assert_eq!(outcome(&mut b, "SELECT * FROM child FOR UPDATE NOWAIT"), "ok");
    assert_eq!(outcome(&mut b, "SELECT * FROM parent WHERE id = 1 FOR UPDATE NOWAIT"), "55P03");
    a.execute("COMMIT").unwrap();

    // By alias; and a clause per relation, the stronger lock winning.
    a.execute("BEGIN").unwrap();
    a.execute("SELECT * FROM parent x JOIN child y ON y.p = x.id FOR SHARE OF x FOR UPDATE OF y").unwrap();
    assert_eq!(outcome(&mut b, "SELECT * FROM parent FOR SHARE NOWAIT"), "ok");
    assert_eq!(outcome(&mut b, "SELECT * FROM parent FOR UPDATE NOWAIT"), "55P03");
    assert_eq!(outcome(&mut b, "SELECT * FROM child FOR SHARE NOWAIT"), "55P03");
    a.execute("ROLLBACK").unwrap();

    assert_eq!(outcome(&mut a, "SELECT * FROM parent FOR UPDATE OF nothere"), "42P01");
    // A subquery's alias is a FROM item too.
    assert_eq!(outcome(&mut a, "SELECT * FROM (SELECT * FROM parent) s FOR UPDATE OF s"), "ok");
}

#[test]
fn no_key_update_and_key_share_lock_as_update_and_share() {
    let (mut a, mut b) = sessions();
    a.execute("BEGIN").unwrap();
    a.execute("SELECT * FROM parent WHERE id = 1 FOR NO KEY UPDATE").unwrap();
    assert_eq!(outcome(&mut b, "SELECT * FROM parent WHERE id = 1 FOR KEY SHARE NOWAIT"), "55P03");
    assert_eq!(outcome(&mut b, "SELECT * FROM parent WHERE id = 2 FOR NO KEY UPDATE NOWAIT"), "ok");
    a.execute("COMMIT").unwrap();

    a.execute("BEGIN").unwrap();
    a.execute("SELECT * FROM parent FOR KEY SHARE").unwrap();
    assert_eq!(outcome(&mut b, "SELECT * FROM parent FOR SHARE NOWAIT"), "ok");
    assert_eq!(outcome(&mut b, "SELECT * FROM parent WHERE id = 1 FOR UPDATE NOWAIT"), "55P03");
    a.execute("COMMIT").unwrap();
}
