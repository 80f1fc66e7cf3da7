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

    /// A column's or constraint's `… does not exist, skipping` naming its
    /// table: `column "c" of relation "t" does not exist, skipping`.
    pub(crate) fn of_relation(mut self, table: &str) -> Notice {
        if let Some(at) = self.message.find(" does not exist") {
            self.message.insert_str(at, &format!(" of relation \"{table}\""));
        }
        self
    }

    /// `relation "name" already exists, skipping` (an `IF NOT EXISTS`
    /// that found the relation).
    pub(crate) fn skipped_existing_relation(name: &str) -> Notice {
        Notice::info("42P07", format!("relation \"{name}\" already exists, skipping"))
    }
}
