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
    // A constraint error's DETAIL and the objects it concerns, which
    // drivers and ORMs read to tell which constraint failed.
    if let SqlError::Engine(engine) = e {
        let fields = engine.fields();
        info.detail = fields.detail;
        if let Some(table) = fields.table {
            let (schema, name) = match table.split_once('.') {
                Some((schema, name)) => (schema.to_owned(), name.to_owned()),
                None => ("public".to_owned(), table),
            };
            info.schema = Some(schema);
            info.table = Some(name);
        }
        info.column = fields.column;
        info.constraint = fields.constraint;
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

    #[test]
    fn constraint_errors_name_their_table_and_constraint() {
        let e = SqlError::Engine(memdb_engine::Error::UniqueViolation {
            table: "app.users".into(),
            constraint: "users_email_key".into(),
            detail: "Key (email)=(a) already exists.".into(),
        });
        let info = error_info(&e, None);
        assert_eq!(info.code, "23505");
        assert_eq!(info.detail.as_deref(), Some("Key (email)=(a) already exists."));
        assert_eq!((info.schema.as_deref(), info.table.as_deref()), (Some("app"), Some("users")));
        assert_eq!(info.constraint.as_deref(), Some("users_email_key"));
        let e = SqlError::Engine(memdb_engine::Error::NotNullViolation { table: "t".into(), column: "c".into() });
        let info = error_info(&e, None);
        assert_eq!((info.schema.as_deref(), info.table.as_deref()), (Some("public"), Some("t")));
        assert_eq!(info.column.as_deref(), Some("c"));
    }
}
