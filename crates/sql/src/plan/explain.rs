//! `EXPLAIN`: a plan as an indented tree, one operator per line, with the
//! optimizer's row estimates and a cost in the same units.

use std::collections::HashMap;
use std::fmt::Write;

use crate::exec::OperatorStats;

use super::show;
use super::{Access, JoinKind, Plan, SetOpKind};

/// What EXPLAIN shows besides the plan tree.
#[derive(Clone, Copy, Debug)]
pub struct ExplainOptions {
    /// Estimated cost, rows and width per node (`COSTS`, on by default).
    pub costs: bool,
}

impl Default for ExplainOptions {
    fn default() -> ExplainOptions {
        ExplainOptions { costs: true }
    }
}

/// Renders a plan as lines of text (PostgreSQL's `EXPLAIN` shape); with
/// `stats` (EXPLAIN ANALYZE), each node also shows its actual time, rows
/// and loops. Filters, join conditions, sort and group keys show under
/// their node with column names.
pub fn explain(plan: &Plan, stats: Option<&HashMap<usize, OperatorStats>>, options: ExplainOptions) -> Vec<String> {
    let mut lines = Vec::new();
    node(plan, 0, stats, options, &mut lines);
    lines
}

/// The lines of EXPLAIN for INSERT/UPDATE/DELETE: a `{verb} on {table}`
/// node over the plan of the rows it writes. With `stats` (EXPLAIN ANALYZE,
/// the statement having run), the top node shows the statement's whole time.
pub fn explain_modify(
    verb: &str,
    table: &str,
    source: &Plan,
    stats: Option<(&HashMap<usize, OperatorStats>, std::time::Duration)>,
    options: ExplainOptions,
) -> Vec<String> {
    let mut top = format!("{verb} on {table}");
    if options.costs {
        let _ = write!(top, "  (cost=0.00..{:.2} rows=0 width=0)", cost(source));
    }
    if let Some((_, elapsed)) = stats {
        let _ = write!(top, " (actual time={:.3} ms rows=0 loops=1)", elapsed.as_secs_f64() * 1000.0);
    }
    let mut lines = vec![top];
    node(source, 1, stats.map(|s| s.0), options, &mut lines);
    lines
}

/// The cost of a node: a rough count of rows touched, including its inputs.
fn cost(plan: &Plan) -> f64 {
    let own = plan.estimated_rows();
    let children: f64 = match plan {
        Plan::Filter { input, .. }
        | Plan::Project { input, .. }
        | Plan::Sort { input, .. }
        | Plan::Limit { input, .. }
        | Plan::Distinct { input, .. }
        | Plan::Aggregate { input, .. }
        | Plan::Window { input, .. }
        | Plan::ProjectSet { input, .. }
        | Plan::With { input, .. } => cost(input),
        Plan::NestedLoopJoin { left, right, .. } | Plan::Apply { left, right, .. } => {
            cost(left) + left.estimated_rows().max(1.0) * cost(right) / 10.0
        }
        Plan::HashJoin { left, right, .. } | Plan::SetOp { left, right, .. } => cost(left) + cost(right),
        Plan::Scan { table, access: Access::Full, .. } => table.approx_rows() as f64,
        _ => 0.0,
    };
    own + children
}

fn node(
    plan: &Plan,
    depth: usize,
    stats: Option<&HashMap<usize, OperatorStats>>,
    options: ExplainOptions,
    out: &mut Vec<String>,
) {
    let mut line = String::new();
    if depth > 0 {
        line.push_str(&" ".repeat(depth * 6 - 4));
        line.push_str("->  ");
    }
    let label = match plan {
        Plan::Scan { alias, table, access, .. } => match access {
            Access::Full => format!("Seq Scan on {}{}", table.name(), alias_suffix(alias, table.name())),
            Access::IndexRange { index, reverse, .. } => format!(
                "Index Scan{} using {index} on {}{}",
                if *reverse { " Backward" } else { "" },
                table.name(),
                alias_suffix(alias, table.name())
            ),
            Access::IndexPoints { index, keys } => {
                format!(
                    "Index Scan using {index} on {}{} ({} keys)",
                    table.name(),
                    alias_suffix(alias, table.name()),
                    keys.len()
                )
            }
        },
        Plan::Values { rows, .. } => {
            if rows.len() == 1 && plan.width() == 0 {
                "Result".to_owned()
            } else {
                "Values Scan".to_owned()
            }
        }
        Plan::Function { function, .. } => format!("Function Scan on {}", function.name()),
        Plan::Filter { .. } => "Filter".to_owned(),
        Plan::Project { .. } => "Project".to_owned(),
        Plan::NestedLoopJoin { kind, .. } => format!("Nested Loop{}", join_suffix(*kind)),
        Plan::Apply { kind, .. } => format!("Nested Loop{}", join_suffix(*kind)),
        Plan::HashJoin { kind, .. } => format!("Hash{} Join", join_suffix(*kind)),
        Plan::Aggregate { group_by, .. } => {
            if group_by.is_empty() {
                "Aggregate".to_owned()
            } else {
                "HashAggregate".to_owned()
            }
        }
        Plan::Window { .. } => "WindowAgg".to_owned(),
        Plan::ProjectSet { .. } => "ProjectSet".to_owned(),
        Plan::Sort { limit: Some(n), .. } => format!("Top-N Sort (limit {n})"),
        Plan::Sort { .. } => "Sort".to_owned(),
        Plan::Limit { .. } => "Limit".to_owned(),
        Plan::Distinct { on: Some(_), .. } => "Unique (DISTINCT ON)".to_owned(),
        Plan::Distinct { .. } => "HashAggregate (DISTINCT)".to_owned(),
        Plan::SetOp { op, all, .. } => format!(
            "{}{}",
            match op {
                SetOpKind::Union => "Union",
                SetOpKind::Intersect => "Intersect",
                SetOpKind::Except => "Except",
            },
            if *all { " All" } else { "" }
        ),
        Plan::CteScan { name, .. } => format!("CTE Scan on {name}"),
        Plan::With { .. } => "CTE".to_owned(),
    };
    line.push_str(&label);
    if options.costs {
        let _ = write!(
            line,
            "  (cost=0.00..{:.2} rows={:.0} width={})",
            cost(plan),
            plan.estimated_rows().ceil(),
            plan.width()
        );
    }
    if let Some(stats) = stats {
        match stats.get(&(std::ptr::from_ref(plan) as usize)) {
            Some(s) => {
                let loops = s.loops.max(1);
                let _ = write!(
                    line,
                    " (actual time={:.3} ms rows={} loops={})",
                    s.elapsed.as_secs_f64() * 1000.0 / loops as f64,
                    s.rows / loops,
                    s.loops
                );
            }
            None => line.push_str(" (never executed)"),
        }
    }
    out.push(line);
    if let Plan::Scan { table, access, .. } = plan {
        let terms = super::estimate::access_terms(table, access);
        if !terms.is_empty() {
            let names: Vec<String> = table.columns().iter().map(|c| c.name.clone()).collect();
            let shown: Vec<String> = terms.iter().map(|t| show::expr(t, &names)).collect();
            let cond = if shown.len() == 1 { shown.join("") } else { format!("({})", shown.join(" AND ")) };
            out.push(format!("{}Index Cond: {cond}", " ".repeat(depth * 6 + 2)));
        }
    }
    for detail in details(plan) {
        out.push(format!("{}{detail}", " ".repeat(depth * 6 + 2)));
    }
    match plan {
        Plan::Filter { input, .. }
        | Plan::Project { input, .. }
        | Plan::Sort { input, .. }
        | Plan::Limit { input, .. }
        | Plan::Distinct { input, .. }
        | Plan::Aggregate { input, .. }
        | Plan::Window { input, .. }
        | Plan::ProjectSet { input, .. } => node(input, depth + 1, stats, options, out),
        Plan::With { ctes, input } => {
            for c in ctes {
                node(&c.plan, depth + 1, stats, options, out);
            }
            node(input, depth + 1, stats, options, out);
        }
        Plan::NestedLoopJoin { left, right, .. }
        | Plan::Apply { left, right, .. }
        | Plan::HashJoin { left, right, .. }
        | Plan::SetOp { left, right, .. } => {
            node(left, depth + 1, stats, options, out);
            node(right, depth + 1, stats, options, out);
        }
        _ => {}
    }
}

/// The lines under a node: its filter, join condition, sort or group keys.
fn details(plan: &Plan) -> Vec<String> {
    let mut out = Vec::new();
    match plan {
        Plan::Scan { table, filter: Some(f), .. } => {
            // A scan's own columns go unqualified, as PostgreSQL shows them.
            let names: Vec<String> = table.columns().iter().map(|c| c.name.clone()).collect();
            out.push(format!("Filter: {}", show::expr(f, &names)));
        }
        Plan::Filter { input, predicate } => {
            out.push(format!("Filter: {}", show::expr(predicate, &show::output_names(input))));
        }
        Plan::HashJoin { left, right, left_keys, right_keys, residual, .. } => {
            let (l, r) = (show::output_names(left), show::output_names(right));
            let conds: Vec<String> = left_keys
                .iter()
                .zip(right_keys)
                .map(|(a, b)| format!("({} = {})", show::expr(a, &l), show::expr(b, &r)))
                .collect();
            out.push(format!("Hash Cond: {}", conds.join(" AND ")));
            if let Some(e) = residual {
                out.push(format!("Join Filter: {}", show::expr(e, &[l, r].concat())));
            }
        }
        Plan::NestedLoopJoin { left, right, on: Some(e), .. } | Plan::Apply { left, right, on: Some(e), .. } => {
            let names = [show::output_names(left), show::output_names(right)].concat();
            out.push(format!("Join Filter: {}", show::expr(e, &names)));
        }
        Plan::Sort { input, keys, .. } => {
            out.push(format!("Sort Key: {}", show::sort_keys(keys, &show::output_names(input))));
        }
        Plan::Aggregate { input, group_by, .. } if !group_by.is_empty() => {
            let names = show::output_names(input);
            let keys: Vec<String> = group_by.iter().map(|e| show::expr(e, &names)).collect();
            out.push(format!("Group Key: {}", keys.join(", ")));
        }
        Plan::Distinct { input, on: Some(on) } => {
            let names = show::output_names(input);
            let keys: Vec<String> = on.iter().map(|e| show::expr(e, &names)).collect();
            out.push(format!("Unique Key: {}", keys.join(", ")));
        }
        _ => {}
    }
    out
}

fn alias_suffix(alias: &str, name: &str) -> String {
    if alias == name { String::new() } else { format!(" {alias}") }
}

fn join_suffix(kind: JoinKind) -> &'static str {
    match kind {
        JoinKind::Inner => "",
        JoinKind::Left => " Left",
        JoinKind::Right => " Right",
        JoinKind::Full => " Full",
        JoinKind::Semi => " Semi",
        JoinKind::Anti => " Anti",
    }
}
