//! Sequences in a transaction: create and drop (DDL), `nextval`, `setval`.

use std::sync::Arc;

use crate::catalog::SequenceEntry;
use crate::commitlog::LogOp;
use crate::error::{Error, Result};
use crate::sequence::{SequencePosition, SequenceSchema, SequenceState};
use crate::txn::Transaction;

impl Transaction {
    /// Creates a sequence (transactional, like any DDL).
    pub fn create_sequence(&mut self, schema: SequenceSchema) -> Result<()> {
        let mut catalog = self.begin_ddl("CREATE SEQUENCE")?;
        self.guarded(move |txn| {
            if catalog.relation_exists(&schema.name) {
                return Err(Error::DuplicateTable(schema.name.clone()));
            }
            schema.validate()?;
            let mut schema = schema;
            schema.id = catalog.next_sequence_id;
            let state = Arc::new(SequenceState::new(&schema));
            catalog.put_sequence(SequenceEntry { schema: Arc::new(schema.clone()), state });
            txn.catalog = Arc::new(catalog);
            txn.log_ddl(LogOp::CreateSequence(schema))
        })
    }

    /// Drops a sequence.
    pub fn drop_sequence(&mut self, name: &str) -> Result<()> {
        let mut catalog = self.begin_ddl("DROP SEQUENCE")?;
        self.guarded(|txn| {
            let id = catalog.sequence(name)?.schema.id;
            catalog.remove_sequence(id);
            txn.catalog = Arc::new(catalog);
            txn.log_ddl(LogOp::DropSequence(id))
        })
    }

    /// `ALTER SEQUENCE`: replaces the definition of sequence `name` with
    /// `schema` (its id and name are kept; transactional, like any DDL).
    /// The position carries over, or moves to `restart` (next value), which
    /// like `setval` is not undone by a rollback.
    pub fn alter_sequence(&mut self, name: &str, schema: SequenceSchema, restart: Option<i64>) -> Result<()> {
        let mut catalog = self.begin_ddl("ALTER SEQUENCE")?;
        self.guarded(move |txn| {
            let entry = catalog.sequence(name)?.clone();
            let mut schema = schema;
            schema.id = entry.schema.id;
            schema.name.clone_from(&entry.schema.name);
            schema.validate()?;
            let altered = SequenceEntry { schema: Arc::new(schema.clone()), state: entry.state.clone() };
            catalog.put_sequence(altered.clone());
            txn.catalog = Arc::new(catalog);
            // Replay: the new definition, then the position below.
            txn.log_ddl(LogOp::DropSequence(schema.id))?;
            txn.log_ddl(LogOp::CreateSequence(schema.clone()))?;
            let position = match restart {
                Some(value) => altered.state.set(&schema, value, false)?,
                None => altered.state.position(),
            };
            txn.note_sequence(&altered, position, true);
            Ok(())
        })
    }

    /// A sequence's definition and current position.
    pub fn sequence(&self, name: &str) -> Result<(SequenceSchema, SequencePosition)> {
        let entry = self.catalog.sequence(name)?;
        Ok(((*entry.schema).clone(), entry.state.position()))
    }

    /// Names of all sequences this transaction sees.
    pub fn sequence_names(&self) -> Vec<String> {
        self.catalog.sequences().map(|s| s.schema.name.clone()).collect()
    }

    /// The sequence's next value. Not undone by a rollback.
    pub fn nextval(&mut self, name: &str) -> Result<i64> {
        self.check_writable("nextval()")?;
        let entry = self.catalog.sequence(name)?.clone();
        let value = entry.state.next(&entry.schema)?;
        self.note_sequence(&entry, SequencePosition { last: value, called: true }, false);
        Ok(value)
    }

    /// `setval(name, value, is_called)`: moves the sequence. Not undone by a
    /// rollback.
    pub fn setval(&mut self, name: &str, value: i64, is_called: bool) -> Result<i64> {
        self.check_writable("setval()")?;
        let entry = self.catalog.sequence(name)?.clone();
        let position = entry.state.set(&entry.schema, value, is_called)?;
        self.note_sequence(&entry, position, true);
        Ok(value)
    }

    /// Remembers the sequence's position for the commit record: the last
    /// position per sequence, a set once set.
    fn note_sequence(&mut self, entry: &SequenceEntry, position: SequencePosition, set: bool) {
        let id = entry.schema.id;
        match self.sequences.iter_mut().find(|(s, _, _)| *s == id) {
            Some(noted) => {
                noted.1 = position;
                noted.2 |= set;
            }
            None => self.sequences.push((id, position, set)),
        }
    }
}
