//! Sequences: `CREATE SEQUENCE`, `SERIAL` / `IDENTITY` columns,
//! `nextval` / `setval`.
//!
//! A sequence's definition is a catalog object (created and dropped
//! transactionally, a relation name like tables and indexes); its position
//! is not transactional, as in PostgreSQL: a value handed out by `nextval`
//! is never handed out again, even if the transaction that took it rolls
//! back.
//!
//! Durability rides on the commit log: a transaction that took values logs,
//! in its commit record, the furthest position it reached for each sequence;
//! replay keeps the furthest position of all records. So every value that a
//! committed transaction used stays used after recovery. (A value taken by
//! a transaction that never committed may be handed out again after a
//! crash; nothing committed holds it.)

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Identifies a sequence for its whole life.
pub type SequenceId = u32;

/// A sequence definition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SequenceSchema {
    /// Sequence id (assigned by the engine on create).
    pub id: SequenceId,
    /// Relation name.
    pub name: String,
    /// First value.
    pub start: i64,
    /// Step (never 0; negative counts down).
    pub increment: i64,
    /// Smallest value.
    pub min: i64,
    /// Largest value.
    pub max: i64,
    /// Whether to wrap around at the end instead of failing.
    pub cycle: bool,
    /// The table (and physical column) whose column owns the sequence
    /// (`SERIAL`): dropping the table drops the sequence.
    pub owned_by: Option<(crate::schema::TableId, usize)>,
}

impl SequenceSchema {
    /// An ascending sequence 1, 2, 3, … up to `i64::MAX`, as `CREATE
    /// SEQUENCE name` makes.
    pub fn new(name: impl Into<String>) -> SequenceSchema {
        SequenceSchema {
            id: 0,
            name: name.into(),
            start: 1,
            increment: 1,
            min: 1,
            max: i64::MAX,
            cycle: false,
            owned_by: None,
        }
    }

    /// Checks the definition as PostgreSQL does.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidParameter(m));
        if self.increment == 0 {
            return bad("INCREMENT must not be zero".into());
        }
        if self.min >= self.max {
            return bad(format!("MINVALUE ({}) must be less than MAXVALUE ({})", self.min, self.max));
        }
        if self.start < self.min {
            return bad(format!("START value ({}) cannot be less than MINVALUE ({})", self.start, self.min));
        }
        if self.start > self.max {
            return bad(format!("START value ({}) cannot be greater than MAXVALUE ({})", self.start, self.max));
        }
        Ok(())
    }
}

/// Where a sequence stands: the last value handed out (or set), and
/// whether it was handed out (`is_called`; if not, `nextval` returns it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SequencePosition {
    /// The last value.
    pub last: i64,
    /// Whether `last` itself was already returned.
    pub called: bool,
}

/// The live position of one sequence, shared by all transactions.
#[derive(Debug)]
pub(crate) struct SequenceState {
    position: Mutex<SequencePosition>,
}

impl SequenceState {
    pub fn new(schema: &SequenceSchema) -> SequenceState {
        SequenceState { position: Mutex::new(SequencePosition { last: schema.start, called: false }) }
    }

    /// Hands out the next value.
    pub fn next(&self, schema: &SequenceSchema) -> Result<i64> {
        let mut pos = self.position.lock();
        if !pos.called {
            pos.called = true;
            return Ok(pos.last);
        }
        let next = pos.last.checked_add(schema.increment).filter(|v| (schema.min..=schema.max).contains(v));
        let value = match next {
            Some(v) => v,
            None if schema.cycle => {
                if schema.increment > 0 {
                    schema.min
                } else {
                    schema.max
                }
            }
            None => {
                let end = if schema.increment > 0 { "maximum" } else { "minimum" };
                let limit = if schema.increment > 0 { schema.max } else { schema.min };
                return Err(Error::SequenceLimit(format!(
                    "nextval: reached {end} value of sequence \"{}\" ({limit})",
                    schema.name
                )));
            }
        };
        pos.last = value;
        Ok(value)
    }

    /// `setval`: moves the sequence.
    pub fn set(&self, schema: &SequenceSchema, value: i64, called: bool) -> Result<SequencePosition> {
        if !(schema.min..=schema.max).contains(&value) {
            return Err(Error::SequenceLimit(format!(
                "setval: value {value} is out of bounds for sequence \"{}\" ({}..{})",
                schema.name, schema.min, schema.max
            )));
        }
        let mut pos = self.position.lock();
        *pos = SequencePosition { last: value, called };
        Ok(*pos)
    }

    /// The current position.
    pub fn position(&self) -> SequencePosition {
        *self.position.lock()
    }

    /// Replay: moves forward to `to` if it is further along than where the
    /// sequence stands (records of concurrent transactions may arrive with
    /// an earlier position after a later one).
    pub fn advance_to(&self, schema: &SequenceSchema, to: SequencePosition) {
        let mut pos = self.position.lock();
        let ahead = |a: &SequencePosition, b: &SequencePosition| {
            let (a_last, b_last) = (i128::from(a.last), i128::from(b.last));
            let rank = |p: &SequencePosition, last: i128| (if schema.increment > 0 { last } else { -last }, p.called);
            rank(a, a_last) > rank(b, b_last)
        };
        if ahead(&to, &pos) || schema.cycle {
            *pos = to;
        }
    }

    /// Replay of `setval`: the position as given.
    pub fn reset(&self, to: SequencePosition) {
        *self.position.lock() = to;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_up_stops_or_cycles_and_can_be_set() {
        let mut schema = SequenceSchema::new("s");
        schema.max = 3;
        let state = SequenceState::new(&schema);
        assert_eq!((state.next(&schema), state.next(&schema), state.next(&schema)), (Ok(1), Ok(2), Ok(3)));
        assert_eq!(state.next(&schema).map_err(|e| e.sqlstate()), Err("2200H"));
        schema.cycle = true;
        assert_eq!(state.next(&schema), Ok(1));
        assert!(state.set(&schema, 9, true).is_err());
        state.set(&schema, 2, false).unwrap();
        assert_eq!(state.next(&schema), Ok(2));
        let mut down = SequenceSchema::new("d");
        (down.increment, down.min, down.max, down.start) = (-5, -20, 0, 0);
        let d = SequenceState::new(&down);
        assert_eq!((d.next(&down), d.next(&down)), (Ok(0), Ok(-5)));
        assert!(SequenceSchema { increment: 0, ..SequenceSchema::new("z") }.validate().is_err());
    }

    #[test]
    fn replay_keeps_the_furthest_position() {
        let schema = SequenceSchema::new("s");
        let state = SequenceState::new(&schema);
        state.advance_to(&schema, SequencePosition { last: 10, called: true });
        state.advance_to(&schema, SequencePosition { last: 7, called: true });
        assert_eq!(state.position(), SequencePosition { last: 10, called: true });
        assert_eq!(state.next(&schema), Ok(11));
    }
}
