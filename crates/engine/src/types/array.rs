//! Array text input and output (`{1,2,NULL,"a b"}`), one dimension.
//!
//! Input follows PostgreSQL's `array_in`: elements are separated by commas
//! inside braces; an element may be double-quoted, and a backslash takes the
//! next character literally, quoted or not; whitespace around unquoted
//! elements is dropped; an unquoted `NULL` (any case) is a NULL element.
//! Nested braces (multi-dimensional arrays) and dimension decorations
//! (`[1:2]={…}`) are rejected.
//!
//! Output quotes an element when it is empty, is `NULL` in any case, or
//! contains `"`, `\`, `{`, `}`, `,` or whitespace; inside quotes `"` and `\`
//! are backslash-escaped.

use std::fmt;

use super::{Array, DataType, Value};
use crate::error::{Error, Result};

/// `malformed array literal: "..."`.
///
/// PostgreSQL reports this as SQLSTATE 22P02; the engine's error enum has
/// no variant with this wording, so it is an `InvalidParameter` (22023).
fn malformed(input: &str, _detail: &str) -> Error {
    Error::InvalidParameter(format!("malformed array literal: \"{input}\""))
}

/// Whitespace as PostgreSQL's `array_isspace` sees it.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{b}' | '\u{c}')
}

/// One element as read: its text, or NULL.
enum Element {
    Null,
    Text(String),
}

/// Splits array text into its elements.
fn split_elements(input: &str) -> Result<Vec<Element>> {
    let s = input.trim_start_matches(is_space);
    if s.starts_with('[') {
        return Err(Error::InvalidParameter(format!("array dimension decorations are not supported: \"{input}\"")));
    }
    let Some(body) = s.strip_prefix('{') else {
        return Err(malformed(input, "Array value must start with \"{\" or dimension information."));
    };
    let mut chars = body.chars().peekable();
    let mut out = Vec::new();
    // Empty array: `{}` with optional inner whitespace.
    let rest: String = chars.clone().collect();
    if rest.trim_start_matches(is_space).starts_with('}') {
        let after = rest.trim_start_matches(is_space)[1..].trim_matches(is_space);
        if !after.is_empty() {
            return Err(malformed(input, "Junk after closing right brace."));
        }
        return Ok(out);
    }
    loop {
        while chars.next_if(|c| is_space(*c)).is_some() {}
        let mut text = String::new();
        let mut quoted = false;
        let mut escaped_any = false;
        // Length of `text` up to its last character that was quoted or
        // escaped: trailing whitespace after it is dropped, not before.
        let mut keep_len = 0;
        let terminator;
        match chars.peek() {
            Some('"') => {
                quoted = true;
                chars.next();
                loop {
                    match chars.next() {
                        None => return Err(malformed(input, "Unexpected end of input.")),
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c) => text.push(c),
                            None => return Err(malformed(input, "Unexpected end of input.")),
                        },
                        Some(c) => text.push(c),
                    }
                }
                while chars.next_if(|c| is_space(*c)).is_some() {}
                terminator = chars.next();
            }
            Some('{') if out.is_empty() => {
                return Err(Error::InvalidParameter(format!("multidimensional arrays are not supported: \"{input}\"")));
            }
            Some('{') => return Err(malformed(input, "Unexpected \"{\" character.")),
            _ => loop {
                match chars.next() {
                    None => return Err(malformed(input, "Unexpected end of input.")),
                    Some(c @ (',' | '}')) => {
                        terminator = Some(c);
                        break;
                    }
                    Some('"') => return Err(malformed(input, "Unexpected array element.")),
                    Some('{') => return Err(malformed(input, "Unexpected \"{\" character.")),
                    Some('\\') => match chars.next() {
                        Some(c) => {
                            text.push(c);
                            escaped_any = true;
                            keep_len = text.len();
                        }
                        None => return Err(malformed(input, "Unexpected end of input.")),
                    },
                    Some(c) => {
                        text.push(c);
                        if !is_space(c) {
                            keep_len = text.len();
                        }
                    }
                }
            },
        }
        if !quoted {
            text.truncate(keep_len);
            if text.is_empty() && !escaped_any {
                return Err(malformed(input, "Unexpected \",\" or \"}\" character."));
            }
        }
        let is_null = !quoted && !escaped_any && text.eq_ignore_ascii_case("NULL");
        out.push(if is_null { Element::Null } else { Element::Text(text) });
        match terminator {
            Some(',') => continue,
            Some('}') => break,
            Some(_) => return Err(malformed(input, "Unexpected array element.")),
            None => return Err(malformed(input, "Unexpected end of input.")),
        }
    }
    let junk: String = chars.collect();
    if !junk.trim_matches(is_space).is_empty() {
        return Err(malformed(input, "Junk after closing right brace."));
    }
    Ok(out)
}

/// Parses array text with elements of type `element_type`.
pub(crate) fn parse_array(input: &str, element_type: &DataType) -> Result<Value> {
    if matches!(element_type, DataType::Array(_)) {
        return Err(Error::InvalidParameter("multidimensional arrays are not supported".to_owned()));
    }
    let elements = split_elements(input)?
        .into_iter()
        .map(|e| match e {
            Element::Null => Ok(Value::Null),
            Element::Text(t) => Value::parse(&t, element_type),
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Value::Array(Box::new(Array { element_type: element_type.clone(), elements })))
}

/// Whether an element's text needs double quotes in array output.
fn needs_quotes(s: &str) -> bool {
    s.is_empty()
        || s.eq_ignore_ascii_case("NULL")
        || s.chars().any(|c| matches!(c, '"' | '\\' | '{' | '}' | ',') || is_space(c))
}

/// Writes an array as PostgreSQL's `array_out` does.
pub(crate) fn write_array(f: &mut fmt::Formatter<'_>, array: &Array) -> fmt::Result {
    f.write_str("{")?;
    for (i, e) in array.elements.iter().enumerate() {
        if i > 0 {
            f.write_str(",")?;
        }
        if e.is_null() {
            f.write_str("NULL")?;
            continue;
        }
        let text = e.to_string();
        if needs_quotes(&text) {
            f.write_str("\"")?;
            for c in text.chars() {
                if c == '"' || c == '\\' {
                    f.write_str("\\")?;
                }
                fmt::Write::write_char(f, c)?;
            }
            f.write_str("\"")?;
        } else {
            f.write_str(&text)?;
        }
    }
    f.write_str("}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(s: &str, ty: DataType) -> String {
        parse_array(s, &ty).unwrap().to_string()
    }

    #[test]
    fn input_and_output() {
        assert_eq!(show("{1,2,NULL}", DataType::Int4), "{1,2,NULL}");
        assert_eq!(show(" { 1 , 2 ,null } ", DataType::Int4), "{1,2,NULL}");
        assert_eq!(show("{}", DataType::Int4), "{}");
        assert_eq!(show("{ }", DataType::Text), "{}");
        assert_eq!(show(r#"{"a",  b c , " d "}"#, DataType::Text), r#"{a,"b c"," d "}"#);
        assert_eq!(
            show(r#"{"a b","x\"y","","NULL",NULL,"a\\b","{"}"#, DataType::Text),
            r#"{"a b","x\"y","","NULL",NULL,"a\\b","{"}"#
        );
        assert_eq!(show(r#"{a\,b,\NULL, \ x\ }"#, DataType::Text), r#"{"a,b","NULL"," x "}"#);
        assert_eq!(show(r#"{"\\x0a"}"#, DataType::Bytea), r#"{"\\x0a"}"#);
        assert_eq!(show("{t,false}", DataType::Bool), "{t,f}");
        assert_eq!(show("{1.5,NaN}", DataType::Float8), "{1.5,NaN}");
        assert_eq!(show(r#"{"{\"a\":1}"}"#, DataType::Jsonb), r#"{"{\"a\": 1}"}"#);
        assert_eq!(show("{2024-01-02}", DataType::Date), "{2024-01-02}");
        assert_eq!(show(r#"{"1 day"}"#, DataType::Interval), r#"{"1 day"}"#);
    }

    #[test]
    fn malformed_inputs() {
        for bad in [
            "",
            "1,2",
            "{1,2",
            "{1,,2}",
            "{1,2}x",
            "{,}",
            "{\"a\"b}",
            "{a\"b\"}",
            "{1,{2}}",
            "{{1}}",
            "[1:2]={1,2}",
            "{1}}",
        ] {
            assert!(parse_array(bad, &DataType::Int4).is_err(), "{bad:?}");
        }
        assert!(
            parse_array("{1,2", &DataType::Int4)
                .unwrap_err()
                .to_string()
                .starts_with("malformed array literal: \"{1,2\"")
        );
        assert_eq!(
            parse_array("{1,x}", &DataType::Int4).unwrap_err().to_string(),
            "invalid input syntax for type integer: \"x\""
        );
        assert!(parse_array("{1}", &DataType::Array(Box::new(DataType::Int4))).is_err());
    }
}
