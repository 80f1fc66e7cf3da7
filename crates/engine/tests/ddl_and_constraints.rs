//! Transactional DDL and constraint enforcement.
//!
//! DDL commits and rolls back like data and is invisible to other
//! snapshots until it commits. Every constraint violation is its own
//! `Error` variant with PostgreSQL's SQLSTATE (NOT NULL 23502, UNIQUE and
//! PRIMARY KEY 23505, CHECK 23514, FOREIGN KEY 23503) and a message naming
//! the object; unknown and duplicate objects give 42P01, 42P07, 42703,
//! 42701 and 42704.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

mod common;

use std::time::Duration;

use memdb_engine::expr::CompareOp;
use memdb_engine::{
    AlterTable, Column, ConstraintSpec, DataType, Database, Error, Expr, IndexSpec, IsolationLevel, ScanRange, Table,
    TableSchema, Transaction, Value,
};

use common::{Session, expect_sqlstate, i8v, open_db, text, values};

/// `users (id bigint primary key, email text not null unique, age bigint)`.
fn users(db: &Database) {
    let mut txn = db.begin().unwrap();
    txn.create_table(
        TableSchema::new("users")
            .column(Column::new("id", DataType::Int8))
            .column(Column::new("email", DataType::Text).not_null())
            .column(Column::new("age", DataType::Int8))
            .primary_key(["id"])
            .unique(["email"]),
    )
    .unwrap();
    let t = txn.table("users").unwrap();
    for (id, email) in [(1, "ann@x"), (2, "bob@x"), (3, "cy@x")] {
        txn.insert(&t, vec![i8v(id), text(email), i8v(20 + id)]).unwrap();
    }
    txn.commit().unwrap();
}

fn col(i: usize) -> Box<Expr> {
    Box::new(Expr::Column(i))
}

fn lit(v: Value) -> Box<Expr> {
    Box::new(Expr::Literal(v))
}

// ---------------------------------------------------------------------------
// Transactional DDL.

#[test]
fn create_table_rolls_back() {
    let db = open_db();
    let mut txn = db.begin().unwrap();
    txn.create_table(TableSchema::new("t").column(Column::new("a", DataType::Int8))).unwrap();
    let t = txn.table("t").unwrap();
    txn.insert(&t, vec![i8v(1)]).unwrap();
    txn.rollback().unwrap();
    let txn = db.begin().unwrap();
    expect_sqlstate(txn.table("t"), "42P01");
    assert!(db.schemas().is_empty());
    assert_eq!(db.stats().tables, 0);
}

#[test]
fn uncommitted_tables_are_invisible_to_other_snapshots() {
    let db = open_db();
    let before = db.begin().unwrap();
    let mut creator = db.begin().unwrap();
    creator.create_table(TableSchema::new("t").column(Column::new("a", DataType::Int8))).unwrap();
    let t = creator.table("t").unwrap();
    creator.insert(&t, vec![i8v(1)]).unwrap();
    let during = db.begin().unwrap();
    expect_sqlstate(before.table("t"), "42P01");
    expect_sqlstate(during.table("t"), "42P01");
    creator.commit().unwrap();
    expect_sqlstate(before.table("t"), "42P01");
    expect_sqlstate(during.table("t"), "42P01");
    let mut after = db.begin().unwrap();
    assert_eq!(values(&mut after, "t"), vec![vec![i8v(1)]]);
    // READ COMMITTED sees it from its next statement.
    let mut rc = common::begin(&db, IsolationLevel::ReadCommitted);
    rc.begin_statement().unwrap();
    assert_eq!(values(&mut rc, "t").len(), 1);
    before.commit().unwrap();
}

#[test]
fn drop_table_rolls_back_with_its_rows() {
    let db = open_db();
    users(&db);
    let mut txn = db.begin().unwrap();
    txn.drop_table("users", false).unwrap();
    expect_sqlstate(txn.table("users"), "42P01");
    txn.rollback().unwrap();
    let mut txn = db.begin().unwrap();
    assert_eq!(values(&mut txn, "users").len(), 3);
    let t = txn.table("users").unwrap();
    assert!(txn.get(&t, &[i8v(2)]).unwrap().is_some(), "the primary key still works");
    assert_eq!(txn.index_lookup(&t, "users_email_key", &[text("cy@x")]).unwrap().len(), 1);
}

#[test]
fn dropped_table_stays_visible_to_older_snapshots() {
    let db = open_db();
    users(&db);
    let mut old = db.begin().unwrap();
    let mut txn = db.begin().unwrap();
    txn.drop_table("users", false).unwrap();
    txn.commit().unwrap();
    db.gc();
    assert_eq!(values(&mut old, "users").len(), 3);
    let txn = db.begin().unwrap();
    expect_sqlstate(txn.table("users"), "42P01");
    // The name is free again.
    let mut txn = db.begin().unwrap();
    txn.create_table(TableSchema::new("users").column(Column::new("a", DataType::Int8))).unwrap();
    txn.commit().unwrap();
    assert_eq!(values(&mut old, "users").len(), 3, "the old snapshot keeps the old table");
}

#[test]
fn savepoints_undo_ddl() {
    let db = open_db();
    let mut txn = db.begin().unwrap();
    txn.create_table(TableSchema::new("a").column(Column::new("x", DataType::Int8))).unwrap();
    txn.savepoint("s").unwrap();
    txn.create_table(TableSchema::new("b").column(Column::new("x", DataType::Int8))).unwrap();
    txn.alter_table("a", AlterTable::AddColumn(Column::new("y", DataType::Int8))).unwrap();
    txn.rollback_to_savepoint("s").unwrap();
    expect_sqlstate(txn.table("b"), "42P01");
    assert_eq!(txn.table("a").unwrap().columns().len(), 1);
    let a = txn.table("a").unwrap();
    txn.insert(&a, vec![i8v(1)]).unwrap();
    txn.commit().unwrap();
    let mut txn = db.begin().unwrap();
    assert_eq!(txn.table_names(), vec!["a".to_owned()]);
    assert_eq!(values(&mut txn, "a"), vec![vec![i8v(1)]]);
}

#[test]
fn rename_table() {
    let db = open_db();
    users(&db);
    let mut txn = db.begin().unwrap();
    txn.alter_table("users", AlterTable::RenameTable("people".into())).unwrap();
    expect_sqlstate(txn.table("users"), "42P01");
    assert_eq!(values(&mut txn, "people").len(), 3);
    txn.commit().unwrap();
    let mut txn = db.begin().unwrap();
    assert_eq!(values(&mut txn, "people").len(), 3);
    let t = txn.table("people").unwrap();
    txn.insert(&t, vec![i8v(4), text("dee@x"), Value::Null]).unwrap();
    expect_sqlstate(txn.insert(&t, vec![i8v(4), text("eve@x"), Value::Null]), "23505");
}

// ---------------------------------------------------------------------------
// Constraints.

#[test]
fn not_null_violation() {
    let db = open_db();
    users(&db);
    let mut txn = db.begin().unwrap();
    let t = txn.table("users").unwrap();
    let err = expect_sqlstate(txn.insert(&t, vec![i8v(9), Value::Null, Value::Null]), "23502");
    assert_eq!(err, Error::NotNullViolation { table: "users".into(), column: "email".into() });
    assert_eq!(err.to_string(), "null value in column \"email\" of relation \"users\" violates not-null constraint");
    assert!(txn.is_failed());
    expect_sqlstate(txn.insert(&t, vec![i8v(9), text("z@x"), Value::Null]), "25P02");
    expect_sqlstate(txn.commit(), "25P02");

    // Primary-key columns are NOT NULL; so is an update to NULL.
    let mut txn = db.begin().unwrap();
    let err = expect_sqlstate(txn.insert(&t, vec![Value::Null, text("z@x"), Value::Null]), "23502");
    assert!(err.to_string().contains("\"id\""), "{err}");
    txn.rollback().unwrap();
    let mut txn = db.begin().unwrap();
    let row = txn.get(&t, &[i8v(1)]).unwrap().unwrap();
    expect_sqlstate(txn.update(&t, row.id, vec![i8v(1), Value::Null, Value::Null]), "23502");
}

#[test]
fn unique_and_primary_key_violations() {
    let db = open_db();
    users(&db);
    let mut txn = db.begin().unwrap();
    let t = txn.table("users").unwrap();
    let err = expect_sqlstate(txn.insert(&t, vec![i8v(1), text("new@x"), Value::Null]), "23505");
    let Error::UniqueViolation { constraint, detail, .. } = &err else { panic!("{err:?}") };
    assert_eq!(constraint, "users_pkey");
    assert_eq!(detail, "Key (id)=(1) already exists.");
    assert_eq!(err.to_string(), "duplicate key value violates unique constraint \"users_pkey\"");
    txn.rollback().unwrap();

    let mut txn = db.begin().unwrap();
    let err = expect_sqlstate(txn.insert(&t, vec![i8v(7), text("bob@x"), Value::Null]), "23505");
    assert!(matches!(&err, Error::UniqueViolation { constraint, .. } if constraint == "users_email_key"), "{err:?}");
    txn.rollback().unwrap();

    // An update into an existing key, and a swap through a free key.
    let mut txn = db.begin().unwrap();
    let ann = txn.get(&t, &[i8v(1)]).unwrap().unwrap();
    expect_sqlstate(txn.update(&t, ann.id, vec![i8v(1), text("bob@x"), Value::Null]), "23505");
    txn.rollback().unwrap();
    let mut txn = db.begin().unwrap();
    let ann = txn.get(&t, &[i8v(1)]).unwrap().unwrap();
    let bob = txn.get(&t, &[i8v(2)]).unwrap().unwrap();
    txn.update(&t, ann.id, vec![i8v(1), text("tmp@x"), Value::Null]).unwrap();
    txn.update(&t, bob.id, vec![i8v(2), text("ann@x"), Value::Null]).unwrap();
    txn.update(&t, ann.id, vec![i8v(1), text("bob@x"), Value::Null]).unwrap();
    txn.commit().unwrap();

    // NULLs are distinct in a unique index.
    let mut txn = db.begin().unwrap();
    txn.create_table(TableSchema::new("n").column(Column::new("a", DataType::Int8)).unique(["a"])).unwrap();
    let n = txn.table("n").unwrap();
    txn.insert(&n, vec![Value::Null]).unwrap();
    txn.insert(&n, vec![Value::Null]).unwrap();
    txn.commit().unwrap();
}

#[test]
fn check_violation() {
    let db = open_db();
    let mut txn = db.begin().unwrap();
    txn.create_table(
        TableSchema::new("accounts")
            .column(Column::new("id", DataType::Int8).not_null())
            .column(Column::new("balance", DataType::Int8))
            .primary_key(["id"])
            .check(None, Expr::Compare(CompareOp::GtEq, col(1), lit(i8v(0)))),
    )
    .unwrap();
    txn.commit().unwrap();
    let mut txn = db.begin().unwrap();
    let t = txn.table("accounts").unwrap();
    assert_eq!(t.schema().checks[0].name, "accounts_balance_check");
    txn.insert(&t, vec![i8v(1), i8v(0)]).unwrap();
    txn.insert(&t, vec![i8v(2), Value::Null]).unwrap(); // NULL passes a CHECK
    let err = expect_sqlstate(txn.insert(&t, vec![i8v(3), i8v(-1)]), "23514");
    assert_eq!(err, Error::CheckViolation { table: "accounts".into(), constraint: "accounts_balance_check".into() });
    assert_eq!(
        err.to_string(),
        "new row for relation \"accounts\" violates check constraint \"accounts_balance_check\""
    );
    txn.rollback().unwrap();
    let mut txn = db.begin().unwrap();
    let row = txn.get(&t, &[i8v(1)]).unwrap();
    assert!(row.is_none(), "the rolled-back insert is gone");
}

#[test]
fn add_column_with_default_fills_old_rows() {
    let db = open_db();
    users(&db);
    let mut old = db.begin().unwrap();
    let mut txn = db.begin().unwrap();
    txn.alter_table("users", AlterTable::AddColumn(Column::new("score", DataType::Int8).default(i8v(5)).not_null()))
        .unwrap();
    let t = txn.table("users").unwrap();
    assert_eq!(t.column_position("score").unwrap(), 3);
    assert!(values(&mut txn, "users").iter().all(|r| r.len() == 4 && r[3] == i8v(5)));
    txn.insert_columns(&t, &[0, 1], vec![i8v(4), text("dee@x")]).unwrap();
    txn.commit().unwrap();
    let mut txn = db.begin().unwrap();
    let rows = values(&mut txn, "users");
    assert_eq!(rows.len(), 4);
    assert!(rows.iter().all(|r| r[3] == i8v(5)), "{rows:?}");
    let t = txn.table("users").unwrap();
    let row = txn.get(&t, &[i8v(4)]).unwrap().unwrap();
    assert_eq!(row.values, vec![i8v(4), text("dee@x"), Value::Null, i8v(5)]);
    // A NULL into the new NOT NULL column fails.
    expect_sqlstate(txn.insert(&t, vec![i8v(5), text("e@x"), Value::Null, Value::Null]), "23502");
    // The snapshot from before the change still reads three columns.
    assert!(values(&mut old, "users").iter().all(|r| r.len() == 3));
}

#[test]
fn add_not_null_column_without_default() {
    let db = open_db();
    users(&db);
    let mut txn = db.begin().unwrap();
    let err = expect_sqlstate(
        txn.alter_table("users", AlterTable::AddColumn(Column::new("z", DataType::Int8).not_null())),
        "23502",
    );
    assert!(err.to_string().contains("\"z\""), "{err}");
    txn.rollback().unwrap();
    let mut txn = db.begin().unwrap();
    txn.create_table(TableSchema::new("empty").column(Column::new("a", DataType::Int8))).unwrap();
    txn.alter_table("empty", AlterTable::AddColumn(Column::new("z", DataType::Int8).not_null())).unwrap();
    txn.commit().unwrap();
}

#[test]
fn drop_and_rename_columns() {
    let db = open_db();
    users(&db);
    let mut txn = db.begin().unwrap();
    txn.alter_table("users", AlterTable::DropColumn { name: "age".into(), cascade: false }).unwrap();
    txn.alter_table("users", AlterTable::RenameColumn { from: "email".into(), to: "mail".into() }).unwrap();
    txn.commit().unwrap();
    let mut txn = db.begin().unwrap();
    let t = txn.table("users").unwrap();
    let names: Vec<_> = t.columns().iter().map(|c| c.name.clone()).collect();
    assert_eq!(names, vec!["id", "mail"]);
    assert_eq!(values(&mut txn, "users")[0], vec![i8v(1), text("ann@x")]);
    // The unique index follows the renamed column.
    expect_sqlstate(txn.insert(&t, vec![i8v(9), text("ann@x")]), "23505");
    txn.rollback().unwrap();
    let mut txn = db.begin().unwrap();
    txn.insert(&t, vec![i8v(9), text("new@x")]).unwrap();
    // Re-adding a column by the dropped name gives a fresh column.
    txn.alter_table("users", AlterTable::AddColumn(Column::new("age", DataType::Text))).unwrap();
    let t = txn.table("users").unwrap();
    let row = txn.get(&t, &[i8v(1)]).unwrap().unwrap();
    assert_eq!(row.values, vec![i8v(1), text("ann@x"), Value::Null]);
    txn.commit().unwrap();
}

#[test]
fn add_and_drop_constraints() {
    let db = open_db();
    users(&db);
    let mut txn = db.begin().unwrap();
    let t = txn.table("users").unwrap();
    let row = txn.get(&t, &[i8v(3)]).unwrap().unwrap();
    txn.update(&t, row.id, vec![i8v(3), text("cy@x"), i8v(21)]).unwrap(); // ages 21, 22, 21
    txn.commit().unwrap();

    // Existing rows are validated.
    let unique_age = ConstraintSpec::Unique { name: None, columns: vec!["age".into()] };
    let mut txn = db.begin().unwrap();
    let err = expect_sqlstate(txn.alter_table("users", AlterTable::AddConstraint(unique_age.clone())), "23505");
    assert!(matches!(&err, Error::UniqueViolation { constraint, .. } if constraint == "users_age_key"), "{err:?}");
    txn.rollback().unwrap();
    let adult = ConstraintSpec::Check {
        name: Some("adult".into()),
        expr: Expr::Compare(CompareOp::GtEq, col(2), lit(i8v(22))),
    };
    let mut txn = db.begin().unwrap();
    let err = expect_sqlstate(txn.alter_table("users", AlterTable::AddConstraint(adult)), "23514");
    assert!(err.to_string().contains("\"adult\""), "{err}");
    txn.rollback().unwrap();

    // A valid check is enforced from then on, and can be dropped again.
    let positive = ConstraintSpec::Check {
        name: Some("positive_age".into()),
        expr: Expr::Compare(CompareOp::Gt, col(2), lit(i8v(0))),
    };
    let mut txn = db.begin().unwrap();
    txn.alter_table("users", AlterTable::AddConstraint(positive)).unwrap();
    txn.commit().unwrap();
    let mut txn = db.begin().unwrap();
    let t = txn.table("users").unwrap();
    expect_sqlstate(txn.insert(&t, vec![i8v(8), text("neg@x"), i8v(-1)]), "23514");
    txn.rollback().unwrap();
    let mut txn = db.begin().unwrap();
    txn.alter_table("users", AlterTable::DropConstraint { name: "positive_age".into(), cascade: false }).unwrap();
    txn.commit().unwrap();
    let mut txn = db.begin().unwrap();
    let t = txn.table("users").unwrap();
    txn.insert(&t, vec![i8v(8), text("neg@x"), i8v(-1)]).unwrap();
    txn.commit().unwrap();

    // Dropping the UNIQUE constraint lifts it.
    let mut txn = db.begin().unwrap();
    txn.alter_table("users", AlterTable::DropConstraint { name: "users_email_key".into(), cascade: false }).unwrap();
    txn.commit().unwrap();
    let mut txn = db.begin().unwrap();
    let t = txn.table("users").unwrap();
    txn.insert(&t, vec![i8v(9), text("ann@x"), Value::Null]).unwrap();
    txn.commit().unwrap();
    let mut txn = db.begin().unwrap();
    let err = expect_sqlstate(
        txn.alter_table("users", AlterTable::DropConstraint { name: "nope".into(), cascade: false }),
        "42704",
    );
    assert_eq!(err.to_string(), "constraint \"nope\" does not exist");
}

/// After `DROP CONSTRAINT` the transaction itself may write rows the
/// constraint would have rejected, as in PostgreSQL.
#[test]
fn dropped_unique_constraint_is_not_enforced_in_the_same_transaction() {
    let db = open_db();
    users(&db);
    let mut txn = db.begin().unwrap();
    txn.alter_table("users", AlterTable::DropConstraint { name: "users_email_key".into(), cascade: false }).unwrap();
    let t = txn.table("users").unwrap();
    assert!(t.schema().index("users_email_key").is_none());
    txn.insert(&t, vec![i8v(9), text("ann@x"), Value::Null]).unwrap();
    txn.commit().unwrap();

    let mut txn = db.begin().unwrap();
    txn.alter_table("users", AlterTable::DropConstraint { name: "users_pkey".into(), cascade: false }).unwrap();
    let t = txn.table("users").unwrap();
    txn.insert(&t, vec![i8v(1), text("again@x"), Value::Null]).unwrap();
    txn.commit().unwrap();
}

/// Adding a primary key to a table whose rows have older versions with
/// other key values (not yet collected) must judge uniqueness by the live
/// rows only, and later inserts of a key an old version held must work.
#[test]
fn add_primary_key_to_a_table_with_history() {
    let db = open_db();
    let mut txn = db.begin().unwrap();
    txn.create_table(TableSchema::new("t").column(Column::new("a", DataType::Int8))).unwrap();
    let t = txn.table("t").unwrap();
    let first = txn.insert(&t, vec![i8v(1)]).unwrap();
    txn.commit().unwrap();
    let mut txn = db.begin().unwrap();
    txn.update(&t, first, vec![i8v(2)]).unwrap(); // the old version (a = 1) stays until collected
    txn.commit().unwrap();

    // Adding the key while no other row holds 1: the key build must not
    // treat the old version as a live row.
    let mut txn = db.begin().unwrap();
    txn.alter_table(
        "t",
        AlterTable::AddConstraint(ConstraintSpec::PrimaryKey { name: None, columns: vec!["a".into()] }),
    )
    .unwrap();
    txn.commit().unwrap();
    let mut txn = db.begin().unwrap();
    let t = txn.table("t").unwrap();
    txn.insert(&t, vec![i8v(1)]).expect("key 1 is free: only an old version of another row had it");
    txn.commit().unwrap();
}

#[test]
fn add_primary_key_when_a_live_row_has_an_old_versions_key() {
    let db = open_db();
    let mut txn = db.begin().unwrap();
    txn.create_table(TableSchema::new("t").column(Column::new("a", DataType::Int8))).unwrap();
    let t = txn.table("t").unwrap();
    let first = txn.insert(&t, vec![i8v(1)]).unwrap();
    txn.commit().unwrap();
    let mut txn = db.begin().unwrap();
    txn.update(&t, first, vec![i8v(2)]).unwrap();
    txn.insert(&t, vec![i8v(1)]).unwrap(); // live rows: 2 and 1, unique
    txn.commit().unwrap();
    let mut txn = db.begin().unwrap();
    txn.alter_table(
        "t",
        AlterTable::AddConstraint(ConstraintSpec::PrimaryKey { name: None, columns: vec!["a".into()] }),
    )
    .expect("the live rows are unique");
    txn.commit().unwrap();
    let mut txn = db.begin().unwrap();
    let t = txn.table("t").unwrap();
    assert_eq!(txn.get(&t, &[i8v(1)]).unwrap().map(|r| r.values), Some(vec![i8v(1)]));
    assert_eq!(txn.get(&t, &[i8v(2)]).unwrap().map(|r| r.values), Some(vec![i8v(2)]));
}

/// Tables past the parallel-build size fill a new key from several
/// threads: every row gets its entry, and a duplicate pair split between
/// the threads' slices is still found.
#[test]
fn keys_of_a_large_table_are_built_in_parallel() {
    const ROWS: i64 = 150_000;
    let db = open_db();
    let mut txn = db.begin().unwrap();
    txn.create_table(TableSchema::new("big").column(Column::new("a", DataType::Int8))).unwrap();
    txn.create_table(TableSchema::new("dup").column(Column::new("a", DataType::Int8))).unwrap();
    let big = txn.table("big").unwrap();
    let dup = txn.table("dup").unwrap();
    for i in 0..ROWS {
        txn.insert(&big, vec![i8v(i * 7)]).unwrap();
        // Key 3 is both first and last.
        txn.insert(&dup, vec![i8v(if i == ROWS - 1 { 3 } else { i + 3 })]).unwrap();
    }
    txn.commit().unwrap();
    let pk = |columns: &str| {
        AlterTable::AddConstraint(ConstraintSpec::PrimaryKey { name: None, columns: vec![columns.into()] })
    };
    let mut txn = db.begin().unwrap();
    txn.alter_table("big", pk("a")).unwrap();
    txn.commit().unwrap();
    let mut txn = db.begin().unwrap();
    let big = txn.table("big").unwrap();
    for i in [0, 1, ROWS / 2, ROWS - 1] {
        assert_eq!(txn.get(&big, &[i8v(i * 7)]).unwrap().map(|r| r.values), Some(vec![i8v(i * 7)]));
    }
    assert!(txn.get(&big, &[i8v(1)]).unwrap().is_none());
    expect_sqlstate(txn.insert(&big, vec![i8v(ROWS * 7 - 7)]), "23505");
    txn.rollback().unwrap();
    let mut txn = db.begin().unwrap();
    expect_sqlstate(txn.alter_table("dup", pk("a")), "23505");
}

/// A writer must not get an internal error because another transaction is
/// adding a column to the table (PostgreSQL would make it wait for the
/// ALTER; a retryable error would also be acceptable).
#[test]
fn writers_during_an_uncommitted_add_column() {
    let db = open_db();
    users(&db);
    let writer = Session::begin(&db, IsolationLevel::Snapshot);
    let alter = Session::begin(&db, IsolationLevel::Snapshot);
    alter.run(|t| t.alter_table("users", AlterTable::AddColumn(Column::new("extra", DataType::Int8)))).unwrap();
    let pending = writer.start(|t| {
        let users = t.table("users")?;
        t.insert(&users, vec![i8v(10), text("w@x"), Value::Null])?;
        let row = t.get(&users, &[i8v(1)])?.expect("row 1");
        t.update(&users, row.id, vec![i8v(1), text("ann2@x"), i8v(1)])
    });
    // Let the ALTER finish after a moment, in case the writer waits for it.
    std::thread::sleep(Duration::from_millis(100));
    alter.commit().unwrap();
    match pending.wait() {
        Ok(_) => {}
        Err(e) => {
            assert!(e.is_retryable(), "a writer failed with a non-retryable error during ADD COLUMN: {e:?} ({e})")
        }
    }
}

/// A transaction whose snapshot predates a committed ADD COLUMN writes the
/// table: PostgreSQL lets it write (with the new column NULL/default);
/// memdb may also refuse with a serialization failure, but not with an
/// internal error.
#[test]
fn writer_with_a_snapshot_older_than_add_column() {
    let db = open_db();
    users(&db);
    let mut old = db.begin().unwrap();
    let t = old.table("users").unwrap();
    let mut txn = db.begin().unwrap();
    txn.alter_table("users", AlterTable::AddColumn(Column::new("extra", DataType::Int8).default(i8v(7)))).unwrap();
    txn.commit().unwrap();
    let result = old.insert(&t, vec![i8v(10), text("old@x"), Value::Null]).and_then(|_| old.commit().map(|_| ()));
    if let Err(e) = result {
        assert!(e.is_retryable(), "non-retryable error from a writer with an old snapshot: {e:?} ({e})");
    }
}

/// A unique index being built by an uncommitted transaction does not exist
/// for others yet: their writes must not fail on it. (The builder then
/// fails at commit, when it re-validates the rows.)
#[test]
fn uncommitted_unique_index_does_not_constrain_others() {
    let db = open_db();
    users(&db);
    let builder = Session::begin(&db, IsolationLevel::Snapshot);
    let other = Session::begin(&db, IsolationLevel::Snapshot);
    builder.run(|t| t.create_index(IndexSpec::new("users", ["age"]).named("users_age_uq").unique())).unwrap();
    let result = other.run(|t| {
        let users = t.table("users")?;
        t.insert(&users, vec![i8v(10), text("x@x"), i8v(21)]) // age 21 = ann's
    });
    assert!(result.is_ok(), "a write failed on an index its transaction cannot see: {result:?}");
    other.commit().unwrap();
    expect_sqlstate(builder.commit(), "23505");
}

// ---------------------------------------------------------------------------
// Indexes.

#[test]
fn create_and_drop_indexes_on_existing_rows() {
    let db = open_db();
    users(&db);
    let mut old = db.begin().unwrap();
    let mut txn = db.begin().unwrap();
    let t = txn.table("users").unwrap();
    txn.insert(&t, vec![i8v(4), text("dee@x"), i8v(22)]).unwrap(); // uncommitted row, indexed too
    let by_age = txn.create_index(IndexSpec::new("users", ["age"])).unwrap();
    assert_eq!(by_age, "users_age_idx");
    let by_mail = txn.create_index(IndexSpec::new("users", ["email"]).named("users_email_hash").hash()).unwrap();
    let by_age_id = txn.create_index(IndexSpec::new("users", ["age", "id"]).named("users_age_id_uq").unique()).unwrap();
    let t = txn.table("users").unwrap();
    let ages = |txn: &mut Transaction, t: &Table, age| {
        let mut ids: Vec<_> = txn
            .index_lookup(t, "users_age_idx", &[i8v(age)])
            .unwrap()
            .into_iter()
            .map(|r| r.values[0].clone())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(ages(&mut txn, &t, 22), vec![i8v(2), i8v(4)]);
    assert_eq!(txn.index_lookup(&t, &by_mail, &[text("cy@x")]).unwrap().len(), 1);
    let range = ScanRange::Index {
        index: by_age_id.clone(),
        lower: std::ops::Bound::Included(vec![i8v(22)]),
        upper: std::ops::Bound::Unbounded,
    };
    let ids: Vec<_> = common::scan_range(&mut txn, &t, range, true).into_iter().map(|r| r.values[0].clone()).collect();
    assert_eq!(ids, vec![i8v(3), i8v(4), i8v(2)], "ordered by (age, id) descending");
    txn.commit().unwrap();

    // The old snapshot does not know the indexes.
    let t_old = old.table("users").unwrap();
    expect_sqlstate(old.index_lookup(&t_old, "users_age_idx", &[i8v(22)]), "42704");

    // Maintained by later writes.
    let mut txn = db.begin().unwrap();
    let row = txn.get(&t, &[i8v(2)]).unwrap().unwrap();
    txn.update(&t, row.id, vec![i8v(2), text("bob@x"), i8v(30)]).unwrap();
    txn.commit().unwrap();
    let mut txn = db.begin().unwrap();
    let t = txn.table("users").unwrap();
    assert_eq!(ages(&mut txn, &t, 22), vec![i8v(4)]);
    assert_eq!(ages(&mut txn, &t, 30), vec![i8v(2)]);
    expect_sqlstate(txn.insert(&t, vec![i8v(2), text("q@x"), i8v(30)]), "23505");
    txn.rollback().unwrap();

    // Drop, also rolled back; an index backing a constraint cannot be dropped.
    let mut txn = db.begin().unwrap();
    txn.drop_index("users_age_idx").unwrap();
    let t = txn.table("users").unwrap();
    expect_sqlstate(txn.index_lookup(&t, "users_age_idx", &[i8v(22)]), "42704");
    txn.rollback().unwrap();
    let mut txn = db.begin().unwrap();
    let t = txn.table("users").unwrap();
    assert_eq!(ages(&mut txn, &t, 30), vec![i8v(2)]);
    expect_sqlstate(txn.drop_index("users_email_key"), "2BP01");
    txn.rollback().unwrap();
    let mut txn = db.begin().unwrap();
    txn.drop_index("users_age_idx").unwrap();
    txn.drop_index("users_email_hash").unwrap();
    txn.commit().unwrap();
    let mut txn = db.begin().unwrap();
    let t = txn.table("users").unwrap();
    expect_sqlstate(txn.index_lookup(&t, "users_email_hash", &[text("cy@x")]), "42704");
    txn.insert(&t, vec![i8v(5), text("e@x"), i8v(22)]).unwrap();
}

#[test]
fn unique_index_on_duplicate_rows_fails() {
    let db = open_db();
    users(&db);
    let mut txn = db.begin().unwrap();
    let t = txn.table("users").unwrap();
    txn.insert(&t, vec![i8v(4), text("dee@x"), i8v(22)]).unwrap();
    txn.commit().unwrap();
    for kind in ["btree", "hash"] {
        let mut txn = db.begin().unwrap();
        let mut spec = IndexSpec::new("users", ["age"]).named("age_uq").unique();
        if kind == "hash" {
            spec = spec.hash();
        }
        let err = expect_sqlstate(txn.create_index(spec), "23505");
        assert!(matches!(&err, Error::UniqueViolation { constraint, .. } if constraint == "age_uq"), "{kind}: {err:?}");
        txn.rollback().unwrap();
    }
    let mut txn = db.begin().unwrap();
    let t = txn.table("users").unwrap();
    assert!(t.schema().index("age_uq").is_none());
    txn.insert(&t, vec![i8v(5), text("e@x"), i8v(22)]).unwrap();
}

// ---------------------------------------------------------------------------
// TRUNCATE.

#[test]
fn truncate_is_transactional() {
    let db = open_db();
    users(&db);
    let mut old = db.begin().unwrap();
    let mut txn = db.begin().unwrap();
    txn.truncate(&["users"]).unwrap();
    assert!(values(&mut txn, "users").is_empty());
    txn.rollback().unwrap();
    let mut txn = db.begin().unwrap();
    assert_eq!(values(&mut txn, "users").len(), 3);
    txn.truncate(&["users"]).unwrap();
    let t = txn.table("users").unwrap();
    txn.insert(&t, vec![i8v(1), text("ann@x"), Value::Null]).unwrap();
    txn.commit().unwrap();
    db.gc();
    assert_eq!(values(&mut old, "users").len(), 3, "an older snapshot still sees the rows");
    let t_old = old.table("users").unwrap();
    assert!(old.get(&t_old, &[i8v(2)]).unwrap().is_some());
    let mut txn = db.begin().unwrap();
    assert_eq!(values(&mut txn, "users"), vec![vec![i8v(1), text("ann@x"), Value::Null]]);
    let t = txn.table("users").unwrap();
    expect_sqlstate(txn.insert(&t, vec![i8v(2), text("ann@x"), Value::Null]), "23505");
}

// ---------------------------------------------------------------------------
// Unknown and duplicate objects.

#[test]
fn unknown_and_duplicate_objects() {
    let db = open_db();
    users(&db);
    let mut txn = db.begin().unwrap();
    let err = expect_sqlstate(txn.table("nope"), "42P01");
    assert_eq!(err.to_string(), "relation \"nope\" does not exist");
    expect_sqlstate(txn.drop_table("nope", false), "42P01");
    txn.rollback().unwrap();

    type Attempt = Box<dyn FnOnce(&mut Transaction) -> Result<(), Error>>;
    let attempts: Vec<(&str, Attempt)> = vec![
        ("42P07", Box::new(|t| t.create_table(TableSchema::new("users").column(Column::new("a", DataType::Int8))))),
        (
            "42P07",
            Box::new(|t| t.create_table(TableSchema::new("users_pkey").column(Column::new("a", DataType::Int8)))),
        ),
        ("42P07", Box::new(|t| t.create_index(IndexSpec::new("users", ["age"]).named("users_email_key")).map(|_| ()))),
        ("42P07", Box::new(|t| t.alter_table("users", AlterTable::RenameTable("users_pkey".into())))),
        (
            "42701",
            Box::new(|t| {
                t.create_table(
                    TableSchema::new("dup")
                        .column(Column::new("a", DataType::Int8))
                        .column(Column::new("a", DataType::Text)),
                )
            }),
        ),
        ("42701", Box::new(|t| t.alter_table("users", AlterTable::AddColumn(Column::new("email", DataType::Text))))),
        (
            "42701",
            Box::new(|t| t.alter_table("users", AlterTable::RenameColumn { from: "age".into(), to: "email".into() })),
        ),
        ("42703", Box::new(|t| t.alter_table("users", AlterTable::DropColumn { name: "nope".into(), cascade: false }))),
        ("42703", Box::new(|t| t.create_index(IndexSpec::new("users", ["nope"])).map(|_| ()))),
        ("42703", Box::new(|t| t.table("users")?.column_position("nope").map(|_| ()))),
        ("42P01", Box::new(|t| t.create_index(IndexSpec::new("nope", ["a"])).map(|_| ()))),
        ("42P01", Box::new(|t| t.alter_table("nope", AlterTable::RenameTable("x".into())))),
        ("42704", Box::new(|t| t.drop_index("nope"))),
    ];
    for (sqlstate, attempt) in attempts {
        let mut txn = db.begin().unwrap();
        let result = attempt(&mut txn);
        let err = expect_sqlstate(result, sqlstate);
        if sqlstate == "42703" {
            assert!(err.to_string().contains("\"nope\""), "{err}");
        }
        txn.rollback().unwrap();
    }
    // Nothing changed.
    let mut txn = db.begin().unwrap();
    assert_eq!(txn.table_names(), vec!["users".to_owned()]);
    assert_eq!(values(&mut txn, "users").len(), 3);
}

// ---------------------------------------------------------------------------
// Constraints under concurrency: a check that depends on another running
// transaction's uncommitted row waits for it, then decides.

fn insert_user(t: &mut Transaction, id: i64, email: &str) -> Result<(), Error> {
    let users = t.table("users")?;
    t.insert(&users, vec![i8v(id), text(email), Value::Null]).map(|_| ())
}

#[test]
fn unique_checks_wait_for_uncommitted_keys() {
    for (key_is_primary, commit_first) in [(true, true), (true, false), (false, true), (false, false)] {
        let db = open_db();
        users(&db);
        let t1 = Session::begin(&db, IsolationLevel::ReadCommitted);
        let t2 = Session::begin(&db, IsolationLevel::ReadCommitted);
        // Same primary key, or same email with different primary keys.
        let (id2, email2) = if key_is_primary { (10, "other@x") } else { (11, "new@x") };
        t1.run(|t| insert_user(t, 10, "new@x")).unwrap();
        let blocked = t2.start(move |t| insert_user(t, id2, email2));
        blocked.assert_blocked();
        if commit_first {
            t1.commit().unwrap();
            let err = expect_sqlstate(blocked.wait(), "23505");
            let want = if key_is_primary { "users_pkey" } else { "users_email_key" };
            assert!(matches!(&err, Error::UniqueViolation { constraint, .. } if constraint == want), "{err:?}");
        } else {
            t1.rollback();
            blocked.wait().unwrap();
            t2.commit().unwrap();
        }
    }
}

#[test]
fn unique_key_freed_by_an_uncommitted_delete() {
    let db = open_db();
    users(&db);
    let t1 = Session::begin(&db, IsolationLevel::ReadCommitted);
    let t2 = Session::begin(&db, IsolationLevel::ReadCommitted);
    t1.run(|t| {
        let users = t.table("users")?;
        t.delete_by_key(&users, &[i8v(1)])
    })
    .unwrap();
    let blocked = t2.start(|t| insert_user(t, 20, "ann@x"));
    blocked.assert_blocked();
    t1.commit().unwrap();
    blocked.wait().unwrap();
    t2.commit().unwrap();
}

#[test]
fn read_only_transactions_reject_writes() {
    let db = open_db();
    users(&db);
    let mut txn = db.begin_with(memdb_engine::TxnOptions::read_only(IsolationLevel::Snapshot)).unwrap();
    let t = txn.table("users").unwrap();
    let err = expect_sqlstate(txn.insert(&t, vec![i8v(9), text("z@x"), Value::Null]), "25006");
    assert_eq!(err.to_string(), "cannot execute INSERT in a read-only transaction");
    expect_sqlstate(txn.create_table(TableSchema::new("x").column(Column::new("a", DataType::Int8))), "25006");
    assert_eq!(values(&mut txn, "users").len(), 3, "reads still work");
}

#[test]
fn too_many_transactions() {
    let config = memdb_engine::Config { max_transactions: 2, ..memdb_engine::Config::memory().with_gc_interval(None) };
    let db = Database::open(config).unwrap();
    let a = db.begin().unwrap();
    let _b = db.begin().unwrap();
    expect_sqlstate(db.begin(), "53300");
    drop(a);
    db.begin().unwrap();
}

/// `now()` defaults take the statement's timestamp from the clock.
#[test]
fn now_defaults_follow_the_clock() {
    use std::sync::Arc;
    let clock = Arc::new(memdb_engine::ManualClock::new(1_000_000));
    let db = Database::open(memdb_engine::Config::memory().with_gc_interval(None).with_clock(clock.clone())).unwrap();
    let mut txn = db.begin().unwrap();
    txn.create_table(
        TableSchema::new("events")
            .column(Column::new("id", DataType::Int8))
            .column(Column::new("at", DataType::TimestampTz).default(Expr::Function("now".into(), vec![]))),
    )
    .unwrap();
    let t = txn.table("events").unwrap();
    txn.insert_columns(&t, &[0], vec![i8v(1)]).unwrap();
    clock.advance(Duration::from_secs(1));
    txn.begin_statement().unwrap();
    txn.insert_columns(&t, &[0], vec![i8v(2)]).unwrap();
    let at: Vec<_> = values(&mut txn, "events").into_iter().map(|r| r[1].clone()).collect();
    assert_eq!(at, vec![Value::TimestampTz(1_000_000), Value::TimestampTz(2_000_000)]);
}

/// A transaction marked `statement_starts_now` keeps its begin timestamp
/// and snapshot for its first statement only; later ones take their own.
#[test]
fn the_first_statement_of_an_autocommit_transaction_keeps_its_snapshot() {
    use std::sync::Arc;
    let clock = Arc::new(memdb_engine::ManualClock::new(1_000_000));
    let db = Database::open(memdb_engine::Config::memory().with_gc_interval(None).with_clock(clock.clone())).unwrap();
    let mut ddl = db.begin().unwrap();
    ddl.create_table(TableSchema::new("t").column(Column::new("id", DataType::Int8))).unwrap();
    ddl.commit().unwrap();

    let read_committed = memdb_engine::TxnOptions::isolation(memdb_engine::IsolationLevel::ReadCommitted);
    let mut txn = db.begin_with(read_committed).unwrap().statement_starts_now();
    let mut writer = db.begin().unwrap();
    let t = writer.table("t").unwrap();
    writer.insert(&t, vec![i8v(1)]).unwrap();
    writer.commit().unwrap();
    clock.advance(Duration::from_secs(1));
    txn.begin_statement().unwrap();
    assert_eq!(txn.now(), 1_000_000, "the first statement has the transaction's timestamp");
    assert!(values(&mut txn, "t").is_empty(), "and its snapshot");
    txn.begin_statement().unwrap();
    assert_eq!(txn.now(), 2_000_000, "a later statement reads the clock");
    assert_eq!(values(&mut txn, "t").len(), 1, "and takes a new snapshot (READ COMMITTED)");
}

/// ADD PRIMARY KEY while another transaction has an uncommitted update of
/// the key column: whatever becomes of that transaction, every live row
/// must be reachable through the new key, and the key must stay unique.
#[test]
fn add_primary_key_while_a_key_column_update_is_pending() {
    let db = open_db();
    let mut txn = db.begin().unwrap();
    txn.create_table(TableSchema::new("t").column(Column::new("a", DataType::Int8))).unwrap();
    let t = txn.table("t").unwrap();
    let row = txn.insert(&t, vec![i8v(1)]).unwrap();
    txn.insert(&t, vec![i8v(3)]).unwrap();
    txn.commit().unwrap();

    let writer = Session::begin(&db, IsolationLevel::Snapshot);
    let t_w = t.clone();
    assert!(writer.run(move |w| w.update(&t_w, row, vec![i8v(2)])).unwrap());
    let mut ddl = db.begin().unwrap();
    let pk = ConstraintSpec::PrimaryKey { name: None, columns: vec!["a".into()] };
    match ddl.alter_table("t", AlterTable::AddConstraint(pk)) {
        Ok(()) => {
            ddl.commit().unwrap();
        }
        Err(e) => {
            // Refusing (or waiting) is fine too; then there is nothing to check.
            assert!(e.is_retryable(), "{e:?}");
            return;
        }
    }
    // The writer either commits (a = 2) or fails because the schema changed.
    let committed = writer.commit().is_ok();
    let mut txn = db.begin().unwrap();
    let t = txn.table("t").unwrap();
    let live = if committed { 2 } else { 1 };
    let found = txn.get(&t, &[i8v(live)]).unwrap();
    assert_eq!(found.map(|r| r.values), Some(vec![i8v(live)]), "the row with a = {live} is reachable by its key");
    expect_sqlstate(txn.insert(&t, vec![i8v(live)]), "23505");
}

/// A transaction may write a table and then drop (or truncate) it; the
/// commit must not fail as if another transaction had changed the table.
#[test]
fn write_then_drop_or_truncate_in_one_transaction() {
    for drop in [true, false] {
        let db = open_db();
        users(&db);
        let mut txn = db.begin().unwrap();
        insert_user(&mut txn, 9, "z@x").unwrap();
        if drop {
            txn.drop_table("users", false).unwrap();
        } else {
            txn.truncate(&["users"]).unwrap();
        }
        let what = if drop { "DROP TABLE" } else { "TRUNCATE" };
        txn.commit().unwrap_or_else(|e| panic!("insert + {what} in one transaction: commit failed with {e:?}"));
        let mut txn = db.begin().unwrap();
        if drop {
            expect_sqlstate(txn.table("users"), "42P01");
        } else {
            assert!(values(&mut txn, "users").is_empty());
        }
    }
}
