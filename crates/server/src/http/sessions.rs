//! SQL sessions for HTTP requests.
//!
//! HTTP is stateless, so a request borrows a [`memdb_sql::Session`] from a
//! pool for its duration and gives it back idle: a transaction it left open
//! is rolled back first. Each pooled session keeps the statements the
//! record and join routes prepared (by SQL text), so a repeated request
//! skips parsing and planning, as a pgwire client's prepared statement does.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use memdb_engine::{DataType, Database, Value};
use memdb_sql::{PreparedStatement, QueryResult, Session, SqlError, TxnStatus};
use parking_lot::Mutex;

use super::error::{ApiError, ApiResult};
use crate::metrics::ServerMetrics;

/// How many idle sessions the pool keeps.
const MAX_IDLE: usize = 256;
/// How many prepared statements one session keeps.
const MAX_PREPARED: usize = 512;

/// A pool of SQL sessions over one database.
pub struct SessionPool {
    db: Arc<Database>,
    idle: Mutex<Vec<HttpSession>>,
    /// `statement_timeout` of every session (ms; 0: none).
    statement_timeout_ms: u128,
    metrics: Arc<ServerMetrics>,
}

/// A session with its prepared statements.
pub struct HttpSession {
    session: Session,
    metrics: Arc<ServerMetrics>,
    /// Prepared statements by SQL text, with the parameter types they were
    /// prepared for (a table recreated with other types re-prepares).
    prepared: HashMap<String, (Vec<DataType>, PreparedStatement)>,
}

impl SessionPool {
    /// An empty pool whose sessions stop a statement after
    /// `statement_timeout` (zero: never).
    pub fn new(db: Arc<Database>, statement_timeout: std::time::Duration, metrics: Arc<ServerMetrics>) -> SessionPool {
        SessionPool { db, idle: Mutex::new(Vec::new()), statement_timeout_ms: statement_timeout.as_millis(), metrics }
    }

    /// A new session outside the pool, for one request's own SQL.
    pub fn fresh(&self) -> HttpSession {
        let mut session = self.new_session();
        session.session.act_as(super::auth::current_role().as_deref());
        session
    }

    fn new_session(&self) -> HttpSession {
        let mut session = Session::new(self.db.clone(), "http");
        if self.statement_timeout_ms > 0
            && let Err(e) = session.set_setting("statement_timeout", &self.statement_timeout_ms.to_string())
        {
            tracing::warn!("cannot set the HTTP statement timeout: {e}");
        }
        HttpSession { session, metrics: self.metrics.clone(), prepared: HashMap::new() }
    }

    /// The database the sessions run on.
    pub fn db(&self) -> &Arc<Database> {
        &self.db
    }

    /// Runs `f` with a session, then returns the session to the pool idle.
    pub fn with<R>(&self, f: impl FnOnce(&mut HttpSession) -> R) -> R {
        let taken = self.idle.lock().pop();
        let mut session = taken.unwrap_or_else(|| self.new_session());
        session.session.act_as(super::auth::current_role().as_deref());
        let out = f(&mut session);
        if session.session.status() != TxnStatus::Idle {
            // A failed rollback leaves the session unusable: drop it.
            if session.session.execute("ROLLBACK").is_err() || session.session.status() != TxnStatus::Idle {
                return out;
            }
        }
        let mut idle = self.idle.lock();
        if idle.len() < MAX_IDLE {
            idle.push(session);
        }
        out
    }
}

impl HttpSession {
    /// The underlying SQL session.
    pub fn session(&mut self) -> &mut Session {
        &mut self.session
    }

    /// Runs a statement the API built, with parameters of the declared
    /// types, reusing its plan across requests.
    pub fn query(&mut self, sql: &str, types: &[DataType], params: &[Value]) -> Result<QueryResult, SqlError> {
        let start = Instant::now();
        let result = self.query_untimed(sql, types, params);
        self.metrics.statement_done(sql, start.elapsed());
        result
    }

    /// Counts a statement run through [`HttpSession::session`] directly.
    pub fn observe(&self, sql: &str, start: Instant) {
        self.metrics.statement_done(sql, start.elapsed());
    }

    fn query_untimed(&mut self, sql: &str, types: &[DataType], params: &[Value]) -> Result<QueryResult, SqlError> {
        if let Some((declared, prepared)) = self.prepared.get_mut(sql)
            && declared.as_slice() == types
        {
            return self.session.execute_prepared(prepared, params);
        }
        let declared = types.iter().cloned().map(Some).collect();
        let mut prepared = self.session.prepare_described(sql, declared)?;
        let result = self.session.execute_prepared(&mut prepared, params);
        if self.prepared.len() >= MAX_PREPARED {
            self.prepared.clear();
        }
        self.prepared.insert(sql.to_owned(), (types.to_vec(), prepared));
        result
    }

    /// Runs `f` inside one transaction: committed when it succeeds, rolled
    /// back when it fails.
    pub fn transaction<R>(&mut self, f: impl FnOnce(&mut HttpSession) -> ApiResult<R>) -> ApiResult<R> {
        self.session.execute("BEGIN")?;
        match f(self) {
            Ok(out) => {
                self.session.execute("COMMIT")?;
                Ok(out)
            }
            Err(e) => {
                self.session.execute("ROLLBACK").map_err(ApiError::from)?;
                Err(e)
            }
        }
    }
}

/// `name` as a quoted SQL identifier.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `text` as a quoted SQL string literal.
pub fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_and_literals_are_quoted() {
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_literal("it's"), "'it''s'");
    }

    #[test]
    fn a_session_comes_back_idle_after_an_open_transaction() {
        let db = Arc::new(Database::open(memdb_engine::Config::memory()).unwrap_or_else(|e| panic!("{e}")));
        let pool = SessionPool::new(db, std::time::Duration::from_secs(5), Arc::default());
        pool.with(|s| {
            s.session().execute("CREATE TABLE t (id int PRIMARY KEY)").map(|_| ()).unwrap_or_else(|e| panic!("{e}"));
            s.session().execute("BEGIN").map(|_| ()).unwrap_or_else(|e| panic!("{e}"));
            s.session().execute("INSERT INTO t VALUES (1)").map(|_| ()).unwrap_or_else(|e| panic!("{e}"));
        });
        let rows = pool.with(|s| s.query("SELECT count(*) FROM t", &[], &[]).map(|r| r.rows));
        assert_eq!(
            rows.ok().and_then(|r| r.first().and_then(|r| r.first().cloned())).map(|v| v.to_string()),
            Some("0".into())
        );
    }
}
