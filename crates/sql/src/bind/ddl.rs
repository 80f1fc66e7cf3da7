//! DDL: tables, indexes, views, sequences, TRUNCATE, ALTER TABLE.
//!
//! Views are stored as their SQL text in a hidden engine table
//! ([`VIEWS_TABLE`]), so they are transactional and go through the commit
//! log like every other catalog change; the binder expands a view by
//! binding its text where it is used.

use memdb_engine::{
    AlterTable, Column, ConstraintSpec, DataType, FkAction, IndexSpec, ScanRange, TableSchema, Transaction, Value,
};
use sqlparser::ast;

use super::types::{Category, category, data_type, serial_type};
use super::{Binder, Scope, ScopeColumn, ident, object_name};
use crate::error::{Result, SqlError, unsupported};
use crate::expr::{BinOp, Expr, Func};
use crate::notice::Notice;

/// The hidden table holding view definitions (name → SQL text).
pub(crate) const VIEWS_TABLE: &str = "__memdb_views";

/// The SQL text of a view, if one has this name.
pub(crate) fn view_definition(txn: &mut Transaction, name: &str) -> Result<Option<String>> {
    let Ok(table) = txn.table(VIEWS_TABLE) else { return Ok(None) };
    Ok(txn
        .get(&table, &[Value::Text(name.to_owned())])?
        .and_then(|row| row.values.get(1).and_then(|v| v.as_str().map(str::to_owned))))
}

/// Every view's name and SQL text.
pub(crate) fn views(txn: &mut Transaction) -> Result<Vec<(String, String)>> {
    catalog_pairs(txn, VIEWS_TABLE)
}

/// The rows of one of memdb's hidden catalog tables (name → text, see
/// [`catalog_table`]); none before its first row was made.
pub(super) fn catalog_pairs(txn: &mut Transaction, table: &str) -> Result<Vec<(String, String)>> {
    let Ok(table) = txn.table(table) else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for row in txn.scan(&table, ScanRange::Full, false)? {
        let row = row?;
        if let (Some(Value::Text(n)), Some(Value::Text(s))) = (row.values.first(), row.values.get(1)) {
            out.push((n.clone(), s.clone()));
        }
    }
    Ok(out)
}

/// One of memdb's hidden catalog tables (a text `name` key and one text
/// column), made on first use so a database without views or schemas has
/// none.
pub(super) fn catalog_table(txn: &mut Transaction, table: &str, column: &str) -> Result<memdb_engine::Table> {
    if let Ok(t) = txn.table(table) {
        return Ok(t);
    }
    txn.create_table(
        TableSchema::new(table)
            .column(Column::new("name", DataType::Text).not_null())
            .column(Column::new(column, DataType::Text).not_null())
            .primary_key(["name"]),
    )?;
    Ok(txn.table(table)?)
}

/// `relation "name" already exists` (42P07).
fn duplicate_relation(name: &str) -> SqlError {
    SqlError::Engine(memdb_engine::Error::DuplicateTable(name.to_owned()))
}

/// Runs a DDL statement; returns the command tag. What an `IF [NOT]
/// EXISTS` skipped goes to `notices`.
/// Runs a DDL statement; `user` is the session's role (for `OWNER TO`).
pub(crate) fn bind_ddl(
    txn: &mut Transaction,
    stmt: &ast::Statement,
    user: &str,
    notices: &mut Vec<Notice>,
) -> Result<String> {
    match stmt {
        ast::Statement::CreateTable(ct) => create_table(txn, ct, notices),
        ast::Statement::CreateIndex(ci) => create_index(txn, ci, notices),
        ast::Statement::CreateView(cv) => create_view(txn, cv),
        ast::Statement::Drop { object_type, if_exists, names, cascade, .. } => {
            drop(txn, *object_type, *if_exists, names, *cascade, notices)
        }
        ast::Statement::Truncate(t) => {
            let names: Vec<String> = t.table_names.iter().map(|n| object_name(&n.name)).collect::<Result<_>>()?;
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let mut truncated = names.clone();
            if matches!(t.cascade, Some(ast::CascadeOption::Cascade)) {
                for added in txn.truncate_cascade(&refs)? {
                    notices.push(Notice::info("00000", format!("truncate cascades to table \"{added}\"")));
                    truncated.push(added);
                }
            } else {
                txn.truncate(&refs)?;
            }
            if matches!(t.identity, Some(ast::TruncateIdentityOption::Restart)) {
                restart_identity(txn, &truncated)?;
            }
            Ok("TRUNCATE TABLE".into())
        }
        ast::Statement::AlterTable(at) => alter_table(txn, at, user, notices),
        ast::Statement::CreateSequence { if_not_exists, name, data_type, sequence_options, owned_by, .. } => {
            super::sequence::create_sequence(
                txn,
                *if_not_exists,
                name,
                data_type.as_ref(),
                sequence_options,
                owned_by.as_ref(),
                notices,
            )
        }
        other => Err(unsupported(format!(
            "statement {}",
            other.to_string().split_whitespace().take(3).collect::<Vec<_>>().join(" ")
        ))),
    }
}

fn fk_action(a: Option<ast::ReferentialAction>) -> FkAction {
    match a {
        Some(ast::ReferentialAction::Cascade) => FkAction::Cascade,
        Some(ast::ReferentialAction::SetNull) => FkAction::SetNull,
        Some(ast::ReferentialAction::SetDefault) => FkAction::SetDefault,
        Some(ast::ReferentialAction::Restrict) => FkAction::Restrict,
        _ => FkAction::NoAction,
    }
}

fn index_columns(cols: &[ast::IndexColumn]) -> Result<Vec<String>> {
    cols.iter()
        .map(|c| match &c.column.expr {
            ast::Expr::Identifier(id) => Ok(ident(id)),
            other => Err(unsupported(format!("index on expression {other}"))),
        })
        .collect()
}

fn table_constraint(
    txn: &mut Transaction,
    c: &ast::TableConstraint,
    schema_cols: &[Column],
    table: &str,
) -> Result<ConstraintSpec> {
    Ok(match c {
        ast::TableConstraint::PrimaryKey(pk) => {
            ConstraintSpec::PrimaryKey { name: pk.name.as_ref().map(ident), columns: index_columns(&pk.columns)? }
        }
        ast::TableConstraint::Unique(u) => {
            ConstraintSpec::Unique { name: u.name.as_ref().map(ident), columns: index_columns(&u.columns)? }
        }
        ast::TableConstraint::ForeignKey(fk) => ConstraintSpec::ForeignKey {
            name: fk.name.as_ref().map(ident),
            columns: fk.columns.iter().map(ident).collect(),
            ref_table: object_name(&fk.foreign_table)?,
            ref_columns: fk.referred_columns.iter().map(ident).collect(),
            on_delete: fk_action(fk.on_delete),
            on_update: fk_action(fk.on_update),
        },
        ast::TableConstraint::Check(ch) => ConstraintSpec::Check {
            name: ch.name.as_ref().map(ident),
            expr: check_expr(txn, &ch.expr, schema_cols, table)?,
        },
        other => return Err(unsupported(format!("constraint {other}"))),
    })
}

/// Binds a CHECK expression over a table's columns and lowers it to the
/// engine's stored expression language.
fn check_expr(txn: &mut Transaction, e: &ast::Expr, columns: &[Column], table: &str) -> Result<memdb_engine::Expr> {
    stored_expr(txn, e, columns, table, "check constraints")
}

/// Binds an expression over a table's columns (none for a DEFAULT) and
/// lowers it to the engine's stored expression language.
/// A column default as the engine stores it: in the engine's expression
/// language when the engine can evaluate it (literals, `now()`,
/// `nextval(…)`, simple arithmetic), else as SQL text
/// ([`memdb_engine::Expr::Sql`]) that INSERT and UPDATE … DEFAULT evaluate
/// (`gen_random_uuid()`, `now() + interval '1 day'`, `current_user`).
/// Either way it must bind, without columns, to the column's type.
fn stored_default(txn: &mut Transaction, e: &ast::Expr, table: &str, ty: &DataType) -> Result<memdb_engine::Expr> {
    let text = e.to_string();
    // Binds the text as it will be bound at each INSERT: errors now.
    sql_default(txn, &text, ty)?;
    let lowered = stored_expr(txn, e, &[], table, "DEFAULT expressions").and_then(|d| default_with_type(d, ty));
    let names_sequence =
        |d: &memdb_engine::Expr| matches!(d, memdb_engine::Expr::Function(name, _) if name == "nextval");
    match lowered {
        // A default the engine computes must compute: `CURRENT_DATE + 7`
        // lowers to arithmetic the engine's numbers-only operators refuse.
        Ok(d) if names_sequence(&d) || d.eval(&[], &memdb_engine::expr::EvalContext { now: txn.now() }).is_ok() => {
            Ok(d)
        }
        _ => Ok(memdb_engine::Expr::Sql(text)),
    }
}

/// Binds a column default kept as SQL text ([`memdb_engine::Expr::Sql`]) to
/// an expression of the column's type, for the statement that fills it in.
pub(crate) fn sql_default(txn: &mut Transaction, text: &str, ty: &DataType) -> Result<Expr> {
    let e = crate::parse_expression(text)?;
    let mut binder = Binder::new(txn, Vec::new());
    binder.scopes.push(Scope::default());
    binder.correlated.push(false);
    binder.collected.push(super::Collected { clause: "DEFAULT expressions", ..Default::default() });
    let bound = binder.expr(&e)?;
    let mut subquery = false;
    bound.expr.walk(&mut |x| subquery |= matches!(x, Expr::Subquery(_)));
    if subquery {
        return Err(unsupported("cannot use subquery in DEFAULT expression"));
    }
    // PostgreSQL stores a default only through an assignment cast.
    let assignable = bound.unknown
        || bound.ty == *ty
        || category(ty) == Category::String
        || (category(ty) == Category::Numeric && category(&bound.ty) == Category::Numeric)
        || super::types::common_type([&bound.ty, ty], "").is_ok();
    if !assignable {
        return Err(SqlError::DatatypeMismatch(format!(
            "column is of type {ty} but default expression is of type {}",
            bound.ty
        )));
    }
    binder.assign_to(bound, ty)
}

fn stored_expr(
    txn: &mut Transaction,
    e: &ast::Expr,
    columns: &[Column],
    table: &str,
    context: &'static str,
) -> Result<memdb_engine::Expr> {
    let scope = Scope {
        columns: columns
            .iter()
            .map(|c| ScopeColumn {
                table: Some(table.to_owned()),
                name: c.name.clone(),
                ty: c.data_type.clone(),
                merged: c.dropped,
            })
            .collect(),
    };
    let mut binder = Binder::new(txn, Vec::new());
    binder.scopes.push(scope);
    binder.correlated.push(false);
    binder.collected.push(super::Collected { clause: context, ..Default::default() });
    let bound = binder.expr(e)?;
    lower(bound.expr, context)
}

/// Lowers a bound expression to the engine's expression language.
fn lower(e: Expr, context: &str) -> Result<memdb_engine::Expr> {
    use memdb_engine::Expr as E;
    use memdb_engine::expr::{ArithmeticOp as A, CompareOp as C};
    let b = |x: Box<Expr>| -> Result<Box<E>> { Ok(Box::new(lower(*x, context)?)) };
    Ok(match e {
        Expr::Literal(v) => E::Literal(v),
        Expr::Column(i) => E::Column(i),
        Expr::Not(x) => E::Not(b(x)?),
        Expr::And(x, y) => E::And(b(x)?, b(y)?),
        Expr::Or(x, y) => E::Or(b(x)?, b(y)?),
        Expr::IsNull(x) => E::IsNull(b(x)?),
        Expr::Neg(x) => E::Negate(b(x)?),
        Expr::Cast(x, t) => E::Cast(b(x)?, t),
        Expr::InList(x, list) => E::InList(b(x)?, list.into_iter().map(|i| lower(i, context)).collect::<Result<_>>()?),
        Expr::Binary(op, x, y) => {
            let cmp = match op {
                BinOp::Eq => Some(C::Eq),
                BinOp::NotEq => Some(C::NotEq),
                BinOp::Lt => Some(C::Lt),
                BinOp::LtEq => Some(C::LtEq),
                BinOp::Gt => Some(C::Gt),
                BinOp::GtEq => Some(C::GtEq),
                _ => None,
            };
            if let Some(c) = cmp {
                E::Compare(c, b(x)?, b(y)?)
            } else {
                let a = match op {
                    BinOp::Add => A::Add,
                    BinOp::Sub => A::Sub,
                    BinOp::Mul => A::Mul,
                    BinOp::Div => A::Div,
                    BinOp::Rem => A::Rem,
                    BinOp::Concat => A::Concat,
                    other => return Err(unsupported(format!("operator {} in {context}", other.symbol()))),
                };
                E::Arithmetic(a, b(x)?, b(y)?)
            }
        }
        // A stored `nextval('s')` names its sequence as the catalog does.
        Expr::Call(Func::Nextval, args) if matches!(args.as_slice(), [Expr::Literal(Value::Text(_))]) => {
            let name = match args.first() {
                Some(Expr::Literal(Value::Text(text))) => super::relation_name_from_text(text),
                _ => String::new(),
            };
            E::Function("nextval".into(), vec![E::Literal(Value::Text(name))])
        }
        Expr::Call(f, args) => {
            let name = match f {
                Func::Lower | Func::Upper | Func::Length | Func::Abs | Func::Coalesce | Func::Now | Func::Nextval => {
                    f.name()
                }
                Func::CurrentDate => "now",
                other => return Err(unsupported(format!("function {} in {context}", other.name()))),
            };
            E::Function(name.to_owned(), args.into_iter().map(|a| lower(a, context)).collect::<Result<_>>()?)
        }
        Expr::Subquery(_) => return Err(unsupported(format!("subqueries in {context}"))),
        other => return Err(unsupported(format!("expression {other:?} in {context}"))),
    })
}

fn create_table(txn: &mut Transaction, ct: &ast::CreateTable, notices: &mut Vec<Notice>) -> Result<String> {
    let name = object_name(&ct.name)?;
    if ct.query.is_some() || ct.like.is_some() {
        return Err(unsupported("CREATE TABLE AS / LIKE"));
    }
    if txn.table(&name).is_ok() || view_definition(txn, &name)?.is_some() {
        if ct.if_not_exists {
            notices.push(Notice::skipped_existing_relation(&name));
            return Ok("CREATE TABLE".into());
        }
        return Err(duplicate_relation(&name));
    }
    super::check_creatable(txn, &name)?;
    let mut schema = TableSchema::new(name.clone());
    let mut columns = Vec::new();
    let mut constraints = Vec::new();
    let mut sequences = Vec::new();
    for c in &ct.columns {
        let cname = ident(&c.name);
        let serial = serial_type(&c.data_type);
        let ty = match &serial {
            Some(t) => t.clone(),
            None => data_type(&c.data_type)?,
        };
        let mut column = Column::new(cname.clone(), ty.clone());
        if serial.is_some() {
            let seq = format!("{name}_{cname}_seq");
            column.default = Some(memdb_engine::Expr::Function(
                "nextval".into(),
                vec![memdb_engine::Expr::Literal(Value::Text(seq))],
            ));
            column.nullable = false;
            sequences.push((cname.clone(), ty.clone(), Vec::new()));
        }
        for opt in &c.options {
            match &opt.option {
                ast::ColumnOption::Null => column.nullable = true,
                ast::ColumnOption::NotNull => column.nullable = false,
                ast::ColumnOption::Default(e) => column.default = Some(stored_default(txn, e, &name, &ty)?),
                ast::ColumnOption::PrimaryKey(_) => {
                    column.nullable = false;
                    constraints.push(ConstraintSpec::PrimaryKey {
                        name: opt.name.as_ref().map(ident),
                        columns: vec![cname.clone()],
                    });
                }
                ast::ColumnOption::Unique(_) => {
                    constraints.push(ConstraintSpec::Unique {
                        name: opt.name.as_ref().map(ident),
                        columns: vec![cname.clone()],
                    });
                }
                ast::ColumnOption::ForeignKey(fk) => constraints.push(ConstraintSpec::ForeignKey {
                    name: opt.name.as_ref().map(ident),
                    columns: vec![cname.clone()],
                    ref_table: object_name(&fk.foreign_table)?,
                    ref_columns: fk.referred_columns.iter().map(ident).collect(),
                    on_delete: fk_action(fk.on_delete),
                    on_update: fk_action(fk.on_update),
                }),
                ast::ColumnOption::Check(_) => {}
                ast::ColumnOption::Generated { sequence_options, generation_expr: None, .. } => {
                    let seq = format!("{name}_{cname}_seq");
                    column.default = Some(memdb_engine::Expr::Function(
                        "nextval".into(),
                        vec![memdb_engine::Expr::Literal(Value::Text(seq))],
                    ));
                    column.nullable = false;
                    // START WITH, INCREMENT BY, … of the identity's sequence.
                    sequences.push((cname.clone(), ty.clone(), sequence_options.clone().unwrap_or_default()));
                }
                ast::ColumnOption::Collation(_) | ast::ColumnOption::Comment(_) => {}
                other => return Err(unsupported(format!("column option {other}"))),
            }
        }
        columns.push(column);
    }
    // Column CHECKs see all columns.
    for c in &ct.columns {
        for opt in &c.options {
            if let ast::ColumnOption::Check(ch) = &opt.option {
                constraints.push(ConstraintSpec::Check {
                    name: opt.name.as_ref().map(ident).or(ch.name.as_ref().map(ident)),
                    expr: check_expr(txn, &ch.expr, &columns, &name)?,
                });
            }
        }
    }
    for c in &ct.constraints {
        constraints.push(table_constraint(txn, c, &columns, &name)?);
    }
    for col in columns {
        schema = schema.column(col);
    }
    for c in constraints {
        schema = schema.constraint(c);
    }
    txn.create_table(schema)?;
    // Named as the defaults above expect, owned by their columns.
    for (column, ty, options) in &sequences {
        super::sequence::column_sequence(txn, &name, column, ty, options, None)?;
    }
    Ok("CREATE TABLE".into())
}

/// Casts a constant default to the column type up front.
fn default_with_type(d: memdb_engine::Expr, ty: &DataType) -> Result<memdb_engine::Expr> {
    Ok(match d {
        memdb_engine::Expr::Literal(v) => memdb_engine::Expr::Literal(v.coerce_to(ty)?),
        other => other,
    })
}

fn create_index(txn: &mut Transaction, ci: &ast::CreateIndex, notices: &mut Vec<Notice>) -> Result<String> {
    let table = object_name(&ci.table_name)?;
    let columns = index_columns(&ci.columns)?;
    let mut spec = IndexSpec::new(&table, columns);
    if let Some(n) = &ci.name {
        // An index lives in its table's schema.
        let name = object_name(n)?;
        let name = if name.contains('.') { name } else { super::qualify(super::split_qualified(&table).0, &name) };
        if ci.if_not_exists && txn.table(&table).is_ok_and(|t| t.schema().index(&name).is_some()) {
            notices.push(Notice::skipped_existing_relation(&name));
            return Ok("CREATE INDEX".into());
        }
        spec = spec.named(&name);
    }
    if ci.unique {
        spec = spec.unique();
    }
    match &ci.using {
        None => {}
        Some(ast::IndexType::Hash) => spec = spec.hash(),
        Some(ast::IndexType::BTree) => {}
        Some(other) => return Err(unsupported(format!("index method {other}"))),
    }
    if ci.predicate.is_some() {
        return Err(unsupported("partial indexes"));
    }
    if txn.table(&table).is_err() && view_definition(txn, &table)?.is_some() {
        return Err(SqlError::WrongObjectType(format!("\"{table}\" is not a table")));
    }
    txn.create_index(spec)?;
    Ok("CREATE INDEX".into())
}

fn create_view(txn: &mut Transaction, cv: &ast::CreateView) -> Result<String> {
    if cv.materialized {
        return Err(unsupported("materialized views"));
    }
    let name = object_name(&cv.name)?;
    let exists = view_definition(txn, &name)?.is_some();
    if txn.table(&name).is_ok() || (exists && !cv.or_replace) {
        if cv.if_not_exists {
            return Ok("CREATE VIEW".into());
        }
        return Err(duplicate_relation(&name));
    }
    super::check_creatable(txn, &name)?;
    // Bind it now so a broken view is refused at creation.
    let mut sql = cv.query.to_string();
    let bound = Binder::new(txn, Vec::new()).query(&cv.query)?;
    if !cv.columns.is_empty() {
        if cv.columns.len() > bound.columns.len() {
            return Err(SqlError::Semantic("CREATE VIEW specifies more column names than columns".into()));
        }
        let names: Vec<String> =
            cv.columns.iter().map(|c| format!("\"{}\"", ident(&c.name).replace('"', "\"\""))).collect();
        sql = format!("SELECT * FROM ({sql}) AS v({})", names.join(", "));
    }
    let table = catalog_table(txn, VIEWS_TABLE, "definition")?;
    if exists {
        txn.delete_by_key(&table, &[Value::Text(name.clone())])?;
    }
    txn.insert(&table, vec![Value::Text(name), Value::Text(sql)])?;
    Ok("CREATE VIEW".into())
}

fn drop(
    txn: &mut Transaction,
    kind: ast::ObjectType,
    if_exists: bool,
    names: &[ast::ObjectName],
    cascade: bool,
    notices: &mut Vec<Notice>,
) -> Result<String> {
    let (tag, noun) = match kind {
        ast::ObjectType::Table => ("DROP TABLE", "table"),
        ast::ObjectType::View => ("DROP VIEW", "view"),
        ast::ObjectType::Index => ("DROP INDEX", "index"),
        ast::ObjectType::Sequence => ("DROP SEQUENCE", "sequence"),
        ast::ObjectType::Schema => ("DROP SCHEMA", "schema"),
        other => return Err(unsupported(format!("DROP {other}"))),
    };
    for n in names {
        let name = object_name(n)?;
        // Check first: a failed engine call would abort the transaction.
        let exists = match kind {
            ast::ObjectType::Table | ast::ObjectType::View => {
                txn.table(&name).is_ok() || view_definition(txn, &name)?.is_some()
            }
            ast::ObjectType::Index => txn.tables().iter().any(|t| t.schema().index(&name).is_some()),
            ast::ObjectType::Sequence => txn.sequence(&name).is_ok(),
            _ => super::schema::schema_exists(txn, &name)?,
        };
        if !exists && if_exists {
            notices.push(Notice::skipped_missing(noun, &name));
            continue;
        }
        let result: Result<()> = match kind {
            ast::ObjectType::Table => {
                if view_definition(txn, &name)?.is_some() {
                    Err(SqlError::WrongObjectType(format!("\"{name}\" is not a table")))
                } else if txn.table(&name).is_err() {
                    txn.drop_table(&name, cascade).map_err(SqlError::from)
                } else {
                    // Views over the table go with it only under CASCADE.
                    let dependents = dependent_views(txn, &name)?;
                    if !dependents.is_empty() && !cascade {
                        Err(SqlError::DependentObjects(format!(
                            "cannot drop table {name} because other objects depend on it"
                        )))
                    } else {
                        if !dependents.is_empty() {
                            let views = txn.table(VIEWS_TABLE)?;
                            for d in dependents {
                                txn.delete_by_key(&views, &[Value::Text(d)])?;
                            }
                        }
                        txn.drop_table(&name, cascade).map_err(SqlError::from)
                    }
                }
            }
            ast::ObjectType::View => match view_definition(txn, &name)? {
                Some(_) => {
                    let dependents = dependent_views(txn, &name)?;
                    if !dependents.is_empty() && !cascade {
                        Err(SqlError::DependentObjects(format!(
                            "cannot drop view {name} because other objects depend on it"
                        )))
                    } else {
                        let table = txn.table(VIEWS_TABLE)?;
                        for d in dependents {
                            txn.delete_by_key(&table, &[Value::Text(d)])?;
                        }
                        txn.delete_by_key(&table, &[Value::Text(name.clone())])?;
                        Ok(())
                    }
                }
                None if txn.table(&name).is_ok() => Err(SqlError::WrongObjectType(format!("\"{name}\" is not a view"))),
                None => Err(SqlError::Engine(memdb_engine::Error::UndefinedTable(name.clone()))),
            },
            ast::ObjectType::Index => txn.drop_index(&name).map_err(SqlError::from),
            ast::ObjectType::Sequence => txn.drop_sequence(&name).map_err(SqlError::from),
            _ => super::schema::drop_schema(txn, &name, cascade, notices),
        };
        match result {
            Ok(()) => {}
            Err(e) if if_exists && is_missing(&e) => notices.push(Notice::skipped_missing(noun, &name)),
            Err(e) => return Err(e),
        }
    }
    Ok(tag.into())
}

/// TRUNCATE … RESTART IDENTITY: the sequences that feed the tables'
/// columns (SERIAL, identity, `DEFAULT nextval(…)`) start over. Like
/// setval, this is not undone if the transaction rolls back.
fn restart_identity(txn: &mut Transaction, tables: &[String]) -> Result<()> {
    let mut sequences = Vec::new();
    for name in tables {
        for column in txn.table(name)?.columns() {
            if let Some(memdb_engine::Expr::Function(f, args)) = &column.default
                && f == "nextval"
                && let [memdb_engine::Expr::Literal(Value::Text(seq))] = args.as_slice()
            {
                sequences.push(seq.clone());
            }
        }
    }
    for seq in sequences {
        let (schema, _) = txn.sequence(&seq)?;
        txn.setval(&seq, schema.start, false)?;
    }
    Ok(())
}

fn is_missing(e: &SqlError) -> bool {
    matches!(e.sqlstate(), "42P01" | "42704")
}

/// Whether a view's query reads the relation `name` (parsed: a column
/// or alias of the same name does not count). A view whose text no longer
/// parses counts as reading everything, so it is never left dangling.
fn mentions(sql: &str, name: &str) -> bool {
    // Cheap first: a view whose text lacks the name as a word is not parsed.
    let word = super::split_qualified(name).1;
    if !sql.to_lowercase().split(|c: char| !(c.is_alphanumeric() || c == '_')).any(|w| w == word) {
        return false;
    }
    let Ok(stmts) = crate::parse(sql) else { return true };
    let mut found = false;
    let _ = ast::visit_relations(&stmts, |relation| {
        found |= object_name(relation).is_ok_and(|n| n == name);
        std::ops::ControlFlow::<()>::Continue(())
    });
    found
}

/// The views that read `name`, directly or through other views.
pub(super) fn dependent_views(txn: &mut Transaction, name: &str) -> Result<Vec<String>> {
    let all = views(txn)?;
    let mut found: Vec<String> = Vec::new();
    let mut pending = vec![name.to_owned()];
    while let Some(n) = pending.pop() {
        for (v, sql) in &all {
            if *v != name && !found.contains(v) && mentions(sql, &n) {
                found.push(v.clone());
                pending.push(v.clone());
            }
        }
    }
    Ok(found)
}

/// `ALTER TABLE name OWNER TO role` (pg_dump writes one for every table,
/// view and sequence). memdb's relations have no owner — privileges come
/// from GRANT and superusers — so this checks the relation and the role
/// and changes nothing.
fn owner_to(txn: &mut Transaction, name: &str, owner: &ast::Owner, user: &str) -> Result<()> {
    let exists = txn.table(name).is_ok() || txn.sequence(name).is_ok() || view_definition(txn, name)?.is_some();
    if !exists {
        return Err(SqlError::Engine(memdb_engine::Error::UndefinedTable(name.to_owned())));
    }
    if let ast::Owner::Ident(role) = owner {
        let role = ident(role);
        if !role_known(txn, &role, user) {
            return Err(SqlError::Engine(memdb_engine::Error::UndefinedObject { kind: "role", name: role }));
        }
    }
    Ok(())
}

/// Whether `role` names a role: one in the catalog, or the session's own
/// (`user`).
pub(super) fn role_known(txn: &Transaction, role: &str, user: &str) -> bool {
    role == user || txn.security().role_exists(role)
}

fn alter_table(txn: &mut Transaction, at: &ast::AlterTable, user: &str, notices: &mut Vec<Notice>) -> Result<String> {
    let name = object_name(&at.name)?;
    if at.if_exists && txn.table(&name).is_err() {
        notices.push(Notice::skipped_missing("relation", &name));
        return Ok("ALTER TABLE".into());
    }
    for op in &at.operations {
        if let ast::AlterTableOperation::OwnerTo { new_owner } = op {
            owner_to(txn, &name, new_owner, user)?;
            continue;
        }
        let table = txn.table(&name)?;
        let change = match op {
            ast::AlterTableOperation::AddColumn { column_def, if_not_exists, .. } => {
                let cname = ident(&column_def.name);
                if *if_not_exists && table.column_position(&cname).is_ok() {
                    let message = format!("column \"{cname}\" of relation \"{name}\" already exists, skipping");
                    notices.push(Notice::info("42701", message));
                    continue;
                }
                let ty = data_type(&column_def.data_type)?;
                let mut column = Column::new(cname.clone(), ty.clone());
                let mut extra = Vec::new();
                for opt in &column_def.options {
                    match &opt.option {
                        ast::ColumnOption::Null => column.nullable = true,
                        ast::ColumnOption::NotNull => column.nullable = false,
                        ast::ColumnOption::Default(e) => column.default = Some(stored_default(txn, e, &name, &ty)?),
                        ast::ColumnOption::Unique(_) => {
                            extra.push(ConstraintSpec::Unique { name: None, columns: vec![cname.clone()] })
                        }
                        ast::ColumnOption::PrimaryKey(_) => {
                            extra.push(ConstraintSpec::PrimaryKey { name: None, columns: vec![cname.clone()] })
                        }
                        other => return Err(unsupported(format!("column option {other} in ALTER TABLE"))),
                    }
                }
                txn.alter_table(&name, AlterTable::AddColumn(column))?;
                for c in extra {
                    txn.alter_table(&name, AlterTable::AddConstraint(c))?;
                }
                continue;
            }
            ast::AlterTableOperation::DropColumn { column_names, if_exists, drop_behavior, .. } => {
                for c in column_names {
                    let cname = ident(c);
                    if *if_exists && txn.table(&name)?.column_position(&cname).is_err() {
                        notices.push(Notice::skipped_missing_in("column", &cname, &name));
                        continue;
                    }
                    txn.alter_table(
                        &name,
                        AlterTable::DropColumn {
                            name: cname,
                            cascade: matches!(drop_behavior, Some(ast::DropBehavior::Cascade)),
                        },
                    )?;
                }
                continue;
            }
            ast::AlterTableOperation::RenameColumn { old_column_name, new_column_name } => {
                AlterTable::RenameColumn { from: ident(old_column_name), to: ident(new_column_name) }
            }
            ast::AlterTableOperation::RenameTable { table_name } => {
                let (ast::RenameTableNameKind::As(n) | ast::RenameTableNameKind::To(n)) = table_name;
                // The new name is in the table's schema (PostgreSQL refuses a
                // schema there; a qualified name must name the same schema).
                let to = object_name(n)?;
                let schema = super::split_qualified(&name).0;
                if n.0.len() > 1 && super::split_qualified(&to).0 != schema {
                    return Err(SqlError::Semantic(
                        "ALTER TABLE … RENAME TO cannot move a table to another schema".into(),
                    ));
                }
                AlterTable::RenameTable(super::qualify(schema, super::split_qualified(&to).1))
            }
            ast::AlterTableOperation::AddConstraint { constraint, .. } => {
                let cols: Vec<Column> = table.schema().columns.clone();
                AlterTable::AddConstraint(table_constraint(txn, constraint, &cols, &name)?)
            }
            ast::AlterTableOperation::DropConstraint { name: cname, if_exists, drop_behavior } => {
                let known =
                    table.schema().indexes.iter().any(|i| i.constraint.as_deref() == Some(ident(cname).as_str()))
                        || table.schema().checks.iter().any(|c| c.name == ident(cname))
                        || table.schema().foreign_keys.iter().any(|f| f.name == ident(cname));
                if !known && *if_exists {
                    notices.push(Notice::skipped_missing_in("constraint", &ident(cname), &name));
                    continue;
                }
                let r = txn.alter_table(
                    &name,
                    AlterTable::DropConstraint {
                        name: ident(cname),
                        cascade: matches!(drop_behavior, Some(ast::DropBehavior::Cascade)),
                    },
                );
                match r {
                    Err(e) if *if_exists && e.sqlstate() == "42704" => {
                        notices.push(Notice::skipped_missing_in("constraint", &ident(cname), &name));
                    }
                    other => other?,
                }
                continue;
            }
            ast::AlterTableOperation::AlterColumn { column_name, op } => {
                let column = ident(column_name);
                match op {
                    ast::AlterColumnOperation::SetNotNull => AlterTable::SetNotNull { column, not_null: true },
                    ast::AlterColumnOperation::DropNotNull => AlterTable::SetNotNull { column, not_null: false },
                    ast::AlterColumnOperation::DropDefault => AlterTable::SetDefault { column, default: None },
                    ast::AlterColumnOperation::SetDefault { value } => {
                        let pos = table.column_position(&column)?;
                        let ty = table.columns().get(pos).map(|c| c.data_type.clone()).unwrap_or(DataType::Text);
                        AlterTable::SetDefault { column, default: Some(stored_default(txn, value, &name, &ty)?) }
                    }
                    ast::AlterColumnOperation::AddGenerated { sequence_options, .. } => {
                        let options = sequence_options.as_deref().unwrap_or_default();
                        super::sequence::add_identity(txn, &name, &column, options, None)?;
                        continue;
                    }
                    other => return Err(unsupported(format!("ALTER COLUMN {other}"))),
                }
            }
            other => return Err(unsupported(format!("ALTER TABLE {other}"))),
        };
        txn.alter_table(&name, change)?;
    }
    Ok("ALTER TABLE".into())
}
