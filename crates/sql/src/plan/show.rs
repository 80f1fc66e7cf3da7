//! Plan expressions as EXPLAIN shows them: columns by name (qualified by
//! their relation where a node has more than one), operators and function
//! calls in PostgreSQL's spelling (`(t.id = 5)`, `lower(name)`).

use memdb_engine::Value;

use super::{AggregateCall, AggregateFunc, JoinKind, Plan, SortKey};
use crate::expr::{Expr, SubqueryKind};

/// The names of a node's output columns, as expressions over them read.
pub(crate) fn output_names(plan: &Plan) -> Vec<String> {
    match plan {
        Plan::Scan { table, alias, row_id, .. } => {
            let mut names: Vec<String> = table.columns().iter().map(|c| format!("{alias}.{}", c.name)).collect();
            if *row_id {
                names.push(format!("{alias}.ctid"));
            }
            names
        }
        Plan::Values { width, .. } => (1..=*width).map(|i| format!("\"*VALUES*\".column{i}")).collect(),
        Plan::CteScan { name, width, .. } => (1..=*width).map(|i| format!("{name}.column{i}")).collect(),
        Plan::Function { function, ordinality, .. } => {
            let mut names = vec![function.name().to_owned(); function.width()];
            if *ordinality {
                names.push("ordinality".to_owned());
            }
            names
        }
        Plan::Filter { input, .. }
        | Plan::Sort { input, .. }
        | Plan::Limit { input, .. }
        | Plan::Distinct { input, .. }
        | Plan::With { input, .. } => output_names(input),
        Plan::Project { input, exprs } => {
            let names = output_names(input);
            exprs.iter().map(|e| expr(e, &names)).collect()
        }
        Plan::Apply { left, right, .. } => [output_names(left), output_names(right)].concat(),
        Plan::NestedLoopJoin { left, right, kind, .. } | Plan::HashJoin { left, right, kind, .. } => match kind {
            JoinKind::Semi | JoinKind::Anti => output_names(left),
            _ => [output_names(left), output_names(right)].concat(),
        },
        Plan::Aggregate { input, group_by, aggregates } => {
            let names = output_names(input);
            group_by.iter().map(|e| expr(e, &names)).chain(aggregates.iter().map(|a| aggregate(a, &names))).collect()
        }
        Plan::Window { input, functions } => {
            let mut names = output_names(input);
            names.extend(functions.iter().map(|w| format!("{:?}", w.func).to_lowercase()));
            names
        }
        Plan::ProjectSet { input, functions } => {
            let mut names = output_names(input);
            names.extend(functions.iter().map(|c| c.function.name().to_owned()));
            names
        }
        Plan::SetOp { left, .. } => output_names(left),
    }
}

fn column(names: &[String], i: usize) -> String {
    names.get(i).cloned().unwrap_or_else(|| format!("${i}"))
}

fn literal(v: &Value) -> String {
    match v {
        Value::Null => "NULL".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Int2(_) | Value::Int4(_) | Value::Int8(_) | Value::Float4(_) | Value::Float8(_) | Value::Numeric(_) => {
            v.to_string()
        }
        other => {
            let ty = other.data_type().map_or_else(|| "unknown".to_owned(), |t| t.to_string());
            format!("'{}'::{ty}", other.to_string().replace('\'', "''"))
        }
    }
}

/// An expression over a row whose columns are `names`.
pub(crate) fn expr(e: &Expr, names: &[String]) -> String {
    let show = |x: &Expr| expr(x, names);
    match e {
        Expr::Literal(v) => literal(v),
        Expr::Column(i) => column(names, *i),
        Expr::Outer { depth, index } => format!("outer{depth}.${index}"),
        Expr::Param(i) => format!("${}", i + 1),
        Expr::Not(x) => format!("(NOT {})", show(x)),
        Expr::And(a, b) => format!("({} AND {})", show(a), show(b)),
        Expr::Or(a, b) => format!("({} OR {})", show(a), show(b)),
        Expr::Binary(op, a, b) => format!("({} {} {})", show(a), op.symbol(), show(b)),
        Expr::Neg(x) => format!("(- {})", show(x)),
        Expr::IsNull(x) => format!("({} IS NULL)", show(x)),
        Expr::IsBool(x, true) => format!("({} IS TRUE)", show(x)),
        Expr::IsBool(x, false) => format!("({} IS FALSE)", show(x)),
        Expr::IsDistinct(a, b) => format!("({} IS DISTINCT FROM {})", show(a), show(b)),
        Expr::InList(x, list) => {
            format!("({} = ANY (ARRAY[{}]))", show(x), list.iter().map(show).collect::<Vec<_>>().join(", "))
        }
        Expr::Like { expr: x, pattern, case_insensitive } => {
            format!("({} {} {})", show(x), if *case_insensitive { "~~*" } else { "~~" }, show(pattern))
        }
        Expr::Case { operand, whens, otherwise } => {
            let mut s = String::from("CASE");
            if let Some(o) = operand {
                s.push(' ');
                s.push_str(&show(o));
            }
            for (w, t) in whens {
                s.push_str(&format!(" WHEN {} THEN {}", show(w), show(t)));
            }
            if let Some(o) = otherwise {
                s.push_str(&format!(" ELSE {}", show(o)));
            }
            s.push_str(" END");
            s
        }
        Expr::Cast(x, ty) => format!("({})::{ty}", show(x)),
        Expr::Call(f, args) => format!("{}({})", f.name(), args.iter().map(show).collect::<Vec<_>>().join(", ")),
        Expr::Subquery(s) => match &s.kind {
            SubqueryKind::Exists => format!("(EXISTS (SubPlan {}))", s.id + 1),
            SubqueryKind::In(x) => format!("(hashed SubPlan {} contains {})", s.id + 1, show(x)),
            SubqueryKind::Quantified { expr: x, op, all } => {
                format!("({} {} {} (SubPlan {}))", show(x), op.symbol(), if *all { "ALL" } else { "ANY" }, s.id + 1)
            }
            SubqueryKind::Scalar | SubqueryKind::Array(_) => format!("(SubPlan {})", s.id + 1),
        },
        Expr::Array(items, _) => format!("ARRAY[{}]", items.iter().map(show).collect::<Vec<_>>().join(", ")),
        Expr::Aggregate(i) | Expr::Window(i) | Expr::SetFunction(i) => format!("${i}"),
    }
}

/// An aggregate call (`count(*)`, `sum(t.x)`).
pub(crate) fn aggregate(a: &AggregateCall, names: &[String]) -> String {
    if a.func == AggregateFunc::CountStar {
        return "count(*)".to_owned();
    }
    let name = a.func.name();
    let args: Vec<String> = a.args.iter().map(|e| expr(e, names)).collect();
    format!("{name}({}{})", if a.distinct { "DISTINCT " } else { "" }, args.join(", "))
}

/// Sort keys as `Sort Key:` lists them.
pub(crate) fn sort_keys(keys: &[SortKey], names: &[String]) -> String {
    keys.iter()
        .map(|k| {
            let mut s = expr(&k.expr, names);
            if k.desc {
                s.push_str(" DESC");
            }
            if k.nulls_first != k.desc {
                s.push_str(if k.nulls_first { " NULLS FIRST" } else { " NULLS LAST" });
            }
            s
        })
        .collect::<Vec<_>>()
        .join(", ")
}
