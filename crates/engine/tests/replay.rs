//! Determinism of the commit-log seam.
//!
//! A random workload (DDL, DML, savepoints, rollbacks, garbage collection)
//! runs against a database whose commit log is a [`MemoryLog`]; every record,
//! round-tripped through `encode`/`decode`, is applied to a fresh database,
//! and both must then hold identical content: the same schemas, the same
//! rows at the same row ids, and indexes that answer alike. Applying records
//! out of order, or corrupt ones, is an error and leaves no trace.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

mod common;

use std::ops::Bound;
use std::sync::Arc;

use memdb_engine::{
    AlterTable, Column, CommitRecord, Config, DataType, Database, Durability, Error, IndexKind, IndexSpec, LogOp,
    MemoryLog, ScanRange, SyncMode, Table, TableSchema, Transaction, Value,
};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};

use common::{i8v, scan_all, text};

fn logged_db() -> (Database, Arc<MemoryLog>) {
    let log = Arc::new(MemoryLog::default());
    let db = Database::open(Config::memory().with_gc_interval(None).with_commit_log(log.clone())).unwrap();
    (db, log)
}

fn replica() -> Database {
    common::open_db()
}

/// Round-trips a record through its byte encoding.
#[track_caller]
fn round_trip(record: &CommitRecord) -> CommitRecord {
    let bytes = record.encode().unwrap();
    let decoded =
        CommitRecord::decode(&bytes).unwrap_or_else(|e| panic!("record at {} does not decode: {e}", record.ts));
    assert_eq!(&decoded, record, "encode/decode changed the record");
    decoded
}

/// Applies the records from `from` on; returns how many there are now.
#[track_caller]
fn catch_up(log: &MemoryLog, replica: &Database, from: usize) -> usize {
    let records = log.records();
    for record in &records[from..] {
        replica
            .apply(&round_trip(record))
            .unwrap_or_else(|e| panic!("applying the record at {}: {e:?}\n{record:?}", record.ts));
    }
    records.len()
}

type Rows = Vec<(u64, Vec<Value>)>;

fn rows(txn: &mut Transaction, table: &Table, range: ScanRange, reverse: bool) -> Rows {
    common::scan_range(txn, table, range, reverse).into_iter().map(|r| (r.id, r.values)).collect()
}

/// Asserts that two databases hold the same schemas, rows and index
/// contents, as seen by new snapshots.
#[track_caller]
fn assert_same(original: &Database, copy: &Database, when: &str) {
    assert_eq!(original.last_commit(), copy.last_commit(), "{when}: last commit");
    let mut a = original.schemas();
    let mut b = copy.schemas();
    a.sort_by_key(|s| s.id);
    b.sort_by_key(|s| s.id);
    assert_eq!(a, b, "{when}: schemas");
    let mut ta = original.begin().unwrap();
    let mut tb = copy.begin().unwrap();
    assert_eq!(ta.table_names(), tb.table_names(), "{when}: table names");
    for name in ta.table_names() {
        let (x, y) = (ta.table(&name).unwrap(), tb.table(&name).unwrap());
        let full_a = rows(&mut ta, &x, ScanRange::Full, false);
        assert_eq!(full_a, rows(&mut tb, &y, ScanRange::Full, false), "{when}: rows of {name}");
        for index in &x.schema().indexes {
            match index.kind {
                IndexKind::BTree => {
                    for reverse in [false, true] {
                        let range = ScanRange::Index {
                            index: index.name.clone(),
                            lower: Bound::Unbounded,
                            upper: Bound::Unbounded,
                        };
                        let got_a = rows(&mut ta, &x, range.clone(), reverse);
                        assert_eq!(
                            got_a.len(),
                            full_a.len(),
                            "{when}: index {} covers every row of {name}",
                            index.name
                        );
                        assert_eq!(got_a, rows(&mut tb, &y, range, reverse), "{when}: index {} of {name}", index.name);
                    }
                }
                IndexKind::Hash => {
                    let live: Vec<usize> = x.schema().live_columns().map(|(i, _)| i).collect();
                    for (_, values) in &full_a {
                        let key: Vec<Value> = index
                            .columns
                            .iter()
                            .map(|&c| values[live.iter().position(|&p| p == c).unwrap()].clone())
                            .collect();
                        if key.iter().any(Value::is_null) {
                            continue;
                        }
                        let mut la: Vec<_> =
                            ta.index_lookup(&x, &index.name, &key).unwrap().into_iter().map(|r| r.id).collect();
                        let mut lb: Vec<_> =
                            tb.index_lookup(&y, &index.name, &key).unwrap().into_iter().map(|r| r.id).collect();
                        la.sort_unstable();
                        lb.sort_unstable();
                        assert!(!la.is_empty(), "{when}: hash index {} finds its rows", index.name);
                        assert_eq!(la, lb, "{when}: hash index {} of {name}, key {key:?}", index.name);
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The random workload.

const TABLES: [&str; 3] = ["r0", "r1", "r2"];
const IDS: i64 = 40;

struct Workload {
    rng: StdRng,
    next_column: usize,
}

impl Workload {
    fn value(&mut self, ty: &DataType) -> Value {
        if self.rng.random_bool(0.15) {
            return Value::Null;
        }
        match ty {
            DataType::Int8 => i8v(self.rng.random_range(-5..20)),
            DataType::Text => text(["", "a", "b", "ab", "zz", "ü"].choose(&mut self.rng).unwrap()),
            other => panic!("the workload does not make {other} values"),
        }
    }

    fn row(&mut self, table: &Table) -> Vec<Value> {
        let columns: Vec<(String, DataType)> =
            table.columns().iter().map(|c| (c.name.clone(), c.data_type.clone())).collect();
        columns
            .iter()
            .map(|(name, ty)| if name == "id" { i8v(self.rng.random_range(0..IDS)) } else { self.value(ty) })
            .collect()
    }

    fn create_table(&mut self, txn: &mut Transaction, name: &str) -> Result<(), Error> {
        let mut schema = TableSchema::new(name)
            .column(Column::new("id", DataType::Int8))
            .column(Column::new("v", DataType::Int8))
            .column(Column::new("s", DataType::Text))
            .primary_key(["id"]);
        if self.rng.random_bool(0.3) {
            schema = schema.unique(["s"]);
        }
        txn.create_table(schema)
    }

    /// One schema change on a random table.
    fn ddl(&mut self, txn: &mut Transaction) -> Result<(), Error> {
        let name = *TABLES.choose(&mut self.rng).unwrap();
        let Ok(table) = txn.table(name) else { return self.create_table(txn, name) };
        let others: Vec<String> = table.columns().iter().map(|c| c.name.clone()).filter(|c| c != "id").collect();
        match self.rng.random_range(0..9) {
            0 => {
                self.next_column += 1;
                let ty = if self.rng.random_bool(0.5) { DataType::Int8 } else { DataType::Text };
                let mut column = Column::new(format!("c{}", self.next_column), ty.clone());
                if self.rng.random_bool(0.5) {
                    let default = self.value(&ty);
                    column = column.default(default);
                }
                txn.alter_table(name, AlterTable::AddColumn(column))
            }
            1 if !others.is_empty() => {
                let col = others.choose(&mut self.rng).unwrap().clone();
                txn.alter_table(name, AlterTable::DropColumn { name: col, cascade: false })
            }
            2 if !others.is_empty() => {
                self.next_column += 1;
                let from = others.choose(&mut self.rng).unwrap().clone();
                txn.alter_table(name, AlterTable::RenameColumn { from, to: format!("n{}", self.next_column) })
            }
            3 | 4 if !others.is_empty() => {
                let mut columns = vec![others.choose(&mut self.rng).unwrap().clone()];
                if self.rng.random_bool(0.3) {
                    columns.push("id".into());
                }
                let mut spec = IndexSpec::new(name, columns);
                if self.rng.random_bool(0.3) {
                    spec = spec.hash();
                }
                if self.rng.random_bool(0.3) {
                    spec = spec.unique();
                }
                txn.create_index(spec).map(|_| ())
            }
            5 => {
                let droppable: Vec<String> =
                    table.schema().indexes.iter().filter(|i| i.constraint.is_none()).map(|i| i.name.clone()).collect();
                match droppable.choose(&mut self.rng) {
                    Some(index) => txn.drop_index(index),
                    None => Ok(()),
                }
            }
            6 => txn.truncate(&[name]),
            7 => txn.drop_table(name, true),
            _ => {
                self.next_column += 1;
                txn.alter_table(name, AlterTable::RenameTable(format!("{name}_tmp")))?;
                txn.alter_table(&format!("{name}_tmp"), AlterTable::RenameTable(name.to_owned()))
            }
        }
    }

    /// One data change on a random existing table.
    fn dml(&mut self, txn: &mut Transaction) -> Result<(), Error> {
        let names = txn.table_names();
        let Some(name) = names.choose(&mut self.rng) else { return Ok(()) };
        let table = txn.table(name)?;
        let existing = scan_all(txn, &table, false);
        match self.rng.random_range(0..10) {
            0..=4 => txn.insert(&table, self.row(&table)).map(|_| ()),
            5..=7 if !existing.is_empty() => {
                let victim = existing.choose(&mut self.rng).unwrap().clone();
                let mut new = self.row(&table);
                let id_pos = table.column_position("id")?;
                if self.rng.random_bool(0.7) {
                    new[id_pos] = victim.values[id_pos].clone(); // keep the key most of the time
                }
                txn.update(&table, victim.id, new).map(|_| ())
            }
            8 | 9 if !existing.is_empty() => {
                let victim = existing.choose(&mut self.rng).unwrap().id;
                txn.delete(&table, victim).map(|_| ())
            }
            _ => Ok(()),
        }
    }
}

/// Errors the workload provokes on purpose (duplicate keys, NOT NULL,
/// duplicate names); anything else is a failure.
#[track_caller]
fn expected(e: &Error) {
    let ok = ["23505", "23502", "23503", "2BP01", "42P07", "42701", "42703", "42704"];
    assert!(ok.contains(&e.sqlstate()), "unexpected error from the workload: {e:?} ({e})");
}

/// One random transaction: a schema change (possibly several) in a
/// transaction of its own, or a few data changes with savepoints;
/// committed or rolled back.
fn one_transaction(db: &Database, w: &mut Workload) {
    let mut txn = db.begin().unwrap();
    if w.rng.random_bool(0.15) {
        // A schema change (possibly several), committed or rolled back.
        for _ in 0..w.rng.random_range(1..3) {
            if let Err(e) = w.ddl(&mut txn) {
                expected(&e);
                break;
            }
        }
        if txn.is_failed() || w.rng.random_bool(0.2) {
            txn.rollback().unwrap();
        } else {
            txn.commit().unwrap();
        }
    } else {
        let mut savepoints: Vec<String> = Vec::new();
        for step in 0..w.rng.random_range(1..10) {
            if w.rng.random_bool(0.15) {
                savepoints.push(format!("s{step}"));
                txn.savepoint(savepoints.last().unwrap()).unwrap();
            }
            txn.savepoint("stmt").unwrap();
            match w.dml(&mut txn) {
                Ok(()) => txn.release_savepoint("stmt").unwrap(),
                Err(e) => {
                    expected(&e);
                    txn.rollback_to_savepoint("stmt").unwrap();
                    txn.release_savepoint("stmt").unwrap();
                }
            }
            if !savepoints.is_empty() && w.rng.random_bool(0.1) {
                let k = w.rng.random_range(0..savepoints.len());
                txn.rollback_to_savepoint(&savepoints[k]).unwrap();
                savepoints.truncate(k + 1);
            }
        }
        if w.rng.random_bool(0.15) {
            txn.rollback().unwrap();
        } else {
            txn.commit().unwrap();
        }
    }
}

/// Runs `transactions` random transactions; DDL runs in transactions of its
/// own (apart from CREATE TABLE, which may be followed by DML), and the
/// replica catches up every few transactions.
fn random_workload(seed: u64, transactions: usize, collect: bool) {
    let (db, log) = logged_db();
    let copy = replica();
    let mut w = Workload { rng: StdRng::seed_from_u64(seed), next_column: 0 };
    let mut applied = 0;
    let mut old_snapshot: Option<Transaction> = None;
    for i in 0..transactions {
        one_transaction(&db, &mut w);
        match w.rng.random_range(0..20) {
            0 if collect => {
                db.gc();
            }
            1 => old_snapshot = Some(db.begin().unwrap()),
            2 => old_snapshot = None,
            3 if collect => {
                copy.gc();
            }
            _ => {}
        }
        if i % 20 == 19 {
            applied = catch_up(&log, &copy, applied);
            assert_same(&db, &copy, &format!("seed {seed}, after transaction {i}"));
        }
    }
    drop(old_snapshot);
    catch_up(&log, &copy, applied);
    assert_same(&db, &copy, &format!("seed {seed}, at the end"));
    db.gc();
    copy.gc();
    assert_same(&db, &copy, &format!("seed {seed}, after collection"));

    // A second replica from the whole log at once.
    let fresh = replica();
    catch_up(&log, &fresh, 0);
    assert_same(&db, &fresh, &format!("seed {seed}, replayed at once"));
}

const TRANSACTIONS: usize = if cfg!(debug_assertions) { 250 } else { 1_000 };

/// Without garbage collection on either side: replay logic alone.
#[test]
fn random_workloads_replay_identically() {
    for seed in 1..=6 {
        random_workload(seed, TRANSACTIONS, false);
    }
}

/// With collection at random points on both sides, so the original and the
/// replica reclaim rows (and reuse row ids) at different times.
#[test]
fn random_workloads_with_collection_replay_identically() {
    for seed in 11..=16 {
        random_workload(seed, TRANSACTIONS, true);
    }
}

// ---------------------------------------------------------------------------
// Targeted cases.

fn table_with_rows(db: &Database) {
    let mut txn = db.begin().unwrap();
    txn.create_table(
        TableSchema::new("t")
            .column(Column::new("id", DataType::Int8))
            .column(Column::new("v", DataType::Text))
            .primary_key(["id"]),
    )
    .unwrap();
    let t = txn.table("t").unwrap();
    for id in 0..5 {
        txn.insert(&t, vec![i8v(id), text("v")]).unwrap();
    }
    txn.commit().unwrap();
}

/// Row changes and schema changes of one transaction replay in the order
/// they were made: rows written before a TRUNCATE in the same transaction
/// are gone, rows written after it stay.
#[test]
fn truncate_after_writes_in_one_transaction_replays() {
    let (db, log) = logged_db();
    table_with_rows(&db);
    let mut txn = db.begin().unwrap();
    let t = txn.table("t").unwrap();
    let row = txn.get(&t, &[i8v(1)]).unwrap().unwrap();
    txn.update(&t, row.id, vec![i8v(1), text("changed")]).unwrap();
    txn.truncate(&["t"]).unwrap();
    let t = txn.table("t").unwrap();
    txn.insert(&t, vec![i8v(9), text("after")]).unwrap();
    txn.commit().unwrap();

    let copy = replica();
    for record in log.records() {
        copy.apply(&record).unwrap_or_else(|e| panic!("replay failed: {e}\nrecord: {:?}", record.ops));
    }
    assert_same(&db, &copy, "after truncate");
}

/// The same for DROP TABLE after writes to the table.
#[test]
fn drop_table_after_writes_in_one_transaction_replays() {
    let (db, log) = logged_db();
    table_with_rows(&db);
    let mut txn = db.begin().unwrap();
    let t = txn.table("t").unwrap();
    txn.insert(&t, vec![i8v(7), text("doomed")]).unwrap();
    txn.drop_table("t", false).unwrap();
    txn.commit().unwrap();

    let copy = replica();
    for record in log.records() {
        copy.apply(&record).unwrap_or_else(|e| panic!("replay failed: {e}\nrecord: {:?}", record.ops));
    }
    assert_same(&db, &copy, "after drop");
}

/// Every kind of default value a schema can carry survives encode/decode
/// (schemas travel in CREATE/ALTER TABLE records).
#[test]
fn schemas_with_defaults_of_every_type_round_trip() {
    let cases: Vec<(DataType, &str)> = vec![
        (DataType::Bool, "true"),
        (DataType::Int4, "42"),
        (DataType::Float8, "1.5"),
        (DataType::Numeric(None), "12.345"),
        (DataType::Text, "hello"),
        (DataType::Bytea, "\\x0a0b"),
        (DataType::Date, "2024-01-02"),
        (DataType::Timestamp, "2024-01-02 03:04:05"),
        (DataType::TimestampTz, "2024-01-02 03:04:05+00"),
        (DataType::Interval, "1 day 02:00:00"),
        (DataType::Uuid, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
        (DataType::Json, "{\"a\": [1, 2]}"),
        (DataType::Jsonb, "{\"a\": [1, 2]}"),
        (DataType::Array(Box::new(DataType::Int8)), "{1,NULL,3}"),
    ];
    let mut failures = Vec::new();
    for (ty, input) in cases {
        let (db, log) = logged_db();
        let default = text(input).cast(&ty).unwrap_or_else(|e| panic!("casting {input:?} to {ty}: {e}"));
        let mut txn = db.begin().unwrap();
        txn.create_table(
            TableSchema::new("t")
                .column(Column::new("id", DataType::Int8))
                .column(Column::new("d", ty.clone()).default(default.clone())),
        )
        .unwrap();
        let t = txn.table("t").unwrap();
        txn.insert_columns(&t, &[0], vec![i8v(1)]).unwrap();
        txn.commit().unwrap();
        let mut txn = db.begin().unwrap();
        txn.alter_table("t", AlterTable::AddColumn(Column::new("e", ty.clone()).default(default))).unwrap();
        txn.commit().unwrap();
        for record in log.records() {
            let bytes = record.encode().unwrap();
            match CommitRecord::decode(&bytes) {
                Ok(decoded) if decoded == record => {}
                Ok(_) => failures.push(format!("{ty}: decoded record differs")),
                Err(e) => failures.push(format!("{ty}: {e}")),
            }
        }
        // And the rows replay to the same values.
        let copy = replica();
        for record in log.records() {
            if let Err(e) = copy.apply(&record) {
                failures.push(format!("{ty}: apply: {e}"));
            }
        }
        if failures.is_empty() {
            assert_same(&db, &copy, &format!("{ty}"));
        }
    }
    assert!(failures.is_empty(), "records that do not survive encode/decode:\n{}", failures.join("\n"));
}

/// Replay must not depend on when the original collected garbage: there,
/// a key whose old row was collected goes to a new row id; the replica
/// (which has not collected yet) must index the new row under the key too.
#[test]
fn replay_does_not_depend_on_when_the_original_collected() {
    let (db, log) = logged_db();
    table_with_rows(&db);
    let mut txn = db.begin().unwrap();
    let t = txn.table("t").unwrap();
    assert!(txn.delete_by_key(&t, &[i8v(4)]).unwrap());
    txn.commit().unwrap();
    db.gc(); // the row holding key 4 is reclaimed, with its index entries
    let mut txn = db.begin().unwrap();
    let new_id = txn.insert(&t, vec![i8v(4), text("again")]).unwrap();
    txn.commit().unwrap();

    let copy = replica();
    catch_up(&log, &copy, 0);
    let mut txn = copy.begin().unwrap();
    let t = txn.table("t").unwrap();
    let row = txn.get(&t, &[i8v(4)]).unwrap();
    assert_eq!(row.map(|r| (r.id, r.values)), Some((new_id, vec![i8v(4), text("again")])), "get(4) on the replica");
    drop(txn);
    assert_same(&db, &copy, "after re-inserting a collected key");
}

fn two_commits() -> (Database, Vec<CommitRecord>) {
    let (db, log) = logged_db();
    table_with_rows(&db);
    for v in ["x", "y", "z"] {
        let mut txn = db.begin().unwrap();
        let t = txn.table("t").unwrap();
        let row = txn.get(&t, &[i8v(1)]).unwrap().unwrap();
        txn.update(&t, row.id, vec![i8v(1), text(v)]).unwrap();
        txn.commit().unwrap();
    }
    (db, log.records())
}

#[test]
fn replaying_a_record_twice_or_backwards_is_an_error() {
    let (_db, records) = two_commits();
    let copy = replica();
    copy.apply(&records[0]).unwrap();
    copy.apply(&records[1]).unwrap();
    let err = copy.apply(&records[1]).unwrap_err();
    assert!(matches!(err, Error::CorruptRecord(_)), "{err:?}");
    let err = copy.apply(&records[0]).unwrap_err();
    assert!(matches!(err, Error::CorruptRecord(_)), "{err:?}");
    // Still usable: the next record applies.
    copy.apply(&records[2]).unwrap();
    copy.apply(&records[3]).unwrap();
}

/// Commit timestamps are consecutive, so a record whose timestamp skips
/// one means a record was lost: replay must stop there rather than go on
/// with a state that never existed.
#[test]
fn replaying_with_a_gap_is_an_error() {
    let (_db, records) = two_commits();
    let copy = replica();
    copy.apply(&records[0]).unwrap();
    copy.apply(&records[1]).unwrap();
    let result = copy.apply(&records[3]);
    assert!(
        matches!(result, Err(Error::CorruptRecord(_))),
        "skipping record {} was accepted: {result:?}",
        records[2].ts
    );
}

#[test]
fn corrupt_bytes_are_an_error() {
    let (_db, records) = two_commits();
    let bytes = records[0].encode().unwrap();
    for cut in 0..bytes.len() {
        if let Err(e) = CommitRecord::decode(&bytes[..cut]) {
            assert!(matches!(e, Error::CorruptRecord(_)), "{e:?}");
        }
    }
    let mut flipped = bytes.clone();
    for b in flipped.iter_mut().skip(1) {
        *b ^= 0x5a;
    }
    // Decoding garbage may fail or give some record; applying it must not panic.
    if let Ok(record) = CommitRecord::decode(&flipped) {
        let _ = replica().apply(&record);
    }
    // Row data that does not decode is an error too.
    let copy = replica();
    copy.apply(&records[0]).unwrap();
    let bad = CommitRecord {
        ts: records[1].ts,
        ops: vec![LogOp::Insert { table: first_table(&records[0]), row_id: 50, data: vec![0xff, 0xff, 0xff] }],
    };
    assert!(copy.apply(&bad).is_err());
}

fn first_table(record: &CommitRecord) -> u32 {
    record
        .ops
        .iter()
        .find_map(|op| match op {
            LogOp::CreateTable(schema) => Some(schema.id),
            _ => None,
        })
        .unwrap()
}

/// A record that fails half-way must leave nothing behind: its first
/// changes must not surface once a later commit reaches its timestamp.
#[test]
fn a_failed_apply_leaves_no_partial_record() {
    let (_db, records) = two_commits();
    let copy = replica();
    copy.apply(&records[0]).unwrap();
    let table = first_table(&records[0]);
    let good = LogOp::Insert { table, row_id: 100, data: encoded_row(&copy, 100, "ghost") };
    let bad = LogOp::Insert { table: 999, row_id: 0, data: Vec::new() };
    let err = copy.apply(&CommitRecord { ts: records[1].ts, ops: vec![good, bad] }).unwrap_err();
    assert!(matches!(err, Error::CorruptRecord(_)), "{err:?}");

    // The replica goes on with other work (promoted, say): a new commit takes
    // the timestamp the failed record had.
    let mut txn = copy.begin().unwrap();
    let t = txn.table("t").unwrap();
    txn.insert(&t, vec![i8v(200), text("real")]).unwrap();
    txn.commit().unwrap();
    let mut txn = copy.begin().unwrap();
    let ids: Vec<_> = scan_all(&mut txn, &t, false).into_iter().map(|r| r.values[0].clone()).collect();
    assert!(!ids.contains(&i8v(100)), "a row of the failed record became visible: {ids:?}");
    assert!(txn.get(&t, &[i8v(100)]).unwrap().is_none());
}

/// The encoded form of `(id, v)` in table `t` of `db`.
fn encoded_row(db: &Database, id: i64, v: &str) -> Vec<u8> {
    let txn = db.begin().unwrap();
    let t = txn.table("t").unwrap();
    memdb_engine::row::encode(&[i8v(id), text(v)], &t.schema().physical_types()).unwrap().to_vec()
}

// ---------------------------------------------------------------------------
// Through the disk: the same workload on a durable database, checkpoints at
// random points, then a crash that tears the log at a random byte. Recovery
// must give exactly the committed prefix of the in-memory run's records.

fn small_segments(dir: &std::path::Path) -> Durability {
    let mut durability = Durability::new(dir, SyncMode::Sync);
    durability.segment_size = 8 << 10;
    durability.checkpoint_interval = None;
    durability.checkpoint_wal_bytes = u64::MAX;
    durability
}

fn open_durable(dir: &std::path::Path) -> Database {
    Database::open(Config::memory().with_gc_interval(None).with_durability(small_segments(dir))).unwrap()
}

/// `(end offset, commit ts)` of every whole frame of a segment.
fn frame_ends(path: &std::path::Path) -> Vec<(u64, u64)> {
    let buf = std::fs::read(path).unwrap();
    let mut at = 32;
    let mut out = Vec::new();
    while at + 8 <= buf.len() {
        let len = u32::from_le_bytes(buf[at..at + 4].try_into().unwrap()) as usize;
        if len == 0 {
            break; // the zero-filled rest of the segment
        }
        let end = at + 8 + len;
        if end > buf.len() {
            break;
        }
        out.push((end as u64, u64::from_le_bytes(buf[at + 10..at + 18].try_into().unwrap())));
        at = end;
    }
    out
}

fn crash_case(seed: u64, transactions: usize) {
    let (reference, log) = logged_db();
    let dir = tempfile::tempdir().unwrap();
    let db = open_durable(dir.path());
    let mut w_reference = Workload { rng: StdRng::seed_from_u64(seed), next_column: 0 };
    let mut w_durable = Workload { rng: StdRng::seed_from_u64(seed), next_column: 0 };
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
    let mut checkpoint_ts = 0;
    for _ in 0..transactions {
        one_transaction(&reference, &mut w_reference);
        one_transaction(&db, &mut w_durable);
        if rng.random_bool(0.03) {
            checkpoint_ts = db.checkpoint().unwrap().expect("a durable database checkpoints").ts;
        }
    }
    assert_same(&reference, &db, &format!("seed {seed}: the durable run"));
    drop(db);

    // The crash: the segment being written ends at a random byte.
    let segments: Vec<_> = {
        let mut s: Vec<_> = std::fs::read_dir(dir.path().join("wal"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "wal"))
            .collect();
        s.sort();
        s
    };
    let last = segments.last().expect("a segment exists");
    let len = std::fs::metadata(last).unwrap().len();
    let cut = rng.random_range(0..=len);
    std::fs::OpenOptions::new().write(true).open(last).unwrap().set_len(cut).unwrap();
    let first_in_last: u64 = last.file_stem().unwrap().to_str().unwrap().parse().unwrap();
    let whole_before_cut = frame_ends(last).into_iter().filter(|(end, _)| *end <= cut).map(|(_, ts)| ts).max();
    let expected = whole_before_cut.unwrap_or(first_in_last - 1).max(checkpoint_ts);

    let recovered = open_durable(dir.path());
    assert_eq!(recovered.last_commit(), expected, "seed {seed}: recovered up to the cut at {cut} of {len}");
    let model = replica();
    for record in log.records().iter().take_while(|r| r.ts <= expected) {
        model.apply(record).unwrap();
    }
    assert_same(&model, &recovered, &format!("seed {seed}: after the crash"));

    // Recovery left a log that takes new commits and recovers again.
    let mut w = Workload { rng: StdRng::seed_from_u64(seed + 1000), next_column: 100 };
    for _ in 0..20 {
        one_transaction(&recovered, &mut w);
    }
    let before = dump(&recovered);
    drop(recovered);
    let reopened = open_durable(dir.path());
    assert_eq!(dump(&reopened), before, "seed {seed}: second recovery");
}

/// Every table's rows with their row ids, for comparing one database
/// across a restart.
fn dump(db: &Database) -> (u64, Vec<(String, Rows)>) {
    let mut txn = db.begin().unwrap();
    let mut out = Vec::new();
    for name in txn.table_names() {
        let table = txn.table(&name).unwrap();
        out.push((name, rows(&mut txn, &table, ScanRange::Full, false)));
    }
    (db.last_commit(), out)
}

/// Random workloads, random checkpoints, a torn log at a random byte:
/// the recovered state is the committed prefix, every time.
#[test]
fn crashes_recover_the_committed_prefix() {
    for seed in 21..=(if cfg!(debug_assertions) { 32 } else { 60 }) {
        crash_case(seed, TRANSACTIONS);
    }
}
