//! The catalog's text functions: `format_type`, `pg_get_indexdef`,
//! `pg_get_constraintdef`, `::regclass` output, and stored expressions
//! shown as SQL (defaults in `pg_attrdef`, CHECK bodies).

use memdb_engine::{FkAction, IndexKind, Table};

use super::{CatalogView, Constraint, Relation, constraints, type_of_oid};

/// `format_type(oid, typmod)`: PostgreSQL's name for a type.
pub(crate) fn format_type(oid: i32, typmod: i32) -> Option<String> {
    match type_of_oid(oid, typmod) {
        Some(t) => Some(t.to_string()),
        None => super::TYPES.iter().find(|t| t.oid == oid).map(|t| t.name.to_owned()),
    }
}

/// The name a relation oid shows as (`oid::regclass` output): the oid
/// itself when nothing has it, as PostgreSQL shows it.
pub(crate) fn relation_name(cv: &CatalogView, oid: i32) -> String {
    cv.name_of(oid).map_or_else(|| oid.to_string(), quote_qualified)
}

fn column_list(table: &Table, columns: &[usize]) -> String {
    let names = super::physical_names(table);
    columns.iter().map(|&c| quote(names.get(c).map_or("?", String::as_str))).collect::<Vec<_>>().join(", ")
}

/// An identifier quoted only when PostgreSQL would.
pub(crate) fn quote(name: &str) -> String {
    memdb_engine::expr::quote_identifier(name).into_owned()
}

/// A catalog name as PostgreSQL shows a relation outside the search path:
/// `s.t` (each part quoted only when needed), or the bare name in `public`.
pub(crate) fn quote_qualified(name: &str) -> String {
    match name.split_once('.') {
        Some((schema, rel)) => format!("{}.{}", quote(schema), quote(rel)),
        None => quote(name),
    }
}

/// `pg_get_indexdef(oid [, column])`: the CREATE INDEX statement of an
/// index, or with a column number > 0 that key column's name.
pub(crate) fn index_def(cv: &CatalogView, oid: i32, column: i64) -> Option<String> {
    let Some(Relation::Index(table, i)) = cv.relation(oid) else { return None };
    let index = &table.schema().indexes[i];
    if column > 0 {
        let physical = *index.columns.get(usize::try_from(column - 1).ok()?)?;
        return Some(quote(super::physical_names(&table).get(physical)?));
    }
    let method = match index.kind {
        IndexKind::Hash => "hash",
        _ => "btree",
    };
    Some(format!(
        "CREATE {}INDEX {} ON {}.{} USING {method} ({})",
        if index.unique { "UNIQUE " } else { "" },
        quote(crate::bind::split_qualified(&index.name).1),
        quote(crate::bind::split_qualified(table.name()).0),
        quote(crate::bind::split_qualified(table.name()).1),
        column_list(&table, &index.columns)
    ))
}

/// `pg_get_constraintdef(oid)`: a constraint's definition.
pub(crate) fn constraint_def(cv: &CatalogView, oid: i32) -> Option<String> {
    for table in &cv.tables {
        for (o, c) in constraints(table) {
            if o != oid {
                continue;
            }
            return Some(match c {
                Constraint::Key(ix) => format!(
                    "{} ({})",
                    if ix.primary { "PRIMARY KEY" } else { "UNIQUE" },
                    column_list(table, &ix.columns)
                ),
                Constraint::Check(ch) => format!("CHECK ({})", ch.expr.to_sql(&super::physical_names(table))),
                Constraint::Foreign(fk) => {
                    let parent = cv.table(fk.ref_table);
                    let mut s = format!(
                        "FOREIGN KEY ({}) REFERENCES {}({})",
                        column_list(table, &fk.columns),
                        parent.map_or("?".to_owned(), |p| quote_qualified(p.name())),
                        parent.map_or(String::new(), |p| column_list(p, &fk.ref_columns))
                    );
                    for (what, action) in [("UPDATE", fk.on_update), ("DELETE", fk.on_delete)] {
                        let a = match action {
                            FkAction::NoAction => continue,
                            FkAction::Restrict => "RESTRICT",
                            FkAction::Cascade => "CASCADE",
                            FkAction::SetNull => "SET NULL",
                            FkAction::SetDefault => "SET DEFAULT",
                        };
                        s.push_str(&format!(" ON {what} {a}"));
                    }
                    s
                }
            });
        }
    }
    None
}
