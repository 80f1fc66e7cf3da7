//! Row estimates: how many rows each plan node produces, for the
//! optimizer's choices (join order, build side, index joins) and EXPLAIN.
//!
//! Tables `ANALYZE` has summarized (`memdb_engine::stats`) are estimated
//! as PostgreSQL's planner does: a filter term's selectivity from the
//! column's NULL fraction, most common values and histogram; an equi-join
//! from the distinct counts of its keys (`rows(l) × rows(r) / max(nd)`);
//! a grouping from the distinct counts of its keys. Terms the statistics
//! say nothing about count as [`DEFAULT_SELECTIVITY`]. Without statistics
//! the estimates are rougher rules of thumb (a filter keeps a third of
//! its input, a join on keys yields as many rows as its larger input).

use std::cmp::Ordering;
use std::ops::Bound;

use memdb_engine::{ColumnStatistics, Statistics, Table, Value};

use super::{Access, JoinKind, Plan};
use crate::expr::{BinOp, Expr};

/// The selectivity of a term nothing is known about (PostgreSQL's
/// default for inequalities).
const DEFAULT_SELECTIVITY: f64 = 1.0 / 3.0;

impl Plan {
    /// An estimate of the rows the node produces.
    pub fn estimated_rows(&self) -> f64 {
        match self {
            Plan::Scan { table, access, filter, .. } => scan_rows(table, access, filter.as_ref()),
            Plan::Values { rows, .. } => rows.len() as f64,
            Plan::Function { .. } => 1000.0,
            Plan::ProjectSet { input, .. } => input.estimated_rows() * 10.0,
            Plan::Filter { input, predicate } => {
                let rows = input.estimated_rows();
                match selectivity(input, &predicate.clone().conjuncts()) {
                    Some(s) => (rows * s).max(1.0),
                    None => (rows / 3.0).max(1.0),
                }
            }
            Plan::Project { input, .. } | Plan::Sort { input, limit: None, .. } | Plan::Window { input, .. } => {
                input.estimated_rows()
            }
            Plan::Sort { limit: Some(n), input, .. } => (*n as f64).min(input.estimated_rows()),
            Plan::Limit { input, .. } => input.estimated_rows().min(100.0),
            Plan::Distinct { input, on } => {
                let rows = input.estimated_rows();
                let keys: Vec<Expr> = match on {
                    Some(on) => on.clone(),
                    None => (0..input.width()).map(Expr::Column).collect(),
                };
                groups(input, &keys, rows).unwrap_or(rows / 2.0)
            }
            Plan::NestedLoopJoin { left, right, kind, on } => {
                let (l, r) = (left.estimated_rows(), right.estimated_rows());
                let terms = on.clone().map(Expr::conjuncts).unwrap_or_default();
                match kind {
                    JoinKind::Semi | JoinKind::Anti => l,
                    _ if terms.is_empty() => l * r,
                    _ => match join_selectivity(self, left.width(), l, r, &terms) {
                        Some(s) => outer_rows(*kind, (l * r * s).max(1.0), l, r),
                        None => (l * r / 3.0).max(l),
                    },
                }
            }
            Plan::Apply { left, right, .. } => {
                let per_row = right.estimated_rows();
                if analyzed(right) {
                    left.estimated_rows() * per_row
                } else {
                    left.estimated_rows() * per_row.min(10.0)
                }
            }
            Plan::HashJoin { left, right, kind, left_keys, right_keys, residual, .. } => {
                let (l, r) = (left.estimated_rows(), right.estimated_rows());
                match kind {
                    JoinKind::Semi | JoinKind::Anti => l,
                    _ => match key_selectivity(left, right, left_keys, right_keys, l, r) {
                        Some(s) => {
                            let extra = residual
                                .clone()
                                .and_then(|e| join_selectivity(self, left.width(), l, r, &e.conjuncts()))
                                .unwrap_or(1.0);
                            outer_rows(*kind, (l * r * s * extra).max(1.0), l, r)
                        }
                        None => l.max(r),
                    },
                }
            }
            Plan::Aggregate { input, group_by, .. } => {
                if group_by.is_empty() {
                    1.0
                } else {
                    let rows = input.estimated_rows();
                    groups(input, group_by, rows).unwrap_or((rows / 10.0).max(1.0))
                }
            }
            Plan::SetOp { left, right, .. } => left.estimated_rows() + right.estimated_rows(),
            Plan::CteScan { .. } => 100.0,
            Plan::With { input, .. } => input.estimated_rows(),
        }
    }
}

/// Rows of an outer join: at least its preserved sides' rows.
fn outer_rows(kind: JoinKind, matched: f64, l: f64, r: f64) -> f64 {
    match kind {
        JoinKind::Left => matched.max(l),
        JoinKind::Right => matched.max(r),
        JoinKind::Full => matched.max(l + r),
        _ => matched,
    }
}

/// Rows a scan yields: from the statistics when the table has them,
/// otherwise from its access path.
fn scan_rows(table: &Table, access: &Access, filter: Option<&Expr>) -> f64 {
    let n = table.approx_rows().max(1) as f64;
    if let Some(stats) = table.statistics() {
        let mut terms = filter.cloned().map(Expr::conjuncts).unwrap_or_default();
        // The index bounds, where the filter no longer tests their columns
        // (the optimizer drops terms an index access guarantees).
        let tested: Vec<usize> = terms.iter().filter_map(tested_column).collect();
        terms.extend(
            access_terms(table, access).into_iter().filter(|t| tested_column(t).is_some_and(|c| !tested.contains(&c))),
        );
        let lookup = |c: usize| stats.column(c).is_some().then(|| (stats.clone(), c));
        let (s, _) = conjunction_selectivity(&terms, &lookup);
        return (n * s).max(1.0);
    }
    let n = match access {
        Access::Full => n,
        Access::IndexPoints { keys, .. } => keys.len() as f64,
        Access::IndexRange { lower, upper, .. } => match (lower, upper) {
            (Bound::Included(a), Bound::Included(b)) if a == b => 1.0,
            (Bound::Unbounded, _) | (_, Bound::Unbounded) => n / 3.0,
            _ => n / 9.0,
        },
    };
    if filter.is_some() { (n / 3.0).max(1.0) } else { n }
}

/// The column a comparison, IN list or NULL test term tests.
fn tested_column(term: &Expr) -> Option<usize> {
    match term {
        Expr::Binary(op, a, b) if op.is_comparison() => column_of(a).or_else(|| column_of(b)),
        Expr::InList(e, _) | Expr::IsNull(e) => column_of(e),
        _ => None,
    }
}

/// An index access as the filter terms it stands for: equalities on its
/// key columns (an IN list for several one-column keys), and a range's
/// bounds on the column after its equality prefix.
pub(super) fn access_terms(table: &Table, access: &Access) -> Vec<Expr> {
    let (Access::IndexPoints { index, .. } | Access::IndexRange { index, .. }) = access else { return Vec::new() };
    let schema = table.schema();
    let Some(index) = schema.index(index) else { return Vec::new() };
    let live: Vec<usize> = schema.live_columns().map(|(p, _)| p).collect();
    let Some(columns) = index.columns.iter().map(|p| live.iter().position(|l| l == p)).collect::<Option<Vec<usize>>>()
    else {
        return Vec::new();
    };
    let compare = |op: BinOp, c: usize, v: &Expr| Expr::Binary(op, Box::new(Expr::Column(c)), Box::new(v.clone()));
    match access {
        Access::IndexPoints { keys, .. } => match keys.as_slice() {
            [key] => key.iter().zip(&columns).map(|(v, c)| compare(BinOp::Eq, *c, v)).collect(),
            keys if keys.iter().all(|k| k.len() == 1) => {
                let list = keys.iter().filter_map(|k| k.first().cloned()).collect();
                columns.first().map(|c| vec![Expr::InList(Box::new(Expr::Column(*c)), list)]).unwrap_or_default()
            }
            _ => Vec::new(),
        },
        Access::IndexRange { lower, upper, .. } => {
            let mut terms = Vec::new();
            let (low, high) = (bound_key(lower), bound_key(upper));
            // The equality prefix both bounds share (a key that is a
            // bound's last only counts when that bound includes it).
            let mut position = 0;
            while let (Some(a), Some(b)) = (low.get(position), high.get(position)) {
                let included = |key: &[Expr], bound: &Bound<Vec<Expr>>| {
                    key.len() > position + 1 || matches!(bound, Bound::Included(_))
                };
                if a != b || !included(low, lower) || !included(high, upper) {
                    break;
                }
                if let Some(c) = columns.get(position) {
                    terms.push(compare(BinOp::Eq, *c, a));
                }
                position += 1;
            }
            if let Some(c) = columns.get(position) {
                let op = |b: &Bound<Vec<Expr>>, inclusive: BinOp, exclusive: BinOp| match b {
                    Bound::Included(_) => Some(inclusive),
                    Bound::Excluded(_) => Some(exclusive),
                    Bound::Unbounded => None,
                };
                if let (Some(v), Some(o)) = (low.get(position), op(lower, BinOp::GtEq, BinOp::Gt)) {
                    terms.push(compare(o, *c, v));
                }
                if let (Some(v), Some(o)) = (high.get(position), op(upper, BinOp::LtEq, BinOp::Lt)) {
                    terms.push(compare(o, *c, v));
                }
            }
            terms
        }
        Access::Full => Vec::new(),
    }
}

/// The key of a range bound (empty when unbounded).
fn bound_key(bound: &Bound<Vec<Expr>>) -> &[Expr] {
    match bound {
        Bound::Included(k) | Bound::Excluded(k) => k,
        Bound::Unbounded => &[],
    }
}

/// Whether a plan's rows are estimated from statistics (its scan's table
/// was analyzed).
fn analyzed(plan: &Plan) -> bool {
    match plan {
        Plan::Scan { table, .. } => table.statistics().is_some(),
        Plan::Filter { input, .. } | Plan::Project { input, .. } => analyzed(input),
        _ => false,
    }
}

/// The base table column an output column of `plan` passes through
/// unchanged, if any.
fn column_source(plan: &Plan, column: usize) -> Option<(&Table, usize)> {
    match plan {
        Plan::Scan { table, .. } => (column < table.columns().len()).then_some((table, column)),
        Plan::Filter { input, .. }
        | Plan::Sort { input, .. }
        | Plan::Limit { input, .. }
        | Plan::Distinct { input, .. }
        | Plan::With { input, .. } => column_source(input, column),
        Plan::Window { input, .. } | Plan::ProjectSet { input, .. } => {
            (column < input.width()).then(|| column_source(input, column)).flatten()
        }
        Plan::Project { input, exprs } => match exprs.get(column)? {
            Expr::Column(c) => column_source(input, *c),
            _ => None,
        },
        Plan::NestedLoopJoin { left, right, kind, .. }
        | Plan::HashJoin { left, right, kind, .. }
        | Plan::Apply { left, right, kind, .. } => {
            let lw = left.width();
            if column < lw {
                column_source(left, column)
            } else if matches!(kind, JoinKind::Semi | JoinKind::Anti) {
                None
            } else {
                column_source(right, column - lw)
            }
        }
        Plan::Aggregate { input, group_by, .. } => match group_by.get(column)? {
            Expr::Column(c) => column_source(input, *c),
            _ => None,
        },
        Plan::Values { .. } | Plan::Function { .. } | Plan::SetOp { .. } | Plan::CteScan { .. } => None,
    }
}

/// The statistics of the column an output column of `plan` comes from.
fn column_statistics(plan: &Plan, column: usize) -> Option<(Statistics, usize)> {
    let (table, c) = column_source(plan, column)?;
    let stats = table.statistics()?;
    stats.column(c)?;
    Some((stats, c))
}

/// Distinct values of an output column of `plan` (of a table of `rows`
/// rows at most): from statistics, or the table's row count for a column
/// a single-column unique index covers.
fn distinct_values(plan: &Plan, column: usize, rows: f64) -> Option<f64> {
    let (table, c) = column_source(plan, column)?;
    let n = match table.statistics() {
        Some(stats) => {
            let s = stats.column(c)?;
            s.distinct(table.approx_rows().max(1) as f64)
        }
        None => {
            let physical = table.schema().live_columns().nth(c).map(|(p, _)| p)?;
            let unique =
                table.schema().indexes.iter().any(|i| i.unique && i.columns.len() == 1 && i.columns[0] == physical);
            if !unique {
                return None;
            }
            table.approx_rows().max(1) as f64
        }
    };
    Some(n.min(rows.max(1.0)))
}

/// Groups a grouping by `keys` makes of `rows` input rows: the product of
/// the keys' distinct counts, when every key is a column whose count is
/// known.
fn groups(input: &Plan, keys: &[Expr], rows: f64) -> Option<f64> {
    let mut product = 1.0f64;
    for key in keys {
        let Expr::Column(c) = key else { return None };
        product *= distinct_values(input, *c, rows)?;
    }
    Some(product.min(rows).max(1.0))
}

/// The selectivity of equi-join keys: `1 / max(nd(left key), nd(right
/// key))` per pair, as PostgreSQL's `eqjoinsel` without statistics on
/// common values; `None` when no pair's distinct counts are known.
fn key_selectivity(left: &Plan, right: &Plan, left_keys: &[Expr], right_keys: &[Expr], l: f64, r: f64) -> Option<f64> {
    let mut known = false;
    let mut s = 1.0;
    for (a, b) in left_keys.iter().zip(right_keys) {
        let (Some(x), Some(y)) = (column_of(a), column_of(b)) else { continue };
        if let Some(t) = equality_selectivity((left, x, l), (right, y, r)) {
            s *= t;
            known = true;
        }
    }
    known.then_some(s)
}

/// One side of an equality between two inputs' columns: the input, the
/// column, and the input's estimated rows.
type Side<'p> = (&'p Plan, usize, f64);

/// The selectivity of `a = b` between columns of two inputs: from both
/// columns' most common values where both have them (PostgreSQL's
/// `eqjoinsel`), else `1 / max(nd(a), nd(b))`; `None` when neither
/// distinct count is known.
fn equality_selectivity(a: Side, b: Side) -> Option<f64> {
    if let (Some((sa, ca)), Some((sb, cb))) = (column_statistics(a.0, a.1), column_statistics(b.0, b.1))
        && let (Some(x), Some(y)) = (sa.column(ca), sb.column(cb))
        && !x.most_common.is_empty()
        && !y.most_common.is_empty()
    {
        let nd_a = x.distinct(sa.rows()).min(a.2.max(1.0));
        let nd_b = y.distinct(sb.rows()).min(b.2.max(1.0));
        return Some(common_values_selectivity(x, nd_a, y, nd_b));
    }
    match (distinct_values(a.0, a.1, a.2), distinct_values(b.0, b.1, b.2)) {
        (Some(p), Some(q)) => Some(1.0 / p.max(q)),
        (Some(p), None) | (None, Some(p)) => Some(1.0 / p),
        (None, None) => None,
    }
}

/// Equi-join selectivity from two most-common-value lists: the matched
/// pairs exactly, the rest spread evenly over the other distinct values.
fn common_values_selectivity(x: &ColumnStatistics, nd_x: f64, y: &ColumnStatistics, nd_y: f64) -> f64 {
    let mut matched_product = 0.0;
    let (mut matched_x, mut matched_y, mut matches) = (0.0, 0.0, 0.0);
    let mut y_matched = vec![false; y.most_common.len()];
    for (vx, fx) in &x.most_common {
        if let Some(j) = y.most_common.iter().position(|(vy, _)| vy.total_cmp(vx) == Ordering::Equal) {
            let fy = y.most_common[j].1;
            if !y_matched[j] {
                y_matched[j] = true;
                matched_product += fx * fy;
                matched_x += fx;
                matched_y += fy;
                matches += 1.0;
            }
        }
    }
    let (common_x, common_y) = (x.common_frac(), y.common_frac());
    let (unmatched_x, unmatched_y) = (common_x - matched_x, common_y - matched_y);
    let other_x = (1.0 - x.null_frac - common_x).max(0.0);
    let other_y = (1.0 - y.null_frac - common_y).max(0.0);
    let (listed_x, listed_y) = (x.most_common.len() as f64, y.most_common.len() as f64);
    // Seen from each side, then the smaller, as PostgreSQL does.
    let mut from_x = matched_product;
    if nd_y > listed_y {
        from_x += unmatched_x * other_y / (nd_y - listed_y);
    }
    if nd_y > matches {
        from_x += other_x * (other_y + unmatched_y) / (nd_y - matches);
    }
    let mut from_y = matched_product;
    if nd_x > listed_x {
        from_y += unmatched_y * other_x / (nd_x - listed_x);
    }
    if nd_x > matches {
        from_y += other_y * (other_x + unmatched_x) / (nd_x - matches);
    }
    from_x.min(from_y).clamp(0.0, 1.0)
}

/// The selectivity of join condition terms over `join`'s `left ++ right`
/// row: equalities between the sides from distinct counts, other terms
/// from column statistics; `None` when the statistics say nothing.
fn join_selectivity(join: &Plan, left_width: usize, l: f64, r: f64, terms: &[Expr]) -> Option<f64> {
    let mut known = false;
    let mut s = 1.0;
    for term in terms {
        if let Expr::Binary(BinOp::Eq, a, b) = term
            && let (Some(x), Some(y)) = (column_of(a), column_of(b))
            && (x < left_width) != (y < left_width)
        {
            let rows = |c: usize| if c < left_width { l } else { r };
            match equality_selectivity((join, x, rows(x)), (join, y, rows(y))) {
                Some(t) => {
                    s *= t;
                    known = true;
                }
                None => s *= DEFAULT_SELECTIVITY,
            }
            continue;
        }
        match term_selectivity(term, &|c| column_statistics(join, c)) {
            Some(t) => {
                s *= t;
                known = true;
            }
            None => s *= DEFAULT_SELECTIVITY,
        }
    }
    known.then_some(s)
}

/// The selectivity of filter terms over `input`'s rows, when statistics
/// say something about at least one of them.
fn selectivity(input: &Plan, terms: &[Expr]) -> Option<f64> {
    let (s, known) = conjunction_selectivity(terms, &|c| column_statistics(input, c));
    known.then_some(s)
}

/// The selectivity of terms that must all hold: the product of theirs,
/// except that a lower and an upper bound on one column make one range
/// (`lower + upper − 1`, as PostgreSQL's `clauselist_selectivity`).
/// Terms the statistics say nothing about count as
/// [`DEFAULT_SELECTIVITY`]; also returns whether they said anything.
fn conjunction_selectivity(terms: &[Expr], lookup: Lookup) -> (f64, bool) {
    let mut known = false;
    let mut product = 1.0;
    // Per column: the tightest lower and upper bound selectivities.
    let mut ranges: Vec<(usize, Option<f64>, Option<f64>)> = Vec::new();
    for term in terms {
        let Some(s) = term_selectivity(term, lookup) else {
            product *= DEFAULT_SELECTIVITY;
            continue;
        };
        known = true;
        match range_side(term) {
            Some((column, lower)) => {
                let entry = match ranges.iter().position(|r| r.0 == column) {
                    Some(i) => &mut ranges[i],
                    None => {
                        ranges.push((column, None, None));
                        let last = ranges.len() - 1;
                        &mut ranges[last]
                    }
                };
                let side = if lower { &mut entry.1 } else { &mut entry.2 };
                *side = Some(side.map_or(s, |old: f64| old.min(s)));
            }
            None => product *= s,
        }
    }
    for (_, low, high) in ranges {
        product *= match (low, high) {
            (Some(l), Some(h)) => (l + h - 1.0).max(1e-4),
            (Some(s), None) | (None, Some(s)) => s,
            (None, None) => 1.0,
        };
    }
    (product, known)
}

/// The column a `column < constant`-like term bounds, and whether from
/// below.
fn range_side(term: &Expr) -> Option<(usize, bool)> {
    let Expr::Binary(op, a, b) = term else { return None };
    let (column, op) = match (column_of(a), column_of(b)) {
        (Some(c), None) if b.is_fixed() => (c, *op),
        (None, Some(c)) if a.is_fixed() => (c, op.commuted()),
        _ => return None,
    };
    match op {
        BinOp::Gt | BinOp::GtEq => Some((column, true)),
        BinOp::Lt | BinOp::LtEq => Some((column, false)),
        _ => None,
    }
}

/// Finds the statistics of the column a term's column position reads.
type Lookup<'a> = &'a dyn Fn(usize) -> Option<(Statistics, usize)>;

/// The fraction of rows one filter term keeps, from the statistics of the
/// column it tests; `None` when they say nothing about it.
fn term_selectivity(term: &Expr, lookup: Lookup) -> Option<f64> {
    let column = |e: &Expr| -> Option<(Statistics, usize)> { lookup(column_of(e)?) };
    let s = match term {
        Expr::And(a, b) => {
            let (x, y) = (term_selectivity(a, lookup), term_selectivity(b, lookup));
            if x.is_none() && y.is_none() {
                return None;
            }
            x.unwrap_or(DEFAULT_SELECTIVITY) * y.unwrap_or(DEFAULT_SELECTIVITY)
        }
        Expr::Or(a, b) => {
            let (x, y) = (term_selectivity(a, lookup), term_selectivity(b, lookup));
            if x.is_none() && y.is_none() {
                return None;
            }
            let (x, y) = (x.unwrap_or(DEFAULT_SELECTIVITY), y.unwrap_or(DEFAULT_SELECTIVITY));
            x + y - x * y
        }
        Expr::Not(e) => match e.as_ref() {
            Expr::IsNull(inner) => {
                let (stats, c) = column(inner)?;
                1.0 - stats.column(c)?.null_frac
            }
            other => 1.0 - term_selectivity(other, lookup)?,
        },
        Expr::IsNull(e) => {
            let (stats, c) = column(e)?;
            stats.column(c)?.null_frac
        }
        Expr::InList(e, list) => {
            let (stats, c) = column(e)?;
            let s = stats.column(c)?;
            let sum: f64 = list.iter().map(|v| equal(s, stats.rows(), constant(v)?.as_ref())).sum::<Option<f64>>()?;
            sum.min(1.0 - s.null_frac)
        }
        Expr::Binary(op, a, b) if op.is_comparison() => {
            let (op, col, value) = match (column(a), column(b)) {
                (Some(col), None) => (*op, col, constant(b)?),
                (None, Some(col)) => (op.commuted(), col, constant(a)?),
                (Some((sa, ca)), Some((sb, cb))) if *op == BinOp::Eq => {
                    // Two columns of one input row.
                    let (x, y) = (sa.column(ca)?, sb.column(cb)?);
                    return Some(1.0 / x.distinct(sa.rows()).max(y.distinct(sb.rows())));
                }
                _ => return None,
            };
            let (stats, c) = col;
            let s = stats.column(c)?;
            match op {
                BinOp::Eq => equal(s, stats.rows(), value.as_ref())?,
                BinOp::NotEq => 1.0 - s.null_frac - equal(s, stats.rows(), value.as_ref())?,
                BinOp::Lt | BinOp::LtEq | BinOp::Gt | BinOp::GtEq => range(s, op, value.as_ref()?)?,
                _ => return None,
            }
        }
        _ => return None,
    };
    Some(s.clamp(0.0, 1.0))
}

/// The column position a term operand reads (through casts).
fn column_of(e: &Expr) -> Option<usize> {
    match e {
        Expr::Column(c) => Some(*c),
        Expr::Cast(inner, _) => column_of(inner),
        _ => None,
    }
}

/// A term operand fixed for the statement: `Some(Some(v))` for a known
/// value, `Some(None)` for one known only at run time (a parameter, an
/// outer row's column); `None` when it reads the row itself.
fn constant(e: &Expr) -> Option<Option<Value>> {
    if !e.is_fixed() {
        return None;
    }
    Some(match e {
        Expr::Literal(v) => Some(v.clone()),
        Expr::Cast(inner, to) => match inner.as_ref() {
            Expr::Literal(v) => v.cast(to).ok(),
            _ => None,
        },
        _ => None,
    })
}

/// `column = value` (`None`: a value not known when planning): the value's
/// frequency among the most common ones, or an equal share of the rest.
fn equal(s: &ColumnStatistics, rows: f64, value: Option<&Value>) -> Option<f64> {
    if value.is_some_and(Value::is_null) {
        return Some(0.0);
    }
    if let Some(v) = value
        && let Some((_, f)) = s.most_common.iter().find(|(c, _)| c.total_cmp(v) == Ordering::Equal)
    {
        return Some(*f);
    }
    let others = (s.distinct(rows) - s.most_common.len() as f64).max(1.0);
    let rest = (1.0 - s.null_frac - s.common_frac()).max(0.0);
    Some((rest / others).max(1.0 / rows.max(1.0)))
}

/// `column op value` for an order comparison: the most common values that
/// pass, plus the histogram's share of the rest.
fn range(s: &ColumnStatistics, op: BinOp, value: &Value) -> Option<f64> {
    if value.is_null() {
        return Some(0.0);
    }
    let passes = |v: &Value| {
        let o = v.total_cmp(value);
        match op {
            BinOp::Lt => o.is_lt(),
            BinOp::LtEq => o.is_le(),
            BinOp::Gt => o.is_gt(),
            _ => o.is_ge(),
        }
    };
    let common: f64 = s.most_common.iter().filter(|(v, _)| passes(v)).map(|(_, f)| f).sum();
    let rest = (1.0 - s.null_frac - s.common_frac()).max(0.0);
    if rest <= f64::EPSILON {
        return Some(common);
    }
    let below = histogram_fraction_below(&s.histogram, value).unwrap_or(DEFAULT_SELECTIVITY);
    let share = if matches!(op, BinOp::Lt | BinOp::LtEq) { below } else { 1.0 - below };
    Some(common + rest * share)
}

/// The fraction of a histogram's values below `value`: whole buckets below
/// it, and the part of its own bucket (interpolated for numbers and times,
/// half otherwise).
fn histogram_fraction_below(bounds: &[Value], value: &Value) -> Option<f64> {
    if bounds.len() < 2 {
        return None;
    }
    let above = bounds.partition_point(|b| b.total_cmp(value).is_lt());
    if above == 0 {
        return Some(0.0);
    }
    if above == bounds.len() {
        return Some(1.0);
    }
    let (low, high) = (&bounds[above - 1], &bounds[above]);
    let within = match (number(low), number(high), number(value)) {
        (Some(l), Some(h), Some(v)) if h > l => ((v - l) / (h - l)).clamp(0.0, 1.0),
        _ => 0.5,
    };
    Some(((above - 1) as f64 + within) / (bounds.len() - 1) as f64)
}

/// A value on a number line, for interpolating within a bucket.
fn number(v: &Value) -> Option<f64> {
    Some(match v {
        Value::Int2(x) => f64::from(*x),
        Value::Int4(x) | Value::Date(x) => f64::from(*x),
        Value::Int8(x) | Value::Time(x) | Value::Timestamp(x) | Value::TimestampTz(x) => *x as f64,
        Value::Float4(x) => f64::from(*x),
        Value::Float8(x) => *x,
        Value::Numeric(d) => d.to_string().parse().ok()?,
        _ => return None,
    })
}
