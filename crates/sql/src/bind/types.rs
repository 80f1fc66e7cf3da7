//! SQL type names to engine types, and PostgreSQL's rules for finding a
//! common type (UNION, CASE, VALUES, IN lists, comparisons).

use memdb_engine::{DataType, NumericTypmod};
use sqlparser::ast;

use crate::error::{Result, SqlError, unsupported};

/// The engine type for a SQL type name.
pub(crate) fn data_type(t: &ast::DataType) -> Result<DataType> {
    use ast::DataType as A;
    let char_len = |l: &Option<ast::CharacterLength>| -> Result<Option<u32>> {
        match l {
            None | Some(ast::CharacterLength::Max) => Ok(None),
            Some(ast::CharacterLength::IntegerLength { length, .. }) => match u32::try_from(*length) {
                Ok(n) if (1..=10_485_760).contains(&n) => Ok(Some(n)),
                _ => Err(SqlError::InvalidParameter(
                    "length for type varchar must be between 1 and 10485760".to_string(),
                )),
            },
        }
    };
    let numeric = |info: &ast::ExactNumberInfo| -> Result<DataType> {
        Ok(match info {
            ast::ExactNumberInfo::None => DataType::Numeric(None),
            ast::ExactNumberInfo::Precision(p) => DataType::Numeric(Some(typmod(*p, 0)?)),
            ast::ExactNumberInfo::PrecisionAndScale(p, s) => {
                DataType::Numeric(Some(typmod(*p, u64::try_from(*s).map_err(|_| bad_typmod())?)?))
            }
        })
    };
    Ok(match t {
        A::Bool | A::Boolean => DataType::Bool,
        A::SmallInt(_) | A::Int2(_) => DataType::Int2,
        A::Int(_) | A::Integer(_) | A::Int4(_) | A::MediumInt(_) => DataType::Int4,
        A::BigInt(_) | A::Int8(_) => DataType::Int8,
        A::TinyInt(_) => DataType::Int2,
        A::Real | A::Float4 => DataType::Float4,
        A::Float(info) => match info {
            ast::ExactNumberInfo::Precision(p) if *p <= 24 => DataType::Float4,
            _ => DataType::Float8,
        },
        A::Double(_) | A::DoublePrecision | A::Float8 | A::Float64 => DataType::Float8,
        A::Numeric(info) | A::Decimal(info) | A::Dec(info) => numeric(info)?,
        A::Text | A::String(_) => DataType::Text,
        A::Varchar(l) | A::CharacterVarying(l) | A::CharVarying(l) | A::Nvarchar(l) => DataType::Varchar(char_len(l)?),
        A::Char(l) | A::Character(l) => DataType::Char(char_len(l)?.unwrap_or(1)),
        A::Bytea => DataType::Bytea,
        A::Date => DataType::Date,
        A::Time(_, tz) => match tz {
            ast::TimezoneInfo::WithTimeZone | ast::TimezoneInfo::Tz => {
                return Err(unsupported("type time with time zone"));
            }
            _ => DataType::Time,
        },
        A::Timestamp(_, tz) => match tz {
            ast::TimezoneInfo::WithTimeZone | ast::TimezoneInfo::Tz => DataType::TimestampTz,
            _ => DataType::Timestamp,
        },
        A::Datetime(_) => DataType::Timestamp,
        A::Interval { .. } => DataType::Interval,
        A::Uuid => DataType::Uuid,
        A::JSON => DataType::Json,
        A::JSONB => DataType::Jsonb,
        A::Array(elem) => match elem {
            ast::ArrayElemTypeDef::AngleBracket(t)
            | ast::ArrayElemTypeDef::SquareBracket(t, _)
            | ast::ArrayElemTypeDef::Parenthesis(t) => DataType::Array(Box::new(data_type(t)?)),
            ast::ArrayElemTypeDef::None | ast::ArrayElemTypeDef::Qualified(..) => {
                return Err(unsupported("this array type"));
            }
        },
        A::Custom(name, args) => named_type(&name.to_string().to_ascii_lowercase().replace('"', ""), args)?,
        other => return Err(unsupported(format!("type {other}"))),
    })
}

fn bad_typmod() -> SqlError {
    SqlError::InvalidParameter("NUMERIC precision must be between 1 and 28".into())
}

fn typmod(p: u64, s: u64) -> Result<NumericTypmod> {
    if !(1..=28).contains(&p) {
        return Err(bad_typmod());
    }
    if s > p {
        return Err(SqlError::InvalidParameter(format!("NUMERIC scale {s} must be between 0 and precision {p}")));
    }
    Ok(NumericTypmod {
        precision: u32::try_from(p).map_err(|_| bad_typmod())?,
        scale: u32::try_from(s).map_err(|_| bad_typmod())?,
    })
}

/// Types written as plain names (`int4`, `serial`, `timestamptz`, ...).
pub(crate) fn named_type(name: &str, args: &[String]) -> Result<DataType> {
    let name = name.strip_prefix("pg_catalog.").unwrap_or(name);
    Ok(match name {
        "int2" | "smallint" | "smallserial" | "serial2" => DataType::Int2,
        "int4" | "int" | "integer" | "serial" | "serial4" => DataType::Int4,
        "int8" | "bigint" | "bigserial" | "serial8" => DataType::Int8,
        "float4" | "real" => DataType::Float4,
        "float8" | "double" => DataType::Float8,
        "bool" | "boolean" => DataType::Bool,
        "text" | "name" | "citext" => DataType::Text,
        "bpchar" => DataType::Char(args.first().and_then(|a| a.parse().ok()).unwrap_or(1)),
        "varchar" => DataType::Varchar(args.first().and_then(|a| a.parse().ok())),
        "numeric" | "decimal" => match args {
            [] => DataType::Numeric(None),
            [p] => DataType::Numeric(Some(typmod(p.parse().map_err(|_| bad_typmod())?, 0)?)),
            [p, s, ..] => DataType::Numeric(Some(typmod(
                p.parse().map_err(|_| bad_typmod())?,
                s.parse().map_err(|_| bad_typmod())?,
            )?)),
        },
        "timestamptz" => DataType::TimestampTz,
        "timestamp" => DataType::Timestamp,
        "date" => DataType::Date,
        "time" => DataType::Time,
        "interval" => DataType::Interval,
        "uuid" => DataType::Uuid,
        "json" => DataType::Json,
        "jsonb" => DataType::Jsonb,
        "bytea" => DataType::Bytea,
        "regclass" | "oid" | "regtype" | "regproc" | "regprocedure" | "regnamespace" | "regrole" | "regoper"
        | "xid" | "cid" | "tid" => DataType::Int4,
        "int2vector" => DataType::Array(Box::new(DataType::Int2)),
        "oidvector" => DataType::Array(Box::new(DataType::Int4)),
        "char" => DataType::Text,
        other => {
            if let Some(elem) = other.strip_prefix('_') {
                return Ok(DataType::Array(Box::new(named_type(elem, &[])?)));
            }
            return Err(SqlError::Engine(memdb_engine::Error::UndefinedObject {
                kind: "type",
                name: other.to_owned(),
            }));
        }
    })
}

/// Whether a SQL type name asks for a serial column (and which integer type).
pub(crate) fn serial_type(t: &ast::DataType) -> Option<DataType> {
    let ast::DataType::Custom(name, _) = t else { return None };
    match name.to_string().to_ascii_lowercase().as_str() {
        "serial" | "serial4" => Some(DataType::Int4),
        "bigserial" | "serial8" => Some(DataType::Int8),
        "smallserial" | "serial2" => Some(DataType::Int2),
        _ => None,
    }
}

/// PostgreSQL's type categories, for common-type resolution.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Category {
    Numeric,
    String,
    Other,
}

pub(crate) fn category(t: &DataType) -> Category {
    match t {
        DataType::Int2
        | DataType::Int4
        | DataType::Int8
        | DataType::Float4
        | DataType::Float8
        | DataType::Numeric(_) => Category::Numeric,
        DataType::Text | DataType::Varchar(_) | DataType::Char(_) => Category::String,
        _ => Category::Other,
    }
}

fn numeric_rank(t: &DataType) -> u8 {
    match t {
        DataType::Int2 => 0,
        DataType::Int4 => 1,
        DataType::Int8 => 2,
        DataType::Numeric(_) => 3,
        DataType::Float4 => 4,
        _ => 5,
    }
}

/// The common type of several (known) types, as UNION/CASE/COALESCE
/// resolve it; `context` names the construct in the error.
pub(crate) fn common_type<'a>(
    types: impl IntoIterator<Item = &'a DataType>,
    context: &str,
) -> Result<Option<DataType>> {
    let mut best: Option<DataType> = None;
    for t in types {
        best = Some(match best {
            None => t.clone(),
            Some(b) if b == *t => b,
            Some(b) => match (category(&b), category(t)) {
                (Category::Numeric, Category::Numeric) => {
                    if numeric_rank(t) > numeric_rank(&b) {
                        match t {
                            DataType::Numeric(_) => DataType::Numeric(None),
                            other => other.clone(),
                        }
                    } else {
                        match b {
                            DataType::Numeric(_) => DataType::Numeric(None),
                            other => other,
                        }
                    }
                }
                (Category::String, Category::String) => DataType::Text,
                _ if matches!(
                    (&b, t),
                    (DataType::Timestamp, DataType::TimestampTz) | (DataType::TimestampTz, DataType::Timestamp)
                ) =>
                {
                    DataType::TimestampTz
                }
                _ if matches!(
                    (&b, t),
                    (DataType::Date, DataType::Timestamp) | (DataType::Timestamp, DataType::Date)
                ) =>
                {
                    DataType::Timestamp
                }
                _ if matches!((&b, t), (DataType::Json, DataType::Jsonb) | (DataType::Jsonb, DataType::Json)) => {
                    DataType::Jsonb
                }
                _ => {
                    return Err(SqlError::DatatypeMismatch(format!("{context} types {b} and {t} cannot be matched")));
                }
            },
        });
    }
    Ok(best)
}

/// Whether a value of type `from` converts to `to` without loss, so an
/// index on a `to` column can be searched with it.
pub(crate) fn widens_exactly(from: &DataType, to: &DataType) -> bool {
    use DataType as T;
    from == to
        || matches!(
            (from, to),
            (T::Int2, T::Int4 | T::Int8 | T::Numeric(None))
                | (T::Int4, T::Int8 | T::Numeric(None))
                | (T::Int8, T::Numeric(None))
                | (T::Float4, T::Float8)
                | (T::Text | T::Varchar(_), T::Text)
                | (T::Varchar(_), T::Varchar(None))
        )
}
