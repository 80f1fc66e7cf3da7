//! Window functions: rows are grouped into partitions, ordered, and each
//! function's value is computed per row over its frame.
//!
//! The operator materializes its input, sorts row indexes by (partition
//! keys, order keys) per call, and appends one column per call. Rows come
//! out in the order of the first call's window, as PostgreSQL's do.

use std::cmp::Ordering;

use memdb_engine::Value;

use super::aggregate::Accumulator;
use super::frame::{FrameSizes, Partition, frames};
use super::sort::compare_values;
use super::{BATCH, ExecCtx, Operator, Row};
use crate::error::{Result, SqlError, data_exception};
use crate::plan::{AggregateCall, FrameBound, SortKey, WindowCall, WindowFunc};

/// Computes window functions over the whole input.
pub(crate) struct WindowOp<'p> {
    input: Option<Box<dyn Operator + 'p>>,
    functions: &'p [WindowCall],
    output: std::vec::IntoIter<Row>,
}

impl<'p> WindowOp<'p> {
    pub(crate) fn new(input: Box<dyn Operator + 'p>, functions: &'p [WindowCall]) -> WindowOp<'p> {
        WindowOp { input: Some(input), functions, output: Vec::new().into_iter() }
    }
}

impl Operator for WindowOp<'_> {
    fn next(&mut self, cx: &mut ExecCtx<'_>) -> Result<Option<Vec<Row>>> {
        if let Some(mut input) = self.input.take() {
            let mut rows = Vec::new();
            while let Some(batch) = input.next(cx)? {
                rows.extend(batch);
            }
            let mut order: Option<Vec<usize>> = None;
            let mut columns = Vec::with_capacity(self.functions.len());
            for call in self.functions {
                let (values, sorted) = compute(call, &rows, cx)?;
                order.get_or_insert(sorted);
                columns.push(values);
            }
            let order = order.unwrap_or_else(|| (0..rows.len()).collect());
            let mut slots: Vec<Option<Row>> = rows.into_iter().map(Some).collect();
            let mut out = Vec::with_capacity(slots.len());
            for i in order {
                let Some(mut row) = slots[i].take() else { continue };
                for col in &columns {
                    row.push(col[i].clone());
                }
                out.push(row);
            }
            self.output = out.into_iter();
        }
        let batch: Vec<Row> = self.output.by_ref().take(BATCH).collect();
        Ok(if batch.is_empty() { None } else { Some(batch) })
    }
}

/// One call's value for every row (by input position), and the window order.
fn compute(call: &WindowCall, rows: &[Row], cx: &mut ExecCtx<'_>) -> Result<(Vec<Value>, Vec<usize>)> {
    let mut keyed = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        let mut part = Vec::with_capacity(call.partition_by.len());
        for e in &call.partition_by {
            part.push(e.eval(row, cx)?);
        }
        let mut ord = Vec::with_capacity(call.order_by.len());
        for k in &call.order_by {
            ord.push(k.expr.eval(row, cx)?);
        }
        let mut args = Vec::with_capacity(call.args.len());
        for a in &call.args {
            args.push(a.eval(row, cx)?);
        }
        let pass = match &call.filter {
            Some(f) => f.eval_predicate(row, cx)?,
            None => true,
        };
        keyed.push((part, ord, args, pass, i));
    }
    let order_cmp = |a: &[Value], b: &[Value]| -> Ordering {
        for (k, (x, y)) in call.order_by.iter().zip(a.iter().zip(b)) {
            let o = compare_values(k, x, y);
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    };
    keyed.sort_by(|a, b| {
        a.0.iter()
            .zip(&b.0)
            .map(|(x, y)| x.total_cmp(y))
            .find(|o| *o != Ordering::Equal)
            .unwrap_or(Ordering::Equal)
            .then_with(|| order_cmp(&a.1, &b.1))
    });
    let mut result = vec![Value::Null; rows.len()];
    let uses_frame = matches!(
        call.func,
        WindowFunc::FirstValue | WindowFunc::LastValue | WindowFunc::NthValue | WindowFunc::Aggregate(_)
    );
    let sizes = if keyed.is_empty() { None } else { Some(FrameSizes::evaluate(&call.frame, cx)?) };
    let descending = call.order_by.first().is_some_and(|k| k.desc);
    let mut start = 0;
    while start < keyed.len() {
        let mut end = start + 1;
        while end < keyed.len() && keyed[end].0 == keyed[start].0 {
            end += 1;
        }
        let part = &keyed[start..end];
        // Peer groups: rows equal on the ORDER BY keys.
        let mut peer_start = vec![0; part.len()];
        let mut peer_end = vec![0; part.len()];
        let mut g = 0;
        while g < part.len() {
            let mut h = g + 1;
            while h < part.len() && order_cmp(&part[g].1, &part[h].1) == Ordering::Equal {
                h += 1;
            }
            for p in g..h {
                peer_start[p] = g;
                peer_end[p] = h;
            }
            g = h;
        }
        let n = part.len();
        let frame_of = match &sizes {
            Some(sizes) if uses_frame => {
                let partition = Partition {
                    keys: part.iter().map(|r| r.1.as_slice()).collect(),
                    peer_start: &peer_start,
                    peer_end: &peer_end,
                    ordered: !call.order_by.is_empty(),
                };
                frames(&call.frame, sizes, &partition, descending, cx)?
            }
            _ => Vec::new(),
        };
        let frame = |p: usize| frame_of.get(p).copied().unwrap_or((0, 0));
        let mut rank = 0;
        let mut dense = 0;
        let mut running: Option<(Accumulator, usize)> = None;
        for (p, row) in part.iter().enumerate() {
            if peer_start[p] == p {
                rank = p + 1;
                dense += 1;
            }
            let arg = |i: usize| row.2.get(i).cloned().unwrap_or(Value::Null);
            let offset = |cx_default: i64| -> Result<i64> {
                Ok(match row.2.get(1) {
                    None => cx_default,
                    Some(Value::Null) => return Err(SqlError::InvalidParameter("offset must not be null".into())),
                    Some(v) => v.as_i64().unwrap_or(cx_default),
                })
            };
            let value = match call.func {
                WindowFunc::RowNumber => Value::Int8(p as i64 + 1),
                WindowFunc::Rank => Value::Int8(rank as i64),
                WindowFunc::DenseRank => Value::Int8(dense),
                WindowFunc::PercentRank => Value::Float8(if n <= 1 { 0.0 } else { (rank - 1) as f64 / (n - 1) as f64 }),
                WindowFunc::CumeDist => Value::Float8(peer_end[p] as f64 / n as f64),
                WindowFunc::Ntile if arg(0).is_null() => Value::Null,
                WindowFunc::Ntile => {
                    let buckets = arg(0)
                        .as_i64()
                        .filter(|b| *b > 0)
                        .ok_or_else(|| data_exception("22014", "argument of ntile must be greater than zero"))?
                        as usize;
                    let (q, r) = (n / buckets, n % buckets);
                    // The first r buckets hold q+1 rows.
                    let bucket = if p < r * (q + 1) { p / (q + 1) } else { r + (p - r * (q + 1)) / q.max(1) };
                    Value::Int8(bucket as i64 + 1)
                }
                WindowFunc::Lag | WindowFunc::Lead => {
                    let k = offset(1)?;
                    let target = if call.func == WindowFunc::Lag { p as i64 - k } else { p as i64 + k };
                    match usize::try_from(target).ok().filter(|t| *t < n) {
                        Some(t) => part[t].2.first().cloned().unwrap_or(Value::Null),
                        None => arg(2),
                    }
                }
                WindowFunc::FirstValue | WindowFunc::LastValue | WindowFunc::NthValue => {
                    let (lo, hi) = frame(p);
                    let pick = match call.func {
                        WindowFunc::FirstValue => (lo < hi).then_some(lo),
                        WindowFunc::LastValue => (lo < hi).then(|| hi - 1),
                        _ => {
                            let k = arg(1).as_i64().filter(|k| *k > 0).ok_or_else(|| {
                                data_exception("22016", "argument of nth_value must be greater than zero")
                            })? as usize;
                            (lo + k - 1 < hi).then(|| lo + k - 1)
                        }
                    };
                    pick.map_or(Value::Null, |i| part[i].2.first().cloned().unwrap_or(Value::Null))
                }
                WindowFunc::Aggregate(func) => {
                    let agg = AggregateCall {
                        func,
                        args: Vec::new(),
                        distinct: false,
                        filter: None,
                        order_by: Vec::<SortKey>::new(),
                        result_type: call.result_type.clone(),
                    };
                    let (lo, hi) = frame(p);
                    if lo == 0 && matches!(call.frame.start, FrameBound::UnboundedPreceding) {
                        // Growing frame: extend one accumulator.
                        let (acc, done) = running.get_or_insert_with(|| (Accumulator::new(&agg), 0));
                        while *done < hi {
                            if part[*done].3 {
                                acc.add(part[*done].2.clone())?;
                            }
                            *done += 1;
                        }
                        acc.clone().finish(&[], part[0].2.len())?
                    } else {
                        let mut acc = Accumulator::new(&agg);
                        for r in &part[lo..hi.max(lo)] {
                            if r.3 {
                                acc.add(r.2.clone())?;
                            }
                        }
                        acc.finish(&[], row.2.len())?
                    }
                }
            };
            result[row.4] = value;
        }
        start = end;
    }
    Ok((result, keyed.iter().map(|k| k.4).collect()))
}
