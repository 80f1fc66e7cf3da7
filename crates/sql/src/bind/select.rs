//! Binding queries: FROM, WHERE, GROUP BY, HAVING, window functions,
//! SELECT list, DISTINCT, ORDER BY, LIMIT, set operations, VALUES and WITH.

use memdb_engine::{DataType, Value};
use sqlparser::ast;

use super::expr::{cast_to, resolve_unknown, sort_key};
use super::types::common_type;
use super::{Binder, BoundQuery, Collected, CteBinding, OutputColumn, Scope, ScopeColumn, Typed, ident, object_name};
use crate::error::{Result, SqlError, unsupported};
use crate::expr::{Expr, SubqueryKind};
use crate::plan::{Access, Cte, JoinKind, Plan, RowLock, SetOpKind, TableFunction};

/// A bound FROM item: its plan and the columns it contributes.
struct Source {
    plan: Plan,
    columns: Vec<ScopeColumn>,
}

impl Binder<'_> {
    /// Binds a whole query (`SELECT`, `VALUES`, set operations, `WITH`).
    pub(crate) fn query(&mut self, q: &ast::Query) -> Result<BoundQuery> {
        let (bound, _) = self.query_correlated(q)?;
        Ok(bound)
    }

    /// Binds a subquery at a new query level; also says whether it refers
    /// to enclosing levels.
    pub(crate) fn subquery(&mut self, q: &ast::Query) -> Result<(Plan, Vec<OutputColumn>, bool)> {
        let (bound, correlated) = self.query_correlated(q)?;
        Ok((bound.plan, bound.columns, correlated))
    }

    /// A subquery used as an expression (scalar, EXISTS, IN, ANY/ALL,
    /// ARRAY): optimized on its own, since it runs on its own (once per
    /// statement, or once per row of the enclosing query when correlated)
    /// and the enclosing plan's optimization does not reach into it.
    pub(crate) fn expr_subquery(&mut self, q: &ast::Query) -> Result<(Plan, Vec<OutputColumn>, bool)> {
        let (plan, columns, correlated) = self.subquery(q)?;
        Ok((crate::optimize::optimize(plan), columns, correlated))
    }

    fn query_correlated(&mut self, q: &ast::Query) -> Result<(BoundQuery, bool)> {
        if self.query_depth >= super::MAX_QUERY_DEPTH {
            return Err(crate::depth::too_deep());
        }
        self.query_depth += 1;
        let result = self.query_level(q);
        self.query_depth -= 1;
        result
    }

    fn query_level(&mut self, q: &ast::Query) -> Result<(BoundQuery, bool)> {
        let cte_mark = self.ctes.len();
        let mut ctes = Vec::new();
        if let Some(with) = &q.with {
            for cte in &with.cte_tables {
                ctes.push(self.cte_definition(cte, with.recursive)?);
            }
        }
        let result = self.query_body(q);
        self.ctes.truncate(cte_mark);
        let (mut bound, correlated) = result?;
        if !ctes.is_empty() {
            bound.plan = Plan::With { ctes, input: Box::new(bound.plan) };
        }
        Ok((bound, correlated))
    }

    fn query_body(&mut self, q: &ast::Query) -> Result<(BoundQuery, bool)> {
        // Locking clauses belong to one query level.
        let outer = std::mem::take(&mut self.lock_clauses);
        let result = self.locking_level(q);
        self.lock_clauses = outer;
        result
    }

    fn locking_level(&mut self, q: &ast::Query) -> Result<(BoundQuery, bool)> {
        let lock = self.lock_clause(&q.locks)?;
        // A plain SELECT binds ORDER BY against its own scope; anything else
        // sorts its output columns.
        if let ast::SetExpr::Select(select) = q.body.as_ref() {
            let order_by = order_by_exprs(q)?;
            let (mut bound, correlated) = self.select(select, &order_by, lock)?;
            self.check_lock_targets()?;
            bound.plan = self.limit(bound.plan, q)?;
            return Ok((bound, correlated));
        }
        if lock.is_some() {
            return Err(unsupported("FOR UPDATE outside a simple SELECT"));
        }
        let (mut bound, correlated) = self.set_expr(&q.body)?;
        let order_by = order_by_exprs(q)?;
        if !order_by.is_empty() {
            let mut keys = Vec::new();
            for k in &order_by {
                let index = output_position(&k.expr, &bound.columns)?.ok_or_else(|| {
                    SqlError::InvalidColumnReference(
                        "invalid UNION/INTERSECT/EXCEPT ORDER BY clause: only result column names can be used".into(),
                    )
                })?;
                keys.push(sort_key(Expr::Column(index), &k.options));
            }
            bound.plan = Plan::Sort { input: Box::new(bound.plan), keys, limit: None };
        }
        bound.plan = self.limit(bound.plan, q)?;
        Ok((bound, correlated))
    }

    fn limit(&mut self, plan: Plan, q: &ast::Query) -> Result<Plan> {
        let (limit, offset) = match &q.limit_clause {
            None => (None, None),
            Some(ast::LimitClause::LimitOffset { limit, offset, .. }) => {
                (limit.clone(), offset.as_ref().map(|o| o.value.clone()))
            }
            Some(ast::LimitClause::OffsetCommaLimit { offset, limit }) => (Some(limit.clone()), Some(offset.clone())),
        };
        let limit = match (&q.fetch, limit) {
            (Some(f), _) => Some(f.quantity.clone().unwrap_or(ast::Expr::value(ast::Value::Number("1".into(), false)))),
            (None, l) => l,
        };
        if limit.is_none() && offset.is_none() {
            return Ok(plan);
        }
        let mut count = |e: Option<ast::Expr>| -> Result<Option<Expr>> {
            let Some(e) = e else { return Ok(None) };
            let t = self.constant_expr(&e)?;
            Ok(Some(cast_to(t, &DataType::Int8)?))
        };
        let limit = count(limit)?;
        let offset = count(offset)?;
        Ok(Plan::Limit { input: Box::new(plan), limit, offset })
    }

    /// Binds an expression that may not refer to columns (LIMIT, VALUES in INSERT).
    pub(crate) fn constant_expr(&mut self, e: &ast::Expr) -> Result<Typed> {
        self.scopes.push(Scope::default());
        self.correlated.push(false);
        self.collected.push(Collected { clause: "LIMIT", ..Default::default() });
        let r = self.expr(e);
        self.collected.pop();
        self.correlated.pop();
        self.scopes.pop();
        r
    }

    /// The query level's locking clauses: the strongest lock (which FROM
    /// items take which is [`Self::lock_for`]'s), recorded for the level.
    fn lock_clause(&mut self, locks: &[ast::LockClause]) -> Result<Option<RowLock>> {
        for clause in locks {
            let lock = RowLock {
                exclusive: matches!(clause.lock_type, ast::LockType::Update),
                nowait: matches!(clause.nonblock, Some(ast::NonBlock::Nowait)),
                skip_locked: matches!(clause.nonblock, Some(ast::NonBlock::SkipLocked)),
            };
            let target = clause.of.as_ref().map(object_name).transpose()?;
            self.lock_clauses.push((lock, target, false));
        }
        Ok(self.lock_clauses.iter().map(|c| c.0).max_by_key(|l| l.exclusive))
    }

    /// The lock a FROM item named `alias` takes: the strongest of the
    /// clauses that name it or name nothing.
    fn lock_for(&mut self, alias: &str) -> Option<RowLock> {
        let mut chosen: Option<RowLock> = None;
        for (lock, target, found) in &mut self.lock_clauses {
            let applies = match target {
                None => true,
                Some(name) => super::split_qualified(name).1 == alias,
            };
            if applies {
                *found |= target.is_some();
                if chosen.is_none_or(|c| lock.exclusive && !c.exclusive) {
                    chosen = Some(*lock);
                }
            }
        }
        chosen
    }

    /// Refuses a `FOR UPDATE OF t` whose `t` is not in the FROM clause.
    fn check_lock_targets(&self) -> Result<()> {
        match self.lock_clauses.iter().find(|(_, target, found)| target.is_some() && !found) {
            Some((_, Some(name), _)) => Err(SqlError::Engine(memdb_engine::Error::UndefinedTable(name.clone()))),
            _ => Ok(()),
        }
    }

    fn set_expr(&mut self, body: &ast::SetExpr) -> Result<(BoundQuery, bool)> {
        match body {
            ast::SetExpr::Select(s) => self.select(s, &[], None),
            ast::SetExpr::Query(q) => self.query_correlated(q),
            ast::SetExpr::Values(v) => self.values_correlated(v, None),
            ast::SetExpr::SetOperation { left, op, set_quantifier, right } => {
                let (l, lc) = self.set_expr(left)?;
                let (r, rc) = self.set_expr(right)?;
                let kind = match op {
                    ast::SetOperator::Union => SetOpKind::Union,
                    ast::SetOperator::Intersect => SetOpKind::Intersect,
                    ast::SetOperator::Except | ast::SetOperator::Minus => SetOpKind::Except,
                };
                let all = match set_quantifier {
                    ast::SetQuantifier::All => true,
                    ast::SetQuantifier::Distinct | ast::SetQuantifier::None => false,
                    other => return Err(unsupported(format!("{other}"))),
                };
                let name = format!("{op}");
                if l.columns.len() != r.columns.len() {
                    return Err(SqlError::Semantic(format!("each {name} query must have the same number of columns")));
                }
                let mut types = Vec::new();
                for (i, (a, b)) in l.columns.iter().zip(&r.columns).enumerate() {
                    // A branch's bare NULL takes the other branch's type,
                    // as an untyped literal does in PostgreSQL.
                    let ty = match (null_column(&l.plan, i), null_column(&r.plan, i)) {
                        (true, false) => b.data_type.clone(),
                        (false, true) => a.data_type.clone(),
                        _ => common_type([&a.data_type, &b.data_type], &name)?.unwrap_or(DataType::Text),
                    };
                    types.push(ty);
                }
                let left = conform(l.plan, &l.columns, &types);
                let right = conform(r.plan, &r.columns, &types);
                let columns = l
                    .columns
                    .iter()
                    .zip(types)
                    .map(|(c, t)| OutputColumn { name: c.name.clone(), data_type: t })
                    .collect();
                Ok((
                    BoundQuery {
                        plan: Plan::SetOp { op: kind, all, left: Box::new(left), right: Box::new(right) },
                        columns,
                    },
                    lc || rc,
                ))
            }
            ast::SetExpr::Table(t) => {
                let name = t.table_name.clone().ok_or_else(|| unsupported("TABLE without a name"))?;
                let q = format!("SELECT * FROM {name}");
                let stmts = crate::parse(&q)?;
                match stmts.first() {
                    Some(ast::Statement::Query(q)) => self.query_correlated(q),
                    _ => Err(unsupported("TABLE")),
                }
            }
            other => Err(unsupported(format!("{other}"))),
        }
    }

    /// `VALUES (…), (…)`; `targets` gives column types to coerce to (INSERT).
    pub(crate) fn values(&mut self, v: &ast::Values, targets: Option<&[DataType]>) -> Result<BoundQuery> {
        self.values_correlated(v, targets).map(|(q, _)| q)
    }

    /// [`Binder::values`], and whether the list reads enclosing levels.
    fn values_correlated(&mut self, v: &ast::Values, targets: Option<&[DataType]>) -> Result<(BoundQuery, bool)> {
        let mut correlated = false;
        let width = v.rows.first().map_or(0, |r| r.len());
        let mut rows: Vec<Vec<Typed>> = Vec::with_capacity(v.rows.len());
        for row in &v.rows {
            if row.len() != width {
                return Err(SqlError::Semantic("VALUES lists must all be the same length".into()));
            }
            let mut bound = Vec::with_capacity(width);
            for e in row.iter() {
                if matches!(e, ast::Expr::Identifier(id) if id.value.eq_ignore_ascii_case("default") && id.quote_style.is_none())
                    && targets.is_some()
                {
                    bound.push(Typed {
                        expr: Expr::Call(crate::expr::Func::Coalesce, Vec::new()),
                        ty: DataType::Text,
                        unknown: true,
                    });
                    continue;
                }
                // The list is a query level of its own (a derived table's or
                // a subquery's: its scope stands for that level), so its
                // references to enclosing levels keep their depth.
                let (item, reads_outer) = self.without_columns(e)?;
                correlated |= reads_outer;
                bound.push(item);
            }
            rows.push(bound);
        }
        let mut types = Vec::with_capacity(width);
        for c in 0..width {
            let ty = match targets.and_then(|t| t.get(c)) {
                Some(t) => t.clone(),
                None => {
                    let known: Vec<DataType> = rows.iter().filter(|r| !r[c].unknown).map(|r| r[c].ty.clone()).collect();
                    common_type(known.iter(), "VALUES")?.unwrap_or(DataType::Text)
                }
            };
            types.push(ty);
        }
        let mut exprs = Vec::with_capacity(rows.len());
        for row in rows {
            let mut out = Vec::with_capacity(width);
            for (c, t) in row.into_iter().enumerate() {
                // DEFAULT markers stay as they are for INSERT to fill in.
                if matches!(&t.expr, Expr::Call(crate::expr::Func::Coalesce, a) if a.is_empty()) {
                    out.push(t.expr);
                    continue;
                }
                out.push(match targets {
                    Some(_) if !t.unknown => t.expr,
                    Some(_) => self.assign_to(t, &types[c])?,
                    None => cast_to(t, &types[c])?,
                });
            }
            exprs.push(out);
        }
        let columns = types
            .into_iter()
            .enumerate()
            .map(|(i, t)| OutputColumn { name: format!("column{}", i + 1), data_type: t })
            .collect();
        Ok((BoundQuery { plan: Plan::Values { rows: exprs, width }, columns }, correlated))
    }

    /// Binds `e` in a scope of its own with no columns (VALUES items, the
    /// arguments of a function in FROM); also whether it read an enclosing
    /// level.
    fn without_columns(&mut self, e: &ast::Expr) -> Result<(Typed, bool)> {
        // Subqueries in it bind their own FROM items as usual.
        let lateral = std::mem::take(&mut self.lateral_args);
        self.scopes.push(Scope::default());
        self.correlated.push(false);
        self.collected.push(Collected { clause: "VALUES", ..Default::default() });
        let r = self.expr(e);
        self.collected.pop();
        let correlated = self.correlated.pop().unwrap_or(false);
        self.scopes.pop();
        self.lateral_args = lateral;
        r.map(|t| (t, correlated))
    }

    /// An argument of a function in FROM: no FROM columns, but outer levels
    /// are visible.
    fn constant_or_outer(&mut self, e: &ast::Expr) -> Result<Typed> {
        let lateral = self.lateral_args;
        let r = self.without_columns(e).map(|(t, _)| t);
        // The argument is evaluated against an empty row at the function's
        // level: references one level out are the enclosing row. A lateral
        // function's arguments keep them one level out: the row of the
        // FROM items before it, which its lateral join pushes.
        if lateral { r } else { r.map(|t| Typed { expr: shift_outer(t.expr), ..t }) }
    }

    fn cte_definition(&mut self, cte: &ast::Cte, recursive: bool) -> Result<Cte> {
        let name = ident(&cte.alias.name);
        let id = self.next_cte;
        self.next_cte += 1;
        let alias_columns: Vec<String> = cte.alias.columns.iter().map(|c| ident(&c.name)).collect();
        let rename = |columns: Vec<OutputColumn>| -> Result<Vec<OutputColumn>> {
            let renamed = aliased(&format!("WITH query \"{name}\""), pairs(columns), &alias_columns)?;
            Ok(renamed.into_iter().map(|(name, data_type)| OutputColumn { name, data_type }).collect())
        };
        // WITH RECURSIVE name AS (base UNION [ALL] step)
        if recursive
            && let ast::SetExpr::SetOperation { left, op: ast::SetOperator::Union, set_quantifier, right } =
                cte.query.body.as_ref()
        {
            let (base, _) = self.level_neutral(|b| b.set_expr(left))?;
            let columns = rename(base.columns)?;
            self.ctes.push(CteBinding { id, name: name.clone(), columns: columns.clone() });
            let (step, _) = self.level_neutral(|b| b.set_expr(right))?;
            if step.columns.len() != columns.len() {
                return Err(SqlError::Semantic("each UNION query must have the same number of columns".into()));
            }
            let types: Vec<DataType> = columns.iter().map(|c| c.data_type.clone()).collect();
            let step_plan = conform(step.plan, &step.columns, &types);
            let all = matches!(set_quantifier, ast::SetQuantifier::All);
            return Ok(Cte { id, plan: base.plan, recursive: Some((Box::new(step_plan), all)) });
        }
        let (bound, _) = self.level_neutral(|b| b.query_correlated(&cte.query))?;
        let columns = rename(bound.columns)?;
        self.ctes.push(CteBinding { id, name, columns });
        Ok(Cte { id, plan: bound.plan, recursive: None })
    }

    /// Binds something that runs inline at the current query level (a
    /// derived table, a CTE): it does not see the current FROM clause, and
    /// its references to enclosing levels keep their depth.
    fn level_neutral<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<(T, bool)>) -> Result<(T, bool)> {
        let stash = self.scopes.pop();
        let flag = self.correlated.pop();
        let result = f(self);
        if let Some(s) = stash {
            self.scopes.push(s);
        }
        if let Some(c) = flag {
            let inner = result.as_ref().map(|r| r.1).unwrap_or(false);
            self.correlated.push(c || inner);
        }
        result
    }

    fn select(
        &mut self,
        s: &ast::Select,
        order_by: &[ast::OrderByExpr],
        lock: Option<RowLock>,
    ) -> Result<(BoundQuery, bool)> {
        self.scopes.push(Scope::default());
        self.correlated.push(false);
        self.collected.push(Collected::default());
        let result = self.select_inner(s, order_by, lock);
        self.collected.pop();
        let correlated = self.correlated.pop().unwrap_or(false);
        self.scopes.pop();
        Ok((result?, correlated))
    }

    fn set_collect(&mut self, aggregates: bool, windows: bool, clause: &'static str) {
        if let Some(c) = self.collected.last_mut() {
            c.allow_aggregates = aggregates;
            c.allow_windows = windows;
            c.allow_set_functions = false;
            c.clause = clause;
        }
    }

    fn select_inner(
        &mut self,
        s: &ast::Select,
        order_by: &[ast::OrderByExpr],
        lock: Option<RowLock>,
    ) -> Result<BoundQuery> {
        if s.into.is_some() {
            return Err(unsupported("SELECT INTO"));
        }
        self.define_windows(&s.named_window)?;
        // FROM
        let mut plan = match s.from.len() {
            0 => Plan::Values { rows: vec![Vec::new()], width: 0 },
            _ => {
                let mut combined: Option<Plan> = None;
                for item in &s.from {
                    if let Some((plan, columns)) = self.lateral_item(item)? {
                        if let Some(sc) = self.scopes.last_mut() {
                            distinct_names(&sc.columns, &columns)?;
                            sc.columns.extend(columns);
                        }
                        let left = combined.take().unwrap_or(Plan::Values { rows: vec![Vec::new()], width: 0 });
                        combined = Some(plan.into_join(left));
                        continue;
                    }
                    let source = self.table_with_joins(item, lock)?;
                    if let Some(sc) = self.scopes.last_mut() {
                        distinct_names(&sc.columns, &source.columns)?;
                        sc.columns.extend(source.columns)
                    }
                    combined = Some(match combined {
                        None => source.plan,
                        Some(left) => Plan::NestedLoopJoin {
                            left: Box::new(left),
                            right: Box::new(source.plan),
                            kind: JoinKind::Inner,
                            on: None,
                        },
                    });
                }
                combined.unwrap_or(Plan::Values { rows: vec![Vec::new()], width: 0 })
            }
        };
        // WHERE
        if let Some(w) = &s.selection {
            self.set_collect(false, false, "WHERE");
            let predicate = self.predicate(w)?;
            plan = Plan::Filter { input: Box::new(plan), predicate };
        }
        // SELECT list (aggregates, windows and set-returning functions
        // collected as placeholders).
        self.set_collect(true, true, "");
        if let Some(c) = self.collected.last_mut() {
            c.allow_set_functions = true;
        }
        let mut items: Vec<(String, Typed)> = Vec::new();
        for item in &s.projection {
            match item {
                ast::SelectItem::UnnamedExpr(e) => {
                    let t = self.expr(e)?;
                    items.push((column_name(e), t));
                }
                ast::SelectItem::ExprWithAlias { expr, alias } => {
                    let t = self.expr(expr)?;
                    items.push((ident(alias), t));
                }
                ast::SelectItem::Wildcard(_) => {
                    let scope = self.scopes.last().cloned().unwrap_or_default();
                    if scope.columns.is_empty() {
                        return Err(SqlError::Semantic("SELECT * with no tables specified is not valid".into()));
                    }
                    for (i, c) in scope.columns.iter().enumerate() {
                        if !c.merged {
                            items.push((c.name.clone(), Typed::new(Expr::Column(i), c.ty.clone())));
                        }
                    }
                }
                ast::SelectItem::QualifiedWildcard(kind, _) => {
                    let name = match kind {
                        ast::SelectItemQualifiedWildcardKind::ObjectName(n) => object_name(n)?,
                        ast::SelectItemQualifiedWildcardKind::Expr(e) => return Err(unsupported(format!("{e}.*"))),
                    };
                    let scope = self.scopes.last().cloned().unwrap_or_default();
                    let mut any = false;
                    for (i, c) in scope.columns.iter().enumerate() {
                        if c.table.as_deref() == Some(name.as_str()) {
                            any = true;
                            items.push((c.name.clone(), Typed::new(Expr::Column(i), c.ty.clone())));
                        }
                    }
                    if !any {
                        return Err(SqlError::MissingFromEntry(name.clone()));
                    }
                }
                ast::SelectItem::ExprWithAliases { .. } => return Err(unsupported("multiple aliases")),
            }
        }
        // GROUP BY: expressions, output ordinals or output names.
        self.set_collect(false, false, "GROUP BY");
        let mut group_by = Vec::new();
        match &s.group_by {
            ast::GroupByExpr::Expressions(exprs, modifiers) => {
                if !modifiers.is_empty() {
                    return Err(unsupported("GROUP BY modifiers"));
                }
                for e in exprs {
                    group_by.push(self.group_expr(e, &items)?);
                }
            }
            ast::GroupByExpr::All(_) => return Err(unsupported("GROUP BY ALL")),
        }
        // HAVING
        self.set_collect(true, false, "");
        let having = match &s.having {
            Some(h) => Some(self.predicate(h)?),
            None => None,
        };
        // ORDER BY: output ordinals / names first, then expressions.
        self.set_collect(true, true, "");
        let mut sort: Vec<(SortKeyRef, &ast::OrderByOptions)> = Vec::new();
        for k in order_by {
            match output_position(
                &k.expr,
                &items
                    .iter()
                    .map(|(n, t)| OutputColumn { name: n.clone(), data_type: t.ty.clone() })
                    .collect::<Vec<_>>(),
            ) {
                // A bare name means an output column before an input one,
                // as in PostgreSQL (`SELECT lower(g) AS g … ORDER BY g`
                // sorts by the lowered value); two different output
                // columns of that name make it ambiguous.
                Ok(Some(i)) => {
                    if let ast::Expr::Identifier(id) = &k.expr {
                        let name = ident(id);
                        // Aggregates and subqueries get an id each, so two
                        // written alike bind apart: those are not compared.
                        let comparable = |e: &Expr| {
                            let mut plain = true;
                            e.walk(&mut |x| plain &= !matches!(x, Expr::Aggregate(_) | Expr::Subquery(_)));
                            plain
                        };
                        let ambiguous = items.iter().filter(|(n, _)| *n == name).any(|(_, t)| {
                            t.expr != items[i].1.expr && comparable(&t.expr) && comparable(&items[i].1.expr)
                        });
                        if ambiguous {
                            return Err(SqlError::AmbiguousColumn(name));
                        }
                    }
                    sort.push((SortKeyRef::Output(i), &k.options));
                }
                Err(e) => return Err(e),
                _ => {
                    let t = resolve_unknown(self.expr(&k.expr)?)?;
                    sort.push((SortKeyRef::Expr(t.expr), &k.options));
                }
            }
        }
        let mut collected = self.collected.last_mut().map(std::mem::take).unwrap_or_default();
        let mut set_functions = std::mem::take(&mut collected.set_functions);
        let aggregating = !group_by.is_empty() || !collected.aggregates.is_empty() || having.is_some();
        let mut items: Vec<(String, Typed)> =
            items.into_iter().map(|(n, t)| resolve_unknown(t).map(|t| (n, t))).collect::<Result<_>>()?;
        let mut having = having;
        if aggregating {
            let ngroups = group_by.len();
            let rewrite = |e: Expr| -> Result<Expr> { rewrite_aggregated(e, &group_by, ngroups) };
            for (_, t) in &mut items {
                t.expr = rewrite(std::mem::replace(&mut t.expr, Expr::Literal(Value::Null)))?;
            }
            having = having.map(rewrite).transpose()?;
            for (k, _) in &mut sort {
                if let SortKeyRef::Expr(e) = k {
                    *e = rewrite(std::mem::replace(e, Expr::Literal(Value::Null)))?;
                }
            }
            for call in &mut set_functions {
                call.args = call.args.drain(..).map(rewrite).collect::<Result<_>>()?;
            }
            let mut windows = collected.windows;
            for w in &mut windows {
                w.args = w.args.drain(..).map(rewrite).collect::<Result<_>>()?;
                w.partition_by = w.partition_by.drain(..).map(rewrite).collect::<Result<_>>()?;
                for k in &mut w.order_by {
                    k.expr = rewrite(std::mem::replace(&mut k.expr, Expr::Literal(Value::Null)))?;
                }
            }
            plan = Plan::Aggregate { input: Box::new(plan), group_by, aggregates: collected.aggregates };
            if let Some(h) = having.take() {
                plan = Plan::Filter { input: Box::new(plan), predicate: h };
            }
            plan = window_plan(plan, windows, &mut items, &mut sort)?;
        } else {
            plan = window_plan(plan, collected.windows, &mut items, &mut sort)?;
        }
        plan = project_set_plan(plan, set_functions, &mut items, &mut sort)?;
        // Projection: the items, then hidden sort expressions.
        let distinct = match &s.distinct {
            None | Some(ast::Distinct::All) => None,
            Some(ast::Distinct::Distinct) => Some(None),
            Some(ast::Distinct::On(exprs)) => Some(Some(exprs.clone())),
        };
        let visible = items.len();
        let mut exprs: Vec<Expr> = items.iter().map(|(_, t)| t.expr.clone()).collect();
        let mut keys = Vec::new();
        for (k, options) in sort {
            let index = match k {
                SortKeyRef::Output(i) => i,
                SortKeyRef::Expr(e) => match exprs.iter().position(|x| *x == e) {
                    Some(i) => i,
                    None => {
                        if matches!(distinct, Some(None)) {
                            return Err(SqlError::InvalidColumnReference(
                                "for SELECT DISTINCT, ORDER BY expressions must appear in select list".into(),
                            ));
                        }
                        exprs.push(e);
                        exprs.len() - 1
                    }
                },
            };
            keys.push(sort_key(Expr::Column(index), options));
        }
        plan = Plan::Project { input: Box::new(plan), exprs };
        match distinct {
            None => {
                if !keys.is_empty() {
                    plan = Plan::Sort { input: Box::new(plan), keys, limit: None };
                }
            }
            Some(None) => {
                plan = Plan::Distinct { input: Box::new(plan), on: None };
                if !keys.is_empty() {
                    plan = Plan::Sort { input: Box::new(plan), keys, limit: None };
                }
            }
            Some(Some(on)) => {
                // DISTINCT ON: sort by the ORDER BY keys, keep the first row per key.
                let out_cols: Vec<OutputColumn> =
                    items.iter().map(|(n, t)| OutputColumn { name: n.clone(), data_type: t.ty.clone() }).collect();
                let mut on_exprs = Vec::new();
                for e in &on {
                    match output_position(e, &out_cols)? {
                        Some(i) => on_exprs.push(Expr::Column(i)),
                        None => return Err(unsupported("DISTINCT ON expressions not in the select list")),
                    }
                }
                // The leading ORDER BY keys must be the DISTINCT ON
                // expressions (in any order), as PostgreSQL requires.
                let mut unmatched = on_exprs.clone();
                for k in &keys {
                    if unmatched.is_empty() {
                        break;
                    }
                    match unmatched.iter().position(|e| *e == k.expr) {
                        Some(i) => {
                            unmatched.swap_remove(i);
                        }
                        None => {
                            return Err(SqlError::InvalidColumnReference(
                                "SELECT DISTINCT ON expressions must match initial ORDER BY expressions".into(),
                            ));
                        }
                    }
                }
                if !keys.is_empty() {
                    plan = Plan::Sort { input: Box::new(plan), keys, limit: None };
                }
                plan = Plan::Distinct { input: Box::new(plan), on: Some(on_exprs) };
            }
        }
        let width = plan.width();
        if width != visible {
            plan = Plan::Project { input: Box::new(plan), exprs: (0..visible).map(Expr::Column).collect() };
        }
        let columns = items.into_iter().map(|(name, t)| OutputColumn { name, data_type: t.ty }).collect();
        Ok(BoundQuery { plan, columns })
    }

    /// Whether an unqualified name resolves as an input column.
    fn resolve_quiet(&mut self, name: &str) -> bool {
        self.scopes.last().is_some_and(|s| s.columns.iter().any(|c| c.name == name && !c.merged))
    }

    fn group_expr(&mut self, e: &ast::Expr, items: &[(String, Typed)]) -> Result<Expr> {
        if let ast::Expr::Value(v) = e
            && let ast::Value::Number(n, _) = &v.value
        {
            let i: usize = n
                .parse()
                .map_err(|_| SqlError::InvalidColumnReference("non-integer constant in GROUP BY".to_string()))?;
            return match items.get(i.wrapping_sub(1)) {
                Some((_, t)) if !contains_placeholder(&t.expr) => Ok(t.expr.clone()),
                Some(_) => Err(SqlError::Grouping("aggregate functions are not allowed in GROUP BY".into())),
                None => Err(SqlError::InvalidColumnReference(format!("GROUP BY position {n} is not in select list"))),
            };
        }
        if let ast::Expr::Identifier(id) = e {
            let name = ident(id);
            if !self.resolve_quiet(&name)
                && let Some((_, t)) = items.iter().find(|(n, _)| *n == name)
            {
                return Ok(t.expr.clone());
            }
        }
        Ok(resolve_unknown(self.expr(e)?)?.expr)
    }

    /// A `LATERAL (subquery)` item of a comma-separated FROM list: bound as
    /// a subquery whose enclosing row is the FROM row so far.
    fn lateral_item(&mut self, item: &ast::TableWithJoins) -> Result<Option<(Lateral, Vec<ScopeColumn>)>> {
        if is_function_factor(&item.relation)
            && item.joins.is_empty()
            && self.scopes.last().is_some_and(|s| !s.columns.is_empty())
        {
            return self.lateral_function(&item.relation).map(Some);
        }
        let ast::TableFactor::Derived { lateral: true, subquery, alias, .. } = &item.relation else { return Ok(None) };
        if !item.joins.is_empty() {
            return Err(unsupported("joins after a LATERAL subquery"));
        }
        let (plan, columns, correlated) = self.subquery(subquery)?;
        let columns = rename_columns(&Alias::of(alias.as_ref(), "subquery"), pairs(columns))?;
        Ok(Some((Lateral { plan, correlated }, columns)))
    }

    /// A function in FROM after other FROM items: as in PostgreSQL it may
    /// read their columns (`FROM t, generate_series(1, t.n) g`), and then
    /// runs once per row of the items before it.
    fn lateral_function(&mut self, factor: &ast::TableFactor) -> Result<(Lateral, Vec<ScopeColumn>)> {
        self.lateral_args = true;
        let source = self.table_factor(factor, None);
        self.lateral_args = false;
        let mut source = source?;
        let mut correlated = false;
        source.plan.for_each_expr_mut(&mut |e| {
            e.walk(&mut |x| correlated |= matches!(x, Expr::Outer { depth: 1, .. }));
        });
        if !correlated {
            // It reads nothing of the row: bound as any other FROM item.
            source.plan.for_each_expr_mut(&mut |e| *e = shift_outer(std::mem::replace(e, Expr::Literal(Value::Null))));
        }
        Ok((Lateral { plan: source.plan, correlated }, source.columns))
    }

    fn table_with_joins(&mut self, item: &ast::TableWithJoins, lock: Option<RowLock>) -> Result<Source> {
        let mut left = self.table_factor(&item.relation, lock)?;
        for join in &item.joins {
            if let ast::TableFactor::Derived { lateral: true, subquery, alias, .. } = &join.relation {
                left = self.lateral_join(left, subquery, alias.as_ref(), &join.join_operator)?;
                continue;
            }
            if is_function_factor(&join.relation) && self.scopes.last().is_some_and(|s| s.columns.is_empty()) {
                left = self.lateral_function_join(left, &join.relation, &join.join_operator)?;
                continue;
            }
            let right = self.table_factor(&join.relation, lock)?;
            left = self.join(left, right, &join.join_operator)?;
        }
        Ok(left)
    }

    /// `left JOIN f(…) ON …`: the function may read the left row's columns
    /// (`CROSS JOIN LATERAL generate_series(1, t.n)`).
    fn lateral_function_join(
        &mut self,
        left: Source,
        factor: &ast::TableFactor,
        op: &ast::JoinOperator,
    ) -> Result<Source> {
        let saved = self.scopes.last_mut().map(|s| std::mem::replace(&mut s.columns, left.columns.clone()));
        let bound = self.lateral_function(factor);
        if let (Some(s), Some(saved)) = (self.scopes.last_mut(), saved) {
            s.columns = saved;
        }
        let (lateral, columns) = bound?;
        let joined = self.join(left, Source { plan: lateral.plan, columns }, op)?;
        rerun_per_row(joined, lateral.correlated)
    }

    /// `left JOIN LATERAL (subquery) ON …`: the subquery sees the left row.
    fn lateral_join(
        &mut self,
        left: Source,
        subquery: &ast::Query,
        alias: Option<&ast::TableAlias>,
        op: &ast::JoinOperator,
    ) -> Result<Source> {
        if self.scopes.last().is_some_and(|s| !s.columns.is_empty()) {
            return Err(unsupported("JOIN LATERAL after other FROM items (write LATERAL as a FROM-list item)"));
        }
        // Bind the subquery with the left side as its enclosing row.
        let saved = self.scopes.last_mut().map(|s| std::mem::replace(&mut s.columns, left.columns.clone()));
        let bound = self.subquery(subquery);
        if let (Some(s), Some(saved)) = (self.scopes.last_mut(), saved) {
            s.columns = saved;
        }
        let (plan, columns, correlated) = bound?;
        let columns = rename_columns(&Alias::of(alias, "subquery"), pairs(columns))?;
        let joined = self.join(left, Source { plan, columns }, op)?;
        rerun_per_row(joined, correlated)
    }

    fn join(&mut self, left: Source, right: Source, op: &ast::JoinOperator) -> Result<Source> {
        use ast::JoinOperator as J;
        let (kind, constraint) = match op {
            J::Join(c) | J::Inner(c) => (JoinKind::Inner, Some(c)),
            J::Left(c) | J::LeftOuter(c) => (JoinKind::Left, Some(c)),
            J::Right(c) | J::RightOuter(c) => (JoinKind::Right, Some(c)),
            J::FullOuter(c) => (JoinKind::Full, Some(c)),
            J::CrossJoin(_) => (JoinKind::Inner, None),
            other => return Err(unsupported(format!("join {other:?}"))),
        };
        distinct_names(&left.columns, &right.columns)?;
        let left_width = left.columns.len();
        let mut columns = left.columns;
        columns.extend(right.columns);
        // USING / NATURAL: equal columns, the right copy hidden.
        let mut using = Vec::new();
        match constraint {
            Some(ast::JoinConstraint::Using(names)) => {
                for n in names {
                    using.push(object_name(n)?);
                }
            }
            Some(ast::JoinConstraint::Natural) => {
                for c in &columns[..left_width] {
                    if columns[left_width..].iter().any(|r| r.name == c.name && !r.merged) && !c.merged {
                        using.push(c.name.clone());
                    }
                }
            }
            _ => {}
        }
        let mut on = None;
        // The USING columns come first in the output, as one column each:
        // the left value, the right one for a right join, the one that is
        // not NULL for a full join. Both sides' own copies stay reachable
        // by qualified name only.
        let mut merged_exprs = Vec::new();
        let mut merged_columns = Vec::new();
        for name in &using {
            let l = columns[..left_width].iter().position(|c| c.name == *name && !c.merged);
            let r = columns[left_width..].iter().position(|c| c.name == *name && !c.merged).map(|i| i + left_width);
            let (Some(l), Some(r)) = (l, r) else {
                return Err(SqlError::UndefinedColumn(format!("{name} (in USING)")));
            };
            columns[l].merged = true;
            columns[r].merged = true;
            let (expr, ty) = match kind {
                JoinKind::Full => (
                    Expr::Call(crate::expr::Func::Coalesce, vec![Expr::Column(l), Expr::Column(r)]),
                    common_type([&columns[l].ty, &columns[r].ty], "JOIN/USING")?
                        .unwrap_or_else(|| columns[l].ty.clone()),
                ),
                JoinKind::Right => (Expr::Column(r), columns[r].ty.clone()),
                _ => (Expr::Column(l), columns[l].ty.clone()),
            };
            merged_exprs.push(expr);
            merged_columns.push(ScopeColumn { table: None, name: name.clone(), ty, merged: false });
            let eq = Expr::Binary(crate::expr::BinOp::Eq, Box::new(Expr::Column(l)), Box::new(Expr::Column(r)));
            on = Some(match on {
                None => eq,
                Some(prev) => Expr::And(Box::new(prev), Box::new(eq)),
            });
        }
        if let Some(ast::JoinConstraint::On(e)) = constraint {
            // The ON condition sees both sides (and only them).
            let saved = self.scopes.last().map(|s| s.columns.clone());
            if let Some(s) = self.scopes.last_mut() {
                let mut visible = s.columns.clone();
                let base = visible.len();
                visible.extend(columns.iter().cloned());
                s.columns = visible;
                self.set_collect(false, false, "JOIN conditions");
                let bound = self.predicate(e);
                if let (Some(s), Some(saved)) = (self.scopes.last_mut(), saved) {
                    s.columns = saved;
                }
                let bound = bound?;
                // Columns of earlier FROM items are not visible to ON.
                if bound.columns().iter().any(|c| *c < base) {
                    return Err(SqlError::Semantic("invalid reference to FROM-clause entry in JOIN condition".into()));
                }
                on = Some(bound.shift_columns(base));
            }
        }
        let mut plan = Plan::NestedLoopJoin { left: Box::new(left.plan), right: Box::new(right.plan), kind, on };
        if !merged_exprs.is_empty() {
            merged_exprs.extend((0..columns.len()).map(Expr::Column));
            merged_columns.extend(columns);
            plan = Plan::Project { input: Box::new(plan), exprs: merged_exprs };
            columns = merged_columns;
        }
        Ok(Source { plan, columns })
    }

    /// A `pg_catalog` / `information_schema` relation, materialized now.
    fn system_relation(&mut self, table_name: String, alias: &Alias) -> Result<Source> {
        let user = self.user.clone();
        let Some(rel) = crate::system::relation(self.txn, &table_name, &user)? else {
            return Err(SqlError::Engine(memdb_engine::Error::UndefinedTable(table_name)));
        };
        // Catalog contents change without DDL (roles, settings): never cache.
        self.used_views = true;
        let width = rel.columns.len();
        let rows = rel.rows.into_iter().map(|r| r.into_iter().map(Expr::Literal).collect()).collect();
        let columns = rename_columns(alias, rel.columns)?;
        Ok(Source { plan: Plan::Values { rows, width }, columns })
    }

    fn table_factor(&mut self, f: &ast::TableFactor, lock: Option<RowLock>) -> Result<Source> {
        match f {
            ast::TableFactor::Table { name, alias, args, with_ordinality, .. } => {
                let table_name = object_name(name)?;
                if let Some(args) = args {
                    if *with_ordinality && table_name.ends_with("pg_partition_ancestors") {
                        return self.ordinality_function(&table_name, &args.args, alias.as_ref());
                    }
                    return self.table_function(&table_name, &args.args, alias.as_ref(), *with_ordinality);
                }
                // Unaliased, a relation is referred to by its name without schema.
                let alias = Alias::of(alias.as_ref(), super::split_qualified(&table_name).1);
                // A CTE?
                if let Some(cte) = self.cte(&table_name).cloned() {
                    let columns = rename_columns(&alias, pairs(cte.columns.clone()))?;
                    return Ok(Source {
                        plan: Plan::CteScan { id: cte.id, name: cte.name, width: cte.columns.len() },
                        columns,
                    });
                }
                match self.txn.table(&table_name) {
                    Ok(table) => {
                        let cols = table.columns().iter().map(|c| (c.name.clone(), c.data_type.clone())).collect();
                        let columns = rename_columns(&alias, cols)?;
                        Ok(Source {
                            plan: Plan::Scan {
                                table,
                                lock: lock.and_then(|_| self.lock_for(&alias.name)),
                                alias: alias.name,
                                access: Access::Full,
                                filter: None,
                                row_id: false,
                                columns: None,
                            },
                            columns,
                        })
                    }
                    Err(memdb_engine::Error::UndefinedTable(_)) => {
                        let Some(sql) = super::ddl::view_definition(self.txn, &table_name)? else {
                            return self.system_relation(table_name, &alias);
                        };
                        if lock.is_some() {
                            self.lock_for(&alias.name);
                        }
                        if self.expanding.contains(&table_name) {
                            return Err(SqlError::Semantic(format!(
                                "infinite recursion detected in rules for relation \"{table_name}\""
                            )));
                        }
                        let stmts = crate::parse(&sql)?;
                        let Some(ast::Statement::Query(q)) = stmts.first() else {
                            return Err(SqlError::Semantic(format!("view \"{table_name}\" is damaged")));
                        };
                        self.expanding.push(table_name.clone());
                        self.used_views = true;
                        // A view sees no enclosing query: bind it on a fresh stack.
                        let scopes = std::mem::take(&mut self.scopes);
                        let correlated = std::mem::take(&mut self.correlated);
                        let ctes = std::mem::take(&mut self.ctes);
                        let result = self.query(q);
                        self.scopes = scopes;
                        self.correlated = correlated;
                        self.ctes = ctes;
                        self.expanding.pop();
                        let bound = result?;
                        let columns = rename_columns(&alias, pairs(bound.columns))?;
                        Ok(Source { plan: bound.plan, columns })
                    }
                    Err(e) => Err(e.into()),
                }
            }
            ast::TableFactor::Derived { lateral, subquery, alias, .. } => {
                if *lateral {
                    return Err(unsupported("LATERAL here"));
                }
                let (bound, _) = self.level_neutral(|b| b.query_correlated(subquery))?;
                let alias = Alias::of(alias.as_ref(), "subquery");
                if lock.is_some() {
                    // `FOR UPDATE OF s` may name a subquery (its rows are
                    // not locked, as a subquery's never are here).
                    self.lock_for(&alias.name);
                }
                let columns = rename_columns(&alias, pairs(bound.columns))?;
                Ok(Source { plan: bound.plan, columns })
            }
            ast::TableFactor::NestedJoin { table_with_joins, alias } => {
                let mut source = self.table_with_joins(table_with_joins, lock)?;
                if let Some(a) = alias {
                    let name = ident(&a.name);
                    for c in &mut source.columns {
                        c.table = Some(name.clone());
                    }
                }
                Ok(source)
            }
            ast::TableFactor::Function { name, args, alias, with_ordinality, .. } => {
                let fname = object_name(name)?;
                self.table_function(&fname, args, alias.as_ref(), *with_ordinality)
            }
            ast::TableFactor::UNNEST { alias, array_exprs, with_ordinality, .. } => {
                let args: Vec<ast::FunctionArg> = array_exprs
                    .iter()
                    .map(|e| ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e.clone())))
                    .collect();
                self.table_function("unnest", &args, alias.as_ref(), *with_ordinality)
            }
            other => Err(unsupported(format!("FROM item {other}"))),
        }
    }

    /// `f(…) WITH ORDINALITY`: only `pg_partition_ancestors`, whose single
    /// row (memdb has no partitions: a relation is its only ancestor) is
    /// numbered 1.
    fn ordinality_function(
        &mut self,
        name: &str,
        args: &[ast::FunctionArg],
        alias: Option<&ast::TableAlias>,
    ) -> Result<Source> {
        let name = name.strip_prefix("pg_catalog.").unwrap_or(name);
        let [ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e))] = args else {
            return Err(unsupported(format!("{name}(…) WITH ORDINALITY")));
        };
        if name != "pg_partition_ancestors" {
            return Err(unsupported(format!("{name}(…) WITH ORDINALITY")));
        }
        let relid = cast_to(self.constant_or_outer(e)?, &DataType::Int4)?;
        let cols = vec![("relid".to_owned(), DataType::Int4), ("ordinality".to_owned(), DataType::Int8)];
        let columns = rename_columns(&Alias::of(alias, name), cols)?;
        Ok(Source { plan: Plan::Values { rows: vec![vec![relid, Expr::Literal(Value::Int8(1))]], width: 2 }, columns })
    }

    fn table_function(
        &mut self,
        name: &str,
        args: &[ast::FunctionArg],
        alias: Option<&ast::TableAlias>,
        ordinality: bool,
    ) -> Result<Source> {
        let name = name.strip_prefix("pg_catalog.").unwrap_or(name);
        let function = TableFunction::lookup(name)
            .ok_or_else(|| SqlError::UndefinedFunction(format!("function {name} does not exist")))?;
        let mut bound = Vec::new();
        for a in args {
            let ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) = a else {
                return Err(unsupported("named arguments"));
            };
            bound.push(self.constant_or_outer(e)?);
        }
        let (bound, columns) = table_function_signature(function, name, bound)?;
        let alias = Alias::of(alias, name);
        let mut columns: Vec<(String, DataType)> = columns;
        if ordinality {
            columns.push(("ordinality".to_owned(), DataType::Int8));
        }
        // A function returning one unnamed column takes the alias's name.
        let scalar = matches!(
            function,
            TableFunction::GenerateSeries
                | TableFunction::Unnest
                | TableFunction::JsonObjectKeys
                | TableFunction::RegexpSplitToTable
                | TableFunction::RegexpMatches
        );
        if scalar && alias.columns.is_empty() {
            columns[0].0.clone_from(&alias.name);
        }
        let columns = rename_columns(&alias, columns)?;
        Ok(Source { plan: Plan::Function { function, args: bound, ordinality }, columns })
    }
}

/// Output columns by name and type.
type NamedTypes = Vec<(String, DataType)>;

/// Checks and casts a set-returning function's arguments; returns them
/// with the function's output columns.
pub(super) fn table_function_signature(
    function: TableFunction,
    name: &str,
    mut bound: Vec<Typed>,
) -> Result<(Vec<Expr>, NamedTypes)> {
    let arity = |lo: usize, hi: usize| -> Result<()> {
        if (lo..=hi).contains(&bound.len()) {
            Ok(())
        } else {
            let types: Vec<String> = bound.iter().map(|t| t.ty.to_string()).collect();
            Err(SqlError::UndefinedFunction(format!("function {name}({}) does not exist", types.join(", "))))
        }
    };
    let cast_all = |bound: Vec<Typed>, types: &[DataType]| -> Result<Vec<Expr>> {
        bound.into_iter().zip(types.iter().cycle()).map(|(t, ty)| cast_to(t, ty)).collect()
    };
    let json_type = |binary: bool| if binary { DataType::Jsonb } else { DataType::Json };
    Ok(match function {
        TableFunction::Unnest => {
            arity(1, 1)?;
            let elem = match bound.first().map(|t| t.ty.clone()) {
                Some(DataType::Array(elem)) => *elem,
                _ => return Err(SqlError::UndefinedFunction("function unnest requires an array".into())),
            };
            (bound.into_iter().map(|t| t.expr).collect(), vec![(name.to_owned(), elem)])
        }
        TableFunction::GenerateSeries => {
            if !(2..=3).contains(&bound.len()) {
                return Err(SqlError::UndefinedFunction("function generate_series needs 2 or 3 arguments".into()));
            }
            let known: Vec<DataType> = bound.iter().take(2).filter(|t| !t.unknown).map(|t| t.ty.clone()).collect();
            let ty = common_type(known.iter(), "generate_series")?.unwrap_or(DataType::Int4);
            let ty = match ty {
                DataType::Date => DataType::Timestamp,
                t => t,
            };
            for (i, t) in bound.iter_mut().enumerate() {
                let target = if i == 2 && matches!(ty, DataType::Timestamp | DataType::TimestampTz) {
                    DataType::Interval
                } else {
                    ty.clone()
                };
                let e = cast_to(t.clone(), &target)?;
                *t = Typed::new(e, target);
            }
            (bound.into_iter().map(|t| t.expr).collect(), vec![(name.to_owned(), ty)])
        }
        TableFunction::JsonArrayElements { binary, text } => {
            arity(1, 1)?;
            let out = if text { DataType::Text } else { json_type(binary) };
            (cast_all(bound, &[json_type(binary)])?, vec![("value".to_owned(), out)])
        }
        TableFunction::JsonEach { binary, text } => {
            arity(1, 1)?;
            let out = if text { DataType::Text } else { json_type(binary) };
            (
                cast_all(bound, &[json_type(binary)])?,
                vec![("key".to_owned(), DataType::Text), ("value".to_owned(), out)],
            )
        }
        TableFunction::JsonObjectKeys => {
            arity(1, 1)?;
            let ty =
                if bound.first().is_some_and(|t| t.ty == DataType::Json) { DataType::Json } else { DataType::Jsonb };
            (cast_all(bound, &[ty])?, vec![(name.to_owned(), DataType::Text)])
        }
        TableFunction::RegexpSplitToTable => {
            arity(2, 3)?;
            (cast_all(bound, &[DataType::Text])?, vec![(name.to_owned(), DataType::Text)])
        }
        TableFunction::RegexpMatches => {
            arity(2, 3)?;
            (cast_all(bound, &[DataType::Text])?, vec![(name.to_owned(), DataType::Array(Box::new(DataType::Text)))])
        }
    })
}

/// A join whose right side reads the left row (`correlated`) runs that
/// side once per left row; inner and left joins only, as in PostgreSQL.
fn rerun_per_row(joined: Source, correlated: bool) -> Result<Source> {
    if !correlated {
        return Ok(joined);
    }
    match joined.plan {
        Plan::NestedLoopJoin { left, right, kind: kind @ (JoinKind::Inner | JoinKind::Left), on } => {
            Ok(Source { plan: Plan::Apply { left, right, kind, on }, columns: joined.columns })
        }
        _ => Err(unsupported("RIGHT or FULL JOIN LATERAL")),
    }
}

/// Two FROM items may not go by the same name (42712).
fn distinct_names(left: &[ScopeColumn], right: &[ScopeColumn]) -> Result<()> {
    let mut seen: Vec<&str> = Vec::new();
    for t in right.iter().filter_map(|c| c.table.as_deref()) {
        if !seen.contains(&t) {
            seen.push(t);
        }
    }
    match seen.into_iter().find(|t| left.iter().any(|c| c.table.as_deref() == Some(*t))) {
        Some(t) => Err(SqlError::DuplicateObject {
            code: "42712",
            message: format!("table name \"{t}\" specified more than once"),
        }),
        None => Ok(()),
    }
}

/// Whether a FROM item is a function call (`generate_series(…)`,
/// `unnest(…)`), which PostgreSQL binds as LATERAL whether or not it says so.
fn is_function_factor(f: &ast::TableFactor) -> bool {
    matches!(
        f,
        ast::TableFactor::Table { args: Some(_), .. }
            | ast::TableFactor::Function { .. }
            | ast::TableFactor::UNNEST { .. }
    )
}

/// A bound LATERAL subquery.
struct Lateral {
    plan: Plan,
    correlated: bool,
}

impl Lateral {
    /// Joins it after `left`: re-run per row when it reads the row.
    fn into_join(self, left: Plan) -> Plan {
        if self.correlated {
            Plan::Apply { left: Box::new(left), right: Box::new(self.plan), kind: JoinKind::Inner, on: None }
        } else {
            Plan::NestedLoopJoin { left: Box::new(left), right: Box::new(self.plan), kind: JoinKind::Inner, on: None }
        }
    }
}

enum SortKeyRef {
    Output(usize),
    Expr(Expr),
}

/// An ORDER BY item that names an output column: an ordinal or an output name.
fn output_position(e: &ast::Expr, columns: &[OutputColumn]) -> Result<Option<usize>> {
    match e {
        ast::Expr::Value(v) => match &v.value {
            ast::Value::Number(n, _) => {
                let i: usize = n
                    .parse()
                    .map_err(|_| SqlError::InvalidColumnReference("non-integer constant in ORDER BY".to_string()))?;
                if i == 0 || i > columns.len() {
                    return Err(SqlError::InvalidColumnReference(format!(
                        "ORDER BY position {n} is not in select list"
                    )));
                }
                Ok(Some(i - 1))
            }
            _ => Ok(None),
        },
        ast::Expr::Identifier(id) => {
            let name = ident(id);
            let matches: Vec<usize> =
                columns.iter().enumerate().filter(|(_, c)| c.name == name).map(|(i, _)| i).collect();
            match matches.as_slice() {
                [] => Ok(None),
                [i] => Ok(Some(*i)),
                [first, ..] => Ok(Some(*first)),
            }
        }
        _ => Ok(None),
    }
}

fn order_by_exprs(q: &ast::Query) -> Result<Vec<ast::OrderByExpr>> {
    match &q.order_by {
        None => Ok(Vec::new()),
        Some(ob) => match &ob.kind {
            ast::OrderByKind::Expressions(e) => Ok(e.clone()),
            ast::OrderByKind::All(_) => Err(unsupported("ORDER BY ALL")),
        },
    }
}

/// The name PostgreSQL gives an unaliased select item.
pub(super) fn column_name(e: &ast::Expr) -> String {
    match e {
        ast::Expr::Identifier(id) => ident(id),
        ast::Expr::CompoundIdentifier(parts) => parts.last().map(ident).unwrap_or_else(|| "?column?".into()),
        ast::Expr::Function(f) => {
            f.name.0.last().and_then(|p| p.as_ident()).map(ident).unwrap_or_else(|| "?column?".into())
        }
        ast::Expr::Cast { expr, data_type, .. } => match expr.as_ref() {
            ast::Expr::Value(_) => type_column_name(data_type),
            inner => column_name(inner),
        },
        ast::Expr::Nested(inner) => column_name(inner),
        ast::Expr::Case { .. } => "case".into(),
        ast::Expr::Exists { .. } => "exists".into(),
        ast::Expr::Subquery(q) => match q.body.as_ref() {
            ast::SetExpr::Select(s) => match s.projection.first() {
                Some(ast::SelectItem::UnnamedExpr(e)) => column_name(e),
                Some(ast::SelectItem::ExprWithAlias { alias, .. }) => ident(alias),
                _ => "?column?".into(),
            },
            _ => "?column?".into(),
        },
        ast::Expr::Extract { field, .. } => field
            .to_string()
            .to_lowercase()
            .replace('"', "")
            .split_whitespace()
            .next()
            .map_or("extract".into(), |_| "extract".into()),
        ast::Expr::Substring { .. } => "substring".into(),
        ast::Expr::Trim { .. } => "btrim".into(),
        ast::Expr::Position { .. } => "position".into(),
        ast::Expr::Ceil { .. } => "ceil".into(),
        ast::Expr::Floor { .. } => "floor".into(),
        ast::Expr::Array(_) => "array".into(),
        ast::Expr::TypedString(ts) => type_column_name(&ts.data_type),
        ast::Expr::Interval(_) => "interval".into(),
        _ => "?column?".into(),
    }
}

fn type_column_name(t: &ast::DataType) -> String {
    match super::types::data_type(t) {
        Ok(DataType::Int4) => "int4".into(),
        Ok(DataType::Int8) => "int8".into(),
        Ok(DataType::Int2) => "int2".into(),
        Ok(DataType::Float8) => "float8".into(),
        Ok(DataType::Float4) => "float4".into(),
        Ok(DataType::Bool) => "bool".into(),
        Ok(DataType::Varchar(_)) => "varchar".into(),
        Ok(DataType::Char(_)) => "bpchar".into(),
        Ok(DataType::TimestampTz) => "timestamptz".into(),
        Ok(DataType::Timestamp) => "timestamp".into(),
        Ok(DataType::Numeric(_)) => "numeric".into(),
        Ok(t) => t.to_string(),
        Err(_) => "?column?".into(),
    }
}

/// A FROM item's alias, `name(col, …)`, or its default name.
struct Alias {
    name: String,
    columns: Vec<String>,
}

impl Alias {
    fn of(alias: Option<&ast::TableAlias>, default: &str) -> Alias {
        match alias {
            Some(a) => Alias { name: ident(&a.name), columns: a.columns.iter().map(|c| ident(&c.name)).collect() },
            None => Alias { name: default.to_owned(), columns: Vec::new() },
        }
    }
}

fn pairs(columns: Vec<OutputColumn>) -> Vec<(String, DataType)> {
    columns.into_iter().map(|c| (c.name, c.data_type)).collect()
}

/// Renames the first columns after an alias list; more aliases than
/// columns is an error naming `what` (`table "t"`, `WITH query "q"`).
fn aliased(what: &str, columns: Vec<(String, DataType)>, aliases: &[String]) -> Result<Vec<(String, DataType)>> {
    if aliases.len() > columns.len() {
        return Err(SqlError::Semantic(format!(
            "{what} has {} columns available but {} columns specified",
            columns.len(),
            aliases.len()
        )));
    }
    Ok(columns.into_iter().enumerate().map(|(i, (name, ty))| (aliases.get(i).cloned().unwrap_or(name), ty)).collect())
}

/// The scope columns of a FROM item under its alias.
fn rename_columns(alias: &Alias, columns: Vec<(String, DataType)>) -> Result<Vec<ScopeColumn>> {
    let renamed = aliased(&format!("table \"{}\"", alias.name), columns, &alias.columns)?;
    Ok(renamed
        .into_iter()
        .map(|(name, ty)| ScopeColumn { table: Some(alias.name.clone()), name, ty, merged: false })
        .collect())
}

/// Casts a plan's output columns to the given types where they differ.
/// Whether column `i` of a set operation's branch is a bare NULL in every
/// row (`SELECT NULL`): PostgreSQL gives such a column the other branch's
/// type.
fn null_column(plan: &Plan, i: usize) -> bool {
    let null = |e: Option<&Expr>| matches!(e, Some(Expr::Literal(Value::Null)));
    match plan {
        Plan::Project { exprs, .. } => null(exprs.get(i)),
        // A VALUES list settles its own types (text), as in PostgreSQL.
        Plan::Limit { input, .. } | Plan::Sort { input, .. } | Plan::Distinct { input, .. } => null_column(input, i),
        _ => false,
    }
}

fn conform(plan: Plan, columns: &[OutputColumn], types: &[DataType]) -> Plan {
    if columns.iter().zip(types).all(|(c, t)| c.data_type == *t) {
        return plan;
    }
    let exprs = columns
        .iter()
        .zip(types)
        .enumerate()
        .map(
            |(i, (c, t))| {
                if c.data_type == *t { Expr::Column(i) } else { Expr::Cast(Box::new(Expr::Column(i)), t.clone()) }
            },
        )
        .collect();
    Plan::Project { input: Box::new(plan), exprs }
}

fn contains_placeholder(e: &Expr) -> bool {
    let mut found = false;
    e.walk(&mut |x| {
        if matches!(x, Expr::Aggregate(_) | Expr::Window(_)) {
            found = true;
        }
    });
    found
}

/// Rewrites an expression over the FROM row into one over the aggregate's
/// output row (group values, then aggregates); a bare column that is not
/// grouped is PostgreSQL's 42803.
fn rewrite_aggregated(e: Expr, group_by: &[Expr], ngroups: usize) -> Result<Expr> {
    if let Some(i) = group_by.iter().position(|g| *g == e) {
        return Ok(Expr::Column(i));
    }
    match e {
        Expr::Aggregate(j) => Ok(Expr::Column(ngroups + j)),
        Expr::Column(_) => Err(SqlError::Grouping(
            "column must appear in the GROUP BY clause or be used in an aggregate function".into(),
        )),
        Expr::Literal(_) | Expr::Param(_) | Expr::Outer { .. } | Expr::Window(_) | Expr::SetFunction(_) => Ok(e),
        Expr::Subquery(s) => {
            if !s.correlated {
                return Ok(Expr::Subquery(s));
            }
            // Its references to this query's row now read the grouped row.
            let mut sub = (*s).clone();
            let mut err = None;
            retarget_outer(&mut sub.plan, 1, group_by, &mut err);
            sub.kind = match sub.kind {
                SubqueryKind::In(x) => SubqueryKind::In(Box::new(rewrite_aggregated(*x, group_by, ngroups)?)),
                SubqueryKind::Quantified { expr, op, all } => {
                    SubqueryKind::Quantified { expr: Box::new(rewrite_aggregated(*expr, group_by, ngroups)?), op, all }
                }
                other => other,
            };
            match err {
                Some(e) => Err(e),
                None => Ok(Expr::Subquery(std::sync::Arc::new(sub))),
            }
        }
        other => {
            // Rewrite children top-down so a grouped sub-expression matches.
            let mut err = None;
            let rebuilt = rebuild_children(other, &mut |child| match rewrite_aggregated(child, group_by, ngroups) {
                Ok(x) => x,
                Err(e) => {
                    err.get_or_insert(e);
                    Expr::Literal(Value::Null)
                }
            });
            match err {
                Some(e) => Err(e),
                None => Ok(rebuilt),
            }
        }
    }
}

/// Points a subquery plan's references to the grouped query level (`depth`
/// levels out from the plan) at the group-by columns of the aggregate row;
/// a reference to an ungrouped column is PostgreSQL's 42803.
fn retarget_outer(plan: &mut Plan, depth: usize, group_by: &[Expr], err: &mut Option<SqlError>) {
    plan.for_each_expr_mut(&mut |e| retarget_expr(e, depth, group_by, err));
}

fn retarget_expr(e: &mut Expr, depth: usize, group_by: &[Expr], err: &mut Option<SqlError>) {
    let taken = std::mem::replace(e, Expr::Literal(Value::Null));
    let result = taken.transform(&mut |x| {
        Ok(match x {
            Expr::Outer { depth: d, index } if d == depth => {
                match group_by.iter().position(|g| *g == Expr::Column(index)) {
                    Some(g) => Expr::Outer { depth: d, index: g },
                    None => {
                        return Err(SqlError::Grouping("subquery uses ungrouped column from outer query".into()));
                    }
                }
            }
            Expr::Subquery(s) if s.correlated => {
                let mut sub = (*s).clone();
                retarget_outer(&mut sub.plan, depth + 1, group_by, err);
                Expr::Subquery(std::sync::Arc::new(sub))
            }
            other => other,
        })
    });
    match result {
        Ok(x) => *e = x,
        Err(x) => {
            err.get_or_insert(x);
        }
    }
}

/// Applies `f` to each direct child expression.
fn rebuild_children(e: Expr, f: &mut dyn FnMut(Expr) -> Expr) -> Expr {
    #[allow(clippy::boxed_local)] // takes the child as the enum holds it
    fn b(x: Box<Expr>, f: &mut dyn FnMut(Expr) -> Expr) -> Box<Expr> {
        Box::new(f(*x))
    }
    match e {
        Expr::Not(x) => Expr::Not(b(x, f)),
        Expr::Neg(x) => Expr::Neg(b(x, f)),
        Expr::IsNull(x) => Expr::IsNull(b(x, f)),
        Expr::IsBool(x, v) => Expr::IsBool(b(x, f), v),
        Expr::Cast(x, t) => Expr::Cast(b(x, f), t),
        Expr::And(x, y) => {
            let x = b(x, f);
            Expr::And(x, b(y, f))
        }
        Expr::Or(x, y) => {
            let x = b(x, f);
            Expr::Or(x, b(y, f))
        }
        Expr::Binary(op, x, y) => {
            let x = b(x, f);
            Expr::Binary(op, x, b(y, f))
        }
        Expr::IsDistinct(x, y) => {
            let x = b(x, f);
            Expr::IsDistinct(x, b(y, f))
        }
        Expr::Like { expr, pattern, case_insensitive } => {
            let expr = b(expr, f);
            Expr::Like { expr, pattern: b(pattern, f), case_insensitive }
        }
        Expr::InList(x, list) => {
            let x = b(x, f);
            Expr::InList(x, list.into_iter().map(&mut *f).collect())
        }
        Expr::Case { operand, whens, otherwise } => {
            let operand = operand.map(|o| b(o, f));
            let whens = whens.into_iter().map(|(w, t)| (f(w), f(t))).collect();
            let otherwise = otherwise.map(|o| b(o, f));
            Expr::Case { operand, whens, otherwise }
        }
        Expr::Call(func, args) => Expr::Call(func, args.into_iter().map(&mut *f).collect()),
        Expr::Array(items, t) => Expr::Array(items.into_iter().map(&mut *f).collect(), t),
        other => other,
    }
}

/// Adds a Window node and points the placeholders at its columns.
fn window_plan(
    plan: Plan,
    windows: Vec<crate::plan::WindowCall>,
    items: &mut [(String, Typed)],
    sort: &mut [(SortKeyRef, &ast::OrderByOptions)],
) -> Result<Plan> {
    if windows.is_empty() {
        return Ok(plan);
    }
    let base = plan.width();
    retarget_placeholders(items, sort, &|x| match x {
        Expr::Window(k) => Expr::Column(base + k),
        other => other,
    })?;
    Ok(Plan::Window { input: Box::new(plan), functions: windows })
}

/// Adds a ProjectSet node for the select list's set-returning functions
/// and points their placeholders at its columns.
fn project_set_plan(
    plan: Plan,
    functions: Vec<crate::plan::SetCall>,
    items: &mut [(String, Typed)],
    sort: &mut [(SortKeyRef, &ast::OrderByOptions)],
) -> Result<Plan> {
    if functions.is_empty() {
        return Ok(plan);
    }
    let base = plan.width();
    retarget_placeholders(items, sort, &|x| match x {
        Expr::SetFunction(k) => Expr::Column(base + k),
        other => other,
    })?;
    Ok(Plan::ProjectSet { input: Box::new(plan), functions })
}

/// Rewrites the select items and sort expressions node by node (placeholders
/// become the columns of the node just planned).
fn retarget_placeholders(
    items: &mut [(String, Typed)],
    sort: &mut [(SortKeyRef, &ast::OrderByOptions)],
    replace: &dyn Fn(Expr) -> Expr,
) -> Result<()> {
    let apply = |e: Expr| -> Result<Expr> { e.transform(&mut |x| Ok(replace(x))) };
    for (_, t) in items.iter_mut() {
        t.expr = apply(std::mem::replace(&mut t.expr, Expr::Literal(Value::Null)))?;
    }
    for (k, _) in sort.iter_mut() {
        if let SortKeyRef::Expr(e) = k {
            *e = apply(std::mem::replace(e, Expr::Literal(Value::Null)))?;
        }
    }
    Ok(())
}

/// Shifts outer references of an expression bound one level deeper than it
/// runs (VALUES items are bound in their own empty level).
fn shift_outer(e: Expr) -> Expr {
    let original = e.clone();
    e.transform(&mut |x| {
        Ok(match x {
            Expr::Outer { depth: 1, index } => Expr::Column(index),
            Expr::Outer { depth, index } => Expr::Outer { depth: depth - 1, index },
            other => other,
        })
    })
    .unwrap_or(original)
}
