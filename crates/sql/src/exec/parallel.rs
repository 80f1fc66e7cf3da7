//! Parallel hash aggregation: a large table's full scan is split by row id
//! among threads, each of which filters, projects and aggregates its share;
//! the partial groups are then merged. PostgreSQL's "Parallel Seq Scan"
//! under a "Partial Aggregate".
//!
//! Taken for an aggregate whose input is a full scan of at least
//! [`MIN_ROWS`] row ids under filters, projections and index nested-loop
//! joins (the scan on their outer side), when every
//! expression involved is safe to evaluate off the session's thread (no
//! subqueries, sequences, session state or catalog lookups) and the
//! statement is not collecting EXPLAIN ANALYZE statistics. The threads
//! come from a process-wide budget of one fewer than the machine's cores
//! (the session's own thread is the other), so concurrent statements
//! never oversubscribe the CPUs: a statement that finds the budget spent
//! runs on its own thread. `max_parallel_workers_per_gather` caps the
//! extra threads per statement, as in PostgreSQL (0 turns this off).
//!
//! The result is the one a single thread computes: each thread's share is
//! a consecutive range of row ids, the merge takes the shares in order and
//! continues each group's aggregates with the later rows (see
//! [`Partial::merge`]), so group order, `string_agg`/`array_agg` order and
//! ties of min/max come out the same. Only float sums may round
//! differently, as in PostgreSQL.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use memdb_engine::{IndexProbe, IsolationLevel, ScanCursor, ScanRange, Transaction, Value};

use super::aggregate::Partial;
use super::index_join::Shape;
use super::{ExecCtx, Operator, Row, TxnAccess, build};
use crate::error::Result;
use crate::expr::Expr;
use crate::plan::{Access, AggregateCall, Plan};
use crate::session::SessionVars;

/// Tables with fewer row ids than this are aggregated on one thread: the
/// threads' start-up would cost more than they save. The session setting
/// `memdb.parallel_min_rows` overrides it.
pub(crate) const MIN_ROWS: u64 = 50_000;

/// Parallel aggregations run so far, process-wide (for tests to see that
/// a statement took this path).
static RUNS: AtomicUsize = AtomicUsize::new(0);

/// Extra threads in use by parallel statements, process-wide.
static THREADS_IN_USE: AtomicUsize = AtomicUsize::new(0);

/// Extra threads the process may use at once: one fewer than its cores.
fn thread_budget() -> usize {
    static BUDGET: OnceLock<usize> = OnceLock::new();
    *BUDGET.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from).saturating_sub(1))
}

/// Extra threads taken from the budget, given back when dropped.
struct Reservation(usize);

impl Reservation {
    /// Up to `wanted` threads, as many as the budget has left (maybe 0).
    fn take(wanted: usize) -> Reservation {
        let budget = thread_budget();
        let mut taken = 0;
        let _ = THREADS_IN_USE.fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
            taken = wanted.min(budget.saturating_sub(used));
            Some(used + taken)
        });
        Reservation(taken)
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        THREADS_IN_USE.fetch_sub(self.0, Ordering::AcqRel);
    }
}

/// Whether a worker thread may evaluate `expr`: it reads only the row and
/// the statement's fixed state.
fn safe(expr: &Expr) -> bool {
    let mut ok = true;
    expr.walk(&mut |e| match e {
        Expr::Subquery(_) => ok = false,
        Expr::Call(f, _) if !f.is_parallel_safe() => ok = false,
        _ => {}
    });
    ok
}

/// The full scan at the bottom of a chain of filters, projections and
/// index joins (on their left side) whose expressions are all safe, if
/// `plan` is one; the index joins' shapes go to `joins`.
fn driving_scan<'p>(plan: &'p Plan, joins: &mut Vec<Shape<'p>>) -> Option<&'p Plan> {
    match plan {
        Plan::Scan { access: Access::Full, lock: None, row_id: false, filter, .. }
            if filter.as_ref().is_none_or(safe) =>
        {
            Some(plan)
        }
        Plan::Filter { input, predicate } if safe(predicate) => driving_scan(input, joins),
        Plan::Project { input, exprs } if exprs.iter().all(safe) => driving_scan(input, joins),
        Plan::Apply { left, right, kind, on } => {
            let shape = Shape::of(right, *kind, on.as_ref(), left.width())?;
            let exprs_safe = shape.key.iter().all(safe)
                && shape.filter.as_ref().is_none_or(safe)
                && shape.on.as_ref().is_none_or(safe);
            if !exprs_safe {
                return None;
            }
            joins.push(shape);
            driving_scan(left, joins)
        }
        _ => None,
    }
}

/// An aggregation whose input may be scanned by several threads.
pub(crate) struct ParallelAggregateOp<'p> {
    input: &'p Plan,
    /// The full scan at the bottom of `input`.
    scan: &'p Plan,
    /// Its cursor, opened (privileges checked, the read recorded) by the
    /// statement's own transaction; taken by the first `next`.
    cursor: Option<ScanCursor>,
    /// Probes of the index joins in `input`, by plan node, opened likewise.
    probes: Vec<(usize, IndexProbe)>,
    group_by: &'p [Expr],
    aggregates: &'p [AggregateCall],
    output: std::vec::IntoIter<Row>,
}

impl<'p> ParallelAggregateOp<'p> {
    /// The operator for an aggregation over `input`, if it qualifies (see
    /// the module docs); `None` leaves it to the plain aggregation.
    pub(crate) fn open(
        input: &'p Plan,
        group_by: &'p [Expr],
        aggregates: &'p [AggregateCall],
        cx: &mut ExecCtx<'_>,
    ) -> Result<Option<ParallelAggregateOp<'p>>> {
        if cx.stats.is_some() || !matches!(cx.txn, TxnAccess::Owned(_)) || thread_budget() == 0 {
            return Ok(None);
        }
        let mut joins = Vec::new();
        let Some(scan) = driving_scan(input, &mut joins) else { return Ok(None) };
        // Index joins record the keys they probe in a SERIALIZABLE
        // transaction, which only the session's thread can.
        if !joins.is_empty() && cx.txn.options().isolation == IsolationLevel::Serializable {
            return Ok(None);
        }
        let Plan::Scan { table, columns, .. } = scan else { return Ok(None) };
        let calls_safe = aggregates.iter().all(|call| {
            call.args.iter().all(safe)
                && call.filter.as_ref().is_none_or(safe)
                && call.order_by.iter().all(|k| safe(&k.expr))
        });
        if !calls_safe || !group_by.iter().all(safe) {
            return Ok(None);
        }
        // The scan first, then the joins' probes: privilege errors name
        // the tables in the order a single pass opens them.
        let mut cursor = cx.txn_mut()?.open_scan(table, ScanRange::Full, false)?;
        if let Some(cols) = columns {
            cursor.project(cols);
        }
        let mut probes = Vec::with_capacity(joins.len());
        for shape in joins.iter().rev() {
            probes.push((shape.node, cx.txn_mut()?.open_probe(shape.table, shape.index, shape.columns)?));
        }
        Ok(Some(ParallelAggregateOp {
            input,
            scan,
            cursor: Some(cursor),
            probes,
            group_by,
            aggregates,
            output: Vec::new().into_iter(),
        }))
    }

    /// Extra threads the session allows per statement.
    fn allowed(cx: &ExecCtx<'_>) -> usize {
        cx.setting("max_parallel_workers_per_gather").and_then(|v| v.trim().parse().ok()).unwrap_or(2)
    }

    /// The fewest rows the session splits a scan for.
    fn min_rows(cx: &ExecCtx<'_>) -> u64 {
        cx.setting("memdb.parallel_min_rows").and_then(|v| v.trim().parse().ok()).unwrap_or(MIN_ROWS)
    }

    /// Aggregates every row of the scan: split among the threads the
    /// budget gives, or on this thread alone.
    fn aggregate(&self, cursor: ScanCursor, cx: &mut ExecCtx<'_>) -> Result<Vec<Row>> {
        let reservation = Reservation::take(Self::allowed(cx));
        let parts = match cursor.rows_left() {
            Some(n) if reservation.0 > 0 && n >= Self::min_rows(cx).max(2) => cursor.split(reservation.0 + 1),
            _ => None,
        };
        let Some(parts) = parts else {
            drop(reservation);
            let mut partial = Partial::new(self.group_by, self.aggregates);
            self.serial(cursor, &mut partial, cx)?;
            return partial.finish();
        };
        let shared = Shared {
            txn: &cx.txn,
            params: cx.params,
            outer: &cx.outer,
            now: cx.now,
            vars: &*cx.vars,
            probes: &self.probes,
            input: self.input,
            scan: self.scan,
            group_by: self.group_by,
            aggregates: self.aggregates,
        };
        RUNS.fetch_add(1, Ordering::Relaxed);
        let mut result = None;
        // The threads wait for each other here; through the blocking hook
        // a server's runtime thread hands its other work over meanwhile.
        cx.txn.run_blocking(&mut || result = Some(shared.run(&parts)));
        drop(reservation);
        let merged = result.and_then(Result::ok).and_then(|partials| {
            let mut merged = Partial::new(self.group_by, self.aggregates);
            for partial in partials {
                if partial.near_numeric_limits() || merged.merge(partial).is_err() {
                    return None;
                }
            }
            (!merged.near_numeric_limits()).then_some(merged)
        });
        match merged {
            Some(merged) => merged.finish(),
            // A part failed (the error a single pass meets first, in row
            // order, may be another one), or a numeric sum came near the
            // 96-bit limit, where the order of additions decides rounding
            // and overflow: one thread answers exactly as it would have.
            None => {
                let mut partial = Partial::new(self.group_by, self.aggregates);
                self.serial(cursor, &mut partial, cx)?;
                partial.finish()
            }
        }
    }

    /// Runs the whole scan on this thread into `partial`.
    fn serial(&self, cursor: ScanCursor, partial: &mut Partial<'_>, cx: &mut ExecCtx<'_>) -> Result<()> {
        cx.preopened_probes.clone_from(&self.probes);
        let consumed = consume_part(self.input, self.scan, cursor, partial, cx);
        cx.preopened_probes.clear();
        consumed
    }
}

impl Operator for ParallelAggregateOp<'_> {
    fn next(&mut self, cx: &mut ExecCtx<'_>) -> Result<Option<Vec<Row>>> {
        if let Some(cursor) = self.cursor.take() {
            self.output = self.aggregate(cursor, cx)?.into_iter();
        }
        let batch: Vec<Row> = self.output.by_ref().take(super::BATCH).collect();
        Ok(if batch.is_empty() { None } else { Some(batch) })
    }
}

/// What the threads of one parallel aggregation share.
struct Shared<'a, 'p> {
    txn: &'a Transaction,
    params: &'a [Value],
    outer: &'a [Row],
    now: i64,
    vars: &'a SessionVars,
    probes: &'a [(usize, IndexProbe)],
    input: &'p Plan,
    scan: &'p Plan,
    group_by: &'p [Expr],
    aggregates: &'p [AggregateCall],
}

impl<'p> Shared<'_, 'p> {
    /// Aggregates each part on a thread of its own (the first on this
    /// one), returning the partial results in the parts' order.
    fn run(&self, parts: &[ScanCursor]) -> Result<Vec<Partial<'p>>> {
        let Some((first, rest)) = parts.split_first() else { return Ok(Vec::new()) };
        // Set by the first part that fails: the others stop at their next
        // batch instead of scanning on for a result nobody will use.
        let stop = Arc::new(AtomicBool::new(false));
        let part = |cursor: &ScanCursor| {
            let result = self.part(cursor.clone(), self.vars.for_worker(Some(stop.clone())));
            if result.is_err() {
                stop.store(true, Ordering::Relaxed);
            }
            result
        };
        std::thread::scope(|scope| {
            let spawned: Vec<_> = rest
                .iter()
                .map(|cursor| {
                    let thread = std::thread::Builder::new().name("memdb-parallel".into());
                    (cursor, thread.spawn_scoped(scope, || part(cursor)))
                })
                .collect();
            // Every thread is joined before anything is returned, so none
            // is left running (or panicking) behind an early error.
            let mut results = vec![part(first)];
            for (cursor, handle) in spawned {
                results.push(match handle {
                    Ok(handle) => handle.join().unwrap_or_else(|_| {
                        stop.store(true, Ordering::Relaxed);
                        Err(memdb_engine::Error::Internal("a parallel worker thread failed".into()).into())
                    }),
                    // No thread to be had: this one does the part.
                    Err(_) => part(cursor),
                });
            }
            results.into_iter().collect()
        })
    }

    /// Aggregates one part of the scan in a context of its own.
    fn part(&self, cursor: ScanCursor, mut vars: SessionVars) -> Result<Partial<'p>> {
        let mut cx =
            ExecCtx::with_access(TxnAccess::Shared(self.txn), self.params, self.outer.to_vec(), self.now, &mut vars);
        cx.preopened_probes = self.probes.to_vec();
        let mut partial = Partial::new(self.group_by, self.aggregates);
        consume_part(self.input, self.scan, cursor, &mut partial, &mut cx)?;
        Ok(partial)
    }
}

/// Runs `input` with its scan reading `cursor`, feeding the rows to
/// `partial`.
fn consume_part<'p>(
    input: &'p Plan,
    scan: &'p Plan,
    cursor: ScanCursor,
    partial: &mut Partial<'_>,
    cx: &mut ExecCtx<'_>,
) -> Result<()> {
    cx.preopened = Some((std::ptr::from_ref(scan) as usize, cursor));
    let op = build(input, cx);
    cx.preopened = None;
    let mut op: Box<dyn Operator + 'p> = op?;
    partial.consume(op.as_mut(), cx)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use memdb_engine::{Config, Database};

    use super::*;
    use crate::session::Session;

    /// The tests share the process's thread budget: one at a time, so each
    /// finds it free.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn rows(session: &mut Session, sql: &str) -> std::result::Result<Vec<Vec<String>>, String> {
        let result = session.execute(sql).map_err(|e| format!("{} {e}", e.sqlstate()))?;
        Ok(result.rows.iter().map(|r| r.iter().map(ToString::to_string).collect()).collect())
    }

    #[test]
    fn parallel_aggregation_returns_what_one_thread_does() {
        let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let db = Arc::new(Database::open(Config::memory()).unwrap());
        let mut s = Session::new(db, "memdb");
        for sql in [
            "CREATE TABLE t (id int, g int, x numeric, f float8, s text, b bool, d date)",
            "INSERT INTO t SELECT i, i % 13, CASE WHEN i % 7 = 0 THEN NULL ELSE i / 3.0 END, i * 0.5, \
             'v' || (i % 97), i % 3 = 0, DATE '2020-01-01' + i % 400 FROM generate_series(1, 3000) i",
            "DELETE FROM t WHERE id % 11 = 0",
            "CREATE TABLE big (id int PRIMARY KEY, k int, s text)",
            "CREATE INDEX big_k ON big (k)",
            "INSERT INTO big SELECT i, i % 1500, 'b' || i FROM generate_series(1, 30000) i",
            "CREATE TABLE small (id int PRIMARY KEY, v int)",
            "INSERT INTO small SELECT i, i * 3 FROM generate_series(1, 1000) i",
            "SET memdb.parallel_min_rows = 100",
        ] {
            s.execute(sql).unwrap();
        }
        let queries = [
            "SELECT count(*), sum(id), avg(x), min(s), max(d), sum(f) FROM t",
            "SELECT g, count(x), sum(x), avg(id), stddev(x), var_pop(id), bool_and(b), bool_or(b) FROM t GROUP BY g",
            "SELECT g % 3, b, min(x), max(s), bit_and(id), bit_or(id) FROM t WHERE id > 40 GROUP BY g % 3, b",
            "SELECT string_agg(s, ',' ORDER BY id DESC) FILTER (WHERE id < 60), array_agg(id) FILTER (WHERE id % 500 = 1) FROM t",
            "SELECT g, string_agg(s, CASE WHEN id % 2 = 0 THEN '-' ELSE '+' END) FILTER (WHERE id % 300 < 2) FROM t GROUP BY g",
            "SELECT count(DISTINCT s), json_agg(id) FILTER (WHERE id > 2990), jsonb_object_agg(g, id) FROM t",
            "SELECT d, count(*) FROM t WHERE s LIKE 'v1%' GROUP BY d",
            "SELECT count(*) FROM t WHERE id < 0",
            "SELECT g, count(*) FROM t WHERE id < 0 GROUP BY g",
            "SELECT sum(1 / (id - 1500)) FROM t",
            "SELECT count(*), sum(small.v), max(big.s) FROM big JOIN small ON big.k = small.id",
            "SELECT small.id % 5, string_agg(big.s, ',') FROM small LEFT JOIN big ON big.k = small.id AND big.id % 997 = 0 \
             GROUP BY small.id % 5",
            "SELECT upper(s), sum(x * 2) FROM (SELECT s, x FROM t WHERE b) q GROUP BY upper(s)",
        ];
        for q in queries {
            s.execute("SET max_parallel_workers_per_gather = 0").unwrap();
            let serial = rows(&mut s, q);
            s.execute("SET max_parallel_workers_per_gather = 4").unwrap();
            let before = RUNS.load(Ordering::Relaxed);
            let parallel = rows(&mut s, q);
            assert_eq!(serial, parallel, "{q}");
            if thread_budget() > 0 && !q.contains("1500") {
                assert!(RUNS.load(Ordering::Relaxed) > before, "{q} ran on one thread");
            }
        }
        assert!(rows(&mut s, "SELECT sum(1 / (id - 1500)) FROM t").unwrap_err().starts_with("22012"));
    }

    #[test]
    fn numeric_sums_near_the_limit_and_errors_answer_as_one_thread() {
        let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let db = Arc::new(Database::open(Config::memory()).unwrap());
        let mut s = Session::new(db, "memdb");
        for sql in [
            "CREATE TABLE ov (id int, v numeric)",
            "INSERT INTO ov SELECT i, CASE WHEN i = 10 THEN 7e28 WHEN i IN (11, 12) THEN -7e28 ELSE 0 END \
             FROM generate_series(1, 20) i",
            "CREATE TABLE x3 (id int, x numeric)",
            "INSERT INTO x3 SELECT i, i / 3.0 FROM generate_series(1, 30000) i",
            "SET memdb.parallel_min_rows = 10",
        ] {
            s.execute(sql).unwrap();
        }
        for q in [
            "SELECT sum(v) FROM ov",
            "SELECT sum(x * x * x * x), avg(x * x * x * x), variance(x * x) FROM x3",
            "SELECT sum(1 / (id - 20000)) FROM x3",
            "SELECT count(*) FROM x3 WHERE 1 / (id - 29990) > 0 OR 1 / (id - 5) > 0",
        ] {
            s.execute("SET max_parallel_workers_per_gather = 0").unwrap();
            let serial = rows(&mut s, q);
            s.execute("SET max_parallel_workers_per_gather = 4").unwrap();
            assert_eq!(serial, rows(&mut s, q), "{q}");
        }
    }

    #[test]
    fn unsafe_expressions_and_small_tables_stay_on_one_thread() {
        let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let db = Arc::new(Database::open(Config::memory()).unwrap());
        let mut s = Session::new(db, "memdb");
        s.execute("CREATE TABLE t (id int)").unwrap();
        s.execute("CREATE SEQUENCE q").unwrap();
        s.execute("INSERT INTO t SELECT generate_series(1, 500)").unwrap();
        s.execute("SET memdb.parallel_min_rows = 100").unwrap();
        // nextval must run in the session: every row gets its own value.
        assert_eq!(rows(&mut s, "SELECT count(DISTINCT nextval('q')) FROM t").unwrap(), vec![vec!["500"]]);
        assert_eq!(rows(&mut s, "SELECT currval('q')").unwrap(), vec![vec!["500"]]);
        s.execute("SET memdb.parallel_min_rows = 1000").unwrap();
        assert_eq!(rows(&mut s, "SELECT sum(id) FROM t").unwrap(), vec![vec!["125250"]]);
    }
}
