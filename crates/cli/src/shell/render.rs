//! Result sets as psql prints them: an aligned table (comfy-table, with
//! psql's lines: `|` between columns, `-+-` under the header, numbers to
//! the right) and a `(n rows)` footer, or one block per row in expanded
//! mode (`\x`).

use comfy_table::{CellAlignment, ContentArrangement, ContentLineStyle, LineStyle, Table, TableStyle};

/// psql's aligned format.
const PSQL_STYLE: TableStyle = TableStyle::new()
    .header_lines(ContentLineStyle::none().junction('|'))
    .header_separator(LineStyle::none().fill('-').junction('+'))
    .content_lines(ContentLineStyle::none().junction('|'));

/// Renders a result set; NULL shows as `null_text` (psql's `\pset null`).
pub fn table(columns: &[String], rows: &[Vec<Option<String>>], expanded: bool, null_text: &str) -> String {
    let mut out = if expanded { expanded_rows(columns, rows, null_text) } else { aligned(columns, rows, null_text) };
    out.push_str(&format!("({} row{})\n", rows.len(), if rows.len() == 1 { "" } else { "s" }));
    out
}

/// Scripting output: with `unaligned`, values joined by `|` (psql `-A`);
/// otherwise aligned without header and footer (psql `-t`). `header`
/// keeps the column names line (`-A` without `-t`).
pub fn plain(columns: &[String], rows: &[Vec<Option<String>>], header: bool, unaligned: bool) -> String {
    let mut text = String::new();
    if !unaligned {
        text = aligned_table(columns, rows, "", header);
        return text;
    }
    if header {
        text.push_str(&columns.join("|"));
        text.push('\n');
    }
    for row in rows {
        let values: Vec<&str> = row.iter().map(|v| v.as_deref().unwrap_or("")).collect();
        text.push_str(&values.join("|"));
        text.push('\n');
    }
    if header {
        text.push_str(&format!("({} row{})\n", rows.len(), if rows.len() == 1 { "" } else { "s" }));
    }
    text
}

fn aligned(columns: &[String], rows: &[Vec<Option<String>>], null_text: &str) -> String {
    aligned_table(columns, rows, null_text, true)
}

fn aligned_table(columns: &[String], rows: &[Vec<Option<String>>], null_text: &str, header: bool) -> String {
    let mut table = Table::new();
    table.load_style(PSQL_STYLE).set_content_arrangement(ContentArrangement::Disabled);
    if header {
        table.set_header(columns.iter().map(String::as_str));
    }
    for row in rows {
        table.add_row(row.iter().map(|v| v.as_deref().unwrap_or(null_text)));
    }
    for (i, _) in columns.iter().enumerate() {
        let numeric = rows.iter().any(|r| r.get(i).is_some_and(Option::is_some))
            && rows.iter().all(|r| r.get(i).is_none_or(|v| v.as_deref().is_none_or(looks_numeric)));
        if let Some(column) = table.column_mut(i)
            && numeric
        {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    let mut text = String::new();
    for line in table.lines() {
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

/// psql's `\x` format: `-[ RECORD n ]-` and `column | value` lines.
fn expanded_rows(columns: &[String], rows: &[Vec<Option<String>>], null_text: &str) -> String {
    let width = columns.iter().map(|c| c.chars().count()).max().unwrap_or(0);
    let mut text = String::new();
    for (n, row) in rows.iter().enumerate() {
        text.push_str(&format!("-[ RECORD {} ]{}\n", n + 1, "-".repeat(width.saturating_sub(8).max(1))));
        for (column, value) in columns.iter().zip(row) {
            let line = format!("{column:<width$} | {}", value.as_deref().unwrap_or(null_text));
            text.push_str(line.trim_end());
            text.push('\n');
        }
    }
    text
}

/// Whether a value is a number as PostgreSQL prints them.
fn looks_numeric(text: &str) -> bool {
    text.parse::<f64>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Option<String> {
        Some(v.to_owned())
    }

    #[test]
    fn aligned_like_psql_with_numbers_to_the_right() {
        let columns = vec!["id".to_owned(), "name".to_owned()];
        let rows = vec![vec![s("1"), s("one")], vec![s("10"), None]];
        let text = table(&columns, &rows, false, "");
        assert_eq!(text, " id | name\n----+------\n  1 | one\n 10 |\n(2 rows)\n");
    }

    #[test]
    fn scripting_formats_drop_the_decoration() {
        let columns = vec!["a".to_owned(), "b".to_owned()];
        let rows = vec![vec![s("1"), None], vec![s("22"), s("x")]];
        assert_eq!(plain(&columns, &rows, false, true), "1|\n22|x\n");
        assert_eq!(plain(&columns, &rows, true, true), "a|b\n1|\n22|x\n(2 rows)\n");
        assert_eq!(plain(&columns, &rows, false, false), "  1 |\n 22 | x\n");
    }

    #[test]
    fn expanded_rows_are_blocks() {
        let columns = vec!["id".to_owned(), "label".to_owned()];
        let rows = vec![vec![s("1"), s("x")]];
        assert_eq!(table(&columns, &rows, true, "∅"), "-[ RECORD 1 ]-\nid    | 1\nlabel | x\n(1 row)\n");
    }

    #[test]
    fn numbers_are_recognised() {
        for yes in ["1", "-2.5", "1e10", "NaN", ".5"] {
            assert!(looks_numeric(yes), "{yes}");
        }
        for no in ["", "abc", "1-2-3x", "-", "2026-11-23", "12:00:00"] {
            assert!(!looks_numeric(no), "{no}");
        }
    }
}
