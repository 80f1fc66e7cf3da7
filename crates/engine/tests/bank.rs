//! Concurrent bank transfers: money is neither created nor destroyed.
//!
//! Writer threads move random amounts between random accounts, retrying
//! transactions that fail with a retryable error (serialization failure,
//! deadlock); reader threads sum every balance in one snapshot and check
//! the total never changes. The background garbage collector runs often,
//! so old versions are reclaimed while readers use them. Runs at every
//! isolation level: under READ COMMITTED the new balance is computed from
//! the newest version with `update_with`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use memdb_engine::{
    Column, Config, DataType, Database, IsolationLevel, Result, RowId, ScanRange, TableSchema, Transaction, TxnOptions,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use common::{i8v, scan_all};

const ACCOUNTS: i64 = 8;
const INITIAL: i64 = 1_000;
const TOTAL: i64 = ACCOUNTS * INITIAL;
const WRITERS: u64 = 4;
const READERS: u64 = 2;
const TRANSFERS_PER_WRITER: usize = if cfg!(debug_assertions) { 1_500 } else { 10_000 };

fn setup() -> (Database, Vec<RowId>) {
    let db = Database::open(Config::memory().with_gc_interval(Some(Duration::from_millis(2)))).unwrap();
    let mut txn = db.begin().unwrap();
    txn.create_table(
        TableSchema::new("accounts")
            .column(Column::new("id", DataType::Int8))
            .column(Column::new("balance", DataType::Int8).not_null())
            .primary_key(["id"]),
    )
    .unwrap();
    let t = txn.table("accounts").unwrap();
    let ids = (0..ACCOUNTS).map(|id| txn.insert(&t, vec![i8v(id), i8v(INITIAL)]).unwrap()).collect();
    txn.commit().unwrap();
    (db, ids)
}

fn balance(values: &[memdb_engine::Value]) -> i64 {
    values[1].as_i64().expect("balance is an integer")
}

/// One transfer inside `txn` (not committed).
fn transfer(txn: &mut Transaction, ids: &[RowId], from: i64, to: i64, amount: i64) -> Result<()> {
    txn.begin_statement()?;
    let t = txn.table("accounts")?;
    if txn.options().isolation == IsolationLevel::ReadCommitted {
        // `update accounts set balance = balance - $amount where id = $from`
        for (account, delta) in [(from, -amount), (to, amount)] {
            std::thread::yield_now();
            let row_id = ids[usize::try_from(account).unwrap()];
            let stored =
                txn.update_with(&t, row_id, |old| Ok(Some(vec![old[0].clone(), i8v(balance(old) + delta)])))?;
            assert!(stored.is_some(), "account {account} exists");
        }
    } else {
        // Read both balances, then write both: a read-modify-write that
        // snapshot isolation must protect from lost updates.
        let a = txn.get(&t, &[i8v(from)])?.expect("account exists");
        let b = txn.get(&t, &[i8v(to)])?.expect("account exists");
        std::thread::yield_now(); // widen the window for concurrent writers
        assert!(txn.update(&t, a.id, vec![i8v(from), i8v(balance(&a.values) - amount)])?);
        assert!(txn.update(&t, b.id, vec![i8v(to), i8v(balance(&b.values) + amount)])?);
    }
    Ok(())
}

/// Sums all balances in one snapshot, reading in one of several ways.
fn audit(txn: &mut Transaction, how: u32) -> Result<i64> {
    txn.begin_statement()?;
    let t = txn.table("accounts")?;
    let rows = match how % 4 {
        0 => scan_all(txn, &t, false),
        1 => scan_all(txn, &t, true),
        2 => {
            let range = ScanRange::Index {
                index: "accounts_pkey".into(),
                lower: std::ops::Bound::Unbounded,
                upper: std::ops::Bound::Unbounded,
            };
            common::scan_range(txn, &t, range, how % 8 >= 4)
        }
        _ => {
            let mut rows = Vec::new();
            for id in 0..ACCOUNTS {
                rows.push(txn.get(&t, &[i8v(id)])?.expect("account exists"));
            }
            rows
        }
    };
    assert_eq!(rows.len(), ACCOUNTS as usize, "every account is visible");
    Ok(rows.iter().map(|r| balance(&r.values)).sum())
}

struct Counters {
    commits: AtomicU64,
    retries: AtomicU64,
    audits: AtomicU64,
}

fn run_bank(isolation: IsolationLevel, seed: u64) {
    let (db, ids) = setup();
    let ids: Arc<[RowId]> = ids.into();
    let stop = Arc::new(AtomicBool::new(false));
    let counters =
        Arc::new(Counters { commits: AtomicU64::new(0), retries: AtomicU64::new(0), audits: AtomicU64::new(0) });
    let (done_tx, done_rx) = mpsc::channel::<thread::Result<()>>();

    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (db, ids, counters, done) = (db.clone(), ids.clone(), counters.clone(), done_tx.clone());
        writers.push(thread::spawn(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let mut rng = StdRng::seed_from_u64(seed * 100 + w);
                for _ in 0..TRANSFERS_PER_WRITER {
                    let from = rng.random_range(0..ACCOUNTS);
                    let to = (from + rng.random_range(1..ACCOUNTS)) % ACCOUNTS;
                    let amount = rng.random_range(1..100);
                    loop {
                        let mut txn = db.begin_with(TxnOptions::isolation(isolation)).unwrap();
                        let result = transfer(&mut txn, &ids, from, to, amount).and_then(|()| txn.commit().map(|_| ()));
                        match result {
                            Ok(()) => break,
                            Err(e) if e.is_retryable() => {
                                counters.retries.fetch_add(1, Ordering::Relaxed);
                                thread::yield_now();
                            }
                            Err(e) => panic!("transfer failed with a non-retryable error: {e:?}"),
                        }
                    }
                    counters.commits.fetch_add(1, Ordering::Relaxed);
                }
            }));
            let _ = done.send(result);
        }));
    }

    let mut readers = Vec::new();
    for r in 0..READERS {
        let (db, stop, counters, done) = (db.clone(), stop.clone(), counters.clone(), done_tx.clone());
        readers.push(thread::spawn(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let mut how = u32::try_from(r).unwrap();
                while !stop.load(Ordering::Relaxed) {
                    let options = TxnOptions::read_only(isolation);
                    let mut txn = db.begin_with(options).unwrap();
                    let total = audit(&mut txn, how).unwrap();
                    assert_eq!(total, TOTAL, "{isolation:?}: a snapshot saw money appear or vanish (audit {how})");
                    // Read it again in the same snapshot (RC: the same statement).
                    if isolation != IsolationLevel::ReadCommitted {
                        assert_eq!(audit(&mut txn, how + 1).unwrap(), TOTAL);
                    }
                    txn.commit().unwrap();
                    counters.audits.fetch_add(1, Ordering::Relaxed);
                    how = how.wrapping_add(1);
                    thread::yield_now();
                }
            }));
            let _ = done.send(result);
        }));
    }
    drop(done_tx);

    // Wait for the writers (with a watchdog), then stop the readers.
    let deadline = Duration::from_secs(if cfg!(debug_assertions) { 120 } else { 60 });
    for finished in 0..WRITERS + READERS {
        if finished == WRITERS {
            stop.store(true, Ordering::Relaxed);
        }
        match done_rx.recv_timeout(deadline) {
            Ok(Ok(())) => {}
            Ok(Err(panic)) => {
                stop.store(true, Ordering::Relaxed);
                std::panic::resume_unwind(panic);
            }
            Err(_) => panic!("{isolation:?}: bank workers are stuck (a lost wake-up or an undetected deadlock?)"),
        }
    }
    for handle in writers.into_iter().chain(readers) {
        handle.join().unwrap();
    }

    let commits = counters.commits.load(Ordering::Relaxed);
    assert_eq!(commits, WRITERS * TRANSFERS_PER_WRITER as u64);
    assert!(counters.audits.load(Ordering::Relaxed) > 0, "readers ran");
    let mut txn = db.begin().unwrap();
    assert_eq!(audit(&mut txn, 0).unwrap(), TOTAL, "{isolation:?}: final total");
    drop(txn);
    db.gc();
    let stats = db.stats();
    assert_eq!(stats.live_rows, ACCOUNTS as u64);
    assert_eq!(stats.active_transactions, 0);
    eprintln!(
        "{isolation:?}: {commits} transfers, {} retries, {} audits",
        counters.retries.load(Ordering::Relaxed),
        counters.audits.load(Ordering::Relaxed)
    );
}

#[test]
fn bank_snapshot_isolation() {
    run_bank(IsolationLevel::Snapshot, 1);
}

#[test]
fn bank_serializable() {
    run_bank(IsolationLevel::Serializable, 2);
}

#[test]
fn bank_read_committed() {
    run_bank(IsolationLevel::ReadCommitted, 3);
}

/// The same workload where every transfer also reads a random third
/// account, so SERIALIZABLE validation sees read-only dependencies, with
/// balances kept non-negative by the transfer logic (write skew would break
/// it): a transfer only happens if the payer's balance covers it.
#[test]
fn bank_serializable_never_overdraws() {
    let (db, _ids) = setup();
    let handles: Vec<_> = (0..WRITERS)
        .map(|w| {
            let db = db.clone();
            thread::spawn(move || {
                let mut rng = StdRng::seed_from_u64(7_000 + w);
                for _ in 0..TRANSFERS_PER_WRITER / 2 {
                    // "Withdraw from `a` as long as a + b stays >= 0": the
                    // classic write-skew constraint over two accounts.
                    let a = rng.random_range(0..ACCOUNTS / 2) * 2;
                    let b = a + 1;
                    let amount = rng.random_range(1..800);
                    let payer = if rng.random_bool(0.5) { a } else { b };
                    loop {
                        let mut txn = db.begin_with(TxnOptions::isolation(IsolationLevel::Serializable)).unwrap();
                        let result = (|| -> Result<()> {
                            let t = txn.table("accounts")?;
                            let ra = txn.get(&t, &[i8v(a)])?.unwrap();
                            let rb = txn.get(&t, &[i8v(b)])?.unwrap();
                            if balance(&ra.values) + balance(&rb.values) >= amount {
                                let r = if payer == a { &ra } else { &rb };
                                txn.update(&t, r.id, vec![i8v(payer), i8v(balance(&r.values) - amount)])?;
                            }
                            Ok(())
                        })()
                        .and_then(|()| txn.commit().map(|_| ()));
                        match result {
                            Ok(()) => break,
                            Err(e) if e.is_retryable() => thread::yield_now(),
                            Err(e) => panic!("{e:?}"),
                        }
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let mut txn = db.begin().unwrap();
    let t = txn.table("accounts").unwrap();
    let rows = scan_all(&mut txn, &t, false);
    for pair in rows.chunks(2) {
        let sum = balance(&pair[0].values) + balance(&pair[1].values);
        assert!(sum >= 0, "write skew: accounts {:?} and {:?} sum to {sum}", pair[0].values, pair[1].values);
    }
}
