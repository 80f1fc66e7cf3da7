//! Table, column, index and constraint definitions.
//!
//! A [`TableSchema`] is what the catalog stores for a table. Columns are kept
//! in their *physical* order, including dropped ones (marked `dropped`), so
//! stored rows never need rewriting: a dropped column's values are ignored and
//! an added column is filled from its `missing` value in rows written before
//! it existed, as PostgreSQL does. Callers describe new tables with the
//! builder methods; the engine assigns ids and constraint names on create.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::expr::Expr;
use crate::types::{DataType, Value};

/// Identifies a table for its whole life (names can change).
pub type TableId = u32;
/// Identifies an index (unique across the database).
pub type IndexId = u32;

/// A column definition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Column {
    /// The column name.
    pub name: String,
    /// The declared type.
    pub data_type: DataType,
    /// Whether NULL may be stored.
    pub nullable: bool,
    /// The default expression used when an insert leaves the column out.
    pub default: Option<Expr>,
    /// The value rows written before the column existed read as.
    pub missing: Value,
    /// Whether the column was dropped (kept for the physical layout).
    pub dropped: bool,
}

impl Column {
    /// A nullable column without a default.
    pub fn new(name: impl Into<String>, data_type: DataType) -> Column {
        Column { name: name.into(), data_type, nullable: true, default: None, missing: Value::Null, dropped: false }
    }

    /// Marks the column NOT NULL.
    pub fn not_null(mut self) -> Column {
        self.nullable = false;
        self
    }

    /// Sets the column's default expression.
    pub fn default(mut self, expr: impl Into<Expr>) -> Column {
        self.default = Some(expr.into());
        self
    }
}

/// How an index is organized.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum IndexKind {
    /// Ordered (B+tree): point lookups, ranges, ordered scans both ways.
    BTree,
    /// Hash: exact-match lookups only.
    Hash,
}

/// An index over one or more columns of a table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IndexSchema {
    /// Database-wide index id.
    pub id: IndexId,
    /// Index name (a relation name, unique among tables and indexes).
    pub name: String,
    /// Physical column positions, in key order.
    pub columns: Vec<usize>,
    /// Whether the key must be unique among live rows (NULLs are distinct).
    pub unique: bool,
    /// Whether this is the table's primary key.
    pub primary: bool,
    /// B+tree or hash.
    pub kind: IndexKind,
    /// The constraint it backs (`PRIMARY KEY` / `UNIQUE`), if any.
    pub constraint: Option<String>,
}

/// A `CHECK` constraint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckConstraint {
    /// Constraint name.
    pub name: String,
    /// A row passes unless this evaluates to false (NULL passes).
    pub expr: Expr,
}

/// What happens to referencing rows when a referenced key is deleted or
/// changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum FkAction {
    /// Fail at the end of the statement if references remain (the default).
    #[default]
    NoAction,
    /// Fail at once if references exist.
    Restrict,
    /// Delete or update the referencing rows too.
    Cascade,
    /// Set the referencing columns to NULL.
    SetNull,
    /// Set the referencing columns to their defaults.
    SetDefault,
}

/// A `FOREIGN KEY` constraint of the referencing (child) table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ForeignKey {
    /// Constraint name.
    pub name: String,
    /// Referencing columns (physical positions in this table).
    pub columns: Vec<usize>,
    /// The referenced table.
    pub ref_table: TableId,
    /// Referenced columns (physical positions), covered by a unique index.
    pub ref_columns: Vec<usize>,
    /// Action on delete of the referenced row.
    pub on_delete: FkAction,
    /// Action on update of the referenced key.
    pub on_update: FkAction,
}

/// A table definition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TableSchema {
    /// Table id (assigned by the engine on create).
    pub id: TableId,
    /// Table name.
    pub name: String,
    /// Columns in physical order, dropped ones included.
    pub columns: Vec<Column>,
    /// Indexes, the primary key (if any) among them.
    pub indexes: Vec<IndexSchema>,
    /// CHECK constraints.
    pub checks: Vec<CheckConstraint>,
    /// FOREIGN KEY constraints of this table.
    pub foreign_keys: Vec<ForeignKey>,
    /// Constraints requested through the builder, resolved on create.
    #[serde(skip)]
    pub(crate) pending: Vec<ConstraintSpec>,
}

/// A constraint described by name, resolved against the table on create or
/// `ALTER TABLE ... ADD CONSTRAINT`.
#[derive(Clone, Debug, PartialEq)]
pub enum ConstraintSpec {
    /// `PRIMARY KEY (columns)`.
    PrimaryKey {
        /// Optional constraint name (default `<table>_pkey`).
        name: Option<String>,
        /// Column names.
        columns: Vec<String>,
    },
    /// `UNIQUE (columns)`.
    Unique {
        /// Optional constraint name (default `<table>_<cols>_key`).
        name: Option<String>,
        /// Column names.
        columns: Vec<String>,
    },
    /// `CHECK (expr)`; the expression refers to columns by physical position.
    Check {
        /// Optional constraint name (default `<table>_<col>_check`).
        name: Option<String>,
        /// The expression.
        expr: Expr,
    },
    /// `FOREIGN KEY (columns) REFERENCES table (ref_columns)`.
    ForeignKey {
        /// Optional constraint name (default `<table>_<cols>_fkey`).
        name: Option<String>,
        /// Referencing column names.
        columns: Vec<String>,
        /// Referenced table name.
        ref_table: String,
        /// Referenced columns; empty means its primary key.
        ref_columns: Vec<String>,
        /// On delete.
        on_delete: FkAction,
        /// On update.
        on_update: FkAction,
    },
}

impl TableSchema {
    /// A new table definition with no columns yet.
    pub fn new(name: impl Into<String>) -> TableSchema {
        TableSchema {
            id: 0,
            name: name.into(),
            columns: Vec::new(),
            indexes: Vec::new(),
            checks: Vec::new(),
            foreign_keys: Vec::new(),
            pending: Vec::new(),
        }
    }

    /// Adds a column.
    pub fn column(mut self, column: Column) -> TableSchema {
        self.columns.push(column);
        self
    }

    /// Declares the primary key (columns become NOT NULL).
    pub fn primary_key<S: Into<String>>(mut self, columns: impl IntoIterator<Item = S>) -> TableSchema {
        let columns = columns.into_iter().map(Into::into).collect();
        self.pending.push(ConstraintSpec::PrimaryKey { name: None, columns });
        self
    }

    /// Declares a UNIQUE constraint.
    pub fn unique<S: Into<String>>(mut self, columns: impl IntoIterator<Item = S>) -> TableSchema {
        let columns = columns.into_iter().map(Into::into).collect();
        self.pending.push(ConstraintSpec::Unique { name: None, columns });
        self
    }

    /// Declares a CHECK constraint.
    pub fn check(mut self, name: Option<&str>, expr: Expr) -> TableSchema {
        self.pending.push(ConstraintSpec::Check { name: name.map(str::to_owned), expr });
        self
    }

    /// Adds any constraint.
    pub fn constraint(mut self, spec: ConstraintSpec) -> TableSchema {
        self.pending.push(spec);
        self
    }

    /// Declares a FOREIGN KEY referencing `ref_table`'s primary key.
    pub fn foreign_key<S: Into<String>>(
        mut self,
        columns: impl IntoIterator<Item = S>,
        ref_table: &str,
        on_delete: FkAction,
    ) -> TableSchema {
        self.pending.push(ConstraintSpec::ForeignKey {
            name: None,
            columns: columns.into_iter().map(Into::into).collect(),
            ref_table: ref_table.to_owned(),
            ref_columns: Vec::new(),
            on_delete,
            on_update: FkAction::NoAction,
        });
        self
    }

    /// The physical column types (dropped columns included).
    pub fn physical_types(&self) -> Vec<DataType> {
        self.columns.iter().map(|c| c.data_type.clone()).collect()
    }

    /// The live (not dropped) columns with their physical positions.
    pub fn live_columns(&self) -> impl Iterator<Item = (usize, &Column)> {
        self.columns.iter().enumerate().filter(|(_, c)| !c.dropped)
    }

    /// The physical position of a live column by name.
    pub fn column_index(&self, name: &str) -> Result<usize> {
        self.live_columns()
            .find(|(_, c)| c.name == name)
            .map(|(i, _)| i)
            .ok_or_else(|| Error::UndefinedColumn { table: self.name.clone(), column: name.to_owned() })
    }

    /// The primary key index, if the table has one.
    pub fn primary_key_index(&self) -> Option<&IndexSchema> {
        self.indexes.iter().find(|i| i.primary)
    }

    /// An index by name.
    pub fn index(&self, name: &str) -> Option<&IndexSchema> {
        self.indexes.iter().find(|i| i.name == name)
    }

    /// Names of the given physical columns, joined with ", " (for messages).
    pub fn column_names(&self, columns: &[usize]) -> String {
        columns.iter().filter_map(|&c| self.columns.get(c)).map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")
    }
}

impl From<Value> for Expr {
    fn from(value: Value) -> Self {
        Expr::Literal(value)
    }
}
