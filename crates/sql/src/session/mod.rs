//! A session: one client's connection state — the open transaction block,
//! settings, prepared statements — and the entry point that runs SQL text.
//!
//! Outside a block every statement runs in its own transaction
//! (autocommit). `BEGIN` opens a block; an error inside it marks the block
//! failed, and every statement but `ROLLBACK`/`COMMIT` is refused with
//! SQLSTATE 25P02 until it ends, as PostgreSQL does.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use memdb_engine::{Database, IsolationLevel, Transaction, TxnOptions, Value};
use sqlparser::ast;

use crate::bind::{Binder, DmlPlan, OutputColumn, bind_ddl};
use crate::copy::CopyFormat;
use crate::error::{Result, SqlError, unsupported};
use crate::exec::{self, ExecCtx};
use crate::expr::Expr;
use crate::notice::Notice;
use crate::plan::{Plan, explain};

mod alter_type;
mod analyze;
mod copy;
mod dml;
mod pg_settings;
mod roles;
mod settings;

pub(crate) use settings::{default_settings_list, is_known as is_known_setting};

pub use roles::AUDIT_TARGET;

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
    /// Whether the result is a row set (described, even with no columns
    /// or rows, as `SELECT FROM t` is) rather than a bare command tag
    /// (`CREATE TABLE … AS` answers `SELECT n` with no rows).
    pub row_set: bool,
}

impl QueryResult {
    fn tag(tag: impl Into<String>) -> QueryResult {
        QueryResult { columns: Arc::from(Vec::new()), rows: Vec::new(), tag: tag.into(), row_set: false }
    }
}

/// Per-session values that statements read and change.
#[derive(Debug, Default)]
pub struct SessionVars {
    /// The session user.
    pub user: String,
    /// `currval` per sequence.
    pub currval: HashMap<String, i64>,
    /// What the latest `nextval` returned (`lastval`).
    pub lastval: Option<i64>,
    /// Cancellation and the statement's deadline.
    pub(crate) interrupt: Interrupt,
    /// SET/SHOW settings (`current_setting` and `set_config` reach them
    /// from expressions).
    pub(crate) settings: settings::Settings,
}

/// What can stop a running statement: a cancel request from another
/// connection, or `statement_timeout`.
#[derive(Debug, Default)]
pub(crate) struct Interrupt {
    cancel: Arc<AtomicBool>,
    deadline: Option<Instant>,
    /// When the running statement started.
    started: Option<Instant>,
    /// Moves the rest of a long statement off an async runtime's worker
    /// thread (the database's blocking hook), so the connections queued on
    /// that worker — and the runtime's I/O — are served meanwhile.
    handoff: Option<memdb_engine::BlockingHook>,
    /// Run time (µs) at which the next hand-off is tried.
    next_handoff_us: AtomicU64,
    /// Set when another thread of the same parallel statement failed.
    stop: Option<Arc<AtomicBool>>,
}

/// A statement running longer than this leaves its runtime worker.
const HANDOFF_AFTER_US: u64 = 10_000;

impl SessionVars {
    /// What a parallel worker thread of a statement reads: the same user,
    /// settings and cancellation, but no hand-off (the worker is not a
    /// runtime thread) and no sequence state (workers run no sequence
    /// functions). `stop` also interrupts it: set when another thread of
    /// the statement failed.
    pub(crate) fn for_worker(&self, stop: Option<Arc<AtomicBool>>) -> SessionVars {
        SessionVars {
            user: self.user.clone(),
            currval: HashMap::new(),
            lastval: None,
            interrupt: Interrupt {
                cancel: self.interrupt.cancel.clone(),
                deadline: self.interrupt.deadline,
                started: self.interrupt.started,
                handoff: None,
                next_handoff_us: AtomicU64::new(0),
                stop,
            },
            settings: self.settings.clone(),
        }
    }
}

impl Interrupt {
    pub(crate) fn check(&self) -> Result<()> {
        if self.cancel.load(Ordering::Relaxed) {
            return Err(SqlError::QueryCanceled("user request".into()));
        }
        if self.stop.as_ref().is_some_and(|stop| stop.load(Ordering::Relaxed)) {
            return Err(SqlError::QueryCanceled("another thread of the statement failed".into()));
        }
        if self.deadline.is_none() && self.handoff.is_none() {
            return Ok(());
        }
        let now = Instant::now();
        if let Some(deadline) = self.deadline
            && now >= deadline
        {
            return Err(SqlError::QueryCanceled("statement timeout".into()));
        }
        if let (Some(hook), Some(started)) = (self.handoff, self.started) {
            let ran_us = u64::try_from(now.duration_since(started).as_micros()).unwrap_or(u64::MAX);
            let next = self.next_handoff_us.load(Ordering::Relaxed);
            if ran_us >= next {
                // The runtime hands this thread's queue to another thread
                // while the closure runs; the pause gives that thread time
                // to take it (else this thread keeps it). Retried with
                // growing gaps, so a long statement pays well under 1%.
                self.next_handoff_us.store(next.saturating_mul(2), Ordering::Relaxed);
                hook(&mut || std::thread::sleep(Duration::from_millis(1)));
            }
        }
        Ok(())
    }
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
    /// Parameter types: declared, or inferred when the plan was made.
    params: Vec<Option<memdb_engine::DataType>>,
    plan: Option<CachedPlan>,
    /// The result columns, once described.
    columns: Option<Arc<[OutputColumn]>>,
}

impl PreparedStatement {
    fn new(statement: ast::Statement, params: Vec<Option<memdb_engine::DataType>>) -> PreparedStatement {
        PreparedStatement { statement, params, plan: None, columns: None }
    }

    /// Parameter types (`$1`, `$2`, …): as declared, else as inferred from
    /// their context when the statement was described, else `text`.
    pub fn parameter_types(&self) -> Vec<memdb_engine::DataType> {
        self.params.iter().map(|t| t.clone().unwrap_or(memdb_engine::DataType::Text)).collect()
    }

    /// The columns the statement returns (empty when it returns no rows);
    /// known once [`Session::prepare_described`] made it.
    pub fn columns(&self) -> Arc<[OutputColumn]> {
        self.columns.clone().unwrap_or_else(|| Arc::from(Vec::new()))
    }
}

/// What running one statement produced.
#[derive(Debug)]
pub enum Outcome {
    /// Rows (for a query) and the command tag.
    Done(QueryResult),
    /// `COPY … FROM STDIN` began: the session now takes the data through
    /// [`Session::copy_data`] and ends it with [`Session::copy_done`] or
    /// [`Session::copy_fail`].
    CopyIn {
        /// How many columns each row has.
        columns: usize,
        /// The data format.
        format: CopyFormat,
    },
    /// `COPY … TO STDOUT`: the data, one chunk per row, newlines included.
    CopyOut {
        /// How many columns each row has.
        columns: usize,
        /// The data format.
        format: CopyFormat,
        /// The encoded rows (and the header line, if asked for).
        data: Vec<Vec<u8>>,
        /// How many rows (for the `COPY n` tag).
        rows: u64,
    },
}

impl Outcome {
    /// For callers without a COPY data channel: `COPY … TO STDOUT` becomes
    /// one text column of lines; `COPY … FROM STDIN` is refused.
    fn into_result(self, session: &mut Session) -> Result<QueryResult> {
        match self {
            Outcome::Done(r) => Ok(r),
            Outcome::CopyOut { data, rows, .. } => Ok(QueryResult {
                columns: Arc::from(vec![OutputColumn { name: "copy".into(), data_type: memdb_engine::DataType::Text }]),
                rows: data
                    .into_iter()
                    .map(|line| {
                        vec![Value::Text(
                            String::from_utf8_lossy(line.strip_suffix(b"\n").unwrap_or(&line)).into_owned(),
                        )]
                    })
                    .collect(),
                tag: format!("COPY {rows}"),
                row_set: true,
            }),
            Outcome::CopyIn { .. } => {
                session.copy_fail("COPY FROM STDIN needs a client that sends the data");
                Err(SqlError::FeatureNotSupported("COPY FROM STDIN without a data channel".into()))
            }
        }
    }
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
    version: PlanVersion,
    compiled: Arc<Compiled>,
}

/// What a cached plan was made against: the schema version and the
/// statistics epoch (a plan holds while neither changes).
type PlanVersion = (memdb_engine::Timestamp, u64);

/// The plan version a transaction sees; `None` while it has uncommitted
/// DDL (its plans are not cached).
fn plan_version(txn: &Transaction) -> Option<PlanVersion> {
    txn.schema_version().map(|v| (v, txn.statistics_epoch()))
}

/// Whether a statement is planned (and its plan cacheable): queries and DML.
fn is_plannable(stmt: &ast::Statement) -> bool {
    matches!(
        stmt,
        ast::Statement::Query(_) | ast::Statement::Insert(_) | ast::Statement::Update(_) | ast::Statement::Delete(_)
    )
}

/// Binds and optimizes a query or DML statement; also says whether the
/// plan may be cached (it used no view), and the parameter types: declared,
/// or inferred from context.
fn compile(
    txn: &mut Transaction,
    stmt: &ast::Statement,
    params: Vec<Option<memdb_engine::DataType>>,
    user: &str,
) -> Result<(Compiled, bool, Vec<Option<memdb_engine::DataType>>)> {
    let mut binder = Binder::new(txn, params);
    user.clone_into(&mut binder.user);
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
    let mut params = std::mem::take(&mut binder.params);
    let mut compiled = match compiled {
        Compiled::Dml(mut plan) => {
            plan.source = crate::optimize::optimize(plan.source);
            Compiled::Dml(plan)
        }
        other => other,
    };
    infer_cast_params(&mut compiled, &mut params);
    Ok((compiled, cacheable, params))
}

/// A parameter still untyped after binding but cast somewhere (`$1::int`,
/// or assigned to a column) takes the cast's type, as PostgreSQL infers it.
fn infer_cast_params(compiled: &mut Compiled, params: &mut [Option<memdb_engine::DataType>]) {
    if params.iter().all(Option::is_some) {
        return;
    }
    let mut visit = |e: &Expr| {
        e.walk(&mut |node| {
            if let Expr::Cast(inner, ty) = node
                && let Expr::Param(i) = inner.as_ref()
                && let Some(slot @ None) = params.get_mut(*i)
            {
                *slot = Some(ty.clone());
            }
        })
    };
    match compiled {
        Compiled::Query { plan, .. } => plan.for_each_expr_mut(&mut |e| visit(e)),
        Compiled::Dml(dml) => {
            dml.source.for_each_expr_mut(&mut |e| visit(e));
            if let crate::bind::DmlKind::Update { assignments } = &dml.kind {
                assignments.iter().for_each(|(_, e)| visit(e));
            }
            if let crate::bind::DmlKind::Insert {
                on_conflict: Some(crate::bind::OnConflict::Update { assignments, .. }),
                ..
            } = &dml.kind
            {
                assignments.iter().for_each(|(_, e)| visit(e));
            }
            dml.predicate.iter().chain(dml.returning.iter().flatten()).for_each(&mut visit);
        }
    }
}

/// One client's session over a database.
pub struct Session {
    db: Arc<Database>,
    txn: Option<Transaction>,
    status: TxnStatus,
    vars: SessionVars,
    prepared: HashMap<String, PreparedStatement>,
    /// Plans of recently run statement texts (the simple-query plan cache).
    statement_cache: HashMap<String, PreparedStatement>,
    /// Statements recently described by Parse, by text, with the parameter
    /// types the client declared: a driver that sends Parse before every
    /// Execute (unnamed statements) skips parsing and planning.
    described_cache: HashMap<String, (Vec<Option<memdb_engine::DataType>>, PreparedStatement)>,
    /// A `COPY … FROM STDIN` in progress.
    copy_in: Option<Box<copy::CopyInState>>,
    /// The timeout settings, parsed.
    timeouts: Timeouts,
    /// The options a transaction begins with, parsed from the settings
    /// (`None` when a setting does not parse: computing them again reports
    /// the error). Every autocommit statement begins one.
    default_txn: Option<TxnOptions>,
    /// The role transactions act for (`None`: unrestricted, as embedded
    /// sessions and trusted local connections are).
    role: Option<String>,
    /// Statements outside a block share one implicit transaction until
    /// [`Session::end_implicit`] (the extended protocol's Sync, the end of a
    /// multi-statement query) instead of committing one by one. An open
    /// implicit transaction is `txn` while `status` is `Idle`.
    implicit: bool,
    /// Notices raised and not yet taken, each with the index of the
    /// statement (in the query being run) that raised it.
    notices: Vec<(usize, Notice)>,
    /// The index of the statement running within its query.
    statement_index: usize,
}

/// Timeout settings in milliseconds (0: none).
#[derive(Clone, Copy, Debug, Default)]
struct Timeouts {
    statement_ms: u64,
    idle_session_ms: u64,
    idle_in_transaction_ms: u64,
}

/// How many statement texts the plan cache keeps.
const STATEMENT_CACHE_SIZE: usize = 256;

impl Session {
    /// A new session for `user`.
    pub fn new(db: Arc<Database>, user: &str) -> Session {
        let interrupt = Interrupt { handoff: db.blocking_hook(), ..Interrupt::default() };
        Session {
            db,
            txn: None,
            status: TxnStatus::Idle,
            vars: SessionVars {
                user: user.to_owned(),
                currval: HashMap::new(),
                lastval: None,
                interrupt,
                settings: settings::Settings::default(),
            },
            prepared: HashMap::new(),
            statement_cache: HashMap::new(),
            described_cache: HashMap::new(),
            copy_in: None,
            timeouts: Timeouts::default(),
            default_txn: None,
            role: None,
            implicit: false,
            notices: Vec::new(),
            statement_index: 0,
        }
    }

    /// Makes the session's transactions act for `role` (checked against its
    /// privileges), or for nobody in particular (`None`: unrestricted).
    /// Takes effect from the next transaction. (Plans stay valid: the
    /// engine checks privileges when a plan runs, not when it is made.)
    pub fn act_as(&mut self, role: Option<&str>) {
        if self.role.as_deref() != role {
            self.role = role.map(str::to_owned);
        }
    }

    /// The role the session's transactions act for, if any.
    pub fn acting_role(&self) -> Option<&str> {
        self.role.as_deref()
    }

    /// Begins a transaction acting for the session's role.
    fn begin_txn(&self, options: TxnOptions) -> Result<Transaction> {
        let mut txn = self.db.begin_with(options)?;
        if let Some(role) = &self.role {
            txn.act_as(role);
        }
        Ok(txn)
    }

    /// Sets the session user (from a connection's startup message).
    pub fn set_user(&mut self, user: &str) {
        user.clone_into(&mut self.vars.user);
    }

    /// Sets a setting without SQL (a connection's startup parameters such
    /// as `application_name`); unknown names are kept as custom settings.
    pub fn set_setting(&mut self, name: &str, value: &str) -> Result<()> {
        let name = name.to_ascii_lowercase();
        self.validate_setting(&name, value)?;
        self.vars.settings.put(name, value.to_owned(), false);
        self.settings_changed();
        Ok(())
    }

    /// A flag that cancels the running statement when set (a client's
    /// CancelRequest arrives on another connection, so on another thread).
    /// Each statement clears it when it starts.
    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        self.vars.interrupt.cancel.clone()
    }

    /// Arms the interrupt for a new statement: clears an old cancel, sets
    /// the `statement_timeout` deadline.
    fn start_statement(&mut self) {
        // `set_config` in the last statement may have changed a timeout.
        self.settings_changed();
        self.vars.interrupt.cancel.store(false, Ordering::Relaxed);
        let ms = self.timeouts.statement_ms;
        let now = (ms > 0 || self.vars.interrupt.handoff.is_some()).then(Instant::now);
        self.vars.interrupt.deadline = now.filter(|_| ms > 0).map(|now| now + Duration::from_millis(ms));
        self.vars.interrupt.started = now;
        self.vars.interrupt.next_handoff_us.store(HANDOFF_AFTER_US, Ordering::Relaxed);
    }

    /// Notes the settings a block starting now returns to.
    fn begin_block_settings(&mut self) {
        self.vars.settings.begin_block();
    }

    /// Puts the settings back as the ending block leaves them.
    fn end_block_settings(&mut self, committed: bool) {
        self.vars.settings.end_block(committed);
        self.settings_changed();
    }

    /// Re-reads the timeout settings (kept parsed: they are consulted for
    /// every statement and every message a connection waits for).
    fn settings_changed(&mut self) {
        if !self.vars.settings.take_changed() {
            return;
        }
        let ms = |name: &str| self.setting(name).and_then(|v| parse_duration_ms(v).ok()).unwrap_or(0);
        self.timeouts = Timeouts {
            statement_ms: ms("statement_timeout"),
            idle_session_ms: ms("idle_session_timeout"),
            idle_in_transaction_ms: ms("idle_in_transaction_session_timeout"),
        };
        self.default_txn = self.parse_default_options().ok();
    }

    /// How long the client may stay silent now, in milliseconds (0: no
    /// limit): `idle_in_transaction_session_timeout` inside a block,
    /// `idle_session_timeout` outside one.
    pub fn idle_timeout_ms(&self) -> u64 {
        match self.status {
            TxnStatus::Idle => self.timeouts.idle_session_ms,
            _ => self.timeouts.idle_in_transaction_ms,
        }
    }

    /// The transaction block status (for ReadyForQuery).
    pub fn status(&self) -> TxnStatus {
        self.status
    }

    /// A setting's current value.
    pub fn setting(&self, name: &str) -> Option<&str> {
        if name.bytes().any(|b| b.is_ascii_uppercase()) {
            self.vars.settings.get(&name.to_ascii_lowercase())
        } else {
            self.vars.settings.get(name)
        }
    }

    /// Runs one or more `;`-separated statements; stops at the first error,
    /// which is the last element. `COPY … FROM STDIN` is refused here (see
    /// [`Session::run_outcomes`]).
    pub fn run(&mut self, sql: &str) -> Vec<Result<QueryResult>> {
        let outcomes = self.run_outcomes(sql);
        outcomes.into_iter().map(|o| o.and_then(|o| o.into_result(self))).collect()
    }

    /// Takes the notices (NOTICE, WARNING) the last query or prepared
    /// statement raised, each with the index of the statement in the query
    /// that raised it, so a front end can send each before that
    /// statement's completion.
    pub fn take_notices(&mut self) -> Vec<(usize, Notice)> {
        std::mem::take(&mut self.notices)
    }

    /// Keeps a notice for the running statement.
    pub(crate) fn notice(&mut self, notice: Notice) {
        self.notices.push((self.statement_index, notice));
    }

    /// Runs one or more `;`-separated statements, as the simple query
    /// protocol does; stops at the first error (the last element) or at a
    /// `COPY … FROM STDIN`, which waits for its data.
    pub fn run_outcomes(&mut self, sql: &str) -> Vec<Result<Outcome>> {
        self.notices.clear();
        self.statement_index = 0;
        // Extended-protocol statements not yet ended by a Sync commit
        // before a simple query runs, as they would at its end on PostgreSQL.
        if self.implicit
            && let Err(e) = self.end_implicit()
        {
            return vec![Err(e)];
        }
        // A repeated single statement skips parsing and planning.
        if let Some((key, mut prepared)) = self.statement_cache.remove_entry(sql) {
            let r = self.execute_prepared_outcome(&mut prepared, &[]);
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
            && is_plannable(stmt)
        {
            let mut prepared = PreparedStatement::new(stmt.clone(), Vec::new());
            let r = self.execute_prepared_outcome(&mut prepared, &[]);
            if prepared.plan.is_some() {
                if self.statement_cache.len() >= STATEMENT_CACHE_SIZE {
                    self.statement_cache.clear();
                }
                self.statement_cache.insert(sql.to_owned(), prepared);
            }
            return vec![r];
        }
        // Several statements in one query share an implicit transaction:
        // all of them commit, or none (PostgreSQL's multi-statement rule).
        // COPY … FROM STDIN, which waits for data beyond this call, ends it
        // first and loads in a transaction of its own.
        let mut out = Vec::with_capacity(statements.len());
        self.begin_implicit();
        for (i, stmt) in statements.iter().enumerate() {
            self.statement_index = i;
            if self.implicit
                && matches!(stmt, ast::Statement::Copy { to: false, .. })
                && let Err(e) = self.end_implicit()
            {
                out.push(Err(e));
                return out;
            }
            let r = self.statement_outcome(stmt, &[], &[], None);
            let stop = !matches!(r, Ok(Outcome::Done(_)) | Ok(Outcome::CopyOut { .. }));
            out.push(r);
            if stop {
                break;
            }
        }
        if self.implicit
            && let Err(e) = self.end_implicit()
        {
            out.push(Err(e));
        }
        out
    }

    /// Runs SQL and returns the last statement's result.
    pub fn execute(&mut self, sql: &str) -> Result<QueryResult> {
        self.run(sql).pop().unwrap_or_else(|| Ok(QueryResult::tag("EMPTY")))
    }

    /// Runs one parsed statement with parameter values.
    pub fn execute_statement(&mut self, stmt: &ast::Statement, params: &[Value]) -> Result<QueryResult> {
        self.statement_outcome(stmt, params, &[], None)?.into_result(self)
    }

    /// Runs one statement: COPY on its own path, anything else in the open
    /// block or in a transaction of its own.
    fn statement_outcome(
        &mut self,
        stmt: &ast::Statement,
        params: &[Value],
        types: &[Option<memdb_engine::DataType>],
        plan: Option<&mut Option<CachedPlan>>,
    ) -> Result<Outcome> {
        if self.copy_in.is_some() {
            self.copy_fail("a statement arrived during COPY FROM STDIN");
        }
        if let ast::Statement::Copy { .. } = stmt {
            if self.status == TxnStatus::Failed {
                return Err(SqlError::InFailedTransaction);
            }
            let r = self.copy(stmt);
            if r.is_err() {
                self.fail();
            }
            return r;
        }
        let r = match plan {
            Some(plan) if is_plannable(stmt) => self.in_block_or_autocommit(stmt, |session, txn| {
                session.with_txn_cached(txn, stmt, params, types, Some(plan))
            }),
            _ => self.in_block_or_autocommit(stmt, |session, txn| session.in_transaction(txn, stmt, params)),
        };
        r.map(Outcome::Done)
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
        self.start_statement();
        match self.transaction_control(stmt) {
            Ok(Some(r)) => return Ok(r),
            Ok(None) => {}
            // A failed ROLLBACK TO or RELEASE (no such savepoint) aborts
            // the block, as any failed statement in it does.
            // (Outside a block the implicit transaction, if any, is rolled
            // back: `…; ROLLBACK TO s` keeps nothing of the query.)
            Err(e) => {
                self.fail();
                return Err(e);
            }
        }
        let (mut txn, autocommit) = match self.txn.take() {
            Some(t) => (t, false),
            None => {
                let txn = self.begin_txn(self.default_options()?)?;
                // A statement committed on its own runs at once and keeps
                // the new snapshot; an implicit transaction (or one a BEGIN
                // in the same query turns into a block) may run statements
                // that take no snapshot first, so it takes its own.
                let autocommit = !self.implicit;
                (if autocommit && is_plannable(stmt) { txn.statement_starts_now() } else { txn }, autocommit)
            }
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
                self.fail();
            }
        }
        result
    }

    /// Starts sharing one implicit transaction among the statements that
    /// follow outside a block, as PostgreSQL does between two Syncs of the
    /// extended protocol: they commit together at [`Session::end_implicit`],
    /// and an error rolls back all of them.
    pub fn begin_implicit(&mut self) {
        self.implicit = true;
    }

    /// Commits the implicit transaction, if statements opened one (an
    /// error before rolled it back already), and returns to committing
    /// each statement on its own. A failed commit (a serialization
    /// failure) is the error of the batch.
    pub fn end_implicit(&mut self) -> Result<()> {
        self.implicit = false;
        if self.status == TxnStatus::Idle
            && let Some(txn) = self.txn.take()
        {
            txn.commit()?;
        }
        Ok(())
    }

    /// Marks an open transaction block failed, for an error the session
    /// did not see itself (a statement the front end refused before it
    /// ran): as after any error in PostgreSQL, only ROLLBACK is accepted.
    pub fn fail_block(&mut self) {
        self.fail();
    }

    /// After an error: an explicit block fails (only ROLLBACK is accepted
    /// from now on); an implicit transaction is rolled back at once.
    fn fail(&mut self) {
        match self.status {
            TxnStatus::InBlock => self.status = TxnStatus::Failed,
            TxnStatus::Idle => {
                if let Some(txn) = self.txn.take() {
                    // Only the transaction's state is released; the error
                    // that got here is what the client hears.
                    drop(txn.rollback());
                }
            }
            TxnStatus::Failed => {}
        }
    }

    /// The options an implicit or autocommit transaction begins with.
    fn default_options(&self) -> Result<TxnOptions> {
        match self.default_txn {
            // Settings changed since they were parsed (set_config within a
            // statement): read them again.
            Some(options) if !self.vars.settings.is_changed() => Ok(options),
            _ => self.parse_default_options(),
        }
    }

    /// [`Session::default_options`] read from the settings.
    fn parse_default_options(&self) -> Result<TxnOptions> {
        let iso = isolation(self.setting("default_transaction_isolation").unwrap_or("read committed"))?;
        let mut options = TxnOptions::isolation(iso);
        options.read_only = self
            .setting("default_transaction_read_only")
            .is_some_and(|v| ["on", "true", "yes", "1"].iter().any(|t| v.trim_matches('\'').eq_ignore_ascii_case(t)));
        Ok(options)
    }

    /// COMMIT or ROLLBACK outside a block (with no transaction, or ending
    /// an implicit one) warns, as PostgreSQL does.
    fn warn_outside_block(&mut self) {
        if self.status == TxnStatus::Idle {
            self.notice(Notice::warning("25P01", "there is no transaction in progress"));
        }
    }

    /// BEGIN / COMMIT / ROLLBACK / SAVEPOINT / RELEASE; `None` for other statements.
    fn transaction_control(&mut self, stmt: &ast::Statement) -> Result<Option<QueryResult>> {
        Ok(Some(match stmt {
            ast::Statement::StartTransaction { modes, .. } => {
                if self.txn.is_some() {
                    // Within a block PostgreSQL warns and carries on; an
                    // implicit transaction becomes the block, statements
                    // before BEGIN included.
                    if self.status == TxnStatus::InBlock {
                        self.notice(Notice::warning("25001", "there is already a transaction in progress"));
                    }
                    self.status = TxnStatus::InBlock;
                    self.begin_block_settings();
                    return Ok(Some(QueryResult::tag("BEGIN")));
                }
                let mut options = self.default_options()?;
                for m in modes {
                    match m {
                        ast::TransactionMode::IsolationLevel(l) => options.isolation = isolation_of(l),
                        ast::TransactionMode::AccessMode(a) => {
                            options.read_only = matches!(a, ast::TransactionAccessMode::ReadOnly)
                        }
                    }
                }
                self.txn = Some(self.begin_txn(options)?);
                self.status = TxnStatus::InBlock;
                self.begin_block_settings();
                QueryResult::tag("BEGIN")
            }
            ast::Statement::Commit { .. } => {
                self.warn_outside_block();
                let failed = self.status == TxnStatus::Failed;
                self.status = TxnStatus::Idle;
                self.end_block_settings(!failed);
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
                self.warn_outside_block();
                self.status = TxnStatus::Idle;
                self.end_block_settings(false);
                if let Some(t) = self.txn.take() {
                    t.rollback()?;
                }
                QueryResult::tag("ROLLBACK")
            }
            ast::Statement::Rollback { savepoint: Some(name), .. } => {
                let txn = self.txn.as_mut().ok_or_else(|| no_block("ROLLBACK TO SAVEPOINT"))?;
                let name = crate::bind::ident_name(name);
                txn.rollback_to_savepoint(&name)?;
                self.vars.settings.rollback_to(&name);
                self.settings_changed();
                self.status = TxnStatus::InBlock;
                QueryResult::tag("ROLLBACK")
            }
            ast::Statement::Savepoint { name } => {
                if self.status == TxnStatus::Failed {
                    return Err(SqlError::InFailedTransaction);
                }
                let txn = self.txn.as_mut().ok_or_else(|| no_block("SAVEPOINT"))?;
                let name = crate::bind::ident_name(name);
                txn.savepoint(&name)?;
                self.vars.settings.savepoint(&name);
                QueryResult::tag("SAVEPOINT")
            }
            ast::Statement::ReleaseSavepoint { name } => {
                if self.status == TxnStatus::Failed {
                    return Err(SqlError::InFailedTransaction);
                }
                let txn = self.txn.as_mut().ok_or_else(|| no_block("RELEASE SAVEPOINT"))?;
                let name = crate::bind::ident_name(name);
                txn.release_savepoint(&name)?;
                self.vars.settings.release(&name);
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
            ast::Statement::Set(ast::Set::SetTransaction { modes, session, .. }) => {
                return self.set_transaction(txn, modes, *session);
            }
            ast::Statement::Set(set) => return self.set(set),
            ast::Statement::Reset(r) => {
                match &r.reset {
                    ast::Reset::ALL => self.vars.settings.reset_all(),
                    ast::Reset::SessionAuthorization => {}
                    ast::Reset::ConfigurationParameter(name) => {
                        let name = name.to_string().to_ascii_lowercase();
                        match settings::default_of(&name) {
                            Some(v) => self.vars.settings.put(name, v.to_owned(), false),
                            None => {
                                if !self.vars.settings.remove(&name) {
                                    return Err(SqlError::UndefinedParameter(name));
                                }
                            }
                        }
                    }
                }
                self.settings_changed();
                return Ok(QueryResult::tag("RESET"));
            }
            ast::Statement::ShowVariable { variable } => {
                // Several words, or a dotted custom name.
                let words: Vec<String> = variable.iter().map(|i| i.value.to_ascii_lowercase()).collect();
                let name = match words.join(" ").as_str() {
                    "transaction isolation level" => "transaction_isolation".to_owned(),
                    "time zone" => "timezone".to_owned(),
                    _ => words.join("."),
                };
                let options = (self.status != TxnStatus::Idle).then(|| txn.options());
                let value = match (name.as_str(), options) {
                    ("transaction_isolation", Some(o)) => isolation_name(o.isolation).to_owned(),
                    ("transaction_read_only", o) => {
                        if o.is_some_and(|o| o.read_only) { "on" } else { "off" }.to_owned()
                    }
                    _ => self
                        .vars
                        .settings
                        .get(&name)
                        .map(str::to_owned)
                        .ok_or_else(|| SqlError::UndefinedParameter(name.clone()))?,
                };
                return Ok(QueryResult {
                    columns: Arc::from(vec![OutputColumn { name, data_type: memdb_engine::DataType::Text }]),
                    rows: vec![vec![Value::Text(value)]],
                    tag: "SHOW".into(),
                    row_set: true,
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
                let mut prepared = PreparedStatement::new((**statement).clone(), types);
                // Planned now, for what PostgreSQL reports at PREPARE: names
                // of relations, columns and functions that do not exist. (Type
                // errors may depend on the arguments; they wait for EXECUTE.)
                // The plan is the one EXECUTE would make first: kept.
                if is_plannable(statement) {
                    let version = plan_version(txn);
                    match compile(txn, statement, prepared.params.clone(), &self.vars.user) {
                        Ok((compiled, cacheable, _)) => {
                            if let (true, Some(version)) = (cacheable, version) {
                                prepared.plan = Some(CachedPlan { version, compiled: Arc::new(compiled) });
                            }
                        }
                        Err(e) if matches!(e.sqlstate(), "42P01" | "42703" | "42883" | "3F000") => return Err(e),
                        Err(_) => {}
                    }
                }
                self.prepared.insert(key, prepared);
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
        if !is_plannable(stmt) {
            return self.other_statement(txn, stmt, params);
        }
        let version = plan_version(txn);
        let compiled = match (cache.as_deref(), version) {
            (Some(Some(c)), Some(v)) if c.version == v => c.compiled.clone(),
            _ => {
                let (compiled, cacheable, _) = compile(txn, stmt, param_types.to_vec(), &self.vars.user)?;
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
                let tag = counted_tag("SELECT ", rows.len() as u64);
                Ok(QueryResult { columns: columns.clone(), rows, tag, row_set: true })
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
            ast::Statement::Explain { statement, analyze, options, format, .. } => {
                let (analyze, mut options) = explain_options(*analyze, options.as_deref().unwrap_or(&[]))?;
                if let Some(f) = format {
                    match f.to_string().to_ascii_lowercase().as_str() {
                        "text" => options.json = false,
                        "json" => options.json = true,
                        other => return Err(unsupported(format!("EXPLAIN FORMAT {}", other.to_uppercase()))),
                    }
                }
                self.explain(txn, statement, analyze, options, params)
            }
            ast::Statement::Execute { name: Some(name), parameters, .. } => {
                let key = crate::bind::object_name(name)?;
                // Taken out while it runs (its plan may be refreshed), then put back.
                let (key, mut prepared) =
                    self.prepared.remove_entry(&key).ok_or(SqlError::UndefinedPreparedStatement(key))?;
                let result = self.execute_with_arguments(txn, &key, &mut prepared, parameters);
                self.prepared.insert(key, prepared);
                result
            }
            ast::Statement::CreateTable(ct) if ct.query.is_some() => self.create_table_as(txn, ct, params),
            ast::Statement::Analyze(a) => {
                let spec = a.table_name.as_ref().map(|t| {
                    let columns: Vec<String> = a.columns.iter().map(ToString::to_string).collect();
                    if columns.is_empty() { t.to_string() } else { format!("{t} ({})", columns.join(", ")) }
                });
                self.analyze(txn, spec.as_slice())?;
                Ok(QueryResult::tag("ANALYZE"))
            }
            ast::Statement::CreateSchema { schema_name, if_not_exists, .. } => {
                let (name, authorization) = match schema_name {
                    ast::SchemaName::Simple(n) => (Some(crate::bind::object_name(n)?), None),
                    ast::SchemaName::UnnamedAuthorization(role) => (None, Some(crate::bind::ident_name(role))),
                    ast::SchemaName::NamedAuthorization(n, role) => {
                        (Some(crate::bind::object_name(n)?), Some(crate::bind::ident_name(role)))
                    }
                };
                let mut notices = Vec::new();
                let done =
                    crate::bind::create_schema(txn, name, authorization, *if_not_exists, &self.vars.user, &mut notices);
                notices.into_iter().for_each(|n| self.notice(n));
                done?;
                Ok(QueryResult::tag("CREATE SCHEMA"))
            }
            ast::Statement::Call(function) => self.call(txn, function),
            ast::Statement::Vacuum(v) => {
                if let Some(name) = &v.table_name {
                    txn.table(&crate::bind::object_name(name)?)?;
                }
                // Old versions are collected in the background; VACUUM runs
                // a collection now.
                self.db.gc();
                Ok(QueryResult::tag("VACUUM"))
            }
            other => {
                if let Some(done) = self.role_statement(txn, other)? {
                    return Ok(done);
                }
                if let Some(done) = self.alter_with_types(txn, other)? {
                    return Ok(done);
                }
                let mut notices = Vec::new();
                let tag = bind_ddl(txn, other, &self.vars.user, &mut notices);
                notices.into_iter().for_each(|n| self.notice(n));
                let tag = tag?;
                tracing::info!(target: roles::AUDIT_TARGET, user = %self.vars.user, "{tag}: {other}");
                Ok(QueryResult::tag(tag))
            }
        }
    }

    /// `CREATE TABLE name [(columns)] AS query`: a table with the query's
    /// column names (or the ones listed) and types, holding its rows.
    /// Answers `SELECT n` as PostgreSQL does.
    fn create_table_as(
        &mut self,
        txn: &mut Transaction,
        ct: &ast::CreateTable,
        params: &[Value],
    ) -> Result<QueryResult> {
        let Some(query) = &ct.query else { return Err(SqlError::Semantic("CREATE TABLE AS needs a query".into())) };
        let name = crate::bind::object_name(&ct.name)?;
        if txn.table(&name).is_ok() && ct.if_not_exists {
            self.notice(Notice::skipped_existing_relation(&name));
            return Ok(QueryResult::tag("CREATE TABLE AS"));
        }
        crate::bind::check_creatable(txn, &name)?;
        let statement = ast::Statement::Query(query.clone());
        let Compiled::Query { plan, columns } = compile(txn, &statement, Vec::new(), &self.vars.user)?.0 else {
            return Err(SqlError::Semantic("CREATE TABLE AS needs a query".into()));
        };
        if ct.columns.len() > columns.len() {
            return Err(SqlError::Semantic("too many column names were specified".into()));
        }
        let mut schema = memdb_engine::TableSchema::new(name.clone());
        for (i, column) in columns.iter().enumerate() {
            let column_name = ct.columns.get(i).map_or_else(|| column.name.clone(), |c| crate::bind::ident(&c.name));
            schema = schema.column(memdb_engine::Column::new(column_name, column.data_type.clone()));
        }
        txn.create_table(schema)?;
        let table = txn.table(&name)?;
        let mut cx = ExecCtx::new(txn, params, &mut self.vars);
        let rows = exec::run(&plan, &mut cx)?;
        let count = rows.len();
        for row in rows {
            txn.insert(&table, row)?;
        }
        tracing::info!(target: roles::AUDIT_TARGET, user = %self.vars.user, "CREATE TABLE AS: {name}");
        Ok(QueryResult::tag(format!("SELECT {count}")))
    }

    /// `CALL procedure(arguments)`: memdb's maintenance procedures, which
    /// `CHECKPOINT` and `BACKUP TO 'dir'` also run (see `crate::parse`).
    fn call(&mut self, txn: &mut Transaction, function: &ast::Function) -> Result<QueryResult> {
        let name = crate::bind::object_name(&function.name)?;
        let name = name.strip_prefix("pg_catalog.").unwrap_or(&name).to_owned();
        let mut args = Vec::new();
        if let ast::FunctionArguments::List(list) = &function.args {
            for arg in &list.args {
                let ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) = arg else {
                    return Err(SqlError::FeatureNotSupported(format!("named or wildcard arguments to {name}")));
                };
                let t = Binder::new(txn, Vec::new()).constant_expr(e)?;
                let mut cx = ExecCtx::new(txn, &[], &mut self.vars);
                args.push(t.expr.eval(&[], &mut cx)?);
            }
        }
        if let Some(done) = self.role_procedure(txn, &name, &args)? {
            return Ok(done);
        }
        match (name.as_str(), args.as_slice()) {
            ("checkpoint", []) => {
                // Memory-only databases have nothing to write: a no-op, as
                // CHECKPOINT is on a PostgreSQL without changes.
                self.db.checkpoint()?;
                Ok(QueryResult::tag("CHECKPOINT"))
            }
            ("analyze" | "vacuum_analyze", specs) if specs.iter().all(|s| matches!(s, Value::Text(_))) => {
                let specs: Vec<String> = specs.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect();
                self.analyze(txn, &specs)?;
                if name == "analyze" {
                    return Ok(QueryResult::tag("ANALYZE"));
                }
                self.db.gc();
                Ok(QueryResult::tag("VACUUM"))
            }
            ("alter_sequence", [Value::Text(sequence), Value::Text(options), Value::Bool(if_exists)]) => {
                let mut notices = Vec::new();
                let user = self.vars.user.clone();
                let done =
                    crate::bind::sequence::alter_sequence(txn, sequence, options, *if_exists, &user, &mut notices);
                notices.into_iter().for_each(|n| self.notice(n));
                Ok(QueryResult::tag(done?))
            }
            (
                "add_identity",
                [Value::Text(table), Value::Text(column), Value::Text(sequence), Value::Text(options)],
            ) => Ok(QueryResult::tag(crate::bind::sequence::add_identity_call(txn, table, column, sequence, options)?)),
            ("backup", [Value::Text(dir)]) => {
                let info = self.db.backup(std::path::Path::new(dir))?;
                tracing::info!("backup to {dir}: {} rows at commit {}", info.rows, info.ts);
                Ok(QueryResult::tag("BACKUP"))
            }
            _ => {
                let types: Vec<String> =
                    args.iter().map(|a| a.data_type().map_or("unknown".into(), |t| t.to_string())).collect();
                Err(SqlError::UndefinedFunction(format!("procedure {name}({}) does not exist", types.join(", "))))
            }
        }
    }

    /// `EXECUTE name(arguments)`: evaluates the arguments as constants of
    /// the declared parameter types and runs the prepared statement.
    fn execute_with_arguments(
        &mut self,
        txn: &mut Transaction,
        name: &str,
        prepared: &mut PreparedStatement,
        arguments: &[ast::Expr],
    ) -> Result<QueryResult> {
        let values = self.argument_values(txn, name, prepared, arguments)?;
        let PreparedStatement { statement, params, plan, .. } = prepared;
        self.with_txn_cached(txn, statement, &values, params, Some(plan))
    }

    /// The values of `EXECUTE name(arguments)`, cast to the prepared
    /// statement's parameter types.
    fn argument_values(
        &mut self,
        txn: &mut Transaction,
        name: &str,
        prepared: &PreparedStatement,
        arguments: &[ast::Expr],
    ) -> Result<Vec<Value>> {
        let expected = prepared.params.len().max(highest_placeholder(&prepared.statement));
        if arguments.len() != expected {
            return Err(SqlError::Semantic(format!(
                "wrong number of parameters for prepared statement \"{name}\": expected {expected}, got {}",
                arguments.len()
            )));
        }
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
        Ok(values)
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
        Ok(PreparedStatement::new(statement, Vec::new()))
    }

    /// Prepares a statement as the extended query protocol's Parse does:
    /// with the client's parameter types (`None`: infer from context), bound
    /// against the catalog now, so that its parameter types and result
    /// columns are known ([`PreparedStatement::parameter_types`],
    /// [`PreparedStatement::columns`]) before it runs.
    pub fn prepare_described(
        &mut self,
        sql: &str,
        declared: Vec<Option<memdb_engine::DataType>>,
    ) -> Result<PreparedStatement> {
        // The same text and declared types, against the same schema: the
        // description and plan made last time hold.
        let version = match &self.txn {
            Some(txn) => plan_version(txn),
            None => Some((self.db.schema_version(), self.db.statistics_epoch())),
        };
        if let Some((types, cached)) = self.described_cache.get(sql)
            && *types == declared
            && cached.plan.as_ref().map(|p| p.version) == version
            && version.is_some()
            && self.status != TxnStatus::Failed
        {
            return Ok(cached.clone());
        }
        let prepared = self.describe_new(sql, declared.clone())?;
        if prepared.plan.as_ref().is_some_and(|p| Some(p.version) == version) {
            if self.described_cache.len() >= STATEMENT_CACHE_SIZE {
                self.described_cache.clear();
            }
            self.described_cache.insert(sql.to_owned(), (declared, prepared.clone()));
        }
        Ok(prepared)
    }

    /// [`Session::prepare_described`] without the cache.
    fn describe_new(&mut self, sql: &str, declared: Vec<Option<memdb_engine::DataType>>) -> Result<PreparedStatement> {
        let mut prepared = self.prepare(sql)?;
        prepared.params = declared;
        if self.status == TxnStatus::Failed && !is_block_end(&prepared.statement) {
            return Err(SqlError::InFailedTransaction);
        }
        prepared.columns = Some(match &prepared.statement {
            stmt if is_plannable(stmt) => {
                let mut own = None;
                let txn = match self.txn.as_mut() {
                    Some(t) => t,
                    None => {
                        own.insert(self.begin_txn(TxnOptions::isolation(IsolationLevel::ReadCommitted))?.uncounted())
                    }
                };
                txn.begin_statement()?;
                let version = plan_version(txn);
                let (compiled, cacheable, params) =
                    compile(txn, &prepared.statement, prepared.params.clone(), &self.vars.user)?;
                if let Some(t) = own {
                    t.rollback()?;
                }
                prepared.params = params;
                let columns = match &compiled {
                    Compiled::Query { columns, .. } => columns.clone(),
                    Compiled::Dml(dml) => Arc::from(dml.returning_columns.clone()),
                };
                if let (true, Some(version)) = (cacheable, version) {
                    prepared.plan = Some(CachedPlan { version, compiled: Arc::new(compiled) });
                }
                columns
            }
            ast::Statement::ShowVariable { variable } => Arc::from(vec![OutputColumn {
                name: variable.iter().map(|i| i.value.to_ascii_lowercase()).collect::<Vec<_>>().join(" "),
                data_type: memdb_engine::DataType::Text,
            }]),
            ast::Statement::Explain { .. } => {
                Arc::from(vec![OutputColumn { name: "QUERY PLAN".into(), data_type: memdb_engine::DataType::Text }])
            }
            _ => Arc::from(Vec::new()),
        });
        Ok(prepared)
    }

    /// Executes a prepared statement with parameter values.
    pub fn execute_prepared(&mut self, prepared: &mut PreparedStatement, params: &[Value]) -> Result<QueryResult> {
        self.execute_prepared_outcome(prepared, params)?.into_result(self)
    }

    /// Executes a prepared statement with parameter values; COPY yields its
    /// data channel instead of rows (see [`Outcome`]).
    pub fn execute_prepared_outcome(&mut self, prepared: &mut PreparedStatement, params: &[Value]) -> Result<Outcome> {
        self.notices.clear();
        self.statement_index = 0;
        let PreparedStatement { statement, params: types, plan, .. } = prepared;
        self.statement_outcome(statement, params, types, Some(plan))
    }

    fn explain(
        &mut self,
        txn: &mut Transaction,
        stmt: &ast::Statement,
        analyze: bool,
        options: crate::plan::ExplainOptions,
        params: &[Value],
    ) -> Result<QueryResult> {
        // `EXPLAIN EXECUTE name(arguments)` explains the prepared statement
        // with those arguments.
        let (stmt, types, values) = match stmt {
            ast::Statement::Execute { name: Some(name), parameters, .. } => {
                let key = crate::bind::object_name(name)?;
                let Some(prepared) = self.prepared.get(&key).cloned() else {
                    return Err(SqlError::UndefinedPreparedStatement(key));
                };
                let values = self.argument_values(txn, &key, &prepared, parameters)?;
                (prepared.statement.clone(), prepared.params.clone(), values)
            }
            other => (other.clone(), Vec::new(), params.to_vec()),
        };
        let plan = match compile(txn, &stmt, types, &self.vars.user)?.0 {
            Compiled::Query { plan, .. } => plan,
            Compiled::Dml(dml) => {
                // `Insert on t`, as PostgreSQL names the node.
                let keyword = dml.kind.verb();
                let verb = &format!("{}{}", &keyword[..1], keyword[1..].to_lowercase());
                let table = dml.table.name().to_owned();
                // EXPLAIN ANALYZE runs the statement, as PostgreSQL does.
                let lines = if analyze {
                    let started = std::time::Instant::now();
                    let mut stats = std::collections::HashMap::new();
                    self.dml_collecting(txn, &dml, &values, Some(&mut stats))?;
                    let elapsed = started.elapsed();
                    let measured = Some((&stats, elapsed));
                    if options.json {
                        let root = crate::plan::modify_json(verb, &table, &dml.source, measured, options);
                        vec![crate::plan::explain_json(root, Some(elapsed))]
                    } else {
                        let mut lines = crate::plan::explain_modify(verb, &table, &dml.source, measured, options);
                        lines.push(format!("Execution Time: {:.3} ms", elapsed.as_secs_f64() * 1000.0));
                        lines
                    }
                } else if options.json {
                    let root = crate::plan::modify_json(verb, &table, &dml.source, None, options);
                    vec![crate::plan::explain_json(root, None)]
                } else {
                    crate::plan::explain_modify(verb, &table, &dml.source, None, options)
                };
                return Ok(explain_result(lines, options.json));
            }
        };
        let lines = if analyze {
            let started = std::time::Instant::now();
            let mut cx = ExecCtx::new(txn, &values, &mut self.vars);
            cx.collect_stats();
            exec::run(&plan, &mut cx)?;
            let stats = cx.take_stats();
            let elapsed = started.elapsed();
            if options.json {
                vec![crate::plan::explain_json(crate::plan::plan_json(&plan, Some(&stats), options), Some(elapsed))]
            } else {
                let mut lines = explain(&plan, Some(&stats), options);
                lines.push(format!("Execution Time: {:.3} ms", elapsed.as_secs_f64() * 1000.0));
                lines
            }
        } else if options.json {
            vec![crate::plan::explain_json(crate::plan::plan_json(&plan, None, options), None)]
        } else {
            explain(&plan, None, options)
        };
        Ok(explain_result(lines, options.json))
    }

    /// `SET TRANSACTION …` changes the open block's transaction (its
    /// isolation only before its first query: the transaction is begun
    /// again with it); `SET SESSION CHARACTERISTICS AS TRANSACTION …` sets
    /// the defaults later transactions begin with.
    fn set_transaction(
        &mut self,
        txn: &mut Transaction,
        modes: &[ast::TransactionMode],
        session: bool,
    ) -> Result<QueryResult> {
        let mut isolation = None;
        let mut read_only = None;
        for m in modes {
            match m {
                ast::TransactionMode::IsolationLevel(l) => isolation = Some(isolation_of(l)),
                ast::TransactionMode::AccessMode(a) => {
                    read_only = Some(matches!(a, ast::TransactionAccessMode::ReadOnly));
                }
            }
        }
        if session {
            if let Some(level) = isolation {
                self.vars.settings.put("default_transaction_isolation".into(), isolation_name(level).into(), false);
            }
            if let Some(ro) = read_only {
                let value = if ro { "on" } else { "off" };
                self.vars.settings.put("default_transaction_read_only".into(), value.into(), false);
            }
            self.settings_changed();
            return Ok(QueryResult::tag("SET"));
        }
        if self.status == TxnStatus::Idle {
            self.notice(Notice::warning("25P01", "SET TRANSACTION can only be used in transaction blocks"));
            return Ok(QueryResult::tag("SET"));
        }
        if let Some(level) = isolation
            && level != txn.options().isolation
        {
            if txn.has_begun_statements() || txn.has_writes() {
                return Err(SqlError::InvalidTransactionState(
                    "SET TRANSACTION ISOLATION LEVEL must be called before any query".into(),
                ));
            }
            if txn.has_savepoints() {
                return Err(SqlError::InvalidTransactionState(
                    "SET TRANSACTION ISOLATION LEVEL must not be called in a subtransaction".into(),
                ));
            }
            let mut options = txn.options();
            options.isolation = level;
            let fresh = self.begin_txn(options)?;
            std::mem::replace(txn, fresh).rollback()?;
        }
        if let Some(ro) = read_only {
            if !ro && txn.options().read_only && txn.has_begun_statements() {
                return Err(SqlError::InvalidTransactionState(
                    "transaction read-write mode must be set before any query".into(),
                ));
            }
            txn.set_read_only(ro);
        }
        Ok(QueryResult::tag("SET"))
    }

    fn set(&mut self, set: &ast::Set) -> Result<QueryResult> {
        let mut local = false;
        let (name, value) = match set {
            ast::Set::SingleAssignment { variable, values, scope, .. } => {
                local = matches!(scope, Some(ast::ContextModifier::Local));
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
            // Reached only without a transaction (`Session::set_transaction`
            // handles it in one): nothing to change.
            ast::Set::SetTransaction { .. } => return Ok(QueryResult::tag("SET")),
            other => return Err(unsupported(format!("{other}"))),
        };
        let name = name.strip_prefix("session ").unwrap_or(&name).to_owned();
        if !settings::is_known(&name) {
            return Err(SqlError::UndefinedParameter(name));
        }
        if pg_settings::is_preset(&name) {
            return Err(SqlError::ReadOnlyParameter(name));
        }
        let value = if value.eq_ignore_ascii_case("default") {
            settings::default_of(&name).unwrap_or_default().to_owned()
        } else {
            value
        };
        self.validate_setting(&name, &value)?;
        if local && self.status == TxnStatus::Idle {
            // Outside a block there is nothing for it to last until.
            self.notice(Notice::warning("25P01", "SET LOCAL can only be used in transaction blocks"));
            return Ok(QueryResult::tag("SET"));
        }
        self.vars.settings.put(name, value, local);
        self.settings_changed();
        Ok(QueryResult::tag("SET"))
    }

    /// Rejects values a setting cannot take.
    fn validate_setting(&self, name: &str, value: &str) -> Result<()> {
        match name {
            "default_transaction_isolation" | "transaction_isolation" => isolation(value).map(|_| ()),
            "timezone"
                if !matches!(value.to_ascii_uppercase().as_str(), "UTC" | "GMT" | "Z" | "ETC/UTC" | "+00" | "0") =>
            {
                Err(SqlError::InvalidParameter(format!(
                    "invalid value for parameter \"TimeZone\": \"{value}\" (memdb runs in UTC)"
                )))
            }
            "password_encryption" if !matches!(value.to_ascii_lowercase().as_str(), "scram-sha-256" | "md5") => {
                Err(SqlError::InvalidParameter(format!(
                    "invalid value for parameter \"password_encryption\": \"{value}\" (scram-sha-256 or md5)"
                )))
            }
            "statement_timeout" | "idle_in_transaction_session_timeout" | "idle_session_timeout" | "lock_timeout" => {
                parse_duration_ms(value).map(|_| ())
            }
            _ => Ok(()),
        }
    }
}

/// A duration setting in milliseconds: a bare number is milliseconds,
/// units `us`, `ms`, `s`, `min`, `h`, `d` as PostgreSQL accepts them.
pub fn parse_duration_ms(value: &str) -> Result<u64> {
    let v = value.trim().trim_matches('\'').trim();
    let split = v.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(v.len());
    let (number, unit) = v.split_at(split);
    let bad = || SqlError::InvalidParameter(format!("invalid value for a duration setting: \"{value}\""));
    let n: f64 = number.parse().map_err(|_| bad())?;
    let scale = match unit.trim() {
        "" | "ms" => 1.0,
        "us" => 0.001,
        "s" => 1000.0,
        "min" => 60_000.0,
        "h" => 3_600_000.0,
        "d" => 86_400_000.0,
        _ => return Err(bad()),
    };
    let ms = n * scale;
    if !ms.is_finite() || ms < 0.0 || ms > i32::MAX as f64 {
        return Err(bad());
    }
    Ok(ms.round() as u64)
}

/// `SAVEPOINT` and friends outside a block (25P01, no_active_sql_transaction).
fn no_block(what: &str) -> SqlError {
    SqlError::DataException { code: "25P01", message: format!("{what} can only be used in transaction blocks") }
}

fn is_block_end(stmt: &ast::Statement) -> bool {
    matches!(stmt, ast::Statement::Commit { .. } | ast::Statement::Rollback { .. })
}

/// A level's name as `SHOW transaction_isolation` gives it.
/// A command tag with a row count (`SELECT 3`, `INSERT 0 1`), built without
/// the formatting machinery: it is made for every statement.
pub(crate) fn counted_tag(prefix: &str, count: impl Into<u64>) -> String {
    let mut digits = [0u8; 20];
    let digits = memdb_engine::types::format_u64(count.into(), &mut digits);
    let mut tag = String::with_capacity(prefix.len() + digits.len());
    tag.push_str(prefix);
    tag.extend(digits.iter().map(|&d| char::from(d)));
    tag
}

/// The isolation level a `… ISOLATION LEVEL x` clause names (READ
/// UNCOMMITTED is READ COMMITTED, as in PostgreSQL).
fn isolation_of(level: &ast::TransactionIsolationLevel) -> IsolationLevel {
    match level {
        ast::TransactionIsolationLevel::ReadUncommitted | ast::TransactionIsolationLevel::ReadCommitted => {
            IsolationLevel::ReadCommitted
        }
        ast::TransactionIsolationLevel::RepeatableRead | ast::TransactionIsolationLevel::Snapshot => {
            IsolationLevel::Snapshot
        }
        ast::TransactionIsolationLevel::Serializable => IsolationLevel::Serializable,
    }
}

fn isolation_name(level: IsolationLevel) -> &'static str {
    match level {
        IsolationLevel::ReadCommitted => "read committed",
        IsolationLevel::Snapshot => "repeatable read",
        IsolationLevel::Serializable => "serializable",
    }
}

fn isolation(name: &str) -> Result<IsolationLevel> {
    let name = name.trim_matches('\'');
    let is = |level: &str| name.eq_ignore_ascii_case(level);
    Ok(match () {
        _ if is("read committed") || is("read uncommitted") => IsolationLevel::ReadCommitted,
        _ if is("repeatable read") => IsolationLevel::Snapshot,
        _ if is("serializable") => IsolationLevel::Serializable,
        _ => {
            let other = name.to_ascii_lowercase();
            return Err(SqlError::InvalidParameter(format!(
                "invalid value for parameter \"default_transaction_isolation\": \"{other}\""
            )));
        }
    })
}

/// The highest `$n` a statement refers to (0 for none).
fn highest_placeholder(stmt: &ast::Statement) -> usize {
    let mut highest = 0;
    let _ = ast::visit_expressions(stmt, |e| {
        if let ast::Expr::Value(v) = e
            && let ast::Value::Placeholder(p) = &v.value
            && let Some(n) = p.strip_prefix('$').and_then(|n| n.parse::<usize>().ok())
        {
            highest = highest.max(n);
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
    highest
}

/// EXPLAIN's parenthesized options: whether to ANALYZE, and what to show.
/// VERBOSE, BUFFERS, TIMING, SUMMARY and SETTINGS are accepted and change
/// nothing; FORMAT other than TEXT is not supported.
/// EXPLAIN's answer: one `QUERY PLAN` row per line of text, or one `json`
/// row holding the document.
fn explain_result(lines: Vec<String>, json: bool) -> QueryResult {
    let data_type = if json { memdb_engine::DataType::Json } else { memdb_engine::DataType::Text };
    QueryResult {
        columns: Arc::from(vec![OutputColumn { name: "QUERY PLAN".into(), data_type }]),
        rows: lines.into_iter().map(|l| vec![Value::Text(l)]).collect(),
        tag: "EXPLAIN".into(),
        row_set: true,
    }
}

fn explain_options(analyze: bool, options: &[ast::UtilityOption]) -> Result<(bool, crate::plan::ExplainOptions)> {
    let mut analyze = analyze;
    let mut shown = crate::plan::ExplainOptions::default();
    for o in options {
        let name = o.name.value.to_ascii_lowercase();
        let value = o.arg.as_ref().map(|a| a.to_string().trim_matches('\'').to_ascii_lowercase());
        let on = match value.as_deref() {
            None | Some("on" | "true" | "1") => true,
            Some("off" | "false" | "0") => false,
            Some(other) if name == "format" => {
                match other {
                    "text" => shown.json = false,
                    "json" => shown.json = true,
                    _ => return Err(unsupported(format!("EXPLAIN FORMAT {}", other.to_uppercase()))),
                }
                continue;
            }
            Some(other) => {
                return Err(SqlError::InvalidParameter(format!(
                    "{} requires a Boolean value, not \"{other}\"",
                    name.to_uppercase()
                )));
            }
        };
        match name.as_str() {
            "analyze" => analyze = on,
            "costs" => shown.costs = on,
            "verbose" | "buffers" | "timing" | "summary" | "settings" | "wal" => {}
            other => return Err(SqlError::Semantic(format!("unrecognized EXPLAIN option \"{other}\""))),
        }
    }
    Ok((analyze, shown))
}

#[cfg(test)]
mod tests {
    use super::counted_tag;

    #[test]
    fn counted_tags_spell_the_count() {
        assert_eq!(counted_tag("SELECT ", 0u64), "SELECT 0");
        assert_eq!(counted_tag("INSERT 0 ", 1u64), "INSERT 0 1");
        assert_eq!(counted_tag("DELETE ", 1234567u64), "DELETE 1234567");
        assert_eq!(counted_tag("UPDATE ", u64::MAX), format!("UPDATE {}", u64::MAX));
    }
}
