//! Role statements in PostgreSQL's spelling that the parser does not take,
//! rewritten into forms it does, anywhere in a multi-statement text:
//!
//! - `CREATE USER name …` is `CREATE ROLE name …` with `LOGIN` by default
//!   (the caller sets it on the statements [`Rewritten::create_user`] lists);
//! - `GRANT role [, …] TO member [, …]` and `REVOKE role [, …] FROM member
//!   [, …]` (role memberships, as opposed to table privileges) become calls
//!   of the `grant_role` / `revoke_role` procedures, one per pair.

use std::borrow::Cow;

use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::Token;

use crate::tokens::{literal, mentions};

/// Privilege keywords: a GRANT starting with one grants table (or other
/// object) privileges, not role membership.
const PRIVILEGE_WORDS: [&str; 18] = [
    "select",
    "insert",
    "update",
    "delete",
    "truncate",
    "references",
    "trigger",
    "all",
    "usage",
    "create",
    "connect",
    "temporary",
    "temp",
    "execute",
    "set",
    "alter",
    "maintain",
    "privileges",
];

/// A text after rewriting.
pub(crate) struct Rewritten<'a> {
    /// The text to parse.
    pub sql: Cow<'a, str>,
    /// Positions (among the parsed statements) of rewritten `CREATE USER`s.
    pub create_user: Vec<usize>,
}

/// Rewrites the role statements of `sql`; texts without them are returned
/// as they are, without tokenizing.
pub(crate) fn rewrite(sql: &str) -> Rewritten<'_> {
    let unchanged = || Rewritten { sql: Cow::Borrowed(sql), create_user: Vec::new() };
    if !((mentions(sql, "create") && mentions(sql, "user")) || mentions(sql, "grant") || mentions(sql, "revoke")) {
        return unchanged();
    }
    let Some(tokens) = crate::tokens::tokenize(sql) else { return unchanged() };
    let mut out = String::with_capacity(sql.len() + 32);
    let mut create_user = Vec::new();
    let mut changed = false;
    let mut ordinal = 0;
    for statement in tokens.split(|t| t.token == Token::SemiColon) {
        let words: Vec<&Token> =
            statement.iter().map(|t| &t.token).filter(|t| !matches!(t, Token::Whitespace(_))).collect();
        if words.is_empty() {
            out.extend(statement.iter().map(|t| t.text));
            continue;
        }
        if let Some(calls) = membership(&words) {
            out.push_str(&calls.join("; "));
            out.push(';');
            ordinal += calls.len();
            changed = true;
            continue;
        }
        let is_create_user = matches!(words.as_slice(), [Token::Word(c), Token::Word(u), ..]
            if c.keyword == Keyword::CREATE && u.keyword == Keyword::USER && u.quote_style.is_none());
        let mut replaced = false;
        for spanned in statement {
            match &spanned.token {
                Token::Word(w) if is_create_user && !replaced && w.keyword == Keyword::USER => {
                    out.push_str("ROLE");
                    replaced = true;
                }
                _ => out.push_str(spanned.text),
            }
        }
        if is_create_user {
            create_user.push(ordinal);
            changed = true;
        }
        out.push(';');
        ordinal += 1;
    }
    if changed { Rewritten { sql: Cow::Owned(out), create_user } } else { unchanged() }
}

/// `GRANT role TO member` / `REVOKE role FROM member` as procedure calls.
fn membership(words: &[&Token]) -> Option<Vec<String>> {
    let mut words = words.iter().copied().peekable();
    let grant = match words.next()? {
        Token::Word(w) if w.keyword == Keyword::GRANT => true,
        Token::Word(w) if w.keyword == Keyword::REVOKE => false,
        _ => return None,
    };
    let stop = if grant { Keyword::TO } else { Keyword::FROM };
    let name = |w: &sqlparser::tokenizer::Word| {
        if w.quote_style.is_some() { w.value.clone() } else { w.value.to_ascii_lowercase() }
    };
    let mut groups = Vec::new();
    loop {
        match words.next()? {
            Token::Word(w) if w.quote_style.is_none() && w.keyword == stop && !groups.is_empty() => break,
            Token::Word(w) => {
                if groups.is_empty() && w.quote_style.is_none() && PRIVILEGE_WORDS.contains(&name(w).as_str()) {
                    return None;
                }
                groups.push(name(w));
            }
            _ => return None,
        }
        match words.next()? {
            Token::Comma => {}
            Token::Word(w) if w.quote_style.is_none() && w.keyword == stop => break,
            _ => return None,
        }
    }
    let mut members = Vec::new();
    loop {
        match words.next() {
            Some(Token::Word(w)) => members.push(name(w)),
            _ => return None,
        }
        match words.next() {
            Some(Token::Comma) => continue,
            None => break,
            // WITH ADMIN OPTION, GRANTED BY, CASCADE: nothing memdb tracks.
            Some(Token::Word(w))
                if matches!(w.keyword, Keyword::WITH | Keyword::GRANTED | Keyword::CASCADE | Keyword::RESTRICT) =>
            {
                break;
            }
            _ => return None,
        }
    }
    let procedure = if grant { "grant_role" } else { "revoke_role" };
    let quote = literal;
    Some(
        groups
            .iter()
            .flat_map(|g| members.iter().map(move |m| (g, m)))
            .map(|(g, m)| format!("CALL pg_catalog.{procedure}({}, {})", quote(g), quote(m)))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(sql: &str) -> String {
        rewrite(sql).sql.into_owned()
    }

    #[test]
    fn memberships_become_calls() {
        assert_eq!(text("GRANT pg_read_all_data TO alice"), "CALL pg_catalog.grant_role('pg_read_all_data', 'alice');");
        assert_eq!(
            text("revoke Admins, \"Ops\" from bob;"),
            "CALL pg_catalog.revoke_role('admins', 'bob'); CALL pg_catalog.revoke_role('Ops', 'bob');"
        );
        assert_eq!(text("GRANT r TO \"o'k\" WITH ADMIN OPTION"), "CALL pg_catalog.grant_role('r', 'o''k');");
        for untouched in ["GRANT SELECT ON t TO alice", "GRANT ALL ON t TO a", "SELECT 'grant x to y'", "GRANTS"] {
            assert_eq!(text(untouched), untouched);
        }
    }

    #[test]
    fn create_user_is_create_role_in_any_statement() {
        let r = rewrite("create  user bob WITH PASSWORD 'x'");
        assert_eq!(r.sql, "create  ROLE bob WITH PASSWORD 'x';");
        assert_eq!(r.create_user, [0]);
        let r = rewrite("SELECT 1; GRANT a TO b, c; CREATE USER d; CREATE TABLE \"user\" (a int)");
        assert_eq!(r.create_user, [3]);
        assert!(r.sql.contains("CREATE ROLE d") && r.sql.contains("CREATE TABLE \"user\""), "{}", r.sql);
        assert_eq!(text("CREATE TABLE user_data (a int)"), "CREATE TABLE user_data (a int)");
    }

    #[test]
    fn untouched_statements_keep_their_escapes() {
        let r = rewrite("GRANT a TO b; SELECT 'x''; DROP TABLE t; --', E'q\\'', \"w\"\"z\"");
        assert_eq!(r.sql, "CALL pg_catalog.grant_role('a', 'b'); SELECT 'x''; DROP TABLE t; --', E'q\\'', \"w\"\"z\";");
        assert_eq!(crate::parse(&r.sql).unwrap().len(), 2);
    }
}
