//! Role statements in PostgreSQL's spelling that the parser does not take,
//! rewritten into forms it does:
//!
//! - `CREATE USER name …` is `CREATE ROLE name …` with `LOGIN` by default;
//! - `GRANT role [, …] TO member [, …]` and `REVOKE role [, …] FROM member
//!   [, …]` (role memberships, as opposed to table privileges) become calls
//!   of the `grant_role` / `revoke_role` procedures, one per pair.

use std::borrow::Cow;

use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::{Token, Tokenizer};

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

/// Whether the statement text is `CREATE USER …`.
pub(crate) fn is_create_user(sql: &str) -> bool {
    let mut words = sql.split_whitespace();
    matches!((words.next(), words.next()), (Some(c), Some(u)) if c.eq_ignore_ascii_case("create") && u.eq_ignore_ascii_case("user"))
}

/// `CREATE USER …` as `CREATE ROLE …` (the caller makes LOGIN the default).
pub(crate) fn create_user_as_role(sql: &str) -> Cow<'_, str> {
    if !is_create_user(sql) {
        return Cow::Borrowed(sql);
    }
    let trimmed = sql.trim_start();
    let after_create = trimmed[6..].trim_start();
    Cow::Owned(format!("CREATE ROLE{}", &after_create[4..]))
}

/// `GRANT role TO member` / `REVOKE role FROM member` as procedure calls;
/// anything else unchanged.
pub(crate) fn role_grants(sql: &str) -> Cow<'_, str> {
    let starts =
        sql.trim_start().get(..6).is_some_and(|w| w.eq_ignore_ascii_case("grant ") || w.eq_ignore_ascii_case("revoke"));
    if !starts {
        return Cow::Borrowed(sql);
    }
    match membership(sql) {
        Some(rewritten) => Cow::Owned(rewritten),
        None => Cow::Borrowed(sql),
    }
}

fn membership(sql: &str) -> Option<String> {
    let tokens = Tokenizer::new(&PostgreSqlDialect {}, sql).tokenize().ok()?;
    let mut tokens = tokens.into_iter().filter(|t| !matches!(t, Token::Whitespace(_))).peekable();
    let grant = match tokens.next()? {
        Token::Word(w) if w.keyword == Keyword::GRANT => true,
        Token::Word(w) if w.keyword == Keyword::REVOKE => false,
        _ => return None,
    };
    let names = |tokens: &mut std::iter::Peekable<_>, stop: Keyword| -> Option<Vec<String>> {
        let mut out = Vec::new();
        loop {
            match tokens.next()? {
                Token::Word(w) if w.quote_style.is_none() && w.keyword == stop => return Some(out),
                Token::Word(w) if w.quote_style.is_some() => out.push(w.value),
                Token::Word(w) => {
                    if out.is_empty() && PRIVILEGE_WORDS.contains(&w.value.to_ascii_lowercase().as_str()) {
                        return None;
                    }
                    out.push(w.value.to_ascii_lowercase());
                }
                _ => return None,
            }
            match tokens.next()? {
                Token::Comma => {}
                Token::Word(w) if w.quote_style.is_none() && w.keyword == stop => return Some(out),
                _ => return None,
            }
        }
    };
    let groups = names(&mut tokens, if grant { Keyword::TO } else { Keyword::FROM })?;
    let mut members = Vec::new();
    let mut ended = false;
    loop {
        match tokens.next() {
            Some(Token::Word(w)) if w.quote_style.is_some() => members.push(w.value),
            Some(Token::Word(w)) => members.push(w.value.to_ascii_lowercase()),
            _ => return None,
        }
        match tokens.next() {
            Some(Token::Comma) => continue,
            None | Some(Token::SemiColon) => {
                ended = true;
                break;
            }
            // WITH ADMIN OPTION, GRANTED BY, CASCADE: nothing memdb tracks.
            Some(Token::Word(w))
                if matches!(w.keyword, Keyword::WITH | Keyword::GRANTED | Keyword::CASCADE | Keyword::RESTRICT) =>
            {
                break;
            }
            _ => return None,
        }
    }
    let rest: Vec<Token> = tokens.collect();
    let last_semicolon = rest.iter().position(|t| *t == Token::SemiColon);
    if (ended && !rest.is_empty()) || last_semicolon.is_some_and(|at| at + 1 != rest.len()) {
        // More statements follow: leave the text to the parser.
        return None;
    }
    let procedure = if grant { "grant_role" } else { "revoke_role" };
    let quote = |s: &str| format!("'{}'", s.replace('\'', "''"));
    let calls: Vec<String> = groups
        .iter()
        .flat_map(|g| members.iter().map(move |m| (g, m)))
        .map(|(g, m)| format!("CALL pg_catalog.{procedure}({}, {})", quote(g), quote(m)))
        .collect();
    Some(calls.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memberships_become_calls() {
        assert_eq!(
            role_grants("GRANT pg_read_all_data TO alice"),
            "CALL pg_catalog.grant_role('pg_read_all_data', 'alice')"
        );
        assert_eq!(
            role_grants("revoke Admins, \"Ops\" from bob;"),
            "CALL pg_catalog.revoke_role('admins', 'bob'); CALL pg_catalog.revoke_role('Ops', 'bob')"
        );
        assert_eq!(role_grants("GRANT r TO \"o'k\" WITH ADMIN OPTION"), "CALL pg_catalog.grant_role('r', 'o''k')");
        for untouched in ["GRANT SELECT ON t TO alice", "GRANT ALL ON t TO a", "GRANT r TO a; SELECT 1", "GRANTS"] {
            assert_eq!(role_grants(untouched), untouched);
        }
    }

    #[test]
    fn create_user_is_create_role() {
        assert_eq!(create_user_as_role("create  user bob WITH PASSWORD 'x'"), "CREATE ROLE bob WITH PASSWORD 'x'");
        assert_eq!(create_user_as_role("CREATE TABLE user (a int)"), "CREATE TABLE user (a int)");
    }
}
