//! Filter terms an index access already guarantees. A scan keeps its
//! filter as a re-check of the rows its index finds; but an equality
//! `column = v` whose value is the index key itself, of the column's own
//! type, holds for every row the index returns (the engine checks that
//! the row version it reads still has the entry's key, and keys of one
//! type are equal exactly when the values are; integers of any width key
//! alike). The same holds for the bounds of a range. Dropping such terms saves
//! evaluating them per row — the whole filter, for a primary-key lookup.

use std::ops::Bound;

use memdb_engine::Table;

use super::order::key_order_is_sort_order;
use super::{both_integers, fixed_type};
use crate::expr::{BinOp, Expr};
use crate::plan::Access;

/// The filter without the terms `access` guarantees (`None` if none remain).
pub(super) fn without_implied_terms(table: &Table, access: &Access, filter: Option<Expr>) -> Option<Expr> {
    let filter = filter?;
    let (index, lower, upper) = match access {
        Access::IndexPoints { index, keys } if keys.len() == 1 => {
            (index, Bound::Included(&keys[0]), Bound::Included(&keys[0]))
        }
        Access::IndexRange { index, lower, upper, .. } => (index, lower.as_ref(), upper.as_ref()),
        _ => return Some(filter),
    };
    let schema = table.schema();
    let Some(index) = schema.index(index) else { return Some(filter) };
    let live: Vec<usize> = schema.live_columns().map(|(p, _)| p).collect();
    let types: Vec<_> = table.columns().iter().map(|c| c.data_type.clone()).collect();
    // The logical column of each index key position.
    let key_columns: Vec<Option<usize>> = index.columns.iter().map(|p| live.iter().position(|l| l == p)).collect();
    let bounds = Bounds { lower, upper };
    let implied = |term: &Expr| -> bool {
        let Expr::Binary(op, a, b) = term else { return false };
        let (c, op, v) = match (a.as_ref(), b.as_ref()) {
            (Expr::Column(c), v) => (*c, *op, v),
            (v, Expr::Column(c)) => (*c, op.commuted(), v),
            _ => return false,
        };
        let Some(ty) = types.get(c) else { return false };
        // The value's type must be the column's, or both integers: keys
        // encode every integer width alike, so those compare exactly too.
        let same_type = fixed_type(v).is_some_and(|t| t == *ty || both_integers(&t, ty));
        if !key_order_is_sort_order(ty) || !same_type {
            return false;
        }
        key_columns.iter().enumerate().any(|(k, kc)| *kc == Some(c) && bounds.imply(k, op, v))
    };
    Expr::conjunction(filter.conjuncts().into_iter().filter(|t| !implied(t)).collect())
}

/// The key bounds of an index access, to read which comparisons on the
/// key's columns every row it returns satisfies. The engine reads a bound
/// shorter than the index as a prefix: `>= [a]` takes every entry
/// starting with `a`, `<= [a]` too.
struct Bounds<'a> {
    lower: Bound<&'a Vec<Expr>>,
    upper: Bound<&'a Vec<Expr>>,
}

impl Bounds<'_> {
    /// Whether every returned row has `key[k] op v`.
    fn imply(&self, k: usize, op: BinOp, v: &Expr) -> bool {
        let key = |b: Bound<&Vec<Expr>>| match b {
            Bound::Included(key) => Some((key.clone(), true)),
            Bound::Excluded(key) => Some((key.clone(), false)),
            Bound::Unbounded => None,
        };
        let (lower, upper) = (key(self.lower), key(self.upper));
        // Positions before `k` both bounds pin to the same values: only
        // then does the order of whole keys order position `k` alone.
        let pinned_before = |other: &Option<(Vec<Expr>, bool)>, this: &[Expr]| {
            k == 0 || other.as_ref().is_some_and(|(o, _)| o.len() >= k && this.len() >= k && o[..k] == this[..k])
        };
        match op {
            BinOp::Eq => match (&lower, &upper) {
                (Some((l, _)), Some((u, _))) => {
                    l.len() > k && u.len() > k && l[..=k] == u[..=k] && l[k] == *v && inclusive_at(&lower, &upper, k)
                }
                _ => false,
            },
            BinOp::GtEq | BinOp::Gt => lower.as_ref().is_some_and(|(l, inclusive)| {
                l.len() == k + 1 && l[k] == *v && *inclusive == (op == BinOp::GtEq) && pinned_before(&upper, l)
            }),
            BinOp::LtEq | BinOp::Lt => upper.as_ref().is_some_and(|(u, inclusive)| {
                u.len() == k + 1 && u[k] == *v && *inclusive == (op == BinOp::LtEq) && pinned_before(&lower, u)
            }),
            _ => false,
        }
    }
}

/// For an equality at position `k` both bounds share: a bound that ends at
/// `k` must include it (`> [a]` excludes every key starting with `a`).
fn inclusive_at(lower: &Option<(Vec<Expr>, bool)>, upper: &Option<(Vec<Expr>, bool)>, k: usize) -> bool {
    [lower, upper].into_iter().flatten().all(|(key, inclusive)| key.len() > k + 1 || *inclusive)
}
