//! Physical storage of tables: the row slab (row id → version chain) and
//! the indexes (encoded key → row id).
//!
//! Rows live in a [`slab::RowSlab`] addressed by a 64-bit row id that never
//! changes for the life of the row; every index, the primary key included,
//! maps keys to row ids. A table without a primary key is simply a table
//! whose rows are found by row id. Index entries are kept for *every*
//! version in a chain, so a reader that reaches a row through an index
//! checks that the version it sees still has the key it searched for.

pub(crate) mod index;
pub(crate) mod slab;
pub(crate) mod table;

/// A row's identity within its table.
pub type RowId = u64;
