//! Window frames: which rows of a sorted partition each row's frame holds.
//!
//! `ROWS` offsets count rows, `GROUPS` offsets count peer groups (rows
//! equal on the ORDER BY keys), and `RANGE` offsets are distances in the
//! one ORDER BY key's value: `RANGE 5 PRECEDING` starts at the first row
//! whose key is at least the current key minus 5 (plus 5 when the order is
//! descending). A row whose key is NULL has its NULL peers as that range;
//! other rows never have NULL keys in theirs.

use std::cmp::Ordering;

use memdb_engine::Value;

use super::ExecCtx;
use crate::error::{Result, data_exception};
use crate::plan::{Frame, FrameBound, FrameUnits};

/// A frame's offsets, evaluated once per execution.
pub(super) struct FrameSizes {
    start: Size,
    end: Size,
}

enum Size {
    /// The bound has no offset.
    None,
    /// ROWS / GROUPS: rows or groups.
    Count(usize),
}

impl FrameSizes {
    /// Evaluates and checks the offsets (RANGE offsets are checked here
    /// and applied per row through the bound expressions).
    pub(super) fn evaluate(frame: &Frame, cx: &mut ExecCtx<'_>) -> Result<FrameSizes> {
        Ok(FrameSizes {
            start: size(&frame.start, frame.units, "starting", cx)?,
            end: size(&frame.end, frame.units, "ending", cx)?,
        })
    }
}

fn size(bound: &FrameBound, units: FrameUnits, which: &str, cx: &mut ExecCtx<'_>) -> Result<Size> {
    let (FrameBound::Preceding(offset) | FrameBound::Following(offset)) = bound else { return Ok(Size::None) };
    let value = offset.size.eval(&[], cx)?;
    if value.is_null() {
        return Err(data_exception("22004", format!("frame {which} offset must not be null")));
    }
    if units == FrameUnits::Range {
        if is_negative(&value) {
            return Err(data_exception("22013", "invalid preceding or following size in window function"));
        }
        return Ok(Size::None);
    }
    match value.as_i64().map(usize::try_from) {
        Some(Ok(n)) => Ok(Size::Count(n)),
        _ => Err(data_exception("22013", format!("frame {which} offset must not be negative"))),
    }
}

/// Whether an offset is negative (or NaN), which RANGE refuses.
fn is_negative(v: &Value) -> bool {
    match v {
        Value::Int2(n) => *n < 0,
        Value::Int4(n) => *n < 0,
        Value::Int8(n) => *n < 0,
        Value::Float4(f) => *f < 0.0 || f.is_nan(),
        Value::Float8(f) => *f < 0.0 || f.is_nan(),
        Value::Numeric(d) => d.is_sign_negative() && !d.is_zero(),
        Value::Interval(_) => v.total_cmp(&Value::Interval(Default::default())).is_lt(),
        _ => false,
    }
}

/// One sorted partition, as frames see it.
pub(super) struct Partition<'a> {
    /// Each row's ORDER BY key values.
    pub keys: Vec<&'a [Value]>,
    /// First row of each row's peer group.
    pub peer_start: &'a [usize],
    /// One past the last row of each row's peer group.
    pub peer_end: &'a [usize],
    /// Whether the window has an ORDER BY (without one, all rows are peers).
    pub ordered: bool,
}

/// Each row's frame as a half-open range of partition positions (empty
/// when the end comes before the start).
pub(super) fn frames(
    frame: &Frame,
    sizes: &FrameSizes,
    part: &Partition<'_>,
    descending: bool,
    cx: &mut ExecCtx<'_>,
) -> Result<Vec<(usize, usize)>> {
    let n = part.peer_start.len();
    // Peer groups, for GROUPS offsets.
    let mut groups: Vec<(usize, usize)> = Vec::new();
    let mut group_of = Vec::with_capacity(n);
    for p in 0..n {
        if part.peer_start[p] == p {
            groups.push((p, part.peer_end[p]));
        }
        group_of.push(groups.len().saturating_sub(1));
    }
    // RANGE offsets: every row's key in the bounds' type, and where the
    // rows with non-NULL keys lie.
    let range = match &frame.range_key {
        Some(key) => {
            let mut cast = Vec::with_capacity(n);
            for k in &part.keys {
                cast.push(key.eval(&k[..1], cx)?);
            }
            let lo = cast.iter().take_while(|v| v.is_null()).count();
            let hi = n - cast[lo..].iter().rev().take_while(|v| v.is_null()).count();
            Some((cast, lo, hi))
        }
        None => None,
    };
    let mut out = Vec::with_capacity(n);
    for p in 0..n {
        let g = group_of[p];
        let lo = match &frame.start {
            FrameBound::UnboundedPreceding => 0,
            FrameBound::CurrentRow if frame.units == FrameUnits::Rows => p,
            FrameBound::CurrentRow => part.peer_start[p],
            FrameBound::UnboundedFollowing => n,
            FrameBound::Preceding(offset) | FrameBound::Following(offset) => {
                let preceding = matches!(frame.start, FrameBound::Preceding(_));
                match (frame.units, &sizes.start, &range, &offset.bound) {
                    (FrameUnits::Rows, Size::Count(k), ..) if preceding => p.saturating_sub(*k),
                    (FrameUnits::Rows, Size::Count(k), ..) => p.saturating_add(*k).min(n),
                    (FrameUnits::Groups, Size::Count(k), ..) if preceding => groups[g.saturating_sub(*k)].0,
                    (FrameUnits::Groups, Size::Count(k), ..) => groups.get(g.saturating_add(*k)).map_or(n, |r| r.0),
                    (FrameUnits::Range, _, Some((cast, nn_lo, nn_hi)), Some(bound)) => {
                        if cast[p].is_null() {
                            part.peer_start[p]
                        } else {
                            let b = bound_value(bound, offset.adds, part.keys[p], cx)?;
                            let rows = &cast[*nn_lo..*nn_hi];
                            nn_lo + rows.partition_point(|v| ordered(v, &b, descending) == Ordering::Less)
                        }
                    }
                    _ => part.peer_start[p],
                }
            }
        };
        let hi = match &frame.end {
            FrameBound::UnboundedFollowing => n,
            FrameBound::UnboundedPreceding => 0,
            FrameBound::CurrentRow if frame.units == FrameUnits::Rows => p + 1,
            FrameBound::CurrentRow if part.ordered => part.peer_end[p],
            FrameBound::CurrentRow => n,
            FrameBound::Preceding(offset) | FrameBound::Following(offset) => {
                let preceding = matches!(frame.end, FrameBound::Preceding(_));
                match (frame.units, &sizes.end, &range, &offset.bound) {
                    (FrameUnits::Rows, Size::Count(k), ..) if preceding => (p + 1).saturating_sub(*k),
                    (FrameUnits::Rows, Size::Count(k), ..) => p.saturating_add(*k).saturating_add(1).min(n),
                    (FrameUnits::Groups, Size::Count(k), ..) if preceding => {
                        g.checked_sub(*k).map_or(0, |h| groups[h].1)
                    }
                    (FrameUnits::Groups, Size::Count(k), ..) => groups[g.saturating_add(*k).min(groups.len() - 1)].1,
                    (FrameUnits::Range, _, Some((cast, nn_lo, nn_hi)), Some(bound)) => {
                        if cast[p].is_null() {
                            part.peer_end[p]
                        } else {
                            let b = bound_value(bound, offset.adds, part.keys[p], cx)?;
                            let rows = &cast[*nn_lo..*nn_hi];
                            nn_lo + rows.partition_point(|v| ordered(v, &b, descending) != Ordering::Greater)
                        }
                    }
                    _ => part.peer_end[p],
                }
            }
        };
        out.push((lo, hi));
    }
    Ok(out)
}

/// A RANGE bound: a value, or beyond every value of the type (the key
/// plus or minus the offset overflowed), as PostgreSQL's `in_range`
/// treats an overflow.
enum BoundValue {
    Value(Value),
    AboveAll,
    BelowAll,
}

fn bound_value(bound: &crate::expr::Expr, adds: bool, key: &[Value], cx: &mut ExecCtx<'_>) -> Result<BoundValue> {
    match bound.eval(&key[..1], cx) {
        Ok(v) => Ok(BoundValue::Value(v)),
        Err(e) if matches!(e.sqlstate(), "22003" | "22008") => {
            Ok(if adds { BoundValue::AboveAll } else { BoundValue::BelowAll })
        }
        Err(e) => Err(e),
    }
}

/// Where `v` lies relative to `bound` in the window's order.
fn ordered(v: &Value, bound: &BoundValue, descending: bool) -> Ordering {
    let o = match bound {
        BoundValue::Value(b) => v.total_cmp(b),
        BoundValue::AboveAll => Ordering::Less,
        BoundValue::BelowAll => Ordering::Greater,
    };
    if descending { o.reverse() } else { o }
}
