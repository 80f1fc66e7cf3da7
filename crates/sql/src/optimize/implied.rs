//! Filter terms an index access already guarantees. A scan keeps its
//! filter as a re-check of the rows its index finds; but an equality
//! `column = v` whose value is the index key itself, of the column's own
//! type, holds for every row the index returns (the engine checks that
//! the row version it reads still has the entry's key, and keys of one
//! type are equal exactly when the values are). Dropping such terms saves
//! evaluating them per row — the whole filter, for a primary-key lookup.

use std::ops::Bound;

use memdb_engine::Table;

use super::fixed_type;
use super::order::key_order_is_sort_order;
use crate::expr::{BinOp, Expr};
use crate::plan::Access;

/// The filter without the terms `access` guarantees (`None` if none remain).
pub(super) fn without_implied_terms(table: &Table, access: &Access, filter: Option<Expr>) -> Option<Expr> {
    let filter = filter?;
    let (index, key) = match access {
        Access::IndexPoints { index, keys } if keys.len() == 1 => (index, &keys[0]),
        Access::IndexRange { index, lower: Bound::Included(lower), upper: Bound::Included(upper), .. }
            if lower == upper =>
        {
            (index, lower)
        }
        _ => return Some(filter),
    };
    let schema = table.schema();
    let Some(index) = schema.index(index) else { return Some(filter) };
    let live: Vec<usize> = schema.live_columns().map(|(p, _)| p).collect();
    let types: Vec<_> = table.columns().iter().map(|c| c.data_type.clone()).collect();
    // (logical column, key value) pairs the access pins.
    let pinned: Vec<(usize, &Expr)> =
        index.columns.iter().zip(key).filter_map(|(p, v)| live.iter().position(|l| l == p).map(|c| (c, v))).collect();
    let implied = |term: &Expr| -> bool {
        let Expr::Binary(BinOp::Eq, a, b) = term else { return false };
        let (c, v) = match (a.as_ref(), b.as_ref()) {
            (Expr::Column(c), v) | (v, Expr::Column(c)) => (*c, v),
            _ => return false,
        };
        let Some(ty) = types.get(c) else { return false };
        pinned.iter().any(|(pc, pv)| *pc == c && *pv == v)
            && key_order_is_sort_order(ty)
            && fixed_type(v).as_ref() == Some(ty)
    };
    Expr::conjunction(filter.conjuncts().into_iter().filter(|t| !implied(t)).collect())
}
