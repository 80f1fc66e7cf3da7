//! `LIKE` / `ILIKE` pattern matching: `%` any run, `_` one character,
//! `\` escapes the next character (PostgreSQL's default escape).

/// Whether `text` matches the LIKE `pattern`.
pub(crate) fn like(text: &str, pattern: &str, case_insensitive: bool) -> bool {
    let fold = |s: &str| -> Vec<char> {
        if case_insensitive { s.chars().flat_map(char::to_lowercase).collect() } else { s.chars().collect() }
    };
    let text = fold(text);
    let tokens = tokenize(&fold(pattern));
    matches(&text, &tokens)
}

#[derive(Clone, Copy, PartialEq)]
enum Token {
    Char(char),
    One,
    Any,
}

fn tokenize(pattern: &[char]) -> Vec<Token> {
    let mut out = Vec::with_capacity(pattern.len());
    let mut i = 0;
    while i < pattern.len() {
        match pattern[i] {
            '\\' if i + 1 < pattern.len() => {
                out.push(Token::Char(pattern[i + 1]));
                i += 1;
            }
            '%' => {
                if out.last() != Some(&Token::Any) {
                    out.push(Token::Any);
                }
            }
            '_' => out.push(Token::One),
            c => out.push(Token::Char(c)),
        }
        i += 1;
    }
    out
}

/// Greedy matching with one backtrack point per `%` (linear in practice).
fn matches(text: &[char], pattern: &[Token]) -> bool {
    let (mut t, mut p) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(Token::Any) => {
                star = Some((p, t));
                p += 1;
            }
            Some(Token::One) => {
                t += 1;
                p += 1;
            }
            Some(Token::Char(c)) if *c == text[t] => {
                t += 1;
                p += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|tok| *tok == Token::Any)
}

/// The escape character of `ESCAPE 'e'`: one character, or none for an
/// empty string (22019 otherwise).
fn escape_char(escape: &str) -> crate::Result<Option<char>> {
    let mut chars = escape.chars();
    match (chars.next(), chars.next()) {
        (None, _) => Ok(None),
        (Some(c), None) => Ok(Some(c)),
        _ => Err(crate::error::data_exception("22019", "invalid escape string")),
    }
}

/// A pattern written for another escape character (`LIKE … ESCAPE 'e'`;
/// an empty one means none) rewritten for the default one, `\`.
pub(crate) fn with_escape(pattern: &str, escape: &str) -> crate::Result<String> {
    use crate::error::data_exception;
    let escape = escape_char(escape)?;
    let mut out = String::with_capacity(pattern.len() + 2);
    let mut it = pattern.chars();
    while let Some(c) = it.next() {
        if Some(c) == escape {
            let Some(next) = it.next() else {
                return Err(data_exception("22025", "LIKE pattern must not end with escape character"));
            };
            out.push('\\');
            out.push(next);
        } else if c == '\\' {
            out.push_str("\\\\");
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

/// A `SIMILAR TO` pattern as an anchored regular expression: `%` is any
/// run, `_` one character, `.` `^` `$` are literal, the escape character
/// makes the next character literal, the rest is regular-expression syntax.
pub(crate) fn similar_to_regex(pattern: &str, escape: &str) -> crate::Result<String> {
    use crate::error::data_exception;
    let escape = escape_char(escape)?;
    let mut out = String::from("^(?:");
    let mut it = pattern.chars();
    let mut in_brackets = false;
    while let Some(c) = it.next() {
        if Some(c) == escape {
            let Some(next) = it.next() else {
                return Err(data_exception("2201B", "invalid regular expression: trailing escape"));
            };
            out.push_str(&regex::escape(&next.to_string()));
            continue;
        }
        if in_brackets {
            if c == ']' {
                in_brackets = false;
            }
            if c == '\\' {
                out.push('\\');
            }
            out.push(c);
            continue;
        }
        match c {
            '%' => out.push_str(".*"),
            '_' => out.push('.'),
            '[' => {
                in_brackets = true;
                out.push('[');
            }
            '.' | '^' | '$' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push_str(")$");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::{like, similar_to_regex, with_escape};

    #[test]
    fn similar_to_patterns_become_anchored_regexes() {
        let m = |text: &str, pat: &str| {
            let re = similar_to_regex(pat, "\\").unwrap_or_default();
            regex::Regex::new(&re).map(|r| r.is_match(text)).unwrap_or(false)
        };
        assert!(m("abc", "abc"));
        assert!(m("abc", "a%"));
        assert!(!m("abc", "_b"));
        assert!(m("abc", "%(b|d)%"));
        assert!(!m("abc", "(b|c)%"));
        assert!(m("a.c", "a.c"));
        assert!(!m("abc", "a.c"));
        assert!(m("a%", "a\\%"));
        assert!(m("ab1", "ab[0-9]"));
    }

    #[test]
    fn other_escape_characters() {
        let p = |pat: &str, esc: &str| with_escape(pat, esc).unwrap_or_default();
        assert!(like("10%", &p("10#%", "#"), false));
        assert!(!like("100", &p("10#%", "#"), false));
        assert!(like("a\\b", &p("a\\b", "#"), false));
        assert!(like("a\\b", &p("a\\_", ""), false));
        assert!(like("a%", &p("a%", ""), false));
        assert!(with_escape("ab#", "#").is_err());
        assert!(with_escape("ab", "##").is_err());
    }

    #[test]
    fn like_patterns() {
        assert!(like("hello", "h%o", false));
        assert!(like("hello", "h_llo", false));
        assert!(!like("hello", "h_lo", false));
        assert!(like("HeLLo", "hel%", true));
        assert!(like("100%", "100\\%", false));
        assert!(!like("1000", "100\\%", false));
        assert!(like("", "%", false));
        assert!(like("abcabc", "%abc", false));
        assert!(!like("abc", "", false));
    }
}
