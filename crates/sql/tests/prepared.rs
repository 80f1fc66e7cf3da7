//! Statements prepared as the extended protocol's Parse prepares them:
//! a text described again reuses the last description and plan only while
//! the schema and the declared parameter types are the same.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use memdb_engine::{Config, DataType, Database, Value};
use memdb_sql::Session;

fn column_names(session: &mut Session, sql: &str) -> Vec<String> {
    let prepared = session.prepare_described(sql, Vec::new()).unwrap();
    prepared.columns().iter().map(|c| c.name.clone()).collect()
}

#[test]
fn a_described_statement_follows_schema_changes_and_declared_types() {
    let db = Arc::new(Database::open(Config::memory()).unwrap());
    let mut s = Session::new(db, "t");
    s.execute("CREATE TABLE t (a int PRIMARY KEY, b text)").unwrap();
    s.execute("INSERT INTO t VALUES (1, 'one')").unwrap();
    assert_eq!(column_names(&mut s, "SELECT * FROM t WHERE a = $1"), ["a", "b"]);
    // Described again: the same answer, and it runs.
    assert_eq!(column_names(&mut s, "SELECT * FROM t WHERE a = $1"), ["a", "b"]);
    let mut prepared = s.prepare_described("SELECT * FROM t WHERE a = $1", Vec::new()).unwrap();
    assert_eq!(prepared.parameter_types(), [DataType::Int4]);
    let rows = s.execute_prepared(&mut prepared, &[Value::Int4(1)]).unwrap().rows;
    assert_eq!(rows, vec![vec![Value::Int4(1), Value::Text("one".into())]]);

    // A new column shows up in the next description.
    s.execute("ALTER TABLE t ADD COLUMN c int").unwrap();
    assert_eq!(column_names(&mut s, "SELECT * FROM t WHERE a = $1"), ["a", "b", "c"]);

    // Declared parameter types are part of what is reused.
    let declared = s.prepare_described("SELECT $1", vec![Some(DataType::Int8)]).unwrap();
    assert_eq!(declared.parameter_types(), [DataType::Int8]);
    let text = s.prepare_described("SELECT $1", vec![Some(DataType::Text)]).unwrap();
    assert_eq!(text.parameter_types(), [DataType::Text]);

    // Inside a block that changed the schema, nothing stale is reused.
    s.execute("BEGIN").unwrap();
    s.execute("ALTER TABLE t ADD COLUMN d int").unwrap();
    assert_eq!(column_names(&mut s, "SELECT * FROM t WHERE a = $1"), ["a", "b", "c", "d"]);
    s.execute("ROLLBACK").unwrap();
    assert_eq!(column_names(&mut s, "SELECT * FROM t WHERE a = $1"), ["a", "b", "c"]);

    // A dropped table is an error again, not a cached success.
    s.execute("DROP TABLE t").unwrap();
    assert!(s.prepare_described("SELECT * FROM t WHERE a = $1", Vec::new()).is_err());
}

/// A `bigint` parameter against an `integer` key (what sysbench declares)
/// uses the index, and a value beyond the column's range finds nothing or
/// bounds the range past every row, as in PostgreSQL, instead of failing
/// an integer cast.
#[test]
fn bigint_parameters_key_integer_columns_beyond_their_range() {
    let db = Arc::new(Database::open(Config::memory()).unwrap());
    let mut s = Session::new(db, "t");
    s.execute("CREATE TABLE k (id int PRIMARY KEY, v int)").unwrap();
    s.execute("INSERT INTO k SELECT g, g * 10 FROM generate_series(1, 100) AS g").unwrap();
    let int8 = || Some(DataType::Int8);
    let mut point = s.prepare_described("SELECT v FROM k WHERE id = $1", vec![int8()]).unwrap();
    let mut range =
        s.prepare_described("SELECT count(*) FROM k WHERE id BETWEEN $1 AND $2", vec![int8(), int8()]).unwrap();
    assert_eq!(s.execute_prepared(&mut point, &[Value::Int8(7)]).unwrap().rows, vec![vec![Value::Int4(70)]]);
    assert!(s.execute_prepared(&mut point, &[Value::Int8(5_000_000_000)]).unwrap().rows.is_empty());
    for (lo, hi, n) in [
        (90, 5_000_000_000, 11),
        (-5_000_000_000, 3, 3),
        (5_000_000_000, 6_000_000_000, 0),
        (-6_000_000_000, -5_000_000_000, 0),
    ] {
        let rows = s.execute_prepared(&mut range, &[Value::Int8(lo), Value::Int8(hi)]).unwrap().rows;
        assert_eq!(rows, vec![vec![Value::Int8(n)]], "BETWEEN {lo} AND {hi}");
    }
}

/// RETURNING items are named as PostgreSQL names select items
/// (`upper(k)` is `upper`, `v::text` is `v`), and `t.*` expands.
#[test]
fn returning_columns_are_named_as_select_items() {
    let db = Arc::new(Database::open(Config::memory()).unwrap());
    let mut s = Session::new(db, "t");
    s.execute("CREATE TABLE rk (k text PRIMARY KEY, v int)").unwrap();
    let names = |r: memdb_sql::QueryResult| r.columns.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
    let r = s.execute("INSERT INTO rk VALUES ('a', 1) RETURNING upper(k), v::text, v + 1, rk.*").unwrap();
    assert_eq!(names(r), ["upper", "v", "?column?", "k", "v"]);
    let r = s.execute("UPDATE rk AS r SET k = 'b' RETURNING r.*").unwrap();
    assert_eq!(r.rows, vec![vec![Value::Text("b".into()), Value::Int4(1)]]);
    assert!(s.execute("DELETE FROM rk RETURNING nope.*").is_err());
}
