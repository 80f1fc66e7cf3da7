//! The executor: plans become trees of operators that produce rows in
//! batches.
//!
//! Each [`Plan`] node becomes one operator (one file per kind of operator
//! here). `Operator::next` returns the next batch of up to [`BATCH`] rows,
//! so the per-row work is a tight loop and the per-operator virtual call
//! happens once a batch. Blocking operators (sort, hash aggregate, the
//! build side of a hash join) consume their input on the first call.
//!
//! [`ExecCtx`] is what operators share during one statement: the
//! transaction, parameters, the rows of enclosing queries for correlated
//! subqueries, and cached results of uncorrelated subqueries and CTEs.

mod aggregate;
mod basic;
mod frame;
mod in_set;
mod index_join;
mod join;
mod keymap;
mod parallel;
mod predicate;
mod scan;
mod setop;
mod sort;
mod window;

use std::collections::HashMap;
use std::sync::Arc;

use memdb_engine::{Transaction, Value};
use rand::{Rng, SeedableRng};

use crate::error::{Result, SqlError};
use crate::expr::Subquery;
use crate::plan::Plan;
use crate::session::SessionVars;
use in_set::InSet;

/// Rows per batch.
pub const BATCH: usize = 1024;

/// A row of values.
pub type Row = Vec<Value>;

/// A consumer of borrowed rows (see [`Operator::drain`]).
pub(crate) type Sink<'s> = dyn FnMut(&[Value], &mut ExecCtx<'_>) -> Result<()> + 's;

/// A relational operator: yields batches of rows until `None`.
pub(crate) trait Operator {
    /// The next batch (never empty), or `None` when done.
    fn next(&mut self, cx: &mut ExecCtx<'_>) -> Result<Option<Vec<Row>>>;

    /// Feeds every remaining row to `sink`, lent rather than given. For
    /// consumers that read each row once and keep nothing of it (hash
    /// aggregation, the probe side of a hash join): producers that can lend
    /// rows from reused buffers (scans, filters, projections, hash joins)
    /// then build no owned row per input row. By default, from `next`.
    fn drain(&mut self, cx: &mut ExecCtx<'_>, sink: &mut Sink<'_>) -> Result<()> {
        drain_batches(self, cx, sink)
    }
}

/// [`Operator::drain`] through [`Operator::next`]: each batch's rows lent
/// in turn.
pub(crate) fn drain_batches<O: Operator + ?Sized>(op: &mut O, cx: &mut ExecCtx<'_>, sink: &mut Sink<'_>) -> Result<()> {
    while let Some(batch) = op.next(cx)? {
        for row in &batch {
            sink(row, cx)?;
        }
    }
    Ok(())
}

/// The transaction a statement's operators work in.
pub enum TxnAccess<'a> {
    /// The statement's own transaction: reads and writes.
    Owned(&'a mut Transaction),
    /// Shared with the other threads of a parallel scan: reads only (see
    /// `parallel`).
    Shared(&'a Transaction),
}

impl std::ops::Deref for TxnAccess<'_> {
    type Target = Transaction;

    fn deref(&self) -> &Transaction {
        match self {
            TxnAccess::Owned(txn) => txn,
            TxnAccess::Shared(txn) => txn,
        }
    }
}

/// What the operators of one statement share.
pub struct ExecCtx<'a> {
    /// The transaction the statement runs in (for reads; writes go through
    /// [`ExecCtx::txn_mut`]).
    pub txn: TxnAccess<'a>,
    params: &'a [Value],
    /// Rows of enclosing queries, innermost last.
    outer: Vec<Row>,
    subqueries: HashMap<usize, Arc<Vec<Row>>>,
    /// Hash sets of uncorrelated `IN (subquery)` results, by subquery id
    /// (`None`: its values cannot be hashed; see [`InSet`]).
    in_sets: HashMap<usize, Option<Arc<InSet>>>,
    ctes: HashMap<usize, Arc<Vec<Row>>>,
    /// The statement's timestamp (µs since 2000-01-01 UTC) for `now()`.
    pub now: i64,
    vars: &'a mut SessionVars,
    rng: Option<rand::rngs::StdRng>,
    /// Per-operator statistics for EXPLAIN ANALYZE, by plan node address.
    stats: Option<HashMap<usize, OperatorStats>>,
    /// A cursor already opened for the scan node at this address (a
    /// parallel aggregation's share of a table), which building that node
    /// takes instead of opening its own.
    preopened: Option<(usize, memdb_engine::ScanCursor)>,
    /// Index probes already opened for the index joins at these plan
    /// addresses (a parallel aggregation's threads copy them).
    preopened_probes: Vec<(usize, memdb_engine::IndexProbe)>,
}

/// What EXPLAIN ANALYZE reports for one plan node.
#[derive(Clone, Copy, Debug, Default)]
pub struct OperatorStats {
    /// Rows produced, over all executions.
    pub rows: u64,
    /// Time spent in the node and its inputs.
    pub elapsed: std::time::Duration,
    /// How many times the node was started (inner sides of joins and
    /// subqueries run more than once).
    pub loops: u64,
}

/// Counts rows and time of the operator it wraps.
struct Instrumented<'p> {
    inner: Box<dyn Operator + 'p>,
    key: usize,
}

impl Operator for Instrumented<'_> {
    fn next(&mut self, cx: &mut ExecCtx<'_>) -> Result<Option<Vec<Row>>> {
        let started = std::time::Instant::now();
        let result = self.inner.next(cx);
        let elapsed = started.elapsed();
        if let Some(stats) = cx.stats.as_mut() {
            let s = stats.entry(self.key).or_default();
            s.elapsed += elapsed;
            if let Ok(Some(batch)) = &result {
                s.rows += batch.len() as u64;
            }
        }
        result
    }
}

impl<'a> ExecCtx<'a> {
    /// A context for one statement.
    pub fn new(txn: &'a mut Transaction, params: &'a [Value], vars: &'a mut SessionVars) -> ExecCtx<'a> {
        let now = txn.now();
        ExecCtx::with_access(TxnAccess::Owned(txn), params, Vec::new(), now, vars)
    }

    /// A context reaching the transaction through `txn`, inside enclosing
    /// rows `outer`, at statement time `now` (a parallel worker's shares
    /// its statement's).
    fn with_access(
        txn: TxnAccess<'a>,
        params: &'a [Value],
        outer: Vec<Row>,
        now: i64,
        vars: &'a mut SessionVars,
    ) -> ExecCtx<'a> {
        ExecCtx {
            txn,
            params,
            outer,
            subqueries: HashMap::new(),
            in_sets: HashMap::new(),
            ctes: HashMap::new(),
            now,
            vars,
            rng: None,
            stats: None,
            preopened: None,
            preopened_probes: Vec::new(),
        }
    }

    /// The transaction, for what changes it (writes, locks, sequences,
    /// opening scans). A parallel worker's context has none: the operators
    /// and functions it may run only read (see `parallel`).
    pub fn txn_mut(&mut self) -> Result<&mut Transaction> {
        match &mut self.txn {
            TxnAccess::Owned(txn) => Ok(txn),
            TxnAccess::Shared(_) => {
                Err(memdb_engine::Error::Internal("a parallel worker cannot change the transaction".into()).into())
            }
        }
    }

    /// Fails with 57014 once the statement was cancelled or ran past its
    /// `statement_timeout`; operators call it once per batch.
    pub(crate) fn check_interrupt(&self) -> Result<()> {
        self.vars.interrupt.check()
    }

    pub(crate) fn param(&self, i: usize) -> Result<Value> {
        self.params.get(i).cloned().ok_or_else(|| SqlError::Semantic(format!("there is no parameter ${}", i + 1)))
    }

    pub(crate) fn outer_value(&self, depth: usize, index: usize) -> Value {
        self.outer
            .len()
            .checked_sub(depth)
            .and_then(|level| self.outer.get(level))
            .and_then(|row| row.get(index))
            .cloned()
            .unwrap_or(Value::Null)
    }

    /// The rows of a subquery for the current row of its enclosing query
    /// (cached for the statement when the subquery is uncorrelated).
    pub(crate) fn subquery_rows(&mut self, sub: &Subquery, row: &[Value]) -> Result<Arc<Vec<Row>>> {
        if !sub.correlated
            && let Some(rows) = self.subqueries.get(&sub.id)
        {
            return Ok(rows.clone());
        }
        self.outer.push(row.to_vec());
        let limit = match sub.kind {
            crate::expr::SubqueryKind::Exists => Some(1),
            crate::expr::SubqueryKind::Scalar => Some(2),
            _ => None,
        };
        let result = run_limited(&sub.plan, self, limit);
        self.outer.pop();
        let rows = Arc::new(result?);
        if !sub.correlated {
            self.subqueries.insert(sub.id, rows.clone());
        }
        Ok(rows)
    }

    /// The hash set of an uncorrelated `IN (subquery)`'s rows, built on
    /// first use; `None` when a linear search must decide (few rows, or
    /// values whose equality hashing cannot follow).
    pub(crate) fn in_set(&mut self, sub: &Subquery, rows: &[Row]) -> Option<Arc<InSet>> {
        if sub.correlated {
            return None;
        }
        self.in_sets.entry(sub.id).or_insert_with(|| InSet::build(rows).map(Arc::new)).clone()
    }

    /// Makes `row` the innermost enclosing row (lateral joins).
    pub(crate) fn push_outer(&mut self, row: Row) {
        self.outer.push(row);
    }

    /// Drops the innermost enclosing row.
    pub(crate) fn pop_outer(&mut self) {
        self.outer.pop();
    }

    /// Starts collecting per-operator statistics (EXPLAIN ANALYZE).
    pub fn collect_stats(&mut self) {
        self.stats = Some(HashMap::new());
    }

    /// The statistics collected, by plan node address.
    pub fn take_stats(&mut self) -> HashMap<usize, OperatorStats> {
        self.stats.take().unwrap_or_default()
    }

    pub(crate) fn random(&mut self) -> f64 {
        self.rng.get_or_insert_with(rand::rngs::StdRng::from_os_rng).random::<f64>()
    }

    pub(crate) fn random_uuid(&mut self) -> uuid::Uuid {
        let bytes: [u8; 16] = self.rng.get_or_insert_with(rand::rngs::StdRng::from_os_rng).random();
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }

    pub(crate) fn user(&self) -> &str {
        &self.vars.user
    }

    pub(crate) fn nextval(&mut self, name: &str) -> Result<i64> {
        let name = crate::bind::relation_name_from_text(name);
        let v = self.txn_mut()?.nextval(&name).map_err(|e| self.missing_schema(&name, e.into()))?;
        self.vars.currval.insert(name, v);
        self.vars.lastval = Some(v);
        Ok(v)
    }

    /// `lastval()`: what this session's latest `nextval` returned.
    pub(crate) fn lastval(&self) -> Result<i64> {
        self.vars
            .lastval
            .ok_or_else(|| crate::error::data_exception("55000", "lastval is not yet defined in this session"))
    }

    /// A session setting (`current_setting`), `name` in lower case.
    pub(crate) fn setting(&self, name: &str) -> Option<String> {
        self.vars.settings.get(name).map(str::to_owned)
    }

    /// Sets a session setting (`set_config`); `local` lasts until the open
    /// block ends, and outside a block only for the statement.
    pub(crate) fn set_setting(&mut self, name: String, value: String, local: bool) {
        if !local || self.vars.settings.in_block() {
            self.vars.settings.put(name, value, local);
        }
    }

    pub(crate) fn currval(&mut self, name: &str) -> Result<i64> {
        let name = crate::bind::relation_name_from_text(name);
        self.txn_mut()?.sequence(&name).map_err(|e| self.missing_schema(&name, e.into()))?;
        self.vars.currval.get(&name).copied().ok_or_else(|| {
            crate::error::data_exception(
                "55000",
                format!("currval of sequence \"{name}\" is not yet defined in this session"),
            )
        })
    }

    /// A sequence function's error, as PostgreSQL reports it: naming a
    /// schema that does not exist is 3F000 rather than a missing relation.
    fn missing_schema(&mut self, name: &str, error: SqlError) -> SqlError {
        let (schema, _) = crate::bind::split_qualified(name);
        let Ok(txn) = self.txn_mut() else { return error };
        match crate::bind::schema_exists(txn, schema) {
            Ok(false) => SqlError::UndefinedSchema(schema.to_owned()),
            _ => error,
        }
    }

    pub(crate) fn setval(&mut self, name: &str, value: i64, is_called: bool) -> Result<i64> {
        let name = crate::bind::relation_name_from_text(name);
        let v = self.txn_mut()?.setval(&name, value, is_called).map_err(|e| self.missing_schema(&name, e.into()))?;
        if is_called {
            self.vars.currval.insert(name, v);
        }
        Ok(v)
    }
}

/// Builds the operator tree of a plan.
pub(crate) fn build<'p>(plan: &'p Plan, cx: &mut ExecCtx<'_>) -> Result<Box<dyn Operator + 'p>> {
    let op = build_node(plan, cx)?;
    Ok(match cx.stats.as_mut() {
        None => op,
        Some(stats) => {
            let key = std::ptr::from_ref(plan) as usize;
            stats.entry(key).or_default().loops += 1;
            Box::new(Instrumented { inner: op, key })
        }
    })
}

fn build_node<'p>(plan: &'p Plan, cx: &mut ExecCtx<'_>) -> Result<Box<dyn Operator + 'p>> {
    Ok(match plan {
        Plan::Scan { table, access, filter, lock, row_id, columns, .. } => {
            match cx.preopened.take_if(|(node, _)| *node == std::ptr::from_ref(plan) as usize) {
                Some((_, cursor)) => {
                    Box::new(scan::ScanOp::with_cursor(table, cursor, filter.as_ref(), *lock, *row_id))
                }
                None => Box::new(scan::ScanOp::open(
                    table,
                    access,
                    filter.as_ref(),
                    *lock,
                    *row_id,
                    columns.as_deref(),
                    cx,
                )?),
            }
        }
        Plan::Values { rows, .. } => Box::new(basic::ValuesOp::new(rows)),
        Plan::Function { function, args, ordinality } => Box::new(basic::FunctionOp::new(*function, args, *ordinality)),
        Plan::Filter { input, predicate } => {
            Box::new(basic::FilterOp { input: build(input, cx)?, predicate: predicate::Predicate::new(predicate) })
        }
        Plan::Project { input, exprs } => Box::new(basic::ProjectOp { input: build(input, cx)?, exprs }),
        Plan::Limit { input, limit, offset } => Box::new(basic::LimitOp::new(build(input, cx)?, limit, offset)),
        Plan::NestedLoopJoin { left, right, kind, on } => Box::new(join::NestedLoopJoinOp::new(
            build(left, cx)?,
            right,
            *kind,
            on.as_ref(),
            left.width(),
            right.width(),
        )),
        Plan::Apply { left, right, kind, on } => match index_join::Shape::of(right, *kind, on.as_ref(), left.width()) {
            Some(shape) => Box::new(index_join::IndexJoinOp::open(build(left, cx)?, shape, *kind, right.width(), cx)?),
            None => Box::new(join::ApplyOp::new(build(left, cx)?, right, *kind, on.as_ref(), right.width())),
        },
        Plan::HashJoin { left, right, kind, left_keys, right_keys, residual, emit } => Box::new(join::HashJoinOp::new(
            build(left, cx)?,
            build(right, cx)?,
            *kind,
            left_keys,
            right_keys,
            residual.as_ref(),
            left.width(),
            right.width(),
            emit.as_deref(),
        )),
        Plan::Aggregate { input, group_by, aggregates } => {
            match parallel::ParallelAggregateOp::open(input, group_by, aggregates, cx)? {
                Some(op) => Box::new(op),
                None => Box::new(aggregate::AggregateOp::new(build(input, cx)?, group_by, aggregates)),
            }
        }
        Plan::Window { input, functions } => Box::new(window::WindowOp::new(build(input, cx)?, functions)),
        Plan::ProjectSet { input, functions } => Box::new(basic::ProjectSetOp::new(build(input, cx)?, functions)),
        Plan::Sort { input, keys, limit } => Box::new(sort::SortOp::new(build(input, cx)?, keys, *limit)),
        Plan::Distinct { input, on } => Box::new(sort::DistinctOp::new(build(input, cx)?, on.as_deref())),
        Plan::SetOp { op, all, left, right } => {
            Box::new(setop::SetOpOp::new(*op, *all, build(left, cx)?, build(right, cx)?))
        }
        Plan::CteScan { id, name, .. } => {
            let rows = cx
                .ctes
                .get(id)
                .cloned()
                .ok_or_else(|| SqlError::Semantic(format!("WITH query \"{name}\" is not available here")))?;
            Box::new(basic::RowsOp::new(rows))
        }
        Plan::With { ctes, input } => {
            for cte in ctes {
                let rows = match &cte.recursive {
                    None => run(&cte.plan, cx)?,
                    Some((step, all)) => recursive_cte(cte.id, &cte.plan, step, *all, cx)?,
                };
                cx.ctes.insert(cte.id, Arc::new(rows));
            }
            build(input, cx)?
        }
    })
}

/// `WITH RECURSIVE`: the working table grows until the step adds nothing.
fn recursive_cte(id: usize, base: &Plan, step: &Plan, all: bool, cx: &mut ExecCtx<'_>) -> Result<Vec<Row>> {
    let mut seen: std::collections::HashSet<Row> = std::collections::HashSet::new();
    let mut result = Vec::new();
    let mut working = Vec::new();
    for row in run(base, cx)? {
        if all || seen.insert(row.clone()) {
            result.push(row.clone());
            working.push(row);
        }
    }
    let mut iterations = 0u64;
    while !working.is_empty() {
        cx.check_interrupt()?;
        iterations += 1;
        if iterations > 1_000_000 || result.len() > 50_000_000 {
            return Err(SqlError::QueryCanceled("a recursive query that does not end".into()));
        }
        cx.ctes.insert(id, Arc::new(std::mem::take(&mut working)));
        for row in run(step, cx)? {
            if all || seen.insert(row.clone()) {
                result.push(row.clone());
                working.push(row);
            }
        }
    }
    Ok(result)
}

/// Runs a plan to completion and collects its rows.
pub(crate) fn run(plan: &Plan, cx: &mut ExecCtx<'_>) -> Result<Vec<Row>> {
    run_limited(plan, cx, None)
}

/// Runs a plan, stopping once `limit` rows are collected.
pub(crate) fn run_limited(plan: &Plan, cx: &mut ExecCtx<'_>, limit: Option<usize>) -> Result<Vec<Row>> {
    // EXPLAIN ANALYZE wants its operators, so only plain runs take the
    // point-lookup shortcut.
    if cx.stats.is_none()
        && let Some(rows) = scan::primary_point(plan, cx)
    {
        return rows;
    }
    let mut op = build(plan, cx)?;
    let mut rows = Vec::new();
    while let Some(batch) = op.next(cx)? {
        cx.check_interrupt()?;
        if rows.is_empty() {
            rows = batch;
        } else {
            rows.extend(batch);
        }
        if limit.is_some_and(|n| rows.len() >= n) {
            break;
        }
    }
    Ok(rows)
}
