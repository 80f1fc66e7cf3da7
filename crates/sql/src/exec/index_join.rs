//! Index nested-loop join: for each left row, the right table's rows come
//! from one lookup of the left row's key in an index of the right table.
//!
//! The optimizer plans it as an [`Plan::Apply`] whose right side is an
//! index point scan keyed by the left row (outer references of depth 1).
//! Run generically, that re-plans the scan per left row; this operator
//! opens the index once ([`IndexProbe`]) and looks up key after key into
//! one reused [`RowBatch`], so a join of many left rows costs one index
//! lookup each and no allocation per row.

use std::ops::Bound;

use memdb_engine::{IndexProbe, RowBatch, Table, Value};

use super::{ExecCtx, Operator, Row, Sink, TxnAccess};
use crate::error::Result;
use crate::expr::Expr;
use crate::plan::{Access, JoinKind, Plan};

/// What the operator runs, taken from the plan (expressions rewritten to
/// read the left row and the joined row instead of outer references).
pub(crate) struct Shape<'p> {
    /// The right scan's plan node (its EXPLAIN ANALYZE statistics).
    pub(crate) node: usize,
    pub(crate) table: &'p Table,
    pub(crate) index: &'p str,
    pub(crate) columns: Option<&'p [usize]>,
    row_id: bool,
    /// The lookup key, over the left row.
    pub(crate) key: Vec<Expr>,
    /// The scan's terms that read only the right row.
    pub(crate) filter: Option<Expr>,
    /// The scan's terms that also read the left row, and the join's own
    /// condition, over left ++ right.
    pub(crate) on: Option<Expr>,
}

/// Rewrites an expression of the right scan to read the joined row: the
/// left row's columns (outer references of depth 1) first, then the right
/// row's. `None` when it reads anything else (deeper outer references,
/// subqueries).
fn over_joined(e: &Expr, left_width: usize) -> Option<Expr> {
    let mut fits = true;
    e.walk(&mut |x| match x {
        Expr::Outer { depth, .. } if *depth != 1 => fits = false,
        Expr::Subquery(_) => fits = false,
        _ => {}
    });
    fits.then(|| e.clone().over_joined(left_width))
}

impl<'p> Shape<'p> {
    /// The shape of an `Apply` this operator can run: a right side that is
    /// a lock-free point lookup of one key in an index, keyed by the left
    /// row. `None` for any other lateral join.
    pub(crate) fn of(right: &'p Plan, kind: JoinKind, on: Option<&'p Expr>, left_width: usize) -> Option<Shape<'p>> {
        if !matches!(kind, JoinKind::Inner | JoinKind::Left | JoinKind::Semi | JoinKind::Anti) {
            return None;
        }
        let Plan::Scan { table, access, filter, lock: None, row_id, columns, .. } = right else { return None };
        // One key: a point lookup, or a range whose ends are one key (what
        // an equality on a whole non-unique ordered index plans as).
        let (index, key) = match access {
            Access::IndexPoints { index, keys } => match keys.as_slice() {
                [key] => (index, key),
                _ => return None,
            },
            Access::IndexRange { index, lower: Bound::Included(lo), upper: Bound::Included(hi), .. } if lo == hi => {
                (index, lo)
            }
            _ => return None,
        };
        if key.iter().any(|k| !k.columns().is_empty()) {
            return None;
        }
        // Over the joined row, the left row's columns come first: keyed by
        // them, the key reads the left row alone.
        let key = key.iter().map(|k| over_joined(k, left_width)).collect::<Option<Vec<_>>>()?;
        let mut local = Vec::new();
        let mut joined = Vec::new();
        for term in filter.clone().map(Expr::conjuncts).unwrap_or_default() {
            if Expr::references_outer(&term) {
                joined.push(over_joined(&term, left_width)?);
            } else {
                local.push(term);
            }
        }
        joined.extend(on.cloned());
        Some(Shape {
            node: std::ptr::from_ref(right) as usize,
            table,
            index,
            columns: columns.as_deref(),
            row_id: *row_id,
            key,
            filter: Expr::conjunction(local),
            on: Expr::conjunction(joined),
        })
    }
}

/// Left rows whose keys are looked up together (see
/// [`memdb_engine::Transaction::probe`]: the cache misses of a batch's
/// lookups overlap).
const PROBE_BATCH: usize = 256;

/// The operator (see the module documentation).
pub(crate) struct IndexJoinOp<'p> {
    left: Box<dyn Operator + 'p>,
    shape: Shape<'p>,
    kind: JoinKind,
    probe: IndexProbe,
    right_width: usize,
    /// The left rows of the current batch (the first `pending_len`; the
    /// vectors are reused from batch to batch).
    pending: Vec<Row>,
    pending_len: usize,
    /// The batch's lookup keys, and the left row each belongs to (rows
    /// with a NULL key look nothing up).
    keys: Vec<Vec<Value>>,
    key_rows: Vec<usize>,
    /// The batch's matches, and the key each belongs to.
    found: RowBatch,
    owners: Vec<usize>,
    /// One output row, refilled for every match.
    out: Row,
}

impl<'p> IndexJoinOp<'p> {
    /// Opens the index; `right_width` counts the row id column if any.
    pub(crate) fn open(
        left: Box<dyn Operator + 'p>,
        shape: Shape<'p>,
        kind: JoinKind,
        right_width: usize,
        cx: &mut ExecCtx<'_>,
    ) -> Result<IndexJoinOp<'p>> {
        let probe = match cx.preopened_probes.iter().find(|(node, _)| *node == shape.node) {
            // A thread of a parallel scan: its own copy of the probe the
            // statement's transaction opened.
            Some((_, probe)) => probe.clone(),
            None => cx.txn_mut()?.open_probe(shape.table, shape.index, shape.columns)?,
        };
        Ok(IndexJoinOp {
            left,
            shape,
            kind,
            probe,
            right_width,
            pending: Vec::new(),
            pending_len: 0,
            keys: Vec::new(),
            key_rows: Vec::new(),
            found: RowBatch::new(),
            owners: Vec::new(),
            out: Vec::new(),
        })
    }

    /// Adds a left row to the batch, copied into a reused vector.
    fn hold(&mut self, left: &[Value]) {
        if self.pending.len() == self.pending_len {
            self.pending.push(Vec::new());
        }
        let row = &mut self.pending[self.pending_len];
        row.clear();
        row.extend_from_slice(left);
        self.pending_len += 1;
    }

    /// Joins the batch's left rows, in order, passing each output row to
    /// `emit`; empties the batch.
    fn join_batch(
        &mut self,
        cx: &mut ExecCtx<'_>,
        emit: &mut dyn FnMut(&[Value], &mut ExecCtx<'_>) -> Result<()>,
    ) -> Result<()> {
        let IndexJoinOp {
            shape,
            kind,
            probe,
            right_width,
            pending,
            pending_len,
            keys,
            key_rows,
            found,
            owners,
            out,
            ..
        } = self;
        let pending = &pending[..*pending_len];
        *pending_len = 0;
        key_rows.clear();
        for (i, left) in pending.iter().enumerate() {
            if keys.len() == key_rows.len() {
                keys.push(Vec::new());
            }
            let key = &mut keys[key_rows.len()];
            key.clear();
            for k in &shape.key {
                let v = k.eval(left, cx)?;
                if v.is_null() {
                    // `col = NULL` matches nothing.
                    key.clear();
                    break;
                }
                key.push(v);
            }
            if key.len() == shape.key.len() {
                key_rows.push(i);
            }
        }
        let started = cx.stats.is_some().then(std::time::Instant::now);
        match &mut cx.txn {
            TxnAccess::Owned(txn) => txn.probe(probe, &keys[..key_rows.len()], found, owners)?,
            TxnAccess::Shared(txn) => txn.probe_shared(probe, &keys[..key_rows.len()], found, owners)?,
        }
        let mut matches = found.iter().zip(owners.iter()).map(|(row, &k)| (key_rows[k], row)).peekable();
        let mut passed = 0u64;
        for (i, left) in pending.iter().enumerate() {
            let mut matched = false;
            while let Some((_, (id, right))) = matches.next_if(|(row, _)| *row == i) {
                if matched && matches!(kind, JoinKind::Semi | JoinKind::Anti) {
                    continue;
                }
                if let Some(f) = &shape.filter
                    && !f.eval_predicate(right, cx)?
                {
                    continue;
                }
                passed += 1;
                out.clear();
                out.extend_from_slice(left);
                out.extend_from_slice(right);
                if shape.row_id {
                    out.push(Value::Int8(i64::try_from(id).unwrap_or(i64::MAX)));
                }
                if let Some(on) = &shape.on
                    && !on.eval_predicate(out, cx)?
                {
                    continue;
                }
                matched = true;
                if !matches!(kind, JoinKind::Semi | JoinKind::Anti) {
                    emit(out, cx)?;
                }
            }
            match kind {
                JoinKind::Semi if matched => emit(left, cx)?,
                JoinKind::Anti if !matched => emit(left, cx)?,
                JoinKind::Left if !matched => {
                    out.clear();
                    out.extend_from_slice(left);
                    out.resize(left.len() + *right_width, Value::Null);
                    emit(out, cx)?;
                }
                _ => {}
            }
        }
        if let (Some(stats), Some(started)) = (cx.stats.as_mut(), started) {
            // EXPLAIN ANALYZE: the inner scan ran once per key.
            let s = stats.entry(shape.node).or_default();
            s.loops += key_rows.len() as u64;
            s.rows += passed;
            s.elapsed += started.elapsed();
        }
        Ok(())
    }
}

impl Operator for IndexJoinOp<'_> {
    fn next(&mut self, cx: &mut ExecCtx<'_>) -> Result<Option<Vec<Row>>> {
        let mut rows = Vec::new();
        while let Some(batch) = self.left.next(cx)? {
            cx.check_interrupt()?;
            self.pending = batch;
            self.pending_len = self.pending.len();
            self.join_batch(cx, &mut |r, _| {
                rows.push(r.to_vec());
                Ok(())
            })?;
            if !rows.is_empty() {
                return Ok(Some(rows));
            }
        }
        Ok(None)
    }

    fn drain(&mut self, cx: &mut ExecCtx<'_>, sink: &mut Sink<'_>) -> Result<()> {
        // The left side's rows are copied into the batch as they come
        // (lent, not owned); the operator itself is borrowed by the
        // closure, so the left input is taken out of it for the duration.
        let mut left = std::mem::replace(&mut self.left, Box::new(Exhausted));
        let result = left.drain(cx, &mut |l, cx| {
            self.hold(l);
            if self.pending_len == PROBE_BATCH {
                cx.check_interrupt()?;
                self.join_batch(cx, sink)?;
            }
            Ok(())
        });
        self.left = left;
        result?;
        self.join_batch(cx, sink)
    }
}

/// An input with no rows left (stands in for the left input while
/// [`IndexJoinOp::drain`] holds it).
struct Exhausted;

impl Operator for Exhausted {
    fn next(&mut self, _cx: &mut ExecCtx<'_>) -> Result<Option<Vec<Row>>> {
        Ok(None)
    }
}
