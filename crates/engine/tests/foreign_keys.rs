//! FOREIGN KEY enforcement: the child side (23503 on a missing parent),
//! the parent side with every ON DELETE / ON UPDATE action, and the
//! dependencies that keep a referenced table from being dropped or
//! truncated alone.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

mod common;

use memdb_engine::{Error, FkAction, IsolationLevel, Transaction, Value};

use common::{Session, expect_sqlstate, family, i8v, values};

fn delete_parent(txn: &mut Transaction, id: i64) -> Result<bool, Error> {
    let p = txn.table("parent").unwrap();
    txn.delete_by_key(&p, &[i8v(id)])
}

fn rekey_parent(txn: &mut Transaction, from: i64, to: i64) -> Result<bool, Error> {
    let p = txn.table("parent").unwrap();
    let row = txn.get(&p, &[i8v(from)]).unwrap().unwrap();
    txn.update(&p, row.id, vec![i8v(to)])
}

#[test]
fn foreign_key_child_side() {
    let db = family(FkAction::NoAction, FkAction::NoAction);
    let mut txn = db.begin().unwrap();
    let c = txn.table("child").unwrap();
    assert_eq!(c.schema().foreign_keys[0].name, "child_parent_id_fkey");
    let err = expect_sqlstate(txn.insert(&c, vec![i8v(20), i8v(3)]), "23503");
    assert!(matches!(err, Error::ForeignKeyViolation { .. }));
    let msg = err.to_string();
    assert!(msg.contains("\"child_parent_id_fkey\"") && msg.contains("\"child\""), "{msg}");
    let fields = err.fields();
    assert_eq!(fields.detail.as_deref(), Some("Key (parent_id)=(3) is not present in table \"parent\"."));
    assert_eq!((fields.table.as_deref(), fields.constraint.as_deref()), (Some("child"), Some("child_parent_id_fkey")));
    txn.rollback().unwrap();
    // NULL references nothing and is allowed; a parent inserted in the same
    // transaction counts.
    let mut txn = db.begin().unwrap();
    txn.insert(&c, vec![i8v(20), Value::Null]).unwrap();
    let p = txn.table("parent").unwrap();
    txn.insert(&p, vec![i8v(3)]).unwrap();
    txn.insert(&c, vec![i8v(21), i8v(3)]).unwrap();
    let row = txn.get(&c, &[i8v(21)]).unwrap().unwrap();
    expect_sqlstate(txn.update(&c, row.id, vec![i8v(21), i8v(4)]), "23503");
}

#[test]
fn foreign_key_no_action_and_restrict() {
    for action in [FkAction::NoAction, FkAction::Restrict] {
        let db = family(action, action);
        let mut txn = db.begin().unwrap();
        let err = expect_sqlstate(delete_parent(&mut txn, 1), "23503");
        let msg = err.to_string();
        assert!(
            msg.contains("\"parent\"") && msg.contains("\"child_parent_id_fkey\"") && msg.contains("\"child\""),
            "{msg}"
        );
        txn.rollback().unwrap();
        let mut txn = db.begin().unwrap();
        expect_sqlstate(rekey_parent(&mut txn, 2, 5), "23503");
        txn.rollback().unwrap();
        // Without references the parent can go.
        let mut txn = db.begin().unwrap();
        let c = txn.table("child").unwrap();
        assert!(txn.delete_by_key(&c, &[i8v(12)]).unwrap());
        assert!(delete_parent(&mut txn, 2).unwrap());
        txn.commit().unwrap();
    }
}

#[test]
fn foreign_key_on_delete_cascade() {
    let db = family(FkAction::Cascade, FkAction::NoAction);
    let mut txn = db.begin().unwrap();
    assert!(delete_parent(&mut txn, 1).unwrap());
    assert_eq!(values(&mut txn, "child"), vec![vec![i8v(12), i8v(2)]]);
    txn.commit().unwrap();
    let mut txn = db.begin().unwrap();
    assert_eq!(values(&mut txn, "child"), vec![vec![i8v(12), i8v(2)]]);
}

#[test]
fn foreign_key_on_delete_set_null() {
    let db = family(FkAction::SetNull, FkAction::NoAction);
    let mut txn = db.begin().unwrap();
    assert!(delete_parent(&mut txn, 1).unwrap());
    txn.commit().unwrap();
    let mut txn = db.begin().unwrap();
    assert_eq!(
        values(&mut txn, "child"),
        vec![vec![i8v(10), Value::Null], vec![i8v(11), Value::Null], vec![i8v(12), i8v(2)]]
    );
}

#[test]
fn foreign_key_on_update_cascade() {
    let db = family(FkAction::Restrict, FkAction::Cascade);
    let mut txn = db.begin().unwrap();
    assert!(rekey_parent(&mut txn, 1, 7).unwrap());
    txn.commit().unwrap();
    let mut txn = db.begin().unwrap();
    let mut rows = values(&mut txn, "child");
    rows.sort();
    assert_eq!(rows, vec![vec![i8v(10), i8v(7)], vec![i8v(11), i8v(7)], vec![i8v(12), i8v(2)]]);
    assert_eq!(values(&mut txn, "parent").len(), 2);
    // Still enforced afterwards.
    expect_sqlstate(delete_parent(&mut txn, 7), "23503");
}

#[test]
fn foreign_keys_block_dropping_and_truncating_the_parent() {
    let db = family(FkAction::NoAction, FkAction::NoAction);
    let mut txn = db.begin().unwrap();
    let err = expect_sqlstate(txn.drop_table("parent", false), "2BP01");
    assert!(err.to_string().contains("parent"), "{err}");
    txn.rollback().unwrap();
    let mut txn = db.begin().unwrap();
    assert!(txn.truncate(&["parent"]).is_err());
    txn.rollback().unwrap();
    let mut txn = db.begin().unwrap();
    txn.truncate(&["parent", "child"]).unwrap();
    txn.commit().unwrap();
    let mut txn = db.begin().unwrap();
    txn.drop_table("parent", true).unwrap();
    assert!(txn.table("child").unwrap().schema().foreign_keys.is_empty());
    let c = txn.table("child").unwrap();
    txn.insert(&c, vec![i8v(1), i8v(99)]).unwrap();
    txn.commit().unwrap();
}

// ---------------------------------------------------------------------------
// ALTER TABLE.

#[test]
fn foreign_key_checks_wait_for_the_other_side() {
    // Child insert waits for an uncommitted delete of its parent.
    for commit in [true, false] {
        let db = family(FkAction::NoAction, FkAction::NoAction);
        let t1 = Session::begin(&db, IsolationLevel::ReadCommitted);
        let t2 = Session::begin(&db, IsolationLevel::ReadCommitted);
        t1.run(|t| {
            let c = t.table("child")?;
            t.delete_by_key(&c, &[i8v(12)])?;
            delete_parent(t, 2)
        })
        .unwrap();
        let blocked = t2.start(|t| {
            let c = t.table("child")?;
            t.insert(&c, vec![i8v(30), i8v(2)])
        });
        blocked.assert_blocked();
        if commit {
            t1.commit().unwrap();
            expect_sqlstate(blocked.wait(), "23503");
        } else {
            t1.rollback();
            blocked.wait().unwrap();
            t2.commit().unwrap();
        }
    }
    // Parent delete waits for an uncommitted child insert.
    for commit in [true, false] {
        let db = family(FkAction::NoAction, FkAction::NoAction);
        let p = db.begin().unwrap().table("parent").unwrap();
        let mut txn = db.begin().unwrap();
        txn.insert(&p, vec![i8v(3)]).unwrap();
        txn.commit().unwrap();
        let t1 = Session::begin(&db, IsolationLevel::ReadCommitted);
        let t2 = Session::begin(&db, IsolationLevel::ReadCommitted);
        t1.run(|t| {
            let c = t.table("child")?;
            t.insert(&c, vec![i8v(30), i8v(3)])
        })
        .unwrap();
        let blocked = t2.start(|t| delete_parent(t, 3));
        blocked.assert_blocked();
        if commit {
            t1.commit().unwrap();
            expect_sqlstate(blocked.wait(), "23503");
        } else {
            t1.rollback();
            assert!(blocked.wait().unwrap());
            t2.commit().unwrap();
        }
    }
}

// ---------------------------------------------------------------------------
// Odds and ends of the transaction API.
