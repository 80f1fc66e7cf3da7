//! A session: one client's connection state — the open transaction block,
//! settings, prepared statements — and the entry point that runs SQL text.
//!
//! Outside a block every statement runs in its own transaction
//! (autocommit). `BEGIN` opens a block; an error inside it marks the block
//! failed, and every statement but `ROLLBACK`/`COMMIT` is refused with
//! SQLSTATE 25P02 until it ends, as PostgreSQL does.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use memdb_engine::{Database, IsolationLevel, Transaction, TxnOptions, Value};
use sqlparser::ast;

use crate::bind::{Binder, DmlKind, DmlPlan, OnConflict, OutputColumn, bind_ddl};
use crate::error::{Result, SqlError, unsupported};
use crate::exec::{self, ExecCtx, Row};
use crate::expr::{Expr, Func};
use crate::plan::{Plan, explain};

/// The result of one statement.
#[derive(Clone, Debug, PartialEq)]
pub struct QueryResult {
    /// Result columns (empty for statements without rows); shared with
    /// the cached plan, so a repeated query does not copy them.
    pub columns: Arc<[OutputColumn]>,
    /// Result rows.
    pub rows: Vec<Vec<Value>>,
    /// The command tag (`SELECT 3`, `INSERT 0 1`, `CREATE TABLE`, ...).
    pub tag: String,
}

impl QueryResult {
    fn tag(tag: impl Into<String>) -> QueryResult {
        QueryResult { columns: Arc::from(Vec::new()), rows: Vec::new(), tag: tag.into() }
    }
}

/// Per-session values that statements read and change.
#[derive(Debug, Default)]
pub struct SessionVars {
    /// The session user.
    pub user: String,
    /// `currval` per sequence.
    pub currval: HashMap<String, i64>,
}

/// Where the session's transaction block stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxnStatus {
    /// No block open (autocommit).
    Idle,
    /// Inside `BEGIN … COMMIT`.
    InBlock,
    /// Inside a block that an error aborted.
    Failed,
}

/// A prepared statement (`PREPARE`, or [`Session::prepare`]): the parsed
/// statement, its declared parameter types, and its cached plan.
#[derive(Clone, Debug)]
pub struct PreparedStatement {
    statement: ast::Statement,
    params: Vec<Option<memdb_engine::DataType>>,
    plan: Option<CachedPlan>,
}

/// A compiled statement: a query plan, or a DML plan (kept behind an
/// `Arc`, so the variants' sizes do not matter).
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
enum Compiled {
    Query { plan: Plan, columns: Arc<[OutputColumn]> },
    Dml(DmlPlan),
}

/// A plan and the schema version it was made for.
#[derive(Clone, Debug)]
struct CachedPlan {
    version: memdb_engine::Timestamp,
    compiled: Arc<Compiled>,
}

/// Binds and optimizes a query or DML statement; also says whether the
/// plan may be cached (it used no view).
fn compile(
    txn: &mut Transaction,
    stmt: &ast::Statement,
    params: Vec<Option<memdb_engine::DataType>>,
) -> Result<(Compiled, bool)> {
    let mut binder = Binder::new(txn, params);
    let compiled = match stmt {
        ast::Statement::Query(q) => {
            let bound = binder.query(q)?;
            Compiled::Query { plan: crate::optimize::optimize(bound.plan), columns: Arc::from(bound.columns) }
        }
        ast::Statement::Insert(i) => Compiled::Dml(binder.insert(i)?),
        ast::Statement::Update(u) => Compiled::Dml(binder.update(u)?),
        ast::Statement::Delete(d) => Compiled::Dml(binder.delete(d)?),
        _ => return Err(unsupported("planning this kind of statement")),
    };
    let cacheable = !binder.used_views;
    let compiled = match compiled {
        Compiled::Dml(mut plan) => {
            plan.source = crate::optimize::optimize(plan.source);
            Compiled::Dml(plan)
        }
        other => other,
    };
    Ok((compiled, cacheable))
}

/// One client's session over a database.
pub struct Session {
    db: Arc<Database>,
    txn: Option<Transaction>,
    status: TxnStatus,
    vars: SessionVars,
    settings: BTreeMap<String, String>,
    prepared: HashMap<String, PreparedStatement>,
    /// Plans of recently run statement texts (the simple-query plan cache).
    statement_cache: HashMap<String, PreparedStatement>,
}

/// How many statement texts the plan cache keeps.
const STATEMENT_CACHE_SIZE: usize = 256;

fn default_settings() -> BTreeMap<String, String> {
    [
        ("application_name", ""),
        ("client_encoding", "UTF8"),
        ("datestyle", "ISO, MDY"),
        ("default_transaction_isolation", "read committed"),
        ("extra_float_digits", "1"),
        ("intervalstyle", "postgres"),
        ("search_path", "\"$user\", public"),
        ("server_encoding", "UTF8"),
        ("server_version", crate::SERVER_VERSION),
        ("standard_conforming_strings", "on"),
        ("statement_timeout", "0"),
        ("timezone", "UTC"),
        ("transaction_isolation", "read committed"),
        ("integer_datetimes", "on"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

impl Session {
    /// A new session for `user`.
    pub fn new(db: Arc<Database>, user: &str) -> Session {
        Session {
            db,
            txn: None,
            status: TxnStatus::Idle,
            vars: SessionVars { user: user.to_owned(), currval: HashMap::new() },
            settings: default_settings(),
            prepared: HashMap::new(),
            statement_cache: HashMap::new(),
        }
    }

    /// The transaction block status (for ReadyForQuery).
    pub fn status(&self) -> TxnStatus {
        self.status
    }

    /// A setting's current value.
    pub fn setting(&self, name: &str) -> Option<&str> {
        self.settings.get(&name.to_ascii_lowercase()).map(String::as_str)
    }

    /// Runs one or more `;`-separated statements; stops at the first error,
    /// which is the last element.
    pub fn run(&mut self, sql: &str) -> Vec<Result<QueryResult>> {
        // A repeated single statement skips parsing and planning.
        if let Some((key, mut prepared)) = self.statement_cache.remove_entry(sql) {
            let r = self.execute_prepared(&mut prepared, &[]);
            self.statement_cache.insert(key, prepared);
            return vec![r];
        }
        let statements = match crate::parse(sql) {
            Ok(s) => s,
            Err(e) => {
                self.fail();
                return vec![Err(e)];
            }
        };
        if let [stmt] = statements.as_slice()
            && matches!(
                stmt,
                ast::Statement::Query(_)
                    | ast::Statement::Insert(_)
                    | ast::Statement::Update(_)
                    | ast::Statement::Delete(_)
            )
        {
            let mut prepared = PreparedStatement { statement: stmt.clone(), params: Vec::new(), plan: None };
            let r = self.execute_prepared(&mut prepared, &[]);
            if prepared.plan.is_some() {
                if self.statement_cache.len() >= STATEMENT_CACHE_SIZE {
                    self.statement_cache.clear();
                }
                self.statement_cache.insert(sql.to_owned(), prepared);
            }
            return vec![r];
        }
        let mut out = Vec::with_capacity(statements.len());
        for stmt in &statements {
            let r = self.execute_statement(stmt, &[]);
            let failed = r.is_err();
            out.push(r);
            if failed {
                break;
            }
        }
        out
    }

    /// Runs SQL and returns the last statement's result.
    pub fn execute(&mut self, sql: &str) -> Result<QueryResult> {
        self.run(sql).pop().unwrap_or_else(|| Ok(QueryResult::tag("EMPTY")))
    }

    /// Runs one parsed statement with parameter values.
    pub fn execute_statement(&mut self, stmt: &ast::Statement, params: &[Value]) -> Result<QueryResult> {
        self.in_block_or_autocommit(stmt, |session, txn| session.in_transaction(txn, stmt, params))
    }

    /// Runs a statement: transaction control on its own; anything else in
    /// the open block (an error fails the block) or, outside one, in a
    /// transaction of its own that commits on success.
    fn in_block_or_autocommit(
        &mut self,
        stmt: &ast::Statement,
        run: impl FnOnce(&mut Self, &mut Transaction) -> Result<QueryResult>,
    ) -> Result<QueryResult> {
        if self.status == TxnStatus::Failed && !is_block_end(stmt) {
            return Err(SqlError::InFailedTransaction);
        }
        if let Some(r) = self.transaction_control(stmt)? {
            return Ok(r);
        }
        let (mut txn, autocommit) = match self.txn.take() {
            Some(t) => (t, false),
            None => (self.db.begin_with(self.default_options()?)?, true),
        };
        let result = run(self, &mut txn);
        if autocommit {
            match &result {
                Ok(_) => txn.commit().map(|_| ())?,
                Err(_) => txn.rollback()?,
            }
        } else {
            self.txn = Some(txn);
            if result.is_err() {
                self.status = TxnStatus::Failed;
            }
        }
        result
    }

    fn fail(&mut self) {
        if self.status == TxnStatus::InBlock {
            self.status = TxnStatus::Failed;
        }
    }

    fn default_options(&self) -> Result<TxnOptions> {
        let iso = isolation(self.setting("default_transaction_isolation").unwrap_or("read committed"))?;
        Ok(TxnOptions::isolation(iso))
    }

    /// BEGIN / COMMIT / ROLLBACK / SAVEPOINT / RELEASE; `None` for other statements.
    fn transaction_control(&mut self, stmt: &ast::Statement) -> Result<Option<QueryResult>> {
        Ok(Some(match stmt {
            ast::Statement::StartTransaction { modes, .. } => {
                if self.txn.is_some() {
                    // PostgreSQL warns and carries on.
                    return Ok(Some(QueryResult::tag("BEGIN")));
                }
                let mut options = self.default_options()?;
                for m in modes {
                    match m {
                        ast::TransactionMode::IsolationLevel(l) => {
                            options.isolation = match l {
                                ast::TransactionIsolationLevel::ReadUncommitted
                                | ast::TransactionIsolationLevel::ReadCommitted => IsolationLevel::ReadCommitted,
                                ast::TransactionIsolationLevel::RepeatableRead
                                | ast::TransactionIsolationLevel::Snapshot => IsolationLevel::Snapshot,
                                ast::TransactionIsolationLevel::Serializable => IsolationLevel::Serializable,
                            }
                        }
                        ast::TransactionMode::AccessMode(a) => {
                            options.read_only = matches!(a, ast::TransactionAccessMode::ReadOnly)
                        }
                    }
                }
                self.txn = Some(self.db.begin_with(options)?);
                self.status = TxnStatus::InBlock;
                QueryResult::tag("BEGIN")
            }
            ast::Statement::Commit { .. } => {
                let failed = self.status == TxnStatus::Failed;
                self.status = TxnStatus::Idle;
                match self.txn.take() {
                    Some(t) if failed => {
                        t.rollback()?;
                        QueryResult::tag("ROLLBACK")
                    }
                    Some(t) => {
                        t.commit()?;
                        QueryResult::tag("COMMIT")
                    }
                    None => QueryResult::tag("COMMIT"),
                }
            }
            ast::Statement::Rollback { savepoint: None, .. } => {
                self.status = TxnStatus::Idle;
                if let Some(t) = self.txn.take() {
                    t.rollback()?;
                }
                QueryResult::tag("ROLLBACK")
            }
            ast::Statement::Rollback { savepoint: Some(name), .. } => {
                let txn = self.txn.as_mut().ok_or_else(|| no_block("ROLLBACK TO SAVEPOINT"))?;
                txn.rollback_to_savepoint(&crate::bind::ident_name(name))?;
                self.status = TxnStatus::InBlock;
                QueryResult::tag("ROLLBACK")
            }
            ast::Statement::Savepoint { name } => {
                if self.status == TxnStatus::Failed {
                    return Err(SqlError::InFailedTransaction);
                }
                let txn = self.txn.as_mut().ok_or_else(|| no_block("SAVEPOINT"))?;
                txn.savepoint(&crate::bind::ident_name(name))?;
                QueryResult::tag("SAVEPOINT")
            }
            ast::Statement::ReleaseSavepoint { name } => {
                if self.status == TxnStatus::Failed {
                    return Err(SqlError::InFailedTransaction);
                }
                let txn = self.txn.as_mut().ok_or_else(|| no_block("RELEASE SAVEPOINT"))?;
                txn.release_savepoint(&crate::bind::ident_name(name))?;
                QueryResult::tag("RELEASE")
            }
            _ => return Ok(None),
        }))
    }

    fn in_transaction(
        &mut self,
        txn: &mut Transaction,
        stmt: &ast::Statement,
        params: &[Value],
    ) -> Result<QueryResult> {
        // Settings and prepared statements do not touch data.
        match stmt {
            ast::Statement::Set(set) => return self.set(set),
            ast::Statement::Reset(r) => {
                match &r.reset {
                    ast::Reset::ALL => self.settings = default_settings(),
                    ast::Reset::SessionAuthorization => {}
                    ast::Reset::ConfigurationParameter(name) => {
                        let name = name.to_string().to_ascii_lowercase();
                        match default_settings().remove(&name) {
                            Some(v) => {
                                self.settings.insert(name, v);
                            }
                            None if self.settings.contains_key(&name) => {
                                self.settings.remove(&name);
                            }
                            None => {
                                return Err(SqlError::InvalidParameter(format!(
                                    "unrecognized configuration parameter \"{name}\""
                                )));
                            }
                        }
                    }
                }
                return Ok(QueryResult::tag("RESET"));
            }
            ast::Statement::ShowVariable { variable } => {
                let name = variable.iter().map(|i| i.value.to_ascii_lowercase()).collect::<Vec<_>>().join(" ");
                let name =
                    if name == "transaction isolation level" { "transaction_isolation".to_owned() } else { name };
                let value = self.settings.get(&name).cloned().ok_or_else(|| {
                    SqlError::InvalidParameter(format!("unrecognized configuration parameter \"{name}\""))
                })?;
                return Ok(QueryResult {
                    columns: Arc::from(vec![OutputColumn { name, data_type: memdb_engine::DataType::Text }]),
                    rows: vec![vec![Value::Text(value)]],
                    tag: "SHOW".into(),
                });
            }
            ast::Statement::Prepare { name, data_types, statement } => {
                let types = data_types
                    .iter()
                    .map(|t| crate::bind::types::data_type(t).map(Some))
                    .collect::<Result<Vec<_>>>()?;
                let key = crate::bind::ident_name(name);
                if self.prepared.contains_key(&key) {
                    return Err(SqlError::DuplicateObject {
                        code: "42P05",
                        message: format!("prepared statement \"{key}\" already exists"),
                    });
                }
                self.prepared
                    .insert(key, PreparedStatement { statement: (**statement).clone(), params: types, plan: None });
                return Ok(QueryResult::tag("PREPARE"));
            }
            ast::Statement::Deallocate { name, .. } => {
                let key = crate::bind::ident_name(name);
                if key == "all" {
                    self.prepared.clear();
                } else if self.prepared.remove(&key).is_none() {
                    return Err(SqlError::UndefinedPreparedStatement(key));
                }
                return Ok(QueryResult::tag("DEALLOCATE"));
            }
            _ => {}
        }
        self.with_txn_cached(txn, stmt, params, &[], None)
    }

    /// Runs a statement, reusing `cache`'s plan when the schema has not
    /// changed since it was made (and refreshing it otherwise).
    fn with_txn_cached(
        &mut self,
        txn: &mut Transaction,
        stmt: &ast::Statement,
        params: &[Value],
        param_types: &[Option<memdb_engine::DataType>],
        cache: Option<&mut Option<CachedPlan>>,
    ) -> Result<QueryResult> {
        txn.begin_statement()?;
        if !matches!(
            stmt,
            ast::Statement::Query(_)
                | ast::Statement::Insert(_)
                | ast::Statement::Update(_)
                | ast::Statement::Delete(_)
        ) {
            return self.other_statement(txn, stmt, params);
        }
        let version = txn.schema_version();
        let compiled = match (cache.as_deref(), version) {
            (Some(Some(c)), Some(v)) if c.version == v => c.compiled.clone(),
            _ => {
                let (compiled, cacheable) = compile(txn, stmt, param_types.to_vec())?;
                let compiled = Arc::new(compiled);
                if let (Some(slot), Some(v), true) = (cache, version, cacheable) {
                    *slot = Some(CachedPlan { version: v, compiled: compiled.clone() });
                }
                compiled
            }
        };
        match compiled.as_ref() {
            Compiled::Query { plan, columns } => {
                let mut cx = ExecCtx::new(txn, params, &mut self.vars);
                let rows = exec::run(plan, &mut cx)?;
                let tag = format!("SELECT {}", rows.len());
                Ok(QueryResult { columns: columns.clone(), rows, tag })
            }
            Compiled::Dml(plan) => self.dml(txn, plan, params),
        }
    }

    fn other_statement(
        &mut self,
        txn: &mut Transaction,
        stmt: &ast::Statement,
        params: &[Value],
    ) -> Result<QueryResult> {
        match stmt {
            ast::Statement::Explain { statement, analyze, .. } => self.explain(txn, statement, *analyze, params),
            ast::Statement::Execute { name: Some(name), parameters, .. } => {
                let key = crate::bind::object_name(name)?;
                // Taken out while it runs (its plan may be refreshed), then put back.
                let (key, mut prepared) =
                    self.prepared.remove_entry(&key).ok_or(SqlError::UndefinedPreparedStatement(key))?;
                let result = self.execute_with_arguments(txn, &mut prepared, parameters);
                self.prepared.insert(key, prepared);
                result
            }
            ast::Statement::Analyze { .. } => Ok(QueryResult::tag("ANALYZE")),
            other => Ok(QueryResult::tag(bind_ddl(txn, other)?)),
        }
    }

    /// `EXECUTE name(arguments)`: evaluates the arguments as constants of
    /// the declared parameter types and runs the prepared statement.
    fn execute_with_arguments(
        &mut self,
        txn: &mut Transaction,
        prepared: &mut PreparedStatement,
        arguments: &[ast::Expr],
    ) -> Result<QueryResult> {
        let mut values = Vec::with_capacity(arguments.len());
        for (i, p) in arguments.iter().enumerate() {
            let t = Binder::new(txn, Vec::new()).constant_expr(p)?;
            let e = match prepared.params.get(i).cloned().flatten() {
                Some(ty) => crate::bind::cast_expr(t, &ty)?,
                None => t.expr,
            };
            let mut cx = ExecCtx::new(txn, &[], &mut self.vars);
            values.push(e.eval(&[], &mut cx)?);
        }
        let PreparedStatement { statement, params, plan } = prepared;
        self.with_txn_cached(txn, statement, &values, params, Some(plan))
    }

    /// Parses a statement once for repeated execution with parameters
    /// (`$1`, `$2`, …); its plan is made on first execution and reused
    /// while the schema stays the same.
    pub fn prepare(&mut self, sql: &str) -> Result<PreparedStatement> {
        let mut statements = crate::parse(sql)?;
        if statements.len() > 1 {
            return Err(SqlError::Semantic("cannot insert multiple commands into a prepared statement".into()));
        }
        let statement = statements.pop().ok_or_else(|| SqlError::Semantic("empty statement".into()))?;
        Ok(PreparedStatement { statement, params: Vec::new(), plan: None })
    }

    /// Executes a prepared statement with parameter values.
    pub fn execute_prepared(&mut self, prepared: &mut PreparedStatement, params: &[Value]) -> Result<QueryResult> {
        let PreparedStatement { statement, params: types, plan } = prepared;
        self.in_block_or_autocommit(statement, |session, txn| {
            session.with_txn_cached(txn, statement, params, types, Some(plan))
        })
    }

    fn explain(
        &mut self,
        txn: &mut Transaction,
        stmt: &ast::Statement,
        analyze: bool,
        params: &[Value],
    ) -> Result<QueryResult> {
        let plan = match compile(txn, stmt, Vec::new())?.0 {
            Compiled::Query { plan, .. } => plan,
            Compiled::Dml(dml) => dml.source,
        };
        let lines = if analyze {
            let started = std::time::Instant::now();
            let mut cx = ExecCtx::new(txn, params, &mut self.vars);
            cx.collect_stats();
            exec::run(&plan, &mut cx)?;
            let stats = cx.take_stats();
            let mut lines = explain(&plan, Some(&stats));
            lines.push(format!("Execution Time: {:.3} ms", started.elapsed().as_secs_f64() * 1000.0));
            lines
        } else {
            explain(&plan, None)
        };
        Ok(QueryResult {
            columns: Arc::from(vec![OutputColumn {
                name: "QUERY PLAN".into(),
                data_type: memdb_engine::DataType::Text,
            }]),
            rows: lines.into_iter().map(|l| vec![Value::Text(l)]).collect(),
            tag: "EXPLAIN".into(),
        })
    }

    fn set(&mut self, set: &ast::Set) -> Result<QueryResult> {
        let (name, value) = match set {
            ast::Set::SingleAssignment { variable, values, .. } => {
                let name = variable.to_string().to_ascii_lowercase();
                let value = values
                    .iter()
                    .map(|v| match v {
                        ast::Expr::Value(v) => match &v.value {
                            ast::Value::SingleQuotedString(s) => s.clone(),
                            other => other.to_string(),
                        },
                        other => other.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                (name, value)
            }
            ast::Set::SetTimeZone { value, .. } => {
                ("timezone".to_owned(), value.to_string().trim_matches('\'').to_owned())
            }
            ast::Set::SetNames { charset_name, .. } => ("client_encoding".to_owned(), charset_name.to_string()),
            ast::Set::SetTransaction { .. } => return Ok(QueryResult::tag("SET")),
            other => return Err(unsupported(format!("{other}"))),
        };
        let name = name.strip_prefix("session ").unwrap_or(&name).to_owned();
        let value = if value.eq_ignore_ascii_case("default") {
            default_settings().get(&name).cloned().unwrap_or_default()
        } else {
            value
        };
        if name == "default_transaction_isolation" || name == "transaction_isolation" {
            isolation(&value)?;
        }
        if name == "timezone"
            && !matches!(value.to_ascii_uppercase().as_str(), "UTC" | "GMT" | "Z" | "ETC/UTC" | "+00" | "0")
        {
            return Err(SqlError::InvalidParameter(format!(
                "invalid value for parameter \"TimeZone\": \"{value}\" (memdb runs in UTC)"
            )));
        }
        self.settings.insert(name, value);
        Ok(QueryResult::tag("SET"))
    }

    /// Runs INSERT/UPDATE/DELETE.
    fn dml(&mut self, txn: &mut Transaction, plan: &DmlPlan, params: &[Value]) -> Result<QueryResult> {
        let source = &plan.source;
        let read_committed = txn.options().isolation == IsolationLevel::ReadCommitted;
        let mut cx = ExecCtx::new(txn, params, &mut self.vars);
        // INSERT … VALUES is evaluated here, where DEFAULT markers are visible.
        let (rows, insert_rows) = match (&plan.kind, source) {
            (DmlKind::Insert { columns, .. }, Plan::Values { rows, .. }) => {
                let mut out = Vec::with_capacity(rows.len());
                for row in rows {
                    let mut cols = Vec::with_capacity(row.len());
                    let mut values = Vec::with_capacity(row.len());
                    for (&c, e) in columns.iter().zip(row) {
                        if is_default_marker(e) {
                            continue;
                        }
                        cols.push(c);
                        values.push(e.eval(&[], &mut cx)?);
                    }
                    out.push((cols, values));
                }
                (Vec::new(), Some(out))
            }
            _ => (exec::run(source, &mut cx)?, None),
        };
        let table = &plan.table;
        let width = table.columns().len();
        let mut count = 0u64;
        let mut returned = Vec::new();
        match &plan.kind {
            DmlKind::Insert { columns, on_conflict } => {
                let prepared = match insert_rows {
                    Some(r) => r,
                    None => rows.into_iter().map(|row| (columns.clone(), row)).collect(),
                };
                for (mut cols, mut values) in prepared {
                    if let Some(oc) = on_conflict {
                        // Sequence defaults are drawn before the conflict
                        // check, as PostgreSQL does.
                        for pos in 0..width {
                            if !cols.contains(&pos) && is_sequence_default(table, pos) {
                                cols.push(pos);
                                values.push(default_value(&mut cx, table, pos)?);
                            }
                        }
                        match conflict(&mut cx, table, &cols, &values, oc)? {
                            Conflict::None => {}
                            Conflict::Skip => continue,
                            Conflict::Updated(new) => {
                                count += 1;
                                if let Some(r) = &plan.returning {
                                    returned.push(project(r, &new, &mut cx)?);
                                }
                                continue;
                            }
                        }
                    }
                    let id = cx.txn.insert_columns(table, &cols, values)?;
                    count += 1;
                    if let Some(r) = &plan.returning {
                        let stored = cx.txn.get_by_id(table, id)?.map(|r| r.values).unwrap_or_default();
                        returned.push(project(r, &stored, &mut cx)?);
                    }
                }
                let tag = format!("INSERT 0 {count}");
                Ok(finish(plan, returned, tag))
            }
            DmlKind::Update { assignments } => {
                let mut seen = std::collections::HashSet::new();
                for row in rows {
                    let id = row_id(&row, width)?;
                    if !seen.insert(id) {
                        continue; // a row joined several times is updated once
                    }
                    let row = if read_committed {
                        match recheck(&mut cx, table, id, &row, width, plan.predicate.as_ref())? {
                            Some(r) => r,
                            None => continue,
                        }
                    } else {
                        row
                    };
                    let mut new: Vec<Value> = row[..width].to_vec();
                    for (pos, e) in assignments {
                        new[*pos] = if is_default_marker(e) {
                            default_value(&mut cx, table, *pos)?
                        } else {
                            e.eval(&row, &mut cx)?
                        };
                    }
                    if cx.txn.update(table, id, new)? {
                        count += 1;
                        if let Some(r) = &plan.returning {
                            let stored = cx.txn.get_by_id(table, id)?.map(|r| r.values).unwrap_or_default();
                            returned.push(project(r, &stored, &mut cx)?);
                        }
                    }
                }
                let tag = format!("UPDATE {count}");
                Ok(finish(plan, returned, tag))
            }
            DmlKind::Delete => {
                for row in rows {
                    let id = row_id(&row, width)?;
                    let row = if read_committed {
                        match recheck(&mut cx, table, id, &row, width, plan.predicate.as_ref())? {
                            Some(r) => r,
                            None => continue,
                        }
                    } else {
                        row
                    };
                    if cx.txn.delete(table, id)? {
                        count += 1;
                        if let Some(r) = &plan.returning {
                            returned.push(project(r, &row[..width], &mut cx)?);
                        }
                    }
                }
                let tag = format!("DELETE {count}");
                Ok(finish(plan, returned, tag))
            }
        }
    }
}

/// `SAVEPOINT` and friends outside a block (25P01, no_active_sql_transaction).
fn no_block(what: &str) -> SqlError {
    SqlError::DataException { code: "25P01", message: format!("{what} can only be used in transaction blocks") }
}

fn is_block_end(stmt: &ast::Statement) -> bool {
    matches!(stmt, ast::Statement::Commit { .. } | ast::Statement::Rollback { .. })
}

fn isolation(name: &str) -> Result<IsolationLevel> {
    Ok(match name.trim_matches('\'').to_ascii_lowercase().as_str() {
        "read committed" | "read uncommitted" => IsolationLevel::ReadCommitted,
        "repeatable read" => IsolationLevel::Snapshot,
        "serializable" => IsolationLevel::Serializable,
        other => {
            return Err(SqlError::InvalidParameter(format!(
                "invalid value for parameter \"default_transaction_isolation\": \"{other}\""
            )));
        }
    })
}

fn is_default_marker(e: &Expr) -> bool {
    matches!(e, Expr::Call(Func::Coalesce, a) if a.is_empty())
}

fn row_id(row: &[Value], width: usize) -> Result<memdb_engine::RowId> {
    match row.get(width) {
        Some(Value::Int8(id)) => Ok(u64::try_from(*id).unwrap_or(0)),
        _ => Err(SqlError::Engine(memdb_engine::Error::Internal("row id missing from DML source".into()))),
    }
}

/// READ COMMITTED: lock the row, and re-check the predicate against its
/// newest version (PostgreSQL's re-evaluation of concurrently updated rows).
fn recheck(
    cx: &mut ExecCtx<'_>,
    table: &memdb_engine::Table,
    id: memdb_engine::RowId,
    row: &[Value],
    width: usize,
    predicate: Option<&Expr>,
) -> Result<Option<Row>> {
    let Some(current) = cx.txn.lock_row(table, id, memdb_engine::LockMode::Update, memdb_engine::LockWait::Wait)?
    else {
        return Ok(None);
    };
    if current.values.as_slice() == &row[..width] {
        return Ok(Some(row.to_vec()));
    }
    let mut fresh = current.values;
    fresh.extend_from_slice(&row[width..]);
    if let Some(p) = predicate
        && !p.eval_predicate(&fresh, cx)?
    {
        return Ok(None);
    }
    Ok(Some(fresh))
}

fn default_value(cx: &mut ExecCtx<'_>, table: &memdb_engine::Table, pos: usize) -> Result<Value> {
    let col = &table.columns()[pos];
    match &col.default {
        None => Ok(Value::Null),
        Some(memdb_engine::Expr::Function(name, args)) if name == "nextval" => match args.as_slice() {
            [memdb_engine::Expr::Literal(Value::Text(seq))] => Ok(Value::Int8(cx.nextval(seq)?)),
            _ => Ok(Value::Null),
        },
        Some(e) => Ok(e.eval(&[], &memdb_engine::expr::EvalContext { now: cx.now })?),
    }
}

fn is_sequence_default(table: &memdb_engine::Table, pos: usize) -> bool {
    matches!(table.columns().get(pos).and_then(|c| c.default.as_ref()), Some(memdb_engine::Expr::Function(name, _)) if name == "nextval")
}

fn project(exprs: &[Expr], row: &[Value], cx: &mut ExecCtx<'_>) -> Result<Row> {
    exprs.iter().map(|e| e.eval(row, cx)).collect()
}

fn finish(plan: &DmlPlan, rows: Vec<Row>, tag: String) -> QueryResult {
    match plan.returning {
        Some(_) => QueryResult { columns: Arc::from(plan.returning_columns.clone()), rows, tag },
        None => QueryResult { columns: Arc::from(Vec::new()), rows: Vec::new(), tag },
    }
}

enum Conflict {
    None,
    Skip,
    Updated(Row),
}

/// ON CONFLICT: looks for an existing row with the new row's key in the
/// target (or any unique) index.
fn conflict(
    cx: &mut ExecCtx<'_>,
    table: &memdb_engine::Table,
    cols: &[usize],
    values: &[Value],
    oc: &OnConflict,
) -> Result<Conflict> {
    let target = match oc {
        OnConflict::Nothing { target } | OnConflict::Update { target, .. } => target,
    };
    let schema = table.schema().clone();
    let live: Vec<usize> = schema.live_columns().map(|(p, _)| p).collect();
    for index in schema.indexes.iter().filter(|i| i.unique) {
        let logical: Vec<usize> = index.columns.iter().filter_map(|p| live.iter().position(|l| l == p)).collect();
        if !target.is_empty() {
            let mut a = logical.clone();
            a.sort_unstable();
            let mut b = target.clone();
            b.sort_unstable();
            if a != b {
                continue;
            }
        }
        let mut key = Vec::with_capacity(logical.len());
        for c in &logical {
            match cols.iter().position(|x| x == c) {
                Some(i) => key.push(values[i].clone()),
                None => break,
            }
        }
        if key.len() != logical.len() || key.iter().any(Value::is_null) {
            continue;
        }
        let found = cx.txn.index_lookup(table, &index.name, &key)?;
        let Some(existing) = found.into_iter().next() else { continue };
        return match oc {
            OnConflict::Nothing { .. } => Ok(Conflict::Skip),
            OnConflict::Update { assignments, predicate, .. } => {
                let width = existing.values.len();
                let mut proposed = vec![Value::Null; width];
                for (&c, v) in cols.iter().zip(values) {
                    proposed[c] = v.clone();
                }
                let mut row = existing.values.clone();
                row.extend(proposed);
                if let Some(p) = predicate
                    && !p.eval_predicate(&row, cx)?
                {
                    return Ok(Conflict::Skip);
                }
                let mut new = existing.values.clone();
                for (pos, e) in assignments {
                    new[*pos] = if is_default_marker(e) { default_value(cx, table, *pos)? } else { e.eval(&row, cx)? };
                }
                cx.txn.update(table, existing.id, new)?;
                let stored = cx.txn.get_by_id(table, existing.id)?.map(|r| r.values).unwrap_or_default();
                Ok(Conflict::Updated(stored))
            }
        };
    }
    Ok(Conflict::None)
}
