//! Row locks without a change (`SELECT … FOR UPDATE / FOR SHARE`): they
//! block writers and conflicting lockers until the holder ends, honour
//! NOWAIT and SKIP LOCKED, take part in deadlock detection, and follow the
//! isolation level's rules for rows changed after the snapshot.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

mod common;

use memdb_engine::{Column, DataType, Database, IsolationLevel, LockMode, LockWait, RowId, TableSchema, Value};

use common::{Session, expect_sqlstate, i8v, open_db};

/// `accounts (id bigint primary key, balance bigint)` with rows 1 → 100 and
/// 2 → 200; returns their row ids.
fn accounts() -> (Database, RowId, RowId) {
    let db = open_db();
    let mut txn = db.begin().unwrap();
    txn.create_table(
        TableSchema::new("accounts")
            .column(Column::new("id", DataType::Int8))
            .column(Column::new("balance", DataType::Int8))
            .primary_key(["id"]),
    )
    .unwrap();
    let t = txn.table("accounts").unwrap();
    let a = txn.insert(&t, vec![i8v(1), i8v(100)]).unwrap();
    let b = txn.insert(&t, vec![i8v(2), i8v(200)]).unwrap();
    txn.commit().unwrap();
    (db, a, b)
}

fn lock(
    session: &Session,
    row: RowId,
    mode: LockMode,
    wait: LockWait,
) -> common::Pending<Result<Option<Vec<Value>>, memdb_engine::Error>> {
    session.start(move |txn| {
        let t = txn.table("accounts").unwrap();
        txn.lock_row(&t, row, mode, wait).map(|r| r.map(|r| r.values))
    })
}

fn set_balance(session: &Session, row: RowId, balance: i64) -> common::Pending<Result<bool, memdb_engine::Error>> {
    session.start(move |txn| {
        let t = txn.table("accounts").unwrap();
        txn.update_with(&t, row, |old| Ok(Some(vec![old[0].clone(), i8v(balance)]))).map(|r| r.is_some())
    })
}

#[test]
fn for_update_blocks_writers_until_the_holder_ends() {
    let (db, a, _) = accounts();
    let t1 = Session::begin(&db, IsolationLevel::ReadCommitted);
    let t2 = Session::begin(&db, IsolationLevel::ReadCommitted);
    assert_eq!(lock(&t1, a, LockMode::Update, LockWait::Wait).wait().unwrap(), Some(vec![i8v(1), i8v(100)]));
    let blocked = set_balance(&t2, a, 150);
    blocked.assert_blocked();
    t1.commit().unwrap();
    assert!(blocked.wait().unwrap());
    t2.commit().unwrap();
}

#[test]
fn shared_locks_coexist_and_exclude_writers_and_update_lockers() {
    let (db, a, _) = accounts();
    let t1 = Session::begin(&db, IsolationLevel::ReadCommitted);
    let t2 = Session::begin(&db, IsolationLevel::ReadCommitted);
    let t3 = Session::begin(&db, IsolationLevel::ReadCommitted);
    assert!(lock(&t1, a, LockMode::Share, LockWait::Wait).wait().unwrap().is_some());
    assert!(lock(&t2, a, LockMode::Share, LockWait::Wait).wait().unwrap().is_some());
    expect_sqlstate(lock(&t3, a, LockMode::Update, LockWait::NoWait).wait(), "55P03");
    let writer = set_balance(&t3, a, 1);
    writer.assert_blocked();
    t1.rollback();
    writer.assert_blocked();
    t2.commit().unwrap();
    assert!(writer.wait().unwrap());
    t3.commit().unwrap();
}

#[test]
fn nowait_and_skip_locked() {
    let (db, a, b) = accounts();
    let t1 = Session::begin(&db, IsolationLevel::ReadCommitted);
    let t2 = Session::begin(&db, IsolationLevel::ReadCommitted);
    assert!(lock(&t1, a, LockMode::Update, LockWait::Wait).wait().unwrap().is_some());
    // A row another transaction is updating counts as locked too.
    assert!(set_balance(&t1, b, 5).wait().unwrap());
    for row in [a, b] {
        let err = expect_sqlstate(lock(&t2, row, LockMode::Share, LockWait::NoWait).wait(), "55P03");
        assert!(err.to_string().contains("accounts"), "{err}");
        assert_eq!(lock(&t2, row, LockMode::Update, LockWait::SkipLocked).wait().unwrap(), None);
    }
    t1.rollback();
    assert!(lock(&t2, a, LockMode::Update, LockWait::NoWait).wait().unwrap().is_some());
    t2.commit().unwrap();
}

#[test]
fn lock_cycles_are_deadlocks() {
    let (db, a, b) = accounts();
    let t1 = Session::begin(&db, IsolationLevel::ReadCommitted);
    let t2 = Session::begin(&db, IsolationLevel::ReadCommitted);
    assert!(lock(&t1, a, LockMode::Update, LockWait::Wait).wait().unwrap().is_some());
    assert!(lock(&t2, b, LockMode::Update, LockWait::Wait).wait().unwrap().is_some());
    let first = lock(&t1, b, LockMode::Update, LockWait::Wait);
    first.assert_blocked();
    // Closing the cycle: this waiter is the one that gives way.
    expect_sqlstate(lock(&t2, a, LockMode::Update, LockWait::Wait).wait(), "40P01");
    t2.rollback();
    assert!(first.wait().unwrap().is_some());
    t1.commit().unwrap();
}

#[test]
fn isolation_rules_for_rows_changed_after_the_snapshot() {
    for (isolation, expect_newest) in [
        (IsolationLevel::ReadCommitted, true),
        (IsolationLevel::Snapshot, false),
        (IsolationLevel::Serializable, false),
    ] {
        let (db, a, _) = accounts();
        let reader = Session::begin(&db, isolation);
        reader.run(|txn| txn.begin_statement().unwrap());
        let writer = Session::begin(&db, IsolationLevel::ReadCommitted);
        assert!(set_balance(&writer, a, 999).wait().unwrap());
        writer.commit().unwrap();
        reader.run(|txn| txn.begin_statement().unwrap());
        let locked = lock(&reader, a, LockMode::Update, LockWait::Wait).wait();
        if expect_newest {
            assert_eq!(locked.unwrap(), Some(vec![i8v(1), i8v(999)]), "{isolation:?} locks the newest version");
        } else {
            expect_sqlstate(locked, "40001");
        }
    }
}

#[test]
fn own_locks_do_not_block_own_writes_and_go_at_the_end() {
    let (db, a, _) = accounts();
    let mut txn = db.begin().unwrap();
    let t = txn.table("accounts").unwrap();
    assert!(txn.lock_row(&t, a, LockMode::Share, LockWait::NoWait).unwrap().is_some());
    assert!(txn.lock_row(&t, a, LockMode::Update, LockWait::NoWait).unwrap().is_some());
    assert!(txn.update(&t, a, vec![i8v(1), i8v(7)]).unwrap());
    assert_eq!(txn.get(&t, &[i8v(1)]).unwrap().unwrap().values, vec![i8v(1), i8v(7)]);
    txn.commit().unwrap();
    let mut other = db.begin().unwrap();
    assert!(other.lock_row(&t, a, LockMode::Update, LockWait::NoWait).unwrap().is_some());
    let mut ro = db.begin_with(memdb_engine::TxnOptions::read_only(IsolationLevel::Snapshot)).unwrap();
    expect_sqlstate(ro.lock_row(&t, a, LockMode::Share, LockWait::Wait), "25006");
    other.rollback().unwrap();
}
