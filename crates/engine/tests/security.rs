//! Roles and privileges: a transaction acting for a role reads and writes
//! only what the role was granted; schema and role changes need a
//! superuser; roles and grants are transactional and survive restarts
//! (through the log and through a checkpoint).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::path::Path;

use memdb_engine::security::{PG_READ_ALL_DATA, Privileges, Role};
use memdb_engine::{
    Column, Config, DataType, Database, Durability, IsolationLevel, SyncMode, TableSchema, TxnOptions, Value,
};

fn open(dir: &Path) -> Database {
    let mut durability = Durability::new(dir, SyncMode::Sync);
    durability.checkpoint_interval = None;
    durability.checkpoint_wal_bytes = u64::MAX;
    Database::open(Config::memory().with_gc_interval(None).with_durability(durability)).unwrap()
}

fn setup(db: &Database) {
    let mut txn = db.begin().unwrap();
    txn.create_table(TableSchema::new("t").column(Column::new("id", DataType::Int8).not_null()).primary_key(["id"]))
        .unwrap();
    txn.create_table(TableSchema::new("u").column(Column::new("id", DataType::Int8).not_null()).primary_key(["id"]))
        .unwrap();
    txn.alter_security("CREATE ROLE", |s| {
        let mut admin = Role::new("admin");
        admin.superuser = true;
        s.create_role(admin)?;
        s.create_role(Role::new("alice"))?;
        s.create_role(Role::new("reader"))?;
        s.grant_role(PG_READ_ALL_DATA, "reader")
    })
    .unwrap();
    let t = txn.table("t").unwrap().id();
    txn.alter_security("GRANT", |s| s.grant("alice", t, Privileges::SELECT.union(Privileges::INSERT))).unwrap();
    txn.commit().unwrap();
}

fn denied(r: memdb_engine::Result<impl std::fmt::Debug>) -> bool {
    matches!(r, Err(e) if e.sqlstate() == "42501")
}

#[test]
fn acting_roles_get_only_their_privileges() {
    let db = Database::open(Config::memory()).unwrap();
    setup(&db);

    let mut txn = db.begin().unwrap();
    txn.act_as("alice");
    let t = txn.table("t").unwrap();
    let u = txn.table("u").unwrap();
    txn.insert(&t, vec![Value::Int8(1)]).unwrap();
    assert!(txn.get(&t, &[Value::Int8(1)]).unwrap().is_some());
    assert!(denied(txn.insert(&u, vec![Value::Int8(1)])));
    assert!(denied(txn.get(&u, &[Value::Int8(1)])));
    assert!(denied(txn.delete_by_key(&t, &[Value::Int8(1)])), "no DELETE");
    assert!(denied(txn.update(&t, 1, vec![Value::Int8(2)])), "no UPDATE");
    assert!(denied(txn.truncate(&["t"])));
    assert!(denied(txn.drop_table("u", false)), "DDL needs a superuser");
    assert!(denied(txn.alter_security("CREATE ROLE", |s| s.create_role(Role::new("eve")))));
    txn.commit().unwrap();

    let mut txn = db.begin().unwrap();
    txn.act_as("reader");
    let u = txn.table("u").unwrap();
    assert!(txn.get(&u, &[Value::Int8(1)]).unwrap().is_none());
    assert!(denied(txn.insert(&u, vec![Value::Int8(1)])));
    assert!(txn.access().unwrap().can_read_kv() && !txn.access().unwrap().can_write_kv());
    txn.rollback().unwrap();

    let mut txn = db.begin().unwrap();
    txn.act_as("admin");
    let u = txn.table("u").unwrap();
    txn.insert(&u, vec![Value::Int8(1)]).unwrap();
    txn.drop_table("u", false).unwrap();
    txn.commit().unwrap();

    // Unknown roles get nothing; a transaction acting for nobody is unrestricted.
    let mut txn = db.begin().unwrap();
    txn.act_as("nobody");
    let t = txn.table("t").unwrap();
    assert!(denied(txn.get(&t, &[Value::Int8(1)])));
    txn.rollback().unwrap();
}

#[test]
fn grants_are_transactional_and_seen_at_the_next_read_committed_statement() {
    let db = Database::open(Config::memory()).unwrap();
    setup(&db);
    let mut alice = db.begin_with(TxnOptions::isolation(IsolationLevel::ReadCommitted)).unwrap();
    alice.act_as("alice");

    let mut admin = db.begin().unwrap();
    let u = admin.table("u").unwrap().id();
    admin.alter_security("GRANT", |s| s.grant("alice", u, Privileges::ALL)).unwrap();
    // Not yet committed: alice still cannot.
    alice.begin_statement().unwrap();
    let table = alice.table("u").unwrap();
    assert!(denied(alice.get(&table, &[Value::Int8(1)])));
    admin.commit().unwrap();
    alice.begin_statement().unwrap();
    let table = alice.table("u").unwrap();
    alice.insert(&table, vec![Value::Int8(7)]).unwrap();
    alice.commit().unwrap();

    // A rolled-back revoke changes nothing.
    let mut admin = db.begin().unwrap();
    admin.alter_security("REVOKE", |s| s.revoke("alice", u, Privileges::ALL)).unwrap();
    admin.rollback().unwrap();
    let mut alice = db.begin().unwrap();
    alice.act_as("alice");
    let table = alice.table("u").unwrap();
    let got = alice.get(&table, &[Value::Int8(7)]);
    assert!(matches!(got, Ok(Some(_))), "{got:?}");
}

#[test]
fn own_password_may_be_changed_but_not_others() {
    let db = Database::open(Config::memory()).unwrap();
    setup(&db);
    let mut txn = db.begin().unwrap();
    txn.act_as("alice");
    txn.set_password("alice", Some("md5aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".into())).unwrap();
    assert!(denied(txn.set_password("reader", None)));
    txn.commit().unwrap();
    let txn = db.begin().unwrap();
    assert_eq!(txn.security().role("alice").unwrap().password.as_deref(), Some("md5aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
}

#[test]
fn roles_and_grants_survive_restarts_through_log_and_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let check = |db: &Database| {
        let txn = db.begin().unwrap();
        let security = txn.security();
        assert!(security.role("admin").unwrap().superuser);
        assert!(security.role("reader").unwrap().member_of.contains(PG_READ_ALL_DATA));
        let t = txn.table("t").unwrap().id();
        assert_eq!(security.access("alice").table(t), Privileges::SELECT.union(Privileges::INSERT));
    };
    {
        let db = open(dir.path());
        setup(&db);
        check(&db);
    }
    {
        let db = open(dir.path());
        check(&db);
        db.checkpoint().unwrap();
        // A dropped table takes its grants along, also after replay.
        let mut txn = db.begin().unwrap();
        txn.create_table(TableSchema::new("gone").column(Column::new("id", DataType::Int8))).unwrap();
        let gone = txn.table("gone").unwrap().id();
        txn.alter_security("GRANT", |s| s.grant("alice", gone, Privileges::ALL)).unwrap();
        txn.drop_table("gone", false).unwrap();
        txn.commit().unwrap();
        assert_eq!(db.begin().unwrap().security().grants_of("alice").count(), 1);
    }
    let db = open(dir.path());
    check(&db);
    assert_eq!(db.begin().unwrap().security().grants_of("alice").count(), 1);
}
