//! Notices: messages for the client that are not errors, PostgreSQL's
//! NOTICE and WARNING (`table "t" does not exist, skipping`, `there is no
//! transaction in progress`). A statement that raises one still succeeds;
//! the session keeps them until the front end takes them
//! ([`crate::Session::take_notices`]) and sends each before the
//! statement's completion, as PostgreSQL does.

/// How serious a notice is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// Information (PostgreSQL's NOTICE).
    Notice,
    /// Something probably not meant, done anyway (WARNING).
    Warning,
}

impl Severity {
    /// The name PostgreSQL sends: `NOTICE` or `WARNING`.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Notice => "NOTICE",
            Severity::Warning => "WARNING",
        }
    }
}

/// A notice raised while a statement ran.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// NOTICE or WARNING.
    pub severity: Severity,
    /// The SQLSTATE (`00000` for plain information).
    pub code: &'static str,
    /// The message, worded as PostgreSQL words it.
    pub message: String,
}

impl Notice {
    /// A NOTICE.
    pub(crate) fn info(code: &'static str, message: impl Into<String>) -> Notice {
        Notice { severity: Severity::Notice, code, message: message.into() }
    }

    /// A WARNING.
    pub(crate) fn warning(code: &'static str, message: impl Into<String>) -> Notice {
        Notice { severity: Severity::Warning, code, message: message.into() }
    }

    /// `kind "name" does not exist, skipping` (an `IF EXISTS` that found
    /// nothing).
    pub(crate) fn skipped_missing(kind: &str, name: &str) -> Notice {
        Notice::info("00000", format!("{kind} \"{name}\" does not exist, skipping"))
    }

    /// `kind "name" of relation "table" does not exist, skipping` (a
    /// column or constraint an `IF EXISTS` did not find).
    pub(crate) fn skipped_missing_in(kind: &str, name: &str, table: &str) -> Notice {
        Notice::info("00000", format!("{kind} \"{name}\" of relation \"{table}\" does not exist, skipping"))
    }

    /// `relation "name" already exists, skipping` (an `IF NOT EXISTS`
    /// that found the relation).
    pub(crate) fn skipped_existing_relation(name: &str) -> Notice {
        Notice::info("42P07", format!("relation \"{name}\" already exists, skipping"))
    }
}
