//! ORDER BY through an index: a sort whose keys follow an ordered index
//! (skipping index columns the scan's filter fixes by equality) reads the
//! index in order, forwards for `ASC NULLS LAST` and backwards for
//! `DESC NULLS FIRST`, instead of sorting. Index keys sort as PostgreSQL
//! does (NULLs after every value; see `memdb_engine::Key`), so this holds
//! for every type whose key order is its sort order.
//!
//! A scan already bounded by the index just reads it in the right
//! direction; a full scan switches to the index only under a LIMIT, where
//! stopping after the first rows beats sorting them all.

use std::ops::Bound;

use memdb_engine::{DataType, IndexKind, Table};

use super::{Sarg, sarg};
use crate::expr::{BinOp, Expr};
use crate::plan::{Access, Plan, SortKey};

/// A sort of `input` by `keys` (top-k with `limit`), or `input` itself when
/// it can deliver rows in that order from an index.
pub(super) fn sort(mut input: Plan, keys: Vec<SortKey>, limit: Option<usize>) -> Plan {
    if index_delivers(&mut input, &keys, limit.is_some()) {
        input
    } else {
        Plan::Sort { input: Box::new(input), keys, limit }
    }
}

/// Whether the scan under `plan` (through filters and column-renaming
/// projections) can produce its rows in the order of `keys`; if so, sets
/// its access path to do so.
fn index_delivers(plan: &mut Plan, keys: &[SortKey], limited: bool) -> bool {
    let mut wanted = Vec::with_capacity(keys.len());
    for key in keys {
        let Expr::Column(c) = key.expr else { return false };
        wanted.push((c, direction(key)));
    }
    let Some(Plan::Scan { table, access, filter, .. }) = scan_under(plan, &mut wanted) else { return false };
    let types: Vec<DataType> = table.columns().iter().map(|c| c.data_type.clone()).collect();
    let fixed: Vec<usize> = filter
        .clone()
        .map(Expr::conjuncts)
        .unwrap_or_default()
        .iter()
        .filter_map(|t| match sarg(t, &types) {
            Some(Sarg::Cmp(c, BinOp::Eq, _)) => Some(c),
            _ => None,
        })
        .collect();
    // Keys on columns the filter fixes are constant: they order nothing.
    wanted.retain(|(c, _)| !fixed.contains(c));
    if wanted.is_empty() {
        return true;
    }
    if at_most_one_row(table, access) {
        return true;
    }
    let Some(reverse) = single_direction(&wanted) else { return false };
    let schema = table.schema();
    let live: Vec<usize> = schema.live_columns().map(|(p, _)| p).collect();
    for index in schema.indexes.iter().filter(|i| i.kind != IndexKind::Hash) {
        let cols: Option<Vec<usize>> = index.columns.iter().map(|p| live.iter().position(|l| l == p)).collect();
        let Some(cols) = cols else { continue };
        if !follows(&cols, &wanted, &fixed) || !cols.iter().all(|c| types.get(*c).is_some_and(key_order_is_sort_order))
        {
            continue;
        }
        match access {
            Access::IndexRange { index: name, reverse: r, .. } if *name == index.name => {
                *r = reverse;
                return true;
            }
            Access::Full if limited => {
                *access = Access::IndexRange {
                    index: index.name.clone(),
                    lower: Bound::Unbounded,
                    upper: Bound::Unbounded,
                    reverse,
                };
                return true;
            }
            _ => {}
        }
    }
    false
}

/// `Some(false)` for `ASC NULLS LAST` (the index's order), `Some(true)` for
/// `DESC NULLS FIRST` (its reverse), `None` for the other two.
fn direction(key: &SortKey) -> Option<bool> {
    match (key.desc, key.nulls_first) {
        (false, false) => Some(false),
        (true, true) => Some(true),
        _ => None,
    }
}

/// The one direction every key asks for, if they agree.
fn single_direction(wanted: &[(usize, Option<bool>)]) -> Option<bool> {
    let first = wanted.first()?.1?;
    wanted.iter().all(|(_, d)| *d == Some(first)).then_some(first)
}

/// The scan under filters and projections, with `wanted`'s columns renamed
/// to the scan's; `None` if anything else is in the way (or a key is
/// computed by a projection).
fn scan_under<'p>(plan: &'p mut Plan, wanted: &mut [(usize, Option<bool>)]) -> Option<&'p mut Plan> {
    if matches!(plan, Plan::Scan { .. }) {
        return Some(plan);
    }
    match plan {
        Plan::Filter { input, .. } => scan_under(input, wanted),
        Plan::Project { input, exprs } => {
            for (c, _) in wanted.iter_mut() {
                match exprs.get(*c) {
                    Some(Expr::Column(inner)) => *c = *inner,
                    _ => return None,
                }
            }
            scan_under(input, wanted)
        }
        _ => None,
    }
}

/// Whether the index's columns, skipping fixed ones, begin with the wanted
/// keys in order.
fn follows(index_cols: &[usize], wanted: &[(usize, Option<bool>)], fixed: &[usize]) -> bool {
    let mut next = wanted.iter().map(|(c, _)| *c).peekable();
    for c in index_cols {
        match next.peek() {
            None => return true,
            Some(w) if w == c => {
                next.next();
            }
            Some(_) if fixed.contains(c) => {}
            Some(_) => return false,
        }
    }
    next.peek().is_none()
}

/// A point lookup of one full key in a unique index finds at most one row.
fn at_most_one_row(table: &Table, access: &Access) -> bool {
    let Access::IndexPoints { index, keys } = access else { return false };
    let Some(index) = table.schema().index(index) else { return false };
    index.unique && keys.len() == 1 && keys.iter().all(|k| k.len() == index.columns.len())
}

/// Types whose index key order (memdb_engine::key) is the order ORDER BY
/// sorts them in, and whose key equality is SQL equality. Intervals,
/// JSON, arrays and `char(n)` (blank-padded comparison) are left out.
pub(super) fn key_order_is_sort_order(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Bool
            | DataType::Int2
            | DataType::Int4
            | DataType::Int8
            | DataType::Float4
            | DataType::Float8
            | DataType::Numeric(_)
            | DataType::Text
            | DataType::Varchar(_)
            | DataType::Bytea
            | DataType::Date
            | DataType::Time
            | DataType::Timestamp
            | DataType::TimestampTz
            | DataType::Uuid
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_columns_follow_the_keys_skipping_fixed_ones() {
        let asc = Some(false);
        assert!(follows(&[0, 1, 2], &[(0, asc), (1, asc)], &[]));
        assert!(follows(&[0, 1, 2], &[(2, asc)], &[0, 1]));
        assert!(!follows(&[0, 1, 2], &[(2, asc)], &[0]));
        assert!(!follows(&[0, 1], &[(1, asc), (0, asc)], &[]));
        assert!(!follows(&[0], &[(0, asc), (1, asc)], &[]));
    }

    #[test]
    fn mixed_directions_are_not_one_scan() {
        assert_eq!(single_direction(&[(0, Some(true)), (1, Some(true))]), Some(true));
        assert_eq!(single_direction(&[(0, Some(false)), (1, Some(true))]), None);
        assert_eq!(single_direction(&[(0, None)]), None);
    }
}
