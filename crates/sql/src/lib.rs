//! memdb's SQL layer: PostgreSQL-dialect SQL text in, rows or a command tag
//! out, inside the engine's transactions.
//!
//! # Life of a statement
//!
//! 1. [`Session::run`] hands the text to [`parse`], which uses `sqlparser`'s
//!    PostgreSQL dialect; a syntax error is SQLSTATE 42601 with a position.
//! 2. Outside a `BEGIN` block the session begins a transaction for the
//!    statement (autocommit); inside one it uses the block's.
//! 3. The binder (`bind`) resolves names against the transaction's catalog,
//!    types every expression with PostgreSQL's rules and builds a plan
//!    (`plan`) — or, for DDL, calls the engine's catalog operations.
//! 4. The optimizer (`optimize`) pushes predicates into scans and joins,
//!    picks indexes for them, turns equi-joins into hash joins and sorts
//!    with a limit into top-k.
//! 5. The executor (`exec`) turns the plan into operators that pass batches
//!    of rows; expressions (`expr`) evaluate per row.
//! 6. The session commits (autocommit) or keeps the block open, and
//!    returns a [`QueryResult`]: columns, rows and the command tag.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use memdb_engine::{Config, Database, Value};
//! use memdb_sql::Session;
//!
//! let db = Arc::new(Database::open(Config::memory())?);
//! let mut session = Session::new(db, "me");
//! session.execute("CREATE TABLE t (id serial PRIMARY KEY, name text NOT NULL)")?;
//! session.execute("INSERT INTO t (name) VALUES ('ann'), ('bob')")?;
//! let result = session.execute("SELECT id, upper(name) FROM t ORDER BY id")?;
//! assert_eq!(result.rows.len(), 2);
//! // Prepared statements keep their plan while the schema stays the same.
//! let mut by_id = session.prepare("SELECT name FROM t WHERE id = $1")?;
//! let row = session.execute_prepared(&mut by_id, &[Value::Int8(2)])?;
//! assert_eq!(row.rows[0][0], Value::Text("bob".into()));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod betweensyntax;
mod bind;
mod copy;
mod depth;
mod error;
pub mod exec;
pub mod expr;
mod lockclause;
mod maintenance;
pub mod notice;
mod optimize;
pub mod plan;
mod rolesyntax;
mod seqsyntax;
mod session;
mod system;
mod tokens;

use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::{Parser, ParserError};

pub use bind::{BoundQuery, OutputColumn};
pub use copy::CopyFormat;
pub use error::{Result, SqlError};
pub use notice::{Notice, Severity};
pub use session::{
    AUDIT_TARGET, Outcome, PreparedStatement, QueryResult, Session, SessionVars, TxnStatus, parse_duration_ms,
};
pub use sqlparser::ast::Statement;
pub use system::{type_length, type_modifier, type_oid};

/// The PostgreSQL version memdb reports (`server_version`).
pub const SERVER_VERSION: &str = "15.0";

/// The text of `version()`.
pub fn server_version_string() -> String {
    format!("PostgreSQL {SERVER_VERSION} (memdb {})", env!("CARGO_PKG_VERSION"))
}

/// How deep the parser may recurse (its default, 50, refuses generated
/// queries PostgreSQL runs, such as 26 nested parentheses of `AND`/`OR`
/// with subqueries; PostgreSQL's own limit is its 2 MB stack).
const PARSE_RECURSION_LIMIT: usize = 1000;

/// Stack a parse at [`PARSE_RECURSION_LIMIT`] fits in, with room to spare.
const PARSE_STACK: usize = 32 << 20;

/// Parses one or more `;`-separated statements.
///
/// ```
/// let statements = memdb_sql::parse("SELECT 1; SELECT 2").unwrap();
/// assert_eq!(statements.len(), 2);
/// let err = memdb_sql::parse("SELEC 1").unwrap_err();
/// assert_eq!(err.sqlstate(), "42601");
/// ```
pub fn parse(sql: &str) -> Result<Vec<Statement>> {
    let sql = copy::normalize_boolean_options(sql);
    let sql = maintenance::normalize(&sql);
    let sql = lockclause::rewrite(&sql);
    let sql = seqsyntax::rewrite(&sql);
    let sql = betweensyntax::rewrite(&sql);
    let rewritten = rolesyntax::rewrite(&sql);
    let sql = rewritten.sql;
    // The parser recurses once or more per nesting level: give it a stack
    // that holds its deepest allowed parse (server threads already have
    // one; other threads get a lazily committed one of their own).
    let parsed = stacker::maybe_grow(PARSE_STACK, PARSE_STACK, || {
        Parser::new(&PostgreSqlDialect {})
            .with_recursion_limit(PARSE_RECURSION_LIMIT)
            .try_with_sql(&sql)
            .and_then(|mut parser| parser.parse_statements())
    });
    let mut statements = parsed.map_err(|e| match e {
        ParserError::RecursionLimitExceeded => SqlError::TooComplex("nesting too deep".into()),
        ParserError::TokenizerError(message) | ParserError::ParserError(message) => {
            let (line, column) = position(&message);
            SqlError::Syntax { message, line, column }
        }
    })?;
    // CREATE USER is CREATE ROLE with LOGIN unless told otherwise.
    for at in rewritten.create_user {
        if let Some(Statement::CreateRole(role)) = statements.get_mut(at) {
            role.login.get_or_insert(true);
        }
    }
    depth::check(statements, &sql)
}

/// Parses one SQL expression (a stored default's text).
pub(crate) fn parse_expression(text: &str) -> Result<sqlparser::ast::Expr> {
    let sql = betweensyntax::rewrite(text);
    stacker::maybe_grow(PARSE_STACK, PARSE_STACK, || {
        Parser::new(&PostgreSqlDialect {})
            .with_recursion_limit(PARSE_RECURSION_LIMIT)
            .try_with_sql(&sql)
            .and_then(|mut parser| parser.parse_expr())
    })
    .map_err(|e| match e {
        ParserError::RecursionLimitExceeded => SqlError::TooComplex("nesting too deep".into()),
        ParserError::TokenizerError(message) | ParserError::ParserError(message) => {
            let (line, column) = position(&message);
            SqlError::Syntax { message, line, column }
        }
    })
}

/// Extracts "Line: N, Column: M" from a sqlparser message.
fn position(message: &str) -> (u64, u64) {
    let number_after = |label: &str| -> u64 {
        message
            .find(label)
            .map(|i| &message[i + label.len()..])
            .and_then(|rest| rest.trim_start().split(|c: char| !c.is_ascii_digit()).next().map(str::to_owned))
            .and_then(|digits| digits.parse().ok())
            .unwrap_or(0)
    };
    (number_after("Line:"), number_after("Column:"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_carry_their_position() {
        match parse("SELECT 1;\nSELECT (1 + ;") {
            Err(SqlError::Syntax { line, column, .. }) => {
                assert_eq!(line, 2);
                assert!(column > 0);
            }
            other => panic!("expected a syntax error, got {other:?}"),
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let sql = format!("SELECT {}1{}", "(".repeat(5000), ")".repeat(5000));
        assert_eq!(parse(&sql).map(|_| ()).unwrap_err().sqlstate(), "54001");
        // Each of these fails at the parser's limit, on a small stack.
        for opener in ["(", "- ", "NOT ", "(SELECT "] {
            let closer = if opener.starts_with('(') { ")" } else { "" };
            let sql = format!("SELECT {}1{}", opener.repeat(20_000), closer.repeat(20_000));
            let result = std::thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn(move || parse(&sql).map(|_| ()).map_err(|e| e.sqlstate()))
                .unwrap()
                .join()
                .unwrap();
            // (`NOT NOT …` may fail as a syntax error first.)
            assert!(result.is_err(), "{opener}");
            if opener != "NOT " {
                assert_eq!(result, Err("54001"), "{opener}");
            }
        }
    }

    #[test]
    fn generated_nesting_postgresql_accepts_parses() {
        // 300 levels of parentheses around a comparison, each level an
        // `AND`/`OR` with a subquery every tenth level, on a small stack.
        let mut sql = String::from("x > 1");
        for level in 0..300 {
            sql = if level % 10 == 0 {
                format!("(x IN (SELECT y FROM t WHERE {sql}) OR x < {level})")
            } else {
                format!("(x <= {level} AND {sql} OR x = {level})")
            };
        }
        let sql = format!("SELECT * FROM t WHERE {sql}");
        let result = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || parse(&sql).map(|s| s.len()).map_err(|e| e.to_string()))
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(result, Ok(1));
    }

    #[test]
    fn garbage_never_panics() {
        for input in ["", ";;;", "\u{0}", "'unterminated", "SELECT $$", "\"", "SELECT 1e999999999"] {
            let _ = parse(input);
        }
    }
}
