//! The engine's one error type.
//!
//! Every failure the engine can report is a variant of [`Error`]. Each variant
//! is a distinct *kind* that front ends map to their own terms (SQLSTATE on
//! pgwire, HTTP status on REST, `-ERR` on RESP) with an exhaustive match, so a
//! new variant does not compile until every edge has decided what it means.
//! [`Error::sqlstate`] gives the PostgreSQL code for each kind; it lives here
//! because PostgreSQL semantics are the engine's semantics.

use std::fmt;

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An engine error. Messages name the object involved, in PostgreSQL's words.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A concurrent transaction changed data this transaction read or wrote;
    /// retrying the whole transaction may succeed (SQLSTATE 40001).
    #[error("could not serialize access due to {0}")]
    SerializationFailure(String),
    /// Two or more transactions waited on each other; this one was chosen to
    /// abort (SQLSTATE 40P01). Retryable.
    #[error("deadlock detected: {0}")]
    Deadlock(String),
    /// A row is locked and the caller asked not to wait (55P03, NOWAIT).
    #[error("{0}")]
    LockNotAvailable(String),
    /// Waiting for a row lock took longer than the lock timeout (55P03).
    #[error("canceling statement due to lock timeout")]
    LockTimeout,
    /// A write was attempted in a read-only transaction (25006).
    #[error("cannot execute {0} in a read-only transaction")]
    ReadOnly(String),
    /// The transaction already ended (committed, rolled back or failed).
    #[error("transaction is no longer active")]
    TxnNotActive,
    /// A savepoint name that does not exist (3B001).
    #[error("savepoint \"{0}\" does not exist")]
    NoSuchSavepoint(String),
    /// A table or view that does not exist (42P01).
    #[error("relation \"{0}\" does not exist")]
    UndefinedTable(String),
    /// A column that does not exist (42703).
    #[error("column \"{column}\" of relation \"{table}\" does not exist")]
    UndefinedColumn {
        /// The table searched.
        table: String,
        /// The missing column.
        column: String,
    },
    /// An index or constraint that does not exist (42704).
    #[error("{kind} \"{name}\" does not exist")]
    UndefinedObject {
        /// What kind of object ("index", "constraint", ...).
        kind: &'static str,
        /// Its name.
        name: String,
    },
    /// The acting role lacks a privilege (42501).
    #[error("{0}")]
    PermissionDenied(String),
    /// A role or API key name already in use (42710).
    #[error("{0}")]
    DuplicateObject(String),
    /// A grant that cannot be made, such as a membership loop (0LP01).
    #[error("{0}")]
    InvalidGrant(String),
    /// A table, index or constraint name already in use (42P07).
    #[error("relation \"{0}\" already exists")]
    DuplicateTable(String),
    /// A column defined twice (42701).
    #[error("column \"{column}\" of relation \"{table}\" already exists")]
    DuplicateColumn {
        /// The table.
        table: String,
        /// The duplicated column.
        column: String,
    },
    /// A schema definition that makes no sense (42P16 / 42611 family).
    #[error("{0}")]
    InvalidDefinition(String),
    /// A NULL stored into a NOT NULL column (23502).
    #[error("null value in column \"{column}\" of relation \"{table}\" violates not-null constraint")]
    NotNullViolation {
        /// The table.
        table: String,
        /// The column.
        column: String,
    },
    /// A duplicate key in a unique index or primary key (23505).
    #[error("duplicate key value violates unique constraint \"{constraint}\"")]
    UniqueViolation {
        /// The table.
        table: String,
        /// The constraint or index name.
        constraint: String,
        /// `Key (col)=(value) already exists.` in PostgreSQL's words.
        detail: String,
    },
    /// A CHECK constraint evaluated to false (23514).
    #[error("new row for relation \"{table}\" violates check constraint \"{constraint}\"")]
    CheckViolation {
        /// The table.
        table: String,
        /// The constraint name.
        constraint: String,
    },
    /// A FOREIGN KEY constraint is violated (23503).
    #[error("{message}")]
    ForeignKeyViolation {
        /// PostgreSQL's message.
        message: String,
        /// `Key (col)=(value) is not present in table "t".` and the like.
        detail: String,
        /// The referencing (child) table, as PostgreSQL reports it.
        table: String,
        /// The constraint name.
        constraint: String,
    },
    /// An object cannot be dropped because others depend on it (2BP01).
    #[error("{0}")]
    DependentObjects(String),
    /// A value of the wrong type (42804).
    #[error("{0}")]
    DatatypeMismatch(String),
    /// Text that does not parse as the wanted type (22P02 / 22007 / 22008).
    #[error("invalid input syntax for type {type_name}: \"{input}\"")]
    InvalidTextRepresentation {
        /// The target type.
        type_name: String,
        /// The offending input.
        input: String,
    },
    /// A date/time value out of range (22008).
    #[error("{0}")]
    DatetimeOverflow(String),
    /// A numeric value out of range for its type (22003).
    #[error("{0}")]
    NumericOverflow(String),
    /// A sequence ran past its end, or was set out of its bounds (2200H).
    #[error("{0}")]
    SequenceLimit(String),
    /// Division by zero (22012).
    #[error("division by zero")]
    DivisionByZero,
    /// A string too long for `varchar(n)`/`char(n)` (22001).
    #[error("value too long for type {0}")]
    StringTooLong(String),
    /// A cast that is not defined between two types (42846).
    #[error("cannot cast type {from} to {to}")]
    CannotCast {
        /// Source type.
        from: String,
        /// Target type.
        to: String,
    },
    /// A valid request memdb (like PostgreSQL) does not support (0A000).
    #[error("{0}")]
    FeatureNotSupported(String),
    /// Any other invalid argument or value (22023).
    #[error("{0}")]
    InvalidParameter(String),
    /// The configured memory limit was reached (53200).
    #[error("out of memory: {0}")]
    OutOfMemory(String),
    /// Too many concurrent transactions or connections (53300).
    #[error("too many active transactions")]
    TooManyTransactions,
    /// A commit record could not be decoded or applied. Replay stops here.
    #[error("corrupt commit record: {0}")]
    CorruptRecord(String),
    /// The commit log failed to persist a record (58030).
    #[error("commit log I/O error: {0}")]
    Io(String),
    /// A key-value operation met a key holding the other kind of value
    /// (a list where a string was expected, or the reverse) (42809).
    #[error("Operation against a key holding the wrong kind of value")]
    WrongType,
    /// A key-value operation needs an integer and the value or argument is
    /// not one, or the result would overflow a 64-bit integer (22003).
    #[error("{0}")]
    NotAnInteger(&'static str),
    /// A key-value operation needs a key that does not exist (42704).
    #[error("no such key")]
    NoSuchKey,
    /// A list index outside the list (2202E).
    #[error("index out of range")]
    IndexOutOfRange,
    /// A broken internal invariant. Never expected; reported rather than
    /// panicking so the server survives (XX000).
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// The fields PostgreSQL sends with a constraint error besides its
    /// message (DETAIL, and the table, column and constraint it concerns),
    /// which drivers and ORMs read to tell which constraint failed.
    pub fn fields(&self) -> ErrorFields {
        match self {
            Error::UniqueViolation { table, constraint, detail } => ErrorFields {
                detail: Some(detail.clone()),
                table: Some(table.clone()).filter(|t| !t.is_empty()),
                constraint: Some(constraint.clone()),
                ..ErrorFields::default()
            },
            Error::ForeignKeyViolation { detail, table, constraint, .. } => ErrorFields {
                detail: Some(detail.clone()),
                table: Some(table.clone()),
                constraint: Some(constraint.clone()),
                ..ErrorFields::default()
            },
            Error::NotNullViolation { table, column } => {
                ErrorFields { table: Some(table.clone()), column: Some(column.clone()), ..ErrorFields::default() }
            }
            Error::CheckViolation { table, constraint } => ErrorFields {
                table: Some(table.clone()),
                constraint: Some(constraint.clone()),
                ..ErrorFields::default()
            },
            _ => ErrorFields::default(),
        }
    }

    /// Names the table of a unique violation found where the table's name
    /// was not at hand (building an index over existing rows).
    pub(crate) fn on_table(self, name: &str) -> Error {
        match self {
            Error::UniqueViolation { table, constraint, detail } if table.is_empty() => {
                Error::UniqueViolation { table: name.to_owned(), constraint, detail }
            }
            other => other,
        }
    }

    /// The PostgreSQL SQLSTATE code of this error kind.
    pub fn sqlstate(&self) -> &'static str {
        match self {
            Error::SerializationFailure(_) => "40001",
            Error::Deadlock(_) => "40P01",
            Error::LockTimeout | Error::LockNotAvailable(_) => "55P03",
            Error::ReadOnly(_) => "25006",
            Error::TxnNotActive => "25P02",
            Error::NoSuchSavepoint(_) => "3B001",
            Error::UndefinedTable(_) => "42P01",
            Error::UndefinedColumn { .. } => "42703",
            Error::UndefinedObject { .. } => "42704",
            Error::PermissionDenied(_) => "42501",
            Error::DuplicateObject(_) => "42710",
            Error::InvalidGrant(_) => "0LP01",
            Error::DuplicateTable(_) => "42P07",
            Error::DuplicateColumn { .. } => "42701",
            Error::InvalidDefinition(_) => "42P16",
            Error::NotNullViolation { .. } => "23502",
            Error::UniqueViolation { .. } => "23505",
            Error::CheckViolation { .. } => "23514",
            Error::ForeignKeyViolation { .. } => "23503",
            Error::DependentObjects(_) => "2BP01",
            Error::DatatypeMismatch(_) => "42804",
            Error::InvalidTextRepresentation { .. } => "22P02",
            Error::DatetimeOverflow(_) => "22008",
            Error::NumericOverflow(_) => "22003",
            Error::SequenceLimit(_) => "2200H",
            Error::DivisionByZero => "22012",
            Error::StringTooLong(_) => "22001",
            Error::CannotCast { .. } => "42846",
            Error::FeatureNotSupported(_) => "0A000",
            Error::InvalidParameter(_) => "22023",
            Error::OutOfMemory(_) => "53200",
            Error::TooManyTransactions => "53300",
            Error::CorruptRecord(_) => "XX001",
            Error::Io(_) => "58030",
            Error::WrongType => "42809",
            Error::NotAnInteger(_) => "22003",
            Error::NoSuchKey => "42704",
            Error::IndexOutOfRange => "2202E",
            Error::Internal(_) => "XX000",
        }
    }

    /// Whether retrying the whole transaction may succeed (40001, 40P01).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::SerializationFailure(_) | Error::Deadlock(_))
    }

    /// Whether the error follows from the data alone, so replaying the same
    /// commit records on another node gives the same error. Replication may
    /// rely on deterministic errors; the others (I/O, memory) are local.
    pub fn is_deterministic(&self) -> bool {
        !matches!(
            self,
            Error::Io(_)
                | Error::OutOfMemory(_)
                | Error::TooManyTransactions
                | Error::LockTimeout
                | Error::LockNotAvailable(_)
                | Error::Deadlock(_)
                | Error::SerializationFailure(_)
                | Error::Internal(_)
        )
    }
}

/// Builds an [`Error::Internal`] from anything printable.
pub(crate) fn internal(what: impl fmt::Display) -> Error {
    Error::Internal(what.to_string())
}

/// What [`Error::fields`] returns: the optional fields of PostgreSQL's
/// ErrorResponse that a constraint error fills. Table names are the
/// catalog's (`schema.table`, or just `table` in `public`).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ErrorFields {
    /// DETAIL: `Key (id)=(1) already exists.`
    pub detail: Option<String>,
    /// The table the error concerns.
    pub table: Option<String>,
    /// The column the error concerns (NOT NULL).
    pub column: Option<String>,
    /// The constraint that failed.
    pub constraint: Option<String>,
}
