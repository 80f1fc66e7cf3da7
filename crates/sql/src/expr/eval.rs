//! Row-at-a-time evaluation of bound expressions.

use std::borrow::Cow;

use memdb_engine::{Array, Value};

use super::arith::{arith, compare_values, negate};
use super::func::{Func, call, json_op};
use super::like::like;
use super::{BinOp, Expr, Subquery, SubqueryKind};
use crate::error::{Result, SqlError};
use crate::exec::ExecCtx;

/// A value as a truth value: `None` is unknown (NULL).
pub(crate) fn truth(v: &Value) -> Result<Option<bool>> {
    match v {
        Value::Bool(b) => Ok(Some(*b)),
        Value::Null => Ok(None),
        other => Err(SqlError::DatatypeMismatch(format!(
            "argument of boolean expression must be type boolean, not type {}",
            other.data_type().map_or_else(|| "unknown".into(), |t| t.to_string())
        ))),
    }
}

impl Expr {
    /// Evaluates the expression over `row`.
    pub fn eval(&self, row: &[Value], cx: &mut ExecCtx<'_>) -> Result<Value> {
        match self {
            Expr::Literal(v) => Ok(v.clone()),
            Expr::Column(i) => Ok(row.get(*i).cloned().unwrap_or(Value::Null)),
            // An operator or a one-argument call on columns and constants
            // (`k % 100`, `length(c)`) recurses no deeper: no stack check.
            Expr::Binary(op, a, b) if a.is_leaf() && b.is_leaf() => binary(*op, a.leaf(row), b.leaf(row)),
            Expr::Call(f, args) if *f != Func::Coalesce && matches!(args.as_slice(), [a] if a.is_leaf()) => {
                call(*f, std::slice::from_ref(args[0].leaf(row)), cx)
            }
            // A cast of a column that already has the type (an index
            // join's probe key): the value itself.
            Expr::Cast(e, ty) if e.is_leaf() && already_of_type(e.leaf(row), ty) => Ok(e.leaf(row).clone()),
            // Deep trees recurse deeply: grow the stack on demand.
            _ => stacker::maybe_grow(128 * 1024, 2 * 1024 * 1024, || self.eval_inner(row, cx)),
        }
    }

    /// Evaluates the expression over `row`, borrowing instead of copying
    /// when it is a bare column or a constant: operators and functions read
    /// their operands in place (no text copied to take its length).
    pub fn eval_ref<'a>(&'a self, row: &'a [Value], cx: &mut ExecCtx<'_>) -> Result<Cow<'a, Value>> {
        match self {
            Expr::Literal(v) => Ok(Cow::Borrowed(v)),
            Expr::Column(i) => Ok(row.get(*i).map_or(Cow::Owned(Value::Null), Cow::Borrowed)),
            _ => self.eval(row, cx).map(Cow::Owned),
        }
    }

    /// Whether the expression is a column or a constant (see [`Expr::leaf`]).
    fn is_leaf(&self) -> bool {
        matches!(self, Expr::Literal(_) | Expr::Column(_))
    }

    /// A column's or constant's value in place (NULL for anything else,
    /// which callers rule out with [`Expr::is_leaf`]).
    fn leaf<'a>(&'a self, row: &'a [Value]) -> &'a Value {
        match self {
            Expr::Literal(v) => v,
            Expr::Column(i) => row.get(*i).unwrap_or(&Value::Null),
            _ => &Value::Null,
        }
    }

    fn eval_inner(&self, row: &[Value], cx: &mut ExecCtx<'_>) -> Result<Value> {
        Ok(match self {
            Expr::Literal(v) => v.clone(),
            Expr::Column(i) => row.get(*i).cloned().unwrap_or(Value::Null),
            Expr::Outer { depth, index } => cx.outer_value(*depth, *index),
            Expr::Param(i) => cx.param(*i)?,
            Expr::Not(e) => match truth(&*e.eval_ref(row, cx)?)? {
                Some(b) => Value::Bool(!b),
                None => Value::Null,
            },
            Expr::And(a, b) => match truth(&a.eval(row, cx)?)? {
                Some(false) => Value::Bool(false),
                left => match (left, truth(&b.eval(row, cx)?)?) {
                    (_, Some(false)) => Value::Bool(false),
                    (Some(true), Some(true)) => Value::Bool(true),
                    _ => Value::Null,
                },
            },
            Expr::Or(a, b) => match truth(&a.eval(row, cx)?)? {
                Some(true) => Value::Bool(true),
                left => match (left, truth(&b.eval(row, cx)?)?) {
                    (_, Some(true)) => Value::Bool(true),
                    (Some(false), Some(false)) => Value::Bool(false),
                    _ => Value::Null,
                },
            },
            Expr::Binary(op, a, b) => {
                let (x, y) = (a.eval_ref(row, cx)?, b.eval_ref(row, cx)?);
                binary(*op, &x, &y)?
            }
            Expr::Neg(e) => negate(&*e.eval_ref(row, cx)?)?,
            Expr::IsNull(e) => Value::Bool(e.eval_ref(row, cx)?.is_null()),
            Expr::IsBool(e, want) => Value::Bool(truth(&*e.eval_ref(row, cx)?)? == Some(*want)),
            Expr::IsDistinct(a, b) => {
                let (x, y) = (a.eval_ref(row, cx)?, b.eval_ref(row, cx)?);
                Value::Bool(match (x.is_null(), y.is_null()) {
                    (true, true) => false,
                    (true, false) | (false, true) => true,
                    _ => x.sql_eq(&y) != Some(true),
                })
            }
            Expr::InList(e, list) => {
                let v = e.eval_ref(row, cx)?;
                if v.is_null() {
                    return Ok(Value::Null);
                }
                let mut saw_null = false;
                for item in list {
                    match v.sql_eq(&*item.eval_ref(row, cx)?) {
                        Some(true) => return Ok(Value::Bool(true)),
                        None => saw_null = true,
                        Some(false) => {}
                    }
                }
                if saw_null { Value::Null } else { Value::Bool(false) }
            }
            Expr::Like { expr, pattern, case_insensitive } => {
                let (s, p) = (expr.eval_ref(row, cx)?, pattern.eval_ref(row, cx)?);
                match (&*s, &*p) {
                    (Value::Null, _) | (_, Value::Null) => Value::Null,
                    (s, p) => Value::Bool(like(&text(s), &text(p), *case_insensitive)),
                }
            }
            Expr::Case { operand, whens, otherwise } => {
                let subject = operand.as_ref().map(|o| o.eval_ref(row, cx)).transpose()?;
                for (when, then) in whens {
                    let w = when.eval_ref(row, cx)?;
                    let hit = match &subject {
                        Some(s) => s.sql_eq(&w) == Some(true),
                        None => truth(&w)? == Some(true),
                    };
                    if hit {
                        return then.eval(row, cx);
                    }
                }
                match otherwise {
                    Some(e) => e.eval(row, cx)?,
                    None => Value::Null,
                }
            }
            Expr::Cast(e, ty) => {
                let v = e.eval(row, cx)?;
                if already_of_type(&v, ty) { v } else { v.cast(ty)? }
            }
            Expr::Call(Func::Coalesce, args) => {
                for a in args {
                    let v = a.eval(row, cx)?;
                    if !v.is_null() {
                        return Ok(v);
                    }
                }
                Value::Null
            }
            Expr::Call(f, args) => match args.as_slice() {
                // One argument (most calls): passed in place, no vector built.
                [a] => call(*f, std::slice::from_ref(&*a.eval_ref(row, cx)?), cx)?,
                args => {
                    let mut values = Vec::with_capacity(args.len());
                    for a in args {
                        values.push(a.eval(row, cx)?);
                    }
                    call(*f, &values, cx)?
                }
            },
            Expr::Array(items, ty) => {
                let mut elements = Vec::with_capacity(items.len());
                for i in items {
                    elements.push(i.eval(row, cx)?);
                }
                Value::Array(Box::new(Array { element_type: ty.clone(), elements }))
            }
            Expr::Subquery(sub) => subquery(sub, row, cx)?,
            Expr::Aggregate(_) => return Err(SqlError::Grouping("aggregate functions are not allowed here".into())),
            Expr::Window(_) => return Err(SqlError::Windowing("window functions are not allowed here".into())),
            Expr::SetFunction(_) => return Err(unsupported_srf()),
        })
    }

    /// Evaluates a predicate: only `true` passes (NULL filters the row out).
    pub fn eval_predicate(&self, row: &[Value], cx: &mut ExecCtx<'_>) -> Result<bool> {
        Ok(truth(&*self.eval_ref(row, cx)?)? == Some(true))
    }
}

/// Whether a value is already of a type with no modifiers to enforce (the
/// cast would be a copy).
fn already_of_type(v: &Value, ty: &memdb_engine::DataType) -> bool {
    use memdb_engine::DataType as T;
    matches!(
        (v, ty),
        (Value::Null, _)
            | (Value::Bool(_), T::Bool)
            | (Value::Int2(_), T::Int2)
            | (Value::Int4(_), T::Int4)
            | (Value::Int8(_), T::Int8)
            | (Value::Float4(_), T::Float4)
            | (Value::Float8(_), T::Float8)
            | (Value::Numeric(_), T::Numeric(None))
            | (Value::Text(_), T::Text)
            | (Value::Date(_), T::Date)
            | (Value::Timestamp(_), T::Timestamp)
            | (Value::TimestampTz(_), T::TimestampTz)
    )
}

fn text(v: &Value) -> Cow<'_, str> {
    match v {
        Value::Text(s) => Cow::Borrowed(s),
        other => Cow::Owned(other.to_string()),
    }
}

/// Applies a binary operator to evaluated operands.
pub(crate) fn binary(op: BinOp, x: &Value, y: &Value) -> Result<Value> {
    Ok(match op {
        _ if op.is_comparison() => compare_values(op, x, y).map_or(Value::Null, Value::Bool),
        BinOp::JsonGet | BinOp::JsonGetText | BinOp::JsonPath | BinOp::JsonPathText | BinOp::JsonHasKey => {
            json_op(op, x, y)?
        }
        BinOp::Contains | BinOp::ContainedBy => match (x, y) {
            (Value::Null, _) | (_, Value::Null) => Value::Null,
            (Value::Array(a), Value::Array(b)) => {
                let (outer, inner) = if op == BinOp::Contains { (a, b) } else { (b, a) };
                Value::Bool(inner.elements.iter().all(|e| outer.elements.iter().any(|o| o.sql_eq(e) == Some(true))))
            }
            _ => json_op(op, x, y)?,
        },
        BinOp::RegexMatch { case_insensitive, negated } => match (x, y) {
            (Value::Null, _) | (_, Value::Null) => Value::Null,
            (s, p) => Value::Bool(crate::expr::regexfn::is_match(&text(s), &text(p), case_insensitive)? != negated),
        },
        _ => arith(op, x, y)?,
    })
}

/// Runs a subquery for the current row and turns its rows into a value.
fn subquery(sub: &Subquery, row: &[Value], cx: &mut ExecCtx<'_>) -> Result<Value> {
    let probe = match &sub.kind {
        SubqueryKind::In(e) | SubqueryKind::Quantified { expr: e, .. } => Some(e.eval(row, cx)?),
        _ => None,
    };
    let rows = cx.subquery_rows(sub, row)?;
    Ok(match &sub.kind {
        SubqueryKind::Scalar => match rows.len() {
            0 => Value::Null,
            1 => rows[0].first().cloned().unwrap_or(Value::Null),
            _ => return Err(SqlError::CardinalityViolation),
        },
        SubqueryKind::Exists => Value::Bool(!rows.is_empty()),
        SubqueryKind::Array(ty) => Value::Array(Box::new(Array {
            element_type: ty.clone(),
            elements: rows.iter().map(|r| r.first().cloned().unwrap_or(Value::Null)).collect(),
        })),
        SubqueryKind::In(_) => {
            let probe = probe.unwrap_or(Value::Null);
            match cx.in_set(sub, &rows).and_then(|set| set.contains(&probe)) {
                Some(v) => v,
                None => quantified(probe, BinOp::Eq, false, &rows),
            }
        }
        SubqueryKind::Quantified { op, all, .. } => quantified(probe.unwrap_or(Value::Null), *op, *all, &rows),
    })
}

/// `v op ANY (rows)` / `v op ALL (rows)` with SQL's NULL rules.
fn quantified(v: Value, op: BinOp, all: bool, rows: &[Vec<Value>]) -> Value {
    if rows.is_empty() {
        return Value::Bool(all);
    }
    if v.is_null() {
        return Value::Null;
    }
    let mut saw_null = false;
    for r in rows {
        let item = r.first().unwrap_or(&Value::Null);
        match compare_values(op, &v, item) {
            Some(true) if !all => return Value::Bool(true),
            Some(false) if all => return Value::Bool(false),
            None => saw_null = true,
            _ => {}
        }
    }
    if saw_null { Value::Null } else { Value::Bool(all) }
}

/// A set-returning function where none may be (0A000).
fn unsupported_srf() -> SqlError {
    crate::error::data_exception("0A000", "set-returning functions are not allowed here")
}
