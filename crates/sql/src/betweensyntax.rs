//! `BETWEEN SYMMETRIC` and `BETWEEN ASYMMETRIC`, which the parser does not
//! take. `ASYMMETRIC` is plain `BETWEEN` and is dropped; `SYMMETRIC`'s
//! lower bound is wrapped in a marker call ([`SYMMETRIC_MARKER`]) that the
//! binder turns back into the symmetric test, as PostgreSQL does:
//! `x BETWEEN SYMMETRIC a AND b` is `(x >= a AND x <= b) OR (x >= b AND x <= a)`.

use std::borrow::Cow;

use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::Token;

use crate::tokens::mentions;

/// The function name the rewrite wraps a symmetric lower bound in.
pub(crate) const SYMMETRIC_MARKER: &str = "memdb_between_symmetric";

/// `sql` with `BETWEEN SYMMETRIC a AND` as `BETWEEN memdb_between_symmetric(a) AND`
/// and `BETWEEN ASYMMETRIC` as `BETWEEN`; other texts are returned as they are.
pub(crate) fn rewrite(sql: &str) -> Cow<'_, str> {
    if !(mentions(sql, "between") && mentions(sql, "symmetric")) {
        return Cow::Borrowed(sql);
    }
    let Some(spanned) = crate::tokens::tokenize(sql) else { return Cow::Borrowed(sql) };
    let is = |t: &Token, k: Keyword| matches!(t, Token::Word(w) if w.keyword == k && w.quote_style.is_none());
    let word = |i: usize| !matches!(spanned[i].token, Token::Whitespace(_));
    let next_word = |from: usize| (from..spanned.len()).find(|&j| word(j));
    // What to write instead of a token, and what to write before one.
    let mut replaced: Vec<Option<&str>> = vec![None; spanned.len()];
    let mut before: Vec<&str> = vec![""; spanned.len()];
    let mut after: Vec<&str> = vec![""; spanned.len()];
    let mut changed = false;
    for i in 0..spanned.len() {
        if !is(&spanned[i].token, Keyword::BETWEEN) {
            continue;
        }
        let Some(k) = next_word(i + 1) else { continue };
        if is(&spanned[k].token, Keyword::ASYMMETRIC) {
            replaced[k] = Some("");
            changed = true;
        } else if is(&spanned[k].token, Keyword::SYMMETRIC)
            && let Some(low) = next_word(k + 1)
            && let Some(and) = bound_end(&spanned.iter().map(|s| &s.token).collect::<Vec<_>>(), low)
        {
            // The bound's last word: the whitespace before AND stays outside.
            let last = (low..and).rev().find(|&j| word(j)).unwrap_or(low);
            replaced[k] = Some("");
            before[low] = "memdb_between_symmetric(";
            after[last] = ")";
            changed = true;
        }
    }
    if !changed {
        return Cow::Borrowed(sql);
    }
    let mut out = String::with_capacity(sql.len() + 32);
    for (i, t) in spanned.iter().enumerate() {
        out.push_str(before[i]);
        out.push_str(replaced[i].unwrap_or(t.text));
        out.push_str(after[i]);
    }
    Cow::Owned(out)
}

/// The `AND` that ends a `BETWEEN`'s lower bound starting at `from`: the
/// first one outside parentheses, brackets, `CASE … END` and nested
/// `BETWEEN … AND`s; `None` when the text ends first.
fn bound_end(tokens: &[&Token], from: usize) -> Option<usize> {
    let is = |t: &Token, k: Keyword| matches!(t, Token::Word(w) if w.keyword == k && w.quote_style.is_none());
    let mut depth = 0usize;
    let mut open_betweens = 0usize;
    for (i, t) in tokens.iter().enumerate().skip(from) {
        match t {
            Token::LParen | Token::LBracket => depth += 1,
            Token::RParen | Token::RBracket => depth = depth.checked_sub(1)?,
            Token::SemiColon if depth == 0 => return None,
            t if is(t, Keyword::CASE) => depth += 1,
            t if is(t, Keyword::END) => depth = depth.checked_sub(1)?,
            t if depth == 0 && is(t, Keyword::BETWEEN) => open_betweens += 1,
            t if depth == 0 && is(t, Keyword::AND) => {
                if open_betweens == 0 {
                    return Some(i);
                }
                open_betweens -= 1;
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symmetric_lower_bounds_are_marked() {
        assert_eq!(rewrite("SELECT 2 BETWEEN SYMMETRIC 3 AND 1"), "SELECT 2 BETWEEN  memdb_between_symmetric(3) AND 1");
        assert_eq!(
            rewrite("SELECT x NOT between symmetric (a + 1) * 2 and b FROM t"),
            "SELECT x NOT between  memdb_between_symmetric((a + 1) * 2) and b FROM t"
        );
        assert_eq!(
            rewrite("SELECT 1 BETWEEN SYMMETRIC CASE WHEN a AND b THEN 1 END AND 2"),
            "SELECT 1 BETWEEN  memdb_between_symmetric(CASE WHEN a AND b THEN 1 END) AND 2"
        );
        assert_eq!(
            rewrite("SELECT 1 BETWEEN SYMMETRIC 1 BETWEEN 0 AND 2 AND 3"),
            "SELECT 1 BETWEEN  memdb_between_symmetric(1 BETWEEN 0 AND 2) AND 3"
        );
    }

    #[test]
    fn asymmetric_is_plain_between_and_other_texts_stay() {
        assert_eq!(rewrite("SELECT 2 BETWEEN ASYMMETRIC 1 AND 3"), "SELECT 2 BETWEEN  1 AND 3");
        assert_eq!(rewrite("SELECT 'between symmetric'"), "SELECT 'between symmetric'");
        assert_eq!(rewrite("SELECT 2 BETWEEN SYMMETRIC 1"), "SELECT 2 BETWEEN SYMMETRIC 1");
    }
}
