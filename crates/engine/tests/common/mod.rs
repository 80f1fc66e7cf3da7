//! Helpers shared by the engine's integration tests.

#![allow(dead_code)]

use std::process::{Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

use memdb_engine::{
    Column, Config, ConstraintSpec, DataType, Database, Error, FkAction, IsolationLevel, Row, ScanRange, Table,
    TableSchema, Transaction, TxnOptions, Value,
};

/// A database without the background collector: GC runs only when a test
/// calls `db.gc()`, so tests are deterministic.
pub fn open_db() -> Database {
    Database::open(Config::memory().with_gc_interval(None)).unwrap()
}

/// `Value::Int8`.
pub fn i8v(v: i64) -> Value {
    Value::Int8(v)
}

/// `Value::Int4`.
pub fn i4v(v: i32) -> Value {
    Value::Int4(v)
}

/// `Value::Text`.
pub fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

/// Every row of a full scan, in row-id order (or reversed).
pub fn scan_all(txn: &mut Transaction, table: &Table, reverse: bool) -> Vec<Row> {
    txn.scan(table, ScanRange::Full, reverse).unwrap().collect::<Result<Vec<_>, _>>().unwrap()
}

/// Every row of a scan over `range`.
pub fn scan_range(txn: &mut Transaction, table: &Table, range: ScanRange, reverse: bool) -> Vec<Row> {
    txn.scan(table, range, reverse).unwrap().collect::<Result<Vec<_>, _>>().unwrap()
}

/// Begins a transaction at an isolation level.
pub fn begin(db: &Database, isolation: IsolationLevel) -> Transaction {
    db.begin_with(TxnOptions::isolation(isolation)).unwrap()
}

/// Asserts that `result` failed with an error of the given SQLSTATE and
/// returns the error.
#[track_caller]
pub fn expect_sqlstate<T>(result: Result<T, Error>, sqlstate: &str) -> Error {
    match result {
        Ok(_) => panic!("expected an error with SQLSTATE {sqlstate}, got Ok(_: {})", std::any::type_name::<T>()),
        Err(e) => {
            assert_eq!(e.sqlstate(), sqlstate, "unexpected error: {e:?} ({e})");
            e
        }
    }
}

/// How long a step may take before a test decides it is stuck.
pub const STUCK: Duration = Duration::from_secs(10);
/// How long a step must stay blocked to count as "waiting on a lock".
pub const BLOCKED: Duration = Duration::from_millis(150);

type Job = Box<dyn FnOnce(&mut Option<Transaction>) + Send>;

/// A transaction living on its own thread. Steps are sent to it as closures,
/// so a test can interleave several transactions from one thread and let a
/// step block on a row lock without blocking the test.
pub struct Session {
    jobs: Sender<Job>,
}

/// A step sent to a [`Session`] that has not necessarily finished.
pub struct Pending<R> {
    reply: Receiver<R>,
}

impl Session {
    /// Starts a session whose transaction begins now, at `isolation`.
    pub fn begin(db: &Database, isolation: IsolationLevel) -> Session {
        let (jobs, rx) = mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = mpsc::channel();
        let db = db.clone();
        thread::spawn(move || {
            let mut txn = Some(db.begin_with(TxnOptions::isolation(isolation)).unwrap());
            ready_tx.send(()).unwrap();
            for job in rx {
                job(&mut txn);
            }
        });
        ready_rx.recv_timeout(STUCK).expect("session did not start");
        Session { jobs }
    }

    /// Sends a step; the result arrives through the returned [`Pending`].
    pub fn start<R: Send + 'static>(&self, step: impl FnOnce(&mut Transaction) -> R + Send + 'static) -> Pending<R> {
        self.start_owned(move |txn| step(txn.as_mut().expect("the session's transaction already ended")))
    }

    /// Like [`Session::start`], with the transaction itself (to end it).
    pub fn start_owned<R: Send + 'static>(
        &self,
        step: impl FnOnce(&mut Option<Transaction>) -> R + Send + 'static,
    ) -> Pending<R> {
        let (tx, reply) = mpsc::channel();
        self.jobs
            .send(Box::new(move |txn| {
                let _ = tx.send(step(txn));
            }))
            .expect("session thread is gone");
        Pending { reply }
    }

    /// Runs a step and waits for its result.
    #[track_caller]
    pub fn run<R: Send + 'static>(&self, step: impl FnOnce(&mut Transaction) -> R + Send + 'static) -> R {
        self.start(step).wait()
    }

    /// Commits the session's transaction.
    #[track_caller]
    pub fn commit(&self) -> Result<(), Error> {
        self.start_commit().wait()
    }

    /// Starts committing (the result may be awaited later).
    pub fn start_commit(&self) -> Pending<Result<(), Error>> {
        self.start_owned(|txn| txn.take().expect("already ended").commit().map(|_| ()))
    }

    /// Rolls the session's transaction back.
    #[track_caller]
    pub fn rollback(&self) {
        self.start_owned(|txn| txn.take().expect("already ended").rollback()).wait().unwrap();
    }
}

impl<R> Pending<R> {
    /// Waits for the step's result (panics if it takes longer than [`STUCK`]).
    #[track_caller]
    pub fn wait(self) -> R {
        match self.reply.recv_timeout(STUCK) {
            Ok(r) => r,
            Err(RecvTimeoutError::Timeout) => panic!("step still blocked after {STUCK:?}"),
            Err(RecvTimeoutError::Disconnected) => panic!("session thread panicked"),
        }
    }

    /// The result, if the step has finished.
    pub fn try_get(&self) -> Option<R> {
        self.reply.try_recv().ok()
    }

    /// Asserts that the step is still running (blocked) after [`BLOCKED`].
    #[track_caller]
    pub fn assert_blocked(&self) {
        match self.reply.recv_timeout(BLOCKED) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(_) => panic!("step completed but should be waiting for a row lock"),
            Err(RecvTimeoutError::Disconnected) => panic!("session thread panicked"),
        }
    }
}

/// The environment variable that marks a child test process.
pub const CHILD_ENV: &str = "MEMDB_TEST_CHILD";

/// Whether this process is a child started by [`run_child`].
pub fn in_child() -> bool {
    std::env::var_os(CHILD_ENV).is_some()
}

/// How a child test process ended.
#[derive(Debug)]
pub enum ChildOutcome {
    /// It exited; `success` and its stderr.
    Exited { success: bool, stderr: String },
    /// It was still running after the timeout and was killed.
    TimedOut,
}

/// Runs the (ignored) test `name` of this test binary in a child process,
/// for scenarios that may crash (stack overflow) or spin forever, so that a
/// failure stays contained in one test.
pub fn run_child(name: &str, timeout: Duration) -> ChildOutcome {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args([name, "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stderr.take().unwrap();
    let reader = thread::spawn(move || {
        use std::io::Read;
        let mut stderr = String::new();
        let _ = pipe.read_to_string(&mut stderr);
        stderr
    });
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let stderr = reader.join().unwrap_or_default();
            return ChildOutcome::Exited { success: status.success(), stderr };
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return ChildOutcome::TimedOut;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

pub fn values(txn: &mut Transaction, table: &str) -> Vec<Vec<Value>> {
    let t = txn.table(table).unwrap();
    scan_all(txn, &t, false).into_iter().map(|r| r.values).collect()
}

/// `parent (id bigint primary key)`, `child (id bigint primary key,
/// parent_id bigint references parent on delete <on_delete> on update
/// <on_update>)` with parents 1, 2 and children 10 → 1, 11 → 1, 12 → 2.
pub fn family(on_delete: FkAction, on_update: FkAction) -> Database {
    let db = open_db();
    let mut txn = db.begin().unwrap();
    txn.create_table(TableSchema::new("parent").column(Column::new("id", DataType::Int8)).primary_key(["id"])).unwrap();
    txn.create_table(
        TableSchema::new("child")
            .column(Column::new("id", DataType::Int8))
            .column(Column::new("parent_id", DataType::Int8))
            .primary_key(["id"])
            .constraint(ConstraintSpec::ForeignKey {
                name: None,
                columns: vec!["parent_id".into()],
                ref_table: "parent".into(),
                ref_columns: vec![],
                on_delete,
                on_update,
            }),
    )
    .unwrap();
    let (p, c) = (txn.table("parent").unwrap(), txn.table("child").unwrap());
    for id in [1, 2] {
        txn.insert(&p, vec![i8v(id)]).unwrap();
    }
    for (id, parent) in [(10, 1), (11, 1), (12, 2)] {
        txn.insert(&c, vec![i8v(id), i8v(parent)]).unwrap();
    }
    txn.commit().unwrap();
    db
}
