//! The catalog relations themselves: columns and rows.

use memdb_engine::{DataType, IndexKind, Transaction, Value};

use super::{
    CatalogView, Constraint, DATABASE_OID, INFORMATION_SCHEMA_OID, PG_CATALOG_OID, PUBLIC_OID, SUPERUSER_OID, TYPES,
    attnum, constraints, index_oid, table_oid, text_or_null, type_modifier, type_oid,
};
use crate::error::Result;

/// A materialized catalog relation.
pub(crate) struct SystemRelation {
    pub columns: Vec<(String, DataType)>,
    pub rows: Vec<Vec<Value>>,
}

use DataType as T;

const OID: T = T::Int4;

fn int(v: i32) -> Value {
    Value::Int4(v)
}
fn small(v: i16) -> Value {
    Value::Int2(v)
}
fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}
fn bool_(b: bool) -> Value {
    Value::Bool(b)
}
/// The schema part of a catalog name (`public` for a bare name).
fn schema_of(name: &str) -> Value {
    text(crate::bind::split_qualified(name).0)
}

/// A catalog name without its schema.
fn base(name: &str) -> Value {
    text(crate::bind::split_qualified(name).1)
}

fn null() -> Value {
    Value::Null
}
fn int2_array(v: &[i16]) -> Value {
    Value::Array(Box::new(memdb_engine::Array {
        element_type: T::Int2,
        elements: v.iter().map(|x| Value::Int2(*x)).collect(),
    }))
}
fn cols(spec: &[(&str, DataType)]) -> Vec<(String, DataType)> {
    spec.iter().map(|(n, t)| ((*n).to_owned(), t.clone())).collect()
}

/// The catalog relation `name` names (`pg_class`, `pg_catalog.pg_class`,
/// `information_schema.tables`, …), if any.
pub(crate) fn relation(txn: &mut Transaction, name: &str, user: &str) -> Result<Option<SystemRelation>> {
    let (schema, base) = match name.split_once('.') {
        Some((s, b)) => (s, b),
        None => ("pg_catalog", name),
    };
    let known = match schema {
        "pg_catalog" => PG_CATALOG.contains(&base),
        "information_schema" => INFORMATION_SCHEMA.contains(&base),
        _ => false,
    };
    if !known {
        return Ok(None);
    }
    let cv = CatalogView::load(txn)?;
    let r = match (schema, base) {
        ("pg_catalog", "pg_namespace") => pg_namespace(&cv),
        ("pg_catalog", "pg_class") => pg_class(&cv),
        ("pg_catalog", "pg_attribute") => pg_attribute(&cv),
        ("pg_catalog", "pg_attrdef") => pg_attrdef(&cv),
        ("pg_catalog", "pg_type") => pg_type(),
        ("pg_catalog", "pg_index") => pg_index(&cv),
        ("pg_catalog", "pg_constraint") => pg_constraint(&cv),
        ("pg_catalog", "pg_am") => pg_am(),
        ("pg_catalog", "pg_database") => pg_database(),
        ("pg_catalog", "pg_roles" | "pg_authid" | "pg_user") => pg_roles(txn, user),
        ("pg_catalog", "pg_settings") => pg_settings(txn),
        ("pg_catalog", "pg_sequence") => pg_sequence(&cv),
        ("pg_catalog", "pg_tables") => pg_tables(&cv, user),
        ("pg_catalog", "pg_indexes") => pg_indexes(&cv),
        ("pg_catalog", "pg_views") => pg_views(&cv, user),
        ("pg_catalog", "pg_stats") => pg_stats(&cv, txn.access().map(AsRef::as_ref)),
        ("pg_catalog", "pg_collation") => SystemRelation {
            columns: cols(&[("oid", OID), ("collname", T::Text), ("collnamespace", OID), ("collprovider", T::Text)]),
            rows: vec![vec![int(100), text("default"), int(PG_CATALOG_OID), text("d")]],
        },
        ("pg_catalog", other) => empty(other),
        ("information_schema", "tables") => is_tables(&cv),
        ("information_schema", "columns") => is_columns(&cv),
        ("information_schema", "schemata") => is_schemata(&cv, user),
        ("information_schema", "table_constraints") => is_table_constraints(&cv),
        ("information_schema", "key_column_usage") => is_key_column_usage(&cv),
        ("information_schema", "views") => is_views(&cv),
        _ => return Ok(None),
    };
    Ok(Some(r))
}

const PG_CATALOG: &[&str] = &[
    "pg_namespace",
    "pg_class",
    "pg_attribute",
    "pg_attrdef",
    "pg_type",
    "pg_index",
    "pg_constraint",
    "pg_am",
    "pg_database",
    "pg_roles",
    "pg_authid",
    "pg_user",
    "pg_settings",
    "pg_sequence",
    "pg_tables",
    "pg_indexes",
    "pg_views",
    "pg_stats",
    "pg_collation",
    "pg_inherits",
    "pg_partitioned_table",
    "pg_description",
    "pg_trigger",
    "pg_policy",
    "pg_statistic_ext",
    "pg_publication",
    "pg_publication_rel",
    "pg_publication_namespace",
    "pg_auth_members",
    "pg_extension",
    "pg_proc",
    "pg_enum",
    "pg_range",
    "pg_stat_activity",
    "pg_depend",
];

const INFORMATION_SCHEMA: &[&str] =
    &["tables", "columns", "schemata", "table_constraints", "key_column_usage", "views"];

/// Catalogs memdb has nothing to put in (no inheritance, partitioning,
/// triggers, policies, publications, extensions, …): right columns, no rows.
fn empty(name: &str) -> SystemRelation {
    let columns: &[(&str, DataType)] = match name {
        "pg_inherits" => &[("inhrelid", OID), ("inhparent", OID), ("inhseqno", T::Int4), ("inhdetachpending", T::Bool)],
        "pg_partitioned_table" => &[
            ("partrelid", OID),
            ("partstrat", T::Text),
            ("partnatts", T::Int2),
            ("partdefid", OID),
            ("partattrs", T::Text),
        ],
        "pg_description" => &[("objoid", OID), ("classoid", OID), ("objsubid", T::Int4), ("description", T::Text)],
        "pg_trigger" => &[
            ("oid", OID),
            ("tgrelid", OID),
            ("tgparentid", OID),
            ("tgname", T::Text),
            ("tgfoid", OID),
            ("tgtype", T::Int2),
            ("tgenabled", T::Text),
            ("tgisinternal", T::Bool),
        ],
        "pg_policy" => &[
            ("oid", OID),
            ("polname", T::Text),
            ("polrelid", OID),
            ("polcmd", T::Text),
            ("polpermissive", T::Bool),
            ("polroles", T::Array(Box::new(OID))),
            ("polqual", T::Text),
            ("polwithcheck", T::Text),
        ],
        "pg_statistic_ext" => &[
            ("oid", OID),
            ("stxrelid", OID),
            ("stxname", T::Text),
            ("stxnamespace", OID),
            ("stxowner", OID),
            ("stxstattarget", T::Int4),
            ("stxkeys", T::Text),
            ("stxkind", T::Array(Box::new(T::Text))),
        ],
        "pg_publication" => &[
            ("oid", OID),
            ("pubname", T::Text),
            ("pubowner", OID),
            ("puballtables", T::Bool),
            ("pubinsert", T::Bool),
            ("pubupdate", T::Bool),
            ("pubdelete", T::Bool),
            ("pubtruncate", T::Bool),
            ("pubviaroot", T::Bool),
        ],
        "pg_publication_rel" => &[
            ("oid", OID),
            ("prpubid", OID),
            ("prrelid", OID),
            ("prqual", T::Text),
            ("prattrs", T::Array(Box::new(T::Int2))),
        ],
        "pg_publication_namespace" => &[("oid", OID), ("pnpubid", OID), ("pnnspid", OID)],
        "pg_auth_members" => &[("roleid", OID), ("member", OID), ("grantor", OID), ("admin_option", T::Bool)],
        "pg_extension" => {
            &[("oid", OID), ("extname", T::Text), ("extowner", OID), ("extnamespace", OID), ("extversion", T::Text)]
        }
        "pg_proc" => &[("oid", OID), ("proname", T::Text), ("pronamespace", OID), ("prorettype", OID)],
        "pg_enum" => &[("oid", OID), ("enumtypid", OID), ("enumsortorder", T::Float4), ("enumlabel", T::Text)],
        "pg_range" => &[("rngtypid", OID), ("rngsubtype", OID)],
        "pg_depend" => &[
            ("classid", OID),
            ("objid", OID),
            ("objsubid", T::Int4),
            ("refclassid", OID),
            ("refobjid", OID),
            ("refobjsubid", T::Int4),
            ("deptype", T::Text),
        ],
        "pg_stat_activity" => &[
            ("datid", OID),
            ("datname", T::Text),
            ("pid", T::Int4),
            ("usename", T::Text),
            ("application_name", T::Text),
            ("state", T::Text),
            ("query", T::Text),
        ],
        _ => &[],
    };
    SystemRelation { columns: cols(columns), rows: Vec::new() }
}

fn pg_namespace(cv: &CatalogView) -> SystemRelation {
    let row = |oid: i32, name: &str| vec![int(oid), text(name), int(SUPERUSER_OID), null()];
    let mut rows = vec![
        row(PG_CATALOG_OID, "pg_catalog"),
        row(PUBLIC_OID, "public"),
        row(INFORMATION_SCHEMA_OID, "information_schema"),
    ];
    rows.extend(cv.schemas.iter().map(|(oid, name, _)| row(*oid, name)));
    SystemRelation {
        columns: cols(&[("oid", OID), ("nspname", T::Text), ("nspowner", OID), ("nspacl", T::Text)]),
        rows,
    }
}

fn pg_class(cv: &CatalogView) -> SystemRelation {
    let columns = cols(&[
        ("oid", OID),
        ("relname", T::Text),
        ("relnamespace", OID),
        ("reltype", OID),
        ("reloftype", OID),
        ("relowner", OID),
        ("relam", OID),
        ("relfilenode", OID),
        ("reltablespace", OID),
        ("relpages", T::Int4),
        ("reltuples", T::Float4),
        ("relallvisible", T::Int4),
        ("reltoastrelid", OID),
        ("relhasindex", T::Bool),
        ("relisshared", T::Bool),
        ("relpersistence", T::Text),
        ("relkind", T::Text),
        ("relnatts", T::Int2),
        ("relchecks", T::Int2),
        ("relhasrules", T::Bool),
        ("relhastriggers", T::Bool),
        ("relhassubclass", T::Bool),
        ("relrowsecurity", T::Bool),
        ("relforcerowsecurity", T::Bool),
        ("relispopulated", T::Bool),
        ("relreplident", T::Text),
        ("relispartition", T::Bool),
        ("relrewrite", OID),
        ("relacl", T::Array(Box::new(T::Text))),
        ("reloptions", T::Array(Box::new(T::Text))),
        ("relpartbound", T::Text),
    ]);
    // Foreign keys are triggers in PostgreSQL: psql shows FK sections only
    // for tables whose relhastriggers is set.
    let referenced: Vec<u32> =
        cv.tables.iter().flat_map(|t| t.schema().foreign_keys.iter().map(|fk| fk.ref_table)).collect();
    let row = |oid: i32,
               name: &str,
               am: i32,
               kind: &str,
               natts: usize,
               checks: usize,
               has_index: bool,
               tuples: f32,
               triggers: bool| {
        vec![
            int(oid),
            base(name),
            int(cv.namespace_oid(name)),
            int(0),
            int(0),
            int(SUPERUSER_OID),
            int(am),
            int(oid),
            int(0),
            int(0),
            Value::Float4(tuples),
            int(0),
            int(0),
            bool_(has_index),
            bool_(false),
            text("p"),
            text(kind),
            small(i16::try_from(natts).unwrap_or(i16::MAX)),
            small(i16::try_from(checks).unwrap_or(i16::MAX)),
            bool_(false),
            bool_(triggers),
            bool_(false),
            bool_(false),
            bool_(false),
            bool_(true),
            text("d"),
            bool_(false),
            int(0),
            null(),
            null(),
            null(),
        ]
    };
    let mut rows = Vec::new();
    for t in &cv.tables {
        let s = t.schema();
        let natts = s.columns.iter().filter(|c| !c.dropped).count();
        let triggers = !s.foreign_keys.is_empty() || referenced.contains(&t.id());
        rows.push(row(
            table_oid(t.id()),
            t.name(),
            2,
            "r",
            natts,
            s.checks.len(),
            !s.indexes.is_empty(),
            t.approx_rows() as f32,
            triggers,
        ));
        for ix in &s.indexes {
            let am = if ix.kind == IndexKind::Hash { 405 } else { 403 };
            rows.push(row(index_oid(ix.id), &ix.name, am, "i", ix.columns.len(), 0, false, 0.0, false));
        }
    }
    for (oid, s) in &cv.sequences {
        rows.push(row(*oid, &s.name, 0, "S", 3, 0, false, 1.0, false));
    }
    for (oid, name, _) in &cv.views {
        rows.push(row(*oid, name, 0, "v", 0, 0, false, 0.0, false));
    }
    SystemRelation { columns, rows }
}

fn pg_attribute(cv: &CatalogView) -> SystemRelation {
    let columns = cols(&[
        ("attrelid", OID),
        ("attname", T::Text),
        ("atttypid", OID),
        ("attstattarget", T::Int4),
        ("attlen", T::Int2),
        ("attnum", T::Int2),
        ("attndims", T::Int4),
        ("attcacheoff", T::Int4),
        ("atttypmod", T::Int4),
        ("attbyval", T::Bool),
        ("attalign", T::Text),
        ("attstorage", T::Text),
        ("attcompression", T::Text),
        ("attnotnull", T::Bool),
        ("atthasdef", T::Bool),
        ("atthasmissing", T::Bool),
        ("attidentity", T::Text),
        ("attgenerated", T::Text),
        ("attisdropped", T::Bool),
        ("attislocal", T::Bool),
        ("attinhcount", T::Int4),
        ("attcollation", OID),
        ("attacl", T::Array(Box::new(T::Text))),
        ("attoptions", T::Array(Box::new(T::Text))),
    ]);
    let mut rows = Vec::new();
    let mut push = |rel: i32, name: &str, ty: &DataType, num: i16, notnull: bool, hasdef: bool| {
        let len = super::type_length(ty);
        let collation = if matches!(ty, T::Text | T::Varchar(_) | T::Char(_)) { 100 } else { 0 };
        rows.push(vec![
            int(rel),
            text(name),
            int(type_oid(ty)),
            int(-1),
            small(len),
            small(num),
            int(i32::from(matches!(ty, T::Array(_)))),
            int(-1),
            int(type_modifier(ty)),
            bool_(len > 0 && len <= 8),
            text("i"),
            text(if len > 0 { "p" } else { "x" }),
            text(""),
            bool_(notnull),
            bool_(hasdef),
            bool_(false),
            text(""),
            text(""),
            bool_(false),
            bool_(true),
            int(0),
            int(collation),
            null(),
            null(),
        ]);
    };
    for t in &cv.tables {
        let s = t.schema();
        for (p, c) in s.columns.iter().enumerate().filter(|(_, c)| !c.dropped) {
            push(table_oid(t.id()), &c.name, &c.data_type, attnum(t, p), !c.nullable, c.default.is_some());
        }
        for ix in &s.indexes {
            for (k, &p) in ix.columns.iter().enumerate() {
                if let Some(c) = s.columns.get(p) {
                    push(
                        index_oid(ix.id),
                        &c.name,
                        &c.data_type,
                        i16::try_from(k + 1).unwrap_or(i16::MAX),
                        false,
                        false,
                    );
                }
            }
        }
    }
    SystemRelation { columns, rows }
}

fn pg_attrdef(cv: &CatalogView) -> SystemRelation {
    let mut rows = Vec::new();
    for t in &cv.tables {
        let names = super::physical_names(t);
        for (p, c) in t.schema().columns.iter().enumerate().filter(|(_, c)| !c.dropped) {
            if let Some(d) = &c.default {
                let sql = d.to_sql(&names);
                let n = attnum(t, p);
                rows.push(vec![
                    int(5_000_000 + i32::try_from(t.id()).unwrap_or(0).saturating_mul(1000) + i32::from(n)),
                    int(table_oid(t.id())),
                    small(n),
                    text(&sql),
                ]);
            }
        }
    }
    SystemRelation { columns: cols(&[("oid", OID), ("adrelid", OID), ("adnum", T::Int2), ("adbin", T::Text)]), rows }
}

fn pg_type() -> SystemRelation {
    let columns = cols(&[
        ("oid", OID),
        ("typname", T::Text),
        ("typnamespace", OID),
        ("typowner", OID),
        ("typlen", T::Int2),
        ("typbyval", T::Bool),
        ("typtype", T::Text),
        ("typcategory", T::Text),
        ("typispreferred", T::Bool),
        ("typisdefined", T::Bool),
        ("typdelim", T::Text),
        ("typrelid", OID),
        ("typelem", OID),
        ("typarray", OID),
        ("typnotnull", T::Bool),
        ("typbasetype", OID),
        ("typtypmod", T::Int4),
        ("typndims", T::Int4),
        ("typcollation", OID),
    ]);
    let mut rows = Vec::new();
    let mut push = |oid: i32, name: String, len: i16, category: &str, elem: i32, array: i32| {
        let collation = if category == "S" { 100 } else { 0 };
        rows.push(vec![
            int(oid),
            Value::Text(name),
            int(PG_CATALOG_OID),
            int(SUPERUSER_OID),
            small(len),
            bool_(len > 0 && len <= 8),
            text("b"),
            text(category),
            bool_(false),
            bool_(true),
            text(","),
            int(0),
            int(elem),
            int(array),
            bool_(false),
            int(0),
            int(-1),
            int(0),
            int(collation),
        ]);
    };
    for t in TYPES {
        push(t.oid, t.name.to_owned(), t.len, t.category, t.elem, t.array);
        push(t.array, format!("_{}", t.name), -1, "A", t.oid, 0);
    }
    SystemRelation { columns, rows }
}

fn pg_index(cv: &CatalogView) -> SystemRelation {
    let columns = cols(&[
        ("indexrelid", OID),
        ("indrelid", OID),
        ("indnatts", T::Int2),
        ("indnkeyatts", T::Int2),
        ("indisunique", T::Bool),
        ("indnullsnotdistinct", T::Bool),
        ("indisprimary", T::Bool),
        ("indisexclusion", T::Bool),
        ("indimmediate", T::Bool),
        ("indisclustered", T::Bool),
        ("indisvalid", T::Bool),
        ("indcheckxmin", T::Bool),
        ("indisready", T::Bool),
        ("indislive", T::Bool),
        ("indisreplident", T::Bool),
        ("indkey", T::Array(Box::new(T::Int2))),
        ("indexprs", T::Text),
        ("indpred", T::Text),
    ]);
    let mut rows = Vec::new();
    for t in &cv.tables {
        for ix in &t.schema().indexes {
            let n = i16::try_from(ix.columns.len()).unwrap_or(i16::MAX);
            let keys: Vec<i16> = ix.columns.iter().map(|&p| attnum(t, p)).collect();
            rows.push(vec![
                int(index_oid(ix.id)),
                int(table_oid(t.id())),
                small(n),
                small(n),
                bool_(ix.unique),
                bool_(false),
                bool_(ix.primary),
                bool_(false),
                bool_(true),
                bool_(false),
                bool_(true),
                bool_(false),
                bool_(true),
                bool_(true),
                bool_(false),
                int2_array(&keys),
                null(),
                null(),
            ]);
        }
    }
    SystemRelation { columns, rows }
}

fn pg_constraint(cv: &CatalogView) -> SystemRelation {
    let columns = cols(&[
        ("oid", OID),
        ("conname", T::Text),
        ("connamespace", OID),
        ("contype", T::Text),
        ("condeferrable", T::Bool),
        ("condeferred", T::Bool),
        ("convalidated", T::Bool),
        ("conrelid", OID),
        ("contypid", OID),
        ("conindid", OID),
        ("conparentid", OID),
        ("confrelid", OID),
        ("confupdtype", T::Text),
        ("confdeltype", T::Text),
        ("confmatchtype", T::Text),
        ("conislocal", T::Bool),
        ("coninhcount", T::Int4),
        ("connoinherit", T::Bool),
        ("conkey", T::Array(Box::new(T::Int2))),
        ("confkey", T::Array(Box::new(T::Int2))),
        ("conbin", T::Text),
    ]);
    let action = |a: memdb_engine::FkAction| {
        text(match a {
            memdb_engine::FkAction::NoAction => "a",
            memdb_engine::FkAction::Restrict => "r",
            memdb_engine::FkAction::Cascade => "c",
            memdb_engine::FkAction::SetNull => "n",
            memdb_engine::FkAction::SetDefault => "d",
        })
    };
    let mut rows = Vec::new();
    for t in &cv.tables {
        let rel = table_oid(t.id());
        let keys = |cols: &[usize], table: &memdb_engine::Table| -> Vec<i16> {
            cols.iter().map(|&p| attnum(table, p)).collect()
        };
        for (oid, c) in constraints(t) {
            let name = c.name().to_owned();
            let (kind, index, fk_rel, upd, del, key, fkey, bin) = match c {
                Constraint::Key(ix) => (
                    if ix.primary { "p" } else { "u" },
                    index_oid(ix.id),
                    0,
                    text(" "),
                    text(" "),
                    int2_array(&keys(&ix.columns, t)),
                    null(),
                    null(),
                ),
                Constraint::Check(ch) => {
                    ("c", 0, 0, text(" "), text(" "), null(), null(), text(&ch.expr.to_sql(&super::physical_names(t))))
                }
                Constraint::Foreign(fk) => {
                    let parent = cv.table(fk.ref_table);
                    let parent_index = parent
                        .and_then(|p| p.schema().indexes.iter().find(|ix| ix.unique && ix.columns == fk.ref_columns))
                        .map_or(0, |ix| index_oid(ix.id));
                    (
                        "f",
                        parent_index,
                        table_oid(fk.ref_table),
                        action(fk.on_update),
                        action(fk.on_delete),
                        int2_array(&keys(&fk.columns, t)),
                        parent.map_or(null(), |p| int2_array(&keys(&fk.ref_columns, p))),
                        null(),
                    )
                }
            };
            rows.push(vec![
                int(oid),
                base(&name),
                int(cv.namespace_oid(t.name())),
                text(kind),
                bool_(false),
                bool_(false),
                bool_(true),
                int(rel),
                int(0),
                int(index),
                int(0),
                int(fk_rel),
                upd,
                del,
                text(if kind == "f" { "s" } else { " " }),
                bool_(true),
                int(0),
                bool_(false),
                key,
                fkey,
                bin,
            ]);
        }
    }
    SystemRelation { columns, rows }
}

fn pg_am() -> SystemRelation {
    SystemRelation {
        columns: cols(&[("oid", OID), ("amname", T::Text), ("amhandler", T::Text), ("amtype", T::Text)]),
        rows: vec![
            vec![int(2), text("heap"), text("heap_tableam_handler"), text("t")],
            vec![int(403), text("btree"), text("bthandler"), text("i")],
            vec![int(405), text("hash"), text("hashhandler"), text("i")],
        ],
    }
}

fn pg_database() -> SystemRelation {
    let columns = cols(&[
        ("oid", OID),
        ("datname", T::Text),
        ("datdba", OID),
        ("encoding", T::Int4),
        ("datlocprovider", T::Text),
        ("datistemplate", T::Bool),
        ("datallowconn", T::Bool),
        ("datconnlimit", T::Int4),
        ("dattablespace", OID),
        ("datcollate", T::Text),
        ("datctype", T::Text),
        ("daticulocale", T::Text),
        ("datcollversion", T::Text),
        ("datacl", T::Array(Box::new(T::Text))),
    ]);
    let row = |oid: i32, name: &str| {
        vec![
            int(oid),
            text(name),
            int(SUPERUSER_OID),
            int(6),
            text("c"),
            bool_(false),
            bool_(true),
            int(-1),
            int(1663),
            text("C.UTF-8"),
            text("C.UTF-8"),
            null(),
            null(),
            null(),
        ]
    };
    SystemRelation { columns, rows: vec![row(DATABASE_OID, "memdb"), row(DATABASE_OID + 1, "postgres")] }
}

/// `pg_roles` (also `pg_authid`, `pg_user`): the catalog's roles, the
/// predefined ones, and the session user when it is not a stored role (a
/// trusted connection, which acts as a superuser). Passwords show as
/// `********`, as pg_roles shows them.
fn pg_roles(txn: &Transaction, user: &str) -> SystemRelation {
    let columns = cols(&[
        ("oid", OID),
        ("rolname", T::Text),
        ("rolsuper", T::Bool),
        ("rolinherit", T::Bool),
        ("rolcreaterole", T::Bool),
        ("rolcreatedb", T::Bool),
        ("rolcanlogin", T::Bool),
        ("rolreplication", T::Bool),
        ("rolconnlimit", T::Int4),
        ("rolpassword", T::Text),
        ("rolvaliduntil", T::TimestampTz),
        ("rolbypassrls", T::Bool),
        ("rolconfig", T::Array(Box::new(T::Text))),
        // pg_user's spellings
        ("usename", T::Text),
        ("usesysid", OID),
        ("usesuper", T::Bool),
    ]);
    let row = |oid: i32, name: &str, superuser: bool, login: bool, password: bool, until: Option<i64>| {
        vec![
            int(oid),
            text(name),
            bool_(superuser),
            bool_(true),
            bool_(superuser),
            bool_(superuser),
            bool_(login),
            bool_(superuser),
            int(-1),
            if password { text("********") } else { null() },
            until.map_or(null(), Value::TimestampTz),
            bool_(superuser),
            null(),
            text(name),
            int(oid),
            bool_(superuser),
        ]
    };
    let security = txn.security();
    let mut rows = Vec::new();
    if security.role(user).is_none() {
        rows.push(row(SUPERUSER_OID, user, true, true, false, None));
    }
    for (i, name) in
        [memdb_engine::security::PG_READ_ALL_DATA, memdb_engine::security::PG_WRITE_ALL_DATA].into_iter().enumerate()
    {
        rows.push(row(6181 + i as i32, name, false, false, false, None));
    }
    for (i, role) in security.roles().enumerate() {
        let oid = ROLE_OID_BASE + i as i32;
        rows.push(row(oid, &role.name, role.superuser, role.login, role.password.is_some(), role.valid_until));
    }
    SystemRelation { columns, rows }
}

/// The oid of the first stored role (in name order).
const ROLE_OID_BASE: i32 = 16_384;

fn pg_settings(_txn: &mut Transaction) -> SystemRelation {
    let columns = cols(&[
        ("name", T::Text),
        ("setting", T::Text),
        ("unit", T::Text),
        ("category", T::Text),
        ("short_desc", T::Text),
        ("context", T::Text),
        ("vartype", T::Text),
        ("source", T::Text),
        ("boot_val", T::Text),
        ("reset_val", T::Text),
    ]);
    let rows = crate::session::default_settings_list()
        .into_iter()
        .map(|(name, value)| {
            vec![
                text(name),
                text(value),
                null(),
                text("memdb"),
                null(),
                text("user"),
                text("string"),
                text("default"),
                text(value),
                text(value),
            ]
        })
        .collect();
    SystemRelation { columns, rows }
}

fn pg_sequence(cv: &CatalogView) -> SystemRelation {
    let rows = cv
        .sequences
        .iter()
        .map(|(oid, s)| {
            vec![
                int(*oid),
                int(20),
                Value::Int8(s.start),
                Value::Int8(s.increment),
                Value::Int8(s.max),
                Value::Int8(s.min),
                Value::Int8(1),
                bool_(s.cycle),
            ]
        })
        .collect();
    SystemRelation {
        columns: cols(&[
            ("seqrelid", OID),
            ("seqtypid", OID),
            ("seqstart", T::Int8),
            ("seqincrement", T::Int8),
            ("seqmax", T::Int8),
            ("seqmin", T::Int8),
            ("seqcache", T::Int8),
            ("seqcycle", T::Bool),
        ]),
        rows,
    }
}

fn pg_tables(cv: &CatalogView, user: &str) -> SystemRelation {
    let rows = cv
        .tables
        .iter()
        .map(|t| {
            vec![
                schema_of(t.name()),
                base(t.name()),
                text(user),
                null(),
                bool_(!t.schema().indexes.is_empty()),
                bool_(false),
                bool_(false),
                bool_(false),
            ]
        })
        .collect();
    SystemRelation {
        columns: cols(&[
            ("schemaname", T::Text),
            ("tablename", T::Text),
            ("tableowner", T::Text),
            ("tablespace", T::Text),
            ("hasindexes", T::Bool),
            ("hasrules", T::Bool),
            ("hastriggers", T::Bool),
            ("rowsecurity", T::Bool),
        ]),
        rows,
    }
}

/// `pg_stats`: one row per analyzed column (see `memdb_engine::stats`) of
/// the tables the role may read (the values are the tables' data), value
/// lists as text arrays.
fn pg_stats(cv: &CatalogView, access: Option<&memdb_engine::security::Access>) -> SystemRelation {
    let texts = |values: &mut dyn Iterator<Item = String>| {
        Value::Array(Box::new(memdb_engine::Array {
            element_type: T::Text,
            elements: values.map(Value::Text).collect(),
        }))
    };
    let reals = |values: &mut dyn Iterator<Item = f64>| {
        Value::Array(Box::new(memdb_engine::Array {
            element_type: T::Float4,
            elements: values.map(|f| Value::Float4(f as f32)).collect(),
        }))
    };
    let mut rows = Vec::new();
    let readable = |t: &memdb_engine::Table| {
        access.is_none_or(|a| a.check_table(t.id(), t.name(), memdb_engine::security::Privileges::SELECT).is_ok())
    };
    for t in cv.tables.iter().filter(|t| readable(t)) {
        let Some(stats) = t.statistics() else { continue };
        for (position, column) in t.columns().iter().enumerate() {
            let Some(c) = stats.column(position) else { continue };
            let common = !c.most_common.is_empty();
            rows.push(vec![
                schema_of(t.name()),
                base(t.name()),
                text(&column.name),
                bool_(false),
                Value::Float4(c.null_frac as f32),
                int(i32::try_from(c.avg_width).unwrap_or(i32::MAX)),
                Value::Float4(c.n_distinct as f32),
                if common { texts(&mut c.most_common.iter().map(|(v, _)| v.to_string())) } else { null() },
                if common { reals(&mut c.most_common.iter().map(|(_, f)| *f)) } else { null() },
                if c.histogram.is_empty() { null() } else { texts(&mut c.histogram.iter().map(ToString::to_string)) },
                c.correlation.map_or(null(), |r| Value::Float4(r as f32)),
                null(),
                null(),
                null(),
            ]);
        }
    }
    SystemRelation {
        columns: cols(&[
            ("schemaname", T::Text),
            ("tablename", T::Text),
            ("attname", T::Text),
            ("inherited", T::Bool),
            ("null_frac", T::Float4),
            ("avg_width", T::Int4),
            ("n_distinct", T::Float4),
            ("most_common_vals", T::Array(Box::new(T::Text))),
            ("most_common_freqs", T::Array(Box::new(T::Float4))),
            ("histogram_bounds", T::Array(Box::new(T::Text))),
            ("correlation", T::Float4),
            ("most_common_elems", T::Array(Box::new(T::Text))),
            ("most_common_elem_freqs", T::Array(Box::new(T::Float4))),
            ("elem_count_histogram", T::Array(Box::new(T::Float4))),
        ]),
        rows,
    }
}

fn pg_indexes(cv: &CatalogView) -> SystemRelation {
    let mut rows = Vec::new();
    for t in &cv.tables {
        for ix in &t.schema().indexes {
            rows.push(vec![
                schema_of(t.name()),
                base(t.name()),
                base(&ix.name),
                null(),
                text_or_null(super::index_def(cv, index_oid(ix.id), 0)),
            ]);
        }
    }
    SystemRelation {
        columns: cols(&[
            ("schemaname", T::Text),
            ("tablename", T::Text),
            ("indexname", T::Text),
            ("tablespace", T::Text),
            ("indexdef", T::Text),
        ]),
        rows,
    }
}

fn pg_views(cv: &CatalogView, user: &str) -> SystemRelation {
    let rows = cv.views.iter().map(|(_, n, sql)| vec![schema_of(n), base(n), text(user), text(sql)]).collect();
    SystemRelation {
        columns: cols(&[
            ("schemaname", T::Text),
            ("viewname", T::Text),
            ("viewowner", T::Text),
            ("definition", T::Text),
        ]),
        rows,
    }
}

fn is_tables(cv: &CatalogView) -> SystemRelation {
    let mut rows: Vec<Vec<Value>> = cv
        .tables
        .iter()
        .map(|t| vec![text("memdb"), schema_of(t.name()), base(t.name()), text("BASE TABLE"), text("YES"), text("NO")])
        .collect();
    rows.extend(
        cv.views
            .iter()
            .map(|(_, n, _)| vec![text("memdb"), schema_of(n), base(n), text("VIEW"), text("NO"), text("NO")]),
    );
    SystemRelation {
        columns: cols(&[
            ("table_catalog", T::Text),
            ("table_schema", T::Text),
            ("table_name", T::Text),
            ("table_type", T::Text),
            ("is_insertable_into", T::Text),
            ("is_typed", T::Text),
        ]),
        rows,
    }
}

fn is_columns(cv: &CatalogView) -> SystemRelation {
    let mut rows = Vec::new();
    for t in &cv.tables {
        let names = super::physical_names(t);
        for (p, c) in t.schema().columns.iter().enumerate().filter(|(_, c)| !c.dropped) {
            let ty = &c.data_type;
            let (precision, scale) = match ty {
                T::Int2 => (Value::Int4(16), Value::Int4(0)),
                T::Int4 => (Value::Int4(32), Value::Int4(0)),
                T::Int8 => (Value::Int4(64), Value::Int4(0)),
                T::Numeric(Some(m)) => (int(m.precision as i32), int(m.scale as i32)),
                _ => (null(), null()),
            };
            let max_len = match ty {
                T::Varchar(Some(n)) | T::Char(n) => int(*n as i32),
                _ => null(),
            };
            let data_type = match ty {
                T::Array(_) => "ARRAY".to_owned(),
                T::Varchar(_) => "character varying".to_owned(),
                T::Char(_) => "character".to_owned(),
                T::Numeric(_) => "numeric".to_owned(),
                other => other.to_string(),
            };
            let udt = TYPES.iter().find(|x| x.oid == type_oid(ty)).map_or_else(
                || format!("_{}", TYPES.iter().find(|x| x.array == type_oid(ty)).map_or("text", |x| x.name)),
                |x| x.name.to_owned(),
            );
            let default = c.default.as_ref().map(|d| d.to_sql(&names));
            rows.push(vec![
                text("memdb"),
                schema_of(t.name()),
                base(t.name()),
                text(&c.name),
                int(i32::from(attnum(t, p))),
                text_or_null(default),
                text(if c.nullable { "YES" } else { "NO" }),
                Value::Text(data_type),
                max_len,
                precision,
                scale,
                Value::Text(udt),
                text("NO"),
            ]);
        }
    }
    SystemRelation {
        columns: cols(&[
            ("table_catalog", T::Text),
            ("table_schema", T::Text),
            ("table_name", T::Text),
            ("column_name", T::Text),
            ("ordinal_position", T::Int4),
            ("column_default", T::Text),
            ("is_nullable", T::Text),
            ("data_type", T::Text),
            ("character_maximum_length", T::Int4),
            ("numeric_precision", T::Int4),
            ("numeric_scale", T::Int4),
            ("udt_name", T::Text),
            ("is_identity", T::Text),
        ]),
        rows,
    }
}

fn is_schemata(cv: &CatalogView, user: &str) -> SystemRelation {
    let mut rows: Vec<Vec<Value>> = ["pg_catalog", "public", "information_schema"]
        .iter()
        .map(|s| vec![text("memdb"), text(s), text(user)])
        .collect();
    rows.extend(cv.schemas.iter().map(|(_, name, owner)| vec![text("memdb"), text(name), text(owner)]));
    SystemRelation {
        columns: cols(&[("catalog_name", T::Text), ("schema_name", T::Text), ("schema_owner", T::Text)]),
        rows,
    }
}

fn is_table_constraints(cv: &CatalogView) -> SystemRelation {
    let mut rows = Vec::new();
    for t in &cv.tables {
        for (_, c) in constraints(t) {
            let name = c.name().to_owned();
            let kind = match c {
                Constraint::Key(ix) if ix.primary => "PRIMARY KEY",
                Constraint::Key(_) => "UNIQUE",
                Constraint::Check(_) => "CHECK",
                Constraint::Foreign(_) => "FOREIGN KEY",
            };
            rows.push(vec![
                text("memdb"),
                schema_of(t.name()),
                base(&name),
                text("memdb"),
                schema_of(t.name()),
                base(t.name()),
                text(kind),
                text("NO"),
                text("NO"),
            ]);
        }
    }
    SystemRelation {
        columns: cols(&[
            ("constraint_catalog", T::Text),
            ("constraint_schema", T::Text),
            ("constraint_name", T::Text),
            ("table_catalog", T::Text),
            ("table_schema", T::Text),
            ("table_name", T::Text),
            ("constraint_type", T::Text),
            ("is_deferrable", T::Text),
            ("initially_deferred", T::Text),
        ]),
        rows,
    }
}

fn is_key_column_usage(cv: &CatalogView) -> SystemRelation {
    let mut rows = Vec::new();
    for t in &cv.tables {
        let names = super::physical_names(t);
        for (_, c) in constraints(t) {
            let name = c.name();
            let columns = match c {
                Constraint::Key(ix) => &ix.columns,
                Constraint::Foreign(fk) => &fk.columns,
                Constraint::Check(_) => continue,
            };
            for (k, &p) in columns.iter().enumerate() {
                rows.push(vec![
                    text("memdb"),
                    schema_of(t.name()),
                    base(name),
                    text("memdb"),
                    schema_of(t.name()),
                    base(t.name()),
                    text(names.get(p).map_or("?", String::as_str)),
                    int(i32::try_from(k + 1).unwrap_or(i32::MAX)),
                ]);
            }
        }
    }
    SystemRelation {
        columns: cols(&[
            ("constraint_catalog", T::Text),
            ("constraint_schema", T::Text),
            ("constraint_name", T::Text),
            ("table_catalog", T::Text),
            ("table_schema", T::Text),
            ("table_name", T::Text),
            ("column_name", T::Text),
            ("ordinal_position", T::Int4),
        ]),
        rows,
    }
}

fn is_views(cv: &CatalogView) -> SystemRelation {
    let rows = cv.views.iter().map(|(_, n, sql)| vec![text("memdb"), schema_of(n), base(n), text(sql)]).collect();
    SystemRelation {
        columns: cols(&[
            ("table_catalog", T::Text),
            ("table_schema", T::Text),
            ("table_name", T::Text),
            ("view_definition", T::Text),
        ]),
        rows,
    }
}
