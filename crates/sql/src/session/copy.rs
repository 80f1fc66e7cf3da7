//! `COPY`: bulk load from the client (`COPY t FROM STDIN`) and bulk
//! export to it (`COPY t TO STDOUT`, `COPY (query) TO STDOUT`).
//!
//! A load runs in the open transaction block, or in a transaction of its
//! own that commits when the data ends ([`Session::copy_done`]) and rolls
//! back on any error, so a failed load leaves nothing behind.

use std::sync::Arc;

use memdb_engine::{DataType, Table, Transaction, Value};
use sqlparser::ast;

use super::{Outcome, QueryResult, Session};
use crate::bind::{ident, object_name};
use crate::copy::{CopyDecoder, CopyOptions, encode_header, encode_row};
use crate::error::{Result, SqlError};

/// A `COPY … FROM STDIN` waiting for its data.
pub(super) struct CopyInState {
    table: Table,
    /// Target column positions, in data order.
    columns: Vec<usize>,
    types: Vec<DataType>,
    decoder: CopyDecoder,
    /// Whether the data holds every column in table order, so a record
    /// can go to the engine as text ([`Transaction::insert_text_row`]).
    whole_row: bool,
    /// The load's own transaction outside a block (`None`: the block's).
    own_txn: Option<Transaction>,
    rows: u64,
}

impl Session {
    /// Starts a COPY statement.
    pub(super) fn copy(&mut self, stmt: &ast::Statement) -> Result<Outcome> {
        let ast::Statement::Copy { source, to, target, options, legacy_options, .. } = stmt else {
            return Err(SqlError::Semantic("not a COPY statement".into()));
        };
        let options = CopyOptions::from_ast(options, legacy_options)?;
        match (to, target) {
            (false, ast::CopyTarget::Stdin) => self.copy_from_stdin(source, options),
            (true, ast::CopyTarget::Stdout) => self.copy_to_stdout(source, options),
            (_, ast::CopyTarget::File { .. } | ast::CopyTarget::Program { .. }) => Err(SqlError::FeatureNotSupported(
                "COPY to or from a server file or program; use STDIN/STDOUT (psql's \\copy)".into(),
            )),
            (false, _) => Err(SqlError::Semantic("COPY FROM reads from STDIN".into())),
            (true, _) => Err(SqlError::Semantic("COPY TO writes to STDOUT".into())),
        }
    }

    fn copy_from_stdin(&mut self, source: &ast::CopySource, options: CopyOptions) -> Result<Outcome> {
        let ast::CopySource::Table { table_name, columns } = source else {
            return Err(SqlError::Semantic("COPY FROM needs a table, not a query".into()));
        };
        self.start_statement();
        let mut own_txn = match self.txn {
            Some(_) => None,
            None => Some(self.begin_txn(self.default_options()?)?),
        };
        let setup = (|| {
            let txn = match own_txn.as_mut() {
                Some(t) => t,
                None => self.txn.as_mut().ok_or_else(|| SqlError::Semantic("no transaction for COPY".into()))?,
            };
            txn.begin_statement()?;
            let table = txn.table(&object_name(table_name)?)?;
            let positions = column_positions(&table, columns)?;
            Ok::<_, SqlError>((table, positions))
        })();
        let (table, positions) = match setup {
            Ok(s) => s,
            Err(e) => {
                if let Some(t) = own_txn {
                    t.rollback()?;
                }
                return Err(e);
            }
        };
        let types = positions.iter().map(|&p| table.columns()[p].data_type.clone()).collect();
        let format = options.format;
        let count = positions.len();
        let whole_row = count == table.columns().len() && positions.iter().enumerate().all(|(i, &p)| i == p);
        self.copy_in = Some(Box::new(CopyInState {
            table,
            columns: positions,
            types,
            decoder: CopyDecoder::new(options),
            whole_row,
            own_txn,
            rows: 0,
        }));
        Ok(Outcome::CopyIn { columns: count, format })
    }

    /// Feeds `COPY … FROM STDIN` data (any chunking). On an error the load
    /// is abandoned (its rows rolled back, or the block failed) and later
    /// data is ignored.
    pub fn copy_data(&mut self, data: &[u8]) -> Result<()> {
        let Some(mut state) = self.copy_in.take() else {
            return Ok(());
        };
        match self.load(&mut state, Some(data)) {
            Ok(()) => {
                self.copy_in = Some(state);
                Ok(())
            }
            Err(e) => {
                self.abandon(*state);
                Err(e)
            }
        }
    }

    /// Ends `COPY … FROM STDIN`: loads the last record, commits a load run
    /// outside a block, and answers `COPY n`.
    pub fn copy_done(&mut self) -> Result<QueryResult> {
        let Some(mut state) = self.copy_in.take() else {
            return Err(SqlError::Semantic("no COPY FROM STDIN in progress".into()));
        };
        if let Err(e) = self.load(&mut state, None) {
            self.abandon(*state);
            return Err(e);
        }
        let CopyInState { own_txn, rows, .. } = *state;
        if let Some(t) = own_txn {
            t.commit()?;
        }
        Ok(QueryResult {
            columns: Arc::from(Vec::new()),
            rows: Vec::new(),
            tag: format!("COPY {rows}"),
            row_set: false,
        })
    }

    /// Abandons `COPY … FROM STDIN` (the client sent CopyFail, or another
    /// statement): nothing it loaded stays.
    pub fn copy_fail(&mut self, _reason: &str) {
        if let Some(state) = self.copy_in.take() {
            self.abandon(*state);
        }
    }

    /// Whether a `COPY … FROM STDIN` waits for data.
    pub fn copy_in_progress(&self) -> bool {
        self.copy_in.is_some()
    }

    fn abandon(&mut self, state: CopyInState) {
        match state.own_txn {
            // Rolling back only releases the transaction's state; there is
            // nothing to report to a client whose load already failed.
            Some(t) => drop(t.rollback()),
            // Loaded into the block (it fails) or the implicit
            // transaction (rolled back).
            None => self.fail(),
        }
    }

    /// Decodes `data` (or, with `None`, the end of the data) and inserts
    /// every complete record.
    fn load(&mut self, state: &mut CopyInState, data: Option<&[u8]>) -> Result<()> {
        self.vars.interrupt.check()?;
        let CopyInState { table, columns, types, decoder, whole_row, own_txn, rows } = state;
        let txn = match own_txn.as_mut() {
            Some(t) => t,
            None => self.txn.as_mut().ok_or_else(|| SqlError::Semantic("the transaction of COPY ended".into()))?,
        };
        // Defaults the engine cannot compute, for the columns not loaded.
        let mut sql_defaults = Vec::new();
        for (pos, col) in table.columns().iter().enumerate() {
            if let Some(memdb_engine::Expr::Sql(text)) = &col.default
                && !columns.contains(&pos)
            {
                let ty = col.data_type.clone();
                sql_defaults.push((pos, crate::bind::sql_default(txn, text, &ty)?));
            }
        }
        let vars = &mut self.vars;
        let line_base = decoder.line;
        let mut loaded = 0u64;
        let mut insert = |fields: &[Option<&str>]| -> Result<()> {
            let line = line_base + loaded;
            if fields.len() < columns.len() {
                let missing = &table.columns()[columns[fields.len()]].name;
                return Err(copy_error(format!("missing data for column \"{missing}\""), table, line));
            }
            if fields.len() > columns.len() {
                return Err(copy_error("extra data after last expected column".into(), table, line));
            }
            if *whole_row && txn.insert_text_row(table, fields)?.is_some() {
                loaded += 1;
                return Ok(());
            }
            let mut values = Vec::with_capacity(fields.len());
            for (f, ty) in fields.iter().zip(types.iter()) {
                values.push(match f {
                    None => Value::Null,
                    Some(text) => Value::parse(text, ty)?,
                });
            }
            if sql_defaults.is_empty() {
                txn.insert_columns(table, columns, values)?;
            } else {
                let mut cols = columns.clone();
                for (pos, default) in &sql_defaults {
                    let mut cx = crate::exec::ExecCtx::new(txn, &[], vars);
                    values.push(default.eval(&[], &mut cx)?);
                    cols.push(*pos);
                }
                txn.insert_columns(table, &cols, values)?;
            }
            loaded += 1;
            Ok(())
        };
        let result = match data {
            Some(d) => decoder.feed(d, &mut insert),
            None => decoder.finish(&mut insert),
        };
        *rows += loaded;
        result
    }

    fn copy_to_stdout(&mut self, source: &ast::CopySource, options: CopyOptions) -> Result<Outcome> {
        let (query, names) = match source {
            ast::CopySource::Table { table_name, columns } => {
                let list = if columns.is_empty() {
                    "*".to_owned()
                } else {
                    columns
                        .iter()
                        .map(|c| format!("\"{}\"", ident(c).replace('"', "\"\"")))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                (format!("SELECT {list} FROM {table_name}"), None)
            }
            ast::CopySource::Query(q) => (q.to_string(), Some(())),
        };
        let _ = names;
        let mut statements = crate::parse(&query)?;
        let stmt = statements.pop().ok_or_else(|| SqlError::Semantic("empty COPY query".into()))?;
        let result = self.in_block_or_autocommit(&stmt, |session, txn| session.in_transaction(txn, &stmt, &[]))?;
        let mut data = Vec::with_capacity(result.rows.len() + 1);
        if options.header {
            let mut line = Vec::new();
            let names: Vec<&str> = result.columns.iter().map(|c| c.name.as_str()).collect();
            encode_header(&options, &names, &mut line);
            data.push(line);
        }
        for row in &result.rows {
            let mut line = Vec::new();
            encode_row(&options, row, &mut line);
            data.push(line);
        }
        Ok(Outcome::CopyOut {
            columns: result.columns.len(),
            format: options.format,
            data,
            rows: result.rows.len() as u64,
        })
    }
}

fn column_positions(table: &Table, columns: &[ast::Ident]) -> Result<Vec<usize>> {
    let all = table.columns();
    if columns.is_empty() {
        return Ok((0..all.len()).collect());
    }
    let mut out = Vec::with_capacity(columns.len());
    for c in columns {
        let name = ident(c);
        let pos = all
            .iter()
            .position(|col| col.name == name)
            .ok_or_else(|| SqlError::UndefinedColumn(format!("{name}\" of relation \"{}", table.name())))?;
        if out.contains(&pos) {
            return Err(SqlError::DuplicateObject {
                code: "42701",
                message: format!("column \"{name}\" specified more than once"),
            });
        }
        out.push(pos);
    }
    Ok(out)
}

fn copy_error(message: String, table: &Table, line: u64) -> SqlError {
    SqlError::DataException { code: "22P04", message: format!("{message} (COPY {}, line {line})", table.name()) }
}
