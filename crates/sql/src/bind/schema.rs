//! Schemas: CREATE SCHEMA, DROP SCHEMA, and where a qualified name lives.
//!
//! A relation in schema `s` is named `s.name` in the engine's catalog (one
//! flat namespace, as `pg_catalog.…` relations already are); a relation in
//! `public` keeps its bare name, so tables made before schemas existed stay
//! where they were. The schemas themselves are rows of a hidden engine
//! table ([`SCHEMAS_TABLE`]), so creating and dropping one is transactional
//! and goes through the commit log like any other catalog change.

use memdb_engine::{Transaction, Value};

use super::ddl::{VIEWS_TABLE, catalog_pairs, catalog_table, views};
use crate::error::{Result, SqlError};
use crate::notice::Notice;

/// The hidden table of user schemas (name → owner).
pub(crate) const SCHEMAS_TABLE: &str = "__memdb_schemas";

/// Schemas that always exist and are not rows of [`SCHEMAS_TABLE`].
const BUILTIN: [&str; 3] = ["public", "pg_catalog", "information_schema"];

/// A catalog name split into its schema and its name within the schema:
/// `s.t` → (`s`, `t`), a bare `t` → (`public`, `t`).
pub(crate) fn split_qualified(name: &str) -> (&str, &str) {
    name.split_once('.').unwrap_or(("public", name))
}

/// The catalog name of `name` in `schema` (bare in `public`).
pub(crate) fn qualify(schema: &str, name: &str) -> String {
    if schema == "public" { name.to_owned() } else { format!("{schema}.{name}") }
}

/// A relation name given as text (`nextval('s.seq')`, `'t'::regclass`),
/// as the catalog names it: dotted parts folded to lower case unless
/// double-quoted, the schema dropped when it is `public`.
pub(crate) fn relation_name_from_text(text: &str) -> String {
    let mut parts = Vec::new();
    let mut part = String::new();
    let mut quoted = false;
    let mut chars = text.trim().chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                part.push('"');
            }
            '"' => quoted = !quoted,
            '.' if !quoted => parts.push(std::mem::take(&mut part)),
            c if quoted => part.push(c),
            c => part.extend(c.to_lowercase()),
        }
    }
    parts.push(part);
    match parts.as_slice() {
        [schema, name] => qualify(schema, name),
        _ => parts.join("."),
    }
}

/// Every user schema, by name, with its owner.
pub(crate) fn schemas(txn: &mut Transaction) -> Result<Vec<(String, String)>> {
    let mut all = catalog_pairs(txn, SCHEMAS_TABLE)?;
    all.sort();
    Ok(all)
}

/// Whether a schema of this name exists.
pub(crate) fn schema_exists(txn: &mut Transaction, name: &str) -> Result<bool> {
    if BUILTIN.contains(&name) {
        return Ok(true);
    }
    let Ok(table) = txn.table(SCHEMAS_TABLE) else { return Ok(false) };
    Ok(txn.get(&table, &[Value::Text(name.to_owned())])?.is_some())
}

/// Checks that a relation about to be created under `name` has a schema
/// it may be created in: 3F000 when the schema does not exist, 42501 for
/// the system schemas.
pub(crate) fn check_creatable(txn: &mut Transaction, name: &str) -> Result<()> {
    let (schema, _) = split_qualified(name);
    if schema == "pg_catalog" || schema == "information_schema" {
        return Err(memdb_engine::Error::PermissionDenied(format!("permission denied to create \"{name}\"")).into());
    }
    if schema_exists(txn, schema)? { Ok(()) } else { Err(SqlError::UndefinedSchema(schema.to_owned())) }
}

/// `CREATE SCHEMA [IF NOT EXISTS] name [AUTHORIZATION role]` (or
/// `CREATE SCHEMA AUTHORIZATION role`, named after the role). The owner is
/// the role named, else `user`.
pub(crate) fn create_schema(
    txn: &mut Transaction,
    name: Option<String>,
    authorization: Option<String>,
    if_not_exists: bool,
    user: &str,
    notices: &mut Vec<Notice>,
) -> Result<()> {
    if let Some(role) = &authorization
        && role != user
        && !txn.security().role_exists(role)
    {
        return Err(memdb_engine::Error::UndefinedObject { kind: "role", name: role.clone() }.into());
    }
    let Some(name) = name.or_else(|| authorization.clone()) else {
        return Err(SqlError::Semantic("CREATE SCHEMA needs a name or AUTHORIZATION".into()));
    };
    if name.contains('.') {
        return Err(SqlError::FeatureNotSupported(format!("schema name \"{name}\" with a dot")));
    }
    if schema_exists(txn, &name)? {
        if if_not_exists {
            notices.push(Notice::info("42P06", format!("schema \"{name}\" already exists, skipping")));
            return Ok(());
        }
        return Err(SqlError::DuplicateObject { code: "42P06", message: format!("schema \"{name}\" already exists") });
    }
    if name.starts_with("pg_") {
        return Err(SqlError::ReservedName(format!("unacceptable schema name \"{name}\"")));
    }
    let table = catalog_table(txn, SCHEMAS_TABLE, "owner")?;
    let owner = authorization.unwrap_or_else(|| user.to_owned());
    txn.insert(&table, vec![Value::Text(name), Value::Text(owner)])?;
    Ok(())
}

/// `DROP SCHEMA name [CASCADE]`: refused (2BP01) while the schema holds
/// anything, unless CASCADE, which drops its views, tables (with views and
/// foreign keys elsewhere that depend on them) and sequences first.
pub(crate) fn drop_schema(txn: &mut Transaction, name: &str, cascade: bool, notices: &mut Vec<Notice>) -> Result<()> {
    if BUILTIN.contains(&name) {
        return Err(SqlError::DependentObjects(format!(
            "cannot drop schema {name} because other objects depend on it"
        )));
    }
    if !schema_exists(txn, name)? {
        return Err(SqlError::UndefinedSchema(name.to_owned()));
    }
    let inside = |n: &str| split_qualified(n).0 == name;
    let view_names: Vec<String> = views(txn)?.into_iter().map(|(n, _)| n).filter(|n| inside(n)).collect();
    let tables: Vec<String> = txn.tables().iter().map(|t| t.name().to_owned()).filter(|n| inside(n)).collect();
    // Sequences owned by a column (SERIAL) go with their table, uncounted.
    let mut sequences = Vec::new();
    for n in txn.sequence_names().into_iter().filter(|n| inside(n)) {
        if txn.sequence(&n)?.0.owned_by.is_none() {
            sequences.push(n);
        }
    }
    let count = view_names.len() + tables.len() + sequences.len();
    if count > 0 {
        if !cascade {
            return Err(SqlError::DependentObjects(format!(
                "cannot drop schema {name} because other objects depend on it"
            )));
        }
        notices.push(Notice::info(
            "00000",
            if count == 1 {
                "drop cascades to 1 other object".to_owned()
            } else {
                format!("drop cascades to {count} other objects")
            },
        ));
    }
    // Views first (the schema's, and views elsewhere over its tables and
    // views), then the tables (their own sequences go with them), then what
    // sequences remain.
    let mut doomed_views = view_names.clone();
    for t in tables.iter().chain(&view_names) {
        for v in super::ddl::dependent_views(txn, t)? {
            if !doomed_views.contains(&v) {
                doomed_views.push(v);
            }
        }
    }
    if !doomed_views.is_empty() {
        let table = txn.table(VIEWS_TABLE)?;
        for v in doomed_views {
            txn.delete_by_key(&table, &[Value::Text(v)])?;
        }
    }
    for t in &tables {
        txn.drop_table(t, true)?;
    }
    for s in sequences {
        txn.drop_sequence(&s)?;
    }
    let table = txn.table(SCHEMAS_TABLE)?;
    txn.delete_by_key(&table, &[Value::Text(name.to_owned())])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualified_names_split_at_the_schema() {
        assert_eq!(split_qualified("s.t"), ("s", "t"));
        assert_eq!(split_qualified("t"), ("public", "t"));
        assert_eq!(qualify("public", "t"), "t");
        assert_eq!(qualify("s", "t"), "s.t");
        assert_eq!(relation_name_from_text("Public.T_Seq"), "t_seq");
        assert_eq!(relation_name_from_text("S.\"My\"\"Seq\""), "s.My\"Seq");
        assert_eq!(relation_name_from_text(" seq "), "seq");
    }
}
