//! `EXPLAIN`: a plan as an indented tree, one operator per line, with the
//! optimizer's row estimates and a cost in the same units.

use std::collections::HashMap;
use std::fmt::Write;

use serde_json::json;

use crate::exec::OperatorStats;

use super::show;
use super::{Access, JoinKind, Plan, SetOpKind};

/// What EXPLAIN shows besides the plan tree.
#[derive(Clone, Copy, Debug)]
pub struct ExplainOptions {
    /// Estimated cost, rows and width per node (`COSTS`, on by default).
    pub costs: bool,
    /// `FORMAT JSON` rather than text.
    pub json: bool,
}

impl Default for ExplainOptions {
    fn default() -> ExplainOptions {
        ExplainOptions { costs: true, json: false }
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

/// EXPLAIN (FORMAT JSON): PostgreSQL's document, a one-element array of
/// `{"Plan": node, "Execution Time": ms}` (the time with ANALYZE), each node
/// with its kind, relation, estimates, actuals and details by name and its
/// inputs under "Plans".
pub fn explain_json(root: serde_json::Value, execution: Option<std::time::Duration>) -> String {
    let mut top = serde_json::Map::new();
    top.insert("Plan".into(), root);
    if let Some(elapsed) = execution {
        top.insert("Execution Time".into(), json!(round3(elapsed.as_secs_f64() * 1000.0)));
    }
    serde_json::to_string_pretty(&json!([top])).unwrap_or_default()
}

/// A plan tree as EXPLAIN (FORMAT JSON) nodes.
pub fn plan_json(
    plan: &Plan,
    stats: Option<&HashMap<usize, OperatorStats>>,
    options: ExplainOptions,
) -> serde_json::Value {
    json_node(plan, None, stats, options)
}

/// INSERT/UPDATE/DELETE as a `ModifyTable` node over the rows' plan.
pub fn modify_json(
    verb: &str,
    table: &str,
    source: &Plan,
    stats: Option<(&HashMap<usize, OperatorStats>, std::time::Duration)>,
    options: ExplainOptions,
) -> serde_json::Value {
    let mut node = serde_json::Map::new();
    node.insert("Node Type".into(), json!("ModifyTable"));
    node.insert("Operation".into(), json!(verb));
    node.insert("Relation Name".into(), json!(table));
    node.insert("Alias".into(), json!(table));
    if options.costs {
        node.insert("Startup Cost".into(), json!(0.0));
        node.insert("Total Cost".into(), json!(round2(cost(source))));
        node.insert("Plan Rows".into(), json!(0));
        node.insert("Plan Width".into(), json!(0));
    }
    if let Some((_, elapsed)) = stats {
        let ms = round3(elapsed.as_secs_f64() * 1000.0);
        node.insert("Actual Startup Time".into(), json!(ms));
        node.insert("Actual Total Time".into(), json!(ms));
        node.insert("Actual Rows".into(), json!(0));
        node.insert("Actual Loops".into(), json!(1));
    }
    node.insert("Plans".into(), json!([json_node(source, Some("Outer"), stats.map(|s| s.0), options)]));
    serde_json::Value::Object(node)
}

fn json_node(
    plan: &Plan,
    relationship: Option<&str>,
    stats: Option<&HashMap<usize, OperatorStats>>,
    options: ExplainOptions,
) -> serde_json::Value {
    let mut node = serde_json::Map::new();
    let join_type = |kind: JoinKind| match kind {
        JoinKind::Inner => "Inner",
        JoinKind::Left => "Left",
        JoinKind::Right => "Right",
        JoinKind::Full => "Full",
        JoinKind::Semi => "Semi",
        JoinKind::Anti => "Anti",
    };
    let (kind, extra): (String, Vec<(&str, serde_json::Value)>) = match plan {
        Plan::Scan { alias, table, access, .. } => {
            let relation = vec![("Relation Name", json!(table.name())), ("Alias", json!(alias))];
            match access {
                Access::Full => ("Seq Scan".into(), relation),
                Access::IndexRange { index, reverse, .. } => {
                    let direction = if *reverse { "Backward" } else { "Forward" };
                    let mut fields = vec![("Scan Direction", json!(direction)), ("Index Name", json!(index))];
                    fields.extend(relation);
                    ("Index Scan".into(), fields)
                }
                Access::IndexPoints { index, .. } => {
                    let mut fields = vec![("Scan Direction", json!("Forward")), ("Index Name", json!(index))];
                    fields.extend(relation);
                    ("Index Scan".into(), fields)
                }
            }
        }
        Plan::Function { function, .. } => ("Function Scan".into(), vec![("Function Name", json!(function.name()))]),
        Plan::NestedLoopJoin { kind, .. } | Plan::Apply { kind, .. } => {
            ("Nested Loop".into(), vec![("Join Type", json!(join_type(*kind)))])
        }
        Plan::HashJoin { kind, .. } => ("Hash Join".into(), vec![("Join Type", json!(join_type(*kind)))]),
        Plan::Aggregate { group_by, .. } => {
            let strategy = if group_by.is_empty() { "Plain" } else { "Hashed" };
            ("Aggregate".into(), vec![("Strategy", json!(strategy))])
        }
        Plan::Sort { limit: Some(_), .. } => ("Sort".into(), vec![("Sort Method", json!("top-N heapsort"))]),
        Plan::CteScan { name, .. } => ("CTE Scan".into(), vec![("CTE Name", json!(name))]),
        other => (label(other), Vec::new()),
    };
    node.insert("Node Type".into(), json!(kind));
    if let Some(r) = relationship {
        node.insert("Parent Relationship".into(), json!(r));
    }
    for (key, value) in extra {
        node.insert(key.into(), value);
    }
    if options.costs {
        node.insert("Startup Cost".into(), json!(0.0));
        node.insert("Total Cost".into(), json!(round2(cost(plan))));
        node.insert("Plan Rows".into(), json!(plan.estimated_rows().ceil() as u64));
        node.insert("Plan Width".into(), json!(plan.width()));
    }
    if let Some(stats) = stats {
        let (time, rows, loops) = match actual(plan, stats) {
            Some(s) => {
                let loops = s.loops.max(1);
                (round3(s.elapsed.as_secs_f64() * 1000.0 / loops as f64), s.rows / loops, s.loops)
            }
            None => (0.0, 0, 0),
        };
        node.insert("Actual Startup Time".into(), json!(time));
        node.insert("Actual Total Time".into(), json!(time));
        node.insert("Actual Rows".into(), json!(rows));
        node.insert("Actual Loops".into(), json!(loops));
    }
    for (key, values) in details(plan) {
        let value = match key {
            "Sort Key" | "Group Key" | "Unique Key" => json!(values),
            _ => json!(values.join(", ")),
        };
        node.insert(key.into(), value);
    }
    let inputs = children(plan);
    if !inputs.is_empty() {
        let count = inputs.len();
        let plans: Vec<serde_json::Value> = inputs
            .into_iter()
            .enumerate()
            .map(|(i, child)| {
                let relationship = match plan {
                    Plan::With { .. } if i + 1 < count => "InitPlan",
                    Plan::SetOp { .. } => "Member",
                    _ if i == 0 => "Outer",
                    _ => "Inner",
                };
                json_node(child, Some(relationship), stats, options)
            })
            .collect();
        node.insert("Plans".into(), json!(plans));
    }
    serde_json::Value::Object(node)
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
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
    line.push_str(&label(plan));
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
        match actual(plan, stats) {
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
    for (key, values) in details(plan) {
        out.push(format!("{}{key}: {}", " ".repeat(depth * 6 + 2), values.join(", ")));
    }
    for child in children(plan) {
        node(child, depth + 1, stats, options, out);
    }
}

/// What EXPLAIN ANALYZE measured for a node, if it ran.
fn actual<'s>(plan: &Plan, stats: &'s HashMap<usize, OperatorStats>) -> Option<&'s OperatorStats> {
    stats.get(&(std::ptr::from_ref(plan) as usize))
}

/// A node's name in the text form: its kind, and the relation or index it
/// reads.
fn label(plan: &Plan) -> String {
    match plan {
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
    }
}

/// A node's inputs, in the order EXPLAIN lists them.
fn children(plan: &Plan) -> Vec<&Plan> {
    match plan {
        Plan::Filter { input, .. }
        | Plan::Project { input, .. }
        | Plan::Sort { input, .. }
        | Plan::Limit { input, .. }
        | Plan::Distinct { input, .. }
        | Plan::Aggregate { input, .. }
        | Plan::Window { input, .. }
        | Plan::ProjectSet { input, .. } => vec![input],
        Plan::With { ctes, input } => ctes.iter().map(|c| &c.plan).chain(std::iter::once(&**input)).collect(),
        Plan::NestedLoopJoin { left, right, .. }
        | Plan::Apply { left, right, .. }
        | Plan::HashJoin { left, right, .. }
        | Plan::SetOp { left, right, .. } => vec![left, right],
        _ => Vec::new(),
    }
}

/// The details under a node, by name: an index scan's condition, its
/// filter, join condition, sort or group keys (one value per key).
fn details(plan: &Plan) -> Vec<(&'static str, Vec<String>)> {
    let mut out = Vec::new();
    match plan {
        Plan::Scan { table, access, filter, .. } => {
            // A scan's own columns go unqualified, as PostgreSQL shows them.
            let names: Vec<String> = table.columns().iter().map(|c| c.name.clone()).collect();
            let terms = super::estimate::access_terms(table, access);
            if !terms.is_empty() {
                let shown: Vec<String> = terms.iter().map(|t| show::expr(t, &names)).collect();
                let cond = if shown.len() == 1 { shown.join("") } else { format!("({})", shown.join(" AND ")) };
                out.push(("Index Cond", vec![cond]));
            }
            if let Some(f) = filter {
                out.push(("Filter", vec![show::expr(f, &names)]));
            }
        }
        Plan::Filter { input, predicate } => {
            out.push(("Filter", vec![show::expr(predicate, &show::output_names(input))]));
        }
        Plan::HashJoin { left, right, left_keys, right_keys, residual, .. } => {
            let (l, r) = (show::output_names(left), show::output_names(right));
            let conds: Vec<String> = left_keys
                .iter()
                .zip(right_keys)
                .map(|(a, b)| format!("({} = {})", show::expr(a, &l), show::expr(b, &r)))
                .collect();
            out.push(("Hash Cond", vec![conds.join(" AND ")]));
            if let Some(e) = residual {
                out.push(("Join Filter", vec![show::expr(e, &[l, r].concat())]));
            }
        }
        Plan::NestedLoopJoin { left, right, on: Some(e), .. } | Plan::Apply { left, right, on: Some(e), .. } => {
            let names = [show::output_names(left), show::output_names(right)].concat();
            out.push(("Join Filter", vec![show::expr(e, &names)]));
        }
        Plan::Sort { input, keys, .. } => {
            let names = show::output_names(input);
            out.push(("Sort Key", keys.iter().map(|k| show::sort_keys(std::slice::from_ref(k), &names)).collect()));
        }
        Plan::Aggregate { input, group_by, .. } if !group_by.is_empty() => {
            let names = show::output_names(input);
            out.push(("Group Key", group_by.iter().map(|e| show::expr(e, &names)).collect()));
        }
        Plan::Distinct { input, on: Some(on) } => {
            let names = show::output_names(input);
            out.push(("Unique Key", on.iter().map(|e| show::expr(e, &names)).collect()));
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
