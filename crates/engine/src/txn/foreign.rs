//! FOREIGN KEY enforcement.
//!
//! Child side: a row written with a non-NULL foreign key must reference a
//! live parent row. The child's version is installed *before* the parent is
//! checked; the parent side claims (locks) the parent row *before* it looks
//! for children. Whichever of two concurrent transactions comes second sees
//! the other's uncommitted work and waits for it, so a child can never end up
//! pointing at a deleted parent. Both sides look at the newest state of the
//! rows, not at their snapshot, as PostgreSQL's referential checks do.
//!
//! Parent side: deleting a referenced row, or changing its referenced key,
//! applies the constraint's action to the children: NO ACTION / RESTRICT
//! fail (PostgreSQL defers NO ACTION to the end of the statement; memdb
//! checks it at once), CASCADE deletes or re-keys them, SET NULL / SET
//! DEFAULT rewrite their key columns.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::expr::EvalContext;
use crate::mvcc::{INFINITY, VersionRef, is_marker, marker_txn};
use crate::schema::{FkAction, ForeignKey};
use crate::storage::RowId;
use crate::storage::index::IndexStorage;
use crate::txn::write::{Claim, still_head};
use crate::txn::{Table, Transaction};
use crate::types::Value;

/// The newest state of a row, as the referential checks see it.
enum Newest {
    /// No live version (deleted, or never there).
    Absent,
    /// A live version (committed, or our own).
    Live(VersionRef),
    /// Another running transaction is changing it.
    Pending(u64),
}

impl Transaction {
    fn newest(&self, table: &Table, row_id: RowId) -> Newest {
        loop {
            let Some(head) = table.storage().head(row_id) else { return Newest::Absent };
            let end = head.end();
            if end != INFINITY && !is_marker(end) && !still_head(table, row_id, &head) {
                continue; // replaced since we loaded it
            }
            return self.classify(head);
        }
    }

    fn classify(&self, head: VersionRef) -> Newest {
        let own = self.snapshot.own;
        let (begin, end) = (head.begin(), head.end());
        if is_marker(begin) && begin != own {
            return Newest::Pending(marker_txn(begin));
        }
        if is_marker(end) && end != own {
            return Newest::Pending(marker_txn(end));
        }
        if end == INFINITY { Newest::Live(head) } else { Newest::Absent }
    }

    /// Child side: checks every foreign key of a written row.
    pub(crate) fn check_parents(&mut self, table: &Table, new: &[Value], old: Option<&[Value]>) -> Result<()> {
        for fk in &table.schema().foreign_keys {
            let key: Vec<Value> = fk.columns.iter().map(|&c| new.get(c).cloned().unwrap_or(Value::Null)).collect();
            if key.iter().any(Value::is_null) {
                continue; // MATCH SIMPLE: a NULL anywhere satisfies the constraint
            }
            if let Some(old) = old
                && fk.columns.iter().all(|&c| old.get(c) == new.get(c))
            {
                continue;
            }
            let parent = self.parent_table(table, fk)?;
            let index = parent_index(&parent, fk)?;
            let key = coerce_to_columns(&parent, &fk.ref_columns, key)?;
            let mut found = false;
            'rows: for row_id in index.lookup(&key) {
                loop {
                    match self.newest(&parent, row_id) {
                        Newest::Pending(holder) => self.wait_for_txn(holder)?,
                        Newest::Absent => continue 'rows,
                        Newest::Live(v) => {
                            let values = parent.storage().decode(&v)?;
                            if index.key_values(&values) == key {
                                found = true;
                                break 'rows;
                            }
                            continue 'rows;
                        }
                    }
                }
            }
            if !found {
                let names = table.schema().column_names(&fk.columns);
                let shown = key.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
                return Err(Error::ForeignKeyViolation {
                    message: format!(
                        "insert or update on table \"{}\" violates foreign key constraint \"{}\"",
                        table.name(),
                        fk.name
                    ),
                    detail: format!("Key ({names})=({shown}) is not present in table \"{}\".", parent.name()),
                    table: table.name().to_owned(),
                    constraint: fk.name.clone(),
                });
            }
        }
        Ok(())
    }

    fn parent_table(&self, child: &Table, fk: &ForeignKey) -> Result<Table> {
        if fk.ref_table == child.id() {
            return Ok(child.clone());
        }
        self.catalog
            .table_by_id(fk.ref_table)
            .map(Table::new)
            .ok_or_else(|| Error::Internal(format!("foreign key \"{}\" references a missing table", fk.name)))
    }

    fn wait_for_txn(&mut self, holder: u64) -> Result<()> {
        self.ensure_id();
        self.shared.waits.wait_for(self.id, holder, self.shared.config.lock_timeout)
    }

    /// Parent side: a referenced row was deleted (`new` is None) or changed.
    pub(crate) fn referenced_row_changed(&mut self, table: &Table, old: &[Value], new: Option<&[Value]>) -> Result<()> {
        if !self.catalog.is_referenced(table.id()) {
            return Ok(());
        }
        let children: Vec<(Table, ForeignKey)> = self
            .catalog
            .tables()
            .flat_map(|t| {
                t.schema
                    .foreign_keys
                    .iter()
                    .filter(|fk| fk.ref_table == table.id())
                    .map(move |fk| (Table::new(t), fk.clone()))
            })
            .collect();
        for (child, fk) in children {
            let old_key: Vec<Value> =
                fk.ref_columns.iter().map(|&c| old.get(c).cloned().unwrap_or(Value::Null)).collect();
            if old_key.iter().any(Value::is_null) {
                continue;
            }
            let new_key: Option<Vec<Value>> =
                new.map(|n| fk.ref_columns.iter().map(|&c| n.get(c).cloned().unwrap_or(Value::Null)).collect());
            if new_key.as_ref() == Some(&old_key) {
                continue;
            }
            let old_key = coerce_to_columns(&child, &fk.columns, old_key)?;
            for row_id in self.referencing_rows(&child, &fk, &old_key)? {
                self.apply_action(table, &child, &fk, row_id, &old_key, new_key.as_deref())?;
            }
        }
        Ok(())
    }

    /// Row ids of `child` rows whose newest version references `key`,
    /// waiting out transactions that are changing candidate rows.
    fn referencing_rows(&mut self, child: &Table, fk: &ForeignKey, key: &[Value]) -> Result<Vec<RowId>> {
        self.flush_pending();
        let storage = child.storage().clone();
        let index = storage.indexes().iter().find(|i| i.schema.columns.starts_with(&fk.columns)).cloned();
        let candidates: Vec<RowId> = match &index {
            // A hash index answers only for its whole key; an ordered one
            // also for a prefix.
            Some(index) if index.schema.columns.len() == fk.columns.len() || index.is_ordered() => {
                let mut ids = index.lookup(key);
                ids.sort_unstable();
                ids.dedup();
                ids
            }
            _ => (0..storage.slab.high_water()).collect(),
        };
        let mut out = Vec::new();
        for row_id in candidates {
            loop {
                match self.newest(child, row_id) {
                    Newest::Pending(holder) => {
                        // Only wait for rows that may reference the key.
                        let head = storage.head(row_id);
                        let relevant = match head {
                            Some(h) => {
                                references(&storage.decode(&h)?, fk, key)
                                    || h.prev
                                        .load_full()
                                        .map(|p| storage.decode(&p))
                                        .transpose()?
                                        .is_some_and(|v| references(&v, fk, key))
                            }
                            None => false,
                        };
                        if !relevant {
                            break;
                        }
                        self.wait_for_txn(holder)?;
                    }
                    Newest::Absent => break,
                    Newest::Live(v) => {
                        if references(&storage.decode(&v)?, fk, key) {
                            out.push(row_id);
                        }
                        break;
                    }
                }
            }
        }
        Ok(out)
    }

    fn apply_action(
        &mut self,
        parent: &Table,
        child: &Table,
        fk: &ForeignKey,
        row_id: RowId,
        old_key: &[Value],
        new_key: Option<&[Value]>,
    ) -> Result<()> {
        let action = if new_key.is_some() { fk.on_update } else { fk.on_delete };
        match action {
            FkAction::NoAction | FkAction::Restrict => {
                let names = parent.schema().column_names(&fk.ref_columns);
                let shown = old_key.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
                Err(Error::ForeignKeyViolation {
                    message: format!(
                        "update or delete on table \"{}\" violates foreign key constraint \"{}\" on table \"{}\"",
                        parent.name(),
                        fk.name,
                        child.name()
                    ),
                    detail: format!("Key ({names})=({shown}) is still referenced from table \"{}\".", child.name()),
                    table: child.name().to_owned(),
                    constraint: fk.name.clone(),
                })
            }
            FkAction::Cascade if new_key.is_none() => {
                if let Claim::Locked(head) = self.claim(child, row_id)? {
                    self.delete_physical(child, row_id, head)?;
                }
                Ok(())
            }
            FkAction::Cascade | FkAction::SetNull | FkAction::SetDefault => {
                let Claim::Locked(head) = self.claim(child, row_id)? else { return Ok(()) };
                let old = child.storage().decode(&head)?;
                let mut new = old.clone();
                let ctx = EvalContext { now: self.now };
                for (i, &col) in fk.columns.iter().enumerate() {
                    new[col] = match (action, new_key) {
                        (FkAction::Cascade, Some(key)) => key.get(i).cloned().unwrap_or(Value::Null),
                        (FkAction::SetDefault, _) => {
                            match child.schema().columns.get(col).and_then(|c| c.default.as_ref()) {
                                Some(expr) => expr.eval(&[], &ctx)?,
                                None => Value::Null,
                            }
                        }
                        _ => Value::Null,
                    };
                }
                self.update_physical(child, row_id, head, &old, new)?;
                Ok(())
            }
        }
    }
}

fn references(values: &[Value], fk: &ForeignKey, key: &[Value]) -> bool {
    fk.columns.iter().zip(key).all(|(&c, k)| values.get(c) == Some(k))
}

/// The parent's unique index over exactly the referenced columns.
fn parent_index(parent: &Table, fk: &ForeignKey) -> Result<Arc<IndexStorage>> {
    parent
        .storage()
        .indexes()
        .iter()
        .find(|i| i.schema.unique && i.schema.columns == fk.ref_columns)
        .cloned()
        .ok_or_else(|| {
            Error::InvalidDefinition(format!(
                "there is no unique constraint matching given keys for referenced table \"{}\"",
                parent.name()
            ))
        })
}

fn coerce_to_columns(table: &Table, columns: &[usize], key: Vec<Value>) -> Result<Vec<Value>> {
    key.into_iter()
        .zip(columns)
        .map(|(v, &c)| match table.schema().columns.get(c) {
            Some(col) => v.coerce_to(&col.data_type),
            None => Err(Error::Internal("foreign key column out of range".into())),
        })
        .collect()
}
