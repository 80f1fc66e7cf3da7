//! Sequence syntax the parser does not take as PostgreSQL (and pg_dump)
//! writes it, rewritten into forms it does, anywhere in a multi-statement
//! text:
//!
//! - sequence options in any order (`START WITH 1 INCREMENT BY 1`): the
//!   parser wants INCREMENT, MINVALUE, MAXVALUE, START, CACHE, CYCLE in
//!   that order, in `CREATE SEQUENCE` and in identity options
//!   (`GENERATED … AS IDENTITY (…)`);
//! - `ALTER TABLE … ADD GENERATED … AS IDENTITY (SEQUENCE NAME s …)` (as
//!   pg_dump writes identity columns) becomes a call of the `add_identity`
//!   procedure, which names the sequence `s`; elsewhere (CREATE TABLE)
//!   `SEQUENCE NAME` is dropped and the sequence gets the default name;
//! - `INSERT … OVERRIDING SYSTEM VALUE` loses the clause (memdb stores
//!   explicit values of identity columns in any case);
//! - `ALTER SEQUENCE [IF EXISTS] name options` becomes a call of the
//!   `alter_sequence` procedure with the options as text.

use std::borrow::Cow;

use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::Token;

use crate::tokens::{Spanned, literal, mentions};

/// The order the parser reads sequence options in.
const OPTION_ORDER: [Keyword; 6] =
    [Keyword::INCREMENT, Keyword::MINVALUE, Keyword::MAXVALUE, Keyword::START, Keyword::CACHE, Keyword::CYCLE];

/// Rewrites the sequence syntax of `sql`; texts without any are returned
/// as they are, without tokenizing.
pub(crate) fn rewrite(sql: &str) -> Cow<'_, str> {
    if !["sequence", "identity", "overriding"].iter().any(|w| mentions(sql, w)) {
        return Cow::Borrowed(sql);
    }
    let Some(tokens) = crate::tokens::tokenize(sql) else { return Cow::Borrowed(sql) };
    let mut out = String::with_capacity(sql.len() + 16);
    let mut changed = false;
    let mut first = true;
    for statement in tokens.split(|t| t.token == Token::SemiColon) {
        if !first {
            out.push(';');
        }
        first = false;
        match rewrite_statement(statement) {
            Some(text) => {
                out.push_str(&text);
                changed = true;
            }
            None => out.extend(statement.iter().map(|t| t.text)),
        }
    }
    if changed { Cow::Owned(out) } else { Cow::Borrowed(sql) }
}

fn is(t: &Token, k: Keyword) -> bool {
    matches!(t, Token::Word(w) if w.keyword == k && w.quote_style.is_none())
}

/// One statement rewritten, or `None` when it needs nothing.
fn rewrite_statement(spanned: &[Spanned<'_>]) -> Option<String> {
    let tokens: Vec<Token> = spanned.iter().map(|t| t.token.clone()).collect();
    let source = |range: std::ops::Range<usize>| spanned[range].iter().map(|t| t.text).collect::<String>();
    // Positions of the words (not whitespace or comments).
    let words: Vec<usize> = (0..tokens.len()).filter(|&i| !matches!(tokens[i], Token::Whitespace(_))).collect();
    let word = |n: usize| words.get(n).map(|&i| &tokens[i]);
    let at = |n: usize, k: Keyword| word(n).is_some_and(|t| is(t, k));
    if at(0, Keyword::ALTER) && at(1, Keyword::SEQUENCE) {
        return alter_sequence(spanned, &tokens, &words);
    }
    if at(0, Keyword::ALTER)
        && at(1, Keyword::TABLE)
        && let Some(call) = named_identity(spanned, &tokens, &words)
    {
        return Some(call);
    }
    // INSERT … OVERRIDING SYSTEM VALUE (pg_dump --inserts writes it for
    // identity columns): memdb stores explicit identity values anyway.
    if at(0, Keyword::INSERT)
        && let Some(n) = (1..words.len()).find(|&n| {
            words.get(n).is_some_and(|&i| {
                matches!(&tokens[i], Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("overriding"))
            }) && at(n + 1, Keyword::SYSTEM)
                && at(n + 2, Keyword::VALUE)
        })
    {
        let rest = words.get(n + 3).copied().unwrap_or(tokens.len());
        return Some(source(0..words[n]) + &source(rest..tokens.len()));
    }
    // (start, end) token ranges of option lists to put in order.
    let mut regions = Vec::new();
    if at(0, Keyword::CREATE) {
        let mut n = 1;
        if at(n, Keyword::TEMP) || at(n, Keyword::TEMPORARY) {
            n += 1;
        }
        if at(n, Keyword::SEQUENCE) {
            n += 1;
            if at(n, Keyword::IF) && at(n + 1, Keyword::NOT) && at(n + 2, Keyword::EXISTS) {
                n += 3;
            }
            n += name_words(&tokens, &words, n);
            if at(n, Keyword::AS) {
                // AS type: one word (`integer`, `bigint`, `smallint`).
                n += 2;
            }
            let start = words.get(n).copied().unwrap_or(tokens.len());
            let mut m = n;
            while word(m).is_some() && !at(m, Keyword::OWNED) {
                m += 1;
            }
            let end = words.get(m).copied().unwrap_or(tokens.len());
            regions.push((start, end));
        }
    }
    // `AS IDENTITY ( … )` anywhere.
    for n in 0..words.len() {
        if at(n, Keyword::AS)
            && at(n + 1, Keyword::IDENTITY)
            && matches!(word(n + 2), Some(Token::LParen))
            && let Some(close) = (n + 3..words.len()).find(|&m| matches!(word(m), Some(Token::RParen)))
        {
            regions.push((words[n + 3], words[close]));
        }
    }
    let mut out = String::new();
    let mut pos = 0;
    let mut changed = false;
    regions.sort_unstable();
    for (start, end) in regions {
        if start < pos {
            continue;
        }
        let Some(ordered) = order_options(&tokens[start..end]) else { continue };
        let original = source(start..end);
        if ordered.trim() == original.trim() {
            continue;
        }
        out.push_str(&source(pos..start));
        out.push_str(&ordered);
        out.push(' ');
        pos = end;
        changed = true;
    }
    if !changed {
        return None;
    }
    out.push_str(&source(pos..tokens.len()));
    Some(out)
}

/// How many words a (possibly qualified) name starting at word `n` takes.
fn name_words(tokens: &[Token], words: &[usize], n: usize) -> usize {
    let mut k = 1;
    while words.get(n + k).is_some_and(|&i| tokens[i] == Token::Period) {
        k += 2;
    }
    k
}

/// Sequence options in the parser's order (`SEQUENCE NAME n` dropped), or
/// `None` when the tokens are not a list of known options (left for the
/// parser to report).
fn order_options(tokens: &[Token]) -> Option<String> {
    let words: Vec<&Token> = tokens.iter().filter(|t| !matches!(t, Token::Whitespace(_))).collect();
    let mut groups: Vec<(usize, Vec<&Token>)> = Vec::new();
    let mut n = 0;
    let number = |n: usize| -> usize {
        match words.get(n) {
            Some(Token::Minus | Token::Plus) if matches!(words.get(n + 1), Some(Token::Number(..))) => 2,
            Some(Token::Number(..)) => 1,
            _ => 0,
        }
    };
    while n < words.len() {
        let t = words[n];
        let (key, len) = if is(t, Keyword::SEQUENCE) && words.get(n + 1).is_some_and(|w| is(w, Keyword::NAME)) {
            let mut k = n + 2;
            let mut len = 3;
            while words.get(k + 1).is_some_and(|w| **w == Token::Period) {
                len += 2;
                k += 2;
            }
            (None, len)
        } else if is(t, Keyword::NO) {
            let next = words.get(n + 1)?;
            let key = [Keyword::MINVALUE, Keyword::MAXVALUE, Keyword::CYCLE].into_iter().find(|k| is(next, *k))?;
            (Some(key), 2)
        } else if is(t, Keyword::CYCLE) {
            (Some(Keyword::CYCLE), 1)
        } else if is(t, Keyword::INCREMENT) || is(t, Keyword::START) {
            let key = if is(t, Keyword::INCREMENT) { Keyword::INCREMENT } else { Keyword::START };
            let filler = words.get(n + 1).is_some_and(|w| is(w, Keyword::BY) || is(w, Keyword::WITH));
            let skip = 1 + usize::from(filler);
            match number(n + skip) {
                0 => return None,
                len => (Some(key), skip + len),
            }
        } else {
            let key = [Keyword::MINVALUE, Keyword::MAXVALUE, Keyword::CACHE].into_iter().find(|k| is(t, *k))?;
            match number(n + 1) {
                0 => return None,
                len => (Some(key), 1 + len),
            }
        };
        if let Some(key) = key {
            let rank = OPTION_ORDER.iter().position(|k| *k == key)?;
            groups.push((rank, words[n..n + len].to_vec()));
        }
        n += len;
    }
    // A stable sort keeps repeated options in their order (the parser then
    // reports the repetition).
    groups.sort_by_key(|g| g.0);
    Some(
        groups
            .iter()
            .map(|(_, g)| g.iter().map(ToString::to_string).collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// `ALTER TABLE [ONLY] t ALTER [COLUMN] c ADD GENERATED … AS IDENTITY
/// (SEQUENCE NAME s options)` as `CALL pg_catalog.add_identity('t', 'c',
/// 's', 'options')`, so the sequence keeps the name the dump gives it
/// (`None` for any other statement, and without `SEQUENCE NAME`).
fn named_identity(spanned: &[Spanned<'_>], tokens: &[Token], words: &[usize]) -> Option<String> {
    let at = |n: usize, k: Keyword| words.get(n).is_some_and(|&i| is(&tokens[i], k));
    let text = |from: usize, to: usize| spanned[words[from]..=words[to]].iter().map(|t| t.text).collect::<String>();
    let mut n = 2;
    if at(n, Keyword::ONLY) {
        n += 1;
    }
    let len = name_words(tokens, words, n);
    let table = text(n, n + len - 1);
    n += len;
    if !at(n, Keyword::ALTER) {
        return None;
    }
    n += 1;
    if at(n, Keyword::COLUMN) {
        n += 1;
    }
    let column = text(n, n);
    n += 1;
    if !(at(n, Keyword::ADD) && at(n + 1, Keyword::GENERATED)) {
        return None;
    }
    n += 2;
    if at(n, Keyword::ALWAYS) {
        n += 1;
    } else if at(n, Keyword::BY) && at(n + 1, Keyword::DEFAULT) {
        n += 2;
    }
    if !(at(n, Keyword::AS) && at(n + 1, Keyword::IDENTITY))
        || words.get(n + 2).map(|&i| &tokens[i]) != Some(&Token::LParen)
    {
        return None;
    }
    let open = n + 2;
    // The parenthesis must close the statement.
    let close = words.len() - 1;
    if tokens[words[close]] != Token::RParen || close <= open {
        return None;
    }
    let named = (open + 1..close).find(|&m| at(m, Keyword::SEQUENCE) && at(m + 1, Keyword::NAME))?;
    let sequence = text(named + 2, named + 1 + name_words(tokens, words, named + 2));
    let options = order_options(&tokens[words[open] + 1..words[close]])?;
    let quote = |s: &str| literal(s.trim());
    let leading: String = spanned[..words[0]].iter().map(|t| t.text).collect();
    Some(format!(
        "{leading}CALL pg_catalog.add_identity({}, {}, {}, {})",
        quote(&table),
        quote(&column),
        quote(&sequence),
        quote(&options)
    ))
}

/// `ALTER SEQUENCE [IF EXISTS] name rest` as `CALL
/// pg_catalog.alter_sequence('name', 'rest', if_exists)`.
fn alter_sequence(spanned: &[Spanned<'_>], tokens: &[Token], words: &[usize]) -> Option<String> {
    let at = |n: usize, k: Keyword| words.get(n).is_some_and(|&i| is(&tokens[i], k));
    let mut n = 2;
    let if_exists = at(n, Keyword::IF) && at(n + 1, Keyword::EXISTS);
    if if_exists {
        n += 2;
    }
    let name_start = *words.get(n)?;
    let len = name_words(tokens, words, n);
    let name_end = words.get(n + len).copied().unwrap_or(tokens.len());
    let text = |range: std::ops::Range<usize>| spanned[range].iter().map(|t| t.text).collect::<String>();
    let name = text(name_start..name_end);
    let rest = text(name_end..tokens.len());
    let quote = |s: &str| literal(s.trim());
    let leading = text(0..words[0]);
    Some(format!("{leading}CALL pg_catalog.alter_sequence({}, {}, {if_exists})", quote(&name), quote(&rest)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_come_in_the_parsers_order() {
        assert_eq!(
            rewrite(
                "CREATE SEQUENCE public.s\n    AS integer\n    START WITH 1\n    INCREMENT BY 1\n    NO MINVALUE\n    NO MAXVALUE\n    CACHE 1;"
            ),
            "CREATE SEQUENCE public.s\n    AS integer\n    INCREMENT BY 1 NO MINVALUE NO MAXVALUE START WITH 1 CACHE 1 ;"
        );
        assert_eq!(
            rewrite("create sequence s cycle start 5 minvalue -10 owned by t.c"),
            "create sequence s minvalue - 10 start 5 cycle owned by t.c"
        );
        // Already in order: untouched.
        assert!(matches!(rewrite("CREATE SEQUENCE s INCREMENT 2 START 3"), Cow::Borrowed(_)));
    }

    #[test]
    fn identity_options_come_in_order() {
        assert_eq!(
            rewrite(
                "ALTER TABLE t ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (SEQUENCE NAME public.t_id_seq START WITH 1 INCREMENT BY 1 NO MINVALUE NO MAXVALUE CACHE 1);"
            ),
            "CALL pg_catalog.add_identity('t', 'id', 'public.t_id_seq', 'INCREMENT BY 1 NO MINVALUE NO MAXVALUE START WITH 1 CACHE 1');"
        );
        assert_eq!(
            rewrite("CREATE TABLE t (id int GENERATED BY DEFAULT AS IDENTITY (START 10 INCREMENT 5), v text)"),
            "CREATE TABLE t (id int GENERATED BY DEFAULT AS IDENTITY (INCREMENT 5 START 10 ), v text)"
        );
    }

    #[test]
    fn a_named_identity_sequence_becomes_a_call() {
        assert_eq!(
            rewrite(
                "ALTER TABLE ONLY public.t9 ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY (\n    SEQUENCE NAME public.t2_id_seq\n    START WITH 1\n    INCREMENT BY 1\n);"
            ),
            "CALL pg_catalog.add_identity('public.t9', 'id', 'public.t2_id_seq', 'INCREMENT BY 1 START WITH 1');"
        );
    }

    #[test]
    fn overriding_system_value_is_dropped() {
        assert_eq!(
            rewrite("INSERT INTO public.t (id, v) OVERRIDING SYSTEM VALUE VALUES (1, 'it''s');"),
            "INSERT INTO public.t (id, v) VALUES (1, 'it''s');"
        );
        assert!(matches!(rewrite("INSERT INTO t VALUES ('overriding system value')"), Cow::Borrowed(_)));
    }

    #[test]
    fn alter_sequence_becomes_a_call() {
        assert_eq!(
            rewrite("ALTER SEQUENCE public.s OWNED BY public.t.id;"),
            "CALL pg_catalog.alter_sequence('public.s', 'OWNED BY public.t.id', false);"
        );
        assert_eq!(
            rewrite("alter sequence if exists \"S\" restart with 5"),
            "CALL pg_catalog.alter_sequence('\"S\"', 'restart with 5', true)"
        );
    }

    #[test]
    fn untouched_text_keeps_its_escapes() {
        assert_eq!(
            rewrite("ALTER SEQUENCE s RESTART; INSERT INTO t VALUES ('x'', ''y')"),
            "CALL pg_catalog.alter_sequence('s', 'RESTART', false); INSERT INTO t VALUES ('x'', ''y')"
        );
        assert_eq!(
            rewrite(
                "CREATE TABLE t (id int GENERATED BY DEFAULT AS IDENTITY (START 10 INCREMENT 5), note text DEFAULT 'it''s')"
            ),
            "CREATE TABLE t (id int GENERATED BY DEFAULT AS IDENTITY (INCREMENT 5 START 10 ), note text DEFAULT 'it''s')"
        );
    }

    #[test]
    fn other_texts_stay_as_they_are() {
        assert!(matches!(rewrite("SELECT 'ALTER SEQUENCE s'"), Cow::Borrowed(_)));
        assert!(matches!(rewrite("SELECT nextval('seq')"), Cow::Borrowed(_)));
        // Unknown options are left for the parser to report.
        assert!(matches!(rewrite("CREATE SEQUENCE s START 1 BOGUS 2"), Cow::Borrowed(_)));
    }
}
