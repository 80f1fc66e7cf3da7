//! The catalog: which tables and indexes exist, as of some commit.
//!
//! A [`Catalog`] is an immutable value; DDL in a transaction works on a
//! private copy, and commit installs that copy as the newest version,
//! stamped with the commit timestamp. Older versions stay available to
//! snapshots that began before the change, so a transaction sees the schema
//! of its own snapshot and DDL is transactional like data.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::mvcc::Timestamp;
use crate::schema::{IndexId, IndexSchema, TableId, TableSchema};
use crate::sequence::{SequenceId, SequenceSchema, SequenceState};
use crate::storage::table::TableStorage;

/// A table as the catalog knows it: its definition and its storage.
#[derive(Clone)]
pub(crate) struct TableEntry {
    pub schema: Arc<TableSchema>,
    pub storage: Arc<TableStorage>,
    /// Physical positions of the live columns, in logical order.
    pub live: Arc<[usize]>,
}

impl TableEntry {
    pub fn new(schema: Arc<TableSchema>, storage: Arc<TableStorage>) -> TableEntry {
        let live = schema.live_columns().map(|(i, _)| i).collect();
        TableEntry { schema, storage, live }
    }
}

/// A sequence as the catalog knows it: definition and live position.
#[derive(Clone)]
pub(crate) struct SequenceEntry {
    pub schema: Arc<SequenceSchema>,
    pub state: Arc<SequenceState>,
}

/// One version of the catalog.
#[derive(Clone, Default)]
pub(crate) struct Catalog {
    /// Commit timestamp that installed this version.
    pub committed_at: Timestamp,
    tables: BTreeMap<String, TableEntry>,
    names: BTreeMap<TableId, String>,
    pub next_table_id: TableId,
    pub next_index_id: IndexId,
    /// Tables some foreign key references (kept by `put` and `remove`).
    referenced: std::collections::BTreeSet<TableId>,
    sequences: BTreeMap<String, SequenceEntry>,
    pub next_sequence_id: SequenceId,
    /// Roles, grants and API keys.
    pub security: Arc<crate::security::Security>,
}

impl Catalog {
    /// An empty catalog; ids start at 1.
    pub fn new() -> Catalog {
        Catalog { next_table_id: 1, next_index_id: 1, next_sequence_id: 1, ..Catalog::default() }
    }

    /// A table by name.
    pub fn table(&self, name: &str) -> Result<&TableEntry> {
        self.tables.get(name).ok_or_else(|| Error::UndefinedTable(name.to_owned()))
    }

    /// A table by id.
    pub fn table_by_id(&self, id: TableId) -> Option<&TableEntry> {
        self.tables.get(self.names.get(&id)?)
    }

    /// Every table, by name.
    pub fn tables(&self) -> impl Iterator<Item = &TableEntry> {
        self.tables.values()
    }

    /// The table owning an index, and the index, by index name.
    pub fn index(&self, name: &str) -> Option<(&TableEntry, &IndexSchema)> {
        self.tables.values().find_map(|t| t.schema.index(name).map(|i| (t, i)))
    }

    /// Whether a relation (table or index) has this name.
    pub fn relation_exists(&self, name: &str) -> bool {
        self.tables.contains_key(name) || self.sequences.contains_key(name) || self.index(name).is_some()
    }

    /// A sequence by name.
    pub fn sequence(&self, name: &str) -> Result<&SequenceEntry> {
        self.sequences.get(name).ok_or_else(|| Error::UndefinedTable(name.to_owned()))
    }

    /// A sequence by id.
    pub fn sequence_by_id(&self, id: SequenceId) -> Option<&SequenceEntry> {
        self.sequences.values().find(|s| s.schema.id == id)
    }

    /// Every sequence.
    pub fn sequences(&self) -> impl Iterator<Item = &SequenceEntry> {
        self.sequences.values()
    }

    /// Adds a sequence.
    pub fn put_sequence(&mut self, entry: SequenceEntry) {
        self.next_sequence_id = self.next_sequence_id.max(entry.schema.id + 1);
        self.sequences.insert(entry.schema.name.clone(), entry);
    }

    /// Removes a sequence by id.
    pub fn remove_sequence(&mut self, id: SequenceId) -> Option<SequenceEntry> {
        let name = self.sequences.values().find(|s| s.schema.id == id)?.schema.name.clone();
        self.sequences.remove(&name)
    }

    /// Adds or replaces a table (keyed by id; a rename moves it).
    pub fn put(&mut self, entry: TableEntry) {
        if let Some(old) = self.names.insert(entry.schema.id, entry.schema.name.clone()) {
            self.tables.remove(&old);
        }
        self.next_table_id = self.next_table_id.max(entry.schema.id + 1);
        for index in &entry.schema.indexes {
            self.next_index_id = self.next_index_id.max(index.id + 1);
        }
        self.tables.insert(entry.schema.name.clone(), entry);
        self.refresh_referenced();
    }

    fn refresh_referenced(&mut self) {
        self.referenced =
            self.tables.values().flat_map(|t| t.schema.foreign_keys.iter().map(|fk| fk.ref_table)).collect();
    }

    /// Removes a table by id.
    pub fn remove(&mut self, id: TableId) -> Option<TableEntry> {
        let name = self.names.remove(&id)?;
        let removed = self.tables.remove(&name);
        if self.security.grants().any(|(_, table, _)| table == id) {
            Arc::make_mut(&mut self.security).forget_table(id);
        }
        self.refresh_referenced();
        removed
    }

    /// Whether any foreign key references table `id`.
    pub fn is_referenced(&self, id: TableId) -> bool {
        self.referenced.contains(&id)
    }

    /// Tables whose foreign keys reference table `id` (other than itself).
    pub fn referencing(&self, id: TableId) -> impl Iterator<Item = &TableEntry> {
        self.tables.values().filter(move |t| t.schema.foreign_keys.iter().any(|fk| fk.ref_table == id))
    }
}

/// The committed catalog versions that live snapshots may still need.
#[derive(Default)]
pub(crate) struct CatalogHistory {
    versions: Vec<Arc<Catalog>>,
}

impl CatalogHistory {
    pub fn new(initial: Arc<Catalog>) -> CatalogHistory {
        CatalogHistory { versions: vec![initial] }
    }

    /// The newest version committed at or before `ts`.
    pub fn as_of(&self, ts: Timestamp) -> Option<Arc<Catalog>> {
        self.versions.iter().rev().find(|c| c.committed_at <= ts).cloned()
    }

    /// Installs a new version.
    pub fn push(&mut self, catalog: Arc<Catalog>) {
        self.versions.push(catalog);
    }

    /// Forgets versions no snapshot at or after `watermark` can use.
    pub fn trim(&mut self, watermark: Timestamp) {
        let keep_from = self.versions.iter().rposition(|c| c.committed_at <= watermark).unwrap_or(0);
        self.versions.drain(..keep_from);
    }

    /// How many versions are kept.
    pub fn len(&self) -> usize {
        self.versions.len()
    }
}
