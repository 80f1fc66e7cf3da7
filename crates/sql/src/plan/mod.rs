//! Query plans: the tree of relational operators a query runs as.
//!
//! The binder builds a plan from a query (logical shape, names resolved);
//! the optimizer (`optimize`) rewrites it in place — constant folding,
//! predicate pushdown into scans, index selection, hash joins — and the
//! executor (`exec`) turns each node into an operator that produces rows
//! in batches. Every node's output is a row of values; expressions above a
//! node refer to its output columns by position.

mod estimate;
mod explain;
mod show;

use std::ops::Bound;

use memdb_engine::{DataType, Table};

use crate::expr::Expr;

pub use explain::{ExplainOptions, explain, explain_json, explain_modify, modify_json, plan_json};

/// A relational operator tree.
#[derive(Clone, Debug, PartialEq)]
pub enum Plan {
    /// The rows of a table (all live columns, in order), read through
    /// `access`, keeping those that pass `filter`.
    Scan {
        /// The table.
        table: Table,
        /// The name the query gave it (alias or table name), for EXPLAIN.
        alias: String,
        /// How rows are found.
        access: Access,
        /// A predicate over the table's columns.
        filter: Option<Expr>,
        /// Lock each row read (`SELECT … FOR UPDATE / SHARE`).
        lock: Option<RowLock>,
        /// Append the row id as a last column (for UPDATE and DELETE).
        row_id: bool,
        /// The columns anything above reads (`None`: all); the others come
        /// back as NULL without being decoded.
        columns: Option<Vec<usize>>,
    },
    /// Literal rows (`VALUES`, and `SELECT` without `FROM` as one empty row).
    Values {
        /// Rows of expressions (evaluated once per execution).
        rows: Vec<Vec<Expr>>,
        /// Number of columns.
        width: usize,
    },
    /// A set-returning function in FROM (`generate_series`, `unnest`).
    Function {
        /// Which function.
        function: TableFunction,
        /// Its arguments.
        args: Vec<Expr>,
        /// `WITH ORDINALITY`: a last `bigint` column numbering the rows.
        ordinality: bool,
    },
    /// Rows passing a predicate.
    Filter {
        /// Input.
        input: Box<Plan>,
        /// The predicate (only `true` passes).
        predicate: Expr,
    },
    /// Computes output columns from input rows.
    Project {
        /// Input.
        input: Box<Plan>,
        /// One expression per output column.
        exprs: Vec<Expr>,
    },
    /// A nested-loop join: every left row against the (materialized) right
    /// rows. Output: left columns then right columns.
    NestedLoopJoin {
        /// Left (outer) input.
        left: Box<Plan>,
        /// Right (inner) input.
        right: Box<Plan>,
        /// Join type.
        kind: JoinKind,
        /// The join condition over left ++ right columns.
        on: Option<Expr>,
    },
    /// A lateral join: the right side runs once per left row, seeing that
    /// row as its enclosing row (`FROM a, LATERAL (…)`). Output: left
    /// columns then right columns.
    Apply {
        /// Left input.
        left: Box<Plan>,
        /// Right input, re-run per left row.
        right: Box<Plan>,
        /// `Inner` or `Left`.
        kind: JoinKind,
        /// The join condition over left ++ right columns.
        on: Option<Expr>,
    },
    /// A hash join on equal keys: builds a hash table on the right input
    /// and probes it with the left. Output: left columns then right columns.
    HashJoin {
        /// Left (probe) input.
        left: Box<Plan>,
        /// Right (build) input.
        right: Box<Plan>,
        /// Join type.
        kind: JoinKind,
        /// Key expressions over the left columns.
        left_keys: Vec<Expr>,
        /// Key expressions over the right columns.
        right_keys: Vec<Expr>,
        /// Additional condition over left ++ right columns.
        residual: Option<Expr>,
        /// Which output columns the plan above reads (`None`: all, as
        /// before column pruning). The join fills the others with NULL
        /// instead of copying them, and emits zero-width rows when the plan
        /// above reads none (`count(*)` over a join).
        emit: Option<Vec<bool>>,
    },
    /// Grouping and aggregation: output is the group-by values, then one
    /// column per aggregate.
    Aggregate {
        /// Input.
        input: Box<Plan>,
        /// Group-by expressions over the input.
        group_by: Vec<Expr>,
        /// Aggregate calls over the input.
        aggregates: Vec<AggregateCall>,
    },
    /// Window functions: output is the input columns, then one column per
    /// window function.
    Window {
        /// Input.
        input: Box<Plan>,
        /// The window function calls.
        functions: Vec<WindowCall>,
    },
    /// Set-returning functions of a select list (PostgreSQL's
    /// ProjectSet): each input row once per row of the longest function
    /// result, the input columns then one column per function; shorter
    /// results are padded with NULL, and a row whose functions all return
    /// nothing goes.
    ProjectSet {
        /// Input.
        input: Box<Plan>,
        /// The function calls, over the input row.
        functions: Vec<SetCall>,
    },
    /// Sorting (with `limit` set, a top-k that keeps only the first rows).
    Sort {
        /// Input.
        input: Box<Plan>,
        /// Sort keys, most significant first.
        keys: Vec<SortKey>,
        /// Keep only this many rows (LIMIT + OFFSET folded in by the optimizer).
        limit: Option<usize>,
    },
    /// `LIMIT` / `OFFSET`.
    Limit {
        /// Input.
        input: Box<Plan>,
        /// Row count (NULL or absent: all).
        limit: Option<Expr>,
        /// Rows to skip.
        offset: Option<Expr>,
    },
    /// Removes duplicate rows (`DISTINCT`), or with `on` keeps the first row
    /// per key (`DISTINCT ON`).
    Distinct {
        /// Input.
        input: Box<Plan>,
        /// `DISTINCT ON` key expressions.
        on: Option<Vec<Expr>>,
    },
    /// `UNION` / `INTERSECT` / `EXCEPT`, with or without `ALL`.
    SetOp {
        /// Which operation.
        op: SetOpKind,
        /// Keep duplicates.
        all: bool,
        /// Left input.
        left: Box<Plan>,
        /// Right input.
        right: Box<Plan>,
    },
    /// The rows of a common table expression of the enclosing query
    /// (materialized once per execution).
    CteScan {
        /// Index of the CTE in the statement's CTE list.
        id: usize,
        /// Name, for EXPLAIN.
        name: String,
        /// Number of columns.
        width: usize,
    },
    /// `WITH [RECURSIVE]`: materializes CTEs, then runs `input`.
    With {
        /// The CTEs, by id.
        ctes: Vec<Cte>,
        /// The query using them.
        input: Box<Plan>,
    },
}

/// A materialized common table expression.
#[derive(Clone, Debug, PartialEq)]
pub struct Cte {
    /// Its id (index into the statement's CTE results).
    pub id: usize,
    /// The non-recursive part (or the whole query).
    pub plan: Plan,
    /// For `WITH RECURSIVE`: the recursive part, run until it adds no rows,
    /// and whether duplicates are kept (`UNION ALL`).
    pub recursive: Option<(Box<Plan>, bool)>,
}

/// A row lock taken while scanning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowLock {
    /// `FOR UPDATE` (exclusive) or `FOR SHARE`.
    pub exclusive: bool,
    /// `NOWAIT`
    pub nowait: bool,
    /// `SKIP LOCKED`
    pub skip_locked: bool,
}

/// How a scan finds its rows.
#[derive(Clone, Debug, PartialEq)]
pub enum Access {
    /// Every row.
    Full,
    /// Rows whose key in an ordered index lies within bounds (each bound a
    /// prefix of the index columns, evaluated once per execution).
    IndexRange {
        /// Index name.
        index: String,
        /// Lower bound.
        lower: Bound<Vec<Expr>>,
        /// Upper bound.
        upper: Bound<Vec<Expr>>,
        /// Read backwards (for ORDER BY … DESC).
        reverse: bool,
    },
    /// Rows whose index key equals one of several keys (`IN` lists, point
    /// lookups on hash or unique indexes).
    IndexPoints {
        /// Index name.
        index: String,
        /// The keys (full or prefix), each a list of expressions.
        keys: Vec<Vec<Expr>>,
    },
}

/// Join types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinKind {
    /// Matching pairs only.
    Inner,
    /// Plus unmatched left rows padded with NULLs.
    Left,
    /// Plus unmatched right rows padded with NULLs.
    Right,
    /// Plus unmatched rows of both sides.
    Full,
    /// Left rows that have a match (EXISTS / IN), left columns only.
    Semi,
    /// Left rows that have no match (NOT EXISTS), left columns only.
    Anti,
}

/// Set operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetOpKind {
    /// `UNION`
    Union,
    /// `INTERSECT`
    Intersect,
    /// `EXCEPT`
    Except,
}

/// One sort key.
#[derive(Clone, Debug, PartialEq)]
pub struct SortKey {
    /// The expression over the input row.
    pub expr: Expr,
    /// Descending.
    pub desc: bool,
    /// NULLs before other values (PostgreSQL's default: only for DESC).
    pub nulls_first: bool,
}

/// Aggregate functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AggregateFunc {
    /// `count(*)`
    CountStar,
    /// `count(x)`
    Count,
    /// `sum`
    Sum,
    /// `avg`
    Avg,
    /// `min`
    Min,
    /// `max`
    Max,
    /// `string_agg(x, sep)`
    StringAgg,
    /// `array_agg`
    ArrayAgg,
    /// `bool_and` / `every`
    BoolAnd,
    /// `bool_or`
    BoolOr,
    /// `json_agg`
    JsonAgg,
    /// `jsonb_agg`
    JsonbAgg,
    /// `json_object_agg` / `jsonb_object_agg`
    JsonObjectAgg,
    /// `stddev` / `stddev_samp`
    StddevSamp,
    /// `stddev_pop`
    StddevPop,
    /// `variance` / `var_samp`
    VarSamp,
    /// `var_pop`
    VarPop,
    /// `bit_and`
    BitAnd,
    /// `bit_or`
    BitOr,
}

impl AggregateFunc {
    /// The function's SQL name (EXPLAIN shows it).
    pub fn name(self) -> &'static str {
        match self {
            AggregateFunc::CountStar | AggregateFunc::Count => "count",
            AggregateFunc::Sum => "sum",
            AggregateFunc::Avg => "avg",
            AggregateFunc::Min => "min",
            AggregateFunc::Max => "max",
            AggregateFunc::StringAgg => "string_agg",
            AggregateFunc::ArrayAgg => "array_agg",
            AggregateFunc::BoolAnd => "bool_and",
            AggregateFunc::BoolOr => "bool_or",
            AggregateFunc::JsonAgg => "json_agg",
            AggregateFunc::JsonbAgg => "jsonb_agg",
            AggregateFunc::JsonObjectAgg => "json_object_agg",
            AggregateFunc::StddevSamp => "stddev",
            AggregateFunc::StddevPop => "stddev_pop",
            AggregateFunc::VarSamp => "variance",
            AggregateFunc::VarPop => "var_pop",
            AggregateFunc::BitAnd => "bit_and",
            AggregateFunc::BitOr => "bit_or",
        }
    }
}

/// One aggregate call.
#[derive(Clone, Debug, PartialEq)]
pub struct AggregateCall {
    /// The function.
    pub func: AggregateFunc,
    /// Arguments over the input row.
    pub args: Vec<Expr>,
    /// `DISTINCT`
    pub distinct: bool,
    /// `FILTER (WHERE …)`
    pub filter: Option<Expr>,
    /// `ORDER BY` inside the call (string_agg, array_agg, json_agg).
    pub order_by: Vec<SortKey>,
    /// The result type.
    pub result_type: DataType,
}

/// Window functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowFunc {
    /// `row_number()`
    RowNumber,
    /// `rank()`
    Rank,
    /// `dense_rank()`
    DenseRank,
    /// `percent_rank()`
    PercentRank,
    /// `cume_dist()`
    CumeDist,
    /// `ntile(n)`
    Ntile,
    /// `lag(x [, offset [, default]])`
    Lag,
    /// `lead(x [, offset [, default]])`
    Lead,
    /// `first_value(x)`
    FirstValue,
    /// `last_value(x)`
    LastValue,
    /// `nth_value(x, n)`
    NthValue,
    /// An aggregate over the window frame.
    Aggregate(AggregateFunc),
}

/// One set-returning function call of a select list.
#[derive(Clone, Debug, PartialEq)]
pub struct SetCall {
    /// Which function (one output column).
    pub function: TableFunction,
    /// Its arguments, over the input row.
    pub args: Vec<Expr>,
}

/// One window function call.
#[derive(Clone, Debug, PartialEq)]
pub struct WindowCall {
    /// The function.
    pub func: WindowFunc,
    /// Arguments over the input row.
    pub args: Vec<Expr>,
    /// `PARTITION BY`
    pub partition_by: Vec<Expr>,
    /// `ORDER BY`
    pub order_by: Vec<SortKey>,
    /// The frame.
    pub frame: Frame,
    /// Aggregate `DISTINCT` / `FILTER`.
    pub filter: Option<Expr>,
    /// The result type.
    pub result_type: DataType,
}

/// A window frame (`ROWS`/`RANGE`/`GROUPS BETWEEN start AND end`).
#[derive(Clone, Debug, PartialEq)]
pub struct Frame {
    /// What the offsets count.
    pub units: FrameUnits,
    /// Start bound.
    pub start: FrameBound,
    /// End bound.
    pub end: FrameBound,
    /// `RANGE` with offsets: the window's ORDER BY key (column 0 of a
    /// one-column row) in the type of the bounds' values, which rows'
    /// keys are compared with.
    pub range_key: Option<Expr>,
}

impl Frame {
    /// The frame without a frame clause: `RANGE BETWEEN UNBOUNDED
    /// PRECEDING AND CURRENT ROW`.
    pub fn default_frame() -> Frame {
        Frame {
            units: FrameUnits::Range,
            start: FrameBound::UnboundedPreceding,
            end: FrameBound::CurrentRow,
            range_key: None,
        }
    }
}

/// What a frame's offsets count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameUnits {
    /// Rows.
    Rows,
    /// Distance in the ORDER BY key's value; peers enter and leave together.
    Range,
    /// Peer groups.
    Groups,
}

/// A window frame bound.
#[derive(Clone, Debug, PartialEq)]
pub enum FrameBound {
    /// `UNBOUNDED PRECEDING`
    UnboundedPreceding,
    /// `offset PRECEDING`
    Preceding(FrameOffset),
    /// `CURRENT ROW`
    CurrentRow,
    /// `offset FOLLOWING`
    Following(FrameOffset),
    /// `UNBOUNDED FOLLOWING`
    UnboundedFollowing,
}

/// A frame bound's offset.
#[derive(Clone, Debug, PartialEq)]
pub struct FrameOffset {
    /// The offset: a constant or parameter; `bigint` for ROWS and GROUPS,
    /// for RANGE the type that adds to the ORDER BY key.
    pub size: Expr,
    /// RANGE: the bound's value, computed from the current row's key
    /// (column 0 of a one-column row): `key - size` or `key + size`
    /// depending on the direction.
    pub bound: Option<Expr>,
    /// RANGE: whether the bound adds the size (so a bound beyond the type's
    /// range lies above every key, not below).
    pub adds: bool,
}

/// Set-returning functions usable in FROM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableFunction {
    /// `generate_series(start, stop [, step])`
    GenerateSeries,
    /// `unnest(array)`
    Unnest,
    /// `jsonb_array_elements` / `json_array_elements` and their `_text`
    /// forms: one row per element.
    JsonArrayElements {
        /// jsonb (not json) elements.
        binary: bool,
        /// Elements as text (`_text`).
        text: bool,
    },
    /// `jsonb_each` / `json_each` and their `_text` forms: one `(key,
    /// value)` row per field.
    JsonEach {
        /// jsonb (not json) values.
        binary: bool,
        /// Values as text (`_text`).
        text: bool,
    },
    /// `jsonb_object_keys` / `json_object_keys`
    JsonObjectKeys,
    /// `regexp_split_to_table(text, pattern [, flags])`
    RegexpSplitToTable,
    /// `regexp_matches(text, pattern [, flags])`: one `text[]` row per match.
    RegexpMatches,
}

impl TableFunction {
    /// Every set-returning function.
    pub const ALL: [TableFunction; 13] = [
        TableFunction::GenerateSeries,
        TableFunction::Unnest,
        TableFunction::JsonArrayElements { binary: true, text: false },
        TableFunction::JsonArrayElements { binary: true, text: true },
        TableFunction::JsonArrayElements { binary: false, text: false },
        TableFunction::JsonArrayElements { binary: false, text: true },
        TableFunction::JsonEach { binary: true, text: false },
        TableFunction::JsonEach { binary: true, text: true },
        TableFunction::JsonEach { binary: false, text: false },
        TableFunction::JsonEach { binary: false, text: true },
        TableFunction::JsonObjectKeys,
        TableFunction::RegexpSplitToTable,
        TableFunction::RegexpMatches,
    ];

    /// The function of a SQL name, if it is one.
    pub fn lookup(name: &str) -> Option<TableFunction> {
        if name == "json_object_keys" {
            return Some(TableFunction::JsonObjectKeys);
        }
        TableFunction::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The function's SQL name (EXPLAIN shows it).
    pub fn name(self) -> &'static str {
        match self {
            TableFunction::GenerateSeries => "generate_series",
            TableFunction::Unnest => "unnest",
            TableFunction::JsonArrayElements { binary: true, text: false } => "jsonb_array_elements",
            TableFunction::JsonArrayElements { binary: true, text: true } => "jsonb_array_elements_text",
            TableFunction::JsonArrayElements { binary: false, text: false } => "json_array_elements",
            TableFunction::JsonArrayElements { binary: false, text: true } => "json_array_elements_text",
            TableFunction::JsonEach { binary: true, text: false } => "jsonb_each",
            TableFunction::JsonEach { binary: true, text: true } => "jsonb_each_text",
            TableFunction::JsonEach { binary: false, text: false } => "json_each",
            TableFunction::JsonEach { binary: false, text: true } => "json_each_text",
            TableFunction::JsonObjectKeys => "jsonb_object_keys",
            TableFunction::RegexpSplitToTable => "regexp_split_to_table",
            TableFunction::RegexpMatches => "regexp_matches",
        }
    }

    /// The function's output columns (before any `WITH ORDINALITY`).
    pub fn width(self) -> usize {
        match self {
            TableFunction::JsonEach { .. } => 2,
            _ => 1,
        }
    }
}

impl Plan {
    /// The number of output columns.
    pub fn width(&self) -> usize {
        match self {
            Plan::Scan { table, row_id, .. } => table.columns().len() + usize::from(*row_id),
            Plan::Values { width, .. } | Plan::CteScan { width, .. } => *width,
            Plan::Function { function, ordinality, .. } => function.width() + usize::from(*ordinality),
            Plan::Filter { input, .. }
            | Plan::Sort { input, .. }
            | Plan::Limit { input, .. }
            | Plan::Distinct { input, .. }
            | Plan::With { input, .. } => input.width(),
            Plan::Project { exprs, .. } => exprs.len(),
            Plan::Apply { left, right, kind, .. } => match kind {
                JoinKind::Semi | JoinKind::Anti => left.width(),
                _ => left.width() + right.width(),
            },
            Plan::NestedLoopJoin { left, right, kind, .. } | Plan::HashJoin { left, right, kind, .. } => match kind {
                JoinKind::Semi | JoinKind::Anti => left.width(),
                _ => left.width() + right.width(),
            },
            Plan::Aggregate { group_by, aggregates, .. } => group_by.len() + aggregates.len(),
            Plan::Window { input, functions } => input.width() + functions.len(),
            Plan::ProjectSet { input, functions } => input.width() + functions.len(),
            Plan::SetOp { left, .. } => left.width(),
        }
    }
}

impl Plan {
    /// Calls `f` on every expression of this plan's nodes (not descending
    /// into subqueries inside the expressions: `f` decides that).
    pub fn for_each_expr_mut(&mut self, f: &mut dyn FnMut(&mut Expr)) {
        match self {
            Plan::Scan { access, filter, .. } => {
                match access {
                    Access::Full => {}
                    Access::IndexRange { lower, upper, .. } => {
                        for b in [lower, upper] {
                            if let Bound::Included(v) | Bound::Excluded(v) = b {
                                v.iter_mut().for_each(&mut *f);
                            }
                        }
                    }
                    Access::IndexPoints { keys, .. } => keys.iter_mut().flatten().for_each(&mut *f),
                }
                if let Some(e) = filter {
                    f(e);
                }
            }
            Plan::Values { rows, .. } => rows.iter_mut().flatten().for_each(f),
            Plan::Function { args, .. } => args.iter_mut().for_each(f),
            Plan::Filter { input, predicate } => {
                f(predicate);
                input.for_each_expr_mut(f);
            }
            Plan::Project { input, exprs } => {
                exprs.iter_mut().for_each(&mut *f);
                input.for_each_expr_mut(f);
            }
            Plan::NestedLoopJoin { left, right, on, .. } | Plan::Apply { left, right, on, .. } => {
                if let Some(e) = on {
                    f(e);
                }
                left.for_each_expr_mut(f);
                right.for_each_expr_mut(f);
            }
            Plan::HashJoin { left, right, left_keys, right_keys, residual, .. } => {
                left_keys.iter_mut().chain(right_keys.iter_mut()).for_each(&mut *f);
                if let Some(e) = residual {
                    f(e);
                }
                left.for_each_expr_mut(f);
                right.for_each_expr_mut(f);
            }
            Plan::Aggregate { input, group_by, aggregates } => {
                group_by.iter_mut().for_each(&mut *f);
                for a in aggregates {
                    a.args.iter_mut().for_each(&mut *f);
                    if let Some(e) = &mut a.filter {
                        f(e);
                    }
                    a.order_by.iter_mut().for_each(|k| f(&mut k.expr));
                }
                input.for_each_expr_mut(f);
            }
            Plan::ProjectSet { input, functions } => {
                for c in functions {
                    c.args.iter_mut().for_each(&mut *f);
                }
                input.for_each_expr_mut(f);
            }
            Plan::Window { input, functions } => {
                for w in functions {
                    w.args.iter_mut().chain(w.partition_by.iter_mut()).for_each(&mut *f);
                    w.order_by.iter_mut().for_each(|k| f(&mut k.expr));
                    if let Some(e) = &mut w.filter {
                        f(e);
                    }
                    // The offsets' sizes read no row (the RANGE bound
                    // expressions read the one-column key row, not the input).
                    for bound in [&mut w.frame.start, &mut w.frame.end] {
                        if let FrameBound::Preceding(o) | FrameBound::Following(o) = bound {
                            f(&mut o.size);
                        }
                    }
                }
                input.for_each_expr_mut(f);
            }
            Plan::Sort { input, keys, .. } => {
                keys.iter_mut().for_each(|k| f(&mut k.expr));
                input.for_each_expr_mut(f);
            }
            Plan::Limit { input, limit, offset } => {
                limit.iter_mut().chain(offset.iter_mut()).for_each(&mut *f);
                input.for_each_expr_mut(f);
            }
            Plan::Distinct { input, on } => {
                on.iter_mut().flatten().for_each(&mut *f);
                input.for_each_expr_mut(f);
            }
            Plan::SetOp { left, right, .. } => {
                left.for_each_expr_mut(f);
                right.for_each_expr_mut(f);
            }
            Plan::CteScan { .. } => {}
            Plan::With { ctes, input } => {
                for c in ctes {
                    c.plan.for_each_expr_mut(f);
                    if let Some((p, _)) = &mut c.recursive {
                        p.for_each_expr_mut(f);
                    }
                }
                input.for_each_expr_mut(f);
            }
        }
    }
}
