//! Filter predicates prepared for the row loop: the common terms
//! `column <op> constant` compare in place (no value copies, no tree walk);
//! other terms fall back to expression evaluation.

use memdb_engine::Value;

use super::ExecCtx;
use crate::error::Result;
use crate::expr::{BinOp, Expr, compare_values};

enum Term<'p> {
    /// `row[column] op constant`
    Compare { column: usize, op: BinOp, constant: &'p Value },
    /// `row[column] IS [NOT] NULL`
    IsNull { column: usize, negated: bool },
    /// Anything else.
    General(&'p Expr),
}

/// A conjunction of terms, cheapest first as written.
pub(crate) struct Predicate<'p> {
    terms: Vec<Term<'p>>,
}

fn flatten<'p>(e: &'p Expr, out: &mut Vec<&'p Expr>) {
    match e {
        Expr::And(a, b) => {
            flatten(a, out);
            flatten(b, out);
        }
        other => out.push(other),
    }
}

impl<'p> Predicate<'p> {
    /// Prepares a predicate.
    pub(crate) fn new(e: &'p Expr) -> Predicate<'p> {
        let mut conjuncts = Vec::new();
        flatten(e, &mut conjuncts);
        let terms = conjuncts
            .into_iter()
            .map(|t| match t {
                Expr::Binary(op, a, b) if op.is_comparison() => match (a.as_ref(), b.as_ref()) {
                    (Expr::Column(c), Expr::Literal(v)) => Term::Compare { column: *c, op: *op, constant: v },
                    (Expr::Literal(v), Expr::Column(c)) => Term::Compare { column: *c, op: op.commuted(), constant: v },
                    _ => Term::General(t),
                },
                Expr::IsNull(inner) => match inner.as_ref() {
                    Expr::Column(c) => Term::IsNull { column: *c, negated: false },
                    _ => Term::General(t),
                },
                Expr::Not(inner) => match inner.as_ref() {
                    Expr::IsNull(x) => match x.as_ref() {
                        Expr::Column(c) => Term::IsNull { column: *c, negated: true },
                        _ => Term::General(t),
                    },
                    _ => Term::General(t),
                },
                other => Term::General(other),
            })
            .collect();
        Predicate { terms }
    }

    /// Whether the row passes (NULL does not).
    pub(crate) fn eval(&self, row: &[Value], cx: &mut ExecCtx<'_>) -> Result<bool> {
        for term in &self.terms {
            let pass = match term {
                Term::Compare { column, op, constant } => {
                    let v = row.get(*column).unwrap_or(&Value::Null);
                    compare_values(*op, v, constant) == Some(true)
                }
                Term::IsNull { column, negated } => row.get(*column).is_none_or(Value::is_null) != *negated,
                Term::General(e) => e.eval_predicate(row, cx)?,
            };
            if !pass {
                return Ok(false);
            }
        }
        Ok(true)
    }
}
