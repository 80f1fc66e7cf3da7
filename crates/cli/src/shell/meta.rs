//! The shell's backslash commands, psql's names for them. The `\d` family
//! are queries on `information_schema` and `pg_catalog`, so they work the
//! same embedded and against a server.

/// A backslash command, parsed.
#[derive(Debug, PartialEq, Eq)]
pub enum Meta {
    /// `\q`: leave.
    Quit,
    /// `\?`: the list of commands.
    Help,
    /// `\timing [on|off]`: show how long each statement took.
    Timing(Option<bool>),
    /// `\x [on|off]`: one block per row.
    Expanded(Option<bool>),
    /// `\conninfo`: what the shell is connected to.
    ConnInfo,
    /// `\i FILE`: run the statements in a file.
    Include(String),
    /// `\echo TEXT`.
    Echo(String),
    /// A listing: a title and the query that produces it.
    List {
        /// Printed above the table.
        title: &'static str,
        /// The query.
        sql: String,
    },
    /// `\d NAME`: a table's or view's columns and indexes.
    Describe(String),
}

/// The help text of `\?`.
pub const HELP: &str = "\
General
  \\q                 quit
  \\?                 this help
  \\conninfo          what the shell is connected to
  \\timing [on|off]   show how long each statement takes
  \\x [on|off]        expanded output (one block per row)
  \\i FILE            run the statements in FILE
  \\echo TEXT         print TEXT
Catalog (PATTERN may use * and ?)
  \\d [NAME]          list tables and views, or describe one
  \\dt [PATTERN]      list tables
  \\dv [PATTERN]      list views
  \\di [PATTERN]      list indexes
  \\du                list roles
  \\dn                list schemas
Statements end with ';' and may span lines; Ctrl-C cancels a running
statement or clears the one being typed; Ctrl-D leaves.
";

/// Parses a line starting with `\`.
pub fn parse(line: &str) -> Result<Meta, String> {
    let line = line.trim();
    let (command, argument) = match line.split_once(char::is_whitespace) {
        Some((c, a)) => (c, a.trim()),
        None => (line, ""),
    };
    let toggle = |what: &str| -> Result<Option<bool>, String> {
        match argument.to_ascii_lowercase().as_str() {
            "" => Ok(None),
            "on" | "true" | "1" => Ok(Some(true)),
            "off" | "false" | "0" => Ok(Some(false)),
            other => Err(format!("{what}: expected on or off, not \"{other}\"")),
        }
    };
    let pattern = || like_pattern(argument);
    Ok(match command {
        "\\q" | "\\quit" => Meta::Quit,
        "\\?" | "\\h" | "\\help" => Meta::Help,
        "\\timing" => Meta::Timing(toggle("\\timing")?),
        "\\x" => Meta::Expanded(toggle("\\x")?),
        "\\conninfo" => Meta::ConnInfo,
        "\\echo" => Meta::Echo(argument.to_owned()),
        "\\i" | "\\include" if !argument.is_empty() => Meta::Include(argument.to_owned()),
        "\\i" | "\\include" => return Err("\\i: missing required argument".into()),
        "\\d" | "\\d+" if !argument.is_empty() => Meta::Describe(argument.to_owned()),
        "\\d" | "\\d+" => Meta::List { title: "List of relations", sql: relations("'BASE TABLE', 'VIEW'", "%") },
        "\\dt" | "\\dt+" => Meta::List { title: "List of tables", sql: relations("'BASE TABLE'", &pattern()) },
        "\\dv" | "\\dv+" => Meta::List { title: "List of views", sql: relations("'VIEW'", &pattern()) },
        "\\di" | "\\di+" => Meta::List {
            title: "List of indexes",
            sql: format!(
                "SELECT schemaname AS \"Schema\", indexname AS \"Name\", tablename AS \"Table\", \
                 indexdef AS \"Definition\" FROM pg_catalog.pg_indexes \
                 WHERE schemaname NOT IN ('pg_catalog', 'information_schema') AND indexname LIKE {} \
                 ORDER BY 1, 2",
                quote(&pattern())
            ),
        },
        "\\du" | "\\dg" => Meta::List {
            title: "List of roles",
            sql: "SELECT rolname AS \"Role name\", \
                  CASE WHEN rolsuper THEN 'Superuser' ELSE '' END AS \"Attributes\", \
                  CASE WHEN rolcanlogin THEN 'yes' ELSE 'no' END AS \"Login\" \
                  FROM pg_catalog.pg_roles WHERE rolname NOT LIKE 'pg\\_%' ORDER BY 1"
                .into(),
        },
        "\\dn" => Meta::List {
            title: "List of schemas",
            sql: "SELECT schema_name AS \"Name\" FROM information_schema.schemata \
                  WHERE schema_name NOT IN ('pg_catalog', 'information_schema') ORDER BY 1"
                .into(),
        },
        other => return Err(format!("invalid command {other}; try \\? for help")),
    })
}

/// The listing of tables and/or views whose name matches `pattern`.
fn relations(types: &str, pattern: &str) -> String {
    format!(
        "SELECT table_schema AS \"Schema\", table_name AS \"Name\", \
         CASE table_type WHEN 'VIEW' THEN 'view' ELSE 'table' END AS \"Type\" \
         FROM information_schema.tables \
         WHERE table_type IN ({types}) AND table_schema NOT IN ('pg_catalog', 'information_schema') \
         AND table_name LIKE {} ORDER BY 1, 2",
        quote(pattern)
    )
}

/// The queries behind `\d NAME`: its columns, then its indexes.
pub fn describe(name: &str) -> (String, String) {
    // The first `.` outside double quotes separates schema and name.
    let mut quoted = false;
    let dot = name.char_indices().find_map(|(i, c)| {
        if c == '"' {
            quoted = !quoted;
        }
        (c == '.' && !quoted).then_some(i)
    });
    let (schema, table) = match dot {
        Some(i) => (unquote(&name[..i]), unquote(&name[i + 1..])),
        None => ("public".to_owned(), unquote(name)),
    };
    let columns = format!(
        "SELECT column_name AS \"Column\", data_type AS \"Type\", \
         CASE WHEN is_nullable = 'NO' THEN 'not null' ELSE '' END AS \"Nullable\", \
         coalesce(column_default, '') AS \"Default\" FROM information_schema.columns \
         WHERE table_schema = {} AND table_name = {} ORDER BY ordinal_position",
        quote(&schema),
        quote(&table)
    );
    let indexes = format!(
        "SELECT indexname, indexdef FROM pg_catalog.pg_indexes WHERE schemaname = {} AND tablename = {} \
         ORDER BY 1",
        quote(&schema),
        quote(&table)
    );
    (columns, indexes)
}

/// A psql pattern (`*`, `?`) as a LIKE pattern; empty matches all.
fn like_pattern(pattern: &str) -> String {
    if pattern.is_empty() {
        return "%".into();
    }
    let mut like = String::new();
    for c in unquote(pattern).chars() {
        match c {
            '*' => like.push('%'),
            '?' => like.push('_'),
            '%' | '_' | '\\' => {
                like.push('\\');
                like.push(c);
            }
            c => like.push(c),
        }
    }
    like
}

/// An identifier as typed: `"Mixed"` keeps its case, a bare one folds to
/// lower case (as SQL does).
fn unquote(name: &str) -> String {
    match name.strip_prefix('"').and_then(|n| n.strip_suffix('"')) {
        Some(quoted) => quoted.replace("\"\"", "\""),
        None => name.to_lowercase(),
    }
}

/// A string literal.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_with_their_arguments() {
        assert_eq!(parse("\\q"), Ok(Meta::Quit));
        assert_eq!(parse("\\timing on"), Ok(Meta::Timing(Some(true))));
        assert_eq!(parse("\\timing"), Ok(Meta::Timing(None)));
        assert_eq!(parse("\\x off"), Ok(Meta::Expanded(Some(false))));
        assert_eq!(parse("\\d Items"), Ok(Meta::Describe("Items".into())));
        assert_eq!(parse("\\i  setup.sql "), Ok(Meta::Include("setup.sql".into())));
        assert!(parse("\\timing maybe").is_err());
        assert!(parse("\\nope").unwrap_err().contains("\\?"));
        let Ok(Meta::List { sql, .. }) = parse("\\dt user*") else { panic!("a listing") };
        assert!(sql.contains("LIKE 'user%'"), "{sql}");
    }

    #[test]
    fn patterns_and_names_follow_psql() {
        assert_eq!(like_pattern("a_b*"), "a\\_b%");
        assert_eq!(like_pattern(""), "%");
        assert_eq!(unquote("\"Odd\"\"Name\""), "Odd\"Name");
        assert_eq!(unquote("Items"), "items");
        let (quoted, _) = describe("\"a.b\"");
        assert!(quoted.contains("table_schema = 'public' AND table_name = 'a.b'"), "{quoted}");
        let (columns, _) = describe("s.o'k");
        assert!(columns.contains("table_schema = 's'") && columns.contains("table_name = 'o''k'"), "{columns}");
    }
}
