//! The simple streaming operators: values, filter, project, limit, a
//! materialized row set, and set-returning functions.

use std::sync::Arc;

use memdb_engine::Value;

use super::{BATCH, ExecCtx, Operator, Row};
use crate::error::{Result, SqlError};
use crate::expr::{BinOp, Expr, arith};
use crate::plan::TableFunction;

/// Literal rows.
pub(crate) struct ValuesOp<'p> {
    rows: &'p [Vec<Expr>],
    done: bool,
}

impl<'p> ValuesOp<'p> {
    pub(crate) fn new(rows: &'p [Vec<Expr>]) -> ValuesOp<'p> {
        ValuesOp { rows, done: false }
    }
}

impl Operator for ValuesOp<'_> {
    fn next(&mut self, cx: &mut ExecCtx<'_>) -> Result<Option<Vec<Row>>> {
        if self.done || self.rows.is_empty() {
            return Ok(None);
        }
        self.done = true;
        let mut out = Vec::with_capacity(self.rows.len());
        for row in self.rows {
            let mut values = Vec::with_capacity(row.len());
            for e in row {
                values.push(e.eval(&[], cx)?);
            }
            out.push(values);
        }
        Ok(Some(out))
    }
}

/// Rows already computed (a CTE's result).
pub(crate) struct RowsOp {
    rows: Arc<Vec<Row>>,
    position: usize,
}

impl RowsOp {
    pub(crate) fn new(rows: Arc<Vec<Row>>) -> RowsOp {
        RowsOp { rows, position: 0 }
    }
}

impl Operator for RowsOp {
    fn next(&mut self, _cx: &mut ExecCtx<'_>) -> Result<Option<Vec<Row>>> {
        if self.position >= self.rows.len() {
            return Ok(None);
        }
        let end = (self.position + BATCH).min(self.rows.len());
        let batch = self.rows[self.position..end].to_vec();
        self.position = end;
        Ok(Some(batch))
    }
}

/// Keeps the rows that pass a predicate.
pub(crate) struct FilterOp<'p> {
    pub(crate) input: Box<dyn Operator + 'p>,
    pub(crate) predicate: super::predicate::Predicate<'p>,
}

impl Operator for FilterOp<'_> {
    fn next(&mut self, cx: &mut ExecCtx<'_>) -> Result<Option<Vec<Row>>> {
        while let Some(batch) = self.input.next(cx)? {
            let mut out = Vec::with_capacity(batch.len());
            for row in batch {
                if self.predicate.eval(&row, cx)? {
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

/// Computes output columns.
pub(crate) struct ProjectOp<'p> {
    pub(crate) input: Box<dyn Operator + 'p>,
    pub(crate) exprs: &'p [Expr],
}

impl Operator for ProjectOp<'_> {
    fn next(&mut self, cx: &mut ExecCtx<'_>) -> Result<Option<Vec<Row>>> {
        let Some(batch) = self.input.next(cx)? else { return Ok(None) };
        let mut out = Vec::with_capacity(batch.len());
        for row in batch {
            out.push(project_row(self.exprs, &row, cx)?);
        }
        Ok(Some(out))
    }
}

/// Evaluates a projection list over one input row (a bare column reference
/// is copied without going through the evaluator).
pub(crate) fn project_row(exprs: &[Expr], row: &[Value], cx: &mut ExecCtx<'_>) -> Result<Row> {
    let mut values = Vec::with_capacity(exprs.len());
    for e in exprs {
        values.push(match e {
            Expr::Column(i) => row.get(*i).cloned().unwrap_or(Value::Null),
            e => e.eval(row, cx)?,
        });
    }
    Ok(values)
}

/// `LIMIT` / `OFFSET`.
pub(crate) struct LimitOp<'p> {
    input: Box<dyn Operator + 'p>,
    limit_expr: &'p Option<Expr>,
    offset_expr: &'p Option<Expr>,
    state: Option<(usize, usize)>,
}

impl<'p> LimitOp<'p> {
    pub(crate) fn new(input: Box<dyn Operator + 'p>, limit: &'p Option<Expr>, offset: &'p Option<Expr>) -> LimitOp<'p> {
        LimitOp { input, limit_expr: limit, offset_expr: offset, state: None }
    }
}

/// Evaluates a LIMIT/OFFSET count (NULL is "no limit" / 0).
pub(crate) fn count_value(e: &Option<Expr>, what: &str, cx: &mut ExecCtx<'_>) -> Result<Option<usize>> {
    let Some(e) = e else { return Ok(None) };
    match e.eval(&[], cx)?.cast(&memdb_engine::DataType::Int8)? {
        Value::Null => Ok(None),
        Value::Int8(n) if n >= 0 => Ok(Some(usize::try_from(n).unwrap_or(usize::MAX))),
        _ => Err(crate::error::data_exception(
            if what == "LIMIT" { "2201W" } else { "2201X" },
            format!("{what} must not be negative"),
        )),
    }
}

impl Operator for LimitOp<'_> {
    fn next(&mut self, cx: &mut ExecCtx<'_>) -> Result<Option<Vec<Row>>> {
        if self.state.is_none() {
            let limit = count_value(self.limit_expr, "LIMIT", cx)?.unwrap_or(usize::MAX);
            let offset = count_value(self.offset_expr, "OFFSET", cx)?.unwrap_or(0);
            self.state = Some((offset, limit));
        }
        let Some((skip, left)) = self.state.as_mut() else { return Ok(None) };
        while *left > 0 {
            let Some(mut batch) = self.input.next(cx)? else { return Ok(None) };
            if *skip >= batch.len() {
                *skip -= batch.len();
                continue;
            }
            batch.drain(..*skip);
            *skip = 0;
            batch.truncate(*left);
            *left -= batch.len();
            return Ok(Some(batch));
        }
        Ok(None)
    }
}

/// `generate_series` and `unnest` in FROM.
pub(crate) struct FunctionOp<'p> {
    function: TableFunction,
    args: &'p [Expr],
    state: Option<FunctionState>,
}

enum FunctionState {
    Series { next: Value, stop: Value, step: Value, ascending: bool },
    Items(std::vec::IntoIter<Value>),
    Done,
}

impl<'p> FunctionOp<'p> {
    pub(crate) fn new(function: TableFunction, args: &'p [Expr]) -> FunctionOp<'p> {
        FunctionOp { function, args, state: None }
    }

    fn start(&self, cx: &mut ExecCtx<'_>) -> Result<FunctionState> {
        let mut values = Vec::new();
        for a in self.args {
            values.push(a.eval(&[], cx)?);
        }
        if values.iter().any(Value::is_null) {
            return Ok(FunctionState::Done);
        }
        Ok(match self.function {
            TableFunction::Unnest => match values.into_iter().next() {
                Some(Value::Array(a)) => FunctionState::Items(a.elements.into_iter()),
                _ => FunctionState::Done,
            },
            TableFunction::GenerateSeries => {
                let mut it = values.into_iter();
                let (start, stop) = (it.next().unwrap_or(Value::Null), it.next().unwrap_or(Value::Null));
                let step = match it.next() {
                    Some(s) => s,
                    None if matches!(start, Value::Timestamp(_) | Value::TimestampTz(_) | Value::Date(_)) => {
                        return Err(SqlError::UndefinedFunction(
                            "function generate_series(timestamp, timestamp) does not exist".into(),
                        ));
                    }
                    None => Value::Int4(1),
                };
                let zero = step.sql_cmp(&Value::Int4(0));
                let ascending = match &step {
                    Value::Interval(i) => i.span_micros() > 0,
                    _ => zero == Some(std::cmp::Ordering::Greater),
                };
                let is_zero = match &step {
                    Value::Interval(i) => i.is_zero(),
                    _ => zero == Some(std::cmp::Ordering::Equal),
                };
                if is_zero {
                    return Err(SqlError::InvalidParameter("step size cannot equal zero".into()));
                }
                FunctionState::Series { next: start, stop, step, ascending }
            }
        })
    }
}

impl Operator for FunctionOp<'_> {
    fn next(&mut self, cx: &mut ExecCtx<'_>) -> Result<Option<Vec<Row>>> {
        cx.check_interrupt()?;
        if self.state.is_none() {
            self.state = Some(self.start(cx)?);
        }
        let mut out = Vec::new();
        match self.state.as_mut() {
            Some(FunctionState::Items(items)) => out.extend(items.by_ref().take(BATCH).map(|v| vec![v])),
            Some(FunctionState::Series { next, stop, step, ascending }) => {
                while out.len() < BATCH {
                    let past = match next.sql_cmp(stop) {
                        Some(o) => {
                            if *ascending {
                                o.is_gt()
                            } else {
                                o.is_lt()
                            }
                        }
                        None => true,
                    };
                    if past {
                        break;
                    }
                    let following = match arith(BinOp::Add, next, step) {
                        Ok(v) => v,
                        Err(_) => Value::Null, // overflow past the end: stop after this one
                    };
                    out.push(vec![std::mem::replace(next, following)]);
                    if next.is_null() {
                        break;
                    }
                }
            }
            _ => {}
        }
        if out.is_empty() {
            self.state = Some(FunctionState::Done);
            return Ok(None);
        }
        Ok(Some(out))
    }
}
