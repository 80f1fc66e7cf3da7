//! The nesting limit of a parsed statement.
//!
//! The parser bounds the nesting it builds by recursion (parentheses,
//! function calls, subqueries), but it builds operator chains (`a + b + c
//! …`, `x::t::t …`, `… IS NULL IS NULL`) and set operations (`SELECT …
//! UNION SELECT …`) in loops: a chain of n operators is a left-deep tree n
//! levels deep. Cloning, dropping, binding or evaluating a tree recurses
//! once per level, so a long enough chain (a megabyte of `1+1+…`) would
//! overflow the thread's stack and abort the whole server.
//!
//! [`check`] refuses a statement deeper than [`MAX_DEPTH`] with SQLSTATE
//! 54001, as PostgreSQL refuses one that exceeds its stack depth limit,
//! and takes the refused tree apart without recursing along its chains.
//! Statements shorter than the limit cannot be that deep and skip the
//! walk.

use std::ops::ControlFlow;

use sqlparser::ast::{Expr, Ident, Query, SetExpr, Statement, Values, Visit, VisitMut, Visitor, VisitorMut};

use crate::bind::MAX_QUERY_DEPTH;
use crate::error::{Result, SqlError};

/// The deepest expression or set-operation nesting a statement may have.
/// Generous for hand-written and generated SQL (a 10,000-term `OR` chain
/// passes); its recursive processing fits the server's worker stacks.
pub const MAX_DEPTH: usize = 10_000;

/// The stack the walks of a long statement get.
const WALK_STACK: usize = 64 << 20;

/// Chains longer than this are taken apart piecewise when dropping a
/// refused statement.
const SHORT_CHAIN: usize = 64;

/// Refuses statements nested deeper than [`MAX_DEPTH`], or with queries
/// nested deeper than [`MAX_QUERY_DEPTH`]; `sql` is their text (a statement
/// can be no deeper than its text is long, and has no more query levels
/// than query keywords, so most texts are not walked).
pub fn check(statements: Vec<Statement>, sql: &str) -> Result<Vec<Statement>> {
    // A query keyword is at least five bytes, so a short text cannot hold
    // more than MAX_QUERY_DEPTH of them and skips the count.
    if sql.len() <= MAX_DEPTH && (sql.len() <= 5 * MAX_QUERY_DEPTH || query_keywords(sql) <= MAX_QUERY_DEPTH) {
        return Ok(statements);
    }
    // The walks recurse up to MAX_DEPTH levels: give them a stack of their
    // own (only long statements get here).
    let refused = stacker::maybe_grow(WALK_STACK, WALK_STACK, || {
        let mut depth = Depth { current: 0, next_in_chain: None, query_levels: Vec::new(), queries: 0 };
        statements.visit(&mut depth).is_break()
    });
    if !refused {
        return Ok(statements);
    }
    stacker::maybe_grow(WALK_STACK, WALK_STACK, move || {
        let mut statements = statements;
        let _ = VisitMut::visit(&mut statements, &mut Teardown);
        drop(statements);
    });
    Err(too_deep())
}

/// The error for a statement past [`MAX_DEPTH`] or [`MAX_QUERY_DEPTH`]
/// (SQLSTATE 54001), worded once for the parse-time walk and the binder.
pub(crate) fn too_deep() -> SqlError {
    SqlError::TooComplex(format!(
        "stack depth limit exceeded: the statement nests deeper than {MAX_DEPTH} levels or its queries deeper than \
         {MAX_QUERY_DEPTH}"
    ))
}

/// How many words in `sql` could start a query level (`SELECT`, `VALUES`,
/// `TABLE`, case-insensitive): a bound on its query nesting.
fn query_keywords(sql: &str) -> usize {
    let bytes = sql.as_bytes();
    (0..bytes.len())
        .filter(|&i| {
            let word = |w: &[u8]| bytes.get(i..i + w.len()).is_some_and(|b| b.eq_ignore_ascii_case(w));
            word(b"select") || word(b"values") || word(b"table")
        })
        .count()
}

/// The child an operator chain continues through (the left operand of
/// the operators the parser chains in a loop), as `chain_child` (shared)
/// and `chain_child_mut` (mutable) — one list of variants for both.
macro_rules! chain_child_fn {
    ($name:ident, $($ref:tt)+) => {
        fn $name(e: $($ref)+ Expr) -> Option<$($ref)+ Expr> {
            match e {
                Expr::BinaryOp { left: child, .. }
                | Expr::AnyOp { left: child, .. }
                | Expr::AllOp { left: child, .. }
                | Expr::IsDistinctFrom(child, _)
                | Expr::IsNotDistinctFrom(child, _)
                | Expr::IsNull(child)
                | Expr::IsNotNull(child)
                | Expr::IsTrue(child)
                | Expr::IsNotTrue(child)
                | Expr::IsFalse(child)
                | Expr::IsNotFalse(child)
                | Expr::IsUnknown(child)
                | Expr::IsNotUnknown(child)
                | Expr::Cast { expr: child, .. }
                | Expr::Collate { expr: child, .. }
                | Expr::AtTimeZone { timestamp: child, .. }
                | Expr::Like { expr: child, .. }
                | Expr::ILike { expr: child, .. }
                | Expr::SimilarTo { expr: child, .. }
                | Expr::RLike { expr: child, .. }
                | Expr::Between { expr: child, .. }
                | Expr::InList { expr: child, .. }
                | Expr::InSubquery { expr: child, .. }
                | Expr::InUnnest { expr: child, .. }
                | Expr::JsonAccess { value: child, .. }
                | Expr::UnaryOp { expr: child, .. }
                | Expr::Nested(child) => Some(child),
                _ => None,
            }
        }
    };
}

chain_child_fn!(chain_child, &);
chain_child_fn!(chain_child_mut, &mut);

/// How many levels an operator chain runs down from `e` (1 for a node
/// that continues no chain), counted without recursion.
fn chain_length(mut e: &Expr) -> usize {
    let mut n = 1;
    while let Some(child) = chain_child(e) {
        n += 1;
        e = child;
    }
    n
}

/// How many set operations are chained at the top of a query body.
fn set_chain_length(mut body: &SetExpr) -> usize {
    let mut n = 1;
    while let SetExpr::SetOperation { left, .. } = body {
        n += 1;
        body = left;
    }
    n
}

/// Finds whether any expression sits deeper than [`MAX_DEPTH`]. Each chain
/// is measured once, iteratively, when the walk enters it, so the walk
/// stops before it recurses past the limit.
struct Depth {
    /// Levels of the walk above the current node.
    current: usize,
    /// The next link of the chain being walked (already measured).
    next_in_chain: Option<*const Expr>,
    /// Levels each open query added (its set-operation chain).
    query_levels: Vec<usize>,
    /// Queries open around the current node.
    queries: usize,
}

impl Visitor for Depth {
    type Break = ();

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        let levels = set_chain_length(&query.body);
        self.current += levels;
        self.query_levels.push(levels);
        self.queries += 1;
        if self.current > MAX_DEPTH || self.queries > MAX_QUERY_DEPTH {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }

    fn post_visit_query(&mut self, _query: &Query) -> ControlFlow<()> {
        self.queries -= 1;
        self.current -= self.query_levels.pop().unwrap_or(0);
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        self.current += 1;
        let continues_chain = self.next_in_chain.is_some_and(|p| std::ptr::eq(p, expr));
        if !continues_chain && self.current + chain_length(expr) - 1 > MAX_DEPTH {
            return ControlFlow::Break(());
        }
        self.next_in_chain = chain_child(expr).map(|c| c as *const Expr);
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, _expr: &Expr) -> ControlFlow<()> {
        self.current -= 1;
        ControlFlow::Continue(())
    }
}

/// Takes long chains out of a tree and drops them link by link, so that
/// dropping what is left recurses only over short distances.
struct Teardown;

impl VisitorMut for Teardown {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        if set_chain_length(&query.body) > SHORT_CHAIN {
            drop_set_chain(std::mem::replace(&mut *query.body, empty_set()));
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if chain_length(expr) > SHORT_CHAIN {
            drop_chain(std::mem::replace(expr, placeholder()));
        }
        ControlFlow::Continue(())
    }
}

fn placeholder() -> Expr {
    Expr::Identifier(Ident::new(""))
}

fn empty_set() -> SetExpr {
    SetExpr::Values(Values { explicit_row: false, value_keyword: false, rows: Vec::new() })
}

/// Drops an operator chain one link at a time (each link's other operands
/// go through [`Teardown`] first).
fn drop_chain(expr: Expr) {
    let mut links = vec![expr];
    while let Some(mut link) = links.pop() {
        if let Some(child) = chain_child_mut(&mut link) {
            links.push(std::mem::replace(child, placeholder()));
        }
        let _ = VisitMut::visit(&mut link, &mut Teardown);
    }
}

/// Drops a chain of set operations one link at a time.
fn drop_set_chain(body: SetExpr) {
    let mut links = vec![body];
    while let Some(mut link) = links.pop() {
        if let SetExpr::SetOperation { left, .. } = &mut link {
            links.push(std::mem::replace(&mut **left, empty_set()));
        }
        let _ = VisitMut::visit(&mut link, &mut Teardown);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(op: &str, n: usize) -> String {
        format!("SELECT {}", vec!["1"; n].join(op))
    }

    #[test]
    fn chains_up_to_the_limit_pass_and_longer_ones_are_refused() {
        let ok = chain("+", MAX_DEPTH - 10);
        assert!(crate::parse(&ok).is_ok());
        let nested = MAX_QUERY_DEPTH - 1;
        assert!(crate::parse(&format!("SELECT {}1{}", "(SELECT ".repeat(nested), ")".repeat(nested))).is_ok());
        for sql in [
            chain("+", MAX_DEPTH + 10),
            chain(" OR ", 200_000),
            format!("SELECT 1 {}", "::int".repeat(MAX_DEPTH + 10)),
            format!("SELECT 1 {}", "IS NULL ".repeat(MAX_DEPTH + 10)),
            format!("SELECT abs({})", vec!["1"; 100_000].join("-")),
            format!("SELECT 1 + ({})", vec!["1"; 100_000].join("*")),
            vec!["SELECT 1"; MAX_DEPTH + 10].join(" UNION ALL "),
            format!("SELECT * FROM ({}) s", vec!["SELECT 1"; 50_000].join(" UNION ")),
            format!("SELECT {}1{}", "(SELECT ".repeat(MAX_QUERY_DEPTH), ")".repeat(MAX_QUERY_DEPTH)),
            format!("SELECT * FROM {}t{}", "(SELECT * FROM ".repeat(200), ") s".repeat(200)),
        ] {
            let err = match crate::parse(&sql) {
                Ok(_) => panic!("{} passed", &sql[..40]),
                Err(e) => e,
            };
            assert_eq!(err.sqlstate(), "54001", "{err}");
        }
    }

    #[test]
    fn wide_statements_are_not_deep() {
        let rows = vec!["(1, 'a', 2.5)"; 50_000].join(", ");
        assert!(crate::parse(&format!("INSERT INTO t VALUES {rows}")).is_ok());
        let list = (0..50_000).map(|i| i.to_string()).collect::<Vec<_>>().join(", ");
        assert!(crate::parse(&format!("SELECT 1 WHERE 2 IN ({list})")).is_ok());
    }
}
