//! Joins: nested loop (any condition) and hash join (equal keys), for
//! inner, left, right, full, semi and anti joins.

use rustc_hash::FxHashMap as HashMap;

use memdb_engine::Value;

use super::keymap::{DenseKeys, KeyMap};
use super::{ExecCtx, Operator, Row, Sink, drain_batches};
use crate::error::Result;
use crate::expr::Expr;
use crate::plan::{JoinKind, Plan};

fn concat(left: &[Value], right: &[Value]) -> Row {
    let mut row = Vec::with_capacity(left.len() + right.len());
    row.extend_from_slice(left);
    row.extend_from_slice(right);
    row
}

/// Emits what a left row contributes once its matches are known: itself
/// for a semi join with a match or an anti join without one, itself padded
/// with NULLs for an unmatched row of a left or full join.
fn finish_probe(kind: JoinKind, matched: bool, left: Row, right_width: usize, out: &mut Vec<Row>) {
    match kind {
        JoinKind::Semi if matched => out.push(left),
        JoinKind::Anti if !matched => out.push(left),
        JoinKind::Left | JoinKind::Full if !matched => out.push(concat(&left, &nulls(right_width))),
        _ => {}
    }
}

/// The right rows no left row matched, padded with NULLs on the left
/// (right and full joins).
fn unmatched_right(rows: &[Row], matched: &[bool], left_width: usize) -> Vec<Row> {
    rows.iter().zip(matched).filter(|(_, m)| !**m).map(|(r, _)| concat(&nulls(left_width), r)).collect()
}

/// End of a hash chain.
const NONE: usize = usize::MAX;

fn nulls(n: usize) -> Vec<Value> {
    vec![Value::Null; n]
}

/// Nested-loop join over a materialized right side.
pub(crate) struct NestedLoopJoinOp<'p> {
    left: Box<dyn Operator + 'p>,
    right_plan: &'p Plan,
    right: Option<Vec<Row>>,
    right_matched: Vec<bool>,
    kind: JoinKind,
    on: Option<&'p Expr>,
    left_width: usize,
    right_width: usize,
    finished_left: bool,
    emitted_unmatched: bool,
    /// The left batch being joined, where in it, where in the right side
    /// the current left row stopped, and whether it matched so far: a call
    /// returns at most about a batch of rows, so a large cross product
    /// streams (and can be cancelled) instead of materializing.
    left_batch: Vec<Row>,
    left_pos: usize,
    right_pos: usize,
    matched: bool,
}

impl<'p> NestedLoopJoinOp<'p> {
    pub(crate) fn new(
        left: Box<dyn Operator + 'p>,
        right_plan: &'p Plan,
        kind: JoinKind,
        on: Option<&'p Expr>,
        left_width: usize,
        right_width: usize,
    ) -> NestedLoopJoinOp<'p> {
        NestedLoopJoinOp {
            left,
            right_plan,
            right: None,
            right_matched: Vec::new(),
            kind,
            on,
            left_width,
            right_width,
            finished_left: false,
            emitted_unmatched: false,
            left_batch: Vec::new(),
            left_pos: 0,
            right_pos: 0,
            matched: false,
        }
    }
}

impl Operator for NestedLoopJoinOp<'_> {
    fn next(&mut self, cx: &mut ExecCtx<'_>) -> Result<Option<Vec<Row>>> {
        cx.check_interrupt()?;
        if self.right.is_none() {
            let rows = super::run(self.right_plan, cx)?;
            self.right_matched = vec![false; rows.len()];
            self.right = Some(rows);
        }
        let right = self.right.take().unwrap_or_default();
        let result = self.step(&right, cx);
        self.right = Some(right);
        result
    }
}

impl NestedLoopJoinOp<'_> {
    fn step(&mut self, right: &[Row], cx: &mut ExecCtx<'_>) -> Result<Option<Vec<Row>>> {
        let mut out = Vec::new();
        while !self.finished_left {
            if self.left_pos >= self.left_batch.len() {
                match self.left.next(cx)? {
                    Some(batch) => {
                        self.left_batch = batch;
                        self.left_pos = 0;
                        self.right_pos = 0;
                        self.matched = false;
                        continue;
                    }
                    None => {
                        self.finished_left = true;
                        break;
                    }
                }
            }
            let l = &self.left_batch[self.left_pos];
            let mut stop_early = false;
            while self.right_pos < right.len() {
                let j = self.right_pos;
                self.right_pos += 1;
                let row = concat(l, &right[j]);
                let pass = match self.on {
                    Some(on) => on.eval_predicate(&row, cx)?,
                    None => true,
                };
                if !pass {
                    continue;
                }
                self.matched = true;
                match self.kind {
                    JoinKind::Semi | JoinKind::Anti => {
                        self.right_pos = right.len();
                        break;
                    }
                    _ => {
                        if let Some(m) = self.right_matched.get_mut(j) {
                            *m = true;
                        }
                        out.push(row);
                        if out.len() >= super::BATCH {
                            stop_early = self.right_pos < right.len();
                            break;
                        }
                    }
                }
            }
            if stop_early {
                return Ok(Some(out));
            }
            let l = std::mem::take(&mut self.left_batch[self.left_pos]);
            finish_probe(self.kind, self.matched, l, self.right_width, &mut out);
            self.left_pos += 1;
            self.right_pos = 0;
            self.matched = false;
            if out.len() >= super::BATCH {
                return Ok(Some(out));
            }
        }
        if !out.is_empty() {
            return Ok(Some(out));
        }
        if matches!(self.kind, JoinKind::Right | JoinKind::Full) && !self.emitted_unmatched {
            self.emitted_unmatched = true;
            let out = unmatched_right(right, &self.right_matched, self.left_width);
            if !out.is_empty() {
                return Ok(Some(out));
            }
        }
        Ok(None)
    }
}

/// Hash join: builds on the right input, probes with the left.
pub(crate) struct HashJoinOp<'p> {
    left: Box<dyn Operator + 'p>,
    right: Option<Box<dyn Operator + 'p>>,
    kind: JoinKind,
    left_keys: &'p [Expr],
    right_keys: &'p [Expr],
    residual: Option<&'p Expr>,
    left_width: usize,
    right_width: usize,
    /// The output columns the plan above reads (`None`: all; empty: none,
    /// so a match emits a row of no columns).
    emit: Option<&'p [bool]>,
    table: HashTable,
    finished_left: bool,
    emitted_unmatched: bool,
}

/// The build side of a hash join: its rows and an index on their keys.
#[derive(Default)]
struct HashTable {
    /// Key → first row with it; `chain[i]` links to the next row with the
    /// same key (no allocation per key).
    single: KeyMap<usize>,
    /// `single` as an array, when its keys are narrow-ranged integers.
    dense: Option<DenseKeys>,
    multi: HashMap<Vec<Value>, usize>,
    chain: Vec<usize>,
    rows: Vec<Row>,
    matched: Vec<bool>,
}

impl HashTable {
    /// Collects the build rows matching left row `l` into `found` (after
    /// the residual condition; only the first for semi and anti joins,
    /// which need no more), and marks them matched.
    fn probe(
        &mut self,
        l: &[Value],
        join: (JoinKind, &[Expr], Option<&Expr>),
        cx: &mut ExecCtx<'_>,
        found: &mut Vec<usize>,
    ) -> Result<()> {
        let (kind, left_keys, residual) = join;
        found.clear();
        let first = match left_keys {
            // One key column: looked up in place, no key built.
            [Expr::Column(i)] => match (l.get(*i), &self.dense) {
                (Some(v), Some(dense)) => dense.get(v),
                (Some(v), None) if !v.is_null() => self.single.get(v).copied(),
                _ => None,
            },
            _ => match eval_keys(left_keys, l, cx)? {
                Some(key) if key.len() == 1 => match &self.dense {
                    Some(dense) => dense.get(&key[0]),
                    None => self.single.get(&key[0]).copied(),
                },
                Some(key) => self.multi.get(&key).copied(),
                None => None,
            },
        };
        let mut next = first.unwrap_or(NONE);
        while next != NONE {
            let j = next;
            next = self.chain[j];
            if let Some(residual) = residual
                && !residual.eval_predicate(&concat(l, &self.rows[j]), cx)?
            {
                continue;
            }
            found.push(j);
            if matches!(kind, JoinKind::Semi | JoinKind::Anti) {
                break;
            }
            self.matched[j] = true;
        }
        Ok(())
    }
}

impl<'p> HashJoinOp<'p> {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        left: Box<dyn Operator + 'p>,
        right: Box<dyn Operator + 'p>,
        kind: JoinKind,
        left_keys: &'p [Expr],
        right_keys: &'p [Expr],
        residual: Option<&'p Expr>,
        left_width: usize,
        right_width: usize,
        emit: Option<&'p [bool]>,
    ) -> HashJoinOp<'p> {
        HashJoinOp {
            left,
            right: Some(right),
            kind,
            left_keys,
            right_keys,
            residual,
            left_width,
            right_width,
            // Decided once here, not per matched row.
            emit: emit.map(|mask| if mask.contains(&true) { mask } else { &[] }),
            table: HashTable::default(),
            finished_left: false,
            emitted_unmatched: false,
        }
    }

    fn build_side(&mut self, cx: &mut ExecCtx<'_>) -> Result<()> {
        let Some(mut right) = self.right.take() else { return Ok(()) };
        let (table, right_keys) = (&mut self.table, self.right_keys);
        right.drain(cx, &mut |row, cx| {
            let index = table.rows.len();
            table.chain.push(NONE);
            if let [Expr::Column(i)] = right_keys {
                if let Some(v) = row.get(*i).filter(|v| !v.is_null())
                    && let Some(p) = table.single.insert(v, index)
                {
                    table.chain[index] = p;
                }
            } else if let Some(mut key) = eval_keys(right_keys, row, cx)? {
                let previous = if key.len() == 1 {
                    let k = key.pop().unwrap_or(Value::Null);
                    table.single.insert(&k, index)
                } else {
                    table.multi.insert(key, index)
                };
                if let Some(p) = previous {
                    table.chain[index] = p;
                }
            }
            table.rows.push(row.to_vec());
            Ok(())
        })?;
        table.matched = vec![false; table.rows.len()];
        table.dense = table.single.to_dense();
        Ok(())
    }
}

/// Key values of a row; `None` if any is NULL (NULL never joins).
fn eval_keys(keys: &[Expr], row: &[Value], cx: &mut ExecCtx<'_>) -> Result<Option<Vec<Value>>> {
    let mut out = Vec::with_capacity(keys.len());
    for k in keys {
        let v = match k {
            Expr::Column(i) => row.get(*i).cloned().unwrap_or(Value::Null),
            k => k.eval(row, cx)?,
        };
        if v.is_null() {
            return Ok(None);
        }
        out.push(v);
    }
    Ok(Some(out))
}

impl Operator for HashJoinOp<'_> {
    fn next(&mut self, cx: &mut ExecCtx<'_>) -> Result<Option<Vec<Row>>> {
        if self.right.is_some() {
            self.build_side(cx)?;
        }
        let join = (self.kind, self.left_keys, self.residual);
        let mut found = Vec::new();
        while !self.finished_left {
            let Some(batch) = self.left.next(cx)? else {
                self.finished_left = true;
                break;
            };
            let mut out = Vec::with_capacity(batch.len());
            for l in batch {
                self.table.probe(&l, join, cx, &mut found)?;
                if !matches!(self.kind, JoinKind::Semi | JoinKind::Anti) {
                    for &j in &found {
                        let mut row = Vec::new();
                        emit_into(self.emit, &l, &self.table.rows[j], &mut row);
                        out.push(row);
                    }
                }
                finish_probe(self.kind, !found.is_empty(), l, self.right_width, &mut out);
            }
            if !out.is_empty() {
                return Ok(Some(out));
            }
        }
        if matches!(self.kind, JoinKind::Right | JoinKind::Full) && !self.emitted_unmatched {
            self.emitted_unmatched = true;
            let out = unmatched_right(&self.table.rows, &self.table.matched, self.left_width);
            if !out.is_empty() {
                return Ok(Some(out));
            }
        }
        Ok(None)
    }

    fn drain(&mut self, cx: &mut ExecCtx<'_>, sink: &mut Sink<'_>) -> Result<()> {
        if self.right.is_some() {
            self.build_side(cx)?;
        }
        if !self.finished_left {
            self.finished_left = true;
            let HashJoinOp { left, table, kind, left_keys, residual, emit, right_width, .. } = self;
            let (kind, emit, right_width) = (*kind, *emit, *right_width);
            let join = (kind, *left_keys, *residual);
            let mut found = Vec::new();
            // One output row, refilled for every match.
            let mut out: Row = Vec::new();
            left.drain(cx, &mut |l, cx| {
                table.probe(l, join, cx, &mut found)?;
                let lone = match kind {
                    JoinKind::Semi => !found.is_empty(),
                    JoinKind::Anti => found.is_empty(),
                    _ => {
                        for &j in &found {
                            out.clear();
                            emit_into(emit, l, &table.rows[j], &mut out);
                            sink(&out, cx)?;
                        }
                        false
                    }
                };
                if lone {
                    sink(l, cx)?;
                } else if found.is_empty() && matches!(kind, JoinKind::Left | JoinKind::Full) {
                    out.clear();
                    out.extend_from_slice(l);
                    out.resize(l.len() + right_width, Value::Null);
                    sink(&out, cx)?;
                }
                Ok(())
            })?;
        }
        drain_batches(self, cx, sink)
    }
}

/// Appends the output row of a match to `out`: both rows' columns, except
/// that columns the plan above does not read are NULL, and nothing at all
/// when it reads none (an empty mask).
fn emit_into(emit: Option<&[bool]>, left: &[Value], right: &[Value], out: &mut Row) {
    match emit {
        None => {
            out.extend_from_slice(left);
            out.extend_from_slice(right);
        }
        Some([]) => {}
        Some(mask) => out.extend(
            left.iter()
                .chain(right)
                .zip(mask.iter().chain(std::iter::repeat(&true)))
                .map(|(v, &read)| if read { v.clone() } else { Value::Null }),
        ),
    }
}

/// A lateral join: runs the right plan once per left row, with that row as
/// the enclosing row of the right plan's outer references.
pub(crate) struct ApplyOp<'p> {
    left: Box<dyn Operator + 'p>,
    right: &'p Plan,
    kind: JoinKind,
    on: Option<&'p Expr>,
    right_width: usize,
}

impl<'p> ApplyOp<'p> {
    pub(crate) fn new(
        left: Box<dyn Operator + 'p>,
        right: &'p Plan,
        kind: JoinKind,
        on: Option<&'p Expr>,
        right_width: usize,
    ) -> ApplyOp<'p> {
        ApplyOp { left, right, kind, on, right_width }
    }
}

impl Operator for ApplyOp<'_> {
    fn next(&mut self, cx: &mut ExecCtx<'_>) -> Result<Option<Vec<Row>>> {
        while let Some(batch) = self.left.next(cx)? {
            let mut out = Vec::new();
            for l in batch {
                cx.push_outer(l.clone());
                let rows = super::run(self.right, cx);
                cx.pop_outer();
                let mut matched = false;
                for r in rows? {
                    let row = concat(&l, &r);
                    if let Some(on) = self.on
                        && !on.eval_predicate(&row, cx)?
                    {
                        continue;
                    }
                    matched = true;
                    out.push(row);
                }
                finish_probe(self.kind, matched, l, self.right_width, &mut out);
            }
            if !out.is_empty() {
                return Ok(Some(out));
            }
        }
        Ok(None)
    }
}
