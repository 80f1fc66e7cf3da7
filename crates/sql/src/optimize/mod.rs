//! The optimizer: rewrites a bound plan into a cheaper equivalent.
//!
//! * predicate pushdown: WHERE and inner-join ON terms move to the lowest
//!   node that has their columns (into scans as filters, into joins as
//!   conditions);
//! * join selection: an equality between the two sides makes a hash join
//!   (built on the smaller side), otherwise a nested loop;
//! * join ordering (`reorder`): three or more inner joins are joined in
//!   the order the row estimates favour;
//! * index selection: a scan's filter terms `col = v`, ranges and IN lists
//!   on indexed columns become index point lookups or range scans (the
//!   filter stays as a re-check);
//! * top-k: `ORDER BY … LIMIT n` keeps only n rows while sorting;
//! * ORDER BY through an index (`order`): no sort when an index scan
//!   delivers the rows in order.
//!
//! Terms with correlated subqueries stay where the binder put them: their
//! outer references are positions in that node's row.

mod implied;
mod order;
mod reorder;
mod semijoin;

use std::ops::Bound;

use memdb_engine::{DataType, IndexKind, Table, Value};

use crate::bind::types::widens_exactly;
use crate::expr::{BinOp, Expr};
use crate::plan::{Access, JoinKind, Plan};

/// Optimizes a plan.
pub(crate) fn optimize(plan: Plan) -> Plan {
    let plan = rewrite(plan);
    prune(plan, None)
}

/// Which output columns of a node its parent reads (`None`: all).
type Needed = Option<Vec<bool>>;

fn mark(needed: &mut [bool], e: &Expr) {
    for c in e.columns() {
        if let Some(n) = needed.get_mut(c) {
            *n = true;
        }
    }
}

/// Whether an expression holds a correlated subquery (whose outer
/// references may read any column of the row it is evaluated on).
fn has_correlated(e: &Expr) -> bool {
    !movable(e)
}

fn all(width: usize) -> Vec<bool> {
    vec![true; width]
}

/// Column pruning: tells each scan which columns the plan above it reads,
/// so it decodes only those.
fn prune(plan: Plan, needed: Needed) -> Plan {
    let width = plan.width();
    let mut need = needed.unwrap_or_else(|| all(width));
    need.resize(width, false);
    match plan {
        Plan::Scan { table, alias, access, filter, lock, row_id, .. } => {
            let filter = implied::without_implied_terms(&table, &access, filter);
            if let Some(f) = &filter {
                if has_correlated(f) {
                    need = all(width);
                }
                mark(&mut need, f);
            }
            let ncols = table.columns().len();
            let columns: Vec<usize> = (0..ncols).filter(|&c| need.get(c).copied().unwrap_or(true)).collect();
            let columns = if columns.len() == ncols { None } else { Some(columns) };
            Plan::Scan { table, alias, access, filter, lock, row_id, columns }
        }
        Plan::Filter { input, predicate } => {
            let mut child = need;
            child.resize(input.width(), false);
            if has_correlated(&predicate) {
                child = all(input.width());
            }
            mark(&mut child, &predicate);
            Plan::Filter { input: Box::new(prune(*input, Some(child))), predicate }
        }
        Plan::Project { input, mut exprs } => {
            // An output nobody above reads that only copies a column is
            // made NULL, so the column need not be produced below (the
            // permutation put over a join that builds on its left input).
            for (e, needed) in exprs.iter_mut().zip(&need) {
                if !needed && matches!(e, Expr::Column(_)) {
                    *e = Expr::Literal(Value::Null);
                }
            }
            let mut child = vec![false; input.width()];
            for e in &exprs {
                if has_correlated(e) {
                    child = all(input.width());
                }
                mark(&mut child, e);
            }
            Plan::Project { input: Box::new(prune(*input, Some(child))), exprs }
        }
        Plan::Sort { input, keys, limit } => {
            let mut child = need;
            child.resize(input.width(), false);
            for k in &keys {
                mark(&mut child, &k.expr);
            }
            Plan::Sort { input: Box::new(prune(*input, Some(child))), keys, limit }
        }
        Plan::Limit { input, limit, offset } => {
            Plan::Limit { input: Box::new(prune(*input, Some(need))), limit, offset }
        }
        Plan::Distinct { input, on: None } => Plan::Distinct { input: Box::new(prune(*input, None)), on: None },
        Plan::Distinct { input, on: Some(on) } => {
            let mut child = need;
            for e in &on {
                mark(&mut child, e);
            }
            Plan::Distinct { input: Box::new(prune(*input, Some(child))), on: Some(on) }
        }
        Plan::Aggregate { input, group_by, aggregates } => {
            let mut child = vec![false; input.width()];
            let exprs = group_by.iter().chain(
                aggregates
                    .iter()
                    .flat_map(|a| a.args.iter().chain(a.filter.iter()).chain(a.order_by.iter().map(|k| &k.expr))),
            );
            for e in exprs {
                if has_correlated(e) {
                    child = all(input.width());
                }
                mark(&mut child, e);
            }
            Plan::Aggregate { input: Box::new(prune(*input, Some(child))), group_by, aggregates }
        }
        Plan::Window { input, functions } => {
            let iw = input.width();
            let mut child = need;
            child.resize(iw, false);
            for f in &functions {
                let exprs = f
                    .args
                    .iter()
                    .chain(f.partition_by.iter())
                    .chain(f.order_by.iter().map(|k| &k.expr))
                    .chain(f.filter.iter());
                for e in exprs {
                    mark(&mut child, e);
                }
            }
            keep_width(&mut child);
            Plan::Window { input: Box::new(prune(*input, Some(child))), functions }
        }
        Plan::ProjectSet { input, functions } => {
            let iw = input.width();
            let mut child = need;
            child.resize(iw, false);
            for e in functions.iter().flat_map(|c| c.args.iter()) {
                mark(&mut child, e);
            }
            keep_width(&mut child);
            Plan::ProjectSet { input: Box::new(prune(*input, Some(child))), functions }
        }
        Plan::NestedLoopJoin { left, right, kind, on } => {
            let (mut both, mut right_need) = join_needs(need, left.width(), right.width(), kind, on.as_ref());
            keep_width(&mut both);
            keep_width(&mut right_need);
            Plan::NestedLoopJoin {
                left: Box::new(prune(*left, Some(both))),
                right: Box::new(prune(*right, Some(right_need))),
                kind,
                on,
            }
        }
        Plan::HashJoin { left, right, kind, left_keys, right_keys, residual, .. } => {
            let emit = (!need.iter().all(|n| *n)).then(|| need.clone());
            let (mut both, mut right_need) = join_needs(need, left.width(), right.width(), kind, residual.as_ref());
            for k in &left_keys {
                mark(&mut both, k);
            }
            for k in &right_keys {
                mark(&mut right_need, k);
            }
            keep_width(&mut both);
            keep_width(&mut right_need);
            Plan::HashJoin {
                left: Box::new(prune(*left, Some(both))),
                right: Box::new(prune(*right, Some(right_need))),
                kind,
                left_keys,
                right_keys,
                residual,
                emit,
            }
        }
        Plan::Apply { left, right, kind, on } => match left_columns_read(&right) {
            Some(read) => {
                let (mut both, mut right_need) = join_needs(need, left.width(), right.width(), kind, on.as_ref());
                for c in read {
                    if let Some(n) = both.get_mut(c) {
                        *n = true;
                    }
                }
                keep_width(&mut both);
                keep_width(&mut right_need);
                Plan::Apply {
                    left: Box::new(prune(*left, Some(both))),
                    right: Box::new(prune(*right, Some(right_need))),
                    kind,
                    on,
                }
            }
            // The right side may read any left column through its outer references.
            None => Plan::Apply { left: Box::new(prune(*left, None)), right: Box::new(prune(*right, None)), kind, on },
        },
        Plan::SetOp { op, all: keep, left, right } => {
            Plan::SetOp { op, all: keep, left: Box::new(prune(*left, None)), right: Box::new(prune(*right, None)) }
        }
        Plan::With { ctes, input } => Plan::With {
            ctes: ctes
                .into_iter()
                .map(|mut c| {
                    c.plan = prune(c.plan, None);
                    c.recursive = c.recursive.map(|(p, a)| (Box::new(prune(*p, None)), a));
                    c
                })
                .collect(),
            input: Box::new(prune(*input, Some(need))),
        },
        leaf @ (Plan::Values { .. } | Plan::Function { .. } | Plan::CteScan { .. }) => leaf,
    }
}

/// Marks one column needed when none is: a hash join whose parent reads
/// none of its columns emits zero-width rows, which only a parent that
/// finds its columns by expression (an aggregate, a projection) may take;
/// joins, windows and set-returning projections place their own columns
/// after their input's width.
fn keep_width(needed: &mut [bool]) {
    if !needed.contains(&true)
        && let Some(first) = needed.first_mut()
    {
        *first = true;
    }
}

/// The left columns the right side of an `Apply` reads, when it is a scan
/// (an index nested-loop join's inner side) whose only outer references
/// are to that left row; `None` when that cannot be told.
fn left_columns_read(right: &Plan) -> Option<Vec<usize>> {
    let Plan::Scan { access, filter, .. } = right else { return None };
    let mut read = Vec::new();
    let mut known = true;
    let mut visit = |e: &Expr| match e {
        Expr::Outer { depth: 1, index } => read.push(*index),
        Expr::Outer { .. } | Expr::Subquery(_) => known = false,
        _ => {}
    };
    let mut exprs: Vec<&Expr> = filter.iter().collect();
    match access {
        Access::Full => {}
        Access::IndexPoints { keys, .. } => exprs.extend(keys.iter().flatten()),
        Access::IndexRange { lower, upper, .. } => {
            for bound in [lower, upper] {
                if let Bound::Included(k) | Bound::Excluded(k) = bound {
                    exprs.extend(k);
                }
            }
        }
    }
    for e in exprs {
        e.walk(&mut visit);
    }
    known.then_some(read)
}

/// What a join's inputs must produce: the columns read above it (`need`,
/// over left ++ right; a semi or anti join outputs only its left side)
/// and those its condition reads (every column when the condition holds a
/// correlated subquery). Returns the left's and the right's.
fn join_needs(
    need: Vec<bool>,
    lw: usize,
    rw: usize,
    kind: JoinKind,
    condition: Option<&Expr>,
) -> (Vec<bool>, Vec<bool>) {
    let mut both = need;
    both.resize(lw + rw, false);
    if matches!(kind, JoinKind::Semi | JoinKind::Anti) {
        both[lw..].fill(false);
    }
    if let Some(c) = condition {
        if has_correlated(c) {
            both = all(lw + rw);
        }
        mark(&mut both, c);
    }
    let right = both.split_off(lw);
    (both, right)
}

fn rewrite(plan: Plan) -> Plan {
    // Trees of inner joins (with the WHERE terms over them) are ordered
    // as a whole.
    if reorder::reorderable(&plan, &[]) {
        return reorder::reorder(plan, Vec::new());
    }
    match plan {
        Plan::Filter { input, predicate } => {
            // Terms with correlated subqueries stay above the reordered
            // joins (which keep the query's column order); correlated
            // EXISTS terms that fit become semi or anti joins there.
            let (terms, fixed): (Vec<Expr>, Vec<Expr>) = predicate.conjuncts().into_iter().partition(movable);
            let (semis, fixed) = semijoin::extract(fixed);
            if reorder::reorderable(&input, &terms) {
                return filter(semijoin::apply(reorder::reorder(*input, terms), semis), fixed);
            }
            let mut all = terms;
            all.extend(fixed);
            semijoin::apply(push(rewrite(*input), all), semis)
        }
        Plan::NestedLoopJoin { left, right, kind, on } => {
            let (left, right) = (rewrite(*left), rewrite(*right));
            let terms = on.map(Expr::conjuncts).unwrap_or_default();
            join(left, right, kind, terms)
        }
        Plan::Scan { table, alias, access, filter, lock, row_id, .. } => {
            let terms = filter.map(Expr::conjuncts).unwrap_or_default();
            scan(table, alias, access, terms, lock, row_id)
        }
        Plan::Limit { input, limit, offset } => {
            let input = rewrite(*input);
            let fixed = |e: &Option<Expr>| match e {
                None => Some(0),
                Some(Expr::Literal(Value::Int8(n))) => usize::try_from(*n).ok(),
                Some(_) => None,
            };
            let top = match (fixed(&limit), fixed(&offset)) {
                (Some(l), Some(o)) if limit.is_some() => Some(l.saturating_add(o)),
                _ => None,
            };
            let input = match (input, top) {
                (Plan::Sort { input, keys, limit: None }, Some(k)) => order::sort(*input, keys, Some(k)),
                // Through the projection that drops hidden sort columns.
                (Plan::Project { input: inner, exprs }, Some(k)) => match *inner {
                    Plan::Sort { input, keys, limit: None } => {
                        Plan::Project { input: Box::new(order::sort(*input, keys, Some(k))), exprs }
                    }
                    other => Plan::Project { input: Box::new(other), exprs },
                },
                (other, _) => other,
            };
            Plan::Limit { input: Box::new(input), limit, offset }
        }
        Plan::Apply { left, right, kind, on } => {
            Plan::Apply { left: Box::new(rewrite(*left)), right: Box::new(rewrite(*right)), kind, on }
        }
        Plan::Project { input, exprs } => project(rewrite(*input), exprs),
        Plan::HashJoin { left, right, kind, left_keys, right_keys, residual, emit } => Plan::HashJoin {
            left: Box::new(rewrite(*left)),
            right: Box::new(rewrite(*right)),
            kind,
            left_keys,
            right_keys,
            residual,
            emit,
        },
        Plan::Aggregate { input, group_by, aggregates } => {
            Plan::Aggregate { input: Box::new(rewrite(*input)), group_by, aggregates }
        }
        Plan::Window { input, functions } => Plan::Window { input: Box::new(rewrite(*input)), functions },
        Plan::ProjectSet { input, functions } => Plan::ProjectSet { input: Box::new(rewrite(*input)), functions },
        Plan::Sort { input, keys, limit } => order::sort(rewrite(*input), keys, limit),
        Plan::Distinct { input, on } => Plan::Distinct { input: Box::new(rewrite(*input)), on },
        Plan::SetOp { op, all, left, right } => {
            Plan::SetOp { op, all, left: Box::new(rewrite(*left)), right: Box::new(rewrite(*right)) }
        }
        Plan::With { ctes, input } => Plan::With {
            ctes: ctes
                .into_iter()
                .map(|mut c| {
                    c.plan = rewrite(c.plan);
                    c.recursive = c.recursive.map(|(p, all)| (Box::new(rewrite(*p)), all));
                    c
                })
                .collect(),
            input: Box::new(rewrite(*input)),
        },
        leaf @ (Plan::Values { .. } | Plan::Function { .. } | Plan::CteScan { .. }) => leaf,
    }
}

/// A projection of `input`: dropped when it passes its input through
/// unchanged, and merged with a projection below that only picks columns
/// (the reorderings joins put on top of themselves).
fn project(input: Plan, exprs: Vec<Expr>) -> Plan {
    if let Plan::Project { exprs: picks, .. } = &input
        && picks.iter().all(|e| matches!(e, Expr::Column(_) | Expr::Literal(_)))
        && exprs.iter().all(movable)
        && let Some(merged) = exprs.iter().map(|e| substitute(e.clone(), picks)).collect::<Option<Vec<Expr>>>()
        && let Plan::Project { input: inner, .. } = input
    {
        return project(*inner, merged);
    }
    if exprs.len() == input.width() && exprs.iter().enumerate().all(|(i, e)| *e == Expr::Column(i)) {
        return input;
    }
    Plan::Project { input: Box::new(input), exprs }
}

/// Whether a term may move to another node (no correlated subquery whose
/// outer references would shift).
fn movable(e: &Expr) -> bool {
    let mut ok = true;
    e.walk(&mut |x| {
        if let Expr::Subquery(s) = x
            && s.correlated
        {
            ok = false;
        }
    });
    ok
}

fn filter(plan: Plan, terms: Vec<Expr>) -> Plan {
    match Expr::conjunction(terms) {
        Some(predicate) => Plan::Filter { input: Box::new(plan), predicate },
        None => plan,
    }
}

/// Pushes filter terms into a plan as far down as they go.
fn push(plan: Plan, terms: Vec<Expr>) -> Plan {
    if terms.is_empty() {
        return plan;
    }
    let (movable_terms, fixed): (Vec<Expr>, Vec<Expr>) = terms.into_iter().partition(movable);
    let plan = match plan {
        Plan::Scan { table, alias, access, filter: f, lock, row_id, .. } => {
            let mut all = f.map(Expr::conjuncts).unwrap_or_default();
            all.extend(movable_terms);
            scan(table, alias, access, all, lock, row_id)
        }
        Plan::Filter { input, predicate } => {
            let mut all = predicate.conjuncts();
            all.extend(movable_terms);
            push(*input, all)
        }
        Plan::NestedLoopJoin { left, right, kind: JoinKind::Inner, on } => {
            let mut all = on.map(Expr::conjuncts).unwrap_or_default();
            all.extend(movable_terms);
            join(*left, *right, JoinKind::Inner, all)
        }
        Plan::HashJoin { left, right, kind: JoinKind::Inner, left_keys, right_keys, residual, .. } => {
            // Re-plan with the keys as terms.
            let lw = left.width();
            let mut all: Vec<Expr> = left_keys
                .into_iter()
                .zip(right_keys)
                .map(|(l, r)| Expr::Binary(BinOp::Eq, Box::new(l), Box::new(r.map_columns(&|i| i + lw))))
                .collect();
            all.extend(residual.map(Expr::conjuncts).unwrap_or_default());
            all.extend(movable_terms);
            join(*left, *right, JoinKind::Inner, all)
        }
        Plan::Apply { left, right, kind: JoinKind::Inner, on } => match undo_index_join(&right, left.width()) {
            // Re-plan an index join with the new terms (which may change
            // which side is outer, or make a hash join cheaper).
            Some((right, mut all)) => {
                all.extend(on.map(Expr::conjuncts).unwrap_or_default());
                all.extend(movable_terms);
                join(*left, right, JoinKind::Inner, all)
            }
            None => filter(Plan::Apply { left, right, kind: JoinKind::Inner, on }, movable_terms),
        },
        Plan::NestedLoopJoin { left, right, kind: kind @ (JoinKind::Left | JoinKind::Right), on } => {
            // WHERE terms on the preserved side only filter that side.
            let lw = left.width();
            let (mut keep_left, mut keep_right, mut above) = (Vec::new(), Vec::new(), Vec::new());
            for t in movable_terms {
                let cols = t.columns();
                if kind == JoinKind::Left && cols.iter().all(|c| *c < lw) {
                    keep_left.push(t);
                } else if kind == JoinKind::Right && !cols.is_empty() && cols.iter().all(|c| *c >= lw) {
                    keep_right.push(t.shift_columns(lw));
                } else {
                    above.push(t);
                }
            }
            let left = push(*left, keep_left);
            let right = push(*right, keep_right);
            let joined = join(left, right, kind, on.map(Expr::conjuncts).unwrap_or_default());
            filter(joined, above)
        }
        Plan::Project { input, exprs } => {
            // Through a projection (a join's column reorder, a view): a term
            // reading only plain outputs reads their expressions instead.
            let (down, stay): (Vec<Expr>, Vec<Expr>) = movable_terms
                .into_iter()
                .partition(|t| t.columns().iter().all(|&c| exprs.get(c).is_some_and(pushable_through)));
            let down: Vec<Expr> = down.into_iter().filter_map(|t| substitute(t, &exprs)).collect();
            let input = push(*input, down);
            filter(Plan::Project { input: Box::new(input), exprs }, stay)
        }
        other => filter(other, movable_terms),
    };
    filter(plan, fixed)
}

/// The inputs of an index join's inner side (see [`index_join_inner`]):
/// the plain scan of its table, and the terms that read the outer row
/// turned back into join terms over outer ++ inner columns. `None` when
/// it is not such a scan.
fn undo_index_join(right: &Plan, left_width: usize) -> Option<(Plan, Vec<Expr>)> {
    left_columns_read(right)?;
    let Plan::Scan { table, alias, filter, lock, row_id, .. } = right else { return None };
    let (joined, local): (Vec<Expr>, Vec<Expr>) =
        filter.clone().map(Expr::conjuncts).unwrap_or_default().into_iter().partition(Expr::references_outer);
    let joined = joined
        .into_iter()
        .map(|t| {
            let t = t.over_joined(left_width);
            // Drop the cast `index_join_inner` put on the outer column.
            t.clone()
                .transform(&mut |x| {
                    Ok(match x {
                        Expr::Cast(e, _) if matches!(*e, Expr::Column(i) if i < left_width) => *e,
                        other => other,
                    })
                })
                .unwrap_or(t)
        })
        .collect();
    Some((scan(table.clone(), alias.clone(), Access::Full, local, *lock, *row_id), joined))
}

/// Whether a projected expression may stand in for its output column in a
/// term moved below the projection: evaluating it again must give the same
/// value (no volatile calls, subqueries or placeholders).
fn pushable_through(e: &Expr) -> bool {
    let mut ok = true;
    e.walk(&mut |x| match x {
        Expr::Call(f, _) if f.is_volatile() => ok = false,
        Expr::Subquery(_) | Expr::Aggregate(_) | Expr::Window(_) | Expr::SetFunction(_) => ok = false,
        _ => {}
    });
    ok
}

/// A term over a projection's outputs rewritten over its input.
fn substitute(term: Expr, exprs: &[Expr]) -> Option<Expr> {
    term.transform(&mut |x| match x {
        Expr::Column(i) => exprs.get(i).cloned().ok_or(crate::error::SqlError::Semantic(String::new())),
        other => Ok(other),
    })
    .ok()
}

/// Builds a join from its inputs and condition terms: terms of one side
/// go down into it (inner joins), equalities become hash keys.
fn join(left: Plan, right: Plan, kind: JoinKind, terms: Vec<Expr>) -> Plan {
    let lw = left.width();
    let (mut to_left, mut to_right, mut keys_l, mut keys_r, mut rest) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for t in terms {
        if !movable(&t) {
            rest.push(t);
            continue;
        }
        let cols = t.columns();
        let left_only = cols.iter().all(|c| *c < lw);
        let right_only = !cols.is_empty() && cols.iter().all(|c| *c >= lw);
        match kind {
            JoinKind::Inner if left_only => {
                to_left.push(t);
                continue;
            }
            JoinKind::Inner | JoinKind::Left if right_only => {
                to_right.push(t.shift_columns(lw));
                continue;
            }
            JoinKind::Right if left_only && !cols.is_empty() => {
                to_left.push(t);
                continue;
            }
            _ => {}
        }
        if let Expr::Binary(BinOp::Eq, a, b) = &t {
            let side = |e: &Expr| {
                let c = e.columns();
                if c.is_empty() || !movable(e) {
                    None
                } else if c.iter().all(|x| *x < lw) {
                    Some(false)
                } else if c.iter().all(|x| *x >= lw) {
                    Some(true)
                } else {
                    None
                }
            };
            match (side(a), side(b)) {
                (Some(false), Some(true)) => {
                    keys_l.push((**a).clone());
                    keys_r.push((**b).clone().shift_columns(lw));
                    continue;
                }
                (Some(true), Some(false)) => {
                    keys_l.push((**b).clone());
                    keys_r.push((**a).clone().shift_columns(lw));
                    continue;
                }
                _ => {}
            }
        }
        rest.push(t);
    }
    let left = push(left, to_left);
    let right = push(right, to_right);
    if let Some((inner, right_outer)) = index_join(&left, &right, kind, &keys_l, &keys_r, &rest) {
        return index_join_plan(left, right, inner, right_outer, kind, rest);
    }
    if keys_l.is_empty() {
        return Plan::NestedLoopJoin {
            left: Box::new(left),
            right: Box::new(right),
            kind,
            on: Expr::conjunction(rest),
        };
    }
    let residual = Expr::conjunction(rest);
    // Build on the smaller input (inner joins; columns put back in order).
    if kind == JoinKind::Inner
        && right.estimated_rows() > left.estimated_rows() * 2.0
        && residual.as_ref().is_none_or(movable)
    {
        let rw = right.width();
        let swap = |i: usize| if i < lw { i + rw } else { i - lw };
        let residual = residual.map(|r| r.map_columns(&swap));
        let joined = Plan::HashJoin {
            left: Box::new(right),
            right: Box::new(left),
            kind,
            left_keys: keys_r,
            right_keys: keys_l,
            residual,
            emit: None,
        };
        let exprs = (0..lw + rw).map(|i| Expr::Column(if i < lw { rw + i } else { i - lw })).collect();
        return Plan::Project { input: Box::new(joined), exprs };
    }
    Plan::HashJoin {
        left: Box::new(left),
        right: Box::new(right),
        kind,
        left_keys: keys_l,
        right_keys: keys_r,
        residual,
        emit: None,
    }
}

/// What one index lookup of an index nested-loop join costs, in rows a
/// scan reads in the same time (a B-tree descent and a row whose cache
/// lines are cold, against a sequential row).
const PROBE_COST: f64 = 4.0;

/// An index nested-loop join when it beats hashing: one side (the outer)
/// is small enough that looking each of its rows' keys up in an index of
/// the other side's table costs less than reading that whole table, which
/// a hash join must. Inner joins may put either side outer (the output
/// columns are put back in order); left joins only their left side.
/// Returns the inner side's scan and whether the right side is the outer
/// one; `None` when no index join fits or hashing is cheaper.
fn index_join(
    left: &Plan,
    right: &Plan,
    kind: JoinKind,
    keys_l: &[Expr],
    keys_r: &[Expr],
    rest: &[Expr],
) -> Option<(Plan, bool)> {
    let cheaper = |outer: &Plan, inner: &Plan| {
        index_bounded(outer)
            || matches!(inner, Plan::Scan { table, .. }
                if outer.estimated_rows() * PROBE_COST < table.approx_rows() as f64)
    };
    let forward = || cheaper(left, right).then(|| index_join_inner(right, kind, keys_l, keys_r, rest)).flatten();
    let backward = || {
        let swappable = kind == JoinKind::Inner && rest.iter().all(movable) && cheaper(right, left);
        swappable.then(|| index_join_inner(left, kind, keys_r, keys_l, rest)).flatten()
    };
    // The smaller side outer, when both fit.
    if right.estimated_rows() < left.estimated_rows() {
        backward().map(|p| (p, true)).or_else(|| forward().map(|p| (p, false)))
    } else {
        forward().map(|p| (p, false)).or_else(|| backward().map(|p| (p, true)))
    }
}

/// The plan of an index join [`index_join`] chose: an `Apply` of the outer
/// side and the inner scan, its columns put back in `left ++ right` order
/// when the right side is the outer one.
fn index_join_plan(left: Plan, right: Plan, inner: Plan, right_outer: bool, kind: JoinKind, rest: Vec<Expr>) -> Plan {
    if !right_outer {
        return Plan::Apply { left: Box::new(left), right: Box::new(inner), kind, on: Expr::conjunction(rest) };
    }
    let (lw, rw) = (left.width(), right.width());
    let swap = |i: usize| if i < lw { i + rw } else { i - lw };
    let on = Expr::conjunction(rest.into_iter().map(|t| t.map_columns(&swap)).collect());
    let joined = Plan::Apply { left: Box::new(right), right: Box::new(inner), kind, on };
    let exprs = (0..lw + rw).map(|i| Expr::Column(if i < lw { rw + i } else { i - lw })).collect();
    Plan::Project { input: Box::new(joined), exprs }
}

/// The inner side of an index nested-loop join: the right side is a table
/// scan and an index of its table takes the join keys, so each left row
/// probes that index with its own key values. Built as the right side of
/// an [`Plan::Apply`]: a scan whose index bounds are the left row's
/// columns (outer references of depth 1). `None` when the shape does not
/// fit.
fn index_join_inner(right: &Plan, kind: JoinKind, keys_l: &[Expr], keys_r: &[Expr], rest: &[Expr]) -> Option<Plan> {
    let fits = matches!(kind, JoinKind::Inner | JoinKind::Left | JoinKind::Semi | JoinKind::Anti)
        && !keys_l.is_empty()
        && rest.iter().all(|t| !t.references_outer())
        && keys_r.iter().all(|k| matches!(k, Expr::Column(_)));
    let Plan::Scan { table, alias, filter, lock, row_id, .. } = right else { return None };
    if !fits || filter.as_ref().is_some_and(Expr::references_outer) {
        return None;
    }
    let types: Vec<DataType> = table.columns().iter().map(|c| c.data_type.clone()).collect();
    let mut terms = filter.clone().map(Expr::conjuncts).unwrap_or_default();
    for (l, r) in keys_l.iter().zip(keys_r) {
        let Expr::Column(inner) = r else { return None };
        let ty = types.get(*inner)?;
        // The outer key: a column, or one cast to the inner column's type
        // (how a correlated subquery's outer reference comes, see
        // `semijoin`), which the probe's own cast repeats.
        let outer = match l {
            Expr::Column(outer) => outer,
            Expr::Cast(e, t) if t == ty => match e.as_ref() {
                Expr::Column(outer) => outer,
                _ => return None,
            },
            _ => return None,
        };
        let probe = Expr::Cast(Box::new(Expr::Outer { depth: 1, index: *outer }), ty.clone());
        terms.push(Expr::Binary(BinOp::Eq, Box::new(Expr::Column(*inner)), Box::new(probe)));
    }
    let access = choose_index(table, &terms)?;
    if !access_probes_outer(&access) {
        return None;
    }
    Some(Plan::Scan {
        table: table.clone(),
        alias: alias.clone(),
        access,
        filter: Expr::conjunction(terms),
        lock: *lock,
        row_id: *row_id,
        columns: None,
    })
}

/// Whether a plan reads few rows: a scan bounded by an index (under
/// filters and projections).
fn index_bounded(plan: &Plan) -> bool {
    match plan {
        Plan::Scan { access, .. } => !matches!(access, Access::Full),
        Plan::Filter { input, .. } | Plan::Project { input, .. } => index_bounded(input),
        _ => false,
    }
}

/// Whether an expression refers to an enclosing query's row (or holds a
/// subquery, which might): such terms cannot move under an `Apply`, which
/// adds a level.
/// Whether an index access is keyed by an outer reference.
fn access_probes_outer(access: &Access) -> bool {
    let any = |exprs: &[Expr]| exprs.iter().any(Expr::references_outer);
    match access {
        Access::Full => false,
        Access::IndexPoints { keys, .. } => keys.iter().any(|k| any(k)),
        Access::IndexRange { lower, upper, .. } => [lower, upper].iter().any(|b| match b {
            Bound::Included(k) | Bound::Excluded(k) => any(k),
            Bound::Unbounded => false,
        }),
    }
}

/// The type of a fixed expression whose type is known without binding context.
fn fixed_type(e: &Expr) -> Option<DataType> {
    match e {
        Expr::Literal(v) => v.data_type(),
        Expr::Cast(_, t) => Some(t.clone()),
        _ => None,
    }
}

/// Index keys encode every integer type alike (as i64, in order), so an
/// `int8` key (a client's `bigint` parameter) finds `int4` rows, and one
/// out of the column's range simply matches nothing (or bounds a range
/// past every row).
fn both_integers(a: &DataType, b: &DataType) -> bool {
    let int = |t: &DataType| matches!(t, DataType::Int2 | DataType::Int4 | DataType::Int8);
    int(a) && int(b)
}

/// A filter term usable with an index on a column.
enum Sarg {
    Cmp(usize, BinOp, Expr),
    In(usize, Vec<Expr>),
}

fn sarg(term: &Expr, types: &[DataType]) -> Option<Sarg> {
    let usable = |c: usize, e: &Expr| -> bool {
        e.is_fixed()
            && fixed_type(e)
                .zip(types.get(c))
                .is_some_and(|(from, to)| widens_exactly(&from, to) || both_integers(&from, to))
            && !matches!(e, Expr::Literal(Value::Null))
    };
    match term {
        Expr::Binary(op, a, b) if op.is_comparison() && *op != BinOp::NotEq => match (a.as_ref(), b.as_ref()) {
            (Expr::Column(c), v) if usable(*c, v) => Some(Sarg::Cmp(*c, *op, v.clone())),
            (v, Expr::Column(c)) if usable(*c, v) => Some(Sarg::Cmp(*c, op.commuted(), v.clone())),
            _ => None,
        },
        Expr::InList(e, list) => match e.as_ref() {
            Expr::Column(c) if !list.is_empty() && list.iter().all(|v| usable(*c, v)) => {
                Some(Sarg::In(*c, list.clone()))
            }
            _ => None,
        },
        _ => None,
    }
}

/// Chooses the access path of a scan from its filter terms.
fn scan(
    table: Table,
    alias: String,
    access: Access,
    terms: Vec<Expr>,
    lock: Option<crate::plan::RowLock>,
    row_id: bool,
) -> Plan {
    let access =
        if matches!(access, Access::Full) { choose_index(&table, &terms).unwrap_or(Access::Full) } else { access };
    Plan::Scan { table, alias, access, filter: Expr::conjunction(terms), lock, row_id, columns: None }
}

fn choose_index(table: &Table, terms: &[Expr]) -> Option<Access> {
    let types: Vec<DataType> = table.columns().iter().map(|c| c.data_type.clone()).collect();
    let sargs: Vec<Sarg> = terms.iter().filter_map(|t| sarg(t, &types)).collect();
    if sargs.is_empty() {
        return None;
    }
    let schema = table.schema();
    let live: Vec<usize> = schema.live_columns().map(|(p, _)| p).collect();
    let mut best: Option<(u32, Access)> = None;
    for index in &schema.indexes {
        let cols: Vec<usize> = index.columns.iter().filter_map(|p| live.iter().position(|l| l == p)).collect();
        if cols.len() != index.columns.len() {
            continue;
        }
        let eq_for = |c: usize| {
            sargs.iter().find_map(|s| match s {
                Sarg::Cmp(col, BinOp::Eq, v) if *col == c => Some(v.clone()),
                _ => None,
            })
        };
        let mut prefix = Vec::new();
        for &c in &cols {
            match eq_for(c) {
                Some(v) => prefix.push(v),
                None => break,
            }
        }
        let ordered = index.kind != IndexKind::Hash;
        let candidate = if prefix.len() == cols.len() {
            let score = 100 + u32::from(index.unique) * 50;
            if ordered && !index.unique {
                Some((
                    score,
                    Access::IndexRange {
                        index: index.name.clone(),
                        lower: Bound::Included(prefix.clone()),
                        upper: Bound::Included(prefix),
                        reverse: false,
                    },
                ))
            } else {
                Some((score, Access::IndexPoints { index: index.name.clone(), keys: vec![prefix] }))
            }
        } else if !ordered {
            None
        } else if prefix.is_empty() && cols.len() == 1 {
            // IN list on a one-column index, or a range.
            let c = cols[0];
            match sargs.iter().find_map(|s| match s {
                Sarg::In(col, list) if *col == c => Some(list.clone()),
                _ => None,
            }) {
                Some(list) if list.len() <= 1000 => Some((
                    40 + u32::from(index.unique) * 10,
                    Access::IndexPoints {
                        index: index.name.clone(),
                        keys: list.into_iter().map(|v| vec![v]).collect(),
                    },
                )),
                _ => range(index.name.clone(), Vec::new(), c, &sargs).map(|a| (20, a)),
            }
        } else {
            let next = cols[prefix.len()];
            match range(index.name.clone(), prefix.clone(), next, &sargs) {
                Some(a) => Some((30 + 10 * prefix.len() as u32, a)),
                None if !prefix.is_empty() => Some((
                    25 + 10 * prefix.len() as u32,
                    Access::IndexRange {
                        index: index.name.clone(),
                        lower: Bound::Included(prefix.clone()),
                        upper: Bound::Included(prefix),
                        reverse: false,
                    },
                )),
                None => None,
            }
        };
        if let Some((score, access)) = candidate
            && best.as_ref().is_none_or(|(s, _)| score > *s)
        {
            best = Some((score, access));
        }
    }
    best.map(|(_, a)| a)
}

/// A range on `column` after an equality prefix.
fn range(index: String, prefix: Vec<Expr>, column: usize, sargs: &[Sarg]) -> Option<Access> {
    let mut lower: Option<(Expr, bool)> = None;
    let mut upper: Option<(Expr, bool)> = None;
    for s in sargs {
        if let Sarg::Cmp(c, op, v) = s {
            if *c != column {
                continue;
            }
            match op {
                BinOp::Gt if lower.is_none() => lower = Some((v.clone(), false)),
                BinOp::GtEq if lower.is_none() => lower = Some((v.clone(), true)),
                BinOp::Lt if upper.is_none() => upper = Some((v.clone(), false)),
                BinOp::LtEq if upper.is_none() => upper = Some((v.clone(), true)),
                _ => {}
            }
        }
    }
    if lower.is_none() && upper.is_none() {
        return None;
    }
    let bound = |b: Option<(Expr, bool)>| -> Bound<Vec<Expr>> {
        match b {
            Some((v, inclusive)) => {
                let mut key = prefix.clone();
                key.push(v);
                if inclusive { Bound::Included(key) } else { Bound::Excluded(key) }
            }
            None if prefix.is_empty() => Bound::Unbounded,
            None => Bound::Included(prefix.clone()),
        }
    };
    Some(Access::IndexRange { index, lower: bound(lower), upper: bound(upper), reverse: false })
}
