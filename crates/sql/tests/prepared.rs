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
