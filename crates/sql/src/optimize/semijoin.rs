//! Correlated `EXISTS` / `NOT EXISTS` as semi and anti joins.
//!
//! `WHERE EXISTS (SELECT … FROM t WHERE t.a = o.x AND …)` runs its
//! subquery once per row of the outer query. When the subquery reads one
//! table and reaches the outer row only through its WHERE terms, at least
//! one of them an equality between the two, the term becomes a semi join
//! of the outer rows with that table (`NOT EXISTS`: an anti join), planned
//! like any join: a hash table of the table's rows built once, or one
//! index lookup per outer row when the outer side is small. The equalities
//! are the join keys; the other correlated terms its condition. What the
//! subquery selects, its DISTINCT and a LIMIT of at least one row do not
//! change whether a row exists, and are dropped.

use std::ops::Bound;

use memdb_engine::Table;

use crate::expr::{BinOp, Expr, SubqueryKind};
use crate::plan::{Access, JoinKind, Plan};

/// A semi or anti join standing for a WHERE term.
pub(super) struct SemiJoin {
    kind: JoinKind,
    /// The subquery's table, with its terms that read only it.
    right: Plan,
    /// The correlated terms, over the outer row (outer references) and the
    /// table's row (columns).
    terms: Vec<Expr>,
}

/// Splits WHERE terms into the ones that become semi or anti joins and the
/// others.
pub(super) fn extract(terms: Vec<Expr>) -> (Vec<SemiJoin>, Vec<Expr>) {
    let mut joins = Vec::new();
    let mut rest = Vec::new();
    for term in terms {
        match exists_join(&term) {
            Some(join) => joins.push(join),
            None => rest.push(term),
        }
    }
    (joins, rest)
}

/// Joins `input` with each semi or anti join, in order.
pub(super) fn apply(input: Plan, joins: Vec<SemiJoin>) -> Plan {
    joins.into_iter().fold(input, |left, join| {
        let width = left.width();
        let terms = join.terms.into_iter().map(|t| t.over_joined(width)).collect();
        super::join(left, join.right, join.kind, terms)
    })
}

/// The join a term stands for, when it is a correlated `[NOT] EXISTS` that
/// fits (see the module docs).
fn exists_join(term: &Expr) -> Option<SemiJoin> {
    let (sub, kind) = match term {
        Expr::Subquery(s) => (s, JoinKind::Semi),
        Expr::Not(inner) => match inner.as_ref() {
            Expr::Subquery(s) => (s, JoinKind::Anti),
            _ => return None,
        },
        _ => return None,
    };
    if sub.kind != SubqueryKind::Exists || !sub.correlated {
        return None;
    }
    let Plan::Scan { table, alias, access, filter, lock: None, row_id: false, .. } = rows_tested(&sub.plan)? else {
        return None;
    };
    // The subquery was optimized on its own: terms its index access
    // guarantees were dropped from its filter, and come back from the
    // access.
    let mut terms = access_terms(table, access)?;
    terms.extend(filter.clone().map(Expr::conjuncts).unwrap_or_default());
    let mut correlated = Vec::new();
    let mut local = Vec::new();
    for t in terms {
        let mut outer = false;
        let mut fits = true;
        t.walk(&mut |x| match x {
            Expr::Outer { depth: 1, .. } => outer = true,
            Expr::Outer { .. } | Expr::Subquery(_) => fits = false,
            Expr::Call(f, _) if f.is_volatile() => fits = false,
            _ => {}
        });
        if !fits {
            return None;
        }
        if outer { correlated.push(t) } else { local.push(t) }
    }
    if !correlated.iter().any(is_key) {
        return None;
    }
    let right = super::scan(table.clone(), alias.clone(), Access::Full, local, None, false);
    Some(SemiJoin { kind, right, terms: correlated })
}

/// The terms an index access stands for: `column = key` for a lookup of
/// one key (or a range from a key to itself), `column >=/>/<=/< bound`
/// for a range over one column. `None` for ranges over several columns,
/// which this does not take apart.
fn access_terms(table: &Table, access: &Access) -> Option<Vec<Expr>> {
    let schema = table.schema();
    let live: Vec<usize> = schema.live_columns().map(|(p, _)| p).collect();
    let columns = |index: &str| -> Option<Vec<usize>> {
        let index = schema.index(index)?;
        index.columns.iter().map(|p| live.iter().position(|l| l == p)).collect()
    };
    let term = |op: BinOp, column: usize, value: &Expr| {
        Expr::Binary(op, Box::new(Expr::Column(column)), Box::new(value.clone()))
    };
    let equal = |index: &str, key: &[Expr]| -> Option<Vec<Expr>> {
        let columns = columns(index)?;
        Some(key.iter().zip(columns).map(|(v, c)| term(BinOp::Eq, c, v)).collect())
    };
    match access {
        Access::Full => Some(Vec::new()),
        Access::IndexPoints { index, keys } => match keys.as_slice() {
            [key] => equal(index, key),
            _ => None,
        },
        Access::IndexRange { index, lower: Bound::Included(lo), upper: Bound::Included(hi), .. } if lo == hi => {
            equal(index, lo)
        }
        Access::IndexRange { index, lower, upper, .. } => {
            let column = *columns(index)?.first()?;
            let mut terms = Vec::new();
            for (bound, inclusive, exclusive) in [(lower, BinOp::GtEq, BinOp::Gt), (upper, BinOp::LtEq, BinOp::Lt)] {
                match bound {
                    Bound::Unbounded => {}
                    Bound::Included(key) if key.len() == 1 => terms.push(term(inclusive, column, &key[0])),
                    Bound::Excluded(key) if key.len() == 1 => terms.push(term(exclusive, column, &key[0])),
                    _ => return None,
                }
            }
            Some(terms)
        }
    }
}

/// What decides whether an `EXISTS` subquery has rows: its plan under the
/// projection, DISTINCT and LIMIT (of at least one row, no OFFSET) above.
fn rows_tested(plan: &Plan) -> Option<&Plan> {
    match plan {
        Plan::Project { input, .. } | Plan::Distinct { input, on: None } => rows_tested(input),
        Plan::Limit { input, limit: Some(Expr::Literal(n)), offset: None } if n.as_i64().is_some_and(|n| n >= 1) => {
            rows_tested(input)
        }
        other => Some(other),
    }
}

/// Whether a correlated term is an equality of an expression of the
/// table's row with one of the outer row (a join key).
fn is_key(term: &Expr) -> bool {
    let Expr::Binary(BinOp::Eq, a, b) = term else { return false };
    let outer_only = |e: &Expr| e.columns().is_empty() && e.references_outer();
    let local_only = |e: &Expr| !e.columns().is_empty() && !e.references_outer();
    (outer_only(a) && local_only(b)) || (local_only(a) && outer_only(b))
}
