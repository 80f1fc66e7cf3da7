//! Isolation levels against the anomalies PostgreSQL prevents.
//!
//! The scripts follow Hermitage (<https://github.com/ept/hermitage>,
//! `postgres.md`) on its table `test (id int primary key, value int)` with
//! rows (1, 10) and (2, 20). Each transaction lives on its own thread (a
//! [`Session`]), so a step that waits for another writer's row lock can be
//! seen to block and then to finish — or fail with a serialization failure —
//! once the other transaction ends. PostgreSQL's levels map to memdb's as
//! READ COMMITTED → `ReadCommitted`, REPEATABLE READ → `Snapshot`,
//! SERIALIZABLE → `Serializable`; each test runs at every level where
//! PostgreSQL prevents the anomaly:
//!
//! | anomaly | RC | Snapshot | Serializable |
//! |---|---|---|---|
//! | G0, G1a, G1b, G1c, OTV | ✓ | ✓ | ✓ |
//! | PMP, P4, G-single | | ✓ | ✓ |
//! | G2-item, G2 | | | ✓ |
//!
//! Also: the doctors' write skew, deadlock detection, lock timeouts, and
//! row locks being released by failed statements.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

mod common;

use std::time::Duration;

use memdb_engine::{
    Column, Config, DataType, Database, Error, IsolationLevel, Result, TableSchema, Transaction, Value,
};

use common::{ChildOutcome, Session, expect_sqlstate, i4v, in_child, run_child, text};

use IsolationLevel::{ReadCommitted as RC, Serializable, Snapshot};

const ALL: [IsolationLevel; 3] = [RC, Snapshot, Serializable];
const SNAPSHOT_AND_UP: [IsolationLevel; 2] = [Snapshot, Serializable];

// ---------------------------------------------------------------------------
// Hermitage's table and statements.

fn hermitage_db() -> Database {
    hermitage_db_with(Config::memory().with_gc_interval(None))
}

fn hermitage_db_with(config: Config) -> Database {
    let db = Database::open(config).unwrap();
    let mut txn = db.begin().unwrap();
    txn.create_table(
        TableSchema::new("test")
            .column(Column::new("id", DataType::Int4))
            .column(Column::new("value", DataType::Int4))
            .primary_key(["id"]),
    )
    .unwrap();
    let t = txn.table("test").unwrap();
    for (id, value) in [(1, 10), (2, 20)] {
        txn.insert(&t, vec![i4v(id), i4v(value)]).unwrap();
    }
    txn.commit().unwrap();
    db
}

fn int(v: &Value) -> i32 {
    i32::try_from(v.as_i64().expect("an integer")).unwrap()
}

/// `select * from test` (ordered by id).
fn select_all(txn: &mut Transaction) -> Result<Vec<(i32, i32)>> {
    select_where(txn, |_| true)
}

/// `select * from test where <predicate on value>`.
fn select_where(txn: &mut Transaction, pred: impl Fn(i32) -> bool) -> Result<Vec<(i32, i32)>> {
    txn.begin_statement()?;
    let t = txn.table("test")?;
    let mut rows = Vec::new();
    for row in txn.scan(&t, memdb_engine::ScanRange::Full, false)? {
        let row = row?;
        let (id, value) = (int(&row.values[0]), int(&row.values[1]));
        if pred(value) {
            rows.push((id, value));
        }
    }
    rows.sort_unstable();
    Ok(rows)
}

/// `select value from test where id = <id>`.
fn read(txn: &mut Transaction, id: i32) -> Result<Option<i32>> {
    txn.begin_statement()?;
    let t = txn.table("test")?;
    Ok(txn.get(&t, &[i4v(id)])?.map(|r| int(&r.values[1])))
}

/// `update test set value = f(value) where id = <id>`: under READ
/// COMMITTED, `f` applies to the newest version, as in PostgreSQL.
fn update(txn: &mut Transaction, id: i32, f: impl Fn(i32) -> i32) -> Result<bool> {
    txn.begin_statement()?;
    let t = txn.table("test")?;
    let Some(row) = txn.get(&t, &[i4v(id)])? else { return Ok(false) };
    let stored = txn.update_with(&t, row.id, |old| Ok(Some(vec![old[0].clone(), i4v(f(int(&old[1])))])))?;
    Ok(stored.is_some())
}

/// `update test set value = <value> where id = <id>`.
fn set(txn: &mut Transaction, id: i32, value: i32) -> Result<bool> {
    update(txn, id, move |_| value)
}

/// `insert into test values (<id>, <value>)`.
fn insert(txn: &mut Transaction, id: i32, value: i32) -> Result<()> {
    txn.begin_statement()?;
    let t = txn.table("test")?;
    txn.insert(&t, vec![i4v(id), i4v(value)]).map(|_| ())
}

/// `delete from test where value = <value>` (rows found in the statement's
/// snapshot).
fn delete_where_value(txn: &mut Transaction, value: i32) -> Result<usize> {
    txn.begin_statement()?;
    let t = txn.table("test")?;
    let doomed: Vec<_> =
        common::scan_all(txn, &t, false).into_iter().filter(|r| int(&r.values[1]) == value).map(|r| r.id).collect();
    let mut n = 0;
    for id in doomed {
        if txn.delete(&t, id)? {
            n += 1;
        }
    }
    Ok(n)
}

/// The committed contents, read by a new transaction.
fn committed(db: &Database) -> Vec<(i32, i32)> {
    let mut txn = db.begin().unwrap();
    select_all(&mut txn).unwrap()
}

#[track_caller]
fn assert_serialization_failure<T: std::fmt::Debug>(result: Result<T>) {
    let e = expect_sqlstate(result, "40001");
    assert!(matches!(e, Error::SerializationFailure(_)));
    assert!(e.is_retryable());
}

// ---------------------------------------------------------------------------
// G0, G1: prevented at every level.

/// G0, dirty writes: T2's write waits for T1's; neither overwrites the
/// other's uncommitted data.
#[test]
fn g0_write_cycles() {
    for level in ALL {
        let db = hermitage_db();
        let t1 = Session::begin(&db, level);
        let t2 = Session::begin(&db, level);
        assert!(t1.run(|t| set(t, 1, 11)).unwrap());
        let blocked = t2.start(|t| set(t, 1, 12));
        blocked.assert_blocked();
        assert!(t1.run(|t| set(t, 2, 21)).unwrap());
        t1.commit().unwrap();
        if level == RC {
            assert!(blocked.wait().unwrap(), "{level:?}");
            assert!(t2.run(|t| set(t, 2, 22)).unwrap());
            t2.commit().unwrap();
            assert_eq!(committed(&db), vec![(1, 12), (2, 22)], "{level:?}");
        } else {
            assert_serialization_failure(blocked.wait());
            t2.rollback();
            assert_eq!(committed(&db), vec![(1, 11), (2, 21)], "{level:?}");
        }
    }
}

/// A writer waiting for another's row lock proceeds when that one aborts,
/// at every level (the row it sees is unchanged).
#[test]
fn blocked_writer_proceeds_when_the_holder_aborts() {
    for level in ALL {
        let db = hermitage_db();
        let t1 = Session::begin(&db, level);
        let t2 = Session::begin(&db, level);
        assert!(t1.run(|t| set(t, 1, 11)).unwrap());
        let blocked = t2.start(|t| update(t, 1, |v| v + 2));
        blocked.assert_blocked();
        t1.rollback();
        assert!(blocked.wait().unwrap(), "{level:?}");
        t2.commit().unwrap();
        assert_eq!(committed(&db), vec![(1, 12), (2, 20)], "{level:?}");
    }
}

/// G1a, aborted reads: nobody sees a write that was rolled back.
#[test]
fn g1a_aborted_reads() {
    for level in ALL {
        let db = hermitage_db();
        let t1 = Session::begin(&db, level);
        let t2 = Session::begin(&db, level);
        assert!(t1.run(|t| set(t, 1, 101)).unwrap());
        assert_eq!(t2.run(select_all).unwrap(), vec![(1, 10), (2, 20)], "{level:?}");
        t1.rollback();
        assert_eq!(t2.run(select_all).unwrap(), vec![(1, 10), (2, 20)], "{level:?}");
        t2.commit().unwrap();
    }
}

/// G1b, intermediate reads: nobody sees a value a transaction overwrote
/// before committing.
#[test]
fn g1b_intermediate_reads() {
    for level in ALL {
        let db = hermitage_db();
        let t1 = Session::begin(&db, level);
        let t2 = Session::begin(&db, level);
        assert!(t1.run(|t| set(t, 1, 101)).unwrap());
        assert_eq!(t2.run(select_all).unwrap(), vec![(1, 10), (2, 20)], "{level:?}");
        assert!(t1.run(|t| set(t, 1, 11)).unwrap());
        t1.commit().unwrap();
        let after = if level == RC { vec![(1, 11), (2, 20)] } else { vec![(1, 10), (2, 20)] };
        assert_eq!(t2.run(select_all).unwrap(), after, "{level:?}");
        t2.commit().unwrap();
    }
}

/// G1c, circular information flow: each sees the other's row as committed
/// before either began (and never the other's uncommitted write).
#[test]
fn g1c_circular_information_flow() {
    for level in ALL {
        let db = hermitage_db();
        let t1 = Session::begin(&db, level);
        let t2 = Session::begin(&db, level);
        assert!(t1.run(|t| set(t, 1, 11)).unwrap());
        assert!(t2.run(|t| set(t, 2, 22)).unwrap());
        assert_eq!(t1.run(|t| read(t, 2)).unwrap(), Some(20), "{level:?}");
        assert_eq!(t2.run(|t| read(t, 1)).unwrap(), Some(10), "{level:?}");
        t1.commit().unwrap();
        if level == Serializable {
            // Each read the other's pre-write value: no serial order explains
            // that, so SERIALIZABLE must refuse the second commit.
            assert_serialization_failure(t2.commit());
            assert_eq!(committed(&db), vec![(1, 11), (2, 20)]);
        } else {
            t2.commit().unwrap();
            assert_eq!(committed(&db), vec![(1, 11), (2, 22)], "{level:?}");
        }
    }
}

/// OTV, observed transaction vanishes: once T3 saw T1's writes it never
/// sees a state without them, nor T2's uncommitted ones.
#[test]
fn otv_observed_transaction_vanishes() {
    for level in ALL {
        let db = hermitage_db();
        let t1 = Session::begin(&db, level);
        let t2 = Session::begin(&db, level);
        let t3 = Session::begin(&db, level);
        assert!(t1.run(|t| set(t, 1, 11)).unwrap());
        assert!(t1.run(|t| set(t, 2, 19)).unwrap());
        let blocked = t2.start(|t| set(t, 1, 12));
        blocked.assert_blocked();
        t1.commit().unwrap();
        if level == RC {
            assert!(blocked.wait().unwrap());
            assert_eq!(t3.run(|t| read(t, 1)).unwrap(), Some(11));
            assert!(t2.run(|t| set(t, 2, 18)).unwrap());
            assert_eq!(t3.run(|t| read(t, 2)).unwrap(), Some(19));
            t2.commit().unwrap();
            assert_eq!(t3.run(|t| read(t, 2)).unwrap(), Some(18));
            assert_eq!(t3.run(|t| read(t, 1)).unwrap(), Some(12));
        } else {
            assert_serialization_failure(blocked.wait());
            t2.rollback();
            // T3's snapshot predates T1's commit.
            assert_eq!(t3.run(select_all).unwrap(), vec![(1, 10), (2, 20)], "{level:?}");
        }
        t3.commit().unwrap();
    }
}

// ---------------------------------------------------------------------------
// PMP, P4, G-single: prevented from Snapshot up.

/// PMP, predicate many preceders: a predicate read does not change within
/// the transaction when a matching row is inserted concurrently.
#[test]
fn pmp_predicate_many_preceders() {
    for level in SNAPSHOT_AND_UP {
        let db = hermitage_db();
        let t1 = Session::begin(&db, level);
        let t2 = Session::begin(&db, level);
        assert_eq!(t1.run(|t| select_where(t, |v| v == 30)).unwrap(), vec![]);
        t2.run(|t| insert(t, 3, 30)).unwrap();
        t2.commit().unwrap();
        assert_eq!(t1.run(|t| select_where(t, |v| v % 3 == 0)).unwrap(), vec![], "{level:?}");
        t1.commit().unwrap();
    }
    // READ COMMITTED allows it, as PostgreSQL does: the next statement sees
    // the new row.
    let db = hermitage_db();
    let t1 = Session::begin(&db, RC);
    let t2 = Session::begin(&db, RC);
    assert_eq!(t1.run(|t| select_where(t, |v| v == 30)).unwrap(), vec![]);
    t2.run(|t| insert(t, 3, 30)).unwrap();
    t2.commit().unwrap();
    assert_eq!(t1.run(|t| select_where(t, |v| v % 3 == 0)).unwrap(), vec![(3, 30)]);
    t1.commit().unwrap();
}

/// PMP with a write predicate: a delete of rows a concurrent committed
/// update changed fails rather than acting on a stale predicate.
#[test]
fn pmp_write_predicate() {
    for level in SNAPSHOT_AND_UP {
        let db = hermitage_db();
        let t1 = Session::begin(&db, level);
        let t2 = Session::begin(&db, level);
        for id in [1, 2] {
            assert!(t1.run(move |t| update(t, id, |v| v + 10)).unwrap());
        }
        let blocked = t2.start(|t| delete_where_value(t, 20));
        blocked.assert_blocked();
        t1.commit().unwrap();
        assert_serialization_failure(blocked.wait());
        t2.rollback();
        assert_eq!(committed(&db), vec![(1, 20), (2, 30)], "{level:?}");
    }
}

/// P4, lost update: of two read-modify-write transactions on one row, the
/// second to write fails once the first commits.
#[test]
fn p4_lost_update() {
    for level in SNAPSHOT_AND_UP {
        let db = hermitage_db();
        let t1 = Session::begin(&db, level);
        let t2 = Session::begin(&db, level);
        assert_eq!(t1.run(|t| read(t, 1)).unwrap(), Some(10));
        assert_eq!(t2.run(|t| read(t, 1)).unwrap(), Some(10));
        assert!(t1.run(|t| set(t, 1, 11)).unwrap());
        let blocked = t2.start(|t| set(t, 1, 11));
        blocked.assert_blocked();
        t1.commit().unwrap();
        assert_serialization_failure(blocked.wait());
        t2.rollback();
        assert_eq!(committed(&db), vec![(1, 11), (2, 20)], "{level:?}");
    }
}

/// READ COMMITTED: `update ... set value = value + 1` from two transactions
/// applies both increments (the second re-reads the newest version).
#[test]
fn read_committed_updates_apply_to_the_newest_version() {
    let db = hermitage_db();
    let t1 = Session::begin(&db, RC);
    let t2 = Session::begin(&db, RC);
    assert!(t1.run(|t| update(t, 1, |v| v + 1)).unwrap());
    let blocked = t2.start(|t| update(t, 1, |v| v + 1));
    blocked.assert_blocked();
    t1.commit().unwrap();
    assert!(blocked.wait().unwrap());
    t2.commit().unwrap();
    assert_eq!(committed(&db), vec![(1, 12), (2, 20)]);
}

/// G-single, read skew: a transaction that read x before a concurrent
/// commit of x and y keeps reading the old y.
#[test]
fn g_single_read_skew() {
    for level in SNAPSHOT_AND_UP {
        let db = hermitage_db();
        let t1 = Session::begin(&db, level);
        let t2 = Session::begin(&db, level);
        assert_eq!(t1.run(|t| read(t, 1)).unwrap(), Some(10));
        assert_eq!(t2.run(|t| read(t, 1)).unwrap(), Some(10));
        assert_eq!(t2.run(|t| read(t, 2)).unwrap(), Some(20));
        assert!(t2.run(|t| set(t, 1, 12)).unwrap());
        assert!(t2.run(|t| set(t, 2, 18)).unwrap());
        t2.commit().unwrap();
        assert_eq!(t1.run(|t| read(t, 2)).unwrap(), Some(20), "{level:?}");
        t1.commit().unwrap();
    }
}

/// G-single with predicate reads.
#[test]
fn g_single_predicate_read_skew() {
    for level in SNAPSHOT_AND_UP {
        let db = hermitage_db();
        let t1 = Session::begin(&db, level);
        let t2 = Session::begin(&db, level);
        assert_eq!(t1.run(|t| select_where(t, |v| v % 5 == 0)).unwrap(), vec![(1, 10), (2, 20)]);
        assert!(t2.run(|t| set(t, 1, 12)).unwrap());
        t2.commit().unwrap();
        assert_eq!(t1.run(|t| select_where(t, |v| v % 3 == 0)).unwrap(), vec![], "{level:?}");
        t1.commit().unwrap();
    }
}

/// G-single with a write predicate: T1 deleting by a value T2 changed
/// after T1's snapshot fails.
#[test]
fn g_single_write_predicate() {
    for level in SNAPSHOT_AND_UP {
        let db = hermitage_db();
        let t1 = Session::begin(&db, level);
        let t2 = Session::begin(&db, level);
        assert_eq!(t1.run(|t| read(t, 1)).unwrap(), Some(10));
        assert_eq!(t2.run(select_all).unwrap(), vec![(1, 10), (2, 20)]);
        assert!(t2.run(|t| set(t, 1, 12)).unwrap());
        assert!(t2.run(|t| set(t, 2, 18)).unwrap());
        t2.commit().unwrap();
        assert_serialization_failure(t1.run(|t| delete_where_value(t, 20)));
        t1.rollback();
        assert_eq!(committed(&db), vec![(1, 12), (2, 18)], "{level:?}");
    }
}

// ---------------------------------------------------------------------------
// G2: prevented only by SERIALIZABLE.

/// Whether a transaction that already ran `steps` fails at its last write
/// or at commit (PostgreSQL may report either).
fn fails_to_finish(session: &Session, last: impl FnOnce(&mut Transaction) -> Result<bool> + Send + 'static) {
    match session.run(last) {
        Err(e) => {
            assert_serialization_failure::<()>(Err(e));
            session.rollback();
        }
        Ok(_) => assert_serialization_failure(session.commit()),
    }
}

/// G2-item, write skew on items.
#[test]
fn g2_item_write_skew() {
    for level in SNAPSHOT_AND_UP {
        let db = hermitage_db();
        let t1 = Session::begin(&db, level);
        let t2 = Session::begin(&db, level);
        for s in [&t1, &t2] {
            assert_eq!(s.run(|t| Ok::<_, Error>((read(t, 1)?, read(t, 2)?))).unwrap(), (Some(10), Some(20)));
        }
        assert!(t1.run(|t| set(t, 1, 11)).unwrap());
        t1.commit().unwrap();
        if level == Serializable {
            fails_to_finish(&t2, |t| set(t, 2, 21));
            assert_eq!(committed(&db), vec![(1, 11), (2, 20)]);
        } else {
            assert!(t2.run(|t| set(t, 2, 21)).unwrap());
            t2.commit().unwrap();
            assert_eq!(committed(&db), vec![(1, 11), (2, 21)], "REPEATABLE READ allows write skew");
        }
    }
}

/// G2, anti-dependency cycles through predicate reads: both insert a row
/// the other's predicate would have matched.
#[test]
fn g2_anti_dependency_cycles() {
    for level in SNAPSHOT_AND_UP {
        let db = hermitage_db();
        let t1 = Session::begin(&db, level);
        let t2 = Session::begin(&db, level);
        assert_eq!(t1.run(|t| select_where(t, |v| v % 3 == 0)).unwrap(), vec![]);
        assert_eq!(t2.run(|t| select_where(t, |v| v % 3 == 0)).unwrap(), vec![]);
        t1.run(|t| insert(t, 3, 30)).unwrap();
        t2.run(|t| insert(t, 4, 42)).unwrap();
        t1.commit().unwrap();
        if level == Serializable {
            assert_serialization_failure(t2.commit());
            assert_eq!(committed(&db), vec![(1, 10), (2, 20), (3, 30)]);
        } else {
            t2.commit().unwrap();
            assert_eq!(committed(&db), vec![(1, 10), (2, 20), (3, 30), (4, 42)]);
        }
    }
}

/// G2 with two anti-dependency edges and a read-only transaction between.
#[test]
fn g2_two_edges() {
    let db = hermitage_db();
    let t1 = Session::begin(&db, Serializable);
    let t2 = Session::begin(&db, Serializable);
    assert_eq!(t1.run(select_all).unwrap(), vec![(1, 10), (2, 20)]);
    assert!(t2.run(|t| update(t, 2, |v| v + 5)).unwrap());
    t2.commit().unwrap();
    let t3 = Session::begin(&db, Serializable);
    assert_eq!(t3.run(select_all).unwrap(), vec![(1, 10), (2, 25)]);
    t3.commit().unwrap();
    fails_to_finish(&t1, |t| set(t, 1, 0));
    assert_eq!(committed(&db), vec![(1, 10), (2, 25)]);
}

/// The classic write skew: two doctors on call, each transaction checks
/// that someone else is on call and takes itself off.
#[test]
fn write_skew_doctors_on_call() {
    fn doctors() -> Database {
        let db = Database::open(Config::memory().with_gc_interval(None)).unwrap();
        let mut txn = db.begin().unwrap();
        txn.create_table(
            TableSchema::new("doctors")
                .column(Column::new("name", DataType::Text))
                .column(Column::new("on_call", DataType::Bool).not_null())
                .primary_key(["name"]),
        )
        .unwrap();
        let t = txn.table("doctors").unwrap();
        for name in ["alice", "bob"] {
            txn.insert(&t, vec![text(name), Value::Bool(true)]).unwrap();
        }
        txn.commit().unwrap();
        db
    }
    /// "If at least two doctors are on call, take `name` off call."
    fn go_off_call(txn: &mut Transaction, name: &'static str) -> Result<bool> {
        let t = txn.table("doctors")?;
        let on_call = common::scan_all(txn, &t, false).iter().filter(|r| r.values[1] == Value::Bool(true)).count();
        if on_call < 2 {
            return Ok(false);
        }
        let row = txn.get(&t, &[text(name)])?.expect("doctor exists");
        txn.update(&t, row.id, vec![text(name), Value::Bool(false)])
    }
    fn on_call(db: &Database) -> usize {
        let mut txn = db.begin().unwrap();
        let t = txn.table("doctors").unwrap();
        common::scan_all(&mut txn, &t, false).iter().filter(|r| r.values[1] == Value::Bool(true)).count()
    }

    let db = doctors();
    let alice = Session::begin(&db, Serializable);
    let bob = Session::begin(&db, Serializable);
    assert!(alice.run(|t| go_off_call(t, "alice")).unwrap());
    assert!(bob.run(|t| go_off_call(t, "bob")).unwrap());
    alice.commit().unwrap();
    let err = bob.commit().unwrap_err();
    assert_eq!(err.sqlstate(), "40001", "{err}");
    assert_eq!(on_call(&db), 1, "SERIALIZABLE keeps a doctor on call");

    let db = doctors();
    let alice = Session::begin(&db, Snapshot);
    let bob = Session::begin(&db, Snapshot);
    assert!(alice.run(|t| go_off_call(t, "alice")).unwrap());
    assert!(bob.run(|t| go_off_call(t, "bob")).unwrap());
    alice.commit().unwrap();
    bob.commit().unwrap();
    assert_eq!(on_call(&db), 0, "snapshot isolation (REPEATABLE READ) allows write skew");
}

// ---------------------------------------------------------------------------
// Row locks: deadlocks, timeouts, release.

/// Two transactions locking two rows in opposite orders: the one that
/// closes the cycle gets a deadlock error, the other proceeds once the
/// victim rolls back.
#[test]
fn deadlock_is_detected() {
    for level in ALL {
        let db = hermitage_db();
        let t1 = Session::begin(&db, level);
        let t2 = Session::begin(&db, level);
        assert!(t1.run(|t| set(t, 1, 11)).unwrap());
        assert!(t2.run(|t| set(t, 2, 22)).unwrap());
        let waiting = t1.start(|t| set(t, 2, 21));
        waiting.assert_blocked();
        let err = expect_sqlstate(t2.run(|t| set(t, 1, 12)), "40P01");
        assert!(matches!(err, Error::Deadlock(_)) && err.is_retryable(), "{err:?}");
        t2.rollback();
        assert!(waiting.wait().unwrap(), "{level:?}");
        t1.commit().unwrap();
        assert_eq!(committed(&db), vec![(1, 11), (2, 21)], "{level:?}");
    }
}

/// With a lock timeout, a writer gives up waiting (55P03).
#[test]
fn lock_timeout_expires() {
    let db =
        hermitage_db_with(Config::memory().with_gc_interval(None).with_lock_timeout(Some(Duration::from_millis(100))));
    let t1 = Session::begin(&db, Snapshot);
    let t2 = Session::begin(&db, Snapshot);
    assert!(t1.run(|t| set(t, 1, 11)).unwrap());
    let err = expect_sqlstate(t2.run(|t| set(t, 1, 12)), "55P03");
    assert_eq!(err, Error::LockTimeout);
    t2.rollback();
    t1.commit().unwrap();
}

/// A failed UPDATE must not keep the row locked once its transaction is
/// rolled back. Runs in a child process because a leaked lock makes the
/// next writer spin forever.
#[test]
fn failed_update_releases_its_row_lock() {
    match run_child("child_failed_update_then_update_again", Duration::from_secs(20)) {
        ChildOutcome::Exited { success: true, .. } => {}
        ChildOutcome::Exited { success: false, stderr } => panic!("child failed:\n{stderr}"),
        ChildOutcome::TimedOut => panic!(
            "a writer waited forever for the row lock of a rolled-back transaction whose UPDATE had failed \
             (the claim taken by update_with is not released when the change is rejected)"
        ),
    }
}

#[test]
#[ignore = "run by failed_update_releases_its_row_lock in a child process"]
fn child_failed_update_then_update_again() {
    if !in_child() {
        return;
    }
    let db = hermitage_db();
    let mut txn = db.begin().unwrap();
    let t = txn.table("test").unwrap();
    let row = txn.get(&t, &[i4v(1)]).unwrap().unwrap();
    // Wrong number of values: rejected after the row was claimed.
    expect_sqlstate(txn.update(&t, row.id, vec![i4v(1)]), "22023");
    // A change function may fail too.
    let mut txn2 = db.begin().unwrap();
    let row2 = txn2.get(&t, &[i4v(2)]).unwrap().unwrap();
    expect_sqlstate(txn2.update_with(&t, row2.id, |_| Err(Error::DivisionByZero)), "22012");
    txn.rollback().unwrap();
    txn2.rollback().unwrap();

    let mut txn = db.begin().unwrap();
    assert!(set(&mut txn, 1, 11).unwrap());
    assert!(set(&mut txn, 2, 21).unwrap());
    txn.commit().unwrap();
    assert_eq!(committed(&db), vec![(1, 11), (2, 21)]);
}

/// A transaction is a value a server keeps per connection and moves
/// between threads (an async task may resume on another worker thread),
/// so it must be `Send`, also after it ran DDL (compile-time check).
#[test]
fn transactions_are_send() {
    fn assert_send<T: Send>() {}
    assert_send::<Transaction>();
    let db = hermitage_db();
    let mut txn = db.begin().unwrap();
    txn.create_table(TableSchema::new("moved").column(Column::new("x", DataType::Int4))).unwrap();
    let txn = std::thread::spawn(move || {
        let t = txn.table("moved").unwrap();
        txn.insert(&t, vec![i4v(1)]).unwrap();
        txn
    })
    .join()
    .unwrap();
    txn.commit().unwrap();
}

/// DDL takes a database-wide lock held until the transaction ends. Waiting
/// for it must take part in deadlock detection: here T2 holds a row lock and
/// waits for the DDL lock, while T1 holds the DDL lock and waits for T2's
/// row. One of them must fail with 40P01 instead of both waiting forever.
#[test]
fn deadlock_between_ddl_lock_and_row_lock_is_detected() {
    let db = hermitage_db();
    let t1 = Session::begin(&db, Snapshot);
    let t2 = Session::begin(&db, Snapshot);
    assert!(t2.run(|t| set(t, 1, 12)).unwrap());
    t1.run(|t| t.create_table(TableSchema::new("a").column(Column::new("x", DataType::Int4)))).unwrap();
    let p2 = t2.start(|t| t.create_table(TableSchema::new("b").column(Column::new("x", DataType::Int4))));
    p2.assert_blocked();
    let p1 = t1.start(|t| set(t, 1, 11));
    // Wait a while for either outcome.
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    let (mut r1, mut r2) = (None, None);
    while std::time::Instant::now() < deadline && r1.is_none() && r2.is_none() {
        r1 = p1.try_get();
        r2 = p2.try_get();
        std::thread::sleep(Duration::from_millis(20));
    }
    let deadlocked = r1.as_ref().is_some_and(|r| r.as_ref().is_err_and(|e| e.sqlstate() == "40P01"))
        || r2.as_ref().is_some_and(|r| r.as_ref().is_err_and(|e| e.sqlstate() == "40P01"));
    assert!(deadlocked, "no deadlock reported: T1 (DDL lock → row) = {r1:?}, T2 (row → DDL lock) = {r2:?}");
}
