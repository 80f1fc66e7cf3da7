//! Hash aggregation and the aggregate functions' accumulators.
//!
//! Result types follow PostgreSQL: `sum` of smallint/integer is bigint, of
//! bigint and numeric is numeric, of floats is the float type; `avg` of
//! integers and numeric is numeric (with PostgreSQL's division scale), of
//! floats double precision; `count` is bigint. Integer sums accumulate in
//! 128 bits, so they cannot overflow before the result does.

use std::collections::HashSet;

use rustc_hash::FxHashMap as HashMap;

use memdb_engine::{Array, DataType, Interval, Value};
use rust_decimal::Decimal;
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};

use super::keymap::KeyMap;
use super::sort::compare_rows;
use super::{ExecCtx, Operator, Row};
use crate::error::{Result, SqlError, data_exception};
use crate::expr::arith::numeric_div;
use crate::expr::{Expr, func};
use crate::plan::{AggregateCall, AggregateFunc, SortKey};

/// The running state of one aggregate.
#[derive(Clone, Debug)]
pub(crate) struct Accumulator {
    func: AggregateFunc,
    result_type: DataType,
    state: State,
    /// For DISTINCT / ORDER BY aggregates: the collected argument rows
    /// (arguments then sort keys), fed in order at the end.
    collected: Option<Vec<Row>>,
    distinct: bool,
}

#[derive(Clone, Debug)]
enum State {
    Count(i64),
    Int(i128, i64),
    Float(f64, i64),
    Numeric(Decimal, i64),
    Interval(Interval, i64),
    Extreme(Option<Value>),
    /// string_agg: the text so far, and the separator its first row gave
    /// (which a merge puts between two partial texts).
    Text(Option<String>, String),
    Values(Vec<Value>),
    Bool(Option<bool>),
    Json(Vec<serde_json::Value>),
    JsonObject(serde_json::Map<String, serde_json::Value>),
    /// json_agg's elements as json text (json keeps its input's layout).
    JsonText(Vec<String>),
    /// Count, sum and sum of squares for variance (exact for integers and numeric).
    Moments(i64, Decimal, Decimal),
    FloatMoments(i64, f64, f64),
    Bits(Option<i64>),
}

/// `a + b` when it is exact: an error when the sum overflows or had to be
/// rounded to fit 96 bits (its scale below the operands').
fn exact_add(a: Decimal, b: Decimal) -> Result<Decimal> {
    let sum = a.checked_add(b).ok_or_else(overflow)?;
    if sum.scale() < a.scale().max(b.scale()) {
        return Err(data_exception("22003", "numeric sum rounded"));
    }
    Ok(sum)
}

fn overflow() -> SqlError {
    data_exception("22003", "value overflows numeric format")
}

impl Accumulator {
    /// A fresh accumulator for a call.
    pub(crate) fn new(call: &AggregateCall) -> Accumulator {
        let input_float = matches!(call.result_type, DataType::Float4 | DataType::Float8);
        let state = match call.func {
            AggregateFunc::CountStar | AggregateFunc::Count => State::Count(0),
            AggregateFunc::Sum | AggregateFunc::Avg => match &call.result_type {
                DataType::Float4 | DataType::Float8 => State::Float(0.0, 0),
                DataType::Interval => State::Interval(Interval { months: 0, days: 0, micros: 0 }, 0),
                DataType::Int8 => State::Int(0, 0),
                _ => State::Numeric(Decimal::ZERO, 0),
            },
            AggregateFunc::Min | AggregateFunc::Max => State::Extreme(None),
            AggregateFunc::StringAgg => State::Text(None, String::new()),
            AggregateFunc::ArrayAgg => State::Values(Vec::new()),
            AggregateFunc::BoolAnd | AggregateFunc::BoolOr => State::Bool(None),
            AggregateFunc::JsonAgg => State::JsonText(Vec::new()),
            AggregateFunc::JsonbAgg => State::Json(Vec::new()),
            AggregateFunc::JsonObjectAgg => State::JsonObject(serde_json::Map::new()),
            AggregateFunc::StddevSamp | AggregateFunc::StddevPop | AggregateFunc::VarSamp | AggregateFunc::VarPop => {
                if input_float {
                    State::FloatMoments(0, 0.0, 0.0)
                } else {
                    State::Moments(0, Decimal::ZERO, Decimal::ZERO)
                }
            }
            AggregateFunc::BitAnd | AggregateFunc::BitOr => State::Bits(None),
        };
        let collect = call.distinct || !call.order_by.is_empty();
        Accumulator {
            func: call.func,
            result_type: call.result_type.clone(),
            state,
            collected: collect.then(Vec::new),
            distinct: call.distinct,
        }
    }

    /// Adds one row's arguments (and, for ordered aggregates, sort keys after them).
    pub(crate) fn add(&mut self, args: Row) -> Result<()> {
        if let Some(rows) = &mut self.collected {
            rows.push(args);
            return Ok(());
        }
        self.update(&args)
    }

    fn update(&mut self, args: &[Value]) -> Result<()> {
        let v = args.first().unwrap_or(&Value::Null);
        if self.func == AggregateFunc::CountStar {
            if let State::Count(n) = &mut self.state {
                *n += 1;
            }
            return Ok(());
        }
        // Aggregates skip NULL inputs, except the ones that collect them.
        if v.is_null()
            && !matches!(
                self.func,
                AggregateFunc::ArrayAgg
                    | AggregateFunc::JsonAgg
                    | AggregateFunc::JsonbAgg
                    | AggregateFunc::JsonObjectAgg
            )
        {
            return Ok(());
        }
        match &mut self.state {
            State::Count(n) => *n += 1,
            State::Int(sum, n) => {
                *sum += i128::from(v.as_i64().unwrap_or(0));
                *n += 1;
            }
            State::Float(sum, n) => {
                *sum += crate::expr::arith::to_f64(v).unwrap_or(0.0);
                *n += 1;
            }
            State::Numeric(sum, n) => {
                let d = crate::expr::arith::to_decimal(v).unwrap_or_default();
                *sum = sum.checked_add(d).ok_or_else(overflow)?;
                *n += 1;
            }
            State::Interval(sum, n) => {
                if let Value::Interval(i) = v {
                    *sum = sum.checked_add(i)?;
                }
                *n += 1;
            }
            State::Extreme(best) => {
                let replace = match best {
                    None => true,
                    Some(b) => {
                        let ord = v.total_cmp(b);
                        if self.func == AggregateFunc::Min { ord.is_lt() } else { ord.is_gt() }
                    }
                };
                if replace {
                    *best = Some(v.clone());
                }
            }
            State::Text(acc, first_sep) => {
                let sep = match args.get(1) {
                    Some(Value::Null) | None => String::new(),
                    Some(s) => s.to_string(),
                };
                let s = v.to_string();
                match acc {
                    None => {
                        *acc = Some(s);
                        *first_sep = sep;
                    }
                    Some(a) => {
                        a.push_str(&sep);
                        a.push_str(&s);
                    }
                }
            }
            State::Values(items) => items.push(v.clone()),
            State::Bool(acc) => {
                let b = v.as_bool().ok_or_else(|| SqlError::DatatypeMismatch("argument must be boolean".into()))?;
                *acc = Some(match (*acc, self.func) {
                    (None, _) => b,
                    (Some(a), AggregateFunc::BoolAnd) => a && b,
                    (Some(a), _) => a || b,
                });
            }
            State::Json(items) => items.push(func::to_json(v)),
            State::JsonText(items) => items.push(func::json_text(v)),
            State::JsonObject(map) => {
                if v.is_null() {
                    return Err(SqlError::InvalidParameter("field name must not be null".into()));
                }
                map.insert(v.to_string(), func::to_json(args.get(1).unwrap_or(&Value::Null)));
            }
            State::Moments(n, sum, sumsq) => {
                let d = crate::expr::arith::to_decimal(v).unwrap_or_default();
                *n += 1;
                *sum = sum.checked_add(d).ok_or_else(overflow)?;
                *sumsq = sumsq.checked_add(d.checked_mul(d).ok_or_else(overflow)?).ok_or_else(overflow)?;
            }
            State::FloatMoments(n, sum, sumsq) => {
                let f = crate::expr::arith::to_f64(v).unwrap_or(0.0);
                *n += 1;
                *sum += f;
                *sumsq += f * f;
            }
            State::Bits(acc) => {
                let x = v.as_i64().unwrap_or(0);
                *acc = Some(match (*acc, self.func) {
                    (None, _) => x,
                    (Some(a), AggregateFunc::BitAnd) => a & x,
                    (Some(a), _) => a | x,
                });
            }
        }
        Ok(())
    }

    /// Continues this aggregate with the rows `later` saw, which come after
    /// this one's (see [`Partial::merge`]): the result is the one a single
    /// pass over both would give (up to the rounding of float sums).
    fn merge(&mut self, later: Accumulator) -> Result<()> {
        if let Some(rows) = &mut self.collected {
            rows.extend(later.collected.unwrap_or_default());
            return Ok(());
        }
        let min = self.func == AggregateFunc::Min;
        let and = matches!(self.func, AggregateFunc::BoolAnd | AggregateFunc::BitAnd);
        match (&mut self.state, later.state) {
            (State::Count(a), State::Count(b)) => *a += b,
            (State::Int(sum, n), State::Int(sum2, n2)) => {
                *sum = sum.checked_add(sum2).ok_or_else(overflow)?;
                *n += n2;
            }
            (State::Float(sum, n), State::Float(sum2, n2)) => {
                *sum += sum2;
                *n += n2;
            }
            (State::Numeric(sum, n), State::Numeric(sum2, n2)) => {
                *sum = exact_add(*sum, sum2)?;
                *n += n2;
            }
            (State::Interval(sum, n), State::Interval(sum2, n2)) => {
                *sum = sum.checked_add(&sum2)?;
                *n += n2;
            }
            (State::Extreme(best), State::Extreme(Some(v))) => {
                // Ties keep the earlier value, as a single pass does.
                let replace = best.as_ref().is_none_or(|b| {
                    let ord = v.total_cmp(b);
                    if min { ord.is_lt() } else { ord.is_gt() }
                });
                if replace {
                    *best = Some(v);
                }
            }
            (State::Extreme(_), State::Extreme(None)) => {}
            (State::Text(acc, first_sep), State::Text(more, more_sep)) => match (acc.as_mut(), more) {
                (None, more) => {
                    *acc = more;
                    *first_sep = more_sep;
                }
                (Some(text), Some(more)) => {
                    text.push_str(&more_sep);
                    text.push_str(&more);
                }
                (Some(_), None) => {}
            },
            (State::Values(items), State::Values(more)) => items.extend(more),
            (State::Bool(acc), State::Bool(more)) => {
                *acc = match (*acc, more) {
                    (Some(a), Some(b)) => Some(if and { a && b } else { a || b }),
                    (a, b) => a.or(b),
                };
            }
            (State::Json(items), State::Json(more)) => items.extend(more),
            (State::JsonText(items), State::JsonText(more)) => items.extend(more),
            (State::JsonObject(map), State::JsonObject(more)) => {
                for (k, v) in more {
                    map.insert(k, v);
                }
            }
            (State::Moments(n, sum, sumsq), State::Moments(n2, sum2, sumsq2)) => {
                *n += n2;
                *sum = exact_add(*sum, sum2)?;
                *sumsq = exact_add(*sumsq, sumsq2)?;
            }
            (State::FloatMoments(n, sum, sumsq), State::FloatMoments(n2, sum2, sumsq2)) => {
                *n += n2;
                *sum += sum2;
                *sumsq += sumsq2;
            }
            (State::Bits(acc), State::Bits(more)) => {
                *acc = match (*acc, more) {
                    (Some(a), Some(b)) => Some(if and { a & b } else { a | b }),
                    (a, b) => a.or(b),
                };
            }
            _ => return Err(memdb_engine::Error::Internal("merging different aggregate states".into()).into()),
        }
        Ok(())
    }

    /// Whether a numeric running sum is within a factor of 256 of the
    /// 96-bit decimal's limit, where the order of additions starts to
    /// decide rounding and overflow (see `parallel`).
    fn near_numeric_limits(&self) -> bool {
        let near = |d: &Decimal| d.mantissa().unsigned_abs() >= 1 << 88;
        match &self.state {
            State::Numeric(sum, _) => near(sum),
            State::Moments(_, sum, sumsq) => near(sum) || near(sumsq),
            _ => false,
        }
    }

    /// The aggregate's result.
    pub(crate) fn finish(mut self, order_by: &[SortKey], nargs: usize) -> Result<Value> {
        if let Some(mut rows) = self.collected.take() {
            if !order_by.is_empty() {
                let keys: Vec<SortKey> = order_by
                    .iter()
                    .enumerate()
                    .map(|(i, k)| SortKey { expr: Expr::Column(nargs + i), desc: k.desc, nulls_first: k.nulls_first })
                    .collect();
                rows.sort_by(|a, b| compare_rows(&keys, a, b));
            } else if self.distinct
                && matches!(
                    self.func,
                    AggregateFunc::StringAgg
                        | AggregateFunc::ArrayAgg
                        | AggregateFunc::JsonAgg
                        | AggregateFunc::JsonbAgg
                        | AggregateFunc::JsonObjectAgg
                )
            {
                // PostgreSQL sorts a DISTINCT aggregate's input:
                // `array_agg(DISTINCT x)` lists the values in order.
                let keys: Vec<SortKey> =
                    (0..nargs).map(|i| SortKey { expr: Expr::Column(i), desc: false, nulls_first: false }).collect();
                rows.sort_by(|a, b| compare_rows(&keys, a, b));
            }
            let mut seen = HashSet::new();
            for row in rows {
                let args = &row[..nargs.min(row.len())];
                if self.distinct && !seen.insert(args.to_vec()) {
                    continue;
                }
                self.update(args)?;
            }
        }
        let ty = self.result_type.clone();
        Ok(match self.state {
            State::Count(n) => Value::Int8(n),
            State::Int(_, 0) | State::Float(_, 0) | State::Numeric(_, 0) | State::Interval(_, 0) => Value::Null,
            State::Int(sum, _) => {
                Value::Int8(i64::try_from(sum).map_err(|_| data_exception("22003", "bigint out of range"))?)
            }
            State::Float(sum, n) => {
                let v = if self.func == AggregateFunc::Avg { sum / n as f64 } else { sum };
                match ty {
                    #[allow(clippy::cast_possible_truncation)]
                    DataType::Float4 => Value::Float4(v as f32),
                    _ => Value::Float8(v),
                }
            }
            State::Numeric(sum, n) => {
                if self.func == AggregateFunc::Avg {
                    Value::Numeric(numeric_div(sum, Decimal::from(n))?)
                } else {
                    Value::Numeric(sum)
                }
            }
            State::Interval(sum, n) => {
                if self.func == AggregateFunc::Avg {
                    Value::Interval(sum.checked_div_f64(n as f64)?)
                } else {
                    Value::Interval(sum)
                }
            }
            State::Extreme(v) => v.unwrap_or(Value::Null),
            State::Text(s, _) => s.map_or(Value::Null, Value::Text),
            State::Values(items) if items.is_empty() => Value::Null,
            State::Values(items) => {
                let element_type = match ty {
                    DataType::Array(e) => *e,
                    other => other,
                };
                Value::Array(Box::new(Array { element_type, elements: items }))
            }
            State::Bool(b) => b.map_or(Value::Null, Value::Bool),
            State::Json(items) if items.is_empty() => Value::Null,
            State::Json(items) => {
                let j = serde_json::Value::Array(items);
                if self.func == AggregateFunc::JsonbAgg { Value::jsonb_from(j) } else { Value::Json(j.to_string()) }
            }
            State::JsonText(items) if items.is_empty() => Value::Null,
            // json_agg's layout in PostgreSQL: `[1, 2, 3]`.
            State::JsonText(items) => Value::Json(format!("[{}]", items.join(", "))),
            State::JsonObject(map) if map.is_empty() => Value::Null,
            State::JsonObject(map) => Value::jsonb_from(serde_json::Value::Object(map)),
            State::Moments(n, sum, sumsq) => {
                let sample = matches!(self.func, AggregateFunc::StddevSamp | AggregateFunc::VarSamp);
                if n == 0 || (sample && n == 1) {
                    return Ok(Value::Null);
                }
                let nd = Decimal::from(n);
                let num = nd
                    .checked_mul(sumsq)
                    .and_then(|a| sum.checked_mul(sum).and_then(|b| a.checked_sub(b)))
                    .ok_or_else(overflow)?;
                let den = if sample { nd * Decimal::from(n - 1) } else { nd * nd };
                let var = numeric_div(num.max(Decimal::ZERO), den)?;
                if matches!(self.func, AggregateFunc::StddevSamp | AggregateFunc::StddevPop) {
                    let f = var.to_f64().unwrap_or(0.0).sqrt();
                    Value::Numeric(Decimal::from_f64(f).ok_or_else(overflow)?.round_dp(16))
                } else {
                    Value::Numeric(var)
                }
            }
            State::FloatMoments(n, sum, sumsq) => {
                let sample = matches!(self.func, AggregateFunc::StddevSamp | AggregateFunc::VarSamp);
                if n == 0 || (sample && n == 1) {
                    return Ok(Value::Null);
                }
                let nf = n as f64;
                let num = (nf * sumsq - sum * sum).max(0.0);
                let var = num / if sample { nf * (nf - 1.0) } else { nf * nf };
                Value::Float8(if matches!(self.func, AggregateFunc::StddevSamp | AggregateFunc::StddevPop) {
                    var.sqrt()
                } else {
                    var
                })
            }
            State::Bits(b) => match (b, ty) {
                (None, _) => Value::Null,
                (Some(x), DataType::Int2) => Value::Int2(i16::try_from(x).unwrap_or(0)),
                (Some(x), DataType::Int4) => Value::Int4(i32::try_from(x).unwrap_or(0)),
                (Some(x), _) => Value::Int8(x),
            },
        })
    }
}

struct Group {
    key: Row,
    accumulators: Vec<Accumulator>,
}

/// The groups and running aggregates of the rows seen so far: all of a
/// plain aggregation's input, or one thread's share of a parallel one
/// (see [`Partial::merge`]). Groups keep the order their first rows came
/// in.
pub(crate) struct Partial<'p> {
    group_by: &'p [Expr],
    aggregates: &'p [AggregateCall],
    groups: Vec<Group>,
    /// Groups by key when there are several grouping expressions.
    index: HashMap<Row, usize>,
    /// Groups by the value itself for one grouping expression (the common
    /// case): no key vector is built per row.
    single: KeyMap<usize>,
}

impl<'p> Partial<'p> {
    /// No rows seen yet (one empty group without GROUP BY).
    pub(crate) fn new(group_by: &'p [Expr], aggregates: &'p [AggregateCall]) -> Partial<'p> {
        let mut partial =
            Partial { group_by, aggregates, groups: Vec::new(), index: HashMap::default(), single: KeyMap::default() };
        if group_by.is_empty() {
            partial.groups.push(Group { key: Vec::new(), accumulators: partial.fresh() });
        }
        partial
    }

    fn fresh(&self) -> Vec<Accumulator> {
        self.aggregates.iter().map(Accumulator::new).collect()
    }

    /// The group of a key (several grouping expressions), made if new.
    fn group_of_key(&mut self, key: &Row) -> usize {
        match self.index.get(key) {
            Some(&g) => g,
            None => {
                let accumulators = self.fresh();
                self.groups.push(Group { key: key.clone(), accumulators });
                self.index.insert(key.clone(), self.groups.len() - 1);
                self.groups.len() - 1
            }
        }
    }

    /// The group of a one-expression key, made if new.
    fn group_of_value(&mut self, key: &Value) -> usize {
        match self.single.get(key) {
            Some(&g) => g,
            None => {
                self.single.insert(key, self.groups.len());
                let accumulators = self.fresh();
                self.groups.push(Group { key: vec![key.clone()], accumulators });
                self.groups.len() - 1
            }
        }
    }

    /// Feeds every row of `input` into the groups.
    pub(crate) fn consume(&mut self, input: &mut dyn Operator, cx: &mut ExecCtx<'_>) -> Result<()> {
        let (group_by, aggregates) = (self.group_by, self.aggregates);
        // The key of the current row (several grouping expressions), kept
        // for the next row; a copy goes into the map for a new group only.
        let mut multi_key: Row = Vec::with_capacity(group_by.len());
        input.drain(cx, &mut |row, cx| {
            let g = if group_by.is_empty() {
                0
            } else if let [e] = group_by {
                let key = e.eval_ref(row, cx)?;
                self.group_of_value(&key)
            } else {
                multi_key.clear();
                for e in group_by {
                    multi_key.push(match e {
                        Expr::Column(i) => row.get(*i).cloned().unwrap_or(Value::Null),
                        e => e.eval(row, cx)?,
                    });
                }
                self.group_of_key(&multi_key)
            };
            for (call, acc) in aggregates.iter().zip(self.groups[g].accumulators.iter_mut()) {
                if let Some(f) = &call.filter
                    && !f.eval_predicate(row, cx)?
                {
                    continue;
                }
                // Plain aggregates of at most one argument (most of
                // them) take it in place, with no argument row built.
                if acc.collected.is_none() && call.order_by.is_empty() && call.args.len() <= 1 {
                    match call.args.first() {
                        None => acc.update(&[])?,
                        Some(a) => acc.update(std::slice::from_ref(&*a.eval_ref(row, cx)?))?,
                    }
                    continue;
                }
                let mut args = Vec::with_capacity(call.args.len() + call.order_by.len());
                for a in &call.args {
                    args.push(a.eval(row, cx)?);
                }
                for k in &call.order_by {
                    args.push(k.expr.eval(row, cx)?);
                }
                acc.add(args)?;
            }
            Ok(())
        })
    }

    /// Adds the groups of `later`, which saw rows that come after all of
    /// this one's: groups new to this partial go after its own, in
    /// `later`'s order, and each aggregate continues with `later`'s
    /// rows, so the result is the one a single pass over all the rows
    /// would give.
    pub(crate) fn merge(&mut self, later: Partial<'_>) -> Result<()> {
        for group in later.groups {
            let g = match group.key.as_slice() {
                [] => 0,
                [key] if self.group_by.len() == 1 => self.group_of_value(key),
                _ => self.group_of_key(&group.key),
            };
            for (acc, other) in self.groups[g].accumulators.iter_mut().zip(group.accumulators) {
                acc.merge(other)?;
            }
        }
        Ok(())
    }

    /// Whether a numeric sum of some group is near the limits of its type
    /// (see [`Accumulator::near_numeric_limits`]).
    pub(crate) fn near_numeric_limits(&self) -> bool {
        self.groups.iter().any(|g| g.accumulators.iter().any(Accumulator::near_numeric_limits))
    }

    /// The output rows: each group's key, then its aggregates.
    pub(crate) fn finish(self) -> Result<Vec<Row>> {
        let mut out = Vec::with_capacity(self.groups.len());
        for group in self.groups {
            let mut row = group.key;
            for (call, acc) in self.aggregates.iter().zip(group.accumulators) {
                row.push(acc.finish(&call.order_by, call.args.len())?);
            }
            out.push(row);
        }
        Ok(out)
    }
}

/// Hash aggregation (one group without GROUP BY).
pub(crate) struct AggregateOp<'p> {
    input: Option<Box<dyn Operator + 'p>>,
    group_by: &'p [Expr],
    aggregates: &'p [AggregateCall],
    output: std::vec::IntoIter<Row>,
}

impl<'p> AggregateOp<'p> {
    pub(crate) fn new(
        input: Box<dyn Operator + 'p>,
        group_by: &'p [Expr],
        aggregates: &'p [AggregateCall],
    ) -> AggregateOp<'p> {
        AggregateOp { input: Some(input), group_by, aggregates, output: Vec::new().into_iter() }
    }
}

impl Operator for AggregateOp<'_> {
    fn next(&mut self, cx: &mut ExecCtx<'_>) -> Result<Option<Vec<Row>>> {
        if let Some(mut input) = self.input.take() {
            let mut partial = Partial::new(self.group_by, self.aggregates);
            partial.consume(input.as_mut(), cx)?;
            self.output = partial.finish()?.into_iter();
        }
        let batch: Vec<Row> = self.output.by_ref().take(super::BATCH).collect();
        Ok(if batch.is_empty() { None } else { Some(batch) })
    }
}
