//! Binding expressions: names to column positions, literals and operators
//! to typed values and operators, function names to functions.

use std::sync::Arc;

use memdb_engine::{DataType, Interval, Value};
use sqlparser::ast;

use super::types::{Category, category, common_type, data_type};
use super::{Binder, Typed, ident, object_name};
use crate::error::{Result, SqlError, unsupported};
use crate::expr::{BinOp, Expr, Func, Subquery, SubqueryKind, arith};

use crate::plan::{AggregateCall, AggregateFunc, SortKey, WindowCall, WindowFunc};

/// Stack that must remain before a recursive step (else a new segment is allocated).
pub(crate) const RED_ZONE: usize = 128 * 1024;
/// Size of each extra stack segment.
pub(crate) const STACK_CHUNK: usize = 2 * 1024 * 1024;

fn type_name(t: &Typed) -> String {
    if t.unknown { "unknown".to_owned() } else { t.ty.to_string() }
}

fn no_operator(op: &str, a: &Typed, b: &Typed) -> SqlError {
    SqlError::UndefinedFunction(format!("operator does not exist: {} {op} {}", type_name(a), type_name(b)))
}

/// Casts a bound expression to a type: literals are converted now (so a bad
/// literal is an error at bind time, as in PostgreSQL), others get a cast.
pub(crate) fn cast_to(t: Typed, ty: &DataType) -> Result<Expr> {
    if t.ty == *ty && !t.unknown {
        return Ok(t.expr);
    }
    // `char(n)` to text or varchar drops the padding, as PostgreSQL's
    // bpchar-to-text cast does (`'ab'::char(4) || '|'` is `ab|`).
    if matches!(t.ty, DataType::Char(_)) && !t.unknown && matches!(ty, DataType::Text | DataType::Varchar(_)) {
        let trimmed = match t.expr {
            Expr::Literal(Value::Text(s)) => Expr::Literal(Value::Text(s.trim_end_matches(' ').to_owned())),
            Expr::Literal(v) => Expr::Literal(v),
            e => Expr::Call(Func::Rtrim, vec![e]),
        };
        return match ty {
            DataType::Varchar(Some(_)) => cast_to(Typed::new(trimmed, DataType::Text), ty),
            _ => Ok(trimmed),
        };
    }
    match t.expr {
        Expr::Literal(v) => Ok(Expr::Literal(v.cast(ty)?)),
        Expr::Param(i) => Ok(Expr::Cast(Box::new(Expr::Param(i)), ty.clone())),
        e => Ok(Expr::Cast(Box::new(e), ty.clone())),
    }
}

/// Casts unless the types already agree.
pub(super) fn coerce(t: Typed, ty: &DataType) -> Result<Typed> {
    Ok(Typed::new(cast_to(t, ty)?, ty.clone()))
}

/// The type an untyped literal takes when nothing else decides: text.
pub(crate) fn resolve_unknown(t: Typed) -> Result<Typed> {
    if t.unknown { coerce(t, &DataType::Text) } else { Ok(t) }
}

fn is_bool(t: &Typed) -> bool {
    t.ty == DataType::Bool
}

impl Binder<'_> {
    /// Binds an expression that must be boolean (WHERE, ON, HAVING, CHECK).
    pub(crate) fn predicate(&mut self, e: &ast::Expr) -> Result<Expr> {
        let t = self.expr(e)?;
        self.as_bool(t, "WHERE")
    }

    fn as_bool(&mut self, t: Typed, context: &str) -> Result<Expr> {
        if t.unknown {
            return cast_to(t, &DataType::Bool);
        }
        if !is_bool(&t) {
            return Err(SqlError::DatatypeMismatch(format!(
                "argument of {context} must be type boolean, not type {}",
                t.ty
            )));
        }
        Ok(t.expr)
    }

    /// Binds an expression in the current scope.
    pub(crate) fn expr(&mut self, e: &ast::Expr) -> Result<Typed> {
        // Deeply nested expressions recurse deeply: grow the stack on demand.
        stacker::maybe_grow(RED_ZONE, STACK_CHUNK, || self.expr_inner(e))
    }

    fn expr_inner(&mut self, e: &ast::Expr) -> Result<Typed> {
        use ast::Expr as E;
        Ok(match e {
            E::Identifier(id) => {
                let name = ident(id);
                match self.resolve(None, &name) {
                    Ok(t) => t,
                    Err(SqlError::UndefinedColumn(_)) if id.quote_style.is_none() => match special_function(&name) {
                        Some(f) => Typed::new(Expr::Call(f, Vec::new()), f.return_type(&[])?),
                        None => return Err(SqlError::UndefinedColumn(name)),
                    },
                    Err(e) => return Err(e),
                }
            }
            E::CompoundIdentifier(parts) => {
                let names: Vec<String> = parts.iter().map(ident).collect();
                match names.as_slice() {
                    [t, c] => self.resolve(Some(t), c)?,
                    [_, t, c] => self.resolve(Some(t), c)?,
                    _ => return Err(SqlError::Semantic(format!("improper qualified name: {e}"))),
                }
            }
            E::Value(v) => self.value(&v.value)?,
            E::TypedString(ts) => {
                let ty = data_type(&ts.data_type)?;
                let text = match &ts.value.value {
                    ast::Value::SingleQuotedString(s) | ast::Value::EscapedStringLiteral(s) => s.clone(),
                    other => other.to_string(),
                };
                Typed::new(Expr::Literal(Value::Text(text).cast(&ty)?), ty)
            }
            E::Nested(inner) => self.expr(inner)?,
            E::BinaryOp { left, op, right } => {
                let (l, r) = (self.expr(left)?, self.expr(right)?);
                self.binary(op, l, r)?
            }
            E::UnaryOp { op, expr } => self.unary(*op, expr)?,
            E::IsNull(x) => Typed::new(Expr::IsNull(Box::new(self.expr(x)?.expr)), DataType::Bool),
            E::IsNotNull(x) => {
                Typed::new(Expr::Not(Box::new(Expr::IsNull(Box::new(self.expr(x)?.expr)))), DataType::Bool)
            }
            E::IsTrue(x) | E::IsNotTrue(x) | E::IsFalse(x) | E::IsNotFalse(x) => {
                let t = self.expr(x)?;
                let b = self.as_bool(t, "IS TRUE")?;
                let want = matches!(e, E::IsTrue(_) | E::IsNotTrue(_));
                let test = Expr::IsBool(Box::new(b), want);
                let negate = matches!(e, E::IsNotTrue(_) | E::IsNotFalse(_));
                Typed::new(if negate { Expr::Not(Box::new(test)) } else { test }, DataType::Bool)
            }
            E::IsUnknown(x) | E::IsNotUnknown(x) => {
                let t = self.expr(x)?;
                let b = self.as_bool(t, "IS UNKNOWN")?;
                let test = Expr::IsNull(Box::new(b));
                Typed::new(
                    if matches!(e, E::IsNotUnknown(_)) { Expr::Not(Box::new(test)) } else { test },
                    DataType::Bool,
                )
            }
            E::IsDistinctFrom(a, b) | E::IsNotDistinctFrom(a, b) => {
                let left = self.expr(a)?;
                let right = self.expr(b)?;
                let (x, y) = self.comparable(left, right, "IS DISTINCT FROM")?;
                let test = Expr::IsDistinct(Box::new(x.expr), Box::new(y.expr));
                Typed::new(
                    if matches!(e, E::IsNotDistinctFrom(..)) { Expr::Not(Box::new(test)) } else { test },
                    DataType::Bool,
                )
            }
            E::InList { expr, list, negated } => {
                let probe = self.expr(expr)?;
                let mut items = Vec::with_capacity(list.len());
                for i in list {
                    items.push(self.expr(i)?);
                }
                // As PostgreSQL resolves IN: two or more items that read no
                // row become one array of the common type compared with
                // `= ANY`; the others are compared one by one with `=`.
                let row_free = |t: &Typed| {
                    let mut free = true;
                    t.expr.walk(&mut |x| {
                        free &=
                            !matches!(x, Expr::Column(_) | Expr::Outer { .. } | Expr::Subquery(_) | Expr::Aggregate(_));
                    });
                    free
                };
                let (listed, single): (Vec<Typed>, Vec<Typed>) = if items.iter().filter(|t| row_free(t)).count() >= 2 {
                    items.into_iter().partition(|t| row_free(t))
                } else {
                    (Vec::new(), items)
                };
                let mut tests = Vec::new();
                if !listed.is_empty() {
                    tests.push(self.in_array(probe.clone(), listed)?);
                }
                for item in single {
                    let (p, i) = self.comparable(probe.clone(), item, "=")?;
                    tests.push(strict_binary(BinOp::Eq, p.expr, i.expr));
                }
                let test = tests
                    .into_iter()
                    .reduce(|a, b| Expr::Or(Box::new(a), Box::new(b)))
                    .unwrap_or(Expr::Literal(Value::Bool(false)));
                Typed::new(if *negated { Expr::Not(Box::new(test)) } else { test }, DataType::Bool)
            }
            E::InSubquery { expr, subquery, negated } => {
                let probe = self.expr(expr)?;
                let (plan, columns, correlated) = self.expr_subquery(subquery)?;
                if columns.len() != 1 {
                    return Err(SqlError::Semantic("subquery has too many columns".into()));
                }
                let col = Typed::new(Expr::Column(0), columns[0].data_type.clone());
                let probe = if probe.unknown { coerce(probe, &col.ty)? } else { probe };
                self.check_comparable(&probe, &col, "=")?;
                let (probe, plan) = trim_quantified(probe, &col.ty, plan)?;
                let id = self.subquery_id();
                let test = Expr::Subquery(Arc::new(Subquery {
                    id,
                    plan,
                    kind: SubqueryKind::In(Box::new(probe.expr)),
                    correlated,
                }));
                Typed::new(if *negated { Expr::Not(Box::new(test)) } else { test }, DataType::Bool)
            }
            E::Between { expr, negated, low, high } => {
                let (low, symmetric) = match symmetric_low(low) {
                    Some(inner) => (inner, true),
                    None => (&**low, false),
                };
                let v = self.expr(expr)?;
                let lo = self.expr(low)?;
                let hi = self.expr(high)?;
                let (v1, lo) = self.comparable(v.clone(), lo, "BETWEEN")?;
                let (v2, hi) = self.comparable(v, hi, "BETWEEN")?;
                let within = |v1: Expr, lo: Expr, v2: Expr, hi: Expr| {
                    Expr::And(
                        Box::new(strict_binary(BinOp::GtEq, v1, lo)),
                        Box::new(strict_binary(BinOp::LtEq, v2, hi)),
                    )
                };
                let test = if symmetric {
                    // PostgreSQL's expansion: either order of the bounds.
                    let swapped = within(v1.expr.clone(), hi.expr.clone(), v2.expr.clone(), lo.expr.clone());
                    Expr::Or(Box::new(within(v1.expr, lo.expr, v2.expr, hi.expr)), Box::new(swapped))
                } else {
                    within(v1.expr, lo.expr, v2.expr, hi.expr)
                };
                Typed::new(if *negated { Expr::Not(Box::new(test)) } else { test }, DataType::Bool)
            }
            E::Like { negated, expr, pattern, escape_char, any }
            | E::ILike { negated, expr, pattern, escape_char, any } => {
                if *any {
                    return Err(unsupported("LIKE ANY"));
                }
                let s = resolve_unknown(self.expr(expr)?)?;
                let mut p = resolve_unknown(self.expr(pattern)?)?;
                if let Some(escape) = escape_char {
                    // Rewritten for the default escape character.
                    let escape = self.expr(escape)?;
                    p = self.call(Func::LikeEscape, vec![p, escape])?;
                }
                for t in [&s, &p] {
                    if category(&t.ty) != Category::String {
                        return Err(SqlError::UndefinedFunction(format!(
                            "operator does not exist: {} ~~ {}",
                            s.ty, p.ty
                        )));
                    }
                }
                let test = Expr::Like {
                    expr: Box::new(s.expr),
                    pattern: Box::new(p.expr),
                    case_insensitive: matches!(e, E::ILike { .. }),
                };
                Typed::new(if *negated { Expr::Not(Box::new(test)) } else { test }, DataType::Bool)
            }
            E::SimilarTo { negated, expr, pattern, escape_char } => {
                let s = resolve_unknown(self.expr(expr)?)?;
                let p = resolve_unknown(self.expr(pattern)?)?;
                let escape = match escape_char {
                    Some(e) => self.expr(e)?,
                    None => Typed::new(Expr::Literal(Value::Text("\\".into())), DataType::Text),
                };
                let re = self.call(Func::SimilarToRegex, vec![p, escape])?;
                let s = cast_to(s, &DataType::Text)?;
                Typed::new(
                    Expr::Binary(
                        BinOp::RegexMatch { case_insensitive: false, negated: *negated },
                        Box::new(s),
                        Box::new(re.expr),
                    ),
                    DataType::Bool,
                )
            }
            E::Overlay { expr, overlay_what, overlay_from, overlay_for } => {
                let mut args = vec![self.expr(expr)?, self.expr(overlay_what)?, self.expr(overlay_from)?];
                if let Some(f) = overlay_for {
                    args.push(self.expr(f)?);
                }
                self.call(Func::Overlay, args)?
            }
            E::AnyOp { left, compare_op, right, .. } | E::AllOp { left, compare_op, right } => {
                let all = matches!(e, E::AllOp { .. });
                let op =
                    comparison(compare_op).ok_or_else(|| unsupported(format!("operator {compare_op} with ANY/ALL")))?;
                let probe = self.expr(left)?;
                match right.as_ref() {
                    E::Subquery(q) => {
                        let (plan, columns, correlated) = self.expr_subquery(q)?;
                        if columns.len() != 1 {
                            return Err(SqlError::Semantic("subquery has too many columns".into()));
                        }
                        let col = Typed::new(Expr::Column(0), columns[0].data_type.clone());
                        let probe = if probe.unknown { coerce(probe, &col.ty)? } else { probe };
                        self.check_comparable(&probe, &col, op.symbol())?;
                        let (probe, plan) = trim_quantified(probe, &col.ty, plan)?;
                        let id = self.subquery_id();
                        Typed::new(
                            Expr::Subquery(Arc::new(Subquery {
                                id,
                                plan,
                                kind: SubqueryKind::Quantified { expr: Box::new(probe.expr), op, all },
                                correlated,
                            })),
                            DataType::Bool,
                        )
                    }
                    other => {
                        // `x = ANY(array)`: compare with each element.
                        let arr = self.expr(other)?;
                        let DataType::Array(elem) = arr.ty.clone() else {
                            return Err(SqlError::DatatypeMismatch(
                                "op ANY/ALL (array) requires array on right side".into(),
                            ));
                        };
                        let probe = if probe.unknown { coerce(probe, &elem)? } else { probe };
                        let id = self.subquery_id();
                        let null_array = Expr::IsNull(Box::new(arr.expr.clone()));
                        let plan = crate::plan::Plan::Function {
                            function: crate::plan::TableFunction::Unnest,
                            args: vec![lift_outer(arr.expr)],
                            ordinality: false,
                        };
                        let (probe, plan) = trim_quantified(probe, &elem, plan)?;
                        let test = Expr::Subquery(Arc::new(Subquery {
                            id,
                            plan,
                            kind: SubqueryKind::Quantified { expr: Box::new(probe.expr), op, all },
                            correlated: true,
                        }));
                        // A NULL array (unlike an empty one) makes the
                        // answer unknown, as in PostgreSQL; `ARRAY[…]` and
                        // array literals are never NULL.
                        let never_null = match &null_array {
                            Expr::IsNull(a) => {
                                matches!(**a, Expr::Array(..)) || matches!(&**a, Expr::Literal(v) if !v.is_null())
                            }
                            _ => false,
                        };
                        let test = if never_null {
                            test
                        } else {
                            Expr::Case {
                                operand: None,
                                whens: vec![(null_array, Expr::Literal(Value::Null))],
                                otherwise: Some(Box::new(test)),
                            }
                        };
                        Typed::new(test, DataType::Bool)
                    }
                }
            }
            E::Cast { expr, data_type: t, kind, .. } => {
                let inner = self.expr(expr)?;
                match kind {
                    ast::CastKind::Cast | ast::CastKind::DoubleColon => {}
                    _ => return Err(unsupported("TRY_CAST")),
                }
                // `'name'::regclass` names a relation; `oid::regclass` shows
                // the name of the relation an oid names.
                if is_regclass(t) {
                    if matches!(inner.expr, Expr::Literal(Value::Text(_))) {
                        return Ok(Typed::new(Expr::Literal(Value::Int4(self.regclass(&inner)?)), DataType::Int4));
                    }
                    let oid = cast_to(inner, &DataType::Int4)?;
                    return Ok(Typed::new(Expr::Call(Func::RegclassName, vec![oid]), DataType::Text));
                }
                let ty = data_type(t)?;
                if inner.ty == DataType::Bool && matches!(ty, DataType::Int8 | DataType::Int2) {
                    return Err(SqlError::Engine(memdb_engine::Error::CannotCast {
                        from: "boolean".into(),
                        to: ty.to_string(),
                    }));
                }
                coerce(inner, &ty)?
            }
            E::Case { operand, conditions, else_result, .. } => {
                self.case(operand.as_deref(), conditions, else_result.as_deref())?
            }
            E::Exists { subquery, negated } => {
                let (plan, _, correlated) = self.expr_subquery(subquery)?;
                let id = self.subquery_id();
                let test = Expr::Subquery(Arc::new(Subquery { id, plan, kind: SubqueryKind::Exists, correlated }));
                Typed::new(if *negated { Expr::Not(Box::new(test)) } else { test }, DataType::Bool)
            }
            E::Subquery(q) => {
                let (plan, columns, correlated) = self.expr_subquery(q)?;
                if columns.len() != 1 {
                    return Err(SqlError::Semantic("subquery must return only one column".into()));
                }
                let id = self.subquery_id();
                Typed::new(
                    Expr::Subquery(Arc::new(Subquery { id, plan, kind: SubqueryKind::Scalar, correlated })),
                    columns[0].data_type.clone(),
                )
            }
            E::Function(f) => self.function(f)?,
            E::Array(arr) => {
                let mut items = Vec::new();
                for i in &arr.elem {
                    items.push(self.expr(i)?);
                }
                let known: Vec<DataType> = items.iter().filter(|t| !t.unknown).map(|t| t.ty.clone()).collect();
                let elem = common_type(known.iter(), "ARRAY")?.unwrap_or(DataType::Text);
                let exprs = items.into_iter().map(|i| cast_to(i, &elem)).collect::<Result<Vec<_>>>()?;
                Typed::new(Expr::Array(exprs, elem.clone()), DataType::Array(Box::new(elem)))
            }
            E::Extract { field, expr, .. } => {
                let v = self.expr(expr)?;
                let field = field.to_string().to_lowercase();
                let call = Expr::Call(Func::DatePart, vec![Expr::Literal(Value::Text(field)), v.expr]);
                // PostgreSQL's EXTRACT returns numeric.
                Typed::new(Expr::Cast(Box::new(call), DataType::Numeric(None)), DataType::Numeric(None))
            }
            E::Substring { expr, substring_from, substring_for, .. } => {
                let mut args = vec![resolve_unknown(self.expr(expr)?)?];
                args.push(match substring_from {
                    Some(f) => self.expr(f)?,
                    None => Typed::new(Expr::Literal(Value::Int4(1)), DataType::Int4),
                });
                if let Some(f) = substring_for {
                    args.push(self.expr(f)?);
                }
                self.call(Func::Substr, args)?
            }
            E::Trim { expr, trim_where, trim_what, trim_characters } => {
                let f = match trim_where {
                    Some(ast::TrimWhereField::Leading) => Func::Ltrim,
                    Some(ast::TrimWhereField::Trailing) => Func::Rtrim,
                    _ => Func::Btrim,
                };
                let mut args = vec![self.expr(expr)?];
                if let Some(w) = trim_what {
                    args.push(self.expr(w)?);
                }
                if let Some(chars) = trim_characters {
                    for c in chars {
                        args.push(self.expr(c)?);
                    }
                }
                self.call(f, args)?
            }
            E::Position { expr, r#in } => {
                let args = vec![self.expr(r#in)?, self.expr(expr)?];
                self.call(Func::StrPos, args)?
            }
            E::Ceil { expr, .. } => {
                let a = self.expr(expr)?;
                self.call(Func::Ceil, vec![a])?
            }
            E::Floor { expr, .. } => {
                let a = self.expr(expr)?;
                self.call(Func::Floor, vec![a])?
            }
            E::Interval(iv) => {
                let v = self.expr(&iv.value)?;
                let Expr::Literal(lit) = v.expr else { return Err(unsupported("a non-constant INTERVAL")) };
                let mut text = lit.to_string();
                if let Some(field) = &iv.leading_field
                    && iv.last_field.is_none()
                    && text.trim().parse::<f64>().is_ok()
                {
                    text = format!("{text} {field}");
                }
                Typed::new(Expr::Literal(Value::Interval(Interval::parse(&text)?)), DataType::Interval)
            }
            E::Tuple(_) => return Err(unsupported("row constructors")),
            E::Collate { expr, .. } => self.expr(expr)?,
            E::CompoundFieldAccess { root, access_chain } => {
                // `x.a[1]` / `s.x.a[1]`: the dotted names lead to a column,
                // the subscripts follow.
                let dotted = access_chain
                    .iter()
                    .take_while(|a| matches!(a, ast::AccessExpr::Dot(ast::Expr::Identifier(_))))
                    .count();
                let (mut t, rest) = match (root.as_ref(), dotted) {
                    (ast::Expr::Identifier(first), n) if n > 0 => {
                        let mut parts = vec![first.clone()];
                        for a in &access_chain[..n] {
                            if let ast::AccessExpr::Dot(ast::Expr::Identifier(id)) = a {
                                parts.push(id.clone());
                            }
                        }
                        (self.expr(&ast::Expr::CompoundIdentifier(parts))?, &access_chain[n..])
                    }
                    _ => (self.expr(root)?, &access_chain[..]),
                };
                for access in rest {
                    let ast::AccessExpr::Subscript(ast::Subscript::Index { index }) = access else {
                        return Err(unsupported(format!("expression {e}")));
                    };
                    let DataType::Array(elem) = t.ty.clone() else {
                        return Err(SqlError::DatatypeMismatch(format!(
                            "cannot subscript type {} because it does not support subscripting",
                            t.ty
                        )));
                    };
                    let i = cast_to(self.expr(index)?, &DataType::Int4)?;
                    t = Typed::new(Expr::Call(Func::ArraySubscript, vec![t.expr, i]), *elem);
                }
                t
            }
            E::JsonAccess { .. } => return Err(unsupported(format!("expression {e}"))),
            other => return Err(unsupported(format!("expression {other}"))),
        })
    }

    fn value(&mut self, v: &ast::Value) -> Result<Typed> {
        use ast::Value as V;
        Ok(match v {
            V::Number(n, _) => number_literal(n)?,
            V::SingleQuotedString(s)
            | V::EscapedStringLiteral(s)
            | V::DollarQuotedString(ast::DollarQuotedString { value: s, .. })
            | V::UnicodeStringLiteral(s)
            | V::NationalStringLiteral(s)
            | V::TripleSingleQuotedString(s) => {
                Typed { expr: Expr::Literal(Value::Text(s.clone())), ty: DataType::Text, unknown: true }
            }
            V::HexStringLiteral(s) => {
                Typed::new(Expr::Literal(Value::parse(&format!("\\x{s}"), &DataType::Bytea)?), DataType::Bytea)
            }
            V::Boolean(b) => Typed::new(Expr::Literal(Value::Bool(*b)), DataType::Bool),
            V::Null => Typed { expr: Expr::Literal(Value::Null), ty: DataType::Text, unknown: true },
            V::Placeholder(p) => {
                let n: usize = p
                    .strip_prefix('$')
                    .and_then(|d| d.parse().ok())
                    .filter(|n| *n >= 1 && *n <= 65535)
                    .ok_or_else(|| SqlError::Semantic(format!("bad parameter {p}")))?;
                if self.params.len() < n {
                    self.params.resize(n, None);
                }
                match &self.params[n - 1] {
                    // The cast (a no-op on a value of the type) tells the
                    // optimizer the parameter's type, e.g. for index keys.
                    Some(t) => Typed::new(Expr::Cast(Box::new(Expr::Param(n - 1)), t.clone()), t.clone()),
                    None => Typed { expr: Expr::Param(n - 1), ty: DataType::Text, unknown: true },
                }
            }
            other => return Err(unsupported(format!("literal {other}"))),
        })
    }

    /// The cast of a value stored into a column of type `ty` (INSERT …
    /// VALUES, UPDATE … SET). An untyped parameter takes the column's type
    /// (what Describe reports); an untyped literal goes through the type's
    /// input function and an assignment cast, so `'abcd'` stored into
    /// `varchar(3)` is an error (22001) where `'abcd'::varchar(3)` cuts it
    /// to `abc`.
    pub(super) fn assign_to(&mut self, t: Typed, ty: &DataType) -> Result<Expr> {
        self.settle_param(&t, ty);
        match t.expr {
            Expr::Literal(v) if t.unknown => Ok(Expr::Literal(v.coerce_to(ty)?)),
            // A parameter arrives as text: storing it applies the length
            // check (an explicit cast to the column's type would cut it).
            Expr::Param(i) if t.unknown && matches!(ty, DataType::Varchar(Some(_)) | DataType::Char(_)) => {
                Ok(Expr::Cast(Box::new(Expr::Param(i)), DataType::Text))
            }
            expr => cast_to(Typed { expr, ..t }, ty),
        }
    }

    /// Fixes the type of an untyped parameter from its context.
    fn settle_param(&mut self, t: &Typed, ty: &DataType) {
        if let (true, Expr::Param(i)) = (t.unknown, &t.expr)
            && let Some(slot) = self.params.get_mut(*i)
            && slot.is_none()
        {
            *slot = Some(ty.clone());
        }
    }

    /// Gives two operands of a comparison a common footing.
    fn comparable(&mut self, a: Typed, b: Typed, op: &str) -> Result<(Typed, Typed)> {
        // A literal longer than the `char(n)` it meets compares as text
        // (cutting it to n characters would make it equal).
        let (a, b) = match (&a, &b) {
            (x, y) if x.unknown && overflows_char(x, &y.ty) => (resolve_unknown(a)?, b),
            (x, y) if y.unknown && overflows_char(y, &x.ty) => (a, resolve_unknown(b)?),
            _ => (a, b),
        };
        let (a, b) = match (a.unknown, b.unknown) {
            (true, false) => {
                self.settle_param(&a, &b.ty);
                let ty = b.ty.clone();
                (coerce(a, &ty)?, b)
            }
            (false, true) => {
                self.settle_param(&b, &a.ty);
                let ty = a.ty.clone();
                let b = coerce(b, &ty)?;
                (a, b)
            }
            (true, true) => (coerce(a, &DataType::Text)?, coerce(b, &DataType::Text)?),
            (false, false) => (a, b),
        };
        self.check_comparable(&a, &b, op)?;
        // A float meeting a numeric compares as double precision (the
        // numeric is cast), as PostgreSQL resolves the operator:
        // `0.1::float8 = 0.1` is true.
        let (a, b) = if float_meets_numeric(&a.ty, &b.ty) {
            (coerce(a, &DataType::Float8)?, coerce(b, &DataType::Float8)?)
        } else {
            (a, b)
        };
        // Trailing spaces do not count in `char(n)`: operands of one length
        // are padded alike and compare as they are (an index on the column
        // still serves); otherwise both compare without their padding.
        let (trim_a, trim_b) = padding_rule(&a.ty, &b.ty);
        Ok((trimmed_if(a, trim_a)?, trimmed_if(b, trim_b)?))
    }

    fn check_comparable(&self, a: &Typed, b: &Typed, op: &str) -> Result<()> {
        if a.unknown || b.unknown || a.ty == b.ty {
            return Ok(());
        }
        let ok = match (category(&a.ty), category(&b.ty)) {
            (Category::Numeric, Category::Numeric) | (Category::String, Category::String) => true,
            _ => common_type([&a.ty, &b.ty], "").is_ok(),
        };
        if ok { Ok(()) } else { Err(no_operator(op, a, b)) }
    }

    pub(super) fn binary(&mut self, op: &ast::BinaryOperator, l: Typed, r: Typed) -> Result<Typed> {
        use ast::BinaryOperator as B;
        // `OPERATOR(pg_catalog.~)` (psql writes operators this way) is the
        // built-in operator itself.
        if let B::PGCustomBinaryOperator(parts) = op
            && let [schema, symbol] = parts.as_slice()
            && schema.eq_ignore_ascii_case("pg_catalog")
            && let Some(plain) = builtin_operator(symbol)
        {
            return self.binary(&plain, l, r);
        }
        if let Some(cmp) = comparison(op) {
            let (l, r) = self.comparable(l, r, cmp.symbol())?;
            return Ok(Typed::new(strict_binary(cmp, typed_outer(l), typed_outer(r)), DataType::Bool));
        }
        let bop = match op {
            B::And | B::Or => {
                let (a, b) = (self.as_bool(l, if *op == B::And { "AND" } else { "OR" })?, self.as_bool(r, "AND")?);
                let e = if *op == B::And {
                    Expr::And(Box::new(a), Box::new(b))
                } else {
                    Expr::Or(Box::new(a), Box::new(b))
                };
                return Ok(Typed::new(e, DataType::Bool));
            }
            B::Plus => BinOp::Add,
            B::Minus => BinOp::Sub,
            B::Multiply => BinOp::Mul,
            B::Divide => BinOp::Div,
            B::Modulo => BinOp::Rem,
            B::PGExp => BinOp::Pow,
            B::StringConcat => BinOp::Concat,
            B::BitwiseAnd => BinOp::BitAnd,
            B::BitwiseOr => BinOp::BitOr,
            B::PGBitwiseXor => BinOp::BitXor,
            B::PGBitwiseShiftLeft => BinOp::ShiftLeft,
            B::PGBitwiseShiftRight => BinOp::ShiftRight,
            B::Arrow => BinOp::JsonGet,
            B::LongArrow => BinOp::JsonGetText,
            B::HashArrow => BinOp::JsonPath,
            B::HashLongArrow => BinOp::JsonPathText,
            B::AtArrow => BinOp::Contains,
            B::ArrowAt => BinOp::ContainedBy,
            B::Question => BinOp::JsonHasKey,
            B::PGRegexMatch => BinOp::RegexMatch { case_insensitive: false, negated: false },
            B::PGRegexIMatch => BinOp::RegexMatch { case_insensitive: true, negated: false },
            B::PGRegexNotMatch => BinOp::RegexMatch { case_insensitive: false, negated: true },
            B::PGRegexNotIMatch => BinOp::RegexMatch { case_insensitive: true, negated: true },
            B::PGLikeMatch | B::PGILikeMatch | B::PGNotLikeMatch | B::PGNotILikeMatch => {
                let ci = matches!(op, B::PGILikeMatch | B::PGNotILikeMatch);
                let test = Expr::Like {
                    expr: Box::new(resolve_unknown(l)?.expr),
                    pattern: Box::new(resolve_unknown(r)?.expr),
                    case_insensitive: ci,
                };
                let neg = matches!(op, B::PGNotLikeMatch | B::PGNotILikeMatch);
                return Ok(Typed::new(if neg { Expr::Not(Box::new(test)) } else { test }, DataType::Bool));
            }
            other => return Err(unsupported(format!("operator {other}"))),
        };
        match bop {
            BinOp::JsonGet
            | BinOp::JsonGetText
            | BinOp::JsonPath
            | BinOp::JsonPathText
            | BinOp::Contains
            | BinOp::ContainedBy
            | BinOp::JsonHasKey => {
                let l = if l.unknown { coerce(l, &DataType::Jsonb)? } else { l };
                let json = matches!(l.ty, DataType::Json | DataType::Jsonb);
                let r = match bop {
                    BinOp::JsonPath | BinOp::JsonPathText if r.unknown => {
                        coerce(r, &DataType::Array(Box::new(DataType::Text)))?
                    }
                    BinOp::Contains | BinOp::ContainedBy if r.unknown => coerce(r, &l.ty.clone())?,
                    _ => resolve_unknown(r)?,
                };
                let ty = match bop {
                    BinOp::JsonGetText | BinOp::JsonPathText => DataType::Text,
                    BinOp::Contains | BinOp::ContainedBy | BinOp::JsonHasKey => DataType::Bool,
                    _ => l.ty.clone(),
                };
                let arrays = matches!((&l.ty, &r.ty), (DataType::Array(_), DataType::Array(_)));
                if !json && !arrays {
                    return Err(no_operator(bop.symbol(), &l, &r));
                }
                return Ok(Typed::new(Expr::Binary(bop, Box::new(l.expr), Box::new(r.expr)), ty));
            }
            BinOp::RegexMatch { .. } => {
                let (l, r) = (resolve_unknown(l)?, resolve_unknown(r)?);
                return Ok(Typed::new(Expr::Binary(bop, Box::new(l.expr), Box::new(r.expr)), DataType::Bool));
            }
            _ => {}
        }
        // Arithmetic: an untyped side takes the other side's type (for
        // `||` only beside jsonb or bytea, which have their own `||`: next
        // to anything else it stays text).
        // (An untyped side beside an array is an array of its type:
        // `tags || '{x,y}'` concatenates, `arr || NULL` keeps `arr`.)
        let typed_concat = |t: &Typed| matches!(t.ty, DataType::Jsonb | DataType::Bytea | DataType::Array(_));
        let (l, r) = match (l.unknown, r.unknown) {
            (true, false) if bop == BinOp::Concat && typed_concat(&r) => {
                let ty = r.ty.clone();
                self.settle_param(&l, &ty);
                (coerce(l, &ty)?, r)
            }
            (false, true) if bop == BinOp::Concat && typed_concat(&l) => {
                let ty = l.ty.clone();
                self.settle_param(&r, &ty);
                (l, coerce(r, &ty)?)
            }
            (true, false) if bop != BinOp::Concat => {
                let ty = r.ty.clone();
                self.settle_param(&l, &ty);
                (coerce(l, &ty)?, r)
            }
            (false, true) if bop != BinOp::Concat => {
                let ty = match (&l.ty, bop) {
                    (
                        DataType::Date | DataType::Timestamp | DataType::TimestampTz | DataType::Time,
                        BinOp::Add | BinOp::Sub,
                    ) if !matches!(&r.expr, Expr::Literal(Value::Null)) => match &r.expr {
                        Expr::Literal(Value::Text(s)) if Interval::parse(s).is_ok() => DataType::Interval,
                        _ => l.ty.clone(),
                    },
                    _ => l.ty.clone(),
                };
                self.settle_param(&r, &ty);
                let r = coerce(r, &ty)?;
                (l, r)
            }
            _ => (resolve_unknown(l)?, resolve_unknown(r)?),
        };
        let (l, r) = if bop == BinOp::Concat { (unpadded(l)?, unpadded(r)?) } else { (l, r) };
        let ty = arith::result_type(bop, &l.ty, &r.ty).ok_or_else(|| no_operator(bop.symbol(), &l, &r))?;
        if bop == BinOp::Concat {
            // Arrays: `||` is array_cat / array_append / array_prepend,
            // which keep the other side when one is NULL.
            let array = |t: &Typed| matches!(t.ty, DataType::Array(_));
            let func = match (array(&l), array(&r)) {
                (true, true) => Some(Func::ArrayCat),
                (true, false) => Some(Func::ArrayAppend),
                (false, true) => Some(Func::ArrayPrepend),
                (false, false) => None,
            };
            if let Some(f) = func {
                return Ok(Typed::new(Expr::Call(f, vec![l.expr, r.expr]), ty));
            }
            // A boolean meets text as its cast to text (`true`, not `t`).
            let as_text = |t: Typed| if t.ty == DataType::Bool { coerce(t, &DataType::Text) } else { Ok(t) };
            let (l, r) = (as_text(l)?, as_text(r)?);
            return Ok(Typed::new(strict_binary(bop, l.expr, r.expr), ty));
        }
        Ok(Typed::new(strict_binary(bop, l.expr, r.expr), ty))
    }

    fn unary(&mut self, op: ast::UnaryOperator, e: &ast::Expr) -> Result<Typed> {
        use ast::UnaryOperator as U;
        match op {
            U::Not => {
                let t = self.expr(e)?;
                let b = self.as_bool(t, "NOT")?;
                Ok(Typed::new(Expr::Not(Box::new(b)), DataType::Bool))
            }
            // The parser reads `-2 ^ 2` as `-(2 ^ 2)`; in PostgreSQL the
            // sign binds tighter: `(-2) ^ 2`. Written parentheses are kept
            // (they parse as a nested expression).
            U::Minus if matches!(e, ast::Expr::BinaryOp { op: ast::BinaryOperator::PGExp, .. }) => {
                fn sign_first(e: &ast::Expr) -> ast::Expr {
                    match e {
                        ast::Expr::BinaryOp { left, op: ast::BinaryOperator::PGExp, right } => ast::Expr::BinaryOp {
                            left: Box::new(sign_first(left)),
                            op: ast::BinaryOperator::PGExp,
                            right: right.clone(),
                        },
                        other => ast::Expr::UnaryOp { op: ast::UnaryOperator::Minus, expr: Box::new(other.clone()) },
                    }
                }
                self.expr(&sign_first(e))
            }
            U::Minus => {
                // Fold `-<number>` so `-2147483648` is an integer literal.
                if let ast::Expr::Value(v) = e
                    && let ast::Value::Number(n, _) = &v.value
                {
                    return number_literal(&format!("-{n}"));
                }
                let t = self.expr(e)?;
                let t = if t.unknown { coerce(t, &DataType::Numeric(None))? } else { t };
                if !matches!(category(&t.ty), Category::Numeric) && t.ty != DataType::Interval {
                    return Err(SqlError::UndefinedFunction(format!("operator does not exist: - {}", t.ty)));
                }
                Ok(Typed::new(Expr::Neg(Box::new(t.expr)), t.ty))
            }
            U::Plus => {
                let t = self.expr(e)?;
                let t = if t.unknown { coerce(t, &DataType::Numeric(None))? } else { t };
                if !matches!(category(&t.ty), Category::Numeric) && t.ty != DataType::Interval {
                    return Err(SqlError::UndefinedFunction(format!("operator does not exist: + {}", t.ty)));
                }
                Ok(t)
            }
            U::PGAbs => {
                let t = self.expr(e)?;
                self.call(Func::Abs, vec![t])
            }
            U::PGSquareRoot => {
                let t = self.expr(e)?;
                self.call(Func::Sqrt, vec![t])
            }
            U::BitwiseNot => {
                let t = self.expr(e)?;
                let ty = t.ty.clone();
                let all_ones = Expr::Literal(Value::Int8(-1).cast(&ty)?);
                Ok(Typed::new(Expr::Binary(BinOp::BitXor, Box::new(t.expr), Box::new(all_ones)), ty))
            }
            other => Err(unsupported(format!("operator {other}"))),
        }
    }

    fn case(
        &mut self,
        operand: Option<&ast::Expr>,
        conditions: &[ast::CaseWhen],
        otherwise: Option<&ast::Expr>,
    ) -> Result<Typed> {
        let subject = operand.map(|o| self.expr(o)).transpose()?;
        let mut whens = Vec::with_capacity(conditions.len());
        let mut results = Vec::with_capacity(conditions.len() + 1);
        for c in conditions {
            let w = self.expr(&c.condition)?;
            let w = match &subject {
                Some(s) => {
                    let (_, w) = self.comparable(s.clone(), w, "=")?;
                    w.expr
                }
                None => self.as_bool(w, "CASE/WHEN")?,
            };
            whens.push(w);
            results.push(self.expr(&c.result)?);
        }
        let other = otherwise.map(|o| self.expr(o)).transpose()?;
        let known: Vec<DataType> =
            results.iter().chain(other.iter()).filter(|t| !t.unknown).map(|t| t.ty.clone()).collect();
        let ty = common_type(known.iter(), "CASE")?.unwrap_or(DataType::Text);
        let mut pairs = Vec::with_capacity(whens.len());
        for (w, r) in whens.into_iter().zip(results) {
            pairs.push((w, cast_to(r, &ty)?));
        }
        let otherwise = other.map(|o| cast_to(o, &ty)).transpose()?.map(Box::new);
        let subject = match subject {
            Some(s) => Some(Box::new(resolve_unknown(s)?.expr)),
            None => None,
        };
        Ok(Typed::new(Expr::Case { operand: subject, whens: pairs, otherwise }, ty))
    }

    /// Binds a call of a built-in scalar function on bound arguments.
    pub(crate) fn call(&mut self, f: Func, args: Vec<Typed>) -> Result<Typed> {
        // `pg_typeof` names the argument's type as bound, NULL or not (an
        // untyped literal is `unknown`), without its modifier.
        if f == Func::PgTypeof
            && let [arg] = args.as_slice()
        {
            let name = if arg.unknown { "unknown".to_owned() } else { unmodified_type_name(&arg.ty) };
            return Ok(Typed::new(Expr::Literal(Value::Text(name)), DataType::Text));
        }
        let args = match f {
            Func::Coalesce | Func::Greatest | Func::Least | Func::NullIf => {
                let known: Vec<DataType> = args.iter().filter(|t| !t.unknown).map(|t| t.ty.clone()).collect();
                let name = f.name().to_uppercase();
                let ty = common_type(known.iter(), &name)?.unwrap_or(DataType::Text);

                if f == Func::NullIf {
                    // NULLIF's result has the first argument's type.
                    let first = args
                        .first()
                        .map(|a| if a.unknown { ty.clone() } else { a.ty.clone() })
                        .unwrap_or(DataType::Text);
                    let mut out = Vec::new();
                    for (i, a) in args.into_iter().enumerate() {
                        let t = if i == 0 { first.clone() } else { ty.clone() };
                        if !a.unknown && category(&a.ty) != category(&t) && a.ty != t {
                            return Err(SqlError::UndefinedFunction(format!(
                                "operator does not exist: {} = {}",
                                first, a.ty
                            )));
                        }
                        out.push(if a.unknown { coerce(a, &t)? } else { a });
                    }
                    out
                } else {
                    args.into_iter().map(|a| coerce(a, &ty)).collect::<Result<Vec<_>>>()?
                }
            }
            _ => {
                let types: Vec<DataType> = args.iter().map(|a| a.ty.clone()).collect();
                let wanted = f.argument_types(&types);
                let mut out = Vec::with_capacity(args.len());
                for (a, w) in args.into_iter().zip(wanted) {
                    out.push(match w {
                        // octet_length(char(n)) counts the padding.
                        Some(_) if f == Func::OctetLength && matches!(a.ty, DataType::Char(_)) && !a.unknown => a,
                        Some(t) if a.unknown || category(&a.ty) == category(&t) || f == Func::Setval => coerce(a, &t)?,
                        Some(t)
                            if matches!(
                                f,
                                Func::Lower | Func::Upper | Func::Length | Func::Btrim | Func::Ltrim | Func::Rtrim
                            ) && a.ty != DataType::Bytea =>
                        {
                            return Err(SqlError::UndefinedFunction(format!(
                                "function {}({}) does not exist",
                                f.name(),
                                a.ty
                            )))
                            .or_else(|e: SqlError| {
                                if category(&t) == Category::String { Err(e) } else { coerce(a, &t) }
                            });
                        }
                        _ => resolve_unknown(a)?,
                    });
                }
                out
            }
        };
        let types: Vec<DataType> = args.iter().map(|a| a.ty.clone()).collect();
        let ty = f.return_type(&types)?;
        Ok(Typed::new(Expr::Call(f, args.into_iter().map(|a| a.expr).collect()), ty))
    }

    fn function(&mut self, f: &ast::Function) -> Result<Typed> {
        let name = object_name(&f.name)?;
        let name = name.strip_prefix("pg_catalog.").unwrap_or(&name).to_owned();
        let (args, distinct, clauses) = match &f.args {
            ast::FunctionArguments::None => (Vec::new(), false, Vec::new()),
            ast::FunctionArguments::List(list) => (
                list.args.clone(),
                matches!(list.duplicate_treatment, Some(ast::DuplicateTreatment::Distinct)),
                list.clauses.clone(),
            ),
            ast::FunctionArguments::Subquery(q) => {
                if name == "array" {
                    let (plan, columns, correlated) = self.expr_subquery(q)?;
                    let elem = columns.first().map(|c| c.data_type.clone()).unwrap_or(DataType::Text);
                    let id = self.subquery_id();
                    return Ok(Typed::new(
                        Expr::Subquery(Arc::new(Subquery {
                            id,
                            plan,
                            kind: SubqueryKind::Array(elem.clone()),
                            correlated,
                        })),
                        DataType::Array(Box::new(elem)),
                    ));
                }
                return Err(unsupported(format!("function {name} over a subquery")));
            }
        };
        let star = matches!(args.as_slice(), [ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Wildcard)]);
        let arg_exprs: Vec<&ast::Expr> = args
            .iter()
            .filter_map(|a| match a {
                ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => Some(e),
                ast::FunctionArg::Named { arg: ast::FunctionArgExpr::Expr(e), .. } => Some(e),
                _ => None,
            })
            .collect();
        if !star && arg_exprs.len() != args.len() {
            return Err(unsupported(format!("these arguments to {name}")));
        }
        let mut order_by = Vec::new();
        for c in &clauses {
            match c {
                ast::FunctionArgumentClause::OrderBy(keys) => order_by = keys.clone(),
                other => return Err(unsupported(format!("{other} in a function call"))),
            }
        }
        if let Some(over) = &f.over {
            return self.window_function(&name, star, &arg_exprs, over, f.filter.as_deref());
        }
        if let Some(agg) = aggregate_func(&name, star) {
            return self.aggregate(agg, &name, &arg_exprs, distinct, f.filter.as_deref(), &order_by);
        }
        if distinct || f.filter.is_some() {
            return Err(SqlError::Semantic(format!("DISTINCT specified, but {name} is not an aggregate function")));
        }
        if name == "row" {
            return Err(unsupported("row constructors"));
        }
        if let Some(function) = crate::plan::TableFunction::lookup(&name) {
            return self.set_function_call(function, &name, &arg_exprs);
        }
        let func = Func::lookup(&name).ok_or_else(|| {
            SqlError::UndefinedFunction(format!(
                "function {name}({}) does not exist",
                if arg_exprs.is_empty() { "" } else { "..." }
            ))
        })?;
        let mut bound = Vec::with_capacity(arg_exprs.len());
        for (i, a) in arg_exprs.into_iter().enumerate() {
            // `nextval('s'::regclass)` (as pg_dump and `\d` write column
            // defaults) names the sequence: it is checked, and kept as its
            // name, so the call needs no catalog lookup per row.
            if i == 0
                && matches!(func, Func::Nextval | Func::Currval | Func::Setval)
                && let ast::Expr::Cast { expr, data_type, .. } = a
                && is_regclass(data_type)
            {
                let name = self.expr(expr)?;
                if matches!(name.expr, Expr::Literal(Value::Text(_))) {
                    self.regclass(&name)?;
                    bound.push(name);
                    continue;
                }
            }
            bound.push(self.expr(a)?);
        }
        self.call(func, bound)
    }

    /// A set-returning function in an expression: allowed in a select
    /// list (where it becomes a ProjectSet column), 0A000 elsewhere.
    fn set_function_call(
        &mut self,
        function: crate::plan::TableFunction,
        name: &str,
        args: &[&ast::Expr],
    ) -> Result<Typed> {
        let (allowed, clause) = self.collected.last().map_or((false, ""), |l| (l.allow_set_functions, l.clause));
        if !allowed {
            let place = if clause.is_empty() { "here".to_owned() } else { format!("in {clause}") };
            return Err(crate::error::data_exception(
                "0A000",
                format!("set-returning functions are not allowed {place}"),
            ));
        }
        if function.width() != 1 {
            return Err(unsupported(format!("{name} in a select list (use it in FROM)")));
        }
        // Arguments may not hold set-returning functions themselves.
        if let Some(l) = self.collected.last_mut() {
            l.allow_set_functions = false;
        }
        let bound: Result<Vec<Typed>> = args.iter().map(|a| self.expr(a)).collect();
        if let Some(l) = self.collected.last_mut() {
            l.allow_set_functions = true;
        }
        let (args, columns) = super::select::table_function_signature(function, name, bound?)?;
        let ty = columns.into_iter().next().map_or(DataType::Text, |(_, t)| t);
        let level = self
            .collected
            .last_mut()
            .ok_or_else(|| SqlError::Semantic("set-returning function outside a query".into()))?;
        level.set_functions.push(crate::plan::SetCall { function, args });
        Ok(Typed::new(Expr::SetFunction(level.set_functions.len() - 1), ty))
    }

    fn aggregate(
        &mut self,
        func: AggregateFunc,
        name: &str,
        args: &[&ast::Expr],
        distinct: bool,
        filter: Option<&ast::Expr>,
        order_by: &[ast::OrderByExpr],
    ) -> Result<Typed> {
        let Some(level) = self.collected.last() else {
            return Err(SqlError::Grouping("aggregate functions are not allowed here".into()));
        };
        if !level.allow_aggregates {
            let clause = level.clause;
            return Err(SqlError::Grouping(if clause.is_empty() {
                "aggregate function calls cannot be nested".into()
            } else {
                format!("aggregate functions are not allowed in {clause}")
            }));
        }
        // Arguments may not contain aggregates themselves.
        let saved = self.collected.last_mut().map(|l| std::mem::replace(&mut l.allow_aggregates, false));
        let saved_clause = self.collected.last_mut().map(|l| std::mem::take(&mut l.clause));
        let result = self.aggregate_args(func, name, args, filter, order_by);
        if let Some(l) = self.collected.last_mut() {
            l.allow_aggregates = saved.unwrap_or(true);
            l.clause = saved_clause.unwrap_or("");
        }
        let (bound, filter, order_by, result_type) = result?;
        let level = self.collected.last_mut().ok_or_else(|| SqlError::Grouping("aggregate outside a query".into()))?;
        level.aggregates.push(AggregateCall {
            func,
            args: bound,
            distinct,
            filter,
            order_by,
            result_type: result_type.clone(),
        });
        Ok(Typed::new(Expr::Aggregate(level.aggregates.len() - 1), result_type))
    }

    #[allow(clippy::type_complexity)]
    fn aggregate_args(
        &mut self,
        func: AggregateFunc,
        name: &str,
        args: &[&ast::Expr],
        filter: Option<&ast::Expr>,
        order_by: &[ast::OrderByExpr],
    ) -> Result<(Vec<Expr>, Option<Expr>, Vec<SortKey>, DataType)> {
        let mut bound = Vec::new();
        for a in args {
            bound.push(self.expr(a)?);
        }
        let expected = match func {
            AggregateFunc::CountStar => 0,
            AggregateFunc::StringAgg | AggregateFunc::JsonObjectAgg => 2,
            _ => 1,
        };
        if bound.len() != expected {
            return Err(SqlError::UndefinedFunction(format!(
                "function {name} with {} argument(s) does not exist",
                bound.len()
            )));
        }
        let first = bound.first().cloned();
        let in_ty =
            first.as_ref().map(|t| if t.unknown { DataType::Text } else { t.ty.clone() }).unwrap_or(DataType::Int8);
        let numeric = category(&in_ty) == Category::Numeric;
        let bad = || SqlError::UndefinedFunction(format!("function {name}({in_ty}) does not exist"));
        let result_type = match func {
            AggregateFunc::CountStar | AggregateFunc::Count => DataType::Int8,
            AggregateFunc::Sum => match &in_ty {
                DataType::Int2 | DataType::Int4 => DataType::Int8,
                DataType::Int8 | DataType::Numeric(_) => DataType::Numeric(None),
                DataType::Float4 => DataType::Float4,
                DataType::Float8 => DataType::Float8,
                DataType::Interval => DataType::Interval,
                _ => return Err(bad()),
            },
            AggregateFunc::Avg => match &in_ty {
                DataType::Float4 | DataType::Float8 => DataType::Float8,
                DataType::Interval => DataType::Interval,
                _ if numeric => DataType::Numeric(None),
                _ => return Err(bad()),
            },
            AggregateFunc::Min | AggregateFunc::Max => in_ty.clone(),
            AggregateFunc::StringAgg => DataType::Text,
            AggregateFunc::ArrayAgg => DataType::Array(Box::new(in_ty.clone())),
            AggregateFunc::BoolAnd | AggregateFunc::BoolOr => {
                if in_ty != DataType::Bool && !first.as_ref().is_some_and(|t| t.unknown) {
                    return Err(bad());
                }
                DataType::Bool
            }
            AggregateFunc::JsonAgg => DataType::Json,
            AggregateFunc::JsonbAgg | AggregateFunc::JsonObjectAgg => DataType::Jsonb,
            AggregateFunc::StddevSamp | AggregateFunc::StddevPop | AggregateFunc::VarSamp | AggregateFunc::VarPop => {
                match &in_ty {
                    DataType::Float4 | DataType::Float8 => DataType::Float8,
                    _ if numeric => DataType::Numeric(None),
                    _ => return Err(bad()),
                }
            }
            AggregateFunc::BitAnd | AggregateFunc::BitOr => match &in_ty {
                DataType::Int2 | DataType::Int4 | DataType::Int8 => in_ty.clone(),
                _ => return Err(bad()),
            },
        };
        let bound: Vec<Expr> = bound
            .into_iter()
            .map(|t| if t.unknown { cast_to(t, &DataType::Text) } else { Ok(t.expr) })
            .collect::<Result<_>>()?;
        let filter = filter.map(|f| self.predicate(f)).transpose()?;
        let mut keys = Vec::new();
        for k in order_by {
            let t = resolve_unknown(self.expr(&k.expr)?)?;
            keys.push(sort_key(t.expr, &k.options));
        }
        Ok((bound, filter, keys, result_type))
    }

    fn window_function(
        &mut self,
        name: &str,
        star: bool,
        args: &[&ast::Expr],
        over: &ast::WindowType,
        filter: Option<&ast::Expr>,
    ) -> Result<Typed> {
        match self.collected.last() {
            Some(level) if level.allow_windows => {}
            Some(level) => {
                return Err(SqlError::Windowing(format!("window functions are not allowed in {}", level.clause)));
            }
            None => return Err(SqlError::Windowing("window functions are not allowed here".into())),
        }
        let func = match name {
            "row_number" => WindowFunc::RowNumber,
            "rank" => WindowFunc::Rank,
            "dense_rank" => WindowFunc::DenseRank,
            "percent_rank" => WindowFunc::PercentRank,
            "cume_dist" => WindowFunc::CumeDist,
            "ntile" => WindowFunc::Ntile,
            "lag" => WindowFunc::Lag,
            "lead" => WindowFunc::Lead,
            "first_value" => WindowFunc::FirstValue,
            "last_value" => WindowFunc::LastValue,
            "nth_value" => WindowFunc::NthValue,
            other => match aggregate_func(other, star) {
                Some(a) => WindowFunc::Aggregate(a),
                None => return Err(SqlError::UndefinedFunction(format!("function {other} is not a window function"))),
            },
        };
        let spec = self.window_spec(over)?;
        let saved = self.collected.last_mut().map(|l| std::mem::replace(&mut l.allow_windows, false));
        let result = self.window_parts(func, name, args, &spec, filter);
        if let Some(l) = self.collected.last_mut() {
            l.allow_windows = saved.unwrap_or(true);
        }
        let call = result?;
        let ty = call.result_type.clone();
        let level = self.collected.last_mut().ok_or_else(|| SqlError::Grouping("window outside a query".into()))?;
        level.windows.push(call);
        Ok(Typed::new(Expr::Window(level.windows.len() - 1), ty))
    }

    fn window_parts(
        &mut self,
        func: WindowFunc,
        name: &str,
        args: &[&ast::Expr],
        spec: &ast::WindowSpec,
        filter: Option<&ast::Expr>,
    ) -> Result<WindowCall> {
        let mut bound = Vec::new();
        for a in args {
            bound.push(resolve_unknown(self.expr(a)?)?);
        }
        let result_type = match func {
            WindowFunc::RowNumber | WindowFunc::Rank | WindowFunc::DenseRank | WindowFunc::Ntile => DataType::Int8,
            WindowFunc::PercentRank | WindowFunc::CumeDist => DataType::Float8,
            WindowFunc::Lag
            | WindowFunc::Lead
            | WindowFunc::FirstValue
            | WindowFunc::LastValue
            | WindowFunc::NthValue => bound
                .first()
                .map(|t| t.ty.clone())
                .ok_or_else(|| SqlError::UndefinedFunction(format!("function {name}() does not exist")))?,
            WindowFunc::Aggregate(agg) => {
                // Reuse the aggregate typing rules through a throwaway level.
                self.collected.push(super::Collected { allow_aggregates: true, ..Default::default() });
                let r = self.aggregate_args(agg, name, args, None, &[]);
                self.collected.pop();
                r?.3
            }
        };
        // lag/lead default must match the value type.
        if matches!(func, WindowFunc::Lag | WindowFunc::Lead) && bound.len() == 3 {
            let ty = bound[0].ty.clone();
            let d = bound.remove(2);
            bound.push(coerce(d, &ty)?);
        }
        let mut partition_by = Vec::new();
        for p in &spec.partition_by {
            partition_by.push(resolve_unknown(self.expr(p)?)?.expr);
        }
        let mut order_by = Vec::new();
        let mut order = Vec::new();
        for k in &spec.order_by {
            let t = resolve_unknown(self.expr(&k.expr)?)?;
            let key = sort_key(t.expr, &k.options);
            order.push((t.ty, key.desc));
            order_by.push(key);
        }
        let frame = self.window_frame(spec.window_frame.as_ref(), &order)?;
        let filter = filter.map(|f| self.predicate(f)).transpose()?;
        Ok(WindowCall {
            func,
            args: bound.into_iter().map(|t| t.expr).collect(),
            partition_by,
            order_by,
            frame,
            filter,
            result_type,
        })
    }

    /// The relation id `'name'::regclass` stands for (the table id).
    fn regclass(&mut self, t: &Typed) -> Result<i32> {
        let Expr::Literal(Value::Text(name)) = &t.expr else { return Err(unsupported("::regclass of a non-constant")) };
        if let Ok(oid) = name.trim().parse::<i32>() {
            return Ok(oid);
        }
        let name = super::relation_name_from_text(name);
        if let Some(oid) = crate::system::catalog_relation_oid(&name) {
            return Ok(oid);
        }
        let catalog = crate::system::CatalogView::load(self.txn)?;
        catalog.oid_of(&name).ok_or(SqlError::Engine(memdb_engine::Error::UndefinedTable(name)))
    }
}

/// Whether a cast's type is `regclass`.
fn is_regclass(t: &ast::DataType) -> bool {
    match t {
        ast::DataType::Regclass => true,
        ast::DataType::Custom(name, _) => {
            let n = name.to_string().to_ascii_lowercase();
            n == "regclass" || n == "pg_catalog.regclass"
        }
        _ => false,
    }
}

/// A built-in operator by its symbol.
fn builtin_operator(symbol: &str) -> Option<ast::BinaryOperator> {
    use ast::BinaryOperator as B;
    Some(match symbol {
        "=" => B::Eq,
        "<>" | "!=" => B::NotEq,
        "<" => B::Lt,
        "<=" => B::LtEq,
        ">" => B::Gt,
        ">=" => B::GtEq,
        "+" => B::Plus,
        "-" => B::Minus,
        "*" => B::Multiply,
        "/" => B::Divide,
        "%" => B::Modulo,
        "||" => B::StringConcat,
        "~" => B::PGRegexMatch,
        "~*" => B::PGRegexIMatch,
        "!~" => B::PGRegexNotMatch,
        "!~*" => B::PGRegexNotIMatch,
        "~~" => B::PGLikeMatch,
        "~~*" => B::PGILikeMatch,
        "!~~" => B::PGNotLikeMatch,
        "!~~*" => B::PGNotILikeMatch,
        _ => return None,
    })
}

/// Rewrites column references as references one level out (an expression
/// moved into a subquery of its own level).
fn lift_outer(e: Expr) -> Expr {
    let mut f = |x: Expr| -> Result<Expr> {
        Ok(match x {
            Expr::Column(i) => Expr::Outer { depth: 1, index: i },
            Expr::Outer { depth, index } => Expr::Outer { depth: depth + 1, index },
            other => other,
        })
    };
    e.clone().transform(&mut f).unwrap_or(e)
}

/// A sort key from ORDER BY options, with PostgreSQL's NULL default.
pub(crate) fn sort_key(expr: Expr, options: &ast::OrderByOptions) -> SortKey {
    let desc = matches!(options.sort, Some(ast::OrderBySort::Desc));
    SortKey { expr, desc, nulls_first: options.nulls_first.unwrap_or(desc) }
}

/// A type's name without its modifier, as `pg_typeof` gives it
/// (`character varying`, `numeric`, `character`).
fn unmodified_type_name(ty: &DataType) -> String {
    match ty {
        DataType::Numeric(_) => "numeric".into(),
        DataType::Varchar(_) => "character varying".into(),
        DataType::Char(_) => "character".into(),
        DataType::Array(elem) => format!("{}[]", unmodified_type_name(elem)),
        other => other.to_string(),
    }
}

/// An operand of a comparison, with an enclosing query's column marked
/// with its type (a cast to the type it already has): a correlated
/// subquery's `inner_col = outer_col` then lets the optimizer look
/// `inner_col` up in an index, which it does only for keys of a known type.
fn typed_outer(operand: Typed) -> Expr {
    match operand.expr {
        outer @ Expr::Outer { .. } => Expr::Cast(Box::new(outer), operand.ty),
        other => other,
    }
}

fn comparison(op: &ast::BinaryOperator) -> Option<BinOp> {
    use ast::BinaryOperator as B;
    Some(match op {
        B::Eq => BinOp::Eq,
        B::NotEq => BinOp::NotEq,
        B::Lt => BinOp::Lt,
        B::LtEq => BinOp::LtEq,
        B::Gt => BinOp::Gt,
        B::GtEq => BinOp::GtEq,
        _ => return None,
    })
}

/// Whether `name` (lower case, maybe `pg_catalog.`-qualified) is an
/// aggregate function.
pub(crate) fn is_aggregate_name(name: &str) -> bool {
    aggregate_func(name.strip_prefix("pg_catalog.").unwrap_or(name), false).is_some()
}

fn aggregate_func(name: &str, star: bool) -> Option<AggregateFunc> {
    Some(match name {
        "count" if star => AggregateFunc::CountStar,
        "count" => AggregateFunc::Count,
        "sum" => AggregateFunc::Sum,
        "avg" => AggregateFunc::Avg,
        "min" => AggregateFunc::Min,
        "max" => AggregateFunc::Max,
        "string_agg" => AggregateFunc::StringAgg,
        "array_agg" => AggregateFunc::ArrayAgg,
        "bool_and" | "every" => AggregateFunc::BoolAnd,
        "bool_or" => AggregateFunc::BoolOr,
        "json_agg" => AggregateFunc::JsonAgg,
        "jsonb_agg" => AggregateFunc::JsonbAgg,
        "json_object_agg" | "jsonb_object_agg" => AggregateFunc::JsonObjectAgg,
        "stddev" | "stddev_samp" => AggregateFunc::StddevSamp,
        "stddev_pop" => AggregateFunc::StddevPop,
        "variance" | "var_samp" => AggregateFunc::VarSamp,
        "var_pop" => AggregateFunc::VarPop,
        "bit_and" => AggregateFunc::BitAnd,
        "bit_or" => AggregateFunc::BitOr,
        _ => return None,
    })
}

/// Niladic functions written without parentheses.
fn special_function(name: &str) -> Option<Func> {
    match name {
        "current_date" => Some(Func::CurrentDate),
        "current_timestamp" | "localtimestamp" | "now" => Some(Func::Now),
        "current_user" | "session_user" | "user" | "current_role" => Some(Func::CurrentUser),
        "current_schema" => Some(Func::CurrentSchema),
        _ => None,
    }
}

/// A numeric literal: integer if it fits, else numeric.
pub(crate) fn number_literal(text: &str) -> Result<Typed> {
    if let Ok(v) = text.parse::<i32>() {
        return Ok(Typed::new(Expr::Literal(Value::Int4(v)), DataType::Int4));
    }
    if let Ok(v) = text.parse::<i64>() {
        return Ok(Typed::new(Expr::Literal(Value::Int8(v)), DataType::Int8));
    }
    let ty = DataType::Numeric(None);
    match Value::parse(text, &ty) {
        Ok(v) => Ok(Typed::new(Expr::Literal(v), ty)),
        // Beyond numeric's 28 digits: fall back to double precision.
        Err(_) => Ok(Typed::new(Expr::Literal(Value::parse(text, &DataType::Float8)?), DataType::Float8)),
    }
}

/// A binary operator over two bound operands, folded as PostgreSQL's planner
/// folds a strict operator with a NULL constant operand: the result is NULL
/// and the other operand is never evaluated (`NULL = x / 0` is NULL, not a
/// division error).
fn strict_binary(op: BinOp, l: Expr, r: Expr) -> Expr {
    if op.is_strict() && (l.is_null_constant() || r.is_null_constant()) {
        Expr::Literal(Value::Null)
    } else {
        Expr::Binary(op, Box::new(l), Box::new(r))
    }
}

/// A `char(n)` operand as text without its padding; others as they are.
impl Binder<'_> {
    /// `probe IN (items)` for items that read no row, as one list of their
    /// common type with the probe (PostgreSQL's `= ANY (ARRAY[…])`).
    fn in_array(&mut self, probe: Typed, items: Vec<Typed>) -> Result<Expr> {
        let known: Vec<DataType> =
            std::iter::once(&probe).chain(items.iter()).filter(|t| !t.unknown).map(|t| t.ty.clone()).collect();
        let ty = common_type(known.iter(), "IN")?.unwrap_or(DataType::Text);
        // Numerics meeting floats compare as floats (the list's common
        // type), as in PostgreSQL: `0.1::float8 IN (0.1, 0.2)`.
        let to_common =
            |t: &Typed| t.unknown || (float_meets_numeric(&ty, &t.ty) && matches!(t.ty, DataType::Numeric(_)));
        let probe = if to_common(&probe) { coerce(probe, &ty)? } else { probe };
        let mut checked = Vec::with_capacity(items.len());
        for i in items {
            let i = if to_common(&i) { coerce(i, &ty)? } else { i };
            self.check_comparable(&probe, &i, "=")?;
            checked.push(i);
        }
        // Trailing spaces of `char(n)` against other string types: the
        // items take the probe's type.
        let rules: Vec<(bool, bool)> = checked.iter().map(|i| in_list_padding(&probe.ty, &i.ty)).collect();
        let trim_probe = rules.iter().any(|r| r.0);
        let mut bound = Vec::with_capacity(checked.len());
        for (i, (_, trim)) in checked.into_iter().zip(rules) {
            let trim = trim || (trim_probe && matches!(i.ty, DataType::Char(_)));
            bound.push(trimmed_if(i, trim)?.expr);
        }
        let probe = trimmed_if(probe, trim_probe)?;
        Ok(Expr::InList(Box::new(probe.expr), bound))
    }
}

/// Whether one side is a float and the other a numeric: PostgreSQL
/// compares the two as double precision.
fn float_meets_numeric(a: &DataType, b: &DataType) -> bool {
    let float = |t: &DataType| matches!(t, DataType::Float4 | DataType::Float8);
    let numeric = |t: &DataType| matches!(t, DataType::Numeric(_));
    (float(a) && numeric(b)) || (numeric(a) && float(b))
}

/// A `char(n)` operand as text, without its padding (`||` and the like).
fn unpadded(t: Typed) -> Result<Typed> {
    let is_char = matches!(t.ty, DataType::Char(_));
    trimmed_if(t, is_char)
}

/// Which operands of a string comparison drop their trailing spaces, as
/// PostgreSQL resolves the operator: `char(n)` against `char(n)` compares
/// the padded values as they are (an index on the column still serves);
/// against another `char` length or a `varchar` both compare as `bpchar`
/// (padding ignored on both sides); against `text` the `char` side is cast
/// to text (losing its padding) and the text keeps its own spaces.
fn padding_rule(a: &DataType, b: &DataType) -> (bool, bool) {
    match (a, b) {
        (DataType::Char(n), DataType::Char(m)) => (n != m, n != m),
        (DataType::Char(_), DataType::Varchar(_)) | (DataType::Varchar(_), DataType::Char(_)) => (true, true),
        (DataType::Char(_), DataType::Text) => (true, false),
        (DataType::Text, DataType::Char(_)) => (false, true),
        _ => (false, false),
    }
}

/// [`padding_rule`] for a constant item of an IN list, which PostgreSQL
/// casts to the probe's type: a `char(n)` probe compares as `bpchar`
/// (padding ignored on both sides) unless the item is of its own type; a
/// `varchar` or `text` probe meets `char` items cast to text.
fn in_list_padding(probe: &DataType, item: &DataType) -> (bool, bool) {
    match (probe, item) {
        (DataType::Char(n), DataType::Char(m)) => (n != m, n != m),
        (DataType::Char(_), other) if category(other) == Category::String => (true, true),
        (DataType::Varchar(_) | DataType::Text, DataType::Char(_)) => (false, true),
        _ => (false, false),
    }
}

/// `t` without its trailing spaces when `trim` is set: a `char(n)` is cast
/// to text (which drops its padding), anything else is `rtrim`med.
fn trimmed_if(t: Typed, trim: bool) -> Result<Typed> {
    if !trim || t.unknown {
        return Ok(t);
    }
    if matches!(t.ty, DataType::Char(_)) {
        return coerce(t, &DataType::Text);
    }
    let expr = match t.expr {
        Expr::Literal(Value::Text(s)) => Expr::Literal(Value::Text(s.trim_end_matches(' ').to_owned())),
        Expr::Literal(v) => Expr::Literal(v),
        e => Expr::Call(Func::Rtrim, vec![e]),
    };
    Ok(Typed::new(expr, DataType::Text))
}

/// The probe of `x IN (subquery)` / `x op ANY (…)` and the plan of the
/// values it meets, adjusted as a plain comparison of the two would be
/// (the plan's one column through a projection): trailing spaces dropped
/// where [`padding_rule`] says, and a float meeting a numeric compared as
/// double precision.
fn trim_quantified(probe: Typed, column: &DataType, plan: crate::plan::Plan) -> Result<(Typed, crate::plan::Plan)> {
    let as_double = float_meets_numeric(&probe.ty, column);
    let (trim_probe, trim_column) = padding_rule(&probe.ty, column);
    let col = Typed::new(Expr::Column(0), column.clone());
    let plan = if trim_column || as_double {
        let col = if as_double { coerce(col, &DataType::Float8)? } else { trimmed_if(col, true)? };
        crate::plan::Plan::Project { input: Box::new(plan), exprs: vec![col.expr] }
    } else {
        plan
    };
    let probe = if as_double { coerce(probe, &DataType::Float8)? } else { trimmed_if(probe, trim_probe)? };
    Ok((probe, plan))
}

/// Whether an untyped literal has more than n characters before its
/// trailing spaces, for a `char(n)` it is compared with.
fn overflows_char(literal: &Typed, other: &DataType) -> bool {
    let (DataType::Char(n), Expr::Literal(Value::Text(s))) = (other, &literal.expr) else { return false };
    s.trim_end_matches(' ').chars().count() > usize::try_from(*n).unwrap_or(usize::MAX)
}

/// The lower bound of a `BETWEEN SYMMETRIC`, which the parse-time rewrite
/// (`betweensyntax`) wraps in a marker call; `None` for plain `BETWEEN`.
fn symmetric_low(low: &ast::Expr) -> Option<&ast::Expr> {
    let ast::Expr::Function(f) = low else { return None };
    if f.name.0.len() != 1 || !f.name.to_string().eq_ignore_ascii_case(crate::betweensyntax::SYMMETRIC_MARKER) {
        return None;
    }
    let ast::FunctionArguments::List(list) = &f.args else { return None };
    match list.args.as_slice() {
        [ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e))] => Some(e),
        _ => None,
    }
}
