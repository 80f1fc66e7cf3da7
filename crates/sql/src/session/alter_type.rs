//! `ALTER TABLE … ALTER COLUMN c [SET DATA] TYPE t [USING expr]`.
//!
//! The table is rewritten, as PostgreSQL rewrites it: the rows this
//! transaction sees are read through a query that computes the column's new
//! value (the USING expression, or the column itself), each value is
//! stored into the new type with the assignment rules of INSERT (so a
//! `varchar(3)` refuses longer strings), and the engine replaces the rows
//! in a storage built for the new type, indexes included. Other operations
//! of the same ALTER TABLE run in order around it.

use memdb_engine::{DataType, Transaction, Value};
use sqlparser::ast;

use super::{Compiled, QueryResult, Session, compile};
use crate::bind::{bind_ddl, ident, object_name};
use crate::error::{Result, SqlError};
use crate::exec::{self, ExecCtx};

impl Session {
    /// Runs an ALTER TABLE that changes a column's type; `None` when the
    /// statement changes no type (the DDL path handles it).
    pub(super) fn alter_with_types(
        &mut self,
        txn: &mut Transaction,
        stmt: &ast::Statement,
    ) -> Result<Option<QueryResult>> {
        let ast::Statement::AlterTable(alter) = stmt else { return Ok(None) };
        let changes_type = |op: &ast::AlterTableOperation| {
            matches!(
                op,
                ast::AlterTableOperation::AlterColumn { op: ast::AlterColumnOperation::SetDataType { .. }, .. }
            )
        };
        if !alter.operations.iter().any(changes_type) {
            return Ok(None);
        }
        if alter.if_exists && txn.table(&object_name(&alter.name)?).is_err() {
            return Ok(None);
        }
        for op in &alter.operations {
            match op {
                ast::AlterTableOperation::AlterColumn {
                    column_name,
                    op: ast::AlterColumnOperation::SetDataType { data_type, using, .. },
                } => self.alter_column_type(txn, &alter.name, column_name, data_type, using.as_ref())?,
                other => {
                    // One operation at a time through the DDL path.
                    let mut single = alter.clone();
                    single.operations = vec![other.clone()];
                    let mut notices = Vec::new();
                    let done = bind_ddl(txn, &ast::Statement::AlterTable(single), &self.vars.user, &mut notices);
                    notices.into_iter().for_each(|n| self.notice(n));
                    done?;
                }
            }
        }
        tracing::info!(target: super::roles::AUDIT_TARGET, user = %self.vars.user, "ALTER TABLE: {stmt}");
        Ok(Some(QueryResult::tag("ALTER TABLE")))
    }

    fn alter_column_type(
        &mut self,
        txn: &mut Transaction,
        table_name: &ast::ObjectName,
        column: &ast::Ident,
        data_type: &ast::DataType,
        using: Option<&ast::Expr>,
    ) -> Result<()> {
        let name = object_name(table_name)?;
        let table = txn.table(&name)?;
        let column = ident(column);
        let pos = table.column_position(&column)?;
        let new_type = crate::bind::types::data_type(data_type)?;
        let old_type = table.columns().get(pos).map(|c| c.data_type.clone()).unwrap_or(DataType::Text);
        if using.is_none() && !assignable(&old_type, &new_type) {
            return Err(SqlError::DatatypeMismatch(format!(
                "column \"{column}\" cannot be cast automatically to type {new_type}"
            )));
        }
        match using.and_then(transform_misuse) {
            Some(Misuse::Subquery) => return Err(SqlError::FeatureNotSupported("subqueries in USING".into())),
            Some(Misuse::Window) => {
                return Err(SqlError::Windowing("window functions are not allowed in transform expressions".into()));
            }
            Some(Misuse::Aggregate) => {
                return Err(SqlError::Grouping("aggregate functions are not allowed in transform expressions".into()));
            }
            None => {}
        }
        // The default must convert too (PostgreSQL checks it by type).
        let has_default = table.columns().get(pos).is_some_and(|c| c.default.is_some() && !is_sequence_default(c));
        if has_default && !assignable(&old_type, &new_type) {
            return Err(SqlError::DatatypeMismatch(format!(
                "default for column \"{column}\" cannot be cast automatically to type {new_type}"
            )));
        }
        // Every column, the altered one computed.
        let items: Vec<String> = table
            .columns()
            .iter()
            .enumerate()
            .map(|(i, c)| match using {
                Some(e) if i == pos => format!("({e})"),
                _ => ast::Ident::with_quote('"', c.name.as_str()).to_string(),
            })
            .collect();
        let sql = format!("SELECT {} FROM {table_name}", items.join(", "));
        let statement = crate::parse(&sql)?
            .into_iter()
            .next()
            .ok_or_else(|| SqlError::Semantic("ALTER COLUMN TYPE: no query".into()))?;
        let (Compiled::Query { plan, columns }, ..) = compile(txn, &statement, Vec::new(), &self.vars.user)? else {
            return Err(SqlError::Semantic("ALTER COLUMN TYPE: not a query".into()));
        };
        // A bare literal (`USING NULL`, `USING '5'`) takes the new type.
        let literal = matches!(using, Some(ast::Expr::Value(_)));
        if using.is_some()
            && !literal
            && let Some(result) = columns.get(pos)
            && !assignable(&result.data_type, &new_type)
        {
            return Err(SqlError::DatatypeMismatch(format!(
                "result of USING clause for column \"{column}\" cannot be cast automatically to type {new_type}"
            )));
        }
        let mut cx = ExecCtx::new(txn, &[], &mut self.vars);
        let mut rows = exec::run(&plan, &mut cx)?;
        for row in &mut rows {
            if let Some(value) = row.get_mut(pos) {
                *value = std::mem::replace(value, Value::Null).coerce_to(&new_type)?;
            }
        }
        txn.alter_column_type(&name, &column, new_type, rows)?;
        Ok(())
    }
}

/// What PostgreSQL refuses in a USING expression.
enum Misuse {
    Subquery,
    Window,
    Aggregate,
}

/// What a USING expression holds that PostgreSQL refuses there: a
/// subquery (the rewrite reads the table it is rewriting), an aggregate or
/// a window function (each row converts on its own).
fn transform_misuse(e: &ast::Expr) -> Option<Misuse> {
    let mut found = None;
    let _ = ast::visit_expressions(e, |x| {
        match x {
            ast::Expr::Subquery(_) | ast::Expr::Exists { .. } | ast::Expr::InSubquery { .. } => {
                found = Some(Misuse::Subquery);
            }
            ast::Expr::Function(f) if f.over.is_some() => found = Some(Misuse::Window),
            ast::Expr::Function(f) if crate::bind::is_aggregate_name(&f.name.to_string().to_ascii_lowercase()) => {
                found = Some(Misuse::Aggregate);
            }
            _ => {}
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
    found
}

/// Whether a column's default draws from a sequence (`nextval`), which
/// yields any integer type.
fn is_sequence_default(c: &memdb_engine::Column) -> bool {
    matches!(&c.default, Some(memdb_engine::Expr::Function(f, _)) if f == "nextval")
}

/// Whether PostgreSQL converts a `from` column to `to` without a USING
/// clause: an implicit or assignment cast exists (numbers among
/// themselves, anything to a string type, strings among themselves, dates
/// and times along their casts, json ↔ jsonb, arrays element-wise).
fn assignable(from: &DataType, to: &DataType) -> bool {
    use DataType as T;
    let number = |t: &DataType| matches!(t, T::Int2 | T::Int4 | T::Int8 | T::Numeric(_) | T::Float4 | T::Float8);
    let string = |t: &DataType| matches!(t, T::Text | T::Varchar(_) | T::Char(_));
    if std::mem::discriminant(from) == std::mem::discriminant(to) {
        return match (from, to) {
            (T::Array(a), T::Array(b)) => assignable(a, b),
            _ => true,
        };
    }
    match (from, to) {
        (T::Array(a), T::Array(b)) => assignable(a, b),
        (T::Array(_), _) | (_, T::Array(_)) => string(to),
        _ if number(from) && number(to) => true,
        _ if string(to) => true,
        (T::Date, T::Timestamp | T::TimestampTz)
        | (T::Timestamp | T::TimestampTz, T::Date | T::Time | T::Timestamp | T::TimestampTz)
        | (T::Time, T::Interval)
        | (T::Interval, T::Time)
        | (T::Json, T::Jsonb)
        | (T::Jsonb, T::Json) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignment_casts_follow_postgresql() {
        use DataType as T;
        assert!(assignable(&T::Int4, &T::Int8));
        assert!(assignable(&T::Int8, &T::Int2));
        assert!(assignable(&T::Numeric(None), &T::Float8));
        assert!(assignable(&T::Int4, &T::Text));
        assert!(assignable(&T::Varchar(Some(3)), &T::Varchar(Some(40))));
        assert!(assignable(&T::Date, &T::Timestamp));
        assert!(assignable(&T::Json, &T::Jsonb));
        assert!(!assignable(&T::Text, &T::Int4));
        assert!(!assignable(&T::Bool, &T::Int4));
        assert!(!assignable(&T::Int4, &T::Bool));
        assert!(!assignable(&T::Text, &T::Date));
        assert!(!assignable(&T::Date, &T::Int4));
        assert!(assignable(&T::Array(Box::new(T::Int4)), &T::Array(Box::new(T::Int8))));
        assert!(!assignable(&T::Array(Box::new(T::Text)), &T::Array(Box::new(T::Int8))));
    }
}
