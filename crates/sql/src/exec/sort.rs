//! Sorting (full and top-k) and duplicate removal.

use std::cmp::Ordering;
use std::collections::HashSet;

use memdb_engine::Value;

use super::{BATCH, ExecCtx, Operator, Row};
use crate::error::Result;
use crate::expr::Expr;
use crate::plan::SortKey;

/// Compares two values under one sort key's direction and NULL placement.
pub(crate) fn compare_values(key: &SortKey, a: &Value, b: &Value) -> Ordering {
    match (a.is_null(), b.is_null()) {
        (true, true) => Ordering::Equal,
        (true, false) => {
            if key.nulls_first {
                Ordering::Less
            } else {
                Ordering::Greater
            }
        }
        (false, true) => {
            if key.nulls_first {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
        (false, false) => {
            let ord = a.total_cmp(b);
            if key.desc { ord.reverse() } else { ord }
        }
    }
}

/// Compares rows whose sort keys are plain column references.
pub(crate) fn compare_rows(keys: &[SortKey], a: &[Value], b: &[Value]) -> Ordering {
    for k in keys {
        let Expr::Column(i) = k.expr else { continue };
        let ord = compare_values(k, a.get(i).unwrap_or(&Value::Null), b.get(i).unwrap_or(&Value::Null));
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

fn compare_keyed(keys: &[SortKey], a: &[Value], b: &[Value]) -> Ordering {
    for (k, (x, y)) in keys.iter().zip(a.iter().zip(b)) {
        let ord = compare_values(k, x, y);
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

/// Sorts its input; with a limit, keeps only the first rows (top-k).
pub(crate) struct SortOp<'p> {
    input: Option<Box<dyn Operator + 'p>>,
    keys: &'p [SortKey],
    limit: Option<usize>,
    output: std::vec::IntoIter<Row>,
}

impl<'p> SortOp<'p> {
    pub(crate) fn new(input: Box<dyn Operator + 'p>, keys: &'p [SortKey], limit: Option<usize>) -> SortOp<'p> {
        SortOp { input: Some(input), keys, limit, output: Vec::new().into_iter() }
    }

    fn sort(&self, mut input: Box<dyn Operator + 'p>, cx: &mut ExecCtx<'_>) -> Result<Vec<Row>> {
        let mut keyed: Vec<(Row, Row)> = Vec::new();
        let cmp = |a: &(Row, Row), b: &(Row, Row)| compare_keyed(self.keys, &a.0, &b.0);
        while let Some(batch) = input.next(cx)? {
            for row in batch {
                let mut key = Vec::with_capacity(self.keys.len());
                for k in self.keys {
                    key.push(match &k.expr {
                        Expr::Column(i) => row.get(*i).cloned().unwrap_or(Value::Null),
                        e => e.eval(&row, cx)?,
                    });
                }
                keyed.push((key, row));
            }
            if let Some(k) = self.limit {
                // Top-k: once twice the limit is buffered, keep the best k.
                if k > 0 && keyed.len() >= k.saturating_mul(2).max(BATCH) {
                    keyed.select_nth_unstable_by(k - 1, cmp);
                    keyed.truncate(k);
                }
            }
        }
        keyed.sort_by(cmp);
        if let Some(k) = self.limit {
            keyed.truncate(k);
        }
        Ok(keyed.into_iter().map(|(_, row)| row).collect())
    }
}

impl Operator for SortOp<'_> {
    fn next(&mut self, cx: &mut ExecCtx<'_>) -> Result<Option<Vec<Row>>> {
        if let Some(input) = self.input.take() {
            self.output = self.sort(input, cx)?.into_iter();
        }
        let batch: Vec<Row> = self.output.by_ref().take(BATCH).collect();
        Ok(if batch.is_empty() { None } else { Some(batch) })
    }
}

/// `DISTINCT` (first occurrence of each row) and `DISTINCT ON (keys)`
/// (first row of each key; the input is sorted by the keys first).
pub(crate) struct DistinctOp<'p> {
    input: Box<dyn Operator + 'p>,
    on: Option<&'p [Expr]>,
    seen: HashSet<Row>,
}

impl<'p> DistinctOp<'p> {
    pub(crate) fn new(input: Box<dyn Operator + 'p>, on: Option<&'p [Expr]>) -> DistinctOp<'p> {
        DistinctOp { input, on, seen: HashSet::new() }
    }
}

impl Operator for DistinctOp<'_> {
    fn next(&mut self, cx: &mut ExecCtx<'_>) -> Result<Option<Vec<Row>>> {
        while let Some(batch) = self.input.next(cx)? {
            let mut out = Vec::new();
            for row in batch {
                let key = match self.on {
                    None => row.clone(),
                    Some(exprs) => {
                        let mut key = Vec::with_capacity(exprs.len());
                        for e in exprs {
                            key.push(e.eval(&row, cx)?);
                        }
                        key
                    }
                };
                if self.seen.insert(key) {
                    out.push(row);
                }
            }
            if !out.is_empty() {
                return Ok(Some(out));
            }
        }
        Ok(None)
    }
}
