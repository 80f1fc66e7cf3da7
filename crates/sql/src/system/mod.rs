//! The system catalogs: `pg_catalog` and `information_schema` relations
//! computed from the transaction's catalog, so that psql's `\d` family,
//! drivers' metadata queries and tools such as pgbench see memdb's tables,
//! indexes, constraints and sequences the way PostgreSQL shows its own.
//!
//! Relations are materialized when a statement is bound (they are small)
//! and reflect the statement's snapshot. Object ids are derived from the
//! engine's ids, so they are stable for the life of an object:
//!
//! | object | oid |
//! |---|---|
//! | namespaces | `pg_catalog` 11, `public` 2200, `information_schema` 13000 |
//! | types | PostgreSQL's built-in type oids |
//! | tables | 16384 + table id |
//! | indexes | 1,000,000 + index id |
//! | sequences | 2,000,000 + sequence id |
//! | views | 3,000,000 + position in name order |
//! | constraints | 4,000,000 + table id × 1,000 + number within the table |

mod functions;
mod tables;

use memdb_engine::{DataType, Table, Transaction, Value};

pub(crate) use functions::{constraint_def, format_type, index_def, quote, relation_name};
pub(crate) use tables::relation;

use crate::error::Result;

/// `pg_catalog`'s namespace oid.
pub const PG_CATALOG_OID: i32 = 11;
/// `public`'s namespace oid.
pub const PUBLIC_OID: i32 = 2200;
/// `information_schema`'s namespace oid.
pub const INFORMATION_SCHEMA_OID: i32 = 13000;
/// The superuser role's oid.
pub const SUPERUSER_OID: i32 = 10;
/// The database's oid.
pub const DATABASE_OID: i32 = 5;

const TABLE_BASE: i64 = 16384;
const INDEX_BASE: i64 = 1_000_000;
const SEQUENCE_BASE: i64 = 2_000_000;
const VIEW_BASE: i64 = 3_000_000;
const CONSTRAINT_BASE: i64 = 4_000_000;
const SCHEMA_BASE: i64 = 5_000_000;

fn oid(v: i64) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

/// A table's oid.
pub fn table_oid(id: u32) -> i32 {
    oid(TABLE_BASE + i64::from(id))
}

/// An index's oid.
pub fn index_oid(id: u32) -> i32 {
    oid(INDEX_BASE + i64::from(id))
}

/// A sequence's oid.
pub fn sequence_oid(id: u32) -> i32 {
    oid(SEQUENCE_BASE + i64::from(id))
}

/// The oid of the `n`th constraint of a table.
fn constraint_oid(table: u32, n: usize) -> i32 {
    oid(CONSTRAINT_BASE + i64::from(table) * 1000 + n as i64)
}

/// PostgreSQL's oids of its own catalogs (`'pg_catalog.pg_class'::regclass`).
pub(crate) fn catalog_relation_oid(name: &str) -> Option<i32> {
    let base = name.strip_prefix("pg_catalog.").unwrap_or(name);
    Some(match base {
        "pg_type" => 1247,
        "pg_attribute" => 1249,
        "pg_proc" => 1255,
        "pg_class" => 1259,
        "pg_namespace" => 2615,
        "pg_constraint" => 2606,
        "pg_index" => 2610,
        "pg_database" => 1262,
        "pg_authid" => 1260,
        _ => return None,
    })
}

/// A built-in type: oid, name, length, category, array type, element type.
struct TypeInfo {
    oid: i32,
    name: &'static str,
    len: i16,
    category: &'static str,
    array: i32,
    elem: i32,
}

const TYPES: &[TypeInfo] = &[
    TypeInfo { oid: 16, name: "bool", len: 1, category: "B", array: 1000, elem: 0 },
    TypeInfo { oid: 17, name: "bytea", len: -1, category: "U", array: 1001, elem: 0 },
    TypeInfo { oid: 18, name: "char", len: 1, category: "Z", array: 1002, elem: 0 },
    TypeInfo { oid: 19, name: "name", len: 64, category: "S", array: 1003, elem: 0 },
    TypeInfo { oid: 20, name: "int8", len: 8, category: "N", array: 1016, elem: 0 },
    TypeInfo { oid: 21, name: "int2", len: 2, category: "N", array: 1005, elem: 0 },
    TypeInfo { oid: 23, name: "int4", len: 4, category: "N", array: 1007, elem: 0 },
    TypeInfo { oid: 25, name: "text", len: -1, category: "S", array: 1009, elem: 0 },
    TypeInfo { oid: 26, name: "oid", len: 4, category: "N", array: 1028, elem: 0 },
    TypeInfo { oid: 114, name: "json", len: -1, category: "U", array: 199, elem: 0 },
    TypeInfo { oid: 700, name: "float4", len: 4, category: "N", array: 1021, elem: 0 },
    TypeInfo { oid: 701, name: "float8", len: 8, category: "N", array: 1022, elem: 0 },
    TypeInfo { oid: 1042, name: "bpchar", len: -1, category: "S", array: 1014, elem: 0 },
    TypeInfo { oid: 1043, name: "varchar", len: -1, category: "S", array: 1015, elem: 0 },
    TypeInfo { oid: 1082, name: "date", len: 4, category: "D", array: 1182, elem: 0 },
    TypeInfo { oid: 1083, name: "time", len: 8, category: "D", array: 1183, elem: 0 },
    TypeInfo { oid: 1114, name: "timestamp", len: 8, category: "D", array: 1115, elem: 0 },
    TypeInfo { oid: 1184, name: "timestamptz", len: 8, category: "D", array: 1185, elem: 0 },
    TypeInfo { oid: 1186, name: "interval", len: 16, category: "T", array: 1187, elem: 0 },
    TypeInfo { oid: 1700, name: "numeric", len: -1, category: "N", array: 1231, elem: 0 },
    TypeInfo { oid: 2205, name: "regclass", len: 4, category: "N", array: 2210, elem: 0 },
    TypeInfo { oid: 2950, name: "uuid", len: 16, category: "U", array: 2951, elem: 0 },
    TypeInfo { oid: 3802, name: "jsonb", len: -1, category: "U", array: 3807, elem: 0 },
];

/// The PostgreSQL type oid of a memdb type.
pub fn type_oid(ty: &DataType) -> i32 {
    match ty {
        DataType::Bool => 16,
        DataType::Bytea => 17,
        DataType::Int8 => 20,
        DataType::Int2 => 21,
        DataType::Int4 => 23,
        DataType::Text => 25,
        DataType::Json => 114,
        DataType::Float4 => 700,
        DataType::Float8 => 701,
        DataType::Char(_) => 1042,
        DataType::Varchar(_) => 1043,
        DataType::Date => 1082,
        DataType::Time => 1083,
        DataType::Timestamp => 1114,
        DataType::TimestampTz => 1184,
        DataType::Interval => 1186,
        DataType::Numeric(_) => 1700,
        DataType::Uuid => 2950,
        DataType::Jsonb => 3802,
        DataType::Array(elem) => {
            let e = type_oid(elem);
            TYPES.iter().find(|t| t.oid == e).map_or(1009, |t| t.array)
        }
    }
}

/// PostgreSQL's storage length of a memdb type (-1: variable).
pub fn type_length(ty: &DataType) -> i16 {
    let oid = type_oid(ty);
    TYPES.iter().find(|t| t.oid == oid).map_or(-1, |t| t.len)
}

/// PostgreSQL's type modifier of a memdb type (-1: none).
pub fn type_modifier(ty: &DataType) -> i32 {
    match ty {
        DataType::Varchar(Some(n)) | DataType::Char(n) => i32::try_from(*n).map_or(-1, |n| n + 4),
        DataType::Numeric(Some(m)) => i32::try_from((m.precision << 16) | m.scale).map_or(-1, |v| v + 4),
        _ => -1,
    }
}

/// The memdb type of a type oid and modifier (for `format_type`).
fn type_of_oid(oid: i32, typmod: i32) -> Option<DataType> {
    let n = u32::try_from(typmod - 4).ok();
    Some(match oid {
        16 => DataType::Bool,
        17 => DataType::Bytea,
        20 => DataType::Int8,
        21 => DataType::Int2,
        23 => DataType::Int4,
        25 | 19 => DataType::Text,
        114 => DataType::Json,
        700 => DataType::Float4,
        701 => DataType::Float8,
        1042 => DataType::Char(n.unwrap_or(1)),
        1043 => DataType::Varchar(n),
        1082 => DataType::Date,
        1083 => DataType::Time,
        1114 => DataType::Timestamp,
        1184 => DataType::TimestampTz,
        1186 => DataType::Interval,
        1700 => DataType::Numeric(n.map(|v| memdb_engine::NumericTypmod { precision: v >> 16, scale: v & 0xffff })),
        2950 => DataType::Uuid,
        3802 => DataType::Jsonb,
        other => {
            let elem = TYPES.iter().find(|t| t.array == other)?;
            DataType::Array(Box::new(type_of_oid(elem.oid, -1)?))
        }
    })
}

/// What a relation oid names.
pub(crate) enum Relation {
    Table,
    Index(Table, usize),
    Other,
}

/// Every relation the transaction sees, with its oid.
pub(crate) struct CatalogView {
    pub tables: Vec<Table>,
    pub sequences: Vec<(i32, memdb_engine::SequenceSchema)>,
    pub views: Vec<(i32, String, String)>,
    /// User schemas: oid, name, owner.
    pub schemas: Vec<(i32, String, String)>,
}

/// The tables a transaction sees that are the user's (memdb's hidden
/// catalog tables, named `__memdb…`, left out).
pub(crate) fn user_tables(txn: &Transaction) -> Vec<Table> {
    txn.tables().into_iter().filter(|t| !t.name().starts_with("__memdb")).collect()
}

impl CatalogView {
    /// Reads the transaction's catalog (user tables only: memdb's hidden
    /// tables stay hidden).
    pub fn load(txn: &mut Transaction) -> Result<CatalogView> {
        let mut tables = user_tables(txn);
        tables.sort_by_key(Table::id);
        let mut sequences = Vec::new();
        for name in txn.sequence_names() {
            let (schema, _) = txn.sequence(&name)?;
            sequences.push((sequence_oid(schema.id), schema));
        }
        let mut views: Vec<(String, String)> = crate::bind::views(txn)?;
        views.sort();
        let views = views.into_iter().enumerate().map(|(i, (n, s))| (oid(VIEW_BASE + i as i64), n, s)).collect();
        let schemas = crate::bind::schemas(txn)?
            .into_iter()
            .enumerate()
            .map(|(i, (n, o))| (oid(SCHEMA_BASE + i as i64), n, o))
            .collect();
        Ok(CatalogView { tables, sequences, views, schemas })
    }

    /// The oid of the schema a catalog name (`s.t` or bare `t`) is in.
    pub fn namespace_oid(&self, name: &str) -> i32 {
        match crate::bind::split_qualified(name).0 {
            "public" => PUBLIC_OID,
            "pg_catalog" => PG_CATALOG_OID,
            "information_schema" => INFORMATION_SCHEMA_OID,
            schema => self.schemas.iter().find(|(_, n, _)| n == schema).map_or(PUBLIC_OID, |(o, _, _)| *o),
        }
    }

    /// The relation an oid names.
    pub fn relation(&self, oid: i32) -> Option<Relation> {
        for t in &self.tables {
            if table_oid(t.id()) == oid {
                return Some(Relation::Table);
            }
            if let Some(i) = t.schema().indexes.iter().position(|ix| index_oid(ix.id) == oid) {
                return Some(Relation::Index(t.clone(), i));
            }
        }
        let other = self.sequences.iter().any(|(o, _)| *o == oid) || self.views.iter().any(|(o, _, _)| *o == oid);
        other.then_some(Relation::Other)
    }

    /// The catalog name (`s.t`, or bare in `public`) of the table, index,
    /// sequence or view an oid names.
    pub fn name_of(&self, oid: i32) -> Option<&str> {
        if let Some(t) = self.tables.iter().find(|t| table_oid(t.id()) == oid) {
            return Some(t.name());
        }
        for t in &self.tables {
            if let Some(ix) = t.schema().indexes.iter().find(|ix| index_oid(ix.id) == oid) {
                return Some(&ix.name);
            }
        }
        if let Some((_, s)) = self.sequences.iter().find(|(o, _)| *o == oid) {
            return Some(&s.name);
        }
        self.views.iter().find(|(o, _, _)| *o == oid).map(|(_, n, _)| n.as_str())
    }

    /// The oid of a relation by name.
    pub fn oid_of(&self, name: &str) -> Option<i32> {
        for t in &self.tables {
            if t.name() == name {
                return Some(table_oid(t.id()));
            }
            if let Some(ix) = t.schema().indexes.iter().find(|ix| ix.name == name) {
                return Some(index_oid(ix.id));
            }
        }
        if let Some((o, _)) = self.sequences.iter().find(|(_, s)| s.name == name) {
            return Some(*o);
        }
        self.views.iter().find(|(_, n, _)| n == name).map(|(o, _, _)| *o)
    }

    /// A table by id.
    pub fn table(&self, id: u32) -> Option<&Table> {
        self.tables.iter().find(|t| t.id() == id)
    }
}

/// The constraints of a table in a stable order: primary key and unique
/// indexes that back constraints, then CHECKs, then FOREIGN KEYs, then
/// NOT NULL is not a constraint row in PostgreSQL 15.
pub(crate) enum Constraint<'a> {
    Key(&'a memdb_engine::IndexSchema),
    Check(&'a memdb_engine::CheckConstraint),
    Foreign(&'a memdb_engine::ForeignKey),
}

impl Constraint<'_> {
    /// The constraint's name (a key's constraint name, else its index's).
    pub fn name(&self) -> &str {
        match self {
            Constraint::Key(ix) => ix.constraint.as_deref().unwrap_or(&ix.name),
            Constraint::Check(ch) => &ch.name,
            Constraint::Foreign(fk) => &fk.name,
        }
    }
}

pub(crate) fn constraints(table: &Table) -> Vec<(i32, Constraint<'_>)> {
    let schema = table.schema();
    let mut out: Vec<Constraint<'_>> = Vec::new();
    out.extend(schema.indexes.iter().filter(|i| i.constraint.is_some()).map(Constraint::Key));
    out.extend(schema.checks.iter().map(Constraint::Check));
    out.extend(schema.foreign_keys.iter().map(Constraint::Foreign));
    out.into_iter().enumerate().map(|(n, c)| (constraint_oid(table.id(), n), c)).collect()
}

/// Logical column names of a table, by physical position.
pub(crate) fn physical_names(table: &Table) -> Vec<String> {
    table.schema().columns.iter().map(|c| c.name.clone()).collect()
}

/// `attnum` of a physical column: 1-based among live columns.
pub(crate) fn attnum(table: &Table, physical: usize) -> i16 {
    let n = table.schema().columns.iter().take(physical).filter(|c| !c.dropped).count();
    i16::try_from(n + 1).unwrap_or(i16::MAX)
}

/// A text value or NULL.
fn text_or_null(s: Option<String>) -> Value {
    s.map_or(Value::Null, Value::Text)
}
