//! memdb's SQL layer: PostgreSQL-dialect SQL text in, rows or a command tag
//! out, inside the engine's transactions.
//!
//! This crate is at its first step: parsing. [`parse`] turns SQL text into
//! `sqlparser` statements with PostgreSQL's dialect and reports syntax
//! errors with their position, as SQLSTATE 42601. Binding, planning and
//! execution over [`memdb_engine`] come next; only this crate's translate
//! layer will ever name `sqlparser` types.

use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::{Parser, ParserError};

pub use sqlparser::ast::Statement;

/// Errors of the SQL layer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SqlError {
    /// The text is not valid SQL (SQLSTATE 42601).
    #[error("syntax error at line {line}, column {column}: {message}")]
    Syntax {
        /// What the parser expected or found.
        message: String,
        /// 1-based line of the error (0 if unknown).
        line: u64,
        /// 1-based column of the error (0 if unknown).
        column: u64,
    },
    /// The statement is too deeply nested to parse (SQLSTATE 54001).
    #[error("statement too complex: {0}")]
    TooComplex(String),
    /// An engine error.
    #[error(transparent)]
    Engine(#[from] memdb_engine::Error),
}

impl SqlError {
    /// The PostgreSQL SQLSTATE of the error.
    pub fn sqlstate(&self) -> &'static str {
        match self {
            SqlError::Syntax { .. } => "42601",
            SqlError::TooComplex(_) => "54001",
            SqlError::Engine(e) => e.sqlstate(),
        }
    }
}

/// Parses one or more `;`-separated statements.
///
/// ```
/// let statements = memdb_sql::parse("SELECT 1; SELECT 2").unwrap();
/// assert_eq!(statements.len(), 2);
/// let err = memdb_sql::parse("SELEC 1").unwrap_err();
/// assert_eq!(err.sqlstate(), "42601");
/// ```
pub fn parse(sql: &str) -> Result<Vec<Statement>, SqlError> {
    Parser::parse_sql(&PostgreSqlDialect {}, sql).map_err(|e| match e {
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
        assert!(parse(&sql).is_err());
    }

    #[test]
    fn garbage_never_panics() {
        for input in ["", ";;;", "\u{0}", "'unterminated", "SELECT $$", "\"", "SELECT 1e999999999"] {
            let _ = parse(input);
        }
    }
}
