//! SQL errors in PostgreSQL's terms: ErrorResponse fields with SQLSTATE.

use memdb_sql::SqlError;
use pgwire::error::{ErrorInfo, PgWireError};

/// An ErrorResponse's (or NoticeResponse's) fields with the severity both
/// localized (`S`) and not (`V`), as PostgreSQL 9.6 and later send it.
pub fn info(severity: &str, code: &str, message: impl Into<String>) -> ErrorInfo {
    let mut info = ErrorInfo::new(severity.to_owned(), code.to_owned(), message.into());
    info.severity_nonlocalized = Some(severity.to_owned());
    info
}

/// An ErrorResponse for a SQL error; a syntax error carries its position
/// in `query` (1-based characters, PostgreSQL's `P` field).
pub fn error_info(e: &SqlError, query: Option<&str>) -> ErrorInfo {
    let mut info = info("ERROR", e.sqlstate(), e.to_string());
    if let (SqlError::Syntax { line, column, .. }, Some(q)) = (e, query)
        && *line > 0
    {
        info.position = char_position(q, *line, *column).map(|p| p.to_string());
    }
    info
}

/// The error a handler returns for a SQL error.
pub fn sql_error(e: &SqlError, query: Option<&str>) -> PgWireError {
    PgWireError::UserError(Box::new(error_info(e, query)))
}

/// A protocol-level error with its SQLSTATE.
pub fn protocol_error(code: &str, message: impl Into<String>) -> PgWireError {
    PgWireError::UserError(Box::new(info("ERROR", code, message)))
}

/// Character offset (1-based) of a line/column position.
fn char_position(query: &str, line: u64, column: u64) -> Option<usize> {
    let mut offset = 0usize;
    for (n, text) in query.split('\n').enumerate() {
        if n as u64 + 1 == line {
            return Some(offset + (column.max(1) as usize).min(text.chars().count() + 1));
        }
        offset += text.chars().count() + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_point_into_the_query() {
        assert_eq!(char_position("select\n  frm x", 2, 3), Some(10));
        let e = SqlError::Syntax { message: "bad".into(), line: 1, column: 8 };
        let info = error_info(&e, Some("SELECT FRM"));
        assert_eq!(info.code, "42601");
        assert_eq!(info.position.as_deref(), Some("8"));
    }
}
