//! The small expression language of CHECK constraints and column defaults.
//!
//! The engine enforces constraints itself, also for embedded callers that
//! never touch SQL, and replays them deterministically from the commit log,
//! so it needs expressions it can store and evaluate on its own. The SQL
//! layer lowers `CHECK (...)` and `DEFAULT ...` clauses into [`Expr`]; its
//! own evaluator is far richer and is used for queries.
//!
//! Semantics are SQL's: three-valued logic, NULL propagation, integer
//! overflow and division by zero as errors.

use std::cmp::Ordering;
use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::types::{DataType, Value};

/// A stored expression over the columns of one row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Expr {
    /// A constant.
    Literal(Value),
    /// The value of a column, by physical position.
    Column(usize),
    /// `NOT e`
    Not(Box<Expr>),
    /// `a AND b`
    And(Box<Expr>, Box<Expr>),
    /// `a OR b`
    Or(Box<Expr>, Box<Expr>),
    /// `e IS NULL`
    IsNull(Box<Expr>),
    /// A comparison.
    Compare(CompareOp, Box<Expr>, Box<Expr>),
    /// Arithmetic.
    Arithmetic(ArithmeticOp, Box<Expr>, Box<Expr>),
    /// `-e`
    Negate(Box<Expr>),
    /// `e IN (list)`
    InList(Box<Expr>, Vec<Expr>),
    /// `CAST(e AS type)`
    Cast(Box<Expr>, DataType),
    /// A built-in function: `lower`, `upper`, `length`, `abs`, `coalesce`,
    /// `now` (the statement's timestamp).
    Function(String, Vec<Expr>),
    /// A column default the engine cannot evaluate (`gen_random_uuid()`,
    /// `now() + interval '1 day'`), kept as the SQL text the layer above
    /// stored and evaluates when it inserts. Written without a row, so it
    /// reads no columns; the engine refuses to fill it in by itself.
    Sql(String),
}

/// Comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CompareOp {
    /// `=`
    Eq,
    /// `<>`
    NotEq,
    /// `<`
    Lt,
    /// `<=`
    LtEq,
    /// `>`
    Gt,
    /// `>=`
    GtEq,
}

/// Arithmetic operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ArithmeticOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/` (integer division truncates, as in PostgreSQL)
    Div,
    /// `%`
    Rem,
    /// `||` (text concatenation)
    Concat,
}

/// What an expression may depend on besides the row.
#[derive(Clone, Copy, Debug, Default)]
pub struct EvalContext {
    /// The statement's timestamp for `now()`, in µs since 2000-01-01 UTC.
    pub now: i64,
}

impl Expr {
    /// Evaluates the expression over `row` (physical column order).
    pub fn eval(&self, row: &[Value], ctx: &EvalContext) -> Result<Value> {
        Ok(match self {
            Expr::Literal(v) => v.clone(),
            Expr::Column(i) => row.get(*i).cloned().unwrap_or(Value::Null),
            Expr::Not(e) => match e.eval(row, ctx)? {
                Value::Bool(b) => Value::Bool(!b),
                Value::Null => Value::Null,
                other => return Err(not_boolean(&other)),
            },
            Expr::And(a, b) => match (truth(a.eval(row, ctx)?)?, truth(b.eval(row, ctx)?)?) {
                (Some(false), _) | (_, Some(false)) => Value::Bool(false),
                (Some(true), Some(true)) => Value::Bool(true),
                _ => Value::Null,
            },
            Expr::Or(a, b) => match (truth(a.eval(row, ctx)?)?, truth(b.eval(row, ctx)?)?) {
                (Some(true), _) | (_, Some(true)) => Value::Bool(true),
                (Some(false), Some(false)) => Value::Bool(false),
                _ => Value::Null,
            },
            Expr::IsNull(e) => Value::Bool(e.eval(row, ctx)?.is_null()),
            Expr::Compare(op, a, b) => {
                let (a, b) = (a.eval(row, ctx)?, b.eval(row, ctx)?);
                match a.sql_cmp(&b) {
                    None => Value::Null,
                    Some(ord) => Value::Bool(match op {
                        CompareOp::Eq => ord == Ordering::Equal,
                        CompareOp::NotEq => ord != Ordering::Equal,
                        CompareOp::Lt => ord == Ordering::Less,
                        CompareOp::LtEq => ord != Ordering::Greater,
                        CompareOp::Gt => ord == Ordering::Greater,
                        CompareOp::GtEq => ord != Ordering::Less,
                    }),
                }
            }
            Expr::Arithmetic(op, a, b) => arithmetic(*op, a.eval(row, ctx)?, b.eval(row, ctx)?)?,
            Expr::Negate(e) => match e.eval(row, ctx)? {
                Value::Null => Value::Null,
                v => arithmetic(ArithmeticOp::Sub, Value::Int4(0), v)?,
            },
            Expr::InList(e, list) => {
                let value = e.eval(row, ctx)?;
                if value.is_null() {
                    return Ok(Value::Null);
                }
                let mut saw_null = false;
                for item in list {
                    match value.sql_eq(&item.eval(row, ctx)?) {
                        Some(true) => return Ok(Value::Bool(true)),
                        None => saw_null = true,
                        Some(false) => {}
                    }
                }
                if saw_null { Value::Null } else { Value::Bool(false) }
            }
            Expr::Cast(e, ty) => e.eval(row, ctx)?.cast(ty)?,
            Expr::Function(name, args) => function(name, args, row, ctx)?,
            Expr::Sql(text) => {
                return Err(Error::FeatureNotSupported(format!(
                    "the expression {text} is evaluated by SQL statements only; give the column a value"
                )));
            }
        })
    }

    /// Evaluates a CHECK expression: `false` only when it is definitely false.
    pub fn check(&self, row: &[Value], ctx: &EvalContext) -> Result<bool> {
        Ok(truth(self.eval(row, ctx)?)? != Some(false))
    }

    /// Whether the expression mentions physical column `column`.
    pub fn references(&self, column: usize) -> bool {
        match self {
            Expr::Literal(_) | Expr::Sql(_) => false,
            Expr::Column(i) => *i == column,
            Expr::Not(e) | Expr::IsNull(e) | Expr::Negate(e) | Expr::Cast(e, _) => e.references(column),
            Expr::And(a, b) | Expr::Or(a, b) | Expr::Compare(_, a, b) | Expr::Arithmetic(_, a, b) => {
                a.references(column) || b.references(column)
            }
            Expr::InList(e, list) => e.references(column) || list.iter().any(|x| x.references(column)),
            Expr::Function(_, args) => args.iter().any(|x| x.references(column)),
        }
    }

    /// Renders the expression as SQL the way PostgreSQL shows stored
    /// expressions (`pg_get_expr`): columns named with `names` (quoted when
    /// needed), typed literals such as `'x'::text`, `IN` lists as
    /// `= ANY (ARRAY[…])`.
    pub fn to_sql(&self, names: &[String]) -> String {
        ExprSql { expr: self, names }.to_string()
    }
}

fn truth(v: Value) -> Result<Option<bool>> {
    match v {
        Value::Bool(b) => Ok(Some(b)),
        Value::Null => Ok(None),
        other => Err(not_boolean(&other)),
    }
}

fn not_boolean(v: &Value) -> Error {
    Error::DatatypeMismatch(format!("argument must be type boolean, not {v:?}"))
}

fn int_result(v: Option<i64>, ty: &DataType) -> Result<Value> {
    let overflow = || Error::NumericOverflow(format!("{ty} out of range"));
    let v = v.ok_or_else(overflow)?;
    Ok(match ty {
        DataType::Int2 => Value::Int2(i16::try_from(v).map_err(|_| overflow())?),
        DataType::Int4 => Value::Int4(i32::try_from(v).map_err(|_| overflow())?),
        _ => Value::Int8(v),
    })
}

fn arithmetic(op: ArithmeticOp, a: Value, b: Value) -> Result<Value> {
    if a.is_null() || b.is_null() {
        return Ok(Value::Null);
    }
    if op == ArithmeticOp::Concat {
        return Ok(Value::Text(format!("{a}{b}")));
    }
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        let rank = |v: &Value| match v {
            Value::Int2(_) => 0,
            Value::Int4(_) => 1,
            _ => 2,
        };
        let ty = [DataType::Int2, DataType::Int4, DataType::Int8][rank(&a).max(rank(&b))].clone();
        let r = match op {
            ArithmeticOp::Add => x.checked_add(y),
            ArithmeticOp::Sub => x.checked_sub(y),
            ArithmeticOp::Mul => x.checked_mul(y),
            ArithmeticOp::Div | ArithmeticOp::Rem if y == 0 => return Err(Error::DivisionByZero),
            ArithmeticOp::Div => x.checked_div(y),
            ArithmeticOp::Rem => x.checked_rem(y),
            ArithmeticOp::Concat => None,
        };
        return int_result(r, &ty);
    }
    let is_float = |v: &Value| matches!(v, Value::Float4(_) | Value::Float8(_));
    if is_float(&a) || is_float(&b) {
        let (x, y) = (to_f64(&a)?, to_f64(&b)?);
        let r = match op {
            ArithmeticOp::Add => x + y,
            ArithmeticOp::Sub => x - y,
            ArithmeticOp::Mul => x * y,
            ArithmeticOp::Div | ArithmeticOp::Rem if y == 0.0 => return Err(Error::DivisionByZero),
            ArithmeticOp::Div => x / y,
            ArithmeticOp::Rem => x % y,
            ArithmeticOp::Concat => f64::NAN,
        };
        return Ok(Value::Float8(r));
    }
    let (x, y) = (to_decimal(&a)?, to_decimal(&b)?);
    let overflow = || Error::NumericOverflow("value overflows numeric format".into());
    let r = match op {
        ArithmeticOp::Add => x.checked_add(y),
        ArithmeticOp::Sub => x.checked_sub(y),
        ArithmeticOp::Mul => x.checked_mul(y),
        ArithmeticOp::Div | ArithmeticOp::Rem if y.is_zero() => return Err(Error::DivisionByZero),
        ArithmeticOp::Div => x.checked_div(y),
        ArithmeticOp::Rem => x.checked_rem(y),
        ArithmeticOp::Concat => None,
    };
    Ok(Value::Numeric(r.ok_or_else(overflow)?))
}

fn to_f64(v: &Value) -> Result<f64> {
    match v.cast(&DataType::Float8)? {
        Value::Float8(f) => Ok(f),
        other => Err(Error::DatatypeMismatch(format!("{other:?} is not a number"))),
    }
}

fn to_decimal(v: &Value) -> Result<Decimal> {
    match v.cast(&DataType::Numeric(None))? {
        Value::Numeric(d) => Ok(d),
        other => Err(Error::DatatypeMismatch(format!("{other:?} is not a number"))),
    }
}

fn function(name: &str, args: &[Expr], row: &[Value], ctx: &EvalContext) -> Result<Value> {
    let arg = |i: usize| -> Result<Value> {
        args.get(i)
            .ok_or_else(|| Error::InvalidParameter(format!("function {name} needs {} argument(s)", i + 1)))?
            .eval(row, ctx)
    };
    Ok(match name {
        "now" | "current_timestamp" => Value::TimestampTz(ctx.now),
        "coalesce" => {
            for a in args {
                let v = a.eval(row, ctx)?;
                if !v.is_null() {
                    return Ok(v);
                }
            }
            Value::Null
        }
        "lower" | "upper" | "length" => match arg(0)? {
            Value::Null => Value::Null,
            v => {
                let s = v.to_string();
                match name {
                    "lower" => Value::Text(s.to_lowercase()),
                    "upper" => Value::Text(s.to_uppercase()),
                    _ => Value::Int4(i32::try_from(s.chars().count()).unwrap_or(i32::MAX)),
                }
            }
        },
        "abs" => match arg(0)? {
            Value::Null => Value::Null,
            v if v.sql_cmp(&Value::Int4(0)) == Some(Ordering::Less) => {
                arithmetic(ArithmeticOp::Sub, Value::Int4(0), v)?
            }
            v => v,
        },
        "nextval" => {
            // Sequences are transaction state: only inserts draw from them
            // (`Transaction::insert_columns`), never a stored expression.
            return Err(Error::FeatureNotSupported("nextval() is not allowed in this expression".into()));
        }
        other => return Err(Error::InvalidParameter(format!("function {other} is not supported in constraints"))),
    })
}

/// An identifier as PostgreSQL prints it: bare when it is a plain
/// lower-case name, double-quoted otherwise.
pub fn quote_identifier(name: &str) -> std::borrow::Cow<'_, str> {
    let plain = name.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        std::borrow::Cow::Borrowed(name)
    } else {
        std::borrow::Cow::Owned(format!("\"{}\"", name.replace('"', "\"\"")))
    }
}

struct ExprSql<'a> {
    expr: &'a Expr,
    names: &'a [String],
}

impl<'a> fmt::Display for ExprSql<'a> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = self.names;
        let sub = |e: &'a Expr| ExprSql { expr: e, names };
        match self.expr {
            Expr::Literal(Value::Null) => f.write_str("NULL"),
            Expr::Literal(Value::Bool(b)) => f.write_str(if *b { "true" } else { "false" }),
            Expr::Literal(
                v @ (Value::Int2(_) | Value::Int4(_) | Value::Int8(_) | Value::Numeric(_) | Value::Float8(_)),
            ) => write!(f, "{v}"),
            Expr::Literal(v) => {
                let ty = v.data_type().map_or_else(|| "text".to_owned(), |t| t.to_string());
                write!(f, "'{}'::{ty}", v.to_string().replace('\'', "''"))
            }
            Expr::Column(i) => match self.names.get(*i) {
                Some(n) => f.write_str(&quote_identifier(n)),
                None => write!(f, "${i}"),
            },
            Expr::Not(e) => write!(f, "(NOT {})", sub(e)),
            Expr::And(a, b) => write!(f, "({} AND {})", sub(a), sub(b)),
            Expr::Or(a, b) => write!(f, "({} OR {})", sub(a), sub(b)),
            Expr::IsNull(e) => write!(f, "({} IS NULL)", sub(e)),
            Expr::Compare(op, a, b) => {
                let op = match op {
                    CompareOp::Eq => "=",
                    CompareOp::NotEq => "<>",
                    CompareOp::Lt => "<",
                    CompareOp::LtEq => "<=",
                    CompareOp::Gt => ">",
                    CompareOp::GtEq => ">=",
                };
                write!(f, "({} {op} {})", sub(a), sub(b))
            }
            Expr::Arithmetic(op, a, b) => {
                let op = match op {
                    ArithmeticOp::Add => "+",
                    ArithmeticOp::Sub => "-",
                    ArithmeticOp::Mul => "*",
                    ArithmeticOp::Div => "/",
                    ArithmeticOp::Rem => "%",
                    ArithmeticOp::Concat => "||",
                };
                write!(f, "({} {op} {})", sub(a), sub(b))
            }
            Expr::Negate(e) => write!(f, "(- {})", sub(e)),
            Expr::InList(e, list) => {
                write!(f, "({} = ANY (ARRAY[", sub(e))?;
                for (i, item) in list.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}", sub(item))?;
                }
                f.write_str("]))")
            }
            Expr::Cast(e, ty) => write!(f, "({})::{ty}", sub(e)),
            // A sequence default (SERIAL) shows as PostgreSQL stores it.
            Expr::Function(name, args)
                if name == "nextval" && matches!(args.as_slice(), [Expr::Literal(Value::Text(_))]) =>
            {
                match args.as_slice() {
                    [Expr::Literal(Value::Text(seq))] => {
                        write!(f, "nextval('{}'::regclass)", seq.replace('\'', "''"))
                    }
                    _ => Ok(()),
                }
            }
            Expr::Function(name, args) => {
                write!(f, "{name}(")?;
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}", sub(a))?;
                }
                f.write_str(")")
            }
            Expr::Sql(text) => f.write_str(text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(i: usize) -> Box<Expr> {
        Box::new(Expr::Column(i))
    }
    fn lit(v: impl Into<Value>) -> Box<Expr> {
        Box::new(Expr::Literal(v.into()))
    }

    #[test]
    fn checks_use_three_valued_logic() {
        let ctx = EvalContext::default();
        let positive = Expr::Compare(CompareOp::Gt, col(0), lit(0i32));
        assert!(positive.check(&[Value::Int4(5)], &ctx).unwrap());
        assert!(!positive.check(&[Value::Int4(-5)], &ctx).unwrap());
        assert!(positive.check(&[Value::Null], &ctx).unwrap(), "NULL passes a CHECK");
        let both = Expr::And(Box::new(positive.clone()), Box::new(Expr::Compare(CompareOp::Lt, col(0), lit(10i32))));
        assert!(!both.check(&[Value::Int4(11)], &ctx).unwrap());
        assert_eq!(both.to_sql(&["a".into()]), "((a > 0) AND (a < 10))");
    }

    #[test]
    fn arithmetic_overflow_and_division_by_zero_are_errors() {
        let ctx = EvalContext::default();
        let add = Expr::Arithmetic(ArithmeticOp::Add, lit(i32::MAX), lit(1i32));
        assert!(matches!(add.eval(&[], &ctx), Err(Error::NumericOverflow(_))));
        let div = Expr::Arithmetic(ArithmeticOp::Div, lit(1i64), lit(0i64));
        assert_eq!(div.eval(&[], &ctx), Err(Error::DivisionByZero));
        let ok = Expr::Arithmetic(ArithmeticOp::Div, lit(7i32), lit(2i32));
        assert!(matches!(ok.eval(&[], &ctx).unwrap(), Value::Int4(3)));
    }
}
