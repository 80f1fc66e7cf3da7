//! INSERT, UPDATE and DELETE: applying a DML plan's rows to the table,
//! with ON CONFLICT, RETURNING and READ COMMITTED re-checks.

use std::collections::HashMap;
use std::sync::Arc;

use memdb_engine::{IsolationLevel, Transaction, Value};

use super::{QueryResult, Session};
use crate::bind::{DmlKind, DmlPlan, OnConflict};
use crate::error::{Result, SqlError, data_exception};
use crate::exec::{self, ExecCtx, OperatorStats, Row};
use crate::expr::{Expr, Func};
use crate::plan::Plan;

impl Session {
    /// Runs INSERT/UPDATE/DELETE.
    pub(super) fn dml(&mut self, txn: &mut Transaction, plan: &DmlPlan, params: &[Value]) -> Result<QueryResult> {
        self.dml_collecting(txn, plan, params, None)
    }

    /// Runs INSERT/UPDATE/DELETE; with `stats`, collects what each node of
    /// the source plan did (EXPLAIN ANALYZE).
    pub(super) fn dml_collecting(
        &mut self,
        txn: &mut Transaction,
        plan: &DmlPlan,
        params: &[Value],
        stats: Option<&mut HashMap<usize, OperatorStats>>,
    ) -> Result<QueryResult> {
        let read_committed = txn.options().isolation == IsolationLevel::ReadCommitted;
        let mut cx = ExecCtx::new(txn, params, &mut self.vars);
        if stats.is_some() {
            cx.collect_stats();
        }
        let result = apply(plan, &mut cx, read_committed);
        if let Some(out) = stats {
            *out = cx.take_stats();
            // INSERT … VALUES evaluates its rows without running the node.
            if let (Plan::Values { rows, .. }, Ok(_)) = (&plan.source, &result) {
                let key = std::ptr::from_ref(&plan.source) as usize;
                out.entry(key).or_insert(OperatorStats {
                    rows: rows.len() as u64,
                    elapsed: std::time::Duration::ZERO,
                    loops: 1,
                });
            }
        }
        result
    }
}

/// Applies a DML plan's rows to its table.
fn apply(plan: &DmlPlan, cx: &mut ExecCtx<'_>, read_committed: bool) -> Result<QueryResult> {
    if cx.txn.options().read_only {
        // Before the source's row locks would refuse it in their words.
        return Err(SqlError::Engine(memdb_engine::Error::ReadOnly(plan.kind.verb().into())));
    }
    let source = &plan.source;
    // INSERT … VALUES is evaluated here, where DEFAULT markers are visible.
    let (rows, insert_rows) = match (&plan.kind, source) {
        (DmlKind::Insert { columns, .. }, Plan::Values { rows, .. }) => {
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                let mut cols = Vec::with_capacity(row.len());
                let mut values = Vec::with_capacity(row.len());
                for (&c, e) in columns.iter().zip(row) {
                    if is_default_marker(e) {
                        continue;
                    }
                    cols.push(c);
                    values.push(e.eval(&[], cx)?);
                }
                out.push((cols, values));
            }
            (Vec::new(), Some(out))
        }
        _ => (exec::run(source, cx)?, None),
    };
    let table = &plan.table;
    let width = table.columns().len();
    let mut count = 0u64;
    let mut returned = Vec::new();
    match &plan.kind {
        DmlKind::Insert { columns, on_conflict } => {
            let prepared = match insert_rows {
                Some(r) => r,
                None => rows.into_iter().map(|row| (columns.clone(), row)).collect(),
            };
            // Rows this statement wrote: DO UPDATE may not touch one twice.
            let mut written = std::collections::HashSet::new();
            let upsert = matches!(on_conflict, Some(OnConflict::Update { .. }));
            let sql_defaults = sql_defaults(cx, table)?;
            for (mut cols, mut values) in prepared {
                // Defaults the engine cannot compute, for the columns not given.
                for (pos, default) in &sql_defaults {
                    if !cols.contains(pos) {
                        cols.push(*pos);
                        values.push(default.eval(&[], cx)?);
                    }
                }
                if let Some(oc) = on_conflict {
                    // Sequence defaults are drawn before the conflict
                    // check, as PostgreSQL does.
                    for pos in 0..width {
                        if !cols.contains(&pos) && is_sequence_default(table, pos) {
                            cols.push(pos);
                            values.push(default_value(cx, table, pos)?);
                        }
                    }
                    match conflict(cx, table, &cols, &values, oc, &written)? {
                        Conflict::None => {}
                        Conflict::Skip => continue,
                        Conflict::Updated(id, new) => {
                            written.insert(id);
                            count += 1;
                            if let Some(r) = &plan.returning {
                                returned.push(project(r, &new, cx)?);
                            }
                            continue;
                        }
                    }
                }
                let id = cx.txn_mut()?.insert_columns(table, &cols, values)?;
                if upsert {
                    written.insert(id);
                }
                count += 1;
                return_stored(plan, cx, id, &mut returned)?;
            }
            let tag = super::counted_tag("INSERT 0 ", count);
            Ok(finish(plan, returned, tag))
        }
        DmlKind::Update { assignments } => {
            let mut seen = std::collections::HashSet::new();
            for row in rows {
                let id = row_id(&row, width)?;
                if !seen.insert(id) {
                    continue; // a row joined several times is updated once
                }
                let Some(row) = current(cx, plan, id, row, read_committed)? else { continue };
                let mut new: Vec<Value> = row[..width].to_vec();
                for (pos, e) in assignments {
                    new[*pos] = if is_default_marker(e) { default_value(cx, table, *pos)? } else { e.eval(&row, cx)? };
                }
                // The row as stored: a changed primary key moves it to a
                // new row id, so it is not read back by the old one.
                if let Some(stored) = cx.txn_mut()?.update_with(table, id, |_| Ok(Some(new)))? {
                    count += 1;
                    if let Some(r) = &plan.returning {
                        returned.push(project(r, &stored.values, cx)?);
                    }
                }
            }
            let tag = super::counted_tag("UPDATE ", count);
            Ok(finish(plan, returned, tag))
        }
        DmlKind::Delete => {
            for row in rows {
                let id = row_id(&row, width)?;
                let Some(row) = current(cx, plan, id, row, read_committed)? else { continue };
                if cx.txn_mut()?.delete(table, id)? {
                    count += 1;
                    if let Some(r) = &plan.returning {
                        returned.push(project(r, &row[..width], cx)?);
                    }
                }
            }
            let tag = super::counted_tag("DELETE ", count);
            Ok(finish(plan, returned, tag))
        }
    }
}

fn is_default_marker(e: &Expr) -> bool {
    matches!(e, Expr::Call(Func::Coalesce, a) if a.is_empty())
}

fn row_id(row: &[Value], width: usize) -> Result<memdb_engine::RowId> {
    match row.get(width) {
        Some(Value::Int8(id)) => Ok(u64::try_from(*id).unwrap_or(0)),
        _ => Err(SqlError::Engine(memdb_engine::Error::Internal("row id missing from DML source".into()))),
    }
}

/// The row UPDATE/DELETE acts on: as the source produced it, or under READ
/// COMMITTED its newest version if that still matches (`None`: skip it).
fn current(
    cx: &mut ExecCtx<'_>,
    plan: &DmlPlan,
    id: memdb_engine::RowId,
    row: Row,
    read_committed: bool,
) -> Result<Option<Row>> {
    if !read_committed {
        return Ok(Some(row));
    }
    recheck(cx, &plan.table, id, &row, plan.table.columns().len(), plan.predicate.as_ref())
}

/// READ COMMITTED: lock the row, and re-check the predicate against its
/// newest version (PostgreSQL's re-evaluation of concurrently updated rows).
fn recheck(
    cx: &mut ExecCtx<'_>,
    table: &memdb_engine::Table,
    id: memdb_engine::RowId,
    row: &[Value],
    width: usize,
    predicate: Option<&Expr>,
) -> Result<Option<Row>> {
    let Some(current) =
        cx.txn_mut()?.lock_row(table, id, memdb_engine::LockMode::Update, memdb_engine::LockWait::Wait)?
    else {
        return Ok(None);
    };
    if current.values.as_slice() == &row[..width] {
        return Ok(Some(row.to_vec()));
    }
    let mut fresh = current.values;
    fresh.extend_from_slice(&row[width..]);
    if let Some(p) = predicate
        && !p.eval_predicate(&fresh, cx)?
    {
        return Ok(None);
    }
    Ok(Some(fresh))
}

fn default_value(cx: &mut ExecCtx<'_>, table: &memdb_engine::Table, pos: usize) -> Result<Value> {
    let col = &table.columns()[pos];
    match &col.default {
        None => Ok(Value::Null),
        Some(memdb_engine::Expr::Function(name, args)) if name == "nextval" => match args.as_slice() {
            [memdb_engine::Expr::Literal(Value::Text(seq))] => Ok(Value::Int8(cx.nextval(seq)?)),
            _ => Ok(Value::Null),
        },
        Some(memdb_engine::Expr::Sql(text)) => {
            let ty = col.data_type.clone();
            let default = crate::bind::sql_default(cx.txn_mut()?, text, &ty)?;
            default.eval(&[], cx)
        }
        Some(e) => Ok(e.eval(&[], &memdb_engine::expr::EvalContext { now: cx.now })?),
    }
}

/// The table's column defaults kept as SQL text, bound for this statement:
/// (position, expression of the column's type).
fn sql_defaults(cx: &mut ExecCtx<'_>, table: &memdb_engine::Table) -> Result<Vec<(usize, Expr)>> {
    let mut out = Vec::new();
    for (pos, col) in table.columns().iter().enumerate() {
        if let Some(memdb_engine::Expr::Sql(text)) = &col.default {
            let ty = col.data_type.clone();
            out.push((pos, crate::bind::sql_default(cx.txn_mut()?, text, &ty)?));
        }
    }
    Ok(out)
}

fn is_sequence_default(table: &memdb_engine::Table, pos: usize) -> bool {
    matches!(table.columns().get(pos).and_then(|c| c.default.as_ref()), Some(memdb_engine::Expr::Function(name, _)) if name == "nextval")
}

/// The row as stored (defaults and casts applied), as RETURNING sees it.
fn stored_row(cx: &mut ExecCtx<'_>, table: &memdb_engine::Table, id: memdb_engine::RowId) -> Result<Row> {
    Ok(cx.txn_mut()?.get_by_id(table, id)?.map(|r| r.values).unwrap_or_default())
}

/// Adds a written row's RETURNING values, if the statement has RETURNING.
fn return_stored(plan: &DmlPlan, cx: &mut ExecCtx<'_>, id: memdb_engine::RowId, out: &mut Vec<Row>) -> Result<()> {
    if let Some(r) = &plan.returning {
        let stored = stored_row(cx, &plan.table, id)?;
        out.push(project(r, &stored, cx)?);
    }
    Ok(())
}

fn project(exprs: &[Expr], row: &[Value], cx: &mut ExecCtx<'_>) -> Result<Row> {
    exprs.iter().map(|e| e.eval(row, cx)).collect()
}

fn finish(plan: &DmlPlan, rows: Vec<Row>, tag: String) -> QueryResult {
    match plan.returning {
        Some(_) => QueryResult { columns: Arc::from(plan.returning_columns.clone()), rows, tag, row_set: true },
        None => QueryResult { columns: Arc::from(Vec::new()), rows: Vec::new(), tag, row_set: false },
    }
}

enum Conflict {
    None,
    Skip,
    Updated(memdb_engine::RowId, Row),
}

/// ON CONFLICT: looks for an existing row with the new row's key in the
/// target (or any unique) index.
fn conflict(
    cx: &mut ExecCtx<'_>,
    table: &memdb_engine::Table,
    cols: &[usize],
    values: &[Value],
    oc: &OnConflict,
    written: &std::collections::HashSet<memdb_engine::RowId>,
) -> Result<Conflict> {
    let target = match oc {
        OnConflict::Nothing { target } | OnConflict::Update { target, .. } => target,
    };
    let schema = table.schema().clone();
    let live: Vec<usize> = schema.live_columns().map(|(p, _)| p).collect();
    for index in schema.indexes.iter().filter(|i| i.unique) {
        let logical: Vec<usize> = index.columns.iter().filter_map(|p| live.iter().position(|l| l == p)).collect();
        if !target.is_empty() {
            let mut a = logical.clone();
            a.sort_unstable();
            let mut b = target.clone();
            b.sort_unstable();
            if a != b {
                continue;
            }
        }
        let mut key = Vec::with_capacity(logical.len());
        for c in &logical {
            match cols.iter().position(|x| x == c) {
                Some(i) => key.push(values[i].clone()),
                None => break,
            }
        }
        if key.len() != logical.len() || key.iter().any(Value::is_null) {
            continue;
        }
        let found = cx.txn_mut()?.index_lookup(table, &index.name, &key)?;
        let Some(existing) = found.into_iter().next() else { continue };
        return match oc {
            OnConflict::Nothing { .. } => Ok(Conflict::Skip),
            OnConflict::Update { assignments, predicate, .. } => {
                if written.contains(&existing.id) {
                    return Err(data_exception(
                        "21000",
                        "ON CONFLICT DO UPDATE command cannot affect row a second time",
                    ));
                }
                let width = existing.values.len();
                let mut proposed = vec![Value::Null; width];
                for (&c, v) in cols.iter().zip(values) {
                    proposed[c] = v.clone();
                }
                let mut row = existing.values.clone();
                row.extend(proposed);
                if let Some(p) = predicate
                    && !p.eval_predicate(&row, cx)?
                {
                    return Ok(Conflict::Skip);
                }
                let mut new = existing.values.clone();
                for (pos, e) in assignments {
                    new[*pos] = if is_default_marker(e) { default_value(cx, table, *pos)? } else { e.eval(&row, cx)? };
                }
                match cx.txn_mut()?.update_with(table, existing.id, |_| Ok(Some(new)))? {
                    Some(stored) => Ok(Conflict::Updated(stored.id, stored.values)),
                    // Gone meanwhile (a concurrent delete): nothing updated.
                    None => Ok(Conflict::Skip),
                }
            }
        };
    }
    Ok(Conflict::None)
}
