//! The binder: `sqlparser`'s AST in, plans and bound expressions out.
//!
//! This is the only place (with `parse`) that names `sqlparser` types. It
//! resolves table, view and column names against the transaction's catalog,
//! gives every expression its PostgreSQL type (casting untyped literals to
//! the type their context asks for), checks grouping rules, and builds the
//! logical plan of each query. Errors carry PostgreSQL's SQLSTATE.
//!
//! Names resolve through a stack of [`Scope`]s: one per query level, so a
//! subquery sees the columns of the queries around it (a correlated
//! reference becomes [`Expr::Outer`] and marks the subqueries in between
//! as correlated).

mod ddl;
mod dml;
mod expr;
mod schema;
mod select;
pub(crate) mod sequence;
pub(crate) mod types;
mod window;

use memdb_engine::{DataType, Transaction};
use sqlparser::ast;

use crate::error::{Result, SqlError};
use crate::expr::Expr;
use crate::plan::{AggregateCall, Plan, RowLock, SetCall, WindowCall};

pub(crate) use ddl::{bind_ddl, sql_default, view_definition, views};
pub(crate) use dml::{DmlKind, DmlPlan, OnConflict};
pub(crate) use expr::is_aggregate_name;
pub(crate) use schema::{
    check_creatable, create_schema, qualify, relation_name_from_text, schema_exists, schemas, split_qualified,
};

/// A result column: name and type.
#[derive(Clone, Debug, PartialEq)]
pub struct OutputColumn {
    /// The column name clients see.
    pub name: String,
    /// Its type.
    pub data_type: DataType,
}

/// A bound query: its plan and the columns it returns.
#[derive(Clone, Debug)]
pub struct BoundQuery {
    /// The plan.
    pub plan: Plan,
    /// The result columns.
    pub columns: Vec<OutputColumn>,
}

/// One column visible in a scope.
#[derive(Clone, Debug)]
pub(crate) struct ScopeColumn {
    /// The table (alias) it belongs to.
    pub table: Option<String>,
    /// Its name.
    pub name: String,
    /// Its type.
    pub ty: DataType,
    /// Hidden from `*` and unqualified lookup (the right copy of a USING column).
    pub merged: bool,
}

/// The columns of a query level's FROM clause, in row order.
#[derive(Clone, Debug, Default)]
pub(crate) struct Scope {
    pub columns: Vec<ScopeColumn>,
}

/// A typed bound expression; `unknown` marks untyped literals (`'abc'`,
/// `NULL`, untyped parameters) whose type the context decides.
#[derive(Clone, Debug)]
pub(crate) struct Typed {
    pub expr: Expr,
    pub ty: DataType,
    pub unknown: bool,
}

impl Typed {
    pub fn new(expr: Expr, ty: DataType) -> Typed {
        Typed { expr, ty, unknown: false }
    }
}

/// Aggregates and window functions found while binding one query level.
#[derive(Default)]
pub(crate) struct Collected {
    /// Collect aggregates here (false: an aggregate is an error here).
    pub allow_aggregates: bool,
    pub aggregates: Vec<AggregateCall>,
    pub allow_windows: bool,
    pub windows: Vec<WindowCall>,
    /// The level's `WINDOW` clause, references resolved.
    pub named_windows: Vec<(String, ast::WindowSpec)>,
    /// Collect set-returning functions here (only the select list may
    /// have them).
    pub allow_set_functions: bool,
    pub set_functions: Vec<SetCall>,
    /// Where aggregates are not allowed, for the error message.
    pub clause: &'static str,
}

/// A CTE visible to the query being bound.
#[derive(Clone, Debug)]
pub(crate) struct CteBinding {
    pub id: usize,
    pub name: String,
    pub columns: Vec<OutputColumn>,
}

/// Binds statements against one transaction's view of the catalog.
pub(crate) struct Binder<'t> {
    pub txn: &'t mut Transaction,
    /// Scopes of the enclosing query levels, innermost last.
    scopes: Vec<Scope>,
    /// Per level: whether a name resolved through it to an outer level.
    correlated: Vec<bool>,
    /// Aggregates/windows of each level being bound, innermost last.
    collected: Vec<Collected>,
    next_subquery: usize,
    /// CTEs in scope, innermost last.
    ctes: Vec<CteBinding>,
    next_cte: usize,
    /// Types of `$n` parameters (inferred where not given).
    pub params: Vec<Option<DataType>>,
    /// Views being expanded (to refuse recursion).
    expanding: Vec<String>,
    /// Whether a view was expanded: view definitions are data, so a plan
    /// that used one is not cached across statements.
    pub used_views: bool,
    /// The session user (the catalog's role).
    pub user: String,
    /// Query levels being bound (subqueries, derived tables, views).
    query_depth: usize,
    /// Binding the arguments of a function in FROM after other FROM items:
    /// their columns are the row so far, run through a lateral join.
    lateral_args: bool,
    /// The locking clauses of the query level being bound: the lock and
    /// the FROM item it names (`FOR UPDATE OF t`; `None`: every item), and
    /// whether a named item was found.
    lock_clauses: Vec<(RowLock, Option<String>, bool)>,
}

/// The deepest nesting of queries within a statement. Binding, planning
/// and running recurse several frames per level; 64 levels fit a 2 MB
/// thread stack with room to spare (about 130 do), so embedded callers on
/// ordinary threads are safe too.
pub(crate) const MAX_QUERY_DEPTH: usize = 64;

impl<'t> Binder<'t> {
    /// A binder over a transaction, with the given parameter types.
    pub fn new(txn: &'t mut Transaction, params: Vec<Option<DataType>>) -> Binder<'t> {
        Binder {
            txn,
            scopes: Vec::new(),
            correlated: Vec::new(),
            collected: Vec::new(),
            next_subquery: 0,
            ctes: Vec::new(),
            next_cte: 0,
            params,
            expanding: Vec::new(),
            used_views: false,
            user: "memdb".to_owned(),
            query_depth: 0,
            lateral_args: false,
            lock_clauses: Vec::new(),
        }
    }

    fn subquery_id(&mut self) -> usize {
        self.next_subquery += 1;
        self.next_subquery
    }

    /// Resolves a (possibly qualified) column name in the scope stack.
    fn resolve(&mut self, table: Option<&str>, name: &str) -> Result<Typed> {
        let depth_count = self.scopes.len();
        for depth in 0..depth_count {
            let level = depth_count - 1 - depth;
            let scope = &self.scopes[level];
            let mut found: Option<(usize, &ScopeColumn)> = None;
            let mut table_seen = false;
            for (i, c) in scope.columns.iter().enumerate() {
                let table_matches = match table {
                    Some(t) => c.table.as_deref() == Some(t),
                    None => !c.merged,
                };
                if table.is_some() && table_matches {
                    table_seen = true;
                }
                if table_matches && c.name == name {
                    if found.is_some() {
                        return Err(SqlError::AmbiguousColumn(match table {
                            Some(t) => format!("{t}.{name}"),
                            None => name.to_owned(),
                        }));
                    }
                    found = Some((i, c));
                }
            }
            if let Some((index, c)) = found {
                let ty = c.ty.clone();
                if depth == 0 {
                    return Ok(Typed::new(Expr::Column(index), ty));
                }
                for flag in &mut self.correlated[level + 1..] {
                    *flag = true;
                }
                return Ok(Typed::new(Expr::Outer { depth, index }, ty));
            }
            if table_seen {
                return Err(SqlError::UndefinedColumn(format!("{}.{name}", table.unwrap_or_default())));
            }
        }
        match table {
            Some(t) if !self.scopes.iter().any(|s| s.columns.iter().any(|c| c.table.as_deref() == Some(t))) => {
                Err(SqlError::MissingFromEntry(t.to_owned()))
            }
            Some(t) => Err(SqlError::UndefinedColumn(format!("{t}.{name}"))),
            None => Err(SqlError::UndefinedColumn(name.to_owned())),
        }
    }

    fn cte(&self, name: &str) -> Option<&CteBinding> {
        self.ctes.iter().rev().find(|c| c.name == name)
    }
}

/// An identifier as PostgreSQL folds it: unquoted names are lower-cased.
pub(crate) fn ident(id: &ast::Ident) -> String {
    if id.quote_style.is_some() { id.value.clone() } else { id.value.to_lowercase() }
}

/// An object name (`schema.table` or `table`), folded, as the engine's
/// catalog names it: `schema.table`, or the bare name in `public` (see
/// [`schema`]). A database name in front must be memdb's.
pub(crate) fn object_name(name: &ast::ObjectName) -> Result<String> {
    let parts: Vec<String> = name
        .0
        .iter()
        .map(|p| match p.as_ident() {
            Some(id) => Ok(ident(id)),
            None => Err(SqlError::Semantic(format!("unexpected name {p}"))),
        })
        .collect::<Result<_>>()?;
    match parts.as_slice() {
        [name] => Ok(name.clone()),
        [schema, name] => Ok(qualify(schema, name)),
        [db, schema, name] if db == "memdb" => Ok(qualify(schema, name)),
        [db, _, _] => Err(SqlError::FeatureNotSupported(format!("cross-database references: {db}"))),
        _ => Err(SqlError::Semantic(format!("improper qualified name (too many dotted names): {name}"))),
    }
}

/// An identifier's folded name (for statement names, savepoints).
pub(crate) fn ident_name(id: &ast::Ident) -> String {
    ident(id)
}

/// Casts a bound expression to a type (for EXECUTE parameters).
pub(crate) fn cast_expr(t: Typed, ty: &DataType) -> Result<Expr> {
    expr::cast_to(t, ty)
}
