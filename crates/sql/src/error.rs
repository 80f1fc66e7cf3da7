//! The SQL layer's one error type.
//!
//! Every failure is a kind with a PostgreSQL SQLSTATE ([`SqlError::sqlstate`]);
//! front ends map the kinds to their own terms with an exhaustive match.
//! Engine errors pass through unchanged.

/// The SQL layer's result type.
pub type Result<T, E = SqlError> = std::result::Result<T, E>;

/// An error of the SQL layer, in PostgreSQL's words.
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
    /// A statement that parses but is malformed (42601), such as a wrong
    /// number of VALUES.
    #[error("{0}")]
    Semantic(String),
    /// The statement is too deeply nested (54001).
    #[error("statement too complex: {0}")]
    TooComplex(String),
    /// A column name that resolves to nothing (42703).
    #[error("column \"{0}\" does not exist")]
    UndefinedColumn(String),
    /// A column name that resolves to more than one column (42702).
    #[error("column reference \"{0}\" is ambiguous")]
    AmbiguousColumn(String),
    /// A function or operator that does not exist for the argument types (42883).
    #[error("{0}")]
    UndefinedFunction(String),
    /// An expression of the wrong type (42804).
    #[error("{0}")]
    DatatypeMismatch(String),
    /// A column used outside GROUP BY and aggregates, or a misplaced aggregate (42803).
    #[error("{0}")]
    Grouping(String),
    /// An ORDER BY / GROUP BY position out of range, or a bad reference (42P10).
    #[error("{0}")]
    InvalidColumnReference(String),
    /// A scalar subquery returned more than one row (21000).
    #[error("more than one row returned by a subquery used as an expression")]
    CardinalityViolation,
    /// The transaction block is aborted; only ROLLBACK is accepted (25P02).
    #[error("current transaction is aborted, commands ignored until end of transaction block")]
    InFailedTransaction,
    /// A statement not allowed in the transaction state (25001), e.g. a
    /// second BEGIN's isolation change.
    #[error("{0}")]
    InvalidTransactionState(String),
    /// An object that cannot be changed while in use, such as the session's
    /// own role (55006).
    #[error("{0}")]
    ObjectInUse(String),
    /// A prepared statement name that does not exist (26000).
    #[error("prepared statement \"{0}\" does not exist")]
    UndefinedPreparedStatement(String),
    /// An object name already in use (42710 / 42P06 / 42P05).
    #[error("{message}")]
    DuplicateObject {
        /// The exact SQLSTATE (42710 object, 42P06 schema, 42P05 prepared statement).
        code: &'static str,
        /// The message.
        message: String,
    },
    /// A view or other object that depends on the one being dropped (2BP01).
    #[error("{0}")]
    DependentObjects(String),
    /// A statement or clause memdb does not support (0A000).
    #[error("{0} is not supported")]
    FeatureNotSupported(String),
    /// A window function where none may be (42P20).
    #[error("{0}")]
    Windowing(String),
    /// A qualified column whose table is not in the FROM clause (42P01).
    #[error("missing FROM-clause entry for table \"{0}\"")]
    MissingFromEntry(String),
    /// A named object other than a table, column, function or setting that
    /// does not exist (42704), e.g. a window name.
    #[error("{0}")]
    UndefinedObject(String),
    /// A setting that does not exist (42704), for SHOW and RESET.
    #[error("unrecognized configuration parameter \"{0}\"")]
    UndefinedParameter(String),
    /// A setting fixed when the server was built, such as
    /// `max_identifier_length` (55P02): SHOW gives it, SET refuses it.
    #[error("parameter \"{0}\" cannot be changed")]
    ReadOnlyParameter(String),
    /// A bad value for a setting or an argument (22023).
    #[error("{0}")]
    InvalidParameter(String),
    /// A value that does not fit its type or function (22003 / 2201W / 2201X / 22011 / 22004 / 2202E).
    #[error("{message}")]
    DataException {
        /// The exact SQLSTATE.
        code: &'static str,
        /// The message.
        message: String,
    },
    /// Cannot write to this relation (42809), e.g. a view.
    #[error("{0}")]
    WrongObjectType(String),
    /// The statement was cancelled, or ran past `statement_timeout` (57014).
    #[error("canceling statement due to {0}")]
    QueryCanceled(String),
    /// A schema that does not exist (3F000).
    #[error("schema \"{0}\" does not exist")]
    UndefinedSchema(String),
    /// A name reserved for the system, such as a `pg_` schema (42939).
    #[error("{0}")]
    ReservedName(String),
    /// An engine error.
    #[error(transparent)]
    Engine(#[from] memdb_engine::Error),
}

impl SqlError {
    /// The PostgreSQL SQLSTATE of the error.
    pub fn sqlstate(&self) -> &'static str {
        match self {
            SqlError::Syntax { .. } | SqlError::Semantic(_) => "42601",
            SqlError::TooComplex(_) => "54001",
            SqlError::UndefinedColumn(_) => "42703",
            SqlError::AmbiguousColumn(_) => "42702",
            SqlError::UndefinedFunction(_) => "42883",
            SqlError::DatatypeMismatch(_) => "42804",
            SqlError::Grouping(_) => "42803",
            SqlError::InvalidColumnReference(_) => "42P10",
            SqlError::CardinalityViolation => "21000",
            SqlError::InFailedTransaction => "25P02",
            SqlError::InvalidTransactionState(_) => "25001",
            SqlError::ObjectInUse(_) => "55006",
            SqlError::UndefinedPreparedStatement(_) => "26000",
            SqlError::DuplicateObject { code, .. } | SqlError::DataException { code, .. } => code,
            SqlError::DependentObjects(_) => "2BP01",
            SqlError::FeatureNotSupported(_) => "0A000",
            SqlError::UndefinedParameter(_) | SqlError::UndefinedObject(_) => "42704",
            SqlError::ReadOnlyParameter(_) => "55P02",
            SqlError::MissingFromEntry(_) => "42P01",
            SqlError::Windowing(_) => "42P20",
            SqlError::InvalidParameter(_) => "22023",
            SqlError::WrongObjectType(_) => "42809",
            SqlError::QueryCanceled(_) => "57014",
            SqlError::UndefinedSchema(_) => "3F000",
            SqlError::ReservedName(_) => "42939",
            SqlError::Engine(e) => e.sqlstate(),
        }
    }

    /// Whether retrying the whole transaction may succeed (40001, 40P01).
    pub fn is_retryable(&self) -> bool {
        matches!(self, SqlError::Engine(e) if e.is_retryable())
    }
}

/// Shorthand for [`SqlError::FeatureNotSupported`].
pub(crate) fn unsupported(what: impl std::fmt::Display) -> SqlError {
    SqlError::FeatureNotSupported(what.to_string())
}

/// Shorthand for a data exception with its SQLSTATE.
pub(crate) fn data_exception(code: &'static str, message: impl Into<String>) -> SqlError {
    SqlError::DataException { code, message: message.into() }
}
