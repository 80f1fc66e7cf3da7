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

/// POSIX regular-expression match (`~`, `~*`), through the `regex` crate
/// (whose syntax covers the POSIX extended expressions in common use).
pub(crate) fn regex_like(text: &str, pattern: &str, case_insensitive: bool) -> crate::Result<bool> {
    let re = regex::RegexBuilder::new(pattern)
        .case_insensitive(case_insensitive)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| crate::error::data_exception("2201B", format!("invalid regular expression: {e}")))?;
    Ok(re.is_match(text))
}

#[cfg(test)]
mod tests {
    use super::like;

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
