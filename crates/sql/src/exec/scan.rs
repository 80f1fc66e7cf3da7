//! Table scans: full, index range and index point lookups, with the
//! pushed-down filter applied as rows are fetched, and row locks for
//! `SELECT … FOR UPDATE / SHARE`.

use std::ops::Bound;

use memdb_engine::{LockMode, LockWait, Row as EngineRow, RowBatch, ScanCursor, ScanRange, Table, Value};

use super::predicate::Predicate;
use super::{BATCH, ExecCtx, Operator, Row, Sink, drain_batches};
use crate::error::Result;
use crate::expr::Expr;
use crate::plan::{Access, Plan, RowLock};

enum Source<'p> {
    Cursor(ScanCursor),
    /// Point lookups still to do, their index, and whether it is the
    /// primary key (whose own lookup is the cheapest read).
    Points {
        index: &'p str,
        primary: bool,
        keys: std::vec::IntoIter<Vec<Value>>,
    },
    Done,
}

/// Reads a table through its access path.
pub(crate) struct ScanOp<'p> {
    table: &'p Table,
    source: Source<'p>,
    filter: Option<Predicate<'p>>,
    lock: Option<RowLock>,
    row_id: bool,
    fetched: Vec<EngineRow>,
}

fn eval_key(exprs: &[Expr], cx: &mut ExecCtx<'_>) -> Result<Option<Vec<Value>>> {
    let mut key = Vec::with_capacity(exprs.len());
    for e in exprs {
        let v = e.eval(&[], cx)?;
        if v.is_null() {
            return Ok(None); // `col = NULL` matches nothing
        }
        key.push(v);
    }
    Ok(Some(key))
}

fn eval_bound(bound: &Bound<Vec<Expr>>, cx: &mut ExecCtx<'_>) -> Result<Option<Bound<Vec<Value>>>> {
    Ok(match bound {
        Bound::Unbounded => Some(Bound::Unbounded),
        Bound::Included(e) => eval_key(e, cx)?.map(Bound::Included),
        Bound::Excluded(e) => eval_key(e, cx)?.map(Bound::Excluded),
    })
}

/// The upper bound of an index range, made to stop before NULLs: NULL
/// keys sort after every value, so a range open upwards in its last bound
/// column (`v > 15`, or `a = 5 AND b > 3` whose upper bound is the prefix
/// `(5)`) would otherwise reach the rows whose column is NULL, which no
/// comparison matches.
fn below_nulls(lower: &Bound<Vec<Value>>, upper: Bound<Vec<Value>>) -> Bound<Vec<Value>> {
    let lower_len = match lower {
        Bound::Included(k) | Bound::Excluded(k) => k.len(),
        Bound::Unbounded => 0,
    };
    let upper_len = match &upper {
        Bound::Included(k) | Bound::Excluded(k) => k.len(),
        Bound::Unbounded => 0,
    };
    match lower {
        // The range column is the lower bound's last; the columns before it
        // are equal in both bounds.
        Bound::Included(k) | Bound::Excluded(k) if lower_len > upper_len => {
            let mut stop = k[..lower_len - 1].to_vec();
            stop.push(Value::Null);
            Bound::Excluded(stop)
        }
        _ => upper,
    }
}

impl<'p> ScanOp<'p> {
    pub(crate) fn open(
        table: &'p Table,
        access: &'p Access,
        filter: Option<&'p Expr>,
        lock: Option<RowLock>,
        row_id: bool,
        columns: Option<&[usize]>,
        cx: &mut ExecCtx<'_>,
    ) -> Result<ScanOp<'p>> {
        let source = match access {
            Access::Full => Source::Cursor(cx.txn_mut()?.open_scan(table, ScanRange::Full, false)?),
            Access::IndexRange { index, lower, upper, reverse } => {
                match (eval_bound(lower, cx)?, eval_bound(upper, cx)?) {
                    (Some(lower), Some(upper)) => Source::Cursor(cx.txn_mut()?.open_scan(
                        table,
                        ScanRange::Index { index: index.clone(), upper: below_nulls(&lower, upper), lower },
                        *reverse,
                    )?),
                    _ => Source::Done,
                }
            }
            Access::IndexPoints { index, keys } => {
                let mut values = Vec::with_capacity(keys.len());
                for k in keys {
                    if let Some(v) = eval_key(k, cx)? {
                        values.push(v);
                    }
                }
                if values.len() > 1 {
                    values.sort();
                    values.dedup();
                }
                let primary = table.schema().primary_key_index().is_some_and(|pk| pk.name == *index);
                Source::Points { index, primary, keys: values.into_iter() }
            }
        };
        let mut source = source;
        if let (Source::Cursor(cursor), Some(cols), None) = (&mut source, columns, lock) {
            cursor.project(cols);
        }
        Ok(ScanOp { table, source, filter: filter.map(Predicate::new), lock, row_id, fetched: Vec::new() })
    }

    /// A full scan reading an already opened cursor (see `parallel`).
    pub(crate) fn with_cursor(
        table: &'p Table,
        cursor: ScanCursor,
        filter: Option<&'p Expr>,
        lock: Option<RowLock>,
        row_id: bool,
    ) -> ScanOp<'p> {
        ScanOp {
            table,
            source: Source::Cursor(cursor),
            filter: filter.map(Predicate::new),
            lock,
            row_id,
            fetched: Vec::new(),
        }
    }

    /// Fetches the next engine rows into `self.fetched`; false when done.
    fn fetch(&mut self, cx: &mut ExecCtx<'_>) -> Result<bool> {
        self.fetched.clear();
        match &mut self.source {
            Source::Cursor(cursor) => {
                if !cx.txn.fetch(cursor, &mut self.fetched)? {
                    self.source = Source::Done;
                    return Ok(false);
                }
                Ok(true)
            }
            Source::Points { index, primary, keys } => {
                while self.fetched.len() < BATCH {
                    let Some(key) = keys.next() else { break };
                    if *primary {
                        if let Some(row) = cx.txn_mut()?.get(self.table, &key)? {
                            self.fetched.push(row);
                        }
                    } else {
                        let rows = cx.txn_mut()?.index_lookup(self.table, index, &key)?;
                        self.fetched.extend(rows);
                    }
                }
                if self.fetched.is_empty() {
                    self.source = Source::Done;
                    return Ok(false);
                }
                Ok(true)
            }
            Source::Done => Ok(false),
        }
    }
}

impl Operator for ScanOp<'_> {
    fn next(&mut self, cx: &mut ExecCtx<'_>) -> Result<Option<Vec<Row>>> {
        loop {
            cx.check_interrupt()?;
            if !self.fetch(cx)? {
                return Ok(None);
            }
            let mut out = Vec::with_capacity(self.fetched.len());
            for row in std::mem::take(&mut self.fetched) {
                let id = row.id;
                let mut values = match self.lock {
                    None => row.values,
                    Some(lock) => {
                        let mode = if lock.exclusive { LockMode::Update } else { LockMode::Share };
                        let wait = if lock.nowait {
                            LockWait::NoWait
                        } else if lock.skip_locked {
                            LockWait::SkipLocked
                        } else {
                            LockWait::Wait
                        };
                        match cx.txn_mut()?.lock_row(self.table, row.id, mode, wait)? {
                            Some(current) => current.values,
                            None => continue,
                        }
                    }
                };
                if let Some(f) = &self.filter
                    && !f.eval(&values, cx)?
                {
                    continue;
                }
                if self.row_id {
                    values.push(Value::Int8(i64::try_from(id).unwrap_or(i64::MAX)));
                }
                out.push(values);
            }
            if !out.is_empty() {
                return Ok(Some(out));
            }
        }
    }

    fn drain(&mut self, cx: &mut ExecCtx<'_>, sink: &mut Sink<'_>) -> Result<()> {
        // Locking and row-id scans, and point lookups, go batch by batch.
        let Source::Cursor(cursor) = &mut self.source else { return drain_batches(self, cx, sink) };
        if self.lock.is_some() || self.row_id {
            return drain_batches(self, cx, sink);
        }
        // Rows decoded into one reused batch and lent out: no row is
        // allocated (see `RowBatch`).
        let mut batch = RowBatch::new();
        loop {
            cx.check_interrupt()?;
            if !cx.txn.fetch_batch(cursor, &mut batch)? {
                break;
            }
            for (_, values) in batch.iter() {
                if let Some(f) = &self.filter
                    && !f.eval(values, cx)?
                {
                    continue;
                }
                sink(values, cx)?;
            }
        }
        self.source = Source::Done;
        Ok(())
    }
}

/// The fast path for the commonest statement of all, a lookup of one
/// primary key (`SELECT … FROM t WHERE pk = $1`): one engine `get` and a
/// projection, with no operator tree built. `None` when the plan has
/// another shape (or locks rows, or wants row ids), so the caller builds
/// operators as usual.
pub(crate) fn primary_point(plan: &Plan, cx: &mut ExecCtx<'_>) -> Option<Result<Vec<Row>>> {
    let (scan, exprs) = match plan {
        Plan::Project { input, exprs } => (&**input, Some(exprs.as_slice())),
        scan => (scan, None),
    };
    let Plan::Scan { table, access: Access::IndexPoints { index, keys }, filter, lock: None, row_id: false, .. } = scan
    else {
        return None;
    };
    let [key] = keys.as_slice() else { return None };
    if table.schema().primary_key_index().is_none_or(|pk| pk.name != *index) {
        return None;
    }
    Some(read_primary_point(table, key, filter.as_ref(), exprs, cx))
}

fn read_primary_point(
    table: &Table,
    key: &[Expr],
    filter: Option<&Expr>,
    exprs: Option<&[Expr]>,
    cx: &mut ExecCtx<'_>,
) -> Result<Vec<Row>> {
    let Some(key) = eval_key(key, cx)? else { return Ok(Vec::new()) };
    let Some(row) = cx.txn_mut()?.get(table, &key)? else { return Ok(Vec::new()) };
    if let Some(f) = filter
        && !Predicate::new(f).eval(&row.values, cx)?
    {
        return Ok(Vec::new());
    }
    let Some(exprs) = exprs else { return Ok(vec![row.values]) };
    Ok(vec![super::basic::project_owned(exprs, row.values, cx)?])
}
