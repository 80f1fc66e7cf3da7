//! The simple streaming operators: values, filter, project, limit, a
//! materialized row set, and set-returning functions.

use std::sync::Arc;

use memdb_engine::Value;

use super::{BATCH, ExecCtx, Operator, Row, Sink};
use crate::error::{Result, SqlError};
use crate::expr::{BinOp, Expr, arith};
use crate::plan::{SetCall, TableFunction};

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

    fn drain(&mut self, cx: &mut ExecCtx<'_>, sink: &mut Sink<'_>) -> Result<()> {
        let predicate = &self.predicate;
        self.input.drain(cx, &mut |row, cx| if predicate.eval(row, cx)? { sink(row, cx) } else { Ok(()) })
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
            out.push(project_owned(self.exprs, row, cx)?);
        }
        Ok(Some(out))
    }

    fn drain(&mut self, cx: &mut ExecCtx<'_>, sink: &mut Sink<'_>) -> Result<()> {
        let exprs = self.exprs;
        if let Some(constant) =
            exprs.iter().map(|e| if let Expr::Literal(v) = e { Some(v.clone()) } else { None }).collect::<Option<Row>>()
        {
            // Every output is a constant (all of them when nothing above
            // reads the columns, see the optimizer's pruning): one row.
            return self.input.drain(cx, &mut |_, cx| sink(&constant, cx));
        }
        // One output row, refilled for every input row.
        let mut out: Row = Vec::with_capacity(exprs.len());
        self.input.drain(cx, &mut |row, cx| {
            out.clear();
            project_into(exprs, row, cx, &mut out)?;
            sink(&out, cx)
        })
    }
}

/// Evaluates a projection list over one input row (a bare column reference
/// is copied without going through the evaluator).
pub(crate) fn project_row(exprs: &[Expr], row: &[Value], cx: &mut ExecCtx<'_>) -> Result<Row> {
    let mut values = Vec::with_capacity(exprs.len());
    project_into(exprs, row, cx, &mut values)?;
    Ok(values)
}

/// Like [`project_row`] over a row the caller is done with: when every
/// output is a bare column or a constant (the usual `SELECT a, b, c`),
/// values move out of the row instead of being copied — a column listed
/// twice is copied for all but its last use. Long lists (over 64 outputs
/// or columns) take the copying path.
pub(crate) fn project_owned(exprs: &[Expr], mut row: Row, cx: &mut ExecCtx<'_>) -> Result<Row> {
    let movable = exprs.len() <= 64
        && exprs.iter().all(|e| match e {
            Expr::Column(i) => *i < 64,
            Expr::Literal(_) => true,
            _ => false,
        });
    if !movable {
        return project_row(exprs, &row, cx);
    }
    // Bit n: output n is the last one to read its column.
    let (mut last_use, mut seen) = (0u64, 0u64);
    for (n, e) in exprs.iter().enumerate().rev() {
        if let Expr::Column(i) = e
            && seen & (1 << i) == 0
        {
            seen |= 1 << i;
            last_use |= 1 << n;
        }
    }
    let mut out = Vec::with_capacity(exprs.len());
    for (n, e) in exprs.iter().enumerate() {
        out.push(match e {
            Expr::Column(i) => match row.get_mut(*i) {
                Some(v) if last_use & (1 << n) != 0 => std::mem::replace(v, Value::Null),
                Some(v) => v.clone(),
                None => Value::Null,
            },
            Expr::Literal(v) => v.clone(),
            e => e.eval(&row, cx)?,
        });
    }
    Ok(out)
}

/// Appends a projection list's values over one input row to `out`.
fn project_into(exprs: &[Expr], row: &[Value], cx: &mut ExecCtx<'_>, out: &mut Row) -> Result<()> {
    for e in exprs {
        out.push(match e {
            Expr::Column(i) => row.get(*i).cloned().unwrap_or(Value::Null),
            Expr::Literal(v) => v.clone(),
            e => e.eval(row, cx)?,
        });
    }
    Ok(())
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

/// Set-returning functions in FROM (`generate_series`, `unnest`,
/// `jsonb_array_elements`, …).
pub(crate) struct FunctionOp<'p> {
    function: TableFunction,
    args: &'p [Expr],
    /// `WITH ORDINALITY`: the number of the next row, appended to it.
    ordinality: Option<i64>,
    state: Option<FunctionState>,
}

enum FunctionState {
    Series { next: Value, stop: Value, step: Value, ascending: bool },
    Rows(std::vec::IntoIter<Row>),
    Done,
}

/// The JSON document a json function reads, as text when it must be.
fn json_arg(v: Value) -> Result<serde_json::Value> {
    crate::expr::func::json_of(&v)
}

/// A JSON value as the function's output type.
fn json_out(j: serde_json::Value, binary: bool, text: bool) -> Value {
    match (text, j) {
        (true, serde_json::Value::Null) => Value::Null,
        (true, serde_json::Value::String(s)) => Value::Text(s),
        (true, other) if binary => Value::Text(Value::jsonb_from(other).to_string()),
        (true, other) => Value::Text(other.to_string()),
        (false, j) if binary => Value::jsonb_from(j),
        (false, j) => Value::Json(j.to_string()),
    }
}

impl<'p> FunctionOp<'p> {
    pub(crate) fn new(function: TableFunction, args: &'p [Expr], ordinality: bool) -> FunctionOp<'p> {
        FunctionOp { function, args, ordinality: ordinality.then_some(1), state: None }
    }

    fn start(&self, cx: &mut ExecCtx<'_>) -> Result<FunctionState> {
        let mut values = Vec::new();
        for a in self.args {
            values.push(a.eval(&[], cx)?);
        }
        start_function(self.function, values)
    }
}

/// Starts a set-returning function on evaluated arguments.
fn start_function(function: TableFunction, values: Vec<Value>) -> Result<FunctionState> {
    // A NULL argument gives no rows (the functions are strict).
    if values.iter().any(Value::is_null) {
        return Ok(FunctionState::Done);
    }
    let text = |i: usize| match values.get(i) {
        Some(Value::Text(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
        None => None,
    };
    let rows =
        |items: Vec<Value>| FunctionState::Rows(items.into_iter().map(|v| vec![v]).collect::<Vec<_>>().into_iter());
    Ok(match function {
        TableFunction::Unnest => match values.into_iter().next() {
            Some(Value::Array(a)) => rows(a.elements),
            _ => FunctionState::Done,
        },
        TableFunction::JsonArrayElements { binary, text } => {
            match json_arg(values.into_iter().next().unwrap_or(Value::Null))? {
                serde_json::Value::Array(items) => rows(items.into_iter().map(|j| json_out(j, binary, text)).collect()),
                serde_json::Value::Object(_) => {
                    return Err(SqlError::InvalidParameter("cannot extract elements from an object".into()));
                }
                _ => return Err(SqlError::InvalidParameter("cannot extract elements from a scalar".into())),
            }
        }
        TableFunction::JsonEach { binary, text } => match json_arg(values.into_iter().next().unwrap_or(Value::Null))? {
            serde_json::Value::Object(map) => FunctionState::Rows(
                map.into_iter()
                    .map(|(k, v)| vec![Value::Text(k), json_out(v, binary, text)])
                    .collect::<Vec<_>>()
                    .into_iter(),
            ),
            _ => {
                return Err(SqlError::InvalidParameter("cannot call json_each on a non-object".into()));
            }
        },
        TableFunction::JsonObjectKeys => match json_arg(values.into_iter().next().unwrap_or(Value::Null))? {
            serde_json::Value::Object(map) => rows(map.into_iter().map(|(k, _)| Value::Text(k)).collect()),
            serde_json::Value::Array(_) => {
                return Err(SqlError::InvalidParameter("cannot call jsonb_object_keys on an array".into()));
            }
            _ => return Err(SqlError::InvalidParameter("cannot call jsonb_object_keys on a scalar".into())),
        },
        TableFunction::RegexpSplitToTable => rows(crate::expr::regexfn::split(
            &text(0).unwrap_or_default(),
            &text(1).unwrap_or_default(),
            text(2).as_deref(),
        )?),
        TableFunction::RegexpMatches => rows(crate::expr::regexfn::all_matches(
            &text(0).unwrap_or_default(),
            &text(1).unwrap_or_default(),
            text(2).as_deref(),
        )?),
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

impl FunctionState {
    /// Moves up to `max` more rows of the function into `out`.
    fn take(&mut self, max: usize, out: &mut Vec<Row>) {
        match self {
            FunctionState::Rows(rows) => out.extend(rows.by_ref().take(max)),
            FunctionState::Series { next, stop, step, ascending } => {
                let goal = out.len() + max;
                while out.len() < goal {
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
            FunctionState::Done => {}
        }
    }
}

impl Operator for FunctionOp<'_> {
    fn next(&mut self, cx: &mut ExecCtx<'_>) -> Result<Option<Vec<Row>>> {
        cx.check_interrupt()?;
        if self.state.is_none() {
            self.state = Some(self.start(cx)?);
        }
        let mut out = Vec::new();
        if let Some(state) = self.state.as_mut() {
            state.take(BATCH, &mut out);
        }
        if out.is_empty() {
            self.state = Some(FunctionState::Done);
            return Ok(None);
        }
        if let Some(n) = self.ordinality.as_mut() {
            for row in &mut out {
                row.push(Value::Int8(*n));
                *n += 1;
            }
        }
        Ok(Some(out))
    }
}

/// Set-returning functions in a select list (see [`crate::plan::Plan::ProjectSet`]).
pub(crate) struct ProjectSetOp<'p> {
    input: Box<dyn Operator + 'p>,
    functions: &'p [SetCall],
    /// Output rows made from input rows and not yet returned.
    pending: std::vec::IntoIter<Row>,
}

/// The most rows one input row may expand to (a runaway series is cut
/// off by the statement's interrupt checks long before).
const MAX_SET_ROWS: usize = 1 << 24;

impl<'p> ProjectSetOp<'p> {
    pub(crate) fn new(input: Box<dyn Operator + 'p>, functions: &'p [SetCall]) -> ProjectSetOp<'p> {
        ProjectSetOp { input, functions, pending: Vec::new().into_iter() }
    }

    /// The output rows of one input row.
    fn expand(&self, row: Row, cx: &mut ExecCtx<'_>, out: &mut Vec<Row>) -> Result<()> {
        let mut results: Vec<Vec<Row>> = Vec::with_capacity(self.functions.len());
        for call in self.functions {
            let mut values = Vec::with_capacity(call.args.len());
            for a in &call.args {
                values.push(a.eval(&row, cx)?);
            }
            let mut state = start_function(call.function, values)?;
            let mut rows = Vec::new();
            loop {
                let before = rows.len();
                state.take(BATCH, &mut rows);
                if rows.len() == before {
                    break;
                }
                cx.check_interrupt()?;
                if rows.len() > MAX_SET_ROWS {
                    return Err(crate::error::data_exception("54000", "set-returning function result too large"));
                }
            }
            results.push(rows);
        }
        let longest = results.iter().map(Vec::len).max().unwrap_or(0);
        for i in 0..longest {
            let mut r = row.clone();
            for res in &mut results {
                r.push(res.get_mut(i).and_then(|v| v.pop()).unwrap_or(Value::Null));
            }
            out.push(r);
        }
        Ok(())
    }
}

impl Operator for ProjectSetOp<'_> {
    fn next(&mut self, cx: &mut ExecCtx<'_>) -> Result<Option<Vec<Row>>> {
        loop {
            let out: Vec<Row> = self.pending.by_ref().take(BATCH).collect();
            if !out.is_empty() {
                return Ok(Some(out));
            }
            let Some(batch) = self.input.next(cx)? else { return Ok(None) };
            let mut expanded = Vec::new();
            for row in batch {
                self.expand(row, cx, &mut expanded)?;
            }
            self.pending = expanded.into_iter();
        }
    }
}
