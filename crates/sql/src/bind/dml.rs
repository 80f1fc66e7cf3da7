//! Binding INSERT, UPDATE and DELETE into plans that produce the rows to
//! write.

use memdb_engine::{DataType, Table};
use sqlparser::ast;

use super::expr::resolve_unknown;
use super::{Binder, Collected, OutputColumn, Scope, ScopeColumn, ident, object_name};
use crate::error::{Result, SqlError, unsupported};
use crate::expr::{Expr, Func};
use crate::plan::{Access, JoinKind, Plan};

/// What a DML statement does with each row its source produces.
#[derive(Clone, Debug)]
pub(crate) enum DmlKind {
    /// Source rows are values for `columns` (logical positions); a
    /// `DEFAULT` marker (`coalesce()` with no arguments) means the default.
    Insert { columns: Vec<usize>, on_conflict: Option<OnConflict> },
    /// Source rows are the table's columns, its row id, then FROM columns;
    /// each assignment computes a new column value from them.
    Update { assignments: Vec<(usize, Expr)> },
    /// Source rows are the table's columns then its row id.
    Delete,
}

impl DmlKind {
    /// The statement's keyword, in capitals (`INSERT`).
    pub(crate) fn verb(&self) -> &'static str {
        match self {
            DmlKind::Insert { .. } => "INSERT",
            DmlKind::Update { .. } => "UPDATE",
            DmlKind::Delete => "DELETE",
        }
    }
}

/// `ON CONFLICT`.
#[derive(Clone, Debug)]
pub(crate) enum OnConflict {
    /// `DO NOTHING`
    Nothing {
        /// Conflict target columns (logical); empty: any unique index.
        target: Vec<usize>,
    },
    /// `DO UPDATE SET … [WHERE …]`: expressions over the existing row then
    /// the proposed row (`excluded`).
    Update { target: Vec<usize>, assignments: Vec<(usize, Expr)>, predicate: Option<Expr> },
}

/// A bound DML statement.
#[derive(Clone, Debug)]
pub(crate) struct DmlPlan {
    pub table: Table,
    pub kind: DmlKind,
    pub source: Plan,
    /// For UPDATE/DELETE: the WHERE predicate over the source row, re-checked
    /// against a concurrently updated row under READ COMMITTED.
    pub predicate: Option<Expr>,
    /// RETURNING expressions over the table's row.
    pub returning: Option<Vec<Expr>>,
    pub returning_columns: Vec<OutputColumn>,
}

fn table_scope(table: &Table, alias: &str) -> Vec<ScopeColumn> {
    table
        .columns()
        .iter()
        .map(|c| ScopeColumn {
            table: Some(alias.to_owned()),
            name: c.name.clone(),
            ty: c.data_type.clone(),
            merged: false,
        })
        .collect()
}

impl Binder<'_> {
    fn enter(&mut self, columns: Vec<ScopeColumn>) {
        self.scopes.push(Scope { columns });
        self.correlated.push(false);
        self.collected.push(Collected { clause: "this statement", ..Default::default() });
    }

    fn leave(&mut self) {
        self.collected.pop();
        self.correlated.pop();
        self.scopes.pop();
    }

    fn writable_table(&mut self, name: &str) -> Result<Table> {
        match self.txn.table(name) {
            Ok(t) => Ok(t),
            Err(memdb_engine::Error::UndefinedTable(n)) => {
                if super::ddl::view_definition(self.txn, name)?.is_some() {
                    return Err(SqlError::WrongObjectType(format!("cannot change view \"{name}\"")));
                }
                Err(SqlError::Engine(memdb_engine::Error::UndefinedTable(n)))
            }
            Err(e) => Err(e.into()),
        }
    }

    fn returning(
        &mut self,
        items: Option<&Vec<ast::SelectItem>>,
        scope: Vec<ScopeColumn>,
    ) -> Result<(Option<Vec<Expr>>, Vec<OutputColumn>)> {
        let Some(items) = items else { return Ok((None, Vec::new())) };
        self.enter(scope.clone());
        let mut exprs = Vec::new();
        let mut columns = Vec::new();
        let result: Result<()> = (|| {
            for item in items {
                match item {
                    ast::SelectItem::QualifiedWildcard(ast::SelectItemQualifiedWildcardKind::ObjectName(name), _)
                        if name.0.last().and_then(|p| p.as_ident()).is_some_and(|id| {
                            let qualifier = ident(id);
                            scope
                                .first()
                                .and_then(|c| c.table.as_deref())
                                .is_some_and(|t| t == qualifier || t.rsplit('.').next() == Some(qualifier.as_str()))
                        }) =>
                    {
                        for (i, c) in scope.iter().enumerate() {
                            exprs.push(Expr::Column(i));
                            columns.push(OutputColumn { name: c.name.clone(), data_type: c.ty.clone() });
                        }
                    }
                    ast::SelectItem::QualifiedWildcard(kind, _) => {
                        return Err(SqlError::MissingFromEntry(kind.to_string()));
                    }
                    ast::SelectItem::Wildcard(_) => {
                        for (i, c) in scope.iter().enumerate() {
                            exprs.push(Expr::Column(i));
                            columns.push(OutputColumn { name: c.name.clone(), data_type: c.ty.clone() });
                        }
                    }
                    ast::SelectItem::UnnamedExpr(e) => {
                        let t = resolve_unknown(self.expr(e)?)?;
                        let name = super::select::column_name(e);
                        exprs.push(t.expr);
                        columns.push(OutputColumn { name, data_type: t.ty });
                    }
                    ast::SelectItem::ExprWithAlias { expr, alias } => {
                        let t = resolve_unknown(self.expr(expr)?)?;
                        exprs.push(t.expr);
                        columns.push(OutputColumn { name: ident(alias), data_type: t.ty });
                    }
                    other => return Err(unsupported(format!("RETURNING {other}"))),
                }
            }
            Ok(())
        })();
        self.leave();
        result?;
        Ok((Some(exprs), columns))
    }

    /// Binds `INSERT`.
    pub(crate) fn insert(&mut self, ins: &ast::Insert) -> Result<DmlPlan> {
        let ast::TableObject::TableName(name) = &ins.table else {
            return Err(unsupported("INSERT into a table function"));
        };
        let name = object_name(name)?;
        let table = self.writable_table(&name)?;
        let all: Vec<(String, DataType)> =
            table.columns().iter().map(|c| (c.name.clone(), c.data_type.clone())).collect();
        let columns: Vec<usize> = if ins.columns.is_empty() {
            (0..all.len()).collect()
        } else {
            let mut cols = Vec::new();
            for c in &ins.columns {
                let cname = object_name(c)?;
                let pos = all
                    .iter()
                    .position(|(n, _)| *n == cname)
                    .ok_or_else(|| SqlError::UndefinedColumn(format!("{cname}\" of relation \"{name}")))?;
                if cols.contains(&pos) {
                    return Err(SqlError::Semantic(format!("column \"{cname}\" specified more than once")));
                }
                cols.push(pos);
            }
            cols
        };
        let types: Vec<DataType> = columns.iter().map(|&c| all[c].1.clone()).collect();
        let source = match &ins.source {
            None => Plan::Values { rows: vec![Vec::new()], width: 0 },
            Some(q) => match q.body.as_ref() {
                ast::SetExpr::Values(v) if q.order_by.is_none() && q.limit_clause.is_none() && q.with.is_none() => {
                    let bound = self.values(v, Some(&types))?;
                    if bound.columns.len() > columns.len() {
                        return Err(SqlError::Semantic("INSERT has more expressions than target columns".into()));
                    }
                    bound.plan
                }
                _ => {
                    let bound = self.query(q)?;
                    if bound.columns.len() > columns.len() {
                        return Err(SqlError::Semantic("INSERT has more expressions than target columns".into()));
                    }
                    bound.plan
                }
            },
        };
        let width = source.width();
        let columns = if ins.source.is_none() { Vec::new() } else { columns[..width.min(columns.len())].to_vec() };
        // `INSERT INTO t AS a`: the target is `a` in ON CONFLICT and RETURNING.
        let alias = ins.table_alias.as_ref().map(|a| ident(&a.alias));
        let on_conflict = match &ins.on {
            None => None,
            Some(ast::OnInsert::OnConflict(oc)) => Some(self.on_conflict(&table, alias.as_deref(), oc)?),
            Some(other) => return Err(unsupported(format!("{other}"))),
        };
        let scope_name = alias.clone().unwrap_or_else(|| name.clone());
        let (returning, returning_columns) =
            self.returning(ins.returning.as_ref(), table_scope(&table, &scope_name))?;
        Ok(DmlPlan {
            table,
            kind: DmlKind::Insert { columns, on_conflict },
            source,
            predicate: None,
            returning,
            returning_columns,
        })
    }

    fn on_conflict(&mut self, table: &Table, alias: Option<&str>, oc: &ast::OnConflict) -> Result<OnConflict> {
        let names: Vec<String> = table.columns().iter().map(|c| c.name.clone()).collect();
        let target = match &oc.conflict_target {
            None => Vec::new(),
            Some(ast::ConflictTarget::Columns(cols)) => cols
                .iter()
                .map(|c| {
                    let n = ident(c);
                    names.iter().position(|x| *x == n).ok_or(SqlError::UndefinedColumn(n))
                })
                .collect::<Result<_>>()?,
            Some(ast::ConflictTarget::OnConstraint(name)) => {
                let cname = object_name(name)?;
                let schema = table.schema();
                let index = schema
                    .indexes
                    .iter()
                    .find(|i| i.constraint.as_deref() == Some(cname.as_str()) || i.name == cname)
                    .ok_or_else(|| {
                        SqlError::Engine(memdb_engine::Error::UndefinedObject {
                            kind: "constraint",
                            name: cname.clone(),
                        })
                    })?;
                let live: Vec<usize> = schema.live_columns().map(|(p, _)| p).collect();
                index.columns.iter().filter_map(|p| live.iter().position(|l| l == p)).collect()
            }
        };
        if !target.is_empty() {
            // The target must be exactly the columns of a unique index.
            let schema = table.schema();
            let live: Vec<usize> = schema.live_columns().map(|(p, _)| p).collect();
            let mut wanted = target.clone();
            wanted.sort_unstable();
            let matches = schema.indexes.iter().filter(|i| i.unique).any(|i| {
                let mut cols: Vec<usize> = i.columns.iter().filter_map(|p| live.iter().position(|l| l == p)).collect();
                cols.sort_unstable();
                cols == wanted
            });
            if !matches {
                return Err(SqlError::InvalidColumnReference(
                    "there is no unique or exclusion constraint matching the ON CONFLICT specification".into(),
                ));
            }
        }
        Ok(match &oc.action {
            ast::OnConflictAction::DoNothing => OnConflict::Nothing { target },
            ast::OnConflictAction::DoUpdate(du) => {
                if target.is_empty() {
                    return Err(SqlError::Semantic(
                        "ON CONFLICT DO UPDATE requires inference specification or constraint name".into(),
                    ));
                }
                let target_name = alias.map_or_else(|| unqualified(table.name()), str::to_owned);
                let mut scope = table_scope(table, &target_name);
                scope.extend(table_scope(table, "excluded"));
                self.enter(scope);
                let result = (|| -> Result<OnConflict> {
                    let assignments = self.assignments(table, &du.assignments)?;
                    let predicate = du.selection.as_ref().map(|p| self.predicate(p)).transpose()?;
                    Ok(OnConflict::Update { target, assignments, predicate })
                })();
                self.leave();
                result?
            }
        })
    }

    fn assignments(&mut self, table: &Table, list: &[ast::Assignment]) -> Result<Vec<(usize, Expr)>> {
        let cols = table.columns();
        let mut out: Vec<(usize, Expr)> = Vec::new();
        // `SET (a, b) = (x, y)` is `SET a = x, b = y`.
        let mut single: Vec<(&ast::ObjectName, &ast::Expr)> = Vec::new();
        for a in list {
            match &a.target {
                ast::AssignmentTarget::ColumnName(n) => single.push((n, &a.value)),
                ast::AssignmentTarget::Tuple(names) => {
                    let values: Vec<&ast::Expr> = match &a.value {
                        ast::Expr::Tuple(items) => items.iter().collect(),
                        ast::Expr::Function(f) if f.name.to_string().eq_ignore_ascii_case("row") => match &f.args {
                            ast::FunctionArguments::List(l) => l
                                .args
                                .iter()
                                .map(|arg| match arg {
                                    ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => Ok(e),
                                    other => Err(unsupported(format!("ROW item {other}"))),
                                })
                                .collect::<Result<_>>()?,
                            _ => Vec::new(),
                        },
                        ast::Expr::Subquery(_) => return Err(unsupported("SET (…) = (subquery)")),
                        other if names.len() == 1 => vec![other],
                        _ => {
                            return Err(SqlError::Semantic(
                                "source for a multiple-column UPDATE item must be a sub-SELECT or ROW() expression"
                                    .into(),
                            ));
                        }
                    };
                    if values.len() != names.len() {
                        return Err(SqlError::Semantic(format!(
                            "number of columns does not match number of values ({} and {})",
                            names.len(),
                            values.len()
                        )));
                    }
                    single.extend(names.iter().zip(values));
                }
            }
        }
        for (target, value) in single {
            let name = {
                let n = object_name(target)?;
                n.rsplit('.').next().unwrap_or(&n).to_owned()
            };
            let pos = cols
                .iter()
                .position(|c| c.name == name)
                .ok_or_else(|| SqlError::UndefinedColumn(format!("{name}\" of relation \"{}", table.name())))?;
            if out.iter().any(|(p, _)| *p == pos) {
                return Err(SqlError::Semantic(format!("multiple assignments to same column \"{name}\"")));
            }
            let ty = cols[pos].data_type.clone();
            let expr = if matches!(value, ast::Expr::Identifier(id) if id.value.eq_ignore_ascii_case("default") && id.quote_style.is_none())
            {
                Expr::Call(Func::Coalesce, Vec::new())
            } else {
                let t = self.expr(value)?;
                if t.unknown || t.ty == ty {
                    self.assign_to(t, &ty)?
                } else {
                    // Assignment casts happen on store; keep the value's own type.
                    t.expr
                }
            };
            out.push((pos, expr));
        }
        Ok(out)
    }

    /// Binds `UPDATE`.
    pub(crate) fn update(&mut self, up: &ast::Update) -> Result<DmlPlan> {
        let ast::TableFactor::Table { name, alias, .. } = &up.table.relation else {
            return Err(unsupported("UPDATE of this relation"));
        };
        if !up.table.joins.is_empty() {
            return Err(unsupported("UPDATE with joins"));
        }
        let tname = object_name(name)?;
        let table = self.writable_table(&tname)?;
        let alias = alias.as_ref().map(|a| ident(&a.name)).unwrap_or_else(|| unqualified(&tname));
        let (source, scope) = self.target_source(
            &table,
            &alias,
            up.from.as_ref().map(|f| match f {
                ast::UpdateTableFromKind::BeforeSet(t) | ast::UpdateTableFromKind::AfterSet(t) => t.as_slice(),
            }),
        )?;
        self.enter(scope);
        type Bound = (Vec<(usize, Expr)>, Option<Expr>);
        let result = (|| -> Result<Bound> {
            let assignments = self.assignments(&table, &up.assignments)?;
            let predicate = up.selection.as_ref().map(|p| self.predicate(p)).transpose()?;
            Ok((assignments, predicate))
        })();
        self.leave();
        let (assignments, predicate) = result?;
        let source = match &predicate {
            Some(p) => Plan::Filter { input: Box::new(source), predicate: p.clone() },
            None => source,
        };
        let (returning, returning_columns) = self.returning(up.returning.as_ref(), table_scope(&table, &alias))?;
        Ok(DmlPlan { table, kind: DmlKind::Update { assignments }, source, predicate, returning, returning_columns })
    }

    /// Binds `DELETE`.
    pub(crate) fn delete(&mut self, del: &ast::Delete) -> Result<DmlPlan> {
        let from = match &del.from {
            ast::FromTable::WithFromKeyword(t) | ast::FromTable::WithoutKeyword(t) => t,
        };
        let [item] = from.as_slice() else { return Err(unsupported("DELETE from several tables")) };
        let ast::TableFactor::Table { name, alias, .. } = &item.relation else {
            return Err(unsupported("DELETE from this relation"));
        };
        let tname = object_name(name)?;
        let table = self.writable_table(&tname)?;
        let alias = alias.as_ref().map(|a| ident(&a.name)).unwrap_or_else(|| unqualified(&tname));
        let (source, scope) = self.target_source(&table, &alias, del.using.as_deref())?;
        self.enter(scope);
        let predicate = del.selection.as_ref().map(|p| self.predicate(p)).transpose();
        self.leave();
        let predicate = predicate?;
        let source = match &predicate {
            Some(p) => Plan::Filter { input: Box::new(source), predicate: p.clone() },
            None => source,
        };
        let (returning, returning_columns) = self.returning(del.returning.as_ref(), table_scope(&table, &alias))?;
        Ok(DmlPlan { table, kind: DmlKind::Delete, source, predicate, returning, returning_columns })
    }

    /// The rows an UPDATE/DELETE visits: the target table with its row id,
    /// joined with any FROM/USING items; and the scope naming them.
    fn target_source(
        &mut self,
        table: &Table,
        alias: &str,
        from: Option<&[ast::TableWithJoins]>,
    ) -> Result<(Plan, Vec<ScopeColumn>)> {
        let mut scope = table_scope(table, alias);
        scope.push(ScopeColumn {
            table: Some(alias.to_owned()),
            name: "ctid".into(),
            ty: DataType::Int8,
            merged: true,
        });
        let mut plan = Plan::Scan {
            table: table.clone(),
            alias: alias.to_owned(),
            access: Access::Full,
            filter: None,
            lock: None,
            row_id: true,
            columns: None,
        };
        if let Some(items) = from {
            for item in items {
                let q = format!("SELECT * FROM {item}");
                let stmts = crate::parse(&q)?;
                let Some(ast::Statement::Query(query)) = stmts.first() else { return Err(unsupported("FROM item")) };
                let bound = self.query(query)?;
                let item_alias = match &item.relation {
                    ast::TableFactor::Table { name, alias, .. } => match alias {
                        Some(a) => ident(&a.name),
                        None => unqualified(&object_name(name)?),
                    },
                    ast::TableFactor::Derived { alias: Some(a), .. } => ident(&a.name),
                    _ => "from".into(),
                };
                for c in &bound.columns {
                    scope.push(ScopeColumn {
                        table: Some(item_alias.clone()),
                        name: c.name.clone(),
                        ty: c.data_type.clone(),
                        merged: false,
                    });
                }
                plan = Plan::NestedLoopJoin {
                    left: Box::new(plan),
                    right: Box::new(bound.plan),
                    kind: JoinKind::Inner,
                    on: None,
                };
            }
        }
        Ok((plan, scope))
    }
}

/// The name a relation is referred to by when not aliased: its name
/// without schema.
fn unqualified(name: &str) -> String {
    super::split_qualified(name).1.to_owned()
}
