//! Sequences: values are never handed out twice (not even after a
//! rollback, or across threads), limits and `setval` behave as in
//! PostgreSQL, SERIAL-style defaults draw from them, owned sequences go
//! with their table, and positions survive replay of the commit log.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

mod common;

use std::collections::HashSet;
use std::sync::Arc;

use memdb_engine::{
    Column, CommitRecord, Config, DataType, Database, Expr, IsolationLevel, MemoryLog, SequenceSchema, TableSchema,
    TxnOptions, Value,
};

use common::{expect_sqlstate, i8v, open_db, text};

fn serial_table(db: &Database) {
    let mut txn = db.begin().unwrap();
    let table = TableSchema::new("items")
        .column(
            Column::new("id", DataType::Int8)
                .not_null()
                .default(Expr::Function("nextval".into(), vec![Expr::Literal(text("items_id_seq"))])),
        )
        .column(Column::new("name", DataType::Text))
        .primary_key(["id"]);
    txn.create_table(table).unwrap();
    let id = txn.table("items").unwrap().id();
    txn.create_sequence(SequenceSchema { owned_by: Some((id, 0)), ..SequenceSchema::new("items_id_seq") }).unwrap();
    txn.commit().unwrap();
}

#[test]
fn nextval_is_not_undone_by_rollback() {
    let db = open_db();
    let mut txn = db.begin().unwrap();
    txn.create_sequence(SequenceSchema::new("s")).unwrap();
    txn.commit().unwrap();
    let mut txn = db.begin().unwrap();
    assert_eq!((txn.nextval("s").unwrap(), txn.nextval("s").unwrap()), (1, 2));
    txn.rollback().unwrap();
    let mut txn = db.begin().unwrap();
    assert_eq!(txn.nextval("s").unwrap(), 3);
    assert_eq!(txn.setval("s", 10, true).unwrap(), 10);
    assert_eq!(txn.nextval("s").unwrap(), 11);
    txn.setval("s", 20, false).unwrap();
    assert_eq!(txn.nextval("s").unwrap(), 20);
    expect_sqlstate(txn.setval("s", 0, true), "2200H");
    expect_sqlstate(txn.nextval("missing"), "42P01");
    txn.commit().unwrap();
}

#[test]
fn limits_cycles_and_duplicate_names() {
    let db = open_db();
    let mut txn = db.begin().unwrap();
    txn.create_sequence(SequenceSchema { max: 2, ..SequenceSchema::new("short") }).unwrap();
    txn.create_sequence(SequenceSchema { max: 2, cycle: true, ..SequenceSchema::new("ring") }).unwrap();
    expect_sqlstate(txn.create_sequence(SequenceSchema::new("ring")), "42P07");
    txn.rollback().unwrap();
    let mut txn = db.begin().unwrap();
    txn.create_sequence(SequenceSchema { max: 2, ..SequenceSchema::new("short") }).unwrap();
    txn.create_sequence(SequenceSchema { max: 2, cycle: true, ..SequenceSchema::new("ring") }).unwrap();
    expect_sqlstate(txn.create_sequence(SequenceSchema { increment: 0, ..SequenceSchema::new("zero") }), "22023");
    txn.rollback().unwrap();
    let mut txn = db.begin().unwrap();
    txn.create_sequence(SequenceSchema { max: 2, ..SequenceSchema::new("short") }).unwrap();
    txn.create_sequence(SequenceSchema { max: 2, cycle: true, ..SequenceSchema::new("ring") }).unwrap();
    txn.commit().unwrap();
    let mut txn = db.begin().unwrap();
    assert_eq!((txn.nextval("short").unwrap(), txn.nextval("short").unwrap()), (1, 2));
    let err = expect_sqlstate(txn.nextval("short"), "2200H");
    assert!(err.to_string().contains("reached maximum value of sequence \"short\""), "{err}");
    let mut txn = db.begin().unwrap();
    let ring: Vec<i64> = (0..5).map(|_| txn.nextval("ring").unwrap()).collect();
    assert_eq!(ring, vec![1, 2, 1, 2, 1]);
    let mut ro = db.begin_with(TxnOptions::read_only(IsolationLevel::Snapshot)).unwrap();
    expect_sqlstate(ro.nextval("ring"), "25006");
}

#[test]
fn concurrent_nextval_never_repeats() {
    let db = open_db();
    let mut txn = db.begin().unwrap();
    txn.create_sequence(SequenceSchema::new("s")).unwrap();
    txn.commit().unwrap();
    let per_thread = if cfg!(debug_assertions) { 5_000 } else { 50_000 };
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let db = db.clone();
            std::thread::spawn(move || {
                let mut txn = db.begin().unwrap();
                let values: Vec<i64> = (0..per_thread).map(|_| txn.nextval("s").unwrap()).collect();
                txn.commit().unwrap();
                values
            })
        })
        .collect();
    let mut seen = HashSet::new();
    for h in handles {
        for v in h.join().unwrap() {
            assert!(seen.insert(v), "{v} handed out twice");
        }
    }
    assert_eq!(seen.len(), 4 * per_thread);
}

#[test]
fn serial_defaults_and_owned_sequences() {
    let db = open_db();
    serial_table(&db);
    let mut txn = db.begin().unwrap();
    let t = txn.table("items").unwrap();
    txn.insert_columns(&t, &[1], vec![text("a")]).unwrap();
    txn.insert_columns(&t, &[1], vec![text("b")]).unwrap();
    txn.insert(&t, vec![i8v(100), text("explicit")]).unwrap();
    assert_eq!(txn.get(&t, &[i8v(2)]).unwrap().unwrap().values, vec![i8v(2), text("b")]);
    txn.commit().unwrap();
    let mut txn = db.begin().unwrap();
    txn.drop_table("items", false).unwrap();
    assert!(txn.sequence_names().is_empty(), "the owned sequence is dropped with its table");
    txn.rollback().unwrap();
    let txn = db.begin().unwrap();
    assert_eq!(txn.sequence_names(), vec!["items_id_seq".to_owned()]);
}

#[test]
fn positions_survive_replay() {
    let log = Arc::new(MemoryLog::default());
    let db = Database::open(Config::memory().with_commit_log(log.clone()).with_gc_interval(None)).unwrap();
    serial_table(&db);
    let mut txn = db.begin().unwrap();
    let t = txn.table("items").unwrap();
    for name in ["a", "b", "c"] {
        txn.insert_columns(&t, &[1], vec![text(name)]).unwrap();
    }
    txn.commit().unwrap();
    // A read-only-looking transaction that only took values still logs them.
    let mut txn = db.begin().unwrap();
    assert_eq!(txn.nextval("items_id_seq").unwrap(), 4);
    txn.commit().unwrap();
    let mut txn = db.begin().unwrap();
    txn.setval("items_id_seq", 50, true).unwrap();
    txn.commit().unwrap();

    let copy = Database::open(Config::memory().with_gc_interval(None)).unwrap();
    for record in log.records() {
        copy.apply(&CommitRecord::decode(&record.encode().unwrap()).unwrap()).unwrap();
    }
    let mut txn = copy.begin().unwrap();
    assert_eq!(txn.nextval("items_id_seq").unwrap(), 51);
    let t = txn.table("items").unwrap();
    assert_eq!(txn.get(&t, &[i8v(3)]).unwrap().unwrap().values, vec![i8v(3), Value::Text("c".into())]);
}
