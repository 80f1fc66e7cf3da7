//! Schema changes: CREATE / ALTER / DROP TABLE, CREATE / DROP INDEX,
//! TRUNCATE.
//!
//! DDL works on the transaction's private copy of the catalog and holds the
//! database's DDL lock until the transaction ends, so schema changes are
//! serialized with each other but never block readers or data writers.
//! Physical side effects that cannot wait for commit (a new index must be
//! maintained by concurrent writers from the moment it is built; a new
//! column widens the row layout) are recorded and undone on rollback.
//! Constraints added to tables with data are validated against every row's
//! newest version, and again at commit if the table was written meanwhile.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::catalog::{Catalog, TableEntry};
use crate::commitlog::LogOp;
use crate::error::{Error, Result};
use crate::expr::{EvalContext, Expr};
use crate::key::Key;
use crate::mvcc::{INFINITY, Version, is_marker};
use crate::schema::{
    CheckConstraint, Column, ConstraintSpec, FkAction, ForeignKey, IndexKind, IndexSchema, TableId, TableSchema,
};
use crate::storage::index::IndexStorage;
use crate::storage::table::TableStorage;
use crate::txn::{DdlState, DdlUndo, IsolationLevel, Table, Transaction};
use crate::types::{DataType, Value};

/// A change to an existing table.
#[derive(Clone, Debug, PartialEq)]
pub enum AlterTable {
    /// `ADD COLUMN`: existing rows read the column's default, evaluated once.
    AddColumn(Column),
    /// `DROP COLUMN`; indexes and constraints using it go too (foreign keys
    /// of other tables only with `cascade`).
    DropColumn {
        /// Column name.
        name: String,
        /// Also drop foreign keys of other tables that depend on it.
        cascade: bool,
    },
    /// `RENAME COLUMN from TO to`
    RenameColumn {
        /// Old name.
        from: String,
        /// New name.
        to: String,
    },
    /// `RENAME TO name`
    RenameTable(String),
    /// `ALTER COLUMN ... SET DEFAULT` / `DROP DEFAULT`
    SetDefault {
        /// Column name.
        column: String,
        /// The new default, or none.
        default: Option<Expr>,
    },
    /// `ALTER COLUMN ... SET NOT NULL` (true) / `DROP NOT NULL` (false)
    SetNotNull {
        /// Column name.
        column: String,
        /// Whether NULLs are now rejected.
        not_null: bool,
    },
    /// `ADD CONSTRAINT`
    AddConstraint(ConstraintSpec),
    /// `DROP CONSTRAINT name`
    DropConstraint {
        /// Constraint name.
        name: String,
        /// Also drop foreign keys of other tables that depend on it.
        cascade: bool,
    },
}

/// `CREATE [UNIQUE] INDEX`.
#[derive(Clone, Debug, PartialEq)]
pub struct IndexSpec {
    /// Index name; generated as `<table>_<cols>_idx` when absent.
    pub name: Option<String>,
    /// The table.
    pub table: String,
    /// Column names, in key order.
    pub columns: Vec<String>,
    /// Whether keys must be unique.
    pub unique: bool,
    /// B+tree or hash.
    pub kind: IndexKind,
}

impl IndexSpec {
    /// An ordered, non-unique index.
    pub fn new<S: Into<String>>(table: &str, columns: impl IntoIterator<Item = S>) -> IndexSpec {
        IndexSpec {
            name: None,
            table: table.to_owned(),
            columns: columns.into_iter().map(Into::into).collect(),
            unique: false,
            kind: IndexKind::BTree,
        }
    }

    /// Names the index.
    pub fn named(mut self, name: &str) -> IndexSpec {
        self.name = Some(name.to_owned());
        self
    }

    /// Makes it unique.
    pub fn unique(mut self) -> IndexSpec {
        self.unique = true;
        self
    }

    /// Makes it a hash index.
    pub fn hash(mut self) -> IndexSpec {
        self.kind = IndexKind::Hash;
        self
    }
}

impl Transaction {
    /// Takes the DDL lock and a private catalog copy on the first change;
    /// only a superuser may change the schema.
    pub(crate) fn begin_ddl(&mut self, what: &str) -> Result<Catalog> {
        self.check_superuser(what)?;
        self.begin_ddl_unchecked(what)
    }

    /// [`Transaction::begin_ddl`] without the superuser rule, for changes
    /// other privileges allow (TRUNCATE, one's own password).
    pub(crate) fn begin_ddl_unchecked(&mut self, what: &str) -> Result<Catalog> {
        self.check_writable(what)?;
        self.flush_pending();
        if self.ddl.is_none() {
            self.ensure_id();
            let guard = loop {
                if let Some(guard) = self.shared.ddl_lock.try_lock_arc() {
                    self.shared.ddl_owner.store(self.id, Ordering::SeqCst);
                    break guard;
                }
                // Wait for the holder like for a row lock, so a cycle of
                // DDL and row waits is found as a deadlock.
                let holder = self.shared.ddl_owner.load(Ordering::SeqCst);
                if holder == 0 || holder == self.id {
                    std::thread::yield_now();
                    continue;
                }
                self.shared.waits.wait_for(self.id, holder, self.shared.config.lock_timeout)?;
            };
            let current = self.shared.current_catalog.load_full();
            if current.committed_at != self.catalog.committed_at {
                if self.options.isolation == IsolationLevel::ReadCommitted && self.writes.is_empty() {
                    self.catalog = current.clone();
                } else {
                    return Err(Error::SerializationFailure("concurrent schema change".into()));
                }
            }
            self.ddl = Some(DdlState {
                _guard: guard,
                base: current,
                ops: Vec::new(),
                undo: Vec::new(),
                validated: Vec::new(),
                rewritten: Vec::new(),
            });
        }
        Ok((*self.catalog).clone())
    }

    /// Records a schema change for the commit record, in order with the
    /// data changes around it.
    pub(crate) fn log_ddl(&mut self, op: LogOp) -> Result<()> {
        let at = self.writes.len();
        self.ddl_state()?.ops.push((at, op));
        Ok(())
    }

    fn ddl_state(&mut self) -> Result<&mut DdlState> {
        self.ddl.as_mut().ok_or_else(|| Error::Internal("DDL state missing".into()))
    }

    /// Creates a table. Constraints given through the builder are resolved
    /// and named as PostgreSQL names them (`t_pkey`, `t_a_key`, ...).
    ///
    /// ```
    /// use memdb_engine::{Column, Config, DataType, Database, TableSchema};
    /// let db = Database::open(Config::memory()).unwrap();
    /// let mut txn = db.begin().unwrap();
    /// txn.create_table(
    ///     TableSchema::new("users")
    ///         .column(Column::new("id", DataType::Int8))
    ///         .column(Column::new("email", DataType::Text).not_null())
    ///         .primary_key(["id"])
    ///         .unique(["email"]),
    /// ).unwrap();
    /// txn.commit().unwrap();
    /// ```
    pub fn create_table(&mut self, schema: TableSchema) -> Result<()> {
        let mut catalog = self.begin_ddl("CREATE TABLE")?;
        self.guarded(move |txn| {
            if catalog.relation_exists(&schema.name) {
                return Err(Error::DuplicateTable(schema.name.clone()));
            }
            let mut schema = schema;
            let pending = std::mem::take(&mut schema.pending);
            schema.indexes.clear();
            schema.checks.clear();
            schema.foreign_keys.clear();
            let mut seen = HashSet::new();
            for col in &schema.columns {
                validate_type(&col.data_type)?;
                if !seen.insert(col.name.clone()) {
                    return Err(Error::DuplicateColumn { table: schema.name.clone(), column: col.name.clone() });
                }
            }
            schema.id = catalog.next_table_id;
            catalog.next_table_id += 1;
            let storage = Arc::new(TableStorage::new(
                schema.id,
                schema.physical_types(),
                schema.columns.iter().map(|c| c.missing.clone()).collect(),
            ));
            catalog.put(TableEntry::new(Arc::new(schema.clone()), storage.clone()));
            for spec in pending {
                add_constraint(txn, &mut catalog, &mut schema, &storage, spec)?;
            }
            txn.install(catalog, schema.clone(), storage)?;
            txn.log_ddl(LogOp::CreateTable(schema))?;
            Ok(())
        })
    }

    /// Puts a changed table into the private catalog.
    fn install(&mut self, mut catalog: Catalog, schema: TableSchema, storage: Arc<TableStorage>) -> Result<()> {
        catalog.put(TableEntry::new(Arc::new(schema), storage));
        self.catalog = Arc::new(catalog);
        Ok(())
    }

    /// Drops a table. With `cascade`, foreign keys of other tables that
    /// reference it are dropped too; without, they make the drop fail.
    pub fn drop_table(&mut self, name: &str, cascade: bool) -> Result<()> {
        let mut catalog = self.begin_ddl("DROP TABLE")?;
        self.guarded(|txn| {
            let entry = catalog.table(name)?.clone();
            let id = entry.schema.id;
            let dependents: Vec<TableEntry> = catalog.referencing(id).filter(|t| t.schema.id != id).cloned().collect();
            if !dependents.is_empty() && !cascade {
                return Err(Error::DependentObjects(format!(
                    "cannot drop table {name} because other objects depend on it"
                )));
            }
            for dep in dependents {
                let mut schema = (*dep.schema).clone();
                schema.foreign_keys.retain(|fk| fk.ref_table != id);
                txn.log_ddl(LogOp::AlterTable(schema.clone()))?;
                catalog.put(TableEntry::new(Arc::new(schema), dep.storage.clone()));
            }
            catalog.remove(id);
            // Sequences owned by the table's columns (SERIAL) go with it.
            let owned: Vec<_> = catalog
                .sequences()
                .filter(|s| s.schema.owned_by.is_some_and(|(t, _)| t == id))
                .map(|s| s.schema.id)
                .collect();
            for sequence in owned {
                catalog.remove_sequence(sequence);
                txn.log_ddl(LogOp::DropSequence(sequence))?;
            }
            txn.catalog = Arc::new(catalog);
            txn.log_ddl(LogOp::DropTable(id))?;
            Ok(())
        })
    }

    /// Removes every row of the given tables (transactionally: old
    /// snapshots keep seeing the rows). Tables referenced by foreign keys
    /// must be truncated together with the referencing tables.
    pub fn truncate(&mut self, names: &[&str]) -> Result<()> {
        for name in names {
            let table = self.table(name)?;
            self.check_privilege(&table, crate::security::Privileges::TRUNCATE)?;
        }
        let mut catalog = self.begin_ddl_unchecked("TRUNCATE")?;
        self.guarded(|txn| {
            let ids: Vec<TableId> =
                names.iter().map(|n| catalog.table(n).map(|t| t.schema.id)).collect::<Result<_>>()?;
            for &id in &ids {
                if let Some(child) = catalog.referencing(id).find(|t| !ids.contains(&t.schema.id)) {
                    return Err(Error::FeatureNotSupported(format!(
                        "cannot truncate a table referenced in a foreign key constraint: table \"{}\" references it",
                        child.schema.name
                    )));
                }
            }
            for id in ids {
                let Some(entry) = catalog.table_by_id(id).cloned() else { continue };
                let storage = fresh_storage(&entry.schema);
                catalog.put(TableEntry::new(entry.schema.clone(), storage));
                txn.log_ddl(LogOp::Truncate(id))?;
            }
            txn.catalog = Arc::new(catalog);
            Ok(())
        })
    }

    /// `TRUNCATE … CASCADE`: truncates the tables and every table that
    /// references one of them through a foreign key, transitively. Returns
    /// the names of the tables the cascade added, in the order found.
    pub fn truncate_cascade(&mut self, names: &[&str]) -> Result<Vec<String>> {
        let catalog = self.catalog.clone();
        let mut ids: Vec<TableId> =
            names.iter().map(|n| catalog.table(n).map(|t| t.schema.id)).collect::<Result<_>>()?;
        let mut added = Vec::new();
        let mut next = 0;
        while next < ids.len() {
            let id = ids[next];
            next += 1;
            let mut children: Vec<&TableEntry> =
                catalog.referencing(id).filter(|t| !ids.contains(&t.schema.id)).collect();
            children.sort_by_key(|t| t.schema.id);
            for child in children {
                if !ids.contains(&child.schema.id) {
                    ids.push(child.schema.id);
                    added.push(child.schema.name.clone());
                }
            }
        }
        let mut all: Vec<&str> = names.to_vec();
        all.extend(added.iter().map(String::as_str));
        self.truncate(&all)?;
        Ok(added)
    }

    /// Creates an index and fills it from the existing rows.
    pub fn create_index(&mut self, spec: IndexSpec) -> Result<String> {
        let mut catalog = self.begin_ddl("CREATE INDEX")?;
        self.guarded(|txn| {
            let entry = catalog.table(&spec.table)?.clone();
            let mut schema = (*entry.schema).clone();
            let columns = spec.columns.iter().map(|c| schema.column_index(c)).collect::<Result<Vec<_>>>()?;
            if columns.is_empty() {
                return Err(Error::InvalidDefinition("an index needs at least one column".into()));
            }
            let name = match &spec.name {
                Some(n) if catalog.relation_exists(n) => return Err(Error::DuplicateTable(n.clone())),
                Some(n) => n.clone(),
                None => unique_relation_name(&catalog, &format!("{}_{}_idx", schema.name, spec.columns.join("_"))),
            };
            let index = IndexSchema {
                id: catalog.next_index_id,
                name: name.clone(),
                columns,
                unique: spec.unique,
                primary: false,
                kind: spec.kind,
                constraint: None,
            };
            catalog.next_index_id += 1;
            txn.build_index(&entry.storage, &schema, index.clone())?;
            schema.indexes.push(index);
            txn.log_ddl(LogOp::AlterTable(schema.clone()))?;
            txn.install(catalog, schema, entry.storage)?;
            Ok(name)
        })
    }

    /// Drops an index that backs no constraint.
    pub fn drop_index(&mut self, name: &str) -> Result<()> {
        let catalog = self.begin_ddl("DROP INDEX")?;
        self.guarded(|txn| {
            let (entry, index) = catalog
                .index(name)
                .map(|(e, i)| (e.clone(), i.clone()))
                .ok_or_else(|| Error::UndefinedObject { kind: "index", name: name.to_owned() })?;
            if let Some(constraint) = &index.constraint {
                return Err(Error::DependentObjects(format!(
                    "cannot drop index {name} because constraint {constraint} on table {} requires it",
                    entry.schema.name
                )));
            }
            let mut schema = (*entry.schema).clone();
            schema.indexes.retain(|i| i.id != index.id);
            txn.log_ddl(LogOp::AlterTable(schema.clone()))?;
            txn.install(catalog, schema, entry.storage)
        })
    }

    /// Alters a table.
    pub fn alter_table(&mut self, name: &str, change: AlterTable) -> Result<()> {
        let mut catalog = self.begin_ddl("ALTER TABLE")?;
        self.guarded(|txn| {
            let entry = catalog.table(name)?.clone();
            let mut schema = (*entry.schema).clone();
            let storage = entry.storage.clone();
            match change {
                AlterTable::AddColumn(mut column) => {
                    validate_type(&column.data_type)?;
                    if schema.column_index(&column.name).is_ok() {
                        return Err(Error::DuplicateColumn { table: schema.name.clone(), column: column.name });
                    }
                    let missing = match &column.default {
                        // A default only SQL evaluates: fine while no row
                        // needs a value for the new column.
                        Some(crate::expr::Expr::Sql(text)) => {
                            if has_rows(txn, &storage) {
                                return Err(Error::FeatureNotSupported(format!(
                                    "adding a column whose default {text} needs computing for each existing row"
                                )));
                            }
                            Value::Null
                        }
                        Some(expr) => expr.eval(&[], &EvalContext { now: txn.now })?.coerce_to(&column.data_type)?,
                        None => Value::Null,
                    };
                    if missing.is_null() && !column.nullable && has_rows(txn, &storage) {
                        return Err(Error::NotNullViolation { table: schema.name.clone(), column: column.name });
                    }
                    column.missing = missing;
                    column.dropped = false;
                    let layout = storage.layout();
                    txn.ddl_state()?.undo.push(DdlUndo::RestoreLayout {
                        storage: storage.clone(),
                        types: layout.0.clone(),
                        missing: layout.1.clone(),
                    });
                    schema.columns.push(column);
                    storage.set_layout(
                        schema.physical_types(),
                        schema.columns.iter().map(|c| c.missing.clone()).collect(),
                    );
                }
                AlterTable::DropColumn { name: col, cascade } => {
                    let pos = schema.column_index(&col)?;
                    let doomed: Vec<_> = schema.indexes.iter().filter(|i| i.columns.contains(&pos)).cloned().collect();
                    for index in &doomed {
                        drop_referenced_fks(txn, &mut catalog, &schema, index, cascade)?;
                    }
                    schema.indexes.retain(|i| !i.columns.contains(&pos));
                    schema.checks.retain(|c| !c.expr.references(pos));
                    schema.foreign_keys.retain(|fk| !fk.columns.contains(&pos));
                    if let Some(c) = schema.columns.get_mut(pos) {
                        c.dropped = true;
                        c.name = format!("........pg.dropped.{}........", pos + 1);
                    }
                }
                AlterTable::RenameColumn { from, to } => {
                    let pos = schema.column_index(&from)?;
                    if schema.column_index(&to).is_ok() {
                        return Err(Error::DuplicateColumn { table: schema.name.clone(), column: to });
                    }
                    if let Some(c) = schema.columns.get_mut(pos) {
                        c.name = to;
                    }
                }
                AlterTable::RenameTable(to) => {
                    if catalog.relation_exists(&to) {
                        return Err(Error::DuplicateTable(to));
                    }
                    schema.name = to;
                }
                AlterTable::SetDefault { column, default } => {
                    let pos = schema.column_index(&column)?;
                    if let Some(c) = schema.columns.get_mut(pos) {
                        c.default = default;
                    }
                }
                AlterTable::SetNotNull { column, not_null } => {
                    let pos = schema.column_index(&column)?;
                    if !not_null && schema.indexes.iter().any(|i| i.primary && i.columns.contains(&pos)) {
                        return Err(Error::InvalidDefinition(format!("column \"{column}\" is in a primary key")));
                    }
                    if let Some(c) = schema.columns.get_mut(pos) {
                        c.nullable = !not_null;
                    }
                    if not_null {
                        txn.validate_rows(&storage, &schema)?;
                    }
                }
                AlterTable::AddConstraint(spec) => {
                    add_constraint(txn, &mut catalog, &mut schema, &storage, spec)?;
                }
                AlterTable::DropConstraint { name: constraint, cascade } => {
                    let before = (schema.indexes.len(), schema.checks.len(), schema.foreign_keys.len());
                    let doomed: Vec<_> = schema
                        .indexes
                        .iter()
                        .filter(|i| i.constraint.as_deref() == Some(&constraint))
                        .cloned()
                        .collect();
                    for index in &doomed {
                        drop_referenced_fks(txn, &mut catalog, &schema, index, cascade)?;
                    }
                    schema.indexes.retain(|i| i.constraint.as_deref() != Some(&constraint));
                    schema.checks.retain(|c| c.name != constraint);
                    schema.foreign_keys.retain(|fk| fk.name != constraint);
                    if before == (schema.indexes.len(), schema.checks.len(), schema.foreign_keys.len()) {
                        return Err(Error::UndefinedObject { kind: "constraint", name: constraint });
                    }
                }
            }
            txn.log_ddl(LogOp::AlterTable(schema.clone()))?;
            txn.install(catalog, schema, storage)
        })
    }

    /// `ALTER COLUMN … TYPE`: gives the column a new type and rewrites the
    /// table: `rows` (every row this transaction sees, logical values, the
    /// column already converted by the caller) replace the old rows in a
    /// fresh storage whose indexes are built for the new type. Old
    /// snapshots keep reading the old storage, as after TRUNCATE.
    pub fn alter_column_type(
        &mut self,
        name: &str,
        column: &str,
        data_type: DataType,
        rows: Vec<Vec<Value>>,
    ) -> Result<()> {
        // The caller read `rows` in the current snapshot.
        let read_at = self.snapshot.read_ts;
        let mut catalog = self.begin_ddl("ALTER TABLE")?;
        self.guarded(|txn| {
            validate_type(&data_type)?;
            let entry = catalog.table(name)?.clone();
            txn.ddl_state()?.rewritten.push((entry.storage.clone(), read_at));
            let mut schema = (*entry.schema).clone();
            let pos = schema.column_index(column)?;
            let in_foreign_key = schema.foreign_keys.iter().any(|fk| fk.columns.contains(&pos))
                || catalog.referencing(schema.id).any(|child| {
                    child
                        .schema
                        .foreign_keys
                        .iter()
                        .any(|fk| fk.ref_table == schema.id && fk.ref_columns.contains(&pos))
                });
            // Integer keys compare across widths (int → bigint migrations);
            // other type changes of a key would need the other side's too.
            let integer = |t: &DataType| matches!(t, DataType::Int2 | DataType::Int4 | DataType::Int8);
            let widening = schema.columns.get(pos).is_some_and(|c| integer(&c.data_type)) && integer(&data_type);
            if in_foreign_key && !widening {
                return Err(Error::FeatureNotSupported(format!(
                    "ALTER COLUMN TYPE of column \"{column}\", which is part of a foreign key, to a non-integer type"
                )));
            }
            if let Some(c) = schema.columns.get_mut(pos) {
                // The default now yields the new type.
                c.default = match c.default.take() {
                    Some(Expr::Literal(v)) => Some(Expr::Literal(v.coerce_to(&data_type)?)),
                    // SQL text: the layer above casts it to the column's
                    // type whenever it evaluates it.
                    Some(sql @ Expr::Sql(_)) => Some(sql),
                    Some(other) => Some(Expr::Cast(Box::new(other), data_type.clone())),
                    None => None,
                };
                c.data_type = data_type;
            }
            // Every row is written anew: no row needs a column's value from
            // before the column was added.
            for c in &mut schema.columns {
                c.missing = Value::Null;
            }
            // Replay order: the new definition, then an empty storage built
            // from it (so no index keeps its old key type).
            txn.log_ddl(LogOp::AlterTable(schema.clone()))?;
            txn.log_ddl(LogOp::Truncate(schema.id))?;
            let storage = fresh_storage(&schema);
            catalog.put(TableEntry::new(Arc::new(schema), storage));
            txn.catalog = Arc::new(catalog);
            let table = txn.table(name)?;
            for row in rows {
                txn.insert(&table, row)?;
            }
            Ok(())
        })
    }

    /// Builds an index over every version of every row and attaches it so
    /// concurrent writers maintain it from now on.
    fn build_index(&mut self, storage: &Arc<TableStorage>, schema: &TableSchema, index: IndexSchema) -> Result<()> {
        let built = Arc::new(IndexStorage::new(index.clone(), &schema.physical_types()));
        {
            let _gate = storage.gate.write();
            storage.attach_index(built.clone());
        }
        self.ddl_state()?.undo.push(DdlUndo::DetachIndex { storage: storage.clone(), index: index.id });
        let at = self.shared.newest.load(Ordering::Acquire);
        let filled = fill_index(storage, &built, self.snapshot.own).map_err(|e| e.on_table(&schema.name))?;
        if !index.unique {
            return Ok(());
        }
        if filled == Filled::KeysProven {
            // The fill itself refused duplicates and NULLs among the live
            // rows; rows written since `at` are checked again at commit.
            self.ddl_state()?.validated.push((schema.id, at));
            return Ok(());
        }
        self.validate_rows(storage, &new_index_constraints(schema, index))
    }

    /// Checks NOT NULL, CHECK, UNIQUE and child-side FOREIGN KEY constraints
    /// of `schema` against the newest version of every row, and remembers
    /// to re-check at commit if the table is written in between.
    fn validate_rows(&mut self, storage: &Arc<TableStorage>, schema: &TableSchema) -> Result<()> {
        let at = self.shared.newest.load(Ordering::Acquire);
        check_rows(self, storage, schema)?;
        self.ddl_state()?.validated.push((schema.id, at));
        Ok(())
    }
}

/// Re-validates a table at commit (called by `end` under the commit lock).
pub(crate) fn validate_existing_rows(txn: &mut Transaction, table: TableId) -> Result<()> {
    let Some(entry) = txn.catalog.table_by_id(table).cloned() else { return Ok(()) };
    check_rows(txn, &entry.storage, &entry.schema)
}

/// The newest live version of every row: committed, or this transaction's.
/// Versions of other running transactions count as well, since they may
/// commit: constraint checks must hold for them too.
fn has_rows(txn: &Transaction, storage: &TableStorage) -> bool {
    let own = txn.snapshot.own;
    (0..storage.slab.high_water()).any(|row_id| {
        storage.head(row_id).is_some_and(|head| {
            let end = head.end();
            end == INFINITY || (is_marker(end) && end != own)
        })
    })
}

fn check_rows(txn: &mut Transaction, storage: &Arc<TableStorage>, schema: &TableSchema) -> Result<()> {
    let own = txn.snapshot.own;
    let ctx = EvalContext { now: txn.now };
    // Decode only what the checks read, unless CHECK expressions or
    // foreign keys need whole rows.
    let width = schema.columns.len();
    let mut wanted = vec![!schema.checks.is_empty() || !schema.foreign_keys.is_empty(); width];
    for (i, col) in schema.live_columns() {
        if !col.nullable {
            wanted[i] = true;
        }
    }
    let unique: Vec<&IndexSchema> = schema.indexes.iter().filter(|i| i.unique).collect();
    for index in &unique {
        for &c in &index.columns {
            if let Some(w) = wanted.get_mut(c) {
                *w = true;
            }
        }
    }
    let rows = usize::try_from(storage.slab.high_water()).unwrap_or(0);
    let mut seen: Vec<HashSet<Key>> = unique.iter().map(|_| HashSet::with_capacity(rows)).collect();
    let table = (!schema.foreign_keys.is_empty())
        .then(|| Table::new(&TableEntry::new(Arc::new(schema.clone()), storage.clone())));
    for row_id in 0..storage.slab.high_water() {
        let Some(head) = storage.head(row_id) else { continue };
        let end = head.end();
        if !(end == INFINITY || (is_marker(end) && end != own)) {
            continue;
        }
        let values = storage.decode_selected(&head, &wanted)?;
        for (i, col) in schema.live_columns() {
            if !col.nullable && values.get(i).is_none_or(Value::is_null) {
                return Err(Error::NotNullViolation { table: schema.name.clone(), column: col.name.clone() });
            }
        }
        for check in &schema.checks {
            if !check.expr.check(&values, &ctx)? {
                return Err(Error::CheckViolation { table: schema.name.clone(), constraint: check.name.clone() });
            }
        }
        for (index, seen) in unique.iter().zip(seen.iter_mut()) {
            let key: Vec<Value> =
                index.columns.iter().map(|&c| values.get(c).cloned().unwrap_or(Value::Null)).collect();
            if key.iter().any(Value::is_null) {
                continue;
            }
            if !seen.insert(Key::encode(&key)) {
                let shown = key.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
                return Err(Error::UniqueViolation {
                    table: schema.name.clone(),
                    constraint: index.constraint.clone().unwrap_or_else(|| index.name.clone()),
                    detail: format!("Key ({})=({shown}) is duplicated.", schema.column_names(&index.columns)),
                });
            }
        }
        if let Some(table) = &table {
            txn.check_parents(table, &values, None)?;
        }
    }
    Ok(())
}

/// The constraints a new unique index adds to `schema`: its key unique
/// and, for a primary key, its columns NOT NULL — and nothing the table
/// already guaranteed, so validating a new index rechecks only those.
fn new_index_constraints(schema: &TableSchema, index: IndexSchema) -> TableSchema {
    let mut probe = schema.clone();
    probe.checks.clear();
    probe.foreign_keys.clear();
    for (i, column) in probe.columns.iter_mut().enumerate() {
        column.nullable = !(index.primary && index.columns.contains(&i));
    }
    probe.indexes = vec![index];
    probe
}

/// What filling an index established about the rows' keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Filled {
    /// A primary key filled from rows that no other transaction was
    /// changing: every live key was claimed once and none was NULL.
    KeysProven,
    /// Nothing beyond the entries themselves; a unique index still needs
    /// its rows validated.
    Entries,
}

/// Adds entries for every version of every row (index build and replay).
///
/// A primary key index holds one entry per key, for the row whose newest
/// version has it: every snapshot that can use the new index sees only
/// versions written after it existed, and from then on a new key always
/// makes a new row, so older versions of a chain need no entry.
pub(crate) fn fill_index(storage: &TableStorage, index: &IndexStorage, own: u64) -> Result<Filled> {
    let rows = storage.slab.high_water();
    let threads = if rows < PARALLEL_FILL_ROWS {
        1
    } else {
        std::thread::available_parallelism().map_or(1, usize::from).min(MAX_FILL_THREADS)
    };
    if threads <= 1 {
        return fill_rows(storage, index, own, 0..rows);
    }
    // The index is a concurrent tree: each thread fills a slice of the row
    // ids (memory latency and tree descents dominate, and they overlap).
    let step = rows.div_ceil(threads as u64);
    let results: Vec<Result<Filled>> = std::thread::scope(|scope| {
        let mut results = Vec::with_capacity(threads);
        let mut workers = Vec::with_capacity(threads);
        for i in 0..threads as u64 {
            let range = (i * step).min(rows)..((i + 1) * step).min(rows);
            let spawned = std::thread::Builder::new().name("memdb-index-build".into()).spawn_scoped(scope, {
                let range = range.clone();
                move || fill_rows(storage, index, own, range)
            });
            match spawned {
                Ok(worker) => workers.push(worker),
                // No thread to be had: this slice is filled here.
                Err(_) => results.push(fill_rows(storage, index, own, range)),
            }
        }
        for worker in workers {
            results.push(worker.join().unwrap_or_else(|_| Err(Error::Internal("index build thread panicked".into()))));
        }
        results
    });
    let mut filled = Filled::KeysProven;
    for result in results {
        if result? == Filled::Entries {
            filled = Filled::Entries;
        }
    }
    Ok(filled)
}

/// Tables with at least this many row slots fill an index from several
/// threads.
const PARALLEL_FILL_ROWS: u64 = 100_000;
/// Most threads one index build uses.
const MAX_FILL_THREADS: usize = 4;

/// [`fill_index`] over the rows whose ids lie in `row_ids`.
fn fill_rows(storage: &TableStorage, index: &IndexStorage, own: u64, row_ids: std::ops::Range<u64>) -> Result<Filled> {
    let mut wanted = vec![false; storage.column_count()];
    for &c in &index.schema.columns {
        if let Some(w) = wanted.get_mut(c) {
            *w = true;
        }
    }
    let columns = &index.schema.columns;
    let key_of = |version: &Version| -> Result<Vec<Value>> {
        if columns.len() == 1 {
            storage.decode_key(version, columns)
        } else {
            Ok(index.key_values(&storage.decode_selected(version, &wanted)?))
        }
    };
    if index.schema.primary {
        let mut filled = Filled::KeysProven;
        for row_id in row_ids {
            let Some(head) = storage.head(row_id) else { continue };
            let end = head.end();
            if !(end == INFINITY || (is_marker(end) && end != own)) {
                continue; // deleted
            }
            let begin = head.begin();
            if is_marker(begin) && begin != own {
                // Another transaction is changing the row: either version
                // may be the live one after it ends, so both get entries.
                // If its new key collides, its commit (or ours, whichever is
                // second) fails validation; readers re-check keys.
                let _ = index.insert(&key_of(&head)?, row_id);
                if let Some(below) = head.prev.load_full() {
                    head_key_entry(index, key_of(&below)?, row_id)?;
                }
                filled = Filled::Entries;
                continue;
            }
            let key = key_of(&head)?;
            if key.iter().any(Value::is_null) {
                filled = Filled::Entries; // validation names the column
                continue;
            }
            head_key_entry(index, key, row_id)?;
        }
        return Ok(filled);
    }
    for row_id in row_ids {
        let mut cur = storage.head(row_id);
        while let Some(version) = cur {
            let _ = index.insert(&key_of(&version)?, row_id);
            cur = version.prev.load_full();
        }
    }
    Ok(Filled::Entries)
}

/// Adds a version's primary-key entry; a key another row holds is a
/// violation.
fn head_key_entry(index: &IndexStorage, key: Vec<Value>, row_id: u64) -> Result<()> {
    if index.insert(&key, row_id).is_err() {
        let shown = key.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
        return Err(Error::UniqueViolation {
            table: String::new(),
            constraint: index.schema.constraint.clone().unwrap_or_else(|| index.schema.name.clone()),
            detail: format!("Key ({shown}) is duplicated."),
        });
    }
    Ok(())
}

/// An empty storage with the same layout and (empty) indexes.
pub(crate) fn fresh_storage(schema: &TableSchema) -> Arc<TableStorage> {
    let storage = TableStorage::new(
        schema.id,
        schema.physical_types(),
        schema.columns.iter().map(|c| c.missing.clone()).collect(),
    );
    let types = schema.physical_types();
    storage.set_indexes(schema.indexes.iter().map(|i| Arc::new(IndexStorage::new(i.clone(), &types))).collect());
    Arc::new(storage)
}

fn validate_type(ty: &DataType) -> Result<()> {
    match ty {
        DataType::Varchar(Some(0)) => {
            Err(Error::InvalidDefinition("length for type varchar must be at least 1".into()))
        }
        DataType::Char(0) => Err(Error::InvalidDefinition("length for type char must be at least 1".into())),
        DataType::Numeric(Some(m)) if m.precision == 0 || m.precision > 28 || m.scale > m.precision => {
            Err(Error::InvalidDefinition(format!("NUMERIC precision {} must be between 1 and 28", m.precision)))
        }
        DataType::Array(elem) => validate_type(elem),
        _ => Ok(()),
    }
}

/// A relation name not yet taken: `base`, else `base1`, `base2`, ...
fn unique_relation_name(catalog: &Catalog, base: &str) -> String {
    if !catalog.relation_exists(base) {
        return base.to_owned();
    }
    (1..).map(|n| format!("{base}{n}")).find(|n| !catalog.relation_exists(n)).unwrap_or_else(|| base.to_owned())
}

fn unique_constraint_name(schema: &TableSchema, catalog: &Catalog, base: &str) -> String {
    let taken = |n: &str| {
        catalog.relation_exists(n)
            || schema.checks.iter().any(|c| c.name == n)
            || schema.foreign_keys.iter().any(|f| f.name == n)
            || schema.indexes.iter().any(|i| i.name == n)
    };
    if !taken(base) {
        return base.to_owned();
    }
    (1..).map(|n| format!("{base}{n}")).find(|n| !taken(n)).unwrap_or_else(|| base.to_owned())
}

/// Resolves a constraint against the table and adds it (building indexes
/// and validating existing rows as needed).
fn add_constraint(
    txn: &mut Transaction,
    catalog: &mut Catalog,
    schema: &mut TableSchema,
    storage: &Arc<TableStorage>,
    spec: ConstraintSpec,
) -> Result<()> {
    match spec {
        ConstraintSpec::PrimaryKey { name, columns } | ConstraintSpec::Unique { name, columns }
            if columns.is_empty() =>
        {
            let _ = name;
            Err(Error::InvalidDefinition("a key needs at least one column".into()))
        }
        ConstraintSpec::PrimaryKey { name, columns } => {
            if schema.primary_key_index().is_some() {
                return Err(Error::InvalidDefinition(format!(
                    "multiple primary keys for table \"{}\" are not allowed",
                    schema.name
                )));
            }
            let cols = columns.iter().map(|c| schema.column_index(c)).collect::<Result<Vec<_>>>()?;
            for &c in &cols {
                if let Some(col) = schema.columns.get_mut(c) {
                    col.nullable = false;
                }
            }
            let name = match name {
                Some(n) if catalog.relation_exists(&n) => return Err(Error::DuplicateTable(n)),
                Some(n) => n,
                None => unique_relation_name(catalog, &format!("{}_pkey", schema.name)),
            };
            let index = IndexSchema {
                id: catalog.next_index_id,
                name: name.clone(),
                columns: cols,
                unique: true,
                primary: true,
                kind: IndexKind::BTree,
                constraint: Some(name),
            };
            catalog.next_index_id += 1;
            // Building the index checks its columns for NULLs as well.
            txn.build_index(storage, schema, index.clone())?;
            schema.indexes.push(index);
            Ok(())
        }
        ConstraintSpec::Unique { name, columns } => {
            let cols = columns.iter().map(|c| schema.column_index(c)).collect::<Result<Vec<_>>>()?;
            let name = match name {
                Some(n) if catalog.relation_exists(&n) => return Err(Error::DuplicateTable(n)),
                Some(n) => n,
                None => unique_relation_name(catalog, &format!("{}_{}_key", schema.name, columns.join("_"))),
            };
            let index = IndexSchema {
                id: catalog.next_index_id,
                name: name.clone(),
                columns: cols,
                unique: true,
                primary: false,
                kind: IndexKind::BTree,
                constraint: Some(name),
            };
            catalog.next_index_id += 1;
            txn.build_index(storage, schema, index.clone())?;
            schema.indexes.push(index);
            Ok(())
        }
        ConstraintSpec::Check { name, expr } => {
            let first = schema.live_columns().find(|(i, _)| expr.references(*i)).map(|(_, c)| c.name.clone());
            let base = match first {
                Some(col) => format!("{}_{col}_check", schema.name),
                None => format!("{}_check", schema.name),
            };
            let name = name.unwrap_or_else(|| unique_constraint_name(schema, catalog, &base));
            schema.checks.push(CheckConstraint { name, expr });
            txn.validate_rows(storage, schema)
        }
        ConstraintSpec::ForeignKey { name, columns, ref_table, ref_columns, on_delete, on_update } => {
            let cols = columns.iter().map(|c| schema.column_index(c)).collect::<Result<Vec<_>>>()?;
            let parent =
                if ref_table == schema.name { schema.clone() } else { (*catalog.table(&ref_table)?.schema).clone() };
            let ref_cols = if ref_columns.is_empty() {
                parent.primary_key_index().map(|i| i.columns.clone()).ok_or_else(|| {
                    Error::InvalidDefinition(format!("there is no primary key for referenced table \"{ref_table}\""))
                })?
            } else {
                ref_columns.iter().map(|c| parent.column_index(c)).collect::<Result<Vec<_>>>()?
            };
            if ref_cols.len() != cols.len() {
                return Err(Error::InvalidDefinition(
                    "number of referencing and referenced columns for foreign key disagree".into(),
                ));
            }
            if !parent.indexes.iter().any(|i| i.unique && i.columns == ref_cols) {
                return Err(Error::InvalidDefinition(format!(
                    "there is no unique constraint matching given keys for referenced table \"{ref_table}\""
                )));
            }
            for (&c, &r) in cols.iter().zip(&ref_cols) {
                let (a, b) = (&schema.columns[c].data_type, &parent.columns[r].data_type);
                if !comparable(a, b) {
                    return Err(Error::DatatypeMismatch(format!(
                        "foreign key constraint cannot be implemented: key columns are of incompatible types: {a} and {b}"
                    )));
                }
            }
            if (matches!(on_delete, FkAction::SetNull) || matches!(on_update, FkAction::SetNull))
                && let Some(c) = cols.iter().find(|&&c| !schema.columns[c].nullable)
            {
                return Err(Error::InvalidDefinition(format!(
                    "column \"{}\" referenced by SET NULL action is NOT NULL",
                    schema.columns[*c].name
                )));
            }
            let base = format!("{}_{}_fkey", schema.name, columns.join("_"));
            let name = name.unwrap_or_else(|| unique_constraint_name(schema, catalog, &base));
            schema.foreign_keys.push(ForeignKey {
                name,
                columns: cols,
                ref_table: parent.id,
                ref_columns: ref_cols,
                on_delete,
                on_update,
            });
            // The parent must be visible to the checks through the catalog.
            catalog.put(TableEntry::new(Arc::new(schema.clone()), storage.clone()));
            txn.catalog = Arc::new(catalog.clone());
            txn.validate_rows(storage, schema)
        }
    }
}

fn comparable(a: &DataType, b: &DataType) -> bool {
    use DataType::*;
    let family = |t: &DataType| match t {
        Int2 | Int4 | Int8 | Float4 | Float8 | Numeric(_) => 1,
        Text | Varchar(_) | Char(_) => 2,
        Timestamp | TimestampTz | Date => 3,
        _ => 0,
    };
    a == b || (family(a) != 0 && family(a) == family(b))
}

/// Drops (with cascade) or refuses to drop foreign keys of other tables
/// that rely on a unique index about to go.
fn drop_referenced_fks(
    txn: &mut Transaction,
    catalog: &mut Catalog,
    schema: &TableSchema,
    index: &IndexSchema,
    cascade: bool,
) -> Result<()> {
    if !index.unique {
        return Ok(());
    }
    let dependents: Vec<TableEntry> = catalog
        .referencing(schema.id)
        .filter(|t| t.schema.id != schema.id)
        .filter(|t| t.schema.foreign_keys.iter().any(|fk| fk.ref_table == schema.id && fk.ref_columns == index.columns))
        .cloned()
        .collect();
    if dependents.is_empty() {
        return Ok(());
    }
    if !cascade {
        return Err(Error::DependentObjects(format!(
            "cannot drop constraint {} on table {} because other objects depend on it",
            index.constraint.as_deref().unwrap_or(&index.name),
            schema.name
        )));
    }
    for dep in dependents {
        let mut dep_schema = (*dep.schema).clone();
        dep_schema.foreign_keys.retain(|fk| !(fk.ref_table == schema.id && fk.ref_columns == index.columns));
        txn.log_ddl(LogOp::AlterTable(dep_schema.clone()))?;
        catalog.put(TableEntry::new(Arc::new(dep_schema), dep.storage.clone()));
    }
    Ok(())
}
