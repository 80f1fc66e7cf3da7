//! Cutting shell input into statements: a statement ends at a `;` outside
//! quotes ('…', E'…', "…", $tag$…$tag$) and comments (`--`, nested
//! `/* */`), as psql cuts them, so a statement may span lines and a line
//! may hold several.

/// Input typed or read so far that has not formed a whole statement yet.
#[derive(Debug, Default)]
pub struct StatementBuffer {
    text: String,
}

impl StatementBuffer {
    /// Adds a line; returns the statements it completed (without their
    /// `;`, blank ones dropped), keeping any unfinished rest.
    pub fn push_line(&mut self, line: &str) -> Vec<String> {
        if !self.text.is_empty() {
            self.text.push('\n');
        }
        self.text.push_str(line);
        let (done, rest) = split(&self.text);
        self.text = rest;
        done
    }

    /// Whether an unfinished statement is waiting for more lines.
    pub fn is_pending(&self) -> bool {
        !is_blank(&self.text)
    }

    /// Takes what is left (the last statement of a file without its `;`).
    pub fn take_rest(&mut self) -> Option<String> {
        let rest = std::mem::take(&mut self.text);
        (!is_blank(&rest)).then(|| rest.trim().to_owned())
    }

    /// Drops the unfinished statement (Ctrl-C, `\r`).
    pub fn clear(&mut self) {
        self.text.clear();
    }
}

/// Whether `text` holds nothing but whitespace and comments.
fn is_blank(text: &str) -> bool {
    let mut lexer = Lexer::new(text);
    while let Some(token) = lexer.next_token() {
        if token == Token::Other {
            return false;
        }
    }
    true
}

/// `text` from its first token that is not whitespace or a comment (what
/// decides the kind of statement).
pub fn skip_comments(text: &str) -> &str {
    let mut lexer = Lexer::new(text);
    loop {
        let start = lexer.pos;
        match lexer.next_token() {
            Some(Token::Space) => {}
            Some(_) => return &text[start..],
            None => return "",
        }
    }
}

/// Splits `text` into complete statements and the unfinished rest.
pub fn split(text: &str) -> (Vec<String>, String) {
    let mut done = Vec::new();
    let mut lexer = Lexer::new(text);
    let mut start = 0;
    let mut seen_content = false;
    while let Some(token) = lexer.next_token() {
        match token {
            Token::Semicolon => {
                let statement = text[start..lexer.pos - 1].trim();
                if seen_content {
                    done.push(statement.to_owned());
                }
                start = lexer.pos;
                seen_content = false;
            }
            Token::Other => seen_content = true,
            Token::Space => {}
        }
    }
    (done, text[start..].to_owned())
}

#[derive(Debug, PartialEq, Eq)]
enum Token {
    /// A `;` that ends a statement.
    Semicolon,
    /// Whitespace or a comment.
    Space,
    /// Anything else (a word, a literal, even an unterminated one).
    Other,
}

struct Lexer<'a> {
    bytes: &'a [u8],
    text: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn new(text: &'a str) -> Lexer<'a> {
        Lexer { bytes: text.as_bytes(), text, pos: 0 }
    }

    fn peek(&self, ahead: usize) -> Option<u8> {
        self.bytes.get(self.pos + ahead).copied()
    }

    fn next_token(&mut self) -> Option<Token> {
        let c = self.peek(0)?;
        match c {
            b';' => {
                self.pos += 1;
                Some(Token::Semicolon)
            }
            c if c.is_ascii_whitespace() => {
                self.pos += 1;
                Some(Token::Space)
            }
            b'-' if self.peek(1) == Some(b'-') => {
                while let Some(c) = self.peek(0) {
                    self.pos += 1;
                    if c == b'\n' {
                        break;
                    }
                }
                Some(Token::Space)
            }
            b'/' if self.peek(1) == Some(b'*') => {
                self.pos += 2;
                let mut depth = 1;
                while depth > 0 {
                    match (self.peek(0), self.peek(1)) {
                        (None, _) => break,
                        (Some(b'*'), Some(b'/')) => {
                            depth -= 1;
                            self.pos += 2;
                        }
                        (Some(b'/'), Some(b'*')) => {
                            depth += 1;
                            self.pos += 2;
                        }
                        _ => self.pos += 1,
                    }
                }
                Some(Token::Space)
            }
            b'\'' => {
                let escapes = self.pos > 0
                    && matches!(self.bytes[self.pos - 1], b'e' | b'E')
                    && (self.pos == 1 || !is_word_byte(self.bytes[self.pos - 2]));
                self.pos += 1;
                self.quoted(b'\'', escapes);
                Some(Token::Other)
            }
            b'"' => {
                self.pos += 1;
                self.quoted(b'"', false);
                Some(Token::Other)
            }
            b'$' => {
                if let Some(tag) = self.dollar_tag() {
                    self.pos += tag.len();
                    match self.text[self.pos..].find(tag) {
                        Some(end) => self.pos += end + tag.len(),
                        None => self.pos = self.bytes.len(),
                    }
                } else {
                    self.pos += 1;
                }
                Some(Token::Other)
            }
            _ => {
                // A word or operator: up to the next byte that could start
                // something else (multi-byte UTF-8 is never one of those).
                self.pos += 1;
                while let Some(c) = self.peek(0) {
                    if c == b';' || c.is_ascii_whitespace() || matches!(c, b'\'' | b'"' | b'$' | b'-' | b'/') {
                        break;
                    }
                    self.pos += 1;
                }
                Some(Token::Other)
            }
        }
    }

    /// Skips to after the closing `quote` (doubled quotes stay inside;
    /// with `escapes`, so do backslash-escaped ones).
    fn quoted(&mut self, quote: u8, escapes: bool) {
        while let Some(c) = self.peek(0) {
            self.pos += 1;
            if escapes && c == b'\\' {
                self.pos += 1;
            } else if c == quote {
                if self.peek(0) == Some(quote) {
                    self.pos += 1;
                } else {
                    return;
                }
            }
        }
        self.pos = self.pos.min(self.bytes.len());
    }

    /// The `$tag$` opening a dollar-quoted string at the cursor, if any
    /// (`$1`, a parameter, is not one).
    fn dollar_tag(&self) -> Option<&'a str> {
        if self.pos > 0 && is_word_byte(self.bytes[self.pos - 1]) {
            return None;
        }
        let rest = &self.bytes[self.pos + 1..];
        let len = rest.iter().position(|c| !(c.is_ascii_alphanumeric() || *c == b'_' || *c >= 0x80))?;
        if rest.get(len) != Some(&b'$') || rest.first().is_some_and(u8::is_ascii_digit) {
            return None;
        }
        self.text.get(self.pos..self.pos + len + 2)
    }
}

fn is_word_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statements(text: &str) -> (Vec<String>, String) {
        split(text)
    }

    #[test]
    fn semicolons_end_statements_outside_quotes_and_comments() {
        let (done, rest) = statements("SELECT 1; SELECT ';' -- a ; comment\n; SELECT \"a;b\" FROM t; SELECT");
        assert_eq!(done, vec!["SELECT 1", "SELECT ';' -- a ; comment", "SELECT \"a;b\" FROM t"]);
        assert_eq!(rest.trim(), "SELECT");
    }

    #[test]
    fn dollar_quotes_escape_strings_and_block_comments_nest() {
        let (done, rest) =
            statements("SELECT $$a;b$$, $x$ $$; $x$; /* one /* two; */ still; */ SELECT E'it\\'s;'; SELECT $1;");
        assert_eq!(
            done,
            vec!["SELECT $$a;b$$, $x$ $$; $x$", "/* one /* two; */ still; */ SELECT E'it\\'s;'", "SELECT $1"]
        );
        assert_eq!(rest, "");
    }

    #[test]
    fn an_open_quote_keeps_the_statement_pending_across_lines() {
        let mut buffer = StatementBuffer::default();
        assert!(buffer.push_line("INSERT INTO t VALUES ('a").is_empty());
        assert!(buffer.is_pending());
        assert_eq!(buffer.push_line("b;c');"), vec!["INSERT INTO t VALUES ('a\nb;c')"]);
        assert!(!buffer.is_pending());
        assert!(buffer.push_line("-- only a comment").is_empty());
        assert!(!buffer.is_pending());
        assert!(buffer.push_line(";;").is_empty());
        assert!(buffer.push_line("SELECT 2").is_empty());
        assert_eq!(buffer.take_rest().as_deref(), Some("SELECT 2"));
    }

    #[test]
    fn leading_comments_are_skipped() {
        assert_eq!(skip_comments("--\n-- Data for t; x\n/* a */ COPY t FROM stdin"), "COPY t FROM stdin");
        assert_eq!(skip_comments("  -- only"), "");
    }

    #[test]
    fn multibyte_text_is_never_cut_inside_a_character() {
        let (done, rest) = statements("SELECT 'ünï;cödé', $é$;$é$; SELECT ü");
        assert_eq!(done, vec!["SELECT 'ünï;cödé', $é$;$é$"]);
        assert_eq!(rest, " SELECT ü");
    }
}
