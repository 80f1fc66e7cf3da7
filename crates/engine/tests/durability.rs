//! Durable databases: reopening, checkpoints, torn and corrupt logs,
//! damaged checkpoints, async mode, backups and point-in-time restore.
//! (Random workloads with crashes at random bytes are in `replay.rs`; kill
//! -9 of the real server under load is in the cli crate's tests.)

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use memdb_engine::{
    Column, Config, DataType, Database, Durability, Progress, ProgressHandle, ProgressUnit, RestoreTarget,
    SequenceSchema, SyncMode, TableSchema, Value, restore, restore_with_progress,
};

use common::{i8v, text};

fn options(dir: &Path) -> Durability {
    let mut durability = Durability::new(dir, SyncMode::Sync);
    durability.checkpoint_interval = None;
    durability.checkpoint_wal_bytes = u64::MAX;
    durability
}

fn open_with(durability: Durability) -> Database {
    Database::open(Config::memory().with_gc_interval(None).with_durability(durability)).unwrap()
}

fn open(dir: &Path) -> Database {
    open_with(options(dir))
}

fn create_kv(db: &Database) {
    let mut txn = db.begin().unwrap();
    txn.create_table(
        TableSchema::new("kv")
            .column(Column::new("id", DataType::Int8).not_null())
            .column(Column::new("v", DataType::Text))
            .primary_key(["id"]),
    )
    .unwrap();
    txn.commit().unwrap();
}

fn put(db: &Database, id: i64, v: &str) {
    let mut txn = db.begin().unwrap();
    let kv = txn.table("kv").unwrap();
    match txn.get(&kv, &[i8v(id)]).unwrap() {
        Some(row) => {
            txn.update(&kv, row.id, vec![i8v(id), text(v)]).unwrap();
        }
        None => {
            txn.insert(&kv, vec![i8v(id), text(v)]).unwrap();
        }
    }
    txn.commit().unwrap();
}

fn contents(db: &Database) -> Vec<(i64, String)> {
    let mut txn = db.begin().unwrap();
    let kv = txn.table("kv").unwrap();
    let mut rows: Vec<(i64, String)> = common::scan_all(&mut txn, &kv, false)
        .into_iter()
        .map(|r| match (&r.values[0], &r.values[1]) {
            (Value::Int8(id), Value::Text(v)) => (*id, v.clone()),
            other => panic!("unexpected row {other:?}"),
        })
        .collect();
    rows.sort();
    rows
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut s: Vec<PathBuf> = std::fs::read_dir(dir.join("wal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "wal"))
        .collect();
    s.sort();
    s
}

/// `(start, end)` of each frame of a segment (segments are zero-filled
/// past their last frame).
fn frames(path: &Path) -> Vec<(usize, usize)> {
    let bytes = std::fs::read(path).unwrap();
    let mut at = 32;
    let mut out = Vec::new();
    while at + 8 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        if len == 0 || at + 8 + len > bytes.len() {
            break;
        }
        out.push((at, at + 8 + len));
        at += 8 + len;
    }
    out
}

/// The segment holding frames (the newest non-empty one).
fn newest_with_frames(dir: &Path) -> PathBuf {
    segments(dir).into_iter().rev().find(|p| !frames(p).is_empty()).unwrap()
}

#[test]
fn everything_committed_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    create_kv(&db);
    for id in 0..100 {
        put(&db, id, &format!("v{id}"));
    }
    put(&db, 5, "changed");
    let mut txn = db.begin().unwrap();
    let kv = txn.table("kv").unwrap();
    let row = txn.get(&kv, &[i8v(7)]).unwrap().unwrap();
    txn.delete(&kv, row.id).unwrap();
    txn.create_sequence(SequenceSchema::new("s")).unwrap();
    txn.commit().unwrap();
    let mut txn = db.begin().unwrap();
    assert_eq!(txn.nextval("s").unwrap(), 1);
    assert_eq!(txn.nextval("s").unwrap(), 2);
    txn.commit().unwrap();
    // A rolled-back transaction leaves nothing behind.
    let mut txn = db.begin().unwrap();
    let kv = txn.table("kv").unwrap();
    txn.insert(&kv, vec![i8v(1000), text("never")]).unwrap();
    txn.rollback().unwrap();
    let before = contents(&db);
    let last = db.last_commit();
    drop(db);

    let db = open(dir.path());
    assert_eq!(db.last_commit(), last);
    assert_eq!(contents(&db), before);
    assert_eq!(before.len(), 99);
    assert!(before.contains(&(5, "changed".into())));
    let report = db.recovery_report().unwrap();
    assert_eq!(report.checkpoint, None);
    assert_eq!(report.replayed, last);
    let mut txn = db.begin().unwrap();
    assert_eq!(txn.nextval("s").unwrap(), 3, "sequence positions are durable");
    txn.commit().unwrap();
    // Indexes were rebuilt: a duplicate key is still refused.
    let mut txn = db.begin().unwrap();
    let kv = txn.table("kv").unwrap();
    assert!(txn.insert(&kv, vec![i8v(1), text("dup")]).is_err());
}

#[test]
fn checkpoints_carry_state_and_recycle_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let mut durability = options(dir.path());
    durability.segment_size = 4 << 10;
    let db = open_with(durability.clone());
    create_kv(&db);
    for id in 0..300 {
        put(&db, id, &"x".repeat(50));
    }
    let many = segments(dir.path()).len();
    assert!(many > 3, "small segments roll: {many}");
    let first = db.checkpoint().unwrap().unwrap();
    for id in 0..50 {
        put(&db, id, "after first");
    }
    let second = db.checkpoint().unwrap().unwrap();
    assert!(second.ts > first.ts);
    assert!(segments(dir.path()).len() < many, "segments before the older checkpoint are recycled");
    for id in 0..10 {
        put(&db, id, "after second");
    }
    let before = contents(&db);
    drop(db);

    let db = open_with(durability.clone());
    let report = db.recovery_report().unwrap();
    assert_eq!(report.checkpoint, Some(second.ts));
    assert_eq!(report.checkpoint_rows, 300);
    assert_eq!(report.replayed, 10);
    assert_eq!(contents(&db), before);
    drop(db);

    // A damaged newest checkpoint: the older one plus the log still recover.
    let newest = dir.path().join("checkpoints").join(format!("{:020}.ckpt", second.ts));
    let mut bytes = std::fs::read(&newest).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&newest, bytes).unwrap();
    let db = open_with(durability);
    assert_eq!(db.recovery_report().unwrap().checkpoint, Some(first.ts));
    assert_eq!(contents(&db), before);
}

#[test]
fn compressed_checkpoints_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let mut durability = options(dir.path());
    durability.compress_checkpoints = true;
    let db = open_with(durability.clone());
    create_kv(&db);
    for id in 0..500 {
        put(&db, id, &"compressible ".repeat(20));
    }
    let info = db.checkpoint().unwrap().unwrap();
    assert!(info.bytes < 500 * 100, "lz4 shrinks repetitive rows: {} bytes", info.bytes);
    let before = contents(&db);
    drop(db);
    let db = open_with(durability);
    assert_eq!(contents(&db), before);
}

#[test]
fn a_torn_tail_is_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    create_kv(&db);
    for id in 0..20 {
        put(&db, id, "v");
    }
    let last = db.last_commit();
    drop(db);
    // Damage inside the last frame: a write the crash interrupted.
    let segment = newest_with_frames(dir.path());
    let mut bytes = std::fs::read(&segment).unwrap();
    let (start, end) = *frames(&segment).last().unwrap();
    bytes[end - 3] ^= 0x55;
    std::fs::write(&segment, &bytes).unwrap();

    let db = open(dir.path());
    assert_eq!(db.last_commit(), last - 1, "the torn commit is gone, the rest stays");
    assert_eq!(contents(&db).len(), 19);
    let report = db.recovery_report().unwrap();
    assert_eq!(report.truncated, Some((segment.clone(), start as u64)), "cut where the torn frame starts");
    assert_eq!(std::fs::metadata(&segment).unwrap().len(), start as u64, "the segment was cut");
    // New commits go on from there and survive another restart.
    put(&db, 100, "after");
    drop(db);
    let db = open(dir.path());
    assert_eq!(contents(&db).len(), 20);

    // A half-written frame header at the end of the segment being written
    // is torn too.
    drop(db);
    let segment = segments(dir.path()).pop().unwrap();
    let mut bytes = std::fs::read(&segment).unwrap();
    let at = frames(&segment).last().map_or(32, |f| f.1);
    bytes[at..at + 3].copy_from_slice(&[9, 0, 1]);
    std::fs::write(&segment, &bytes).unwrap();
    let db = open(dir.path());
    assert_eq!(contents(&db).len(), 20);
}

#[test]
fn corruption_in_the_middle_refuses_to_start_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    create_kv(&db);
    for id in 0..20 {
        put(&db, id, "some value");
    }
    drop(db);
    let segment = newest_with_frames(dir.path());
    let mut bytes = std::fs::read(&segment).unwrap();
    // Flip a byte inside the third frame's body.
    let mut at = 32;
    for _ in 0..2 {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        at += 8 + len;
    }
    let damaged_frame = at;
    bytes[at + 20] ^= 0x01;
    std::fs::write(&segment, &bytes).unwrap();

    let refused = Database::open(Config::memory().with_durability(options(dir.path())));
    let message = refused.expect_err("start-up refuses").to_string();
    assert!(message.contains(&segment.display().to_string()), "names the file: {message}");
    assert!(message.contains(&format!("offset {damaged_frame}")), "names the offset: {message}");
    assert!(message.contains("--recover-until-corruption"), "says how to proceed: {message}");

    let mut durability = options(dir.path());
    durability.recover_until_corruption = true;
    let db = open_with(durability);
    assert_eq!(db.last_commit(), 2, "the two commits before the damage");
    let aside = segment.with_file_name(format!("corrupt-{}", segment.file_name().unwrap().to_string_lossy()));
    assert_eq!(std::fs::read(&aside).unwrap(), bytes, "the damaged log is kept aside");
    put(&db, 1, "new");
    drop(db);
    let db = open(dir.path());
    assert_eq!(contents(&db), vec![(0, "some value".into()), (1, "new".into())]);
}

#[test]
fn a_data_directory_is_used_by_one_process_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let second = Database::open(Config::memory().with_durability(options(dir.path())));
    assert!(second.err().unwrap().to_string().contains("in use"));
    drop(db);
    let _again = open(dir.path());
}

#[test]
fn async_commits_are_flushed_within_the_interval() {
    let dir = tempfile::tempdir().unwrap();
    let mut durability = options(dir.path());
    durability.mode = SyncMode::Async { flush_interval: Duration::from_millis(10) };
    let db = open_with(durability.clone());
    create_kv(&db);
    for id in 0..50 {
        put(&db, id, "async");
    }
    // Without an explicit flush, the writer has written everything after a
    // few intervals: the files alone (read while the database is open) hold
    // every commit.
    std::thread::sleep(Duration::from_millis(200));
    let copy = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(copy.path().join("wal")).unwrap();
    for segment in segments(dir.path()) {
        std::fs::copy(&segment, copy.path().join("wal").join(segment.file_name().unwrap())).unwrap();
    }
    let last = db.last_commit();
    let copied = open(copy.path());
    assert_eq!(copied.last_commit(), last);
    assert_eq!(contents(&copied).len(), 50);
    drop(db);
    let db = open_with(durability);
    assert_eq!(contents(&db).len(), 50);
}

#[test]
fn backups_restore_and_recover_to_a_point_in_time() {
    let dir = tempfile::tempdir().unwrap();
    let archive = tempfile::tempdir().unwrap();
    let mut durability = options(dir.path());
    durability.segment_size = 2 << 10;
    durability.archive_dir = Some(archive.path().to_owned());
    let db = open_with(durability);
    create_kv(&db);
    for id in 0..20 {
        put(&db, id, "before backup");
    }
    let backup_dir = tempfile::tempdir().unwrap();
    let backup = db.backup(&backup_dir.path().join("b1")).unwrap();
    assert_eq!(backup.rows, 20);
    assert!(db.backup(&backup_dir.path().join("b1")).is_err(), "a backup never overwrites another");
    for id in 0..20 {
        put(&db, id, "after backup");
    }
    let middle = db.last_commit();
    let at_middle = contents(&db);
    for id in 20..60 {
        put(&db, id, &"later ".repeat(10));
    }
    let at_end = contents(&db);
    drop(db);

    // The backup alone.
    let plain = tempfile::tempdir().unwrap();
    let report = restore(&backup_dir.path().join("b1"), plain.path(), &[], RestoreTarget::Latest).unwrap();
    assert_eq!(report.last_commit, backup.ts);
    let restored = open(plain.path());
    assert!(contents(&restored).iter().all(|(_, v)| v == "before backup"));
    drop(restored);

    // Backup + archived log + the live log, to a log position.
    let sources = vec![archive.path().to_owned(), dir.path().join("wal")];
    let pitr = tempfile::tempdir().unwrap();
    let report =
        restore(&backup_dir.path().join("b1"), pitr.path(), &sources, RestoreTarget::Position(middle)).unwrap();
    assert_eq!(report.last_commit, middle);
    let restored = open(pitr.path());
    assert_eq!(contents(&restored), at_middle);
    drop(restored);

    // ... and to the end.
    let latest = tempfile::tempdir().unwrap();
    restore(&backup_dir.path().join("b1"), latest.path(), &sources, RestoreTarget::Latest).unwrap();
    assert_eq!(contents(&open(latest.path())), at_end);

    // A wall-clock target before everything stops at the backup.
    let early = tempfile::tempdir().unwrap();
    let report = restore(&backup_dir.path().join("b1"), early.path(), &sources, RestoreTarget::Time(0)).unwrap();
    assert_eq!(report.last_commit, backup.ts);

    // Restoring over existing data is refused.
    assert!(restore(&backup_dir.path().join("b1"), latest.path(), &[], RestoreTarget::Latest).is_err());
    assert!(std::fs::read_dir(archive.path()).unwrap().count() > 0, "closed segments were archived");
}

/// Records the phases reported, checking that each only moves forward
/// and never past its total.
#[derive(Default)]
struct Phases(std::sync::Mutex<Vec<(String, u64, u64)>>);

impl Progress for Phases {
    fn phase(&self, name: &str, total: u64, _unit: ProgressUnit) {
        self.0.lock().unwrap().push((name.to_owned(), total, 0));
    }
    fn advance(&self, done: u64) {
        let mut phases = self.0.lock().unwrap();
        let (name, total, last) = phases.last_mut().expect("advance after a phase started");
        assert!(done >= *last && done <= *total, "{name}: {done} after {last}, total {total}");
        *last = done;
    }
}

impl Phases {
    /// The phases' names, each checked to have reached its total.
    fn completed(&self) -> Vec<String> {
        let phases = self.0.lock().unwrap();
        for (name, total, done) in phases.iter() {
            assert_eq!(done, total, "{name} stopped at {done} of {total}");
        }
        phases.iter().map(|(name, ..)| name.clone()).collect()
    }
}

#[test]
fn backup_restore_and_recovery_report_progress_to_their_totals() {
    let dir = tempfile::tempdir().unwrap();
    let archive = tempfile::tempdir().unwrap();
    let mut durability = options(dir.path());
    durability.segment_size = 4 << 10;
    durability.archive_dir = Some(archive.path().to_owned());
    let db = open_with(durability);
    create_kv(&db);
    for id in 0..300 {
        put(&db, id, "before the backup");
    }
    let backup_dir = tempfile::tempdir().unwrap().keep().join("b");
    let phases = std::sync::Arc::new(Phases::default());
    let backup = db.backup_with_progress(&backup_dir, &ProgressHandle::new(phases.clone())).unwrap();
    assert_eq!(backup.rows, 300);
    assert_eq!(phases.completed(), ["writing the snapshot"]);
    assert_eq!(phases.0.lock().unwrap()[0].1, 300, "the total is the table's row slots");
    for id in 300..600 {
        put(&db, id, "after the backup");
    }
    let expected = contents(&db);
    drop(db);

    let phases = std::sync::Arc::new(Phases::default());
    let target = tempfile::tempdir().unwrap();
    let sources = vec![archive.path().to_owned(), dir.path().join("wal")];
    let handle = ProgressHandle::new(phases.clone());
    let report = restore_with_progress(&backup_dir, target.path(), &sources, RestoreTarget::Latest, &handle).unwrap();
    assert_eq!(report.replayed, 300);
    assert_eq!(
        phases.completed(),
        ["loading the checkpoint", "building indexes", "replaying the log", "writing the snapshot"]
    );

    // Opening the restored directory: its checkpoint, then an empty log.
    let phases = std::sync::Arc::new(Phases::default());
    let mut durability = options(target.path());
    durability.progress = ProgressHandle::new(phases.clone());
    let reopened = open_with(durability);
    assert_eq!(contents(&reopened), expected);
    assert_eq!(phases.completed(), ["loading the checkpoint", "building indexes", "replaying the log"]);
    std::fs::remove_dir_all(backup_dir.parent().unwrap()).unwrap();
}

static MEMORY_IN_USE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn probe() -> u64 {
    MEMORY_IN_USE.load(std::sync::atomic::Ordering::SeqCst)
}

#[test]
fn writes_past_max_memory_fail_with_53200_and_reads_and_deletes_go_on() {
    let db =
        Database::open(Config::memory().with_gc_interval(None).with_max_memory(Some(1000)).with_memory_probe(probe))
            .unwrap();
    create_kv(&db);
    put(&db, 1, "fits");
    MEMORY_IN_USE.store(5000, std::sync::atomic::Ordering::SeqCst);
    db.refresh_memory();
    let mut txn = db.begin().unwrap();
    let kv = txn.table("kv").unwrap();
    let err = txn.insert(&kv, vec![i8v(2), text("too much")]).unwrap_err();
    assert_eq!(err.sqlstate(), "53200", "{err}");
    assert!(err.to_string().contains("max_memory"), "{err}");
    txn.rollback().unwrap();
    let mut txn = db.begin().unwrap();
    let kv = txn.table("kv").unwrap();
    let row = txn.get(&kv, &[i8v(1)]).unwrap().expect("reads go on");
    assert_eq!(txn.update(&kv, row.id, vec![i8v(1), text("x")]).unwrap_err().sqlstate(), "53200");
    txn.rollback().unwrap();
    let mut txn = db.begin().unwrap();
    let kv = txn.table("kv").unwrap();
    let row = txn.get(&kv, &[i8v(1)]).unwrap().unwrap();
    txn.delete(&kv, row.id).unwrap();
    txn.commit().unwrap();
    // Once memory is back under the limit, writes work again.
    MEMORY_IN_USE.store(10, std::sync::atomic::Ordering::SeqCst);
    db.refresh_memory();
    put(&db, 3, "fits again");
    assert_eq!(contents(&db), vec![(3, "fits again".into())]);
}

/// A directory open in one database refuses a second one, and is free again
/// as soon as the first is dropped (reopened at once, many times over: its
/// checkpoint thread letting go a moment later is waited for).
#[test]
fn the_data_directory_is_locked_while_open() {
    let dir = tempfile::tempdir().unwrap();
    let first = open(dir.path());
    let second = Database::open(Config::memory().with_gc_interval(None).with_durability(options(dir.path())));
    assert!(matches!(&second, Err(e) if e.to_string().contains("in use")), "{second:?}");
    drop(first);
    for _ in 0..20 {
        let db = open(dir.path());
        drop(db);
    }
}
