//! Join ordering: a tree of three or more inner joins is flattened into
//! its inputs and condition terms and rebuilt greedily from the row
//! estimates (`plan::estimate`, which uses `ANALYZE`'s statistics): start
//! with the join of two inputs that yields the fewest rows, then
//! repeatedly join the input whose join with what is built so far yields
//! the fewest rows, preferring inputs a condition connects (no cross
//! product while a join on keys is possible). The columns are put back in
//! the query's order on top.
//!
//! Outer joins, lateral joins and anything else stay whole as one input;
//! a tree holding a correlated subquery in a condition is left as written
//! (its outer references are positions in that node's row).

use super::{filter, join, movable, project, push, rewrite};
use crate::expr::Expr;
use crate::plan::{JoinKind, Plan};

/// The fewest inputs worth reordering (two are already ordered by the
/// join itself: it builds its hash table on the smaller side).
const MIN_INPUTS: usize = 3;

/// Whether `plan` (with `terms` over its columns to apply) is a tree of
/// inner joins worth reordering.
pub(super) fn reorderable(plan: &Plan, terms: &[Expr]) -> bool {
    inputs(plan) >= MIN_INPUTS && terms.iter().all(movable) && conditions_movable(plan)
}

/// The inner-join tree `plan` (see [`reorderable`]) reordered, with
/// `terms` (over its columns) applied.
pub(super) fn reorder(plan: Plan, terms: Vec<Expr>) -> Plan {
    let width = plan.width();
    let mut leaves = Vec::new();
    let mut all_terms = terms;
    flatten(plan, 0, &mut leaves, &mut all_terms);
    build(leaves, all_terms, width)
}

/// Inputs of the inner-join tree at `plan` (1 for anything else).
fn inputs(plan: &Plan) -> usize {
    match plan {
        Plan::NestedLoopJoin { left, right, kind: JoinKind::Inner, .. } => inputs(left) + inputs(right),
        _ => 1,
    }
}

/// Whether every condition in the inner-join tree may move.
fn conditions_movable(plan: &Plan) -> bool {
    match plan {
        Plan::NestedLoopJoin { left, right, kind: JoinKind::Inner, on } => {
            on.as_ref().is_none_or(movable) && conditions_movable(left) && conditions_movable(right)
        }
        _ => true,
    }
}

/// Collects the inputs of an inner-join tree (in column order) and its
/// conditions, as terms over the whole tree's row (`offset`: where this
/// node's columns start in it).
fn flatten(plan: Plan, offset: usize, leaves: &mut Vec<(usize, Plan)>, terms: &mut Vec<Expr>) {
    match plan {
        Plan::NestedLoopJoin { left, right, kind: JoinKind::Inner, on } => {
            let lw = left.width();
            if let Some(on) = on {
                terms.extend(on.conjuncts().into_iter().map(|t| t.map_columns(&|c| c + offset)));
            }
            flatten(*left, offset, leaves, terms);
            flatten(*right, offset + lw, leaves, terms);
        }
        other => leaves.push((offset, other)),
    }
}

/// One input while building: its plan, where its columns start in the
/// original row, and its width.
struct Input {
    plan: Plan,
    offset: usize,
    width: usize,
}

impl Input {
    fn holds(&self, column: usize) -> bool {
        (self.offset..self.offset + self.width).contains(&column)
    }

    /// Its columns' positions in the original row.
    fn columns(&self) -> Vec<usize> {
        (self.offset..self.offset + self.width).collect()
    }
}

/// Joins the inputs greedily (see the module documentation); `width` is
/// the original row's.
fn build(leaves: Vec<(usize, Plan)>, terms: Vec<Expr>, width: usize) -> Plan {
    let mut inputs: Vec<Input> = leaves
        .into_iter()
        .map(|(offset, plan)| {
            let plan = rewrite(plan);
            Input { width: plan.width(), plan, offset }
        })
        .collect();
    // Terms of one input filter it (terms of none, such as constants, the
    // first input, as the join itself would place them).
    let mut pending = Vec::new();
    for term in terms {
        let cols = term.columns();
        let owner = if cols.is_empty() {
            inputs.first_mut()
        } else {
            inputs.iter_mut().find(|i| cols.iter().all(|c| i.holds(*c)))
        };
        match owner {
            Some(input) => {
                let offset = input.offset;
                let plan = std::mem::replace(&mut input.plan, Plan::Values { rows: Vec::new(), width: 0 });
                input.plan = push(plan, vec![term.map_columns(&|c| c - offset)]);
            }
            None => pending.push(term),
        }
    }

    let (mut built, mut layout) = first_join(&mut inputs, &mut pending);
    while !inputs.is_empty() {
        let mut best: Option<(bool, f64, usize)> = None;
        for (i, input) in inputs.iter().enumerate() {
            let terms = applicable(&pending, &layout, input);
            let connected = !terms.is_empty();
            let rows = trial_rows(&built, &layout, input, &pending, &terms);
            if best.is_none_or(|(c, r, _)| (connected && !c) || (connected == c && rows < r)) {
                best = Some((connected, rows, i));
            }
        }
        let input = inputs.remove(best.map_or(0, |(_, _, i)| i));
        built = join_next(built, &mut layout, input, &mut pending);
    }
    // Back to the original column order.
    let exprs =
        (0..width).map(|c| Expr::Column(layout.iter().position(|l| *l == c).unwrap_or_default())).collect::<Vec<_>>();
    filter(project(built, exprs), pending)
}

/// The first join: of the two connected inputs whose join yields the
/// fewest rows (with many inputs, of the smallest input and its best
/// partner). Returns the plan and the original column of each of its
/// columns.
fn first_join(inputs: &mut Vec<Input>, pending: &mut Vec<Expr>) -> (Plan, Vec<usize>) {
    let rows: Vec<f64> = inputs.iter().map(|i| i.plan.estimated_rows()).collect();
    let smallest = (0..inputs.len()).min_by(|a, b| rows[*a].total_cmp(&rows[*b])).unwrap_or(0);
    let starts: Vec<usize> = if inputs.len() <= PAIRWISE_UP_TO { (0..inputs.len()).collect() } else { vec![smallest] };
    // (connected, rows, outer, inner)
    let mut best: Option<(bool, f64, usize, usize)> = None;
    for &a in &starts {
        let layout = inputs[a].columns();
        for b in 0..inputs.len() {
            if a == b {
                continue;
            }
            let terms = applicable(pending, &layout, &inputs[b]);
            let connected = !terms.is_empty();
            let out = trial_rows(&inputs[a].plan, &layout, &inputs[b], pending, &terms);
            if best.is_none_or(|(c, r, _, _)| (connected && !c) || (connected == c && out < r)) {
                best = Some((connected, out, a, b));
            }
        }
    }
    let (a, b) = best.map_or((smallest, usize::MAX), |(_, _, a, b)| (a, b));
    let outer = inputs.remove(a);
    let mut layout = outer.columns();
    let mut built = outer.plan;
    if b != usize::MAX {
        let inner = inputs.remove(if b > a { b - 1 } else { b });
        built = join_next(built, &mut layout, inner, pending);
    }
    (built, layout)
}

/// Up to how many inputs every pair is tried as the first join.
const PAIRWISE_UP_TO: usize = 10;

/// Indexes of the pending terms that joining `input` to the built plan
/// (columns `layout`) would apply.
fn applicable(pending: &[Expr], layout: &[usize], input: &Input) -> Vec<usize> {
    pending
        .iter()
        .enumerate()
        .filter(|(_, t)| t.columns().iter().all(|c| layout.contains(c) || input.holds(*c)))
        .map(|(i, _)| i)
        .collect()
}

/// The estimated rows of joining `input` to `built` with the given terms.
fn trial_rows(built: &Plan, layout: &[usize], input: &Input, pending: &[Expr], terms: &[usize]) -> f64 {
    let terms = terms.iter().map(|t| over(&pending[*t], layout, input)).collect();
    join(built.clone(), input.plan.clone(), JoinKind::Inner, terms).estimated_rows()
}

/// Joins `input` to `built`, applying (and taking from `pending`) every
/// term that then has its columns; extends `layout`.
fn join_next(built: Plan, layout: &mut Vec<usize>, input: Input, pending: &mut Vec<Expr>) -> Plan {
    let taken = applicable(pending, layout, &input);
    let mut terms = Vec::with_capacity(taken.len());
    for t in taken.into_iter().rev() {
        terms.push(over(&pending.remove(t), layout, &input));
    }
    terms.reverse();
    let joined = join(built, input.plan, JoinKind::Inner, terms);
    layout.extend(input.offset..input.offset + input.width);
    joined
}

/// A term over the original row rewritten over `built ++ input` (the
/// built plan's columns laid out as `layout` says).
fn over(term: &Expr, layout: &[usize], input: &Input) -> Expr {
    let built_width = layout.len();
    term.clone().map_columns(&|c| match layout.iter().position(|l| *l == c) {
        Some(p) => p,
        None => built_width + (c - input.offset),
    })
}
