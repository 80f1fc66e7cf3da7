//! Maintenance statements the parser does not know in PostgreSQL's form,
//! rewritten before parsing into forms it does know:
//!
//! * `VACUUM [FULL] [FREEZE] [VERBOSE] [(options)] [table, …]` becomes
//!   `VACUUM [table]`: the options change nothing in memdb, where old
//!   versions are collected in the background; the first table is kept so
//!   that a missing one is an error.
//! * `ANALYZE [VERBOSE] [(options)] [table [(column, …)], …]` becomes a
//!   call of memdb's `analyze` procedure with one text argument per table;
//!   `VACUUM ANALYZE …` a call of `vacuum_analyze`.
//! * `CHECKPOINT` and `BACKUP TO 'dir'` become calls of the procedures
//!   that run them.

use std::borrow::Cow;

/// The statement rewritten as the module documentation says, or as it was.
pub(crate) fn normalize(sql: &str) -> Cow<'_, str> {
    if let Some(done) = vacuum(sql).or_else(|| analyze(sql)) {
        return Cow::Owned(done);
    }
    let body = sql.trim().trim_end_matches(';').trim_end();
    if body.eq_ignore_ascii_case("checkpoint") {
        return Cow::Borrowed("CALL pg_catalog.checkpoint()");
    }
    let mut words = body.splitn(3, char::is_whitespace);
    if let (Some(backup), Some(to), Some(target)) = (words.next(), words.next(), words.next())
        && backup.eq_ignore_ascii_case("backup")
        && to.eq_ignore_ascii_case("to")
    {
        return Cow::Owned(format!("CALL pg_catalog.backup({})", target.trim()));
    }
    Cow::Borrowed(sql)
}

/// The text after a leading keyword (either spelling), when `sql` is one
/// statement starting with it.
fn after_keyword<'s>(sql: &'s str, keywords: &[&str]) -> Option<&'s str> {
    let trimmed = sql.trim_start();
    let keyword = keywords.iter().find(|k| trimmed.get(..k.len()).is_some_and(|w| w.eq_ignore_ascii_case(k)))?;
    let rest = &trimmed[keyword.len()..];
    if rest.starts_with(|c: char| c.is_alphanumeric() || c == '_' || c == '$') {
        return None;
    }
    let body = rest.trim().trim_end_matches(';');
    // Several statements, or comments (which may hold commas): left to the
    // parser.
    (!body.contains(';') && !body.contains("--") && !body.contains("/*")).then_some(body)
}

fn vacuum(sql: &str) -> Option<String> {
    let body = after_keyword(sql, &["vacuum"])?;
    let (tables, analyze) = targets(body, &["full", "freeze", "verbose", "analyze", "analyse"])?;
    if analyze {
        return Some(call("vacuum_analyze", &tables));
    }
    let first = tables.first().map_or("", |t| t.split('(').next().unwrap_or("").trim());
    Some(format!("VACUUM {first}"))
}

fn analyze(sql: &str) -> Option<String> {
    let body = after_keyword(sql, &["analyze", "analyse"])?;
    let (tables, _) = targets(body, &["verbose"])?;
    Some(call("analyze", &tables))
}

/// `CALL pg_catalog.procedure('arg', …)`.
fn call(procedure: &str, args: &[String]) -> String {
    let quoted: Vec<String> = args.iter().map(|a| crate::tokens::literal(a)).collect();
    format!("CALL pg_catalog.{procedure}({})", quoted.join(", "))
}

/// The table list of an `ANALYZE` or `VACUUM` statement's text after its
/// keyword (options in parentheses and the listed option words dropped),
/// each table as `name [(column, …)]`, and whether `ANALYZE` was among the
/// options. `None` for text that is no such list (left to the parser).
fn targets(body: &str, words: &[&str]) -> Option<(Vec<String>, bool)> {
    let mut rest = body.trim();
    let mut analyze = false;
    if let Some(inner) = rest.strip_prefix('(') {
        let end = inner.find(')')?;
        analyze = inner[..end].split(',').any(|option| {
            let mut parts = option.split_whitespace();
            let word = parts.next().unwrap_or("");
            let off = parts.next().is_some_and(|v| ["false", "off", "0"].iter().any(|f| v.eq_ignore_ascii_case(f)));
            (word.eq_ignore_ascii_case("analyze") || word.eq_ignore_ascii_case("analyse")) && !off
        });
        rest = inner[end + 1..].trim_start();
    }
    loop {
        let word_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let word = &rest[..word_end];
        if !words.iter().any(|k| word.eq_ignore_ascii_case(k)) {
            break;
        }
        analyze |= word.eq_ignore_ascii_case("analyze") || word.eq_ignore_ascii_case("analyse");
        rest = rest[word_end..].trim_start();
    }
    Some((split_top_level(rest), analyze))
}

/// Splits on commas outside quotes and parentheses; drops empty parts.
fn split_top_level(text: &str) -> Vec<String> {
    let (mut parts, mut current, mut depth, mut quote) = (Vec::new(), String::new(), 0i32, None);
    for c in text.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') => depth -= 1,
            (None, ',') if depth == 0 => {
                parts.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    parts.push(current);
    parts.into_iter().map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vacuum_options_are_accepted() {
        for sql in ["vacuum", "VACUUM ANALYZE t", "vacuum (verbose, analyze) t, u", "vacuum full freeze t(a)"] {
            assert!(crate::parse(sql).is_ok(), "{sql}");
        }
        assert_eq!(normalize("vacuum verbose pgbench_branches"), "VACUUM pgbench_branches");
        assert_eq!(normalize("vacuum analyze pgbench_branches"), "CALL pg_catalog.vacuum_analyze('pgbench_branches')");
        assert_eq!(normalize("VACUUM (ANALYZE false) t(a)"), "VACUUM t");
        assert_eq!(normalize("vacuumdb"), "vacuumdb");
    }

    #[test]
    fn analyze_names_its_tables() {
        assert_eq!(normalize("ANALYZE"), "CALL pg_catalog.analyze()");
        assert_eq!(normalize("analyse verbose;"), "CALL pg_catalog.analyze()");
        assert_eq!(
            normalize("ANALYZE (verbose, skip_locked) VERBOSE a, \"B,c\" (x, y), s.t"),
            "CALL pg_catalog.analyze('a', '\"B,c\" (x, y)', 's.t')"
        );
        assert_eq!(normalize("analyze 'x"), "CALL pg_catalog.analyze('''x')");
        assert_eq!(normalize("analyzed"), "analyzed");
        assert_eq!(normalize("ANALYZE t -- a, b"), "ANALYZE t -- a, b");
    }

    #[test]
    fn checkpoint_and_backup_are_calls() {
        assert_eq!(normalize(" checkpoint ;"), "CALL pg_catalog.checkpoint()");
        assert_eq!(normalize("BACKUP TO '/tmp/b'"), "CALL pg_catalog.backup('/tmp/b')");
        assert_eq!(normalize("SELECT 1"), "SELECT 1");
    }
}
