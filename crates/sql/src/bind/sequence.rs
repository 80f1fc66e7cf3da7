//! Sequence DDL: `CREATE SEQUENCE`, `ALTER SEQUENCE` (reached as the
//! `alter_sequence` procedure, see `crate::seqsyntax`), the sequences of
//! SERIAL and identity columns, and `ALTER TABLE … ALTER COLUMN c ADD
//! GENERATED … AS IDENTITY`, with PostgreSQL's defaults: bounds from the
//! sequence's type (`AS integer`, or the column's), direction from the
//! increment's sign.

use memdb_engine::{AlterTable, DataType, SequenceSchema, Transaction, Value};
use sqlparser::ast;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::keywords::Keyword;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Token;

use super::types::data_type;
use super::{ident, object_name};
use crate::error::{Result, SqlError, data_exception, unsupported};
use crate::notice::Notice;

/// The value range of a sequence of type `ty` (`bigint` for anything but
/// `smallint` and `integer`).
pub(crate) fn type_bounds(ty: &DataType) -> (i64, i64) {
    match ty {
        DataType::Int2 => (i64::from(i16::MIN), i64::from(i16::MAX)),
        DataType::Int4 => (i64::from(i32::MIN), i64::from(i32::MAX)),
        _ => (i64::MIN, i64::MAX),
    }
}

fn constant_i64(e: &ast::Expr) -> Result<i64> {
    let text = e.to_string().replace(' ', "");
    text.trim().parse::<i64>().map_err(|_| SqlError::InvalidParameter(format!("expected an integer, got {text}")))
}

/// Applies sequence options. `bounds` is the type's range, for `NO
/// MINVALUE`/`NO MAXVALUE` and (when `creating`) unspecified bounds; a new
/// sequence also starts at its lower (ascending) or upper bound unless told.
pub(crate) fn apply_options(
    seq: &mut SequenceSchema,
    options: &[ast::SequenceOptions],
    bounds: (i64, i64),
    creating: bool,
) -> Result<()> {
    let (mut start, mut min, mut max) = (None, None, None);
    for o in options {
        match o {
            ast::SequenceOptions::IncrementBy(e, _) => {
                seq.increment = constant_i64(e)?;
                if seq.increment == 0 {
                    return Err(SqlError::InvalidParameter("INCREMENT must not be zero".into()));
                }
            }
            ast::SequenceOptions::MinValue(v) => min = Some(v.as_ref().map(constant_i64).transpose()?),
            ast::SequenceOptions::MaxValue(v) => max = Some(v.as_ref().map(constant_i64).transpose()?),
            ast::SequenceOptions::Cache(_) => {}
            ast::SequenceOptions::StartWith(e, _) => start = Some(constant_i64(e)?),
            ast::SequenceOptions::Cycle(no) => seq.cycle = !no,
        }
    }
    let ascending = seq.increment > 0;
    let default_min = if ascending { 1 } else { bounds.0 };
    let default_max = if ascending { bounds.1 } else { -1 };
    match min {
        Some(v) => seq.min = v.unwrap_or(default_min),
        None if creating => seq.min = default_min,
        None => {}
    }
    match max {
        Some(v) => seq.max = v.unwrap_or(default_max),
        None if creating => seq.max = default_max,
        None => {}
    }
    if seq.min < bounds.0 || seq.max > bounds.1 {
        let (which, value) = if seq.min < bounds.0 { ("MINVALUE", seq.min) } else { ("MAXVALUE", seq.max) };
        return Err(SqlError::InvalidParameter(format!("{which} ({value}) is out of range for sequence data type")));
    }
    match start {
        Some(v) => seq.start = v,
        None if creating => seq.start = if ascending { seq.min } else { seq.max },
        None => {}
    }
    Ok(())
}

/// `OWNED BY table.column` as the engine's owner (table id and physical
/// column); `OWNED BY NONE` as none.
fn owner(txn: &mut Transaction, name: &ast::ObjectName) -> Result<Option<(memdb_engine::TableId, usize)>> {
    let parts: Vec<String> = name.0.iter().filter_map(|p| p.as_ident().map(ident)).collect();
    if parts.len() == 1 && parts[0] == "none" {
        return Ok(None);
    }
    let Some((column, table)) = parts.split_last().filter(|(_, t)| !t.is_empty()) else {
        return Err(SqlError::Semantic(
            "invalid OWNED BY option: specify OWNED BY table.column or OWNED BY NONE".into(),
        ));
    };
    let table_name = match table {
        [name] => name.clone(),
        [schema, name] => super::qualify(schema, name),
        _ => return Err(SqlError::Semantic(format!("improper qualified name (too many dotted names): {name}"))),
    };
    let table = txn.table(&table_name)?;
    let position = table.schema().column_index(column)?;
    Ok(Some((table.id(), position)))
}

/// `CREATE SEQUENCE`.
pub(crate) fn create_sequence(
    txn: &mut Transaction,
    if_not_exists: bool,
    name: &ast::ObjectName,
    ty: Option<&ast::DataType>,
    options: &[ast::SequenceOptions],
    owned_by: Option<&ast::ObjectName>,
    notices: &mut Vec<Notice>,
) -> Result<String> {
    let name = object_name(name)?;
    if if_not_exists && txn.sequence(&name).is_ok() {
        notices.push(Notice::skipped_existing_relation(&name));
        return Ok("CREATE SEQUENCE".into());
    }
    super::check_creatable(txn, &name)?;
    let bounds = ty.map(sequence_type).transpose()?.map_or((i64::MIN, i64::MAX), |t| type_bounds(&t));
    let mut seq = SequenceSchema::new(name);
    apply_options(&mut seq, options, bounds, true)?;
    if let Some(o) = owned_by {
        seq.owned_by = owner(txn, o)?;
    }
    txn.create_sequence(seq)?;
    Ok("CREATE SEQUENCE".into())
}

/// A sequence's `AS type`: one of the integer types.
fn sequence_type(t: &ast::DataType) -> Result<DataType> {
    match data_type(t)? {
        ty @ (DataType::Int2 | DataType::Int4 | DataType::Int8) => Ok(ty),
        _ => Err(SqlError::InvalidParameter("sequence type must be smallint, integer, or bigint".into())),
    }
}

/// The sequence of an identity or SERIAL column: named `table_column_seq`
/// unless `name` says otherwise, bounded by the column's type, owned by
/// the column.
pub(crate) fn column_sequence(
    txn: &mut Transaction,
    table: &str,
    column: &str,
    ty: &DataType,
    options: &[ast::SequenceOptions],
    name: Option<&str>,
) -> Result<String> {
    let name = name.map_or_else(|| format!("{table}_{column}_seq"), str::to_owned);
    let mut seq = SequenceSchema::new(name.clone());
    apply_options(&mut seq, options, type_bounds(ty), true)?;
    let t = txn.table(table)?;
    seq.owned_by = Some((t.id(), t.schema().column_index(column)?));
    txn.create_sequence(seq)?;
    Ok(name)
}

/// `ALTER TABLE t ALTER COLUMN c ADD GENERATED … AS IDENTITY [(options)]`:
/// the column draws its values from a new sequence it owns (named `name`
/// when the options say `SEQUENCE NAME`).
pub(crate) fn add_identity(
    txn: &mut Transaction,
    table: &str,
    column: &str,
    options: &[ast::SequenceOptions],
    name: Option<&str>,
) -> Result<()> {
    let t = txn.table(table)?;
    let position = t.column_position(column)?;
    let ty = t.columns().get(position).map(|c| c.data_type.clone()).unwrap_or(DataType::Int8);
    if !matches!(ty, DataType::Int2 | DataType::Int4 | DataType::Int8) {
        return Err(SqlError::DatatypeMismatch(format!(
            "identity column type must be smallint, integer, or bigint (column \"{column}\" is {ty})"
        )));
    }
    let columns = t.columns();
    let Some(current) = columns.get(position) else {
        return Err(SqlError::UndefinedColumn(column.to_owned()));
    };
    if current.nullable {
        return Err(data_exception(
            "55000",
            format!(
                "column \"{column}\" of relation \"{table}\" must be declared NOT NULL before identity can be added"
            ),
        ));
    }
    if current.default.is_some() {
        return Err(data_exception(
            "55000",
            format!("column \"{column}\" of relation \"{table}\" already has a default value"),
        ));
    }
    let seq = column_sequence(txn, table, column, &ty, options, name)?;
    let default = memdb_engine::Expr::Function("nextval".into(), vec![memdb_engine::Expr::Literal(Value::Text(seq))]);
    txn.alter_table(table, AlterTable::SetDefault { column: column.to_owned(), default: Some(default) })?;
    Ok(())
}

/// `ALTER SEQUENCE [IF EXISTS] name options`: `options` is the text after
/// the name (`RESTART WITH 5`, `OWNED BY t.id`, `INCREMENT 2 MAXVALUE 9`, …);
/// `user` is the session's role (for `OWNER TO`).
pub(crate) fn alter_sequence(
    txn: &mut Transaction,
    name: &str,
    options: &str,
    if_exists: bool,
    user: &str,
    notices: &mut Vec<Notice>,
) -> Result<String> {
    let name = object_name(&parse_part(name, |p| p.parse_object_name(false))?)?;
    let Ok((mut seq, _)) = txn.sequence(&name) else {
        if if_exists {
            notices.push(Notice::skipped_missing("relation", &name));
            return Ok("ALTER SEQUENCE".into());
        }
        return Err(SqlError::Engine(memdb_engine::Error::UndefinedTable(name)));
    };
    if options.trim().is_empty() {
        return Err(SqlError::Syntax {
            message: "ALTER SEQUENCE needs an option (RESTART, INCREMENT, OWNED BY, …)".into(),
            line: 0,
            column: 0,
        });
    }
    let parts = split_alter_options(options)?;
    if let Some(role) = &parts.owner
        && !super::ddl::role_known(txn, role, user)
    {
        return Err(SqlError::Engine(memdb_engine::Error::UndefinedObject { kind: "role", name: role.clone() }));
    }
    let sequence_options = create_options(&parts.rest)?;
    // Bounds of the sequence's type: the new `AS type`, else the one its
    // maximum (or minimum) suggests.
    let old_bounds = [DataType::Int2, DataType::Int4, DataType::Int8]
        .iter()
        .map(type_bounds)
        .find(|b| seq.max == b.1 || seq.min == b.0)
        .unwrap_or((i64::MIN, i64::MAX));
    let bounds = match &parts.data_type {
        Some(t) => {
            let new = type_bounds(&sequence_type(t)?);
            // Bounds that were the old type's defaults follow the type.
            if seq.max == old_bounds.1 {
                seq.max = new.1;
            }
            if seq.min == old_bounds.0 {
                seq.min = new.0;
            }
            new
        }
        None => old_bounds,
    };
    apply_options(&mut seq, &sequence_options, bounds, false)?;
    if let Some(o) = &parts.owned_by {
        seq.owned_by = owner(txn, o)?;
    }
    let restart = parts.restart.map(|r| r.unwrap_or(seq.start));
    txn.alter_sequence(&name, seq, restart)?;
    Ok("ALTER SEQUENCE".into())
}

/// Parses one part of a statement (a name, a type) given as text.
fn parse_part<T>(
    text: &str,
    part: impl FnOnce(&mut Parser<'_>) -> std::result::Result<T, sqlparser::parser::ParserError>,
) -> Result<T> {
    Parser::new(&PostgreSqlDialect {}).try_with_sql(text).and_then(|mut p| part(&mut p)).map_err(|e| SqlError::Syntax {
        message: e.to_string(),
        line: 0,
        column: 0,
    })
}

/// Sequence options as text, parsed by CREATE SEQUENCE's grammar (and put
/// in its order first, see `crate::seqsyntax`).
fn create_options(options: &str) -> Result<Vec<ast::SequenceOptions>> {
    match crate::parse(&format!("CREATE SEQUENCE s {options}"))?.into_iter().next() {
        Some(ast::Statement::CreateSequence { sequence_options, .. }) => Ok(sequence_options),
        _ => Err(SqlError::Semantic(format!("unexpected sequence options: {options}"))),
    }
}

/// The parts of ALTER SEQUENCE's options that CREATE SEQUENCE's grammar
/// does not take (or takes only in one place).
struct AlterOptions {
    /// `RESTART [[WITH] n]`
    restart: Option<Option<i64>>,
    /// `OWNER TO role`
    owner: Option<String>,
    /// `AS type`
    data_type: Option<ast::DataType>,
    /// `OWNED BY t.c | NONE`
    owned_by: Option<ast::ObjectName>,
    /// Everything else, as text.
    rest: String,
}

fn split_alter_options(options: &str) -> Result<AlterOptions> {
    let syntax = |message: String| SqlError::Syntax { message, line: 0, column: 0 };
    let tokens =
        crate::tokens::tokenize(options).ok_or_else(|| syntax(format!("invalid ALTER SEQUENCE options: {options}")))?;
    let spanned: Vec<&crate::tokens::Spanned<'_>> =
        tokens.iter().filter(|t| !matches!(t.token, Token::Whitespace(_))).collect();
    let words: Vec<&Token> = spanned.iter().map(|t| &t.token).collect();
    let is = |n: usize, k: Keyword| matches!(words.get(n), Some(Token::Word(w)) if w.keyword == k);
    let text = |from: usize, to: usize| spanned[from..to].iter().map(|t| t.text).collect::<Vec<_>>().join(" ");
    let mut parts = AlterOptions { restart: None, owner: None, data_type: None, owned_by: None, rest: String::new() };
    let mut rest = Vec::new();
    let mut n = 0;
    while n < words.len() {
        if is(n, Keyword::RESTART) {
            let mut m = n + 1;
            if is(m, Keyword::WITH) {
                m += 1;
            }
            let sign = usize::from(matches!(words.get(m), Some(Token::Minus | Token::Plus)));
            parts.restart = Some(match words.get(m + sign) {
                Some(Token::Number(..)) => {
                    let value = text(m, m + sign + 1).replace(' ', "");
                    m += sign + 1;
                    Some(value.parse::<i64>().map_err(|_| syntax(format!("invalid RESTART value {value}")))?)
                }
                _ => None,
            });
            n = m;
        } else if is(n, Keyword::OWNER) && is(n + 1, Keyword::TO) {
            let Some(Token::Word(w)) = words.get(n + 2) else {
                return Err(syntax("expected a role after OWNER TO".into()));
            };
            // Unquoted names fold to lower case, as identifiers do;
            // CURRENT_USER, SESSION_USER and CURRENT_ROLE name the session's.
            parts.owner = match w.keyword {
                Keyword::CURRENT_USER | Keyword::SESSION_USER | Keyword::CURRENT_ROLE if w.quote_style.is_none() => {
                    None
                }
                _ => Some(if w.quote_style.is_some() { w.value.clone() } else { w.value.to_lowercase() }),
            };
            n += 3;
        } else if is(n, Keyword::OWNED) && is(n + 1, Keyword::BY) {
            let mut m = n + 3;
            while matches!(words.get(m), Some(Token::Period)) {
                m += 2;
            }
            let name = text(n + 2, m.min(words.len()));
            parts.owned_by = Some(parse_part(&name, |p| p.parse_object_name(false))?);
            n = m;
        } else if is(n, Keyword::AS) {
            let Some(t) = spanned.get(n + 1) else { return Err(syntax("expected a type after AS".into())) };
            parts.data_type = Some(parse_part(t.text, |p| p.parse_data_type())?);
            n += 2;
        } else if is(n, Keyword::RENAME) || (is(n, Keyword::SET) && is(n + 1, Keyword::SCHEMA)) {
            return Err(unsupported(format!("ALTER SEQUENCE … {}", text(n, (n + 2).min(words.len())))));
        } else if is(n, Keyword::SET) && (is(n + 1, Keyword::LOGGED) || is(n + 1, Keyword::UNLOGGED)) {
            // Every sequence's position is logged; nothing to change.
            n += 2;
        } else {
            rest.push(n);
            n += 1;
        }
    }
    parts.rest = rest.iter().map(|&i| spanned[i].text).collect::<Vec<_>>().join(" ");
    Ok(parts)
}

/// `CALL pg_catalog.add_identity(table, column, sequence, options)`: the
/// form `crate::seqsyntax` gives `ALTER TABLE … ADD GENERATED … AS
/// IDENTITY (SEQUENCE NAME s …)`, whose sequence name the parser does not
/// take. The names are SQL text (quoted as written), the options CREATE
/// SEQUENCE's.
pub(crate) fn add_identity_call(
    txn: &mut Transaction,
    table: &str,
    column: &str,
    sequence: &str,
    options: &str,
) -> Result<String> {
    let table = object_name(&parse_part(table, |p| p.parse_object_name(false))?)?;
    let column = ident(&parse_part(column, |p| p.parse_identifier())?);
    let sequence = object_name(&parse_part(sequence, |p| p.parse_object_name(false))?)?;
    add_identity(txn, &table, &column, &create_options(options)?, Some(&sequence))?;
    Ok("ALTER TABLE".into())
}
