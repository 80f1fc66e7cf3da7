//! Tokens with the exact text they came from, for the rewriters that adjust
//! PostgreSQL syntax the parser lacks (`lockclause`, `seqsyntax`,
//! `rolesyntax`). A rewritten text must keep every untouched token as the
//! client wrote it: printing tokens back would lose escapes (`'it''s'`
//! would come out as `'it's'`, which changes what the text means).

use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::tokenizer::{Location, Token, Tokenizer};

/// A token and its text in the source.
pub(crate) struct Spanned<'a> {
    /// The token.
    pub token: Token,
    /// Exactly the source text it was read from.
    pub text: &'a str,
}

/// The tokens of `sql` with their source text, or `None` when the text
/// does not tokenize (the parser then reports the error).
pub(crate) fn tokenize(sql: &str) -> Option<Vec<Spanned<'_>>> {
    let tokens = Tokenizer::new(&PostgreSqlDialect {}, sql).tokenize_with_location().ok()?;
    // Byte offset of each (line, column) position: columns count characters.
    let mut line_starts = vec![0usize];
    let mut char_bytes = Vec::with_capacity(sql.len() + 1);
    for (i, (byte, c)) in sql.char_indices().enumerate() {
        char_bytes.push(byte);
        if c == '\n' {
            line_starts.push(i + 1);
        }
    }
    char_bytes.push(sql.len());
    let offset = |at: Location| -> Option<usize> {
        let line = usize::try_from(at.line).ok()?.checked_sub(1)?;
        let column = usize::try_from(at.column).ok()?.checked_sub(1)?;
        char_bytes.get(line_starts.get(line)? + column).copied()
    };
    let mut out = Vec::with_capacity(tokens.len());
    let mut start = 0;
    for t in tokens {
        let end = offset(t.span.end)?;
        out.push(Spanned { token: t.token, text: sql.get(start..end)? });
        start = end;
    }
    // The spans cover the whole text, or the rewrite would drop some.
    (start == sql.len()).then_some(out)
}

/// Whether `sql` contains `word` anywhere, case-insensitively: the
/// rewriters' cheap test before tokenizing.
pub(crate) fn mentions(sql: &str, word: &str) -> bool {
    sql.as_bytes().windows(word.len()).any(|w| w.eq_ignore_ascii_case(word.as_bytes()))
}

/// `text` as an SQL string literal (quotes doubled).
pub(crate) fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_texts_are_the_source_text() {
        let sql = "SELECT 'it''s', E'a\\'b\\n', \"Q\"\"x\", $$d$$ -- é\n/* ü */ FROM t;\nSELECT 'ß'";
        let tokens = tokenize(sql).unwrap();
        assert_eq!(tokens.iter().map(|t| t.text).collect::<String>(), sql);
        assert!(tokens.iter().any(|t| t.text == "'it''s'"));
        assert!(tokens.iter().any(|t| t.text == "\"Q\"\"x\""));
        assert!(tokens.iter().any(|t| t.text == "'ß'"));
    }
}
