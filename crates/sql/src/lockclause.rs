//! Row-lock strengths the parser does not take: `FOR NO KEY UPDATE` and
//! `FOR KEY SHARE` (ORMs and PostgreSQL's own foreign-key checks use
//! them). memdb's row locks have two strengths, so they are read as the
//! next stronger one, `FOR UPDATE` and `FOR SHARE`: a lock that conflicts
//! with more than PostgreSQL's would, never with less.

use std::borrow::Cow;

use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::Token;

use crate::tokens::mentions;

/// `sql` with `FOR NO KEY UPDATE` as `FOR UPDATE` and `FOR KEY SHARE` as
/// `FOR SHARE`; texts without them are returned as they are.
pub(crate) fn rewrite(sql: &str) -> Cow<'_, str> {
    if !(mentions(sql, "key") && mentions(sql, "for")) {
        return Cow::Borrowed(sql);
    }
    let Some(spanned) = crate::tokens::tokenize(sql) else { return Cow::Borrowed(sql) };
    let tokens: Vec<&Token> = spanned.iter().map(|s| &s.token).collect();
    let is = |t: &Token, k: Keyword| matches!(t, Token::Word(w) if w.keyword == k && w.quote_style.is_none());
    // Positions of the words (not whitespace or comments).
    let words: Vec<usize> = (0..tokens.len()).filter(|&i| !matches!(tokens[i], Token::Whitespace(_))).collect();
    let mut dropped = vec![false; tokens.len()];
    for (n, &i) in words.iter().enumerate() {
        if !is(tokens[i], Keyword::FOR) {
            continue;
        }
        let next = |k: usize| words.get(n + k).map(|&j| tokens[j]);
        let word_at = |k: usize, keyword: Keyword| next(k).is_some_and(|t| is(t, keyword));
        let mut drop_words = |from: usize, count: usize| {
            for k in from..from + count {
                if let Some(&j) = words.get(n + k) {
                    dropped[j] = true;
                    // The whitespace before the dropped word goes too.
                    if j > 0 && matches!(tokens[j - 1], Token::Whitespace(_)) {
                        dropped[j - 1] = true;
                    }
                }
            }
        };
        if word_at(1, Keyword::NO) && word_at(2, Keyword::KEY) && word_at(3, Keyword::UPDATE) {
            drop_words(1, 2);
        } else if word_at(1, Keyword::KEY) && word_at(2, Keyword::SHARE) {
            drop_words(1, 1);
        }
    }
    if !dropped.contains(&true) {
        return Cow::Borrowed(sql);
    }
    Cow::Owned(spanned.iter().zip(&dropped).filter(|(_, d)| !**d).map(|(t, _)| t.text).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weaker_lock_strengths_become_the_stronger_ones() {
        assert_eq!(rewrite("SELECT * FROM t FOR NO KEY UPDATE"), "SELECT * FROM t FOR UPDATE");
        assert_eq!(rewrite("select 1 from t for key share of t nowait"), "select 1 from t for share of t nowait");
        assert_eq!(
            rewrite("SELECT 1 FROM a FOR KEY SHARE OF a FOR NO KEY UPDATE OF b; SELECT 2"),
            "SELECT 1 FROM a FOR SHARE OF a FOR UPDATE OF b; SELECT 2"
        );
    }

    #[test]
    fn untouched_text_keeps_its_escapes() {
        assert_eq!(
            rewrite("SELECT * FROM t WHERE n = 'x''; DROP TABLE t; --' FOR NO KEY UPDATE"),
            "SELECT * FROM t WHERE n = 'x''; DROP TABLE t; --' FOR UPDATE"
        );
        assert_eq!(rewrite("SELECT E'q\\'' FROM \"a\"\"b\" FOR KEY SHARE"), "SELECT E'q\\'' FROM \"a\"\"b\" FOR SHARE");
    }

    #[test]
    fn other_texts_stay_as_they_are() {
        assert!(matches!(rewrite("SELECT 'for no key update'"), Cow::Borrowed(_)));
        assert!(matches!(rewrite("SELECT key FROM t FOR UPDATE"), Cow::Borrowed(_)));
        assert!(matches!(rewrite("SELECT \"key\" FROM t"), Cow::Borrowed(_)));
    }
}
