use memdb_engine::*;
use std::ops::Bound;
fn db() -> Database {
    let db = Database::open(Config::memory().with_gc_interval(None)).unwrap();
    let mut txn = db.begin().unwrap();
    txn.create_table(
        TableSchema::new("t")
            .column(Column::new("id", DataType::Int8))
            .column(Column::new("v", DataType::Int8))
            .column(Column::new("s", DataType::Text))
            .primary_key(["id"]),
    )
    .unwrap();
    let t = txn.table("t").unwrap();
    for i in 0..5 {
        txn.insert(&t, vec![Value::Int8(i), Value::Int8(i), Value::Null]).unwrap();
    }
    txn.commit().unwrap();
    db
}
fn pk_count(db: &Database) -> (usize, usize) {
    let mut txn = db.begin().unwrap();
    let t = txn.table("t").unwrap();
    let full = txn.scan(&t, ScanRange::Full, false).unwrap().count();
    let pk = txn
        .scan(&t, ScanRange::Index { index: "t_pkey".into(), lower: Bound::Unbounded, upper: Bound::Unbounded }, false)
        .unwrap()
        .count();
    (full, pk)
}
fn churn(db: &Database) {
    let mut txn = db.begin().unwrap();
    let t = txn.table("t").unwrap();
    let rows: Vec<_> = txn.scan(&t, ScanRange::Full, false).unwrap().map(|r| r.unwrap()).collect();
    for r in rows {
        let mut v = r.values.clone();
        v[1] = Value::Int8(99);
        txn.update(&t, r.id, v).unwrap();
    }
    txn.commit().unwrap();
}
#[test]
fn truncate_then_gc() {
    let db = db();
    churn(&db);
    let mut txn = db.begin().unwrap();
    txn.truncate(&["t"]).unwrap();
    txn.commit().unwrap();
    let mut txn = db.begin().unwrap();
    let t = txn.table("t").unwrap();
    for i in 0..5 {
        txn.insert(&t, vec![Value::Int8(i), Value::Int8(i), Value::Null]).unwrap();
    }
    txn.commit().unwrap();
    db.gc();
    assert_eq!(pk_count(&db), (5, 5));
}
#[test]
fn drop_column_then_gc() {
    let db = db();
    churn(&db);
    let mut txn = db.begin().unwrap();
    txn.alter_table("t", AlterTable::DropColumn { name: "v".into(), cascade: false }).unwrap();
    txn.commit().unwrap();
    db.gc();
    assert_eq!(pk_count(&db), (5, 5));
}
#[test]
fn add_column_then_gc() {
    let db = db();
    churn(&db);
    let mut txn = db.begin().unwrap();
    txn.alter_table("t", AlterTable::AddColumn(Column::new("z", DataType::Int8))).unwrap();
    txn.commit().unwrap();
    churn(&db);
    db.gc();
    assert_eq!(pk_count(&db), (5, 5));
}
#[test]
fn create_index_then_gc() {
    let db = db();
    churn(&db);
    let mut txn = db.begin().unwrap();
    txn.create_index(IndexSpec::new("t", ["v"])).unwrap();
    txn.commit().unwrap();
    churn(&db);
    db.gc();
    assert_eq!(pk_count(&db), (5, 5));
}
