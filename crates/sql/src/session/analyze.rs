//! `ANALYZE [table [(columns)], …]` and `VACUUM ANALYZE`: samples tables
//! and publishes the statistics the optimizer estimates rows from (see
//! `memdb_engine::stats`).
//!
//! `crate::parse` turns every form of the statement into a call of the
//! `analyze` (or `vacuum_analyze`) procedure with one text argument per
//! table, `name [(column, …)]` (see `crate::maintenance`), since the parser
//! knows only one table and no options; this module reads each such text
//! back.

use memdb_engine::{Error as EngineError, IsolationLevel, Transaction, TxnOptions};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Token;

use super::Session;
use crate::error::{Result, SqlError};
use crate::notice::Notice;

impl Session {
    /// Analyzes the tables `specs` names (`name [(column, …)]` each), or
    /// every table when there are none.
    pub(super) fn analyze(&mut self, txn: &mut Transaction, specs: &[String]) -> Result<()> {
        let targets: Vec<(String, Vec<String>)> = if specs.is_empty() {
            crate::system::user_tables(txn).iter().map(|t| (t.name().to_owned(), Vec::new())).collect()
        } else {
            specs.iter().map(|s| table_and_columns(s)).collect::<Result<_>>()?
        };
        // Committed rows only, read in a transaction of its own: statistics
        // are shared at once, so they must not show (or depend on) this
        // transaction's uncommitted rows.
        let mut committed = self.begin_txn(TxnOptions::read_only(IsolationLevel::ReadCommitted))?.uncounted();
        let done = targets.iter().try_for_each(|(name, columns)| self.analyze_one(txn, &mut committed, name, columns));
        committed.rollback()?;
        done
    }

    /// Analyzes one table (the named columns, or all) as `committed` sees
    /// it, or as `txn` does when `txn` created it; a table the role may not
    /// read is skipped with a warning, as PostgreSQL skips tables it does
    /// not own.
    fn analyze_one(
        &mut self,
        txn: &mut Transaction,
        committed: &mut Transaction,
        name: &str,
        columns: &[String],
    ) -> Result<()> {
        let table = match txn.table(name) {
            Ok(t) => t,
            Err(e) => {
                if crate::bind::view_definition(txn, name)?.is_some() {
                    self.notice(Notice::warning(
                        "01000",
                        format!("skipping \"{name}\" --- cannot analyze non-tables or special system tables"),
                    ));
                    return Ok(());
                }
                return Err(e.into());
            }
        };
        let positions =
            columns.iter().map(|c| table.column_position(c)).collect::<memdb_engine::Result<Vec<usize>>>()?;
        let columns = (!positions.is_empty()).then_some(positions.as_slice());
        // A table this transaction created is only visible to it.
        let done = match committed.table(name) {
            Ok(shared) if shared.id() == table.id() => committed.analyze(&shared, columns),
            _ => txn.analyze(&table, columns),
        };
        match done {
            Ok(_) => Ok(()),
            Err(EngineError::PermissionDenied(_)) => {
                self.notice(Notice::warning("01000", format!("permission denied to analyze \"{name}\", skipping it")));
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// Reads `name [(column, …)]`: the table's engine name and the column
/// names, folded and unquoted as SQL names are.
fn table_and_columns(spec: &str) -> Result<(String, Vec<String>)> {
    let syntax = |e: sqlparser::parser::ParserError| SqlError::Syntax { message: e.to_string(), line: 0, column: 0 };
    let mut parser = Parser::new(&PostgreSqlDialect {}).try_with_sql(spec).map_err(syntax)?;
    let name = crate::bind::object_name(&parser.parse_object_name(false).map_err(syntax)?)?;
    let mut columns = Vec::new();
    if parser.consume_token(&Token::LParen) {
        columns = parser.parse_comma_separated(|p| p.parse_identifier()).map_err(syntax)?;
        parser.expect_token(&Token::RParen).map_err(syntax)?;
    }
    if parser.peek_token().token != Token::EOF {
        return Err(SqlError::Syntax {
            message: format!("syntax error at or near \"{}\"", parser.peek_token().token),
            line: 0,
            column: 0,
        });
    }
    Ok((name, columns.iter().map(crate::bind::ident_name).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn analyze_makes_cached_plans_stale() {
        let db = std::sync::Arc::new(memdb_engine::Database::open(memdb_engine::Config::memory()).unwrap());
        let mut s = Session::new(db, "t");
        s.execute("CREATE TABLE t (a int PRIMARY KEY, c int)").unwrap();
        s.execute("INSERT INTO t SELECT g, g % 7 FROM generate_series(1, 100) g").unwrap();
        s.execute("PREPARE q AS SELECT a FROM t WHERE c = 3").unwrap();
        let version = |s: &Session| s.prepared.get("q").and_then(|p| p.plan.as_ref()).map(|p| p.version);
        let before = version(&s).unwrap();
        s.execute("EXECUTE q").unwrap();
        assert_eq!(version(&s), Some(before), "the cached plan is reused");
        s.execute("ANALYZE t").unwrap();
        s.execute("EXECUTE q").unwrap();
        let after = version(&s).unwrap();
        assert_eq!(after.0, before.0, "the schema did not change");
        assert!(after.1 > before.1, "the plan was made again after ANALYZE");
    }

    #[test]
    fn table_specs_fold_names() {
        assert_eq!(table_and_columns("T (A, \"B\")").ok(), Some(("t".into(), vec!["a".into(), "B".into()])));
        assert!(table_and_columns("t x").is_err());
    }
}
