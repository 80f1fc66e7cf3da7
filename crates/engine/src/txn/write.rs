//! Writes: insert, update and delete, with constraint checks and row-lock
//! waits.
//!
//! Claiming a row: a writer looks at the head of the row's chain. If another
//! running transaction owns it (its marker in `begin` or `end`), the writer
//! waits for that transaction to end and looks again. Otherwise it swaps the
//! head's `end` from ∞ to its own marker; that swap is the row lock. Under
//! snapshot isolation a head committed after the snapshot means a concurrent
//! update won the race: serialization failure. Under READ COMMITTED the
//! writer goes on with the newest version, as PostgreSQL does.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::error::{Error, Result};
use crate::expr::EvalContext;
use crate::mvcc::{INFINITY, Version, VersionRef, is_marker, marker_txn, same};
use crate::row::RowData;
use crate::security::Privileges;
use crate::storage::RowId;
use crate::storage::index::IndexStorage;
use crate::txn::{IsolationLevel, Row, Table, Transaction, Write};
use crate::types::Value;

/// What a claim found.
pub(crate) enum Claim {
    /// The row is locked by us; this is its newest version.
    Locked(VersionRef),
    /// The row does not exist or is deleted (for this transaction).
    Gone,
}

impl Transaction {
    /// Inserts a row given in logical column order (every live column).
    ///
    /// ```
    /// use memdb_engine::{Column, Config, DataType, Database, TableSchema, Value};
    /// let db = Database::open(Config::memory()).unwrap();
    /// let mut txn = db.begin().unwrap();
    /// txn.create_table(TableSchema::new("t").column(Column::new("id", DataType::Int8)).primary_key(["id"])).unwrap();
    /// let t = txn.table("t").unwrap();
    /// txn.insert(&t, vec![Value::Int8(1)]).unwrap();
    /// assert!(txn.insert(&t, vec![Value::Int8(1)]).is_err(), "duplicate key");
    /// ```
    pub fn insert(&mut self, table: &Table, values: Vec<Value>) -> Result<RowId> {
        self.check_writable("INSERT")?;
        self.check_privilege(table, Privileges::INSERT)?;
        self.shared.check_memory()?;
        let physical = table.to_physical(values)?;
        self.guarded(|txn| txn.insert_physical(table, physical))
    }

    /// Inserts a row giving only some columns (logical positions); the
    /// others get their defaults (or NULL).
    pub fn insert_columns(&mut self, table: &Table, columns: &[usize], values: Vec<Value>) -> Result<RowId> {
        self.check_writable("INSERT")?;
        self.check_privilege(table, Privileges::INSERT)?;
        self.shared.check_memory()?;
        if columns.len() != values.len() {
            return Err(Error::InvalidParameter("INSERT has more target columns than expressions".into()));
        }
        // Every column in table order (COPY without a column list, INSERT
        // without one): the values are the row as they are.
        let whole_row = columns.len() == table.live.len() && columns.iter().enumerate().all(|(i, &c)| i == c);
        let logical = if whole_row { values } else { self.fill_defaults(table, columns, values)? };
        let physical = table.to_physical(logical)?;
        self.guarded(|txn| txn.insert_physical(table, physical))
    }

    /// Inserts a whole row (every live column, in logical order) given as
    /// the text form of its values, `None` for NULL: COPY's input. A table
    /// with no index, CHECK or foreign key has the row encoded straight
    /// from the text ([`crate::row::encode_text`]), with the same parsing,
    /// assignment and NOT NULL rules as [`Transaction::insert`] but no
    /// [`Value`] built for integers and strings. `Ok(None)` when the table
    /// has any of those: the caller parses the values and inserts them the
    /// usual way.
    pub fn insert_text_row(&mut self, table: &Table, fields: &[Option<&str>]) -> Result<Option<RowId>> {
        let schema = table.schema();
        if table.primary.is_some()
            || !schema.indexes.is_empty()
            || !schema.checks.is_empty()
            || !schema.foreign_keys.is_empty()
        {
            return Ok(None);
        }
        self.check_writable("INSERT")?;
        self.check_privilege(table, Privileges::INSERT)?;
        self.shared.check_memory()?;
        table.check_width(fields.len())?;
        self.guarded(|txn| txn.insert_text_physical(table, fields))
    }

    fn insert_text_physical(&mut self, table: &Table, fields: &[Option<&str>]) -> Result<Option<RowId>> {
        let schema = table.schema();
        let storage = table.storage().clone();
        let layout = storage.layout();
        // Dropped columns stay in the physical row, as NULL.
        let spread;
        let physical_fields = if table.live.len() == schema.columns.len() {
            fields
        } else {
            let mut all = vec![None; schema.columns.len()];
            for (field, &pos) in fields.iter().zip(table.live.iter()) {
                all[pos] = *field;
            }
            spread = all;
            &spread
        };
        let types = layout.0.get(..physical_fields.len()).ok_or_else(|| {
            Error::Internal(format!("row has {} fields for {} columns", physical_fields.len(), layout.0.len()))
        })?;
        let allow_null = |i: usize| match schema.columns.get(i) {
            Some(col) if !col.nullable && !col.dropped => {
                Err(Error::NotNullViolation { table: schema.name.clone(), column: col.name.clone() })
            }
            _ => Ok(()),
        };
        let data = crate::row::encode_text(physical_fields, types, &allow_null)?;
        self.ensure_id();
        let _gate = storage.gate.read();
        // An index another transaction is building takes this row's entry
        // too; that is the usual path's work.
        if !storage.indexes().is_empty() {
            return Ok(None);
        }
        let (row_id, new) = self.fresh_row(table, &mut Some(data))?;
        self.push_write(table, Write::Insert { table: 0, row_id, new });
        Ok(Some(row_id))
    }

    /// The whole row (logical order) from values for `columns`, every
    /// other column taking its default (or its sequence's next value).
    fn fill_defaults(&mut self, table: &Table, columns: &[usize], values: Vec<Value>) -> Result<Vec<Value>> {
        let mut given: Vec<Option<Value>> = vec![None; table.live.len()];
        for (&col, value) in columns.iter().zip(values) {
            let slot = given.get_mut(col).ok_or_else(|| {
                Error::InvalidParameter(format!("table \"{}\" has no column number {col}", table.name()))
            })?;
            *slot = Some(value);
        }
        let ctx = EvalContext { now: self.now };
        let mut logical = Vec::with_capacity(given.len());
        for (i, value) in given.into_iter().enumerate() {
            logical.push(match value {
                Some(v) => v,
                None => match table.sequence_default(i) {
                    Some(sequence) => Value::Int8(self.nextval(&sequence)?),
                    None => table.default_of(i, &ctx)?,
                },
            });
        }
        Ok(logical)
    }

    /// Replaces a row's values (logical order). Returns false if the row is
    /// gone. Under READ COMMITTED this overwrites the newest version; use
    /// [`Transaction::update_with`] to compute the new values from it.
    pub fn update(&mut self, table: &Table, row_id: RowId, values: Vec<Value>) -> Result<bool> {
        Ok(self.update_with(table, row_id, move |_| Ok(Some(values)))?.is_some())
    }

    /// Locks a row, passes its newest values to `change`, and stores what it
    /// returns (`None`: leave the row alone). Returns the row as stored.
    /// Under snapshot isolation the newest values are the snapshot's (or the
    /// call fails with a serialization error); under READ COMMITTED they may
    /// be newer than the statement's snapshot, so the change applies to them
    /// (PostgreSQL's re-check of concurrently updated rows).
    pub fn update_with(
        &mut self,
        table: &Table,
        row_id: RowId,
        change: impl FnOnce(&[Value]) -> Result<Option<Vec<Value>>>,
    ) -> Result<Option<Row>> {
        self.check_writable("UPDATE")?;
        self.check_privilege(table, Privileges::UPDATE)?;
        self.shared.check_memory()?;
        self.guarded(|txn| {
            let Claim::Locked(head) = txn.claim(table, row_id)? else { return Ok(None) };
            let prepared = table.storage().decode(&head).and_then(|old| {
                let new = match change(&table.to_logical(&old))? {
                    Some(logical) => Some(table.to_physical(logical)?),
                    None => None,
                };
                Ok((old, new))
            });
            let (old, mut new) = match prepared {
                Ok((old, Some(new))) => (old, new),
                Ok((_, None)) => {
                    txn.unclaim(&head);
                    return Ok(None);
                }
                Err(e) => {
                    txn.unclaim(&head);
                    return Err(e);
                }
            };
            // Dropped columns keep their stored values.
            for (i, col) in table.schema().columns.iter().enumerate() {
                if col.dropped {
                    new[i] = old[i].clone();
                }
            }
            let new_id = txn.update_physical(table, row_id, head, &old, new)?;
            txn.read_by_id(table, new_id)
        })
    }

    /// Deletes a row. Returns false if it is already gone.
    pub fn delete(&mut self, table: &Table, row_id: RowId) -> Result<bool> {
        self.check_writable("DELETE")?;
        self.check_privilege(table, Privileges::DELETE)?;
        self.guarded(|txn| {
            let Claim::Locked(head) = txn.claim(table, row_id)? else { return Ok(false) };
            txn.delete_physical(table, row_id, head)?;
            Ok(true)
        })
    }

    /// Deletes the row with the given primary key. Returns false if none.
    pub fn delete_by_key(&mut self, table: &Table, key: &[Value]) -> Result<bool> {
        match self.get(table, key)? {
            Some(row) => self.delete(table, row.id),
            None => Ok(false),
        }
    }

    /// Coerces, checks NOT NULL and CHECK constraints.
    fn prepare_row(&self, table: &Table, mut physical: Vec<Value>) -> Result<Vec<Value>> {
        let schema = table.schema();
        for (i, col) in schema.columns.iter().enumerate() {
            if col.dropped {
                continue;
            }
            let value = std::mem::replace(&mut physical[i], Value::Null);
            let value = value.coerce_to(&col.data_type)?;
            if value.is_null() && !col.nullable {
                return Err(Error::NotNullViolation { table: schema.name.clone(), column: col.name.clone() });
            }
            physical[i] = value;
        }
        let ctx = EvalContext { now: self.now };
        for check in &schema.checks {
            if !check.expr.check(&physical, &ctx)? {
                return Err(Error::CheckViolation { table: schema.name.clone(), constraint: check.name.clone() });
            }
        }
        Ok(physical)
    }

    /// Inserts a prepared physical row; returns its row id.
    pub(crate) fn insert_physical(&mut self, table: &Table, physical: Vec<Value>) -> Result<RowId> {
        let physical = self.prepare_row(table, physical)?;
        self.ensure_id();
        let storage = table.storage().clone();
        let data = storage.encode(&physical)?;
        let own = self.snapshot.own;
        let mut data = Some(data);
        let row_id = match table.primary.clone() {
            Some(pk) => {
                let key = pk.key_values(&physical);
                // The first attempt assumes the key is new (one tree descent);
                // later ones look at the row holding it.
                let mut probe = false;
                loop {
                    if probe && let Some(row_id) = pk.lookup_exact(&key) {
                        let Some(head) = storage.head(row_id) else {
                            std::thread::yield_now(); // being reclaimed right now
                            continue;
                        };
                        let (begin, end) = (head.begin(), head.end());
                        if is_marker(begin) && begin != own {
                            self.wait_for(marker_txn(begin))?;
                            continue;
                        }
                        if is_marker(end) && end != own {
                            self.wait_for(marker_txn(end))?;
                            continue;
                        }
                        if end == INFINITY {
                            return Err(unique_violation(table, &pk, &key));
                        }
                        // The key's row is deleted: the new row continues its chain.
                        let bytes = data.take().ok_or_else(|| Error::Internal("row data consumed".into()))?;
                        let new = VersionRef::new(Version::new(own, bytes, Some(head.clone())));
                        let _gate = storage.gate.read();
                        let slot = storage.slab.get(row_id).ok_or_else(|| Error::Internal("missing slot".into()))?;
                        if !slot.compare_and_swap(Some(&head), Some(new.clone())) {
                            data = Some(new.data.clone());
                            continue;
                        }
                        self.index_new_version(table, Some(&pk), &physical, row_id);
                        self.push_write(table, Write::Insert { table: 0, row_id, new });
                        break row_id;
                    }
                    probe = true;
                    let _gate = storage.gate.read();
                    let (row_id, new) = self.fresh_row(table, &mut data)?;
                    if pk.insert(&key, row_id).is_err() {
                        // The key is taken (or was taken meanwhile): undo, look.
                        if let Some(slot) = storage.slab.get(row_id) {
                            slot.store(None);
                        }
                        storage.slab.free(row_id, 0);
                        data = Some(new.data.clone());
                        continue;
                    }
                    self.index_new_version(table, Some(&pk), &physical, row_id);
                    self.push_write(table, Write::Insert { table: 0, row_id, new });
                    break row_id;
                }
            }
            None => {
                let _gate = storage.gate.read();
                let (row_id, new) = self.fresh_row(table, &mut data)?;
                self.index_new_version(table, None, &physical, row_id);
                self.push_write(table, Write::Insert { table: 0, row_id, new });
                row_id
            }
        };
        self.check_unique(table, &physical, row_id, None)?;
        self.check_parents(table, &physical, None)?;
        Ok(row_id)
    }

    /// Takes a new row id and makes a new version of `data` its only
    /// version. Callers hold the table's gate.
    fn fresh_row(&mut self, table: &Table, data: &mut Option<RowData>) -> Result<(RowId, VersionRef)> {
        let row_id = self.new_row_id(table)?;
        let bytes = data.take().ok_or_else(|| Error::Internal("row data consumed".into()))?;
        let new = VersionRef::new(Version::new(self.snapshot.own, bytes, None));
        table.storage().slab.slot(row_id).ok_or_else(|| table_full(table))?.store(Some(new.clone()));
        Ok((row_id, new))
    }

    fn new_row_id(&self, table: &Table) -> Result<RowId> {
        let storage = table.storage();
        let row_id = storage.slab.allocate(self.shared.reuse_before.load(Ordering::Acquire));
        if row_id > crate::storage::slab::MAX_ROW_ID {
            return Err(table_full(table));
        }
        Ok(row_id)
    }

    /// Adds the entries of a new version to every index but `skip`.
    fn index_new_version(&mut self, table: &Table, skip: Option<&IndexStorage>, physical: &[Value], row_id: RowId) {
        for index in table.storage().indexes().iter() {
            if skip.is_none_or(|s| s.schema.id != index.schema.id) {
                self.add_entry(index, physical, row_id);
            }
        }
    }

    /// Adds (or, for deferrable indexes, queues) a new version's entry.
    fn add_entry(&mut self, index: &Arc<IndexStorage>, physical: &[Value], row_id: RowId) {
        if index.is_deferrable() {
            let entry = index.pending_entry(physical, row_id);
            self.pending.push(index, self.writes.len(), entry);
        } else {
            let _ = index.insert(&index.key_values(physical), row_id);
        }
    }

    fn push_write(&mut self, table: &Table, mut write: Write) {
        let slot = self.table_slot(table.storage());
        match &mut write {
            Write::Insert { table, .. } | Write::Update { table, .. } | Write::Delete { table, .. } => *table = slot,
        }
        self.writes.push(write);
    }

    /// Waits for another transaction to end.
    fn wait_for(&mut self, holder: u64) -> Result<()> {
        self.ensure_id();
        self.shared.waits.wait_for(self.id, holder, self.shared.config.lock_timeout)
    }

    /// Locks a row for update or delete (see the module docs).
    pub(crate) fn claim(&mut self, table: &Table, row_id: RowId) -> Result<Claim> {
        self.ensure_id();
        let own = self.snapshot.own;
        let snapshot_only = self.options.isolation != IsolationLevel::ReadCommitted;
        loop {
            let Some(head) = table.storage().head(row_id) else { return Ok(Claim::Gone) };
            let (begin, end) = (head.begin(), head.end());
            if is_marker(begin) && begin != own {
                self.wait_for(marker_txn(begin))?;
                continue;
            }
            if end == own {
                return Ok(Claim::Gone); // we deleted it
            }
            if is_marker(end) {
                self.wait_for(marker_txn(end))?;
                continue;
            }
            if end != INFINITY {
                // Ended by a committed transaction: deleted if it is still
                // the head, else replaced after we loaded it — look again.
                if !still_head(table, row_id, &head) {
                    continue;
                }
                if snapshot_only && end > self.snapshot.read_ts {
                    return Err(Error::SerializationFailure("concurrent delete".into()));
                }
                return Ok(Claim::Gone);
            }
            if begin != own && begin > self.snapshot.read_ts && snapshot_only {
                return Err(Error::SerializationFailure("concurrent update".into()));
            }
            let claimed = if begin == own {
                head.end.store(own, Ordering::Release);
                true
            } else {
                head.end.compare_exchange(INFINITY, own, Ordering::AcqRel, Ordering::Acquire).is_ok()
            };
            if claimed {
                // A row locked FOR UPDATE/SHARE by another transaction: give
                // the claim back and wait for it (see `lock`).
                if let Some(holder) = self.lock_conflict(table, row_id) {
                    head.end.store(INFINITY, Ordering::Release);
                    self.wait_for_holder(holder)?;
                    continue;
                }
                return Ok(Claim::Locked(head));
            }
        }
    }

    /// Releases a claim that led to no change.
    fn unclaim(&mut self, head: &VersionRef) {
        head.end.store(INFINITY, Ordering::Release);
    }

    /// Writes a new version of a claimed row; returns the row id holding
    /// the new values (a new one when the primary key changed).
    pub(crate) fn update_physical(
        &mut self,
        table: &Table,
        row_id: RowId,
        head: VersionRef,
        old: &[Value],
        new: Vec<Value>,
    ) -> Result<RowId> {
        let new = match self.prepare_row(table, new) {
            Ok(new) => new,
            Err(e) => {
                self.unclaim(&head);
                return Err(e);
            }
        };
        let storage = table.storage().clone();
        if let Some(pk) = &table.primary
            && pk.key_differs(old, &new)
        {
            // A new primary key is a new row: delete and insert, then
            // let referencing rows follow the key.
            self.push_write(table, Write::Delete { table: 0, row_id, old: head });
            let new_id = self.insert_physical(table, new.clone())?;
            self.referenced_row_changed(table, old, Some(&new))?;
            return Ok(new_id);
        }
        let data = match storage.encode(&new) {
            Ok(data) => data,
            Err(e) => {
                self.unclaim(&head);
                return Err(e);
            }
        };
        let version = VersionRef::new(Version::new(self.snapshot.own, data, Some(head.clone())));
        {
            let _gate = storage.gate.read();
            let Some(slot) = storage.slab.get(row_id) else {
                self.unclaim(&head);
                return Err(Error::Internal("missing slot".into()));
            };
            slot.store(Some(version.clone()));
            for index in storage.indexes().iter() {
                if index.key_differs(&new, old) {
                    self.add_entry(index, &new, row_id);
                }
            }
        }
        self.push_write(table, Write::Update { table: 0, row_id, new: version, old: head });
        self.check_unique(table, &new, row_id, Some(old))?;
        self.check_parents(table, &new, Some(old))?;
        self.referenced_row_changed(table, old, Some(&new))?;
        Ok(row_id)
    }

    /// Deletes a claimed row.
    pub(crate) fn delete_physical(&mut self, table: &Table, row_id: RowId, head: VersionRef) -> Result<()> {
        let old = match table.storage().decode(&head) {
            Ok(old) => old,
            Err(e) => {
                self.unclaim(&head);
                return Err(e);
            }
        };
        self.push_write(table, Write::Delete { table: 0, row_id, old: head });
        self.referenced_row_changed(table, &old, None)
    }

    /// Checks the unique indexes (other than the primary key, whose tree
    /// enforces itself) for a row just written.
    fn check_unique(&mut self, table: &Table, physical: &[Value], row_id: RowId, old: Option<&[Value]>) -> Result<()> {
        if !table.schema().indexes.iter().any(|i| i.unique && !i.primary) {
            return Ok(());
        }
        let storage = table.storage().clone();
        // The unique indexes of this transaction's schema: not those another
        // transaction is building, nor those this one dropped.
        let unique: Vec<_> = table
            .schema()
            .indexes
            .iter()
            .filter(|i| i.unique && !i.primary)
            .filter_map(|i| storage.index(i.id))
            .collect();
        for index in unique.iter() {
            let key = index.key_values(physical);
            if key.iter().any(Value::is_null) || old.is_some_and(|o| index.key_values(o) == key) {
                continue;
            }
            'others: for other in index.lookup(&key) {
                if other == row_id {
                    continue;
                }
                loop {
                    let Some(head) = storage.head(other) else { continue 'others };
                    let (begin, end) = (head.begin(), head.end());
                    if end != INFINITY && !is_marker(end) && !still_head(table, other, &head) {
                        continue; // replaced since we loaded it
                    }
                    let own = self.snapshot.own;
                    let pending = [begin, end].into_iter().find(|&s| is_marker(s) && s != own);
                    let has_key = |v: &Version| -> Result<bool> { Ok(index.key_values(&storage.decode(v)?) == key) };
                    if let Some(holder) = pending {
                        let below = head.prev.load_full();
                        if has_key(&head)? || below.as_deref().map(has_key).transpose()?.unwrap_or(false) {
                            self.wait_for(marker_txn(holder))?;
                            continue;
                        }
                        continue 'others;
                    }
                    if end == INFINITY && has_key(&head)? {
                        return Err(unique_violation(table, index, &key));
                    }
                    continue 'others;
                }
            }
        }
        Ok(())
    }
}

impl Table {
    /// The default of a logical column: its default expression, else NULL.
    /// The sequence a column's default draws from, when the default is
    /// `nextval('sequence')` (SERIAL, IDENTITY).
    pub(crate) fn sequence_default(&self, logical: usize) -> Option<String> {
        let col = self.live.get(logical).and_then(|&p| self.schema().columns.get(p))?;
        match col.default.as_ref()? {
            crate::expr::Expr::Function(name, args) if name == "nextval" => match args.as_slice() {
                [crate::expr::Expr::Literal(Value::Text(sequence))] => Some(sequence.clone()),
                _ => None,
            },
            _ => None,
        }
    }

    pub(crate) fn default_of(&self, logical: usize, ctx: &EvalContext) -> Result<Value> {
        let col = self.live.get(logical).and_then(|&p| self.schema().columns.get(p));
        match col.and_then(|c| c.default.as_ref()) {
            Some(expr) => expr.eval(&[], ctx),
            None => Ok(Value::Null),
        }
    }
}

/// Whether `version` is still the head of the row's chain. A head loaded a
/// moment ago may since have been replaced (and its `end` stamped) by a
/// concurrent commit; only a version that is still the head and has ended
/// means the row is deleted.
pub(crate) fn still_head(table: &Table, row_id: RowId, version: &VersionRef) -> bool {
    table.storage().head(row_id).is_some_and(|h| same(&h, version))
}

fn table_full(table: &Table) -> Error {
    Error::OutOfMemory(format!("table \"{}\" has no row ids left", table.name()))
}

pub(crate) fn unique_violation(table: &Table, index: &IndexStorage, key: &[Value]) -> Error {
    let values = key.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
    Error::UniqueViolation {
        table: table.name().to_owned(),
        constraint: index.schema.constraint.clone().unwrap_or_else(|| index.schema.name.clone()),
        detail: format!("Key ({})=({values}) already exists.", table.schema().column_names(&index.schema.columns)),
    }
}
