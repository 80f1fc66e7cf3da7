//! `Database::metrics`: commit and abort counts (SQL transactions and
//! key-value batches), log bytes and syncs, checkpoint counts and durations.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

mod common;

use std::path::Path;

use memdb_engine::{
    Column, Config, DataType, Database, Durability, EngineMetrics, IsolationLevel, KvCommand, KvConfig, SetCondition,
    SetExpiry, SyncMode, TableSchema,
};

use common::{begin, expect_sqlstate, i8v};

/// Without background collection, sweeps or checkpoints, so every counter
/// moves only when the test acts.
fn quiet() -> Config {
    Config::memory().with_gc_interval(None).with_kv(KvConfig { cleanup_interval: None, ..KvConfig::default() })
}

fn open_durable(dir: &Path) -> Database {
    let mut durability = Durability::new(dir, SyncMode::Sync);
    durability.checkpoint_interval = None;
    durability.checkpoint_wal_bytes = u64::MAX;
    Database::open(quiet().with_durability(durability)).unwrap()
}

/// Creates `t (id int8 primary key, v int8)` holding rows 1 and 2: two commits.
fn create_table(db: &Database) {
    let mut txn = db.begin().unwrap();
    txn.create_table(
        TableSchema::new("t")
            .column(Column::new("id", DataType::Int8).not_null())
            .column(Column::new("v", DataType::Int8))
            .primary_key(["id"]),
    )
    .unwrap();
    txn.commit().unwrap();
    let mut txn = db.begin().unwrap();
    let t = txn.table("t").unwrap();
    for id in [1, 2] {
        txn.insert(&t, vec![i8v(id), i8v(0)]).unwrap();
    }
    txn.commit().unwrap();
}

fn set(key: &str) -> KvCommand {
    KvCommand::Set {
        key: key.into(),
        value: b"v".to_vec(),
        condition: SetCondition::Always,
        expiry: SetExpiry::Clear,
        get: false,
    }
}

#[test]
fn a_fresh_database_counts_nothing() {
    let db = Database::open(quiet()).unwrap();
    assert_eq!(db.metrics(), EngineMetrics::default());
}

#[test]
fn commits_and_rollbacks_count() {
    let db = Database::open(quiet()).unwrap();
    // A read-only transaction that commits counts, as in PostgreSQL.
    db.begin().unwrap().commit().unwrap();
    assert_eq!((db.metrics().commits, db.metrics().aborts), (1, 0));
    db.begin().unwrap().rollback().unwrap();
    assert_eq!((db.metrics().commits, db.metrics().aborts), (1, 1));
    // Dropping an open transaction rolls it back.
    drop(db.begin().unwrap());
    assert_eq!((db.metrics().commits, db.metrics().aborts), (1, 2));
    db.kv().set(b"k", b"v", None).unwrap();
    assert_eq!((db.metrics().commits, db.metrics().aborts), (2, 2));
}

#[test]
fn a_failed_commit_counts_as_an_abort() {
    let db = Database::open(quiet()).unwrap();
    create_table(&db);
    // Write skew: each reads the row the other writes.
    let mut t1 = begin(&db, IsolationLevel::Serializable);
    let mut t2 = begin(&db, IsolationLevel::Serializable);
    for (txn, read, write) in [(&mut t1, 1, 2), (&mut t2, 2, 1)] {
        let t = txn.table("t").unwrap();
        txn.get(&t, &[i8v(read)]).unwrap().unwrap();
        let row = txn.get(&t, &[i8v(write)]).unwrap().unwrap();
        txn.update(&t, row.id, vec![i8v(write), i8v(1)]).unwrap();
    }
    t1.commit().unwrap();
    expect_sqlstate(t2.commit(), "40001");
    let metrics = db.metrics();
    assert_eq!((metrics.commits, metrics.aborts), (3, 1));
}

#[test]
fn key_value_batches_count_and_reads_do_not() {
    let db = Database::open(quiet()).unwrap();
    let kv = db.kv();
    let stamp = kv.watch_point();
    kv.set(b"a", b"1", None).unwrap();
    kv.exec(KvCommand::MGet { keys: vec![b"a".to_vec(), b"b".to_vec()] }).unwrap();
    assert_eq!(kv.get(b"a").unwrap(), Some(b"1".to_vec()));
    assert_eq!((db.metrics().commits, db.metrics().aborts), (1, 0));
    // MULTI/EXEC: one commit for the batch; aborted when a watched key changed.
    assert!(kv.exec_batch(vec![set("b"), set("c")], &[]).unwrap().is_some());
    assert!(kv.exec_batch(vec![set("d")], &[(b"a".to_vec(), stamp)]).unwrap().is_none());
    assert_eq!((db.metrics().commits, db.metrics().aborts), (2, 1));
}

#[test]
fn a_memory_only_database_has_no_log_or_checkpoints() {
    let db = Database::open(quiet()).unwrap();
    create_table(&db);
    assert!(db.checkpoint().unwrap().is_none());
    let metrics = db.metrics();
    assert_eq!((metrics.wal_bytes, metrics.wal_fsyncs, metrics.checkpoints), (0, 0, 0));
}

#[test]
fn sync_commits_write_and_sync_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let db = open_durable(dir.path());
    let before = db.metrics();
    create_table(&db);
    let after_sql = db.metrics();
    assert!(after_sql.wal_bytes > before.wal_bytes, "{before:?} → {after_sql:?}");
    assert!(after_sql.wal_fsyncs > before.wal_fsyncs, "{before:?} → {after_sql:?}");
    assert_eq!(after_sql.commits, 2);
    db.kv().set(b"k", b"v", None).unwrap();
    let after_kv = db.metrics();
    assert!(after_kv.wal_bytes > after_sql.wal_bytes, "{after_sql:?} → {after_kv:?}");
    assert!(after_kv.wal_fsyncs > after_sql.wal_fsyncs, "{after_sql:?} → {after_kv:?}");
    assert_eq!(after_kv.commits, 3);
}

#[test]
fn checkpoints_count_with_their_durations() {
    let dir = tempfile::tempdir().unwrap();
    let db = open_durable(dir.path());
    create_table(&db);
    let before = db.metrics();
    assert_eq!((before.checkpoints, before.checkpoint_micros_total, before.last_checkpoint_micros), (0, 0, 0));

    db.checkpoint().unwrap().unwrap();
    let first = db.metrics();
    assert_eq!(first.checkpoints, 1);
    assert!(first.last_checkpoint_micros > 0, "{first:?}");
    assert_eq!(first.checkpoint_micros_total, first.last_checkpoint_micros);

    db.checkpoint().unwrap().unwrap();
    let second = db.metrics();
    assert_eq!(second.checkpoints, 2);
    assert!(second.last_checkpoint_micros > 0, "{second:?}");
    assert_eq!(second.checkpoint_micros_total, first.checkpoint_micros_total + second.last_checkpoint_micros);
    // The checkpoint's own snapshot is no transaction of the user's.
    assert_eq!((second.commits, second.aborts), (before.commits, before.aborts));
}
